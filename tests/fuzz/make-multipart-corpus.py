#!/usr/bin/python3
"""Write the seed corpus of fuzz-multipart (tests/fuzz/corpus/multipart/):
bodies as DICOMweb servers send them (an Orthanc instance with
Content-Length, frames under a quoted `type` holding ';', a series delimited
by the end of the connection) and the ways they go wrong (cut short, a
Content-Length too long, garbage after a delimiter, a header block over its
limit), each behind the input layout of tests/fuzz/fuzz-multipart.c: one
flags byte, the Content-Type value, LF, the body.

Deterministic: running it again gives the same files.

usage: make-multipart-corpus.py REPO_ROOT
"""
import os
import random
import shutil
import sys

RNG = random.Random(15)


def body(boundary, parts, preamble=b"", epilogue=b"", close=True):
    """parts: (headers, data, counted) each; headers as bytes of lines."""
    out = preamble + (b"\r\n" if preamble else b"")
    for headers, data, counted in parts:
        out += b"--" + boundary + b"\r\n" + headers
        if counted:
            out += b"Content-Length: %d\r\n" % len(data)
        out += b"\r\n" + data + b"\r\n"
    if close:
        out += b"--" + boundary + b"--" + epilogue
    return out


def noise(n):
    return bytes(RNG.randrange(256) for _ in range(n))


def seeds():
    uid = b"6e2f1f5c-0b7e-4f0e-9d3c-0f0a5a1b2c3d"
    dicom = b"\0" * 128 + b"DICM" + noise(200)
    inst = b'multipart/related; type="application/dicom"; boundary=' + uid
    frames = (b'multipart/related; type="application/octet-stream; '
              b'transfer-syntax=1.2.840.10008.1.2.1"; boundary=frames')
    tricky = (b"\r\n--frame\r\n--frames-\r--frames\n--frames\r\r\n--" + b"\r\n")
    yield "orthanc-instance", 0, inst, body(uid, [(b"Content-Type: application/dicom\r\n",
                                                  dicom, True)], epilogue=b"\r\n")
    yield "frames-jpeg", 7, frames, body(b"frames", [
        (b"Content-Type: image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.50\r\n",
         b"\xff\xd8" + noise(60) + b"\xff\xd9", True),
        (b"Content-Type: image/jpeg\r\n", b"\xff\xd8" + noise(40) + b"\xff\xd9", True)])
    yield "series-eof", 63, inst, body(uid, [
        (b"Content-Type: application/dicom\r\n", dicom, False),
        (b"Content-Type: application/dicom\r\n", dicom[:150], False),
        (b"", b"", False)])
    yield "tricky-data", 1, frames, body(b"frames", [(b"", tricky, False),
                                                     (b"", tricky + b"\r\n--frames\r\n", True)])
    yield "cut-short", 3, inst, body(uid, [(b"", dicom, True)])[:-30]
    yield "no-close", 5, inst, body(uid, [(b"", dicom, False)], close=False)
    long_cl = body(b"b", [(b"", b"short", True)]).replace(b"Length: 5", b"Length: 500")
    yield "length-too-long", 9, b"multipart/related; boundary=b", long_cl
    yield "garbage-after-delimiter", 11, b"multipart/related;boundary=b", \
        b"--b\r\n\r\none\r\n--bX\r\n\r\ntwo\r\n--b--"
    yield "preamble-epilogue-padding", 13, b"Multipart/Mixed; BOUNDARY=\"x\\=y\"; start=\"<a;b>\"", \
        (b"preamble --x= \r\n--x=y \t\r\nX-Folded: one\r\n two\r\nx-lf: bare\n\nA\r\n"
         b"--x=y\r\n\r\n\r\n--x=y--\r\nepilogue\r\n--x=y\r\n")
    yield "empty-parts", 2, b"multipart/related; boundary=e", \
        body(b"e", [(b"", b"", False), (b"", b"", True), (b"A: b\r\n", b"", False)])
    yield "no-parts", 4, b"multipart/related; boundary=e", b"--e--"
    yield "no-boundary", 6, b"application/dicom", body(b"dfs", [(b"", b"data", False)])
    yield "header-limit", 8, b"multipart/related; boundary=h", \
        b"--h\r\nX: " + b"v" * 16400 + b"\r\n\r\ndata\r\n--h--"
    headers = b"".join(b"X-%d: v\r\n" % k for k in range(70))
    yield "header-count", 10, b"multipart/related; boundary=h", body(b"h", [(headers, b"d", True)])
    yield "bad-content-type", 12, b'multipart/related; boundary="unterminated', b"--dfs--"


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    folder = os.path.join(root, "tests", "fuzz", "corpus", "multipart")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for name, flags, content_type, data in seeds():
        with open(os.path.join(folder, name + ".bin"), "wb") as f:
            f.write(bytes([flags]) + content_type + b"\n" + data)


if __name__ == "__main__":
    main()
