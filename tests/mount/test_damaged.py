#!/usr/bin/python3
"""Damaged files in a real mount (issue 17): a file the reader can read only
part of is in the tree with what was read before the damage, flagged in
.dicomfs/errors.tsv, and its header.txt ends with the damage.

The source is made here, in a temporary folder, from pydicom's test files:
whole copies of CT_small, MR_small, rtdose (15 frames) and
SC_rgb_jpeg_dcmtk (JPEG), and copies damaged by a few bytes (each with its
own SOP Instance UID, the last digit changed, so that no two files share
one):

  a  CT_small with 3,000 zero bytes appended, and SC_rgb_rle_2frame with
     1,000: the Pixel Data is whole (pixel files present, pixels.raw equal
     to pydicom's pixel_array); the header-only scan cannot see the
     padding, a full read does: header.txt ends with
     '# damaged at byte N: ...' (CT_small's: after native Pixel Data the
     mount reads the rest; after encapsulated Pixel Data header.txt stays
     the header-only read, README "Damaged files"), errors.tsv has the line
     once the file was read whole (not before); N is the original file's
     size;
  b  MR_small cut in the middle of the Pixel Data value: in the tree, no
     pixel files (image.png, pixels.raw, pixels.txt, frames/), errors.tsv
     'damaged at byte N' with N where the Pixel Data element's header
     starts;
  c  a 2-byte length one too long: CT_small's PatientName (the issue's
     case: PatientID and the UIDs are lost) and MR_small's ImageType (its
     first data-set element: everything else is lost): in the tree under
     the placeholders of README "Names" for what was lost; N is where the
     misread next element header starts; tags/ holds exactly the elements
     wholly before the lengthened one, with the values dcmdump reads from
     the original file (and dcmdump +E shows them in the damaged one), and
     the lengthened element starting with its original value;
  d  CT_small with the second item of OtherPatientIDsSequence broken (its
     item tag replaced by a data element's): N is that item's header; the
     sequence keeps its first item, nothing after the sequence is shown;
  e  errors, never in the tree, a line in errors.tsv without 'damaged':
     a text file, DICM followed by garbage, and MR_small cut inside its
     first data-set element's header (no data-set element read).

Checked: every file is in the tree (instances.tsv SourcePath) or in
errors.tsv, damaged ones in both, with N as above and 'shown with what
could be read'; the folder names; header.txt's last line; tags/ of every
damaged instance against dcmdump of the original file (up to the damage);
cat of every attribute file (instance and level tags/, sequence items),
header.json and instance.dcm of the damaged instances (no EIO); pixel files
present exactly where the Pixel Data is whole, pixels.raw equal to
pydicom's pixel_array; and a remount with the persistent index (-o
index=PATH, nothing read again) shows the same damage lines in errors.tsv.

usage: test_damaged.py DICOMFS SOURCE_ROOT
"""
import errno
import io
import json
import os
import re
import struct
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402

WATCHDOG_SECONDS = 280
CORPUS = "/usr/lib/python3/dist-packages/pydicom/data/test_files"
PIXEL_ENTRIES = ("image.png", "pixels.raw", "pixels.txt", "frames")
DAMAGED_LINE = re.compile(r"^# damaged at byte (\d+): (.+); the rest of the file could not be read$")
DAMAGED_REASON = re.compile(r"^damaged at byte (\d+): (.+) \(shown with what could be read\)$")
SUFFIX = r"( \(\d+\))?"  # " (2)" ... for siblings of the same name (README "Names")


# --- the source ------------------------------------------------------------------

def corpus(name):
    return ml.read_bytes(os.path.join(CORPUS, name))


def new_uid(data, k):
    """data with its SOP Instance UID (File Meta and data set) given another
    last digit, k steps on (same length: no offset moves)."""
    import pydicom
    uid = str(pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).SOPInstanceUID)
    other = uid[:-1] + str((int(uid[-1]) + k) % 10)
    old, new = uid.encode(), other.encode()
    assert data.count(old) == 2, (uid, data.count(old))
    return data.replace(old, new)


def explicit_element(data, tag, vr, start=0):
    """Offset of the explicit VR little endian element header (tag, vr)."""
    at = data.find(struct.pack("<HH2s", tag >> 16, tag & 0xFFFF, vr), start)
    assert at >= 0, hex(tag)
    return at


def lengthen(data, tag, vr):
    """(data with the 2-byte length of element tag one more, its offset,
    the offset of the misread header after it)."""
    at = explicit_element(data, tag, vr)
    n = struct.unpack("<H", data[at + 6:at + 8])[0]
    out = bytearray(data)
    out[at + 6:at + 8] = struct.pack("<H", n + 1)
    return bytes(out), at, at + 8 + n + 1


def data_set_start(data):
    """Offset of the first data-set element (after the File Meta)."""
    from pydicom.filereader import _read_file_meta_info
    fp = io.BytesIO(data)
    fp.seek(132)
    _read_file_meta_info(fp)
    return fp.tell()


class Case:
    """One source file: rel (under SOURCE), its bytes, what it must give.
    kind: 'whole', 'damaged' (the scan sees it), 'damaged-full' (only a
    full read sees it), 'error'.  original: the undamaged bytes the shown
    elements are compared with; at: N; pixels: whether pixel files must be
    there; names: the folder names (patient, study, series, instance),
    each with or without a " (N)" suffix, or None; same_series_as: a whole case whose series folder
    it shares (same UIDs); lengthened: the tag read one byte too long."""

    def __init__(self, rel, data, kind, what, original=None, at=None, pixels=False,
                 names=None, same_series_as=None, lengthened=None, native=True, frames=False):
        self.rel, self.data, self.kind, self.what = rel, data, kind, what
        self.original, self.at, self.pixels = original, at, pixels
        self.names, self.same_series_as, self.lengthened = names, same_series_as, lengthened
        self.native, self.frames = native, frames
        self.row = None  # its instances.tsv row once mounted


def make_cases():
    cases = []
    ct, mr = corpus("CT_small.dcm"), corpus("MR_small.dcm")
    for name, frames, native in (("CT_small.dcm", False, True), ("MR_small.dcm", False, True),
                                 ("rtdose.dcm", True, True), ("SC_rgb_jpeg_dcmtk.dcm", False, False)):
        cases.append(Case("whole/" + name, corpus(name), "whole", "pydicom's " + name,
                          original=corpus(name), pixels=True, native=native, frames=frames))
    # a: zero padding after the data set (after the Pixel Data value).
    ct_a = new_uid(ct, 1)
    cases.append(Case("damaged/ct-zero-padding.dcm", ct_a + bytes(3000), "damaged-full",
                      "CT_small + 3,000 zero bytes", original=ct_a, at=len(ct_a), pixels=True,
                      same_series_as="whole/CT_small.dcm"))
    rle = new_uid(corpus("SC_rgb_rle_2frame.dcm"), 1)
    cases.append(Case("damaged/rle-2frame-zero-padding.dcm", rle + bytes(1000), "damaged-full",
                      "SC_rgb_rle_2frame + 1,000 zero bytes (encapsulated, whole)", original=rle,
                      at=len(rle), pixels=True, frames=True, native=False))
    # b: native Pixel Data cut in its value.
    mr_b = new_uid(mr, 1)
    px = mr_b.rfind(struct.pack("<HH2s", 0x7FE0, 0x0010, b"OW"))
    assert px > 0
    cut = px + 12 + (len(mr_b) - px - 12) // 2
    cases.append(Case("damaged/mr-pixel-data-cut.dcm", mr_b[:cut], "damaged",
                      "MR_small cut in the middle of its Pixel Data value", original=mr_b, at=px,
                      same_series_as="whole/MR_small.dcm"))
    # c: a 2-byte length one too long.
    ct_c = new_uid(ct, 2)
    data, _, n = lengthen(ct_c, 0x00100010, b"PN")
    cases.append(Case("damaged/ct-patientname-one-too-long.dcm", data, "damaged",
                      "CT_small, PatientName's length one too long", original=ct_c, at=n,
                      lengthened=0x00100010,
                      names=("CompressedSamples^CT1 [no ID]", "2004-01-19 e+1",
                                  "(no number) CT", "(no number)")))
    mr_c = new_uid(mr, 2)
    data, at, n = lengthen(mr_c, 0x00080008, b"CS")
    assert at == data_set_start(mr_c), "ImageType is not MR_small's first data-set element"
    cases.append(Case("damaged/mr-imagetype-one-too-long.dcm", data, "damaged",
                      "MR_small, ImageType's (its first element's) length one too long",
                      original=mr_c, at=n, lengthened=0x00080008,
                      names=("(no name) [no ID]", "(no date)", "(no number) (no modality)",
                                  "(no number)")))
    # d: a broken item in a sequence (OtherPatientIDsSequence, two items).
    ct_d = new_uid(ct, 3)
    sq = explicit_element(ct_d, 0x00101002, b"SQ")
    first = sq + 12
    assert ct_d[first:first + 4] == b"\xfe\xff\x00\xe0"
    second = first + 8 + struct.unpack("<I", ct_d[first + 4:first + 8])[0]
    assert ct_d[second:second + 4] == b"\xfe\xff\x00\xe0"
    out = bytearray(ct_d)
    out[second:second + 4] = struct.pack("<HH", 0x0010, 0x0020)
    cases.append(Case("damaged/ct-broken-item.dcm", bytes(out), "damaged",
                      "CT_small, OtherPatientIDsSequence's second item tag replaced by (0010,0020)",
                      original=ct_d, at=second,
                      names=("CompressedSamples^CT1 [1CT1]", "2004-01-19 e+1",
                                  "(no number) CT", "(no number)")))
    # e: errors.
    cases.append(Case("errors/not-dicom.dcm", b"This is not a DICOM file, only text.\n" * 40,
                      "error", "a text file"))
    cases.append(Case("errors/dicm-then-garbage.dcm",
                      bytes(128) + b"DICM" + bytes(range(255, -1, -1)) * 2, "error",
                      "a preamble, DICM and 512 bytes of garbage"))
    mr_e = new_uid(mr, 3)
    cases.append(Case("errors/mr-cut-in-first-element.dcm", mr_e[:data_set_start(mr_e) + 6],
                      "error", "MR_small cut 6 bytes into its first data-set element (no "
                      "data-set element read)"))
    return cases


def write_source(cases, source):
    for c in cases:
        path = os.path.join(source, c.rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(c.data)


# --- the oracles -----------------------------------------------------------------

def top_level_ranges(data):
    """{tag: (start, end)} of the top-level data-set elements, as pydicom
    reads them."""
    import pydicom
    from pydicom.filereader import data_element_generator
    start = data_set_start(data) if data[128:132] == b"DICM" else 0
    ds = pydicom.dcmread(io.BytesIO(data), force=True, stop_before_pixels=True)
    fp = io.BytesIO(data)
    fp.seek(start)
    out = {}
    gen = data_element_generator(fp, ds.is_implicit_VR, ds.is_little_endian)
    while True:
        pos = fp.tell()
        try:
            e = next(gen)
        except StopIteration:
            break
        out[int(e.tag)] = (pos, fp.tell())
    return out


def item_ranges(data, sq_start):
    """[(start, end)] of the items of the explicit VR little endian sequence
    of defined length at sq_start, and of defined-length items."""
    length = struct.unpack("<I", data[sq_start + 8:sq_start + 12])[0]
    assert length != 0xFFFFFFFF
    out, p, end = [], sq_start + 12, sq_start + 12 + length
    while p < end:
        assert data[p:p + 4] == b"\xfe\xff\x00\xe0"
        n = struct.unpack("<I", data[p + 4:p + 8])[0]
        out.append((p, p + 8 + n))
        p += 8 + n
    return out


def dcmdump_ignoring_errors(path):
    """dcmdump +E (+Ep, --ignore-parse-errors) records of a damaged file:
    what DCMTK reads even though it exits non-zero.  Text as stored (no
    +U8, which relabels (0008,0005)); text in a character set is compared
    from pydicom instead."""
    rc, out, err = ml.run(["dcmdump", "-q", "+E", "-Un", "+L", path])
    return ml.parse_dcmdump(out.decode("utf-8", "surrogateescape"))


def name_of(tag):
    from pydicom.datadict import keyword_for_tag
    kw = "" if (tag >> 16) & 1 else keyword_for_tag(tag)
    return kw or f"{tag:08X}"


def where_of(rec):
    parts = []
    for seq, item in rec.path:
        parts += [name_of(seq), str(item)]
    return "/".join(parts + [name_of(rec.tag)])


def pydicom_pixels(data):
    """pydicom's pixel_array as pixels.raw holds it (stored values, little
    endian, samples interleaved)."""
    import numpy as np
    import pydicom
    arr = pydicom.dcmread(io.BytesIO(data), force=True).pixel_array
    return np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()


# --- the mount -------------------------------------------------------------------

def read_or_errno(path):
    try:
        return ml.read_bytes(path), None
    except OSError as e:
        return None, e.errno


def damage_lines(mnt):
    """{path: [reasons]} of errors.tsv (duplicate-UID notes left out)."""
    _, rows, problems = ml.read_tsv(os.path.join(mnt, ".dicomfs", "errors.tsv"))
    out = {}
    for r in rows:
        if r["reason"].startswith("duplicate SOP Instance UID"):
            continue
        out.setdefault(r["path"], []).append(r["reason"])
    return out, problems


def instance_rows(mnt):
    _, rows, problems = ml.read_tsv(os.path.join(mnt, ".dicomfs", "instances.tsv"))
    by_source = {}
    for r in rows:
        by_source.setdefault(r["SourcePath"], []).append(r)
    return by_source, problems


class DamagedTest:
    def __init__(self, report, exe, tmp):
        self.r, self.exe, self.tmp = report, exe, tmp
        self.source = os.path.join(tmp, "source")
        self.orig = os.path.join(tmp, "originals")
        self.mnt = os.path.join(tmp, "mnt")
        self.index = os.path.join(tmp, "cache", "index.sqlite")

    def check(self, name, problems, note=""):
        return self.r.check(name, problems, note)

    def folder(self, c):
        return os.path.join(self.mnt, c.row["path"])

    def mount(self):
        return ml.Mount(self.exe, self.source, self.mnt,
                        args=["-o", f"index={self.index}"]).start()

    # --- setup
    def setup(self):
        self.cases = make_cases()
        write_source(self.cases, self.source)
        os.makedirs(self.orig)
        for c in self.cases:
            if c.original is not None:
                c.orig_path = os.path.join(self.orig, c.rel.replace("/", "_"))
                with open(c.orig_path, "wb") as f:
                    f.write(c.original)
        self.by_rel = {c.rel: c for c in self.cases}
        self.check("setup: the source folder", [],
                   f"{len(self.cases)} files: " + ", ".join(
                       f"{sum(c.kind == k for c in self.cases)} {k}"
                       for k in ("whole", "damaged", "damaged-full", "error")))

    # --- the tables
    def check_tables(self, label, before_full_reads=True):
        """before_full_reads: no file was read whole yet on this mount's
        index (a line for damage only a full read sees would be early)."""
        rows, problems = instance_rows(self.mnt)
        lines, more = damage_lines(self.mnt)
        problems += more
        for c in self.cases:
            got = rows.get(c.rel, [])
            mine = lines.get(c.rel, [])
            shown = c.kind != "error"
            if shown and len(got) != 1:
                problems.append(f"{c.rel} ({c.what}): {len(got)} rows in instances.tsv, expected 1")
            if not shown and got:
                problems.append(f"{c.rel} ({c.what}): in the tree ({got[0]['path']})")
            if got:
                c.row = got[0]
            if c.kind == "error":
                if not mine:
                    problems.append(f"{c.rel} ({c.what}): no line in errors.tsv")
                elif any("damaged" in x for x in mine):
                    problems.append(f"{c.rel} ({c.what}): an error said damaged: {mine}")
            elif c.kind == "whole":
                if mine:
                    problems.append(f"{c.rel}: a whole file has lines in errors.tsv: {mine}")
            elif c.kind == "damaged":
                problems += self.line_problems(c, mine)
            elif c.kind == "damaged-full" and mine and before_full_reads:
                problems.append(f"{c.rel} ({c.what}): a line before the file was read whole "
                                f"(the scan reads headers only): {mine}")
        extra = sorted(set(lines) - set(self.by_rel))
        extra += sorted(set(rows) - set(self.by_rel))
        if extra:
            problems.append(f"paths that are no source file: {extra}")
        self.check(f"{label}: every file in instances.tsv (SourcePath) or errors.tsv; damaged "
                   f"ones (seen by the scan) in both, 'damaged at byte N: ... (shown with what "
                   f"could be read)' with N where the damage starts", problems,
                   f"{sum(len(v) for v in rows.values())} instances, "
                   f"{sum(len(v) for v in lines.values())} lines in errors.tsv")
        return rows, lines

    @staticmethod
    def line_problems(c, mine):
        if len(mine) != 1:
            return [f"{c.rel} ({c.what}): {len(mine)} lines in errors.tsv, expected one: {mine}"]
        m = DAMAGED_REASON.match(mine[0])
        if not m:
            return [f"{c.rel} ({c.what}): errors.tsv says {mine[0]!r}"]
        if int(m.group(1)) != c.at:
            return [f"{c.rel} ({c.what}): damaged at byte {m.group(1)}, expected {c.at}: {mine[0]!r}"]
        return []

    # --- names
    def check_names(self):
        problems = []
        for c in self.cases:
            if c.row is None:
                continue
            parts = c.row["path"].split("/")
            if c.names is not None:
                if len(parts) != 4 or not all(re.fullmatch(re.escape(want) + SUFFIX, got)
                                              for want, got in zip(c.names, parts)):
                    problems.append(f"{c.rel} ({c.what}): at {c.row['path']!r}, expected "
                                    f"{'/'.join(c.names)!r}")
            if c.same_series_as:
                other = self.by_rel[c.same_series_as].row
                if other is None or os.path.dirname(other["path"]) != os.path.dirname(c.row["path"]):
                    problems.append(f"{c.rel}: at {c.row['path']!r}, not in the series of "
                                    f"{c.same_series_as} ({other and other['path']!r})")
            if not os.path.isdir(self.folder(c)):
                problems.append(f"{c.rel}: {c.row['path']!r} is not a folder in the mount")
        self.check("damaged files are named from what was read: placeholders for the lost "
                   "PatientID, UIDs and numbers (README \"Names\"); a file whose UIDs were "
                   "read is in its series", problems)

    # --- header.txt
    def check_headers(self):
        problems = []
        for c in self.cases:
            if c.row is None:
                continue
            got, err = read_or_errno(os.path.join(self.folder(c), "header.txt"))
            if err is not None:
                problems.append(f"{c.rel}: header.txt: {os.strerror(err)}")
                continue
            text = got.decode("utf-8", "replace")
            lines = text.split("\n")
            if not text.endswith("\n"):
                problems.append(f"{c.rel}: header.txt has no final newline: {lines[-1][-80:]!r}")
            else:
                lines.pop()
            last = lines[-1] if lines else ""
            damaged = [x for x in lines if x.startswith("# damaged")]
            if c.kind == "whole" or (c.kind == "damaged-full" and not c.native):
                # Encapsulated Pixel Data: header.txt is the header-only read
                # (README "Damaged files"), which cannot see past it.
                if damaged:
                    problems.append(f"{c.rel}: header.txt of a file whose header is whole says "
                                    f"{damaged[0]!r}")
                continue
            m = DAMAGED_LINE.match(last)
            if not m:
                problems.append(f"{c.rel} ({c.what}): header.txt ends with {last[:160]!r}")
            elif int(m.group(1)) != c.at:
                problems.append(f"{c.rel} ({c.what}): header.txt: damaged at byte {m.group(1)}, "
                                f"expected {c.at}")
            if len(damaged) != 1:
                problems.append(f"{c.rel}: {len(damaged)} '# damaged' lines in header.txt")
        self.check("header.txt of a damaged file ends with '# damaged at byte N: REASON; the rest "
                   "of the file could not be read' (N where the damage starts); a whole file's "
                   "has no such line", problems)

    def check_full_read_lines(self, label):
        """Once read whole (header.txt, pixels.raw): the damage only a full
        read sees is in errors.tsv too."""
        for c in self.cases:
            if c.kind == "damaged-full" and c.row is not None:
                for name in ("header.txt", "pixels.raw"):
                    read_or_errno(os.path.join(self.folder(c), name))
        lines, problems = damage_lines(self.mnt)
        for c in self.cases:
            if c.kind == "damaged-full":
                problems += self.line_problems(c, lines.get(c.rel, []))
        self.check(f"{label}: damage after the Pixel Data (zero padding) has its errors.tsv line "
                   f"once the file was read whole (header.txt, pixels.raw)", problems)
        return lines

    # --- every file of a damaged instance reads
    def check_reads(self):
        problems, n = [], 0
        for c in self.cases:
            if c.row is None or c.kind == "whole":
                continue
            folder = self.folder(c)
            paths = [os.path.join(folder, x) for x in ("header.txt", "header.json", "instance.dcm")]
            for d in (folder, os.path.dirname(folder), os.path.dirname(os.path.dirname(folder)),
                      os.path.dirname(os.path.dirname(os.path.dirname(folder)))):
                tags = os.path.join(d, "tags")
                for dirpath, dirnames, filenames in os.walk(tags):
                    paths += [os.path.join(dirpath, f) for f in filenames]
            for p in paths:
                got, err = read_or_errno(p)
                n += 1
                if err is not None:
                    problems.append(f"{os.path.relpath(p, self.mnt)}: {os.strerror(err)}")
                elif p.endswith("instance.dcm") and got != c.data:
                    problems.append(f"{c.rel}: instance.dcm ({len(got)} bytes) is not the source "
                                    f"file ({len(c.data)} bytes)")
                elif p.endswith("header.json"):
                    try:
                        json.loads(got)
                    except ValueError as e:
                        problems.append(f"{c.rel}: header.json: {e}")
            if not os.path.isdir(os.path.join(folder, "tags")):
                problems.append(f"{c.rel}: no tags/ folder")
        self.check("cat of every attribute file (instance, series, study and patient tags/, "
                   "sequence items), header.txt, header.json (JSON) and instance.dcm (the "
                   "source bytes) of the damaged instances: no EIO", problems, f"{n} files")

    # --- tags/ against dcmdump of the original, up to the damage
    def expected_records(self, c):
        """dcmdump records of the original file that the damaged one shows:
        the File Meta, top-level elements wholly before N (for a sequence
        N falls in: its items wholly before N); the Pixel Data is no
        attribute file."""
        recs, converted = ml.dcmdump_records(c.orig_path)
        ranges = top_level_ranges(c.original)
        cut_items = {}
        for tag, (s, e) in ranges.items():
            if s < c.at < e and c.original[s + 4:s + 6] == b"SQ":
                cut_items[tag] = sum(1 for _, ie in item_ranges(c.original, s) if ie <= c.at)
        keep = []
        for rec in recs:
            if rec.tag == ml.PIXEL_DATA and not rec.path:
                continue
            top = rec.path[0][0] if rec.path else rec.tag
            if top >> 16 == 2 and not rec.path:
                keep.append(rec)
                continue
            if top not in ranges:
                raise RuntimeError(f"{c.rel}: dcmdump's ({top >> 16:04X},{top & 0xFFFF:04X}) "
                                   "not found by pydicom")
            s, e = ranges[top]
            if e <= c.at:
                keep.append(rec)
            elif top in cut_items:
                if not rec.path:
                    rec.items = cut_items[top]
                    keep.append(rec)
                elif rec.path[0][1] <= cut_items[top]:
                    keep.append(rec)
        return keep, converted

    def check_tags(self):
        import pydicom
        problems, listing, oracle, notes = [], [], [], []
        n_values = 0
        for c in self.cases:
            if c.row is None or c.kind == "whole" or c.original is None:
                continue
            folder = self.folder(c)
            try:
                recs, converted = self.expected_records(c)
            except (RuntimeError, ValueError, AssertionError) as e:
                problems.append(f"{c.rel}: the oracle: {e}")
                continue
            ds = pydicom.dcmread(c.orig_path, force=True)
            expected = {"": []}
            for rec in recs:
                rel = where_of(rec)
                parent = os.path.dirname(rel)
                expected.setdefault(parent, []).append(os.path.basename(rel))
                full = os.path.join(folder, "tags", rel)
                if rec.vr == "SQ":
                    expected.setdefault(rel, [])
                    expected[rel] += [str(i) for i in range(1, rec.items + 1)]
                    for i in range(1, rec.items + 1):
                        expected.setdefault(f"{rel}/{i}", [])
                    if not os.path.isdir(full):
                        problems.append(f"{c.rel}: tags/{rel}: not a folder")
                    continue
                got, err = read_or_errno(full)
                if err is not None:
                    problems.append(f"{c.rel}: tags/{rel}: {os.strerror(err)}")
                    continue
                n_values += 1
                content = got.decode("utf-8", "replace")
                ours = content[:-1] if content.endswith("\n") else content
                if rec.tag == c.lengthened and not rec.path:
                    theirs = ml.pydicom_text(ml.pydicom_element(ds, rec.key())).rstrip(" \0")
                    if not ours.startswith(theirs):
                        problems.append(f"{c.rel}: tags/{rel} (read one byte too long) is "
                                        f"{ours!r}, does not start with the original {theirs!r}")
                    continue
                if rec.vr in ml.CHARSET_VRS or (not converted and rec.vr in ml.TEXT_VRS):
                    theirs = ml.pydicom_text(ml.pydicom_element(ds, rec.key()))
                    if ml.split_values(rec.vr, theirs) != ml.split_values(rec.vr, ours):
                        problems.append(f"{c.rel}: tags/{rel}: ours {ours!r}, pydicom {theirs!r}")
                    continue
                bad = ml.compare_value(rec.vr, rec.value, ours, rec.length)
                if bad:
                    problems.append(f"{c.rel}: tags/{rel}: {bad}")
            for rel, names in expected.items():
                full = os.path.join(folder, "tags", rel)
                try:
                    listed = os.listdir(full)
                except OSError as e:
                    listing.append(f"{c.rel}: tags/{rel}: {e}")
                    continue
                if sorted(listed) != sorted(names):
                    listing.append(f"{c.rel}: tags/{rel}: missing "
                                   f"{sorted(set(names) - set(listed))[:8]}, not expected "
                                   f"{sorted(set(listed) - set(names))[:8]}")
            if c.lengthened is not None:
                # DCMTK on the damaged file: what it shows before the
                # lengthened element is what the original has there.
                try:
                    theirs = dcmdump_ignoring_errors(os.path.join(self.source, c.rel))
                except ValueError as e:
                    oracle.append(f"{c.rel}: dcmdump +E: {e}")
                    continue
                before = []
                for rec in theirs:
                    if not rec.path and rec.tag == c.lengthened:
                        break
                    if not rec.path:
                        before.append(rec)
                ours_top = {r.tag: r for r in recs if not r.path and r.tag != c.lengthened}
                shown = {r.tag: r for r in before}
                for tag, r in ours_top.items():
                    if r.vr == "SQ":
                        continue
                    t = shown.get(tag)
                    if t is None:
                        oracle.append(f"{c.rel}: ({tag >> 16:04X},{tag & 0xFFFF:04X}) is before "
                                      f"the damage but dcmdump +E does not show it")
                    elif r.vr not in ml.CHARSET_VRS and ml.compare_value(r.vr, t.value, r.value, t.length):
                        oracle.append(f"{c.rel}: ({tag >> 16:04X},{tag & 0xFFFF:04X}): dcmdump +E "
                                      f"{t.value[:60]!r}, the original {r.value[:60]!r}")
                garbage = sorted(set(shown) - set(ours_top))
                if garbage:
                    notes.append(f"{c.rel}: dcmdump +E sorts {len(garbage)} misread elements "
                                 f"in before it")
        self.check("tags/ of the damaged instances: the File Meta and every element wholly "
                   "before the damage with dcmdump's value of the original file (pydicom's for "
                   "text in a character set); the element read one byte too long starts with "
                   "its original value", problems, f"{n_values} values")
        self.check("ls tags/ of the damaged instances: exactly those elements, a cut sequence "
                   "with the items wholly before the damage, nothing after it", listing)
        self.check("dcmdump +E of the files with a length one too long shows every element "
                   "before it as in the original file (the oracle agrees)", oracle,
                   "; ".join(notes))

    # --- pixels
    def check_pixels(self):
        problems, compared = [], 0
        for c in self.cases:
            if c.row is None:
                continue
            folder = self.folder(c)
            names = set(os.listdir(folder))
            present = sorted(names & set(PIXEL_ENTRIES))
            if not c.pixels:
                if present:
                    problems.append(f"{c.rel} ({c.what}): {present} listed, the Pixel Data is "
                                    f"not whole")
                for n in PIXEL_ENTRIES:
                    got, err = read_or_errno(os.path.join(folder, n))
                    if err != errno.ENOENT and not (n == "frames" and err == errno.EISDIR):
                        problems.append(f"{c.rel}: {n}: {os.strerror(err) if err else 'read'}, "
                                        f"expected ENOENT")
                continue
            want_names = ["image.png", "pixels.raw", "pixels.txt"] + (["frames"] if c.frames else [])
            missing = [n for n in want_names if n not in names]
            if missing:
                problems.append(f"{c.rel} ({c.what}): {missing} missing, the Pixel Data is whole")
                continue
            png, err = read_or_errno(os.path.join(folder, "image.png"))
            if err is not None or not png.startswith(b"\x89PNG\r\n\x1a\n"):
                problems.append(f"{c.rel}: image.png: {os.strerror(err) if err else 'not a PNG'}")
            raw, err = read_or_errno(os.path.join(folder, "pixels.raw"))
            if err is not None:
                problems.append(f"{c.rel}: pixels.raw: {os.strerror(err)}")
                continue
            if c.frames:
                listed = os.listdir(os.path.join(folder, "frames"))
                for n in listed:
                    _, err = read_or_errno(os.path.join(folder, "frames", n))
                    if err is not None:
                        problems.append(f"{c.rel}: frames/{n}: {os.strerror(err)}")
            if not c.native and c.kind == "whole":
                continue  # lossy JPEG: no exact oracle
            want = pydicom_pixels(c.original)
            compared += 1
            if raw != want:
                problems.append(f"{c.rel} ({c.what}): pixels.raw ({len(raw)} bytes) differs from "
                                f"pydicom's pixel_array ({len(want)} bytes)")
        self.check("pixel files exactly where the Pixel Data is whole (zero padding after it "
                   "included); pixels.raw equal to pydicom's pixel_array of the file", problems,
                   f"{compared} compared")

    # --- the run
    def run(self):
        self.setup()
        m = self.mount()
        try:
            st = m.status()
            self.check_tables("first mount")
            self.check_names()
            self.check_headers()
            self.check_full_read_lines("first mount")
            self.check_reads()
            self.check_tags()
            self.check_pixels()
            first_lines, _ = damage_lines(self.mnt)
            first_rows = {c.rel: c.row and c.row["path"] for c in self.cases}
        finally:
            self.check("unmount (first mount)", m.unmount())
        self.check("first mount: a new index", [] if st.get("index", "").endswith("(new)") else
                   [f"index: {st.get('index')!r}"])
        m = self.mount()
        try:
            st = m.status()
            problems = []
            if st.get("files read") != "0" or not st.get("index", "").endswith("(reused)"):
                problems.append(f"files read {st.get('files read')!r}, index {st.get('index')!r}")
            self.check("remount with the persistent index: nothing read again", problems)
            for c in self.cases:
                c.row = None
            rows, lines = self.check_tables("remount", before_full_reads=False)
            problems = []
            now = {c.rel: c.row and c.row["path"] for c in self.cases}
            if now != first_rows:
                problems += [f"{k}: {first_rows[k]!r} then {now[k]!r}" for k in now
                             if now[k] != first_rows[k]]
            self.check("remount: every file in the same place", problems)
            early = sorted(c.rel for c in self.cases if c.kind == "damaged-full" and lines.get(c.rel))
            again = self.check_full_read_lines("remount")
            problems = []
            if again != first_lines:
                for k in sorted(set(again) | set(first_lines)):
                    if again.get(k) != first_lines.get(k):
                        problems.append(f"{k}: first mount {first_lines.get(k)}, remount {again.get(k)}")
            self.check("remount: errors.tsv has the same lines (the same damaged flags) as the "
                       "first mount's", problems,
                       f"the padding's lines already there before a full read: {early}" if early
                       else "the padding's lines came with the full reads again")
        finally:
            self.check("unmount (remount)", m.unmount())


def main():
    exe = os.path.abspath((sys.argv + [""])[1])
    if not os.path.isdir(CORPUS):
        print("SKIP: no pydicom test files")
        return 77
    return ml.run_test(__doc__, 3, "dicomfs-damaged-test.", WATCHDOG_SECONDS,
                       lambda report, tmp: DamagedTest(report, exe, tmp).run(),
                       needs=("pydicom", "numpy"), tools=("dcmdump",))


if __name__ == "__main__":
    sys.exit(main())
