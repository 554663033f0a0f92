#!/usr/bin/python3
"""A walk by name (find, ls -R) is given no file's attributes, a walk that
stats (ls -l) is (fs/walkers.h): the kernel's own count of FUSE inodes
(the fuse_inode line of /proc/slabinfo) grows by about the folders during a
`find -type f` of pydicom's test files on a fresh mount, and by every file
during an `ls -lR` after it.  What each walk prints is what it should: find
and ls -R list the files a walk with os.scandir finds, d_type says file or
folder right without a stat, and the sizes ls -l prints are the lengths of
the files' contents.  Reading leaves the source's access times alone.

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


def atimes_kept(report, exe, tmp):
    """Reading leaves the source's access times alone (O_NOATIME): files
    and their folder last read two days ago (relatime would update them on
    the next read) scanned, then read whole through the mount."""
    import shutil
    src = os.path.join(tmp, "src")
    os.makedirs(src)
    names = sorted(n for n in os.listdir(CORPUS) if n.endswith(".dcm"))[:20]
    old = int(__import__("time").time()) - 2 * 86400
    for n in names:
        shutil.copyfile(os.path.join(CORPUS, n), os.path.join(src, n))
        st = os.stat(os.path.join(src, n))
        os.utime(os.path.join(src, n), ns=(old * 10**9, st.st_mtime_ns))
    os.utime(src, ns=(old * 10**9, os.stat(src).st_mtime_ns))
    mnt = os.path.join(tmp, "mnt-atime")
    m = ml.Mount(exe, src, mnt, args=["-o", "noindex"])
    m.start()
    read = 0
    try:
        for dirpath, _, filenames in os.walk(mnt):
            if ".dicomfs" in dirpath:
                continue
            for f in filenames:
                if f in ("instance.dcm", "pixels.raw") or "/tags" in dirpath:
                    try:
                        with open(os.path.join(dirpath, f), "rb") as fh:
                            read += len(fh.read())
                    except OSError:
                        pass  # a damaged file's pixels: EIO, read as far as it goes
    finally:
        report.check("unmount (access times)", m.unmount())
    changed = [n for n in names + ["."] if os.stat(os.path.join(src, n)).st_atime_ns != old * 10**9]
    # the oracle that the check can fail here: a plain read updates it
    with open(os.path.join(src, names[0]), "rb") as fh:
        fh.read()
    moved = os.stat(os.path.join(src, names[0])).st_atime_ns != old * 10**9
    report.check("the source's access times are left alone by the scan and by reads",
                 changed if moved else [] if read else ["nothing was read"],
                 f"{len(names)} files, {read} bytes read through the mount"
                 + ("" if moved else "; this filesystem does not update access times "
                    "(noatime), so the check could not fail here"))


def run_checks(report, exe, tmp):
    atimes_kept(report, exe, tmp)
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
