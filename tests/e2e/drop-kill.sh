#!/bin/sh
# drop-kill.sh - `quarantine drop` killed before its commit
# (TD_FAILPOINT=audit_appended) leaves the file quarantined and its
# quarantine entry whole: reason.json is still there for `quarantine
# show` and for the report of its rejections, which the next run sends
# when the output was down before (it moved reason.json into the
# archive, and the next run marked the report sent without sending it);
# a release then processes it with no decision.json left in its archive
# entry (it said "dropped" of a file delivered), and a drop again is
# whole. The audit log verifies after each step.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
trap 'chattr -R -i "$T_TMP" 2> /dev/null; rm -rf "$T_TMP"' EXIT
S=$T_TMP/state O=$T_TMP/out
mkdir -p "$S/landing" "$O"
. "$srcdir/tests/lib/delivery-lib.sh"
conf() { DL_QTY=$1 dl_conf td "$S" "file://$O"; }
verify() {
	"$TRADEDROP" audit -c "$T_TMP/td.conf" verify > "$T_TMP/av" 2>&1
	t_is $? 0 "$1: the audit log verifies"
}
conf Units
printf 'Store,UPC,Date,Qty\n2,041000001239,2026-11-20,4\n' > "$S/landing/q.csv"
# the output refuses writes while the file is quarantined: its report
# waits (root with chattr only)
DOWN=0
if chattr +i "$O" 2> /dev/null; then DOWN=1; fi
"$TRADEDROP" once -c "$T_TMP/td.conf" 2> "$T_TMP/log1"
Q=$(sha256sum "$S"/archive/*/*/*/raw/q.csv | cut -c1-64)
A=$(dirname "$(ls "$S"/archive/*/*/"$Q"/raw/q.csv)")/..
t_is "$("$TRADEDROP" quarantine -c "$T_TMP/td.conf" list | cut -d' ' -f1)" "$Q" "q.csv is quarantined"

TD_FAILPOINT=audit_appended "$TRADEDROP" quarantine -c "$T_TMP/td.conf" drop "$Q" \
    --reason "not ours" > /dev/null 2> "$T_TMP/log2"
t_is $? 137 "the drop is killed before its commit"
"$TRADEDROP" quarantine -c "$T_TMP/td.conf" show "$Q" > "$T_TMP/show"
t_grep "$T_TMP/show" "state: quarantined" "still quarantined"
t_grep "$T_TMP/show" 'reason: {"tier":2,"code":"schema_missing_column"' "its reason is still shown"
verify "after the killed drop"
if [ $DOWN -eq 1 ]; then
	chattr -i "$O"
	"$TRADEDROP" once -c "$T_TMP/td.conf" 2> "$T_TMP/log3"
	t_ok "$([ -f "$O/$Q/rejections.ndjson.gz" ]; echo $?)" "the output back: the report of its rejections is sent"
	t_is "$(gzip -dc "$O/$Q/rejections.ndjson.gz" | grep -c '"code":"schema_missing_column"')" 1 "with its code"
else
	t_ok 0 "# SKIP the output cannot be made to refuse writes (needs root and chattr)"
	t_ok 0 "# SKIP the output cannot be made to refuse writes (needs root and chattr)"
fi

# released with the mapping fixed: delivered, and nothing says dropped
conf Qty
"$TRADEDROP" quarantine -c "$T_TMP/td.conf" release "$Q" > "$T_TMP/rel" 2>&1
t_is $? 0 "released and delivered"
t_ok "$([ ! -e "$A/decision.json" ] && [ ! -e "$A/reason.json" ]; echo $?)" "no decision.json (nor reason.json) of the drop that never was in its archive entry"
t_is "$(gzip -dc "$O/$Q"/batch-*.ndjson.gz | grep -c '"quantity":"4"')" 1 "its record delivered"
verify "after the release"

# another quarantined file: a drop killed, then a drop again
printf 'Store,UPC,Date,Units\n3,041000001239,2026-11-20,4\n' > "$S/landing/q2.csv"
"$TRADEDROP" once -c "$T_TMP/td.conf" 2> "$T_TMP/log4"
Q2=$(sha256sum "$S"/archive/*/*/*/raw/q2.csv | cut -c1-64)
A2=$(dirname "$(ls "$S"/archive/*/*/"$Q2"/raw/q2.csv)")/..
TD_FAILPOINT=audit_appended "$TRADEDROP" quarantine -c "$T_TMP/td.conf" drop "$Q2" \
    --reason "first" > /dev/null 2> "$T_TMP/log5"
"$TRADEDROP" quarantine -c "$T_TMP/td.conf" drop "$Q2" --reason "second" > /dev/null 2>&1
t_is $? 0 "a drop again after the killed one"
t_grep "$A2/decision.json" '"reason":"second"' "its decision.json"
t_grep "$A2/reason.json" '"code":"schema_missing_column"' "and its reason.json, in the archive"
t_ok "$([ ! -e "$S/quarantine/$Q2" ]; echo $?)" "its quarantine entry is removed"
verify "after the drop"
t_done
