#!/usr/bin/python3
"""Write the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/)
from images made here: small native images of every kind the pixel code
reads (pydicom, numpy), their transcodes by DCMTK (dcmcrle, dcmcjpeg,
dcmcjpls) and GDCM (gdcmconv), and OpenJPEG's opj_compress for a JP2 file;
data sets with every VR, sequences, private elements and character sets;
text in every character set; folder name values.  The per-codec targets get
each encoded frame behind the image description of tests/fuzz/fuzz.h.

Deterministic for given tool versions.  The reader corpus's first four
files come from scripts/make-crashers.py and are left alone.

usage: make-fuzz-corpus.py REPO_ROOT
"""
import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate, generate_pixel_data_frame
from pydicom.sequence import Sequence
from pydicom.uid import (DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian,
                         ExplicitVRLittleEndian, ImplicitVRLittleEndian,
                         JPEG2000Lossless)

PHOTOMETRIC = ["MONOCHROME2", "MONOCHROME1", "RGB", "YBR_FULL", "YBR_FULL_422",
               "YBR_ICT", "YBR_RCT", "PALETTE COLOR"]
RNG = np.random.default_rng(6)


# --- data sets ----------------------------------------------------------------

def base(modality="OT"):
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.9.7.6.1"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.9.7.6.2"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.9.7.6.3"
    ds.PatientName = "Fuzz^Seed"
    ds.PatientID = "F6"
    ds.Modality = modality
    return ds


def save(ds, path, ts=ExplicitVRLittleEndian, meta=True):
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ts
    ds.is_little_endian = ts != ExplicitVRBigEndian
    ds.is_implicit_VR = ts == ImplicitVRLittleEndian
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, write_like_original=not meta)
    data = buf.getvalue()
    with open(path, "wb") as f:
        f.write(data)
    return data


def image(ds, arr, photometric, bits_stored=None, signed=False, planar=None, frames=1):
    """Native pixel data from a ([frames,] rows, columns [, 3]) array."""
    samples = 3 if photometric in ("RGB", "YBR_FULL") else 1
    ds.Rows, ds.Columns = arr.shape[-3:-1] if samples == 3 else arr.shape[-2:]
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = photometric
    bits = arr.dtype.itemsize * 8
    ds.BitsAllocated = bits
    ds.BitsStored = bits_stored or bits
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if signed else 0
    if samples == 3:
        ds.PlanarConfiguration = planar or 0
        if planar:
            arr = np.moveaxis(arr, -1, -3)
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
    return ds


def gradient(rows, cols, hi, dtype, noise=0):
    y, x = np.mgrid[0:rows, 0:cols]
    a = (x * hi // max(cols - 1, 1) + y * hi // max(rows - 1, 1)) // 2
    if noise:
        a = a + RNG.integers(-noise, noise + 1, size=a.shape)
    return np.clip(a, 0, hi).astype(dtype)


def rgb(rows, cols):
    return np.stack([gradient(rows, cols, 255, np.uint8, 9),
                     gradient(cols, rows, 255, np.uint8, 9).T,
                     np.full((rows, cols), 128, np.uint8)], axis=-1)


def native_images():
    """name -> (dataset, transfer syntax) of every native kind."""
    out = {}
    out["mono8"] = image(base(), gradient(16, 16, 255, np.uint8, 12), "MONOCHROME2")
    ct = image(base("CT"), gradient(16, 16, 4095, np.int16, 100) - 1024, "MONOCHROME2",
               bits_stored=12, signed=True)
    ct.RescaleSlope, ct.RescaleIntercept = 1, -1024
    ct.WindowCenter, ct.WindowWidth = 40, 400
    out["ct12"] = ct
    m1 = image(base(), gradient(12, 10, 65535, np.uint16, 300), "MONOCHROME1")
    m1.WindowCenter, m1.WindowWidth, m1.VOILUTFunction = 30000, 20000, "SIGMOID"
    out["mono1-sigmoid"] = m1
    le = image(base(), gradient(8, 8, 1000, np.uint16), "MONOCHROME2")
    le.WindowCenter, le.WindowWidth, le.VOILUTFunction = 500, 0.5, "LINEAR_EXACT"
    out["linear-exact"] = le
    bits = base()
    bits.Rows, bits.Columns, bits.NumberOfFrames = 8, 12, 2
    bits.SamplesPerPixel, bits.PhotometricInterpretation = 1, "MONOCHROME2"
    bits.BitsAllocated = bits.BitsStored = 1
    bits.HighBit = 0
    bits.PixelRepresentation = 0
    bits.PixelData = bytes(RNG.integers(0, 256, size=24, dtype=np.uint8))
    out["bits1"] = bits
    out["mono32"] = image(base(), gradient(6, 6, 1 << 30, np.uint32), "MONOCHROME2")
    fl = base()
    fl.Rows, fl.Columns, fl.SamplesPerPixel = 4, 6, 1
    fl.PhotometricInterpretation = "MONOCHROME2"
    fl.BitsAllocated = 32
    a = np.linspace(-2, 3, 24).astype("<f4")
    a[3], a[4] = np.nan, np.inf
    fl.FloatPixelData = a.tobytes()
    out["float32"] = fl
    db = base()
    db.Rows, db.Columns, db.SamplesPerPixel = 3, 4, 1
    db.PhotometricInterpretation = "MONOCHROME2"
    db.BitsAllocated = 64
    db.DoubleFloatPixelData = np.linspace(-1e300, 1e300, 12).astype("<f8").tobytes()
    out["float64"] = db
    out["rgb"] = image(base(), rgb(16, 16), "RGB")
    out["rgb-planar"] = image(base(), rgb(8, 10), "RGB", planar=1)
    out["ybr-full"] = image(base(), rgb(8, 8), "YBR_FULL")
    y422 = base()
    y422.Rows, y422.Columns, y422.SamplesPerPixel = 4, 8, 3
    y422.PhotometricInterpretation = "YBR_FULL_422"
    y422.BitsAllocated = y422.BitsStored = 8
    y422.HighBit, y422.PixelRepresentation, y422.PlanarConfiguration = 7, 0, 0
    y422.PixelData = bytes(RNG.integers(0, 256, size=4 * 8 * 2, dtype=np.uint8))
    out["ybr-full-422"] = y422
    # PALETTE COLOR: 16-bit entries, 8-bit packed entries, segmented.
    pal = image(base(), gradient(8, 8, 255, np.uint8), "PALETTE COLOR")
    for c, k in zip("Red Green Blue".split(), (1, 2, 3)):
        setattr(pal, c + "PaletteColorLookupTableDescriptor", [256, 0, 16])
        setattr(pal, c + "PaletteColorLookupTableData",
                (np.arange(256, dtype="<u2") * 257 // k).tobytes())
    out["palette16"] = pal
    p8 = image(base(), gradient(8, 8, 15, np.uint8), "PALETTE COLOR")
    for c in "Red Green Blue".split():
        setattr(p8, c + "PaletteColorLookupTableDescriptor", [16, 0, 8])
        setattr(p8, c + "PaletteColorLookupTableData", bytes(range(0, 256, 16)))
    out["palette8"] = p8
    seg = image(base(), gradient(8, 8, 255, np.uint16), "PALETTE COLOR")
    seg.BitsStored, seg.HighBit = 8, 7
    # discrete 2, linear to 65535 over 100, indirect: 1 segment at byte 0
    words = [0, 2, 0, 1000, 1, 100, 65535, 2, 1, 0, 0, 1, 153, 0]
    for c in "Red Green Blue".split():
        setattr(seg, c + "PaletteColorLookupTableDescriptor", [256, 0, 16])
        setattr(seg, "Segmented" + c + "PaletteColorLookupTableData",
                struct.pack("<%dH" % len(words), *words))
    out["palette-segmented"] = seg
    # Modality LUT and VOI LUT sequences.
    lut = image(base(), gradient(8, 8, 511, np.uint16), "MONOCHROME2", bits_stored=9)
    mitem = Dataset()
    mitem.LUTDescriptor = [512, 0, 12]
    mitem.ModalityLUTType = "HU"
    mitem.add_new(0x00283006, "OW", struct.pack("<512H", *[k * 8 for k in range(512)]))
    lut.ModalityLUTSequence = Sequence([mitem])
    vitem = Dataset()
    vitem.LUTDescriptor = [256, 0, 8]
    vitem.add_new(0x00283006, "US", list(range(256)))
    lut.VOILUTSequence = Sequence([vitem])
    out["lut-sequences"] = lut
    out["multiframe"] = image(base(), np.stack([gradient(8, 8, 255, np.uint8, 30)
                                                for _ in range(3)]), "MONOCHROME2", frames=3)
    return out


# --- transcodes ---------------------------------------------------------------

def run(args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# name, command (input and output files follow), native source image
TRANSCODES = [
    ("rle-mono8", ["dcmcrle"], "mono8"),
    ("rle-ct12", ["dcmcrle"], "ct12"),
    ("rle-rgb", ["dcmcrle"], "rgb"),
    ("rle-mono32", ["dcmcrle"], "mono32"),
    ("rle-multiframe", ["dcmcrle"], "multiframe"),
    ("jpeg-baseline-mono8", ["dcmcjpeg", "+eb"], "mono8"),
    ("jpeg-baseline-rgb", ["dcmcjpeg", "+eb"], "rgb"),
    ("jpeg-extended-ct12", ["dcmcjpeg", "+ee"], "ct12"),
    ("jpeg-progressive-mono8", ["dcmcjpeg", "+ep"], "mono8"),
    ("jpeg-lossless-sv1-ct12", ["dcmcjpeg", "+e1"], "ct12"),
    ("jpeg-lossless-sv7-mono16", ["dcmcjpeg", "+el", "+sv", "7"], "mono1-sigmoid"),
    ("jpeg-lossless-rgb", ["dcmcjpeg", "+e1"], "rgb"),
    ("jpeg-multiframe-nobot", ["dcmcjpeg", "+eb", "-ot"], "multiframe"),
    ("jpegls-lossless-ct12", ["dcmcjpls"], "ct12"),
    ("jpegls-near-mono8", ["dcmcjpls", "+en"], "mono8"),
    ("jpegls-rgb-line", ["dcmcjpls", "+il"], "rgb"),
    ("jpegls-rgb-sample", ["dcmcjpls", "+is"], "rgb"),
    ("jpegls-rgb-none", ["dcmcjpls", "+in"], "rgb-planar"),
    ("j2k-lossless-ct12", ["gdcmconv", "-K"], "ct12"),
    ("j2k-lossy-mono8", ["gdcmconv", "-K", "-Y", "-q", "30"], "mono8"),
    ("j2k-lossless-rgb", ["gdcmconv", "-K"], "rgb"),
    ("j2k-lossy-rgb", ["gdcmconv", "-K", "-Y", "-q", "20"], "rgb"),
]


def transcodes(tmp, natives):
    """name -> encoded file path, by DCMTK, GDCM and OpenJPEG."""
    out = {}
    for name, command, source in TRANSCODES:
        out[name] = os.path.join(tmp, name + ".dcm")
        run(command + [os.path.join(tmp, source + ".dcm"), out[name]])
        # Lossy transcodes get fresh UIDs and times: fixed ones keep the
        # corpus the same from run to run.
        ds = pydicom.dcmread(out[name])
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = base().SOPInstanceUID
        for keyword in ("InstanceCreationDate", "InstanceCreationTime"):
            ds.pop(keyword, None)
        ds.save_as(out[name])
    # A JP2 file (signature box, header boxes) as the frame.
    pgm = os.path.join(tmp, "mono8.pgm")
    arr = natives["mono8"].pixel_array
    with open(pgm, "wb") as f:
        f.write(b"P5\n%d %d\n255\n" % (arr.shape[1], arr.shape[0]) + arr.tobytes())
    jp2 = os.path.join(tmp, "mono8.jp2")
    run(["opj_compress", "-i", pgm, "-o", jp2, "-n", "3"])
    ds = natives["mono8"].copy()
    with open(jp2, "rb") as f:
        ds.PixelData = encapsulate([f.read()])
    ds["PixelData"].is_undefined_length = True
    ds["PixelData"].VR = "OB"
    out["j2k-jp2-mono8"] = os.path.join(tmp, "j2k-jp2-mono8.dcm")
    save(ds, out["j2k-jp2-mono8"], JPEG2000Lossless)
    return out


def frames(path):
    """(description header, encoded frame) of every frame of an encapsulated file."""
    ds = pydicom.dcmread(path)
    pi = str(ds.PhotometricInterpretation)
    flags = (ds.PixelRepresentation & 1) | (int(ds.get("PlanarConfiguration", 0)) & 1) << 1 | \
        PHOTOMETRIC.index(pi) << 2
    head = struct.pack("<HHBBBBB", ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.BitsAllocated,
                       ds.BitsStored, ds.HighBit, flags)
    n = int(ds.get("NumberOfFrames", 1))
    return [head + f for f in generate_pixel_data_frame(ds.PixelData, n)]


# --- text ---------------------------------------------------------------------

def charset_seeds():
    """(flags, Specific Character Set value, text bytes) per defined term."""
    esc = b"\x1b"
    jis = "山田^太郎".encode("iso2022_jp")
    seeds = [
        (0, b"", b"plain ASCII\\with a backslash"),
        (1, b"ISO_IR 100", "Müller^Jürgen=Ñandú".encode("latin_1")),
        (0, b"ISO_IR 101", "Dvořák".encode("iso8859_2")),
        (0, b"ISO_IR 109", "Ġuża".encode("iso8859_3")),
        (0, b"ISO_IR 110", "Ąžuolas".encode("iso8859_4")),
        (1, b"ISO_IR 144", "Люкceмбypг".encode("iso8859_5", "replace")),
        (0, b"ISO_IR 127", "قباني^لنزار".encode("iso8859_6")),
        (1, b"ISO_IR 126", "Διονυσιος".encode("iso8859_7")),
        (0, b"ISO_IR 138", "שרון^דבורה".encode("iso8859_8")),
        (0, b"ISO_IR 148", "Çavuşoğlu".encode("iso8859_9")),
        (0, b"ISO_IR 203", "€uro œuvre".encode("iso8859_15")),
        (0, b"ISO_IR 166", "ภาษาไทย".encode("tis_620")),
        (1, b"ISO_IR 13", "ﾔﾏﾀﾞ^ﾀﾛｳ".encode("shift_jis")),
        (1, b"ISO 2022 IR 6\\ISO 2022 IR 87", b"Yamada^Tarou=" + jis + b"=" +
         "やまだ^たろう".encode("iso2022_jp")),
        (1, b"ISO_IR 13\\ISO 2022 IR 87", "ﾔﾏﾀﾞ^ﾀﾛｳ=".encode("shift_jis") + jis),
        (0, b"ISO 2022 IR 6\\ISO 2022 IR 159", esc + b"$(D" + b"\x30\x21\x30\x22" + esc + b"(B"),
        (1, b"\\ISO 2022 IR 149", b"Hong^Gildong=" + esc + b"$)C" +
         "洪^吉洞".encode("euc_kr") + b"=" + esc + b"$)C" + "홍^길동".encode("euc_kr")),
        (1, b"ISO 2022 IR 6\\ISO 2022 IR 58", b"Zhang^XiaoDong=" + esc + b"$)A" +
         "张^小东".encode("gb2312") + b"="),
        (0, b"ISO 2022 IR 100\\ISO 2022 IR 144", esc + b"-A" + "é".encode("latin_1") +
         esc + b"-L" + "Ж".encode("iso8859_5")),
        (0, b"ISO_IR 192", "Wang^XiaoDong=王^小東= ✓".encode("utf-8") + b"\xc3\x28\xf0\x9f"),
        (0, b"GB18030", "王^小东=".encode("gb18030") + "😀".encode("gb18030")),
        (0, b"GBK", "王^小东".encode("gbk")),
        (0, b"ISO IR 100", "misspelled Ä".encode("latin_1")),
        (2, b"ISO_IR 100", b"default repertoire \xe9\x00 NUL"),
    ]
    return [bytes([f, len(v)]) + v + t for f, v, t in seeds]


def rich_dataset():
    """Every VR, values in many forms, sequences, private elements."""
    ds = base("MR")
    ds.SpecificCharacterSet = ["ISO 2022 IR 6", "ISO 2022 IR 87"]
    ds.PatientName = b"Yamada^Tarou=" + "山田^太郎".encode("iso2022_jp") + b"=" + \
        "やまだ^たろう".encode("iso2022_jp")
    ds.add_new(0x00080020, "DA", "20240229")
    ds.add_new(0x00080030, "TM", "235959.123456")
    ds.add_new(0x0008002A, "DT", "20240229235959.5+0100")
    ds.add_new(0x00101010, "AS", "042Y")
    ds.add_new(0x00181030, "LO", ["one", " two ", "three"])
    ds.add_new(0x00204000, "LT", "line one\r\nline two\ttab\\not split")
    ds.add_new(0x00081030, "LO", "Brain\\MR")
    ds.add_new(0x00200013, "IS", "-12")
    ds.add_new(0x00280030, "DS", ["0.5", "1e-3"])
    ds.add_new(0x00080054, "AE", "  AET1 ")
    ds.add_new(0x00080119, "UC", "unlimited " * 5)
    ds.add_new(0x00080120, "UR", "http://example.com/a b")
    ds.add_new(0x0040A160, "UT", "text\x01\x7f" + "é")
    ds.add_new(0x00181310, "US", [256, 0, 0, 256])
    ds.add_new(0x00189219, "SS", -7)
    ds.add_new(0x00091001, "UL", 1)
    ds.add_new(0x00186020, "SL", [-1, 2147483647])
    ds.add_new(0x00720082, "SV", [-(2 ** 63), 2 ** 63 - 1])
    ds.add_new(0x00720083, "UV", [0, 2 ** 64 - 1])
    ds.add_new(0x00189087, "FD", 1.0 / 3)
    ds.add_new(0x00181314, "FL", [float("nan"), float("-inf"), 1e-45])
    ds.add_new(0x00209165, "AT", [0x00100010, 0x7FE00010])
    ds.add_new(0x00660023, "OW", bytes(range(40)))
    ds.add_new(0x00660024, "OF", struct.pack("<3f", 1.5, -0.0, float("inf")))
    ds.add_new(0x00660040, "OL", struct.pack("<2I", 1, 0xFFFFFFFF))
    ds.add_new(0x00660041, "OD", struct.pack("<2d", 2.5, float("nan")))
    ds.add_new(0x00660042, "OV", struct.pack("<Q", 2 ** 64 - 2))
    ds.add_new(0x00420011, "OB", bytes(range(256)) * 2)
    ds.add_new(0x00291010, "LO", "orphan private")
    ds.add_new(0x00190010, "LO", "FUZZ CREATOR")
    ds.add_new(0x00191001, "UN", b"\x01\x02\x03\x04")
    ds.add_new(0x00191002, "DS", "3.25")
    ds.add_new(0x00211000, "SH", "group length-ish")
    inner = Dataset()
    inner.SpecificCharacterSet = "ISO_IR 192"
    inner.add_new(0x00081150, "UI", "1.2.3")
    inner.add_new(0x00080104, "LO", "Ünïcödé ✓")
    deep = Dataset()
    deep.add_new(0x00081155, "UI", "1.2.3.4")
    deep.ReferencedImageSequence = Sequence([Dataset(), Dataset()])
    inner.ReferencedImageSequence = Sequence([deep])
    ds.ReferencedStudySequence = Sequence([inner, Dataset()])
    ds.add_new(0x00400275, "SQ", Sequence([]))
    ds.Rows, ds.Columns = 2, 2
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = b"\x00\x40\x80\xff"
    ds.add_new(0xFFFAFFFA, "SQ", Sequence([]))  # Digital Signatures, after Pixel Data
    return ds


def names_seeds():
    fields = [
        [b"Doe^John", b"12345", b"20240101", b"Chest CT", b"3", b"CT", b"Axial 1mm", b"12"],
        [b"../..", b"/etc/passwd", b"2024.01.02", b"..", b"-1", b"", b"\n\t\x01", b"007"],
        [b"  .hidden  ", "山田^太郎".encode(), b"not a date", b"x" * 300, b"99999999999999999999",
         b"MR/CT", "é\u2028e".encode(), b"\xff\xfe\xc3"],
        [b"Same", b"Same", b"Same", b"Same", b"1", b"1", b"1", b"1"],
        [b"", b"", b"", b"", b"", b"", b"", b""],
    ]
    return [bytes([k * 53 % 246]) + b"\0".join(f) for k, f in enumerate(fields)]


# --- writing --------------------------------------------------------------------

def write(folder, name, data):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    corpus = os.path.join(root, "tests", "fuzz", "corpus")
    for target in ("render", "charset", "names", "pixels", "rle", "jpeg", "jpegls", "j2k"):
        shutil.rmtree(os.path.join(corpus, target), ignore_errors=True)
    reader = os.path.join(corpus, "reader")
    for name in os.listdir(reader) if os.path.isdir(reader) else []:
        if name.startswith("seed-"):
            os.remove(os.path.join(reader, name))

    with tempfile.TemporaryDirectory() as tmp:
        natives = native_images()
        for name, ds in natives.items():
            save(ds, os.path.join(tmp, name + ".dcm"))
        encoded = transcodes(tmp, natives)
        pixels = os.path.join(corpus, "pixels")
        os.makedirs(pixels, exist_ok=True)
        for name in natives:
            shutil.copy(os.path.join(tmp, name + ".dcm"), os.path.join(pixels, name + ".dcm"))
        for name, path in encoded.items():
            shutil.copy(path, os.path.join(pixels, name + ".dcm"))
        # Other encodings of native pixel data.
        write(pixels, "ct12-implicit.dcm", save(natives["ct12"].copy(), os.path.join(tmp, "i.dcm"),
                                               ImplicitVRLittleEndian))
        write(pixels, "ct12-big-endian.dcm", save(natives["ct12"].copy(), os.path.join(tmp, "b.dcm"),
                                                 ExplicitVRBigEndian))
        write(pixels, "rgb-deflated.dcm", save(natives["rgb-planar"].copy(),
                                               os.path.join(tmp, "d.dcm"),
                                               DeflatedExplicitVRLittleEndian))
        # The per-codec targets: each encoded frame behind its description.
        for prefix, target in (("rle-", "rle"), ("jpeg-", "jpeg"), ("jpegls-", "jpegls"),
                               ("j2k-", "j2k")):
            for name, path in encoded.items():
                if name.startswith(prefix):
                    for k, frame in enumerate(frames(path)[:2]):
                        write(os.path.join(corpus, target), "%s-%d.bin" % (name, k), frame)

        rich = rich_dataset()
        render = os.path.join(corpus, "render")
        for ts, suffix in ((ExplicitVRLittleEndian, "explicit-le"),
                           (ImplicitVRLittleEndian, "implicit-le"),
                           (ExplicitVRBigEndian, "explicit-be"),
                           (DeflatedExplicitVRLittleEndian, "deflated")):
            data = save(rich.copy(), os.path.join(tmp, "r.dcm"), ts)
            write(render, "rich-%s.dcm" % suffix, data)
            write(reader, "seed-rich-%s.dcm" % suffix, data)
        # Without File Meta Information, as a bare data set.
        bare = save(rich.copy(), os.path.join(tmp, "bare.dcm"), ExplicitVRLittleEndian, meta=False)
        write(render, "rich-bare.dcm", bare)
        write(reader, "seed-rich-bare.dcm", bare)
        for name in ("palette-segmented", "lut-sequences", "float32", "jpeg-lossless-rgb",
                     "rle-multiframe", "jpeg-multiframe-nobot"):
            shutil.copy(os.path.join(pixels, name + ".dcm"), os.path.join(render, name + ".dcm"))
            shutil.copy(os.path.join(pixels, name + ".dcm"),
                        os.path.join(reader, "seed-" + name + ".dcm"))

    for k, seed in enumerate(charset_seeds()):
        write(os.path.join(corpus, "charset"), "charset-%02d.bin" % k, seed)
    for k, seed in enumerate(names_seeds()):
        write(os.path.join(corpus, "names"), "names-%d.bin" % k, seed)


if __name__ == "__main__":
    main()
