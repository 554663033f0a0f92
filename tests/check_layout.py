#!/usr/bin/python3
"""The source layout (README "Source layout") holds: every arrow between the
folders of core/ points down, only fs/ includes libfuse, no core/ file sits
outside a folder, and no hand-written file is over 1,000 lines.

usage: check_layout.py SOURCE_ROOT    (prints TAP; exit 1 on a violation)
"""
import os
import re
import sys

# Each folder of core/ and the folders it may include, besides itself.
ALLOWED = {
    "base": set(),
    "web": {"base"},
    "dicom": {"base"},
    "pixels": {"base", "dicom"},
    "catalog": {"base", "dicom"},
    "volumes": {"base", "dicom", "pixels"},
    "sources": {"base", "web", "dicom", "pixels", "catalog", "volumes"},
    "tree": {"base", "web", "dicom", "pixels", "catalog", "volumes", "sources"},
}
GENERATED = {"core/dicom/dict-table.c", "core/dicom/tags.h"}  # scripts/gen-dict.py
MAX_LINES = 1000
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def sources(root, top):
    for folder, _, files in os.walk(os.path.join(root, top)):
        for name in sorted(files):
            if name.endswith((".c", ".h")):
                path = os.path.join(folder, name)
                yield os.path.relpath(path, root), open(path, encoding="utf-8").read()


def main():
    root = sys.argv[1]
    checks = []  # (description, problems)
    arrows, fuse, loose, long_files = [], [], [], []
    core_headers = {os.path.basename(rel) for rel, _ in sources(root, "core") if rel.endswith(".h")}
    for top in ("core", "fs", "tools", "bench", "tests"):
        for rel, text in sources(root, top):
            parts = rel.split(os.sep)
            for kind, header in INCLUDE.findall(text):
                if header.startswith("fuse") and top != "fs":
                    fuse.append(f"{rel} includes <{header}>")
                if top == "core" and kind == '"':
                    folder = parts[1]
                    if "/" not in header:  # a library's header, or ours without its folder
                        if header in core_headers:
                            arrows.append(f"{rel} includes \"{header}\" without its folder")
                        continue
                    target = header.split("/")[0]
                    if target != folder and target not in ALLOWED.get(folder, set()):
                        arrows.append(f"{rel} ({folder}) includes \"{header}\"")
            if top == "core":
                if len(parts) < 3 or parts[1] not in ALLOWED:
                    loose.append(f"{rel} is not in a folder of {sorted(ALLOWED)}")
                if rel not in GENERATED and text.count("\n") > MAX_LINES:
                    long_files.append(f"{rel}: {text.count(chr(10))} lines")
    checks.append(("core/ folders include only folders below them", arrows))
    checks.append(("only fs/ includes libfuse", fuse))
    checks.append(("every core/ source is in a folder of its concern", loose))
    checks.append((f"no hand-written source over {MAX_LINES} lines", long_files))
    print(f"1..{len(checks)}")
    failed = 0
    for n, (what, problems) in enumerate(checks, 1):
        print(f"{'not ok' if problems else 'ok'} {n} {what}")
        for p in problems:
            print(f"# {p}")
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
