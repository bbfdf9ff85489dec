#!/usr/bin/env bash
# Soak benchmark (issue 15), one command: long runs of the pipeline, sampled at regular points, to see
# whether memory, the lake's file and log counts, the checkpoints and the lags stay bounded. Writes the
# section "Soak (issue 15)" of bench/RESULTS.md, the samples to bench/soak.csv and a chart of them over
# city time to bench/soak.svg.
#
#   1. run: `smartcity run --speedup max --vehicles N --duration Dd` (defaults otherwise: trigger 10 s,
#      maintenance on, --memory-limit 256, warehouse follower into a DuckDB file, the live view on a free
#      port), sampled every --interval s of wall time by bench/soak_sample.py: VmRSS/VmHWM, CPU, events,
#      lag (records behind, city time minus watermark), warehouse lag (from /api/status), data files per
#      table and per date partition, _delta_log objects, bytes under _checkpoints/. At the end: the
#      tables' live files per date partition (Delta snapshot, read with the Python deltalake package)
#      and the rows of the lake against those of the warehouse. One soak per --memory-limits entry.
#   2. stream: a local Kafka (scripts/kafka.sh); `smartcity simulate --kafka --speedup X` feeds it at a
#      steady paced rate while `smartcity stream` (defaults) runs for --stream-minutes, sampled the same
#      way.
#   3. maintenance cost: --rounds interleaved pairs of `run --speedup max --duration --ratio-duration
#      --no-serve` with --maintenance on and off (fresh lake each; the order alternates), wall and CPU
#      by /usr/bin/time, the run's --summary-json beside them in the work folder (with maintenance
#      on: the compactions' files, bytes and seconds, the last pass's seconds, the stop's);
#      throughput ratio on/off per pair, its median and spread. Once per
#      --ratio-memory-limits entry and --ratio-duration entry.
#   The targets checked: peak RSS of `run` <= 256 MiB and at the end within 10% of its value after the
#   first city day; live data files per table per date partition <= 16; _delta_log objects bounded by
#   the log retention (the oldest one while running at most twice the retention old: their number
#   follows the commit rate); run throughput with maintenance on within 15% of off.
#
# Usage: bench/soak.sh [--days D] [--vehicles N] [--interval S] [--memory-limits LIST]
#                      [--stream-minutes M] [--stream-speedup X] [--ratio-duration DUR] [--rounds K]
#                      [--ratio-memory-limits LIST] [--skip PARTS] [--work DIR] [--no-write]
#                      [--retention DUR]
#   --days            city days of the `run` soak (default 7)
#   --vehicles        steady fleet, vehicles on the road at the daily mean (default 100)
#   --interval        seconds of wall time between two samples (default 15)
#   --memory-limits   comma-separated --memory-limit values, one `run` soak each; "default" = the
#                     product's default (default: default)
#   --stream-minutes  wall minutes of the stream soak (default 10)
#   --stream-speedup  simulator pacing of the stream soak: events/s ~ 3 x vehicles x X (default 60)
#   --ratio-duration  city time of each maintenance on/off run; comma-separated: one set of rounds
#                     each (default 1h)
#   --rounds          on/off pairs (default 3)
#   --ratio-memory-limits  comma-separated --memory-limit values of the on/off runs, one set of
#                     rounds each (default: default)
#   --skip            comma-separated parts to leave out: run, stream, ratio
#   --work DIR        keep the runs in DIR (default: a temporary folder, deleted at the end); a part
#                     whose DIR/<part>/rc exists already is not run again, only reported (to report a
#                     long soak that was started on its own, or to resume after an interruption)
#   --no-write        print the table but leave bench/RESULTS.md, soak.csv and soak.svg alone
#   --retention DUR   --log-retention and --vacuum-retention of the `run` soak (default: the
#                     product's, 1 h of wall time). At --speedup max 7 city days take well under an
#                     hour of wall time, so with the default nothing gets old enough to be cleaned
#                     up: a few minutes shows the bound on log objects and files on disk.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

days=7 vehicles=100 interval=15 limits=default stream_minutes=10 stream_speedup=60
ratio_duration=1h rounds=3 ratio_limit=default skip="" work="" write=1 retention=""
while [ $# -gt 0 ]; do
  case "$1" in
    --days) days=$2; shift 2 ;;
    --vehicles) vehicles=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    --memory-limits) limits=$2; shift 2 ;;
    --stream-minutes) stream_minutes=$2; shift 2 ;;
    --stream-speedup) stream_speedup=$2; shift 2 ;;
    --ratio-duration) ratio_duration=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --ratio-memory-limit|--ratio-memory-limits) ratio_limit=$2; shift 2 ;;
    --skip) skip=$2; shift 2 ;;
    --retention) retention=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --no-write) write=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
log() { printf 'soak.sh: %s [%s, load %s]\n' "$1" "$(date +%T)" "$(cut -d' ' -f1 /proc/loadavg)" >&2; }
skipped() { [[ ",$skip," == *",$1,"* ]]; }
mem_args() { [ "$1" = default ] || echo "--memory-limit $1"; }

scripts/setup.sh release >/dev/null
cmake --build build/release --target smartcity -- -j2 >/dev/null
PY=$(scripts/pyenv.sh)
bin="$root/build/release/src/cli/smartcity"
keep=1
if [ -z "$work" ]; then work=$(mktemp -d /tmp/smartcity-bench-soak.XXXXXX); keep=0; fi
mkdir -p "$work"
work=$(cd "$work" && pwd)
kdir="$work/kafka"
kafka_started=0
cleanup() {
  if [ "$kafka_started" = 1 ]; then scripts/kafka.sh stop --dir "$kdir" >/dev/null 2>&1 || true; fi
  if [ "$keep" = 0 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
stamp() {  # stamp DIR start|end: wall clock and load average, for the report
  date +%s > "$1/$2"
  cut -d' ' -f1-3 /proc/loadavg > "$1/load-$2"
}

# ---- 1. run over days of city time --------------------------------------------------------------
if ! skipped run; then
  IFS=, read -r -a cfgs <<< "$limits"
  for cfg in "${cfgs[@]}"; do
    d="$work/run-$cfg"
    if [ -f "$d/rc" ]; then log "run-$cfg: already done in $d"; continue; fi
    rm -rf "$d"; mkdir -p "$d"
    log "run-$cfg: $days city days, $vehicles vehicles, speedup max, memory limit $cfg"
    stamp "$d" start
    rc=0
    # shellcheck disable=SC2046  # mem_args: no option, or an option and its value
    "$PY" bench/soak_sample.py --out "$d/samples.csv" --lake "$d/lake" --log "$d/stderr.log" \
      --interval "$interval" --phase "run-$cfg" -- \
      "$bin" run --lake "$d/lake" --speedup max --vehicles "$vehicles" --duration "${days}d" \
      --listen 127.0.0.1:0 $(mem_args "$cfg") \
      ${retention:+--log-retention "$retention" --vacuum-retention "$retention"} || rc=$?
    stamp "$d" end
    echo "$rc" > "$d/rc"
    log "run-$cfg: exit code $rc"
  done
fi

# ---- 2. stream from Kafka at a steady rate ------------------------------------------------------
d="$work/stream"
if ! skipped stream && [ ! -f "$d/rc" ]; then
  rm -rf "$d"; mkdir -p "$d"
  kafka_started=1
  bootstrap=$(scripts/kafka.sh start --dir "$kdir" --watch-pid $$)
  export KAFKA_BOOTSTRAP_SERVERS=$bootstrap
  "$bin" topics create --partitions 6 >/dev/null
  log "stream: $stream_minutes min, simulate --kafka --vehicles $vehicles --speedup $stream_speedup"
  stamp "$d" start
  "$PY" bench/soak_sample.py --out "$d/samples.csv" --lake "$d/lake" --log "$d/stderr.log" \
    --interval "$interval" --phase stream -- \
    "$bin" stream --group soak --lake "$d/lake" --listen 127.0.0.1:0 &
  sampler=$!
  sleep 5  # joined the group
  "$bin" simulate --kafka --vehicles "$vehicles" --speedup "$stream_speedup" -q \
    --summary-json "$d/simulate.json" &
  sim=$!
  sleep $(( stream_minutes * 60 ))
  kill -INT "$sim"; wait "$sim" || true
  sleep 15  # the last events reach the lake
  kill -INT "$sampler"
  rc=0; wait "$sampler" || rc=$?
  stamp "$d" end
  echo "$rc" > "$d/rc"
  scripts/kafka.sh stop --dir "$kdir" >/dev/null 2>&1 || true
  kafka_started=0
  log "stream: exit code $rc"
fi

# ---- 3. maintenance on vs off ---------------------------------------------------------------------
IFS=, read -r -a ratio_cfgs <<< "$ratio_limit"
IFS=, read -r -a ratio_durations <<< "$ratio_duration"
for cfg in "${ratio_cfgs[@]}"; do
 for dur in "${ratio_durations[@]}"; do
  d="$work/ratio-$cfg-$dur"
  if skipped ratio || [ -f "$d/rc" ]; then continue; fi
  rm -rf "$d"; mkdir -p "$d"
  stamp "$d" start
  for r in $(seq 1 "$rounds"); do
    order="on off"; (( r % 2 == 0 )) && order="off on"
    for m in $order; do
      log "ratio-$cfg-$dur: round $r/$rounds, maintenance $m, $dur of city time"
      rm -rf "$d/lake" "$d/lake-warehouse.duckdb"*
      # shellcheck disable=SC2046  # mem_args: no option, or an option and its value
      /usr/bin/time -f '%e %U %S %M %x' -o "$d/$m-$r.time" \
        "$bin" run --lake "$d/lake" --speedup max --vehicles "$vehicles" \
        --duration "$dur" --maintenance "$m" --no-serve $(mem_args "$cfg") \
        --summary-json "$d/$m-$r.json" 2> "$d/$m-$r.log" || true
      cut -d' ' -f1-3 /proc/loadavg > "$d/$m-$r.load"
    done
  done
  rm -rf "$d/lake" "$d/lake-warehouse.duckdb"*
  stamp "$d" end
  echo 0 > "$d/rc"
 done
done

# ---- report ----------------------------------------------------------------------------------------
log "report"
"$PY" bench/soak_report.py --work "$work" --write "$write" --root "$root" --days "$days" \
  --vehicles "$vehicles" --interval "$interval" --limits "$limits" \
  --stream-minutes "$stream_minutes" --stream-speedup "$stream_speedup" \
  --ratio-duration "$ratio_duration" --rounds "$rounds" --ratio-limit "$ratio_limit" \
  --retention "${retention:-1h}"
