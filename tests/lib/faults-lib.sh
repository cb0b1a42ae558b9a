# faults-lib.sh - helpers for fault injection on the peers of a running
# daemon (tests/e2e/run-faults.sh). Source after common.sh, t_tmpdir and
# https-lib.sh (PY set).
#
#   px_start DIR BACKEND_PORT   a TCP forwarder on 127.0.0.1 in front of a
#                               peer (an sshd): sets PX_PORT, PX_PID
#   px MODE [PORT] [RATE]       switch it (the next connection sees it):
#                               up: forward to PORT (default: the current
#                               backend), at most RATE bytes a second from
#                               the peer (0: unlimited); down: the port is
#                               closed (connections refused) and the
#                               connections in progress are cut; hang:
#                               connections are accepted and held open
#                               without a byte forwarded either way;
#                               freeze: as hang, and the connections in
#                               progress stop forwarding (a stalled
#                               transfer), until the next mode cuts them
#   px_wait MODE                wait until the forwarder applied MODE
#   metric FILE NAME            the value of NAME in a /metrics text
#   fetch_metrics PORT FILE     GET /metrics into FILE
#   exactly_once DIR STATE      check the receiver's requests.ndjson
#                               against state.db (see fx_check below)
#
# The forwarder: a real server going away refuses connections, and a
# rotated host key is another server behind the same address; the
# forwarder gives both without touching the sshd under it, and slows a
# transfer down so that it can be cut at a chosen point.

PX_PID=
px_start() {
	_pd=$1
	mkdir -p "$_pd"
	PX_DIR=$_pd
	printf 'up %s 0\n' "$2" > "$_pd/control"
	cat > "$_pd/proxy.py" <<'PY'
import os, socket, sys, threading, time
d = sys.argv[1]
ctl = os.path.join(d, "control")
state = {"mode": "down", "port": 0, "rate": 0, "gen": 0}
conns, lock = set(), threading.Lock()

def log(m):
    sys.stderr.write("proxy: %s\n" % m); sys.stderr.flush()

def cut_all():
    with lock:
        for s in list(conns):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        conns.clear()

def pump(a, b, rate, gen):
    t0, n = time.monotonic(), 0
    try:
        while state["gen"] == gen:
            if state["mode"] == "freeze":
                time.sleep(0.05)
                continue
            data = a.recv(16384 if rate == 0 else min(16384, max(1024, rate // 20)))
            if not data:
                break
            b.sendall(data)
            n += len(data)
            if rate:
                ahead = n / rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

def serve(c):
    gen, port, rate = state["gen"], state["port"], state["rate"]
    if state["mode"] in ("hang", "freeze"):
        with lock:
            conns.add(c)	# held, silent, until the mode changes
        return
    try:
        u = socket.create_connection(("127.0.0.1", port), timeout=5)
        u.settimeout(None)
    except OSError as e:
        log("backend %d: %s" % (port, e)); c.close(); return
    with lock:
        conns.add(c); conns.add(u)
    threading.Thread(target=pump, args=(c, u, 0, gen), daemon=True).start()
    pump(u, c, rate, gen)

lsock = None
port = None
while True:
    try:
        w = open(ctl).read().split()
    except OSError:
        w = []
    if w and (w[0], int(w[1]) if len(w) > 1 else 0, int(w[2]) if len(w) > 2 else 0) != \
            (state["mode"], state["port"], state["rate"]):
        frozen = w[0] == "freeze"
        state["mode"] = w[0]
        if len(w) > 1: state["port"] = int(w[1])
        if len(w) > 2: state["rate"] = int(w[2])
        if not frozen:
            state["gen"] += 1
            cut_all()
        log("mode %s backend %d rate %d" % (state["mode"], state["port"], state["rate"]))
        if state["mode"] == "down" and lsock is not None:
            lsock.close(); lsock = None
        if state["mode"] != "down" and lsock is None:
            lsock = socket.socket()
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lsock.bind(("127.0.0.1", port or 0))
            lsock.listen(64)
            lsock.settimeout(0.05)
            if port is None:
                port = lsock.getsockname()[1]
                with open(os.path.join(d, "port.tmp"), "w") as f:
                    f.write("%d\n" % port)
                os.rename(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
        with open(os.path.join(d, "applied.tmp"), "w") as f:
            f.write(" ".join(w) + "\n")
        os.rename(os.path.join(d, "applied.tmp"), os.path.join(d, "applied"))
    if lsock is None:
        time.sleep(0.05); continue
    try:
        c, _ = lsock.accept()
    except socket.timeout:
        continue
    except OSError:
        continue
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
	$PY "$_pd/proxy.py" "$_pd" 2>> "$_pd/proxy.log" &
	PX_PID=$!
	PEERS="$PEERS $PX_PID"	# killed at exit with the peers
	wait_until 10 test -s "$_pd/port" || return 1
	PX_PORT=$(cat "$_pd/port")
}
px() {
	read -r _pm _pp _pr < "$PX_DIR/control"
	printf '%s %s %s\n' "$1" "${2:-$_pp}" "${3:-$_pr}" > "$PX_DIR/control.new"
	mv "$PX_DIR/control.new" "$PX_DIR/control"
	wait_until 10 cmp -s "$PX_DIR/control" "$PX_DIR/applied"
}

metric() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
fetch_metrics() { curl -sf "http://127.0.0.1:$1/metrics" > "$2.tmp" && mv "$2.tmp" "$2"; }

# exactly_once DIR STATE: "ok N" (N records received) when what the
# receiver in DIR accepted (2xx or 409) is exactly what state.db says was
# delivered: every request under one Idempotency-Key only, every key
# answered 2xx once, one body per key, no record under two keys, each
# delivered transmission's records and manifest there once, each acked
# batch and each reported quarantine there; else the problems found.
exactly_once() {
	$PY - "$1" "$2" <<'PY'
import collections, gzip, json, sqlite3, sys
D, S = sys.argv[1], sys.argv[2]
reqs = [json.loads(l) for l in open(D + "/requests.ndjson")]
db = sqlite3.connect("file:%s/state.db?mode=ro" % S, uri=True)
def body(r):
    b = open(D + "/" + r["body_file"], "rb").read()
    return gzip.decompress(b) if r["headers"].get("content-encoding") == "gzip" else b
bad, keys_of, ok2xx, acc = [], collections.defaultdict(set), collections.Counter(), {}
for r in reqs:
    h, st = r["headers"], r["status"]
    k = h.get("idempotency-key")
    what = (r["path"].rsplit("/", 1)[-1], h.get("tradedrop-transmission"),
            h.get("tradedrop-batch", "").split("/")[0])
    keys_of[what].add(k)
    if isinstance(st, int) and 200 <= st < 300:
        ok2xx[k] += 1
    if isinstance(st, int) and (200 <= st < 300 or st == 409):
        if not r["body_complete"]:
            bad.append(("accepted a cut body", r["seq"]))
        elif k in acc and body(acc[k]) != body(r):
            bad.append(("two bodies under one key", r["seq"]))
        acc.setdefault(k, r)
bad += [("sent under %d keys" % len(v), w) for w, v in keys_of.items() if len(v) != 1]
bad += [("answered 2xx %d times" % n, k[:12]) for k, n in ok2xx.items() if n != 1]
rec, lines, per_tid = collections.defaultdict(set), 0, collections.Counter()
for k, r in acc.items():
    if r["path"].endswith("/batches"):
        for l in body(r).splitlines():
            o = json.loads(l)
            rec[o["record_id"]].add(k)
            per_tid[o["transmission_id"]] += 1
            lines += 1
if lines != len(rec):
    bad.append(("records sent twice", lines - len(rec)))
bad += [("record under two keys", i) for i, v in rec.items() if len(v) != 1]
def docs(path, tid):
    return [r for r in acc.values() if r["path"].endswith(path)
            and r["headers"].get("tradedrop-transmission") == tid]
for tid, name, state, delivered, sent in db.execute(
        "SELECT id, name, state, delivered, rejections_sent FROM transmissions"):
    if state == "delivered":
        if per_tid[tid] != delivered:
            bad.append(("records of", name, per_tid[tid], delivered))
        m = docs("/transmissions", tid)
        if len(m) != 1 or json.loads(body(m[0]))["counts"]["delivered"] != delivered:
            bad.append(("manifest of", name, len(m)))
    elif state == "quarantined":
        if sent != 1 or len(docs("/rejections", tid)) != 1:
            bad.append(("quarantine report of", name))
    elif state != "duplicate":
        bad.append(("not delivered", name, state))
for tid, seq, k in db.execute("SELECT transmission_id, seq, idempotency_key "
                              "FROM batches WHERE state = 'acked'"):
    if k not in acc:
        bad.append(("acked but not received", tid[:12], seq))
print("ok %d" % len(rec) if not bad else bad)
PY
}
