"""Shared parts of dump_oracle.py and json_oracle.py: the test files, running
the tools, the files DCMTK rejects, and the VR rules both oracles accept.

The test files are every DICOM file in Debian's python3-pydicom data
(test_files/ recursively, and charset_files/).  A file is a candidate when it
has "DICM" at offset 128 or when dcmdump reads it; everything else there
(README.txt, .json, .dump, .gz, ...) is not DICOM, and dicomfs-tool must
reject it too.

Only /usr/bin/python3 (Debian's, with pydicom 2.3.1) runs these scripts.
"""

import os
import re
import subprocess
import sys
import warnings

try:
    import pydicom
    import pydicom.datadict
except ImportError:  # pragma: no cover - Debian's python3 has it
    pydicom = None

# pydicom's warnings about the odd files it reads anyway are noise here.
warnings.filterwarnings("ignore", category=UserWarning, module=r"pydicom(\..*)?$")

PYDICOM_DATA = "/usr/lib/python3/dist-packages/pydicom/data"
TEST_ROOTS = ("test_files", "charset_files")
TIMEOUT = 120
ITEM = 0xFFFEE000
PIXEL_DATA = 0x7FE00010

# Text VRs whose values Specific Character Set (0008,0005) governs (PS3.5
# 6.1.2.3); the others are always in the default repertoire.
CHARSET_VRS = {"SH", "LO", "ST", "LT", "UT", "PN", "UC"}
TEXT_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM",
            "UC", "UI", "UR", "UT"}
# Single-valued text VRs: a backslash is part of the value (PS3.5 6.2).
SINGLE_VALUED_TEXT = {"LT", "ST", "UT", "UR"}
# PS3.5 Table 6.2-1: leading and trailing spaces are insignificant.
BOTH_ENDS_PADDED = {"AE", "CS", "DS", "IS", "LO", "SH"}
INT_VRS = {"US": (2, False), "SS": (2, True), "UL": (4, False), "SL": (4, True),
           "UV": (8, False), "SV": (8, True)}
FLOAT_VRS = {"FL": 4, "FD": 8, "OF": 4, "OD": 8}
WORD_VRS = {"OB": 1, "UN": 1, "OW": 2, "OL": 4, "OV": 8}

# DCMTK's own VR names (dcmvr.cc) and what they stand for in PS3.5:
#   "up" is its "unsigned pointer", UL in the standard (DICOMDIR offsets);
#   "??" is an implicit VR element missing from its dictionary, i.e. UN;
#   "ox", "xs", "lt", "px" are still-ambiguous dictionary VRs.
DCMTK_VR_ALIASES = {"up": {"UL"}, "??": {"UN"}, "ox": {"OB", "OW"}, "xs": {"US", "SS"},
                    "lt": {"US", "SS", "OW"}, "px": {"OB", "OW"}}


class Rejection:
    """A DICM file that DCMTK cannot read with the oracles' flags (dcmdump
    +L -Un +U8 and dcm2json fail on the same files, except where said),
    DCMTK's reason, and what dicomfs-tool must do with it instead."""

    def __init__(self, dcmtk_error, ours, why, header_only_reads=False):
        self.dcmtk_error = dcmtk_error  # a fragment of DCMTK's message
        self.ours = ours                # one of the OURS_* below
        self.why = why
        # Only (native) Pixel Data is damaged: `--header-only` stops there,
        # so it reads all of the file but that value; for OURS_DAMAGED it must
        # see the damage all the same (a native value must be in the file
        # whole), and agree with what dcmdump +E (ignore errors) shows.
        self.header_only_reads = header_only_reads


# What dicomfs-tool must do with a file DCMTK rejects.
OURS_REJECT = "reject"            # exit 1 and a reason on stderr
OURS_READ_PYDICOM = "pydicom"     # read it; every element agrees with pydicom
OURS_READ_CHARSET = "charset"     # read it; DCMTK without +U8 for the structure
                                  # and every non-text value, pydicom for
                                  # the decoded text (DCMTK cannot convert it)
OURS_DAMAGED = "damaged"          # read what comes before the damage (issue 17):
                                  # exit 0, "damaged at byte N" on stderr and as
                                  # the dump's last line, N where the element
                                  # that cannot be read begins; every element
                                  # dcmdump +E shows wholly before it is ours,
                                  # with the same value, and we show nothing
                                  # it does not

ISO2022_JP = Rejection(
    "Cannot open character encoding: Invalid argument: converting file to UTF-8 "
    "('ISO 2022 IR 87' is not supported by the utilized character set conversion "
    "library 'GNU C library (iconv)')",
    OURS_READ_CHARSET,
    "DCMTK 3.6.7 with glibc iconv cannot convert JIS X 0208 (ISO 2022 IR 87); "
    "pydicom decodes it (its iso2022_jp codec), and so must we")

DCMTK_REJECTS = {
    "charset_files/chrH31.dcm": ISO2022_JP,
    "charset_files/chrH32.dcm": ISO2022_JP,
    "charset_files/chrJapMulti.dcm": ISO2022_JP,
    "charset_files/chrJapMultiExplicitIR6.dcm": ISO2022_JP,
    "charset_files/chrSQEncoding1.dcm": ISO2022_JP,
    "test_files/J2K_pixelrep_mismatch.dcm": ISO2022_JP,
    "charset_files/chrSQEncoding.dcm": Rejection(
        "Cannot convert character encoding: Invalid or incomplete multibyte or wide "
        "character: converting file to UTF-8",
        OURS_READ_CHARSET,
        "the item's own Specific Character Set (ISO 2022 IR 13\\ISO 2022 IR 87) "
        "overrides the data set's ISO_IR 192 (PS3.5 6.1.2.2); DCMTK converts the "
        "item with the outer one and fails (dcm2json exits 0 but writes the item's "
        "ISO 2022 bytes unconverted, which is not UTF-8); pydicom honours the item's"),
    "test_files/MR_truncated.dcm": Rejection(
        "DcmElement: PixelData (7fe0,0010) larger (8192) than remaining bytes in file; "
        "I/O suspension or premature end of stream",
        OURS_DAMAGED,
        "Pixel Data is cut short: it is dropped, damaged where its header begins, "
        "the rest shown (pydicom only warns and keeps a short value, which would "
        "be a silently wrong image); a header-only read sees it too (a native "
        "value must be in the file whole)",
        header_only_reads=True),
    "test_files/rtplan_truncated.dcm": Rejection(
        "DcmElement: IsocenterPosition (300a,012c) larger (50) than remaining bytes (29) "
        "in file, premature end of stream; Invalid stream",
        OURS_DAMAGED,
        "the file ends inside a sequence item: damaged where (300A,012C) begins, "
        "what comes before it shown, the open sequences and items closed there"),
    "test_files/SC_rgb_jpeg.dcm": Rejection(
        "Non-standard VR '  ' (18\\00) encountered while parsing element (0008,0008) ... "
        "Unknown Tag & Data (4544,4952) larger (1329808723) than remaining bytes in file",
        OURS_READ_PYDICOM,
        "the meta header says JPEG Baseline (explicit VR) but the data set is "
        "Implicit VR Little Endian, as the first element's bytes show; pydicom "
        "reads it by its bytes, and a reader that does must agree with pydicom"),
}

# What the reason for rejecting a cut-short file must speak of
# (case-insensitive, on the text after "dicomfs-tool: PATH: ").
REJECT_REASON = re.compile(r"end|truncat|short|past|beyond|larger|remain", re.I)


SOURCE_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                           "..", ".."))
MAKE_DAMAGED = os.path.join(SOURCE_ROOT, "scripts", "make-damaged.py")
_walker = None


def damage_walker():
    """scripts/make-damaged.py as a module: its element walker (Layout) tells
    where each element of a file begins and ends, to know which ones lie
    before a damage."""
    global _walker
    if _walker is None:
        import importlib.util
        spec = importlib.util.spec_from_file_location("make_damaged", MAKE_DAMAGED)
        _walker = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(_walker)
    return _walker


def data_path(rel):
    return os.path.join(PYDICOM_DATA, rel)


_prlimit = None


def _has_prlimit():
    global _prlimit
    if _prlimit is None:
        import shutil
        _prlimit = shutil.which("prlimit") is not None
    return _prlimit


def _set_limits(memory, cpu):
    import resource
    if memory is not None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    if cpu is not None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))


def run(argv, timeout=TIMEOUT, max_memory=None, max_cpu=None):
    """(returncode, stdout bytes, stderr text); returncode None on timeout.
    max_memory, max_cpu: limits on the program's address space (bytes) and
    processor time (seconds): DCMTK given a damaged file may take a garbage
    length of gigabytes for a value to load, or loop a long while."""
    preexec = None
    if max_memory is not None or max_cpu is not None:
        # prlimit(1) keeps subprocess's fast spawn (a preexec_fn forks)
        if _has_prlimit():
            argv = (["prlimit"] + ([f"--as={max_memory}"] if max_memory else [])
                    + ([f"--cpu={max_cpu}"] if max_cpu else []) + ["--"] + list(argv))
        else:
            preexec = lambda: _set_limits(max_memory, max_cpu)  # noqa: E731
    try:
        r = subprocess.run(argv, capture_output=True, timeout=timeout, preexec_fn=preexec)
    except subprocess.TimeoutExpired:
        return None, b"", f"timeout after {timeout} s"
    except OSError as e:  # not installed, not executable
        return None, b"", f"cannot run {argv[0]}: {e}"
    return r.returncode, r.stdout, r.stderr.decode("utf-8", "replace")


def all_files():
    out = []
    for root in TEST_ROOTS:
        for dirpath, dirnames, filenames in os.walk(data_path(root)):
            dirnames.sort()
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                out.append(os.path.relpath(full, PYDICOM_DATA))
    return sorted(out)


def has_dicm(path):
    with open(path, "rb") as f:
        head = f.read(132)
    return head[128:132] == b"DICM"


def classify(rel):
    """'dicm', 'dcmdump' (no DICM but dcmdump reads it) or 'not-dicom'."""
    path = data_path(rel)
    if has_dicm(path):
        return "dicm"
    rc, _, _ = run(["dcmdump", "-q", path], timeout=60)
    return "dcmdump" if rc == 0 else "not-dicom"


def check_setup():
    problems = []
    if pydicom is None:
        problems.append("pydicom is not importable: run this with /usr/bin/python3")
    for tool in ("dcmdump", "dcm2json", "dcmodify"):
        if run([tool, "--version"])[0] is None:
            problems.append(f"{tool} does not answer")
    if not os.path.isdir(data_path("test_files")):
        problems.append(f"{PYDICOM_DATA}/test_files is missing (apt install python3-pydicom)")
    return problems


def check_rejected(tool, rel, cmd):
    """OURS_REJECT: dicomfs-tool must exit 1 with 'dicomfs-tool: PATH: reason'."""
    path = data_path(rel)
    rc, out, err = run([tool] + cmd + [path])
    problems = []
    if rc != 1:
        problems.append(f"expected rejection (exit 1), got exit {rc}; stderr: {err.strip()[:300]}")
    else:
        lines = err.strip().splitlines()
        if len(lines) != 1 or not lines[0].startswith(f"dicomfs-tool: {path}: "):
            problems.append(f"expected one line 'dicomfs-tool: {path}: REASON' on stderr, got {err!r}")
        elif not REJECT_REASON.search(lines[0].split(": ", 2)[-1]):
            problems.append(f"the reason does not say the file is cut short: {lines[0]!r}")
    return problems, err.strip()


def check_not_dicom(tool, rel):
    """A file that is not DICOM (no DICM, dcmdump rejects it): we reject it."""
    problems = []
    for cmd in (["dump"], ["json"]):
        rc, out, err = run([tool] + cmd + [data_path(rel)])
        if rc != 1 or not err.strip():
            problems.append(f"{cmd[0]}: expected exit 1 with a reason, got exit {rc}, "
                            f"stderr {err.strip()[:200]!r}, {len(out)} bytes on stdout")
    return problems


# --- VR rules ------------------------------------------------------------------

def is_private(tag):
    return (tag >> 16) & 1 == 1


def dictionary_vr(tag):
    """pydicom's dictionary VR string for a public tag ('US or SS', ...), or None."""
    if is_private(tag):
        return None
    try:
        return pydicom.datadict.dictionary_VR(tag)
    except KeyError:
        return None


class VrCounter:
    """Counts of the VR differences accepted, by kind, with examples."""

    def __init__(self):
        self.counts = {}
        self.examples = {}

    def add(self, kind, example):
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.examples.setdefault(kind, [])
        if len(self.examples[kind]) < 3:
            self.examples[kind].append(example)

    def report(self, out=sys.stdout):
        for kind in sorted(self.counts):
            print(f"  accepted difference: {kind}: {self.counts[kind]}", file=out)
            for ex in self.examples[kind]:
                print(f"      e.g. {ex}", file=out)


def vr_verdict(tag, theirs, ours, implicit):
    """None when the VRs agree, else (accepted: bool, kind).

    theirs may be one of DCMTK's own names (up, ??, ox, ...): those stand for
    the standard VRs in DCMTK_VR_ALIASES, which is no difference at all except
    that it is counted.  In implicit VR files the VR comes from a dictionary,
    so:
      - a tag whose PS3.6 VR is ambiguous ("US or SS", "OB or OW",
        "US or SS or OW", "US or OW") may differ within that set, since each
        reader resolves it by its own rule (PS3.5 A.1 c, PS3.3 C.7.6.3);
      - a private tag, or a tag one side does not know (UN), may differ,
        because DCMTK's private dictionary is not GDCM's (ours, via pydicom),
        and their public dictionaries are not the same edition.
    Everything else must be equal."""
    if theirs == ours:
        return None
    alias = DCMTK_VR_ALIASES.get(theirs)
    if alias is not None and ours in alias and len(alias) == 1:
        return True, f"DCMTK '{theirs}' is {ours}"
    if alias is not None and ours in alias and implicit:
        return True, f"DCMTK '{theirs}' (ambiguous) vs {ours} in implicit VR"
    if not implicit:
        return False, "VR"
    theirs_set = alias if alias is not None else {theirs}
    dvr = dictionary_vr(tag)
    if dvr is not None and " or " in dvr:
        allowed = set(dvr.split(" or "))
        if ours in allowed and theirs_set <= allowed:
            return True, f"implicit VR, dictionary '{dvr}': {sorted(theirs_set)[0]} vs {ours}"
    if is_private(tag):
        return True, "implicit VR, private tag: dictionaries differ"
    if ours == "UN" or "UN" in theirs_set:
        return True, "implicit VR, tag unknown to one dictionary (UN)"
    return False, "VR"


def encapsulated_pixel_data_vr(path):
    """The VR the file itself gives its top-level encapsulated Pixel Data
    (explicit VR only; None otherwise), from pydicom's raw element."""
    try:
        ds = pydicom.dcmread(path, force=True, stop_before_pixels=False)
        raw = ds.get_item(PIXEL_DATA)
    except Exception:  # noqa: BLE001 - the oracle's oracle failing is no answer
        return None
    if raw is None or getattr(raw, "is_implicit_VR", True) or raw.length != 0xFFFFFFFF:
        return None
    return str(getattr(raw.VR, "value", raw.VR))


def dataset_is_implicit(path):
    """Whether the data set is really Implicit VR (pydicom trusts the bytes of
    the first element over the transfer syntax, and marks its raw elements)."""
    try:
        ds = pydicom.dcmread(path, force=True, stop_before_pixels=True)
        first = next(iter(ds.keys()), None)
        if first is None:
            return bool(ds.is_implicit_VR)
        return bool(getattr(ds.get_item(first), "is_implicit_VR", ds.is_implicit_VR))
    except Exception:  # noqa: BLE001
        return False


ENCAPSULATED_OW = ("encapsulated Pixel Data the file encodes as OW: DCMTK reports OB "
                   "(PS3.5 A.4 requires OB), we report the VR as encoded")


# --- values as bytes (to compare across accepted VR differences) ---------------

def _int_bytes(values, size, signed):
    out = b""
    for v in values:
        out += int(v).to_bytes(size, "little", signed=signed and int(v) < 0)
    return out


def values_to_bytes(vr, values):
    """The little endian bytes behind a list of printed values, or None when
    the VR has no byte form we can rebuild (floats are compared as numbers)."""
    import struct
    try:
        if vr in WORD_VRS:
            return b"".join(int(v, 16).to_bytes(WORD_VRS[vr], "little") for v in values)
        if vr in INT_VRS:
            size, signed = INT_VRS[vr]
            return b"".join(int(v).to_bytes(size, "little", signed=int(v) < 0) for v in values)
        if vr == "AT":
            out = b""
            for v in values:
                g, e = v.strip("()").split(",")
                out += struct.pack("<HH", int(g, 16), int(e, 16))
            return out
        if vr in FLOAT_VRS:
            fmt = "<f" if FLOAT_VRS[vr] == 4 else "<d"
            return b"".join(struct.pack(fmt, float(v)) for v in values)
    except (ValueError, OverflowError, struct.error):
        return None
    return None


def arguments(name, usage):
    """TOOL [FILTER] from the command line, after checking the oracles are
    installed (exit 77, skip, when they are not; 2 on bad usage)."""
    if len(sys.argv) < 2:
        print(usage)
        sys.exit(2)
    problems = check_setup()
    if problems:
        print(f"{name}: skipped: " + "; ".join(problems))
        sys.exit(77)
    return os.path.abspath(sys.argv[1]), (sys.argv[2] if len(sys.argv) > 2 else None)
