"""Copies the five topics of a real Kafka cluster, partition by partition (same partition, same key,
same value, same order), into topics named PREFIX + name, in two halves, with poisoned records (a
SPEC-valid copy of a neighbour dated far in the future or far in the past) inserted after the first
half of chosen partitions. Used by tests/e2e/stream_poison.sh.

  kafka_copy.py BOOTSTRAP PREFIX STATE.json first   copies the first half of every partition, then
                                                    the poison; writes STATE.json
  kafka_copy.py BOOTSTRAP PREFIX STATE.json second  copies the rest

STATE.json: {"source": {topic: {partition: count}}, "poison": [{"topic", "partition", "offset",
"timestamp"}]}: the poisoned records' positions in the copies.
"""
import json
import sys
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition

TOPICS = ["vehicle_data", "gps_data", "traffic_data", "weather_data", "emergency_data"]
# (topic, partition, event time): one far in the future, one far in the past, one on a sparse input.
POISON = [("vehicle_data", 0, "2100-01-01T00:00:00.000000Z"),
          ("weather_data", 1, "1970-01-02T00:00:00.000000Z"),
          ("emergency_data", 2, "2100-06-01T12:00:00.000000Z")]


def read_all(bootstrap):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "kafka-copy-" + uuid.uuid4().hex,
                  "enable.auto.commit": False})
    out = {}
    for topic in TOPICS:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        for p in sorted(parts):
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            records = []
            if hi > lo:
                c.assign([TopicPartition(topic, p, lo)])
                while len(records) < hi - lo:
                    m = c.poll(5)
                    if m is None:
                        sys.exit(f"{topic}[{p}]: timed out after {len(records)} of {hi - lo}")
                    if m.error():
                        sys.exit(f"{topic}[{p}]: {m.error()}")
                    records.append((m.key(), m.value()))
            out[(topic, p)] = records
    c.close()
    return out


def poisoned(value, timestamp):
    e = json.loads(value)
    e["id"] = str(uuid.uuid4())
    e["timestamp"] = timestamp
    return json.dumps(e, separators=(",", ":")).encode()


def main():
    bootstrap, prefix, state_path, phase = sys.argv[1:5]
    records = read_all(bootstrap)
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "linger.ms": 20})
    state = {"source": {}, "poison": []}
    for (topic, p), recs in sorted(records.items()):
        state["source"].setdefault(topic, {})[str(p)] = len(recs)
        half = len(recs) // 2
        part = recs[:half] if phase == "first" else recs[half:]
        for key, value in part:
            producer.produce(prefix + topic, value=value, key=key, partition=p)
        if phase == "first":
            for ptopic, pp, ts in POISON:
                if (ptopic, pp) == (topic, p):
                    if half == 0:
                        sys.exit(f"{topic}[{p}] is empty: nothing to poison")
                    key, value = recs[half - 1]
                    producer.produce(prefix + topic, value=poisoned(value, ts), key=key, partition=p)
                    state["poison"].append({"topic": prefix + topic, "partition": p,
                                            "offset": half, "timestamp": ts})
        producer.poll(0)
    if producer.flush(30) != 0:
        sys.exit("producer: messages not delivered")
    if phase == "first":
        with open(state_path, "w") as f:
            json.dump(state, f)


if __name__ == "__main__":
    main()
