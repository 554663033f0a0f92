#!/usr/bin/python3
"""The DICOMweb source (issues 15 and 16) against a real Orthanc: the tree
mounted from Orthanc's DICOMweb URL equals the local mount of the same files
wherever the server can say what the files hold; over TLS it lists the same
and refuses a certificate it cannot verify; name templates and views work on
it; a remount from the persistent index shows the same tree at once, and
with Orthanc stopped still lists the tree, reads what was fetched before
from the cache and fails the rest with EIO.

In a temporary folder: Orthanc 1.10 with its DICOMweb plugin on 127.0.0.1, a
free port, DefaultEncoding Utf8 (tests/web/orthanc.py; Debian's orthanc and
orthanc-dicomweb, scripts/setup-debian --tests), fed through POST /instances
with every file of pydicom's test data (python3-pydicom's test_files,
dicomdirtests included), the test archive's source (scripts/make-archive.py
--preset test: the hard names, character sets and transfer syntaxes) and
five multi-instance series (scripts/make-series.py s01 s06 s16 s21 s22).  Orthanc
refuses some (no File Meta, truncated, DICOMDIRs, not DICOM) and stores an
instance once (AlreadyStored).  The local folder holds one copy of each
file Orthanc stored (the first upload whose status was Success), less UID
duplicates: Orthanc keeps two files with the same Study, Series and SOP
Instance UIDs but another PatientID as two instances, while DICOMweb
addresses an instance by its UIDs only, so a DICOMweb client sees one of
them; the local folder keeps the one whose bytes WADO-RS returns for those
UIDs, or, where WADO-RS returns none (Orthanc 1.10's plugin answers 404 when
UIDs match several instances), the one the web mount serves (by the size
its .dicomfs/by-uid/ST/SE/SOP/instance.dcm stats with, before any read):
the web mount is mounted first, the local folder made then (said in the
setup check's note).

The oracle of what the server can say: for each Orthanc study (its
PatientMainDicomTags and MainDicomTags), series and instance (GET
/studies/ID, /series/ID, /instances/ID), each value Orthanc holds is
compared with pydicom's decoded value of the first uploaded file of that
node (the one Orthanc took it from, and the local mount's first filed: the
local files are named in upload order).  Where they differ (Orthanc leaves
out values over 256 bytes; its conversion of ISO 2022 IR 87 names fails) the
server does not know the value, and since folder names and the .tsv level
tables are made from the server's query answers, the web mount cannot show
it: those nodes, and only those, are compared on their other fields, and
each check that does so counts them in its note ("server cannot say: N
values (StudyDescription 1, ...)").  Then:

   1  the DICOMweb URL (-o wait,index=TMP/web.sqlite,cache_dir=TMP/cache1)
      and the local folder (-o wait,noindex) mounted, each in its own mount
      point; each instance of one paired with its instance in the
      other by Study, Series and SOP Instance UID (the uploaded file's, read
      by pydicom, and the web mount's SourcePath studies/ST/series/SE/
      instances/SOP), and so each patient, study and series folder with its
      counterpart (the same instances in each);
   2  the same folder name for each paired patient, study, series and
      instance, but where the server cannot say a value the name is made of:
      there the names' other fields are compared (the name parsed as
      "NAME [ID]", "DATE DESCRIPTION", "NUMBER MODALITY DESCRIPTION"), and
      siblings whose " (N)" suffix follows from such a name are compared
      without it (counted); the same set of paths in the tree (paired
      folders matched; the levels' tags/ aside: 4) and in .dicomfs/ (a view
      link to a folder so renamed named by the web's folder names, counted);
      the same listing order; the same type, mode and size of every entry;
   3  instance.dcm: its st_size (stat before any read of the instance) is
      the uploaded file's size, and it reads byte-identical to the upload;
   4  an instance's tags/ (sequence items too): the same names, the same
      content, the same extended attributes; a patient's, study's or
      series' tags/ shows one representative instance's attributes (the
      first filed: by path locally, by UID on the web), so for each of its
      attributes, where the node's instances agree (pydicom over the
      uploads) the web's equals the local one (names, content, extended
      attributes), and where they disagree or some lack it the web's (or its
      absence) is one instance's, the same instance for every attribute
      (the disagreeing nodes counted); header.json, header.txt, pixels.raw
      equal; every other file (image.png, pixels.txt, frames/, volume/)
      equal;
   5  .dicomfs/instances.tsv: the same columns and rows but the source's
      own column (SourcePath), TransferSyntaxUID empty on the web or equal
      (DICOM JSON has no group 0002: a catalog from query answers cannot
      know it; never another value); patients.tsv, studies.tsv, series.tsv
      row by row through the pairing, the values the server cannot say
      aside (counted), errors.tsv equal; the views' links (by-uid,
      by-date, ...) pointing to paired folders;
   7c the URL mounted again from the index (-o index=TMP/web.sqlite): the
      same names at every level as the first web mount, .dicomfs/status
      saying "index at mount: image mapped"; within the TTL (600 s) of the
      first mount's whole listing, the server not asked at all (status:
      "listing at mount: the stored one", "requests: 0" after the walk of
      the tree, the scan done); mounted again with -o ttl=1 two seconds
      later, the server listed again (requests made, no such line);
   7a TLS: a TLS proxy (tests/web/orthanc.py's TlsProxy, a self-signed
      certificate) in front of the same Orthanc; https://127.0.0.1:PORT/
      dicom-web mounted with -o cafile=that certificate lists the same
      patients as the plain mount; without -o cafile, and with -o cafile=
      another self-signed certificate, `dicomfs URL MNT` fails: a non-zero
      exit, one line on stderr that names the certificate or SSL, nothing
      mounted, no process left;
   7b name templates and views (issue 16): the local folder and the URL
      both mounted with -o 'patient={PatientID}_{PatientBirthDate:%Y},
      study={StudyDate:%Y-%m-%d}_{AccessionNumber},series={SeriesNumber:03}
      -{Modality}': the same folder name at each level as in 2 (the same
      exclusions), and on the web mount every instance's
      .dicomfs/by-uid/<Study>/<Series>/<SOP> link leads to an instance
      folder whose instance.dcm is the uploaded file;
   8  headers of a series too large to retrieve whole: the URL mounted from
      the index with a fresh cache of 0.002 GiB (-o cache_gb=0.002: s21's
      1.1 MB is more than an eighth of it) beside the local folder; every
      entry of each of s21's instance folders stat'ed (ls -l) and its
      attribute files read (header.json, header.txt, tags/ and its
      sequences): the same names, sizes and bytes as the local mount's;
      .dicomfs/status then says one series retrieved for its headers, its
      8 instances brought as header copies, at most one instance fetched
      alone (the first looked at) and none whole; the cache's files of
      those header copies are sparse (their blocks less than half their
      length: the pixel bytes punched out); then every instance.dcm reads
      equal to the upload and pixels.raw and image.png equal to the local
      mount's (each instance fetched alone, no series retrieved whole);
   8b frames fetched alone, on the same mount: s22's 3 multi-frame
      instances (6 frames each, two native, one RLE; 530 KB, also too
      large to keep whole) walked for their attributes (header copies),
      then frames/0002.png and 0005.raw of each read: equal to the local
      mount's, 0005.raw to pydicom's frame 5, and the status says 2 frames
      fetched alone (WADO-RS .../frames/N) for each instance known by its
      header copy and no instance fetched for them; then every frame of
      one such instance read (each equal to pydicom's): 2 more frames
      fetched alone, then the instance fetched whole, once;
   6  a second DICOMweb mount from the same index with a fresh cache
      (-o wait,index=...,cache_dir=TMP/cache2) reads every instance.dcm of
      every other series (equal to the upload; whole series, since a small
      series is retrieved whole when one of its instances is first needed),
      then Orthanc is stopped (SIGTERM, by its pid) and a third mount
      (-o index=...,cache_dir=TMP/cache2) lists the same folders (the
      cached tree), stats every instance.dcm with its size, reads the
      instances fetched before from the cache and fails those of the series
      never read with EIO (errno 5), never ENOENT;
and finally that every mount was unmounted, Orthanc stopped and no process
left.  Each difference class is its own check (DICOMFS_TEST_VERBOSE=1
shows every difference, not the first few, and every value the server
cannot say).  Skips (77) without /dev/fuse, pydicom or Orthanc with its
DICOMweb plugin.

DICOMFS_WEB_TEST_ENCODING=Latin1 starts Orthanc with that DefaultEncoding
(default Utf8, as the project's research recipe: with Latin1 the plugin's
QIDO-RS answers drop every character outside Latin-1, which the REST API
does not, so the oracle above does not see it and the names and tables of
the Chinese, Japanese and Russian patients differ).

DICOMFS_WEB_TEST_SELFCHECK=1 mounts a copy of the local folder (its files
renamed) in place of the URL: the comparison checked against itself, with
no value the server cannot say (steps 6 and 7 skipped).

usage: test_dicomweb.py DICOMFS SOURCE_ROOT
"""
import errno
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import warnings

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
warnings.simplefilter("ignore", UserWarning)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "web"))
import mountlib as ml  # noqa: E402
import orthanc  # noqa: E402

WATCHDOG_SECONDS = 570  # meson's timeout is 600
PYDICOM_TEST_FILES = "/usr/lib/python3/dist-packages/pydicom/data/test_files"
# scripts/make-series.py: 12, 24, 12, 8 and 3 instances; s21's have 128 KiB of
# pixel data each (step 8's header copies)
SERIES = ["s01", "s06", "s16", "s21", "s22"]
HEADERS_SERIES = "s21"
FRAMES_SERIES = "s22"  # 3 multi-frame instances of 6 frames, 530 KB: also headers only
FRAMES_ALONE = 4  # core/sources/webframes.h: DFS_WEB_FRAMES_ALONE
HEADERS_CACHE_GB = "0.002"  # s21 (1.1 MB) is more than an eighth of it
SOURCE_COLUMNS = {"SourcePath"}  # instances.tsv columns that are the source's own
UNFETCHED_SAMPLE = 6  # instances read offline that were never fetched
SELFCHECK = os.environ.get("DICOMFS_WEB_TEST_SELFCHECK") not in (None, "", "0")
# Orthanc's DefaultEncoding: the character set Orthanc assumes for a file
# without (0008,0005), and the one the DICOMweb plugin 1.7 writes its QIDO-RS
# answers in (characters outside it are dropped there).  Utf8 (as the
# project's research recipe, shared/research/dicomweb.md) loses nothing.
ENCODING = os.environ.get("DICOMFS_WEB_TEST_ENCODING") or "Utf8"
LEVELS = {1: "patient", 2: "study", 3: "series", 4: "instance"}
TABLES = {1: "patients.tsv", 2: "studies.tsv", 3: "series.tsv", 4: "instances.tsv"}
VIEW_LINK_MAX = 245  # a view link's name is cut to this many bytes (README "Views")

# Where Orthanc's REST API says what it holds of each level's attributes:
# the patient's as copied into each study (what its QIDO-RS study rows
# give), the study's, the series', the instance's.
ORTHANC_NODES = {1: ("studies", "ParentStudy", "PatientMainDicomTags"),
                 2: ("studies", "ParentStudy", "MainDicomTags"),
                 3: ("series", "ParentSeries", "MainDicomTags"),
                 4: ("instances", None, "MainDicomTags")}

# Folder names as fields: the default names (README "Names"), parsed so
# that a name the server cannot say in full is compared on its other
# fields; the name templates of 7b the same way (a field is any text).
DEFAULT_NAMES = {
    1: r"(?P<PatientName>.*) \[(?P<PatientID>.*)\]",
    2: r"(?P<StudyDate>\(no date\)|[^ ]+)(?: (?P<StudyDescription>.*))?",
    3: r"(?P<SeriesNumber>\(no number\)|[^ ]+) (?P<Modality>\(no modality\)|[^ ]+)"
       r"(?: (?P<SeriesDescription>.*))?",
    4: r"(?P<InstanceNumber>.*)",
}
TEMPLATES = {1: "{PatientID}_{PatientBirthDate:%Y}",
             2: "{StudyDate:%Y-%m-%d}_{AccessionNumber}",
             3: "{SeriesNumber:03}-{Modality}"}
TEMPLATE_OPTS = ",".join(f"{LEVELS[d]}={t}" for d, t in sorted(TEMPLATES.items()))
SUFFIX = re.compile(rb" \((\d+)\)$")


def template_pattern(template):
    """A template as a pattern with a named group per field."""
    out, pos = [], 0
    for m in re.finditer(r"\{(\w+)(?::[^}]*)?\}", template):
        out.append(re.escape(template[pos:m.start()]))
        out.append(f"(?P<{m.group(1)}>.*)")
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return "".join(out)


TEMPLATE_NAMES = {d: template_pattern(t) for d, t in TEMPLATES.items()}
TEMPLATE_NAMES[4] = DEFAULT_NAMES[4]


def show(p):
    return os.fsdecode(p)


def errname(e):
    return f"{errno.errorcode.get(e.errno, e.errno)} ({e.strerror})"


def read_or_error(path):
    """(bytes, None) or (None, 'EIO (...)')."""
    try:
        with open(path, "rb") as f:
            return f.read(), None
    except OSError as e:
        return None, errname(e)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def first_difference(a, b):
    n = min(len(a), len(b))
    for i in range(0, n, 4096):
        if a[i:i + 4096] != b[i:i + 4096]:
            for j in range(i, min(i + 4096, n)):
                if a[j] != b[j]:
                    return j
    return n


def describe(a, b, text):
    """How the web mount's content b differs from the local mount's a."""
    if text:
        try:
            sa, sb = a.decode("utf-8"), b.decode("utf-8")
            if len(sa) < 200 and len(sb) < 200:
                return f"local {sa!r}, web {sb!r}"
            la, lb = sa.split("\n"), sb.split("\n")
            for n, (x, y) in enumerate(zip(la, lb), 1):
                if x != y:
                    return f"line {n}: local {x[:150]!r}, web {y[:150]!r}"
            return f"{len(la)} lines local, {len(lb)} web"
        except UnicodeDecodeError:
            pass
    at = first_difference(a, b)
    return f"{len(a)} bytes local, {len(b)} web, first difference at byte {at}"


def xattrs(path):
    out = {}
    try:
        for name in os.listxattr(path, follow_symlinks=False):
            try:
                out[name] = os.getxattr(path, name, follow_symlinks=False)
            except OSError as e:
                out[name] = f"error {e.errno}"
    except OSError as e:
        out["(listxattr)"] = f"error {e.errno}"
    return out


def read_tsv_or_none(path):
    try:
        return ml.read_tsv(path)
    except OSError as e:
        return None, [], [f"{path}: {errname(e)}"]


def parse_web_source(path):
    """(study, series, SOP Instance UID) of a DICOMweb SourcePath
    studies/ST/series/SE/instances/SOP, else None."""
    parts = path.strip("/").split("/")
    if len(parts) >= 6 and parts[-6:-5] == ["studies"] and parts[-4] == "series" \
            and parts[-2] == "instances":
        return tuple(parts[-5::2])
    return None


def read_dataset(path):
    """pydicom's header of a file (None when pydicom cannot read it)."""
    import pydicom
    try:
        return pydicom.dcmread(path, stop_before_pixels=True, force=True)
    except Exception:  # noqa: BLE001 - any failure: no dataset
        return None


def file_uids(ds, path):
    if ds is None:
        return ("?", "?", f"{os.path.basename(path)}: not read by pydicom")
    return tuple(str(ds.get(k, "")).strip() for k in
                 ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"))


def pydicom_text(ds, keyword):
    """pydicom's decoded value of an attribute as text, multiple values
    joined by a backslash, as Orthanc's REST API gives its values ('' when
    missing or empty)."""
    if ds is None:
        return None
    try:
        elem = ds.data_element(keyword)
        value = None if elem is None else elem.value
    except Exception:  # noqa: BLE001 - undecodable: compared as unknown
        return None
    if value is None:
        return ""

    def one(v):
        if isinstance(v, bytes):
            return v.decode("latin-1")
        if elem.VR in ("IS", "DS"):  # as written
            s = getattr(v, "original_string", None)
            return str(s) if s is not None else str(v)
        return str(v)  # a PersonName: its decoded groups joined by '='

    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        text = "\\".join(one(v) for v in value)
    else:
        text = one(value)
    return text.strip(" \0")


def element_key(ds, tag):
    """What pydicom reads of a top-level element, for comparing instances:
    None when absent, (VR, value) else."""
    if ds is None:
        return ("unread",)
    try:
        if tag not in ds:
            return None
        elem = ds[tag]
        return (elem.VR, elem.value)
    except Exception:  # noqa: BLE001 - not decodable: its raw value
        try:
            raw = ds.get_item(tag)
            return ("raw", getattr(raw, "VR", None), getattr(raw, "value", None))
        except Exception:  # noqa: BLE001
            return ("undecodable", tag)


def tag_of(name):
    """The tag a tags/ entry names (a keyword or 8 hex digits), else None."""
    import pydicom.datadict
    s = name.decode("ascii", "replace")
    if re.fullmatch(r"[0-9A-Fa-f]{8}", s):
        return int(s, 16)
    return pydicom.datadict.tag_for_keyword(s)


def strip_suffix(name):
    return SUFFIX.sub(b"", name)


def base(rel):
    return rel.rsplit(b"/", 1)[-1]


def parent(rel):
    return rel.rsplit(b"/", 1)[0] if b"/" in rel else b""


def level_tags_depth(rel):
    """d (1..3) when rel is a patient's, study's or series' tags/ or below
    it, else None."""
    parts = rel.split(b"/")
    for d in (1, 2, 3):
        if len(parts) > d and parts[d] == b"tags":
            return d
    return None


def link_name(names):
    """A view link's name: the folder names joined by a space, cut to
    VIEW_LINK_MAX bytes at a character boundary, trimmed."""
    joined = b" ".join(names)[:VIEW_LINK_MAX]
    return joined.decode("utf-8", "ignore").strip(" ").encode("utf-8")


def walk_levels(root):
    """Like ml.walk_mount, but only the level folders (the root, patients,
    studies, series) are listed: instance folders are not entered."""
    return ml.walk_mount(root, lambda name, depth: depth < 3 and
                         name not in (b".dicomfs", b"tags", b"volume"))


class Tree:
    """A walked mount (whole, or its level folders only): entries,
    listings, the folders of each level, the instances.tsv rows."""

    def __init__(self, mp, whole=True):
        self.mp = mp
        self.mpb = os.fsencode(mp)
        self.entries, self.listings = ml.walk_mount(mp) if whole else walk_levels(mp)
        self.header, rows, self.tsv_problems = read_tsv_or_none(
            os.path.join(mp, ".dicomfs", "instances.tsv"))
        self.rows = {os.fsencode(r["path"]): r for r in rows or []}
        self.levels = {0: {b""}}
        for d in (1, 2, 3, 4):
            self.levels[d] = set()
            for par in self.levels[d - 1]:
                for name in self.listings.get(par, []):
                    rel = os.path.join(par, name) if par else name
                    if not self.entries.get(rel, (False,))[0]:
                        continue
                    if (d == 1 and name == b".dicomfs") or (d > 1 and name == b"tags") or \
                            (d == 4 and name == b"volume"):
                        continue
                    self.levels[d].add(rel)

    @staticmethod
    def in_tree(rel):
        return not (rel == b".dicomfs" or rel.startswith(b".dicomfs/"))

    def path(self, rel):
        return os.path.join(self.mpb, rel) if rel else self.mpb


class Pairing:
    """Instances of two mounts paired by UIDs, and so their folders."""

    def __init__(self):
        self.pairs = {}      # local instance folder -> web instance folder
        self.fmap = {}       # local folder (every level) -> web folder
        self.fmap_back = {}
        self.uploads = {}    # local folder (every level) -> [Upload] of its instances
        self.problems = []   # instances without a counterpart
        self.grouping = []   # folders whose instances are not all together


class WebTest:
    def __init__(self, report, exe, repo, tmp):
        self.r = report
        self.exe, self.repo, self.tmp = exe, repo, tmp
        self.corpus_dir = os.path.join(tmp, "corpus")
        self.local = os.path.join(tmp, "local")
        self.index = os.path.join(tmp, "web.sqlite")
        self.cache1 = os.path.join(tmp, "cache1")
        self.server = None
        self.uploads = []
        self.kept = {}        # Orthanc ID -> Upload
        self.upload_of = {}   # local file name (and the selfcheck copy's) -> Upload
        self.uids = {}        # upload path -> (study, series, SOP Instance UID)
        self.sha = {}         # upload path -> sha256 of the file
        self.ds = {}          # upload path -> pydicom's header (None: unreadable)
        self.web_upload = {}  # web instance path -> Upload (paired)
        self.local_ups = []   # the Uploads in the local folder, in upload order
        # upload path -> {attribute: (level, Orthanc's value, pydicom's)}: the
        # values the server cannot say (the oracle of the module's doc)
        self.cannot_say = {}

    def check(self, name, problems, note=""):
        return self.r.check(name, problems, note)

    # ------------------------------------------------------------ corpus
    def make_corpus(self):
        """Every file to upload."""
        files = []
        for dirpath, dirnames, filenames in os.walk(PYDICOM_TEST_FILES):
            dirnames.sort()
            files += [os.path.join(dirpath, n) for n in sorted(filenames)]
        arch = os.path.join(self.corpus_dir, "arch")
        rc, _, err = ml.run([sys.executable, os.path.join(self.repo, "scripts", "make-archive.py"),
                             arch, "--preset", "test"], timeout=ml.scaled(300))
        problems = [] if rc == 0 else [f"make-archive.py --preset test: exit {rc}: {err.strip()[-300:]}"]
        for dirpath, dirnames, filenames in os.walk(os.path.join(arch, "source")):
            dirnames.sort()
            for name in sorted(filenames):
                p = os.path.join(dirpath, name)
                if os.path.isfile(p) and not os.path.islink(p):
                    files.append(p)
        series = os.path.join(self.corpus_dir, "series")
        rc, _, err = ml.run([sys.executable, os.path.join(self.repo, "scripts", "make-series.py"),
                             series] + SERIES, timeout=ml.scaled(300))
        if rc != 0:
            problems.append(f"make-series.py: exit {rc}: {err.strip()[-300:]}")
        for s in SERIES:
            d = os.path.join(series, s)
            if os.path.isdir(d):
                files += [os.path.join(d, n) for n in sorted(os.listdir(d))]
        self.check("setup: the corpus (pydicom's test files, make-archive.py --preset test, "
                   f"make-series.py {' '.join(SERIES)})", problems, f"{len(files)} files")
        return files

    def upload(self, files):
        t0 = time.monotonic()
        self.uploads = self.server.upload_files(files)
        counts = {}
        for up in self.uploads:
            key = up.status if up.accepted else f"HTTP {up.http_status}"
            counts[key] = counts.get(key, 0) + 1
        self.kept = orthanc.first_accepted(self.uploads)
        problems = [f"{u.path}: no answer: {u.error}" for u in self.uploads if u.http_status is None]
        if ml.VERBOSE:
            refused = sorted({f"{os.path.basename(u.path)} ({u.http_status} {u.error})"
                              for u in self.uploads if not u.accepted and u.http_status is not None})
            print("refused by Orthanc: " + "; ".join(refused), flush=True)
        self.check("setup: POST /instances of every file (Orthanc answered each)", problems,
                   ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) +
                   f"; {len(self.kept)} instances; {time.monotonic() - t0:.1f} s")
        problems = []
        try:
            stored = set(self.server.instances())
        except (orthanc.OrthancError, OSError) as e:
            stored = None
            problems.append(str(e))
        if stored is not None and stored != set(self.kept):
            problems.append(f"GET /instances has {len(stored)}, the uploads' IDs {len(self.kept)}: "
                            f"only in Orthanc {sorted(stored - set(self.kept))[:5]}, "
                            f"only in the uploads {sorted(set(self.kept) - stored)[:5]}")
        # The oracle's premise: Orthanc keeps each file as uploaded.
        for oid, up in sorted(self.kept.items()):
            try:
                data = self.server.file_of(oid)
            except (orthanc.OrthancError, OSError) as e:
                problems.append(str(e))
                continue
            if data != ml.read_bytes(up.path):
                problems.append(f"GET /instances/{oid}/file differs from {up.path}")
        self.check("setup: Orthanc stores each instance once, as uploaded (GET /instances, "
                   "GET /instances/ID/file)", problems)

    def make_local(self, web=None):
        """The local folder: one copy of each file Orthanc stored, less UID
        duplicates: of files with the same UIDs the one WADO-RS returns is
        kept; where WADO-RS returns none of them (Orthanc 1.10's plugin
        answers 404 when the UIDs match several instances), the one the web
        mount `web` serves (told by the size its by-uid link's instance.dcm
        stats with, before any read; by its bytes where sizes tie)."""
        os.makedirs(self.local)
        stored = [(n, up) for n, up in enumerate(self.uploads) if self.kept.get(up.id) is up]
        by_uids = {}
        for n, up in stored:
            self.ds[up.path] = read_dataset(up.path)
            self.uids[up.path] = file_uids(self.ds[up.path], up.path)
            self.sha[up.path] = sha256(ml.read_bytes(up.path))
            by_uids.setdefault(self.uids[up.path], []).append(up)
        left_out, problems, notes = set(), [], []
        for key, ups in sorted(by_uids.items()):
            if len(ups) == 1:
                continue
            names = ", ".join(os.path.basename(u.path) for u in ups)
            try:
                status, parts = self.server.wado_instance(*key)
            except (OSError, orthanc.OrthancError) as e:
                status, parts = f"{type(e).__name__}: {e}", []
            got = [sha256(p) for p in parts]
            keep = [up for up in ups if got and self.sha[up.path] == got[0]]
            how = f"WADO-RS returns its bytes ({len(parts)} part{'s' if len(parts) != 1 else ''})"
            if not keep and web is not None:
                link = os.path.join(web.mp, ".dicomfs", "by-uid", *key, "instance.dcm")
                try:
                    size = os.stat(link).st_size
                except OSError as e:
                    size = errname(e)
                keep = [up for up in ups if up.size == size]
                how = (f"WADO-RS answered {status} with {len(parts)} parts; the web mount serves "
                       f"it (its instance.dcm stats with {size} bytes)")
                if len(keep) > 1:
                    data, err = read_or_error(link)
                    keep = [up for up in keep if data is not None and self.sha[up.path] == sha256(data)]
                    how = (f"WADO-RS answered {status} with {len(parts)} parts; the web mount serves "
                           f"its bytes (read: sizes tie)")
            if not keep and web is None and SELFCHECK:
                keep = ups[:1]
                how = f"WADO-RS answered {status} with {len(parts)} parts; SELFCHECK: the first"
            if not keep:
                problems.append(f"UIDs {'/'.join(key)} ({names}): WADO-RS answered {status} with "
                                f"{len(parts)} parts, none the bytes of an upload" +
                                ("" if web is None else "; the web mount serves none of them"))
                keep = ups[:1]
            left_out.update(up.path for up in ups if up is not keep[0])
            notes.append(f"{names}: the same UIDs, kept {os.path.basename(keep[0].path)} ({how})")
        for n, up in stored:
            if up.path in left_out:
                continue
            name = f"{n:04d}-{os.path.basename(up.path)}"
            shutil.copyfile(up.path, os.path.join(self.local, name))
            self.upload_of[name] = up
            self.local_ups.append(up)
        unread = [os.path.basename(u.path) for u in self.local_ups if self.ds[u.path] is None]
        if unread:
            problems.append(f"pydicom cannot read {len(unread)} stored files: {unread[:5]}")
        self.check("setup: the local folder holds one file per DICOMweb instance (Orthanc's "
                   "instances less UID duplicates: of those, the one a DICOMweb client gets)",
                   problems, f"{len(self.upload_of)} files of {len(self.kept)} Orthanc instances; "
                   f"{len(left_out)} left out: " + ("; ".join(notes) or "none"))

    # ------------------------------------------------------------ the server's oracle
    def server_values(self):
        """self.cannot_say: where Orthanc's REST API holds another value
        than pydicom reads from the first uploaded file of the node."""
        problems, first, nodes = [], {}, {}
        for up in self.local_ups:  # upload order
            for d, (kind, parent_key, _) in ORTHANC_NODES.items():
                oid = up.id if parent_key is None else up.parents.get(parent_key)
                nodes.setdefault((d, oid), []).append(up)
                first.setdefault((d, oid), up)
        answers = {}
        for (d, oid) in sorted(nodes, key=str):
            kind, _, field = ORTHANC_NODES[d]
            if (kind, oid) not in answers:
                try:
                    answers[(kind, oid)] = self.server.get_json(f"/{kind}/{oid}")
                except (orthanc.OrthancError, OSError, ValueError) as e:
                    problems.append(f"GET /{kind}/{oid}: {e}")
                    answers[(kind, oid)] = None
        keys = {d: set() for d in ORTHANC_NODES}  # the attributes Orthanc keeps per level
        for (d, oid) in nodes:
            kind, _, field = ORTHANC_NODES[d]
            ans = answers.get((kind, oid))
            if ans is not None:
                keys[d].update((ans.get(field) or {}).keys())
        self.orthanc_keys = keys
        counts = {}
        for (d, oid), ups in sorted(nodes.items(), key=str):
            kind, _, field = ORTHANC_NODES[d]
            ans = answers.get((kind, oid))
            if ans is None:
                continue
            tags = ans.get(field) or {}
            ds = self.ds[first[(d, oid)].path]
            for attr in sorted(keys[d]):
                held = str(tags.get(attr, "")).strip(" \0")
                read = pydicom_text(ds, attr)
                if read is None or held == read:
                    continue
                counts[attr] = counts.get(attr, 0) + 1
                for up in ups:
                    self.cannot_say.setdefault(up.path, {})[attr] = (d, held, read)
                if ml.VERBOSE:
                    print(f"server cannot say: {LEVELS[d]} {attr} of "
                          f"{os.path.basename(first[(d, oid)].path)} ({len(ups)} instances): "
                          f"Orthanc holds {held[:80]!r}, the file {read[:80]!r}", flush=True)
        self.check("setup: what Orthanc holds of each patient, study, series and instance "
                   "(GET /studies/ID, /series/ID, /instances/ID; compared with pydicom)", problems,
                   f"{len(nodes)} nodes; values it cannot say: " +
                   (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"))

    def excluded(self, P, node, d):
        """{attribute: (level, held, read)} the server cannot say for a
        folder of level d (its own level's attributes and those above)."""
        out = {}
        for up in P.uploads.get(node, []):
            for attr, v in self.cannot_say.get(up.path, {}).items():
                if v[0] <= d:
                    out[attr] = v
        return out

    @staticmethod
    def excluded_note(counts, extra=""):
        text = f"server cannot say: {sum(counts.values())} values"
        if counts:
            text += " (" + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ")"
        return text + extra

    # ------------------------------------------------------------ mounts
    def mount(self, source, name, opts, wait_scan=True, label=None):
        mp = os.path.join(self.tmp, name)
        m = ml.Mount(self.exe, source, mp, args=["-o", opts], log_dir=self.tmp, wait_scan=wait_scan)
        label = label or f"mount {name}: dicomfs -o {opts} {source}"
        try:
            m.start()
        except ml.MountError as e:
            log = m.log().strip().replace("\n", " | ")[-600:]
            self.check(label, [f"{e}" + (f"; log: {log}" if log and log not in str(e) else "")])
            return None
        self.check(label, [], f"{m.mount_seconds:.1f} s")
        return m

    def unmount(self, m, what):
        self.check(f"unmount {what}", m.unmount())

    # ------------------------------------------------------------ pairing
    def key_of(self, tree, rel, row):
        """(study, series, SOP) of an instance of a mount: the uploaded
        file's (local and selfcheck copies), else the DICOMweb SourcePath's,
        else the instance's own tags/."""
        up = self.upload_of.get(row.get("SourcePath"))
        if up is not None:
            return self.uids[up.path]
        key = parse_web_source(row.get("SourcePath", ""))
        if key:
            return key
        out = []
        for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
            data, _ = read_or_error(os.path.join(tree.path(rel), b"tags", k.encode()))
            out.append((data or b"").decode("utf-8", "replace").strip())
        return tuple(out)

    def pair(self, L, W):
        """A Pairing of two mounts' instances (by UIDs; a UID key twice on
        one side is a problem), then of their folders of every level (a
        local folder and a web folder are counterparts when their paired
        instances are the same)."""
        P = Pairing()
        by_key_l, by_key_w = {}, {}
        for rel, row in L.rows.items():
            by_key_l.setdefault(self.key_of(L, rel, row), []).append(rel)
        for rel, row in W.rows.items():
            by_key_w.setdefault(self.key_of(W, rel, row), []).append(rel)
        for key in sorted(set(by_key_l) | set(by_key_w), key=str):
            ls, ws = by_key_l.get(key, []), by_key_w.get(key, [])
            if len(ls) == 1 and len(ws) == 1:
                P.pairs[ls[0]] = ws[0]
                continue
            P.problems.append(f"UIDs {'/'.join(key)}: local "
                              f"{[show(x) + ' = ' + L.rows[x].get('SourcePath', '?') for x in ls]}, "
                              f"web {[show(x) for x in ws]}")
        for d in (1, 2, 3):
            maps, back = {}, {}
            for lrel, wrel in P.pairs.items():
                lp, wp = b"/".join(lrel.split(b"/")[:d]), b"/".join(wrel.split(b"/")[:d])
                maps.setdefault(lp, set()).add(wp)
                back.setdefault(wp, set()).add(lp)
            for lp, ws in sorted(maps.items()):
                if len(ws) == 1 and len(back[next(iter(ws))]) == 1:
                    P.fmap[lp] = next(iter(ws))
                elif len(ws) > 1:
                    P.grouping.append(f"local {LEVELS[d]} {show(lp)!r} split over web "
                                      f"{sorted(show(w) for w in ws)}")
            for wp, ls in sorted(back.items()):
                if len(ls) > 1:
                    P.grouping.append(f"web {LEVELS[d]} {show(wp)!r} merges local "
                                      f"{sorted(show(x) for x in ls)}")
        P.fmap.update(P.pairs)
        P.fmap_back = {w: lp for lp, w in P.fmap.items()}
        for lrel in P.pairs:
            up = self.upload_of.get(L.rows[lrel].get("SourcePath"))
            if up is None:
                continue
            parts = lrel.split(b"/")
            for d in (1, 2, 3, 4):
                P.uploads.setdefault(b"/".join(parts[:d]), []).append(up)
        return P

    def whose(self, digest):
        """' (the bytes of FILE)' for a sha256 of an upload, else ' (DIGEST)'."""
        names = sorted({os.path.basename(u.path) for u in self.kept.values()
                        if self.sha.get(u.path) == digest})
        return f" (the bytes of {', '.join(names)})" if names else f" ({str(digest)[:16]})"

    def translate(self, rel):
        """A local path of the tree as the web mount's: its patient, study,
        series or instance folder replaced by the paired one; None under a
        folder without a counterpart (reported by the pairing checks)."""
        parts = rel.split(b"/")
        for d in (4, 3, 2, 1):
            if len(parts) < d:
                continue
            prefix = b"/".join(parts[:d])
            if prefix in self.P.fmap:
                return b"/".join([self.P.fmap[prefix]] + parts[d:])
            if prefix in self.L.levels[d]:
                return None
        return rel

    def web_paired(self, rel):
        """False for a web path under a folder without a local counterpart."""
        parts = rel.split(b"/")
        for d in (4, 3, 2, 1):
            prefix = b"/".join(parts[:d])
            if len(parts) >= d and prefix in self.W.levels[d]:
                return prefix in self.P.fmap_back
        return True

    # ------------------------------------------------------------ names (2, 7b)
    def compare_names(self, L, W, P, d, pattern):
        """Problems and counts of the names of level d's paired folders:
        equal; where the server cannot say a field of the name, its other
        fields equal (pattern: the level's name as named groups); where the
        " (N)" suffix follows from such a sibling, equal without it."""
        regex = re.compile(pattern.encode("utf-8"), re.S)
        fields = set(regex.groupindex)
        problems, counts, relaxed, details = [], {}, 0, []
        kids = {}
        paired_w = set()
        for lp in sorted(L.levels[d]):
            wp = P.fmap.get(lp)
            if wp is None:
                problems.append(f"local {show(lp)!r}: no web counterpart")
                continue
            paired_w.add(wp)
            if wp not in W.levels[d]:
                problems.append(f"web {show(wp)!r} is not a {LEVELS[d]} folder")
                continue
            kids.setdefault(parent(lp), []).append(
                (lp, wp, base(lp), base(wp), set(self.excluded(P, lp, d)) & fields))
        for wp in sorted(W.levels[d] - paired_w):
            problems.append(f"web {show(wp)!r}: no local counterpart")
        for _, sibs in sorted(kids.items()):
            taken = {strip_suffix(x) for (_, _, ln, wn, ex) in sibs if ex for x in (ln, wn)}
            for lp, wp, ln, wn, ex in sibs:
                if ex:
                    for attr in ex:
                        counts[attr] = counts.get(attr, 0) + 1
                    details.append(f"{show(wp)!r} compared on {', '.join(sorted(fields - ex)) or 'nothing'} "
                                   f"(local {show(ln)!r}; the server cannot say {', '.join(sorted(ex))})")
                    ml_, mw = regex.fullmatch(strip_suffix(ln)), regex.fullmatch(strip_suffix(wn))
                    if ml_ is None or mw is None:
                        problems.append(f"{show(wp)!r}: cannot parse the name of local {show(ln)!r} "
                                        f"or web {show(wn)!r} as {pattern!r}")
                        continue
                    for f in sorted(fields - ex):
                        if ml_.group(f) != mw.group(f):
                            problems.append(f"local {show(ln)!r}, web {show(wn)!r} (in web "
                                            f"{show(wp)!r}): {f} differs (the server cannot say "
                                            f"{', '.join(sorted(ex))})")
                elif ln == wn:
                    continue
                elif strip_suffix(ln) == strip_suffix(wn) and strip_suffix(ln) in taken:
                    relaxed += 1
                    details.append(f"{show(wp)!r} compared without its suffix (local {show(ln)!r})")
                else:
                    problems.append(f"local {show(ln)!r}, web {show(wn)!r} (in web {show(wp)!r})")
        return problems, counts, relaxed, details

    def names_checks(self, L, W, P, patterns, prefix):
        renamed = 0
        for d in (1, 2, 3, 4):
            problems, counts, relaxed, details = self.compare_names(L, W, P, d, patterns[d])
            if ml.VERBOSE:
                for line in details:
                    print(f"{prefix} {LEVELS[d]} name: {line}", flush=True)
            renamed += sum(counts.values()) + relaxed
            self.check(f"{prefix} {LEVELS[d]} folders: the same name for each (where the server "
                       "cannot say a value of the name, its other fields)", problems,
                       f"{len(L.levels[d])} local, {len(W.levels[d])} web; " +
                       self.excluded_note(counts, f"; ' (N)' suffix left out for {relaxed} "
                                                  "siblings of such a name"))
        return renamed

    # ------------------------------------------------------------ comparison
    def compare(self, lm, wm):
        t0 = time.monotonic()
        # instances.tsv first (a small file), then the size of every
        # instance.dcm before anything of the instances is read.
        _, wrows, _ = read_tsv_or_none(os.path.join(wm.mp, ".dicomfs", "instances.tsv"))
        early = {}
        for row in wrows:
            try:
                early[os.fsencode(row["path"])] = os.stat(
                    os.path.join(wm.mp, row["path"], "instance.dcm")).st_size
            except OSError as e:
                early[os.fsencode(row["path"])] = errname(e)
        L, W = Tree(lm.mp), Tree(wm.mp)
        self.L, self.W = L, W
        self.check("the local mount lists its instances (instances.tsv)", L.tsv_problems +
                   ([] if len(L.rows) == len(self.local_ups) else
                    [f"{len(L.rows)} rows, {len(self.local_ups)} files"]), f"{len(L.rows)} instances")
        P = self.P = self.pair(L, W)
        self.check("1 pairing: each instance of one mount has its instance in the other (by "
                   "Study, Series and SOP Instance UID, once on each side)", P.problems,
                   f"{len(P.pairs)} pairs; {len(L.rows)} local, {len(W.rows)} web")
        self.check("1 grouping: the same instances in each patient, study and series folder",
                   P.grouping)
        for lrel, wrel in P.pairs.items():
            self.web_upload[wrel] = self.upload_of[L.rows[lrel]["SourcePath"]]
        self.source_map = {L.rows[lrel]["SourcePath"]: W.rows[wrel].get("SourcePath", "")
                           for lrel, wrel in P.pairs.items()}

        # 2: names per level.
        self.names_checks(L, W, P, DEFAULT_NAMES, "2")
        self.renamed_w = {wp for lp, wp in P.fmap.items() if base(lp) != base(wp)}
        tree_l = {}
        for p in L.entries:
            if L.in_tree(p) and level_tags_depth(p) is None and self.translate(p) is not None:
                tree_l[self.translate(p)] = p
        tree_w = {p for p in W.entries if W.in_tree(p) and level_tags_depth(p) is None
                  and self.web_paired(p)}
        self.check("2 the same set of paths in the tree (paired folders matched: names and "
                   "unpaired instances aside; the levels' tags/ in 4)",
                   self.set_problems(set(tree_l), tree_w), f"{len(tree_l)} local, {len(tree_w)} web")
        dot_l, moved = set(), 0
        for p in L.entries:
            if L.in_tree(p):
                continue
            q = self.view_link_as_web(L, p)
            moved += q != p
            if q != p and ml.VERBOSE:
                print(f"2 view link {show(p)!r} expected on the web as {show(base(q))!r}", flush=True)
            dot_l.add(q)
        dot_w = {p for p in W.entries if not W.in_tree(p)}
        self.check("2 the same set of paths in .dicomfs/ (a view link to a folder named "
                   "otherwise on the web: named by the web's folder names)",
                   self.set_problems(dot_l, dot_w),
                   f"{len(dot_l)} local, {len(dot_w)} web; {moved} links renamed so")
        problems = []
        for folder, names in sorted(L.listings.items()):
            in_tree = L.in_tree(folder) or not folder
            wf = self.translate(folder) if in_tree else folder
            if wf is None or wf not in W.listings:
                continue
            mine, renamed = [], False
            for n in names:
                t = self.translate(os.path.join(folder, n) if folder else n) if in_tree else n
                if t is not None:
                    mine.append(t.split(b"/")[-1])
                    renamed = renamed or mine[-1] != n
            if renamed:
                continue  # names differ: the level checks say how; the order follows them
            theirs = [n for n in W.listings[wf]
                      if not in_tree or self.web_paired(os.path.join(wf, n) if wf else n)]
            if mine != theirs and sorted(mine) == sorted(theirs):
                at = next(i for i, (x, y) in enumerate(zip(mine, theirs)) if x != y)
                problems.append(f"{show(wf) or '.'}: from entry {at + 1}: local "
                                f"{[show(x) for x in mine[at:at + 4]]}, web "
                                f"{[show(x) for x in theirs[at:at + 4]]}")
        self.check("2 the same listing order (folders whose entries have the same names)", problems)
        problems, skipped = [], 0
        for lrel in sorted(L.entries):
            wrel = self.translate(lrel) if L.in_tree(lrel) else lrel
            if wrel not in W.entries or lrel in (b".dicomfs/status", b".dicomfs/instances.tsv",
                                                 b".dicomfs/errors.tsv") \
                    or lrel.endswith(b"/volume/conversion.txt"):
                continue
            if level_tags_depth(lrel) is not None:
                skipped += 1
                continue  # the representative instance's: 4
            (_, sa), (_, sb) = L.entries[lrel], W.entries[wrel]
            if stat.S_IFMT(sa.st_mode) != stat.S_IFMT(sb.st_mode) or \
                    stat.S_IMODE(sa.st_mode) != stat.S_IMODE(sb.st_mode):
                problems.append(f"{show(wrel)}: mode {sa.st_mode:o} local, {sb.st_mode:o} web")
            elif stat.S_ISREG(sa.st_mode) and sa.st_size != sb.st_size and \
                    not (lrel.startswith(b".dicomfs/") and lrel.endswith(b".tsv")):
                problems.append(f"{show(wrel)}: size {sa.st_size} local, {sb.st_size} web")
        self.check("2 the same type, mode and st_size of every entry (.dicomfs/'s tables and "
                   "status, conversion.txt, the levels' tags/ aside: 4)", problems,
                   f"{skipped} entries of the levels' tags/ left to 4")

        # 3: instance.dcm against the uploads.
        size_problems, byte_problems = [], []
        for wrel, up in sorted(self.web_upload.items()):
            if early.get(wrel) != up.size:
                size_problems.append(f"{show(wrel)}: st_size {early.get(wrel)} before reading, "
                                     f"{os.path.basename(up.path)} has {up.size}")
            data, err = read_or_error(os.path.join(W.path(wrel), b"instance.dcm"))
            if err:
                byte_problems.append(f"{show(wrel)}/instance.dcm: {err}")
            elif data != ml.read_bytes(up.path):
                byte_problems.append(f"{show(wrel)}/instance.dcm: "
                                     f"{describe(ml.read_bytes(up.path), data, False)} "
                                     f"({os.path.basename(up.path)})")
        self.check("3 instance.dcm: st_size (stat before any read) is the uploaded file's size",
                   size_problems, f"{len(self.web_upload)} instances")
        self.check("3 instance.dcm reads byte-identical to the uploaded file", byte_problems,
                   f"{len(self.web_upload)} instances")

        # 4: every file of the tree, by kind.
        kinds = {k: [] for k in ("tags", "xattrs", "header.json", "header.txt", "pixels.raw", "other")}
        counts = {k: 0 for k in kinds}
        for lrel in sorted(tree_l.values()):
            wrel = self.translate(lrel)
            if wrel not in W.entries:
                continue
            (_, sa), (_, sb) = L.entries[lrel], W.entries[wrel]
            if not (stat.S_ISREG(sa.st_mode) and stat.S_ISREG(sb.st_mode)):
                continue
            parts = lrel.split(b"/")
            name = parts[-1]
            if b"tags" in parts:
                kind = "tags"
            elif name in (b"header.json", b"header.txt", b"pixels.raw"):
                kind = name.decode()
            elif name == b"instance.dcm" and len(parts) == 5:
                continue  # 3
            else:
                kind = "other"
            counts[kind] += 1
            a, ea = read_or_error(L.path(lrel))
            b, eb = read_or_error(W.path(wrel))
            if a is not None and name == b"conversion.txt":
                a = self.as_web_conversion(a)
            if ea or eb:
                if ea != eb:
                    kinds[kind].append(f"{show(wrel)}: local {ea or 'read'}, web {eb or 'read'}")
            elif a != b:
                kinds[kind].append(f"{show(wrel)}: "
                                   f"{describe(a, b, kind == 'tags' or name.endswith(b'.txt'))}")
            if kind == "tags":
                counts["xattrs"] += 1
                xa, xb = xattrs(L.path(lrel)), xattrs(W.path(wrel))
                if xa != xb:
                    diff = sorted(k for k in set(xa) | set(xb) if xa.get(k) != xb.get(k))
                    kinds["xattrs"].append(f"{show(wrel)}: " + ", ".join(
                        f"{k} local {xa.get(k)!r} web {xb.get(k)!r}" for k in diff[:3]))
        problems = []
        for folder, names in sorted(L.listings.items()):
            if not (folder.endswith(b"/tags") or b"/tags/" in folder) or not L.in_tree(folder) \
                    or level_tags_depth(folder) is not None:
                continue
            wf = self.translate(folder)
            if wf not in W.listings:
                continue
            a, b = set(names), set(W.listings[wf])
            if a != b:
                problems.append(f"{show(wf)}: only local {sorted(show(x) for x in a - b)[:5]}, "
                                f"only web {sorted(show(x) for x in b - a)[:5]}")
        self.check("4 an instance's tags/ folders list the same names (sequence items too)", problems)
        self.check("4 an instance's tags/ files: the same content", kinds["tags"],
                   f"{counts['tags']} files")
        self.check("4 an instance's tags/ files: the same extended attributes", kinds["xattrs"],
                   f"{counts['xattrs']} files")
        self.compare_level_tags(L, W, P)
        for kind in ("header.json", "header.txt", "pixels.raw"):
            self.check(f"4 {kind} equal", kinds[kind], f"{counts[kind]} files")
        self.check("4 every other file equal (image.png, pixels.txt, frames/, volume/; "
                   "conversion.txt with the sources' names as the web mount's)",
                   kinds["other"], f"{counts['other']} files")
        self.compare_dicomfs(L, W, P)
        try:
            status = ml.read_text(os.path.join(W.mp, ".dicomfs", "status")).strip().replace("\n", "; ")
        except OSError as e:
            status = f"unreadable: {errname(e)}"
        print(f"web mount's status: {status}", flush=True)
        print(f"compared in {time.monotonic() - t0:.1f} s", flush=True)

    # ------------------------------------------------------------ 4: the levels' tags/
    @staticmethod
    def subtree(T, rel):
        """rel and everything under it as a comparable value (names as
        listed, contents, extended attributes); None when rel is absent."""
        if rel not in T.entries:
            return None
        out, stack = [], [rel]
        while stack:
            r = stack.pop()
            is_dir, _ = T.entries[r]
            sub = r[len(rel):]
            xa = tuple(sorted(xattrs(T.path(r)).items()))
            if is_dir:
                names = tuple(T.listings.get(r, []))
                out.append((sub, "dir", names, xa))
                stack.extend(os.path.join(r, n) for n in names)
            else:
                data, err = read_or_error(T.path(r))
                out.append((sub, "file", data if err is None else err.encode(), xa))
        return tuple(sorted(out))

    @staticmethod
    def describe_subtrees(a, b):
        if a is None or b is None:
            return f"local {'absent' if a is None else 'present'}, web {'absent' if b is None else 'present'}"
        da, db = {x[0]: x for x in a}, {x[0]: x for x in b}
        for sub in sorted(set(da) | set(db)):
            x, y = da.get(sub), db.get(sub)
            if x != y:
                where = show(sub) or "."
                if x is None or y is None:
                    return f"{where}: only {'web' if x is None else 'local'}"
                if x[1] == y[1] == "file" and x[2] != y[2]:
                    return f"{where}: {describe(x[2], y[2], True)}"
                return f"{where}: local {x[1:]!r:.150}, web {y[1:]!r:.150}"
        return "differ"

    def compare_level_tags(self, L, W, P):
        """4: a patient's, study's or series' tags/ against its instances
        (see the module's doc)."""
        insts = {}  # local level folder -> [(local instance folder, Upload)]
        for lrel in sorted(P.pairs):
            up = self.upload_of.get(L.rows[lrel].get("SourcePath"))
            parts = lrel.split(b"/")
            for d in (1, 2, 3):
                insts.setdefault(b"/".join(parts[:d]), []).append((lrel, up))
        for d in (1, 2, 3):
            problems = []
            n_nodes = n_agree = n_split = 0
            split_nodes = set()
            for lp in sorted(L.levels[d]):
                wp = P.fmap.get(lp)
                if wp is None or lp not in insts:
                    continue  # the pairing checks say so
                n_nodes += 1
                tl, tw = lp + b"/tags", wp + b"/tags"
                if tl not in L.listings or tw not in W.listings:
                    problems.append(f"{show(wp)}: tags/ local {'listed' if tl in L.listings else 'absent'}, "
                                    f"web {'listed' if tw in W.listings else 'absent'}")
                    continue
                members = insts[lp]
                consistent = set(range(len(members)))
                for name in sorted(set(L.listings[tl]) | set(W.listings[tw])):
                    sub_l, sub_w = self.subtree(L, tl + b"/" + name), self.subtree(W, tw + b"/" + name)
                    tag = tag_of(name)
                    if tag is not None:
                        keys = [element_key(self.ds.get(up.path) if up else None, tag)
                                for _, up in members]
                        agree = all(k == keys[0] for k in keys[1:])
                    else:  # no tag for the name: the local instances' own renderings
                        agree = None
                    cands = None
                    if agree is None or not agree:
                        cands = [self.subtree(L, li + b"/tags/" + name) for li, _ in members]
                        if agree is None:
                            agree = all(c == cands[0] for c in cands[1:])
                    if agree:
                        n_agree += 1
                        if sub_l != sub_w:
                            problems.append(f"{show(tw)}/{show(name)}: the {len(members)} instances "
                                            f"agree; {self.describe_subtrees(sub_l, sub_w)}")
                        continue
                    n_split += 1
                    split_nodes.add(lp)
                    if ml.VERBOSE:
                        print(f"4 {show(tw)}/{show(name)}: the {len(members)} instances disagree "
                              f"({len(set(cands))} values)", flush=True)
                    if sub_w not in cands:
                        problems.append(f"{show(tw)}/{show(name)}: the web's is none of the "
                                        f"{len(members)} instances' (local: "
                                        f"{self.describe_subtrees(sub_l, sub_w)})")
                    if sub_l not in cands:
                        problems.append(f"{show(lp)}/tags/{show(name)}: the local mount's is none "
                                        f"of its {len(members)} instances'")
                    consistent &= {i for i, c in enumerate(cands) if c == sub_w}
                if not consistent:
                    problems.append(f"{show(tw)}: no one of the {len(members)} instances has every "
                                    "value the web's tags/ shows")
            self.check(f"4 {LEVELS[d]} folders' tags/: where the {LEVELS[d]}'s instances agree "
                       "(pydicom over the uploads) equal to the local one; where they disagree, "
                       "one instance's (the same for every attribute)", problems,
                       f"{n_nodes} folders, {n_agree} attributes agreed, {n_split} attributes in "
                       f"{len(split_nodes)} folders whose instances disagree")

    def as_web_conversion(self, data):
        """A local volume/conversion.txt with each source file ("volume 1
        slice 2: FILE", "volume 1 slice 1: FILE frame 3", "not an image of a
        volume: FILE: why") named as the web mount names it (its SourcePath)."""
        def name(field):
            m = re.fullmatch(r"(.*?)( frame \d+)?", field)
            return self.source_map.get(m.group(1), m.group(1)) + (m.group(2) or "")

        out = []
        for line in data.decode("utf-8", "surrogateescape").split("\n"):
            out.append(": ".join(name(f) for f in line.split(": ")))
        return "\n".join(out).encode("utf-8", "surrogateescape")

    # ------------------------------------------------------------ 5: .dicomfs
    def view_target(self, T, rel):
        """The tree path a view link of T leads to, else None."""
        try:
            t = os.readlink(T.path(rel))
        except OSError:
            return None
        while t.startswith(b"../"):
            t = t[3:]
        return t

    def view_link_as_web(self, L, rel):
        """A local .dicomfs path as the web mount's: a link of by-date,
        by-modality or by-accession to a folder (or below one) named
        otherwise on the web is named by the web's names, where its local
        name is its local target's names."""
        if not stat.S_ISLNK(L.entries[rel][1].st_mode) or rel.startswith(b".dicomfs/by-uid/"):
            return rel
        t = self.view_target(L, rel)
        if t is None:
            return rel
        parts = t.split(b"/")
        chain = [b"/".join(parts[:d]) for d in range(1, len(parts) + 1)]
        if not any(self.P.fmap.get(c) in self.renamed_w for c in chain):
            return rel
        if base(rel) != link_name(parts) or self.P.fmap.get(t) is None:
            return rel
        return parent(rel) + b"/" + link_name(self.P.fmap[t].split(b"/"))

    def compare_dicomfs(self, L, W, P):
        """5: the tables and the views' links."""
        # The links of each view folder point to the same (paired) folders;
        # their own names are in the .dicomfs/ paths check.
        problems, n = [], 0
        targets = {}  # view folder -> ([local targets as web paths], [web targets])
        for side, tree in ((0, L), (1, W)):
            for rel, (_, st) in tree.entries.items():
                if tree.in_tree(rel) or not stat.S_ISLNK(st.st_mode):
                    continue
                t = self.view_target(tree, rel)
                if t is None:
                    problems.append(f"{show(rel)}: unreadable link")
                    continue
                if side == 0:
                    n += 1
                    t = self.translate(t)
                    if t is None:
                        continue  # to a folder without a counterpart
                elif not self.web_paired(t):
                    continue
                targets.setdefault(os.path.dirname(rel), ([], []))[side].append(t)
        for folder, (a, b) in sorted(targets.items()):
            if sorted(a) != sorted(b):
                sa, sb = set(a), set(b)
                problems.append(f"{show(folder)}: local to {sorted(show(x) for x in sa - sb)[:3]}, "
                                f"web to {sorted(show(x) for x in sb - sa)[:3]}"
                                if sa != sb else f"{show(folder)}: {len(a)} links local, {len(b)} web")
        self.check("5 .dicomfs views: each view folder links to the same (paired) folders", problems,
                   f"{n} links")

        problems, empty_ts, counts = [], 0, {}
        if L.header != W.header:
            problems.append(f"columns: local {L.header}, web {W.header}")
        compared = [c for c in (L.header or []) if c not in SOURCE_COLUMNS | {"path"}
                    and c in (W.header or [])]
        for lrel, wrel in sorted(P.pairs.items()):
            a, b = L.rows[lrel], W.rows[wrel]
            ex = self.excluded(P, lrel, 4)
            for c in compared:
                if a.get(c) == b.get(c):
                    continue
                if c == "TransferSyntaxUID" and b.get(c) == "":
                    empty_ts += 1  # no group 0002 in DICOM JSON: unknown
                elif c in ex and ex[c][0] == 4:
                    counts[c] = counts.get(c, 0) + 1
                else:
                    problems.append(f"{show(wrel)} {c}: local {a.get(c)!r}, web {b.get(c)!r}")
        self.check("5 instances.tsv: the same columns, the same values for each instance (but "
                   f"{', '.join(sorted(SOURCE_COLUMNS))}; TransferSyntaxUID empty on the web "
                   "or equal)", W.tsv_problems + problems,
                   f"{len(W.rows)} rows; TransferSyntaxUID empty on the web for {empty_ts}; " +
                   self.excluded_note(counts))
        for d in (1, 2, 3):
            self.compare_level_table(L, W, P, d)
        ha, ra, pa = read_tsv_or_none(os.path.join(L.mp, ".dicomfs", "errors.tsv"))
        hb, rb, pb = read_tsv_or_none(os.path.join(W.mp, ".dicomfs", "errors.tsv"))
        problems = pa + pb
        if ha != hb:
            problems.append(f"columns: local {ha}, web {hb}")
        ka = sorted(tuple(sorted(dict(r, path=self.source_map.get(r["path"], r["path"])).items()))
                    for r in ra)
        kb = sorted(tuple(sorted(r.items())) for r in rb)
        if ka != kb:
            sa, sb = set(ka), set(kb)
            problems += [f"only local: {dict(x)}" for x in sorted(sa - sb)]
            problems += [f"only web: {dict(x)}" for x in sorted(sb - sa)]
        self.check("5 errors.tsv equal (the sources' paths as the web mount's)", problems,
                   f"{len(ra)} rows local, {len(rb)} web")

    def compare_level_table(self, L, W, P, d):
        fname = TABLES[d]
        ha, ra, pa = read_tsv_or_none(os.path.join(L.mp, ".dicomfs", fname))
        hb, rb, pb = read_tsv_or_none(os.path.join(W.mp, ".dicomfs", fname))
        problems = pa + pb
        if ha != hb:
            problems.append(f"columns: local {ha}, web {hb}")
        web_rows = {os.fsencode(r["path"]): r for r in rb}
        counts, seen = {}, set()
        for row in ra:
            lp = os.fsencode(row["path"])
            wp = P.fmap.get(lp)
            if wp is None:
                continue  # a folder without a counterpart: the pairing checks say so
            seen.add(wp)
            w = web_rows.get(wp)
            if w is None:
                problems.append(f"{show(wp)}: no row on the web (local {show(lp)})")
                continue
            ex = self.excluded(P, lp, d)
            for c in ha or []:
                if c == "path" or row.get(c) == w.get(c):
                    continue
                if c in ex:
                    counts[c] = counts.get(c, 0) + 1
                else:
                    problems.append(f"{show(wp)} {c}: local {row.get(c)!r}, web {w.get(c)!r}")
        for wp in sorted(set(web_rows) - seen):
            if self.web_paired(wp):
                problems.append(f"{show(wp)}: a row only on the web")
        self.check(f"5 {fname}: each paired {LEVELS[d]}'s row equal (the values the server "
                   "cannot say aside)", problems,
                   f"{len(ra)} rows local, {len(rb)} web; " + self.excluded_note(counts))

    @staticmethod
    def set_problems(a, b):
        problems = [f"only local: {show(x)!r}" for x in sorted(a - b)]
        problems += [f"only web: {show(x)!r}" for x in sorted(b - a)]
        return problems

    # ------------------------------------------------------------ offline
    def pick_offline(self):
        """(fetched, unfetched sample) of the paired web instances: every
        instance of every other series in path order, and a few instances
        of the other series (none of whose instances is read: a small
        series is retrieved whole when one of its instances is first
        needed)."""
        series = {}
        for rel in sorted(self.web_upload):
            series.setdefault(parent(rel), []).append(rel)
        names = sorted(series)
        fetched = [rel for s in names[0::2] for rel in series[s]]
        rest = [series[s][len(series[s]) // 2] for s in names[1::2]]
        step = max(1, len(rest) // UNFETCHED_SAMPLE)
        return fetched, rest[::step][:UNFETCHED_SAMPLE]

    def read_instances(self, mp, rels, what):
        problems = []
        for rel in rels:
            data, err = read_or_error(os.path.join(os.fsencode(mp), rel, b"instance.dcm"))
            want = ml.read_bytes(self.web_upload[rel].path)
            if err:
                problems.append(f"{show(rel)}/instance.dcm: {err}")
            elif data != want:
                problems.append(f"{show(rel)}/instance.dcm: {describe(want, data, False)}")
        self.check(what, problems, f"{len(rels)} instances")

    # ------------------------------------------------------------ headers (8)
    @staticmethod
    def attribute_files(mp, rel):
        """{path under the instance folder: (size, bytes or None)}: every
        entry stat'ed, the attribute files (header.*, tags/...) read."""
        out = {}
        root = os.path.join(os.fsencode(mp), rel)
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            sub = os.path.relpath(dirpath, root)
            for name in sorted(filenames) + dirnames:
                p = os.path.join(dirpath, name)
                r = os.path.normpath(os.path.join(sub, name))
                st = os.lstat(p)
                attr = r.startswith(b"tags/") or r.startswith(b"header.")
                data = None
                if attr and stat.S_ISREG(st.st_mode):
                    data, err = read_or_error(p)
                    data = data if not err else err
                out[r] = (st.st_size if stat.S_ISREG(st.st_mode) else "dir", data)
            if dirpath == root:
                dirnames[:] = [d for d in dirnames if d == b"tags"]
        return out

    @staticmethod
    def retrieve_counts(st):
        """(fetched alone, {whole, headers, parts_whole, parts_header}) from
        .dicomfs/status, or None where the lines are not as expected."""
        alone = re.search(r"\((\d+) instances fetched alone", st.get("cache", ""))
        series = re.fullmatch(r"(\d+) whole, (\d+) for their headers \((\d+) stopped idle, "
                              r"(\d+) failed\); instances from them: (\d+) whole, (\d+) headers",
                              st.get("series retrieved", ""))
        if alone is None or series is None:
            return None
        n = [int(x) for x in series.groups()]
        return int(alone.group(1)), dict(whole=n[0], headers=n[1], parts_whole=n[4],
                                         parts_header=n[5])

    def headers(self, url):
        wrels = sorted(rel for rel, up in self.web_upload.items()
                       if f"{os.sep}{HEADERS_SERIES}{os.sep}" in up.path)
        back = {w: l for l, w in self.P.pairs.items()}
        cache3 = os.path.join(self.tmp, "cache3")
        opts = f"index={self.index},cache_dir={cache3},cache_gb={HEADERS_CACHE_GB}"
        lm = self.mount(self.local, "mnt-local8", "wait,noindex",
                        label="8 mount the local folder again (-o wait,noindex)")
        if lm is None:
            return
        wm = self.mount(url, "mnt-web8", opts, wait_scan=False,
                        label=f"8 mount the URL from the index, a fresh cache, -o cache_gb={HEADERS_CACHE_GB}")
        if wm is None:
            self.unmount(lm, "the local mount of step 8")
            return
        try:
            self.check_headers(lm, wm, wrels, back, cache3)
            self.check_frames(lm, wm, back)
        finally:
            self.unmount(wm, "the DICOMweb mount of step 8")
            self.unmount(lm, "the local mount of step 8")

    def check_headers(self, lm, wm, wrels, back, cache3):
        problems = [] if len(wrels) == 8 else [f"{HEADERS_SERIES}: {len(wrels)} paired instances, not 8"]
        files = 0
        for wrel in wrels:
            a, b = self.attribute_files(lm.mp, back[wrel]), self.attribute_files(wm.mp, wrel)
            files += len(a)
            for r in sorted(set(a) | set(b)):
                if r not in b or r not in a:
                    problems.append(f"{show(wrel)}/{show(r)}: only in the {'local' if r in a else 'web'} mount")
                elif a[r] != b[r]:
                    problems.append(f"{show(wrel)}/{show(r)}: size or bytes differ: local "
                                    f"{a[r][0]}, web {b[r][0]}")
        self.check(f"8 every entry of each {HEADERS_SERIES} instance folder stat'ed and its "
                   "attribute files (header.*, tags/) read: the same names, sizes and bytes as "
                   "the local mount's", problems, f"{len(wrels)} instances, {files} entries")
        st = wm.status()
        counts = self.retrieve_counts(st)
        problems = []
        if counts is None:
            problems.append(f"status: cache {st.get('cache')!r}, series retrieved "
                            f"{st.get('series retrieved')!r}")
        else:
            alone, c = counts
            if c["headers"] != 1 or c["whole"] != 0:
                problems.append(f"series retrieved: {c['whole']} whole, {c['headers']} for headers "
                                "(want 0 and 1)")
            if c["parts_header"] != len(wrels):
                problems.append(f"{c['parts_header']} header copies (want {len(wrels)})")
            if alone > 1:
                problems.append(f"{alone} instances fetched alone (want at most 1)")
        sparse = 0
        for dirpath, _, names in os.walk(cache3):  # cache3/<sha256 of the URL>/<sha1 of a key>
            for name in names:
                s_ = os.stat(os.path.join(dirpath, name))
                if len(name) == 40 and s_.st_blocks * 512 < s_.st_size // 2:
                    sparse += 1
        if sparse < len(wrels) - 1:
            problems.append(f"{sparse} sparse files in the cache (want {len(wrels) - 1} or more)")
        self.check("8 status after that walk: one series retrieved for its headers, its instances "
                   "brought as header copies, at most one instance fetched alone, none whole; the "
                   "header copies sparse in the cache", problems,
                   f"cache: {st.get('cache')}; series retrieved: {st.get('series retrieved')}; "
                   f"{sparse} sparse files")
        problems = []
        for wrel in wrels:
            for name in (b"pixels.raw", b"image.png"):
                a, ea = read_or_error(os.path.join(os.fsencode(lm.mp), back[wrel], name))
                b, eb = read_or_error(os.path.join(os.fsencode(wm.mp), wrel, name))
                if ea or eb or a != b:
                    problems.append(f"{show(wrel)}/{show(name)}: local {ea or len(a)}, web {eb or len(b)}")
        self.read_instances(wm.mp, wrels, f"8 every {HEADERS_SERIES} instance.dcm read after "
                                          "its header copy, equal to the upload")
        after = self.retrieve_counts(wm.status())
        if after is None or after[1]["whole"] != 0 or after[0] > len(wrels):
            problems.append(f"status after the reads: {after}")
        self.check(f"8 pixels.raw and image.png of each {HEADERS_SERIES} instance equal to the "
                   "local mount's; each instance fetched alone (no series retrieved whole)",
                   problems, f"fetched alone: {after[0] if after else '?'}")

    def frame_counts(self, wm):
        """(instances fetched alone, frames fetched alone) from the status."""
        st = wm.status()
        counts = self.retrieve_counts(st)
        frames = re.match(r"(\d+) \(", st.get("frames fetched alone", ""))
        return (counts[0] if counts else None), (int(frames.group(1)) if frames else None)

    def check_frames(self, lm, wm, back):
        """8b: frames of multi-frame instances known by their header copies
        are fetched alone, not with their instance, up to FRAMES_ALONE of
        one instance; then the instance is fetched whole."""
        import pydicom
        wrels = sorted(rel for rel, up in self.web_upload.items()
                       if f"{os.sep}{FRAMES_SERIES}{os.sep}" in up.path)
        problems = [] if len(wrels) == 3 else [f"{FRAMES_SERIES}: {len(wrels)} paired instances, not 3"]
        before = self.frame_counts(wm)
        for wrel in wrels:  # the attributes: the series' header retrieve
            self.attribute_files(wm.mp, wrel)
        walked = self.frame_counts(wm)
        if None in before + walked:
            self.check("8b the status says instances and frames fetched alone", [f"{before}, {walked}"])
            return
        whole_first = walked[0] - before[0]  # the first looked at, fetched before its header came
        arrays = {wrel: pydicom.dcmread(self.web_upload[wrel].path).pixel_array for wrel in wrels}
        header_only = []
        for wrel in wrels:
            got = self.frame_counts(wm)
            for name in (b"0002.png", b"0005.raw"):
                a, ea = read_or_error(os.path.join(os.fsencode(lm.mp), back[wrel], b"frames", name))
                b, eb = read_or_error(os.path.join(os.fsencode(wm.mp), wrel, b"frames", name))
                if ea or eb or a != b:
                    problems.append(f"{show(wrel)}/frames/{show(name)}: local {ea or len(a)}, "
                                    f"web {eb or len(b)}")
                if name.endswith(b".raw") and not eb and b != arrays[wrel][4].astype("<i2").tobytes():
                    problems.append(f"{show(wrel)}/frames/0005.raw is not pydicom's frame 5")
            after = self.frame_counts(wm)
            if after[1] - got[1] == 2:
                header_only.append(wrel)
            elif after[1] != got[1]:
                problems.append(f"{show(wrel)}: {after[1] - got[1]} frames fetched alone for 2 read")
        done = self.frame_counts(wm)
        if len(header_only) < 1 or len(header_only) + whole_first < len(wrels):
            problems.append(f"{len(header_only)} instances' frames fetched alone, {whole_first} "
                            f"instances fetched whole before their header copies came, of {len(wrels)}")
        if done[0] != walked[0]:
            problems.append(f"{done[0] - walked[0]} instances fetched whole for those frames")
        self.check(f"8b frames/0002.png and 0005.raw of each {FRAMES_SERIES} instance (multi-frame, "
                   "native and RLE) equal to the local mount's, the raw one to pydicom's frame; "
                   "each frame of an instance known by its header copy fetched alone (WADO-RS "
                   "frames), no instance fetched for them", problems,
                   f"frames fetched alone: {done[1] - walked[1]} for {len(header_only)} instances; "
                   f"{whole_first} fetched whole first")
        if not header_only:
            return
        wrel = header_only[-1]
        problems = []
        for f in range(arrays[wrel].shape[0]):
            b, eb = read_or_error(os.path.join(os.fsencode(wm.mp), wrel, b"frames", b"%04d.raw" % (f + 1)))
            if eb or b != arrays[wrel][f].astype("<i2").tobytes():
                problems.append(f"{show(wrel)}/frames/{f + 1:04d}.raw: {eb or 'not pydicom frame'}")
        end = self.frame_counts(wm)
        if end[1] - done[1] != FRAMES_ALONE - 2:
            problems.append(f"{end[1] - done[1]} more frames fetched alone (want {FRAMES_ALONE - 2})")
        if end[0] - done[0] != 1:
            problems.append(f"{end[0] - done[0]} instances fetched whole (want 1)")
        self.check(f"8b every frame of one instance read: each equal to pydicom's; after "
                   f"{FRAMES_ALONE} frames fetched alone the instance is fetched whole, once", problems,
                   f"{show(wrel)}: {arrays[wrel].shape[0]} frames")

    def offline(self, url):
        fetched, unfetched = self.pick_offline()
        cache2 = os.path.join(self.tmp, "cache2")
        w2 = self.mount(url, "mnt-web2", f"wait,index={self.index},cache_dir={cache2}",
                        wait_scan=False,
                        label="6 mount the URL again from the index, a fresh cache (Orthanc up)")
        if w2 is None:
            return
        self.read_instances(w2.mp, fetched, "6 every instance.dcm of every other series read "
                                            "through the second mount, equal to the upload")
        self.unmount(w2, "the second DICOMweb mount")
        self.check("6 Orthanc stopped by its pid (SIGTERM), exit 0", self.server.stop())
        # ttl=0: the stored listing is not trusted, so the mount tries the
        # server (and fails) rather than showing it as within its TTL
        w3 = self.mount(url, "mnt-web3", f"ttl=0,index={self.index},cache_dir={cache2}",
                        wait_scan=False,
                        label="6 mount the URL from the index with Orthanc stopped (-o ttl=0)")
        if w3 is None:
            return
        try:
            self.check_offline(w3, fetched, unfetched)
        finally:
            self.unmount(w3, "the DICOMweb mount made with Orthanc stopped")

    def check_offline(self, w3, fetched, unfetched):
        W = self.W
        mpb = os.fsencode(w3.mp)
        want_top = sorted(x for x in W.levels[1])
        ok, took = ml.poll("the cached tree's patients", lambda: sorted(
            n for n in os.listdir(mpb) if n != b".dicomfs") == want_top,
            ml.Bound(ml.MOUNT_SECONDS, self.exe), interval=0.1)
        problems = []
        for d in (1, 2, 3, 4):
            for folder in sorted(W.levels[d - 1]):
                skip = {b".dicomfs"} if d == 1 else {b"tags"} if d < 4 else {b"tags", b"volume"}
                try:
                    got = {n for n in os.listdir(os.path.join(mpb, folder) if folder else mpb)
                           if n not in skip}
                except OSError as e:
                    problems.append(f"{show(folder) or '.'}: {errname(e)}")
                    continue
                want = {x.split(b"/")[-1] for x in W.levels[d]
                        if (x.rsplit(b"/", 1)[0] if d > 1 else b"") == folder}
                if got != want:
                    problems.append(f"{show(folder) or '.'}: only cached {sorted(got - want)[:4]}, "
                                    f"only online {sorted(want - got)[:4]}")
        self.check("6 offline: the cached tree lists the same patients, studies, series and "
                   "instances", problems, f"{'listed' if ok else 'not listed'} after {took:.1f} s")
        problems = []
        for rel in sorted(W.levels[4]):
            p = os.path.join(mpb, rel)
            try:
                names = set(os.listdir(p))
                size = os.stat(os.path.join(p, b"instance.dcm")).st_size
            except OSError as e:
                problems.append(f"{show(rel)}: {errname(e)}")
                continue
            if b"instance.dcm" not in names:
                problems.append(f"{show(rel)}: no instance.dcm listed")
            want = W.entries.get(os.path.join(rel, b"instance.dcm"))
            up = self.web_upload.get(rel)
            if up is not None and size != up.size:
                problems.append(f"{show(rel)}/instance.dcm: st_size {size}, the file has {up.size}")
            elif up is None and want is not None and size != want[1].st_size:
                problems.append(f"{show(rel)}/instance.dcm: st_size {size}, "
                                f"{want[1].st_size} online")
        self.check("6 offline: every instance folder lists, instance.dcm stats with its size",
                   problems, f"{len(W.levels[4])} instances")
        self.read_instances(w3.mp, fetched, "6 offline: instance.dcm fetched before reads from the "
                                            "cache, byte-identical")
        problems, times = [], []
        for rel in unfetched:
            t0 = time.monotonic()
            data, err = read_or_error(os.path.join(mpb, rel, b"instance.dcm"))
            times.append(time.monotonic() - t0)
            if err is None:
                problems.append(f"{show(rel)}/instance.dcm: read {len(data)} bytes with Orthanc stopped")
            elif not err.startswith("EIO"):
                problems.append(f"{show(rel)}/instance.dcm: {err}, expected EIO")
        self.check("6 offline: instance.dcm of a series never read fails with EIO (errno 5), "
                   "never ENOENT",
                   problems, f"{len(unfetched)} instances, slowest {max(times or [0]):.2f} s")

    # ------------------------------------------------------------ 7c: a remount from the index
    def remount_from_index(self, url):
        m = self.mount(url, "mnt-web-again", f"index={self.index},cache_dir={self.cache1}",
                       wait_scan=False, label="7c mount the URL again from its index "
                       "(-o index=TMP/web.sqlite, Orthanc up)")
        if m is None:
            return
        try:
            problems = []
            try:
                at_mount = m.status().get("index at mount", "")
            except OSError as e:
                at_mount = f"unreadable: {errname(e)}"
            if not at_mount.startswith("image mapped"):
                problems.append(f".dicomfs/status says 'index at mount: {at_mount}'")
            T = Tree(m.mp, whole=False)
            for d in (1, 2, 3, 4):
                a, b = self.W.levels[d], T.levels[d]
                problems += [f"{LEVELS[d]} only in the first web mount: {show(x)!r}" for x in sorted(a - b)]
                problems += [f"{LEVELS[d]} only in the remount: {show(x)!r}" for x in sorted(b - a)]
            self.check("7c the remount from the index lists the same tree (the names at every "
                       "level) as the first web mount, its status saying 'image mapped'", problems,
                       f"index at mount: {at_mount}; " +
                       ", ".join(f"{len(T.levels[d])} {LEVELS[d]}" for d in (1, 2, 3, 4)))
            # within the TTL of the first mount's listing: nothing asked
            st = m.status()
            problems = []
            if not st.get("listing at mount", "").startswith("the stored one"):
                problems.append(f"listing at mount: {st.get('listing at mount')!r}")
            if st.get("scan") != "done":
                problems.append(f"scan: {st.get('scan')!r}")
            if not st.get("requests", "").startswith("0 "):
                problems.append(f"requests: {st.get('requests')!r}")
            self.check("7c within the TTL of the first mount's whole listing the remount asked "
                       "the server nothing: the tree walked, the scan done, 0 requests",
                       problems, f"listing at mount: {st.get('listing at mount')}")
        finally:
            self.unmount(m, "the remount from the index")
        time.sleep(2)
        m = self.mount(url, "mnt-web-ttl", f"ttl=1,index={self.index},cache_dir={self.cache1}",
                       label="7c mount the URL again from its index with -o ttl=1, 2 s later")
        if m is None:
            return
        try:
            st = m.status()
            asked = int(st.get("requests", "0").split()[0])
            problems = [] if asked > 0 and "listing at mount" not in st else [
                f"requests: {st.get('requests')!r}, listing at mount: {st.get('listing at mount')!r}"]
            self.check("7c past its TTL the listing is made again at the remount", problems,
                       f"requests: {st.get('requests')}")
        finally:
            self.unmount(m, "the remount past the TTL")

    # ------------------------------------------------------------ 7a: TLS
    def tls(self):
        certs = os.path.join(self.tmp, "certs")
        try:
            cert, key = orthanc.make_certificate(certs, "proxy")
            other, _ = orthanc.make_certificate(certs, "other")
            proxy = orthanc.TlsProxy(cert, key)
        except (orthanc.OrthancError, OSError, subprocess.SubprocessError) as e:
            self.check("7a setup: a TLS proxy with a self-signed certificate", [str(e)])
            return
        proxy.start(self.server.orthanc_port)
        url = f"https://127.0.0.1:{proxy.port}/dicom-web"
        try:
            m = self.mount(url, "mnt-tls", f"wait,cafile={cert},index={self.tmp}/tls.sqlite,"
                           f"cache_dir={self.tmp}/cache-tls", wait_scan=False,
                           label="7a mount https://127.0.0.1:PORT/dicom-web (a TLS proxy in front of "
                           "Orthanc) with -o cafile=the proxy's self-signed certificate")
            if m is not None:
                try:
                    got = set(n for n in os.listdir(os.fsencode(m.mp)) if n != b".dicomfs")
                    want = self.W.levels[1]
                    source = m.status().get("source", "")
                    problems = self.set_problems(want, got)
                    if not source.startswith("https://"):
                        problems.append(f".dicomfs/status says 'source: {source}'")
                    self.check("7a the https mount lists the same patients as the plain http mount",
                               [p.replace("only local", "only http").replace("only web", "only https")
                                for p in problems],
                               f"{len(got)} patients; {proxy.connections} TLS connections")
                finally:
                    self.unmount(m, "the https mount")
            for n, (what, extra) in enumerate((("without -o cafile", ""),
                                               ("with -o cafile=another self-signed certificate",
                                                f",cafile={other}"))):
                self.refused(url, f"mnt-tls-bad{n}", f"index={self.tmp}/tls-bad{n}.sqlite,"
                             f"cache_dir={self.tmp}/cache-tls-bad{n}{extra}", proxy,
                             f"7a `dicomfs https://... MNT` {what} fails: a non-zero exit, one line "
                             "on stderr naming the certificate or SSL, nothing mounted")
        finally:
            proxy.stop()

    def refused(self, url, name, opts, proxy, label):
        mp = os.path.join(self.tmp, name)
        os.makedirs(mp, exist_ok=True)
        m = ml.Mount(self.exe, url, mp, foreground=False, args=["-o", opts], log_dir=self.tmp)
        before = proxy.connections
        bound = ml.Bound(ml.MOUNT_SECONDS, self.exe)
        t0 = time.monotonic()
        rc, out, err = ml.run(m.argv(), timeout=bound.seconds)
        took = time.monotonic() - t0
        problems = []
        lines = [x for x in err.split("\n") if x.strip()]
        if rc is None:
            problems.append(f"still running after {took:.1f} s ({bound})")
        elif rc == 0:
            problems.append("exit status 0")
        if out.strip():
            problems.append(f"stdout: {out.decode('utf-8', 'replace').strip()[:200]!r}")
        if len(lines) != 1:
            problems.append(f"{len(lines)} lines on stderr: {lines[:4]}")
        elif not re.search(r"certificate|ssl", lines[0], re.I):
            problems.append(f"the line names neither the certificate nor SSL: {lines[0]!r}")
        if ml.mount_count(mp):
            problems.append(f"{mp} is mounted")
        pids = m.find_daemon()
        if pids:
            problems.append(f"dicomfs still running: pids {pids}")
        if ml.mount_count(mp) or pids:  # clean up what we started
            m.pid = pids[0] if len(pids) == 1 else None
            ml.Mount.all_pids.extend(pids)
            ml.Mount.live.append(m)
            m.stop()
        if proxy.connections == before:
            problems.append("no connection reached the TLS proxy")
        self.check(label, problems, f"exit {rc} after {took:.1f} s: {lines[0] if lines else ''}")

    # ------------------------------------------------------------ 7b: templates and views
    def templates(self, url):
        opts = TEMPLATE_OPTS
        lm = self.mount(self.local, "mnt-local-tpl", f"wait,noindex,{opts}",
                        label=f"7b mount the local folder with -o '{opts}'")
        if lm is None:
            return
        try:
            wm = self.mount(url, "mnt-web-tpl", f"wait,index={self.tmp}/web-tpl.sqlite,"
                            f"cache_dir={self.tmp}/cache-tpl,{opts}", wait_scan=False,
                            label=f"7b mount the URL with -o '{opts}'")
            if wm is None:
                return
            try:
                Lt, Wt = Tree(lm.mp, whole=False), Tree(wm.mp, whole=False)
                P = self.pair(Lt, Wt)
                problems = P.problems + P.grouping
                if len(P.pairs) != len(self.upload_of):
                    problems.append(f"{len(P.pairs)} instances paired, {len(self.upload_of)} files")
                for d in (1, 2, 3):
                    rx = re.compile(TEMPLATE_NAMES[d].encode("utf-8"), re.S)
                    odd = sorted(show(x) for x in Lt.levels[d] if not rx.fullmatch(strip_suffix(base(x))))
                    if odd:
                        problems.append(f"local {LEVELS[d]} names not made by {TEMPLATES[d]!r}: {odd[:4]}")
                self.check("7b the templated mounts pair their instances by UIDs, and the local "
                           "names follow the templates", problems,
                           f"{len(P.pairs)} pairs")
                self.names_checks(Lt, Wt, P, TEMPLATE_NAMES, "7b name templates:")
                self.by_uid(Wt)
            finally:
                self.unmount(wm, "the templated DICOMweb mount")
        finally:
            self.unmount(lm, "the templated local mount")

    def by_uid(self, T):
        problems = []
        mpb = T.mpb
        instances = {os.path.join(mpb, x) for x in T.levels[4]}
        for up in self.local_ups:
            st, se, sop = (x.encode() for x in self.uids[up.path])
            link = os.path.join(mpb, b".dicomfs", b"by-uid", st, se, sop)
            where = f"by-uid/{show(st)}/{show(se)}/{show(sop)}"
            try:
                if not stat.S_ISLNK(os.lstat(link).st_mode):
                    problems.append(f"{where}: not a symbolic link")
                    continue
            except OSError as e:
                problems.append(f"{where}: {errname(e)}")
                continue
            real = os.path.realpath(link)
            if real not in instances:
                problems.append(f"{where}: leads to {show(real)!r}, not an instance folder")
                continue
            data, err = read_or_error(os.path.join(link, b"instance.dcm"))
            if err:
                problems.append(f"{where}/instance.dcm: {err}")
            elif data != ml.read_bytes(up.path):
                problems.append(f"{where}/instance.dcm: {describe(ml.read_bytes(up.path), data, False)} "
                                f"({os.path.basename(up.path)})")
        self.check("7b views: every instance's .dicomfs/by-uid/<Study>/<Series>/<SOP> on the "
                   "templated web mount leads to an instance folder whose instance.dcm is the "
                   "uploaded file", problems, f"{len(self.local_ups)} instances")

    # ------------------------------------------------------------ the test
    def run(self):
        files = self.make_corpus()
        self.server = orthanc.Orthanc(os.path.join(self.tmp, "orthanc"), default_encoding=ENCODING)
        try:
            self.server.start()
        except orthanc.OrthancError as e:
            self.check("setup: Orthanc started on 127.0.0.1 (GET /system answers)", [str(e)])
            return
        try:
            self.check("setup: Orthanc started on 127.0.0.1 (GET /system answers)", [],
                       f"{self.server.url}, pid {self.server.pid}, version "
                       f"{self.server.system.get('Version')}, {self.server.start_seconds_taken:.1f} s")
            self.upload(files)
            self.run_mounts()
        finally:
            problems = self.server.stop()
            self.check("Orthanc stopped, no Orthanc process left", problems +
                       ([f"pid {self.server.pid} alive"] if ml.pid_alive(self.server.pid) else []))

    def run_mounts(self):
        if SELFCHECK:
            self.make_local()
            copy = os.path.join(self.tmp, "local-copy")
            os.makedirs(copy)
            for name, up in list(self.upload_of.items()):
                shutil.copyfile(os.path.join(self.local, name), os.path.join(copy, "copy-" + name))
                self.upload_of["copy-" + name] = up
            url = copy
            wm = self.mount(copy, "mnt-web", "wait,noindex",
                            label="1 mount a renamed copy of the local folder (SELFCHECK)")
        else:
            url = self.server.dicomweb
            wm = self.mount(url, "mnt-web", f"wait,index={self.index},cache_dir={self.cache1}",
                            wait_scan=False, label="1 mount the Orthanc DICOMweb URL "
                            "(-o wait,index=TMP/web.sqlite,cache_dir=TMP/cache1)")
            if wm is None:
                return
            self.make_local(wm)
            self.server_values()
        if wm is None:
            return
        lm = self.mount(self.local, "mnt-local", "wait,noindex")
        if lm is None:
            self.unmount(wm, "the DICOMweb mount")
            return
        try:
            self.compare(lm, wm)
        finally:
            self.unmount(wm, "the DICOMweb mount")
            self.unmount(lm, "the local mount")
        if not SELFCHECK:
            self.remount_from_index(url)
            self.tls()
            self.templates(url)
            self.headers(url)
            self.offline(url)

def main():
    if len(sys.argv) == 3:
        why = orthanc.available()
        if why:
            print(f"SKIP: {why}")
            return 77

    def run_checks(report, tmp):
        WebTest(report, os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), tmp).run()

    return ml.run_test(__doc__, 3, "dicomfs-web-test.", WATCHDOG_SECONDS, run_checks,
                       needs=("pydicom",))


if __name__ == "__main__":
    sys.exit(main())
