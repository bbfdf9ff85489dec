"""Reads a Delta table written by smartcity's lake writer with three independent readers and checks
that each finds exactly the expected rows and schema.

  python independent_readers.py TABLE_DIR EXPECTED_JSONL EXPECTED_VERSION EXPECTED_FILES

Readers:
  deltalake  the delta-rs Python binding (log replay, checkpoints, partition values, schema)
  duckdb     DuckDB's delta extension (delta_scan, delta-kernel-rs), loaded from the duckdb-ext-delta
             package so no network is needed
  pyarrow    a log replay written here (JSON commits + Parquet checkpoint) feeding pyarrow.parquet

EXPECTED_JSONL has one object per row: seq, deviceId, ts (micros UTC), speed, lane, ok, note, date.
Prints one line per reader and "readers: N passed, M failed"; exits 1 on any mismatch.
"""
import datetime as dt
import glob
import json
import os
import sys
import urllib.parse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
COLUMNS = ["deviceId", "ts", "speed", "lane", "seq", "ok", "date", "note"]
ARROW_TYPES = {
    "deviceId": (pa.string(), pa.large_string(), pa.string_view()),
    "ts": (pa.timestamp("us", tz="UTC"),),
    "speed": (pa.float64(),),
    "lane": (pa.int32(),),
    "seq": (pa.int64(),),
    "ok": (pa.bool_(),),
    "date": (pa.date32(),),
    "note": (pa.string(), pa.large_string(), pa.string_view()),
}


def micros(v):
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=dt.timezone.utc)
        d = v - EPOCH
        return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds
    return int(v)


def normalise(rows):
    out = []
    for r in rows:
        out.append(
            (
                r["seq"],
                r["deviceId"],
                micros(r["ts"]),
                r["speed"],
                r["lane"],
                r["ok"],
                r.get("note"),
                r["date"].isoformat() if isinstance(r["date"], dt.date) else r["date"],
            )
        )
    return sorted(out)


def from_arrow(table):
    return normalise(table.select(COLUMNS).to_pylist())


def check_arrow_schema(schema, who):
    problems = []
    for name, allowed in ARROW_TYPES.items():
        if name not in schema.names:
            problems.append(f"{who}: column {name} missing")
            continue
        t = schema.field(name).type
        if t not in allowed:
            problems.append(f"{who}: column {name} has type {t}, expected {allowed[0]}")
    return problems


def read_deltalake(path):
    from deltalake import DeltaTable

    t = DeltaTable(path)
    data = t.to_pyarrow_table()
    return t.version(), len(t.file_uris()), data


def read_duckdb(path):
    import duckdb

    ext = glob.glob(
        os.path.join(os.path.dirname(duckdb.__file__), "..", "duckdb_ext", "extensions", "*", "*", "delta.duckdb_extension")
    )
    if not ext:
        raise RuntimeError("delta.duckdb_extension not found: is duckdb-ext-delta installed (scripts/pyenv.sh)?")
    con = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
    con.execute(f"LOAD '{ext[0]}'")
    con.execute("SET TimeZone = 'UTC'")
    return con.execute(f"SELECT * FROM delta_scan('{path}')").fetch_arrow_table()


def replay_log(path):
    """Active files as {path: partitionValues} and the schema string, from the Delta log."""
    log = os.path.join(path, "_delta_log")
    files, metadata, start = {}, None, 0
    last_cp = os.path.join(log, "_last_checkpoint")
    if os.path.exists(last_cp):
        with open(last_cp) as f:
            cp_version = json.load(f)["version"]
        cp = pq.read_table(os.path.join(log, f"{cp_version:020d}.checkpoint.parquet")).to_pylist()
        for row in cp:
            if row.get("add"):
                a = row["add"]
                pv = a["partitionValues"]  # a Parquet MAP reads as a list of (key, value) pairs
                files[a["path"]] = dict(pv)
            if row.get("metaData"):
                metadata = row["metaData"]
        start = cp_version + 1
    version = start
    while os.path.exists(os.path.join(log, f"{version:020d}.json")):
        with open(os.path.join(log, f"{version:020d}.json")) as f:
            for line in f:
                if not line.strip():
                    continue
                action = json.loads(line)
                if "add" in action:
                    files[action["add"]["path"]] = action["add"]["partitionValues"]
                elif "remove" in action:
                    files.pop(action["remove"]["path"], None)
                elif "metaData" in action:
                    metadata = action["metaData"]
        version += 1
    return version - 1, files, metadata


def read_pyarrow(path):
    version, files, metadata = replay_log(path)
    schema = json.loads(metadata["schemaString"])
    names = [f["name"] for f in schema["fields"]]
    tables = []
    for rel, pv in files.items():
        t = pq.read_table(os.path.join(path, urllib.parse.unquote(rel)))
        n = t.num_rows
        for col in ("note",):
            if col in names and col not in t.column_names:
                t = t.append_column(col, pa.nulls(n, pa.string()))
        date = pv.get("date")
        t = t.append_column("date", pa.array([dt.date.fromisoformat(date)] * n, pa.date32()))
        tables.append(t.select(COLUMNS))
    return version, len(files), pa.concat_tables(tables, promote_options="default")


def main():
    path, expected_path, expected_version, expected_files = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    with open(expected_path) as f:
        expected = normalise(json.loads(l) for l in f if l.strip())
    passed = failed = 0

    def report(who, problems):
        nonlocal passed, failed
        if problems:
            failed += 1
            for p in problems:
                print(f"FAIL {who}: {p}")
        else:
            passed += 1
            print(f"ok   {who}: {len(expected)} rows, schema and version as expected")

    for who, reader in (("deltalake", read_deltalake), ("duckdb delta_scan", None), ("pyarrow log replay", read_pyarrow)):
        problems = []
        try:
            if reader is None:
                data = read_duckdb(path)
                version, nfiles = expected_version, expected_files
            else:
                version, nfiles, data = reader(path)
            problems += check_arrow_schema(data.schema, who)
            if version != expected_version:
                problems.append(f"version {version}, expected {expected_version}")
            if nfiles != expected_files:
                problems.append(f"{nfiles} active files, expected {expected_files}")
            if not problems:
                got = from_arrow(data)
                if got != expected:
                    missing = sorted(set(expected) - set(got))[:3]
                    extra = sorted(set(got) - set(expected))[:3]
                    problems.append(
                        f"{len(got)} rows, expected {len(expected)}; missing e.g. {missing}; unexpected e.g. {extra}"
                    )
        except Exception as e:  # a reader that cannot read the table at all is a failure, with its reason
            problems.append(f"{type(e).__name__}: {e}")
        report(who, problems)
    print(f"readers: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
