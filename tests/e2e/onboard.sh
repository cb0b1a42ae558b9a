#!/bin/sh
# onboard.sh - the layouts retailers really send, onboarded with the
# mapping language of SPEC section 3: ISO timestamps with and without a
# zone, trailing and parenthesised negatives, thousands separators in
# both conventions, implied decimals, UPC-E, missing check digits, lost
# leading zeros, and a transaction-level feed keyed by txn_ref. Each
# layout's sample gives exactly the expected records through `try`, its
# malformed variants are rejected with the precise code and message, and
# the transaction-level feed goes through `once` to a file:// receiver,
# with a row of several bad fields dead-lettered with all of them.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
exec $PY - "$TRADEDROP" "$T_TMP" "$srcdir" <<'PY'
import gzip, json, os, subprocess, sys

td, tmp = os.path.abspath(sys.argv[1]), sys.argv[2]
sys.path.insert(0, os.path.join(sys.argv[3], "tests", "lib"))
from tdtap import ok, done  # noqa: E402


def conf(name, maplines, extra=""):
    # rows of one sample often share store, item and day: the quantity
    # tells them apart, unless the layout has its own key
    if not any(l.startswith("key =") for l in maplines):
        maplines = maplines + ["key = store_id, gtin, txn_date, txn_time, "
                               "quantity, amount"]
    path = os.path.join(tmp, name + ".conf")
    with open(path, "w") as f:
        f.write("[integration]\nname = acme\nstate_dir = %s/%s.state\n"
                "max_reject_ratio = 1\n%s[output]\nurl = file://%s/%s.out\n"
                "[map]\n%s\n" % (tmp, name, extra, tmp, name,
                                 "\n".join(maplines)))
    return path


def try_(cfg, data, fname):
    path = os.path.join(tmp, fname)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    p = subprocess.run([td, "try", "-c", cfg, path], capture_output=True)
    recs = [json.loads(l) for l in p.stdout.decode().splitlines() if l]
    return recs, p.stderr.decode(), p.returncode


FIELDS = ["store_id", "retailer_item_id", "gtin", "txn_date", "txn_time",
          "txn_ref", "quantity", "uom", "amount", "promo_code"]


def check(layout, recs, want, err):
    got = [{k: r[k] for k in FIELDS if k in w}
           for r, w in zip(recs, want)]
    ok(len(recs) == len(want) and got == want,
       "%s: exactly the expected records" % layout,
       "got %s\nwant %s\n%s" % (json.dumps(got), json.dumps(want), err))


def rejected(layout, err, fname, line, code, msgpart):
    pre = "%s:%d: tier 3 %s: " % (os.path.join(tmp, fname), line, code)
    lines = [l for l in err.splitlines() if l.startswith(pre)]
    ok(len(lines) == 1 and msgpart in lines[0],
       "%s: line %d rejected as %s, saying %r" % (layout, line, code,
                                                  msgpart), err)


BASE = ['store_id = column "Store"', 'gtin = column "UPC" gtin']

# --- 1. ISO 8601 timestamps where the day of sale lives -------------
c = conf("iso", BASE + ['txn_date = column "Sold At" datetime',
                        'quantity = column "Qty" decimal'])
data = ("Store,UPC,Sold At,Qty\n"
        "1,041000001239,2026-11-19T08:15:05,1\n"
        "1,041000001239,2026-11-19 08:15:05Z,2\n"
        "1,041000001239,2026-11-19T23:59:59-05:00,3\n"      # never shifted
        "1,041000001239,2026-11-20T00:10:00.250+01:00,4\n"
        "1,041000001239,2026-11-20T07:05,5\n"
        "1,041000001239,2026-11-19T25:00:00,6\n"            # line 7
        "1,041000001239,19/11/2026 08:15,7\n"               # line 8
        "1,041000001239,2026-11-19,8\n")                    # line 9
recs, err, rc = try_(c, data, "iso.csv")
check("ISO timestamps", recs, [
    {"txn_date": "2026-11-19", "txn_time": "08:15:05", "quantity": "1"},
    {"txn_date": "2026-11-19", "txn_time": "08:15:05", "quantity": "2"},
    {"txn_date": "2026-11-19", "txn_time": "23:59:59", "quantity": "3"},
    {"txn_date": "2026-11-20", "txn_time": "00:10:00", "quantity": "4"},
    {"txn_date": "2026-11-20", "txn_time": "07:05:00", "quantity": "5"}],
    err)
rejected("ISO timestamps", err, "iso.csv", 7, "bad_date",
         'txn_date (column "Sold At"): "2026-11-19T25:00:00" is not a real date and time')
rejected("ISO timestamps", err, "iso.csv", 8, "bad_date",
         'txn_date (column "Sold At"): "19/11/2026 08:15" does not match "ISO 8601')
rejected("ISO timestamps", err, "iso.csv", 9, "bad_date",
         'txn_date (column "Sold At"): "2026-11-19" does not match "ISO 8601')
ok(rc == 1, "ISO timestamps: try exits 1 (rows rejected)")

# the same with a given format, 12-hour clock; and date reading a time
c = conf("us", BASE + ['txn_date = column "Sold" datetime "%m/%d/%Y %I:%M %p"',
                       'quantity = column "Qty" decimal'])
recs, err, rc = try_(c, "Store,UPC,Sold,Qty\n"
                     "1,041000001239,11/19/2026 8:15 PM,1\n"
                     "1,041000001239,11/19/2026 12:01 am,1\n"
                     "1,041000001239,11/19/2026 13:01 PM,1\n", "us.csv")
check("12-hour date-times", recs, [
    {"txn_date": "2026-11-19", "txn_time": "20:15:00"},
    {"txn_date": "2026-11-19", "txn_time": "00:01:00"}], err)
rejected("12-hour date-times", err, "us.csv", 4, "bad_date",
         "is not a real date and time")
c = conf("dt", BASE + ['txn_date = column "Sold" date "%Y-%m-%d %H:%M:%S"',
                       'quantity = column "Qty" decimal'])
recs, err, rc = try_(c, "Store,UPC,Sold,Qty\n"
                     "1,041000001239,2026-11-19 08:15:05,1\n", "dt.csv")
check("date with %H:%M:%S", recs,
      [{"txn_date": "2026-11-19", "txn_time": None}], err)

# --- 2. Negatives: trailing sign, parentheses, a leading plus -------
c = conf("signs", BASE + [
    'txn_date = const "2026-11-21"',
    'quantity = column "Units" decimal sign=trailing',
    'amount = column "Sales" decimal sign=parens group=","'])
data = ("Store,UPC,Units,Sales\n"
        "1,041000001239,12,\"1,234.50\"\n"
        "1,041000001239,12-,(7.50)\n"
        "1,041000001239,7.50-,-2.00\n"
        "1,041000001239,3+,+4.10\n"
        "1,041000001239,-3,1\n"                # line 6: a leading sign
        "1,041000001239,3,7.50-\n")            # line 7: not parens
recs, err, rc = try_(c, data, "signs.csv")
check("signed numbers", recs, [
    {"quantity": "12", "amount": "1234.50"},
    {"quantity": "-12", "amount": "-7.50"},
    {"quantity": "-7.50", "amount": "-2.00"},
    {"quantity": "3", "amount": "4.10"}], err)
rejected("signed numbers", err, "signs.csv", 6, "bad_decimal",
         'quantity (column "Units"): "-3" is not an exact decimal as mapped: it has a '
         'leading sign: decimal without sign= reads it')
rejected("signed numbers", err, "signs.csv", 7, "bad_decimal",
         'amount (column "Sales"): "7.50-" is not an exact decimal as mapped: it has a '
         'trailing sign: decimal sign=trailing reads it')
# without the option: the returns are rejected, and told which option
c = conf("nosign", BASE + ['txn_date = const "2026-11-21"',
                           'quantity = column "Units" decimal',
                           'amount = column "Sales" decimal'])
recs, err, rc = try_(c, "Store,UPC,Units,Sales\n"
                     "1,041000001239,12-,1\n1,041000001239,1,(7.50)\n"
                     "1,041000001239,1,\"1,234.50\"\n"
                     "1,041000001239,1,\"7,50\"\n1,041000001239,1,$5\n",
                     "nosign.csv")
ok(recs == [], "no option: nothing is guessed", recs)
rejected("no option", err, "nosign.csv", 2, "bad_decimal",
         "decimal sign=trailing reads it")
rejected("no option", err, "nosign.csv", 3, "bad_decimal",
         "decimal sign=parens reads it")
rejected("no option", err, "nosign.csv", 4, "bad_decimal",
         'decimal group="," reads it')
rejected("no option", err, "nosign.csv", 5, "bad_decimal",
         'decimal point="," reads it')
rejected("no option", err, "nosign.csv", 6, "bad_decimal",
         "a currency sign")

# --- 3. Thousands separators in both conventions ---------------------
# the delimiter is ';' in this feed
c = conf("eu", BASE + ['txn_date = const "2026-11-21"',
                       'quantity = column "Units" decimal group="." point=","',
                       'amount = column "Sales" decimal group=" " point=","'],
         "currency = EUR\n[parse]\ndelimiter = semicolon\n")
recs, err, rc = try_(c, "Store;UPC;Units;Sales\n"
                     "1;4006381333931;1.234;1 234,50\n"
                     "1;4006381333931;2,5;0,99\n"
                     "1;4006381333931;1.234,5;12\n"
                     "1;4006381333931;1,234.5;12\n", "eu.csv")
check("1.234,50 convention", recs, [
    {"gtin": "04006381333931", "quantity": "1234", "amount": "1234.50"},
    {"quantity": "2.5", "amount": "0.99"},
    {"quantity": "1234.5", "amount": "12.00"}], err)
rejected("1.234,50 convention", err, "eu.csv", 5, "bad_decimal",
         'quantity (column "Units"): "1,234.5" is not an exact decimal')
# French exports group with a no-break space: 0xA0 in Windows-1252
# (U+00A0 once decoded), U+202F (narrow) in UTF-8; group=" " reads both
c = conf("fr", BASE + ['txn_date = const "2026-11-21"',
                       'quantity = column "Units" decimal group=" " point=","',
                       'amount = column "Sales" decimal group=" " point=","'],
         "currency = EUR\n[parse]\ndelimiter = semicolon\n"
         "[decode]\nencoding = windows-1252\n")
recs, err, rc = try_(c, b"Store;UPC;Units;Sales\n"
                     b"1;4006381333931;1\xa0234;12\xa0345\xa0678,90\n"
                     b"1;4006381333931;2;1\xa023,5\n", "fr.csv")
check("no-break space groups, windows-1252", recs, [
    {"quantity": "1234", "amount": "12345678.90"}], err)
rejected("no-break space groups, windows-1252", err, "fr.csv", 3,
         "bad_decimal", 'amount (column "Sales"): "1\\xc2\\xa023,5" is not an exact decimal')
# the same export under encoding = auto: not UTF-8, so read again as
# windows-1252, the same records; try says what it was read as, which
# the records do not
c = conf("frauto", BASE + ['txn_date = const "2026-11-21"',
                           'quantity = column "Units" decimal group=" " '
                           'point=","'],
         "currency = EUR\n[parse]\ndelimiter = semicolon\n")
recs, err, rc = try_(c, b"Store;UPC;Units\n1;4006381333931;1\xa0234\n",
                     "frauto.csv")
check("encoding = auto on a Windows-1252 export", recs,
      [{"quantity": "1234"}], err)
ok("%s: decoded as windows-1252 (encoding = auto)\n"
   % os.path.join(tmp, "frauto.csv") in err,
   "encoding = auto: try says the file was decoded as windows-1252", err)
recs, err, rc = try_(c, "Store;UPC;Units\n1;4006381333931;1\u00a0234\n",
                     "frauto8.csv")
ok(len(recs) == 1 and "decoded as" not in err,
   "encoding = auto: nothing said of a file read as UTF-8", err)
c = conf("fr8", BASE + ['txn_date = const "2026-11-21"',
                        'quantity = column "Units" decimal group=" "'],
         "[decode]\nencoding = utf-8\n")
recs, err, rc = try_(c, "Store,UPC,Units\n1,4006381333931,1\u202f234\n",
                     "fr8.csv")
check("narrow no-break space groups, UTF-8", recs, [{"quantity": "1234"}],
      err)

# --- 4. Implied decimals and cents ----------------------------------
c = conf("implied", BASE + ['txn_date = const "2026-11-21"',
                            'quantity = column "Units" decimal implied=3',
                            'amount = column "Cents" decimal cents'])
recs, err, rc = try_(c, "Store,UPC,Units,Cents\n"
                     "1,041000001239,1500,1250\n"
                     "1,041000001239,0005,-5\n"
                     "1,041000001239,1,12.50\n", "implied.csv")
check("implied decimals", recs, [
    {"quantity": "1.500", "amount": "12.50"},
    {"quantity": "0.005", "amount": "-0.05"}], err)
rejected("implied decimals", err, "implied.csv", 4, "bad_decimal",
         "has a decimal mark, but implied= says it has none")
c = conf("yen", BASE + ['txn_date = const "2026-11-21"',
                        'quantity = column "Units" decimal',
                        'amount = column "Cents" decimal cents'],
         "currency = JPY\n")
recs, err, rc = try_(c, "Store,UPC,Units,Cents\n1,041000001239,1,1250\n",
                     "yen.csv")
check("cents in a currency without minor units", recs,
      [{"amount": "1250"}], err)

# --- 5. GTINs as exported in the wild -------------------------------
def gtins(name, opts, rows):
    c = conf(name, ['store_id = column "Store"',
                    'gtin = column "UPC" gtin' + opts,
                    'txn_date = const "2026-11-21"',
                    'quantity = column "Units" decimal'])
    # a store a row: equal codes are two records, not one key twice
    return try_(c, "Store,UPC,Units\n" + "".join(
        "%d,%s,1\n" % (i, r) for i, r in enumerate(rows)), name + ".csv")


recs, err, rc = gtins("upce", " upce", ["04252614", "425261", "041000001239",
                                        "04252615", "24252614"])
check("UPC-E", recs, [{"gtin": "00042100005264"}, {"gtin": "00042100005264"},
                      {"gtin": "00041000001239"}], err)
rejected("UPC-E", err, "upce.csv", 5, "gtin_check_digit", '"04252615" is '
         'not a valid GTIN (gtin_check_digit: check digit 5, expected 4)')
rejected("UPC-E", err, "upce.csv", 6, "gtin_upce", '"24252614"')
recs, err, rc = gtins("nocheck", " nocheck", ["04100000123", "400638133393",
                                              "9638507", "0410000012"])
check("missing check digits", recs, [
    {"gtin": "00041000001239"}, {"gtin": "04006381333931"},
    {"gtin": "00000096385074"}], err)
rejected("missing check digits", err, "nocheck.csv", 5, "gtin_length",
         '"0410000012"')
recs, err, rc = gtins("pad", " pad", ["41000001239", "96385074", "41000001238"])
check("leading zeros lost", recs, [{"gtin": "00041000001239"},
                                   {"gtin": "00000096385074"}], err)
rejected("leading zeros lost", err, "pad.csv", 4, "gtin_check_digit",
         '"41000001238" is not a valid GTIN (gtin_check_digit: check digit '
         '8, expected 9)')
recs, err, rc = gtins("plain", "", ["41000001239", "425261"])
ok(recs == [], "no gtin option: nothing is guessed", recs)
rejected("no gtin option", err, "plain.csv", 2, "gtin_length",
         "(gtin nocheck) or with a leading zero lost (gtin pad)")
rejected("no gtin option", err, "plain.csv", 3, "gtin_length",
         "a UPC-E (gtin upce)")

# --- 6. A transaction-level feed keyed by txn_ref, through `once` ----
TXN = ['store_id = column "Store" substr 1 4',
       'gtin = column "PLU UPC" gtin',
       'txn_date = column "Date" date "%Y%m%d"',
       'txn_time = column "Time" datetime "%H%M%S"',
       'txn_ref = column "Ticket" regex "^T-([0-9]+)$"',
       'quantity = column "Qty" decimal sign=trailing',
       'amount = column "Net" decimal implied=2 sign=trailing',
       'uom = column "U" values "E=EA, C=CS"',
       'promo_code = column "Promo" trim default "NONE"',
       'key = store_id, gtin, txn_date, txn_ref']
c = conf("txn", TXN)
data = ("Store,PLU UPC,Date,Time,Ticket,Qty,Net,U,Promo\n"
        "0042-North,041000001239,20261119,081505,T-1001,1,399,E,\n"
        "0042-North,041000001239,20261119,091000,T-1002,1,399,E,TPR7\n"
        "0042-North,041000001239,20261119,091500,T-1003,1-,399-,E,\n"
        "0042-North,041000001239,20261119,250000,X1004,1,399,Q,\n")
recs, err, rc = try_(c, data, "txn.csv")
check("transaction-level feed", recs, [
    {"store_id": "0042", "gtin": "00041000001239", "txn_date": "2026-11-19",
     "txn_time": "08:15:05", "txn_ref": "1001", "quantity": "1",
     "amount": "3.99", "uom": "EA", "promo_code": "NONE"},
    {"store_id": "0042", "txn_time": "09:10:00", "txn_ref": "1002",
     "amount": "3.99", "promo_code": "TPR7"},
    {"txn_time": "09:15:00", "txn_ref": "1003", "quantity": "-1",
     "amount": "-3.99"}], err)
ok(len(recs) == 3 and len({r["record_key"] for r in recs}) == 3,
   "two sales of one item on one day are two records: distinct "
   "record_keys by txn_ref")
# every bad field of row 5 is told, each with its code
pre = os.path.join(tmp, "txn.csv") + ":5: tier 3 bad_time: "
line = [l for l in err.splitlines() if l.startswith(pre)]
ok(len(line) == 1 and 'txn_time (column "Time"): "250000" is not a real date and time' in
   line[0] and '(bad_time)' in line[0] and
   'txn_ref (column "Ticket"): "X1004" does not match regex' in line[0] and
   '(regex_no_match)' in line[0] and
   'uom (column "U"): "Q" is not in values "E=EA, C=CS" (unknown_value)' in line[0],
   "a row with three bad fields: all three reported, each with its code",
   err)

# the same drop through once: delivered records and the dead-letter line
state = os.path.join(tmp, "txn.state")
os.makedirs(os.path.join(state, "landing"))
with open(os.path.join(state, "landing", "txn.csv"), "w") as f:
    f.write(data)
p = subprocess.run([td, "once", "-c", c], capture_output=True)
ok(p.returncode == 1, "once: exits 1 (a row dead-lettered)",
   p.stderr.decode())
out = os.path.join(tmp, "txn.out")
got = []
for d in sorted(os.listdir(out)) if os.path.isdir(out) else []:
    for b in sorted(os.listdir(os.path.join(out, d))):
        if b.startswith("batch-"):
            got += [json.loads(l) for l in
                    gzip.open(os.path.join(out, d, b)).read().splitlines()]
ok(got == recs, "once delivers exactly the records try showed",
   json.dumps(got)[:2000])
dlq = [json.loads(l) for d in [os.path.join(state, "dlq")]
       for f in sorted(os.listdir(d)) for l in open(os.path.join(d, f))]
ok(len(dlq) == 1 and dlq[0]["code"] == "bad_time" and
   dlq[0]["source"]["line"] == 5 and
   "(regex_no_match)" in dlq[0]["message"] and
   "(unknown_value)" in dlq[0]["message"] and
   dlq[0]["raw"].startswith("0042-North,041000001239,20261119,250000"),
   "the dead-letter line has every bad field of the row", dlq)
ok(all(r["txn_ref"] is not None and r["txn_time"] is not None for r in got),
   "txn_time and txn_ref reach the receiver")

ok(len(dlq) == 1 and dlq[0]["message"].startswith(
   'txn_time (column "Time"): "250000" is not a real date and time'),
   "the dead letter's message names the retailer's column, not only the "
   "field", dlq)

# --- 7. A rejection names the retailer's column ------------------------
# the operator has the retailer's file open, not our schema: each bad
# field is named with the column it was read from, by header name or by
# number as the mapping reads it
c = conf("cols", ['store_id = column 1', 'gtin = column "Item UPC" gtin',
                  'txn_date = const "2026-11-21"',
                  'quantity = column 4 decimal'])
recs, err, rc = try_(c, "Store,Desc,Item UPC,Units\n1,a,041000001239,x\n"
                     "2,b,0410000012,3\n", "cols.csv")
pre = os.path.join(tmp, "cols.csv")
got = [l for l in err.splitlines() if ": tier 3 " in l]
want = [pre + ':2: tier 3 bad_decimal: quantity (column 4): "x" is not an '
        'exact decimal',
        pre + ':3: tier 3 gtin_length: gtin (column "Item UPC"): '
        '"0410000012" is not a valid GTIN (gtin_length: leading zeros lost '
        '(gtin pad)?)']
ok(recs == [] and got == want, "a rejection names the field and its "
   "column: by header name, or by number", "got %s\nwant %s" % (got, want))

# --- 8. The configuration errors name FILE:LINE ------------------------
for bad, why in [
        ('amount = column "A" decimal sign=minus',
         "decimal: sign= is leading, trailing or parens"),
        ('txn_ref = column "T" regex "(a"', "regex: "),
        ('txn_ref = column "T" regex "(a)\\\\1"', "back-references"),
        # glibc would compile 300 copies, and match slowly
        ('txn_ref = column "T" regex "(a?){300}"', "repetitions make more "
         "than 256 copies of its parts"),
        # ... and 2^24 copies here: minutes and gigabytes to compile
        ('txn_ref = column "T" regex "a' + "+" * 24 + '"', "repetitions "
         "make more than 256 copies of its parts"),
        ('uom = column "U" values "E=EA, E=CS"', '"E" is given twice'),
        ('promo_code = column "P" datetime', "datetime fills only "
         "txn_date and txn_time"),
        ('txn_time = column "T" date "%Y%m%d"', "txn_time: date reads no "
         "time")]:
    c = conf("bad", BASE + ['txn_date = const "2026-11-21"',
                            'quantity = column "Q" decimal', bad])
    p = subprocess.run([td, "check", "-c", c], capture_output=True)
    e = p.stderr.decode()
    ok(p.returncode == 2 and (c + ":12:") in e and why in e,
       "check refuses %r at FILE:LINE: %s" % (bad, why), e)
good = 'txn_ref = column "T" regex "^([A-Z]{1,16}){1,15}-[[:digit:]]{13}$"'
c = conf("good", BASE + ['txn_date = const "2026-11-21"',
                         'quantity = column "Q" decimal', good])
p = subprocess.run([td, "check", "-c", c], capture_output=True)
ok(p.returncode == 0, "check takes %r: 254 copies" % good, p.stderr.decode())

done()
PY
