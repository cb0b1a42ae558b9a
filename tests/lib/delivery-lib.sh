# delivery-lib.sh - drops and configurations for the delivery tests.
# Source after common.sh and t_tmpdir; needs PY (python3) set.
#   dl_rows FILE N [SEED [BADROW]]  N rows of Store,UPC,Date,Units with
#                                   valid UPC-A check digits; row BADROW
#                                   (0-based) gets a bad one
#   dl_conf NAME STATE URL [LINE...]  $T_TMP/NAME.conf mapping those
#                                   columns (quantity from column
#                                   $DL_QTY, Units unless set), output
#                                   URL, batch_records = 1000, then
#                                   LINE... (appended); makes
#                                   STATE/landing
#   dl_run NAME LOG [FAILPOINT]     once -c $T_TMP/NAME.conf, its log in
#                                   $T_TMP/LOG, killed at FAILPOINT if
#                                   given (TD_FAILPOINT); exit status in RC
#   dl_events STATE                 transmissions received, parsed,
#                                   delivered in STATE's audit.log (and
#                                   the most times one of them was)
#   dl_same REF OUT [--all]         "ok" when every file under a final
#                                   name (not *.tmp) in OUT is in REF
#                                   with the same bytes (manifests and
#                                   the rejection reports: the same but
#                                   for received_at); with
#                                   --all, when OUT has all of REF too;
#                                   else what differs

dl_rows() {
	$PY - "$1" "$2" "${3:-5}" "${4:--1}" <<'PY'
import sys, random
path, n, seed, bad = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
r = random.Random(seed)
def upc():
    d = [r.randrange(10) for _ in range(11)]
    s = 3 * sum(d[0::2]) + sum(d[1::2])
    return "".join(map(str, d)) + str((10 - s % 10) % 10)
with open(path, "w") as f:
    f.write("Store,UPC,Date,Units\n")
    for i in range(n):
        u = upc() if i != bad else "041000001238"
        f.write("%d,%s,2026-11-28,%d\n" % (r.randrange(9999), u, r.randrange(1, 50)))
PY
}

dl_conf() {
	_n=$1 _s=$2 _u=$3; shift 3
	cat > "$T_TMP/$_n.conf" <<CONF
[integration]
name = acme
state_dir = $_s
[map]
store_id = column "Store"
gtin = column "UPC" gtin
txn_date = column "Date" date "%Y-%m-%d"
quantity = column "${DL_QTY:-Units}" decimal
[output]
url = $_u
batch_records = 1000
CONF
	for _l in "$@"; do echo "$_l" >> "$T_TMP/$_n.conf"; done
	mkdir -p "$_s/landing"
}

dl_same() {
	$PY - "$@" <<'PY'
import base64, gzip, json, os, sys
ref, out = sys.argv[1], sys.argv[2]
bad = []
def files(d):
    return {os.path.relpath(os.path.join(p, f), d)
            for p, _, fs in os.walk(d) for f in fs}
rf, of = files(ref), {f for f in files(out) if not f.endswith(".tmp")}
def why(f, a, b):
    # what differs, for a failure to be understood from its log alone
    try:
        if isinstance(a, dict):
            k = sorted(x for x in set(a) | set(b) if a.get(x) != b.get(x))
            return " (keys " + ",".join(k) + ")"
        if isinstance(a, list):
            # rejections, parsed: the first that differs
            for i, (x, y) in enumerate(zip(a, b)):
                if x != y:
                    return " (rejection %d of %d/%d: ref %r; out %r)" % (
                        i + 1, len(a), len(b), str(x)[:400], str(y)[:400])
            return " (rejections %d/%d)" % (len(a), len(b))
        if f.endswith(".gz"):
            za, zb = a, b
            a, b = gzip.decompress(a), gzip.decompress(b)
            if a == b:
                # where the two streams part, for the log alone to say
                # whether it is the header, a block or the trailer
                at = next((i for i, (x, y) in enumerate(zip(za, zb))
                           if x != y), min(len(za), len(zb)))
                # small streams whole (base64), for a decoder to read
                # the two deflate blocks from the log
                whole = ""
                if len(za) <= 4096 and len(zb) <= 4096:
                    whole = "; ref whole %s; out whole %s" % (
                        base64.b64encode(za).decode(),
                        base64.b64encode(zb).decode())
                return (" (the same records: only the gzip bytes differ:"
                        " %d and %d bytes for %d bytes of records, first at"
                        " byte %d: ref %s; out %s%s)" % (
                            len(za), len(zb), len(a), at,
                            za[at:at + 16].hex(), zb[at:at + 16].hex(),
                            whole))
        la, lb = a.splitlines(), b.splitlines()
        for i, (x, y) in enumerate(zip(la, lb)):
            if x != y:
                return " (line %d of %d/%d: ref %r; out %r)" % (
                    i + 1, len(la), len(lb), x[:400], y[:400])
        return " (lines %d/%d)" % (len(la), len(lb))
    except Exception as e:
        return " (%s)" % e
for f in sorted(of):
    if f not in rf:
        bad.append("only in out: " + f)
        continue
    a = open(os.path.join(ref, f), "rb").read()
    b = open(os.path.join(out, f), "rb").read()
    if f.endswith("manifest.json"):
        a, b = json.loads(a), json.loads(b)
        a.pop("received_at"); b.pop("received_at")
    elif f.endswith("rejections.ndjson.gz"):
        a, b = ([json.loads(l) for l in gzip.decompress(x).splitlines()]
                for x in (a, b))
        for l in a + b:
            l.pop("received_at", None)
    if a != b:
        bad.append("differs: " + f + why(f, a, b))
if "--all" in sys.argv:
    bad += ["missing: " + f for f in sorted(rf - of)]
print("; ".join(bad) if bad else "ok")
PY
}

dl_run() {
	TD_FAILPOINT=${3:-} "$TRADEDROP" once -c "$T_TMP/$1.conf" \
	    2> "$T_TMP/$2"
	RC=$?
}

dl_events() {
	$PY - "$1/audit.log" <<'PY'
import collections, json, sys
c = collections.Counter()
for l in open(sys.argv[1]):
    e = json.loads(l)
    c[(e["event"], e["transmission_id"])] += 1
for ev in ("transmission_received", "transmission_parsed",
           "transmission_delivered"):
    k = [v for (e, t), v in c.items() if e == ev]
    print("%s=%d,max=%d" % (ev, len(k), max(k or [0])), end=" ")
PY
}
