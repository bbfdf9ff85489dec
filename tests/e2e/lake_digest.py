"""Reads every table of a smartcity lake with three readers and prints one digest per table.

  python lake_digest.py LAKE_DIR LAKE_DIGEST_BINARY > digest.json

Readers: ours (LAKE_DIGEST_BINARY: our Delta log replay + DuckDB over exactly the committed files,
which must all exist with the logged sizes), the Python `deltalake` package (delta-rs), and DuckDB's
delta extension (delta_scan). The three must agree on every table, and no table may hold a row key
twice, else exit 1. The digest per table: rows, distinct row keys, and an order-independent hash of
every row's content except processing-time columns (receivedAt, a late event's watermark/lateness),
so two lakes built from the same input in different runs (crashes, restarts) can be compared.
Prints {"table": {"rows": n, "keys": n, "hash": "..."}, ...} on stdout.
"""
import glob
import json
import os
import subprocess
import sys

import duckdb
from deltalake import DeltaTable

TABLES = ["vehicle_data", "gps_data", "traffic_data", "weather_data", "emergency_data", "enriched_data",
          "_dead_letters", "_late_events"]
KEYS = {"enriched_data": ["_vehiclePartition", "_vehicleOffset", "_weatherPartition", "_weatherOffset",
                          "_emergencyPartition", "_emergencyOffset"],
        "_dead_letters": ["topic", "partition", "offset"],
        "_late_events": ["topic", "partition", "offset"]}
SKIP = {"receivedAt", "watermark", "latenessMicros", "date"}


def digest_sql(table, schema):
    """The digest query over {rel}; schema is [(name, is_timestamp)]."""
    parts = []
    for name, is_ts in schema:
        if name in SKIP:
            continue
        col = f'"{name}"'
        expr = f"epoch_us({col})::VARCHAR" if is_ts else f"{col}::VARCHAR"
        parts.append(f"coalesce({expr}, '<null>')")
    keys = ", ".join(f'"{k}"' for k in KEYS.get(table, ["_partition", "_offset"]))
    return (f"SELECT count(*)::VARCHAR, count(DISTINCT ({keys}))::VARCHAR, "
            f"coalesce(sum(hash(concat_ws('|', {', '.join(parts)}))::HUGEINT), 0)::VARCHAR FROM {{rel}}")


def delta_extension():
    found = glob.glob(os.path.join(os.path.dirname(duckdb.__file__), "..", "duckdb_ext", "extensions", "*", "*",
                                   "delta.duckdb_extension"))
    if not found:
        sys.exit("delta.duckdb_extension not found: is duckdb-ext-delta installed (scripts/pyenv.sh)?")
    return found[0]


def main():
    lake, ours_bin = sys.argv[1], sys.argv[2]
    con = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
    con.execute(f"LOAD '{delta_extension()}'")
    con.execute("SET TimeZone='UTC'")
    out, bad = {}, []
    for t in TABLES:
        path = os.path.join(lake, t)
        if not os.path.isdir(os.path.join(path, "_delta_log")):
            bad.append(f"{t}: no Delta table")
            continue
        arrow = DeltaTable(path).to_pyarrow_table()
        schema = [(f.name, str(f.type).startswith("timestamp")) for f in arrow.schema]
        sql = digest_sql(t, schema)
        results = {}
        if arrow.num_rows == 0:
            results["deltalake"] = ("0", "0", "0")
        else:
            con.register("dl", arrow)
            results["deltalake"] = tuple(con.execute(sql.replace("{rel}", "dl")).fetchone())
            con.unregister("dl")
        scanned = con.execute(f"SELECT count(*) FROM delta_scan('{path}')").fetchone()[0]
        results["duckdb delta_scan"] = (tuple(con.execute(sql.replace("{rel}", f"delta_scan('{path}')")).fetchone())
                                        if scanned else ("0", "0", "0"))
        r = subprocess.run([ours_bin, lake, t, sql], capture_output=True, text=True)
        if r.returncode != 0:
            bad.append(f"{t}: our reader failed: {r.stderr.strip()}")
            continue
        line = r.stdout.strip()
        results["ours"] = ("0", "0", "0") if line == "EMPTY" else tuple(line.split("\t"))
        if len(set(results.values())) != 1:
            bad.append(f"{t}: readers disagree: {results}")
            continue
        rows, keys, h = results["ours"]
        if rows != keys:
            bad.append(f"{t}: {rows} rows but {keys} distinct keys (duplicates)")
        out[t] = {"rows": int(rows), "keys": int(keys), "hash": h}
    print(json.dumps(out, sort_keys=True))
    if bad:
        for b in bad:
            print("lake_digest: " + b, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
