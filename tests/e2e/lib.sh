# shellcheck shell=bash
# What every end-to-end script shares. Source it right after `set -...`:
#   . "$(dirname "$0")/lib.sh"
#
# Verdicts. A script fails by exiting non-zero; nothing here swallows a status.
#   fail MSG...            the script fails now: "FAIL: MSG" on stderr, exit 1
#   ok MSG...              a check passed: "ok N - MSG"
#   not_ok MSG...          a check failed and the script goes on; `finish` then exits 1
#   check NAME CMD...      ok or not_ok by CMD's exit status
#   expect_in FILE TEXT    fails unless FILE contains TEXT (then shows FILE)
#   show_diff A B          prints the differences of two files on stderr (context for a fail)
#   finish                 "<script>: P passed, F failed"; exits 1 if any check failed
# Processes.
#   run_status VAR CMD...  runs CMD; its exit status goes to VAR whatever it is (set -e stays on)
#   track PID              kill -9 PID at exit if it still runs
#   kill9 PID WHAT         kill -9 a process that must still run, and reap it; fails if it had ended
#   crash_run SPEC LOG CMD...  runs CMD with SMARTCITY_CRASH_POINT=SPEC, output in LOG; fails unless
#                          it died at that crash point (see crash_run below)
#   wait_for SECONDS CMD...  polls CMD every 0.1 s until it succeeds; status 1 at the deadline
#   peak_rss NAME CMD...   runs CMD (output in $work/NAME.log) and prints its peak RSS in KiB
#                          (getrusage RUSAGE_CHILDREN); status 1 when CMD fails. Needs python_env.
# Clean-up and services (each stopped at exit, in reverse order of starting).
#   at_exit CMD...         runs CMD when the script exits; a failing clean-up fails the script
#   workdir [PREFIX]       sets `work` to a fresh temporary directory, removed at exit (kept, and
#                          named on stderr, when SMARTCITY_KEEP_TEST_DIR is set)
#   start_kafka DIR [ARG...]  starts scripts/kafka.sh in DIR (watched: it stops if this shell dies),
#                          with ARGs such as --brokers 3; sets `bootstrap` and exports
#                          KAFKA_BOOTSTRAP_SERVERS
#   start_minio DIR BUCKET starts scripts/minio.sh in DIR and exports the AWS_* variables for it
#   start_postgres         starts scripts/postgres.sh (SMARTCITY_PG_DIR) and exports the PG* variables
#   python_env             sets `PY` to the test venv's python (scripts/pyenv.sh)
# These register clean-ups, so call them directly, not in $(...): a subshell's registrations are lost.
# Variables: root (the source tree), e2e_name (the script's name), checks, failures.

root=${SMARTCITY_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
e2e_name=$(basename "$0" .sh)
checks=0
failures=0
_e2e_exit_cmds=()
_e2e_tracked=()

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
ok() {
  checks=$((checks + 1))
  echo "ok $checks - $*"
}
not_ok() {
  checks=$((checks + 1))
  failures=$((failures + 1))
  echo "not ok $checks - $*"
}
check() {
  local name=$1
  shift
  if "$@"; then ok "$name"; else not_ok "$name"; fi
}
expect_in() {
  grep -qF -- "$2" "$1" || {
    echo "---- $1:" >&2
    cat "$1" >&2
    fail "expected '$2' in $1"
  }
}
show_diff() {
  # diff's status 1 is the expected answer here: the caller fails next with its own message.
  if diff "$1" "$2" >&2; then echo "(no difference between $1 and $2)" >&2; fi
}
finish() {
  echo "$e2e_name: $((checks - failures)) passed, $failures failed"
  [ "$failures" = 0 ] || exit 1
  exit 0
}

run_status() {
  local -n _e2e_status=$1
  shift
  _e2e_status=0
  "$@" || _e2e_status=$?
}

wait_for() {
  local limit=$1 start=$SECONDS
  shift
  until "$@"; do
    ((SECONDS - start < limit)) || return 1
    sleep 0.1
  done
}

track() { _e2e_tracked+=("$1"); }

kill9() {
  local pid=$1 what=$2 rc=0
  kill -9 "$pid" 2>/dev/null || fail "$what (pid $pid) was gone before the kill"
  wait "$pid" 2>/dev/null || rc=$?
  # A process that exited on its own just before the signal is a zombie kill -9 still "reaches".
  [ "$rc" = 137 ] || fail "$what ended with exit $rc before it was killed"
}

# SMARTCITY_CRASH_POINT makes a pipeline command kill itself (SIGKILL) at a step of the commit
# protocol, after writing "crash point <spec> fired" on stderr (src/cli/pipeline_options.cc). Both are
# required: exit 137 alone could be any SIGKILL (an outer timeout, the OOM killer), and a run that
# ends cleanly never reached its crash point, so it crashed nothing. With SMARTCITY_CRASH_ARM=FILE in
# the environment, matching writes count only once FILE exists: the test creates it when the process
# is in the state to crash in (SMARTCITY_CRASH_ARM="$work/arm" crash_run ...; later: touch "$work/arm").
crash_run() {
  local spec=$1 log=$2 rc=0
  shift 2
  # In a subshell that outlives the command, so bash's "Killed" notice goes to the log too.
  (SMARTCITY_CRASH_POINT="$spec" "$@"; exit $?) >"$log" 2>&1 || rc=$?
  [ "$rc" = 137 ] || fail "crash point $spec: the run ended with exit $rc instead of dying there: $(tail -3 "$log")"
  grep -qF "crash point $spec fired" "$log" ||
    fail "crash point $spec: killed (exit 137) but not by the crash point: $(tail -3 "$log")"
}

at_exit() {
  local cmd
  printf -v cmd '%q ' "$@"
  _e2e_exit_cmds+=("$cmd")
}

_e2e_on_exit() {
  local status=$? i pid
  set +e
  for pid in "${_e2e_tracked[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid"
      wait "$pid" 2>/dev/null
    fi
  done
  for ((i = ${#_e2e_exit_cmds[@]} - 1; i >= 0; i--)); do
    if ! eval "${_e2e_exit_cmds[i]}"; then
      echo "FAIL: clean-up failed: ${_e2e_exit_cmds[i]}" >&2
      [ "$status" != 0 ] || status=1
    fi
  done
  exit "$status"
}
trap _e2e_on_exit EXIT

workdir() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/smartcity-e2e-${1:-$e2e_name}.XXXXXX") || fail "mktemp failed"
  at_exit _e2e_remove_workdir "$work"
}
_e2e_remove_workdir() {
  if [ -n "${SMARTCITY_KEEP_TEST_DIR:-}" ]; then
    echo "test directory kept: $1" >&2
  else
    rm -rf "$1"
  fi
}

start_kafka() {
  bootstrap=$("$root/scripts/kafka.sh" start --dir "$1" --watch-pid $$ "${@:2}") ||
    fail "scripts/kafka.sh start failed"
  at_exit _e2e_quiet "$root/scripts/kafka.sh" stop --dir "$1"
  export KAFKA_BOOTSTRAP_SERVERS=$bootstrap
}
start_minio() {
  local dir=$1 bucket=$2 env
  "$root/scripts/minio.sh" start --dir "$dir" --bucket "$bucket" >/dev/null || fail "scripts/minio.sh start failed"
  at_exit _e2e_quiet "$root/scripts/minio.sh" stop --dir "$dir"
  env=$("$root/scripts/minio.sh" env --dir "$dir") || fail "scripts/minio.sh env failed"
  eval "$env"
}
start_postgres() {
  local env
  env=$("$root/scripts/postgres.sh" start) || fail "scripts/postgres.sh start failed"
  at_exit "$root/scripts/postgres.sh" stop
  eval "$env"
}
python_env() { PY=$("$root/scripts/pyenv.sh") || fail "scripts/pyenv.sh failed"; }

peak_rss() {
  local name=$1
  shift
  "$PY" - "$work/$name.log" "$@" <<'PY'
import resource, subprocess, sys
with open(sys.argv[1], "w") as log:
    code = subprocess.run(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT).returncode
if code != 0:
    sys.exit(f"exit status {code}")
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
}

# Runs a clean-up command with its output shown only when it fails.
_e2e_quiet() {
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  [ "$rc" = 0 ] || printf '%s\n' "$out" >&2
  return "$rc"
}
