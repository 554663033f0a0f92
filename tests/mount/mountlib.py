"""Shared parts of the real-mount tests (test_mount.py, test_dicomdirtests.py):
reporting, mounting and unmounting dicomfs, walking a mount, the oracles
(dcmdump, dcm2json, pydicom) and their comparisons.

Only /usr/bin/python3 (Debian's, with pydicom 2.3.1) runs these scripts.

Every dicomfs process started here is recorded with its pid; only those are
ever signalled, and only mounts made here are ever unmounted.

Wall-clock bounds (a mount coming up, a scan finishing, dicomfs exiting after
its unmount) are hang guards only, never a measure of speed: see "time
bounds" below, `Bound` and DICOMFS_TEST_TIME_SCALE.
"""

import base64
import hashlib
import math
import os
import re
import signal
import stat
import subprocess
import threading
import time

VERBOSE = os.environ.get("DICOMFS_TEST_VERBOSE") not in (None, "", "0")
SHOWN = 4  # problems shown on a check's line (all of them when VERBOSE)


# --- reporting -----------------------------------------------------------------

class Report:
    """One line per check: 'PASS name' or 'FAIL name: problems', and at the
    end 'N passed, N failed'."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.failures = []
        self.lock = threading.Lock()

    def check(self, name, problems, note=""):
        """problems: a list of strings (empty: pass), or a bool (True: pass)."""
        if isinstance(problems, bool):
            problems = [] if problems else ["failed"]
        with self.lock:
            if problems:
                self.failed += 1
                self.failures.append(name)
                shown = problems if VERBOSE else problems[:SHOWN]
                more = "" if len(shown) == len(problems) else f" ... ({len(problems)} problems)"
                text = " | ".join(one_line(p) for p in shown)
                print(f"FAIL {name}: {text}{more}", flush=True)
            else:
                self.passed += 1
                print(f"PASS {name}" + (f" ({note})" if note else ""), flush=True)
        return not problems

    def summary(self):
        return f"{self.passed} passed, {self.failed} failed"

    def finish(self):
        if EXITS:
            print(exit_summary(), flush=True)
        print(self.summary(), flush=True)
        return 1 if self.failed else 0


def one_line(s, limit=400):
    s = str(s).replace("\n", "\\n")
    if VERBOSE:
        return s
    return s if len(s) <= limit else s[:limit] + "..."


# --- time bounds -----------------------------------------------------------------
# A wall-clock bound in these tests only guards against a hang: it must hold
# under AddressSanitizer + UBSan with leak detection (scripts/test's second
# pass) on a loaded 2-core machine, so it is generous and scaled:
#   base seconds x 1 for a plain build,
#              x SANITIZER_SCALE when dicomfs runs under sanitizers (ASAN_OPTIONS,
#                LSAN_OPTIONS or UBSAN_OPTIONS set, the binary under build-asan/,
#                or built with -fsanitize),
#              x DICOMFS_TEST_TIME_SCALE instead, when set (a number > 0),
# and cut to what is left before the test's watchdog (start_watchdog, itself
# set below meson's timeout), so that a hang is still reported by its own
# check, with the time waited, and cleaned up (SIGTERM, SIGKILL, lazy
# unmount) before meson's timeout.  Those two stay the outer bound of a test.
# The time every dicomfs took to exit is printed ("dicomfs ... exited 2.3 s
# after unmount") and summed up at the end (exit_summary()).

EXIT_SECONDS = 120   # dicomfs exiting after an unmount or a signal: it frees its
                     # index, and LeakSanitizer then scans the whole heap
MOUNT_SECONDS = 120  # a mount coming up, a scan finishing
BUSY_SECONDS = 30    # fusermount3 -u retried while the mount is busy
SANITIZER_SCALE = 3
TIME_SCALE_VAR = "DICOMFS_TEST_TIME_SCALE"
WATCHDOG_MARGIN = 15  # seconds kept before the watchdog for the cleanup after a hang

_exe = None           # the dicomfs under test (set_exe, Mount), for sanitizer detection
_sanitizer_why = {}   # exe -> reason ("" when not sanitized)
_watchdog_deadline = None  # time.monotonic() when the watchdog fires
_pending = None       # (what is being waited for, since when), for the watchdog's message
EXITS = []            # [(seconds, "pid N, MNT", after what)] of every exit seen


def set_exe(exe):
    """Name the dicomfs binary under test (Mount does it on its own)."""
    global _exe
    _exe = exe


def sanitized(exe=None):
    """Why dicomfs runs under sanitizers, or "" when it does not."""
    for var in ("ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS"):
        if os.environ.get(var):
            return f"{var} set"
    exe = exe or _exe
    if not exe:
        return ""
    if exe not in _sanitizer_why:
        why = ""
        if "build-asan" in os.path.realpath(exe).split(os.sep):
            why = f"{exe} is under build-asan/"
        else:
            try:
                with open(exe, "rb") as f:
                    data = f.read()
                if b"__asan_init" in data or b"__ubsan_handle_" in data:
                    why = f"{os.path.basename(exe)} is built with sanitizers"
            except OSError:
                pass
        _sanitizer_why[exe] = why
    return _sanitizer_why[exe]


def time_scale(exe=None):
    """(factor, why) for every hang guard: DICOMFS_TEST_TIME_SCALE when set,
    else SANITIZER_SCALE under sanitizers, else 1."""
    value = os.environ.get(TIME_SCALE_VAR)
    if value not in (None, ""):
        try:
            scale = float(value)
        except ValueError:
            scale = 0
        if not (scale > 0 and math.isfinite(scale)):
            raise ValueError(f"{TIME_SCALE_VAR}={value!r}: expected a number > 0")
        return scale, f"{TIME_SCALE_VAR}={value}"
    why = sanitized(exe)
    if why:
        return float(SANITIZER_SCALE), f"sanitizers: {why}"
    return 1.0, ""


def scaled(base, exe=None):
    """base seconds x time_scale(): for a hang guard without the watchdog cut
    (a subprocess timeout, a thread join)."""
    return base * time_scale(exe)[0]


def note_watchdog(seconds):
    """A watchdog of the test's own fires in `seconds`: Bound cuts to it."""
    global _watchdog_deadline
    _watchdog_deadline = time.monotonic() + seconds


def watchdog_left():
    """Seconds until the watchdog fires, or None without one."""
    if _watchdog_deadline is None:
        return None
    return _watchdog_deadline - time.monotonic()


class Bound:
    """A hang guard of `base` seconds, scaled (time_scale) and cut to what is
    left before the watchdog; str() says how it was reached."""

    def __init__(self, base, exe=None):
        self.base = base
        self.scale, self.why = time_scale(exe)
        self.seconds = base * self.scale
        self.cut = False
        left = watchdog_left()
        if left is not None:
            room = left - WATCHDOG_MARGIN
            if room < 15:  # little left: wait until just before the watchdog
                room = max(left - 1, 0.5)
            if room < self.seconds:
                self.seconds = room
                self.cut = True

    def __str__(self):
        parts = []
        if self.scale != 1:
            parts.append(f"{self.base:g} s x {self.scale:g}, {self.why}")
        else:
            parts.append(f"{self.base:g} s x 1, no sanitizers seen; {TIME_SCALE_VAR} scales it")
        if self.cut:
            parts.append("cut to the time left before the test's watchdog")
        shown = f"{self.seconds:.0f}" if self.seconds >= 10 else f"{self.seconds:.1f}"
        return f"hang guard {shown} s: " + "; ".join(parts)


def waiting_for(what):
    """Note what the test waits for now (None: nothing), for the watchdog."""
    global _pending
    _pending = None if what is None else (what, time.monotonic())


def poll(what, pred, bound, interval=0.02):
    """Poll pred() until it is true (an OSError counts as not yet) or the
    hang guard bound (a Bound) runs out: (ok, seconds waited)."""
    waiting_for(what)
    t0 = time.monotonic()
    try:
        while True:
            try:
                ok = pred()
            except OSError:
                ok = False
            took = time.monotonic() - t0
            if ok or took > bound.seconds:
                return bool(ok), took
            time.sleep(interval)
    finally:
        waiting_for(None)


def exit_summary():
    """One line on the exits seen so far, '' when none."""
    if not EXITS:
        return ""
    took, who, after = max(EXITS)
    return (f"{len(EXITS)} dicomfs exits timed, slowest {took:.1f} s ({who}, after {after}), "
            f"total {sum(t for t, _, _ in EXITS):.1f} s")


# --- processes and mounts --------------------------------------------------------

def unescape_mount_field(s):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), s)


def proc_mounts():
    """[(source, mountpoint, fstype)] from /proc/mounts."""
    out = []
    with open("/proc/mounts", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3:
                out.append((fields[0], unescape_mount_field(fields[1]), fields[2]))
    return out


def mount_count(mp):
    return sum(1 for _, m, _ in proc_mounts() if m == mp)


def mounts_under(root):
    root = root.rstrip("/") + "/"
    return [m for _, m, _ in proc_mounts() if (m + "/").startswith(root)]


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = data[data.rindex(")") + 2:].split()[0]
    return state not in ("Z", "X")


def ere_escape(s):
    """s as a POSIX extended regular expression matching itself (for pgrep)."""
    return re.sub(r"([.\[\]()*+?{}|^$\\])", r"\\\1", s)


def run(argv, timeout=120, **kw):
    """subprocess.run with output captured; (returncode, stdout bytes, stderr text).
    returncode None on timeout."""
    try:
        r = subprocess.run(argv, capture_output=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        return None, e.stdout or b"", f"timeout after {timeout} s"
    return r.returncode, r.stdout, r.stderr.decode("utf-8", "replace")


class MountError(Exception):
    pass


class Mount:
    """One dicomfs mount made by this test.  foreground=True runs
    `dicomfs -f` as our child (we own the pid); foreground=False runs the
    documented `dicomfs SOURCE MNT`, which daemonizes once mounted, and finds
    the daemon's pid with pgrep on its exact command line."""

    live = []       # mounts not yet unmounted (for the watchdog and cleanup)
    all_pids = []   # every dicomfs pid this test started

    def __init__(self, exe, source, mp, foreground=True, args=(), log_dir=None, wait_scan=True,
                 env=None):
        self.exe, self.source, self.mp = exe, source, mp
        self.env = env  # the daemon's environment (None: ours)
        self.wait_scan = wait_scan
        self.foreground = foreground
        self.args = list(args)
        self.proc = None
        self.pid = None
        self.log_path = os.path.join(log_dir or os.path.dirname(mp),
                                     os.path.basename(mp) + ".log")
        self.returncode = None
        self.start_seconds = None
        self.exit_seconds = None  # how long it took to exit (await_exit)
        set_exe(exe)

    def argv(self):
        return [self.exe] + (["-f"] if self.foreground else []) + self.args + [self.source, self.mp]

    def start(self, timeout=None):
        """Mount; with wait_scan, wait for the scan to be done too.  timeout:
        the hang guard's base seconds (MOUNT_SECONDS), scaled (Bound)."""
        os.makedirs(self.mp, exist_ok=True)
        base = timeout or MOUNT_SECONDS
        bound = Bound(base, self.exe)
        timeout = bound.seconds
        t0 = time.monotonic()
        if self.foreground:
            log = open(self.log_path, "wb")
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, start_new_session=True, env=self.env)
            log.close()
            self.pid = self.proc.pid
            Mount.all_pids.append(self.pid)
            Mount.live.append(self)
            waiting_for(f"{self.mp} to be mounted")
            try:
                while mount_count(self.mp) == 0:
                    if self.proc.poll() is not None:
                        Mount.live.remove(self)
                        raise MountError(f"dicomfs -f exited {self.proc.returncode} before mounting: "
                                         f"{self.log().strip()[:500]}")
                    if time.monotonic() - t0 > timeout:
                        self.stop()
                        raise MountError(f"not mounted after {time.monotonic() - t0:.1f} s ({bound})")
                    time.sleep(0.02)
            finally:
                waiting_for(None)
        else:
            waiting_for(f"`dicomfs SOURCE {self.mp}` to return")
            try:
                rc, out, err = run(self.argv(), timeout=timeout, env=self.env)
            finally:
                waiting_for(None)
            with open(self.log_path, "wb") as f:
                f.write(out + err.encode())
            mounted = mount_count(self.mp) > 0
            pids = self.find_daemon()
            if mounted or pids:
                Mount.live.append(self)
                self.pid = pids[0] if len(pids) == 1 else None
                Mount.all_pids.extend(pids)
            if rc != 0:
                self.stop()
                raise MountError(f"`dicomfs SOURCE MNT` exited {rc}: {err.strip()[:500]}"
                                 + (f" ({bound})" if rc is None else ""))
            if not mounted:
                self.stop()
                raise MountError("`dicomfs SOURCE MNT` returned 0 but MNT is not a mount yet")
            if len(pids) != 1:
                self.stop()
                raise MountError(f"expected one daemon process, pgrep found {pids}")
        self.mount_seconds = time.monotonic() - t0
        if self.wait_scan:
            self.wait_scan_done(base)
        self.start_seconds = time.monotonic() - t0
        return self

    def status(self):
        """.dicomfs/status as a dict ("scan" is "done" or "running, ...")."""
        fields = {}
        with open(os.path.join(self.mp, ".dicomfs", "status"), encoding="utf-8") as f:
            for line in f:
                key, _, value = line.rstrip("\n").partition(": ")
                fields[key] = value
        return fields

    def wait_scan_done(self, timeout=None):
        """The mount answers at once and fills in; wait until the scan is
        done.  timeout: the hang guard's base seconds (MOUNT_SECONDS)."""
        bound = Bound(timeout or MOUNT_SECONDS, self.exe)
        waiting_for(f"the scan of {self.mp} to be done")
        t0 = time.monotonic()
        try:
            while self.status().get("scan") != "done":
                if time.monotonic() - t0 > bound.seconds:
                    self.stop()
                    raise MountError(f"scan not done after {time.monotonic() - t0:.1f} s ({bound})")
                time.sleep(0.01)
        finally:
            waiting_for(None)

    def find_daemon(self):
        pattern = ere_escape(" ".join(self.argv()))
        rc, out, _ = run(["pgrep", "-f", "-x", pattern], timeout=30)
        return [int(x) for x in out.split()] if rc == 0 else []

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def alive(self):
        if self.proc is not None:
            return self.proc.poll() is None
        return self.pid is not None and pid_alive(self.pid)

    def wait_exit(self, timeout):
        """True once our process is gone (its status in self.returncode for
        dicomfs -f), False if it still runs after timeout seconds."""
        t0 = time.monotonic()
        while self.alive():
            if time.monotonic() - t0 > timeout:
                return False
            time.sleep(0.02)
        if self.proc is not None:
            self.returncode = self.proc.returncode
        return True

    def await_exit(self, after, timeout=None):
        """Wait for our dicomfs to exit after `after` ("unmount", "SIGTERM"),
        bounded by a hang guard (timeout: its base seconds, EXIT_SECONDS).
        The time it took is printed, kept in self.exit_seconds and in EXITS.
        Returns a list of problems: empty once it exited, else one that says
        how long we waited (the caller cleans up: stop())."""
        bound = Bound(timeout or EXIT_SECONDS, self.exe)
        who = f"pid {self.pid}, {os.path.basename(self.mp)}"
        waiting_for(f"dicomfs ({who}) to exit after {after}")
        t0 = time.monotonic()
        try:
            exited = self.wait_exit(bound.seconds)
        finally:
            waiting_for(None)
        took = time.monotonic() - t0
        if not exited:
            return [f"dicomfs ({who}) still running {took:.1f} s after {after} ({bound})"]
        self.exit_seconds = took
        EXITS.append((took, who, after))
        print(f"dicomfs ({who}) exited {took:.1f} s after {after}", flush=True)
        return []

    def unmount(self, timeout=None):
        """fusermount3 -u (retried while busy), then wait for the process to
        exit (await_exit; timeout: the hang guard's base seconds).  Returns
        a list of problems (empty: a clean unmount)."""
        problems = []
        last = ""
        busy = Bound(BUSY_SECONDS, self.exe)
        t0 = time.monotonic()
        while mount_count(self.mp):
            rc, _, err = run(["fusermount3", "-u", self.mp], timeout=scaled(30, self.exe))
            if rc == 0 and mount_count(self.mp) == 0:
                break
            last = err.strip()
            if time.monotonic() - t0 > busy.seconds:
                break
            time.sleep(0.25)
        if mount_count(self.mp):
            problems.append(f"fusermount3 -u {self.mp} failed for {time.monotonic() - t0:.1f} s "
                            f"({busy}): {last}")
        exit_problems = self.await_exit("unmount", timeout)
        problems += exit_problems
        if not exit_problems and self.proc is not None and self.returncode != 0:
            problems.append(f"dicomfs -f exited {self.returncode} after unmount: {self.log().strip()[:300]}")
        self.stop()
        return problems

    def stop(self):
        """Make sure our process is gone and our mount too (force if needed)."""
        if self.alive():
            self.signal(signal.SIGTERM)
            if not self.wait_exit(5):
                self.signal(signal.SIGKILL)
                self.wait_exit(5)
        if mount_count(self.mp):
            run(["fusermount3", "-u", self.mp], timeout=30)
        if mount_count(self.mp):
            run(["fusermount3", "-uz", self.mp], timeout=30)
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if self in Mount.live and not self.alive() and not mount_count(self.mp):
            Mount.live.remove(self)

    def signal(self, sig):
        if self.pid is not None and self.alive():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def kill_hard(self):
        self.signal(signal.SIGKILL)
        run(["fusermount3", "-uz", self.mp], timeout=10)


def cleanup_all():
    for m in list(Mount.live):
        m.stop()


def leftovers(tmp):
    """Problems if any process we started or any mount under tmp remains."""
    problems = []
    for pid in Mount.all_pids:
        if pid_alive(pid):
            problems.append(f"dicomfs pid {pid} still running")
    for m in mounts_under(tmp):
        problems.append(f"still mounted: {m}")
    rc, out, _ = run(["pgrep", "-f", ere_escape(tmp)], timeout=30)
    if rc == 0:
        problems.append(f"processes with {tmp} on their command line: {out.decode().split()}")
    if problems and EXITS:
        problems.append(exit_summary())
    return problems


def run_test(doc, argc, prefix, watchdog_seconds, run_checks, needs=(), tools=()):
    """The frame of a mount test: usage, skips (77) without /dev/fuse, a
    Python module in needs or a program in tools; a temporary folder and a
    watchdog; run_checks(report, tmp); then cleanup, the check that nothing
    is left behind, and the exit status."""
    import shutil
    import sys
    import tempfile
    import traceback
    if len(sys.argv) != argc:
        print(doc.split("\n\n")[-1], file=sys.stderr)
        return 2
    if not os.path.exists("/dev/fuse"):
        print("SKIP: /dev/fuse is missing")
        return 77
    for module in needs:
        try:
            __import__(module)
        except ImportError:
            print(f"SKIP: no {module}")
            return 77
    for tool in tools:
        if shutil.which(tool) is None:
            print(f"SKIP: no {tool}")
            return 77
    report = Report()
    t0 = time.monotonic()
    tmp = os.path.realpath(tempfile.mkdtemp(prefix=prefix))
    start_watchdog(watchdog_seconds, report, tmp)
    try:
        run_checks(report, tmp)
    except Exception:  # noqa: BLE001 - a crash of the test is a failure, reported
        report.check("the test itself ran to the end", [traceback.format_exc()])
    finally:
        cleanup_all()
        report.check("nothing left behind: no dicomfs process started here, no mount",
                     leftovers(tmp))
        if not mounts_under(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"runtime {time.monotonic() - t0:.1f} s")
    return report.finish()


def start_watchdog(seconds, report, tmp):
    """After `seconds`, kill our dicomfs processes, lazily unmount our mounts
    (so that a blocked read returns), report the timeout and exit 1."""

    def fire():
        pending = _pending
        doing = (f"; waiting {time.monotonic() - pending[1]:.1f} s for {pending[0]}"
                 if pending else "")
        exits = f"; {exit_summary()}" if EXITS else ""
        print(f"FAIL watchdog: the test did not finish in {seconds} s "
              f"(a hung mount?){doing}{exits}; killing our dicomfs processes", flush=True)
        for m in list(Mount.live):
            m.kill_hard()
        time.sleep(0.5)
        if tmp and not mounts_under(tmp):
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
        report.failed += 1
        print(report.summary(), flush=True)
        os._exit(1)

    note_watchdog(seconds)
    t = threading.Timer(seconds, fire)
    t.daemon = True
    t.start()
    return t


# --- files ---------------------------------------------------------------------

def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def read_text(path):
    return read_bytes(path).decode("utf-8")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def snapshot(root):
    """{relative path: (kind, details)} of everything under root, not
    following symlinks: regular files with size, mtime and sha256, symlinks
    with their target, folders with their mode."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(full))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", st.st_mode)
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ("file", st.st_size, st.st_mtime_ns, st.st_mode, sha256_file(full))
            else:
                out[rel] = ("other", st.st_mode)
    return out


def diff_snapshots(before, after):
    problems = []
    for rel in sorted(set(before) | set(after)):
        if rel not in after:
            problems.append(f"gone: {rel}")
        elif rel not in before:
            problems.append(f"created: {rel}")
        elif before[rel] != after[rel]:
            problems.append(f"changed: {rel}: {before[rel][:3]} -> {after[rel][:3]}")
    return problems


def read_tsv(path):
    """(header, rows as dicts) of a .tsv file of the mount."""
    text = read_text(path)
    lines = text.split("\n")
    problems = []
    if not text.endswith("\n"):
        problems.append(f"{path}: no final newline")
    lines = [l for l in lines[:-1]] if text.endswith("\n") else lines
    header = lines[0].split("\t") if lines else []
    rows = []
    for n, line in enumerate(lines[1:], 2):
        cells = line.split("\t")
        if len(cells) != len(header):
            problems.append(f"{os.path.basename(path)} line {n}: {len(cells)} cells, header has {len(header)}")
            continue
        rows.append(dict(zip(header, cells)))
    return header, rows, problems


def walk_mount(root, enter=None):
    """Every entry under root: {relative path (bytes): (is_dir, lstat)}, and
    {folder (bytes): [names as listed, in order]}.  Names are bytes, as
    readdir gives them.  enter(name, depth) (None: always) says whether a
    folder met at depth (0 in root) is entered."""
    entries, listings = {}, {}
    stack = [(b"", 0)]
    rootb = os.fsencode(root)
    while stack:
        rel, depth = stack.pop()
        full = os.path.join(rootb, rel) if rel else rootb
        names = []
        with os.scandir(full) as it:
            for de in it:
                names.append(de.name)
                child = os.path.join(rel, de.name) if rel else de.name
                st = os.lstat(os.path.join(rootb, child))
                is_dir = stat.S_ISDIR(st.st_mode)
                entries[child] = (is_dir, st)
                if is_dir and (enter is None or enter(de.name, depth)):
                    stack.append((child, depth + 1))
        listings[rel] = names
    return entries, listings


# --- names ---------------------------------------------------------------------

def is_control(ch):
    c = ord(ch)
    return c < 0x20 or c == 0x7F or 0x80 <= c <= 0x9F


def name_problems(listings, allowed_dot=(b".dicomfs",)):
    """Every name rule of README "Names" that can be checked on any name:
    valid UTF-8, <= 255 bytes, no '/', NUL or control characters, not
    starting with '.', unique among siblings."""
    problems = []
    for folder, names in listings.items():
        where = os.fsdecode(folder) or "."
        for name in names:
            shown = f"{where}/{name!r}"
            try:
                text = name.decode("utf-8")
            except UnicodeDecodeError:
                problems.append(f"not UTF-8: {shown}")
                continue
            if len(name) > 255:
                problems.append(f"{len(name)} bytes: {shown}")
            if b"/" in name or b"\0" in name:
                problems.append(f"'/' or NUL in {shown}")
            if any(is_control(ch) for ch in text):
                problems.append(f"control character in {shown}")
            if name.startswith(b".") and not (folder == b"" and name in allowed_dot):
                problems.append(f"starts with '.': {shown}")
        counts = {}
        for name in names:
            counts[name] = counts.get(name, 0) + 1
        for name, n in counts.items():
            if n > 1:
                problems.append(f"listed {n} times in {where}/: {name.decode('utf-8', 'replace')!r}")
    return problems


# --- dcmdump -------------------------------------------------------------------

DCM_START = re.compile(r"^( *)\(([0-9a-f]{4}),([0-9a-f]{4})\) (\S\S) ")
# The comment dcmdump ends every record with: "# length, VM Name" (Name may
# have spaces: "Unknown Tag & Data"); text values may span lines.
DCM_TAIL = re.compile(r"^(.*)#\s*(u/l|\d+),\s*(\d+) ([^#\n]*)$", re.S)
DCM_TAIL_LINE = re.compile(r"#\s*(u/l|\d+),\s*\d+ [^#\n]*$")
SEQ_DELIMS = (0xFFFEE00D, 0xFFFEE0DD)
ITEM = 0xFFFEE000
PIXEL_DATA = 0x7FE00010


class DumpRec:
    __slots__ = ("path", "tag", "vr", "value", "length", "name", "items")

    def __init__(self, path, tag, vr, value, length, name):
        self.path, self.tag, self.vr, self.value = path, tag, vr, value
        self.length, self.name = length, name
        self.items = 0

    def key(self):
        return self.path + ((self.tag, 0),)


def parse_dcmdump(text):
    """dcmdump output as DumpRecs: path is a tuple of (sequence tag, item
    number from 1) above the element.  Items, delimiters and the fragments of
    encapsulated Pixel Data are left out; a sequence's record counts its
    items."""
    recs = []
    seq_at, item_at, seq_rec = {}, {}, {}
    lines = text.split("\n")
    i = 0
    in_pixel_seq = None
    while i < len(lines):
        line = lines[i]
        m = DCM_START.match(line)
        if not m:
            i += 1
            continue
        j = i
        while not DCM_TAIL_LINE.search(lines[j]):
            j += 1
            if j >= len(lines):
                raise ValueError(f"unterminated dcmdump record: {line[:200]!r}")
        record = "\n".join(lines[i:j + 1])
        i = j + 1
        depth = len(m.group(1)) // 2
        tag = int(m.group(2) + m.group(3), 16)
        vr = m.group(4)
        t = DCM_TAIL.match(record[m.end():])
        raw, length, name = t.group(1), t.group(2), t.group(4)
        if in_pixel_seq is not None:
            if depth > in_pixel_seq:
                continue
            in_pixel_seq = None
        if tag in SEQ_DELIMS:
            continue
        if tag == ITEM:
            parent = seq_rec.get(depth - 1)
            if parent is not None:
                parent.items += 1
                item_at[depth] = parent.items
            continue
        path = tuple((seq_at[d], item_at[d + 1]) for d in range(0, depth, 2))
        raw = raw.rstrip(" ")
        if raw.startswith("["):
            value = raw[1:raw.rindex("]")]
        elif raw == "(no value available)":
            value = ""
        else:
            value = raw
        rec = DumpRec(path, tag, vr, value, None if length == "u/l" else int(length), name)
        if tag == PIXEL_DATA and "PixelSequence" in raw:
            in_pixel_seq = depth
        if vr == "SQ":
            seq_at[depth] = tag
            seq_rec[depth] = rec
        recs.append(rec)
    return recs


def dcmdump_records(path):
    """(records, text from +U8?) of one file: dcmdump +U8 where DCMTK can
    convert the character set, else without it (then the text of the
    character-set VRs must come from pydicom).  (0008,0005) is taken from
    the dump without +U8, which shows it as stored (+U8 relabels it)."""
    rc_raw, out_raw, err_raw = run(["dcmdump", "-q", "-Un", "+L", path])
    if rc_raw != 0:
        raise RuntimeError(f"dcmdump failed ({rc_raw}): {err_raw.strip()[:300]}")
    raw = parse_dcmdump(out_raw.decode("utf-8", "surrogateescape"))
    rc, out, err = run(["dcmdump", "-q", "+U8", "-Un", "+L", path])
    if rc != 0:
        return raw, False
    recs = parse_dcmdump(out.decode("utf-8", "surrogateescape"))
    charset = {r.key(): r for r in raw if r.tag == 0x00080005}
    merged = []
    for r in recs:
        if r.tag == 0x00080005:
            if r.key() in charset:
                merged.append(charset.pop(r.key()))
        else:
            merged.append(r)
    merged.extend(charset.values())
    return merged, True


# --- value comparison --------------------------------------------------------------

TEXT_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM",
            "UC", "UI", "UR", "UT"}
CHARSET_VRS = {"SH", "LO", "ST", "LT", "UT", "PN", "UC"}
SINGLE_VALUED = {"LT", "ST", "UT", "UR"}
BOTH_ENDS = {"AE", "CS", "DS", "IS", "LO", "SH"}
INT_VRS = {"US", "SS", "UL", "SL", "UV", "SV"}
FLOAT_VRS = {"FL": 1e-6, "FD": 1e-12, "OF": 1e-6, "OD": 1e-12}
BINARY_VRS = {"OB": 1, "UN": 1, "OW": 2, "OL": 4, "OV": 8}
CUT = re.compile(r"\.\.\. \((\d+) bytes\)")


def split_values(vr, s):
    if vr in SINGLE_VALUED:
        vals = [s]
    else:
        vals = s.split("\\")
    out = []
    for v in vals:
        v = v.rstrip(" \0")
        if vr in BOTH_ENDS:
            v = v.lstrip(" ")
        out.append(v)
    if out == [""]:
        return []
    return out


def same_number(a, b, rel):
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return x == y or math.isclose(x, y, rel_tol=rel, abs_tol=0.0)


def compare_value(vr, theirs, ours, length=None):
    """None when our attribute text (without its newline) shows the same
    value as dcmdump's (brackets already stripped), else a description."""
    if vr in TEXT_VRS or vr in ("??",):
        t, o = split_values(vr, theirs), split_values(vr, ours)
        if t == o:
            return None
        if vr in ("DS", "IS") and len(t) == len(o) and all(
                same_number(a, b, 1e-12) for a, b in zip(t, o)):
            return None
        return f"{vr} ours {ours!r}, dcmdump {theirs!r}"
    if vr in INT_VRS:
        t, o = split_values(vr, theirs), split_values(vr, ours)
        try:
            if [int(x) for x in t] == [int(x) for x in o]:
                return None
        except ValueError:
            pass
        return f"{vr} ours {ours!r}, dcmdump {theirs!r}"
    if vr in FLOAT_VRS:
        t, o = split_values(vr, theirs), split_values(vr, ours)
        if len(t) == len(o) and all(same_number(a, b, FLOAT_VRS[vr]) for a, b in zip(t, o)):
            return None
        return f"{vr} ours {ours!r}, dcmdump {theirs!r}"
    if vr == "AT":
        if theirs.replace(" ", "").upper() == ours.replace(" ", "").upper():
            return None
        return f"AT ours {ours!r}, dcmdump {theirs!r}"
    if vr in BINARY_VRS:
        t = [x.lower() for x in theirs.split("\\")] if theirs else []
        o = ours.split("\\") if ours else []
        cut = CUT.fullmatch(o[-1]) if o else None
        if cut:
            o = o[:-1]
            if length is not None and int(cut.group(1)) != length:
                return f"{vr} cut says {cut.group(1)} bytes, dcmdump {length}"
            if o != t[:len(o)] or len(o) * BINARY_VRS[vr] < min(256, (length or 0)) - BINARY_VRS[vr]:
                return f"{vr} cut value differs from dcmdump's first values"
            return None
        if [x.lower() for x in o] == t:
            return None
        return f"{vr} ours {ours[:120]!r}, dcmdump {theirs[:120]!r}"
    return None  # SQ and anything else: compared elsewhere


def pydicom_text(elem):
    """An element's value as our attribute text shows it, from pydicom (text
    VRs only)."""
    import pydicom.multival
    v = elem.value
    if v is None:
        return ""
    if isinstance(v, (list, pydicom.multival.MultiValue)):
        return "\\".join("" if x is None else str(x) for x in v)
    if isinstance(v, bytes):
        return v.decode("ascii", "replace")
    return str(v)


def pydicom_element(ds, key):
    """The pydicom element at a DumpRec key ((seq tag, item), ..., (tag, 0))."""
    cur = ds
    if len(key) == 1 and key[0][0] >> 16 == 2:
        cur = ds.file_meta
    for tag, item in key[:-1]:
        cur = cur[tag].value[item - 1]
    return cur[key[-1][0]]


# --- JSON ----------------------------------------------------------------------

BULK_TAGS = {0x7FE00010, 0x7FE00008, 0x7FE00009, 0x54001010, 0x54000100}


def is_bulk_tag(tag):
    return tag in BULK_TAGS or (tag & 0xFF00FFFF) == 0x60003000


def json_compare(ours, theirs, where="", problems=None, charset_raw=None, oracle="dcm2json"):
    """Compare two DICOM JSON objects semantically; returns problems.
    Group lengths are left out on both sides; bulk data (Pixel Data, ...)
    only by VR, ours must then be a BulkDataURI.  (0008,0005) is compared
    with charset_raw (the stored value) when given, since dcm2json relabels
    it after converting to UTF-8."""
    if problems is None:
        problems = []

    def keys(d):
        return {k.upper(): v for k, v in d.items() if int(k, 16) & 0xFFFF != 0}

    o, t = keys(ours), keys(theirs)
    for k in sorted(set(o) | set(t)):
        here = f"{where}{k}"
        if k not in o:
            problems.append(f"{here}: missing in ours ({oracle} has {str(t[k])[:80]})")
            continue
        if k not in t:
            problems.append(f"{here}: only in ours: {str(o[k])[:80]}")
            continue
        oe, te = o[k], t[k]
        tag = int(k, 16)
        ovr, tvr = oe.get("vr"), te.get("vr")
        if is_bulk_tag(tag):
            if ovr != tvr and not ({ovr, tvr} <= {"OB", "OW"}):
                problems.append(f"{here}: vr {ovr} vs {oracle} {tvr}")
            if "BulkDataURI" not in oe and "InlineBinary" not in oe:
                problems.append(f"{here}: bulk data neither BulkDataURI nor InlineBinary")
            continue
        if ovr != tvr:
            problems.append(f"{here}: vr {ovr} vs {oracle} {tvr}")
            continue
        if "BulkDataURI" in oe:
            problems.append(f"{here}: BulkDataURI for a non-bulk element")
            continue
        if tag == 0x00080005 and charset_raw is not None:
            ov = oe.get("Value") or []
            if [(x or "").strip() for x in ov] != [(x or "").strip() for x in charset_raw]:
                problems.append(f"{here}: SpecificCharacterSet {ov} vs stored {charset_raw}")
            continue
        if "InlineBinary" in oe or "InlineBinary" in te:
            ob = base64.b64decode(oe.get("InlineBinary", "")) if "InlineBinary" in oe else None
            tb = base64.b64decode(te.get("InlineBinary", "")) if "InlineBinary" in te else None
            if ob is None and tb == b"" or tb is None and ob == b"":
                continue
            if ob != tb:
                problems.append(f"{here}: InlineBinary differs ({None if ob is None else len(ob)} "
                                f"vs {None if tb is None else len(tb)} bytes)")
            continue
        ov, tv = oe.get("Value") or [], te.get("Value") or []
        if ovr == "SQ":
            if len(ov) != len(tv):
                problems.append(f"{here}: {len(ov)} items vs {oracle} {len(tv)}")
                continue
            for n, (oi, ti) in enumerate(zip(ov, tv), 1):
                json_compare(oi or {}, ti or {}, f"{here}[{n}].", problems, None, oracle)
            continue
        if len(ov) != len(tv):
            problems.append(f"{here}: {len(ov)} values {str(ov)[:80]} vs {oracle} {str(tv)[:80]}")
            continue
        for a, b in zip(ov, tv):
            bad = json_value_differs(ovr, a, b)
            if bad:
                problems.append(f"{here}: {bad}")
                break
    return problems


def json_value_differs(vr, a, b):
    if vr == "PN":
        def comps(x):
            if x is None:
                return {}
            if isinstance(x, str):
                return {"Alphabetic": x} if x else {}
            return {k: v for k, v in x.items() if v not in (None, "")}
        if comps(a) != comps(b):
            return f"PN {a!r} vs {b!r}"
        return None
    if vr in ("IS", "DS") or vr in INT_VRS or vr in FLOAT_VRS:
        if a is None or b is None or a == "" or b == "":
            return None if (a in (None, "")) == (b in (None, "")) else f"{a!r} vs {b!r}"
        rel = FLOAT_VRS.get(vr, 1e-12 if vr == "DS" else 0.0)
        if same_number(a, b, rel):
            return None
        return f"{vr} {a!r} vs {b!r}"
    if vr == "AT":
        return None if str(a).upper() == str(b).upper() else f"AT {a!r} vs {b!r}"
    sa = "" if a is None else str(a)
    sb = "" if b is None else str(b)
    sa, sb = sa.rstrip(" \0"), sb.rstrip(" \0")
    if vr in BOTH_ENDS:
        sa, sb = sa.lstrip(" "), sb.lstrip(" ")
    return None if sa == sb else f"{vr} {a!r} vs {b!r}"


def has_file_meta(path):
    with open(path, "rb") as f:
        return f.read(132)[128:132] == b"DICM"
