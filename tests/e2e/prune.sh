#!/bin/sh
# prune.sh - retention: `prune` removes the archive entries (and dead
# letters) of delivered transmissions received more than retain_days
# ago, audited; --dry-run only lists them; a quarantined file and a
# transmission with a held record are never pruned; a drop of a pruned
# file's bytes is still a duplicate, and Tier 4 still knows its keys.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
S=$T_TMP/state PY=/usr/bin/python3
. "$srcdir/tests/lib/delivery-lib.sh"
dl_conf t "$S" "file://$T_TMP/out" "[integration]" "retain_days = 30"
row() { echo "Store,UPC,Date,Units"; echo "$1,041000001239,2026-11-20,$2"; }
row 1 1 > "$S/landing/old.csv"		# delivered long ago: pruned
row 2 1 > "$S/landing/first.csv"		# restated below: still pruned
printf 'Store,UPC,Date,Qty\n3,041000001239,2026-11-20,1\n' > "$S/landing/quar.csv"
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log1"
t_is $? 1 "once: quar.csv quarantined"
row 2 5 > "$S/landing/restated.csv"	# held: never pruned
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log2"
t_is $? 1 "once: the restatement of store 2 is held"
row 4 1 > "$S/landing/new.csv"		# recent: kept
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log3"
tid() { sha256sum "$S"/archive/*/*/*/raw/"$1" 2>/dev/null | cut -c1-64; }
TO=$(tid old.csv) TF=$(tid first.csv) TQ=$(tid quar.csv) TR=$(tid restated.csv) TN=$(tid new.csv)
OLD=$(dirname "$(ls "$S"/archive/*/*/"$TO"/raw/old.csv)")/..
# all but new.csv were received 40 days ago
$PY - "$S/state.db" "$TN" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE transmissions SET received_at = ? WHERE id != ?", (int(time.time()) - 40 * 86400, sys.argv[2]))
db.commit()
PY

"$TRADEDROP" prune -c "$T_TMP/t.conf" --dry-run > "$T_TMP/dry" 2>&1
t_is $? 0 "prune --dry-run exits 0"
t_is "$(cut -d' ' -f1-3 "$T_TMP/dry" | sort)" "$(printf 'would prune %s\nwould prune %s' "$TO" "$TF" | sort)" \
	"dry run: the old delivered files (not the quarantined one, not the one with a held record, not the new one)"
t_ok "$([ -f "$OLD/raw/old.csv" ]; echo $?)" "dry run: nothing removed"
N=$(wc -l < "$S/audit.log")
"$TRADEDROP" prune -c "$T_TMP/t.conf" > "$T_TMP/p1" 2>&1
t_is $? 0 "prune exits 0"
t_is "$(wc -l < "$T_TMP/p1")" 2 "two transmissions pruned"
t_ok "$([ ! -e "$OLD" ]; echo $?)" "old.csv's archive entry is gone"
t_ok "$([ -f "$S/quarantine/$TQ/quar.csv" ] && ls "$S"/archive/*/*/"$TQ"/raw/quar.csv > /dev/null; echo $?)" "the quarantined file is kept"
t_ok "$(ls "$S"/archive/*/*/"$TR"/raw/restated.csv > /dev/null; echo $?)" "the file with a held record is kept"
t_ok "$(ls "$S"/archive/*/*/"$TN"/raw/new.csv > /dev/null; echo $?)" "the recent file is kept"
t_is "$(($(wc -l < "$S/audit.log") - N))" 2 "one audit line per pruned transmission"
t_grep "$S/audit.log" "\"event\":\"archive_pruned\",\"integration\":\"acme\",\"transmission_id\":\"$TO\",\"file\":\"old.csv\"" "audit: archive_pruned, with the file"
"$TRADEDROP" prune -c "$T_TMP/t.conf" > "$T_TMP/p2" 2>&1
t_is "$(cat "$T_TMP/p2")" "" "a second prune has nothing to do"
# what Tier 2 and Tier 4 need stays
row 1 1 > "$S/landing/old-again.csv"
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log4"
t_grep "$T_TMP/log4" "event=duplicate_transmission file=old-again.csv transmission_id=$TO" "the pruned file's bytes are still a duplicate"
printf 'Store,UPC,Date,Units\n1,041000001239,2026-11-20,1\n\n' > "$S/landing/old-same.csv"
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log5"
t_grep "$T_TMP/log5" "held=0 duplicate=1" "its record is still a duplicate_record"
"$TRADEDROP" audit -c "$T_TMP/t.conf" verify > "$T_TMP/av" 2>&1
t_is $? 0 "the audit log verifies"
t_done
