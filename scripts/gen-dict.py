#!/usr/bin/python3
"""Generate core/dicom/dict-table.c and core/dicom/tags.h from pydicom's dictionaries.

Run with Debian's interpreter, which has python3-pydicom 2.3.1 (DICOM 2022a):

    /usr/bin/python3 scripts/gen-dict.py

pydicom's tables are machine-readable transcriptions of PS3.6 (public
attributes, UIDs) and of GDCM's collection of private dictionaries; we only
read the facts out of them.  Both outputs are committed, so building dicomfs
needs neither Python nor pydicom.
"""

import os
import re
import sys

import pydicom
from pydicom._dicom_dict import DicomDictionary, RepeatersDictionary
from pydicom._private_dict import private_dictionaries
from pydicom._uid_dict import UID_dictionary

PYDICOM_VERSION = "2.3.1"
DICOM_EDITION = "2022a"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The DfsVr names of core/dicom/vr.h; "NONE" is the items and delimiters of group FFFE.
VRS = {
    "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "OB", "OD", "OF", "OL",
    "OV", "OW", "PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US",
    "UT", "UV",
}


def vr_pair(text):
    """'US or SS' -> ('DFS_VR_US', 'DFS_VR_SS'); GDCM spells one 'OB_OW'."""
    if text in ("", "NONE"):
        return "DFS_VR_NONE", "DFS_VR_NONE"
    parts = re.split(r" or |_", text)
    for p in parts:
        assert p in VRS, f"unknown VR {text!r}"
    # Three choices occur once, for the retired Gray Lookup Table Data
    # (0028,1200) 'US or SS or OW'; DfsDictEntry keeps the first two.
    alt = parts[1] if len(parts) > 1 else "NONE"
    return f"DFS_VR_{parts[0]}", f"DFS_VR_{alt}"


def parse_mask(key):
    """'60xx3000' -> (0x60003000, 0xff00ffff): the 'x' digits become 0 in the
    tag and clear their nibble in the mask.  Either case of hex digits."""
    assert re.fullmatch(r"[0-9A-Fa-fx]{8}", key), key
    tag = int(key.replace("x", "0"), 16)
    mask = int("".join("0" if c == "x" else "f" for c in key), 16)
    return tag, mask


# --- CamelCase keywords to UPPER_SNAKE macro names ---------------------------

# Runs of capitals that join two acronyms (or carry lowercase units) cannot be
# split by rule; these fragments are split by hand, wherever they occur.
FRAGMENTS = {
    "CTDIvol": "CTDI_VOL",
    "dBdt": "DB_DT",
    "CIExy": "CIE_XY",
    "InmAs": "IN_MAS",
    "InuAs": "IN_UAS",
    "InmA": "IN_MA",
    "InuA": "IN_UA",
    "MRFOV": "MR_FOV",
    "CTXRay": "CT_X_RAY",
    "OCTZ": "OCT_Z",
    "XAXRF": "XA_XRF",
    "STOWRS": "STOW_RS",
    "WADORS": "WADO_RS",
    "JPEGLS": "JPEG_LS",
    "HEVCMP51": "HEVC_MP51",
    "HEVCM10P51": "HEVC_M10_P51",
    "SMPTEST2110": "SMPTE_ST2110",
    "HP41BD": "HP41_BD",
    "HP422D": "HP42_2D",
    "HP423D": "HP42_3D",
    "HP42STEREO": "HP42_STEREO",
}
FRAGMENT_RE = re.compile(
    "(" + "|".join(sorted(map(re.escape, FRAGMENTS), key=len, reverse=True)) + ")"
)

# In order of preference: a plural acronym (IDs, UIDs); an acronym with its
# digits (HL7, LUT1, T2, X0); an acronym before a capitalised word (SOP in
# SOPInstance); a capitalised word; a dimension (2D, 3D); a number with a
# lowercase unit (35mm); a lowercase run.
TOKEN_RE = re.compile(
    r"[A-Z]{2,}s(?![a-z])|[A-Z]+[0-9]+|[A-Z]+(?![a-z])|[A-Z][a-z]+"
    r"|[0-9]+D(?![a-z])|[0-9]+[a-z]*|[a-z]+"
)


def upper_snake(keyword):
    out = []
    for piece in FRAGMENT_RE.split(keyword):
        if piece in FRAGMENTS:
            out.append(FRAGMENTS[piece])
            continue
        tokens = TOKEN_RE.findall(piece)
        assert "".join(tokens) == piece, f"cannot split {keyword!r}"
        out.extend(t.upper() for t in tokens)
    name = "_".join(t for t in out if t)
    assert re.fullmatch(r"[A-Z0-9_]+", name) and "__" not in name, (keyword, name)
    return name


# --- C output ----------------------------------------------------------------


def c_string(text):
    """A C string literal: octal escapes (they stop after three digits, unlike
    \\x), and '?' escaped so that no '??' can become a trigraph."""
    out = ['"']
    for b in text.encode("utf-8"):
        c = chr(b)
        if c in '"\\?':
            out.append("\\" + c)
        elif 0x20 <= b < 0x7F:
            out.append(c)
        else:
            out.append(f"\\{b:03o}")
    out.append('"')
    return "".join(out)


def c_comment(text):
    """Text safe inside a C comment."""
    return c_string(text)[1:-1].replace("*/", "* /")


def c_bytes(text):
    """The sort key that matches strcmp(): unsigned bytes of the UTF-8."""
    return text.encode("utf-8")


def entry_line(tag, mask, vr, vm, keyword, name, retired):
    v1, v2 = vr_pair(vr)
    return (
        f"    {{0x{tag:08x}u, 0x{mask:08x}u, {v1}, {v2}, {1 if retired else 0}, "
        f"{c_string(vm)}, {c_string(keyword)}, {c_string(name)}}},"
    )


def build_public():
    plain = []
    for tag, (vr, vm, name, retired, keyword) in DicomDictionary.items():
        plain.append((tag, 0xFFFFFFFF, vr, vm, keyword, name, retired == "Retired"))
    plain.sort()
    repeating = []
    for key, (vr, vm, name, retired, keyword) in RepeatersDictionary.items():
        tag, mask = parse_mask(key)
        repeating.append((tag, mask, vr, vm, keyword, name, retired == "Retired"))
    repeating.sort()
    # A tag must never match two repeating entries: the scan takes the first.
    # A plain entry may coincide with a repeating one ((0028,0400) Transform
    # Label is also (0028,04x0) at x = 0); lookups try plain first, as pydicom.
    for i, a in enumerate(repeating):
        for b in repeating[i + 1:]:
            assert (a[0] ^ b[0]) & a[1] & b[1] != 0, f"{a[4]} overlaps {b[4]}"
    keywords = [e[4] for e in plain + repeating if e[4]]
    assert len(keywords) == len(set(keywords)), "duplicate keywords"
    return plain, repeating


def build_private():
    """[(creator, [(tag, mask, vr, vm, name, retired)])] sorted by strcmp of
    the creator, each list by (tag, mask): for the usual 'ggggxxee' keys that
    is (group, low byte of element)."""
    creators = []
    for creator, entries in private_dictionaries.items():
        rows = []
        for key, (vr, vm, name, retired) in entries.items():
            tag, mask = parse_mask(key)
            rows.append((tag, mask, vr, vm, name, retired == "Retired"))
        rows.sort()
        keys = [(r[0], r[1]) for r in rows]
        assert len(keys) == len(set(keys)), f"duplicate keys under {creator!r}"
        creators.append((creator, rows))
    creators.sort(key=lambda c: c_bytes(c[0]))
    names = [c_bytes(c[0]) for c in creators]
    assert len(names) == len(set(names))
    return creators


# The masks a private lookup tries, in order: pydicom's get_private_entry()
# tries the exact key, then 'ggggxxee', then 'ggxxxxee'.  GDCM also has eleven
# 'ggggeexx' rows (mostly GEMS "Private Element Creator", which describe the
# creator slots); they stay in the table but are never answered, since they
# would give every element of a block one VR.
LOOKUP_MASKS = [0xFFFFFFFF, 0xFFFF00FF, 0xFF0000FF]
UNUSED_MASKS = {0xFFFFFF00}


def private_masks(creators):
    masks = {r[1] for _, rows in creators for r in rows}
    assert masks <= set(LOOKUP_MASKS) | UNUSED_MASKS, [hex(m) for m in masks]
    return LOOKUP_MASKS


def write_table(path, plain, repeating, creators, masks, uids):
    n_private = sum(len(rows) for _, rows in creators)
    L = []
    L.append(
        f"""/* GENERATED by scripts/gen-dict.py from pydicom {pydicom.__version__}'s dictionaries
 * (DICOM {DICOM_EDITION}: PS3.6 data elements and UIDs; private dictionaries as
 * collected by GDCM).  Do not edit: change the script and run it again.
 *
 *   plain entries      {len(plain)}
 *   repeating entries  {len(repeating)}
 *   keywords           {sum(1 for e in plain + repeating if e[4])}
 *   private creators   {len(creators)}
 *   private entries    {n_private}
 *   UIDs               {len(uids)}
 */
#include "dicom/dict-table.h"
"""
    )
    L.append("/* PS3.6 section 6, sorted by tag. */")
    L.append("const DfsDictEntry dfs_dict_plain[] = {")
    L.extend(entry_line(*e) for e in plain)
    L.append("};")
    L.append("const guint dfs_dict_plain_count = G_N_ELEMENTS(dfs_dict_plain);\n")

    L.append("/* The tags of dfs_dict_plain again, densely, for the binary search. */")
    L.append("const guint32 dfs_dict_plain_tags[] = {")
    for i in range(0, len(plain), 8):
        L.append("    " + " ".join(f"0x{e[0]:08x}u," for e in plain[i:i + 8]))
    L.append("};")
    L.append(
        "G_STATIC_ASSERT(G_N_ELEMENTS(dfs_dict_plain_tags) == G_N_ELEMENTS(dfs_dict_plain));\n"
    )

    L.append("/* Repeating groups and elements (50xx, 60xx, 7Fxx, 0020,31xx ...). */")
    L.append("const DfsDictEntry dfs_dict_repeating[] = {")
    L.extend(entry_line(*e) for e in repeating)
    L.append("};")
    L.append("const guint dfs_dict_repeating_count = G_N_ELEMENTS(dfs_dict_repeating);\n")

    by_kw = sorted(
        [(e[4], "plain", i) for i, e in enumerate(plain) if e[4]]
        + [(e[4], "repeating", i) for i, e in enumerate(repeating) if e[4]],
        key=lambda k: c_bytes(k[0]),
    )
    L.append("/* Every entry with a keyword, sorted by strcmp() of the keyword. */")
    L.append("const DfsDictEntry *const dfs_dict_by_keyword[] = {")
    for kw, table, i in by_kw:
        L.append(f"    &dfs_dict_{table}[{i}], /* {kw} */")
    L.append("};")
    L.append("const guint dfs_dict_by_keyword_count = G_N_ELEMENTS(dfs_dict_by_keyword);\n")

    L.append("/* Private dictionaries: every creator's entries together, sorted by (tag, mask). */")
    L.append("const DfsDictEntry dfs_dict_private[] = {")
    first, n = [], 0
    for creator, rows in creators:
        first.append(n)
        n += len(rows)
        L.append(f"    /* {c_comment(creator)} */")
        for tag, mask, vr, vm, name, retired in rows:
            L.append(entry_line(tag, mask, vr, vm, "", name, retired))
    L.append("};")
    L.append("const guint dfs_dict_private_count = G_N_ELEMENTS(dfs_dict_private);\n")

    L.append("/* The creators, sorted by strcmp(); each owns private[first, first + count). */")
    L.append("const DfsPrivateCreator dfs_dict_private_creators[] = {")
    for (creator, rows), f in zip(creators, first):
        L.append(f"    {{{c_string(creator)}, {f}, {len(rows)}}},")
    L.append("};")
    L.append(
        "const guint dfs_dict_private_creator_count = G_N_ELEMENTS(dfs_dict_private_creators);\n"
    )

    L.append("/* The masks a private lookup tries, in order (as pydicom's get_private_entry). */")
    L.append("const guint32 dfs_dict_private_masks[] = {")
    L.append("    " + " ".join(f"0x{m:08x}u," for m in masks))
    L.append("};")
    L.append("const guint dfs_dict_private_mask_count = G_N_ELEMENTS(dfs_dict_private_masks);\n")

    L.append("/* PS3.6 annex A, sorted by strcmp() of the UID. */")
    L.append("const DfsUidEntry dfs_uid_table[] = {")
    for uid, (name, kind, _info, retired, keyword) in uids:
        L.append(
            f"    {{{c_string(uid)}, {c_string(name)}, {c_string(keyword)}, {c_string(kind)}, "
            f"{'TRUE' if retired == 'Retired' else 'FALSE'}}},"
        )
    L.append("};")
    L.append("const guint dfs_uid_count = G_N_ELEMENTS(dfs_uid_table);")
    with open(path, "w", encoding="ascii") as f:
        f.write("\n".join(L) + "\n")


# Names every reader needs that PS3.6 spells differently (Item is in the
# dictionary; the delimiters' keywords end in "Item").  PS3.5 7.5.
ITEM_TAGS = [
    ("ITEM", 0xFFFEE000),
    ("ITEM_DELIMITATION", 0xFFFEE00D),
    ("SEQUENCE_DELIMITATION", 0xFFFEE0DD),
]


def write_tags(path, plain, uids):
    tags = {}
    for tag, _mask, _vr, _vm, keyword, _name, _retired in plain:
        if keyword:
            name = "DFS_TAG_" + upper_snake(keyword)
            assert name not in tags, f"{name} twice"
            tags[name] = tag
    for suffix, tag in ITEM_TAGS:
        name = "DFS_TAG_" + suffix
        # Already there from the dictionary (Item): keep one definition.
        assert tags.get(name, tag) == tag, name
        tags[name] = tag
    uid_macros = {}
    for uid, (name, kind, _info, _retired, keyword) in uids:
        if kind == "Transfer Syntax":
            macro = "DFS_UID_" + upper_snake(keyword)
            assert macro not in uid_macros, f"{macro} twice"
            uid_macros[macro] = uid
    L = [
        f"""/* GENERATED by scripts/gen-dict.py from pydicom {pydicom.__version__}'s dictionaries
 * (DICOM {DICOM_EDITION}).  Do not edit: change the script and run it again.
 *
 * DFS_TAG_<KEYWORD>: every public, non-repeating data element of PS3.6 that
 * has a keyword, as 0xGGGGEEEE; DFS_UID_<KEYWORD>: every transfer syntax. */
#pragma once
"""
    ]
    for name, tag in sorted(tags.items(), key=lambda t: (t[1], t[0])):
        L.append(f"#define {name} 0x{tag:08X}u")
    L.append("")
    for macro, uid in sorted(uid_macros.items(), key=lambda t: [int(x) for x in t[1].split(".")]):
        L.append(f"#define {macro} {c_string(uid)}")
    with open(path, "w", encoding="ascii") as f:
        f.write("\n".join(L) + "\n")
    return len(tags), len(uid_macros)


def main():
    if pydicom.__version__ != PYDICOM_VERSION:
        sys.exit(
            f"gen-dict.py: pydicom {pydicom.__version__} found, the committed tables are "
            f"from {PYDICOM_VERSION}; update PYDICOM_VERSION and DICOM_EDITION on purpose"
        )
    plain, repeating = build_public()
    creators = build_private()
    masks = private_masks(creators)
    uids = sorted(UID_dictionary.items(), key=lambda u: c_bytes(u[0]))
    write_table(os.path.join(ROOT, "core", "dicom", "dict-table.c"), plain, repeating, creators, masks, uids)
    n_tags, n_uids = write_tags(os.path.join(ROOT, "core", "dicom", "tags.h"), plain, uids)
    n_private = sum(len(rows) for _, rows in creators)
    print(
        f"core/dicom/dict-table.c: {len(plain)} plain, {len(repeating)} repeating, "
        f"{len(creators)} private creators with {n_private} entries, {len(uids)} UIDs"
    )
    print(f"core/dicom/tags.h: {n_tags} DFS_TAG_ and {n_uids} DFS_UID_ macros")


if __name__ == "__main__":
    main()
