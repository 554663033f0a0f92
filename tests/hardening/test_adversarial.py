#!/usr/bin/python3
"""dicomfs mounted over a hostile source (issue 6): scripts/make-adversarial.py
writes it (about 4,500 files: truncated at every offset, lying lengths,
nesting 100,000 deep, pixel data and codestreams that lie, decompression
bombs, every character-set escape, hostile names and file names, symlink
loops and links to outside, FIFOs, devices, unreadable files) with truth.json
saying what each file must give.  Checked, one line per check:

  1  every good file is in the tree once: tags/SOPInstanceUID is pydicom's,
     instance.dcm is the source byte for byte, header.json is JSON, the pixel
     files read (pixels.raw equal to pydicom's pixel_array where pydicom
     decodes natively);
  2  every bad file is either absent with a line (and a reason) in
     errors.tsv, or, where its header is valid, in the tree with its pixel
     files answering EIO and a line in errors.tsv for each; a damaged file
     (issue 17: read up to the damage) is in the tree with what was read,
     a line 'damaged at byte N: ... (shown with what could be read)' in
     errors.tsv, header.txt ending with '# damaged at byte N: ...', and
     no pixel files;
  3  links, FIFOs, devices and sockets are never instances, each has a line;
     a file reached through links inside the source is one instance;
  4  no name in the mount has '/', NUL or control characters, is '.' or '..',
     or is longer than 255 bytes; every entry can be stat'ed;
  5  nothing outside SOURCE is reachable: no instance has an outside UID or a
     path through an outside link, and every instance.dcm is the bytes of
     its own source file;
  6  files truncated, replaced (by another file, a symlink to outside, a FIFO,
     a folder), deleted, grown and overwritten while mounted: reads give EIO
     (or another error), the new content or the old, never the outside file,
     never a crash or a hang;
  7  the daemon is alive at the end, unmounts cleanly, its peak memory
     (VmHWM) is reported, the source is unchanged (but for the files of 6),
     and nothing is left behind.

usage: test_adversarial.py DICOMFS SOURCE_ROOT
Last line `N passed, N failed`; exit 1 on failure, 77 without /dev/fuse.
"""

import errno
import io
import json
import os
import re
import shutil
import stat
import sys
import time
import traceback
import warnings

sys.dont_write_bytecode = True
warnings.simplefilter("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import ml, snapshot, wait_scan_done  # noqa: E402

WATCHDOG_SECONDS = 280  # meson's timeout is 300
PIXEL_FILES = ("image.png", "pixels.raw")
# Transfer syntaxes whose pixels pydicom decodes exactly as stored: native,
# deflated and RLE.
# The last line of a damaged file's header.txt, and its errors.tsv reason
# (issue 17).
DAMAGED_LINE = re.compile(rb"^# damaged at byte (\d+): .+; the rest of the file could not be read$")
DAMAGED_REASON = re.compile(rb"^damaged at byte (\d+): .+ \(shown with what could be read\)$")
LOSSLESS_ORACLE = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2",
                   "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.5"}


# ---------------------------------------------------------------- helpers

def norm_cell(b):
    """A path as a .tsv cell shows it: tabs and line breaks become spaces."""
    return b.replace(b"\t", b" ").replace(b"\n", b" ").replace(b"\r", b" ")


def read_tsv_bytes(path):
    """(header, rows) of a .tsv file, as bytes (source paths need not be
    UTF-8)."""
    data = ml.read_bytes(path)
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    header = lines[0].split(b"\t") if lines else []
    rows = []
    for line in lines[1:]:
        cells = line.split(b"\t")
        if len(cells) >= len(header):
            rows.append(dict(zip(header, cells[:len(header) - 1] + [b"\t".join(cells[len(header) - 1:])])))
    return header, rows


def read_errno(path, size=None):
    """(bytes, None) or (None, errno) of reading path whole."""
    try:
        with open(path, "rb") as f:
            return f.read() if size is None else f.read(size), None
    except OSError as e:
        return None, e.errno


def source_bytes(source, rel):
    """A source file's bytes, opened one folder at a time (paths longer than
    PATH_MAX too)."""
    parts = os.fsencode(rel).split(b"/")
    fd = os.open(os.fsencode(source), os.O_RDONLY | os.O_DIRECTORY)
    try:
        for p in parts[:-1]:
            nfd = os.open(p, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        ffd = os.open(parts[-1], os.O_RDONLY, dir_fd=fd)
        with os.fdopen(ffd, "rb") as f:
            return f.read()
    finally:
        os.close(fd)


def pydicom_pixels(data):
    """pydicom's pixel_array as pixels.raw holds it (stored values, little
    endian, samples interleaved), or None where pydicom cannot decode."""
    import numpy as np
    import pydicom
    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
        ts = getattr(ds, "file_meta", {}).get("TransferSyntaxUID")
        if ts is not None and str(ts) not in LOSSLESS_ORACLE:
            return None  # lossy codecs differ by a unit here and there: no exact oracle
        if ts is None:
            ds.file_meta = getattr(ds, "file_meta", pydicom.dataset.FileMetaDataset())
            ds.file_meta.TransferSyntaxUID = (pydicom.uid.ImplicitVRLittleEndian if ds.is_implicit_VR
                                              else pydicom.uid.ExplicitVRLittleEndian
                                              if ds.is_little_endian else pydicom.uid.ExplicitVRBigEndian)
        arr = ds.pixel_array
    except Exception:  # noqa: BLE001 - pydicom has no decoder or no answer: no oracle
        return None
    return np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()


# ---------------------------------------------------------------- the test

class AdversarialTest:
    def __init__(self, report, exe, repo, tmp):
        self.r, self.exe, self.repo, self.tmp = report, exe, repo, tmp
        self.out = os.path.join(tmp, "adv")
        self.mnt = os.path.join(tmp, "mnt")

    def check(self, name, problems, note=""):
        return self.r.check(name, problems, note)

    # ------------------------------------------------------------ setup
    def generate(self):
        self.truth = common.generate(self.r, self.repo, "make-adversarial.py", self.out,
                                     timeout=120)
        if self.truth is None:
            return False
        self.source = self.truth["source"]
        self.files = self.truth["files"]
        self.by_path = {os.fsencode(f["path"]): f for f in self.files}
        self.snap_before = {d: snapshot(d) for d in (self.source, self.truth["outside"])}
        return True

    def mount(self):
        t0 = time.monotonic()
        self.m = ml.Mount(self.exe, self.source, self.mnt, log_dir=self.tmp,
                          args=["-o", "noindex"]).start()
        status = wait_scan_done(self.mnt)
        self.check("mount and scan: `scan: done` in .dicomfs/status",
                   [] if status else [common.scan_wait_problem()],
                   f"{time.monotonic() - t0:.1f} s")
        return status is not None

    def load_tables(self):
        header, rows = read_tsv_bytes(os.path.join(self.mnt, ".dicomfs", "instances.tsv"))
        self.inst_rows = rows
        self.inst_by_source = {}
        for r in rows:
            self.inst_by_source.setdefault(r.get(b"SourcePath", b""), []).append(r)
        self.errors = self.read_errors()

    def read_errors(self):
        """{path: [reasons]} of errors.tsv, without the notes about files that
        are in the tree (duplicate SOP Instance UIDs)."""
        _, rows = read_tsv_bytes(os.path.join(self.mnt, ".dicomfs", "errors.tsv"))
        out = {}
        for r in rows:
            reason = r.get(b"reason", b"")
            if reason.startswith(b"duplicate SOP Instance UID"):
                continue
            out.setdefault(r.get(b"path", b""), []).append(reason)
        return out

    def instance_rows(self, rel):
        return self.inst_by_source.get(norm_cell(os.fsencode(rel)), [])

    def error_lines(self, rel, errors=None):
        """errors.tsv lines for rel or a folder above it."""
        errors = self.errors if errors is None else errors
        p = norm_cell(os.fsencode(rel))
        found = []
        while p:
            found += errors.get(p, [])
            p = p.rpartition(b"/")[0]
        return found

    def folder(self, row):
        return os.path.join(os.fsencode(self.mnt), row[b"path"])

    # ------------------------------------------------------------ 1, 2, 3: per file
    def check_files(self):
        problems = {k: [] for k in ("good", "present", "pixel-error", "bad-pixels", "damaged",
                                    "error", "either", "not-instance", "alias")}
        counts = {k: 0 for k in problems}
        self.pixel_failures = []  # (rel, file) that answered EIO: need a line in errors.tsv
        self.damaged = []  # (file, N of its header.txt): need their line in errors.tsv
        for f in self.files:
            kind = f["kind"]
            counts[kind] += 1
            try:
                problems[kind] += getattr(self, "file_" + kind.replace("-", "_"))(f)
            except Exception:  # noqa: BLE001 - reported as the file's problem
                problems[kind].append(f"{f['path']!r}: {traceback.format_exc(limit=3)}")
        errors_after = self.read_errors()
        broken = []
        for table in ("errors.tsv", "instances.tsv"):
            data = ml.read_bytes(os.path.join(self.mnt, ".dicomfs", table))
            lines = data.split(b"\n")
            cells = lines[0].count(b"\t")
            broken += [f"{table} line {n}: {line[:120]!r}" for n, line in enumerate(lines[1:-1], 2)
                       if line.count(b"\t") != cells]
            if not data.endswith(b"\n"):
                broken.append(f"{table}: no final newline")
        self.check("2 errors.tsv and instances.tsv: every line has the header's cells "
                   "(names with tabs and newlines cleaned)", broken)
        unlisted = [f"{rel!r}: {name} gave EIO, no line in errors.tsv"
                    for rel, name in self.pixel_failures if not self.error_lines(rel, errors_after)]
        for f, at in self.damaged:
            problems["damaged"] += self.damage_line_problems(f, at, errors_after)
        self.errors = errors_after
        for kind, title in (
                ("good", "1 good files: in the tree once, SOPInstanceUID, instance.dcm, header.json, pixels"),
                ("present", "2 valid headers with odd pixels: in the tree; pixel files read or EIO with a line"),
                ("pixel-error", "2 lying pixels and codestreams: in the tree, pixel files EIO, lines in errors.tsv"),
                ("bad-pixels", "2 cut in Pixel Data: EIO on pixel files, or absent with a line"),
                ("damaged", "2 damaged files: in the tree with what was read, 'damaged at byte N' in "
                 "errors.tsv and at the end of header.txt, no pixel files"),
                ("error", "2 bad files: absent from the tree, a line with a reason in errors.tsv"),
                ("either", "2 doubtful files: in the tree or in errors.tsv, exactly one (or "
                 "damaged: both)"),
                ("not-instance", "3 links, FIFOs, devices, sockets: never instances, a line each"),
                ("alias", "3 links to a file inside: the file is one instance, other paths a line")):
            self.check(title, problems[kind], f"{counts[kind]} entries")
        self.check("2 every pixel file that gave EIO has its line in errors.tsv", unlisted,
                   f"{len(self.pixel_failures)} EIOs")

    def common_present(self, f, rows):
        """Problems of an instance that is in the tree: one row, instance.dcm
        byte-equal (unless changed later)."""
        rel = f["path"]
        if len(rows) != 1:
            return [f"{rel!r}: {len(rows)} rows in instances.tsv"]
        if f.get("mutate"):
            return []
        folder = self.folder(rows[0])
        got, err = read_errno(os.path.join(folder, b"instance.dcm"))
        if err is not None:
            return [f"{rel!r}: instance.dcm: {os.strerror(err)}"]
        if got != source_bytes(self.source, rel):
            return [f"{rel!r}: instance.dcm differs from the source ({len(got)} bytes)"]
        return []

    def uid_problems(self, f, folder):
        uid = f.get("uid")
        got, err = read_errno(os.path.join(folder, b"tags", b"SOPInstanceUID"))
        if uid is None:
            return [] if err == errno.ENOENT or got in (b"", b"\n") else \
                [f"{f['path']!r}: tags/SOPInstanceUID {got!r}, pydicom reads none"]
        if got != uid.encode() + b"\n":
            return [f"{f['path']!r}: tags/SOPInstanceUID {got!r} "
                    f"({os.strerror(err) if err else ''}), pydicom {uid!r}"]
        return []

    def pixel_file_names(self, folder):
        try:
            names = os.listdir(folder)
        except OSError as e:
            return None, [f"listing {folder!r}: {e}"]
        return [n for n in PIXEL_FILES if os.fsencode(n) in names], []

    def file_good(self, f):
        rel = f["path"]
        rows = self.instance_rows(rel)
        aliases = f.get("aliases", [])
        if aliases and not rows:
            for alias in aliases:
                rows = rows or self.instance_rows(alias)
        problems = self.common_present(f, rows)
        if problems:
            return problems
        folder = self.folder(rows[0])
        problems += self.uid_problems(f, folder)
        if f.get("mutate"):
            return problems
        got, err = read_errno(os.path.join(folder, b"header.json"))
        try:
            json.loads(got)
        except (TypeError, ValueError) as e:
            problems.append(f"{rel!r}: header.json: {os.strerror(err) if err else e}")
        names, probs = self.pixel_file_names(folder)
        problems += probs
        want = pydicom_pixels(source_bytes(self.source, rel)) if names else None
        if f.get("pixels") == "native" and want is None:
            problems.append(f"{rel!r}: pydicom cannot decode it (the truth says it can)")
        must = want is not None or f.get("pixels") in ("native", "decodes")
        for name in names or []:
            got, err = read_errno(os.path.join(folder, os.fsencode(name)))
            if err is not None:
                if must or err != errno.EIO:
                    problems.append(f"{rel!r}: {name}: {os.strerror(err)}")
                else:
                    self.pixel_failures.append((rel, name))
                continue
            if name == "image.png" and not got.startswith(b"\x89PNG\r\n\x1a\n"):
                problems.append(f"{rel!r}: image.png is no PNG")
            if name == "pixels.raw" and want is not None and got != want:
                problems.append(f"{rel!r}: pixels.raw ({len(got)} bytes) differs from "
                                f"pydicom's pixel_array ({len(want)} bytes)")
        if f.get("pixels") and names is not None and "pixels.raw" not in names:
            problems.append(f"{rel!r}: no pixels.raw")
        return problems

    def file_present(self, f):
        rel = f["path"]
        rows = self.instance_rows(rel)
        problems = self.common_present(f, rows)
        if problems:
            return problems
        folder = self.folder(rows[0])
        problems += self.uid_problems(f, folder)
        names, probs = self.pixel_file_names(folder)
        problems += probs
        for name in (names or []) + ["pixels.txt", "header.txt", "header.json"]:
            path = os.path.join(folder, os.fsencode(name))
            if not os.path.lexists(path):
                continue
            got, err = read_errno(path)
            if err is not None:
                if name in PIXEL_FILES or name == "pixels.txt":
                    if err != errno.EIO:
                        problems.append(f"{rel!r}: {name}: {os.strerror(err)}, expected EIO")
                    self.pixel_failures.append((rel, name))
                else:
                    problems.append(f"{rel!r}: {name}: {os.strerror(err)}")
            elif name == "pixels.raw" and f.get("pixels") == "native":
                want = pydicom_pixels(source_bytes(self.source, rel))
                if want is not None and got != want:
                    problems.append(f"{rel!r}: pixels.raw ({len(got)} bytes) differs from "
                                    f"pydicom's ({len(want)} bytes)")
        return problems

    def expect_eio(self, f, folder):
        """The pixel files give EIO; or, where pydicom decodes the same bytes
        (a cut past what the frames need), pixels.raw is its pixel_array."""
        problems = []
        want = None
        names = [(n, False) for n in f.get("eio", PIXEL_FILES)]
        names += [(n, True) for n in f.get("eio_if_listed", [])]
        for name, optional in names:
            path = os.path.join(folder, os.fsencode(name))
            if optional and not os.path.lexists(path):
                continue
            got, err = read_errno(path, 1 << 20)
            if err == errno.EIO:
                self.pixel_failures.append((f["path"], name))
                continue
            if err is None and name in PIXEL_FILES:
                if want is None:
                    want = pydicom_pixels(source_bytes(self.source, f["path"])) or b""
                if want and (name == "image.png" or got == want):
                    continue
            problems.append(f"{f['path']!r}: {name}: " +
                            (f"{len(got)} bytes read" if err is None else os.strerror(err)) +
                            ", expected EIO" + (" (pydicom decodes it, differently)" if want else ""))
        return problems

    def file_pixel_error(self, f):
        rows = self.instance_rows(f["path"])
        problems = self.common_present(f, rows)
        if problems:
            return problems
        folder = self.folder(rows[0])
        return self.uid_problems(f, folder) + self.expect_eio(f, folder)

    def file_bad_pixels(self, f):
        rows = self.instance_rows(f["path"])
        if not rows:
            return self.file_error(f)
        problems = self.common_present(f, rows)
        return problems or self.expect_eio(f, self.folder(rows[0]))

    def file_error(self, f):
        rel = f["path"]
        problems = []
        if self.instance_rows(rel):
            problems.append(f"{rel!r} ({f['what']}) is in the tree")
        lines = self.error_lines(rel)
        if not lines:
            problems.append(f"{rel!r} ({f['what']}): no line in errors.tsv")
        elif not all(x.strip() for x in lines):
            problems.append(f"{rel!r}: an empty reason in errors.tsv")
        elif any(b"damaged at byte" in x for x in lines):
            problems.append(f"{rel!r} ({f['what']}): not in the tree, but errors.tsv says "
                            f"{lines[0][:160]!r}")
        return problems

    def header_damage(self, f, folder):
        """(N of the '# damaged at byte N' line header.txt ends with, or
        None; problems)."""
        got, err = read_errno(os.path.join(folder, b"header.txt"))
        if err is not None:
            return None, [f"{f['path']!r}: header.txt: {os.strerror(err)}"]
        last = got.rstrip(b"\n").rpartition(b"\n")[2]
        m = DAMAGED_LINE.match(last)
        if not m:
            return None, [f"{f['path']!r} ({f['what']}): header.txt ends with {last[:160]!r}"]
        return int(m.group(1)), []

    def damage_line_problems(self, f, at, errors):
        """errors.tsv has the file's 'damaged at byte N' line, N as its
        header.txt says (and as the truth says, where it knows)."""
        lines = errors.get(norm_cell(os.fsencode(f["path"])), [])
        found = [int(m.group(1)) for m in map(DAMAGED_REASON.match, lines) if m]
        if not found:
            return [f"{f['path']!r} ({f['what']}): no 'damaged at byte N: ... (shown with what "
                    f"could be read)' line in errors.tsv: {lines[:2]}"]
        want = f.get("damaged_at")
        if want is not None and found != [want]:
            return [f"{f['path']!r} ({f['what']}): errors.tsv says damaged at byte {found}, "
                    f"expected {want}"]
        if at is not None and at not in found:
            return [f"{f['path']!r}: errors.tsv says damaged at byte {found}, header.txt {at}"]
        return []

    def file_damaged(self, f):
        """In the tree with what could be read (tags/SOPInstanceUID as
        pydicom reads the bytes before the damage), header.txt ending with
        the damage, no pixel files; its errors.tsv line is checked once
        every file was read (damage a whole read finds adds its line)."""
        rel = f["path"]
        rows = self.instance_rows(rel)
        problems = self.common_present(f, rows)
        if problems:
            return problems
        folder = self.folder(rows[0])
        problems += self.uid_problems(f, folder)
        at, probs = self.header_damage(f, folder)
        problems += probs
        want = f.get("damaged_at")
        if at is not None and want is not None and at != want:
            problems.append(f"{rel!r} ({f['what']}): header.txt says damaged at byte {at}, "
                            f"expected {want}")
        names, probs = self.pixel_file_names(folder)
        problems += probs
        if names:
            problems.append(f"{rel!r} ({f['what']}): {names} listed, the Pixel Data is not whole")
        self.damaged.append((f, at))
        return problems

    def file_either(self, f):
        rel = f["path"]
        rows = self.instance_rows(rel)
        lines = self.errors.get(norm_cell(os.fsencode(rel)), [])
        if rows and lines and all(DAMAGED_REASON.match(x) for x in lines):
            # Damaged (issue 17): in the tree with what was read, and flagged.
            problems = self.common_present(f, rows)
            if problems or f.get("mutate"):
                return problems
            at, problems = self.header_damage(f, self.folder(rows[0]))
            return problems or self.damage_line_problems(f, at, self.errors)
        if rows and lines:
            return [f"{rel!r}: both in the tree and in errors.tsv: {lines[0][:160]!r}"]
        if rows:
            return self.common_present(f, rows)
        if not self.error_lines(rel):
            return [f"{rel!r} ({f['what']}): neither in the tree nor in errors.tsv"]
        return []

    def file_not_instance(self, f):
        rel = f["path"]
        problems = []
        if self.instance_rows(rel):
            problems.append(f"{rel!r} ({f['what']}) is an instance")
        if not self.errors.get(norm_cell(os.fsencode(rel))):
            problems.append(f"{rel!r} ({f['what']}): no line in errors.tsv")
        return problems

    def file_alias(self, f):
        rel, of = f["path"], f["of"]
        group = [of] + self.by_path[os.fsencode(of)].get("aliases", [])
        holders = [p for p in group if self.instance_rows(p)]
        if len(holders) != 1:
            return [f"{of!r} and its links: {len(holders)} instances ({holders})"]
        if holders[0] != rel and not self.errors.get(norm_cell(os.fsencode(rel))):
            return [f"{rel!r}: not the instance, and no line in errors.tsv"]
        return []

    # ------------------------------------------------------------ 4: names
    def check_names(self):
        """Walk everything (lstat of every entry): the names, and which
        entries cannot be stat'ed: only pixel files may answer EIO there (a
        size that cannot be known without the image)."""
        t0 = time.monotonic()
        entries, listings, problems = {}, {}, []
        stack, rootb, eio = [b""], os.fsencode(self.mnt), 0
        while stack:
            rel = stack.pop()
            try:
                names = [de.name for de in os.scandir(os.path.join(rootb, rel) if rel else rootb)]
            except OSError as e:
                problems.append(f"listing {rel!r}: {e}")
                continue
            listings[rel] = names
            for n in names:
                child = os.path.join(rel, n) if rel else n
                try:
                    st = os.lstat(os.path.join(rootb, child))
                except OSError as e:
                    pixel = n in (b"image.png", b"pixels.raw", b"pixels.txt") or \
                        os.path.basename(rel) == b"frames"
                    if e.errno == errno.EIO and pixel:
                        eio += 1
                    else:
                        problems.append(f"lstat {child!r}: {e.strerror}")
                    continue
                entries[child] = (stat.S_ISDIR(st.st_mode), st)
                if stat.S_ISDIR(st.st_mode):
                    stack.append(child)
        self.check("4 every entry can be stat'ed (pixel files may answer EIO)", problems,
                   f"{len(entries)} entries, {eio} pixel files EIO, {time.monotonic() - t0:.1f} s")
        problems = ml.name_problems(listings)
        for folder, names in listings.items():
            problems += [f"{os.fsdecode(folder)}/{n!r} listed" for n in names if n in (b".", b"..")]
        self.check("4 every name: UTF-8, <= 255 bytes, no '/', NUL, control character, "
                   "no '.' / '..', no leading '.'", problems, f"{len(listings)} folders")
        self.entries = entries

    # ------------------------------------------------------------ 5: outside
    def check_outside(self):
        problems = []
        outside = set(self.truth["outside_uids"])
        outside_bytes = []
        for dirpath, _, files in os.walk(self.truth["outside"]):
            for n in files:
                outside_bytes.append(ml.read_bytes(os.path.join(dirpath, n)))
        for r in self.inst_rows:
            if r.get(b"SOPInstanceUID", b"").decode("utf-8", "replace") in outside:
                problems.append(f"outside instance in the tree: {r[b'path']!r} from {r.get(b'SourcePath')!r}")
        changed_later = {r[b"path"] for f in self.files if f.get("mutate")
                         for r in self.instance_rows(f["path"])}
        for rel, (is_dir, st) in self.entries.items():
            if is_dir or os.path.basename(rel) != b"instance.dcm" or \
                    os.path.dirname(rel) in changed_later:
                continue  # (the files changed later are read for the first time then)
            got, err = read_errno(os.path.join(os.fsencode(self.mnt), rel))
            if got is not None and got in outside_bytes:
                problems.append(f"{rel!r} serves a file outside the source")
        uids = set()
        for rel, (is_dir, st) in self.entries.items():
            if not is_dir and rel.endswith(b"/tags/SOPInstanceUID"):
                got, _ = read_errno(os.path.join(os.fsencode(self.mnt), rel))
                uids.add((got or b"").decode("utf-8", "replace").strip())
        problems += [f"an outside UID under tags/: {u}" for u in sorted(uids & outside)]
        # Every instance.dcm is its own source file (rows found by source path).
        for r in self.inst_rows:
            src = r.get(b"SourcePath", b"")
            f = self.by_path.get(src)
            if f is None or f.get("mutate"):
                continue
            got, err = read_errno(os.path.join(self.folder(r), b"instance.dcm"))
            if got is not None and got != source_bytes(self.source, f["path"]):
                problems.append(f"{r[b'path']!r}: instance.dcm is not {src!r}")
        self.check("5 nothing outside SOURCE is reachable (UIDs, instance.dcm bytes, link paths)",
                   problems, f"{len(self.inst_rows)} instances")

    # ------------------------------------------------------------ 6: changed while mounted
    def check_mutations(self):
        src = self.source
        rows = {}
        for f in self.files:
            if f.get("mutate"):
                name = os.path.splitext(os.path.basename(f["path"]))[0]
                r = self.instance_rows(f["path"])
                if len(r) == 1:
                    rows[name] = (f, self.folder(r[0]))
        problems = []
        if len(rows) < 10:
            problems.append(f"only {len(rows)} of the files to change are in the tree")
        old = {n: source_bytes(src, f["path"]) for n, (f, _) in rows.items()}
        secret = ml.read_bytes(os.path.join(self.truth["outside"], "secret.dcm"))
        other = ml.read_bytes(os.path.join(src, "good", "g-explicit.dcm"))
        # Some are read first (their header and pixels cached), some not.
        for name in ("truncate-half", "replace-other", "replace-symlink-outside-read", "delete",
                     "rewrite-garbage"):
            if name in rows:
                for leaf in (b"tags/PatientName", b"image.png", b"pixels.raw"):
                    read_errno(os.path.join(rows[name][1], leaf))

        def path(name):
            return os.path.join(src, "mutate", name + ".dcm")

        changes = {
            "truncate-half": lambda p: os.truncate(p, len(old["truncate-half"]) // 2),
            "truncate-zero": lambda p: os.truncate(p, 0),
            "replace-other": lambda p: (shutil.copyfile(os.path.join(src, "good", "g-explicit.dcm"),
                                                        p + ".new"), os.rename(p + ".new", p)),
            "replace-symlink-outside": lambda p: (os.unlink(p), os.symlink(
                os.path.join(self.truth["outside"], "secret.dcm"), p)),
            "replace-symlink-outside-read": lambda p: (os.unlink(p), os.symlink(
                os.path.join(self.truth["outside"], "secret.dcm"), p)),
            "replace-fifo": lambda p: (os.unlink(p), os.mkfifo(p)),
            "replace-dir": lambda p: (os.unlink(p), os.mkdir(p)),
            "delete": os.unlink,
            "grow": lambda p: open(p, "ab").write(b"\0" * 100000),
            "rewrite-garbage": lambda p: open(p, "r+b").write(b"\xff" * 4096),
        }
        for name, change in changes.items():
            if name in rows:
                change(path(name))
        new = {}
        for name in rows:
            p = path(name)
            try:
                st = os.lstat(p)
            except FileNotFoundError:
                st = None
            new[name] = ml.read_bytes(p) if st and stat.S_ISREG(st.st_mode) else b""
            if name == "replace-symlink-outside" or name == "replace-symlink-outside-read":
                new[name] = b""  # nothing of the outside file may come through
        t0 = time.monotonic()
        reads = 0
        outcomes = {}
        for name, (f, folder) in rows.items():
            for leaf in (b"instance.dcm", b"tags/SOPInstanceUID", b"tags/PatientName",
                         b"header.txt", b"header.json", b"image.png", b"pixels.raw",
                         b"pixels.txt", b"tags"):
                p = os.path.join(folder, leaf)
                reads += 1
                try:
                    os.lstat(p)
                except OSError:
                    pass
                if leaf == b"tags":
                    try:
                        os.listdir(p)
                    except OSError:
                        pass
                    continue
                got, err = read_errno(p)
                if leaf == b"instance.dcm":
                    outcomes[name] = (errno.errorcode.get(err, str(err)) if got is None else
                                      "old" if got == old[name] else
                                      "new" if got == new[name] else f"{len(got)} bytes")
                if got is None:
                    continue  # EIO, ENOENT ...: a clear error is fine
                if len(got) > 300 and secret[:len(got)] == got:
                    problems.append(f"{name}: {leaf.decode()} serves the outside file")
                if leaf == b"instance.dcm":
                    o, n = old[name], new[name]
                    if not (o.startswith(got) or (n and n[:len(got)] == got and len(got) <= len(n))
                            or got == o[:len(got)]):
                        problems.append(f"{name}: instance.dcm ({len(got)} bytes) is neither the "
                                        f"old nor the new content")
                if leaf == b"tags/SOPInstanceUID":
                    import pydicom
                    want = {f["uid"]}
                    if new[name]:
                        try:
                            want.add(str(pydicom.dcmread(io.BytesIO(new[name]), force=True,
                                                         stop_before_pixels=True).SOPInstanceUID))
                        except Exception:  # noqa: BLE001 - no new UID to expect
                            pass
                    if got.decode("utf-8", "replace").strip() not in want:
                        problems.append(f"{name}: tags/SOPInstanceUID {got!r}, expected one of {want}")
        alive = self.m.alive()
        if not alive:
            problems.append(f"the daemon died: {self.m.log()[-500:]}")
        self.check("6 files truncated, replaced, deleted, grown, overwritten while mounted: "
                   "EIO, old or new content, never the outside file; the daemon lives",
                   problems, f"{len(rows)} files, {reads} reads, {time.monotonic() - t0:.1f} s; "
                   "instance.dcm: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
        self.mutated = {os.path.join("mutate", n + ".dcm") for n in changes}

    # ------------------------------------------------------------ 7: the end
    def finish(self):
        problems = [] if self.m.alive() else [f"dicomfs is not running: {self.m.log()[-500:]}"]
        if problems == []:
            got, err = read_errno(os.path.join(self.mnt, ".dicomfs", "status"))
            if err is not None:
                problems.append(f".dicomfs/status: {os.strerror(err)}")
        hwm = common.vm_hwm(self.m.pid)
        self.check("7 the daemon is alive after everything", problems,
                   f"peak RSS (VmHWM) {hwm / 1024:.0f} MiB" if hwm else "")
        self.check("7 unmount: clean exit", self.m.unmount())
        problems = []
        for d, before in self.snap_before.items():
            after = snapshot(d)
            for rel in list(before) + list(after):
                if rel in self.mutated or rel.startswith(tuple(m + "/" for m in self.mutated)):
                    before.pop(rel, None)
                    after.pop(rel, None)
            problems += ml.diff_snapshots(before, after)
        self.check("7 the source and outside/ unchanged (sha256, sizes, mtimes, modes, links)",
                   problems)

    def run(self):
        if not self.generate():
            return
        try:
            if not self.mount():
                return
            self.load_tables()
            self.check_files()
            self.check_names()
            self.check_outside()
            self.check_mutations()
            self.finish()
        finally:
            m = getattr(self, "m", None)
            if m is not None and m in ml.Mount.live and not m.alive():
                self.check("the daemon did not die", [f"dicomfs exited {m.proc.poll()}: log: "
                                                      + m.log()[-3000:]])


def main():
    return common.run_main(__doc__.split("\n\n")[-2], "dicomfs-adversarial.", WATCHDOG_SECONDS,
                           lambda report, exe, repo, tmp: AdversarialTest(report, exe, repo, tmp).run())


if __name__ == "__main__":
    sys.exit(main())
