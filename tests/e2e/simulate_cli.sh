#!/usr/bin/env bash
# End-to-end tests of `smartcity simulate` / `smartcity run` as a user drives them: help, one-line
# errors with exit 2, config file / environment / flag precedence, output formats and files, the
# summary, --count, the steady corridor and --one-trip, real-time pacing, SIGINT and a closed pipe.
# Usage: tests/e2e/simulate_cli.sh path/to/smartcity
# Checks are soft (not_ok, then on to the next); the verdict is finish's at the end.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
bin=${1:?usage: simulate_cli.sh path/to/smartcity}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
workdir simulate
cd "$work"
# Nothing from the caller's environment may leak into the precedence checks.
unset SMARTCITY_CONFIG VEHICLE_TOPIC GPS_TOPIC TRAFFIC_TOPIC WEATHER_TOPIC EMERGENCY_TOPIC

# ---- help ----------------------------------------------------------------------------------------
for sub in "" simulate run; do
  # shellcheck disable=SC2086
  "$bin" $sub --help >help.out 2>help.err
  rc=$?
  check "--help ${sub:-(root)} exits 0 and prints usage" test "$rc" = 0 -a -s help.out
  grep -q -- "--vehicles" help.out || [ -z "$sub" ] || not_ok "--help $sub lists --vehicles"
  grep -q -- "--one-trip" help.out || [ -z "$sub" ] || not_ok "--help $sub lists --one-trip"
done

# ---- bad usage: exactly one line on stderr, exit 2, nothing on stdout ----------------------------
printf '[simulate]\nvehicles = "many"\n' >bad_value.toml
printf '[simulate\nvehicles = 3\n' >bad_syntax.toml
chmod 000 bad_value.toml 2>/dev/null; cp bad_syntax.toml unreadable.toml; chmod 000 unreadable.toml
bad_usage() {  # bad_usage NAME ARGS...
  local name=$1; shift
  "$bin" "$@" >bad.out 2>bad.err
  local rc=$? lines
  lines=$(wc -l <bad.err)
  if [ "$rc" = 2 ] && [ "$lines" = 1 ] && [ ! -s bad.out ] && grep -q '^smartcity: ' bad.err; then
    ok "$name -> exit 2, one line: $(cat bad.err)"
  else
    not_ok "$name -> exit $rc, $lines stderr lines: $(head -c 400 bad.err)"
  fi
}
bad_usage "unknown flag" simulate --no-such-flag
bad_usage "unknown subcommand" fly
"$bin" >alone.out 2>alone.err
check "smartcity alone prints the help (exit 0) listing the commands" \
  test $? = 0 -a -s alone.out -a ! -s alone.err
grep -q 'simulate' alone.out && grep -q 'stream' alone.out || not_ok "smartcity alone lists the commands"
bad_usage "non-numeric --vehicles" simulate --vehicles ten
bad_usage "0 vehicles" simulate --vehicles 0 --count 5
bad_usage "negative vehicles" simulate --vehicles -2 --count 5
bad_usage "negative speedup" simulate --speedup -1 --count 5
bad_usage "speedup 0" simulate --speedup 0 --count 5
bad_usage "speedup not a number" simulate --speedup fast --count 5
bad_usage "unknown fault kind" simulate --fault gremlins=0.1 --count 5
bad_usage "fault rate above 1" simulate --fault late=1.5 --count 5
bad_usage "negative fault rate" simulate --fault duplicate=-0.1 --count 5
bad_usage "malformed fault spec" simulate --fault late --count 5
bad_usage "bad duration" simulate --duration 5 minutes
bad_usage "bad --duration unit" simulate --duration 5y --count 5
bad_usage "zero --count" simulate --count 0
bad_usage "bad --start" simulate --start yesterday --count 5
bad_usage "unknown --format" simulate --format xml --count 5
bad_usage "negative incident rate" simulate --incident-rate -1 --count 5
bad_usage "missing config file" --config "$work/nope.toml" simulate --count 5
bad_usage "missing config file after subcommand" simulate --config "$work/nope.toml" --count 5
if [ "$(id -u)" != 0 ]; then  # root reads anything
  bad_usage "unreadable config file" --config "$work/unreadable.toml" simulate --count 5
fi
chmod 644 bad_value.toml
bad_usage "config value of the wrong type" --config "$work/bad_value.toml" simulate --count 5
bad_usage "config file with broken syntax" --config "$work/bad_syntax.toml" simulate --count 5
SMARTCITY_CONFIG="$work/nope.toml" bad_usage "SMARTCITY_CONFIG names a missing file" simulate --count 5
bad_usage "output into a missing directory" simulate --count 5 -o "$work/no/such/dir/out.jsonl"
bad_usage "bad run flag" run --no-such-flag
bad_usage "run with 0 vehicles" run --vehicles 0 --lake "$work/lake0"

# ---- config file, environment and flags: flags > environment > file ---------------------------
cat >config.toml <<'EOF'
[simulate]
vehicles = 3
one-trip = true
count = 30
seed = 77
vehicle-topic = "vehicles_from_file"
gps-topic = "gps_from_file"
EOF
first_topic() { python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["topic"])'; }
topics() { python3 -c '
import json, sys
print(" ".join(sorted({json.loads(l)["topic"] for l in sys.stdin})))'; }
out=$("$bin" --config config.toml simulate -q)
check "--config: count from the file" test "$(wc -l <<<"$out")" = 30
check "--config: topic name from the file" test "$(first_topic <<<"$out")" = vehicles_from_file
check "--config: vehicles and one-trip from the file" test "$(python3 -c '
import json,sys; print(len({json.loads(l)["key"] for l in sys.stdin}))' <<<"$out")" = 3
out2=$("$bin" simulate --config config.toml -q)
check "--config after the subcommand works the same" test "$out" = "$out2"
out=$(SMARTCITY_CONFIG=$work/config.toml "$bin" simulate -q)
check "SMARTCITY_CONFIG: file honoured" test "$(wc -l <<<"$out")" = 30 -a "$(first_topic <<<"$out")" = vehicles_from_file
out=$(SMARTCITY_CONFIG=$work/config.toml VEHICLE_TOPIC=vehicles_from_env "$bin" simulate -q)
check "environment beats file" test "$(first_topic <<<"$out")" = vehicles_from_env
check "  ... and the file still supplies the rest" test "$(topics <<<"$out")" = "gps_from_file vehicles_from_env weather_data"
out=$(VEHICLE_TOPIC=vehicles_from_env "$bin" --config config.toml simulate -q --vehicle-topic vehicles_from_flag)
check "flag beats environment and file" test "$(first_topic <<<"$out")" = vehicles_from_flag
out=$("$bin" --config config.toml simulate -q --count 6)
check "flag beats file (--count)" test "$(wc -l <<<"$out")" = 6
out=$(VEHICLE_TOPIC=vehicles_from_env "$bin" simulate -q --count 1)
check "environment beats default" test "$(first_topic <<<"$out")" = vehicles_from_env
# A dotted key works as well as a section.
printf 'simulate.count = 4\n' >dotted.toml
check "dotted config keys" test "$("$bin" --config dotted.toml simulate -q | wc -l)" = 4

# ---- output: file and formats, --count exact -----------------------------------------------------
"$bin" simulate -q --count 1000 --vehicles 5 -o out.jsonl
check "--count 1000 writes exactly 1000 jsonl lines to --output" test "$(wc -l <out.jsonl)" = 1000
check "jsonl lines are {topic,key,value} objects whose key is the deviceId" python3 - out.jsonl <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    assert list(o) == ["topic", "key", "value"], o
    assert isinstance(o["value"], dict) and o["value"]["deviceId"] == o["key"], o
EOF
"$bin" simulate -q --count 1000 --vehicles 5 --format tsv -o out.tsv
"$bin" simulate -q --count 1000 --vehicles 5 --format value -o out.value
check "tsv and value carry the same events as jsonl" python3 - out.jsonl out.tsv out.value <<'EOF'
import json, sys
j = [json.loads(l) for l in open(sys.argv[1])]
t = [l.rstrip("\n").split("\t") for l in open(sys.argv[2])]
v = [json.loads(l) for l in open(sys.argv[3])]
assert len(j) == len(t) == len(v) == 1000
for a, b, c in zip(j, t, v):
    assert len(b) == 3 and b[0] == a["topic"] and b[1] == a["key"], b
    assert json.loads(b[2]) == a["value"] == c
EOF
"$bin" simulate -q --count 777 --format value >stdout.value
check "--count to stdout" test "$(wc -l <stdout.value)" = 777
"$bin" simulate -q --count 50 --seed 5 -o a.jsonl; "$bin" simulate -q --count 50 --seed 5 -o b.jsonl
"$bin" simulate -q --count 50 --seed 6 -o c.jsonl
check "same seed, same bytes" cmp -s a.jsonl b.jsonl
check "another seed, other bytes" bash -c '! cmp -s a.jsonl c.jsonl'

# A malformed payload is carried in jsonl as a JSON string; every jsonl line stays valid JSON.
"$bin" simulate -q --vehicles 10 --duration 2m --fault malformed=0.05 -o faults.jsonl --summary-json faults.json
check "malformed payloads are JSON strings in jsonl" python3 - faults.jsonl faults.json <<'EOF'
import json, sys
strings = 0
for line in open(sys.argv[1]):
    o = json.loads(line)
    if isinstance(o["value"], str):
        strings += 1
        try:
            json.loads(o["value"])
            raise SystemExit("a string value that is valid JSON: " + o["value"])
        except ValueError:
            pass
s = json.load(open(sys.argv[2]))
assert strings == s["faults"]["malformed"] > 0, (strings, s["faults"])
EOF

# ---- the summary: printed on stderr and --summary-json agree --------------------------------------
"$bin" simulate --vehicles 20 --duration 10m --fault duplicate=0.01 --fault late=0.01@1m \
  -o summary_run.jsonl --summary-json summary.json 2>summary.err
rc=$?
check "summary run exits 0" test "$rc" = 0
check "--summary-json matches the printed summary and the output" python3 - summary.json summary.err summary_run.jsonl <<'EOF'
import json, re, sys
s = json.load(open(sys.argv[1]))
err = open(sys.argv[2]).read()
lines = open(sys.argv[3]).read().splitlines()
total = 0
for topic, c in s["topics"].items():
    # Columns: generated, emitted, valid, sent, delivered, failed.
    m = re.search(r"^\s+%s\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$" % topic, err, re.M)
    assert m, "no summary row for " + topic
    assert [int(x) for x in m.groups()] == [c["generated"], c["emitted"], c["valid"], c["sent"], c["delivered"],
                                            c["failed"]], topic
    assert c["sent"] == c["delivered"] == c["emitted"], c
    total += c["emitted"]
assert total == len(lines), (total, len(lines))
m = re.search(r"faults injected: (.*)$", err, re.M)
printed = dict(kv.split("=") for kv in m.group(1).split())
assert {k: int(v) for k, v in printed.items()} == {k: v for k, v in s["faults"].items() if v}, printed
m = re.search(r"(\d+) ticks\)", err)
assert int(m.group(1)) == s["ticks"] == 600
ids = [json.loads(l)["value"]["id"] for l in lines]
assert len(ids) - len(set(ids)) == s["faults"]["duplicate"] > 0
EOF

# ---- the steady corridor (default) and the one-way trip ------------------------------------------
# A steady run over midnight: vehicles enter and leave at both ends; the summary counts them.
"$bin" simulate -q --vehicles 40 --tick 10s --start 2026-01-05T22:00:00Z --duration 4h --format tsv \
  -o steady.tsv --summary-json steady.json
check "steady: vehicles enter and leave in both directions, summary agrees" python3 - steady.json steady.tsv <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["vehicles_entered"] == s["vehicles_arrived"] + s["vehicles_on_road"], s
assert s["vehicles_arrived"] >= 10 and s["vehicles_on_road"] > 0, s
first, last, lat = {}, {}, {}
for line in open(sys.argv[2]):
    topic, key, value = line.rstrip("\n").split("\t")
    if topic != "vehicle_data":
        continue
    v = json.loads(value)
    first.setdefault(key, v["timestamp"])
    last[key] = v["timestamp"]
    lat.setdefault(key, []).append(float(v["location"][1:].split(",")[0]))
assert len(first) == s["vehicles_entered"], (len(first), s["vehicles_entered"])
north = sum(1 for k in lat if lat[k][-1] > lat[k][0] + 0.01)
south = sum(1 for k in lat if lat[k][-1] < lat[k][0] - 0.01)
assert north >= 5 and south >= 5, (north, south)
assert sum(1 for k in first if first[k] > "2026-01-05T22:00:10") >= 5, "nobody entered"
assert sum(1 for k in last if last[k] < "2026-01-06T01:59:50") >= 10, "nobody left"
assert any(t.startswith("2026-01-06T00") for t in last.values()), "not over midnight"
EOF
# --one-trip without --duration or --count ends by itself once the fleet has reached Birmingham.
timeout 300 "$bin" simulate -q --one-trip --vehicles 3 --tick 10s --start 2026-01-04T03:00:00Z \
  -o one_trip.jsonl --summary-json one_trip.json
rc=$?
check "--one-trip ends by itself (exit $rc) with every vehicle arrived" python3 - one_trip.json <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["vehicles_entered"] == s["vehicles_arrived"] == 3 and s["vehicles_on_road"] == 0, s
EOF

# ---- pacing: --speedup 1 runs in (roughly) real time --------------------------------------------
start=$(date +%s.%N)
"$bin" simulate -q --one-trip --speedup 1 --duration 3s --vehicles 2 -o paced.jsonl
rc=$?
took=$(python3 -c "print($(date +%s.%N) - $start)")
check "--speedup 1 --duration 3s exits 0 with 18 events" test "$rc" = 0 -a "$(wc -l <paced.jsonl)" = 18
check "--speedup 1 --duration 3s takes at least 2.4 s (took ${took}s)" python3 -c "assert $took >= 2.4"
start=$(date +%s.%N)
"$bin" simulate -q --speedup 4 --duration 8s --vehicles 2 -o /dev/null
took=$(python3 -c "print($(date +%s.%N) - $start)")
check "--speedup 4 --duration 8s takes at least 1.6 s (took ${took}s)" python3 -c "assert $took >= 1.6"

# ---- SIGINT: stops cleanly, summary, exit 0; run too -----------------------------------------
"$bin" simulate --speedup 1 --vehicles 3 --fault late=0.2@1m -o sigint.jsonl --summary-json sigint.json 2>sigint.err &
pid=$!
track "$pid"
sleep 2
kill -INT "$pid"
wait "$pid"
rc=$?
check "simulate: SIGINT exits 0 (the steady corridor runs until stopped)" test "$rc" = 0
check "simulate: SIGINT prints the summary and says it stopped" \
  bash -c "grep -q 'simulate summary:' sigint.err && grep -q 'stopped on request' sigint.err"
check "simulate: after SIGINT everything generated was written (held-back messages too)" python3 - sigint.json sigint.jsonl <<'EOF2'
import json, sys
s = json.load(open(sys.argv[1]))
n = sum(1 for _ in open(sys.argv[2]))
generated = sum(c["generated"] for c in s["topics"].values())
emitted = sum(c["emitted"] for c in s["topics"].values())
assert n == generated == emitted > 0, (n, generated, emitted)
assert s["vehicles_entered"] == s["vehicles_arrived"] + s["vehicles_on_road"] > 0, s
EOF2
# run (the embedded pipeline; tests/e2e/run_exactly_once.sh checks its lake after interruptions).
"$bin" run --speedup 1 --vehicles 3 --lake "$work/lake" 2>run_sigint.err &
pid=$!
track "$pid"
sleep 3
kill -INT "$pid"
wait "$pid"
rc=$?
check "run: SIGINT exits 0" test "$rc" = 0
check "run: SIGINT prints the summary and says it stopped" \
  bash -c "grep -q 'run summary:' run_sigint.err && grep -q 'stopped on request' run_sigint.err"

# ---- a closed pipe: a clear message and exit 1, not death by SIGPIPE -----------------------------
"$bin" simulate --vehicles 50 --duration 30m 2>pipe.err | head -1 >/dev/null
rc=${PIPESTATUS[0]}
check "closed pipe exits 1 (got $rc)" test "$rc" = 1
check "closed pipe says so in one line" bash -c "grep -c 'closed by the reader' pipe.err | grep -qx 1 && \
  [ \$(grep -c '^smartcity: ' pipe.err) = 1 ]"

finish
