#!/usr/bin/env python3
"""The spread of repeated races (bench/race.sh --no-write > run-N.md): one table with, per figure and
contender, the median and the range (min–max) over the runs, and the same for the ratios.

  race_spread.py run-1.md run-2.md run-3.md

Reads the first Markdown table of each file (race.sh's figure table); cells with ">" or "<" (lower or
upper bounds of a latency that was not fully committed) keep the mark. Prints Markdown.
"""
import re
import statistics
import sys


def table(path):
    rows = [line for line in open(path) if line.startswith("|")]
    head = [c.strip() for c in rows[0].strip().strip("|").split("|")]
    body = [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows[2:]]
    return head, body


def number(cell):
    m = re.match(r"^([<>]?)([0-9.,]+)(×?)$", cell)
    if not m:
        return None, ""
    return float(m.group(2).replace(",", "")), m.group(1)


def main():
    runs = [table(p) for p in sys.argv[1:]]
    head = runs[0][0]
    value_cols = [i for i, h in enumerate(head) if h not in ("figure", "unit", "better", "target")]
    out = ["| " + " | ".join(head) + " |", "|---|" + "|".join("---:" if i in value_cols else "---"
                                                              for i in range(1, len(head))) + "|"]
    for r, row in enumerate(runs[0][1]):
        cells = []
        for i, h in enumerate(head):
            if i not in value_cols:
                cell = row[i]
                if h == "figure":
                    cell = re.sub(r" @ .* ev/s", "", cell)  # the achieved rates differ per run
                cells.append(cell)
                continue
            vals = [number(run[1][r][i]) for run in runs if r < len(run[1])]
            nums = [v for v, _ in vals if v is not None]
            if not nums:
                cells.append("n/a")
                continue
            mark = "".join(sorted({m for _, m in vals if m}))
            unit = "×" if run_has_times(runs, r, i) else ""
            f = fmt(nums)
            cells.append(f"{mark}{f(statistics.median(nums))}{unit} ({f(min(nums))}–{f(max(nums))})")
        out.append("| " + " | ".join(cells) + " |")
    print("\n".join(out))


def run_has_times(runs, r, i):
    return runs[0][1][r][i].endswith("×")


def fmt(nums):
    big = max(abs(n) for n in nums)
    if big >= 100:
        return lambda n: f"{n:,.0f}"
    if big >= 10:
        return lambda n: f"{n:.1f}"
    return lambda n: f"{n:.3g}"


if __name__ == "__main__":
    main()
