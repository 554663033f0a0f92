#!/usr/bin/python3
"""Generate a DICOM archive whose content is known, for dicomfs's mount tests
and demo.

usage: make-archive.py OUTDIR [--preset test|sample|bench] [--instances N]
                       [--seed S] [--jobs J] [--verify | --verify-only]

Writes OUTDIR/source/ (the folder to mount) and OUTDIR/truth.json (what a
correct mount shows).  Run with /usr/bin/python3 (Debian's, with pydicom 2.3
and numpy).  The same seed gives the same bytes: UIDs are '2.25.' + a number
hashed from the seed and the object's place in the tree, dates are fixed.
An existing OUTDIR/source is replaced only if OUTDIR/truth.json is there too;
truth.json reads {"incomplete": true} until the archive is complete.

Presets
  test    (default, 81 files, under a second) the hard cases: patients sharing
          a name, sharing a PatientID under different issuers, without a
          PatientID; names in ISO_IR 100, ISO_IR 192, ISO 2022 IR 87 (and IR 13)
          and ISO_IR 144; missing, empty and odd attributes ('/', '..', leading
          '.', control characters, trailing spaces, 300 bytes); implicit,
          explicit, big endian, deflated, no File Meta, and JPEG lossless, RLE,
          JPEG-LS and JPEG 2000 made by dcmcjpeg, dcmcrle, dcmcjpls and
          gdcmconv; CT/MR 16-bit, US RGB, OT 8-bit, SR without pixels.  And the
          mess: folders 1-8 deep, names with spaces, no extension, Unicode
          (NFC and NFD), leading '.', a DICOMDIR with its own files, non-DICOM
          files, an empty file, two truncated files, a DICM-then-garbage file,
          two SOP Instance UIDs in two files each, a symlink to a folder
          inside the source, a symlink loop and a dangling symlink.
  sample  3 patients, 5 studies, 8 CT/MR series of 12-30 64x64 slices of a
          phantom, readable folder names: the README's demo.
  bench   --instances N (default 100,000) CT files in archive-like shapes
          (patients with 1-3 studies, studies with 2-6 series, series with
          20-300 instances): pydicom's CT_small.dcm header with 8x8 pixels
          (6,446 bytes a file), written by patching one template in place,
          by --jobs processes (default one per CPU) a patient at a time,
          truth.json streamed in patient order (as json.dump writes it).
          The file system sets the pace: a million files in about 90 s
          here (2 cores, ext4), more right after many files were deleted.

--verify checks the result afterwards, --verify-only checks an existing
OUTDIR: every file against truth.json with pydicom, and with dcmdump (UIDs,
PatientID, and PatientName where DCMTK converts the character set); that the
skipped files are unreadable to dcmdump; symlinks, duplicates and that every
regular file is listed once.  About 1.4 ms a file (2.5 minutes for 100,000).

truth.json
  {"preset", "seed",
   "patients": [{"PatientID", "IssuerOfPatientID", "PatientName",
     "studies": [{"StudyInstanceUID", "StudyDate", "StudyDescription",
       "series": [{"SeriesInstanceUID", "SeriesNumber", "Modality",
         "SeriesDescription",
         "instances": [{"SOPInstanceUID", "SOPClassUID", "InstanceNumber",
                        "path", "transfer_syntax", "has_pixels"}]}]}]}],
   "skipped": [{"path", "reason"}],   reason: "not DICOM", "empty",
              "truncated", "DICM then garbage" or "DICOMDIR"
   "duplicates": [SOP Instance UIDs found in more than one file],
   "symlinks": [{"path", "target", "kind": "dir" | "loop" | "dangling",
                 "reaches": [paths of the regular files reached through it]}],
   "symlink_policy": how files reached through symlinks are counted}
  Values are what pydicom reads: text without trailing spaces and NULs,
  PatientName as str(PersonName), SeriesNumber and InstanceNumber as ints,
  null for an element that is absent or empty.  "path" is relative to
  source/, never through a symlink.  Every regular file under source/ is
  exactly one instance or one skipped entry.  Patients are told apart by
  (PatientID, IssuerOfPatientID), or by PatientName when PatientID is null.
"""
import argparse
import collections
import contextlib
import hashlib
import json
import multiprocessing
import os
import random
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time
import unicodedata

import numpy as np
import pydicom
from pydicom import config
from pydicom.dataelem import RawDataElement
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.fileset import FileSet
from pydicom.tag import Tag

config.settings.writing_validation_mode = config.IGNORE
config.settings.reading_validation_mode = config.IGNORE

DATA = os.path.join(os.path.dirname(pydicom.__file__), "data")
CT_SMALL = os.path.join(DATA, "test_files", "CT_small.dcm")
CHARSET_FILES = os.path.join(DATA, "charset_files")

IMPLICIT, EXPLICIT, BIG = "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"
SYNTAXES = {  # the codes used in the tables below
    "ile": IMPLICIT, "ele": EXPLICIT, "ebe": BIG,
    "dfl": "1.2.840.10008.1.2.1.99",  # deflated explicit VR little endian
    "raw": IMPLICIT,                  # a bare data set: no preamble, no File Meta
    "jpg": "1.2.840.10008.1.2.4.70",  # JPEG lossless, first-order prediction
    "rle": "1.2.840.10008.1.2.5",
    "jls": "1.2.840.10008.1.2.4.80",  # JPEG-LS lossless
    "j2k": "1.2.840.10008.1.2.4.90",  # JPEG 2000 lossless
}
TRANSCODERS = {
    "jpg": ["dcmcjpeg", "+e1", "+un"],
    "rle": ["dcmcrle", "+un"],
    "jls": ["dcmcjpls", "+el", "+un"],
    "j2k": ["gdcmconv", "--j2k"],
}
SC = "1.2.840.10008.5.1.4.1.1.7"
SOP_CLASSES = {"CT": "1.2.840.10008.5.1.4.1.1.2", "MR": "1.2.840.10008.5.1.4.1.1.4",
               "US": "1.2.840.10008.5.1.4.1.1.6.1", "SR": "1.2.840.10008.5.1.4.1.1.88.11"}
PIXELS = {"CT": "mono16", "MR": "mono16", "US": "rgb8", "SR": None}  # else mono8
DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
CD = "cd"  # the folder written as a DICOM File-set, with a DICOMDIR
SYMLINK_POLICY = (
    "Symlinks to folders inside the source are followed, but a file or folder "
    "whose (st_dev, st_ino) was already seen is not indexed again, so each "
    "file counts once (under its real path or under a path through a symlink, "
    "whichever the walk meets first) and a loop ends.  Dangling links are "
    "ignored.")

# ---------------------------------------------------------------- test preset
LONG = ("A description of 300 bytes, far past the 64 characters of LO. " * 5)[:299] + "."

TEST_PATIENTS = [
    # key, PatientID, IssuerOfPatientID, PatientName ('@file': raw bytes and
    # charset of pydicom's charset file), SpecificCharacterSet
    ("doe", "PID-0001", None, "Doe^Jane", None),
    ("smith1", "PID-0002", None, "Smith^John", None),
    ("smith2", "PID-0003", None, "Smith^John", None),
    ("garcia", "12345", "HOSPITAL_A", "Garcia^Maria", None),
    ("nguyen", "12345", "HOSPITAL_B", "Nguyen^An", None),
    ("noid", None, None, "Anonymous^NoID", None),
    ("muller", "PID-DE-100", None, "Müller^Jürgen", "ISO_IR 100"),
    ("yamada8", "PID-JP-192", None, "Yamada^Tarou=山田^太郎=やまだ^たろう", "ISO_IR 192"),
    ("wang", "PID-CN-192", None, "Wang^XiaoDong=王^小東", "ISO_IR 192"),
    ("yamada87", "PID-JP-87", None, "@chrH31.dcm", None),
    ("yamada13", "PID-JP-13", None, "@chrH32.dcm", None),
    ("ivanov", "PID-RU-144", None, "Иванов^Пётр", "ISO_IR 144"),
    ("edge", "PID-EDGE", None, "Edge^Cases", None),
]
TEST_STUDIES = [
    # patient, study, StudyDate, StudyDescription (None: absent, "": empty)
    ("doe", "chest", "20210314", "CT Chest/Abdomen"),
    ("doe", "knee", "20220101", None),
    ("smith1", "knee", "20200505", "MR Knee"),
    ("smith2", "head", "20190909", "CT Head"),
    ("smith2", "fu", "20200909", "CT Head follow-up"),
    ("garcia", "abd", "20180102", "US Abdomen"),
    ("nguyen", "sinus", "20180102", "CT Sinus"),
    ("noid", "a", "20170707", "Unknown patient 1"),
    ("noid", "b", "20170808", "Unknown patient 2"),
    ("muller", "kopf", "20160606", "Schädel/Hals"),
    ("yamada8", "head", "20150505", "頭部 CT"),
    ("wang", "chest", "20150506", "胸部 CT"),
    ("yamada87", "mr", "20140404", "MR Brain"),
    ("yamada13", "ct", "20140405", "CT"),
    ("ivanov", "chest", "20130303", "Грудная клетка"),
    ("edge", "bare", None, None),
    ("edge", "long", "", LONG),
    ("edge", "odd", "20120202", ".hidden study"),
]
NFD_MULLER = unicodedata.normalize("NFD", "Müller Jürgen")
TEST_SERIES = [
    # patient, study, series, Modality, SeriesNumber, SeriesDescription,
    # folder, file name ({i}: position from 1, {uid}: SOP Instance UID),
    # instances: "InstanceNumber syntax" ('-': no InstanceNumber)
    ("doe", "chest", "ax", "CT", 1, "Axial 5mm", "patients/Doe^Jane/2021-03-14/CT 1",
     "IM{i:04d}.dcm", "1 ile,2 ele,3 ebe,4 dfl,5 jpg,6 j2k"),
    ("doe", "chest", "cor", "CT", 2, "Coronal/MPR", "patients/Doe^Jane/2021-03-14/CT 2",
     "{i}", "1 rle,2 jls,3 j2k,4 ele"),
    ("doe", "chest", "sr", "SR", 99, "Report", "patients/Doe^Jane/2021-03-14",
     "report {i}.dcm", "1 ile"),
    ("doe", "knee", "t1", "MR", 3, "T1 SE", "incoming/batch 7",
     "mr t1 {i}.dcm", "1 ele,2 ele,2 ile,3 dfl,4 ebe,5 jls"),
    ("smith1", "knee", "pd", "MR", 1, "PD FS sag", "export/SMITH_J/MR",
     "{uid}.dcm", "1 ele,2 ile,3 jls,4 rle,5 ele"),
    ("smith2", "head", "ax", "CT", 2, "Head routine",
     "archive/2019/09/09/head/ct/routine/series_2/images", "CT.{i}.dcm", "1 raw,2 ile,- ele,4 jpg"),
    ("smith2", "fu", "ax", "CT", 2, "Head routine",
     "archive/2020/09/09/head/ct/routine/series_2/images", "CT.{i}.dcm", "1 ile,2 ile,3 ebe"),
    ("garcia", "abd", "us", "US", 1, "Liver", "garcia", "US{i:03d}.dcm",
     "1 ele,2 jpg,3 rle,4 ebe,5 jls"),
    ("nguyen", "sinus", "ax", "CT", 1, "Sinus axial", CD, None, "1 ele,2 ile,3 ele"),
    ("nguyen", "sinus", "cor", "CT", 2, "Sinus coronal", CD, None, "1 ele,2 ele"),
    ("noid", "a", "x", "CT", 1, "Localizer", "unknown/a", "image{i}.DCM", "1 ile,2 ile,3 ebe"),
    ("noid", "b", "x", "MR", 1, "Localizer", "unknown/b/deeper/still", "image{i}.DCM", "1 ele,2 ele"),
    ("muller", "kopf", "ct", "CT", 1, "Übersicht", NFD_MULLER + "/Schädel", "Bild {i}.dcm",
     "1 ile,2 ebe,3 dfl"),
    ("muller", "kopf", "sr", "SR", 2, "Befund", NFD_MULLER, "Befund.dcm", "1 ele"),
    ("yamada8", "head", "ct", "CT", 1, "単純", "Ünïcødé/画像", "画像 {i}.dcm", "1 ele,2 dfl,3 j2k"),
    ("wang", "chest", "ct", "CT", 1, "平扫", "Ünïcødé/胸部", "{i}.dcm", "1 ele,2 ile"),
    ("yamada87", "mr", "t2", "MR", 1, "T2 axial", "jp/iso2022", "IM_{i}", "1 ile,2 ele,3 rle"),
    ("yamada13", "ct", "ct", "CT", 1, "plain", "jp/iso2022-13", "IM_{i}", "1 ele,2 ebe"),
    ("ivanov", "chest", "ct", "CT", 1, "Аксиальная", "ru/Иванов", "снимок_{i}.dcm",
     "1 ele,2 ebe,3 rle"),
    ("ivanov", "chest", "sr", "SR", 2, "Заключение", "ru/Иванов", "sr.dcm", "1 ile"),
    ("edge", "bare", "a", "CT", None, None, "edge", "a{i}.dcm", "1 ele,2 ele"),
    ("edge", "bare", "b", "", 7, "..", "edge", ".b{i}.dcm", "1 ele"),
    ("edge", "long", "c", "MR", 8, LONG.replace("A desc", "Series desc")[:300], "edge/long", "c{i}.dcm", "1 ile"),
    ("edge", "long", "d", "OT", 9, "tab\there\nnewline\x01ctl\x7f", "edge/long", "d{i}.dcm", "1 ele"),
    ("edge", "odd", "e", "US", 10, "trailing spaces   ", "edge/odd", "e {i}.dcm", "1 ele"),
    ("edge", "odd", "f", "CT", 11, "/", "edge/odd", "f{i}.dcm", "1 ele,2 dfl"),
]
TEST_BIG = {("doe", "chest", "ax")}  # 64x64; the others 16x16
TEST_DUPLICATES = [
    # series, position of the original (from 0), syntax, path of the second file
    (("doe", "chest", "ax"), 0, "ile", "incoming/IM0001 (copy).dcm"),  # same bytes
    (("smith1", "knee", "pd"), 1, "ebe", "export/old/duplicate.dcm"),   # other syntax
]
TEST_SYMLINKS = [  # path, target
    ("link to batch 7", "incoming/batch 7"),
    ("patients/Doe^Jane/loop", ".."),
    ("incoming/dangling.dcm", "nowhere.dcm"),
]
TEST_TRUNCATED_FROM = "patients/Doe^Jane/2021-03-14/CT 1/IM0002.dcm"  # an ele file


# ---------------------------------------------------------------- helpers
def make_uid(seed, *names):
    """'2.25.' + a 39-digit number below 2**128 hashed from seed and names:
    always 44 characters (even), so bench files can be patched in place."""
    digest = hashlib.sha256(repr((seed,) + names).encode()).digest()
    return "2.25.%d" % (10**38 + int.from_bytes(digest[:16], "big") % (2**128 - 10**38))


def tv(value):
    """The truth for a written value, as pydicom reads it back."""
    if isinstance(value, str):
        value = value.rstrip(" \0")
    return None if value in (None, "") else value


def public(node):
    """A truth tree without the generator's own '_' keys."""
    if isinstance(node, list):
        return [public(x) for x in node]
    if isinstance(node, dict):
        return {k: public(v) for k, v in node.items() if not k.startswith("_")}
    return node


def walk_instances(truth):
    for p in truth["patients"]:
        for st in p["studies"]:
            for se in st["series"]:
                for inst in se["instances"]:
                    yield (p, st, se), inst


def charset_file_name(name):
    """Raw PatientName bytes, Specific Character Set and decoded name of one
    of pydicom's charset test files."""
    src = pydicom.dcmread(os.path.join(CHARSET_FILES, name))
    raw = src.get_item("PatientName").value
    raw += b" " * (len(raw) % 2)
    charset = src.SpecificCharacterSet
    charset = list(charset) if isinstance(charset, pydicom.multival.MultiValue) else charset
    return raw, charset, str(src.PatientName)


# ---------------------------------------------------------------- the tree
def new_truth(preset, seed):
    return {"preset": preset, "seed": seed, "patients": [], "skipped": [],
            "duplicates": [], "symlinks": [], "symlink_policy": SYMLINK_POLICY}


def new_patient(pid, issuer, name, charset):
    written = {"SpecificCharacterSet": charset, "PatientID": pid,
               "IssuerOfPatientID": issuer, "PatientName": name}
    shown = name
    if name.startswith("@"):
        raw, charset, shown = charset_file_name(name[1:])
        written.update(PatientName=raw, SpecificCharacterSet=charset)
    return {"PatientID": tv(pid), "IssuerOfPatientID": tv(issuer),
            "PatientName": tv(shown), "studies": [], "_v": written}


def new_study(uid, date, desc):
    written = {"StudyInstanceUID": uid, "StudyDate": date, "StudyDescription": desc,
               "StudyTime": "101500", "StudyID": "1", "AccessionNumber": ""}
    return {"StudyInstanceUID": uid, "StudyDate": tv(date),
            "StudyDescription": tv(desc), "series": [], "_v": written}


def new_series(uid, modality, number, desc, size=16):
    written = {"SeriesInstanceUID": uid, "Modality": modality,
               "SeriesNumber": number, "SeriesDescription": desc}
    kind = PIXELS.get(modality, "mono8")
    return {"SeriesInstanceUID": uid, "SeriesNumber": tv(number), "Modality": tv(modality),
            "SeriesDescription": tv(desc), "instances": [], "_v": written,
            "_kind": kind, "_size": size}


def new_instance(se, uid, number, path, code, k):
    sop_class = SOP_CLASSES.get(se["_v"]["Modality"], SC)
    inst = {"SOPInstanceUID": uid, "SOPClassUID": sop_class, "InstanceNumber": tv(number),
            "path": path, "transfer_syntax": SYNTAXES[code],
            "has_pixels": se["_kind"] is not None,
            "_v": {"SOPClassUID": sop_class, "SOPInstanceUID": uid, "InstanceNumber": number},
            "_code": code, "_k": k}
    se["instances"].append(inst)
    return inst


def tree_from_tables(truth, seed):
    """The test preset's patients, studies and series; returns the series by key."""
    patients, studies, series = {}, {}, {}
    for key, pid, issuer, name, charset in TEST_PATIENTS:
        patients[key] = new_patient(pid, issuer, name, charset)
        truth["patients"].append(patients[key])
    for pkey, skey, date, desc in TEST_STUDIES:
        studies[pkey, skey] = new_study(make_uid(seed, "study", pkey, skey), date, desc)
        patients[pkey]["studies"].append(studies[pkey, skey])
    for row in TEST_SERIES:
        key, se = row[:3], test_series(seed, row)
        studies[key[:2]]["series"].append(se)
        series[key] = se
    return series


def test_series(seed, row):
    pkey, skey, sekey, modality, number, desc, folder, pattern, instances = row
    size = 64 if (pkey, skey, sekey) in TEST_BIG else 16
    se = new_series(make_uid(seed, "series", pkey, skey, sekey), modality, number, desc, size)
    for i, token in enumerate(instances.split(","), 1):
        num, code = token.split()
        uid = make_uid(seed, "instance", pkey, skey, sekey, i)
        path = None if folder == CD else folder + "/" + pattern.format(i=i, uid=uid)
        new_instance(se, uid, None if num == "-" else int(num), path, code, i)
    return se


def add_duplicates(series, table):
    for key, pos, code, path in table:
        se = series[key]
        orig = se["instances"][pos]
        new_instance(se, orig["SOPInstanceUID"], orig["InstanceNumber"], path, code, orig["_k"])


def find_duplicates(truth):
    count = collections.Counter(i["SOPInstanceUID"] for _, i in walk_instances(truth))
    return sorted(uid for uid, n in count.items() if n > 1)


# ---------------------------------------------------------------- pixels
def gradient(size):
    y, x = np.mgrid[0:size, 0:size]
    return x, y


def mono16(size, k):
    x, y = gradient(size)
    return ((x + y) * (4095 // (2 * size - 2)) + 16 * k) % 4096


def mono8(size, k):
    x, y = gradient(size)
    return ((x + y) * (255 // (2 * size - 2)) + 8 * k) % 256


def rgb8(size, k):
    x, y = gradient(size)
    step = 255 // (size - 1)
    return np.stack([x * step, y * step, np.full_like(x, 40 * k % 256)], axis=-1)


def phantom(size, z, slices, organ):
    """A body-shaped ellipse with a sphere inside whose radius follows the
    slice: stored values with air 0, body 1064, the sphere 1064 + organ."""
    y, x = (np.mgrid[0:size, 0:size] - (size - 1) / 2) / (size / 2)
    body = (x / 0.9) ** 2 + (y / 0.7) ** 2 <= 1
    r2 = 0.12 * max(0.0, 1 - (2 * z / max(slices - 1, 1) - 1) ** 2)
    sphere = x ** 2 + (y + 0.1) ** 2 <= r2
    return body * 1064 + sphere * organ + ((x + y) * 20 * body).astype(int)


def set_image(ds, arr, bits):
    """Pixel Data and the Image Pixel module for a 2-D (mono) or 3-D (RGB) array."""
    rgb = arr.ndim == 3
    ds.Rows, ds.Columns = arr.shape[:2]
    ds.SamplesPerPixel = 3 if rgb else 1
    ds.PhotometricInterpretation = "RGB" if rgb else "MONOCHROME2"
    if rgb:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = 16 if bits > 8 else 8
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits - 1, 0
    ds.PixelData = arr.astype("<u2" if bits > 8 else "u1").tobytes()


def add_content(ds, kind, size, k):
    if kind == "mono16":
        set_image(ds, mono16(size, k), 12)
    elif kind == "mono8":
        set_image(ds, mono8(size, k), 8)
    elif kind == "rgb8":
        set_image(ds, rgb8(size, k), 8)
    elif kind is None:
        add_sr_content(ds)


def code_item(value, scheme, meaning):
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def add_sr_content(ds):
    """A Basic Text SR: one container with one TEXT item."""
    ds.ValueType, ds.ContinuityOfContent = "CONTAINER", "SEPARATE"
    ds.CompletionFlag, ds.VerificationFlag = "COMPLETE", "UNVERIFIED"
    ds.ConceptNameCodeSequence = [code_item("18748-4", "LN", "Diagnostic imaging report")]
    text = Dataset()
    text.RelationshipType, text.ValueType = "CONTAINS", "TEXT"
    text.ConceptNameCodeSequence = [code_item("121071", "DCM", "Finding")]
    text.TextValue = "No abnormality detected."
    ds.ContentSequence = [text]


# ---------------------------------------------------------------- writing
def set_value(ds, keyword, value):
    if value is None:
        return
    if isinstance(value, bytes):  # raw bytes, written as they are
        tag = Tag(keyword)
        ds[tag] = RawDataElement(tag, dictionary_VR(tag), len(value), value, 0, False, True)
    else:
        setattr(ds, keyword, value)


def build_dataset(levels, inst):
    ds = Dataset()
    for level in levels + (inst,):
        for keyword, value in level["_v"].items():
            set_value(ds, keyword, value)
    ds.PatientBirthDate, ds.PatientSex = "19700101", "O"
    ds.Manufacturer, ds.InstitutionName = "dicomfs", "make-archive.py"
    se = levels[2]
    add_content(ds, se["_kind"], se["_size"], inst["_k"])
    for keyword, value in inst.get("_extra", {}).items():
        setattr(ds, keyword, value)
    return ds


def save(ds, path, code):
    """Write ds natively in one of ile, ele, ebe, dfl, raw."""
    ds.is_little_endian = code != "ebe"
    ds.is_implicit_VR = code in ("ile", "raw")
    if code == "ebe" and ds.get("BitsAllocated") == 16:
        ds.PixelData = np.frombuffer(ds.PixelData, "<u2").astype(">u2").tobytes()
    if code == "raw":
        ds.preamble = None
        ds.save_as(path, write_like_original=True)
        return
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    meta.TransferSyntaxUID = SYNTAXES[code]
    ds.file_meta = meta
    ds.save_as(path, write_like_original=False)


def write_instance(ds, path, code, tmp):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if code not in TRANSCODERS:
        save(ds, path, code)
        return
    native = os.path.join(tmp, "native.dcm")
    save(ds, native, "ele")
    subprocess.run(TRANSCODERS[code] + [native, path], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def write_instances(source, truth, tmp):
    """Write every instance; those of the CD folder go to tmp/cd first and
    are returned, for write_dicomdir."""
    staged = []
    for levels, inst in walk_instances(truth):
        ds = build_dataset(levels, inst)
        if inst["path"] is None:
            path = os.path.join(tmp, CD, "%03d.dcm" % len(staged))
            staged.append((inst, path))
        else:
            path = os.path.join(source, inst["path"])
        write_instance(ds, path, inst["_code"], tmp)
    return staged


def write_dicomdir(source, truth, staged, seed):
    """Write the staged instances as a File-set (PT000000/ST000000/... and a
    DICOMDIR) under source/cd, and fill in their paths."""
    fs = FileSet()
    fs.UID, fs.ID = make_uid(seed, "fileset"), "DICOMFS_CD"
    by_uid = {}
    for inst, path in staged:
        fs.add(path)
        by_uid[inst["SOPInstanceUID"]] = inst
    fs.write(os.path.join(source, CD))
    for fi in fs:
        by_uid[fi.SOPInstanceUID]["path"] = os.path.relpath(fi.path, source)
    truth["skipped"].append({"path": CD + "/DICOMDIR", "reason": "DICOMDIR"})


def junk_files(source, rng):
    """The non-DICOM and broken files: (path, reason, bytes)."""
    whole = open(os.path.join(source, TEST_TRUNCATED_FROM), "rb").read()
    # Cut inside the first element after the File Meta Information (its
    # group length is the value at byte 140): nothing of the data set can be
    # read, so it is not shown (a file cut further on is shown with what
    # comes before the cut: tests/mount/test_damaged.py).
    meta_end = 144 + int.from_bytes(whole[140:144], "little")
    in_data_set = meta_end + 8 + 10
    assert whole[meta_end + 6] >= 12 and in_data_set > 200, "no long first element in " + TEST_TRUNCATED_FROM
    noise = rng.randbytes
    return [
        ("README.txt", "not DICOM", b"Images exported from the PACS, see the\nfolders below.\n"),
        ("patients/.DS_Store", "not DICOM", b"\x00\x00\x00\x01Bud1" + noise(500)),
        ("export/thumbs/preview.jpg", "not DICOM",
         b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + noise(700) + b"\xff\xd9"),
        ("export/IMG0042", "not DICOM",
         b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x00" + noise(300)),
        ("incoming/empty.dcm", "empty", b""),
        ("incoming/batch 7/truncated.dcm", "truncated", whole[:200]),
        ("export/SMITH_J/truncated-in-data-set.dcm", "truncated", whole[:in_data_set]),
        ("patients/Doe^Jane/2021-03-14/DICM-garbage.dcm", "DICM then garbage",
         b"\x00" * 128 + b"DICM" + noise(1000)),
    ]


def write_junk(source, truth, seed):
    for path, reason, data in junk_files(source, random.Random(seed)):
        full = os.path.join(source, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
        truth["skipped"].append({"path": path, "reason": reason})


def regular_files(top):
    """Paths (relative to top) of the regular files under top, no symlink followed."""
    found = []
    for folder, _, names in os.walk(top):
        for name in names:
            full = os.path.join(folder, name)
            if stat.S_ISREG(os.lstat(full).st_mode):
                found.append(os.path.relpath(full, top))
    return sorted(found)


def symlink_entry(source, path, target):
    link = os.path.join(source, path)
    real = os.path.realpath(link)
    here = os.path.realpath(os.path.dirname(link))
    if not os.path.exists(real):
        kind = "dangling"
    elif here == real or here.startswith(real + os.sep):
        kind = "loop"
    else:
        kind = "dir"
    reaches = [] if kind == "dangling" else [
        os.path.relpath(os.path.join(real, f), source) for f in regular_files(real)]
    return {"path": path, "target": target, "kind": kind, "reaches": reaches}


def make_symlinks(source, truth, table):
    for path, target in table:
        os.symlink(target, os.path.join(source, path))
    for path, target in table:
        truth["symlinks"].append(symlink_entry(source, path, target))


def make_test(source, seed, tmp):
    truth = new_truth("test", seed)
    series = tree_from_tables(truth, seed)
    add_duplicates(series, TEST_DUPLICATES)
    staged = write_instances(source, truth, tmp)
    write_dicomdir(source, truth, staged, seed)
    write_junk(source, truth, seed)
    make_symlinks(source, truth, TEST_SYMLINKS)
    truth["duplicates"] = find_duplicates(truth)
    return truth


# ---------------------------------------------------------------- sample preset
SAMPLE = [
    # PatientID, PatientName, charset, [(StudyDate, StudyDescription,
    #   [(Modality, SeriesNumber, SeriesDescription, slices, syntax)])]
    ("SAMPLE-001", "Doe^Jane", None, [
        ("20230412", "CT Chest with contrast", [
            ("CT", 2, "Axial 5mm", 24, "ele"), ("CT", 3, "Coronal MPR", 16, "ele")]),
        ("20240202", "CT Abdomen", [("CT", 2, "Portal venous", 30, "ele")])]),
    ("SAMPLE-002", "Smith^John", None, [
        ("20230105", "MR Brain", [
            ("MR", 1, "T1 axial", 20, "ele"), ("MR", 2, "T2 FLAIR", 20, "ile")]),
        ("20231120", "CT Head", [("CT", 1, "Axial 2.5mm", 30, "ele")])]),
    ("SAMPLE-003", "Müller^Jürgen", "ISO_IR 100", [
        ("20220815", "MR Knee left", [
            ("MR", 1, "PD sagittal", 18, "ele"), ("MR", 2, "T1 coronal", 12, "ele")])]),
]


def sample_geometry(modality, z):
    thickness = 5.0 if modality == "CT" else 4.0
    extra = {"ImagePositionPatient": ["-160.00", "-160.00", "%.2f" % (z * thickness)],
             "ImageOrientationPatient": ["1", "0", "0", "0", "1", "0"],
             "PixelSpacing": ["5.00", "5.00"], "SliceThickness": "%.2f" % thickness,
             "SliceLocation": "%.2f" % (z * thickness)}
    if modality == "CT":
        extra.update(RescaleIntercept="-1024", RescaleSlope="1",
                     WindowCenter="40", WindowWidth="400")
    return extra


def sample_series(seed, st, folder, row):
    modality, number, desc, slices, code = row
    se = new_series(make_uid(seed, "series", st["StudyInstanceUID"], number),
                    modality, number, desc, 64)
    se["_kind"] = "phantom"  # drawn by make_sample, not add_content
    folder = "%s/%03d %s" % (folder, number, desc)
    for z in range(slices):
        uid = make_uid(seed, "instance", se["SeriesInstanceUID"], z)
        inst = new_instance(se, uid, z + 1, "%s/IM%04d.dcm" % (folder, z + 1), code, z)
        inst["_extra"] = sample_geometry(modality, z)
        inst["_slices"] = slices
    return se


def sample_tree(truth, seed):
    for pid, name, charset, studies in SAMPLE:
        p = new_patient(pid, None, name, charset)
        truth["patients"].append(p)
        for date, desc, series in studies:
            st = new_study(make_uid(seed, "study", pid, date), date, desc)
            p["studies"].append(st)
            folder = "%s/%s-%s-%s %s" % (name.replace("^", " "), date[:4], date[4:6], date[6:], desc)
            st["series"] = [sample_series(seed, st, folder, row) for row in series]


def make_sample(source, seed, tmp):
    truth = new_truth("sample", seed)
    sample_tree(truth, seed)
    for levels, inst in walk_instances(truth):
        ds = build_dataset(levels, inst)
        organ = 300 if levels[2]["Modality"] == "CT" else 400 + 300 * levels[2]["SeriesNumber"]
        set_image(ds, phantom(64, inst["_k"], inst["_slices"], organ), 12)
        write_instance(ds, os.path.join(source, inst["path"]), inst["_code"], tmp)
    return truth


# ---------------------------------------------------------------- bench preset
BENCH_FIELDS = {  # keyword: placeholder; every value has a fixed length
    "SOPInstanceUID": "2.25." + "1" * 39, "SeriesInstanceUID": "2.25." + "2" * 39,
    "StudyInstanceUID": "2.25." + "3" * 39, "FrameOfReferenceUID": "2.25." + "4" * 39,
    "PatientName": "BENCH^P0000000", "PatientID": "BP00000000", "StudyDate": "19000101",
    "StudyDescription": "STUDY 000000", "SeriesDescription": "SERIES 0000000",
    "SeriesNumber": "00", "InstanceNumber": "0000",
}


def bench_template():
    """CT_small.dcm with 8x8 pixels and placeholders; returns (bytes, offsets)."""
    ds = pydicom.dcmread(CT_SMALL)
    del ds[0xFFFCFFFC]  # Data Set Trailing Padding
    ds.Rows = ds.Columns = 8
    ds.PixelData = (np.arange(64, dtype="<i2") * 16).tobytes()
    for keyword, value in BENCH_FIELDS.items():
        setattr(ds, keyword, value)
    ds.file_meta.MediaStorageSOPInstanceUID = BENCH_FIELDS["SOPInstanceUID"]
    buf = DicomBytesIO()
    pydicom.dcmwrite(buf, ds, write_like_original=False)
    data = buf.getvalue()
    offsets = {kw: [value_offset(data, kw)] for kw in BENCH_FIELDS}
    offsets["SOPInstanceUID"].append(value_offset(data, "MediaStorageSOPInstanceUID"))
    return data, offsets


def value_offset(data, keyword):
    """Where the value of a top-level explicit VR little endian element starts."""
    tag, value = Tag(keyword), BENCH_FIELDS.get(keyword, BENCH_FIELDS["SOPInstanceUID"])
    header = struct.pack("<HH2sH", tag.group, tag.element, dictionary_VR(tag).encode(), len(value))
    found = [m.start() + 8 for m in re.finditer(re.escape(header + value.encode()), data)]
    assert len(found) == 1, (keyword, found)
    return found[0]


def patch(buf, offsets, keyword, value):
    value = value.encode() if isinstance(value, str) else value
    for at in offsets[keyword]:
        buf[at:at + len(value)] = value


def bench_shapes(n, rng):
    """(patient, study, series, count) for n instances in all."""
    shapes, left, p = [], n, 0
    while left > 0:
        p += 1
        for s in range(1, rng.randint(1, 3) + 1):
            for se in range(1, rng.randint(2, 6) + 1):
                count = rng.randint(20, 300)
                count = left if left - count < 20 else count  # no tiny last series
                if count > 0:
                    shapes.append((p, s, se, count))
                left -= count
    return shapes


def bench_tasks(n, seed):
    """The bench archive's patients in order: [(p, [(study, series, count), ...])]."""
    tasks = []
    for p, s, se, count in bench_shapes(n, random.Random(seed)):
        if not tasks or tasks[-1][0] != p:
            tasks.append((p, []))
        tasks[-1][1].append((s, se, count))
    return tasks


def json_object(depth, items):
    """What json.dump(indent=1) writes for a dict at nesting depth `depth`
    (its braces indented by depth spaces) whose values are JSON text."""
    pad = " " * depth
    return "%s{\n%s\n%s}" % (pad, ",\n".join('%s "%s": %s' % (pad, k, v) for k, v in items), pad)


def json_items(depth, texts):
    """A non-empty list of JSON texts as json.dump(indent=1) writes it after
    a key at nesting depth `depth`."""
    return "[\n%s\n%s]" % (",\n".join(texts), " " * (depth + 1))


# The truth.json text of one bench instance (at depth 8): SOPInstanceUID,
# InstanceNumber and path to fill in.
BENCH_INSTANCE_JSON = json_object(8, (
    ("SOPInstanceUID", '"%s"'), ("SOPClassUID", json.dumps(SOP_CLASSES["CT"])),
    ("InstanceNumber", "%d"), ("path", '"%s"'), ("transfer_syntax", json.dumps(EXPLICIT)),
    ("has_pixels", "true")))
BENCH = {}  # seed, source, template and offsets: set before the writers fork


def bench_patient(task):
    """Write one patient's files; returns (its truth.json text at depth 2, files).

    The truth is what new_patient, new_study, new_series and new_instance
    make of these values, written as json.dump(indent=1) writes it (the
    bench values are plain ASCII, nothing to escape)."""
    p, shapes = task
    seed, source, offsets = BENCH["seed"], BENCH["source"], BENCH["offsets"]
    buf = bytearray(BENCH["template"])
    pat, name = "BP%08d" % p, "BENCH^P%07d" % p
    patch(buf, offsets, "PatientID", pat)
    patch(buf, offsets, "PatientName", name)
    sop_at, number_at = offsets["SOPInstanceUID"], offsets["InstanceNumber"][0]
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
    studies, files = [], 0  # studies: [(s, its fields, [series texts])]
    for s, se_num, count in shapes:
        if not studies or studies[-1][0] != s:
            uid = make_uid(seed, "study", p, s)
            date = "%04d%02d%02d" % (2000 + p % 24, 1 + p % 12, 1 + s)
            desc = "STUDY %06d" % s
            for keyword, value in (("StudyInstanceUID", uid), ("StudyDate", date),
                                   ("StudyDescription", desc),
                                   ("FrameOfReferenceUID", make_uid(seed, "frame", p, s))):
                patch(buf, offsets, keyword, value)
            fields = (("StudyInstanceUID", json.dumps(uid)), ("StudyDate", json.dumps(date)),
                      ("StudyDescription", json.dumps(desc)))
            studies.append((s, fields, []))
        se_uid, se_desc = make_uid(seed, "series", p, s, se_num), "SERIES %07d" % se_num
        patch(buf, offsets, "SeriesInstanceUID", se_uid)
        patch(buf, offsets, "SeriesNumber", "%-2d" % se_num)
        patch(buf, offsets, "SeriesDescription", se_desc)
        folder = "%s/ST%d/SE%d" % (pat, s, se_num)
        os.makedirs(os.path.join(source, folder))
        instances = []
        dir_fd = os.open(os.path.join(source, folder), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for i in range(1, count + 1):
                uid = make_uid(seed, "instance", p, s, se_num, i)
                raw = uid.encode()
                for at in sop_at:
                    buf[at:at + len(raw)] = raw
                buf[number_at:number_at + 4] = b"%-4d" % i
                fd = os.open("IM%04d.dcm" % i, flags, 0o666, dir_fd=dir_fd)
                try:
                    if os.write(fd, buf) != len(buf):
                        raise OSError("%s/IM%04d.dcm: short write" % (folder, i))
                finally:
                    os.close(fd)
                instances.append(BENCH_INSTANCE_JSON % (uid, i, "%s/IM%04d.dcm" % (folder, i)))
        finally:
            os.close(dir_fd)
        files += count
        studies[-1][2].append(json_object(6, (
            ("SeriesInstanceUID", json.dumps(se_uid)), ("SeriesNumber", "%d" % se_num),
            ("Modality", '"CT"'), ("SeriesDescription", json.dumps(se_desc)),
            ("instances", json_items(6, instances)))))
    text = json_object(2, (
        ("PatientID", json.dumps(pat)), ("IssuerOfPatientID", "null"),
        ("PatientName", json.dumps(name)),
        ("studies", json_items(2, [json_object(4, fields + (("series", json_items(4, series)),))
                                   for _, fields, series in studies]))))
    return text, files


def make_bench(out, source, seed, n, jobs):
    """Write the bench archive with `jobs` processes, each a patient at a
    time, and its truth.json (streamed, in patient order); returns the
    number of files."""
    template, offsets = bench_template()
    BENCH.update(seed=seed, source=source, template=template, offsets=offsets)
    tasks = bench_tasks(n, seed)
    skeleton = public(new_truth("bench", seed))
    skeleton["patients"] = ["@PATIENTS@"]
    head, tail = json.dumps(skeleton, ensure_ascii=False, indent=1).split('  "@PATIENTS@"')
    part = os.path.join(out, "truth.json.part")
    files, t0, shown = 0, time.time(), time.time()
    with open(part, "w", encoding="utf-8") as f, \
            multiprocessing.get_context("fork").Pool(jobs) if jobs > 1 else contextlib.nullcontext() as pool:
        f.write(head)
        results = pool.imap(bench_patient, tasks) if pool else map(bench_patient, tasks)
        for k, (text, count) in enumerate(results):
            f.write(",\n" if k else "")
            f.write(text)
            files += count
            if sys.stderr.isatty() and time.time() - shown >= 2:
                shown = time.time()
                sys.stderr.write("\rbench: %d of %d files, %.0f files/s " % (files, n, files / (shown - t0)))
        f.write(tail + "\n")
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
    os.replace(part, os.path.join(out, "truth.json"))
    return files


# ---------------------------------------------------------------- verification
def read_value(ds, keyword):
    if keyword == "PatientName":
        return tv(str(ds.PatientName)) if "PatientName" in ds else None
    value = tv(ds.get(keyword))
    if keyword in ("SeriesNumber", "InstanceNumber") and value is not None:
        return int(value)
    return value


def read_syntax(ds):
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        return meta.TransferSyntaxUID
    return {(True, True): IMPLICIT, (False, True): EXPLICIT, (False, False): BIG}[
        (ds.is_implicit_VR, ds.is_little_endian)]


EXPECTED = (("PatientID", 0), ("IssuerOfPatientID", 0), ("PatientName", 0),
            ("StudyInstanceUID", 1), ("StudyDate", 1), ("StudyDescription", 1),
            ("SeriesInstanceUID", 2), ("SeriesNumber", 2), ("Modality", 2),
            ("SeriesDescription", 2), ("SOPInstanceUID", 3), ("SOPClassUID", 3),
            ("InstanceNumber", 3))


def check_instance(source, levels, inst):
    """Problems found reading one instance with pydicom, and whether its
    character set is an ISO 2022 one."""
    try:
        ds = pydicom.dcmread(os.path.join(source, inst["path"]), force=True)
    except Exception as e:  # noqa: BLE001 - any failure is a finding
        return ["%s: pydicom: %s" % (inst["path"], e)], False
    nodes = levels + (inst,)
    problems = ["%s: %s is %r, truth %r" % (inst["path"], kw, read_value(ds, kw), nodes[lv][kw])
                for kw, lv in EXPECTED if read_value(ds, kw) != nodes[lv][kw]]
    got = (read_syntax(ds), "PixelData" in ds)
    if got != (inst["transfer_syntax"], inst["has_pixels"]):
        problems.append("%s: syntax/pixels %r, truth %r" % (
            inst["path"], got, (inst["transfer_syntax"], inst["has_pixels"])))
    iso2022 = "2022" in str(ds.get("SpecificCharacterSet", ""))
    return problems + check_pixels(inst["path"], ds), iso2022


def check_pixels(path, ds):
    """Decode the pixels where pydicom can without plug-ins (native, RLE)."""
    syntax = read_syntax(ds)
    if "PixelData" not in ds or syntax not in (IMPLICIT, EXPLICIT, BIG, SYNTAXES["dfl"], SYNTAXES["rle"]):
        return []
    shape = (ds.Rows, ds.Columns) + ((3,) if ds.SamplesPerPixel == 3 else ())
    ds.file_meta.TransferSyntaxUID = syntax  # a bare data set has none
    arr = ds.pixel_array
    if arr.shape != shape or not arr.any():
        return ["%s: pixel array %r" % (path, arr.shape)]
    return []


DUMP_HEADER = re.compile(r"^# dcmdump \(\d+/\d+\): (.*)$")
DUMP_LINE = re.compile(r"^\(([0-9a-f]{4}),([0-9a-f]{4})\) \w\w (?:\[(.*)\]|\(no value available\))\s+#")
DUMP_TAGS = {"0008,0018": "SOPInstanceUID", "0010,0020": "PatientID",
             "0020,000d": "StudyInstanceUID", "0020,000e": "SeriesInstanceUID",
             "0010,0010": "PatientName"}


def dcmdump_values(paths, options):
    """{path: {keyword: first value}} from one dcmdump run over paths."""
    search = [a for tag in DUMP_TAGS for a in ("+P", tag)]
    run = subprocess.run(["dcmdump", "-q", "+F"] + options + search + paths,
                         capture_output=True, text=True, errors="replace")
    values, current = {}, None
    for line in run.stdout.splitlines():
        header, match = DUMP_HEADER.match(line), DUMP_LINE.match(line)
        if header:
            current = values.setdefault(header.group(1), {})
        elif match and current is not None:
            keyword = DUMP_TAGS["%s,%s" % match.group(1, 2)]
            current.setdefault(keyword, tv(match.group(3)))
    return run.returncode, values


def check_dcmdump(source, truth, iso2022):
    """DCMTK must read every instance and agree on its UIDs and PatientID, and
    on PatientName where it converts the character set to UTF-8 (glibc's
    iconv, which DCMTK uses here, has no ISO 2022 IR 87: iso2022 lists those)."""
    problems, items = [], list(walk_instances(truth))
    for convert in (True, False):
        group = [(lv, i) for lv, i in items if (i["path"] in iso2022) != convert]
        for start in range(0, len(group), 500):
            problems += check_dump_batch(source, group[start:start + 500], convert)
    return problems


def check_dump_batch(source, batch, convert):
    paths = [os.path.join(source, inst["path"]) for _, inst in batch]
    rc, values = dcmdump_values(paths, ["+U8"] if convert else [])
    problems = ["dcmdump failed (%d) on a batch with %s" % (rc, paths[0])] if rc else []
    fields = (("SOPInstanceUID", 3), ("PatientID", 0), ("StudyInstanceUID", 1),
              ("SeriesInstanceUID", 2)) + ((("PatientName", 0),) if convert else ())
    for (levels, inst), path in zip(batch, paths):
        got, nodes = values.get(path, {}), levels + (inst,)
        problems += ["%s: dcmdump %s %r, truth %r" % (inst["path"], kw, got.get(kw), nodes[lv][kw])
                     for kw, lv in fields if got.get(kw) != nodes[lv][kw]]
    return problems


def check_skipped(source, truth):
    """The deliberately broken files must be unreadable to DCMTK; the
    DICOMDIR must be one."""
    problems = []
    for entry in truth["skipped"]:
        path = os.path.join(source, entry["path"])
        rc = subprocess.run(["dcmdump", "-q", path], capture_output=True).returncode
        if entry["reason"] == "DICOMDIR":
            ds = pydicom.dcmread(path)
            files = [fi.path for fi in FileSet(ds)]
            if rc or ds.file_meta.MediaStorageSOPClassUID != DICOMDIR_CLASS or not files \
                    or not all(os.path.isfile(f) for f in files):
                problems.append("%s: not a readable DICOMDIR" % entry["path"])
        elif rc == 0:
            problems.append("%s: dcmdump reads it, yet it is skipped" % entry["path"])
    return problems


def check_files(source, truth):
    """Every regular file is listed exactly once; duplicates and symlinks agree."""
    listed = [i["path"] for _, i in walk_instances(truth)] + [s["path"] for s in truth["skipped"]]
    problems = ["listed %d times: %s" % (n, p) for p, n in collections.Counter(listed).items() if n > 1]
    on_disk = set(regular_files(source))
    problems += ["not on disk: %s" % p for p in sorted(set(listed) - on_disk)]
    problems += ["not in truth: %s" % p for p in sorted(on_disk - set(listed))]
    if find_duplicates(truth) != truth["duplicates"]:
        problems.append("duplicates differ: %r" % find_duplicates(truth))
    for link in truth["symlinks"]:
        if symlink_entry(source, link["path"], link["target"]) != link:
            problems.append("symlink differs: %s" % link["path"])
    return problems


def verify(out):
    """Check OUTDIR against its truth.json; print and return the problems."""
    t0 = time.time()
    source = os.path.join(out, "source")
    with open(os.path.join(out, "truth.json"), encoding="utf-8") as f:
        truth = json.load(f)
    problems = check_files(source, truth)
    iso2022 = set()
    for levels, inst in walk_instances(truth):
        found, is_iso2022 = check_instance(source, levels, inst)
        problems += found
        if is_iso2022:
            iso2022.add(inst["path"])
    problems += check_dcmdump(source, truth, iso2022) + check_skipped(source, truth)
    for p in problems[:50]:
        print("PROBLEM", p)
    count = sum(1 for _ in walk_instances(truth))
    print("verified %d instances and %d skipped files in %.1f s: %d problems"
          % (count, len(truth["skipped"]), time.time() - t0, len(problems)))
    return problems


# ---------------------------------------------------------------- main
def prepare(out):
    source = os.path.join(out, "source")
    truth = os.path.join(out, "truth.json")
    if os.path.lexists(source):
        if not os.path.exists(truth):
            sys.exit("%s exists and has no truth.json beside it: not replacing it" % source)
        shutil.rmtree(source)
    os.makedirs(source)
    with open(truth, "w") as f:  # until the real one is written
        f.write('{"incomplete": true}\n')
    return source


def generate(out, preset, seed, n, jobs):
    """Write the archive and its truth.json; returns (instances, skipped files)."""
    source = prepare(out)
    if preset == "bench":
        return make_bench(out, source, seed, n, jobs), 0
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        if preset == "sample":
            truth = make_sample(source, seed, tmp)
        else:
            truth = make_test(source, seed, tmp)
    with open(os.path.join(out, "truth.json"), "w", encoding="utf-8") as f:
        json.dump(public(truth), f, ensure_ascii=False, indent=1)
        f.write("\n")
    return sum(1 for _ in walk_instances(truth)), len(truth["skipped"])


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--preset", choices=("test", "sample", "bench"), default="test")
    ap.add_argument("--instances", type=int, default=None, help="bench only (default 100000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=None,
                    help="bench only: processes writing files (default: one per CPU)")
    ap.add_argument("--verify", action="store_true", help="check the archive after writing it")
    ap.add_argument("--verify-only", action="store_true", help="check an existing archive")
    args = ap.parse_args()
    if args.instances is not None and args.preset != "bench":
        ap.error("--instances is for --preset bench")
    if args.instances is not None and args.instances < 1:
        ap.error("--instances must be at least 1")
    if args.jobs is not None and args.preset != "bench":
        ap.error("--jobs is for --preset bench")
    if args.jobs is not None and args.jobs < 1:
        ap.error("--jobs must be at least 1")
    return args


def main():
    args = parse_args()
    if args.verify_only:
        sys.exit(1 if verify(args.outdir) else 0)
    t0 = time.time()
    jobs = args.jobs or len(os.sched_getaffinity(0))
    count, skipped = generate(args.outdir, args.preset, args.seed, args.instances or 100000, jobs)
    elapsed = time.time() - t0
    files = count + skipped
    print("%s: %d files (%d instances, %d skipped) in %.1f s, %.0f files/s"
          % (args.preset, files, count, skipped, elapsed, files / elapsed))
    if args.verify and verify(args.outdir):
        sys.exit(1)


if __name__ == "__main__":
    main()
