#!/bin/sh
# quarantine-kill.sh - a quarantine decision killed after its commit,
# before it tidied up, leaves nothing stale for good: a release killed
# after a drop that never committed left that drop's decision.json,
# reason.json and dead-letter samples in the archive entry of a
# transmission it then delivered (decision "dropped" of a delivered
# file); a drop killed after its commit left the quarantine entry, its
# samples and raw copy, of a dropped transmission, which nothing removed.
. "$srcdir/tests/lib/common.sh"
command -v strace > /dev/null || t_skip_all "strace not installed"
t_tmpdir
S=$T_TMP/state O=$T_TMP/out
. "$srcdir/tests/lib/delivery-lib.sh"
dl_conf td "$S" "file://$O"
sed -i 's/^\[integration\]$/[integration]\nmax_reject_ratio = 0.25/' "$T_TMP/td.conf"
sed 's/gtin = column "UPC" gtin$/gtin = column "UPC" gtin nocheck/' "$T_TMP/td.conf" > "$T_TMP/fix.conf"
chmod 600 "$T_TMP/td.conf" "$T_TMP/fix.conf"
# kill PATH CMD...: CMD, killed as it first opens PATH
kill_at_open() {
	_p=$1; shift
	ASAN_OPTIONS=$T_ASAN_NOLEAKS strace -f -qq -o /dev/null -P "$_p" \
	    -e trace=open,openat -e inject=open,openat:signal=KILL "$@" > /dev/null 2>&1
}
state() { sqlite3 "$S/state.db" "SELECT state FROM transmissions WHERE id = '$1'"; }

# 1: a drop killed before its commit, then a release killed after its
# commit, before it removed the quarantine entry and what the drop left
printf 'Store,UPC,Date,Units\n1,04100000123,2026-11-20,18\n2,07800000789,2026-11-20,32\n' > "$S/landing/q.csv"
"$TRADEDROP" once -c "$T_TMP/td.conf" 2> "$T_TMP/log1"
t_is $? 1 "q.csv: quarantined"
Q=$(sha256sum "$S"/archive/*/*/*/raw/q.csv | cut -c1-64)
A=$(ls -d "$S"/archive/*/*/"$Q")
t_is "$(wc -l < "$S/quarantine/$Q/dead-letters.ndjson")" 2 "q.csv: its 2 dead letters as samples"
TD_FAILPOINT=audit_appended "$TRADEDROP" quarantine -c "$T_TMP/td.conf" drop "$Q" \
    --reason "not ours" > /dev/null 2> "$T_TMP/log2"
t_is $? 137 "q.csv: the drop is killed before its commit"
t_is "$(ls "$A" | tr '\n' ' ')" "dead-letters.ndjson decision.json raw reason.json " \
	"q.csv: the uncommitted drop's files in the archive entry"
kill_at_open "$S/quarantine/$Q" "$TRADEDROP" quarantine -c "$T_TMP/fix.conf" release "$Q"
t_is "$(state "$Q")" received "q.csv: the release is killed after its commit"
"$TRADEDROP" once -c "$T_TMP/fix.conf" 2> "$T_TMP/log3"
t_is $? 0 "q.csv: delivered by the next run"
t_is "$(state "$Q")" delivered "q.csv: delivered"
t_is "$(ls "$A" | tr '\n' ' ')" "manifest.json raw records " \
	"q.csv: no decision, reason or samples of the drop that never was beside the delivered file"
t_ok "$([ ! -e "$S/quarantine/$Q" ]; echo $?)" "q.csv: no quarantine entry"

# 2: a drop killed after its commit, before it removed the quarantine entry
printf 'Store,UPC,Date,Units\n3,04100000123,2026-11-20,18\n4,07800000789,2026-11-20,32\n' > "$S/landing/d.csv"
"$TRADEDROP" once -c "$T_TMP/td.conf" 2> "$T_TMP/log4"
t_is $? 1 "d.csv: quarantined"
D=$(sha256sum "$S"/archive/*/*/*/raw/d.csv | cut -c1-64)
AD=$(ls -d "$S"/archive/*/*/"$D")
kill_at_open "$S/quarantine/$D" "$TRADEDROP" quarantine -c "$T_TMP/td.conf" drop "$D" --reason "not ours"
t_is "$(state "$D")" dropped "d.csv: the drop is killed after its commit"
t_is "$(ls "$AD" | tr '\n' ' ')" "dead-letters.ndjson decision.json raw reason.json " \
	"d.csv: its decision, reason and samples in the archive entry"
"$TRADEDROP" once -c "$T_TMP/td.conf" 2> "$T_TMP/log5"
t_is $? 0 "d.csv: the next run exits 0"
t_is "$(ls -A "$S/quarantine")" "" "d.csv: the next run left no quarantine entry of a dropped transmission"
t_is "$(ls "$AD" | tr '\n' ' ')" "dead-letters.ndjson decision.json raw reason.json " \
	"d.csv: the archive entry keeps its decision, reason and samples"

"$TRADEDROP" audit -c "$T_TMP/td.conf" verify > "$T_TMP/av" 2>&1
t_is $? 0 "the audit log verifies"
t_done
