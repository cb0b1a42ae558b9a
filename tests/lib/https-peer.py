#!/usr/bin/python3
"""https-peer.py - an HTTPS receiver for tradedrop's delivery tests.

Standard library only (http.server + ssl + threading); run with /usr/bin/python3.

  https-peer.py --dir DIR --cert server.pem --key server.key
                [--ca ca.pem [--require-client-cert]] [--port 0]
                [--tls-min 1.2|1.3] [--tls-max 1.2|1.3] [--lifetime SECONDS]

Relative --cert/--key/--ca names not found from the current directory are
looked up in DIR.  Binds 127.0.0.1 (--port 0: the kernel chooses); once
listening it writes DIR/pid and then DIR/port (each tmp + rename), so a
test waits for DIR/port.  Both files are removed on a clean exit (SIGTERM,
SIGINT, --lifetime reached, default 3600 s so a stray peer dies).

Every POST is recorded, *before* its response is sent, as one JSON line
appended (flushed + fsynced) to DIR/requests.ndjson:

  seq         1, 2, ... in arrival order (lines are appended on completion,
              so concurrent requests may appear out of seq order)
  time        wall-clock float (time.time()) when the headers were read
  mono        time.monotonic() at the same moment
  method, path (as sent, query included)
  headers     dict, lower-case names, repeats joined with ", "
  body_file   "bodies/NNNNNN.bin" (relative to DIR): the body bytes as
              received - chunked framing removed, content coding kept
  body_size, body_sha256, body_complete (false when cut short)
  status      what was answered (null for reset/close/hang faults)
  fault       the fault line applied, or null
  conn, conn_req   connection number and request number on it (keep-alive)
  tls_version, client_cert (subject CN of the client cert, or null)

A restarted peer on the same DIR continues the seq numbers and remembers
the Idempotency-Keys already answered 2xx.

Responses: 200 {"ok":true}; a POST whose Idempotency-Key was already
answered 2xx gets 409.  Faults come from DIR/faults, one per line, the first
line consumed per request (file rewritten atomically; blank lines and lines
starting with # are skipped):

  status CODE [RETRY_AFTER]   answer CODE (+ Retry-After: RETRY_AFTER)
  delay SECONDS               sleep, then answer normally (200 or 409)
  hang                        read the request, never answer until the
                              client closes
  reset-before                TCP reset (SO_LINGER 0) right after accept,
                              before the TLS handshake; if the request
                              comes on a kept-alive connection (or the line
                              has a path filter), reset after its headers
  reset-mid                   read half the body, then reset
  close                       read the request, close without answering
  stall                       accept the TCP connection and hold it open
                              without a TLS handshake or a byte sent,
                              until the client closes (logged with how
                              long it waited); taken at a new connection
                              only when unfiltered at the head of the
                              queue, else, for a request on a kept-alive
                              connection, like hang
  body CODE HEX [N]           answer CODE with the body HEX (bytes in hex)
                              repeated N times (default 1)
  trickle [INTERVAL]          answer normally, the whole response one byte
                              per INTERVAL seconds (default 0.2)
  raw TEXT                    answer with TEXT as it is (a lying or broken
                              server): backslash escapes as in Python
                              (\\r \\n \\xNN), then close the connection;
                              its status, read from its last line
                              "HTTP/x.y NNN ..." (after a 1xx, the final
                              answer's), is recorded
  raw-reset TEXT              the same, then a TCP reset instead of a close
  endless CODE chunked|length|close
                              answer CODE, then a body without end: chunks
                              that never end, a Content-Length of 10 GB, or
                              close-delimited; written until the client
                              closes (logged with the bytes written)
  endless-headers             a 200 status line, then header lines without
                              end, until the client closes
  /PATH FAULT                 only for requests whose path (query removed)
                              ends with /PATH; others pass and leave it

A 2xx answer (including from `status 2xx`, `delay` and `trickle`, even if
the client gave up waiting) marks the Idempotency-Key as answered: like a
server that committed the batch and lost the reply.  An unparseable fault
line is consumed and answered 500, and logged.
"""

import argparse
import codecs
import hashlib
import json
import os
import re
import signal
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlsplit

PROG = "https-peer"
_tls = threading.local()


def log(msg):
    try:
        sys.stderr.write("%s: %s\n" % (PROG, msg))
        sys.stderr.flush()
    except Exception:
        pass


def write_atomic(path, data):
    tmp = "%s.tmp.%d.%d" % (path, os.getpid(), threading.get_ident())
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Fault:
    def __init__(self, line, path_filter, kind, args, error=None):
        self.line, self.path_filter, self.kind = line, path_filter, kind
        self.args, self.error = args, error


def parse_fault(line):
    s = line.strip()
    path_filter = None
    if s.startswith("/"):
        parts = s.split(None, 1)
        path_filter = parts[0]
        s = parts[1] if len(parts) > 1 else ""
    words = s.split(None, 1)
    kind = words[0] if words else ""
    rest = words[1].strip() if len(words) > 1 else ""
    try:
        if kind == "status":
            p = rest.split(None, 1)
            code = int(p[0])
            if not 100 <= code <= 999:
                raise ValueError("status code out of range")
            args = (code, p[1].strip() if len(p) > 1 else None)
        elif kind == "body":
            p = rest.split()
            code = int(p[0])
            if not 100 <= code <= 999:
                raise ValueError("status code out of range")
            args = (code, bytes.fromhex(p[1]) * (int(p[2]) if len(p) > 2 else 1))
        elif kind == "delay":
            args = (float(rest),)
        elif kind == "trickle":
            args = (float(rest) if rest else 0.2,)
        elif kind in ("raw", "raw-reset"):
            if not rest:
                raise ValueError("raw needs the text to send")
            data = codecs.decode(rest, "unicode_escape").encode("latin-1")
            m = re.findall(rb"(?:^|\n)HTTP/\d\.\d (\d{3})[ \r\n]", data)
            args = (data, int(m[-1]) if m else None)
        elif kind == "endless":
            p = rest.split()
            code = int(p[0])
            if len(p) != 2 or p[1] not in ("chunked", "length", "close"):
                raise ValueError("endless CODE chunked|length|close")
            args = (code, p[1])
        elif kind in ("hang", "reset-before", "reset-mid", "close", "stall",
                      "endless-headers"):
            if rest:
                raise ValueError("no argument expected")
            args = ()
        else:
            raise ValueError("unknown fault")
    except (ValueError, IndexError) as e:
        return Fault(line.strip(), path_filter, "invalid", (), str(e))
    return Fault(line.strip(), path_filter, kind, args)


class FaultQueue:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def take(self, req_path=None, at_connect=False):
        """The fault for this request (consumed), or None.  at_connect: only
        an unfiltered reset-before or stall at the head of the queue is
        taken."""
        with self.lock:
            try:
                with open(self.path, "rb") as f:
                    lines = f.read().decode("utf-8", "replace").splitlines()
            except FileNotFoundError:
                return None
            i = 0
            while i < len(lines) and (not lines[i].strip()
                                      or lines[i].lstrip().startswith("#")):
                i += 1
            if i == len(lines):
                return None
            fault = parse_fault(lines[i])
            if at_connect:
                if fault.path_filter is not None or fault.kind not in ("reset-before", "stall"):
                    return None
            elif fault.path_filter is not None and not (req_path or "").endswith(fault.path_filter):
                return None
            rest = lines[i + 1:]
            write_atomic(self.path, ("\n".join(rest) + "\n" if rest else "").encode())
            return fault


class Recorder:
    def __init__(self, d):
        self.dir = d
        self.bodies = os.path.join(d, "bodies")
        os.makedirs(self.bodies, exist_ok=True)
        self.path = os.path.join(d, "requests.ndjson")
        self.lock = threading.Lock()
        self.seq = 0
        self.done_keys = set()
        self.key_lock = threading.Lock()
        # continue after an earlier run on the same DIR
        try:
            with open(self.path, "r", encoding="utf-8") as f:
                for line in f:
                    try:
                        r = json.loads(line)
                    except ValueError:
                        continue
                    self.seq = max(self.seq, int(r.get("seq") or 0))
                    k = (r.get("headers") or {}).get("idempotency-key")
                    st = r.get("status")
                    if k and isinstance(st, int) and 200 <= st < 300:
                        self.done_keys.add(k)
        except FileNotFoundError:
            pass
        open(self.path, "ab").close()

    def next_seq(self):
        with self.lock:
            self.seq += 1
            return self.seq

    def decide(self, key, status=None):
        """Status for a normal answer (status None) or a forced one; marks
        the key as answered when the result is 2xx."""
        with self.key_lock:
            if status is None:
                status = 409 if key and key in self.done_keys else 200
            if key and 200 <= status < 300:
                self.done_keys.add(key)
            return status

    def record(self, rec, body):
        name = "bodies/%06d.bin" % rec["seq"]
        write_atomic(os.path.join(self.dir, name), body)
        rec["body_file"] = name
        rec["body_size"] = len(body)
        rec["body_sha256"] = hashlib.sha256(body).hexdigest()
        line = (json.dumps(rec, sort_keys=True) + "\n").encode()
        with self.lock:
            with open(self.path, "ab") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())


class BadRequest(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tradedrop-test-peer"
    sys_version = ""
    timeout = 300  # idle keep-alive connections go away eventually

    def setup(self):
        super().setup()
        self.conn_id = getattr(_tls, "conn_id", 0)
        self.conn_req = 0
        self._buf = bytearray()

    def log_message(self, fmt, *args):
        pass  # one line per request is logged by _serve

    def log_error(self, fmt, *args):
        log("conn=%s %s" % (getattr(self, "conn_id", "?"), fmt % args))

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (ConnectionError, ssl.SSLError, TimeoutError) as e:
            log("conn=%s closed: %s" % (self.conn_id, e))
            self.close_connection = True
        except Exception:
            log("conn=%s handler error:\n%s" % (self.conn_id, traceback.format_exc()))
            self.close_connection = True

    def do_POST(self):
        self._serve(True)

    def do_GET(self):
        self._serve(False)

    # ------------------------------------------------------------ body
    def _read_chunked(self, half):
        body = bytearray()
        while True:
            line = self.rfile.readline(65537)
            if not line:
                raise ConnectionError("eof in chunked body")
            try:
                n = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest("bad chunk size %r" % line[:40])
            if n == 0:
                while True:  # trailers
                    t = self.rfile.readline(65537)
                    if not t:
                        raise ConnectionError("eof in trailers")
                    if t in (b"\r\n", b"\n"):
                        return bytes(body), True
            if half:
                body += self.rfile.read(max(1, n // 2))
                return bytes(body), False
            data = self.rfile.read(n)
            body += data
            if len(data) < n:
                raise ConnectionError("eof in chunk")
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise BadRequest("missing CRLF after chunk")

    def _read_body(self, half=False):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            return self._read_chunked(half)
        cl = self.headers.get("Content-Length")
        if cl is None:
            return b"", True
        try:
            n = int(cl)
            if n < 0:
                raise ValueError
        except ValueError:
            raise BadRequest("bad Content-Length")
        want = n // 2 if half else n
        # Into one buffer per connection, kept for its next request: a
        # new one for each body is mapped fresh and page-faulted in, and
        # the copies and faults cost the peer more than its TLS.  The view
        # returned is only written, hashed and measured, and is done with
        # before this connection reads its next request.
        if len(self._buf) < want:
            self._buf = bytearray(max(want, 2 * len(self._buf)))
        mv = memoryview(self._buf)[:want]
        got = 0
        while got < want:
            k = self.rfile.readinto(mv[got:])
            if not k:
                return mv[:got], False
            got += k
        return mv, not half

    # ------------------------------------------------------------ answers
    def _reset(self):
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        except OSError:
            pass
        _tls.reset = True
        self.close_connection = True

    def _hang(self):
        self.close_connection = True
        sock = self.connection
        sock.settimeout(0.5)
        while not self.server.stopping.is_set():
            try:
                if not sock.recv(65536):
                    return
            except (socket.timeout, ssl.SSLWantReadError):
                continue
            except OSError:
                return

    def _response(self, status, retry_after, body):
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Status %d" % status
        h = ["HTTP/1.1 %d %s" % (status, phrase),
             "Server: %s" % self.server_version,
             "Date: %s" % self.date_time_string(),
             "Content-Type: application/json",
             "Content-Length: %d" % len(body)]
        if retry_after is not None:
            h.append("Retry-After: %s" % retry_after)
        if self.close_connection:
            h.append("Connection: close")
        return ("\r\n".join(h) + "\r\n\r\n").encode("latin-1") + body

    def _serve(self, record):
        t, mono = time.time(), time.monotonic()
        self.conn_req += 1
        srv = self.server
        path_only = urlsplit(self.path).path
        fault = srv.faults.take(path_only)
        kind = fault.kind if fault else None
        headers = {}
        for k, v in self.headers.items():
            k = k.lower()
            headers[k] = headers[k] + ", " + v if k in headers else v
        key = headers.get("idempotency-key") if self.command == "POST" else None
        seq = srv.recorder.next_seq() if record else None
        peer = None
        try:
            cert = self.connection.getpeercert()
            for rdn in (cert or {}).get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        peer = v
        except (ValueError, AttributeError):
            pass
        rec = {"seq": seq, "time": t, "mono": mono, "method": self.command,
               "path": self.path, "headers": headers, "status": None,
               "fault": fault.line if fault else None,
               "conn": self.conn_id, "conn_req": self.conn_req,
               "tls_version": self.connection.version()
               if isinstance(self.connection, ssl.SSLSocket) else None,
               "client_cert": peer, "body_complete": True}
        body = b""
        status, retry_after, extra = None, None, ""
        try:
            if kind == "reset-before":
                rec["body_complete"] = False
                self._reset()
                return
            try:
                body, rec["body_complete"] = self._read_body(half=(kind == "reset-mid"))
            except BadRequest as e:
                status, extra = 400, " bad request: %s" % e
                self.close_connection = True
                sent, record = record, False
                self._send(status, None, json.dumps({"ok": False, "error": str(e)}).encode(),
                           rec, sent, body)
                return
            except (OSError, ValueError) as e:
                rec["body_complete"] = False
                extra = " body read failed: %s" % e
                self.close_connection = True
                return
            if not rec["body_complete"] and kind != "reset-mid":
                extra = " body cut short"
                self.close_connection = True
                return
            if kind == "reset-mid":
                self._reset()
                return
            if kind == "close":
                self.close_connection = True
                return
            if kind in ("hang", "stall"):
                if record:
                    srv.recorder.record(rec, body)
                    record = False
                log(self._line(rec, body, " hanging"))
                self._hang()
                return
            if kind in ("raw", "raw-reset", "endless", "endless-headers"):
                status = self._lie(kind, fault.args, key, rec, record, body)
                record = False
                return
            if kind == "delay":
                time.sleep(fault.args[0])
            if kind == "status":
                status, retry_after = fault.args
                status = srv.recorder.decide(key, status)
            elif kind == "body":
                status = srv.recorder.decide(key, fault.args[0])
            elif kind == "invalid":
                status, extra = 500, " INVALID FAULT LINE: %s" % fault.error
                log("invalid fault line %r: %s" % (fault.line, fault.error))
            else:
                status = srv.recorder.decide(key)
            if status == 409 and kind != "status":
                rbody = {"ok": False, "error": "duplicate idempotency key"}
            elif 200 <= status < 300:
                rbody = {"ok": True}
            else:
                rbody = {"ok": False, "status": status}
            if self.command == "GET":
                rbody["peer"] = "tradedrop-test"
            sent = record
            record = False  # _send records it (before answering)
            self._send(status, retry_after, fault.args[1] if kind == "body" else
                       json.dumps(rbody).encode(), rec,
                       sent, body, trickle=fault.args[0] if kind == "trickle" else None)
        finally:
            rec["status"] = status
            if record:
                try:
                    srv.recorder.record(rec, body)
                except Exception:
                    log("recording failed:\n%s" % traceback.format_exc())
            if kind != "hang":
                log(self._line(rec, body, extra))

    def _send(self, status, retry_after, rbody, rec, record, body, trickle=None):
        rec["status"] = status
        if record:  # recorded before answering: a client that has its
            srv = self.server  # answer can read the record
            srv.recorder.record(rec, body)
        data = self._response(status, retry_after, rbody)
        if trickle is None:
            self.wfile.write(data)
            return
        for i in range(len(data)):
            if self.server.stopping.is_set():
                break
            self.wfile.write(data[i:i + 1])
            time.sleep(trickle)

    def _lie(self, kind, args, key, rec, record, body):
        """raw, raw-reset, endless, endless-headers: recorded first (with
        the status a raw answer starts with, or endless's CODE), then
        written; returns that status."""
        srv = self.server
        self.close_connection = True
        if kind in ("raw", "raw-reset"):
            status = args[1]
        elif kind == "endless":
            status = args[0]
        else:
            status = 200
        if status is not None:
            status = srv.recorder.decide(key, status)
        rec["status"] = status
        if record:
            srv.recorder.record(rec, body)
        if kind in ("raw", "raw-reset"):
            try:
                self.wfile.write(args[0])
                self.wfile.flush()
            except OSError:
                pass
            if kind == "raw-reset":
                self._reset()
            return status
        if kind == "endless":
            head = "HTTP/1.1 %d Endless\r\nContent-Type: application/json\r\n" % status
            head += {"chunked": "Transfer-Encoding: chunked\r\n",
                     "length": "Content-Length: 10737418240\r\n",
                     "close": "Connection: close\r\n"}[args[1]]
            head = (head + "\r\n").encode()
            block = b"x" * 16384
            if args[1] == "chunked":
                block = b"4000\r\n" + block + b"\r\n"
        else:
            head = b"HTTP/1.1 200 OK\r\n"
            block = b"".join(b"X-Endless-%d: %s\r\n" % (i, b"y" * 60)
                             for i in range(256))
        n = 0
        try:
            self.wfile.write(head)
            while not srv.stopping.is_set():
                self.wfile.write(block)
                self.wfile.flush()
                n += len(block)
                time.sleep(0.01)
        except OSError:
            pass
        log("conn=%s %s: the client closed after %d bytes" % (self.conn_id, kind, n))
        return status

    def _line(self, rec, body, extra=""):
        return "seq=%s conn=%s/%s %s %s status=%s body=%dB%s%s%s" % (
            rec["seq"], rec["conn"], rec["conn_req"], self.command, self.path,
            rec["status"], len(body),
            "" if rec["body_complete"] else "(incomplete)",
            " fault=%r" % rec["fault"] if rec["fault"] else "", extra)


class Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, ctx, faults, recorder):
        self.ctx, self.faults, self.recorder = ctx, faults, recorder
        self.stopping = threading.Event()
        self.conn_count = 0
        self.conn_lock = threading.Lock()
        HTTPServer.__init__(self, addr, Handler)

    def server_bind(self):
        # HTTPServer.server_bind would do a reverse DNS lookup (getfqdn)
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, raw, addr):
        with self.conn_lock:
            self.conn_count += 1
            cid = self.conn_count
        _tls.conn_id, _tls.reset = cid, False
        try:
            f = self.faults.take(at_connect=True)
            if f is not None and f.kind == "stall":
                self._stall(raw, cid, f)
                return
            if f is not None:
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                raw.close()
                log("conn=%d reset before reading (fault %r)" % (cid, f.line))
                return
            raw.settimeout(15)
            conn = self.ctx.wrap_socket(raw, server_side=True)
        except (OSError, ValueError) as e:
            log("conn=%d TLS handshake failed: %s" % (cid, e))
            return
        try:
            conn.settimeout(None)
            self.RequestHandlerClass(conn, addr, self)
        finally:
            try:
                if not _tls.reset:
                    conn.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            conn.close()

    def _stall(self, raw, cid, f):
        """Hold raw open, reading and dropping what comes, until the
        client closes it (or the server stops)."""
        t0 = time.monotonic()
        log("conn=%d stalling (fault %r)" % (cid, f.line))
        raw.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                if not raw.recv(65536):
                    break
            except socket.timeout:
                continue
            except OSError:
                break
        raw.close()
        log("conn=%d stalled: the client closed after %.2f s" % (cid, time.monotonic() - t0))

    def handle_error(self, request, client_address):
        log("error on connection from %s:\n%s" % (client_address, traceback.format_exc()))


def main():
    ap = argparse.ArgumentParser(description="HTTPS receiver for tradedrop tests")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--ca")
    ap.add_argument("--require-client-cert", action="store_true")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--tls-min", choices=("1.2", "1.3"), default="1.2")
    ap.add_argument("--tls-max", choices=("1.2", "1.3"), default="1.3")
    ap.add_argument("--lifetime", type=float, default=3600,
                    help="exit after this many seconds (0: never)")
    a = ap.parse_args()

    d = os.path.abspath(a.dir)
    os.makedirs(d, exist_ok=True)

    def find(p):
        if p is None or os.path.isabs(p) or os.path.exists(p):
            return p
        return os.path.join(d, p)

    if a.require_client_cert and not a.ca:
        ap.error("--require-client-cert needs --ca")
    ver = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version, ctx.maximum_version = ver[a.tls_min], ver[a.tls_max]
    ctx.load_cert_chain(find(a.cert), find(a.key))
    if a.ca:
        ctx.load_verify_locations(find(a.ca))
        ctx.verify_mode = ssl.CERT_REQUIRED if a.require_client_cert else ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])

    port_file, pid_file = os.path.join(d, "port"), os.path.join(d, "pid")
    for p in (port_file, pid_file):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
    srv = Server((a.host, a.port), ctx, FaultQueue(os.path.join(d, "faults")), Recorder(d))

    def stop(signum, frame):
        if not srv.stopping.is_set():
            srv.stopping.set()
            threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if a.lifetime > 0:
        t = threading.Timer(a.lifetime, lambda: (log("lifetime reached"), stop(0, None)))
        t.daemon = True
        t.start()

    write_atomic(pid_file, b"%d\n" % os.getpid())
    write_atomic(port_file, b"%d\n" % srv.server_address[1])
    log("listening on %s:%d pid=%d tls=%s..%s client-cert=%s" % (
        a.host, srv.server_address[1], os.getpid(), a.tls_min, a.tls_max,
        "required" if a.require_client_cert else ("optional" if a.ca else "no")))
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.stopping.set()
        srv.server_close()
        for p in (port_file, pid_file):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
