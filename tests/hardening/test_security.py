#!/usr/bin/python3
"""Security of a shared dicomfs mount (issue 6), checked as an unprivileged
user (nobody, through setpriv) against what the kernel lets that same user
do in the source itself:

  1  `-o allow_other` mounts with default_permissions (the kernel checks
     modes), and the modes follow the source: a file nobody cannot read there
     (mode 000, 0600, 0640 of another group, 0644 in a folder of mode 0700 or
     0750) cannot be read through the mount (its instance.dcm, header.txt,
     tags/, image.png, pixels.raw); one nobody can read there (0644, also in
     a folder of mode 0711, 0640 of nobody's group, 0400 of nobody's own)
     can be read, byte for byte;
  2  read-only everywhere: every kind of write (open for writing, create,
     truncate, mkdir, rmdir, unlink, rename, link, symlink, chmod, chown,
     utime, setxattr, mknod) gives EROFS, to nobody and to root;
  3  nothing outside SOURCE is reachable: links to a file and a folder outside
     are no instances, and nothing readable in the mount (to root or nobody)
     holds the outside file's bytes or UID;
  4  without allow_other, nobody cannot even look at the mount;
  5  the source's checksums, modes and owners are unchanged, the daemons exit
     cleanly and nothing is left behind.

usage: test_security.py DICOMFS SOURCE_ROOT
Last line `N passed, N failed`; exit 1 on failure, 77 without /dev/fuse or
setpriv (or when not run as root: the test needs to chown and to mount with
allow_other).
"""

import errno
import hashlib
import io
import os
import shutil
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import ml, NOBODY  # noqa: E402

WATCHDOG_SECONDS = 170  # meson's timeout is 200

# name: (mode, uid, gid); can nobody read it in the source?  The kernel says.
FILES = {
    "public.dcm": (0o644, 0, 0),
    "mode-000.dcm": (0o000, 0, 0),
    "owner-only.dcm": (0o600, 0, 0),
    "group-root.dcm": (0o640, 0, 0),
    "group-nobody.dcm": (0o640, 0, NOBODY),
    "nobody-own.dcm": (0o400, NOBODY, NOBODY),
    "nobody-own-000.dcm": (0o000, NOBODY, NOBODY),
    "private/inside.dcm": (0o644, 0, 0),
    "traverse-only/inside.dcm": (0o644, 0, 0),
    "group-dir/inside.dcm": (0o644, 0, 0),
}
# Folders on the way count too: nobody may not enter private/ (0700) nor
# group-dir/ (0750, root's group), may pass through traverse-only/ (0711).
DIRS = {"private": 0o700, "traverse-only": 0o711, "group-dir": 0o750}
LEAVES = ["instance.dcm", "header.txt", "header.json", "tags/PatientName", "image.png",
          "pixels.raw"]

# Run as nobody: each operation of a list, its outcome ("ok:<sha256>" or
# the errno's name).
AS_USER = r'''
import errno, hashlib, json, os, sys
def one(op, path, arg):
    if op == "read":
        with open(path, "rb") as f:
            return "ok:" + hashlib.sha256(f.read()).hexdigest()
    if op == "list":
        return "ok:" + ",".join(sorted(os.listdir(path)))
    if op == "stat":
        os.stat(path)
        return "ok"
    if op == "walk":
        found = []
        for root, dirs, files in os.walk(path):
            for n in files:
                p = os.path.join(root, n)
                try:
                    with open(p, "rb") as f:
                        found.append([p, hashlib.sha256(f.read()).hexdigest()])
                except OSError as e:
                    found.append([p, errno.errorcode[e.errno]])
        return found
    if op == "open_w":
        os.close(os.open(path, os.O_WRONLY))
    elif op == "open_rw":
        os.close(os.open(path, os.O_RDWR))
    elif op == "open_trunc":
        os.close(os.open(path, os.O_RDONLY | os.O_TRUNC))
    elif op == "create":
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))
    elif op == "truncate":
        os.truncate(path, 0)
    elif op == "mkdir":
        os.mkdir(path)
    elif op == "rmdir":
        os.rmdir(path)
    elif op == "unlink":
        os.unlink(path)
    elif op == "rename":
        os.rename(path, arg)
    elif op == "link":
        os.link(path, arg)
    elif op == "symlink":
        os.symlink("x", path)
    elif op == "chmod":
        os.chmod(path, 0o777)
    elif op == "chown":
        os.chown(path, os.getuid(), os.getgid())
    elif op == "utime":
        os.utime(path, (0, 0))
    elif op == "setxattr":
        os.setxattr(path, "user.dicomfs", b"x")
    elif op == "mknod":
        os.mkfifo(path)
    return "ok"
out = []
for op, path, arg in json.loads(sys.argv[1]):
    try:
        out.append(one(op, path, arg))
    except OSError as e:
        out.append(errno.errorcode.get(e.errno, str(e.errno)))
print(json.dumps(out))
'''


def run_ops(ops, uid=NOBODY):
    """[(op, path, arg)] as uid (None: as root); their outcomes."""
    rc, out, err = common.as_user(AS_USER, ops, uid)
    if out is None:
        raise RuntimeError(f"python as {uid} (exit {rc}): {err.strip()[-500:]}")
    return out


def dicom_file(uid, name):
    """A small valid file made by pydicom (8x8 16-bit, explicit VR LE)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.7", uid
    ds.StudyInstanceUID, ds.SeriesInstanceUID = uid + ".1", uid + ".2"
    ds.PatientName, ds.PatientID, ds.Modality = name, "SEC-" + uid[-4:], "OT"
    ds.Rows = ds.Columns = 8
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = bytes(range(128))
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.is_little_endian, ds.is_implicit_VR = True, False
    out = io.BytesIO()
    ds.save_as(out, write_like_original=False)
    return out.getvalue()


class SecurityTest:
    def __init__(self, report, exe, repo, tmp):
        self.r, self.exe, self.tmp = report, exe, tmp
        os.chmod(tmp, 0o755)  # nobody must reach the mount point and the source
        self.source = os.path.join(tmp, "source")
        self.outside = os.path.join(tmp, "outside")
        self.mnt = os.path.join(tmp, "mnt")

    def check(self, name, problems, note=""):
        return self.r.check(name, problems, note)

    def make_source(self):
        os.makedirs(self.source)
        os.makedirs(os.path.join(self.outside, "dir"))
        for d in DIRS:
            os.makedirs(os.path.join(self.source, d))
        self.uids = {}
        for k, (name, (mode, uid, gid)) in enumerate(sorted(FILES.items())):
            sop = f"2.25.27182818284590452353602874{k:03d}"
            path = os.path.join(self.source, name)
            with open(path, "wb") as f:
                f.write(dicom_file(sop, "Security^" + name[:-4].replace("/", "-")))
            os.chown(path, uid, gid)
            os.chmod(path, mode)
            self.uids[name] = sop
        for d, mode in DIRS.items():
            os.chmod(os.path.join(self.source, d), mode)
        self.outside_uid = "2.25.27182818284590452353602874999"
        self.outside_bytes = dicom_file(self.outside_uid, "Outside^Secret")
        for p in ("secret.dcm", "dir/secret.dcm"):
            with open(os.path.join(self.outside, p), "wb") as f:
                f.write(self.outside_bytes)
        os.symlink("../outside/secret.dcm", os.path.join(self.source, "link-out.dcm"))
        os.symlink(os.path.join(self.outside, "dir"), os.path.join(self.source, "link-dir"))
        os.symlink("/etc/shadow", os.path.join(self.source, "shadow.dcm"))
        self.snap = {d: common.snapshot(d) for d in (self.source, self.outside)}
        # The oracle: what nobody may read in the source itself.
        out = run_ops([("read", os.path.join(self.source, n), None) for n in sorted(FILES)])
        self.readable = {n: o.startswith("ok") for n, o in zip(sorted(FILES), out)}
        want = {n: n in ("public.dcm", "group-nobody.dcm", "nobody-own.dcm",
                         "traverse-only/inside.dcm") for n in FILES}
        self.check("setup: nobody reads in the source exactly the files the modes allow",
                   [f"{n}: nobody {'can' if self.readable[n] else 'cannot'} read it"
                    for n in FILES if self.readable[n] != want[n]],
                   f"{sum(self.readable.values())} of {len(FILES)} readable")

    def mount(self, mp, shared):
        m = ml.Mount(self.exe, self.source, mp, log_dir=self.tmp,
                     args=["-o", "noindex"] + (["-o", "allow_other"] if shared else []))
        m.start()
        if common.wait_scan_done(mp) is None:
            raise RuntimeError(common.scan_wait_problem())
        return m

    def instance_folders(self):
        _, rows, _ = ml.read_tsv(os.path.join(self.mnt, ".dicomfs", "instances.tsv"))
        return {r["SourcePath"]: os.path.join(self.mnt, r["path"]) for r in rows}

    # ------------------------------------------------------------ 1
    def check_modes(self):
        opts = [line.split()[3] for line in open("/proc/mounts") if line.split()[1] == self.mnt]
        flags = set(opts[0].split(",")) if opts else set()
        self.check("1 -o allow_other mounts with default_permissions (and ro)",
                   [] if {"default_permissions", "allow_other", "ro"} <= flags else
                   [f"mount options {sorted(flags)}"])
        folders = self.instance_folders()
        missing = [n for n in FILES if n not in folders]
        ops, where = [], []
        for name in sorted(FILES):
            if name in folders:
                for leaf in LEAVES:
                    ops.append(("read", os.path.join(folders[name], leaf), None))
                    where.append((name, leaf))
        out = run_ops(ops)
        problems = [f"{n}: not in the tree" for n in missing]
        root_reads = {}
        for (name, leaf), got in zip(where, out):
            if self.readable[name]:
                if not got.startswith("ok"):
                    problems.append(f"{name} (readable to nobody in the source): {leaf}: {got}")
                else:
                    root_reads.setdefault(name, {})[leaf] = got
            elif got != "EACCES":
                problems.append(f"{name} (unreadable to nobody in the source): {leaf}: {got}, "
                                f"expected EACCES")
        # What nobody read is what root reads, and instance.dcm is the file.
        for name, leaves in root_reads.items():
            mine = run_ops([("read", os.path.join(folders[name], leaf), None) for leaf in leaves],
                           uid=None)
            for (leaf, theirs), ours in zip(leaves.items(), mine):
                if theirs != ours:
                    problems.append(f"{name}: {leaf} differs between nobody and root")
            with open(os.path.join(self.source, name), "rb") as f:
                if leaves.get("instance.dcm") != "ok:" + hashlib.sha256(f.read()).hexdigest():
                    problems.append(f"{name}: instance.dcm is not the source file")
        listing = run_ops([("list", self.mnt, None)])[0]
        if not listing.startswith("ok") or "Security^public" not in listing:
            problems.append(f"nobody cannot list the mount: {listing[:200]}")
        self.check("1 nobody reads through the mount exactly what it may read in the source "
                   "(instance.dcm, header, tags, pixels), the same bytes as root", problems,
                   f"{len(ops)} reads as nobody")
        self.folders = folders

    # ------------------------------------------------------------ 2
    def check_erofs(self):
        folder = self.folders.get("public.dcm")
        if folder is None:
            self.check("2 EROFS for every kind of write", ["public.dcm is not in the tree"])
            return
        dcm = os.path.join(folder, "instance.dcm")
        ops = [("open_w", dcm, None), ("open_rw", dcm, None), ("open_trunc", dcm, None),
               ("create", os.path.join(folder, "new.dcm"), None), ("truncate", dcm, None),
               ("mkdir", os.path.join(self.mnt, "newdir"), None),
               ("mkdir", os.path.join(folder, "newdir"), None),
               ("rmdir", os.path.join(folder, "tags"), None), ("unlink", dcm, None),
               ("rename", dcm, os.path.join(folder, "moved.dcm")),
               ("link", dcm, os.path.join(folder, "hard.dcm")),
               ("symlink", os.path.join(folder, "sym"), None), ("chmod", dcm, None),
               ("chown", dcm, None), ("utime", dcm, None), ("setxattr", dcm, None),
               ("mknod", os.path.join(folder, "fifo"), None),
               ("open_w", os.path.join(self.mnt, ".dicomfs", "status"), None),
               ("unlink", os.path.join(self.mnt, ".dicomfs", "errors.tsv"), None)]
        problems = []
        for who, uid in (("nobody", NOBODY), ("root", None)):
            for (op, path, _), got in zip(ops, run_ops(ops, uid)):
                if got != "EROFS":
                    problems.append(f"{who}: {op} {os.path.relpath(path, self.mnt)}: {got}")
        self.check("2 every kind of write gives EROFS, to nobody and to root", problems,
                   f"{len(ops)} operations each")

    # ------------------------------------------------------------ 3
    def check_outside(self):
        problems = []
        uids = set()
        _, rows, _ = ml.read_tsv(os.path.join(self.mnt, ".dicomfs", "instances.tsv"))
        for r in rows:
            uids.add(r["SOPInstanceUID"])
            if r["SourcePath"].startswith(("link-", "shadow")):
                problems.append(f"{r['SourcePath']} is an instance")
        if self.outside_uid in uids:
            problems.append("the outside file's UID is in instances.tsv")
        secret = hashlib.sha256(self.outside_bytes).hexdigest()
        for who, uid in (("nobody", NOBODY), ("root", None)):
            found = run_ops([("walk", self.mnt, None)], uid)[0]
            for path, digest in found:
                if digest == secret:
                    problems.append(f"{who} reads the outside file at {path}")
            readable = [p for p, d in found if len(d) == 64]
            for p in readable:
                if os.path.basename(p) in ("SOPInstanceUID", "MediaStorageSOPInstanceUID"):
                    with open(p) as f:
                        if f.read().strip() == self.outside_uid:
                            problems.append(f"{who}: the outside UID at {p}")
            if not readable:
                problems.append(f"{who} reads nothing in the mount")
        errors = ml.read_text(os.path.join(self.mnt, ".dicomfs", "errors.tsv"))
        for link in ("link-out.dcm", "link-dir", "shadow.dcm"):
            if f"\n{link}\t" not in errors:
                problems.append(f"{link}: no line in errors.tsv")
        self.check("3 nothing outside SOURCE is reachable: links are no instances, no byte or "
                   "UID of the outside file anywhere (as nobody and as root)", problems)

    # ------------------------------------------------------------ 4
    def check_private(self):
        mp = os.path.join(self.tmp, "mnt-private")
        m = self.mount(mp, shared=False)
        try:
            out = run_ops([("stat", mp, None), ("list", mp, None)])
            problems = [f"{op}: {got}" for op, got in zip(("stat", "list"), out) if got != "EACCES"]
            self.check("4 without allow_other, nobody cannot look at the mount", problems)
        finally:
            self.check("4 unmount of the private mount: clean exit", m.unmount())

    def run(self):
        rc, out, err = common.as_user("print(1)", None)
        if rc != 0:
            self.check("setup: setpriv runs Python as nobody", [f"exit {rc}: {err.strip()[-300:]}"])
            return
        self.make_source()
        m = self.mount(self.mnt, shared=True)
        try:
            self.check_modes()
            self.check_erofs()
            self.check_outside()
        finally:
            alive = m.alive()
            self.check("the shared mount's daemon is alive at the end, then unmounts cleanly",
                       ([] if alive else ["dicomfs died: " + m.log()[-500:]]) + m.unmount())
        self.check_private()
        problems = []
        for d, before in self.snap.items():
            problems += ml.diff_snapshots(before, common.snapshot(d))
        self.check("5 the source and outside/ unchanged (sha256, modes, owners, links)", problems)


def main():
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        print("SKIP: needs root (chown, allow_other) and setpriv")
        return 77
    return common.run_main(__doc__.split("\n\n")[-2], "dicomfs-security.", WATCHDOG_SECONDS,
                           lambda report, exe, repo, tmp: SecurityTest(report, exe, repo, tmp).run())


if __name__ == "__main__":
    sys.exit(main())
