#!/bin/sh
# run-faults.sh - faults of the peers under a running daemon (`tradedrop
# run`): two SFTP sources on a real sshd (one behind a TCP forwarder that
# can refuse, hang, slow down or lead to another sshd), the landing
# directory, and the TLS test receiver (tests/lib/https-peer.py) with
# its fault file. For each fault, what an operator would check:
#
#   receiver: a TLS handshake that never comes and a request never
#   answered are cut at `timeout`; a burst of 5xx, resets and closed
#   connections are retried with a backoff, each failure logged with its
#   reason; 503 with Retry-After is honoured; a reply lost after the
#   receiver committed is sent again and its 409 taken as delivered; 422
#   moves that batch to dlq/ (Tier 3) and is never sent again; 401, 403
#   and 404 keep the batch spooled with an error, and SIGHUP (after the
#   operator's fix) tries it again at once; an outage of
#   TD_FAULTS_OUTAGE seconds (connections refused) opens the breaker,
#   shows the backlog and the lag in /metrics and `status`, while drops
#   into landing and from SFTP are still taken in and spooled, and
#   everything goes when the receiver is back.
#   SFTP: a session killed mid-transfer of a large file resumes, and only
#   the whole file is taken in; a server down (refused) or hanging
#   (accepts, never answers: cut at connect_timeout) is Tier 1, retried,
#   and opens the source's breaker, while the other source and landing
#   go on; a rotated host key is refused loudly at every poll, never
#   learned, the source shown failing, the others go on, and it works
#   again at the next poll once the operator updates known_hosts.
#
# At the end the receiver's log holds every record exactly once, under
# one key, the daemon never exited nor lost a worker, and exits 0.
#
# In `make check` it takes about a minute, with an outage of 8 s. The long
# run, with the issue's 60 s outage and a stalled SFTP transfer cut by
# the 60 s I/O timeout, three to four minutes:
#     TD_FAULTS_LONG=1 make check TESTS=tests/e2e/run-faults.sh
# TD_FAULTS_OUTAGE=SECONDS sets the outage alone (default 8, or 60 with
# TD_FAULTS_LONG=1). KEEP=1 keeps the temporary directory (logs, the
# receiver's requests.ndjson).
PY=/usr/bin/python3
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/sshd.sh"
sshd_require
for _c in $PY openssl curl sqlite3; do
	command -v $_c > /dev/null || t_skip_all "$_c not installed"
done
. "$srcdir/tests/lib/run-lib.sh"
t_tmpdir
. "$srcdir/tests/lib/https-lib.sh"
. "$srcdir/tests/lib/faults-lib.sh"
LONG=${TD_FAULTS_LONG:-0}
if [ "$LONG" = 1 ]; then OUTAGE=${TD_FAULTS_OUTAGE:-60}; else OUTAGE=${TD_FAULTS_OUTAGE:-8}; fi
B_UNSHARE=
cleanup() {
	run_cleanup
	sshd_stop
	SSHD_UNSHARE=$B_UNSHARE
	sshd_stop
	for p in $PEERS; do kill -KILL "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] || rm -rf "$T_TMP"
}
trap cleanup EXIT
chmod 755 "$T_TMP"	# the test user reaches its files below

# ------------------------------------------------------------ the peers
# sshd B: the same server after its host key was replaced
sshd_start "$T_TMP/sshd-b" || t_skip_all "sshd did not start"
B_UNSHARE=$SSHD_UNSHARE B_PORT=$SSHD_PORT B_FP=$SSHD_FP
B_KEYLINE=$(cut -d' ' -f1,2 "$SSHD_HOSTKEY_PUB")
B_AUTH=$SSHD_DIR/authorized_keys
sshd_start "$T_TMP/sshd-a" || t_skip_all "sshd did not start"
cat "$SSHD_KEY.pub" >> "$B_AUTH"	# the same login works on B
px_start "$T_TMP/px" "$SSHD_PORT" || t_skip_all "the forwarder did not start"
R1=$T_TMP/r1 R2=$T_TMP/r2
mkdir -p "$R1" "$R2"
chown "$SSHD_UID:$SSHD_UID" "$R1" "$R2"
KH1=$T_TMP/kh1 KH2=$T_TMP/kh2
echo "[127.0.0.1]:$PX_PORT $(cut -d' ' -f1,2 "$SSHD_HOSTKEY_PUB")" > "$KH1"
sshd_known_hosts "$KH2"

C=$T_TMP/pki
D=$T_TMP/peer
sh "$srcdir/tests/lib/mkca.sh" "$C" > /dev/null 2>&1 || t_skip_all "mkca.sh failed"
PEER_ARGS="--cert $C/server.pem --key $C/server.key --ca $C/ca.pem --require-client-cert"
qfault() { printf '%s\n' "$@" > "$D/faults.new" && mv "$D/faults.new" "$D/faults"; }
mkdir -p "$D"
# the daemon's first connections, each on a new connection, since the
# one before failed: one that never gets a TLS handshake, one reset
# before it, one reset in the middle of the request, one closed without
# an answer. (Later, a fault on a kept-alive connection may be retried
# by libcurl itself, on a new connection, before delivery sees it.)
qfault stall reset-before "/batches reset-mid" "/batches close"
peer_start "$D" $PEER_ARGS || t_skip_all "no peer"
MP=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# ------------------------------------------------------------ the daemon
S=$T_TMP/state
L=$S/landing
CONF=$T_TMP/t.conf
run_conf "$CONF" "$S" "$T_TMP/unused"
sed -i "s|^url = file://.*|url = https://127.0.0.1:$PORT/api/v1/\nca_file = $C/ca.pem\nclient_cert = $C/client.pem\nclient_key = $C/client.key\ntimeout = 2s\nmax_backoff = 2s\nbreaker_failures = 4\nbreaker_cooldown = 2s|; s/^batch_records = 1000/batch_records = 3/" "$CONF"
for src in "pos $PX_PORT $R1 $KH1" "pos2 $SSHD_PORT $R2 $KH2"; do
	set -- $src
	cat >> "$CONF" <<CONF
[source "$1"]
url = sftp://$SSHD_USER@127.0.0.1:$2$3
pattern = *.csv
known_hosts = $4
identity = $SSHD_KEY
poll_interval = 1s
ready = marker
connect_timeout = 3s
CONF
done
printf '[metrics]\nlisten = 127.0.0.1:%s\n' "$MP" >> "$CONF"
mkdir -p "$L"
LOG=$T_TMP/log

EXPECT=0	# records the receiver must end up with
ldrop() { run_drop "$L" "$1" "$2"; EXPECT=$((EXPECT + $2)); }
rdrop() {	# rdrop DIR NAME ROWS: a drop on an SFTP source, with its marker
	run_drop "$1" "$2" "$3"
	: > "$1/$2.done"
	chown "$SSHD_UID:$SSHD_UID" "$1/$2" "$1/$2.done"
	EXPECT=$((EXPECT + $3))
}
sq() { sqlite3 "$S/state.db" "$1" 2>/dev/null; }
taken() { [ "$(sq "SELECT count(*) FROM transmissions WHERE name = '$1'")" -ge 1 ]; }
state_of() { sq "SELECT state FROM transmissions WHERE name = '$1'"; }
tid_of() { sq "SELECT id FROM transmissions WHERE name = '$1'"; }
delivered() { [ "$(state_of "$1")" = delivered ]; }
delivered_all() { for _n; do delivered "$_n" || return 1; done; }
# everything taken in is delivered (or quarantined and reported)
settled() {
	[ "$(sq "SELECT count(*) FROM transmissions WHERE state IN
	    ('received', 'parsed') OR (state = 'quarantined' AND
	    rejections_sent = 0)")" = 0 ]
}
nlog() { grep -c -- "$1" "$LOG"; }
# since N PATTERN: lines of the log after its line N that have PATTERN
mark() { wc -l < "$LOG" | tr -d ' '; }
since() { tail -n +$(($1 + 1)) "$LOG" | grep -c -- "$2"; }
M=$T_TMP/metrics
mval() { fetch_metrics "$MP" "$M" && metric "$M" "$1"; }
mis() { [ "$(mval "$1")" = "$2" ]; }
alive() { kill -0 "$RUN_PID" 2>/dev/null; }
# the seconds between the peer's requests N1 and N2 (seq)
gap() {
	$PY -c 'import json, sys
r = {x["seq"]: x["mono"] for x in map(json.loads, open(sys.argv[1]))}
print("%.2f" % (r[int(sys.argv[3])] - r[int(sys.argv[2])]))' "$D/requests.ndjson" "$1" "$2"
}
# seq of the requests whose key is K, in order
seqs_of_key() {
	$PY -c 'import json, sys
print(" ".join(str(x["seq"]) for x in sorted(map(json.loads, open(sys.argv[1])), key=lambda x: x["seq"])
      if x["headers"].get("idempotency-key") == sys.argv[2]))' "$D/requests.ndjson" "$1"
}

# ------------------------------------------------------------ 1. baseline
rdrop "$R1" base1.csv 2
rdrop "$R2" base2.csv 2
ldrop base3.csv 2
run_start "$CONF" "$LOG" || t_skip_all "run did not start"
t_ok "$(wait_until 30 delivered_all base1.csv base2.csv base3.csv; echo $?)" \
    "baseline: both sources and the landing directory delivered"
STALL=$(sed -n 's/.*stalled: the client closed after \([0-9.]*\) s/\1/p' "$D/peer.log" | head -1)
echo "# a TLS handshake that never came was cut after ${STALL:-?} s (timeout = 2s)"
t_ok "$(awk -v s="${STALL:-0}" 'BEGIN { exit !(s >= 1.5 && s <= 6) }'; echo $?)" \
    "a connection that never completes its TLS handshake is cut at timeout"
t_is "$(grep 'event=delivery_retry what=batch status=0' "$LOG" | grep -vc 'error=-')" 4 \
    "it, two resets and a connection closed without an answer: each logged as delivery_retry with its error"
t_ok "$([ "$(nlog 'event=delivery_backoff what=batch')" -ge 3 ]; echo $?)" \
    "each followed by a backoff"

# ------------------------------------------------------------ 2. 5xx burst
# a.csv has four batches, sent in parallel; three answered 5xx, then the
# manifest 503 with Retry-After: 1
N0=$(mark)
qfault "/batches status 500" "/batches status 503" "/batches status 502" \
    "/transmissions status 503 1"
ldrop a.csv 10
t_ok "$(wait_until 30 delivered a.csv; echo $?)" "5xx burst: a.csv delivered"
t_is "$(since $N0 'event=delivery_retry what=batch status=50')" 3 \
    "each 5xx answer to a batch logged as delivery_retry with its status"
t_is "$(since $N0 'event=delivery_retry what=manifest status=503')" 1 \
    "the 503 to the manifest logged too"
t_ok "$([ "$(since $N0 'event=delivery_backoff what=batch')" -ge 1 ] &&
    [ "$(since $N0 'event=delivery_backoff what=manifest delay_ms=1000')" = 1 ]; echo $?)" \
    "the batches wait a backoff before they are sent again, the manifest its Retry-After"
# the gap between the 503 to the manifest and its retry
$PY -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
m = [x for x in r if x["path"].endswith("/transmissions")]
f = [x for x in m if x["fault"]][-1]
n = [x for x in m if x["seq"] > f["seq"]][0]
print("%.2f" % (n["mono"] - f["mono"]))' "$D/requests.ndjson" > "$T_TMP/ra"
t_ok "$(awk '{ exit !($1 >= 0.95 && $1 < 5) }' "$T_TMP/ra"; echo $?)" \
    "Retry-After: 1 honoured ($(cat "$T_TMP/ra") s)"

# ------------------------------------------------------------ 3. a hang
# (then the manifest is taken, but its answer trickles in too slowly:
# a reply lost after the receiver committed it)
N0=$(mark)
qfault "/batches hang" "/transmissions trickle 0.5"
ldrop c.csv 2
t_ok "$(wait_until 30 delivered c.csv; echo $?)" "a request never answered: c.csv delivered"
t_is "$(since $N0 'event=delivery_retry what=batch status=0 error="Timeout was reached: Operation timed out after') $(since $N0 'event=delivery_retry what=manifest status=0 error="Timeout was reached: Operation timed out after')" "1 1" \
    "the hang and the lost reply are logged as timeouts, with curl's details"
t_is "$($PY -c 'import json, sys
print(" ".join(str(x["status"]) for x in map(json.loads, open(sys.argv[1]))
      if x["path"].endswith("/transmissions") and x["headers"]["tradedrop-transmission"] == sys.argv[2]))' \
    "$D/requests.ndjson" "$(tid_of c.csv)")" "200 409" \
    "the manifest whose reply was lost is sent again, and its 409 taken as delivered"
CK=$(sq "SELECT idempotency_key FROM batches b, transmissions t WHERE t.name = 'c.csv' AND b.transmission_id = t.id")
set -- $(seqs_of_key "$CK")
HG=$(gap "$1" "$2")
echo "# the hung request was cut and sent again after $HG s (timeout = 2s, max_backoff = 2s)"
t_ok "$(awk -v s="$HG" 'BEGIN { exit !(s >= 1.9 && s <= 8) }'; echo $?)" \
    "it was cut at timeout and sent again under the same key ($# requests)"

# ------------------------------------------------------------ 4. 4xx
# 422: that batch is refused for good (Tier 3); the others go
N0=$(mark)
qfault "/batches status 422"
ldrop e.csv 5
t_ok "$(wait_until 30 delivered e.csv; echo $?)" "422: e.csv delivered but for the refused batch"
TE=$(tid_of e.csv)
t_grep "$S/dlq/$TE.ndjson" '"code":"rejected_by_reconciler"' "the refused batch is in dlq/ with its code"
RREC=$(sed -n 's/.*"records":\([0-9]*\).*/\1/p' "$S/dlq/$TE.ndjson")
EXPECT=$((EXPECT - RREC))
t_is "$(since $N0 'event=batch_rejected file=e.csv') $(since $N0 'event=delivery_retry')" "1 0" \
    "logged as batch_rejected, never retried"
RK=$(sq "SELECT idempotency_key FROM batches WHERE transmission_id = '$TE' AND state = 'rejected'")
t_is "$(seqs_of_key "$RK" | wc -w)" 1 "the refused batch was sent once"
t_is "$(sq "SELECT delivered + dlq FROM transmissions WHERE id = '$TE'")" 5 \
    "delivered + dead-lettered = the file's 5 records"
# 401, 403, 404: kept spooled with an error; the operator fixes the
# credentials or the URL and sends SIGHUP: it is tried again at once
N0=$(mark)
qfault "/batches status 401" "/batches status 403" "/batches status 404"
ldrop f.csv 2
refused() { [ "$(since $N0 "level=error event=delivery_refused file=f.csv batch=1 status=$1 message=\"$2")" -ge 1 ]; }
t_ok "$(wait_until 30 refused 401 'credentials refused; the batch stays spooled'; echo $?)" \
    "401: logged as an error, credentials refused"
t_is "$(state_of f.csv) $(ls "$S/dlq" | grep -c "$(tid_of f.csv)")" "parsed 0" \
    "f.csv stays spooled, nothing dead-lettered"
run_signal HUP
t_ok "$(wait_until 10 refused 403 'credentials refused; the batch stays spooled'; echo $?)" \
    "SIGHUP: tried again at once; 403, refused the same way"
run_signal HUP
t_ok "$(wait_until 10 refused 404 'the reconciler refused the request; the batch stays spooled'; echo $?)" \
    "SIGHUP: 404, kept spooled too"
run_signal HUP
t_ok "$(wait_until 10 delivered f.csv; echo $?)" "SIGHUP: delivered at once"
t_is "$(since $N0 'event=reload_failed') $(since $N0 'event=delivery_retry')" "0 0" \
    "(the config reloaded; a 4xx is not retried as Tier 1)"

# ------------------------------------------------------------ 5. SFTP
# a session killed in the middle of a large file (the forwarder slows it
# down to 2 MB/s, so that it is cut at about 1.5 MB of 6)
px up "" 2000000
head -c 6000000 /dev/urandom > "$R1/big.csv"
: > "$R1/big.csv.done"
chown "$SSHD_UID:$SSHD_UID" "$R1/big.csv" "$R1/big.csv.done"
BIGSUM=$(sha256sum < "$R1/big.csv" | cut -c1-64)
N0=$(mark)
partsize() { [ "$(stat -c %s "$L/.big.csv.part" 2>/dev/null || echo 0)" -gt 1500000 ]; }
t_ok "$(wait_until 30 partsize; echo $?)" "sftp: big.csv is being fetched"
sshd_kill_session 2> /dev/null
t_ok $? "sftp: the sshd session is killed mid-transfer"
t_ok "$(wait_until 30 taken big.csv; echo $?)" "sftp: big.csv is taken in after the next poll"
t_ok "$(since $N0 'event=sftp_transfer_failed source=pos file=big.csv tier=1' | grep -qv '^0$'; echo $?)" \
    "the broken transfer is logged as Tier 1"
t_ok "$(since $N0 'event=sftp_resume source=pos file=big.csv offset=' | grep -qv '^0$'; echo $?)" \
    "and resumed from the partial offset"
t_is "$(sq "SELECT group_concat(id) FROM transmissions WHERE name = 'big.csv'")" "$BIGSUM" \
    "only the whole file was taken in (one transmission, whose id is the remote file's SHA-256)"
px up "" 0

# the server down (connections refused): Tier 1, retried, the breaker
# opens; the other source and landing go on
px down
N0=$(mark)
rdrop "$R1" down1.csv 2
rdrop "$R2" other1.csv 3
ldrop land1.csv 2
t_ok "$(wait_until 30 grep -q 'event=sftp_breaker_opened source=pos ' "$LOG"; echo $?)" \
    "server down: the source's breaker opens"
# (the failure that opens the breaker is logged just after it, and one of
# the five may be the poll under way when the server went down: waited for)
connfail4() { [ "$(since $N0 'event=sftp_connect_failed source=pos tier=1')" -ge 4 ]; }
t_ok "$(wait_until 10 connfail4; echo $?)" \
    "after consecutive connection failures, each logged as Tier 1"
t_ok "$(wait_until 10 mis 'tradedrop_source_breaker_open{source="pos"}' 1; echo $?)" \
    "/metrics shows the source's breaker open"
t_ok "$(wait_until 30 taken other1.csv && wait_until 30 taken land1.csv; echo $?)" \
    "the other source and the landing directory go on"
t_is "$(state_of down1.csv)" "" "down1.csv waits"
px up
t_ok "$(wait_until 30 taken down1.csv; echo $?)" "server back: down1.csv fetched at the breaker's probe"
t_ok "$(wait_until 10 grep -q 'event=sftp_breaker_closed source=pos' "$LOG"; echo $?)" \
    "and the breaker closed"

# a server that accepts and never answers: cut at connect_timeout (3s)
px hang
N0=$(mark)
rdrop "$R1" hang1.csv 2
rdrop "$R2" other2.csv 2
t_ok "$(wait_until 30 grep -q 'event=sftp_connect_failed source=pos tier=1 .*SSH handshake' "$LOG"; echo $?)" \
    "a server that never answers: the handshake is cut, Tier 1"
t_ok "$(wait_until 30 taken other2.csv; echo $?)" "the other source goes on meanwhile"
px up
t_ok "$(wait_until 30 taken hang1.csv; echo $?)" "answering again: hang1.csv fetched"

# the host key rotated: another server behind the same address
cp "$KH1" "$T_TMP/kh1.orig"
px up "$B_PORT"
N0=$(mark)
rdrop "$R1" rot1.csv 2
rdrop "$R2" other3.csv 2
ldrop land2.csv 2
t_ok "$(wait_until 30 sh -c "[ \$(tail -n +$((N0 + 1)) '$LOG' | grep -c 'level=error event=sftp_hostkey_changed source=pos .*fingerprint=$B_FP') -ge 2 ]"; echo $?)" \
    "host key changed: refused loudly at every poll, naming the new key's fingerprint"
t_grep "$LOG" "HOST KEY CHANGED for [127.0.0.1]:$PX_PORT" "the message says what happened"
t_ok "$(wait_until 30 taken other3.csv && wait_until 30 taken land2.csv; echo $?)" \
    "the other source and the landing directory go on"
t_is "$(state_of rot1.csv)" "" "nothing fetched from the changed server"
t_ok "$(cmp -s "$KH1" "$T_TMP/kh1.orig"; echo $?)" "known_hosts unchanged: the key is never learned"
"$TRADEDROP" status --json -c "$CONF" > "$T_TMP/st.json" 2>&1
t_is "$($PY -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join("%s=%s" % (s["name"], s["result"]) for s in d["sources"]))' "$T_TMP/st.json")" \
    "pos=refused pos2=ok" "status shows the source refused, the other ok"
fetch_metrics "$MP" "$M"
t_ok "$([ "$(metric "$M" 'tradedrop_source_last_good_poll_timestamp_seconds{source="pos"}')" -lt \
    "$(metric "$M" 'tradedrop_last_poll_timestamp_seconds{source="pos"}')" ]; echo $?)" \
    "/metrics: the source's last good poll is behind its last poll"
# the operator checks the new fingerprint with the retailer, and
# replaces the key: the next poll uses it, no signal needed
echo "[127.0.0.1]:$PX_PORT $B_KEYLINE" > "$KH1.new"
mv "$KH1.new" "$KH1"
t_ok "$(wait_until 30 taken rot1.csv; echo $?)" "known_hosts updated: the next poll fetches rot1.csv"

# a transfer that stalls (the server stops sending, the connection stays
# open) is cut by the I/O timeout, 60 s: with TD_FAULTS_LONG=1 only
if [ "$LONG" = 1 ]; then
	px up "" 2000000
	head -c 6000000 /dev/urandom > "$R1/big2.csv"
	: > "$R1/big2.csv.done"
	chown "$SSHD_UID:$SSHD_UID" "$R1/big2.csv" "$R1/big2.csv.done"
	BIGSUM=$(sha256sum < "$R1/big2.csv" | cut -c1-64)
	partsize2() { [ "$(stat -c %s "$L/.big2.csv.part" 2>/dev/null || echo 0)" -gt 1500000 ]; }
	t_ok "$(wait_until 30 partsize2; echo $?)" "sftp: big2.csv is being fetched"
	px freeze
	T0=$(now_ms)
	ldrop stall1.csv 2
	t_ok "$(wait_until 100 grep -q 'event=sftp_transfer_failed source=pos file=big2.csv tier=1' "$LOG"; echo $?)" \
	    "a stalled transfer is cut, Tier 1"
	ST=$(( ($(now_ms) - T0) / 1000 ))
	t_ok "$([ "$ST" -ge 55 ] && [ "$ST" -le 90 ]; echo $?)" "after the 60 s I/O timeout ($ST s)"
	t_ok "$(taken stall1.csv; echo $?)" "the landing directory went on meanwhile"
	px up "" 0
	t_ok "$(wait_until 30 taken big2.csv; echo $?)" "then big2.csv is resumed and taken in"
	t_is "$(tid_of big2.csv)" "$BIGSUM" "whole"
fi

# ------------------------------------------------------------ 6. outage
t_ok "$(wait_until 30 settled; echo $?)" "everything so far delivered"
t_is "$(nlog 'event=delivery_refused')" 3 "the 401, 403 and 404 were the only refusals"
fetch_metrics "$MP" "$M"
E1=$(metric "$M" 'tradedrop_errors_total{tier="1"}')
N0=$(mark)
peer_stop "$PEER_PID"
T0=$(now_ms)
echo "# the receiver is down for ${OUTAGE} s"
ldrop out1.csv 4
rdrop "$R2" out2.csv 3
rdrop "$R1" out3.csv 2
t_ok "$(wait_until 30 taken out1.csv && wait_until 30 taken out2.csv && wait_until 30 taken out3.csv; echo $?)" \
    "outage: drops into landing and from both sources are taken in"
# taken is a row in 'received': its processing (slower under ASan) is
# waited for, then what it ended in is checked
processed() { for _n; do [ "$(state_of "$_n")" != received ] || return 1; done; }
wait_until 30 processed out1.csv out2.csv out3.csv
t_is "$(state_of out1.csv) $(state_of out2.csv) $(state_of out3.csv)" "parsed parsed parsed" \
    "and spooled"
t_ok "$(wait_until 30 grep -q 'event=breaker_opened' "$LOG"; echo $?)" \
    "the delivery breaker opens"
t_ok "$(since $N0 'event=delivery_retry .*Couldn.t connect to server' | grep -qv '^0$'; echo $?)" \
    "each failure logged with its reason"
t_ok "$(wait_until 10 mis tradedrop_breaker_open 1; echo $?)" "/metrics shows the breaker open"
lagging() { [ "$(mval tradedrop_sync_lag_seconds)" -ge 1 ]; }
t_ok "$(wait_until 10 lagging; echo $?)" "/metrics shows the sync lag"
t_ok "$([ "$(metric "$M" tradedrop_outbox_batches)" -ge 3 ] &&
    [ "$(metric "$M" 'tradedrop_errors_total{tier="1"}')" -gt "$E1" ]; echo $?)" \
    "and the backlog ($(metric "$M" tradedrop_outbox_batches) batches) and the Tier 1 errors"
"$TRADEDROP" status -c "$CONF" > "$T_TMP/st.txt" 2>&1
t_ok "$(grep -Eq '^oldest pending: [0-9]+s$' "$T_TMP/st.txt"; echo $?)" \
    "status says how old the oldest pending transmission is"
t_ok "$(grep -Eq '^delivery breaker: (open|half-open) \([0-9]+ consecutive failures\)$' "$T_TMP/st.txt"; echo $?)" \
    "and that the breaker is open (or lets a probe through)"
outage_over() { [ "$(now_ms)" -ge $((T0 + OUTAGE * 1000)) ]; }
wait_until $((OUTAGE + 5)) outage_over
t_ok "$(alive; echo $?)" "the daemon runs on through the outage"
peer_start "$D" $PEER_ARGS --port "$PORT"
t_ok $? "the receiver starts again on its port"
T1=$(now_ms)
t_ok "$(wait_until 30 settled; echo $?)" "receiver back: everything spooled is delivered"
echo "# outage of $(( (T1 - T0) / 1000 )) s; delivered $(( $(now_ms) - T1 )) ms after it ended"
t_ok "$(wait_until 10 grep -q 'event=breaker_closed' "$LOG"; echo $?)" "the breaker closed"
fetch_metrics "$MP" "$M"
t_is "$(metric "$M" tradedrop_breaker_open) $(metric "$M" tradedrop_outbox_batches) $(metric "$M" tradedrop_sync_lag_seconds)" \
    "0 0 0" "/metrics: breaker closed, nothing spooled, no lag"

# ------------------------------------------------------------ the end
t_is "$(ls -A "$L")" "" "nothing left in landing (no .part, no .part.info)"
t_is "$(exactly_once "$D" "$S")" "ok $EXPECT" \
    "the receiver got every record exactly once, each batch under one key"
t_is "$(nlog 'event=worker_died')" 0 "no worker died"
t_ok "$(alive; echo $?)" "the daemon never exited"
run_stop
t_is "$RUN_RC" 0 "it stops on SIGTERM with exit 0"
"$TRADEDROP" audit verify -c "$CONF" > "$T_TMP/audit" 2>&1
t_is $? 0 "audit verify passes"
t_done
