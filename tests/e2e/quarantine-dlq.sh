#!/bin/sh
# quarantine-dlq.sh - the dead letters of a quarantined file are bounded:
# a file of 5,000 rows, every one rejected (the mapping reads its 11-digit
# UPCs without `gtin nocheck`), goes to the quarantine with its first 100
# dead letters as samples beside reason.json, which counts them all by
# code; nothing of it is kept in dlq/ or reaches the receiver but the
# Tier 2 reason; status and the audit log count its rows quarantined, not
# dead-lettered. Released after the mapping is fixed, it delivers its good
# rows and dlq/ holds every dead letter of its bad ones.
. "$srcdir/tests/lib/common.sh"
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
t_tmpdir
. "$srcdir/tests/lib/delivery-lib.sh"

S=$T_TMP/state
dl_conf t "$S" "file://$T_TMP/out"
sed -i 's/^\[integration\]$/[integration]\nmax_reject_ratio = 0.05/' "$T_TMP/t.conf"
chmod 600 "$T_TMP/t.conf"
# 5000 rows of UPC-A codes without their check digit; 125 of them (rows
# 3, 43, 83, ...: more than the samples kept, fewer than 5%) with a date
# no mapping reads
$PY - "$T_TMP/all.csv" <<'PY'
import random, sys
r = random.Random(7)
with open(sys.argv[1], "w") as f:
    f.write("Store,UPC,Date,Units\n")
    for i in range(5000):
        upc = "".join(str(r.randrange(10)) for _ in range(11))
        d = "2026-13-45" if i % 40 == 3 else "2026-11-28"
        f.write("%d,%s,%s,%d\n" % (r.randrange(9999), upc, d, r.randrange(1, 50)))
PY
T=$(sha256sum "$T_TMP/all.csv" | cut -c1-64)
cp "$T_TMP/all.csv" "$S/landing/"
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log1"
t_is $? 1 "once exits 1: the file is quarantined"
t_grep "$T_TMP/log1" "event=file_quarantined file=all.csv transmission_id=$T tier=2 code=reject_ratio_exceeded message=\"5000 of 5000 rows rejected, more than max_reject_ratio 0.05\" rejections=gtin_length:5000" \
	"log: quarantined, the rejections by code"
t_grep "$T_TMP/log1" "quarantined=1 delivered=0 records=0 dlq=0 " \
	"once summary: quarantined, nothing dead-lettered"
t_grep "$T_TMP/log1" " exit=1 rejections=gtin_length:5000" \
	"once summary: the rejections by code"

# on disk: the samples, nothing in dlq/
Q=$S/quarantine/$T
t_is "$(wc -l < "$Q/dead-letters.ndjson")" 100 \
	"the quarantine keeps the first 100 dead letters as samples"
t_is "$($PY -c '
import json, sys
ls = [json.loads(l) for l in open(sys.argv[1])]
print(" ".join(sorted({"%d:%s:%s" % (l["tier"], l["code"], l["transmission_id"] == sys.argv[2]) for l in ls})),
      [l["source"]["line"] for l in ls] == list(range(2, 102)))' "$Q/dead-letters.ndjson" "$T")" \
	"3:gtin_length:True True" "the samples: Tier 3 dead letters of lines 2 to 101, in order"
t_is "$(ls -A "$S/dlq")" "" "dlq/ holds nothing of the quarantined file (no file, no staging copy)"
t_grep "$Q/reason.json" "\"records\":5000,\"rejected\":5000,\"rejections\":{\"gtin_length\":5000},\"dead_letters_kept\":100,\"counts\":{\"records\":5000,\"delivered\":0,\"dlq\":0,\"held\":0,\"duplicate\":0,\"quarantined\":5000}}" \
	"reason.json: every rejection counted by code, the samples kept, every row quarantined"

"$TRADEDROP" quarantine -c "$T_TMP/t.conf" list > "$T_TMP/list" 2>&1
t_grep "$T_TMP/list" "$T" "list: the file"
t_grep "$T_TMP/list" "reject_ratio_exceeded rows=5000 rejected=5000 file=all.csv: 5000 of 5000 rows rejected" \
	"list: its code, rows read and rejected"
"$TRADEDROP" quarantine -c "$T_TMP/t.conf" show "$T" > "$T_TMP/show" 2>&1
t_grep "$T_TMP/show" '"rejections":{"gtin_length":5000},"dead_letters_kept":100' "show: the reason with the counts by code"
t_grep "$T_TMP/show" "dead letters: the first 100, as samples (the rejections above count them all; a release writes them all to dlq/): $Q/dead-letters.ndjson" \
	"show: where the samples are, and how many"

# the receiver: the Tier 2 reason, nothing else
t_is "$(cd "$T_TMP/out/$T" && ls)" "rejections.ndjson.gz" \
	"receiver: only the rejection report, no batch, no manifest"
t_is "$(zcat "$T_TMP/out/$T/rejections.ndjson.gz" | $PY -c '
import json, sys
print(" ".join("%d:%s:%d" % (l["tier"], l["code"], l["counts"]["dlq"]) for l in map(json.loads, sys.stdin)))')" \
	"2:reject_ratio_exceeded:0" "receiver: the report is the Tier 2 reason alone, no Tier 3 line"
t_is "$(zcat "$T_TMP/out/$T/rejections.ndjson.gz" | $PY -c '
import json, sys
l = json.loads(sys.stdin.readline())
print(l["records"], l["rejected"], l["rejections"], l["dead_letters_kept"], l["counts"]["quarantined"])')" \
	"5000 5000 {'gtin_length': 5000} 100 5000" \
	"receiver: the bad rows in rejected (by code), the samples kept, every row quarantined (tradedrop-protocol(7))"

# the counts say what is on disk
"$TRADEDROP" status -c "$T_TMP/t.conf" --json > "$T_TMP/st1" 2>&1
t_grep "$T_TMP/st1" '"records":{"in":5000,"delivered":0,"pending":0,"dlq":0,"held":0,"duplicate":0,"quarantined":5000,"summed":0}' \
	"status: the rows quarantined, none dead-lettered"
t_grep "$S/audit.log" "\"event\":\"transmission_quarantined\",\"integration\":\"acme\",\"transmission_id\":\"$T\",\"tier\":2,\"code\":\"reject_ratio_exceeded\",\"message\":\"5000 of 5000 rows rejected, more than max_reject_ratio 0.05\",\"records\":5000,\"delivered\":0,\"dlq\":0,\"held\":0,\"duplicate\":0,\"quarantined\":5000,\"rejected\":5000,\"rejections\":{\"gtin_length\":5000},\"dead_letters_kept\":100," \
	"audit: quarantined with the counts, the rejections and the samples kept"
t_is "$(grep -c '"event":"records_dead_lettered"' "$S/audit.log")" 0 \
	"audit: no row dead-lettered"

# the mapping fixed, released: the good rows delivered, every bad one in dlq/
sed -i 's/gtin = column "UPC" gtin$/gtin = column "UPC" gtin nocheck/' "$T_TMP/t.conf"
"$TRADEDROP" quarantine -c "$T_TMP/t.conf" release "$T" > "$T_TMP/rel" 2> "$T_TMP/rel.log"
t_is $? 1 "release: delivered, rows dead-lettered (exit 1)"
t_grep "$T_TMP/rel" "released: delivered" "release: delivered"
t_is "$(zcat "$T_TMP/out/$T"/batch-*.ndjson.gz | wc -l)" 4875 "receiver: the 4875 good records"
t_grep "$T_TMP/out/$T/manifest.json" '"counts":{"records":5000,"delivered":4875,"dlq":125,"held":0,"duplicate":0}' \
	"manifest: 5000 in, 4875 delivered, 125 dead-lettered"
t_is "$($PY -c '
import json, sys
ls = [json.loads(l) for l in open(sys.argv[1])]
print(len(ls), {l["code"] for l in ls} == {"bad_date"},
      [l["source"]["line"] for l in ls] == [i + 2 for i in range(5000) if i % 40 == 3])' "$S/dlq/$T.ndjson")" \
	"125 True True" "dlq/: the full dead letters of the released file, each bad row once, in order"
t_is "$(zcat "$T_TMP/out/$T/rejections.ndjson.gz" | cmp - "$S/dlq/$T.ndjson" && echo same)" same \
	"receiver: the released file's report is its dead letters, all of them"
t_is "$(ls -A "$S/quarantine")" "" "the quarantine entry and its samples are gone"
"$TRADEDROP" status -c "$T_TMP/t.conf" --json > "$T_TMP/st2" 2>&1
t_grep "$T_TMP/st2" '"records":{"in":5000,"delivered":4875,"pending":0,"dlq":125,"held":0,"duplicate":0,"quarantined":0,"summed":0}' \
	"status: after the release, the dead letters in dlq/"
t_is "$(grep '"event":"records_dead_lettered"' "$S/audit.log" | grep -c "\"transmission_id\":\"$T\",\"tier\":3,\"count\":125,\"by_code\":{\"bad_date\":125}")" 1 \
	"audit: the 125 dead-lettered once, by the release"

# samples are whole lines within 1 MiB: rows of 16 KiB keep fewer than 100
$PY - "$S/landing/wide.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("Store,UPC,Date,Units,Note\n")
    for i in range(200):
        f.write("%d,0410000012,2026-11-28,1,%s\n" % (i, "x" * 16384))
PY
TW=$(sha256sum "$S/landing/wide.csv" | cut -c1-64)
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log3"
t_is $? 1 "wide: quarantined"
QW=$S/quarantine/$TW/dead-letters.ndjson
NW=$(wc -l < "$QW")
t_ok "$([ "$NW" -ge 50 ] && [ "$NW" -lt 100 ] && [ "$(stat -c %s "$QW")" -le 1048576 ] && tail -c 1 "$QW" | od -An -c | grep -q '\\n'; echo $?)" \
	"wide: $NW whole samples, within 1 MiB"
t_grep "$S/quarantine/$TW/reason.json" "\"rejected\":200,\"rejections\":{\"gtin_length\":200},\"dead_letters_kept\":$NW," \
	"wide: reason.json says how many were kept"
t_is "$(ls -A "$S/dlq")" "$T.ndjson" "wide: nothing of it in dlq/"
# dropped: the samples stay in the archive with reason.json
"$TRADEDROP" quarantine -c "$T_TMP/t.conf" drop "$TW" --reason "test" > /dev/null 2>&1
t_is $? 0 "wide: dropped"
AW=$(ls -d "$S"/archive/*/*/"$TW")
t_is "$(ls "$AW" | tr '\n' ' ')" "dead-letters.ndjson decision.json raw reason.json " \
	"wide: its samples, decision and reason beside the raw file in the archive"
t_is "$(wc -l < "$AW/dead-letters.ndjson")" "$NW" "wide: every sample kept"
t_is "$(ls -A "$S/quarantine")" "" "wide: the quarantine entry is gone"

# the first bad row a record over max_record (its dead letter, with 1 MiB
# of raw text, is longer than all the room), then 5 short bad rows: the
# long one is passed over, the others are still kept
$PY - "$S/landing/long.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("Store,UPC,Date,Units\n")
    f.write("1,0410000012,2026-11-28,1," + ",".join(["y" * 60000] * 20) + "\n")
    for i in range(5):
        f.write("%d,0410000012,2026-11-28,1\n" % i)
PY
TL=$(sha256sum "$S/landing/long.csv" | cut -c1-64)
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log5"
t_is $? 1 "long: quarantined"
t_grep "$S/quarantine/$TL/reason.json" '"rejected":6,"rejections":{"gtin_length":5,"csv_record_too_long":1},"dead_letters_kept":5,' \
	"long: reason.json counts the 6 rejections, 5 samples kept"
t_is "$(grep -c '"code":"gtin_length"' "$S/quarantine/$TL/dead-letters.ndjson")" 5 \
	"long: the 5 short dead letters after the long one are the samples"

# quarantined by an older tradedrop, which kept its dead letters whole in
# dlq/, dropped by this one: they leave dlq/ for the archive with it
printf 'Store,UPC,Date,Units\n1,0410000012,2026-11-28,1\n2,0410000013,2026-11-28,2\n3,0410000014,2026-11-28,3\n' > "$S/landing/old.csv"
TO=$(sha256sum "$S/landing/old.csv" | cut -c1-64)
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log4"
t_is $? 1 "old: quarantined"
mv "$S/quarantine/$TO/dead-letters.ndjson" "$S/dlq/$TO.ndjson"
"$TRADEDROP" quarantine -c "$T_TMP/t.conf" drop "$TO" --reason "test" > /dev/null 2>&1
t_is $? 0 "old: dropped"
t_is "$(ls -A "$S/dlq")" "$T.ndjson" \
	"old: its dead-letter file is not left in dlq/ beside a dropped transmission"
AO=$(ls -d "$S"/archive/*/*/"$TO")
t_is "$(grep -c '"code":"gtin_length"' "$AO/dead-letters.ndjson")" 3 \
	"old: its dead letters, all 3, in the archive with its decision"

"$TRADEDROP" audit -c "$T_TMP/t.conf" verify > "$T_TMP/av" 2>&1
t_is $? 0 "the audit log verifies"
t_done
