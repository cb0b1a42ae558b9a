#!/bin/sh
# run-wal.sh - the daemon's intake worker checkpoints the WAL itself, after
# each file whatever became of it (store_defer_checkpoints): 1,200 copies
# of a delivered file, each a duplicate that commits a few pages and
# reaches no delivery, leave state.db-wal near SQLite's threshold of
# 1,000 pages, not a WAL of every duplicate's pages (the WAL file keeps
# its largest size).  And the file itself goes on being delivered.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/run-lib.sh"
t_tmpdir
trap 'run_cleanup; rm -rf "$T_TMP"' EXIT
command -v sqlite3 > /dev/null || t_skip_all "sqlite3 not installed"

S=$T_TMP/state
L=$S/landing
N=1200
mkdir -p "$L" "$T_TMP/src"
run_conf "$T_TMP/t.conf" "$S" "$T_TMP/out"
run_start "$T_TMP/t.conf" "$T_TMP/log" || t_skip_all "run did not start"
printf 'Store Nbr,Week Ending,UPC,Units,Ticket\n7,11/28/2026,041000001239,3,w1\n' > "$T_TMP/src/first.csv"
mv "$T_TMP/src/first.csv" "$L/"
t_ok "$(wait_until 30 run_delivered "$T_TMP/out" 1; echo $?)" "the file is delivered"
i=1
while [ $i -le $N ]; do
	printf 'Store Nbr,Week Ending,UPC,Units,Ticket\n7,11/28/2026,041000001239,3,w1\n' > "$T_TMP/src/copy$i.csv"
	i=$((i + 1))
done
# all in one intake job (the loop stopped while they land), so that only
# the checkpoint after each file, not the one at the end of a job, can
# keep the WAL short
kill -STOP "$RUN_PID"
find "$T_TMP/src" -name '*.csv' -exec mv -t "$L" {} +
kill -CONT "$RUN_PID"
dups() { [ "$(grep -c 'event=duplicate_transmission' "$T_TMP/log")" -ge "$1" ]; }
t_ok "$(wait_until 300 dups $N; echo $?)" "its $N copies are taken as duplicates"
PG=$(sqlite3 "$S/state.db" 'PRAGMA page_size')
WAL=$(stat -c %s "$S/state.db-wal")
echo "# state.db-wal: $WAL bytes, pages of $PG bytes"
# 1,000 pages and what one file's commit adds past them; without the
# checkpoint after each file, ~3 to 4 pages a duplicate: over 3,000
t_ok "$([ "$WAL" -le $((2000 * PG)) ]; echo $?)" "state.db-wal stays under 2,000 pages ($WAL bytes)"
t_is "$(ls "$T_TMP/out" | wc -l)" 1 "one transmission delivered"
t_is "$(sqlite3 "$S/state.db" 'SELECT count(*) FROM duplicate_drops')" $N "each copy recorded as a duplicate drop"
run_stop
t_is "$RUN_RC" 0 "exit 0"
t_done
