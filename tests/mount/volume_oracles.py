"""mrconvert (MRtrix3, Debian's mrtrix3 3.0.3) and dcm2mnc (minc-tools
2.3.00's, dcm2mnc 2.01.02) as oracles for the volumes of test_volumes.py
(issue 13): each converts the source DICOM files on its own, and its file is
compared with ours in world space.

What each tool does otherwise than dcm2niix (and so than us), found on the
series of scripts/make-series.py and nibabel's files, with the evidence:

mrconvert
- Variable slice spacing (s04: steps 2.5 2.5 5 2.5 7.5 2.5): one step for
  the whole stack, the mean of the separations (it warns "slice separation
  is not constant (from 2.5 to 7.5mm)"; MRtrix3's
  core/file/dicom/image.cpp, Frame::get_slice_separation, returns
  sum_separation / (nslices - 1)): its slice axis is 3.75 mm where ours is
  dcm2niix's first step, 2.5.
- Gantry tilt (s05): no shear; each slice's distance is its position
  projected on the normal of ImageOrientationPatient (Frame::calc_distance)
  and the slice axis is that normal times the mean distance (4.83 mm, where
  the positions step 5 mm along z): its slices miss their
  ImagePositionPatient by 1.29 mm a slice, ours land on them (check_tilt).
- Both modelled by mrtrix_affine(), which must then give its affine.
- Compressed transfer syntaxes are refused ("unsupported transfer syntax
  found in DICOM data"; its documentation, "DICOM handling": only implicit
  and explicit VR little endian and explicit big endian are read).
- Echoes (s08) are stacked as a 4th axis where dcm2niix makes one volume of
  each (_e1, _e2): compared volume by volume.
- Siemens mosaics whose tiles do not divide the image (nibabel's 0.dcm and
  1.dcm) are refused ("DICOM mosaic contains multiple slices"), as we do.
- Philips enhanced MPRAGE (nibabel's philips_mprage.dcm): its origin is half
  a voxel along the rows and the columns off ours and dcm2niix's.  Every
  frame of that file carries, besides the standard Plane Position Sequence,
  a Philips private sequence (2005,140F) with an ImagePositionPatient
  (0.018, -0.466, 0.531) mm (LPS) off it, minus half a row and a column
  step; MRtrix3 counts every element under the Per-frame Functional Groups
  Sequence as the frame's own (Image::parse_item, "is_toplevel"), so the
  private one, read after, wins.  Its affine is that of the private
  positions (checked); ours follows PS3.3's per-frame position (and
  dcm2niix).  Its scaling there is RescaleSlope, ours dcm2niix's Philips
  precise scale (README): nibabel's copies have zeroed pixel data, so the
  voxels show nothing of it.
- It writes unsigned 16-bit stored values with scl_inter where we write
  int16: only the scaled values are compared.

dcm2mnc (run with -usecoordinates)
- By default it takes the slice step from SpacingBetweenSlices or
  SliceThickness, not from the positions ("Coordinate spacing (-4) differs
  from DICOM slice spacing (0.8) ... Using 0.8" on s01, whose files keep
  MR_small's SpacingBetweenSlices): -usecoordinates takes it from the
  positions, as dcm2niix does.
- It rescales every slice to the full range of its type (image-min and
  image-max per slice): its real values are within half a step of that
  range of ours, not equal.
- Variable slice spacing (s04): an irregular dimension holding every
  slice's position along the normal, where ours is regular with the first
  step (as dcm2niix): its coordinates are checked against the positions
  (pydicom), ours from the fourth slice on differ (said in the note).
- 4D series (s06, s16): without TemporalPositionIdentifier it finds no time
  axis and stacks every image as one slice of a single volume (s06: zspace
  of 24 at a 1.087 mm step; with TemporalPositionIdentifier added it still
  gives a time axis of 4 and a zspace of 2): not compared.
- Two echoes (s08) with -fname x write one file and fail on the second
  ("Unable to create file"; %e stays empty): each echo's files are
  converted apart.
- Gantry tilt (s05): the slice axis along the normal, no shear, the
  geometry our .mnc has (the qform's: MINC holds no shear).
- Compressed transfer syntaxes (the transcoded copies): it exits 0 having
  written zeros (image-min = image-max = 0): the geometry only is compared.
- Not used on nibabel's files: with -usecoordinates it steps the Siemens
  DWI mosaics' slices by SliceThickness (2.5 mm; SpacingBetweenSlices and
  dcm2niix say 3), and the Philips enhanced MPRAGE's frames by 0.497 mm
  where their positions step 1 mm (its multi-frame support is, in its own
  words, "at best a very partial implementation").
"""

import os
import re
import subprocess

import mountlib as ml

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # (mrconvert colours its messages)
SPATIAL = ("xspace", "yspace", "zspace")


def link_folder(folder, files):
    """folder, made, holding a symbolic link to each of files: one series
    alone (mrconvert scans a whole folder, and asks which series when it
    finds several)."""
    os.makedirs(folder)
    for f in files:
        os.symlink(os.path.abspath(f), os.path.join(folder, os.path.basename(f)))
    return folder


def words(text):
    return " ".join(ANSI.sub("", text).split())


def mrconvert(folder, out):
    """`mrconvert -quiet FOLDER OUT`: (True, "") or (False, its message).
    Its standard input says q: given several patients or series it asks
    which, and at the end of its input asks again, for ever."""
    if os.path.exists(out):
        os.unlink(out)
    try:
        r = subprocess.run(["mrconvert", "-quiet", folder, out], input="q\n",
                           capture_output=True, text=True, timeout=ml.scaled(120))
    except subprocess.TimeoutExpired:
        return False, "timeout"
    return r.returncode == 0 and os.path.exists(out), words(r.stderr)


def dcm2mnc(files, outdir):
    """`dcm2mnc -usecoordinates -dname '' -fname x FILES OUTDIR`: (path of
    its file or None, its messages)."""
    os.makedirs(outdir)
    try:
        r = subprocess.run(["dcm2mnc", "-usecoordinates", "-dname", "", "-fname", "x"] + list(files)
                           + [outdir], capture_output=True, text=True, timeout=ml.scaled(120))
    except subprocess.TimeoutExpired:
        return None, "timeout"
    out = os.path.join(outdir, "x.mnc")
    text = words(re.sub(r"[-|<>]*->[->|]*", " ", r.stdout + r.stderr))
    return (out if r.returncode == 0 and os.path.exists(out) else None), text


def load(path):
    import nibabel as nib
    return nib.load(path, mmap=False) if path.endswith((".nii", ".hdr")) else nib.load(path)


def show(a):
    import numpy as np
    return np.array2string(np.asarray(a), precision=4, suppress_small=True, separator=",",
                           max_line_width=10 ** 6).replace("\n", "")


def floating(img):
    import numpy as np
    return np.issubdtype(img.get_data_dtype(), np.floating)


def compare_canonical(theirs, ours, who, atol=1e-3):
    """theirs and ours (nibabel images) both turned to the closest canonical
    orientation: the same shape, affines within atol mm, voxel values equal
    after each file's scaling (within 1e-4 relative where one side is
    float)."""
    import nibabel as nib
    import numpy as np
    ct, co = nib.as_closest_canonical(theirs), nib.as_closest_canonical(ours)
    if ct.shape != co.shape:
        return [f"canonical shape {co.shape}, {who}'s {ct.shape}"]
    problems = []
    off = float(np.abs(ct.affine - co.affine).max())
    if not off <= atol:
        problems.append(f"canonical affine {show(co.affine)}, {who}'s {show(ct.affine)} "
                        f"({off:.3g} off)")
    a, b = ct.get_fdata(), co.get_fdata()
    if floating(theirs) or floating(ours):
        same = np.allclose(a, b, rtol=1e-4, atol=0)
    else:
        same = np.array_equal(a, b)
    if not same:
        problems.append(f"voxels differ from {who}'s (largest difference "
                        f"{float(np.abs(a - b).max()):.6g})")
    return problems


def positions(files):
    """ImagePositionPatient of each file (pydicom) along the normal of its
    ImageOrientationPatient (row x column), ascending, and that normal."""
    import numpy as np
    import pydicom
    dss = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
    iop = np.array(dss[0].ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    along = sorted(float(np.dot(normal, np.array(d.ImagePositionPatient, float))) for d in dss)
    return along, normal


def mrtrix_affine(ours, files):
    """Our .nii's affine as MRtrix3 3.0.3 makes it for a stack that is not
    regular: the slice axis (column 2) along the normal of the image plane,
    of the mean distance between consecutive positions projected on it
    (core/file/dicom/image.cpp: Frame::calc_distance and
    Frame::get_slice_separation)."""
    import numpy as np
    d, _ = positions(files)
    mean = (d[-1] - d[0]) / (len(d) - 1)
    aff = ours.affine.copy()
    normal = np.cross(aff[:3, 0], aff[:3, 1])
    normal /= np.linalg.norm(normal)
    sign = 1.0 if float(np.dot(normal, aff[:3, 2])) > 0 else -1.0
    aff[:3, 2] = normal * sign * abs(mean)
    return aff


# --- MINC through mincinfo -------------------------------------------------------

def mincinfo(args, path):
    r = subprocess.run(["mincinfo"] + args + [path], capture_output=True, text=True,
                       timeout=ml.scaled(60))
    if r.returncode != 0:
        raise RuntimeError(f"mincinfo {' '.join(args)}: {r.stderr.strip()[:200]}")
    return r.stdout


def minc_world(path):
    """The image's geometry from mincinfo alone: {"dims": its dimensions
    (slowest first), "shape" and "affine" of its spatial ones in that order,
    as nibabel's (column = direction_cosines x step, origin = sum of
    start x direction_cosines), "names" {name: (length, step x cosines, cosines, start)},
    "irregular" {name: coordinates}}."""
    import numpy as np
    dims = mincinfo(["-vardims", "image"], path).split()
    spatial = [d for d in dims if d in SPATIAL]
    aff = np.eye(4)
    aff[:3, 3] = 0
    shape, names, irregular = [], {}, {}
    for col, d in enumerate(spatial):
        out = mincinfo(["-dimlength", d, "-attvalue", f"{d}:step", "-attvalue", f"{d}:start",
                        "-attvalue", f"{d}:direction_cosines"], path).split()
        length, step, start = int(out[0]), float(out[1]), float(out[2])
        cosines = np.array([float(x) for x in out[3:6]])
        aff[:3, col] = cosines * step
        aff[:3, 3] += cosines * start
        shape.append(length)
        names[d] = (length, cosines * step, cosines, start)
        try:
            spacing = mincinfo(["-attvalue", f"{d}:spacing"], path).strip()
        except RuntimeError:
            spacing = "regular__"
        if spacing.startswith("irregular"):
            irregular[d] = [float(x) for x in mincinfo(["-varvalue", d], path).split()]
    return {"dims": dims, "shape": tuple(shape), "affine": aff, "names": names,
            "irregular": irregular}


def canonical(shape, affine):
    """(shape, affine) of an image of that geometry turned to the closest
    canonical orientation, as nibabel.as_closest_canonical does it."""
    import nibabel.orientations as no
    ornt = no.io_orientation(affine)
    out = [0] * len(shape)
    for axis, (to, _) in enumerate(ornt):
        out[int(to)] = shape[axis]
    return tuple(out), affine @ no.inv_ornt_aff(ornt, shape)


MINC_COMPARED = {
    "all": "dimensions, world geometry within 1e-3 mm, real values within half its step",
    "irregular": "dimensions, its irregular slice positions against the files', real values "
                 "within half its step",
    "geometry": "dimensions and world geometry within 1e-3 mm; not the values: it decodes no "
                "compressed transfer syntax",
    "4D": "not compared: a 4D series, where dcm2mnc finds no time axis",
}


def compare_minc(theirs_path, ours_path, files, tmp, compressed=False, atol=1e-3):
    """dcm2mnc's file (of files) against our .mnc: every spatial dimension of
    the same name the same length and axis (step x cosines, up to its sign:
    dcm2mnc steps the way its files come); the world geometry (mincinfo's
    lengths, steps, starts and cosines, turned canonical) within atol mm;
    the real values (nibabel, canonical) within half a step of dcm2mnc's
    per-slice scaling.  An irregular dimension of dcm2mnc's (variable
    spacing) must hold the positions of files along it (pydicom); ours is
    regular from the first two, and the difference is said in the note.
    compressed: files of a compressed transfer syntax, which dcm2mnc 2.01.02
    does not decode (it writes zeros, image-min = image-max = 0, and exits
    0: JPEG-LS, JPEG lossless, RLE and JPEG 2000 alike): then the geometry
    only, unless its values are not all 0.  (problems, note, what was
    compared: a key of MINC_COMPARED)"""
    import nibabel as nib
    import nibabel.orientations as no
    import numpy as np
    t, o = minc_world(theirs_path), minc_world(ours_path)
    if sorted(t["dims"]) != sorted(o["dims"]):  # (in its own order: it keeps the slices')
        if "time" in o["dims"] and "time" not in t["dims"]:
            return [], (f"dcm2mnc finds no time axis: it makes "
                        f"{'x'.join(str(n) for n in t['shape'])} of {' '.join(t['dims'])}"), "4D"
        return [f"dimensions {o['dims']}, dcm2mnc's {t['dims']}"], "", "all"
    problems, notes = [], []
    for name in sorted(set(t["names"]) | set(o["names"])):
        if name not in t["names"] or name not in o["names"]:
            problems.append(f"dimension {name} only in {'ours' if name in o['names'] else 'its'}")
            continue
        (lt, vt, ct, _), (lo, vo, co, start_o) = t["names"][name], o["names"][name]
        if name in t["irregular"]:
            ras = [np.array([-p[0], -p[1], p[2]]) for p in ipp(files)]
            want = sorted(float(np.dot(ct, p)) for p in ras)
            have = t["irregular"][name]
            if len(have) != len(want) or not np.allclose(have, want, atol=atol, rtol=0):
                problems.append(f"dcm2mnc's {name} coordinates {have}, the positions {want}")
            if lo != len(want):
                problems.append(f"{name}: {lo} slices, {len(want)} files")
                continue
            # ours, regular: from the first position by the first step (as
            # dcm2niix); said, not failed (README "Known differences")
            ours = sorted(float(np.dot(ct, co * start_o + k * vo)) for k in range(lo))
            if not (abs(ours[0] - want[0]) <= atol and abs(ours[1] - want[1]) <= atol):
                problems.append(f"ours {name} {ours}: not from the first two positions {want[:2]}")
            off = max(abs(a - b) for a, b in zip(ours, want))
            notes.append(f"variable spacing: dcm2mnc's {name} holds every position "
                         f"{[round(x, 3) for x in want]}, ours steps {abs(ours[1] - ours[0]):g} "
                         f"from the first (dcm2niix's), up to {off:g} mm off")
        elif lt != lo or not (np.allclose(vt, vo, atol=1e-4) or np.allclose(vt, -vo, atol=1e-4)):
            problems.append(f"{name}: length {lo} axis {show(vo)}, dcm2mnc's {lt} {show(vt)}")
    if not t["irregular"]:
        st, at = canonical(t["shape"], t["affine"])
        so, ao = canonical(o["shape"], o["affine"])
        if st != so or not np.allclose(at, ao, atol=atol, rtol=0):
            problems.append(f"world geometry {so} {show(ao)}, dcm2mnc's {st} {show(at)}")
    kind = "irregular" if t["irregular"] else "all"
    if problems:
        return problems, "", kind
    if compressed:
        ranges = (mincinfo(["-varvalue", "image-min"], theirs_path).split() +
                  mincinfo(["-varvalue", "image-max"], theirs_path).split())
        if all(float(x) == 0 for x in ranges):
            notes.append("geometry only: dcm2mnc wrote zeros (it decodes no compressed "
                         "transfer syntax)")
            return problems, "; ".join(notes), "geometry"
    if t["irregular"]:
        # nibabel reads no irregular dimension: a copy marked regular gives
        # the voxels in dcm2mnc's order (along the same axes as ours)
        copy = os.path.join(tmp, "dcm2mnc-regular.mnc")
        if os.path.exists(copy):
            os.unlink(copy)
        subprocess.run(["cp", theirs_path, copy], check=True, timeout=ml.scaled(60))
        for name in t["irregular"]:
            subprocess.run(["minc_modify_header", "-sinsert", f"{name}:spacing=regular__", copy],
                           check=True, capture_output=True, timeout=ml.scaled(60))
        theirs_path = copy
    a, b = load(theirs_path), load(ours_path)
    ca, cb = nib.as_closest_canonical(a), nib.as_closest_canonical(b)
    if ca.shape != cb.shape:
        return [f"nibabel: shape {cb.shape}, dcm2mnc's {ca.shape}"], "", kind
    # dcm2mnc's quantisation step per slice: (image-max - image-min) / its
    # valid range; image-min runs over the dimensions but the two fastest,
    # the first ones in nibabel's order (the file's, slowest first).
    lo_hi = [float(x) for x in mincinfo(["-attvalue", "image:valid_range"], theirs_path).split()]
    mins = np.array([float(x) for x in mincinfo(["-varvalue", "image-min"], theirs_path).split()])
    maxs = np.array([float(x) for x in mincinfo(["-varvalue", "image-max"], theirs_path).split()])
    step = (maxs - mins) / (lo_hi[1] - lo_hi[0])
    tol = np.broadcast_to((0.5 * step * 1.001 + 1e-9).reshape(a.shape[:-2] + (1, 1)), a.shape)
    tol = no.apply_orientation(tol, no.io_orientation(a.affine))
    diff = np.abs(ca.get_fdata() - cb.get_fdata())
    if not (diff <= tol).all():
        worst = np.unravel_index(np.argmax(diff - tol), diff.shape)
        problems.append(f"real values differ from dcm2mnc's by up to {float(diff.max()):.6g} "
                        f"(at {tuple(int(x) for x in worst)}: {float(diff[worst]):.6g} where half "
                        f"its step is {float(tol[worst]):.6g})")
    notes.append(f"real values within {float(diff.max()):.3g}, half a step of its scaling")
    a = b = ca = cb = None
    import gc
    gc.collect()  # nibabel's MINC2 images keep their h5py file open: the mount must unmount
    return problems, "; ".join(notes), kind


def ipp(files):
    """ImagePositionPatient of each file (pydicom), as arrays."""
    import numpy as np
    import pydicom
    return [np.array(pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient, float)
            for f in files]


def philips_private_shift(path):
    """World (RAS) shift from the standard ImagePositionPatient of the first
    frame (Plane Position Sequence) to the one in Philips' private per-frame
    sequence (2005,140F), which mrconvert reads."""
    import numpy as np
    import pydicom
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    frame = ds.PerFrameFunctionalGroupsSequence[0]
    standard = np.array(frame.PlanePositionSequence[0].ImagePositionPatient, float)
    private = np.array(frame[0x2005, 0x140F].value[0].ImagePositionPatient, float)
    d = private - standard
    return np.array([-d[0], -d[1], d[2]])


def compare_mrconvert(theirs_path, ours_paths, model=None):
    """mrconvert's file against our volumes of one series (paths of .nii):
    one volume, or several that it stacks along a 4th axis (echoes).
    model(our image) -> the affine mrconvert is documented to give instead
    of ours (compared with it; how far that is from ours goes in the
    note).  (problems, note)"""
    import nibabel as nib
    import numpy as np
    theirs = load(theirs_path)
    ours = [load(p) for p in ours_paths]
    if len(ours) == 1:
        pairs = [(theirs, ours[0])]
    elif theirs.ndim == ours[0].ndim + 1 and theirs.shape[-1] == len(ours):
        pairs = [(theirs.slicer[..., k], o) for k, o in enumerate(ours)]
    else:
        return [f"mrconvert made {theirs.shape}, ours {[o.shape for o in ours]}"], ""
    problems, notes = [], []
    for (t, o), path in zip(pairs, ours_paths):
        name = os.path.basename(path)
        if model is not None:
            want = model(o)
            ct, co = nib.as_closest_canonical(t), nib.as_closest_canonical(o)
            off = float(np.abs(ct.affine - co.affine).max()) if ct.shape == co.shape else None
            o = nib.Nifti1Image(o.dataobj, want, o.header)
            notes.append(f"{name}: its affine {'?' if off is None else f'{off:.3g}'} mm off ours, "
                         f"as documented")
        problems += [f"{name}: {p}" for p in compare_canonical(t, o, "mrconvert")]
    if len(pairs) > 1:
        notes.append(f"its 4th axis of {len(pairs)} is our {len(pairs)} volumes")
    return problems, "; ".join(notes)
