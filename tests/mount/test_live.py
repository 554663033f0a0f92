#!/usr/bin/python3
"""A mount that follows its source (issue 14): files and folders added,
changed, removed and renamed under SOURCE while it is mounted show in the
tree, names stay, the kernel's caches are told, the persistent index keeps
up; the rescan mode and the fallback when the inotify watch limit is
reached.

Every source file is made here with pydicom (CT_small.dcm with UIDs,
numbers and names of our own), so the truth is known: a file is "visible"
once its instance folder is listed where README "Names" puts it and its
tags/SOPInstanceUID holds the UID written; changed values are checked
against dcmdump of the source file; at the end of each mount,
instances.tsv against pydicom's reading of every file left in SOURCE.

No time bound is asserted: a change is waited for (polled) for up to
CHANGE_SECONDS (scaled under sanitizers), and the time it took is printed.

  mount 1 (inotify, -o index=TMP/live.sqlite): the status lines; the
    watches (/proc/PID/fdinfo) are SOURCE's folders; the cost of a change
    (a file added to a series none of whose headers was read: the daemon
    opens no other source file, seen with inotify IN_OPEN on SOURCE); files
    added (a new instance; a new patient, study and series), changed (in
    place, and by a temporary name renamed over it: tags/ show the new
    value, the folder keeps its name, even when InstanceNumber changed),
    deleted (a file, a whole folder), renamed (a file, a folder); a file
    written slowly in pieces (never visible before its close), the same in
    a folder just made (as cp -r does), one written and held open (visible
    once its size settled); a temporary name renamed into place (rsync's
    way); a folder moved out of SOURCE (gone) and back (the same names);
    names stable while others arrive (nine instances, then a tenth: `10`
    beside `1`..`9`; then a colliding one: `5 (2)`, `5` unchanged; then
    the series' source folder renamed: the same names); errors.tsv: a file
    garbage when first written, then replaced by a DICOM file, and one
    first cut short, leave no stale line; the kernel's caches (ls before
    and after an addition, stat of a removed folder,
    volume/conversion.txt before and after an addition); no whole-source
    walk; the watches follow the folders made and removed;
  remount with the same index: nothing read, the image mapped; the first
    change (the index builder loaded then) opens no source file but the
    new one, and a removal right after shows; the same tree and names
    (`10` beside unpadded `1`..`9`); changes made while unmounted: only
    they are read, the other names kept;
  mount 2 (-o nowatch,rescan=2): no watch, a rescan every 2 s finds a
    new file and a deleted one; -o nowatch alone: not followed;
  mount 3 (as root): fs.inotify.max_user_watches lowered below what the
    source needs (restored at once, and in a finally block): the status
    says the limit was reached, and a file added to an unwatched folder
    shows after a rescan (-o rescan=2).

usage: test_live.py DICOMFS SOURCE_ROOT
"""
import errno
import io
import os
import re
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402

WATCHDOG_SECONDS = 280
CHANGE_SECONDS = 15       # a change waited for (hang guard, scaled)
RESCAN_SECONDS = 20       # a change found by a 2 s rescan, waited for
CT_SMALL = "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm"
MAX_WATCHES = "/proc/sys/fs/inotify/max_user_watches"
CHANGES_HANDLED = re.compile(r"^(\d+) \((\d+) updates, (\d+) headers read, "
                             r"(\d+) whole-source walks\)$")
LAST_CHANGE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d|none since the mount)$")


# --- the files -----------------------------------------------------------------

class Spec:
    """One source file's identity: where it goes in the tree (README "Names")."""

    def __init__(self, pid, pname, study_desc, series_no, series_desc, inst, sop,
                 study_uid, series_uid, comment=None, z=None):
        self.pid, self.pname, self.study_desc = pid, pname, study_desc
        self.series_no, self.series_desc, self.inst, self.sop = series_no, series_desc, inst, sop
        self.study_uid, self.series_uid = study_uid, series_uid
        self.comment = comment
        self.z = inst if z is None else z

    def series_path(self):
        return os.path.join(f"{self.pname} [{self.pid}]", f"2024-01-02 {self.study_desc}",
                            f"{self.series_no} CT {self.series_desc}")

    def patient_path(self):
        return f"{self.pname} [{self.pid}]"

    def data(self):
        import pydicom
        ds = pydicom.dcmread(CT_SMALL)
        ds.PatientID, ds.PatientName = self.pid, self.pname
        ds.StudyInstanceUID, ds.SeriesInstanceUID = self.study_uid, self.series_uid
        ds.StudyDate, ds.StudyDescription = "20240102", self.study_desc
        ds.SeriesNumber, ds.SeriesDescription, ds.Modality = self.series_no, self.series_desc, "CT"
        ds.InstanceNumber = self.inst
        ds.SOPInstanceUID = self.sop
        ds.file_meta.MediaStorageSOPInstanceUID = self.sop
        ds.ImagePositionPatient = [0, 0, float(self.z)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        if self.comment is not None:
            ds.ImageComments = self.comment
        out = io.BytesIO()
        ds.save_as(out, write_like_original=False)
        return out.getvalue()


def series_of(n, pid, pname, desc, series_no=1, series_desc="S", uid_base=None):
    """A factory of Specs of one series of patient pid."""
    base = uid_base or f"2.25.{n}"

    def make(inst, sop=None, **kw):
        return Spec(pid, pname, desc, series_no, series_desc, inst,
                    sop or f"{base}.3.{inst}", f"{base}.1", f"{base}.2", **kw)
    return make


def write_file(path, data):
    """Created (or truncated) in place, written, closed."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def write_renamed(path, data, tmpname=None):
    """rsync's way: a temporary name in the same folder, then a rename."""
    tmp = os.path.join(os.path.dirname(path),
                       tmpname or f".{os.path.basename(path)}.Xy7Qz1")
    write_file(tmp, data)
    os.rename(tmp, path)
    return tmp


def read_or_none(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return None


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def stat_errno(path):
    try:
        os.stat(path)
        return None
    except OSError as e:
        return e.errno


def dcmdump_value(path, keyword):
    """The value dcmdump shows for a top-level keyword of a source file."""
    rc, out, err = ml.run(["dcmdump", "-q", "+P", keyword, path])
    if rc != 0:
        return None
    m = re.search(r"\[(.*)\]", out.decode("utf-8", "replace"))
    return m.group(1) if m else out.decode().strip()


def truth_of(source):
    """{SourcePath: SOPInstanceUID} of every DICOM file under source (pydicom)."""
    import pydicom
    out = {}
    for dirpath, dirnames, filenames in os.walk(source):
        for f in filenames:
            full = os.path.join(dirpath, f)
            try:
                ds = pydicom.dcmread(full, stop_before_pixels=True)
                out[os.path.relpath(full, source)] = str(ds.SOPInstanceUID)
            except Exception:  # noqa: BLE001 - not DICOM: errors.tsv's
                out[os.path.relpath(full, source)] = None
    return out


def folders_of(source):
    out = [source]
    for dirpath, dirnames, _ in os.walk(source):
        out += [os.path.join(dirpath, d) for d in dirnames]
    return out


def inotify_inodes(pid):
    """The inodes watched by every inotify instance of process pid
    ('inotify wd:N ino:HEX sdev:HEX ...' lines of /proc/PID/fdinfo)."""
    inodes = []
    fd_dir = f"/proc/{pid}/fd"
    try:
        fds = os.listdir(fd_dir)
    except OSError:
        return inodes
    for fd in fds:
        try:
            if os.readlink(os.path.join(fd_dir, fd)) != "anon_inode:inotify":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    m = re.match(r"inotify wd:\S+ ino:([0-9a-f]+) ", line)
                    if m:
                        inodes.append(int(m.group(1), 16))
        except OSError:
            continue
    return inodes


def root_watches_in_use():
    """inotify watches held by processes of uid 0 (the user the limit is
    counted for here)."""
    n = 0
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/status") as f:
                uid = next((l.split()[1] for l in f if l.startswith("Uid:")), None)
        except OSError:
            continue
        if uid == "0":
            n += len(inotify_inodes(int(p)))
    return n


class OpenWatcher:
    """inotify IN_OPEN on folders (not recursive: each folder given): the
    source files opened, by anyone, while it is open (relative paths)."""
    IN_OPEN = 0x20
    IN_NONBLOCK = 0o4000

    def __init__(self, folders):
        import ctypes
        import ctypes.util
        self.libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self.fd = self.libc.inotify_init1(self.IN_NONBLOCK)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.root = os.path.commonpath(folders)
        self.wds = {}
        for f in folders:
            wd = self.libc.inotify_add_watch(self.fd, os.fsencode(f), self.IN_OPEN)
            if wd < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch {f}")
            self.wds[wd] = f
        self.seen = set()

    def opened(self):
        import struct
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            at = 0
            while at + 16 <= len(data):
                wd, mask, _cookie, n = struct.unpack_from("iIII", data, at)
                name = data[at + 16:at + 16 + n].rstrip(b"\0").decode("utf-8", "replace")
                at += 16 + n
                if name and wd in self.wds:
                    self.seen.add(os.path.relpath(os.path.join(self.wds[wd], name), self.root))
        return set(self.seen)

    def close(self):
        os.close(self.fd)


# --- the mount -------------------------------------------------------------------

class LiveTest:
    def __init__(self, report, exe, tmp):
        self.report, self.exe, self.tmp = report, exe, tmp
        self.src = os.path.join(tmp, "source")
        self.mnt = os.path.join(tmp, "mnt")
        self.index = os.path.join(tmp, "live.sqlite")
        self.m = None
        self.waits = []  # (what, seconds) of every change waited for

    def check(self, name, problems, note=""):
        return self.report.check(name, problems, note)

    def mount(self, source=None, mnt=None, args=None):
        m = ml.Mount(self.exe, source or self.src, mnt or self.mnt,
                     args=args if args is not None else ["-o", f"index={self.index}"])
        m.start()
        return m

    def at(self, *parts):
        return os.path.join(self.mnt, *parts)

    def wait(self, what, pred, base=CHANGE_SECONDS):
        """Poll pred() until true; (True, seconds) or (False, seconds)."""
        ok, took = ml.poll(what, pred, ml.Bound(base, self.exe))
        if ok:
            self.waits.append((what, took))
        return ok, took

    def visible(self, spec, name=None, mnt=None):
        """spec's instance folder listed in its series, with its UID."""
        root = mnt or self.mnt
        series = os.path.join(root, spec.series_path())
        name = name or str(spec.inst)
        if name not in os.listdir(series):
            return False
        return read_or_none(os.path.join(series, name, "tags", "SOPInstanceUID")) == spec.sop + "\n"

    def tables(self, mnt=None):
        """(instances.tsv rows, errors.tsv rows) of the mount."""
        root = mnt or self.mnt
        _, inst, p1 = ml.read_tsv(os.path.join(root, ".dicomfs", "instances.tsv"))
        _, errs, p2 = ml.read_tsv(os.path.join(root, ".dicomfs", "errors.tsv"))
        if p1 or p2:
            raise RuntimeError(f"tables: {p1 + p2}")
        return inst, errs

    def by_source(self, mnt=None):
        inst, _ = self.tables(mnt)
        return {r["SourcePath"]: r["path"] for r in inst}

    def status_counts(self, m):
        st = m.status()
        mm = CHANGES_HANDLED.match(st.get("changes handled", ""))
        return st, (tuple(int(x) for x in mm.groups()) if mm else None)

    def consistent(self, label, mnt=None, source=None):
        """instances.tsv against pydicom over SOURCE: every DICOM file once,
        with its UID, at a path that exists; errors.tsv only for files that
        are not DICOM; both without lines for files gone."""
        source = source or self.src
        truth = truth_of(source)
        inst, errs = self.tables(mnt)
        root = mnt or self.mnt
        problems = []
        rows = {}
        for r in inst:
            if r["SourcePath"] in rows:
                problems.append(f"{r['SourcePath']} listed twice in instances.tsv")
            rows[r["SourcePath"]] = r
        for rel, uid in sorted(truth.items()):
            if uid is None:
                continue
            r = rows.get(rel)
            if r is None:
                problems.append(f"{rel} ({uid}) missing from instances.tsv")
            elif r["SOPInstanceUID"] != uid:
                problems.append(f"{rel}: instances.tsv {r['SOPInstanceUID']}, pydicom {uid}")
            elif read_or_none(os.path.join(root, r["path"], "tags", "SOPInstanceUID")) != uid + "\n":
                problems.append(f"{r['path']}/tags/SOPInstanceUID is not {uid}")
        for rel in sorted(set(rows) - {k for k, v in truth.items() if v is not None}):
            problems.append(f"instances.tsv has {rel}, not a DICOM file of SOURCE (stale)")
        for e in errs:
            if truth.get(e["path"], "gone") is not None:
                problems.append(f"errors.tsv: stale line {e['path']}: {e['reason']}")
        n = sum(1 for v in truth.values() if v is not None)
        self.check(f"{label}: instances.tsv is exactly SOURCE's DICOM files (pydicom: UIDs), "
                   f"each at a folder whose tags/SOPInstanceUID is its UID; errors.tsv has no "
                   f"stale line", problems, f"{n} files, {len(errs)} error lines")
        return rows

    # --- mount 1 -------------------------------------------------------------
    def make_source(self):
        self.A = series_of(1001, "P1", "Live^One", "One", series_desc="A")
        self.N = series_of(5000, "P2", "Live^Two", "Two", series_desc="N", uid_base="2.25.5000")
        self.M = series_of(3000, "P3", "Live^Three", "Three", series_desc="M")
        self.G = series_of(4000, "P4", "Live^Four", "Four", series_desc="G")
        self.R = series_of(6000, "P5", "Live^Five", "Five", series_desc="R")
        self.specs = {}
        for i in (1, 2, 3):
            self.put(f"a/{i}.dcm", self.A(i, comment="first version"))
        for i in range(1, 10):
            # UIDs 2.25.5000.3.9<i>: sort after the colliding one's (2.25.5000.3.1...)
            self.put(f"names/{i}.dcm", self.N(i, sop=f"2.25.5000.3.9{i}"))
        for i in (1, 2, 3):
            self.put(f"move/x/{i}.dcm", self.M(i))
        for i in (1, 2):
            self.put(f"gone/{i}.dcm", self.G(i))
            self.put(f"ren/{i}.dcm", self.R(i))
        self.Q = series_of(7300, "P12", "Live^Twelve", "Twelve", series_desc="Q")
        for i in range(1, 6):
            self.put(f"quiet/{i}.dcm", self.Q(i))
        os.makedirs(os.path.join(self.src, "inbox"))

    def put(self, rel, spec, how=write_file):
        self.specs[rel] = spec
        return how(os.path.join(self.src, rel), spec.data())

    def check_start(self, m):
        st, counts = self.status_counts(m)
        folders = folders_of(self.src)
        want = f"followed: kernel events (inotify, {len(folders)} folders watched)"
        problems = []
        if st.get("changes") != want:
            problems.append(f"changes: {st.get('changes')!r}, expected {want!r}")
        if counts != (0, 0, 0, 0):
            problems.append(f"changes handled: {st.get('changes handled')!r}")
        if st.get("last change") != "none since the mount":
            problems.append(f"last change: {st.get('last change')!r}")
        self.check("status at mount: 'changes: followed: kernel events (inotify, N folders "
                   "watched)' with N SOURCE's folders, 'changes handled: 0 (...)', 'last change: "
                   "none since the mount'", problems)
        watched = sorted(inotify_inodes(m.pid))
        inodes = sorted(os.stat(f).st_ino for f in folders)
        self.check("the daemon's inotify watches (/proc/PID/fdinfo) are exactly SOURCE's "
                   "folders", [] if watched == inodes else
                   [f"watched inodes {watched}, SOURCE's folders {inodes}"],
                   f"{len(watched)} watches")
        # before anything reads a header (the daemon's cache would hide what
        # a change makes it read)
        spec = self.Q(6)
        watcher = OpenWatcher(folders_of(self.src))
        try:
            self.put("quiet/6.dcm", spec)
            ok, took = self.wait("a file added to a series", lambda: self.visible(spec))
            time.sleep(1.0)  # what the daemon does after publishing
            opened = watcher.opened()
        finally:
            watcher.close()
        others = sorted(p for p in opened if p != "quiet/6.dcm")
        problems = [] if ok else [f"not visible after {took:.1f} s"]
        if others:
            problems.append(f"the daemon opened the other files of the series: {others}")
        self.check("a file added to a series of 5 (none of whose headers was read yet): "
                   "visible, and the daemon opens no source file but the new one (cost "
                   "proportional to what changed)", problems,
                   f"{took:.2f} s; opened {sorted(opened)}")
        self.consistent("at mount")

    def check_added(self, m):
        spec_dir = self.at(self.A(1).series_path())
        before = subprocess.run(["ls", "-1", spec_dir], capture_output=True, text=True).stdout.split()
        conv_path = os.path.join(spec_dir, "volume", "conversion.txt")
        conv_before = read_or_none(conv_path) or ""
        missing = stat_errno(os.path.join(spec_dir, "4"))  # a lookup that fails first
        spec = self.A(4, comment="first version")
        t0 = time.monotonic()
        self.put("a/4.dcm", spec)
        ok, took = self.wait("a new file in a listed series",
                             lambda: "4" in subprocess.run(["ls", "-1", spec_dir], capture_output=True,
                                                           text=True).stdout.split())
        problems = []
        if before != ["1", "2", "3", "tags", "volume"]:
            problems.append(f"ls before: {before}")
        if missing != errno.ENOENT:
            problems.append(f"stat of 4 before: {missing}")
        if not ok:
            problems.append(f"`ls` of the series (listed before) does not show 4 after {took:.1f} s")
        elif not self.visible(spec):
            problems.append("4 listed, tags/SOPInstanceUID is not its UID")
        self.check("added: a file written into a series folder: `ls` of the series, listed "
                   "before (and 4 looked up, ENOENT), shows 4 with its tags/SOPInstanceUID",
                   problems, f"{time.monotonic() - t0:.2f} s from close to visible")
        ok, took = self.wait("conversion.txt with the new slice",
                             lambda: "a/4.dcm" in (read_or_none(conv_path) or ""))
        conv = read_or_none(conv_path) or ""
        problems = []
        if not conv_before.startswith("3 image(s)") or "a/4.dcm" in conv_before:
            problems.append(f"before: {conv_before[:80]!r}")
        if not ok or not conv.startswith("4 image(s)"):
            problems.append(f"after {took:.1f} s: {conv[:200]!r}")
        self.check("added: cat of the series' volume/conversion.txt before (3 images) and after "
                   "(4 images, a/4.dcm listed): the kernel's cached content was dropped", problems)

        # a new patient, study and series
        new = series_of(7000, "P6", "Live^Six", "Six", series_desc="New")(1)
        root_before = os.listdir(self.mnt)
        self.put("inbox/new1.dcm", new)
        ok, took = self.wait("a new patient", lambda: self.visible(new))
        problems = [] if ok else [f"not visible after {took:.1f} s"]
        if new.patient_path() in root_before:
            problems.append("listed before it was written")
        if ok:
            for level, want in (("PatientName", "Live^Six"), ("PatientID", "P6")):
                got = read_or_none(self.at(new.patient_path(), "tags", level))
                if got != want + "\n":
                    problems.append(f"patient tags/{level}: {got!r}")
            got = read_or_none(self.at(new.series_path(), "tags", "SeriesInstanceUID"))
            if got != new.series_uid + "\n":
                problems.append(f"series tags/SeriesInstanceUID: {got!r}")
        self.check("added: a file of a new patient, study and series (the root listed before): "
                   "patient, study and series folders with their tags/", problems,
                   f"{took:.2f} s")

    def check_changed(self, m):
        A = self.A
        inst_dir = self.at(A(2).series_path(), "2")
        before = read_or_none(os.path.join(inst_dir, "tags", "ImageComments"))
        old_ino = os.stat(inst_dir).st_ino
        spec = A(2, comment="second version")
        self.put("a/2.dcm", spec)  # rewritten in place (truncated, written, closed)
        src = os.path.join(self.src, "a/2.dcm")
        truth = dcmdump_value(src, "ImageComments")
        ok, took = self.wait("a changed value",
                             lambda: read_or_none(os.path.join(inst_dir, "tags", "ImageComments"))
                             == truth + "\n")
        problems = []
        if before != "first version\n":
            problems.append(f"before: {before!r}")
        if truth != "second version":
            problems.append(f"dcmdump of the source: {truth!r}")
        if not ok:
            problems.append(f"tags/ImageComments {read_or_none(os.path.join(inst_dir, 'tags', 'ImageComments'))!r} "
                            f"after {took:.1f} s, dcmdump {truth!r}")
        else:
            if ml.read_bytes(os.path.join(inst_dir, "instance.dcm")) != ml.read_bytes(src):
                problems.append("instance.dcm is not the new file")
            hdr = read_or_none(os.path.join(inst_dir, "header.txt")) or ""
            if "second version" not in hdr or "first version" in hdr:
                problems.append("header.txt still shows the old value")
        self.check("changed in place: tags/ImageComments (read before) shows the new value "
                   "(dcmdump of the source), header.txt and instance.dcm the new file, the "
                   "folder keeps its name 2", problems,
                   f"{took:.2f} s; inode {old_ino} then {os.stat(inst_dir).st_ino if ok else '-'}")

        # a new InstanceNumber: the folder keeps its name
        inst3 = self.at(A(3).series_path(), "3")
        read_or_none(os.path.join(inst3, "tags", "InstanceNumber"))
        spec = A(3, comment="first version")
        spec.inst = 30
        self.specs["a/3.dcm"] = spec
        write_file(os.path.join(self.src, "a/3.dcm"), spec.data())
        truth = dcmdump_value(os.path.join(self.src, "a/3.dcm"), "InstanceNumber")
        ok, took = self.wait("a changed InstanceNumber",
                             lambda: read_or_none(os.path.join(inst3, "tags", "InstanceNumber"))
                             == f"{truth}\n")
        names = sorted(os.listdir(self.at(A(3).series_path())))
        problems = [] if ok else [f"tags/InstanceNumber not {truth!r} after {took:.1f} s"]
        if "30" in names or "3" not in names:
            problems.append(f"series lists {names}")
        self.check("changed: a file's InstanceNumber 3 -> 30 (dcmdump): its folder keeps the "
                   "name 3, tags/InstanceNumber shows 30", problems, f"{took:.2f} s")

        # replaced by a temporary name renamed over it (rsync's update)
        inst1 = self.at(A(1).series_path(), "1")
        read_or_none(os.path.join(inst1, "tags", "ImageComments"))
        spec = A(1, comment="rsynced version")
        tmpname = self.put("a/1.dcm", spec, how=write_renamed)
        ok, took = self.wait("a file replaced by a rename over it",
                             lambda: read_or_none(os.path.join(inst1, "tags", "ImageComments"))
                             == "rsynced version\n")
        problems = [] if ok else [f"tags/ImageComments not updated after {took:.1f} s"]
        rows = self.by_source()
        tmp_rel = os.path.relpath(tmpname, self.src)
        if tmp_rel in rows:
            problems.append(f"the temporary name {tmp_rel} is in instances.tsv")
        if rows.get("a/1.dcm") != os.path.join(A(1).series_path(), "1"):
            problems.append(f"a/1.dcm at {rows.get('a/1.dcm')!r}")
        self.check("changed by a temporary name renamed over the file: the new value, the "
                   "same folder 1, no row for the temporary name", problems, f"{took:.2f} s")

    def check_deleted(self, m):
        series = self.at(self.A(4).series_path())
        inst4 = os.path.join(series, "4")
        os.stat(inst4)
        os.listdir(os.path.join(inst4, "tags"))  # in the kernel's caches
        read_or_none(os.path.join(inst4, "tags", "SOPInstanceUID"))
        os.unlink(os.path.join(self.src, "a/4.dcm"))
        del self.specs["a/4.dcm"]
        ok, took = self.wait("a deleted file gone", lambda: stat_errno(inst4) == errno.ENOENT)
        problems = [] if ok else [f"stat of its folder: {stat_errno(inst4)} after {took:.1f} s"]
        if "4" in os.listdir(series):
            problems.append("still listed")
        err = stat_errno(os.path.join(inst4, "tags", "SOPInstanceUID"))
        if err != errno.ENOENT:
            problems.append(f"its tags/SOPInstanceUID: {err}")
        conv = read_or_none(os.path.join(series, "volume", "conversion.txt")) or ""
        if "a/4.dcm" in conv:
            problems.append("conversion.txt still lists a/4.dcm")
        self.check("deleted: a file's instance folder (stat'ed and listed before): stat ENOENT, "
                   "not listed, gone from volume/conversion.txt", problems, f"{took:.2f} s")

        G = self.G
        pdir = self.at(G(1).patient_path())
        deep = self.at(G(1).series_path(), "1", "tags", "SOPInstanceUID")
        os.stat(pdir)
        read_or_none(deep)
        shutil.rmtree(os.path.join(self.src, "gone"))
        for k in [k for k in self.specs if k.startswith("gone/")]:
            del self.specs[k]
        ok, took = self.wait("a deleted folder gone", lambda: stat_errno(pdir) == errno.ENOENT)
        problems = [] if ok else [f"stat of the patient folder: {stat_errno(pdir)} after {took:.1f} s"]
        if stat_errno(deep) != errno.ENOENT:
            problems.append(f"an attribute file under it: {stat_errno(deep)}")
        pts = read_or_none(self.at(".dicomfs", "patients.tsv")) or ""
        if "Live^Four" in pts:
            problems.append("patients.tsv still has it")
        self.check("deleted: a whole source folder (rm -r): its patient folder, stat'ed before, "
                   "gives ENOENT; patients.tsv drops it", problems, f"{took:.2f} s")

    def check_renamed(self, m):
        os.rename(os.path.join(self.src, "a/1.dcm"), os.path.join(self.src, "a/one.dcm"))
        self.specs["a/one.dcm"] = self.specs.pop("a/1.dcm")
        ok, took = self.wait("a renamed file", lambda: "a/one.dcm" in self.by_source())
        rows = self.by_source()
        problems = [] if ok else [f"a/one.dcm not in instances.tsv after {took:.1f} s"]
        if "a/1.dcm" in rows:
            problems.append("a/1.dcm still in instances.tsv")
        if ok and not self.visible(self.specs["a/one.dcm"]):
            problems.append("its instance folder 1 is missing or has another UID")
        self.check("renamed: a file a/1.dcm -> a/one.dcm: the same instance folder 1, its "
                   "SourcePath the new name, no row for the old one", problems, f"{took:.2f} s")

        before = {k: v for k, v in self.by_source().items() if k.startswith("ren/")}
        os.rename(os.path.join(self.src, "ren"), os.path.join(self.src, "ren2"))
        for k in [k for k in self.specs if k.startswith("ren/")]:
            self.specs["ren2/" + k[4:]] = self.specs.pop(k)
        ok, took = self.wait("a renamed folder",
                             lambda: sorted(k for k in self.by_source() if k.startswith("ren"))
                             == ["ren2/1.dcm", "ren2/2.dcm"])
        after = {k: v for k, v in self.by_source().items() if k.startswith("ren")}
        problems = [] if ok else [f"after {took:.1f} s: {sorted(after)}"]
        if sorted(before.values()) != sorted(after.values()):
            problems.append(f"folders {sorted(before.values())} then {sorted(after.values())}")
        for k, spec in self.specs.items():
            if k.startswith("ren2/") and ok and not self.visible(spec):
                problems.append(f"{k}: not visible")
        self.check("renamed: a folder ren -> ren2: its files under the new SourcePaths, at the "
                   "same instance folders", problems, f"{took:.2f} s")

    def check_slow_write(self, m):
        spec = series_of(7000, "P6", "Live^Six", "Six", series_desc="New")(2)
        data = spec.data()
        path = os.path.join(self.src, "inbox/slow.dcm")
        inst = self.at(spec.series_path(), "2")
        pieces = 25
        step = (len(data) + pieces - 1) // pieces
        seen_early = []
        t0 = time.monotonic()
        with open(path, "wb") as f:
            for k in range(pieces):
                f.write(data[k * step:(k + 1) * step])
                f.flush()
                time.sleep(0.1)
                # the tree must not show it, nor errors.tsv complain of it
                if exists(inst):
                    seen_early.append(f"its folder after piece {k + 1} of {pieces}")
                errs = read_or_none(self.at(".dicomfs", "errors.tsv")) or ""
                if "inbox/slow.dcm" in errs:
                    seen_early.append(f"an errors.tsv line after piece {k + 1}: {errs.strip()[-200:]}")
                if "inbox/slow.dcm" in (read_or_none(self.at(".dicomfs", "instances.tsv")) or ""):
                    seen_early.append(f"an instances.tsv row after piece {k + 1}")
        write_s = time.monotonic() - t0
        self.specs["inbox/slow.dcm"] = spec
        ok, took = self.wait("a slowly written file, closed", lambda: self.visible(spec))
        problems = list(seen_early)
        if not ok:
            problems.append(f"not visible {took:.1f} s after its close")
        elif ml.read_bytes(os.path.join(inst, "instance.dcm")) != data:
            problems.append("instance.dcm is not the whole file")
        self.check(f"a file written slowly ({pieces} pieces over {write_s:.1f} s, open "
                   "throughout): neither in the tree nor in errors.tsv before its close, then "
                   "visible and whole", problems, f"{took:.2f} s after the close")

        # a folder made, and a file written slowly into it (cp -r, a scanner
        # making a study folder): the new folder is walked, the file being
        # written must not be read by that walk
        spec = series_of(7100, "P8", "Live^Eight", "Eight", series_desc="D")(1)
        data = spec.data()
        folder = os.path.join(self.src, "inbox/newdir")
        os.mkdir(folder)
        seen_early = []
        with open(os.path.join(folder, "a.dcm"), "wb") as f:
            for k in range(pieces):
                f.write(data[k * step:(k + 1) * step])
                f.flush()
                time.sleep(0.1)
                for table in ("errors.tsv", "instances.tsv"):
                    lines = [l for l in (read_or_none(self.at(".dicomfs", table)) or "").split("\n")
                             if "inbox/newdir/a.dcm" in l]
                    if lines:
                        seen_early.append(f"{table} after piece {k + 1} of {pieces}: {lines[0]!r}")
                if exists(self.at(spec.patient_path())):
                    seen_early.append(f"its patient folder after piece {k + 1}")
        self.specs["inbox/newdir/a.dcm"] = spec
        ok, took = self.wait("a slowly written file in a new folder", lambda: self.visible(spec))
        problems = [f"{len(seen_early)} times shown half-written; first: {seen_early[0]}"] \
            if seen_early else []
        if not ok:
            problems.append(f"not visible {took:.1f} s after its close")
        self.check("a folder made, then a file written slowly into it (as cp -r does): the "
                   "walk of the new folder does not show the file before its close (neither in "
                   "the tree nor in errors.tsv), then visible", problems,
                   f"{took:.2f} s after the close")

        # written whole and held open: visible once its size settled
        spec = series_of(7000, "P6", "Live^Six", "Six", series_desc="New")(3)
        path = os.path.join(self.src, "inbox/held.dcm")
        f = open(path, "wb")
        try:
            f.write(spec.data())
            f.flush()
            ok, took = self.wait("a file held open, settled", lambda: self.visible(spec))
        finally:
            f.close()
        self.specs["inbox/held.dcm"] = spec
        self.check("a file written whole and held open (no close): visible once its size and "
                   "mtime settled", [] if ok else [f"not visible after {took:.1f} s"],
                   f"{took:.2f} s (settle time 0.5 s)")

    def check_temp_rename(self, m):
        S = series_of(7000, "P6", "Live^Six", "Six", series_desc="New")
        spec = S(4)
        tmp = self.put("inbox/new4.dcm", spec, how=write_renamed)
        ok, took = self.wait("a temporary name renamed into place", lambda: self.visible(spec))
        rows = self.by_source()
        errs = read_or_none(self.at(".dicomfs", "errors.tsv")) or ""
        tmp_rel = os.path.relpath(tmp, self.src)
        problems = [] if ok else [f"not visible after {took:.1f} s"]
        if rows.get("inbox/new4.dcm") != os.path.join(spec.series_path(), "4"):
            problems.append(f"inbox/new4.dcm at {rows.get('inbox/new4.dcm')!r}")
        if tmp_rel in rows or tmp_rel in errs:
            problems.append(f"the temporary name {tmp_rel} is in the tables")
        self.check("a temporary name (.new4.dcm.Xy7Qz1) written, closed and renamed into "
                   "place at once: visible under the final name only", problems, f"{took:.2f} s")

        # the temporary name lives long enough to be taken, then is renamed
        spec = S(5)
        tmp_path = os.path.join(self.src, "inbox/.new5.dcm.Ab12Cd")
        write_file(tmp_path, spec.data())
        ok1, _ = self.wait("a temporary name taken", lambda: self.visible(spec))
        os.rename(tmp_path, os.path.join(self.src, "inbox/new5.dcm"))
        self.specs["inbox/new5.dcm"] = spec
        ok, took = self.wait("the temporary name renamed",
                             lambda: "inbox/new5.dcm" in self.by_source())
        rows = self.by_source()
        problems = [] if ok else [f"inbox/new5.dcm not in instances.tsv after {took:.1f} s"]
        if "inbox/.new5.dcm.Ab12Cd" in rows:
            problems.append("the temporary name is still in instances.tsv")
        if ok and not self.visible(spec):
            problems.append("its instance folder 5 is missing or has another UID")
        self.check("a temporary name shown for a while (closed, then renamed after it was "
                   "taken): one instance, under the final name", problems,
                   f"temporary name shown first: {ok1}; {took:.2f} s")

    def instance_names(self, prefix):
        """{SourcePath: mount path} of the files under prefix/."""
        return {k: v for k, v in self.by_source().items() if k.startswith(prefix + "/")}

    def check_move_out_and_back(self, m):
        M = self.M
        before = self.instance_names("move")
        pdir = self.at(M(1).patient_path())
        deep = self.at(M(2).series_path(), "2", "tags", "SOPInstanceUID")
        read_or_none(deep)
        out = os.path.join(self.tmp, "outside")
        os.rename(os.path.join(self.src, "move"), out)
        saved = {k: self.specs.pop(k) for k in list(self.specs) if k.startswith("move/")}
        ok, took = self.wait("a folder moved out", lambda: stat_errno(pdir) == errno.ENOENT)
        problems = [] if ok else [f"its patient folder: stat {stat_errno(pdir)} after {took:.1f} s"]
        if stat_errno(deep) != errno.ENOENT:
            problems.append(f"an attribute file under it: {stat_errno(deep)}")
        if self.instance_names("move"):
            problems.append("instances.tsv keeps its files")
        self.check("a folder moved out of SOURCE: its patient gone (stat ENOENT, read before), "
                   "its rows gone", problems, f"{took:.2f} s")
        os.rename(out, os.path.join(self.src, "move"))
        self.specs.update(saved)
        ok, took = self.wait("a folder moved back",
                             lambda: all(self.visible(s) for s in saved.values()))
        after = self.instance_names("move")
        self.check_same("the folder moved back (with a folder inside it): every file back, at "
                        "the same patient/study/series/instance names", ok, took,
                        "not all visible", before, after)

    def check_same(self, name, ok, took, not_ok, before, after):
        """A change waited for (ok, took), after which `after` must equal
        `before` (names, or {name: UID})."""
        problems = [] if ok else [f"{not_ok} after {took:.1f} s"]
        if after != before:
            problems.append(f"before {sorted(before.items())}, after {sorted(after.items())}")
        self.check(name, problems, f"{took:.2f} s")

    def check_names_stable(self, m):
        N = self.N
        series = self.at(N(1).series_path())
        before = sorted(os.listdir(series))
        uids = {n: read_or_none(os.path.join(series, n, "tags", "SOPInstanceUID"))
                for n in before if n.isdigit()}
        spec = N(10, sop="2.25.5000.3.910")
        self.put("names/10.dcm", spec)
        ok, took = self.wait("a tenth instance", lambda: self.visible(spec, "10"))
        after = sorted(os.listdir(series))
        problems = [] if ok else [f"10 not visible after {took:.1f} s: {after}"]
        want = sorted([str(i) for i in range(1, 11)] + ["tags", "volume"])
        if before != sorted([str(i) for i in range(1, 10)] + ["tags", "volume"]):
            problems.append(f"before: {before}")
        if after != want:
            problems.append(f"after: {after}, expected {want}")
        for n, uid in uids.items():
            now = read_or_none(os.path.join(series, n, "tags", "SOPInstanceUID"))
            if now != uid:
                problems.append(f"{n}: {uid!r} then {now!r}")
        self.check("names stable: nine instances 1..9, then a tenth: named 10, the first nine "
                   "keep 1..9 (not padded to 01..09) and their UIDs", problems, f"{took:.2f} s")

        # a colliding name whose UID sorts first
        spec = N(5, sop="2.25.5000.3.15")
        self.put("names/5b.dcm", spec)
        ok, took = self.wait("a colliding instance", lambda: self.visible(spec, "5 (2)"))
        problems = [] if ok else [f"'5 (2)' not visible after {took:.1f} s: {sorted(os.listdir(series))}"]
        got5 = read_or_none(os.path.join(series, "5", "tags", "SOPInstanceUID"))
        if got5 != uids.get("5"):
            problems.append(f"5 is now {got5!r}, was {uids.get('5')!r}")
        listed = sorted(os.listdir(series))
        if listed != sorted(want + ["5 (2)"]):
            problems.append(f"listed {listed}")
        self.check("names stable: another instance numbered 5 (its UID sorting before the "
                   "first's) is '5 (2)'; 5 keeps its file", problems, f"{took:.2f} s")

        # the source folder renamed: the same objects, the same names
        before = {n: read_or_none(os.path.join(series, n, "tags", "SOPInstanceUID"))
                  for n in os.listdir(series) if n not in ("tags", "volume")}
        os.rename(os.path.join(self.src, "names"), os.path.join(self.src, "names2"))
        for k in [k for k in self.specs if k.startswith("names/")]:
            self.specs["names2/" + k[6:]] = self.specs.pop(k)
        # (Files written less than half a second before the rename are
        # looked at again once settled: README "Following changes".)
        renamed = [k for k in self.specs if k.startswith("names2/")]
        ok, took = self.wait("a renamed folder of ten instances",
                             lambda: all(k in self.by_source() for k in renamed) and
                             not any(k.startswith("names/") for k in self.by_source()))
        after = {n: read_or_none(os.path.join(series, n, "tags", "SOPInstanceUID"))
                 for n in os.listdir(series) if n not in ("tags", "volume")}
        self.check_same("names stable: the source folder of that series renamed (names -> "
                        "names2): the same instance folders, each with its file", ok, took,
                        "not renamed in instances.tsv", before, after)

    def check_errors_then_valid(self, m):
        S = series_of(8000, "P7", "Live^Seven", "Seven", series_desc="E")
        rel = "inbox/late.dcm"
        path = os.path.join(self.src, rel)
        write_file(path, b"not DICOM yet, the real file comes later\n" * 20)
        ok1, took1 = self.wait("a garbage file in errors.tsv",
                               lambda: rel in [e["path"] for e in self.tables()[1]])
        spec = S(1)
        self.put(rel, spec)  # replaced in place
        ok, took = self.wait("the garbage file replaced", lambda: self.visible(spec))
        _, errs = self.tables()
        problems = [] if ok1 else [f"no errors.tsv line for the garbage after {took1:.1f} s"]
        if not ok:
            problems.append(f"the DICOM file not visible after {took:.1f} s")
        stale = [e for e in errs if e["path"] == rel]
        if stale:
            problems.append(f"stale errors.tsv line: {stale}")
        self.check("errors.tsv: a file garbage when first written (its line shows), then "
                   "replaced by a DICOM file: visible, and its errors.tsv line gone", problems,
                   f"{took:.2f} s")

        # a file first cut short (closed half-written), then written whole
        spec = S(2)
        rel = "inbox/cut.dcm"
        path = os.path.join(self.src, rel)
        data = spec.data()
        write_file(path, data[:400])
        ok1, took1 = self.wait("a cut file taken",
                               lambda: rel in (read_or_none(self.at(".dicomfs", "errors.tsv")) or "")
                               or rel in (read_or_none(self.at(".dicomfs", "instances.tsv")) or ""))
        with open(path, "ab") as f:
            f.write(data[400:])
        self.specs[rel] = spec
        ok, took = self.wait("the cut file completed",
                             lambda: self.visible(spec) and rel not in
                             (read_or_none(self.at(".dicomfs", "errors.tsv")) or ""))
        problems = [] if ok else [f"not visible, or its errors.tsv line left, after {took:.1f} s"]
        if ok:
            hdr = read_or_none(self.at(spec.series_path(), "2", "header.txt")) or ""
            if "damaged" in hdr:
                problems.append("header.txt still says damaged")
            if ml.read_bytes(self.at(spec.series_path(), "2", "instance.dcm")) != data:
                problems.append("instance.dcm is not the whole file")
        self.check("errors.tsv: a file closed when cut short (400 bytes: taken as "
                   f"{'seen' if ok1 else 'not seen'}), then written whole: visible, whole, no "
                   "errors.tsv line", problems, f"{took:.2f} s")

    def check_end_status(self, m, label):
        st, counts = self.status_counts(m)
        problems = []
        if counts is None:
            problems.append(f"changes handled: {st.get('changes handled')!r}")
        elif counts[3] != 0:
            problems.append(f"{counts[3]} whole-source walks")
        elif counts[1] == 0 or counts[2] == 0:
            problems.append(f"changes handled: {st.get('changes handled')!r}")
        last = st.get("last change", "")
        if not LAST_CHANGE.match(last) or last.startswith("none"):
            problems.append(f"last change: {last!r}")
        want = f"followed: kernel events (inotify, {len(folders_of(self.src))} folders watched)"
        if st.get("changes") != want:
            problems.append(f"changes: {st.get('changes')!r}, expected {want!r}")
        self.check(f"{label}: status counts the changes, no whole-source walk, 'last change' a "
                   "time, the watch count follows SOURCE's folders", problems,
                   f"changes handled: {st.get('changes handled')}; last change: {last}")
        watched = sorted(inotify_inodes(m.pid))
        inodes = sorted(os.stat(f).st_ino for f in folders_of(self.src))
        self.check(f"{label}: the daemon's inotify watches are SOURCE's folders now (gone ones "
                   "dropped, new ones added)", [] if watched == inodes else
                   [f"watched {watched}, SOURCE's folders {inodes}"])

    # --- remounts --------------------------------------------------------------
    def check_remount(self, tree_before):
        m = self.mount()
        try:
            st = m.status()
            problems = []
            if st.get("files read") != "0":
                problems.append(f"files read: {st.get('files read')!r}")
            if not st.get("index at mount", "").startswith("image mapped"):
                problems.append(f"index at mount: {st.get('index at mount')!r}")
            self.check("remount with the same index after the changes: 'files read: 0', the "
                       "image mapped", problems)
            # before anything reads a header (the daemon's cache would hide
            # what the first change makes it read)
            self.check_first_change(m)
            now = self.by_source()
            problems = [f"{k}: {tree_before.get(k)!r} then {now.get(k)!r}"
                        for k in sorted(set(now) | set(tree_before)) if now.get(k) != tree_before.get(k)]
            series = os.path.join(self.N(1).series_path())
            listed = sorted(os.listdir(self.at(series)))
            self.check("remount: the same tree, every file at the same path (10 beside 1..9, "
                       "'5 (2)', the folder names kept while mounted)", problems,
                       f"series N: {listed}")
            self.consistent("remount")
        finally:
            self.check("unmount (remount)", m.unmount())

        # changes while unmounted: two new files, one changed, one deleted
        N = self.N
        self.put("names2/11.dcm", N(11, sop="2.25.5000.3.911"))
        self.put("names2/3.dcm", N(3, sop="2.25.5000.3.93", comment="changed offline"))
        self.put("inbox/offline.dcm", series_of(7000, "P6", "Live^Six", "Six", series_desc="New")(6))
        os.unlink(os.path.join(self.src, "names2/7.dcm"))
        del self.specs["names2/7.dcm"]
        m = self.mount()
        try:
            st = m.status()
            self.check("remount after changes made while unmounted (2 files added, 1 changed, "
                       "1 deleted): 'files read: 3'",
                       [] if st.get("files read") == "3" else [f"files read: {st.get('files read')!r}"],
                       f"index at mount: {st.get('index at mount')}")
            now = self.by_source()
            problems = []
            for k, v in tree_before.items():
                if k == "names2/7.dcm":
                    if k in now:
                        problems.append("names2/7.dcm (deleted) still there")
                elif now.get(k) != v:
                    problems.append(f"{k}: {v!r} then {now.get(k)!r}")
            series = N(1).series_path()
            for rel, name in (("names2/11.dcm", "11"), ("inbox/offline.dcm", None)):
                spec = self.specs[rel]
                if not self.visible(spec, name):
                    problems.append(f"{rel}: not visible")
            got = read_or_none(self.at(tree_before["names2/3.dcm"], "tags", "ImageComments"))
            if got != dcmdump_value(os.path.join(self.src, "names2/3.dcm"), "ImageComments") + "\n":
                problems.append(f"names2/3.dcm: tags/ImageComments {got!r}")
            self.check("remount after offline changes: the new files visible, the changed one "
                       "at its old folder 3 with its new value, every other file where it was "
                       "(1..9 not padded)", problems, f"series N: {sorted(os.listdir(self.at(series)))}")
            self.consistent("remount after offline changes")
        finally:
            self.check("unmount (remount after offline changes)", m.unmount())

    def check_first_change(self, m):
        """The tree came from the mapped image: the first change loads the
        index builder.  It must cost what changed: the daemon opens the new
        file, and no other source file (watched here with inotify IN_OPEN
        on every folder of SOURCE); then a removal shows too."""
        spec = series_of(7200, "P11", "Live^Eleven", "Eleven", series_desc="F")(1)
        rel = "inbox/first-change.dcm"
        watcher = OpenWatcher(folders_of(self.src))
        try:
            self.put(rel, spec)
            ok, took = self.wait("the first change after an unchanged remount",
                                 lambda: self.visible(spec))
            time.sleep(1.0)  # what the daemon does after publishing
            opened = watcher.opened()
        finally:
            watcher.close()
        others = sorted(p for p in opened if p != rel)
        problems = [] if ok else [f"not visible after {took:.1f} s"]
        if others:
            problems.append(f"the daemon opened {len(others)} other source files (of "
                            f"{len(self.specs)}), e.g. {others[:4]}")
        self.check("the first change after an unchanged remount (the tree from the image): "
                   "visible, and no source file opened but the new one (cost proportional to "
                   "what changed)", problems, f"{took:.2f} s; opened: {len(opened)} file(s)")
        pdir = self.at(spec.patient_path())
        os.unlink(os.path.join(self.src, rel))
        del self.specs[rel]
        ok, took = self.wait("a removal after the first change",
                             lambda: stat_errno(pdir) == errno.ENOENT)
        self.check("and a removal right after it shows", [] if ok else
                   [f"its patient folder still there after {took:.1f} s"], f"{took:.2f} s")

    # --- the rescan mode ----------------------------------------------------------
    def check_rescan(self):
        src = os.path.join(self.tmp, "source2")
        mnt = os.path.join(self.tmp, "mnt2")
        S = series_of(9000, "P9", "Live^Nine", "Nine", series_desc="R")
        for i in (1, 2):
            write_file(os.path.join(src, f"d/{i}.dcm"), S(i).data())
        m = self.mount(src, mnt, ["-o", f"nowatch,rescan=2,index={self.tmp}/rescan.sqlite"])
        try:
            st = m.status()
            problems = []
            if not st.get("changes", "").startswith("followed: a rescan every 2 s"):
                problems.append(f"changes: {st.get('changes')!r}")
            if inotify_inodes(m.pid):
                problems.append(f"{len(inotify_inodes(m.pid))} inotify watches")
            self.check("-o nowatch,rescan=2: status 'changes: followed: a rescan every 2 s', "
                       "no inotify watch", problems, f"changes: {st.get('changes')}")
            spec = S(3)
            write_file(os.path.join(src, "d/3.dcm"), spec.data())
            ok, took = self.wait("a rescan finding a new file",
                                 lambda: self.visible(spec, mnt=mnt), RESCAN_SECONDS)
            gone = os.path.join(mnt, S(1).series_path(), "1")
            os.stat(gone)
            os.unlink(os.path.join(src, "d/1.dcm"))
            ok2, took2 = self.wait("a rescan finding a deleted file",
                                   lambda: stat_errno(gone) == errno.ENOENT, RESCAN_SECONDS)
            st, counts = self.status_counts(m)
            problems = [] if ok else [f"the new file not visible after {took:.1f} s"]
            if not ok2:
                problems.append(f"the deleted file's folder still there after {took2:.1f} s")
            if counts is None or counts[3] < 1:
                problems.append(f"changes handled: {st.get('changes handled')!r}")
            self.check("-o nowatch,rescan=2: a new file and a deleted one show after a rescan, "
                       "the status counts whole-source walks", problems,
                       f"{took:.1f} s and {took2:.1f} s; changes handled: {st.get('changes handled')}")
            self.consistent("rescan mode", mnt, src)
        finally:
            self.check("unmount (rescan mode)", m.unmount())
        m = self.mount(src, mnt, ["-o", "nowatch,noindex"])
        try:
            st = m.status()
            problems = [] if st.get("changes") == "not followed" else [f"changes: {st.get('changes')!r}"]
            if inotify_inodes(m.pid):
                problems.append("inotify watches")
            if "changes handled" in st:
                problems.append(f"changes handled: {st['changes handled']!r}")
            self.check("-o nowatch alone: 'changes: not followed', no watch", problems)
        finally:
            self.check("unmount (-o nowatch)", m.unmount())

    # --- the watch limit -----------------------------------------------------------
    def check_watch_limit(self):
        if os.geteuid() != 0:
            self.check("watch limit: skipped, not root (max_user_watches cannot be lowered)", [])
            return
        src = os.path.join(self.tmp, "source3")
        mnt = os.path.join(self.tmp, "mnt3")
        S = series_of(9500, "P10", "Live^Ten", "Ten", series_desc="W")
        n_folders = 12
        for i in range(1, n_folders):
            write_file(os.path.join(src, f"f{i:02d}/{i}.dcm"), S(i, z=i).data())
        folders = folders_of(src)
        with open(MAX_WATCHES) as f:
            original = f.read().strip()
        m = None
        restored_at = lowered_at = None
        try:
            in_use = root_watches_in_use()
            limit = in_use + 4  # room for 4 of our 12 folders
            with open(MAX_WATCHES, "w") as f:
                f.write(str(limit))
            lowered_at = time.monotonic()
            try:
                m = ml.Mount(self.exe, src, mnt, args=["-o", f"rescan=2,index={self.tmp}/limit.sqlite"])
                m.start()
            finally:
                # restored as soon as our watches are in place: others' watches
                # are limited only for the time of one mount
                with open(MAX_WATCHES, "w") as f:
                    f.write(original)
                restored_at = time.monotonic()
            watched = set(inotify_inodes(m.pid))
            by_ino = {os.stat(f).st_ino: f for f in folders}
            unwatched = sorted(f for ino, f in by_ino.items() if ino not in watched and f != src)
            st = m.status()
            problems = []
            if not unwatched:
                problems.append(f"premise: all {len(folders)} folders watched with the limit at "
                                f"{limit} ({in_use} in use by root before); another user's "
                                "watches may count differently")
            ch = st.get("changes", "")
            if "the watch limit" not in ch or "was reached" not in ch or "rescan every 2 s" not in ch:
                problems.append(f"changes: {ch!r}")
            m_w = re.search(r"inotify, (\d+) folders watched", ch)
            if not m_w or int(m_w.group(1)) != len(watched):
                problems.append(f"the status says {m_w and m_w.group(1)} folders watched, fdinfo "
                                f"{len(watched)}")
            self.check("watch limit (max_user_watches lowered to the watches in use + 4, restored "
                       "once mounted): the status says the limit was reached and a rescan every "
                       "2 s takes over", problems,
                       f"{len(watched)} of {len(folders)} folders watched; changes: {ch}")
            self.consistent("watch limit, at mount", mnt, src)
            if unwatched:
                folder = unwatched[0]
                i = int(os.path.basename(folder)[1:])
                spec = S(100 + i, z=100 + i)
                write_file(os.path.join(folder, "new.dcm"), spec.data())
                ok, took = self.wait("a file in an unwatched folder",
                                     lambda: self.visible(spec, mnt=mnt), RESCAN_SECONDS)
                st, counts = self.status_counts(m)
                problems = [] if ok else [f"not visible after {took:.1f} s"]
                if counts is None or counts[3] < 1:
                    problems.append(f"changes handled: {st.get('changes handled')!r}")
                self.check("watch limit: a file added to an unwatched folder shows after a "
                           "rescan", problems,
                           f"{os.path.relpath(folder, src)}, {took:.1f} s; changes handled: "
                           f"{st.get('changes handled')}")
                self.consistent("watch limit, after the rescan", mnt, src)
        finally:
            with open(MAX_WATCHES) as f:
                now = f.read().strip()
            if now != original:
                with open(MAX_WATCHES, "w") as f:
                    f.write(original)
            with open(MAX_WATCHES) as f:
                final = f.read().strip()
            self.check("watch limit: fs.inotify.max_user_watches restored",
                       [] if final == original else [f"{final}, was {original}"],
                       f"{original}; lowered for {restored_at - lowered_at:.2f} s" if restored_at
                       and lowered_at else original)
            if m is not None:
                self.check("unmount (watch limit)", m.unmount())

    # --- the run ---------------------------------------------------------------------
    def run(self):
        self.make_source()
        m = self.mount()
        try:
            self.check_start(m)
            self.check_added(m)
            self.check_changed(m)
            self.check_deleted(m)
            self.check_renamed(m)
            self.check_slow_write(m)
            self.check_temp_rename(m)
            self.check_move_out_and_back(m)
            self.check_names_stable(m)
            self.check_errors_then_valid(m)
            self.check_end_status(m, "after the changes")
            self.consistent("after the changes")
            tree = self.by_source()
        finally:
            self.check("unmount (first mount)", m.unmount())
        self.check_remount(tree)
        self.check_rescan()
        self.check_watch_limit()
        if self.waits:
            worst = max(self.waits, key=lambda w: w[1])
            print(f"changes waited for: {len(self.waits)}, slowest {worst[1]:.2f} s ({worst[0]})",
                  flush=True)


def main():
    exe = os.path.abspath((sys.argv + [""])[1])
    if not os.path.exists(CT_SMALL):
        print("SKIP: no pydicom test files")
        return 77
    return ml.run_test(__doc__, 3, "dicomfs-live-test.", WATCHDOG_SECONDS,
                       lambda report, tmp: LiveTest(report, exe, tmp).run(),
                       needs=("pydicom",), tools=("dcmdump",))


if __name__ == "__main__":
    sys.exit(main())
