#!/bin/sh
# try-once.sh - `try` holds to what `once` does, on every test drop: the
# constructed retailer drops below (CSV, gzip, bzip2, xz, zstd, zip, tar,
# nested, damaged, bad rows, over max_reject_ratio, schema drift, bad
# encodings, checksummed and signed, required sidecars missing) and every
# file of tests/data. For each, once runs on a fresh state with the drop
# (and its sidecars) in landing, and try on a copy: try's stdout is
# byte-identical to the records once delivered to file:// (same
# transmission, same ids, same order), try's Tier 3 lines are the
# dead-letter file's (member, line, code), try's Tier 2 verdict is
# reason.json's code, and the exit statuses are equal; but for a file
# that is not a drop (a sidecar alone, a name [watch] ignores): once
# leaves it in landing and exits 0, try says so and exits 1, so that a
# script trying sample files does not take it for a good one.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"

K=$T_TMP/keys
mkdir -p "$K"
if command -v minisign > /dev/null; then
	minisign -G -f -W -p "$K/k.pub" -s "$K/k.key" < /dev/null > /dev/null 2>&1
	minisign -G -f -W -p "$K/other.pub" -s "$K/other.key" < /dev/null > /dev/null 2>&1
fi

# the state of each once on a tmpfs where there is one: ~200 runs that
# each sync their file system
W=$T_TMP
if [ -d /dev/shm ] && W=$(mktemp -d /dev/shm/td-try-once.XXXXXX 2> /dev/null); then
	trap 'rm -rf "$T_TMP" "$W"' EXIT
else
	W=$T_TMP
fi
cp -R "$K" "$W/" 2> /dev/null
$PY - "$TRADEDROP" "$srcdir" "$W" > "$T_TMP/results" 2> "$T_TMP/driver.err" <<'PY'
import binascii, bz2, glob, gzip, hashlib, io, json, lzma, os, re, shutil
import subprocess, sys, tarfile, zipfile

TD, SRC, TMP = sys.argv[1:4]
KEYS = TMP + "/keys"
HAVE_MINISIGN = os.path.exists(KEYS + "/k.pub")

MAPS = {
    # retailer drops: columns by name
    "named": """[integration]
max_reject_ratio = 0.5
[verify]
checksum = optional
signature = %s
%s[map]
store_id = column "Store"
gtin = column "UPC" gtin
txn_date = column "Date" date "%%Y-%%m-%%d"
quantity = column "Units" decimal
amount = column "Amount" decimal
""" % ("optional" if HAVE_MINISIGN else "off",
       "trusted_key_file = %s/k.pub\n" % KEYS if HAVE_MINISIGN else ""),
    # the same, with every sidecar required and not waited for
    "required": """[verify]
checksum = required
signature = %s
%ssidecar_wait = 0s
[map]
store_id = column "Store"
gtin = column "UPC" gtin
txn_date = column "Date" date "%%Y-%%m-%%d"
quantity = column "Units" decimal
""" % ("required" if HAVE_MINISIGN else "off",
       "trusted_key_file = %s/k.pub\n" % KEYS if HAVE_MINISIGN else ""),
    # any file of tests/data: no header, every row a record when it has
    # a first field, so that records as well as verdicts are compared
    "corpus": """[integration]
max_reject_ratio = 1
[parse]
header = no
[map]
store_id = column 1
gtin = const "00012345678905" gtin
txn_date = const "2026-11-28" date "%Y-%m-%d"
quantity = const "1" decimal
""",
}

def conf(kind, state):
    text = MAPS[kind]
    head = "[integration]\nname = acme\nstate_dir = %s\n" % state
    if text.startswith("[integration]\n"):
        text = text[len("[integration]\n"):]
    else:
        head += "\n"
    # keys of [integration] first, then the sections
    return (head + text + "[watch]\nsettle = 0\n[output]\nurl = file://%s/out\n"
            "batch_records = 3\n" % state)

drops = []   # (name, kind, {file: bytes}, the drop's file)
def drop(name, kind, files, main=None):
    drops.append((name, kind, files, main or name))

H = "Store,UPC,Date,Units,Amount,Item\r\n"
good = (H + '1,041000001239,2026-11-28,3,8.97,"OATS, 12OZ"\r\n'
        '1,4006381333931,2026-11-28,-1,-2.50,"PEN ""BLUE"""\r\n'
        '2,96385074,2026-11-27,1200,1234.50,MINT\r\n'
        '2,00012345678905,2026-11-26,2,4.00,\r\n').encode()
rows = (H + "1,041000001239,2026-11-28,3,8.97,ok\r\n"
        "1,041000001235,2026-11-28,1,1.00,check digit\r\n"
        "1,041000001239,2026-11-31,1,1.00,date\r\n"
        "1,041000001239,2026-11-28,1.,1.00,decimal\r\n"
        "1,041000001239,2026-11-28,2,2.00,ok\r\n"
        '1,"0410"00001239,2026-11-28,1,1.00,quote\r\n'
        ",041000001239,2026-11-28,1,1.00,empty store\r\n"
        "1,041000001239,2026-11-28,4,4.00,ok\r\n"
        "1,041000001239,2026-11-28,5,5.00,ok\r\n"
        "1,041000001239,2026-11-28,6,6.00,ok\r\n"
        "1,041000001239\r\n"
        "1,041000001239,2026-11-28,7,7.00,ok\r\n"
        "1,041000001239,2026-11-28,8,8.00,ok\r\n").encode()
ratio = (H + "1,041000001239,2026-11-28,3,8.97,ok\r\n"
         "1,000000000000,2026-11-28,1,1.00,zero\r\n"
         "1,041000001239,2026-02-30,1,1.00,date\r\n").encode()
drift = b"Store,UPC,Date,Qty,Amount\n1,041000001239,2026-11-28,1,1.00\n"
dup = b"Store,UPC,Date,Units,UPC,Amount\n1,041000001239,2026-11-28,1,041000001239,1.00\n"
pre = b"Sales report\n\n" + good
drop("good.csv", "named", {"good.csv": good})
drop("rows.csv", "named", {"rows.csv": rows})
drop("ratio.csv", "named", {"ratio.csv": ratio})
drop("drift.csv", "named", {"drift.csv": drift})
drop("pre.csv", "named", {"pre.csv": pre})
drop("dup.csv", "named", {"dup.csv": dup})
drop("empty.csv", "named", {"empty.csv": b""})
drop("header-only.csv", "named", {"header-only.csv": H.encode()})
drop("cp1252.csv", "named", {"cp1252.csv": H.encode() +
     "1,041000001239,2026-11-28,1,1.00,CAF\u00c9 \u2019BLEND\u2019 \u20ac\r\n".encode("cp1252")})
drop("utf16.csv", "named", {"utf16.csv": b"\xff\xfe" + good.decode().encode("utf-16-le")})
drop("utf16-nobom.csv", "named", {"utf16-nobom.csv": good.decode().encode("utf-16-le")})
drop("nul.csv", "named", {"nul.csv": b"\0" * 1024 + good})
drop("bom-inside.csv", "named", {"bom-inside.csv": good + "\ufeff".encode() + good.split(b"\n", 1)[1]})
drop("rows.csv.gz", "named", {"rows.csv.gz": gzip.compress(rows, mtime=0)})
drop("good.csv.bz2", "named", {"good.csv.bz2": bz2.compress(good)})
drop("good.csv.xz", "named", {"good.csv.xz": lzma.compress(good)})
if shutil.which("zstd"):
    drop("good.csv.zst", "named", {"good.csv.zst": subprocess.run(
        ["zstd", "-q", "-c"], input=good, stdout=subprocess.PIPE).stdout})
half = good.index(b"\r\n2,")
drop("multi.csv.gz", "named", {"multi.csv.gz": gzip.compress(good[:half + 2], mtime=0) +
     gzip.compress(good[half + 2:], mtime=0)})
gz = gzip.compress(good, mtime=0)
drop("cut.csv.gz", "named", {"cut.csv.gz": gz[:len(gz) // 2]})
drop("trailing.csv.gz", "named", {"trailing.csv.gz": gz + b"garbage"})

def zipped(members):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in members:
            z.writestr(zipfile.ZipInfo(n, (2026, 11, 28, 0, 0, 0)), d)
    return b.getvalue()
def tarred(members, mode="w"):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode=mode) as t:
        for n, d in members:
            ti = tarfile.TarInfo(n); ti.size = len(d); ti.mtime = 0
            t.addfile(ti, io.BytesIO(d))
    return b.getvalue()
two = [("a/good.csv", good), ("a/rows.csv", rows)]
drop("two.zip", "named", {"two.zip": zipped(two)})
drop("drift.zip", "named", {"drift.zip": zipped([("good.csv", good), ("drift.csv", drift)])})
drop("ratio.zip", "named", {"ratio.zip": zipped([("good.csv", good), ("ratio.csv", ratio)])})
drop("two.tar", "named", {"two.tar": tarred(two)})
drop("two.tar.gz", "named", {"two.tar.gz": tarred(two, "w:gz")})
drop("nested.zip", "named", {"nested.zip": zipped([("in/two.tar.gz", tarred(two, "w:gz")),
     ("rows.csv.gz", gzip.compress(rows, mtime=0))])})
drop("evil.zip", "named", {"evil.zip": zipped([("good.csv", good), ("../x.csv", good)])})

sha = lambda d: hashlib.sha256(d).hexdigest()
drop("sum.csv", "named", {"sum.csv": good, "sum.csv.sha256": ("%s  sum.csv\n" % sha(good)).encode()})
drop("badsum.csv", "named", {"badsum.csv": rows, "badsum.csv.sha256": ("%s  badsum.csv\n" % sha(good)).encode()})
drop("m.csv", "named", {"m.csv": rows, "SHA256SUMS": ("%s  m.csv\n%s  other.csv\n" % (sha(rows), sha(good))).encode()})
drop("big.csv", "named", {"big.csv": good, "big.csv.sha512":
     ("%s *big.csv\n" % hashlib.sha512(good).hexdigest()).encode()})
drop("junk.csv", "named", {"junk.csv": good, "junk.csv.sha256": b"not a checksum\n"})
drop("req.csv", "required", {"req.csv": good})
if HAVE_MINISIGN:
    def signed(name, data, key="k", signed_data=None):
        d = TMP + "/sign"
        os.makedirs(d, exist_ok=True)
        open(d + "/" + name, "wb").write(signed_data or data)
        subprocess.run(["minisign", "-S", "-s", KEYS + "/%s.key" % key, "-m", d + "/" + name,
                        "-t", "acme " + name], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        return open(d + "/" + name + ".minisig", "rb").read()
    drop("sig.csv", "named", {"sig.csv": rows, "sig.csv.minisig": signed("sig.csv", rows)})
    drop("badsig.csv", "named", {"badsig.csv": rows, "badsig.csv.minisig": signed("badsig.csv", rows, signed_data=good)})
    drop("othersig.csv", "named", {"othersig.csv": good, "othersig.csv.minisig": signed("othersig.csv", good, "other")})
    drop("both.csv", "required", {"both.csv": good, "both.csv.minisig": signed("both.csv", good),
         "both.csv.sha256": ("%s  both.csv\n" % sha(good)).encode()})
    drop("nosig.csv", "required", {"nosig.csv": good,
         "nosig.csv.sha256": ("%s  nosig.csv\n" % sha(good)).encode()})

# every file of tests/data, uuencoded ones decoded (when uudecode is here)
def uudecode(path):
    return subprocess.run(["uudecode", "-o", "/dev/stdout", path],
                          stdout=subprocess.PIPE, check=True).stdout
n = 0
for f in sorted(glob.glob(SRC + "/tests/data/**/*", recursive=True)):
    if not os.path.isfile(f) or os.path.basename(f) == "SOURCES.md":
        continue
    data = open(f, "rb").read()
    base = os.path.basename(f)
    if base.endswith(".uu"):
        if not shutil.which("uudecode"):
            continue
        data, base = uudecode(f), base[:-3]
    n += 1
    name = "%03d-%s" % (n, re.sub(r"[^A-Za-z0-9._-]", "_", base))
    drop(name, "corpus", {name: data})

def sh(args):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

seen = {"codes": set(), "records": 0, "dlq": 0, "drops": 0, "exit0": 0, "exit1": 0}
for name, kind, files, main in drops:
    st = TMP + "/s"
    shutil.rmtree(st, ignore_errors=True)
    os.makedirs(st + "/landing")
    td = TMP + "/t/" + name
    os.makedirs(td)
    for fn, d in files.items():
        open(st + "/landing/" + fn, "wb").write(d)
        open(td + "/" + fn, "wb").write(d)
    cf = TMP + "/c.conf"
    open(cf, "w").write(conf(kind, st))
    once = sh([TD, "once", "-c", cf])
    tr = sh([TD, "try", "-c", cf, td + "/" + main])
    tid = sha(files[main])
    # what once did
    recs = b"".join(gzip.open(b).read() for b in
                    sorted(glob.glob(st + "/out/%s/batch-*.ndjson.gz" % tid)))
    dlq = []
    if os.path.exists(st + "/dlq/%s.ndjson" % tid):
        for l in open(st + "/dlq/%s.ndjson" % tid):
            j = json.loads(l)
            dlq.append((j["source"]["member"], j["source"]["line"], j["code"]))
    code = None
    rejected = None
    if os.path.exists(st + "/quarantine/%s/reason.json" % tid):
        reason = json.load(open(st + "/quarantine/%s/reason.json" % tid))
        code, rejected = reason["code"], reason["rejected"]
        # a quarantined file keeps no dead letter in dlq/: its first
        # ones as samples in the quarantine, all counted in reason.json
        samples = st + "/quarantine/%s/dead-letters.ndjson" % tid
        if os.path.exists(samples):
            for l in open(samples):
                j = json.loads(l)
                dlq.append((j["source"]["member"], j["source"]["line"], j["code"]))
    # what try said
    p = (td + "/" + main).encode()
    t3, t2 = [], []
    for l in tr.stderr.split(b"\n"):
        if not l.startswith(p):
            continue
        m = re.match(rb"^(?:!/(.*))?:(\d+): tier 3 ([a-z0-9_]+): ", l[len(p):])
        if m:
            t3.append((m.group(1).decode() if m.group(1) is not None else None,
                       int(m.group(2)), m.group(3).decode()))
        m = re.match(rb"^: tier 2 ([a-z0-9_]+): ", l[len(p):])
        if m:
            t2.append(m.group(1).decode())
    bad = []
    if tr.stdout != recs:
        bad.append("records differ: try %d lines, once %d" % (tr.stdout.count(b"\n"), recs.count(b"\n")))
    if (t3 if rejected is None else t3[:100]) != dlq:
        bad.append("tier 3 differ: try %r, once %r" % (t3[:3], dlq[:3]))
    if rejected is not None and (len(t3) != rejected or
                                 os.path.exists(st + "/dlq/%s.ndjson" % tid)):
        bad.append("tier 3 of a quarantined file: try %d, once %d rejected%s" % (
            len(t3), rejected, ", and a file in dlq/" if
            os.path.exists(st + "/dlq/%s.ndjson" % tid) else ""))
    if t2 != ([code] if code else []):
        bad.append("verdict differs: try %r, once %r" % (t2, code))
    if (p + b": not a drop: ") in tr.stderr:
        if (tr.returncode, once.returncode) != (1, 0) or \
                not os.path.exists(st + "/landing/" + main):
            bad.append("not a drop: try exit %d, once exit %d (want 1 "
                       "and 0), %s in landing" % (
                           tr.returncode, once.returncode,
                           "still" if os.path.exists(st + "/landing/" + main)
                           else "not"))
    elif tr.returncode != once.returncode:
        bad.append("exit differs: try %d, once %d" % (tr.returncode, once.returncode))
    if once.returncode not in (0, 1):
        bad.append("once exit %d: %s" % (once.returncode, once.stderr[-300:]))
    seen["drops"] += 1
    seen["records"] += recs.count(b"\n")
    seen["dlq"] += len(dlq)
    seen["exit%d" % once.returncode] = seen.get("exit%d" % once.returncode, 0) + 1
    if code:
        seen["codes"].add(code)
    what = "%s (%s): exit %d, %d records, %d dead-lettered, %s" % (
        name, kind, once.returncode, recs.count(b"\n"), len(dlq), code or "accepted")
    if bad:
        print("1|%s: %s" % (what, "; ".join(bad)))
        sys.stdout.write("#   " + tr.stderr.decode("utf-8", "replace")[-600:].replace("\n", "\n#   ") + "\n")
    else:
        print("0|%s" % what)
    shutil.rmtree(td)
print("C|%d %d %d %d %d" % (seen["drops"], seen["records"] > 0, seen["dlq"] > 0, seen["exit0"] > 0, seen["exit1"] > 0))
print("V|" + " ".join(sorted(seen["codes"])))
PY
t_is $? 0 "the driver ran"
[ -s "$T_TMP/driver.err" ] && sed 's/^/#   /' "$T_TMP/driver.err"
while IFS='|' read -r rc what; do
	case $rc in
	0|1) t_ok "$rc" "try agrees with once: $what" ;;
	C) set -- $what
	   t_ok "$([ "$1" -gt 150 ]; echo $?)" "$1 drops tried"
	   t_is "$2 $3 $4 $5" "1 1 1 1" "among them records, dead-lettered rows, exits 0 and 1" ;;
	V) codes="reject_ratio_exceeded schema_missing_column schema_ambiguous_column
	       empty_file archive_corrupt path_traversal decode_utf16_no_bom nul_prefix
	       checksum_mismatch checksum_malformed checksum_missing"
	   [ -s "$T_TMP/keys/k.pub" ] && codes="$codes signature_invalid
	       signature_untrusted_key signature_missing"
	   for c in $codes; do
		case " $what " in
		*" $c "*) t_ok 0 "a drop quarantined as $c" ;;
		*) t_ok 1 "a drop quarantined as $c (verdicts seen: $what)" ;;
		esac
	   done ;;
	*) echo "$rc${what:+|$what}" ;;
	esac
done < "$T_TMP/results"
t_done
