#!/usr/bin/python3
"""The background scan (issue 5), mounted for real.

usage: test_scan.py DICOMFS REPO

An archive of 30,000 instances (scripts/make-archive.py --preset bench, whose
truth.json records what each file holds) is mounted without waiting for the
scan.  While the scan runs, readers walk the tree and read attributes; every
listing must be consistent in itself (no name twice), every value read must
be the one the file holds (its SOP Instance UID, under the right patient),
and the counts must only grow.  The status file must reach "scan: done" with
the whole archive in the tree.  Then a remount after changes (files touched,
removed and added) must show the stored tree at once and end with exactly
the changed files read.  Last, `dicomfs -f` on a terminal must show the
progress line (files/s and the time left).
"""

import ctypes
import os
import pty
import random
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402

N = 30000
READERS = 4
WATCHDOG_SECONDS = 570  # meson's timeout is 600


def read_truth(archive):
    import json
    with open(os.path.join(archive, "truth.json")) as f:
        truth = json.load(f)
    uid_patient = {}   # SOP Instance UID -> PatientID
    uid_path = {}      # SOP Instance UID -> source relpath
    for p in truth["patients"]:
        for st in p["studies"]:
            for se in st["series"]:
                for inst in se["instances"]:
                    uid_patient[inst["SOPInstanceUID"]] = p["PatientID"]
                    uid_path[inst["SOPInstanceUID"]] = inst["path"]
    return truth, uid_patient, uid_path


def read_tsv_rows(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    header = lines[0].split("\t")
    return [dict(zip(header, ln.split("\t"))) for ln in lines[1:] if ln]


class Observer:
    """Readers that walk the mount while the scan runs and note problems."""

    def __init__(self, mnt, uid_patient):
        self.mnt = mnt
        self.uid_patient = uid_patient
        self.problems = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.during_scan = 0      # observations made while the status said running
        self.values_checked = 0
        self.listings = 0

    def problem(self, text):
        with self.lock:
            if len(self.problems) < 50:
                self.problems.append(text)

    def scanning(self):
        try:
            with open(os.path.join(self.mnt, ".dicomfs", "status")) as f:
                return "scan: running" in f.read()
        except OSError as e:
            self.problem(f"status unreadable: {e}")
            return False

    def listdir(self, path):
        try:
            names = os.listdir(path)
        except FileNotFoundError:
            return None  # renamed since its parent was listed: allowed while scanning
        except OSError as e:
            self.problem(f"listdir {path}: {e}")
            return None
        with self.lock:
            self.listings += 1
        if len(names) != len(set(names)):
            self.problem(f"{path}: a name listed twice in one listing")
        return names

    def reader(self, seed):
        rng = random.Random(seed)
        last_seen = 0
        while not self.stop.is_set():
            running = self.scanning()
            patients = self.listdir(self.mnt)
            if patients is None:
                continue
            patients = [p for p in patients if p != ".dicomfs"]
            for p in rng.sample(patients, min(3, len(patients))):
                self.walk_patient(os.path.join(self.mnt, p), rng)
            try:
                with open(os.path.join(self.mnt, ".dicomfs", "status")) as f:
                    fields = dict(ln.split(": ", 1) for ln in f.read().splitlines())
                seen = int(fields["files seen"])
                if seen < last_seen:
                    self.problem(f"files seen went back from {last_seen} to {seen}")
                last_seen = seen
            except (OSError, KeyError, ValueError) as e:
                self.problem(f"status: {e}")
            if running:
                with self.lock:
                    self.during_scan += 1

    def walk_patient(self, pdir, rng):
        try:
            with open(os.path.join(pdir, "tags", "PatientID")) as f:
                pid = f.read().strip()
        except FileNotFoundError:
            return
        except OSError as e:
            self.problem(f"{pdir}/tags/PatientID: {e}")
            return
        for _ in range(2):  # down to a series: patient/study/series
            names = self.listdir(pdir)
            if not names:
                return
            names = [n for n in names if n not in ("tags", "volume")]
            if not names:
                return
            pdir = os.path.join(pdir, rng.choice(names))
        for inst in (self.listdir(pdir) or [])[:5]:
            if inst in ("tags", "volume"):
                continue
            path = os.path.join(pdir, inst, "tags", "SOPInstanceUID")
            try:
                with open(path) as f:
                    uid = f.read().strip()
            except FileNotFoundError:
                continue
            except OSError as e:
                self.problem(f"{path}: {e}")
                continue
            with self.lock:
                self.values_checked += 1
            want = self.uid_patient.get(uid)
            if want is None:
                self.problem(f"{path}: {uid} is no instance of the archive")
            elif want != pid:
                self.problem(f"{path}: {uid} belongs to patient {want}, shown under {pid}")


def tree_problems(mnt, uid_path, removed=()):
    """The finished tree against the truth: every instance once, in place."""
    rows = read_tsv_rows(os.path.join(mnt, ".dicomfs", "instances.tsv"))
    problems = []
    by_uid = {}
    for r in rows:
        by_uid.setdefault(r["SOPInstanceUID"], []).append(r)
    for uid, path in uid_path.items():
        if path in removed:
            if uid in by_uid:
                problems.append(f"{path} was removed but is still in the tree")
            continue
        got = by_uid.get(uid, [])
        if len(got) != 1 or got[0]["SourcePath"] != path:
            problems.append(f"{uid} ({path}): {len(got)} rows {[g['SourcePath'] for g in got]}")
    extra = [r["SourcePath"] for r in rows if r["SOPInstanceUID"] not in uid_path]
    return problems + [f"not in the archive: {p}" for p in extra[:5]], len(rows)


def wait_done(mnt, timeout=300):
    """(status fields, seconds) once .dicomfs/status says `scan: done`;
    (None, seconds waited) past the hang guard (mountlib's Bound of
    `timeout` base seconds: scaled, cut before the watchdog)."""
    bound = ml.Bound(timeout)
    ml.waiting_for(f"the scan of {mnt} to be done")
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < bound.seconds:
            with open(os.path.join(mnt, ".dicomfs", "status")) as f:
                text = f.read()
            if "scan: done\n" in text:
                return dict(ln.split(": ", 1) for ln in text.splitlines()), time.monotonic() - t0
            time.sleep(0.02)
    finally:
        ml.waiting_for(None)
    print(f"scan of {mnt} not done after {time.monotonic() - t0:.1f} s ({bound})", flush=True)
    return None, time.monotonic() - t0


def progress_line(exe, source, mnt, env):
    """dicomfs -f on a terminal: (what it prints while scanning, problems of
    its exit after the unmount).  The waits are hang guards (mountlib's
    Bound: scaled, cut before the watchdog)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(exe, [exe, "-f", "-o", "noindex", source, mnt], env)
    out = b""
    problems = []
    scan = ml.Bound(120, exe)
    newline = ml.scaled(5, exe)
    t0 = time.monotonic()
    done = False
    try:
        while time.monotonic() - t0 < scan.seconds:
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            if not done and ml.mount_count(mnt):
                try:
                    with open(os.path.join(mnt, ".dicomfs", "status")) as f:
                        done = "scan: done" in f.read() and time.monotonic()
                except OSError:
                    pass
            if done and (out.endswith(b"\n") or time.monotonic() - done > newline):
                break
        else:
            problems.append(f"scan not done, or its progress line not ended, after "
                            f"{time.monotonic() - t0:.1f} s ({scan})")
    finally:
        subprocess.run(["fusermount3", "-u", mnt], capture_output=True)
        busy = ml.Bound(ml.BUSY_SECONDS, exe)
        t1 = time.monotonic()
        while ml.mount_count(mnt) and time.monotonic() - t1 < busy.seconds:
            time.sleep(0.05)
            if ml.mount_count(mnt):
                subprocess.run(["fusermount3", "-u", mnt], capture_output=True)
        problems += exit_pty_child(pid, mnt, exe)
        os.close(fd)
    return out.decode("utf-8", "replace"), problems


def reaped(pid, seconds):
    """True once our child pid has exited (and is reaped), within seconds."""
    t0 = time.monotonic()
    while True:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            return True
        if time.monotonic() - t0 > seconds:
            return False
        time.sleep(0.02)


def exit_pty_child(pid, mnt, exe):
    """Wait for our `dicomfs -f` child to exit after its unmount, bounded by
    a hang guard (mountlib's Bound); the time it took is printed.  Past the
    bound: SIGTERM, then SIGKILL, a lazy unmount, and a problem that says
    how long we waited."""
    bound = ml.Bound(ml.EXIT_SECONDS, exe)
    who = f"pid {pid}, {os.path.basename(mnt)}"
    ml.waiting_for(f"dicomfs ({who}) to exit after unmount")
    t0 = time.monotonic()
    try:
        exited = reaped(pid, bound.seconds)
    finally:
        ml.waiting_for(None)
    took = time.monotonic() - t0
    if not exited:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
            if reaped(pid, 5):
                break
        if ml.mount_count(mnt):
            subprocess.run(["fusermount3", "-uz", mnt], capture_output=True)
        return [f"dicomfs ({who}) still running {took:.1f} s after unmount ({bound}); "
                "SIGTERM, SIGKILL"]
    ml.EXITS.append((took, who, "unmount"))
    print(f"dicomfs ({who}) exited {took:.1f} s after unmount", flush=True)
    return []


def main():
    exe, repo = sys.argv[1], sys.argv[2]
    report = ml.Report()
    if not os.path.exists("/dev/fuse"):
        print("no /dev/fuse: skipped")
        return 77
    tmp = tempfile.mkdtemp(prefix="dicomfs-scan-test.")
    ml.set_exe(exe)
    ml.start_watchdog(WATCHDOG_SECONDS, report, tmp)
    try:
        run(report, exe, repo, tmp)
    except Exception:
        import traceback
        report.check("the test itself ran to the end", [traceback.format_exc()])
    finally:
        ml.cleanup_all()
        report.check("nothing left behind: no dicomfs process started here, no mount",
                     ml.leftovers(tmp))
        shutil.rmtree(tmp, ignore_errors=True)
    return report.finish()


def resident_bytes(source, rels):
    """Bytes of each file in the page cache, by fincore (util-linux)."""
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES"]
                         + [os.path.join(source, r) for r in rels],
                         check=True, capture_output=True, text=True).stdout.split()
    return [int(x) for x in out]


def evict(source, rels):
    for r in rels:
        fd = os.open(os.path.join(source, r), os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)


def read_ahead_check(report, exe, source, mnt, tmp, index):
    """A walk into an instance folder has its series' headers read ahead
    (sources/folder.c), and a walk that stops at the series (find -maxdepth
    4) has none read: the status counter, and fincore as the oracle of what
    came into the page cache."""
    check = report.check
    m = ml.Mount(exe, source, mnt, foreground=False, args=["-o", "index=" + index],
                 log_dir=tmp).start()
    try:
        by_series = {}
        for r in read_tsv_rows(os.path.join(mnt, ".dicomfs", "instances.tsv")):
            by_series.setdefault(os.path.dirname(r["path"]), []).append(r)
        big = sorted(s for s in by_series if len(by_series[s]) >= 20)[:2]
        a, b = big
        files_a = [r["SourcePath"] for r in by_series[a]]
        files_b = [r["SourcePath"] for r in by_series[b]]
        os.sync()
        evict(source, files_a + files_b)
        before = resident_bytes(source, files_a + files_b)
        check("setup (read ahead): two series' files out of the page cache",
              [f"{r}: {x} bytes" for r, x in zip(files_a + files_b, before) if x][:5],
              f"{len(files_a)} + {len(files_b)} files")
        subprocess.run(["find", mnt, "-maxdepth", "4"], check=True, capture_output=True)
        st = m.status()
        after_find = resident_bytes(source, files_b)
        check("find -maxdepth 4 (it lists series, not instances) reads no header ahead",
              ([] if st.get("headers read ahead", "").startswith("0 files") else
               [st.get("headers read ahead")]) +
              [f"{r}: {x} bytes" for r, x in zip(files_b, after_find) if x][:5],
              st.get("headers read ahead"))
        first = sorted(by_series[a], key=lambda r: r["path"])[0]["path"]
        os.listdir(os.path.join(mnt, first))
        want = f"{len(files_a)} files"
        ok, took = ml.poll("the read ahead of a series",
                           lambda: m.status().get("headers read ahead", "").startswith(want),
                           ml.Bound(60, exe))
        res_a, res_b = resident_bytes(source, files_a), resident_bytes(source, files_b)
        check("listing one instance's folder reads its series' headers ahead (status)", ok,
              f"{m.status().get('headers read ahead')} after {took:.2f} s")
        check("and they are in the page cache after (fincore: the first 4 KiB at least)",
              [f"{r}: {x} bytes" for r, x in zip(files_a, res_a) if x < 4096][:5],
              f"{len(files_a)} files, {sum(res_a)} bytes resident")
        check("the other series' files stay out of the page cache",
              [f"{r}: {x} bytes" for r, x in zip(files_b, res_b) if x][:5], f"{len(files_b)} files")
    finally:
        check("unmount (read ahead)", m.unmount())


def eviction_counters():
    """The kernel's own counts of page cache taken away by something other
    than this program: reclaim (pgsteal_*) and drop_caches."""
    with open("/proc/vmstat") as f:
        pairs = (ln.split() for ln in f)
        return {k: int(n) for k, n in pairs if k.startswith("pgsteal_") or k == "drop_pagecache"}


def resident(paths):
    """Bytes of each path in the page cache (fincore, from util-linux)."""
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES"] + paths,
                         check=True, capture_output=True, text=True).stdout.split()
    return [int(x) for x in out]


def read_into_cache(paths):
    """Read each file twice: its pages are then on the kernel's active list,
    not the first a memory-pressed kernel takes back."""
    for _ in range(2):
        for p in paths:
            with open(p, "rb") as f:
                f.read()


def fresh_index_scan(exe, source, mnt, tmp, name, env):
    """Mount with a fresh index (its scan reads every file), then the mount."""
    index = os.path.join(tmp, "cache", f"fresh-{name}.sqlite")
    if os.path.exists(index):
        os.unlink(index)
    return ml.Mount(exe, source, mnt, foreground=False, args=["-o", "index=" + index],
                    log_dir=tmp, env=env).start()


def fresh_scan(report, exe, source, mnt, tmp, paths, present, uid_path, removed, how, env,
               has_cachestat, has_uring):
    """Evict half the archive from the page cache, scan it with a fresh index
    (reading `how`, in the daemon's environment env), and check the tree,
    the status, and what is in the cache after."""
    check = report.check
    what = f"({how})"
    os.sync()
    evicted, kept = present[: len(present) // 2], present[len(present) // 2:][:100]
    for p in evicted:
        fd = os.open(os.path.join(source, p), os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
    # The kept files' twins outside the archive, read alongside them: what
    # the kernel takes from both in the same time is not the scan's doing.
    kept_paths = [os.path.join(source, p) for p in kept]
    control = os.path.join(tmp, "control")
    os.makedirs(control, exist_ok=True)
    twins = [os.path.join(control, f"{i}.dcm") for i in range(len(kept))]
    for src, dst in zip(kept_paths, twins):
        shutil.copyfile(src, dst)
    os.sync()
    counters = eviction_counters()
    read_into_cache(kept_paths + twins)
    sample = evicted[:: max(1, len(evicted) // 1000)]
    sample_paths = [os.path.join(source, r) for r in sample]

    before = resident(sample_paths)
    check(f"setup: the evicted files are out of the page cache (fincore) {what}",
          [f"{r}: {b} bytes resident" for r, b in zip(sample, before) if b][:5],
          f"{len(evicted)} evicted, {len(sample)} looked at")
    name = how.replace(" ", "-")
    m = fresh_index_scan(exe, source, mnt, tmp, name, env)
    status = m.status()
    check(f"a fresh index: every file read {what}", status.get("files read") == str(len(present)),
          f"{status.get('files read')} read")
    batched = status.get("files read in batches", "")
    if env is None and has_uring:
        check("the scan read every file in a batch (status)", batched == str(len(present)),
              batched)
    else:
        check("the scan read file by file, and says why (status)",
              batched.startswith("0, file by file: "), batched)
    problems, rows = tree_problems(mnt, uid_path, removed)
    check(f"the tree from files read outside the page cache is the whole archive {what}", problems,
          f"{rows} rows")
    check(f"unmount after the fresh scan {what}", m.unmount())
    after = resident(sample_paths)
    if has_cachestat:
        check(f"the scan left the files it found out of the page cache out of it {what}",
              [f"{r}: {a} bytes resident" for r, a in zip(sample, after) if a][:5],
              f"{sum(after)} bytes resident in {len(sample)} files")
    else:  # no cachestat: read through the cache, as every other read
        check(f"without cachestat, the scan read through the page cache {what}",
              [f"{r}: not resident" for r, a in zip(sample, after) if not a][:5],
              f"{sum(after)} bytes resident in {len(sample)} files")

    # Files in the page cache before a scan are there after it.  The kernel
    # may take pages back meanwhile for reasons of its own (reclaim under
    # memory pressure, someone's drop_caches): such a window, told by the
    # kernel's counters or by the twins losing pages too, proves nothing
    # and is tried again (at most 3 windows); a loss with neither is ours.
    sizes = [os.path.getsize(p) for p in kept_paths]
    windows = []
    for attempt in range(3):
        if attempt:
            counters = eviction_counters()
            read_into_cache(kept_paths + twins)
            check(f"unmount after the scan of window {attempt + 1} {what}",
                  fresh_index_scan(exe, source, mnt, tmp, f"{name}-{attempt}", env).unmount())
        lost = [f"{r}: {a} of {z} bytes" for r, a, z in zip(kept, resident(kept_paths), sizes)
                if a < z]
        twins_lost = sum(a < z for a, z in zip(resident(twins), sizes))
        changed = {k: n - counters.get(k, 0) for k, n in eviction_counters().items()
                   if n != counters.get(k, 0)}
        windows.append(f"window {attempt + 1}: {len(lost)} kept files lost pages, "
                       f"twins {twins_lost}, kernel {changed or 'took nothing'}")
        if not lost or not (changed or twins_lost):
            break
        print(f"{what} {windows[-1]}: the kernel took pages meanwhile; again", flush=True)
    check(f"files in the page cache before the scan are there after it {what}",
          lost[:5] + ([windows[-1]] if lost else []), f"{len(kept)} files; " + "; ".join(windows))


def run(report, exe, repo, tmp):
    check = report.check
    archive = os.path.join(tmp, "arch")
    subprocess.run(["/usr/bin/python3", os.path.join(repo, "scripts", "make-archive.py"), archive,
                    "--preset", "bench", "--instances", str(N)], check=True, capture_output=True)
    source = os.path.join(archive, "source")
    truth, uid_patient, uid_path = read_truth(archive)
    check("the archive", len(uid_path) == N, f"{len(uid_path)} instances, "
          f"{len(truth['patients'])} patients")
    mnt = os.path.join(tmp, "mnt")
    index = os.path.join(tmp, "cache", "index.sqlite")

    # --- a first mount: folders fill in while the scan runs -----------------
    m = ml.Mount(exe, source, mnt, foreground=False, args=["-o", f"index={index}"],
                 log_dir=tmp, wait_scan=False).start()
    obs = Observer(mnt, uid_patient)
    first_running = obs.scanning()
    check("the mount answers before its scan is done (status says running)", first_running,
          f"mounted in {m.mount_seconds:.3f} s")
    threads = [threading.Thread(target=obs.reader, args=(k,)) for k in range(READERS)]
    for t in threads:
        t.start()
    status, seconds = wait_done(mnt)
    obs.stop.set()
    for t in threads:
        t.join(120)
    check("the status file reaches 'scan: done'", status is not None, f"{seconds:.2f} s")
    seen = (f"{obs.during_scan} rounds during the scan, {obs.listings} listings, "
            f"{obs.values_checked} SOP Instance UIDs read")
    check("readers saw the tree while it filled in",
          [] if obs.during_scan > 0 and obs.values_checked > 0 else [seen], seen)
    check("concurrent readers during the scan: every listing consistent, every value the "
          "file's, counts only growing", obs.problems)
    problems, rows = tree_problems(mnt, uid_path)
    check("when done, the tree is the whole archive, each instance once", problems, f"{rows} rows")
    check("status counts when done", status is not None and status.get("files seen") == str(N)
          and status.get("indexed") == str(N) and status.get("files read") == str(N),
          str(status))
    first_paths = {r["SourcePath"]: r["path"] for r in
                   read_tsv_rows(os.path.join(mnt, ".dicomfs", "instances.tsv"))}
    check("unmount", m.unmount())

    # --- names given while folders filled in = names given at once -------------
    # The remount names every folder from the stored index in one go; the
    # first mount named them snapshot by snapshot, reusing unchanged folders.
    m = ml.Mount(exe, source, mnt, foreground=False, args=["-o", f"index={index}"],
                 log_dir=tmp).start()
    again = {r["SourcePath"]: r["path"] for r in
             read_tsv_rows(os.path.join(mnt, ".dicomfs", "instances.tsv"))}
    differ = [f"{k}: {first_paths.get(k)} / {again.get(k)}" for k in sorted(set(first_paths) |
              set(again)) if first_paths.get(k) != again.get(k)]
    check("every instance's path after the scan equals its path named all at once (remount)",
          differ, f"{len(again)} instances")
    check("unmount after the unchanged remount", m.unmount())

    # --- a remount after changes: the stored tree at once, then corrected ----
    rng = random.Random(5)
    paths = sorted(uid_path.values())
    touched = rng.sample(paths, 200)
    removed = set(rng.sample([p for p in paths if p not in touched], 50))
    for p in touched:
        full = os.path.join(source, p)
        st = os.stat(full)
        os.utime(full, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    for p in removed:
        os.unlink(os.path.join(source, p))
    m = ml.Mount(exe, source, mnt, foreground=False, args=["-o", f"index={index}"],
                 log_dir=tmp, wait_scan=False).start()
    t0 = time.monotonic()
    patients = [p for p in os.listdir(mnt) if p != ".dicomfs"]
    first_list = time.monotonic() - t0
    seen = f"{len(patients)} patients {first_list * 1000:.0f} ms after the mount returned"
    check("remount: the root lists every patient at once, from the stored index",
          [] if len(patients) == len(truth["patients"]) else [seen], seen)
    status, seconds = wait_done(mnt)
    check("remount: only the changed files are read", status is not None and
          status.get("files read") == str(len(touched)), f"{status and status.get('files read')} "
          f"read, {len(touched)} touched, {len(removed)} removed, done in {seconds:.2f} s")
    problems, rows = tree_problems(mnt, uid_path, removed)
    check("remount: touched files still in place, removed ones gone", problems, f"{rows} rows")
    check("unmount after the remount", m.unmount())

    # --- a scan leaves the page cache as it found it ---------------------------
    # Files not in the page cache are read from the disk directly (O_DIRECT,
    # where the kernel can say what is cached: cachestat, Linux 6.5), so a
    # scan of a large archive does not push what users read out of the
    # cache; files already there are read from it.  fincore (util-linux) is
    # the oracle for what is resident.  Twice: reading in batches (io_uring,
    # catalog/batch.c) and file by file (what a kernel without io_uring
    # gets), each with a fresh index: the same tree from both.
    present = sorted(set(paths) - removed)
    libc = ctypes.CDLL(None, use_errno=True)
    has_cachestat = libc.syscall(451, -1, None, None, 0) == -1 and ctypes.get_errno() != 38
    has_uring = libc.syscall(425, 0, None) == -1 and ctypes.get_errno() not in (38, 1)
    for how, env in (("in batches", None), ("file by file", dict(os.environ, DICOMFS_NO_IO_URING="1"))):
        fresh_scan(report, exe, source, mnt, tmp, paths, present, uid_path, removed, how, env,
                   has_cachestat, has_uring)
    if has_uring:
        read_ahead_check(report, exe, source, mnt, tmp,
                         os.path.join(tmp, "cache", "fresh-in-batches.sqlite"))

    # --- the progress line ------------------------------------------------------
    env = dict(os.environ)
    os.makedirs(mnt, exist_ok=True)
    out, exit_problems = progress_line(exe, source, mnt, env)
    last = out.replace("\r\n", "\n").split("\r")[-1]
    n = N - len(removed)
    ok = "files/s" in out and " s left" in out and f"{n} of {n} files" in last
    check("dicomfs -f on a terminal shows a progress line with files/s and the time left",
          ([] if ok else [repr(out[-300:])]) + exit_problems, repr(last.strip()))


if __name__ == "__main__":
    sys.exit(main())
