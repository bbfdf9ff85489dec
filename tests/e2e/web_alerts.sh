#!/usr/bin/env bash
# The live view's stall alert in headless Chromium, against a real Kafka: `smartcity stream
# --alert-stall 5s` reads a steady producer (tests/e2e/web/steady_producer.py: vehicle_data and
# gps_data, 20 records a second each); after 20 s its vehicle_data producer stops while gps_data
# goes on. The page must show a stall alert for the topic (banner and list) within 15 s of the
# topic's last record: 5 s of --alert-stall, up to 1 s of progress reports and SSE updates, and the
# trigger.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
smartcity=$(realpath "$1")
build=${SMARTCITY_BINARY_DIR:-$root/build/release}
node_path=$("$root/scripts/browser.sh")
workdir web-alerts
python_env

start_kafka "$work/kafka"
"$smartcity" topics create --partitions 1 >/dev/null
"$smartcity" stream --lake "$work/lake" --trigger 1s --alert-stall 5s --listen 127.0.0.1:0 \
  2>"$work/stream.err" &
pid=$!
track "$pid"
url=
printed_url() {
  kill -0 "$pid" 2>/dev/null || { cat "$work/stream.err" >&2; fail "stream exited"; }
  url=$(grep -o -m1 'live view at http://[^ ]*' "$work/stream.err" 2>/dev/null) && url=${url##* }
}
wait_for 60 printed_url || { cat "$work/stream.err" >&2; fail "no live view URL printed"; }
echo "live view at $url"
"$PY" "$root/tests/e2e/web/steady_producer.py" "$bootstrap" 20 40 "$work/vehicle-stopped" &
producer=$!
track "$producer"
NODE_PATH="$node_path" node "$root/tests/e2e/web/alerts_test.mjs" "$url" "$work/vehicle-stopped" 15 \
  "$build/test-artifacts/web_alerts.png" || { tail -20 "$work/stream.err" >&2; fail "the stall alert in Chromium"; }
ok "the stall alert in Chromium"
kill -INT "$pid"
run_status rc wait "$pid"
[ "$rc" = 0 ] || fail "stream exited $rc after SIGINT"
ok "stream stops cleanly on SIGINT"
finish
