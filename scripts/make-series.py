#!/usr/bin/python3
"""Write series of known geometry for the volume tests (issue 13), one folder
each, from pydicom's MR_small.dcm (64x64 int16) and CT_small.dcm (128x128
int16): the pixel data of slice k is the original plus 100*k (plus 1000*t
for volume t), so that slice order can be seen in the voxels.

  s01  axial MR 2D, 12 slices, instance numbers against position order
  s02  sagittal MR 3D, 10 slices (dcm2niix reorients 3D acquisitions)
  s03  axial CT, 5 mm steps with 2.5 mm thick slices (a gap)
  s04  axial CT with variable spacing (warned, never resampled)
  s05  axial CT with 15 degrees of gantry tilt
  s06  4D MR 2D: 6 slices x 4 volumes, 2 s between volumes
  s07  oblique MR 2D (20 degrees about x)
  s08  MR 2D with two echoes (two volumes: _e2)
  s09  CT with RescaleSlope 2.5 and RescaleIntercept -10
  s10  CT whose slope varies from slice to slice (float32)
  s11  MR 2D, unsigned 16-bit with 12 bits stored (written as INT16)
  s12  coronal MR 2D, 8 slices
  s13  a single 2D CT slice
  s14  MR 2D, unsigned 16-bit using all 16 bits (UINT16; Analyze has none)
  s15  axial MR 3D (turned to the nearest RAS: x reversed)
  s16  oblique MR diffusion: 3 slices x 4 volumes, b 0 and 1000 in three
       directions (DiffusionBValue, DiffusionGradientOrientation)
  s17  Siemens MR 2D fMRI, 6 slices x 3 volumes, slices acquired interleaved
       0.33 s apart (dcm2niix's SliceTiming from AcquisitionTime)
  s18  GE MR 2D EPI, implicit VR, with GE's private elements: pulse sequence
       name, ASSET factors, effective echo spacing, prescan reuse string
  s19  GE MR 2D phase images (GE's raw data type 1, ImageType OTHER: _ph)
  s20  GE oblique MR diffusion, implicit VR: 3 slices x 4 volumes, the b
       value in GE's (0043,1039) plus 10^9, the gradient in (0019,10BB-BD),
       three directions in (0019,10E0)
  s21  axial CT 256x256 (CT_small's pixels doubled each way: 128 KiB of
       pixel data an instance), 8 slices: a series whose headers are a
       small part of its bytes (the DICOMweb test's header copies), in a
       patient and study of its own (CT_small's patient is not MR_small's)
  s22  multi-frame secondary capture (grayscale word), 3 instances of 6
       frames of 128x128 (192 KiB of pixel data each), the last one RLE
       Lossless: a series of multi-frame instances too large for the
       DICOMweb test's small cache (its frames fetched alone), in a
       patient and study of its own

usage: make-series.py OUTDIR [SERIES...]  (s01-s20 when none are named)
"""
import math
import os
import sys

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

STUDY = "1.2.826.0.1.3680043.8.498.13.1"
FOR = "1.2.826.0.1.3680043.8.498.13.2"


def base(kind):
    return pydicom.dcmread(get_testdata_file("MR_small.dcm" if kind == "MR" else "CT_small.dcm"))


def unit(v):
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def write_series(out, name, number, kind, slices, protocol=None, mr3d=False, **common):
    """slices: dicts with ipp, iop, instance, and optional echo, time, slope,
    intercept, add (added to the pixels), acq (acquisition number), ge (GE's
    private elements of that slice, beside the series' common["ge"])."""
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    series_uid = generate_uid(prefix=None, entropy_srcs=[name, "series"])
    for n, s in enumerate(slices):
        ds = base(kind)
        ds.StudyInstanceUID = STUDY
        ds.FrameOfReferenceUID = FOR
        ds.PatientName = "Volume^Series"
        ds.PatientID = "VOL1"
        ds.StudyDate = "20240301"
        ds.StudyTime = "101500"
        ds.SeriesInstanceUID = series_uid
        if "patient" in common:  # a patient and study of its own
            ds.PatientName, ds.PatientID, ds.StudyInstanceUID = common["patient"]
        ds.SOPInstanceUID = generate_uid(prefix=None, entropy_srcs=[name, str(n)])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesNumber = number
        ds.SeriesDescription = f"{name} description"
        if protocol is not None:
            ds.ProtocolName = protocol
        ds.InstanceNumber = s["instance"]
        ds.ImagePositionPatient = [round(float(x), 6) for x in s["ipp"]]
        ds.ImageOrientationPatient = [round(float(x), 6) for x in s["iop"]]
        ds.AcquisitionNumber = s.get("acq", 1)
        if kind == "MR":
            ds.MRAcquisitionType = "3D" if mr3d else "2D"
            ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
            ds.EchoTime = s.get("te", 30)
            ds.EchoNumbers = s.get("echo", 1)
            ds.RepetitionTime = common.get("tr", 2000)
        if "time" in s:
            t = s["time"]
            ds.AcquisitionTime = f"{int(t // 3600) + 10:02d}{int(t % 3600 // 60):02d}{t % 60:09.6f}"
        if "slope" in s:
            ds.RescaleSlope = s["slope"]
            ds.RescaleIntercept = s["intercept"]
        if "b" in s:
            ds.DiffusionBValue = s["b"]
            ds.DiffusionGradientOrientation = list(s["gradient"])
        if "manufacturer" in common:
            ds.Manufacturer = common["manufacturer"]
        if "ge" in common:  # GE's private elements, creators and all
            ds.Manufacturer = "GE MEDICAL SYSTEMS"
            for group, creator in ((0x0019, "GEMS_ACQU_01"), (0x0043, "GEMS_PARM_01")):
                ds.add_new(group << 16 | 0x0010, "LO", creator)
            for tag, vr, value in common["ge"] + s.get("ge", []):
                ds.add_new(tag, vr, value)
        if "image_type" in common:
            ds.ImageType = common["image_type"]
        if "thickness" in common:
            ds.SliceThickness = common["thickness"]
        if "tilt" in common:
            ds.GantryDetectorTilt = common["tilt"]
        px = ds.pixel_array.astype(np.int32) + s.get("add", 100 * n)
        if "upsample" in common:
            f = common["upsample"]
            px = np.kron(px, np.ones((f, f), np.int32))
            ds.Rows, ds.Columns = px.shape
            ds.PixelSpacing = [round(float(x) / f, 6) for x in ds.PixelSpacing]
        if common.get("unsigned16"):
            px = (px - px.min()) * 16 + 30000
            ds.PixelRepresentation = 0
            ds.BitsStored = 16
            ds.HighBit = 15
            ds.PixelData = np.clip(px, 0, 65535).astype(np.uint16).tobytes()
        elif common.get("unsigned12"):
            px = np.clip(px - px.min(), 0, 4095)
            ds.PixelRepresentation = 0
            ds.BitsStored = 12
            ds.HighBit = 11
            ds.PixelData = px.astype(np.uint16).tobytes()
        else:
            ds.PixelData = np.clip(px, -32768, 32767).astype(np.int16).tobytes()
        if common.get("implicit"):
            ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
            ds.is_implicit_VR, ds.is_little_endian = True, True
        ds.save_as(os.path.join(folder, f"{name}_{n:03d}.dcm"), write_like_original=False)


def stack(n, origin, iop, step, order=None, **extra):
    """n slices from origin along the normal of iop (row x column) by step
    (a number, or a list of n-1 steps)."""
    row, col = unit(iop[:3]), unit(iop[3:])
    normal = np.cross(row, col)
    steps = [step] * (n - 1) if np.isscalar(step) else list(step)
    pos = [0.0]
    for s in steps:
        pos.append(pos[-1] + s)
    order = order or list(range(1, n + 1))
    return [dict(ipp=np.asarray(origin) + p * normal, iop=iop, instance=order[k], **extra)
            for k, p in enumerate(pos)]


AXIAL = [1, 0, 0, 0, 1, 0]


def make(out, which):
    if "s01" in which:
        sl = stack(12, [-10, -10, 6.6], AXIAL, 4.0, order=list(range(12, 0, -1)))
        write_series(out, "s01", 1, "MR", sl, protocol="ax t1")
    if "s02" in which:
        sl = stack(10, [-20, -10, 30], [0, 1, 0, 0, 0, -1], 1.5)
        write_series(out, "s02", 2, "MR", sl, protocol="sag 3D", mr3d=True)
    if "s03" in which:
        sl = stack(8, [-158.1, -179.0, -75.7], AXIAL, 5.0)
        write_series(out, "s03", 3, "CT", sl, thickness=2.5)
    if "s04" in which:
        sl = stack(7, [-158.1, -179.0, -75.7], AXIAL, [2.5, 2.5, 5.0, 2.5, 7.5, 2.5])
        write_series(out, "s04", 4, "CT", sl, protocol="variable")
    if "s05" in which:
        tilt = math.radians(15)
        iop = [1, 0, 0, 0, math.cos(tilt), math.sin(tilt)]
        sl = [dict(ipp=[-158.1, -179.0, -75.7 + 5.0 * k], iop=iop, instance=k + 1)
              for k in range(8)]
        write_series(out, "s05", 5, "CT", sl, protocol="tilt", tilt=15)
    if "s06" in which:
        sl = []
        for t in range(4):
            for k, s in enumerate(stack(6, [-10, -10, 0], AXIAL, 5.0)):
                s.update(instance=t * 6 + k + 1, time=2.0 * t, add=100 * k + 1000 * t, acq=t + 1)
                sl.append(s)
        write_series(out, "s06", 6, "MR", sl, protocol="bold", tr=2000)
    if "s07" in which:
        a = math.radians(20)
        sl = stack(9, [-20, -25, 10], [1, 0, 0, 0, math.cos(a), math.sin(a)], 3.0)
        write_series(out, "s07", 7, "MR", sl, protocol="oblique")
    if "s08" in which:
        sl = []
        for e, te in ((1, 15), (2, 45)):
            for k, s in enumerate(stack(5, [-10, -10, 0], AXIAL, 4.0)):
                s.update(instance=(e - 1) * 5 + k + 1, echo=e, te=te, add=100 * k + 1000 * e)
                sl.append(s)
        write_series(out, "s08", 8, "MR", sl, protocol="multi echo")
    if "s09" in which:
        sl = stack(6, [-158.1, -179.0, -75.7], AXIAL, 5.0, slope=2.5, intercept=-10)
        write_series(out, "s09", 9, "CT", sl, protocol="scaled")
    if "s10" in which:
        sl = stack(5, [-158.1, -179.0, -75.7], AXIAL, 5.0)
        for k, s in enumerate(sl):
            s.update(slope=1 + 0.5 * k, intercept=-1024)
        write_series(out, "s10", 10, "CT", sl, protocol="slope varies")
    if "s11" in which:
        sl = stack(6, [-10, -10, 0], AXIAL, 3.0)
        write_series(out, "s11", 11, "MR", sl, protocol="u12", unsigned12=True)
    if "s12" in which:
        sl = stack(8, [-30, 20, -30], [1, 0, 0, 0, 0, -1], 2.0)
        write_series(out, "s12", 12, "MR", sl, protocol="cor")
    if "s14" in which:
        sl = stack(5, [-10, -10, 0], AXIAL, 3.0)
        write_series(out, "s14", 14, "MR", sl, protocol="u16", unsigned16=True)
    if "s15" in which:
        sl = stack(7, [-10, -10, 0], AXIAL, 1.0)
        write_series(out, "s15", 15, "MR", sl, protocol="ax 3D", mr3d=True)
    if "s16" in which:
        sl = []
        a = 0.3
        for t, (b, g) in enumerate(((0, (0, 0, 0)), (1000, (1, 0, 0)), (1000, (0, 0.6, 0.8)),
                                    (1000, (0.6, -0.8, 0)))):
            for k, s in enumerate(stack(3, [-10, -10, 0], [1, 0, 0, 0, math.cos(a), math.sin(a)],
                                        4.0)):
                s.update(instance=t * 3 + k + 1, add=100 * k + 1000 * t, acq=t + 1, b=b,
                         gradient=g)
                sl.append(s)
        write_series(out, "s16", 16, "MR", sl, protocol="dwi")
    if "s17" in which:
        sl = []
        interleaved = [0, 3, 1, 4, 2, 5]  # slice k is acquired interleaved[k]-th
        for t in range(3):
            for k, s in enumerate(stack(6, [-10, -10, 0], AXIAL, 4.0)):
                s.update(instance=t * 6 + k + 1, time=2.0 * t + 0.33 * interleaved[k],
                         add=100 * k + 1000 * t, acq=t + 1)
                sl.append(s)
        write_series(out, "s17", 17, "MR", sl, protocol="fmri", tr=2000, manufacturer="SIEMENS")
    if "s18" in which:
        sl = stack(4, [-10, -10, 0], AXIAL, 4.0)
        ge = [(0x0019109C, "LO", "epi"), (0x0043102C, "SS", 576),
              (0x00431083, "DS", ["0.333333", "0.5"]), (0x00431095, "LO", "RUsr")]
        write_series(out, "s18", 18, "MR", sl, protocol="ge epi", ge=ge, implicit=True)
        for f in sorted(os.listdir(os.path.join(out, "s18"))):
            ds = pydicom.dcmread(os.path.join(out, "s18", f))
            ds.AcquisitionMatrix = [0, 64, 48, 0]
            ds.InPlanePhaseEncodingDirection = "COL"
            ds.save_as(os.path.join(out, "s18", f), write_like_original=False)
    if "s19" in which:
        sl = stack(4, [-10, -10, 0], AXIAL, 4.0)
        write_series(out, "s19", 19, "MR", sl, protocol="ge phase", ge=[(0x0043102F, "SS", 1)],
                     image_type=["ORIGINAL", "PRIMARY", "OTHER"])
    if "s20" in which:
        a = 0.3
        sl = []
        for t, (b, g) in enumerate(((0, (0, 0, 0)), (1000, (1, 0, 0)), (1000, (0, 0.6, 0.8)),
                                    (1000, (0.6, -0.8, 0)))):
            for k, s in enumerate(stack(3, [-10, -10, 0], [1, 0, 0, 0, math.cos(a), math.sin(a)],
                                        4.0)):
                s.update(instance=t * 3 + k + 1, add=100 * k + 1000 * t, acq=t + 1, ge=[
                    (0x00431039, "IS", [str(b + 1000000000), "8", "0", "0"]),
                    (0x001910BB, "DS", str(g[0])), (0x001910BC, "DS", str(g[1])),
                    (0x001910BD, "DS", str(g[2]))])
                sl.append(s)
        write_series(out, "s20", 20, "MR", sl, protocol="ge dwi", implicit=True,
                     ge=[(0x001910E0, "DS", "3")])
    if "s13" in which:
        sl = stack(1, [-158.1, -179.0, -75.7], AXIAL, 5.0)
        write_series(out, "s13", 13, "CT", sl, protocol="single")
    if "s21" in which:
        sl = stack(8, [-158.1, -179.0, -75.7], AXIAL, 2.5)
        write_series(out, "s21", 21, "CT", sl, protocol="big", upsample=2,
                     patient=("Volume^CT", "VOL21", STUDY + ".21"))
    if "s22" in which:
        write_multiframe(out, "s22", 22, instances=3, frames=6)


def write_multiframe(out, name, number, instances, frames):
    """Multi-frame Grayscale Word Secondary Capture instances, each frame
    CT_small's pixels shifted by a frame's own amount; the last instance
    RLE Lossless (pydicom's own encoder)."""
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    series_uid = generate_uid(prefix=None, entropy_srcs=[name, "series"])
    for n in range(instances):
        ds = base("CT")
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7.3"
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.Modality = "OT"
        ds.PatientName, ds.PatientID = "Frames^Multi", "VOL22"
        ds.StudyInstanceUID = STUDY + ".22"
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = generate_uid(prefix=None, entropy_srcs=[name, str(n)])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesNumber, ds.InstanceNumber = number, n + 1
        ds.SeriesDescription = f"{name} description"
        px = ds.pixel_array.astype(np.int32)
        stack_ = np.stack([np.clip(px + 37 * f + 500 * n, -32768, 32767) for f in range(frames)])
        ds.NumberOfFrames = frames
        ds.FrameIncrementPointer = 0x00181063  # Frame Time
        ds.FrameTime = 40.0
        ds.PixelData = stack_.astype(np.int16).tobytes()
        if n == instances - 1:
            ds.compress(pydicom.uid.RLELossless)
        ds.save_as(os.path.join(folder, f"{name}_{n:03d}.dcm"), write_like_original=False)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    names = sys.argv[2:] or [f"s{k:02d}" for k in range(1, 21)]
    make(sys.argv[1], set(names))
