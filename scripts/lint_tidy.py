#!/usr/bin/env python3
"""clang-tidy over every translation unit of a build's compile_commands.json, in parallel.

Usage: scripts/lint_tidy.py BUILD_DIR [-j N] [FILE_SUBSTRING...]

Adds -Wthread-safety so clang's thread-safety analysis runs in the same pass (the build's g++
ignores the annotations). Prints each finding once as `file:line:col: error: message [check]` and
exits 1 if there is any.

A translation unit found clean is remembered in .cache/clang-tidy/ under a hash of everything its
result depends on: the clang-tidy version, .clang-tidy, the compile command (with the checkout's path
taken out, so checkouts share results) and the bytes of the file and of every project header it
includes, transitively. System and third-party headers are pinned by scripts/setup.sh and not hashed.
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")
CACHE = os.path.join(ROOT, ".cache", "clang-tidy")
TIDY = "clang-tidy-14"
# g++-only flags the build passes that clang does not know, and clang warnings we add.
EXTRA_ARGS = ["-Wno-unknown-warning-option", "-Wthread-safety"]
INCLUDE_RE = re.compile(rb'^\s*#\s*include\s*"([^"]+)"', re.M)
FINDING_RE = re.compile(r"^(/[^:\n]+):(\d+):(\d+): (warning|error): (.*)$")
NOISE_RE = re.compile(r"^(\d+ (warnings?|errors?) generated|Suppressed |Use -header-filter|Error while processing)")


def project_headers(path, seen):
    """Adds to `seen` the project headers `path` includes, transitively."""
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError:
        return
    for inc in INCLUDE_RE.findall(text):
        inc = inc.decode()
        for base in (os.path.dirname(path), SRC):
            cand = os.path.normpath(os.path.join(base, inc))
            if os.path.isfile(cand):
                if cand not in seen:
                    seen.add(cand)
                    project_headers(cand, seen)
                break


def file_digest(path, memo):
    if path not in memo:
        with open(path, "rb") as f:
            memo[path] = hashlib.sha256(f.read()).hexdigest()
    return memo[path]


def tool_version():
    out = subprocess.run([TIDY, "--version"], capture_output=True, text=True, check=True).stdout
    return out.strip()


def cache_key(entry, config, version, memo):
    h = hashlib.sha256()
    h.update(version.encode())
    h.update(config)
    h.update(" ".join(EXTRA_ARGS).encode())
    h.update(entry["command"].replace(ROOT, "<root>").encode())
    src = entry["file"]
    deps = set()
    project_headers(src, deps)
    for p in [src] + sorted(deps):
        h.update(os.path.relpath(p, ROOT).encode())
        h.update(file_digest(p, memo).encode())
    return h.hexdigest()


def run_tidy(db_dir, entry):
    cmd = [TIDY, "--quiet", "-p", db_dir] + ["--extra-arg=" + a for a in EXTRA_ARGS] + [entry["file"]]
    r = subprocess.run(cmd, capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("-j", type=int, default=os.cpu_count() or 2)
    ap.add_argument("-v", "--verbose", action="store_true", help="print each unit when done")
    ap.add_argument("only", nargs="*", help="check only files whose path contains one of these")
    a = ap.parse_intermixed_args()
    build_dir = os.path.abspath(a.build_dir)
    with open(os.path.join(build_dir, "compile_commands.json")) as f:
        entries = json.load(f)
    # One run per source file (a file compiled into two targets is checked once); generated
    # sources (in the build folder) are not ours to lint.
    units = {}
    for e in entries:
        path = os.path.normpath(os.path.join(e["directory"], e["file"]))
        if not path.startswith(ROOT + os.sep) or path.startswith(build_dir + os.sep):
            continue
        if a.only and not any(o in path for o in a.only):
            continue
        units.setdefault(path, dict(e, file=path))
    with open(os.path.join(ROOT, ".clang-tidy"), "rb") as f:
        config = f.read()
    version = tool_version()
    os.makedirs(CACHE, exist_ok=True)
    # clang-tidy runs every command the database has for a file: give it one per file.
    db_dir = os.path.join(build_dir, "lint")
    os.makedirs(db_dir, exist_ok=True)
    with open(os.path.join(db_dir, "compile_commands.json"), "w") as f:
        json.dump(list(units.values()), f)
    memo = {}
    todo = []
    cached = 0
    for path in sorted(units):
        key = cache_key(units[path], config, version, memo)
        if os.path.exists(os.path.join(CACHE, key)):
            cached += 1
        else:
            todo.append((path, key))
    print(f"clang-tidy: {len(units)} translation units, {cached} unchanged since a clean run, "
          f"{len(todo)} to check (-j{a.j})", flush=True)

    findings = {}  # "file:line:col: error: message [check]" -> the lines that follow it
    failed_units = []
    done = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.j) as pool:
        futures = {pool.submit(run_tidy, db_dir, units[p]): (p, k) for p, k in todo}
        for fut in concurrent.futures.as_completed(futures):
            path, key = futures[fut]
            rc, out = fut.result()
            done += 1
            unit_findings = []
            new = []  # findings first seen in this unit, printed now
            current = None  # the finding whose detail lines follow, if first seen here
            for line in out.splitlines():
                m = FINDING_RE.match(line)
                if m:
                    f = f"{os.path.relpath(m.group(1), ROOT)}:{m.group(2)}:{m.group(3)}: error: {m.group(5)}"
                    unit_findings.append(f)
                    current = f if f not in findings else None
                    if current is not None:
                        findings[f] = []
                        new.append(f)
                elif current is not None and not NOISE_RE.match(line) and len(findings[current]) < 8:
                    findings[current].append(line)
            if rc == 0 and not unit_findings:
                with open(os.path.join(CACHE, key), "w") as f:
                    f.write(os.path.relpath(path, ROOT) + "\n")
            else:
                failed_units.append(os.path.relpath(path, ROOT))
                if not unit_findings:
                    # clang-tidy failed without a finding we could parse: show what it said.
                    f = f"{os.path.relpath(path, ROOT)}:1:1: error: clang-tidy failed"
                    findings[f] = out.splitlines()[-20:]
                    new.append(f)
            for f in new:
                print(f)
                for line in findings[f]:
                    print("  " + line)
            if a.verbose:
                print(f"clang-tidy: [{done}/{len(todo)}] {os.path.relpath(path, ROOT)}", flush=True)
            sys.stdout.flush()
    if findings:
        print(f"clang-tidy: {len(findings)} findings in {len(failed_units)} translation units", flush=True)
        return 1
    print("clang-tidy: clean", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
