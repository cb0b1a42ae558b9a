#!/bin/sh
# window-equiv.sh - the parser child's ledger windows (process.c) give
# the output of a file parsed in the daemon itself (TD_TEST_IN_PROCESS),
# byte for byte, where a window boundary meets what reorders or restarts
# a file: encoding = auto starting over late in the file, a Tier 3 row
# and a key met twice (a second pass) across windows, [map] duplicates =
# sum, control totals past 36 digits after a full window, and X12 files
# whose 997 groups sit between rows. The files are big enough (256 KiB)
# for the child to map on every core (sandbox.c CHILD_THREADS_MIN), its
# windows cut by a bound on their lines rather than the lines; one of
# them restates the other under an archive member's name of 3.7 KB of
# control bytes (each six bytes in a line) and is held, a window's held
# lines in one HOLDS frame; so are two files whose store ids are 16000
# control bytes, read by five fields each (a window's bound counts each
# field's value).
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
. "$srcdir/tests/lib/delivery-lib.sh"

# big.csv: 6000 rows; row 4100 a bad check digit, row 5500 row 10's key,
# row 5900 a store in windows-1252 (the file is read again as such)
dl_rows "$T_TMP/rows.csv" 6000 23 4100
{
	sed -n '1,5500p' "$T_TMP/rows.csv"
	sed -n 11p "$T_TMP/rows.csv" | sed 's/,[0-9]*$/,3/'
	sed -n '5502,5900p' "$T_TMP/rows.csv"
	printf 'caf\351,041000001239,2026-11-28,2\n'
	sed -n '5902,6001p' "$T_TMP/rows.csv"
} > "$T_TMP/big.csv"
# over.csv: 4200 rows, then quantities whose sum passes 36 digits
{
	sed -n '1,4201p' "$T_TMP/rows.csv"
	for i in 17 18 19; do
		echo "$i,041000001239,2026-11-28,900000000000000000000000000000000000"
	done
	sed -n '4202,4300p' "$T_TMP/rows.csv"
} > "$T_TMP/over.csv"
# an unmapped column, so that both are over 256 KiB
for _f in big over; do
	sed -i '1s/$/,Note/; 1!s/$/,abcdefghijklmnopqrstuvwxyz0123456789/' \
	    "$T_TMP/$_f.csv"
	t_ok "$([ "$(wc -c < "$T_TMP/$_f.csv")" -ge 262144 ]; echo $?)" \
	    "$_f.csv is big enough to be mapped on every core"
done
# h1.csv 9000 rows; h2.tar the same keys, each quantity one more (a
# restatement, held), in a member whose name is 3.7 KB of control bytes
$PY - "$T_TMP" <<'PY'
import io, random, sys, tarfile
r = random.Random(3)
def upc():
    d = [r.randrange(10) for _ in range(11)]
    s = 3 * sum(d[0::2]) + sum(d[1::2])
    return "".join(map(str, d)) + str((10 - s % 10) % 10)
rows = [(i, upc()) for i in range(9000)]
h = "Store,UPC,Date,Units\n"
open(sys.argv[1] + "/h1.csv", "w").write(h + "".join(
    "%d,%s,2026-11-28,5\n" % x for x in rows))
name = ("d" + "\x01" * 60 + "/") * 60 + "m.csv"
data = (h + "".join("%d,%s,2026-11-28,6\n" % x for x in rows)).encode()
with tarfile.open(sys.argv[1] + "/h2.tar", "w",
    format=tarfile.PAX_FORMAT) as t:
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    t.addfile(ti, io.BytesIO(data))
# k1.csv, k2.csv: 200 rows, a store id of 16000 control bytes each, k2
# each quantity one more
for fn, q in (("k1.csv", 5), ("k2.csv", 6)):
    open(sys.argv[1] + "/" + fn, "w").write(h + "".join(
        "%s%d,%s,2026-11-28,%d\n" % ("\x01" * 16000, i, u, q)
        for i, u in rows[:200]))
PY

# big.x12: 4 groups of 3000 quantities (a window is 4096 rows: the 997
# groups fall inside windows), one key on many rows (a second pass);
# bigbad.x12 the same but the third group's SE01 (Tier 2 there)
for _a in "big.x12" "bigbad.x12 bad"; do
$PY - $(echo "$_a" | sed "s|^|$T_TMP/|") <<'PY'
import sys
# one interchange, 4 functional groups of 1500 LIN items each (ZA*QS
# with SDQ of 2 stores: 3000 records a group), a group of a bad SE count between
out = []
out.append("ISA*00*          *00*          *ZZ*RETAILER       *ZZ*ACMECPG        *261130*0930*U*00401*000000101*0*P*>~")
ng = 0
for g in range(4):
    ng += 1
    out.append("GS*PD*RETAILER*ACMECPG*20261130*0930*%d*X*004010~" % (200 + g))
    seg = ["ST*852*0001~", "XQ*H*20261122*20261128~", "N1*RL*ACME MART*92*0001~"]
    for i in range(1500):
        seg.append("LIN*%d*UP*041000001239*IN*%d~" % (i + 1, g * 10000 + i))
        seg.append("ZA*QS*%d*EA~" % (i + 3))
        seg.append("SDQ*EA*92*0101*%d*0102*%d~" % (i + 1, 2))
    seg.append("CTT*1500~")
    n = len(seg) + 1
    if g == 2 and len(sys.argv) > 2:
        n += 1   # a bad SE01: the file is refused there
    seg.append("SE*%d*0001~" % n)
    out += seg
    out.append("GE*1*%d~" % (200 + g))
out.append("IEA*%d*000000101~" % ng)
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY
done

# x12conf NAME STATE URL [LINE...]: as dl_conf, format = x12
x12conf() {
	_n=$1 _s=$2 _u=$3; shift 3
	printf '[integration]\nname = acme\nstate_dir = %s\nmax_reject_ratio = 1\n[output]\nurl = %s\n[parse]\nformat = x12\n' \
	    "$_s" "$_u" > "$T_TMP/$_n.conf"
	for _l in "$@"; do echo "$_l" >> "$T_TMP/$_n.conf"; done
	mkdir -p "$_s/landing"
}

# pair NAME FILES LINE...: FILES through once in the child and in the
# daemon, with config LINEs; the same records, manifests, statuses
pair() {
	_p=$1 _fs=$2; shift 2
	for _w in child inproc; do
		$CONF "$_p-$_w" "$T_TMP/$_p-$_w" "file://$T_TMP/out-$_p-$_w" \
		    "$@"
		for _f in $_fs; do
			cp "$_f" "$T_TMP/$_p-$_w/landing/"
		done
		if [ $_w = inproc ]; then
			TD_TEST_IN_PROCESS=1 dl_run "$_p-$_w" "$_p-$_w.log"
		else
			dl_run "$_p-$_w" "$_p-$_w.log"
		fi
		echo "rc=$RC $(grep -o 'once_done.*' "$T_TMP/$_p-$_w.log" |
		    sed 's/elapsed[^ ]* //')" > "$T_TMP/$_p-$_w.out"
		ls "$T_TMP/$_p-$_w/quarantine" > "$T_TMP/$_p-$_w.q" 2> /dev/null
	done
	t_is "$(dl_same "$T_TMP/out-$_p-inproc" "$T_TMP/out-$_p-child" --all)" \
	    ok "$_p: the same records and manifests both ways"
	t_is "$(cat "$T_TMP/$_p-child.out")" "$(cat "$T_TMP/$_p-inproc.out")" \
	    "$_p: the same exit status and counts both ways"
	t_is "$(cat "$T_TMP/$_p-child.q")" "$(cat "$T_TMP/$_p-inproc.q")" \
	    "$_p: the same files quarantined both ways"
}

CONF=dl_conf
pair auto "$T_TMP/big.csv" "[decode]" "encoding = auto" \
    "[integration]" "max_reject_ratio = 1"
pair sum "$T_TMP/big.csv" "[decode]" "encoding = auto" \
    "[integration]" "max_reject_ratio = 1" "[map]" "duplicates = sum"
pair over "$T_TMP/over.csv" "[integration]" "max_reject_ratio = 1"
pair hold "$T_TMP/h1.csv $T_TMP/h2.tar" "[integration]" "max_reject_ratio = 1" \
    "[unpack]" "max_depth = 2"
t_grep "$T_TMP/hold-child.out" "held=9000" \
    "hold: the restating file's 9000 records are held (in the child)"
pair hold5 "$T_TMP/k1.csv $T_TMP/k2.csv" "[integration]" "max_reject_ratio = 1" \
    "[parse]" "max_field = 16K" "[map]" 'retailer_item_id = column "Store"' \
    'txn_ref = column "Store"' 'promo_code = column "Store"' \
    'uom = column "Store"'
t_grep "$T_TMP/hold5-child.out" "held=200" \
    "hold5: the restating file's 200 records are held (in the child)"
CONF=x12conf
pair x12 "$T_TMP/big.x12 $T_TMP/bigbad.x12 $srcdir/tests/data/x12/multi.x12 \
$srcdir/tests/data/x12/sdq-4010.x12 $srcdir/tests/data/x12/ui-5010.x12 \
$srcdir/tests/data/x12/bad-se-control.x12"
# WE_KEEP=DIR keeps a copy of the run for a look
[ -n "$WE_KEEP" ] && cp -r "$T_TMP" "$WE_KEEP"
t_done
