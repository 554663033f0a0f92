#!/usr/bin/python3
"""Views and name templates (issue 16), on real mounts of an archive made
here with pydicom, against the truth its generator wrote.

The archive (in a temporary folder, never in the repository) has seven
patients: one with a non-ASCII name (Müller^Jürgen, ISO_IR 100), one with
an empty name, one without PatientID, two with the same PatientID and
different issuers; thirteen studies: two with the same StudyInstanceUID
under two patients, one without StudyDate, one with an empty one, one with
"2024", one with "2023.07.14", several on the same day, in the same month
and in other years; the same AccessionNumber on several studies, one empty,
several missing, one with '/' and one starting with '.'; series of CT, MR,
SR, OT, one without Modality and one with an empty one, a SeriesNumber wider
than the padding, a missing one, two series with the same number and
modality in a study, an instance without SeriesInstanceUID; instances with
the same InstanceNumber, a missing one; descriptions longer than their VR
allows (as real archives have them) so that folder names and view link
names are cut.

Expected views and names are computed here from that truth and the
contract (/tmp/views-spec.md, README "Views" and "Name templates"): my own
implementation of the rules, never dicomfs's output, except that the views'
link names are made of the tree's folder names (the contract defines them
so), which are read from the mount; which folder is which object is found
by the SOPInstanceUID of the instances inside it.

  mount 1 (default names, -o index=TMP/main.sqlite): by-uid (every
    instance by its three UIDs, `study` and `series` links, `<uid>` and
    `<uid> (2)` for the shared StudyInstanceUID, `(no UID)`), by-date,
    by-modality and by-accession exactly as expected (folders, link names
    cut at 245 bytes on a character boundary and made unique, each link
    resolving to its object's folder); every link relative, its lstat
    size its target's length, `readlink -f` the folder, its inode the
    folder's; `find MNT -type f` sees each file once (the views hold no
    regular file), `grep -r -l` of a PatientID finds each tags/PatientID
    once and nothing through the views;
  mount 2 (-o patient={PatientID},study={StudyDate:%Y-%m-%d}_{AccessionNumber},
    series={SeriesNumber:03}_{Modality},instance={InstanceNumber:04}): every
    folder name as my expansion of the template (padding, date format,
    `(no Keyword)`, collisions suffixed ' (2)' in the order of the keys),
    the name rules, and the views again (their link names follow the
    template names);
  mount 3 (higher-level keywords, literal braces, a multi-valued value, an
    escaped comma, names cut to 255 bytes and colliding once cut);
  mounts 4-6c (a template changed on a persistent index): -o patient=... with
    the index of mount 1 names the patients by the template and keeps the
    other levels' default names; the same again: the same names; no
    template with that index: mount 1's names again; template 3 on a fresh
    index (other date orders, a TM value, '%%', series named by default),
    then no template on it: the default names (a template given or
    dropped is the user's choice of names, which the index must not
    override: "names are stable" holds for an unchanged template);
  bad templates (unknown, lower-level, sequence and binary keywords, an
    unclosed brace, an empty template): exit status 1, one line on stderr
    starting with "dicomfs: " naming the template, nothing mounted, no
    process left;
  mount 7 (live, on a copy of the archive): two studies moved in (written
    outside the source first) show in every view, one of them in a day
    folder listed before; a study removed leaves every view; the views are
    then again exactly what the new truth says;
  mount 8 (template 1, live, on that copy): a study moved in whose name
    collides with a sibling's is named by the template + ' (2)', and the
    views follow with the template's names.

No time bound is asserted: a change is polled for up to CHANGE_SECONDS
(a hang guard, scaled under sanitizers) and the time it took is printed.

usage: test_views.py DICOMFS SOURCE_ROOT
"""
import copy
import os
import re
import shutil
import stat
import sys
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402

WATCHDOG_SECONDS = 280
CHANGE_SECONDS = 30    # a live change waited for (hang guard, scaled)
BAD_SECONDS = 30       # a refused mount returning (hang guard, scaled)
LINK_MAX = 245         # a view link's name is cut to this many bytes
NAME_MAX = 255
VIEWS = ("by-uid", "by-date", "by-modality", "by-accession")
ROOT_UID = "1.2.826.0.1.3680043.8.498.16"

TEMPLATE_1 = {"patient": "{PatientID}", "study": "{StudyDate:%Y-%m-%d}_{AccessionNumber}",
              "series": "{SeriesNumber:03}_{Modality}", "instance": "{InstanceNumber:04}"}
# As given to -o (a comma inside a template is written '\,').
TEMPLATE_2 = {"patient": "P-{PatientName}", "study": "{{x}} {PatientID} {StudyDescription}",
              "series": "{PatientID}-{SeriesDescription}",
              "instance": "{ImageType}\\,{InstanceNumber:02}"}
TEMPLATE_PATIENT = {"patient": "{PatientID}"}
# Other date orders, a TM value, '%%', the same field twice; series without
# a template (the default names).
TEMPLATE_3 = {"patient": "{PatientName}",
              "study": "{StudyDate:%d.%m.%Y} {StudyTime:%Hh%M} {StudyDate:%Y%%}",
              "instance": "{SOPInstanceUID}"}
LEVELS = ("patient", "study", "series", "instance")


# --- the truth -------------------------------------------------------------------

class Obj:
    """One patient, study, series or instance of the truth: the attributes
    written (None: not written at all; "": written empty), its children,
    and a label unique in the archive."""

    def __init__(self, level, label, attrs, children=()):
        self.level, self.label, self.attrs = level, label, dict(attrs)
        self.children = list(children)
        self.parent = None
        for c in self.children:
            c.parent = self

    def get(self, keyword):
        """The value of keyword as this object's tags/ would show it (this
        level or above), None when missing."""
        o = self
        while o is not None:
            if keyword in o.attrs:
                return o.attrs[keyword]
            o = o.parent
        return None

    def key(self):
        """The order in which same-named siblings are suffixed (README
        "Names": in the order of their UIDs; patients by PatientID and
        issuer, or name)."""
        if self.level == "patient":
            pid = self.attrs.get("PatientID") or ""
            return ("id", pid, self.attrs.get("IssuerOfPatientID") or "") if pid else \
                ("name", self.attrs.get("PatientName") or "", "")
        uid = {"study": "StudyInstanceUID", "series": "SeriesInstanceUID",
               "instance": "SOPInstanceUID"}[self.level]
        return (self.attrs.get(uid) or "", self.label)


def uid(kind, n):
    """UIDs of equal length (no component may start with 0), so that their
    order is their number's."""
    return f"{ROOT_UID}.{kind}.{1000 + n}"


LONG_STUDY = "Kontrastmittelstudien-" + "Ü" * 150   # 22 ASCII, then 2-byte characters
LONG_SERIES = "Serienbeschreibung-" + "Ö" * 150


def make_truth():
    """The archive's patients (Obj trees)."""
    n_inst = [0]

    def I(number=None, image_type=None, **kw):  # noqa: E743 - an instance
        n_inst[0] += 1
        attrs = {"SOPInstanceUID": uid(3, n_inst[0])}
        if number is not None:
            attrs["InstanceNumber"] = str(number)
        if image_type is not None:
            attrs["ImageType"] = image_type
        attrs.update(kw)
        return Obj("instance", f"i{n_inst[0]}", attrs)

    def Se(label, series_uid, number, modality, desc, insts):
        attrs = {"SeriesInstanceUID": series_uid, "SeriesNumber": number,
                 "Modality": modality, "SeriesDescription": desc}
        return Obj("series", label, {k: v for k, v in attrs.items() if v is not None}, insts)

    def St(label, study_uid, date, desc, acc, series):
        attrs = {"StudyInstanceUID": study_uid, "StudyDate": date, "StudyDescription": desc,
                 "AccessionNumber": acc, "StudyTime": "101500"}
        return Obj("study", label, {k: v for k, v in attrs.items() if v is not None}, series)

    def P(label, pid, name, studies, issuer=None, charset=None):
        attrs = {"PatientID": pid, "PatientName": name, "IssuerOfPatientID": issuer,
                 "SpecificCharacterSet": charset}
        return Obj("patient", label, {k: v for k, v in attrs.items() if v is not None}, studies)

    axial = "ORIGINAL\\PRIMARY\\AXIAL"
    derived = "DERIVED\\SECONDARY"
    return [
        P("P1", "PAT001", "Smith^John", [
            St("S1", uid(1, 1), "20240305", "CT Chest", "ACC100", [
                Se("se1", uid(2, 1), "1", "CT", "Axial",
                   [I(1, axial), I(2, axial), I(3, axial)]),
                Se("se2", uid(2, 2), "2", "CT", "Coronal", [I(1, derived), I(2, derived)]),
                Se("se3", uid(2, 3), "1", "CT", "Axial", [I(1), I(2), I(2)]),
            ]),
            St("S12", uid(1, 12), "20240305", "CT Chest followup", "ACC100", [
                Se("se20", uid(2, 20), "1", "CT", "Axial", [I(1)]),
            ]),
            St("S2", uid(1, 2), "20240319", "MR Brain", "ACC101", [
                Se("se4", uid(2, 4), "5", "MR", "T1", [I(1), I(2)]),
                Se("se5", uid(2, 5), "1234", "MR", "T2", [I(7), I(12)]),
                Se("se6", uid(2, 6), "3", None, "Localizer", [I(1)]),
                Se("se-nouid", None, "9", "MR", "Lonely", [I(1)]),
            ]),
            St("S3", uid(1, 3), "20190611", "Old", "", [
                Se("se7", uid(2, 7), "1", "SR", "Report", [I(None)]),
                Se("se8", uid(2, 8), "2", "OT", "Other", [I(1)]),
            ]),
        ]),
        P("P2", "PAT002", "Müller^Jürgen", [
            St("S4", uid(1, 4), "20240305", LONG_STUDY + "-A", "ACC100", [
                Se("se9", uid(2, 9), "1", "CT", LONG_SERIES + "-A", [I(1)]),
            ]),
            St("S5", uid(1, 5), "20240305", LONG_STUDY + "-B", None, [
                Se("se10", uid(2, 10), "1", "CT", LONG_SERIES + "-B", [I(1)]),
            ]),
        ], charset="ISO_IR 100"),
        P("P3", "PAT003", "Doe^Jane", [
            St("S6", uid(1, 1), "20230101", "Shared UID", "ACC200", [   # S1's UID
                Se("se11", uid(2, 11), "1", "CT", "Shared", [I(1), I(2)]),
            ]),
        ]),
        P("P4", "ANON1", "", [
            St("S7", uid(1, 7), None, "No date", None, [
                Se("se12", uid(2, 12), None, "", None, [I(1)]),
            ]),
            St("S8", uid(1, 8), "2024", "Partial date", "ACC/2024/7", [
                Se("se13", uid(2, 13), "7", "MR", "Sag", [I(1)]),
            ]),
        ]),
        P("P5", "DUP", "Dup^A", [
            St("S9", uid(1, 9), "2023.07.14", "Dotted date", "ACC300", [
                Se("se14", uid(2, 14), "1", "CT", "Head", [I(1)]),
            ]),
            St("S11", uid(1, 11), "", None, ".hidden", [
                Se("se16", uid(2, 16), "1", "OT", "Scan", [I(1)]),
            ]),
        ], issuer="HOSP_A"),
        P("P6", "DUP", "Dup^B", [
            St("S10", uid(1, 10), "20230714", "Same day", "ACC300", [
                Se("se15", uid(2, 15), "1", "CT", "Head", [I(1)]),
            ]),
        ], issuer="HOSP_B"),
        P("P7", None, "NoId^Person", [
            St("S13", uid(1, 13), "20190611", "No ID study", "ACC400", [
                Se("se17", uid(2, 17), "2", "MR", "Spine", [I(1)]),
            ]),
        ]),
    ]


def walk_truth(patients, level):
    out = []
    for p in patients:
        if level == "patient":
            out.append(p)
        for st in p.children:
            if level == "study":
                out.append(st)
            for se in st.children:
                if level == "series":
                    out.append(se)
                if level == "instance":
                    out.extend(se.children)
    return out


SOP_CLASS = {"CT": "1.2.840.10008.5.1.4.1.1.2", "MR": "1.2.840.10008.5.1.4.1.1.4"}
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def write_instance(path, inst):
    """inst's file (its attributes and those of the levels above), written
    with pydicom: explicit VR little endian, a 4x4 16-bit image."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # values longer than their VR allows, on purpose
        write_instance_quietly(path, inst)


def write_instance_quietly(path, inst):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian
    se, st = inst.parent, inst.parent.parent
    sop_class = SOP_CLASS.get(se.attrs.get("Modality") or "", SECONDARY_CAPTURE)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = inst.attrs["SOPInstanceUID"]
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.is_little_endian, ds.is_implicit_VR = True, False
    charset = inst.get("SpecificCharacterSet")
    if charset:
        ds.SpecificCharacterSet = charset
    ds.SOPClassUID = sop_class
    chain = [st.parent, st, se, inst]
    for o in chain:
        for k, v in o.attrs.items():
            if k == "SpecificCharacterSet":
                continue
            if k == "ImageType":
                v = v.split("\\")
            setattr(ds, k, v)
    ds.Rows = ds.Columns = 4
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = bytes(range(32))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    ds.save_as(path, write_like_original=False)


def write_archive(root, patients, where=None):
    """Every instance of patients under root: root/<patient>/<study>/<series>/<instance>.dcm
    (labels; the source layout plays no part in the tree).  where: only
    the studies whose label is in it."""
    for p in patients:
        for st in p.children:
            if where is not None and st.label not in where:
                continue
            for se in st.children:
                for inst in se.children:
                    write_instance(os.path.join(root, p.label, st.label, se.label,
                                                inst.label + ".dcm"), inst)


def check_archive(report, src, patients):
    """Premise: pydicom reads back what was written."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # values longer than their VR allows, on purpose
        check_archive_quietly(report, src, patients)


def check_archive_quietly(report, src, patients):
    import pydicom
    problems = []
    insts = walk_truth(patients, "instance")
    by_sop = {}
    for dirpath, _, files in os.walk(src):
        for f in files:
            ds = pydicom.dcmread(os.path.join(dirpath, f), stop_before_pixels=True)
            by_sop[str(ds.SOPInstanceUID)] = ds
    if len(by_sop) != len(insts):
        problems.append(f"{len(by_sop)} files, {len(insts)} instances in the truth")
    for inst in insts:
        ds = by_sop.get(inst.attrs["SOPInstanceUID"])
        if ds is None:
            problems.append(f"{inst.label}: no file")
            continue
        for k in ("PatientName", "PatientID", "StudyDate", "AccessionNumber", "Modality",
                  "StudyDescription", "SeriesNumber", "InstanceNumber", "SeriesInstanceUID"):
            want = inst.get(k)
            got = ds.get(k)
            got = None if got is None else str(got)
            if want != got:
                problems.append(f"{inst.label}: {k} {got!r}, truth {want!r}")
    raw = open(os.path.join(src, "P2", "S4", "se9", walk_truth(patients[1:2], "instance")[0].label
                            + ".dcm"), "rb").read()
    if "Müller^Jürgen".encode("latin-1") not in raw:
        problems.append("P2's name is not stored in ISO 8859-1")
    report.check("premise: the generated archive reads back as the truth (pydicom), P2's name "
                 "stored in ISO 8859-1", problems, f"{len(by_sop)} files")


# --- names: my implementation of the rules -------------------------------------------

def is_control(ch):
    c = ord(ch)
    return c < 0x20 or 0x7F <= c <= 0x9F or c in (0x2028, 0x2029)


def cut_bytes(text, limit):
    """text cut to at most limit bytes of UTF-8 at a character boundary."""
    b = text.encode("utf-8")
    if len(b) <= limit:
        return text
    b = b[:limit]
    while b and (text.encode("utf-8")[len(b)] & 0xC0) == 0x80:
        b = b[:-1]
    return b.decode("utf-8")


def sanitize(value, placeholder):
    """The tree's rules: '/' to '_', control characters to a space, trimmed,
    a leading '.' gets '_' before it; empty: the placeholder."""
    if value is None:
        return placeholder
    s = "".join("_" if ch == "/" else " " if is_control(ch) else ch for ch in value).strip()
    if s.startswith("."):
        s = "_" + s
    return s or placeholder


def date_bucket(date):
    """The by-date folders of a StudyDate (8 digits or YYYY.MM.DD)."""
    d = date or ""
    if re.fullmatch(r"\d{8}", d):
        y, m, dd = d[:4], d[4:6], d[6:]
    elif re.fullmatch(r"\d{4}\.\d{2}\.\d{2}", d):
        y, m, dd = d[:4], d[5:7], d[8:]
    else:
        return ("(no date)",)
    return (y, f"{y}-{m}", f"{y}-{m}-{dd}")


def split_suffix(name):
    m = re.fullmatch(r"(.*) \((\d+)\)", name, re.S)
    return (m.group(1), int(m.group(2))) if m else (name, 1)


# templates

class TemplateError(Exception):
    pass


def parse_template(t):
    """[(literal text) or (keyword, format)] of a template (already
    unescaped: '\\,' is ',')."""
    out, i, lit = [], 0, []
    while i < len(t):
        c = t[i]
        if t.startswith("{{", i):
            lit.append("{")
            i += 2
        elif t.startswith("}}", i):
            lit.append("}")
            i += 2
        elif c == "{":
            j = t.find("}", i)
            if j < 0:
                raise TemplateError(f"unclosed brace in {t!r}")
            if lit:
                out.append("".join(lit))
                lit = []
            field = t[i + 1:j]
            kw, _, fmt = field.partition(":")
            out.append((kw, fmt))
            i = j + 1
        else:
            lit.append(c)
            i += 1
    if lit:
        out.append("".join(lit))
    return out


def format_datetime(value, fmt):
    """A DA, TM or DT value through %Y %m %d %H %M %S %%; None if it does not
    parse."""
    v = value.strip()
    parts = None
    m = re.fullmatch(r"(\d{4})(\d{2})(\d{2})", v) or re.fullmatch(r"(\d{4})\.(\d{2})\.(\d{2})", v)
    if m:
        parts = {"Y": m.group(1), "m": m.group(2), "d": m.group(3)}
    m = m or re.fullmatch(r"(\d{2})(\d{2})(\d{2})(?:\.\d+)?", v)
    if parts is None and m:
        parts = {"H": m.group(1), "M": m.group(2), "S": m.group(3)}
    m2 = re.fullmatch(r"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?([+-]\d{4})?", v)
    if parts is None and m2:
        parts = dict(zip("YmdHMS", m2.groups()[:6]))
    if parts is None:
        return None
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            c = fmt[i + 1]
            if c == "%":
                out.append("%")
            elif c in parts:
                out.append(parts[c])
            else:
                return None
            i += 2
        else:
            out.append(fmt[i])
            i += 1
    return "".join(out)


def expand(template, obj):
    """The name a template gives obj, before cutting and uniqueness."""
    out = []
    for part in parse_template(template):
        if isinstance(part, str):
            out.append(part)
            continue
        kw, fmt = part
        value = obj.get(kw)
        if value is None or value.strip(" \0") == "":
            out.append(f"(no {kw})")
            continue
        value = value.strip(" \0")
        if re.fullmatch(r"0\d+", fmt or "x"):
            if re.fullmatch(r"\d+", value):
                value = str(int(value)).zfill(int(fmt))
        elif "%" in (fmt or ""):
            shown = format_datetime(value, fmt)
            value = value if shown is None else shown
        out.append(value)
    return sanitize("".join(out), "")


def o_arg(templates, extra):
    return ",".join([extra] + [f"{k}={v}" for k, v in templates.items()])


# --- the tree, read from the mount ---------------------------------------------------

def read_value(path):
    try:
        with open(path, "rb") as f:
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    return data[:-1] if data.endswith("\n") else data


def listdir_or_empty(path):
    try:
        return os.listdir(path)
    except OSError:
        return []


def read_tree(mnt):
    """{SOPInstanceUID: (patient, study, series, instance folder names)}, and
    problems (instance folders without a UID, a UID met twice)."""
    by_sop, problems = {}, []
    for p in sorted(os.listdir(mnt)):
        if p == ".dicomfs":
            continue
        for s in sorted(listdir_or_empty(os.path.join(mnt, p))):
            if s == "tags":
                continue
            for se in sorted(listdir_or_empty(os.path.join(mnt, p, s))):
                if se == "tags":
                    continue
                for i in sorted(listdir_or_empty(os.path.join(mnt, p, s, se))):
                    if i in ("tags", "volume"):
                        continue
                    sop = read_value(os.path.join(mnt, p, s, se, i, "tags", "SOPInstanceUID"))
                    if sop is None:
                        problems.append(f"{p}/{s}/{se}/{i}: no tags/SOPInstanceUID")
                    elif sop in by_sop:
                        problems.append(f"SOP {sop} in {by_sop[sop]} and {(p, s, se, i)}")
                    else:
                        by_sop[sop] = (p, s, se, i)
    return by_sop, problems


def locate(patients, by_sop):
    """{label: folder path tuple} of every object of the truth, from where
    its instances are; problems when the tree groups them otherwise."""
    loc, problems = {}, []
    owner = {}  # path -> label
    depth = {"patient": 1, "study": 2, "series": 3, "instance": 4}
    for inst in walk_truth(patients, "instance"):
        path = by_sop.get(inst.attrs["SOPInstanceUID"])
        if path is None:
            problems.append(f"{inst.label} ({inst.attrs['SOPInstanceUID']}) not in the tree")
            continue
        o = inst
        while o is not None:
            here = path[:depth[o.level]]
            if o.label in loc and loc[o.label] != here:
                problems.append(f"{o.level} {o.label} split: {loc[o.label]} and {here}")
            loc.setdefault(o.label, here)
            if owner.setdefault(here, o.label) != o.label:
                problems.append(f"{'/'.join(here)} holds {owner[here]} and {o.label}")
            o = o.parent
    known = set(by_sop)
    extra = known - {i.attrs["SOPInstanceUID"] for i in walk_truth(patients, "instance")}
    problems += [f"instance {u} at {by_sop[u]} is not in the truth" for u in sorted(extra)]
    return loc, problems


# --- the views -------------------------------------------------------------------

class ViewCheck:
    """The four views of one mount against a truth."""

    def __init__(self, report, mnt, patients, label):
        self.report, self.mnt, self.patients, self.label = report, mnt, patients, label
        self.links = []  # every link met: full path
        self.mid_char_cuts = 0

    def check(self, name, problems, note=""):
        return self.report.check(f"{self.label}: {name}", problems, note)

    def run(self, quiet=False):
        """All checks; with quiet, no Report lines: the problems, for polling."""
        out = {}
        by_sop, p0 = read_tree(self.mnt)
        loc, p1 = locate(self.patients, by_sop)
        out["tree"] = ("the tree holds every instance of the truth, grouped as the truth "
                       "(found by SOPInstanceUID)", p0 + p1, f"{len(by_sop)} instances")
        self.loc = loc
        self.links = []
        out["top"] = self.top()
        out["uid"] = self.by_uid(loc)
        studies = walk_truth(self.patients, "study")
        series = walk_truth(self.patients, "series")
        date = {}
        for st in studies:
            date.setdefault(date_bucket(st.get("StudyDate")), []).append(st)
        out["date"] = self.buckets(
            "by-date", date, "study",
            "by-date: every study under YYYY/YYYY-MM/YYYY-MM-DD (8 digits or YYYY.MM.DD), the "
            "others under '(no date)', nothing else; each link resolves to its study")
        mod = {}
        for se in series:
            mod.setdefault((sanitize(se.get("Modality"), "(no modality)"),), []).append(se)
        out["modality"] = self.buckets(
            "by-modality", mod, "series",
            "by-modality: every series under its Modality ('(no modality)' when missing or "
            "empty), nothing else; each link resolves to its series")
        acc = {}
        for st in studies:
            acc.setdefault((sanitize(st.get("AccessionNumber"), "(no accession)"),), []).append(st)
        out["accession"] = self.buckets(
            "by-accession", acc, "study",
            "by-accession: every study under its AccessionNumber (sanitized: '/' to '_', a "
            "leading '.' after '_'), '(no accession)' when missing or empty, nothing else")
        out["links"] = self.link_facts()
        if quiet:
            return [p for _, problems, _ in out.values() for p in problems]
        for name, problems, note in out.values():
            self.check(name, problems, note)
        return [p for _, problems, _ in out.values() for p in problems]

    def at(self, *parts):
        return os.path.join(self.mnt, *parts)

    def top(self):
        problems = []
        d = self.at(".dicomfs")
        names = set(os.listdir(d))
        for v in VIEWS:
            if v not in names:
                problems.append(f".dicomfs/{v} missing")
            elif not stat.S_ISDIR(os.lstat(os.path.join(d, v)).st_mode):
                problems.append(f".dicomfs/{v} is not a folder")
        return (".dicomfs holds the four views as folders", problems, "")

    def note_link(self, full, problems):
        """A link of a view: lstat says link; kept for link_facts()."""
        st = os.lstat(full)
        if not stat.S_ISLNK(st.st_mode):
            problems.append(f"{self.rel(full)}: not a symbolic link (mode {st.st_mode:o})")
            return False
        self.links.append(full)
        return True

    def rel(self, full):
        return os.path.relpath(full, self.mnt)

    def resolves(self, full, want, problems):
        """The link full resolves to the folder of path tuple want."""
        want_path = self.at(*want)
        got = os.path.realpath(full)
        if got != want_path:
            problems.append(f"{self.rel(full)} -> {os.readlink(full)!r} resolves to "
                            f"{self.rel(got)!r}, not {'/'.join(want)!r}")
            return False
        return True

    def link_base(self, path_tuple):
        """A view link's name before uniqueness: the folder names joined by
        spaces, cut to 245 bytes at a character boundary."""
        full = " ".join(path_tuple)
        cut = cut_bytes(full, LINK_MAX)
        if cut != full and len(cut.encode()) < LINK_MAX:
            self.mid_char_cuts += 1
        return cut

    def unique_names(self, wanted, got, where, problems):
        """wanted: [(base, object label)], got: {name: object label} (by where
        each link resolves).  Each got name must be its object's base, or
        base + ' (N)', and each base's names must be base, base (2) ..."""
        base_of = {}
        for base, label in wanted:
            base_of[label] = base
        groups = {}
        for name, label in got.items():
            base = base_of.get(label)
            if base is None:
                continue
            alts = [base] + ([base.rstrip(" ")] if base.endswith(" ") else [])
            b, k = split_suffix(name)
            if name in alts:
                groups.setdefault(base, []).append(1)
            elif b in alts and k >= 2:
                groups.setdefault(base, []).append(k)
            else:
                problems.append(f"{where}/{name!r}: expected {base!r} (+ ' (N)'), the name of "
                                "its object's folders")
        counts = {}
        for base, _ in wanted:
            counts[base] = counts.get(base, 0) + 1
        for base, ks in groups.items():
            if sorted(ks) != list(range(1, counts[base] + 1)):
                problems.append(f"{where}: {base!r} met {counts[base]} times, suffixes "
                                f"{sorted(ks)} (expected 1..{counts[base]})")

    # by-uid
    def by_uid(self, loc):
        problems = []
        root = self.at(".dicomfs", "by-uid")
        studies = walk_truth(self.patients, "study")
        groups = {}
        for st in studies:
            groups.setdefault(st.get("StudyInstanceUID") or "(no UID)", []).append(st)
        names = sorted(listdir_or_empty(root))
        reached = 0
        seen_studies = {}
        got_names = {}
        for name in names:
            full = os.path.join(root, name)
            if not stat.S_ISDIR(os.lstat(full).st_mode):
                problems.append(f"by-uid/{name!r} is not a folder")
                continue
            link = os.path.join(full, "study")
            if not os.path.lexists(link):
                problems.append(f"by-uid/{name!r}: no 'study' link")
                continue
            if not self.note_link(link, problems):
                continue
            target = os.path.realpath(link)
            st = next((s for s in studies if s.label in loc and self.at(*loc[s.label]) == target),
                      None)
            if st is None:
                problems.append(f"by-uid/{name}/study resolves to {self.rel(target)!r}, no study")
                continue
            if st.label in seen_studies:
                problems.append(f"study {st.label} under by-uid/{seen_studies[st.label]!r} and "
                                f"{name!r}")
            seen_studies[st.label] = name
            got_names[name] = st.label
            got_uid = read_value(os.path.join(link, "tags", "StudyInstanceUID"))
            if got_uid != st.get("StudyInstanceUID"):
                problems.append(f"by-uid/{name}/study/tags/StudyInstanceUID {got_uid!r}, "
                                f"expected {st.get('StudyInstanceUID')!r}")
            reached += self.by_uid_study(full, name, st, loc, problems)
        wanted = [(u, st.label) for u, sts in groups.items() for st in sts]
        self.unique_names(wanted, got_names, "by-uid", problems)
        for st in studies:
            if st.label not in seen_studies and st.label in loc:
                problems.append(f"study {st.label} ({st.get('StudyInstanceUID')}) not in by-uid")
        dup = [u for u, sts in groups.items() if len(sts) > 1]
        shown = [n for n in names if split_suffix(n)[0] in dup]
        n_inst = len(walk_truth(self.patients, "instance"))
        if reached != n_inst:
            problems.append(f"{reached} of {n_inst} instances reachable by their UIDs")
        return ("by-uid: every instance as <study uid>/<series uid>/<sop uid> resolving to its "
                "folder (tags/SOPInstanceUID), 'study' and 'series' links to folders with those "
                "UIDs, the shared StudyInstanceUID as '<uid>' and '<uid> (2)', nothing else",
                problems, f"{reached} instances; shared UID shown as {shown}")

    def by_uid_study(self, full, name, st, loc, problems):
        reached = 0
        where = f"by-uid/{name}"
        expected_series = {}
        for se in st.children:
            expected_series.setdefault(se.get("SeriesInstanceUID") or "(no UID)", []).append(se)
        entries = sorted(os.listdir(full))
        got = {}
        for e in entries:
            if e == "study":
                continue
            sfull = os.path.join(full, e)
            if not stat.S_ISDIR(os.lstat(sfull).st_mode):
                problems.append(f"{where}/{e!r}: not a folder")
                continue
            link = os.path.join(sfull, "series")
            if not os.path.lexists(link) or not self.note_link(link, problems):
                problems.append(f"{where}/{e}: no 'series' link")
                continue
            target = os.path.realpath(link)
            se = next((x for x in st.children if x.label in loc and self.at(*loc[x.label]) == target),
                      None)
            if se is None:
                problems.append(f"{where}/{e}/series resolves to {self.rel(target)!r}, not a "
                                f"series of study {st.label}")
                continue
            got[e] = se.label
            got_uid = read_value(os.path.join(link, "tags", "SeriesInstanceUID"))
            if got_uid != se.get("SeriesInstanceUID"):
                problems.append(f"{where}/{e}/series/tags/SeriesInstanceUID {got_uid!r}, "
                                f"expected {se.get('SeriesInstanceUID')!r}")
            want = {i.attrs["SOPInstanceUID"]: i for i in se.children}
            listed = set(os.listdir(sfull)) - {"series"}
            if listed != set(want):
                problems.append(f"{where}/{e}: lists {sorted(listed - set(want))[:3]} not "
                                f"expected, lacks {sorted(set(want) - listed)[:3]}")
            for sop, inst in want.items():
                ifull = os.path.join(sfull, sop)
                if not os.path.lexists(ifull) or not self.note_link(ifull, problems):
                    continue
                if not self.resolves(ifull, loc[inst.label], problems):
                    continue
                if read_value(os.path.join(ifull, "tags", "SOPInstanceUID")) != sop:
                    problems.append(f"{where}/{e}/{sop}/tags/SOPInstanceUID is not {sop}")
                    continue
                reached += 1
        wanted = [(u, se.label) for u, ses in expected_series.items() for se in ses]
        self.unique_names(wanted, got, where, problems)
        missing = [se.label for se in st.children if se.label not in got.values()]
        if missing:
            problems.append(f"{where}: series {missing} missing")
        return reached

    # by-date, by-modality, by-accession
    def buckets(self, view, expected, kind, title):
        """expected: {folder path tuple: [objects]}; kind: 'study' or 'series'."""
        problems = []
        root = self.at(".dicomfs", view)
        if not os.path.isdir(root):
            return (title, [f".dicomfs/{view}: not a folder"], "")
        want_dirs = {k[:n] for k in expected for n in range(1, len(k) + 1)}
        got_dirs, leaves = set(), {}
        stack = [()]
        while stack:
            rel = stack.pop()
            full = os.path.join(root, *rel)
            for e in sorted(os.listdir(full)):
                child = rel + (e,)
                st = os.lstat(os.path.join(full, e))
                if stat.S_ISDIR(st.st_mode):
                    got_dirs.add(child)
                    stack.append(child)
                elif stat.S_ISLNK(st.st_mode):
                    leaves.setdefault(rel, []).append(e)
                else:
                    problems.append(f"{view}/{'/'.join(child)}: neither a folder nor a link")
        for d in sorted(got_dirs - want_dirs):
            problems.append(f"{view}/{'/'.join(d)}: a folder not expected")
        for d in sorted(want_dirs - got_dirs):
            problems.append(f"{view}/{'/'.join(d)}: missing")
        for rel in sorted(leaves):
            if rel not in expected:
                problems.append(f"{view}/{'/'.join(rel) or '.'}: links {leaves[rel][:3]} where "
                                "none are expected")
        n_links = 0
        for rel, objs in sorted(expected.items()):
            if rel not in got_dirs:
                continue
            where = f"{view}/{'/'.join(rel)}"
            names = leaves.get(rel, [])
            got, hit = {}, set()
            for name in names:
                full = os.path.join(root, *rel, name)
                self.note_link(full, problems)
                n_links += 1
                target = os.path.realpath(full)
                obj = next((o for o in objs if o.label in self.loc
                            and self.at(*self.loc[o.label]) == target), None)
                if obj is None:
                    problems.append(f"{where}/{name!r} resolves to {self.rel(target)!r}, none "
                                    f"of the expected {kind} folders")
                    continue
                if obj.label in hit:
                    problems.append(f"{where}: {kind} {obj.label} linked twice")
                hit.add(obj.label)
                got[name] = obj.label
                uid_kw = "StudyInstanceUID" if kind == "study" else "SeriesInstanceUID"
                if read_value(os.path.join(full, "tags", uid_kw)) != obj.get(uid_kw):
                    problems.append(f"{where}/{name}/tags/{uid_kw} is not {obj.get(uid_kw)!r}")
            for o in objs:
                if o.label not in hit and o.label in self.loc:
                    problems.append(f"{where}: no link to {kind} {o.label} "
                                    f"({'/'.join(self.loc[o.label])!r})")
            wanted = [(self.link_base(self.loc[o.label]), o.label) for o in objs
                      if o.label in self.loc]
            self.unique_names(wanted, got, where, problems)
        return (title, problems, f"{len(expected)} folders of links, {n_links} links")

    def link_facts(self):
        problems = []
        for full in self.links:
            target = os.readlink(full)
            st = os.lstat(full)
            if target.startswith("/") or not target.startswith("../"):
                problems.append(f"{self.rel(full)} -> {target!r}: not relative ('../...')")
            if st.st_size != len(os.fsencode(target)):
                problems.append(f"{self.rel(full)}: lstat size {st.st_size}, target "
                                f"{len(os.fsencode(target))} bytes")
            real = os.path.realpath(full)
            try:
                if os.stat(full).st_ino != os.stat(real).st_ino or not os.path.isdir(full):
                    problems.append(f"{self.rel(full)}: not the folder {self.rel(real)!r} "
                                    "(inode or type)")
            except OSError as e:
                problems.append(f"{self.rel(full)}: {e}")
            if not real.startswith(self.mnt + "/") or "/.dicomfs/" in real:
                problems.append(f"{self.rel(full)} resolves to {real!r}, outside the tree")
            if len(os.path.basename(full).encode()) > NAME_MAX:
                problems.append(f"{self.rel(full)}: name longer than 255 bytes")
        # readlink -f of a sample, as a user would
        sample = self.links[:5]
        for full in sample:
            rc, out, err = ml.run(["readlink", "-f", full], timeout=30)
            if rc != 0 or out.decode().rstrip("\n") != os.path.realpath(full):
                problems.append(f"readlink -f {self.rel(full)}: {out!r} {err.strip()}")
        return ("every link of the views: target relative ('../'), lstat size = the target's "
                "length, stat = the folder's (cd lands in the tree), readlink -f gives the "
                "real folder, name at most 255 bytes",
                problems, f"{len(self.links)} links")


# --- find and grep -------------------------------------------------------------------

def check_counts(report, mnt, label, patients):
    """`find MNT -type f` counts each regular file once: those of the patient
    folders and .dicomfs's own; the views hold none; os.walk agrees."""
    problems = []

    def find(*args):
        rc, out, err = ml.run(["find"] + list(args), timeout=ml.scaled(120))
        if rc != 0 or err.strip():
            problems.append(f"find {' '.join(args)}: exit {rc}, {err.strip()[:200]}")
        return [l for l in out.decode("utf-8", "surrogateescape").split("\n") if l]

    everything = find(mnt, "-type", "f")
    parts = []
    for p in sorted(os.listdir(mnt)):
        if p != ".dicomfs":
            parts += find(os.path.join(mnt, p), "-type", "f")
    own = find(os.path.join(mnt, ".dicomfs"), "-type", "f")
    in_views = []
    for v in VIEWS:
        in_views += find(os.path.join(mnt, ".dicomfs", v), "-type", "f")
    links = find(mnt, "-type", "l")
    walked = []
    for dirpath, dirnames, filenames in os.walk(mnt):
        for f in filenames:
            full = os.path.join(dirpath, f)
            if stat.S_ISREG(os.lstat(full).st_mode):
                walked.append(full)
    if len(everything) != len(set(everything)):
        problems.append(f"find lists {len(everything) - len(set(everything))} files twice")
    if len(everything) != len(parts) + len(own):
        problems.append(f"find MNT -type f: {len(everything)}, patient folders {len(parts)} + "
                        f".dicomfs {len(own)} = {len(parts) + len(own)}")
    if set(everything) != set(parts) | set(own):
        problems.append(f"find MNT -type f differs from the parts: "
                        f"{sorted(set(everything) ^ (set(parts) | set(own)))[:3]}")
    if in_views:
        problems.append(f"{len(in_views)} regular files in the views, e.g. {in_views[:2]}")
    outside = [l for l in links if "/.dicomfs/by-" not in l]
    if outside:
        problems.append(f"links outside the views: {outside[:3]}")
    if sorted(walked) != sorted(everything):
        problems.append(f"os.walk finds {len(walked)} regular files, find {len(everything)}")
    n_inst = len(walk_truth(patients, "instance"))
    report.check(f"{label}: `find MNT -type f` lists each file once (= the patient folders' "
                 "files + .dicomfs's own; none in the views; os.walk agrees)", problems,
                 f"{len(everything)} files ({len(parts)} + {len(own)}), {len(links)} links, "
                 f"{n_inst} instances")


def check_grep(report, mnt, label, pid):
    problems = []
    rc, out, err = ml.run(["grep", "-r", "-l", "-F", "-e", pid, mnt], timeout=ml.scaled(200))
    if rc != 0:
        problems.append(f"grep -r exited {rc}: {err.strip()[:200]}")
    if err.strip():
        problems.append(f"grep -r stderr: {err.strip()[:200]}")
    found = [l for l in out.decode("utf-8", "surrogateescape").split("\n") if l]
    if len(found) != len(set(found)):
        problems.append(f"{len(found) - len(set(found))} files listed twice")
    through = [f for f in found if "/.dicomfs/by-" in f]
    if through:
        problems.append(f"{len(through)} files found through the views, e.g. {through[:2]}")
    want = set()
    for dirpath, dirnames, filenames in os.walk(mnt):
        if dirpath == os.path.join(mnt, ".dicomfs"):
            dirnames[:] = []
            continue
        if os.path.basename(dirpath) == "tags" and "PatientID" in filenames:
            full = os.path.join(dirpath, "PatientID")
            if read_value(full) == pid:
                want.add(full)
    got = {f for f in found if os.path.basename(f) == "PatientID"
           and os.path.basename(os.path.dirname(f)) == "tags"}
    if got != want:
        problems.append(f"tags/PatientID files: grep {len(got)}, expected {len(want)}: "
                        f"{sorted(got ^ want)[:3]}")
    if not want:
        problems.append(f"premise: no tags/PatientID holds {pid}")
    report.check(f"{label}: `grep -r -l {pid} MNT` lists each file once, each tags/PatientID "
                 "holding it once, nothing through the views", problems,
                 f"{len(found)} files, {len(got)} tags/PatientID")


# --- template names ------------------------------------------------------------------

def name_ok(name, full):
    """(base, k) when name is the expansion full, or full cut at a character
    boundary to between 235 and 255 bytes (it is longer than 245), + an
    optional ' (k)'; else None."""
    base, k = split_suffix(name)
    for b, kk in [(name, 1)] + ([(base, k)] if k >= 2 else []):
        if b == full:
            return b, kk
        if len(full.encode()) > LINK_MAX and full.startswith(b) and len(b.encode()) >= 235:
            return b, kk
    return None


def check_template_names(report, label, mnt, patients, templates, default_loc=None):
    """Every folder of the tree against the expansion of its level's
    template (or, without one, the default mount's name, default_loc)."""
    by_sop, p0 = read_tree(mnt)
    loc, p1 = locate(patients, by_sop)
    report.check(f"{label}: the tree holds every instance of the truth, grouped as the truth",
                 p0 + p1, f"{len(by_sop)} instances")
    entries, listings = ml.walk_mount(mnt)
    listings = {k: v for k, v in listings.items() if not k.startswith(b".dicomfs")}
    report.check(f"{label}: the name rules hold for every name of the tree (UTF-8, at most "
                 "255 bytes, no '/' or control character, no leading '.', unique)",
                 ml.name_problems(listings))
    for level in LEVELS:
        problems, examples = [], []
        objs = walk_truth(patients, level)
        t = templates.get(level)
        # siblings: objects with the same parent folder
        groups = {}
        for o in objs:
            if o.label not in loc:
                continue
            name = loc[o.label][-1]
            if t is None:
                want = default_loc.get(o.label, (None,))[-1] if default_loc else None
                if name != want:
                    problems.append(f"{'/'.join(loc[o.label])!r}: default name {want!r} expected")
                continue
            full = expand(t, o)
            ok = name_ok(name, full)
            if len(examples) < 3:
                examples.append(name)
            if ok is None:
                problems.append(f"{level} {o.label}: {'/'.join(loc[o.label])!r}, expected "
                                f"{full!r} (cut to 255 bytes, + ' (N)')")
                continue
            if len(name.encode()) > NAME_MAX:
                problems.append(f"{name!r}: {len(name.encode())} bytes")
            groups.setdefault((loc[o.label][:-1], ok[0]), []).append((o.key(), ok[1], o, name))
        collisions = 0
        for (parent, base), members in groups.items():
            members.sort(key=lambda m: m[0])
            ks = [m[1] for m in members]
            if len(members) > 1:
                collisions += 1
            if ks != list(range(1, len(members) + 1)):
                problems.append(f"{'/'.join(parent)}: {len(members)} named {base!r}: "
                                f"{[m[3] for m in members]} in key order ({[m[2].label for m in members]}), "
                                f"expected {base!r}, {base!r} (2) ... in the order of their keys")
        if t:
            title = (f"{level} folders named by -o {level}={t}: each as my expansion of the "
                     "truth, colliding names suffixed ' (2)' in the order of their UIDs")
        else:
            title = f"{level} folders without a template: the default names (as mount 1)"
        report.check(f"{label}: {title}", problems,
                     f"{collisions} collision groups; e.g. {examples}" if t else "")
    return loc


def check_template_expectations(report):
    """Premise: my expansion gives what the contract's own examples say."""
    p = Obj("patient", "x", {"PatientID": "A/B"}, [Obj("study", "y", {"StudyDate": "20240305"})])
    st = p.children[0]
    problems = []
    for t, obj, want in (("{StudyDate:%Y-%m-%d}", st, "2024-03-05"), ("{PatientID}", st, "A_B"),
                         ("{AccessionNumber}", st, "(no AccessionNumber)"),
                         ("{{x}}", st, "{x}"), ("{{{PatientID}}}", st, "{A_B}")):
        got = expand(t, obj)
        if got != want:
            problems.append(f"{t}: {got!r}, expected {want!r}")
    report.check("premise: my template expansion gives the contract's examples", problems)


# --- bad templates -------------------------------------------------------------------

BAD = [
    ("study={NoSuchKeyword}", "unknown keyword", "NoSuchKeyword"),
    ("patient={SeriesNumber}", "a keyword of a lower level (series at the patient level)",
     "SeriesNumber"),
    ("study={Modality}", "a keyword of a lower level (series at the study level)", "Modality"),
    ("series={ReferencedImageSequence}", "a sequence keyword", "ReferencedImageSequence"),
    ("instance={PixelData}", "a binary keyword (OB/OW)", "PixelData"),
    ("study={StudyDate", "an unclosed brace", "{StudyDate"),
    ("series=", "an empty template", "series"),
]


def check_bad_templates(report, exe, src, tmp):
    for opt, why, must in BAD:
        mnt = os.path.join(tmp, "bad")
        os.makedirs(mnt, exist_ok=True)
        m = ml.Mount(exe, src, mnt, foreground=False, args=["-o", f"noindex,{opt}"])
        bound = ml.Bound(BAD_SECONDS, exe)
        ml.waiting_for(f"dicomfs -o {opt} to return")
        try:
            rc, out, err = ml.run(m.argv(), timeout=bound.seconds)
        finally:
            ml.waiting_for(None)
        problems = []
        with open("/proc/self/mounts", encoding="utf-8", errors="surrogateescape") as f:
            mounted = [line for line in f if len(line.split()) > 1
                       and ml.unescape_mount_field(line.split()[1]) == mnt]
        pids = m.find_daemon()
        if mounted or pids:
            problems.append(f"mounted ({len(mounted)} line(s) in /proc/self/mounts) or a "
                            f"process left ({pids})")
            ml.Mount.all_pids.extend(pids)
            m.pid = pids[0] if len(pids) == 1 else None
            ml.Mount.live.append(m)
            m.stop()
        if rc is None:
            problems.append(f"did not return ({bound})")
        elif rc != 1:
            problems.append(f"exit status {rc}, expected 1")
        lines = err.split("\n")
        if lines and lines[-1] == "":
            lines = lines[:-1]
        if len(lines) != 1:
            problems.append(f"{len(lines)} lines on stderr: {err!r}")
        elif not lines[0].startswith("dicomfs: "):
            problems.append(f"stderr {lines[0]!r} does not start with 'dicomfs: '")
        elif must not in lines[0]:
            problems.append(f"stderr {lines[0]!r} does not name {must!r}")
        report.check(f"bad template refused ({why}): `dicomfs -o {opt} SOURCE MNT` exits 1, one "
                     "line on stderr starting with 'dicomfs: ' naming it, nothing mounted "
                     "(/proc/self/mounts), no process left", problems,
                     (lines[0] if len(lines) == 1 else "") if not problems else "")


# --- the run ---------------------------------------------------------------------

class ViewsTest:
    def __init__(self, report, exe, tmp):
        self.report, self.exe, self.tmp = report, exe, tmp
        self.src = os.path.join(tmp, "source")
        self.index = os.path.join(tmp, "main.sqlite")
        self.waits = []

    def mount(self, name, args, src=None):
        m = ml.Mount(self.exe, src or self.src, os.path.join(self.tmp, name), args=args)
        m.start()
        return m

    def wait(self, what, pred, base=CHANGE_SECONDS):
        bound = ml.Bound(base, self.exe)
        ok, took = ml.poll(what, pred, bound, interval=0.05)
        if ok:
            self.waits.append((what, took))
        return ok, took, bound

    def phase(self, name, fn, *args):
        """fn(*args); an exception is reported as a failure of its own and the
        test goes on (the mount is still unmounted by its finally block)."""
        try:
            return fn(*args)
        except Exception:  # noqa: BLE001 - reported
            self.report.check(f"{name}: ran to the end", [traceback.format_exc()])
            return None

    def run(self):
        xdg = os.path.join(self.tmp, "xdg-cache")
        os.makedirs(xdg)
        os.environ["XDG_CACHE_HOME"] = xdg
        self.truth = make_truth()
        write_archive(self.src, self.truth)
        check_archive(self.report, self.src, self.truth)
        check_template_expectations(self.report)
        before = ml.snapshot(self.src)
        self.default_loc = {}

        # mount 1: default names
        m = self.mount("mnt1", ["-o", f"index={self.index}"])
        try:
            vc = ViewCheck(self.report, m.mp, self.truth, "default names")
            self.phase("default names: views", vc.run)
            self.default_loc = getattr(vc, "loc", {})
            self.report.check("premise: some view link names were cut at 245 bytes in the "
                              "middle of a character", vc.mid_char_cuts > 0,
                              f"{vc.mid_char_cuts} such cuts")
            self.phase("default names: find", check_counts, self.report, m.mp, "default names",
                       self.truth)
            self.phase("default names: grep", check_grep, self.report, m.mp, "default names",
                       "PAT001")
        finally:
            self.report.check("unmount (default names)", m.unmount())

        self.phase("template 1", self.template_1)
        self.phase("template 2", self.template_2)
        self.phase("a template on a persistent index", self.template_index)
        self.phase("bad templates", check_bad_templates, self.report, self.exe, self.src, self.tmp)
        self.phase("live", self.check_live)
        if getattr(self, "live_truth", None) is not None:
            self.phase("live with a template", self.check_live_template)

        self.report.check("SOURCE unchanged by the mounts (dicomfs wrote nothing there)",
                          ml.diff_snapshots(before, ml.snapshot(self.src)))
        left = []
        for dirpath, _, files in os.walk(xdg):
            left += [os.path.join(dirpath, f) for f in files]
        self.report.check("nothing written to XDG_CACHE_HOME (every mount had noindex or "
                          "index=)", [f"written: {left[:3]}"] if left else [])
        if self.waits:
            worst = max(self.waits, key=lambda w: w[1])
            print(f"changes waited for: {len(self.waits)}, slowest {worst[1]:.2f} s ({worst[0]})",
                  flush=True)

    def template_1(self):
        """The brief's templates: padding, a date format, missing values, collisions."""
        m = self.mount("mnt2", ["-o", o_arg(TEMPLATE_1, "noindex")])
        try:
            self.phase("template 1: names", check_template_names, self.report, "template 1",
                       m.mp, self.truth, TEMPLATE_1)
            self.phase("template 1: views", ViewCheck(self.report, m.mp, self.truth,
                                                      "template 1 views").run)
            self.phase("template 1: find", check_counts, self.report, m.mp, "template 1",
                       self.truth)
        finally:
            self.report.check("unmount (template 1)", m.unmount())

    def template_2(self):
        """Higher-level keywords, literal braces, a multi-valued value, an
        escaped comma, names cut to 255 bytes and colliding once cut."""
        m = self.mount("mnt3", ["-o", o_arg(TEMPLATE_2, "noindex")])
        try:
            unescaped = {k: v.replace("\\,", ",") for k, v in TEMPLATE_2.items()}
            self.phase("template 2: names", check_template_names, self.report, "template 2",
                       m.mp, self.truth, unescaped)
            self.phase("template 2: views", ViewCheck(self.report, m.mp, self.truth,
                                                      "template 2 views").run)
        finally:
            self.report.check("unmount (template 2)", m.unmount())

    def template_index(self):
        """A template given on mount 1's persistent index, again, then none."""
        args = ["-o", o_arg(TEMPLATE_PATIENT, f"index={self.index}")]
        m = self.mount("mnt4", args)
        loc4 = None
        try:
            loc4 = self.phase("patient template on the index", check_template_names,
                              self.report, "-o patient={PatientID} on mount 1's index", m.mp,
                              self.truth, TEMPLATE_PATIENT, self.default_loc)
        finally:
            self.report.check("unmount (patient template on the index)", m.unmount())
        m = self.mount("mnt5", args)
        try:
            by_sop, _ = read_tree(m.mp)
            loc5, _ = locate(self.truth, by_sop)
            loc4 = loc4 or {}
            diff = [f"{k}: {loc4.get(k)} then {loc5.get(k)}" for k in sorted(set(loc4) | set(loc5))
                    if loc4.get(k) != loc5.get(k)]
            self.report.check("remount with the same template and index: the same names", diff)
        finally:
            self.report.check("unmount (patient template again)", m.unmount())
        m = self.mount("mnt6", ["-o", f"index={self.index}"])
        try:
            self.same_as_default(m.mp, "remount without a template on that index: the default "
                                 "names again (as mount 1)")
        finally:
            self.report.check("unmount (default names again)", m.unmount())
        # the other way: a template on a fresh index, then none on it
        index = os.path.join(self.tmp, "template.sqlite")
        m = self.mount("mnt6b", ["-o", o_arg(TEMPLATE_3, f"index={index}")])
        try:
            self.phase("template 3 on a fresh index", check_template_names, self.report,
                       "template 3 on a fresh index", m.mp, self.truth, TEMPLATE_3,
                       self.default_loc)
        finally:
            self.report.check("unmount (template 3 on a fresh index)", m.unmount())
        m = self.mount("mnt6c", ["-o", f"index={index}"])
        try:
            self.same_as_default(m.mp, "remount without a template on template 3's index: the "
                                 "default names (as mount 1)")
        finally:
            self.report.check("unmount (no template on template 3's index)", m.unmount())

    def same_as_default(self, mnt, title):
        by_sop, _ = read_tree(mnt)
        loc, _ = locate(self.truth, by_sop)
        diff = [f"{k}: {'/'.join(self.default_loc.get(k) or ())!r} then "
                f"{'/'.join(loc.get(k) or ())!r}"
                for k in sorted(set(self.default_loc) | set(loc))
                if self.default_loc.get(k) != loc.get(k)]
        self.report.check(title, diff)

    # --- live --------------------------------------------------------------------
    def check_live(self):
        src = os.path.join(self.tmp, "live-source")
        shutil.copytree(self.src, src)
        truth = copy.deepcopy(self.truth)
        m = self.mount("mnt7", ["-o", f"index={self.tmp}/live.sqlite"], src=src)
        try:
            mnt = m.mp
            view = os.path.join(mnt, ".dicomfs")
            new_uid_a, new_uid_b = uid(1, 901), uid(1, 902)
            # what the kernel may have cached before the change
            cached = {}
            for rel in ("by-uid", "by-date", "by-date/2024/2024-03/2024-03-05", "by-accession",
                        "by-modality", "by-modality/MR", "by-accession/ACC100"):
                cached[rel] = listdir_or_empty(os.path.join(view, rel))
            for rel in (f"by-uid/{new_uid_a}", "by-date/2025", "by-accession/ACCLIVE"):
                try:
                    os.stat(os.path.join(view, rel))
                except OSError:
                    pass
            # two studies, written outside SOURCE, then moved in
            n = [900]

            def inst(number):
                n[0] += 1
                return Obj("instance", f"i{n[0]}", {"SOPInstanceUID": uid(3, n[0]),
                                                    "InstanceNumber": str(number)})
            a = Obj("patient", "PL", {"PatientID": "LIVE1", "PatientName": "Live^New"}, [
                Obj("study", "SL1", {"StudyInstanceUID": new_uid_a, "StudyDate": "20250102",
                                     "StudyDescription": "Live study", "AccessionNumber": "ACCLIVE",
                                     "StudyTime": "090000"}, [
                    Obj("series", "seL1", {"SeriesInstanceUID": uid(2, 901), "SeriesNumber": "1",
                                           "Modality": "MR", "SeriesDescription": "Live"},
                        [inst(1), inst(2)])])])
            p1 = next(p for p in truth if p.label == "P1")
            b = Obj("study", "SL2", {"StudyInstanceUID": new_uid_b, "StudyDate": "20240305",
                                     "StudyDescription": "Live add", "AccessionNumber": "ACC100",
                                     "StudyTime": "120000"}, [
                Obj("series", "seL2", {"SeriesInstanceUID": uid(2, 902), "SeriesNumber": "4",
                                       "Modality": "CT", "SeriesDescription": "Live CT"},
                    [inst(1)])])
            b.parent = p1
            p1.children.append(b)
            truth.append(a)
            staging = os.path.join(self.tmp, "staging")
            write_archive(os.path.join(staging, "a"), [a])
            # b under its patient's attributes, in a folder of its own
            write_archive(os.path.join(staging, "b"), [p1], where={"SL2"})
            os.rename(os.path.join(staging, "a", "PL"), os.path.join(src, "live-a"))
            os.rename(os.path.join(staging, "b", "P1", "SL2"), os.path.join(src, "live-b"))

            def appeared():
                if not os.path.lexists(os.path.join(view, "by-uid", new_uid_a, "study")):
                    return False
                if not os.path.lexists(os.path.join(view, "by-uid", new_uid_b, "study")):
                    return False
                day_a = listdir_or_empty(os.path.join(view, "by-date", "2025", "2025-01",
                                                      "2025-01-02"))
                day_b = listdir_or_empty(os.path.join(view, "by-date", "2024", "2024-03",
                                                      "2024-03-05"))
                return len(day_a) == 1 and len(day_b) == len(cached["by-date/2024/2024-03/2024-03-05"]) + 1

            ok, took, bound = self.wait("two studies moved in to show in by-uid and by-date",
                                        appeared)
            self.report.check("live: two studies moved into SOURCE show in by-uid and by-date "
                              "(one in a new year folder, one in a day folder listed before)",
                              [] if ok else [f"not after {took:.1f} s ({bound})"],
                              f"{took:.2f} s")
            self.live_views(mnt, truth, "live, after two studies moved in")

            # a study removed
            p1_src = os.path.join(src, "P1", "S2")
            gone_uid = uid(1, 2)
            was_there = os.path.lexists(os.path.join(view, "by-uid", gone_uid, "study"))
            shutil.rmtree(p1_src)
            s2 = next(s for s in p1.children if s.label == "S2")
            p1.children.remove(s2)
            ok, took, bound = self.wait(
                "a removed study to leave by-uid",
                lambda: not os.path.lexists(os.path.join(view, "by-uid", gone_uid)))
            problems = [] if ok else [f"by-uid/{gone_uid} still there after {took:.1f} s "
                                      f"({bound})"]
            if not was_there:
                problems.append(f"premise: by-uid/{gone_uid}/study was not there before")
            self.report.check("live: a study removed from SOURCE leaves by-uid", problems,
                              f"{took:.2f} s")
            self.live_views(mnt, truth, "live, after a study removed")
        finally:
            self.report.check("unmount (live)", m.unmount())
        self.live_src, self.live_truth = src, truth

    def check_live_template(self):
        """Template 1 on the live source: a study moved in whose name collides
        with a sibling's gets the template's name + ' (2)' (its UID is the
        greater, so the order of the UIDs and 'a new sibling is named around
        the names shown' agree), and the views follow with the template's
        names."""
        src, truth = self.live_src, self.live_truth
        m = self.mount("mnt8", ["-o", o_arg(TEMPLATE_1, "noindex")], src=src)
        try:
            view = os.path.join(m.mp, ".dicomfs")
            p5 = next(p for p in truth if p.label == "P5")
            new_uid = uid(1, 903)
            st = Obj("study", "SL3", {"StudyInstanceUID": new_uid, "StudyDate": "20230714",
                                      "StudyDescription": "Live again", "AccessionNumber": "ACC300",
                                      "StudyTime": "130000"}, [
                Obj("series", "seL3", {"SeriesInstanceUID": uid(2, 903), "SeriesNumber": "1",
                                       "Modality": "CT", "SeriesDescription": "Head"}, [
                    Obj("instance", "i950", {"SOPInstanceUID": uid(3, 950),
                                             "InstanceNumber": "1"})])])
            st.parent = p5
            p5.children.append(st)
            staging = os.path.join(self.tmp, "staging")
            write_archive(os.path.join(staging, "c"), [p5], where={"SL3"})
            os.rename(os.path.join(staging, "c", "P5", "SL3"), os.path.join(src, "live-c"))
            ok, took, bound = self.wait(
                "a study moved in under a template to show in by-uid",
                lambda: os.path.lexists(os.path.join(view, "by-uid", new_uid, uid(2, 903),
                                                     uid(3, 950))))
            self.report.check("live with template 1: a study moved in shows in by-uid",
                              [] if ok else [f"not after {took:.1f} s ({bound})"], f"{took:.2f} s")
            self.phase("live with template 1: names", check_template_names, self.report,
                       "live with template 1, after a study moved in", m.mp, truth, TEMPLATE_1)
            self.live_views(m.mp, truth, "live with template 1, after a study moved in")
        finally:
            self.report.check("unmount (live with template 1)", m.unmount())

    def live_views(self, mnt, truth, label):
        """Every view as the new truth says: polled (the tree and the views may
        settle a moment after the first sign), then checked once more with
        its report lines."""
        vc = ViewCheck(self.report, mnt, truth, label)
        ok, took, bound = self.wait(f"{label}: the views to match the truth",
                                    lambda: not vc.run(quiet=True))
        if not ok:
            print(f"note: {label}: the views still differ after {took:.1f} s ({bound})",
                  flush=True)
        vc.run()


def main():
    exe = os.path.abspath((sys.argv + [""])[1])
    return ml.run_test(__doc__, 3, "dicomfs-views-test.", WATCHDOG_SECONDS,
                       lambda report, tmp: ViewsTest(report, exe, tmp).run(),
                       needs=("pydicom",), tools=("fusermount3", "find", "grep", "readlink"))


if __name__ == "__main__":
    sys.exit(main())
