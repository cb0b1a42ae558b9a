#!/bin/sh
# intake-syncfs-fail.sh - a syncfs(2) of a claim group that fails
# (sync_method = syncfs, tradedrop(8) PROCESSING), at each of the
# group's four steps: before its receive commit, after its archive
# directories, after its moves into them, before its parse commit. The
# daemon (`tradedrop run`) goes on without a restart: the claims the
# failed step left in work/ are resumed by its next intake job, so the
# group's files and those dropped after them are all delivered once,
# nothing is left in work/, landing or outbox/, and `audit verify`
# passes. (The failure is injected by strace: syncfs returns EIO.)
# `once` stopped by the failure: the next run delivers them all once.
# A directory of state_dir that cannot be opened to find its file system
# fails the step too, rather than leave that file system unflushed.
. "$srcdir/tests/lib/common.sh"
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
command -v strace > /dev/null || t_skip_all "strace not installed"
t_tmpdir
. "$srcdir/tests/lib/run-lib.sh"
. "$srcdir/tests/lib/delivery-lib.sh"
SPID=
trap '[ -n "$SPID" ] && kill -KILL "$SPID" 2>/dev/null; rm -rf "$T_TMP"' EXIT
ASAN_OPTIONS=$T_ASAN_NOLEAKS strace -f -qq -o /dev/null -e trace=syncfs -e inject=syncfs:error=EIO:when=1 \
    true 2> /dev/null || t_skip_all "strace cannot inject faults here"

# records OUT: records at the receiver, distinct record_ids, files
records() {
	$PY - "$1" <<'PY'
import glob, gzip, json, sys
n, ids, files = 0, set(), set()
for b in glob.glob(sys.argv[1] + "/*/batch-*.ndjson.gz"):
    for l in gzip.decompress(open(b, "rb").read()).splitlines():
        r = json.loads(l)
        n += 1
        ids.add(r["record_id"])
        files.add(r["source"]["file"])
print("records=%d ids=%d files=%d" % (n, len(ids), len(files)))
PY
}
events() { dl_events "$@"; }
left() { find "$1/work" "$1/landing" "$1/outbox" -mindepth 1 | wc -l; }
# group DIR N: N small files moved into DIR at once (one claim group)
group() {
	mkdir -p "$1/../.g"
	_i=1
	while [ "$_i" -le "$2" ]; do
		run_drop "$1/../.g" "f$_i.csv" 3
		_i=$((_i + 1))
	done
	mv "$1/../.g"/* "$1/"
	rmdir "$1/../.g"
}

for n in 1 2 3 4; do
	S=$T_TMP/r$n
	mkdir -p "$S/landing"
	run_conf "$T_TMP/r$n.conf" "$S" "$T_TMP/out$n"
	group "$S/landing" 6
	ASAN_OPTIONS=$T_ASAN_NOLEAKS strace -f -qq -o /dev/null -e trace=syncfs \
	    -e inject=syncfs:error=EIO:when=$n \
	    "$TRADEDROP" run --foreground -c "$T_TMP/r$n.conf" 2>> "$T_TMP/r$n.log" &
	SPID=$!
	wait_until 10 grep -q 'event=run_start' "$T_TMP/r$n.log"
	t_ok "$(wait_until 10 grep -q 'event=sync_failed' "$T_TMP/r$n.log"; echo $?)" \
	    "run, syncfs #$n of the group fails: sync_failed logged"
	for i in 7 8 9; do run_drop "$S/landing" "g$i.csv" 3; done
	t_ok "$(wait_until 20 run_delivered "$T_TMP/out$n" 9; echo $?)" \
	    "run, syncfs #$n failed: the group's 6 files and 3 dropped after them delivered without a restart ($(ls "$T_TMP/out$n" 2>/dev/null | wc -l))"
	t_ok "$(wait_until 5 sh -c "[ \$(find '$S/work' '$S/landing' '$S/outbox' -mindepth 1 | wc -l) -eq 0 ]"; echo $?)" \
	    "run, syncfs #$n failed: nothing left in work/, landing or outbox/ ($(left "$S"))"
	kill -TERM "$(cat "$S/tradedrop.pid")"
	wait "$SPID"
	SPID=
	t_is "$(records "$T_TMP/out$n")" "records=27 ids=27 files=9" \
	    "run, syncfs #$n failed: every record delivered once"
	t_is "$(events "$S")" "transmission_received=9,max=1 transmission_parsed=9,max=1 transmission_delivered=9,max=1 " \
	    "run, syncfs #$n failed: each transmission received, parsed, delivered once"
	"$TRADEDROP" audit -c "$T_TMP/r$n.conf" verify > "$T_TMP/rv$n" 2>&1
	t_is $? 0 "run, syncfs #$n failed: audit verify passes"
done

for n in 1 2 3 4; do
	S=$T_TMP/o$n
	mkdir -p "$S/landing"
	run_conf "$T_TMP/o$n.conf" "$S" "$T_TMP/oout$n"
	group "$S/landing" 6
	ASAN_OPTIONS=$T_ASAN_NOLEAKS strace -f -qq -o /dev/null -e trace=syncfs \
	    -e inject=syncfs:error=EIO:when=$n \
	    "$TRADEDROP" once -c "$T_TMP/o$n.conf" 2> "$T_TMP/o$n.log"
	t_ok "$([ $? -ne 0 ]; echo $?)" "once, syncfs #$n of the group fails: it exits non-zero"
	"$TRADEDROP" once -c "$T_TMP/o$n.conf" 2> "$T_TMP/o$n-2.log"
	t_is $? 0 "once, syncfs #$n failed: the next run exits 0"
	t_is "$(records "$T_TMP/oout$n")" "records=18 ids=18 files=6" \
	    "once, syncfs #$n failed: the next run delivers every record once"
	t_is "$(left "$S")" 0 "once, syncfs #$n failed: nothing left in work/, landing or outbox/"
	"$TRADEDROP" audit -c "$T_TMP/o$n.conf" verify > "$T_TMP/ov$n" 2>&1
	t_is $? 0 "once, syncfs #$n failed: audit verify passes"
done

# outbox/ that cannot be opened when the group's first syncfs looks for
# the file systems to flush (EMFILE, injected into that open alone: the
# index of the open found in a run without it): the step fails, rather
# than that file system being left out of every flush of the run after
for t in ref inj; do
	S=$T_TMP/e$t
	mkdir -p "$S/landing"
	run_conf "$T_TMP/e$t.conf" "$S" "$T_TMP/eout$t"
	group "$S/landing" 5
done
ASAN_OPTIONS=$T_ASAN_NOLEAKS strace -f -qq -P "$T_TMP/eref/outbox" -e trace=openat \
    -o "$T_TMP/etr-ref" "$TRADEDROP" once -c "$T_TMP/eref.conf" 2> "$T_TMP/eref.log"
K=$(grep -n 'openat(AT_FDCWD, "[^"]*/outbox", O_RDONLY|O_CLOEXEC|O_DIRECTORY)' \
    "$T_TMP/etr-ref" | head -1 | cut -d: -f1)
t_ok "$([ -n "$K" ]; echo $?)" "the open of outbox/ for its file system found: #$K"
ASAN_OPTIONS=$T_ASAN_NOLEAKS strace -f -qq -P "$T_TMP/einj/outbox" -e trace=openat \
    -e inject=openat:error=EMFILE:when=${K:-1} -o /dev/null \
    "$TRADEDROP" once -c "$T_TMP/einj.conf" 2> "$T_TMP/einj.log"
t_ok "$([ $? -ne 0 ]; echo $?)" "outbox/ not opened for its syncfs: once exits non-zero"
t_grep "$T_TMP/einj.log" "event=sync_failed dir=$T_TMP/einj/outbox error=\"Too many open files\"" \
    "outbox/ not opened for its syncfs: sync_failed names it"
"$TRADEDROP" once -c "$T_TMP/einj.conf" 2> "$T_TMP/einj-2.log"
t_is $? 0 "outbox/ not opened: the next run exits 0"
t_is "$(records "$T_TMP/eoutinj")" "records=15 ids=15 files=5" \
    "outbox/ not opened: the next run delivers every record once"
"$TRADEDROP" audit -c "$T_TMP/einj.conf" verify > "$T_TMP/eview" 2>&1
t_is $? 0 "outbox/ not opened: audit verify passes"
t_done
