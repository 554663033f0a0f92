#!/usr/bin/python3
"""Each series as the NIfTI volume dcm2niix writes (issue 13), through a real
mount, against dcm2niix (`-z n -b y -f %p_%s`, Debian 12's) and nibabel:

- the series of scripts/make-series.py (axial with instance numbers against
  position, sagittal 3D, CT with a gap, variable spacing, gantry tilt, 4D,
  oblique, two echoes, slope and intercept, slope varying by slice,
  unsigned 12-bit, coronal, a single slice, unsigned 16-bit, axial 3D,
  oblique diffusion),
  and copies of s01 and s03 transcoded to JPEG-LS, JPEG lossless, RLE and
  JPEG 2000 by DCMTK and GDCM;
- `ls -l volume/` and stat decode nothing (the status file's "rendered
  whole" counter stays), and a 4 KiB pread at the end of a 4D volume
  decodes the one frame it touches;
- volume/ holds the files dcm2niix writes, by name (its interpolated
  _Eq_ and _Tilt_ copies are not made: nothing is resampled);
- each .nii: voxel bytes equal to dcm2niix's, dim, datatype, bitpix,
  pixdim 1-4, scl_slope/scl_inter equal, sform and qform within 1e-4 and
  their codes equal; for the tilted series instead, every slice's first
  voxel on its ImagePositionPatient (pydicom) within 1e-3 mm;
- nifti_tool -check_hdr accepts every file; stat sizes equal bytes read;
- <stem>.json has dcm2niix's keys in its order and equal values (but
  ConversionSoftware, which is dicomfs); <stem>.bval and .bvec where
  dcm2niix writes them, with its numbers;
- <stem>.hdr/.img/.mat (SPM2 Analyze) load in nibabel as the .nii does:
  the same data and affine, the .img the .nii's voxels where Analyze has
  the type (uint16 is written as int32), originator the origin voxel;
- dcmstack (independent geometry, exact for the tilted series) stacks the
  source files to the same canonical affine within 1e-3 mm and the same
  data;
- conversion.txt lists the files in position order (pydicom) and warns of
  the variable spacing and the tilt;
- <stem>.mnc (MINC2) read by mincinfo, mincstats (min and max), nibabel
  and h5py as the .nii's image, and equal to nii2mnc's conversion of the
  .nii (minc-tools; but where nii2mnc flips an axis, which it misplaces);
- mrconvert (MRtrix3) converts each source series on its own: turned to
  the closest canonical orientation, its file has our .nii's shape, scaled
  voxels and affine within 1e-3 mm (for variable spacing and gantry tilt,
  the affine MRtrix3's rules give: volume_oracles.py); where it refuses a
  series (compressed transfer syntaxes) the check says so;
- dcm2mnc (minc-tools) converts each source series (each echo apart) to
  MINC: its dimensions have ours' lengths and axes, its world geometry
  (mincinfo: lengths, steps, starts, cosines) is ours within 1e-3 mm, its
  real values within half a step of its per-slice scaling; its irregular
  dimension of a variable spacing holds the positions (4D series: it finds
  no time axis; compressed: it writes zeros; both said);
- the bytes are the same after a remount (sha256);
- nibabel's real Siemens slice, Siemens DWI mosaics and Philips enhanced
  MPRAGE (176 frames) as dcm2niix converts them, and as mrconvert does
  (the MPRAGE: but for its origin, from Philips' private positions); its
  cut mosaics (tiles that do not divide the image) said in conversion.txt
  to make no volume, and refused by mrconvert too.
- every sidecar key for key as dcm2niix writes it: those of the series
  above, and of pydicom's own test files each converted alone (Toshiba MR,
  CTs, a segmentation's functional groups, an RT dose).

usage: test_volumes.py DICOMFS SOURCE_ROOT
"""
import glob
import hashlib
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402
import volume_oracles as vo  # noqa: E402

WATCHDOG_SECONDS = 280


def renders(m):
    return int(m.status()["rendered whole"].split()[0])


def frames_read(m):
    return int(m.status()["volume frames read from their files"])


def plans_made(m):
    return int(m.status()["volume plans made"])


def read_all(path):
    with open(path, "rb") as f:
        return f.read()


def first_file(folder):
    import pydicom
    return pydicom.dcmread(os.path.join(folder, sorted(os.listdir(folder))[0]),
                           stop_before_pixels=True)


def series_dirs(mnt, numbers):
    """Source folder -> its series folder in the mount; numbers: SeriesNumber
    -> source folder."""
    out = {}
    for d in glob.glob(os.path.join(mnt, "*", "*", "*")):
        word = os.path.basename(d).split()[0]
        if word.isdigit() and int(word) in numbers:
            out[numbers[int(word)]] = d
    return out


def compare_nii(ref, ours, tilted, atol=1e-4):
    import nibabel as nib
    import numpy as np
    problems = []
    a, b = read_all(ref), read_all(ours)
    if a[108:112] != b[108:112]:
        problems.append("vox_offset differs")
    if len(a) != len(b):
        problems.append(f"size {len(b)}, dcm2niix {len(a)}")
    if a[352:] != b[352:]:
        problems.append("voxel bytes differ")
    ra, rb = nib.load(ref), nib.load(ours)
    ha, hb = ra.header, rb.header
    for k in ("dim", "datatype", "bitpix", "qform_code", "sform_code", "xyzt_units", "descrip",
              "aux_file", "magic"):
        if not np.array_equal(ha[k], hb[k]):
            problems.append(f"{k} {hb[k]}, dcm2niix {ha[k]}")
    if not np.allclose(ha["pixdim"][1:5], hb["pixdim"][1:5], atol=1e-5, rtol=0):
        problems.append(f"pixdim {hb['pixdim'][1:5]}, dcm2niix {ha['pixdim'][1:5]}")
    if (ra.dataobj.slope, ra.dataobj.inter) != (rb.dataobj.slope, rb.dataobj.inter):
        problems.append(f"scaling {(rb.dataobj.slope, rb.dataobj.inter)}, "
                        f"dcm2niix {(ra.dataobj.slope, ra.dataobj.inter)}")
    if not tilted:
        for what, fa, fb in (("sform", ra.get_sform(), rb.get_sform()),
                             ("qform", ra.get_qform(), rb.get_qform())):
            if not np.allclose(fa, fb, atol=atol, rtol=0):
                problems.append(f"{what} {fb.tolist()}, dcm2niix {fa.tolist()}")
    return problems


def compare_numbers(ref, ours):
    """Text files of numbers (.bval, .bvec): the same lines and counts, each
    number within 5e-6 of dcm2niix's (its %g)."""
    a = [line.split() for line in read_all(ref).decode().splitlines()]
    b = [line.split() for line in read_all(ours).decode().splitlines()]
    if [len(x) for x in a] != [len(x) for x in b]:
        return [f"shape {[len(x) for x in b]}, dcm2niix {[len(x) for x in a]}"]
    return [f"line {i + 1}: {x} where dcm2niix has {y}"
            for i, (x, y) in enumerate(zip(b, a))
            if any(abs(float(u) - float(v)) > 5e-6 for u, v in zip(x, y))]


def check_json(ref, ours, private=(), subset=False):
    """The BIDS sidecar: dcm2niix's keys in its order, equal values (floats
    to 6 significant digits), but ConversionSoftware, which names us, and
    the keys in private (from vendors' private headers: not written yet).
    subset: ours may lack keys of dcm2niix's, never have others."""
    import json
    problems = []
    a, b = json.load(open(ref)), json.load(open(ours))
    ka = [k for k in a if not k.startswith("ConversionSoftware") and k not in private]
    kb = [k for k in b if not k.startswith("ConversionSoftware") and k not in private]
    if subset:
        ka = [k for k in ka if k in kb]
    if ka != kb:
        problems.append(f"keys: only dcm2niix's {sorted(set(ka) - set(kb))}, only ours "
                        f"{sorted(set(kb) - set(ka))}" + ("" if set(ka) != set(kb) else
                                                          ", in another order"))
    for k in ka:
        if k not in b:
            continue
        x, y = a[k], b[k]
        same = (abs(x - y) <= 5e-6 * max(abs(x), 1e-30) if isinstance(x, float) and
                isinstance(y, (int, float)) else x == y)
        if not same:
            problems.append(f"{k}: ours {y!r}, dcm2niix {x!r}")
    if b.get("ConversionSoftware") != "dicomfs":
        problems.append(f"ConversionSoftware {b.get('ConversionSoftware')!r}")
    return problems


def check_analyze(nii):
    """<stem>.hdr/.img/.mat beside nii: nibabel reads them (SPM2 Analyze
    with the .mat's affine) as the same image: data (scaled) equal, affine
    within 1e-4; the .img holds the .nii's voxels where Analyze has their
    type; originator is the 1-based voxel at world 0 (numpy)."""
    import nibabel as nib
    import numpy as np
    stem = nii[:-4]
    problems = []
    a, b = nib.load(nii), nib.load(stem + ".hdr")
    if type(b).__name__ != "Spm2AnalyzeImage":
        problems.append(f".hdr loads as {type(b).__name__}")
    if not np.allclose(a.affine, b.affine, atol=1e-4, rtol=0):
        problems.append(f".hdr+.mat affine {b.affine.tolist()}, .nii {a.affine.tolist()}")
    if a.shape != b.shape or not np.array_equal(a.get_fdata(), b.get_fdata()):
        problems.append(".hdr/.img data differ from the .nii's")
    img = read_all(stem + ".img")
    if int(a.header["datatype"]) in (2, 4, 8, 16, 64, 128) and img != read_all(nii)[352:]:
        problems.append(".img is not the .nii's voxels")
    origin = np.linalg.inv(a.affine) @ np.array([0, 0, 0, 1.0])
    want = np.clip(np.round(origin[:3] + 1), -32768, 32767).astype(int)
    got = np.frombuffer(read_all(stem + ".hdr")[253:259], "<i2")
    if not np.array_equal(want, got):
        problems.append(f"originator {got.tolist()}, expected {want.tolist()}")
    return problems


def check_minc(nii, tmp, tilted):
    """<stem>.mnc beside nii: mincinfo reads it; mincstats' min and max are
    the .nii's scaled ones; nibabel gives the .nii's data and canonical
    affine (the qform's for a sheared volume: MINC has no shear), and so
    does nii2mnc's conversion of the .nii (minc-tools); a 4D one through
    h5py: its time dimension, and the stored values the .nii's."""
    import h5py
    import nibabel as nib
    import numpy as np
    mnc = nii[:-4] + ".mnc"
    problems = []
    info = subprocess.run(["mincinfo", mnc], capture_output=True, text=True,
                          timeout=ml.scaled(60))
    if info.returncode != 0:
        problems.append(f"mincinfo: {info.stderr.strip()}")
    a = nib.load(nii)
    data = a.get_fdata()
    stats = subprocess.run(["mincstats", "-quiet", "-min", "-max", mnc], capture_output=True,
                           text=True, timeout=ml.scaled(60))
    got = [float(x) for x in stats.stdout.split()] if stats.returncode == 0 else []
    if len(got) != 2 or not np.allclose(got, [data.min(), data.max()], rtol=1e-5, atol=1e-3):
        problems.append(f"mincstats min/max {got or stats.stderr.strip()}, .nii "
                        f"{[data.min(), data.max()]}")
    if a.ndim == 3 and a.shape[2] == 1:
        pass  # nibabel 5.0 cannot read a MINC image with a dimension of length 1
    elif a.ndim == 3:
        b = nib.load(mnc)  # (holds the file open until collected: see the end)
        ref = nib.Nifti1Image(data, a.get_qform() if tilted else a.affine)
        ca, cb = nib.as_closest_canonical(ref), nib.as_closest_canonical(b)
        if not np.allclose(ca.affine, cb.affine, atol=1e-4, rtol=0):
            problems.append(f"nibabel affine {cb.affine.tolist()}, .nii {ca.affine.tolist()}")
        if ca.shape != cb.shape or not np.allclose(ca.get_fdata(), cb.get_fdata(), atol=1e-3):
            problems.append("nibabel: data differ from the .nii's")
        if not tilted:
            other = os.path.join(tmp, "nii2mnc.mnc")
            if os.path.exists(other):
                os.unlink(other)
            conv = subprocess.run(["nii2mnc", nii, other],
                                  capture_output=True, text=True, timeout=ml.scaled(60))
            if conv.returncode != 0:
                problems.append(f"nii2mnc: {conv.stderr.strip()}")
            elif "flip: 1" in conv.stdout + conv.stderr:
                # nii2mnc 2.4.05 misplaces an axis it flips (the coronal s12's
                # slices land 166 mm off; mincinfo of its file shows it):
                # no oracle there, the .nii (above) is
                os.unlink(other)
            else:
                co = nib.as_closest_canonical(nib.load(other))
                if not np.allclose(co.affine, cb.affine, atol=1e-3, rtol=0):
                    problems.append(f"nii2mnc's affine {co.affine.tolist()}, ours "
                                    f"{cb.affine.tolist()}")
                # (nii2mnc rescales to its own type: within a step of it)
                step = (data.max() - data.min()) / 65535 + 1e-6
                if co.shape != cb.shape or not np.allclose(co.get_fdata(), cb.get_fdata(),
                                                           atol=step):
                    problems.append("nii2mnc's data differ from ours")
                os.unlink(other)
    else:
        with h5py.File(mnc, "r") as f:
            image = f["minc-2.0/image/0/image"]
            raw = np.asanyarray(a.dataobj.get_unscaled()) if a.header["datatype"] != 16 else None
            order = image.attrs["dimorder"].decode()
            if not order.startswith("time,") or image.shape != tuple(a.shape[::-1]):
                problems.append(f"image {order} {image.shape}, .nii {a.shape}")
            elif raw is not None and not np.array_equal(np.asarray(image), raw.T):
                problems.append("h5py: stored values differ from the .nii's")
            step = float(f["minc-2.0/dimensions/time"].attrs["step"])
            if abs(step - float(a.header["pixdim"][4])) > 1e-6:
                problems.append(f"time step {step}, .nii pixdim[4] {a.header['pixdim'][4]}")
    import gc
    a = b = ca = cb = co = None
    gc.collect()  # nibabel's MINC2 images keep their h5py file open: the mount must unmount
    return problems


DCMSTACK_META = ("PixelSpacing", "ImageOrientationPatient", "ImagePositionPatient", "Rows",
                 "Columns", "InstanceNumber", "SliceThickness")


def check_dcmstack(nii, files):
    """dcmstack's stack of the source files (an independent geometry: its
    sheared affine is exact for a tilted series) against our .nii, both
    turned to the nearest canonical: affine within 1e-3 mm, scaled data
    equal.  (Its meta extractor is fed the geometry only: it fails on
    pydicom's MR_small otherwise.)"""
    import dcmstack
    import nibabel as nib
    import numpy as np
    import pydicom
    stack = dcmstack.DicomStack(time_order="InstanceNumber")
    for f in files:
        ds = pydicom.dcmread(f)
        meta = {}
        for k in DCMSTACK_META:
            v = ds.get(k)
            if isinstance(v, pydicom.multival.MultiValue):
                meta[k] = [float(x) for x in v]
            elif v not in (None, ""):
                meta[k] = int(v) if k in ("Rows", "Columns", "InstanceNumber") else float(v)
        stack.add_dcm(ds, meta=meta)
    theirs = nib.as_closest_canonical(stack.to_nifti())
    ours = nib.as_closest_canonical(nib.load(nii))
    problems = []
    if not np.allclose(theirs.affine, ours.affine, atol=1e-3, rtol=0):
        problems.append(f"dcmstack's affine {theirs.affine.tolist()}, ours {ours.affine.tolist()}")
    if theirs.shape != ours.shape or not np.allclose(theirs.get_fdata(), ours.get_fdata()):
        problems.append(f"dcmstack's data {theirs.shape} differ from ours {ours.shape}")
    return problems


def check_tilt(nii, files):
    """Slice k's voxel (0, top row) lands on the ImagePositionPatient of the
    k-th file along the normal."""
    import nibabel as nib
    import numpy as np
    import pydicom
    img = nib.load(nii)
    dss = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
    iop = np.array(dss[0].ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    dss.sort(key=lambda d: float(np.dot(normal, np.array(d.ImagePositionPatient, float))))
    rows = int(dss[0].Rows)
    problems = []
    for k, d in enumerate(dss):
        ras = img.affine @ np.array([0, rows - 1, k, 1.0])  # j runs bottom up
        lps = np.array([-ras[0], -ras[1], ras[2]])
        off = float(np.linalg.norm(lps - np.array(d.ImagePositionPatient, float)))
        if off > 1e-3:
            problems.append(f"slice {k}: {off:.4f} mm off its ImagePositionPatient")
    return problems


# Transcoded copies of s03 (CT) and s01 (MR): (folder, series number, protocol, command).
CODECS = [
    ("jpls", 21, "jpeg-ls", ["dcmcjpls", "--encode-lossless"]),
    ("jpgl", 22, "jpeg lossless", ["dcmcjpeg", "--encode-lossless-sv1"]),
    ("rle", 23, "rle", ["dcmcrle"]),
    ("j2k", 24, "j2k", ["gdcmconv", "--j2k", "--lossless"]),
]


def make_transcoded(src):
    """s03 and s01 again as new series (their own UIDs, numbers and
    protocols), each file transcoded by DCMTK or GDCM; the folder names."""
    import pydicom
    from pydicom.uid import generate_uid
    made = []
    for base, offset in (("s03", 0), ("s01", 10)):
        for tag, number, protocol, cmd in CODECS:
            name = f"c{tag}{base[1:]}"
            os.makedirs(os.path.join(src, name))
            uid = generate_uid(entropy_srcs=[name])
            for f in sorted(os.listdir(os.path.join(src, base))):
                ds = pydicom.dcmread(os.path.join(src, base, f))
                ds.SeriesInstanceUID = uid
                ds.SOPInstanceUID = generate_uid(entropy_srcs=[name, f])
                ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
                ds.SeriesNumber = number + offset
                ds.ProtocolName = f"{protocol} {base}"
                plain = os.path.join(src, name, "plain-" + f)
                ds.save_as(plain)
                out = os.path.join(src, name, f)
                if cmd[0] == "gdcmconv":
                    args = cmd + ["-i", plain, "-o", out]
                else:
                    args = cmd + [plain, out]
                subprocess.run(args, check=True, capture_output=True, timeout=ml.scaled(60))
                os.unlink(plain)
            made.append(name)
    return made


# mrconvert (MRtrix3 3.0.3) otherwise than dcm2niix, documented with the
# evidence in volume_oracles.py: series -> what it does there.  Its affine
# must then be volume_oracles.mrtrix_affine() of ours.
MRCONVERT_RULES = {
    "s04": "variable spacing: one slice step, the mean separation (3.75 mm; ours the first, "
           "2.5, as dcm2niix)",
    "s05": "gantry tilt: slices along the normal at the mean projected step, no shear (its "
           "slices miss their positions; ours land on them)",
}
# Its refusals that its documentation gives: words of its message -> why.
MRCONVERT_REFUSALS = {
    "unsupported transfer syntax": "a compressed transfer syntax, which MRtrix3 does not read "
                                   "(its documentation, \"DICOM handling\")",
}


def mrconvert_missing(report):
    if shutil.which("mrconvert"):
        return False
    report.check("mrconvert (Debian's mrtrix3) is installed: scripts/setup-debian --tests",
                 ["no mrconvert on PATH"])
    return True


def mrconvert_refusal(report, name, msg, ours, documented):
    """A check line for a series mrconvert refuses: passes where the refusal
    is documented (or we refuse it too), says which."""
    why = next((w for k, w in MRCONVERT_REFUSALS.items() if k in msg), None)
    if not ours:
        report.check(name, [], f"mrconvert refuses it too: {msg[:200]}")
    elif why and documented:
        report.check(name, [], f"mrconvert refuses it, we convert it: {why}")
    else:
        report.check(name, [f"mrconvert refuses it, we convert it: {msg[:300]}"])


def check_mrconvert_series(report, src, dirs, series, transcoded, tmp):
    """`mrconvert -quiet <series folder> out.nii` against our volume/*.nii
    (volume_oracles.compare_mrconvert), one check per series."""
    if mrconvert_missing(report):
        return
    work = os.path.join(tmp, "mrconvert")
    os.makedirs(work)
    for s in series:
        files = sorted(glob.glob(os.path.join(src, s, "*")))
        ours = sorted(glob.glob(os.path.join(glob.escape(dirs[s]), "volume", "*.nii")))
        names = ", ".join(os.path.basename(p) for p in ours)
        name = (f"{s}: mrconvert's conversion of the source is our {names} (canonical: shape, "
                f"scaled voxels, affine within 1e-3 mm)" if ours else
                f"{s}: we make no volume, and mrconvert refuses it too")
        out = os.path.join(work, s + ".nii")
        ok, msg = vo.mrconvert(os.path.join(src, s), out)
        if not ok:
            if ours and s in transcoded:
                name = f"{s}: mrconvert refuses it (compressed), we convert it ({names})"
            mrconvert_refusal(report, name, msg, ours, s in transcoded)
            continue
        if not ours:
            report.check(name, ["mrconvert converts it, we make no volume"])
            continue
        model = None
        if s in MRCONVERT_RULES:
            model = lambda img, files=files: vo.mrtrix_affine(img, files)  # noqa: E731
        problems, note = vo.compare_mrconvert(out, ours, model)
        if s in MRCONVERT_RULES:
            note = f"{MRCONVERT_RULES[s]}; {note}"
        report.check(name, problems, note)
        os.unlink(out)
    import gc
    gc.collect()  # (no image of the mount left open: it must unmount)


def dcm2mnc_groups(files):
    """files by echo (EchoNumbers): dcm2mnc -fname x writes one file, and
    fails on the second echo's."""
    import pydicom
    groups = {}
    for f in files:
        echo = pydicom.dcmread(f, stop_before_pixels=True).get("EchoNumbers")
        groups.setdefault(int(echo) if echo not in (None, "") else 0, []).append(f)
    return [groups[k] for k in sorted(groups)]


def check_dcm2mnc_series(report, src, dirs, series, transcoded, tmp):
    """`dcm2mnc -usecoordinates -dname '' -fname x <files> outdir` against
    our volume/*.mnc (volume_oracles.compare_minc), one check per series."""
    work = os.path.join(tmp, "dcm2mnc")
    os.makedirs(work)
    for s in series:
        files = sorted(glob.glob(os.path.join(src, s, "*")))
        ours = sorted(glob.glob(os.path.join(glob.escape(dirs[s]), "volume", "*.mnc")))
        groups = dcm2mnc_groups(files)
        name = (f"{s}: dcm2mnc's MINC of the source is our "
                f"{', '.join(os.path.basename(p) for p in ours) or 'no .mnc'}")
        if len(groups) != len(ours):
            report.check(name, [f"{len(groups)} echoes, {len(ours)} .mnc of ours"])
            continue
        problems, notes, kinds = [], [], set()
        for k, (group, path) in enumerate(zip(groups, ours)):
            theirs, msg = vo.dcm2mnc(group, os.path.join(work, f"{s}-{k}"))
            if theirs is None:
                problems.append(f"dcm2mnc failed: {msg[-300:]}")
                continue
            got, note, kind = vo.compare_minc(theirs, path, group, tmp,
                                              compressed=s in transcoded)
            kinds.add(kind)
            problems += [f"{os.path.basename(path)}: {p}" for p in got]
            if note:
                notes.append(note if len(ours) == 1 else f"{os.path.basename(path)}: {note}")
        what = "; ".join(vo.MINC_COMPARED[k] for k in sorted(kinds))
        report.check(f"{name} ({what})" if what else name, problems, "; ".join(notes))
    import gc
    gc.collect()  # nibabel's MINC2 images keep their h5py file open: the mount must unmount


NIBABEL_DATA = "/usr/lib/python3/dist-packages/nibabel/nicom/tests/data"


def check_nibabel_files(report, exe, tmp):
    """Real scanner files that ship with nibabel: a Siemens 2D slice, two
    Siemens DWI mosaics and a Philips enhanced MPRAGE against dcm2niix; two
    cut mosaics refused, said so in conversion.txt."""
    import gzip
    src, ref, mnt = (os.path.join(tmp, "nib-" + x) for x in ("src", "ref", "mnt"))
    os.makedirs(src)
    os.makedirs(ref)
    for f in ("decimal_rescale.dcm", "0.dcm", "1.dcm"):
        shutil.copy(os.path.join(NIBABEL_DATA, f), src)
    for f in ("siemens_dwi_0.dcm.gz", "siemens_dwi_1000.dcm.gz", "philips_mprage.dcm.gz"):
        with gzip.open(os.path.join(NIBABEL_DATA, f)) as z, open(os.path.join(src, f[:-3]), "wb") as o:
            o.write(z.read())
    subprocess.run(["dcm2niix", "-z", "n", "-b", "y", "-f", "%p_%s", "-o", ref, src],
                   capture_output=True, timeout=ml.scaled(120))
    m = ml.Mount(exe, src, mnt, args=["-o", "noindex"])
    m.start()
    try:
        # "patient/series" -> its volume/
        vols = {}
        for d in glob.glob(os.path.join(glob.escape(mnt), "*", "*", "*", "volume")):
            series = os.path.dirname(d)
            patient = os.path.dirname(os.path.dirname(series))
            vols[os.path.basename(patient) + "/" + os.path.basename(series)] = d
        vols.update({k.split("/", 1)[1]: v for k, v in list(vols.items())
                     if not k.startswith(("(no name)", "dft"))})
        name = "CV_map_neuro_qT1_FA12nTI128_7_real.nii"
        d = vols.get("7 MR CV_map_neuro_qT1_FA12nTI128")
        ours = os.path.join(d or "", name)
        problems = [] if d and os.path.exists(ours) else [f"no {name}: {sorted(vols)}"]
        if not problems:
            problems += compare_nii(os.path.join(ref, name), ours, False)
            problems += check_json(os.path.join(ref, name[:-4] + ".json"), ours[:-4] + ".json")
        report.check("nibabel's Siemens slice (decimal_rescale.dcm) as dcm2niix converts it "
                     "(JSON: every key, Siemens' CoilString and ImageOrientationText too)",
                     problems)
        name = "MPRAGE_S2_SENSE_301.nii"
        d = vols.get("301 MR MPRAGE_S2")
        ours = os.path.join(d or "", name)
        problems = [] if d and os.path.exists(ours) else [f"no {name}: {sorted(vols)}"]
        if not problems:
            problems += compare_nii(os.path.join(ref, name), ours, False)
            problems += check_json(os.path.join(ref, name[:-4] + ".json"), ours[:-4] + ".json")
        report.check("nibabel's Philips enhanced MPRAGE (176 frames, Philips precise scaling) "
                     "as dcm2niix converts it (JSON: every key, from the functional groups "
                     "and Philips' private elements too)", problems)
        name = "CBU_DTI_64D_1A_12.nii"
        d = vols.get("(no name) [no ID]/12 MR CBU_DTI_64D_1A")
        ours = os.path.join(d or "", name)
        problems = [] if d and os.path.exists(ours) else [f"no {name}: {sorted(vols)}"]
        if not problems:
            # (dcm2niix's single precision and its quaternion of a not quite
            # orthogonal matrix: 3e-4 mm and 1.5e-3 off; README)
            problems += compare_nii(os.path.join(ref, name), ours, False, atol=2e-3)
            problems += check_json(os.path.join(ref, name[:-4] + ".json"), ours[:-4] + ".json")
        report.check("nibabel's Siemens DWI mosaics (2 x 48 tiles of 128 x 128) as dcm2niix "
                     "converts them: voxels, fields; affines within 2e-3; JSON every key "
                     "(the CSA headers' and the protocol's, ASCCONV, too)", problems)
        d = vols.get("dft patient name [1234]/12 MR CBU_DTI_64D_1A")
        text = read_all(os.path.join(d, "conversion.txt")).decode() if d else ""
        report.check("nibabel's cut mosaics (48 tiles in 256 x 256 pixels, 7 x 7 of 36.6) "
                     "make no volume, conversion.txt says why",
                     "not 7 x 7 tiles of one size" in text and
                     not [n for n in os.listdir(d) if n.endswith(".nii")], text[:300])
        check_mrconvert_nibabel(report, src, vols, tmp)
    finally:
        report.check("unmount (nibabel's files)", m.unmount())


def check_mrconvert_nibabel(report, src, vols, tmp):
    """mrconvert on each of nibabel's series alone (a folder of links to its
    files) against our .nii.  (nibabel's copies have zeroed pixel data: the
    voxels prove shapes and order only.)"""
    if mrconvert_missing(report):
        return
    mprage = os.path.join(src, "philips_mprage.dcm")
    cases = [
        ("Siemens slice (decimal_rescale.dcm)", ["decimal_rescale.dcm"],
         "7 MR CV_map_neuro_qT1_FA12nTI128", None, ""),
        ("Siemens DWI mosaics", ["siemens_dwi_0.dcm", "siemens_dwi_1000.dcm"],
         "(no name) [no ID]/12 MR CBU_DTI_64D_1A", None, ""),
        # Its origin comes from Philips' private (2005,140F) positions, half
        # a voxel along rows and columns off the standard per-frame ones
        # (volume_oracles.py): its affine is ours moved by that shift.
        ("Philips enhanced MPRAGE", ["philips_mprage.dcm"], "301 MR MPRAGE_S2",
         lambda img: vo_shifted(img, vo.philips_private_shift(mprage)),
         "its origin from Philips' private per-frame positions, half a voxel along rows and "
         "columns off the standard ones ours (and dcm2niix) follow"),
        ("cut mosaics (0.dcm, 1.dcm)", ["0.dcm", "1.dcm"],
         "dft patient name [1234]/12 MR CBU_DTI_64D_1A", None, ""),
    ]
    work = os.path.join(tmp, "nib-mrconvert")
    for k, (what, files, key, model, why) in enumerate(cases):
        d = vols.get(key)
        ours = sorted(glob.glob(os.path.join(glob.escape(d), "*.nii"))) if d else []
        name = (f"nibabel's {what}: mrconvert's conversion is our "
                f"{', '.join(os.path.basename(p) for p in ours)} (canonical: shape, scaled "
                f"voxels, affine within 1e-3 mm)" if ours else
                f"nibabel's {what}: we make no volume, and mrconvert refuses it too")
        folder = vo.link_folder(os.path.join(work, str(k)), [os.path.join(src, f) for f in files])
        out = os.path.join(work, f"{k}.nii")
        ok, msg = vo.mrconvert(folder, out)
        if not ok:
            mrconvert_refusal(report, name, msg, ours, False)
            continue
        if not ours:
            report.check(name, ["mrconvert converts it, we make no volume"])
            continue
        problems, note = vo.compare_mrconvert(out, ours, model)
        report.check(name, problems, f"{why}; {note}" if why else note)
        os.unlink(out)


def vo_shifted(img, shift):
    aff = img.affine.copy()
    aff[:3, 3] += shift
    return aff


# The sidecar keys dcm2niix 1.0.20220720 writes that dicomfs does not.  For
# the files converted here there is none: every key of every .json is
# compared (but ConversionSoftware and its version).  In general, none of
# the test data has these, so their rules could not be learnt from its
# output:
# - Siemens: the arterial spin labelling keys (LabelOffset, PostLabelDelay,
#   BolusDuration, ... of sWipMemBlock and sAsl), WipMemBlock, EchoTime1 and
#   EchoTime2 of field maps, ConsistencyInfo, ReceiveCoilActiveElements and
#   the XA series' private elements (0021,xxxx);
# - GE: the keys of its compressed Protocol Data Block (0025,101B) and of its
#   private (0043,xxxx) elements (InternalPulseSequenceName,
#   PhaseEncodingPolarityGE, ShimSetting, EffectiveEchoSpacing, ...): no GE
#   MR file among them (pydicom's GE CT has none of these);
# - Philips: PhilipsRWVSlope and PhilipsRWVIntercept (Real World Value
#   Mapping), TriggerDelayTime, and Philips DWI's derived (ADC) volumes;
# - a volume dicomfs does not make has no sidecar (nibabel's cut mosaics,
#   which dcm2niix shears).
PYDICOM_JSON_FILES = ("MR_small.dcm", "CT_small.dcm", "693_J2KI.dcm",
                      "J2K_pixelrep_mismatch.dcm", "liver_1frame.dcm", "rtdose_1frame.dcm")
# Of those, the ones whose .nii equals dcm2niix's in header, affine and
# voxels.  Not yet (issue 13): J2K_pixelrep_mismatch (one slice with a
# gantry tilt: dcm2niix's affine differs, and its voxels).
PYDICOM_NII_FILES = ("MR_small.dcm", "CT_small.dcm", "693_J2KI.dcm", "liver_1frame.dcm",
                     "rtdose_1frame.dcm")


def check_pydicom_json(report, exe, tmp):
    """pydicom's own test files, each converted alone by dcm2niix, against
    the sidecar of its series in one mount of them all: every key, in
    order, equal (the rules for the standard attributes: which modalities
    and manufacturers dcm2niix names, RawImage, NonlinearGradientCorrection,
    the time's format, ImageType's blanks, a segmentation's functional
    groups)."""
    import pydicom
    from pydicom.data import get_testdata_file
    src, ref, one, mnt = (os.path.join(tmp, "pyd-" + x) for x in ("src", "ref", "one", "mnt"))
    os.makedirs(src)
    uids = {}
    for f in PYDICOM_JSON_FILES:
        path = get_testdata_file(f)
        shutil.copy(path, src)
        os.makedirs(os.path.join(one, f))
        os.makedirs(os.path.join(ref, f))
        shutil.copy(path, os.path.join(one, f))
        subprocess.run(["dcm2niix", "-z", "n", "-b", "y", "-f", "%p_%s", "-o",
                        os.path.join(ref, f), os.path.join(one, f)],
                       capture_output=True, timeout=ml.scaled(60))
        uids[str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)] = f
    m = ml.Mount(exe, src, mnt, args=["-o", "noindex"])
    m.start()
    try:
        volumes = {}  # file -> its series' volume/
        for tag in glob.glob(os.path.join(glob.escape(mnt), "*", "*", "*", "*", "tags",
                                          "SOPInstanceUID")):
            uid = read_all(tag).decode(errors="replace").strip("\0 \n")
            if uid in uids:
                volumes[uids[uid]] = os.path.join(os.path.dirname(os.path.dirname(
                    os.path.dirname(tag))), "volume")
        problems, nii_problems, niis = [], [], 0
        for f in PYDICOM_NII_FILES:
            for r in sorted(glob.glob(os.path.join(ref, f, "*.nii"))):
                ours = os.path.join(volumes.get(f, "/nonexistent"), os.path.basename(r))
                niis += 1
                if not os.path.exists(ours):
                    nii_problems.append(f"{f}: no {os.path.basename(r)} in volume/")
                else:
                    nii_problems += [f"{f}: {p}" for p in compare_nii(r, ours, False)]
            refs = sorted(glob.glob(os.path.join(ref, f, "*.json")))
            if not refs or f not in volumes:
                problems.append(f"{f}: " + ("dcm2niix wrote no .json" if not refs else
                                            "no series folder"))
                continue
            for r in refs:
                ours = os.path.join(volumes[f], os.path.basename(r))
                if not os.path.exists(ours):
                    problems.append(f"{f}: no {os.path.basename(r)} in volume/")
                else:
                    problems += [f"{f}: {p}" for p in check_json(r, ours)]
        report.check("pydicom's test files (Toshiba MR, CTs, a segmentation, an RT dose), "
                     "each as dcm2niix converts it alone: the sidecar's every key",
                     problems, f"{len(volumes)} of {len(PYDICOM_JSON_FILES)} files")
        report.check("pydicom's MR and CT slices, 1-bit segmentation and RT dose, each as "
                     "dcm2niix converts it alone: the .nii's header, affine and voxel bytes",
                     nii_problems,
                     f"{niis} volumes")
    finally:
        report.check("unmount (pydicom's files)", m.unmount())


def run_checks(report, exe, root, tmp):
    src, ref = os.path.join(tmp, "src"), os.path.join(tmp, "ref")
    subprocess.run(["/usr/bin/python3", os.path.join(root, "scripts", "make-series.py"), src],
                   check=True, timeout=ml.scaled(120))
    transcoded = make_transcoded(src)
    series = sorted(os.listdir(src))
    numbers = {int(first_file(os.path.join(src, s)).SeriesNumber): s for s in series}
    for s in series:
        os.makedirs(os.path.join(ref, s))
        # (it exits 2 on a syntax it cannot decode: JPEG-LS here)
        subprocess.run(["dcm2niix", "-z", "n", "-b", "y", "-f", "%p_%s", "-o",
                        os.path.join(ref, s), os.path.join(src, s)],
                       check=s not in transcoded, capture_output=True, timeout=ml.scaled(60))
    mnt = os.path.join(tmp, "mnt")
    m = ml.Mount(exe, src, mnt, args=["-o", f"index={tmp}/index.sqlite"])
    m.start()
    hashes = {}
    try:
        dirs = series_dirs(mnt, numbers)
        report.check("every generated series has a folder", [s for s in series if s not in dirs])
        # A name that is no volume file's is looked up in volume/ without a
        # plan (a shell glob down to the instances' tags/ asks every
        # series' volume/ for "tags"); a listing makes one.
        plans = plans_made(m)
        strays = [s for s in series for name in ("tags", "volume", "x.nii.gz", ".nii")
                  if os.path.exists(os.path.join(dirs[s], "volume", name))]
        first = series[0]
        report.check("names that are no volume file's are looked up in volume/ without a plan "
                     "(volume plans made stays); a listing of volume/ makes one",
                     not strays and plans_made(m) == plans and
                     (os.listdir(os.path.join(dirs[first], "volume")) and
                      plans_made(m) == plans + 1),
                     f"found {strays}" if strays else f"{len(series)} series")
        # Sizes and listings decode nothing and read no pixel.
        before, read_before = renders(m), frames_read(m)
        sizes = {}
        for s in series:
            vol = os.path.join(dirs[s], "volume")
            for name in os.listdir(vol):
                sizes[(s, name)] = os.stat(os.path.join(vol, name)).st_size
        report.check("ls -l of every volume/ decodes no frame and reads none from its file "
                     "(rendered whole and frames read stay)",
                     renders(m) == before and frames_read(m) == read_before, f"{len(sizes)} files")
        # A 4 KiB pread at the end of the 4D volume touches one frame: its
        # native stored values are read from its file, none decoded.
        bold = os.path.join(dirs["s06"], "volume", "bold_6.nii")
        before, read_before = renders(m), frames_read(m)
        fd = os.open(bold, os.O_RDONLY)
        try:
            tail = os.pread(fd, 4096, sizes[("s06", "bold_6.nii")] - 4096)
        finally:
            os.close(fd)
        got = (renders(m) - before, frames_read(m) - read_before, len(tail))
        report.check("a 4 KiB pread at the end of a 24-frame 4D volume reads 1 frame from its "
                     "file and decodes none", [] if got == (0, 1, 4096) else
                     [f"{got[0]} frames decoded, {got[1]} read from their files, {got[2]} bytes"])
        # The files dcm2niix writes, by name.  Where it cannot decode a
        # transcoded copy (JPEG-LS: Debian's build has no CharLS), the
        # name is its rule's and the voxels are those of the original.
        for s in series:
            refs = {os.path.basename(f): f for f in glob.glob(os.path.join(ref, s, "*.nii"))
                    if "_Eq_" not in f and "_Tilt_" not in f}
            note = ""
            if not refs and s in transcoded:
                base = "s" + s[-2:]
                ds = first_file(os.path.join(src, s))
                stem = "".join("_" if c in '\\/ <>:;"$*|?' else c for c in ds.ProtocolName)
                refs = {f"{stem}_{ds.SeriesNumber}.nii": f
                        for f in glob.glob(os.path.join(ref, base, "*.nii"))}
                note = f"dcm2niix does not decode it: against {base}"
            want = sorted(refs)
            listed = sorted(os.listdir(os.path.join(dirs[s], "volume")))
            have = [n for n in listed if n.endswith(".nii")]
            problems = [] if want == have else [f"ours {have}, dcm2niix {want}"]
            expect = sorted(["conversion.txt"] + [n[:-4] + e for n in have
                                                  for e in (".hdr", ".img", ".json", ".mat",
                                                            ".mnc", ".nii")] +
                            [os.path.basename(f) for f in glob.glob(os.path.join(ref, s, "*.bv*"))])
            if listed != expect:
                problems.append(f"volume/ lists {listed}, expected {expect}")
            for name in sorted(set(want) & set(have)):
                ours = os.path.join(dirs[s], "volume", name)
                problems += [f"{name}: {p}" for p in
                             compare_nii(refs[name], ours, s == "s05")]
                if s == "s05":
                    problems += [f"{name}: {p}" for p in
                                 check_tilt(ours, sorted(glob.glob(os.path.join(src, s, "*"))))]
                # (dcmstack refuses variable spacing, stacks echoes and
                # diffusion otherwise than by our split: those left out)
                if s.startswith("s") and s not in ("s04", "s08", "s16", "s20"):
                    problems += [f"{name}: {p}" for p in check_dcmstack(
                        ours, sorted(glob.glob(os.path.join(src, s, "*"))))]
                problems += [f"{name}: {p}" for p in check_analyze(ours)]
                problems += [f"{name[:-4]}.mnc: {p}" for p in check_minc(ours, tmp, s == "s05")]
                for ext in (".bval", ".bvec"):
                    if os.path.exists(refs[name][:-4] + ext):
                        problems += [f"{name[:-4]}{ext}: {p}" for p in
                                     compare_numbers(refs[name][:-4] + ext, ours[:-4] + ext)]
                ref_json = refs[name][:-4] + ".json"
                if os.path.basename(ref_json) != name[:-4] + ".json":
                    pass  # (against the original: another name, another ProtocolName)
                elif os.path.exists(ref_json):
                    problems += [f"{name[:-4]}.json: {p}" for p in
                                 check_json(ref_json, ours[:-4] + ".json")]
                else:
                    problems.append("dcm2niix wrote no .json")
                for ext in (".hdr", ".img", ".json", ".mat", ".mnc"):
                    other = name[:-4] + ext
                    if len(read_all(os.path.join(dirs[s], "volume", other))) != sizes[(s, other)]:
                        problems.append(f"{other}: stat size is not the bytes read")
                data = read_all(ours)
                hashes[(s, name)] = hashlib.sha256(data).hexdigest()
                mnc = name[:-4] + ".mnc"
                hashes[(s, mnc)] = hashlib.sha256(read_all(ours[:-4] + ".mnc")).hexdigest()
                if len(data) != sizes[(s, name)]:
                    problems.append(f"{name}: stat {sizes[(s, name)]}, read {len(data)}")
                chk = subprocess.run(["nifti_tool", "-check_hdr", "-infiles", ours],
                                     capture_output=True, text=True, timeout=ml.scaled(60))
                if chk.returncode != 0 or "INVALID" in chk.stdout + chk.stderr:
                    problems.append(f"{name}: nifti_tool -check_hdr: {chk.stdout}{chk.stderr}")
            report.check(f"{s}: volume/ as dcm2niix writes it ({', '.join(have)})", problems,
                         note)
        check_mrconvert_series(report, src, dirs, series, transcoded, tmp)
        check_dcm2mnc_series(report, src, dirs, series, transcoded, tmp)
        # conversion.txt: sizes, order, warnings.
        problems = []
        for s in series:
            path = os.path.join(dirs[s], "volume", "conversion.txt")
            text = read_all(path)
            if len(text) != sizes[(s, "conversion.txt")]:
                problems.append(f"{s}: stat {sizes[(s, 'conversion.txt')]}, read {len(text)}")
        report.check("conversion.txt: stat sizes equal bytes read", problems)
        order = [line.split(": ", 1)[1] for line in
                 read_all(os.path.join(dirs["s01"], "volume", "conversion.txt")).decode().splitlines()
                 if line.startswith("  volume ")]
        import numpy as np
        import pydicom
        files = sorted(glob.glob(os.path.join(src, "s01", "*")))
        pos = {os.path.relpath(f, src): float(np.dot([0, 0, 1], pydicom.dcmread(
            f, stop_before_pixels=True).ImagePositionPatient)) for f in files}
        report.check("conversion.txt lists s01's files in position order (pydicom), not "
                     "instance order", order == sorted(pos, key=pos.get),
                     f"{len(order)} files")
        for s, words in (("s04", "Interslice distance varies"), ("s05", "Gantry tilt")):
            text = read_all(os.path.join(dirs[s], "volume", "conversion.txt")).decode()
            report.check(f"conversion.txt of {s} warns: {words}", words in text)
    finally:
        report.check("unmount", m.unmount())
    check_nibabel_files(report, exe, tmp)
    check_pydicom_json(report, exe, tmp)
    # The same bytes from another mount (the persistent index kept).
    m = ml.Mount(exe, src, mnt, args=["-o", f"index={tmp}/index.sqlite"])
    m.start()
    try:
        dirs = series_dirs(mnt, numbers)
        changed = [f"{s}/{n}" for (s, n), h in sorted(hashes.items())
                   if hashlib.sha256(read_all(os.path.join(dirs[s], "volume", n))).hexdigest() != h]
        report.check("every .nii and .mnc has the same sha256 after a remount", changed,
                     f"{len(hashes)} files")
    finally:
        report.check("unmount (second mount)", m.unmount())


def main():
    exe, root = (os.path.abspath(a) for a in (sys.argv + ["", ""])[1:3])
    return ml.run_test(__doc__, 3, "dicomfs-volumes-test.", WATCHDOG_SECONDS,
                       lambda report, tmp: run_checks(report, exe, root, tmp),
                       needs=("pydicom", "nibabel", "h5py", "dcmstack"),
                       tools=("dcm2niix", "nifti_tool", "mincinfo", "mincstats", "nii2mnc",
                              "dcm2mnc", "minc_modify_header"))


if __name__ == "__main__":
    sys.exit(main())
