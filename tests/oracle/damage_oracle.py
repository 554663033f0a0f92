#!/usr/bin/python3
"""Oracle test: damaged files (issue 17) through dicomfs-tool, against DCMTK.

    /usr/bin/python3 tests/oracle/damage_oracle.py path/to/dicomfs-tool [FILE-FILTER]

scripts/make-damaged.py writes damaged variants of every DICOM file of the
oracle corpus (Debian's pydicom test data, oracle_common.py) into a
temporary folder: 1,000 zero or random bytes appended, a length one too
long in each VR class, the file cut inside the elements of the first 512
bytes of its data set, a broken item in its first sequence.  Its
manifest.json says, for each, where the damage is and which element of the
original is damaged; its element walker says where every element of the
original begins and ends.  For every variant:

  `dicomfs-tool dump`, `--header-only dump` and `json` exit 0; or, when the
  damage leaves no data-set element that can be read (without "DICM": fewer
  than two), exit 1 with 'dicomfs-tool: FILE: REASON' on stderr and nothing
  on stdout;
  the dump's last line '# damaged at byte N: REASON; the rest of the file
  could not be read' is there exactly when stderr has 'dicomfs-tool: FILE:
  damaged at byte N: REASON' (same N, same REASON); the JSON has no such
  line, and the same warning;
  a full read flags every variant damaged, at the byte the manifest gives
  (where the element or item that cannot be read begins: the original's end
  for appended bytes), or at or after the lengthened element;
  our elements, equal up to the damage (dump_oracle's value comparison):
  every element dcmdump +E shows of the variant that lies wholly before the
  damaged element of the original (by the walker's offsets, i.e. in the
  file's order; and the sequences and items open there) is in our dump
  with the same value, and every element of ours is in dcmdump +E's with
  the same value.  A sequence open where we stop may have fewer items than
  DCMTK shows (it reads on past the damage) if they are the items that
  begin before our stop.  DCMTK reading on may take a garbage length of
  gigabytes for a value, or loop on garbage: it runs with 1 GiB of memory
  and a second or two of processor time, and where it prints nothing
  pydicom stands in, and where pydicom fails too, dcmdump +E of the
  variant's bytes before the damage and before our stop (the same bytes);
  dcmdump runs once for all variants of a file (its dictionary takes
  longer to load than a small file to read);
  never more elements than the file's bytes allow (at most size / 8);
  the header-only dump is the full dump up to Pixel Data (same keys, same
  values), flagged when the damage is before top-level Pixel Data (or is
  its header, or a native value cut short), not flagged when the damage is
  only after it, and at the same byte as the full read when flagged;
  the JSON is valid JSON, its top-level tags those of the dump (group 0002
  and group lengths aside).

Prints one line per variant and ends with 'N passed, N failed'.  Exit
status 0 when all pass, 1 on any failure, 77 (skip) without pydicom,
dcmdump or the pydicom test data.  DAMAGE_ORACLE_DIR=DIR writes the
variants there (kept) instead of a temporary folder.
"""

import json
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_common as oc  # noqa: E402
import dump_oracle as do  # noqa: E402

MAX_SHOWN = 5
PER_RUN_TIMEOUT = 60

# Set in each worker.
TOOL = None
VARIANTS = None
_layouts = {}


def check_setup():
    problems = []
    if oc.pydicom is None:
        problems.append("pydicom is not importable: run this with /usr/bin/python3")
    if oc.run(["dcmdump", "--version"])[0] is None:
        problems.append("dcmdump does not answer")
    if not os.path.isdir(oc.data_path("test_files")):
        problems.append(f"{oc.PYDICOM_DATA}/test_files is missing (apt install python3-pydicom)")
    if not os.path.isfile(oc.MAKE_DAMAGED):
        problems.append(f"{oc.MAKE_DAMAGED} is missing")
    return problems


def original_layout(rel):
    if rel not in _layouts:
        with open(oc.data_path(rel), "rb") as f:
            _layouts[rel] = oc.damage_walker().Layout(f.read())
    return _layouts[rel]


def find_elem(layout, key, offset):
    for e in layout.elems:
        if e.offset == offset and e.key == key:
            return e
    return None


class Result(do.FileResult):
    def __init__(self, m):
        super().__init__(os.path.join(VARIANTS, m["file"]))
        self.m = m
        self.vrs = oc.VrCounter()


def run_ours(argv, path):
    return oc.run([TOOL] + argv + [path], timeout=PER_RUN_TIMEOUT)


def check_rejection(res, label, path, rc, out, err):
    """Exit 1 for a file with nothing readable: one line of reason, no output."""
    lines = err.strip().splitlines()
    if len(lines) != 1 or not lines[0].startswith(f"dicomfs-tool: {path}: "):
        res.mismatches.append(("rejection", f"{label}: expected one line 'dicomfs-tool: {path}: "
                               f"REASON' on stderr, got {err.strip()[:300]!r}", None, None))
    if out.strip():
        res.mismatches.append(("rejection", f"{label}: exit 1 but {len(out)} bytes on stdout",
                               None, None))


def exit_status(res, label, path, rc, out, err):
    """Checks the exit status; True when the output is to be read."""
    m = res.m
    if rc is None:
        res.mismatches.append(("crash", f"{label}: {err}", None, None))
        return False
    if rc not in (0, 1):
        res.mismatches.append(("crash", f"{label}: exit {rc}: {err.strip()[:300]}", None, None))
        return False
    if rc == 1:
        if m["nothing_readable"] is False:
            res.mismatches.append(("rejected", f"{label}: exit 1, but elements of the data set "
                                   f"come before the damage: {err.strip()[:300]}", None, None))
        else:
            check_rejection(res, label, path, rc, out, err)
        return False
    if m["nothing_readable"] is True:
        res.mismatches.append(("read", f"{label}: exit 0, but no data-set element comes before "
                               "the damage (expected exit 1 and a reason)", None, None))
    return True


def dcmtk_damaged(res, path, text=None):
    """dcmdump +E of a file (text: its output, already run), with the
    (0008,0005) values as stored from its bytes: ((records, implicit,
    raw_charset), "") or (None, its error) when it prints nothing."""
    with open(path, "rb") as f:
        stored = do.stored_charsets(oc.damage_walker().Layout(f.read()))
    try:
        if text is not None:
            theirs, implicit = do.parse_dcmdump(text)
            do.assign_paths(theirs)
            return (theirs, implicit, stored), ""
        rc, err, theirs, implicit, raw_charset = do.dcmtk_records(path, extra=["+E"],
                                                                  damaged=True,
                                                                  raw_charset=stored)
    except ValueError as e:
        res.mismatches.append(("oracle", f"cannot parse dcmdump +E: {e}", None, None))
        return None, ""
    if theirs is None:
        return None, err.strip()
    return (theirs, implicit, raw_charset), ""


def oracle_records(res, path, head, text=None, stopped=None):
    """dcmdump +E of the variant (text: its output, from a batch; stopped:
    why dcmdump was stopped on it, not to run it again); pydicom's reading
    where dcmdump prints nothing; where pydicom fails too, dcmdump +E of the
    variant's first head bytes (what lies before the damage, and before our
    stop: the same bytes).  (records, implicit, raw_charset) or None."""
    if stopped is not None:
        oracle, err = None, f"stopped by a limit: {stopped}"
    else:
        oracle, err = dcmtk_damaged(res, path, text)
    if oracle is not None or err == "":
        return oracle
    try:
        theirs, implicit = do.pydicom_records(path)
        do.assign_paths(theirs)
        res.note += f" (dcmdump +E prints nothing: {first_error(err)}; compared with pydicom)"
        return theirs, implicit, None
    except Exception as e:  # noqa: BLE001 - pydicom refusing is an answer here
        py_err = f"{type(e).__name__}: {str(e)[:100]}"
    if head is None:
        res.mismatches.append(("oracle", f"dcmdump +E prints nothing ({first_error(err)}) and "
                               f"pydicom fails ({py_err})", None, None))
        return None
    copy = path + f".first-{head}-bytes"
    with open(path, "rb") as f, open(copy, "wb") as g:
        g.write(f.read(head))
    try:
        oracle, err2 = dcmtk_damaged(res, copy)
    finally:
        os.unlink(copy)
    if oracle is None:
        res.mismatches.append(("oracle", f"dcmdump +E prints nothing ({first_error(err)}), "
                               f"pydicom fails ({py_err}), and dcmdump +E of the first {head} "
                               f"bytes prints nothing ({first_error(err2)})", None, None))
        return None
    res.note += (f" (dcmdump +E prints nothing: {first_error(err)}; pydicom fails: {py_err}; "
                 f"compared with dcmdump +E of the first {head} bytes)")
    return oracle


def last_error(err):
    """The last error dcmdump wrote: the file it was at when it was stopped."""
    lines = [x for x in err.splitlines() if x.startswith(("E:", "F:"))] or err.splitlines() or [""]
    return lines[-1][:120] or "no message"


def first_error(err):
    lines = [x for x in err.splitlines() if x.startswith(("E:", "F:"))] or err.splitlines() or [""]
    return lines[0][:120] or "killed"


def top_level_tags(recs):
    return {r.tag for r in recs if r.depth == 0 and r.tag >> 16 != 0x0002 and r.tag & 0xFFFF}


def check_full(res, path, recs, damage, layout, dcmtk_text=None, dcmtk_stopped=None):
    m = res.m
    size = m["size"]
    if m["expect_damaged"] and damage is None:
        where = (f"at byte {m['damage_offset']}" if m["damage_offset"] is not None
                 else f"at or after byte {m['damage_min']}")
        res.mismatches.append(("not-flagged", f"not flagged damaged (the damage is {where}: "
                               f"{m['detail']})", None, None))
    if damage is not None:
        n = damage[0]
        if m["damage_offset"] is not None and n != m["damage_offset"]:
            res.mismatches.append(("offset", f"damaged at byte {n} ({damage[1]}), expected byte "
                                   f"{m['damage_offset']} ({m['detail']})", None, None))
        elif m["damage_min"] is not None and n < m["damage_min"]:
            res.mismatches.append(("offset", f"damaged at byte {n} ({damage[1]}), before the "
                                   f"damaged element at byte {m['damage_min']} ({m['detail']})",
                                   None, None))
        if n > size:
            res.mismatches.append(("offset", f"damaged at byte {n}, past the end ({size})",
                                   None, None))
    if len(recs) > size // 8:
        res.mismatches.append(("count", f"{len(recs)} elements from {size} bytes (at most "
                               f"{size // 8})", None, None))
    # Against DCMTK, up to the damage.
    head = max(x for x in (damage[0] if damage else None, m["damaged_offset"], 0)
               if x is not None) or None
    oracle = oracle_records(res, path, head, dcmtk_text, dcmtk_stopped)
    if oracle is None or layout.deflated:
        if layout.deflated and oracle is not None:
            theirs, implicit, raw_charset = oracle
            # No offsets inside a deflate stream: ours must be in theirs.
            do.compare_damaged(res, theirs, recs, implicit, res.vrs, raw_charset, set(), {})
        return
    theirs, implicit, raw_charset = oracle
    damaged_at = m["damaged_offset"]
    longer = None
    if m["kind"].startswith("longer"):
        longer = find_elem(layout, m["damaged_key"], damaged_at)
    stop = damage[0] if damage is not None else damaged_at
    required, open_sqs = do.damage_scope(layout.elems, damaged_at, stop, longer)
    n_before = len(res.mismatches)
    do.compare_damaged(res, theirs, recs, implicit, res.vrs, raw_charset, required, open_sqs)
    if len(res.mismatches) > n_before and theirs and theirs[0].source == "dcmdump":
        res.note += " (dcmdump +E)"


def same_rec(a, b):
    return a.key == b.key and a.vr == b.vr and a.value == b.value


def check_header_only(res, path, full, full_damage, head, head_damage, layout):
    m = res.m
    expect = m["header_only_damaged"]
    if expect is True and head_damage is None:
        res.mismatches.append(("not-flagged", "--header-only: not flagged damaged, but the damage "
                               "is before Pixel Data (or in its header, or a native value cut "
                               "short)", None, None))
    if expect is False and head_damage is not None:
        res.mismatches.append(("flagged", f"--header-only: damaged at byte {head_damage[0]}, but "
                               "the damage is after top-level Pixel Data, where a header-only read "
                               "stops", None, None))
    if head_damage is not None and full_damage is not None and head_damage[0] != full_damage[0]:
        res.mismatches.append(("header-only", f"--header-only: damaged at byte {head_damage[0]}, "
                               f"the full read at byte {full_damage[0]}", None, None))
    if head_damage is not None and full_damage is None:
        res.mismatches.append(("header-only", f"--header-only: damaged at byte {head_damage[0]}, "
                               "the full read is not", None, None))
    # The header-only elements are the full read's, up to Pixel Data.
    pixel = [i for i, r in enumerate(head) if r.depth == 0 and r.tag == oc.PIXEL_DATA]
    stop = pixel[0] if pixel else len(head)
    if pixel and pixel[0] != len(head) - 1:
        res.mismatches.append(("header-only", "--header-only: elements after Pixel Data", None,
                               head[pixel[0] + 1].line))
    for k in range(stop):
        if k >= len(full) or not same_rec(head[k], full[k]):
            res.mismatches.append(("header-only", f"--header-only: element {k + 1} is not the "
                                   "full dump's", full[k].line if k < len(full) else None,
                                   head[k].line))
            break
    else:
        if pixel:
            if stop >= len(full) or full[stop].tag != oc.PIXEL_DATA or full[stop].depth != 0 \
                    or full[stop].vr != head[stop].vr:
                res.mismatches.append(("header-only", "--header-only stops at Pixel Data, the "
                                       "full dump has not the same Pixel Data there",
                                       full[stop].line if stop < len(full) else None,
                                       head[stop].line))
        elif len(head) != len(full):
            res.mismatches.append(("header-only", f"--header-only: {len(head)} elements and no "
                                   f"Pixel Data, the full dump {len(full)}", None, None))
    if head_damage is None and full_damage is not None and not pixel:
        res.mismatches.append(("header-only", "--header-only: not damaged and not stopped at "
                               f"Pixel Data, the full read is damaged at byte {full_damage[0]}",
                               None, None))


def check_json(res, path, rc, out, err, full, full_damage):
    found, other = do.damage_warning(path, err)
    want = [full_damage] if full_damage is not None else []
    if found != want:
        res.mismatches.append(("damage-line", f"json: stderr warnings {found}, the dump's {want}",
                               None, None))
    if other:
        res.mismatches.append(("stderr", f"json: unexpected stderr: {other[0][:200]!r}",
                               None, None))
    try:
        obj = json.loads(out.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        tail = out[-200:].decode("utf-8", "replace")
        res.mismatches.append(("json", f"json: not JSON in UTF-8: {e} (ends with {tail!r})",
                               None, None))
        return
    if not isinstance(obj, dict):
        res.mismatches.append(("json", "json: not an object", None, None))
        return
    try:
        tags = {int(k, 16) for k in obj}
    except ValueError:
        res.mismatches.append(("json", f"json: keys that are not tags: {sorted(obj)[:5]}",
                               None, None))
        return
    theirs = top_level_tags(full)
    ours = {t for t in tags if t >> 16 != 0x0002 and t & 0xFFFF}
    if ours != theirs:
        only_json = sorted(ours - theirs)[:5]
        only_dump = sorted(theirs - ours)[:5]
        res.mismatches.append(("json", "json: top-level tags differ from the dump's: json only "
                               f"{[do.tag_str(t) for t in only_json]}, dump only "
                               f"{[do.tag_str(t) for t in only_dump]}", None, None))


class Variant:
    """One variant's runs of ours and what was read of them."""

    def __init__(self, m):
        self.m = m
        self.res = Result(m)
        self.path = os.path.join(VARIANTS, m["file"])
        self.full = self.full_damage = self.head = self.head_damage = None
        self.runs = None
        self.ok = None


def run_variant(v):
    """Our three runs of a variant and the checks of their own; True when
    the full dump is to be compared with DCMTK."""
    res, path, m = v.res, v.path, v.m
    layout = original_layout(m["original"])
    if layout.error is not None and m["damaged_offset"] is not None \
            and layout.failed_at is not None and layout.failed_at < m["damaged_offset"]:
        res.mismatches.append(("oracle", f"the walker cannot read the original: {layout.error}",
                               None, None))
        return False
    v.runs = (run_ours(["dump"], path), run_ours(["--header-only", "dump"], path),
              run_ours(["json"], path))
    full_run, head_run, json_run = v.runs
    v.ok = [exit_status(res, label, path, *r) for label, r in
            (("dump", full_run), ("--header-only dump", head_run), ("json", json_run))]
    if v.ok[0] != v.ok[2] and None not in (full_run[0], json_run[0]):
        res.mismatches.append(("json", f"json exits {json_run[0]}, dump {full_run[0]}", None, None))
    if v.ok[0]:
        v.full, v.full_damage = parse(res, "dump", path, full_run)
    if v.ok[1]:
        v.head, v.head_damage = parse(res, "--header-only dump", path, head_run)
    return v.full is not None


def finish_variant(v, dcmtk_text, dcmtk_stopped=None):
    """The checks of a variant against DCMTK (dcmtk_text: its section of a
    batch dcmdump, None to run dcmdump on it alone), and the rest."""
    res, path, m = v.res, v.path, v.m
    layout = original_layout(m["original"])
    if v.full is not None:
        check_full(res, path, v.full, v.full_damage, layout, dcmtk_text, dcmtk_stopped)
    if v.full is not None and v.head is not None:
        check_header_only(res, path, v.full, v.full_damage, v.head, v.head_damage, layout)
    if v.ok and v.ok[2] and v.full is not None:
        check_json(res, path, *v.runs[2], v.full, v.full_damage)
    if v.full_damage is not None:
        res.note = f" -> damaged at byte {v.full_damage[0]}: {v.full_damage[1][:100]}" + res.note
    return finish(res)


BATCH_HEADER = re.compile(r"^# dcmdump \((\d+)/(\d+)\): (.*)$", re.M)


def dcmdump_batch(paths):
    """dcmdump +E of several files in as few runs as can be (its dictionary is
    loaded once a run): ({path: its part of the output}, {path: why it was
    stopped}).  A file whose dump stops dcmdump (a limit: it loops or loads
    gigabytes on garbage) is not run again; the files after it are, in a new
    run.  A file it prints nothing of is left out, to be run alone (for its
    error message)."""
    parts, stopped = {}, {}
    while paths:
        argv = ["dcmdump", "+L", "-Un", "+U8", "+E", "+F"] + paths
        rc, out, err = oc.run(argv, timeout=do.DAMAGED_TIMEOUT, max_memory=do.DAMAGED_MEMORY,
                              max_cpu=1 + len(paths) // 10)
        text = out.decode("utf-8", "surrogateescape")
        heads = list(BATCH_HEADER.finditer(text))
        for k, h in enumerate(heads):
            n = int(h.group(1))
            if n != k + 1 or h.group(3) != paths[k]:
                return parts, stopped  # not dcmdump's usual output: run them alone
            end = heads[k + 1].start() if k + 1 < len(heads) else len(text)
            if BATCH_RECORD.search(text, h.end(), end):
                parts[paths[k]] = text[h.end():end]
        if rc is not None and rc >= 0:
            break
        # Stopped while at the last file it had begun.
        if not heads:
            break
        last = paths[len(heads) - 1]
        parts.pop(last, None)
        stopped[last] = (f"killed by signal {-rc}" if rc is not None else "timed out") \
            + f" ({last_error(err)})"
        paths = paths[len(heads):]
    return parts, stopped


BATCH_RECORD = re.compile(r"^\s*\(", re.M)


def check_original(ms):
    """Every variant of one original (DCMTK run once for them all)."""
    variants = [Variant(m) for m in ms]
    to_compare = [v for v in variants if run_variant(v)]
    texts, stopped = dcmdump_batch([v.path for v in to_compare])
    return [finish_variant(v, texts.get(v.path), stopped.get(v.path)) for v in variants]


def parse(res, label, path, run):
    rc, out, err = run
    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError as e:
        res.mismatches.append(("format", f"{label}: not UTF-8: {e}", None, None))
        text = out.decode("utf-8", "replace")
    problems, damage = [], []
    recs = do.parse_ours(text, problems, damage)
    res.mismatches.extend((c, f"{label}: {msg}", t, o) for c, msg, t, o in problems)
    for p in do.assign_paths(recs):
        res.mismatches.append(("format", f"{label}: our nesting: {p}", None, None))
    damage = damage[0] if damage else None
    do.check_damage_warning(res, label, path, err, damage)
    return recs, damage


def finish(res):
    return (res.m, res.compared, res.mismatches, res.note,
            (res.vrs.counts, res.vrs.examples))


def init_worker(tool, variants):
    global TOOL, VARIANTS
    TOOL, VARIANTS = tool, variants


def run_all(tool, variants, manifest):
    groups, index = [], {}
    for m in manifest:
        if m["original"] not in index:
            index[m["original"]] = len(groups)
            groups.append([])
        groups[index[m["original"]]].append(m)
    # One worker more than processors: much of a worker's time is spent
    # starting programs.
    jobs = max(1, min(len(os.sched_getaffinity(0)) + 1, 9))
    with multiprocessing.Pool(jobs, initializer=init_worker, initargs=(tool, variants)) as pool:
        for results in pool.imap(check_original, groups):
            yield from results


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    problems = check_setup()
    if problems:
        print("damage-oracle: skipped: " + "; ".join(problems))
        sys.exit(77)
    tool = os.path.abspath(sys.argv[1])
    only = sys.argv[2] if len(sys.argv) > 2 else None
    keep = os.environ.get("DAMAGE_ORACLE_DIR")
    with tempfile.TemporaryDirectory(prefix="damage-oracle-") as tmp:
        variants = os.path.abspath(keep) if keep else tmp
        argv = [sys.executable, oc.MAKE_DAMAGED, variants] + ([only] if only else [])
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"damage-oracle: make-damaged.py failed: {r.stderr.strip()[-2000:]}")
            sys.exit(1)
        print(r.stdout.strip())
        with open(os.path.join(variants, "manifest.json")) as f:
            manifest = json.load(f)
        vrs = oc.VrCounter()
        n_failed = n_elements = 0
        categories = {}
        for m, compared, bad, note, (counts, examples) in run_all(tool, variants, manifest):
            for kind, n in counts.items():
                vrs.counts[kind] = vrs.counts.get(kind, 0) + n
                vrs.examples.setdefault(kind, [])
                vrs.examples[kind] = (vrs.examples[kind] + examples[kind])[:3]
            n_elements += compared
            for cat, *_ in bad:
                categories[cat] = categories.get(cat, 0) + 1
            status = "FAIL" if bad else "ok  "
            print(f"{status} {m['file']}: {m['detail']}; {compared} elements compared"
                  + (f", {len(bad)} mismatches" if bad else "") + note)
            for cat, msg, their_line, our_line in bad[:MAX_SHOWN]:
                print(f"       [{cat}] {msg}")
                if their_line is not None:
                    print(f"         theirs: {their_line[:300]!s}")
                if our_line is not None:
                    print(f"         ours:   {our_line[:300]!s}")
            if len(bad) > MAX_SHOWN:
                print(f"       ... and {len(bad) - MAX_SHOWN} more")
            n_failed += bool(bad)
    kinds = {}
    for m in manifest:
        kinds[m["kind"]] = kinds.get(m["kind"], 0) + 1
    print(f"damage-oracle: {len(manifest)} variants of "
          f"{len({m['original'] for m in manifest})} files ("
          + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
          + f"), {n_elements} elements compared")
    vrs.report()
    for cat in sorted(categories):
        print(f"  mismatches of kind '{cat}': {categories[cat]}")
    print(f"{len(manifest) - n_failed} passed, {n_failed} failed")
    sys.exit(1 if n_failed or not manifest else 0)


if __name__ == "__main__":
    main()
