#!/bin/sh
# intake-group.sh - the small files of one claim group are recorded
# received in one commit and parsed in one commit (tradedrop(8),
# PROCESSING): audit.log and state.db's log are each made durable once a
# commit, not twice a file; and a SIGKILL between the group's phases
# (after its receive commit, between two files' archive moves, with two
# files staged in its open transaction, with all staged just before its
# commit, after its commit) loses no file and delivers none twice: the
# next run delivers each file's records once, `audit verify` passes, and
# each transmission is received, parsed and delivered once in the log.
# A group holding a quarantined file, a gzip file and a Tier 4 pair (two
# files with the same record keys) delivers and withholds what the files
# dropped one at a time do, with a SIGKILL at each phase of it too. And
# max_outbox_bytes is passed by one file's batches at most, not a
# group's. Under sync_method syncfs (the default) each step of the group
# is made durable by one syncfs(2) where each file had its fsyncs; the
# kills are made under both methods. The group's transmissions are
# delivered to file:// in one commit too (a delivery group): a kill with
# three of them recorded delivered in its open transaction (their
# audit lines an uncommitted tail the next start accepts and cuts), or
# after its commit, delivers each once.
. "$srcdir/tests/lib/common.sh"
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
command -v strace > /dev/null || t_skip_all "strace not installed"
t_tmpdir
. "$srcdir/tests/lib/delivery-lib.sh"

NF=6
drop() {	# drop STATE: NF small files, all settled: one claim group
	_i=1
	while [ $_i -le $NF ]; do
		dl_rows "$1/landing/f$_i.csv" 3 $((40 + _i))
		_i=$((_i + 1))
	done
	touch -d '-1 min' "$1"/landing/*.csv
}
# delivered OUT: each file's records at the receiver, all/distinct ids
delivered() {
	$PY - "$1" <<'PY'
import collections, glob, gzip, json, sys
n, ids = collections.Counter(), collections.defaultdict(set)
for b in glob.glob(sys.argv[1] + "/*/batch-*.ndjson.gz"):
    for l in gzip.decompress(open(b, "rb").read()).splitlines():
        r = json.loads(l)
        n[r["source"]["file"]] += 1
        ids[r["source"]["file"]].add(r["record_id"])
print(" ".join("%s=%d/%d" % (f, n[f], len(ids[f])) for f in sorted(n)))
PY
}
events() { dl_events "$@"; }
WANT_DELIVERED="f1.csv=3/3 f2.csv=3/3 f3.csv=3/3 f4.csv=3/3 f5.csv=3/3 f6.csv=3/3"
WANT_EVENTS="transmission_received=6,max=1 transmission_parsed=6,max=1 transmission_delivered=6,max=1 "
method() {	# method CONF METHOD: [integration] sync_method
	sed -i "/^\[integration\]/a sync_method = $2" "$T_TMP/$1.conf"
}

# what is made durable: one commit a phase for the group (sync_method
# fsync: the files' and directories' own fsyncs)
S=$T_TMP/s
dl_conf t "$S" "file://$T_TMP/out"
method t fsync
drop "$S"
ASAN_OPTIONS=$T_ASAN_NOLEAKS strace -f -y -qq -e trace=fsync,fdatasync \
    -o "$T_TMP/trace" "$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log"
t_is $? 0 "once exits 0"
t_is "$(delivered "$T_TMP/out")" "$WANT_DELIVERED" "every file's records delivered once"
t_is "$(events "$S")" "$WANT_EVENTS" "each transmission received, parsed, delivered once"
sed -n 's/.*\(fsync\|fdatasync\)([0-9]*<\([^>]*\)>.*/\2/p' "$T_TMP/trace" |
    sort | uniq -c | awk '{ print $2, $1 }' > "$T_TMP/counts"
count() { awk -v p="$1" '$1 == p { print $2 }' "$T_TMP/counts"; }
# 6 files: the run's start (config_loaded), 2 intake commits (received,
# parsed), then one for the 6 deliveries to file:// (a delivery group):
# 4, were 1 + 12 + 6, then 1 + 2 + 6. (A parse commit is also made once
# the group's transaction has been open 500 ms, and a delivery commit
# once its group's has been open 100 ms, which a loaded machine under
# strace may reach: up to 4 intake commits and 2 delivery commits.)
t_ok "$([ "$(count "$S/audit.log")" -ge 4 ] &&
    [ "$(count "$S/audit.log")" -le 7 ]; echo $?)" \
    "audit.log synced once for the group's receive, once for its parse, once for its deliveries (and at the start): $(count "$S/audit.log"), not 19 or 9"
t_ok "$([ "$(count "$S/outbox")" -le 3 ]; echo $?)" \
    "outbox/ synced once for the group's staged transmissions, not once a file: $(count "$S/outbox")"
t_is "$(ls -d "$S"/archive/[0-9]*/[0-9]* | wc -l)" 1 "one archive month"
t_is "$(count "$(ls -d "$S"/archive/[0-9]*/[0-9]*)")" 1 \
    "the archive month directory synced once for the group, not once a file"
t_is "$(grep -c 'syncfs(' "$T_TMP/trace")" 0 "fsync: no syncfs"

# sync_method syncfs (the default): the intake's steps each one syncfs
# for the group: its bytes before the receive commit; the archive
# directories made; the files moved into them; the staging before the
# parse commit (tradedrop(8)); no file or directory of the group fsynced
# by the intake but the claim directories (the delivery's own flushes
# aside: 6 files, 6 output directories)
S=$T_TMP/sf
dl_conf tf "$S" "file://$T_TMP/out-sf"
drop "$S"
ASAN_OPTIONS=$T_ASAN_NOLEAKS strace -f -y -qq -e trace=fsync,fdatasync,syncfs \
    -o "$T_TMP/trace-sf" "$TRADEDROP" once -c "$T_TMP/tf.conf" 2> "$T_TMP/log-sf"
t_is $? 0 "syncfs: once exits 0"
t_is "$(delivered "$T_TMP/out-sf")" "$WANT_DELIVERED" "syncfs: every file's records delivered once"
t_is "$(events "$S")" "$WANT_EVENTS" "syncfs: each transmission received, parsed, delivered once"
t_ok "$(n=$(grep -c "syncfs([0-9]*<$S>" "$T_TMP/trace-sf"); [ "$n" -ge 4 ] && [ "$n" -le 5 ]; echo $?)" \
    "syncfs: 4 syncfs of state_dir's file system for the group (5 with a parse commit at 500 ms): $(grep -c 'syncfs(' "$T_TMP/trace-sf")"
t_is "$(grep -E "fsync\([0-9]*<$S/(outbox/|archive/[0-9]{4}/[0-9]{2}/)" "$T_TMP/trace-sf" | wc -l)" 0 \
    "syncfs: no batch, manifest, records or archive directory of the group fsynced one by one"
t_is "$(grep -E "fsync\([0-9]*<$S/work/[^>]*\.csv>" "$T_TMP/trace-sf" | wc -l)" 0 \
    "syncfs: no claimed file's data fsynced one by one"
t_ok "$(n=$(grep -c "fdatasync([0-9]*<$S/audit.log>" "$T_TMP/trace-sf"); [ "$n" -ge 4 ] && [ "$n" -le 7 ]; echo $?)" \
    "syncfs: audit.log synced at the start, for the receive, the parse and the deliveries: $(grep -c "fdatasync([0-9]*<$S/audit.log>" "$T_TMP/trace-sf")"

# the group's transaction is not held past its bound (500 ms; lowered to
# 1 ms here): each file's parse is committed before the next is
# processed; and a delivery group of at most one transmission (32;
# lowered to 1 here): each delivery committed on its own, as before
# delivery groups
S1=$T_TMP/s1
dl_conf t1 "$S1" "file://$T_TMP/out-1"
drop "$S1"
TD_TEST_GROUP_HOLD_MS=1 TD_TEST_DGROUP_MAX=1 \
    ASAN_OPTIONS=$T_ASAN_NOLEAKS strace -f -y -qq \
    -e trace=fsync,fdatasync -o "$T_TMP/trace1" "$TRADEDROP" once \
    -c "$T_TMP/t1.conf" 2> "$T_TMP/log1"
t_is $? 0 "held 1 ms at most: once exits 0"
t_is "$(delivered "$T_TMP/out-1")" "$WANT_DELIVERED" "held 1 ms at most: every file's records delivered once"
t_is "$(grep -c "fdatasync([0-9]*<$S1/audit.log>" "$T_TMP/trace1")" 14 \
    "held 1 ms at most: the group received in one commit, each file parsed and delivered in its own (1 + 1 + 6 + 6 deliveries)"

n=0
for fm in transmission_received:2/syncfs archived:1/syncfs \
    archived:2/syncfs outbox_staged:2/syncfs group_staged/syncfs \
    transmission_parsed:2/syncfs batches_acked:4/syncfs \
    transmission_delivered:2/syncfs transmission_received:2/fsync \
    archived:2/fsync outbox_staged:2/fsync group_staged/fsync \
    transmission_parsed:2/fsync; do
	fp=${fm%/*}
	n=$((n + 1))
	dl_conf "k$n" "$T_TMP/k$n" "file://$T_TMP/out$n"
	method "k$n" "${fm#*/}"
	drop "$T_TMP/k$n"
	dl_run "k$n" "k$n.log" "$fp"
	t_is "$RC" 137 "killed at $fm"
	t_grep "$T_TMP/k$n.log" "event=failpoint name=${fp%:*}" "the kill came at $fm"
	dl_run "k$n" "k$n-2.log"
	t_is "$RC" 0 "$fm: the next run exits 0"
	t_is "$(delivered "$T_TMP/out$n")" "$WANT_DELIVERED" \
		"$fm: every file's records delivered once, none lost"
	t_is "$(events "$T_TMP/k$n")" "$WANT_EVENTS" \
		"$fm: each transmission received, parsed and delivered once"
	"$TRADEDROP" audit -c "$T_TMP/k$n.conf" verify > "$T_TMP/v$n" 2>&1
	t_is $? 0 "$fm: audit verify passes"
	t_is "$(find "$T_TMP/k$n/work" "$T_TMP/k$n/landing" "$T_TMP/k$n/outbox" \
	    -mindepth 1 | wc -l)" 0 "$fm: nothing left in landing, work/ or outbox/"
done
# A group with a quarantined file (f5), a gzip file (f4) and a Tier 4
# pair (f6: the rows of f3, other bytes): the same as the files dropped
# one at a time (each its own group): f6's records withheld as
# duplicate_record, f5 quarantined; and so after a SIGKILL at each phase
# of the group, at several positions in it, and the next run
mixed() {	# mixed DIR: the 8 files
	for i in 1 2 3 4 7 8; do dl_rows "$1/f$i.csv" 3 $((60 + i)); done
	cp "$1/f3.csv" "$1/f6.csv"
	printf '\r\n' >> "$1/f6.csv"
	printf 'Store,Units\n1,2\n' > "$1/f5.csv"
	gzip "$1/f4.csv"
	touch -d '-1 min' "$1"/*
}
# outcome STATE OUT: records at the receiver per file (all/distinct ids),
# then each transmission's audit events (name order), counted
outcome() {
	echo "$(delivered "$2") | $($PY - "$1" <<'PY'
import collections, json, sys
ev, name = collections.Counter(), {}
for l in open(sys.argv[1] + "/audit.log"):
    e = json.loads(l)
    if e.get("file"):
        name[e["transmission_id"]] = e["file"]
    if e["transmission_id"]:
        ev[(e["transmission_id"], e["event"], e.get("code", ""))] += 1
print(" ".join(sorted("%s:%s%s=%d" % (name.get(t, t[:8]), e,
                                      ":" + c if c else "", v)
                      for (t, e, c), v in ev.items())))
PY
)"
}
mkdir -p "$T_TMP/mixed"
mixed "$T_TMP/mixed"
dl_conf m1 "$T_TMP/m1" "file://$T_TMP/out-m1"
for f in $(ls "$T_TMP/mixed" | sort); do
	cp -p "$T_TMP/mixed/$f" "$T_TMP/m1/landing/"
	dl_run m1 m1.log
done
REF=$(outcome "$T_TMP/m1" "$T_TMP/out-m1")
t_ok "$(echo "$REF" | grep ' f5.csv:transmission_quarantined:schema_missing_column=1 ' | grep -q ' f6.csv:records_withheld:duplicate_record=1 '; echo $?)" \
    "one at a time: f6's records withheld as duplicate_record, f5 quarantined: $REF"
dl_conf mg "$T_TMP/mg" "file://$T_TMP/out-mg"
cp -p "$T_TMP/mixed"/* "$T_TMP/mg/landing/"
dl_run mg mg.log
t_ok "$(grep -q 'event=once_done received=8 .* quarantined=1 delivered=7 records=18 .*duplicate_records=3 ' "$T_TMP/mg.log"; echo $?)" \
    "one group: 8 received, f5 quarantined, 18 records, f6's 3 withheld"
t_is "$(outcome "$T_TMP/mg" "$T_TMP/out-mg")" "$REF" \
    "one group: the same records and audit events as the files one at a time"
n=0
for fp in transmission_received:4 archived:5 outbox_staged:3 \
    outbox_staged:4 quarantine_staged transmission_quarantined \
    audit_appended:20 audit_appended:24 group_staged:2 \
    transmission_parsed:3 transmission_parsed:6; do
	n=$((n + 1))
	dl_conf "m$n" "$T_TMP/m-$n" "file://$T_TMP/out-m$n"
	cp -p "$T_TMP/mixed"/* "$T_TMP/m-$n/landing/"
	dl_run "m$n" "m$n.log" "$fp"
	t_grep "$T_TMP/m$n.log" "event=failpoint name=${fp%:*}" "mixed: killed at $fp"
	dl_run "m$n" "m$n-2.log"
	t_is "$(outcome "$T_TMP/m-$n" "$T_TMP/out-m$n")" "$REF" \
	    "mixed, killed at $fp: each file's records delivered once, f6's withheld, f5 quarantined, each event once"
	"$TRADEDROP" audit -c "$T_TMP/m$n.conf" verify > "$T_TMP/mv$n" 2>&1
	t_is $? 0 "mixed, killed at $fp: audit verify passes"
	t_is "$(find "$T_TMP/m-$n/work" "$T_TMP/m-$n/landing" \
	    "$T_TMP/m-$n/outbox" -mindepth 1 | wc -l)" 0 \
	    "mixed, killed at $fp: nothing left in landing, work/ or outbox/"
done

# max_outbox_bytes is passed by one file's output at most, not by a
# group's: 8 gzip files of ~18 KB (one group) each stage ~335 KB of
# batches; with the receiver unreachable and max_outbox_bytes = 1M, the
# outbox is looked at before each file after the group's first, and the
# files past the bound wait, received, for a later run (8 staged, 2.7 MB,
# without: tried)
if command -v sqlite3 > /dev/null; then
	B=$T_TMP/bp
	dl_conf bp "$B" https://127.0.0.1:1/api "max_outbox_bytes = 1M" \
	    "breaker_failures = 1"
	for i in 1 2 3 4 5 6 7 8; do
		awk -v f=$i 'BEGIN { print "Store,UPC,Date,Units"
		    for (j = 0; j < 6000; j++)
			printf "%d,041000001239,2026-11-28,%d\n", f * 100000 + j, j % 7 + 1 }' \
		    > "$B/landing/g$i.csv"
		gzip "$B/landing/g$i.csv"
	done
	touch -d '-1 min' "$B"/landing/*.gz
	"$TRADEDROP" once -c "$T_TMP/bp.conf" 2> "$T_TMP/bplog"
	t_is $? 3 "outbox full: once exits 3"
	t_grep "$T_TMP/bplog" "event=intake_paused reason=outbox_full" \
	    "outbox full: intake pauses inside the group"
	t_is "$(sqlite3 "$B/state.db" "SELECT count(*) FROM transmissions WHERE state = 'parsed'")" 4 \
	    "outbox full: 4 of the group's 8 files staged (3 fit under 1 MiB, the 4th passes it), not all 8"
	t_ok "$(sqlite3 "$B/state.db" "SELECT total(bytes) - (SELECT max(s) FROM (SELECT sum(bytes) AS s FROM batches GROUP BY transmission_id)) <= 1048576 FROM batches WHERE state = 'pending'" | grep -qx 1; echo $?)" \
	    "outbox full: the outbox passes max_outbox_bytes by one file's batches at most"
	# the next run, the receiver back: the outbox is still full at its
	# start, so the files left received wait (not all processed at
	# once, by intake_process_pending) while it is delivered; the run
	# after that processes and delivers them
	dl_conf bp2 "$B" "file://$T_TMP/out-bp" "max_outbox_bytes = 1M"
	"$TRADEDROP" once -c "$T_TMP/bp2.conf" 2> "$T_TMP/bplog2"
	t_is $? 3 "outbox full: the next run, the receiver back, exits 3"
	t_is "$(sqlite3 "$B/state.db" "SELECT state, count(*) FROM transmissions GROUP BY state ORDER BY state" | tr '\n' ' ')" \
	    "delivered|4 received|4 " \
	    "outbox full: it delivers the 4 staged and processes none of the 4 received while the outbox is over max_outbox_bytes"
	"$TRADEDROP" once -c "$T_TMP/bp2.conf" 2> "$T_TMP/bplog3"
	t_is $? 0 "outbox full: the run after it exits 0"
	t_is "$(delivered "$T_TMP/out-bp")" \
	    "g1.csv.gz=6000/6000 g2.csv.gz=6000/6000 g3.csv.gz=6000/6000 g4.csv.gz=6000/6000 g5.csv.gz=6000/6000 g6.csv.gz=6000/6000 g7.csv.gz=6000/6000 g8.csv.gz=6000/6000" \
	    "outbox full: then every file's records delivered once"
	"$TRADEDROP" audit -c "$T_TMP/bp2.conf" verify > "$T_TMP/vbp" 2>&1
	t_is $? 0 "outbox full: audit verify passes"
	t_is "$(find "$B/work" "$B/landing" "$B/outbox" -mindepth 1 | wc -l)" 0 \
	    "outbox full: nothing left in landing, work/ or outbox/"
else
	for i in 1 2 3 4 5 6 7 8 9 10; do t_skip "sqlite3 not installed"; done
fi
t_done
