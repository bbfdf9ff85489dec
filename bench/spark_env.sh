#!/usr/bin/env bash
# Fetches the Spark peer of the race (bench/race.sh), idempotently, into the git-ignored .cache:
#   .cache/spark-venv   a Python venv with pyspark (pinned; 3.5.x runs on Java 17), NOT the test venv
#   .cache/spark-jars   spark-sql-kafka-0-10 and its runtime dependencies (kafka-clients,
#                       commons-pool2, the token provider) of the matching versions, via Maven
# Prints two lines: the venv's python and the jar directory. Benchmarks only: never run by the tests.
#   read -r SPARK_PY SPARK_JARS < <(bench/spark_env.sh | paste -sd' ')
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
spark_version=3.5.3
scala=2.12
venv="$root/.cache/spark-venv"
jars="$root/.cache/spark-jars"

log() { printf 'spark_env: %s\n' "$*" >&2; }

if [ ! -x "$venv/bin/python" ]; then
  log "creating $venv"
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import pyspark, sys; sys.exit(pyspark.__version__ != '$spark_version')" 2>/dev/null; then
  log "installing pyspark $spark_version"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "pyspark==$spark_version" >&2
fi

# The connector's own jar plus what it needs at run time that pyspark does not ship.
artifacts=(
  "org.apache.spark:spark-sql-kafka-0-10_$scala:$spark_version"
  "org.apache.spark:spark-token-provider-kafka-0-10_$scala:$spark_version"
  "org.apache.kafka:kafka-clients:3.4.1"
  "org.apache.commons:commons-pool2:2.11.1"
)
stamp="$jars/.artifacts"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "${artifacts[*]}" ]; then
  command -v mvn >/dev/null || { log "installing maven"; apt-get install -y -qq maven >/dev/null; }
  rm -rf "$jars"; mkdir -p "$jars"
  for a in "${artifacts[@]}"; do
    log "fetching $a"
    mvn -q -B dependency:copy -Dartifact="$a" -DoutputDirectory="$jars" >&2
  done
  echo "${artifacts[*]}" >"$stamp"
fi
echo "$venv/bin/python"
echo "$jars"
