#!/usr/bin/env bash
# The lake on a real S3-compatible server (MinIO on loopback, started by scripts/minio.sh and stopped
# at the end):
#   1. run_exactly_once.sh in s3 mode: SIGINT + resume and 4 x SIGKILL + restart of `smartcity run
#      --lake s3://...` end with exactly the rows of a clean local run, as the Python deltalake package
#      reads them from the server, with no duplicate input record and the join oracle holding;
#   2. `smartcity compact --lake s3://...` merges small files without changing what readers see;
#   3. wrong credentials (secret, then access key): exit 1, one clear line naming the fix, no secret in
#      the output, and nothing written to the bucket;
#   4. an outage: the server is stopped for 30 s mid-run and started again; the run waits, retries and
#      finishes with every record exactly once;
#   5. reading the lake on S3 through DuckDB: `crawl --lake s3://...` lists the 8 tables with the row
#      counts of the same seeded run on a local lake, `sql` counts the same rows, `load --once` copies
#      enriched_data row for row, and hostile SQL (a local file, an uncommitted object) is refused.
# Usage: tests/e2e/s3_lake.sh path/to/smartcity
set -euo pipefail
. "$(dirname "$0")/lib.sh"
smartcity=$1
here=$(cd "$(dirname "$0")" && pwd)
workdir s3
minio_dir="$work/minio"

start_minio "$minio_dir" smartcity
python_env
echo "MinIO at $AWS_ENDPOINT_URL"

# Number of objects under a prefix of the bucket (signed request with curl; the credentials go
# through a config file, not the command line).
count_objects() {
  local cfg="$work/curl.cfg" body
  (umask 077; printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" > "$cfg")
  # The query must be in canonical form for the signature: '/' encoded.
  body=$(curl -s -K "$cfg" --aws-sigv4 "aws:amz:us-east-1:s3" "$AWS_ENDPOINT_URL/smartcity?list-type=2&prefix=${1//\//%2F}")
  case "$body" in *"<ListBucketResult"*) ;; *) echo "listing the bucket failed: $body" >&2; return 1 ;; esac
  local n=0
  while [[ $body == *"<Key>"* ]]; do
    body=${body#*"<Key>"}
    n=$((n + 1))
  done
  echo "$n"
}

# 1. Exactly once through interruptions, read back by deltalake.
S3_LAKE_ROOT=s3://smartcity/exactly-once bash "$here/run_exactly_once.sh" "$smartcity" s3
ok "run_exactly_once.sh in s3 mode"

# 2. compact on S3: merges the many small files the killed runs left, readers see the same rows.
before=$("$PY" "$here/lake_check.py" s3://smartcity/exactly-once/kill --check)
"$smartcity" compact --lake s3://smartcity/exactly-once/kill >"$work/compact.out" 2>&1 ||
  { cat "$work/compact.out"; fail "compact on S3 failed"; }
grep -q "rows rewritten" "$work/compact.out" || { cat "$work/compact.out"; fail "compact rewrote nothing"; }
after=$("$PY" "$here/lake_check.py" s3://smartcity/exactly-once/kill --check)
[ "$after" = "$before" ] || fail "compact on S3 changed the rows: $after != $before"
ok "compact on S3: small files merged, same rows"

# 3. Wrong credentials.
for var in AWS_SECRET_ACCESS_KEY AWS_ACCESS_KEY_ID; do
  bad="bad-$RANDOM-credential-$RANDOM"
  run_status rc env "$var=$bad" "$smartcity" run --no-serve --duration 2m --speedup max --lake s3://smartcity/wrong-creds -q \
    >"$work/wrong.out" 2>"$work/wrong.err"
  cat "$work/wrong.err"
  [ "$rc" = 1 ] || fail "$var wrong: exit code $rc, expected 1"
  [ "$(wc -l < "$work/wrong.err")" = 1 ] || fail "$var wrong: expected one error line"
  grep -q "$var" "$work/wrong.err" || fail "$var wrong: the message does not name $var"
  if grep -q "$bad" "$work/wrong.err" "$work/wrong.out"; then fail "$var wrong: the secret was printed"; fi
  n=$(count_objects wrong-creds/)
  [ "$n" = 0 ] || fail "$var wrong: $n objects were written"
done
ok "wrong credentials: one clear error, nothing written"

# 4. A 30 s outage mid-run.
opts=(--no-serve --duration 15m --vehicles 25 --incident-rate 6 --seed 12 --fault duplicate=0.01)
"$smartcity" run "${opts[@]}" --speedup max --lake "$work/outage-reference" --trigger 1s -q
want=$("$PY" "$here/lake_check.py" "$work/outage-reference" --check)
"$smartcity" run "${opts[@]}" --speedup 25 --lake s3://smartcity/outage --warehouse "duckdb:$work/outage-warehouse.duckdb" --trigger 1s -q \
  >"$work/outage.out" 2>"$work/outage.err" &
pid=$!
track "$pid"
sleep 6
kill -0 $pid 2>/dev/null || fail "the run ended before the outage began (make it longer)"
before=$(count_objects outage/)
[ "$before" -gt 0 ] || fail "nothing committed before the outage began"
"$root/scripts/minio.sh" stop --dir "$minio_dir"
echo "MinIO stopped after 6 s of the run ($before objects in the lake); restarting in 30 s"
sleep 30
kill -0 $pid 2>/dev/null || { cat "$work/outage.err"; fail "the run gave up during the outage"; }
"$root/scripts/minio.sh" start --dir "$minio_dir" --bucket smartcity >/dev/null
rc=0
wait $pid || rc=$?
[ "$rc" = 0 ] || { cat "$work/outage.err"; fail "the run failed after the outage (exit $rc)"; }
got=$("$PY" "$here/lake_check.py" s3://smartcity/outage --check)
[ "$got" = "$want" ] || fail "after the outage: $got != $want"
ok "30 s outage: identical to the reference ($got)"
# 5. crawl / sql / load read the lake on S3 (DuckDB's httpfs, configured from the store).
# --warehouse none: `load` below is the reader under test, not run's follower.
read_opts=(--no-serve --duration 10m --vehicles 20 --seed 21 --speedup max -q --warehouse none)
"$smartcity" run "${read_opts[@]}" --lake "$work/read-local"
"$smartcity" run "${read_opts[@]}" --lake s3://smartcity/read
# TABLE and ROWS columns of crawl's report, one table a line.
table_rows() { awk '/^TABLE /{on=1; next} on && NF==0 {exit} on {print $1, $6}' "$1"; }
"$smartcity" crawl --lake "$work/read-local" >"$work/crawl-local.out" 2>&1 ||
  { cat "$work/crawl-local.out"; fail "crawl of the local reference lake failed"; }
"$smartcity" crawl --lake s3://smartcity/read >"$work/crawl-s3.out" 2>&1 ||
  { cat "$work/crawl-s3.out"; fail "crawl --lake s3://... failed"; }
cat "$work/crawl-s3.out"
want=$(table_rows "$work/crawl-local.out")
got=$(table_rows "$work/crawl-s3.out")
[ "$(wc -l <<<"$got")" = 8 ] || fail "crawl on S3 listed $(wc -l <<<"$got") tables, expected 8"
[ "$got" = "$want" ] || fail "crawl on S3: tables/rows differ from the local lake: $got != $want"
grep -q "^enriched_data [1-9][0-9]*$" <<<"$got" || fail "crawl on S3: enriched_data has no rows"
ok "crawl on S3: the 8 tables with the local lake's row counts"

q="SELECT count(*) FROM vehicle_data"
want=$("$smartcity" sql --lake "$work/read-local" --format csv "$q" 2>/dev/null | tail -n 1)
got=$("$smartcity" sql --lake s3://smartcity/read --format csv "$q" 2>"$work/sql.err") ||
  { cat "$work/sql.err"; fail "sql --lake s3://... failed"; }
got=$(tail -n 1 <<<"$got")
[ -n "$want" ] && [ "$want" -gt 0 ] || fail "sql on the local lake counted '$want' vehicle rows"
[ "$got" = "$want" ] || fail "sql on S3 counted $got vehicle rows, the lake has $want"
ok "sql on S3: $got vehicle_data rows, as in the lake"

"$smartcity" load --once --lake s3://smartcity/read --warehouse "duckdb:$work/read.duckdb" \
  >"$work/load.out" 2>&1 || { cat "$work/load.out"; fail "load --lake s3://... failed"; }
"$PY" "$here/warehouse_compare.py" "$work/read-local" enriched_data "duckdb:$work/read.duckdb" ||
  fail "load from S3: the warehouse's enriched_data differs from the lake's"
ok "load from S3: enriched_data loaded row for row"

delta_log=s3://smartcity/read/vehicle_data/_delta_log/00000000000000000000.json
for hostile in "SELECT * FROM read_csv('/etc/passwd')" "SELECT * FROM read_text('$delta_log')"; do
  run_status rc "$smartcity" sql --lake s3://smartcity/read "$hostile" >"$work/hostile.out" 2>&1
  [ "$rc" != 0 ] || { cat "$work/hostile.out"; fail "hostile SQL on an S3 lake ran: $hostile"; }
  if grep -q "root:\|commitInfo" "$work/hostile.out"; then fail "hostile SQL leaked data: $hostile"; fi
done
ok "hostile sql on S3: refused"
finish
