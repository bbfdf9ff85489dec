#!/usr/bin/env python3
"""The seeds' Python producer path, for the produce benchmark (bench/produce.sh).

Reads pre-generated events (topic<TAB>key<TAB>value lines, as `smartcity simulate --format tsv`
writes them) and produces them with confluent-kafka, the client the seeds use, in one of two ways:

  seed  as the seeds' jobs/producer.py does: produce() with a delivery callback, then flush() after
        every single message (one round trip to the broker per event), with the client's defaults.
  fair  the same client used well: produce() in a loop, poll(0) to serve delivery callbacks, waiting
        on a full local queue instead of failing, and one flush() at the end; the same producer
        settings as smartcity (idempotent, acks=all, murmur2_random, lz4, linger 20 ms).

Prints one JSON line: mode, events, payload_bytes, delivered, failed, seconds, cpu_seconds.
Generating the events is not timed (the seeds also build each event with Python's json and uuid,
which would make them slower still).
"""
import argparse
import json
import sys
import time

from confluent_kafka import Producer

FAIR_CONFIG = {
    "enable.idempotence": True,
    "acks": "all",
    "partitioner": "murmur2_random",
    "compression.codec": "lz4",
    "linger.ms": 20,
    "batch.num.messages": 100000,
    "batch.size": 1000000,
    "queue.buffering.max.messages": 500000,
    "queue.buffering.max.kbytes": 262144,
}


def load(path, limit):
    events = []
    with open(path, "rb") as f:
        for line in f:
            topic, key, value = line.rstrip(b"\n").split(b"\t", 2)
            events.append((topic.decode(), key, value))
            if limit and len(events) >= limit:
                break
    return events


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bootstrap-servers", required=True)
    ap.add_argument("--input", required=True, help="topic<TAB>key<TAB>value lines")
    ap.add_argument("--mode", choices=["seed", "fair"], required=True)
    ap.add_argument("--limit", type=int, default=0, help="produce only the first N events")
    args = ap.parse_args()

    events = load(args.input, args.limit)
    payload = sum(len(v) for _, _, v in events)
    counts = {"delivered": 0, "failed": 0}
    errors = []

    def on_delivery(err, msg):
        if err is None:
            counts["delivered"] += 1
        else:
            counts["failed"] += 1
            if len(errors) < 3:
                errors.append(str(err))

    config = {"bootstrap.servers": args.bootstrap_servers}
    if args.mode == "fair":
        config.update(FAIR_CONFIG)
    producer = Producer(config)

    cpu0, t0 = time.process_time(), time.perf_counter()
    if args.mode == "seed":
        for topic, key, value in events:
            producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
            producer.flush()
    else:
        for topic, key, value in events:
            while True:
                try:
                    producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
                    break
                except BufferError:
                    producer.poll(0.005)  # local queue full: wait for deliveries, never drop
            producer.poll(0)
        producer.flush()
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0

    print(json.dumps({"mode": args.mode, "events": len(events), "payload_bytes": payload,
                      "delivered": counts["delivered"], "failed": counts["failed"],
                      "seconds": seconds, "cpu_seconds": cpu, "errors": errors}))
    return 0 if counts["failed"] == 0 and counts["delivered"] == len(events) else 1


if __name__ == "__main__":
    sys.exit(main())
