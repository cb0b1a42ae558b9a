#!/bin/sh
# https-peer-selftest.sh - the HTTPS test peer (tests/lib/https-peer.py) and
# test PKI (tests/lib/mkca.sh) do what delivery tests rely on, checked with
# curl: recording, idempotency 409, queued faults, mutual TLS, SIGTERM.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
command -v curl >/dev/null 2>&1 || t_skip_all "curl not installed"
command -v openssl >/dev/null 2>&1 || t_skip_all "openssl not installed"
LIB=$srcdir/tests/lib

# ---------------------------------------------------------------- peer helpers
# peer_start DIR [ARGS...]: start the peer on 127.0.0.1, port 0; wait for
# DIR/port; sets PEER_PID and PORT.  Log in DIR/peer.log.
. "$LIB/https-lib.sh"

C=$T_TMP/pki
D=$T_TMP/peer
# cu ARGS...: curl with the test CA; prints the HTTP code; $? is curl's.
# Response headers in $T_TMP/hdr, body in $T_TMP/out.
cu() {
	curl -sS --max-time 10 --cacert "$C/ca.pem" -o "$T_TMP/out" -D "$T_TMP/hdr" \
		-w '%{http_code}' "$@" 2>"$T_TMP/curl.err"
}
# rq FIELD [N]: FIELD (dotted, e.g. headers.idempotency-key) of the Nth
# line of requests.ndjson (default the last), in DIR $RQDIR
RQDIR=$D
rq() {
	$PY - "$RQDIR/requests.ndjson" "$1" "${2:-0}" <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
n = int(sys.argv[3])
v = json.loads(lines[n - 1] if n else lines[-1])
for k in sys.argv[2].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print("null" if v is None else (json.dumps(v) if isinstance(v, bool) else v))
EOF
}
nreq() { wc -l < "$RQDIR/requests.ndjson" | tr -d ' '; }
hdr() { tr -d '\r' < "$T_TMP/hdr" | sed -n "s/^$1: //Ip" | tail -1; }
qfault() { printf '%s\n' "$@" > "$D/faults.new" && mv "$D/faults.new" "$D/faults"; }

# ---------------------------------------------------------------- PKI
sh "$LIB/mkca.sh" "$C"
t_ok $? "mkca.sh makes the test PKI"
_all=1
for f in ca.pem ca.key server.pem server.key client.pem client.key rogue-ca.pem \
	rogue-server.pem rogue-server.key rogue-client.pem rogue-client.key; do
	[ -s "$C/$f" ] || { _all=0; echo "# missing $f"; }
done
t_ok $((1 - _all)) "mkca.sh: every file is there"
t_is "$(stat -c %a "$C/client.key")" 600 "client.key is mode 600"
_sum=$(cat "$C"/*.pem | cksum)
_out=$(sh "$LIB/mkca.sh" "$C" 2>&1)
t_is "$?:$_out:$(cat "$C"/*.pem | cksum)" "0::$_sum" "mkca.sh again: quiet, nothing changed"
openssl verify -CAfile "$C/ca.pem" "$C/server.pem" "$C/client.pem" >/dev/null 2>&1
t_ok $? "server and client certs verify against ca.pem"
openssl verify -CAfile "$C/ca.pem" "$C/rogue-client.pem" >/dev/null 2>&1
t_ok $((! $?)) "rogue client cert does not verify against ca.pem"
openssl x509 -in "$C/server.pem" -noout -ext subjectAltName | grep -q 'IP Address:127.0.0.1, DNS:localhost'
t_ok $? "server cert SAN is IP:127.0.0.1,DNS:localhost"
openssl x509 -in "$C/client.pem" -noout -ext extendedKeyUsage | grep -q 'TLS Web Client Authentication'
t_ok $? "client cert has extendedKeyUsage clientAuth"

# ---------------------------------------------------------------- recording
peer_start "$D" --cert "$C/server.pem" --key "$C/server.key"
t_ok $? "peer starts and writes its port"
t_is "$(cat "$D/pid")" "$PEER_PID" "peer writes its pid"
P1=$PEER_PID
U=https://127.0.0.1:$PORT

# a gzip NDJSON body with newlines and binary bytes
printf '{"a":1}\n{"b":"x\\ny"}\n' | gzip -c > "$T_TMP/b1.gz"
code=$(cu -H 'Content-Type: application/x-ndjson' -H 'Content-Encoding: gzip' \
	-H 'Idempotency-Key: k1' -H 'Tradedrop-Batch: 1/2' \
	--data-binary @"$T_TMP/b1.gz" "$U/in/batches")
t_is "$?:$code:$(cat "$T_TMP/out")" '0:200:{"ok": true}' "POST answered 200 {\"ok\": true}"
t_is "$(nreq)" 1 "one request recorded"
t_is "$(rq seq):$(rq method):$(rq path):$(rq status)" "1:POST:/in/batches:200" "seq, method, path, status recorded"
t_is "$(rq headers.idempotency-key)|$(rq headers.content-encoding)|$(rq headers.tradedrop-batch)|$(rq headers.content-type)" \
	"k1|gzip|1/2|application/x-ndjson" "headers recorded with lower-case names"
t_is "$(rq body_file)" "bodies/000001.bin" "body_file names bodies/000001.bin"
cmp -s "$T_TMP/b1.gz" "$D/$(rq body_file)"
t_ok $? "body recorded byte for byte, still gzip"

code=$(cu -H 'Idempotency-Key: k1' --data-binary @"$T_TMP/b1.gz" "$U/in/batches")
t_is "$code:$(rq status)" "409:409" "repeated Idempotency-Key gets 409, recorded as such"
code=$(cu -H 'Idempotency-Key: k2' --data-binary @"$T_TMP/b1.gz" "$U/in/batches")
t_is "$code" 200 "a new Idempotency-Key gets 200"

# chunked + Expect: 100-continue, and two requests on one kept-alive connection
head -c 70000 /dev/urandom > "$T_TMP/b2"
code=$(cu -H 'Transfer-Encoding: chunked' -H 'Expect: 100-continue' \
	--data-binary @"$T_TMP/b2" "$U/a/batches" -o "$T_TMP/out2" "$U/b/batches")
t_is "$code" 200200 "chunked bodies with Expect: 100-continue answered"
t_is "$(rq headers.transfer-encoding 4):$(rq headers.expect 4)" "chunked:100-continue" "chunked and expect headers recorded"
cmp -s "$T_TMP/b2" "$D/$(rq body_file 4)" && cmp -s "$T_TMP/b2" "$D/$(rq body_file 5)"
t_ok $? "chunked bodies recorded de-chunked, byte for byte"
t_is "$(rq conn 5):$(rq conn_req 5)" "$(rq conn 4):2" "keep-alive: second request on the same connection"

code=$(cu --tlsv1.2 --tls-max 1.2 --data-binary x "$U/x")
t_is "$code:$(rq tls_version)" "200:TLSv1.2" "TLS 1.2"
code=$(cu --tlsv1.3 --data-binary x "$U/x")
t_is "$code:$(rq tls_version)" "200:TLSv1.3" "TLS 1.3"
code=$(cu --resolve "localhost:$PORT:127.0.0.1" --data-binary x "https://localhost:$PORT/x")
t_is "$code" 200 "server cert valid for DNS:localhost"

# ---------------------------------------------------------------- faults
qfault 'status 503 2'
code=$(cu --data-binary x "$U/in/batches")
t_is "$code:$(hdr retry-after)" "503:2" "status 503 2: 503 with Retry-After: 2"
t_is "$(cat "$D/faults")" "" "fault consumed"
code=$(cu --data-binary x "$U/in/batches")
t_is "$code" 200 "consumed once: next request 200"

qfault 'status 429 Wed, 21 Oct 2015 07:28:00 GMT'
code=$(cu --data-binary x "$U/in/batches")
t_is "$code|$(hdr retry-after)" "429|Wed, 21 Oct 2015 07:28:00 GMT" "status 429 with an HTTP-date Retry-After"

qfault '/transmissions status 500' 'status 502'
code=$(cu --data-binary x "$U/in/batches")
t_is "$code:$(head -1 "$D/faults")" "200:/transmissions status 500" "path filter: other paths pass, fault stays"
code=$(cu --data-binary x "$U/in/transmissions")
t_is "$code:$(cat "$D/faults")" "500:status 502" "path filter: matching path gets it"
code=$(cu --data-binary x "$U/in/transmissions")
t_is "$code" 502 "queue: next line next"

n=$(nreq)
qfault reset-before
code=$(cu --data-binary x "$U/in/batches"); rc=$?
case $rc in 35|56|55|52|7) ok=0 ;; *) ok=1 ;; esac
t_ok $ok "reset-before: curl fails with a connection error (exit $rc: $(cat "$T_TMP/curl.err"))"
t_is "$(nreq)" "$n" "reset-before: nothing recorded"
code=$(cu --data-binary x "$U/in/batches")
t_is "$code" 200 "after reset-before the next request succeeds"

qfault reset-mid
code=$(cu --data-binary @"$T_TMP/b2" "$U/in/batches"); rc=$?
case $rc in 55|56|52|16) ok=0 ;; *) ok=1 ;; esac
t_ok $ok "reset-mid: curl fails (exit $rc: $(cat "$T_TMP/curl.err"))"
t_is "$(rq body_complete):$(rq status):$(rq body_size)" "false:null:35000" "reset-mid: half the body recorded, no status"

qfault close
code=$(cu --data-binary x "$U/in/batches"); rc=$?
t_is "$rc:$(rq status):$(rq fault)" "52:null:close" "close: empty reply (curl exit 52)"

qfault hang
code=$(cu --max-time 1 --data-binary x "$U/in/batches"); rc=$?
t_is "$rc:$(rq fault)" "28:hang" "hang: client times out (curl exit 28)"

qfault 'delay 1'
_t0=$(date +%s%N)
code=$(cu --data-binary x "$U/in/batches")
_ms=$(( ($(date +%s%N) - _t0) / 1000000 ))
[ "$code" = 200 ] && [ $_ms -ge 1000 ]
t_ok $? "delay 1: 200 after ${_ms} ms"

qfault 'trickle 0.005'
code=$(cu --data-binary x "$U/in/batches")
t_is "$code:$(cat "$T_TMP/out")" '200:{"ok": true}' "trickle: whole answer, byte by byte"
qfault 'trickle'
code=$(cu --max-time 1 --data-binary x "$U/in/batches"); rc=$?
t_is "$rc" 28 "trickle at 0.2 s/byte: client with a 1 s limit times out"

qfault 'raw HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/x\r\nContent-Length: 0\r\n\r\n'
code=$(cu --data-binary x "$U/in/batches")
t_is "$code:$(hdr location):$(rq status):$(rq fault | cut -d' ' -f1)" "302:http://127.0.0.1:1/x:302:raw" \
	"raw: the text as it is, its status recorded"
qfault 'raw garbage\r\n\r\n'
code=$(cu --data-binary x "$U/in/batches"); rc=$?
t_is "$rc:$(rq status)" "1:null" "raw: not HTTP (curl exit 1), no status recorded"
qfault 'raw-reset HTTP/1.1 200 OK\r\n'
code=$(cu --data-binary x "$U/in/batches"); rc=$?
t_is "$rc" 56 "raw-reset: a reset after the text (curl exit 56)"
for m in chunked length close; do
	qfault "endless 200 $m"
	code=$(cu --max-time 1 --data-binary x "$U/in/batches"); rc=$?
	t_is "$rc:$code:$(rq status)" "28:200:200" "endless 200 $m: a body without end, cut by the client's limit"
done
qfault 'endless-headers'
code=$(cu --data-binary x "$U/in/batches"); rc=$?
t_is "$rc" 56 "endless-headers: headers without end, cut by curl's limit (exit 56)"

qfault 'bogus 1'
code=$(cu --data-binary x "$U/in/batches")
t_is "$code" 500 "an invalid fault line answers 500"
grep -q "invalid fault line 'bogus 1'" "$D/peer.log"
t_ok $? "and is logged"

# ---------------------------------------------------------------- trust
code=$(curl -sS --max-time 10 --cacert "$C/rogue-ca.pem" --data-binary x "$U/x" -o /dev/null 2>/dev/null); rc=$?
t_is "$rc" 60 "a client trusting only rogue-ca.pem refuses the server (curl exit 60)"

peer_stop $P1
t_is "$?" 0 "peer exits 0 on SIGTERM"
kill -0 $P1 2>/dev/null
t_ok $((! $?)) "peer is gone"
[ ! -e "$D/port" ] && [ ! -e "$D/pid" ]
t_ok $? "port and pid files removed"
grep -q 'seq=1 conn=1/1 POST /in/batches status=200' "$D/peer.log"
t_ok $? "one log line per request on stderr"

# ---------------------------------------------------------------- mutual TLS
M=$T_TMP/mtls
RQDIR=$M
peer_start "$M" --cert "$C/server.pem" --key "$C/server.key" --ca "$C/ca.pem" --require-client-cert
t_ok $? "peer with --require-client-cert starts"
P2=$PEER_PID
U=https://127.0.0.1:$PORT
# under TLS 1.3 the server rejects the client cert after the client's side
# of the handshake is done: curl reports 35, 55 or 56 depending on timing
code=$(cu --data-binary x "$U/x"); rc=$?
case $rc in 35|55|56) ok=0 ;; *) ok=1 ;; esac
t_ok $ok "no client cert: TLS fails (exit $rc: $(cat "$T_TMP/curl.err"))"
code=$(cu --cert "$C/rogue-client.pem" --key "$C/rogue-client.key" --data-binary x "$U/x"); rc=$?
case $rc in 35|55|56) ok=0 ;; *) ok=1 ;; esac
t_ok $ok "rogue client cert: TLS fails (exit $rc: $(cat "$T_TMP/curl.err"))"
code=$(cu --tlsv1.2 --tls-max 1.2 --data-binary x "$U/x"); rc=$?
t_is "$rc" 35 "no client cert over TLS 1.2: handshake fails (curl exit 35)"
code=$(cu --tlsv1.2 --tls-max 1.2 --cert "$C/rogue-client.pem" --key "$C/rogue-client.key" --data-binary x "$U/x"); rc=$?
t_is "$rc" 35 "rogue client cert over TLS 1.2: handshake fails (curl exit 35)"
t_is "$(nreq)" 0 "nothing recorded from rejected clients"
code=$(cu --cert "$C/client.pem" --key "$C/client.key" --data-binary x "$U/x")
t_is "$code:$(rq client_cert)" "200:tradedrop test client" "right client cert: 200, its CN recorded"
peer_stop $P2
t_is "$?" 0 "mTLS peer exits 0 on SIGTERM"

# a restarted peer on the same DIR keeps seq and idempotency state
RQDIR=$D
peer_start "$D" --cert "$C/server.pem" --key "$C/server.key"
P3=$PEER_PID
n=$(nreq)
code=$(cu -H 'Idempotency-Key: k1' --data-binary x "https://127.0.0.1:$PORT/in/batches")
t_is "$code:$(rq seq)" "409:$((n + 1))" "restarted peer: seq continues, k1 still answered 409"
peer_stop $P3

t_done
