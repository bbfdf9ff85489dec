"""Exactly once against what Kafka acknowledged: per topic, the raw table's rows plus the topic's dead
letters equal the events the simulator had delivered.

  lake_counts.py DIGEST_JSON SIM_SUMMARY_JSON LAKE

DIGEST_JSON: lake_digest.py's output for LAKE (rows per table); SIM_SUMMARY_JSON: `simulate
--summary-json` (delivered per topic). Prints one line and exits 0, or names each difference and
exits 1. Also fails when no dead letter was written (the simulators here inject bad events) or
enriched_data is empty.
"""
import json
import sys

import duckdb
from deltalake import DeltaTable

d = json.load(open(sys.argv[1]))
sim = json.load(open(sys.argv[2]))
lake = sys.argv[3]
dl = DeltaTable(lake + "/_dead_letters").to_pyarrow_table()
con = duckdb.connect()
con.register("dl", dl)
dead = dict(con.execute("SELECT topic, count(*) FROM dl GROUP BY topic").fetchall())
bad = []
for topic, t in sim["topics"].items():
    got = d[topic]["rows"] + dead.get(topic, 0)
    if got != t["delivered"]:
        bad.append(f"{topic}: {d[topic]['rows']} rows + {dead.get(topic, 0)} dead letters != "
                   f"{t['delivered']} delivered")
if sum(dead.values()) == 0:
    bad.append("no dead letters although bad events were produced")
if d["enriched_data"]["rows"] == 0:
    bad.append("enriched_data is empty")
if bad:
    sys.exit("\n".join(bad))
print(f"per topic raw + dead letters == delivered; {sum(dead.values())} dead letters; "
      f"{d['enriched_data']['rows']} enriched rows")
