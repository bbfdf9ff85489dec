#!/usr/bin/env bash
# scripts/kafka.sh's contract beyond what the C++ fixture exercises: the bootstrap string is the only
# stdout line, start is idempotent, status reports stopped nodes, a broker that cannot start fails
# the command with its log and leaves nothing running, and the watchdog stops a cluster whose owner
# died. Usage: kafka_script.sh [smartcity-binary] (the binary is not needed here).
# Checks are soft (not_ok, then on to the next); the verdict is finish's at the end.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
kafka="$root/scripts/kafka.sh"
workdir kafka-script
stop_clusters() {  # every cluster the checks started (stop is idempotent)
  local d rc=0
  for d in "$work"/*/; do
    if [ -f "$d/cluster.env" ]; then "$kafka" stop --dir "$d" >/dev/null || rc=$?; fi
  done
  return "$rc"
}
at_exit stop_clusters

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
out=$("$kafka" start --dir "$d" 2>"$work/one.err") || { cat "$work/one.err"; fail "start failed"; }
if [[ "$out" =~ ^127\.0\.0\.1:[0-9]+$ ]] && [ "$out" = "$(cat "$d/bootstrap")" ]; then ok "bootstrap $out"; else not_ok "stdout was '$out'"; fi
[ "$out" != "127.0.0.1:9092" ] || not_ok "used the fixed port 9092"
kcat -L -b "$out" -m 5 | grep -q ' 1 brokers:' && ok "metadata answers" || not_ok "no metadata from $out"

# 2. A second start of a running cluster changes nothing and prints the same bootstrap.
again=$("$kafka" start --dir "$d" 2>/dev/null)
[ "$again" = "$out" ] && ok "start is idempotent" || not_ok "second start printed '$again'"
[ "$(pgrep -fc -- "$d/node-1/server.properties")" = 1 ] && ok "one JVM" || not_ok "more than one JVM for node 1"

# 3. status: 0 while running, 3 once stopped; stop twice is fine.
"$kafka" status --dir "$d" >/dev/null && ok "status 0 when running" || not_ok "status not 0 when running"
"$kafka" stop --dir "$d" 2>/dev/null || not_ok "stop failed"
"$kafka" stop --dir "$d" 2>/dev/null || not_ok "second stop failed"
"$kafka" status --dir "$d" >/dev/null; rc=$?
[ $rc = 3 ] && ok "status 3 when stopped" || not_ok "status $rc when stopped"
jvms_running "$d" && not_ok "JVM left after stop" || ok "nothing runs after stop"

# 4. A broker that cannot start: non-zero exit, its output on stderr, nothing left running.
d="$work/broken"
KAFKA_HEAP_OPTS="-Xmx1m" "$kafka" start --dir "$d" >"$work/broken.out" 2>"$work/broken.err"; rc=$?
[ $rc != 0 ] && ok "failed start exits $rc" || not_ok "failed start exited 0"
[ -s "$work/broken.out" ] && not_ok "failed start printed on stdout: $(cat "$work/broken.out")"
grep -q 'Too small maximum heap' "$work/broken.err" && ok "failure shows the JVM's message" || { cat "$work/broken.err"; not_ok "no JVM message on stderr"; }
jvms_running "$d" && not_ok "JVM left after failed start" || ok "nothing runs after a failed start"

# 5. The watchdog stops the cluster when the owner process is gone.
d="$work/watched"
sleep 600 &
owner_pid=$!
track "$owner_pid"
"$kafka" start --dir "$d" --watch-pid "$owner_pid" >/dev/null 2>&1 || not_ok "watched start failed"
jvms_running "$d" || not_ok "watched cluster not running"
kill "$owner_pid"; wait "$owner_pid" 2>/dev/null
for _ in $(seq 1 120); do jvms_running "$d" || break; sleep 0.5; done
jvms_running "$d" && not_ok "watchdog did not stop the cluster" || ok "watchdog stopped the cluster"

finish
