#!/usr/bin/python3
"""Mount pydicom's dicomdirtests folder and check it against pydicom.

    /usr/bin/python3 tests/mount/test_dicomdirtests.py path/to/dicomfs SOURCE_ROOT

The folder (/usr/lib/python3/dist-packages/pydicom/data/test_files/
dicomdirtests, a system folder: mounted read-only, never written) holds
three patients' CT, MR and CR files, a File-set with its DICOMDIR
(TINY_ALPHA), seven more DICOMDIR variants and two READMEs.  The oracle is
pydicom.dcmread on every regular file there:

  - a file pydicom rejects is not DICOM: in .dicomfs/errors.tsv, not in the tree;
  - a file whose Media Storage SOP Class is the Media Storage Directory
    Storage (1.2.840.10008.1.3.10) is a DICOMDIR: in errors.tsv with a
    reason naming it, not in the tree;
  - every other file is one instance: per level the PatientID,
    StudyInstanceUID and SeriesInstanceUID sets, and the instance count and
    SOPInstanceUID set of every series, must be what the mount shows
    (through the folders' tags/ files, and .dicomfs/instances.tsv).

The last line is `N passed, N failed`; exit status 1 on any failure (a
missing folder too: apt install python3-pydicom), 77 (skip) when /dev/fuse
is missing.
"""

import collections
import os
import shutil
import sys
import tempfile
import time
import traceback
import warnings

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
warnings.simplefilter("ignore", UserWarning)  # pydicom on the DICOMDIR variants
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402

FOLDER = "/usr/lib/python3/dist-packages/pydicom/data/test_files/dicomdirtests"
DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
WATCHDOG_SECONDS = 270


def pydicom_truth():
    """({relative path: (PatientID, Issuer, PatientName, StudyUID, SeriesUID,
    SOPUID)} of the instances, {relative path: why} of the files that are not
    instances)."""
    import pydicom
    from pydicom.errors import InvalidDicomError
    instances, skipped = {}, {}
    for dirpath, dirnames, filenames in os.walk(FOLDER):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, FOLDER)
            if not os.path.isfile(full) or os.path.islink(full):
                continue
            try:
                ds = pydicom.dcmread(full, stop_before_pixels=True)
            except (InvalidDicomError, EOFError, OSError) as e:
                skipped[rel] = f"pydicom: {type(e).__name__}"
                continue
            meta = getattr(ds, "file_meta", None)
            if meta is not None and meta.get("MediaStorageSOPClassUID") == DICOMDIR_CLASS:
                skipped[rel] = "DICOMDIR"
                continue
            instances[rel] = (ds.get("PatientID"), ds.get("IssuerOfPatientID"), str(ds.get("PatientName", "")),
                              ds.get("StudyInstanceUID"), ds.get("SeriesInstanceUID"),
                              ds.get("SOPInstanceUID"))
    return instances, skipped


def tag_file(folder, keyword):
    """The value of folder/tags/keyword without its newline, None if absent."""
    try:
        text = ml.read_text(os.path.join(folder, "tags", keyword))
    except FileNotFoundError:
        return None
    return text[:-1] if text.endswith("\n") else text


def subfolders(folder):
    return sorted(n for n in os.listdir(folder) if n not in ("tags", "volume", ".dicomfs")
                  and os.path.isdir(os.path.join(folder, n)))


def run_checks(report, exe, tmp):
    check = report.check
    if not os.path.isdir(FOLDER):
        check("the dicomdirtests folder exists", [f"{FOLDER} is missing (apt install python3-pydicom)"])
        return
    instances, skipped = pydicom_truth()
    n_dicomdir = sum(1 for v in skipped.values() if v == "DICOMDIR")
    check("pydicom reads the folder", [] if instances and n_dicomdir else ["no instances or no DICOMDIR"],
          f"{len(instances)} instances, {n_dicomdir} DICOMDIRs, {len(skipped) - n_dicomdir} not DICOM")
    before = ml.snapshot(FOLDER)

    mp = os.path.join(tmp, "mnt")
    try:
        m = ml.Mount(exe, FOLDER, mp, log_dir=tmp).start()
    except ml.MountError as e:
        check("mount dicomdirtests (dicomfs -f, read-only system folder)", [str(e)])
        return
    check("mount dicomdirtests (dicomfs -f, read-only system folder)", [], f"{m.start_seconds:.2f} s")
    try:
        _, listings = ml.walk_mount(mp)
        check("name rules on every name", ml.name_problems(listings))

        # errors.tsv: every file that is not an instance, DICOMDIRs as such.
        header, rows, problems = ml.read_tsv(os.path.join(mp, ".dicomfs", "errors.tsv"))
        reasons = collections.defaultdict(list)
        for r in rows:
            reasons[r["path"]].append(r["reason"])
        for rel, why in sorted(skipped.items()):
            got = reasons.get(rel)
            if not got:
                problems.append(f"{rel} ({why}) is not in errors.tsv")
            elif why == "DICOMDIR" and not any("DICOMDIR" in x for x in got):
                problems.append(f"{rel}: a DICOMDIR, errors.tsv says {got}")
        for rel in sorted(set(reasons) - set(skipped)):
            problems.append(f"{rel}: in errors.tsv ({reasons[rel]}), but pydicom reads an instance")
        check("errors.tsv: every DICOMDIR as DICOMDIR, every non-DICOM file with a reason, nothing else",
              problems, f"{len(skipped)} files")

        # instances.tsv: exactly the instances, none of the DICOMDIRs.
        header, rows, problems = ml.read_tsv(os.path.join(mp, ".dicomfs", "instances.tsv"))
        by_src = collections.defaultdict(list)
        for r in rows:
            by_src[r.get("SourcePath")].append(r)
        for rel, facts in sorted(instances.items()):
            rs = by_src.get(rel, [])
            if len(rs) != 1:
                problems.append(f"{rel}: {len(rs)} rows in instances.tsv")
            elif rs[0].get("SOPInstanceUID") != facts[5]:
                problems.append(f"{rel}: SOPInstanceUID {rs[0].get('SOPInstanceUID')}, pydicom {facts[5]}")
        for rel in sorted(set(by_src) - set(instances)):
            problems.append(f"{rel}: in instances.tsv, not an instance to pydicom"
                            + (" (a DICOMDIR)" if skipped.get(rel) == "DICOMDIR" else ""))
        check("instances.tsv: every instance once, no DICOMDIR", problems, f"{len(rows)} rows")

        # The tree, level by level, from the folders' own tags/.
        want = collections.defaultdict(lambda: collections.defaultdict(
            lambda: collections.defaultdict(set)))
        for facts in instances.values():
            pid, issuer, name, study, series, sop = facts
            want[(pid, issuer) if pid else ("", name)][study][series].add(sop)
        got = collections.defaultdict(lambda: collections.defaultdict(
            lambda: collections.defaultdict(list)))
        problems = []
        for pf in subfolders(mp):
            p = os.path.join(mp, pf)
            pid, issuer = tag_file(p, "PatientID"), tag_file(p, "IssuerOfPatientID")
            pkey = (pid, issuer) if pid else ("", tag_file(p, "PatientName"))
            if pkey in got:
                problems.append(f"patient {pkey} in two folders")
            for sf in subfolders(p):
                s = os.path.join(p, sf)
                study = tag_file(s, "StudyInstanceUID")
                if study in got[pkey]:
                    problems.append(f"study {study} in two folders")
                for ef in subfolders(s):
                    e = os.path.join(s, ef)
                    series = tag_file(e, "SeriesInstanceUID")
                    if series in got[pkey][study]:
                        problems.append(f"series {series} in two folders")
                    for inf in subfolders(e):
                        got[pkey][study][series].append(tag_file(os.path.join(e, inf), "SOPInstanceUID"))
        if set(got) != set(want):
            problems.append(f"patients (PatientID, Issuer): mount {sorted(map(str, got))}, "
                            f"pydicom {sorted(map(str, want))}")
        check("patients: the PatientID set", problems, f"{len(want)} patients")

        problems = []
        n = 0
        for pkey in sorted(set(got) & set(want), key=str):
            n += len(want[pkey])
            if set(got[pkey]) != set(want[pkey]):
                problems.append(f"patient {pkey}: studies {sorted(got[pkey])}, pydicom {sorted(want[pkey])}")
        check("studies: the StudyInstanceUID set of every patient", problems, f"{n} studies")

        problems = []
        n = 0
        for pkey in sorted(set(got) & set(want), key=str):
            for study in sorted(set(got[pkey]) & set(want[pkey])):
                n += len(want[pkey][study])
                if set(got[pkey][study]) != set(want[pkey][study]):
                    problems.append(f"study {study}: series {sorted(got[pkey][study])}, "
                                    f"pydicom {sorted(want[pkey][study])}")
        check("series: the SeriesInstanceUID set of every study", problems, f"{n} series")

        problems = []
        n = 0
        for pkey in sorted(set(got) & set(want), key=str):
            for study in sorted(set(got[pkey]) & set(want[pkey])):
                for series in sorted(set(got[pkey][study]) & set(want[pkey][study])):
                    g, w = got[pkey][study][series], want[pkey][study][series]
                    n += len(w)
                    if len(g) != len(w) or set(g) != w:
                        problems.append(f"series {series}: {len(g)} instances {sorted(map(str, g))[:3]}..., "
                                        f"pydicom {len(w)}")
        check("instances: the count and SOPInstanceUID set of every series", problems, f"{n} instances")

        problems = []
        status = ml.read_text(os.path.join(mp, ".dicomfs", "status"))
        fields = dict(line.split(": ", 1) for line in status.splitlines() if ": " in line)
        for k, v in (("indexed", str(len(instances))), ("files seen", str(len(instances) + len(skipped))),
                     ("skipped", str(len(skipped))), ("scan", "done")):
            if fields.get(k) != v:
                problems.append(f"status {k}: {fields.get(k)!r}, pydicom {v!r}")
        check("status: files seen, indexed, skipped, scan: done", problems)

        problems = []
        for pf in subfolders(mp):
            for sf in subfolders(os.path.join(mp, pf)):
                for ef in subfolders(os.path.join(mp, pf, sf)):
                    for inf in subfolders(os.path.join(mp, pf, sf, ef)):
                        folder = os.path.join(mp, pf, sf, ef, inf)
                        sop = tag_file(folder, "SOPInstanceUID")
                        srcs = [rel for rel, f in instances.items() if f[5] == sop]
                        if len(srcs) == 1 and ml.read_bytes(os.path.join(folder, "instance.dcm")) != \
                                ml.read_bytes(os.path.join(FOLDER, srcs[0])):
                            problems.append(f"{pf}/{sf}/{ef}/{inf}/instance.dcm differs from {srcs[0]}")
        check("instance.dcm byte-equal to its source file", problems)
    finally:
        check("unmount (fusermount3 -u; dicomfs -f exits 0)", m.unmount())
    check("the system folder unchanged", ml.diff_snapshots(before, ml.snapshot(FOLDER)))


def main():
    if len(sys.argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    if not os.path.exists("/dev/fuse"):
        print("SKIP: /dev/fuse is missing")
        return 77
    exe = os.path.abspath(sys.argv[1])
    report = ml.Report()
    t0 = time.monotonic()
    tmp = os.path.realpath(tempfile.mkdtemp(prefix="dicomfs-dicomdirtests."))
    ml.start_watchdog(WATCHDOG_SECONDS, report, tmp)
    try:
        run_checks(report, exe, tmp)
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
