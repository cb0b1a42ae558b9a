#!/bin/sh
# run-fuzz.sh - build the libFuzzer harnesses with clang in a build
# directory of their own and run each for a bounded time; see
# tests/fuzz/README. Called by `make fuzz-smoke` and `make fuzz-long`:
#
#   run-fuzz.sh SECONDS HARNESS...
#
# The build directory (FUZZ_BUILD) holds src/ (a copy of the sources made
# by `make distdir`, which the caller refreshes), obj/ (configured there
# with CC=clang --enable-fuzzing; the main build is untouched), corpus/H
# (each harness's corpus, kept from run to run), seeds/, logs/H.log and
# artifacts/ (the inputs that failed).
#
# Each harness starts from its corpus, tests/fuzz/corpus/H, the test data
# that fits it and ../shared/corpus when present (the .uu archives of
# libarchive's test suite decoded first), and runs SECONDS seconds
# (-max_total_time) with -timeout=FUZZ_TIMEOUT (10 s an input) and
# -rss_limit_mb=FUZZ_RSS_MB (2048). A crash, a sanitizer report (ASan,
# UBSan, LeakSanitizer), a timeout or running out of memory fails it;
# every harness runs, then the script fails when one did. One line per
# harness gives its executions, coverage (cov: edges, ft: features) and
# corpus size.
#
# Environment: FUZZ_SEED (libFuzzer's -seed; 0, the default, picks one
# and the log names it; ./bootstrap check uses 1, so that what CI
# explores is the same from run to run but for the time each input
# takes), FUZZ_BUILD (./fuzz-build), FUZZ_CC (clang), FUZZ_JOBS
# (make -j, nproc), FUZZ_NICE (0; e.g. 19 on a shared machine),
# FUZZ_TIMEOUT, FUZZ_RSS_MB, FUZZ_SHARED_CORPUS (top_srcdir/../shared/
# corpus), top_srcdir (.), MAKE (make).
set -u

secs=${1:?usage: run-fuzz.sh SECONDS HARNESS...}
shift
src=${top_srcdir:-.}
fb=${FUZZ_BUILD:-$(pwd)/fuzz-build}
shared=${FUZZ_SHARED_CORPUS:-$src/../shared/corpus}
make=${MAKE:-make}
jobs=${FUZZ_JOBS:-$(nproc)}

mkdir -p "$fb/obj" "$fb/logs" "$fb/artifacts" "$fb/seeds" || exit 1

# --- build (configure once; make notices what changed)
if [ ! -f "$fb/obj/config.status" ]; then
	echo "fuzz: configuring $fb/obj (CC=${FUZZ_CC:-clang} --enable-fuzzing)"
	if ! (cd "$fb/obj" && ../src/configure CC="${FUZZ_CC:-clang}" \
	    --enable-fuzzing) > "$fb/logs/configure.log" 2>&1; then
		tail -n 20 "$fb/logs/configure.log"
		echo "fuzz: configure failed ($fb/logs/configure.log)" >&2
		rm -f "$fb/obj/config.status"
		exit 1
	fi
fi
progs=
for h in "$@"; do
	progs="$progs tests/fuzz/fuzz-$h"
done
echo "fuzz: building$progs"
if ! $make -C "$fb/obj" -j"$jobs" $progs > "$fb/logs/build.log" 2>&1; then
	tail -n 40 "$fb/logs/build.log"
	echo "fuzz: build failed ($fb/logs/build.log)" >&2
	exit 1
fi

# --- seeds: the test data that fits each harness
seeds_of() {
	case $1 in
	csv)		echo tests/data/csv tests/data/encoding @csv @pos-csv @encoding ;;
	conf)		echo etc ;;
	minisign)	echo tests/data/minisign @minisign ;;
	x12)		echo tests/data/x12 etc/examples @x12-852 @x12-867 @x12-envelope @x12-other ;;
	map)		;;
	decode)		echo tests/data/encoding tests/data/csv @encoding ;;
	sums)		echo tests/data/minisign ;;
	archive)	echo tests/data/archives @archives ;;
	esac
}

# The .uu files of a tree, decoded into dir (libarchive keeps its test
# archives uuencoded).
uudecode_into() {
	command -v uudecode > /dev/null 2>&1 || return 0
	find "$1" -name '*.uu' -type f | while read -r f; do
		uudecode -o "$2/$(basename "$f" .uu)" "$f" 2> /dev/null
	done
}

failed=
total=0
for h in "$@"; do
	bin=$fb/obj/tests/fuzz/fuzz-$h
	dirs=
	[ -d "$src/tests/fuzz/corpus/$h" ] && dirs="$src/tests/fuzz/corpus/$h"
	for d in $(seeds_of "$h"); do
		case $d in
		@*) d=$shared/${d#@} ;;
		*) d=$src/$d ;;
		esac
		[ -d "$d" ] && dirs="$dirs $d"
	done
	if [ "$h" = archive ]; then
		rm -rf "$fb/seeds/archive"
		mkdir -p "$fb/seeds/archive"
		for d in $dirs; do
			uudecode_into "$d" "$fb/seeds/archive"
		done
		dirs="$dirs $fb/seeds/archive"
	fi
	mkdir -p "$fb/corpus/$h"
	rm -f "$fb/artifacts/$h-"*
	log=$fb/logs/$h.log
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    nice -n "${FUZZ_NICE:-0}" "$bin" -max_total_time="$secs" \
	    -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb="${FUZZ_RSS_MB:-2048}" \
	    -artifact_prefix="$fb/artifacts/$h-" -print_final_stats=1 \
	    -seed="${FUZZ_SEED:-0}" \
	    "$fb/corpus/$h" $dirs > "$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' "$log")
	line=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1)
	cov=$(echo "$line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$line" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
	[ -n "$runs" ] || runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ "$rc" -eq 0 ]; then
		printf 'fuzz-%-9s ok    %10s execs in %ss  cov %s  ft %s  corpus %s\n' \
		    "$h" "${runs:-?}" "$secs" "${cov:-?}" "${ft:-?}" "${corp:-?}"
		total=$((total + ${runs:-0}))
		continue
	fi
	failed="$failed $h"
	printf 'fuzz-%-9s FAIL  (exit %s) after %s execs, cov %s\n' "$h" "$rc" \
	    "${runs:-?}" "${cov:-?}"
	grep -E 'ERROR|SUMMARY|runtime error|Test unit written|ALARM|out-of-memory' \
	    "$log" | head -n 20
	tail -n 30 "$log"
	for a in "$fb/artifacts/$h-"*; do
		[ -f "$a" ] || continue
		echo "  reproduce: $bin $a"
		echo "         or: tests/fuzz/fuzz-$h-replay $a  (the gcc build)"
	done
done
echo "fuzz: $total executions in all; logs in $fb/logs"
if [ -n "$failed" ]; then
	echo "fuzz: FAILED:$failed" >&2
	exit 1
fi
exit 0
