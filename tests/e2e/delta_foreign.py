"""Spark (pyspark + delta-spark, a real foreign writer) upgrades smartcity's tables; smartcity then writes
and reads them again; every engine must read exactly the right rows, or smartcity must refuse at once
and leave the table untouched. Driven by tests/e2e/delta_foreign.sh, in Spark's venv (scripts/spark.sh),
with ONE Spark session (JVM) for the whole test.

  lake A (smartcity must work):
    vehicle_data  a writer feature (delta.feature.allowColumnDefaults: protocol 1/7 with writerFeatures)
    gps_data      deletion vectors, then a DELETE of every row whose _offset % 4 = 0 (3/7, DV files)
    -> smartcity run (more epochs: stream commits, checkpoints, maintenance), compact, crawl, sql; then
       Spark, deltalake and DuckDB's delta_scan read exactly the reference rows minus the deleted ones;
       the protocol keeps its feature lists; crawl counts the live rows; sql refuses gps_data (its
       Parquet readers cannot apply deletion vectors) and counts vehicle_data right.
  lake B (smartcity must refuse):
    traffic_data  a CHECK constraint that the next rows violate (writer version 3)
    weather_data  column mapping by name (2/5)
    -> smartcity run, compact (per table), sql fail with one sentence naming the table and the feature,
       and neither table changes (same _delta_log and data files, byte for byte).
  Checkpoint conformance: each checkpoint smartcity wrote into lake A, alone in a copy of its table's log,
  gives delta-rs the table at that version (rows and protocol); the newest of each table also Spark.

Prints "ok N - ..." / "not ok N - ..." per check; exits 1 if any failed.
"""
import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time

checks = failures = 0
t0 = time.time()


def report(good, what):
    global checks, failures
    checks += 1
    if not good:
        failures += 1
    print(f"{'ok' if good else 'not ok'} {checks} - {what}  [{time.time() - t0:.0f}s]", flush=True)
    return good


def table_state(path):
    """Every file under a table: relative path -> sha256 of its bytes."""
    out = {}
    for root, _, files in os.walk(path):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, path)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def log_versions(path, suffix):
    return sorted(int(os.path.basename(p)[:20]) for p in glob.glob(os.path.join(path, "_delta_log", "*" + suffix))
                  if re.fullmatch(r"\d{20}" + re.escape(suffix), os.path.basename(p)))


def smartcity(args, *argv):
    r = subprocess.run([args.smartcity, *argv], capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout, r.stderr


def spark_session(jars):
    from pyspark.sql import SparkSession
    return (SparkSession.builder.master("local[1]").appName("smartcity-delta-foreign")
            .config("spark.jars", ",".join(sorted(glob.glob(os.path.join(jars, "*.jar")))))
            .config("spark.driver.memory", "512m")
            .config("spark.driver.extraJavaOptions", "-XX:+UseSerialGC -XX:TieredStopAtLevel=1")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "1")
            .config("spark.default.parallelism", "1")
            .config("spark.databricks.delta.snapshotPartitions", "1")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
            .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
            .getOrCreate())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smartcity", required=True)
    ap.add_argument("--jars", required=True)
    ap.add_argument("--readers-py", required=True, help="the test venv's python (deltalake, duckdb)")
    ap.add_argument("--lake-a", required=True)
    ap.add_argument("--lake-b", required=True)
    ap.add_argument("--ref", required=True, help="a lake of the same input, never touched by Spark")
    ap.add_argument("--work", required=True)
    ap.add_argument("--run", required=True, help="JSON list: the arguments of the second `smartcity run`")
    args = ap.parse_args()
    run2 = json.loads(args.run)
    here = os.path.dirname(os.path.abspath(__file__))

    def readers(*paths):
        r = subprocess.run([args.readers_py, os.path.join(here, "delta_foreign_read.py"), *paths],
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            sys.exit(f"delta_foreign_read.py failed: {r.stderr.strip()[-2000:]}")
        return json.loads(r.stdout)

    spark = spark_session(args.jars)
    spark.sparkContext.setLogLevel("ERROR")
    print(f"# spark session up after {time.time() - t0:.0f}s", flush=True)

    def sql(q):
        return spark.sql(q).collect()

    def spark_keys(path):
        rows = spark.read.format("delta").load(path).select("_partition", "_offset").collect()
        return sorted([r[0], r[1]] for r in rows)

    def delta(lake, table):
        return f"delta.`{os.path.join(lake, table)}`"

    A, B = args.lake_a, args.lake_b
    veh, gps = os.path.join(A, "vehicle_data"), os.path.join(A, "gps_data")
    traffic, weather = os.path.join(B, "traffic_data"), os.path.join(B, "weather_data")

    # ---- Spark upgrades the tables -----------------------------------------------------------------
    sql(f"ALTER TABLE {delta(A, 'vehicle_data')} SET TBLPROPERTIES ('delta.feature.allowColumnDefaults' = "
        f"'supported')")
    sql(f"ALTER TABLE {delta(A, 'gps_data')} SET TBLPROPERTIES ('delta.enableDeletionVectors' = 'true')")
    deleted = {(r[0], r[1]) for r in sql(f"SELECT _partition, _offset FROM {delta(A, 'gps_data')} "
                                         f"WHERE _offset % 4 = 0")}
    sql(f"DELETE FROM {delta(A, 'gps_data')} WHERE _offset % 4 = 0")
    newest = max(log_versions(gps, ".json"))
    with open(os.path.join(gps, "_delta_log", f"{newest:020d}.json")) as f:
        report('"deletionVector"' in f.read() and deleted, f"Spark deleted {len(deleted)} gps_data rows "
                                                           f"through deletion vectors")
    max_ts = sql(f"SELECT max(`timestamp`) FROM {delta(B, 'traffic_data')}")[0][0]
    sql(f"ALTER TABLE {delta(B, 'traffic_data')} ADD CONSTRAINT up_to_now CHECK (`timestamp` <= "
        f"TIMESTAMP '{max_ts.isoformat(sep=' ')}')")
    sql(f"ALTER TABLE {delta(B, 'weather_data')} SET TBLPROPERTIES ('delta.columnMapping.mode' = 'name', "
        f"'delta.minReaderVersion' = '2', 'delta.minWriterVersion' = '5')")
    protocols = {t: sql(f"DESCRIBE DETAIL {delta(A, t)}")[0] for t in ("vehicle_data", "gps_data")}
    upgraded_version = {t: max(log_versions(os.path.join(A, t), ".json")) for t in ("vehicle_data", "gps_data")}
    print(f"# upgrades done after {time.time() - t0:.0f}s", flush=True)

    # ---- lake B: smartcity refuses, and leaves the tables as they are ------------------------------
    before = {p: table_state(p) for p in (traffic, weather)}

    def unchanged(what):
        for p in (traffic, weather):
            report(table_state(p) == before[p], f"{what}: {os.path.basename(p)} is untouched")

    started = time.time()
    rc, out, err = smartcity(args, "run", *run2, "--lake", B)
    report(rc != 0 and re.search(r"CHECK constraint up_to_now|column mapping", err) is not None
           and time.time() - started < 60,
           f"run refuses lake B at once: {err.strip().splitlines()[-1] if err.strip() else '(no message)'}")
    unchanged("run")
    for table, pattern in (("traffic_data", r"table traffic_data has the CHECK constraint up_to_now \(.*\), "
                                            r"which smartcity does not enforce; drop it"),
                           ("weather_data", r"table weather_data uses column mapping \(delta.columnMapping.mode = "
                                            r"name.*which smartcity cannot write to")):
        rc, out, err = smartcity(args, "compact", "--lake", B, "--table", table, "--vacuum")
        report(rc != 0 and re.search(pattern, err) is not None, f"compact refuses {table}: {err.strip()}")
    unchanged("compact --vacuum")
    rc, out, err = smartcity(args, "crawl", "--lake", B)
    report(re.search(r"weather_data: .*column mapping", out) is not None,
           "crawl reports weather_data's column mapping as a problem")
    rc, out, err = smartcity(args, "sql", "--lake", B, "SELECT count(*) FROM weather_data")
    report(rc != 0 and "column mapping" in err, f"sql refuses weather_data: {err.strip().splitlines()[0]}")
    unchanged("crawl and sql")

    # ---- lake A: smartcity writes on ---------------------------------------------------------------
    cps_before = {t: set(log_versions(os.path.join(A, t), ".checkpoint.parquet")) for t in ("vehicle_data", "gps_data")}
    rc, out, err = smartcity(args, "run", *run2, "--lake", A)
    report(rc == 0, f"run writes on into lake A (exit {rc}{': ' + err.strip()[-500:] if rc else ''})")
    for t in ("vehicle_data", "gps_data"):
        v = max(log_versions(os.path.join(A, t), ".json"))
        report(v > upgraded_version[t], f"{t}: smartcity committed versions {upgraded_version[t] + 1}..{v}")
    rc, out, err = smartcity(args, "compact", "--lake", A, "--min-files", "2")
    report(rc == 0, f"compact lake A (exit {rc}): {(out + err).strip()}")

    # The reference: the same input without Spark, less what Spark deleted.
    ref = readers(os.path.join(args.ref, "vehicle_data"), os.path.join(args.ref, "gps_data"))
    expected = {"vehicle_data": ref[os.path.join(args.ref, "vehicle_data")]["deltalake"],
                "gps_data": [k for k in ref[os.path.join(args.ref, "gps_data")]["deltalake"]
                             if (k[0], k[1]) not in deleted]}
    got = readers(veh, gps)
    for t, path in (("vehicle_data", veh), ("gps_data", gps)):
        want = expected[t]
        report(spark_keys(path) == want, f"{t}: Spark reads exactly the {len(want)} expected rows")
        for reader in ("deltalake", "duckdb"):
            have = got[path][reader]
            if reader == "deltalake" and t == "gps_data" and isinstance(have, dict):
                # delta-rs (the pinned deltalake package) does not read deletion vectors yet: it refuses
                # the table as a whole, which is right (it would otherwise return deleted rows).
                report("deletionVectors" in have["error"], f"{t}: deltalake refuses the table: {have['error']}")
                continue
            detail = have["error"] if isinstance(have, dict) else f"{len(have)} rows"
            report(have == want, f"{t}: {reader} reads exactly the {len(want)} expected rows ({detail})")
        now = sql(f"DESCRIBE DETAIL delta.`{path}`")[0]
        report(now["minReaderVersion"] == protocols[t]["minReaderVersion"]
               and now["minWriterVersion"] == protocols[t]["minWriterVersion"]
               and sorted(now["tableFeatures"]) == sorted(protocols[t]["tableFeatures"]),
               f"{t}: the protocol is still {now['minReaderVersion']}/{now['minWriterVersion']} "
               f"{sorted(now['tableFeatures'])}")
    rc, out, err = smartcity(args, "crawl", "--lake", A)
    catalog = json.load(open(os.path.join(A, "_catalog", "catalog.json"))) if os.path.exists(
        os.path.join(A, "_catalog", "catalog.json")) else None
    rows = None
    if catalog is not None:
        for t in catalog.get("tables", []):
            if t.get("name") == "gps_data":
                rows = sum(p.get("rows", 0) for p in t.get("partitions", []))
    report(rc == 0 and rows == len(expected["gps_data"]),
           f"crawl counts gps_data's live rows: {rows} (expected {len(expected['gps_data'])})")
    rc, out, err = smartcity(args, "sql", "--lake", A, "--format", "csv",
                             "SELECT count(*) FROM vehicle_data")
    report(rc == 0 and out.strip().splitlines()[-1] == str(len(expected["vehicle_data"])),
           f"sql counts vehicle_data: {out.strip()[-40:]}")
    rc, out, err = smartcity(args, "sql", "--lake", A, "SELECT count(*) FROM gps_data")
    report(rc != 0 and "deletion vectors" in err,
           f"sql refuses gps_data, whose deletion vectors it cannot apply: {err.strip().splitlines()[0]}")

    # ---- checkpoint conformance --------------------------------------------------------------------
    # Per checkpoint v that smartcity wrote: a copy of the table whose log is that checkpoint and commit v
    # alone (what log clean-up leaves), against a copy whose log is commits 0..v and no checkpoint (the
    # truth, by JSON replay). Every reader must see the same rows (and protocol) in both.
    pairs = []
    for t in ("vehicle_data", "gps_data"):
        src = os.path.join(A, t)
        ours = sorted(set(log_versions(src, ".checkpoint.parquet")) - cps_before[t])
        report(len(ours) > 0 and ours[-1] > upgraded_version[t],
               f"{t}: smartcity wrote checkpoints {ours} after Spark's upgrade")
        for v in ours:
            cp, js = os.path.join(args.work, f"cp-{t}-{v}"), os.path.join(args.work, f"json-{t}-{v}")
            for dst in (cp, js):
                shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.crc", "_last_checkpoint",
                                                                         "*.checkpoint.parquet"))
                for n in log_versions(dst, ".json"):
                    if n > v or (dst == cp and n < v):
                        os.remove(os.path.join(dst, "_delta_log", f"{n:020d}.json"))
            shutil.copy(os.path.join(src, "_delta_log", f"{v:020d}.checkpoint.parquet"),
                        os.path.join(cp, "_delta_log"))
            with open(os.path.join(cp, "_delta_log", "_last_checkpoint"), "w") as f:
                f.write(json.dumps({"version": v}) + "\n")
            pairs.append((t, v, cp, js))
    got = readers(*[p for _, _, cp, js in pairs for p in (cp, js)])
    for t, v, cp, js in pairs:
        for reader in ("deltalake", "duckdb", "protocol"):
            a, b = got[cp][reader], got[js][reader]
            if t == "gps_data" and reader != "duckdb" and isinstance(b, dict) and "deletionVectors" in b["error"]:
                report(isinstance(a, dict) and "deletionVectors" in a["error"],
                       f"{t}: deltalake refuses checkpoint {v} as it refuses the table (no deletion vectors)")
                continue
            report(a == b and not isinstance(a, dict),
                   f"{t}: {'deltalake reads the protocol' if reader == 'protocol' else reader + ' reads'} of "
                   f"checkpoint {v} alone as by JSON replay to version {v}"
                   f"{'' if a == b else f': {str(a)[:200]} != {str(b)[:200]}'}")
        a, b = spark_keys(cp), spark_keys(js)
        da, db = sql(f"DESCRIBE DETAIL delta.`{cp}`")[0], sql(f"DESCRIBE DETAIL delta.`{js}`")[0]
        same = (a == b and (da["minReaderVersion"], da["minWriterVersion"], sorted(da["tableFeatures"])) ==
                (db["minReaderVersion"], db["minWriterVersion"], sorted(db["tableFeatures"])))
        report(same, f"{t}: Spark reads checkpoint {v} alone as by JSON replay to version {v} ({len(a)} rows, "
                     f"protocol {da['minReaderVersion']}/{da['minWriterVersion']} {sorted(da['tableFeatures'])})")

    spark.stop()
    print(f"delta_foreign.py: {checks - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
