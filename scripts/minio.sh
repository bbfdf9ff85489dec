#!/usr/bin/env bash
# A real S3-compatible server on this machine for development, the integration tests and the
# benchmarks: MinIO, built from source with `go install` (Go module proxy) into .cache/minio/bin,
# listening on 127.0.0.1 only, on a free port, with its own data folder and credentials.
#
#   scripts/minio.sh build                               build the pinned MinIO (idempotent)
#   scripts/minio.sh start [--dir DIR] [--bucket B]...   build if needed, start, wait until ready, create
#                                                        the buckets (default: smartcity); prints the
#                                                        endpoint URL (the only stdout line)
#   scripts/minio.sh stop [--dir DIR]                    stop it (SIGTERM, SIGKILL after 15 s)
#   scripts/minio.sh status [--dir DIR]                  exit 0 when it runs and is ready, 3 otherwise
#   scripts/minio.sh env [--dir DIR]                     print `export` lines for AWS_ENDPOINT_URL,
#                                                        AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION
#   scripts/minio.sh mb [--dir DIR] --bucket B           create a bucket on the running server
# DIR defaults to .cache/minio/run. A server keeps its port, credentials and data in DIR across
# stop/start (so a restarted server has the same endpoint and objects): DIR/endpoint, DIR/credentials
# (generated once, mode 600), DIR/data/, DIR/minio.log, DIR/pid.
# Environment: MINIO_START_TIMEOUT_S (default 120).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# MinIO publishes no semantic-version tags, so the module proxy knows it by pseudo-version: this is
# the last commit of the upstream repository (2026-02-12), recorded for reproducibility.
MINIO_MODULE="github.com/minio/minio"
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
bindir="$root/.cache/minio/bin"
start_timeout=${MINIO_START_TIMEOUT_S:-120}

log() { printf 'minio: %s\n' "$*" >&2; }
die() { printf 'minio: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

build() {
  local stamp="$bindir/.pinned"
  if [ -x "$bindir/minio" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$MINIO_VERSION" ]; then return; fi
  if ! command -v go >/dev/null; then
    # Debian's Go is older than MinIO needs; GOTOOLCHAIN=auto then fetches the right toolchain as a
    # Go module through the module proxy.
    log "installing Debian package golang-go"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-go >/dev/null
  fi
  mkdir -p "$bindir"
  exec 8>"$bindir/.build.lock"
  flock -w 1800 8 || die "timed out waiting for another build of MinIO ($bindir/.build.lock)"
  if [ -x "$bindir/minio" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$MINIO_VERSION" ]; then exec 8>&-; return; fi
  log "building MinIO $MINIO_VERSION with go install (a few minutes the first time)"
  local blog="$root/.cache/minio/build.log"
  if ! GOBIN="$bindir" GOFLAGS="-buildvcs=false" \
       go install "$MINIO_MODULE@$MINIO_VERSION" >"$blog" 2>&1; then
    tail -20 "$blog" >&2
    die "could not build MinIO with go install: check the network and the Go module proxy settings (GOPROXY), then run scripts/minio.sh build again (full log: $blog)"
  fi
  echo "$MINIO_VERSION" > "$stamp"
  exec 8>&-
}

dir="$root/.cache/minio/run"
buckets=()
cmd=${1:-}
[ -n "$cmd" ] || usage
shift
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=$2; shift 2 ;;
    --bucket) buckets+=("$2"); shift 2 ;;
    -h|--help) usage ;;
    *) die "unknown option $1" ;;
  esac
done

running() { [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; }
endpoint() { cat "$dir/endpoint"; }
ready() { curl -sf -o /dev/null --max-time 2 "$(endpoint)/minio/health/ready"; }

# curl reads the credentials from a config file, not from its command line (ps would show them).
s3curl() {
  local cfg; cfg=$(mktemp)
  chmod 600 "$cfg"
  printf 'user = "%s:%s"\n' "$(sed -n 1p "$dir/credentials")" "$(sed -n 2p "$dir/credentials")" > "$cfg"
  local rc=0
  curl -K "$cfg" --aws-sigv4 "aws:amz:us-east-1:s3" -s "$@" || rc=$?
  rm -f "$cfg"
  return $rc
}

# A server that has just said it is ready may still answer 503 for a moment on a loaded machine
# (seen once beside a CI run): 5xx and no answer are retried for up to start_timeout seconds.
make_bucket() {
  local code waited=0
  while true; do
    code=$(s3curl -o /dev/null -w '%{http_code}' -X PUT "$(endpoint)/$1") || code=000
    case "$code" in
      200|409) return 0 ;;  # 409: BucketAlreadyOwnedByYou
      000|5??) [ "$waited" -lt $((start_timeout * 5)) ] || break ;;
      *) break ;;
    esac
    sleep 0.2; waited=$((waited + 1))
  done
  [ "$code" != 000 ] || die "cannot reach MinIO at $(endpoint) (log: $dir/minio.log)"
  die "creating bucket $1 failed with HTTP $code (see $dir/minio.log)"
}

start() {
  build
  mkdir -p "$dir/data"
  dir=$(cd "$dir" && pwd)
  if [ ! -f "$dir/credentials" ]; then
    (umask 077; { echo "smartcity-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')";
                  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; echo; } > "$dir/credentials")
  fi
  if [ ! -f "$dir/endpoint" ]; then
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    echo "http://127.0.0.1:$port" > "$dir/endpoint"
  fi
  if ! running; then
    local hostport; hostport=$(endpoint); hostport=${hostport#http://}
    MINIO_ROOT_USER=$(sed -n 1p "$dir/credentials") MINIO_ROOT_PASSWORD=$(sed -n 2p "$dir/credentials") \
      MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CI_CD=1 \
      setsid "$bindir/minio" server --quiet --address "$hostport" "$dir/data" >>"$dir/minio.log" 2>&1 < /dev/null &
    echo $! > "$dir/pid"
  fi
  local waited=0
  until ready; do
    running || { tail -20 "$dir/minio.log" >&2; die "MinIO exited during start (log: $dir/minio.log)"; }
    [ "$waited" -lt $((start_timeout * 5)) ] || { stop_server; die "MinIO not ready after ${start_timeout}s (log: $dir/minio.log)"; }
    sleep 0.2; waited=$((waited + 1))
  done
  [ ${#buckets[@]} -gt 0 ] || buckets=(smartcity)
  # A start that fails leaves no server behind (make_bucket dies in a subshell).
  for b in "${buckets[@]}"; do (make_bucket "$b") || { stop_server; exit 1; }; done
  endpoint
}

stop_server() {
  running || { rm -f "$dir/pid"; return 0; }
  local pid; pid=$(cat "$dir/pid")
  kill "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 75); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/pid"
}

case "$cmd" in
  build) build ;;
  start) start ;;
  stop) stop_server ;;
  status) running && ready || exit 3 ;;
  env)
    [ -f "$dir/credentials" ] || die "no server in $dir: run scripts/minio.sh start first"
    echo "export AWS_ENDPOINT_URL=$(endpoint)"
    echo "export AWS_ACCESS_KEY_ID=$(sed -n 1p "$dir/credentials")"
    echo "export AWS_SECRET_ACCESS_KEY=$(sed -n 2p "$dir/credentials")"
    echo "export AWS_REGION=us-east-1"
    ;;
  mb)
    [ ${#buckets[@]} -gt 0 ] || die "mb needs --bucket NAME"
    running || die "no server running in $dir"
    for b in "${buckets[@]}"; do make_bucket "$b"; done
    ;;
  *) usage ;;
esac
