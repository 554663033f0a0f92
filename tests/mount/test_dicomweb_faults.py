#!/usr/bin/python3
"""The DICOMweb source (issue 15) through a fault-injecting proxy in front of
a real Orthanc: servers that page, throttle, ask for credentials, write odd
Content-Types, cut bodies and die mid-transfer give the same tree and bytes,
or EIO (never ENOENT, never a partial file in the cache) and a mount that
recovers without a remount.

In a temporary folder: Orthanc 1.10 with its DICOMweb plugin on 127.0.0.1, a
free port (tests/web/orthanc.py; Debian's orthanc and orthanc-dicomweb,
scripts/setup-debian --tests), fed through POST /instances with a dozen of
pydicom's test files (python3-pydicom's test_files: one study with three
instances in one series, the others one each), a series of 160 copies of
CT_small.dcm (new SOP Instance UIDs: more rows than one page) and one 8 MB
instance, and scripts/make-series.py's s22 (3 multi-frame instances, one
series of 530 KB).  In front of it, in this process, a proxy (http.server's
ThreadingHTTPServer on 127.0.0.1, a free port; one kept-alive upstream
connection per thread) whose faults are switched while it runs (Proxy.set):

   page   QIDO-RS pages capped at 100 rows whatever `limit` asks, with
          `Warning: 299 proxy "There are N additional results that can be
          requested"`, and 204 No Content for the page past the end;
   busy   503 with Retry-After: 1 for the first 2 requests of each URL;
   auth   HTTP basic (alice, s3cret): 401 with WWW-Authenticate without it;
   ctype  the multipart Content-Type rewritten with a quoted ';' in its type
          parameter: multipart/related; type="application/dicom; x=1";
          boundary=...;
   cut    an instance's body ended (EOF-delimited, the connection closed)
          after its part's data, before the closing boundary;
   stall  the body of one instance (the 8 MB one) stopped half way until the
          test says, then the connection closed mid-body;
   noframes  WADO-RS frames (.../frames/N) answered 406 Not Acceptable.

Checks:
   0  a mount straight on Orthanc's DICOMweb URL (-o wait,noindex,noorthanc):
      its instances are Orthanc's (/statistics CountInstances) and its
      instance.dcm files the uploaded files, byte for byte;
      instance.dcm is always read as `cp` reads it: opened and read, with
      nothing else of its folder looked at first (its size is 0 until it is
      fetched: -o noorthanc gives no sizes), by 12 threads at once;
   1-4  through the proxy with each of page, busy, auth, ctype
      (-o wait,noindex,noorthanc, a fresh cache_dir each): the same relative
      paths of every entry down to the instance folders as the direct mount,
      every instance.dcm equal to its upload (paired by the SOPInstanceUID
      of the direct mount's instances.tsv), as straight on Orthanc; and
      1  the proxy saw a page asked with offset > 0, pages capped with the
         Warning, 204s; the status's `listed:` and instances.tsv count
         CountInstances; every instance asked with Accept-Encoding:
         identity, every QIDO listing with gzip;
      2  each of the first 8 URLs got two 503s then its answer, the others
         their answer at once; the status counts as many retries as 503s
         sent, and no failed request;
      3  without credentials (and with a wrong password) `dicomfs URL MNT`
         exits non-zero with one line on stderr that mentions 401, nothing
         mounted, no daemon left; with -o user=alice,password_file=F it
         mounts, and the password is not in the daemon's /proc/PID/cmdline
         nor in `ps`;
      4  every instance answer had its Content-Type rewritten;
   5  cut: reading an instance.dcm fails with EIO (errno 5) and no file is
      left in the cache folder; with the fault off the same mount reads it
      again, equal to the upload, and caches it;
   6  stall: while a read of the 8 MB instance.dcm is under way Orthanc is
      stopped (SIGTERM, by its pid) and the proxy closes the connection
      mid-body: the reader gets EIO within a bound (a hang guard only),
      never ENOENT; the tree still lists (the same paths); an instance never
      fetched fails with EIO; Orthanc started again on the same storage (a
      new port behind the same proxy): the same mount reads both, equal to
      the uploads;
   7  slow (every series and instances query 0.5 s), no -o wait: once the
      status says every study is listed the root lists every patient; the
      study and series a whole listing (part 1) reaches last, opened, list
      their instances whole before any other series' instances were asked
      for (run before 6);
   8  noframes, -o wait,noindex,orthanc,cache_gb=0.002 (Orthanc's sizes
      say s22 is too large to keep whole: its instances are brought as
      header copies): after s22's attribute files are
      read, frames/0002.raw and 0005.raw of each instance read equal to
      pydicom's frames; the proxy saw one frames request per instance
      known by its header copy, each answered 406, and none after (the
      instance read whole instead); the status counts them refused, and
      after 3 refusals says instances are read whole;
and finally that every mount was unmounted, the proxy and Orthanc stopped,
no process left.  The requests the proxy saw are shown after each part (all
of them with DICOMFS_TEST_VERBOSE=1).  Skips (77) without /dev/fuse,
pydicom or Orthanc with its DICOMweb plugin.

usage: test_dicomweb_faults.py DICOMFS SOURCE_ROOT
"""
import base64
import concurrent.futures
import copy
import errno
import hashlib
import http.client
import http.server
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.parse
import warnings

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
warnings.simplefilter("ignore", UserWarning)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "web"))
import mountlib as ml  # noqa: E402
import orthanc  # noqa: E402

WATCHDOG_SECONDS = 570  # meson's timeout is 600
PYDICOM_TEST_FILES = "/usr/lib/python3/dist-packages/pydicom/data/test_files"
FILES = ["CT_small.dcm", "MR_small.dcm", "J2K_pixelrep_mismatch.dcm", "SC_rgb_rle.dcm",
         "SC_rgb_dcmtk_+eb+cy+n1.dcm", "SC_rgb_small_odd.dcm", "SC_rgb_jpeg_dcmd.dcm",
         "rtplan.dcm", "rtdose.dcm", "liver_1frame.dcm", "waveform_ecg.dcm"]
COPIES = 160            # instances in one series: more than a page
PAGE_CAP = 100          # rows per QIDO page at most, through the proxy
BIG_SIDE = 2048         # the large instance: 2048 x 2048 x 16 bits, 8 MB of pixels
USER, PASSWORD = "alice", "s3cret"
GOOD_AUTH = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
READERS = 12            # instance.dcm read by this many threads at once
MOUNT_BASE = 300        # hang guard (base s) of a mount: busy's listing waits ~2 s per URL
STALL_SECONDS = 120     # the longest the proxy holds a stalled body
UPSTREAM_SECONDS = 120  # the proxy's timeout on Orthanc
OPTS = "wait,noindex,noorthanc"
SLOW_QUERY_S = 0.5     # the delay of each series or instances query in part 7
BUSY_URLS = 8          # part 2: the first so many URLs asked get two 503s each
QIDO_PATH = re.compile(r"/(studies|series|instances)$")
FRAMES_SERIES = "s22"  # scripts/make-series.py: 3 multi-frame instances, 530 KB
SMALL_CACHE_GB = "0.002"  # an eighth of it is less than s22


def errname(e):
    return f"{errno.errorcode.get(e.errno, e.errno)} ({e.strerror})"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# --- the proxy -------------------------------------------------------------------

class Proxy:
    """The fault-injecting proxy in front of Orthanc's HTTP port."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.lock = threading.Lock()
        self.faults = frozenset()
        self.stall_match = None   # a path part: the body of the answer to that stalls (once)
        self.stalled = threading.Event()
        self.cut_now = threading.Event()
        self.log = []             # one dict per request seen
        self.hits = {}            # path with query -> requests seen before
        self.local = threading.local()
        self.upstreams = set()    # every upstream connection open (closed by stop)
        self.server = ProxyServer(("127.0.0.1", 0), ProxyHandler)
        self.server.proxy = self
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/dicom-web"
        self.thread = threading.Thread(target=self.server.serve_forever, name="fault-proxy",
                                       daemon=True)
        self.thread.start()

    def set(self, *faults, stall=None):
        """Switch to these faults (none: a plain proxy); forget the log."""
        with self.lock:
            self.faults = frozenset(faults)
            self.stall_match = stall
            self.log = []
            self.hits = {}
        self.stalled.clear()
        self.cut_now.clear()

    def requests(self):
        with self.lock:
            return [dict(e) for e in self.log]

    def begin(self, path):
        """(faults, requests of path seen before, stall match, log entry)."""
        with self.lock:
            seen = self.hits.get(path, 0)
            self.hits[path] = seen + 1
            # the place of the URL among the distinct URLs asked, from 0
            entry = {"path": path, "status": None, "note": "", "url_index": len(self.hits) - 1
                     if seen == 0 else next(e["url_index"] for e in self.log if e["path"] == path)}
            self.log.append(entry)
            return self.faults, seen, self.stall_match, entry

    def forward(self, path, headers):
        """GET path from Orthanc on this thread's kept-alive connection
        (made again, and the request sent again once, when a reused one was
        dropped): (status, headers with lower-case names, body)."""
        for attempt in (0, 1):
            conn = getattr(self.local, "conn", None)
            fresh = conn is None or self.local.port != self.upstream_port
            if fresh:
                self.drop_upstream()
                conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port,
                                                  timeout=UPSTREAM_SECONDS)
                self.local.conn, self.local.port = conn, self.upstream_port
                with self.lock:
                    self.upstreams.add(conn)
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                got = {}
                for k, v in resp.getheaders():
                    k = k.lower()
                    got[k] = f"{got[k]}, {v}" if k in got else v
                if resp.will_close:
                    self.drop_upstream()
                return resp.status, got, body
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest, http.client.ResponseNotReady):
                self.drop_upstream()
                if fresh or attempt:
                    raise
            except BaseException:
                self.drop_upstream()
                raise
        raise AssertionError("unreachable")

    def drop_upstream(self):
        conn = getattr(self.local, "conn", None)
        if conn is not None:
            conn.close()
            with self.lock:
                self.upstreams.discard(conn)
        self.local.conn = None

    def stop(self):
        self.cut_now.set()
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            for conn in list(self.upstreams):
                conn.close()
            self.upstreams.clear()
        self.thread.join(10)


class ProxyServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        pass  # a client that went away, a connection cut on purpose


def boundary_of(ctype):
    m = re.search(r'boundary="?([^";]+)"?', ctype or "", re.I)
    return m.group(1) if m else None


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fault-proxy/1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        px = self.server.proxy
        faults, seen, stall, entry = px.begin(self.path)
        try:
            self.serve(px, faults, seen, stall, entry)
        except (BrokenPipeError, ConnectionResetError):
            entry["note"] += " (the client went away)"
            self.close_connection = True

    def answer(self, entry, status, body=b"", ctype="text/plain", headers=()):
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        entry["status"] = status
        entry["bytes"] = len(body) if status != 204 else 0
        if status != 204 and body:
            self.wfile.write(body)

    def serve(self, px, faults, seen, stall, entry):
        url = urllib.parse.urlsplit(self.path)
        entry["accept_encoding"] = self.headers.get("Accept-Encoding", "")
        if "auth" in faults:
            got = self.headers.get("Authorization")
            if got != GOOD_AUTH:
                entry["note"] = "no credentials" if got is None else "wrong credentials"
                return self.answer(entry, 401, b"credentials needed\n",
                                   headers=[("WWW-Authenticate", 'Basic realm="fault-proxy"')])
            entry["note"] = "credentials good"
        if "slow" in faults and re.search(r"/(series|instances)$", url.path):
            time.sleep(SLOW_QUERY_S)  # every series' and instances' query is slow
        if "busy" in faults and seen < 2 and entry["url_index"] < BUSY_URLS:
            return self.answer(entry, 503, b"busy, try again\n", headers=[("Retry-After", "1")])
        if "page" in faults and QIDO_PATH.search(url.path):
            return self.paged(px, url, entry)
        if "noframes" in faults and "/frames/" in url.path:
            entry["note"] = "frames refused"
            return self.answer(entry, 406, b"frames are not served here\n")
        headers = {"Accept": self.headers.get("Accept", "*/*")}
        try:
            status, got, body = px.forward(self.path, headers)
        except (OSError, http.client.HTTPException) as e:
            entry["note"] += f" upstream: {type(e).__name__}: {e}"
            return self.answer(entry, 502, f"Orthanc did not answer: {e}\n".encode())
        ctype = got.get("content-type", "application/octet-stream")
        extra = [("Warning", got["warning"])] if "warning" in got else []
        multipart = ctype.lower().startswith("multipart/") and status == 200
        if multipart:
            entry["multipart"] = True
        if multipart and "ctype" in faults:
            b = boundary_of(ctype)
            ctype = f'multipart/related; type="application/dicom; x=1"; boundary={b}'
            entry["note"] += " Content-Type rewritten"
        if multipart and "cut" in faults:
            return self.cut_before_boundary(entry, status, ctype, body)
        if multipart and stall is not None and stall in url.path:
            return self.stall_and_cut(px, entry, status, ctype, body)
        self.answer(entry, status, body, ctype, extra)

    def paged(self, px, url, entry):
        """A QIDO-RS page of at most PAGE_CAP rows from Orthanc's whole
        answer (asked without limit and offset); 204 past the end."""
        q = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
        limit = next((int(v) for k, v in q if k == "limit"), None)
        offset = next((int(v) for k, v in q if k == "offset"), 0)
        rest = [(k, v) for k, v in q if k not in ("limit", "offset")]
        path = url.path + ("?" + urllib.parse.urlencode(rest) if rest else "")
        try:
            status, got, body = px.forward(path, {"Accept": "application/dicom+json"})
        except (OSError, http.client.HTTPException) as e:
            entry["note"] = f"upstream: {type(e).__name__}: {e}"
            return self.answer(entry, 502, f"Orthanc did not answer: {e}\n".encode())
        if status not in (200, 204):
            return self.answer(entry, status, body, got.get("content-type", "text/plain"))
        rows = json.loads(body) if status == 200 and body.strip() else []
        cap = min(limit, PAGE_CAP) if limit else PAGE_CAP
        page = rows[offset:offset + cap]
        entry.update(limit=limit, offset=offset, rows=len(page), total=len(rows))
        if not page:
            return self.answer(entry, 204)
        more = len(rows) - offset - len(page)
        headers = []
        if more > 0:
            warning = f'299 proxy "There are {more} additional results that can be requested"'
            headers.append(("Warning", warning))
            entry["warning"] = warning
        self.answer(entry, 200, json.dumps(page).encode(), "application/dicom+json", headers)

    def cut_before_boundary(self, entry, status, ctype, body):
        """The part's data, then EOF: no closing boundary."""
        b = boundary_of(ctype)
        end = body.rfind(b"\r\n--" + b.encode() + b"--") if b else -1
        if end < 0:
            entry["note"] += " (no closing boundary found to cut: sent whole)"
            return self.answer(entry, status, body, ctype)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body[:end])
        entry.update(status=status, bytes=end,
                     note=entry["note"] + f" cut before the closing boundary: {end} of {len(body)} "
                                          "bytes, EOF-delimited")
        self.close_connection = True

    def stall_and_cut(self, px, entry, status, ctype, body):
        """Half the body (Content-Length says all of it), a wait for the
        test's word (or STALL_SECONDS), then the connection closed."""
        with px.lock:
            px.stall_match = None  # once
        half = len(body) // 2
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:half])
        entry.update(status=status, bytes=half,
                     note=entry["note"] + f" stalled after {half} of {len(body)} bytes")
        px.stalled.set()
        told = px.cut_now.wait(STALL_SECONDS)
        entry["note"] += ", then closed mid-body" + ("" if told else f" (after {STALL_SECONDS} s)")
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def show_requests(requests, title):
    """The proxy's requests, summed up (each with DICOMFS_TEST_VERBOSE)."""
    counts = {}
    for e in requests:
        counts[e["status"]] = counts.get(e["status"], 0) + 1
    print(f"proxy, {title}: {len(requests)} requests; statuses "
          + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=lambda kv: str(kv[0]))),
          flush=True)
    shown = requests if ml.VERBOSE else [e for e in requests if e["note"] or e["status"] != 200][:12]
    for e in shown:
        extra = "".join(f" {k}={e[k]}" for k in ("limit", "offset", "rows", "total") if k in e)
        print(f"  {e['status']} GET {e['path'][:160]}{extra}{(' -- ' + e['note'].strip()) if e['note'] else ''}",
              flush=True)


def describe_requests(requests, pred):
    return "; ".join(f"{e['status']} {e['path'][:120]} {e['note'].strip()}"
                     for e in requests if pred(e))[:1500] or "(none)"


# --- the test --------------------------------------------------------------------

def walk4(mp):
    """{relative path: is a folder} of every entry down to the instance
    folders (depth 4; .dicomfs, tags/ and volume/ not entered), and the
    instance folders."""
    entries = {}
    stack = [("", 0)]
    while stack:
        rel, depth = stack.pop()
        with os.scandir(os.path.join(mp, rel) if rel else mp) as it:
            for de in it:
                if depth == 0 and de.name == ".dicomfs":
                    continue
                child = f"{rel}/{de.name}" if rel else de.name
                is_dir = de.is_dir(follow_symlinks=False)
                entries[child] = is_dir
                if is_dir and depth + 1 < 4 and not (depth > 0 and de.name in ("tags", "volume")):
                    stack.append((child, depth + 1))
    instances = sorted(p for p, d in entries.items()
                       if d and p.count("/") == 3 and p.rsplit("/", 1)[1] not in ("tags", "volume"))
    return entries, instances


def read_instance(folder):
    """The bytes of folder/instance.dcm (opened and read: nothing else asked
    of the folder first)."""
    with open(os.path.join(folder, "instance.dcm"), "rb") as f:
        return f.read()


def read_one(mp, rel):
    """(sha256, size, None) of rel/instance.dcm, or (None, None, 'EIO (...)')."""
    try:
        data = read_instance(os.path.join(mp, rel))
        return sha256(data), len(data), None
    except OSError as e:
        return None, None, errname(e)


def read_all(mp, rels):
    """{rel: (sha256, size, error)} read by READERS threads."""
    with concurrent.futures.ThreadPoolExecutor(READERS) as ex:
        return dict(zip(rels, ex.map(lambda r: read_one(mp, r), rels)))


def cached_files(folder):
    out = []
    for dirpath, _, filenames in os.walk(folder):
        out += [os.path.join(dirpath, n) for n in filenames]
    return sorted(out)


STATUS_REQUESTS = re.compile(r"(\d+) \((\d+) retried, (\d+) failed\)")
STATUS_LISTED = re.compile(r"(\d+) studies, (\d+) series, (\d+) instances")


class FaultTest:
    def __init__(self, report, exe, repo, tmp):
        self.r = report
        self.exe, self.repo, self.tmp = exe, repo, tmp
        self.server = None
        self.proxy = None
        self.uploads = {}      # path -> sha256
        self.frame_files = []  # s22's files (part 8)
        self.by_sop = {}       # SOPInstanceUID -> uploaded path
        self.expected = {}     # instance folder (straight on Orthanc) -> uploaded path
        self.count = None      # Orthanc's CountInstances
        self.entries = None    # the direct mount's walk4
        self.instances = None
        self.password_file = os.path.join(tmp, "password")
        self.wrong_file = os.path.join(tmp, "wrong-password")

    def check(self, name, problems, note=""):
        return self.r.check(name, problems, note)

    # ------------------------------------------------------------ setup
    def make_corpus(self):
        import pydicom
        from pydicom.uid import generate_uid
        folder = os.path.join(self.tmp, "corpus")
        os.makedirs(folder)
        files = [os.path.join(PYDICOM_TEST_FILES, n) for n in FILES]
        src = pydicom.dcmread(os.path.join(PYDICOM_TEST_FILES, "CT_small.dcm"))
        series = generate_uid(entropy_srcs=["dicomfs fault test", "copies"])
        for k in range(COPIES):
            ds = copy.deepcopy(src)
            ds.SeriesInstanceUID = series
            ds.SeriesNumber = 900
            ds.SOPInstanceUID = generate_uid(entropy_srcs=["dicomfs fault test", "copy", str(k)])
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.InstanceNumber = k + 1
            path = os.path.join(folder, f"copy-{k:03d}.dcm")
            ds.save_as(path, write_like_original=True)
            files.append(path)
        ds = copy.deepcopy(src)
        ds.SeriesInstanceUID = generate_uid(entropy_srcs=["dicomfs fault test", "large"])
        ds.SeriesNumber = 901
        ds.SOPInstanceUID = generate_uid(entropy_srcs=["dicomfs fault test", "large", "1"])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.Rows = ds.Columns = BIG_SIDE
        ds.PixelData = bytes(range(256)) * (BIG_SIDE * BIG_SIDE * 2 // 256)
        self.big = os.path.join(folder, "large.dcm")
        self.big_series = ds.SeriesInstanceUID  # alone in its series
        ds.save_as(self.big, write_like_original=True)
        files.append(self.big)
        rc, _, err = ml.run([sys.executable, os.path.join(self.repo, "scripts", "make-series.py"),
                             folder, FRAMES_SERIES], timeout=ml.scaled(300))
        frames = os.path.join(folder, FRAMES_SERIES)
        self.frame_files = sorted(os.path.join(frames, n) for n in os.listdir(frames)) if rc == 0 else []
        if rc != 0:
            print(f"make-series.py {FRAMES_SERIES}: exit {rc}: {err.strip()[-300:]}", flush=True)
        return files + self.frame_files

    def setup(self):
        files = self.make_corpus()
        for path, text in ((self.password_file, PASSWORD + "\n"), (self.wrong_file, "nope\n")):
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o600)
        self.server = orthanc.Orthanc(os.path.join(self.tmp, "orthanc"))
        try:
            self.server.start()
        except orthanc.OrthancError as e:
            self.check("setup: Orthanc started on 127.0.0.1 (GET /system answers)", [str(e)])
            return False
        self.check("setup: Orthanc started on 127.0.0.1 (GET /system answers)", [],
                   f"{self.server.url}, pid {self.server.pid}, version "
                   f"{self.server.system.get('Version')}")
        t0 = time.monotonic()
        ups = self.server.upload_files(files)
        problems = [repr(u) for u in ups if not (u.accepted and u.status == "Success")]
        import pydicom
        for u in ups:
            self.uploads[u.path] = sha256(ml.read_bytes(u.path))
            sop = str(pydicom.dcmread(u.path, stop_before_pixels=True).SOPInstanceUID)
            if sop in self.by_sop:
                problems.append(f"{u.path}: the SOPInstanceUID of {self.by_sop[sop]}")
            self.by_sop[sop] = u.path
        try:
            self.count = self.server.get_json("/statistics")["CountInstances"]
        except (orthanc.OrthancError, OSError, KeyError) as e:
            problems.append(f"GET /statistics: {e}")
        if self.count is not None and self.count != len(files):
            problems.append(f"/statistics CountInstances {self.count}, {len(files)} files uploaded")
        self.check("setup: every file stored by Orthanc (POST /instances: Success; "
                   "/statistics CountInstances)", problems,
                   f"{len(files)} files, {self.count} instances, {time.monotonic() - t0:.1f} s")
        if problems:
            return False
        self.proxy = Proxy(self.server.orthanc_port)
        print(f"proxy: {self.proxy.url} -> 127.0.0.1:{self.server.orthanc_port}", flush=True)
        return True

    # ------------------------------------------------------------ mounts
    def mount(self, url, name, extra="", label=None, foreground=True, base=OPTS):
        mp = os.path.join(self.tmp, name)
        opts = f"{base},cache_dir={os.path.join(self.tmp, 'cache-' + name)}" + extra
        m = ml.Mount(self.exe, url, mp, foreground=foreground, args=["-o", opts],
                     log_dir=self.tmp, wait_scan=True)
        label = label or f"{name}: dicomfs -o {OPTS},cache_dir=... {'PROXY' if url != self.server.dicomweb else 'ORTHANC'}"
        try:
            m.start(timeout=MOUNT_BASE)
        except ml.MountError as e:
            log = m.log().strip().replace("\n", " | ")[-600:]
            self.check(label, [f"{e}" + (f"; log: {log}" if log and log not in str(e) else "")])
            return None
        self.check(label, [], f"{m.start_seconds:.1f} s")
        return m

    def folder_of(self, path):
        """The instance folder of an uploaded file (straight on Orthanc)."""
        return next(rel for rel, p in self.expected.items() if p == path)

    def unmount(self, m, what):
        self.check(f"{what}: unmounted, dicomfs exited", m.unmount())

    def status(self, m):
        try:
            return m.status()
        except OSError as e:
            return {"error": errname(e)}

    # ------------------------------------------------------------ 0: straight on Orthanc
    def direct(self):
        """The direct mount: its tree (the reference of 1-4 and 6), each
        instance folder's upload (by its SOPInstanceUID in instances.tsv),
        and its instance.dcm files against the uploads."""
        m = self.mount(self.server.dicomweb, "direct",
                       label=f"0 mount straight on Orthanc: dicomfs -o {OPTS} ORTHANC/dicom-web")
        if m is None:
            return False
        try:
            self.entries, self.instances = walk4(m.mp)
            header, rows, problems = ml.read_tsv(os.path.join(m.mp, ".dicomfs", "instances.tsv"))
            for row in rows:
                path = self.by_sop.get(row.get("SOPInstanceUID"))
                if path is None:
                    problems.append(f"{row['path']}: SOPInstanceUID {row.get('SOPInstanceUID')!r} "
                                    "is no uploaded file's")
                else:
                    self.expected[row["path"]] = path
            missing = sorted(set(self.instances) - set(self.expected))
            problems += [f"{rel}: not in instances.tsv" for rel in missing]
            if len(self.instances) != self.count or len(rows) != self.count:
                problems.append(f"{len(self.instances)} instance folders, {len(rows)} rows in "
                                f"instances.tsv, Orthanc has {self.count}")
            self.check("0 straight on Orthanc: one instance folder per Orthanc instance, each an "
                       "uploaded file's (instances.tsv's SOPInstanceUID)", problems,
                       f"{len(self.instances)} instances, {len(self.entries)} entries")
            _, srows, sproblems = ml.read_tsv(os.path.join(m.mp, ".dicomfs", "series.tsv"))
            problems += sproblems
            self.series_path = {r["SeriesInstanceUID"]: r["path"] for r in srows}
            self.same_bytes(m, self.instances, "0 straight on Orthanc")
            st = self.status(m)
            print(f"direct mount's status: requests: {st.get('requests')}; listed: {st.get('listed')}; "
                  f"cache: {st.get('cache')}", flush=True)
        finally:
            self.unmount(m, "0 the direct mount")
        return not problems

    # ------------------------------------------------------------ 1-4
    def same_as_direct(self, m, tag):
        """The tree and the instance.dcm files equal the direct mount's."""
        try:
            entries, instances = walk4(m.mp)
        except OSError as e:
            self.check(f"{tag}: the same tree as straight on Orthanc", [f"walk: {errname(e)}"])
            return
        problems = [f"only through the proxy: {p}" for p in sorted(set(entries) - set(self.entries))]
        problems += [f"only straight on Orthanc: {p}" for p in sorted(set(self.entries) - set(entries))]
        problems += [f"{p}: a folder in one, not the other" for p in sorted(set(entries) & set(self.entries))
                     if entries[p] != self.entries[p]]
        self.check(f"{tag}: the same relative paths down to the instance folders as straight "
                   "on Orthanc", problems, f"{len(entries)} entries, {len(instances)} instances")
        self.same_bytes(m, instances, tag)

    def same_bytes(self, m, instances, tag):
        """Every instance.dcm (opened and read, nothing else asked of its
        folder first) equal to its upload."""
        t0 = time.monotonic()
        got = read_all(m.mp, instances)
        problems = []
        for rel, (s, size, err) in sorted(got.items()):
            path = self.expected.get(rel)
            if err:
                problems.append(f"{rel}/instance.dcm: {err}")
            elif path is None:
                problems.append(f"{rel}/instance.dcm: no instance of that path straight on Orthanc")
            elif s != self.uploads[path]:
                problems.append(f"{rel}/instance.dcm: {size} bytes read, the upload "
                                f"({os.path.basename(path)}) has {os.path.getsize(path)}")
        self.check(f"{tag}: every instance.dcm byte-identical to the uploaded file (as straight "
                   "on Orthanc)", problems, f"{len(got)} read in {time.monotonic() - t0:.1f} s")

    def scenario(self, tag, faults, what, extra=""):
        self.proxy.set(*faults)
        m = self.mount(self.proxy.url, f"proxy-{faults[0]}", extra=extra,
                       label=f"{tag} mount through the proxy ({what}): dicomfs -o {OPTS}"
                             f"{extra.replace(self.tmp, 'TMP')} PROXY")
        if m is None:
            show_requests(self.proxy.requests(), f"{tag} {faults}")
            return None, []
        try:
            self.same_as_direct(m, tag)
            st = self.status(m)
            requests = self.proxy.requests()
            show_requests(requests, f"{tag} {faults}")
            print(f"{tag} status: requests: {st.get('requests')}; listed: {st.get('listed')}; "
                  f"last server error: {st.get('last server error', '-')}", flush=True)
            if faults[0] == "page":
                self.check_paging(m, st, requests)
                # The order a whole listing asks for series' instances (part 7).
                self.crawl_order = [q.group(1) for q in (
                    re.search(r"/series/([^/?]+)/instances(\?|$)", e["path"]) for e in requests)
                    if q]
            elif faults[0] == "busy":
                self.check_busy(st, requests)
                self.check_encodings(requests)
            elif faults[0] == "ctype":
                wado = [e for e in requests if e.get("multipart")]
                bad = [e for e in wado if "rewritten" not in e["note"]]
                self.check("4 every multipart answer (WADO-RS) had its Content-Type rewritten with "
                           "the quoted ';'", ["no multipart answer"] if not wado else
                           [describe_requests(bad, lambda e: True)] if bad else [],
                           f"{len(wado)} answers")
            return m, requests
        finally:
            self.unmount(m, f"{tag} the mount through the proxy ({what})")

    def check_paging(self, m, st, requests):
        pages = [e for e in requests if "offset" in e]
        problems = []
        later = [e for e in pages if e["offset"] > 0 and e["rows"] > 0]
        if not later:
            problems.append("no page asked with offset > 0 got rows")
        capped = [e for e in pages if (e["limit"] is None or e["limit"] > PAGE_CAP)
                  and e["rows"] == PAGE_CAP and "warning" in e]
        if not capped:
            problems.append(f"no page capped at {PAGE_CAP} rows with a Warning")
        if not any(e["status"] == 204 for e in pages):
            problems.append("no 204 for a page past the end")
        big = [e for e in pages if e["total"] > PAGE_CAP]
        self.check("1 the proxy saw pages asked with offset > 0, pages capped at 100 with a "
                   "Warning, 204 past the end", problems,
                   f"{len(pages)} pages; offsets asked past the first: "
                   f"{sorted({e['offset'] for e in later})[:6]}; "
                   f"largest answer {max([e['total'] for e in big] or [0])} rows")
        problems = []
        m_listed = STATUS_LISTED.search(st.get("listed", ""))
        if not m_listed:
            problems.append(f"status listed: {st.get('listed')!r}")
        elif int(m_listed.group(3)) != self.count:
            problems.append(f"status listed: {m_listed.group(3)} instances, Orthanc has {self.count}")
        try:
            text = ml.read_text(os.path.join(m.mp, ".dicomfs", "instances.tsv"))
            rows = len(text.splitlines()) - 1
            if rows != self.count:
                problems.append(f"instances.tsv: {rows} rows, Orthanc has {self.count}")
        except OSError as e:
            problems.append(f"instances.tsv: {errname(e)}")
        self.check("1 the listing is complete: the status's listed: and instances.tsv count "
                   "Orthanc's CountInstances", problems, f"{self.count} instances")

    def check_encodings(self, requests):
        """Listings are asked gzip'ed, instances (WADO-RS, multipart) not:
        a server compressing them on the fly is slower than the wire."""
        wado = [e for e in requests if e.get("multipart")]
        qido = [e for e in requests if QIDO_PATH.search(urllib.parse.urlsplit(e["path"]).path)]
        problems = [f"{e['path'][:90]}: Accept-Encoding {e['accept_encoding']!r}" for e in wado
                    if e["accept_encoding"] != "identity"][:3]
        problems += [f"{e['path'][:90]}: Accept-Encoding {e['accept_encoding']!r}" for e in qido
                     if "gzip" not in e["accept_encoding"]][:3]
        if not wado or not qido:
            problems.append(f"{len(wado)} multipart answers, {len(qido)} QIDO requests seen")
        self.check("1 instances asked not gzip'ed (Accept-Encoding: identity), QIDO listings "
                   "gzip'ed", problems, f"{len(wado)} instance requests, {len(qido)} QIDO")

    def check_busy(self, st, requests):
        seq = {}
        for e in requests:
            seq.setdefault(e["path"], []).append(e["status"])
        busy = {e["path"] for e in requests if e["url_index"] < BUSY_URLS}
        problems = [f"{p[:120]}: {s}" for p, s in sorted(seq.items())
                    if (p in busy and (s[:2] != [503, 503] or len(s) != 3)) or
                    (p not in busy and len(s) != 1) or s[-1] not in (200, 204)]
        if len(busy) < BUSY_URLS:
            problems.append(f"only {len(busy)} URLs asked")
        n503 = sum(s.count(503) for s in seq.values())
        self.check(f"2 each of the first {BUSY_URLS} URLs answered after exactly two 503s "
                   "(Retry-After: 1 honoured, no URL given up), the others at once", problems,
                   f"{len(seq)} URLs, {n503} 503s")
        problems = []
        m_req = STATUS_REQUESTS.search(st.get("requests", ""))
        if not m_req:
            problems.append(f"status requests: {st.get('requests')!r}")
        else:
            retried, failed = int(m_req.group(2)), int(m_req.group(3))
            if retried < n503:
                problems.append(f"status: {retried} retried, the proxy sent {n503} 503s")
            if failed:
                problems.append(f"status: {failed} failed")
        self.check("2 the status counts the retries (at least one per 503), no failed request",
                   problems, f"requests: {st.get('requests')}")

    # ------------------------------------------------------------ 3: credentials
    def auth(self):
        self.proxy.set("auth")
        for what, extra in (("no credentials", ""),
                            ("a wrong password", f",user={USER},password_file={self.wrong_file}")):
            name = "auth-none" if not extra else "auth-wrong"
            mp = os.path.join(self.tmp, name)
            os.makedirs(mp)
            opts = f"{OPTS},cache_dir={os.path.join(self.tmp, 'cache-' + name)}{extra}"
            m = ml.Mount(self.exe, self.proxy.url, mp, foreground=False, args=["-o", opts],
                         log_dir=self.tmp, wait_scan=False)
            rc, out, err = ml.run(m.argv(), timeout=ml.Bound(ml.MOUNT_SECONDS, self.exe).seconds)
            problems = []
            pids = m.find_daemon()
            if ml.mount_count(mp) or pids:
                problems.append(f"mounted anyway (daemon {pids})")
                m.pid = pids[0] if pids else None
                ml.Mount.all_pids.extend(pids)
                ml.Mount.live.append(m)
                m.stop()
            lines = [l for l in (out.decode("utf-8", "replace") + err).splitlines() if l.strip()]
            if rc in (0, None):
                problems.append(f"exit status {rc}")
            if len(lines) != 1:
                problems.append(f"{len(lines)} lines of output: {lines[:4]}")
            if not any("401" in l for l in lines):
                problems.append(f"no line mentions 401: {lines[:4]}")
            if any(PASSWORD in l for l in lines):
                problems.append("the password is in the output")
            self.check(f"3 with {what}, `dicomfs -o {OPTS}... PROXY MNT` fails: non-zero exit, "
                       "one line on stderr that mentions 401, nothing mounted", problems,
                       f"exit {rc}: {lines[0] if lines else ''}")
        show_requests(self.proxy.requests(), "3 auth, refused mounts")
        # The mount with credentials: a daemon (not -f), to look at its command line.
        self.proxy.set("auth")
        extra = f",user={USER},password_file={self.password_file}"
        m = self.mount(self.proxy.url, "proxy-auth", extra=extra, foreground=False,
                       label=f"3 mount through the proxy (basic auth): dicomfs -o {OPTS},user={USER},"
                             "password_file=TMP/password PROXY MNT (a daemon)")
        if m is None:
            show_requests(self.proxy.requests(), "3 auth")
            return
        try:
            problems = []
            try:
                with open(f"/proc/{m.pid}/cmdline", "rb") as f:
                    cmdline = f.read()
                if PASSWORD.encode() in cmdline:
                    problems.append(f"in /proc/{m.pid}/cmdline: {cmdline!r}")
                if os.path.basename(self.password_file).encode() not in cmdline:
                    problems.append(f"/proc/{m.pid}/cmdline is not the daemon's: {cmdline!r}")
            except OSError as e:
                problems.append(f"/proc/{m.pid}/cmdline: {errname(e)}")
            rc, out, err = ml.run(["ps", "-ww", "-o", "args=", "-p", str(m.pid)], timeout=30)
            if rc != 0 or not out.strip():
                problems.append(f"ps -p {m.pid}: exit {rc}: {err.strip()}")
            elif PASSWORD.encode() in out:
                problems.append(f"in ps: {out.decode(errors='replace').strip()}")
            self.check("3 the password is not on the daemon's command line (/proc/PID/cmdline, "
                       "ps -ww)", problems, f"pid {m.pid}")
            self.same_as_direct(m, "3")
            requests = self.proxy.requests()
            show_requests(requests, "3 auth")
            good = [e for e in requests if e["note"] == "credentials good"]
            bad = [e for e in requests if e["status"] == 401]
            self.check("3 every request of the mount with credentials carried them (no 401)",
                       [describe_requests(bad, lambda e: True)] if bad or not good else [],
                       f"{len(good)} requests")
        finally:
            self.unmount(m, "3 the mount through the proxy (basic auth)")

    # ------------------------------------------------------------ 5: a body cut
    def cut(self):
        rel = self.folder_of(os.path.join(PYDICOM_TEST_FILES, "CT_small.dcm"))
        want = ml.read_bytes(os.path.join(PYDICOM_TEST_FILES, "CT_small.dcm"))
        self.proxy.set()
        m = self.mount(self.proxy.url, "proxy-cut",
                       label=f"5 mount through the proxy (bodies to be cut): dicomfs -o {OPTS} PROXY")
        if m is None:
            return
        cache = os.path.join(self.tmp, "cache-proxy-cut")
        folder = os.path.join(m.mp, rel)
        try:
            self.proxy.set("cut")
            t0 = time.monotonic()
            data, err = None, None
            try:
                data = read_instance(folder)
            except OSError as e:
                err = e
            took = time.monotonic() - t0
            requests = self.proxy.requests()
            show_requests(requests, "5 cut")
            cuts = [e for e in requests if "cut before" in e["note"]]
            problems = [] if cuts else [f"the proxy cut no body: {describe_requests(requests, lambda e: True)}"]
            if err is None:
                problems.append(f"read {len(data)} bytes ({'the whole file' if data == want else 'not the file'})")
            elif err.errno != errno.EIO:
                problems.append(f"{errname(err)}, expected EIO")
            self.check("5 an instance body cut before its closing boundary: the read fails with "
                       "EIO (errno 5)", problems,
                       f"{errname(err) if err else 'no error'} after {took:.2f} s, "
                       f"{len(cuts)} cut answer(s)")
            left = cached_files(cache)
            self.check("5 nothing left in the cache folder after the cut body",
                       [f"in the cache: {p} ({os.path.getsize(p)} bytes)" for p in left],
                       os.path.relpath(cache, self.tmp))
            st = self.status(m)
            print(f"5 status: cache: {st.get('cache')}; last server error: "
                  f"{st.get('last server error', '-')}", flush=True)
            self.proxy.set()
            got, err = None, None
            try:
                got = read_instance(folder)
            except OSError as e:
                err = e
            problems = []
            if err is not None:
                problems.append(f"{rel}/instance.dcm: {errname(err)}")
            elif got != want:
                problems.append(f"{len(got)} bytes, the upload has {len(want)}, equal: {got == want}")
            left = cached_files(cache)
            if err is None and len(left) != 1:
                problems.append(f"{len(left)} files in the cache, expected 1")
            self.check("5 with the fault off the same mount reads it again (no remount), equal to "
                       "the upload, and caches it", problems,
                       f"{len(left)} file in the cache")
        finally:
            self.unmount(m, "5 the mount through the proxy (bodies cut)")

    # ------------------------------------------------------------ 8: frames refused
    def frames_refused(self):
        import pydicom
        if len(self.frame_files) != 3:
            self.check(f"8 setup: make-series.py {FRAMES_SERIES}", [f"{len(self.frame_files)} files"])
            return
        self.proxy.set("noframes")
        # On Orthanc (its sizes): s22 is known to be too large to keep whole
        m = self.mount(self.proxy.url, "proxy-noframes", extra=f",cache_gb={SMALL_CACHE_GB}",
                       base="wait,noindex,orthanc",
                       label=f"8 mount through the proxy (frames refused): dicomfs -o wait,noindex,"
                             f"orthanc,cache_gb={SMALL_CACHE_GB} PROXY")
        if m is None:
            return
        try:
            rels = [self.folder_of(p) for p in self.frame_files]
            for rel in rels:  # the attributes: header copies from the series' retrieve
                for dirpath, _, names in os.walk(os.path.join(m.mp, rel, "tags")):
                    for n in names:
                        ml.read_bytes(os.path.join(dirpath, n))
            problems = []
            for rel, path in zip(rels, self.frame_files):
                frames = pydicom.dcmread(path).pixel_array
                for k in (2, 5, 3):
                    try:
                        got = ml.read_bytes(os.path.join(m.mp, rel, "frames", f"{k:04d}.raw"))
                    except OSError as e:
                        problems.append(f"{rel}/frames/{k:04d}.raw: {errname(e)}")
                        continue
                    if got != frames[k - 1].astype("<i2").tobytes():
                        problems.append(f"{rel}/frames/{k:04d}.raw: not pydicom's frame {k}")
            requests = self.proxy.requests()
            show_requests(requests, "8 noframes")
            asked = [e for e in requests if "/frames/" in e["path"]]
            per = {}
            for e in asked:
                inst = e["path"].split("/frames/")[0]
                per[inst] = per.get(inst, 0) + 1
                if e["status"] != 406:
                    problems.append(f"{e['path']}: {e['status']}, not refused")
            if not asked or any(n != 1 for n in per.values()):
                problems.append(f"frames requests per instance: {sorted(per.values())} (want one each, "
                                "at least one)")
            st = self.status(m)
            line = st.get("frames fetched alone", "")
            refused = re.search(r"(\d+) refused", line)
            if refused is None or int(refused.group(1)) != len(asked) or not line.startswith("0 "):
                problems.append(f"status: frames fetched alone: {line!r} ({len(asked)} refused)")
            if len(asked) >= 3 and "instances read whole" not in line:
                problems.append(f"status after {len(asked)} refusals: {line!r}")
            self.check("8 frames refused (406): each frame read equal to pydicom's, from the "
                       "instance read whole; one frames request per instance known by its header "
                       "copy, none after its refusal; the status counts them refused", problems,
                       f"{len(asked)} frames requests for {len(per)} instances; status: {line}")
        finally:
            self.unmount(m, "8 the mount through the proxy (frames refused)")

    # ------------------------------------------------------------ 6: the server killed
    def killed(self):
        big_rel = self.folder_of(self.big)
        want_big = ml.read_bytes(self.big)
        other_rel = self.folder_of(os.path.join(self.tmp, "corpus", f"copy-{COPIES // 2:03d}.dcm"))
        want_other = ml.read_bytes(self.expected[other_rel])
        self.proxy.set()
        m = self.mount(self.proxy.url, "proxy-killed",
                       label=f"6 mount through the proxy (the server to be killed): dicomfs -o {OPTS} PROXY")
        if m is None:
            return
        try:
            self.killed_on(m, big_rel, want_big, other_rel, want_other)
        finally:
            self.unmount(m, "6 the mount through the proxy (server killed)")

    def killed_on(self, m, big_rel, want_big, other_rel, want_other):
        self.proxy.set(stall=self.big_series)
        result = {}

        def reader():
            t0 = time.monotonic()
            try:
                result["data"] = read_instance(os.path.join(m.mp, big_rel))
            except OSError as e:
                result["error"] = e
            result["took"] = time.monotonic() - t0

        th = threading.Thread(target=reader, name="large-read", daemon=True)
        t0 = time.monotonic()
        th.start()
        bound = ml.Bound(60, self.exe)
        ml.waiting_for("the proxy to stall the large instance's body")
        deadline = time.monotonic() + bound.seconds
        while not self.proxy.stalled.wait(0.05) and th.is_alive() and time.monotonic() < deadline:
            pass
        stalled = self.proxy.stalled.is_set()
        ml.waiting_for(None)
        self.check("6 the large instance.dcm read is under way (the proxy sent half its body and "
                   "holds the rest)", [] if stalled else
                   [f"not stalled after {time.monotonic() - t0:.1f} s ({bound}): "
                    f"{describe_requests(self.proxy.requests(), lambda e: True)}; "
                    f"reader: {result}"])
        problems = self.server.stop()
        self.check("6 Orthanc stopped mid-transfer (SIGTERM, by its pid)",
                   problems + ([f"pid {self.server.pid} alive"] if ml.pid_alive(self.server.pid) else []))
        self.proxy.cut_now.set()
        bound = ml.Bound(60, self.exe)
        ml.waiting_for("the large read to end after the cut")
        th.join(bound.seconds)
        ml.waiting_for(None)
        problems = []
        if th.is_alive():
            problems.append(f"the read still blocks {bound.seconds:.0f} s after the cut ({bound})")
        elif "error" not in result:
            data = result.get("data", b"")
            problems.append(f"read {len(data)} bytes (the whole file: {data == want_big})")
        elif result["error"].errno != errno.EIO:
            problems.append(f"{errname(result['error'])}, expected EIO")
        self.check("6 the reader of the large instance.dcm gets EIO (errno 5), never ENOENT, "
                   "in bounded time", problems,
                   f"{errname(result['error']) if 'error' in result else 'no error'}, the read took "
                   f"{result.get('took', float('nan')):.1f} s")
        show_requests(self.proxy.requests(), "6 the large read, Orthanc stopped")
        try:
            entries, instances = walk4(m.mp)
            problems = [f"only now: {p}" for p in sorted(set(entries) - set(self.entries))]
            problems += [f"gone: {p}" for p in sorted(set(self.entries) - set(entries))]
        except OSError as e:
            problems = [f"walk: {errname(e)}"]
            entries = {}
        self.check("6 with Orthanc down the tree still lists (the same paths down to the instance "
                   "folders)", problems, f"{len(entries)} entries")
        self.proxy.set()
        t0 = time.monotonic()
        s, size, err = read_one(m.mp, other_rel)
        took = time.monotonic() - t0
        problems = []
        if err is None:
            problems.append(f"read {size} bytes with Orthanc down")
        elif not err.startswith("EIO"):
            problems.append(f"{err}, expected EIO")
        bound = ml.Bound(60, self.exe)
        if took > bound.seconds:
            problems.append(f"took {took:.1f} s ({bound})")
        self.check("6 with Orthanc down an instance.dcm never fetched fails with EIO, never ENOENT",
                   problems, f"{err or 'no error'} after {took:.1f} s")
        st = self.status(m)
        print(f"6 status with Orthanc down: requests: {st.get('requests')}; last server error: "
              f"{st.get('last server error', '-')}", flush=True)
        try:
            self.server.start()
            self.proxy.upstream_port = self.server.orthanc_port
            count = self.server.get_json("/statistics")["CountInstances"]
            problems = [] if count == self.count else [f"CountInstances {count}, was {self.count}"]
        except (orthanc.OrthancError, OSError, KeyError) as e:
            problems = [str(e)]
        self.check("6 Orthanc started again on the same storage (behind the same proxy)", problems,
                   f"pid {self.server.pid}, 127.0.0.1:{self.server.orthanc_port}")
        if problems:
            return
        self.proxy.set()
        problems = []
        for rel, want in ((big_rel, want_big), (other_rel, want_other)):
            try:
                data = read_instance(os.path.join(m.mp, rel))
                if data != want:
                    problems.append(f"{rel}/instance.dcm: {len(data)} bytes, the upload has {len(want)}")
            except OSError as e:
                problems.append(f"{rel}/instance.dcm: {errname(e)}")
        self.check("6 Orthanc back: the same mount (no remount) reads the large instance and the "
                   "one never fetched, equal to the uploads", problems)
        show_requests(self.proxy.requests(), "6 Orthanc back")

    # ------------------------------------------------------------ the test
    # ------------------------------------------------------------ 7: folders listed when opened
    def lazy(self):
        """Without -o wait, the root and every study are shown once the
        studies are listed; a study and a series opened before the
        background listing reaches them are listed next, ahead of the rest.
        The proxy makes every series and instances query slow, and the
        series opened is the one a whole listing (part 1) asks last."""
        order = [u for u in dict.fromkeys(getattr(self, "crawl_order", []))
                 if u in getattr(self, "series_path", {})]
        if len(order) < 3:
            self.check("7 a series to open (the last a whole listing asks for)",
                       [f"part 1 listed {len(order)} series through the proxy"])
            return
        target = order[-1]
        series_rel = self.series_path[target]
        want = sorted(os.path.basename(rel) for rel in self.instances
                      if os.path.dirname(rel) == series_rel)
        self.proxy.set("slow")
        mp = os.path.join(self.tmp, "lazy")
        opts = f"noindex,noorthanc,ttl=0,cache_dir={os.path.join(self.tmp, 'cache-lazy')}"
        m = ml.Mount(self.exe, self.proxy.url, mp, args=["-o", opts], log_dir=self.tmp,
                     wait_scan=False)
        try:
            m.start(timeout=MOUNT_BASE)
        except ml.MountError as e:
            self.check("7 mount through the proxy, slow series and instances queries, no -o wait",
                       [str(e)])
            return
        try:
            bound = ml.Bound(MOUNT_BASE, self.exe)
            until = time.monotonic() + bound.seconds
            st = {}
            while "(all)" not in st.get("studies", "") and time.monotonic() < until:
                time.sleep(0.05)
                st = self.status(m)
            patients = [n for n in os.listdir(mp) if not n.startswith(".")]
            self.check("7 without -o wait, every study listed first: the root lists every patient "
                       "while series and instances are still to come",
                       [] if "(all)" in st.get("studies", "") and
                       len(patients) == len({r.split("/")[0] for r in self.instances}) else
                       [f"status {st.get('studies')!r}, {len(patients)} patients"],
                       f"{len(patients)} patients; {st.get('listed')}")
            study_rel = os.path.dirname(series_rel)
            problems = []
            try:
                os.listdir(os.path.join(mp, study_rel))  # the study: its series asked for now
                got = sorted(n for n in os.listdir(os.path.join(mp, series_rel))
                             if n not in ("tags", "volume"))
            except OSError as e:
                got, problems = [], [f"{series_rel}: {errname(e)}"]
            asked = [q.group(1) for q in (
                re.search(r"/series/([^/?]+)/instances(\?|$)", e["path"])
                for e in self.proxy.requests()) if q]
            listed_before = list(dict.fromkeys(asked))
            if got != want:
                problems.append(f"{series_rel}: {len(got)} instance folders listed, {len(want)} "
                                f"on Orthanc")
            if target not in listed_before:
                problems.append("its instances were never asked for")
            elif len(listed_before) >= len(order):
                problems.append(f"every series was listed before it ({len(listed_before)})")
            self.check("7 a study and a series opened before the background listing reaches them "
                       "are listed next, whole: the series a whole listing asks last is listed "
                       "while others are still to come", problems,
                       f"{len(got)} instances; {len(listed_before) - 1} of {len(order)} other "
                       f"series' instances asked for before it returned")
        finally:
            self.proxy.set()
            self.unmount(m, "7 the mount with slow queries")

    def run(self):
        try:
            if not self.setup():
                return
            self.direct()
            if not self.expected:
                return
            self.scenario("1", ["page"], f"QIDO pages capped at {PAGE_CAP}, Warning, 204 at the end")
            self.scenario("2", ["busy"], f"503 Retry-After: 1 twice for each of the first {BUSY_URLS} URLs")
            self.auth()
            self.scenario("4", ["ctype"], "a quoted ';' in the multipart type")
            self.cut()
            self.lazy()
            self.frames_refused()
            self.killed()
        finally:
            if self.proxy is not None:
                self.proxy.stop()
            if self.server is not None:
                problems = self.server.stop()
                self.check("the proxy and Orthanc stopped, no Orthanc process left", problems +
                           ([f"pid {self.server.pid} alive"] if ml.pid_alive(self.server.pid) else []))


def main():
    if len(sys.argv) == 3:
        why = orthanc.available()
        if why:
            print(f"SKIP: {why}")
            return 77

    def run_checks(report, tmp):
        FaultTest(report, os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), tmp).run()

    return ml.run_test(__doc__, 3, "dicomfs-web-faults.", WATCHDOG_SECONDS, run_checks,
                       needs=("pydicom",))


if __name__ == "__main__":
    sys.exit(main())
