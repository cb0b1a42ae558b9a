#!/bin/sh
# run-bench.sh - `make bench`: tradedrop's throughput and memory beside
# standard tools, on a generated retailer sell-through CSV (Windows-1252).
#
#   A     tradedrop once -c bench.conf        data.csv.gz  (gzip -1)
#   A2    tradedrop once -c bench.conf        data.csv     (plain, as before)
#   B     tradedrop once -c bench.conf        data.csv.zst (zstd -1)
#   H     tradedrop once -c bench-h.conf      data.csv.gz  (to https://)
#   H-zstd tradedrop once -c bench-hz.conf    data.csv.gz  (to https://, zstd)
#   C     tradedrop once -c bench-c.conf      data.x12     (X12 852, SDQ)
#   E     tradedrop run -c bench-h.conf      data.csv.gz dropped in (https)
#   D     tradedrop run, small files           a burst, then 10 files/s
#   ref1  gzip -dc data.csv.gz | iconv -f WINDOWS-1252 -t UTF-8 | sha256sum
#   ref2  mlr --icsv --ojsonl cat data.csv    (Debian package miller)
#   ref3  zstd -dc data.csv.zst | iconv -f WINDOWS-1252 -t UTF-8 | sha256sum
#
# tradedrop unpacks the compressed file itself (libarchive), decodes it
# as Windows-1252 ([decode] encoding = windows-1252) with the description
# column mapped, so the transcoding is real work, and writes gzip batches
# to file://.  The goals are issue 17's: A at most ref1's time, B at
# most 1.5 times ref3's, A2 (the plain .csv Miller reads) at least 3
# times Miller's throughput; A2 also shows regressions of the
# parse/map/write path apart from decompression.  Every configuration has
# [watch] settle = 0: a drop is whole before it is timed (copied in
# before `once`, renamed in under `run`), and the settle wait (2 s by
# default, a policy delay, not work) is not what is measured.
#
# H is A delivered over HTTPS with mutual TLS instead of file://: the
# same configuration, but [output] url = https://127.0.0.1:PORT/bench
# with ca_file, client_cert and client_key (no token_file), made by
# tests/lib/mkca.sh, to a local tests/lib/https-peer.py (run with
# /usr/bin/python3, --require-client-cert) that stores every body (and
# fsyncs it) as a reconciler would.  H is held to H time / A time <= 1.15.
# H-zstd is H with output_encoding = zstd (the peer just stores the
# bodies); its ratio to A is printed without a goal.  Each H run gets a
# new peer on a new, empty directory: the idempotency keys depend only on
# the input and the mapping, so a peer that had seen them would answer
# 409 to every batch and store nothing, which would not measure a
# reconciler's work.  The peer is started before the timed run (its
# start is not timed; its CPU competes with tradedrop's, as a local
# receiver does) and stopped with SIGTERM, then waited for, after it and
# when the script exits or is interrupted.  After each H run the peer's
# requests.ndjson is checked: as many POST /batches as the manifest's
# batches, all answered 2xx, complete, with the keys and SHA-256 of its
# batch_list, and the POST /transmissions (the manifest, from which the
# counts below are taken) answered 2xx; otherwise a loud WARNING, at once
# and in the summary.  Without /usr/bin/python3 or openssl, H is skipped.
#
# C is the same job on sell-through sent as EDI: an X12 852 from the
# generator (gen-sellthrough -x, as many SDQ quantities as data.csv has
# rows), format = x12 with its built-in mapping, gzip batches to
# file://.  Its MB/s are of the X12 text; it is held to 100 MB/s, and its
# time and records per second are printed beside A's.
#
# E and D run the daemon.  E is H under `tradedrop run`: the daemon is
# started (not timed) on bench-h.conf, data.csv.gz is renamed into its
# landing directory, and the time until the peer has the manifest is
# held to E time / A time <= 1.15; what the peer got is checked as H's.
# The waits of E and D are tests/bench/await.py's, on inotify, started
# before the drop: a shell loop polling 50 times a second took CPU from
# the daemon and its peer.  D drops small files (one row each)
# into a running daemon with a file:// output: first BENCH_D_FILES
# (default 10000) renamed in at once, the time until all are delivered
# held to < 30 s; then a new daemon and 10 files a second for
# BENCH_D_SECONDS (default 30; 600 for the ten-minute memory check),
# the median drop-to-delivered latency (from the daemon's own histogram,
# [metrics] textfile: the upper bound of the bucket that holds it) held
# to < 50 ms, and the resident memory of the daemon's processes printed
# at the start and the end of those drops, and every tenth of them:
# flat is the end's within 5% of the middle's (what grows in the first
# half is the page caches and heap warming up).
#
# F is memory: tradedrop once (bench.conf, as A) on a .csv.gz of each
# size of BENCH_F_SIZES, one run each, its peak RSS held to <= 64 MiB at
# every size and to flat (the last size's at most 1.25 times the
# first's).  The data is made as A's (same seed); where a size is
# BENCH_SIZE, A's data.csv.gz is used.
#
# The timeline of A: one more run of A, every process of it sampled each
# 0.2 s (/proc/PID/stat), says when the parser child was done and how long
# the main process then worked alone (the ledger's commit of the file's
# record keys, the checkpoint, the delivery): A's critical path.
#
# CPU per stage: every case (BENCH_PERF_CASES) is run once more under
# `perf record` (not among the timed runs; E and D as the daemon with
# its workers), the self samples of perf report summed by stage
# (inflate, decode+parse, map+format, hashing, compression,
# write+fsync, sqlite, ledger-runs, tls+http, processes+vm, memcpy,
# malloc, kernel(pv), other) with the table STAGES, the one place to
# improve it, and multiplied by the run's CPU seconds; the top 5
# samples of "other" are printed.  Without a working perf, a line says
# so and the rest runs.
#
# The runs are interleaved (A, H, ref1, B, ref3, ref2, A2, H-zstd, A,
# ...); before each one the inputs are read once to warm the page cache,
# the same for all.  The medians are printed with the ratios to the
# goals.  Every tradedrop run is checked: exit 0, all records delivered
# (manifest counts.delivered), none dead-lettered, decoded as
# windows-1252; a failed check prints a loud WARNING.  A benchmark, not a
# test: a missed goal or a failed check is printed, never an error.
# Exits 1 only when something could not run at all.
#
# Environment:
#   BENCH_SIZE   size of the generated CSV, bytes with K/M/G (default 1G)
#   BENCH_RUNS   runs of each case (default 3)
#   BENCH_SEED   seed of the generator (default 1)
#   BENCH_DIR    where the work directory is made (default /tmp); the
#                work directory (not BENCH_DIR) is removed at the end
#   top_builddir the build tree (default: the current directory)
#   top_srcdir   the source tree (default: two levels above this script)
#   BENCH_D_FILES   case D: files of the burst (default 10000)
#   BENCH_D_SECONDS case D: seconds of 10 files/s (default 30)
#   BENCH_F_SIZES   case F: sizes of its drops (default "10M 100M 1G")
#   BENCH_PERF_CASES  the cases profiled per stage (default
#                "a b a2 c h hz e d"; "" none)
#   BENCH_D_PERF_FILES  files of D's profiled burst (default 1000)
#   PERF         perf(1) (default perf)
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
PYTHON=/usr/bin/python3
PEER=$top_srcdir/tests/lib/https-peer.py
MKCA=$top_srcdir/tests/lib/mkca.sh

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
# case H needs the test peer (python3) and a test PKI (openssl)
HAVE_HTTPS=1 HTTPS_WHY=
[ -x "$PYTHON" ] || HAVE_HTTPS=0 HTTPS_WHY="$PYTHON missing"
command -v "${OPENSSL:-openssl}" > /dev/null 2>&1 ||
    HAVE_HTTPS=0 HTTPS_WHY="openssl missing"
[ -r "$PEER" ] && [ -r "$MKCA" ] ||
    HAVE_HTTPS=0 HTTPS_WHY="$PEER or $MKCA missing"

# the generator, rebuilt when missing or older than its source
if [ ! -x "$GEN" ] || [ -n "$(find "$GENSRC" -newer "$GEN")" ]; then
	mkdir -p "$top_builddir/tests/bench" || exit 1
	echo "run-bench: ${CC:-cc} -O2 -o $GEN $GENSRC"
	${CC:-cc} -O2 -o "$GEN" "$GENSRC" || die "cannot build the generator"
fi

mkdir -p "$PARENT" || exit 1
W=$(mktemp -d "$PARENT/td-bench.XXXXXX") || die "cannot make a work dir"

# ---------------------------------------------------------------- peer
# The HTTPS peer of case H: at most one at a time, its pid in PEER_PID.
PEER_PID=

# alive PID: PID is running (not gone, not a zombie waiting for wait)
alive() {
	[ -d "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' \
	    "/proc/$1/status" 2> /dev/null
}

# descendants PID: the processes under PID, each before its own
descendants() {
	for _c in $(pgrep -P "$1"); do
		echo "$_c"
		descendants "$_c"
	done
}

# The daemon of cases E and D (td_run), its pid in TD_PID.
TD_PID=

# td_kill: SIGTERM to the daemon td_run started and to every process
# under it (perf and its workload too), then wait for it.  Safe to call
# when no daemon runs.
td_kill() {
	[ -n "$TD_PID" ] || return 0
	# shellcheck disable=SC2046 # one pid a word
	kill -TERM $(descendants "$TD_PID") "$TD_PID" 2> /dev/null
	wait "$TD_PID" 2> /dev/null
	TD_PID=
}

# peer_stop: SIGTERM to the peer, then wait for it (SIGKILL if it is
# still there after 10 s).  Safe to call when no peer runs.
peer_stop() {
	[ -n "$PEER_PID" ] || return 0
	kill -TERM "$PEER_PID" 2> /dev/null
	_pn=0
	while alive "$PEER_PID" && [ "$_pn" -lt 100 ]; do
		sleep 0.1
		_pn=$((_pn + 1))
	done
	if alive "$PEER_PID"; then
		echo "run-bench: https peer $PEER_PID ignored SIGTERM;" \
		    "SIGKILL" >&2
		kill -KILL "$PEER_PID" 2> /dev/null
	fi
	wait "$PEER_PID" 2> /dev/null
	PEER_PID=
}

# peer_start DIR: a new peer on the new, empty DIR (mutual TLS); sets
# PEER_PORT.  Returns 1 when it is not listening within 10 s.
peer_start() {
	peer_stop
	PEER_DIR=$1
	rm -rf "$PEER_DIR"
	mkdir -p "$PEER_DIR" || exit 1
	"$PYTHON" "$PEER" --dir "$PEER_DIR" --cert "$W/pki/server.pem" \
	    --key "$W/pki/server.key" --ca "$W/pki/ca.pem" \
	    --require-client-cert 2>> "$W/peer.log" < /dev/null &
	PEER_PID=$!
	_pn=0
	while [ ! -s "$PEER_DIR/port" ]; do
		if ! alive "$PEER_PID" || [ "$_pn" -ge 100 ]; then
			peer_stop
			return 1
		fi
		sleep 0.1
		_pn=$((_pn + 1))
	done
	PEER_PORT=$(cat "$PEER_DIR/port")
}

trap 'td_kill; peer_stop; rm -rf "$W"' EXIT
trap 'exit 130' INT TERM HUP PIPE

# ---------------------------------------------------------------- helpers
# timed CMD...: run CMD under /usr/bin/time (itself under $PROFILE when
# that is set: see the stages below); sets T_SEC T_KIB T_CPU (user +
# system seconds) T_RC.
timed() {
	$PROFILE "$TIME" -f '%e %M %U %S' -o "$W/time.out" "$@"
	T_RC=$?
	# shellcheck disable=SC2046 # split "seconds KiB user sys" into $1..$4
	set -- $(tail -n 1 "$W/time.out")
	T_SEC=${1:-0} T_KIB=${2:-0}
	T_CPU=$(awk -v u="${3:-0}" -v s="${4:-0}" 'BEGIN { print u + s }')
}
PROFILE=

# The same for every run: flush what the previous run left dirty, then
# read the inputs once (the page cache cannot be dropped without root).
warm() {
	sync
	cat "$W/data.csv" "$W/data.csv.gz" "$W/data.csv.zst" "$W/data.x12" \
	    > /dev/null
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
"$GEN" -x "$RECORDS" -S "$SEED" -o "$W/data.x12" || die "generator -x failed"
XBYTES=$(wc -c < "$W/data.x12")
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
settle = 0

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

# bench-c.conf: the X12 852 of case C, its built-in mapping
sed -e '/^\[decode\]/,/^\[output\]/{/^\[output\]/!d;}' \
    -e 's/^pattern = .*/pattern = *.x12/' "$W/bench.conf" > "$W/bench-c.conf"
sed -i 's/^\[output\]/[parse]\nformat = x12\n\n[output]/' "$W/bench-c.conf"
"$TRADEDROP" check -c "$W/bench-c.conf" > "$W/check.out" 2>&1 || {
	cat "$W/check.out" >&2
	die "tradedrop check rejects bench-c.conf"
}

# bench-h.conf and bench-hz.conf: bench.conf with an https:// url to the
# peer (@PORT@ is replaced for each run, the peer's port being new),
# mutual TLS, and for hz output_encoding = zstd.  [output] is the last
# section of bench.conf, so the keys are appended to it.
HTTPS_BROKEN=
if [ "$HAVE_HTTPS" -eq 1 ]; then
	sh "$MKCA" "$W/pki" || die "tests/lib/mkca.sh failed"
	for c in h hz; do
		{
			grep -v '^url = ' "$W/bench.conf"
			echo "url = https://127.0.0.1:@PORT@/bench"
			echo "ca_file = $W/pki/ca.pem"
			echo "client_cert = $W/pki/client.pem"
			echo "client_key = $W/pki/client.key"
			[ "$c" = hz ] && echo "output_encoding = zstd"
		} > "$W/bench-$c.conf"
	done
	# the configurations load, and the handshake with the peer works
	if ! peer_start "$W/peer"; then
		HTTPS_BROKEN="the https peer did not start"
	else
		for c in h hz; do
			sed "s|@PORT@|$PEER_PORT|" "$W/bench-$c.conf" \
			    > "$W/check-$c.conf"
			"$TRADEDROP" check --connect -c "$W/check-$c.conf" \
			    > "$W/check.out" 2>&1 || {
				cat "$W/check.out" >&2
				HTTPS_BROKEN="tradedrop check --connect fails"
				HTTPS_BROKEN="$HTTPS_BROKEN with bench-$c.conf"
			}
		done
		peer_stop
	fi
	if [ -n "$HTTPS_BROKEN" ]; then
		tail -n 10 "$W/peer.log" >&2 2> /dev/null
		echo "!!! WARNING: case H cannot run: $HTTPS_BROKEN" >&2
		HAVE_HTTPS=0 HTTPS_WHY=$HTTPS_BROKEN
	fi
	rm -rf "$W/peer"
fi

# ---------------------------------------------------------------- cases
# run_td CASE FILE RUN [CONF]: tradedrop once on a fresh state dir with
# a copy of FILE in landing/.  Appends to CASE.sec .kib .rc .delivered
# .dlq .enc; the log of the first failed run is kept as CASE-failed.log.
# With CONF (bench-h.conf or bench-hz.conf) the output is a new https
# peer, checked after the run (peer_check), its manifest put into
# run/out/ for the counts; its problems are appended to CASE.peer.
run_td() {
	rm -rf "$W/run"
	mkdir -p "$W/run/state/landing" "$W/run/out" || exit 1
	# a copy: landing refuses a file with a second name (a hard link)
	cp "$W/$2" "$W/run/state/landing/${2##*/}" || exit 1
	conf=$W/bench.conf
	case $1 in c|pc) conf=$W/bench-c.conf ;; esac
	if [ $# -ge 4 ]; then
		conf=$W/run/$4
		if ! peer_start "$W/peer"; then
			T_SEC=0 T_KIB=0 T_CPU=0 T_RC=127
			echo "the https peer did not start" > "$W/tradedrop.log"
			echo "run $3: the https peer did not start" \
			    >> "$W/$1.peer"
			peer_fail "$1" "$3"
			record_td "$1" "$3"
			return
		fi
		sed "s|@PORT@|$PEER_PORT|" "$W/$4" > "$conf"
	fi
	warm
	timed "$TRADEDROP" once -c "$conf" 2> "$W/tradedrop.log"
	if [ $# -ge 4 ]; then
		peer_stop
		peer_check "$1" "$3"
		rm -rf "$W/peer"
	fi
	record_td "$1" "$3"
}

# record_td CASE RUN: the bookkeeping of run_td
record_td() {
	echo "$T_SEC" >> "$W/$1.sec"
	echo "$T_KIB" >> "$W/$1.kib"
	echo "$T_CPU" >> "$W/$1.cpu"
	echo "$T_RC" >> "$W/$1.rc"
	TD_DELIVERED=$(manifest_sum "$W/run/out" delivered)
	TD_DLQ=$(manifest_sum "$W/run/out" dlq)
	echo "$TD_DELIVERED" >> "$W/$1.delivered"
	echo "$TD_DLQ" >> "$W/$1.dlq"
	manifest_encoding "$W/run/out" >> "$W/$1.enc"
	if [ "$T_RC" -ne 0 ] && [ ! -e "$W/$1-failed.log" ]; then
		cp "$W/tradedrop.log" "$W/$1-failed.log" 2> /dev/null
		echo "$2" > "$W/$1-failed.run"
	fi
	rm -rf "$W/run"
	TD_LINE="$T_SEC s $((T_KIB / 1024)) MiB exit $T_RC"
	TD_LINE="$TD_LINE delivered $TD_DELIVERED dlq $TD_DLQ$PEER_LINE"
	PEER_LINE=
}
PEER_LINE=

# peer_fail CASE RUN: the loud warning, at once, of a failed peer check
peer_fail() {
	{
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
		echo "!!! WARNING: case $1 run $2: the https peer did not get" \
		    "what it should:"
		grep "^run $2: " "$W/$1.peer" | sed 's/^/!!!   /'
		echo "!!! peer log (last lines):"
		tail -n 8 "$W/peer.log" 2> /dev/null | sed 's/^/!!!   /'
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
	}
}

# peer_check CASE RUN: after an H run (peer stopped), read the peer's
# requests.ndjson: the POST /transmissions must have arrived, complete
# and answered 2xx, and there must be exactly as many POST /batches as
# the manifest's batches, each complete, answered 2xx, with the
# idempotency keys and SHA-256 of the manifest's batch_list.  The
# manifest is written to run/out/peer/manifest.json for the counts.
# Problems go to CASE.peer (and are printed loudly at once); sets
# PEER_LINE for the progress line.
peer_check() {
	mkdir -p "$W/run/out/peer" || exit 1
	"$PYTHON" - "$W/peer" "$W/run/out/peer/manifest.json" \
	    > "$W/peer-check.out" 2>&1 <<'PY' ||
import gzip, json, os, sys
d, out = sys.argv[1], sys.argv[2]
bad = []
reqs = []
try:
    with open(os.path.join(d, "requests.ndjson"), encoding="utf-8") as f:
        for line in f:
            reqs.append(json.loads(line))
except (OSError, ValueError) as e:
    bad.append("cannot read requests.ndjson: %s" % e)
def path(r):
    return (r.get("path") or "").split("?", 1)[0]
def ok(r):
    s = r.get("status")
    return r.get("method") == "POST" and r.get("body_complete") and \
        isinstance(s, int) and (200 <= s < 300 or s == 409)
batches = [r for r in reqs if path(r).endswith("/batches")]
trans = [r for r in reqs if path(r).endswith("/transmissions")]
other = [r for r in reqs if not path(r).endswith(("/batches", "/transmissions"))]
man = None
tok = [r for r in trans if ok(r)]
if not trans:
    bad.append("NO POST /transmissions arrived (the manifest)")
elif not tok:
    bad.append("POST /transmissions arrived %d time(s), never complete"
               " and answered 2xx (status %s)"
               % (len(trans), [r.get("status") for r in trans]))
else:
    r = tok[-1]
    try:
        with open(os.path.join(d, r["body_file"]), "rb") as f:
            body = f.read()
        ce = (r.get("headers") or {}).get("content-encoding", "identity")
        if ce == "gzip":
            body = gzip.decompress(body)
        elif ce not in ("identity", ""):
            raise ValueError("content-encoding %s" % ce)
        man = json.loads(body)
        with open(out, "wb") as f:
            f.write(body.strip() + b"\n")
    except (OSError, ValueError, KeyError) as e:
        bad.append("the /transmissions body is not a manifest: %s" % e)
if len(trans) > 1:
    bad.append("POST /transmissions arrived %d times" % len(trans))
nok = sum(1 for r in batches if ok(r))
keys = set((r.get("headers") or {}).get("idempotency-key") for r in batches)
if nok != len(batches):
    bad.append("%d of %d POST /batches not complete or not answered 2xx"
               " (statuses %s)" % (len(batches) - nok, len(batches),
               sorted(set(str(r.get("status")) for r in batches))))
nb = "?"
if man is not None:
    nb = man.get("batches")
    if nb != len(batches):
        bad.append("%d POST /batches recorded (%d distinct keys), the"
                   " manifest has batches %s" % (len(batches), len(keys), nb))
    want = {}
    for b in man.get("batch_list") or []:
        want[b.get("idempotency_key")] = b.get("sha256")
    got = {}
    for r in batches:
        if ok(r):
            got[(r.get("headers") or {}).get("idempotency-key")] = \
                r.get("body_sha256")
    if got != want:
        miss = sum(1 for k in want if k not in got)
        diff = sum(1 for k in want if k in got and got[k] != want[k])
        extra = sum(1 for k in got if k not in want)
        bad.append("batch_list vs received: %d missing, %d with another"
                   " SHA-256, %d unknown keys" % (miss, diff, extra))
if other:
    bad.append("%d unexpected request(s): %s" % (len(other),
               sorted(set(path(r) for r in other))))
print("peer: %d POST /batches (manifest batches %s), /transmissions %s"
      % (len(batches), nb, "ok" if tok else "MISSING"))
for b in bad:
    print("PROBLEM: " + b.replace("|", "/"))
PY
	    echo "PROBLEM: the peer check failed to run" >> "$W/peer-check.out"
	PEER_LINE=" ($(grep -v '^PROBLEM: ' "$W/peer-check.out" | head -n 1))"
	grep '^PROBLEM: ' "$W/peer-check.out" | sed "s/^PROBLEM: /run $2: /" \
	    >> "$W/$1.peer"
	grep -q '^PROBLEM: ' "$W/peer-check.out" && peer_fail "$1" "$2"
	return 0
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
	if [ "$HAVE_HTTPS" -eq 1 ]; then
		run_td h data.csv.gz "$i" bench-h.conf
		echo "run-bench: run $i/$RUNS: H    tradedrop .csv.gz" \
		    "https $TD_LINE"
	fi
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
	run_td c data.x12 "$i"
	echo "run-bench: run $i/$RUNS: C    tradedrop .x12 $TD_LINE"
	if [ "$HAVE_HTTPS" -eq 1 ]; then
		run_td hz data.csv.gz "$i" bench-hz.conf
		echo "run-bench: run $i/$RUNS: H-zstd tradedrop .csv.gz" \
		    "https zstd $TD_LINE"
	fi
	i=$((i + 1))
done

# ---------------------------------------------------------------- F
# Case F: the peak RSS of one `tradedrop once` (bench.conf, as A) on a
# .csv.gz of each size of BENCH_F_SIZES (default "10M 100M 1G"), made as
# A's data is (gen-sellthrough with A's seed, gzip -1); A's own
# data.csv.gz is used where the size is A's (BENCH_SIZE), and each other
# one is removed after its run.  Held to <= 64 MiB at every size and to
# flat: the last size's peak at most F_FLAT times the first one's.
F_SIZES=${BENCH_F_SIZES:-10M 100M 1G}
F_FLAT=1.25
F_N=0
for fs in $F_SIZES; do
	F_N=$((F_N + 1))
	ff=data.csv.gz fr=$RECORDS
	if [ "$fs" != "$SIZE" ]; then
		ff=f$F_N.csv.gz
		"$GEN" -s "$fs" -S "$SEED" -o "$W/f.csv" ||
		    die "generator failed (BENCH_F_SIZES: $fs)"
		fr=$(($(wc -l < "$W/f.csv") - 1))
		gzip -1 -c "$W/f.csv" > "$W/$ff" || die "gzip failed"
		rm -f "$W/f.csv"
	fi
	echo "$fs $fr" > "$W/f$F_N.what"
	run_td "f$F_N" "$ff" 1
	[ "$ff" = data.csv.gz ] || rm -f "$W/$ff"
	echo "run-bench: F    tradedrop .csv.gz of $fs ($fr records) $TD_LINE"
done

# ------------------------------------------------------------ timeline
# A once more, not timed, every process of it sampled each 0.2 s
# (/proc/PID/stat: its CPU, all threads; and the main thread's alone):
# the busiest process under tradedrop is the parser child; after it is
# done, what the main process does alone (its main thread: the ledger's
# commit of the file's record keys, the checkpoint, the delivery) is on
# the critical path of every case, and two cores cannot shorten it.
tl_pids() {
	echo "$1"
	descendants "$1"
}
rm -rf "$W/run"
mkdir -p "$W/run/state/landing" "$W/run/out" || exit 1
cp "$W/data.csv.gz" "$W/run/state/landing/data.csv.gz" || exit 1
warm
TL_HZ=$(getconf CLK_TCK)
: > "$W/timeline.out"
TL_T0=$(date +%s.%N)
"$TRADEDROP" once -c "$W/bench.conf" 2> "$W/timeline.log" &
TL_PID=$!
while alive "$TL_PID"; do
	_t=$(date +%s.%N)
	for _p in $(tl_pids "$TL_PID"); do
		# fields 14, 15: utime, stime (a process's: all its threads)
		_c=$(cut -d' ' -f14,15 "/proc/$_p/stat" 2> /dev/null) &&
		    echo "$_t $_p $_c"
	done >> "$W/timeline.out"
	_c=$(cut -d' ' -f14,15 "/proc/$TL_PID/task/$TL_PID/stat" 2> /dev/null) &&
	    echo "$_t main $_c" >> "$W/timeline.out"
	sleep 0.2
done
wait "$TL_PID"
TL_RC=$?
TL_T1=$(date +%s.%N)
TL_LINE=$(awk -v t0="$TL_T0" -v t1="$TL_T1" -v hz="$TL_HZ" -v p="$TL_PID" '
	{ t = $1 - t0; c = ($3 + $4) / hz
	  if ($2 == "main") { mt[++nm] = t; mc[nm] = c; next }
	  last[$2] = t; cpu[$2] = c }
	END {
		for (k in cpu)
			if (k != p && (best == "" || cpu[k] > cpu[best]))
				best = k
		if (best == "" || nm == 0) { print "no parser child seen"; exit }
		end = last[best]
		for (i = 1; i <= nm && mt[i] <= end; i++)
			at = mc[i]
		printf "%.1f %.1f %.1f %.1f %.1f\n", end, t1 - t0, t1 - t0 - end,
		    mc[nm] - at, cpu[best]
	}' "$W/timeline.out")
if [ "$TL_RC" -ne 0 ]; then
	TL_LINE="exit $TL_RC"
fi
echo "run-bench: timeline tradedrop data.csv.gz sampled: $TL_LINE"

# ---------------------------------------------------------------- stages
# CPU per stage: one more run of each case of BENCH_PERF_CASES (default
# every case: "a b a2 c h hz e d"; h, hz and e with the https peer; not
# one of the timed runs, sampling costs a little) under `perf record`
# (PERF, default perf; -F 499, no call graphs, the daemon's workers and
# parser children with it), then perf report --no-children --sort
# dso,symbol: each sample's share of the self samples, summed by stage
# with STAGES, times the run's CPU seconds (user + system of
# /usr/bin/time, the daemon's processes with it for e and d).  e is E
# again (the drop until the peer has the manifest), d the burst of D
# with at most BENCH_D_PERF_FILES files (default 1000).  F is A's
# pipeline at other sizes: A's stages stand for it.  When perf cannot
# record (not installed, perf_event_paranoid), a line says so and this
# is skipped.
# STAGES: the symbol-to-stage table of the CPU profile, the one place to
# improve it.  A rule a line: STAGE DSO SYMBOL, DSO and SYMBOL extended
# regular expressions (awk) matched against perf's dso and symbol names
# ([kernel.kallsyms] for the kernel); the first rule matching both takes
# the sample.  libzstd's internal symbols are stripped: its unnamed
# samples count as inflate (A and B write gzip).  A sample no rule
# takes is "other"; the top 5 of those are printed with the table so
# that it can be improved.  Kernel time of
# file I/O (write, file create, page cache, fsync, the filesystem,
# block I/O) is "write+fsync": without call graphs the kernel's side of
# a read (the input's, SQLite's pages) is not told from a write's, so
# SQLite's reads and writes of its files (a temporary table spilled out
# of its cache) count there too; the rest of the kernel (page faults,
# scheduling, interrupts) is "other".  In a paravirtual guest the
# kernel's samples land largely where it enables interrupts again
# (pvm_irq_enable, "kernel(pv)"): kernel time whose cause perf cannot
# see without call graphs.  "ledger-runs" is the Tier 4 ledger's sorting
# and merging of a file's keys; "memcpy" the copies of the C library
# (batches from the parser child's slots, buffers growing).
STAGES='
inflate      libz\.so       .
inflate      libarchive     .
inflate      libisal        (inflate|decode_huffman|read_header)
compression  libzstd        ^(ZSTD_compress|ZSTD_c|ZSTD_encode|HUF_compress|FSE_compress|ZSTD_fill|ZSTD_ldm)
inflate      libzstd        .
inflate      tradedrop      ^(unpack_|gz_read|lv_|zip_)
compression  libisal        .
compression  libdeflate     .
compression  tradedrop      ^(encode_batch|worker_main)
tls+http     libcrypto      (aes|gcm|GCM|chacha|poly1305|ghash|x25519|ecp_nistz|bn_|BN_|ossl_ec|EC_|rsa|RSA)
hashing      libcrypto      .
hashing      .              (sha256|SHA256|sha512|blake2|^md_)
decode+parse tradedrop      ^(decoder_|dec_run|dec_tab|dec_drop|sbcs_decode|utf16_decode|td_utf8|csv_|pcsv_|px12_|x12_|sdq_|seg|add_col|raw_at|next_token)
map+format   tradedrop      ^(mapper_|map_|mapexpr_|emit_|td_json_|escape_into|td_buf_|td_dec_|td_date_|td_gtin_|td_upce|td_format_|td_hex|td_fiscal|date_|val_|trim|canon_|row_day|xtable_|parse_value|record$|intern|put_str)
sqlite       libsqlite3     .
sqlite       tradedrop      ^(ledger_|store_|in_file|add_sums|hold$|find_key|insert_keys)
ledger-runs  tradedrop      ^(sort_ents|sort_index|write_run|entcmp|kix|kday_ranks|ent_k|sift_down|merge_|src_fill|spill|append$|c_ledger|on_ledger)
write+fsync  kernel         (write|fsync|sync|ext4|jbd2|iomap|filemap|folio|_iter|xas_|blk|bio|writeback|dirty|page_cache|xfs|btrfs|ovl_|do_sys_open|path_openat|link|rename|unlink|fdget)
write+fsync  libc           ^__libc_(p?write|p?read|fsync|fdatasync|open)
tls+http     libssl         .
tls+http     libcurl        .
tls+http     libnghttp2     .
tls+http     kernel         (tcp_|inet_|sock_|skb|ip_|__dev_|net_rx|loopback|napi)
processes+vm kernel         (fork|clone|copy_page|copy_pte|exit_mmap|unmap|mmap|wp_page|do_wp|zap_|release_pages|free_pgtables|exec|load_elf|seccomp|wait4|do_exit|native_set_p|clear_page|handle_mm|do_anonymous|do_fault|page_fault|alloc_pages|get_page_from_freelist|_pte|_pmd)
processes+vm libc           (_Fork|fork)
processes+vm tradedrop      ^(spare_fork|zygote_)
memcpy       libc           ^__mem(move|cpy)
malloc       libc           (malloc|_int_free|^free$|realloc|calloc|^cfree)
kernel(pv)   kernel         ^pvm_irq_enable
'
PERF=${PERF:-perf}
PERF_CASES=${BENCH_PERF_CASES-a b a2 c h hz e d}
PERF_WHY=
if ! command -v "$PERF" > /dev/null 2>&1; then
	PERF_WHY="$PERF not found (apt-get install linux-perf)"
elif ! "$PERF" record -q -o "$W/perf.data" -- true > "$W/perf.log" 2>&1
then
	PERF_WHY="$PERF record cannot run here: $(head -n 1 "$W/perf.log")"
fi
# shellcheck disable=SC2317 # called as $PROFILE in timed
profile() {
	"$PERF" record -q -F 499 -o "$W/perf.data" -- "$@"
}
# perf_report CASE: perf.data summed by dso and symbol into CASE.report
perf_report() {
	"$PERF" report -i "$W/perf.data" --no-children \
	    --sort dso,symbol --stdio -q -g none --percent-limit 0 \
	    -t '|' > "$W/$1.report" 2> "$W/perf.log" ||
	    echo "perf report failed: $(head -n 1 "$W/perf.log")" \
	    > "$W/$1.report"
	rm -f "$W/perf.data"
}
# the cases profiled (those that can run here), in PERF_DONE
PERF_DONE=
if [ -z "$PERF_WHY" ]; then
	for pc in $PERF_CASES; do
		pconf=
		case $pc in
		a) pf=data.csv.gz ;;
		b) pf=data.csv.zst ;;
		a2) pf=data.csv ;;
		c) pf=data.x12 ;;
		h) pf=data.csv.gz pconf=bench-h.conf ;;
		hz) pf=data.csv.gz pconf=bench-hz.conf ;;
		e|d) PERF_DONE="$PERF_DONE $pc"; continue ;;	# the daemon's, below
		*) die "BENCH_PERF_CASES: a, b, a2, c, h, hz, e or d, not '$pc'" ;;
		esac
		if [ -n "$pconf" ] && [ "$HAVE_HTTPS" -ne 1 ]; then
			echo "run-bench: perf $pc  skipped: no https peer"
			continue
		fi
		PROFILE=profile
		# shellcheck disable=SC2086 # pconf: no word or one
		run_td "p$pc" "$pf" 1 $pconf
		PROFILE=
		perf_report "p$pc"
		PERF_DONE="$PERF_DONE $pc"
		echo "run-bench: perf $pc  tradedrop $pf under perf record" \
		    "$TD_LINE, $T_CPU CPU s"
	done
fi
want_perf() {
	case " $PERF_DONE " in *" $1 "*) return 0 ;; esac
	return 1
}

# ---------------------------------------------------------------- report
# row LABEL PREFIX [BYTES]: one line of the table from the PREFIX.* files
# (MB/s of BYTES, by default those of data.csv)
row() {
	sec=$(median < "$W/$2.sec")
	kib=$(median < "$W/$2.kib")
	awk -v l="$1" -v s="$sec" -v k="$kib" -v b="${3:-$BYTES}" -v n="$RECORDS" \
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

# check_td CASE LABEL [ENCODING]: the per-run checks of a tradedrop case; prints a
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
	[ -s "$W/$1.peer" ] && problems="$problems|$(sed 's/|/\//g' \
	    "$W/$1.peer" | tr '\n' '|' | sed 's/|$//')"
	[ "$encs" = "${3:-windows-1252}" ] ||
	    problems="$problems|manifest encoding '$encs', not ${3:-windows-1252}"
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
echo "           data.x12 (X12 852, SDQ) $XBYTES bytes, the same number of"
echo "           records, for C (its MB/s are of the X12 text)"
echo "           generated at $GEN_MBS MB/s (to $PARENT)"
echo "note       tradedrop unpacks the file itself and decodes it with"
echo "           [decode] encoding = windows-1252, the description mapped"
echo "           (retailer_item_id); gzip batches to file://.  A2 is the"
echo "           same configuration on the plain .csv (no goals)."
echo "           H is A delivered to https://127.0.0.1 (mutual TLS, TLS 1.3)"
echo "           to tests/lib/https-peer.py, which stores and fsyncs each"
echo "           body; a new peer on an empty dir for every run; H-zstd the"
echo "           same with output_encoding = zstd.  RSS is tradedrop's alone."
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
row "C     tradedrop once, X12 852" c "$XBYTES"
if [ "$HAVE_HTTPS" -eq 1 ]; then
	row "H     .csv.gz -> https mTLS, gzip" h
	row "H-zstd .csv.gz -> https mTLS, zstd" hz
else
	printf '%-36s %9s\n' "H     .csv.gz -> https mTLS, gzip" SKIP
	printf '%-36s %9s\n' "H-zstd .csv.gz -> https mTLS, zstd" SKIP
	echo "      ($HTTPS_WHY)"
fi

status=0
WARNINGS=
: > "$W/warnings.out"
echo
check_td a "A  (.csv.gz)"
check_td b "B  (.csv.zst)"
check_td a2 "A2 (plain .csv)"
check_td c "C  (X12 852)" utf-8
i=1
while [ "$i" -le "$F_N" ]; do
	# shellcheck disable=SC2046 # "size records": checked against these
	set -- $(cat "$W/f$i.what")
	A_RECORDS=$RECORDS RECORDS=$2
	check_td "f$i" "F  ($1 .csv.gz)"
	RECORDS=$A_RECORDS
	i=$((i + 1))
done
if [ -z "$PERF_WHY" ]; then
	# the once cases run under perf (the daemon's are timed from outside)
	for pc in $PERF_DONE; do
		case $pc in
		c) check_td pc "C  (under perf)" utf-8 ;;
		e|d) ;;
		*) check_td "p$pc" "$(echo "$pc" | tr abhz ABHZ)  (under perf)" ;;
		esac
	done
fi
if [ "$HAVE_HTTPS" -eq 1 ]; then
	check_td h "H  (https, gzip)"
	check_td hz "H-zstd (https, zstd)"
fi
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
	ma2_ratio=$(ratio "$R2_SEC" "$(median < "$W/a2.sec")")
else
	ma_ratio=n/a ma2_ratio=n/a
fi
echo
printf '%-50s %8s %8s  %s\n' ratio value goal verdict
goal a "A: tradedrop time / shell pipeline (ref1) time" \
    "$(ratio "$A_SEC" "$R1_SEC")" "<=" 1.0
printf '%-50s %8s %8s  %s\n' "A: tradedrop throughput / Miller throughput" \
    "$ma_ratio" "-" "(no goal: Miller reads the plain .csv)"
goal a2 "A2: plain .csv, throughput / Miller throughput" "$ma2_ratio" ">=" 3
goal a "A: tradedrop peak RSS, MiB" "$(mib a)" "<=" 64
goal b "B: tradedrop time / shell pipeline (ref3) time" \
    "$(ratio "$B_SEC" "$R3_SEC")" "<=" 1.5
goal b "B: tradedrop peak RSS, MiB" "$(mib b)" "<=" 64
C_SEC=$(median < "$W/c.sec")
goal c "C: X12 852 through the whole job, MB/s" \
    "$(awk -v b="$XBYTES" -v s="$C_SEC" 'BEGIN { if (s > 0)
	printf "%.1f", b / s / 1e6; else printf "n/a" }')" ">=" 100
printf '%-50s %8s %8s  %s\n' "C: X12 time / A (.csv.gz) time" \
    "$(ratio "$C_SEC" "$A_SEC")" "-" "(no goal; the same records)"
if [ "$HAVE_HTTPS" -eq 1 ]; then
	goal h "H: https (mTLS) time / A (file://) time" \
	    "$(ratio "$(median < "$W/h.sec")" "$A_SEC")" "<=" 1.15
	v="$(ratio "$(median < "$W/hz.sec")" "$A_SEC")"
	case " $WARNINGS " in
	*" hz "*) hzv="(UNTRUSTED: checks failed)" ;;
	*) hzv="(no goal)" ;;
	esac
	printf '%-50s %8s %8s  %s\n' \
	    "H-zstd: https zstd time / A (file://) time" "$v" "-" "$hzv"
else
	printf '%-50s %8s %8s  %s\n' \
	    "H: https (mTLS) time / A (file://) time" n/a "<= 1.15" \
	    "SKIPPED ($HTTPS_WHY)"
fi

# F: the peak RSS of each size side by side, then its goals
F_LINE='' F_FIRST='' F_LAST=''
i=1
while [ "$i" -le "$F_N" ]; do
	# shellcheck disable=SC2046 # "size records"
	set -- $(cat "$W/f$i.what")
	F_LINE="$F_LINE  $1: $(mib "f$i")"
	[ -n "$F_FIRST" ] || F_FIRST=$(mib "f$i") F_FIRST_SIZE=$1
	F_LAST=$(mib "f$i") F_LAST_SIZE=$1
	goal "f$i" "F: tradedrop peak RSS at $1, MiB" "$(mib "f$i")" "<=" 64
	i=$((i + 1))
done
if [ "$F_N" -gt 1 ]; then
	goal "f$F_N" "F: flat: RSS at $F_LAST_SIZE / RSS at $F_FIRST_SIZE" \
	    "$(ratio "$F_LAST" "$F_FIRST")" "<=" "$F_FLAT"
fi
[ "$F_N" -gt 0 ] && echo "F: peak RSS, MiB:$F_LINE"

# stages CASE LABEL WALL: the CPU seconds per stage of the perf run of
# CASE (STAGES), with the top 5 samples no rule took
stages() {
	awk -F'|' -v cpu="$(median < "$W/$1.cpu")" -v label="$2" \
	    -v wall="$3" -v pwall="$(median < "$W/$1.sec")" -v rules="$STAGES" '
	BEGIN {
		n = split(rules, line, "\n")
		for (i = 1; i <= n; i++) {
			if (split(line[i], f, " ") != 3)
				continue
			k++
			st[k] = f[1]; dr[k] = f[2]; sr[k] = f[3]
			if (!(f[1] in seen)) {
				seen[f[1]] = 1
				order[++no] = f[1]
			}
		}
		order[++no] = "other"
	}
	NF >= 3 && $1 ~ /%/ {
		p = $1; sub(/%.*/, "", p); p += 0
		d = $2; gsub(/^ +| +$/, "", d)
		s = $3; gsub(/^ +| +$/, "", s); sub(/^\[[^]]*\] /, "", s)
		tot += p
		for (i = 1; i <= k; i++)
			if (d ~ dr[i] && s ~ sr[i]) {
				sum[st[i]] += p
				next
			}
		sum["other"] += p
		other[d " " s] += p
	}
	END {
		if (tot <= 0) {
			printf "%s: no samples (perf report gave nothing)\n",
			    label
			exit
		}
		printf "%s: CPU seconds per stage (%.2f CPU s in %.2f s " \
		    "under perf; %.2f s wall timed)\n", label, cpu, pwall, wall
		for (i = 1; i <= no; i++)
			printf "  %-14s %8.2f CPU s %6.1f%%\n", order[i],
			    sum[order[i]] / tot * cpu, sum[order[i]] / tot * 100
		for (j = 1; j <= 5; j++) {
			best = ""
			for (o in other)
				if (best == "" || other[o] > other[best])
					best = o
			if (best == "" || other[best] <= 0)
				break
			printf "  other #%d: %5.1f%% %s\n", j,
			    other[best] / tot * 100, best
			delete other[best]
		}
	}' "$W/$1.report"
}
echo
if [ -n "$PERF_WHY" ]; then
	echo "CPU per stage: SKIPPED: $PERF_WHY"
else
	for pc in $PERF_DONE; do
		case $pc in
		a) stages pa "A  (.csv.gz)" "$A_SEC" ;;
		b) stages pb "B  (.csv.zst)" "$B_SEC" ;;
		a2) stages pa2 "A2 (.csv)" "$(median < "$W/a2.sec")" ;;
		c) stages pc "C  (X12 852)" "$(median < "$W/c.sec")" ;;
		h) stages ph "H  (https mTLS)" "$(median < "$W/h.sec")" ;;
		hz) stages phz "H-zstd (https, zstd; libzstd's unnamed samples, its compression here, count as inflate)" "$(median < "$W/hz.sec")" ;;
		esac
	done
	echo "F: A's pipeline at other sizes: A's stages stand for it"
fi
# shellcheck disable=SC2086 # TL_LINE: five numbers, or why not
set -- $TL_LINE
if [ $# -eq 5 ]; then
	echo "A  timeline (one more run, sampled each 0.2 s): the parser child" \
	    "($5 CPU s) done at $1 s of $2 s; then the main process alone" \
	    "$3 s, its main thread $4 CPU s of them (the ledger's commit of" \
	    "the file's record keys, the checkpoint, the delivery): the part" \
	    "of A no second core shortens"
else
	echo "A  timeline: not measured ($TL_LINE)"
fi
if [ -n "$WARNINGS" ]; then
	echo
	echo "WARNING: the checks of tradedrop failed for case(s)$WARNINGS" \
	    "(see above): their figures are not trustworthy"
fi

# ---------------------------------------------------------- daemon: E, D
# td_run CONF LOG: start `tradedrop run --foreground` (under $TD_WRAP
# when set: td_run_perf); TD_PID
td_run() {
	$TD_WRAP "$TRADEDROP" run --foreground -c "$1" 2> "$2" &
	TD_PID=$!
	_tn=0
	until grep -q 'event=run_start' "$2" 2> /dev/null; do
		if ! alive "$TD_PID" || [ "$_tn" -ge 400 ]; then
			# Do not leave a daemon that is slow to start behind.
			td_kill
			return 1
		fi
		sleep 0.05
		_tn=$((_tn + 1))
	done
}
TD_WRAP=
td_stop() {
	kill -TERM "$TD_PID" 2> /dev/null
	wait "$TD_PID" 2> /dev/null
	TD_PID=
}
now() { date +%s.%N; }
# await_start grep TEXT FILE | count N DIR: tests/bench/await.py started
# on the daemon (TD_PID) and ready before the timed drop, AWAIT_PID;
# await_end: until it is done.  It sleeps on inotify: the shell loops it
# replaced (alive, grep or ls, sleep, 20 or 5 times a second) took about
# 0.2 CPU seconds a second from the daemon and its peer, and made E 15 %
# slower here.  Without python3, or when it fails (exit 2), await_end is
# that loop still (said on stderr when it failed).
AWAIT=$top_srcdir/tests/bench/await.py
await_start() {
	AWAIT_PID='' AWAIT_KIND=$1 AWAIT_A=$2 AWAIT_B=$3
	[ -x "$PYTHON" ] || return 0
	rm -f "$W/await.ready"
	"$PYTHON" "$AWAIT" --ready "$W/await.ready" "$TD_PID" "$@" &
	AWAIT_PID=$!
	until [ -e "$W/await.ready" ]; do
		alive "$AWAIT_PID" || { wait "$AWAIT_PID"; AWAIT_PID=''; return 0; }
		sleep 0.05
	done
}
await_end() {
	if [ -n "$AWAIT_PID" ]; then
		wait "$AWAIT_PID"
		_ar=$?
		AWAIT_PID=''
		[ "$_ar" -le 1 ] && return 0
		echo "run-bench: await.py exited $_ar: polling instead" >&2
	fi
	case $AWAIT_KIND in
	grep)
		until grep -q "$AWAIT_A" "$AWAIT_B" 2> /dev/null; do
			alive "$TD_PID" || break
			sleep 0.02
		done ;;
	count)
		until [ "$(ls "$AWAIT_B" 2> /dev/null | wc -l)" -ge "$AWAIT_A" ]; do
			alive "$TD_PID" || break
			sleep 0.2
		done ;;
	esac
}
# td_run_perf CONF LOG: td_run under perf record (the daemon with its
# workers and their children, on the cpu-clock event: each sample's
# period is the CPU time it stands for)
# shellcheck disable=SC2317 # called as $TD_WRAP in td_run
perf_wrap() {
	"$PERF" record -q -e cpu-clock -F 499 -o "$W/perf.data" -- "$@" &
	echo $! > "$W/perf.pid"
	wait $!
}
td_run_perf() {
	TD_WRAP=perf_wrap
	td_run "$@"
	_tr=$?
	TD_WRAP=
	return $_tr
}
# td_stop_perf CASE SECONDS: SIGTERM to the daemon (perf's child), wait
# for perf; the CPU seconds of every process sampled (the sum of the
# samples' periods: a worker or parser child killed at the stop is not
# in any rusage) to CASE.cpu, SECONDS to CASE.sec, the samples to
# CASE.report
td_stop_perf() {
	# perf's child is the daemon, whatever perf's own name (a wrapper
	# script may exec perf_VERSION): the pid perf_wrap wrote
	_pp=$(cat "$W/perf.pid" 2> /dev/null)
	[ -n "$_pp" ] && pkill -TERM -P "$_pp"
	wait "$TD_PID" 2> /dev/null
	TD_PID=
	rm -f "$W/perf.pid"
	"$PERF" script -i "$W/perf.data" -F period 2> /dev/null |
	    awk '{ s += $1 } END { printf "%.2f\n", s / 1e9 }' > "$W/$1.cpu"
	echo "$2" > "$W/$1.sec"
	perf_report "$1"
}
# rss PID: kB resident of the daemon and every process under it (its
# workers, their parser zygotes and children), pages they share counted
# in each
rss() {
	for _p in "$1" $(descendants "$1"); do
		awk '/^VmRSS:/ { print $2 }' "/proc/$_p/status" 2> /dev/null
	done | awk '{ s += $1 } END { print s + 0 }'
}
echo
if [ "$HAVE_HTTPS" -eq 1 ]; then
	# e_setup: a new run/ with data.csv.gz beside its landing, a new
	# peer and run/e.conf to it
	e_setup() {
		rm -rf "$W/run"
		mkdir -p "$W/run/state/landing" "$W/run/out"
		peer_start "$W/peer" || return 1
		sed "s|@PORT@|$PEER_PORT|" "$W/bench-h.conf" > "$W/run/e.conf"
		cp "$W/data.csv.gz" "$W/run/data.csv.gz"
		warm
	}
	# e_drop: data.csv.gz renamed into the running daemon's landing,
	# then until the peer has the manifest (or the daemon is gone): the
	# seconds in E_RUN
	e_drop() {
		await_start grep /transmissions "$W/peer/requests.ndjson"
		_t0=$(now)
		mv "$W/run/data.csv.gz" "$W/run/state/landing/data.csv.gz"
		await_end
		E_RUN=$(awk -v a="$_t0" -v b="$(now)" \
		    'BEGIN { printf "%.2f", b - a }')
	}
	: > "$W/e.sec"
	i=1
	while [ $i -le "$RUNS" ]; do
		e_setup || break
		td_run "$W/run/e.conf" "$W/e.log" || { echo "E: run did not start"; break; }
		e_drop
		td_stop
		peer_stop
		# what the peer got, checked as H's: every batch of the
		# manifest, complete and answered 2xx
		peer_check e "$i"
		echo "run-bench: run $i/$RUNS: E    run, https $E_RUN s$PEER_LINE"
		PEER_LINE=
		echo "$E_RUN" >> "$W/e.sec"
		i=$((i + 1))
	done
	E_SEC=$(median < "$W/e.sec")
	printf '%-50s %8s %8s  %s\n' "E: run, https (mTLS) time / A (file://) time" \
	    "$(ratio "$E_SEC" "$A_SEC")" "<= 1.15" "($E_SEC s against $A_SEC s)"
	if [ -s "$W/e.peer" ]; then
		echo "!!! WARNING: E: the https peer did not get what it should" \
		    "(its figure does not measure a full delivery):"
		sed 's/^/!!!   /' "$W/e.peer"
		status=1
	fi
	if want_perf e && ! e_setup; then
		echo "E: the profiled run skipped: the https peer did not start"
	elif want_perf e; then
		if td_run_perf "$W/run/e.conf" "$W/pe.log"; then
			e_drop
			td_stop_perf pe "$E_RUN"
			stages pe "E  (run, https mTLS)" "$E_SEC"
		else
			echo "E: the profiled run did not start"
		fi
		peer_stop
		rm -rf "$W/peer" "$W/run"
	fi
else
	printf '%-50s %8s %8s  %s\n' "E: run, https (mTLS) time / A (file://) time" \
	    n/a "<= 1.15" "SKIPPED ($HTTPS_WHY; and its profile)"
fi

D_FILES=${BENCH_D_FILES:-10000}
D_SECONDS=${BENCH_D_SECONDS:-30}
D=$W/d
mkdir -p "$D/src" "$D/steady" "$D/state/landing"
cat > "$D/d.conf" <<CONF
[integration]
name = bench_d
state_dir = $D/state
[watch]
settle = 0
[parse]
delimiter = ,
[map]
txn_date = column "Date" date "%Y-%m-%d"
gtin = column "UPC" gtin
quantity = column "Units" decimal
store_id = column "Store"
[output]
url = file://$D/out
[metrics]
textfile = $D/metrics.prom
CONF
# small_files DIR NAME N DATE: N one-row files DIR/NAME1.csv ... of DATE
small_files() {
	_i=1
	while [ $_i -le "$3" ]; do
		printf 'Store,UPC,Date,Units\n%d,041000001239,%s,1\n' $_i "$4" \
		    > "$1/$2$_i.csv"
		_i=$((_i + 1))
	done
}
# burst SRC LANDING OUT N: the files of SRC renamed into LANDING at once,
# then until OUT has N transmissions (or the daemon is gone): the
# seconds in BURST_SEC
burst() {
	mkdir -p "$3"
	await_start count "$4" "$3"
	_t0=$(now)
	find "$1" -name '*.csv' -exec mv -t "$2" {} +
	await_end
	BURST_SEC=$(awk -v a="$_t0" -v b="$(now)" \
	    'BEGIN { printf "%.1f", b - a }')
}
small_files "$D/src" b "$D_FILES" 2026-11-28
if td_run "$D/d.conf" "$D/burst.log"; then
	burst "$D/src" "$D/state/landing" "$D/out" "$D_FILES"
	td_stop
	D_BURST=$BURST_SEC
	printf '%-50s %8s %8s  %s\n' "D: $D_FILES small files dropped at once, s" \
	    "$D_BURST" "< 30" "($(awk -v n="$D_FILES" -v s="$D_BURST" 'BEGIN { printf "%.0f", n / s }') files/s)"
fi
# the burst again under perf, with at most BENCH_D_PERF_FILES files, in
# a state directory of its own
DP_FILES=${BENCH_D_PERF_FILES:-1000}
[ "$DP_FILES" -le "$D_FILES" ] || DP_FILES=$D_FILES
if want_perf d && [ "$DP_FILES" -gt 0 ]; then
	mkdir -p "$D/psrc" "$D/pstate/landing"
	sed -e "s|$D/state|$D/pstate|" -e "s|$D/out|$D/pout|" \
	    -e "s|$D/metrics.prom|$D/pmetrics.prom|" "$D/d.conf" > "$D/dp.conf"
	small_files "$D/psrc" p "$DP_FILES" 2026-11-26
	if td_run_perf "$D/dp.conf" "$D/pburst.log"; then
		burst "$D/psrc" "$D/pstate/landing" "$D/pout" "$DP_FILES"
		td_stop_perf pd "$BURST_SEC"
		stages pd "D  (burst of $DP_FILES files, run)" "$(cat "$W/pd.sec")"
	else
		echo "D: the profiled burst did not start"
	fi
fi
n=$((D_SECONDS * 10))
i=1
while [ $i -le $n ]; do
	printf 'Store,UPC,Date,Units\n%d,041000001239,2026-11-27,2\n' $i > "$D/steady/s$i.csv"
	i=$((i + 1))
done
if td_run "$D/d.conf" "$D/steady.log"; then
	sleep 1
	rss0=$(rss "$TD_PID")
	# the resident memory every tenth of the drops, to tell a warm-up
	# from a leak: flat is the last tenth's within 5% of the middle's
	step=$(( n / 10 )); [ "$step" -ge 1 ] || step=1
	series=
	i=1
	while [ $i -le $n ]; do
		mv "$D/steady/s$i.csv" "$D/state/landing/"
		sleep 0.1
		[ $((i % step)) -eq 0 ] && series="$series $(rss "$TD_PID")"
		i=$((i + 1))
	done
	sleep 2
	rss1=$(rss "$TD_PID")
	td_stop
	med=$(awk '/^tradedrop_drop_to_delivered_seconds_bucket/ {
		split($1, a, "\""); le[++k] = a[2]; c[k] = $2 }
	    /^tradedrop_drop_to_delivered_seconds_count/ { n = $2 }
	    END { for (i = 1; i <= k; i++) if (c[i] >= n / 2) {
		printf "%g", le[i] * 1000; exit } }' "$D/metrics.prom")
	mean=$(awk '/^tradedrop_drop_to_delivered_seconds_sum/ { s = $2 }
	    /^tradedrop_drop_to_delivered_seconds_count/ { n = $2 }
	    END { if (n) printf "%.0f", s / n * 1000 }' "$D/metrics.prom")
	printf '%-50s %8s %8s  %s\n' "D: 10 files/s, median drop-to-delivered, ms" \
	    "<=$med" "< 50" "(mean $mean ms, $n files)"
	printf '%-50s %8s %8s  %s\n' "D: daemon RSS at start / end of drops, KiB" \
	    "$rss0" "-" "$rss1 at the end (${D_SECONDS} s of drops)"
	echo "D: daemon RSS every tenth of the drops, KiB:$series"
	mid=$(echo $series | awk '{ print $(int((NF + 1) / 2)) }')
	printf '%-50s %8s %8s  %s\n' "D: RSS flat: end / middle of the drops" \
	    "$(awk -v a="$rss1" -v b="$mid" 'BEGIN { if (b > 0) printf "%.2f", a / b }')" \
	    "<= 1.05" "($mid KiB at the middle, $rss1 KiB at the end)"
fi

failed "$W/r1.rc" && status=1
failed "$W/r3.rc" && status=1
[ -n "$HTTPS_BROKEN" ] && status=1
[ "$HAVE_MLR" -eq 1 ] && failed "$W/r2.rc" && status=1
exit $status
