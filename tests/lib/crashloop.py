#!/usr/bin/python3
"""crashloop.py - the drops, the kill driver and the end-state checks of
tests/e2e/crashloop.sh and tests/e2e/run-failpoints.sh (see
tests/lib/crashloop-lib.sh, which writes the CFG file and calls this).

  crashloop.py gen CFG        the drop set (waves) and expected.json
  crashloop.py stage CFG      every wave into the reference landings
  crashloop.py feed CFG WAVE  one wave to the SFTP sources and landings
  crashloop.py loop CFG       the SIGKILL loop through `tradedrop run`
  crashloop.py fail CFG NAME  one failpoint through `tradedrop run`
  crashloop.py finish CFG     run both daemons until the work is done
  crashloop.py check CFG      the end state, as lines "ok|not ok<TAB>what"

CFG is JSON: td (the binary), dir (drops and expected.json), mode (full
or small), seed, kills, keys (minisign key pair), uid (of the SFTP user),
logdir, peer (the receiver's directory), and per integration "a" (CSV)
and "b" (X12): conf, state, landing, remote (SFTP directory or null),
ref_conf, ref_state, ref_out.

Expected outcomes are computed here from the rows written, independently
of tradedrop: per file its transmission_id (SHA-256 of its bytes), the
records it should deliver, their quantity and amount sums, the rows it
should dead-letter (and their code), or the Tier 2 code it should be
quarantined with, or that it is a duplicate drop.
"""

import collections
import fcntl
import gzip
import hashlib
import io
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from decimal import Decimal

T0 = 1795000000  # mtime of the first drop; later drops are later
DAEMONS = []	# every Daemon made: killed at exit


def load_cfg(path):
    with open(path) as f:
        return json.load(f)


def say(msg):
    print("# " + msg, flush=True)


# ------------------------------------------------------------------ drops

def upc_a(rng):
    d = [rng.randrange(10) for _ in range(11)]
    s = 3 * sum(d[0::2]) + sum(d[1::2])
    return "".join(map(str, d)) + str((10 - s % 10) % 10)


def bad_check(u):
    return u[:-1] + str((int(u[-1]) + 1) % 10)


class Drops:
    """The files of one run, by wave and channel, with what each should
    become."""

    def __init__(self, top, seed):
        self.top = top
        self.rng = random.Random(seed)
        self.expected = []
        self.order = 0
        self.upcs = set()
        self.round = 0
        self.pre = ""
        self.scale = 1.0

    def upc(self):
        while True:
            u = upc_a(self.rng)
            if u not in self.upcs and u[:11] != "00000000000":
                self.upcs.add(u)
                return u

    def put(self, group, chan, name, data, exp, sidecars=()):
        """A drop (and its sidecars) of group 0-3: a later group is fed
        later (gen() spreads the groups over the waves)."""
        name = self.pre + name
        d = os.path.join(self.top, "files", chan)
        os.makedirs(d, exist_ok=True)
        self.order += 1
        mtime = T0 + 10 * self.order
        sides = []
        for sname, sdata in sidecars:
            sname = self.pre + sname
            sides.append(sname)
            with open(os.path.join(d, sname), "wb") as f:
                f.write(sdata)
            os.utime(os.path.join(d, sname), (mtime - 1, mtime - 1))
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        os.utime(os.path.join(d, name), (mtime, mtime))
        e = {"name": name, "integ": chan[0], "chan": chan, "group": group,
             "round": self.round, "order": self.order,
             "tid": hashlib.sha256(data).hexdigest(), "outcome": "delivered",
             "code": None, "records": 0, "dlq": 0, "dlq_code": None,
             "qty": "0", "amt": "0", "sidecars": sides}
        e.update(exp)
        self.expected.append(e)
        return e

    # -- CSV (integration a) --------------------------------------------
    def csv_rows(self, tag, n, bad=0, enc="utf-8", cp1252_at=None):
        """n rows (bad of them with a wrong GTIN check digit); returns the
        bytes and the expectation of the good rows."""
        if self.scale != 1.0:
            n = max(10, int(n * self.scale))
            if bad > n // 4:
                bad = max(1, int(bad * self.scale))
            if cp1252_at is not None:
                cp1252_at = int(cp1252_at * self.scale)
        week = "11/%02d/2026" % (1 + self.rng.randrange(28))
        badrows = set(self.rng.sample(range(n), bad)) if bad else set()
        items = [(self.upc(), "ITM-%s-%d" % (tag, k)) for k in range(50)]
        out = io.StringIO()
        out.write("Store Nbr,Week Ending,UPC,Item,Units,Net Sales,Ticket\r\n")
        qty, amt, good = Decimal(0), Decimal(0), 0
        for i in range(n):
            u, item = items[i % len(items)]
            if cp1252_at is not None and i >= cp1252_at:
                item = "CAF\u00c9 \u2018%s\u2019 \u20ac%d" % (tag, i % 50)
            units = self.rng.randrange(-3, 60) or 1
            cents = units * self.rng.randrange(99, 1999)
            a = "%s%d.%02d" % ("-" if cents < 0 else "", abs(cents) // 100,
                               abs(cents) % 100)
            if i in badrows:
                u = bad_check(u)
            else:
                good += 1
                qty += units
                amt += Decimal(a)
            out.write('%d,%s,%s,"%s",%d,%s,%s-%d\r\n' % (
                100 + self.rng.randrange(900), week, u, item, units, a, tag,
                i))
        data = out.getvalue().encode(enc)
        return data, {"records": good, "qty": str(qty), "amt": str(amt),
                      "dlq": len(badrows),
                      "dlq_code": "gtin_check_digit" if badrows else None}

    # -- X12 (integration b) --------------------------------------------
    def isa(self, ctrl, gs_id):
        return ("ISA*00*          *00*          *ZZ*RETAILER       *ZZ*"
                "ACMECPG        *261130*0930*U*00401*%09d*0*P*>~\n"
                "GS*PD*RETAILER*ACMECPG*20261130*0930*%d*X*004010~\n"
                % (ctrl, gs_id))

    def x12_852(self, ctrl, nitems, nstores, ctrl_iea=None):
        segs = ["ST*852*0001", "XQ*H*20261115*20261121",
                "N1*RL*ACME MART*92*%04d" % ctrl]
        qty = Decimal(0)
        n = 0
        for k in range(nitems):
            segs.append("LIN*%d*UP*%s*IN*X%d-%d" % (k + 1, self.upc()[:12],
                                                  ctrl, k))
            pairs = [("S%d-%02d" % (ctrl, s), self.rng.randrange(1, 40))
                     for s in range(nstores)]
            segs.append("ZA*QS*%d*EA" % sum(q for _, q in pairs))
            segs.append("SDQ*EA*92*" + "*".join("%s*%d" % p for p in pairs))
            qty += sum(q for _, q in pairs)
            n += len(pairs)
        segs.append("CTT*%d" % nitems)
        segs.append("SE*%d*0001" % (len(segs) + 1))
        txt = self.isa(ctrl, ctrl) + "~\n".join(segs) + "~\n"
        txt += "GE*1*%d~\nIEA*1*%09d~\n" % (ctrl, ctrl if ctrl_iea is None
                                           else ctrl_iea)
        return txt.encode(), {"records": n, "qty": str(qty), "amt": "0"}

    def x12_867(self, ctrl, nstores, nitems):
        segs = ["ST*867*0001", "BPT*00*R%d*20261120*PR" % ctrl]
        qty, amt, n = Decimal(0), Decimal(0), 0
        for s in range(nstores):
            segs.append("PTD*SS")
            segs.append("N1*ST*STORE %d*92*T%d-%02d" % (s, ctrl, s))
            for k in range(nitems):
                q = self.rng.randrange(1, 30)
                a = Decimal(q * self.rng.randrange(99, 999)) / 100
                segs.append("QTY*32*%d*EA" % q)
                segs.append("LIN**UP*%s" % self.upc()[:12])
                segs.append("AMT*1*%s" % a)
                qty += q
                amt += a
                n += 1
        segs.append("CTT*%d" % n)
        segs.append("SE*%d*0001" % (len(segs) + 1))
        txt = self.isa(ctrl, ctrl) + "~\n".join(segs) + "~\n"
        txt += "GE*1*%d~\nIEA*1*%09d~\n" % (ctrl, ctrl)
        return txt.encode(), {"records": n, "qty": str(qty), "amt": str(amt)}


def minisign(keys, path, legacy=False):
    cmd = ["minisign", "-S", "-s", os.path.join(keys, "k.key"), "-m", path,
           "-t", "crashloop " + os.path.basename(path)]
    if legacy:
        cmd.append("-l")
    subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    with open(path + ".minisig", "rb") as f:
        sig = f.read()
    os.unlink(path + ".minisig")
    return sig


def signed(keys, data, tmp, legacy=False):
    with open(tmp, "wb") as f:
        f.write(data)
    sig = minisign(keys, tmp, legacy)
    os.unlink(tmp)
    return sig


def zip_bytes(members):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            zi = zipfile.ZipInfo(name, (2026, 11, 30, 9, 30, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return b.getvalue()


def merge(*exps):
    r = {"records": 0, "qty": Decimal(0), "amt": Decimal(0), "dlq": 0,
         "dlq_code": None}
    for e in exps:
        r["records"] += e["records"]
        r["qty"] += Decimal(e["qty"])
        r["amt"] += Decimal(e["amt"])
        r["dlq"] += e.get("dlq", 0)
        r["dlq_code"] = r["dlq_code"] or e.get("dlq_code")
    r["qty"], r["amt"] = str(r["qty"]), str(r["amt"])
    return r


def round_files(D, big, keys, tmp):
    """One round of the drop set, in four groups (the bad ones and the
    duplicate in later groups than the good ones they follow)."""
    # Integration a (CSV), group 0
    data, e = D.csv_rows(D.pre + "sp1", 3000)
    D.put(0, "a-sftp", "s-plain-1.csv", data, e)
    if big:
        data, e = D.csv_rows(D.pre + "sbig", 60000, bad=2)
        D.put(0, "a-sftp", "s-big.csv", data, e)
    data, e = D.csv_rows(D.pre + "ssg", 1500)
    D.put(0, "a-sftp", "s-signed.csv", data, e,
          [("s-signed.csv.minisig", signed(keys, data, tmp))])
    data, e = D.csv_rows(D.pre + "lp1", 2000)
    D.put(0, "a-land", "l-plain-1.csv", data, e)
    orig = data
    # Windows-1252 from row 2500 on: read as UTF-8 first, then again
    data, e = D.csv_rows(D.pre + "lcp", 3000, enc="cp1252", cp1252_at=2500)
    D.put(0, "a-land", "l-cp1252.csv", data, e)
    d1, e1 = D.csv_rows(D.pre + "lz1", 1500)
    d2, e2 = D.csv_rows(D.pre + "lz2", 1200, bad=1)
    D.put(0, "a-land", "l-zip.zip", zip_bytes([("in/a.csv", d1),
                                                ("b.csv", d2)]),
          merge(e1, e2))
    data, e = D.csv_rows(D.pre + "lgz", 4000)
    D.put(0, "a-land", "l-gz.csv.gz", gzip.compress(data, mtime=0), e)
    # group 1: with a bad signature, too many bad rows
    data, e = D.csv_rows(D.pre + "sgz", 2500)
    D.put(1, "a-sftp", "s-gz.csv.gz", gzip.compress(data, mtime=0), e)
    data, e = D.csv_rows(D.pre + "sbs", 800)
    other, _ = D.csv_rows(D.pre + "sbs-other", 800)
    D.put(1, "a-sftp", "s-badsig.csv", data,
          {"outcome": "quarantined", "code": "signature_invalid"},
          [("s-badsig.csv.minisig", signed(keys, other, tmp))])
    data, e = D.csv_rows(D.pre + "sdl", 2000, bad=3)
    D.put(1, "a-sftp", "s-dlq.csv", data, e)
    data, e = D.csv_rows(D.pre + "lrt", 200, bad=40)
    D.put(1, "a-land", "l-ratio.csv", data,
          {"outcome": "quarantined", "code": "reject_ratio_exceeded",
           "dlq": e["dlq"]})
    data, e = D.csv_rows(D.pre + "lsl", 1000)
    D.put(1, "a-land", "l-signed-legacy.csv", data, e,
          [("l-signed-legacy.csv.minisig", signed(keys, data, tmp, True))])
    # group 2: with a corrupt zip
    d1, e1 = D.csv_rows(D.pre + "sz1", 2000)
    d2, e2 = D.csv_rows(D.pre + "sz2", 2200)
    D.put(2, "a-sftp", "s-zip.zip", zip_bytes([("x.csv", d1), ("y.csv", d2)]),
          merge(e1, e2))
    z = zip_bytes([("c.csv", D.csv_rows(D.pre + "scz", 3000)[0])])
    D.put(2, "a-sftp", "s-corrupt.zip", z[:len(z) // 2] + bytes(64) +
          z[len(z) // 2 + 64:], {"outcome": "quarantined",
                                 "code": "archive_corrupt"})
    if big:
        data, e = D.csv_rows(D.pre + "lbig", 40000)
        D.put(2, "a-land", "l-big-2.csv", data, e)
    data, e = D.csv_rows(D.pre + "lp2", 2500)
    D.put(2, "a-land", "l-plain-2.csv", data, e)
    # group 3: the same bytes as l-plain-1.csv again, and more
    D.put(3, "a-land", "l-dup.csv", orig, {"outcome": "duplicate"})
    data, e = D.csv_rows(D.pre + "lp3", 1800)
    D.put(3, "a-land", "l-plain-3.csv", data, e)
    data, e = D.csv_rows(D.pre + "sp2", 2200)
    D.put(3, "a-sftp", "s-plain-2.csv", data, e)

    # Integration b (X12 852 and 867)
    data, e = D.x12_852(D.round * 100 + 201, 60 if big else 20, 8)
    D.put(0, "b-sftp", "x-852-1.x12", data, e)
    data, e = D.x12_867(D.round * 100 + 202, 10, 20)
    D.put(0, "b-land", "x-867-1.x12", data, e)
    data, e = D.x12_852(D.round * 100 + 203, 40, 6)
    D.put(1, "b-land", "x-852-2.x12", data, e)
    data, e = D.x12_852(D.round * 100 + 204, 5, 3, ctrl_iea=999)
    D.put(1, "b-sftp", "x-bad-control.x12", data,
          {"outcome": "quarantined", "code": "x12_control_mismatch"})
    data, e = D.x12_867(D.round * 100 + 205, 8, 25)
    D.put(2, "b-sftp", "x-867-2.x12", data, e)
    data, e = D.x12_852(D.round * 100 + 206, 30, 5)
    D.put(3, "b-land", "x-852-3.zip", zip_bytes([("edi/852.x12", data)]), e)


WAVES = 16	# per round


def gen(cfg):
    """The drop set: cfg["rounds"] rounds of round_files(), each spread
    over WAVES waves (in the order the files were made); expected.json."""
    top = cfg["dir"]
    full = cfg["mode"] == "full"
    D = Drops(top, 4242 if full else 4343)
    D.scale = 1.0 if full else 0.1
    tmp = os.path.join(top, "sign.tmp")
    os.makedirs(top, exist_ok=True)
    for r in range(cfg.get("rounds", 1)):
        D.round, D.pre = r, "r%d-" % r if r else ""
        round_files(D, 1 if full else 0, cfg["keys"], tmp)
    per = WAVES if full else 1
    for r in range(cfg.get("rounds", 1)):
        es = [e for e in D.expected if e["round"] == r]
        es.sort(key=lambda e: (e["group"], e["order"]))
        for k, e in enumerate(es):
            e["wave"] = w = r * per + k * per // len(es)
            dst = os.path.join(top, "waves", str(w), e["chan"])
            os.makedirs(dst, exist_ok=True)
            for n in e["sidecars"] + [e["name"]]:
                os.rename(os.path.join(top, "files", e["chan"], n),
                          os.path.join(dst, n))
    if not cfg.get("sftp", True):
        # no SFTP: everything through the landing directories
        for w in os.listdir(os.path.join(top, "waves")):
            for i in "ab":
                s = os.path.join(top, "waves", w, i + "-sftp")
                if os.path.isdir(s):
                    dst = os.path.join(top, "waves", w, i + "-land")
                    os.makedirs(dst, exist_ok=True)
                    for f in os.listdir(s):
                        os.rename(os.path.join(s, f), os.path.join(dst, f))
                    os.rmdir(s)
        for e in D.expected:
            e["chan"] = e["integ"] + "-land"
    with open(os.path.join(top, "expected.json"), "w") as f:
        json.dump(D.expected, f, indent=1)
    return 0


# ----------------------------------------------------------- feeding drops

def place(src, dst_dir, name, uid=None):
    """src to dst_dir/name: written under a hidden name, mtime kept,
    renamed into place (the landing watch ignores .* names)."""
    tmp = os.path.join(dst_dir, ".%s.cl-tmp" % name)
    with open(src, "rb") as f, open(tmp, "wb") as g:
        g.write(f.read())
    st = os.stat(src)
    os.utime(tmp, (st.st_mtime, st.st_mtime))
    if uid is not None:
        os.chown(tmp, uid, uid)
    os.rename(tmp, os.path.join(dst_dir, name))


def wave_files(top, wave, chan):
    d = os.path.join(top, "waves", str(wave), chan)
    if not os.path.isdir(d):
        return d, []
    names = os.listdir(d)
    # sidecars first, then the data files in the order they were made
    names.sort(key=lambda n: (not n.endswith(".minisig"),
                              os.stat(os.path.join(d, n)).st_mtime, n))
    return d, names


def nwaves(top):
    return len(os.listdir(os.path.join(top, "waves")))


def feed(cfg, wave):
    top = cfg["dir"]
    n = 0
    for i in cfg["integrations"]:
        c = cfg[i]
        for chan, dst, uid in (("sftp", c.get("remote"), cfg.get("uid")),
                               ("land", c["landing"], None)):
            d, names = wave_files(top, wave, "%s-%s" % (i, chan))
            if dst is None:
                dst, uid = c["landing"], None	# no SFTP source
            for name in names:
                place(os.path.join(d, name), dst, name, uid)
                n += 1
    return n


def stage(cfg):
    """Every wave into the reference landings, in order."""
    top = cfg["dir"]
    for w in range(nwaves(top)):
        for i in cfg["integrations"]:
            dst = os.path.join(cfg[i]["ref_state"], "landing")
            os.makedirs(dst, exist_ok=True)
            for chan in ("sftp", "land"):
                d, names = wave_files(top, w, "%s-%s" % (i, chan))
                for name in names:
                    place(os.path.join(d, name), dst, name)
    return 0


# ----------------------------------------------------------- the daemons

def lock_free(state):
    try:
        fd = os.open(os.path.join(state, "lock"), os.O_RDWR)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def wait_for(what, secs, step=0.02):
    end = time.monotonic() + secs
    while not what():
        if time.monotonic() > end:
            return False
        time.sleep(step)
    return True


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def event_line(path, off, name):
    """The first line logged in path after byte off with event=name."""
    try:
        with open(path, "rb") as f:
            f.seek(off)
            data = f.read()
    except OSError:
        return None
    for line in data.decode("utf-8", "replace").splitlines():
        if (" event=%s " % name) in line:
            return line
    return None


def events_since(path, off):
    """The event= names logged in path after byte off."""
    try:
        with open(path, "rb") as f:
            f.seek(off)
            data = f.read()
    except OSError:
        return []
    ev = []
    for line in data.decode("utf-8", "replace").splitlines():
        for w in line.split():
            if w.startswith("event="):
                ev.append(w[6:])
                break
    return ev


class Daemon:
    """`tradedrop run --foreground` in a session (process group) of its
    own, its log appended to LOG."""

    def __init__(self, cfg, name, env=None):
        self.td = cfg["td"]
        self.name = name
        self.conf = cfg[name]["conf"]
        self.state = cfg[name]["state"]
        self.log = os.path.join(cfg["logdir"], "%s.log" % name)
        self.env = env
        self.p = None
        self.off = 0
        self.started = 0.0
        self.starts = 0
        self.refused = 0
        self.locked = []	# how long each start waited for the lock
        DAEMONS.append(self)

    def running(self):
        return self.p is not None and self.p.poll() is None

    def start(self, env=None, deadline=180):
        """Start once the state_dir's lock is free (workers orphaned by
        a SIGKILL of the parent hold it until they finish their job)."""
        end = time.monotonic() + deadline
        t0 = time.monotonic()
        while True:
            if not wait_for(lambda: lock_free(self.state),
                            max(0.0, end - time.monotonic())):
                raise SystemExit("%s: state_dir still locked after %ds" %
                                 (self.name, deadline))
            self.locked.append(time.monotonic() - t0)
            with open(self.log, "ab") as lf:
                self.off = lf.tell()
                lf.write(b"# crashloop: start\n")
            lf = open(self.log, "ab")
            e = dict(os.environ)
            e.pop("TD_FAILPOINT", None)
            e.update(env or {})
            self.p = subprocess.Popen([self.td, "run", "--foreground", "-c",
                                       self.conf], stdin=subprocess.DEVNULL,
                                      stdout=lf, stderr=lf, env=e,
                                      start_new_session=True)
            lf.close()
            with open(os.path.join(os.path.dirname(self.log), self.name +
                                   ".pid"), "w") as f:
                f.write("%d\n" % self.p.pid)
            self.started = time.monotonic()
            self.starts += 1
            if wait_for(lambda: "run_start" in events_since(self.log,
                        self.off) or self.p.poll() is not None, 60):
                if self.p.poll() is None:
                    return True
            rc = self.p.wait()
            with open(self.log, "rb") as f:
                f.seek(self.off)
                tail = f.read().decode("utf-8", "replace")
            if rc == 2 and "another tradedrop is working" in tail:
                self.refused += 1	# the lock was taken again: retry
                if time.monotonic() > end:
                    raise SystemExit("%s: refused until the deadline" %
                                     self.name)
                continue
            if "event=failpoint" in tail:
                # killed at a test failpoint while it started (the loop
                # appends config_loaded to the audit log before
                # run_start): the caller restarts it, as after any kill
                return False
            raise SystemExit("%s did not start (exit %s):\n%s" % (
                self.name, rc, tail[-2000:]))

    def last_event(self):
        ev = [e for e in events_since(self.log, self.off)
              if e not in ("failpoint", "worker_died")]
        return ev[-1] if ev else None

    def kill(self, kind, rng=None):
        """SIGKILL: the whole process group, the parent only (its workers
        get SIGTERM from PR_SET_PDEATHSIG and finish their job), or one
        worker (the daemon goes on and starts another)."""
        pid = self.p.pid
        if kind == "group":
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        elif kind == "parent":
            os.kill(pid, signal.SIGKILL)
        else:
            ws = children(pid)
            if not ws:
                return None
            os.kill(rng.choice(ws), signal.SIGKILL)
            return True
        self.p.wait()
        self.p = None
        return True

    def stop(self):
        """SIGTERM; the exit status."""
        if self.p is None:
            return None
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGKILL)
            rc = self.p.wait()
        self.p = None
        wait_for(lambda: lock_free(self.state), 30)
        return rc


# ----------------------------------------------------------- what arrived

def rid(line):
    i = line.index(b'"record_id":"') + 13
    return line[i:i + 32].decode()


class Output:
    """What the receiver (https) or the output directory (file://) got,
    per integration: batches (key, transmission, records), rejections,
    manifests."""

    def __init__(self, cfg, i):
        c = cfg[i]
        self.kind = c.get("output", "https")
        self.name = c["name"]
        self.batches = []	# (key, tid, status, body sha256, [lines])
        self.rejections = []	# (key, tid, status)
        self.manifests = []	# (key, tid, status, json)
        if self.kind == "https":
            self._https(cfg["peer"])
        else:
            self._file(c["out"])

    def _https(self, peer):
        try:
            f = open(os.path.join(peer, "requests.ndjson"), "rb")
        except FileNotFoundError:
            return
        with f:
            reqs = [json.loads(x) for x in f if x.strip()]
        reqs.sort(key=lambda r: r["seq"])
        for r in reqs:
            h = r["headers"]
            if h.get("tradedrop-integration") != self.name:
                continue
            if not r.get("body_complete") or r.get("body_file") is None:
                continue
            key, tid = h.get("idempotency-key"), h.get("tradedrop-transmission")
            with open(os.path.join(peer, r["body_file"]), "rb") as g:
                body = g.read()
            p = r["path"].split("?")[0]
            if p.endswith("/batches"):
                self.batches.append((key, tid, r["status"], r["body_sha256"],
                                     gzip.decompress(body).splitlines()))
            elif p.endswith("/rejections"):
                self.rejections.append((key, tid, r["status"]))
            elif p.endswith("/transmissions"):
                self.manifests.append((key, tid, r["status"],
                                       json.loads(body)))

    def _file(self, out):
        if not os.path.isdir(out):
            return
        for tid in sorted(os.listdir(out)):
            d = os.path.join(out, tid)
            for f in sorted(os.listdir(d)):
                p = os.path.join(d, f)
                if f.endswith(".tmp"):
                    continue
                if f.startswith("batch-"):
                    with open(p, "rb") as g:
                        data = g.read()
                    if f.endswith(".gz"):
                        data = gzip.decompress(data)
                    self.batches.append((tid + "/" + f, tid, 200, None,
                                         data.splitlines()))
                elif f.startswith("rejections"):
                    self.rejections.append((tid + "/" + f, tid, 200))
                elif f == "manifest.json":
                    with open(p) as g:
                        self.manifests.append((tid + "/" + f, tid, 200,
                                               json.load(g)))

    @staticmethod
    def ok(status):
        return status is not None and 200 <= status < 300

    def accepted_manifests(self):
        return {tid for _, tid, st, _ in self.manifests
                if self.ok(st) or st == 409}

    def rejected_batches(self):
        """Batches the receiver refused for good (400, 413, 422): keys
        never accepted."""
        good = {k for k, _, st, _, _ in self.batches if self.ok(st)}
        return {k: (tid, lines) for k, tid, st, _, lines in self.batches
                if st in (400, 413, 422) and k not in good}

    def rejections_for(self):
        return {tid for _, tid, st in self.rejections
                if self.ok(st) or st == 409}


def expected_of(cfg, i):
    with open(os.path.join(cfg["dir"], "expected.json")) as f:
        return [e for e in json.load(f) if e["integ"] == i]


def status_json(cfg, i):
    p = subprocess.run([cfg["td"], "status", "--json", "-c", cfg[i]["conf"]],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        return json.loads(p.stdout)
    except ValueError:
        return None


def files_in(d):
    try:
        return [f for f in os.listdir(d)
                if os.path.isfile(os.path.join(d, f))]
    except FileNotFoundError:
        return []


def tree_files(d):
    """The files (not directories) under d."""
    return [os.path.join(p, f) for p, _, fs in os.walk(d) for f in fs]


def is_done(cfg, i):
    """All of integration i's work is done: nothing waits at the source,
    in landing, in work/ or the outbox; every transmission delivered or
    quarantined; every rejection reported."""
    c = cfg[i]
    exp = expected_of(cfg, i)
    if c.get("remote") and files_in(c["remote"]):
        return False
    if files_in(c["landing"]) or tree_files(os.path.join(c["state"], "work")):
        return False
    s = status_json(cfg, i)
    if s is None:
        return False
    t = s["transmissions"]
    want_d = {e["tid"] for e in exp if e["outcome"] == "delivered"}
    want_q = {e["tid"] for e in exp if e["outcome"] == "quarantined"}
    if (t["received"] or t["parsed"] or s["outbox"]["batches"] or
            t["delivered"] < len(want_d) or t["quarantined"] < len(want_q)):
        return False
    if c.get("output", "https") == "https" and c.get("report", True):
        out = Output(cfg, i)
        want_r = want_q | {e["tid"] for e in exp if e["dlq"] and
                           e["outcome"] == "delivered"}
        if not want_r <= out.rejections_for():
            return False
    return True


def all_done(cfg):
    return all(is_done(cfg, i) for i in cfg["integrations"])


# ----------------------------------------------------------- kill loop

# What a kill is aimed at: (name, weight, the longest delay after it).
# "start" counts from the (re)start; the others wait for a sign of that
# stage (a log event, a claim in work/, an SFTP .part file, a request
# at the receiver), at most IDLE seconds. After file_processing, the
# delay is scaled by the file's rows (ROWS_PER_S), to land inside it.
AIMS = (("start", 14, 1.2),
        ("claim", 12, 0.01),
        ("fetch", 8, 0.01),
        ("ev:sftp_fetched", 6, 0.005),
        ("ev:file_received", 8, 0.02),
        ("ev:file_processing", 18, 1.0),
        ("ev:file_parsed", 8, 0.01),
        ("post", 18, 0.03),
        ("ev:file_delivered", 8, 0.01))
IDLE = 1.5
ROWS_PER_S = 40000


def plausible(cfg, i, aim):
    """Whether the sign of aim can come with what integration i has
    waiting."""
    c = cfg[i]
    remote = bool(c.get("remote") and files_in(c["remote"]))
    if aim in ("fetch", "ev:sftp_fetched"):
        return remote
    if aim in ("claim", "ev:file_received", "ev:file_processing",
               "ev:file_parsed"):
        return remote or bool(files_in(c["landing"]) or tree_files(
            os.path.join(c["state"], "work")))
    if aim in ("post", "ev:file_delivered"):
        return pending(cfg, i)
    return True


def pending(cfg, i):
    """Integration i has files waiting (at the source, in landing, work/
    or the outbox)."""
    c = cfg[i]
    return bool((c.get("remote") and files_in(c["remote"])) or
                files_in(c["landing"]) or
                tree_files(os.path.join(c["state"], "work")) or
                tree_files(os.path.join(c["state"], "outbox")))


class Aim:
    """Polls for the sign an aim waits for."""

    def __init__(self, cfg, d, aim):
        self.cfg, self.d, self.aim = cfg, d, aim
        c = cfg[d.name]
        self.state, self.landing = c["state"], c["landing"]
        self.req = os.path.join(cfg["peer"], "requests.ndjson")
        self.req0 = self.size(self.req)
        self.log0 = self.size(d.log)
        self.line = None

    @staticmethod
    def size(p):
        try:
            return os.path.getsize(p)
        except OSError:
            return 0

    def seen(self):
        a = self.aim
        if a == "start":
            return True
        if a == "claim":
            return bool(tree_files(os.path.join(self.state, "work")))
        if a == "fetch":
            return any(f.endswith(".part") for f in
                       os.listdir(self.landing))
        if a == "post":
            return self.size(self.req) > self.req0
        self.line = event_line(self.d.log, self.log0, a[3:])
        return self.line is not None


def rows_of(cfg, line):
    """The rows of the file a log line names (file=NAME), at least 500."""
    name = None
    for w in (line or "").split():
        if w.startswith("file="):
            name = w[5:]
    for e in sum((expected_of(cfg, i) for i in cfg["integrations"]), []):
        if e["name"] == name:
            return max(500, e["records"] + e["dlq"])
    return 500


def loop(cfg):
    """SIGKILL `tradedrop run` cfg["kills"] times at seeded random moments,
    restarting it each time, feeding waves of drops as it goes."""
    seed, K = cfg["seed"], cfg["kills"]
    rng = random.Random(seed)
    top = cfg["dir"]
    W = nwaves(top)
    # a wave every K/W kills, or sooner when there is nothing to do
    at = [0] + [max(1, round(w * K / W)) for w in range(1, W)]
    names = cfg["integrations"]
    ds = {i: Daemon(cfg, i) for i in names}
    feed(cfg, 0)
    fed = 1
    for i in names:
        ds[i].start()
    since = {i: ds[i].started for i in names}
    kinds = collections.Counter()
    aims = collections.Counter()
    phases = collections.Counter()
    dkills = wkills = 0
    t0 = time.monotonic()
    it = 0
    klog = open(os.path.join(cfg["logdir"], "kills.log"), "w")
    while dkills < K:
        it += 1
        busy = [i for i in names if pending(cfg, i)]
        if fed < W and (dkills >= at[fed] or not busy):
            say("kill %d: wave %d arrives (%d files)" % (dkills, fed,
                                                         feed(cfg, fed)))
            fed += 1
            busy = names
        # every draw is made whatever the timing, so a seed replays
        r_tgt = rng.random()
        kind = rng.choices(("group", "parent", "worker"), (55, 25, 20))[0]
        aim, _, dmax = rng.choices(AIMS, [a[1] for a in AIMS])[0]
        delay = rng.uniform(0.0, dmax)
        tgt = names[0] if len(names) == 1 or r_tgt < 0.7 else names[1]
        if busy and tgt not in busy:
            tgt = busy[0]	# aim at one with something to do
        d = ds[tgt]
        if not d.running():
            d.start()
            since[tgt] = d.started
        if not busy and fed >= W:
            aim = "start"	# all done: kills at start-up and recovery
            delay = delay if delay < 0.6 else delay / 2
        elif not plausible(cfg, tgt, aim):
            aim = "start"
            delay = delay if delay < 1.2 else delay / 2
        a = Aim(cfg, d, aim)
        end = (since[tgt] if aim == "start" else time.monotonic()) + IDLE
        while not a.seen() and time.monotonic() < end and d.running():
            time.sleep(0.003)
        if aim != "start" and not a.seen():
            aim = "idle"
        if aim == "start":
            time.sleep(max(0.0, since[tgt] + delay - time.monotonic()))
        elif aim == "ev:file_processing":
            # delay is 0..1: that part of the file's expected time
            time.sleep(delay * rows_of(cfg, a.line) / ROWS_PER_S)
        else:
            time.sleep(delay)
        aims[aim] += 1
        phase = d.last_event() or "startup"
        klog.write("%3d %-6s %-3s %-6s aim=%-20s delay=%.3f busy=%s "
                   "last=%s\n" % (dkills, "%.1f" % (time.monotonic() - t0),
                                   tgt, kind, aim, delay, ",".join(busy),
                                   phase))
        klog.flush()
        if kind == "worker":
            if d.kill("worker", random.Random(seed * 1000 + it)) is None:
                kind = "group"	# no worker (yet): the daemon instead
            else:
                wkills += 1
                kinds[tgt + ":worker"] += 1
                phases[phase] += 1
                since[tgt] = time.monotonic()
                continue
        d.kill(kind)
        dkills += 1
        kinds[tgt + ":" + kind] += 1
        phases[phase] += 1
        d.start()
        since[tgt] = d.started
    while fed < W:
        say("after the kills: wave %d arrives (%d files)" % (fed,
                                                            feed(cfg, fed)))
        fed += 1
    say("%d kills of the daemon, %d of a worker, in %.1fs: %s" % (
        dkills, wkills, time.monotonic() - t0,
        " ".join("%s=%d" % kv for kv in sorted(kinds.items()))))
    say("aimed at: " + " ".join("%s=%d" % kv for kv in aims.most_common()))
    waits = sorted(w for d in ds.values() for w in d.locked)
    say("a restart waited for the lock (orphaned workers finishing their "
        "job) %d times, at most %.1fs; refused %d times" % (
            sum(1 for w in waits if w > 0.05), waits[-1] if waits else 0,
            sum(d.refused for d in ds.values())))
    say("the last event logged before each kill: " + " ".join(
        "%s=%d" % kv for kv in phases.most_common()))
    rc = finish(cfg, ds)
    summ = {"kills": dkills, "worker_kills": wkills, "kinds": kinds,
            "aims": aims, "phases": phases,
            "refused": sum(d.refused for d in ds.values()), "final": rc}
    with open(os.path.join(cfg["logdir"], "summary.json"), "w") as f:
        json.dump(summ, f)
    return 0


def finish(cfg, ds=None, deadline=240):
    """Run every daemon until all the work is done, then SIGTERM them;
    their exit statuses."""
    ds = ds or {i: Daemon(cfg, i) for i in cfg["integrations"]}
    for d in ds.values():
        if not d.running():
            d.start()
    t0 = time.monotonic()
    ok = wait_for(lambda: all_done(cfg), deadline, 0.3)
    say("the work %s %.1fs after the last kill" % (
        "was done" if ok else "was NOT done", time.monotonic() - t0))
    rc = {i: d.stop() for i, d in ds.items()}
    if not ok:
        rc["timeout"] = True
    return rc


def fail(cfg, name):
    """Kill integration a's daemon at the failpoint NAME (TD_FAILPOINT;
    it kills the worker that reaches it, and this the rest of the group
    at once), restart it without, and run to the end."""
    feed_all = [feed(cfg, w) for w in range(nwaves(cfg["dir"]))]
    ds = {i: Daemon(cfg, i) for i in cfg["integrations"]}
    a = ds["a"]
    a.start({"TD_FAILPOINT": name})
    point = name.split(":")[0]
    hit = wait_for(lambda: "failpoint" in events_since(a.log, a.off) or
                   all_done(cfg), 120, 0.02)
    fired = "failpoint" in events_since(a.log, a.off)
    if fired:
        a.kill("group")
    else:
        a.stop()
    res = {"files": sum(feed_all), "fired": fired, "hit": hit,
           "point": point}
    res["final"] = finish(cfg, ds, 90)
    with open(os.path.join(cfg["logdir"], "summary.json"), "w") as f:
        json.dump(res, f)
    return 0


# ----------------------------------------------------------- the end state

class Checks:
    def __init__(self):
        self.lines = []

    def ok(self, cond, what, detail=None):
        self.lines.append(("ok" if cond else "not ok", what,
                           "" if cond or detail is None else str(detail)))
        return cond


def ref_records(out):
    """record_id -> NDJSON line, per transmission, from a file:// output."""
    recs = collections.defaultdict(dict)
    if not os.path.isdir(out):
        return recs
    for tid in os.listdir(out):
        d = os.path.join(out, tid)
        for f in os.listdir(d):
            if f.startswith("batch-") and f.endswith(".gz"):
                with gzip.open(os.path.join(d, f), "rb") as g:
                    for line in g.read().splitlines():
                        recs[tid][rid(line)] = line
    return recs


def audit_events(state):
    ev = collections.Counter()
    dups = []
    with open(os.path.join(state, "audit.log")) as f:
        for line in f:
            o = json.loads(line)
            ev[(o["event"], o["transmission_id"])] += 1
            if o["event"] == "duplicate_transmission":
                dups.append((o.get("file"), o["transmission_id"]))
    return ev, dups


def dec_sum(lines, field):
    s = Decimal(0)
    for line in lines:
        v = json.loads(line)[field]
        if v is not None:
            s += Decimal(v)
    return s


def check_integration(cfg, i, C):
    c = cfg[i]
    nm = c["name"]
    exp = expected_of(cfg, i)
    out = Output(cfg, i)
    https = out.kind == "https"
    first = {}	# key -> lines, the first accepted copy of each batch
    keys_of = collections.defaultdict(set)	# record_id -> keys
    bodies = collections.defaultdict(set)	# key -> body digests
    tid_of_key = {}
    for key, tid, st, sha, lines in out.batches:
        tid_of_key[key] = tid
        bodies[key].add(sha)
        for line in lines:
            keys_of[rid(line)].add(key)
        if Output.ok(st) and key not in first:
            first[key] = lines
    rejected = out.rejected_batches()
    got = collections.defaultdict(dict)	# tid -> record_id -> line
    twice = []
    for key, lines in first.items():
        for line in lines:
            r = rid(line)
            if r in got[tid_of_key[key]]:
                twice.append(r)
            got[tid_of_key[key]][r] = line
    n_got = sum(len(v) for v in got.values())
    C.ok(not twice, "%s: no record delivered twice (%d records)" % (nm, n_got),
         "%d twice, e.g. %s" % (len(twice), twice[:3]))
    if https:
        multi = [r for r, ks in keys_of.items() if len(ks) > 1]
        C.ok(not multi, "%s: no record under two idempotency keys" % nm,
             "%d records, e.g. %s under %s" % (
                 len(multi), multi[:1], [sorted(keys_of[r]) for r in multi[:1]]))
        diff = [k for k, v in bodies.items() if len(v) > 1]
        C.ok(not diff, "%s: every idempotency key carried the same body "
             "each time it was sent" % nm, diff[:3])
    rej_recs = collections.defaultdict(dict)
    for _, (tid, lines) in rejected.items():
        for line in lines:
            rej_recs[tid][rid(line)] = line

    # against the reference run (the same drops, `once`, no kill)
    if c.get("ref_out"):
        ref = ref_records(c["ref_out"])
        bad = []
        for tid in sorted(set(ref) | set(got)):
            want = {r: l for r, l in ref.get(tid, {}).items()
                    if r not in rej_recs.get(tid, {})}
            if got.get(tid, {}) != want:
                miss = set(want) - set(got.get(tid, {}))
                extra = set(got.get(tid, {})) - set(want)
                bad.append("%s: %d missing, %d extra, %d differ" % (
                    tid[:12], len(miss), len(extra), sum(
                        1 for r in set(want) & set(got.get(tid, {}))
                        if want[r] != got[tid][r])))
        C.ok(not bad, "%s: the records delivered are, byte for byte, those "
             "of an undisturbed `once` on the same drops" % nm, "; ".join(bad))

    # against the rows written (independent of tradedrop)
    bad = []
    for e in exp:
        recs = got.get(e["tid"], {})
        if e["outcome"] != "delivered":
            if e["outcome"] == "quarantined" and recs:
                bad.append("%s: quarantined, yet %d records delivered" % (
                    e["name"], len(recs)))
            continue
        lines = list(recs.values()) + list(rej_recs.get(e["tid"], {})
                                           .values())
        q, a = dec_sum(lines, "quantity"), dec_sum(lines, "amount")
        if (len(lines), q, a) != (e["records"], Decimal(e["qty"]),
                                  Decimal(e["amt"])):
            bad.append("%s: %d records, quantity %s, amount %s; want %d, %s, "
                       "%s" % (e["name"], len(lines), q, a, e["records"],
                               e["qty"], e["amt"]))
    want_n = sum(e["records"] for e in exp if e["outcome"] == "delivered")
    C.ok(not bad, "%s: every file's records arrived, with the row count and "
         "the exact quantity and amount sums written (%d records)" % (
             nm, want_n), "; ".join(bad))
    tids = {e["tid"] for e in exp}
    C.ok(set(got) <= tids, "%s: nothing else arrived" % nm,
         sorted(set(got) - tids))
    if rejected:
        say("%s: %d batches refused by the receiver (%d records)" % (
            nm, len(rejected), sum(len(v) for v in rej_recs.values())))

    # manifests: one per delivered transmission, counts adding up
    bad = []
    want_d = {e["tid"] for e in exp if e["outcome"] == "delivered"}
    mkeys = collections.defaultdict(set)
    mans = {}
    for key, tid, st, m in out.manifests:
        mkeys[tid].add(key)
        if Output.ok(st) or st == 409:
            mans[tid] = m
    for tid in sorted(want_d):
        m = mans.get(tid)
        if m is None:
            bad.append("%s: no manifest" % tid[:12])
            continue
        k = m["counts"]
        if len(mkeys[tid]) != 1:
            bad.append("%s: manifest under %d keys" % (tid[:12],
                                                       len(mkeys[tid])))
        if k["records"] != (k["delivered"] + k["dlq"] + k["held"] +
                            k["duplicate"] + k.get("summed", 0)):
            bad.append("%s: counts do not add up: %s" % (tid[:12], k))
        if k["delivered"] != len(got.get(tid, {})):
            bad.append("%s: counts.delivered %d, %d records arrived" % (
                tid[:12], k["delivered"], len(got.get(tid, {}))))
        e = [x for x in exp if x["tid"] == tid][0]
        if k["dlq"] != e["dlq"] + len(rej_recs.get(tid, {})):
            bad.append("%s: counts.dlq %d, want %d" % (
                tid[:12], k["dlq"], e["dlq"] + len(rej_recs.get(tid, {}))))
    C.ok(not bad and set(mans) == want_d, "%s: one manifest per delivered "
         "transmission (%d), its counts adding up: records = delivered + "
         "dlq + held + duplicate (+ summed)" % (nm, len(want_d)),
         "; ".join(bad) + (" others: %s" % sorted(set(mans) - want_d)
                           if set(mans) - want_d else ""))

    # Tier 2 and 3: quarantine and dead letters with their codes
    st = c["state"]
    bad = []
    for e in exp:
        if e["outcome"] == "quarantined":
            p = os.path.join(st, "quarantine", e["tid"], "reason.json")
            try:
                with open(p) as f:
                    code = json.load(f).get("code")
            except (OSError, ValueError) as x:
                code = "(%s)" % x
            if code != e["code"]:
                bad.append("%s: quarantined as %s, want %s" % (
                    e["name"], code, e["code"]))
            if not os.path.exists(os.path.join(st, "quarantine", e["tid"],
                                               e["name"])):
                bad.append("%s: its raw file is not in quarantine/" %
                           e["name"])
        elif e["outcome"] == "delivered":
            p = os.path.join(st, "dlq", e["tid"] + ".ndjson")
            codes = collections.Counter()
            if os.path.exists(p):
                with open(p) as f:
                    for line in f:
                        o = json.loads(line)
                        # a refused batch is one line for its records
                        codes[o.get("code")] += (
                            o["records"] if o.get("code") ==
                            "rejected_by_reconciler" else 1)
            want = collections.Counter()
            if e["dlq"]:
                want[e["dlq_code"]] = e["dlq"]
            if rej_recs.get(e["tid"]):
                want["rejected_by_reconciler"] = len(rej_recs[e["tid"]])
            if codes != want:
                bad.append("%s: dlq/ has %s, want %s" % (
                    e["name"], dict(codes), dict(want)))
    nq = sum(1 for e in exp if e["outcome"] == "quarantined")
    C.ok(not bad, "%s: every bad file in quarantine/ with its code (%d), "
         "every bad row in dlq/ with its code" % (nm, nq), "; ".join(bad))
    if c.get("report", True):
        want_r = {e["tid"] for e in exp if e["outcome"] == "quarantined" or
                  (e["outcome"] == "delivered" and e["dlq"])}
        want_r |= set(rej_recs)
        gotr = out.rejections_for()
        rk = collections.defaultdict(set)
        for key, tid, _ in out.rejections:
            rk[tid].add(key)
        C.ok(want_r == gotr and all(len(v) == 1 for v in rk.values()),
             "%s: the rejections of each such file reported once, under one "
             "key (%d)" % (nm, len(want_r)),
             "missing %s, extra %s" % (sorted(want_r - gotr),
                                       sorted(gotr - want_r)))

    # the audit log: each transmission received, parsed or quarantined,
    # and delivered, exactly once; the duplicate drop recorded
    ev, dups = audit_events(st)
    bad = []
    for e in exp:
        if e["outcome"] == "duplicate":
            if (e["name"], e["tid"]) not in dups:
                bad.append("%s: no duplicate_transmission event" % e["name"])
            continue
        n = lambda k: ev.get((k, e["tid"]), 0)
        want = {"transmission_received": 1,
                "transmission_parsed": int(e["outcome"] == "delivered"),
                "transmission_delivered": int(e["outcome"] == "delivered"),
                "transmission_quarantined": int(e["outcome"] ==
                                                "quarantined")}
        have = {k: n(k) for k in want}
        if have != want:
            bad.append("%s: %s" % (e["name"], " ".join(
                "%s=%d" % (k[13:], v) for k, v in have.items())))
    other = [d for d in dups if d[0] not in
             {e["name"] for e in exp if e["outcome"] == "duplicate"}]
    C.ok(not bad, "%s: audit.log: each transmission received, parsed or "
         "quarantined, and delivered exactly once; the duplicate drop "
         "recorded" % nm, "; ".join(bad))
    if other:
        say("%s: also recorded as duplicate drops (fetched again after a "
            "kill): %s" % (nm, ", ".join(sorted(set(d[0] for d in other)))))
        srcs = {e["name"] for e in exp if e["chan"].endswith("sftp")}
        C.ok(all(d[0] in srcs for d in other), "%s: every other duplicate "
             "drop is an SFTP file fetched again after a kill" % nm, other)

    # status: nothing pending, and the accounting identity
    s = status_json(cfg, i)
    if C.ok(s is not None, "%s: status --json answers" % nm):
        t, r = s["transmissions"], s["records"]
        C.ok((t["received"], t["parsed"], r["pending"], s["outbox"]["batches"])
             == (0, 0, 0, 0), "%s: status: nothing pending" % nm, s)
        total = (r["delivered"] + r["pending"] + r["dlq"] + r["held"] +
                 r["duplicate"] + r["quarantined"] + r["summed"])
        C.ok(r["in"] == total, "%s: status: records in (%d) = delivered + "
             "pending + dlq + held + duplicate + quarantined + summed (%d)"
             % (nm, r["in"], total), r)
        C.ok(r["delivered"] == n_got, "%s: status: %d records delivered, as "
             "many as arrived" % (nm, r["delivered"]), n_got)
        C.ok((t["delivered"], t["quarantined"]) ==
             (len(want_d), nq), "%s: status: %d transmissions delivered, %d "
             "quarantined" % (nm, len(want_d), nq), t)

    p = subprocess.run([cfg["td"], "audit", "-c", c["conf"], "verify"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    C.ok(p.returncode == 0, "%s: tradedrop audit verify exits 0" % nm,
         p.stdout.decode("utf-8", "replace")[-500:])
    p = subprocess.run(["sqlite3", os.path.join(st, "state.db"),
                        "PRAGMA integrity_check"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    C.ok(p.stdout.strip() == b"ok", "%s: PRAGMA integrity_check is ok" % nm,
         p.stdout[-300:])

    left = tree_files(os.path.join(st, "work")) + tree_files(
        os.path.join(st, "outbox")) + files_in(c["landing"])
    left += [p for p in tree_files(st) if p.endswith((".tmp", ".part"))]
    if c.get("remote"):
        left += files_in(c["remote"])
    C.ok(not left, "%s: nothing left in landing/, work/, outbox/ or at the "
         "source, no temporary file" % nm, left[:5])


def check(cfg):
    C = Checks()
    for i in cfg["integrations"]:
        check_integration(cfg, i, C)
    summ = os.path.join(cfg["logdir"], "summary.json")
    if os.path.exists(summ):
        with open(summ) as f:
            s = json.load(f)
        fin = s.get("final", {})
        C.ok(not fin.get("timeout"), "the work was done in time after the "
             "last kill", fin)
        C.ok(all(fin.get(i) == 0 for i in cfg["integrations"]),
             "SIGTERM at the end: every daemon exits 0", fin)
    for st, what, detail in C.lines:
        print("%s\t%s\t%s" % (st, what, detail.replace("\n", " ")[:2000]))
    return 0


def kill_all():
    """At exit, whatever happened: no daemon outlives the driver."""
    for d in DAEMONS:
        if d.p is not None and d.p.poll() is None:
            try:
                os.killpg(d.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            d.p.wait()


def main():
    cmd, cfg = sys.argv[1], load_cfg(sys.argv[2])
    try:
        return run_cmd(cmd, cfg)
    finally:
        kill_all()


def run_cmd(cmd, cfg):
    if cmd == "gen":
        return gen(cfg)
    if cmd == "stage":
        return stage(cfg)
    if cmd == "feed":
        print(feed(cfg, int(sys.argv[3])))
        return 0
    if cmd == "loop":
        return loop(cfg)
    if cmd == "fail":
        return fail(cfg, sys.argv[3])
    if cmd == "finish":
        print(json.dumps(finish(cfg)))
        return 0
    if cmd == "check":
        return check(cfg)
    raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    sys.exit(main())
