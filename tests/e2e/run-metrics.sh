#!/bin/sh
# run-metrics.sh - the daemon's metrics: /metrics (libmicrohttpd on
# loopback) serves every metric name of SPEC section 9 and the daemon's
# own, with the values the drops give (counts, the histograms of file
# processing time and drop-to-delivered latency, a failing source's poll
# and breaker); `status --json` reads the same numbers; the textfile is
# written; scraping it during processing does not slow processing much;
# an undelivered record older than sync_sla is logged as a warning and
# shown as the sync lag.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/run-lib.sh"
t_tmpdir
trap 'run_cleanup; [ -n "${SCRAPER:-}" ] && kill $SCRAPER 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T_TMP"' EXIT
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
command -v curl > /dev/null || t_skip_all "curl not installed"
freeport() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
P=$(freeport)
S=$T_TMP/state
L=$S/landing
mkdir -p "$L"
: > "$T_TMP/kh"; printf 'pw\n' > "$T_TMP/pw"; chmod 600 "$T_TMP/pw"
run_conf "$T_TMP/t.conf" "$S" "$T_TMP/out"
cat >> "$T_TMP/t.conf" <<CONF
[source "down"]
url = sftp://pos@127.0.0.1:1/out
known_hosts = $T_TMP/kh
password_file = $T_TMP/pw
poll_interval = 1h
connect_timeout = 1s
[metrics]
listen = 127.0.0.1:$P
textfile = $T_TMP/metrics.prom
CONF
run_start "$T_TMP/t.conf" "$T_TMP/log" || t_skip_all "run did not start"
N=6
i=1; while [ $i -le $N ]; do run_drop "$L" "d$i.csv" $((i + 1)); i=$((i + 1)); done
t_ok "$(wait_until 10 run_delivered "$T_TMP/out" $N; echo $?)" "$N drops delivered"
wait_until 5 grep -q 'event=source_polled source=down' "$T_TMP/log"
# the poll is logged before its result is committed to state.db, which
# /metrics reads: wait for the result itself
wait_until 5 sh -c "curl -sf http://127.0.0.1:$P/metrics | grep -q '^tradedrop_source_poll_failures{source=\"down\"} [1-9]'"
curl -sf "http://127.0.0.1:$P/metrics" > "$T_TMP/m"
t_is $? 0 "GET /metrics answers 200"
for name in 'tradedrop_files_total{outcome=' 'tradedrop_records_total{outcome=' \
    'tradedrop_errors_total{tier=' tradedrop_outbox_batches tradedrop_outbox_bytes \
    tradedrop_sync_lag_seconds tradedrop_breaker_open \
    'tradedrop_last_poll_timestamp_seconds{source="down"}' \
    'tradedrop_source_last_good_poll_timestamp_seconds{source="down"}' \
    'tradedrop_source_poll_failures{source="down"}' \
    'tradedrop_source_breaker_open{source="down"}' \
    'tradedrop_source_refused_names{source="down"} 0' \
    'tradedrop_drop_to_delivered_seconds_bucket{le=' \
    'tradedrop_file_processing_seconds_bucket{le='; do
	t_grep "$T_TMP/m" "$name" "/metrics has $name"
done
v() { awk -v k="$1" '$1 == k { print $2 }' "$T_TMP/m"; }
t_is "$(v 'tradedrop_files_total{outcome="delivered"}')" $N "files delivered: $N"
t_is "$(v 'tradedrop_records_total{outcome="delivered"}')" $(( (N + 1) * (N + 2) / 2 - 1 )) "records delivered: every row"
t_is "$(v tradedrop_drop_to_delivered_seconds_count)" $N "a latency observed per drop"
t_is "$(v tradedrop_file_processing_seconds_count)" $N "a processing time observed per file"
t_ok "$(awk -v s="$(v tradedrop_drop_to_delivered_seconds_sum)" -v n=$N 'BEGIN { exit !(s > 0 && s / n < 2) }'; echo $?)" \
    "mean drop-to-delivered latency is plausible ($(v tradedrop_drop_to_delivered_seconds_sum) s for $N)"
t_ok "$([ "$(v 'tradedrop_last_poll_timestamp_seconds{source="down"}')" -ge "$(date -d '-1 min' +%s)" ]; echo $?)" "the failing source's last poll is recent"
t_is "$(v 'tradedrop_source_last_good_poll_timestamp_seconds{source="down"}')" 0 "and it never polled well"
t_ok "$([ "$(v 'tradedrop_source_poll_failures{source="down"}')" -ge 1 ]; echo $?)" "its failures are counted"
t_ok "$([ "$(v 'tradedrop_errors_total{tier="1"}')" -ge 1 ]; echo $?)" "and counted as Tier 1 errors"
t_is "$(v tradedrop_sync_lag_seconds)" 0 "nothing undelivered: no sync lag"
"$TRADEDROP" status --json -c "$T_TMP/t.conf" > "$T_TMP/st.json"
t_is "$($PY -c 'import json,sys; d = json.load(open(sys.argv[1])); print(d["transmissions"]["delivered"], d["records"]["delivered"], d["outbox"]["batches"], d["sync_lag_seconds"])' "$T_TMP/st.json")" \
    "$(v 'tradedrop_files_total{outcome="delivered"}') $(v 'tradedrop_records_total{outcome="delivered"}') $(v tradedrop_outbox_batches) $(v tradedrop_sync_lag_seconds)" \
    "status --json reads the same numbers"
t_is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P/other")" 404 "another path is 404"
t_ok "$(wait_until 12 grep -q 'tradedrop_files_total{outcome="delivered"} '$N "$T_TMP/metrics.prom"; echo $?)" "the textfile holds the same metrics"

# scraping during processing: timed against the same drops unscraped
batch() {	# batch PREFIX ROWS: 30 drops, the ms until all are delivered
	_n0=$(ls "$T_TMP/out" | wc -l)
	_t0=$(now_ms)
	_b=1; while [ $_b -le 30 ]; do run_drop "$L" "$1$_b.csv" $((_b + $2)); _b=$((_b + 1)); done
	wait_until 60 run_delivered "$T_TMP/out" $((_n0 + 30))
	echo $(( $(now_ms) - _t0 ))
}
quiet=$(batch q 10)
( while :; do curl -sf "http://127.0.0.1:$P/metrics" > /dev/null; sleep 0.02; done ) &
SCRAPER=$!
loud=$(batch l 50)
kill $SCRAPER; SCRAPER=
echo "# 30 drops: ${quiet} ms, ${loud} ms while /metrics is scraped ~50 times a second"
t_ok "$([ "$loud" -lt $((quiet * 2 + 500)) ]; echo $?)" "scraping does not slow processing much (${loud} ms against ${quiet} ms)"
# a request past 16 KiB is read in pieces, and the rest of it, already
# there, raises no event (libmicrohttpd's epoll is edge-triggered): it
# was answered at the loop's next 10 s tick
ask() {	# ask PATH HEADER_BYTES: "STATUS SECONDS"
	$PY - "$P" "$1" "$2" <<'PY'
import socket, sys, time
port, path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port), timeout=30)
t0 = time.monotonic()
s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: %s\r\n\r\n" % (path.encode(), b"a" * n))
r = b""
while True:
    d = s.recv(65536)
    if not d: break
    r += d
print(r[9:12].decode() or "-", "%.1f" % (time.monotonic() - t0))
PY
}
set -- $(ask /metrics 20000)
t_is "$1" 200 "a request with 20 KB of headers is answered"
t_ok "$(awk -v s="$2" 'BEGIN { exit !(s < 3) }'; echo $?)" "at once, not at the next tick ($2 s)"
set -- $(ask "/$(printf '%040000d' 0)" 0)
t_is "$1" 414 "a 40 KB request line: 414"
t_ok "$(awk -v s="$2" 'BEGIN { exit !(s < 3) }'; echo $?)" "at once ($2 s)"
set -- $(ask /metrics 100000)
t_is "$1" 431 "100 KB of headers: 431 ($2 s)"
t_is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P/metrics")" 200 "and /metrics is served after them"
# more connections than the limit (16), held idle, then dropped: the
# listening socket, left at the limit, is served again
$PY - "$P" <<'PY'
import socket, sys, time
ss = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for i in range(20)]
time.sleep(1)
for s in ss: s.close()
PY
t_ok "$(wait_until 15 sh -c "curl -sf -m 2 -o /dev/null http://127.0.0.1:$P/metrics"; echo $?)" \
	"20 idle connections dropped: /metrics is served again"
curl -s -i -X DELETE "http://127.0.0.1:$P/metrics" > "$T_TMP/del"
t_grep "$T_TMP/del" "405 Method Not Allowed" "DELETE: 405"
t_grep "$T_TMP/del" "Allow: GET, HEAD" "which says the methods allowed"
run_stop
t_is "$RUN_RC" 0 "exit 0"

# sync_sla: an output that refuses, a transmission older than sync_sla
S2=$T_TMP/s2
run_conf "$T_TMP/s2.conf" "$S2" "$T_TMP/unused"
sed -i "s|^url = file://.*|url = https://127.0.0.1:1/api\ntimeout = 1s|; s|^name = acme|name = acme\nsync_sla = 1m|" "$T_TMP/s2.conf"
mkdir -p "$S2/landing"
run_drop "$S2/landing" late.csv 3
"$TRADEDROP" once -c "$T_TMP/s2.conf" 2> /dev/null
t_is $? 3 "undelivered: the output refuses"
$PY -c 'import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute("UPDATE transmissions SET received_at = received_at - 7200"); db.commit()' "$S2/state.db"
run_start "$T_TMP/s2.conf" "$T_TMP/log2" || t_skip_all "run did not start"
t_ok "$(wait_until 5 grep -q 'event=sync_sla_exceeded' "$T_TMP/log2"; echo $?)" "an undelivered record older than sync_sla: a warning"
t_grep "$T_TMP/log2" "level=warn event=sync_sla_exceeded lag=72" "it says the lag and the sla"
"$TRADEDROP" status -c "$T_TMP/s2.conf" > "$T_TMP/st2.txt"
t_grep "$T_TMP/st2.txt" "(sync_sla 1m), past sync_sla" "status says the sync lag is past sync_sla, the sla as the configuration writes it"
run_stop
t_done
