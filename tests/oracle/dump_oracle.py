#!/usr/bin/python3
"""Oracle test: `dicomfs-tool dump FILE` against DCMTK's dcmdump.

    /usr/bin/python3 tests/oracle/dump_oracle.py path/to/dicomfs-tool [FILE-FILTER]

For every DICOM file in Debian's pydicom test data (see oracle_common.py),
dcmdump and our dump are parsed into (path, tag, VR, value) records, path
being the chain of (sequence tag, item number) above the element.  Every
element dcmdump prints must be in our dump with the same tag, VR and value,
and we must print nothing it does not:

  dcmdump +L -Un +U8 FILE
    +L   long values in full (we cut binary values at 256 bytes and say so:
         those are compared over the part we print, and the byte count);
    -Un  UIDs as numbers, not names;
    +U8  text converted to UTF-8, as we print it.  It also relabels
         Specific Character Set as "ISO_IR 192", so (0008,0005) is compared
         with a second dcmdump without +U8, which prints it as stored;
    sequences searched into (dcmdump's default), and -E (its default: no
    dump of a damaged file, so a damaged file is a rejected file).

Values are compared after formatting is normalised: dcmdump's [] removed;
multiple values split at '\\'; padding the standard calls insignificant
(PS3.5 Table 6.2-1) ignored; IS/DS and binary numbers numerically (FL and OF
with a relative tolerance of 1e-6, FD and OD of 1e-15); hex and AT case-
insensitively; our escapes of control characters applied to dcmdump's raw
text.  Pixel Data: tag and VR only (and the byte count when native); SQ: the
number of items; items: their position.  VR differences are accepted only
as oracle_common.vr_verdict says, and counted.

Files DCMTK rejects are listed in oracle_common.DCMTK_REJECTS with its error
and what we must do instead; files that are not DICOM must be rejected.
A damaged file we read up to its damage (OURS_DAMAGED, issue 17) ends with
'# damaged at byte N: REASON; ...' and the same warning on stderr, N where
scripts/make-damaged.py's element walker finds the element that cannot be
read; it is compared with dcmdump +E (--ignore-parse-errors), which reads
on past the damage: every element it shows wholly before N must be ours,
with the same value, and we must show nothing it does not (so for the full
dump and the --header-only one).  A file DCMTK reads whole must not be
damaged for us.

Exit status 0 when everything agrees, 1 on any mismatch, 77 (skip) when
pydicom, DCMTK or the test data are missing.
"""

import math
import os
import re
import struct
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_common as oc  # noqa: E402

MAX_SHOWN = 5
NAME_COLUMN = 48
BINARY_MAX = 256


class Rec:
    __slots__ = ("depth", "tag", "vr", "name", "value", "length", "line", "path", "key",
                 "source")

    def __init__(self, depth, tag, vr, value, line, name="", length=None, source="dcmdump"):
        self.depth = depth
        self.tag = tag
        self.vr = vr
        self.name = name
        self.value = value
        self.length = length  # byte length, from dcmdump's comment (None: u/l)
        self.line = line
        self.path = ()
        self.key = None
        self.source = source


UNKNOWN_TAG = -1  # dcmdump's "(????,????)": what it read from garbage


def tag_str(tag):
    if tag == UNKNOWN_TAG:
        return "(????,????)"
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def path_str(path):
    return "".join(f"{tag_str(t)}[{n}]." for t, n in path)


# --- parsing -------------------------------------------------------------------

DCM_START = re.compile(r"^( *)\(([0-9a-f]{4}|\?{4}),([0-9a-f]{4}|\?{4})\) (\S\S) ")
DCM_TAIL = re.compile(r"^(.*?) *# +(u/l|\d+), *(\d+) ([^#\n]*)$", re.S)
DCM_TAIL_LINE = re.compile(r"# +(u/l|\d+), *\d+ [^#\n]*$")


def parse_dcmdump(text):
    """dcmdump's output as Recs (delimiters and pixel fragments left out),
    and whether the data set was read as implicit VR."""
    recs = []
    implicit = False
    in_dataset = False
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        m = DCM_START.match(line)
        if not m:
            if line.startswith("# Dicom-Data-Set"):
                in_dataset = True
            elif line.startswith("# Used TransferSyntax:") and in_dataset:
                implicit = "Implicit" in line
            elif line.strip() and not line.lstrip().startswith("#"):
                raise ValueError(f"unparsed dcmdump line: {line[:200]!r}")
            i += 1
            continue
        # A record ends on the line carrying "# len, VM Name"; text values
        # with newlines spread over several lines.
        j = i
        while not DCM_TAIL_LINE.search(lines[j]):
            j += 1
            if j >= len(lines):
                raise ValueError(f"unterminated dcmdump record: {line[:200]!r}")
        record = "\n".join(lines[i:j + 1])
        i = j + 1
        depth = len(m.group(1)) // 2
        tag = UNKNOWN_TAG if "?" in m.group(2) + m.group(3) else int(m.group(2) + m.group(3), 16)
        vr = m.group(4)
        rest = record[m.end():]
        t = DCM_TAIL.match(rest)
        value, length, name = t.group(1), t.group(2), t.group(4).strip()
        if tag in (0xFFFEE00D, 0xFFFEE0DD) or vr == "pi":
            continue
        if value.startswith("["):
            value = value[1:value.rindex("]")]
        elif value.strip() == "(no value available)":
            value = ""
        else:
            value = value.rstrip(" ")
        recs.append(Rec(depth, tag, vr, value, record, name=name,
                        length=None if length == "u/l" else int(length)))
    return recs, implicit


OUR_LINE = re.compile(r"^( *)\(([0-9A-F]{4}),([0-9A-F]{4})\) (\S\S) (\S+)(.*)$")
# The last line of the dump of a damaged file (issue 17), and the warning on
# stderr that goes with it.
DAMAGED_LINE = re.compile(r"# damaged at byte (\d+): (.*); the rest of the file could not be read")
DAMAGED_WARNING = re.compile(r"dicomfs-tool: (.*): damaged at byte (\d+): (.*)")


def parse_ours(text, problems, damage=None):
    """Our dump as Recs.  The last line may be '# damaged at byte N: REASON;
    the rest of the file could not be read': with a list as damage, (N,
    REASON) is appended to it; without, such a line is a problem (the file
    is whole for DCMTK, so must be for us)."""
    recs = []
    lines = text.split("\n")
    while lines and lines[-1] == "":
        lines.pop()
    if lines and lines[-1].startswith("# damaged at byte"):
        m = DAMAGED_LINE.fullmatch(lines[-1])
        if m is None:
            problems.append(("format", "damage line is not '# damaged at byte N: REASON; the "
                             f"rest of the file could not be read': {lines[-1][:200]!r}",
                             None, lines[-1]))
        elif damage is not None:
            damage.append((int(m.group(1)), m.group(2)))
        else:
            problems.append(("damaged", f"we read the file as damaged: {lines[-1][:200]}",
                             None, lines[-1]))
        lines.pop()
    for line in lines:
        if line == "":
            continue
        m = OUR_LINE.match(line)
        if not m:
            problems.append(("format", f"unparsed line of ours: {line[:200]!r}", None, line))
            continue
        depth = len(m.group(1)) // 2
        tag = int(m.group(2) + m.group(3), 16)
        vr, name, rest = m.group(4), m.group(5), m.group(6)
        if len(m.group(1)) % 2:
            problems.append(("format", "odd indent", None, line))
        if tag == oc.ITEM:
            value = rest.strip()
            if vr != "na" or name != "Item" or not re.fullmatch(r" \d+", rest):
                problems.append(("format", "item line is not '(FFFE,E000) na Item N'", None, line))
        elif rest == "":
            value = ""
        else:
            name_end = m.end(5)
            start = max(NAME_COLUMN, name_end + 1)
            pad = line[name_end:start]
            if pad.strip(" ") or len(line) < start:
                problems.append(("format", f"value does not start at column {NAME_COLUMN} "
                                 "(or one space after a long name)", None, line))
                value = rest.strip(" ")
            else:
                value = line[start:]
            if value == "":
                problems.append(("format", "trailing spaces after a name without value",
                                 None, line))
        recs.append(Rec(depth, tag, vr, value, line, name=name, source="ours"))
    return recs


def assign_paths(recs):
    """Set rec.path, the ((SQ tag, item number), ...) chain above the
    element, and rec.key: (path, tag, occurrence) for an element, (path,
    SQ tag, ITEM, n) for item n of a sequence.  Returns nesting problems."""
    stack = []  # by depth: an element's tag at even depths, an item number at odd
    items = {}
    seen = {}
    problems = []
    for r in recs:
        d = r.depth
        if d > len(stack):
            problems.append(f"depth jumps to {d}: {r.line[:120]}")
            d = r.depth = len(stack)
        del stack[d:]
        if r.tag == oc.ITEM:
            if d % 2 == 0:
                problems.append(f"item outside a sequence: {r.line[:120]}")
                r.path, r.key = to_pairs(stack), (to_pairs(stack), None, oc.ITEM, 0)
                stack.append(0)
                continue
            parent = to_pairs(stack[:-1])
            sq = stack[-1]
            n = items[(parent, sq)] = items.get((parent, sq), 0) + 1
            r.path = parent + ((sq, n),)
            r.key = (parent, sq, oc.ITEM, n)
            stack.append(n)
        else:
            if d % 2 == 1:
                problems.append(f"element directly inside a sequence: {r.line[:120]}")
            r.path = to_pairs(stack)
            k = (r.path, r.tag)
            occ = seen[k] = seen.get(k, 0) + 1
            r.key = (r.path, r.tag, occ)
            stack.append(r.tag)
    return problems


def to_pairs(stack):
    return tuple((stack[k], stack[k + 1]) for k in range(0, len(stack) - 1, 2))


def item_no(rec):
    return rec.key[3]


def where_str(rec):
    if rec.tag == oc.ITEM:
        return path_str(rec.path[:-1]) + f"{tag_str(rec.key[1] or 0)} Item {item_no(rec)}"
    return path_str(rec.path) + tag_str(rec.tag)


# --- pydicom as an oracle --------------------------------------------------------

def pydicom_records(path):
    """The file as pydicom reads it, in dcmdump's value forms; the meta group
    first.  Returns (records, implicit)."""
    from pydicom import config
    config.replace_un_with_known_vr = False
    ds = oc.pydicom.dcmread(path, force=True)
    little = ds.is_little_endian
    recs = []

    def fmt_binary(vr, raw):
        if vr in oc.WORD_VRS:
            n = oc.WORD_VRS[vr]
            return "\\".join(f"{int.from_bytes(raw[k:k + n], 'little' if little else 'big'):0{2 * n}x}"
                             for k in range(0, len(raw) - len(raw) % n, n))
        if vr in ("OF", "OD"):
            n = oc.FLOAT_VRS[vr]
            f = ("<" if little else ">") + ("f" if n == 4 else "d")
            return "\\".join(repr(struct.unpack(f, raw[k:k + n])[0])
                             for k in range(0, len(raw) - len(raw) % n, n))
        return "\\".join(f"{b:02x}" for b in raw)

    def value_text(elem):
        v = elem.value
        vr = str(getattr(elem.VR, "value", elem.VR))
        if v is None or v == "" or v == b"":
            return ""
        many = isinstance(v, (list, tuple, oc.pydicom.multival.MultiValue))
        vals = list(v) if many else [v]
        if vr == "AT":
            return "\\".join(f"({int(t) >> 16:04x},{int(t) & 0xFFFF:04x})" for t in vals)
        if vr in oc.FLOAT_VRS and vr not in ("OF", "OD"):
            return "\\".join(repr(float(x)) for x in vals)
        if isinstance(v, bytes):
            return fmt_binary(vr, v)
        return "\\".join(str(x) for x in vals)

    def walk(dataset, depth):
        for elem in dataset:
            tag = int(elem.tag)
            vr = str(getattr(elem.VR, "value", elem.VR))
            line = f"pydicom: {'  ' * depth}{elem}"[:300]
            if vr == "SQ":
                n = len(elem.value)
                recs.append(Rec(depth, tag, "SQ", f"#={n}", line, source="pydicom"))
                for item in elem.value:
                    recs.append(Rec(depth + 1, oc.ITEM, "na", "", "pydicom: item", source="pydicom"))
                    walk(item, depth + 2)
            elif tag == oc.PIXEL_DATA:
                recs.append(Rec(depth, tag, vr, "(pixel data)", line, source="pydicom",
                                length=len(elem.value) if not elem.is_undefined_length else None))
            else:
                recs.append(Rec(depth, tag, vr, value_text(elem), line, source="pydicom",
                                length=len(elem.value) if isinstance(elem.value, bytes) else None))

    # How the data set is really encoded: pydicom trusts the bytes over the
    # transfer syntax, and says so on each raw element.
    implicit = ds.is_implicit_VR
    first = next(iter(ds.keys()), None)
    if first is not None:
        implicit = getattr(ds.get_item(first), "is_implicit_VR", implicit)
    walk(ds.file_meta, 0)
    walk(ds, 0)
    return recs, implicit


# --- comparing values ----------------------------------------------------------

def escape(s):
    """Our dump's escaping of control characters (render.h)."""
    out = []
    for ch in s:
        c = ord(ch)
        if c >= 0x20 and c != 0x7F:
            out.append(ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        else:
            out.append(f"\\x{c:02x}")
    return "".join(out)


def unpad(vr, v):
    """Drop the padding PS3.5 calls insignificant (spaces; NULs, which UI
    pads with and some writers use everywhere)."""
    while True:
        w = v.rstrip(" \0")
        if w.endswith("\\x00"):
            w = w[:-4]
        if w == v:
            break
        v = w
    if vr in oc.BOTH_ENDS_PADDED:
        v = v.lstrip(" ")
    return v


def to_number(s):
    try:
        return float(s)
    except ValueError:
        return None


def as_float32(x):
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:
        return None


def same_float(a, b, rel, single=False):
    """Numerically equal within rel; for single precision also when both
    texts read back to the same float32 (the shortest text that does can
    be far from a 9-digit one for denormals: 1e-45 vs 1.40129846e-45)."""
    x, y = to_number(a), to_number(b)
    if x is None or y is None:
        return False
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if single and as_float32(x) is not None and as_float32(x) == as_float32(y):
        return True
    return x == y or math.isclose(x, y, rel_tol=rel, abs_tol=0.0)


EMBEDDED_NUL = ("NUL bytes inside a text value: our decoder drops them (value.c), "
                "DCMTK keeps them")


def compare_text(vr, theirs, ours):
    """theirs: raw text (dcmdump/pydicom); ours: our escaped text."""
    err = compare_text_as_is(vr, theirs, ours)
    if err is not None and "\0" in theirs.rstrip("\0 "):
        if compare_text_as_is(vr, theirs.replace("\0", ""), ours) is None:
            return Accepted(EMBEDDED_NUL)
    return err


def compare_text_as_is(vr, theirs, ours):
    if vr in oc.SINGLE_VALUED_TEXT:
        a, b = unpad(vr, escape(theirs)), unpad(vr, ours)
        return None if a == b else f"{b[:120]!r} vs {a[:120]!r}"
    tv = [unpad(vr, escape(unpad(vr, x))) for x in unpad(vr, theirs).split("\\")]
    ov = [unpad(vr, x) for x in unpad(vr, ours).split("\\")]
    if tv == [""]:
        tv = []
    if ov == [""]:
        ov = []
    first_bad = None
    if len(tv) == len(ov):
        for k, (a, b) in enumerate(zip(tv, ov)):
            if vr in ("DS", "IS") and to_number(a) is not None and to_number(b) is not None:
                same = same_float(a, b, 1e-12)
            else:
                same = a == b
            if not same:
                first_bad = f"value {k + 1}: {b[:120]!r} vs {a[:120]!r}"
                break
        if first_bad is None:
            return None
    # Control characters that look like separators once escaped: compare whole.
    if unpad(vr, escape(theirs)) == unpad(vr, ours):
        return None
    return first_bad or f"{len(ov)} values vs {len(tv)}: {ours[:120]!r} vs {theirs[:120]!r}"


BINARY_CUT = re.compile(r"\.\.\. \((\d+) bytes\)")
OUR_WORD = {vr: re.compile(f"[0-9a-f]{{{2 * n}}}") for vr, n in oc.WORD_VRS.items()}
OUR_AT = re.compile(r"\([0-9A-F]{4},[0-9A-F]{4}\)")


def split_binary(s):
    if s == "":
        return [], None
    parts = s.split("\\")
    m = BINARY_CUT.fullmatch(parts[-1])
    if m:
        return parts[:-1], int(m.group(1))
    return parts, None


def unit_size(vr):
    if vr in oc.WORD_VRS:
        return oc.WORD_VRS[vr]
    if vr in oc.INT_VRS:
        return oc.INT_VRS[vr][0]
    if vr in oc.FLOAT_VRS:
        return oc.FLOAT_VRS[vr]
    if vr == "AT":
        return 4
    return 1


def same_binary_value(vr, a, b):
    if vr in oc.INT_VRS:
        try:
            return int(a) == int(b)
        except ValueError:
            return False
    if vr in ("FL", "OF"):
        return same_float(a, b, 1e-6, single=True)
    if vr in ("FD", "OD"):
        return same_float(a, b, 1e-15)
    if vr == "AT":
        return a.lower() == b.lower()
    try:
        return int(a, 16) == int(b, 16)
    except ValueError:
        return False


def compare_binary(vr, theirs, ours, their_length):
    tv, _ = split_binary(theirs)
    ov, total = split_binary(ours)
    unit = unit_size(vr)
    if vr in OUR_WORD and not all(OUR_WORD[vr].fullmatch(x) for x in ov):
        return f"format: {vr} words must be {2 * unit} lowercase hex digits"
    if vr == "AT" and not all(OUR_AT.fullmatch(x) for x in ov):
        return "format: AT must be (GGGG,EEEE)"
    if total is not None:
        if len(ov) * unit > BINARY_MAX or len(ov) * unit + unit <= BINARY_MAX:
            return f"cut after {len(ov) * unit} bytes, not at {BINARY_MAX}"
        want = their_length if their_length is not None else len(tv) * unit
        if total != want:
            return f"says {total} bytes, dcmdump has {want}"
        tv = tv[:len(ov)]
    if (total is None and unit == 1 and len(ov) % 2 == 1 and len(tv) == len(ov) + 1
            and tv[-1] == "00" and tv[:-1] == ov):
        return Accepted(ODD_LENGTH)
    if len(tv) != len(ov):
        return f"{len(ov)} values, dcmdump has {len(tv)}"
    for k, (a, b) in enumerate(zip(tv, ov)):
        if not same_binary_value(vr, a, b):
            return f"value {k + 1}: {b} vs {a}"
    return None


class Accepted:
    """A value difference accepted by rule, to be counted."""

    def __init__(self, kind):
        self.kind = kind


ODD_LENGTH = ("odd-length value: DCMTK pads it with a 00 byte (its +ao default), we "
              "show the bytes the length field covers")


SQ_OURS = re.compile(r"\((\d+) items?\)")
SQ_THEIRS = re.compile(r"\((?:Sequence with (?:undefined|explicit) length )?#=(\d+)\)|#=(\d+)")
PIXEL_OURS = re.compile(r"\(pixel data, (\d+) bytes\)|"
                        r"\(pixel data, encapsulated, \d+ fragments?, \d+ bytes\)|"
                        r"\(pixel data, encapsulated, not loaded\)")


def compare_special(t, o):
    """SQ, pixel data, items.  None, or what differs."""
    if t.tag == oc.ITEM:
        if o.value != str(item_no(o)):
            return f"item numbered {o.value}, is item {item_no(o)}"
        return None
    if t.vr == "SQ" or o.vr == "SQ":
        m = SQ_OURS.fullmatch(o.value)
        n = SQ_THEIRS.search(t.value)
        if not m:
            return "format: SQ value is not '(N items)'"
        want = int(n.group(1) or n.group(2)) if n else None
        got = int(m.group(1))
        if (got == 1) != o.value.endswith("item)"):
            return "format: '(1 item)' / '(N items)'"
        if want != got:
            return f"{got} items, {t.source} has {want}"
        return None
    # Pixel Data: tag and VR only, and the byte count of native pixel data.
    m = PIXEL_OURS.fullmatch(o.value)
    if not m:
        return "format: pixel data value is not '(pixel data, ...)'"
    if m.group(1) is not None and t.length is not None and int(m.group(1)) != t.length:
        return f"{m.group(1)} bytes of pixel data, {t.source} has {t.length}"
    return None


def text_bytes(s):
    return s.encode("utf-8", "surrogateescape")


def standard_vr(vr):
    """A VR usable for values: DCMTK's aliases and pydicom's 'US or SS' give
    their first standard VR (both readings are compared as bytes)."""
    if vr in oc.DCMTK_VR_ALIASES:
        return sorted(oc.DCMTK_VR_ALIASES[vr])[0]
    return vr.split(" or ")[0]


def value_bytes(vr, value):
    """(bytes, cut) behind a printed value, or (None, False)."""
    vr = standard_vr(vr)
    if vr in oc.TEXT_VRS:
        return text_bytes(value), False
    vals, total = split_binary(value)
    return oc.values_to_bytes(vr, vals), total is not None


def compare_across_vrs(t, o):
    """One element read with two VRs (an accepted difference): its values
    agree when the bytes behind them do (padding aside)."""
    tb, _ = value_bytes(t.vr, t.value)
    ob, cut = value_bytes(o.vr, o.value)
    if tb is None or ob is None:
        return f"values of {t.vr} and {o.vr} cannot be compared as bytes"
    if standard_vr(t.vr) in oc.TEXT_VRS or o.vr in oc.TEXT_VRS:
        tb, ob = tb.strip(b" \0"), ob.strip(b" \0")
    else:
        tb, ob = tb.rstrip(b"\0"), ob.rstrip(b"\0")
    if cut:
        tb = tb[:len(ob)]
    if tb == ob:
        return None
    return f"bytes differ: {t.vr} {t.value[:60]!r} vs {o.vr} {o.value[:60]!r}"


def is_special(t, o):
    return (t.tag == oc.ITEM or t.vr == "SQ" or o.vr == "SQ" or t.tag == oc.PIXEL_DATA
            or t.value.startswith("(PixelSequence"))


def compare_value(vr, t, o):
    if is_special(t, o):
        return compare_special(t, o)
    if vr in oc.TEXT_VRS:
        # render.h: padding is trimmed (trailing spaces and NULs; leading
        # spaces too for AE CS DS IS LO SH).
        if o.value.endswith((" ", "\\x00")):
            return "format: trailing padding not trimmed"
        if vr in oc.BOTH_ENDS_PADDED and o.value.startswith(" "):
            return "format: leading spaces not trimmed"
        return compare_text(vr, t.value, o.value)
    return compare_binary(vr, t.value, o.value, t.length)


def expected_name(tag):
    """Our dump's Name column, where the rule is certain (render.h)."""
    group, elem = tag >> 16, tag & 0xFFFF
    if tag == oc.ITEM:
        return "Item"
    if group & 1:
        # every private element, creators too, is named by its number
        return f"{tag:08X}" if elem >= 0x10 else None
    kw = oc.pydicom.datadict.keyword_for_tag(tag)
    return kw or None


# --- one file ------------------------------------------------------------------

class FileResult:
    def __init__(self, rel):
        self.rel = rel
        self.compared = 0
        self.mismatches = []  # (category, message, their line, our line)
        self.note = ""


def compare_records(res, theirs, ours, implicit, vrs, raw_charset=None, text_from=None):
    """theirs, ours: Recs with keys.  raw_charset: (0008,0005) records as
    stored, by key.  text_from: records whose text values replace theirs for
    the charset VRs (pydicom for what DCMTK cannot decode)."""
    by_key = {o.key: o for o in ours}
    matched = set()
    for t in theirs:
        o = by_key.get(t.key)
        where = where_str(t)
        if (t.tag == 0x00080005 and raw_charset is not None and t.key not in raw_charset
                and o is None):
            vrs.add("dcmdump +U8 inserts (0008,0005)", f"{res.rel} {where}")
            continue
        if o is None:
            res.mismatches.append(("missing", f"{where} is not in our dump", t.line, None))
            continue
        matched.add(t.key)
        res.compared += 1
        if t.tag == 0x00080005 and raw_charset is not None:
            if t.key not in raw_charset:
                # +U8 adds Specific Character Set "ISO_IR 192" when the file
                # has none: not an element of the file.
                vrs.add("dcmdump +U8 inserts (0008,0005)", f"{res.rel} {where}")
                matched.discard(t.key)
                res.compared -= 1
                continue
            t = raw_charset[t.key]
        if text_from is not None and t.key in text_from and t.vr in oc.CHARSET_VRS:
            t = text_from[t.key]
        name = expected_name(t.tag)
        if name is not None and o.name != name:
            res.mismatches.append(("name", f"{where}: name {o.name}, expected {name}", t.line, o.line))
        implicit_here = implicit and (t.tag >> 16) != 0x0002
        verdict = oc.vr_verdict(t.tag, t.vr, o.vr, implicit_here) if t.tag != oc.ITEM else None
        if (verdict is not None and not verdict[0] and t.tag == oc.PIXEL_DATA and not t.path
                and (t.vr, o.vr) == ("OB", "OW") and t.value.startswith("(PixelSequence")
                and oc.encapsulated_pixel_data_vr(oc.data_path(res.rel)) == "OW"):
            verdict = (True, oc.ENCAPSULATED_OW)
        if verdict is not None and not verdict[0]:
            res.mismatches.append(("VR", f"{where}: VR {o.vr}, {t.source} has {t.vr}", t.line, o.line))
            continue
        if verdict is None:
            err = compare_value(o.vr, t, o)
        else:
            vrs.add(verdict[1], f"{res.rel} {where} {t.vr} vs ours {o.vr}")
            same_values = standard_vr(t.vr) == o.vr
            err = (compare_value(o.vr, t, o) if same_values or is_special(t, o)
                   else compare_across_vrs(t, o))
        if isinstance(err, Accepted):
            vrs.add(err.kind, f"{res.rel} {where}")
            err = None
        if err is not None:
            cat = "format" if err.startswith("format") else "value"
            res.mismatches.append((cat, f"{where} {o.vr}: {err}", t.line, o.line))
    for o in ours:
        if o.key not in matched:
            where = where_str(o)
            res.mismatches.append(("extra", f"{where} is in our dump only", None, o.line))


DAMAGED_MEMORY = 1 << 30   # dcmdump +E of a damaged file: 1 GiB of address space,
DAMAGED_CPU = 2            # 2 s of processor time (it takes 50 ms on a whole file)
DAMAGED_TIMEOUT = 30


def dcmdump(path, utf8=True, extra=(), damaged=False):
    """damaged: DCMTK reads on past a damage, and may take a garbage length
    of gigabytes for a value to load (with its memory limited it fails fast
    and still prints what it read), or loop on garbage for a minute (it is
    stopped, and prints nothing)."""
    argv = ["dcmdump", "+L", "-Un"] + (["+U8"] if utf8 else []) + list(extra) + [path]
    if damaged:
        rc, out, err = oc.run(argv, timeout=DAMAGED_TIMEOUT, max_memory=DAMAGED_MEMORY,
                              max_cpu=DAMAGED_CPU)
    else:
        rc, out, err = oc.run(argv)
    return rc, out.decode("utf-8", "surrogateescape"), err


def our_dump(tool, path, res, extra=()):
    rc, out, err = oc.run([tool] + list(extra) + ["dump", path])
    if rc != 0:
        res.mismatches.append(("rejected", f"dicomfs-tool exit {rc}: {err.strip()[:300]}", None, None))
        return None
    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError as e:
        res.mismatches.append(("format", f"our dump is not UTF-8: {e}", None, None))
        text = out.decode("utf-8", "replace")
    problems = []
    recs = parse_ours(text, problems)
    res.mismatches.extend(problems)
    for p in assign_paths(recs):
        res.mismatches.append(("format", f"our nesting: {p}", None, None))
    return recs


# --- damaged files (issue 17) ------------------------------------------------------

def our_damaged_dump(tool, path, res, extra=(), label="dump"):
    """Our dump of a file that may be damaged: exit 0, and the last line
    '# damaged at byte N: REASON; ...' exactly when stderr has the warning
    'dicomfs-tool: PATH: damaged at byte N: REASON' (the same N and REASON).
    Returns (records, (N, REASON) or None), or (None, None) when it fails."""
    rc, out, err = oc.run([tool] + list(extra) + ["dump", path])
    if rc != 0:
        res.mismatches.append(("rejected", f"{label}: dicomfs-tool exit {rc}: {err.strip()[:300]}",
                               None, None))
        return None, None
    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError as e:
        res.mismatches.append(("format", f"{label}: our dump is not UTF-8: {e}", None, None))
        text = out.decode("utf-8", "replace")
    problems, damage = [], []
    recs = parse_ours(text, problems, damage)
    res.mismatches.extend((c, f"{label}: {m}", t, o) for c, m, t, o in problems)
    for p in assign_paths(recs):
        res.mismatches.append(("format", f"{label}: our nesting: {p}", None, None))
    damage = damage[0] if damage else None
    check_damage_warning(res, label, path, err, damage)
    return recs, damage


def damage_warning(path, err):
    """(N, REASON) of the 'damaged at byte' warning on stderr, None without,
    and the other stderr lines."""
    found, other = [], []
    for line in err.splitlines():
        m = DAMAGED_WARNING.fullmatch(line)
        if m and m.group(1) == path:
            found.append((int(m.group(2)), m.group(3)))
        elif line.strip():
            other.append(line)
    return found, other


def check_damage_warning(res, label, path, err, damage):
    """The stderr warning is there exactly when the output says damaged."""
    found, other = damage_warning(path, err)
    if damage is None and found:
        res.mismatches.append(("damage-line", f"{label}: stderr says damaged at byte {found[0][0]} "
                               "but the output has no '# damaged at byte' line", None, None))
    elif damage is not None and not found:
        res.mismatches.append(("damage-line", f"{label}: the dump ends with '# damaged at byte "
                               f"{damage[0]}' but stderr has no 'dicomfs-tool: {path}: damaged "
                               f"at byte N: REASON' warning (stderr: {err.strip()[:200]!r})",
                               None, None))
    elif damage is not None and (len(found) != 1 or found[0] != damage):
        res.mismatches.append(("damage-line", f"{label}: stderr warns {found}, the dump's last "
                               f"line says {damage}", None, None))
    if other:
        res.mismatches.append(("stderr", f"{label}: unexpected stderr: {other[0][:200]!r}",
                               None, None))


def walker_key(e):
    """The key (as assign_paths makes them) of an element or item found by
    make-damaged.py's walker."""
    k = e.key
    path = tuple((int(t, 16), n) for t, n in k["path"])
    if k["item"] is not None:
        return (path, int(k["tag"], 16), oc.ITEM, k["item"])
    return (path, int(k["tag"], 16), k["occurrence"])


def damage_scope(elems, damaged_at, stop, longer=None):
    """What a reader that stops at a damage must still show, from the walker's
    elements of the bytes before the damage (the original file's).

    damaged_at: where the damaged element (cut, broken, lengthened; or the
    bytes appended) begins; stop: where our reading says it stopped (our N),
    or damaged_at when it does not say; longer: the walker element whose
    length was made one byte longer (its end moves by one).

    Returns (required, open_sqs): the keys of every element and item that lies
    wholly before damaged_at, and of the sequences and items still open there
    (their header before it, the damage inside them); and, for each sequence
    open at stop, the number of its items that begin before stop (the items
    we must show of it)."""
    def end(e):
        if e.end is None:
            return math.inf
        return e.end + 1 if e is longer else e.end

    required = set()
    open_sqs = {}
    for e in elems:
        container = e.seq or e.is_item
        if e.offset < damaged_at and (end(e) <= damaged_at or container):
            required.add(walker_key(e))
        if e.seq and e.offset < stop < end(e):
            open_sqs[walker_key(e)] = sum(1 for i in e.items if i.offset < stop)
    return required, open_sqs


def copy_rec(r, value):
    c = Rec(r.depth, r.tag, r.vr, value, r.line, name=r.name, length=r.length, source=r.source)
    c.path, c.key = r.path, r.key
    return c


OPEN_SEQUENCE = ("sequence open at the damage: we show the items that begin before it, "
                 "the oracle reads on past it (a partial item, or garbage read as items)")


def compare_damaged(res, theirs, ours, implicit, vrs, raw_charset, required, open_sqs,
                    text_from=None):
    """Equal up to the damage: every element of theirs (dcmdump +E or pydicom
    of the damaged file) whose key is required must be in ours with the same
    value; every element of ours must be in theirs with the same value.  The
    item count of a sequence open at the damage may differ from theirs when
    it is the number of items that begin before our stop (open_sqs)."""
    by_key = {o.key: o for o in ours}
    sub = []
    for t in theirs:
        o = by_key.get(t.key)
        if t.key not in required and o is None:
            continue
        if t.key in open_sqs and o is not None:
            m, n = SQ_OURS.fullmatch(o.value), SQ_THEIRS.search(t.value)
            if m and n:
                got, want = int(m.group(1)), int(n.group(1) or n.group(2))
                if got != want and got == open_sqs[t.key]:
                    vrs.add(OPEN_SEQUENCE, f"{res.rel} {where_str(t)}: {t.source} {want} items, "
                            f"ours {got}")
                    t = copy_rec(t, f"#={got}")
        sub.append(t)
    compare_records(res, sub, ours, implicit, vrs, raw_charset, text_from)


def stored_charsets(layout):
    """The (0008,0005) records as stored, by key, from the bytes (make-damaged.py's
    walker of the file): what a dcmdump without +U8 shows of them."""
    out = {}
    for e in layout.elems:
        if e.tag == 0x00080005 and not e.is_item and e.end is not None and e.length is not None:
            raw = layout.data[e.value_offset:e.value_offset + e.length]
            r = Rec(len(e.path) * 2, e.tag, e.vr or "CS", raw.decode("latin-1"),
                    f"(bytes at {e.offset}) {raw!r}", source="dcmdump")
            r.key = walker_key(e)
            r.path = r.key[0]
            out[r.key] = r
    return out


def dcmtk_records(path, extra=(), damaged=False, raw_charset=None):
    """(rc, error, records, implicit, raw_charset) from dcmdump +U8, with the
    (0008,0005) records of a dump without +U8 (as stored) by key (or those
    given, stored_charsets: one dcmdump less).  damaged: take what dcmdump
    printed (+E) even though it exits with an error."""
    rc, text, err = dcmdump(path, extra=extra, damaged=damaged)
    if rc is None or rc < 0:
        # Timed out, or stopped by a limit (a signal) while it printed.
        return rc, err or f"killed by signal {-rc}", None, None, None
    if rc != 0 and not (damaged and text.strip()):
        return rc, err, None, None, None
    theirs, implicit = parse_dcmdump(text)
    assign_paths(theirs)
    if raw_charset is not None:
        return rc, err, theirs, implicit, raw_charset
    if any(t.tag == 0x00080005 for t in theirs):
        _, text2, _ = dcmdump(path, utf8=False, extra=extra, damaged=damaged)
        raw, _ = parse_dcmdump(text2)
        assign_paths(raw)
        raw_charset = {r.key: r for r in raw if r.tag == 0x00080005}
    return rc, err, theirs, implicit, raw_charset


def check_file(tool, rel, vrs):
    res = FileResult(rel)
    path = oc.data_path(rel)
    listed = oc.DCMTK_REJECTS.get(rel)
    try:
        rc, err, theirs, implicit, raw_charset = dcmtk_records(path)
    except ValueError as e:
        res.mismatches.append(("oracle", f"cannot parse dcmdump: {e}", None, None))
        return res
    if rc != 0:
        if listed is None:
            res.mismatches.append(("unlisted", "dcmdump rejects this file but it is not in "
                                   f"DCMTK_REJECTS: {err.strip()[:400]}", None, None))
            return res
        return check_rejected(tool, rel, listed, vrs, res, err)
    if listed is not None:
        res.note = " (listed as rejected by DCMTK, but dcmdump now reads it: compared)"
    ours = our_dump(tool, path, res)
    if ours is not None:
        compare_records(res, theirs, ours, implicit, vrs, raw_charset)
    return res


def check_rejected(tool, rel, listed, vrs, res, dcmtk_err):
    path = oc.data_path(rel)
    dcmtk = " | ".join(x.strip() for x in dcmtk_err.splitlines()
                       if x.startswith(("E:", "F:")))[:300]
    res.note = f" (DCMTK rejects it; ours: {listed.ours})"
    why = f"\n       DCMTK: {dcmtk}\n       why: {listed.why}"
    try:
        return check_listed(tool, rel, listed, vrs, res, path)
    finally:
        res.note += why


def check_damaged(tool, rel, listed, vrs, res, path):
    """OURS_DAMAGED: the file read up to its damage, which must be where the
    walker of make-damaged.py fails (the element or item that cannot be
    read), by a full read and a header-only one alike."""
    with open(path, "rb") as f:
        layout = oc.damage_walker().Layout(f.read())
    if layout.failed_at is None:
        res.mismatches.append(("oracle", "listed as damaged, but the walker reads it whole",
                               None, None))
        return res
    try:
        _, err, theirs, implicit, raw_charset = dcmtk_records(path, extra=["+E"], damaged=True)
    except ValueError as e:
        res.mismatches.append(("oracle", f"cannot parse dcmdump +E: {e}", None, None))
        return res
    if theirs is None:
        res.mismatches.append(("oracle", f"dcmdump +E prints nothing: {err.strip()[:200]}",
                               None, None))
        return res
    res.note += f" -> damaged at byte {layout.failed_at} ({layout.error})"
    for label, extra in (("dump", ()), ("--header-only dump", ("--header-only",))):
        ours, damage = our_damaged_dump(tool, path, res, extra, label)
        if ours is None:
            continue
        if damage is None:
            res.mismatches.append(("damage", f"{label}: not flagged damaged", None, None))
        elif damage[0] != layout.failed_at:
            res.mismatches.append(("damage", f"{label}: damaged at byte {damage[0]}, but the "
                                   f"element that cannot be read begins at byte "
                                   f"{layout.failed_at}", None, None))
        required, open_sqs = damage_scope(layout.elems, layout.failed_at,
                                          damage[0] if damage else layout.failed_at)
        compare_damaged(res, theirs, ours, implicit, vrs, raw_charset, required, open_sqs)
    res.note += "; dump and --header-only dump compared with dcmdump +E up to the damage"
    return res


def check_listed(tool, rel, listed, vrs, res, path):
    if listed.ours == oc.OURS_DAMAGED:
        return check_damaged(tool, rel, listed, vrs, res, path)
    if listed.ours == oc.OURS_REJECT:
        problems, err = oc.check_rejected(tool, rel, ["dump"])
        res.mismatches.extend(("rejection", p, None, None) for p in problems)
        res.note += f" -> {err}"
        if listed.header_only_reads:
            _, _, theirs, implicit, raw_charset = dcmtk_records(path, extra=["+E"], damaged=True)
            ours = our_dump(tool, path, res, extra=["--header-only"])
            if theirs is None:
                res.mismatches.append(("oracle", "dcmdump +E prints nothing", None, None))
            elif ours is not None:
                compare_records(res, theirs, ours, implicit, vrs, raw_charset)
            res.note += "; --header-only dump compared with dcmdump +E"
        return res
    if listed.ours == oc.OURS_READ_PYDICOM:
        theirs, implicit = pydicom_records(path)
        assign_paths(theirs)
        ours = our_dump(tool, path, res)
        if ours is not None:
            compare_records(res, theirs, ours, implicit, vrs)
        return res
    # OURS_READ_CHARSET: structure and values from dcmdump without +U8, text
    # in the specific character sets from pydicom.
    rc, text, err = dcmdump(path, utf8=False)
    if rc != 0:
        res.mismatches.append(("oracle", f"dcmdump without +U8 fails too: {err.strip()[:300]}",
                               None, None))
        return res
    theirs, implicit = parse_dcmdump(text)
    assign_paths(theirs)
    py, _ = pydicom_records(path)
    assign_paths(py)
    text_from = {r.key: r for r in py if r.vr in oc.CHARSET_VRS}
    missing = [t for t in theirs if t.vr in oc.CHARSET_VRS and t.key not in text_from]
    for t in missing:
        res.mismatches.append(("oracle", f"pydicom lacks {tag_str(t.tag)}", t.line, None))
    ours = our_dump(tool, path, res)
    if ours is not None:
        compare_records(res, theirs, ours, implicit, vrs, text_from=text_from)
    return res


def main():
    tool, only = oc.arguments("dump-oracle", __doc__)
    vrs = oc.VrCounter()
    files = [f for f in oc.all_files() if only is None or only in f]
    n_files = n_failed = n_elements = n_not_dicom = n_rejected = 0
    categories = {}
    for rel in files:
        kind = oc.classify(rel)
        if kind == "not-dicom":
            n_not_dicom += 1
            problems = oc.check_not_dicom(tool, rel)
            print(("FAIL " if problems else "ok   ") + f"{rel}: not DICOM (no DICM, dcmdump "
                  "rejects it): must be rejected by us too")
            for p in problems:
                print("       " + p)
            n_failed += bool(problems)
            categories["not-dicom read"] = categories.get("not-dicom read", 0) + len(problems)
            continue
        n_files += 1
        res = check_file(tool, rel, vrs)
        n_rejected += rel in oc.DCMTK_REJECTS
        n_elements += res.compared
        bad = res.mismatches
        for cat, *_ in bad:
            categories[cat] = categories.get(cat, 0) + 1
        status = "FAIL" if bad else "ok  "
        print(f"{status} {rel}: {res.compared} elements"
              + (f", {len(bad)} mismatches" if bad else "") + res.note)
        for cat, msg, their_line, our_line in bad[:MAX_SHOWN]:
            print(f"       [{cat}] {msg}")
            if their_line is not None:
                print(f"         theirs: {their_line[:300]!s}")
            if our_line is not None:
                print(f"         ours:   {our_line[:300]!s}")
        if len(bad) > MAX_SHOWN:
            print(f"       ... and {len(bad) - MAX_SHOWN} more")
        n_failed += bool(bad)
    print(f"dump-oracle: {n_files} DICOM files ({n_rejected} of them rejected by DCMTK, "
          f"checked as listed), {n_elements} elements compared, {n_not_dicom} non-DICOM "
          "files rejected")
    vrs.report()
    for cat in sorted(categories):
        if categories[cat]:
            print(f"  mismatches of kind '{cat}': {categories[cat]}")
    print(f"{n_files + n_not_dicom - n_failed} passed, {n_failed} failed")
    sys.exit(1 if n_failed or not n_files else 0)


if __name__ == "__main__":
    main()
