#!/bin/sh
# attack4.sh - someone with write access to the archive replaces the raw
# file of a transmission with a FIFO: before its processing (after a
# crash left it received) and before `quarantine release`. Neither may
# block on it (which would hold the integration's lock for ever); each
# refuses the file, naming it, and exits.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
command -v timeout > /dev/null || t_skip_all "timeout (coreutils) not installed"
command -v mkfifo > /dev/null || t_skip_all "mkfifo not installed"

PY=/usr/bin/python3
. "$srcdir/tests/lib/delivery-lib.sh"
S=$T_TMP/state
dl_conf t "$S" "file://$T_TMP/out"
# a: its quantity column is called Qty (schema drift): quarantined
printf 'Store,UPC,Date,Qty\n1,041000001239,2026-11-20,3\n' > "$S/landing/a.csv"
TA=$(sha256sum "$S/landing/a.csv" | cut -c1-64)
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log1"
t_is $? 1 "a is quarantined"
RAW=$(ls "$S"/archive/*/*/"$TA"/raw/a.csv)
rm "$RAW"
mkfifo "$RAW"
sed -i 's/column "Units"/column "Qty"/' "$T_TMP/t.conf"
timeout 20 "$TRADEDROP" quarantine -c "$T_TMP/t.conf" release "$TA" > "$T_TMP/rel" 2>&1
RC=$?
t_ok "$([ $RC -ne 124 ] && [ $RC -ne 0 ]; echo $?)" "release of a FIFO does not block, and fails (exit $RC)"
t_grep "$T_TMP/rel" "$RAW: not a regular file" "release names the raw file"
"$TRADEDROP" quarantine -c "$T_TMP/t.conf" list > "$T_TMP/list" 2>&1
t_grep "$T_TMP/list" "$TA " "a is still quarantined"

# b: received and archived, then the run is killed before processing
S2=$T_TMP/state2
dl_conf u "$S2" "file://$T_TMP/out2"
printf 'Store,UPC,Date,Units\n1,041000001239,2026-11-20,3\n' > "$S2/landing/b.csv"
TB=$(sha256sum "$S2/landing/b.csv" | cut -c1-64)
TD_FAILPOINT=archived "$TRADEDROP" once -c "$T_TMP/u.conf" 2> "$T_TMP/log2"
t_grep "$T_TMP/log2" "event=failpoint name=archived" "killed with b archived, not processed"
RAW=$(ls "$S2"/archive/*/*/"$TB"/raw/b.csv)
rm "$RAW"
mkfifo "$RAW"
timeout 20 "$TRADEDROP" once -c "$T_TMP/u.conf" 2> "$T_TMP/log3"
RC=$?
t_ok "$([ $RC -ne 124 ]; echo $?)" "once does not block on a FIFO in the archive (exit $RC)"
t_grep "$T_TMP/log3" "event=archive_missing file=$RAW error=\"not a regular file\"" "once names the raw file"
t_is "$(ls "$T_TMP/out2" 2>/dev/null | wc -l)" 0 "nothing of b delivered"
t_done
