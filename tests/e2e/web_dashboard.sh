#!/usr/bin/env bash
# The live view in real headless Chromium: `smartcity run` serves its dashboard; Playwright checks
# markers (one per vehicle, moving), live charts and counters, hover details and console errors, and
# saves a screenshot in <build>/test-artifacts/web_dashboard.png.
set -euo pipefail
smartcity=$(realpath "$1")
root=${SMARTCITY_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${SMARTCITY_BINARY_DIR:-$root/build/release}
node_path=$("$root/scripts/browser.sh")
work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill -INT "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

vehicles=5
"$smartcity" run --vehicles $vehicles --speedup 30 --duration 2h --trigger 2s --lake "$work/lake" \
  --listen 127.0.0.1:0 2>"$work/run.err" &
pid=$!
url=
for _ in $(seq 600); do
  url=$(grep -o 'live view at http://[^ ]*' "$work/run.err" | head -1 | cut -d' ' -f4 || true)
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/run.err"; echo "FAIL: run exited"; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { cat "$work/run.err"; echo "FAIL: no live view URL printed"; exit 1; }
echo "live view at $url"
NODE_PATH="$node_path" node "$root/tests/e2e/web/dashboard_test.mjs" "$url" $vehicles \
  "$build/test-artifacts/web_dashboard.png"
kill -INT "$pid"
wait "$pid"
rc=$?
pid=
[ "$rc" = 0 ] || { echo "FAIL: run exited $rc after SIGINT"; exit 1; }
echo "web_dashboard: passed"
