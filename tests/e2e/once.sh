#!/bin/sh
# once.sh - `tradedrop once` on a landing dir of several drops: the exact
# records that reach the file:// receiver, batches and manifests, a second
# run that delivers nothing, a duplicate drop under another name, schema
# drift to quarantine and bad rows to the dead-letter file.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"

S=$T_TMP/state
mkdir -p "$S/landing"
cat > "$T_TMP/t.conf" <<CONF
[integration]
name = acme
state_dir = $S
max_reject_ratio = 0.8
[map]
store_id = column "Store Nbr" trim
retailer_item_id = column "Item Nbr"
gtin = column "UPC" gtin
txn_date = column "Week Ending" date "%m/%d/%Y"
quantity = column "Units" decimal
amount = column "Net Sales \$" decimal thousands
promo_code = column "Promo" trim upper
period = week_ending
[output]
url = file://$T_TMP/out
batch_records = 2
CONF

# a: three good rows, CRLF, quoted comma, a return, a thousands amount
printf '"Store Nbr","Item Nbr","Week Ending","UPC","Item Description","Units","Net Sales $","Promo"\r\n' > "$S/landing/a.csv"
printf ' 0042 ,555,11/28/2026,041000001239,"OATS, 12OZ",3,8.97,tpr1\r\n' >> "$S/landing/a.csv"
printf '0042,556,11/28/2026,4006381333931,"PEN ""BLUE""",-1,-2.5,\r\n' >> "$S/landing/a.csv"
printf '0043,,11/28/2026,96385074,"MINT",1200,"1,234.50", \r\n' >> "$S/landing/a.csv"
touch -d '2026-11-28 10:00' "$S/landing/a.csv"
# b: one good, one bad check digit, one bad date, one short row
cat > "$S/landing/b.csv" <<'CSV'
Store Nbr,Item Nbr,Week Ending,UPC,Units,Net Sales $,Promo
7,1,11/21/2026,00012345678905,2,4.00,BOGO
7,2,11/21/2026,041000001235,1,1.00,
7,3,11/31/2026,041000001239,1,1.00,
7,4
CSV
touch -d '2026-11-28 11:00' "$S/landing/b.csv"
# c: schema drift (Units renamed)
printf 'Store Nbr,Item Nbr,Week Ending,UPC,Qty,Net Sales $,Promo\n1,1,11/21/2026,041000001239,1,1.00,\n' > "$S/landing/c.csv"
touch -d '2026-11-28 12:00' "$S/landing/c.csv"
# ignored names
echo x > "$S/landing/.hidden.csv"; echo x > "$S/landing/d.csv.part"

"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log1"
t_is $? 1 "once exits 1: something was quarantined or dead-lettered"

TA=$(sha256sum "$S/archive"/*/*/*/raw/a.csv | cut -c1-64)
t_is "$(ls "$T_TMP"/out/*/manifest.json | wc -l)" 2 "two transmissions delivered (a and b)"
t_ok "$([ -f "$T_TMP/out/$TA/manifest.json" ]; echo $?)" "a delivered under its SHA-256"
t_is "$(ls "$T_TMP/out/$TA")" "batch-000001.ndjson.gz
batch-000002.ndjson.gz
manifest.json" "a: two batches of two and one record, then the manifest"

# the records of a, field by field
$PY - "$T_TMP/out/$TA" "$TA" > "$T_TMP/check-a" 2>&1 <<'PY'
import gzip, json, sys, glob, hashlib
d, tid = sys.argv[1], sys.argv[2]
recs = []
for f in sorted(glob.glob(d + "/batch-*.ndjson.gz")):
    recs += [json.loads(l) for l in gzip.open(f, "rt", encoding="utf-8")]
m = json.load(open(d + "/manifest.json"))
exp = [
  dict(store_id="0042", retailer_item_id="555", gtin="00041000001239", txn_date="2026-11-28",
       period_start="2026-11-22", quantity="3", amount="8.97", promo_code="TPR1", line=2),
  dict(store_id="0042", retailer_item_id="556", gtin="04006381333931", txn_date="2026-11-28",
       period_start="2026-11-22", quantity="-1", amount="-2.50", promo_code=None, line=3),
  dict(store_id="0043", retailer_item_id=None, gtin="00000096385074", txn_date="2026-11-28",
       period_start="2026-11-22", quantity="1200", amount="1234.50", promo_code=None, line=4),
]
order = ["schema","record_id","record_key","integration","transmission_id","source","store_id",
 "retailer_item_id","gtin","txn_date","txn_time","txn_ref","period_start","fiscal","quantity","uom",
 "amount","currency","promo_code","promo_id","promo_type","discount_amount","restates",
 "mapping_version"]
bad = 0
def check(c, msg):
    global bad
    print(("ok - " if c else "FAIL - ") + msg)
    if not c: bad += 1
check(len(recs) == 3, "3 records")
for i, (r, e) in enumerate(zip(recs, exp)):
    check(list(r.keys()) == order, f"record {i+1}: fields in schema order")
    for k, v in e.items():
        got = r["source"]["line"] if k == "line" else r[k]
        check(got == v, f"record {i+1}: {k} = {v!r} (got {got!r})")
    check(r["schema"] == "tradedrop.pos.v1" and r["integration"] == "acme", "schema, integration")
    check(r["transmission_id"] == tid and r["source"]["file"] == "a.csv" and r["source"]["member"] is None, "source")
    check(r["uom"] == "EA" and r["currency"] == "USD" and r["promo_id"] is None, "uom, currency, promo_id")
    check(r["fiscal"] == {"year": 2026, "quarter": 4, "period": 11, "week": 48}, "fiscal")
    rid = hashlib.sha256(f"acme\n{tid}\n\n{i+1}".encode()).hexdigest()[:32]
    check(r["record_id"] == rid, "record_id = sha256(integration, tid, member, ordinal), 16 bytes")
    key = "acme" + "".join("\n" + ("n" if r[f] is None else "s" + r[f]) for f in ["store_id","gtin","txn_date","promo_code"])
    check(r["record_key"] == hashlib.sha256(key.encode()).hexdigest()[:32], "record_key, 16 bytes")
    check(r["txn_time"] is None and r["txn_ref"] is None and r["discount_amount"] is None and r["restates"] is None, "txn_time, txn_ref, discount_amount, restates null")
    check(r["mapping_version"] == m["mapping_version"], "mapping_version as in the manifest")
check(m["schema"] == "tradedrop.transmission.v1", "manifest schema")
check(m["counts"] == {"records": 3, "delivered": 3, "dlq": 0, "held": 0, "duplicate": 0}, "manifest counts")
check(m["control_totals"] == {"quantity": "1202", "amount": "1240.97"}, "control totals exact")
check(m["file"] == {"name": "a.csv", "size": m["file"]["size"], "sha256": tid}, "manifest file")
check(m["batches"] == 2 and [b["records"] for b in m["batch_list"]] == [2, 1], "manifest batches")
for b in m["batch_list"]:
    data = open(d + "/batch-%06d.ndjson.gz" % b["seq"], "rb").read()
    check(hashlib.sha256(data).hexdigest() == b["sha256"], f"batch {b['seq']} sha256")
    ik = hashlib.sha256(f"{tid}\n{m['mapping_version']}\n{b['seq']}".encode()).hexdigest()
    check(b["idempotency_key"] == ik, f"batch {b['seq']} idempotency key")
sys.exit(1 if bad else 0)
PY
t_is $? 0 "a: every field of every record as expected"
grep -v '^ok' "$T_TMP/check-a" | sed 's/^/#   /'

TB=$(sha256sum "$S/archive"/*/*/*/raw/b.csv | cut -c1-64)
$PY - "$T_TMP/out/$TB" "$S/dlq/$TB.ndjson" > "$T_TMP/check-b" 2>&1 <<'PY'
import gzip, json, sys, glob
d, dlq = sys.argv[1], sys.argv[2]
recs = [json.loads(l) for f in sorted(glob.glob(d + "/batch-*.gz")) for l in gzip.open(f, "rt")]
m = json.load(open(d + "/manifest.json"))
rej = [json.loads(l) for l in open(dlq)]
ok = len(recs) == 1 and recs[0]["gtin"] == "00012345678905" and recs[0]["promo_code"] == "BOGO"
ok &= [(r["tier"], r["code"], r["source"]["line"]) for r in rej] == [
    (3, "gtin_check_digit", 3), (3, "bad_date", 4), (3, "missing_field", 5)]
ok &= rej[0]["raw"] == "7,2,11/21/2026,041000001235,1,1.00," and rej[0]["source"]["file"] == "b.csv"
ok &= all(r["message"] for r in rej)
ok &= m["counts"] == {"records": 4, "delivered": 1, "dlq": 3, "held": 0, "duplicate": 0}
print(recs, rej, m["counts"])
sys.exit(0 if ok else 1)
PY
t_is $? 0 "b: one record delivered, three rows dead-lettered with tier, code, line, raw text"
[ $? -eq 0 ] || sed 's/^/#   /' "$T_TMP/check-b"

TC=$(sha256sum "$S/archive"/*/*/*/raw/c.csv | cut -c1-64)
t_is "$(ls "$T_TMP/out/$TC")" "rejections.ndjson.gz" "c: nothing of the drifted file delivered, only its rejection"
$PY -c "
import gzip,json,sys; r=[json.loads(l) for l in gzip.open('$T_TMP/out/$TC/rejections.ndjson.gz','rt')]
sys.exit(0 if len(r)==1 and r[0]['tier']==2 and r[0]['code']=='schema_missing_column' and r[0]['file']=='c.csv' else 1)"
t_is $? 0 "c: rejections.ndjson.gz reports the tier 2 reason with the file's metadata"
$PY -c "
import gzip,json,sys; r=[json.loads(l) for l in gzip.open('$T_TMP/out/$TB/rejections.ndjson.gz','rt')]
sys.exit(0 if [(x['code'], x['source']['line']) for x in r]==[('gtin_check_digit',3),('bad_date',4),('missing_field',5)] else 1)"
t_is $? 0 "b: rejections.ndjson.gz carries its three dead-lettered rows"
t_ok "$(cmp -s "$S/quarantine/$TC/c.csv" "$S/archive"/*/*/$TC/raw/c.csv; echo $?)" \
	"c: raw file kept in quarantine"
$PY -c "
import json,sys; r=json.load(open('$S/quarantine/$TC/reason.json'))
sys.exit(0 if r['tier']==2 and r['code']=='schema_missing_column' and 'Units' in r['message'] and r['file']=='c.csv' and 'Qty' in r['detail']['header'] else 1)"
t_is $? 0 "c: reason.json says tier 2 schema_missing_column, names the column"
t_grep "$T_TMP/log1" "event=file_quarantined file=c.csv" "quarantine logged"
t_ok "$([ -f "$S/landing/.hidden.csv" ] && [ -f "$S/landing/d.csv.part" ]; echo $?)" \
	"ignored names left in landing"
t_is "$(ls "$S/landing")" "d.csv.part" "landing holds nothing else"
t_is "$(find "$S/work" "$S/outbox" -mindepth 1 | wc -l)" 0 "work/ and outbox/ are empty"
AR=$(ls -d "$S"/archive/*/*/$TA/records)
zcat "$AR"/batch-*.ndjson.gz > "$T_TMP/arch.ndjson"
zcat "$T_TMP/out/$TA"/batch-*.gz > "$T_TMP/deliv.ndjson"
t_ok "$([ -s "$T_TMP/arch.ndjson" ] && cmp -s "$T_TMP/arch.ndjson" "$T_TMP/deliv.ndjson"; echo $?)" \
	"the archive's records/ holds the delivered records"
# each batch is written once: the archive's entry and the delivered file
# are one file (file:// renames the outbox batch, which the archive links)
same=0 nb=0
for f in "$T_TMP/out/$TA"/batch-*.gz; do
	nb=$((nb + 1))
	[ "$(stat -c %i "$f")" = "$(stat -c %i "$AR/${f##*/}")" ] && same=$((same + 1))
done
t_ok "$([ $nb -ge 1 ] && [ $same -eq $nb ]; echo $?)" \
	"each archived batch is the delivered file, not a second copy ($same of $nb)"
t_is "$(ls "$AR" | wc -l)" "$nb" "the archive holds as many batches as were delivered"

# transmissions are delivered in order received (a before b)
t_ok "$(grep 'event=file_delivered' "$T_TMP/log1" | head -1 | grep -q 'file=a.csv'; echo $?)" \
	"delivered in the order received"

# status
"$TRADEDROP" status -c "$T_TMP/t.conf" --json > "$T_TMP/st" 2>&1
$PY -c "
import json,sys; s=json.load(open('$T_TMP/st'))
sys.exit(0 if s['transmissions']=={'received':0,'parsed':0,'delivered':2,'quarantined':1,'duplicate':0} and s['records']['delivered']==4 and s['records']['dlq']==3 and s['outbox']=={'batches':0,'bytes':0} and s['oldest_pending_age_seconds'] is None and s['breaker']=={'state':'closed','failures':0} else 1)"
t_is $? 0 "status --json counts per outcome"

# a second run delivers nothing new
ls -lR "$T_TMP/out" > "$T_TMP/before"
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log2"
t_is $? 0 "second once exits 0"
ls -lR "$T_TMP/out" > "$T_TMP/after"
t_ok "$(cmp -s "$T_TMP/before" "$T_TMP/after"; echo $?)" "second once delivers nothing"

# the same content under another name is a duplicate drop
cp "$S"/archive/*/*/$TA/raw/a.csv "$S/landing/a-again.csv"
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log3"
t_is $? 0 "a duplicate drop is not an error"
t_grep "$T_TMP/log3" "event=duplicate_transmission file=a-again.csv transmission_id=$TA" \
	"duplicate_transmission logged"
ls -lR "$T_TMP/out" > "$T_TMP/after2"
t_ok "$(cmp -s "$T_TMP/before" "$T_TMP/after2"; echo $?)" "the duplicate yields nothing"
t_is "$(ls "$S"/archive/*/*/$TA/raw)" "a.csv" "the raw copy is not stored twice"
t_is "$(grep -c '"event":"duplicate_transmission"' "$S/audit.log")" 1 "an audit line for the duplicate"
"$TRADEDROP" status -c "$T_TMP/t.conf" --json > "$T_TMP/st" 2>&1
t_grep "$T_TMP/st" '"duplicate":1}' "status counts the duplicate"

# one process per state_dir: a second one refuses, loses nothing
if command -v flock > /dev/null; then
	flock "$S/lock" "$TRADEDROP" once -c "$T_TMP/t.conf" > /dev/null 2> "$T_TMP/log4"
	t_is $? 3 "once exits 3 while another process holds the state_dir"
	t_grep "$T_TMP/log4" "another tradedrop is working on this state_dir" "and says why"
fi

# try: same records, no state touched
cp "$S"/archive/*/*/$TB/raw/b.csv "$T_TMP/b.csv"
"$TRADEDROP" try -c "$T_TMP/t.conf" "$T_TMP/b.csv" > "$T_TMP/try.out" 2> "$T_TMP/try.err"
t_is $? 1 "try exits 1 when rows are rejected"
zcat "$T_TMP/out/$TB"/batch-*.gz > "$T_TMP/b.delivered"
t_ok "$(cmp -s "$T_TMP/b.delivered" "$T_TMP/try.out"; echo $?)" \
	"try prints the same records once delivered"
t_grep "$T_TMP/try.err" "$T_TMP/b.csv:3: tier 3 gtin_check_digit:" "try names file, line, tier and code"
"$TRADEDROP" try -c "$T_TMP/t.conf" "$S/quarantine/$TC/c.csv" > /dev/null 2> "$T_TMP/try.err"
t_is $? 1 "try exits 1 on schema drift"
t_grep "$T_TMP/try.err" "tier 2 schema_missing_column" "try reports the tier 2 code"
# an amount with more decimals than the currency has is refused, not rounded
printf 'Store Nbr,Item Nbr,Week Ending,UPC,Units,Net Sales $,Promo\n7,1,11/21/2026,00012345678905,2,4.005,\n7,1,11/21/2026,00012345678905,2,4.500,\n' > "$T_TMP/scale.csv"
"$TRADEDROP" try -c "$T_TMP/t.conf" "$T_TMP/scale.csv" > "$T_TMP/scale.out" 2> "$T_TMP/scale.err"
t_grep "$T_TMP/scale.err" "scale.csv:2: tier 3 amount_scale:" "4.005 USD: Tier 3 amount_scale"
t_grep "$T_TMP/scale.out" '"amount":"4.50"' "4.500 USD: trailing zero dropped to the currency scale"
# 35 digits read, but 37 at the currency's scale: too long, not too precise
printf 'Store Nbr,Item Nbr,Week Ending,UPC,Units,Net Sales $,Promo\n7,1,11/21/2026,00012345678905,2,70050852143808032221040012069054167,\n' > "$T_TMP/long.csv"
"$TRADEDROP" try -c "$T_TMP/t.conf" "$T_TMP/long.csv" > /dev/null 2> "$T_TMP/long.err"
t_grep "$T_TMP/long.err" 'long.csv:2: tier 3 bad_decimal: amount (column "Net Sales $"): "70050852143808032221040012069054167" has more than 36 digits with the 2 decimals of USD' \
    "35 digits in USD: bad_decimal (37 digits as 2 decimals), not amount_scale"

# the audit log and state.db must agree: a lost state.db is refused
mv "$S/state.db" "$S/state.db.lost"; rm -f "$S/state.db-wal" "$S/state.db-shm"
"$TRADEDROP" once -c "$T_TMP/t.conf" > /dev/null 2> "$T_TMP/log5"
t_is $? 4 "audit.log without its state.db: once refuses (exit 4)"
t_grep "$T_TMP/log5" "do not continue its chain; refusing to cut them" "and says why"
t_ok "$([ -s "$S/audit.log" ]; echo $?)" "the audit log is left whole"
t_done
