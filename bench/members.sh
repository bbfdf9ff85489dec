#!/usr/bin/env bash
# Many members, one lake (issue 17): 1, 2, 4 (and 8) `smartcity stream` members in one consumer
# group, on a 3-broker KRaft cluster (scripts/kafka.sh --brokers 3; topics with 8 partitions,
# replication factor 3), all writing one local lake. Two phases, each member count --rounds times
# (a fresh group and lake each time); reported per member count as median (min–max) over rounds.
#  1. Drain: the same backlog of N events (produced once) drained by M members (--stop-when-idle
#     --final):
#     - reading throughput of the group: events / the longest member's time from first to last record;
#     - CPU seconds per million events, all members together (what a member costs per event: the
#       figure that predicts scaling on machines with more cores than this one);
#     - commit overhead: the members' time in lake commits (offsets logs, eight Delta commits, state
#       checkpoints) per million events;
#     - Delta commit conflicts (a commit that lost its log version to another writer and was
#       retried at the next one) per 100 table commits; the log's growth in KiB per million events;
#     - peak RSS per member (median).
#  2. Live: a paced simulator produces --rate events/s into fresh topics for --seconds while M
#     members run with --trigger T: what a steady city costs in commits whatever the backlog:
#     - Delta versions per table per trigger (streaming commits, tests/e2e/delta_log_stats.py) and
#       the busiest trigger interval; compaction versions;
#     - conflicts per 100 table commits; one epoch commit's p50 / p99 (offsets logs, the eight
#       tables, state checkpoints; median over members); produced -> lake p99 (median over members);
#     - the Delta log's growth in KiB per minute, all eight tables.
# Each member count runs with group commit on and off (--group-commit; docs/commit_protocol.md,
# "Group commit"), interleaved: the per-member commits are the peer in the same run.
# On a 2-core machine the group's throughput cannot grow with the member count: the per-event CPU
# and the commit overhead per member count are what to read. The producer is smartcity's simulator
# (co-partitioned): members run with --repartition off (nothing would be forwarded; and members
# creating a group's repartition topics at once on a multi-broker cluster can fail, see
# docs/scaling.md).
#
# Usage: bench/members.sh [--events N] [--rounds K] [--members "1 2 4 8"] [--trigger T]
#                         [--rate R] [--seconds S] [--group-commit "on off"] [--no-write]
#   defaults: 2000000 events, 2 rounds, members "1 2 4 8", trigger 1s, rate 20000 events/s for 30 s;
#   --no-write prints the tables but leaves bench/RESULTS.md alone.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
events=2000000 rounds=2 counts="1 2 4 8" trigger=1s write=1 rate=20000 seconds=30 modes="on off"
while [ $# -gt 0 ]; do
  case "$1" in
    --events) events=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --members) counts=$2; shift 2 ;;
    --trigger) trigger=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --group-commit) modes=$2; shift 2 ;;
    --no-write) write=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "members.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
log() { printf 'members.sh: %s\n' "$*" >&2; }
PY=$(scripts/pyenv.sh)
bin="$root/build/release/src/cli/smartcity"
[ -x "$bin" ] || { log "build first: $bin is missing (scripts/setup.sh release)"; exit 1; }
work=$(mktemp -d /tmp/smartcity-bench-members.XXXXXX)
kdir="$work/kafka"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  scripts/kafka.sh stop --dir "$kdir" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
log "starting 3 Kafka brokers"
bootstrap=$(scripts/kafka.sh start --dir "$kdir" --brokers 3 --watch-pid $$)
export KAFKA_BOOTSTRAP_SERVERS=$bootstrap
"$bin" topics create --partitions 8 --replication-factor 3 >/dev/null
vehicles=$(( (events + 24999) / 25000 ))
(( vehicles < 100 )) && vehicles=100
log "pre-loading $events events"
"$bin" simulate --kafka --one-trip --seed 4 --vehicles "$vehicles" --count "$events" -q
trigger_s=$("$PY" -c 'import re,sys; m=re.fullmatch(r"([0-9.]+)(ms|s|m)", sys.argv[1]); print(float(m[1]) * {"ms": 1e-3, "s": 1, "m": 60}[m[2]])' "$trigger")

drain() {  # drain M ROUND GC: M members drain the backlog into a fresh lake; summaries in $work/M-R-GC/
  local m=$1 r=$2 gc=$3 dir="$work/$1-$2-$3" i
  mkdir -p "$dir"
  pids=()
  for i in $(seq 1 "$m"); do
    "$bin" stream --group "bench-$m-$r-$gc" --instance-id "member-$i" --lake "$dir/lake" --trigger "$trigger" --repartition off \
      --group-commit "$gc" --idle-timeout 1h --no-serve --stop-when-idle 3s --final --summary-json "$dir/m$i.json" \
      >"$dir/m$i.log" 2>&1 &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { log "member $((i + 1)) of $m failed: $(tail -3 "$dir/m$((i + 1)).log")"; exit 1; }
  done
  pids=()
  "$PY" tests/e2e/delta_log_stats.py "$dir/lake" --trigger "$trigger_s" >"$dir/log.json"
  rm -rf "$dir/lake"
}
live() {  # live M ROUND GC: M members while the simulator produces at $rate events/s for $seconds s
  local m=$1 r=$2 gc=$3 dir="$work/live-$1-$2-$3" i sim
  mkdir -p "$dir"
  "$bin" topics delete >/dev/null
  sleep 2
  "$bin" topics create --partitions 8 --replication-factor 3 >/dev/null
  pids=()
  for i in $(seq 1 "$m"); do
    "$bin" stream --group "live-$m-$r-$gc" --instance-id "member-$i" --lake "$dir/lake" --trigger "$trigger" --repartition off \
      --group-commit "$gc" --idle-timeout 1h --no-serve --summary-json "$dir/m$i.json" >"$dir/m$i.log" 2>&1 &
    pids+=($!)
  done
  sleep 5  # joined the group
  # 100 vehicles produce about 3 events per simulated second.
  "$bin" simulate --kafka --one-trip --seed 5 --vehicles 100 --duration 24h -q \
    --speedup "$(awk -v r="$rate" 'BEGIN { printf "%.2f", r / 300.0 }')" --summary-json "$dir/sim.json" &
  sim=$!
  pids+=("$sim")
  sleep "$seconds"
  kill -INT "$sim"; wait "$sim" || true
  sleep 3  # the last events reach the lake
  for i in $(seq 1 "$m"); do kill -INT "${pids[$((i - 1))]}"; done
  for i in $(seq 1 "$m"); do
    wait "${pids[$((i - 1))]}" || { log "live member $i of $m failed: $(tail -3 "$dir/m$i.log")"; exit 1; }
  done
  pids=()
  "$PY" tests/e2e/delta_log_stats.py "$dir/lake" --trigger "$trigger_s" >"$dir/log.json"
  rm -rf "$dir/lake"
}
for r in $(seq 1 "$rounds"); do
  for m in $counts; do
    for gc in $modes; do
      log "round $r/$rounds: drain, $m member(s), group commit $gc"
      drain "$m" "$r" "$gc"
    done
  done
done
for r in $(seq 1 "$rounds"); do
  for m in $counts; do
    for gc in $modes; do
      log "round $r/$rounds: live, $m member(s) at $rate events/s, group commit $gc"
      live "$m" "$r" "$gc"
    done
  done
done

"$PY" - "$work" "$rounds" "$counts" "$trigger" "$write" "$root/bench/RESULTS.md" "$rate" "$seconds" "$modes" <<'PY'
import datetime, glob, json, os, platform, statistics, sys
work, rounds, counts, trigger, write, results, rate, seconds, modes = sys.argv[1:]
rounds, counts = int(rounds), [int(c) for c in counts.split()]
modes = modes.split()
keys = [(m, gc) for m in counts for gc in modes]

def one(m, r):
    d = os.path.join(work, f"{m[0]}-{r}-{m[1]}")
    ms = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(d, "m*.json")))]
    lg = json.load(open(os.path.join(d, "log.json")))
    ev = sum(j["records"] for j in ms)
    commits = sum(j["table_commits"] for j in ms)
    return {
        "records": ev,
        "eps": ev / max(j["active_seconds"] for j in ms),
        "cpu": sum(j["cpu_seconds"] for j in ms) / ev * 1e6,
        "commit_s": sum(j["time_seconds"]["lake_write"] for j in ms) / ev * 1e6,
        "conflicts": 100 * sum(j["commit_conflicts"] for j in ms) / max(1, commits),
        "log_kib": lg["all"]["log_bytes"] / 1024 / (ev / 1e6),
        "rss": statistics.median(j["peak_rss_bytes"] for j in ms) / 2**20,
    }

def live(m, r):
    d = os.path.join(work, f"live-{m[0]}-{r}-{m[1]}")
    ms = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(d, "m*.json")))]
    lg = json.load(open(os.path.join(d, "log.json")))
    sim = json.load(open(os.path.join(d, "sim.json")))
    commits = sum(j["table_commits"] for j in ms)
    span = max(lg[t]["seconds"] for t in lg if t != "all")
    return {
        "produced": sum(t["delivered"] for t in sim["topics"].values()),
        "per_trigger": statistics.median(lg[t]["per_trigger"] for t in lg if t != "all"),
        "busiest": lg["all"]["busiest_interval_max"],
        "maint": lg["all"]["maintenance_versions"],
        "conflicts": 100 * sum(j["commit_conflicts"] for j in ms) / max(1, commits),
        "p50": statistics.median(j["latency_ms"]["commit"]["p50"] for j in ms),
        "p99": statistics.median(j["latency_ms"]["commit"]["p99"] for j in ms),
        "lake_p99": statistics.median(j["latency_ms"]["lake"]["p99"] for j in ms),
        "log_kib_min": lg["all"]["log_bytes"] / 1024 / max(span / 60, 1e-9),
        "cpu_min": statistics.median(j["cpu_seconds"] for j in ms) / (float(seconds) + 8) * 60,
    }

def cell(vals, f):
    med = statistics.median(vals)
    return f"{f(med)} ({f(min(vals))}–{f(max(vals))})" if len(vals) > 1 else f(med)

def render(rows, cols):
    table = ["| members | group commit | " + " | ".join(c[0] for c in cols) + " |",
             "|" + "---|" * (len(cols) + 2)]
    for m in keys:
        v = rows[m]
        cells = []
        for name, key, f in cols:
            if isinstance(key, tuple):
                cells.append(" / ".join(cell([x[k] for x in v], f) for k in key))
            else:
                cells.append(cell([x[key] for x in v], f))
        table.append(f"| {m[0]} | {m[1]} | " + " | ".join(cells) + " |")
    return table

drain_rows = {m: [one(m, r) for r in range(1, rounds + 1)] for m in keys}
live_rows = {m: [live(m, r) for r in range(1, rounds + 1)] for m in keys}
ms0 = lambda x: f"{x:,.0f}"
drain_table = render(drain_rows, [
    ("group throughput, events/s", "eps", ms0),
    ("CPU s per M events (all members)", "cpu", lambda x: f"{x:.2f}"),
    ("commit time s per M events (all members)", "commit_s", lambda x: f"{x:.2f}"),
    ("conflicts per 100 table commits", "conflicts", lambda x: f"{x:.1f}"),
    ("log KiB per M events", "log_kib", ms0),
    ("peak RSS per member, MiB", "rss", ms0)])
live_table = render(live_rows, [
    ("Delta versions per table per trigger", "per_trigger", lambda x: f"{x:.2f}"),
    ("busiest trigger interval, versions", "busiest", ms0),
    ("conflicts per 100 table commits", "conflicts", lambda x: f"{x:.1f}"),
    ("epoch commit p50 / p99, ms", ("p50", "p99"), ms0),
    ("produced → lake p99, ms", "lake_p99", ms0),
    ("log KiB per minute (8 tables)", "log_kib_min", ms0),
    ("compaction versions", "maint", ms0),
    ("CPU s per minute per member", "cpu_min", lambda x: f"{x:.1f}")])
recs = drain_rows[keys[0]][0]["records"]
produced = live_rows[keys[0]][0]["produced"]
table = (["Drain of one backlog:", ""] + drain_table +
         ["", f"Live city, {rate} events/s produced for {seconds} s (trigger {trigger}):", ""] + live_table)
note = (f"Median (min–max) of {rounds} rounds per member count; drains of {recs:,} events (a replayed epoch "
        f"counts again), every member with --stop-when-idle 3s --final; live runs produced {produced:,} events "
        f"(first run); trigger {trigger}; load average at the end {os.getloadavg()[0]:.1f}.")
print("\n".join(table))
print(note)
if write == "1":
    cpu = open("/proc/cpuinfo").read().split("model name")[1].split(":")[1].split("\n")[0].strip()
    title = "## Many members, one lake (issue 17)"
    section = [title, "",
               f"`bench/members.sh` on {datetime.date.today()}, {os.cpu_count()} cores ({cpu}), Linux "
               f"{platform.release()}; 3 Kafka brokers (KRaft, scripts/kafka.sh --brokers 3), 8 partitions per "
               f"topic, replication factor 3, one local lake; other jobs share the machine.", ""] + table + ["", note, ""]
    text = open(results).read()
    start = text.find(title)
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + text[end + 1:] if end >= 0 else text[:start]
    open(results, "w").write(text.rstrip("\n") + "\n\n" + "\n".join(section))
    print(f"written to {results}")
PY
