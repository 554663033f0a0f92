#!/usr/bin/python3
"""Write an adversarial source folder for dicomfs, and the truth about it.

usage: make-adversarial.py OUTDIR [--quick]

Writes OUTDIR/source/ (the folder to mount), OUTDIR/outside/ (files only
reachable from source/ through symbolic links: they must never show in the
mount) and OUTDIR/truth.json.  Run with /usr/bin/python3 (Debian's, with
pydicom 2.3 and numpy); the real files are copied at generation time from
pydicom's test data, never committed.  The same run gives the same bytes.
--quick truncates one small file at every offset instead of four (for
trying things out; the test uses the full set, about 4,500 files).

What source/ holds (folder: what)
  good/        files that must read correctly: pydicom-made (explicit,
               implicit, big endian, deflated, multi-frame, RGB, nested 32
               deep) and copies of real files (CT, MR, RLE, JPEG, JPEG-LS,
               JPEG 2000, deflated, SR)
  trunc/F/     F truncated at every offset from 0 to its size
  length/      lengths past the end, near 2^32, undefined where not allowed,
               a File Meta group length of 0xFFFFFFFF
  nesting/     sequences nested 100,000 deep (undefined and defined lengths,
               UN), 33 deep (one past the limit)
  pixels/      Pixel Data shorter or longer than declared, 65535 x 65535 x
               10,000 frames, zero and absurd Rows/Columns/Bits/Samples/
               frames, palettes and LUTs that lie, NaN windows and slopes
  codestreams/ encapsulated data that lies: JPEG SOF, JPEG-LS SOF55 and
               JPEG 2000 SIZ claiming huge sizes, DICOM claiming 65535 x 65535
               for a small JPEG, RLE headers with absurd segment offsets,
               fragments past the end, video syntaxes
  deflate/     a decompression bomb (1.5 GiB of zeros), 128 MiB of pixels
               behind an 8 x 8 header, corrupt and cut deflate streams
  charset/     every Specific Character Set term and every ISO 2022 escape,
               invalid UTF-8, unknown and broken terms and escapes
  names/       attribute values the folder names derive from: '..', '.',
               '/', NUL, newlines, control characters, 1,000 bytes, empty
  filenames/   source file names with a newline, a tab, 255 bytes, bytes
               that are not UTF-8, leading '-', ' ', '.'
  links/       symbolic link loops, links to outside/ (relative, absolute,
               to a file, to a folder), to /etc, dangling, to a file inside
  special/     a FIFO, character and block devices (mknod: /dev/zero's and
               loop0's numbers), a UNIX socket, an empty file
  unreadable/  a file and a folder with mode 000
  deep/        folders 130 deep, and a path longer than PATH_MAX
  mutate/      good files for the test to truncate, replace (by another
               file, a symlink to outside/, a FIFO, a folder), delete, grow
               and overwrite while mounted

truth.json
  {"files": [{"path", "kind", "what", "uid", ...}],  one per regular file,
                                                     link and special entry
   "outside_uids": [SOP Instance UIDs that must never be in the mount],
   "source", "outside"}
  "path" is relative to source/; names that are not UTF-8 are kept with
  Python's surrogateescape (os.fsencode(path) gives the bytes back).
  "uid" is the SOP Instance UID pydicom reads (null: none).
  kind:
    good         in the tree; tags/SOPInstanceUID is uid; instance.dcm is the
                 file byte for byte; header.json is JSON; pixel files read
                 where pydicom decodes the file (pixels.raw equal to its
                 pixel_array) or "pixels" says they must ("native": pydicom
                 decodes it; "decodes": we must, pydicom has no decoder),
                 else they may give EIO (with a line in errors.tsv)
    present      the header is valid: in the tree, instance.dcm byte-equal;
                 its pixel files either read (and with "pixels": "native"
                 equal pydicom's array) or give EIO with a line in errors.tsv
    pixel-error  in the tree, and the files named by "eio" (default
                 image.png and pixels.raw; "eio_if_listed": those where they
                 exist) give EIO, each failure a line in errors.tsv; unless
                 pydicom decodes the same bytes: then pixels.raw may instead
                 equal its pixel_array
    bad-pixels   pixel-error, or not in the tree with a line in errors.tsv
    damaged      (issue 17) the reader reads part of it and stops at the
                 damage: in the tree with what was read (instance.dcm
                 byte-equal; "uid" is what pydicom reads of the bytes before
                 the damage), errors.tsv has a line 'damaged at byte N: ...
                 (shown with what could be read)', header.txt ends with
                 '# damaged at byte N: ...'; N is "damaged_at" where the
                 damage is known to the byte (null: anywhere); no pixel files
                 (the Pixel Data, if any, is not whole)
    error        not in the tree; errors.tsv has a line for it (or for a
                 folder above it) with a reason (not "damaged at byte"):
                 nothing of the data set could be read (damage in the
                 preamble, the File Meta or the first data-set element),
                 or a limit was exceeded
    either       in the tree, damaged, or error: never lost, never a crash
    not-instance a link or special file: never an instance, a line in
                 errors.tsv
    alias        a link to a good file inside the source ("of"): the file is
                 one instance, under its own path or under one of its
                 aliases; the other paths have a line in errors.tsv
  A good file may list its "aliases"; "mutate": true marks files the test
  changes while mounted (so it reads only their tags before).
"""
import argparse
import io
import json
import os
import shutil
import socket
import stat
import struct
import sys
import zlib

import numpy as np
import pydicom
from pydicom import config
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filereader import _read_file_meta_info, data_element_generator
from pydicom.sequence import Sequence

config.settings.writing_validation_mode = config.IGNORE
config.settings.reading_validation_mode = config.IGNORE

TEST_FILES = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files")
IMPLICIT, EXPLICIT, BIG = "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
JPEG_BASELINE, RLE = "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.5"
MPEG2 = "1.2.840.10008.1.2.4.100"
SC = "1.2.840.10008.5.1.4.1.1.7"
PIXEL_DATA = 0x7FE00010
UID_ROOT = "2.25.3141592653589793238462643383279"  # + a serial number
LONG_VRS = {b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"SQ", b"UN", b"UT", b"UC", b"UR",
            b"SV", b"UV"}
TEXT_PAD = {b"UI": b"\0", b"OB": b"\0", b"UN": b"\0"}

# Files truncated at every offset: small, and between them the interesting
# layouts (File Meta + native RGB, encapsulated RLE, no meta big endian,
# implicit VR with private sequences).
TRUNCATED = ["SC_rgb_small_odd.dcm", "SC_rgb_rle.dcm", "ExplVR_BigEndNoMeta.dcm",
             "nested_priv_SQ.dcm"]


# ---------------------------------------------------------------- encoding

def el(tag, vr, value=b"", big=False, length=None):
    """One explicit VR element (PS3.5 7.1.2); length overrides the length
    field (the value is written as given)."""
    vr = vr.encode() if isinstance(vr, str) else vr
    value = value.encode("latin-1") if isinstance(value, str) else value
    if length is None and len(value) % 2:
        value += TEXT_PAD.get(vr, b" ")
    n = len(value) if length is None else length
    e = ">" if big else "<"
    if vr in LONG_VRS:
        return struct.pack(e + "HH2sHI", tag >> 16, tag & 0xFFFF, vr, 0, n) + value
    return struct.pack(e + "HH2sH", tag >> 16, tag & 0xFFFF, vr, n) + value


def iel(tag, value=b"", length=None):
    """One implicit VR little endian element."""
    value = value.encode("latin-1") if isinstance(value, str) else value
    if length is None and len(value) % 2:
        value += b"\0"
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF,
                       len(value) if length is None else length) + value


def item(content=b"", length=None, big=False):
    return struct.pack(">HHI" if big else "<HHI", 0xFFFE, 0xE000,
                       len(content) if length is None else length) + content


ITEM_END = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
SEQ_END = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)


def us(*v):
    return struct.pack("<%dH" % len(v), *v)


def meta(ts, uid, sop_class=SC, group_length=None):
    """Preamble, DICM and File Meta Information (PS3.10 7.1)."""
    body = (el(0x00020001, "OB", b"\0\1") + el(0x00020002, "UI", sop_class) +
            el(0x00020003, "UI", uid) + el(0x00020010, "UI", ts) +
            el(0x00020012, "UI", "1.2.826.0.1.3680043.9.9999.6"))
    n = len(body) if group_length is None else group_length
    return b"\0" * 128 + b"DICM" + el(0x00020000, "UL", struct.pack("<I", n)) + body


def dataset(elems, big=False):
    """Explicit VR elements {tag: (vr, value) or bytes}, in tag order."""
    out = b""
    for tag in sorted(elems):
        v = elems[tag]
        out += v if isinstance(v, bytes) else el(tag, v[0], v[1], big)
    return out


def ident(uid, patient, sop_class=SC, charset=None):
    """The identifying elements of an instance."""
    e = {0x00080016: ("UI", sop_class), 0x00080018: ("UI", uid),
         0x00080060: ("CS", "OT"), 0x00100010: ("PN", patient),
         0x00100020: ("LO", "ADV-" + uid[-6:]), 0x0020000D: ("UI", uid + ".1"),
         0x0020000E: ("UI", uid + ".2"), 0x00200011: ("IS", "1"), 0x00200013: ("IS", "1")}
    if charset is not None:
        e[0x00080005] = ("CS", charset)
    return e


def image(rows, cols, bits=8, samples=1, photometric="MONOCHROME2", frames=None, stored=None,
          signed=0):
    e = {0x00280002: ("US", us(samples)), 0x00280004: ("CS", photometric),
         0x00280010: ("US", us(rows)), 0x00280011: ("US", us(cols)),
         0x00280100: ("US", us(bits)), 0x00280101: ("US", us(bits if stored is None else stored)),
         0x00280102: ("US", us((bits if stored is None else stored) - 1 & 0xFFFF)),
         0x00280103: ("US", us(signed))}
    if samples > 1:
        e[0x00280006] = ("US", us(0))
    if frames is not None:
        e[0x00280008] = ("IS", str(frames))
    return e


def deflate(data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def read_real(name):
    with open(os.path.join(TEST_FILES, name), "rb") as f:
        return f.read()


def patch_us(data, tag, value):
    """data with the value of the explicit VR little endian US element tag
    (every occurrence at any depth) replaced."""
    key = struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, b"US", 2)
    out, at = bytearray(data), data.find(key)
    assert at >= 0, hex(tag)
    while at >= 0:
        out[at + 8:at + 10] = struct.pack("<H", value)
        at = data.find(key, at + 1)
    return bytes(out)


# ---------------------------------------------------------------- pydicom-made

def pydicom_file(uid, patient="Good^File", ts=EXPLICIT, rows=16, cols=16, bits=16, samples=1,
                 frames=None, charset="ISO_IR 100", nest=0):
    ds = Dataset()
    ds.SpecificCharacterSet = charset
    ds.SOPClassUID, ds.SOPInstanceUID = SC, uid
    ds.StudyInstanceUID, ds.SeriesInstanceUID = uid + ".1", uid + ".2"
    ds.PatientName, ds.PatientID = patient, "ADV-" + uid[-6:]
    ds.StudyDate, ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "20240229", "OT", 3, 7
    ds.StudyDescription = "adversarial"
    if rows:
        n = rows * cols * samples * (frames or 1)
        dtype = {8: np.uint8, 16: np.uint16}[bits]
        arr = (np.arange(n, dtype=np.uint32) * 2654435761 % (1 << bits)).astype(dtype)
        ds.Rows, ds.Columns, ds.SamplesPerPixel = rows, cols, samples
        ds.PhotometricInterpretation = "RGB" if samples == 3 else "MONOCHROME2"
        if samples == 3:
            ds.PlanarConfiguration = 0
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits, bits - 1, 0
        if frames:
            ds.NumberOfFrames = frames
        ds.PixelData = arr.astype(dtype().newbyteorder(">" if ts == BIG else "<").dtype).tobytes()
    if nest:
        inner = Dataset()
        inner.CodeValue, inner.CodeMeaning = "D%d" % nest, "depth %d" % nest
        for depth in range(nest - 1, 0, -1):
            outer = Dataset()
            outer.CodeValue = "D%d" % depth
            outer.ConceptCodeSequence = Sequence([inner])
            inner = outer
        ds.ConceptNameCodeSequence = Sequence([inner])
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ts
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = SC, uid
    ds.is_little_endian = ts != BIG
    ds.is_implicit_VR = ts == IMPLICIT
    out = io.BytesIO()
    ds.save_as(out, write_like_original=False)
    return out.getvalue()


# ---------------------------------------------------------------- the archive

class Archive:
    def __init__(self, out):
        self.out = os.path.abspath(out)
        self.source = os.path.join(self.out, "source")
        self.outside = os.path.join(self.out, "outside")
        self.files = []
        self.serial = 0
        self.outside_uids = []

    def uid(self):
        self.serial += 1
        return "%s.%d" % (UID_ROOT, self.serial)

    def path(self, rel):
        return os.path.join(os.fsencode(self.source), os.fsencode(rel))

    def write(self, rel, data, kind, what, uid=None, **extra):
        full = self.path(rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
        if kind in ("good", "present", "pixel-error", "either", "bad-pixels") and uid is None \
                and kind != "either":
            uid = pydicom_uid(data)
        if kind == "damaged" and uid is None and extra.get("damaged_at") is not None:
            uid = pydicom_uid(data[:extra["damaged_at"]])  # what is shown: the bytes before it
        self.note(rel, kind, what, uid=uid, **extra)

    def note(self, rel, kind, what, **extra):
        rel = os.fsdecode(rel) if isinstance(rel, bytes) else rel
        self.files.append(dict(path=rel, kind=kind, what=what, **extra))


def pydicom_uid(data):
    """The SOP Instance UID pydicom reads (the oracle), or None."""
    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True, stop_before_pixels=True)
        v = ds.get("SOPInstanceUID")
    except Exception:  # noqa: BLE001 - pydicom could not read it: no UID known
        return None
    return str(v).rstrip("\0 ") if v not in (None, "") else None


# --- good ------------------------------------------------------------------

REAL_GOOD = [  # (file, pixels checked against pydicom's array)
    ("CT_small.dcm", "native"), ("MR_small.dcm", "native"), ("MR_small_bigendian.dcm", "native"),
    ("MR_small_implicit.dcm", "native"), ("SC_rgb_rle.dcm", "native"),
    ("SC_rgb_rle_16bit_2frame.dcm", "native"), ("image_dfl.dcm", "native"),
    ("SC_rgb_jpeg_dcmtk.dcm", "decodes"), ("MR_small_jpeg_ls_lossless.dcm", "decodes"),
    ("JPEG2000.dcm", "decodes"), ("test-SR.dcm", None), ("rtplan.dcm", None),
]


def make_good(a):
    for name, ts in (("explicit", EXPLICIT), ("implicit", IMPLICIT), ("bigendian", BIG),
                     ("deflated", DEFLATED)):
        a.write("good/g-%s.dcm" % name, pydicom_file(a.uid(), ts=ts), "good",
                "pydicom, %s, 16x16 16-bit" % name, pixels="native")
    a.write("good/g-multiframe.dcm", pydicom_file(a.uid(), bits=8, rows=8, cols=8, frames=5),
            "good", "pydicom, 5 frames 8x8 8-bit", pixels="native")
    a.write("good/g-rgb.dcm", pydicom_file(a.uid(), bits=8, samples=3, rows=7, cols=9),
            "good", "pydicom, RGB 7x9", pixels="native")
    a.write("good/g-nested-32.dcm", pydicom_file(a.uid(), nest=32), "good",
            "sequences nested 32 deep (the documented limit)", pixels="native")
    a.write("good/g-no-pixels.dcm", pydicom_file(a.uid(), rows=0), "good", "no Pixel Data")
    for name, pixels in REAL_GOOD:
        a.write("good/real-" + name, read_real(name), "good", "copy of pydicom's " + name,
                pixels=pixels)


# --- truncated at every offset ------------------------------------------------

def layout(data):
    """(data set start, [(start, end, tag, value start, is sequence, is of
    undefined length)]) of the top-level elements, as pydicom reads them
    (the oracle for where a cut leaves a complete, shorter file)."""
    fp = io.BytesIO(data)
    start = 0
    if data[128:132] == b"DICM":
        fp.seek(132)
        _read_file_meta_info(fp)
        start = fp.tell()
    ds = pydicom.dcmread(io.BytesIO(data), force=True)
    fp.seek(start)
    gen = data_element_generator(fp, ds.is_implicit_VR, ds.is_little_endian)
    elems = []
    while True:
        pos = fp.tell()
        try:
            e = next(gen)
        except StopIteration:
            break
        vr = getattr(e, "VR", None)
        value_start = getattr(e, "value_tell", None)
        elems.append((pos, fp.tell(), int(e.tag), value_start, vr == "SQ",
                      getattr(e, "length", None) == 0xFFFFFFFF))
    return start, elems


def truncation_kind(k, size, start, elems, has_meta):
    """(kind, why, damaged at) of the file cut at k.  A cut inside a
    top-level element ends the data set there (issue 17): the elements
    before it are shown and the file is damaged at the element's first
    byte, unless it is the first data-set element (nothing read: an error).
    Native Pixel Data cut in its value is dropped the same way; encapsulated
    Pixel Data cut in its fragments is found only by a whole read.  Without
    DICM, a file must give two whole elements to count as damaged DICOM."""
    if k == 0:
        return "error", "empty", None
    if has_meta and k < 132:
        return "error", "cut in the preamble or DICM", None
    if k < start:
        return "error", "cut in the File Meta Information", None
    if k == start and has_meta:
        return "either", "File Meta Information only", None
    if k == size:
        return "good", "whole file", None
    for n, (s, e, tag, vstart, is_sq, undefined) in enumerate(elems):
        if k == s:
            return "good", "cut between top-level elements, before (%04X,%04X)" % (
                tag >> 16, tag & 0xFFFF), None
        if s < k < e:
            where = "(%04X,%04X)" % (tag >> 16, tag & 0xFFFF)
            if tag == PIXEL_DATA:
                if vstart is not None and k >= vstart:
                    if undefined:
                        return "bad-pixels", "cut in the encapsulated Pixel Data value", None
                    return "damaged", "cut in the native Pixel Data value (dropped)", s
                return "damaged", "cut in the Pixel Data element's header", s
            if tag > PIXEL_DATA:
                return "either", "cut in %s after Pixel Data" % where, None
            if is_sq:
                return "either", "cut inside sequence %s (defined-length sequences overshooting "\
                    "the end are read to the end, as DCMTK does)" % where, None
            if n == 0:
                return "error", "cut in the first data-set element %s" % where, None
            if n == 1 and not has_meta:
                return "error", "no DICM, cut in the second element %s (one whole element is "\
                    "not enough to take a file for damaged DICOM)" % where, None
            return "damaged", "cut in element %s" % where, s
    last = elems[-1][1] if elems else start
    return "damaged", "cut in stray bytes at the end", last


def make_truncated(a, quick):
    for name in TRUNCATED[:1] if quick else TRUNCATED:
        data = read_real(name)
        start, elems = layout(data)
        stem = os.path.splitext(name)[0]
        for k in range(len(data) + 1):
            kind, why, at = truncation_kind(k, len(data), start, elems, data[128:132] == b"DICM")
            uid = pydicom_uid(data[:k]) if kind == "good" else None
            extra = {"damaged_at": at} if kind == "damaged" else {}
            a.write("trunc/%s/cut-%05d.dcm" % (stem, k), data[:k], kind,
                    "%s cut at %d of %d: %s" % (name, k, len(data), why), uid=uid, **extra)


# --- lengths ------------------------------------------------------------------

def make_lengths(a):
    def base(uid):
        return meta(EXPLICIT, uid) + dataset(ident(uid, "Length^Lies"))

    def add(name, tail, kind, what, ts=EXPLICIT, head=None, at=0):
        """at: for "damaged", where the damage starts in tail (None: not
        known to the byte); the identifying elements come before it."""
        uid = a.uid()
        start = head(uid) if head else base(uid)
        extra = {}
        if kind == "damaged":
            extra["damaged_at"] = None if at is None else len(start) + at
        a.write("length/" + name, start + tail, kind, what,
                uid=uid if kind != "error" else None, **extra)

    add("pn-past-end.dcm", el(0x00321032, "PN", b"Doe^J", length=64), "damaged",
        "PN of length 64 with 6 bytes left")
    add("ut-fffffff0.dcm", el(0x00324000, "UT", b"abcd", length=0xFFFFFFF0), "damaged",
        "UT of length 0xFFFFFFF0")
    add("ut-fffffffe.dcm", el(0x00324000, "UT", b"abcd" * 4, length=0xFFFFFFFE), "damaged",
        "UT of length 0xFFFFFFFE")
    add("lo-undefined.dcm", el(0x00324000, "UT", b"abcd", length=0xFFFFFFFF), "damaged",
        "UT of undefined length")
    add("ob-7fffffff.dcm", el(0x00291010, "OB", b"\0" * 16, length=0x7FFFFFFF), "damaged",
        "OB of length 0x7FFFFFFF")
    add("sq-fffffff0-then-cut.dcm", el(0x00081140, "SQ", item(el(0x00081155, "UI", "1.2.3"))
                                       + el(0x00080100, "SH", b"AB", length=200),
                                       length=0xFFFFFFF0), "damaged",
        "sequence of length 0xFFFFFFF0 holding an item, then a value cut short", at=None)
    add("item-fffffff0.dcm", el(0x00081140, "SQ", item(el(0x00081155, "UI", "1.2.3"),
                                                      length=0xFFFFFFF0), length=0xFFFFFFFF),
        "either", "item of length 0xFFFFFFF0 in an undefined-length sequence at the end")
    add("item-longer-than-sequence.dcm",
        el(0x00081140, "SQ", item(el(0x00081155, "UI", "1.2.3.4"), length=200), length=20)
        + el(0x00324000, "UT", b"after"), "damaged", "item longer than its sequence", at=12)
    add("meta-group-ffffffff.dcm", b"", "either", "File Meta group length 0xFFFFFFFF",
        head=lambda uid: meta(EXPLICIT, uid, group_length=0xFFFFFFFF) + dataset(
            ident(uid, "Length^Lies")))
    add("meta-ts-past-end.dcm", b"", "error", "transfer syntax UID of length 0xFFF0 in the meta",
        head=lambda uid: b"\0" * 128 + b"DICM" + el(0x00020000, "UL", struct.pack("<I", 30))
        + el(0x00020010, "UI", b"1.2.840.10008.1.2.1\0", length=0xFFF0))
    add("implicit-fffffffe.dcm", iel(0x00324000, b"abcd", length=0xFFFFFFFE), "damaged",
        "implicit VR element of length 0xFFFFFFFE",
        head=lambda uid: meta(IMPLICIT, uid) + b"".join(
            iel(t, v[1]) for t, v in sorted(ident(uid, "Length^Lies").items())))
    add("bigendian-fffffff0.dcm", el(0x00324000, "UT", b"abcd", big=True, length=0xFFFFFFF0),
        "damaged", "big endian UT of length 0xFFFFFFF0",
        head=lambda uid: meta(BIG, uid) + dataset(ident(uid, "Length^Lies"), big=True))
    img = image(8, 8, bits=8)
    add("pixels-fffffff0.dcm", dataset(img) + el(PIXEL_DATA, "OB", bytes(64), length=0xFFFFFFF0),
        "damaged", "native Pixel Data of length 0xFFFFFFF0 (dropped)", at=len(dataset(img)))
    add("pixels-past-end.dcm", dataset(img) + el(PIXEL_DATA, "OB", bytes(62), length=64),
        "damaged", "native Pixel Data of length 64 with 62 bytes left (dropped)",
        at=len(dataset(img)))
    add("fragment-fffffff0.dcm", dataset(img) + el(PIXEL_DATA, "OB", item() + item(
        b"\xff\xd8\xff", length=0xFFFFFFF0), length=0xFFFFFFFF), "pixel-error",
        "JPEG fragment of length 0xFFFFFFF0",
        head=lambda uid: meta(JPEG_BASELINE, uid) + dataset(ident(uid, "Length^Lies")))


# --- nesting ------------------------------------------------------------------

def make_nesting(a):
    def head(uid, ts=EXPLICIT):
        return meta(ts, uid) + dataset(ident(uid, "Nesting^Deep"))

    n = 100000
    undefined = el(0x00081140, "SQ", length=0xFFFFFFFF) + item(length=0xFFFFFFFF)
    a.write("nesting/undefined-100000.dcm", head(a.uid()) + undefined * n, "error",
            "sequences and items of undefined length nested 100,000 deep")
    out = bytearray(head(a.uid()))
    for depth in range(n):
        rest = 20 * (n - depth)  # this level's sequence header, item header and all below
        out += el(0x00081140, "SQ", length=rest - 12) + item(length=rest - 20)
    a.write("nesting/defined-100000.dcm", bytes(out), "error",
            "sequences and items of defined length nested 100,000 deep")
    un = struct.pack("<HH2sHI", 0x0009, 0x1010, b"UN", 0, 0xFFFFFFFF) + item(length=0xFFFFFFFF)
    a.write("nesting/un-100000.dcm", head(a.uid()) + el(0x00090010, "LO", "ADVERSARIAL")
            + un + (struct.pack("<HHI", 0x0009, 0x1010, 0xFFFFFFFF) + item(length=0xFFFFFFFF))
            * n, "error", "UN of undefined length (implicit VR inside) nested 100,000 deep")
    uid = a.uid()
    a.write("nesting/undefined-33.dcm", head(uid) + undefined * 33 + (ITEM_END + SEQ_END) * 33,
            "error", "sequences nested 33 deep, one past the documented limit of 32")
    uid = a.uid()
    a.write("nesting/undefined-32.dcm", head(uid) + undefined * 32 + (ITEM_END + SEQ_END) * 32,
            "good", "sequences nested 32 deep, the documented limit", uid=uid)


# --- pixels -------------------------------------------------------------------

def make_pixels(a):
    def add(name, img, pixel, kind, what, ts=EXPLICIT, extra=None, **kw):
        uid = a.uid()
        e = ident(uid, "Pixel^Lies")
        e.update(img)
        e.update(extra or {})
        data = meta(ts, uid) + dataset(e) + pixel
        a.write("pixels/" + name, data, kind, what, uid=uid, **kw)

    px = lambda n, vr="OB": el(PIXEL_DATA, vr, bytes((i * 37) & 0xFF for i in range(n)))  # noqa
    add("short.dcm", image(8, 8, bits=16), px(64, "OW"), "pixel-error",
        "8x8 16-bit declared, 64 bytes of Pixel Data")
    add("long.dcm", image(8, 8, bits=8), px(256), "present",
        "8x8 8-bit declared, 256 bytes of Pixel Data", pixels="native")
    add("huge-65535x65535x10000.dcm", image(65535, 65535, bits=16, frames=10000), px(16, "OW"),
        "pixel-error", "65535 x 65535 x 10,000 frames of 16 bits claimed, 16 bytes there",
        eio_if_listed=["frames/0001.png", "frames/10000.raw", "pixels.txt"])
    add("huge-rgb-65535x65535.dcm", image(65535, 65535, bits=8, samples=3), px(300),
        "pixel-error", "65535 x 65535 RGB claimed, 300 bytes there")
    add("frames-4294967297.dcm", image(4, 4, frames=4294967297), px(16), "present",
        "NumberOfFrames 4294967297 (2^32 + 1)")
    for frames in ("abc", "-1", "0", "1e10", "99999999999999999999", " 2 "):
        add("frames-%s.dcm" % frames.strip().replace("-", "minus"), image(4, 4), px(32), "present",
            "NumberOfFrames %r with 2 frames of bytes" % frames,
            extra={0x00280008: ("IS", frames)})
    for rows, cols in ((0, 0), (0, 8), (8, 0), (1, 65535)):
        add("dims-%dx%d.dcm" % (rows, cols), image(rows, cols), px(16), "present",
            "Rows %d, Columns %d" % (rows, cols))
    for bits, stored in ((0, 0), (7, 7), (64, 64), (255, 8), (16, 17), (16, 0), (32, 32),
                         (1, 1)):
        add("bits-%d-%d.dcm" % (bits, stored), image(4, 5, bits=bits, stored=stored), px(160),
            "present", "BitsAllocated %d, BitsStored %d" % (bits, stored))
    add("highbit-40.dcm", image(4, 4, bits=16), px(32, "OW"), "present", "HighBit 40",
        extra={0x00280102: ("US", us(40))})
    for samples in (0, 2, 4, 65535):
        add("samples-%d.dcm" % samples, image(4, 4, samples=samples), px(64), "present",
            "SamplesPerPixel %d" % samples)
    add("planar-7.dcm", image(4, 4, samples=3, photometric="RGB"), px(48), "present",
        "PlanarConfiguration 7", extra={0x00280006: ("US", us(7))})
    add("pixelrep-2.dcm", image(4, 4, bits=16), px(32, "OW"), "present", "PixelRepresentation 2",
        extra={0x00280103: ("US", us(2))})
    add("ybr422-odd.dcm", image(3, 5, samples=3, photometric="YBR_FULL_422"), px(30), "present",
        "YBR_FULL_422 with an odd number of columns")
    add("photometric-unknown.dcm", image(4, 4, photometric="HSV"), px(16), "present",
        "PhotometricInterpretation HSV")
    add("palette-no-lut.dcm", image(4, 4, photometric="PALETTE COLOR"), px(16), "present",
        "PALETTE COLOR without LUTs")
    lies = {0x00281101: ("US", us(65535, 0, 16)), 0x00281102: ("US", us(65535, 0, 16)),
            0x00281103: ("US", us(65535, 0, 16)), 0x00281201: ("OW", bytes(8)),
            0x00281202: ("OW", bytes(8)), 0x00281203: ("OW", bytes(8))}
    add("palette-lut-lies.dcm", image(4, 4, photometric="PALETTE COLOR"), px(16), "present",
        "palette descriptors claiming 65535 entries, 4 there", extra=lies)
    seg = {0x00281101: ("US", us(256, 0, 16)), 0x00281102: ("US", us(256, 0, 16)),
           0x00281103: ("US", us(256, 0, 16)),
           0x00281221: ("OW", us(2, 0, 1, 65535, 2, 1, 0xFFFF, 0xFFFF)),
           0x00281222: ("OW", us(1, 65535, 0)), 0x00281223: ("OW", us(0))}
    add("palette-segments-lie.dcm", image(4, 4, photometric="PALETTE COLOR"), px(16), "present",
        "segmented palettes: runs of 65535, indirect segments pointing anywhere", extra=seg)
    voi = el(0x00283010, "SQ", item(el(0x00283002, "US", us(65535, 0, 16))
                                     + el(0x00283006, "OW", bytes(4))))
    add("voi-lut-lies.dcm", image(4, 4, bits=16), px(32, "OW"), "present",
        "VOI LUT descriptor claiming 65535 entries, 2 there", extra={0x00283010: voi})
    mod = el(0x00283000, "SQ", item(el(0x00283002, "US", us(0, 65535, 0))
                                     + el(0x00283006, "OW", bytes(2))))
    add("modality-lut-lies.dcm", image(4, 4, bits=16), px(32, "OW"), "present",
        "Modality LUT descriptor with 0 entries (65536) and 0 bits", extra={0x00283000: mod})
    for name, center, width in (("zero", "0", "0"), ("negative", "-1", "-5"),
                                ("nan", "nan", "nan"), ("inf", "inf", "-inf"),
                                ("huge", "1e308", "1e308"), ("garbage", "abc\\def", "x")):
        add("window-%s.dcm" % name, image(4, 4, bits=16), px(32, "OW"), "present",
            "WindowCenter %r, WindowWidth %r" % (center, width),
            extra={0x00281050: ("DS", center), 0x00281051: ("DS", width),
                   0x00281056: ("CS", "SIGMOID")})
    for name, slope in (("nan", "nan"), ("inf", "inf"), ("zero", "0"), ("huge", "1e308")):
        add("slope-%s.dcm" % name, image(4, 4, bits=16), px(32, "OW"), "present",
            "RescaleSlope %r" % slope,
            extra={0x00281053: ("DS", slope), 0x00281052: ("DS", "-1e308")})
    add("float-odd.dcm", image(3, 3, bits=32), el(0x7FE00008, "OF", bytes(13)), "present",
        "Float Pixel Data of 13 bytes for 3x3")
    add("double-short.dcm", image(3, 3, bits=64), el(0x7FE00009, "OD", bytes(8)), "present",
        "Double Float Pixel Data of 8 bytes for 3x3")
    add("two-pixel-data.dcm", image(2, 2), px(4) + el(0x7FE10010, "OB", bytes(4)) +
        el(PIXEL_DATA, "OB", bytes(4)), "either", "Pixel Data twice")
    add("encapsulated-in-native-syntax.dcm", image(2, 2),
        el(PIXEL_DATA, "OB", item() + item(bytes(4)) + SEQ_END, length=0xFFFFFFFF), "present",
        "encapsulated Pixel Data in an explicit VR little endian file")
    add("native-in-jpeg-syntax.dcm", image(2, 2), px(4), "present",
        "native Pixel Data in a JPEG Baseline file", ts=JPEG_BASELINE)
    add("unknown-syntax.dcm", image(2, 2), px(4), "present", "transfer syntax 1.2.3.4",
        ts="1.2.3.4")


# --- codestreams that lie -------------------------------------------------------

def patch_after(data, marker, offset, value):
    """Overwrite bytes at the first `marker` + offset inside the Pixel Data."""
    at = data.find(marker, data.rfind(struct.pack("<HH", 0x7FE0, 0x0010)))
    assert at >= 0, marker
    out = bytearray(data)
    out[at + offset:at + offset + len(value)] = value
    return bytes(out)


def make_codestreams(a):
    def add(name, data, kind, what, **kw):
        a.write("codestreams/" + name, data, kind, what, **kw)

    jpeg = read_real("SC_rgb_jpeg_dcmtk.dcm")
    add("jpeg-sof-65535.dcm", patch_after(jpeg, b"\xff\xc0", 5, b"\xff\xff\xff\xff"),
        "pixel-error", "JPEG SOF0 claiming 65535 x 65535 (DICOM says 100 x 100)")
    add("jpeg-sof-zero.dcm", patch_after(jpeg, b"\xff\xc0", 5, b"\0\0\0\0"), "pixel-error",
        "JPEG SOF0 claiming 0 x 0")
    add("jpeg-dicom-65535.dcm", patch_us(patch_us(jpeg, 0x00280010, 65535), 0x00280011, 65535),
        "pixel-error", "DICOM Rows and Columns 65535 for a 100 x 100 JPEG")
    add("jpeg-10000-frames.dcm", jpeg.replace(b"\xe0\x7f\x10\x00", el(0x00280008, "IS", "10000")
                                              + b"\xe0\x7f\x10\x00", 1), "pixel-error",
        "NumberOfFrames 10,000 with one JPEG fragment", eio=["pixels.raw"])
    add("jpeg-entropy-cut.dcm", patch_after(jpeg, b"\xff\xda", 20, b"\xff\xd9" * 8),
        "pixel-error", "JPEG with EOI markers in its entropy-coded data")
    jls = read_real("MR_small_jpeg_ls_lossless.dcm")
    add("jpegls-sof-65535.dcm", patch_after(jls, b"\xff\xf7", 5, b"\xff\xff\xff\xff"),
        "pixel-error", "JPEG-LS SOF55 claiming 65535 x 65535")
    j2k = read_real("JPEG2000.dcm")
    add("j2k-siz-huge.dcm", patch_after(j2k, b"\xff\x51", 6, struct.pack(">II", 0x7FFF0000,
                                                                           0x7FFF0000)),
        "pixel-error", "JPEG 2000 SIZ claiming 2147418112 x 2147418112")
    add("j2k-siz-tiles.dcm", patch_after(j2k, b"\xff\x51", 22, struct.pack(">II", 1, 1)),
        "pixel-error", "JPEG 2000 SIZ with 1 x 1 tiles (millions of tiles)")
    add("j2k-components-16384.dcm", patch_after(j2k, b"\xff\x51", 38, b"\x40\x00"), "pixel-error",
        "JPEG 2000 SIZ claiming 16384 components")
    rle = read_real("SC_rgb_rle.dcm")
    at = rle.find(b"\xfe\xff\x00\xe0", rle.rfind(b"\xe0\x7f\x10\x00") + 12 + 8)  # first fragment
    out = bytearray(rle)
    out[at + 8:at + 8 + 64] = struct.pack("<16I", 15, *([0xFFFFFFF0] * 15))
    add("rle-offsets-past-end.dcm", bytes(out), "pixel-error",
        "RLE header: 15 segments at offset 0xFFFFFFF0")
    out = bytearray(rle)
    out[at + 8:at + 12] = struct.pack("<I", 0)
    add("rle-no-segments.dcm", bytes(out), "pixel-error", "RLE header: 0 segments")
    out = bytearray(rle)
    out[at + 12:at + 16] = struct.pack("<I", 0x7FFFFFFF)
    add("rle-offsets-backwards.dcm", bytes(out), "pixel-error",
        "RLE header: first segment at 0x7FFFFFFF, the next ones before it")
    uid = a.uid()
    add("empty-pixel-sequence.dcm", meta(JPEG_BASELINE, uid) + dataset(ident(uid, "Code^Lies"))
        + dataset(image(8, 8)) + el(PIXEL_DATA, "OB", item() + SEQ_END, length=0xFFFFFFFF),
        "pixel-error", "encapsulated Pixel Data without fragments", uid=uid)
    uid = a.uid()
    bot = struct.pack("<4I", 0, 0xFFFFFFF0, 7, 0x80000000)
    jpeg_stream = jpeg[jpeg.find(b"\xff\xd8", jpeg.rfind(b"\xe0\x7f\x10\x00")):]
    jpeg_stream = jpeg_stream[:jpeg_stream.rfind(b"\xff\xd9") + 2]
    frag = jpeg_stream + (b"\0" if len(jpeg_stream) % 2 else b"")
    add("bot-lies.dcm", meta(JPEG_BASELINE, uid) + dataset(ident(uid, "Code^Lies"))
        + dataset(image(100, 100, samples=3, photometric="YBR_FULL_422", frames=4))
        + el(PIXEL_DATA, "OB", item(bot) + item(frag) + SEQ_END, length=0xFFFFFFFF),
        "present", "Basic Offset Table of 4 frames pointing past the end, one fragment",
        uid=uid)
    uid = a.uid()
    add("mpeg2.dcm", meta(MPEG2, uid) + dataset(ident(uid, "Code^Lies"))
        + dataset(image(64, 64, samples=3, photometric="YBR_PARTIAL_420", frames=30))
        + el(PIXEL_DATA, "OB", item() + item(b"\0\0\1\xb3" + bytes(60)) + SEQ_END,
             length=0xFFFFFFFF), "pixel-error", "MPEG-2 video (not decoded)", uid=uid)


# --- decompression bombs ---------------------------------------------------------

def zeros_deflated(mib):
    """Raw deflate blocks of mib MiB of zeros, not final: one MiB compressed
    once with a full flush (no history), repeated."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    return block * mib


def deflated_parts(*parts):
    """A raw deflate stream of parts: bytes, or ("zeros", MiB)."""
    out = b""
    for p in parts:
        if isinstance(p, tuple):
            out += zeros_deflated(p[1])
        else:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            out += c.compress(p) + c.flush(zlib.Z_FULL_FLUSH)
    return out + zlib.compressobj(9, zlib.DEFLATED, -15).flush()


def make_deflate(a):
    uid = a.uid()
    head = dataset(ident(uid, "Deflate^Bomb"))
    bomb = deflated_parts(head + el(0x00291010, "OB", length=1536 << 20), ("zeros", 1536))
    a.write("deflate/bomb-1.5GiB.dcm", meta(DEFLATED, uid) + bomb, "error",
            "deflated data set inflating to 1.5 GiB (an OB of zeros before anything else)")
    uid = a.uid()
    e = ident(uid, "Deflate^Pixels")
    e.update(image(8, 8))
    pixels = deflated_parts(dataset(e) + el(PIXEL_DATA, "OB", length=128 << 20), ("zeros", 128))
    a.write("deflate/pixels-128MiB-for-8x8.dcm", meta(DEFLATED, uid) + pixels, "present",
            "8x8 declared, 128 MiB of inflated Pixel Data", uid=uid, pixels="native")
    uid = a.uid()
    a.write("deflate/corrupt.dcm", meta(DEFLATED, uid) + bytes(range(256)) * 4, "error",
            "deflate stream of garbage")
    good = pydicom_file(a.uid(), ts=DEFLATED, rows=64, cols=64)
    a.write("deflate/cut-in-stream.dcm", good[:len(good) - len(good) // 3], "either",
            "a deflated file cut a third before its end")
    uid = a.uid()
    stream = deflate(dataset(ident(uid, "Deflate^Trailing")))
    a.write("deflate/garbage-after-stream.dcm", meta(DEFLATED, uid) + stream + b"GARBAGE!" * 64,
            "either", "a complete deflate stream followed by 512 bytes of garbage")


# --- character sets ------------------------------------------------------------

SINGLE = ["ISO_IR 6", "ISO_IR 100", "ISO_IR 101", "ISO_IR 109", "ISO_IR 110", "ISO_IR 144",
          "ISO_IR 127", "ISO_IR 126", "ISO_IR 138", "ISO_IR 148", "ISO_IR 203", "ISO_IR 13",
          "ISO_IR 166", "ISO_IR 192", "GB18030", "GBK"]
ISO2022 = ["ISO 2022 IR 6", "ISO 2022 IR 100", "ISO 2022 IR 101", "ISO 2022 IR 109",
           "ISO 2022 IR 110", "ISO 2022 IR 144", "ISO 2022 IR 127", "ISO 2022 IR 126",
           "ISO 2022 IR 138", "ISO 2022 IR 148", "ISO 2022 IR 203", "ISO 2022 IR 13",
           "ISO 2022 IR 166", "ISO 2022 IR 87", "ISO 2022 IR 159", "ISO 2022 IR 149",
           "ISO 2022 IR 58"]
ESCAPES = {  # PS3.3 C.12.1.1.2 and PS3.5 6.1.2.5.3
    "ir6": b"\x1b(B", "ir14": b"\x1b(J", "ir13": b"\x1b)I", "ir100": b"\x1b-A",
    "ir101": b"\x1b-B", "ir109": b"\x1b-C", "ir110": b"\x1b-D", "ir144": b"\x1b-L",
    "ir127": b"\x1b-G", "ir126": b"\x1b-F", "ir138": b"\x1b-H", "ir148": b"\x1b-M",
    "ir203": b"\x1b-b", "ir166": b"\x1b-T", "ir87": b"\x1b$B", "ir159": b"\x1b$(D",
    "ir149": b"\x1b$)C", "ir58": b"\x1b$)A",
    "unknown": b"\x1b(Z", "utf8-2022": b"\x1b%G", "esc-esc": b"\x1b\x1b", "truncated": b"\x1b$(",
    "lone-at-end": b"\x1b",
}
ALL_BYTES = bytes(range(0x20, 0x100)).replace(b"\\", b"").replace(b"^", b"").replace(b"=", b"")
INVALID_UTF8 = {
    "overlong-nul": b"A\xc0\x80B", "overlong-slash": b"\xc0\xaf..\xe0\x80\xaf",
    "surrogate": b"\xed\xa0\x80\xed\xbf\xbf", "beyond-10ffff": b"\xf4\x90\x80\x80\xf5\xff",
    "cut-at-end": b"Name\xe6\x97", "lone-continuation": b"\x80\x81\xbf",
    "noncharacter": b"\xef\xbf\xbe\xef\xbf\xbf", "bom-and-rlo": b"\xef\xbb\xbf\xe2\x80\xaeevil",
    "c1-controls": b"\xc2\x85\xc2\x9b\xc2\x9f", "fe-ff": b"\xfe\xff\xfe",
}


def make_charsets(a):
    def add(name, charset, value, what):
        uid = a.uid()
        e = ident(uid, value, charset=charset)
        e[0x00081030] = ("LO", value[:64])  # StudyDescription: the study folder's name
        e[0x0008103E] = ("LO", value[-64:])  # SeriesDescription
        a.write("charset/" + name, meta(EXPLICIT, uid) + dataset(e), "good", what, uid=uid)

    for term in SINGLE + ISO2022:
        add("term-%s.dcm" % term.replace(" ", "_"), term, ALL_BYTES[:62] + b"^" + ALL_BYTES[62:],
            "Specific Character Set %r, every byte from 0x20 to 0xFF in PatientName" % term)
    every = "\\".join(ISO2022)
    for name, esc in ESCAPES.items():
        add("escape-%s.dcm" % name, every, b"A^" + esc + b"\x21\x22\x41\x42\xb0\xa1\xc4\xe9" + esc
            + b"\xa4\xa2=" + esc, "escape sequence %r, with every ISO 2022 term declared" % esc)
    add("escape-all.dcm", every, b"^".join(esc + b"\x30\x21\xb0\xa1" for esc in ESCAPES.values()),
        "every escape sequence in one value")
    for name, value in INVALID_UTF8.items():
        add("utf8-%s.dcm" % name, "ISO_IR 192", value, "invalid UTF-8: %s" % name)
    add("gb18030-invalid.dcm", "GB18030", b"\x81\x30\x81\xff\x84\x31\xa4\x39\xfe\x39\xfe\x39\x81",
        "GB18030 four-byte sequences out of range and cut")
    for name, term in (("unknown", "ISO_IR 999"), ("empty", ""), ("backslashes", "\\\\\\"),
                       ("mixed", "ISO_IR 100\\ISO_IR 192"), ("lowercase", "iso_ir 100"),
                       ("long", "ISO_IR 100 " * 6)):
        add("charset-%s.dcm" % name, term, b"M\xfcller^\xe9\xff\x1b$B\x30\x21",
            "Specific Character Set %r" % term)


# --- names ----------------------------------------------------------------------

NAME_VALUES = {
    "dotdot": "..", "dot": ".", "dotdot-slash": "../../../etc", "slash": "a/b/c",
    "slash-only": "/", "nul": "x\0y", "nul-only": "\0", "newline": "line one\nline two",
    "crlf": "\r\n", "tab": "a\tb", "controls": "\x01\x02\x07\x08\x1b\x7f", "spaces": "   ",
    "dots-300": "." * 300, "a-1000": "A" * 1000, "e-acute-500": "\u00e9" * 500,
    "dash": "-rf", "glob": "*?[]", "tilde": "~root", "shell": "$(reboot)`id`",
    "dotdot-both": "..^..", "leading-dot": ".hidden", "nbsp": "\u00a0\u00a0",
    "backslash": "a\\b", "zero-width": "\u200b\u200b", "rlo": "\u202eevil",
}


def make_names(a):
    for name, value in NAME_VALUES.items():
        uid = a.uid()
        v = value.encode("utf-8")
        e = ident(uid, v, charset="ISO_IR 192")
        e.update({0x00100020: ("LO", v), 0x00081030: ("LO", v), 0x0008103E: ("LO", v),
                  0x00080060: ("CS", v[:16]), 0x00200011: ("IS", v[:12]),
                  0x00200013: ("IS", v[:12]), 0x00080020: ("DA", v[:8])})
        a.write("names/%s.dcm" % name, meta(EXPLICIT, uid) + dataset(e), "good",
                "PatientName, PatientID, descriptions, Modality, numbers and date %r" % value[:40])
    uid = a.uid()
    e = dataset(ident(uid, "Duplicate^Tags"))
    a.write("names/duplicate-tags.dcm", meta(EXPLICIT, uid) + e + el(0x00100010, "PN", "Again^Name")
            + el(0x00090010, "LO", "ADVERSARIAL") + el(0x00091001, "LO", "one")
            + el(0x00091001, "LO", "two") + el(0x00080060, "CS", "MR"), "good",
            "PatientName, Modality and a private element twice, out of order (tags/ names)")


# --- source file names ---------------------------------------------------------

FILE_NAMES = [b"new\nline.dcm", b"tab\there.dcm", b"x" * 251 + b".dcm", b"\xff\xfe-not-utf8-\xe9.dcm",
              b"-rf", b" leading space", b"trailing space ", b".hidden.dcm", b"...",
              b"back\\slash.dcm", b"DICOMDIR", b"\xe2\x80\xae-rlo.dcm", b"CON", b"a:b*c?.dcm",
              b"\x01\x02\x1b[31m.dcm"]


def make_filenames(a):
    for name in FILE_NAMES:
        a.write(b"filenames/" + name, pydicom_file(a.uid(), rows=4, cols=4), "good",
                "source file named %r" % name, pixels="native")
    # Pixels that fail, in files whose names a .tsv cell must clean up.
    for name in (b"bad pixels\twith a tab.dcm", b"bad pixels\nwith a newline.dcm"):
        uid = a.uid()
        e = ident(uid, "Bad^Pixels")
        e.update(image(8, 8, bits=16))
        a.write(b"filenames/" + name, meta(EXPLICIT, uid) + dataset(e) + el(PIXEL_DATA, "OW", bytes(64)),
                "pixel-error", "Pixel Data too short, in a file named %r (its errors.tsv line)" % name,
                uid=uid)
    # A folder name that is not UTF-8 and has a newline.
    a.write(b"filenames/dir\n\xff/inside.dcm", pydicom_file(a.uid(), rows=4, cols=4), "good",
            "in a folder named 'dir\\n\\xff'", pixels="native")


# --- links, special files, unreadable, deep --------------------------------------

def make_outside(a):
    os.makedirs(os.path.join(a.outside, "dir"), exist_ok=True)
    uids = []
    for rel in ("secret.dcm", "dir/secret-in-dir.dcm"):
        uid = a.uid()
        with open(os.path.join(a.outside, rel), "wb") as f:
            f.write(pydicom_file(uid, patient="Outside^Secret", rows=4, cols=4))
        uids.append(uid)
    a.outside_uids = uids
    return uids


def make_links(a):
    uids = make_outside(a)
    links = os.path.join(a.source, "links")
    os.makedirs(links)
    aliases = ["links/inside.dcm", "links/through-outside.dcm"]
    a.write("links/target.dcm", pydicom_file(a.uid(), rows=4, cols=4), "good",
            "a file that links inside the source point to: it is one instance, under its "
            "own path or one of its links'", pixels="native", aliases=aliases)
    specs = [
        ("outside-relative.dcm", "../../outside/secret.dcm", "a file outside, relative link"),
        ("outside-absolute.dcm", os.path.join(a.outside, "secret.dcm"), "a file outside, absolute"),
        ("outside-dir", "../../outside/dir", "a folder outside"),
        ("outside-dir-absolute", os.path.join(a.outside, "dir"), "a folder outside, absolute"),
        ("outside-parent", "../..", "the folder above the source"),
        ("etc", "/etc", "/etc"), ("passwd.dcm", "/etc/passwd", "/etc/passwd"),
        ("root", "/", "the root folder"), ("proc-self", "/proc/self/root", "/proc/self/root"),
        ("dev-zero.dcm", "/dev/zero", "/dev/zero (endless)"),
        ("loop-a", "loop-b", "a loop of two links"), ("loop-b", "loop-a", "a loop of two links"),
        ("self", "self", "a link to itself"), ("dangling.dcm", "does-not-exist", "dangling"),
        ("here", ".", "the folder it is in (a folder loop)"),
        ("up", "..", "the source itself (a folder loop)"),
        ("inside.dcm", "target.dcm", "a file inside the source"),
        ("inside-up-and-back", "../links", "its own folder through .."),
        ("through-outside.dcm", "../../outside/../source/links/target.dcm",
         "a file inside, reached through a path outside"),
    ]
    for name, target, what in specs:
        os.symlink(target, os.path.join(links, name))
        if "links/" + name in aliases:
            a.note("links/" + name, "alias", "symbolic link to " + what, link=target,
                   of="links/target.dcm")
        else:
            a.note("links/" + name, "not-instance", "symbolic link to " + what, link=target)


def make_special(a):
    special = os.path.join(a.source, "special")
    os.makedirs(special)
    os.mkfifo(os.path.join(special, "fifo.dcm"))
    a.note("special/fifo.dcm", "not-instance", "a FIFO (a read would block)")
    for name, mode, dev, what in (("char-zero.dcm", stat.S_IFCHR, (1, 5), "a character device "
                                   "with /dev/zero's numbers (a read never ends)"),
                                  ("char-null.dcm", stat.S_IFCHR, (1, 3), "/dev/null's numbers"),
                                  ("block-loop0.dcm", stat.S_IFBLK, (7, 0), "a block device")):
        try:
            os.mknod(os.path.join(special, name), mode | 0o644, os.makedev(*dev))
        except OSError as e:
            print("make-adversarial: mknod %s: %s (left out)" % (name, e), file=sys.stderr)
            continue
        a.note("special/" + name, "not-instance", what)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(os.path.join(special, "socket.dcm"))
        a.note("special/socket.dcm", "not-instance", "a UNIX socket")
    except OSError as e:
        print("make-adversarial: socket: %s (left out)" % e, file=sys.stderr)
    finally:
        s.close()
    a.write("special/empty.dcm", b"", "error", "an empty file")
    a.write("special/zeros-8.dcm", bytes(8), "error", "8 zero bytes")
    a.write("special/zeros-128.dcm", bytes(128), "error", "a preamble of zeros and nothing else")
    a.write("special/dicm-only.dcm", bytes(128) + b"DICM", "either", "a preamble and DICM")


def make_unreadable(a):
    # Root reads them anyway: then they are good files; for anyone else, errors.
    kind = "good" if os.geteuid() == 0 else "error"
    a.write("unreadable/mode-000.dcm", pydicom_file(a.uid(), rows=4, cols=4), kind,
            "a file with mode 000", pixels="native" if kind == "good" else None, mode=0)
    a.write("unreadable/dir-000/inside.dcm", pydicom_file(a.uid(), rows=4, cols=4), kind,
            "a file in a folder with mode 000", pixels="native" if kind == "good" else None)
    os.chmod(a.path("unreadable/mode-000.dcm"), 0)
    os.chmod(a.path("unreadable/dir-000"), 0)


def make_deep(a):
    deep = "deep/" + "/".join("d%03d" % k for k in range(130))
    a.write(deep + "/deepest.dcm", pydicom_file(a.uid(), rows=4, cols=4), "error",
            "a file 131 folders down (deeper than the walk goes)")
    # A path longer than PATH_MAX (4096): made one folder at a time.
    fd = os.open(a.source, os.O_RDONLY | os.O_DIRECTORY)
    names = ["long"] + ["L%02d" % k + "x" * 196 for k in range(22)]
    for n in names:
        try:
            os.mkdir(n, dir_fd=fd)
        except FileExistsError:
            pass
        nfd = os.open(n, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    uid = a.uid()
    wfd = os.open("long-path.dcm", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(wfd, pydicom_file(uid, rows=4, cols=4))
    os.close(wfd)
    os.close(fd)
    a.note("/".join(names) + "/long-path.dcm", "either",
           "a file whose path is longer than PATH_MAX", uid=uid)


# --- changed while mounted --------------------------------------------------------

MUTATIONS = ["truncate-half", "truncate-zero", "replace-other", "replace-symlink-outside",
             "replace-symlink-outside-read", "replace-fifo", "replace-dir", "delete", "grow",
             "rewrite-garbage"]


def make_mutate(a):
    """Good files the test truncates, replaces or deletes while mounted."""
    for name in MUTATIONS:
        a.write("mutate/%s.dcm" % name, pydicom_file(a.uid(), rows=32, cols=32), "good",
                "a good file, changed by the test while mounted: %s" % name, pixels="native",
                mutate=True)


# ---------------------------------------------------------------- main

def generate(out, quick=False):
    a = Archive(out)
    for d in (a.source, a.outside):
        if os.path.lexists(d):
            for root, dirs, _ in os.walk(d):  # mode-000 folders first
                for x in dirs:
                    p = os.path.join(root, x)
                    if not os.path.islink(p):
                        os.chmod(p, 0o755)
            shutil.rmtree(d)
    os.makedirs(a.source)
    os.makedirs(a.outside)
    truth_path = os.path.join(a.out, "truth.json")
    with open(truth_path, "w") as f:
        f.write('{"incomplete": true}\n')
    for make in (make_good, make_lengths, make_nesting, make_pixels, make_codestreams,
                 make_deflate, make_charsets, make_names, make_filenames, make_links,
                 make_special, make_deep, make_mutate):
        make(a)
    make_truncated(a, quick)
    make_unreadable(a)  # last: nothing is written into it afterwards
    truth = {"source": a.source, "outside": a.outside, "outside_uids": a.outside_uids,
             "files": a.files}
    with open(truth_path, "w", encoding="utf-8") as f:
        json.dump(truth, f, indent=1)
        f.write("\n")
    return truth


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--quick", action="store_true", help="truncate one file, not four")
    args = ap.parse_args()
    truth = generate(args.outdir, args.quick)
    kinds = {}
    for f in truth["files"]:
        kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
    print("make-adversarial: %d entries in %s: %s" % (
        len(truth["files"]), truth["source"],
        ", ".join("%d %s" % (n, k) for k, n in sorted(kinds.items()))))


if __name__ == "__main__":
    main()
