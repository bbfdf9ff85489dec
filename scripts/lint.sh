#!/usr/bin/env bash
# The static checks, each finding printed as file:line. Exits non-zero if any check finds anything.
#   format   clang-format 14 --dry-run -Werror over every tracked C++ file (the pinned .clang-format)
#   tidy     clang-tidy 14 (.clang-tidy) with clang's -Wthread-safety over every translation unit of
#            build/release (scripts/lint_tidy.py; unchanged units are skipped, see there)
#   folders  each folder includes only the folders its README.md allows (scripts/check_folders.py;
#            the build checks the links)
#   docs     the documents' links stay inside the repository and exist, README.md has no paragraph
#            twice, docs/README.md and docs/architecture.md name every document and folder, every
#            script under bench/ and scripts/ is executable (scripts/check_docs.py)
# Usage: scripts/lint.sh [format|tidy|folders|docs]...   (default: all four; tidy needs build/release,
#        made by scripts/setup.sh release)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
checks=("$@")
[ ${#checks[@]} -gt 0 ] || checks=(format tidy folders docs)

status=0
for check in "${checks[@]}"; do
  start=$SECONDS
  case "$check" in
    format)
      echo "== lint: format"
      git ls-files -z '*.h' '*.cc' '*.cpp' | xargs -0 -r clang-format-14 --dry-run -Werror || status=1 ;;
    tidy)
      echo "== lint: tidy"
      if [ ! -f build/release/compile_commands.json ]; then
        echo "lint: no build/release/compile_commands.json (run scripts/setup.sh release)" >&2
        status=1
      else
        python3 scripts/lint_tidy.py build/release -j"$(nproc)" || status=1
      fi ;;
    folders)
      echo "== lint: folders"
      python3 scripts/check_folders.py || status=1 ;;
    docs)
      echo "== lint: docs"
      python3 scripts/check_docs.py || status=1 ;;
    *) echo "usage: scripts/lint.sh [format|tidy|folders|docs]..." >&2; exit 2 ;;
  esac
  echo "== lint: $check took $((SECONDS - start)) s"
done
[ $status = 0 ] && echo "lint: clean" || echo "lint: FAILED"
exit $status
