#!/usr/bin/python3
"""dicomfs under load (issue 6): 16 readers at once for 60 seconds on a mount
of 10,000 instances (scripts/make-archive.py --preset bench), each doing,
at random: cat of image.png, pixels.raw, pixels.txt and header.json, random
preads of instance.dcm, `grep -r`, `ls -lR` and `find`.  Checked:

  1  no error: every command exits 0, every read returns the bytes of a
     single reader's pass made before the load (and instance.dcm's preads
     the source file's own bytes);
  2  no deadlock: no operation takes more than 30 s (a hang guard, scaled
     under sanitizers or by DICOMFS_TEST_TIME_SCALE), and every reader keeps
     going to the end (the watchdog ends a hung mount);
  3  memory: the daemon's peak resident size (VmHWM) and the largest VmRSS
     seen during the load are reported, and must stay under 1 GiB;
  4  the daemon is alive at the end, errors.tsv is empty, it unmounts
     cleanly, the source is unchanged and nothing is left behind.

usage: test_load.py DICOMFS SOURCE_ROOT [SECONDS]
(SECONDS of load, 60 by default.)  Last line `N passed, N failed`; exit 1
on failure, 77 without /dev/fuse.
"""

import collections
import hashlib
import os
import random
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import ml  # noqa: E402

WATCHDOG_SECONDS = 400  # meson's timeout is 450
INSTANCES = 10000
READERS = 16
OP_LIMIT = common.scaled(30, sys.argv[1] if len(sys.argv) > 1 else None)
                    # seconds one operation may take (a hang guard: x1 for a
                    # plain build, scaled under sanitizers or by
                    # DICOMFS_TEST_TIME_SCALE, see mountlib's time bounds)
SAMPLE = 1000       # instances whose rendered files the readers cat
RSS_LIMIT_KB = 1 << 20
LOAD_SECONDS = int(sys.argv[3]) if len(sys.argv) > 3 else 60


def sha(data):
    return hashlib.sha256(data).hexdigest()


def command(argv, cwd=None):
    """(exit status, sha256 of stdout) of a command; status None on timeout."""
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           timeout=OP_LIMIT, cwd=cwd)
    except subprocess.TimeoutExpired:
        return None, ""
    return r.returncode, sha(r.stdout)


class LoadTest:
    def __init__(self, report, exe, repo, tmp):
        self.r, self.exe, self.repo, self.tmp = report, exe, repo, tmp
        self.arch = os.path.join(tmp, "arch")
        self.source = os.path.join(self.arch, "source")
        self.mnt = os.path.join(tmp, "mnt")
        self.rng = random.Random(6)

    def check(self, name, problems, note=""):
        return self.r.check(name, problems, note)

    def setup(self):
        if common.generate(self.r, self.repo, "make-archive.py", self.arch, "--preset", "bench",
                           "--instances", str(INSTANCES), timeout=300) is None:
            return False
        self.snap = common.snapshot(self.source)
        t0 = time.monotonic()
        self.m = ml.Mount(self.exe, self.source, self.mnt, log_dir=self.tmp,
                          args=["-o", "noindex"]).start()
        ok = common.wait_scan_done(self.mnt, timeout=200) is not None
        self.check("mount and scan of 10,000 instances", [] if ok else [common.scan_wait_problem()],
                   f"{time.monotonic() - t0:.1f} s")
        if not ok:
            return False
        _, rows, problems = ml.read_tsv(os.path.join(self.mnt, ".dicomfs", "instances.tsv"))
        self.rows = rows
        if len(rows) != INSTANCES:
            problems.append(f"{len(rows)} instances in instances.tsv")
        self.check("instances.tsv lists every instance", problems, f"{len(rows)}")
        return not problems

    # ------------------------------------------------------------ one reader first
    def targets(self):
        """What the readers work on: a sample of instances for cat, a few
        instance and series folders for grep -r and ls -lR, the top four
        levels for find, every instance.dcm for preads."""
        rows = self.rows
        sample = self.rng.sample(rows, SAMPLE)
        self.cat_files = [os.path.join(self.mnt, r["path"], leaf) for r in sample
                          for leaf in ("image.png", "pixels.raw", "pixels.txt", "header.json")]
        self.dcm = [(os.path.join(self.mnt, r["path"], "instance.dcm"),
                     os.path.join(self.source, r["SourcePath"])) for r in rows]
        series = collections.Counter(os.path.dirname(r["path"]) for r in rows)
        smallest = sorted(series, key=lambda s: (series[s], s))[:2]
        folders = [os.path.join(self.mnt, r["path"]) for r in self.rng.sample(rows, 8)]
        folders += [os.path.join(self.mnt, s) for s in smallest]
        self.commands = []
        for f in folders:
            self.commands.append(("grep -r", ["grep", "-r", "-l", "-e", "BENCH", "-e", "1.2.840", f]))
            self.commands.append(("ls -lR", ["ls", "-lR", "--time-style=full-iso", f]))
        self.commands.append(("find", ["find", self.mnt, "-maxdepth", "4"]))
        for s in smallest:
            self.commands.append(("find", ["find", os.path.join(self.mnt, s), "-type", "f",
                                           "-name", "*.png"]))

    def single_reader(self):
        t0 = time.monotonic()
        problems = []
        self.expect = {}
        for path in self.cat_files:
            try:
                self.expect[path] = sha(ml.read_bytes(path))
            except OSError as e:
                problems.append(f"{path}: {e}")
        for name, argv in self.commands:
            rc, digest = command(argv)
            if rc != 0:
                problems.append(f"{' '.join(argv)}: exit {rc}")
            self.expect[tuple(argv)] = digest
        self.check("a single reader's pass first: every file and command answers", problems,
                   f"{len(self.cat_files)} files, {len(self.commands)} commands, "
                   f"{time.monotonic() - t0:.1f} s")
        return not problems

    # ------------------------------------------------------------ 16 readers
    def reader(self, k, stop, stats, errors, slowest):
        rng = random.Random(1000 + k)
        ops = ["cat"] * 5 + ["pread"] * 4 + ["command"] * 3
        while not stop.is_set():
            op = rng.choice(ops)
            t0 = time.monotonic()
            try:
                if op == "cat":
                    path = rng.choice(self.cat_files)
                    rc, digest = command(["cat", path])
                    what = f"cat {path}"
                    if rc != 0 or digest != self.expect[path]:
                        errors.append(f"{what}: exit {rc}" if rc != 0 else f"{what}: other bytes")
                    op = "cat " + os.path.basename(path)
                elif op == "pread":
                    mnt_path, src_path = rng.choice(self.dcm)
                    size = os.path.getsize(src_path)
                    with open(mnt_path, "rb") as f, open(src_path, "rb") as g:
                        for _ in range(8):
                            off = rng.randrange(size)
                            n = rng.choice((1, 7, 512, 4096, 65536))
                            if os.pread(f.fileno(), n, off) != os.pread(g.fileno(), n, off):
                                errors.append(f"pread {mnt_path} {n} at {off}: other bytes")
                                break
                else:
                    name, argv = rng.choice(self.commands)
                    rc, digest = command(argv)
                    if rc != 0 or digest != self.expect[tuple(argv)]:
                        errors.append(f"{' '.join(argv)}: " + (f"exit {rc}" if rc != 0 else
                                                              "other output than the single reader's"))
                    op = name
            except OSError as e:
                errors.append(f"{op}: {e}")
            took = time.monotonic() - t0
            stats[op] += 1
            slowest[op] = max(slowest[op], took)
            if took > OP_LIMIT:
                errors.append(f"{op} took {took:.0f} s")

    def load(self):
        stop = threading.Event()
        stats = [collections.Counter() for _ in range(READERS)]
        slowest = [collections.defaultdict(float) for _ in range(READERS)]
        errors = []
        rss = []

        def sample_memory():
            while not stop.wait(0.5):
                try:
                    with open(f"/proc/{self.m.pid}/status") as f:
                        for line in f:
                            if line.startswith("VmRSS:"):
                                rss.append(int(line.split()[1]))
                except OSError:
                    return

        threads = [threading.Thread(target=self.reader, args=(k, stop, stats[k], errors, slowest[k]),
                                    daemon=True) for k in range(READERS)]
        monitor = threading.Thread(target=sample_memory, daemon=True)
        t0 = time.monotonic()
        for t in threads + [monitor]:
            t.start()
        time.sleep(LOAD_SECONDS)
        stop.set()
        for t in threads + [monitor]:
            t.join(OP_LIMIT + 10)
        elapsed = time.monotonic() - t0
        stuck = [k for k, t in enumerate(threads) if t.is_alive()]
        total = sum(stats, collections.Counter())
        idle = [k for k in range(READERS) if sum(stats[k].values()) < 3]
        worst = max((max(s.values(), default=0.0) for s in slowest), default=0.0)
        self.check(f"1 {READERS} readers for {LOAD_SECONDS} s: no error, the single reader's bytes",
                   errors, f"{sum(total.values())} operations in {elapsed:.0f} s: " +
                   ", ".join(f"{n} {op}" for op, n in sorted(total.items())))
        self.check("2 no deadlock: every reader finished, none idle, no operation over "
                   f"{OP_LIMIT:g} s", [f"reader {k} still running" for k in stuck] +
                   [f"reader {k} did only {sum(stats[k].values())} operations" for k in idle],
                   f"slowest operation {worst:.1f} s")
        hwm = common.vm_hwm(self.m.pid)
        peak = max(rss, default=0)
        self.check("3 memory: the daemon's peak resident size stays under 1 GiB",
                   [] if hwm is not None and hwm < RSS_LIMIT_KB else [f"VmHWM {hwm} kB"],
                   f"peak RSS (VmHWM) {hwm / 1024:.0f} MiB, largest VmRSS sampled {peak / 1024:.0f} MiB"
                   if hwm else "")

    def finish(self):
        problems = [] if self.m.alive() else [f"dicomfs died: {self.m.log()[-500:]}"]
        if not problems:
            _, rows, probs = ml.read_tsv(os.path.join(self.mnt, ".dicomfs", "errors.tsv"))
            problems += probs + [f"errors.tsv: {r}" for r in rows[:5]]
        self.check("4 the daemon is alive and errors.tsv is empty after the load", problems)
        self.check("4 unmount: clean exit", self.m.unmount())
        self.check("4 the source is unchanged (sha256, sizes, mtimes)",
                   ml.diff_snapshots(self.snap, common.snapshot(self.source)))

    def run(self):
        if not self.setup():
            return
        try:
            self.targets()
            if self.single_reader():
                self.load()
        finally:
            self.finish()


def main():
    return common.run_main(__doc__.split("\n\n")[-2], "dicomfs-load.", WATCHDOG_SECONDS,
                           lambda report, exe, repo, tmp: LoadTest(report, exe, repo, tmp).run(),
                           nargs=(2, 3))


if __name__ == "__main__":
    sys.exit(main())
