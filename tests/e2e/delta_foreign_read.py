"""The row keys of Delta tables as the Python `deltalake` package (delta-rs) and DuckDB's delta extension
(delta_scan) read them, for tests/e2e/delta_foreign.py (which runs in Spark's venv, not this one).

  python delta_foreign_read.py TABLE_DIR...   prints {"TABLE_DIR": {"deltalake": [[p, o], ...],
                                                       "duckdb": [[p, o], ...],
                                                       "protocol": [reader, writer, [features], [features]]}}

A row's key is (_partition, _offset), sorted; the protocol is deltalake's. A reader that fails gives
{"error": "..."} instead (the deltalake package refuses tables with the reader feature deletionVectors).
"""
import glob
import json
import os
import sys

import duckdb
from deltalake import DeltaTable


def delta_extension():
    found = glob.glob(os.path.join(os.path.dirname(duckdb.__file__), "..", "duckdb_ext", "extensions", "*", "*",
                                   "delta.duckdb_extension"))
    if not found:
        sys.exit("delta.duckdb_extension not found: is duckdb-ext-delta installed (scripts/pyenv.sh)?")
    return found[0]


def main():
    con = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
    con.execute(f"LOAD '{delta_extension()}'")
    out = {}
    for path in sys.argv[1:]:
        r = {}
        try:
            p = DeltaTable(path).protocol()
            r["protocol"] = [p.min_reader_version, p.min_writer_version, sorted(p.reader_features or []),
                             sorted(p.writer_features or [])]
        except Exception as e:  # noqa: BLE001
            r["protocol"] = {"error": str(e).splitlines()[0]}
        try:
            t = DeltaTable(path).to_pyarrow_table(columns=["_partition", "_offset"])
            r["deltalake"] = sorted([p, o] for p, o in zip(t.column(0).to_pylist(), t.column(1).to_pylist()))
        except Exception as e:  # noqa: BLE001 - reported, and the driver fails on it
            r["deltalake"] = {"error": str(e).splitlines()[0]}
        try:
            rows = con.execute(f"SELECT _partition, _offset FROM delta_scan('{path}')").fetchall()
            r["duckdb"] = sorted([p, o] for p, o in rows)
        except Exception as e:  # noqa: BLE001
            r["duckdb"] = {"error": str(e).splitlines()[0]}
        out[path] = r
    print(json.dumps(out))


if __name__ == "__main__":
    main()
