"""End-to-end test of `smartcity crawl --export` (issue 18: exports that break exactly-once).

A real lake (`smartcity run`, two dates) plus foreign Parquet folders written by pyarrow: a plain
folder with every column type the lake writes and a column name that needs quoting, under a table
name that needs quoting (a reserved word), and a Hive-partitioned one. Then, read the way AWS
would read them:
1. athena: every statement parses with sqlglot (athena and hive, none falls back to a Command);
   each Delta table is the native form (LOCATION + TBLPROPERTIES ('table_type'='DELTA'), no
   columns, no partition statements); each Parquet folder has its columns, PARTITIONED BY and one
   ADD PARTITION per partition folder.
2. glue: every TableInput passes botocore's validation of the Glue CreateTable input shape, and a
   local moto server (127.0.0.1, a free port, dummy credentials) accepts create_table for each and
   returns it by get_table; Delta tables in the native form (table_type DELTA, no partition keys,
   no Parquet input format), Parquet tables with their partition keys, no classification=delta on a
   table that is not Delta.
3. spectrum: the DDL parses with sqlglot (redshift); each Delta table is read through
   `_symlink_format_manifest/` (one ALTER TABLE ADD PARTITION per manifest sub-folder); the manifests
   list exactly the files of the current snapshot as the deltalake package reads it
   (DeltaTable.file_uris()), each file in its partition's manifest; the export set the table
   property, so after a later `run`'s commits (a new date partition), `smartcity compact` (which
   changes the file set) and `--vacuum` the manifests still list exactly the snapshot's files, all
   of which exist; crawl and sql see no extra table.

Usage: python catalog_export.py SMARTCITY_BINARY
"""
import datetime as dt
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pyarrow as pa
import pyarrow.parquet as pq

SMARTCITY = os.path.abspath(sys.argv[1])
# 23:30 for one hour: every date-partitioned table has two partitions.
# A commit every half second of a 3 s run: several small files per partition, for the compaction.
SIM = ["--seed", "11", "--vehicles", "4", "--tick", "5s", "--duration", "1h", "--start", "2026-01-05T23:30:00Z",
       "--incident-rate", "6", "--speedup", "1200", "--trigger", "500ms", "--no-serve", "-q"]
# The second run (another query, so other txn ids): more rows for 2026-01-06 and a new date.
SIM_MORE = ["--seed", "12", "--vehicles", "4", "--tick", "5s", "--duration", "20m", "--start", "2026-01-06T23:50:00Z",
            "--incident-rate", "6", "--speedup", "1200", "--trigger", "500ms", "--no-serve", "-q"]
S3 = "s3://city-bucket/lake"
PROPERTY = "delta.compatibility.symlinkFormatManifest.enabled"
HIVE = {"VARCHAR": "string", "INTEGER": "int", "BIGINT": "bigint", "DOUBLE": "double", "BOOLEAN": "boolean",
        "DATE": "date", "TIMESTAMP WITH TIME ZONE": "timestamp"}
FAILURES = []


def check(cond, what):
    print(f"{'ok  ' if cond else 'FAIL'} {what}")
    if not cond:
        FAILURES.append(what)


def run(args, expect=0):
    p = subprocess.run([SMARTCITY] + args, capture_output=True, text=True, timeout=600)
    if expect is not None and p.returncode != expect:
        sys.exit(f"smartcity {' '.join(args)} exited {p.returncode} (want {expect}):\n"
                 f"stdout: {p.stdout[-3000:]}\nstderr: {p.stderr[-3000:]}")
    return p


def write_foreign(lake):
    """A plain folder with every type the lake writes (table name `select`, a column `odd name`), a
    Hive-partitioned folder (int partition column) and an unpartitioned Delta table written by the
    deltalake package in two commits (two small files)."""
    n = 5
    t = pa.table({
        "odd name": pa.array([f"s{i}" for i in range(n)], pa.string()),
        "ts": pa.array([dt.datetime(2026, 1, 5, 12, i, tzinfo=dt.timezone.utc) for i in range(n)],
                       pa.timestamp("us", tz="UTC")),
        "speed": pa.array([i * 1.5 for i in range(n)], pa.float64()),
        "lane": pa.array(list(range(n)), pa.int32()),
        "seq": pa.array(list(range(n)), pa.int64()),
        "ok": pa.array([i % 2 == 0 for i in range(n)], pa.bool_()),
        "day": pa.array([dt.date(2026, 1, 5)] * n, pa.date32()),
    })
    os.makedirs(os.path.join(lake, "select"))
    pq.write_table(t, os.path.join(lake, "select", "part-0.parquet"))
    for zone in (1, 2):
        d = os.path.join(lake, "zones", f"zone={zone}")
        os.makedirs(d)
        pq.write_table(pa.table({"name": pa.array([f"z{zone}"]), "load": pa.array([0.5 * zone])}),
                       os.path.join(d, "part-0.parquet"))
    from deltalake import write_deltalake
    for first in (0, 3):
        write_deltalake(os.path.join(lake, "sensors"),
                        pa.table({"sensor": pa.array([f"s{i}" for i in range(first, first + 3)]),
                                  "reading": pa.array([i * 0.25 for i in range(first, first + 3)])}),
                        mode="append")


def catalog_of(lake):
    return json.load(open(os.path.join(lake, "_catalog", "catalog.json")))


def location(t):
    return f"{S3}/{t['prefix']}/"


# --------------------------------------------------------------------------- 1. athena
def check_athena(lake, cat):
    import sqlglot
    from sqlglot import exp
    ddl = run(["crawl", "--lake", lake, "--export", "athena", "--s3-location", S3]).stdout
    tables = {t["name"]: t for t in cat["tables"]}
    for dialect in ("athena", "hive"):
        stmts = [s for s in sqlglot.parse(ddl, read=dialect) if s is not None]
        check(stmts and not any(isinstance(s, exp.Command) for s in stmts),
              f"athena DDL: all {len(stmts)} statements parse ({dialect}), none as a Command")
        creates, alters = {}, {}
        for s in stmts:
            if isinstance(s, exp.Create) and s.kind == "TABLE":
                target = s.this
                name = (target.this if isinstance(target, exp.Schema) else target).name
                cols = {}
                if isinstance(target, exp.Schema):
                    for cd in target.expressions:
                        cols[cd.name] = cd.args["kind"].sql(dialect="hive").lower()
                props = {}
                parts = {}
                for prop in s.args["properties"].expressions if s.args.get("properties") else []:
                    if isinstance(prop, exp.PartitionedByProperty):
                        for cd in prop.this.expressions:
                            parts[cd.name] = cd.args["kind"].sql(dialect="hive").lower()
                    elif isinstance(prop, exp.LocationProperty):
                        props["LOCATION"] = prop.this.name
                    elif type(prop) is exp.Property and prop.args.get("value") is not None:
                        props[prop.name] = prop.args["value"].name
                creates[name] = (cols, parts, props, s.args.get("exists"))
            elif isinstance(s, exp.Alter):
                alters[s.this.name] = alters.get(s.this.name, 0) + 1
        check(sorted(creates) == sorted(tables), f"athena ({dialect}): one CREATE EXTERNAL TABLE per table")
        ok = True
        for name, t in tables.items():
            cols, parts, props, _ = creates.get(name, ({}, {}, {}, None))
            if t["format"] == "delta":
                good = (cols == {} and parts == {} and props.get("table_type") == "DELTA"
                        and props.get("LOCATION") == location(t) and alters.get(name, 0) == 0)
            else:
                good = (cols == {c["name"]: HIVE[c["type"]] for c in t["columns"]}
                        and parts == {c["name"]: HIVE[c["type"]] for c in t["partition_columns"]}
                        and props.get("LOCATION") == location(t) and props.get("classification") == "parquet"
                        and alters.get(name, 0) == len(t["partitions"]))
            if not good:
                ok = False
                print(f"     {name} ({t['format']}): columns {cols} partitions {parts} properties {props} "
                      f"alters {alters.get(name, 0)}")
        check(ok, f"athena ({dialect}): Delta tables native (no columns, table_type DELTA, no partitions); "
                  "Parquet folders with columns, types, PARTITIONED BY and one ADD PARTITION per folder")
    check("ParquetHiveSerDe" in ddl and "`select`" in ddl and "`odd name` string" in ddl,
          "athena: reserved and spaced names are quoted")


# --------------------------------------------------------------------------- 2. glue
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(work):
    port = free_port()
    server = os.path.join(os.path.dirname(sys.executable), "moto_server")
    log = open(os.path.join(work, "moto.log"), "w")
    proc = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"moto_server exited {proc.returncode}: {open(os.path.join(work, 'moto.log')).read()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    sys.exit("moto_server did not listen within 60 s")


def check_glue(lake, cat, work):
    import boto3
    import botocore.session
    from botocore.validate import ParamValidator
    glue = json.loads(run(["crawl", "--lake", lake, "--export", "glue", "--s3-location", S3]).stdout)
    tables = {t["name"]: t for t in cat["tables"]}
    check(sorted(g["TableInput"]["Name"] for g in glue) == sorted(tables), "glue: one TableInput per table")
    shape = botocore.session.get_session().get_service_model("glue").operation_model("CreateTable").input_shape
    errors = [ParamValidator().validate(g, shape) for g in glue]
    bad = [e.generate_report() for e in errors if e.has_errors()]
    check(not bad, f"glue: every request passes botocore's CreateTable validation {bad[:1]}")
    ok = True
    for g in glue:
        ti = g["TableInput"]
        t = tables.get(ti["Name"])
        sd = ti["StorageDescriptor"]
        cols = [(c["Name"], c["Type"]) for c in sd["Columns"]]
        if t["format"] == "delta":
            good = (ti["Parameters"].get("table_type") == "DELTA" and "PartitionKeys" not in ti
                    and "InputFormat" not in sd and sd["Location"] == location(t)
                    and cols == [(c["name"], HIVE[c["type"]]) for c in t["columns"] + t["partition_columns"]])
        else:
            good = (ti["Parameters"].get("classification") == "parquet" and "table_type" not in ti["Parameters"]
                    and sd["InputFormat"].endswith("MapredParquetInputFormat") and sd["Location"] == location(t)
                    and cols == [(c["name"], HIVE[c["type"]]) for c in t["columns"]]
                    and [(c["Name"], c["Type"]) for c in ti["PartitionKeys"]]
                    == [(c["name"], HIVE[c["type"]]) for c in t["partition_columns"]])
        if not good:
            ok = False
            print(f"     {ti['Name']}: {json.dumps(ti)[:600]}")
    check(ok, "glue: Delta tables native (table_type DELTA, log columns, no partition keys, no Parquet "
              "input format); Parquet tables with columns, partition keys, classification parquet")

    proc, endpoint = start_moto(work)
    try:
        client = boto3.client("glue", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        client.create_database(DatabaseInput={"Name": "smartcity"})
        for g in glue:
            client.create_table(**g)
        ok = True
        for g in glue:
            ti = g["TableInput"]
            got = client.get_table(DatabaseName="smartcity", Name=ti["Name"])["Table"]
            sd, want = got["StorageDescriptor"], ti["StorageDescriptor"]
            same = (got["Name"] == ti["Name"] and got.get("Parameters") == ti["Parameters"]
                    and sd["Location"] == want["Location"] and sd["Columns"] == want["Columns"]
                    and got.get("PartitionKeys", []) == ti.get("PartitionKeys", []))
            if not same:
                ok = False
                print(f"     {ti['Name']}: moto returned {got}")
        listed = sorted(t["Name"] for t in client.get_tables(DatabaseName="smartcity")["TableList"])
        check(ok and listed == sorted(tables),
              f"glue: a local moto server accepts create_table for all {len(glue)} tables and get_table "
              "returns each as exported")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --------------------------------------------------------------------------- 3. spectrum
def norm(uri):
    if uri.startswith("file://"):
        uri = uri[len("file://"):]
    return os.path.normpath(uri)


def manifests(lake, prefix):
    """Partition folder ('' without partitions) -> the paths its manifest lists."""
    root = os.path.join(lake, prefix, "_symlink_format_manifest")
    out = {}
    for f in glob.glob(os.path.join(root, "**", "manifest"), recursive=True):
        part = os.path.relpath(os.path.dirname(f), root)
        out["" if part == "." else part] = sorted(norm(l) for l in open(f).read().splitlines() if l)
    return out


def check_manifests(lake, cat, when):
    from deltalake import DeltaTable
    ok = True
    for t in cat["tables"]:
        if t["format"] != "delta":
            continue
        table_dir = os.path.join(lake, t["prefix"])
        want = sorted(norm(u) for u in DeltaTable(table_dir).file_uris())
        got = manifests(lake, t["prefix"])
        listed = sorted(p for paths in got.values() for p in paths)
        placed = all(os.path.dirname(p) == os.path.normpath(os.path.join(table_dir, part))
                     for part, paths in got.items() for p in paths)
        exist = all(os.path.exists(p) for p in listed)
        props = DeltaTable(table_dir).metadata().configuration
        if listed != want or not placed or not exist or props.get(PROPERTY) != "true":
            ok = False
            print(f"     {t['name']}: manifests {got} vs deltalake {want} (placed {placed}, exist {exist}, "
                  f"properties {props})")
    check(ok, f"spectrum manifests list exactly deltalake's file_uris() of the current snapshot, each in "
              f"its partition's manifest, all existing, property set ({when})")


def check_spectrum(lake, work):
    import sqlglot
    from sqlglot import exp
    p = run(["crawl", "--lake", lake, "--export", "spectrum", "--s3-location", S3])
    ddl = p.stdout
    check("set " + PROPERTY + "=true" in p.stderr, "spectrum: the export sets the table property (said on stderr)")
    cat = catalog_of(lake)
    stmts = [s for s in sqlglot.parse(ddl, read="redshift") if s is not None]
    check(stmts and not any(isinstance(s, exp.Command) for s in stmts),
          f"spectrum DDL: all {len(stmts)} statements parse (redshift), none as a Command")
    ok = True
    for t in cat["tables"]:
        q = f'"smartcity"."{t["name"]}"'
        alters = [l for l in ddl.splitlines() if l.startswith(f"ALTER TABLE {q} ADD")]
        if t["format"] == "delta":
            loc = location(t) + "_symlink_format_manifest/"
            parts = sorted(manifests(lake, t["prefix"]))
            want_alters = sorted(f"{loc}{part}/" for part in parts if part)
            got_alters = sorted(a.split(" LOCATION '")[1].rstrip("';") for a in alters)
            good = (f"LOCATION '{loc}';" in ddl and got_alters == want_alters
                    and (len(parts) == len(t["partitions"]) or not t["partition_columns"]))
        else:
            good = f"LOCATION '{location(t)}';" in ddl and len(alters) == len(t["partitions"])
        if not good:
            ok = False
            print(f"     {t['name']}: alters {alters}")
    check(ok and "SymlinkTextInputFormat" in ddl and "HiveIgnoreKeyTextOutputFormat" in ddl,
          "spectrum: Delta tables at their manifest folder, one ADD PARTITION per manifest sub-folder; "
          "Parquet folders at their data folders")
    check_manifests(lake, cat, "after the export")
    delta_names = sorted(t["name"] for t in cat["tables"] if t["format"] == "delta")

    # The stream's writer keeps them current: a second query appends a new date to the tables.
    before = {n: manifests(lake, n) for n in delta_names}
    run(["run"] + SIM_MORE + ["--lake", lake, "--query", "second"])
    grown = [n for n in delta_names if "date=2026-01-07" in manifests(lake, n)]
    check("vehicle_data" in grown and all(manifests(lake, n) != before[n] for n in grown),
          f"a later run's commits add the new partition's manifest to {grown}")
    check_manifests(lake, cat, "after another run's commits")
    before = {n: manifests(lake, n) for n in delta_names}

    # A compaction changes the file set: the writer rewrites the manifests with its commit.
    p = run(["compact", "--lake", lake, "--min-files", "2"])
    print(p.stdout.strip())
    changed = [n for n in delta_names if manifests(lake, n) != before[n]]
    check(changed, f"compaction changed the manifests of {changed}")
    check_manifests(lake, cat, "after compact")
    run(["compact", "--lake", lake, "--vacuum", "--retention", "0s"])
    check_manifests(lake, cat, "after compact --vacuum")
    # The manifest folders are neither tables nor data.
    p = run(["crawl", "--lake", lake])
    after = catalog_of(lake)
    check(sorted(t["name"] for t in after["tables"]) == sorted(t["name"] for t in cat["tables"])
          and all(not t["problems"] for t in after["tables"] if t["format"] == "delta"),
          "crawl after the manifests: the same tables, no problems")
    rows = {t["name"]: t["row_count"] for t in after["tables"]}
    from deltalake import DeltaTable
    want = {t["name"]: DeltaTable(os.path.join(lake, t["prefix"])).to_pyarrow_table().num_rows
            for t in after["tables"] if t["format"] == "delta"}
    check(all(rows[n] == want[n] for n in want), "row counts of the crawl equal deltalake's after compaction")
    n = json.loads(run(["sql", "--lake", lake, "--format", "json", "SELECT count(*) AS n FROM vehicle_data"]
                       ).stdout.splitlines()[0])["n"]
    check(n == rows["vehicle_data"], f"sql reads vehicle_data with {n} rows")


def main():
    work = tempfile.mkdtemp(prefix="catalog_export.")
    try:
        lake = os.path.join(work, "lake")
        run(["run"] + SIM + ["--lake", lake])
        write_foreign(lake)
        print(run(["crawl", "--lake", lake]).stdout)
        cat = catalog_of(lake)
        formats = sorted({t["format"] for t in cat["tables"]})
        check(formats == ["delta", "hive-parquet", "parquet"], f"the lake has Delta and Parquet tables {formats}")
        check(any(t["format"] == "delta" and not t["partition_columns"] for t in cat["tables"])
              and any(t["format"] == "delta" and t["partition_columns"] for t in cat["tables"]),
              "Delta tables partitioned and not")
        sel = {c["name"]: c["type"] for c in next(t for t in cat["tables"] if t["name"] == "select")["columns"]}
        check(sorted(set(sel.values())) == sorted(HIVE), f"the plain folder has every type the lake writes {sel}")
        check_athena(lake, cat)
        check_glue(lake, cat, work)
        check_spectrum(lake, work)
        p = run(["crawl", "--lake", lake, "--export", "spectrum"], expect=2)
        check("--s3-location" in p.stderr, "a local lake's spectrum export asks for --s3-location (exit 2)")
    finally:
        if os.environ.get("SMARTCITY_KEEP_TEST_DIR"):
            print(f"test directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if FAILURES:
        sys.exit(f"{len(FAILURES)} checks failed: {FAILURES}")
    print("all checks passed")


main()
