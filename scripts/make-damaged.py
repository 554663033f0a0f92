#!/usr/bin/python3
"""Write damaged variants of every DICOM file of the oracle corpus (Debian's
pydicom test data, tests/oracle/oracle_common.py), for the damage oracle
(tests/oracle/damage_oracle.py, issue 17).

    /usr/bin/python3 scripts/make-damaged.py OUT_DIR [FILE-FILTER]

For each file (files that are not DICOM, and those DCMTK already rejects,
oracle_common.DCMTK_REJECTS, are skipped):

  zeros        1,000 zero bytes appended;
  random       1,000 random bytes appended (seeded by the file's name:
               running this again gives the same bytes);
  longer-2     the 16-bit length of the first explicit VR element with one
               (AE AS AT CS DA DS DT FL FD IS LO LT PN SH SL SS ST TM UI UL
               US) made one too long;
  longer-4     the same for the first explicit VR element with a 32-bit
               defined length (OB OD OF OL OV OW SQ SV UC UN UR UT UV);
  longer-implicit  the same for the first implicit VR element;
               (each only when such an element starts in the first 512
               bytes of the data set, group 0002 aside);
  cut-header, cut-value
               the file cut in the middle of the header, or of the value
               (when it has 2 bytes or more), of an element or item that
               starts in the first 512 bytes of the data set; at most
               MAX_CUTS cut points per file: the first element's header
               (no element of the data set left), and the others spread
               over the other elements;
  broken-item  the tag of an item of the first sequence that has items
               (its second item, or its only one) overwritten with
               random bytes.

Deflated data sets get only the appended variants (the bytes inside the
deflate stream are not elements).

OUT_DIR/manifest.json lists every variant:
  file            the variant's name in OUT_DIR
  original        its original, relative to the pydicom data folder
  kind            one of the kinds above
  damage_offset   the offset of the first element (or item) that cannot be
                  read, where the reader must say the damage is: the
                  original size for appended bytes (or, where a sequence
                  or item of the original overshot its end, and so was
                  read to the end of the file, and now overshoots the
                  sequence or item around it, where it begins); the cut
                  element's (the
                  innermost element or item the cut falls in); the broken
                  item's.  null when unknowable: a lengthened element
                  shifts everything after it, and where a misread header
                  fails depends on the bytes there (damage_min then gives
                  a lower bound: the lengthened element's offset)
  damaged_key     the damaged (cut, broken or lengthened) element in the
                  original: {"path": [[SQ tag, item number], ...], "tag",
                  "occurrence"} (tags as 8 hex digits; "item": n for an
                  item, whose tag is then the sequence's), null for
                  appended bytes
  damaged_offset  where that element begins in the original (the
                  original's size for appended bytes)
  expect_damaged  whether a full read must flag the file damaged (null:
                  cannot tell, deflated data sets)
  header_only_damaged  the same for a header-only read (it stops before
                  top-level Pixel Data); null when it cannot be told
  nothing_readable  the damage leaves no data-set element that can be
                  read (the first one is cut: exit 1 is then required),
                  or, without "DICM", fewer than two; null when that
                  cannot be told (the first element lengthened)
  original_size, size, dataset_offset, pixel_data_offset (top level, of the
  original; null without), detail (what was done, in words)

The element walker below locates element boundaries only: Explicit VR
Little and Big Endian, Implicit VR Little Endian, defined and undefined
lengths, sequences and items, UN of undefined length read as implicit VR
(PS3.5 6.2.2), encapsulated Pixel Data (its fragments are not elements).
"""

import json
import os
import random
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "..", "tests", "oracle"))

MAX_CUTS = 5
WINDOW = 512          # "the first few hundred bytes of the data set"
APPENDED = 1000
UNDEFINED = 0xFFFFFFFF
ITEM = 0xFFFEE000
ITEM_END = 0xFFFEE00D
SEQ_END = 0xFFFEE0DD
PIXEL_DATA = 0x7FE00010

LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR",
            b"UT", b"UV"}
SHORT_VRS = {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO",
             b"LT", b"PN", b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US"}
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED = ("1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.4.95")


class WalkError(Exception):
    pass


class Elem:
    """One element or item as found in the file."""

    def __init__(self, offset, tag, vr, header_len, length, length_at, length_size, big,
                 implicit, path, parent):
        self.offset = offset
        self.tag = tag
        self.vr = vr                  # "SQ", "OB", ...; "item"; None (implicit, unknown)
        self.header_len = header_len
        self.length = length          # None: undefined
        self.length_at = length_at    # offset of the length field
        self.length_size = length_size
        self.big = big
        self.implicit = implicit
        self.path = path              # ((SQ tag, item number), ...) above it
        self.parent = parent          # the enclosing Elem (SQ for an item, item for an element)
        self.end = None               # offset after it (delimiters included)
        self.items = []               # a sequence's items
        self.seq = False              # read as a sequence (of items)
        self.encapsulated = False
        self.key = None
        self.occurrence = 1
        self.item_no = None

    @property
    def is_item(self):
        return self.tag == ITEM

    @property
    def value_offset(self):
        return self.offset + self.header_len

    def ancestors(self):
        e = self.parent
        while e is not None:
            yield e
            e = e.parent

    def vr_class(self):
        if self.is_item:
            return None
        if self.implicit:
            return "implicit"
        return "4" if self.length_size == 4 else "2"

    def key_json(self):
        path = [[f"{t:08X}", n] for t, n in self.path]
        if self.is_item:
            return {"path": path[:-1], "tag": f"{self.path[-1][0]:08X}", "item": self.item_no,
                    "occurrence": None}
        return {"path": path, "tag": f"{self.tag:08X}", "occurrence": self.occurrence,
                "item": None}

    def __repr__(self):
        return f"<{self.tag:08X} {self.vr} @{self.offset} len {self.length}>"


def dictionary_vr(tag, creator=None):
    """pydicom's dictionary VR, or None."""
    try:
        import pydicom.datadict as dd
    except ImportError:
        return None
    try:
        if (tag >> 16) & 1:
            if creator is None or (tag & 0xFFFF) < 0x1000:
                return None
            return dd.private_dictionary_VR(tag, creator)
        return dd.dictionary_VR(tag)
    except KeyError:
        return None


class Walker:
    def __init__(self, data):
        self.data = data
        self.elems = []       # document order
        self.header_at = None  # the header being read

    def u16(self, at, big):
        return struct.unpack_from(">H" if big else "<H", self.data, at)[0]

    def u32(self, at, big):
        return struct.unpack_from(">I" if big else "<I", self.data, at)[0]

    def tag_at(self, at, big):
        return (self.u16(at, big) << 16) | self.u16(at + 2, big)

    def need(self, at, n, end):
        if at + n > min(end, len(self.data)):
            raise WalkError(f"{n} bytes needed at {at}, the data ends at "
                            f"{min(end, len(self.data))}")

    def add(self, e, seen):
        if not e.is_item:
            k = (e.path, e.tag)
            e.occurrence = seen[k] = seen.get(k, 0) + 1
        self.elems.append(e)

    def dataset(self, at, end, implicit, big, path, parent, stop_group=None):
        """Elements from at to end (None: to an item delimiter, or the end of
        the data).  Returns the offset after them."""
        seen = {}
        creators = {}
        limit = len(self.data) if end is None else end
        while at < limit:
            if end is None and at + 8 <= len(self.data) and self.tag_at(at, big) == ITEM_END \
                    and parent is not None:
                return at + 8
            self.header_at = at
            self.need(at, 8, limit)
            tag = self.tag_at(at, big)
            if stop_group is not None and tag >> 16 != stop_group:
                return at
            if tag >> 16 == 0xFFFE:
                if parent is None and tag == SEQ_END:
                    at += 8   # a stray sequence delimiter at the top level
                    continue
                raise WalkError(f"({tag >> 16:04X},{tag & 0xFFFF:04X}) at {at} outside a sequence")
            if implicit:
                length = self.u32(at + 4, big)
                creator = None
                if (tag >> 16) & 1 and (tag & 0xFFFF) >= 0x1000:
                    creator = creators.get((tag >> 16, (tag >> 8) & 0xFF))
                dvr = dictionary_vr(tag, creator)
                vr = dvr.split(" or ")[0] if dvr else None
                e = Elem(at, tag, vr, 8, None if length == UNDEFINED else length, at + 4, 4,
                         big, True, path, parent)
            else:
                vrb = self.data[at + 4:at + 6]
                if vrb in LONG_VRS:
                    self.need(at, 12, limit)
                    length = self.u32(at + 8, big)
                    e = Elem(at, tag, vrb.decode(), 12, None if length == UNDEFINED else length,
                             at + 8, 4, big, False, path, parent)
                elif vrb in SHORT_VRS:
                    length = self.u16(at + 6, big)
                    e = Elem(at, tag, vrb.decode(), 8, length, at + 6, 2, big, False, path, parent)
                else:
                    raise WalkError(f"no valid VR at {at}: {vrb!r}")
            self.add(e, seen)
            start = e.value_offset
            if e.length is None:
                if e.vr == "SQ" or (e.vr in (None, "UN")):
                    at = self.sequence(e, start, None, implicit or e.vr == "UN", big)
                elif e.vr in ("OB", "OW") or tag == PIXEL_DATA:
                    e.encapsulated = True
                    at = self.fragments(e, start, big)
                else:
                    raise WalkError(f"undefined length on {e.vr} at {e.offset}")
            elif e.vr == "SQ":
                # A sequence or item whose length overshoots the end of the
                # file is read to the end (DCMTK and we do).
                at = min(start + e.length, len(self.data))
                self.sequence(e, start, at, implicit, big)
            else:
                self.need(start, e.length, limit)
                at = start + e.length
                if (tag >> 16) & 1 and 0x10 <= tag & 0xFFFF <= 0xFF and e.vr in (None, "LO", "UN"):
                    text = self.data[start:at].rstrip(b" \0").decode("latin-1")
                    creators[(tag >> 16, tag & 0xFF)] = text
            e.end = at
        return at

    def sequence(self, sq, at, end, implicit, big):
        sq.seq = True
        n = 0
        limit = len(self.data) if end is None else end
        while True:
            if end is not None and at >= end:
                if at > end:
                    raise WalkError(f"sequence at {sq.offset} overruns its length")
                sq.end = at
                return at
            self.header_at = at
            self.need(at, 8, limit)
            tag = self.tag_at(at, big)
            length = self.u32(at + 4, big)
            if tag == SEQ_END and end is None:
                sq.end = at + 8
                return at + 8
            if tag != ITEM:
                raise WalkError(f"({tag >> 16:04X},{tag & 0xFFFF:04X}) at {at} in a sequence")
            n += 1
            item = Elem(at, ITEM, "item", 8, None if length == UNDEFINED else length, at + 4, 4,
                        big, implicit, sq.path + ((sq.tag, n),), sq)
            item.item_no = n
            sq.items.append(item)
            self.add(item, {})
            if item.length is None:
                at = self.dataset(at + 8, None, implicit, big, item.path, item)
            else:
                item_end = min(at + 8 + item.length, len(self.data))
                self.dataset(at + 8, item_end, implicit, big, item.path, item)
                at = item_end
            item.end = at

    def fragments(self, e, at, big):
        while True:
            self.need(at, 8, len(self.data))
            tag = self.tag_at(at, big)
            length = self.u32(at + 4, big)
            if tag == SEQ_END:
                return at + 8
            if tag != ITEM or length == UNDEFINED:
                raise WalkError(f"bad fragment at {at}")
            self.need(at + 8, length, len(self.data))
            at += 8 + length


class Layout:
    """A file's elements: meta, encoding, data set."""

    def __init__(self, data):
        self.data = data
        self.magic = False
        self.dataset_offset = 0
        self.ts = None
        self.implicit = False
        self.big = False
        self.deflated = False
        self.error = None
        self.failed_at = None   # the element or item that could not be read
        w = self.walker = Walker(data)
        try:
            self._walk()
        except WalkError as ex:
            self.error = str(ex)
        except struct.error as ex:
            self.error = f"short read: {ex}"
        if self.error is not None:
            self.failed_at = w.header_at
        self.elems = w.elems
        for e in self.elems:
            e.key = e.key_json()

    def _walk(self):
        data, w = self.data, self.walker
        pos = 0
        if data[128:132] == b"DICM":
            pos, self.magic = 132, True
        elif data[:4] == b"DICM":
            pos, self.magic = 4, True
        if self.magic:
            implicit_meta = data[pos + 4:pos + 6] not in LONG_VRS | SHORT_VRS
            pos = w.dataset(pos, None, implicit_meta, False, (), None, stop_group=0x0002)
            for e in w.elems:
                if e.tag == 0x00020010:
                    self.ts = data[e.value_offset:e.value_offset + e.length] \
                        .rstrip(b" \0").decode("ascii", "replace")
        self.dataset_offset = pos
        b = data[pos:pos + 8]
        vr_ok = len(b) >= 6 and b[4:6] in LONG_VRS | SHORT_VRS
        if self.ts is not None:
            self.implicit = self.ts == IMPLICIT_LE
            self.big = self.ts == EXPLICIT_BE
            self.deflated = self.ts in DEFLATED
            if self.deflated:
                return
            # The bytes of the first element win when they clearly disagree
            # with the transfer syntax (as DCMTK, pydicom and we do).
            if len(b) == 8 and not self.implicit and not vr_ok \
                    and struct.unpack_from(">H" if self.big else "<H", b)[0] != 0xFFFE:
                self.implicit, self.big = True, False
            elif len(b) == 8 and self.implicit and vr_ok:
                tag = struct.unpack_from("<HH", b)
                dvr = dictionary_vr((tag[0] << 16) | tag[1])
                if dvr is not None and dvr == b[4:6].decode():
                    self.implicit = False
        elif len(b) == 8:
            g_le, g_be = struct.unpack_from("<H", b)[0], struct.unpack_from(">H", b)[0]
            if vr_ok and g_le > g_be and g_be in (0, 2, 4, 8):
                self.big = True
            else:
                self.implicit = not vr_ok
        w.dataset(pos, None, self.implicit, self.big, (), None)

    def dataset_elems(self):
        """Data-set elements and items (group 0002 aside)."""
        return [e for e in self.elems if e.offset >= self.dataset_offset and
                not (e.path == () and e.tag >> 16 == 0x0002)]

    def pixel_data(self):
        for e in self.elems:
            if e.tag == PIXEL_DATA and e.path == ():
                return e
        return None

    def innermost_at(self, offset):
        """The innermost element or item whose bytes contain offset."""
        best = None
        for e in self.elems:
            if e.offset <= offset < (e.end if e.end is not None else len(self.data)):
                if best is None or e.offset >= best.offset:
                    best = e
        return best

    def nothing_readable(self, damaged_offset):
        """Whether no data-set element (without DICM: fewer than two) comes
        before the damaged one: the reader must then fail."""
        before = [e for e in self.elems if e.offset < damaged_offset and
                  (not self.magic or e.offset >= self.dataset_offset)]
        return len(before) < (1 if self.magic else 2)


# --- variants ------------------------------------------------------------------

def overshooting(layout, new_size):
    """In the file with bytes appended (new_size bytes): the first sequence or
    item whose length overshot the end of the original (so it was read to
    the end of the file) and now overshoots an enclosing one, which makes it
    damage where it begins; None when there is none (one that overshot the
    end takes in the appended bytes, damaged where they begin)."""
    size = len(layout.data)
    for e in layout.elems:
        if not (e.seq or e.is_item) or e.length is None:
            continue
        declared = e.value_offset + e.length
        if declared <= size:
            continue
        limit = new_size
        for a in e.ancestors():
            if a.length is not None:
                limit = min(limit, a.value_offset + a.length)
        if min(declared, new_size) > limit:
            return e
    return None


def patched_length(data, e):
    """The file with e's length one more, or None when it cannot be."""
    fmt = (">" if e.big else "<") + ("H" if e.length_size == 2 else "I")
    limit = 0xFFFF if e.length_size == 2 else UNDEFINED - 1
    if e.length is None or e.length + 1 > limit:
        return None
    b = bytearray(data)
    struct.pack_into(fmt, b, e.length_at, e.length + 1)
    return bytes(b)


def spread(items, k):
    if len(items) <= k:
        return list(items)
    return [items[round(i * (len(items) - 1) / (k - 1))] for i in range(k)]


def variants(rel, data, layout):
    """(kind, bytes, fields) for one original."""
    out = []
    size = len(data)
    pixel = layout.pixel_data()
    pixel_at = pixel.offset if pixel is not None else None
    known = not layout.deflated

    def before_pixels(offset):
        return pixel_at is None or offset < pixel_at

    def nothing_readable(kind, damaged_offset):
        if damaged_offset is None or not known or not layout.nothing_readable(damaged_offset):
            return False
        # A lengthened first element is itself read, unless it now runs
        # past the end: either can be.
        return None if kind.startswith("longer") else True

    def entry(kind, damage_offset, damaged, damaged_offset, detail, header_only,
              damage_min=None, expect=True):
        return {"kind": kind, "damage_offset": damage_offset,
                "damage_min": damage_min if damage_min is not None else damage_offset,
                "damaged_key": damaged.key if damaged is not None else None,
                "damaged_offset": damaged_offset,
                "expect_damaged": expect,
                "header_only_damaged": header_only,
                "nothing_readable": nothing_readable(kind, damaged_offset),
                "detail": detail}

    seed = zlib.crc32(rel.encode())
    rng = random.Random(seed)
    # (a), (b): bytes after the data set.
    over = overshooting(layout, size + APPENDED) if known else None
    for kind, extra, what in (
            ("zeros", b"\0" * APPENDED, f"{APPENDED} zero bytes appended at byte {size}"),
            ("random", bytes(rng.getrandbits(8) for _ in range(APPENDED)),
             f"{APPENDED} random bytes appended at byte {size} (seed {seed})")):
        if not known:
            fields = entry(kind, None, None, None, what, None, expect=None)
        elif over is not None:
            # The original's own damage, hidden while the file ended there.
            fields = entry(kind, over.offset, over, over.offset,
                           what + f"; the {'item' if over.is_item else 'sequence'} at byte "
                           f"{over.offset} overshot the end of the original and now "
                           "overshoots its enclosing one",
                           before_pixels(over.offset))
        else:
            fields = entry(kind, size, None, size, what, pixel_at is None)
        out.append((extra, fields))
    results = [(f["kind"], data + extra, f) for extra, f in out]
    if not known:
        return results
    ds = layout.dataset_elems()
    window = layout.dataset_offset + WINDOW
    # (c) one length one too long, per VR class.
    for cls, kind in (("2", "longer-2"), ("4", "longer-4"), ("implicit", "longer-implicit")):
        for e in ds:
            if e.offset >= window:
                break
            if e.is_item or e.vr_class() != cls or e.length is None:
                continue
            patched = patched_length(data, e)
            if patched is None:
                continue
            what = (f"length of {e.vr or 'implicit'} element at byte {e.offset} "
                    f"{e.length} -> {e.length + 1}")
            if e.value_offset + e.length + 1 <= size:
                # The next header is misread one byte on: where that fails
                # depends on the bytes there.
                fields = entry(kind, None, e, e.offset, what, None, damage_min=e.offset)
            elif e.seq:
                # A sequence that now overshoots the end of the file is read
                # to the end (DCMTK and we do): maybe no damage at all.
                fields = entry(kind, None, e, e.offset, what + " (past the end of the file)",
                               None, damage_min=e.offset, expect=None)
            else:
                # The value now runs past the end of the file.
                fields = entry(kind, e.offset, e, e.offset, what + " (past the end of the file)",
                               e.tag == PIXEL_DATA or before_pixels(e.offset))
            results.append((kind, patched, fields))
            break
    # (d) cuts.
    cuts = []
    for e in ds:
        if e.offset >= window:
            break
        if any(a.encapsulated for a in e.ancestors()):
            continue
        cuts.append(("cut-header", e.offset + e.header_len // 2, e))
        if (not e.is_item and e.vr != "SQ" and not e.encapsulated and e.length is not None
                and e.length >= 2):
            cuts.append(("cut-value", e.value_offset + e.length // 2, e))
    # The first element's header cut (nothing of the data set can be read),
    # then the others spread over the rest.
    first = [c for c in cuts if c[2] is cuts[0][2]] if cuts else []
    chosen = first[:1] + spread([c for c in cuts if c[2] is not cuts[0][2]], MAX_CUTS - 1)
    for kind, at, e in chosen:
        if at >= size:
            continue
        # The innermost element or item the cut falls in is the one that
        # cannot be read (for a cut value, e itself; for a cut header, e).
        hdr = "header" if kind == "cut-header" else "value"
        if e.tag == PIXEL_DATA and e.path == ():
            header_only = kind == "cut-header" or not e.encapsulated
        else:
            header_only = before_pixels(e.offset)
        results.append((kind, data[:at], entry(
            kind, e.offset, e, e.offset,
            f"cut at byte {at}, inside the {hdr} of the "
            f"{'item' if e.is_item else 'element'} at byte {e.offset}",
            header_only)))
    # (e) a broken item in the first sequence that has items.
    for e in layout.elems:
        if e.is_item or not e.items or e.offset < layout.dataset_offset:
            continue
        item = e.items[1] if len(e.items) >= 2 else e.items[0]
        while True:
            garbage = bytes(rng.getrandbits(8) for _ in range(4))
            g = struct.unpack(">HH" if item.big else "<HH", garbage)
            if g[0] != 0xFFFE:
                break
        b = bytearray(data)
        b[item.offset:item.offset + 4] = garbage
        results.append(("broken-item", bytes(b), entry(
            "broken-item", item.offset, item, item.offset,
            f"tag of item {item.item_no} of ({e.tag >> 16:04X},{e.tag & 0xFFFF:04X}) at byte "
            f"{item.offset} overwritten with {garbage.hex()}",
            before_pixels(item.offset))))
        break
    return results


def corpus(only=None):
    import oracle_common as oc
    for rel in oc.all_files():
        if only is not None and only not in rel:
            continue
        if rel in oc.DCMTK_REJECTS:
            continue
        if oc.classify(rel) == "not-dicom":
            continue
        yield rel, oc.data_path(rel)


def safe_name(rel):
    return rel.replace("/", "_")


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    out_dir = sys.argv[1]
    only = sys.argv[2] if len(sys.argv) > 2 else None
    os.makedirs(out_dir, exist_ok=True)
    manifest = []
    for rel, path in corpus(only):
        with open(path, "rb") as f:
            data = f.read()
        layout = Layout(data)
        counts = {}
        for kind, content, fields in variants(rel, data, layout):
            counts[kind] = counts.get(kind, 0) + 1
            name = f"{safe_name(rel)}.{kind}.{counts[kind]}.dcm"
            with open(os.path.join(out_dir, name), "wb") as f:
                f.write(content)
            pixel = layout.pixel_data()
            row = {"file": name, "original": rel}
            row.update(fields)
            row.update({"original_size": len(data), "size": len(content),
                        "dataset_offset": layout.dataset_offset,
                        "pixel_data_offset": pixel.offset if pixel is not None else None,
                        "magic": layout.magic, "deflated": layout.deflated,
                        "walk_error": layout.error})
            manifest.append(row)
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"make-damaged: {len(manifest)} variants of "
          f"{len({m['original'] for m in manifest})} files in {out_dir}")


if __name__ == "__main__":
    main()
