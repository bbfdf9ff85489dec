#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests and benchmarks: Debian's postgresql package, a cluster in a
# temporary folder, listening on a free 127.0.0.1 port (and a socket in that folder), trust auth.
#   eval "$(scripts/postgres.sh start)"   starts it (or finds it running) and prints export lines:
#                                         PGHOST PGPORT PGUSER PGDATABASE SMARTCITY_PG_URL
#   scripts/postgres.sh stop              stops it and deletes the cluster
#   scripts/postgres.sh status            exit 0 if it runs
# SMARTCITY_PG_DIR names the cluster folder (default: one per checkout under /tmp). start after
# `stop-server` (a stop that keeps the data) restarts the same cluster on the same port.
# PostgreSQL refuses to run as root: as root the server runs as the `postgres` system user, which
# owns the cluster folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}
dir=${SMARTCITY_PG_DIR:-/tmp/smartcity-pg-$(id -u)-$(printf '%s' "$root" | cksum | cut -d' ' -f1)}
data="$dir/data"

log() { printf 'postgres.sh: %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

pgbin() {
  local b
  b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  printf '%s' "$b"
}

install() {
  if [ -z "$(pgbin)" ] || [ ! -x "$(pgbin)/initdb" ]; then
    log "installing Debian's postgresql package"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql postgresql-client >/dev/null
  fi
}

# Runs a command as the cluster's owner.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

running() { [ -f "$data/PG_VERSION" ] && as_owner "$(pgbin)/pg_ctl" status -D "$data" >/dev/null 2>&1; }

print_env() {
  local port; port=$(cat "$dir/port")
  local user; user=$(cat "$dir/user")
  echo "export PGHOST=127.0.0.1 PGPORT=$port PGUSER=$user PGDATABASE=postgres"
  echo "export SMARTCITY_PG_URL=postgresql://$user@127.0.0.1:$port/postgres"
}

start() {
  install
  local bin; bin=$(pgbin)
  if running; then print_env; return; fi
  if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$dir"
    chmod 755 "$dir"
    mkdir -p "$data"
    local user
    if [ "$(id -u)" = 0 ]; then chown postgres: "$data" "$dir"; user=postgres; else user=$(id -un); fi
    chmod 700 "$data"
    if ! as_owner test -w "$data"; then
      log "the postgres user cannot reach $data: make its parent folders searchable (chmod o+x) or set SMARTCITY_PG_DIR"
      exit 1
    fi
    as_owner "$bin/initdb" -D "$data" -U "$user" --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      as_owner "$bin/initdb" -D "$data" -U "$user" --auth=trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 || {
      cat "$dir/initdb.log" >&2; log "initdb failed"; exit 1; }
    echo "$user" > "$dir/user"
    free_port > "$dir/port"
  fi
  local port; port=$(cat "$dir/port")
  # fsync stays on: the kill tests rely on committed data surviving a server stop.
  if ! as_owner "$bin/pg_ctl" start -D "$data" -w -t 60 -l "$dir/server.log" \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=50 -c shared_buffers=64MB" >/dev/null; then
    tail -20 "$dir/server.log" >&2 || true
    log "PostgreSQL did not start (log: $dir/server.log)"
    exit 1
  fi
  print_env
}

stop_server() {
  [ -f "$data/PG_VERSION" ] || return 0
  as_owner "$(pgbin)/pg_ctl" stop -D "$data" -m fast -w -t 60 >/dev/null 2>&1 || true
}

case "$cmd" in
  start) start ;;
  stop) stop_server; rm -rf "$dir" ;;
  stop-server) stop_server ;;
  status) running ;;
  *) echo "usage: $0 start|stop|stop-server|status" >&2; exit 2 ;;
esac
