#!/bin/sh
# semantics.sh - what the records mean to trade finance, through `try`
# and `once`: the fiscal object in the Gregorian and the retail 4-5-4,
# 4-4-5 and 5-4-4 calendars (the NRF rule and a year_start), over year
# boundaries and a 53-week year; period = week_ending and week_starting.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
exec $PY - "$TRADEDROP" "$T_TMP" "$srcdir" <<'PY'
import json, os, subprocess, sys

td, tmp = os.path.abspath(sys.argv[1]), sys.argv[2]
sys.path.insert(0, os.path.join(sys.argv[3], "tests", "lib"))
from tdtap import ok, done  # noqa: E402


def conf(name, maplines, extra=""):
    path = os.path.join(tmp, name + ".conf")
    with open(path, "w") as f:
        f.write("[integration]\nname = acme\nstate_dir = %s/%s.state\n"
                "max_reject_ratio = 1\n[output]\nurl = file://%s/%s.out\n[map]\n%s\n%s" %
                (tmp, name, tmp, name, "\n".join(maplines), extra))
    return path


def try_(cfg, data, fname):
    path = os.path.join(tmp, fname)
    with open(path, "w") as f:
        f.write(data)
    p = subprocess.run([td, "try", "-c", cfg, path], capture_output=True)
    return ([json.loads(l) for l in p.stdout.decode().splitlines() if l],
            p.stderr.decode(), p.returncode)


MAP = ['store_id = column "Store"', 'gtin = column "UPC" gtin',
       'txn_date = column "Date" date "%Y-%m-%d"',
       'quantity = column "Units" decimal']


def fiscal_of(cal, dates, period="day"):
    c = conf("cal", MAP + ["period = " + period], cal)
    recs, err, rc = try_(c, "Store,UPC,Date,Units\n" + "".join(
        "1,041000001239,%s,1\n" % d for d in dates), "cal.csv")
    return recs, err


# --- the NRF 4-5-4 calendar (the default anchor), published dates -------
days = {
    # fiscal 2023: 2023-01-29 .. 2024-02-03, 53 weeks, the 53rd in January
    "2023-01-28": (2022, 4, 12, 52), "2023-01-29": (2023, 1, 1, 1),
    "2023-02-25": (2023, 1, 1, 4), "2023-02-26": (2023, 1, 2, 5),
    "2023-04-01": (2023, 1, 2, 9), "2023-04-02": (2023, 1, 3, 10),
    "2023-11-26": (2023, 4, 11, 44), "2023-12-30": (2023, 4, 11, 48),
    "2023-12-31": (2023, 4, 12, 49), "2024-02-03": (2023, 4, 12, 53),
    "2024-02-04": (2024, 1, 1, 1),
    # fiscal 2025 ends 2026-01-31; fiscal 2026 starts 2026-02-01
    "2026-01-31": (2025, 4, 12, 52), "2026-02-01": (2026, 1, 1, 1),
    "2026-11-21": (2026, 4, 10, 42),
}
recs, err = fiscal_of("[calendar]\ntype = 454\n", list(days))
got = {r["txn_date"]: tuple(r["fiscal"][k] for k in
                            ("year", "quarter", "period", "week"))
       for r in recs}
ok(got == days, "4-5-4 (NRF rule): fiscal year, quarter, period and week "
   "of published dates, the 53rd week of 2023 in period 12",
   json.dumps({d: (got.get(d), days[d]) for d in days if got.get(d) != days[d]})
   + err)

# --- 4-4-5 and 5-4-4: the periods of fiscal 2023's quarter 1 -------------
for typ, want in (("445", {"2023-02-25": 1, "2023-03-25": 2, "2023-03-26": 3,
                           "2023-04-29": 3, "2023-04-30": 4}),
                  ("544", {"2023-03-04": 1, "2023-03-05": 2, "2023-04-01": 2,
                           "2023-04-02": 3, "2023-04-30": 4})):
    recs, err = fiscal_of("[calendar]\ntype = %s\n" % typ, list(want))
    got = {r["txn_date"]: r["fiscal"]["period"] for r in recs}
    ok(got == want, "%s: periods of fiscal 2023" % typ, (got, want, err))

# --- a year_start late in December ---------------------------------------
recs, err = fiscal_of("[calendar]\ntype = 445\nyear_start = 2025-12-28\n",
                      ["2025-12-27", "2025-12-28", "2026-12-26", "2026-12-27"])
got = [(r["txn_date"], r["fiscal"]["year"], r["fiscal"]["week"]) for r in recs]
ok(got == [("2025-12-27", 2025, 52), ("2025-12-28", 2026, 1),
           ("2026-12-26", 2026, 52), ("2026-12-27", 2027, 1)],
   "year_start 2025-12-28: years named by most of their days, the next "
   "starting on the Sunday nearest 28 December", (got, err))

# --- Gregorian (the default) ----------------------------------------------
recs, err = fiscal_of("", ["2026-11-28", "2024-12-31"])
ok([r["fiscal"] for r in recs] == [
    {"year": 2026, "quarter": 4, "period": 11, "week": 48},
    {"year": 2024, "quarter": 4, "period": 12, "week": 53}],
   "gregorian: calendar year, quarter, month, week from 1 January", recs)

# --- period: week_ending and week_starting -------------------------------
recs, err = fiscal_of("[calendar]\ntype = 454\n", ["2026-01-31"], "week_ending")
ok([(r["txn_date"], r["period_start"], r["fiscal"]["year"]) for r in recs] ==
   [("2026-01-31", "2026-01-25", 2025)],
   "week_ending: period_start is txn_date - 6", (recs, err))
recs, err = fiscal_of("[calendar]\ntype = 454\n", ["2026-01-25", "2026-02-01"],
                      "week_starting")
ok([(r["txn_date"], r["period_start"], r["fiscal"]["year"],
     r["fiscal"]["week"]) for r in recs] ==
   [("2026-01-31", "2026-01-25", 2025, 52), ("2026-02-07", "2026-02-01", 2026, 1)],
   "week_starting: the date starts the week, txn_date is its last day, "
   "and the fiscal week is that of the week", (recs, err))
recs, err = fiscal_of("", ["2026-11-28"])
ok(recs and recs[0]["period_start"] is None, "period = day: no period_start")

# --- crosswalk_file: a PLU reused for another product, by date ----------
def table(name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


xw = table("items.csv", "retailer_item_id,gtin,effective_from,effective_to\n"
           "4011,041000001239,,2026-06-30\n"
           "4011,4006381333931,2026-07-01,\n"
           " 77 , 96385074 ,,\n")
XMAP = ['store_id = column "Store"', 'retailer_item_id = column "PLU"',
        'txn_date = column "Date" date "%Y-%m-%d"',
        'quantity = column "Units" decimal', "crosswalk_file = " + xw]
c = conf("xw", XMAP)
data = ("Store,PLU,Date,Units\n1,4011,2026-06-30,1\n1,4011,2026-07-01,1\n"
        "1,77,2020-01-01,1\n1,999,2026-07-01,1\n1,,2026-07-01,1\n")
recs, err, rc = try_(c, data, "xw.csv")
ok([(r["retailer_item_id"], r["gtin"]) for r in recs] ==
   [("4011", "00041000001239"), ("4011", "04006381333931"),
    ("77", "00000096385074")],
   "crosswalk: no gtin column, the GTIN looked up by the PLU as of the "
   "sale date (a PLU reused on 2026-07-01)", (recs, err))
p = os.path.join(tmp, "xw.csv")
ok(("%s:5: tier 3 unmapped_item: retailer_item_id (column \"PLU\"): item "
    "\"999\" is not in "
    "crosswalk_file on 2026-07-01" % p) in err, "an item the crosswalk does "
   "not have is unmapped_item", err)
ok(("%s:6: tier 3 empty_value: gtin is empty, and so is the retailer_item_id"
    " (column \"PLU\") to look it up by" % p) in err,
   "no gtin and no item id: empty_value", err)
c = conf("xw2", ['store_id = column "Store"', 'gtin = column "UPC" crosswalk',
                 'txn_date = column "Date" date "%Y-%m-%d"',
                 'quantity = column "Units" decimal', "crosswalk_file = " + xw])
recs, err, rc = try_(c, "Store,UPC,Date,Units\n1,4011,2026-07-02,1\n",
                     "xw2.csv")
ok([r["gtin"] for r in recs] == ["04006381333931"],
   "the crosswalk transform on a column", (recs, err))
p = subprocess.run([td, "check", "-c", c], capture_output=True)
ok(p.returncode == 0 and ("crosswalk_file %s: 3 rows, " % xw) in
   p.stdout.decode() and "KiB of memory" in p.stdout.decode(),
   "check prints the crosswalk's rows and memory", p.stdout.decode())
for text, why in (
        ("retailer_item_id,gtin\n4011,041000001239\n4011,041000001239\n",
         'items.csv:3: "4011" is also on line 2 for all dates'),
        ("retailer_item_id,gtin,effective_from,effective_to\n"
         "4011,041000001239,2026-01-01,2026-07-01\n"
         "4011,4006381333931,2026-07-01,\n",
         'items.csv:3: "4011" is also on line 2 for overlapping dates'),
        ("retailer_item_id,gtin\n4011,041000001238\n",
         'items.csv:2: gtin "041000001238" is not a valid GTIN '
         '(gtin_check_digit: check digit 8, expected 9)'),
        ("retailer_item_id,gtin,from\n", 'items.csv:1: unknown column "from"'),
        ("item,gtin\n", 'items.csv:1: unknown column "item"'),
        ("retailer_item_id,gtin,effective_from\n4011,041000001239,1/7/26\n",
         'items.csv:2: effective_from: "1/7/26" is not a date YYYY-MM-DD')):
    table("items.csv", text)
    p = subprocess.run([td, "check", "-c", c], capture_output=True)
    ok(p.returncode == 2 and why in p.stderr.decode(),
       "check refuses a bad crosswalk: " + why, p.stderr.decode())
table("items.csv", "retailer_item_id,gtin\n4011,041000001239\n")

# an X12 852 whose LIN has only the retailer's item number: crosswalked
x12 = ("ISA*00*          *00*          *ZZ*RETAILER       *ZZ*ACMECPG        "
       "*261130*0930*U*00401*000000101*0*P*>~GS*PD*RETAILER*ACMECPG*20261130*"
       "0930*101*X*004010~ST*852*0001~XQ*H*20261122*20261128~"
       "N1*RL*ACME MART*92*0001~LIN*1*IN*4011~ZA*QS*30*EA~"
       "LIN*2*IN*999~ZA*QS*1*EA~SE*8*0001~GE*1*101~IEA*1*000000101~")
table("items.csv", "retailer_item_id,gtin\n4011,041000001239\n")
cx = os.path.join(tmp, "x12.conf")
with open(cx, "w") as f:
    f.write("[integration]\nname = acme\nstate_dir = %s/x12.state\n"
            "max_reject_ratio = 1\n[parse]\nformat = x12\n[map]\n"
            "crosswalk_file = %s\n" % (tmp, xw))
recs, err, rc = try_(cx, x12, "inv.x12")
ok([(r["retailer_item_id"], r["gtin"], r["store_id"], r["quantity"])
    for r in recs] == [("4011", "00041000001239", "0001", "30")] and
   "tier 3 unmapped_item: retailer_item_id: item \"999\" is not in "
   "crosswalk_file" in err,
   "X12: a LIN with only IN is crosswalked; an item not in the file is "
   "unmapped_item", (recs, err))

# --- promo_file: codes to promotions, windows and discounts ---------------
pf = table("promos.csv", "promo_code,promo_id,promo_type,valid_from,valid_to,"
           "discount\nTPR7,P-100,tpr,2026-11-01,2026-11-30,10%\n"
           "BOGO1,P-200,bogo,,,0.50\nDISP,P-300,display,,,\n")
PMAP = ['store_id = column "Store"', 'gtin = column "UPC" gtin',
        'txn_date = column "Date" date "%Y-%m-%d"',
        'quantity = column "Units" decimal', 'amount = column "Net" decimal',
        'promo_code = column "Promo"', "promo_file = " + pf]
c = conf("promo", PMAP + ["key = store_id, gtin, txn_date, promo_code, "
                          "quantity, amount"])
recs, err, rc = try_(c, "Store,UPC,Date,Units,Net,Promo\n"
                     "1,041000001239,2026-11-21,1,19.99,TPR7\n"
                     "1,041000001239,2026-12-05,1,19.99,TPR7\n"
                     "1,041000001239,2026-12-05,3,10.00,BOGO1\n"
                     "1,041000001239,2026-12-05,-2,-5.00,BOGO1\n"
                     "1,041000001239,2026-12-05,1,5.00,DISP\n"
                     "1,041000001239,2026-12-05,1,5.00,XX9\n"
                     "1,041000001239,2026-12-05,1,5.00,\n", "promo.csv")
got = [(r["promo_code"], r["promo_id"], r["promo_type"], r["discount_amount"])
       for r in recs]
ok(got == [("TPR7", "P-100", "tpr", "2.00"), ("TPR7", None, None, None),
           ("BOGO1", "P-200", "bogo", "1.50"),
           ("BOGO1", "P-200", "bogo", "-1.00"),
           ("DISP", "P-300", "display", None), ("XX9", None, None, None),
           (None, None, None, None)],
   "promo_file: id and type in the window, 10% of 19.99 is 2.00 (rounded "
   "half away from zero), 0.50 a unit, outside the window or unknown: "
   "the code kept, promo_id null, never dropped", (got, err))
ok(rc == 0, "unknown promotions are not rejections: try exits 0", err)
for text, why in (
        ("promo_code,promo_id,promo_type\nX,P,sale\n",
         'promos.csv:2: promo_type "sale" is not tpr, bogo'),
        ("promo_code,promo_id,promo_type,discount\nX,P,tpr,110%\n",
         'promos.csv:2: discount "110%" is neither'),
        ("promo_code,promo_id\nX,P\n",
         'promos.csv:1: the header has no column "promo_type"')):
    table("promos.csv", text)
    p = subprocess.run([td, "check", "-c", c], capture_output=True)
    ok(p.returncode == 2 and why in p.stderr.decode(),
       "check refuses a bad promo_file: " + why, p.stderr.decode())

# --- key: meaningful with and without a promo_file ------------------------
def keys(maplines, data):
    # each row in a file of its own: one key twice in a file is
    # duplicate_key_in_file, across files it is compared by Tier 4
    c = conf("key", maplines)
    head, *rows = data.splitlines(True)
    paths = []
    for i, row in enumerate(rows):
        paths.append(os.path.join(tmp, "key%d.csv" % i))
        with open(paths[-1], "w") as f:
            f.write(head + row)
    p = subprocess.run([td, "try", "-c", c] + paths, capture_output=True)
    return [json.loads(l)["record_key"] for l in
            p.stdout.decode().splitlines() if l]


two = ("Store,UPC,Date,Units,Net,Promo\n1,041000001239,2026-11-21,1,1,A\n"
       "1,041000001239,2026-11-21,1,1,B\n")
k = keys(PMAP[:-1], two)
ok(len(k) == 2 and k[0] != k[1], "without promo_file the default key uses "
   "promo_code: two promotions, two keys", k)
table("promos.csv", "promo_code,promo_id,promo_type\nA,P-1,tpr\nB,P-1,tpr\n")
k = keys(PMAP, two)
ok(len(k) == 2 and k[0] == k[1], "with promo_file it uses promo_id: two "
   "codes of one promotion, one key", k)


# check --dump shows the key in use, and the dump, loaded, is the same
# mapping: the same keys and mapping_version (it said promo_id without a
# promo_file, and an operator who wrote that line down changed the key
# under an unchanged mapping_version)
def dumped(maplines, data):
    c = conf("dump", maplines)
    p = subprocess.run([td, "check", "--dump", "-c", c], capture_output=True)
    text = p.stdout.decode()
    line = [l for l in text.splitlines() if l.startswith("key = ")]
    d = os.path.join(tmp, "dumped.conf")
    with open(d, "w") as f:
        f.write(text)
    out = []
    for cfg in (c, d):
        recs, err, rc = try_(cfg, data, "dump.csv")
        out.append([(r["record_key"], r["mapping_version"]) for r in recs])
    return line, out


line, out = dumped(PMAP[:-1], two)
ok(line == ["key = store_id, gtin, txn_date, promo_code"], "check --dump "
   "without promo_file: the key in use, promo_code", line)
ok(len(out[0]) == 2 and out[0] == out[1], "the dump, loaded: the same "
   "record keys and mapping_version as the file it came from", out)
line, out = dumped(PMAP, two.splitlines(True)[0] + two.splitlines(True)[1])
ok(line == ["key = store_id, gtin, txn_date, promo_id"], "check --dump "
   "with promo_file: promo_id", line)
ok(len(out[0]) == 1 and out[0] == out[1], "and the dump, loaded, the same "
   "again", out)

# --- mapping_version ------------------------------------------------------
def version(maplines, extra=""):
    recs, err, rc = try_(conf("ver", maplines, extra),
                         "Store,UPC,Date,Units,Net,Promo\n"
                         "1,041000001239,2026-11-21,1,1,A\n", "ver.csv")
    return recs[0]["mapping_version"] if recs else err


v0 = version(PMAP)
ok(version(PMAP[:-1]) != version(PMAP[:-1] + ["key = store_id, gtin, "
   "txn_date, promo_id"]), "mapping_version: another when the key is "
   "promo_id (null without a promo_file) rather than the default's "
   "promo_code")
ok(version(list(reversed(PMAP))) == v0, "mapping_version: the same when the "
   "keys of [map] are in another order")
ok(version([l.replace(" = ", "   =   ") + "   ; a comment" for l in PMAP])
   == v0, "mapping_version: the same with other blanks and comments")
table("promos.csv", "promo_code,promo_id,promo_type\nA,P-1,tpr\nB,P-2,tpr\n")
v1 = version(PMAP)
ok(v1 != v0, "mapping_version: another when promo_file's contents change")
ok(version(PMAP[:-1] + ["promo_file = " + table("p2.csv", open(pf).read())])
   == v1, "mapping_version: the same for the same contents at another path")
ok(version(PMAP, "[calendar]\ntype = 454\n") != v1,
   "mapping_version: another with another calendar")

# --- archive/mappings keeps every mapping state used ----------------------
import gzip, hashlib  # noqa: E402
c = conf("arch", XMAP[:-1] + ["crosswalk_file = " + xw])
state = os.path.join(tmp, "arch.state")
os.makedirs(os.path.join(state, "landing"))
with open(os.path.join(state, "landing", "a.csv"), "w") as f:
    f.write("Store,PLU,Date,Units\n1,4011,2026-07-01,1\n")
p = subprocess.run([td, "once", "-c", c], capture_output=True)
out = os.path.join(tmp, "arch.out")
recs = [json.loads(l) for d in os.listdir(out) for b in
        sorted(os.listdir(os.path.join(out, d))) if b.startswith("batch-")
        for l in gzip.open(os.path.join(out, d, b)).read().splitlines()]
ver = recs[0]["mapping_version"] if recs else None
md = os.path.join(state, "archive", "mappings", str(ver))
txt = open(os.path.join(md, "mapping.txt"), "rb").read() \
    if os.path.isfile(os.path.join(md, "mapping.txt")) else b""
ok(p.returncode == 0 and len(recs) == 1 and
   hashlib.sha256(txt).hexdigest() == ver and
   open(os.path.join(md, "crosswalk.csv"), "rb").read() ==
   open(xw, "rb").read(),
   "archive/mappings/MAPPING_VERSION holds what mapping_version hashes and "
   "the crosswalk as read", (p.stderr.decode(), ver, os.listdir(
       os.path.join(state, "archive"))))
table("items.csv", "retailer_item_id,gtin\n4011,4006381333931\n")
with open(os.path.join(state, "landing", "b.csv"), "w") as f:
    f.write("Store,PLU,Date,Units\n1,4011,2026-07-02,1\n")
p = subprocess.run([td, "once", "-c", c], capture_output=True)
ok(p.returncode == 0 and
   len(os.listdir(os.path.join(state, "archive", "mappings"))) == 2 and
   os.path.isdir(md), "a changed crosswalk: a second mapping state beside the "
   "first", p.stderr.decode())

# --- check refuses what cannot be a calendar -------------------------------
for extra, why in (("[calendar]\nyear_start = 2026-02-01\n",
                    "year_start needs a retail calendar"),
                   ("[calendar]\ntype = 454\nyear_start = 2028-02-29\n",
                    "29 February has no day in most years"),
                   ("[calendar]\ntype = 453\n", "type = 453")):
    c = conf("bad", MAP, extra)
    p = subprocess.run([td, "check", "-c", c], capture_output=True)
    ok(p.returncode == 2 and why in p.stderr.decode(),
       "check refuses: %s" % why, p.stderr.decode())

# --- a row with more fields than the header ---------------------------------
# An unquoted thousands separator splits a value in two and moves every
# field after it: amount read "1" from "1,234.56", or the quantity's
# neighbour. Such a row is dead-lettered (extra_field), never delivered
# with another column's value; extra_fields = empty takes a row that only
# ends with a delimiter.
AMAP = MAP + ['amount = column "Net" decimal thousands',
               'promo_code = column "Promo"']
HEAD = "Store,UPC,Date,Units,Net,Promo\n"
shifted = (HEAD + "1,041000001239,2026-11-21,1,1,234.56,\n"
           "1,041000001239,2026-11-22,2,200,2400.00,\n"
           "1,041000001239,2026-11-23,3,\"1,234.56\",X\n")
recs, err, rc = try_(conf("extra", AMAP), shifted, "extra.csv")
ok([(r["txn_date"], r["amount"]) for r in recs] ==
   [("2026-11-23", "1234.56")], "extra fields: only the quoted row is "
   "delivered, with its amount whole", recs)
ok(err.count("tier 3 extra_field: the row has 7 fields, the header 6") == 2
   and "extra.csv:2:" in err and "extra.csv:3:" in err and
   "set extra_fields = empty" in err, "extra fields: each shifted row is "
   "dead-lettered as extra_field, naming its line and the counts", err)
trailing = (HEAD + "1,041000001239,2026-11-21,1,2.50,A,\n"
            "1,041000001239,2026-11-22,2,5.00,,\n"
            "1,041000001239,2026-11-23,3,1,234.56,B\n")
recs, err, rc = try_(conf("extra", AMAP), trailing, "trail.csv")
ok(recs == [] and err.count("tier 3 extra_field") == 3, "extra_fields = reject "
   "(the default): a row ending with a delimiter is rejected too", err)
recs, err, rc = try_(conf("extra", AMAP, "[parse]\nextra_fields = empty\n"),
                     trailing, "trail.csv")
ok([(r["amount"], r["promo_code"]) for r in recs] ==
   [("2.50", "A"), ("5.00", None)] and
   err.count("tier 3 extra_field") == 1 and
   "trail.csv:4:" in err and "set extra_fields" not in err,
   "extra_fields = empty: rows ending with a delimiter are taken, the one "
   "with text past the header's fields is still rejected", err)

# A row with fewer fields than the header: which is missing cannot be
# told; rejected (missing_field) unless short_rows = allow, for exports
# that leave out their empty last fields
short = ("Store,UPC,Date,Units,Net,Promo,Note\n"
         "1,041000001239,2026-11-21,1,2.50,A,x\n"
         "1,041000001239,2026-11-22,2,5.00,B\n")
recs, err, rc = try_(conf("short", AMAP), short, "short.csv")
ok([r["amount"] for r in recs] == ["2.50"] and
   "short.csv:3: tier 3 missing_field: the row has 6 fields, the header 7;"
   in err and "set short_rows = allow" in err, "short_rows = reject (the "
   "default): a row of fewer fields than the header is dead-lettered", err)
recs, err, rc = try_(conf("short", AMAP, "[parse]\nshort_rows = allow\n"),
                     short, "short.csv")
ok([(r["amount"], r["promo_code"]) for r in recs] ==
   [("2.50", "A"), ("5.00", "B")], "short_rows = allow: taken when the "
   "fields it leaves out are not mapped", err)

# --- amounts at the minor unit of the integration's currency --------------
# Padded or trailing zeros dropped to ISO 4217's minor unit, never
# rounded: CLF and UYW have 4 decimals (they were held to 2, so their
# 4-decimal amounts were dead-lettered as amount_scale), KWD 3, JPY 0.
CMAP = ['store_id = column "Store"', 'gtin = column "UPC" gtin',
        'txn_date = column "Date" date "%Y-%m-%d"',
        'quantity = column "Units" decimal', 'amount = column "Net" decimal']


def amounts(cur, nets, maplines=CMAP, head="Store,UPC,Date,Units,Net\n",
            cols=""):
    c = conf("cur", maplines, "[integration]\ncurrency = %s\n" % cur)
    recs, err, rc = try_(c, head + "".join(
        "1,041000001239,2026-11-%02d,1,%s%s\n" % (i + 1, n, cols)
        for i, n in enumerate(nets)), "cur.csv")
    return recs, err


def scale_refused(err, line, cur, net, minor):
    return ("cur.csv:%d: tier 3 amount_scale: amount (column \"Net\"): "
            "\"%s\" has more "
            "decimals than %s allows (%d)" % (line, net, cur, minor)) in err


for cur, nets, want, bad in (
        ("CLF", ["1.2345", "1.5", "2", "-0.0001", "1.23450", "1.23456"],
         ["1.2345", "1.5000", "2.0000", "-0.0001", "1.2345"], [(7, 4)]),
        ("UYW", ["0.0001", "12.3", "0.00005"],
         ["0.0001", "12.3000"], [(4, 4)]),
        ("KWD", ["1.5", "0.125", "1.2340", "1.2345"],
         ["1.500", "0.125", "1.234"], [(5, 3)]),
        ("JPY", ["150", "150.00", "1.5"], ["150", "150"], [(4, 0)]),
        ("EUR", ["1.5", "2", "1.234"], ["1.50", "2.00"], [(4, 2)])):
    recs, err = amounts(cur, nets)
    ok([r["amount"] for r in recs] == want and
       all(r["currency"] == cur for r in recs) and
       all(scale_refused(err, line, cur, nets[line - 2], m)
           for line, m in bad) and err.count("tier 3") == len(bad),
       "%s: amounts %s delivered as %s, %s refused as amount_scale" %
       (cur, nets[:len(want)], want, [nets[l - 2] for l, m in bad]),
       json.dumps([r["amount"] for r in recs]) + "\n" + err)

# decimal cents reads the minor unit's digits: 4 in CLF
recs, err = amounts("CLF", ["12345", "5"], CMAP[:4] + [
    'amount = column "Net" decimal cents'])
ok([r["amount"] for r in recs] == ["1.2345", "0.0005"],
   "CLF: decimal cents reads the last 4 digits as the fraction",
   json.dumps([r["amount"] for r in recs]) + err)

# in JPY cents has no decimals to imply: decimal alone, as the page says
recs, err = amounts("JPY", ["1250", "1250.00", "12.50"], CMAP[:4] + [
    'amount = column "Net" decimal cents'])
ok([r["amount"] for r in recs] == ["1250", "1250"] and
   scale_refused(err, 4, "JPY", "12.50", 0),
   "JPY: decimal cents reads 1250 and 1250.00 as 1250, 12.50 is "
   "amount_scale", json.dumps([r["amount"] for r in recs]) + err)

# a currency column is compared with the integration's, exactly
recs, err = amounts("CLF", ["1.2345", "1.5", "1.5"], CMAP + [
    'currency = column "Cur"'], "Store,UPC,Date,Units,Net,Cur\n", ",CLF")
ok([(r["amount"], r["currency"]) for r in recs] ==
   [("1.2345", "CLF"), ("1.5000", "CLF"), ("1.5000", "CLF")],
   "a currency column of CLF: its amounts at 4 decimals", err)
c = conf("cur", CMAP + ['currency = column "Cur"'],
         "[integration]\ncurrency = KWD\n")
recs, err, rc = try_(c, "Store,UPC,Date,Units,Net,Cur\n"
                     "1,041000001239,2026-11-01,1,1.5,KWD\n"
                     "1,041000001239,2026-11-02,1,1.5,kwd\n"
                     "1,041000001239,2026-11-03,1,1.5,USD\n", "cur.csv")
ok([r["amount"] for r in recs] == ["1.500"] and
   'cur.csv:3: tier 3 currency_mismatch: currency (column "Cur"): "kwd" '
   "is not the "
   "integration's KWD" in err and
   'cur.csv:4: tier 3 currency_mismatch: currency (column "Cur"): "USD" '
   "is not the "
   "integration's KWD" in err, "a currency column other than the "
   "integration's (or in lower case, without upper) is currency_mismatch",
   err)
recs, err, rc = try_(c, "Store,UPC,Date,Units,Net,Cur\n"
                     "1,041000001239,2026-11-01,1,1.5,\n"
                     "1,041000001239,2026-11-02,1,1.5, KWD\n", "cur.csv")
ok([(r["amount"], r["currency"]) for r in recs] == [("1.500", "KWD")] and
   'cur.csv:3: tier 3 currency_mismatch: currency (column "Cur"): " KWD" '
   "is not the "
   "integration's KWD" in err, "a currency column: an empty value is the "
   "integration's, one with a blank (without trim) currency_mismatch", err)

# --- what a typed transform wrote is what is delivered ----------------------
# decimal, gtin, date... check a value and write it; a substr, regex or
# values after one delivered text that was never checked: an amount
# "1234.56" as "1234" (the totals counting 1234.56), a quantity "12.5" as
# "12.", a 13-digit gtin. check refuses them, and cutting before works.
for key, expr, why in (
        ("amount", 'column "Net" decimal substr 1 4', "substr after decimal"),
        ("quantity", 'column "Units" decimal regex "^(-?[0-9]+)"',
         "regex after decimal"),
        ("gtin", 'column "UPC" gtin trim substr 2 13', "substr after gtin"),
        ("txn_date", 'column "Date" date "%Y-%m-%d" values "2026-11-01=x"',
         "values after date")):
    maplines = [l for l in CMAP if not l.startswith(key + " =")] + \
        ["%s = %s" % (key, expr)]
    c = conf("typed", maplines)
    p = subprocess.run([td, "check", "-c", c], capture_output=True)
    # the key is the last line of [map], which starts at line 8
    want = "%s:%d: %s = %s: %s: %s writes the value it checked" % (
        c, 7 + len(maplines), key, expr, why, why.split()[-1])
    ok(p.returncode == 2 and want in p.stderr.decode(),
       "check refuses %s: %s" % (key, why), p.stderr.decode())
c = conf("typed", CMAP + ['txn_time = column "Time" datetime "%H%M%S" '
                         'substr 1 5'])
p = subprocess.run([td, "check", "-c", c], capture_output=True)
ok(p.returncode == 2 and "substr after datetime: datetime writes the value "
   "it checked" in p.stderr.decode(), "check refuses txn_time: substr after "
   "datetime", p.stderr.decode())
# on a key neither counted nor typed a typed transform only normalises
# the text (as it did before the refusal above): a store number without
# its leading zeros looked up, an item number cut out of the GTIN
c = conf("typed", CMAP[1:] + [
    'store_id = column "Store" decimal values "1=S001, 2=S002"',
    'uom = column "Pack" decimal values "1=EA, 12=CS"',
    'retailer_item_id = column "UPC" gtin substr 4 10'])
recs, err, rc = try_(c, "Store,UPC,Date,Units,Net,Pack\n"
                     "001,041000001239,2026-11-01,1,1.5,012\n"
                     "2,041000001239,2026-11-02,1,1.5,1\n", "typed.csv")
ok([(r["store_id"], r["uom"], r["retailer_item_id"]) for r in recs] ==
   [("S001", "CS", "4100000123"), ("S002", "EA", "4100000123")],
   "store_id, uom, retailer_item_id: values or substr after decimal or gtin "
   "still taken", err)
c = conf("typed", CMAP[:4] + ['amount = column "Net" regex "([0-9.]+) USD" '
                             'decimal'])
recs, err, rc = try_(c, "Store,UPC,Date,Units,Net\n"
                     "1,041000001239,2026-11-01,1,1234.5 USD\n", "typed.csv")
ok([r["amount"] for r in recs] == ["1234.50"], "regex before decimal: the "
   "number cut out, then checked and written", err)

# default after a typed transform never applies (the typed one takes an
# empty value first): before it, it does
c = conf("typed", CMAP[:3] + ['quantity = column "Units" decimal default "0"',
                             'amount = column "Net" default "0" decimal'])
recs, err, rc = try_(c, "Store,UPC,Date,Units,Net\n"
                     "1,041000001239,2026-11-01,,\n", "typed.csv")
ok(recs == [] and "typed.csv:2: tier 3 empty_value: quantity (column \"Units\") "
   "is empty" in err,
   "default after decimal: an empty quantity is still empty_value", err)
c = conf("typed", CMAP[:3] + ['quantity = column "Units" default "0" decimal',
                             'amount = column "Net" decimal default "0"'])
recs, err, rc = try_(c, "Store,UPC,Date,Units,Net\n"
                     "1,041000001239,2026-11-01,,\n", "typed.csv")
ok([(r["quantity"], r["amount"]) for r in recs] == [("0", None)],
   "default before decimal gives 0; after it the empty amount is null", err)

# each date transform reads with its own format: the cache of the last
# date parsed is the first one's (the second took the first's output
# "2026-01-02" from it, as if it were its own answer)
c = conf("typed", ['txn_date = column "Date" date "%Y-%m-%d" date "%Y-%d-%m"']
         + [l for l in CMAP if not l.startswith("txn_date")])
recs, err, rc = try_(c, "Store,UPC,Date,Units,Net\n"
                     "1,041000001239,2026-01-02,1,1\n"
                     "2,041000001239,2026-01-02,2,1\n", "typed.csv")
ok([r["txn_date"] for r in recs] == ["2026-02-01", "2026-02-01"],
   "date then date: the second reads the first's output as it says", err)

# the last typed transform is the one the field takes: a crosswalk after
# decimal delivered a GTIN as the amount (the totals counting the amount),
# gtin after decimal a quantity "00000000000012", decimal after gtin a
# GTIN without its leading zeros. One before it prepares the text.
ixw = table("typed-xw.csv", "retailer_item_id,gtin\n1234.56,041000001239\n"
            "12,041000001239\n42,4006381333931\n")
for key, expr, why, what in (
        ("amount", 'column "Net" decimal crosswalk', "crosswalk after decimal",
         "the number decimal read, which the totals count; end with decimal"),
        ("quantity", 'column "Units" decimal gtin nocheck pad',
         "gtin after decimal", "the number decimal read"),
        ("gtin", 'column "UPC" gtin decimal', "decimal after gtin",
         "the GTIN checked; end with gtin or crosswalk"),
        ("txn_time", 'column "Time" datetime "%H%M%S" crosswalk',
         "crosswalk after datetime", "the time checked; end with datetime")):
    maplines = [l for l in CMAP if not l.startswith(key + " =")] + \
        ["crosswalk_file = " + ixw, "%s = %s" % (key, expr)]
    c = conf("typed", maplines)
    p = subprocess.run([td, "check", "-c", c], capture_output=True)
    want = "%s:%d: %s: %s: the value delivered would not be %s" % (
        c, 7 + len(maplines), key, why, what)
    ok(p.returncode == 2 and want in p.stderr.decode(),
       "check refuses %s = %s" % (key, expr), p.stderr.decode())
c = conf("typed", CMAP[:1] + CMAP[2:] + [
    "crosswalk_file = " + ixw, 'gtin = column "PLU" decimal crosswalk'])
recs, err, rc = try_(c, "Store,PLU,Date,Units,Net\n"
                     "1,0042,2026-11-01,1,1.5\n", "typed.csv")
ok([r["gtin"] for r in recs] == ["04006381333931"], "decimal before "
   "crosswalk: the PLU looked up without its leading zeros", err)

done()
PY
