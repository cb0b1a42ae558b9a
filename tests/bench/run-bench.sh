#!/bin/sh
# run-bench.sh - `make bench`: tradedrop's throughput and memory beside
# standard tools, on a generated retailer sell-through CSV (Windows-1252).
#
#   A     tradedrop once -c bench.conf        data.csv.gz  (gzip -1)
#   A2    tradedrop once -c bench.conf        data.csv     (plain, as before)
#   B     tradedrop once -c bench.conf        data.csv.zst (zstd -1)
#   ref1  gzip -dc data.csv.gz | iconv -f WINDOWS-1252 -t UTF-8 | sha256sum
#   ref2  mlr --icsv --ojsonl cat data.csv    (Debian package miller)
#   ref3  zstd -dc data.csv.zst | iconv -f WINDOWS-1252 -t UTF-8 | sha256sum
#
# tradedrop unpacks the compressed file itself (libarchive), decodes it
# as Windows-1252 ([decode] encoding = windows-1252) with the description
# column mapped, so the transcoding is real work, and writes gzip batches
# to file://.  A is held to the goals against ref1 and ref2, B against
# ref3 and ref2; A2 has no goals and is there to show regressions of the
# parse/map/write path apart from decompression.
#
# The runs are interleaved (A, ref1, B, ref3, ref2, A2, A, ...); before
# each one the inputs are read once to warm the page cache, the same for
# all.  The medians are printed with the ratios to the goals.  Every
# tradedrop run is checked: exit 0, all records delivered (manifest
# counts.delivered), none dead-lettered, decoded as windows-1252; a
# failed check prints a loud WARNING.  A benchmark, not a test: a missed
# goal or a failed check is printed, never an error.  Exits 1 only when
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
for t in gzip zstd iconv sha256sum awk; do
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
	cat "$W/data.csv" "$W/data.csv.gz" "$W/data.csv.zst" > /dev/null
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

# The top-level "encoding" of the manifests under $1, space-separated
# ("none" when there is no manifest).
manifest_encoding() {
	enc=$(find "$1" -name manifest.json -exec cat {} + 2> /dev/null |
	    sed -n 's/.*"verification":{[^}]*},"encoding":"\([^"]*\)".*/\1/p' |
	    sort -u | tr '\n' ' ' | sed 's/ $//')
	echo "${enc:-none}"
}

# ---------------------------------------------------------------- input
echo "run-bench: generating $SIZE of sell-through CSV (seed $SEED) in $W"
gen_t0=$(date +%s.%N)
"$GEN" -s "$SIZE" -S "$SEED" -o "$W/data.csv" || die "generator failed"
gen_t1=$(date +%s.%N)
gzip -1 -c "$W/data.csv" > "$W/data.csv.gz" || die "gzip failed"
zstd -q -1 -c "$W/data.csv" > "$W/data.csv.zst" || die "zstd failed"
BYTES=$(wc -c < "$W/data.csv")
GZBYTES=$(wc -c < "$W/data.csv.gz")
ZSTBYTES=$(wc -c < "$W/data.csv.zst")
RECORDS=$(($(wc -l < "$W/data.csv") - 1))
GEN_MBS=$(awk -v b="$BYTES" -v a="$gen_t0" -v z="$gen_t1" \
    'BEGIN { printf "%.0f", (z > a) ? b / (z - a) / 1e6 : 0 }')

cat > "$W/bench.conf" <<CONF
[integration]
name = bench
state_dir = $W/run/state
currency = USD
max_reject_ratio = 1

[watch]
pattern = *.csv, *.csv.gz, *.csv.zst

[decode]
encoding = windows-1252

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
retailer_item_id = column "Item Description" trim
period = week_ending

[output]
url = file://$W/run/out
batch_records = 5000
CONF
"$TRADEDROP" check -c "$W/bench.conf" > "$W/check.out" 2>&1 || {
	cat "$W/check.out" >&2
	die "tradedrop check rejects bench.conf"
}

# ---------------------------------------------------------------- cases
# run_td CASE FILE RUN: tradedrop once on a fresh state dir with FILE
# linked into landing/.  Appends to CASE.sec .kib .rc .delivered .dlq
# .enc; the log of the first failed run is kept as CASE-failed.log.
run_td() {
	rm -rf "$W/run"
	mkdir -p "$W/run/state/landing" "$W/run/out" || exit 1
	ln "$W/$2" "$W/run/state/landing/$2" 2> /dev/null ||
	    cp "$W/$2" "$W/run/state/landing/$2" || exit 1
	warm
	timed "$TRADEDROP" once -c "$W/bench.conf" 2> "$W/tradedrop.log"
	echo "$T_SEC" >> "$W/$1.sec"
	echo "$T_KIB" >> "$W/$1.kib"
	echo "$T_RC" >> "$W/$1.rc"
	TD_DELIVERED=$(manifest_sum "$W/run/out" delivered)
	TD_DLQ=$(manifest_sum "$W/run/out" dlq)
	echo "$TD_DELIVERED" >> "$W/$1.delivered"
	echo "$TD_DLQ" >> "$W/$1.dlq"
	manifest_encoding "$W/run/out" >> "$W/$1.enc"
	if [ "$T_RC" -ne 0 ] && [ ! -e "$W/$1-failed.log" ]; then
		cp "$W/tradedrop.log" "$W/$1-failed.log"
		echo "$3" > "$W/$1-failed.run"
	fi
	rm -rf "$W/run"
	TD_LINE="$T_SEC s $((T_KIB / 1024)) MiB exit $T_RC"
	TD_LINE="$TD_LINE delivered $TD_DELIVERED dlq $TD_DLQ"
}

# run_pipe CASE DECOMPRESSOR FILE: DECOMPRESSOR -dc FILE | iconv | sha256sum;
# a failing stage is noted in CASE.err, the digest kept in CASE.out.
run_pipe() {
	warm
	: > "$W/$1.err"
	# shellcheck disable=SC2016 # expanded by the inner sh
	timed sh -c '{ "$1" -dc "$2" || echo "$1" >> "$4"; } |
	    { iconv -f WINDOWS-1252 -t UTF-8 || echo iconv >> "$4"; } |
	    sha256sum > "$3"' sh "$2" "$W/$3" "$W/$1.out" "$W/$1.err"
	[ -s "$W/$1.err" ] && T_RC=1
	echo "$T_SEC" >> "$W/$1.sec"
	echo "$T_KIB" >> "$W/$1.kib"
	echo "$T_RC" >> "$W/$1.rc"
	PIPE_LINE="$T_SEC s"
	[ "$T_RC" -ne 0 ] &&
	    PIPE_LINE="$PIPE_LINE (FAILED: $(tr '\n' ' ' < "$W/$1.err"))"
}

run_ref2() {
	warm
	timed mlr --icsv --ojsonl cat "$W/data.csv" > /dev/null 2> "$W/mlr.err"
	echo "$T_SEC" >> "$W/r2.sec"
	echo "$T_KIB" >> "$W/r2.kib"
	echo "$T_RC" >> "$W/r2.rc"
}

i=1
while [ "$i" -le "$RUNS" ]; do
	run_td a data.csv.gz "$i"
	echo "run-bench: run $i/$RUNS: A    tradedrop .csv.gz $TD_LINE"
	run_pipe r1 gzip data.csv.gz
	echo "run-bench: run $i/$RUNS: ref1 gzip|iconv $PIPE_LINE"
	run_td b data.csv.zst "$i"
	echo "run-bench: run $i/$RUNS: B    tradedrop .csv.zst $TD_LINE"
	run_pipe r3 zstd data.csv.zst
	echo "run-bench: run $i/$RUNS: ref3 zstd|iconv $PIPE_LINE"
	if [ "$HAVE_MLR" -eq 1 ]; then
		run_ref2
		r2="$T_SEC s"
		[ "$T_RC" -ne 0 ] && r2="$r2 (FAILED: exit $T_RC)"
		echo "run-bench: run $i/$RUNS: ref2 mlr $r2"
	fi
	run_td a2 data.csv "$i"
	echo "run-bench: run $i/$RUNS: A2   tradedrop .csv $TD_LINE"
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

# goal CASE LABEL VALUE OP GOAL: one line of the ratio table; the verdict
# is flagged when the checks of CASE failed
goal() {
	v=$(verdict "$3" "$4" "$5")
	case " $WARNINGS " in
	*" $1 "*) v="$v (UNTRUSTED: checks failed)" ;;
	esac
	printf '%-50s %8s %8s  %s\n' "$2" "$3" "$4 $5" "$v"
}

mib() {
	awk -v k="$(median < "$W/$1.kib")" 'BEGIN { printf "%.1f", k / 1024 }'
}

# check_td CASE LABEL: the per-run checks of a tradedrop case; prints a
# summary line, and a loud warning when a run did not exit 0, did not
# deliver every record, dead-lettered any or did not decode windows-1252.
# Sets status to 1 on a usage, configuration or internal error.
check_td() {
	rcs=$(tr '\n' ' ' < "$W/$1.rc" | sed 's/ $//')
	dels=$(tr '\n' ' ' < "$W/$1.delivered" | sed 's/ $//')
	dlqs=$(tr '\n' ' ' < "$W/$1.dlq" | sed 's/ $//')
	encs=$(sort -u "$W/$1.enc" | tr '\n' ' ' | sed 's/ $//')
	printf '%-22s exit %s; delivered %s of %s; dead-lettered %s; %s\n' \
	    "$2" "$rcs" "$dels" "$RECORDS" "$dlqs" "decoded as $encs"
	problems=
	failed "$W/$1.rc" &&
	    problems="$problems|did not exit 0 (exit per run: $rcs)"
	awk -v n="$RECORDS" '$1 != n { f = 1 } END { exit !f }' \
	    "$W/$1.delivered" &&
	    problems="$problems|delivered $dels, not all $RECORDS records"
	failed "$W/$1.dlq" &&
	    problems="$problems|dead-lettered records (per run: $dlqs)"
	[ "$encs" = windows-1252 ] ||
	    problems="$problems|manifest encoding '$encs', not windows-1252"
	[ -z "$problems" ] && return 0
	WARNINGS="$WARNINGS $1"
	echo "$problems" | tr '|' '\n' | sed '1d' > "$W/$1.problems"
	{
		echo
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
		echo "!!! WARNING: $2: its figures may not measure a full run:"
		sed 's/^/!!!   /' "$W/$1.problems"
		if [ -e "$W/$1-failed.log" ]; then
			echo "!!! log of run $(cat "$W/$1-failed.run"):"
			tail -n 15 "$W/$1-failed.log" | sed 's/^/!!!   /'
		fi
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
	} >> "$W/warnings.out"
	# 2: usage or configuration error; 4: internal error; >= 126: not run
	awk '$1 == 2 || $1 == 4 || $1 >= 126 { f = 1 } END { exit !f }' \
	    "$W/$1.rc" && status=1
	return 0
}

A_SEC=$(median < "$W/a.sec")
B_SEC=$(median < "$W/b.sec")
R1_SEC=$(median < "$W/r1.sec")
R3_SEC=$(median < "$W/r3.sec")

echo
echo "== tradedrop bench: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "tradedrop  $("$TRADEDROP" --version 2>&1)$(git -C "$top_srcdir" \
    describe --always --dirty 2> /dev/null | sed 's/^/, commit /')"
echo "machine    $(nproc) CPU, $(sed -n 's/^model name[[:space:]]*: //p' \
    /proc/cpuinfo | head -n 1), Linux $(uname -r)"
printf 'input      data.csv %s bytes (%.1f MiB), %s records (lines - 1), ' \
    "$BYTES" "$(awk -v b="$BYTES" 'BEGIN { print b / 1048576 }')" "$RECORDS"
echo "Windows-1252, seed $SEED"
echo "           data.csv.gz (gzip -1) $GZBYTES bytes, for A and ref1"
echo "           data.csv.zst (zstd -1) $ZSTBYTES bytes, for B and ref3"
echo "           generated at $GEN_MBS MB/s (to $PARENT)"
echo "note       tradedrop unpacks the file itself and decodes it with"
echo "           [decode] encoding = windows-1252, the description mapped"
echo "           (retailer_item_id); gzip batches to file://.  A2 is the"
echo "           same configuration on the plain .csv (no goals)."
echo "           MB/s is 10^6 bytes of uncompressed CSV per second; medians of"
echo "           $RUNS runs; peak RSS is %M of /usr/bin/time (for a pipeline,"
echo "           its largest process)."
echo
printf '%-36s %9s %9s %12s %10s\n' "" seconds MB/s records/s "RSS MiB"
row "A     tradedrop once, .csv.gz" a
row "ref1  gzip -dc | iconv | sha256sum" r1
row "B     tradedrop once, .csv.zst" b
row "ref3  zstd -dc | iconv | sha256sum" r3
if [ "$HAVE_MLR" -eq 1 ]; then
	row "ref2  mlr --icsv --ojsonl cat" r2
	R2_SEC=$(median < "$W/r2.sec")
else
	printf '%-36s %9s\n' "ref2  mlr --icsv --ojsonl cat" SKIP
	echo "      (mlr not found: apt-get install miller)"
	R2_SEC=
fi
row "A2    tradedrop once, plain .csv" a2

status=0
WARNINGS=
: > "$W/warnings.out"
echo
check_td a "A  (.csv.gz)"
check_td b "B  (.csv.zst)"
check_td a2 "A2 (plain .csv)"
failed "$W/r1.rc" && echo "WARNING: ref1 (gzip | iconv) failed in some" \
    "run: its figures are not comparable"
failed "$W/r3.rc" && echo "WARNING: ref3 (zstd | iconv) failed in some" \
    "run: its figures are not comparable"
if ! failed "$W/r1.rc" && ! failed "$W/r3.rc" &&
    ! cmp -s "$W/r1.out" "$W/r3.out"; then
	echo "WARNING: ref1 and ref3 digests differ: the .gz and .zst do not" \
	    "hold the same data"
fi
[ "$HAVE_MLR" -eq 1 ] && failed "$W/r2.rc" && {
	echo "WARNING: mlr failed in some run: its figures are not comparable"
	head -n 5 "$W/mlr.err" | sed 's/^/  mlr: /'
}
cat "$W/warnings.out"

if [ -n "$R2_SEC" ]; then
	# throughput ratio = Miller time / tradedrop time
	ma_ratio=$(ratio "$R2_SEC" "$A_SEC")
	mb_ratio=$(ratio "$R2_SEC" "$B_SEC")
else
	ma_ratio=n/a mb_ratio=n/a
fi
echo
printf '%-50s %8s %8s  %s\n' ratio value goal verdict
goal a "A: tradedrop time / shell pipeline (ref1) time" \
    "$(ratio "$A_SEC" "$R1_SEC")" "<=" 1.0
goal a "A: tradedrop throughput / Miller throughput" "$ma_ratio" ">=" 4
goal a "A: tradedrop peak RSS, MiB" "$(mib a)" "<=" 64
goal b "B: tradedrop time / shell pipeline (ref3) time" \
    "$(ratio "$B_SEC" "$R3_SEC")" "<=" 1.0
goal b "B: tradedrop throughput / Miller throughput" "$mb_ratio" ">=" 4
goal b "B: tradedrop peak RSS, MiB" "$(mib b)" "<=" 64
if [ -n "$WARNINGS" ]; then
	echo
	echo "WARNING: the checks of tradedrop failed for case(s)$WARNINGS" \
	    "(see above): their figures are not trustworthy"
fi

failed "$W/r1.rc" && status=1
failed "$W/r3.rc" && status=1
[ "$HAVE_MLR" -eq 1 ] && failed "$W/r2.rc" && status=1
exit $status
