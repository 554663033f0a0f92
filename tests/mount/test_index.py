#!/usr/bin/python3
"""The persistent index (issue 5): a remount reads no unchanged file, a
changed file is read again, a deleted file disappears, a damaged index is
rebuilt, -o noindex reads everything, and the default index lives under
$XDG_CACHE_HOME, never beside the source.

The truth is the archive itself (scripts/make-archive.py) and the status
file's own counts compared across mounts.

usage: test_index.py DICOMFS SOURCE_ROOT
"""
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402  (its time bounds: hang guards, scaled)

RESULTS = []


def check(name, ok, detail=""):
    RESULTS.append(ok)
    print(("PASS " if ok else "FAIL ") + name + (f" ({detail})" if detail else ""))


def status(mnt):
    out = {}
    with open(os.path.join(mnt, ".dicomfs", "status")) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition(": ")
            out[key] = value
    return out


def instances(mnt):
    with open(os.path.join(mnt, ".dicomfs", "instances.tsv")) as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    return {r[5]: r[0] for r in rows}  # source path -> path in the mount


def mounted(mnt):
    with open("/proc/mounts") as f:
        return any(line.split()[1] == mnt for line in f)


class Mount:
    def __init__(self, exe, source, mnt, *opts, env=None):
        self.mnt, self.exe = mnt, exe
        self.exit_seconds = None
        # -o wait: the command returns once the scan is done (checked below
        # through the status file's "scan: done").  The wait is a hang guard
        # (mountlib's Bound: generous, scaled under sanitizers).
        args = [exe, "-o", "wait", *opts, source, mnt]
        self.pattern = ml.ere_escape(" ".join(args))
        bound = ml.Bound(ml.MOUNT_SECONDS, exe)
        t0 = time.monotonic()
        try:
            r = subprocess.run(args, capture_output=True, text=True, timeout=bound.seconds, env=env)
        except subprocess.TimeoutExpired:
            self.kill(self.daemon_pids())
            raise RuntimeError(f"{args}: not returned after {time.monotonic() - t0:.1f} s ({bound})")
        self.pids = self.daemon_pids()
        if r.returncode != 0:
            self.kill(self.pids)
            raise RuntimeError(f"{args}: exit {r.returncode}: {r.stderr.strip()}")

    def daemon_pids(self):
        """The pids of exactly our daemon (its whole command line)."""
        r = subprocess.run(["pgrep", "-f", "-x", self.pattern], capture_output=True)
        return [int(x) for x in r.stdout.split()] if r.returncode == 0 else []

    def kill(self, pids):
        """Cleanup after a failure: SIGTERM, then SIGKILL, to our daemon
        only, and a lazy unmount of our mount point."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in pids:
                if ml.pid_alive(pid):
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        pass
            t0 = time.monotonic()
            while any(ml.pid_alive(p) for p in pids) and time.monotonic() - t0 < 5:
                time.sleep(0.05)
        if mounted(self.mnt):
            subprocess.run(["fusermount3", "-uz", self.mnt], capture_output=True)

    def close(self):
        """Unmount (retried while busy), then wait for exactly our daemon to
        exit; both waits are hang guards (mountlib's Bound).  Returns a list
        of problems, each with the time waited; the exit's time is printed
        and kept in self.exit_seconds."""
        problems = []
        busy = ml.Bound(ml.BUSY_SECONDS, self.exe)
        t0 = time.monotonic()
        while mounted(self.mnt):
            subprocess.run(["fusermount3", "-u", self.mnt], capture_output=True)
            if not mounted(self.mnt):
                break
            if time.monotonic() - t0 > busy.seconds:
                problems.append(f"still mounted {time.monotonic() - t0:.1f} s after the first "
                                f"fusermount3 -u ({busy})")
                break
            time.sleep(0.1)
        # The daemon exits on unmount; wait for exactly ours.
        bound = ml.Bound(ml.EXIT_SECONDS, self.exe)
        who = f"pid {' '.join(map(str, self.pids)) or '?'}, {os.path.basename(self.mnt)}"
        t0 = time.monotonic()
        while (any(ml.pid_alive(p) for p in self.pids) if self.pids else self.daemon_pids()):
            if time.monotonic() - t0 > bound.seconds:
                problems.append(f"dicomfs ({who}) still running {time.monotonic() - t0:.1f} s "
                                f"after unmount ({bound}); SIGTERM, SIGKILL")
                self.kill(self.pids or self.daemon_pids())
                return problems
            time.sleep(0.02 if self.pids else 0.1)
        self.exit_seconds = time.monotonic() - t0
        ml.EXITS.append((self.exit_seconds, who, "unmount"))
        print(f"dicomfs ({who}) exited {self.exit_seconds:.1f} s after unmount", flush=True)
        if mounted(self.mnt):
            self.kill([])
        return problems


def tables_sized(mnt):
    """Every .dicomfs table's size against its content (sizes a mapped image
    keeps, checked against the rows it reads)."""
    bad = []
    meta = os.path.join(mnt, ".dicomfs")
    for name in sorted(os.listdir(meta)):
        if name.endswith(".tsv"):
            path = os.path.join(meta, name)
            with open(path, "rb") as f:
                data = f.read()
            if os.stat(path).st_size != len(data):
                bad.append(f"{name}: size {os.stat(path).st_size}, content {len(data)}")
    return bad


def session(exe, source, mnt, *opts, env=None):
    m = Mount(exe, source, mnt, *opts, env=env)
    try:
        bad = tables_sized(mnt)
        check("every table's size is its content's", not bad, "; ".join(bad))
        return status(mnt), instances(mnt)
    finally:
        problems = m.close()
        if mounted(mnt):
            problems.append("still mounted")
        check("daemon gone and mount gone after unmount", not problems,
              "; ".join(problems) if problems else f"exited {m.exit_seconds:.1f} s after unmount")


def main():
    exe, root = sys.argv[1], sys.argv[2]
    if not os.path.exists("/dev/fuse"):
        print("no /dev/fuse: skipped")
        sys.exit(77)
    with tempfile.TemporaryDirectory(prefix="dicomfs-index-test.") as tmp:
        subprocess.run(["/usr/bin/python3", os.path.join(root, "scripts", "make-archive.py"),
                        os.path.join(tmp, "arch"), "--preset", "test"], check=True,
                       capture_output=True)
        source = os.path.join(tmp, "arch", "source")
        mnt = os.path.join(tmp, "mnt")
        os.mkdir(mnt)
        index = os.path.join(tmp, "cache", "index.sqlite")
        opt = ["-o", f"index={index}"]

        st1, inst1 = session(exe, source, mnt, *opt)
        check("-o wait: the command returns with the scan done", st1.get("scan") == "done",
              st1.get("scan"))
        seen = int(st1["files seen"])
        check("first mount reads every file", int(st1["files read"]) == seen,
              f"{st1['files read']} of {seen}")
        check("first mount creates the index", st1["index"].endswith("(new)") and os.path.exists(index))

        st2, inst2 = session(exe, source, mnt, *opt)
        check("remount reads no unchanged file", st2["files read"] == "0", st2["files read"])
        check("remount: the same instances in the same places", inst1 == inst2)
        check("remount reuses the index", st2["index"].endswith("(reused)"), st2["index"])
        image = index + ".image"
        check("the first mount loads no rows (there were none) and writes an image",
              st1["index at mount"] == "rows loaded, 0 rows read before the first listing" and
              os.path.exists(image), st1["index at mount"])
        check("remount maps the image: no row of the index is read before the first listing",
              st2["index at mount"] == "image mapped, 0 rows read before the first listing",
              st2["index at mount"])
        old_image = os.path.join(tmp, "old.image")
        shutil.copy(image, old_image)

        changed = sorted(inst1)[0]
        path = os.path.join(source, changed)
        t = os.stat(path).st_mtime + 10
        os.utime(path, (t, t))
        st3, inst3 = session(exe, source, mnt, *opt)
        check("a changed file (mtime) is read again, and only it", st3["files read"] == "1",
              st3["files read"])
        check("the changed file is still in the tree", changed in inst3)

        check("a change found by the check loads the index's rows",
              st3["index at mount"] == "image mapped, 0 rows read before the first listing" and
              st3["index"].endswith("(reused)"), st3["index at mount"])

        gone = sorted(inst1)[-1]
        os.unlink(os.path.join(source, gone))
        st4, inst4 = session(exe, source, mnt, *opt)
        check("a deleted file disappears", gone not in inst4 and len(inst4) == len(inst1) - 1)
        check("deleting reads nothing", st4["files read"] == "0", st4["files read"])
        st4a, inst4a = session(exe, source, mnt, *opt)
        check("after a deletion the next image maps and shows the same tree",
              inst4a == inst4 and st4a["files read"] == "0" and
              st4a["index at mount"].startswith("image mapped"), st4a["index at mount"])

        # An image of an older version of the index is never used.
        shutil.copy(old_image, image)
        st4b, inst4b = session(exe, source, mnt, *opt)
        check("an image of an older version of the index is not used",
              st4b["index at mount"].startswith("rows loaded") and inst4b == inst4 and
              st4b["files read"] == "0", st4b["index at mount"])
        # Nor one whose header is damaged.
        with open(image, "r+b") as f:
            f.write(b"\xa5" * 64)
        st4c, inst4c = session(exe, source, mnt, *opt)
        check("a damaged image is not used", st4c["index at mount"].startswith("rows loaded") and
              inst4c == inst4 and st4c["files read"] == "0", st4c["index at mount"])

        with open(index, "wb") as f:
            f.write(b"this is not an SQLite database" * 100)
        st5, inst5 = session(exe, source, mnt, *opt)
        check("a damaged index is rebuilt, not trusted", st5["index"].endswith("(rebuilt)") and
              int(st5["files read"]) == int(st5["files seen"]), st5["index"])
        check("after the rebuild the tree is the same", inst5 == inst4)

        # Damage past the first pages (the schema and meta table intact).  The
        # image is enough to show an unchanged source: the damaged rows are
        # not even read, which proves a remount needs none of them ...
        size = os.path.getsize(index)
        with open(index, "r+b") as f:
            f.seek(3 * 4096)
            f.write(b"\xa5" * max(0, size - 3 * 4096))
        st5z, inst5z = session(exe, source, mnt, *opt)
        check("an unchanged source is shown from the image alone (the rows are not read)",
              st5z["index at mount"].startswith("image mapped") and st5z["files read"] == "0"
              and inst5z == inst4, f"{st5z['index at mount']}, {st5z['files read']} read")
        # ... and a change loads them: the load fails part way, and nothing
        # it said is trusted.
        path = os.path.join(source, changed)
        t = os.stat(path).st_mtime + 10
        os.utime(path, (t, t))
        st5a, inst5a = session(exe, source, mnt, *opt)
        check("an index damaged past its first pages is rebuilt, not trusted",
              st5a["index"].endswith("(rebuilt)") and
              int(st5a["files read"]) == int(st5a["files seen"]) and inst5a == inst4,
              f"{st5a['index']}, {st5a['files read']} of {st5a['files seen']} read")

        # An index of another schema version (a valid SQLite file) is foreign.
        os.unlink(index)
        for suffix in ("-wal", "-shm"):
            if os.path.exists(index + suffix):
                os.unlink(index + suffix)
        db = sqlite3.connect(index)
        db.execute("CREATE TABLE meta(schema TEXT, source TEXT)")
        db.execute("INSERT INTO meta VALUES('dicomfs-index-0', ?)", (os.path.realpath(source),))
        db.commit()
        db.close()
        st5b, inst5b = session(exe, source, mnt, *opt)
        check("an index of another schema version is rebuilt", st5b["index"].endswith("(rebuilt)")
              and int(st5b["files read"]) == int(st5b["files seen"]) and inst5b == inst4,
              st5b["index"])

        st6, _ = session(exe, source, mnt, "-o", "noindex")
        check("-o noindex reads every file and keeps no index", st6["index"] == "off" and
              int(st6["files read"]) == int(st6["files seen"]))

        cache = os.path.join(tmp, "xdg-cache")
        env = dict(os.environ, XDG_CACHE_HOME=cache)
        before = sorted(os.listdir(os.path.join(tmp, "arch")))
        st7, _ = session(exe, source, mnt, env=env)
        made = [f for f in os.listdir(os.path.join(cache, "dicomfs"))] if os.path.isdir(
            os.path.join(cache, "dicomfs")) else []
        check("the default index is under $XDG_CACHE_HOME/dicomfs (the store and its image)",
              len(made) == 2 and {os.path.splitext(f)[1] for f in made} == {".sqlite", ".image"} and
              st7["index"].startswith(os.path.join(cache, "dicomfs")), st7["index"])
        check("nothing is stored beside the source", sorted(os.listdir(os.path.join(tmp, "arch"))) == before)

    failed = RESULTS.count(False)
    print(f"{len(RESULTS) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
