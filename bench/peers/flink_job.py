#!/usr/bin/env python3
"""The Flink contender of the race (bench/race.sh): a PyFlink job running Flink SQL in a local
mini-cluster (parallelism 2, as Spark's local[2]) doing the same work as smartcity's `stream` and
bench/peers/spark_job.py, over our topics, schemas and join (SPEC section 3):

  * the five topics as Kafka tables, JSON format with declared schemas, each with a watermark of D on
    its event time; `location` split into latitude/longitude doubles; each written as Parquet to
    <out>/<topic> by the filesystem connector;
  * enriched_data: vehicle ⋈ weather ⟕ emergency on deviceId and event time, as interval joins
    (`BETWEEN v.timestamp - J AND v.timestamp + J`; J = 0: the same timestamp), Parquet to
    <out>/enriched_data;
  * exactly-once checkpoints every --checkpoint-interval (the others' commit interval) with the
    hashmap state backend, checkpoints on local disk under <out>/_checkpoints.

The outputs have the columns (names and types) of spark_job.py, so bench/race_check.py compares all
three. Every raw row keeps its Kafka partition, offset and CreateTime in `_partition`, `_offset`,
`_kafkaTimestamp` (Kafka metadata columns).

A file of the filesystem sink is visible when it is renamed from its hidden in-progress name
(`.part-…inprogress…`) to `part-…` as the checkpoint that covers it completes: the rename is the
commit (its ctime is when a reader can first see it).

--bounded: read up to the offsets each partition has at start (scan.bounded.mode latest-offset) and
stop when all of it is processed and committed (the drain; the end of input brings the final
watermark, so every left-join row still waiting is written too, as smartcity's --final does).
Without it the job runs until SIGTERM/SIGINT or --duration (the latency run).
Needs the jars of bench/flink_env.sh: --jars DIR. Prints a JSON line "started" once the job is
submitted and one "finished" line at the end.

Choices that favour Flink (each also marked "favours Flink" where it is made below):
  * the hashmap (heap) state backend, the fastest for state that fits in memory;
  * source reuse: vehicle, weather and emergency are each read once and feed both their raw table and
    the join (Spark reads them twice; smartcity once);
  * object reuse between chained operators;
  * its output is plain Parquet files made visible by a rename, with no table log: a lighter commit than
    smartcity's Delta commit (a log entry with per-file statistics) or Spark's sink log;
  * the drain ends when the bounded sources reach the offsets of the start: no idle wait (smartcity waits
    --stop-when-idle 2s before its final commit, which counts in its drain time).
Choices that favour smartcity:
  * the JVM's heap is capped at --heap (default 4g, Spark's driver memory), the rest of Flink's memory
    configuration is the local mini-cluster's default; peak RSS counts the whole tree (Python client +
    JVM), as for Spark;
  * PyFlink's start-up (Python, then the JVM gateway, then the mini-cluster, then planning) is in the
    start-up and drain figures: it is how a Python user runs Flink;
  * Flink's console log stays at INFO (its default): a few lines per checkpoint on standard output;
  * the Kafka SQL connector is 5.0.0-2.2 (the newest; none is built for 2.3 yet) on Flink 2.3.0.
"""
import argparse
import glob
import json
import os
import signal
import sys
import threading
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bootstrap-servers", required=True)
    p.add_argument("--out", required=True, help="output root (Parquet folders and _checkpoints)")
    p.add_argument("--jars", required=True, help="folder with the jars of bench/flink_env.sh")
    p.add_argument("--bounded", action="store_true", help="drain what the topics hold at start, then stop")
    p.add_argument("--checkpoint-interval", default="10s", help="exactly-once checkpoint (= commit) interval")
    p.add_argument("--idle-timeout", default="5s", help="a source partition idle this long stops holding "
                   "the watermark back (0 = never; as smartcity's --idle-timeout)")
    p.add_argument("--parallelism", type=int, default=2)
    p.add_argument("--heap", default="4g", help="the JVM's -Xmx")
    p.add_argument("--watermark-delay", type=float, default=120.0, help="D in seconds (SPEC default 2 min)")
    p.add_argument("--join-window", type=float, default=0.0, help="J in seconds (0 = exact timestamp)")
    p.add_argument("--duration", type=float, default=0, help="stop after this many seconds (unbounded runs)")
    p.add_argument("--group", default="race-flink", help="Kafka consumer group (offsets committed on checkpoints)")
    return p.parse_args()


def ms(seconds):
    # DAY TO SECOND with the default precisions (the only ones Flink's planner takes), to the millisecond.
    total = int(round(seconds * 1000))
    d, rest = divmod(total, 86_400_000)
    h, rest = divmod(rest, 3_600_000)
    m, rest = divmod(rest, 60_000)
    return f"INTERVAL '{d} {h:02d}:{m:02d}:{rest // 1000:02d}.{rest % 1000:03d}' DAY TO SECOND"


# SPEC section 2: the declared schemas of the five streams' JSON values, in Spark's types (spark_job.py).
# `timestamp` is ISO-8601 UTC with microseconds and a Z: TIMESTAMP_LTZ(6) parses it as it is.
FIELDS = {
    "vehicle_data": [("id", "STRING"), ("deviceId", "STRING"), ("timestamp", "TIMESTAMP_LTZ(6)"),
                     ("location", "STRING"), ("speed", "DOUBLE"), ("direction", "STRING"), ("make", "STRING"),
                     ("model", "STRING"), ("year", "INT"), ("fuelType", "STRING")],
    "gps_data": [("id", "STRING"), ("deviceId", "STRING"), ("timestamp", "TIMESTAMP_LTZ(6)"), ("speed", "DOUBLE"),
                 ("direction", "STRING"), ("vehicleType", "STRING")],
    "traffic_data": [("id", "STRING"), ("deviceId", "STRING"), ("cameraId", "STRING"), ("location", "STRING"),
                     ("timestamp", "TIMESTAMP_LTZ(6)"), ("snapshot", "STRING")],
    "weather_data": [("id", "STRING"), ("deviceId", "STRING"), ("location", "STRING"),
                     ("timestamp", "TIMESTAMP_LTZ(6)"), ("temperature", "DOUBLE"), ("weatherCondition", "STRING"),
                     ("precipitation", "DOUBLE"), ("windSpeed", "DOUBLE"), ("humidity", "INT"),
                     ("airQualityIndex", "INT")],
    "emergency_data": [("id", "STRING"), ("deviceId", "STRING"), ("incidentId", "STRING"), ("type", "STRING"),
                       ("timestamp", "TIMESTAMP_LTZ(6)"), ("location", "STRING"), ("status", "STRING"),
                       ("description", "STRING")],
}

ENRICHED = [("deviceId", "STRING"), ("timestamp", "TIMESTAMP(6)"), ("latitude", "DOUBLE"), ("longitude", "DOUBLE"),
            ("speed", "DOUBLE"), ("direction", "STRING"), ("temperature", "DOUBLE"), ("weatherCondition", "STRING"),
            ("precipitation", "DOUBLE"), ("windSpeed", "DOUBLE"), ("humidity", "INT"), ("airQualityIndex", "INT"),
            ("emergencyType", "STRING"), ("emergencyStatus", "STRING"), ("incidentId", "STRING"),
            ("_vehiclePartition", "INT"), ("_vehicleOffset", "BIGINT"), ("_weatherPartition", "INT"),
            ("_weatherOffset", "BIGINT"), ("_emergencyPartition", "INT"), ("_emergencyOffset", "BIGINT"),
            ("_vehicleKafkaTimestamp", "TIMESTAMP(3)")]


def q(name):
    return f"`{name}`"


def source_ddl(args, topic):
    cols = [f"{q(n)} {t}" for n, t in FIELDS[topic]]
    # Kafka metadata of each record: where it came from and its CreateTime (read-only, so VIRTUAL).
    cols += ["`_partition` INT METADATA FROM 'partition' VIRTUAL",
             "`_offset` BIGINT METADATA FROM 'offset' VIRTUAL",
             "`_kafkaTimestamp` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL",
             # The event-time attribute: a watermark needs millisecond precision; the joins also compare
             # the microsecond `timestamp` so that they match what the others match.
             "`rt` AS CAST(`timestamp` AS TIMESTAMP_LTZ(3))",
             f"WATERMARK FOR `rt` AS `rt` - {ms(args.watermark_delay)}"]
    opts = {
        "connector": "kafka",
        "topic": topic,
        "properties.bootstrap.servers": args.bootstrap_servers,
        "properties.group.id": args.group,
        "scan.startup.mode": "earliest-offset",
        "format": "json",
        "json.timestamp-format.standard": "ISO-8601",
        # As Spark's from_json: a missing field is NULL, a malformed record does not stop the job.
        "json.fail-on-missing-field": "false",
        "json.ignore-parse-errors": "true",
    }
    if args.bounded:
        # favours Flink: the drain stops at the offsets of the start, with no idle wait.
        opts["scan.bounded.mode"] = "latest-offset"
    return f"CREATE TABLE src_{topic} (\n  " + ",\n  ".join(cols) + "\n) WITH (" + with_opts(opts) + ")"


def with_opts(opts):
    return ", ".join(f"'{k}' = '{v}'" for k, v in opts.items())


def sink_ddl(args, name, cols):
    # favours Flink: plain Parquet files, committed by renaming them into view; no table log.
    opts = {
        "connector": "filesystem",
        "path": "file://" + os.path.abspath(os.path.join(args.out, name)),
        "format": "parquet",
        # Timestamps as UTC instants, as Spark and smartcity write them.
        "parquet.utc-timezone": "true",
    }
    return (f"CREATE TABLE out_{name} (" + ", ".join(f"{q(n)} {t}" for n, t in cols) + ") WITH (" +
            with_opts(opts) + ")")


def raw_columns(topic):
    """The raw table's columns: the declared fields, `location` replaced by latitude/longitude, then the
    Kafka metadata; timestamps as plain (UTC) timestamps like Spark's."""
    cols = []
    for n, t in FIELDS[topic]:
        if n == "location":
            continue
        cols.append((n, "TIMESTAMP(6)" if t.startswith("TIMESTAMP_LTZ") else t))
    if any(n == "location" for n, _ in FIELDS[topic]):
        cols += [("latitude", "DOUBLE"), ("longitude", "DOUBLE")]
    return cols + [("_partition", "INT"), ("_offset", "BIGINT"), ("_kafkaTimestamp", "TIMESTAMP(3)")]


def clean_view(topic):
    """The seed's cleaning of `location`: "(lat, lon)" -> latitude, longitude doubles (as spark_job.py)."""
    sel = []
    for n, t in FIELDS[topic]:
        if n != "location":
            sel.append(q(n))
    if any(n == "location" for n, _ in FIELDS[topic]):
        bare = "REGEXP_REPLACE(`location`, '[()\\[\\] ]', '')"
        sel += [f"CAST(SPLIT_INDEX({bare}, ',', 0) AS DOUBLE) AS `latitude`",
                f"CAST(SPLIT_INDEX({bare}, ',', 1) AS DOUBLE) AS `longitude`"]
    sel += ["`_partition`", "`_offset`", "`_kafkaTimestamp`", "`rt`"]
    return f"CREATE TEMPORARY VIEW clean_{topic} AS SELECT {', '.join(sel)} FROM src_{topic}"


def raw_insert(topic):
    sel = []
    for n, _ in raw_columns(topic):
        if n in ("timestamp", "_kafkaTimestamp"):
            prec = 6 if n == "timestamp" else 3
            sel.append(f"CAST({q(n)} AS TIMESTAMP({prec}))")
        else:
            sel.append(q(n))
    return f"INSERT INTO out_{topic} SELECT {', '.join(sel)} FROM clean_{topic}"


def enriched_insert(args):
    def window(other):
        # The interval join's time bound on the event-time attributes (what lets Flink drop old state),
        # and the same bound on the microsecond timestamps (what decides a match, as for the others).
        if args.join_window == 0:
            return (f"{other}.rt = v.rt AND {other}.`timestamp` = v.`timestamp`")
        j = ms(args.join_window)
        return (f"{other}.rt BETWEEN v.rt - {j} AND v.rt + {j} AND "
                f"{other}.`timestamp` BETWEEN v.`timestamp` - {j} AND v.`timestamp` + {j}")
    return f"""
INSERT INTO out_enriched_data
SELECT v.deviceId, CAST(v.`timestamp` AS TIMESTAMP(6)), v.latitude, v.longitude, v.speed, v.direction,
       w.temperature, w.weatherCondition, w.precipitation, w.windSpeed, w.humidity, w.airQualityIndex,
       e.`type`, e.status, e.incidentId,
       v._partition, v._offset, w._partition, w._offset, e._partition, e._offset,
       CAST(v._kafkaTimestamp AS TIMESTAMP(3))
FROM clean_vehicle_data AS v
JOIN clean_weather_data AS w ON w.deviceId = v.deviceId AND {window('w')}
LEFT JOIN clean_emergency_data AS e ON e.deviceId = v.deviceId AND {window('e')}
"""


def main():
    args = parse_args()
    jars = sorted(glob.glob(os.path.join(os.path.abspath(args.jars), "*.jar")))
    if not jars:
        sys.exit(f"flink_job: no jars in {args.jars}; run bench/flink_env.sh")
    # The Hadoop client classes go on the JVM's class path (HADOOP_CLASSPATH, as Flink expects them), the
    # connector and the format are the job's jars (pipeline.jars). The JVM: Spark's heap, UTC.
    os.environ["HADOOP_CLASSPATH"] = ":".join(j for j in jars if "hadoop-client" in j)
    os.environ["JVM_ARGS"] = f"-Xmx{args.heap} -Duser.timezone=UTC"
    t0 = time.time()
    from pyflink.common import Configuration
    from pyflink.table import EnvironmentSettings, TableEnvironment

    conf = Configuration()
    settings = {
        "pipeline.name": "smartcity-race",
        "parallelism.default": str(args.parallelism),
        # Exactly-once checkpoints at the others' commit interval; a sink file is committed by the
        # checkpoint that covers it.
        "execution.checkpointing.interval": args.checkpoint_interval,
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "execution.checkpointing.dir": "file://" + os.path.abspath(os.path.join(args.out, "_checkpoints")),
        # favours Flink: the heap state backend is the fastest for state that fits in memory (the join's
        # state is D of three streams: a few MB here); RocksDB would serialise every access.
        "state.backend.type": "hashmap",
        "table.local-time-zone": "UTC",
        # favours Flink: the three join inputs are read once and fed to both their raw sink and the
        # join (source reuse is on by default; Spark reads those topics twice).
        "table.optimizer.reuse-source-enabled": "true",
        # favours Flink: no defensive copy of each record between chained operators (safe here: no
        # operator keeps a reference to its input).
        "pipeline.object-reuse": "true",
    }
    if args.idle_timeout not in ("0", "0s", ""):
        settings["table.exec.source.idle-timeout"] = args.idle_timeout
    for k, v in settings.items():
        conf.set_string(k, v)
    env = EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(conf).build()
    t_env = TableEnvironment.create(env)
    # The job's jars: set on the table config, where PyFlink also loads them into the client.
    t_env.get_config().set("pipeline.jars", ";".join("file://" + j for j in jars if "hadoop-client" not in j))

    for topic in FIELDS:
        t_env.execute_sql(source_ddl(args, topic))
        t_env.execute_sql(clean_view(topic))
        t_env.execute_sql(sink_ddl(args, topic, raw_columns(topic)))
    t_env.execute_sql(sink_ddl(args, "enriched_data", ENRICHED))

    # One job for all six outputs (a statement set): one mini-cluster, one checkpoint for all.
    stmts = t_env.create_statement_set()
    for topic in FIELDS:
        stmts.add_insert_sql(raw_insert(topic))
    stmts.add_insert_sql(enriched_insert(args))
    result = stmts.execute()
    client = result.get_job_client()
    print(json.dumps({"event": "started", "seconds": round(time.time() - t0, 3),
                      "job": str(client.get_job_id())}), flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    deadline = t0 + args.duration if args.duration > 0 else None
    status = "FINISHED"
    while True:
        try:
            state = str(client.get_job_status().result())
        except Exception:  # the local mini-cluster shuts down with its (only) job: it has ended
            break
        if state.endswith(("FINISHED", "FAILED", "CANCELED")):
            break
        if stop.is_set() or (deadline is not None and time.time() >= deadline):
            # What the last completed checkpoint committed stays; the rest is not visible (as Spark).
            client.cancel().result()
            status = "CANCELED (stopped)"
            break
        time.sleep(0.2)
    failed = False
    if status == "FINISHED":
        try:
            result.wait()
        except Exception as e:  # the job's failure, for the log
            print(f"flink_job: the job failed: {e}", file=sys.stderr)
            status, failed = "FAILED", True
    print(json.dumps({"event": "finished", "seconds": round(time.time() - t0, 3), "status": status}), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
