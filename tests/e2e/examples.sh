#!/bin/sh
# examples.sh - every CSV example of etc/examples/ passes `check`, and
# `try` takes its sample drop whole, read as its comments say.
# The X12 852 and 867 examples too.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
ex="$srcdir/etc/examples"

# try_example NAME ROWS: check NAME.conf, try NAME.csv, expect ROWS
# records and no rejection.
try_example() {
	"$TRADEDROP" check -c "$ex/$1.conf" > "$T_TMP/$1.check" 2>&1
	t_ok $? "check accepts $1.conf"
	"$TRADEDROP" try -c "$ex/$1.conf" "$ex/$1.${3:-csv}" \
	    > "$T_TMP/$1.out" 2> "$T_TMP/$1.err"
	rc=$?
	sed 's/^/#   /' "$T_TMP/$1.err"
	t_is "$rc" 0 "try $1.csv exits 0 (every row delivered)"
	t_is "$(wc -l < "$T_TMP/$1.out" | tr -d ' ')" "$2" "$1.${3:-csv} gives $2 records"
	t_grep "$T_TMP/$1.err" "records $2, rejected 0;" "$1.${3:-csv}: no row rejected"
}

# weekly store/UPC: a title line, lost leading zeros, trailing signs
try_example weekly-store-upc 5
o="$T_TMP/weekly-store-upc.out"
t_grep "$o" '"source":{"file":"weekly-store-upc.csv","member":null,"line":3},"store_id":"0042","retailer_item_id":"100234","gtin":"00041000001239","txn_date":"2026-11-28"' \
    "weekly: skip_rows = 1, the first record is physical line 3, UPC padded"
t_grep "$o" '"period_start":"2026-11-22"' "weekly: period = week_ending"
t_grep "$o" '"quantity":"-3","uom":"EA","amount":"-5.97"' \
    "weekly: decimal sign=trailing reads 3- and 5.97-"

# daily transactions: PLU crosswalk, datetime, tickets, promotions
try_example daily-transactions 5
o="$T_TMP/daily-transactions.out"
t_grep "$o" '"retailer_item_id":"4011","gtin":"00000123450010","txn_date":"2026-11-27","txn_time":"08:15:05","txn_ref":"000981"' \
    "daily: PLU through crosswalk_file, datetime as sent, ticket by regex"
t_grep "$o" '"quantity":"2.35","uom":"LB"' "daily: a weighed item in LB"
t_grep "$o" '"promo_code":"TPR7","promo_id":"P-100","promo_type":"tpr","discount_amount":"0.90"' \
    "daily: promo_file maps TPR7 and its 10% discount"
t_grep "$o" '"promo_code":"XMAS","promo_id":null' \
    "daily: an unknown promo code is kept, not rejected"
t_is "$(grep -c '"txn_ref":"000982"' "$o")" 2 \
    "daily: two items on one ticket are two records"

# X12 852: ZA/SDQ quantities per store, XQ the week
try_example x12-852 4 edi
o="$T_TMP/x12-852.out"
t_grep "$o" '"store_id":"0042","retailer_item_id":"100234","gtin":"00041000001239","txn_date":"2026-11-28","txn_time":null,"txn_ref":null,"period_start":"2026-11-22"' \
    "852: SDQ store, LIN UP and IN, XQ period"
# X12 867: PTD/N1*ST stores, QTY, LIN, AMT
try_example x12-867 3 edi
o="$T_TMP/x12-867.out"
t_grep "$o" '"store_id":"0107","retailer_item_id":"100234","gtin":"00041000001239","txn_date":"2026-11-28"' \
    "867: the second PTD's N1*ST store"
t_grep "$o" '"quantity":"-3","uom":"EA","amount":"-5.97"' \
    "867: a returned item, QTY and AMT*1"

# Every example file is installed (Makefile.am EXAMPLES) and exists.
for f in $(sed -n 's|^[[:space:]]*etc/examples/\([^ \\]*\).*|\1|p' \
    "$srcdir/Makefile.am"); do
	[ -f "$ex/$f" ]
	t_ok $? "etc/examples/$f exists"
done
n=$(ls "$ex" | wc -l | tr -d ' ')
t_is "$(grep -c '^[[:space:]]*etc/examples/' "$srcdir/Makefile.am")" "$n" \
    "every file of etc/examples/ is in Makefile.am"
# tradedrop-protocol(7)'s example records are what the demo gives for the
# first two rows of its drop, byte for byte (they had 64-hex ids and four
# fields fewer long after the product changed)
sed "s|/tmp/tradedrop-demo|$T_TMP/demo|" "$srcdir/etc/demo/demo.conf" > "$T_TMP/demo.conf"
"$TRADEDROP" try -c "$T_TMP/demo.conf" "$srcdir/etc/demo/drops/acme_pos_2026-11-21.csv" \
    2> /dev/null | head -2 > "$T_TMP/demo.out"
grep '^{"schema":"tradedrop.pos.v1"' "$srcdir/man/tradedrop-protocol.7" > "$T_TMP/man.out"
t_ok "$(cmp -s "$T_TMP/demo.out" "$T_TMP/man.out" && [ -s "$T_TMP/man.out" ]; echo $?)" \
    "tradedrop-protocol(7): its example records are the demo's, byte for byte"
t_done
