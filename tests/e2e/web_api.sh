#!/usr/bin/env bash
# The live view's JSON API and /metrics: positions == the lake's latest events (read by deltalake),
# counters == the run summary (parsed by prometheus_client), warehouse load rows == the DuckDB
# warehouse file, 200 concurrent clients with malformed and oversized requests mixed in; then
# `smartcity serve` on the same lake.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
smartcity=$(realpath "$1")
python_env
workdir web-api
"$PY" "$root/tests/e2e/web/api_test.py" run "$smartcity" "$work/lake" "$work"
ok "run: the live view's API and /metrics"
"$PY" "$root/tests/e2e/web/api_test.py" serve "$smartcity" "$work/lake" "$work"
ok "serve: the same lake"
finish
