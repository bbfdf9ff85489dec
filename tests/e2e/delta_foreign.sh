#!/usr/bin/env bash
# The Delta protocol with another engine writing to the lake (issue 24): Spark 3.5 with delta-spark 3.2
# (the real thing, fetched by scripts/spark.sh into .cache, run offline from its jar folder) upgrades
# smartcity's tables — a writer feature, deletion vectors with deleted rows, a CHECK constraint, column
# mapping — and smartcity then streams, compacts, crawls and queries them again. Either every engine
# (Spark, the deltalake package, DuckDB's delta_scan) reads exactly the right rows afterwards, or
# smartcity refuses at once with one sentence and leaves the table byte for byte as it was; every
# checkpoint smartcity wrote is read alone by delta-rs (and the newest per table by Spark) as the table
# at its version. The scenarios are tests/e2e/delta_foreign.py's; Spark runs in one JVM for all.
#
# Usage: delta_foreign.sh SMARTCITY
set -euo pipefail
. "$(dirname "$0")/lib.sh"
smartcity=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
workdir delta_foreign
python_env
read -r SPARK_PY DELTA_JARS < <("$root/scripts/spark.sh" | paste -sd' ')

city=(--no-serve --vehicles 3 --seed 24 --start 2026-01-05T08:00:00Z -q)
# Lake A and B: the first 10 city minutes; the reference: all 20, never touched by Spark.
"$smartcity" run "${city[@]}" --duration 10m --speedup max --lake "$work/a" ||
  fail "the first run failed"
cp -a "$work/a" "$work/b"
"$smartcity" run "${city[@]}" --duration 20m --speedup max --lake "$work/ref" ||
  fail "the reference run failed"
# The second run goes on from what the lake holds, paced with a short trigger: many commits, so
# checkpoints and maintenance passes happen after Spark's upgrades.
run2=$(printf '%s\n' "${city[@]}" --duration 20m --speedup 240 --trigger 100ms | "$PY" -c \
  'import json, sys; print(json.dumps(sys.stdin.read().split()))')

check "Spark, deltalake and DuckDB read the right rows, or smartcity refuses and changes nothing" \
  "$SPARK_PY" "$here/delta_foreign.py" --smartcity "$smartcity" --jars "$DELTA_JARS" --readers-py "$PY" \
  --lake-a "$work/a" --lake-b "$work/b" --ref "$work/ref" --work "$work" --run "$run2"
finish
