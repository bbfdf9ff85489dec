#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks, then configures and builds smartcity.
# Idempotent: a second run installs nothing and rebuilds only what changed.
#   scripts/setup.sh            release build in build/release
#   scripts/setup.sh asan       ASan+UBSan build in build/asan
#   scripts/setup.sh tsan       ThreadSanitizer build of the threaded tests only, in build/tsan
#   scripts/setup.sh deps       dependencies only
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
variant=${1:-release}

# Pinned DuckDB: the C library ships in the platform bindings package, the header in the source package.
DUCKDB_BINDINGS="@duckdb/node-bindings-linux-x64@1.4.4-r.4"
DUCKDB_SOURCE="duckdb@1.4.4"

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git curl ca-certificates
  googletest libgtest-dev libbenchmark-dev
  librdkafka-dev libsimdjson-dev libcli11-dev libfmt-dev libspdlog-dev nlohmann-json3-dev
  libcurl4-openssl-dev libpq-dev libcpp-httplib-dev libzstd-dev libavro-dev
  kcat nodejs npm python3
  clang-14 clang-format-14 clang-tidy-14
)

# The tests that run under ThreadSanitizer (scripts/test.sh): the threaded ones that need no
# external service (librdkafka and libpq are not instrumented; DuckDB neither, see
# scripts/tsan.supp). Only these are built in build/tsan.
TSAN_TARGETS=(common_test engine_test lake_test pipeline_test warehouse_test web_test)

log() { printf 'setup: %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_apt() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    # node/npm may come from elsewhere (nvm, tarball): accept any working binary.
    case "$p" in nodejs) command -v node >/dev/null && continue ;; npm) command -v npm >/dev/null && continue ;; esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

install_duckdb() {
  local dir="$root/.cache/duckdb" stamp="$root/.cache/duckdb/.pinned"
  local want="$DUCKDB_BINDINGS $DUCKDB_SOURCE"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$dir/libduckdb.so" ] && [ -f "$dir/duckdb.h" ]; then
    return
  fi
  log "fetching DuckDB ($want) from npm"
  local tmp; tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$DUCKDB_BINDINGS" "$DUCKDB_SOURCE" >/dev/null)
  mkdir -p "$dir"
  tar -xzf "$tmp"/duckdb-node-bindings-linux-x64-*.tgz -C "$tmp" package/libduckdb.so
  cp "$tmp/package/libduckdb.so" "$dir/libduckdb.so"
  rm -rf "$tmp/package"
  tar -xzf "$tmp"/duckdb-1*.tgz -C "$tmp" package/src/duckdb/src/include/duckdb.h
  cp "$tmp/package/src/duckdb/src/include/duckdb.h" "$dir/duckdb.h"
  rm -rf "$tmp"
  echo "$want" > "$stamp"
}

build() {  # build NAME [cmake -D options]; builds the targets in $targets (default: all)
  local dir="$root/build/$1"; shift
  if [ ! -f "$dir/build.ninja" ]; then
    # ccache is optional (not installed here): where a developer has it, trees in several checkouts
    # share compiled objects (paths are made relative to the checkout).
    local launcher=()
    if command -v ccache >/dev/null; then
      launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER="env;CCACHE_BASEDIR=$root;ccache" -DCMAKE_C_COMPILER_LAUNCHER="env;CCACHE_BASEDIR=$root;ccache")
    fi
    cmake -S "$root" -B "$dir" -G Ninja "${launcher[@]}" "$@" >/dev/null
  fi
  log "building $dir"
  local target_args=()
  # shellcheck disable=SC2206  # a space-separated list of target names
  [ -z "${targets:-}" ] || target_args=(--target $targets)
  if ! cmake --build "$dir" "${target_args[@]}" -- -j"$(nproc)" >"$dir/build.log" 2>&1; then
    grep -vE '^\[[0-9]+/[0-9]+\] ' "$dir/build.log" | tail -60 >&2
    log "build failed (full log: $dir/build.log)"
    exit 1
  fi
}

install_apt
install_duckdb
case "$variant" in
  deps) ;;
  release) build release -DCMAKE_BUILD_TYPE=RelWithDebInfo ;;
  asan) build asan -DCMAKE_BUILD_TYPE=Debug -DSMARTCITY_SANITIZE=ON -DSMARTCITY_BENCH=OFF ;;
  tsan) targets="${TSAN_TARGETS[*]}" build tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMARTCITY_TSAN=ON \
          -DSMARTCITY_BENCH=OFF ;;
  *) echo "usage: scripts/setup.sh [release|asan|tsan|deps]" >&2; exit 2 ;;
esac
