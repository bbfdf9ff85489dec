#!/usr/bin/env python3
"""The soak benchmark's report (bench/soak.sh): reads the parts' folders under --work, prints the
table, and with --write 1 writes the section "Soak (issue 15)" of bench/RESULTS.md, bench/soak.csv
(every sample of every part) and bench/soak.svg (the samples over time, small multiples, drawn here
without plotting packages)."""
import argparse
import csv
import datetime
import glob
import json
import os
import platform
import re
import statistics
import subprocess

RSS_LIMIT_MIB = 256
FILES_LIMIT = 16


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def read_samples(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def series(rows, key):
    return [num(r.get(key)) for r in rows]


def first(path, default=""):
    try:
        return open(path).read().strip()
    except OSError:
        return default


def snapshot(lake):
    """Per table: live data files per date partition (Delta snapshot) and rows."""
    from deltalake import DeltaTable
    out = {}
    for tdir in sorted(glob.glob(os.path.join(lake, "*", "_delta_log"))):
        table = os.path.basename(os.path.dirname(tdir))
        try:
            dt = DeltaTable(os.path.dirname(tdir))
            acts = dt.get_add_actions(flatten=True)
            cols = {n: acts.column(n).to_pylist() for n in ("path", "num_records")}
        except Exception as e:  # a reader failing is a finding, not a crash of the report
            out[table] = {"error": str(e)[:200]}
            continue
        per = {}
        for p in cols["path"]:
            m = re.search(r"date=([0-9-]+)", p)
            key = m.group(1) if m else "-"
            per[key] = per.get(key, 0) + 1
        out[table] = {"files": len(cols["path"]), "per_partition": per,
                      "rows": sum(n or 0 for n in cols["num_records"]), "version": dt.version()}
    return out


def warehouse_rows(path):
    if not os.path.exists(path):
        return None
    try:
        import duckdb
        con = duckdb.connect(path, read_only=True)
        n = con.sql("select count(*) from enriched_data").fetchone()[0]
        con.close()
        return n
    except Exception as e:
        return f"error: {str(e)[:120]}"


def errors(log):
    lines = []
    if os.path.exists(log):
        for line in open(log, errors="replace"):
            if line.startswith("smartcity:") or "error" in line.lower():
                lines.append(line.strip())
    return lines


def at_day(rows, day):
    """The first sample at or after `day` city days."""
    for r in rows:
        d = num(r.get("city_days"))
        if d is not None and d >= day and num(r.get("hwm_mib")) is not None:
            return r
    return None


def fmt(v, f="{:,.0f}"):
    return "–" if v is None else f.format(v)


def run_part(work, cfg, days):
    d = os.path.join(work, f"run-{cfg}")
    rows = read_samples(os.path.join(d, "samples.csv"))
    if not rows:
        return None
    rc = int(first(os.path.join(d, "rc"), "-1"))
    wall = float(first(os.path.join(d, "end"), "0")) - float(first(os.path.join(d, "start"), "0"))
    hwm = [v for v in series(rows, "hwm_mib") if v is not None]
    rss = [v for v in series(rows, "rss_mib") if v is not None]
    cities = [num(r["city_days"]) for r in rows if num(r.get("city_days")) is not None]
    reached = max(cities) if cities else 0.0
    day1 = at_day(rows, 1.0)
    end = rows[-1]
    cpu = num(end.get("cpu_s"))
    res = {
        "cfg": cfg, "rc": rc, "wall": wall, "reached_days": reached, "samples": len(rows),
        "peak_rss": max(hwm) if hwm else None,
        "rss_day1": num(day1["hwm_mib"]) if day1 else None,
        "rss_end": num(end.get("hwm_mib")),
        "vmrss_max": max(rss) if rss else None,
        "vmrss_day1": num(day1.get("rss_mib")) if day1 else None,
        "vmrss_last": rss[-1] if rss else None,
        "cpu_s": cpu, "cpu_pct": 100 * cpu / wall if cpu and wall else None,
        "records": max([v for v in series(rows, "records") if v is not None], default=None),
        "eps": [v for v in series(rows, "events_per_s") if v is not None],
        "files_disk_max": max([v for v in series(rows, "max_files_per_partition") if v is not None], default=None),
        "files_disk_end": num(end.get("max_files_per_partition")),
        "data_files_end": num(end.get("data_files")),
        "partitions_end": num(end.get("partitions")),
        "log_max": max([v for v in series(rows, "max_log_objects") if v is not None], default=None),
        "log_end": num(end.get("max_log_objects")),
        "log_total_end": num(end.get("log_objects")),
        "ckpt_max": max([v for v in series(rows, "checkpoint_bytes") if v is not None], default=None),
        "ckpt_end": num(end.get("checkpoint_bytes")),
        "lag_city_max": max([v for v in series(rows, "lag_city_s") if v is not None], default=None),
        "lag_city_med": statistics.median([v for v in series(rows, "lag_city_s") if v is not None] or [0]),
        "lag_rec_max": max([v for v in series(rows, "lag_records") if v is not None], default=None),
        "wh_rows_max": max([v for v in series(rows, "wh_lag_rows") if v is not None], default=None),
        "wh_ver_max": max([v for v in series(rows, "wh_lag_versions") if v is not None], default=None),
        "wh_age_max": max([v for v in series(rows, "wh_load_age_s") if v is not None], default=None),
        "wh_status": next((r["wh_status"] for r in reversed(rows) if r.get("wh_status")), ""),
        "errors": errors(os.path.join(d, "stderr.log")),
        "load": (first(os.path.join(d, "load-start")), first(os.path.join(d, "load-end"))),
        "rows": rows,
    }
    res["snapshot"] = snapshot(os.path.join(d, "lake")) if os.path.isdir(os.path.join(d, "lake")) else {}
    res["warehouse_rows"] = warehouse_rows(os.path.join(d, "lake-warehouse.duckdb"))
    # The log's bound: how old its oldest object gets while the command runs (the row after the
    # exit is left out: nothing cleans up then). The object count follows the commit rate instead.
    ages = [num(r.get("log_oldest_age_s")) for r in rows[:-1]]
    ages = [v for v in ages if v is not None]
    res["log_age_max"] = max(ages) if ages else None
    half = [r for r in rows if num(r.get("wall_s")) is not None and num(r["wall_s"]) >= wall / 2]
    res["log_half"] = num(half[0].get("max_log_objects")) if half else None
    return res


def stream_part(work):
    d = os.path.join(work, "stream")
    rows = read_samples(os.path.join(d, "samples.csv"))
    if not rows:
        return None
    res = {}
    wall = float(first(os.path.join(d, "end"), "0")) - float(first(os.path.join(d, "start"), "0"))
    hwm = [v for v in series(rows, "hwm_mib") if v is not None]
    sim = {}
    try:
        sim = json.load(open(os.path.join(d, "simulate.json")))
    except (OSError, ValueError):
        pass
    produced = sum(t.get("delivered", 0) for t in sim.get("topics", {}).values()) if sim else None
    end = rows[-1]
    cpu = num(end.get("cpu_s"))
    eps = [v for v in series(rows, "events_per_s") if v is not None]
    res.update({
        "rc": int(first(os.path.join(d, "rc"), "-1")), "wall": wall, "rows": rows,
        "peak_rss": max(hwm) if hwm else None,
        "rss_quarter": next((num(r["hwm_mib"]) for r in rows if num(r.get("wall_s")) and num(r["wall_s"]) >= wall / 4 and num(r.get("hwm_mib"))), None),
        "cpu_pct": 100 * cpu / wall if cpu and wall else None,
        "produced": produced,
        "records": max([v for v in series(rows, "records") if v is not None], default=None),
        "eps_med": statistics.median(eps) if eps else None,
        "lag_rec_max": max([v for v in series(rows, "lag_records") if v is not None], default=None),
        "lag_rec_med": statistics.median([v for v in series(rows, "lag_records") if v is not None] or [0]),
        "lag_city_max": max([v for v in series(rows, "lag_city_s") if v is not None], default=None),
        "files_disk_max": max([v for v in series(rows, "max_files_per_partition") if v is not None], default=None),
        "log_max": max([v for v in series(rows, "max_log_objects") if v is not None], default=None),
        "ckpt_max": max([v for v in series(rows, "checkpoint_bytes") if v is not None], default=None),
        "city_days": max([v for v in series(rows, "city_days") if v is not None], default=0.0),
        "errors": errors(os.path.join(d, "stderr.log")),
        "load": (first(os.path.join(d, "load-start")), first(os.path.join(d, "load-end"))),
    })
    res["snapshot"] = snapshot(os.path.join(d, "lake")) if os.path.isdir(os.path.join(d, "lake")) else {}
    return res


def ratio_part(work, cfg, duration, rounds):
    d = os.path.join(work, f"ratio-{cfg}-{duration}")
    if not os.path.isdir(d):
        return None
    runs = {"on": [], "off": []}
    pairs = []
    for r in range(1, rounds + 1):
        got = {}
        for m in ("on", "off"):
            t = first(os.path.join(d, f"{m}-{r}.time")).split()
            if len(t) < 5:
                continue
            wall, user, sys_, rss, rc = float(t[-5]), float(t[-4]), float(t[-3]), int(t[-2]), int(t[-1])
            got[m] = {"wall": wall, "cpu": user + sys_, "rss": rss / 1024, "rc": rc,
                      "errors": errors(os.path.join(d, f"{m}-{r}.log")),
                      "load": first(os.path.join(d, f"{m}-{r}.load"))}
            runs[m].append(got[m])
        if "on" in got and "off" in got and got["on"]["rc"] == 0 and got["off"]["rc"] == 0:
            pairs.append(got["off"]["wall"] / got["on"]["wall"])  # throughput on / off
    return {"cfg": cfg, "duration": duration, "runs": runs, "pairs": pairs}


# ---- the chart ------------------------------------------------------------------------------------
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]


def nice_max(v):
    """The smallest 4 x step >= v with a round step (1, 2, 2.5 or 5 times a power of ten)."""
    if v <= 0:
        return 1.0
    step = v / 4
    e = 10 ** (len(str(int(step))) - 1) if step >= 1 else 10 ** -len(str(int(1 / step)))
    for m in (1, 2, 2.5, 5, 10):
        if m * e >= step:
            return 4 * m * e
    return v


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def panel(x0, y0, w, h, title, xlabel, lines, limit=None):
    """lines: [(label, color, [(x, y)], dash)]; returns SVG elements."""
    pts = [p for _, _, ps, _ in lines for p in ps if p[1] is not None]
    out = [f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="#fff" stroke="#999"/>',
           f'<text x="{x0}" y="{y0 - 6}" font-size="12" font-weight="bold">{esc(title)}</text>']
    if not pts:
        out.append(f'<text x="{x0 + w / 2}" y="{y0 + h / 2}" font-size="11" text-anchor="middle" fill="#888">no samples</text>')
        return out
    xmax = nice_max(max(p[0] for p in pts))
    ymax = nice_max(max([p[1] for p in pts] + ([limit[0]] if limit else [])))
    sx = lambda x: x0 + w * x / xmax
    sy = lambda y: y0 + h - h * y / ymax
    for i in range(5):
        yv = ymax * i / 4
        out.append(f'<line x1="{x0}" x2="{x0 + w}" y1="{sy(yv):.1f}" y2="{sy(yv):.1f}" stroke="#eee"/>')
        lab = f"{yv:,.0f}" if ymax >= 10 else f"{yv:.2g}"
        out.append(f'<text x="{x0 - 4}" y="{sy(yv) + 4:.1f}" font-size="10" text-anchor="end">{lab}</text>')
        xv = xmax * i / 4
        out.append(f'<text x="{sx(xv):.1f}" y="{y0 + h + 13}" font-size="10" text-anchor="middle">{xv:g}</text>')
    out.append(f'<text x="{x0 + w / 2}" y="{y0 + h + 26}" font-size="10" text-anchor="middle" fill="#555">{esc(xlabel)}</text>')
    if limit:
        out.append(f'<line x1="{x0}" x2="{x0 + w}" y1="{sy(limit[0]):.1f}" y2="{sy(limit[0]):.1f}" stroke="#000" stroke-dasharray="2,3"/>')
        out.append(f'<text x="{x0 + w - 2}" y="{sy(limit[0]) - 3:.1f}" font-size="9" text-anchor="end">{esc(limit[1])}</text>')
    legend = []
    for label, color, ps, dash in lines:
        ps = [p for p in ps if p[1] is not None]
        if not ps:
            continue
        d = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in ps)
        extra = ' stroke-dasharray="5,3"' if dash else ""
        out.append(f'<polyline points="{d}" fill="none" stroke="{color}" stroke-width="1.4"{extra}/>')
        if len(ps) == 1:
            out.append(f'<circle cx="{sx(ps[0][0]):.1f}" cy="{sy(ps[0][1]):.1f}" r="2.5" fill="{color}"/>')
        legend.append((label + (" (dashed)" if dash else ""), color))
    if legend:  # top left, over a translucent box so the lines under it stay visible
        width = 10 + 5.2 * max(len(t) for t, _ in legend)
        out.append(f'<rect x="{x0 + 2}" y="{y0 + 2}" width="{width:.0f}" height="{11 * len(legend) + 4}" '
                   f'fill="#fff" fill-opacity="0.8"/>')
        for i, (label, color) in enumerate(legend):
            out.append(f'<text x="{x0 + 6}" y="{y0 + 12 + 11 * i}" font-size="9" fill="{color}">{esc(label)}</text>')
    return out


def chart(runs, stream, path):
    specs = [  # title, [(column, label suffix, dashed, scale)], limit
        ("Memory, MiB", [("hwm_mib", "peak (VmHWM)", False, 1), ("rss_mib", "VmRSS", True, 1)], (RSS_LIMIT_MIB, "256 MiB target")),
        ("CPU, % of one core", [("cpu_pct", "", False, 1)], None),
        ("Events processed per second", [("events_per_s", "", False, 1)], None),
        ("Data files on disk, most in one table's date partition", [("max_files_per_partition", "", False, 1)], (FILES_LIMIT, "16 (live files target)")),
        ("Data files on disk, all tables", [("data_files", "", False, 1)], None),
        ("_delta_log objects, most in one table", [("max_log_objects", "", False, 1)], None),
        ("Processor checkpoints (_checkpoints/), KiB", [("checkpoint_bytes", "", False, 1 / 1024)], None),
        ("Lag: city time reached minus watermark, s", [("lag_city_s", "", False, 1)], None),
        ("Warehouse lag: enriched rows in the lake not yet loaded", [("wh_lag_rows", "", False, 1)], None),
        ("Stream lag: records behind in Kafka", [("lag_records", "", False, 1)], None),
    ]
    cols, pw, ph, gx, gy, left, top = 2, 420, 150, 90, 70, 70, 80
    groups = []
    if runs:
        groups.append(("run --speedup max (x: city days)", "city days",
                       [(f"memory limit {r['cfg']}", r["rows"]) for r in runs], "city_days",
                       [s for s in specs if s[1][0][0] != "lag_records"]))
    if stream:
        groups.append(("stream from Kafka at a paced rate (x: wall minutes)", "wall minutes",
                       [("stream", stream["rows"])], "wall_s",
                       [s for s in specs if s[1][0][0] != "wh_lag_rows"]))
    y = top
    body = []
    for gtitle, xlabel, sets, xcol, gspecs in groups:
        body.append(f'<text x="{left - 50}" y="{y - 30}" font-size="15" font-weight="bold">{esc(gtitle)}</text>')
        for i, (title, cols_, limit) in enumerate(gspecs):
            px = left + (i % cols) * (pw + gx)
            py = y + (i // cols) * (ph + gy)
            lines = []
            for k, (name, rows) in enumerate(sets):
                for col, suffix, dash, scale in cols_:
                    pts = []
                    for r in rows:
                        xv = num(r.get(xcol))
                        yv = num(r.get(col))
                        if xv is None:
                            continue
                        if xcol == "wall_s":
                            xv /= 60
                        pts.append((xv, yv * scale if yv is not None else None))
                    label = name + (f", {suffix}" if suffix else "")
                    lines.append((label, COLORS[k % len(COLORS)], pts, dash))
            body += panel(px, py, pw, ph, title, xlabel, lines, limit)
        y += ((len(gspecs) + cols - 1) // cols) * (ph + gy) + 40
    width = left + cols * (pw + gx)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" '
           f'font-family="sans-serif" viewBox="0 0 {width} {y}">',
           f'<rect width="{width}" height="{y}" fill="#fafafa"/>',
           f'<text x="{left - 50}" y="22" font-size="16" font-weight="bold">smartcity soak benchmark (bench/soak.sh, '
           f'{datetime.date.today()})</text>'] + body + ["</svg>"]
    open(path, "w").write("\n".join(svg) + "\n")


# ---- the report -----------------------------------------------------------------------------------
def verdict(ok):
    return "met" if ok else "**missed**"


def main():
    p = argparse.ArgumentParser()
    for k in ("work", "write", "root", "days", "vehicles", "interval", "limits", "stream-minutes",
              "stream-speedup", "ratio-duration", "rounds", "ratio-limit"):
        p.add_argument("--" + k, required=True)
    p.add_argument("--retention", default="1h", help="the run soak's log and vacuum retention")
    a = p.parse_args()
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    retention_s = float(a.retention[:-1]) * unit[a.retention[-1]]
    rounds = int(a.rounds)
    runs = [r for r in (run_part(a.work, c, float(a.days)) for c in a.limits.split(",")) if r]
    stream = stream_part(a.work)
    ratios = [x for x in (ratio_part(a.work, c, dur, rounds) for c in a.ratio_limit.split(",")
                                        for dur in a.ratio_duration.split(",")) if x and (x["runs"]["on"] or x["runs"]["off"])]
    out = []
    target_days = float(a.days)
    for r in runs:
        finished = r["rc"] == 0 and r["reached_days"] >= target_days - 0.02
        out += [f"### `run`, memory limit {r['cfg']}", ""]
        status = (f"finished {r['reached_days']:.2f} city days" if finished else
                  f"**stopped at {r['reached_days']:.2f} of {target_days:g} city days, exit code {r['rc']}**")
        out += [f"{status} in {r['wall'] / 60:.1f} min of wall time ({r['samples']} samples); "
                f"{fmt(r['records'])} events; load average (1, 5, 15 min) {r['load'][0]} at the start, {r['load'][1]} at the end.", ""]
        if r["errors"]:
            out += ["Errors it printed (first 3 of " + str(len(r["errors"])) + "):", ""]
            out += [f"    {e[:300]}" for e in r["errors"][:3]] + [""]
        snap = r["snapshot"]
        live_max = max([max(t["per_partition"].values(), default=0) for t in snap.values() if "per_partition" in t], default=None)
        live_worst = max(((t, max(v["per_partition"].values(), default=0)) for t, v in snap.items() if "per_partition" in v), key=lambda x: x[1], default=("-", 0))
        parts = max([len(t["per_partition"]) for t in snap.values() if "per_partition" in t], default=0)
        snap_err = [f"{t}: {v['error']}" for t, v in snap.items() if "error" in v]
        lake_enriched = snap.get("enriched_data", {}).get("rows")
        rss_ok = r["peak_rss"] is not None and r["peak_rss"] <= RSS_LIMIT_MIB
        drift = (r["rss_end"] / r["rss_day1"] - 1) * 100 if r["rss_day1"] and r["rss_end"] else None
        eps = r["eps"]
        rows = [
            ("Peak RSS (VmHWM) over the run", f"{fmt(r['peak_rss'])} MiB",
             f"≤ 256 MiB: {verdict(rss_ok)}" + ("" if rss_ok or r["peak_rss"] is None else f" by {r['peak_rss'] - RSS_LIMIT_MIB:.0f} MiB ({(r['peak_rss'] / RSS_LIMIT_MIB - 1) * 100:.0f}%)")),
            ("Peak RSS after the first city day → at the end", f"{fmt(r['rss_day1'])} → {fmt(r['rss_end'])} MiB",
             "end within 10% of day 1: " + ("not measured (no first day)" if drift is None else f"{drift:+.1f}%, {verdict(abs(drift) <= 10)}")),
            ("VmRSS after the first city day, last sample, largest", f"{fmt(r['vmrss_day1'])}, {fmt(r['vmrss_last'])}, {fmt(r['vmrss_max'])} MiB", ""),
            ("CPU", f"{fmt(r['cpu_s'], '{:,.0f}')} s, {fmt(r['cpu_pct'])}% of one core on average", ""),
            ("Events processed per second (samples: median, min–max)",
             f"{fmt(statistics.median(eps) if eps else None)} ({fmt(min(eps) if eps else None)}–{fmt(max(eps) if eps else None)})", ""),
            ("Live data files per table per date partition at the end (Delta snapshot), worst",
             f"{fmt(live_max)} ({live_worst[0]}; {parts} date partitions)" + (f"; unreadable: {'; '.join(snap_err)}" if snap_err else ""),
             f"≤ 16: {verdict(live_max is not None and live_max <= FILES_LIMIT)}" if live_max is not None else ""),
            ("Data files on disk in one table's date partition: largest seen, at the end",
             f"{fmt(r['files_disk_max'])}, {fmt(r['files_disk_end'])} (replaced files wait for the {a.retention} vacuum retention)", ""),
            ("`_delta_log` objects in one table: halfway (wall), at the end, largest",
             f"{fmt(r['log_half'])}, {fmt(r['log_end'])}, {fmt(r['log_max'])} ({fmt(r['log_total_end'])} in all tables at the end)",
             ""),
            ("`_delta_log`: age of the oldest object in any table while running, largest",
             "not recorded" if r["log_age_max"] is None else f"{r['log_age_max']:.0f} s",
             f"bounded by the {a.retention} log retention (≤ 2 × it): " + (f"not reached (the run lasted {r['wall'] / 60:.0f} min of wall time)" if r["wall"] < 2 * retention_s else verdict(r["log_age_max"] is not None and r["log_age_max"] <= 2 * retention_s))),
            ("Processor checkpoints: bytes at the end, largest", f"{fmt(r['ckpt_end'])}, {fmt(r['ckpt_max'])}", ""),
            ("Lag, city time reached minus watermark: median, largest", f"{fmt(r['lag_city_med'])} s, {fmt(r['lag_city_max'])} s", ""),
            ("Warehouse lag (largest): enriched rows not loaded, lake versions, seconds since a load",
             f"{fmt(r['wh_rows_max'])} rows, {fmt(r['wh_ver_max'])} versions, {fmt(r['wh_age_max'], '{:.0f}')} s" + (f"; /api/status: `{r['wh_status']}`" if r["wh_status"] else ""), ""),
            ("Rows at the end: lake enriched_data vs warehouse", f"{fmt(lake_enriched)} vs {r['warehouse_rows'] if isinstance(r['warehouse_rows'], str) else fmt(r['warehouse_rows'])}",
             ("equal" if lake_enriched is not None and lake_enriched == r["warehouse_rows"] else "**differ**") if lake_enriched is not None and r["warehouse_rows"] is not None else ""),
        ]
        out += ["| measure | result | target |", "|---|---|---|"] + [f"| {x} | {y} | {z} |" for x, y, z in rows] + [""]
        if r["reached_days"] >= 1:
            out += ["By city day (the first sample at or after it; the last day: the sample after the exit):", "",
                    "| city day | wall min | peak RSS MiB | VmRSS MiB | events/s | data files on disk (most in a partition) | `_delta_log` objects (most in a table) | checkpoint MiB | lag city s | warehouse lag rows |",
                    "|---|---|---|---|---|---|---|---|---|---|"]
            last = round(r["reached_days"])
            for day in range(1, last + 1):
                # The last progress line comes a little before the end: the end stands for the last day.
                x = at_day(r["rows"], day) or (r["rows"][-1] if day == last else None)
                if not x:
                    continue
                g = lambda k, f="{:,.0f}", m=1: fmt(num(x.get(k)) * m if num(x.get(k)) is not None else None, f)
                out.append(f"| {day} | {g('wall_s', '{:.1f}', 1 / 60)} | {g('hwm_mib')} | {g('rss_mib')} | {g('events_per_s')} | "
                           f"{g('data_files')} ({g('max_files_per_partition')}) | {g('log_objects')} ({g('max_log_objects')}) | "
                           f"{g('checkpoint_bytes', '{:.1f}', 1 / 2**20)} | {g('lag_city_s')} | {g('wh_lag_rows')} |")
            out.append("")
    if stream:
        s = stream
        snap = s["snapshot"]
        live_max = max([max(t["per_partition"].values(), default=0) for t in snap.values() if "per_partition" in t], default=None)
        out += ["### `stream` from Kafka at a paced rate", ""]
        out += [f"{s['wall'] / 60:.1f} min of wall time, {s['city_days'] * 24:.1f} h of city time, exit code {s['rc']}; "
                f"load average {s['load'][0]} at the start, {s['load'][1]} at the end.", ""]
        if s["errors"]:
            out += ["Errors it printed (first 3 of " + str(len(s["errors"])) + "):", ""]
            out += [f"    {e[:300]}" for e in s["errors"][:3]] + [""]
        rows = [
            ("Events produced / processed", f"{fmt(s['produced'])} / {fmt(s['records'])}", ""),
            ("Rate processed (samples, median)", f"{fmt(s['eps_med'])} events/s", ""),
            ("Peak RSS: after a quarter of the run, at the end", f"{fmt(s['rss_quarter'])}, {fmt(s['peak_rss'])} MiB", "no growth with run length"),
            ("CPU", f"{fmt(s['cpu_pct'])}% of one core on average", ""),
            ("Lag, records behind in Kafka: median, largest", f"{fmt(s['lag_rec_med'])}, {fmt(s['lag_rec_max'])}", ""),
            ("Lag, city time minus watermark, largest", f"{fmt(s['lag_city_max'])} s", ""),
            ("Live data files per table per date partition at the end, worst", fmt(live_max),
             f"≤ 16: {verdict(live_max <= FILES_LIMIT)}" if live_max is not None else ""),
            ("Data files on disk in one partition (largest); `_delta_log` objects in one table (largest)", f"{fmt(s['files_disk_max'])}; {fmt(s['log_max'])}", ""),
            ("Processor checkpoints, largest", f"{fmt(s['ckpt_max'])} bytes", ""),
        ]
        out += ["| measure | result | target |", "|---|---|---|"] + [f"| {x} | {y} | {z} |" for x, y, z in rows] + [""]
    for ratio in ratios:
        out += [f"### Maintenance on vs off: `run --speedup max --vehicles {a.vehicles} --duration {ratio['duration']}`, memory limit {ratio['cfg']}", ""]
        tab = ["| maintenance | wall s per run | median wall s | median CPU s | peak RSS MiB | exit codes |", "|---|---|---|---|---|---|"]
        for m in ("on", "off"):
            rs = ratio["runs"][m]
            if not rs:
                continue
            walls = ", ".join(f"{x['wall']:.1f}" for x in rs)
            codes = ", ".join(str(x["rc"]) for x in rs)
            tab.append(f"| {m} | {walls} | {statistics.median(x['wall'] for x in rs):.1f} | "
                       f"{statistics.median(x['cpu'] for x in rs):.1f} | {min(x['rss'] for x in rs):.0f}–{max(x['rss'] for x in rs):.0f} | "
                       f"{codes} |")
        out += tab + [""]
        if ratio["pairs"]:
            pr = ratio["pairs"]
            med = statistics.median(pr)
            out += [f"Throughput with maintenance on / off, per interleaved pair: {', '.join(f'{x:.3f}' for x in pr)}; "
                    f"median {med:.3f} (spread {min(pr):.3f}–{max(pr):.3f}): on is {abs(1 - med) * 100:.1f}% "
                    f"{'slower' if med < 1 else 'faster'}; within 15%: {verdict(med >= 0.85)}.", ""]
        else:
            out += ["No pair where both runs finished: the ratio was not measured.", ""]
        failed = [(m, i + 1, x) for m in ("on", "off") for i, x in enumerate(ratio["runs"][m]) if x["rc"] != 0]
        for m, i, x in failed[:3]:
            out += [f"Run {m}-{i} failed: `{(x['errors'] or ['(no message)'])[-1][:300]}`", ""]
    text = "\n".join(out)
    print(text)
    if a.write != "1":
        return
    root = a.root
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
    head = ["## Soak (issue 15)", "",
            f"`bench/soak.sh --days {a.days} --vehicles {a.vehicles} --interval {a.interval} --memory-limits {a.limits} "
            f"--stream-minutes {a.stream_minutes} --stream-speedup {a.stream_speedup} --ratio-duration {a.ratio_duration} "
            f"--rounds {a.rounds} --ratio-memory-limits {a.ratio_limit}" + ("" if a.retention == "1h" else f" --retention {a.retention}") + f"` on {datetime.date.today()}, {os.cpu_count()} cores ({cpu}), "
            f"Linux {platform.release()}, shared with other engineers' builds and tests (load averages below). "
            f"Samples every {a.interval} s of wall time: [bench/soak.csv](soak.csv); chart: [bench/soak.svg](soak.svg).", ""]
    results = os.path.join(root, "bench", "RESULTS.md")
    text_all = open(results).read() if os.path.exists(results) else "# Benchmark results\n"
    start = text_all.find("## Soak (issue 15)\n")
    if start >= 0:
        end = text_all.find("\n## ", start + 1)
        text_all = text_all[:start] + text_all[end + 1:] if end >= 0 else text_all[:start]
    open(results, "w").write(text_all.rstrip("\n") + "\n\n" + "\n".join(head + out).rstrip("\n") + "\n")
    with open(os.path.join(root, "bench", "soak.csv"), "w", newline="") as f:
        w = None
        for part in [r["rows"] for r in runs] + ([stream["rows"]] if stream else []):
            for row in part:
                if w is None:
                    w = csv.DictWriter(f, fieldnames=list(row.keys()))
                    w.writeheader()
                w.writerow(row)
    chart(runs, stream, os.path.join(root, "bench", "soak.svg"))
    print(f"written to {results}, bench/soak.csv, bench/soak.svg")


if __name__ == "__main__":
    main()
