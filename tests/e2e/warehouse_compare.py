"""Compares a warehouse table with the lake table it was loaded from, row for row.

  warehouse_compare.py <lake_dir> <table> postgres            (psql with the PG* variables)
  warehouse_compare.py <lake_dir> <table> duckdb:<file>

The lake is read with the `deltalake` package (an independent Delta reader); the warehouse with psql
or the duckdb package. Values are compared in a canonical form: timestamps as epoch microseconds,
doubles as Python floats (both sides print the shortest exact form), everything else as text.
Prints "<table>: N rows identical" or the differences, and exits 1 on any difference.
"""
import collections
import subprocess
import sys

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

lake, table, target = sys.argv[1], sys.argv[2], sys.argv[3]

dt = DeltaTable(f"{lake}/{table}")
arrow = dt.to_pyarrow_table()
cols = arrow.column_names
kinds = {}
canon_cols = []
for name in cols:
    col = arrow.column(name)
    t = col.type
    if pa.types.is_timestamp(t):
        kinds[name] = "ts"
        col = pc.cast(pc.cast(col, pa.timestamp("us", tz="UTC")), pa.int64())
    elif pa.types.is_floating(t):
        kinds[name] = "f"
    elif pa.types.is_integer(t):
        kinds[name] = "i"
    elif pa.types.is_boolean(t):
        kinds[name] = "b"
    else:
        kinds[name] = "s"
        col = pc.cast(col, pa.string())
    canon_cols.append(col.to_pylist())
lake_rows = collections.Counter(zip(*canon_cols)) if canon_cols else collections.Counter()


def q(name):
    return '"' + name.replace('"', '""') + '"'


def parse(kind, text):
    if text is None:
        return None
    if kind in ("ts", "i"):
        return int(text)
    if kind == "f":
        return float(text)
    if kind == "b":
        return text in ("t", "true", "True", True)
    return text


wh_rows = collections.Counter()
if target == "postgres":
    sel = []
    for name in cols:
        if kinds[name] == "ts":
            sel.append(f"(extract(epoch from {q(name)}) * 1000000)::bigint")
        else:
            sel.append(f"{q(name)}::text")
    sql = f"COPY (SELECT {', '.join(sel)} FROM {q(table)}) TO STDOUT WITH (FORMAT csv, NULL '\\N', FORCE_QUOTE *)"
    out = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    import csv
    import io
    for rec in csv.reader(io.StringIO(out)):
        wh_rows[tuple(parse(kinds[n], None if v == "\\N" else v) for n, v in zip(cols, rec))] += 1
    # FORCE_QUOTE quotes every non-NULL value, so an unquoted \N is NULL and a quoted one is text;
    # csv.reader loses that distinction, but none of our values is the two characters \N.
elif target.startswith("duckdb:"):
    import duckdb
    con = duckdb.connect(target[len("duckdb:"):], read_only=True)
    sel = []
    for name in cols:
        if kinds[name] == "ts":
            sel.append(f"epoch_us({q(name)})")
        elif kinds[name] == "s":
            sel.append(f"CAST({q(name)} AS VARCHAR)")
        else:
            sel.append(q(name))
    for rec in con.execute(f"SELECT {', '.join(sel)} FROM {q(table)}").fetchall():
        wh_rows[tuple(rec)] += 1
else:
    sys.exit(f"unknown target {target}")

n_lake = sum(lake_rows.values())
n_wh = sum(wh_rows.values())
if lake_rows == wh_rows:
    print(f"{table}: {n_lake} rows identical")
    sys.exit(0)
missing = lake_rows - wh_rows
extra = wh_rows - lake_rows
print(f"{table}: DIFFERENT: lake {n_lake} rows, warehouse {n_wh}; {sum(missing.values())} lake rows "
      f"missing from the warehouse, {sum(extra.values())} warehouse rows not in the lake")
for r in list(missing)[:3]:
    print("  missing:", r)
for r in list(extra)[:3]:
    print("  extra:  ", r)
sys.exit(1)
