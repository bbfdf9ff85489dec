#!/usr/bin/env bash
# Simulator benchmark, one command: builds if needed, then measures `smartcity simulate --speedup max`
# on one core (taskset -c 0) to /dev/null and to a file, for 10 and 1000 vehicles on the one-way trip
# (--one-trip, the figures from before the steady corridor) and 1000 vehicles in the steady corridor,
# in jsonl and value formats, and runs the Google Benchmark micro-benchmarks of the generator. With
# SCALE=1 it also times a day of the corridor at its real volume (about 100 000 vehicles a day,
# --vehicles 9400) to /dev/null: real time on one core means well under 24 h of CPU. Writes the
# section "Simulator (issue 2)" of bench/RESULTS.md (other sections are kept).
#   bench/simulate.sh            (REPEAT=5 runs per case, best kept; BUILD=build/release; SCALE=0)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${BUILD:-build/release}
repeat=${REPEAT:-5}
scale=${SCALE:-0}

if [ ! -f "$build/build.ninja" ]; then
  scripts/setup.sh release
fi
cmake --build "$build" --target smartcity simulation_bench -- -j2 >/dev/null
bin=$build/src/cli/smartcity
mkdir -p .cache/bench
out_file=.cache/bench/simulate.out
trap 'rm -f "$out_file" .cache/bench/summary.json' EXIT

pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)

echo "== generator micro-benchmarks (one core)" >&2
micro=$("${pin[@]}" "$build/bench/simulation_bench" --benchmark_min_time=1 2>&1 | grep -E '^(BM_|Benchmark|-)' || true)
echo "$micro" >&2

echo "== smartcity simulate --speedup max (one core, best of $repeat)" >&2
table=$(REPEAT=$repeat BIN=$bin OUT=$out_file PIN="${pin[*]}" python3 - <<'EOF'
import json, os, resource, subprocess, sys, time

bin_, out, pin, repeat = os.environ["BIN"], os.environ["OUT"], os.environ["PIN"].split(), int(os.environ["REPEAT"])
summary = os.path.join(os.path.dirname(out), "summary.json")
cases = []
for run, vehicles, duration in (("one-trip", 10, None), ("one-trip", 1000, "10m"), ("steady", 1000, "10m")):
    for fmt in ("jsonl", "value"):
        for target in ("/dev/null", "file"):
            cases.append((run, vehicles, duration, fmt, target))
rows = []
for run, vehicles, duration, fmt, target in cases:
    args = pin + [bin_, "simulate", "--speedup", "max", "--vehicles", str(vehicles), "--format", fmt, "-q",
                  "-o", out if target == "file" else "/dev/null", "--summary-json", summary]
    if run == "one-trip":
        args += ["--one-trip"]
    if duration:
        args += ["--duration", duration]
    best = None
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(args, check=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        s = json.load(open(summary))
        events = sum(t["emitted"] for t in s["topics"].values())
        written = os.path.getsize(out) if target == "file" else None
        r = dict(events=events, payload=s["payload_bytes"], wall=wall, cpu=cpu, written=written)
        if best is None or r["wall"] < best["wall"]:
            best = r
    r = best
    rows.append("| %s | %d | %s | %s | %s | %.2f | %.2f | **%.2f M** | %.0f | %.2f M | %.0f |" % (
        run, vehicles, fmt, target, "{:,}".format(r["events"]), r["wall"], r["cpu"],
        r["events"] / r["wall"] / 1e6, r["payload"] / r["wall"] / 1e6,
        r["events"] / r["cpu"] / 1e6, r["payload"] / r["cpu"] / 1e6))
    print(rows[-1], file=sys.stderr)
print("\n".join(rows))
EOF
)

scale_text=""
if [ "$scale" = 1 ]; then
  echo "== a day of the corridor at its real volume (one core)" >&2
  scale_text=$(BIN=$bin PIN="${pin[*]}" OUT=$out_file python3 - <<'EOF'
import json, os, resource, subprocess, sys, time
bin_, pin = os.environ["BIN"], os.environ["PIN"].split()
summary = os.path.join(os.path.dirname(os.environ["OUT"]), "summary.json")
args = pin + [bin_, "simulate", "--speedup", "max", "--duration", "24h", "--vehicles", "9400", "-q",
              "-o", "/dev/null", "--summary-json", summary]
before = resource.getrusage(resource.RUSAGE_CHILDREN)
t0 = time.perf_counter()
subprocess.run(args, check=True)
wall = time.perf_counter() - t0
after = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
s = json.load(open(summary))
events = sum(t["emitted"] for t in s["topics"].values())
line = ("`smartcity simulate --speedup max --duration 24h --vehicles 9400 -o /dev/null` (a Monday from 07:00): "
        "%s vehicles on the road in the day (%s arrived at the far end), %s events, %.0f s CPU (%.0f s wall) "
        "for 86 400 s of event time: %.0fx real time on one core, %.2f M events per CPU second; peak RSS %.0f MB."
        % ("{:,}".format(s["vehicles_entered"]), "{:,}".format(s["vehicles_arrived"]), "{:,}".format(events),
           cpu, wall, 86400 / cpu, events / cpu / 1e6, after.ru_maxrss / 1024))
print(line, file=sys.stderr)
print(line)
EOF
)
fi

cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
load=$(cut -d' ' -f1-3 /proc/loadavg)
section=$(cat <<EOF
## Simulator (issue 2)

Command: \`bench/simulate.sh\` (REPEAT=$repeat). Date: $(date -u +%Y-%m-%dT%H:%M:%SZ). Commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown).
Machine: $(nproc) cores, $cpu_model; load average at the end $load (the machine is shared, so wall
time includes waiting for the CPU; the CPU-time columns show what one core does).

\`smartcity simulate --speedup max -q\` pinned to one core with \`taskset -c 0\`, best of $repeat runs.
one-trip (\`--one-trip\`, the run measured before the steady corridor existed) with 10 vehicles: until
the fleet has reached Birmingham; 1000 vehicles: \`--duration 10m\` of event time. steady (the default):
\`--vehicles 1000\` on the road at the daily mean, 10 minutes from 07:00 on a Monday (the morning rush is
filling the road: about 800 vehicles on it, more entering at both ends).
MB/s counts event payload bytes (the JSON values); jsonl lines add the topic/key envelope.
Target: at least 1 000 000 events/s to /dev/null on one core.

| run | vehicles | format | output | events | wall s | CPU s | events/s (wall) | MB/s (wall) | events/s (CPU) | MB/s (CPU) |
|---|---|---|---|---|---|---|---|---|---|---|
$table

${scale_text:-A day of the corridor at its real volume: run with SCALE=1.}

Generator micro-benchmarks (\`$build/bench/simulation_bench\`, Google Benchmark, one core; rates are
per CPU second; BM_NextTick is the generator alone, BM_NextTickToDevNull adds the line sink):

\`\`\`
$micro
\`\`\`
EOF
)

results=bench/RESULTS.md
SECTION="$section" RESULTS=$results python3 - <<'EOF'
import os, re
path, section = os.environ["RESULTS"], os.environ["SECTION"].rstrip() + "\n"
text = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
pattern = re.compile(r"^## Simulator \(issue 2\)\n.*?(?=^## |\Z)", re.M | re.S)
if pattern.search(text):
    text = pattern.sub(lambda m: section + "\n", text, count=1)
else:
    text = text.rstrip() + "\n\n" + section
open(path, "w").write(text.rstrip() + "\n")
EOF
echo "wrote $results" >&2
