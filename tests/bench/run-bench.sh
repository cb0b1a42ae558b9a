#!/bin/sh
# run-bench.sh - `make bench`: tradedrop's throughput and memory beside
# standard tools, on a generated retailer sell-through CSV.
#
#   A     tradedrop once -c bench.conf        (the plain CSV in landing/)
#   ref1  gzip -dc data.csv.gz | iconv -f WINDOWS-1252 -t UTF-8 | sha256sum
#   ref2  mlr --icsv --ojsonl cat data.csv    (Debian package miller)
#
# The runs are interleaved (A, ref1, ref2, A, ...); before each one the
# inputs are read once to warm the page cache, the same for all.  The
# medians are printed with the ratios to the goals.  A benchmark, not a
# test: a missed goal is printed, never an error.  Exits 1 only when
# something could not run at all.
#
# Environment:
#   BENCH_SIZE   size of the generated CSV, bytes with K/M/G (default 1G)
#   BENCH_RUNS   runs of each case (default 3)
#   BENCH_SEED   seed of the generator (default 1)
#   BENCH_DIR    where the work directory is made (default /tmp); the
#                work directory (not BENCH_DIR) is removed at the end
#   top_builddir the build tree (default: the current directory)
#   top_srcdir   the source tree (default: two levels above this script)
#   CC           compiler for the generator (default cc)
#   TRADEDROP    the binary (default $top_builddir/agent/tradedrop)
set -u

here=$(cd "$(dirname "$0")" && pwd) || exit 1
top_srcdir=$(cd "${top_srcdir:-$here/../..}" && pwd) || exit 1
top_builddir=$(cd "${top_builddir:-.}" && pwd) || exit 1
TRADEDROP=${TRADEDROP:-$top_builddir/agent/tradedrop}
SIZE=${BENCH_SIZE:-1G}
RUNS=${BENCH_RUNS:-3}
SEED=${BENCH_SEED:-1}
PARENT=${BENCH_DIR:-/tmp}
GENSRC=$top_srcdir/tests/bench/gen-sellthrough.c
GEN=$top_builddir/tests/bench/gen-sellthrough
TIME=/usr/bin/time

die() {
	echo "run-bench: $*" >&2
	exit 1
}

case $RUNS in
''|*[!0-9]*|0) die "BENCH_RUNS must be a positive integer, not '$RUNS'" ;;
esac
[ -x "$TRADEDROP" ] || die "$TRADEDROP not built (run make)"
[ -x "$TIME" ] || die "$TIME missing (apt-get install time)"
for t in gzip iconv sha256sum awk; do
	command -v "$t" > /dev/null 2>&1 || die "$t missing"
done
HAVE_MLR=0
command -v mlr > /dev/null 2>&1 && HAVE_MLR=1

# the generator, rebuilt when missing or older than its source
if [ ! -x "$GEN" ] || [ -n "$(find "$GENSRC" -newer "$GEN")" ]; then
	mkdir -p "$top_builddir/tests/bench" || exit 1
	echo "run-bench: ${CC:-cc} -O2 -o $GEN $GENSRC"
	${CC:-cc} -O2 -o "$GEN" "$GENSRC" || die "cannot build the generator"
fi

mkdir -p "$PARENT" || exit 1
W=$(mktemp -d "$PARENT/td-bench.XXXXXX") || die "cannot make a work dir"
trap 'rm -rf "$W"' EXIT
trap 'exit 130' INT TERM HUP PIPE

# ---------------------------------------------------------------- helpers
# timed CMD...: run CMD under /usr/bin/time; sets T_SEC T_KIB T_RC.
timed() {
	"$TIME" -f '%e %M' -o "$W/time.out" "$@"
	T_RC=$?
	# shellcheck disable=SC2046 # split "seconds KiB" into $1 $2
	set -- $(tail -n 1 "$W/time.out")
	T_SEC=${1:-0} T_KIB=${2:-0}
}

# The same for every run: flush what the previous run left dirty, then
# read the inputs once (the page cache cannot be dropped without root).
warm() {
	sync
	cat "$W/data.csv" "$W/data.csv.gz" > /dev/null
}

# median < numbers
median() {
	sort -n | awk '{ v[NR] = $1 } END {
		if (NR == 0) print "nan"
		else if (NR % 2) print v[(NR + 1) / 2]
		else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Sum counts.KEY over the manifests under $1.
manifest_sum() {
	find "$1" -name manifest.json -exec cat {} + 2> /dev/null |
	    sed -n "s/.*\"counts\":{[^}]*\"$2\":\([0-9][0-9]*\).*/\1/p" |
	    awk '{ s += $1 } END { print s + 0 }'
}

# ---------------------------------------------------------------- input
echo "run-bench: generating $SIZE of sell-through CSV (seed $SEED) in $W"
gen_t0=$(date +%s.%N)
"$GEN" -s "$SIZE" -S "$SEED" -o "$W/data.csv" || die "generator failed"
gen_t1=$(date +%s.%N)
gzip -1 -c "$W/data.csv" > "$W/data.csv.gz" || die "gzip failed"
BYTES=$(wc -c < "$W/data.csv")
GZBYTES=$(wc -c < "$W/data.csv.gz")
RECORDS=$(($(wc -l < "$W/data.csv") - 1))
GEN_MBS=$(awk -v b="$BYTES" -v a="$gen_t0" -v z="$gen_t1" \
    'BEGIN { printf "%.0f", (z > a) ? b / (z - a) / 1e6 : 0 }')

cat > "$W/bench.conf" <<EOF
[integration]
name = bench
state_dir = $W/run/state
currency = USD
max_reject_ratio = 1

[watch]
pattern = *.csv

[parse]
format = csv
delimiter = ,
header = yes

[map]
store_id = column "Store Nbr"
gtin = column "UPC" gtin
txn_date = column "Week Ending" date "%m/%d/%Y"
quantity = column "Units" decimal
amount = column "Net Sales \$" decimal
promo_code = column "Promo" trim
period = week_ending

[output]
url = file://$W/run/out
batch_records = 5000
EOF
"$TRADEDROP" check -c "$W/bench.conf" > "$W/check.out" 2>&1 || {
	cat "$W/check.out" >&2
	die "tradedrop check rejects bench.conf"
}

# ---------------------------------------------------------------- cases
# Case A: a fresh state dir, the CSV linked into landing/.
run_a() {
	rm -rf "$W/run"
	mkdir -p "$W/run/state/landing" "$W/run/out" || exit 1
	ln "$W/data.csv" "$W/run/state/landing/data.csv" 2> /dev/null ||
	    cp "$W/data.csv" "$W/run/state/landing/data.csv" || exit 1
	warm
	timed "$TRADEDROP" once -c "$W/bench.conf" 2> "$W/tradedrop.log"
	echo "$T_SEC" >> "$W/a.sec"
	echo "$T_KIB" >> "$W/a.kib"
	echo "$T_RC" >> "$W/a.rc"
	A_DELIVERED=$(manifest_sum "$W/run/out" delivered)
	A_DLQ=$(manifest_sum "$W/run/out" dlq)
	echo "$A_DELIVERED" >> "$W/a.delivered"
	if [ "$T_RC" -ne 0 ]; then
		cp "$W/tradedrop.log" "$W/tradedrop-failed.log"
		A_FAILED_RUN=$1
	fi
	rm -rf "$W/run"
}

# ref1: the shell pipeline; a failing stage is noted in ref1.err.
run_ref1() {
	warm
	: > "$W/ref1.err"
	# shellcheck disable=SC2016 # expanded by the inner sh
	timed sh -c '{ gzip -dc "$1" || echo gzip >> "$3"; } |
	    { iconv -f WINDOWS-1252 -t UTF-8 || echo iconv >> "$3"; } |
	    sha256sum > "$2"' sh "$W/data.csv.gz" "$W/ref1.out" "$W/ref1.err"
	[ -s "$W/ref1.err" ] && T_RC=1
	echo "$T_SEC" >> "$W/r1.sec"
	echo "$T_KIB" >> "$W/r1.kib"
	echo "$T_RC" >> "$W/r1.rc"
}

run_ref2() {
	warm
	timed mlr --icsv --ojsonl cat "$W/data.csv" > /dev/null 2> "$W/mlr.err"
	echo "$T_SEC" >> "$W/r2.sec"
	echo "$T_KIB" >> "$W/r2.kib"
	echo "$T_RC" >> "$W/r2.rc"
}

A_FAILED_RUN=
i=1
while [ "$i" -le "$RUNS" ]; do
	run_a "$i"
	a="tradedrop $T_SEC s $((T_KIB / 1024)) MiB exit $T_RC"
	run_ref1
	r1="shell $T_SEC s"
	[ "$T_RC" -ne 0 ] && r1="$r1 (FAILED: $(tr '\n' ' ' < "$W/ref1.err"))"
	r2="mlr SKIP"
	if [ "$HAVE_MLR" -eq 1 ]; then
		run_ref2
		r2="mlr $T_SEC s"
		[ "$T_RC" -ne 0 ] && r2="$r2 (FAILED: exit $T_RC)"
	fi
	echo "run-bench: run $i/$RUNS: $a | $r1 | $r2"
	i=$((i + 1))
done

# ---------------------------------------------------------------- report
# row LABEL PREFIX: one line of the table from the PREFIX.* files
row() {
	sec=$(median < "$W/$2.sec")
	kib=$(median < "$W/$2.kib")
	awk -v l="$1" -v s="$sec" -v k="$kib" -v b="$BYTES" -v n="$RECORDS" \
	    'BEGIN { if (s > 0) printf "%-36s %9.2f %9.1f %12.0f %10.1f\n",
		l, s, b / s / 1e6, n / s, k / 1024
	    else printf "%-36s %9.2f %9s %12s %10.1f\n", l, s, "-", "-",
		k / 1024 }'
}

failed() {
	awk '$1 != 0 { f = 1 } END { exit !f }' "$1"
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b;
	    else printf "n/a" }'
}

# verdict VALUE OP GOAL
verdict() {
	awk -v v="$1" -v g="$3" -v op="$2" 'BEGIN {
		if (v == "n/a") { print "n/a"; exit }
		ok = (op == "<=") ? (v + 0 <= g + 0) : (v + 0 >= g + 0)
		print ok ? "met" : "MISSED" }'
}

A_SEC=$(median < "$W/a.sec")
A_MIB=$(awk -v k="$(median < "$W/a.kib")" 'BEGIN { printf "%.1f", k / 1024 }')
R1_SEC=$(median < "$W/r1.sec")
A_DELIVERED=$(median < "$W/a.delivered")
A_RCS=$(tr '\n' ' ' < "$W/a.rc")

echo
echo "== tradedrop bench: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "tradedrop  $("$TRADEDROP" --version 2>&1)$(git -C "$top_srcdir" \
    describe --always --dirty 2> /dev/null | sed 's/^/, commit /')"
echo "machine    $(nproc) CPU, $(sed -n 's/^model name[[:space:]]*: //p' \
    /proc/cpuinfo | head -n 1), Linux $(uname -r)"
printf 'input      data.csv %s bytes (%.1f MiB), %s records (lines - 1), ' \
    "$BYTES" "$(awk -v b="$BYTES" 'BEGIN { print b / 1048576 }')" "$RECORDS"
echo "Windows-1252, seed $SEED"
echo "           data.csv.gz (gzip -1) $GZBYTES bytes, for the shell pipeline"
echo "           generated at $GEN_MBS MB/s (to $PARENT)"
echo "note       Case A reads the plain .csv: decompression inside tradedrop"
echo "           is a later issue, so for now only the shell pipeline gunzips."
echo "           Nor does tradedrop decode Windows-1252 yet (the description,"
echo "           the only non-ASCII column, is not mapped); iconv does."
echo "           MB/s is 10^6 bytes of uncompressed CSV per second; medians of"
echo "           $RUNS runs; peak RSS is %M of /usr/bin/time (for a pipeline,"
echo "           its largest process)."
echo
printf '%-36s %9s %9s %12s %10s\n' "" seconds MB/s records/s "RSS MiB"
row "A     tradedrop once" a
row "ref1  gzip -dc | iconv | sha256sum" r1
if [ "$HAVE_MLR" -eq 1 ]; then
	row "ref2  mlr --icsv --ojsonl cat" r2
	R2_SEC=$(median < "$W/r2.sec")
else
	printf '%-36s %9s\n' "ref2  mlr --icsv --ojsonl cat" SKIP
	echo "      (mlr not found: apt-get install miller)"
	R2_SEC=
fi
echo
echo "tradedrop exit status per run: $A_RCS"
echo "tradedrop delivered (manifest counts.delivered): $A_DELIVERED of" \
    "$RECORDS records, dead-lettered $A_DLQ"
[ "$A_DELIVERED" = "$RECORDS" ] ||
    echo "WARNING: delivered $A_DELIVERED != $RECORDS records in the file"
failed "$W/r1.rc" && echo "WARNING: the shell pipeline failed in some run:" \
    "its figures are not comparable"
[ "$HAVE_MLR" -eq 1 ] && failed "$W/r2.rc" && {
	echo "WARNING: mlr failed in some run: its figures are not comparable"
	head -n 5 "$W/mlr.err" | sed 's/^/  mlr: /'
}

t_ratio=$(ratio "$A_SEC" "$R1_SEC")
if [ -n "$R2_SEC" ]; then
	# throughput ratio = Miller time / tradedrop time
	m_ratio=$(ratio "$R2_SEC" "$A_SEC")
else
	m_ratio=n/a
fi
echo
printf '%-46s %8s %8s  %s\n' ratio value goal verdict
printf '%-46s %8s %8s  %s\n' "tradedrop time / shell pipeline time" \
    "$t_ratio" "<= 1.0" "$(verdict "$t_ratio" "<=" 1.0)"
printf '%-46s %8s %8s  %s\n' "tradedrop throughput / Miller throughput" \
    "$m_ratio" ">= 4" "$(verdict "$m_ratio" ">=" 4)"
printf '%-46s %8s %8s  %s\n' "tradedrop peak RSS, MiB" \
    "$A_MIB" "<= 64" "$(verdict "$A_MIB" "<=" 64)"

status=0
if failed "$W/a.rc"; then
	echo
	echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
	echo "!!! WARNING: tradedrop once did not exit 0 (exit per run: $A_RCS)"
	echo "!!! its figures may not measure a full run. Log of run $A_FAILED_RUN:"
	tail -n 15 "$W/tradedrop-failed.log" | sed 's/^/!!!   /'
	echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
	# 2: usage or configuration error; 4: internal error; >= 126: not run
	awk '$1 == 2 || $1 == 4 || $1 >= 126 { f = 1 } END { exit !f }' \
	    "$W/a.rc" && status=1
fi
failed "$W/r1.rc" && status=1
[ "$HAVE_MLR" -eq 1 ] && failed "$W/r2.rc" && status=1
exit $status
