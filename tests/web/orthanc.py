"""A real Orthanc for the tests: started on 127.0.0.1 on a free port with a
configuration of its own in a temporary folder, fed through its REST API,
stopped by its pid.

    import orthanc
    with orthanc.Orthanc(workdir) as server:          # started, /system answers
        results = server.upload_files(paths)          # POST /instances, keep-alive
        url = server.dicomweb                         # http://127.0.0.1:PORT/dicom-web
        status, parts = server.wado_instance(st, se, sop)  # WADO-RS: what a client gets
    # stopped here, also on an exception

The configuration (Orthanc 1.10, Debian 12's `orthanc` and `orthanc-dicomweb`;
../shared/research/dicomweb.md section 5): no DICOM server, no remote access,
files stored as uploaded (StorageCompression false), the DICOMweb plugin at
/dicom-web/, and optionally HTTP basic users (`users={"alice": "s3cret"}`)
and TLS (`tls=True`: a self-signed certificate for 127.0.0.1 made with
openssl in the folder, `server.cafile` for the client).

TLS is served by a small TLS-terminating proxy in this process (TlsProxy:
a thread, 127.0.0.1, a free port) in front of Orthanc's plain HTTP port,
not by Orthanc itself: Debian 12's Orthanc 1.10.1 with "SslEnabled"
crashes on the first HTTPS request (a civetweb worker jumps to a NULL
OpenSSL function: "segfault at 0 ip 0"; TLS 1.3 kills the process, TLS 1.2
gets the connection reset).  The DICOMweb plugin is told the public address
("Host", "Ssl") so that the URLs it returns are the https ones.  A proxy can
also be put in front of a server already running:
TlsProxy(*make_certificate(folder)).start(server.orthanc_port).

Nothing is left running: the server is stopped (SIGTERM, then SIGKILL) by its
pid on leaving the `with` block, by stop(), and at interpreter exit; and it
gets SIGTERM from the kernel (PR_SET_PDEATHSIG) if this process dies without
stopping it (a watchdog's os._exit, a SIGKILL).  Only the process started
here is ever signalled.

Wall-clock bounds here are hang guards only (generous), never a measure of
speed.  Only the Python standard library is used (http.client, no requests).
"""

import atexit
import base64
import ctypes
import http.client
import json
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time

ORTHANC = "/usr/sbin/Orthanc"
DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
START_SECONDS = 120   # hang guard: GET /system answering after the start
STOP_SECONDS = 60     # hang guard: the process gone after SIGTERM
REQUEST_SECONDS = 300  # hang guard: one HTTP request (an upload, a large answer)

_running = []  # servers started and not yet stopped (stopped at exit)


class OrthancError(Exception):
    pass


def available():
    """'' when Orthanc and its DICOMweb plugin are installed, else why not."""
    for path in (ORTHANC, DICOMWEB_PLUGIN):
        if not os.path.exists(path):
            return f"no {path} (scripts/setup-debian --tests installs orthanc orthanc-dicomweb)"
    return ""


def free_port():
    """A TCP port free on 127.0.0.1 now (Orthanc binds it a moment later:
    start() retries with another if it was taken meanwhile)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    """In the child before exec: SIGTERM when the process that started it
    dies (prctl PR_SET_PDEATHSIG)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except Exception:  # noqa: BLE001 - best effort; stop() and atexit remain
        pass


def _stop_all_at_exit():
    for server in list(_running):
        server.stop()


atexit.register(_stop_all_at_exit)


def make_certificate(folder, stem="tls"):
    """A self-signed certificate for 127.0.0.1 (CN and IP SAN, a CA of its
    own) made with openssl in folder: (STEM-cert.pem, STEM-key.pem)."""
    if shutil.which("openssl") is None:
        raise OrthancError("a certificate needs the openssl command")
    os.makedirs(folder, exist_ok=True)
    key = os.path.join(folder, f"{stem}-key.pem")
    cert = os.path.join(folder, f"{stem}-cert.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1",
                        "-addext", "basicConstraints=critical,CA:TRUE"],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise OrthancError(f"openssl req failed ({r.returncode}): {r.stderr.strip()[:300]}")
    return cert, key


def multipart_parts(content_type, body):
    """The bodies of a multipart/related answer's parts (their own headers
    left out), in order; [] when content_type names no boundary."""
    boundary = None
    for param in content_type.split(";")[1:]:
        k, _, v = param.strip().partition("=")
        if k.strip().lower() == "boundary":
            boundary = v.strip().strip('"')
    if not boundary:
        return []
    delim = b"--" + boundary.encode("latin-1")
    parts = []
    chunks = body.split(b"\r\n" + delim)
    first = chunks[0]
    if first.startswith(delim):  # no preamble
        chunks[0] = first[len(delim):]
    else:  # a preamble before the first delimiter
        chunks = chunks[1:]
    for chunk in chunks:
        if chunk.startswith(b"--"):  # the close delimiter
            break
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if sep:
            parts.append(data)
    return parts


class TlsProxy:
    """HTTPS on 127.0.0.1:port (a free port) relayed byte for byte to plain
    HTTP on 127.0.0.1:backend_port: one thread accepting, one per
    connection.  The backend closing its side (Orthanc's EOF-delimited
    bodies) ends the TLS stream with a close_notify, so that the client can
    tell the end of the body from a cut."""

    def __init__(self, certfile, keyfile):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certfile, keyfile)
        self.backend_port = None
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.stopping = False
        self.lock = threading.Lock()
        self.socks = set()
        self.threads = []
        self.connections = 0

    def start(self, backend_port):
        self.backend_port = backend_port
        t = threading.Thread(target=self._accept, name="tls-proxy", daemon=True)
        t.start()
        self.threads.append(t)

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                if self.stopping:
                    conn.close()
                    return
                self.socks.add(conn)
                self.connections += 1
                t = threading.Thread(target=self._relay, args=(conn,), name="tls-relay", daemon=True)
                self.threads.append(t)
            t.start()

    def _relay(self, conn):
        tls = up = None
        try:
            conn.settimeout(REQUEST_SECONDS)
            tls = self.ctx.wrap_socket(conn, server_side=True)
            with self.lock:
                self.socks.add(tls)
            up = socket.create_connection(("127.0.0.1", self.backend_port), timeout=REQUEST_SECONDS)
            with self.lock:
                self.socks.add(up)
            while not self.stopping:
                ready = [tls] if tls.pending() else select.select([tls, up], [], [], 0.5)[0]
                for s in ready:
                    other = up if s is tls else tls
                    try:
                        data = s.recv(65536)
                    except ssl.SSLWantReadError:
                        continue
                    if not data:
                        if s is up:  # the backend's end of a body: close_notify
                            try:
                                tls.unwrap()
                            except (OSError, ValueError):
                                pass
                        return
                    other.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            with self.lock:
                for s in (conn, tls, up):
                    if s is not None:
                        self.socks.discard(s)
                        s.close()

    def stop(self):
        self.stopping = True
        with self.lock:
            self.lsock.close()
            for s in list(self.socks):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            threads = list(self.threads)
        for t in threads:
            if t is not threading.current_thread():
                t.join(10)


class Upload:
    """What Orthanc answered to one POST /instances of a file."""

    __slots__ = ("path", "size", "http_status", "status", "id", "parents", "error", "retried")

    def __init__(self, path, size):
        self.path, self.size = path, size
        self.http_status = None  # the HTTP status, None when no answer came
        self.status = None       # "Success", "AlreadyStored", ... (Orthanc's Status)
        self.id = None           # Orthanc's instance ID
        self.parents = {}        # {"ParentPatient": id, "ParentStudy": ..., "ParentSeries": ...}
        self.error = None        # the error's text when not accepted
        self.retried = False     # sent again after the connection dropped

    @property
    def accepted(self):
        return self.id is not None and self.status in ("Success", "AlreadyStored")

    def __repr__(self):
        what = self.status if self.accepted else f"HTTP {self.http_status}: {self.error}"
        return f"<Upload {os.path.basename(self.path)}: {what} {self.id or ''}>"


class Orthanc:
    """One Orthanc process with its configuration, storage and log under
    `workdir` (created; left for the caller to remove)."""

    def __init__(self, workdir, users=None, tls=False, name="dicomfs-test",
                 default_encoding="Latin1", extra_config=None, start_seconds=START_SECONDS):
        # DefaultEncoding Latin1 (Orthanc's own default) is what dicomfs takes
        # for bytes above 0x7F in a file without (0008,0005): the names
        # Orthanc's DICOM JSON gives such text then match the local mount's.
        self.workdir = os.path.abspath(workdir)
        self.users = dict(users or {})
        self.tls = tls
        self.name = name
        self.default_encoding = default_encoding
        self.extra_config = dict(extra_config or {})
        self.start_seconds = start_seconds
        self.port = None
        self.proc = None
        self.pid = None
        self.returncode = None
        self.cafile = None
        self.config_path = os.path.join(self.workdir, "orthanc.json")
        self.log_path = os.path.join(self.workdir, "orthanc.log")
        self.storage = os.path.join(self.workdir, "db")
        self._conn = None
        self.start_seconds_taken = None
        self.proxy = None  # the TlsProxy with tls=True
        self.orthanc_port = None  # Orthanc's own (plain HTTP) port

    # ------------------------------------------------------------ addresses
    @property
    def scheme(self):
        return "https" if self.tls else "http"

    @property
    def url(self):
        """The REST root, e.g. http://127.0.0.1:PORT (with tls=True, the
        proxy's https://127.0.0.1:PORT)"""
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def dicomweb(self):
        """The DICOMweb base URL (no final slash)."""
        return self.url + "/dicom-web"

    # ------------------------------------------------------------ start, stop
    def _make_certificate(self):
        """A self-signed certificate for 127.0.0.1 (make_certificate): the
        certificate is self.cafile for the client."""
        cert, key = make_certificate(self.workdir)
        self.cafile = cert
        return cert, key

    def config(self):
        cfg = {
            "Name": self.name,
            "StorageDirectory": self.storage,
            "IndexDirectory": self.storage,
            "HttpPort": self.orthanc_port,
            "HttpServerEnabled": True,
            "DicomServerEnabled": False,
            "RemoteAccessAllowed": False,
            "StorageCompression": False,
            "DefaultEncoding": self.default_encoding,
            "AuthenticationEnabled": bool(self.users),
            "RegisteredUsers": self.users,
            "SaveJobs": False,
            "Plugins": [DICOMWEB_PLUGIN],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True},
        }
        if self.tls:  # the URLs the plugin returns: the proxy's
            cfg["DicomWeb"].update({"Host": f"127.0.0.1:{self.proxy.port}", "Ssl": True})
        cfg.update(self.extra_config)
        return cfg

    def start(self):
        why = available()
        if why:
            raise OrthancError(why)
        os.makedirs(self.storage, exist_ok=True)
        if self.tls and self.proxy is None:
            self.proxy = TlsProxy(*self._make_certificate())
        last = ""
        for _ in range(3):  # another port if ours was taken before Orthanc bound it
            self.orthanc_port = free_port()
            self.port = self.proxy.port if self.tls else self.orthanc_port
            with open(self.config_path, "w", encoding="utf-8") as f:
                json.dump(self.config(), f, indent=2)
            log = open(self.log_path, "ab")
            t0 = time.monotonic()
            self.proc = subprocess.Popen([ORTHANC, self.config_path], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, cwd=self.workdir,
                                         start_new_session=True, preexec_fn=_die_with_parent)
            log.close()
            self.pid = self.proc.pid
            _running.append(self)
            if self.tls and self.proxy.backend_port is None:
                self.proxy.start(self.orthanc_port)
            elif self.tls:
                self.proxy.backend_port = self.orthanc_port
            while True:
                if self.proc.poll() is not None:
                    last = f"Orthanc exited {self.proc.returncode} before answering: {self.log_tail()}"
                    self._reap()
                    break
                if time.monotonic() - t0 > self.start_seconds:
                    self.stop()
                    raise OrthancError(f"GET /system not answered {time.monotonic() - t0:.1f} s "
                                       f"after the start (hang guard {self.start_seconds} s): "
                                       f"{self.log_tail()}")
                try:
                    status, _, body = self.request("GET", "/system", timeout=10)
                except (OSError, http.client.HTTPException):
                    status = None
                if status == 200:
                    self.system = json.loads(body)
                    self.start_seconds_taken = time.monotonic() - t0
                    return self
                time.sleep(0.05)
            if "port" not in last.lower() and "bind" not in last.lower():
                break
        raise OrthancError(last)

    def log_tail(self, n=600):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
        except OSError:
            return ""
        return data[-n:].decode("utf-8", "replace").strip().replace("\n", " | ")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _reap(self):
        if self.proc is not None:
            self.returncode = self.proc.poll()
        if self in _running:
            _running.remove(self)

    def stop(self, timeout=STOP_SECONDS):
        """SIGTERM to our pid, SIGKILL after `timeout` s; returns a list of
        problems (empty: it exited on SIGTERM, with status 0)."""
        problems = []
        self.close_connection()
        if self.proxy is not None:
            self.proxy.stop()
        if self.proc is None:
            return problems
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                problems.append(f"Orthanc (pid {self.pid}) still running {timeout} s after SIGTERM: SIGKILL")
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(30)
            if self.proc.returncode not in (0, -signal.SIGKILL) and not problems:
                problems.append(f"Orthanc exited {self.proc.returncode} after SIGTERM: {self.log_tail()}")
        self._reap()
        return problems

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()
        return False

    # ------------------------------------------------------------ HTTP
    def _connect(self, timeout):
        if self.tls:
            ctx = ssl.create_default_context(cafile=self.cafile)
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def close_connection(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def auth_header(self, user=None):
        if not self.users:
            return {}
        user = user or next(iter(self.users))
        token = base64.b64encode(f"{user}:{self.users[user]}".encode()).decode("ascii")
        return {"Authorization": "Basic " + token}

    def request(self, method, path, body=None, headers=None, timeout=REQUEST_SECONDS, auth=True):
        """One request on the kept-alive connection (made again, and the
        request sent again once, when a reused connection was dropped before
        any answer: Orthanc keeps idle connections 1 s).  (HTTP status,
        headers dict with lower-case names, body bytes)."""
        hdrs = dict(self.auth_header() if auth else {})
        hdrs.update(headers or {})
        for attempt in (0, 1):
            fresh = self._conn is None
            if fresh:
                self._conn = self._connect(timeout)
            try:
                self._conn.timeout = timeout
                if self._conn.sock is not None:
                    self._conn.sock.settimeout(timeout)
                self._conn.request(method, path, body=body, headers=hdrs)
                resp = self._conn.getresponse()
                data = resp.read()
                got = {k.lower(): v for k, v in resp.getheaders()}
                if resp.will_close:
                    self.close_connection()
                self.last_retried = attempt > 0
                return resp.status, got, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest, http.client.ResponseNotReady):
                self.close_connection()
                if fresh or attempt:
                    raise
            except BaseException:
                self.close_connection()
                raise
        raise AssertionError("unreachable")

    def get_json(self, path):
        status, _, body = self.request("GET", path)
        if status != 200:
            raise OrthancError(f"GET {path}: HTTP {status}: {body[:300]!r}")
        return json.loads(body)

    def post_json(self, path, obj):
        status, _, body = self.request("POST", path, body=json.dumps(obj).encode(),
                                       headers={"Content-Type": "application/json"})
        if status != 200:
            raise OrthancError(f"POST {path}: HTTP {status}: {body[:300]!r}")
        return json.loads(body)

    # ------------------------------------------------------------ uploads
    def upload(self, path):
        """POST /instances of one file: an Upload (never raises for an
        answer Orthanc gave; a transport failure is recorded as error)."""
        with open(path, "rb") as f:
            data = f.read()
        up = Upload(path, len(data))
        try:
            status, _, body = self.request("POST", "/instances", body=data,
                                           headers={"Content-Type": "application/dicom"})
        except (OSError, http.client.HTTPException) as e:
            up.error = f"{type(e).__name__}: {e}"
            return up
        up.retried = self.last_retried
        up.http_status = status
        try:
            answer = json.loads(body) if body else {}
        except ValueError:
            answer = {"Message": body[:200].decode("utf-8", "replace")}
        if isinstance(answer, list):  # a ZIP or several instances: not sent here
            answer = answer[0] if answer else {}
        if status == 200 and isinstance(answer, dict) and answer.get("ID"):
            up.id = answer["ID"]
            up.status = answer.get("Status")
            up.parents = {k: answer.get(k) for k in ("ParentPatient", "ParentStudy", "ParentSeries")}
            if not up.accepted:
                up.error = f"Status {up.status!r}"
        else:
            up.error = (answer.get("Details") or answer.get("Message") or str(answer)[:200]
                        if isinstance(answer, dict) else str(answer)[:200])
        return up

    def upload_files(self, paths):
        """POST /instances of each file in turn, on one kept-alive
        connection: [Upload] in the order given."""
        return [self.upload(p) for p in paths]

    def instances(self):
        """Orthanc's instance IDs (GET /instances)."""
        return self.get_json("/instances")

    def file_of(self, instance_id):
        """The stored bytes of an instance (GET /instances/ID/file)."""
        status, _, body = self.request("GET", f"/instances/{instance_id}/file")
        if status != 200:
            raise OrthancError(f"GET /instances/{instance_id}/file: HTTP {status}")
        return body

    def wado_instance(self, study, series, sop):
        """WADO-RS of one instance by its UIDs, as a DICOMweb client asks
        for it (the stored bytes, any transfer syntax): (HTTP status,
        [the parts' bodies])."""
        path = f"/dicom-web/studies/{study}/series/{series}/instances/{sop}"
        status, hdrs, body = self.request(
            "GET", path, headers={"Accept": 'multipart/related; type="application/dicom"; '
                                            'transfer-syntax=*'})
        if status != 200:
            return status, []
        return status, multipart_parts(hdrs.get("content-type", ""), body)


def first_accepted(uploads):
    """{Orthanc instance ID: the first Upload that stored it (Status
    Success)}; later uploads of the same instance (AlreadyStored) left out."""
    out = {}
    for up in uploads:
        if up.id is not None and up.status == "Success" and up.id not in out:
            out[up.id] = up
    return out
