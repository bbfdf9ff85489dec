#!/usr/bin/env bash
# smartcity crawl --export athena / glue / spectrum end to end (issue 18): a real lake plus foreign
# Parquet folders, the exports checked as AWS would read them (sqlglot, botocore's Glue validation,
# a local moto server) and the Spectrum manifests against the deltalake package, also after a
# compaction. The checks are in catalog_export.py.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
smartcity=$1
python_env
exec "$PY" "$root/tests/e2e/catalog_export.py" "$smartcity"
