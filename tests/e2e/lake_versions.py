"""Prints "<newest version> <newest version with rows>" of a lake table's Delta log.

  lake_versions.py <lake_dir> <table>

A version "with rows" adds a file with dataChange=true; an epoch without rows for the table, a
compaction (dataChange=false) or a table creation does not. The warehouse loader's bookkeeping
reaches the second while it follows the lake, and the first after a settling pass (a stop, or
`load --once`). -1 when there is none.
"""
import json
import os
import sys

log = os.path.join(sys.argv[1], sys.argv[2], "_delta_log")
newest, with_rows = -1, -1
for name in os.listdir(log) if os.path.isdir(log) else []:
    if not name.endswith(".json") or name.startswith("_"):
        continue
    try:
        v = int(name[:-5])
    except ValueError:
        continue
    newest = max(newest, v)
    if v <= with_rows:
        continue
    with open(os.path.join(log, name)) as f:
        for line in f:
            action = json.loads(line) if line.strip() else {}
            if action.get("add", {}).get("dataChange"):
                with_rows = v
                break
print(newest, with_rows)
