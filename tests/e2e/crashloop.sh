#!/bin/sh
# crashloop.sh - `tradedrop run` SIGKILLed again and again at random
# moments, restarted each time, while a mixed drop set arrives over a
# real SFTP server (sshd) and in landing_dir: plain CSV with Windows-1252
# bytes, gzip, zip, X12 852 and 867 (a second integration), minisign-
# signed files, and bad ones (a bad signature, too many bad rows, a
# corrupt zip, a broken X12 envelope, a duplicate drop). Kills are of
# the whole process group, of the parent only (its workers get SIGTERM
# from PR_SET_PDEATHSIG and finish their job; the restart waits for the
# lock), or of one worker (the daemon starts another). Then, checked
# against an undisturbed `once` on the same drops and against the rows
# as written: every expected record reached the TLS receiver once, no
# record under two idempotency keys, the sums of quantity and amount
# exact, every bad file in quarantine/ or dlq/ with its code, the
# duplicate drop recorded, `audit verify` passes, PRAGMA integrity_check
# is ok, and records in = delivered + dlq + held + duplicate +
# quarantined + summed.
#
# The seed is printed; TD_CRASHLOOP_SEED=N replays its schedule (the
# kinds, targets and delays of the kills; the machine's timing still
# varies). TD_CRASHLOOP_KILLS=N sets the number of kills of the daemon
# (default 50; worker kills come on top); every 50 kills bring one more
# round of the drop set (under other names), so that the kills keep
# landing on work. The long run:
#   make check TESTS=tests/e2e/crashloop.sh TD_CRASHLOOP_KILLS=500
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/sshd.sh"
. "$srcdir/tests/lib/crashloop-lib.sh"
cl_start

CL_SEED=${TD_CRASHLOOP_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
CL_KILLS=${TD_CRASHLOOP_KILLS:-50}
CL_ROUNDS=$(( (CL_KILLS + 49) / 50 ))
echo "# seed $CL_SEED, $CL_KILLS kills (rerun with TD_CRASHLOOP_SEED=$CL_SEED TD_CRASHLOOP_KILLS=$CL_KILLS)"
cl_setup full yes a b

# A SIGKILL of the parent alone while a worker is busy with a large file:
# the workers die with it, so a restart finds state_dir unlocked at once
# (not refused until the orphan has finished its job), and completes it.
. "$srcdir/tests/lib/run-lib.sh"
O=$T_TMP/orphan
mkdir -p "$O/state/landing" "$O/logs"
CL_INSTANCES="$CL_INSTANCES $O"	# its daemon killed at exit
cl_conf a "$O/state" "file://$O/out" "" > "$O/a.conf"
N=200000
awk -v n=$N 'BEGIN { print "Store Nbr,Week Ending,UPC,Item,Units,Net Sales,Ticket"
    for (i = 1; i <= n; i++) printf "%d,11/28/2026,041000001239,X,%d,1.00,o-%d\n", i % 97, i % 5 + 1, i }' \
    > "$O/.big.tmp"
mv "$O/.big.tmp" "$O/state/landing/big.csv"
setsid "$TRADEDROP" run --foreground -c "$O/a.conf" 2>> "$O/log" &
P=$!; echo "$P" > "$O/logs/o.pid"
wait_until 60 grep -q 'event=file_processing file=big.csv' "$O/log"
t_ok $? "orphans: the daemon is processing a large file"
kill -KILL "$P"
wait "$P" 2>/dev/null
t0=$(now_ms)
wait_until 60 flock -n "$O/state/lock" true
t1=$(now_ms)
t_ok "$([ $((t1 - t0)) -lt 1000 ]; echo $?)" "orphans: state_dir is unlocked" \
    "$((t1 - t0)) ms after a SIGKILL of the daemon's parent alone (< 1000)"
t_ok "$(grep -q 'event=file_parsed file=big.csv' "$O/log"; [ $? -ne 0 ]; echo $?)" \
    "orphans: no worker went on with the file without its parent"
setsid "$TRADEDROP" run --foreground -c "$O/a.conf" 2>> "$O/log" &
P=$!; echo "$P" > "$O/logs/o.pid"
wait_until 120 run_delivered "$O/out" 1
t_ok $? "orphans: the restart completes the file"
kill -TERM "$P"; wait "$P"
t_is $? 0 "orphans: and exits 0 on SIGTERM"
t_is "$(zcat "$O"/out/*/batch-*.ndjson.gz | grep -o '"record_id":"[0-9a-f]*"' | sort | uniq -c | awk '{ n[$1]++ } END { for (k in n) print k ":" n[k] }')" \
    "1:$N" "orphans: every record of it delivered, once"

cl_reference
cl_instance "$T_TMP/run" https sftp || t_skip_all "the TLS receiver did not start"

cl_py loop
t_is $? 0 "the kill loop ran to its end"
cl_check
if [ "$T_FAILED" -ne 0 ]; then
	echo "# seed $CL_SEED; the daemons' logs end:"
	for f in "$T_TMP"/run/logs/a.log "$T_TMP"/run/logs/b.log; do
		echo "# == ${f##*/}"; tail -15 "$f" | cut -c1-300 | sed 's/^/#   /'
	done
fi
t_done
