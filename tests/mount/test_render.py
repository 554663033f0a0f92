#!/usr/bin/python3
"""Rendered files read in time linear in their size, whatever the cache
budget (issue 12): with -o cache_mb=1 (half a megabyte for rendered files)

- instances.tsv of 8,000 instances (well over the budget) read whole with
  cat, and again with 4 KiB preads at every offset, renders its rows about
  about once in all (the status file's "rendered by range" counter), never
  once per read request; it holds every SOPInstanceUID written, once;
- errors.tsv (the 7,999 duplicate notes of copies of one file, a table of
  its own) too, within a looser bound (it stays volatile);
- a header.json larger than the budget (a 600 KB private OB value) read in
  4 KiB requests is rendered whole exactly once ("rendered whole");
- an instance whose 8 MB native Pixel Data is followed by elements (a
  private one, trailing padding): every file of its tags/ and its header
  files read, the daemon reads about the file once in all (its
  /proc/PID/io rchar grows by less than twice the file's size), not once
  per attribute file (the budget cannot hold the file's pixels), and the
  private value after the pixels is pydicom's.

The oracle is what this test wrote with pydicom, and the counters' own
definition: a quadratic read would render each table hundreds of times.

usage: test_render.py DICOMFS SOURCE_ROOT
"""
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402

WATCHDOG_SECONDS = 280
N = 8000


def write_archive(src):
    """N small instances (no pixels) in 40 series, and one with a big
    private value; returns the SOP Instance UIDs written."""
    code = r'''
import os, shutil, sys
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
src, n = sys.argv[1], int(sys.argv[2])
uids = []
study = generate_uid()
series = [generate_uid() for _ in range(40)]
def instance(uid, sop_class):
    """A new explicit VR little endian instance of that class."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, uid
    ds.is_little_endian, ds.is_implicit_VR = True, False
    return ds
def write(path, uid, k, extra=None):
    ds = instance(uid, "1.2.840.10008.5.1.4.1.1.4")
    ds.PatientName = "Render^Test"
    ds.PatientID = "R1"
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series[k % 40]
    ds.SeriesNumber = k % 40 + 1
    ds.Modality = "MR"
    ds.InstanceNumber = k + 1
    if extra is not None:
        ds.add_new(0x00091010, "LO", "RENDER TEST")
        ds.add_new(0x00091011, "OB", extra)
        ds[0x00091010].tag  # creator first
        ds.add_new(0x00090010, "LO", "RENDER TEST")
    ds.save_as(path, write_like_original=False)
for k in range(n):
    uid = generate_uid()
    d = os.path.join(src, "s%02d" % (k % 40))
    os.makedirs(d, exist_ok=True)
    write(os.path.join(d, "%05d.dcm" % k), uid, k)
    uids.append(uid)
# The duplicates: copies of the first file (each an instance; errors.tsv notes them).
first = os.path.join(src, "s00", "00000.dcm")
os.makedirs(os.path.join(src, "dup"), exist_ok=True)
for k in range(n - 1):
    shutil.copyfile(first, os.path.join(src, "dup", "%05d.dcm" % k))
big = generate_uid()
os.makedirs(os.path.join(src, "big"), exist_ok=True)
write(os.path.join(src, "big", "big.dcm"), big, n, bytes(range(256)) * 2400)
# 8 MB of native pixels, then a private element and trailing padding.
tail = generate_uid()
ds = instance(tail, "1.2.840.10008.5.1.4.1.1.7")
ds.PatientName, ds.PatientID = "Render^Tail", "R2"
ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "OT", 1, 1
ds.Rows, ds.Columns, ds.SamplesPerPixel = 2048, 2048, 1
ds.PhotometricInterpretation = "MONOCHROME2"
ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
ds.PixelData = bytes(range(256)) * (2048 * 2048 * 2 // 256)
ds.add_new(0x7FE10010, "LO", "TAIL TEST")
ds.add_new(0x7FE11001, "LO", "AFTER THE PIXELS")
ds.add_new(0xFFFCFFFC, "OB", b"\0" * 64)
os.makedirs(os.path.join(src, "tail"), exist_ok=True)
ds.save_as(os.path.join(src, "tail", "tail.dcm"), write_like_original=False)
print(big)
print(tail)
print("\n".join(uids))
'''
    out = subprocess.run(["/usr/bin/python3", "-c", code, src, str(N)], check=True,
                         capture_output=True, text=True, timeout=ml.scaled(200)).stdout.split()
    return out[0], out[1], out[2:]


def counters(m):
    """(files rendered whole, their bytes, bytes rendered by range)."""
    st = m.status()
    whole = st["rendered whole"].split()
    return int(whole[0]), int(whole[2]), int(st["rendered by range"].split()[0])


def read_in_requests(path, size):
    """Every byte of path by 4 KiB preads, in order: many read requests."""
    fd = os.open(path, os.O_RDONLY)
    try:
        parts, off = [], 0
        while True:
            b = os.pread(fd, 4096, off)
            if not b:
                break
            parts.append(b)
            off += len(b)
        return b"".join(parts)
    finally:
        os.close(fd)


def check_table(report, m, name, must_hold, bound):
    """bound: the most bytes rendered per byte of the table, for cat and
    then for the preads."""
    path = os.path.join(m.mp, ".dicomfs", name)
    _, _, before = counters(m)
    size = os.stat(path).st_size
    data = subprocess.run(["cat", path], check=True, capture_output=True,
                          timeout=ml.scaled(120)).stdout
    _, _, after_cat = counters(m)
    report.check(f"{name} read whole with cat: its stat size ({size} bytes)",
                 [] if len(data) == size else [f"cat gave {len(data)} bytes"])
    cost = after_cat - before
    report.check(f"{name} ({size} bytes, over the 0.5 MB budget) read whole renders at most "
                 f"{bound[0]}x its size, not once per read request",
                 [] if size > 1 << 19 and size <= cost <= bound[0] * size else
                 [f"{cost} bytes rendered for a {size}-byte file"],
                 f"{cost} bytes rendered, {cost / size:.2f}x")
    again = read_in_requests(path, size)
    _, _, after_preads = counters(m)
    report.check(f"{name} by 4 KiB preads equals cat's bytes", again == data)
    # The kernel keeps a settled table's pages; what reaches the daemon is
    # rendered by range, about once more at most.
    cost2 = after_preads - after_cat
    report.check(f"{name} read again in {size // 4096 + 1} requests renders at most "
                 f"{bound[1]}x its size",
                 [] if cost2 <= bound[1] * size else [f"{cost2} bytes rendered"],
                 f"{cost2} bytes rendered")
    lines = data.decode().split("\n")
    problems = [f"{u} appears {data.count(u.encode())} times" for u in must_hold
                if data.count(u.encode()) < 1][:5]
    report.check(f"{name} holds what was written ({len(lines) - 1} lines)", problems)
    return data


def rchar(pid):
    with open(f"/proc/{pid}/io") as f:
        return int(next(ln for ln in f if ln.startswith("rchar:")).split()[1])


def check_tail(report, m, mnt, insts, path):
    """The instance with elements after its 8 MB Pixel Data: every
    attribute file read, the file read about once."""
    if len(insts) != 1:
        report.check("the instance with elements after its Pixel Data is in the tree",
                     [f"{len(insts)} rows"])
        return
    folder = os.path.join(mnt, insts[0])
    size = os.path.getsize(path)
    before, files = rchar(m.pid), 0
    value = None
    for dirpath, _, names in os.walk(os.path.join(folder, "tags")):
        for n in names:
            data = ml.read_bytes(os.path.join(dirpath, n))
            files += 1
            if os.path.relpath(os.path.join(dirpath, n), folder) == "tags/7FE11001":
                value = data
    for n in ("header.txt", "header.json"):
        ml.read_bytes(os.path.join(folder, n))
        files += 1
    read = rchar(m.pid) - before
    problems = [] if read < 2 * size else [f"the daemon read {read} bytes (the file has {size})"]
    if value is None or value.decode().strip() != "AFTER THE PIXELS":
        problems.append(f"tags/7FE11001: {value!r}, pydicom wrote 'AFTER THE PIXELS'")
    report.check("an instance with elements after its 8 MB Pixel Data: its tags/ and header "
                 "files read, the file read about once (/proc/PID/io rchar), the value after "
                 "the pixels pydicom's", problems,
                 f"{files} files read, the daemon read {read:,} bytes, the file has {size:,}")


def run_checks(report, exe, tmp):
    src = os.path.join(tmp, "source")
    os.makedirs(src)
    big_uid, tail_uid, uids = write_archive(src)
    mnt = os.path.join(tmp, "mnt")
    env_cache = os.path.join(tmp, "cache")
    m = ml.Mount(exe, src, mnt, args=["-o", f"cache_mb=1,index={env_cache}/index.sqlite"])
    m.start()
    try:
        # A settled table: a measuring pass (no rendering), then each part
        # once (the kernel keeps its pages, so the preads cost little or
        # nothing).
        data = check_table(report, m, "instances.tsv", uids + [big_uid], (1.5, 1.2))
        rows = [line.split("\t") for line in data.decode().split("\n")[1:] if line]
        col = data.decode().split("\n")[0].split("\t").index("SOPInstanceUID")
        seen = {}
        for r in rows:
            seen[r[col]] = seen.get(r[col], 0) + 1
        report.check("instances.tsv: every written SOPInstanceUID, each file a row",
                     [f"{u}: {seen.get(u, 0)} rows" for u in uids[1:] + [big_uid]
                      if seen.get(u, 0) != 1][:5] +
                     ([] if seen.get(uids[0]) == N else [f"the duplicated file: {seen.get(uids[0])} rows"]))
        # errors.tsv gets a new mtime at every stat (it changes while mounted),
        # so the kernel drops its pages and may ask for a part again; each
        # request still renders only about what it returns (quadratic
        # would be about size / 4 KiB times the size: 80x here).
        errors = check_table(report, m, "errors.tsv", [], (6, 6))
        # The 8,000 copies of one file (s00/00000.dcm and dup/*): one is
        # filed first, each other one is a line of its own, nothing else is.
        copies = {"s00/00000.dcm"} | {"dup/%05d.dcm" % k for k in range(N - 1)}
        noted = {line.split("\t")[0] for line in errors.decode().split("\n")[1:] if line}
        report.check("errors.tsv: a line for every copy of the duplicated file but the first",
                     ([] if len(noted & copies) == N - 1 else
                      [f"{len(noted & copies)} of the {N} copies noted"]) +
                     [f"{p} noted, not a copy" for p in sorted(noted - copies)][:5])
        inst = [r[0] for r in rows if r[col] == big_uid][0]
        path = os.path.join(mnt, inst, "header.json")
        files0, _, _ = counters(m)
        size = os.stat(path).st_size
        body = read_in_requests(path, size)
        files1, _, _ = counters(m)
        report.check(f"header.json of {size} bytes (over the budget) read in {size // 4096 + 1} "
                     "requests is rendered whole once",
                     [] if size > 1 << 19 and len(body) == size and files1 - files0 == 1 else
                     [f"{files1 - files0} renders, {len(body)} of {size} bytes"])
        report.check("header.json holds the big value (InlineBinary of 00091011)",
                     b'"00091011"' in body and b"InlineBinary" in body)
        check_tail(report, m, mnt, [r[0] for r in rows if r[col] == tail_uid],
                   os.path.join(src, "tail", "tail.dcm"))
    finally:
        report.check("unmount", m.unmount())


def main():
    exe = os.path.abspath((sys.argv + [""])[1])
    return ml.run_test(__doc__, 3, "dicomfs-render-test.", WATCHDOG_SECONDS,
                       lambda report, tmp: run_checks(report, exe, tmp), needs=("pydicom",))


if __name__ == "__main__":
    sys.exit(main())
