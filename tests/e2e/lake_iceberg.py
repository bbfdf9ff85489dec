"""Reads every table of a smartcity lake as Apache Iceberg with two independent readers and checks
they see exactly what the Delta readers see.

  python lake_iceberg.py LAKE DIGEST_JSON
  python lake_iceberg.py LAKE --delta          the Delta side read here by the deltalake package
  python lake_iceberg.py LAKE --lagging        names the tables whose Iceberg metadata lags their Delta
                                               log (after a crash); exits 1 if none does

LAKE: a folder, or s3://bucket/prefix on the server AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY name (MinIO in the tests). DIGEST_JSON: tests/e2e/lake_digest.py's output for a
local LAKE (the Delta readers agreed on it).
Readers: pyiceberg (StaticTable from the newest metadata file) and DuckDB's iceberg extension
(iceberg_scan of the same file). Per table: the same digest (rows, distinct keys, content hash),
the same rows per date partition (the date column is not in the data files: Iceberg readers take it
from the manifests' partition tuples), the Iceberg snapshot mirrors the Delta table's version, and
the schema and partition spec pyiceberg reports match the Delta schema (names, order, types,
nullability; identity on each Delta partition column), and every data file's Parquet field ids
(pyarrow) are the Iceberg schema's. Prints one line, or names each difference
and exits 1.
"""
import glob
import json
import os
import sys

import duckdb
import pyarrow.fs
import pyarrow.parquet
from deltalake import DeltaTable
from pyiceberg import types as it
from pyiceberg.table import StaticTable

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


class Lake:
    """A local or S3 lake: where each reader finds a table's objects."""

    def __init__(self, root):
        self.root = root.rstrip("/")
        self.s3 = self.root.startswith("s3://")
        if self.s3:
            endpoint = os.environ["AWS_ENDPOINT_URL"]
            self.endpoint = endpoint.split("://", 1)[1]
            self.key, self.secret = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
            self.region = os.environ.get("AWS_REGION", "us-east-1")
            self.fs = pyarrow.fs.S3FileSystem(endpoint_override=self.endpoint, scheme="http", access_key=self.key,
                                              secret_key=self.secret, region=self.region)
        else:
            self.root = os.path.abspath(self.root)
            self.fs = pyarrow.fs.LocalFileSystem()

    def path(self, table, *rest):
        return "/".join([self.root, table, *rest])

    def _fs_path(self, path):
        return path[len("s3://"):] if self.s3 else path

    def exists(self, path):
        return self.fs.get_file_info(self._fs_path(path)).type != pyarrow.fs.FileType.NotFound

    def read(self, path):
        with self.fs.open_input_file(self._fs_path(path)) as f:
            return f.read().decode()

    def uri(self, path):  # for pyiceberg
        return path if self.s3 else "file://" + path

    def delta(self, table):
        opts = None
        if self.s3:
            opts = {"AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"], "AWS_ACCESS_KEY_ID": self.key,
                    "AWS_SECRET_ACCESS_KEY": self.secret, "AWS_REGION": self.region, "AWS_ALLOW_HTTP": "true"}
        return DeltaTable(self.path(table), storage_options=opts)

    def pyiceberg_properties(self):
        if not self.s3:
            return {}
        return {"s3.endpoint": os.environ["AWS_ENDPOINT_URL"], "s3.access-key-id": self.key,
                "s3.secret-access-key": self.secret, "s3.region": self.region}

    def setup_duckdb(self, con):
        if self.s3:
            con.execute(f"LOAD '{extension('httpfs')}'")
            con.execute(f"CREATE SECRET (TYPE s3, KEY_ID '{self.key}', SECRET '{self.secret}', REGION "
                        f"'{self.region}', ENDPOINT '{self.endpoint}', URL_STYLE 'path', USE_SSL false)")


def newest_metadata(lake, table):
    hint = int(lake.read(lake.path(table, "metadata", "version-hint.text")).strip())
    while lake.exists(lake.path(table, "metadata", f"v{hint + 1}.metadata.json")):
        hint += 1
    return lake.path(table, "metadata", f"v{hint}.metadata.json")


def mirrored_version(lake, table):
    """The Delta version the newest Iceberg metadata of the table mirrors (-1: none)."""
    md = json.loads(lake.read(newest_metadata(lake, table)))
    for s in md.get("snapshots", []):
        if s["snapshot-id"] == md.get("current-snapshot-id"):
            return int(s["summary"].get("smartcity.delta-version", "-1"))
    return -1


def lagging(lake):
    behind = []
    for t in TABLES:
        if not lake.exists(lake.path(t, "metadata", "version-hint.text")):
            continue
        mirrored, version = mirrored_version(lake, t), lake.delta(t).version()
        if mirrored < version:
            behind.append(f"{t} (Iceberg mirrors {mirrored}, Delta is at {version})")
    if not behind:
        sys.exit("no table's Iceberg metadata lags its Delta log")
    print("lagging: " + ", ".join(behind))


def main():
    lake = Lake(sys.argv[1])
    if sys.argv[2] == "--lagging":
        lagging(lake)
        return
    want = None if sys.argv[2] == "--delta" else json.load(open(sys.argv[2]))
    con = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
    # The iceberg extension reads manifests through the avro extension: load that first.
    con.execute(f"LOAD '{extension('avro')}'")
    con.execute(f"LOAD '{extension('iceberg')}'")
    con.execute("SET TimeZone='UTC'")
    lake.setup_duckdb(con)
    bad, rows = [], 0
    for t in TABLES:
        if not lake.exists(lake.path(t, "metadata", "version-hint.text")):
            bad.append(f"{t}: no Iceberg metadata")
            continue
        delta = lake.delta(t)
        metadata_file = newest_metadata(lake, t)
        table = StaticTable.from_metadata(lake.uri(metadata_file), properties=lake.pyiceberg_properties())

        # The snapshot mirrors the Delta version the Delta readers read.
        mirrored = mirrored_version(lake, t)
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

        # Every data file of the snapshot carries the Iceberg field ids as its Parquet field ids
        # (read by pyarrow, from the file's own schema).
        for task in table.scan().plan_files():
            path = task.file.file_path
            with lake.fs.open_input_file(lake._fs_path(path[len("file://"):] if path.startswith("file://") else path)) as f:
                fschema = pyarrow.parquet.ParquetFile(f).schema_arrow
            got_ids = {f.name: int(f.metadata[b"PARQUET:field_id"]) if f.metadata and b"PARQUET:field_id" in f.metadata
                       else None for f in fschema}
            want_ids = {name: ids.get(name) for name in got_ids}
            if got_ids != want_ids:
                bad.append(f"{t}: {path} has Parquet field ids {got_ids}, the Iceberg schema {want_ids}")
                break

        # The rows, by both readers.
        arrow = table.scan().to_arrow()
        schema = [(f.name, str(f.type).startswith("timestamp")) for f in arrow.schema]
        sql = digest_sql(t, schema)
        if want is None:  # the Delta side, read here by the deltalake package
            darrow = delta.to_pyarrow_table()
            con.register("dl", darrow)
            w = tuple(con.execute(sql.replace("{rel}", "dl")).fetchone()) if darrow.num_rows else ("0", "0", "0")
            con.unregister("dl")
        else:
            w = (str(want[t]["rows"]), str(want[t]["keys"]), want[t]["hash"])
        results = {}
        if arrow.num_rows == 0:
            results["pyiceberg"] = ("0", "0", "0")
        else:
            con.register("ice", arrow)
            results["pyiceberg"] = tuple(con.execute(sql.replace("{rel}", "ice")).fetchone())
        scan = f"iceberg_scan('{metadata_file}')"
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
