#!/usr/bin/python3
"""Issue 4's pixel tests against independent decoders.

usage: /usr/bin/python3 tests/pixels/test_pixels.py DICOMFS_TOOL DICOMFS_EXE SOURCE_ROOT

Builds the test set with make_pixel_set.py in a temporary folder, then:
 (a) `dicomfs-tool raw` of every file equals, byte for byte, the stored values
     (Bits Stored masked, sign-extended, little endian, samples interleaved) of
     the native file that DCMTK (dcmdjpeg, dcmdjpls, dcmdrle, dcmconv +te) or
     GDCM (gdcmconv --raw) writes for it, read here with pydicom's PixelData
     bytes (no codec involved); lossy syntaxes within a tolerance (max
     difference reported), JPEG-LS near-lossless within NEAR of the original.
     GDCM's output is compared too wherever it is not the oracle (a note).
 (b) mounts the set (`DICOMFS_EXE SOURCE MNT`, which daemonizes) and checks
     every instance: pixels.raw and frames/*.raw equal dicomfs-tool raw;
     pixels.txt makes numpy.fromfile give the array; st_size (what ls -l shows)
     equals the bytes read for image.png, pixels.raw, pixels.txt, frames/*;
     mmap of pixels.raw; image.png and frames/*.png are 8-bit gray or RGB PNGs
     without compression and equal dcmj2pnm's rendering within +-1 (+Wi 1 with
     a window, +Wl 1 with a VOI LUT Sequence, +Wm otherwise, nothing for color;
     dcml2pnm for JPEG-LS; for JPEG 2000, dcmj2pnm of GDCM's decompressed file;
     segmented palettes against pydicom's apply_color_lut);
 (c) corrupt files: image.png, pixels.raw and frames/* give EIO, the rest of
     the instance reads, errors.tsv names the file; the whole mount reads.
     A file cut short inside its Pixel Data is damaged (issue 17): native
     Pixel Data cut short is seen from the header and the pixel files are not
     listed; encapsulated, they are listed and give EIO; either way errors.tsv
     says "damaged at byte N" where Pixel Data begins (pydicom's offset of
     the element).
One line per check, then `N passed, N failed`; exit 1 on failure, 77 when
/dev/fuse, fusermount3, DCMTK or GDCM is missing.
DICOMFS_TEST_KEEP=1 keeps the temporary folder.
"""

import concurrent.futures
import errno
import json
import mmap
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

import numpy as np
import pydicom

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(HERE, "..", "mount"))
import mountlib as ml  # noqa: E402  (its time bounds: hang guards, scaled under sanitizers)

TOOLS = ["dcmdjpeg", "dcmdjpls", "dcmdrle", "dcmconv", "dcmj2pnm", "dcml2pnm", "gdcmconv", "fusermount3", "pgrep"]
NATIVE = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"}
JLS = {"1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"}
J2K = {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.201",
       "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203"}
ORACLE_CMD = {
    "dcmdjpeg": lambda i, o, x: ["dcmdjpeg"] + x + [i, o],
    "dcmdjpls": lambda i, o, x: ["dcmdjpls"] + x + [i, o],
    "dcmdrle": lambda i, o, x: ["dcmdrle"] + x + [i, o],
    "dcmconv": lambda i, o, x: ["dcmconv", "+te"] + x + [i, o],
    "gdcm": lambda i, o, x: ["gdcmconv", "--raw"] + x + ["-i", i, "-o", o],
}
# Tolerance of lossy decoders against the oracle decoder, by transfer syntax:
# JPEG-LS decoding is exact by definition (NEAR bounds the encoder's error);
# JPEG 2000 here is OpenJPEG on both sides (1 for float rounding in the 9-7
# wavelet); JPEG lossy: ISO/IEC 10918-2 allows +-1 in the IDCT, and chroma
# upsampling and YCbCr to RGB rounding differ between libjpeg versions.
TOLERANCE = {"1.2.840.10008.1.2.4.80": 0, "1.2.840.10008.1.2.4.81": 0,
             "1.2.840.10008.1.2.4.50": 2, "1.2.840.10008.1.2.4.51": 2}
TOLERANCE_DEFAULT = 1


class Report:
    def __init__(self):
        self.passed = self.failed = 0
        self.lock = threading.Lock()

    def check(self, name, problems, note=""):
        note = " ".join(str(note).split())
        if isinstance(problems, bool):
            problems = [] if problems else ["failed"]
        with self.lock:
            if problems:
                self.failed += 1
                text = " | ".join(str(p).replace("\n", "\\n")[:300] for p in problems[:6])
                more = f" ... ({len(problems)} problems)" if len(problems) > 6 else ""
                print(f"FAIL {name}: {text}{more}" + (f" [{note}]" if note else ""), flush=True)
            else:
                self.passed += 1
                print(f"PASS {name}" + (f" ({note})" if note else ""), flush=True)
        return not problems

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed else 0


R = Report()
BY_NAME = {}


def run(argv, timeout=120):
    try:
        r = subprocess.run(argv, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, b"", f"timeout after {timeout} s"
    return r.returncode, r.stdout, r.stderr.decode("utf-8", "replace")


# --- the stored-value rule, on native files ---------------------------------

def stored_values(path, expand_ybr422=False):
    """(array (frames, rows, cols, samples), photometric) of a native file:
    PixelData bytes with Bits Stored masked out of Bits Allocated, sign-extended
    for Pixel Representation 1; planes interleaved.  Float / Double Float
    Pixel Data as float32 / float64.  1-bit as uint8 0/1."""
    ds = pydicom.dcmread(path)
    ts = str(ds.file_meta.TransferSyntaxUID)
    if ts not in NATIVE:
        raise ValueError(f"oracle output is not native ({ts})")
    rows, cols = int(ds.Rows), int(ds.Columns)
    spp = int(ds.get("SamplesPerPixel", 1))
    nf = int(ds.get("NumberOfFrames", 1) or 1)
    ba = int(ds.BitsAllocated)
    pc = int(ds.get("PlanarConfiguration", 0) or 0)
    photometric = str(ds.get("PhotometricInterpretation", ""))
    order = "<" if ds.is_little_endian else ">"
    n = rows * cols * spp * nf
    if expand_ybr422:
        return ds.pixel_array.reshape(nf, rows, cols, spp), "YBR_FULL"
    if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
        data = ds.FloatPixelData if "FloatPixelData" in ds else ds.DoubleFloatPixelData
        dt = order + ("f4" if "FloatPixelData" in ds else "f8")
        arr = np.frombuffer(data, dt, n).astype(dt.replace(">", "<"))
        return arr.reshape(nf, rows, cols, spp), photometric
    raw = ds.PixelData
    if ba == 1:
        b = np.frombuffer(raw, np.uint8)
        if order == ">" and ds["PixelData"].VR == "OW":
            b = b.reshape(-1, 2)[:, ::-1].reshape(-1)
        arr = np.unpackbits(b, bitorder="little")[:n].astype(np.uint8)
    else:
        bs = int(ds.BitsStored)
        pr = int(ds.get("PixelRepresentation", 0))
        width = ba // 8
        need = n * width
        if len(raw) < need:
            raise ValueError(f"oracle Pixel Data has {len(raw)} bytes, {need} needed")
        u = np.frombuffer(raw, f"{order}u{width}", n).astype(np.int64)
        u &= (1 << bs) - 1
        if pr:
            u -= ((u >> (bs - 1)) & 1) << bs
        arr = u.astype(f"<{'i' if pr else 'u'}{width}")
    if spp > 1 and pc == 1:
        arr = arr.reshape(nf, spp, rows, cols).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(arr.reshape(nf, rows, cols, spp)), photometric


def compare(ours, ref_arr):
    """(equal bytes, max abs difference or None when sizes differ, note)."""
    ref_bytes = ref_arr.tobytes()
    if ours == ref_bytes:
        return True, 0, ""
    if len(ours) != len(ref_bytes):
        return False, None, f"{len(ours)} bytes, oracle {len(ref_bytes)}"
    a = np.frombuffer(ours, ref_arr.dtype).astype(np.float64)
    b = ref_arr.reshape(-1).astype(np.float64)
    d = np.abs(a - b)
    i = int(d.argmax())
    return False, float(d.max()), (f"max |diff| {d.max():g} at sample {i} (ours {a[i]:g}, oracle {b[i]:g}), "
                                    f"{int((d > 0).sum())} of {d.size} samples differ")


# --- PNG and PNM ------------------------------------------------------------

def read_png(data):
    """(array (h, w, c) uint8, problems).  Accepts any 8-bit gray/RGB PNG
    without interlace; notes compressed deflate blocks as a problem."""
    problems = []
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None, ["not a PNG signature"]
    p, idat, ihdr = 8, [], None
    while p + 8 <= len(data):
        n, kind = struct.unpack(">I4s", data[p:p + 8])
        body = data[p + 8:p + 8 + n]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[p + 8 + n:p + 12 + n])[0]:
            problems.append(f"bad CRC in {kind!r}")
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            if p + 12 + n != len(data):
                problems.append(f"{len(data) - p - 12 - n} bytes after IEND")
            break
        p += 12 + n
    else:
        return None, ["no IEND"]
    if ihdr is None:
        return None, ["no IHDR"]
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype not in (0, 2) or interlace:
        return None, [f"IHDR depth {depth} colour type {ctype} interlace {interlace}: not 8-bit gray/RGB"]
    ch = 1 if ctype == 0 else 3
    z = b"".join(idat)
    q = 2
    while q < len(z):
        hdr = z[q]
        if (hdr >> 1) & 3 != 0:
            problems.append("IDAT uses compressed deflate blocks")
            break
        ln = int.from_bytes(z[q + 1:q + 3], "little")
        q += 5 + ln
        if hdr & 1:
            break
    try:
        raw = zlib.decompress(z)
    except zlib.error as e:
        return None, [f"zlib: {e}"]
    stride = w * ch
    if len(raw) != h * (stride + 1):
        return None, [f"{len(raw)} inflated bytes, {h * (stride + 1)} expected"]
    rows = np.frombuffer(raw, np.uint8).reshape(h, stride + 1)
    out = np.zeros((h, stride), np.int64)
    prev = np.zeros(stride, np.int64)
    for y in range(h):
        f, line = rows[y, 0], rows[y, 1:].astype(np.int64)
        if f == 0:
            cur = line
        elif f == 2:
            cur = (line + prev) & 255
        elif f == 1:
            cur = (np.cumsum(line.reshape(w, ch), axis=0) & 255).reshape(-1)
        elif f in (3, 4):
            cur = line.copy()
            for x in range(stride):
                a = cur[x - ch] if x >= ch else 0
                b, c = prev[x], (prev[x - ch] if x >= ch else 0)
                if f == 3:
                    pred = (a + b) // 2
                else:
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (cur[x] + pred) & 255
        else:
            return None, [f"row {y}: filter type {f}"]
        out[y] = cur
        prev = cur
    return out.astype(np.uint8).reshape(h, w, ch), problems


def read_pnm(path):
    data = open(path, "rb").read()
    m = re.match(rb"(P[56])\s+(?:#[^\n]*\n\s*)*(\d+)\s+(\d+)\s+(\d+)\s", data)
    kind, w, h, mx = m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))
    assert mx == 255, mx
    ch = 1 if kind == b"P5" else 3
    return np.frombuffer(data[m.end():m.end() + w * h * ch], np.uint8).reshape(h, w, ch)


# --- the test ----------------------------------------------------------------

class Case:
    def __init__(self, e, setdir):
        self.__dict__.update(e)
        self.path = os.path.join(setdir, e["file"])
        self.near = e.get("near")
        self.corrupt = e.get("corrupt")
        self.same_as = e.get("same_as")
        self.base = e.get("base")
        ds = pydicom.dcmread(self.path, stop_before_pixels=True, force=True)
        self.ts = str(ds.file_meta.TransferSyntaxUID) if "TransferSyntaxUID" in ds.file_meta else ""
        self.frames = int(ds.get("NumberOfFrames", 1) or 1)
        self.spp = int(ds.get("SamplesPerPixel", 1) or 1)
        self.photometric = str(ds.get("PhotometricInterpretation", ""))
        self.has_window = "WindowCenter" in ds and "WindowWidth" in ds
        self.has_voilut = "VOILUTSequence" in ds
        self.is_float = self.syntax.startswith("native f")
        self.render_via = e.get("render_via")
        self.render_opts = "(none)"
        self.oracle_opts = e.get("oracle_opts", [])
        self.why = e.get("why")
        self.twin = e.get("twin")
        self.oracle_files = {}  # tool -> native file written by it
        self.ours = None        # dicomfs-tool raw bytes
        self.ref = None         # (array, photometric) of the oracle
        self.refs = {}          # name -> (array, photometric) or error text
        self.pnm = {}           # frame number -> array or error text


def oracle_output(tool, case, outdir, opts=()):
    out = os.path.join(outdir, f"{case.name}.{tool}.dcm")
    rc, _, err = run(ORACLE_CMD[tool](case.path, out, list(opts)))
    if rc != 0 or not os.path.exists(out):
        return f"{tool} failed ({rc}): {err.strip()[:200]}"
    case.oracle_files[tool] = out
    try:
        return stored_values(out, expand_ybr422=(tool == "pydicom"))
    except Exception as e:  # noqa: BLE001 - reported as the oracle's failure
        return f"reading {tool}'s output: {e}"


def prepare(case, tool_exe, outdir):
    """Runs our decoder and the oracles for one case (in a worker thread)."""
    rc, out, err = run([tool_exe, "raw", case.path])
    case.ours = out if rc == 0 else None
    case.ours_err = err.strip()
    case.ours_frames = []
    if rc == 0 and case.frames > 1:
        for f in range(case.frames):
            rc2, out2, err2 = run([tool_exe, "raw", case.path, str(f)])
            case.ours_frames.append(out2 if rc2 == 0 else None)
    if case.corrupt:
        return
    tools = []
    if case.oracle == "pydicom":
        try:
            if case.is_float:
                case.refs["pydicom"] = stored_values(case.path)
            else:
                case.refs["pydicom"] = stored_values(case.path, expand_ybr422=True)
        except Exception as e:  # noqa: BLE001
            case.refs["pydicom"] = f"pydicom: {e}"
    else:
        tools.append(case.oracle)
    if case.oracle != "gdcm" and not case.same_as and not case.is_float:
        tools.append("gdcm")
    for t in tools:
        case.refs[t] = oracle_output(t, case, outdir, case.oracle_opts if t == case.oracle else ())
    # dcmj2pnm's rendering of every frame (of a native oracle output where
    # DCMTK has no decoder, i.e. JPEG 2000, or of GDCM's linearized palette)
    if case.is_float:
        return
    if case.render_via == "pydicom":
        # pydicom's palette lookup (normal and segmented LUTs), 16-bit entries to 8
        from pydicom.pixel_data_handlers.util import apply_color_lut
        ds = pydicom.dcmread(case.path)
        rgb = apply_color_lut(ds.pixel_array, ds).astype(np.float64)
        top = 255 if ds.RedPaletteColorLookupTableDescriptor[2] == 8 else 65535
        case.pnm[1] = np.rint(rgb * 255 / top).astype(np.uint8)
        case.render_opts = "pydicom apply_color_lut"
        return
    src = case.path
    if case.ts in J2K:
        src = case.oracle_files.get("gdcm", case.path)
    elif case.oracle_opts and case.oracle in case.oracle_files:
        src = case.oracle_files[case.oracle]   # decoded as the raw oracle decodes it
    color = case.spp > 1 or case.photometric == "PALETTE COLOR"
    opts = [] if color else (["+Wi", "1"] if case.has_window else
                             ["+Wl", "1"] if case.has_voilut else ["+Wm"])
    # dcmj2pnm has the JPEG and RLE decoders, dcml2pnm (same program) JPEG-LS
    renderer = "dcml2pnm" if case.ts in JLS else "dcmj2pnm"
    case.render_opts = renderer + " " + (" ".join(opts) or "(no option)")
    if src != case.path:
        case.render_opts += f" of {os.path.basename(src).split('.', 1)[1][:-4]} {' '.join(case.oracle_opts)}'s output"
    for f in range(1, case.frames + 1):
        out = os.path.join(outdir, f"{case.name}.{f}.pnm")
        rc, _, err = run([renderer, "+op"] + opts + ["+F", str(f), src, out])
        if ((rc != 0 or not os.path.exists(out)) and src == case.path and not case.same_as
                and case.oracle in case.oracle_files):
            # DCMTK cannot render the file itself: render the oracle's native output
            rc, _, err2 = run(["dcmj2pnm", "+op"] + opts + ["+F", str(f), case.oracle_files[case.oracle], out])
            if rc == 0 and f == 1:
                case.render_opts += f" of {case.oracle}'s output (dcmj2pnm on the file: {err.strip()[:80]})"
        if rc != 0 or not os.path.exists(out):
            case.pnm[f] = f"{renderer} {' '.join(opts)} +F {f} failed ({rc}): {err.strip()[:200]}"
        else:
            case.pnm[f] = read_pnm(out)


def check_decode(case, cases_by_name):
    """(a): dicomfs-tool raw against the oracle."""
    name = f"raw {case.name} [{case.syntax}]"
    if case.ours is None:
        return R.check(name, [f"dicomfs-tool raw failed: {case.ours_err[:300]}"])
    if case.same_as:
        other = cases_by_name[case.same_as]
        primary = f"{other.oracle} of {other.name} (same codestreams)"
        refs = {primary: other.refs.get(other.oracle)}
        refs.update({f"{k} of this file": v for k, v in case.refs.items()})
    else:
        refs = dict(case.refs)
        primary = case.oracle
    ref = refs.get(primary)
    if ref is None or isinstance(ref, str):
        return R.check(name, [f"oracle {primary}: {ref}"])
    arr, photometric = ref
    case.ref = ref
    notes, problems = [], []
    equal, diff, why = compare(case.ours, arr)
    tol = 0
    if case.lossy:
        tol = TOLERANCE.get(case.ts, TOLERANCE_DEFAULT)
    if equal:
        notes.append(f"= {primary}")
    elif diff is not None and diff <= tol:
        notes.append(f"{primary}: max |diff| {diff:g} <= {tol}")
    else:
        problems.append(f"vs {primary}: {why}" + (f" (tolerance {tol})" if case.lossy else ""))
    if case.why:
        notes.append(f"oracle {primary} {' '.join(case.oracle_opts)}: {case.why}")
    for other, r in refs.items():
        if other == primary:
            continue
        if isinstance(r, str):
            notes.append(f"{other}: {r[:120]}")
            continue
        eq, d, w = compare(case.ours, r[0])
        notes.append(f"{other}: " + ("equal" if eq else (w if d is None else f"max |diff| {d:g}"))
                     + ("" if r[1] == photometric else f" (its photometric {r[1]})"))
    if case.twin:
        twin = cases_by_name[case.twin]
        if twin.ours is not None:
            eq, d, w = compare(case.ours, np.frombuffer(twin.ours, arr.dtype))
            notes.append(f"ours vs twin {case.twin}: " + ("equal" if eq else w))
    if case.base and case.lossy:
        base = cases_by_name[case.base]
        if base.ours is not None and len(base.ours) == len(case.ours):
            o = np.frombuffer(case.ours, arr.dtype).astype(np.int64)
            b = np.frombuffer(base.ours, arr.dtype).astype(np.int64)
            d = int(np.abs(o - b).max())
            notes.append(f"vs original {case.base}: max |diff| {d}")
            if case.near is not None and d > case.near:
                problems.append(f"JPEG-LS NEAR={case.near}, but decoded differs from the original by {d}")
    if case.frames > 1:
        fb = len(case.ours) // case.frames
        bad = [f for f, b in enumerate(case.ours_frames)
               if b != case.ours[f * fb:(f + 1) * fb]]
        if bad:
            problems.append(f"dicomfs-tool raw FILE N differs from the whole for frames {bad}")
    return R.check(name, problems, "; ".join(notes))


def expected_dtype(case):
    if case.ref is not None:
        return case.ref[0].dtype
    return None


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def try_read(path):
    try:
        return read_file(path), None
    except OSError as e:
        return None, e


def check_instance(case, folder):
    """(b) for one instance folder."""
    tag = f"{case.name} [{case.syntax}]"
    # pixels.raw and frames/*.raw against dicomfs-tool raw
    problems = []
    raw, err = try_read(os.path.join(folder, "pixels.raw"))
    if err:
        problems.append(f"pixels.raw: {err}")
    elif case.ours is not None and raw != case.ours:
        problems.append(f"pixels.raw ({len(raw)} bytes) differs from dicomfs-tool raw ({len(case.ours)} bytes)")
    frame_names = []
    if os.path.isdir(os.path.join(folder, "frames")):
        frame_names = sorted(os.listdir(os.path.join(folder, "frames")))
    expect = ([f"{i:04d}.{x}" for i in range(1, case.frames + 1) for x in ("png", "raw")]
              if case.frames > 1 and not case.is_float else [])
    if case.frames > 1 and sorted(expect) != frame_names:
        problems.append(f"frames/ holds {frame_names[:6]}..., expected {expect[:4]}... ({len(expect)})")
    if raw is not None and case.frames > 1:
        fb = len(raw) // case.frames
        for i in range(case.frames):
            p = os.path.join(folder, "frames", f"{i + 1:04d}.raw")
            b, e = try_read(p)
            if e or b != raw[i * fb:(i + 1) * fb]:
                problems.append(f"frames/{i + 1:04d}.raw " + (str(e) if e else "differs from its slice of pixels.raw"))
    R.check(f"mount pixels.raw {tag}", problems)

    # pixels.txt
    problems, note = [], ""
    txt, err = try_read(os.path.join(folder, "pixels.txt"))
    if err:
        problems.append(f"pixels.txt: {err}")
    else:
        kv = dict(line.split(" ", 1) for line in txt.decode().splitlines() if " " in line)
        try:
            dt = np.dtype(kv["dtype"]).newbyteorder("<" if kv.get("byteorder") == "little" else ">")
            shape = tuple(int(x) for x in kv["shape"].split())
            arr = np.fromfile(os.path.join(folder, "pixels.raw"), dtype=dt).reshape(shape)
            note = f"{kv['dtype']} {shape} {kv.get('photometric')}"
            if case.ours is not None and arr.astype(dt.newbyteorder("<")).tobytes() != case.ours:
                problems.append("numpy.fromfile(pixels.raw) does not give dicomfs-tool raw's values")
            if case.ref is not None:
                ra, rp = case.ref
                if shape != ra.shape:
                    problems.append(f"shape {shape}, oracle {ra.shape}")
                if np.dtype(kv["dtype"]) != ra.dtype.newbyteorder("="):
                    problems.append(f"dtype {kv['dtype']}, oracle {ra.dtype.name}")
                elif not case.lossy and not np.array_equal(arr, ra):
                    problems.append("numpy.fromfile array differs from the oracle's")
                if kv.get("photometric") != rp and not (rp == "YBR_FULL_422" and kv.get("photometric") == "YBR_FULL"):
                    problems.append(f"photometric {kv.get('photometric')}, oracle's output says {rp}")
            m = re.search(r'numpy\.fromfile\("pixels\.raw", dtype="([^"]+)"\)\.reshape\(([\d, ]+)\)',
                          kv.get("numpy", ""))
            if not m or np.dtype(m.group(1)) != dt or tuple(int(x) for x in m.group(2).split(",")) != shape:
                problems.append(f"numpy line {kv.get('numpy')!r} disagrees with dtype/shape")
        except (KeyError, ValueError, TypeError, OSError) as e:
            problems.append(f"pixels.txt {txt[:200]!r}: {e}")
    R.check(f"mount pixels.txt {tag}", problems, note)

    # sizes: st_size (ls -l) == bytes read, and mmap
    problems = []
    files = ["image.png", "pixels.raw", "pixels.txt"] + [os.path.join("frames", n) for n in frame_names]
    for n in files:
        p = os.path.join(folder, n)
        if not os.path.exists(p):
            if not (case.is_float and n == "image.png"):
                problems.append(f"{n} missing")
            continue
        b, e = try_read(p)
        size = os.stat(p).st_size
        if e:
            problems.append(f"{n}: {e}")
        elif size != len(b):
            problems.append(f"{n}: st_size {size}, read {len(b)} bytes")
    try:
        with open(os.path.join(folder, "pixels.raw"), "rb") as f:
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                if case.ours is not None and m[:] != case.ours:
                    problems.append("mmap of pixels.raw differs")
    except (OSError, ValueError) as e:
        problems.append(f"mmap pixels.raw: {e}")
    ls = run(["ls", "-ln", folder])[1].decode()
    for line in ls.splitlines():
        f = line.split()
        if len(f) >= 9 and f[-1] in ("image.png", "pixels.raw", "pixels.txt"):
            p = os.path.join(folder, f[-1])
            if int(f[4]) != os.stat(p).st_size:
                problems.append(f"ls -l says {f[4]} for {f[-1]}")
    R.check(f"mount sizes {tag}", problems, f"{len(files)} files")

    # PNGs against dcmj2pnm
    if case.is_float:
        p = os.path.join(folder, "image.png")
        R.check(f"mount png {tag}", [], "float: no dcmj2pnm rendering; image.png "
                + ("present" if os.path.exists(p) else "absent"))
        return
    pngs = [("image.png", 1)]
    if case.frames > 1:
        pngs += [(os.path.join("frames", f"{i:04d}.png"), i) for i in range(1, case.frames + 1)]
    problems, worst, differing = [], 0, 0
    for n, frame in pngs:
        b, e = try_read(os.path.join(folder, n))
        if e:
            problems.append(f"{n}: {e}")
            continue
        img, probs = read_png(b)
        problems += [f"{n}: {p}" for p in probs]
        if img is None:
            continue
        ref = case.pnm.get(frame)
        if isinstance(ref, str) and case.same_as:
            ref = BY_NAME[case.same_as].pnm.get(frame)
            if frame == 1:
                case.render_opts += f" of {case.same_as} (same codestreams; on this file it fails)"
        if isinstance(ref, str) or ref is None:
            problems.append(f"{n}: reference: {ref}")
            continue
        if img.shape != ref.shape:
            problems.append(f"{n}: shape {img.shape}, dcmj2pnm {ref.shape}")
            continue
        d = np.abs(img.astype(int) - ref.astype(int))
        worst = max(worst, int(d.max()))
        differing += int((d > 0).sum())
        if d.max() > 1:
            y, x, c = np.unravel_index(int(d.argmax()), d.shape)
            problems.append(f"{n}: max |diff| {d.max()} vs {case.render_opts} at (x {x}, y {y}, c {c}): "
                            f"ours {img[y, x, c]}, dcmj2pnm {ref[y, x, c]}; {(d > 1).sum()} of {d.size} "
                            f"samples differ by more than 1")
    R.check(f"mount png {tag}", problems,
            f"{len(pngs)} PNGs, {case.render_opts}, max |diff| {worst}, {differing} samples differ")


def pixel_data_offset(path):
    """Where the top-level Pixel Data element begins, by pydicom (a read that
    stops before Pixel Data leaves the file there)."""
    with open(path, "rb") as f:
        pydicom.dcmread(f, stop_before_pixels=True, force=True)
        return f.tell()


def check_corrupt(case, folder, errors_tsv):
    tag = f"{case.name} ({case.corrupt})"
    problems = []
    if case.ours is not None:
        problems.append(f"dicomfs-tool raw exit 0 ({len(case.ours)} bytes) on a corrupt file")
    if folder is None:
        problems.append("not in the mounted tree (instances.tsv)")
        return R.check(f"corrupt {tag}", problems)
    pixel_files = ["image.png", "pixels.raw"]
    cut_short = getattr(case, "cut_short", None)
    if cut_short == "native":
        pixel_files = []
        for n in ["image.png", "pixels.raw", "pixels.txt", "frames"]:
            if os.path.exists(os.path.join(folder, n)):
                problems.append(f"{n} is listed, but Pixel Data is cut short")
    if os.path.isdir(os.path.join(folder, "frames")):
        pixel_files += [os.path.join("frames", n) for n in sorted(os.listdir(os.path.join(folder, "frames")))]
    for n in pixel_files:
        p = os.path.join(folder, n)
        if not os.path.exists(p):
            problems.append(f"{n} missing")
            continue
        b, e = try_read(p)
        if e is None:
            problems.append(f"{n}: read {len(b)} bytes, expected EIO")
        elif e.errno != errno.EIO:
            problems.append(f"{n}: {e}, expected EIO")
    readable = ["header.txt", "header.json", "instance.dcm", "tags/Rows", "tags/SOPInstanceUID"]
    for n in readable + ([] if cut_short == "native" else ["pixels.txt"]):
        p = os.path.join(folder, n)
        b, e = try_read(p)
        if e:
            problems.append(f"{n}: {e}")
        elif os.stat(p).st_size != len(b):
            problems.append(f"{n}: st_size {os.stat(p).st_size}, read {len(b)}")
    inst, e = try_read(os.path.join(folder, "instance.dcm"))
    if inst is not None and inst != read_file(case.path):
        problems.append("instance.dcm differs from the source file")
    lines = [ln for ln in errors_tsv().splitlines() if case.file in ln]
    if not lines:
        problems.append(f"no line for {case.file} in .dicomfs/errors.tsv")
    if cut_short:
        at = pixel_data_offset(case.path)
        if not any(f"damaged at byte {at}:" in ln for ln in lines):
            problems.append(f"no 'damaged at byte {at}:' (where Pixel Data begins) in errors.tsv")
    return R.check(f"corrupt {tag}", problems, "; ".join(lines)[:300])


class Mount:
    def __init__(self, exe, source, mp):
        self.exe, self.source, self.mp = exe, source, mp
        self.pid = None
        self.mounted = False

    def mounts(self):
        with open("/proc/mounts") as f:
            return [ln.split()[1] for ln in f if len(ln.split()) > 2]

    def start(self):
        os.makedirs(self.mp, exist_ok=True)
        rc, out, err = run([self.exe, self.source, self.mp], timeout=ml.scaled(120, self.exe))
        self.mounted = self.mp in self.mounts()
        argv = " ".join([self.exe, self.source, self.mp])
        rc2, pids, _ = run(["pgrep", "-f", "-x", re.sub(r"([.\[\]()*+?{}|^$\\])", r"\\\1", argv)])
        pids = [int(x) for x in pids.split()] if rc2 == 0 else []
        self.pid = pids[0] if len(pids) == 1 else None
        if self.mounted:
            self.wait_scan_done()
        return rc, err, pids

    def wait_scan_done(self, timeout=120):
        """The mount answers at once and fills in as the scan goes; the wait
        is a hang guard (mountlib's Bound of `timeout` base seconds)."""
        status = os.path.join(self.mp, ".dicomfs", "status")
        bound = ml.Bound(timeout, self.exe)
        t0 = time.monotonic()
        while time.monotonic() - t0 < bound.seconds:
            with open(status) as f:
                if "scan: done\n" in f.read():
                    return
            time.sleep(0.01)
        print(f"# scan not done after {time.monotonic() - t0:.1f} s ({bound})", flush=True)

    def stop(self):
        problems = []
        if self.mp in self.mounts():
            rc, _, err = run(["fusermount3", "-u", self.mp], timeout=60)
            if rc != 0:
                problems.append(f"fusermount3 -u: {err.strip()}")
                run(["fusermount3", "-u", "-z", self.mp], timeout=60)
        if self.pid:
            # A hang guard (mountlib's Bound: generous, scaled under
            # sanitizers or by DICOMFS_TEST_TIME_SCALE); the time it took is
            # printed, or said in the problem.
            bound = ml.Bound(ml.EXIT_SECONDS, self.exe)
            t = time.monotonic()
            while time.monotonic() - t < bound.seconds and ml.pid_alive(self.pid):
                time.sleep(0.05)
            took = time.monotonic() - t
            if ml.pid_alive(self.pid):
                problems.append(f"daemon {self.pid} still running {took:.1f} s after unmount "
                                f"({bound}); SIGTERM")
                try:
                    os.kill(self.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            else:
                print(f"# dicomfs (pid {self.pid}, {os.path.basename(self.mp)}) exited "
                      f"{took:.1f} s after unmount", flush=True)
        if self.mp in self.mounts():
            problems.append("still mounted")
        return problems


def walk_all(mnt, skip):
    """Reads every file of the mount; st_size must equal the bytes read
    outside .dicomfs."""
    problems, n = [], 0
    for d, dirs, files in os.walk(mnt):
        for f in files:
            p = os.path.join(d, f)
            if p in skip:
                continue
            n += 1
            b, e = try_read(p)
            if e:
                problems.append(f"{os.path.relpath(p, mnt)}: {e}")
            elif "/.dicomfs/" not in p and os.stat(p).st_size != len(b):
                problems.append(f"{os.path.relpath(p, mnt)}: st_size {os.stat(p).st_size}, read {len(b)}")
    return problems, n


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    tool_exe, dicomfs_exe, _root = (os.path.abspath(a) for a in sys.argv[1:])
    if not os.path.exists("/dev/fuse"):
        print("SKIP: /dev/fuse is missing")
        return 77
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        print(f"SKIP: missing {' '.join(missing)}")
        return 77
    t_start = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="dicomfs-pixels-")
    mount = None
    watchdog_fired = threading.Event()

    def watchdog():
        if not done.wait(540):
            watchdog_fired.set()
            print("FAIL watchdog: the test took more than 540 s; unmounting", flush=True)
            if mount is not None:
                mount.stop()
            os._exit(1)

    done = threading.Event()
    threading.Thread(target=watchdog, daemon=True).start()
    ml.note_watchdog(540)  # its hang guards end before the watchdog
    try:
        t = time.monotonic()
        rc, out, err = run(["/usr/bin/python3", os.path.join(HERE, "make_pixel_set.py"), tmp], timeout=300)
        if not R.check("build the test set", [] if rc == 0 else [err.strip()[-500:]],
                       f"{out.decode().strip()} in {time.monotonic() - t:.1f} s"):
            return R.finish()
        setdir = os.path.join(tmp, "set")
        outdir = os.path.join(tmp, "oracle")
        os.makedirs(outdir)
        cases = [Case(e, setdir) for e in json.load(open(os.path.join(tmp, "manifest.json")))]
        by_name = {c.name: c for c in cases}
        BY_NAME.update(by_name)

        # (a)
        t = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max(2, os.cpu_count() or 2)) as pool:
            list(pool.map(lambda c: prepare(c, tool_exe, outdir), cases))
        print(f"# decoders and oracles ran in {time.monotonic() - t:.1f} s", flush=True)
        for c in cases:
            if not c.corrupt:
                check_decode(c, by_name)

        # (b), (c)
        t = time.monotonic()
        mount = Mount(dicomfs_exe, setdir, os.path.join(tmp, "mnt"))
        rc, err, pids = mount.start()
        ok = R.check("mount", [] if rc == 0 and mount.mounted and len(pids) == 1 else
                     [f"exit {rc}, mounted {mount.mounted}, daemon pids {pids}: {err.strip()[:300]}"])
        if ok:
            mnt = mount.mp
            tsv = read_file(os.path.join(mnt, ".dicomfs", "instances.tsv")).decode()
            rows = [ln.split("\t") for ln in tsv.splitlines()[1:]]
            folder = {r[5]: os.path.join(mnt, r[0]) for r in rows if len(r) > 5}
            for c in cases:
                if c.corrupt:
                    continue
                if c.file not in folder:
                    R.check(f"mount instance {c.name}", ["not in instances.tsv"])
                    continue
                check_instance(c, folder[c.file])
            errors_tsv = lambda: read_file(os.path.join(mnt, ".dicomfs", "errors.tsv")).decode()  # noqa: E731
            skip = set()
            for c in cases:
                if c.corrupt:
                    check_corrupt(c, folder.get(c.file), errors_tsv)
                    f = folder.get(c.file)
                    if f:
                        skip |= {os.path.join(f, n) for n in ("image.png", "pixels.raw")}
                        # the series' volume is made of the corrupt frames too
                        vol = os.path.join(os.path.dirname(f), "volume")
                        skip |= {os.path.join(vol, n) for n in os.listdir(vol)
                                 if n.endswith((".nii", ".img", ".mnc"))}
                        if os.path.isdir(os.path.join(f, "frames")):
                            skip |= {os.path.join(f, "frames", n) for n in os.listdir(os.path.join(f, "frames"))}
            problems, n = walk_all(mnt, skip)
            R.check("mount: every other file reads, st_size = bytes read", problems, f"{n} files")
            corrupt_files = {c.file for c in cases if c.corrupt}
            other = [ln for ln in errors_tsv().splitlines()[1:]
                     if ln.split("\t")[0] not in corrupt_files and "SOP Instance UID" not in ln
                     and "SOPInstanceUID" not in ln]
            R.check("errors.tsv names only the corrupt files (and duplicate UIDs)", other,
                    f"{len(errors_tsv().splitlines()) - 1} lines")
        problems = mount.stop()
        R.check("unmount, daemon gone", problems)
        mount = None
        print(f"# mount checks ran in {time.monotonic() - t:.1f} s; total {time.monotonic() - t_start:.1f} s",
              flush=True)
    finally:
        if mount is not None:
            mount.stop()
        done.set()
        if os.environ.get("DICOMFS_TEST_KEEP") not in (None, "", "0"):
            print(f"# kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
