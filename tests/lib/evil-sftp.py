#!/usr/bin/python3
"""evil-sftp.py - an SFTP v3 server (draft-ietf-secsh-filexfer-02) on
stdin/stdout that serves a directory honestly by default and lies as a
scenario file says. Standard library only. Meant to be run by sshd as
`ForceCommand /usr/bin/python3 evil-sftp.py CTL.json`.

CTL.json (read at the start of each session):
  {"root": "/dir",              served directory (paths are mapped under it
                                 by their last component: the remote dir of
                                 the client's URL is ignored)
   "state": "/dir/state",       writable dir: session counter, request log
   "sessions": [ {...}, ... ]}  the scenario of session N (0-based) is
                                 sessions[min(N, len-1)]; {} is honest

Scenario keys (all optional):
  hide: [name]                  left out of READDIR
  extra: [{"name": s, "size": n, "mtime": n, "mode": n, "flags": n,
           "hex": hexname}]      fake entries appended to READDIR (hex gives
                                 the name's bytes; mode default 0o100644)
  serve: [{"hex": hexname, "file": "/local/path"}]
                                 entries appended to READDIR with the size
                                 and mtime of "file" (mode 0o100644), in
                                 the order given: names no file system can
                                 hold included ("/", "..", 4,000 bytes,
                                 control bytes, not UTF-8). OPEN and STAT
                                 of a path ending in "/" + the name serve
                                 "file" (read only)
  hexlog: "/path"               each request appended there too, as the
                                 request type and the hex of the path it
                                 names ("OPEN 2e2e"), for names a repr
                                 would not show plainly
  dup: [{"name": s, "size": n, "mtime": n, "first": bool}]
                                 a second entry for a real file, its
                                 attributes overridden; first: listed before
                                 the true one
  attr: {name: {"size": n, "mtime": n, "mode": n, "flags": n}}
                                 listing attributes overridden
  stat_attr: {name: {...}}      STAT/LSTAT/FSTAT attributes overridden
  endless: {"kind": "bad"|"reg"|"dir"|"same", "batch": n, "len": n}
                                 READDIR never says EOF
  names_per_reply: n            entries per NAME reply (default 100)
  read_extra: n                 every DATA reply carries n more bytes
  malformed_name: count|namelen|attrs|ext|short   the first NAME reply broken
  malformed_data: strlen|short|bigger              every DATA reply broken
  read_zero: true               every READ answered with zero-length DATA
  read_eof_at: {name: off}      EOF from offset off on
  read_stall_at: {name: off}    a READ at or past off is never answered
  read_trickle: {name: secs}    each DATA reply sent a byte at a time,
                                 secs between bytes
  read_xor_from: {name: off}    bytes at or past off are XORed with 0x5a
  read_xor_range: {name: [lo, hi]}  bytes in [lo, hi) are XORed with 0x5a
  flood: {"count": n, "size": n} before each READ reply, n DATA replies
                                 with request ids nobody asked for
  read_status: n                every READ answered with STATUS n
  wrong_id: true                READ replies carry id + 1
  huge_len: true                the first READ reply claims 0xffffffff bytes
  delay: {"stat": secs, ...}    each request of that type answered secs late
  open_fail: [name]             OPEN of these answered PERMISSION_DENIED
  remove: "lie"|"fail"          REMOVE says OK doing nothing / FAILURE
  rename: "lie"|"fail"          RENAME likewise
  fstat: "fail"                 FSTAT answered with FAILURE
"""
import json
import os
import stat
import struct
import sys
import time
import fcntl

FXP = dict(INIT=1, VERSION=2, OPEN=3, CLOSE=4, READ=5, WRITE=6, LSTAT=7,
           FSTAT=8, SETSTAT=9, FSETSTAT=10, OPENDIR=11, READDIR=12,
           REMOVE=13, MKDIR=14, RMDIR=15, REALPATH=16, STAT=17, RENAME=18,
           READLINK=19, SYMLINK=20, STATUS=101, HANDLE=102, DATA=103,
           NAME=104, ATTRS=105, EXTENDED=200, EXTENDED_REPLY=201)
OK, EOF, NOSUCH, PERM, FAILURE, BADMSG, UNSUP = 0, 1, 2, 3, 4, 5, 8
A_SIZE, A_UIDGID, A_PERM, A_TIME = 1, 2, 4, 8

inp = sys.stdin.buffer
out = sys.stdout.buffer


def readn(n):
    b = b''
    while len(b) < n:
        c = inp.read(n - len(b))
        if not c:
            sys.exit(0)
        b += c
    return b


def send(payload):
    out.write(struct.pack('>I', len(payload)) + payload)
    out.flush()


def s(b):
    if isinstance(b, str):
        b = b.encode('utf-8', 'surrogateescape')
    return struct.pack('>I', len(b)) + b


class R:
    def __init__(self, b):
        self.b, self.o = b, 0

    def u32(self):
        v = struct.unpack_from('>I', self.b, self.o)[0]
        self.o += 4
        return v

    def u64(self):
        v = struct.unpack_from('>Q', self.b, self.o)[0]
        self.o += 8
        return v

    def str(self):
        n = self.u32()
        v = self.b[self.o:self.o + n]
        self.o += n
        return v


ctl = json.load(open(sys.argv[1]))
ROOT = ctl['root'].encode()
STATE = ctl['state']
os.makedirs(STATE, exist_ok=True)
with open(os.path.join(STATE, 'sessions'), 'a+') as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    f.seek(0)
    NSESS = len(f.read().splitlines())
    f.write('%d %d\n' % (NSESS, os.getpid()))
sc_list = ctl.get('sessions') or [{}]
SC = sc_list[min(NSESS, len(sc_list) - 1)]
LOG = open(os.path.join(STATE, 'requests.log'), 'a')


def log(msg):
    LOG.write('s%d %s\n' % (NSESS, msg))
    LOG.flush()


def local(path):
    return os.path.join(ROOT, os.path.basename(path.rstrip(b'/')))


def attrs(st=None, size=None, mtime=None, mode=None, flags=None):
    if st is not None:
        size = st.st_size if size is None else size
        mtime = int(st.st_mtime) if mtime is None else mtime
        mode = st.st_mode if mode is None else mode
    fl = flags if flags is not None else (A_SIZE | A_UIDGID | A_PERM |
                                          A_TIME)
    b = struct.pack('>I', fl)
    if fl & A_SIZE:
        b += struct.pack('>Q', size & 0xffffffffffffffff)
    if fl & A_UIDGID:
        b += struct.pack('>II', 0, 0)
    if fl & A_PERM:
        b += struct.pack('>I', mode & 0xffffffff)
    if fl & A_TIME:
        b += struct.pack('>II', mtime & 0xffffffff, mtime & 0xffffffff)
    return b


def attrs_over(st, o):
    return attrs(st, o.get('size'), o.get('mtime'), o.get('mode'),
                 o.get('flags'))


SERVE = [(bytes.fromhex(x['hex']), x['file']) for x in SC.get('serve', [])]
HEXLOG = open(SC['hexlog'], 'a') if 'hexlog' in SC else None
RNAMES = {v: k for k, v in FXP.items()}


def served(path):
    """The local file behind a served entry that PATH names, or None."""
    for nm, f in SERVE:
        if path.endswith(b'/' + nm):
            return f
    return None


def status(rid, code, msg=''):
    send(bytes([FXP['STATUS']]) + struct.pack('>II', rid, code) + s(msg) +
         s(''))


handles = {}
hseq = [0]


def new_handle(obj):
    hseq[0] += 1
    h = b'h%d' % hseq[0]
    handles[h] = obj
    return h


def stat_reply(rid, path, follow=True):
    p = served(path) or local(path)
    try:
        st = os.stat(p) if follow else os.lstat(p)
    except OSError:
        return status(rid, NOSUCH, 'no such file')
    name = os.path.basename(p).decode('utf-8', 'surrogateescape')
    o = SC.get('stat_attr', {}).get(name)
    a = attrs_over(st, o) if o else attrs(st)
    send(bytes([FXP['ATTRS']]) + struct.pack('>I', rid) + a)


def listing(path):
    d = local(path) if path not in (b'/', b'') else ROOT
    if os.path.basename(path.rstrip(b'/')) and not os.path.isdir(d):
        d = ROOT
    ents = []
    hide = set(SC.get('hide', []))
    over = SC.get('attr', {})
    dups = SC.get('dup', [])
    for n in sorted(os.listdir(ROOT)):
        name = n.decode('utf-8', 'surrogateescape')
        if name in hide:
            continue
        try:
            st = os.lstat(os.path.join(ROOT, n))
        except OSError:
            continue
        for dd in dups:
            if dd['name'] == name and dd.get('first'):
                ents.append((n, attrs_over(st, dd)))
        o = over.get(name)
        ents.append((n, attrs_over(st, o) if o else attrs(st)))
        for dd in dups:
            if dd['name'] == name and not dd.get('first'):
                ents.append((n, attrs_over(st, dd)))
    for nm, f in SERVE:
        st = os.stat(f)
        ents.append((nm, attrs(None, st.st_size, int(st.st_mtime),
                               0o100644)))
    for x in SC.get('extra', []):
        nm = bytes.fromhex(x['hex']) if 'hex' in x else \
            x['name'].encode('utf-8', 'surrogateescape')
        ents.append((nm, attrs(None, x.get('size', 10),
                               x.get('mtime', int(time.time()) - 3600),
                               x.get('mode', 0o100644), x.get('flags'))))
    return ents


def readdir(rid, h):
    obj = handles[h]
    en = SC.get('endless')
    per = SC.get('names_per_reply', 100)
    if en:
        obj['n'] = obj.get('n', 0)
        batch = en.get('batch', 100)
        body = b''
        for i in range(batch):
            k = obj['n'] + i
            kind = en.get('kind', 'bad')
            if kind == 'bad':
                nm = b'bad/%d' % k
                a = attrs(None, 1, 1, 0o100644)
            elif kind == 'dir':
                nm = b'd%d' % k
                a = attrs(None, 4096, 1, 0o040755)
            elif kind == 'same':
                nm = b'same.csv'
                a = attrs(None, 10, 1000000 + k, 0o100644)
            else:
                ln = en.get('len', 8)
                nm = (b'f%0*d.csv' % (max(ln - 5, 1), k))
                a = attrs(None, 10, 1, 0o100644)
            body += s(nm) + s(nm) + a
        obj['n'] += batch
        send(bytes([FXP['NAME']]) + struct.pack('>II', rid, batch) + body)
        return
    mal = SC.get('malformed_name')
    if mal and not obj.get('mal'):
        obj['mal'] = 1
        e1 = s(b'm.csv') + s(b'm.csv') + attrs(None, 10, 1, 0o100644)
        if mal == 'count':      # count says 100000, one entry follows
            body = struct.pack('>II', rid, 100000) + e1
        elif mal == 'namelen':  # a name length past the packet's end
            body = struct.pack('>II', rid, 1) + struct.pack('>I', 0xfffffff0) + b'abc'
        elif mal == 'attrs':    # every flag, the packet ends after them
            body = struct.pack('>II', rid, 1) + s(b'm.csv') + s(b'm.csv') + struct.pack('>I', 0x8000000f)
        elif mal == 'ext':      # extended attributes: a huge count
            body = struct.pack('>II', rid, 1) + s(b'm.csv') + s(b'm.csv') + struct.pack('>I', 0x80000000) + struct.pack('>I', 0x7fffffff)
        elif mal == 'short':    # the packet ends inside the id
            body = b'\x00\x00'
        else:
            body = struct.pack('>II', rid, 1) + e1
        send(bytes([FXP['NAME']]) + body)
        return
    ents = obj['ents']
    if obj['pos'] >= len(ents):
        return status(rid, EOF, 'eof')
    chunk = ents[obj['pos']:obj['pos'] + per]
    obj['pos'] += len(chunk)
    body = b''.join(s(n) + s(b'-rw-r--r-- 1 u u 0 Jan 1 00:00 ' + n[:100]) + a
                    for n, a in chunk)
    send(bytes([FXP['NAME']]) + struct.pack('>II', rid, len(chunk)) + body)


def do_read(rid, h, off, ln):
    obj = handles[h]
    name = obj['name']
    f = obj['f']
    if 'read_status' in SC:
        return status(rid, SC['read_status'], 'lie')
    st_at = SC.get('read_stall_at', {}).get(name)
    if st_at is not None and off + ln > st_at:
        log('stall %s at %d' % (name, off))
        while True:
            time.sleep(3600)
    eof_at = SC.get('read_eof_at', {}).get(name)
    fl = SC.get('flood')
    if fl:
        junk = b'J' * fl.get('size', 1000)
        obj.setdefault('fl', 0)
        for i in range(fl.get('count', 10)):
            send(bytes([FXP['DATA']]) + struct.pack('>I', 0x7f000000 + i +
                                                  obj['fl']) +
                 s(junk))
        obj['fl'] += fl.get('count', 10)
    md = SC.get('malformed_data')
    if md == 'strlen':          # DATA whose length says more than it carries
        return send(bytes([FXP['DATA']]) + struct.pack('>I', rid) + struct.pack('>I', 0x7ffffff0) + b'abc')
    if md == 'short':
        return send(bytes([FXP['DATA']]) + struct.pack('>I', rid)[:2])
    if md == 'bigger':          # more bytes than were asked for
        f.seek(off)
        return send(bytes([FXP['DATA']]) + struct.pack('>I', rid) + s(f.read(ln) + b'Z' * 5000))
    if SC.get('read_zero'):
        return send(bytes([FXP['DATA']]) + struct.pack('>I', rid) + s(b''))
    f.seek(off)
    data = f.read(ln)
    if eof_at is not None:
        data = data[:max(0, eof_at - off)]
    xo = SC.get('read_xor_from', {}).get(name)
    if xo is not None:
        data = bytes(b ^ 0x5a if off + i >= xo else b
                     for i, b in enumerate(data))
    xr = SC.get('read_xor_range', {}).get(name)
    if xr is not None:
        data = bytes(b ^ 0x5a if xr[0] <= off + i < xr[1] else b
                     for i, b in enumerate(data))
    if not data:
        return status(rid, EOF, 'eof')
    data += b'X' * SC.get('read_extra', 0)
    rid2 = rid + 1 if SC.get('wrong_id') else rid
    pkt = bytes([FXP['DATA']]) + struct.pack('>I', rid2) + s(data)
    if SC.get('huge_len') and not obj.get('huge'):
        obj['huge'] = 1
        out.write(struct.pack('>I', 0xffffffff) + pkt)
        out.flush()
        while True:
            time.sleep(3600)
    tr = SC.get('read_trickle', {}).get(name)
    if tr is not None:
        raw = struct.pack('>I', len(pkt)) + pkt
        for i in range(len(raw)):
            out.write(raw[i:i + 1])
            out.flush()
            time.sleep(tr)
        return
    send(pkt)


def main():
    t = readn(4)
    ln = struct.unpack('>I', t)[0]
    pkt = readn(ln)
    if pkt[0] != FXP['INIT']:
        sys.exit(1)
    send(bytes([FXP['VERSION']]) + struct.pack('>I', 3))
    log('init %r' % SC)
    while True:
        ln = struct.unpack('>I', readn(4))[0]
        pkt = readn(ln)
        typ = pkt[0]
        dl = SC.get('delay', {})
        for k, v in dl.items():
            if FXP.get(k.upper()) == typ:
                time.sleep(v)
        r = R(pkt[1:])
        rid = r.u32()
        if HEXLOG is not None and typ != FXP['INIT']:
            arg = R(pkt[5:]).str() if len(pkt) >= 9 else b''
            HEXLOG.write('%s %s\n' % (RNAMES.get(typ, str(typ)), arg.hex()))
            HEXLOG.flush()
        if typ == FXP['OPENDIR']:
            path = r.str()
            log('opendir %r' % path)
            h = new_handle({'dir': True, 'ents': listing(path), 'pos': 0})
            send(bytes([FXP['HANDLE']]) + struct.pack('>I', rid) + s(h))
        elif typ == FXP['READDIR']:
            readdir(rid, r.str())
        elif typ == FXP['OPEN']:
            path = r.str()
            pflags = r.u32()
            log('open %r %x' % (path, pflags))
            p = local(path)
            sv = served(path)
            if sv is not None:
                if pflags & ~0x1:
                    status(rid, PERM, 'permission denied')
                    continue
                p = sv.encode()
            if os.path.basename(p).decode('utf-8', 'surrogateescape') in \
                    SC.get('open_fail', []):
                status(rid, PERM, 'permission denied')
                continue
            try:
                if pflags & 0x2:        # write
                    fo = open(p, 'wb')
                else:
                    fo = open(p, 'rb')
            except OSError:
                status(rid, NOSUCH, 'cannot open')
                continue
            h = new_handle({'f': fo, 'name': os.path.basename(p).decode(
                'utf-8', 'surrogateescape'), 'path': p})
            send(bytes([FXP['HANDLE']]) + struct.pack('>I', rid) + s(h))
        elif typ == FXP['READ']:
            h = r.str()
            off = r.u64()
            n = r.u32()
            do_read(rid, h, off, n)
        elif typ == FXP['WRITE']:
            h = r.str()
            off = r.u64()
            data = r.str()
            fo = handles[h]['f']
            fo.seek(off)
            fo.write(data)
            status(rid, OK)
        elif typ == FXP['CLOSE']:
            h = r.str()
            obj = handles.pop(h, None)
            if obj and 'f' in obj:
                obj['f'].close()
            status(rid, OK)
        elif typ == FXP['FSTAT']:
            h = r.str()
            obj = handles.get(h)
            if SC.get('fstat') == 'fail' or not obj or 'f' not in obj:
                status(rid, FAILURE, 'no fstat')
                continue
            st = os.fstat(obj['f'].fileno())
            o = SC.get('stat_attr', {}).get(obj['name'])
            a = attrs_over(st, o) if o else attrs(st)
            send(bytes([FXP['ATTRS']]) + struct.pack('>I', rid) + a)
        elif typ in (FXP['STAT'], FXP['LSTAT']):
            path = r.str()
            log('stat %r' % path)
            stat_reply(rid, path, typ == FXP['STAT'])
        elif typ == FXP['REALPATH']:
            path = r.str()
            send(bytes([FXP['NAME']]) + struct.pack('>II', rid, 1) + s(path) +
                 s(path) + attrs(None, 0, 0, 0o040755))
        elif typ == FXP['REMOVE']:
            path = r.str()
            log('remove %r' % path)
            m = SC.get('remove')
            if m == 'lie':
                status(rid, OK)
            elif m == 'fail':
                status(rid, FAILURE, 'nope')
            else:
                try:
                    os.unlink(local(path))
                    status(rid, OK)
                except OSError:
                    status(rid, NOSUCH, 'no')
        elif typ == FXP['RENAME']:
            old = r.str()
            new = r.str()
            log('rename %r %r' % (old, new))
            m = SC.get('rename')
            if m == 'lie':
                status(rid, OK)
            elif m == 'fail':
                status(rid, FAILURE, 'nope')
            else:
                # move into ROOT/<dirname of new's last dir>/
                dst = os.path.join(ROOT, b'..', b'moved',
                                   os.path.basename(new))
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                if os.path.exists(dst):
                    status(rid, FAILURE, 'exists')
                else:
                    os.rename(local(old), dst)
                    status(rid, OK)
        elif typ == FXP['EXTENDED']:
            status(rid, UNSUP, 'unsupported')
        else:
            status(rid, UNSUP, 'unsupported')


try:
    main()
except (BrokenPipeError, SystemExit):
    pass
except Exception as ex:
    log('crash %r' % ex)
    raise
