#!/usr/bin/env bash
# smartcity crawl + sql end to end (issue 6): our lake after a seeded run, a foreign pyarrow folder
# with schema evolution, the questions of docs/sql_examples.md against the simulator's own output,
# hostile SQL, and the Athena DDL parsed by sqlglot. The checks are in catalog_sql.py.
set -euo pipefail
smartcity=$1
root=${SMARTCITY_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=$("$root/scripts/pyenv.sh")
exec "$PY" "$root/tests/e2e/catalog_sql.py" "$smartcity"
