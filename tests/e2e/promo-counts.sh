#!/bin/sh
# promo-counts.sh - records whose promo_code promo_file does not know are
# delivered (never dropped) and counted as unknown_promo, with that name,
# in the manifest, `status` (text and --json), the transmission_parsed
# audit event and once's summary; a file without one says nothing of it.
# A promo_id longer than every bound on a row's values (max_field = 16
# beside a 60,000-byte promo_id) still fits the parser child's frames:
# they count what the mapping writes itself.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
exec $PY - "$TRADEDROP" "$T_TMP" "$srcdir" <<'PY'
import gzip, json, os, subprocess, sys

td, tmp = os.path.abspath(sys.argv[1]), sys.argv[2]
sys.path.insert(0, os.path.join(sys.argv[3], "tests", "lib"))
from tdtap import ok, done  # noqa: E402

pf = os.path.join(tmp, "promos.csv")
with open(pf, "w") as f:
    f.write("promo_code,promo_id,promo_type\nTPR7,P-100,tpr\n")
os.chmod(pf, 0o600)
state, out = os.path.join(tmp, "state"), os.path.join(tmp, "out")
cfg = os.path.join(tmp, "td.conf")
with open(cfg, "w") as f:
    f.write("[integration]\nname = acme\nstate_dir = %s\n[output]\n"
            "url = file://%s\n[map]\nstore_id = column \"Store\"\n"
            "gtin = column \"UPC\" gtin\n"
            "txn_date = column \"Date\" date \"%%Y-%%m-%%d\"\n"
            "quantity = column \"Units\" decimal\n"
            "promo_code = column \"Promo\"\npromo_file = %s\n"
            "key = store_id, gtin, txn_date, promo_code\n" % (state, out, pf))
os.makedirs(os.path.join(state, "landing"))


def drop(name, text):
    with open(os.path.join(state, "landing", name), "w") as f:
        f.write(text)
    return subprocess.run([td, "once", "-c", cfg], capture_output=True)


def manifests():
    return {d: json.load(open(os.path.join(out, d, "manifest.json")))
            for d in os.listdir(out)}


p = drop("a.csv", "Store,UPC,Date,Units,Promo\n"
         "1,041000001239,2026-12-01,1,TPR7\n"
         "1,041000001239,2026-12-02,1,XX9\n"
         "1,041000001239,2026-12-03,1,YY1\n"
         "1,041000001239,2026-12-04,1,\n")
err = p.stderr.decode()
m = list(manifests().values())
recs = [json.loads(l) for d in os.listdir(out) for b in
        sorted(os.listdir(os.path.join(out, d))) if b.startswith("batch-")
        for l in gzip.open(os.path.join(out, d, b)).read().splitlines()]
ok(p.returncode == 0 and len(recs) == 4 and
   [r["promo_id"] for r in recs] == ["P-100", None, None, None],
   "unknown promo codes are delivered, promo_id null", (err, recs))
ok(len(m) == 1 and m[0]["counts"] == {"records": 4, "delivered": 4,
                                      "dlq": 0, "held": 0, "duplicate": 0,
                                      "unknown_promo": 2},
   "manifest: counts.unknown_promo is 2 (an empty promo_code is not "
   "unknown)", m)
ok(" unknown_promo=2 " in err, "once summary: unknown_promo=2", err)
ev = [json.loads(l) for l in open(os.path.join(state, "audit.log"))]
ev = [e for e in ev if e["event"] == "transmission_parsed"]
ok(len(ev) == 1 and ev[0].get("unknown_promo") == 2,
   "audit: transmission_parsed says unknown_promo 2", ev)
st = subprocess.run([td, "status", "-c", cfg, "--json"],
                    capture_output=True).stdout.decode()
ok(json.loads(st).get("unknown_promo") == 2, "status --json: unknown_promo 2",
   st)
st = subprocess.run([td, "status", "-c", cfg],
                    capture_output=True).stdout.decode()
ok("promotions: 2 records with a promo_code not in promo_file "
   "(unknown_promo)" in st, "status text: the same count", st)

# a second file, every code known: nothing said of it, the totals add up
old = set(manifests())
p = drop("b.csv", "Store,UPC,Date,Units,Promo\n"
         "1,041000001239,2026-12-05,1,TPR7\n")
new = [v for k, v in manifests().items() if k not in old]
ok(p.returncode == 0 and len(new) == 1 and
   "unknown_promo" not in new[0]["counts"] and
   " unknown_promo=0 " in p.stderr.decode(),
   "a file of known codes: no unknown_promo in its manifest, 0 in the "
   "summary", (p.stderr.decode(), new))
st = subprocess.run([td, "status", "-c", cfg, "--json"],
                    capture_output=True).stdout.decode()
ok(json.loads(st).get("unknown_promo") == 2, "status adds up per "
   "integration: still 2", st)
p = subprocess.run([td, "audit", "verify", "-c", cfg], capture_output=True)
ok(p.returncode == 0, "audit verify passes", p.stderr.decode())

# a table's value longer than max_field allows for a whole line
long_id = "P-" + "".join("%07d" % i for i in range(8572))[:60000]
with open(pf, "w") as f:
    f.write("promo_code,promo_id,promo_type\nTPR7,%s,tpr\n" % long_id)
with open(cfg) as f:
    text = f.read()
state2, out2 = os.path.join(tmp, "state2"), os.path.join(tmp, "out2")
text = text.replace(state, state2).replace(out, out2)
text = text.replace("[map]\n", "[parse]\nmax_field = 16\n[map]\n")
cfg2 = os.path.join(tmp, "td2.conf")
with open(cfg2, "w") as f:
    f.write(text)
os.makedirs(os.path.join(state2, "landing"))
with open(os.path.join(state2, "landing", "l.csv"), "w") as f:
    f.write("Store,UPC,Date,Units,Promo\n1,041000001239,2026-12-01,1,TPR7\n")
p = subprocess.run([td, "once", "-c", cfg2], capture_output=True)
recs = [json.loads(l) for d in os.listdir(out2) for b in
        sorted(os.listdir(os.path.join(out2, d))) if b.startswith("batch-")
        for l in gzip.open(os.path.join(out2, d, b)).read().splitlines()] \
    if os.path.isdir(out2) else []
ok(p.returncode == 0 and len(recs) == 1 and
   recs[0]["promo_id"] == long_id and
   not os.listdir(os.path.join(state2, "quarantine")),
   "a 60,000-byte promo_id beside max_field = 16: delivered whole, "
   "not parser_crashed", p.stderr.decode()[-600:])
done()
PY
