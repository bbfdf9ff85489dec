"""End-to-end test of `smartcity crawl` and `smartcity sql` (issue 6).

1. Our lake after a seeded `smartcity run --speedup max`: the catalog names every table, column type,
   partition and row count as an independent reading of the Delta logs and of the data files
   (pyarrow) says.
2. A foreign folder written by pyarrow (Hive-partitioned Parquet): a column added in a later
   partition is reported as a compatible evolution; a type change as breaking (first crawl and
   re-crawl); a mixed folder (a text file, a broken Parquet file) is reported, not fatal.
3. The questions of docs/sql_examples.md (exactly that text) answered by `smartcity sql` equal an
   independent computation from the simulator's own output (`smartcity simulate` with the same
   options; checked first to be the same events `run` landed).
4. Hostile SQL is refused with one error line and exit code 1.
5. The Athena DDL parses with sqlglot (athena and hive dialects) and defines every (Delta) table in
   Athena's native Delta form; the Glue JSON has the log's columns (tests/e2e/catalog_export.py
   checks all export forms in depth).

Usage: python catalog_sql.py SMARTCITY_BINARY
"""
import collections
import datetime as dt
import glob
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pyarrow as pa
import pyarrow.parquet as pq

SMARTCITY = os.path.abspath(sys.argv[1])
SOURCE = os.environ.get("SMARTCITY_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
# From 23:10 for 2 hours: the lake has two date partitions and the questions span three hours.
SIM = ["--seed", "7", "--vehicles", "8", "--tick", "5s", "--duration", "2h", "--start", "2026-01-05T23:10:00Z",
       "--incident-rate", "6", "--speedup", "max", "-q"]
FAILURES = []


def check(cond, what):
    if cond:
        print(f"ok   {what}")
    else:
        print(f"FAIL {what}")
        FAILURES.append(what)


def run(args, stdin=None, expect=0):
    p = subprocess.run([SMARTCITY] + args, input=stdin, capture_output=True, text=True, timeout=600)
    if expect is not None and p.returncode != expect:
        sys.exit(f"smartcity {' '.join(args)} exited {p.returncode} (want {expect}):\n"
                 f"stdout: {p.stdout[-2000:]}\nstderr: {p.stderr[-2000:]}")
    return p


def micros(ts):
    """ISO-8601 UTC ('2026-01-05T07:00:00.624384Z') -> microseconds since the epoch."""
    t = dt.datetime.strptime(ts.rstrip("Z")[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=dt.timezone.utc)
    return int(t.timestamp()) * 1_000_000 + t.microsecond


def hour_of(us):
    return us - us % 3_600_000_000


def close(a, b):
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


# --------------------------------------------------------------------------- 1. our lake
DELTA_TO_DUCK = {"string": "VARCHAR", "integer": "INTEGER", "long": "BIGINT", "double": "DOUBLE",
                 "timestamp": "TIMESTAMP WITH TIME ZONE", "boolean": "BOOLEAN", "date": "DATE"}


def replay_delta(table_dir):
    """Independent Delta log replay: schema, partition columns, active files."""
    files, meta = {}, None
    for f in sorted(glob.glob(os.path.join(table_dir, "_delta_log", "*.json"))):
        for line in open(f):
            a = json.loads(line)
            if "metaData" in a:
                meta = a["metaData"]
            if "add" in a:
                files[a["add"]["path"]] = a["add"]
            if "remove" in a:
                files.pop(a["remove"]["path"], None)
    return meta, files


def check_our_lake(lake, catalog):
    tables = {t["name"]: t for t in catalog["tables"]}
    want_tables = sorted(d for d in os.listdir(lake)
                         if os.path.isdir(os.path.join(lake, d, "_delta_log")))
    check(sorted(tables) == want_tables, f"catalog lists exactly the Delta tables {want_tables}")
    for name in want_tables:
        t = tables.get(name)
        if t is None:
            continue
        meta, files = replay_delta(os.path.join(lake, name))
        schema = json.loads(meta["schemaString"])["fields"]
        pcols = meta["partitionColumns"]
        want_cols = [(f["name"], DELTA_TO_DUCK[f["type"]]) for f in schema if f["name"] not in pcols]
        got_cols = [(c["name"], c["type"]) for c in t["columns"]]
        check(got_cols == want_cols, f"{name}: columns and types")
        types = {f["name"]: DELTA_TO_DUCK[f["type"]] for f in schema}
        got_p = [(c["name"], c["type"]) for c in t["partition_columns"]]
        check(got_p == [(p, types.get(p, "VARCHAR")) for p in pcols], f"{name}: partition columns {pcols}")
        check(t["format"] == "delta", f"{name}: format delta")
        # Rows: counted from the data files themselves, not from the log's statistics.
        rows_per_part = collections.Counter()
        for path, add in files.items():
            n = pq.ParquetFile(os.path.join(lake, name, path)).metadata.num_rows
            key = tuple(add["partitionValues"].get(p) for p in pcols)
            rows_per_part[key] += n
        check(t["row_count"] == sum(rows_per_part.values()),
              f"{name}: row count {t['row_count']} == {sum(rows_per_part.values())} in the active files")
        check(t["file_count"] == len(files), f"{name}: file count {len(files)}")
        got_parts = {tuple(p["values"].get(c) for c in pcols): p["rows"] for p in t["partitions"]}
        want_parts = dict(rows_per_part) if pcols else {}
        check(got_parts == want_parts, f"{name}: partitions and rows per partition {sorted(want_parts)}")
        if name in ("vehicle_data", "weather_data", "gps_data", "enriched_data"):
            check(len(want_parts) == 2, f"{name}: the run spans two dates")


# --------------------------------------------------------------------------- 2. the simulator's events
def load_simulation(path):
    ev = collections.defaultdict(list)
    for line in open(path):
        m = json.loads(line)
        v = m["value"]
        if isinstance(v, dict):
            v = dict(v)
            if "timestamp" in v:
                v["ts"] = micros(v["timestamp"])
            if "location" in v:
                lat, lon = v["location"].strip("()").split(",")
                v["latitude"], v["longitude"] = float(lat), float(lon)
            ev[m["topic"]].append(v)
    return ev


def queries_from_doc(path):
    text = open(path).read()
    out = {}
    for m in re.finditer(r"<!-- query: (\w+) -->\s*```sql\n(.*?)```", text, re.S):
        out[m.group(1)] = m.group(2)
    return out


def sql_json(lake, query):
    p = run(["sql", "--lake", lake, "--format", "json", query])
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


def haversine_m(lat1, lon1, lat2, lon2):
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dphi, dl = math.radians(lat2 - lat1), math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def check_questions(lake, ev):
    qs = queries_from_doc(os.path.join(SOURCE, "docs", "sql_examples.md"))
    check(sorted(qs) == ["avg_speed_per_vehicle_hour", "busiest_cameras", "vehicles_near_active_incidents",
                         "weather_vs_speed"], f"docs/sql_examples.md holds the four questions: {sorted(qs)}")
    veh = ev["vehicle_data"]

    # Average speed per vehicle per hour.
    acc = collections.defaultdict(list)
    for v in veh:
        acc[(v["deviceId"], hour_of(v["ts"]))].append(v["speed"])
    want = sorted((d, h, sum(s) / len(s), len(s)) for (d, h), s in acc.items())
    got = [(r["deviceId"], micros(r["hour"]), r["avg_speed_kmh"], r["readings"])
           for r in sql_json(lake, qs["avg_speed_per_vehicle_hour"])]
    check(len(want) > 8 and len(got) == len(want) and all(
        g[0] == w[0] and g[1] == w[1] and close(g[2], w[2]) and g[3] == w[3] for g, w in zip(got, want)),
        f"average speed per vehicle per hour: {len(got)} rows equal the simulator's ({len(want)})")

    # Vehicles within 1 km of an active incident.
    inc = {}
    for e in ev["emergency_data"]:
        i = inc.setdefault(e["incidentId"], {"lat": [], "lon": [], "active": None, "resolved": None})
        i["lat"].append(e["latitude"])
        i["lon"].append(e["longitude"])
        key = "active" if e["status"] == "Active" else "resolved"
        i[key] = e["ts"] if i[key] is None else min(i[key], e["ts"])
    near = {}
    for iid, i in inc.items():
        lat, lon = min(i["lat"]), min(i["lon"])
        for v in veh:
            if i["active"] is None or v["ts"] < i["active"]:
                continue
            if i["resolved"] is not None and v["ts"] >= i["resolved"]:
                continue
            d = haversine_m(lat, lon, v["latitude"], v["longitude"])
            if d <= 1000:
                n = near.setdefault((iid, v["deviceId"]), [v["ts"], v["ts"], 0, d])
                n[0], n[1], n[2], n[3] = min(n[0], v["ts"]), max(n[1], v["ts"]), n[2] + 1, min(n[3], d)
    want = sorted((k[0], k[1], n[0], n[1], n[2], n[3]) for k, n in near.items())
    got = [(r["incidentId"], r["deviceId"], micros(r["first_seen"]), micros(r["last_seen"]), r["readings"],
            r["closest_m"]) for r in sql_json(lake, qs["vehicles_near_active_incidents"])]
    check(len(inc) > 0 and len(want) > 0, f"the run raised incidents ({len(inc)}) with vehicles near them ({len(want)})")
    check(len(got) == len(want) and all(g[:5] == w[:5] and abs(g[5] - w[5]) < 1e-6 for g, w in zip(got, want)),
          f"vehicles within 1 km of an active incident: {len(got)} (incident, vehicle) pairs equal the simulator's")

    # Share of rainy readings vs average speed.
    wx = {(w["deviceId"], w["ts"]): w["weatherCondition"] for w in ev["weather_data"]}
    per = collections.defaultdict(list)
    for v in veh:
        c = wx.get((v["deviceId"], v["ts"]))
        if c is not None:
            per[c].append(v["speed"])
    total = sum(len(s) for s in per.values())
    want = sorted((c, len(s), len(s) / total, sum(s) / len(s)) for c, s in per.items())
    got = [(r["weatherCondition"], r["readings"], r["share"], r["avg_speed_kmh"])
           for r in sql_json(lake, qs["weather_vs_speed"])]
    check("Rain" in per, "the run has rainy readings")
    check(len(got) == len(want) and all(g[0] == w[0] and g[1] == w[1] and close(g[2], w[2]) and close(g[3], w[3])
                                        for g, w in zip(got, want)),
          f"weather vs speed: {[(w[0], w[1]) for w in want]}")

    # The 10 busiest cameras.
    cams = collections.Counter(t["cameraId"] for t in ev["traffic_data"])
    want = sorted(cams.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    got = [(r["cameraId"], r["passes"]) for r in sql_json(lake, qs["busiest_cameras"])]
    check(len(want) == 10 and got == want, f"10 busiest cameras: {got[:3]}...")


# --------------------------------------------------------------------------- 3. hostile SQL
def check_hostile(lake):
    hostile = [
        "DROP TABLE vehicle_data",
        "DROP VIEW vehicle_data",
        "COPY (SELECT * FROM vehicle_data) TO '/tmp/smartcity_catalog_copy.csv'",
        "COPY vehicle_data TO '/tmp/smartcity_catalog_copy.parquet' (FORMAT parquet)",
        "ATTACH '/tmp/smartcity_catalog_attach.db' AS x",
        "INSTALL httpfs",
        "LOAD httpfs",
        "PRAGMA enable_profiling",
        "SET enable_external_access = true",
        "CREATE TABLE t AS SELECT 1",
        "INSERT INTO vehicle_data SELECT * FROM vehicle_data",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_parquet('" + lake + "/vehicle_data/*/*.parquet')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT 1; DROP TABLE vehicle_data",
        # DuckDB runs these as queries; sql refuses them by their first word, as documented.
        "PRAGMA show_tables",
        "pragma table_info('vehicle_data')",
        "CALL pragma_version()",
        "SET VARIABLE x = 1",
        # EXPLAIN ANALYZE runs the statement it explains: only of a query.
        "EXPLAIN ANALYZE CREATE TABLE t AS SELECT 1",
        "EXPLAIN ANALYZE COPY (SELECT 1) TO '/tmp/smartcity_catalog_copy.csv'",
        # Files of the lake no commit references, the Delta log, a link out of the lake, a path
        # relative to the working directory, the temp folder's kind of path.
        "SELECT * FROM read_parquet('" + lake + "/vehicle_data/uncommitted.parquet')",
        "SELECT * FROM read_json('" + lake + "/vehicle_data/_delta_log/00000000000000000000.json')",
        "SELECT * FROM read_text('" + lake + "/vehicle_data/_delta_log/00000000000000000000.json')",
        "SELECT * FROM read_csv('" + lake + "/vehicle_data/passwd.parquet')",
        "SELECT * FROM read_text('" + os.path.relpath("/etc/passwd") + "')",
        "SELECT * FROM glob('" + lake + "/**')",
    ]
    pq.write_table(pa.table({"id": pa.array(["x"])}), os.path.join(lake, "vehicle_data", "uncommitted.parquet"))
    os.symlink("/etc/passwd", os.path.join(lake, "vehicle_data", "passwd.parquet"))
    for q in hostile:
        p = run(["sql", "--lake", lake, q], expect=None)
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        check(p.returncode == 1 and len(lines) == 1 and lines[0].startswith("smartcity: ")
              and "root:" not in p.stdout, f"refused with exit 1 and one error line: {q} -> {lines[:1]}")
    for f in ("/tmp/smartcity_catalog_copy.csv", "/tmp/smartcity_catalog_copy.parquet",
              "/tmp/smartcity_catalog_attach.db"):
        check(not os.path.exists(f), f"nothing written at {f}")
    os.remove(os.path.join(lake, "vehicle_data", "uncommitted.parquet"))
    os.remove(os.path.join(lake, "vehicle_data", "passwd.parquet"))
    # EXPLAIN (and EXPLAIN ANALYZE of a query) run; a statement over its --timeout is stopped.
    for q in ["EXPLAIN SELECT count(*) FROM vehicle_data", "EXPLAIN ANALYZE SELECT count(*) FROM vehicle_data"]:
        p = run(["sql", "--lake", lake, q], expect=None)
        check(p.returncode == 0 and "plan" in p.stdout, f"{q}: exit 0, a plan ({p.stderr.strip()[:100]})")
    t0 = time.time()
    p = run(["sql", "--lake", lake, "--timeout", "300ms",
             "SELECT count(*) FROM range(1000000) a(i), range(1000000) b(j) WHERE i * j % 7 = 3"], expect=None)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    check(p.returncode == 1 and len(lines) == 1 and "time limit of 300 ms" in lines[0] and time.time() - t0 < 60,
          f"--timeout stops a long query with one line: {lines[:1]}")
    p = run(["sql", "--lake", lake, "SELECT count(*) AS n FROM vehicle_data"])
    check(re.search(r"1 row \(\d+\.\d+ s\)", p.stdout) is not None, "the table survives; row count + time printed")
    for q, what, says in [("SELEC 1", "bad SQL", "syntax error"),
                          ("SELECT * FROM no_such_table", "a missing table", "no_such_table does not exist"),
                          ("INSTALL httpfs", "INSTALL", "INSTALL statements are refused")]:
        p = run(["sql", "--lake", lake, q], expect=None)
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        check(p.returncode == 1 and len(lines) == 1 and says in lines[0], f"{what}: one error line, exit 1: {lines[:1]}")
    p = run(["sql", "--lake", lake, "SELECT * FROM no_such_table"], expect=None)
    check("vehicle_data" in p.stderr, "the missing-table error lists the cataloged tables")


# --------------------------------------------------------------------------- 4. a foreign folder
def write_part(root, date, table):
    d = os.path.join(root, "sales", f"date={date}")
    os.makedirs(d, exist_ok=True)
    pq.write_table(table, os.path.join(d, "part-0.parquet"))


def catalog_of(lake):
    return json.load(open(os.path.join(lake, "_catalog", "catalog.json")))


def check_foreign(work):
    root = os.path.join(work, "foreign")
    write_part(root, "2026-01-01", pa.table({"id": pa.array([1, 2, 3], pa.int64()),
                                             "amount": pa.array([1.5, 2.5, 3.5], pa.float64())}))
    write_part(root, "2026-01-02", pa.table({"id": pa.array([4, 5], pa.int64()),
                                             "amount": pa.array([4.5, 5.5], pa.float64()),
                                             "note": pa.array(["x", None], pa.string())}))
    # A plain (unpartitioned) Parquet folder and a mixed one.
    os.makedirs(os.path.join(root, "plain"))
    pq.write_table(pa.table({"k": pa.array(["a", "b"]), "v": pa.array([1, 2], pa.int32())}),
                   os.path.join(root, "plain", "data.parquet"))
    os.makedirs(os.path.join(root, "mixed"))
    pq.write_table(pa.table({"k": pa.array([7], pa.int64())}), os.path.join(root, "mixed", "good.parquet"))
    open(os.path.join(root, "mixed", "notes.txt"), "w").write("not parquet\n")
    open(os.path.join(root, "mixed", "broken.parquet"), "wb").write(b"PAR1 this is not really parquet PAR1")

    p = run(["crawl", "--lake", root])
    cat = catalog_of(root)
    t = {x["name"]: x for x in cat["tables"]}
    check(sorted(t) == ["mixed", "plain", "sales"], f"foreign folder: tables {sorted(t)}")
    s = t["sales"]
    check(s["format"] == "hive-parquet" and [c["name"] for c in s["partition_columns"]] == ["date"]
          and s["partition_columns"][0]["type"] == "DATE", "sales: Hive partition column date DATE")
    check([(c["name"], c["type"]) for c in s["columns"]] == [("id", "BIGINT"), ("amount", "DOUBLE"), ("note", "VARCHAR")],
          f"sales: merged columns {[(c['name'], c['type']) for c in s['columns']]}")
    check(s["row_count"] == 5 and len(s["partitions"]) == 2, "sales: 5 rows in 2 partitions")
    vs = s["schema_versions"]
    check(len(vs) == 2 and vs[1]["change"] == "compatible" and any("added column note" in d for d in vs[1]["details"]),
          f"sales: schema reported as evolved (compatible): {[(v['change'], v['details']) for v in vs]}")
    check(re.search(r"sales: schema v2 \(compatible\): added column note", p.stdout) is not None,
          "crawl report names the compatible addition")
    check(t["plain"]["format"] == "parquet" and t["plain"]["row_count"] == 2
          and [(c["name"], c["type"]) for c in t["plain"]["columns"]] == [("k", "VARCHAR"), ("v", "INTEGER")],
          "plain Parquet folder cataloged")
    m = t["mixed"]
    check(m["row_count"] == 1 and len(m["problems"]) == 2 and "notes.txt" in " ".join(m["problems"])
          and "broken.parquet" in " ".join(m["problems"]), f"mixed folder reported, not fatal: {m['problems']}")
    check("problems (2)" in p.stdout, "crawl report lists the problems")
    rows = sql_json(root, "SELECT id, amount, note, date FROM sales ORDER BY id")
    check([(r["id"], r["note"], r["date"]) for r in rows] ==
          [(1, None, "2026-01-01"), (2, None, "2026-01-01"), (3, None, "2026-01-01"),
           (4, "x", "2026-01-02"), (5, None, "2026-01-02")], "sql over the evolved Hive table (old files: NULL)")

    # Re-crawl after a type change in a new partition: breaking, the old versions kept.
    write_part(root, "2026-01-03", pa.table({"id": pa.array(["6"], pa.string()),
                                             "amount": pa.array([6.5], pa.float64()),
                                             "note": pa.array(["y"], pa.string())}))
    p = run(["crawl", "--lake", root])
    s = {x["name"]: x for x in catalog_of(root)["tables"]}["sales"]
    check("new partition date=2026-01-03" in p.stdout, "re-crawl reports the new partition")
    check(re.search(r"BREAKING sales: schema v\d \(breaking\): column id: type changed BIGINT -> VARCHAR", p.stdout)
          is not None, "re-crawl reports the type change as breaking")
    vs = s["schema_versions"]
    check(len(vs) >= 3 and vs[-1]["change"] == "breaking" and vs[0]["columns"][0] == {"name": "id", "type": "BIGINT"},
          f"previous schema versions kept: {[v['change'] for v in vs]}")
    # A fresh catalog of the same folder sees the type change inside the table too.
    fresh = os.path.join(work, "fresh_catalog.json")
    p = run(["crawl", "--lake", root, "--catalog", fresh])
    s = {x["name"]: x for x in json.load(open(fresh))["tables"]}["sales"]
    check(s["schema_versions"][-1]["change"] == "breaking" and "BREAKING sales" in p.stdout,
          "first crawl of a folder with a type change reports it as breaking")
    return root


# --------------------------------------------------------------------------- 5. exports
def check_exports(lake):
    import sqlglot
    from sqlglot import exp
    cat = catalog_of(lake)
    hive = {"VARCHAR": "string", "INTEGER": "int", "BIGINT": "bigint", "DOUBLE": "double", "BOOLEAN": "boolean",
            "DATE": "date", "TIMESTAMP WITH TIME ZONE": "timestamp"}
    p = run(["crawl", "--lake", lake, "--export", "athena", "--s3-location", "s3://city-bucket/lake"])
    ddl = p.stdout
    for dialect in ("athena", "hive"):
        stmts = [s for s in sqlglot.parse(ddl, read=dialect) if s is not None]
        creates = {}
        for s in stmts:
            if isinstance(s, exp.Create) and s.kind == "TABLE":
                target = s.this
                name = (target.this if isinstance(target, exp.Schema) else target).name
                cols = {}
                if isinstance(target, exp.Schema):
                    for cd in target.expressions:
                        if isinstance(cd, exp.ColumnDef):
                            cols[cd.name] = cd.args["kind"].sql(dialect="hive").lower()
                for prop in s.args.get("properties").expressions if s.args.get("properties") else []:
                    if isinstance(prop, exp.PartitionedByProperty):
                        for cd in prop.this.expressions:
                            cols[cd.name] = cd.args["kind"].sql(dialect="hive").lower()
                creates[name] = (cols, s.sql(dialect="hive"))
        check(sorted(creates) == sorted(t["name"] for t in cat["tables"]),
              f"athena DDL parses with sqlglot ({dialect}): one CREATE EXTERNAL TABLE per table")
        # Our lake is all Delta: Athena reads each natively from its log (issue 18), so the DDL has
        # no column list (the columns are the log's) and no partition statements.
        ok = True
        for t in cat["tables"]:
            got, text = creates.get(t["name"], ({}, ""))
            if got or "'table_type'='DELTA'" not in text:
                ok = False
                print(f"     {t['name']}: DDL {text}")
        check(ok, f"DDL ({dialect}): every Delta table in the native form, no columns")
    check("LOCATION 's3://city-bucket/lake/vehicle_data/'" in ddl and "PARTITION (" not in ddl
          and "ParquetHiveSerDe" not in ddl, "DDL has S3 locations and no Parquet definition of a Delta table")
    p = run(["crawl", "--lake", lake, "--export", "glue", "--s3-location", "s3://city-bucket/lake"])
    glue = json.loads(p.stdout)
    ok = len(glue) == len(cat["tables"])
    for g, t in zip(glue, cat["tables"]):
        ti = g["TableInput"]
        sd = ti["StorageDescriptor"]
        ok = ok and ti["Name"] == t["name"] and ti["TableType"] == "EXTERNAL_TABLE" \
            and [(c["Name"], c["Type"]) for c in sd["Columns"]] \
            == [(c["name"], hive[c["type"]]) for c in t["columns"] + t["partition_columns"]] \
            and "PartitionKeys" not in ti \
            and sd["Location"] == f"s3://city-bucket/lake/{t['prefix']}/" \
            and ti["Parameters"]["table_type"] == "DELTA"
    check(ok, "Glue TableInput JSON: names, the log's columns, locations, native Delta (table_type DELTA)")
    p = run(["crawl", "--lake", lake, "--export", "athena"], expect=2)
    check("--s3-location" in p.stderr, "a local lake's export asks for --s3-location (exit 2)")


def main():
    work = tempfile.mkdtemp(prefix="catalog_sql.")
    try:
        lake = os.path.join(work, "lake")
        run(["run"] + SIM + ["--lake", lake])
        sim = os.path.join(work, "sim.jsonl")
        run(["simulate"] + SIM + ["-o", sim])
        ev = load_simulation(sim)
        p = run(["crawl", "--lake", lake])
        print(p.stdout)
        catalog = catalog_of(lake)
        # The simulator's output is the events `run` fed the processor: same ids in every table.
        for topic in ("vehicle_data", "gps_data", "traffic_data", "weather_data", "emergency_data"):
            ids = sorted(r["id"] for r in sql_json(lake, f"SELECT id FROM {topic}"))
            check(ids == sorted(e["id"] for e in ev[topic]) and ids,
                  f"simulate and run produce the same {topic} events ({len(ids)})")
        check_our_lake(lake, catalog)
        # The crawl is stable: nothing changes on a re-crawl of an unchanged lake.
        p = run(["crawl", "--lake", lake])
        check("changes since the last crawl: none" in p.stdout, "re-crawl of an unchanged lake: no changes")
        check_questions(lake, ev)
        check_hostile(lake)
        check_foreign(work)
        check_exports(lake)
        # Output forms.
        p = run(["sql", "--lake", lake, "--format", "csv", "SELECT 1 AS a, 'x,y' AS b, NULL AS c"])
        check(p.stdout == 'a,b,c\n1,"x,y",\n', f"CSV output {p.stdout!r}")
        # Every type prints; NaN and infinities as NaN, Infinity, -Infinity (JSON: strings).
        q = ("SELECT [1, 2] AS l, {'a': 1} AS s, INTERVAL 3 DAY AS i, 12.50::DECIMAL(10, 2) AS d, "
             "'nan'::DOUBLE AS n, 'inf'::DOUBLE AS p, '-inf'::DOUBLE AS m")
        p = run(["sql", "--lake", lake, "--format", "csv", q])
        check(p.stdout == 'l,s,i,d,n,p,m\n"[1, 2]",{\'a\': 1},3 days,12.50,NaN,Infinity,-Infinity\n',
              f"CSV of LIST, STRUCT, INTERVAL, DECIMAL, NaN, infinities {p.stdout!r}")
        p = run(["sql", "--lake", lake, "--format", "json", q])
        check(json.loads(p.stdout) == {"l": "[1, 2]", "s": "{'a': 1}", "i": "3 days", "d": 12.5, "n": "NaN",
                                       "p": "Infinity", "m": "-Infinity"}, f"JSON of the same {p.stdout!r}")
        p = run(["sql", "--lake", lake, q])
        check("NaN" in p.stdout and "[1, 2]" in p.stdout and "-Infinity" in p.stdout, f"table of the same {p.stdout!r}")
        p = run(["sql", "--lake", lake], stdin="SELECT 42 AS answer;\nSELECT 'two' AS n;\n")
        check("42" in p.stdout and "two" in p.stdout and p.stdout.count("1 row (") == 2,
              "queries read from stdin when it is not a terminal")
        qf = os.path.join(work, "q.sql")
        open(qf, "w").write("SELECT count(*) AS n FROM traffic_data;")
        p = run(["sql", "--lake", lake, "-f", qf])
        check(re.search(r"^-+\n\s*\d+\n1 row", p.stdout, re.M) is not None, f"-f file.sql, aligned table:\n{p.stdout}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if FAILURES:
        sys.exit(f"{len(FAILURES)} checks failed: {FAILURES}")
    print("all checks passed")


main()
