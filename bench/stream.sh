#!/usr/bin/env bash
# Stream processor benchmark (issue 4), one command: `smartcity stream` from a real local Kafka
# (scripts/kafka.sh) into a local Delta lake. Results go to bench/RESULTS.md ("Stream processor").
#
#   1. Throughput: the topics are pre-loaded with N events (smartcity simulate --kafka); the processor
#      drains the backlog into the lake (--stop-when-idle --final). Events/s over the time it was reading
#      (first record to last), and over the whole run (group join, final commit and idle wait included).
#      Peer in the same run: kcat consuming the same backlog to /dev/null (the transport's bound).
#   2. Latency at a fixed moderate rate: the simulator produces at --rate events/s (paced) while the
#      processor runs with --trigger T; from each event's Kafka CreateTime (set when the producer
#      produced it) to visible in the live state (the micro-batch that processed it) and to committed
#      in the lake (the epoch's last checkpoint written). p50/p99 from the processor's histograms.
#   3. Peak RSS of the processor in both runs.
#   With --baseline BIN: the throughput run is repeated --rounds times, alternating between this
#   build's smartcity and BIN (another build, e.g. of an older commit) on the same backlog, and the
#   medians, spreads and ratios of both are reported (for "within noise of before" claims).
#   With --with ARGS: the same, but the second binary is this build with ARGS added to its `stream`
#   (e.g. --with '--table-format delta,iceberg' for the cost of an option); with --baseline too,
#   ARGS go to this build's runs only. The latency run is this build's, with ARGS.
#
# Usage: bench/stream.sh [--events N] [--rate R] [--seconds S] [--trigger T] [--no-write]
#                        [--baseline BIN] [--with ARGS] [--rounds K]
#   --events   backlog for the throughput run (default 5000000)
#   --rate     events/s for the latency run (default 20000)
#   --seconds  length of the latency run (default 40)
#   --trigger  lake commit interval for the latency run (default 2s)
#   --no-write print the table but leave bench/RESULTS.md alone
#   --baseline a second smartcity binary to compare with (implies --no-write)
#   --with     stream arguments for this build's throughput runs, compared with runs without them
#              (implies --no-write)
#   --rounds   throughput runs of each side with --baseline or --with (default 3)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

events=5000000 rate=20000 seconds=40 trigger=2s write=1 baseline="" with="" rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --events) events=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --trigger) trigger=$2; shift 2 ;;
    --no-write) write=0; shift ;;
    --baseline) baseline=$(realpath "$2"); write=0; shift 2 ;;
    --with) with=$2; write=0; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "stream.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
log() { printf 'stream.sh: %s\n' "$*" >&2; }

scripts/setup.sh release
PY=$(scripts/pyenv.sh)
bin="$root/build/release/src/cli/smartcity"
work=$(mktemp -d /tmp/smartcity-bench-stream.XXXXXX)
kdir="$work/kafka"
cleanup() {
  scripts/kafka.sh stop --dir "$kdir" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
bootstrap=$(scripts/kafka.sh start --dir "$kdir" --watch-pid $$)
export KAFKA_BOOTSTRAP_SERVERS=$bootstrap
topics=(vehicle_data gps_data traffic_data weather_data emergency_data)
vehicles=100
# Events per simulated second: ~3 per vehicle (vehicle, gps, weather; traffic and emergency are rare).
# A vehicle produces ~26 800 events before it arrives: the backlog's fleet is big enough for --events.
backlog_vehicles=$(( (events + 24999) / 25000 ))
(( backlog_vehicles < vehicles )) && backlog_vehicles=$vehicles

# ---- 1. throughput -----------------------------------------------------------------------------
"$bin" topics create --partitions 6 >/dev/null
log "pre-loading $events events"
"$bin" simulate --kafka --one-trip --seed 4 --vehicles "$backlog_vehicles" --count "$events" -q
log "kcat draining the backlog to /dev/null"
t0=$(date +%s.%N)
for t in "${topics[@]}"; do
  kcat -C -b "$bootstrap" -t "$t" -e -q -o beginning -f '%s\n' >/dev/null &
done
wait
t1=$(date +%s.%N)
kcat_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
drain() {  # drain BINARY NAME [ARGS...]: one throughput run, its summary in $work/NAME.json, RSS in NAME.rss
  local b=$1 name=$2
  shift 2
  /usr/bin/time -f '%M' -o "$work/$name.rss" "$b" stream --group "bench-$name" --lake "$work/lake-$name" \
    --stop-when-idle 2s --final --summary-json "$work/$name.json" -q "$@"
  # The metadata a drain left (Delta log, Iceberg metadata/), for the cost of an option.
  find "$work/lake-$name" -type f \( -path '*/_delta_log/*' -o -path '*/metadata/*' \) -printf '%s\n' |
    awk '{ s += $1 } END { print s + 0 }' >"$work/$name.meta"
  rm -rf "$work/lake-$name"
}
# This build's runs (the second table's too) get the --with arguments.
read -r -a with_args <<<"$with"
if [ -n "$baseline" ] || [ -n "$with" ]; then
  base_bin=${baseline:-$bin}
  for r in $(seq 1 "$rounds"); do
    log "round $r/$rounds: $base_bin draining the backlog"
    drain "$base_bin" "base-$r"
    log "round $r/$rounds: this build${with:+ with $with} draining the backlog"
    drain "$bin" "tp-$r" "${with_args[@]}"
  done
  "$PY" - "$work" "$rounds" "${baseline:-this build}" "this build${with:+ with $with}" <<'PY'
import json, os, statistics, sys
work, rounds, base_name, cur_name = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def runs(kind):
    out = []
    for r in range(1, rounds + 1):
        j = json.load(open(os.path.join(work, f"{kind}-{r}.json")))
        rss = int(open(os.path.join(work, f"{kind}-{r}.rss")).read().split()[-1]) / 1024
        meta = int(open(os.path.join(work, f"{kind}-{r}.meta")).read()) / 2**20
        out.append((j["events_per_s_active"], j["cpu_seconds"] / j["records"] * 1e6, rss, meta, j["records"]))
    return out
base, cur = runs("base"), runs("tp")
def col(v, i): return [x[i] for x in v]
def fmt(v, i, f): return f"{f(statistics.median(col(v, i)))} (min {f(min(col(v, i)))}, max {f(max(col(v, i)))})"
print(f"| measure | {base_name} | {cur_name} | ratio of medians |")
print("|---|---|---|---|")
for name, i, f in (("reading throughput, events/s", 0, lambda x: f"{x:,.0f}"),
                   ("CPU s per million events", 1, lambda x: f"{x:.2f}"),
                   ("peak RSS, MiB", 2, lambda x: f"{x:.0f}"),
                   ("table metadata left (logs), MiB", 3, lambda x: f"{x:.2f}")):
    b = statistics.median(col(base, i))
    ratio = f"{statistics.median(col(cur, i)) / b:.2f}" if b else "-"
    print(f"| {name} | {fmt(base, i, f)} | {fmt(cur, i, f)} | {ratio} |")
print(f"{rounds} rounds, alternating the two on the same backlog of "
      f"{cur[0][4]:,} events; load average {os.getloadavg()[0]:.1f}")
PY
  cp "$work/tp-1.json" "$work/tp.json"; cp "$work/tp-1.rss" "$work/tp.rss"
else
  log "smartcity stream draining the backlog"
  drain "$bin" tp
fi

# ---- 2. latency at a fixed rate ------------------------------------------------------------------
"$bin" topics delete >/dev/null
sleep 2
"$bin" topics create --partitions 6 >/dev/null
log "latency: $rate events/s for ${seconds}s, trigger $trigger"
"$bin" stream "${with_args[@]}" --group bench-lat --lake "$work/lake-lat" --trigger "$trigger" \
  --summary-json "$work/lat.json" -q &
stream_pid=$!
sleep 5  # joined the group
# --speedup paces simulated time: vehicles * 3 events per simulated second.
speedup=$(awk -v r="$rate" -v v="$vehicles" 'BEGIN { printf "%.2f", r / (v * 3.0) }')
"$bin" simulate --kafka --one-trip --seed 5 --vehicles "$vehicles" --speedup "$speedup" --duration 24h -q \
  --summary-json "$work/lat-sim.json" &
sim_pid=$!
sleep "$seconds"
kill -INT "$sim_pid"; wait "$sim_pid" || true
sleep 4  # the last events reach the lake
kill -INT "$stream_pid"; wait "$stream_pid"

"$PY" - "$work" "$events" "$kcat_s" "$rate" "$seconds" "$trigger" "$write" "$root/bench/RESULTS.md" <<'PY'
import json, os, platform, subprocess, sys, datetime
work, events, kcat_s, rate, seconds, trigger, write, results = sys.argv[1:]
tp = json.load(open(os.path.join(work, "tp.json")))
lat = json.load(open(os.path.join(work, "lat.json")))
sim = json.load(open(os.path.join(work, "lat-sim.json")))
rss_kb = int(open(os.path.join(work, "tp.rss")).read().split()[-1])
# The topics hold what the simulator generated (its vehicles may all arrive before --count): the
# processor's record count is that number.
kcat_rate = tp['records'] / float(kcat_s)
produced = sum(t["delivered"] for t in sim["topics"].values())
rows = [
    ("Throughput, reading (first to last record)", f"{tp['events_per_s_active']:,.0f} events/s", "≥ 500,000 events/s"),
    ("Throughput, whole run (join, final commit, 2 s idle)", f"{tp['events_per_s']:,.0f} events/s", ""),
    ("kcat to /dev/null, same backlog (transport bound)", f"{kcat_rate:,.0f} events/s",
     f"smartcity/kcat = {tp['events_per_s_active'] / kcat_rate:.2f}"),
    ("CPU seconds per million events", f"{tp['cpu_seconds'] / tp['records'] * 1e6:.2f} s", ""),
    ("Peak RSS, throughput run", f"{rss_kb / 1024:.0f} MiB", ""),
    (f"Latency run: rate produced", f"{produced / float(seconds):,.0f} events/s for {seconds} s", ""),
    ("Produced → live state, p50 / p99", f"{lat['latency_ms']['live']['p50']:.1f} / {lat['latency_ms']['live']['p99']:.1f} ms", "p99 < 100 ms"),
    (f"Produced → lake (trigger {trigger}), p50 / p99", f"{lat['latency_ms']['lake']['p50']:.0f} / {lat['latency_ms']['lake']['p99']:.0f} ms", f"p99 < trigger + 1 s"),
    ("Peak RSS, latency run", f"{lat['peak_rss_bytes'] / 2**20:.0f} MiB", ""),
]
table = ["| measure | result | target / ratio |", "|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]
t = tp["time_seconds"]
note = (f"Throughput run: {tp['records']:,} events in {tp['active_seconds']:.1f} s of reading; processor time "
        f"polling {t['poll']:.1f} s, processing {t['process']:.1f} s, committing {t['commit']:.1f} s; "
        f"{tp['cpu_seconds']:.1f} CPU s.")
print("\n".join(table))
print(note)
if write == "1":
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
    section = ["## Stream processor (issue 4)", "",
               f"`bench/stream.sh` on {datetime.date.today()}, {os.cpu_count()} cores ({cpu}), Linux {platform.release()}; "
               f"one local Kafka broker (scripts/kafka.sh), 6 partitions per topic, local lake; "
               f"load average at the end {os.getloadavg()[0]:.1f} (other jobs share the machine).", ""] + table + ["", note, ""]
    text = open(results).read() if os.path.exists(results) else "# Benchmark results\n"
    start = text.find("## Stream processor (issue 4)")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + text[end + 1:] if end >= 0 else text[:start]
    open(results, "w").write(text.rstrip("\n") + "\n\n" + "\n".join(section))
    print(f"written to {results}")
PY
