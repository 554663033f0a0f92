#!/usr/bin/python3
"""Oracle test: `dicomfs-tool json FILE` against DCMTK's dcm2json.

    /usr/bin/python3 tests/oracle/json_oracle.py path/to/dicomfs-tool [FILE-FILTER]

Both are the DICOM JSON Model (PS3.18 Annex F) of the data set; they are
parsed and compared semantically, attribute by attribute and item by item:

  dcm2json FILE
    its defaults: the data set only (group 0002 is written with +m only, so
    ours runs without --meta, unless dcm2json's output has group 0002 after
    all), text converted to UTF-8, binary values as InlineBinary.

  - the same keys (group lengths gggg0000, which we leave out and PS3.18
    F.2 does not carry, are dropped from dcm2json's side and counted);
  - the same "vr", up to the differences oracle_common.vr_verdict accepts;
  - the same Value lists: numbers numerically (FL within 1e-6 or the same
    float32, FD within 1e-14: dcm2json prints 15 digits), IS/DS as numbers
    whatever side wrote a string, PN objects group by group, null as "",
    padding the standard calls insignificant ignored; AT case-insensitively;
  - InlineBinary compared as decoded bytes.  Bulk data aside: for Pixel
    Data, and wherever a side gives a BulkDataURI, values are compared only
    when both give InlineBinary.  dcm2json refuses to write encapsulated
    Pixel Data at all ("JSON InlineBinary encoding not supported for
    compressed pixel data"); for those files it runs on a copy whose top
    level Pixel Data DCMTK's dcmodify has erased, and our Pixel Data is
    checked for its VR only;
  - dcm2json relabels Specific Character Set "ISO_IR 192" once it has
    converted the text: (0008,0005) is compared with the value as stored
    (pydicom's reading).

Files DCMTK rejects are those of oracle_common.DCMTK_REJECTS (dcm2json fails
on them as dcmdump does, or, for chrSQEncoding.dcm, writes the item's ISO
2022 bytes unconverted, which is not UTF-8): ours must reject them, or read
them and agree with pydicom's JSON (Dataset.to_json_dict) instead, or, for
the damaged ones (OURS_DAMAGED, issue 17), read them up to the damage: the
dump's 'damaged at byte N' warning on stderr, every element dcmdump +E
shows wholly before N in our JSON and none it does not show, the values
those of pydicom's reading.

Exit status 0 when everything agrees, 1 on any mismatch, 77 (skip) when
pydicom, DCMTK or the test data are missing.
"""

import base64
import json
import math
import os
import shutil
import struct
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_common as oc  # noqa: E402
import dump_oracle  # noqa: E402

MAX_SHOWN = 5
COMPRESSED_REFUSAL = "JSON InlineBinary encoding not supported for compressed pixel data"
PN_GROUPS = ("Alphabetic", "Ideographic", "Phonetic")
OUR_ATTR_KEYS = {"vr", "Value", "InlineBinary", "BulkDataURI"}


def tag_str(tag):
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def path_str(path):
    return "".join(f"{tag_str(t)}[{n}]." for t, n in path)


class Ctx:
    """What one file's comparison needs and collects."""

    def __init__(self, rel, oracle, implicit, vrs):
        self.rel = rel
        self.path = oc.data_path(rel)
        self.oracle = oracle  # "dcm2json" or "pydicom"
        self.implicit = implicit
        self.vrs = vrs
        self.compared = 0
        self.mismatches = []  # (category, message, theirs, ours)
        self.note = ""
        self.pixel_data_erased = False
        self._py = None

    def pydicom_dataset(self):
        if self._py is None:
            from pydicom import config
            config.replace_un_with_known_vr = False
            self._py = oc.pydicom.dcmread(self.path, force=True)
        return self._py

    def stored_charset(self, path):
        """(0008,0005) as stored in the data set or item at path: a list of
        strings, or None when it has none."""
        ds = self.pydicom_dataset()
        for tag, n in path:
            ds = ds[tag].value[n - 1]
        if 0x00080005 not in ds:
            return None
        v = ds[0x00080005].value
        vals = list(v) if isinstance(v, (list, oc.pydicom.multival.MultiValue)) else [v]
        return [x or "" for x in vals] if vals != [""] else []

    def bad(self, cat, msg, theirs=None, ours=None):
        self.mismatches.append((cat, msg, theirs, ours))


def short(obj, n=300):
    s = json.dumps(obj, ensure_ascii=False) if not isinstance(obj, str) else obj
    return s if len(s) <= n else s[:n] + "..."


# --- value comparison ----------------------------------------------------------

def unpad(vr, v):
    v = v.rstrip(" \0")
    if vr in oc.BOTH_ENDS_PADDED:
        v = v.lstrip(" ")
    return v


def as_float(x):
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        return float(x)
    if isinstance(x, str):
        try:
            return float(x.strip(" "))
        except ValueError:
            return None
    return None


def float32(x):
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]
    except (OverflowError, struct.error):
        return None


def same_number(vr, a, b):
    x, y = as_float(a), as_float(b)
    if x is None or y is None:
        return False
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if x == y:
        return True
    if vr in ("FL", "OF"):
        return float32(x) == float32(y) or math.isclose(x, y, rel_tol=1e-6)
    if vr in ("FD", "OD"):
        return math.isclose(x, y, rel_tol=1e-14)
    if vr == "DS":
        return math.isclose(x, y, rel_tol=1e-12)
    return False


def norm_pn(v):
    """A PN value as its non-empty component groups, each without padding
    and without trailing empty components ("Smith^John^^" is "Smith^John",
    "^^^^" is empty: PS3.5 6.2.1.1 lets trailing empty components and their
    delimiters be left out, and DCMTK does)."""
    if v is None or v == "":
        return {}
    if isinstance(v, str):  # a writer that gives PN as a plain string
        v = dict(zip(PN_GROUPS, v.split("=")))
    out = {}
    for k, g in v.items():
        g = (g or "").rstrip(" ").rstrip("^").rstrip(" ")
        if g:
            out[k] = g
    return out


def pn_raw(v):
    return {k: g for k, g in (v or {}).items() if g} if isinstance(v, dict) else v


PN_EMPTY = ("PN equal once trailing empty components are left out (PS3.5 6.2.1.1): "
            "DCMTK drops them, we keep the value as stored")


def compare_values(ctx, vr, tv, ov, where, t, o):
    if len(tv) != len(ov):
        ctx.bad("value", f"{where} {vr}: {len(ov)} values, {ctx.oracle} has {len(tv)}", t, o)
        return
    for k, (a, b) in enumerate(zip(tv, ov)):
        err = None
        if vr == "PN":
            if b is not None and not isinstance(b, dict):
                err = "format: a PN value must be an object (F.2.2)"
            elif isinstance(b, dict) and not set(b) <= set(PN_GROUPS):
                err = f"format: PN groups {sorted(b)}"
            elif norm_pn(a) != norm_pn(b):
                err = f"{b!r} vs {a!r}"
            elif pn_raw(a) != pn_raw(b):
                ctx.vrs.add(PN_EMPTY, f"{ctx.rel} {where}: {b!r} vs {a!r}")
        elif vr in ("IS", "DS"):
            fa, fb = as_float(a), as_float(b)
            if fa is not None and fb is not None:
                if not same_number(vr, a, b):
                    err = f"{b!r} vs {a!r}"
                elif isinstance(a, (int, float)) and isinstance(b, str):
                    err = f"format: {vr} value {b!r} written as a string, not a number (F.2.3.1)"
            elif unpad(vr, str(a if a is not None else "")) != unpad(vr, str(b if b is not None else "")):
                err = f"{b!r} vs {a!r}"
        elif vr in oc.TEXT_VRS:
            sa = "" if a is None else str(a)
            sb = "" if b is None else b
            if not isinstance(sb, str):
                err = f"format: {vr} value {b!r} is not a string"
            elif unpad(vr, sa) != unpad(vr, sb):
                err = f"{b!r} vs {a!r}"
        elif vr == "AT":
            if not isinstance(b, str) or str(a).upper() != b.upper():
                err = f"{b!r} vs {a!r}"
            elif b != b.upper() or len(b) != 8:
                err = f"format: AT value {b!r} is not 8 uppercase hex digits"
        elif vr in oc.INT_VRS:
            try:
                if int(a) != int(b) or isinstance(b, bool):
                    err = f"{b!r} vs {a!r}"
            except (TypeError, ValueError):
                err = f"{b!r} vs {a!r}"
        elif vr in oc.FLOAT_VRS:
            if not same_number(vr, a, b):
                err = f"{b!r} vs {a!r}"
        else:
            if a != b:
                err = f"{b!r} vs {a!r}"
        if err is not None:
            cat = "format" if err.startswith("format") else "value"
            ctx.bad(cat, f"{where} {vr} value {k + 1}: {err}", t, o)
            return


def attr_bytes(vr, attr):
    """The bytes behind an attribute's value (little endian), to compare one
    element read with two VRs; None when they cannot be rebuilt."""
    if "InlineBinary" in attr:
        return base64.b64decode(attr["InlineBinary"])
    vals = attr.get("Value", [])
    vr = oc.DCMTK_VR_ALIASES.get(vr, {vr.split(" or ")[0]})
    vr = sorted(vr)[0] if len(vr) == 1 else None
    if vr is None or vr == "SQ":
        return None
    if vr == "PN":
        return "\\".join("=".join(v.get(g, "") for g in PN_GROUPS).rstrip("=")
                         for v in (x or {} for x in vals)).encode("utf-8")
    if vr in oc.TEXT_VRS:
        return "\\".join("" if v is None else str(v) for v in vals).encode("utf-8")
    if vr == "AT":
        return oc.values_to_bytes("AT", [f"({v[:4]},{v[4:]})" for v in vals])
    return oc.values_to_bytes(vr, [str(v) for v in vals])


def compare_attr(ctx, tag, t, o, where, path):
    ctx.compared += 1
    tvr, ovr = t.get("vr"), o.get("vr")
    tvr = str(getattr(tvr, "value", tvr))  # pydicom's VR enum
    extra_keys = set(o) - OUR_ATTR_KEYS
    if extra_keys or "vr" not in o:
        ctx.bad("format", f"{where}: attribute keys {sorted(o)}", t, o)
    if "Value" in o and "InlineBinary" in o:
        ctx.bad("format", f"{where}: both Value and InlineBinary", t, o)
    implicit_here = ctx.implicit and (tag >> 16) != 0x0002
    verdict = oc.vr_verdict(tag, tvr, ovr, implicit_here)
    if (verdict is not None and not verdict[0] and tag == oc.PIXEL_DATA and not path
            and (tvr, ovr) == ("OB", "OW")
            and oc.encapsulated_pixel_data_vr(ctx.path) == "OW"):
        verdict = (True, oc.ENCAPSULATED_OW)
    if verdict is not None and not verdict[0]:
        ctx.bad("VR", f"{where}: vr {ovr}, {ctx.oracle} has {tvr}", t, o)
        return
    if verdict is not None:
        ctx.vrs.add(verdict[1], f"{ctx.rel} {where} {tvr} vs ours {ovr}")
    vr = ovr
    # Bulk data aside.
    if tag == oc.PIXEL_DATA or "BulkDataURI" in t or "BulkDataURI" in o:
        if "InlineBinary" in t and "InlineBinary" in o:
            compare_binary(ctx, vr, t, o, where)
        else:
            ctx.vrs.add("bulk data: value compared only where both give InlineBinary",
                        f"{ctx.rel} {where}")
        return
    if tvr == "SQ" or ovr == "SQ":
        titems, oitems = t.get("Value", []), o.get("Value", [])
        if len(titems) != len(oitems):
            ctx.bad("value", f"{where}: {len(oitems)} items, {ctx.oracle} has {len(titems)}",
                    short(t), short(o))
            return
        for n, (ti, oi) in enumerate(zip(titems, oitems), 1):
            if not isinstance(oi, dict):
                ctx.bad("format", f"{where} item {n}: not an object", None, short(oi))
                continue
            compare_dataset(ctx, ti or {}, oi, path + ((tag, n),))
        return
    if verdict is not None and sorted(oc.DCMTK_VR_ALIASES.get(tvr, {tvr}))[0] != ovr:
        tb, ob = attr_bytes(tvr, t), attr_bytes(ovr, o)
        if tb is None or ob is None:
            ctx.bad("value", f"{where}: values of {tvr} and {ovr} cannot be compared",
                    short(t), short(o))
        elif tb.strip(b" \0") != ob.strip(b" \0"):
            ctx.bad("value", f"{where}: {tvr} and {ovr} values differ", short(t), short(o))
        return
    if "InlineBinary" in t or "InlineBinary" in o:
        if "InlineBinary" not in o or "InlineBinary" not in t:
            ctx.bad("value", f"{where} {vr}: InlineBinary on one side only", short(t), short(o))
            return
        compare_binary(ctx, vr, t, o, where)
        return
    if ("Value" in o) != ("Value" in t) and (t.get("Value") or o.get("Value")):
        given = t.get("Value") or o.get("Value")
        if vr == "PN" and isinstance(given, list) and all(norm_pn(v) == {} for v in given):
            ctx.vrs.add(PN_EMPTY, f"{ctx.rel} {where}: {short(o)} vs {short(t)}")
            return
        ctx.bad("value", f"{where} {vr}: Value on one side only", short(t), short(o))
        return
    tv, ov = t.get("Value", []), o.get("Value", [])
    if not isinstance(ov, list):
        ctx.bad("format", f"{where}: Value is not an array", short(t), short(o))
        return
    compare_values(ctx, vr, tv, ov, where, short(t), short(o))


def compare_binary(ctx, vr, t, o, where):
    try:
        tb = base64.b64decode(t["InlineBinary"], validate=True)
        ob = base64.b64decode(o["InlineBinary"], validate=True)
    except (ValueError, TypeError) as e:
        ctx.bad("format", f"{where}: InlineBinary is not base64: {e}", short(t), short(o))
        return
    if tb == ob:
        return
    if len(ob) % 2 == 1 and tb == ob + b"\0":
        ctx.vrs.add("odd-length value: DCMTK pads it with a 00 byte, we give the bytes "
                    "the length field covers", f"{ctx.rel} {where}")
        return
    first = next((k for k in range(min(len(tb), len(ob))) if tb[k] != ob[k]), min(len(tb), len(ob)))
    ctx.bad("value", f"{where} {vr}: InlineBinary differs ({len(ob)} bytes vs {len(tb)}, "
            f"first difference at byte {first})", short(t, 120), short(o, 120))


def compare_dataset(ctx, theirs, ours, path):
    for key in ours:
        if len(key) != 8 or key.upper() != key or any(c not in "0123456789ABCDEF" for c in key):
            ctx.bad("format", f"{path_str(path)}key {key!r} is not 8 uppercase hex digits",
                    None, key)
    tkeys = {}
    for key in theirs:
        tag = int(key, 16)
        if tag & 0xFFFF == 0:
            ctx.vrs.add(f"group length left out by us, written by {ctx.oracle}",
                        f"{ctx.rel} {path_str(path)}{tag_str(tag)}")
            continue
        tkeys[tag] = key
    okeys = {}
    for key in ours:
        try:
            okeys[int(key, 16)] = key
        except ValueError:
            pass
    for tag in sorted(set(tkeys) | set(okeys)):
        where = path_str(path) + tag_str(tag)
        t = theirs.get(tkeys[tag]) if tag in tkeys else None
        o = ours.get(okeys[tag]) if tag in okeys else None
        if tag == 0x00080005 and ctx.oracle == "dcm2json":
            stored = ctx.stored_charset(path)
            if stored is None and o is None:
                ctx.vrs.add("dcm2json inserts (0008,0005)", f"{ctx.rel} {where}")
                continue
            if t is not None and stored is not None:
                t = dict(t, Value=stored) if stored else {"vr": t.get("vr")}
        if o is None:
            ctx.bad("missing", f"{where} is not in our JSON", short(t), None)
            continue
        if t is None:
            if tag & 0xFFFF == 0:
                ctx.bad("extra", f"{where}: we write a group length", None, short(o))
            else:
                ctx.bad("extra", f"{where} is in our JSON only", None, short(o))
            continue
        if not isinstance(o, dict):
            ctx.bad("format", f"{where}: attribute is not an object", short(t), short(o))
            continue
        compare_attr(ctx, tag, t, o, where, path)


# --- the oracles -----------------------------------------------------------------

def dcm2json(path, tmp):
    """(object or None, note or error)."""
    rc, out, err = oc.run(["dcm2json", path])
    note = ""
    if rc != 0 and COMPRESSED_REFUSAL in err:
        copy = os.path.join(tmp, "copy.dcm")
        shutil.copyfile(path, copy)
        rc2, _, err2 = oc.run(["dcmodify", "-nb", "-e", "(7fe0,0010)", copy])
        if rc2 != 0:
            return None, f"dcmodify cannot erase Pixel Data: {err2.strip()[:300]}"
        rc, out, err = oc.run(["dcm2json", copy])
        note = "erased"
    if rc != 0:
        return None, err.strip()
    try:
        return json.loads(out.decode("utf-8")), note
    except UnicodeDecodeError as e:
        return None, f"dcm2json exits 0 but its output is not UTF-8 ({e})"
    except ValueError as e:
        return None, f"dcm2json exits 0 but its output is not JSON ({e})"


def pydicom_json(path):
    from pydicom import config
    config.replace_un_with_known_vr = False
    ds = oc.pydicom.dcmread(path, force=True)
    return ds.to_json_dict()


def our_json(ctx, tool, meta, extra=()):
    argv = [tool] + list(extra) + ["json"] + (["--meta"] if meta else []) + [ctx.path]
    rc, out, err = oc.run(argv)
    if rc != 0:
        ctx.bad("rejected", f"dicomfs-tool exit {rc}: {err.strip()[:300]}")
        return None
    try:
        return json.loads(out.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        ctx.bad("format", f"our output is not JSON in UTF-8: {e}")
        return None


# --- damaged files (issue 17) --------------------------------------------------------

def json_keys(obj, path=()):
    """The keys of a JSON data set as dump_oracle.assign_paths makes them
    (group lengths and group 0002 aside), and the attributes by key."""
    out = {}
    for key, attr in obj.items():
        tag = int(key, 16)
        if tag & 0xFFFF == 0 or tag >> 16 == 0x0002:
            continue
        out[(path, tag, 1)] = attr
        if isinstance(attr, dict) and attr.get("vr") == "SQ":
            for n, item in enumerate(attr.get("Value") or [], 1):
                out[(path, tag, oc.ITEM, n)] = item
                if isinstance(item, dict):
                    out.update(json_keys(item, path + ((tag, n),)))
    return out


def prune(theirs, ours):
    """theirs cut down to the attributes and items ours has (what pydicom
    reads past the damage is not ours to show)."""
    out = {}
    for key, o in ours.items():
        t = theirs.get(key)
        if t is None:
            continue
        if isinstance(o, dict) and o.get("vr") == "SQ" and isinstance(t, dict):
            items = t.get("Value") or []
            mine = o.get("Value") or []
            t = dict(t, Value=[prune(ti or {}, oi) if isinstance(oi, dict) else ti
                               for ti, oi in zip(items, mine)])
        out[key] = t
    return out


def check_damaged(ctx, tool):
    """OURS_DAMAGED: exit 0, the same 'damaged at byte N' warning as the
    dump, N where the element that cannot be read begins (make-damaged.py's
    walker); every element dcmdump +E shows wholly before it is in our JSON,
    and we have nothing dcmdump +E has not; values agree with pydicom's
    reading (dcm2json refuses the file) for what we show."""
    path = ctx.path
    with open(path, "rb") as f:
        layout = oc.damage_walker().Layout(f.read())
    rc, out, err = oc.run([tool, "json", path])
    if rc != 0:
        ctx.bad("rejected", f"dicomfs-tool exit {rc}: {err.strip()[:300]}")
        return
    found, other = dump_oracle.damage_warning(path, err)
    if len(found) != 1:
        ctx.bad("damage", f"expected one 'dicomfs-tool: {path}: damaged at byte N: REASON' "
                f"warning on stderr, got {err.strip()[:300]!r}")
    elif found[0][0] != layout.failed_at:
        ctx.bad("damage", f"damaged at byte {found[0][0]}, but the element that cannot be read "
                f"begins at byte {layout.failed_at}")
    if other:
        ctx.bad("stderr", f"unexpected stderr: {other[0][:200]!r}")
    try:
        ours = json.loads(out.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        ctx.bad("format", f"our output is not JSON in UTF-8: {e}")
        return
    ctx.note += (f" -> damaged at byte {found[0][0] if found else '?'}; compared with dcmdump +E "
                 "up to the damage (elements) and pydicom (values)")
    # The elements: against dcmdump +E, up to the damage.
    _, derr, theirs, _, _ = dump_oracle.dcmtk_records(path, extra=["+E"], damaged=True)
    if theirs is None:
        ctx.bad("oracle", f"dcmdump +E prints nothing: {derr.strip()[:200]}")
        return
    stop = found[0][0] if found else layout.failed_at
    required, _ = dump_oracle.damage_scope(layout.elems, layout.failed_at, stop)
    mine = json_keys(ours)
    shown = {t.key: t for t in theirs if t.key[1] & 0xFFFF and t.key[1] >> 16 != 0x0002}
    for key, t in shown.items():
        if key in required and key not in mine:
            ctx.bad("missing", f"{dump_oracle.where_str(t)} is not in our JSON", t.line, None)
    for key in mine:
        if key not in shown:
            ctx.bad("extra", f"{dump_oracle.path_str(key[0])}{tag_str(key[1])}"
                    + (f" item {key[3]}" if len(key) == 4 else "") + " is in our JSON only "
                    "(not in dcmdump +E)", None, short(mine[key]))
    # The values: against pydicom, for what we show.
    ctx.oracle = "pydicom"
    compare_dataset(ctx, prune(pydicom_json(path), ours), ours, ())


def check_file(tool, rel, vrs, tmp):
    path = oc.data_path(rel)
    listed = oc.DCMTK_REJECTS.get(rel)
    implicit = oc.dataset_is_implicit(path)
    theirs, note = dcm2json(path, tmp)
    if theirs is None:
        ctx = Ctx(rel, "dcm2json", implicit, vrs)
        if listed is None:
            ctx.bad("unlisted", f"dcm2json rejects this file but it is not in DCMTK_REJECTS: "
                    f"{note[:400]}")
            return ctx
        dcmtk = " | ".join(x.strip() for x in note.splitlines() if x.strip())[:300]
        ctx.note = f" (DCMTK rejects it; ours: {listed.ours})"
        why = f"\n       DCMTK: {dcmtk}\n       why: {listed.why}"
        if listed.ours == oc.OURS_REJECT:
            problems, err = oc.check_rejected(tool, rel, ["json"])
            for p in problems:
                ctx.bad("rejection", p)
            ctx.note += f" -> {err}" + why
            return ctx
        if listed.ours == oc.OURS_DAMAGED:
            check_damaged(ctx, tool)
            ctx.note += why
            return ctx
        # Read it, and agree with pydicom.
        ctx.oracle = "pydicom"
        ctx.note += ", compared with pydicom" + why
        theirs = pydicom_json(path)
        ours = our_json(ctx, tool, meta=False)
        if ours is not None:
            compare_dataset(ctx, theirs, ours, ())
        return ctx
    ctx = Ctx(rel, "dcm2json", implicit, vrs)
    if listed is not None:
        ctx.note = " (listed as rejected by DCMTK, but dcm2json now reads it: compared)"
    if note == "erased":
        ctx.note += " (dcm2json on a copy without its encapsulated Pixel Data)"
    meta = any(k.startswith("0002") for k in theirs)
    ours = our_json(ctx, tool, meta)
    if ours is None:
        return ctx
    if note == "erased":
        # dcmodify rewrites the file, and leaves Data Set Trailing Padding out.
        if f"{0xFFFCFFFC:08X}" in ours and f"{0xFFFCFFFC:08X}" not in theirs:
            ours.pop(f"{0xFFFCFFFC:08X}")
            vrs.add("(FFFC,FFFC) padding: dcmodify drops it from the copy dcm2json reads",
                    f"{rel}")
        pd = ours.pop(f"{oc.PIXEL_DATA:08X}", None)
        if pd is None:
            ctx.bad("missing", "(7FE0,0010) is not in our JSON")
        else:
            ctx.compared += 1
            if pd.get("vr") not in ("OB", "OW") or set(pd) - OUR_ATTR_KEYS:
                ctx.bad("format", "(7FE0,0010) encapsulated Pixel Data", None, short(pd))
            elif pd.get("vr") != "OB":
                if oc.encapsulated_pixel_data_vr(path) == "OW":
                    vrs.add(oc.ENCAPSULATED_OW, f"{rel} (7FE0,0010)")
                else:
                    ctx.bad("VR", "(7FE0,0010): encapsulated Pixel Data is OB (PS3.5 A.4)",
                            None, short(pd))
    compare_dataset(ctx, theirs, ours, ())
    return ctx


def main():
    tool, only = oc.arguments("json-oracle", __doc__)
    vrs = oc.VrCounter()
    files = [f for f in oc.all_files() if only is None or only in f]
    n_files = n_failed = n_attrs = n_not_dicom = n_rejected = 0
    categories = {}
    with tempfile.TemporaryDirectory(prefix="json-oracle-") as tmp:
        for rel in files:
            if oc.classify(rel) == "not-dicom":
                n_not_dicom += 1
                problems = oc.check_not_dicom(tool, rel)
                print(("FAIL " if problems else "ok   ") + f"{rel}: not DICOM (no DICM, dcmdump "
                      "rejects it): must be rejected by us too")
                for p in problems:
                    print("       " + p)
                n_failed += bool(problems)
                if problems:
                    categories["not-dicom read"] = categories.get("not-dicom read", 0) + 1
                continue
            n_files += 1
            ctx = check_file(tool, rel, vrs, tmp)
            n_rejected += rel in oc.DCMTK_REJECTS
            n_attrs += ctx.compared
            bad = ctx.mismatches
            for cat, *_ in bad:
                categories[cat] = categories.get(cat, 0) + 1
            print(f"{'FAIL' if bad else 'ok  '} {rel}: {ctx.compared} attributes"
                  + (f", {len(bad)} mismatches" if bad else "") + ctx.note)
            for cat, msg, theirs, ours in bad[:MAX_SHOWN]:
                print(f"       [{cat}] {msg}")
                if theirs is not None:
                    print(f"         theirs: {short(theirs)}")
                if ours is not None:
                    print(f"         ours:   {short(ours)}")
            if len(bad) > MAX_SHOWN:
                print(f"       ... and {len(bad) - MAX_SHOWN} more")
            n_failed += bool(bad)
    print(f"json-oracle: {n_files} DICOM files ({n_rejected} of them rejected by DCMTK, "
          f"checked as listed), {n_attrs} attributes compared, {n_not_dicom} non-DICOM "
          "files rejected")
    vrs.report()
    for cat in sorted(categories):
        print(f"  mismatches of kind '{cat}': {categories[cat]}")
    print(f"{n_files + n_not_dicom - n_failed} passed, {n_failed} failed")
    sys.exit(1 if n_failed or not n_files else 0)


if __name__ == "__main__":
    main()
