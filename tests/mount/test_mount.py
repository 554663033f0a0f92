#!/usr/bin/python3
"""Real-mount tests of dicomfs (issue 3), against independent oracles.

    /usr/bin/python3 tests/mount/test_mount.py path/to/dicomfs SOURCE_ROOT

SOURCE_ROOT is the repository (for scripts/make-archive.py).  In a temporary
folder this generates the test archive (`make-archive.py OUT --preset test`:
OUT/source and OUT/truth.json) and a small extra source (pydicom's CT_small.dcm
and test-SR.dcm, and a file written here with a ReferencedImageSequence and a
private block), mounts them with dicomfs and checks, one line per check:

   1  the tree against truth.json: every instance found through
      .dicomfs/instances.tsv by SOP Instance UID and source path, grouping
      and counts per level, the level tables and level tags/;
   2  the name rules of README "Names" on every name, the expected names from
      truth.json and the documented placeholders, and the same listing on a
      second mount (made the documented way, `dicomfs SOURCE MNT`);
   3  attribute files against dcmdump +U8 -Un +L (and pydicom for text dcmdump
      cannot convert): by keyword, by 8 hex digits, private tags, sequence
      items; `ls tags/` lists each element once; no Pixel Data file;
   4  header.json against dcm2json semantically, through
      tests/oracle/json_oracle.py when it imports (dcm2json on a copy without
      encapsulated Pixel Data, which it refuses to write; pydicom's JSON where
      DCMTK cannot convert the character set), group 0002 against pydicom;
   5  instance.dcm byte-equal to the source file;
   6  `grep -rl CT MNT/*/*/*/tags/Modality`, `grep -r DESC MNT --include=StudyDescription`,
      and `grep -r` meeting a public tag once (not again by its hex name);
   7  `find`, every file readable to its st_size, `ls -l` sizes against
      `wc -c`, mmap, tail, cp, stable inodes, instance files' mtime, and a
      series folder of 10,001 instances listing completely (all numbered 1:
      their ' (N)' suffixes follow the SOP Instance UIDs);
   8  EROFS for every kind of write;
   9  .dicomfs/errors.tsv and .dicomfs/status against truth.json;
  10  SIGTERM and SIGINT of `dicomfs -f` unmount cleanly;
  11  command-line errors: one line on stderr, non-zero exit, nothing mounted;
  12  the sources unchanged (sha256, names, mtimes), nothing created beside them;
and finally that no dicomfs process started here and no mount remains.

The last line is `N passed, N failed`; exit status 1 on any failure, 77
(skip) when /dev/fuse is missing.  DICOMFS_TEST_VERBOSE=1 shows every
problem of a failing check instead of the first few.
"""

import errno
import filecmp
import json
import mmap
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import time
import traceback
import warnings

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
warnings.simplefilter("ignore", UserWarning)  # pydicom on the archive's over-long values
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402

WATCHDOG_SECONDS = 270  # meson's timeout is 300
PYDICOM_TEST_FILES = "/usr/lib/python3/dist-packages/pydicom/data/test_files"
INSTANCE_COLUMNS = ["path", "InstanceNumber", "SOPInstanceUID", "SOPClassUID",
                    "TransferSyntaxUID", "SourcePath", "SourceSize"]
PLACEHOLDERS = {"name": "(no name)", "id": "no ID", "date": "(no date)",
                "number": "(no number)", "modality": "(no modality)"}
DICOMDIR_CLASS = "1.2.840.10008.1.3.10"


# ---------------------------------------------------------------- truth

def truth_instances(truth):
    """[(patient index, study index, series index, instance dict, levels)]"""
    out = []
    for pi, p in enumerate(truth["patients"]):
        for si, st in enumerate(p["studies"]):
            for ei, se in enumerate(st["series"]):
                for inst in se["instances"]:
                    out.append(((pi, si, ei), inst, (p, st, se)))
    return out


# ---------------------------------------------------------------- extra source

def make_extra_source(extra):
    """pydicom's CT_small.dcm (private tags of a real scanner) and test-SR.dcm
    (nested sequences), and refseq.dcm written here: a ReferencedImageSequence
    of two items, a private block, multi-valued numbers of every kind, Latin-1
    text, an LT with a line break and a backslash, a 300-byte OB."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.tag import Tag
    src = os.path.join(extra, "source")
    os.makedirs(src)
    shutil.copy(os.path.join(PYDICOM_TEST_FILES, "CT_small.dcm"), os.path.join(src, "CT_small.dcm"))
    shutil.copy(os.path.join(PYDICOM_TEST_FILES, "test-SR.dcm"), os.path.join(src, "test-SR.dcm"))
    uid = "2.25.%d"
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = uid % 31415926535897932384626433832795
    ds.StudyInstanceUID = uid % 27182818284590452353602874713526
    ds.SeriesInstanceUID = uid % 14142135623730950488016887242096
    ds.PatientName = "Référence^Séquence"
    ds.PatientID = "REF-SEQ-1"
    ds.StudyDate, ds.StudyTime = "20230405", "120000"
    ds.StudyDescription = "Sequence and private tags"
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", 5, 7
    ds.InstitutionName = "Hôpital Zürich"
    ds.ImageComments = "line one\r\nline two \\ not a separator"
    ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"]
    ds.ImagePositionPatient = ["-158.135803", "2.25", "3.5e-05"]
    ds.AcquisitionMatrix = [0, 256, 256, 0]
    ds.RecommendedDisplayFrameRateInFloat = 29.97
    ds.add_new(0x00189087, "FD", [1000.5, 1e-300, -2.5])  # DiffusionBValue (VM 1, two extra)
    ds.FrameIncrementPointer = Tag(0x00181063)
    ds.ReferencedImageSequence = []
    for n in (1, 2):
        item = Dataset()
        item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        item.ReferencedSOPInstanceUID = uid % (10 ** 30 + n)
        if n == 2:
            item.ReferencedFrameNumber = [1, 2, 3]
        ds.ReferencedImageSequence.append(item)
    block = ds.private_block(0x0029, "DICOMFS TEST", create=True)
    block.add_new(0x10, "LO", "private text")
    block.add_new(0x11, "OB", bytes(range(256)) + bytes(44))
    block.add_new(0x12, "US", [1, 2, 65535])
    block.add_new(0x13, "SL", [-5, 7])
    ds.Rows = ds.Columns = 4
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = bytes(range(32))
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    ds.file_meta = meta
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(os.path.join(src, "refseq.dcm"), write_like_original=False)
    return src


# ---------------------------------------------------------------- the test

# Files whose text changes while mounted (counters moving with the test's
# own reads and the daemon's read-ahead): stat'ed again right before each
# read, not taken from the walk's stat.
LIVE_FILES = (b".dicomfs/status", b".dicomfs/errors.tsv")


def stat_and_read_live(path):
    """A live file's stat and the read right after it.  A counter may move
    between the two (read-ahead finishing in the background): then the
    pair is taken again, at most 3 times; the last pair is returned."""
    for _ in range(3):
        st = os.stat(path)
        data = ml.read_bytes(path)
        if len(data) == st.st_size:
            break
    return st, data


class MountTest:
    def __init__(self, report, exe, repo, tmp):
        self.r = report
        self.exe = exe
        self.repo = repo
        self.tmp = tmp
        self.arch = os.path.join(tmp, "arch")
        self.source = os.path.join(self.arch, "source")
        self.extra = os.path.join(tmp, "extra")
        self.mnt = os.path.join(tmp, "mnt-a")
        self.truth = None
        self.after_pixels = []  # elements after Pixel Data: shown in tags/ and header.json?

    def check(self, name, problems, note=""):
        return self.r.check(name, problems, note)

    # ------------------------------------------------------------ setup
    def generate(self):
        t0 = time.monotonic()
        rc, out, err = ml.run([sys.executable, os.path.join(self.repo, "scripts", "make-archive.py"),
                               self.arch, "--preset", "test"], timeout=120)
        ok = rc == 0 and os.path.isfile(os.path.join(self.arch, "truth.json"))
        self.check("setup: make-archive.py --preset test", [] if ok else [f"exit {rc}: {err.strip()[-500:]}"],
                   f"{time.monotonic() - t0:.1f} s")
        if not ok:
            return False
        with open(os.path.join(self.arch, "truth.json"), encoding="utf-8") as f:
            self.truth = json.load(f)
        self.instances = truth_instances(self.truth)
        self.extra_source = make_extra_source(self.extra)
        self.snapshots = {root: ml.snapshot(root) for root in (self.arch, self.extra)}
        return True

    def mount(self, source, mp, **kw):
        m = ml.Mount(self.exe, source, mp, log_dir=self.tmp, **kw)
        m.start()
        return m

    # ------------------------------------------------------------ 1: the tree
    def check_tree(self):
        mnt = self.mnt
        header, rows, problems = ml.read_tsv(os.path.join(mnt, ".dicomfs", "instances.tsv"))
        if header != INSTANCE_COLUMNS:
            problems.append(f"instances.tsv columns {header}, expected {INSTANCE_COLUMNS}")
        self.rows = rows
        by_key = {}
        for row in rows:
            by_key.setdefault((row.get("SOPInstanceUID"), row.get("SourcePath")), []).append(row)
        found = {}  # truth instance number -> row
        for n, (ids, inst, levels) in enumerate(self.instances):
            key = (inst["SOPInstanceUID"], inst["path"])
            hits = by_key.get(key, [])
            if len(hits) != 1:
                problems.append(f"{inst['path']}: {len(hits)} rows in instances.tsv for its SOP UID and path")
                continue
            row = hits[0]
            found[n] = row
            parts = row["path"].split("/")
            folder = os.path.join(mnt, row["path"])
            if len(parts) != 4:
                problems.append(f"{inst['path']}: path {row['path']!r} is not patient/study/series/instance")
            if not os.path.isdir(folder):
                problems.append(f"{inst['path']}: {row['path']!r} is not a folder of the mount")
                continue
            try:
                uid = ml.read_text(os.path.join(folder, "tags", "SOPInstanceUID"))
            except OSError as e:
                uid = repr(e)
            if uid != inst["SOPInstanceUID"] + "\n":
                problems.append(f"{row['path']}/tags/SOPInstanceUID is {uid!r}")
            expect = {"InstanceNumber": "" if inst["InstanceNumber"] is None else str(inst["InstanceNumber"]),
                      "SOPClassUID": inst["SOPClassUID"], "TransferSyntaxUID": inst["transfer_syntax"],
                      "SourceSize": str(os.path.getsize(os.path.join(self.source, inst["path"])))}
            for col, want in expect.items():
                if col == "TransferSyntaxUID" and row.get(col) == "" and not ml.has_file_meta(
                        os.path.join(self.source, inst["path"])):
                    continue  # no File Meta, no (0002,0010): empty is as good as the detected one
                if row.get(col) != want:
                    problems.append(f"{inst['path']}: instances.tsv {col} {row.get(col)!r}, expected {want!r}")
        extra = [r for r in rows if (r.get("SOPInstanceUID"), r.get("SourcePath")) not in
                 {(i["SOPInstanceUID"], i["path"]) for _, i, _ in self.instances}]
        for r in extra:
            problems.append(f"instances.tsv row not in truth: {r.get('SourcePath')!r}")
        self.found = found
        self.check("1 instances.tsv: every truth instance once, by SOP Instance UID and source path",
                   problems, f"{len(found)} of {len(self.instances)}")

        # The duplicates: both files appear, in different folders.
        problems = []
        for uid in self.truth["duplicates"]:
            paths = [found[n]["path"] for n, (_, i, _) in enumerate(self.instances)
                     if i["SOPInstanceUID"] == uid and n in found]
            want = sum(1 for _, i, _ in self.instances if i["SOPInstanceUID"] == uid)
            if len(set(paths)) != want or want < 2:
                problems.append(f"{uid}: {len(set(paths))} folders {paths}, truth has {want} files")
        self.check("1 duplicate SOP Instance UIDs: every file is its own instance folder", problems,
                   f"{len(self.truth['duplicates'])} UIDs")

        # Grouping: each truth patient/study/series is exactly one folder, and
        # different ones are different folders.
        problems = []
        self.folder_of = {}
        for depth, level in ((1, "patient"), (2, "study"), (3, "series")):
            folders = {}
            for n, (ids, inst, _) in enumerate(self.instances):
                if n in found:
                    folders.setdefault(ids[:depth], set()).add("/".join(found[n]["path"].split("/")[:depth]))
            owners = {}
            for ids, fs in folders.items():
                if len(fs) != 1:
                    problems.append(f"truth {level} {ids} spread over {sorted(fs)}")
                for f in fs:
                    owners.setdefault(f, set()).add(ids)
                self.folder_of[ids] = sorted(fs)[0]
            for f, ids in owners.items():
                if len(ids) > 1:
                    problems.append(f"{level} folder {f!r} merges truth {level}s {sorted(ids)}")
        self.check("1 grouping: one folder per truth patient, study and series", problems)

        # Counts per level, from the folders themselves.
        problems = []
        t = self.truth
        patients = [n for n in os.listdir(mnt) if n != ".dicomfs"]
        if len(patients) != len(t["patients"]):
            problems.append(f"{len(patients)} patient folders, truth {len(t['patients'])}")
        n_st = n_se = n_in = 0
        for pi, p in enumerate(t["patients"]):
            pf = self.folder_of.get((pi,))
            if pf is None:
                continue
            studies = [x for x in os.listdir(os.path.join(mnt, pf)) if x != "tags"]
            n_st += len(studies)
            if len(studies) != len(p["studies"]):
                problems.append(f"{pf}: {len(studies)} studies, truth {len(p['studies'])}")
            for si, st in enumerate(p["studies"]):
                sf = self.folder_of.get((pi, si))
                if sf is None:
                    continue
                series = [x for x in os.listdir(os.path.join(mnt, sf)) if x != "tags"]
                n_se += len(series)
                if len(series) != len(st["series"]):
                    problems.append(f"{sf}: {len(series)} series, truth {len(st['series'])}")
                for ei, se in enumerate(st["series"]):
                    ef = self.folder_of.get((pi, si, ei))
                    if ef is None:
                        continue
                    insts = [x for x in os.listdir(os.path.join(mnt, ef)) if x not in ("tags", "volume")]
                    n_in += len(insts)
                    if len(insts) != len(se["instances"]):
                        problems.append(f"{ef}: {len(insts)} instances, truth {len(se['instances'])}")
        self.check("1 counts per level (patients, studies, series, instances)", problems,
                   f"{len(patients)} / {n_st} / {n_se} / {n_in}")

        # The level tables: one row per folder, with the truth's values.
        problems = []
        specs = (("patients.tsv", 1, lambda ids: t["patients"][ids[0]],
                  {"PatientID": "PatientID", "IssuerOfPatientID": "IssuerOfPatientID",
                   "PatientName": "PatientName"}),
                 ("studies.tsv", 2, lambda ids: t["patients"][ids[0]]["studies"][ids[1]],
                  {"StudyInstanceUID": "StudyInstanceUID", "StudyDate": "StudyDate",
                   "StudyDescription": "StudyDescription"}),
                 ("series.tsv", 3, lambda ids: t["patients"][ids[0]]["studies"][ids[1]]["series"][ids[2]],
                  {"SeriesInstanceUID": "SeriesInstanceUID", "SeriesNumber": "SeriesNumber",
                   "Modality": "Modality", "SeriesDescription": "SeriesDescription"}))
        for fname, depth, get, cols in specs:
            header, trows, probs = ml.read_tsv(os.path.join(mnt, ".dicomfs", fname))
            problems += probs
            by_path = {}
            for row in trows:
                by_path.setdefault(row["path"], []).append(row)
            want = {f: ids for ids, f in self.folder_of.items() if len(ids) == depth}
            for path in sorted(set(by_path) - set(want)):
                problems.append(f"{fname}: row for unknown folder {path!r}")
            for path, ids in sorted(want.items()):
                rs = by_path.get(path, [])
                if len(rs) != 1:
                    problems.append(f"{fname}: {len(rs)} rows for {path!r}")
                    continue
                obj = get(ids)
                for col, key in cols.items():
                    v = obj[key]
                    want_v = "" if v is None else str(v)
                    want_v = re.sub(r"[\t\r\n]", " ", want_v)
                    if col not in rs[0]:
                        problems.append(f"{fname}: no column {col}")
                    elif rs[0][col] != want_v:
                        problems.append(f"{fname} {path!r} {col}: {rs[0][col]!r}, truth {want_v!r}")
        self.check("1 patients.tsv, studies.tsv, series.tsv: one row per folder, truth's values", problems)

        # Level tags/: the truth's values, a file per attribute.
        problems = []
        for ids, folder in sorted(self.folder_of.items()):
            obj = [t["patients"][ids[0]]]
            if len(ids) > 1:
                obj.append(obj[-1]["studies"][ids[1]])
            if len(ids) > 2:
                obj.append(obj[-1]["series"][ids[2]])
            obj = obj[-1]
            for key, v in obj.items():
                if isinstance(v, list) or key in ("path",):
                    continue
                f = os.path.join(mnt, folder, "tags", key)
                try:
                    got = ml.read_text(f)
                except FileNotFoundError:
                    got = None
                if v is None:
                    if got not in (None, "\n"):
                        problems.append(f"{folder}/tags/{key}: {got!r}, truth has no value")
                elif got is None:
                    problems.append(f"{folder}/tags/{key}: missing, truth {v!r}")
                elif (got[:-1] if got.endswith("\n") else None) != str(v) and not (
                        isinstance(v, int) and got.strip().isdigit() and int(got) == v):
                    problems.append(f"{folder}/tags/{key}: {got!r}, truth {v!r}")
        self.check("1 level tags/ (patient, study, series) hold the truth's values", problems)

    # ------------------------------------------------------------ 2: names
    def expected_names(self):
        """{ids: set of acceptable uncut, unsuffixed folder names} for every
        patient, study and series, and {parent ids: [(ids, key)]} of their
        siblings, from truth.json and README "Names".  Two readings are
        accepted where README is not exact: the '_' before a leading '.' put
        on the whole name (README) or on each value (core/names.h); values
        trimmed of spaces (what a name ending in a space would look like is
        not documented)."""
        t = self.truth

        def clean(v, dot):
            v = "".join(" " if ml.is_control(c) else c for c in v).replace("/", "_").strip()
            if dot and v.startswith("."):
                v = "_" + v
            return v

        def finish(name):
            return "_" + name if name.startswith(".") else name

        def width(values):
            nums = [len(str(v)) for v in values if isinstance(v, int) and v >= 0]
            return max(nums) if nums else 0

        def variants(parts):
            """parts: [(value or None, placeholder or None)]"""
            out = set()
            for dot in (True, False):
                words = []
                for v, ph in parts:
                    s = clean(v, dot) if v is not None else ""
                    if not s:
                        if ph is None:
                            continue
                        s = ph
                    words.append(s)
                out.add(finish(" ".join(words)))
            return out

        base, siblings = {}, {}
        for pi, p in enumerate(t["patients"]):
            ids = (pi,)
            base[ids] = {finish(a + " [" + b + "]")
                         for a in variants([(p["PatientName"], PLACEHOLDERS["name"])])
                         for b in variants([(p["PatientID"], PLACEHOLDERS["id"])])}
            siblings.setdefault((), []).append((ids, "%s\x1f%s" % (p["PatientID"], p["IssuerOfPatientID"])))
            for si, st in enumerate(p["studies"]):
                d = st["StudyDate"]
                date = f"{d[:4]}-{d[4:6]}-{d[6:8]}" if d and re.fullmatch(r"\d{8}", d) else None
                base[(pi, si)] = variants([(date, PLACEHOLDERS["date"]), (st["StudyDescription"], None)])
                siblings.setdefault((pi,), []).append(((pi, si), st["StudyInstanceUID"]))
                w = width([se["SeriesNumber"] for se in st["series"]])
                for ei, se in enumerate(st["series"]):
                    base[(pi, si, ei)] = variants([(ml_num(se["SeriesNumber"], w), None),
                                                   (se["Modality"], PLACEHOLDERS["modality"]),
                                                   (se["SeriesDescription"], None)])
                    siblings.setdefault((pi, si), []).append(((pi, si, ei), se["SeriesInstanceUID"]))
        # Instances: InstanceNumber zero-padded to the widest sibling, or the
        # placeholder.  Keyed by the instance's position in self.instances.
        series = {}
        for n, (ids, inst, _) in enumerate(self.instances):
            series.setdefault(ids, []).append(n)
        for ids, ns in series.items():
            w = max([len(str(self.instances[n][1]["InstanceNumber"])) for n in ns
                     if self.instances[n][1]["InstanceNumber"] is not None] or [0])
            for n in ns:
                base[("i", n)] = {ml_num(self.instances[n][1]["InstanceNumber"], w)}
                siblings.setdefault(("i",) + ids, []).append((("i", n), self.instances[n][1]["SOPInstanceUID"]))
        return base, siblings

    @staticmethod
    def name_matches(got, want):
        """got is want, or want (too long) cut at a character boundary to at
        most 255 bytes (README does not say where: dicomfs leaves room for a
        suffix), or either with a ' (N)' suffix.  Returns the suffix number
        (1 for none) or None."""
        m = re.fullmatch(r"(.*) \((\d+)\)", got, re.S)
        tries = [(got, 1)] + ([(m.group(1), int(m.group(2)))] if m and int(m.group(2)) >= 2 else [])
        wb = want.encode("utf-8")
        for g, k in tries:
            if g == want:
                return k
            gb = g.encode("utf-8")
            if len(wb) > 255 and 200 <= len(gb) and len(got.encode("utf-8")) <= 255 and wb.startswith(gb):
                return k
        return None

    def check_names(self):
        entries, listings = ml.walk_mount(self.mnt)
        self.entries, self.listings = entries, listings
        self.check("2 name rules on every name (UTF-8, <= 255 bytes, no '/', NUL, control, leading '.', "
                   "unique among siblings)", ml.name_problems(listings), f"{len(entries)} entries")

        base, siblings = self.expected_names()
        actual = {ids: folder.split("/")[-1] for ids, folder in self.folder_of.items()}
        actual.update({("i", n): row["path"].split("/")[-1] for n, row in self.found.items()})
        problems, suffix_problems = [], []
        suffix_of = {}
        for ids, got in sorted(actual.items(), key=str):
            hits = [(self.name_matches(got, w), w) for w in base.get(ids, ())]
            hits = [(k, w) for k, w in hits if k is not None]
            if not hits:
                problems.append(f"{got!r}: expected {sorted(base.get(ids, ()))}")
            else:
                suffix_of[ids] = hits[0]
        self.check("2 names as README documents: values, placeholders, zero-padding, '/' -> '_', "
                   "control -> space, '_' before '.', cut at 255 bytes", problems,
                   f"{len(actual)} patients, studies, series and instances")

        # Equal names among siblings: " (2)", " (3)" ... in the order of
        # their UIDs (equal UIDs, the duplicates, may take either place).
        n_groups = 0
        for parent, kids in siblings.items():
            groups = {}
            for ids, key in kids:
                if ids in suffix_of:
                    groups.setdefault(suffix_of[ids][1], []).append((key, ids))
            for name, group in groups.items():
                if len(group) < 2:
                    continue
                n_groups += 1
                group.sort()
                keys = [k for k, _ in group]
                for key, ids in group:
                    allowed = range(keys.index(key) + 1, len(keys) - keys[::-1].index(key) + 1)
                    if suffix_of[ids][0] not in allowed:
                        suffix_problems.append(
                            f"{actual[ids]!r} (UID {key[:24]}...): expected suffix number in "
                            f"{list(allowed)} by UID order among {len(group)} siblings named {name!r}")
        self.check("2 siblings with the same name get ' (2)', ' (3)' ... in the order of their UIDs",
                   suffix_problems, f"{n_groups} groups")

        # The placeholders the test archive exercises, by name.
        problems = []
        names = {os.fsdecode(p).split("/")[-1] for p in entries}
        for want in ("(no date)", "(no number) CT", "(no modality)", "[no ID]"):
            if not any(want in x for x in names):
                problems.append(f"no name contains {want!r}")
        if "(no number)" not in names:
            problems.append("no instance folder named '(no number)'")
        self.check("2 placeholders: (no date), (no number), (no modality), no ID", problems)

    def listing_of(self, mnt):
        """Everything a remount must show the same: every path with its type
        and size, and the .dicomfs tables."""
        entries, _ = ml.walk_mount(mnt)
        # .dicomfs/status reports this mount's own work (files read, whether
        # the persistent index was new or reused): it is not a name or a table.
        out = {p: ("d" if d else "f", 0 if d else st.st_size) for p, (d, st) in entries.items()
               if not p.endswith(b".dicomfs/status")}
        tables = {}
        for name in sorted(os.listdir(os.path.join(mnt, ".dicomfs"))):
            if name != "status" and os.path.isfile(os.path.join(mnt, ".dicomfs", name)):
                tables[name] = ml.read_bytes(os.path.join(mnt, ".dicomfs", name))
        return out, tables

    def check_remount(self, first):
        mp = os.path.join(self.tmp, "mnt-b")
        try:
            m = self.mount(self.source, mp, foreground=False)
        except ml.MountError as e:
            self.check("2 second mount the documented way (`dicomfs SOURCE MNT` daemonizes, mount up on return)",
                       [str(e)])
            return
        self.check("2 second mount the documented way (`dicomfs SOURCE MNT` daemonizes, mount up on return)",
                   [], f"pid {m.pid}, {m.start_seconds:.2f} s")
        try:
            second = self.listing_of(mp)
        finally:
            probs = m.unmount()
        problems = []
        a, b = first[0], second[0]
        for p in sorted(set(a) | set(b)):
            if a.get(p) != b.get(p):
                problems.append(f"{os.fsdecode(p)!r}: first {a.get(p)}, second {b.get(p)}")
        for name in sorted(set(first[1]) | set(second[1])):
            if first[1].get(name) != second[1].get(name):
                problems.append(f".dicomfs/{name} differs")
        self.check("2 names stable across a remount (full listing, sizes and .dicomfs tables equal)",
                   problems, f"{len(a)} entries")
        self.check("2 the daemon exits when unmounted (fusermount3 -u)", probs)

    # ------------------------------------------------------------ 3, 4, 5: files
    def instance_pairs(self):
        """[(instance folder in the mount, source file)] of the archive."""
        return [(os.path.join(self.mnt, self.found[n]["path"]),
                 os.path.join(self.source, inst["path"]))
                for n, (_, inst, _) in enumerate(self.instances) if n in self.found]

    def check_attributes(self, pairs, label):
        import pydicom
        from pydicom.datadict import keyword_for_tag
        problems, hex_problems, list_problems, pixel_problems, charset_problems = [], [], [], [], []
        after_pixels = []
        n_values = n_hex = n_charset = 0
        unconverted = 0
        for folder, src in pairs:
            try:
                recs, converted = ml.dcmdump_records(src)
            except (RuntimeError, ValueError) as e:
                problems.append(f"{src}: {e}")
                continue
            unconverted += not converted
            ds = pydicom.dcmread(src, force=True)

            def name_of(tag):
                kw = "" if (tag >> 16) & 1 else keyword_for_tag(tag)
                return kw or f"{tag:08X}"

            expected = {}  # tags-relative folder -> names
            for rec in recs:
                parts = []
                for seq, item in rec.path:
                    parts += [name_of(seq), str(item)]
                parent = "/".join(parts)
                if rec.tag == ml.PIXEL_DATA:
                    continue
                if not rec.path and rec.tag > ml.PIXEL_DATA:
                    after_pixels.append(f"{os.path.relpath(folder, self.tmp)}: ({rec.tag >> 16:04X},"
                                        f"{rec.tag & 0xFFFF:04X}) {rec.name} after Pixel Data: "
                                        + ("listed" if name_of(rec.tag) in os.listdir(
                                            os.path.join(folder, "tags")) else "not shown"))
                    expected.setdefault(parent, []).append(name_of(rec.tag))
                    continue
                expected.setdefault(parent, []).append(name_of(rec.tag))
                rel = "/".join(parts + [name_of(rec.tag)])
                full = os.path.join(folder, "tags", rel)
                where = f"{os.path.relpath(folder, self.tmp)}/tags/{rel}"
                if rec.vr == "SQ":
                    expected.setdefault(rel, [])
                    expected[rel] += [str(i) for i in range(1, rec.items + 1)]
                    for i in range(1, rec.items + 1):
                        expected.setdefault(f"{rel}/{i}", [])
                    if not os.path.isdir(full):
                        problems.append(f"{where}: not a folder")
                    continue
                try:
                    content = ml.read_bytes(full).decode("utf-8")
                except (OSError, UnicodeDecodeError) as e:
                    problems.append(f"{where}: {e}")
                    continue
                n_values += 1
                if not content.endswith("\n"):
                    problems.append(f"{where}: no final newline: {content[-40:]!r}")
                ours = content[:-1] if content.endswith("\n") else content
                charset_text = rec.vr in ml.CHARSET_VRS
                if charset_text or (not converted and rec.vr in ml.TEXT_VRS):
                    try:
                        theirs = ml.pydicom_text(ml.pydicom_element(ds, rec.key()))
                    except (KeyError, IndexError, TypeError) as e:
                        theirs = None
                        charset_problems.append(f"{where}: pydicom has no such element ({e})")
                    if theirs is not None:
                        n_charset += 1
                        if ml.split_values(rec.vr, theirs) != ml.split_values(rec.vr, ours):
                            charset_problems.append(f"{where}: ours {ours!r}, pydicom {theirs!r}")
                if converted or not charset_text:
                    bad = ml.compare_value(rec.vr, rec.value, ours, rec.length)
                    if bad:
                        problems.append(f"{where}: {bad}")
                # The same public element by its 8 hex digits.
                if not rec.path and name_of(rec.tag) != f"{rec.tag:08X}":
                    n_hex += 1
                    try:
                        alias = ml.read_bytes(os.path.join(folder, "tags", f"{rec.tag:08X}")).decode("utf-8")
                    except (OSError, UnicodeDecodeError) as e:
                        alias = repr(e)
                    if alias != content:
                        hex_problems.append(f"{where}: tags/{rec.tag:08X} is {alias[:60]!r}, "
                                            f"tags/{name_of(rec.tag)} {content[:60]!r}")
            # ls tags/ (and every item folder): each element once, nothing else.
            for rel, names in expected.items():
                full = os.path.join(folder, "tags", rel) if rel else os.path.join(folder, "tags")
                try:
                    listed = os.listdir(full)
                except OSError as e:
                    list_problems.append(f"{full}: {e}")
                    continue
                shown = f"{os.path.relpath(folder, self.tmp)}/tags/{rel}"
                want = sorted(names)
                if sorted(listed) != want:
                    missing = sorted(set(want) - set(listed))
                    extra = sorted(set(listed) - set(want))
                    dups = sorted({x for x in listed if listed.count(x) > 1})
                    list_problems.append(f"{shown}: missing {missing[:6]}, not expected {extra[:6]}, "
                                         f"listed more than once {dups[:6]}")
            for name in ("PixelData", "7FE00010"):
                if os.path.lexists(os.path.join(folder, "tags", name)):
                    pixel_problems.append(f"{folder}/tags/{name} exists")
        note = f"{len(pairs)} files, {n_values} values"
        if unconverted:
            note += f", {unconverted} files DCMTK cannot convert to UTF-8: their text from pydicom"
        self.check(f"3 cat tags/<Keyword> and item folders against dcmdump +U8 -Un +L ({label})", problems, note)
        self.check(f"3 cat tags/<8 hex digits> equals tags/<Keyword> for every public tag ({label})",
                   hex_problems, f"{n_hex} tags")
        self.check(f"3 text of character-set VRs against pydicom ({label})", charset_problems,
                   f"{n_charset} values")
        self.check(f"3 ls tags/: every element once (keyword; private and unknown by 8 hex digits), "
                   f"items 1..N ({label})", list_problems)
        self.check(f"3 Pixel Data is not an attribute file ({label})", pixel_problems)
        self.after_pixels += after_pixels

    def check_named_attributes(self, extra_mnt):
        """The brief's explicit examples, against pydicom."""
        import pydicom
        header, rows, problems = ml.read_tsv(os.path.join(extra_mnt, ".dicomfs", "instances.tsv"))
        by_src = {r["SourcePath"]: r["path"] for r in rows}
        folder = os.path.join(extra_mnt, by_src.get("refseq.dcm", "?"))
        ds = pydicom.dcmread(os.path.join(self.extra_source, "refseq.dcm"))

        def cat(rel):
            try:
                return ml.read_text(os.path.join(folder, "tags", rel))
            except OSError as e:
                return repr(e)
        for n in (1, 2):
            got = cat(f"ReferencedImageSequence/{n}/ReferencedSOPInstanceUID")
            want = ds.ReferencedImageSequence[n - 1].ReferencedSOPInstanceUID + "\n"
            if got != want:
                problems.append(f"ReferencedImageSequence/{n}/ReferencedSOPInstanceUID: {got!r}, pydicom {want!r}")
        got = cat("ReferencedImageSequence/2/ReferencedFrameNumber")
        if got != "1\\2\\3\n":
            problems.append(f"ReferencedImageSequence/2/ReferencedFrameNumber: {got!r}")
        self.check("3 tags/ReferencedImageSequence/N/ReferencedSOPInstanceUID (refseq.dcm)", problems)

        problems = []
        block = ds.private_block(0x0029, "DICOMFS TEST")
        for off, want in ((0x10, "private text\n"), (0x12, "1\\2\\65535\n"), (0x13, "-5\\7\n")):
            tag = block.get_tag(off)
            got = cat(f"{tag:08X}")
            if got != want:
                problems.append(f"tags/{tag:08X}: {got!r}, expected {want!r} (pydicom {block[off].value!r})")
        got = cat("00290010")
        if got != "DICOMFS TEST\n":
            problems.append(f"tags/00290010 (private creator): {got!r}")
        ob = cat(f"{block.get_tag(0x11):08X}")
        want = "\\".join(f"{b:02x}" for b in bytes(range(256))) + "\\... (300 bytes)\n"
        if ob != want:
            problems.append(f"tags/{block.get_tag(0x11):08X}: 300-byte OB shown as {ob[:50]!r}...{ob[-30:]!r}")
        self.check("3 private tags by 8 hex digits (refseq.dcm: LO, US, SL, creator, 300-byte OB cut at 256)",
                   problems)

        problems = []
        ct = os.path.join(extra_mnt, by_src.get("CT_small.dcm", "?"))
        ds = pydicom.dcmread(os.path.join(self.extra_source, "CT_small.dcm"))
        for tag in (0x00091001, 0x00431027, 0x00090010, 0x00430010):
            try:
                got = ml.read_text(os.path.join(ct, "tags", f"{tag:08X}"))
            except OSError as e:
                got = repr(e)
            want = str(ds[tag].value).strip() + "\n"
            if got != want:
                problems.append(f"CT_small tags/{tag:08X}: {got!r}, pydicom {want!r}")
        self.check("3 private tags of a real scanner by 8 hex digits (CT_small.dcm)", problems)

    def check_sr_path(self):
        """The SR of the test archive: a path through two sequences."""
        import pydicom
        problems = []
        n_sr = 0
        for folder, src in self.instance_pairs():
            ds = pydicom.dcmread(src, force=True)
            if "ContentSequence" not in ds:
                continue
            n_sr += 1
            rel = "ContentSequence/1/ConceptNameCodeSequence/1/CodeValue"
            try:
                got = ml.read_text(os.path.join(folder, "tags", rel))
            except OSError as e:
                got = repr(e)
            want = ds.ContentSequence[0].ConceptNameCodeSequence[0].CodeValue + "\n"
            if got != want:
                problems.append(f"{folder}/tags/{rel}: {got!r}, pydicom {want!r}")
        self.check("3 tags/ContentSequence/1/ConceptNameCodeSequence/1/CodeValue (SR of the archive)",
                   problems or ([] if n_sr else ["no SR found"]), f"{n_sr} SRs")

    def check_json(self, pairs, label):
        """header.json against dcm2json: through tests/oracle/json_oracle.py
        (its semantic comparison, its dcm2json run that erases encapsulated
        Pixel Data on a copy since dcm2json refuses to write it, pydicom's
        JSON where DCMTK cannot convert the character set) when it imports,
        else with mountlib's own comparison.  Group 0002, which dcm2json
        writes only with +m, is compared with pydicom's File Meta."""
        import pydicom
        jo = load_json_oracle()
        problems = []
        via = {}
        work = os.path.join(self.tmp, "json-work")
        os.makedirs(work, exist_ok=True)
        for folder, src in pairs:
            where = os.path.relpath(folder, self.tmp)
            try:
                ours = json.loads(ml.read_bytes(os.path.join(folder, "header.json")).decode("utf-8"))
            except (OSError, ValueError) as e:
                problems.append(f"{where}/header.json: {e}")
                continue
            ds = pydicom.dcmread(src, force=True)
            pix = {k.upper(): v for k, v in ours.items()}.get("7FE00010")
            if "PixelData" in ds and (pix is None or "BulkDataURI" not in pix):
                problems.append(f"{where}: Pixel Data is not a BulkDataURI: {str(pix)[:80]}")
            meta_ours = {k: v for k, v in ours.items() if k.upper().startswith("0002")}
            data_ours = {k: v for k, v in ours.items() if not k.upper().startswith("0002")}
            if jo is not None:
                oracle, probs, theirs = self.json_by_oracle_module(jo, src, data_ours, work)
            else:
                oracle, probs, theirs = self.json_by_mountlib(src, ds, data_ours)
            via[oracle] = via.get(oracle, 0) + 1
            problems += [f"{where}: {p}" for p in probs]
            # Elements after Pixel Data (Data Set Trailing Padding): shown?
            for k in sorted(k.upper() for k in theirs if int(k, 16) > ml.PIXEL_DATA):
                self.after_pixels.append(f"{where}/header.json: {k} after Pixel Data: "
                                         + ("present" if k in {x.upper() for x in ours} else "not shown"))
            # Group 0002 against pydicom's File Meta.
            if ml.has_file_meta(src):
                meta = ds.file_meta.to_json_dict()
                if jo is not None:
                    import oracle_common as oc
                    ctx = jo.Ctx(src, "pydicom", False, oc.VrCounter())
                    jo.compare_dataset(ctx, meta, meta_ours, ())
                    probs = [f"group 0002: {m[1]} (pydicom {m[2]}, ours {m[3]})" for m in ctx.mismatches]
                else:
                    probs = ml.json_compare(meta_ours, meta, "", None, None, "pydicom")
                problems += [f"{where}: {p}" for p in probs]
            elif meta_ours:
                problems.append(f"{where}: group 0002 in header.json of a file without File Meta: "
                                f"{sorted(meta_ours)}")
        shutil.rmtree(work, ignore_errors=True)
        self.check(f"4 header.json against dcm2json semantically, group 0002 against pydicom ({label})",
                   problems, ", ".join(f"{n} files by {k}" for k, n in sorted(via.items())))

    def json_by_oracle_module(self, jo, src, ours, work):
        """(oracle, problems, their JSON) through json_oracle.py."""
        import oracle_common as oc
        vrs = oc.VrCounter()
        implicit = oc.dataset_is_implicit(src)
        theirs, note = jo.dcm2json(src, work)
        ctx = jo.Ctx(src, "dcm2json", implicit, vrs)
        oracle = "dcm2json"
        if theirs is None:
            ctx.oracle = oracle = "pydicom"
            theirs = jo.pydicom_json(src)
        elif note == "erased":
            oracle = "dcm2json (Pixel Data erased)"
            ours = dict(ours)
            ours.pop(f"{0xFFFCFFFC:08X}", None)  # dcmodify drops the padding from its copy
            pd = ours.pop(f"{ml.PIXEL_DATA:08X}", None)
            if pd is None or pd.get("vr") not in ("OB", "OW"):
                ctx.bad("pixel", f"encapsulated (7FE0,0010): {str(pd)[:80]}")
        full = theirs if note != "erased" else {}
        theirs = {k: v for k, v in theirs.items()
                  if not k.upper().startswith("0002") and int(k, 16) <= ml.PIXEL_DATA}
        ours = {k: v for k, v in ours.items() if int(k, 16) <= ml.PIXEL_DATA}
        jo.compare_dataset(ctx, theirs, ours, ())
        return oracle, [f"{m[1]} ({ctx.oracle} {str(m[2])[:80]}, ours {str(m[3])[:80]})"
                        for m in ctx.mismatches], full

    def json_by_mountlib(self, src, ds, ours):
        rc, out, err = ml.run(["dcm2json", src])
        theirs, oracle = None, "dcm2json"
        if rc == 0:
            try:
                theirs = json.loads(out.decode("utf-8"))
            except ValueError:
                theirs = None
        if theirs is None:
            theirs, oracle = ds.to_json_dict(bulk_data_threshold=1 << 40), "pydicom"
        full = theirs
        theirs = {k: v for k, v in theirs.items()
                  if not k.upper().startswith("0002") and int(k, 16) <= ml.PIXEL_DATA}
        ours = {k: v for k, v in ours.items() if int(k, 16) <= ml.PIXEL_DATA}
        raw_cs = ds.get("SpecificCharacterSet")
        if raw_cs is not None:
            raw_cs = [raw_cs] if isinstance(raw_cs, str) else list(raw_cs)
        elif "00080005" not in {k.upper() for k in ours}:
            theirs = {k: v for k, v in theirs.items() if k.upper() != "00080005"}
        return oracle, ml.json_compare(ours, theirs, "", None, raw_cs, oracle), full

    def check_instance_dcm(self, pairs, label):
        problems = []
        for folder, src in pairs:
            f = os.path.join(folder, "instance.dcm")
            try:
                if os.stat(f).st_size != os.path.getsize(src):
                    problems.append(f"{f}: st_size {os.stat(f).st_size}, source {os.path.getsize(src)}")
                if ml.sha256_file(f) != ml.sha256_file(src):
                    problems.append(f"{f}: sha256 differs from {src}")
            except OSError as e:
                problems.append(f"{f}: {e}")
        self.check(f"5 instance.dcm byte-equal to the source file ({label})", problems, f"{len(pairs)} files")

    # ------------------------------------------------------------ 6: grep
    def check_grep(self):
        mnt = self.mnt
        t = self.truth
        rc, out, err = ml.run(["bash", "-c", 'grep -rl CT "$1"/*/*/*/tags/Modality', "_", mnt])
        got = {os.path.relpath(os.path.dirname(os.path.dirname(os.fsdecode(l))), mnt)
               for l in out.splitlines()}
        want = {self.folder_of[(pi, si, ei)]
                for pi, p in enumerate(t["patients"]) for si, st in enumerate(p["studies"])
                for ei, se in enumerate(st["series"])
                if se["Modality"] == "CT" and (pi, si, ei) in self.folder_of}
        problems = []
        if rc != 0:
            problems.append(f"grep exit {rc}: {err.strip()[:200]}")
        if got != want:
            problems.append(f"found {len(got)} series, truth {len(want)}: extra {sorted(got - want)[:3]}, "
                            f"missing {sorted(want - got)[:3]}")
        self.check("6 grep -rl CT MNT/*/*/*/tags/Modality finds exactly the CT series", problems,
                   f"{len(want)} series")

        problems = []
        descs = ["MR Knee", "Schädel/Hals", "頭部 CT", "far past the 64 characters", "CT Head"]
        for d in descs:
            rc, out, err = ml.run(["grep", "-rlF", "--include=StudyDescription", "-e", d, mnt])
            files = [os.path.relpath(os.fsdecode(l), mnt) for l in out.splitlines()]
            studies = {"/".join(f.split("/")[:2]) for f in files}
            want = {self.folder_of[(pi, si)] for pi, p in enumerate(t["patients"])
                    for si, st in enumerate(p["studies"])
                    if st["StudyDescription"] and d in st["StudyDescription"] and (pi, si) in self.folder_of}
            level = {f for f in files if f.count("/") == 3}  # <patient>/<study>/tags/StudyDescription
            if rc != 0 or studies != want or {"/".join(f.split("/")[:2]) for f in level} != want:
                problems.append(f"{d!r}: grep exit {rc}, studies {sorted(studies)}, truth {sorted(want)}")
        self.check("6 grep -r DESC MNT --include=StudyDescription finds the study (and only it)", problems,
                   f"{len(descs)} descriptions")

        # grep -r does not meet a public tag twice (its 8-hex-digit name is
        # not listed): a SOP Instance UID is in SOPInstanceUID and, in files
        # with File Meta, MediaStorageSOPInstanceUID, nowhere else.
        problems = []
        pairs = self.instance_pairs()
        for folder, src in pairs:
            uid = ml.read_text(os.path.join(folder, "tags", "SOPInstanceUID")).strip()
            rc, out, err = ml.run(["grep", "-rlF", "-e", uid, os.path.join(folder, "tags")])
            got = sorted(os.path.relpath(os.fsdecode(l), os.path.join(folder, "tags")) for l in out.splitlines())
            want = sorted(["SOPInstanceUID"] + (["MediaStorageSOPInstanceUID"] if ml.has_file_meta(src) else []))
            if got != want:
                problems.append(f"{os.path.relpath(folder, mnt)}: grep -rl finds {got}, expected {want}")
        self.check("6 grep -r meets every public tag once (not again by its 8 hex digits)", problems,
                   f"{len(pairs)} instances")

    # ------------------------------------------------------------ 7: files behave like files
    def check_files(self):
        mnt = self.mnt
        rc, out, err = ml.run(["find", mnt])
        found = {os.path.relpath(os.fsencode(x) if isinstance(x, str) else x, os.fsencode(mnt))
                 for x in out.splitlines()} - {b"."}
        problems = []
        if rc != 0 or err.strip():
            problems.append(f"find exit {rc}: {err.strip()[:300]}")
        if found != set(self.entries):
            problems.append(f"find lists {len(found)} entries, readdir walk {len(self.entries)}")
        self.check("7 find MNT works and lists every entry", problems, f"{len(found)} entries")

        problems = []
        n = 0
        for rel, (is_dir, st) in sorted(self.entries.items()):
            if is_dir or stat.S_ISLNK(st.st_mode):  # the views' links: test_views.py
                continue
            full = os.path.join(os.fsencode(mnt), rel)
            try:
                if rel in LIVE_FILES:
                    st, data = stat_and_read_live(full)
                else:
                    data = ml.read_bytes(full)
            except OSError as e:
                problems.append(f"{os.fsdecode(rel)}: {e}")
                continue
            n += 1
            if len(data) != st.st_size:
                problems.append(f"{os.fsdecode(rel)}: st_size {st.st_size}, read {len(data)} bytes")
        self.check("7 every file reachable and read() returns st_size bytes", problems, f"{n} files")

        # ls -l against wc -c, file by file, in a few instance folders and .dicomfs.
        problems = []
        folders = [".dicomfs"]
        pairs = self.instance_pairs()
        for folder, _ in pairs[:1] + pairs[len(pairs) // 2:len(pairs) // 2 + 1] + pairs[-1:]:
            rel = os.path.relpath(folder, mnt)
            folders += [rel, os.path.join(rel, "tags")]
        checked = 0
        for rel in folders:
            d = os.path.join(mnt, rel)
            for name in sorted(os.listdir(d)):
                f = os.path.join(d, name)
                if os.path.isdir(f):
                    continue
                rc1, o1, e1 = ml.run(["ls", "-ln", "--", f])
                rc2, o2, e2 = ml.run(["bash", "-c", 'wc -c < "$1"', "_", f])
                try:
                    size_ls = int(o1.split(None, 8)[4])
                    size_wc = int(o2.strip())
                except (ValueError, IndexError):
                    problems.append(f"{rel}/{name}: ls {o1[:80]!r} {e1.strip()}, wc {o2!r} {e2.strip()}")
                    continue
                checked += 1
                if size_ls != size_wc:
                    problems.append(f"{rel}/{name}: ls -l {size_ls}, wc -c {size_wc}")
        self.check("7 ls -l size equals wc -c (3 instance folders, their tags/, .dicomfs/)", problems,
                   f"{checked} files")

        folder, src = pairs[0]
        header = os.path.join(folder, "header.txt")
        problems = []
        try:
            data = ml.read_bytes(header)
            with open(header, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                if mm[:] != data:
                    problems.append("mmap differs from read()")
            dcm = os.path.join(folder, "instance.dcm")
            with open(dcm, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                if mm[:] != ml.read_bytes(src):
                    problems.append("mmap of instance.dcm differs from the source")
        except (OSError, ValueError) as e:
            problems.append(f"mmap: {e}")
        self.check("7 mmap of header.txt and instance.dcm equals read()", problems)

        problems = []
        rc, out, err = ml.run(["tail", "-n", "3", header])
        want = b"".join(ml.read_bytes(header).splitlines(keepends=True)[-3:])
        if rc != 0 or out != want:
            problems.append(f"tail -n 3 header.txt: exit {rc}, {out[:80]!r} vs {want[:80]!r}")
        rc, out, err = ml.run(["tail", "-c", "100", os.path.join(folder, "instance.dcm")])
        if rc != 0 or out != ml.read_bytes(src)[-100:]:
            problems.append(f"tail -c 100 instance.dcm: exit {rc}, not the source's last 100 bytes")
        self.check("7 tail of header.txt and instance.dcm", problems)

        problems = []
        dest = os.path.join(self.tmp, "cp-copy")
        rc, out, err = ml.run(["cp", "-r", "--", folder, dest])
        if rc != 0:
            problems.append(f"cp -r exit {rc}: {err.strip()[:200]}")
        else:
            for dirpath, _, files in os.walk(dest):
                for name in files:
                    copy = os.path.join(dirpath, name)
                    orig = os.path.join(folder, os.path.relpath(copy, dest))
                    if ml.read_bytes(copy) != ml.read_bytes(orig):
                        problems.append(f"cp: {os.path.relpath(copy, dest)} differs")
            if not filecmp.cmp(os.path.join(dest, "instance.dcm"), src, shallow=False):
                problems.append("cp: instance.dcm differs from the source")
        shutil.rmtree(dest, ignore_errors=True)
        self.check("7 cp -r of an instance folder copies every file exactly", problems)

        problems = []
        entries2, _ = ml.walk_mount(mnt)
        for rel, (is_dir, st) in self.entries.items():
            if rel in entries2 and entries2[rel][1].st_ino != st.st_ino:
                problems.append(f"{os.fsdecode(rel)}: inode {st.st_ino} then {entries2[rel][1].st_ino}")
        if set(entries2) != set(self.entries):
            problems.append("the second walk lists other entries")
        self.check("7 inode numbers stable while mounted (two walks, every file read between)", problems)

        problems = []
        for folder, src in pairs:
            want = os.stat(src).st_mtime_ns
            for rel in ("instance.dcm", "header.txt", "header.json", "tags/SOPInstanceUID"):
                got = os.stat(os.path.join(folder, rel)).st_mtime_ns
                if got != want:
                    problems.append(f"{os.path.relpath(folder, mnt)}/{rel}: mtime {got}, source {want}")
        self.check("7 mtime of an instance's files is the source file's", problems)

    # ------------------------------------------------------------ 7: a big folder
    def check_big_folder(self, n=10001):
        """A series of 10,001 instances, all InstanceNumber 1: the folder
        lists completely (readdir in many rounds) and the names are 1, 1 (2)
        ... 1 (10001) in the order of the SOP Instance UIDs."""
        from pydicom.dataset import Dataset, FileMetaDataset
        src = os.path.join(self.tmp, "big", "source")
        os.makedirs(os.path.join(src, "series"))
        placeholder = "2.25." + "9" * 39
        ds = Dataset()
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        ds.SOPInstanceUID = placeholder
        ds.PatientName, ds.PatientID = "Big^Folder", "BIG-1"
        ds.StudyInstanceUID = "2.25.1" + "0" * 38
        ds.SeriesInstanceUID = "2.25.2" + "0" * 38
        ds.StudyDate, ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "20240101", "CT", 1, 1
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, placeholder
        meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
        ds.file_meta = meta
        ds.is_little_endian, ds.is_implicit_VR = True, False
        template = os.path.join(self.tmp, "big", "template.dcm")
        ds.save_as(template, write_like_original=False)
        data = ml.read_bytes(template)
        assert data.count(placeholder.encode()) == 2
        # UIDs in an order unlike the file names', so that name order is not UID order.
        uids = ["2.25.%d" % (10 ** 38 + (k * 7919) % n) for k in range(n)]
        for k, uid in enumerate(uids):
            with open(os.path.join(src, "series", f"IM{k:05d}.dcm"), "wb") as f:
                f.write(data.replace(placeholder.encode(), uid.encode()))
        mp = os.path.join(self.tmp, "mnt-big")
        try:
            m = self.mount(src, mp)
        except ml.MountError as e:
            self.check(f"7 a folder of {n} instances lists completely", [str(e)])
            return
        problems, suffix_problems = [], []
        try:
            _, rows, problems = ml.read_tsv(os.path.join(mp, ".dicomfs", "instances.tsv"))
            folders = {os.path.dirname(r["path"]) for r in rows}
            if len(rows) != n or len(folders) != 1:
                problems.append(f"instances.tsv: {len(rows)} rows in {len(folders)} series folders")
            else:
                folder = os.path.join(mp, folders.pop())
                names = [x for x in os.listdir(folder) if x not in ("tags", "volume")]
                if len(names) != n or len(set(names)) != n:
                    problems.append(f"readdir: {len(names)} names, {len(set(names))} different, expected {n}")
                rc, out, err = ml.run(["ls", "--", folder])
                if rc != 0 or len(out.splitlines()) != n + 2:  # tags and volume
                    problems.append(f"ls: exit {rc}, {len(out.splitlines())} lines, expected {n + 2}")
                rc, out, err = ml.run(["find", folder, "-mindepth", "1", "-maxdepth", "1", "-type", "d"])
                if rc != 0 or len(out.splitlines()) != n + 2:
                    problems.append(f"find: exit {rc}, {len(out.splitlines())} folders, expected {n + 2}")
                rank = {uid: k for k, uid in enumerate(sorted(uids), 1)}
                for r in rows:
                    k = rank.get(r["SOPInstanceUID"])
                    want = "1" if k == 1 else f"1 ({k})"
                    if r["path"].split("/")[-1] != want:
                        suffix_problems.append(f"{r['SourcePath']}: {r['path'].split('/')[-1]!r}, "
                                               f"expected {want!r} (UID rank {k})")
                for name in ("1", f"1 ({n})"):
                    uid = ml.read_text(os.path.join(folder, name, "tags", "SOPInstanceUID")).strip()
                    if name != ("1" if rank.get(uid) == 1 else f"1 ({rank.get(uid)})"):
                        suffix_problems.append(f"{name}/tags/SOPInstanceUID is {uid} (rank {rank.get(uid)})")
        finally:
            unmount = m.unmount()
        self.check(f"7 a folder of {n} instances lists completely (readdir, ls, find)", problems + unmount)
        self.check(f"2 {n} equal names get ' (2)' ... ' ({n})' in the order of their SOP Instance UIDs",
                   suffix_problems)

    # ------------------------------------------------------------ 8: EROFS
    def check_erofs(self):
        mnt = self.mnt
        folder, _ = self.instance_pairs()[0]
        header = os.path.join(folder, "header.txt")
        before = ml.read_bytes(header)
        listing = sorted(os.listdir(mnt)), sorted(os.listdir(folder))

        def op_create():
            os.close(os.open(os.path.join(mnt, "new-file"), os.O_CREAT | os.O_WRONLY, 0o644))

        def op_create_in():
            os.close(os.open(os.path.join(folder, "new-file"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))

        def op_write():
            fd = os.open(header, os.O_WRONLY)
            try:
                os.write(fd, b"x")
            finally:
                os.close(fd)

        def op_append():
            with open(header, "ab") as f:
                f.write(b"x")

        def op_rw():
            with open(header, "r+b") as f:
                f.write(b"x")

        ops = [
            ("create (O_CREAT) at the root", op_create),
            ("create (O_CREAT|O_EXCL) in an instance folder", op_create_in),
            ("write to an existing file (O_WRONLY)", op_write),
            ("append to an existing file", op_append),
            ("open read-write", op_rw),
            ("truncate", lambda: os.truncate(header, 0)),
            ("mkdir", lambda: os.mkdir(os.path.join(mnt, "new-folder"))),
            ("rm (unlink)", lambda: os.unlink(header)),
            ("rmdir", lambda: os.rmdir(os.path.join(folder, "tags"))),
            ("mv (rename) a file", lambda: os.rename(header, os.path.join(folder, "moved.txt"))),
            ("mv (rename) a folder", lambda: os.rename(folder, folder + "-moved")),
            ("chmod", lambda: os.chmod(header, 0o666)),
            ("chown", lambda: os.chown(header, 0, 0)),
            ("utime (touch)", lambda: os.utime(header, (0, 0))),
            ("setxattr", lambda: os.setxattr(header, "user.dicomfs-test", b"1")),
            ("removexattr", lambda: os.removexattr(header, "user.dicomfs-test")),
            ("symlink", lambda: os.symlink("header.txt", os.path.join(folder, "link"))),
            ("hard link", lambda: os.link(header, os.path.join(folder, "link"))),
            ("mkfifo", lambda: os.mkfifo(os.path.join(folder, "fifo"))),
        ]
        problems = []
        for what, fn in ops:
            try:
                fn()
                problems.append(f"{what}: succeeded")
            except OSError as e:
                if e.errno != errno.EROFS:
                    problems.append(f"{what}: {errno.errorcode.get(e.errno, e.errno)} ({e.strerror}), not EROFS")
        rc, out, err = ml.run(["bash", "-c", 'echo x > "$1"', "_", os.path.join(folder, "tags", "PatientName")])
        if rc == 0 or "Read-only file system" not in err:
            problems.append(f"shell redirection: exit {rc}, {err.strip()[:100]!r}")
        if ml.read_bytes(header) != before or (sorted(os.listdir(mnt)), sorted(os.listdir(folder))) != listing:
            problems.append("the mount changed")
        self.check("8 every write answers EROFS (create, write, append, truncate, mkdir, rm, rmdir, mv, "
                   "chmod, chown, utime, setxattr, removexattr, symlink, link, mkfifo)", problems,
                   f"{len(ops) + 1} operations")

    # ------------------------------------------------------------ 9: errors.tsv, status
    def check_errors_status(self):
        mnt = self.mnt
        header, rows, problems = ml.read_tsv(os.path.join(mnt, ".dicomfs", "errors.tsv"))
        if header != ["path", "reason"]:
            problems.append(f"errors.tsv columns {header}")
        reasons = {}
        for r in rows:
            reasons.setdefault(r["path"], []).append(r["reason"])
        kinds = {"DICOMDIR": "DICOMDIR", "truncated": "truncated", "not DICOM": "not DICOM"}
        for s in self.truth["skipped"]:
            got = reasons.get(s["path"])
            if not got or not all(x.strip() for x in got):
                problems.append(f"{s['path']} ({s['reason']}): not in errors.tsv with a reason")
            elif s["reason"] in kinds and not any(x.startswith(kinds[s["reason"]]) for x in got):
                problems.append(f"{s['path']}: reason {got}, truth {s['reason']!r}")
        self.check("9 errors.tsv lists every skipped file of truth.json with its reason", problems,
                   f"{len(self.truth['skipped'])} files")

        problems = []
        instance_paths = {i["path"] for _, i, _ in self.instances}
        skipped = {s["path"] for s in self.truth["skipped"]}
        links = {l["path"]: l for l in self.truth["symlinks"]}
        for path, rs in reasons.items():
            if path in skipped:
                continue
            if path in instance_paths:
                if not all("duplicate" in x.lower() for x in rs):
                    problems.append(f"{path}: an instance of the tree, yet errors.tsv says {rs}")
            elif path in links:
                pass
            else:
                problems.append(f"{path}: in errors.tsv, but neither skipped nor a symlink in truth ({rs})")
        for uid in self.truth["duplicates"]:
            paths = [i["path"] for _, i, _ in self.instances if i["SOPInstanceUID"] == uid]
            if not any(p in reasons for p in paths):
                problems.append(f"duplicate {uid} ({paths}) not noted in errors.tsv")
        for l in self.truth["symlinks"]:
            if l["kind"] == "loop" and l["path"] not in reasons:
                problems.append(f"symbolic link loop {l['path']} not in errors.tsv")
        self.check("9 errors.tsv has nothing else: duplicates noted, symlink loops listed", problems)

        problems = []
        try:
            status = ml.read_text(os.path.join(mnt, ".dicomfs", "status"))
        except OSError as e:
            status = ""
            problems.append(str(e))
        fields = dict(line.split(": ", 1) for line in status.splitlines() if ": " in line)
        n_inst = len(self.instances)
        n_skip = len(self.truth["skipped"])
        want = {"files seen": str(n_inst + n_skip), "indexed": str(n_inst), "scan": "done"}
        for k, v in want.items():
            if fields.get(k) != v:
                problems.append(f"status {k}: {fields.get(k)!r}, truth {v!r}")
        self.check("9 status: files seen, indexed, scan: done agree with truth", problems,
                   f"{n_inst} indexed, {n_inst + n_skip} regular files")
        skipped_field = fields.get("skipped")
        self.check("9 status: skipped = the truth's skipped files (= files seen - indexed)",
                   [] if skipped_field == str(n_skip) else
                   [f"status says skipped: {skipped_field}, truth has {n_skip} skipped regular files "
                    f"(files seen {fields.get('files seen')} - indexed {fields.get('indexed')} = "
                    f"{n_skip if fields.get('files seen') is None else int(fields['files seen']) - int(fields.get('indexed', 0))})"])

    # ------------------------------------------------------------ 10: signals
    def check_signals(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            mp = os.path.join(self.tmp, f"mnt-{sig.name.lower()}")
            problems = []
            try:
                m = self.mount(self.source, mp)
            except ml.MountError as e:
                self.check(f"10 {sig.name} to dicomfs -f unmounts cleanly", [str(e)])
                continue
            os.listdir(mp)
            m.signal(sig)
            exit_problems = m.await_exit(sig.name)  # a hang guard, scaled (mountlib.Bound)
            exited = not exit_problems
            problems += exit_problems
            if ml.mount_count(mp):
                problems.append("still mounted after the process exited")
            m.stop()
            self.check(f"10 {sig.name} to dicomfs -f: the process exits and the mount is gone", problems)
            if exited:
                self.check(f"10 {sig.name} to dicomfs -f: exit status 0 (a requested, clean unmount)",
                           [] if m.returncode == 0 else
                           [f"exit status {m.returncode}; log: {m.log().strip()[:200]!r}"])

    # ------------------------------------------------------------ 11: command line
    def check_cli(self):
        nope = os.path.join(self.tmp, "no-such-source")
        fresh = os.path.join(self.tmp, "mnt-cli")
        os.makedirs(fresh, exist_ok=True)
        a_file = os.path.join(self.arch, "truth.json")
        cases = [
            ("missing SOURCE", [nope, fresh], fresh),
            ("SOURCE is a file", [a_file, fresh], fresh),
            ("MOUNTPOINT already a mount (busy)", [self.source, self.mnt], self.mnt),
            ("MOUNTPOINT missing", [self.source, os.path.join(self.tmp, "no-such-mnt")], None),
            ("no MOUNTPOINT", [self.source], None),
        ]
        for what, args, mp in cases:
            before = ml.mount_count(mp) if mp else 0
            for fg in (["-f"], []):
                argv = [self.exe] + fg + args
                problems = []
                rc, out, err = ml.run(argv, timeout=60)
                lines = [l for l in err.splitlines() if l.strip()]
                if rc is None:
                    problems.append("did not exit within 60 s")
                elif rc == 0:
                    problems.append("exit status 0")
                if len(lines) != 1:
                    problems.append(f"{len(lines)} lines on stderr: {err.strip()[:300]!r}")
                after = ml.mount_count(mp) if mp else 0
                if after != before:
                    problems.append(f"{after - before} new mounts at {mp}")
                    self._cleanup_stray(argv, mp, before)
                if mp == self.mnt:
                    try:
                        os.listdir(self.mnt)
                    except OSError as e:
                        problems.append(f"the existing mount broke: {e}")
                label = "dicomfs -f" if fg else "dicomfs"
                self.check(f"11 {label} with {what}: one line on stderr, non-zero exit, nothing mounted",
                           problems, f"exit {rc}: {lines[0][:100] if lines else ''}")

    def _cleanup_stray(self, argv, mp, before):
        """A command expected to fail mounted anyway: undo it (only that)."""
        pattern = ml.ere_escape(" ".join(argv))
        rc, out, _ = ml.run(["pgrep", "-f", "-x", pattern])
        while ml.mount_count(mp) > before:
            if ml.run(["fusermount3", "-u", mp])[0] != 0:
                break
        for pid in (int(x) for x in out.split()) if rc == 0 else ():
            ml.Mount.all_pids.append(pid)
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    # ------------------------------------------------------------ 12: source unchanged
    def check_sources(self):
        problems = []
        for root, before in self.snapshots.items():
            problems += [f"{os.path.relpath(root, self.tmp)}: {p}" for p in ml.diff_snapshots(before, ml.snapshot(root))]
        self.check("12 sources unchanged (sha256, size, mtime of every file; names; symlinks) and nothing "
                   "created beside them", problems,
                   f"{sum(1 for s in self.snapshots.values() for v in s.values() if v[0] == 'file')} files")

    # ------------------------------------------------------------ run
    def run(self):
        if not self.generate():
            return
        t0 = time.monotonic()
        try:
            main = self.mount(self.source, self.mnt)
        except ml.MountError as e:
            self.check("mount the test archive (dicomfs -f SOURCE MNT)", [str(e)])
            return
        self.check("mount the test archive (dicomfs -f SOURCE MNT)", [],
                   f"scan and mount {main.start_seconds:.2f} s")
        try:
            self.check_tree()
            self.check_names()
            first = self.listing_of(self.mnt)
            pairs = self.instance_pairs()
            self.check_attributes(pairs, "archive")
            self.check_sr_path()
            self.check_json(pairs, "archive")
            self.check_instance_dcm(pairs, "archive")
            self.check_grep()
            self.check_files()
            self.check_erofs()
            self.check_errors_status()
            self.check_cli()
        finally:
            self.check("unmount the test archive (fusermount3 -u; dicomfs -f exits 0)", main.unmount())
        self.check_remount(first)

        # The extra source: private tags, sequences, more VRs.
        mp = os.path.join(self.tmp, "mnt-extra")
        try:
            extra = self.mount(self.extra_source, mp)
        except ml.MountError as e:
            self.check("mount the extra source", [str(e)])
        else:
            try:
                _, listings = ml.walk_mount(mp)
                self.check("2 name rules on every name (extra source: CT_small, test-SR, refseq)",
                           ml.name_problems(listings))
                _, rows, probs = ml.read_tsv(os.path.join(mp, ".dicomfs", "instances.tsv"))
                pairs = [(os.path.join(mp, r["path"]), os.path.join(self.extra_source, r["SourcePath"]))
                         for r in rows]
                if len(pairs) != 3:
                    probs.append(f"{len(pairs)} instances, expected 3")
                self.check("1 extra source: its 3 files are instances", probs)
                self.check_attributes(pairs, "extra")
                self.check_named_attributes(mp)
                self.check_json(pairs, "extra")
                self.check_instance_dcm(pairs, "extra")
                self.check("3, 4 elements after Pixel Data are shown in tags/ and header.json "
                           "(CT_small.dcm's DataSetTrailingPadding)",
                           [p for p in self.after_pixels if p.endswith("not shown")] +
                           ([] if self.after_pixels else ["no such element in the sources"]),
                           f"{len(self.after_pixels)} seen")
            finally:
                self.check("unmount the extra source", extra.unmount())
        self.check_signals()
        self.check_big_folder()
        self.check_sources()
        self.elapsed = time.monotonic() - t0


def load_json_oracle():
    """tests/oracle/json_oracle.py (another engineer's comparison of our JSON
    with dcm2json's), or None if it does not import."""
    here = os.path.dirname(os.path.abspath(__file__))
    oracle_dir = os.path.join(os.path.dirname(here), "oracle")
    if oracle_dir not in sys.path:
        sys.path.insert(0, oracle_dir)
    try:
        import json_oracle
        for name in ("dcm2json", "pydicom_json", "Ctx", "compare_dataset"):
            getattr(json_oracle, name)
        return json_oracle
    except Exception:  # noqa: BLE001 - any trouble: use our own comparison
        return None


def ml_num(v, w):
    return PLACEHOLDERS["number"] if v is None else str(v).zfill(w)


def main():
    if len(sys.argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    if not os.path.exists("/dev/fuse"):
        print("SKIP: /dev/fuse is missing")
        return 77
    exe, repo = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    report = ml.Report()
    t0 = time.monotonic()
    tmp = os.path.realpath(tempfile.mkdtemp(prefix="dicomfs-mount-test."))
    ml.start_watchdog(WATCHDOG_SECONDS, report, tmp)
    try:
        MountTest(report, exe, repo, tmp).run()
    except Exception:  # noqa: BLE001 - a crash of the test is a failure, reported
        report.check("the test itself ran to the end", [traceback.format_exc()])
    finally:
        ml.cleanup_all()
        report.check("nothing left behind: no dicomfs process started here, no mount", ml.leftovers(tmp))
        if not ml.mounts_under(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"runtime {time.monotonic() - t0:.1f} s")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
