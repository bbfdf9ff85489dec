#!/usr/bin/env bash
# Creates the Python virtual environment for tests and benchmarks in .cache/venv (idempotent) and
# installs the pinned packages of scripts/requirements-test.txt into it. Prints the venv's python path.
#   PY=$(scripts/pyenv.sh) && "$PY" -c 'import deltalake'
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.cache/venv"
req="$root/scripts/requirements-test.txt"
stamp="$venv/.requirements"

log() { printf 'pyenv: %s\n' "$*" >&2; }

# Tests run two at a time and each may call this first: one creates and fills the venv while the
# others wait for it (a half-made venv must not be seen, nor pip run twice at once).
mkdir -p "$root/.cache"
exec 9>"$root/.cache/venv.lock"
flock -w 1800 9 || { log "timed out waiting for another scripts/pyenv.sh (.cache/venv.lock)"; exit 1; }

# A venv records its own path in its scripts (moto_server, pip): one made through a path that leads
# elsewhere now (a moved checkout, a removed worktree whose .cache linked here) has scripts that
# point nowhere. Make it again here.
made_at=$(sed -n 's/^command = .* -m venv //p' "$venv/pyvenv.cfg" 2>/dev/null || true)
if [ -n "$made_at" ] && [ "$(realpath -q "$made_at" || true)" != "$(realpath "$venv")" ]; then
  log "$venv was made at $made_at: making it again here"
  rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    log "installing python3-venv"
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    else sudo apt-get update -qq && sudo apt-get install -y -qq python3-venv >/dev/null; fi
  fi
  log "creating $venv"
  python3 -m venv "$venv"
fi
if [ ! -f "$stamp" ] || ! cmp -s "$req" "$stamp"; then
  log "installing $(grep -cvE '^\s*(#|$)' "$req") packages from $req"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
  cp "$req" "$stamp"
fi
echo "$venv/bin/python"
