#!/usr/bin/python3
"""Build issue 4's pixel test set in OUTDIR (never in the repository).

usage: /usr/bin/python3 tests/pixels/make_pixel_set.py OUTDIR

From the real native images in Debian's python3-pydicom test data (CT_small,
MR_small, rtdose, the SC_rgb files) and a few images derived from them with
pydicom (12-bit stored in 16 with and without garbage high bits, MONOCHROME1,
palettes with 16- and 8-bit LUT entries, a first mapped value, segmented LUTs,
a 4-frame CT, float and double pixel data), transcoded with DCMTK (dcmcjpeg,
dcmcjpls, dcmcrle, dcmconv) and GDCM (gdcmconv --j2k, --jpegls, --rle), plus
pydicom's own compressed files, plus some frame/fragment layouts written with
pydicom.encaps, a few deliberately corrupt files and two video-syntax files
(MPEG-2, HEVC: not decoded, so their pixel files must answer EIO too).

Writes:
  OUTDIR/set/*.dcm, OUTDIR/set/corrupt/*.dcm   the files (the folder to mount)
  OUTDIR/manifest.json                         one entry per file:
     name      case name (= file stem)
     file      path relative to OUTDIR/set
     syntax    short label of the transfer syntax / encoder
     lossy     true when decoders may legitimately differ
     oracle    dcmdjpeg | dcmdjpls | dcmdrle | dcmconv | gdcm | pydicom | none
     same_as   (optional) compare with the oracle output of another case (same codestreams)
     base      (optional) the native case it was made from (for the vs-original figures)
     near      (optional) JPEG-LS NEAR: |decoded - original| <= near is the codec's guarantee
     corrupt   (optional) what was broken: reads of pixel files must give EIO
     oracle_opts (optional) options for the oracle tool, with `why`
     twin      (optional) a file said to hold the same pixels (a note, not a check:
               rtdose_expb/rtdose, where pydicom reads the same values and
               DCMTK/GDCM read 32-bit OW big endian as 16-bit words)
     render_via (optional) "pydicom": image.png checked against pydicom's
               apply_color_lut (segmented palettes: DCMTK ignores them, GDCM
               3.0.21's --decompress-lut aborts)
Exit status 1 (with the failing command) if a tool fails.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate, encapsulate_extended, generate_pixel_data_frame
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

TEST_FILES = "/usr/lib/python3/dist-packages/pydicom/data/test_files"
SC_CLASS = "1.2.840.10008.5.1.4.1.1.7"
ROOT = "1.2.826.0.1.3680043.8.498."  # pydicom's root (generate_uid default)

# The picture of pydicom's 100x100 SC_rgb files (the case "rgb" holds it natively).
RGB_PICTURE = {"base": "rgb"}

# pydicom's own files with pixel data, taken as they are:
# (file stem, syntax label, lossy, oracle[, extra manifest fields]).
PYDICOM_FILES = [
    # native
    ("CT_small", "native LE", False, "dcmconv"),
    ("MR_small", "native LE", False, "dcmconv"),
    ("MR_small_bigendian", "native BE", False, "dcmconv"),
    ("MR_small_expb", "native BE", False, "dcmconv"),
    ("MR_small_implicit", "native implicit", False, "dcmconv"),
    ("MR_small_padded", "native LE", False, "dcmconv"),
    ("rtdose", "native LE 32-bit 15 frames", False, "dcmconv"),
    ("rtdose_expb", "native BE 32-bit 15 frames", False, "dcmconv", {"twin": "rtdose"}),
    ("ExplVR_BigEnd", "native BE RGB planar 1", False, "dcmconv"),
    ("SC_rgb_small_odd", "native RGB 3x3", False, "dcmconv"),
    ("SC_ybr_full_422_uncompressed", "native YBR_FULL_422", False, "pydicom"),
    ("liver_1frame", "native 1-bit", False, "dcmconv"),
    ("liver_expb_1frame", "native BE 1-bit", False, "dcmconv"),
    ("image_dfl", "deflated", False, "dcmconv"),
    # RLE
    ("MR_small_RLE", "RLE", False, "dcmdrle"),
    ("SC_rgb_rle", "RLE RGB", False, "dcmdrle"),
    ("SC_rgb_rle_2frame", "RLE RGB 2 frames", False, "dcmdrle"),
    ("SC_rgb_rle_16bit", "RLE RGB 16-bit", False, "dcmdrle"),
    ("SC_rgb_rle_16bit_2frame", "RLE RGB 16-bit 2 frames", False, "dcmdrle"),
    ("SC_rgb_rle_32bit", "RLE RGB 32-bit", False, "dcmdrle"),
    ("SC_rgb_rle_32bit_2frame", "RLE RGB 32-bit 2 frames", False, "dcmdrle"),
    ("rtdose_rle", "RLE 32-bit 15 frames", False, "dcmdrle"),
    ("rtdose_rle_1frame", "RLE 32-bit", False, "dcmdrle"),
    # JPEG
    ("JPGExtended", "JPEG extended 12-bit", True, "dcmdjpeg"),
    ("JPEG-lossy", "JPEG extended 12-bit", True, "dcmdjpeg"),
    ("SC_rgb_jpeg_dcmtk", "JPEG baseline YBR_FULL", True, "dcmdjpeg", RGB_PICTURE),
    ("SC_rgb_dcmtk_+eb+cr", "JPEG baseline RGB", True, "dcmdjpeg", RGB_PICTURE),
    ("SC_rgb_dcmtk_+eb+cy+n1", "JPEG baseline YBR 411", True, "dcmdjpeg", RGB_PICTURE),
    ("SC_rgb_dcmtk_+eb+cy+n2", "JPEG baseline YBR 422 full", True, "dcmdjpeg", RGB_PICTURE),
    ("SC_rgb_dcmtk_+eb+cy+np", "JPEG baseline YBR 411 (422 label)", True, "dcmdjpeg", RGB_PICTURE),
    ("SC_rgb_dcmtk_+eb+cy+s2", "JPEG baseline YBR_FULL_422", True, "dcmdjpeg", RGB_PICTURE),
    ("SC_rgb_dcmtk_+eb+cy+s4", "JPEG baseline YBR 444", True, "dcmdjpeg", RGB_PICTURE),
    ("SC_rgb_jpeg_gdcm", "JPEG lossless RGB (GDCM)", False, "dcmdjpeg", RGB_PICTURE),
    # GDCM's lossy encoder labels YCbCr 4:2:0 data RGB (no JFIF/Adobe marker):
    # dcmdjpeg keeps the samples by default, +cg converts as the stream says.
    ("SC_rgb_jpeg_lossy_gdcm", "JPEG baseline 4:2:0 labelled RGB (GDCM)", True, "dcmdjpeg",
     dict(RGB_PICTURE, oracle_opts=["+cg"],
          why="YCbCr 4:2:0 stream labelled RGB: dcmdjpeg +cg (library's colour guess)")),
    ("SC_rgb_gdcm_KY", "J2K lossy RGB (GDCM)", True, "gdcm", RGB_PICTURE),
    ("SC_rgb_small_odd_jpeg", "JPEG baseline 3x3", True, "dcmdjpeg"),
    ("SC_jpeg_no_color_transform", "JPEG baseline RGB, no marker", True, "dcmdjpeg"),
    ("SC_jpeg_no_color_transform_2", "JPEG baseline RGB, Adobe transform 0", True, "dcmdjpeg"),
    ("SC_rgb_jpeg_app14_dcmd", "JPEG baseline RGB APP14", True, "dcmdjpeg"),
    # JPEG-LS
    ("MR_small_jpeg_ls_lossless", "JPEG-LS lossless", False, "dcmdjpls"),
    # JPEG 2000
    ("MR_small_jp2klossless", "J2K lossless", False, "gdcm"),
    ("JPEG2000", "J2K", False, "gdcm"),
    ("GDCMJ2K_TextGBR", "J2K YBR_RCT", False, "gdcm"),
    ("J2K_pixelrep_mismatch", "J2K signedness mismatch", False, "gdcm"),
    ("693_J2KI", "J2K lossy", True, "gdcm"),
]


class Builder:
    def __init__(self, outdir):
        self.out = os.path.abspath(outdir)
        self.set = os.path.join(self.out, "set")
        self.cases = []
        self.names = set()

    def path(self, name, corrupt=False):
        return os.path.join(self.set, "corrupt" if corrupt else "", name + ".dcm")

    def add(self, name, syntax, lossy, oracle, corrupt=None, **extra):
        assert name not in self.names, name
        self.names.add(name)
        e = {"name": name, "file": os.path.relpath(self.path(name, bool(corrupt)), self.set),
             "syntax": syntax, "lossy": lossy, "oracle": oracle}
        if corrupt:
            e["corrupt"] = corrupt
        e.update(extra)
        self.cases.append(e)

    def run(self, argv):
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode != 0 or not os.path.exists(argv[-1]):
            sys.exit(f"make_pixel_set: {' '.join(argv)} failed ({r.returncode}): "
                     f"{(r.stderr or r.stdout).strip()[:500]}")

    def convert(self, tool, opts, base, name, syntax, lossy, oracle, **extra):
        """tool [opts] base.dcm name.dcm; registers the case."""
        self.run([tool] + opts + [self.path(base), self.path(name)])
        self.add(name, syntax, lossy, oracle, base=base, **extra)

    def gdcm(self, opts, base, name, syntax, lossy, oracle="gdcm", **extra):
        self.run(["gdcmconv", "--quiet"] + opts + ["-i", self.path(base), "-o", self.path(name)])
        self.add(name, syntax, lossy, oracle, base=base, **extra)


def new_uids(ds, name):
    """Fresh, deterministic study/series/instance UIDs and a patient of its own,
    so that derived images get folders of their own."""
    ds.SOPInstanceUID = generate_uid(ROOT, [name, "sop"])
    ds.SeriesInstanceUID = generate_uid(ROOT, [name, "series"])
    ds.StudyInstanceUID = generate_uid(ROOT, [name, "study"])
    ds.PatientName = "Pixels^" + name
    ds.PatientID = "PX-" + name
    if "file_meta" in ds.__dict__ and ds.file_meta is not None:
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID


def save_native(ds, path):
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.save_as(path, write_like_original=False)


def drop(ds, *keywords):
    for k in keywords:
        if k in ds:
            delattr(ds, k)


def derived_images(b):
    """Native images made with pydicom from CT_small / MR_small."""
    ct = pydicom.dcmread(os.path.join(TEST_FILES, "CT_small.dcm"))
    ct_px = ct.pixel_array.astype(np.int32)          # 128..2191, signed 16-bit
    mr = pydicom.dcmread(os.path.join(TEST_FILES, "MR_small.dcm"))

    # 12 bits stored in 16, unsigned, CT window
    ds = pydicom.dcmread(os.path.join(TEST_FILES, "CT_small.dcm"))
    new_uids(ds, "ct_u12")
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 12, 11, 0
    ds.WindowCenter, ds.WindowWidth = 40, 400
    ds.PixelData = np.clip(ct_px, 0, 4095).astype("<u2").tobytes()
    save_native(ds, b.path("ct_u12"))
    b.add("ct_u12", "native LE 12/16 unsigned", False, "dcmconv")

    # 12 bits stored in 16, signed, with garbage in the 4 high bits
    ds = pydicom.dcmread(os.path.join(TEST_FILES, "CT_small.dcm"))
    new_uids(ds, "ct_s12_garbage")
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 12, 11, 1
    v = (ct_px - 1024) & 0x0FFF
    rng = np.random.default_rng(4)
    v |= rng.integers(0, 16, v.shape, dtype=np.int32) << 12
    ds.RescaleIntercept = 0
    ds.PixelData = v.astype("<u2").tobytes()
    save_native(ds, b.path("ct_s12_garbage"))
    b.add("ct_s12_garbage", "native LE 12/16 signed, garbage high bits", False, "dcmconv")

    # MONOCHROME1
    ds = pydicom.dcmread(os.path.join(TEST_FILES, "MR_small.dcm"))
    new_uids(ds, "mr_mono1")
    ds.PhotometricInterpretation = "MONOCHROME1"
    save_native(ds, b.path("mr_mono1"))
    b.add("mr_mono1", "native MONOCHROME1", False, "dcmconv")

    # MR without a window (min-max rendering), VOI LUT Sequence
    ds = pydicom.dcmread(os.path.join(TEST_FILES, "MR_small.dcm"))
    new_uids(ds, "mr_voilut")
    drop(ds, "WindowCenter", "WindowWidth")
    item = Dataset()
    item.LUTDescriptor = [1024, 0, 12]    # first mapped 0, 1024 entries, 12 bits
    lut = (np.sqrt(np.arange(1024) / 1023.0) * 4095).astype("<u2")
    item.LUTData = lut.tobytes()
    item["LUTData"].VR = "OW"
    item.LUTExplanation = "sqrt"
    ds.VOILUTSequence = [item]
    save_native(ds, b.path("mr_voilut"))
    b.add("mr_voilut", "native VOI LUT Sequence", False, "dcmconv")

    # a 4-frame signed CT without a window (per-frame min-max)
    ds = pydicom.dcmread(os.path.join(TEST_FILES, "CT_small.dcm"))
    new_uids(ds, "ct4f")
    frames = np.stack([ct_px, ct_px[::-1, :], ct_px.T, (ct_px // 2) + 300]).astype("<i2")
    ds.NumberOfFrames = 4
    ds.PixelData = frames.tobytes()
    save_native(ds, b.path("ct4f"))
    b.add("ct4f", "native LE 4 frames", False, "dcmconv")

    # palettes, on a Secondary Capture made from CT_small
    def palette(name, bits, stored, index, desc, lut_bits, segmented=False):
        ds = pydicom.dcmread(os.path.join(TEST_FILES, "CT_small.dcm"))
        new_uids(ds, name)
        ds.SOPClassUID = SC_CLASS
        ds.Modality = "OT"
        drop(ds, "RescaleIntercept", "RescaleSlope", "WindowCenter", "WindowWidth")
        ds.PhotometricInterpretation = "PALETTE COLOR"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, stored, stored - 1, 0
        ds.PixelData = index.astype("<u1" if bits == 8 else "<u2").tobytes()
        n = desc[0] or 65536
        i = np.arange(n)
        top = 255 if lut_bits == 8 else 65535
        luts = [(i * top) // max(n - 1, 1),
                ((n - 1 - i) * top) // max(n - 1, 1),
                ((i * 7) % n) * top // max(n - 1, 1)]
        for colour, lut in zip(("Red", "Green", "Blue"), luts):
            setattr(ds, colour + "PaletteColorLookupTableDescriptor", list(desc))
            ds[colour + "PaletteColorLookupTableDescriptor"].VR = "US"
            if segmented:
                # a discrete segment of 2 values, then two linear segments: n entries
                seg = [0, 2, int(lut[0]), int(lut[1]),
                       1, n // 2 - 2, int(lut[n // 2 - 1]),
                       1, n - n // 2, int(lut[n - 1])]
                setattr(ds, "Segmented" + colour + "PaletteColorLookupTableData",
                        np.array(seg, "<u2").tobytes())
                ds["Segmented" + colour + "PaletteColorLookupTableData"].VR = "OW"
            else:
                data = lut.astype("<u1" if lut_bits == 8 else "<u2").tobytes()
                if len(data) % 2:
                    data += b"\0"
                setattr(ds, colour + "PaletteColorLookupTableData", data)
                ds[colour + "PaletteColorLookupTableData"].VR = "OW"
        save_native(ds, b.path(name))
        b.add(name, "native PALETTE COLOR " + ("segmented" if segmented else
                                               f"{bits}-bit, LUT {desc}"), False, "dcmconv",
              **({"render_via": "pydicom"} if segmented else {}))

    idx8 = (ct_px - ct_px.min()) * 255 // (ct_px.max() - ct_px.min())
    idx12 = (ct_px - ct_px.min()) * 4095 // (ct_px.max() - ct_px.min())
    palette("pal8", 8, 8, idx8, [256, 0, 16], 16)
    palette("pal8_lut8", 8, 8, idx8, [256, 0, 8], 8)
    palette("pal8_first40", 8, 8, idx8, [200, 40, 16], 16)
    palette("pal16", 16, 12, idx12, [4096, 0, 16], 16)
    palette("pal8_segmented", 8, 8, idx8, [256, 0, 16], 16, segmented=True)

    # float and double pixel data (raw only)
    for name, kw, bits, dt in (("ct_float32", "FloatPixelData", 32, "<f4"),
                               ("ct_float64", "DoubleFloatPixelData", 64, "<f8")):
        ds = pydicom.dcmread(os.path.join(TEST_FILES, "CT_small.dcm"))
        new_uids(ds, name)
        drop(ds, "PixelData", "BitsStored", "HighBit", "PixelRepresentation",
             "RescaleIntercept", "RescaleSlope")
        ds.BitsAllocated = bits
        setattr(ds, kw, (ct_px.astype(dt) - 1024.25).astype(dt).tobytes())
        ds[kw].VR = "OF" if bits == 32 else "OD"
        save_native(ds, b.path(name))
        b.add(name, f"native {dt[1:]} ({kw})", False, "pydicom")
    del mr


def frame_layouts(b):
    """Frame/fragment layouts written with pydicom.encaps from ct4f_jpeg_sv1's
    codestreams: one fragment for all frames, no offset table; Extended
    Offset Table; every frame split into 3 fragments with a Basic Offset Table."""
    src = pydicom.dcmread(b.path("ct4f_jpeg_sv1"))
    frames = list(generate_pixel_data_frame(src.PixelData, 4))

    def write(name, pixel_data, syntax, eot=None):
        ds = pydicom.dcmread(b.path("ct4f_jpeg_sv1"))
        new_uids(ds, name)
        ds.PixelData = pixel_data
        ds["PixelData"].VR = "OB"
        ds["PixelData"].is_undefined_length = True
        if eot is not None:
            ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths = eot
            ds["ExtendedOffsetTable"].VR = "OV"
            ds["ExtendedOffsetTableLengths"].VR = "OV"
        ds.save_as(b.path(name), write_like_original=False)
        b.add(name, syntax, False, "dcmdjpeg", same_as="ct4f_jpeg_sv1", base="ct4f")

    whole = b"".join(frames)
    if len(whole) % 2:
        whole += b"\0"
    write("ct4f_jpeg_onefragment", encapsulate([whole], has_bot=False),
          "JPEG lossless SV1, 4 frames in one fragment, no offset table")
    data, eot, lens = encapsulate_extended(frames)
    write("ct4f_jpeg_eot", data, "JPEG lossless SV1, Extended Offset Table", eot=(eot, lens))
    write("ct4f_jpeg_3frags_bot", encapsulate(frames, fragments_per_frame=3, has_bot=True),
          "JPEG lossless SV1, 3 fragments per frame, Basic Offset Table")


def fragments(path):
    """[(offset of fragment value in the file, length)] of the encapsulated Pixel
    Data (Basic Offset Table item excluded)."""
    data = open(path, "rb").read()
    i = data.rfind(b"\xe0\x7f\x10\x00OB\x00\x00\xff\xff\xff\xff")
    assert i > 0, path
    p = i + 12
    out = []
    first = True
    while data[p:p + 4] == b"\xfe\xff\x00\xe0":
        n = int.from_bytes(data[p + 4:p + 8], "little")
        if not first:
            out.append((p + 8, n))
        first = False
        p += 8 + n
    return out


def corrupt_files(b):
    os.makedirs(os.path.join(b.set, "corrupt"), exist_ok=True)

    def copy_with_uids(src_name, name):
        ds = pydicom.dcmread(b.path(src_name))
        new_uids(ds, name)
        ds.save_as(b.path(name, True), write_like_original=True)
        return b.path(name, True)

    # native file cut in the middle of its Pixel Data
    p = copy_with_uids("CT_small", "trunc_native")
    size = os.path.getsize(p)
    with open(p, "r+b") as f:
        f.truncate(size - 128 * 128)   # half of the 32768 pixel bytes
    b.add("trunc_native", "native LE", False, "none", corrupt="file truncated in Pixel Data", cut_short="native")

    # native Pixel Data shorter than Rows x Columns (whole file, defined length)
    ds = pydicom.dcmread(b.path("CT_small"))
    new_uids(ds, "short_native")
    ds.PixelData = ds.PixelData[:10000]
    ds.save_as(b.path("short_native", True), write_like_original=True)
    b.add("short_native", "native LE", False, "none", corrupt="Pixel Data value 10000 of 32768 bytes")

    # JPEG lossless: file cut in the middle of the fragment
    p = copy_with_uids("ct_jpeg_sv1", "trunc_jpeg")
    (off, n), = fragments(p)
    with open(p, "r+b") as f:
        f.truncate(off + n // 2)
    b.add("trunc_jpeg", "JPEG lossless SV1", False, "none", corrupt="file truncated in the JPEG fragment",
          cut_short="encapsulated")

    def garble(src_name, name, syntax, what, start, length, fill=b"\xa5"):
        p = copy_with_uids(src_name, name)
        frags = fragments(p)
        off, n = frags[0]
        data = bytearray(open(p, "rb").read())
        s = off + start
        length = min(length, n - start)
        data[s:s + length] = (fill * (length // len(fill) + 1))[:length]
        open(p, "wb").write(bytes(data))
        b.add(name, syntax, False, "none", corrupt=what)

    # JPEG: the frame header and tables after SOI overwritten
    garble("ct_jpeg_sv1", "garble_jpeg_header", "JPEG lossless SV1",
           "JPEG marker segments after SOI overwritten", 2, 60)
    garble("rgb_jpeg_baseline", "garble_jpeg_baseline", "JPEG baseline",
           "JPEG marker segments after SOI overwritten", 2, 60)
    # JPEG: entropy-coded data replaced by a premature EOI and zeros
    garble("ct_jpeg_sv1", "garble_jpeg_eoi", "JPEG lossless SV1",
           "stream cut short by an EOI in the middle of the scan (rest zeros)", 400, 1 << 20,
           fill=b"\xff\xd9" + b"\0" * (1 << 20))
    # JPEG-LS: header overwritten
    garble("ct_jls", "garble_jls_header", "JPEG-LS lossless",
           "JPEG-LS marker segments after SOI overwritten", 2, 40)
    # JPEG 2000: main header overwritten
    garble("ct_j2k", "garble_j2k_header", "J2K lossless",
           "J2K main header after SOC overwritten", 2, 60)
    # RLE: header claiming 15 segments with offsets past the fragment
    garble("ct_rle", "garble_rle_header", "RLE",
           "RLE header: 15 segments, offsets past the fragment", 0, 64,
           fill=(15).to_bytes(4, "little") + b"".join((0x7fff0000 + k).to_bytes(4, "little")
                                                        for k in range(15)))
    # pydicom's MR_truncated: the file ends inside Pixel Data
    shutil.copy(os.path.join(TEST_FILES, "MR_truncated.dcm"), b.path("MR_truncated", True))
    b.add("MR_truncated", "native LE", False, "none", corrupt="pydicom's MR_truncated.dcm",
          cut_short="native")
    # video transfer syntaxes are not decoded: their pixel files answer EIO
    for name, uid, label in (("video_mpeg2", "1.2.840.10008.1.2.4.100", "MPEG-2 MP@ML"),
                             ("video_hevc", "1.2.840.10008.1.2.4.107", "HEVC/H.265 Main")):
        p = copy_with_uids("ct_jpeg_sv1", name)
        ds = pydicom.dcmread(p)
        ds.file_meta.TransferSyntaxUID = uid
        ds.save_as(p, write_like_original=True)
        b.add(name, label, True, "none", corrupt=f"video transfer syntax {label}: not decoded")
    # pydicom's JPEG 2000 with 4 codestream bytes replaced (GDCM cannot decode it either)
    shutil.copy(os.path.join(TEST_FILES, "JPEG2000-embedded-sequence-delimiter.dcm"),
                b.path("JPEG2000-embedded-sequence-delimiter", True))
    b.add("JPEG2000-embedded-sequence-delimiter", "J2K", False, "none",
          corrupt="pydicom's: 4 codestream bytes replaced by a Sequence Delimiter")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    b = Builder(sys.argv[1])
    if os.path.exists(b.set):
        shutil.rmtree(b.set)
    os.makedirs(b.set)

    for name, syntax, lossy, oracle, *extra in PYDICOM_FILES:
        shutil.copy(os.path.join(TEST_FILES, name + ".dcm"), b.path(name))
        b.add(name, syntax, lossy, oracle, pydicom_file=True, **(extra[0] if extra else {}))

    derived_images(b)

    # native RGB bases: DCMTK's RLE decoder on pydicom's RLE RGB files
    for base, src in (("rgb", "SC_rgb_rle"), ("rgb2f", "SC_rgb_rle_2frame"),
                      ("rgb16", "SC_rgb_rle_16bit")):
        b.run(["dcmdrle", os.path.join(TEST_FILES, src + ".dcm"), b.path(base)])
        ds = pydicom.dcmread(b.path(base))
        new_uids(ds, base)
        ds.save_as(b.path(base), write_like_original=True)
        b.add(base, "native LE RGB (dcmdrle of %s)" % src, False, "dcmconv")

    # other native encodings
    b.convert("dcmconv", ["+td"], "CT_small", "ct_deflated", "deflated", False, "dcmconv")
    b.convert("dcmconv", ["+tb"], "CT_small", "ct_bigendian", "native BE", False, "dcmconv")
    b.convert("dcmconv", ["+ti"], "rtdose", "rtdose_implicit", "native implicit", False, "dcmconv")
    b.convert("dcmconv", ["+tb"], "ct_s12_garbage", "ct_s12_garbage_be", "native BE 12/16 garbage",
              False, "dcmconv")
    b.convert("dcmconv", ["+tb"], "rgb", "rgb_bigendian", "native BE RGB", False, "dcmconv")

    # JPEG lossless (process 14): SV1 and every predictor
    for base in ("CT_small", "MR_small", "ct_u12", "rgb", "rgb16", "pal8", "pal16", "ct4f", "rgb2f",
                 "mr_mono1"):
        name = {"CT_small": "ct", "MR_small": "mr"}.get(base, base) + "_jpeg_sv1"
        b.convert("dcmcjpeg", ["+e1"], base, name, "JPEG lossless SV1", False, "dcmdjpeg")
    for sv in range(1, 8):
        b.convert("dcmcjpeg", ["+el", "+sv", str(sv)], "CT_small", f"ct_jpeg_p14_sv{sv}",
                  f"JPEG lossless process 14 SV{sv}", False, "dcmdjpeg")
    for sv in (2, 5, 7):
        b.convert("dcmcjpeg", ["+el", "+sv", str(sv)], "rgb", f"rgb_jpeg_p14_sv{sv}",
                  f"JPEG lossless process 14 SV{sv} RGB", False, "dcmdjpeg")
        b.convert("dcmcjpeg", ["+el", "+sv", str(sv)], "ct_u12", f"ct_u12_jpeg_p14_sv{sv}",
                  f"JPEG lossless process 14 SV{sv} 12-bit", False, "dcmdjpeg")
    # frames split across fragments (1 KiB), no offset table
    b.convert("dcmcjpeg", ["+e1", "+fs", "1", "-ot"], "ct4f", "ct4f_jpeg_frag1k_nobot",
              "JPEG lossless SV1, 1 KiB fragments, no offset table", False, "dcmdjpeg")
    b.convert("dcmcjpeg", ["+e1", "+fs", "1", "-ot"], "rgb2f", "rgb2f_jpeg_frag1k_nobot",
              "JPEG lossless SV1 RGB, 1 KiB fragments, no offset table", False, "dcmdjpeg")
    # JPEG baseline and extended
    b.convert("dcmcjpeg", ["+eb"], "rgb", "rgb_jpeg_baseline", "JPEG baseline YBR_FULL_422", True, "dcmdjpeg")
    b.convert("dcmcjpeg", ["+eb", "+cr"], "rgb", "rgb_jpeg_baseline_rgb", "JPEG baseline RGB", True, "dcmdjpeg")
    b.convert("dcmcjpeg", ["+eb", "+s4"], "rgb", "rgb_jpeg_baseline_444", "JPEG baseline YBR_FULL 444", True,
              "dcmdjpeg")
    b.convert("dcmcjpeg", ["+eb"], "rgb2f", "rgb2f_jpeg_baseline", "JPEG baseline 2 frames", True, "dcmdjpeg")
    b.convert("dcmcjpeg", ["+eb"], "CT_small", "ct_jpeg_baseline", "JPEG baseline (16 to 8 bits)", True,
              "dcmdjpeg")
    b.convert("dcmcjpeg", ["+eb"], "ct4f", "ct4f_jpeg_baseline", "JPEG baseline 4 frames", True, "dcmdjpeg")
    b.convert("dcmcjpeg", ["+ee"], "ct_u12", "ct_u12_jpeg_extended", "JPEG extended 12-bit", True, "dcmdjpeg")
    b.convert("dcmcjpeg", ["+ee"], "MR_small", "mr_jpeg_extended", "JPEG extended 12-bit (16 to 12)", True,
              "dcmdjpeg")
    b.convert("dcmcjpeg", ["+ee"], "ct4f", "ct4f_jpeg_extended", "JPEG extended 12-bit 4 frames", True,
              "dcmdjpeg")
    # JPEG-LS
    for base in ("CT_small", "MR_small", "ct_u12", "rgb", "rgb16", "pal8", "ct4f", "rgb2f"):
        name = {"CT_small": "ct", "MR_small": "mr"}.get(base, base) + "_jls"
        b.convert("dcmcjpls", [], base, name, "JPEG-LS lossless", False, "dcmdjpls")
    b.convert("dcmcjpls", ["+is"], "rgb", "rgb_jls_sample", "JPEG-LS lossless sample-interleaved", False,
              "dcmdjpls")
    b.convert("dcmcjpls", ["+in"], "rgb", "rgb_jls_none", "JPEG-LS lossless not interleaved", False,
              "dcmdjpls")
    b.convert("dcmcjpls", ["+en"], "rgb", "rgb_jls_near2", "JPEG-LS near-lossless NEAR 2", True, "dcmdjpls",
              near=2)
    b.convert("dcmcjpls", ["+en", "+md", "5"], "ct_u12", "ct_u12_jls_near5", "JPEG-LS near-lossless NEAR 5",
              True, "dcmdjpls", near=5)
    b.gdcm(["--jpegls"], "CT_small", "ct_gdcm_jls", "JPEG-LS lossless (GDCM)", False, oracle="dcmdjpls")
    b.gdcm(["--jpegls", "--lossy", "-e", "3"], "CT_small", "ct_gdcm_jls_near3",
           "JPEG-LS near-lossless NEAR 3 (GDCM, signed)", True, oracle="dcmdjpls", near=3)
    # RLE
    for base in ("CT_small", "MR_small", "rtdose", "rgb", "rgb16", "pal8", "ct_s12_garbage", "ct4f"):
        name = {"CT_small": "ct", "MR_small": "mr", "rtdose": "rtdose_dcmtk"}.get(base, base) + "_rle"
        b.convert("dcmcrle", [], base, name, "RLE", False, "dcmdrle")
    b.gdcm(["--rle"], "ct_u12", "ct_u12_gdcm_rle", "RLE (GDCM)", False, oracle="dcmdrle")
    # JPEG 2000
    for base in ("CT_small", "MR_small", "ct_u12", "rgb", "rgb2f", "ct4f", "pal8"):
        name = {"CT_small": "ct", "MR_small": "mr"}.get(base, base) + "_j2k"
        b.gdcm(["--j2k"], base, name, "J2K lossless", False)
    b.gdcm(["--j2k", "--lossy"], "CT_small", "ct_j2k_lossy", "J2K lossy (irreversible)", True)
    b.gdcm(["--j2k", "--lossy", "-q", "30"], "CT_small", "ct_j2k_lossy_q30", "J2K lossy q30", True)
    b.gdcm(["--j2k", "--lossy"], "rgb", "rgb_j2k_lossy", "J2K lossy RGB (ICT)", True)
    b.gdcm(["--j2k", "--lossy"], "MR_small", "mr_j2k_lossy", "J2K lossy", True)

    frame_layouts(b)
    corrupt_files(b)

    with open(os.path.join(b.out, "manifest.json"), "w") as f:
        json.dump(b.cases, f, indent=1)
    print(f"{len(b.cases)} files in {b.set}")


if __name__ == "__main__":
    main()
