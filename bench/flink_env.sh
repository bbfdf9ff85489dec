#!/usr/bin/env bash
# Fetches the Flink peer of the race (bench/race.sh), idempotently, into the git-ignored .cache:
#   .cache/flink-venv   a Python venv with apache-flink and apache-flink-libraries (pinned; Flink 2.3
#                       runs on Java 17), NOT the test venv
#   .cache/flink-jars   what the wheel does not ship, via Maven: the Kafka SQL connector built for the
#                       pinned release (a fat jar with its kafka-clients), the Parquet SQL format (a
#                       fat jar with parquet-hadoop) and the shaded Hadoop client classes it needs
#                       (org.apache.hadoop.conf.Configuration, the Path/FileSystem of its writer)
# Prints two lines: the venv's python and the jar directory. Benchmarks only: never run by the tests.
#   { read -r FLINK_PY; read -r FLINK_JARS; } < <(bench/flink_env.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# 2.3.0: the only 2.x release whose Parquet SQL format jar can be fetched here (flink-sql-parquet 2.0.0 to
# 2.2.1 cannot). No Kafka connector is built for 2.3 yet: 5.0.0-2.2, the newest (built for 2.1 and 2.2,
# on the same connector APIs), is used; flink_job.py's run is its smoke test (it fails on a mismatch).
flink_version=2.3.0
kafka_connector=5.0.0-2.2
hadoop_version=3.3.6
venv="$root/.cache/flink-venv"
jars="$root/.cache/flink-jars"

log() { printf 'flink_env: %s\n' "$*" >&2; }

if ! command -v java >/dev/null; then
  log "installing a Java runtime"
  apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi
if [ ! -x "$venv/bin/python" ]; then
  log "creating $venv"
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "from importlib.metadata import version as v; import sys
sys.exit(v('apache-flink') != '$flink_version' or v('apache-flink-libraries') != '$flink_version')" 2>/dev/null; then
  log "installing apache-flink $flink_version"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "apache-flink==$flink_version" "apache-flink-libraries==$flink_version" >&2
fi

artifacts=(
  "org.apache.flink:flink-sql-connector-kafka:$kafka_connector"
  "org.apache.flink:flink-sql-parquet:$flink_version"
  "org.apache.hadoop:hadoop-client-api:$hadoop_version"
  "org.apache.hadoop:hadoop-client-runtime:$hadoop_version"
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
