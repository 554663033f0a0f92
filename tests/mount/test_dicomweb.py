#!/usr/bin/python3
"""The DICOMweb source (issue 15) against a real Orthanc: the tree mounted
from Orthanc's DICOMweb URL equals the local mount of the same files, and a
remount from the persistent index with Orthanc stopped still lists the tree,
reads what was fetched before from the cache and fails the rest with EIO.

In a temporary folder: Orthanc 1.10 with its DICOMweb plugin on 127.0.0.1, a
free port (tests/web/orthanc.py; Debian's orthanc and orthanc-dicomweb,
scripts/setup-debian --tests), fed through POST /instances with every file of
pydicom's test data (python3-pydicom's test_files, dicomdirtests included),
the test archive's source (scripts/make-archive.py --preset test: the hard
names, character sets and transfer syntaxes) and three multi-instance series
(scripts/make-series.py s01 s06 s16).  Orthanc refuses some (no File Meta,
truncated, DICOMDIRs, not DICOM) and stores an instance once
(AlreadyStored); the local folder holds exactly one copy of each file
Orthanc stored (the first upload whose status was Success), so both mounts
hold the same instances.  Then:

   1  the local folder mounted (-o wait,noindex) and the DICOMweb URL
      (-o wait,index=TMP/web.sqlite,cache_dir=TMP/cache1), each in its own
      mount point; each instance of one paired with its instance in the
      other (by Study, Series and SOP Instance UID: the uploaded file's and
      the web mount's SourcePath studies/ST/series/SE/instances/SOP; by
      bytes where Orthanc holds several instances with the same UIDs), and
      so each patient, study and series folder with its counterpart (the
      same instances in each);
   2  the same folder name for each paired patient, study, series and
      instance; the same set of paths in the tree (paired folders matched,
      so that a name differing shows once, in its level's check) and in
      .dicomfs/; the same listing order; the same type, mode and size of
      every entry;
   3  instance.dcm: its st_size (stat before any read of the instance) is
      the uploaded file's size, and it reads byte-identical to the upload;
   4  tags/ (every level, sequence items): the same names, the same content,
      the same extended attributes; header.json, header.txt, pixels.raw
      equal; every other file (image.png, pixels.txt, frames/, volume/)
      equal;
   5  .dicomfs/instances.tsv: the same columns and rows but the source's
      own column (SourcePath); patients.tsv, studies.tsv, series.tsv and
      errors.tsv (its paths through the pairing) equal; the views' links
      (by-uid, by-date, ...) pointing to paired folders;
   6  a second DICOMweb mount from the same index with a fresh cache
      (-o wait,index=...,cache_dir=TMP/cache2) reads every other
      instance.dcm (equal to the upload), then Orthanc is stopped (SIGTERM,
      by its pid) and a third mount (-o index=...,cache_dir=TMP/cache2)
      lists the same folders (the cached tree), stats every instance.dcm
      with its size, reads the instances fetched before from the cache and
      fails those never fetched with EIO (errno 5), never ENOENT;
and finally that every mount was unmounted, Orthanc stopped and no process
left.  Each difference class is its own check (DICOMFS_TEST_VERBOSE=1
shows every difference, not the first few).  Skips (77) without /dev/fuse,
pydicom or Orthanc with its DICOMweb plugin.

DICOMFS_WEB_TEST_ENCODING=Utf8 starts Orthanc with that DefaultEncoding
(default Latin1, Orthanc's own default: its QIDO-RS answers then drop
characters outside Latin-1).

DICOMFS_WEB_TEST_SELFCHECK=1 mounts a copy of the local folder (its files
renamed) in place of the URL: the comparison checked against itself
(step 6 skipped).

usage: test_dicomweb.py DICOMFS SOURCE_ROOT
"""
import errno
import hashlib
import os
import shutil
import stat
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
SERIES = ["s01", "s06", "s16"]  # scripts/make-series.py: 12, 24 and 12 instances
SOURCE_COLUMNS = {"SourcePath"}  # instances.tsv columns that are the source's own
UNFETCHED_SAMPLE = 6  # instances read offline that were never fetched
SELFCHECK = os.environ.get("DICOMFS_WEB_TEST_SELFCHECK") not in (None, "", "0")
# Orthanc's DefaultEncoding (its own default, Latin1, unless set): the
# character set Orthanc assumes for a file without (0008,0005), and the one
# the DICOMweb plugin 1.7 writes its QIDO-RS answers in (characters outside
# it are dropped there, and the answer says ISO_IR 100).
ENCODING = os.environ.get("DICOMFS_WEB_TEST_ENCODING") or "Latin1"
LEVELS = {1: "patient", 2: "study", 3: "series", 4: "instance"}


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


def file_uids(path):
    import pydicom
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        return tuple(str(ds.get(k, "")).strip() for k in
                     ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"))
    except Exception as e:  # noqa: BLE001 - any failure: no key
        return ("?", "?", f"{os.path.basename(path)}: {e}")


class Tree:
    """A walked mount: entries, listings, the folders of each level, the
    instances.tsv rows."""

    def __init__(self, mp):
        self.mp = mp
        self.mpb = os.fsencode(mp)
        self.entries, self.listings = ml.walk_mount(mp)
        self.header, rows, self.tsv_problems = read_tsv_or_none(
            os.path.join(mp, ".dicomfs", "instances.tsv"))
        self.rows = {os.fsencode(r["path"]): r for r in rows or []}
        self.levels = {0: {b""}}
        for d in (1, 2, 3, 4):
            self.levels[d] = set()
            for parent in self.levels[d - 1]:
                for name in self.listings.get(parent, []):
                    rel = os.path.join(parent, name) if parent else name
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


class WebTest:
    def __init__(self, report, exe, repo, tmp):
        self.r = report
        self.exe, self.repo, self.tmp = exe, repo, tmp
        self.corpus_dir = os.path.join(tmp, "corpus")
        self.local = os.path.join(tmp, "local")
        self.index = os.path.join(tmp, "web.sqlite")
        self.server = None
        self.uploads = []
        self.kept = {}        # Orthanc ID -> Upload
        self.upload_of = {}   # local file name (and the selfcheck copy's) -> Upload
        self.uids = {}        # upload path -> (study, series, SOP Instance UID)
        self.sha = {}         # upload path -> sha256 of the file
        self.web_upload = {}  # web instance path -> Upload (paired)

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

    def make_local(self):
        """The local folder: one copy of each file Orthanc stored."""
        os.makedirs(self.local)
        for n, up in enumerate(self.uploads):
            if self.kept.get(up.id) is not up:
                continue
            name = f"{n:04d}-{os.path.basename(up.path)}"
            shutil.copyfile(up.path, os.path.join(self.local, name))
            self.upload_of[name] = up
            self.uids[up.path] = file_uids(up.path)
            self.sha[up.path] = sha256(ml.read_bytes(up.path))
        self.check("setup: the local folder holds one file per Orthanc instance",
                   [] if len(self.upload_of) == len(self.kept) else
                   [f"{len(self.upload_of)} files, {len(self.kept)} IDs"], f"{len(self.upload_of)} files")

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
        """Pair local and web instances; then the folders of every level
        (fmap: local folder -> web folder where all their instances pair)."""
        by_key_l, by_key_w = {}, {}
        for rel, row in L.rows.items():
            by_key_l.setdefault(self.key_of(L, rel, row), []).append(rel)
        for rel, row in W.rows.items():
            by_key_w.setdefault(self.key_of(W, rel, row), []).append(rel)
        pairs, problems, by_bytes = {}, [], 0
        for key in sorted(set(by_key_l) | set(by_key_w), key=str):
            ls, ws = by_key_l.get(key, []), by_key_w.get(key, [])
            if len(ls) == 1 and len(ws) == 1:
                pairs[ls[0]] = ws[0]
                continue
            # The same UIDs more than once (Orthanc keys an instance by
            # PatientID too): pair by the bytes the web mount serves.
            web_sha = {}
            for w in ws:
                data, err = read_or_error(os.path.join(W.path(w), b"instance.dcm"))
                web_sha[w] = sha256(data) if data is not None else err
            taken = set()
            for lrel in ls:
                up = self.upload_of[L.rows[lrel]["SourcePath"]]
                match = [w for w in ws if web_sha[w] == self.sha[up.path] and w not in taken]
                if match:
                    pairs[lrel] = match[0]
                    taken.add(match[0])
                    by_bytes += 1
            lost_l = [lrel for lrel in ls if lrel not in pairs]
            lost_w = [w for w in ws if w not in taken]
            if lost_l or lost_w:
                problems.append(f"UIDs {'/'.join(key)}: local "
                                f"{[show(x) + ' = ' + L.rows[x]['SourcePath'] for x in lost_l]}, "
                                f"web {[show(x) + self.whose(web_sha[x]) for x in lost_w]} unpaired")
        self.pairs = pairs
        for lrel, wrel in pairs.items():
            self.web_upload[wrel] = self.upload_of[L.rows[lrel]["SourcePath"]]
        self.check("1 pairing: each instance of one mount has its instance in the other (by "
                   "Study, Series and SOP Instance UID; by bytes where UIDs repeat)", problems,
                   f"{len(pairs)} pairs, {by_bytes} by bytes; {len(L.rows)} local, {len(W.rows)} web")
        # Folders: a local folder and a web folder are counterparts when
        # their paired instances are the same.
        fmap, problems = {}, []
        for d in (1, 2, 3):
            maps = {}
            back = {}
            for lrel, wrel in pairs.items():
                lp, wp = b"/".join(lrel.split(b"/")[:d]), b"/".join(wrel.split(b"/")[:d])
                maps.setdefault(lp, set()).add(wp)
                back.setdefault(wp, set()).add(lp)
            for lp, ws in sorted(maps.items()):
                if len(ws) == 1 and len(back[next(iter(ws))]) == 1:
                    fmap[lp] = next(iter(ws))
                elif len(ws) > 1:
                    problems.append(f"local {LEVELS[d]} {show(lp)!r} split over web "
                                    f"{sorted(show(w) for w in ws)}")
            for wp, ls in sorted(back.items()):
                if len(ls) > 1:
                    problems.append(f"web {LEVELS[d]} {show(wp)!r} merges local "
                                    f"{sorted(show(x) for x in ls)}")
        fmap.update(pairs)
        self.fmap = fmap
        self.fmap_back = {w: lp for lp, w in fmap.items()}
        self.source_map = {L.rows[lrel]["SourcePath"]: W.rows[wrel].get("SourcePath", "")
                           for lrel, wrel in pairs.items()}
        self.check("1 grouping: the same instances in each patient, study and series folder",
                   problems)

    def whose(self, digest):
        """' (the bytes of FILE)' for a sha256 of an upload, else ' (DIGEST)'."""
        names = sorted({os.path.basename(u.path) for u in self.kept.values()
                        if self.sha[u.path] == digest})
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
            if prefix in self.fmap:
                return b"/".join([self.fmap[prefix]] + parts[d:])
            if prefix in self.L.levels[d]:
                return None
        return rel

    def web_paired(self, rel):
        """False for a web path under a folder without a local counterpart."""
        parts = rel.split(b"/")
        for d in (4, 3, 2, 1):
            prefix = b"/".join(parts[:d])
            if len(parts) >= d and prefix in self.W.levels[d]:
                return prefix in self.fmap_back
        return True

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
                   ([] if len(L.rows) == len(self.kept) else
                    [f"{len(L.rows)} rows, {len(self.kept)} files"]), f"{len(L.rows)} instances")
        self.pair(L, W)

        # 2: names per level.
        for d in (1, 2, 3, 4):
            problems = []
            paired_w = set()
            for lp in sorted(L.levels[d]):
                wp = self.fmap.get(lp)
                if wp is None:
                    problems.append(f"local {show(lp)!r}: no web counterpart")
                    continue
                paired_w.add(wp)
                if lp.split(b"/")[-1] != wp.split(b"/")[-1]:
                    problems.append(f"local {show(lp.split(b'/')[-1])!r}, web "
                                    f"{show(wp.split(b'/')[-1])!r} (in web {show(wp)!r})")
                elif wp not in W.levels[d]:
                    problems.append(f"web {show(wp)!r} is not a {LEVELS[d]} folder")
            for wp in sorted(W.levels[d] - paired_w):
                problems.append(f"web {show(wp)!r}: no local counterpart")
            self.check(f"2 {LEVELS[d]} folders: the same name for each", problems,
                       f"{len(L.levels[d])} local, {len(W.levels[d])} web")
        tree_l = {}
        for p in L.entries:
            if L.in_tree(p) and self.translate(p) is not None:
                tree_l[self.translate(p)] = p
        tree_w = {p for p in W.entries if W.in_tree(p) and self.web_paired(p)}
        self.check("2 the same set of paths in the tree (paired folders matched: names and "
                   "unpaired instances aside)",
                   self.set_problems(set(tree_l), tree_w), f"{len(tree_l)} local, {len(tree_w)} web")
        dot_l = {p for p in L.entries if not L.in_tree(p)}
        dot_w = {p for p in W.entries if not W.in_tree(p)}
        self.check("2 the same set of paths in .dicomfs/", self.set_problems(dot_l, dot_w),
                   f"{len(dot_l)} local, {len(dot_w)} web")
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
        problems = []
        for lrel in sorted(L.entries):
            wrel = self.translate(lrel) if L.in_tree(lrel) else lrel
            if wrel not in W.entries or lrel in (b".dicomfs/status", b".dicomfs/instances.tsv",
                                                 b".dicomfs/errors.tsv") \
                    or lrel.endswith(b"/volume/conversion.txt"):
                continue
            (_, sa), (_, sb) = L.entries[lrel], W.entries[wrel]
            if stat.S_IFMT(sa.st_mode) != stat.S_IFMT(sb.st_mode) or \
                    stat.S_IMODE(sa.st_mode) != stat.S_IMODE(sb.st_mode):
                problems.append(f"{show(wrel)}: mode {sa.st_mode:o} local, {sb.st_mode:o} web")
            elif stat.S_ISREG(sa.st_mode) and sa.st_size != sb.st_size and \
                    not (lrel.startswith(b".dicomfs/") and lrel.endswith(b".tsv")):
                problems.append(f"{show(wrel)}: size {sa.st_size} local, {sb.st_size} web")
        self.check("2 the same type, mode and st_size of every entry (.dicomfs/'s tables and "
                   "status, conversion.txt aside)", problems)

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
            if not (folder.endswith(b"/tags") or b"/tags/" in folder) or not L.in_tree(folder):
                continue
            wf = self.translate(folder)
            if wf not in W.listings:
                continue
            a, b = set(names), set(W.listings[wf])
            if a != b:
                problems.append(f"{show(wf)}: only local {sorted(show(x) for x in a - b)[:5]}, "
                                f"only web {sorted(show(x) for x in b - a)[:5]}")
        self.check("4 tags/ folders list the same names (every level, sequence items)", problems)
        self.check("4 tags/ files: the same content", kinds["tags"], f"{counts['tags']} files")
        self.check("4 tags/ files: the same extended attributes", kinds["xattrs"],
                   f"{counts['xattrs']} files")
        for kind in ("header.json", "header.txt", "pixels.raw"):
            self.check(f"4 {kind} equal", kinds[kind], f"{counts[kind]} files")
        self.check("4 every other file equal (image.png, pixels.txt, frames/, volume/; "
                   "conversion.txt with the sources' names as the web mount's)",
                   kinds["other"], f"{counts['other']} files")
        self.compare_dicomfs(L, W)
        try:
            status = ml.read_text(os.path.join(W.mp, ".dicomfs", "status")).strip().replace("\n", "; ")
        except OSError as e:
            status = f"unreadable: {errname(e)}"
        print(f"web mount's status: {status}", flush=True)
        print(f"compared in {time.monotonic() - t0:.1f} s", flush=True)

    def as_web_conversion(self, data):
        """A local volume/conversion.txt with each source file ("volume 1
        slice 2: FILE", "not an image of a volume: FILE: why") named as the
        web mount names it (its SourcePath)."""
        out = []
        for line in data.decode("utf-8", "surrogateescape").split("\n"):
            out.append(": ".join(self.source_map.get(f, f) for f in line.split(": ")))
        return "\n".join(out).encode("utf-8", "surrogateescape")

    def compare_dicomfs(self, L, W):
        """5: the tables and the views' links."""
        # The links of each view folder point to the same (paired) folders;
        # their own names are in the .dicomfs/ paths check.
        problems, n = [], 0
        targets = {}  # view folder -> ([local targets as web paths], [web targets])
        for side, tree in ((0, L), (1, W)):
            for rel, (_, st) in tree.entries.items():
                if tree.in_tree(rel) or not stat.S_ISLNK(st.st_mode):
                    continue
                try:
                    t = os.readlink(tree.path(rel))
                except OSError as e:
                    problems.append(f"{show(rel)}: {errname(e)}")
                    continue
                while t.startswith(b"../"):
                    t = t[3:]
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

        problems = []
        if L.header != W.header:
            problems.append(f"columns: local {L.header}, web {W.header}")
        compared = [c for c in (L.header or []) if c not in SOURCE_COLUMNS | {"path"}
                    and c in (W.header or [])]
        for lrel, wrel in sorted(self.pairs.items()):
            a, b = L.rows[lrel], W.rows[wrel]
            for c in compared:
                if a.get(c) != b.get(c):
                    problems.append(f"{show(wrel)} {c}: local {a.get(c)!r}, web {b.get(c)!r}")
        self.check("5 instances.tsv: the same columns, the same values for each instance (but "
                   f"{', '.join(sorted(SOURCE_COLUMNS))})", W.tsv_problems + problems,
                   f"{len(W.rows)} rows")
        source_map = self.source_map
        for fname in ("patients.tsv", "studies.tsv", "series.tsv", "errors.tsv"):
            ha, ra, pa = read_tsv_or_none(os.path.join(L.mp, ".dicomfs", fname))
            hb, rb, pb = read_tsv_or_none(os.path.join(W.mp, ".dicomfs", fname))
            problems = pa + pb
            if ha != hb:
                problems.append(f"columns: local {ha}, web {hb}")

            def as_web(row):
                row = dict(row)
                if fname == "errors.tsv":
                    row["path"] = source_map.get(row["path"], row["path"])
                else:
                    t = self.translate(os.fsencode(row["path"]))
                    if t is None:
                        return None
                    row["path"] = show(t)
                return tuple(sorted(row.items()))

            ka = sorted(x for x in (as_web(r) for r in ra) if x is not None)
            kb = sorted(tuple(sorted(r.items())) for r in rb
                        if fname == "errors.tsv" or self.web_paired(os.fsencode(r["path"])))
            if ka != kb:
                sa, sb = set(ka), set(kb)
                problems += [f"only local: {dict(x)}" for x in sorted(sa - sb)]
                problems += [f"only web: {dict(x)}" for x in sorted(sb - sa)]
            self.check(f"5 {fname} equal (paths through the pairing)", problems,
                       f"{len(ra)} rows local, {len(rb)} web")

    @staticmethod
    def set_problems(a, b):
        problems = [f"only local: {show(x)!r}" for x in sorted(a - b)]
        problems += [f"only web: {show(x)!r}" for x in sorted(b - a)]
        return problems

    # ------------------------------------------------------------ offline
    def pick_offline(self):
        """(fetched, unfetched sample) of the paired web instances: every
        other one in path order (neighbours in one series on both sides),
        and a few of the rest."""
        paths = sorted(self.web_upload)
        fetched = paths[0::2]
        rest = paths[1::2]
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

    def offline(self, url):
        fetched, unfetched = self.pick_offline()
        cache2 = os.path.join(self.tmp, "cache2")
        w2 = self.mount(url, "mnt-web2", f"wait,index={self.index},cache_dir={cache2}",
                        wait_scan=False,
                        label="6 mount the URL again from the index, a fresh cache (Orthanc up)")
        if w2 is None:
            return
        self.read_instances(w2.mp, fetched, "6 every other instance.dcm read through the second "
                                            "mount, equal to the upload")
        self.unmount(w2, "the second DICOMweb mount")
        self.check("6 Orthanc stopped by its pid (SIGTERM), exit 0", self.server.stop())
        w3 = self.mount(url, "mnt-web3", f"index={self.index},cache_dir={cache2}", wait_scan=False,
                        label="6 mount the URL from the index with Orthanc stopped")
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
        self.check("6 offline: instance.dcm never fetched fails with EIO (errno 5), never ENOENT",
                   problems, f"{len(unfetched)} instances, slowest {max(times or [0]):.2f} s")

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
            self.make_local()
            self.run_mounts()
        finally:
            problems = self.server.stop()
            self.check("Orthanc stopped, no Orthanc process left", problems +
                       ([f"pid {self.server.pid} alive"] if ml.pid_alive(self.server.pid) else []))

    def run_mounts(self):
        lm = self.mount(self.local, "mnt-local", "wait,noindex")
        if lm is None:
            return
        if SELFCHECK:
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
            cache1 = os.path.join(self.tmp, "cache1")
            wm = self.mount(url, "mnt-web", f"wait,index={self.index},cache_dir={cache1}",
                            wait_scan=False, label="1 mount the Orthanc DICOMweb URL "
                            "(-o wait,index=TMP/web.sqlite,cache_dir=TMP/cache1)")
        if wm is None:
            self.unmount(lm, "the local mount")
            return
        try:
            self.compare(lm, wm)
        finally:
            self.unmount(wm, "the DICOMweb mount")
            self.unmount(lm, "the local mount")
        if not SELFCHECK:
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
