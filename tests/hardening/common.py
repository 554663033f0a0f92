"""Shared parts of the hardening tests (test_adversarial.py, test_security.py,
test_load.py), over tests/mount/mountlib.py: the scaffold of a test run
(skip without /dev/fuse, watchdog, cleanup, the closing counts), waiting for
the scan, a snapshot that copes with paths past PATH_MAX, the daemon's peak
memory, and running code as an unprivileged user.

Time bounds are mountlib's hang guards (Bound, scaled under sanitizers or by
DICOMFS_TEST_TIME_SCALE, cut before the watchdog), re-exported here.

Only /usr/bin/python3 (Debian's, with pydicom 2.3.1) runs these scripts.
"""

import hashlib
import json
import os
import shutil
import stat
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "mount"))
import mountlib as ml  # noqa: E402

NOBODY = 65534  # uid and gid of nobody / nogroup on Debian
SCAN_SECONDS = 150  # base of the hang guard on a scan (scaled: ml.Bound)

Bound, scaled, time_scale = ml.Bound, ml.scaled, ml.time_scale


def wait_scan_done(mnt, timeout=SCAN_SECONDS):
    """Wait until .dicomfs/status says `scan: done`, bounded by a hang guard
    of `timeout` base seconds (ml.Bound: scaled, cut before the watchdog).
    Returns the status text, or None on timeout; scan_wait_problem() then
    says how long it waited."""
    global _last_scan_wait
    bound = ml.Bound(timeout)
    ml.waiting_for(f"the scan of {mnt} to be done")
    t0 = time.monotonic()
    try:
        while True:
            try:
                text = ml.read_text(os.path.join(mnt, ".dicomfs", "status"))
            except OSError:
                text = ""
            if "scan: done" in text.split("\n"):
                return text
            if time.monotonic() - t0 > bound.seconds:
                _last_scan_wait = f"scan not done after {time.monotonic() - t0:.1f} s ({bound})"
                return None
            time.sleep(0.1)
    finally:
        ml.waiting_for(None)


_last_scan_wait = "scan not done"


def scan_wait_problem():
    """What the last wait_scan_done that timed out saw, with the time waited."""
    return _last_scan_wait


def snapshot(root):
    """mountlib.snapshot's {relative path: details}, walked one folder
    descriptor at a time (paths past PATH_MAX are fine), devices with their
    numbers."""
    out = {}

    def walk(fd, rel):
        for de in os.scandir(fd):
            name = de.name
            r = os.path.join(rel, name) if rel else name
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                out[r] = ("link", os.readlink(name, dir_fd=fd))
            elif stat.S_ISDIR(st.st_mode):
                out[r] = ("dir", st.st_mode)
                sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                try:
                    walk(sub, r)
                finally:
                    os.close(sub)
            elif stat.S_ISREG(st.st_mode):
                h = hashlib.sha256()
                ffd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
                with os.fdopen(ffd, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
                out[r] = ("file", st.st_size, st.st_mtime_ns, st.st_mode, h.hexdigest(),
                          st.st_uid, st.st_gid)
            else:
                out[r] = ("other", st.st_mode, st.st_rdev)

    top = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        walk(top, "")
    finally:
        os.close(top)
    return out


def generate(report, repo, script, out, *args, timeout=300):
    """Run scripts/SCRIPT OUT ARGS... (one check line, with the time taken
    and the script's last line); OUT/truth.json as JSON, or None."""
    t0 = time.monotonic()
    rc, stdout, err = ml.run([sys.executable, os.path.join(repo, "scripts", script), out]
                             + list(args), timeout=timeout)
    truth = os.path.join(out, "truth.json")
    ok = rc == 0 and os.path.isfile(truth)
    last = (stdout.decode("utf-8", "replace").strip().split("\n") or [""])[-1]
    report.check(f"setup: {script} {' '.join(args)}".strip(),
                 [] if ok else [f"exit {rc}: {err.strip()[-500:]}"],
                 f"{last}; {time.monotonic() - t0:.1f} s".lstrip("; "))
    if not ok:
        return None
    with open(truth, encoding="utf-8") as f:
        return json.load(f)


def vm_hwm(pid):
    """The peak resident memory of pid in KiB (VmHWM), or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, TypeError):
        pass
    return None


def as_user(code, arg, uid=NOBODY, timeout=120):
    """Run Python code as uid (and its group, no others) through setpriv, or
    as ourselves for uid None, with json-encoded arg as sys.argv[1]; returns
    (exit status, json of its stdout or None, stderr)."""
    drop = [] if uid is None else ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    rc, out, err = ml.run(drop + ["/usr/bin/python3", "-I", "-c", code, json.dumps(arg)],
                          timeout=timeout, cwd="/")
    try:
        return rc, json.loads(out), err
    except ValueError:
        return rc, None, err + out.decode("utf-8", "replace")[-500:]


def remove_tree(tmp):
    """rmtree, first giving folders of mode 000 their bits back; rm -rf for
    what Python cannot reach (paths past PATH_MAX)."""
    for root, dirs, _ in os.walk(tmp):
        for d in dirs:
            p = os.path.join(root, d)
            try:
                if not os.path.islink(p):
                    os.chmod(p, 0o755)
            except OSError:
                pass
    shutil.rmtree(tmp, ignore_errors=True)
    if os.path.exists(tmp):
        ml.run(["rm", "-rf", "--one-file-system", tmp], timeout=120)


def run_main(doc, prefix, watchdog_seconds, body, nargs=2):
    """The scaffold of a test script: `SCRIPT DICOMFS SOURCE_ROOT`; skip (77)
    without /dev/fuse; a temporary folder; a watchdog; body(report, exe,
    repo, tmp); then cleanup, a check that nothing is left behind, and the
    closing counts.  nargs: how many arguments (or a tuple of the counts
    allowed).  Returns the exit status."""
    if len(sys.argv) - 1 not in (nargs if isinstance(nargs, tuple) else (nargs,)):
        print(doc, file=sys.stderr)
        return 2
    if not os.path.exists("/dev/fuse"):
        print("SKIP: /dev/fuse is missing")
        return 77
    exe, repo = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    ml.set_exe(exe)
    report = ml.Report()
    t0 = time.monotonic()
    tmp = os.path.realpath(tempfile.mkdtemp(prefix=prefix))
    ml.start_watchdog(watchdog_seconds, report, tmp)
    try:
        body(report, exe, repo, tmp)
    except Exception:  # noqa: BLE001 - a crash of the test is a failure, reported
        report.check("the test itself ran to the end", [traceback.format_exc()])
    finally:
        ml.cleanup_all()
        report.check("nothing left behind: no dicomfs process started here, no mount",
                     ml.leftovers(tmp))
        if not ml.mounts_under(tmp):
            remove_tree(tmp)
    print(f"runtime {time.monotonic() - t0:.1f} s")
    return report.finish()
