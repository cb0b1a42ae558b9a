#!/bin/sh
# tier4.sh - the record_key ledger: a record delivered again with the
# same values is withheld (duplicate_record); with other values it is a
# restatement, held until `hold approve` (then delivered with `restates`)
# or `hold reject` (never delivered), or forwarded at once with
# on_restatement = forward; two rows of one file with one key are both
# dead-lettered (duplicate_key_in_file). Every count adds up: rows read =
# delivered + dead-lettered + held + duplicate, in the manifest, the audit
# log and status.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
S=$T_TMP/state PY=/usr/bin/python3
. "$srcdir/tests/lib/delivery-lib.sh"
dl_conf t "$S" "file://$T_TMP/out" "[integration]" "max_reject_ratio = 0.9"
drop() {	# NAME STORE,UNITS... : rows of one item, one day
	_n=$1; shift
	echo "Store,UPC,Date,Units" > "$S/landing/$_n"
	for _r in "$@"; do
		echo "${_r%%,*},041000001239,2026-11-20,${_r#*,}" >> "$S/landing/$_n"
	done
}
tid() { sha256sum "$S"/archive/*/*/*/raw/"$1" | cut -c1-64; }
recs() { gzip -dc "$T_TMP/out/$1"/batch-*.ndjson.gz; }
# counts: the manifest's, and that they add up to the rows read
counts() {
	$PY - "$T_TMP/out/$1/manifest.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["counts"]
ok = c["records"] == c["delivered"] + c["dlq"] + c["held"] + c["duplicate"]
print("%d=%d+%d+%d+%d %s" % (c["records"], c["delivered"], c["dlq"], c["held"], c["duplicate"], "adds-up" if ok else "DOES-NOT-ADD-UP"))
PY
}

drop d1.csv 1,3 2,4 3,5
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log1"
t_is $? 0 "d1: three new keys delivered"
T1=$(tid d1.csv)
R2=$(recs "$T1" | $PY -c 'import json,sys; print([r["record_id"] for r in map(json.loads, sys.stdin) if r["store_id"] == "2"][0])')

# d2: store 1 as before (duplicate), store 2 restated, store 4 new
drop d2.csv 1,3 2,9 4,1
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log2"
t_is $? 1 "d2: exit 1, a record is held"
T2=$(tid d2.csv)
t_is "$(recs "$T2" | grep -c '"store_id":"4"')" 1 "d2: the new record is delivered"
t_is "$(recs "$T2" | grep -c '"store_id":"[12]"')" 0 "d2: the duplicate and the restatement are not"
t_is "$(counts "$T2")" "3=1+0+1+1 adds-up" "d2 manifest: 3 rows = 1 delivered + 1 held + 1 duplicate"
t_grep "$S/audit.log" "\"event\":\"transmission_parsed\",\"integration\":\"acme\",\"transmission_id\":\"$T2\",\"records\":3,\"delivered\":1,\"dlq\":0,\"held\":1,\"duplicate\":1" "audit: the same counts"
t_grep "$S/audit.log" "\"event\":\"records_withheld\",\"integration\":\"acme\",\"transmission_id\":\"$T2\",\"tier\":4,\"code\":\"duplicate_record\",\"count\":1" "audit: duplicate_record withheld"
t_grep "$S/audit.log" "\"event\":\"records_held\",\"integration\":\"acme\",\"transmission_id\":\"$T2\",\"tier\":4,\"code\":\"restatement\",\"count\":1" "audit: restatement held"
t_grep "$T_TMP/log2" "records=1 dlq=0 batches=1 rows=3 held=1 duplicate=1" "log: the file's counts"
t_grep "$T_TMP/log2" "records=1 dlq=0 held=1 duplicate_records=1" "once summary: the same counts"
"$TRADEDROP" status -c "$T_TMP/t.conf" --json > "$T_TMP/st" 2>&1
t_grep "$T_TMP/st" '"records":{"in":6,"delivered":4,"pending":0,"dlq":0,"held":1,"duplicate":1,"quarantined":0,"summed":0}' "status: the same counts"

"$TRADEDROP" hold -c "$T_TMP/t.conf" list > "$T_TMP/hl" 2>&1
t_is $? 0 "hold list exits 0"
t_is "$(wc -l < "$T_TMP/hl")" 1 "one held record"
t_grep "$T_TMP/hl" "restatement restates=$R2 transmission_id=$T2 file=d2.csv" "it restates d1's record of store 2"
H=$(cut -d' ' -f1 "$T_TMP/hl")
"$TRADEDROP" hold -c "$T_TMP/t.conf" show "$H" > "$T_TMP/hs" 2>&1
t_grep "$T_TMP/hs" '"quantity":"9"' "hold show: the held record"
t_grep "$T_TMP/hs" "\`tradedrop hold -c $T_TMP/t.conf approve $H --reason TEXT\`" "hold show: the next step, with -c FILE"
"$TRADEDROP" hold -c "$T_TMP/t.conf" approve "$H" > /dev/null 2>&1
t_is $? 2 "approve without --reason is a usage error"
"$TRADEDROP" hold -c "$T_TMP/t.conf" approve "$H" --reason "store 2 recount, ticket FIN-42" > "$T_TMP/ha" 2>&1
t_is $? 0 "hold approve exits 0"
t_is "$(recs "$T2" | grep -c "\"store_id\":\"2\".*\"quantity\":\"9\".*\"restates\":\"$R2\"")" 1 "approved: delivered with restates = the earlier record_id"
t_is "$(counts "$T2")" "3=2+0+0+1 adds-up" "d2 manifest after approval: 2 delivered, 0 held"
# and its control totals and members are those of what was delivered
t_is "$(recs "$T2" | $PY -c '
import json, sys
from decimal import Decimal
m = json.load(open(sys.argv[1]))
q = sum(Decimal(json.loads(l)["quantity"]) for l in sys.stdin)
print(m["control_totals"]["quantity"], q, [x["delivered"] for x in m["members"]])' "$T_TMP/out/$T2/manifest.json")" \
    "10 10 [2]" "d2 manifest after approval: control totals and the member's count take the approved record in"
t_grep "$S/audit.log" "\"event\":\"hold_approved\",\"integration\":\"acme\",\"transmission_id\":\"$T2\",\"record_id\":\"$H\"" "audit: approved"
t_grep "$S/audit.log" '"reason":"store 2 recount, ticket FIN-42","by":' "audit: with the reason and who"
"$TRADEDROP" hold -c "$T_TMP/t.conf" approve "$H" --reason again > "$T_TMP/ha2" 2>&1
t_is $? 1 "a decided hold cannot be decided again"

# d3: store 3 restated, rejected: never delivered
drop d3.csv 3,7
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log3"
T3=$(tid d3.csv)
H3=$("$TRADEDROP" hold -c "$T_TMP/t.conf" list | cut -d' ' -f1)
"$TRADEDROP" hold -c "$T_TMP/t.conf" reject "$H3" --reason "duplicate feed" > "$T_TMP/hr" 2>&1
t_is $? 0 "hold reject exits 0"
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log3b"
t_is "$(recs "$T3" 2>/dev/null | grep -c '"store_id":"3"')" 0 "rejected: never delivered"
t_is "$(counts "$T3")" "1=0+0+1+0 adds-up" "d3 manifest: the rejected record stays counted as held"
t_grep "$S/audit.log" "\"event\":\"hold_rejected\",\"integration\":\"acme\",\"transmission_id\":\"$T3\",\"record_id\":\"$H3\"" "audit: rejected"
# after the approval the restated values are the ledger's: 2,9 again is a duplicate
drop d4.csv 2,9 5,1 5,2 6,1
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log4"
t_is $? 1 "d4: exit 1 (dead letters)"
T4=$(tid d4.csv)
t_is "$(counts "$T4")" "4=1+2+0+1 adds-up" "d4: the approved values are now a duplicate; two rows of store 5 dead-lettered"
t_is "$(grep -c '"code":"duplicate_key_in_file"' "$S/dlq/$T4.ndjson")" 2 "both rows of the key in dlq/ as duplicate_key_in_file"
t_grep "$S/dlq/$T4.ndjson" 'is on 2 rows of this file' "the message says how many rows"
t_grep "$S/audit.log" '"tier":3,"count":2,"by_code":{"duplicate_key_in_file":2}' "audit: dead-lettered by code"
t_is "$(recs "$T4" | grep -c '"store_id":"6"')" 1 "the rest of the file is delivered"

# on_restatement = forward
S2=$T_TMP/s2
dl_conf f "$S2" "file://$T_TMP/out2" "[integration]" "on_restatement = forward"
cp "$S"/archive/*/*/"$T1"/raw/d1.csv "$S2/landing/"
printf 'Store,UPC,Date,Units\n2,041000001239,2026-11-20,8\n' > "$S2/landing/e.csv"
"$TRADEDROP" once -c "$T_TMP/f.conf" 2> "$T_TMP/logf"
t_is $? 0 "forward: nothing held, exit 0"
TE=$(sha256sum "$S2"/archive/*/*/*/raw/e.csv | cut -c1-64)
t_is "$(gzip -dc "$T_TMP/out2/$TE"/batch-*.ndjson.gz | grep -c "\"quantity\":\"8\".*\"restates\":\"$R2\"")" 1 "forward: the restatement is delivered with restates"
t_grep "$S2/audit.log" "\"event\":\"restatements_forwarded\"" "forward: audited"

# [map] duplicates = sum: the rows of one key are one record of their sums
S3=$T_TMP/s3
dl_conf s "$S3" "file://$T_TMP/out3" "[map]" "duplicates = sum"
printf 'Store,UPC,Date,Units\n7,041000001239,2026-11-20,2\n8,041000001239,2026-11-20,1\n7,041000001239,2026-11-20,3.5\n' > "$S3/landing/s1.csv"
"$TRADEDROP" once -c "$T_TMP/s.conf" 2> "$T_TMP/logs1"
t_is $? 0 "sum: exit 0, nothing rejected"
TS=$(sha256sum "$S3"/archive/*/*/*/raw/s1.csv | cut -c1-64)
t_is "$(gzip -dc "$T_TMP/out3/$TS"/batch-*.ndjson.gz | $PY -c '
import json, sys
print(" ".join("%s:%s:%s" % (r["store_id"], r["quantity"], r["source"]["line"]) for r in map(json.loads, sys.stdin)))')" \
	"7:5.5:2 8:1:3" "sum: one record of store 7 (the first row's, quantity 2 + 3.5), then store 8"
t_grep "$T_TMP/out3/$TS/manifest.json" '"counts":{"records":3,"delivered":2,"dlq":0,"held":0,"duplicate":0,"summed":1}' "sum: the manifest counts the row added in"
t_grep "$T_TMP/out3/$TS/manifest.json" '"control_totals":{"quantity":"6.5"' "sum: control totals unchanged by the sum"
printf 'Store,UPC,Date,Units\n7,041000001239,2026-11-20,2\n8,041000001239,2026-11-20,1\n7,041000001239,2026-11-20,3.5\n\n' > "$S3/landing/s2.csv"
"$TRADEDROP" once -c "$T_TMP/s.conf" 2> "$T_TMP/logs2"
TS2=$(sha256sum "$S3"/archive/*/*/*/raw/s2.csv | cut -c1-64)
t_grep "$T_TMP/out3/$TS2/manifest.json" '"counts":{"records":3,"delivered":0,"dlq":0,"held":0,"duplicate":2,"summed":1}' "sum: the same rows again are duplicate records"
"$TRADEDROP" status -c "$T_TMP/s.conf" --json > "$T_TMP/st3" 2>&1
t_grep "$T_TMP/st3" '"records":{"in":6,"delivered":2,"pending":0,"dlq":0,"held":0,"duplicate":2,"quarantined":0,"summed":2}' "sum: status adds up the same"

"$TRADEDROP" audit -c "$T_TMP/t.conf" verify > "$T_TMP/av" 2>&1
t_is $? 0 "the audit log verifies"
t_done
