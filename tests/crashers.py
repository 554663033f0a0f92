#!/usr/bin/python3
"""Every file in tests/crashers/ must be read or rejected cleanly by
dicomfs-tool: exit status 0 or 1 (never a signal), a one-line reason on
stderr when rejected, output that is valid UTF-8, and no hang.

usage: crashers.py TOOL CRASHERS_DIR
"""
import os
import subprocess
import sys


def check(tool, path):
    problems = []
    for args in (["dump"], ["json"], ["--header-only", "dump"]):
        try:
            r = subprocess.run([tool] + args + [path], capture_output=True, timeout=30)
        except subprocess.TimeoutExpired:
            problems.append(f"{args}: hang (no answer in 30 s)")
            continue
        if r.returncode not in (0, 1):
            problems.append(f"{args}: exit {r.returncode}: {r.stderr.decode(errors='replace')[-300:]}")
        elif r.returncode == 1 and not r.stderr.strip():
            problems.append(f"{args}: rejected without a reason")
        try:
            r.stdout.decode("utf-8")
        except UnicodeDecodeError as e:
            problems.append(f"{args}: invalid UTF-8 in output: {e}")
        if b"runtime error" in r.stderr or b"Sanitizer" in r.stderr:
            problems.append(f"{args}: sanitizer report: {r.stderr.decode(errors='replace')[:300]}")
    return problems


def main():
    tool, folder = sys.argv[1], sys.argv[2]
    failed = 0
    names = sorted(os.listdir(folder))
    for name in names:
        problems = check(tool, os.path.join(folder, name))
        print(("FAIL " if problems else "ok   ") + name)
        for p in problems:
            print("     " + p)
        failed += bool(problems)
    print(f"{len(names) - failed} passed, {failed} failed")
    sys.exit(1 if failed or not names else 0)


if __name__ == "__main__":
    main()
