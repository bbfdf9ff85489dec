#!/usr/bin/env python3
"""Runs one smartcity pipeline command (`run` or `stream`) and samples it, for the soak benchmark
(bench/soak.sh).

  soak_sample.py --out samples.csv --lake LAKE --log stderr.log [--interval S] [--phase NAME]
                 [--city-start ISO] -- smartcity run|stream ... --listen 127.0.0.1:0 ...

The command's stderr goes to --log (its progress lines and the live view's URL are read from there);
SIGINT and SIGTERM are forwarded to it. Every --interval seconds of wall time one CSV row:
  wall_s, city_time, city_days   wall seconds since the start; the city (event) time reached: the
                                 `run` progress line's simulator time, else the newest event time
                                 of /api/status; days of it since --city-start
  rss_mib, hwm_mib               VmRSS and VmHWM (the peak so far) of the process; the last row
                                 (after the exit) has the kernel's peak (rusage) and no VmRSS
  cpu_pct, cpu_s                 CPU (user + system) over the last interval, % of one core; total
  records, events_per_s          events processed (/api/status), and their rate over the interval
  lag_records                    records behind, summed over the inputs (/api/status "inputs")
  lag_city_s                     city time reached minus the watermark (slowest group), seconds
  wh_lag_versions                lake versions the warehouse has not loaded yet (/api/status
                                 "loadTables"[].lagVersions, summed)
  wh_lag_rows                    enriched_data rows committed to the lake minus rows loaded into
                                 the warehouse by this process
  wh_load_age_s                  seconds since the warehouse's last load
  wh_status                      any top-level /api/status field whose name contains "warehouse"
                                 (a warehouse lag figure, when the build reports one), as JSON
  data_files, max_files_per_partition, partitions
                                 Parquet data files on disk under the lake's tables (replaced files
                                 not yet vacuumed included), the most in one date partition of one
                                 table, and the number of date partitions
  files_<table>, maxpart_<table> the same per table
  log_objects, max_log_objects   _delta_log objects over all tables, and the most in one table
  log_oldest_age_s               the age (wall seconds, by modification time) of the oldest
                                 _delta_log object of any table: the log clean-up bounds it by the
                                 log retention, whatever the commit rate
  checkpoint_bytes               bytes under _checkpoints/ (processor offsets and state)
  lake_bytes                     bytes of the whole lake
Exits with the command's exit code; the last row is taken after it exited (lake counts only).
"""
import argparse
import csv
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

TICK = os.sysconf("SC_CLK_TCK")
TABLES = ["vehicle_data", "gps_data", "traffic_data", "weather_data", "emergency_data",
          "enriched_data", "_dead_letters", "_late_events"]
URL_RE = re.compile(r"live view at (http://[0-9.:]+/)")
RUN_RE = re.compile(r"^run (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) \|")


def parse_time(s):
    s = s.rstrip("Z").replace("Z", "")
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.datetime.strptime(s, fmt).replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            pass
    return None


def proc_sample(pid):
    rss = hwm = None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) / 1024
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        cpu = (int(rest[11]) + int(rest[12])) / TICK
    except (OSError, IndexError, ValueError):
        return None
    if hwm is None:  # exited, not yet reaped: its status has no memory lines (the next pass reaps)
        return None
    return rss, hwm, cpu


def lake_sample(lake):
    out = {"data_files": 0, "max_files_per_partition": 0, "partitions": 0, "log_objects": 0,
           "max_log_objects": 0, "log_oldest_age_s": None, "checkpoint_bytes": 0, "lake_bytes": 0}
    now = time.time()
    for t in TABLES:
        files = maxpart = 0
        tdir = os.path.join(lake, t)
        for dirpath, dirnames, filenames in os.walk(tdir):
            rel = os.path.relpath(dirpath, tdir)
            sizes = 0
            oldest = None
            for n in filenames:
                try:
                    st = os.stat(os.path.join(dirpath, n))
                except OSError:
                    continue
                sizes += st.st_size
                oldest = st.st_mtime if oldest is None else min(oldest, st.st_mtime)
            out["lake_bytes"] += sizes
            if rel.split(os.sep)[0] == "_delta_log":
                if oldest is not None:
                    age = round(now - oldest, 1)
                    out["log_oldest_age_s"] = max(out["log_oldest_age_s"] or 0, age)
                out["log_objects"] += len(filenames)
                out["max_log_objects"] = max(out["max_log_objects"], len(filenames))
                continue
            n = sum(1 for f in filenames if f.endswith(".parquet"))
            files += n
            if os.path.basename(dirpath).startswith("date="):
                out["partitions"] += 1
                maxpart = max(maxpart, n)
        out[f"files_{t}"] = files
        out[f"maxpart_{t}"] = maxpart
        out["data_files"] += files
        out["max_files_per_partition"] = max(out["max_files_per_partition"], maxpart)
    for dirpath, _, filenames in os.walk(os.path.join(lake, "_checkpoints")):
        for n in filenames:
            try:
                size = os.stat(os.path.join(dirpath, n)).st_size
            except OSError:
                continue
            out["checkpoint_bytes"] += size
            out["lake_bytes"] += size
    return out


def status_sample(url):
    try:
        with urllib.request.urlopen(url + "api/status", timeout=5) as r:
            s = json.load(r)
    except (OSError, ValueError):
        return None
    out = {"records": s.get("records")}
    behind = [i["recordsBehind"] for i in s.get("inputs", []) if i.get("recordsBehind") is not None]
    out["lag_records"] = sum(behind) if behind else None
    marks = [parse_time(g["watermark"]) for g in s.get("groups", []) if g.get("watermark")]
    newest = [parse_time(g["maxEventTime"]) for g in s.get("groups", []) if g.get("maxEventTime")]
    out["watermark"] = min(marks) if marks else None
    out["newest"] = max(newest) if newest else None
    loads = s.get("loadTables", [])
    out["wh_lag_versions"] = sum(t.get("lagVersions", 0) for t in loads) if loads else None
    loaded = sum(t.get("rows", 0) for t in loads if t.get("table") == "enriched_data")
    committed = s.get("rowsCommitted", {}).get("enriched_data")
    out["wh_lag_rows"] = committed - loaded if loads and committed is not None else None
    last = [parse_time(t["lastLoadAt"]) for t in loads if t.get("lastLoadAt")]
    now = parse_time(s["now"]) if s.get("now") else None
    out["wh_load_age_s"] = (now - max(last)).total_seconds() if last and now else None
    extra = {k: v for k, v in s.items() if "warehouse" in k.lower()}
    out["wh_status"] = json.dumps(extra, separators=(",", ":")) if extra else ""
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--lake", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--interval", type=float, default=10)
    p.add_argument("--phase", default="run")
    p.add_argument("--city-start", default="2026-01-05T07:00:00")
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.command[1:] if a.command and a.command[0] == "--" else a.command
    if not cmd:
        sys.exit("soak_sample: no command")
    city_start = parse_time(a.city_start)
    log = open(a.log, "w")
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stderr=log, stdout=subprocess.DEVNULL)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: proc.send_signal(signum))
    cols = ["phase", "wall_s", "city_time", "city_days", "rss_mib", "hwm_mib", "cpu_pct", "cpu_s",
            "records", "events_per_s", "lag_records", "lag_city_s", "wh_lag_versions", "wh_lag_rows",
            "wh_load_age_s", "data_files", "max_files_per_partition", "partitions", "log_objects",
            "max_log_objects", "log_oldest_age_s", "checkpoint_bytes", "lake_bytes"]
    cols += [f"files_{t}" for t in TABLES] + [f"maxpart_{t}" for t in TABLES] + ["wh_status"]
    out = open(a.out, "w", newline="")
    w = csv.DictWriter(out, fieldnames=cols, extrasaction="ignore")
    w.writeheader()
    url = None
    log_pos = 0
    city = None
    prev_wall, prev_cpu, prev_records = 0.0, 0.0, None
    last_row = {}
    done = False
    while not done:
        deadline = time.monotonic() + a.interval
        while time.monotonic() < deadline:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                final_hwm, final_cpu = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
                done = True
                break
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        wall = time.monotonic() - t0
        # New stderr lines: the live view's URL, the `run` progress line's simulator time.
        with open(a.log, errors="replace") as f:
            f.seek(log_pos)
            chunk = f.read()
            cut = chunk.rfind("\n") + 1
            log_pos += len(chunk[:cut].encode("utf-8", errors="replace"))
            for line in chunk[:cut].splitlines():
                m = URL_RE.search(line)
                if m and url is None:
                    url = m.group(1)
                m = RUN_RE.match(line)
                if m:
                    city = parse_time(m.group(1))
        row = {"phase": a.phase, "wall_s": f"{wall:.1f}"}
        ps = (None, final_hwm, final_cpu) if done else proc_sample(proc.pid)
        if ps:
            rss, hwm, cpu = ps
            if rss is not None:
                row["rss_mib"] = f"{rss:.1f}"
            row.update(hwm_mib=f"{hwm:.1f}", cpu_s=f"{cpu:.2f}",
                       cpu_pct=f"{100 * (cpu - prev_cpu) / max(wall - prev_wall, 1e-9):.0f}")
            prev_cpu = cpu
        st = status_sample(url) if url and not done else None
        if st:
            now = city
            if now is None or (st["newest"] and a.phase != "run"):
                now = st["newest"]
            if st["records"] is not None:
                row["records"] = st["records"]
                if prev_records is not None:
                    row["events_per_s"] = f"{(st['records'] - prev_records) / max(wall - prev_wall, 1e-9):.0f}"
                prev_records = st["records"]
            for k in ("lag_records", "wh_lag_versions", "wh_lag_rows", "wh_status"):
                if st[k] is not None:
                    row[k] = st[k]
            if st["wh_load_age_s"] is not None:
                row["wh_load_age_s"] = f"{st['wh_load_age_s']:.1f}"
            if now and st["watermark"]:
                row["lag_city_s"] = f"{max(0.0, (now - st['watermark']).total_seconds()):.0f}"
        else:
            now = city
        if now:
            row["city_time"] = now.strftime("%Y-%m-%dT%H:%M:%S")
            row["city_days"] = f"{(now - city_start).total_seconds() / 86400:.4f}"
        elif done and last_row.get("city_time"):
            row["city_time"], row["city_days"] = last_row["city_time"], last_row["city_days"]
        row.update(lake_sample(a.lake))
        prev_wall = wall
        w.writerow(row)
        out.flush()
        last_row = row
    rc = proc.returncode
    log.close()
    sys.exit(rc if rc >= 0 else 128 - rc)


if __name__ == "__main__":
    main()
