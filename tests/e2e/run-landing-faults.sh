#!/bin/sh
# run-landing-faults.sh - the landing directory under a running daemon:
#   - replaced (moved away, made again) while files wait in it, and
#   - unmounted (a tmpfs, umount -l) while files wait in it:
#     the daemon notices (inotify, or the path naming another directory
#     at the next pass), logs it, takes what was left in the old one
#     through the descriptor it holds, watches the new one, and takes
#     what is dropped there: every file exactly once;
#   - a file that vanishes between the listing and its opening (the open
#     delayed with strace until the file is removed) is logged with its
#     name and the files beside it go on;
#   - a file the daemon cannot read (it runs as `user = nobody`, the file
#     is mode 000) is refused with its name and left in place, the files
#     beside it go on, and it is taken once it is readable.
# Runs in a private mount namespace (for the tmpfs), as root.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/run-lib.sh"
. "$srcdir/tests/lib/localfaults-lib.sh"
lf_mount_ns "$@"
t_tmpdir
trap 'run_cleanup; [ -n "${ST_PID:-}" ] && kill "$ST_PID" 2>/dev/null; umount -l "$T_TMP"/s2/landing 2>/dev/null; rm -rf "$T_TMP"' EXIT

# the daemon's processes: its loop and workers
procs() { echo "$RUN_PID $(pgrep -P "$RUN_PID" | tr '\n' ' ')"; }
freeze() { kill -STOP $(procs); }
thaw() { kill -CONT $(procs); }
once_each() {	# once_each OUT NAME...: each NAME delivered exactly once
	_o=$1; shift
	for _n in "$@"; do
		[ "$(lf_tx "$_o" "$_n" | wc -w)" -eq 1 ] ||
		    { echo "$_n: $(lf_tx "$_o" "$_n" | wc -w) times"; return; }
	done
	echo ok
}
# a worker of the daemon held by strace, at the entry of a system call
held() {
	for _p in $(pgrep -P "$RUN_PID"); do
		grep -q '^State:.*tracing stop' "/proc/$_p/status" && return 0
	done
	return 1
}

# ------------------------------------- replaced: moved away and made again
lf_setup 1
lf_start a.csv
freeze
run_drop "$L" left.csv 2
mv "$L" "$S/landing.old"
mkdir "$L"
run_drop "$L" new.csv 2
thaw
t_ok "$(wait_until 30 run_delivered "$O" 3; echo $?)" "moved away and made again: what was left in the old one and what came to the new one are delivered"
t_grep "$LOG" "event=landing_replaced dir=$L" "the replacement is logged"
t_grep "$LOG" "event=landing_drained dir=$L" "and the old directory drained"
t_is "$(ls -A "$S/landing.old")" "" "nothing is left in the old directory"
m=$(lf_mark "$LOG")
run_drop "$L" new2.csv 2
t_ok "$(wait_until 20 run_delivered "$O" 4; echo $?)" "a file dropped in the new directory later is delivered"
t_is "$(lf_count "$LOG" "$m" 'event=file_received file=new2.csv')" 1 "seen through the new watch, not the 60 s rescan"
t_is "$(once_each "$O" a.csv left.csv new.csv new2.csv)" ok "each file delivered exactly once"
t_is "$(find "$S/work" -mindepth 1 | wc -l)" 0 "nothing half taken in work/"
run_stop
t_is "$RUN_RC" 0 "exit 0"

# --------------------------------- unmounted: a tmpfs landing, umount -l
lf_setup 2
mount -t tmpfs -o size=4m tmpfs "$L" || t_skip_all "cannot mount a tmpfs"
lf_start b.csv
freeze
run_drop "$L" u1.csv 2
umount -l "$L"
run_drop "$L" u2.csv 2
thaw
t_ok "$(wait_until 30 run_delivered "$O" 3; echo $?)" "unmounted: what was left on the tmpfs and what came beneath are delivered"
t_grep "$LOG" "event=landing_replaced dir=$L" "the change of directory is logged"
t_grep "$LOG" "event=landing_drained dir=$L" "what was left on the tmpfs is taken before it is let go"
m=$(lf_mark "$LOG")
run_drop "$L" u3.csv 2
t_ok "$(wait_until 20 run_delivered "$O" 4; echo $?)" "a file dropped there later is delivered"
t_is "$(once_each "$O" b.csv u1.csv u2.csv u3.csv)" ok "each file delivered exactly once"
run_stop
t_is "$RUN_RC" 0 "exit 0"

# -------------------------------- vanished between listing and opening
lf_setup 3
if ! command -v strace > /dev/null; then
	t_ok 0 "# SKIP strace not installed"
else
	run_start "$CONF" "$LOG" || t_skip_all "run did not start"
	wait_until 10 sh -c "[ \$(pgrep -P $RUN_PID | wc -l) -ge 3 ]"
	# every open of v.csv by a worker waits 8 s before it is made
	strace -o "$T_TMP/strace" -P v.csv -e trace=openat \
	    -e inject=openat:delay_enter=8000000 \
	    $(pgrep -P "$RUN_PID" | sed 's/^/-p /') 2> /dev/null &
	ST_PID=$!
	wait_until 10 sh -c "grep -q TracerPid:.$ST_PID /proc/$(pgrep -P "$RUN_PID" | head -1)/status"
	run_drop "$L" v.csv 2
	wait_until 20 held
	t_ok $? "the open of v.csv is held (strace)"
	rm -f "$L/v.csv"
	run_drop "$L" w.csv 2
	t_ok "$(wait_until 30 run_delivered "$O" 1; echo $?)" "the file beside it is delivered"
	kill "$ST_PID"; wait "$ST_PID" 2>/dev/null; ST_PID=
	t_grep "$LOG" "event=landing_gone file=v.csv" "the vanished file is logged with its name"
	t_is "$(lf_tx "$O" v.csv)" "" "nothing of it was taken"
	t_is "$(find "$S/work" -mindepth 1 | wc -l)" 0 "nothing half taken in work/"
	t_ok "$(kill -0 "$RUN_PID"; echo $?)" "the daemon runs on"
	run_stop
	t_is "$RUN_RC" 0 "exit 0"
fi

# ------------------------------------- unreadable, under user = nobody
if ! id nobody > /dev/null 2>&1; then
	t_ok 0 "# SKIP no user nobody"
else
	lf_setup 4 "[integration]" "user = nobody"
	chmod 755 "$T_TMP"
	chmod 644 "$CONF"
	mkdir -p "$O"
	chown -R nobody "$S" "$O"
	lf_start c.csv
	{ echo "Store Nbr,Week Ending,UPC,Units,Sales,Ticket"
	  echo "1,11/28/2026,041000001239,1,1.50,x-1"; } > "$T_TMP/x.tmp"
	chmod 000 "$T_TMP/x.tmp"
	mv "$T_TMP/x.tmp" "$L/x.csv"
	run_drop "$L" y.csv 2
	t_ok "$(wait_until 30 run_delivered "$O" 2; echo $?)" "the file beside an unreadable one is delivered"
	t_ok "$(wait_until 10 grep -q 'event=landing_refused file=x.csv reason="unreadable: Permission denied"' "$LOG"; echo $?)" \
		"the unreadable file is refused with its name and the reason"
	t_is "$(ls "$L")" "x.csv" "and left in place"
	chmod 644 "$L/x.csv"
	t_ok "$(wait_until 30 run_delivered "$O" 3; echo $?)" "made readable, it is taken (a change of mode is a landing event)"
	t_is "$(once_each "$O" c.csv x.csv y.csv)" ok "each file delivered exactly once"
	t_ok "$(kill -0 "$RUN_PID"; echo $?)" "the daemon runs on"
	run_stop
	t_is "$RUN_RC" 0 "exit 0"
fi
t_done
