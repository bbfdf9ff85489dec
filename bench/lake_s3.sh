#!/usr/bin/env bash
# Lake write throughput: the same `smartcity run` (simulator -> processor -> Delta lake) to a local
# folder and to a MinIO on loopback (scripts/minio.sh), in the same invocation, REPEAT times each
# (alternating), best run reported. events/s = input events processed / wall seconds of the run;
# MB/s = bytes of the lake's eight Delta tables (data files, logs, Delta checkpoints; not the
# processor's own state checkpoints, whose size depends on timing) / wall seconds.
# Appends a section to bench/RESULTS.md unless NO_RESULTS=1.
#   bench/lake_s3.sh [build/release/smartcity]     env: REPEAT (3), VEHICLES (200), DURATION (60m)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
smartcity=${1:-$root/build/release/smartcity}
repeat=${REPEAT:-3}
vehicles=${VEHICLES:-200}
duration=${DURATION:-60m}
work=$(mktemp -d /tmp/smartcity-bench-s3.XXXXXX)
cleanup() { "$root/scripts/minio.sh" stop --dir "$work/minio" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

"$root/scripts/minio.sh" start --dir "$work/minio" --bucket bench >/dev/null
eval "$("$root/scripts/minio.sh" env --dir "$work/minio")"

# Total bytes under s3://bench/<prefix>/ (ListObjectsV2 pages, signed by curl).
s3_bytes() {
  python3 - "$1" "$work/curl.cfg" <<'PY'
import os, re, subprocess, sys, urllib.parse
prefix, cfg = sys.argv[1], sys.argv[2]
with open(os.open(cfg, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
    f.write('user = "%s:%s"\n' % (os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]))
total, token = 0, None
while True:
    q = "continuation-token=" + urllib.parse.quote(token, safe="") + "&" if token else ""
    q += "list-type=2&prefix=" + urllib.parse.quote(prefix + "/", safe="")
    body = subprocess.run(["curl", "-s", "-K", cfg, "--aws-sigv4", "aws:amz:us-east-1:s3",
                           os.environ["AWS_ENDPOINT_URL"] + "/bench?" + q],
                          check=True, capture_output=True, text=True).stdout
    for key, size in re.findall(r"<Contents><Key>([^<]*)</Key>.*?<Size>(\d+)</Size>", body):
        if "/_checkpoints/" not in key:
            total += int(size)
    m = re.search(r"<NextContinuationToken>([^<]+)</NextContinuationToken>", body)
    if "<IsTruncated>true</IsTruncated>" not in body or not m:
        break
    token = m.group(1).replace("&amp;", "&")
print(total)
PY
}

calc() { awk "BEGIN { printf \"%.6f\", $* }"; }

declare -A best_eps best_mbs best_s events_of bytes_of
for i in $(seq 1 "$repeat"); do
  for target in local s3; do
    if [ "$target" = local ]; then lake="$work/local-$i"; else lake="s3://bench/run-$i"; fi
    start=$(date +%s.%N)
    "$smartcity" run --one-trip --speedup max --duration "$duration" --vehicles "$vehicles" --seed 5 --trigger 10s \
      --lake "$lake" 2>"$work/run.err" >/dev/null
    end=$(date +%s.%N)
    events=$(sed -n 's/^run summary: \([0-9]*\) events.*/\1/p' "$work/run.err")
    if [ "$target" = local ]; then
      bytes=$(find "$lake" \( -path "$lake/.staging" -o -path "$lake/_checkpoints" \) -prune -o -type f -printf '%s\n' |
                awk '{s+=$1} END {print s+0}')
    else
      bytes=$(s3_bytes "run-$i")
    fi
    secs=$(calc "$end - $start")
    eps=$(calc "$events / $secs")
    mbs=$(calc "$bytes / 1048576 / $secs")
    printf '%-5s run %d: %d events, %.1f MB, %.2f s: %.0f events/s, %.2f MB/s\n' \
      "$target" "$i" "$events" "$(calc "$bytes / 1048576")" "$secs" "$eps" "$mbs" >&2
    if [ -z "${best_eps[$target]:-}" ] || [ "$(awk "BEGIN { print ($eps > ${best_eps[$target]}) }")" = 1 ]; then
      best_eps[$target]=$eps; best_mbs[$target]=$mbs; best_s[$target]=$secs
      events_of[$target]=$events; bytes_of[$target]=$bytes
    fi
  done
done

table="| lake | events | lake MB | wall s | events/s | MB/s |
|---|---|---|---|---|---|"
for target in local s3; do
  table+=$(printf '\n| %s | %s | %.1f | %.2f | **%.0f** | %.2f |' \
    "$([ "$target" = local ] && echo "local folder (/tmp)" || echo "MinIO on loopback (S3 API)")" \
    "${events_of[$target]}" "$(calc "${bytes_of[$target]} / 1048576")" "${best_s[$target]}" \
    "${best_eps[$target]}" "${best_mbs[$target]}")
done
ratio=$(calc "${best_eps[s3]} / ${best_eps[local]}")
echo "$table"
printf 'S3 / local: %.2f\n' "$ratio"

if [ "${NO_RESULTS:-0}" != 1 ]; then
  {
    echo
    echo "## Lake write throughput: S3 (MinIO) vs local folder (issue 5)"
    echo
    echo "Command: \`bench/lake_s3.sh\` (REPEAT=$repeat, best run per lake). Date: $(date -u +%Y-%m-%dT%H:%M:%SZ)." \
         "Commit: $(git -C "$root" rev-parse --short HEAD). Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    echo "\`smartcity run --one-trip --speedup max --duration $duration --vehicles $vehicles --seed 5 --trigger 10s\`: the whole"
    echo "pipeline (simulator, processor, Delta commits of eight tables) into a local folder and into MinIO"
    echo "(\`scripts/minio.sh\`, same machine, http on 127.0.0.1) in the same invocation. MB = bytes of the"
    echo "eight Delta tables (Parquet, \`_delta_log\`, Delta checkpoints; the processor's state checkpoints are not counted). The machine is shared by several builds: wall"
    echo "times include waiting for the CPU, and MinIO competes with smartcity for the two cores."
    echo
    echo "$table"
    echo
    printf 'S3 / local throughput: %.2f.\n' "$ratio"
  } >> "$root/bench/RESULTS.md"
fi
