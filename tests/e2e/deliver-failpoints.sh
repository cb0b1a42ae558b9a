#!/bin/sh
# deliver-failpoints.sh - a SIGKILL right after each commit of delivery
# and right after the last commit of `once` (TD_FAILPOINT, one kill
# each): the next run delivers what an undisturbed run delivers and
# exits as it would (1: a row was dead-lettered, a file quarantined),
# and the run after that exits 0.
. "$srcdir/tests/lib/common.sh"
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
t_tmpdir
. "$srcdir/tests/lib/delivery-lib.sh"

# a: three batches, one row dead-lettered; q: half its rows bad,
# quarantined (more than max_reject_ratio)
dl_rows "$T_TMP/a.csv" 3000 11 5
dl_rows "$T_TMP/q.csv" 4 12 1
drop() {	# drop STATE
	cp "$T_TMP/a.csv" "$T_TMP/q.csv" "$1/landing/"
	touch -d '2026-11-28 10:00' "$1/landing/a.csv"
	touch -d '2026-11-28 11:00' "$1/landing/q.csv"
}

dl_conf ref "$T_TMP/ref" "file://$T_TMP/ref-out"
drop "$T_TMP/ref"
dl_run ref ref.log
t_is "$RC" 1 "undisturbed: exit 1"
t_grep "$T_TMP/ref.log" "event=file_quarantined file=q.csv" "q is quarantined"
dl_run ref ref2.log
t_is "$RC" 0 "and the run after it exits 0"

n=0
for fp in batches_acked rejections_sent:1 rejections_sent:2 \
    transmission_delivered once_reported; do
	n=$((n + 1))
	dl_conf "k$n" "$T_TMP/k$n" "file://$T_TMP/out$n"
	drop "$T_TMP/k$n"
	dl_run "k$n" "k$n.log" "$fp"
	t_is "$RC" 137 "killed after the commit at $fp"
	t_grep "$T_TMP/k$n.log" "event=failpoint name=${fp%:*}" \
		"the kill came at $fp"
	dl_run "k$n" "k$n-2.log"
	t_is "$RC" 1 "$fp: the next run exits 1, as the undisturbed run"
	t_is "$(dl_same "$T_TMP/ref-out" "$T_TMP/out$n" --all)" ok \
		"$fp: delivered what the undisturbed run delivered"
	dl_run "k$n" "k$n-3.log"
	t_is "$RC" 0 "$fp: the run after it exits 0"
	t_is "$(ls "$T_TMP/k$n")" "$(ls "$T_TMP/ref")" \
		"$fp: nothing left behind in state_dir"
done

# Over HTTPS the rejections are POSTed from a staging copy in outbox/: a
# kill after their commit, before the copy is removed, leaves it; the
# next run removes it (it was left there for good before)
command -v openssl > /dev/null || t_skip_all "openssl not installed"
. "$srcdir/tests/lib/https-lib.sh"
C=$T_TMP/pki
sh "$srcdir/tests/lib/mkca.sh" "$C" > /dev/null 2>&1 || t_skip_all "mkca.sh failed"
peer_start "$T_TMP/peer" --cert "$C/server.pem" --key "$C/server.key" || t_skip_all "no peer"
dl_conf h "$T_TMP/h" "https://127.0.0.1:$PORT/api/v1" "ca_file = $C/ca.pem" \
    "report_rejections = yes"
drop "$T_TMP/h"
dl_run h h.log rejections_sent:1
t_is "$RC" 137 "https: killed after the commit at rejections_sent"
t_is "$(ls "$T_TMP/h/outbox" | grep -c 'rejections.ndjson.gz$')" 1 \
	"https: the staging copy of the rejections was left in outbox/"
dl_run h h-2.log
t_is "$RC" 1 "https: the next run exits 1"
dl_run h h-3.log
t_is "$RC" 0 "https: the run after it exits 0"
t_is "$(ls -A "$T_TMP/h/outbox")" "" "https: nothing left in outbox/"
# The same for a quarantined file, whose rejections (its reason.json) are
# the last thing sent for it: no later step came to remove the copy
dl_conf hq "$T_TMP/hq" "https://127.0.0.1:$PORT/api/v1" "ca_file = $C/ca.pem" \
    "report_rejections = yes"
mkdir -p "$T_TMP/hq/landing"
printf 'nothing,here\n1,2\n' > "$T_TMP/hq/landing/bad.csv"
dl_run hq hq.log rejections_sent:1
t_is "$RC" 137 "https, quarantined: killed after the commit at rejections_sent"
t_is "$(ls "$T_TMP/hq/outbox" | grep -c 'rejections.ndjson.gz$')" 1 \
	"https, quarantined: the staging copy of its rejections was left in outbox/"
dl_run hq hq-2.log
t_is "$RC" 1 "https, quarantined: the next run exits 1"
t_is "$(ls -A "$T_TMP/hq/outbox")" "" "https, quarantined: nothing left in outbox/"
t_done
