#!/bin/sh
# run-peers.sh - `tradedrop run` against real peers: an SFTP source on a
# test sshd is polled on its poll_interval and its files are delivered,
# the names it refuses are counted at every poll and logged once an hour,
# SIGUSR1 polls it at once; a file dropped while the daemon runs reaches
# the TLS test receiver (mutual TLS) within 2 s.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/run-lib.sh"
. "$srcdir/tests/lib/sshd.sh"
sshd_require
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
command -v openssl > /dev/null || t_skip_all "openssl not installed"
. "$srcdir/tests/lib/https-lib.sh"
trap 'run_cleanup; sshd_stop; for p in $PEERS; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$T_TMP"' EXIT
chmod 755 "$T_TMP"
sshd_start "$T_TMP/sshd" || t_skip_all "sshd did not start"
KH=$T_TMP/known_hosts
sshd_known_hosts "$KH"

# ---------------------------------------------------- SFTP, on interval
R=$T_TMP/remote
mkdir -p "$R"
S=$T_TMP/s1
run_conf "$T_TMP/s1.conf" "$S" "$T_TMP/out1"
cat >> "$T_TMP/s1.conf" <<CONF
[source "pos"]
url = sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT$R
pattern = *.csv, *.part
known_hosts = $KH
identity = $SSHD_KEY
poll_interval = 1s
stable_time = 0s
CONF
run_drop "$R" a.csv 3
# a name intake never takes (*.part) and an unsafe one, left on the server
echo x > "$R/z.part"
echo x > "$R/$(printf 'b\001.csv')"
chown -R "$SSHD_UID:$SSHD_UID" "$R"
polls() { grep -c 'event=source_polled source=pos' "$T_TMP/log1"; }
run_start "$T_TMP/s1.conf" "$T_TMP/log1" || t_skip_all "run did not start"
t_ok "$(wait_until 10 run_delivered "$T_TMP/out1" 1; echo $?)" "a file on the SFTP source is fetched and delivered"
n1=$(polls)
sleep 3
n2=$(polls)
t_ok "$([ $((n2 - n1)) -ge 2 ] && [ $((n2 - n1)) -le 4 ]; echo $?)" "polled every poll_interval (1s): $((n2 - n1)) polls in 3 s"
t_is "$(grep 'event=source_polled' "$T_TMP/log1" | grep -vc 'result=ok')" 0 "every poll went well"
# each poll counts the names it left; the daemon says each once an hour
t_is "$(grep 'event=sftp_listed source=pos' "$T_TMP/log1" | grep -vc 'bad_names=1 refused_names=1 ')" 0 \
    "each poll counts the unsafe name and the name never taken ($(grep -c 'event=sftp_listed' "$T_TMP/log1") polls)"
t_is "$(grep -c 'event=sftp_name_refused source=pos file=z.part ' "$T_TMP/log1")" 1 \
    "the name never taken is logged once, not at every poll"
t_is "$(grep -c 'event=sftp_bad_name source=pos .*name="b\\x01.csv" bytes=6' "$T_TMP/log1")" 1 \
    "the unsafe name is logged once, not at every poll"
run_drop "$R" b.csv 4
chown "$SSHD_UID:$SSHD_UID" "$R/b.csv"
t_ok "$(wait_until 10 run_delivered "$T_TMP/out1" 2; echo $?)" "a file put there later is delivered too"
"$TRADEDROP" status -c "$T_TMP/s1.conf" > "$T_TMP/status1" 2>&1
t_grep "$T_TMP/status1" "source pos: last poll" "status shows the source's last poll from state.db"
run_stop
t_is "$RUN_RC" 0 "exit 0"

# SIGUSR1: poll now, with a long interval
# (a refused name said again after a second, not an hour: the next poll
# says it again)
sed -i 's/^poll_interval = 1s/poll_interval = 1h/' "$T_TMP/s1.conf"
export TD_TEST_REFUSED_AGAIN=1
run_start "$T_TMP/s1.conf" "$T_TMP/log2" || t_skip_all "run did not start"
unset TD_TEST_REFUSED_AGAIN
wait_until 10 grep -q 'event=source_polled' "$T_TMP/log2"
sleep 1.2
n1=$(grep -c 'event=source_polled' "$T_TMP/log2")
run_signal USR1
t_ok "$(wait_until 3 sh -c "[ \$(grep -c 'event=source_polled' '$T_TMP/log2') -gt $n1 ]"; echo $?)" "SIGUSR1 polls the source at once (poll_interval = 1h)"
t_grep "$T_TMP/log2" "event=poll_now" "and logs it"
t_is "$(grep -c 'event=sftp_name_refused source=pos file=z.part ' "$T_TMP/log2")" 2 \
    "a refused name is said again once its time is past (TD_TEST_REFUSED_AGAIN=1)"
run_stop

# ---------------------------------------------------- TLS receiver
C=$T_TMP/pki
D=$T_TMP/peer
sh "$srcdir/tests/lib/mkca.sh" "$C" > /dev/null 2>&1 || t_skip_all "mkca.sh failed"
peer_start "$D" --cert "$C/server.pem" --key "$C/server.key" --ca "$C/ca.pem" --require-client-cert || t_skip_all "no peer"
S=$T_TMP/s2
run_conf "$T_TMP/s2.conf" "$S" "$T_TMP/unused"
sed -i "s|^url = file://.*|url = https://127.0.0.1:$PORT/api/v1/\nca_file = $C/ca.pem\nclient_cert = $C/client.pem\nclient_key = $C/client.key|" "$T_TMP/s2.conf"
mkdir -p "$S/landing"
run_start "$T_TMP/s2.conf" "$T_TMP/log3" || t_skip_all "run did not start"
manifests() { [ "$(grep -c '"/api/v1/transmissions"' "$D/requests.ndjson" 2>/dev/null)" -ge "$1" ]; }
t0=$(now_ms)
run_drop "$S/landing" t.csv 5
# (times TD_TEST_TIME_SCALE: make check-asan runs the code slower)
LAT=$((2 * ${TD_TEST_TIME_SCALE:-1}))
wait_until $LAT manifests 1; ok=$?
echo "# drop to receiver: $(( $(now_ms) - t0 )) ms"
t_ok $ok "a dropped file is delivered to the TLS receiver within $LAT s"
t_is "$(grep -c '"/api/v1/batches"' "$D/requests.ndjson")" 1 "its batch went first, once"
run_stop
t_is "$RUN_RC" 0 "exit 0"
t_done
