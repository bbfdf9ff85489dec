"""Compares a lake built from poisoned topics (tests/e2e/kafka_copy.py) with the clean reference.

  poison_check.py CLEAN_LAKE POISONED_LAKE STATE.json

Checks: every raw table holds the same records (by content: the copies' offsets differ after a
poisoned record); enriched_data holds the same rows (by content); no table holds a record twice;
`_late_events` is the same; `_dead_letters` of the clean lake is empty and that of the poisoned lake
holds exactly the poisoned records, at their positions, with a reason that starts with "implausible
event time"; no raw table holds a poisoned event time. Prints one line per check; exits 1 on failure.
"""
import json
import sys

import duckdb
from deltalake import DeltaTable

RAW = ["vehicle_data", "gps_data", "traffic_data", "weather_data", "emergency_data"]
PROVENANCE = {"_partition", "_offset", "_vehiclePartition", "_vehicleOffset", "_weatherPartition",
              "_weatherOffset", "_emergencyPartition", "_emergencyOffset"}

clean, poisoned, state_path = sys.argv[1:4]
state = json.load(open(state_path))
con = duckdb.connect()
failures = []


def load(lake, table, name):
    t = DeltaTable(f"{lake}/{table}").to_pyarrow_table()
    con.register(name, t)
    return [c for c in t.column_names if c not in PROVENANCE]


def check(ok, what):
    print(("ok: " if ok else "FAILED: ") + what)
    if not ok:
        failures.append(what)


for table in RAW + ["enriched_data"]:
    cols = load(clean, table, "a")
    load(poisoned, table, "b")
    sel = ", ".join(f'"{c}"' for c in cols)
    n_a = con.execute("SELECT count(*) FROM a").fetchone()[0]
    n_b = con.execute("SELECT count(*) FROM b").fetchone()[0]
    diff = con.execute(f"SELECT count(*) FROM ((SELECT {sel} FROM a EXCEPT ALL SELECT {sel} FROM b) "
                       f"UNION ALL (SELECT {sel} FROM b EXCEPT ALL SELECT {sel} FROM a))").fetchone()[0]
    check(n_a == n_b and diff == 0 and n_a > 0,
          f"{table}: {n_b} rows, the same as the clean run's {n_a} ({diff} differ)")
    if table in RAW:
        dup = con.execute("SELECT count(*) FROM (SELECT _partition, _offset FROM b "
                          "GROUP BY ALL HAVING count(*) > 1)").fetchone()[0]
        bad = con.execute("SELECT count(*) FROM b WHERE year(timestamp) IN (1970, 2100)").fetchone()[0]
        check(dup == 0 and bad == 0, f"{table}: no record twice, no poisoned event time")

load(clean, "_late_events", "la")
load(poisoned, "_late_events", "lb")
late_a = con.execute("SELECT count(*) FROM la").fetchone()[0]
late_b = con.execute("SELECT count(*) FROM lb").fetchone()[0]
check(late_a == late_b, f"_late_events: {late_b} rows, as in the clean run ({late_a})")

try:
    load(clean, "_dead_letters", "da")
    clean_dead = con.execute("SELECT count(*) FROM da").fetchone()[0]
except Exception:  # no table: nothing was ever written to it
    clean_dead = 0
check(clean_dead == 0, "clean run: no dead letters")
load(poisoned, "_dead_letters", "db")
got = sorted(con.execute("SELECT topic, partition, \"offset\", reason FROM db").fetchall())
want = sorted((p["topic"], p["partition"], p["offset"]) for p in state["poison"])
check([g[:3] for g in got] == want, f"poisoned run: _dead_letters holds exactly the poisoned records {want}: {got}")
for topic, partition, offset, reason in got:
    check(reason.startswith("implausible event time"), f"{topic}[{partition}]@{offset}: {reason}")

if failures:
    sys.exit(f"{len(failures)} checks failed")
