#!/usr/bin/python3
"""Oracle test: DICOM JSON attributes as Part 10 files (sources/dicomjson.h)
against pydicom.

    /usr/bin/python3 tests/oracle/dicomjson_oracle.py path/to/dicomjson-tool [FILE-FILTER]

For every file of Debian's pydicom test data (test_files/ recursively, which
holds pydicom.data.get_testdata_files(), and charset_files/ for the text of
other character sets):

  - pydicom reads it and writes its DICOM JSON (Dataset.to_json_dict, binary
    values inline), an array of that one object;
  - dicomjson-tool turns it into a Part 10 file, with the file's own
    transfer syntax (so Implicit VR, Big Endian and Deflated are encoded
    too) and, where that is another, once more with the default Explicit VR
    Little Endian (where the JSON's VRs are written as they are);
  - pydicom reads our file, and every top-level element of its reading of
    the original is checked in ours: the same tag, the same VR and the same
    value (element.value; str() for PN).  Left out, as dicomjson.h says: group
    0002 (the meta is made anew), group lengths (dropped), SQ (items are not
    kept: written empty) and the bulk VRs OB OD OF OL OV OW UN (values not
    in the rows: written empty), and (0008,0005), which is ISO_IR 192 in
    ours.  Our file must hold no element the original has not, but for
    (0008,0005).

A .dcm file without File Meta Information is read with force=True (a bare
data set: its encoding is the one pydicom finds).  Files pydicom cannot read
(not DICOM: README.txt, .json ...) and files whose
JSON pydicom cannot write are skipped and counted.  One line per failing
file, then `N passed, N failed`; exit 1 on a failure, 77 (skip) without
pydicom or the test data.
"""

import io
import json
import os
import subprocess
import sys
import warnings

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_common as oc  # noqa: E402

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
SPECIFIC_CHARACTER_SET = 0x00080005
BULK_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN", "OB or OW", "US or OW"}


def compared(elem):
    """Is elem one of those the encoder must give back as it was?"""
    return not (elem.tag.group == 0x0002 or elem.tag.element == 0x0000
                or elem.tag == SPECIFIC_CHARACTER_SET or elem.VR == "SQ"
                or elem.VR in BULK_VRS)


def same_value(vr, theirs, ours):
    if vr == "PN":
        return str(theirs) == str(ours)
    return theirs == ours


def compare(original, ours):
    """The differences of our reading from the original's, as text."""
    problems = []
    for elem in original:
        if not compared(elem):
            continue
        tag = f"({elem.tag.group:04X},{elem.tag.element:04X})"
        if elem.tag not in ours:
            problems.append(f"{tag} {elem.VR} missing")
            continue
        mine = ours[elem.tag]
        if mine.VR != elem.VR:
            problems.append(f"{tag} VR {elem.VR} became {mine.VR}")
        elif not same_value(elem.VR, elem.value, mine.value):
            problems.append(f"{tag} {elem.VR} {elem.value!r} became {mine.value!r}")
    for elem in ours:
        if elem.tag not in original and elem.tag != SPECIFIC_CHARACTER_SET:
            problems.append(f"({elem.tag.group:04X},{elem.tag.element:04X}) {elem.VR} not in the original")
    return problems


def transfer_syntax(ds):
    """The file's transfer syntax, or the encoding pydicom found in a file
    without one."""
    meta = getattr(ds, "file_meta", None)
    if meta is not None and meta.get("TransferSyntaxUID"):
        return str(meta.TransferSyntaxUID)
    if ds.is_implicit_VR:
        return IMPLICIT_LE
    return EXPLICIT_LE if ds.is_little_endian else EXPLICIT_BE


def read(path):
    """pydicom's reading of path, or None.  A .dcm file without the File Meta
    Information (a bare data set) is read with force=True."""
    for force in (False, True):
        if force and not path.endswith(".dcm"):
            break
        try:
            return oc.pydicom.dcmread(path, force=force)
        except Exception:  # noqa: BLE001 - not DICOM, or beyond pydicom
            pass
    return None


def run(argv, stdin):
    """(returncode, stdout bytes, stderr text); returncode None on timeout."""
    try:
        r = subprocess.run(argv, input=stdin, capture_output=True, timeout=oc.TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, b"", f"timeout after {oc.TIMEOUT} s"
    return r.returncode, r.stdout, r.stderr.decode("utf-8", "replace")


def check(tool, ds, text):
    """Problems of path's JSON through the tool, in each transfer syntax."""
    problems = []
    for syntax in dict.fromkeys([transfer_syntax(ds), EXPLICIT_LE]):
        rc, out, err = run([tool, "--ts", syntax, "0"], text)
        if rc != 0:
            problems.append(f"[{syntax}] dicomjson-tool exit {rc}: {err.strip()[:300]}")
            continue
        try:
            ours = oc.pydicom.dcmread(io.BytesIO(out))
        except Exception as e:  # noqa: BLE001 - pydicom raises many kinds
            problems.append(f"[{syntax}] pydicom cannot read our file: {e}")
            continue
        if str(ours.file_meta.TransferSyntaxUID) != syntax:
            problems.append(f"[{syntax}] our transfer syntax is {ours.file_meta.TransferSyntaxUID}")
        problems += [f"[{syntax}] {p}" for p in compare(ds, ours)]
    return problems


def main():
    tool, pattern = arguments()
    passed, failed, unreadable, no_json = 0, 0, 0, 0
    for rel in oc.all_files():
        if pattern and pattern not in rel:
            continue
        path = oc.data_path(rel)
        ds = read(path)
        if ds is None:
            unreadable += 1
            continue
        try:
            text = json.dumps([ds.to_json_dict()]).encode()
        except Exception:  # noqa: BLE001 - a value pydicom cannot write
            no_json += 1
            continue
        problems = check(tool, ds, text)
        if problems:
            failed += 1
            more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
            print(f"FAIL {rel}: " + "; ".join(problems[:3]) + more)
        else:
            passed += 1
    print(f"skipped {unreadable} files pydicom cannot read, {no_json} it cannot write as JSON")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def arguments():
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[2].strip())
        sys.exit(2)
    if oc.pydicom is None or not os.path.isdir(oc.data_path("test_files")):
        print("dicomjson_oracle: skipped: pydicom 2.3.1 and its test data are needed "
              "(apt install python3-pydicom; run with /usr/bin/python3)")
        sys.exit(77)
    return os.path.abspath(sys.argv[1]), (sys.argv[2] if len(sys.argv) > 2 else None)


if __name__ == "__main__":
    warnings.filterwarnings("ignore")
    sys.exit(main())
