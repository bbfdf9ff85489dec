"""The live view's JSON API and /metrics against the lake and the run summary, and the server under
load and hostile input.

  api_test.py run    SMARTCITY LAKE WORK   -- `run --keep-serving`: API == lake, /metrics == summary and
                                              the warehouse, load
  api_test.py serve  SMARTCITY LAKE WORK   -- `serve` on the finished lake: API == lake
"""
import atexit
import datetime
import decimal
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import duckdb
import pyarrow.compute as pc
from deltalake import DeltaTable
from prometheus_client.parser import text_string_to_metric_families

checks = failures = 0
procs = []


def kill_leftovers():
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


atexit.register(kill_leftovers)


def check(name, ok, detail=""):
    global checks, failures
    checks += 1
    if not ok:
        failures += 1
    print(("ok   " if ok else "FAIL ") + name + (f" ({detail})" if detail else ""), flush=True)


def start(cmd, err_path, ready):
    """Starts smartcity; returns (process, url) once `ready` appears on its stderr."""
    err = open(err_path, "w")
    p = subprocess.Popen(cmd, stderr=err, stdout=subprocess.DEVNULL)
    procs.append(p)
    url = None
    deadline = time.time() + 600
    while time.time() < deadline:
        text = open(err_path).read()
        m = re.search(r"live view at (http://\S+/)", text)
        if m:
            url = m.group(1)
        if url and ready in text:
            return p, url, text
        if p.poll() is not None:
            sys.exit(f"FAIL: {' '.join(cmd)} exited {p.returncode}:\n{text}")
        time.sleep(0.1)
    p.kill()
    sys.exit(f"FAIL: {ready!r} not seen in time")


def get(url, path):
    with urllib.request.urlopen(url.rstrip("/") + path, timeout=60) as r:
        return r.status, r.headers.get("Content-Type"), r.read()


def lake_latest_positions(lake):
    """Latest vehicle_data row per device (by timestamp, then partition/offset), read by deltalake."""
    t = DeltaTable(os.path.join(lake, "vehicle_data")).to_pyarrow_table(
        columns=["deviceId", "timestamp", "latitude", "longitude", "speed", "_partition", "_offset"])
    latest = {}
    for r in t.to_pylist():
        key = (r["timestamp"], r["_partition"], r["_offset"])
        if r["deviceId"] not in latest or key > latest[r["deviceId"]][0]:
            latest[r["deviceId"]] = (key, r)
    return {d: r for d, (_, r) in latest.items()}


def lake_incidents(lake):
    t = DeltaTable(os.path.join(lake, "emergency_data")).to_pyarrow_table(columns=["incidentId"])
    return set(t.column("incidentId").to_pylist())


def lake_rows(lake):
    out = {}
    for t in ["vehicle_data", "gps_data", "traffic_data", "weather_data", "emergency_data", "enriched_data",
              "_dead_letters", "_late_events"]:
        out[t] = DeltaTable(os.path.join(lake, t)).to_pyarrow_table(columns=["date"]).num_rows
    return out


def check_positions(url, lake, what):
    _, _, body = get(url, "/api/vehicles")
    api = {v["deviceId"]: v for v in json.loads(body)["vehicles"]}
    want = lake_latest_positions(lake)
    check(f"{what}: the API lists every vehicle of the lake", set(api) == set(want) and len(want) > 0,
          f"{len(api)} in the API, {len(want)} in the lake")
    bad = []
    for d, r in want.items():
        v = api.get(d)
        ts = r["timestamp"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if v is None or (v["latitude"], v["longitude"], v["speed"], v["timestamp"]) != (
                r["latitude"], r["longitude"], r["speed"], ts):
            bad.append((d, v and (v["latitude"], v["longitude"], v["timestamp"]), (r["latitude"], r["longitude"], ts)))
    check(f"{what}: API positions == the latest lake event per device", not bad, str(bad[:2]))


def metrics(url):
    status, ctype, body = get(url, "/metrics")
    fams = {f.name: f for f in text_string_to_metric_families(body.decode())}
    return status, ctype, fams


def sample_values(fams, name, label):
    # The parser strips the _total suffix from counter family names.
    fam = fams.get(name[:-6] if name.endswith("_total") else name) or fams.get(name)
    if fam is None:
        return {}
    return {s.labels.get(label, ""): s.value for s in fam.samples if s.name == name}


def check_metrics_format(url):
    """The metrics Prometheus' own parser reads: the commit latency histogram, build info, the standard
    process metrics, and Unix times with their microseconds (== /api/status's watermarks)."""
    _, _, body = get(url, "/metrics")
    text = body.decode()
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    h = fams.get("smartcity_commit_latency_seconds")
    check("/metrics: commit latency is a histogram", h is not None and h.type == "histogram",
          h and h.type)
    if h is not None:
        buckets = [(s.labels["le"], s.value) for s in h.samples if s.name.endswith("_bucket")]
        count = [s.value for s in h.samples if s.name.endswith("_count")]
        total = [s.value for s in h.samples if s.name.endswith("_sum")]
        bounds = [float(le) for le, _ in buckets]
        values = [v for _, v in buckets]
        check("/metrics: histogram buckets ascend to +Inf, cumulative, +Inf == _count > 0",
              bounds == sorted(bounds) and buckets[-1][0] == "+Inf" and values == sorted(values)
              and count and values[-1] == count[0] > 0 and total and total[0] > 0,
              f"{buckets} count={count} sum={total}")
    info = fams.get("smartcity_build_info")
    check("/metrics: smartcity_build_info{version=...} 1",
          info is not None and len(info.samples) == 1 and info.samples[0].value == 1
          and info.samples[0].labels.get("version"), info and str(info.samples))
    for name in ["process_cpu_seconds", "process_resident_memory_bytes", "process_virtual_memory_bytes",
                 "process_start_time_seconds", "process_open_fds", "process_max_fds"]:
        f = fams.get(name)
        check(f"/metrics: {name} > 0", f is not None and len(f.samples) == 1 and f.samples[0].value > 0,
              f and str(f.samples))
    start = fams["process_start_time_seconds"].samples[0].value if "process_start_time_seconds" in fams else 0
    check("/metrics: process_start_time_seconds is within the last hour", time.time() - 3600 < start <= time.time(),
          str(start))
    # Watermarks: the exact decimal text of /api/status's microsecond timestamps.
    _, _, sbody = get(url, "/api/status")
    want = {}
    for g in json.loads(sbody)["groups"]:
        if g.get("watermark"):
            d = datetime.datetime.strptime(g["watermark"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=datetime.timezone.utc)
            micros = (d - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)) // datetime.timedelta(
                microseconds=1)
            want[str(g["group"])] = decimal.Decimal(micros) / 1_000_000
    got = {}
    for line in text.splitlines():
        m = re.match(r'smartcity_watermark_timestamp_seconds\{group="(\d+)"\} (\S+)$', line)
        if m:
            got[m.group(1)] = decimal.Decimal(m.group(2))
    check("/metrics: watermark timestamps == /api/status's, to the microsecond", got == want and len(got) > 0,
          f"{got} vs {want}")


def load(url, seconds=10, clients=200):
    """`clients` threads send well-formed GETs for `seconds`; returns (sent, answered 200, errors)."""
    host, port = url.split("//")[1].rstrip("/").split(":")
    port = int(port)
    paths = ["/api/vehicles", "/api/status", "/api/rates?seconds=60", "/metrics", "/api/incidents", "/",
             "/app.js", "/api/route"]
    lock = threading.Lock()
    totals = {"sent": 0, "ok": 0, "errors": []}
    stop_at = time.time() + seconds

    def client(i):
        rnd = random.Random(i)
        conn = None
        sent = ok = 0
        errors = []
        while time.time() < stop_at:
            path = rnd.choice(paths)
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=120)
                sent += 1
                conn.request("GET", path)
                r = conn.getresponse()
                r.read()
                if r.status == 200:
                    ok += 1
                else:
                    errors.append(f"{path}: {r.status}")
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                # The server closed an idle keep-alive connection as we reused it: no request was
                # answered or lost; send it again on a new connection.
                sent -= 1
                conn = None
            except Exception as e:  # noqa: BLE001
                errors.append(f"{path}: {type(e).__name__}: {e}")
                conn = None
        with lock:
            totals["sent"] += sent
            totals["ok"] += ok
            totals["errors"] += errors

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    hostile = threading.Thread(target=attack, args=(host, port, stop_at))
    hostile.start()
    for t in threads:
        t.join()
    hostile.join()
    return totals


def raw(host, port, data, read=True):
    s = socket.create_connection((host, port), timeout=30)
    try:
        s.sendall(data)
        # No half-close: the server takes a half-closed connection for a gone client.
        out = b""
        while read and b"\r\n\r\n" not in out:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return out
    except (ConnectionResetError, BrokenPipeError):
        return b"reset"
    finally:
        s.close()


attack_results = []


def attack(host, port, stop_at):
    """Malformed requests, an oversized header, a huge body, a silent client, meanwhile."""
    silent = socket.create_connection((host, port), timeout=30)  # never sends anything
    partial = socket.create_connection((host, port), timeout=30)
    partial.sendall(b"GET /api/status HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers
    while time.time() < stop_at:
        attack_results.append(("garbage", raw(host, port, b"\x00\x01garbage\xff\r\n\r\n")[:12]))
        attack_results.append(("oversized header", raw(host, port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " +
                                                       b"a" * 200_000 + b"\r\n\r\n")[:12]))
        attack_results.append(("long uri", raw(host, port, b"GET /" + b"a" * 50_000 + b" HTTP/1.1\r\n\r\n")[:12]))
        attack_results.append(("bad version", raw(host, port, b"GET / HTTP/9.9\r\nHost: x\r\n\r\n")[:12]))
        attack_results.append(("post", raw(host, port, b"POST /api/vehicles HTTP/1.1\r\nHost: x\r\n"
                                                       b"Content-Length: 100000000\r\n\r\n")[:12]))
        time.sleep(0.2)
    silent.close()
    partial.close()


def run_mode(smartcity, lake, work):
    # Paced (20 min of city in 10 s) with short epochs, so the watermark advances in steps of about a
    # minute of event time and events 5 minutes late are behind it: late events are certain.
    cmd = [smartcity, "run", "--vehicles", "8", "--speedup", "120", "--duration", "20m", "--trigger", "500ms",
           "--incident-rate", "6",
           "--lake", lake, "--listen", "127.0.0.1:0", "--keep-serving",
           "--fault", "malformed=0.01", "--fault", "late=0.02@5m"]
    p, url, err = start(cmd, os.path.join(work, "run.err"), "still serving")
    print(f"run serving at {url}", flush=True)
    m = re.search(r"run summary: (\d+) events processed", err)
    summary = {"events": int(m.group(1))}
    for t, n in re.findall(r"^\s+(\S+)\s+(\d+) rows committed$", err, re.M):
        summary[t] = int(n)
    check("the run summary lists 8 tables", len(summary) == 9, str(summary))
    _, _, body = get(url, "/api/incidents")
    incidents = json.loads(body)["incidents"]
    check("run: the API lists every incident of the lake",
          {i["incidentId"] for i in incidents} == lake_incidents(lake) and incidents, f"{len(incidents)} incidents")

    check_positions(url, lake, "run")

    status, ctype, fams = metrics(url)
    check("/metrics answers 200 with the Prometheus text content type",
          status == 200 and ctype.startswith("text/plain; version=0.0.4"), ctype)
    rows_out = sample_values(fams, "smartcity_rows_out_total", "table")
    tables = {t: n for t, n in summary.items() if t != "events"}
    check("/metrics rows out per table == the run summary", rows_out == {t: float(n) for t, n in tables.items()},
          f"{rows_out} vs {tables}")
    events_in = sample_values(fams, "smartcity_events_in_total", "topic")
    check("/metrics events in (all topics) == the summary's events processed",
          sum(events_in.values()) == summary["events"], f"{sum(events_in.values())} vs {summary['events']}")
    dead = sample_values(fams, "smartcity_dead_letters_total", "topic")
    check("/metrics dead letters == the summary's _dead_letters rows",
          sum(dead.values()) == summary["_dead_letters"] and summary["_dead_letters"] > 0,
          f"{sum(dead.values())} vs {summary['_dead_letters']}")
    late = sample_values(fams, "smartcity_late_events_total", "topic")
    check("/metrics late events == the summary's _late_events rows",
          sum(late.values()) == summary["_late_events"] and summary["_late_events"] > 0,
          f"{sum(late.values())} vs {summary['_late_events']}")
    records = sample_values(fams, "smartcity_records_total", "")
    check("/metrics records == the summary", records.get("") == summary["events"], str(records))
    check_metrics_format(url)
    for name in ["smartcity_watermark_lag_seconds", "smartcity_last_commit_latency_seconds",
                 "smartcity_checkpoint_age_seconds", "process_resident_memory_bytes"]:
        check(f"/metrics has {name}", len(sample_values(fams, name, "group")) > 0)
    rss = sample_values(fams, "process_resident_memory_bytes", "")
    check("process_resident_memory_bytes is plausible", 1 << 20 < rss.get("", 0) < 64 << 30, str(rss))
    lake_counts = lake_rows(lake)
    check("the lake holds what the summary says", lake_counts == tables, f"{lake_counts} vs {tables}")

    _, _, body = get(url, "/api/status")
    st = json.loads(body)
    check("/api/status: finished, rows committed == summary",
          st["health"]["state"] == "finished" and st["rowsCommitted"] == tables, st["health"]["state"])
    # The warehouse loader (followed the lake into <lake>-warehouse.duckdb): its loads are listed and
    # counted; the row count is checked against the warehouse file once the run has ended.
    loads = st.get("loads", [])
    check("/api/status lists the warehouse loads",
          len(loads) > 0 and all(l["table"] == "enriched_data" and l["firstVersion"] <= l["lastVersion"]
                                 for l in loads), f"{len(loads)} loads")
    load_rows = sample_values(fams, "smartcity_load_rows_total", "table")
    load_lag = sample_values(fams, "smartcity_load_lag_versions", "table")
    check("/metrics load lag after the final load pass is 0", load_lag == {"enriched_data": 0.0}, str(load_lag))
    check("/metrics has the last load time",
          sample_values(fams, "smartcity_load_last_timestamp_seconds", "table").get("enriched_data", 0) > 0)
    status_rows = sum(t["rows"] for t in st.get("loadTables", []) if t["table"] == "enriched_data")
    check("/api/status load rows == /metrics load rows", float(status_rows) == load_rows.get("enriched_data"),
          f"{status_rows} vs {load_rows}")

    totals = load(url)
    print(f"load: {totals['sent']} requests sent by 200 clients in 10 s, {totals['ok']} answered 200, "
          f"{len(attack_results)} hostile exchanges", flush=True)
    check("200 concurrent clients: every well-formed request answered 200",
          totals["sent"] > 200 and totals["ok"] == totals["sent"] and not totals["errors"],
          f"{totals['ok']}/{totals['sent']}; {totals['errors'][:3]}")
    expected = {"garbage": b"HTTP/1.1 400", "oversized header": b"HTTP/1.1 400", "long uri": b"HTTP/1.1 414",
                "bad version": b"HTTP/1.1 ", "post": b"HTTP/1.1 4"}
    wrong = [(k, v) for k, v in attack_results if not v.startswith(expected[k])]
    check("malformed, oversized and non-GET requests get a 4xx", attack_results and not wrong, str(wrong[:3]))
    status, _, _ = get(url, "/api/status")
    check("the server still answers after the load", status == 200 and p.poll() is None)

    p.send_signal(signal.SIGINT)
    rc = p.wait(timeout=120)
    check("run exits 0 on SIGINT after --keep-serving", rc == 0, f"exit {rc}")
    con = duckdb.connect(lake.rstrip("/") + "-warehouse.duckdb", read_only=True)
    warehouse_rows = con.execute("SELECT count(*) FROM enriched_data").fetchone()[0]
    con.close()
    check("/metrics load rows == the warehouse's enriched_data rows == the summary's",
          load_rows.get("enriched_data") == float(warehouse_rows) == float(summary["enriched_data"])
          and warehouse_rows > 0, f"{load_rows} vs {warehouse_rows} vs {summary['enriched_data']}")


def serve_mode(smartcity, lake, work):
    cmd = [smartcity, "serve", "--lake", lake, "--listen", "127.0.0.1:0"]
    p, url, _ = start(cmd, os.path.join(work, "serve.err"), "live view at")
    print(f"serve at {url}", flush=True)
    check_positions(url, lake, "serve")
    _, _, body = get(url, "/api/status")
    st = json.loads(body)
    check("serve: /api/status rows per table == the lake", st["rowsCommitted"] == lake_rows(lake))
    check("serve: recent commits listed", len(st["commits"]) > 0 and "table" in st["commits"][0])
    _, _, body = get(url, "/api/incidents")
    incidents = json.loads(body)["incidents"]
    check("serve: incidents read from the lake",
          {i["incidentId"] for i in incidents} == lake_incidents(lake) and incidents, f"{len(incidents)} incidents")
    _, _, fams = metrics(url)
    check("serve: /metrics parses", "smartcity_rows_out" in fams)
    p.send_signal(signal.SIGINT)
    rc = p.wait(timeout=60)
    check("serve exits 0 on SIGINT", rc == 0, f"exit {rc}")


if __name__ == "__main__":
    mode, smartcity, lake, work = sys.argv[1:5]
    {"run": run_mode, "serve": serve_mode}[mode](smartcity, lake, work)
    print(f"web_api {mode}: {checks - failures}/{checks} checks passed", flush=True)
    sys.exit(1 if failures else 0)
