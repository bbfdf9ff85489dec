"""A transactional producer (confluent-kafka, `transactional.id`) for stream_transactions.sh: it
writes the simulator's events (tsv lines: topic, key, value) to the five topics in committed
transactions, and between them aborted transactions of poisoned copies (deviceId "ABORTED-..."),
so that every partition holds commit and abort markers between its records. It ends with an aborted
transaction over every partition of every topic, so that every partition's last writes are aborted
records and an abort marker, and partitions no committed event went to hold nothing else.

Keys are partitioned with murmur2, as the Java client and `smartcity simulate --kafka` do.

Usage: python txn_producer.py BOOTSTRAP EVENTS.tsv PARTITIONS SUMMARY.json
Prints nothing; writes {"committed": {topic: n}, "aborted": {topic: n}, "transactions": {...}}.
"""
import json
import sys

from confluent_kafka import KafkaException, Producer

TOPICS = ["vehicle_data", "gps_data", "traffic_data", "weather_data", "emergency_data"]
PER_TRANSACTION = 500


def poisoned(value):
    """The record as an aborted transaction carries it: recognisable in any table it might reach."""
    try:
        event = json.loads(value)
    except ValueError:
        return "ABORTED-" + value
    if isinstance(event, dict):
        event["deviceId"] = "ABORTED-" + str(event.get("deviceId"))
        if "id" in event:
            event["id"] = "ABORTED-" + str(event["id"])
        return json.dumps(event)
    return "ABORTED-" + value


def main():
    bootstrap, events_path, partitions, summary_path = sys.argv[1:5]
    partitions = int(partitions)
    records = []
    with open(events_path, encoding="utf-8") as f:
        for line in f:
            topic, key, value = line.rstrip("\n").split("\t", 2)
            records.append((topic, key, value))

    p = Producer({
        "bootstrap.servers": bootstrap,
        "transactional.id": "smartcity-e2e-transactions",
        "partitioner": "murmur2_random",
        "linger.ms": 5,
        "transaction.timeout.ms": 60000,
    })
    p.init_transactions(30)
    committed = {t: 0 for t in TOPICS}
    aborted = {t: 0 for t in TOPICS}
    txns = {"committed": 0, "aborted": 0}

    def run(batch, commit):
        p.begin_transaction()
        for topic, key, value, partition in batch:
            if partition is None:
                p.produce(topic, key=key, value=value)
            else:
                p.produce(topic, key=key, value=value, partition=partition)
            p.poll(0)
        if commit:
            p.commit_transaction(60)
            txns["committed"] += 1
        else:
            p.flush(60)  # the aborted records are in the log, before their abort marker
            p.abort_transaction(60)
            txns["aborted"] += 1
        for topic, _, _, _ in batch:
            (committed if commit else aborted)[topic] += 1

    for i in range(0, len(records), PER_TRANSACTION):
        chunk = records[i:i + PER_TRANSACTION]
        run([(t, k, v, None) for t, k, v in chunk], commit=True)
        if (i // PER_TRANSACTION) % 2 == 0:
            # Poisoned copies of a slice of the chunk, on the same partitions, then thrown away.
            run([(t, k, poisoned(v), None) for t, k, v in chunk[::5]], commit=False)
    # The end of every partition: aborted records and an abort marker.
    last = [(t, "aborted-tail", poisoned('{"deviceId": "tail"}'), q) for t in TOPICS
            for q in range(partitions)]
    run(last, commit=False)
    with open(summary_path, "w", encoding="utf-8") as f:
        json.dump({"committed": committed, "aborted": aborted, "transactions": txns}, f)


if __name__ == "__main__":
    try:
        main()
    except KafkaException as e:
        sys.exit(f"txn_producer: {e}")
