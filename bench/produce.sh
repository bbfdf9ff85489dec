#!/usr/bin/env bash
# Produce benchmark (issue 3), one command: every contender sends the same events to the same local
# Kafka broker, each delivery confirmed, and the results go to bench/RESULTS.md ("Produce (issue 3)").
#
#   1. smartcity simulate --kafka       generates and produces (idempotent, acks=all, murmur2, lz4)
#   2. Python, seed style               confluent-kafka, produce + flush per message (bench/peers/seed_producer.py)
#      Python, fair                     the same client batched: produce/poll, one flush, smartcity's settings
#   3. kcat -P (upper bound)            the pre-generated lines per topic, smartcity's settings
#
# The events are generated once (smartcity simulate --format tsv) before any timing; the Python and
# kcat contenders only read them, smartcity generates them again while it produces. The topics are
# deleted and re-created before every timed run, and each run's end offsets are checked: the topics
# must hold exactly the events sent (no loss, no duplicate).
#
# Usage: bench/produce.sh [--events N] [--seed-events N] [--repeat R] [--vehicles V] [--no-write]
#   --events       events per run (default 2000000)
#   --seed-events  events for the seed-style Python run, which does one round trip per event and is
#                  extrapolated from this sample (default 20000)
#   --repeat       timed runs per contender, interleaved; the median is reported (default 3)
#   --no-write     print the table but leave bench/RESULTS.md alone
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

events=2000000 seed_events=20000 repeat=3 vehicles=100 write=1
while [ $# -gt 0 ]; do
  case "$1" in
    --events) events=$2; shift 2 ;;
    --seed-events) seed_events=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --vehicles) vehicles=$2; shift 2 ;;
    --no-write) write=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "produce.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

log() { printf 'produce.sh: %s\n' "$*" >&2; }

scripts/setup.sh release
PY=$(scripts/pyenv.sh)
bin="$root/build/release/src/cli/smartcity"
work=$(mktemp -d /tmp/smartcity-bench-produce.XXXXXX)
kdir="$work/kafka"
cleanup() {
  scripts/kafka.sh stop --dir "$kdir" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

bootstrap=$(scripts/kafka.sh start --dir "$kdir" --watch-pid $$)
export KAFKA_BOOTSTRAP_SERVERS=$bootstrap
topics=(vehicle_data gps_data traffic_data weather_data emergency_data)
sim_opts=(--one-trip --seed 1 --vehicles "$vehicles" --count "$events")
# The producer settings every contender but the seed style uses: smartcity's defaults.
kcat_x=(-X enable.idempotence=true -X acks=all -X partitioner=murmur2_random -X compression.codec=lz4
        -X linger.ms=20 -X batch.num.messages=100000 -X batch.size=1000000
        -X queue.buffering.max.messages=500000 -X queue.buffering.max.kbytes=262144)

log "pre-generating $events events"
"$bin" simulate "${sim_opts[@]}" --format tsv -o "$work/events.tsv" -q
for t in "${topics[@]}"; do
  awk -F'\t' -v t="$t" '$1 == t { print $2 "\t" $3 }' "$work/events.tsv" >"$work/$t.kv"
done
payload_bytes=$(awk -F'\t' '{ n += length($3) } END { print n }' "$work/events.tsv")
head -n "$seed_events" "$work/events.tsv" >"$work/seed.tsv"

fresh_topics() {
  "$bin" topics delete >/dev/null
  # Deletion is asynchronous in the controller; create retries until the names are free again.
  local i
  for i in $(seq 1 30); do
    if "$bin" topics create >"$work/create.out" 2>&1 && [ "$(grep -c '^created ' "$work/create.out")" = 5 ]; then
      return
    fi
    sleep 1
  done
  cat "$work/create.out" >&2
  log "could not re-create the topics"
  exit 1
}

# Sum of the end offsets of the five topics (= records stored, for freshly created topics).
stored() {
  scripts/kafka.sh run-class org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$bootstrap" \
    --topic '^(vehicle|gps|traffic|weather|emergency)_data$' --time -1 2>/dev/null |
    awk -F: '{ n += $3 } END { print n + 0 }'
}

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.9g\", $* }"; }
declare -A secs cpus

measure() {  # measure NAME EXPECTED COMMAND...: runs COMMAND on fresh topics, records seconds and CPU
  local name=$1 expected=$2; shift 2
  fresh_topics
  local before after t0 t1 got
  before=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)  # children's CPU so far, in ticks
  t0=$(now)
  "$@" >"$work/$name.out" 2>"$work/$name.err" || { cat "$work/$name.err" >&2; log "$name failed"; exit 1; }
  t1=$(now)
  after=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
  got=$(stored)
  [ "$got" = "$expected" ] || { log "$name: the topics hold $got records, expected $expected"; exit 1; }
  if [[ $name == python_* ]]; then
    # The Python peers time their own produce loop, without interpreter start-up and file loading:
    # the figure most favourable to them.
    secs[$name]+="$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["seconds"])' <"$work/$name.out") "
    cpus[$name]+="$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["cpu_seconds"])' <"$work/$name.out") "
  else
    secs[$name]+="$(calc "$t1 - $t0") "
    cpus[$name]+="$(calc "($after - $before) / $(getconf CLK_TCK)") "
  fi
}

smartcity_run() { "$bin" simulate "${sim_opts[@]}" --kafka -q --summary-json "$work/summary.json"; }
kcat_run() {
  local t
  for t in "${topics[@]}"; do
    kcat -P -b "$bootstrap" -t "$t" -K$'\t' "${kcat_x[@]}" -l "$work/$t.kv" || return 1
  done
}
python_fair() { "$PY" bench/peers/seed_producer.py --bootstrap-servers "$bootstrap" --input "$work/events.tsv" --mode fair; }
python_seed() { "$PY" bench/peers/seed_producer.py --bootstrap-servers "$bootstrap" --input "$work/seed.tsv" --mode seed; }

# One untimed warm-up of the broker's JIT with a small run.
fresh_topics
"$bin" simulate --one-trip --seed 2 --vehicles 10 --count 100000 --kafka -q

for r in $(seq 1 "$repeat"); do
  log "round $r of $repeat"
  measure smartcity "$events" smartcity_run
  measure kcat "$events" kcat_run
  measure python_fair "$events" python_fair
done
measure python_seed "$seed_events" python_seed

median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

best() { tr ' ' '\n' | sed '/^$/d' | sort -g | head -1; }

declare -A med medcpu fastest
for n in smartcity kcat python_fair python_seed; do
  med[$n]=$(echo "${secs[$n]}" | median)
  medcpu[$n]=$(echo "${cpus[$n]}" | median)
  fastest[$n]=$(echo "${secs[$n]}" | best)
done
mb=$(calc "$payload_bytes / 1000000")
seed_payload=$(awk -F'\t' '{ n += length($3) } END { print n }' "$work/seed.tsv")
rate() { calc "$1 / $2"; }
ev_s() { printf '%.0f' "$(rate "$1" "$2")"; }
mb_s() { printf '%.1f' "$(rate "$1" "$2")"; }

s_sc=${med[smartcity]} s_kc=${med[kcat]} s_pf=${med[python_fair]} s_ps=${med[python_seed]}
r_sc=$(rate "$events" "$s_sc") r_kc=$(rate "$events" "$s_kc") r_pf=$(rate "$events" "$s_pf")
r_ps=$(rate "$seed_events" "$s_ps")
ratio_fair=$(printf '%.2f' "$(rate "$r_sc" "$r_pf")")
ratio_seed=$(printf '%.0f' "$(rate "$r_sc" "$r_ps")")
ratio_kcat=$(printf '%.2f' "$(rate "$r_kc" "$r_sc")")
cpu_us() { printf '%.2f' "$(calc "$1 * 1000000 / $2")"; }

b_sc=${fastest[smartcity]} b_kc=${fastest[kcat]} b_pf=${fastest[python_fair]}
best_fair=$(printf '%.2f' "$(calc "$b_pf / $b_sc")")
best_kcat=$(printf '%.2f' "$(calc "$b_sc / $b_kc")")
all_runs() { echo "${secs[$1]}" | tr ' ' '\n' | sed '/^$/d' | awk '{ printf "%s%.2f", (NR > 1 ? ", " : ""), $1 }'; }

table=$(cat <<EOF
| contender | events | seconds (median of $repeat) | events/s | MB/s (payload) | client CPU µs/event | every run (s) |
|---|---:|---:|---:|---:|---:|---|
| smartcity simulate --kafka (generates too) | $events | $(printf '%.2f' "$s_sc") | $(ev_s "$events" "$s_sc") | $(mb_s "$mb" "$s_sc") | $(cpu_us "${medcpu[smartcity]}" "$events") | $(all_runs smartcity) |
| kcat -P, pre-generated lines (upper bound) | $events | $(printf '%.2f' "$s_kc") | $(ev_s "$events" "$s_kc") | $(mb_s "$mb" "$s_kc") | $(cpu_us "${medcpu[kcat]}" "$events") | $(all_runs kcat) |
| Python confluent-kafka, fair (batched) | $events | $(printf '%.2f' "$s_pf") | $(ev_s "$events" "$s_pf") | $(mb_s "$mb" "$s_pf") | $(cpu_us "${medcpu[python_fair]}" "$events") | $(all_runs python_fair) |
| Python confluent-kafka, seed style (flush per message) | $seed_events | $(printf '%.2f' "$s_ps") | $(ev_s "$seed_events" "$s_ps") | $(mb_s "$(calc "$seed_payload / 1000000")" "$s_ps") | $(cpu_us "${medcpu[python_seed]}" "$seed_events") | $(all_runs python_seed) |

Ratios of events/s, medians: smartcity / Python fair = **${ratio_fair}×** (target ≥ 5×); smartcity / Python seed
style = **${ratio_seed}×**; kcat / smartcity = **${ratio_kcat}×** (target ≤ 1.5×). Best runs: smartcity / Python fair
= ${best_fair}×, kcat / smartcity = ${best_kcat}×.
EOF
)
echo "$table"

if [ "$write" = 1 ]; then
  cpu_model=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)
  kcat_version=$(kcat -V 2>/dev/null | sed -n 's/^Version \([^ ]*\).*/\1/p')
  ck_version=$("$PY" -c 'import confluent_kafka as c; from importlib.metadata import version; print(version("confluent-kafka") + " with librdkafka " + c.libversion()[0])')
  kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' scripts/kafka/pom.xml)
  section=$(cat <<EOF
## Produce (issue 3)

Command: \`bench/produce.sh --events $events --seed-events $seed_events --repeat $repeat --vehicles $vehicles\`
Date: $(date -u '+%Y-%m-%d %H:%M UTC'). Machine: $(nproc) cores ($cpu_model), $(free -g | awk '/^Mem:/ { print $2 }') GiB,
$(uname -sr); load average at the end $(cut -d' ' -f1-3 /proc/loadavg) (the cores are shared with other work).
Broker: Apache Kafka $kafka_version, one KRaft node on 127.0.0.1 (scripts/kafka.sh), on the same machine; topics
with 6 partitions, re-created before every run. Clients: smartcity and kcat $kcat_version on librdkafka
$(pkg-config --modversion rdkafka) (Debian); confluent-kafka $ck_version (its wheel).
Events: \`smartcity simulate --one-trip --seed 1 --vehicles $vehicles --count $events\`, $(printf '%.0f' "$mb") MB of JSON payload
(mean $(( payload_bytes / events )) bytes). Every run is checked: the topics hold exactly the events sent.
Settings for smartcity, kcat and the fair Python variant: idempotent, acks=all, murmur2_random, lz4,
linger 20 ms; the seed style uses the client's defaults, as the seed does.

$table

Seconds and client CPU (user+system time of the producing process, all its threads) are wall-clock
for smartcity (process start, pre-flight check and generating the events included) and kcat (five
processes, one per topic), and the Python peers' own figures for their produce loop (interpreter
start-up and reading the file excluded).
The seed-style figure comes from its own sample of $seed_events events (one broker round trip per event,
so it does not depend on the sample size); at that rate $events events would take
$(printf '%.0f' "$(calc "$events / $r_ps")") s.

How to read it: the broker runs on the same shared cores as the clients. When it is the bottleneck,
every batched client (smartcity, kcat, fair Python) runs at about the broker's rate and their events/s
ratios stay near 1 whatever the clients cost; the client CPU column shows that cost. kcat also sends
one topic at a time (6 partitions busy instead of the 18 of the three big topics), so its batches are
about three times larger for the same linger, which the broker handles with fewer requests.
EOF
)
  results=bench/RESULTS.md
  [ -f "$results" ] || printf '# Benchmark results\n\nEach section is written by the benchmark named in it.\n' >"$results"
  "$PY" - "$results" "$section" <<'EOF'
import re, sys
path, section = sys.argv[1], sys.argv[2].rstrip() + "\n"
text = open(path).read()
pattern = re.compile(r"^## Produce \(issue 3\)\n.*?(?=^## |\Z)", re.S | re.M)
if pattern.search(text):
    text = pattern.sub(lambda m: section + "\n", text).rstrip() + "\n"
else:
    text = text.rstrip() + "\n\n" + section
open(path, "w").write(text)
EOF
  log "wrote $results"
fi
