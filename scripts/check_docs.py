#!/usr/bin/env python3
"""Checks the documentation against the tree, so that what a newcomer reads stays true:

- every relative link in README.md, docs/*.md, deploy/README.md and src/*/README.md names a file or
  folder that exists inside the repository (no link to a file outside it, no dead link);
- README.md has no paragraph twice;
- docs/README.md names every document under docs/, and docs/architecture.md every src/ folder;
- every script under bench/ and scripts/ is executable in git (mode 100755).

Prints `file:line: error: ...` per finding; exits 1 if there is any.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINK_RE = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_FENCE_RE = re.compile(r"^\s*```")


def rel(path):
    return os.path.relpath(path, ROOT)


def markdown_files():
    files = [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "deploy", "README.md")]
    for d, _, names in os.walk(os.path.join(ROOT, "docs")):
        files += [os.path.join(d, n) for n in names if n.endswith(".md")]
    src = os.path.join(ROOT, "src")
    for folder in sorted(os.listdir(src)):
        readme = os.path.join(src, folder, "README.md")
        if os.path.exists(readme):
            files.append(readme)
    return [f for f in files if os.path.exists(f)]


def check_links(path, errors):
    in_code = False
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if CODE_FENCE_RE.match(line):
                in_code = not in_code
                continue
            if in_code:
                continue
            for target in LINK_RE.findall(line):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                    continue  # a web address, mail, or an anchor in the same page
                file_part = target.split("#", 1)[0]
                resolved = os.path.normpath(os.path.join(os.path.dirname(path), file_part))
                if not (resolved == ROOT or resolved.startswith(ROOT + os.sep)):
                    errors.append(f"{rel(path)}:{n}: error: link to {target}, outside the repository")
                elif not os.path.exists(resolved):
                    errors.append(f"{rel(path)}:{n}: error: link to {target}, which does not exist")


def check_paragraphs(path, errors):
    seen = {}
    paragraph, start = [], 0
    in_code = False

    def close():
        text = " ".join(s.strip() for s in paragraph)
        if len(text) >= 80:
            if text in seen:
                errors.append(f"{rel(path)}:{start}: error: the paragraph of line {seen[text]} again")
            else:
                seen[text] = start

    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if CODE_FENCE_RE.match(line):
                in_code = not in_code
            if in_code or not line.strip():
                if paragraph:
                    close()
                paragraph = []
                continue
            if not paragraph:
                start = n
            paragraph.append(line)
    if paragraph:
        close()


def check_lists(errors):
    docs = os.path.join(ROOT, "docs")
    index = os.path.join(docs, "README.md")
    with open(index, encoding="utf-8") as f:
        index_text = f.read()
    for d, dirs, names in os.walk(docs):
        for name in names:
            if not name.endswith(".md") or os.path.join(d, name) == index:
                continue
            doc = os.path.relpath(os.path.join(d, name), docs)
            if doc not in index_text:
                errors.append(f"docs/README.md:1: error: does not name docs/{doc}")
    arch = os.path.join(docs, "architecture.md")
    with open(arch, encoding="utf-8") as f:
        arch_text = f.read()
    for folder in sorted(os.listdir(os.path.join(ROOT, "src"))):
        if os.path.isdir(os.path.join(ROOT, "src", folder)) and f"src/{folder}" not in arch_text:
            errors.append(f"docs/architecture.md:1: error: does not name src/{folder}")


def check_scripts(errors):
    out = subprocess.run(["git", "ls-files", "-s", "--", "bench", "scripts"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        meta, path = line.split("\t", 1)
        mode = meta.split()[0]
        if path.endswith((".sh", ".py")) and mode != "100755":
            errors.append(f"{path}:1: error: a script that is not executable "
                          f"(git add --chmod=+x {path})")


def main():
    errors = []
    for path in markdown_files():
        check_links(path, errors)
    check_paragraphs(os.path.join(ROOT, "README.md"), errors)
    check_lists(errors)
    check_scripts(errors)
    for e in errors:
        print(e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
