#!/usr/bin/env bash
# Fetches Spark with Delta Lake, the foreign writer of the Delta protocol tests (tests/e2e/delta_foreign.sh),
# idempotently, into the git-ignored .cache:
#   .cache/spark-venv         a Python venv with pyspark (pinned; 3.5.x runs on Java 17), NOT the test venv
#   .cache/spark-delta-jars   delta-spark and delta-storage of the matching version, via Maven
# Prints two lines: the venv's python and the jar directory. Spark then runs offline (no ivy downloads):
#   read -r SPARK_PY DELTA_JARS < <(scripts/spark.sh | paste -sd' ')
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
spark_version=3.5.3
delta_version=3.2.1
scala=2.12
venv="$root/.cache/spark-venv"
jars="$root/.cache/spark-delta-jars"

log() { printf 'spark: %s\n' "$*" >&2; }

if ! command -v java >/dev/null; then
  log "installing a Java runtime"
  apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi
if [ ! -x "$venv/bin/python" ]; then
  log "creating $venv"
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import pyspark, sys; sys.exit(pyspark.__version__ != '$spark_version')" 2>/dev/null; then
  log "installing pyspark $spark_version"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "pyspark==$spark_version" >&2
fi

artifacts=(
  "io.delta:delta-spark_$scala:$delta_version"
  "io.delta:delta-storage:$delta_version"
)
stamp="$jars/.artifacts"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "${artifacts[*]}" ]; then
  command -v mvn >/dev/null || { log "installing maven"; apt-get install -y -qq maven >/dev/null; }
  rm -rf "$jars.tmp"; mkdir -p "$jars.tmp"
  for a in "${artifacts[@]}"; do
    log "fetching $a"
    mvn -q -B dependency:copy -Dartifact="$a" -DoutputDirectory="$jars.tmp" >&2
  done
  echo "${artifacts[*]}" >"$jars.tmp/.artifacts"
  rm -rf "$jars"; mv "$jars.tmp" "$jars"
fi
echo "$venv/bin/python"
echo "$jars"
