#!/bin/sh
# onboarding.sh - what a new integration is onboarded with: rejection
# counts by code in the once log lines and reason.json; try's verdict,
# summary (rows, records, rejections by code, control totals, period)
# and exit status; try --first; schema_missing_column showing the header
# found and suggesting skip_rows.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"

S=$T_TMP/state
mkdir -p "$S/landing" "$T_TMP/d"
cat > "$T_TMP/t.conf" <<CONF
[integration]
name = acme
state_dir = $S
max_reject_ratio = 0.7
[watch]
settle = 0
[map]
store_id = column "Store Nbr"
gtin = column "UPC" gtin
txn_date = column "Week Ending" date "%m/%d/%Y"
quantity = column "Units" decimal
amount = column "Net Sales" decimal
[output]
url = file://$T_TMP/out
CONF
H='Store Nbr,Week Ending,UPC,Units,Net Sales'
# b: two records, four rows dead-lettered (bad_date twice)
cat > "$T_TMP/d/b.csv" <<CSV
$H
7,11/21/2026,00012345678905,2,4.00
7,11/21/2026,041000001235,1,1.00
7,11/31/2026,041000001239,1,1.00
7,11/14/2026,00012345678905,-3,-6.50
7,02/30/2026,041000001239,1,1.00
7,4
CSV
# r: three of four rows rejected, over max_reject_ratio 0.7
cat > "$T_TMP/d/r.csv" <<CSV
$H
1,11/21/2026,041000001239,1,1.00
1,11/31/2026,041000001239,1,1.00
1,02/30/2026,041000001239,1,1.00
1,11/21/2026,041000001235,1,1.00
CSV
# c: schema drift
printf 'Store Nbr,Week Ending,UPC,Qty,Net Sales\n1,11/21/2026,041000001239,1,1.00\n' > "$T_TMP/d/c.csv"
cp "$T_TMP/d/b.csv" "$T_TMP/d/r.csv" "$T_TMP/d/c.csv" "$S/landing/"
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log"
t_is $? 1 "once exits 1: rows dead-lettered, files quarantined"
tid() { sha256sum "$T_TMP/d/$1" | cut -c1-64; }
t_grep "$T_TMP/log" "event=file_parsed file=b.csv transmission_id=$(tid b.csv) records=2 dlq=4 batches=1 rows=6 held=0 duplicate=0 rejections=bad_date:2,gtin_check_digit:1,missing_field:1" \
	"once: the file's line counts its rejections by code at level info, most frequent first"
t_grep "$T_TMP/log" "rejections=bad_date:2,gtin_check_digit:1" \
	"once: a file over max_reject_ratio: its quarantine line counts them"
t_is "$(grep -c 'event=file_quarantined file=r.csv .*code=reject_ratio_exceeded .*rejections=bad_date:2,gtin_check_digit:1$' "$T_TMP/log")" 1 \
	"once: ... on the file_quarantined line"
t_grep "$T_TMP/log" " exit=1 rejections=bad_date:4,gtin_check_digit:2,missing_field:1" \
	"once: the run's summary counts the run's rejections by code"
$PY - "$S/quarantine/$(tid r.csv)/reason.json" "$S/quarantine/$(tid c.csv)/reason.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); c = json.load(open(sys.argv[2]))
ok = r["code"] == "reject_ratio_exceeded" and r["records"] == 4 and r["rejected"] == 3
ok &= list(r["rejections"].items()) == [("bad_date", 2), ("gtin_check_digit", 1)]
ok &= c["code"] == "schema_missing_column" and c["rejections"] == {}
print(r, c)
sys.exit(0 if ok else 1)
PY
t_is $? 0 "reason.json: rejections by code, most frequent first ({} when none)"

# try: the records once delivered, the rejections, the verdict, a summary
"$TRADEDROP" try -c "$T_TMP/t.conf" "$T_TMP/d/b.csv" > "$T_TMP/b.out" 2> "$T_TMP/b.err"
t_is $? 1 "try b.csv exits 1, as once did"
gzip -dc "$T_TMP/out/$(tid b.csv)"/batch-*.gz > "$T_TMP/b.deliv"
t_ok "$(cmp -s "$T_TMP/b.deliv" "$T_TMP/b.out"; echo $?)" "try b.csv: the records once delivered"
D=$T_TMP/d
t_is "$(grep -v ': tier 3 ' "$T_TMP/b.err")" "$D/b.csv: accepted: once would deliver 2 records and dead-letter 4 rows
$D/b.csv: summary: rows 6, records 2, rejected 4 (bad_date:2,gtin_check_digit:1,missing_field:1); quantity -1, amount -2.50; period 2026-11-14 to 2026-11-21" \
	"try b.csv: verdict, then rows, records, rejections by code, control totals and period"
t_is "$(grep -c ': tier 3 ' "$T_TMP/b.err")" 4 "try b.csv: its four rejected rows"

"$TRADEDROP" try -c "$T_TMP/t.conf" "$T_TMP/d/r.csv" > "$T_TMP/r.out" 2> "$T_TMP/r.err"
t_is "$? $(wc -c < "$T_TMP/r.out" | tr -d ' ')" "1 0" "try r.csv: exit 1, no record shown"
t_is "$(grep -v ': tier 3 ' "$T_TMP/r.err")" "$D/r.csv: tier 2 reject_ratio_exceeded: 3 of 4 rows rejected, more than max_reject_ratio 0.7
$D/r.csv: the whole file would be quarantined: none of its records is shown, none would be delivered
$D/r.csv: summary: rows 4, records 1, rejected 3 (bad_date:2,gtin_check_digit:1); quantity 1, amount 1.00; period 2026-11-21 to 2026-11-21" \
	"try r.csv: the verdict once gave, then the summary"

printf '%s\n1,11/21/2026,041000001239,1,1.00\n' "$H" > "$T_TMP/d/good.csv"
"$TRADEDROP" try -c "$T_TMP/t.conf" "$T_TMP/d/good.csv" > /dev/null 2> "$T_TMP/g.err"
t_is $? 0 "try of a good file exits 0"
"$TRADEDROP" try -c "$T_TMP/t.conf" "$T_TMP/d/good.csv" "$T_TMP/d/c.csv" > /dev/null 2>&1
t_is $? 1 "try of several files exits as once would for them all (1)"
"$TRADEDROP" try -c "$T_TMP/t.conf" "$T_TMP/d/good.csv" "$T_TMP/d/nonesuch.csv" > /dev/null 2>&1
t_is $? 1 "try of a file that cannot be read exits 1"

# --first N: a quick look, said to be partial
"$TRADEDROP" try -c "$T_TMP/t.conf" --first 2 "$T_TMP/d/b.csv" > "$T_TMP/f.out" 2> "$T_TMP/f.err"
t_is "$? $(wc -l < "$T_TMP/f.out" | tr -d ' ')" "1 1" "try --first 2: exit 1 (a rejected row), one record"
t_ok "$(head -1 "$T_TMP/b.out" | cmp -s - "$T_TMP/f.out"; echo $?)" "try --first 2: the first record, as without it"
t_is "$(grep -v ': tier 3 ' "$T_TMP/f.err")" "$D/b.csv: accepted: once would deliver 1 record and dead-letter 1 row
$D/b.csv: partial: --first 2 stopped it after 2 rows: the verdict and the summary are of those rows only
$D/b.csv: summary: rows 2, records 1, rejected 1 (gtin_check_digit:1); quantity 2, amount 4.00; period 2026-11-21 to 2026-11-21" \
	"try --first 2: says the verdict is partial; the summary is of two rows"
"$TRADEDROP" try -c "$T_TMP/t.conf" --first 1 "$T_TMP/d/r.csv" > "$T_TMP/f.out" 2> "$T_TMP/f.err"
t_is "$? $(wc -l < "$T_TMP/f.out" | tr -d ' ')" "0 1" "try --first 1 of r.csv: its first row is good (exit 0)"
t_grep "$T_TMP/f.err" "partial: --first 1 stopped it after 1 rows" "and the verdict is said to be partial"
"$TRADEDROP" try -c "$T_TMP/t.conf" --first 6 "$T_TMP/d/b.csv" > "$T_TMP/f.out" 2> "$T_TMP/f.err"
t_ok "$(cmp -s "$T_TMP/b.out" "$T_TMP/f.out" && ! grep -q partial "$T_TMP/f.err"; echo $?)" \
	"try --first N of a file of N rows: the whole file, not partial"
for bad in 0 x -1 ''; do
	"$TRADEDROP" try -c "$T_TMP/t.conf" --first "$bad" "$T_TMP/d/b.csv" > /dev/null 2> "$T_TMP/u.err"
	t_is $? 2 "try --first '$bad': a usage error"
done
t_grep "$T_TMP/u.err" "usage: tradedrop try [-c FILE] [--first N] FILE..." "and the usage is shown"
# schema_missing_column: the header found, and skip_rows when a later
# line within the first 20 has every mapped column
printf 'Weekly sales report\nRetailer: ACME,,,\n\n%s\n7,11/21/2026,00012345678905,2,4.00\n' "$H" > "$T_TMP/d/pre.csv"
{ i=1; while [ $i -le 20 ]; do echo "note $i"; i=$((i + 1)); done
  echo "$H"; echo '7,11/21/2026,00012345678905,2,4.00'; } > "$T_TMP/d/deep.csv"
cp "$T_TMP/d/pre.csv" "$T_TMP/d/deep.csv" "$S/landing/"
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log2"
t_is $? 1 "once exits 1: pre.csv and deep.csv quarantined"
$PY - "$S/quarantine/$(tid c.csv)/reason.json" "$S/quarantine/$(tid pre.csv)/reason.json" "$S/quarantine/$(tid deep.csv)/reason.json" > "$T_TMP/why" <<'PY'
import json, sys
for f in sys.argv[1:]:
    r = json.load(open(f))
    print(r["code"], "|", r["message"], "|", r["detail"].get("skip_rows"))
PY
t_is "$(sed -n 1p "$T_TMP/why")" 'schema_missing_column | the header on line 1 lacks mapped column "Units"; the header found: "Store Nbr", "Week Ending", "UPC", "Qty", "Net Sales" | None' \
	"reason.json: the message shows the header found"
t_is "$(sed -n 2p "$T_TMP/why")" 'schema_missing_column | the header on line 1 lacks mapped columns "Store Nbr", "UPC", "Week Ending", "Units", "Net Sales" (line 4 has every mapped column: set skip_rows = 2 in [parse] to read it as the header); the header found: "Weekly sales report" | 2' \
	"reason.json: a header further down suggests skip_rows (in the message and the detail)"
t_is "$(sed -n 3p "$T_TMP/why")" 'schema_missing_column | the header on line 1 lacks mapped columns "Store Nbr", "UPC", "Week Ending", "Units", "Net Sales"; the header found: "note 1" | None' \
	"reason.json: no suggestion for a header past the first 20 lines"
sed 's/^\[watch\]$/[parse]\nskip_rows = 2\n&/' "$T_TMP/t.conf" > "$T_TMP/skip2.conf"
"$TRADEDROP" try -c "$T_TMP/skip2.conf" "$T_TMP/d/pre.csv" > "$T_TMP/p.out" 2> "$T_TMP/p.err"
t_is "$? $(wc -l < "$T_TMP/p.out" | tr -d ' ')" "0 1" "with the skip_rows suggested, the file is read"
# already skipping: the suggestion counts the rows skipped too
sed 's/^\[watch\]$/[parse]\nskip_rows = 1\n&/' "$T_TMP/t.conf" > "$T_TMP/skip1.conf"
"$TRADEDROP" try -c "$T_TMP/skip1.conf" "$T_TMP/d/pre.csv" > /dev/null 2> "$T_TMP/p.err"
t_grep "$T_TMP/p.err" '"Store Nbr", "UPC", "Week Ending", "Units", "Net Sales" (line 4 has every mapped column: set skip_rows = 2 in [parse] to read it as the header); the header found: "Retailer: ACME", "", "", ""' \
	"with skip_rows = 1, the header found is line 2 and the suggestion still 2"
# a header of many columns is shown cut
{ i=1; while [ $i -le 60 ]; do printf 'Column number %d,' $i; i=$((i + 1)); done; echo x; } > "$T_TMP/d/wide.csv"
"$TRADEDROP" try -c "$T_TMP/t.conf" "$T_TMP/d/wide.csv" > /dev/null 2> "$T_TMP/w.err"
t_grep "$T_TMP/w.err" '"Column number 1", "Column number 2",' "a wide header: its first names shown"
t_grep "$T_TMP/w.err" ', ... (5' "and how many more there are"
# try verifies the sidecars beside the file, as once does
sed 's/^\[watch\]$/[verify]\nchecksum = required\nsidecar_wait = 10m\n&/' "$T_TMP/t.conf" > "$T_TMP/req.conf"
"$TRADEDROP" try -c "$T_TMP/req.conf" "$T_TMP/d/good.csv" > "$T_TMP/v.out" 2> "$T_TMP/v.err"
t_is "$? $(wc -c < "$T_TMP/v.out" | tr -d ' ')" "1 0" "a required checksum missing: exit 1, nothing shown"
t_is "$(cat "$T_TMP/v.err")" "$D/good.csv: no checksum sidecar beside it (NAME.sha256, NAME.sha512 or a SHA256SUMS or SHA512SUMS naming it): once would wait for one up to sidecar_wait (600s) after the file landed, then take it and refuse it:
$D/good.csv: tier 2 checksum_missing: no checksum sidecar (good.csv.sha256, good.csv.sha512 or SHA256SUMS) arrived within sidecar_wait
$D/good.csv: the whole file would be quarantined before it is parsed: nothing of it would be delivered" \
	"try says once would wait for the sidecar, then refuse the file"
(cd "$T_TMP/d" && sha256sum good.csv > good.csv.sha256)
"$TRADEDROP" try -c "$T_TMP/req.conf" "$T_TMP/d/good.csv" > "$T_TMP/v.out" 2> "$T_TMP/v.err"
t_is "$? $(wc -l < "$T_TMP/v.out" | tr -d ' ')" "0 1" "with its checksum beside it: exit 0, its record"
t_grep "$T_TMP/v.err" "$D/good.csv: verified: checksum ok (sha256), signature off" "and says what was verified"
"$TRADEDROP" try -c "$T_TMP/req.conf" "$T_TMP/d/good.csv.sha256" > "$T_TMP/v.out" 2> "$T_TMP/v.err"
t_is "$? $(wc -c < "$T_TMP/v.out" | tr -d ' ')" "1 0" "try of a sidecar: exit 1 (not a drop), nothing, as once leaves it"
t_grep "$T_TMP/v.err" "good.csv.sha256: not a drop: a checksum or signature sidecar" "and says it is not a drop"
cp "$T_TMP/d/good.csv" "$T_TMP/d/up.csv.part"
"$TRADEDROP" try -c "$T_TMP/t.conf" "$T_TMP/d/up.csv.part" > /dev/null 2> "$T_TMP/v.err"
t_is "$? $(cat "$T_TMP/v.err")" "1 $D/up.csv.part: not a drop: once would leave it in landing: its name matches [watch] ignore" \
	"try of a name once ignores says so, and exits 1"
# a script trying sample files: a good one and one not a drop is 1, the
# good one's record still shown
sed 's/^settle = 0$/&\npattern = *.csv/' "$T_TMP/t.conf" > "$T_TMP/pat.conf"
cp "$T_TMP/d/good.csv" "$T_TMP/d/good.txt"
"$TRADEDROP" try -c "$T_TMP/pat.conf" "$T_TMP/d/good.csv" "$T_TMP/d/good.txt" > "$T_TMP/v.out" 2> "$T_TMP/v.err"
t_is "$? $(wc -l < "$T_TMP/v.out" | tr -d ' ')" "1 1" "try of a good file and one not a drop: exit 1, the good one's record"
t_grep "$T_TMP/v.err" "$D/good.txt: not a drop: once would leave it in landing: its name does not match [watch] pattern" \
	"and says which is not a drop"
t_done
