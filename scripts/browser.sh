#!/usr/bin/env bash
# Installs what the live view's browser test needs, idempotently: Debian's chromium package and
# playwright-core (pinned, from npm) in .cache/web-test. Prints the node_modules folder.
#   NODE_PATH=$(scripts/browser.sh) node tests/e2e/web/dashboard_test.mjs ...
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
PLAYWRIGHT="playwright-core@1.65.1"
dir="$root/.cache/web-test"

log() { printf 'browser: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v chromium >/dev/null; then
  log "installing Debian's chromium"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
if [ ! -f "$dir/.pinned" ] || [ "$(cat "$dir/.pinned")" != "$PLAYWRIGHT" ] || [ ! -d "$dir/node_modules/playwright-core" ]; then
  log "installing $PLAYWRIGHT into $dir"
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || echo '{"name":"smartcity-web-test","private":true}' > "$dir/package.json"
  (cd "$dir" && npm install --silent --no-audit --no-fund "$PLAYWRIGHT" >&2)
  echo "$PLAYWRIGHT" > "$dir/.pinned"
fi
echo "$dir/node_modules"
