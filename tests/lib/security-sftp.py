#!/usr/bin/python3
"""security-sftp.py SPEC - a lying SFTP v3 server for tests/e2e/security.sh.

sshd runs it as its ForceCommand (tests/lib/sshd.sh, SSHD_FORCE_COMMAND):
it speaks SFTP on stdin/stdout, so the SSH side (host key, login) is a
real OpenSSH sshd, while the directory listing says whatever SPEC says,
names no file system can hold included: a name with '/' or "..", a
4,000-byte name, control characters, bytes that are not UTF-8.

SPEC is JSON:
  {"dir": "/remote/dir", "log": "/path/requests.log",
   "entries": [{"name": "<hex of the name bytes>", "file": "/local/path"}]}

Every directory opened lists the entries (regular files, mode 0644, the
size and modification time of "file"), in the order given,
in one SSH_FXP_NAME reply.  OPEN, STAT and LSTAT of DIR/NAME (the bytes
after "dir" + "/") serve that entry; anything else is "no such file".
Writes, renames and removals are refused (permission denied).  Each
request is appended to "log" as one line: the request type and the hex
of the path it names, so a test can tell which names the client asked
for.  Standard library only.
"""
import json
import os
import struct
import sys

FXP = {1: "INIT", 3: "OPEN", 4: "CLOSE", 5: "READ", 6: "WRITE", 7: "LSTAT",
       8: "FSTAT", 9: "SETSTAT", 11: "OPENDIR", 12: "READDIR", 13: "REMOVE",
       16: "REALPATH", 17: "STAT", 18: "RENAME", 200: "EXTENDED"}
OK, EOF, NO_SUCH_FILE, PERMISSION_DENIED, OP_UNSUPPORTED = 0, 1, 2, 3, 8

spec = json.load(open(sys.argv[1]))
base = spec["dir"].rstrip("/").encode() + b"/"
entries = [(bytes.fromhex(e["name"]), e["file"]) for e in spec["entries"]]
byname = dict(entries)
log = open(spec["log"], "a")
inp, out = sys.stdin.buffer, sys.stdout.buffer
handles = {}
nexth = 0


def read_exact(n):
    b = b""
    while len(b) < n:
        c = inp.read(n - len(b))
        if not c:
            sys.exit(0)
        b += c
    return b


def send(t, payload):
    out.write(struct.pack(">IB", len(payload) + 1, t) + payload)
    out.flush()


def sstr(b):
    return struct.pack(">I", len(b)) + b


def attrs(path):
    st = os.stat(path)
    return struct.pack(">IQIIIII", 0x1 | 0x2 | 0x4 | 0x8, st.st_size, 0, 0,
                       0o100644, int(st.st_mtime), int(st.st_mtime))


def status(rid, code, msg=b""):
    send(101, struct.pack(">II", rid, code) + sstr(msg) + sstr(b""))


def handle(obj):
    global nexth
    nexth += 1
    h = b"h%d" % nexth
    handles[h] = obj
    return h


def entry(path):
    return byname.get(path[len(base):]) if path.startswith(base) else None


while True:
    n, = struct.unpack(">I", read_exact(4))
    pkt = read_exact(n)
    t = pkt[0]
    if t == 1:
        send(2, struct.pack(">I", 3))
        continue
    rid, = struct.unpack(">I", pkt[1:5])
    body = pkt[5:]
    arg = b""
    if len(body) >= 4:
        ln, = struct.unpack(">I", body[:4])
        arg = body[4:4 + ln]
    log.write("%s %s\n" % (FXP.get(t, str(t)), arg.hex()))
    log.flush()
    if t == 16:		# REALPATH
        send(104, struct.pack(">II", rid, 1) + sstr(arg) + sstr(arg) +
             struct.pack(">I", 0))
    elif t == 11:		# OPENDIR
        send(102, struct.pack(">I", rid) + sstr(handle(["dir", 0])))
    elif t == 12:		# READDIR
        h = handles.get(arg)
        if h is None or h[0] != "dir" or h[1]:
            status(rid, EOF)
            continue
        h[1] = 1
        p = struct.pack(">II", rid, len(entries))
        for name, f in entries:
            p += sstr(name) + sstr(b"-rw-r--r-- 1 td td 0 Jan 1 00:00 x")
            p += attrs(f)
        send(104, p)
    elif t in (7, 17):	# LSTAT, STAT
        e = entry(arg)
        if e is None:
            status(rid, NO_SUCH_FILE)
        else:
            send(105, struct.pack(">I", rid) + attrs(e))
    elif t == 3:		# OPEN
        pflags, = struct.unpack(">I", body[4 + len(arg):8 + len(arg)])
        e = entry(arg)
        if pflags & ~0x1:
            status(rid, PERMISSION_DENIED)
        elif e is None:
            status(rid, NO_SUCH_FILE)
        else:
            send(102, struct.pack(">I", rid) + sstr(handle(["file", e])))
    elif t == 8:		# FSTAT
        h = handles.get(arg)
        if h is None or h[0] != "file":
            status(rid, NO_SUCH_FILE)
        else:
            send(105, struct.pack(">I", rid) + attrs(h[1]))
    elif t == 5:		# READ
        h = handles.get(arg)
        off, ln = struct.unpack(">QI", body[4 + len(arg):16 + len(arg)])
        if h is None or h[0] != "file":
            status(rid, NO_SUCH_FILE)
            continue
        with open(h[1], "rb") as f:
            f.seek(off)
            data = f.read(min(ln, 32768))
        if data:
            send(103, struct.pack(">I", rid) + sstr(data))
        else:
            status(rid, EOF)
    elif t == 4:		# CLOSE
        handles.pop(arg, None)
        status(rid, OK)
    elif t in (6, 9, 13, 18):
        status(rid, PERMISSION_DENIED)
    else:
        status(rid, OP_UNSUPPORTED)
