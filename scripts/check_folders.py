#!/usr/bin/env python3
"""Checks that no file in src/<folder>/ includes a header of a folder its README does not allow.

Each src/<folder>/README.md has a line `Depends on: a, b` (or `Depends on: nothing`) and may have
`Tests also use: c`. A file may include `"<other>/..."` only if <other> is the folder itself or in
its Depends-on list; test files (*_test.cc, *_itest.cc, *_testutil.*, *_testmain.cc) may also use the
Tests-also-use folders. The build (cmake/FolderRules.cmake) checks the same lines against the CMake
targets' links. Prints `file:line: error: ...` per finding; exits 1 if there is any.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*"([a-z0-9_]+)/[^"]+"')
TEST_RE = re.compile(r"_(test|itest)\.cc$|_testutil\.(h|cc)$|_testmain\.cc$")


def folder_list(readme, prefix):
    """The names on README's `prefix` line, or None if there is no such line; [] for `nothing`."""
    found = None
    with open(readme, encoding="utf-8") as f:
        for line in f:
            if line.startswith(prefix):
                if found is not None:
                    raise ValueError(f"two '{prefix}' lines")
                rest = line[len(prefix):].strip()
                found = [] if rest == "nothing" else [x.strip() for x in rest.split(",") if x.strip()]
    return found


def main():
    errors = []
    folders = sorted(d for d in os.listdir(SRC) if os.path.isdir(os.path.join(SRC, d)))
    for folder in folders:
        readme = os.path.join(SRC, folder, "README.md")
        rel_readme = os.path.relpath(readme, ROOT)
        if not os.path.exists(readme):
            errors.append(f"src/{folder}:1: error: no README.md saying what the folder owns and uses")
            continue
        try:
            deps = folder_list(readme, "Depends on: ")
            test_deps = folder_list(readme, "Tests also use: ") or []
        except ValueError as e:
            errors.append(f"{rel_readme}:1: error: {e}")
            continue
        if deps is None:
            errors.append(f"{rel_readme}:1: error: no line 'Depends on: a, b' (or 'Depends on: nothing')")
            continue
        for name in deps + test_deps:
            if name not in folders:
                errors.append(f"{rel_readme}:1: error: names '{name}', which is not a folder of src/")
        for dirpath, _, files in os.walk(os.path.join(SRC, folder)):
            for name in sorted(files):
                if not name.endswith((".h", ".cc")):
                    continue
                path = os.path.join(dirpath, name)
                is_test = TEST_RE.search(name) is not None
                allowed = {folder, *deps, *(test_deps if is_test else []), *(["testing"] if is_test else [])}
                with open(path, encoding="utf-8") as f:
                    for n, line in enumerate(f, 1):
                        m = INCLUDE_RE.match(line)
                        if not m or m.group(1) in allowed or m.group(1) not in folders:
                            continue
                        header = line.split('"')[1]
                        where = "'Depends on:'" + (" or 'Tests also use:'" if is_test else "")
                        errors.append(f"{os.path.relpath(path, ROOT)}:{n}: error: includes "
                                      f"{header}, but {rel_readme}'s {where} does not list "
                                      f"{m.group(1)}")
    for e in errors:
        print(e)
    if errors:
        print(f"folder rules: {len(errors)} findings")
        return 1
    print(f"folder rules: clean ({len(folders)} folders)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
