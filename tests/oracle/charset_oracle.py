#!/usr/bin/python3
"""Check our Specific Character Set decoding against pydicom's.

    /usr/bin/python3 tests/oracle/charset_oracle.py path/to/dicomfs-tool

For every file in pydicom's charset_files/*.dcm (one per character set of
PS3.5 Annexes H, I, J and more), every Patient's Name (0010,0010):

1. at the top level: `dicomfs-tool value FILE PatientName` must print what
   pydicom decodes (str() of the PersonName after Dataset.decode());
2. inside sequence items (chrSQEncoding*.dcm: an item whose own (0008,0005)
   differs from the data set's, or that inherits it, PS3.5 7.5.3): the
   `dicomfs-tool json FILE` output, PN rebuilt from its component groups
   (PS3.18 F.2.2), must match pydicom's view of the same element.

Our tool prints a PN as stored, with its trailing empty component groups
("Wang^XiaoDong=王^小東="); pydicom drops them, so trailing '=' are not
compared.  Output must be valid UTF-8.

One line per file (ok / FAIL); exit status 0 when all agree, 1 otherwise,
77 (skip) when pydicom or its sample files are not installed.
"""

import glob
import json
import os
import subprocess
import sys
import warnings

try:
    import pydicom
except ImportError:
    print("charset_oracle: pydicom is not installed; skipping")
    sys.exit(77)

CHARSET_FILES = os.path.join(os.path.dirname(pydicom.__file__), "data", "charset_files")
PATIENT_NAME = 0x00100010
TIMEOUT = 60


def normalize_pn(text):
    """A multi-valued PN without the trailing empty groups of each value."""
    return "\\".join(v.rstrip("=") for v in text.split("\\"))


def pydicom_pn(elem):
    """pydicom's decoded PN value, values joined by a backslash."""
    if elem.VM > 1:
        return "\\".join(str(v) for v in elem.value)
    return str(elem.value) if elem.value is not None else ""


def pydicom_names(path):
    """(top-level name or None, [names inside sequence items, in file order])."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
        ds.decode()
    top = pydicom_pn(ds[PATIENT_NAME]) if PATIENT_NAME in ds else None
    nested = []

    def walk(dataset):
        for elem in dataset:
            if elem.VR == "SQ":
                for item in elem.value:
                    if PATIENT_NAME in item:
                        nested.append(pydicom_pn(item[PATIENT_NAME]))
                    walk(item)

    walk(ds)
    return top, nested


def run_tool(tool, args):
    """(exit status, stdout as text or None if it is not UTF-8, stderr)."""
    proc = subprocess.run([tool] + args, capture_output=True, timeout=TIMEOUT)
    try:
        out = proc.stdout.decode("utf-8")
    except UnicodeDecodeError:
        out = None
    return proc.returncode, out, proc.stderr.decode("utf-8", "replace").strip()


def json_pn(value):
    """A PN of DICOM JSON (one object per value) back to its stored form."""
    texts = []
    for v in value or []:
        groups = [v.get(g, "") for g in ("Alphabetic", "Ideographic", "Phonetic")]
        texts.append("=".join(groups))
    return "\\".join(texts)


def json_nested_names(obj, depth=0):
    """Every (0010,0010) inside sequence items of a DICOM JSON object."""
    found = []
    for tag, elem in obj.items():
        if tag == "00100010" and depth > 0:
            found.append(json_pn(elem.get("Value")))
        if elem.get("vr") == "SQ":
            for item in elem.get("Value") or []:
                found.extend(json_nested_names(item, depth + 1))
    return found


def check_top(tool, path, expected):
    """A problem with the top-level name, or None."""
    status, out, err = run_tool(tool, ["value", path, "PatientName"])
    if expected is None:
        return None if status == 1 else f"pydicom has no PatientName; tool exit {status}"
    if status != 0:
        return f"tool exit {status}: {err}"
    if out is None:
        return "tool output is not valid UTF-8"
    ours = out[:-1] if out.endswith("\n") else out
    if normalize_pn(ours) != expected:
        return f"ours {ours!r} != pydicom {expected!r}"
    return None


def check_nested(tool, path, expected):
    """A problem with the names in sequence items, or None."""
    if not expected:
        return None
    status, out, err = run_tool(tool, ["json", path])
    if status != 0:
        return f"json: tool exit {status}: {err}"
    if out is None:
        return "json output is not valid UTF-8"
    ours = [normalize_pn(n) for n in json_nested_names(json.loads(out))]
    if ours != expected:
        return f"in sequences: ours {ours!r} != pydicom {expected!r}"
    return None


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    tool = sys.argv[1]
    files = sorted(glob.glob(os.path.join(CHARSET_FILES, "*.dcm")))
    if not files:
        print(f"charset_oracle: no files in {CHARSET_FILES}; skipping")
        return 77
    failures = 0
    for path in files:
        name = os.path.basename(path)
        top, nested = pydicom_names(path)
        problems = [p for p in (check_top(tool, path, top), check_nested(tool, path, nested)) if p]
        if problems:
            failures += 1
            print(f"FAIL {name}: " + "; ".join(problems))
        else:
            shown = [top] if top is not None else []
            print(f"ok   {name}: " + " | ".join(shown + nested))
    print(f"{len(files) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
