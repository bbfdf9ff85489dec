#!/usr/bin/env bash
# Runs the whole test suite from a fresh clone: installs and builds what it needs (scripts/setup.sh),
# then runs, by CTest label,
#   unit         fast tests, no external services           (release build and ASan+UBSan build)
#   integration  tests that start real services on loopback  (release build)
# Usage: scripts/test.sh [unit|integration|all]   (default all)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
what=${1:-all}

scripts/setup.sh release || exit 1
if [ "$what" != integration ]; then scripts/setup.sh asan || exit 1; fi

passed=0; failed=0; status=0
run_ctest() {  # run_ctest BUILD LABEL [more ctest selection arguments]
  local out build=$1 label=$2
  shift 2
  out=$(mktemp)
  echo "== ctest $build -L $label $*"
  ctest --test-dir "build/$build" -L "$label" "$@" --output-on-failure --timeout 1200 2>&1 | tee "$out"
  local rc=${PIPESTATUS[0]}
  local line; line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$out" | tail -1)
  if [ -n "$line" ]; then
    local total fail
    fail=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
    passed=$((passed + total - fail)); failed=$((failed + fail))
  elif ! grep -q 'No tests were found' "$out"; then
    failed=$((failed + 1))
  fi
  [ "$rc" = 0 ] || status=1
  rm -f "$out"
}

case "$what" in
  unit) run_ctest release unit; run_ctest asan unit ;;
  integration) run_ctest release integration ;;
  all) run_ctest release unit; run_ctest asan unit; run_ctest release integration
       # The processor on every kind of bad input, under ASan+UBSan too.
       run_ctest asan integration -R 'ProcessorTest\.BadInput' ;;
  *) echo "usage: scripts/test.sh [unit|integration|all]" >&2; exit 2 ;;
esac
echo "smartcity: $passed passed, $failed failed"
exit $status
