#!/usr/bin/env python3
"""The seeds' stream processor, for the race against Spark (bench/race.sh): a PySpark Structured
Streaming job doing what seed 000's spark-city.py does, over our topics, schemas and join (SPEC
section 3):

  * the five raw streams (vehicle_data, gps_data, traffic_data, weather_data, emergency_data) read
    from Kafka, parsed with from_json using declared schemas (not inferred), `location` split into
    latitude/longitude, each written as Parquet to <out>/<topic>, one streaming query each;
  * enriched_data: vehicle ⋈ weather ⟕ emergency on deviceId and event time (exact timestamp when the
    join window J is 0, as in the seed; `BETWEEN v.timestamp - J AND v.timestamp + J` otherwise),
    every input watermarked by D, written as Parquet to <out>/enriched_data;
  * checkpoints on local disk under <out>/_checkpoints/<query>, local mode (local[2] by default).

Every raw row keeps its Kafka partition, offset and timestamp (CreateTime) in `_partition`,
`_offset`, `_kafkaTimestamp`, so the race's probe measures produce -> visible latency the same way
for Spark as for smartcity, and the output can be checked row for row against smartcity's lake.

Run with --trigger available-now to drain what the topics hold and stop (the throughput race), or
with --trigger 0 / 500ms / 2s ... to run continuously until --duration passes or SIGTERM/SIGINT.
Needs the spark-sql-kafka jars (bench/spark_env.sh fetches them): --jars DIR.
Prints one JSON line at the end: queries, batches, input rows per query, seconds.
"""
import argparse
import glob
import json
import os
import signal
import sys
import threading
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (DoubleType, IntegerType, StringType, StructField, StructType,
                               TimestampType)

TS_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSSSSX"


def s(name, t=StringType()):
    return StructField(name, t, True)


# SPEC section 2: the declared schemas of the five streams' JSON values.
SCHEMAS = {
    "vehicle_data": StructType([s("id"), s("deviceId"), s("timestamp", TimestampType()), s("location"),
                                s("speed", DoubleType()), s("direction"), s("make"), s("model"),
                                s("year", IntegerType()), s("fuelType")]),
    "gps_data": StructType([s("id"), s("deviceId"), s("timestamp", TimestampType()),
                            s("speed", DoubleType()), s("direction"), s("vehicleType")]),
    "traffic_data": StructType([s("id"), s("deviceId"), s("cameraId"), s("location"),
                                s("timestamp", TimestampType()), s("snapshot")]),
    "weather_data": StructType([s("id"), s("deviceId"), s("location"), s("timestamp", TimestampType()),
                                s("temperature", DoubleType()), s("weatherCondition"),
                                s("precipitation", DoubleType()), s("windSpeed", DoubleType()),
                                s("humidity", IntegerType()), s("airQualityIndex", IntegerType())]),
    "emergency_data": StructType([s("id"), s("deviceId"), s("incidentId"), s("type"),
                                  s("timestamp", TimestampType()), s("location"), s("status"),
                                  s("description")]),
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bootstrap-servers", required=True)
    p.add_argument("--out", required=True, help="output root (Parquet folders and _checkpoints)")
    p.add_argument("--jars", required=True, help="folder with the spark-sql-kafka jars")
    p.add_argument("--trigger", default="available-now",
                   help="available-now, or a processing-time interval such as 0, 500ms, 2s (default: available-now)")
    p.add_argument("--duration", type=float, default=0, help="stop after this many seconds (continuous triggers)")
    p.add_argument("--master", default="local[2]")
    p.add_argument("--driver-memory", default="4g")
    p.add_argument("--shuffle-partitions", type=int, default=2)
    p.add_argument("--max-offsets", type=int, default=0,
                   help="maxOffsetsPerTrigger of each query (0 = no limit)")
    p.add_argument("--watermark-delay", type=float, default=120.0, help="D in seconds (SPEC default 2 min)")
    p.add_argument("--join-window", type=float, default=0.0, help="J in seconds (0 = exact timestamp)")
    p.add_argument("--starting-offsets", default="earliest")
    p.add_argument("--no-raw", action="store_true", help="run only the enriched query")
    p.add_argument("--no-enriched", action="store_true", help="run only the raw queries")
    return p.parse_args()


def with_lat_lon(df):
    """The seed's cleaning of `location`: "(lat, lon)" -> latitude, longitude doubles."""
    parts = F.split(F.regexp_replace(F.col("location"), r"[()\[\] ]", ""), ",")
    return (df.withColumn("latitude", parts.getItem(0).cast(DoubleType()))
              .withColumn("longitude", parts.getItem(1).cast(DoubleType()))
              .drop("location"))


def read_topic(spark, args, topic):
    reader = (spark.readStream.format("kafka")
              .option("kafka.bootstrap.servers", args.bootstrap_servers)
              .option("subscribe", topic)
              .option("startingOffsets", args.starting_offsets)
              .option("failOnDataLoss", "false"))
    if args.max_offsets > 0:
        reader = reader.option("maxOffsetsPerTrigger", str(args.max_offsets))
    raw = reader.load()
    parsed = raw.select(
        F.from_json(F.col("value").cast("string"), SCHEMAS[topic], {"timestampFormat": TS_FORMAT}).alias("d"),
        F.col("partition").alias("_partition"), F.col("offset").alias("_offset"),
        F.col("timestamp").alias("_kafkaTimestamp"))
    df = parsed.select("d.*", "_partition", "_offset", "_kafkaTimestamp")
    if "location" in SCHEMAS[topic].fieldNames():
        df = with_lat_lon(df)
    return df


def enriched(spark, args):
    d = f"{int(args.watermark_delay * 1000)} milliseconds"
    v = read_topic(spark, args, "vehicle_data").withWatermark("timestamp", d).select(
        F.col("deviceId").alias("v_deviceId"), F.col("timestamp").alias("v_timestamp"),
        F.col("latitude"), F.col("longitude"), F.col("speed"), F.col("direction"),
        F.col("_partition").alias("_vehiclePartition"), F.col("_offset").alias("_vehicleOffset"),
        F.col("_kafkaTimestamp").alias("_vehicleKafkaTimestamp"))
    w = read_topic(spark, args, "weather_data").withWatermark("timestamp", d).select(
        F.col("deviceId").alias("w_deviceId"), F.col("timestamp").alias("w_timestamp"),
        "temperature", "weatherCondition", "precipitation", "windSpeed", "humidity", "airQualityIndex",
        F.col("_partition").alias("_weatherPartition"), F.col("_offset").alias("_weatherOffset"))
    e = read_topic(spark, args, "emergency_data").withWatermark("timestamp", d).select(
        F.col("deviceId").alias("e_deviceId"), F.col("timestamp").alias("e_timestamp"),
        F.col("type").alias("emergencyType"), F.col("status").alias("emergencyStatus"), "incidentId",
        F.col("_partition").alias("_emergencyPartition"), F.col("_offset").alias("_emergencyOffset"))
    if args.join_window == 0:
        # The seed's join on exact timestamps: event time is part of the equi-join key, which also
        # lets Spark evict state by key once the watermark passes.
        vw = v.join(w, (F.col("v_deviceId") == F.col("w_deviceId")) &
                    (F.col("v_timestamp") == F.col("w_timestamp")), "inner")
        j = vw.join(e, (F.col("v_deviceId") == F.col("e_deviceId")) &
                    (F.col("v_timestamp") == F.col("e_timestamp")), "leftOuter")
    else:
        jw = f"interval {int(args.join_window * 1000)} milliseconds"
        vw = v.join(w, F.expr(f"v_deviceId = w_deviceId AND w_timestamp BETWEEN v_timestamp - {jw} "
                              f"AND v_timestamp + {jw}"), "inner")
        j = vw.join(e, F.expr(f"v_deviceId = e_deviceId AND e_timestamp BETWEEN v_timestamp - {jw} "
                              f"AND v_timestamp + {jw}"), "leftOuter")
    return j.select(
        F.col("v_deviceId").alias("deviceId"), F.col("v_timestamp").alias("timestamp"), "latitude",
        "longitude", "speed", "direction", "temperature", "weatherCondition", "precipitation", "windSpeed",
        "humidity", "airQualityIndex", "emergencyType", "emergencyStatus", "incidentId",
        "_vehiclePartition", "_vehicleOffset", "_weatherPartition", "_weatherOffset",
        "_emergencyPartition", "_emergencyOffset", "_vehicleKafkaTimestamp")


def main():
    args = parse_args()
    jars = sorted(glob.glob(os.path.join(args.jars, "*.jar")))
    if not jars:
        sys.exit(f"spark_job: no jars in {args.jars}; run bench/spark_env.sh")
    t0 = time.time()
    spark = (SparkSession.builder.appName("SmartCityStreaming").master(args.master)
             .config("spark.jars", ",".join(jars))
             .config("spark.driver.memory", args.driver_memory)
             .config("spark.sql.shuffle.partitions", str(args.shuffle_partitions))
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.streaming.numRecentProgressUpdates", "100000")
             .config("spark.sql.streaming.noDataMicroBatches.enabled", "true")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
             .getOrCreate())
    spark.sparkContext.setLogLevel("WARN")

    def start(df, name):
        w = (df.writeStream.format("parquet").outputMode("append").queryName(name)
             .option("path", os.path.join(args.out, name))
             .option("checkpointLocation", os.path.join(args.out, "_checkpoints", name)))
        if args.trigger == "available-now":
            w = w.trigger(availableNow=True)
        else:
            interval = args.trigger if args.trigger != "0" else "0 seconds"
            w = w.trigger(processingTime=interval)
        return w.start()

    queries = []
    if not args.no_raw:
        for topic in SCHEMAS:
            queries.append(start(read_topic(spark, args, topic), topic))
    if not args.no_enriched:
        queries.append(start(enriched(spark, args), "enriched_data"))
    print(json.dumps({"event": "started", "seconds": round(time.time() - t0, 3)}), flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    deadline = t0 + args.duration if args.duration > 0 else None
    while any(q.isActive for q in queries):
        if stop.is_set() or (deadline is not None and time.time() >= deadline):
            for q in queries:
                q.stop()
            break
        time.sleep(0.2)
    failed = [q.name for q in queries if q.exception() is not None]
    summary = {"event": "finished", "seconds": round(time.time() - t0, 3), "trigger": args.trigger,
               "queries": {}}
    for q in queries:
        batches = [p for p in q.recentProgress]
        summary["queries"][q.name] = {
            "batches": len(batches),
            "input_rows": sum(int(p.get("numInputRows", 0)) for p in batches),
        }
    for name in failed:
        q = next(q for q in queries if q.name == name)
        print(f"spark_job: query {name} failed: {q.exception()}", file=sys.stderr)
    print(json.dumps(summary), flush=True)
    spark.stop()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
