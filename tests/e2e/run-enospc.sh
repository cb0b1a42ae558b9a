#!/bin/sh
# run-enospc.sh - a full disk under a running daemon. state_dir is a tmpfs
# in a private mount namespace, the landing directory on another file
# system (so that a claim copies the file); a filler file leaves just
# enough space for one drop to fail, in turn, at each step that writes:
#   A  the claim (the copy into work/),
#   B  the outbox (batches and the records file),
#   C  the SQLite commit that records it processed (the WAL must grow),
# each time checked by the line the daemon logs (with the path), the
# daemon running on, paused (taking nothing new), the file never lost nor
# half taken: in landing until its copy is durable, then archived and
# processed again from the start. With space back, it and the drops that
# waited are delivered exactly once, records as an undisturbed `try`
# makes them, `audit verify` and `PRAGMA integrity_check` pass.
# TD_ENOSPC_ROWS (default 30000) sets the size of the drop: larger, each
# step is further apart from the next (and the test slower).
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/run-lib.sh"
. "$srcdir/tests/lib/localfaults-lib.sh"
lf_mount_ns "$@"
command -v fallocate > /dev/null || t_skip_all "fallocate not installed"
command -v sqlite3 > /dev/null || t_skip_all "sqlite3 not installed"
t_tmpdir
trap 'run_cleanup; umount -l "$T_TMP"/ref "$T_TMP"/s1 2>/dev/null; rm -rf "$T_TMP"' EXIT
ROWS=${TD_ENOSPC_ROWS:-30000}

# kB: the space a file or tree takes
kb() { du -sk "$@" | awk '{ n += $1 } END { print n + 0 }'; }
avail() { df -k --output=avail "$S" | tail -1 | tr -d ' '; }
# leave KB: shrink (never grow, once made) the filler so that KB are free
leave() {
	_have=$(( $(stat -c %s "$S/filler" 2>/dev/null || echo 0) / 1024 ))
	_want=$(( $(avail) + _have - $1 ))
	[ "$_want" -lt 0 ] && _want=0
	if [ -f "$S/filler" ]; then
		truncate -s "${_want}K" "$S/filler"
	else
		fallocate -l "${_want}K" "$S/filler"
	fi
}

# --------------------------------- what one processing of big.csv needs
lf_setup 1 "[integration]" "landing_dir = $T_TMP/land"
L=$T_TMP/land
mkdir -p "$L" "$T_TMP/ref"
run_drop "$T_TMP" big.csv "$ROWS"
mv "$T_TMP/big.csv" "$T_TMP/big.ref"
mount -t tmpfs -o size=64m tmpfs "$T_TMP/ref" || t_skip_all "cannot mount a tmpfs"
sed -e "s|^state_dir = .*|state_dir = $T_TMP/ref|" \
    -e "s|^landing_dir = .*|landing_dir = $T_TMP/ref/landing|" \
    -e "s|^url = .*|url = https://127.0.0.1:1/unreachable|" "$CONF" > "$T_TMP/ref.conf"
"$TRADEDROP" once -c "$T_TMP/ref.conf" 2> /dev/null
db0=$(kb "$T_TMP/ref/state.db")
cp "$T_TMP/big.ref" "$T_TMP/ref/landing/big.csv"
"$TRADEDROP" once -c "$T_TMP/ref.conf" 2> "$T_TMP/ref.log"
t_is $? 3 "reference: processed, not delivered (the reconciler is unreachable)"
RAW=$(kb "$T_TMP/big.ref")
# (the archive's records are links to the outbox batches: no more room)
STAGE=$(kb "$T_TMP/ref/outbox")
WAL=$(( $(kb "$T_TMP/ref/state.db") - db0 ))
echo "# big.csv: $RAW kB; its outbox and records: $STAGE kB; state.db grows $WAL kB"
umount "$T_TMP/ref"
t_ok "$([ "$WAL" -ge 600 ] && [ "$STAGE" -ge 600 ]; echo $?)" "each step needs enough room to be told apart"

mkdir -p "$S"
mount -t tmpfs -o size=64m tmpfs "$S" || t_skip_all "cannot mount a tmpfs"
run_start "$CONF" "$LOG" || t_skip_all "run did not start"
alive() { t_ok "$(kill -0 "$RUN_PID"; echo $?)" "$1: the daemon runs on"; }
state() { sqlite3 "$S/state.db" "SELECT state FROM transmissions WHERE name = 'big.csv'" 2>&1; }

# A: the claim's copy does not fit
leave $(( RAW / 2 ))
m=$(lf_mark "$LOG")
cp "$T_TMP/big.ref" "$T_TMP/big.tmp" && mv "$T_TMP/big.tmp" "$L/big.csv"
lf_logged 60 "$LOG" "$m" 'event=intake_paused reason=disk_full'
t_ok $? "A: a full disk during the claim pauses intake"
t_ok "$(lf_after "$LOG" "$m" | grep -q "event=claim_failed file=big.csv dir=$S/work error=\"no space left on device\""; echo $?)" \
	"A: the failed claim is logged with the file, the directory and the error"
alive A
t_ok "$(cmp -s "$L/big.csv" "$T_TMP/big.ref"; echo $?)" "A: big.csv is still in landing, whole"
t_is "$(find "$S/work" -mindepth 1 | wc -l)" 0 "A: nothing half copied left in work/"
t_is "$(state)" "" "A: nothing recorded"

# B: the claim fits, the outbox does not
leave $(( RAW + STAGE / 4 ))
m=$(lf_mark "$LOG")
run_drop "$L" t1.csv 1
lf_logged 60 "$LOG" "$m" 'event=intake_paused reason=disk_full'
t_ok $? "B: a full disk while writing the outbox pauses intake"
# the delivery that follows a received file asks for a second pass,
# which fails the same way: wait for it before looking
wait_until 60 sh -c "[ \$(tail -n +$((m + 1)) '$LOG' | grep -c 'event=intake_paused') -ge 2 ]"
t_ok "$(lf_after "$LOG" "$m" | grep -qE "event=outbox_write_failed path=$S/outbox/[0-9a-f]{64}\.tmp/batch-[0-9]{6}\.ndjson\.gz error=\"no space left on device\""; echo $?)" \
	"B: the failed write is logged with its path"
alive B
t_is "$(ls "$L")" "t1.csv" "B: big.csv left landing only once its copy was durable; the next drop waits"
t_ok "$(cmp -s "$S"/archive/*/*/*/raw/big.csv "$T_TMP/big.ref"; echo $?)" "B: its raw copy is archived, whole"
t_is "$(state)" "received" "B: it waits, received, to be processed again"
t_is "$(find "$S/outbox" "$S/work" -mindepth 1 | wc -l)" 0 "B: no partial outbox left"

# C: the outbox fits, the SQLite commit does not
leave $(( STAGE + WAL / 2 ))
m=$(lf_mark "$LOG")
run_drop "$L" t2.csv 1
lf_logged 60 "$LOG" "$m" 'event=intake_paused reason=disk_full'
t_ok $? "C: a full disk at the commit pauses intake"
t_ok "$(lf_after "$LOG" "$m" | grep -q "event=store_error db=$S/state.db error=\"database or disk is full\""; echo $?)" \
	"C: the failed commit is logged with the database"
t_is "$(lf_count "$LOG" "$m" 'event=file_parsed file=big.csv')" 0 "C: big.csv is not recorded processed"
alive C
t_is "$(state)" "received" "C: it still waits, received"
t_is "$(find "$S/outbox" -mindepth 1 | wc -l)" 0 "C: what the failed commit staged is removed"
t_is "$(find "$S/archive" -name 'records*' | wc -l)" 0 "C: and the archive's records with it"
t_is "$(ls "$L" | tr '\n' ' ')" "t1.csv t2.csv " "C: the drops wait in landing"

# space back: the next drop wakes it, everything goes through once
truncate -s 0 "$S/filler"
run_drop "$L" t3.csv 1
t_ok "$(wait_until 120 run_delivered "$O" 4; echo $?)" "space back: big.csv and the three drops are delivered"
sleep 1
for f in big.csv t1.csv t2.csv t3.csv; do
	t_is "$(lf_tx "$O" $f | wc -w)" 1 "$f delivered once"
done
t=$(lf_tx "$O" big.csv)
mkdir "$T_TMP/try" && cp "$T_TMP/big.ref" "$T_TMP/try/big.csv"
t_is "$(lf_same_as_try "$CONF" "$O" "$t" "$T_TMP/try/big.csv")" ok "big.csv: every record, as try makes them"
t_is "$(grep -c 'event=duplicate_transmission' "$LOG")" 0 "no file taken twice"
t_is "$(ls "$L")" "" "landing is empty"
t_is "$(find "$S" -name '*.tmp' | wc -l)" 0 "no temporary file left"
run_stop
t_is "$RUN_RC" 0 "exit 0"
"$TRADEDROP" audit verify -c "$CONF" > "$T_TMP/verify.out" 2>&1
t_is $? 0 "audit verify passes"
t_is "$(sqlite3 "$S/state.db" 'PRAGMA integrity_check')" ok "PRAGMA integrity_check is ok"
t_is "$(sqlite3 "$S/state.db" "SELECT count(*) FROM transmissions WHERE state = 'delivered'")" 4 "four transmissions delivered in state.db"
umount "$S"
t_done
