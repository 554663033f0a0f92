#!/usr/bin/python3
"""A fake DICOMweb server that misbehaves the way real ones do, for the
transport and QIDO-RS unit tests (tests/test-http.c, tests/test-qido.c).

usage: fake_dicomweb.py BINARY [ARGS...]

Starts a threaded http.server on 127.0.0.1 (a free port) in this process,
writes credential files to a temporary folder, runs BINARY --tap ARGS with
DFS_FAKE_URL=http://127.0.0.1:PORT and DFS_FAKE_DIR=FOLDER, passes its TAP
output through, then stops the server, removes the folder and exits with
BINARY's status.  With the openssl command, the same server also listens
with TLS (DFS_FAKE_TLS_URL=https://127.0.0.1:PORT2) on a self-signed
certificate for 127.0.0.1 (FOLDER/tls-cert.pem), and FOLDER/other-ca.pem is
a certificate that did not sign it.  Nothing is left running: the server is a thread of this
process, and BINARY is killed if this script is.

Paths (each key makes an independent one-shot):
  /ok                        200 text, ETag; echoes an X-Dfs-Test header in the body
  /status/CODE               always CODE, with a short body
  /retry-after/KEY/N         503 with Retry-After: 1 the first N times, then 200
  /drop-fresh/KEY            the first time: the connection closed, no answer
  /drop-reused/KEY           the first time it comes on a reused connection:
                             closed with no answer
  /cut-head/KEY              the first time: headers (Content-Length 1000) only
  /cut-body                  always: 500 of the 1000 bytes announced
  /big/N                     N bytes
  /gzip                      100 KB of text, gzip'ed when asked
  /slow/MS                   answers after MS milliseconds
  /auth/basic                alice:s3cret, else 401
  /auth/bearer               token "tok-2"; "tok-1" rotates the token file and gets 401
  /qido/SCENARIO/studies     paged study rows; SCENARIO is k=v,... with
       n (rows), cap (rows per page at most), warn=1 (Warning: 299 on capped
       pages), end=204|empty|nobody (the page past the end), dup=1 (each page
       but the first starts with the previous row again), gzip=1, cut=OFFSET
       (that page cut short, EOF-delimited), fail=OFFSET (that page 503s),
       ignore=1 (offset ignored)
  /series/SCENARIO           a WADO-RS series retrieve (multipart/related,
       EOF-delimited as Orthanc's): n instances (Part 10, explicit VR LE,
       SOP Instance UID 1.2.826.0.1.3680043.8.498.99.K), each with px bytes
       of native Pixel Data (the byte 0x5A) and a trailing (FFFC,FFFC) of 8
       bytes "trailing"; delay=MS before each part, cut=K (EOF after K
       parts, before the delimiter after the K-th: no closing boundary)
  /frame/SCENARIO/frames/N   a WADO-RS frame: one part (parts=K: K) of
       size bytes (default 1000) of the byte N, its Content-Type media ('~'
       for '/': default application~octet-stream) with transfer-syntax=ts (ts=none: none);
       status=CODE answers CODE instead; cut=1 ends the body (EOF) before the
       closing boundary
  /hostile/bigstring         a row with a 100 MB string
  /hostile/deep              100,000 nested arrays in a row
  /hostile/deep-sq           1,000 nested sequences
  /hostile/html              text/html
  /_stats, /_reset           counters (not counted themselves)
"""
import base64
import gzip
import http.server
import json
import os
import shutil
import signal
import struct
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse


class State:
    def __init__(self, folder):
        self.folder = folder
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.epoch = getattr(self, "epoch", 0) + 1
            self.open_now = 0
            self.counters = {"opened": 0, "max_open": 0, "requests": 0, "dropped_reused": 0,
                             "gzip": 0}
            self.hits = {}
            self.last_query = ""

    def count(self, name, by=1):
        with self.lock:
            self.counters[name] = self.counters.get(name, 0) + by

    def hit(self, key):
        """How many times key was asked before (0 the first time)."""
        with self.lock:
            n = self.hits.get(key, 0)
            self.hits[key] = n + 1
            return n


def study_row(i):
    uid = f"1.2.826.0.1.3680043.99.{i}"
    return {"00080020": {"vr": "DA", "Value": ["20240101"]},
            "00100010": {"vr": "PN", "Value": [{"Alphabetic": f"Doe^Jane{i}"}]},
            "0020000D": {"vr": "UI", "Value": [uid]},
            "00201208": {"vr": "IS", "Value": [i]}}


def element(group, elem, vr, value):
    """One explicit VR little endian element."""
    if len(value) % 2:
        value += b"\0" if vr == b"UI" else b" "
    if vr in (b"OB", b"OW", b"SQ", b"UN", b"UT"):
        return struct.pack("<HH2sHI", group, elem, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", group, elem, vr, len(value)) + value


def part10(uid, px):
    """A CT image instance with px bytes of native Pixel Data (rows of 256
    16-bit samples) and 8 bytes of trailing padding."""
    sop_class = b"1.2.840.10008.5.1.4.1.1.2"
    meta = (element(0x0002, 0x0001, b"OB", b"\0\1") +
            element(0x0002, 0x0002, b"UI", sop_class) +
            element(0x0002, 0x0003, b"UI", uid.encode()) +
            element(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1"))
    meta = element(0x0002, 0x0000, b"UL", struct.pack("<I", len(meta))) + meta
    rows = px // 512
    data = (element(0x0008, 0x0016, b"UI", sop_class) +
            element(0x0008, 0x0018, b"UI", uid.encode()) +
            element(0x0028, 0x0002, b"US", struct.pack("<H", 1)) +
            element(0x0028, 0x0004, b"CS", b"MONOCHROME2") +
            element(0x0028, 0x0010, b"US", struct.pack("<H", rows)) +
            element(0x0028, 0x0011, b"US", struct.pack("<H", 256)) +
            element(0x0028, 0x0100, b"US", struct.pack("<H", 16)) +
            element(0x0028, 0x0101, b"US", struct.pack("<H", 16)) +
            element(0x0028, 0x0102, b"US", struct.pack("<H", 15)) +
            element(0x0028, 0x0103, b"US", struct.pack("<H", 0)) +
            element(0x7FE0, 0x0010, b"OW", b"\x5a" * (rows * 512)) +
            element(0xFFFC, 0xFFFC, b"OB", b"trailing"))
    return b"\0" * 128 + b"DICM" + meta + data


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-dicomweb/1"

    def setup(self):
        super().setup()
        self.served = 0
        self.counted_epoch = None

    def finish(self):
        st = self.server.state
        with st.lock:
            if self.counted_epoch == st.epoch:
                st.open_now -= 1
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, fmt, *args):
        pass

    def count_connection(self):
        st = self.server.state
        with st.lock:
            st.counters["requests"] += 1
            if self.counted_epoch != st.epoch:
                self.counted_epoch = st.epoch
                st.open_now += 1
                st.counters["opened"] += 1
                st.counters["max_open"] = max(st.counters["max_open"], st.open_now)

    def send(self, code, body=b"", ctype="text/plain", headers=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        for k, v in headers:
            self.send_header(k, v)
        if code != 204:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if code != 204:
            self.wfile.write(body)

    def drop(self):
        self.close_connection = True

    def do_GET(self):
        self.served += 1
        url = urllib.parse.urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        st = self.server.state
        if parts and parts[0].startswith("_"):
            return self.control(parts[0])
        self.count_connection()
        handler = getattr(self, "get_" + (parts[0].replace("-", "_") if parts else "root"), None)
        if handler is None:
            return self.send(404, b"no such path\n")
        try:
            handler(parts[1:], urllib.parse.parse_qs(url.query), st)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def control(self, what):
        st = self.server.state
        if what == "_reset":
            st.reset()
            return self.send(200, b"reset\n")
        with st.lock:
            text = "".join(f"{k} {v}\n" for k, v in st.counters.items())
            text += f"query {st.last_query}\n"
        self.send(200, text.encode())

    def get_ok(self, args, query, st):
        echo = self.headers.get("X-Dfs-Test")
        body = b"hello\n" + (f"echo {echo}\n".encode() if echo else b"")
        self.send(200, body, headers=[("ETag", '"abc"')])

    def get_status(self, args, query, st):
        code = int(args[0])
        self.send(code, f"boom {code}\nsecond line".encode())

    def get_retry_after(self, args, query, st):
        if st.hit("retry/" + args[0]) < int(args[1]):
            return self.send(503, b"busy\n", headers=[("Retry-After", "1")])
        self.send(200, b"after retries\n")

    def get_drop_fresh(self, args, query, st):
        if st.hit("fresh/" + args[0]) == 0:
            return self.drop()
        self.send(200, b"fresh\n")

    def get_drop_reused(self, args, query, st):
        if self.served > 1 and st.hit("reused/" + args[0]) == 0:
            st.count("dropped_reused")
            return self.drop()
        self.send(200, b"reused\n")

    def get_cut_head(self, args, query, st):
        if st.hit("head/" + args[0]) == 0:
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            return self.drop()
        self.send(200, b"x" * 1000)

    def get_cut_body(self, args, query, st):
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"y" * 500)
        self.drop()

    def get_big(self, args, query, st):
        n = int(args[0])
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(n))
        self.end_headers()
        block = b"z" * 65536
        while n > 0:
            self.wfile.write(block[:min(n, len(block))])
            n -= len(block)

    def get_gzip(self, args, query, st):
        body = b"".join(b"line %d of a compressible body\n" % k for k in range(3000))
        if "gzip" in self.headers.get("Accept-Encoding", ""):
            st.count("gzip")
            return self.send(200, gzip.compress(body), headers=[("Content-Encoding", "gzip")])
        self.send(200, body)

    def get_slow(self, args, query, st):
        time.sleep(int(args[0]) / 1000)
        self.send(200, b"slow\n")

    def get_auth(self, args, query, st):
        got = self.headers.get("Authorization", "")
        if args[0] == "basic":
            good = "Basic " + base64.b64encode(b"alice:s3cret").decode()
            if got == good:
                return self.send(200, b"welcome alice\n")
            return self.send(401, b"who are you\n",
                             headers=[("WWW-Authenticate", 'Basic realm="fake"')])
        if got == "Bearer tok-2":
            return self.send(200, b"welcome bearer\n")
        if got == "Bearer tok-1":  # the token was rotated: a new one is in the file
            with open(os.path.join(st.folder, "token"), "w") as f:
                f.write("tok-2\n")
        self.send(401, b"bad token\n", headers=[("WWW-Authenticate", "Bearer")])

    def get_qido(self, args, query, st):
        sc = dict(kv.split("=") for kv in args[0].split(",") if kv)
        n, cap = int(sc.get("n", 0)), int(sc.get("cap", 1 << 30))
        limit = int(query.get("limit", ["100"])[0])
        offset = 0 if sc.get("ignore") else int(query.get("offset", ["0"])[0])
        with st.lock:
            st.last_query = urllib.parse.urlsplit(self.path).query
        if str(offset) == sc.get("fail"):
            return self.send(503, b"page failed\n")
        rows = [study_row(i) for i in range(n)]
        if sc.get("dup"):  # page k > 0 starts with page k-1's last row again
            size = min(limit, cap)
            with_dups = []
            for row in rows:
                if with_dups and len(with_dups) % size == 0:
                    with_dups.append(with_dups[-1])
                with_dups.append(row)
            rows = with_dups
        page = rows[offset:offset + min(limit, cap)]
        if not page:
            end = sc.get("end", "empty")
            if end == "204":
                return self.send(204)
            return self.send(200, b"" if end == "nobody" else b"[]", ctype="application/dicom+json")
        headers = []
        more = len(rows) - offset - len(page)
        if sc.get("warn") and more > 0:
            headers.append(("Warning", f'299 127.0.0.1: "There are {more} additional results '
                                       'that can be requested"'))
        body = json.dumps(page).encode()
        if str(offset) == sc.get("cut"):  # EOF-delimited, cut in the middle
            self.send_response(200)
            self.send_header("Content-Type", "application/dicom+json")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            return self.drop()
        if sc.get("gzip") and "gzip" in self.headers.get("Accept-Encoding", ""):
            st.count("gzip")
            body = gzip.compress(body)
            headers.append(("Content-Encoding", "gzip"))
        self.send(200, body, ctype="application/dicom+json", headers=headers)

    def get_series(self, args, query, st):
        sc = dict(kv.split("=") for kv in args[0].split(",") if kv) if args else {}
        n, px = int(sc.get("n", 4)), int(sc.get("px", 65536 * 2))
        delay, cut = int(sc.get("delay", 0)) / 1000, int(sc.get("cut", -1))
        boundary = "fake-series-boundary"
        self.send_response(200)
        self.send_header("Content-Type", f'multipart/related; type="application/dicom"; '
                                         f'boundary={boundary}')
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for k in range(n):
            if k == cut:
                return
            time.sleep(delay)
            body = part10(f"1.2.826.0.1.3680043.8.498.99.{k}", px)
            self.wfile.write(f"--{boundary}\r\nContent-Type: application/dicom\r\n"
                             f"Content-Length: {len(body)}\r\n\r\n".encode() + body + b"\r\n")
            self.wfile.flush()
        self.wfile.write(f"--{boundary}--\r\n".encode())

    def get_frame(self, args, query, st):
        sc = dict(kv.split("=", 1) for kv in args[0].split(",") if kv) if args else {}
        if "status" in sc:
            return self.send(int(sc["status"]), b"not here\n")
        n = int(args[-1]) if len(args) >= 3 and args[-2] == "frames" else 0
        size, parts = int(sc.get("size", 1000)), int(sc.get("parts", 1))
        media = sc.get("media", "application~octet-stream").replace("~", "/")
        ts = sc.get("ts", "1.2.840.10008.1.2.1")
        ctype = media if ts == "none" else f"{media}; transfer-syntax={ts}"
        boundary = "fake-frame-boundary"
        body = b"".join(f"--{boundary}\r\nContent-Type: {ctype}\r\n\r\n".encode() +
                        bytes([n % 256]) * size + b"\r\n" for _ in range(parts))
        if not sc.get("cut"):
            body += f"--{boundary}--\r\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", f'multipart/related; type="{media}"; boundary={boundary}')
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        self.wfile.write(body)

    def get_hostile(self, args, query, st):
        kind = args[0]
        if kind == "html":
            return self.send(200, b"<html>login</html>", ctype="text/html")
        if kind == "deep":
            body = b'[{"00100010":{"vr":"PN","x":' + b"[" * 100000 + b"]" * 100000 + b"}}]"
            return self.send(200, body, ctype="application/dicom+json")
        if kind == "deep-sq":
            head = b'{"00081115":{"vr":"SQ","Value":[' * 1000
            tail = b"]}}" * 1000
            return self.send(200, b"[" + head + b"{}" + tail + b"]",
                             ctype="application/dicom+json")
        # bigstring: 100 MB in one JSON string, streamed
        head, tail = b'[{"00100010":{"vr":"LO","Value":["', b'"]}}]'
        size = 100 << 20
        self.send_response(200)
        self.send_header("Content-Type", "application/dicom+json")
        self.send_header("Content-Length", str(len(head) + size + len(tail)))
        self.end_headers()
        self.wfile.write(head)
        block = b"a" * 65536
        for _ in range(size // len(block)):
            self.wfile.write(block)
        self.wfile.write(tail)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        pass  # a client that went away mid-answer is part of the tests


def make_certificate(folder, name):
    """A self-signed certificate for 127.0.0.1: (cert, key), or None."""
    cert, key = (os.path.join(folder, f"{name}-{k}.pem") for k in ("cert", "key"))
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError):
        return None
    return cert, key


def start(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


def tls_server(folder, state):
    made = make_certificate(folder, "tls")
    other = make_certificate(folder, "other")
    if made is None or other is None:
        return None
    os.rename(other[0], os.path.join(folder, "other-ca.pem"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*made)
    server = Server(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.state = state
    return start(server)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    folder = tempfile.mkdtemp(prefix="dfs-fake-web-")
    for name, text in {"password": "s3cret\n", "userpass": "alice:s3cret\n", "token": "tok-1\n",
                       "wrong": "nope\n"}.items():
        path = os.path.join(folder, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
    server = Server(("127.0.0.1", 0), Handler)
    server.state = State(folder)
    start(server)
    servers = [server]
    env = dict(os.environ, DFS_FAKE_URL=f"http://127.0.0.1:{server.server_address[1]}",
               DFS_FAKE_DIR=folder)
    tls = tls_server(folder, server.state)
    if tls:
        servers.append(tls)
        env["DFS_FAKE_TLS_URL"] = f"https://127.0.0.1:{tls.server_address[1]}"
    child = subprocess.Popen([sys.argv[1], "--tap"] + sys.argv[2:], env=env)

    def stop(signum, frame):
        child.kill()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        status = child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for s in servers:
            s.shutdown()
            s.server_close()
        shutil.rmtree(folder, ignore_errors=True)
    return status if status >= 0 else 1


if __name__ == "__main__":
    sys.exit(main())
