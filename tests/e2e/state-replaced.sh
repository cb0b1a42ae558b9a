#!/bin/sh
# state-replaced.sh - state_dir moved away, or removed, and made again
# under a running daemon (an operator "starting afresh", a restore from a
# backup). The daemon held the lock of the old one; the lock went with
# it, and the landing_dir it follows by path is the new one: before, it
# went on taking the new drops into the old state (archive, state.db,
# outbox gone or moved away), where no later run saw them, and a second
# daemon could start on the new state_dir beside it. Now it sees the
# state_dir it opened is gone, logs state_dir_replaced, takes nothing
# more and exits 4 (systemd restarts it on the new one); the drops wait
# in landing for that restart, which delivers each once.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/run-lib.sh"
t_tmpdir
trap 'run_cleanup; rm -rf "$T_TMP"' EXIT
S=$T_TMP/state L=$T_TMP/state/landing O=$T_TMP/out
mkdir -p "$L"
run_conf "$T_TMP/t.conf" "$S" "$O"
delivered() { run_delivered "$O" "$1"; }
# the new state_dir, made as a provisioning script would (as tradedrop
# makes it)
layout() { mkdir -p "$L" "$S/work" "$S/outbox" "$S/dlq" "$S/quarantine"; }
gone() { ! kill -0 "$RUN_PID" 2> /dev/null; }
# stopped: wait for the daemon to exit by itself; RUN_RC its status. It
# looks every 2 s; an older one went on, and at its next full rescan of
# landing (every 60 s) took the new drops into the old state: 70 s
stopped() {
	if wait_until 70 gone; then
		wait "$RUN_PID"; RUN_RC=$?
	else
		RUN_RC=running
		run_stop
	fi
	RUN_PID=
}

# 1. moved away, and a new one made: nothing in landing's watch says so
run_start "$T_TMP/t.conf" "$T_TMP/log1" || t_skip_all "run did not start"
run_drop "$L" a.csv 2
t_ok "$(wait_until 10 delivered 1; echo $?)" "moved: a.csv delivered before"
mv "$S" "$T_TMP/old"
layout
run_drop "$L" b.csv 2
stopped
t_is "$RUN_RC" 4 "moved: the daemon stops by itself, exit 4"
t_grep "$T_TMP/log1" "event=state_dir_replaced dir=$S " "moved: it says why, naming state_dir"
t_ok "$(test -f "$L/b.csv"; echo $?)" "moved: b.csv waits in the new landing, not taken"
t_is "$(grep -rl 'b\.csv' "$T_TMP/old" 2> /dev/null | wc -l)" 0 \
    "moved: nothing of b.csv went into the old state"
t_is "$(ls "$O"/*/manifest.json | wc -l)" 1 "moved: b.csv not delivered from the old state"
run_start "$T_TMP/t.conf" "$T_TMP/log2" || t_skip_all "run did not start again"
t_ok "$(wait_until 10 delivered 2; echo $?)" "moved: the restart on the new state_dir delivers b.csv"

# 2. removed while it runs, made again later
rm -rf "$S"
sleep 0.5
layout
run_drop "$L" c.csv 2
stopped
t_is "$RUN_RC" 4 "removed: the daemon stops by itself, exit 4"
t_grep "$T_TMP/log2" "event=state_dir_replaced dir=$S " "removed: it says why"
t_ok "$(test -f "$L/c.csv"; echo $?)" "removed: c.csv waits in landing, not taken"
run_start "$T_TMP/t.conf" "$T_TMP/log3" || t_skip_all "run did not start a third time"
t_ok "$(wait_until 10 delivered 3; echo $?)" "removed: the restart delivers c.csv"
run_stop
t_is "$RUN_RC" 0 "the last daemon exits 0"
t_is "$(ls "$O"/*/manifest.json | wc -l)" 3 "each drop delivered once: 3 manifests"
t_is "$(cat "$O"/*/batch-*.ndjson* 2> /dev/null | gzip -dcf | wc -l)" 6 \
    "6 records at the receiver, none twice"
"$TRADEDROP" audit -c "$T_TMP/t.conf" verify > "$T_TMP/av" 2>&1
t_is $? 0 "the new state_dir's audit chain verifies"
t_done
