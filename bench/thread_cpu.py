#!/usr/bin/env python3
"""Where a JVM peer's CPU goes, by thread (for the race's reading of the figures, bench/RESULTS.md):
runs a command and samples the CPU time of every thread of its process tree from /proc, then prints
the CPU seconds per thread name (numbers folded: "GC Thread#1" and "GC Thread#0" count together).

  thread_cpu.py [--interval 0.5] [--top 25] -- COMMAND ARGS...

A JIT-compiled JVM has no symbols for perf; its threads have names (Flink names its task threads after
the operators they run), which is the profile this gives. Linux truncates a thread's name to 15 bytes.
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def tree(root):
    kids = collections.defaultdict(list)
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        kids[ppid].append(int(pid))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def threads(pid):
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                s = f.read()
        except OSError:
            continue
        name = s[s.index("(") + 1:s.rindex(")")]
        fields = s.rsplit(")", 1)[1].split()
        out[(pid, int(tid))] = (name, (int(fields[11]) + int(fields[12])) / TICK)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--interval", type=float, default=0.5)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.command[1:] if a.command and a.command[0] == "--" else a.command
    proc = subprocess.Popen(cmd)
    last = {}
    while proc.poll() is None:
        for pid in tree(proc.pid):
            last.update(threads(pid))
        time.sleep(a.interval)
    by_name = collections.Counter()
    for name, cpu in last.values():
        by_name[re.sub(r"[#\-\s]*\d+$", "", name) or name] += cpu
    total = sum(by_name.values())
    print(f"{total:.1f} CPU-s over {len(last)} threads (exit {proc.returncode})", file=sys.stderr)
    for name, cpu in by_name.most_common(a.top):
        print(f"{cpu:8.1f} s  {100 * cpu / total:5.1f}%  {name}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
