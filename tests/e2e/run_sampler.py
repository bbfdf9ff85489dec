"""Runs `smartcity run` (its progress lines on stderr give the city time) and samples the process
while it runs: resident memory (VmRSS) and its peak so far (VmHWM) from /proc, and the objects in
every table's _delta_log and the data files of the lake, every 0.2 s of wall time.

  python run_sampler.py OUT.json LAKE MARK -- SMARTCITY run ... --lake LAKE ...

MARK: a city time (YYYY-MM-DDTHH:MM:SS, the progress line's format); the peak so far at the first
sample whose city time has reached it is `hwm_mark_kib`. The process's peak over the whole run
(getrusage of the child) is `hwm_end_kib`. Writes OUT.json:
  {"exit": status, "hwm_mark_kib": n, "hwm_end_kib": n, "city_time_end": "...",
   "max_log_objects": {table: n}, "max_data_files": {table: n},
   "samples": [[wall_s, city_time, rss_kib, hwm_kib, log_objects_total, data_files_total], ...]}
and the child's stderr to OUT.json's name with .log. Exits with the child's status.
"""
import json
import os
import re
import subprocess
import sys
import threading
import time

PROGRESS = re.compile(r"^run (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) \|")


def proc_status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1])
    except OSError:
        pass
    return out


def lake_counts(lake):
    """{table: (log objects, data files)} for every table folder that has a _delta_log."""
    out = {}
    try:
        tables = os.listdir(lake)
    except OSError:
        return out
    for t in tables:
        log = os.path.join(lake, t, "_delta_log")
        try:
            logs = len(os.listdir(log))
        except OSError:
            continue
        files = 0
        for _, _, names in os.walk(os.path.join(lake, t)):
            files += sum(1 for n in names if n.endswith(".parquet"))
        out[t] = (logs, files)
    return out


def main():
    out_path, lake, mark = sys.argv[1], sys.argv[2], sys.argv[3]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    log = open(os.path.splitext(out_path)[0] + ".log", "w")
    child = subprocess.Popen(cmd, stdout=log, stderr=subprocess.PIPE, text=True)
    city = {"now": ""}

    def read_stderr():
        for line in child.stderr:
            log.write(line)
            m = PROGRESS.match(line)
            if m:
                city["now"] = m.group(1)

    reader = threading.Thread(target=read_stderr)
    reader.start()
    start = time.monotonic()
    samples, hwm_mark = [], None
    max_logs, max_files = {}, {}
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid != 0:
            break
        st = proc_status(child.pid)
        counts = lake_counts(lake)
        for t, (logs, files) in counts.items():
            max_logs[t] = max(max_logs.get(t, 0), logs)
            max_files[t] = max(max_files.get(t, 0), files)
        now = city["now"]
        if hwm_mark is None and now and now >= mark and "VmHWM" in st:
            hwm_mark = st["VmHWM"]
        samples.append([round(time.monotonic() - start, 2), now, st.get("VmRSS"), st.get("VmHWM"),
                        sum(c[0] for c in counts.values()), sum(c[1] for c in counts.values())])
        time.sleep(0.2)
    reader.join()
    log.close()
    code = os.waitstatus_to_exitcode(status)
    json.dump({"exit": code, "hwm_mark_kib": hwm_mark, "hwm_end_kib": usage.ru_maxrss,
               "city_time_end": city["now"], "max_log_objects": max_logs, "max_data_files": max_files,
               "samples": samples}, open(out_path, "w"))
    sys.exit(code)


if __name__ == "__main__":
    main()
