#!/usr/bin/env bash
# smartcity crawl + sql end to end (issue 6): our lake after a seeded run, a foreign pyarrow folder
# with schema evolution, the questions of docs/sql_examples.md against the simulator's own output,
# hostile SQL, and the Athena DDL parsed by sqlglot. The checks are in catalog_sql.py.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
smartcity=$1
python_env
exec "$PY" "$root/tests/e2e/catalog_sql.py" "$smartcity"
