#!/usr/bin/python3
"""A walk by name (find, ls -R) is given no file's attributes, a walk that
stats (ls -l) is (fs/walkers.h): the kernel's own count of FUSE inodes
(the fuse_inode line of /proc/slabinfo) grows by about the folders during a
`find -type f` of pydicom's test files on a fresh mount, and by every file
during an `ls -lR` after it.  What each walk prints is what it should: find
and ls -R list the files a walk with os.scandir finds, d_type says file or
folder right without a stat, and the sizes ls -l prints are the lengths of
the files' contents.

usage: test_walks.py DICOMFS SOURCE_ROOT
"""
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402

WATCHDOG_SECONDS = 280
CORPUS = "/usr/lib/python3/dist-packages/pydicom/data/test_files"


def fuse_inodes():
    for line in open("/proc/slabinfo"):
        if line.startswith("fuse_inode "):
            return int(line.split()[1])
    return None


def scandir_walk(top):
    """(files, folders) under top by os.scandir's d_type, no stat."""
    files, folders, todo = [], [], [top]
    while todo:
        d = todo.pop()
        with os.scandir(d) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    folders.append(e.path)
                    todo.append(e.path)
                elif e.is_file(follow_symlinks=False):
                    files.append(e.path)
    return files, folders


def run_checks(report, exe, tmp):
    mnt = os.path.join(tmp, "mnt")
    m = ml.Mount(exe, CORPUS, mnt, args=["-o", "noindex"])
    m.start()
    try:
        before = fuse_inodes()
        # the patient folders only: .dicomfs holds the views' links
        tops = sorted(os.path.join(mnt, p) for p in os.listdir(mnt) if p != ".dicomfs")
        found = subprocess.run(["find"] + tops + ["-type", "f"], capture_output=True,
                               text=True).stdout.splitlines()
        after_find = fuse_inodes()
        files, folders = [], []
        for t in tops:
            f, d = scandir_walk(t)
            files += f
            folders += d + [t]
        lsR = subprocess.run(["ls", "-R"] + tops, capture_output=True, text=True).stdout
        names = sum(1 for line in lsR.splitlines() if line and not line.endswith(":"))
        report.check("find -type f and ls -R list what os.scandir's d_type walk finds",
                     [] if sorted(found) == sorted(files) and names == len(files) + len(folders) - len(tops)
                     else [f"find {len(found)}, scandir {len(files)} files + {len(folders)} folders, "
                           f"ls -R {names} names"],
                     f"{len(files)} files, {len(folders)} folders")
        grew = after_find - before if before is not None else None
        report.check("a find -type f made the kernel about an inode a folder, none a file",
                     [] if grew is not None and grew <= len(folders) + 300 and len(files) > 5 * len(folders)
                     else [f"fuse_inode grew by {grew} for {len(folders)} folders, {len(files)} files"],
                     f"grew by {grew} for {len(folders)} folders and {len(files)} files")
        # ls -l: a new process, which stats what it lists
        lslR = subprocess.run(["ls", "-lR", "--time-style=+"] + tops, capture_output=True,
                              text=True)
        after_ls = fuse_inodes()
        grew = after_ls - after_find if after_find is not None else None
        # ls -l prints a file's EIO (a damaged file's pixels) on stderr; those
        # are not sized
        failed = lslR.stderr.count("Input/output error")
        report.check("ls -lR after it made the kernel an inode for every file it stats",
                     [] if grew is not None and grew >= len(files) - failed - 300
                     else [f"fuse_inode grew by {grew} for {len(files)} files ({failed} failed)"],
                     f"grew by {grew}")
        sizes, problems, where = {}, [], None
        for line in lslR.stdout.splitlines():
            if line.endswith(":"):
                where = line[:-1]
            elif line.startswith("-") and not line.startswith("-?"):
                f = line.split(None, 5)
                sizes[os.path.join(where, f[5].strip())] = int(f[4])
        sample = [p for p in files if "/tags/" in p][::97][:200]
        for p in sample:
            with open(p, "rb") as fh:
                n = len(fh.read())
            if sizes.get(p) != n:
                problems.append(f"{p}: ls -l says {sizes.get(p)}, its content is {n} bytes")
        report.check("the sizes ls -l prints are the contents' lengths", problems,
                     f"{len(sample)} attribute files")
    finally:
        report.check("unmount", m.unmount())


def main():
    exe = os.path.abspath((sys.argv + [""])[1])
    if not os.path.isdir(CORPUS):
        print("SKIP: no pydicom test files")
        return 77
    if not os.access("/proc/slabinfo", os.R_OK):
        print("SKIP: /proc/slabinfo is not readable")
        return 77
    return ml.run_test(__doc__, 3, "dicomfs-walks-test.", WATCHDOG_SECONDS,
                       lambda report, tmp: run_checks(report, exe, tmp))


if __name__ == "__main__":
    sys.exit(main())
