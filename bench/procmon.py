#!/usr/bin/env python3
"""Runs a command and measures its whole process tree, for the race (bench/race.sh).

  procmon.py --out stats.json [--interval 0.1] -- COMMAND ARGS...

Polls /proc every --interval seconds for the command and all its descendants (for Spark: the Python
driver and the JVM it launches) and writes one JSON object to --out:
  start_epoch   wall-clock time the command was launched (seconds since the epoch)
  seconds       wall time until the command exited
  cpu_seconds   user + system CPU time of every process of the tree (each process's last sample;
                a process's time includes its reaped children, which are not counted twice)
  peak_rss_bytes  the largest sum of VmRSS over the tree at any sample
  max_hwm_bytes   the sum of each process's VmHWM (its own peak RSS), an upper bound of the above
  exit_code
Standard output and error pass through. SIGTERM and SIGINT are forwarded to the command (which then
stops in its own way). Exits with the command's exit code.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def read_stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    rest = data[data.rindex(")") + 2:].split()
    # fields after the comm: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17) ... rss(24)
    return int(rest[1]), int(rest[11]) + int(rest[12]), int(rest[13]) + int(rest[14]), int(rest[21]) * PAGE


def hwm(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree(root):
    children = {}
    stats = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        try:
            st = read_stat(pid)
        except (OSError, ValueError, IndexError):
            continue
        stats[pid] = st
        children.setdefault(st[0], []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            out.append((pid, stats[pid]))
        todo.extend(children.get(pid, []))
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--interval", type=float, default=0.1)
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.command[1:] if a.command and a.command[0] == "--" else a.command
    if not cmd:
        sys.exit("procmon: no command")
    start = time.time()
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: proc.send_signal(signum))
    cpu = {}    # pid -> own (utime+stime) ticks at the last sample
    ccpu = {}   # pid -> reaped children's ticks at the last sample
    parent = {}
    peaks = {}  # pid -> VmHWM
    peak_rss = 0
    while True:
        rss = 0
        for pid, (ppid, own, reaped, r) in tree(proc.pid):
            cpu[pid], ccpu[pid], parent[pid] = own, reaped, ppid
            peaks[pid] = max(peaks.get(pid, 0), hwm(pid))
            rss += r
        peak_rss = max(peak_rss, rss)
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            break
        time.sleep(a.interval)
    seconds = time.monotonic() - t0
    ticks = sum(cpu.values())
    # Reaped children counted in a parent's cutime and also seen alive by us would be counted twice:
    # take, for each parent, the larger of what we saw of its children and its cutime.
    seen_children = {}
    for pid, pp in parent.items():
        if pp in parent:
            seen_children[pp] = seen_children.get(pp, 0) + cpu[pid]
    for pid in parent:
        extra = ccpu[pid] - seen_children.get(pid, 0)
        if extra > 0:
            ticks += extra
    result = {
        "command": cmd,
        "start_epoch": start,
        "seconds": seconds,
        # The root's rusage covers it and every descendant it waited for, exactly; the samples also
        # cover descendants nobody waited for, up to one interval short. The larger is the better.
        "cpu_seconds": max(ticks / TICK, usage.ru_utime + usage.ru_stime),
        "peak_rss_bytes": peak_rss,
        "max_hwm_bytes": sum(peaks.values()),
        "exit_code": proc.returncode,
    }
    with open(a.out, "w") as f:
        json.dump(result, f)
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
