#!/usr/bin/python3
"""Write the hostile inputs of tests/crashers/ and the seed corpus of
tests/fuzz/corpus/reader/.  Deterministic: running it again gives the same
bytes.  Every crasher must fail cleanly (or read), never crash or hang.

usage: make-crashers.py REPO_ROOT
"""
import io
import os
import struct
import sys
import zlib

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (ExplicitVRBigEndian, ExplicitVRLittleEndian,
                         ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian)

PRE = b"\0" * 128 + b"DICM"


def el(tag, vr, value, big=False):
    """One explicit-VR element (PS3.5 7.1.2)."""
    e = ">" if big else "<"
    g, n = tag >> 16, tag & 0xFFFF
    if vr in (b"OB", b"OW", b"SQ", b"UN", b"UT", b"UC", b"UR", b"OF", b"OD", b"OL", b"OV", b"SV", b"UV"):
        return struct.pack(e + "HH2sHI", g, n, vr, 0, len(value)) + value
    return struct.pack(e + "HH2sH", g, n, vr, len(value)) + value


def raw(tag, vr, length, big=False):
    e = ">" if big else "<"
    return struct.pack(e + "HH2sHI", tag >> 16, tag & 0xFFFF, vr, 0, length)


def meta(ts):
    body = el(0x00020010, b"UI", ts.encode() + (b"\0" if len(ts) % 2 else b""))
    return PRE + el(0x00020000, b"UL", struct.pack("<I", len(body))) + body


def sample(ts):
    """A small valid file made by pydicom, in transfer syntax ts."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = "1.2.3.4.5.6.7"
    ds.PatientName = "Müller^Jürgen"
    ds.PatientID = "ID42"
    ds.Modality = "OT"
    ref = Dataset()
    ref.ReferencedSOPInstanceUID = "1.2.3"
    ref.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.ReferencedImageSequence = Sequence([ref, Dataset()])
    ds.Rows, ds.Columns = 4, 4
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.SamplesPerPixel, ds.PixelRepresentation = 1, 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = bytes(range(16))
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ts
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.is_little_endian = ts != ExplicitVRBigEndian
    ds.is_implicit_VR = ts == ImplicitVRLittleEndian
    out = io.BytesIO()
    ds.save_as(out, write_like_original=False)
    return out.getvalue()


def crashers(base):
    c = {}
    c["truncated-every-offset-0.dcm"] = base[:140]
    for cut in (150, 200, 260, 300, len(base) - 5):
        c[f"truncated-at-{cut}.dcm"] = base[:cut]
    body = meta(ExplicitVRLittleEndian)
    c["length-fffffff0.dcm"] = body + raw(0x00104000, b"UT", 0xFFFFFFF0) + b"abc"
    c["length-ffffffff-text.dcm"] = body + raw(0x00104000, b"UT", 0xFFFFFFFF) + b"abcd" * 4
    c["length-past-end.dcm"] = body + el(0x00100010, b"PN", b"Doe^J") [:-5] + b"Do"
    nest = raw(0x00081140, b"SQ", 0xFFFFFFFF) + struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
    c["nesting-100000.dcm"] = body + nest * 100000
    c["nesting-defined-lies.dcm"] = body + raw(0x00081140, b"SQ", 16) + struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFF00) + b"\0" * 8
    c["garbage.dcm"] = bytes((i * 7919 + 13) % 256 for i in range(4096))
    c["garbage-after-dicm.dcm"] = PRE + bytes((i * 104729 + 7) % 256 for i in range(4096))
    c["odd-lengths.dcm"] = body + el(0x00100020, b"LO", b"ABC") + el(0x00100010, b"PN", b"X")
    c["fragment-past-end.dcm"] = (meta("1.2.840.10008.1.2.4.50") + raw(0x7FE00010, b"OB", 0xFFFFFFFF)
                                  + struct.pack("<HHI", 0xFFFE, 0xE000, 0) + struct.pack("<HHI", 0xFFFE, 0xE000, 0x7FFFFFFF) + b"\xff\xd8")
    c["fragment-undefined.dcm"] = (meta("1.2.840.10008.1.2.4.50") + raw(0x7FE00010, b"OB", 0xFFFFFFFF)
                                   + struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF) + b"\0" * 16)
    c["item-outside-sequence.dcm"] = body + struct.pack("<HHI", 0xFFFE, 0xE000, 4) + b"abcd"
    c["bad-vr.dcm"] = body + struct.pack("<HH2sH", 0x0010, 0x0010, b"\x01\x02", 4) + b"abcd"
    c["meta-only.dcm"] = body
    c["dicm-only.dcm"] = PRE
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = bomb.compress(raw(0x00104000, b"UT", 0x7FFFFFF0) + b"\0" * (64 << 20)) + bomb.flush()
    c["deflate-bomb.dcm"] = meta(DeflatedExplicitVRLittleEndian) + data
    c["deflate-corrupt.dcm"] = meta(DeflatedExplicitVRLittleEndian) + b"\xff\xfe\xfd" * 40
    c["charset-escapes.dcm"] = (body + el(0x00080005, b"CS", b"ISO 2022 IR 87\\ISO 2022 IR 149 ")
                                + el(0x00100010, b"PN", b"\x1b$B\x1b$)C\x1b(\x1b\xff\xfe=\x1b$(D^ "))
    return c


def main():
    root = sys.argv[1]
    seeds = os.path.join(root, "tests", "fuzz", "corpus", "reader")
    bad = os.path.join(root, "tests", "crashers")
    os.makedirs(seeds, exist_ok=True)
    os.makedirs(bad, exist_ok=True)
    for name, ts in (("implicit-le", ImplicitVRLittleEndian), ("explicit-le", ExplicitVRLittleEndian),
                     ("explicit-be", ExplicitVRBigEndian), ("deflated", DeflatedExplicitVRLittleEndian)):
        with open(os.path.join(seeds, name + ".dcm"), "wb") as f:
            f.write(sample(ts))
    for name, data in crashers(sample(ExplicitVRLittleEndian)).items():
        with open(os.path.join(bad, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
