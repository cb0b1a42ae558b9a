#!/bin/sh
# https.sh - delivery to a real TLS receiver (tests/lib/https-peer.py) with
# its own test CA and mutual TLS: every batch, rejection report and
# manifest arrives with the right headers and bodies; faults (500, 503 with
# Retry-After, resets, a hang past timeout, 413, 401) end with everything
# delivered exactly once per idempotency key; the breaker opens and
# closes; a rogue server and a missing client certificate are refused with
# nothing lost; a SIGKILL during delivery re-sends only what was not
# acknowledged, under the same keys.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
command -v openssl > /dev/null || t_skip_all "openssl not installed"
LIB=$srcdir/tests/lib

. "$LIB/https-lib.sh"

C=$T_TMP/pki
D=$T_TMP/peer
sh "$LIB/mkca.sh" "$C" || t_skip_all "mkca.sh failed"
peer_start "$D" --cert "$C/server.pem" --key "$C/server.key" --ca "$C/ca.pem" --require-client-cert
GOOD=$PORT
qfault() { printf '%s\n' "$@" > "$D/faults.new" && mv "$D/faults.new" "$D/faults"; }

printf 'TOKEN-s3cret\n' > "$T_TMP/token"; chmod 600 "$T_TMP/token"
S=$T_TMP/state
L=$S/landing
mkdir -p "$L"
conf() {	# conf NAME PORT [extra output lines]
	_n=$1 _p=$2; shift 2
	cat > "$T_TMP/$_n.conf" <<CONF
[integration]
name = acme
state_dir = $S
max_reject_ratio = 0.5
[watch]
# drops are written whole before each run, and the kills below are timed
settle = 0
[map]
store_id = column "Store"
gtin = column "UPC" gtin
txn_date = column "Date" date "%Y-%m-%d"
quantity = column "Units" decimal
amount = column "Sales" decimal
[output]
url = https://127.0.0.1:$_p/api/v1/
ca_file = $C/ca.pem
token_file = $T_TMP/token
batch_records = 3
timeout = 2s
max_backoff = 2s
breaker_failures = 6
breaker_cooldown = 2s
CONF
	for _l in "$@"; do echo "$_l" >> "$T_TMP/$_n.conf"; done
}
conf good "$GOOD" "client_cert = $C/client.pem" "client_key = $C/client.key"
conf nocert "$GOOD"
mk() { https_drop "$L" "$@"; }	# mk NAME ROWS [BADROW]
run() {	# run CONF LOG: once, exit status in RC
	"$TRADEDROP" once -c "$T_TMP/$1.conf" 2> "$T_TMP/$2"; RC=$?
}
# check.py: what the receiver got, against the archive and state
cat > "$T_TMP/check.py" <<'PY'
import gzip, hashlib, json, sys, os, glob, sqlite3
D, S, what = sys.argv[1], sys.argv[2], sys.argv[3]
reqs = [json.loads(l) for l in open(D + "/requests.ndjson")]
def body(r):
    b = open(D + "/" + r["body_file"], "rb").read()
    return gzip.decompress(b) if r["headers"].get("content-encoding") == "gzip" else b
db = sqlite3.connect(S + "/state.db")
txs = {i: (n, mv) for i, n, mv in db.execute("SELECT id, name, mapping_version FROM transmissions")}
if what == "exact":
    # every accepted batch: headers, key, body = the archive's records
    bad = []
    acc = [r for r in reqs if r["path"].endswith("/batches") and r["status"] in (200, 409)]
    seen = {}
    for r in acc:
        h = r["headers"]; tid = h["tradedrop-transmission"]
        seq, total = map(int, h["tradedrop-batch"].split("/"))
        if total != db.execute("SELECT count(*) FROM batches WHERE transmission_id=?", (tid,)).fetchone()[0]:
            bad.append(("batch total", tid, seq))
        key = hashlib.sha256(f"{tid}\n{txs[tid][1]}\n{seq}".encode()).hexdigest()
        if h["idempotency-key"] != key: bad.append(("key", tid, seq))
        if h.get("authorization") != "Bearer TOKEN-s3cret": bad.append(("auth", seq))
        if h.get("content-type") != "application/x-ndjson" or h.get("content-encoding") != "gzip": bad.append(("ctype", seq))
        if h.get("tradedrop-integration") != "acme": bad.append(("integration", seq))
        seen.setdefault((tid, seq), set()).add(body(r))
    # the archive's records/ holds every batch, as delivered
    for tid in txs:
        arch = glob.glob(f"{S}/archive/*/*/{tid}/records")
        if not arch: bad.append(("no archived records", txs[tid][0])); continue
        want = b"".join(gzip.open(f).read() for f in sorted(glob.glob(arch[0] + "/batch-*.ndjson.gz")))
        got = b"".join(next(iter(seen[(tid, s)])) for s in sorted(x[1] for x in seen if x[0] == tid)
                       if (tid, s) in seen)
        rejected = db.execute("SELECT count(*) FROM batches WHERE transmission_id=? AND state='rejected'", (tid,)).fetchone()[0]
        if rejected == 0 and got != want: bad.append(("records", txs[tid][0]))
    for k, v in seen.items():
        if len(v) != 1: bad.append(("two bodies under one key", k))
    mans = [r for r in reqs if r["path"].endswith("/transmissions") and r["status"] in (200, 409)]
    for r in mans:
        m = json.loads(body(r)); tid = m["transmission_id"]
        if m["schema"] != "tradedrop.transmission.v1": bad.append(("manifest schema", tid))
        key = hashlib.sha256(f"{tid}\n{txs[tid][1]}\nmanifest".encode()).hexdigest()
        if r["headers"]["idempotency-key"] != key: bad.append(("manifest key", tid))
        # the manifest comes after every batch of its transmission
        last_batch = max([q["seq"] for q in acc if q["headers"]["tradedrop-transmission"] == tid] or [0])
        if r["seq"] < last_batch: bad.append(("manifest before batches", tid))
    print(bad if bad else "ok")
elif what == "manifests":
    # each manifest accepted is the one processing archived, byte for
    # byte, but for counts and control totals where batches were refused
    bad = []
    for r in reqs:
        if not (r["path"].endswith("/transmissions") and r["status"] in (200, 409)): continue
        got = body(r); tid = json.loads(got)["transmission_id"]
        arch = open(glob.glob(f"{S}/archive/*/*/{tid}/manifest.json")[0], "rb").read()
        rej = db.execute("SELECT count(*) FROM batches WHERE transmission_id=? AND state='rejected'", (tid,)).fetchone()[0]
        if rej == 0 and got != arch: bad.append(("differs", txs[tid][0]))
        if rej > 0:
            g, a = json.loads(got), json.loads(arch)
            for k in ("counts", "control_totals"): g.pop(k); a.pop(k)
            if g != a or json.loads(got)["counts"] == json.loads(arch)["counts"]: bad.append(("refused", txs[tid][0]))
    print(bad if bad else "ok")
elif what == "keys":
    # no (transmission, seq) was ever sent under two different keys
    ks = {}
    for r in reqs:
        h = r["headers"]
        if r["path"].endswith("/batches"):
            ks.setdefault((h["tradedrop-transmission"], h["tradedrop-batch"]), set()).add(h["idempotency-key"])
    print("ok" if all(len(v) == 1 for v in ks.values()) else "two keys")
elif what.startswith("count:"):
    p = what[6:]
    print(sum(1 for r in reqs if r["path"].endswith(p)))
elif what.startswith("gaps:"):
    # seconds between consecutive requests to a path
    p = what[5:]
    t = [r["mono"] for r in reqs if r["path"].endswith(p)]
    print(" ".join("%.2f" % (b - a) for a, b in zip(t, t[1:])))
PY
chk() { $PY "$T_TMP/check.py" "$D" "$S" "$@"; }
nreq() { wc -l < "$D/requests.ndjson" 2>/dev/null | tr -d ' ' || echo 0; }

# 1. the plain case: batches, rejections, manifest
mk a.csv 7 4
run good log1
t_is "$RC" 1 "a: delivered, one row dead-lettered: once exits 1"
t_is "$(chk count:/batches) $(chk count:/rejections) $(chk count:/transmissions)" "2 1 1" \
	"a: two batches (six records), a rejection report and the manifest"
t_is "$(chk exact)" ok "headers, idempotency keys and bodies exactly the archived records; manifest last"
TA=$(sha256sum "$S"/archive/*/*/*/raw/a.csv | cut -c1-64)
$PY -c "
import json,gzip,sys
r=[json.loads(l) for l in open('$D/requests.ndjson')]
rej=[x for x in r if x['path'].endswith('/rejections')][0]
lines=[json.loads(l) for l in gzip.decompress(open('$D/'+rej['body_file'],'rb').read()).splitlines()]
sys.exit(0 if [(l['code'],l['source']['line']) for l in lines]==[('gtin_check_digit',5)] else 1)"
t_is $? 0 "the rejection report carries the dead-lettered row"
t_ok "$(grep -c 'TOKEN-s3cret' "$T_TMP/log1")" "the bearer token never reaches the log"

# 2. 500 three times, then accepted
qfault "/batches status 500" "/batches status 500" "/batches status 500"
mk b.csv 2
N0=$(nreq)
run good log2
t_is "$RC" 0 "b: 500 three times, then delivered"
t_is "$(grep -c event=delivery_retry "$T_TMP/log2")" 3 "three retries logged"
G=$(chk gaps:/batches | awk '{print $(NF-2), $(NF-1), $NF}')
echo "# gaps between batch attempts: $G"
t_ok "$(echo "$G" | awk '{for(i=1;i<=NF;i++) if ($i > 2.6) exit 1}'; echo $?)" \
	"backoff delays within max_backoff (2 s) plus request time"

# 3. 503 with Retry-After: 1, and 429 with Retry-After as an HTTP date
qfault "/batches status 503 1"
mk c.csv 1
run good log3
t_is "$RC" 0 "c: 503 with Retry-After, then delivered"
G=$(chk gaps:/batches | awk '{print $NF}')
t_ok "$(echo "$G" | awk '{exit !($1 >= 0.95)}'; echo $?)" "Retry-After: 1 honoured (waited $G s)"
qfault "/batches status 429 $(date -u -d '+5 seconds' '+%a, %d %b %Y %H:%M:%S GMT')"
mk c2.csv 1
run good log3b
t_is "$RC" 0 "c2: 429 with Retry-After as an HTTP date, then delivered"
t_grep "$T_TMP/log3b" "event=delivery_backoff what=batch delay_ms=2000" \
	"an HTTP date honoured, up to max_backoff (2 s)"
# a 500 asking for 2 s is another 5xx: its first backoff is at most 1 s
qfault "/batches status 500 2"
mk c3.csv 1
run good log3c
t_is "$RC" 0 "c3: 500 with Retry-After, then delivered"
t_is "$(sed -n 's/.*event=delivery_backoff what=batch delay_ms=\([0-9]*\).*/\1/p' "$T_TMP/log3c" | awk '{ print ($1 <= 1000) ? "backoff" : "retry-after " $1 }')" \
	backoff "Retry-After of a 500 not followed: the first backoff"

# 4. connection reset before and in the middle of a body, a hang past timeout
qfault "reset-before" "reset-before" "/batches reset-mid" "/batches reset-mid" "/batches hang"
mk d.csv 4
run good log4
t_is "$RC" 0 "d: resets and a hang past timeout, then delivered"
t_grep "$T_TMP/log4" "event=delivery_retry" "the failures were retried"

# 5. 413 for one batch: that batch dead-lettered, the rest delivered
qfault "/batches status 413"
mk e.csv 5
run good log5
t_is "$RC" 1 "e: a 413 batch is dead-lettered: once exits 1"
TE=$(sha256sum "$S"/archive/*/*/*/raw/e.csv | cut -c1-64)
t_grep "$S/dlq/$TE.ndjson" '"code":"rejected_by_reconciler"' "dlq/ names the refused batch"
RB=$(ls "$S/dlq/" | grep "^$TE.batch-")
t_ok "$([ -n "$RB" ] && [ -f "$S/dlq/$RB" ]; echo $?)" "the refused batch file kept in dlq/ ($RB)"
$PY -c "
import json,gzip,sys
rej=[json.loads(l) for l in gzip.open('$S/dlq/$RB','rt')]
rq=sum(int(r['quantity']) for r in rej)
r=[json.loads(l) for l in open('$D/requests.ndjson')]
m=[json.loads(open('$D/'+x['body_file'],'rb').read()) for x in r if x['path'].endswith('/transmissions') and x['status']==200]
m=[x for x in m if x['transmission_id']=='$TE'][0]
ok = m['counts']['delivered']==5-len(rej) and m['counts']['dlq']==len(rej) and m['control_totals']['quantity']==str(15-rq)
print(m['counts'], m['control_totals'], len(rej), rq)
sys.exit(0 if ok and len(rej) in (2,3) else 1)" > "$T_TMP/e.out"
t_is $? 0 "e: the manifest counts and totals only the accepted batch"
t_is "$(chk manifests)" ok \
	"every manifest sent is the archived one byte for byte; e's differs only in counts and totals"
# a refusal's body is kept in the dlq/ line: one of 4,200 bytes of "é",
# cut at 4 KiB inside a character, was not UTF-8, and all of it was null
qfault "/batches body 422 c3a9 2100"
mk e2.csv 1
run good log5b
t_is "$RC" 1 "e2: a 422 with a long body: dead-lettered"
TE2=$(sha256sum "$S"/archive/*/*/*/raw/e2.csv | cut -c1-64)
t_is "$($PY -c 'import json, sys; r = json.loads(open(sys.argv[1]).readline())["response"]; print(type(r).__name__, len(r) > 2000 and set(r) <= {"\u00e9", "\ufffd"})' "$S/dlq/$TE2.ndjson")" \
	"str True" "its body is in the dlq/ line, the cut character replaced"

# 6. 401: spooled, an error every attempt; delivered once credentials work
qfault "/batches status 401"
mk f.csv 1
run good log6
t_is "$RC" 3 "f: 401 keeps it spooled: once exits 3"
t_grep "$T_TMP/log6" "credentials refused" "the credentials problem is logged as an error"
"$TRADEDROP" status -c "$T_TMP/good.conf" --json > "$T_TMP/st"
t_grep "$T_TMP/st" '"outbox":{"batches":1' "status shows the spooled batch"
run good log6b
t_is "$RC" 0 "f: delivered on the next run"
# a 401 to one of the batches sent in parallel: the batch goes again one
# at a time, and is delivered; the 401 was logged nowhere
qfault "/batches status 401"
mk f2.csv 7
run good log6c
t_is "$RC" 0 "f2: a 401 among parallel batches, then delivered"
t_ok "$(grep -Eq 'level=error event=delivery_refused file=f2.csv batch=[0-9]+ status=401' "$T_TMP/log6c"; echo $?)" \
	"that 401 is logged as an error too"

# 7. the breaker: opens after breaker_failures, refuses while open, closes
# (a cooldown of 6 s: the run "while open" must come before it ends, on
# a loaded machine and under make check-asan too)
sed -i 's/^breaker_failures = 6/breaker_failures = 2/; s/^breaker_cooldown = 2s/breaker_cooldown = 6s/' "$T_TMP/good.conf"
qfault "/batches status 500" "/batches status 500" "/batches status 500"
mk g.csv 1
run good log7
t_is "$RC" 3 "g: the breaker opened: once exits 3"
t_grep "$T_TMP/log7" "event=breaker_opened" "breaker_opened logged"
"$TRADEDROP" status -c "$T_TMP/good.conf" --json > "$T_TMP/st"
t_grep "$T_TMP/st" '"breaker":{"state":"open","failures":2}' "status shows the breaker open"
N1=$(nreq)
run good log7b
t_is "$RC $(nreq)" "3 $N1" "while open, once sends nothing and exits 3"
sleep 6.2
run good log7c
t_grep "$T_TMP/log7c" "event=breaker_half_open" "after breaker_cooldown one probe goes"
t_is "$RC" 3 "the failing probe opens it again"
sleep 6.2
run good log7d
t_is "$RC" 0 "the next probe succeeds: delivered"
t_grep "$T_TMP/log7d" "event=breaker_closed" "breaker_closed logged"
sed -i 's/^breaker_failures = 2/breaker_failures = 6/; s/^breaker_cooldown = 6s/breaker_cooldown = 2s/' "$T_TMP/good.conf"

# 8. mutual TLS: without the client certificate the server refuses
mk h.csv 1
N1=$(nreq)
sed -i 's/^breaker_failures = 6/breaker_failures = 1/' "$T_TMP/nocert.conf"
run nocert log8
t_is "$RC $(nreq)" "3 $N1" "no client certificate: refused by the server, exit 3, nothing recorded"
t_is "$(ls "$S/outbox" | wc -l)" 1 "h stays spooled"
sleep 2.2
run good log8b
t_is "$RC" 0 "with the certificate, delivered"

# 9. a server with a certificate from another CA is refused by tradedrop
peer_start "$T_TMP/rogue" --cert "$C/rogue-server.pem" --key "$C/rogue-server.key"
conf rogue "$PORT" "client_cert = $C/client.pem" "client_key = $C/client.key" 
sed -i 's/^breaker_failures = 6/breaker_failures = 1/' "$T_TMP/rogue.conf"
mk i.csv 2
run rogue log9
t_is "$RC" 3 "rogue server: refused, exit 3"
t_is "$(wc -l < "$T_TMP/rogue/requests.ndjson" 2>/dev/null || echo 0)" 0 "nothing reached the rogue server"
conf secret 1 "client_cert = $C/client.pem" "client_key = $C/client.key"
sed -i 's|^url = https://127.0.0.1:1/|url = https://user:Pa55w0rd@127.0.0.1:1/|; s/^breaker_failures = 6/breaker_failures = 1/' "$T_TMP/secret.conf"
mk s.csv 1
run secret logs
t_grep "$T_TMP/logs" "url=https://user:REDACTED@127.0.0.1:1/api/v1" "a password in the output URL is logged as REDACTED"
t_ok "$(grep -c Pa55w0rd "$T_TMP/logs")" "and never in clear"
sleep 2.2
"$TRADEDROP" check --connect -c "$T_TMP/rogue.conf" > "$T_TMP/cc" 2>&1
t_is $? 1 "check --connect refuses the rogue server"
"$TRADEDROP" check --connect -c "$T_TMP/good.conf" > "$T_TMP/cc" 2>&1
t_is $? 0 "check --connect reaches the reconciler"
t_grep "$T_TMP/cc" "TLS connection verified" "and says so"
sleep 2.2
run good log9b
t_is "$RC" 0 "i: delivered to the right server afterwards, nothing lost"

# 10. SIGKILL during delivery: only unacknowledged batches are sent again
qfault "/batches delay 0" "/batches delay 3"
mk j.csv 9
"$TRADEDROP" once -c "$T_TMP/good.conf" 2> "$T_TMP/log10" &
P=$!
sleep 1.5
kill -9 $P; wait $P 2>/dev/null
TJ=$(sha256sum "$S"/archive/*/*/*/raw/j.csv | cut -c1-64)
ACKED=$(sqlite3 "$S/state.db" "SELECT group_concat(seq) FROM batches WHERE transmission_id='$TJ' AND state='acked'")
echo "# killed with batches $ACKED of j acknowledged"
t_ok "$(case "$ACKED" in ?,?) echo 0;; *) echo 1;; esac)" \
	"killed while one of j's three batches was in flight, two acknowledged"
run good log10b
t_is "$RC" 0 "j: delivered after the restart"
sleep 2
CHK=$($PY -c "
import json
acked = set('$ACKED'.split(','))
r=[json.loads(l) for l in open('$D/requests.ndjson') if '$TJ' in l]
b=[x['headers']['tradedrop-batch'].split('/')[0] for x in r if x['path'].endswith('/batches')]
bad = [s for s in acked if b.count(s) != 1] + [s for s in '123' if s not in acked and not 1 <= b.count(s) <= 2]
print('ok' if not bad else 'resent: %s %s' % (bad, b))")
t_is "$CHK" ok "acknowledged batches were not sent again; only the one in flight was"
t_is "$(chk keys)" ok "no batch ever sent under two different keys"
t_is "$(chk exact)" ok "everything the receiver accepted is exactly the archived records"
"$TRADEDROP" status -c "$T_TMP/good.conf" --json > "$T_TMP/st"
t_grep "$T_TMP/st" '"outbox":{"batches":0,"bytes":0}' "nothing left in the outbox"

# 11. a refused batch, a SIGKILL right after its dead-letter line was
# appended to a dead-letter file past 1 GiB (sparse): the next run
# finishes the refusal without appending the line again, reading only
# the file's tail. The file is made big after k is processed (with the
# output down): processing writes a transmission's dead letters afresh.
conf norej "$GOOD" "client_cert = $C/client.pem" "client_key = $C/client.key" \
	"report_rejections = no"
conf norejdown 1 "client_cert = $C/client.pem" "client_key = $C/client.key" \
	"report_rejections = no"
sed -i 's/^breaker_failures = 6/breaker_failures = 1/' "$T_TMP/norejdown.conf"
qfault "/batches status 422"
mk k.csv 2
TK=$(sha256sum "$L/k.csv" | cut -c1-64)
run norejdown log11a
t_is "$RC" 3 "k: processed, the output down (exit 3)"
truncate -s 1100M "$S/dlq/$TK.ndjson"
sleep 2.2
TD_FAILPOINT=dlq_appended "$TRADEDROP" once -c "$T_TMP/norej.conf" 2> "$T_TMP/log11"
t_is $? 137 "k: killed right after the dead-letter line was appended"
t_is "$(echo $(ls "$S/outbox/$TK"))" "batch-000001.ndjson.gz manifest.json" \
	"k: the refused batch is still in the outbox"
run norej log11b
t_is "$RC" 1 "k: the next run finishes the refusal, exit 1"
t_is "$(tail -c 100000 "$S/dlq/$TK.ndjson" | grep -c "\"batch_file\":\"$TK.batch-000001")" 1 \
	"k: the dead-letter line is in the file once"
L1=$(tail -c 100000 "$S/dlq/$TK.ndjson" | tr -d '\000' | wc -c)
t_is "$(stat -c %s "$S/dlq/$TK.ndjson")" "$((1100 * 1048576 + L1))" \
	"k: nothing else was appended"
t_is "$(ls "$S/outbox")" "" "k: nothing left in the outbox"
rm -f "$S/dlq/$TK.ndjson"

# 12. hold approve: h2 restates h1's record and is held; approved, its
# record goes as a batch of its own and the manifest is sent again with
# it in its counts and control totals, under a key of its own (under
# the first manifest's it was answered 409 and never read)
mkh() { printf 'Store,UPC,Date,Units,Sales\nh,041000001239,2026-11-27,%s,%s.00\n' "$2" "$2" > "$L/$1"; }
mkh h1.csv 4
run good log12a
t_is "$RC" 0 "h1: delivered"
mkh h2.csv 6
TH=$(sha256sum "$L/h2.csv" | cut -c1-64)
run good log12b
t_is "$RC" 1 "h2: its record restates h1's: held (exit 1)"
HR=$("$TRADEDROP" hold -c "$T_TMP/good.conf" list | cut -d' ' -f1)
"$TRADEDROP" hold -c "$T_TMP/good.conf" approve "$HR" --reason recount > "$T_TMP/ha12" 2>&1
t_is $? 0 "h2: approved and delivered"
t_is "$($PY - "$D" "$S" "$TH" <<'PY'
import gzip, hashlib, json, sqlite3, sys
D, S, tid = sys.argv[1:]
mv = sqlite3.connect(S + "/state.db").execute(
    "SELECT mapping_version FROM transmissions WHERE id = ?", (tid,)).fetchone()[0]
key = lambda w: hashlib.sha256(f"{tid}\n{mv}\n{w}".encode()).hexdigest()
out = []
for l in open(D + "/requests.ndjson"):
    r = json.loads(l)
    if r["headers"].get("tradedrop-transmission") != tid:
        continue
    b = open(D + "/" + r["body_file"], "rb").read()
    if r["path"].endswith("/batches"):
        q = [json.loads(x)["quantity"] for x in gzip.decompress(b).splitlines()]
        out.append("batch %s %d %s %s" % (r["headers"]["tradedrop-batch"], r["status"], q,
                   r["headers"]["idempotency-key"] == key("1")))
    elif r["path"].endswith("/transmissions"):
        m = json.loads(b)
        k = {key("manifest"): "manifest", key("manifest\n1"): "manifest+1"}.get(
            r["headers"]["idempotency-key"], "?")
        out.append("%s %d %d/%d %s %d" % (k, r["status"], m["counts"]["delivered"],
                   m["counts"]["held"], m["control_totals"]["quantity"], m["batches"]))
print("; ".join(out))
PY
)" "manifest 200 0/1 0 0; batch 1/1 200 ['6'] True; manifest+1 200 1/0 6 1" \
    "h2: its manifest, the approved record's batch, then the manifest again under a key of its own, with it counted"
t_done
