#!/bin/sh
# audit-beside.sh - `audit verify` beside a running daemon: the daemon
# commits steps between the moment verify reads the head in state.db and
# the moment it reads audit.log, so that the lines after that head are
# of several committed steps; verify reads the head again and verifies
# the chain up to the new one, and passes (it said "lines were appended,
# or state.db is older than the log": a false alarm of tampering).
# Lines that do not continue the chain are still refused.
# TD_FAILPOINT=audit_head_loaded stops verify right after it read the
# head, for the daemon to commit meanwhile.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/run-lib.sh"
t_tmpdir
trap 'run_cleanup; [ -n "$AV_PID" ] && kill -KILL "$AV_PID" 2>/dev/null; rm -rf "$T_TMP"' EXIT
AV_PID=
S=$T_TMP/state L=$T_TMP/state/landing
mkdir -p "$L"
run_conf "$T_TMP/t.conf" "$S" "$T_TMP/out"
delivered() { run_delivered "$T_TMP/out" "$1"; }
stopped() { grep -q 'event=failpoint name=audit_head_loaded' "$T_TMP/av.err"; }

run_drop "$L" a.csv 2
run_start "$T_TMP/t.conf" "$T_TMP/log" || t_skip_all "run did not start"
t_ok "$(wait_until 10 delivered 1; echo $?)" "a.csv delivered"
TD_FAILPOINT=audit_head_loaded "$TRADEDROP" audit -c "$T_TMP/t.conf" verify \
    > "$T_TMP/av.out" 2> "$T_TMP/av.err" &
AV_PID=$!
t_ok "$(wait_until 10 stopped; echo $?)" "verify stopped after it read the head"
run_drop "$L" b.csv 2
run_drop "$L" c.csv 2
t_ok "$(wait_until 10 delivered 3; echo $?)" "b.csv and c.csv delivered meanwhile"
kill -CONT "$AV_PID"
wait "$AV_PID"; rc=$?; AV_PID=
t_is $rc 0 "verify passes: the chain holds up to the head state.db records now"
t_grep "$T_TMP/av.out" "verified; the chain ends at the head" "it says so"
run_stop
t_is "$RUN_RC" 0 "the daemon exits 0"
"$TRADEDROP" audit -c "$T_TMP/t.conf" verify > "$T_TMP/av2" 2>&1
t_is $? 0 "verify passes with the daemon stopped"
N=$(wc -l < "$S/audit.log")
tail -n 1 "$S/audit.log" | sed 's/"seq":[0-9]*/"seq":'"$((N + 1))"'/' >> "$S/audit.log"
"$TRADEDROP" audit -c "$T_TMP/t.conf" verify > "$T_TMP/av3" 2>&1
t_is $? 1 "a line appended that does not continue the chain is still refused"
t_grep "$T_TMP/av3" "audit.log:$((N + 1)): the lines after the head" "named by its line"
t_done
