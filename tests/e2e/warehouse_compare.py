"""Compares a warehouse table with the lake table it was loaded from, row for row.

  warehouse_compare.py <lake_dir> <table> postgres            (psql with the PG* variables)
  warehouse_compare.py <lake_dir> <table> duckdb:<file>

The lake is read with the `deltalake` package (an independent Delta reader); the warehouse with psql
or the duckdb package. Values are compared in a canonical form: timestamps as epoch microseconds,
doubles as Python floats (both sides print the shortest exact form), everything else as text.
Prints "<table>: N rows identical" or the differences, and exits 1 on any difference.

The warehouse's columns are found by the names docs/warehouse.md gives them (snake_case, a reserved
word with a trailing underscore), spelled here independently of the loader; a table that kept the
lake's names (created before those names) is read by the lake's names.
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


# PostgreSQL's reserved key words (those that cannot name a column unquoted) and Redshift's reserved
# words, as their manuals list them.
RESERVED = set("""
all analyse analyze and any array as asc asymmetric both case cast check collate column constraint
create current_catalog current_date current_role current_time current_timestamp current_user default
deferrable desc distinct do else end except false fetch for foreign from grant group having in
initially intersect into lateral leading limit localtime localtimestamp not null offset on only or
order placing primary references returning select session_user some symmetric table then to trailing
true union unique user using variadic when where window with authorization binary collation
concurrently cross current_schema freeze full ilike inner is isnull join left like natural notnull
outer overlaps right similar tablesample verbose
aes128 aes256 allowoverwrite az64 backup between blanksasnull bytedict bzip2 credentials
current_user_id deflate defrag delta delta32k disable emptyasnull enable encode encrypt encryption
explicit globaldict256 globaldict64k gzip identity ignore interval lun luns lzo lzop minus mostly16
mostly32 mostly8 new nulls off offline oid old open parallel partition percent permissions pivot raw
readratio recover rejectlog resort respect restore snapshot sysdate system tag tdes text255 text32k
timestamp top truncatecolumns unnest unpivot wallet without
""".split())


def warehouse_name(name):
    import re
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()
    s = re.sub(r"[^a-z0-9_]", "_", s)
    if not s or s[0].isdigit():
        s = "_" + s
    return s + "_" if s in RESERVED else s


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
wh_cols = [warehouse_name(n) for n in cols]
assert len(set(wh_cols)) == len(wh_cols), f"names collide: {wh_cols}"


def column_names(found):
    """The warehouse columns to read: the warehouse names, or the lake's in an old table."""
    if all(n in found for n in wh_cols):
        return wh_cols
    if all(n in found for n in cols):
        return cols
    sys.exit(f"{table}: the warehouse columns {sorted(found)} are neither the warehouse names "
             f"{wh_cols} nor the lake's {cols}")


if target == "postgres":
    found = subprocess.run(["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-c",
                            f"SELECT column_name FROM information_schema.columns WHERE table_name = '{table}'"],
                           check=True, capture_output=True, text=True).stdout.split("\n")
    names = dict(zip(cols, column_names(set(found))))
    sel = []
    for name in cols:
        if kinds[name] == "ts":
            sel.append(f"(extract(epoch from {q(names[name])}) * 1000000)::bigint")
        else:
            sel.append(f"{q(names[name])}::text")
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
    found = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()}
    names = dict(zip(cols, column_names(found)))
    sel = []
    for name in cols:
        if kinds[name] == "ts":
            sel.append(f"epoch_us({q(names[name])})")
        elif kinds[name] == "s":
            sel.append(f"CAST({q(names[name])} AS VARCHAR)")
        else:
            sel.append(q(names[name]))
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
