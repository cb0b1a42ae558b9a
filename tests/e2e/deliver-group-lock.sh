#!/bin/sh
# deliver-group-lock.sh - a file:// delivery group (tradedrop(8)
# DELIVERY) never holds state.db's write lock while it writes in the
# output directory: the daemon's deliver worker stopped there (a hung
# output filesystem: TD_FAILPOINT=output_dir_opened, SIGSTOP) does not
# hold back the intake worker, whose next file is received and parsed
# at once, not refused after the 10 s busy timeout; continued, both
# files are delivered once and the log verifies.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/run-lib.sh"
t_tmpdir; [ -n "${KEEP:-}" ] && echo "# tmp $T_TMP"
stopped_pid() {
	for p in $(pgrep -P "$RUN_PID"); do
		[ "$(cut -d' ' -f3 "/proc/$p/stat" 2> /dev/null)" = T ] &&
		    { echo "$p"; return 0; }
	done
	return 1
}
cleanup() {
	p=$(stopped_pid) && kill -CONT "$p" 2> /dev/null
	run_cleanup
	[ -n "${KEEP:-}" ] || rm -rf "$T_TMP"
}
trap cleanup EXIT

S=$T_TMP/state
L=$S/landing
mkdir -p "$L"
run_conf "$T_TMP/t.conf" "$S" "$T_TMP/out"
TD_FAILPOINT=output_dir_opened run_start "$T_TMP/t.conf" "$T_TMP/log" ||
    t_skip_all "run did not start"
run_drop "$L" a.csv 3
t_ok "$(wait_until 10 stopped_pid > /dev/null; echo $?)" \
    "the deliver worker stopped in the output directory (a hung filesystem)"
W=$(stopped_pid)
t0=$(now_ms)
run_drop "$L" b.csv 2
wait_until 8 grep -q 'event=file_received .*file=b.csv' "$T_TMP/log"; ok=$?
t_ok $ok "meanwhile the intake receives the next file ($(( $(now_ms) - t0 )) ms)"
TB=$(sha256sum "$S"/archive/*/*/*/raw/b.csv 2> /dev/null | cut -c1-64)
t_ok "$(wait_until 5 sh -c "grep -q '\"event\":\"transmission_parsed\",[^}]*\"$TB\"' '$S/audit.log'"; echo $?)" \
    "and parses it"
t_ok "$(! grep -q 'event=store_error\|database is locked\|SQLITE_BUSY' "$T_TMP/log"; echo $?)" \
    "no step of the intake gave up on a locked state.db"
kill -CONT "$W"
t_ok "$(wait_until 10 run_delivered "$T_TMP/out" 2; echo $?)" "continued, both files are delivered"
t_ok "$(wait_until 5 sh -c "[ \$(grep -c '\"event\":\"transmission_delivered\"' '$S/audit.log') -eq 2 ]"; echo $?)" \
    "each recorded delivered once"
run_stop
t_is "$RUN_RC" 0 "the daemon exits 0"
t_is "$(zcat "$T_TMP/out"/*/batch-*.ndjson.gz | grep -o '"record_id":"[^"]*"' | sort -u | wc -l)" 5 \
    "the receiver has each of the 5 records"
t_is "$(zcat "$T_TMP/out"/*/batch-*.ndjson.gz | wc -l)" 5 "once"
"$TRADEDROP" audit -c "$T_TMP/t.conf" verify > "$T_TMP/verify" 2>&1
t_is $? 0 "audit verify passes"
t_is "$(ls -A "$S/outbox" 2> /dev/null)" "" "nothing is left in outbox/"
t_done
