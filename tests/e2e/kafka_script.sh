#!/usr/bin/env bash
# scripts/kafka.sh's contract beyond what the C++ fixture exercises: the bootstrap string is the only
# stdout line, start is idempotent, status reports stopped nodes, a broker that cannot start fails
# the command with its log and leaves nothing running, and the watchdog stops a cluster whose owner
# died. Usage: kafka_script.sh [smartcity-binary] (the binary is not needed here).
set -uo pipefail
root=${SMARTCITY_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
kafka="$root/scripts/kafka.sh"
work=$(mktemp -d)
failures=0
owner_pid=""
cleanup() {
  [ -n "$owner_pid" ] && kill "$owner_pid" 2>/dev/null
  for d in "$work"/*/; do [ -f "$d/cluster.env" ] && "$kafka" stop --dir "$d" >/dev/null 2>&1; done
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
# True while a JVM of the cluster in DIR runs (a zombie does not count).
jvms_running() {
  local pid
  for pid in $(pgrep -f -- "$1/node-[0-9]*/server.properties"); do
    [ "$(sed -n 's/^[0-9]* (.*) \([A-Z]\) .*/\1/p' "/proc/$pid/stat" 2>/dev/null)" != Z ] && return 0
  done
  return 1
}

# 1. start prints exactly one stdout line, the bootstrap string, also written to DIR/bootstrap.
d="$work/one"
out=$("$kafka" start --dir "$d" 2>"$work/one.err") || { cat "$work/one.err"; fail "start failed"; exit 1; }
if [[ "$out" =~ ^127\.0\.0\.1:[0-9]+$ ]] && [ "$out" = "$(cat "$d/bootstrap")" ]; then ok "bootstrap $out"; else fail "stdout was '$out'"; fi
[ "$out" != "127.0.0.1:9092" ] || fail "used the fixed port 9092"
kcat -L -b "$out" -m 5 | grep -q ' 1 brokers:' && ok "metadata answers" || fail "no metadata from $out"

# 2. A second start of a running cluster changes nothing and prints the same bootstrap.
again=$("$kafka" start --dir "$d" 2>/dev/null)
[ "$again" = "$out" ] && ok "start is idempotent" || fail "second start printed '$again'"
[ "$(pgrep -fc -- "$d/node-1/server.properties")" = 1 ] && ok "one JVM" || fail "more than one JVM for node 1"

# 3. status: 0 while running, 3 once stopped; stop twice is fine.
"$kafka" status --dir "$d" >/dev/null && ok "status 0 when running" || fail "status not 0 when running"
"$kafka" stop --dir "$d" 2>/dev/null || fail "stop failed"
"$kafka" stop --dir "$d" 2>/dev/null || fail "second stop failed"
"$kafka" status --dir "$d" >/dev/null; rc=$?
[ $rc = 3 ] && ok "status 3 when stopped" || fail "status $rc when stopped"
jvms_running "$d" && fail "JVM left after stop" || ok "nothing runs after stop"

# 4. A broker that cannot start: non-zero exit, its output on stderr, nothing left running.
d="$work/broken"
KAFKA_HEAP_OPTS="-Xmx1m" "$kafka" start --dir "$d" >"$work/broken.out" 2>"$work/broken.err"; rc=$?
[ $rc != 0 ] && ok "failed start exits $rc" || fail "failed start exited 0"
[ -s "$work/broken.out" ] && fail "failed start printed on stdout: $(cat "$work/broken.out")"
grep -q 'Too small maximum heap' "$work/broken.err" && ok "failure shows the JVM's message" || { cat "$work/broken.err"; fail "no JVM message on stderr"; }
jvms_running "$d" && fail "JVM left after failed start" || ok "nothing runs after a failed start"

# 5. The watchdog stops the cluster when the owner process is gone.
d="$work/watched"
sleep 600 &
owner_pid=$!
"$kafka" start --dir "$d" --watch-pid "$owner_pid" >/dev/null 2>&1 || fail "watched start failed"
jvms_running "$d" || fail "watched cluster not running"
kill "$owner_pid"; wait "$owner_pid" 2>/dev/null; owner_pid=""
for _ in $(seq 1 120); do jvms_running "$d" || break; sleep 0.5; done
jvms_running "$d" && fail "watchdog did not stop the cluster" || ok "watchdog stopped the cluster"

if [ $failures = 0 ]; then echo "kafka_script: all checks passed"; exit 0; fi
echo "kafka_script: $failures check(s) failed"
exit 1
