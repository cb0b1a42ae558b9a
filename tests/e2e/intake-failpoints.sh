#!/bin/sh
# intake-failpoints.sh - a SIGKILL at each commit point and filesystem
# step of intake and processing (TD_FAILPOINT, one kill each): after
# the claim's rename, after a transmission or a duplicate is recorded,
# after the archive move, with the outbox staged, after the parse commit,
# with the quarantine staged and after its commit. The next run delivers
# what an undisturbed run delivers, exits as it would, and leaves the
# state directory as tidy as it; every transmission is received and
# parsed or quarantined exactly once in the audit log.
. "$srcdir/tests/lib/common.sh"
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
t_tmpdir
. "$srcdir/tests/lib/delivery-lib.sh"

# a: three batches, one row dead-lettered; q: quarantined (half its rows
# bad); d: a copy of a under another name, dropped after it (duplicate)
dl_rows "$T_TMP/a.csv" 3000 21 7
dl_rows "$T_TMP/q.csv" 4 22 1
drop() {	# drop STATE
	cp "$T_TMP/a.csv" "$T_TMP/q.csv" "$1/landing/"
	cp "$T_TMP/a.csv" "$1/landing/d.csv"
	touch -d '2026-11-28 10:00' "$1/landing/a.csv"
	touch -d '2026-11-28 11:00' "$1/landing/q.csv"
	touch -d '2026-11-28 12:00' "$1/landing/d.csv"
}
# events STATE: how often each transmission was received, parsed,
# quarantined, delivered, and how many duplicate drops were recorded
events() {
	$PY - "$1/audit.log" <<'PY'
import collections, json, sys
c = collections.Counter()
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["event"] in ("transmission_received", "transmission_parsed",
                      "transmission_quarantined", "transmission_delivered",
                      "duplicate_transmission"):
        c[(e["event"], e["transmission_id"])] += 1
print(" ".join(sorted("%s=%d" % (k[0], v) for k, v in c.items())))
PY
}

# tree_of STATE: the files of dlq/ and quarantine/, each with its lines
tree_of() {
	(cd "$1" && find dlq quarantine -type f | sort | while read -r f; do
		echo "$f:$(wc -l < "$f")"; done | tr '\n' ' ')
}

dl_conf ref "$T_TMP/ref" "file://$T_TMP/ref-out" "[watch]" "settle = 0"
drop "$T_TMP/ref"
dl_run ref ref.log
t_is "$RC" 1 "undisturbed: exit 1"
t_grep "$T_TMP/ref.log" "event=file_quarantined file=q.csv" "q is quarantined"
t_grep "$T_TMP/ref.log" "event=duplicate_transmission file=d.csv" "d is a duplicate"
dl_run ref ref2.log
t_is "$RC" 0 "and the run after it exits 0"
REF_EVENTS=$(events "$T_TMP/ref")
TQ=$(sha256sum "$T_TMP/q.csv" | cut -c1-64)
TA=$(sha256sum "$T_TMP/a.csv" | cut -c1-64)
t_is "$(tree_of "$T_TMP/ref")" "dlq/$TA.ndjson:1 quarantine/$TQ/dead-letters.ndjson:1 quarantine/$TQ/q.csv:5 quarantine/$TQ/reason.json:1 " \
	"undisturbed: a's dead letter in dlq/; q's a sample in its quarantine entry, not in dlq/"
n=0
for fp in claimed transmission_received archived duplicate_recorded \
    outbox_staged transmission_parsed quarantine_staged \
    quarantine_dlq_removed transmission_quarantined; do
	n=$((n + 1))
	dl_conf "k$n" "$T_TMP/k$n" "file://$T_TMP/out$n" "[watch]" "settle = 0"
	drop "$T_TMP/k$n"
	dl_run "k$n" "k$n.log" "$fp"
	t_is "$RC" 137 "killed at $fp"
	t_grep "$T_TMP/k$n.log" "event=failpoint name=$fp" "the kill came at $fp"
	dl_run "k$n" "k$n-2.log"
	t_is "$RC" 1 "$fp: the next run exits 1, as the undisturbed run"
	t_is "$(dl_same "$T_TMP/ref-out" "$T_TMP/out$n" --all)" ok \
		"$fp: delivered what the undisturbed run delivered"
	dl_run "k$n" "k$n-3.log"
	t_is "$RC" 0 "$fp: the run after it exits 0"
	t_is "$(ls "$T_TMP/k$n")" "$(ls "$T_TMP/ref")" \
		"$fp: the state directory holds what the undisturbed run's does"
	t_is "$(find "$T_TMP/k$n/work" "$T_TMP/k$n/landing" "$T_TMP/k$n/outbox" \
	    -mindepth 1 | wc -l)" 0 "$fp: nothing left in landing, work/ or outbox/"
	t_is "$(tree_of "$T_TMP/k$n")" "$(tree_of "$T_TMP/ref")" \
		"$fp: dlq/ and quarantine/ hold what the undisturbed run's do (q's dead letter a sample, not in dlq/)"
	t_is "$(events "$T_TMP/k$n")" "$REF_EVENTS" \
		"$fp: each transmission received, parsed or quarantined and delivered once"
done
# output_encoding changed while batches wait in the outbox: they are
# delivered as they were written (zstd), not looked for as gzip
dl_conf enc "$T_TMP/enc" "file://$T_TMP/enc-out" "output_encoding = zstd" \
	"[watch]" "settle = 0"
cp "$T_TMP/a.csv" "$T_TMP/enc/landing/"
dl_run enc enc.log transmission_parsed
t_is "$RC" 137 "killed with a's zstd batches in the outbox"
sed -i 's/^output_encoding = zstd$/output_encoding = gzip/' "$T_TMP/enc.conf"
dl_run enc enc2.log
t_is "$RC" 1 "the next run, now configured for gzip, delivers them (a row dead-lettered: 1)"
TA=$(sha256sum "$T_TMP/a.csv" | cut -c1-64)
t_is "$(cd "$T_TMP/enc-out/$TA" && ls batch-* | tr '\n' ' ')" \
	"batch-000001.ndjson.zst batch-000002.ndjson.zst batch-000003.ndjson.zst " \
	"the batches keep the encoding they were written in"
t_grep "$T_TMP/enc-out/$TA/manifest.json" '"batch_encoding":"zstd"' \
	"and the manifest says so"
# a stop inside the archive's records step (records.tmp/ beside the
# records/ of the attempt before), then a reprocess that quarantines (the
# operator tightened max_reject_ratio): nothing of the attempts that never
# committed stays in the archive of a transmission delivered nothing
dl_conf rq "$T_TMP/rq" "file://$T_TMP/rq-out" "[watch]" "settle = 0"
cp "$T_TMP/a.csv" "$T_TMP/rq/landing/"
dl_run rq rq.log outbox_staged
t_is "$RC" 137 "rq: killed with a staged and its archive's records linked"
AQ=$(ls -d "$T_TMP/rq"/archive/[0-9]*/[0-9]*/$TA)
t_ok "$([ -d "$AQ/records" ]; echo $?)" "rq: records/ of the uncommitted attempt"
cp -al "$AQ/records" "$AQ/records.tmp"
sed -i 's/^\[integration\]$/[integration]\nmax_reject_ratio = 0.0001/' "$T_TMP/rq.conf"
dl_run rq rq2.log
t_grep "$T_TMP/rq2.log" "event=file_quarantined file=a.csv" "rq: the reprocess quarantines a"
t_is "$(ls "$AQ" | grep -c '^records')" 0 \
	"rq: no records/ or records.tmp/ left in the quarantined transmission's archive"
t_done
