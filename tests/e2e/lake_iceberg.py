"""Reads every table of a smartcity lake as Apache Iceberg with two independent readers and checks
they see exactly what the Delta readers see.

  python lake_iceberg.py LAKE_DIR DIGEST_JSON
  python lake_iceberg.py LAKE_DIR --lagging     names the tables whose Iceberg metadata lags their Delta
                                                log (after a crash); exits 1 if none does

DIGEST_JSON: tests/e2e/lake_digest.py's output for LAKE_DIR (the Delta readers agreed on it).
Readers: pyiceberg (StaticTable from the newest metadata file) and DuckDB's iceberg extension
(iceberg_scan of the same file). Per table: the same digest (rows, distinct keys, content hash),
the same rows per date partition (the date column is not in the data files: Iceberg readers take it
from the manifests' partition tuples), the Iceberg snapshot mirrors the Delta table's version, and
the schema and partition spec pyiceberg reports match the Delta schema (names, order, types,
nullability; identity on each Delta partition column). Prints one line, or names each difference
and exits 1.
"""
import glob
import json
import os
import sys

import duckdb
from deltalake import DeltaTable
from pyiceberg.table import StaticTable
from pyiceberg import types as it

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lake_digest import TABLES, digest_sql  # noqa: E402

DELTA_TO_ICEBERG = {"string": it.StringType(), "integer": it.IntegerType(), "long": it.LongType(),
                    "double": it.DoubleType(), "timestamp": it.TimestamptzType(),
                    "boolean": it.BooleanType(), "date": it.DateType()}


def extension(name):
    found = glob.glob(os.path.join(os.path.dirname(duckdb.__file__), "..", "duckdb_ext", "extensions", "*", "*",
                                   f"{name}.duckdb_extension"))
    if not found:
        sys.exit(f"{name}.duckdb_extension not found: is duckdb-ext-{name} installed (scripts/pyenv.sh)?")
    return found[0]


def newest_metadata(path):
    meta = os.path.join(path, "metadata")
    hint = int(open(os.path.join(meta, "version-hint.text")).read().strip())
    while os.path.exists(os.path.join(meta, f"v{hint + 1}.metadata.json")):
        hint += 1
    return os.path.join(meta, f"v{hint}.metadata.json")


def mirrored_version(path):
    """The Delta version the newest Iceberg metadata of the table at `path` mirrors (-1: none)."""
    md = json.load(open(newest_metadata(path)))
    for s in md.get("snapshots", []):
        if s["snapshot-id"] == md.get("current-snapshot-id"):
            return int(s["summary"].get("smartcity.delta-version", "-1"))
    return -1


def lagging(lake):
    behind = []
    for t in TABLES:
        path = os.path.join(lake, t)
        if not os.path.isdir(os.path.join(path, "_delta_log")):
            continue
        mirrored, version = mirrored_version(path), DeltaTable(path).version()
        if mirrored < version:
            behind.append(f"{t} (Iceberg mirrors {mirrored}, Delta is at {version})")
    if not behind:
        sys.exit("no table's Iceberg metadata lags its Delta log")
    print("lagging: " + ", ".join(behind))


def main():
    if sys.argv[2] == "--lagging":
        lagging(sys.argv[1])
        return
    lake, want = sys.argv[1], json.load(open(sys.argv[2]))
    con = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
    # The iceberg extension reads manifests through the avro extension: load that first.
    con.execute(f"LOAD '{extension('avro')}'")
    con.execute(f"LOAD '{extension('iceberg')}'")
    con.execute("SET TimeZone='UTC'")
    bad, rows = [], 0
    for t in TABLES:
        path = os.path.join(lake, t)
        if not os.path.exists(os.path.join(path, "metadata", "version-hint.text")):
            bad.append(f"{t}: no Iceberg metadata")
            continue
        delta = DeltaTable(path)
        metadata_file = newest_metadata(path)
        table = StaticTable.from_metadata("file://" + os.path.abspath(metadata_file))

        # The snapshot mirrors the Delta version the Delta readers read.
        mirrored = mirrored_version(path)
        if mirrored != delta.version():
            bad.append(f"{t}: the Iceberg snapshot mirrors Delta version {mirrored}, the log is at {delta.version()}")

        # Schema and partition spec.
        dfields = delta.schema().fields
        ifields = table.schema().fields
        got = [(f.name, f.field_type, not f.required) for f in ifields]
        parts = delta.metadata().partition_columns
        # Partition columns are optional in Iceberg (docs/lake_format.md, "Iceberg metadata").
        expect = [(f.name, DELTA_TO_ICEBERG.get(str(f.type.type) if hasattr(f.type, "type") else str(f.type)),
                   f.nullable or f.name in parts) for f in dfields]
        if got != expect:
            bad.append(f"{t}: Iceberg schema {got} != Delta schema {expect}")
        ids = {f.name: f.field_id for f in ifields}
        spec = [(p.name, str(p.transform), p.source_id) for p in table.spec().fields]
        want_spec = [(c, "identity", ids.get(c)) for c in parts]
        if spec != want_spec:
            bad.append(f"{t}: partition spec {spec} != identity on {want_spec}")

        # The rows, by both readers.
        arrow = table.scan().to_arrow()
        schema = [(f.name, str(f.type).startswith("timestamp")) for f in arrow.schema]
        sql = digest_sql(t, schema)
        w = want[t]
        w = (str(w["rows"]), str(w["keys"]), w["hash"])
        results = {}
        if arrow.num_rows == 0:
            results["pyiceberg"] = ("0", "0", "0")
        else:
            con.register("ice", arrow)
            results["pyiceberg"] = tuple(con.execute(sql.replace("{rel}", "ice")).fetchone())
        scan = f"iceberg_scan('{os.path.abspath(metadata_file)}')"
        n = con.execute(f"SELECT count(*) FROM {scan}").fetchone()[0]
        results["duckdb iceberg_scan"] = tuple(con.execute(sql.replace("{rel}", scan)).fetchone()) if n else ("0", "0", "0")
        for reader, r in results.items():
            if r != w:
                bad.append(f"{t}: {reader} {r} != Delta readers {w}")

        # Rows per date partition (values from the manifests' partition tuples).
        if "date" in [f.name for f in dfields] and arrow.num_rows:
            con.register("dl", delta.to_pyarrow_table(columns=["date"]))
            delta_dates = dict(con.execute("SELECT date, count(*) FROM dl GROUP BY date").fetchall())
            con.unregister("dl")
            ice_dates = dict(con.execute("SELECT date, count(*) FROM ice GROUP BY date").fetchall())
            duck_dates = dict(con.execute(f"SELECT date, count(*) FROM {scan} GROUP BY date").fetchall())
            if not (delta_dates == ice_dates == duck_dates):
                bad.append(f"{t}: rows per date: Delta {delta_dates}, pyiceberg {ice_dates}, DuckDB {duck_dates}")
        if arrow.num_rows:
            con.unregister("ice")
        rows += int(w[0])
    if bad:
        sys.exit("\n".join(bad))
    print(f"{len(TABLES)} tables, {rows} rows: pyiceberg and DuckDB iceberg_scan read what the Delta readers read; "
          f"schemas and partition specs match")


if __name__ == "__main__":
    main()
