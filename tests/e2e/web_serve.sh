#!/usr/bin/env bash
# `smartcity serve --lake` in headless Chromium on a finished lake with its DuckDB warehouse beside
# it: the page shows the tables with their rows ("produced" not applicable), newest event times and
# the partition groups' watermarks read from the lake, the lake's commits, and the
# loads of the warehouse's `_smartcity_loads` bookkeeping with their totals; while another process
# holds the warehouse file's lock the page says "busy" and keeps the loads, and after it lets go the
# busy note goes. Screenshot in <build>/test-artifacts/web_serve.png.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
smartcity=$(realpath "$1")
build=${SMARTCITY_BINARY_DIR:-$root/build/release}
node_path=$("$root/scripts/browser.sh")
workdir web-serve
python_env

# Paced (20 min at 300x: 4 s) so that it commits several epochs: an epoch's watermark is the one
# its start computed, so only the second and later ones have one for serve to show.
"$smartcity" run --one-trip --vehicles 3 --speedup 300 --duration 20m --trigger 1s --lake "$work/lake" \
  --no-serve -q
[ -f "$work/lake-warehouse.duckdb" ] || fail "run left no warehouse beside the lake"
"$smartcity" serve --lake "$work/lake" --refresh 500ms --listen 127.0.0.1:0 2>"$work/serve.err" &
pid=$!
track "$pid"
url=
printed_url() {
  kill -0 "$pid" 2>/dev/null || { cat "$work/serve.err" >&2; fail "serve exited"; }
  url=$(grep -o -m1 'live view at http://[^ ]*' "$work/serve.err" 2>/dev/null) && url=${url##* }
}
wait_for 60 printed_url || { cat "$work/serve.err" >&2; fail "no live view URL printed"; }
echo "live view at $url"
# The lock holder: takes the warehouse file when told (a file appears), for 4 s.
"$PY" - "$work/lake-warehouse.duckdb" "$work/lock-now" "$work/locked" <<'PY' &
import os, sys, time
import duckdb
db, go, locked = sys.argv[1:]
while not os.path.exists(go):
    time.sleep(0.1)
while True:  # serve attaches the file for a moment every refresh: retry until the lock is ours
    try:
        con = duckdb.connect(db)
        break
    except duckdb.IOException:
        time.sleep(0.05)
open(locked, "w").close()
time.sleep(4)
con.close()
os.remove(locked)
PY
holder=$!
track "$holder"
NODE_PATH="$node_path" node "$root/tests/e2e/web/serve_test.mjs" "$url" "$work/lock-now" "$work/locked" \
  "$build/test-artifacts/web_serve.png" || fail "serve --lake in Chromium"
ok "serve --lake in Chromium: tables, commits, loads, busy warehouse"
kill -INT "$pid"
run_status rc wait "$pid"
[ "$rc" = 0 ] || fail "serve exited $rc after SIGINT"
ok "serve stops cleanly on SIGINT"
finish
