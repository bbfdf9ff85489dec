#!/usr/bin/env bash
# End-to-end: `smartcity topics` and `smartcity simulate --kafka` against a real Apache Kafka broker
# (scripts/kafka.sh), checked by independent clients: kcat (Debian) reads back what was produced, the
# Java client (kafka.tools.ConsoleProducer from the broker's jars) says which partition each key
# belongs on, and kafka.tools.DumpLogSegments shows how the batches were stored.
#
# Proves: topics create is idempotent and refuses impossible settings; every acknowledged event is in
# Kafka exactly once and in per-key order even though the broker is killed (SIGKILL) and restarted
# mid-run; each key is on the Java client's partition; batches are lz4-compressed and idempotent;
# an unreachable broker and a topic deleted mid-run give a clear message and a non-zero exit.
#
# Usage: tests/e2e/kafka_producer.sh path/to/smartcity
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bin=$(realpath "${1:?usage: kafka_producer.sh path/to/smartcity}")
kafka="$root/scripts/kafka.sh"
workdir producer
kdir="$work/kafka"
tab=$'\t'
topics=(vehicle_data gps_data traffic_data weather_data emergency_data)

# summary_sum FILE FIELD: the per-topic counter FIELD (sent, delivered, failed, emitted) of a
# --summary-json file, summed over the five topics (these names occur only in the topics' objects).
summary_sum() {
  grep -o "\"$2\": *[0-9]*" "$1" | awk -F: '{ n += $2 } END { print n + 0 }'
}

command -v kcat >/dev/null || fail "kcat is missing (scripts/setup.sh installs it)"

start_kafka "$kdir"
echo "# Kafka at $bootstrap"

# ---- topics --------------------------------------------------------------------------------------

run_status rc "$bin" topics describe >"$work/out" 2>&1
[ $rc = 1 ] || fail "describe before create: exit $rc, want 1"
expect_in "$work/out" "vehicle_data: does not exist (create it with: smartcity topics create)"
ok "describe names the missing topics and the fix"

run_status rc "$bin" simulate --kafka --count 10 -q >"$work/out" 2>&1
[ $rc = 1 ] || fail "simulate without topics: exit $rc, want 1"
expect_in "$work/out" "does not exist in Kafka at $bootstrap: create it with: smartcity topics create"
ok "simulate --kafka refuses to start without the topics"

"$bin" topics create >"$work/out" 2>&1 || fail "topics create: exit $?: $(cat "$work/out")"
[ "$(grep -c '^created ' "$work/out")" = 5 ] || fail "expected 5 topics created: $(cat "$work/out")"
"$bin" topics create >"$work/out" 2>&1 || fail "second topics create: exit $?: $(cat "$work/out")"
[ "$(grep -c 'already exists with 6 partitions' "$work/out")" = 5 ] || fail "second create: $(cat "$work/out")"
ok "topics create twice is fine"

run_status rc "$bin" topics create --partitions 3 >"$work/out" 2>&1
[ $rc = 1 ] || fail "create with another partition count: exit $rc, want 1"
expect_in "$work/out" "vehicle_data already exists with 6 partitions, not 3"
ok "a different partition count for existing topics is refused (co-partitioning)"

run_status rc "$bin" topics create --replication-factor 3 >"$work/out" 2>&1
[ $rc = 2 ] || fail "replication factor 3 on one broker: exit $rc, want 2"
expect_in "$work/out" "replication factor 3 is impossible: the cluster at $bootstrap has 1 broker(s)"
run_status rc "$bin" topics create --partitions 0 >"$work/out" 2>&1
[ $rc = 2 ] || fail "0 partitions: exit $rc, want 2"
ok "impossible settings are usage errors with a clear message"

"$bin" topics describe >"$work/describe" 2>&1 || fail "describe: $(cat "$work/describe")"
for t in "${topics[@]}"; do
  expect_in "$work/describe" "$t: 6 partitions, replication factor 1"
done
[ "$(grep -c '  partition [0-5]: leader 1, replicas \[1\], isr \[1\]' "$work/describe")" = 30 ] ||
  fail "describe: expected 30 partition lines: $(cat "$work/describe")"
expect_in "$work/describe" "retention.ms=604800000"
expect_in "$work/describe" "compression.type=producer"
ok "describe shows 6 partitions, leaders, replicas, ISR and configs for the five topics"

# ---- a run with the broker killed and restarted in the middle -------------------------------------

sim_opts=(--seed 11 --vehicles 40 --duration 6m)
"$bin" simulate "${sim_opts[@]}" --kafka --speedup 12 --delivery-timeout 180s \
  --summary-json "$work/run.json" >"$work/run.log" 2>&1 &
sim=$!
track "$sim"
sleep 8
"$kafka" kill-node --dir "$kdir" --node 1
sleep 2
"$kafka" start-node --dir "$kdir" --node 1
run_status rc wait $sim
[ $rc = 0 ] || { cat "$work/run.log" >&2; fail "simulate across a broker restart: exit $rc"; }
sent=$(summary_sum "$work/run.json" sent)
delivered=$(summary_sum "$work/run.json" delivered)
failed=$(summary_sum "$work/run.json" failed)
emitted=$(summary_sum "$work/run.json" emitted)
[ "$failed" = 0 ] && [ "$sent" = "$emitted" ] && [ "$delivered" = "$sent" ] ||
  fail "summary: emitted $emitted sent $sent delivered $delivered failed $failed"
ok "simulate survived a SIGKILL of the broker: $delivered of $emitted events acknowledged, 0 failed"

# The simulator is deterministic: the same options to a file give exactly the events that were sent.
"$bin" simulate "${sim_opts[@]}" --format tsv -o "$work/expected.tsv" -q
[ "$(wc -l <"$work/expected.tsv")" = "$emitted" ] || fail "the file run emitted a different count"
for t in "${topics[@]}"; do
  kcat -C -b "$bootstrap" -t "$t" -o beginning -e -q -f '%t\t%p\t%o\t%k\t%s\n'
done >"$work/got.tsv"
[ "$(wc -l <"$work/got.tsv")" = "$delivered" ] ||
  fail "kcat read $(wc -l <"$work/got.tsv") records, $delivered were acknowledged"
# Exactly once and in per-key order: group by (topic, key) keeping the log order (partition, offset)
# on one side and the emission order on the other; the two lists must be identical.
sort -t"$tab" -k1,1 -k2,2n -k3,3n "$work/got.tsv" | cut -f1,4,5 | sort -s -t"$tab" -k1,2 >"$work/got.bykey"
sort -s -t"$tab" -k1,2 "$work/expected.tsv" >"$work/expected.bykey"
cmp -s "$work/got.bykey" "$work/expected.bykey" ||
  fail "Kafka does not hold exactly the expected records in per-key order ($(diff "$work/got.bykey" "$work/expected.bykey" | head -5))"
ok "kcat finds exactly the $emitted expected records, no duplicate, none lost, in per-key order"

# Every key on one partition number in all five topics (co-partitioned) ...
cut -f2,4 "$work/got.tsv" | sort -u >"$work/ours.pk"
[ "$(cut -f2 "$work/ours.pk" | sort | uniq -d | wc -l)" = 0 ] || fail "a key is on two partitions"
# ... and that partition is the Java client's: let the Java producer place the same keys.
"$kafka" create-topic --dir "$kdir" --topic java_partitions --partitions 6 >/dev/null 2>&1
cut -f2 "$work/ours.pk" | awk '{print $1 "\t" $1}' |
  "$kafka" run-class kafka.tools.ConsoleProducer --bootstrap-server "$bootstrap" --topic java_partitions \
    --property parse.key=true --property "key.separator=$tab" >/dev/null 2>"$work/java.log" ||
  { cat "$work/java.log" >&2; fail "the Java console producer failed"; }
kcat -C -b "$bootstrap" -t java_partitions -o beginning -e -q -f '%p\t%k\n' | sort -u >"$work/java.pk"
[ "$(wc -l <"$work/java.pk")" = "$(wc -l <"$work/ours.pk")" ] || fail "the Java producer did not write every key"
cmp -s "$work/ours.pk" "$work/java.pk" ||
  fail "partitions differ from the Java client's: $(diff "$work/ours.pk" "$work/java.pk" | head -5)"
ok "all $(wc -l <"$work/ours.pk") keys are on the partition the Java client chooses, in every topic"

# The stored batches: lz4 and written by an idempotent producer (a producer id and sequence numbers).
"$kafka" run-class kafka.tools.DumpLogSegments --files "$(ls "$kdir"/node-1/data/vehicle_data-*/*.log | paste -sd,)" \
  >"$work/dump.txt" 2>/dev/null
batches=$(grep -c 'baseOffset:' "$work/dump.txt")
[ "$batches" -gt 0 ] || fail "DumpLogSegments found no batches"
[ "$(grep 'baseOffset:' "$work/dump.txt" | grep -c 'compresscodec: lz4')" = "$batches" ] ||
  fail "not every batch is lz4: $(grep 'baseOffset:' "$work/dump.txt" | grep -v 'compresscodec: lz4' | head -2)"
grep 'baseOffset:' "$work/dump.txt" | grep -q 'producerId: -1' && fail "a batch without a producer id (not idempotent)"
ok "all $batches batches of vehicle_data are lz4-compressed with producer ids and sequences"

# ---- failures -----------------------------------------------------------------------------------

start=$SECONDS
run_status rc timeout 120 "$bin" simulate --kafka --bootstrap-servers 127.0.0.1:1 --connect-timeout 3s --count 100 \
  >"$work/out" 2>&1
[ $rc = 1 ] || fail "unreachable broker: exit $rc, want 1 ($(cat "$work/out"))"
expect_in "$work/out" "cannot reach Kafka at 127.0.0.1:1 within 3s: is the broker running? set --bootstrap-servers / KAFKA_BOOTSTRAP_SERVERS"
run_status rc timeout 120 "$bin" topics create --bootstrap-servers 127.0.0.1:1 --timeout 3s >"$work/out" 2>&1
[ $rc = 1 ] || fail "topics create, unreachable broker: exit $rc, want 1"
expect_in "$work/out" "cannot reach Kafka at 127.0.0.1:1 within 3s"
ok "an unreachable broker is a clear error and exit 1 ($((SECONDS - start)) s for both)"

"$bin" simulate --kafka --seed 3 --vehicles 20 --duration 30m --speedup 30 --delivery-timeout 10s \
  --summary-json "$work/deleted.json" >"$work/deleted.log" 2>&1 &
sim=$!
track "$sim"
sleep 5
"$bin" topics delete >"$work/out" 2>&1 || fail "topics delete: $(cat "$work/out")"
[ "$(grep -c '^deleted ' "$work/out")" = 5 ] || fail "expected 5 topics deleted: $(cat "$work/out")"
run_status rc wait $sim
[ $rc = 1 ] || { cat "$work/deleted.log" >&2; fail "topic deleted mid-run: exit $rc, want 1"; }
expect_in "$work/deleted.log" "no longer exists in Kafka at $bootstrap (was it deleted?)"
sent=$(summary_sum "$work/deleted.json" sent)
delivered=$(summary_sum "$work/deleted.json" delivered)
failed=$(summary_sum "$work/deleted.json" failed)
[ "$failed" -gt 0 ] && [ "$sent" = $((delivered + failed)) ] ||
  fail "summary after the deletion: sent $sent delivered $delivered failed $failed"
ok "a topic deleted mid-run stops the run: exit 1, $failed failed in the summary, sent = delivered + failed"

"$bin" topics delete >"$work/out" 2>&1 || fail "second delete: $(cat "$work/out")"
[ "$(grep -c 'not there, nothing to delete' "$work/out")" = 5 ] || fail "second delete: $(cat "$work/out")"
ok "topics delete twice is fine"

finish
