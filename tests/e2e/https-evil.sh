#!/bin/sh
# https-evil.sh - HTTPS delivery to a lying receiver: tests/lib/https-peer.py
# (its own test CA, verification on) answering with redirects elsewhere,
# absurd Retry-After values, bodies and headers without end, answers that
# never come or trickle, answers cut short, odd and broken status lines,
# and refusals of the manifest and the rejection report. Each case drives
# `tradedrop once` (and `run`, for a 401 that never ends) and checks what
# tradedrop-protocol(7) promises: nothing is followed elsewhere, nothing
# is lost or counted delivered when it was not, the waits stay within
# max_backoff, memory and the log stay bounded.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
command -v openssl > /dev/null || t_skip_all "openssl not installed"
command -v sqlite3 > /dev/null || t_skip_all "sqlite3 not installed"
LIB=$srcdir/tests/lib
. "$LIB/https-lib.sh"
. "$LIB/run-lib.sh"
trap 'run_cleanup; for p in $PEERS; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$T_TMP"' EXIT

C=$T_TMP/pki
D=$T_TMP/peer
sh "$LIB/mkca.sh" "$C" || t_skip_all "mkca.sh failed"
peer_start "$D" --cert "$C/server.pem" --key "$C/server.key" ||
	t_skip_all "the peer did not start"
GOOD=$PORT
# where redirects point: another HTTPS receiver trusted by the same CA,
# and a plain TCP listener for http://; neither may see a byte
peer_start "$T_TMP/trap" --cert "$C/server.pem" --key "$C/server.key" ||
	t_skip_all "the trap peer did not start"
TRAP=$PORT
$PY -c 'import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
open(sys.argv[1] + ".tmp", "w").write("%d\n" % s.getsockname()[1])
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    c, _ = s.accept()
    c.settimeout(2)
    try:
        d = c.recv(4096)
    except OSError:
        d = b""
    with open(sys.argv[2], "ab") as f:
        f.write(b"connection: " + d + b"\n")
    c.close()' "$T_TMP/http-port" "$T_TMP/http-trap" &
PEERS="$PEERS $!"
until [ -s "$T_TMP/http-port" ]; do sleep 0.1; done
HTTP=$(cat "$T_TMP/http-port")
qfault() { printf '%s\n' "$@" > "$D/faults.new" && mv "$D/faults.new" "$D/faults"; }

printf 'TOKEN-s3cret\n' > "$T_TMP/token"; chmod 600 "$T_TMP/token"
S=$T_TMP/state
L=$S/landing
mkdir -p "$L"
CONF=$T_TMP/td.conf
cat > "$CONF" <<CONF
[integration]
name = acme
state_dir = $S
max_reject_ratio = 0.5
[watch]
settle = 0
[map]
store_id = column "Store"
gtin = column "UPC" gtin
txn_date = column "Date" date "%Y-%m-%d"
quantity = column "Units" decimal
amount = column "Sales" decimal
[output]
url = https://127.0.0.1:$GOOD/api/v1/
ca_file = $C/ca.pem
token_file = $T_TMP/token
batch_records = 3
timeout = 1s
max_backoff = 1s
breaker_failures = 50
breaker_cooldown = 1s
CONF
mk() {	# mk NAME ROWS [BADROW]: a drop in landing; TID its transmission id
	https_drop "$L" "$@"
	TID=$(sha256sum "$L/$1" | cut -c1-64)
}
run() {	# run LOG: once, exit status in RC
	"$TRADEDROP" once -c "$CONF" 2> "$T_TMP/$1"; RC=$?
}
# reqs TID: what the receiver was asked about TID and answered, in order:
# b (batch), r (rejections), t (manifest) : status (- for none)
reqs() {
	$PY -c 'import json, sys
r = sorted((json.loads(l) for l in open(sys.argv[1])), key=lambda x: x["seq"])
print(" ".join("%s:%s" % ({"batches": "b", "rejections": "r", "transmissions": "t"}[x["path"].rsplit("/", 1)[1]],
                          "-" if x["status"] is None else x["status"])
               for x in r if x["headers"].get("tradedrop-transmission") == sys.argv[2]))' \
	    "$D/requests.ndjson" "$1"
}
# state TID: the transmission's state and its batches' states
state() {
	echo "$(sqlite3 "$S/state.db" "SELECT state FROM transmissions WHERE id = '$1'")" \
	    "$(sqlite3 "$S/state.db" "SELECT group_concat(state, ',') FROM (SELECT state FROM batches WHERE transmission_id = '$1' ORDER BY seq)")"
}

# ------------------------------------------------------------ 1. redirects
# to http://, to another HTTPS receiver the CA vouches for (by address and
# by name), relative: never followed; kept spooled as a 401 is, an error
# naming the status and where it points at every attempt
mk rd.csv 2
n=0
for code in 301 302 303 307 308; do
	n=$((n + 1))
	case $n in
	1) loc=http://127.0.0.1:$HTTP/steal ;;
	2) loc=https://127.0.0.1:$TRAP/api/v1/batches ;;
	3) loc=https://localhost:$TRAP/x ;;
	4) loc=/elsewhere/batches; want=https://127.0.0.1:$GOOD/elsewhere/batches ;;
	5) loc=http://127.0.0.1:$HTTP/api/v1/batches ;;
	esac
	[ $n -eq 4 ] || want=$loc
	qfault "/batches raw HTTP/1.1 $code Moved\\r\\nLocation: $loc\\r\\nContent-Length: 0\\r\\n\\r\\n"
	run rd$code.log
	t_is "$RC $(state $TID)" "3 parsed pending" "$code: not followed; once exits 3, the batch spooled"
	t_grep "$T_TMP/rd$code.log" "level=error event=delivery_refused file=rd.csv batch=1 status=$code location=$want message=" \
		"$code: an error names the status and where it points ($want)"
done
# a Location of 6,000 bytes: the error line stays bounded
qfault "/batches raw HTTP/1.1 302 Found\\r\\nLocation: https://127.0.0.1:$TRAP/$(printf '%06000d' 0)\\r\\nContent-Length: 0\\r\\n\\r\\n"
run rdlong.log
t_ok "$([ "$RC" = 3 ] && [ "$(grep 'event=delivery_refused' "$T_TMP/rdlong.log" | wc -c)" -lt 1400 ]; echo $?)" \
	"a Location of 6,000 bytes: kept, its error line cut to a bound"
run rd.log
t_is "$RC $(reqs $TID) $(state $TID)" "0 b:301 b:302 b:303 b:307 b:308 b:302 b:200 t:200 delivered acked" \
	"once the receiver stops redirecting: sent to url again, delivered"
# the manifest and the rejection report redirected
mk rm.csv 1
RM=$TID
qfault "/transmissions raw HTTP/1.1 307 Temporary\\r\\nLocation: https://127.0.0.1:$TRAP/api/v1/transmissions\\r\\nContent-Length: 0\\r\\n\\r\\n"
run rm.log
t_is "$RC $(state $TID)" "3 parsed acked" "a redirected manifest: kept, once exits 3"
t_grep "$T_TMP/rm.log" "level=error event=delivery_refused file=rm.csv what=manifest status=307 location=https://127.0.0.1:$TRAP/api/v1/transmissions message=" \
	"its error names where it points"
mk rr.csv 3 2
qfault "/rejections raw HTTP/1.1 308 Permanent\\r\\nLocation: http://127.0.0.1:$HTTP/rejections\\r\\nContent-Length: 0\\r\\n\\r\\n"
run rr.log
t_is "$(reqs $RM) $(state $RM)" "b:200 t:307 t:200 delivered acked" "the manifest sent again to url: delivered"
t_grep "$T_TMP/rr.log" "level=error event=delivery_refused file=rr.csv what=rejections status=308 location=http://127.0.0.1:$HTTP/rejections message=" \
	"a redirected rejection report: an error names where it points"
run rr2.log
t_is "$(reqs $TID) $(state $TID)" "b:200 r:308 r:200 t:200 delivered acked" "it is sent again to url, then the manifest"
# a relative Location is resolved against url, password included: the
# password is not logged
sed 's|^url = https://|url = https://user:Pa55w0rd@|' "$CONF" > "$T_TMP/pw.conf"
mk pw.csv 1
qfault "/batches raw HTTP/1.1 302 Found\\r\\nLocation: /elsewhere\\r\\nContent-Length: 0\\r\\n\\r\\n"
"$TRADEDROP" once -c "$T_TMP/pw.conf" 2> "$T_TMP/pw.log"
t_grep "$T_TMP/pw.log" "status=302 location=https://user:REDACTED@127.0.0.1:$GOOD/elsewhere message=" \
	"a relative redirect from a url with a password: logged with the password REDACTED"
t_is "$(grep -c Pa55w0rd "$T_TMP/pw.log")" 0 "the password is never in clear"
run pw2.log
t_is "$RC $(reqs $TID)" "0 b:302 b:200 t:200" "delivered by the next run"
t_is "$(wc -l < "$T_TMP/trap/requests.ndjson") $(cat "$T_TMP/http-trap" 2>/dev/null | wc -c)" "0 0" \
	"nothing reached where the redirects pointed, over https:// or http://"
t_is "$(cat "$T_TMP"/*.log | grep -c TOKEN-s3cret)" 0 "the bearer token never reaches the log"

# ------------------------------------------------------------ 2. Retry-After
# absurd, negative, unreadable, far and past dates, repeated: every wait
# within max_backoff (1 s), none skipped into a busy loop
RA() { printf '/batches raw HTTP/1.1 %s Busy\\r\\n%s\\r\\nContent-Length: 0\\r\\n\\r\\n' "$1" "$2"; }
qfault "$(RA 503 'Retry-After: 99999999999')" "$(RA 503 'Retry-After: -5')" \
	"$(RA 429 'Retry-After: garbage')" \
	"$(RA 503 'Retry-After: 999999999999999999999999999999')" \
	"$(RA 503 'Retry-After: Fri, 31 Dec 9999 23:59:59 GMT')" \
	"$(RA 429 'Retry-After: Thu, 01 Jan 1970 00:00:01 GMT')" \
	"$(RA 503 'Retry-After: 1\r\nRetry-After: 99999999999')" \
	"$(RA 503 'Retry-After: 1e9')"
mk ra.csv 1
T0=$(now_ms)
run ra.log
T1=$(now_ms)
t_is "$RC $(state $TID)" "0 delivered acked" "Retry-After: delivered after eight absurd ones"
t_is "$(reqs $TID)" "b:503 b:503 b:429 b:503 b:503 b:429 b:503 b:503 b:200 t:200" \
	"one request per answer, none more"
t_is "$(grep -c 'event=delivery_backoff what=batch' "$T_TMP/ra.log") $(sed -n 's/.*event=delivery_backoff what=batch delay_ms=\([0-9]*\).*/\1/p' "$T_TMP/ra.log" | awk '$1 > 1000' | wc -l)" \
	"8 0" "eight waits, none longer than max_backoff"
echo "# the eight waits and nine requests took $((T1 - T0)) ms"
t_ok "$([ $((T1 - T0)) -lt 20000 ]; echo $?)" "the run ended in time ($((T1 - T0)) ms)"

# ------------------------------------------------------------ 3. endless
# a 2xx body without end (chunked, close-delimited), a 5xx with a
# Content-Length of 10 GB, headers without end, an answer that never
# comes, one that trickles: each cut at timeout (Tier 1), memory bounded
maxrss() {	# maxrss LOG: run once, print its peak RSS in KiB
	$PY -c 'import resource, subprocess, sys
with open(sys.argv[1], "wb") as e:
    rc = subprocess.call(sys.argv[2:], stderr=e)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)' \
	    "$T_TMP/$1" "$TRADEDROP" once -c "$CONF"
}
mk base.csv 1
set -- $(maxrss base.log)
BASE=$1
qfault "/batches endless 200 chunked" "/batches endless 500 length" \
	"/batches endless 200 close" "/batches endless-headers" "/batches hang" \
	"/batches trickle 0.5"
mk en.csv 1
set -- $(maxrss en.log)
echo "# peak RSS: $BASE KiB plain, $1 KiB against answers without end"
t_is "$2 $(state $TID)" "0 delivered acked" "endless answers: delivered in the end"
t_is "$(reqs $TID)" "b:200 b:500 b:200 b:200 b:- b:409 b:409 t:200" \
	"each answer without end cut, the batch sent again under its key"
t_is "$(grep -c 'event=delivery_retry what=batch' "$T_TMP/en.log") $(grep 'event=delivery_retry what=batch' "$T_TMP/en.log" | grep -c 'Timeout was reached')" \
	"6 5" "six Tier 1 failures, five of them timeouts"
t_grep "$T_TMP/en.log" "Too large response headers" "headers without end: cut by libcurl's limit"
t_ok "$([ "$1" -lt $((BASE + 16384)) ]; echo $?)" \
	"memory stays bounded ($1 KiB, $BASE without)"

# ------------------------------------------------------------ 4. statuses
# answer FAULT REQS what: a one-batch drop answered FAULT first; one
# kept spooled (exit 3) is delivered by a second run
answer() {
	qfault "/batches $1"
	mk st$N.csv 1
	run st$N.log
	_rc=$RC
	[ $RC -eq 3 ] && run st$N-2.log
	t_is "$_rc $RC $(reqs $TID) $(state $TID)" "$2 delivered acked" "$3"
	N=$((N + 1))
}
N=1
answer 'raw HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n' "0 0 b:200 b:409 t:200" \
	"a 200 cut short in its headers is no answer: sent again, 409 taken"
t_grep "$T_TMP/st1.log" 'event=delivery_retry what=batch status=200 error="the answer was cut short in its headers"' \
	"it is logged as a Tier 1 failure that says so"
answer 'raw HTTP/1.1 201 Created\r\n' "0 0 b:201 b:409 t:200" "a 201 cut short after its status line: the same"
# the same among batches sent in parallel
qfault '/batches raw HTTP/1.1 200 OK\r\n'
mk par.csv 7
run par.log
t_is "$RC $(reqs $TID | tr ' ' '\n' | sort | tr '\n' ' ')$(state $TID)" \
	"0 b:200 b:200 b:200 b:409 t:200 delivered acked,acked,acked" \
	"a 200 cut short among three batches in flight: that one sent again, 409 taken"
answer 'raw-reset HTTP/1.1 200 OK\r\n' "0 0 b:200 b:409 t:200" "a reset after the status line: Tier 1"
answer 'raw HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort' "0 0 b:200 b:409 t:200" \
	"a body shorter than its Content-Length: Tier 1"
answer 'raw HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}and more' "0 0 b:200 t:200" \
	"a body longer than its Content-Length: the rest ignored, delivered"
answer 'raw HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n' "0 0 b:200 b:409 t:200" \
	"a chunked body cut before its last chunk: Tier 1"
answer 'raw HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n' "0 0 b:200 b:409 t:200" \
	"a chunk size that is not hex: Tier 1"
answer 'raw HTTP/1.0 200 OK\r\n\r\n{"ok":true}' "0 0 b:200 t:200" "HTTP/1.0, close-delimited: delivered"
answer 'raw HTTP/1.1 100 Continue\r\n\r\n' "0 0 b:100 b:200 t:200" "100, then a close: Tier 1"
answer 'raw HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n' "0 0 b:200 t:200" \
	"a 1xx, then a whole 200: delivered"
answer 'raw HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-Trailer: y\r\n\r\n' "0 0 b:200 t:200" \
	"a chunked 200 with a trailer: delivered"
answer 'raw HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nHTTP/1.1 200 OK: y\r\n\r\n' "0 0 b:200 t:200" \
	"a chunked 200 with a trailer that starts as a status line: delivered"
answer 'raw HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nHTTP/2: y\r\n\r\n' "0 0 b:200 t:200" \
	"a chunked 200 with a trailer named HTTP/2: the same"
answer 'raw HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n' "0 0 b:200 b:409 t:200" \
	"two 1xx, then a 200 cut short in its headers: Tier 1"
answer 'raw HTTP/1.1 204 No Content\r\n\r\n' "0 0 b:204 t:200" "204: delivered"
answer 'raw HTTP/1.1 299 Odd\r\nContent-Length: 0\r\n\r\n' "0 0 b:299 t:200" "299, a 2xx: delivered"
answer 'status 600' "0 0 b:600 b:200 t:200" "600: Tier 1"
answer 'status 999' "0 0 b:999 b:200 t:200" "999: Tier 1"
answer 'raw HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n' "0 0 b:- b:200 t:200" "a status that is not a number: Tier 1"
answer 'raw HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n' "0 0 b:- b:200 t:200" "a status of four digits: Tier 1"
answer 'raw garbage\r\n\r\n' "0 0 b:- b:200 t:200" "not HTTP at all: Tier 1"
answer 'status 418' "3 0 b:418 b:200 t:200" "418: kept spooled (once exits 3), delivered by the next run"
answer 'status 499' "3 0 b:499 b:200 t:200" "499: the same"

# ------------------------------------------------------------ 5. manifest, rejections
# a 422 to the manifest: kept (it carries no records, but it is what the
# receiver checks the batches against), an error at every attempt; a 413
# to the rejection report: given up with an error, kept in dlq/
qfault "/transmissions status 422" "/transmissions status 400"
mk m.csv 4
run m.log
t_is "$RC $(state $TID)" "3 parsed acked,acked" "a 422 to the manifest: kept, once exits 3"
t_grep "$T_TMP/m.log" "level=error event=delivery_refused file=m.csv what=manifest status=422" "and logged as an error"
run m2.log
t_is "$RC $(state $TID)" "3 parsed acked,acked" "a 400 the next time: kept again"
run m3.log
t_is "$RC $(reqs $TID) $(state $TID)" "0 b:200 b:200 t:422 t:400 t:200 delivered acked,acked" \
	"then delivered; the batches were not sent again"
qfault "/rejections status 413"
mk rj.csv 3 2
run rj.log
t_is "$RC $(reqs $TID) $(state $TID)" "1 b:200 r:413 t:200 delivered acked" \
	"a 413 to the rejection report: given up, the manifest delivered (once exits 1: a row dead-lettered)"
t_grep "$T_TMP/rj.log" "level=error event=rejections_refused file=rj.csv status=413" "it is logged as an error"
t_grep "$S/dlq/$TID.ndjson" '"code":"gtin_check_digit"' "the rejected row stays in dlq/"

# ------------------------------------------------------------ 6. order
# every manifest the receiver accepted came after every batch of its
# transmission was accepted, whatever was answered before
t_is "$($PY -c 'import json, sys
r = sorted((json.loads(l) for l in open(sys.argv[1])), key=lambda x: x["seq"])
bad = []
for m in r:
    if not (m["path"].endswith("/transmissions") and m["status"] in (200, 409)):
        continue
    tid = m["headers"]["tradedrop-transmission"]
    total = max(int(x["headers"]["tradedrop-batch"].split("/")[1]) for x in r
                if x["path"].endswith("/batches") and x["headers"]["tradedrop-transmission"] == tid)
    ok = {x["headers"]["tradedrop-batch"] for x in r if x["seq"] < m["seq"] and x["path"].endswith("/batches")
          and x["headers"]["tradedrop-transmission"] == tid and (200 <= (x["status"] or 0) < 300 or x["status"] == 409)}
    if len(ok) != total:
        bad.append(tid[:8])
print(bad or "ok")' "$D/requests.ndjson")" ok "no manifest before every batch of its transmission was acknowledged"

# ------------------------------------------------------------ 6b. echo
# a receiver that repeats the request's headers, the token with them, in
# a Location or a body: the token is in neither the log nor dlq/ (after
# section 6: a batch refused with 400 is settled without an ack)
mk tk.csv 1
qfault "/batches raw HTTP/1.1 302 Found\\r\\nLocation: https://127.0.0.1:$TRAP/x?auth=Bearer%20TOKEN-s3cret\\r\\nContent-Length: 0\\r\\n\\r\\n"
run tk.log
t_grep "$T_TMP/tk.log" "status=302 location=\"https://127.0.0.1:$TRAP/x?auth=Bearer%20REDACTED\" message=" \
	"a Location that repeats the token: logged with the token REDACTED"
ECHO=$(printf '{"echo":"Authorization: Bearer TOKEN-s3cret"}' | od -An -tx1 | tr -d ' \n')
qfault "/batches body 400 $ECHO" "/transmissions body 422 $ECHO"
run tk2.log
t_is "$RC $(reqs $TID) $(state $TID)" "3 b:302 b:400 r:200 t:422 parsed rejected" \
	"a 400 to the batch, then a 422 to the manifest, each body repeating the token"
t_grep "$T_TMP/tk2.log" 'what=manifest status=422 body="{\"echo\":\"Authorization: Bearer REDACTED\"}"' \
	"the manifest's refusal is logged with the token REDACTED"
t_grep "$S/dlq/$TID.ndjson" 'Authorization: Bearer REDACTED' "the batch's dead letter keeps the body, the token REDACTED"
t_is "$(cat "$T_TMP"/tk*.log "$S/dlq/$TID.ndjson" | grep -c TOKEN-s3cret)" 0 \
	"the token is in neither"
# the body kept is cut at 4 KiB: a token cut there loses its start too
qfault "/transmissions body 422 $($PY -c 'print((b"x" * 4088 + b"TOKEN-s3cret").hex())')"
run tk3.log
t_is "$RC $(grep -c 'what=manifest status=422 body=xxx' "$T_TMP/tk3.log") $(grep -c xTOKEN "$T_TMP/tk3.log")" "3 1 0" \
	"a token cut at the end of a body kept: its start REDACTED"
run tk4.log
t_is "$RC $(state $TID)" "1 delivered rejected" "the manifest delivered by the next run"

# ------------------------------------------------------------ 6c. %-encoded
# the same echo %-encoded, as a URL carries it: every byte (%2F and %2f),
# or only the reserved ones (curl_easy_escape), of a token with /, + and
# = (base64): REDACTED too, and a cut one at 4 KiB; %-encoded twice, and
# JSON-escaped (TOK\/s3cret) too
TK='TOK/s3cret+Ab=='
printf '%s\n' "$TK" > "$T_TMP/token"
FORMS=$($PY -c 'import sys, urllib.parse
t = sys.argv[1]
print(" ".join(["".join("%%%02X" % ord(c) for c in t),
                "".join("%%%02x" % ord(c) for c in t),
                urllib.parse.quote(t, safe="-._~"),
                urllib.parse.quote(t, safe="-._~").lower().replace("tok", "TOK").replace("ab", "Ab")]))' "$TK")
set -- $FORMS
t_is "$*" "%54%4F%4B%2F%73%33%63%72%65%74%2B%41%62%3D%3D %54%4f%4b%2f%73%33%63%72%65%74%2b%41%62%3d%3d TOK%2Fs3cret%2BAb%3D%3D TOK%2fs3cret%2bAb%3d%3d" \
	"the token %-encoded four ways"
# and %-encoded twice (a URL quoting a URL that held it), or in JSON
# with its / escaped (as PHP's json_encode writes it)
TWICE=$($PY -c 'import sys, urllib.parse as u
print(u.quote(u.quote(sys.argv[1], safe=""), safe=""))' "$TK")
t_is "$TWICE" "TOK%252Fs3cret%252BAb%253D%253D" "the token %-encoded twice"
JSONESC='TOK\/s3cret+Ab=='
mk tk5.csv 1
qfault "/batches raw HTTP/1.1 302 Found\\r\\nLocation: https://127.0.0.1:$TRAP/x?auth=Bearer%20$3&t=$1&u=$TWICE\\r\\nContent-Length: 0\\r\\n\\r\\n"
run tk5.log
t_grep "$T_TMP/tk5.log" "status=302 location=\"https://127.0.0.1:$TRAP/x?auth=Bearer%20REDACTED&t=REDACTED&u=REDACTED\" message=" \
	"a Location that repeats the token %-encoded, once or twice: logged with it REDACTED"
ECHO=$(printf '{"a":"%s","b":"%s","c":"%s","d":"%s","e":"%s","f":"%s"}' "$1" "$2" "$3" "$4" "$TWICE" "$JSONESC" | od -An -tx1 | tr -d ' \n')
qfault "/batches body 400 $ECHO" "/transmissions body 422 $ECHO"
run tk6.log
t_is "$RC $(reqs $TID)" "3 b:302 b:400 r:200 t:422" \
	"a 400 to the batch, then a 422 to the manifest, each body repeating the token %-encoded"
t_grep "$T_TMP/tk6.log" 'what=manifest status=422 body="{\"a\":\"REDACTED\",\"b\":\"REDACTED\",\"c\":\"REDACTED\",\"d\":\"REDACTED\",\"e\":\"REDACTED\",\"f\":\"REDACTED\"}"' \
	"the manifest's refusal is logged with each form REDACTED"
t_grep "$S/dlq/$TID.ndjson" '{\"a\":\"REDACTED\",\"b\":\"REDACTED\",\"c\":\"REDACTED\",\"d\":\"REDACTED\",\"e\":\"REDACTED\",\"f\":\"REDACTED\"}' \
	"the batch's dead letter keeps the body, each form REDACTED"
qfault "/transmissions body 422 $($PY -c 'import sys; print((b"x" * 4070 + sys.argv[1].encode()).hex())' "$1")"
run tk7.log
t_is "$RC $(grep -c 'what=manifest status=422 body=xxx' "$T_TMP/tk7.log") $(grep -c 'x%54%4F%4B' "$T_TMP/tk7.log")" "3 1 0" \
	"a %-encoded token cut at the end of a body kept: its start REDACTED"
t_is "$(cat "$T_TMP"/tk[567].log "$S/dlq/$TID.ndjson" | grep -ci -e 's3cret' -e '%73%33%63' -e '%54%4F%4B')" 0 \
	"the token is in neither, in no form"
run tk8.log
t_is "$RC $(state $TID)" "1 delivered rejected" "the manifest delivered by the next run"
printf 'TOKEN-s3cret\n' > "$T_TMP/token"

# ------------------------------------------------------------ 7. 401 forever
# run: every attempt is refused; an error each time, but not many a second
i=0; : > "$D/faults.new"
while [ $i -lt 500 ]; do echo "status 401" >> "$D/faults.new"; i=$((i + 1)); done
mv "$D/faults.new" "$D/faults"
mk u.csv 7
run_start "$CONF" "$T_TMP/run.log" || t_skip_all "run did not start"
sleep 8
NREF=$(grep -c 'event=delivery_refused' "$T_TMP/run.log")
echo "# $NREF refusals logged in 8 s"
t_ok "$([ "$NREF" -ge 1 ] && [ "$NREF" -le 10 ]; echo $?)" "401 forever: logged, at most 10 lines in 8 s ($NREF)"
t_ok "$(kill -0 "$RUN_PID"; echo $?)" "the daemon goes on"
: > "$D/faults"
run_signal HUP
delivered() { [ "$(state $TID)" = "delivered acked,acked,acked" ]; }
t_ok "$(wait_until 20 delivered; echo $?)" \
	"once the receiver takes it (and SIGHUP): delivered"
run_stop
t_is "$RUN_RC" 0 "run stops cleanly"
t_is "$(grep -c TOKEN-s3cret "$T_TMP/run.log")" 0 "the token is not in its log either"
t_done
