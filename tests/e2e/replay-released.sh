#!/bin/sh
# replay-released.sh - a replay quarantined under one mapping (a column
# missing) and released under a fixed one was processed with that
# mapping: replaying the original under it again delivers nothing new,
# changing nothing (it made a second replay of the same mapping_version,
# whose batches share the first's Idempotency-Keys, and sent the
# receiver another manifest); --dry-run says so too.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
S=$T_TMP/state
mkdir -p "$S/landing"
. "$srcdir/tests/lib/delivery-lib.sh"
conf() { DL_QTY=$1 dl_conf td "$S" "file://$T_TMP/out"; }
conf Units
printf 'Store,UPC,Date,Units,Units2\n2,041000001239,2026-11-20,4,4\n' > "$S/landing/d1.csv"
"$TRADEDROP" once -c "$T_TMP/td.conf" 2> "$T_TMP/log1"
T=$(sha256sum "$S"/archive/*/*/*/raw/d1.csv | cut -c1-64)
conf Units9	# no such column: the replay is quarantined
"$TRADEDROP" replay -c "$T_TMP/td.conf" "$T" > "$T_TMP/r1" 2>&1
t_is $? 1 "the replay under a mapping with a missing column is quarantined"
R=$(sqlite3 "$S/state.db" "SELECT id FROM transmissions WHERE replay_of IS NOT NULL")
conf Units2
"$TRADEDROP" quarantine -c "$T_TMP/td.conf" release "$R" > "$T_TMP/rel" 2>&1
t_is $? 0 "released under the fixed mapping: delivered"
N=$(ls "$T_TMP/out" | wc -l)
A=$(wc -l < "$S/audit.log")
"$TRADEDROP" replay -c "$T_TMP/td.conf" --dry-run "$T" > "$T_TMP/dry" 2>&1
t_grep "$T_TMP/dry" "was replayed under this mapping_version already, as $R" "--dry-run: replayed already, as the released replay"
"$TRADEDROP" replay -c "$T_TMP/td.conf" "$T" > "$T_TMP/r2" 2>&1
t_is $? 0 "replaying the original again under that mapping exits 0"
t_grep "$T_TMP/r2" "replayed under this mapping_version already, as $R" "and says it was replayed as the released replay"
t_is "$(sqlite3 "$S/state.db" "SELECT count(*) FROM transmissions WHERE replay_of IS NOT NULL")" 1 "no second replay in state.db"
t_is "$(ls "$T_TMP/out" | wc -l)" "$N" "nothing more delivered"
t_is "$(wc -l < "$S/audit.log")" "$A" "nothing audited"
"$TRADEDROP" audit -c "$T_TMP/td.conf" verify > "$T_TMP/av" 2>&1
t_is $? 0 "the audit log verifies"
t_done
