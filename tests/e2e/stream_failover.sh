#!/usr/bin/env bash
# smartcity stream failover against a real Apache Kafka (scripts/kafka.sh), docs/kafka_source.md
# "Failover":
#  1. Static membership: two members (--instance-id a, b; --session-timeout 30s) share the six
#     partition groups; A is killed (SIGKILL) and restarted with its instance id: it owns its three
#     groups again and processes records within 10 s, a third of the session timeout (a dynamic
#     member would wait for the dead one's session to expire before any rebalance ends).
#  2. A second process with A's instance id: the older one stops with one message naming the clash.
#  3. A member killed and not restarted: the survivor owns all six groups within the session timeout
#     (6s here) plus 15 s.
#  4. The lake after all of it: every event Kafka acknowledged is in its raw table or _dead_letters
#     exactly once, three readers agree, no duplicate, no missing file.
# A paced simulator produces into the topics all along (a live city), so there is always something
# to process; it is stopped before the last check.
#
# Usage: tests/e2e/stream_failover.sh path/to/smartcity
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bin=$(realpath "${1:?usage: stream_failover.sh path/to/smartcity}")
digest_bin=${SMARTCITY_LAKE_DIGEST:-$(dirname "$bin")/../lake/lake_digest}
workdir failover
python_env

start_kafka "$work/kafka"
echo "# Kafka at $bootstrap"
"$bin" topics create --partitions 6 >/dev/null
"$bin" simulate --kafka --duration 24h --speedup 20 --vehicles 30 --seed 5 --incident-rate 3 \
  --fault duplicate=0.002 --fault malformed=0.002 --summary-json "$work/sim.json" >"$work/sim.log" 2>&1 &
sim=$!; track "$sim"

# No live view (members must not contend for a port); progress lines every second.
# Each part has its own group: a stopped static member would hold the next part's rebalance for its
# session timeout. Positions come from the lake, whatever the group.
member=(stream --idle-timeout 1h --no-serve --lake "$work/lake" --trigger 300ms)
# The last progress line of log $1 counts more than $3 events (default 0) and $2 partition groups:
# "stream | 1.2k events 40/s | lag 0 | 3 partition groups | ...".
owns() {
  tail -n 1 "$1" 2>/dev/null | "$PY" -c '
import re, sys
m = re.match(r"stream \| ([0-9.]+)([kMG]?) events .*\| ([0-9]+) partition groups \|", sys.stdin.read())
n = m and float(m.group(1)) * {"": 1, "k": 1e3, "M": 1e6, "G": 1e9}[m.group(2)]
sys.exit(0 if m and n > float(sys.argv[2]) and m.group(3) == sys.argv[1] else 1)' "$2" "${3:-0}"
}
# Events counted in the last progress line of log $1.
events() {
  tail -n 1 "$1" | "$PY" -c '
import re, sys
m = re.match(r"stream \| ([0-9.]+)([kMG]?) events", sys.stdin.read())
print(int(float(m.group(1)) * {"": 1, "k": 1e3, "M": 1e6, "G": 1e9}[m.group(2)]) if m else 0)'
}

# ---- 1. static member killed and restarted --------------------------------------------------------
"$bin" "${member[@]}" --group static --instance-id a --session-timeout 30s >"$work/a1.log" 2>&1 &
a=$!; track "$a"
"$bin" "${member[@]}" --group static --instance-id b --session-timeout 30s >"$work/b.log" 2>&1 &
b=$!; track "$b"
wait_for 120 owns "$work/a1.log" 3 && wait_for 60 owns "$work/b.log" 3 ||
  fail "the members never shared the partitions: A: $(tail -2 "$work/a1.log"); B: $(tail -2 "$work/b.log")"
kill9 "$a" "member A"
t0=$SECONDS
"$bin" "${member[@]}" --group static --instance-id a --session-timeout 30s >"$work/a2.log" 2>&1 &
a=$!; track "$a"
wait_for 10 owns "$work/a2.log" 3 ||
  fail "member A, restarted with its instance id, did not process its 3 partition groups within 10 s (session timeout 30 s): $(tail -3 "$work/a2.log")"
took=$((SECONDS - t0))
owns "$work/b.log" 3 || fail "member B lost its partitions: $(tail -2 "$work/b.log")"
ok "static member killed (SIGKILL) and restarted: it processes its 3 partition groups again after ${took} s (bound 10 s, session timeout 30 s)"

# ---- 2. two processes with one instance id --------------------------------------------------------
# One of them stops, naming the problem: the older when the broker fences it (at its next heartbeat
# or offset commit), or the newer when the lake's fencing finds both writing one partition group
# first. The lake stays exactly once (checked in 4).
"$bin" "${member[@]}" --group static --instance-id a --session-timeout 30s >"$work/a3.log" 2>&1 &
a3=$!; track "$a3"
clash="joined with the same instance id a \\(--instance-id\\): each member needs its own|two members are processing partition group .* two members with one --instance-id"
stopped=
gone() { ! kill -0 "$a" 2>/dev/null || ! kill -0 "$a3" 2>/dev/null; }
wait_for 60 gone || fail "neither process with instance id a stopped within 60 s"
for p in "$a:a2" "$a3:a3"; do
  pid=${p%%:*} log="$work/${p#*:}.log"
  kill -0 "$pid" 2>/dev/null && continue
  rc=0; wait "$pid" || rc=$?
  [ "$rc" != 0 ] || fail "$(basename "$log" .log) stopped with exit 0 in an instance id clash"
  grep -Eq "$clash" "$log" ||
    fail "$(basename "$log" .log) stopped without naming the clash: $(tail -2 "$log")"
  stopped="$stopped $(basename "$log" .log) (exit $rc)"
done
ok "a second process with the same instance id: one stops naming the clash:$stopped"

# ---- 3. a member killed for good: the other takes everything -----------------------------------------
# The other one is stopped (or has stopped by itself, fenced in turn: then it named the clash too).
for p in "$a:a2" "$a3:a3"; do
  pid=${p%%:*} log="$work/${p#*:}.log"
  kill -INT "$pid" 2>/dev/null || true
  rc=0; wait "$pid" 2>/dev/null || rc=$?
  [ "$rc" = 0 ] || grep -Eq "$clash" "$log" || fail "${p#*:} ended with exit $rc: $(tail -2 "$log")"
done
kill -INT "$b"; wait "$b" || fail "member B did not stop cleanly: $(tail -3 "$work/b.log")"

# A static member that stops cleanly says that its partitions wait for it (alone in its group, so
# what it owns when it stops is known: all 6).
"$bin" "${member[@]}" --group alone --instance-id solo --session-timeout 30s >"$work/solo.log" 2>&1 &
solo=$!; track "$solo"
wait_for 60 owns "$work/solo.log" 6 || fail "the lone static member never owned the 6 groups: $(tail -2 "$work/solo.log")"
kill -INT "$solo"; wait "$solo" || fail "the lone static member did not stop cleanly: $(tail -3 "$work/solo.log")"
expect_in "$work/solo.log" "static member solo stopped: its 6 partition group(s) wait up to the session timeout (30s)"
"$bin" "${member[@]}" --group dynamic --session-timeout 6s >"$work/c.log" 2>&1 &
c=$!; track "$c"
"$bin" "${member[@]}" --group dynamic --session-timeout 6s >"$work/d.log" 2>&1 &
d=$!; track "$d"
wait_for 120 owns "$work/c.log" 3 && wait_for 60 owns "$work/d.log" 3 ||
  fail "C and D never shared the partitions: C: $(tail -2 "$work/c.log"); D: $(tail -2 "$work/d.log")"
kill9 "$c" "member C"
t0=$SECONDS
before=$(events "$work/d.log")
wait_for 21 owns "$work/d.log" 6 "$before" ||
  fail "member D did not process all 6 partition groups within 21 s of C's death (session timeout 6 s): $(tail -3 "$work/d.log")"
ok "a member killed for good: the survivor processes all 6 partition groups after $((SECONDS - t0)) s (session timeout 6 s, bound 21 s)"

# ---- 4. exactly once through all of it ---------------------------------------------------------------
kill -INT "$sim"; wait "$sim" || fail "the simulator failed: $(tail -3 "$work/sim.log")"
kill -INT "$d"; wait "$d" || fail "member D did not stop cleanly: $(tail -3 "$work/d.log")"
"$bin" stream --idle-timeout 1h --no-serve --group final --lake "$work/lake" --trigger 2s \
  --stop-when-idle 3s --final -q
"$PY" "$root/tests/e2e/lake_digest.py" "$work/lake" "$digest_bin" >"$work/digest.json" ||
  fail "lake: readers disagree, duplicates or missing files"
"$PY" "$root/tests/e2e/lake_counts.py" "$work/digest.json" "$work/sim.json" "$work/lake" ||
  fail "lake: not every acknowledged event exactly once"
ok "after the kills, restarts and the fenced member: every acknowledged event exactly once in the lake; three readers agree"
finish
