#!/usr/bin/python3
"""Check the whole data dictionary against pydicom.

    /usr/bin/python3 tests/oracle/dict_oracle.py path/to/test-dict

1. `test-dict --dump-dict` prints every row of our tables; each must equal
   pydicom's entry (through pydicom.datadict and pydicom.uid where they have an
   accessor, else the raw dictionaries), and every pydicom entry must be there.
2. `test-dict --query` answers some 100 000 lookups (every tag and its
   neighbours, repeating groups in and out of range, random tags, keywords,
   private tags in every block form, UIDs); each answer must equal what this
   script derives from pydicom plus the rules of PS3.5 that pydicom's lookups
   leave to the caller (written out in expect_tag and expect_private).

Exit status: 0 when everything agrees, 1 otherwise, 77 (skip) when pydicom
2.3.1 is not available, since the tables were generated from that version.
"""

import random
import subprocess
import sys

try:
    import pydicom
    from pydicom import datadict
    from pydicom._dicom_dict import DicomDictionary, RepeatersDictionary
    from pydicom._private_dict import private_dictionaries
    from pydicom._uid_dict import UID_dictionary
    from pydicom.uid import UID
except ImportError:
    print("dict_oracle: pydicom is not installed; skipping")
    sys.exit(77)

PYDICOM_VERSION = "2.3.1"
NONE = "na"  # dfs_vr_name(DFS_VR_NONE)


def vr_pair(text):
    """pydicom's 'OB or OW' (GDCM's 'OB_OW') as our (vr, vr_alt)."""
    if text in ("", "NONE"):
        return NONE, NONE
    parts = text.replace("_", " or ").split(" or ")
    return parts[0], parts[1] if len(parts) > 1 else NONE


def row(tag, mask, vr, vm, keyword, name, retired):
    v1, v2 = vr_pair(vr)
    return f"{tag:08x}\t{mask:08x}\t{v1}\t{v2}\t{int(bool(retired))}\t{vm}\t{keyword}\t{name}"


def key_of(tag, mask):
    """(0x60003000, 0xff00ffff) -> '60xx3000', lower case."""
    digits = f"{tag:08x}"
    return "".join("x" if (mask >> (28 - 4 * i)) & 0xF == 0 else d for i, d in enumerate(digits))


def lower_keys(d):
    return {k.lower(): v for k, v in d.items()}


REPEATERS = lower_keys(RepeatersDictionary)
PRIVATE = {c: lower_keys(d) for c, d in private_dictionaries.items()}


def mask_of(key):
    return int("".join("0" if c == "x" else "f" for c in key), 16)


def tag_of(key):
    return int(key.replace("x", "0"), 16)


# --- 1. the table rows -------------------------------------------------------


def check_rows(dump):
    errors = []
    seen = {"plain": set(), "repeating": set(), "private": set(), "uid": set()}
    for line in dump:
        kind, rest = line.split("\t", 1)
        if kind == "plain":
            tag = int(rest[:8], 16)
            want = row(
                tag, 0xFFFFFFFF, datadict.dictionary_VR(tag), datadict.dictionary_VM(tag),
                datadict.dictionary_keyword(tag), datadict.dictionary_description(tag),
                datadict.dictionary_is_retired(tag),
            )
            seen["plain"].add(tag)
        elif kind == "repeating":
            key = key_of(int(rest[:8], 16), int(rest[9:17], 16))
            vr, vm, name, retired, keyword = REPEATERS[key]
            # pydicom's own matcher must map a tag of this form to this key.
            assert datadict.mask_match(tag_of(key)).lower() == key, key
            want = row(tag_of(key), mask_of(key), vr, vm, keyword, name, retired == "Retired")
            seen["repeating"].add(key)
        elif kind == "private":
            creator, rest = rest.split("\t", 1)
            key = key_of(int(rest[:8], 16), int(rest[9:17], 16))
            vr, vm, name, retired = PRIVATE[creator][key]
            want = row(tag_of(key), mask_of(key), vr, vm, "", name, retired == "Retired")
            seen["private"].add((creator, key))
        else:
            uid = UID(rest.split("\t", 1)[0])
            want = f"{uid}\t{uid.name}\t{uid.keyword}\t{uid.type}\t{int(uid.is_retired)}"
            seen["uid"].add(str(uid))
        if rest != want:
            errors.append(f"table row {kind}:\n  ours    {rest}\n  pydicom {want}")
    everything = {
        "plain": set(DicomDictionary),
        "repeating": set(REPEATERS),
        "private": {(c, k) for c, d in PRIVATE.items() for k in d},
        "uid": set(UID_dictionary),
    }
    for kind, want in everything.items():
        for missing in sorted(want - seen[kind], key=str)[:10]:
            errors.append(f"{kind} entry missing from our table: {missing}")
    return errors, sum(len(s) for s in seen.values())


# --- 2. lookups ---------------------------------------------------------------

# PS3.5 7.2 and 7.8.1: answers that pydicom's datadict does not give.
GROUP_LENGTH = row(0x00000000, 0x0000FFFF, "UL", "1", "", "Group Length", True)
PRIVATE_CREATOR = row(0x00010000, 0x0001FF00, "LO", "1", "PrivateCreator", "Private Creator", False)


def is_private_group(group):
    return group & 1 and group > 0x0007 and group != 0xFFFF


def expect_tag(tag):
    if tag in DicomDictionary:
        vr, vm, name, retired, keyword = DicomDictionary[tag]
        return row(tag, 0xFFFFFFFF, vr, vm, keyword, name, retired == "Retired")
    group, elem = tag >> 16, tag & 0xFFFF
    if elem == 0:
        return GROUP_LENGTH
    if group & 1:
        return PRIVATE_CREATOR if is_private_group(group) and 0x10 <= elem <= 0xFF else None
    key = datadict.mask_match(tag)
    if key is None:
        return None
    key = key.lower()
    # PS3.5 7.6: repeating groups are the even groups xx = 00-1E.
    if key[2:4] == "xx" and group & 0xE1:
        return None
    vr, vm, name, retired, keyword = REPEATERS[key]
    return row(tag_of(key), mask_of(key), vr, vm, keyword, name, retired == "Retired")


def expect_keyword(keyword):
    if not keyword:
        return None
    tag = datadict.tag_for_keyword(keyword)
    if tag is not None:
        return expect_tag(tag)
    for key, (vr, vm, name, retired, kw) in REPEATERS.items():
        if kw == keyword:
            return row(tag_of(key), mask_of(key), vr, vm, kw, name, retired == "Retired")
    return None


def expect_private(creator, tag):
    group, elem = tag >> 16, tag & 0xFFFF
    if not is_private_group(group) or creator not in PRIVATE:
        return None
    entries = PRIVATE[creator]
    # pydicom's get_private_entry() order; below 0x1000 there are no blocks
    # (PS3.5 7.8.1), so only an exact key applies there.
    keys = [f"{group:04x}{elem:04x}"]
    if elem >= 0x1000:
        keys += [f"{group:04x}xx{elem & 0xFF:02x}", f"{group >> 8:02x}xxxx{elem & 0xFF:02x}"]
    keys = [k for k in keys if k in entries]
    if not keys:
        return None
    vr, vm, name, retired = entries[keys[0]]
    if elem >= 0x1000:
        assert datadict.get_private_entry(tag, creator) == entries[keys[0]]
    return row(tag_of(keys[0]), mask_of(keys[0]), vr, vm, "", name, retired == "Retired")


def expect_uid(uid):
    if uid not in UID_dictionary:
        return None
    u = UID(uid)
    return f"{u}\t{u.name}\t{u.keyword}\t{u.type}\t{int(u.is_retired)}"


def fill(key, group_x, elem_x):
    """A tag of the form `key`, with the group's 'xx' byte set to group_x and
    the other 'x' digits taken from elem_x."""
    tag, mask = tag_of(key), mask_of(key)
    if key[2:4] == "xx":
        tag |= group_x << 16
        mask |= 0x00FF0000
    return tag | (elem_x & ~mask & 0xFFFF)


def tag_queries(rng):
    tags = set()
    for tag in DicomDictionary:
        tags.update({tag, (tag + 1) & 0xFFFFFFFF, (tag - 1) & 0xFFFFFFFF})
    for key in REPEATERS:
        for gx in (0x00, 0x01, 0x02, 0x0E, 0x1E, 0x1F, 0x20, 0x40, 0xE0, 0xFE):
            for ex in (0x0000, 0x1111, 0xFFFF, rng.getrandbits(16)):
                tags.add(fill(key, gx, ex))
    groups = sorted({t >> 16 for t in DicomDictionary})
    for _ in range(20000):
        tags.add(rng.getrandbits(32))
        tags.add(rng.choice(groups) << 16 | rng.getrandbits(16))
        tags.add(rng.getrandbits(16) << 16 | rng.choice((0x0000, 0x0010, 0x00FF, 0x0100)))
    for group in (0x0001, 0x0003, 0x0007, 0x0009, 0x0029, 0x6001, 0x7FE1, 0xFFFF):
        for elem in (0x0000, 0x0001, 0x000F, 0x0010, 0x00FF, 0x0100, 0x1010):
            tags.add(group << 16 | elem)
    return [(f"tag\t{t:08x}", expect_tag(t)) for t in sorted(tags)]


def keyword_queries():
    kws = [v[4] for v in DicomDictionary.values()] + [v[4] for v in REPEATERS.values()]
    kws = [k for k in kws if k]
    kws += [k.lower() for k in kws[:200]] + [k + "X" for k in kws[:200]] + ["Nope", "A", "zzz"]
    return [(f"keyword\t{k}", expect_keyword(k)) for k in kws]


def private_queries(rng):
    out = []
    for creator, entries in PRIVATE.items():
        assert "\t" not in creator and "\n" not in creator
        tags = set()
        for key in entries:
            for gx in (0x01, 0x11, 0x02):
                for ex in (0x1010, 0x2020, 0xABAB, 0xFFFF, 0x0000):
                    tags.add(fill(key, gx, ex))
            tags.add(fill(key, 0x01, 0x1000) ^ 0x00000001)
        for tag in sorted(tags):
            out.append((f"private\t{creator}\t{tag:08x}", expect_private(creator, tag)))
    for creator in ("NO SUCH CREATOR", "SIEMENS CSA HEADER ", "siemens csa header"):
        out.append((f"private\t{creator}\t00291010", expect_private(creator, 0x00291010)))
    return out


def uid_queries():
    uids = list(UID_dictionary)
    uids += [u + ".0" for u in uids[:100]] + [u + " " for u in uids[:20]] + ["1.2.840.10008", "0"]
    return [(f"uid\t{u}", expect_uid(u)) for u in uids]


def check_lookups(exe):
    rng = random.Random(20220)
    queries = tag_queries(rng) + keyword_queries() + private_queries(rng) + uid_queries()
    stdin = "".join(q + "\n" for q, _ in queries)
    res = subprocess.run([exe, "--query"], input=stdin.encode(), capture_output=True, check=True)
    answers = res.stdout.decode("utf-8").splitlines()
    if len(answers) != len(queries):
        return [f"{len(queries)} queries but {len(answers)} answers"], len(queries)
    errors = []
    for (query, want), got in zip(queries, answers):
        want = "-" if want is None else want
        if got != want:
            errors.append(f"lookup {query!r}:\n  ours    {got}\n  expected {want}")
    return errors, len(queries)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: dict_oracle.py path/to/test-dict")
    if pydicom.__version__ != PYDICOM_VERSION:
        print(
            f"dict_oracle: pydicom {pydicom.__version__} is not {PYDICOM_VERSION}, the version "
            "the tables were generated from; skipping"
        )
        sys.exit(77)
    exe = sys.argv[1]
    dump = subprocess.run([exe, "--dump-dict"], capture_output=True, check=True)
    errors, n_rows = check_rows(dump.stdout.decode("utf-8").splitlines())
    more, n_queries = check_lookups(exe)
    errors += more
    for e in errors[:30]:
        print(e)
    if errors:
        print(f"dict_oracle: {len(errors)} disagreements with pydicom {pydicom.__version__}")
        sys.exit(1)
    print(
        f"dict_oracle: {n_rows} table rows and {n_queries} lookups agree with "
        f"pydicom {pydicom.__version__}"
    )


if __name__ == "__main__":
    main()
