#!/usr/bin/env bash
# The book: checks that every chapter is in SUMMARY.md and every relative link in it (and in
# README.md) leads to a file that exists (within the book, for the book's own pages), then builds
# it with mdBook into docs/book.
#
#   scripts/docs.sh            # check and build (installs the pinned mdBook if it is missing)
#   scripts/docs.sh --check    # the checks only
set -euo pipefail
cd "$(dirname "$0")/.."

MDBOOK_VERSION=0.5.4

python3 - <<'PY'
import pathlib, re, sys
src = pathlib.Path("docs/src")
summary = (src / "SUMMARY.md").read_text()
listed = set(re.findall(r"\]\(([^)]+\.md)\)", summary))
problems = []
for page in sorted(src.rglob("*.md")):
    rel = page.relative_to(src).as_posix()
    if rel != "SUMMARY.md" and rel not in listed:
        problems.append(f"{page}: not in SUMMARY.md")
for page in [pathlib.Path("README.md"), *sorted(src.rglob("*.md"))]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#")[0]).resolve()
        if not path.exists():
            problems.append(f"{page}: the link to {target} leads nowhere")
        elif page.name != "README.md" and src.resolve() not in path.parents:
            # The built book holds only docs/src: a link out of it is broken there.
            problems.append(f"{page}: the link to {target} leaves the book (write the path as code)")
for p in problems:
    print(p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
[ "${1:-}" = "--check" ] && exit 0

if ! mdbook --version 2>/dev/null | grep -qF "v$MDBOOK_VERSION"; then
  cargo install mdbook --locked --version "$MDBOOK_VERSION"
fi
mdbook build docs
