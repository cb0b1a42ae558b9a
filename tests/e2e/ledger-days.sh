#!/bin/sh
# ledger-days.sh - state.db's record_keys keeps a key under its day (the
# record's txn_date, when txn_date is a [map] key field) before the
# record_key, so that a file's keys go into the B-tree beside each other
# and a commit writes about as many pages as the file's keys take,
# however many the ledger holds (agent/ledger.c, LKEY_LEN). A key without
# txn_date is kept under day 0. A ledger of schema 6 (keys of the
# record_key alone) is migrated without rewriting them: they are still
# found (duplicate_record, restatement), and a record held before the
# migration is still approved against them.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
S=$T_TMP/state
. "$srcdir/tests/lib/ledger-lib.sh"
dl_conf t "$S" "file://$T_TMP/out" "[integration]" "max_reject_ratio = 0.9"
recs() { gzip -dc "${OUT:-$T_TMP/out}/$1"/batch-*.ndjson.gz; }
counts() {
	$PY -c 'import json, sys; c = json.load(open(sys.argv[1]))["counts"]; print("delivered=%d held=%d duplicate=%d" % (c["delivered"], c["held"], c["duplicate"]))' \
	    "${OUT:-$T_TMP/out}/$1/manifest.json"
}
# kday DATE: the 8 hex digits of the day a key of DATE is kept under
kday() {
	$PY -c 'import datetime, sys; d = datetime.date.fromisoformat(sys.argv[1]); print("%08X" % ((d - datetime.date(1970, 1, 1)).days + 0x80000000 & 0xFFFFFFFF))' "$1"
}
q() { sqlite3 "$1/state.db" "$2"; }

# d1: three stores on 2026-11-20, one on 1969-12-31 (before the epoch)
drop d1.csv 2026-11-20 1,3 2,4 3,5
echo "4,041000001239,1969-12-31,6" >> "$S/landing/d1.csv"
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log1"
t_is $? 0 "d1: four new keys delivered"
T1=$(tid d1.csv)
t_is "$(q "$S" "SELECT count(*), min(length(record_key)), max(length(record_key)) FROM record_keys")" \
    "4|20|20" "each key is 20 bytes: the day, then the record_key"
t_is "$(q "$S" "SELECT hex(substr(record_key, 1, 4)) FROM record_keys ORDER BY record_key" | tr '\n' ' ')" \
    "$(kday 1969-12-31) $(kday 2026-11-20) $(kday 2026-11-20) $(kday 2026-11-20) " \
    "kept in date order, the day before 1970 first"
t_is "$(q "$S" "SELECT lower(hex(substr(record_key, 5))) FROM record_keys ORDER BY record_key" | sort)" \
    "$(recs "$T1" | grep -o '"record_key":"[0-9a-f]*"' | cut -d'"' -f4 | sort)" \
    "after the day, the record_keys the records carry"
t_is "$(q "$S" "SELECT count(*) FROM meta WHERE key = 'ledger_undated'")" 0 \
    "a new ledger has no undated keys"

# a key without txn_date: every key under day 0, and still found
U=$T_TMP/u
dl_conf u "$U" "file://$T_TMP/outu" "[map]" "key = store_id, gtin"
cp "$S"/archive/*/*/"$T1"/raw/d1.csv "$U/landing/"
"$TRADEDROP" once -c "$T_TMP/u.conf" 2> "$T_TMP/logu"
t_is $? 0 "key without txn_date: delivered"
t_is "$(q "$U" "SELECT DISTINCT hex(substr(record_key, 1, 4)) FROM record_keys")" 00000000 \
    "key without txn_date: every key under day 0"
printf 'Store,UPC,Date,Units\n1,041000001239,2026-12-01,3\n' > "$U/landing/u2.csv"
"$TRADEDROP" once -c "$T_TMP/u.conf" 2> "$T_TMP/logu2"
t_grep "$T_TMP/logu2" "held=1 duplicate_records=0" \
    "key without txn_date: the same store and item on another day is the key found (a restatement, held)"

# d2: store 2 restated: held (its hold keeps the key's day)
drop d2.csv 2026-11-20 2,9
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log2"
t_is $? 1 "d2: exit 1, a record is held"
t_is "$(q "$S" "SELECT key_day FROM holds")" \
    "$($PY -c 'import sys; print(int(sys.argv[1], 16))' "$(kday 2026-11-20)")" \
    "the hold keeps its key's day"
H2=$("$TRADEDROP" hold -c "$T_TMP/t.conf" list | cut -d' ' -f1)

# back to schema 6: keys of the record_key alone, holds without key_day
to_schema6 "$S"
t_is "$(q "$S" "SELECT DISTINCT length(record_key) FROM record_keys")" 16 \
    "schema 6: keys of 16 bytes"

# d3: store 1 as before, store 3 restated, store 5 new, store 4's day
drop d3.csv 2026-11-20 1,3 3,8 5,1
echo "4,041000001239,1969-12-31,6" >> "$S/landing/d3.csv"
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log3"
t_is $? 1 "d3 on a migrated ledger: exit 1, a record is held"
t_is "$(q "$S" "PRAGMA user_version")" 11 "migrated to schema 7 (and on to 11)"
t_is "$(q "$S" "SELECT count(*) FROM meta WHERE key = 'ledger_undated'")" 1 \
    "the migration notes the undated keys"
T3=$(tid d3.csv)
t_is "$(counts "$T3")" "delivered=1 held=1 duplicate=2" \
    "d3: the undated keys are found: two duplicates, a restatement, one new"
t_is "$(recs "$T3" | grep -c '"store_id":"5"')" 1 "d3: only the new record is delivered"
t_is "$(q "$S" "SELECT length(record_key), count(*) FROM record_keys GROUP BY 1 ORDER BY 1" | tr '\n' ' ')" \
    "16|4 20|1 " "the undated keys stay as they were; the new one has its day"

# the hold of before the migration, approved against the undated key
"$TRADEDROP" hold -c "$T_TMP/t.conf" approve "$H2" --reason "recount" > "$T_TMP/ha" 2>&1
t_is $? 0 "a hold of before the migration is approved"
R2=$(recs "$T1" | $PY -c 'import json,sys; print([r["record_id"] for r in map(json.loads, sys.stdin) if r["store_id"] == "2"][0])')
T2=$(tid d2.csv)
t_is "$(recs "$T2" | grep -c "\"quantity\":\"9\".*\"restates\":\"$R2\"")" 1 \
    "approved: delivered with restates = d1's record of store 2"
# d4: the approved values and store 5 again: duplicates; store 3 as d3
# held it: a restatement of d1's record still
drop d4.csv 2026-11-20 2,9 5,1 3,8
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log4"
T4=$(tid d4.csv)
t_is "$(counts "$T4")" "delivered=0 held=1 duplicate=2" \
    "d4: the approved values and the dated key are duplicates; store 3 is held again"
t_grep "$S/audit.log" '"event":"hold_approved"' "audit: the approval"
"$TRADEDROP" audit -c "$T_TMP/t.conf" verify > "$T_TMP/av" 2>&1
t_is $? 0 "the audit log verifies"

# A day of which record_keys has no key is not looked up record by
# record (ledger.c, day_empty: one seek a day). v1 enters keys of
# 2026-01-05 and 2026-01-07; v2 has them again (duplicates), store 1 of
# the 7th restated (held), and new records of the day between, of the
# day before the first (the first key after it is of another day) and of
# the day after the last (no key after it).
S=$T_TMP/v OUT=$T_TMP/outv
dl_conf v "$S" "file://$OUT"
drop v1.csv 2026-01-05 1,3 2,4
drop v1b.csv 2026-01-07 1,5 2,6
"$TRADEDROP" once -c "$T_TMP/v.conf" 2> "$T_TMP/logv1"
t_is $? 0 "v1: the keys of two days entered"
{ echo "Store,UPC,Date,Units"
  for r in 1,3,05 2,4,05 1,7,07 2,6,07 9,1,04 9,1,06 9,1,08; do
	_s=${r%%,*} _u=${r#*,} _d=${r##*,}
	echo "$_s,041000001239,2026-01-$_d,${_u%,*}"
  done; } > "$S/landing/v2.csv"
"$TRADEDROP" once -c "$T_TMP/v.conf" 2> "$T_TMP/logv2"
t_is $? 1 "v2: exit 1, a record is held"
TV2=$(tid v2.csv)
t_is "$(counts "$TV2")" "delivered=3 held=1 duplicate=3" \
    "v2: the days with keys looked up (3 duplicates, 1 restatement held), the days without delivered"
t_is "$(recs "$TV2" | grep -o '"txn_date":"[0-9-]*"' | sort | tr '\n' ' ')" \
    '"txn_date":"2026-01-04" "txn_date":"2026-01-06" "txn_date":"2026-01-08" ' \
    "v2: what is delivered is the three new records"
# v3: more days than ledger_check keeps (1024; past them each record
# is looked up), then v1's store 1 of the 5th again and store 2 of the
# 7th restated
$PY -c 'import datetime
d = datetime.date(2020, 1, 1)
print("Store,UPC,Date,Units")
for i in range(1100):
    print("7,041000001239,%s,1" % (d + datetime.timedelta(days=i)))
print("1,041000001239,2026-01-05,3")
print("2,041000001239,2026-01-07,9")' > "$S/landing/v3.csv"
"$TRADEDROP" once -c "$T_TMP/v.conf" 2> "$T_TMP/logv3"
t_is $? 1 "v3: exit 1, a record is held"
TV3=$(tid v3.csv)
t_is "$(counts "$TV3")" "delivered=1100 held=1 duplicate=1" \
    "v3: 1100 new days delivered; past the days kept, v1's keys still found"
t_done
