#!/bin/sh
# x12.sh - format = x12: 852 and 867 into canonical records. Each data
# file's records, as `tradedrop try` prints them, are compared field by
# field with the expected ones written by hand under
# tests/data/x12/expected (a comment per field names its segment and
# element); every envelope fault and unsupported set is refused (Tier 2)
# with its code and the segment in reason.json; an 852 in a zip is read.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
D=$srcdir/tests/data/x12
C=$srcdir/../shared/corpus
S=$T_TMP/state
mkdir -p "$S/landing"
conf() {	# conf FILE [LINE...]: the integration, format = x12
	_f=$1; shift
	printf '[integration]\nname = acme\nstate_dir = %s\nmax_reject_ratio = 1\n[output]\nurl = file://%s/out\n[parse]\nformat = x12\n' \
	    "$S" "$T_TMP" > "$_f"
	for _l in "$@"; do printf '%s\n' "$_l" >> "$_f"; done
}
conf "$T_TMP/t.conf"
"$TRADEDROP" check -c "$T_TMP/t.conf" > /dev/null 2>&1
t_ok $? "check accepts format = x12"
# fields FILE: the records on stdin as the expected files write them
fields() {
	$PY -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    print("segment", r["source"]["segment"])
    for k in ("store_id", "retailer_item_id", "gtin", "txn_date",
              "period_start", "quantity", "uom", "amount"):
        print(k, "null" if r[k] is None else r[k])'
}
expected() { sed -e 's/[[:space:]]*#.*$//' -e '/^$/d' "$D/expected/$1"; }
# same NAME CONF FILE: try's records of FILE are those of expected/NAME.txt
same() {
	"$TRADEDROP" try -c "$2" "$3" 2> "$T_TMP/err" | fields > "$T_TMP/got"
	expected "$1.txt" > "$T_TMP/want"
	if cmp -s "$T_TMP/got" "$T_TMP/want"; then t_ok 0 "$1: the records a reading of it gives"
	else
		t_ok 1 "$1: the records a reading of it gives"
		diff "$T_TMP/want" "$T_TMP/got" | sed 's/^/#   /'
		sed 's/^/#   stderr: /' "$T_TMP/err"
	fi
}
same sdq-4010 "$T_TMP/t.conf" "$D/sdq-4010.x12"
same ui-5010 "$T_TMP/t.conf" "$D/ui-5010.x12"
same multi "$T_TMP/t.conf" "$D/multi.x12"
# An 852 whose XQ has XQ02 alone (a one-day period) and no CTT (optional
# in 4010): its last ZA is a record of that day like the others (made
# after SE ended the set, it was read as an 867's and had no date:
# empty_value, and the file quarantined past max_reject_ratio)
cat > "$T_TMP/lastza.x12" <<'X12'
ISA*00*          *00*          *ZZ*ACMERETAIL     *ZZ*CPGVENDOR      *261130*0600*U*00401*000000101*0*P*>~
GS*PD*ACMERETAIL*CPGVENDOR*20261130*0600*101*X*004010~
ST*852*0001~
XQ*G*20261128~
N1*RL*ACME*9*0012345678901~
LIN**UP*041000001239~
ZA*QS*5*EA~
LIN**UP*078000082401~
ZA*QS*7*EA~
SE*8*0001~
GE*1*101~
IEA*1*000000101~
X12
"$TRADEDROP" try -c "$T_TMP/t.conf" "$T_TMP/lastza.x12" 2> "$T_TMP/err" | fields > "$T_TMP/got"
t_is "$(grep -E '^(segment|gtin|txn_date|quantity) ' "$T_TMP/got" | tr '\n' ' ')" \
    "segment 7 gtin 00041000001239 txn_date 2026-11-28 quantity 5 segment 9 gtin 00078000082401 txn_date 2026-11-28 quantity 7 " \
    "852 with XQ02 alone and no CTT: its last ZA before SE is a record of that day"
t_is "$(grep -c 'tier 3' "$T_TMP/err")" 0 "and nothing is rejected"
# An 867 whose PTD loop has its own DTM*090/091 (4010 puts DTM there too):
# its records are of that period, not of BPT03, the report's date (which
# moved a week's sales into the next fiscal period)
cat > "$T_TMP/ptddtm.x12" <<'X12'
ISA*00*          *00*          *ZZ*ACMERETAIL     *ZZ*CPGVENDOR      *261130*0600*U*00401*000000101*0*P*>~
GS*PT*ACMERETAIL*CPGVENDOR*20261130*0600*101*X*004010~
ST*867*0001~
BPT*00*SR1*20261203*SR~
DTM*090*20261101~
DTM*091*20261107~
PTD*SS~
DTM*090*20261122~
DTM*091*20261128~
N1*ST*S42*92*0042~
QTY*39*12*EA~
LIN**UP*041000001239~
PTD*SS~
N1*ST*S43*92*0043~
QTY*39*3*EA~
LIN**UP*041000001239~
SE*15*0001~
GE*1*101~
IEA*1*000000101~
X12
"$TRADEDROP" try -c "$T_TMP/t.conf" "$T_TMP/ptddtm.x12" 2> "$T_TMP/err" | fields > "$T_TMP/got"
t_is "$(grep -E '^(store_id|txn_date|period_start|quantity) ' "$T_TMP/got" | tr '\n' ' ')" \
    "store_id 0042 txn_date 2026-11-28 period_start 2026-11-22 quantity 12 store_id 0043 txn_date 2026-11-07 period_start 2026-11-01 quantity 3 " \
    "867: a PTD loop's DTM*090/091 date its records; the next loop, without, the header's"
conf "$T_TMP/w.conf" '[decode]' 'encoding = windows-1252'
same cp1252-bom "$T_TMP/w.conf" "$D/cp1252-bom.x12"
"$TRADEDROP" try -c "$T_TMP/t.conf" "$D/cp1252-bom.x12" > /dev/null 2> "$T_TMP/err"
t_grep "$T_TMP/err" "tier 2 decode_invalid_utf8" \
    "cp1252-bom: with encoding = auto the BOM says UTF-8: refused"

# 11 digits under UP or EN are a code that lost a digit (a leading
# zero, to a spreadsheet): gtin_length, as the gtin transform says; only
# UI and UN are 11-digit bodies whose check digit is computed (ui-5010)
sed -e 's/LIN\*1\*UP\*041000001239/LIN*1*UP*41000001239/' \
    -e 's/LIN\*2\*EN\*4006381333931/LIN*2*EN*40063813339/' \
    "$D/sdq-4010.x12" > "$T_TMP/lost0.x12"
"$TRADEDROP" try -c "$T_TMP/t.conf" "$T_TMP/lost0.x12" > "$T_TMP/o" 2> "$T_TMP/err"
t_is "$(grep -c 'lost0.x12:8: tier 3 gtin_length: gtin: "41000001239"' "$T_TMP/err")" 3 \
    "UP of 11 digits: its three SDQ quantities are gtin_length, not another code"
t_is "$(grep -c 'lost0.x12:13: tier 3 gtin_length: gtin: "40063813339"' "$T_TMP/err")" 2 \
    "EN of 11 digits: its two SDQ quantities are gtin_length"
t_is "$(grep -c 'gtin nocheck\|gtin pad' "$T_TMP/err")" 0 \
    "no hint at gtin options, which X12's built-in mapping does not take"
t_is "$(fields < "$T_TMP/o" | grep -c '^gtin ')" 1 "only the UK item's record is left"

# a date of 7 digits is neither CCYYMMDD nor YYMMDD: "%Y%m%d" alone
# would read 2026118 as 2026-11-08 (or is it 01-18?): bad_date
sed 's/^XQ\*H\*20261122\*20261128~/XQ*H*20261122*2026118~/' \
    "$D/sdq-4010.x12" > "$T_TMP/date7.x12"
"$TRADEDROP" try -c "$T_TMP/t.conf" "$T_TMP/date7.x12" > "$T_TMP/o" 2> "$T_TMP/err"
t_is "$(grep -c 'tier 3 bad_date: segment [0-9]*: txn_date "2026118" is not a date CCYYMMDD' "$T_TMP/err"):$(wc -c < "$T_TMP/o" | tr -d ' ')" \
    "6:0" "XQ03 of 7 digits: each of the six records is bad_date, none delivered"
# a row is named by its first fault in record order: no GTIN comes first
sed 's/^LIN\*3\*UK\*10041000001236\*SK\*99-5~/LIN*3*SK*99-5~/' "$T_TMP/date7.x12" > "$T_TMP/date7b.x12"
"$TRADEDROP" try -c "$T_TMP/t.conf" "$T_TMP/date7b.x12" > /dev/null 2> "$T_TMP/err"
t_grep "$T_TMP/err" 'date7b.x12:15: tier 3 unmapped_item:' \
    "XQ03 of 7 digits and a LIN without GTIN: unmapped_item, the item before the date"

# an 852 in a zip: the same records, member named
$PY -c '
import sys, zipfile
z = zipfile.ZipFile(sys.argv[2], "w"); z.write(sys.argv[1], "in/sdq.x12"); z.close()' \
    "$D/sdq-4010.x12" "$T_TMP/sdq.zip"
same sdq-4010 "$T_TMP/t.conf" "$T_TMP/sdq.zip"
"$TRADEDROP" try -c "$T_TMP/t.conf" "$T_TMP/sdq.zip" 2>/dev/null | head -1 > "$T_TMP/z"
t_grep "$T_TMP/z" '"member":"in/sdq.x12","segment":8}' "the zip member and segment in source"

# the corpus samples (CDDL, read in place)
if [ -d "$C/x12-867" ]; then
	same Example1 "$T_TMP/t.conf" "$C/x12-867/oopfactory-x12parser/Example1.txt"
	t_grep "$T_TMP/err" "Example1.txt:25: tier 3 empty_value: segment 25: store_id is empty" \
	    "Example1: the PTD loop without N1*ST is dead-lettered at its QTY"
	same Example2 "$T_TMP/t.conf" "$C/x12-867/oopfactory-x12parser/Example2.txt"
	"$TRADEDROP" try -c "$T_TMP/t.conf" "$C/x12-867/oopfactory-x12parser/Example3.txt" > "$T_TMP/o" 2> "$T_TMP/err"
	t_is "$?:$(wc -c < "$T_TMP/o" | tr -d ' ')" "0:0" "Example3: PTD*SU is not in x12_transfer: no record, no fault"
	H=$C/x12-852/oopfactory-x12parser
	"$TRADEDROP" try -c "$T_TMP/t.conf" "$H/hdexchange.txt" > /dev/null 2> "$T_TMP/err"
	t_grep "$T_TMP/err" 'tier 2 x12_control_mismatch: segment 23: IEA02 "000000002~" is not ISA13 "000000002"' \
	    "hdexchange: the stray ~ in IEA02 is a control mismatch"
	sed 's/~^/^/' "$H/hdexchange.txt" > "$T_TMP/hdexchange-fixed.txt"
	same hdexchange-fixed "$T_TMP/t.conf" "$T_TMP/hdexchange-fixed.txt"
	"$TRADEDROP" try -c "$T_TMP/t.conf" "$H/AftermarketExample.txt" > "$T_TMP/o" 2> "$T_TMP/err"
	t_is "$?:$(wc -c < "$T_TMP/o" | tr -d ' ')" "0:0" "AftermarketExample (003030): no ZA*QS, no record"
	conf "$T_TMP/a.conf" 'x12_activity = QA, QP, QO'
	"$TRADEDROP" try -c "$T_TMP/a.conf" "$H/AftermarketExample.txt" > /dev/null 2> "$T_TMP/err"
	t_is "$(grep -c 'tier 3 unmapped_item' "$T_TMP/err")" 4 \
	    "AftermarketExample with x12_activity = QA, QP, QO: 4 ZA, no GTIN in LIN (BP, VP)"
	t_grep "$T_TMP/err" 'segment 9: the LIN at segment 8 has no GTIN (UP, UI, UN, EN or UK); retailer item "54-P96A"' \
	    "the message names the LIN and the retailer item"
else
	echo "# SKIP corpus samples: $C absent"
fi

# Tier 2: every fault with its code, the segment in reason.json
printf '%s\n' \
    "bad-se-count x12_count_mismatch 9" \
    "bad-se-control x12_control_mismatch 9" \
    "bad-ge-count x12_count_mismatch 10" \
    "bad-ge-control x12_control_mismatch 10" \
    "bad-iea-count x12_count_mismatch 11" \
    "bad-iea-control x12_control_mismatch 11" \
    "bad-no-iea x12_envelope 11" \
    "bad-no-se x12_envelope 9" \
    "bad-isa-short x12_envelope 1" \
    "bad-mixed-850 x12_unsupported_set 10" \
    "bad-version x12_unsupported_version 3" \
    "bad-long-segment x12_segment_too_long 6" > "$T_TMP/faults"
while read -r f code seg; do cp "$D/$f.x12" "$S/landing/"; done < "$T_TMP/faults"
cp "$D/sdq-4010.x12" "$S/landing/"
"$TRADEDROP" once -c "$T_TMP/t.conf" > /dev/null 2>&1
t_is $? 1 "once: exit 1, something was quarantined"
reason() {
	_t=$(sha256sum "$D/$1.x12" | cut -c1-64)
	$PY -c "import json; r=json.load(open('$S/quarantine/$_t/reason.json')); print(r['tier'], r['code'], r['detail']['segment'])" 2>&1
}
while read -r f code seg; do
	t_is "$(reason "$f")" "2 $code $seg" "$f: Tier 2 $code at segment $seg"
done < "$T_TMP/faults"
t=$(sha256sum "$D/sdq-4010.x12" | cut -c1-64)
t_is "$(gzip -dc "$T_TMP/out/$t"/batch-*.gz | wc -l | tr -d ' ')" 6 "the good 852 beside them: 6 records delivered"
# nothing of a refused file reached the receiver
t=$(sha256sum "$D/bad-mixed-850.x12" | cut -c1-64)
t_is "$(ls "$T_TMP/out/$t")" "rejections.ndjson.gz" "bad-mixed-850: its 852 set is not delivered either"
# an X12 record's dead letter names its segment, as the records' source
# does (it said "line" for the segment's ordinal)
cp "$T_TMP/lost0.x12" "$S/landing/"
"$TRADEDROP" once -c "$T_TMP/t.conf" > /dev/null 2>&1
t=$(sha256sum "$T_TMP/lost0.x12" | cut -c1-64)
t_is "$($PY -c "
import json, sys
print(sorted((r['code'], r['source']['segment'], 'line' in r['source']) for r in map(json.loads, open(sys.argv[1]))))" "$S/dlq/$t.ndjson" 2>&1)" \
    "[('gtin_length', 8, False), ('gtin_length', 8, False), ('gtin_length', 8, False), ('gtin_length', 13, False), ('gtin_length', 13, False)]" \
    "X12 dead letters: each names its segment, not a line"

# the envelope corpus and other sets: each classified, never a crash
if [ -d "$C/x12-envelope" ]; then
	for f in "$C"/x12-envelope/*/* "$C"/x12-other/*/*; do
		"$TRADEDROP" try -c "$T_TMP/t.conf" "$f" > /dev/null 2> "$T_TMP/err"
		rc=$?
		code=$(sed -n 's/.*: tier 2 \([a-z0-9_]*\):.*/\1/p' "$T_TMP/err" | head -1)
		case "$rc:$code" in
		1:x12_envelope|1:x12_unsupported_set|1:x12_unsupported_version|1:x12_segment_too_long|1:x12_control_mismatch|1:x12_count_mismatch)
			t_ok 0 "$(basename "$f"): refused, $code" ;;
		*)	t_ok 1 "$(basename "$f"): rc $rc code '$code'"
			sed 's/^/#   /' "$T_TMP/err" ;;
		esac
	done
fi

# the manifest of an X12 drop: format x12, and the 852 quantities of ZA
# codes not in x12_activity counted by code (its SDQ pairs, or one)
skipped() {	# skipped NAME [LINE...]: once on NAME.x12 alone; its manifest
	_n=$1; shift
	rm -rf "$S" "$T_TMP/out"; mkdir -p "$S/landing"
	conf "$T_TMP/s.conf" "$@"
	cp "$D/$_n.x12" "$S/landing/"
	"$TRADEDROP" once -c "$T_TMP/s.conf" > /dev/null 2>&1
	cat "$T_TMP"/out/*/manifest.json > "$T_TMP/man" 2> /dev/null
}
skipped sdq-4010
t_grep "$T_TMP/man" '"format":"x12"' "sdq-4010: the manifest says format x12"
t_grep "$T_TMP/man" '"activity_skipped":{"QA":3}' \
    "sdq-4010: ZA*QA's three SDQ quantities counted as skipped"
t_grep "$T_TMP/man" '"counts":{"records":6,' "sdq-4010: the six QS quantities are records"
skipped ui-5010
t_grep "$T_TMP/man" '"activity_skipped":{"QO":1}' \
    "ui-5010: a ZA*QO without SDQ counts one"
skipped sdq-4010 '[parse]' 'x12_activity = QS, QA'
t_grep "$T_TMP/man" '"activity_skipped":{}' "x12_activity = QS, QA: nothing skipped"
t_grep "$T_TMP/man" '"counts":{"records":9,' "x12_activity = QS, QA: nine records"
t_done
