#!/usr/bin/env bash
# The repartition path's cost (docs/kafka_source.md, "Keys that are not the device id"): the same
# backlog of N simulated events drained by one `smartcity stream` member twice, alternating,
# --rounds times:
#   co-partitioned  produced keyed by deviceId with murmur2 (smartcity's producer): nothing is
#                   forwarded, the three repartition topics stay empty;
#   spread          the same events (same seed) produced with librdkafka's `random` partitioner, as a
#                   producer keyed by anything but the device id spreads them: ~5/6 of the join
#                   inputs are read outside their device's group, forwarded, read back and joined.
# Reported per million events (produced, not counting forwarded copies): CPU seconds of the stream
# process, and reading throughput; the ratio spread / co-partitioned. Both runs use a one-day
# watermark delay so that every forwarded record is joined (not late) and the join does the same
# work in both; the summaries' forwarded / duplicate counts are printed.
#
# Usage: bench/stream_repartition.sh [--events N] [--rounds K]   (defaults 1000000, 2)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
events=1000000 rounds=2
while [ $# -gt 0 ]; do
  case "$1" in
    --events) events=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "stream_repartition.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
log() { printf 'stream_repartition.sh: %s\n' "$*" >&2; }
PY=$(scripts/pyenv.sh)
bin="$root/build/release/src/cli/smartcity"
work=$(mktemp -d /tmp/smartcity-bench-repart.XXXXXX)
kdir="$work/kafka"
cleanup() {
  scripts/kafka.sh stop --dir "$kdir" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
bootstrap=$(scripts/kafka.sh start --dir "$kdir" --watch-pid $$)
export KAFKA_BOOTSTRAP_SERVERS=$bootstrap
vehicles=$(( (events + 24999) / 25000 ))
(( vehicles < 100 )) && vehicles=100

load() {  # load NAME [-X partitioner=random]: fresh topics holding the backlog
  "$bin" topics delete --repartition-group "bench-$1" --inputs >/dev/null 2>&1 || true
  sleep 1
  "$bin" topics create --partitions 6 >/dev/null
  "$bin" simulate --kafka --one-trip --seed 4 --vehicles "$vehicles" --count "$events" -q "${@:2}"
}
drain() {  # drain NAME
  "$bin" stream --group "bench-$1" --lake "$work/lake-$1" --watermark-delay 1d --idle-timeout 1h \
    --no-serve --stop-when-idle 2s --final --summary-json "$work/$1.json" -q
  rm -rf "$work/lake-$1"
}
for r in $(seq 1 "$rounds"); do
  log "round $r/$rounds: co-partitioned backlog of $events events"
  load "co-$r"
  drain "co-$r"
  log "round $r/$rounds: the same events spread by a random partitioner"
  load "spread-$r" -X partitioner=random
  drain "spread-$r"
done
"$PY" - "$work" "$rounds" "$events" <<'PY'
import json, os, statistics, sys
work, rounds, events = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def runs(kind):
    out = []
    for r in range(1, rounds + 1):
        j = json.load(open(os.path.join(work, f"{kind}-{r}.json")))
        raw = sum(v for k, v in j["rows"].items() if not k.startswith("_") and k != "enriched_data")
        raw += j["rows"].get("_dead_letters", 0)
        out.append({"cpu": j["cpu_seconds"] / raw * 1e6, "eps": raw / j["active_seconds"],
                    "raw": raw, "enriched": j["rows"]["enriched_data"], "rp": j["repartition"]})
    return out
co, sp = runs("co"), runs("spread")
med = lambda v, k: statistics.median(x[k] for x in v)
print("| measure | co-partitioned | spread (repartitioned) | ratio |")
print("|---|---|---|---|")
print(f"| CPU s per million events | {med(co, 'cpu'):.2f} | {med(sp, 'cpu'):.2f} | {med(sp, 'cpu') / med(co, 'cpu'):.2f} |")
print(f"| reading throughput, events/s | {med(co, 'eps'):,.0f} | {med(sp, 'eps'):,.0f} | {med(sp, 'eps') / med(co, 'eps'):.2f} |")
print(f"medians of {rounds} rounds; {co[0]['raw']:,} events per run; enriched rows {co[0]['enriched']:,} / "
      f"{sp[0]['enriched']:,}; spread: {sp[0]['rp']['forwarded']:,} forwarded, "
      f"co-partitioned: {co[0]['rp']['forwarded']:,} forwarded; load average {os.getloadavg()[0]:.1f}")
PY
