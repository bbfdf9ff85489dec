#!/usr/bin/env bash
# The live view's JSON API and /metrics: positions == the lake's latest events (read by deltalake),
# counters == the run summary (parsed by prometheus_client), warehouse load rows == the DuckDB
# warehouse file, 200 concurrent clients with malformed and oversized requests mixed in; then
# `smartcity serve` on the same lake.
set -euo pipefail
smartcity=$(realpath "$1")
root=${SMARTCITY_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
py=$("$root/scripts/pyenv.sh")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$py" "$root/tests/e2e/web/api_test.py" run "$smartcity" "$work/lake" "$work"
"$py" "$root/tests/e2e/web/api_test.py" serve "$smartcity" "$work/lake" "$work"
echo "web_api: passed"
