#!/bin/sh
# run-overflow.sh - 20,000 files created while the daemon's loop cannot
# read its inotify queue (stopped with SIGSTOP: faster than the watcher
# reads them) overflow the kernel's queue (max_queued_events 16384); the
# daemon logs watch_overflow, rescans, and takes every drop among them
# exactly once. Most of the 20,000 are names [watch] ignores (*.part), so
# the test does not wait for 20,000 deliveries: what it checks is that no
# drop is lost with the events and none is taken twice.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/run-lib.sh"
t_tmpdir
trap 'run_cleanup; rm -rf "$T_TMP"' EXIT
Q=$(cat /proc/sys/fs/inotify/max_queued_events 2>/dev/null || echo 16384)
[ "$Q" -lt 19000 ] || t_skip_all "max_queued_events is $Q: 20,000 events would not overflow it"

S=$T_TMP/state
L=$S/landing
mkdir -p "$L"
run_conf "$T_TMP/t.conf" "$S" "$T_TMP/out"
run_start "$T_TMP/t.conf" "$T_TMP/log" || t_skip_all "run did not start"
DROPS=150
kill -STOP "$RUN_PID"
i=1
while [ $i -le 20000 ]; do
	if [ $((i % (20000 / DROPS))) -eq 0 ]; then
		printf 'Store Nbr,Week Ending,UPC,Units,Ticket\n%d,11/28/2026,041000001239,1,o%d\n' $i $i > "$L/d$i.csv"
	else
		: > "$L/f$i.part"
	fi
	i=$((i + 1))
done
kill -CONT "$RUN_PID"
t_ok "$(wait_until 10 grep -q 'event=watch_overflow' "$T_TMP/log"; echo $?)" "the overflow of the inotify queue is logged"
t_ok "$(wait_until 120 run_delivered "$T_TMP/out" $DROPS; echo $?)" "all $DROPS drops among 20,000 files are delivered after the rescan"
sleep 1
t_is "$(ls "$T_TMP/out" | wc -l)" $DROPS "each as one transmission"
t_is "$(grep -c 'event=file_received' "$T_TMP/log")" $DROPS "each received once"
t_is "$(grep -c 'event=duplicate_transmission' "$T_TMP/log")" 0 "none twice"
t_is "$(ls "$L" | grep -c '\.csv$')" 0 "no drop is left in landing"
t_is "$(ls "$L" | grep -c '\.part$')" $((20000 - DROPS)) "the ignored names are left alone"
run_stop
t_is "$RUN_RC" 0 "exit 0"
t_done
