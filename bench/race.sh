#!/usr/bin/env bash
# The race against the seeds' stack (issue 9) and Apache Flink (issue 22), one command, one run, one
# broker: smartcity stream vs a PySpark Structured Streaming job doing the seed's work
# (bench/peers/spark_job.py) vs a Flink SQL job doing the same (bench/peers/flink_job.py, PyFlink,
# local mini-cluster, parallelism 2), over the same pre-loaded topics, one contender after another.
# Results go to bench/RESULTS.md ("Race: smartcity vs Spark vs Flink (issues 9, 22)"; with
# --contenders smartcity,spark: "Race against Spark (issue 9)").
#
#   0. One local Kafka broker (scripts/kafka.sh); the topics are loaded with --events events by
#      `smartcity simulate --kafka` (fixed seed) and checked to hold exactly that many.
#   1. Physical bound: kcat -C of the whole backlog to /dev/null (five consumers, one per topic, at once).
#   2. Throughput: drain the backlog into a lake: `smartcity stream --stop-at-end` (it learns its
#      partitions' end offsets once it owns them and stops as soon as it has read up to them and, with
#      repartitioning, drained the records it forwarded: as Spark's availableNow and Flink's bounded
#      sources below, no idle wait; it also flushes the left-join rows still waiting for the
#      watermark, as --final does: more than Spark does) with
#      --idle-timeout 1h (a backlog has no idle input; Spark's watermark has no idleness rule either,
#      and with the 5 s default a topic whose partitions the consumer serves later is declared idle
#      and the other topic's watermark makes its records late: see RESULTS.md), then the Spark
#      job with the availableNow trigger (it stops by itself once every offset it saw at start is
#      processed and committed), then the Flink job with bounded Kafka sources (scan.bounded.mode
#      latest-offset: it stops once every offset it saw at start is processed; the end of input brings
#      the final watermark and a final checkpoint commits the rest) and the same 1 h idle timeout. Each runs under bench/procmon.py: wall time, CPU seconds of the whole
#      process tree, peak RSS of the tree (Spark, Flink: Python driver + JVM). The drain time is from launch
#      to the last commit visible in the output (Delta log entry / _spark_metadata entry / the rename
#      of a Flink part file from its hidden in-progress name, its ctime).
#   3. Fairness: bench/race_check.py: every output holds the same raw rows and the same enriched rows.
#   4. Latency and start-up at a fixed rate (--rate events/s, produced by `smartcity simulate --kafka
#      --speedup ...`), each contender alone on fresh topics: the processor starts, the producer once
#      it is up (lake tables created / Spark's queries started / Flink's job submitted); Flink
#      checkpoints (= commits) every --sc-trigger, as smartcity commits, with smartcity's idle timeout; --latency-seconds after the first
#      commit both stop; rows produced from 10 s after the first commit on are counted. bench/lake_latency.py, one probe for both, takes
#      every committed vehicle_data row, its Kafka CreateTime and the time its commit became visible.
#      Start-up (from the drain, with the backlog waiting) = launch -> first committed row. Also smartcity's own live-state latency (--summary-json).
#
# Usage: bench/race.sh [--events N] [--rate R] [--latency-seconds S] [--sc-trigger D] [--spark-trigger T]
#                      [--spark-max-offsets N] [--vehicles V] [--contenders LIST] [--no-write] [--no-profile]
#   --contenders         smartcity and any of spark, flink, comma-separated (default smartcity,spark,flink)
#   --events             backlog size (default 5000000)
#   --vehicles           fleet size (default 300; the run ends when every vehicle has arrived, about
#                        26 000 events per vehicle, so the fleet must be big enough for --events)
#   --rate               events/s for the latency run (default 20000)
#   --latency-seconds    length of each latency run (default 60)
#   --sc-trigger         smartcity's commit interval in the latency run (default 1s)
#   --spark-trigger      Spark's trigger in the latency run: 0 = as fast as it can (default 0)
#   --spark-max-offsets  maxOffsetsPerTrigger for Spark's drain (default 1000000; 0 = everything in one
#                        batch, which needs more than the 4 GB driver heap for 5 M events)
#   --flink-drain-checkpoint  Flink's checkpoint interval in the drain (default 10s: smartcity's default
#                        --trigger, which its drain uses)
#   --no-write           print the table but leave bench/RESULTS.md alone
#   --no-profile         skip the profile (a second smartcity drain under `perf record`)
# Environment: SMARTCITY_BIN (a built smartcity to race; default: build build/release and use it),
# KEEP_WORK=1 (keep the scratch folder /tmp/smartcity-race.* with every output and log).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

profile=1 events=5000000 rate=20000 lat_secs=60 sc_trigger=1s spark_trigger=0 spark_max_offsets=1000000 vehicles=300 write=1
contenders=smartcity,spark,flink flink_drain_checkpoint=10s
while [ $# -gt 0 ]; do
  case "$1" in
    --events) events=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --latency-seconds) lat_secs=$2; shift 2 ;;
    --sc-trigger) sc_trigger=$2; shift 2 ;;
    --spark-trigger) spark_trigger=$2; shift 2 ;;
    --spark-max-offsets) spark_max_offsets=$2; shift 2 ;;
    --vehicles) vehicles=$2; shift 2 ;;
    --contenders) contenders=$2; shift 2 ;;
    --flink-drain-checkpoint) flink_drain_checkpoint=$2; shift 2 ;;
    --no-write) write=0; shift ;;
    --no-profile) profile=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "race.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

log() { printf 'race.sh: %s [%s]\n' "$*" "$(date -u +%H:%M:%S)" >&2; }
has() { [[ ",$contenders," == *",$1,"* ]]; }
for c in ${contenders//,/ }; do
  case "$c" in smartcity|spark|flink) ;; *) echo "race.sh: unknown contender $c (smartcity, spark, flink)" >&2; exit 2 ;; esac
done
has smartcity || { echo "race.sh: --contenders must include smartcity (the figures are ratios to it)" >&2; exit 2; }
has spark || has flink || { echo "race.sh: --contenders needs a peer: spark and/or flink" >&2; exit 2; }
started_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# SMARTCITY_BIN: race an already built binary instead of building build/release first.
[ -n "${SMARTCITY_BIN:-}" ] || scripts/setup.sh release >&2
PY=$(scripts/pyenv.sh)
if has spark; then { read -r SPARK_PY; read -r SPARK_JARS; } < <(bench/spark_env.sh); fi
if has flink; then { read -r FLINK_PY; read -r FLINK_JARS; } < <(bench/flink_env.sh); fi
bin=${SMARTCITY_BIN:-$root/build/release/src/cli/smartcity}
work=$(mktemp -d /tmp/smartcity-race.XXXXXX)
kdir="$work/kafka"
bg_pids=()
cleanup() {
  local p
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  scripts/kafka.sh stop --dir "$kdir" >/dev/null 2>&1 || true
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

bootstrap=$(scripts/kafka.sh start --dir "$kdir" --watch-pid $$)
export KAFKA_BOOTSTRAP_SERVERS=$bootstrap
topics=(vehicle_data gps_data traffic_data weather_data emergency_data)
procmon() { "$PY" bench/procmon.py "$@"; }
jget() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); [d := d[k] for k in sys.argv[2:]]; print(d)' "$@"; }
jsum() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(v[sys.argv[2]] for v in d["topics"].values()))' "$@"; }
calc() { awk "BEGIN { printf \"%.15g\", $* }"; }

fresh_topics() {
  "$bin" topics delete >/dev/null
  local i
  for i in $(seq 1 30); do
    if "$bin" topics create >"$work/create.out" 2>&1 && [ "$(grep -c '^created ' "$work/create.out")" = 5 ]; then
      return
    fi
    sleep 1
  done
  cat "$work/create.out" >&2
  log "could not re-create the topics"; exit 1
}
stored() {
  scripts/kafka.sh run-class org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$bootstrap" \
    --topic '^(vehicle|gps|traffic|weather|emergency)_data$' --time -1 2>/dev/null |
    awk -F: '{ n += $3 } END { print n + 0 }'
}
partitions=$("$bin" topics create --help 2>/dev/null | sed -n 's/.*--partitions[^0-9]*\([0-9]\+\).*/\1/p' | head -1)

# Newest commit time (epoch seconds) in an output root: Delta log entries or Spark sink log entries.
last_commit() {
  find "$1" \( -path '*/_delta_log/*.json' -o -path '*/_spark_metadata/*' \) -type f -printf '%T@\n' |
    sort -g | tail -1
}
# The same for a Flink filesystem sink: the newest rename of a part file into view (ctime).
flink_last_commit() {
  find "$1" -mindepth 2 -maxdepth 2 -type f -name 'part-*' -printf '%C@\n' |
    sort -g | tail -1
}

# ------------------------------------------------------------------------------------------ the backlog
log "loading $events events into fresh topics"
fresh_topics
"$bin" simulate --one-trip --seed 1 --vehicles "$vehicles" --count "$events" --kafka -q --summary-json "$work/load.json"
# GetOffsetShell on a busy machine sometimes answers for only some partitions: ask again.
for i in $(seq 1 10); do got=$(stored); [ "$got" = "$events" ] && break; sleep 3; done
[ "$got" = "$events" ] || { log "the topics hold $got records, expected $events"; exit 1; }
payload_mb=$(calc "$(jget "$work/load.json" payload_bytes) / 1e6")

# ----------------------------------------------------------------------------------------------- kcat
log "physical bound: kcat -C of the backlog to /dev/null"
# shellcheck disable=SC2016
procmon --out "$work/kcat.json" -- bash -c 'for t in "${@:2}"; do kcat -C -b "$1" -t "$t" -o beginning -e -q >/dev/null & done
  for j in $(jobs -p); do wait "$j" || exit 1; done' kcat "$bootstrap" "${topics[@]}"

# ------------------------------------------------------------------------------------- drain: smartcity
log "throughput: smartcity stream drains the backlog"
procmon --out "$work/sc_drain.json" -- "$bin" stream --lake "$work/sc_lake" --group race-drain \
  --idle-timeout 1h --stop-at-end --summary-json "$work/sc_drain_summary.json" -q
sc_last=$(last_commit "$work/sc_lake")

# ----------------------------------------------------------------------------------------- drain: Spark
spark_last=0
if has spark; then
  log "throughput: Spark (availableNow) drains the backlog"
  procmon --out "$work/spark_drain.json" -- "$SPARK_PY" bench/peers/spark_job.py --bootstrap-servers "$bootstrap" \
    --out "$work/spark_out" --jars "$SPARK_JARS" --trigger available-now --max-offsets "$spark_max_offsets" \
    >"$work/spark_drain.out" 2>"$work/spark_drain.err" || { tail -50 "$work/spark_drain.err" >&2; log "Spark failed"; exit 1; }
  spark_last=$(last_commit "$work/spark_out")
fi

# ----------------------------------------------------------------------------------------- drain: Flink
flink_last=0
if has flink; then
  log "throughput: Flink (bounded Kafka sources) drains the backlog"
  procmon --out "$work/flink_drain.json" -- "$FLINK_PY" bench/peers/flink_job.py --bootstrap-servers "$bootstrap" \
    --out "$work/flink_out" --jars "$FLINK_JARS" --bounded --idle-timeout 1h \
    --checkpoint-interval "$flink_drain_checkpoint" --group race-flink-drain \
    >"$work/flink_drain.out" 2>"$work/flink_drain.err" || { grep -v '^\s*at ' "$work/flink_drain.err" | tail -50 >&2; log "Flink failed"; exit 1; }
  flink_last=$(flink_last_commit "$work/flink_out")
fi

# Where smartcity's drain time goes: the same drain again (new group, new lake) under perf.
if command -v perf >/dev/null && [ "$profile" = 1 ]; then
  log "profile: smartcity stream drains the backlog again under perf record"
  perf record -q -F 999 -o "$work/perf.data" -- "$bin" stream --lake "$work/sc_perf_lake" --group race-perf \
    --idle-timeout 1h --stop-at-end -q 2>"$work/perf.err" || true
  perf report -i "$work/perf.data" --stdio --no-children --sort dso 2>/dev/null | grep -v '^#' | sed '/^$/d' |
    head -8 >"$work/perf_dso.txt" || true
  perf report -i "$work/perf.data" --stdio --no-children --sort dso,sym 2>/dev/null | grep -v '^#' | sed '/^$/d' |
    head -25 >"$work/perf_sym.txt" || true
fi

log "checking that every output holds the same rows"
check_ok=1
peer_outs=()
has spark && peer_outs+=(--spark "$work/spark_out")
has flink && peer_outs+=(--flink "$work/flink_out")
"$PY" bench/race_check.py --lake "$work/sc_lake" "${peer_outs[@]}" >"$work/check.json" || check_ok=0
cat "$work/check.json" >&2

# ------------------------------------------------------------------------------------ latency at a rate
# Events per event-second of this fleet, to turn --rate into the simulator's --speedup.
"$bin" simulate --one-trip --seed 3 --vehicles "$vehicles" --duration 10m --speedup max -o /dev/null -q \
  --summary-json "$work/rate.json"
per_event_s=$(calc "$(jsum "$work/rate.json" emitted) / 600")
speedup=$(calc "$rate / $per_event_s")

first_commit_exists() {  # first_commit_exists TABLE_DIR: a commit with data is visible
  # (Spark's first batch can be an empty one: its log entry then names no file.)
  # (Flink: a part file renamed into view.)
  [ -f "$1/_delta_log/00000000000000000001.json" ] || grep -qs '"path"' "$1"/_spark_metadata/[0-9]* ||
    compgen -G "$1/part-*" >/dev/null
}

latency_run() {  # latency_run NAME TABLE_DIR READY COMMAND...: fresh topics, the processor, then the producer
  local name=$1 table=$2 ready=$3; shift 3
  fresh_topics
  "$PY" bench/procmon.py --out "$work/${name}_lat.json" -- "$@" >"$work/${name}_lat.out" 2>"$work/${name}_lat.err" &
  local proc=$! deadline=$((SECONDS + 600))
  bg_pids+=("$proc")
  # The producer starts once the processor is up (its start-up is measured in the drain), so the
  # latency run measures the steady state, not a catch-up.
  until eval "$ready"; do
    kill -0 "$proc" 2>/dev/null || { tail -30 "$work/${name}_lat.err" >&2; log "$name exited in the latency run"; exit 1; }
    [ $SECONDS -lt $deadline ] || { log "$name did not start within 600 s"; exit 1; }
    sleep 0.2
  done
  "$bin" simulate --one-trip --seed 3 --vehicles "$vehicles" --speedup "$speedup" --duration 1000h --kafka -q \
    --summary-json "$work/${name}_produce.json" &
  local prod=$!; bg_pids+=("$prod")
  until first_commit_exists "$table"; do
    kill -0 "$proc" 2>/dev/null || { tail -30 "$work/${name}_lat.err" >&2; log "$name exited in the latency run"; exit 1; }
    [ $SECONDS -lt $deadline ] || { log "$name committed nothing within 600 s"; exit 1; }
    sleep 0.2
  done
  sleep "$lat_secs"
  kill -INT "$prod"
  wait "$prod" || true
  sleep 5  # let the last events reach the lake
  # procmon forwards it to the processor: smartcity commits and leaves, Spark stops its queries.
  kill -TERM "$proc"
  wait "$proc" || { tail -30 "$work/${name}_lat.err" >&2; log "$name failed in the latency run"; exit 1; }
  kcat -C -b "$bootstrap" -t vehicle_data -o beginning -e -q -f '%p %o %T\n' >"$work/${name}_ts.txt"
}

log "latency: smartcity at $rate events/s (speedup $speedup) for ${lat_secs}s, trigger $sc_trigger"
latency_run sc "$work/sc_lat_lake/vehicle_data" '[ -f "$work/sc_lat_lake/vehicle_data/_delta_log/00000000000000000000.json" ]' \
  "$bin" stream --lake "$work/sc_lat_lake" --group race-latency --trigger "$sc_trigger" \
  --summary-json "$work/sc_lat_summary.json" -q
if has spark; then
  log "latency: Spark at $rate events/s, trigger $spark_trigger"
  latency_run spark "$work/spark_lat_out/vehicle_data" 'grep -q started "$work/spark_lat.out"' \
    "$SPARK_PY" bench/peers/spark_job.py --bootstrap-servers "$bootstrap" --out "$work/spark_lat_out" \
    --jars "$SPARK_JARS" --trigger "$spark_trigger"
fi
if has flink; then
  # The same commit interval as smartcity's (--sc-trigger) and smartcity's default idle timeout (5 s).
  log "latency: Flink at $rate events/s, checkpoint interval $sc_trigger"
  latency_run flink "$work/flink_lat_out/vehicle_data" 'grep -q started "$work/flink_lat.out"' \
    "$FLINK_PY" bench/peers/flink_job.py --bootstrap-servers "$bootstrap" --out "$work/flink_lat_out" \
    --jars "$FLINK_JARS" --checkpoint-interval "$sc_trigger" --idle-timeout 5s --group race-flink-latency
fi

probe() {  # probe NAME FORMAT TABLE: lake latency of vehicle_data rows produced 10 s after the first commit
  local launch first
  launch=$(jget "$work/${1}_lat.json" start_epoch)
  first=$("$PY" bench/lake_latency.py --format "$2" --table "$3" --kafka-ts "$work/${1}_ts.txt" --launch "$launch" |
          "$PY" -c 'import json,sys; print(json.load(sys.stdin)["first_commit_s"])')
  "$PY" bench/lake_latency.py --format "$2" --table "$3" --kafka-ts "$work/${1}_ts.txt" --launch "$launch" \
    --from-ms "$(calc "($launch + $first + 10) * 1000")" \
    --stopped "$(calc "$launch + $(jget "$work/${1}_lat.json" seconds)")" >"$work/${1}_probe.json"
  cat "$work/${1}_probe.json" >&2
}
probe sc delta "$work/sc_lat_lake/vehicle_data"
if has spark; then probe spark spark "$work/spark_lat_out/vehicle_data"; fi
if has flink; then probe flink flink "$work/flink_lat_out/vehicle_data"; fi

# ------------------------------------------------------------------------------------------- the report
finished_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
commit=$(git rev-parse --short HEAD)
"$PY" - "$work" "$events" "$sc_last" "$spark_last" "$flink_last" "$check_ok" "$rate" "$lat_secs" "$sc_trigger" \
  "$spark_trigger" "$spark_max_offsets" "$vehicles" "$started_at" "$finished_at" "$commit" "$payload_mb" "$speedup" \
  "$contenders" "$flink_drain_checkpoint" >"$work/section.md" <<'EOF'
import json, os, platform, sys
(work, events, sc_last, spark_last, flink_last, check_ok, rate, lat_secs, sc_trigger, spark_trigger, spark_max_offsets,
 vehicles, started, finished, commit, payload_mb, speedup, contenders, flink_ckpt) = sys.argv[1:]
events = int(events)
peers = [p for p in ("spark", "flink") if p in contenders.split(",")]
title = {"spark": "Spark", "flink": "Flink"}
last = {"sc": float(sc_last), "spark": float(spark_last), "flink": float(flink_last)}
J = lambda n: json.load(open(os.path.join(work, n)))
names = ["sc"] + peers
drain = {n: J(f"{n}_drain.json") for n in names}
probe = {n: J(f"{n}_probe.json") for n in names}
lat = {n: J(f"{n}_lat.json") for n in names}
prod = {n: J(f"{n}_produce.json") for n in names}
kcat = J("kcat.json")
check = J("check.json") if os.path.getsize(os.path.join(work, "check.json")) else {}
scls = J("sc_lat_summary.json")
drain_s = {n: last[n] - drain[n]["start_epoch"] for n in names}
rows = []
def fmt_ratio(a, b, rel=""):
    return f"{rel}{a / b:.3g}×" if a is not None and b not in (None, 0) else "n/a"
def row(what, vals, unit, better, fmt="{:,.0f}", target=""):
    cells = [fmt.format(vals[n]) if vals[n] is not None else "n/a" for n in names]
    ratios = [fmt_ratio(vals["sc"], vals[p]) for p in peers]
    rows.append((what, *cells, unit, *ratios, better, target))
row("drain: launch → last commit", drain_s, "s", "lower", "{:.1f}")
row("drain throughput", {n: events / drain_s[n] for n in names}, "events/s", "higher", target="≥ 10×")
row("drain: process wall time", {n: drain[n]["seconds"] for n in names}, "s", "lower", "{:.1f}")
row("CPU per million events", {n: drain[n]["cpu_seconds"] / events * 1e6 for n in names}, "CPU-s", "lower", "{:.2f}")
row("peak RSS (process tree)", {n: drain[n]["peak_rss_bytes"] / 2**20 for n in names}, "MiB", "lower",
    target="≤ 0.2×")
sent = lambda d: sum(v['delivered'] for v in d['topics'].values()) / d['elapsed_seconds']
achieved = " / ".join(f"{sent(prod[n]):,.0f}" for n in names)
def lat_row(q, target=""):
    # A processor that had not committed every row of the window when stopped: its quantile is at least
    # the bound (those rows count with stop - produced), shown as "> bound".
    def val(p):
        if p.get("uncommitted"):
            return p[f"{q}_lower_bound_ms"], ">"
        return p[f"{q}_ms"], ""
    v = {n: val(probe[n]) for n in names}
    cells = [f"{m}{a:,.0f}" if a is not None else "n/a" for a, m in (v[n] for n in names)]
    ratios = []
    a, ma = v["sc"]
    for p in peers:
        b, mb = v[p]
        rel = "<" if (mb and not ma) else (">" if (ma and not mb) else ("" if not ma else "?"))
        ratios.append(fmt_ratio(a, b, rel) if rel != "?" else "n/a")
    rows.append((f"lake latency {q} (vehicle_data) @ {achieved} ev/s", *cells, "ms", *ratios, "lower", target))
lat_row("p50")
lat_row("p99", "≤ 0.1×")
def first_commit(root):
    # The oldest commit that adds data: a Delta log entry with an `add`, a Spark sink log entry, a Flink
    # part file renamed into view (ctime).
    best = None
    for dirpath, _, files in os.walk(root):
        base = os.path.basename(dirpath)
        for n in files:
            full = os.path.join(dirpath, n)
            if base == "_delta_log" and n.endswith(".json"):
                if '"add"' not in open(full).read():
                    continue
                t = os.stat(full).st_mtime
            elif base == "_spark_metadata" and n.replace(".compact", "").isdigit():
                t = os.stat(full).st_mtime
            elif n.startswith("part-") and "_checkpoints" not in dirpath and root.endswith("flink_out"):
                t = os.stat(full).st_ctime
            else:
                continue
            best = t if best is None else min(best, t)
    return best
outs = {"sc": "sc_lake", "spark": "spark_out", "flink": "flink_out"}
row("start-up: launch → first committed row (drain)",
    {n: first_commit(os.path.join(work, outs[n])) - drain[n]["start_epoch"] for n in names}, "s", "lower", "{:.2f}")
kc_rate = events / kcat["seconds"]
out = []
if "flink" in peers:
    out.append("## Race: smartcity vs Spark vs Flink (issues 9, 22)\n" if "spark" in peers else
               "## Race: smartcity vs Flink (issue 22)\n")
else:
    out.append("## Race against Spark (issue 9)\n")
out.append(f"Command: `bench/race.sh --events {events} --rate {rate} --latency-seconds {lat_secs} "
           f"--sc-trigger {sc_trigger} --spark-trigger {spark_trigger} --contenders {contenders}`. "
           f"Date: {started} – {finished}. Commit: {commit}.")
load = os.getloadavg()
out.append(f"Machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
           f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, Linux {platform.release()}; "
           f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (shared with other work).")
desc = (f"Broker: one local Kafka node (scripts/kafka.sh), the five topics with the same partitions, "
        f"loaded once with {events:,} events ({float(payload_mb):,.0f} MB of JSON; `smartcity simulate --one-trip --seed 1 --vehicles {vehicles} --kafka`). ")
if "spark" in peers:
    desc += (f"Spark: PySpark 3.5.3, local[2], driver memory 4g, shuffle partitions 2, six streaming queries "
             f"(five raw + the join), Parquet sinks, checkpoints on local disk (bench/peers/spark_job.py); "
             f"availableNow for the drain (maxOffsetsPerTrigger {spark_max_offsets or 'unlimited'}), "
             f"trigger {spark_trigger} for latency. ")
if "flink" in peers:
    desc += (f"Flink: PyFlink 2.3.0 (Kafka SQL connector 5.0.0-2.2, flink-sql-parquet 2.3.0), Flink SQL in a local "
             f"mini-cluster, parallelism 2, JVM heap 4g, one job (a statement set: five raw inserts + the interval "
             f"joins), hashmap state backend, exactly-once checkpoints on local disk every {flink_ckpt} in the drain "
             f"(bounded Kafka sources, idle timeout 1 h) and every {sc_trigger} in the latency run (idle timeout 5 s), "
             f"filesystem sinks as Parquet (bench/peers/flink_job.py).")
out.append(desc + "\n")
hdr = ["figure", "smartcity"] + [title[p] for p in peers] + ["unit"] + [f"smartcity / {title[p]}" for p in peers] + \
      ["better", "target"]
out.append("| " + " | ".join(hdr) + " |")
out.append("|---|" + "---:|" * (1 + len(peers)) + "---|" + "---:|" * len(peers) + "---|---|")
for r in rows:
    out.append("| " + " | ".join(r) + " |")
out.append("")
out.append(f"Physical bound: kcat -C of the same backlog to /dev/null (five consumers at once): "
           f"{kcat['seconds']:.1f} s, **{kc_rate:,.0f} events/s**, {kcat['cpu_seconds'] / events * 1e6:.2f} CPU-s per "
           f"million events. smartcity's drain reaches {events / drain_s['sc'] / kc_rate:.2f} of it "
           f"(target ≥ 0.5: within 2×); " +
           "; ".join(f"{title[p]}'s {events / drain_s[p] / kc_rate:.3f}" for p in peers) + ".")
live = scls["latency_ms"]["live"]; lake = scls["latency_ms"]["lake"]
out.append(f"smartcity's own latency figures in the latency run (--summary-json, every event, warm-up included): "
           f"produced → live state p50 {live['p50']:.1f} ms, p99 {live['p99']:.1f} ms; produced → lake p50 "
           f"{lake['p50']:.0f} ms, p99 {lake['p99']:.0f} ms.")
sl = lambda f: " / ".join(f(n) for n in names)
who = " / ".join(["smartcity"] + [title[p] for p in peers])
out.append(f"Latency runs ({who}): {lat_secs} s each at {rate} events/s (`simulate --speedup {speedup}`; the producer delivered "
           f"{sl(lambda n: format(sum(v['delivered'] for v in prod[n]['topics'].values()), ','))} events in "
           f"{sl(lambda n: format(prod[n]['elapsed_seconds'], '.1f'))} s), each contender alone "
           f"on fresh topics, the producer started once the processor was up; the probe (bench/lake_latency.py) counts the "
           f"vehicle_data rows produced from 10 s after the first commit on (first commit "
           f"{sl(lambda n: format(probe[n]['first_commit_s'], '.1f'))} s after launch): "
           f"{sl(lambda n: format(probe[n]['count'], ','))} rows, and {sl(lambda n: format(probe[n].get('uncommitted', 0), ','))} rows of the "
           f"window not committed when the processor was stopped (\">\": a lower bound counting those with stop − produced); "
           f"peak RSS during the run {sl(lambda n: format(lat[n]['peak_rss_bytes'] / 2**20, '.0f'))} MiB.")
if check:
    raw = ", ".join(f"{t} " + "/".join(format(v[k], ",") for k in ["smartcity"] + peers) for t, v in check["raw"].items())
    e = check["enriched"]
    diffs = "; ".join(f"{title[p]} {sum(v['differing_' + p] for v in check['raw'].values())}" for p in peers)
    enr = "; ".join(f"{title[p]}: {e['compared_' + p]:,} compared, only in smartcity {e['only_smartcity_vs_' + p]}, "
                    f"only in {title[p]} {e['only_' + p]}, all rows {e[p + '_rows']:,}" for p in peers)
    out.append(f"Same rows ({'checked: equal' if check.get('ok') else '**DIFFERENT**'}; bench/race_check.py): raw rows "
               f"{who} {raw} (differing (partition, offset) pairs: {diffs}); enriched_data rows older than the newest "
               f"minus 2 × D: smartcity {e['compared_smartcity']:,} ({e['compared_with_emergency']:,} with an emergency, "
               f"all rows {e['smartcity_rows']:,}); {enr} (the newer ones wait for the watermark).")
for name, ptitle in (("perf_dso.txt", "by library"), ("perf_sym.txt", "by function, top 25")):
    p = os.path.join(work, name)
    if os.path.exists(p) and os.path.getsize(p):
        out.append(f"\nWhere smartcity's drain CPU goes (`perf record -F 999` of a second drain of the same backlog, "
                   f"`perf report --no-children`, {ptitle}):\n\n```\n{open(p).read().rstrip()}\n```")
print("\n".join(out))
EOF
cat "$work/section.md"
if [ "$write" = 1 ]; then
  "$PY" - "$work/section.md" bench/RESULTS.md <<'EOF'
import re, sys
section = open(sys.argv[1]).read().rstrip() + "\n"
path = sys.argv[2]
text = open(path).read()
head = section.splitlines()[0]
if head in text:
    start = text.index(head)
    nxt = text.find("\n## ", start + len(head))
    text = text[:start] + section + (text[nxt:] if nxt >= 0 else "")
else:
    text = text.rstrip() + "\n\n" + section
open(path, "w").write(text)
EOF
  log "wrote bench/RESULTS.md"
fi
[ "$check_ok" = 1 ] || { log "the outputs differ: see above"; exit 1; }
