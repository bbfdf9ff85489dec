#!/usr/bin/env bash
# The live view in real headless Chromium: `smartcity run` serves its dashboard; Playwright checks
# markers (one per vehicle, moving), live charts and counters, hover details, incidents on top and
# clickable, a new incident's alert, console errors (--incident-rate 20: an incident every second or two), and
# saves a screenshot in <build>/test-artifacts/web_dashboard.png.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
smartcity=$(realpath "$1")
build=${SMARTCITY_BINARY_DIR:-$root/build/release}
node_path=$("$root/scripts/browser.sh")
workdir web-dashboard

vehicles=5
"$smartcity" run --one-trip --vehicles $vehicles --incident-rate 20 --speedup 30 --duration 2h --trigger 2s --lake "$work/lake" \
  --listen 127.0.0.1:0 2>"$work/run.err" &
pid=$!
track "$pid"
url=
printed_url() {  # the run's "live view at URL" line, once it is there (the run must still live)
  kill -0 "$pid" 2>/dev/null || { cat "$work/run.err" >&2; fail "run exited"; }
  url=$(grep -o -m1 'live view at http://[^ ]*' "$work/run.err") && url=${url##* }
}
wait_for 60 printed_url || { cat "$work/run.err" >&2; fail "no live view URL printed"; }
echo "live view at $url"
NODE_PATH="$node_path" node "$root/tests/e2e/web/dashboard_test.mjs" "$url" $vehicles \
  "$build/test-artifacts/web_dashboard.png"
ok "the dashboard in Chromium"
kill -INT "$pid"
run_status rc wait "$pid"
[ "$rc" = 0 ] || fail "run exited $rc after SIGINT"
ok "run stops cleanly on SIGINT"
finish
