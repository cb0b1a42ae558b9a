#!/bin/sh
# run-prune.sh - retention under a running daemon, as tradedrop(8) says
# (prune; THE DAEMON; LOGGING): `tradedrop run` holds the lock of
# state_dir, so it prunes by itself, in its intake worker, at start and
# every 24 hours, by the rules of `prune`:
#   - at start, the archive entry and the dead letters of a delivered
#     transmission received more than retain_days ago are removed, each
#     logged (event=archive_pruned) and audited (archive_pruned), the run
#     logged with its count (event=prune_done); a quarantined file, a
#     transmission with a record held and a recent one stay; the audit
#     log still verifies;
#   - while it runs, its timer prunes again (the period lowered through
#     TD_TEST_PRUNE_PERIOD_MS), without a restart;
#   - a run that fails (TD_FAILPOINT=prune_record) is logged
#     (event=prune_failed), the daemon goes on, the next run prunes;
#   - beside it, `prune --dry-run` (no lock, state.db read-only) exits 0
#     and lists what is due; `prune` is refused (exit 3), saying that the
#     daemon prunes by itself and where to see it.
# The wall clock is moved forward through TD_TEST_CLOCK_OFFSET.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/run-lib.sh"
. "$srcdir/tests/lib/localfaults-lib.sh"
t_tmpdir
trap 'run_cleanup; rm -rf "$T_TMP"' EXIT

CLK=$T_TMP/clock
echo 0 > "$CLK"
TD_TEST_CLOCK_OFFSET=$CLK
export TD_TEST_CLOCK_OFFSET
DAY=86400
# step SECONDS: the daemon's wall clock is now SECONDS off the real one
step() {
	echo "$1" > "$CLK.tmp" && mv "$CLK.tmp" "$CLK"
	sleep 0.3
}
# drop NAME STORE UNITS [UPC]: one row (with UPC, 40 more and one of
# UPC, dead-lettered: under max_reject_ratio), renamed into landing/
drop() {
	{ echo "Store Nbr,Week Ending,UPC,Units,Sales,Ticket"
	  echo "$2,11/28/2026,041000001239,$3,1.50,t-$2"
	  if [ -n "${4:-}" ]; then
		for _i in $(seq 40); do
			echo "$2,11/28/2026,041000001239,1,1.50,v-$2-$_i"
		done
		echo "$2,11/28/2026,$4,1,1.50,u-$2"
	  fi
	} > "$L/../.$1.tmp"
	mv "$L/../.$1.tmp" "$L/$1"
}
# archived NAME: the archive entry of landing file NAME is there
archived() { ls "$S"/archive/*/*/*/raw/"$1" > /dev/null 2>&1; }
tid() { sha256sum "$S"/archive/*/*/*/raw/"$1" 2>/dev/null | cut -c1-64; }

lf_setup 1 "[integration]" "retain_days = 30"
run_start "$CONF" "$LOG" || t_skip_all "run did not start"
t_ok "$(lf_logged 20 "$LOG" 0 'event=prune_done pruned=0 retain_days=30'; echo $?)" \
	"the daemon prunes at start (nothing due yet)"

m=$(lf_mark "$LOG")
drop old.csv 1 1 041000001238		# delivered, a dead letter: pruned
lf_logged 30 "$LOG" "$m" 'event=file_delivered file=old.csv'
m=$(lf_mark "$LOG")
{ echo "Shop,Week Ending,UPC,Units,Sales,Ticket"; echo "3,11/28/2026,041000001239,1,1.50,q-3"; } > "$L/../.quar.tmp"
mv "$L/../.quar.tmp" "$L/quar.csv"			# quarantined: kept
lf_logged 30 "$LOG" "$m" 'event=file_quarantined file=quar.csv'
m=$(lf_mark "$LOG")
drop first.csv 2 1			# delivered, restated below: pruned
lf_logged 30 "$LOG" "$m" 'event=file_delivered file=first.csv'
m=$(lf_mark "$LOG")
drop restated.csv 2 5			# a record held: kept
lf_logged 30 "$LOG" "$m" 'event=file_parsed file=restated.csv'
TO=$(tid old.csv) TF=$(tid first.csv) TQ=$(tid quar.csv) TR=$(tid restated.csv)
t_ok "$([ -n "$TO" ] && [ -n "$TF" ] && [ -n "$TQ" ] && [ -n "$TR" ] &&
	[ -f "$S/dlq/$TO.ndjson" ] && [ -f "$S/quarantine/$TQ/quar.csv" ]; echo $?)" \
	"old.csv has a dead letter, quar.csv is quarantined"
t_ok "$(grep -q "event=file_parsed file=restated.csv.* held=1" "$LOG"; echo $?)" \
	"the restatement's record is held"

# 40 days later, beside the running daemon
step $((40 * DAY))
"$TRADEDROP" prune -c "$CONF" --dry-run > "$T_TMP/dry" 2> "$T_TMP/dry.err"
t_is $? 0 "prune --dry-run beside the running daemon exits 0"
t_is "$(cut -d' ' -f1-3 "$T_TMP/dry" | sort)" \
	"$(printf 'would prune %s\nwould prune %s' "$TO" "$TF" | sort)" \
	"it lists the delivered files past retain_days (not the quarantined one, not the one with a held record)"
"$TRADEDROP" prune -c "$CONF" > "$T_TMP/p" 2> "$T_TMP/p.err"
t_is $? 3 "prune beside the running daemon is refused (its lock)"
t_grep "$T_TMP/p.err" "it prunes by itself, at start and every day (its log: event=prune_done)" \
	"saying that the daemon prunes by itself, and where to see it"
t_ok "$(archived old.csv && [ -f "$S/dlq/$TO.ndjson" ]; echo $?)" "neither removed anything"

m=$(lf_mark "$LOG")
drop new.csv 4 1			# received now: kept
lf_logged 30 "$LOG" "$m" 'event=file_delivered file=new.csv'
TN=$(tid new.csv)

# a restart: the daemon prunes at start
N=$(wc -l < "$S/audit.log")
run_stop
m=$(lf_mark "$LOG")
run_start "$CONF" "$LOG" || t_skip_all "run did not start again"
t_ok "$(lf_logged 20 "$LOG" "$m" 'event=prune_done'; echo $?)" "restarted, it prunes at start"
t_is "$(lf_after "$LOG" "$m" | grep -o 'event=prune_done.*')" "event=prune_done pruned=2 retain_days=30" \
	"event=prune_done counts the two transmissions pruned"
for n in "$TO old.csv" "$TF first.csv"; do
	set -- $n
	t_is "$(lf_count "$LOG" "$m" "event=archive_pruned transmission_id=$1 received_at=[0-9TZ:-]+ file=$2 retain_days=30\$")" 1 \
		"event=archive_pruned for $2"
done
t_ok "$(! archived old.csv && ! archived first.csv; echo $?)" \
	"the archive entries of the old delivered transmissions are gone"
t_ok "$([ ! -e "$S/dlq/$TO.ndjson" ]; echo $?)" "old.csv's dead letters are gone"
t_ok "$(archived quar.csv && [ -f "$S/quarantine/$TQ/quar.csv" ]; echo $?)" "the quarantined file is kept"
t_ok "$(archived restated.csv; echo $?)" "the file with a held record is kept"
t_ok "$(archived new.csv; echo $?)" "the recent file is kept"
t_is "$(tail -n +"$((N + 1))" "$S/audit.log" | grep -c '"event":"archive_pruned"')" 2 \
	"one archive_pruned audit line for each"
t_grep "$S/audit.log" "\"event\":\"archive_pruned\",\"integration\":\"acme\",\"transmission_id\":\"$TO\",\"file\":\"old.csv\"" \
	"audit: archive_pruned, with the file"
"$TRADEDROP" prune -c "$CONF" --dry-run > "$T_TMP/dry2" 2>&1
t_is "$?:$(cat "$T_TMP/dry2")" "0:" "then --dry-run has nothing to list"
"$TRADEDROP" audit -c "$CONF" verify > "$T_TMP/av" 2>&1
t_is $? 0 "the audit log verifies"
run_stop
t_is "$RUN_RC" 0 "the daemon exits 0"

# its timer: every TD_TEST_PRUNE_PERIOD_MS here instead of every day
m=$(lf_mark "$LOG")
TD_TEST_PRUNE_PERIOD_MS=500 run_start "$CONF" "$LOG" || t_skip_all "run did not start again"
lf_logged 20 "$LOG" "$m" 'event=prune_done pruned=0'
step $((80 * DAY))			# new.csv is 40 days old now
t_ok "$(lf_logged 20 "$LOG" "$m" "event=archive_pruned transmission_id=$TN .*file=new.csv"; echo $?)" \
	"without a restart, the daemon's timer prunes what has come due"
t_ok "$(wait_until 10 sh -c "! ls '$S'/archive/*/*/*/raw/new.csv" > /dev/null 2>&1; echo $?)" \
	"new.csv's archive entry is gone"
t_ok "$(archived quar.csv && archived restated.csv; echo $?)" "the quarantined and held ones still stay"
t_ok "$(kill -0 "$RUN_PID"; echo $?)" "the daemon runs on"
run_stop

# a run that fails is logged, the daemon goes on, the next run does it
m=$(lf_mark "$LOG")
TD_TEST_PRUNE_PERIOD_MS=500 TD_FAILPOINT=prune_record run_start "$CONF" "$LOG" ||
	t_skip_all "run did not start again"
lf_logged 20 "$LOG" "$m" 'event=prune_done pruned=0'
m=$(lf_mark "$LOG")
drop later.csv 5 1
lf_logged 30 "$LOG" "$m" 'event=file_delivered file=later.csv'
TL=$(tid later.csv)
step $((120 * DAY))			# later.csv is 40 days old now
t_ok "$(lf_logged 20 "$LOG" "$m" 'level=error event=prune_failed pruned=0 error="?[A-Za-z]'; echo $?)" \
	"a failed run: event=prune_failed"
t_ok "$(lf_logged 20 "$LOG" "$m" "event=archive_pruned transmission_id=$TL .*file=later.csv"; echo $?)" \
	"the next run prunes it"
t_ok "$(kill -0 "$RUN_PID" && run_delivered "$O" 1 &&
	[ "$(lf_count "$LOG" "$m" 'event=worker_died|event=run_done')" -eq 0 ]; echo $?)" \
	"the daemon went on: no worker died"
m=$(lf_mark "$LOG")
drop after.csv 6 1
t_ok "$(lf_logged 30 "$LOG" "$m" 'event=file_delivered file=after.csv'; echo $?)" \
	"and it still takes drops"
run_stop
"$TRADEDROP" audit -c "$CONF" verify > "$T_TMP/av" 2>&1
t_is $? 0 "the audit log still verifies"
t_done
