#!/bin/sh
# deliver-group-audit.sh - the uncommitted tail of audit.log that a
# file:// delivery group may leave (up to 32 transmission_delivered
# lines, tradedrop(8) DELIVERY) is no excuse for an https:// one, whose
# every delivery commits on its own: a state.db restored from a backup
# taken before two https deliveries is refused by `audit verify` and at
# start, the log kept whole, not cut. (The file:// group's own tail is
# cut: intake-group.sh.)
. "$srcdir/tests/lib/common.sh"
t_tmpdir; [ -n "${KEEP:-}" ] && echo "# tmp $T_TMP"
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
command -v openssl > /dev/null || t_skip_all "openssl not installed"
LIB=$srcdir/tests/lib
. "$LIB/https-lib.sh"
. "$LIB/delivery-lib.sh"

C=$T_TMP/pki
D=$T_TMP/peer
sh "$LIB/mkca.sh" "$C" || t_skip_all "mkca.sh failed"
peer_start "$D" --cert "$C/server.pem" --key "$C/server.key" --ca "$C/ca.pem" ||
    t_skip_all "the receiver did not start"
trap 'for p in $PEERS; do kill $p 2> /dev/null; done; [ -n "${KEEP:-}" ] || rm -rf "$T_TMP"' EXIT
printf 'TOKEN-s3cret\n' > "$T_TMP/token"; chmod 600 "$T_TMP/token"
S=$T_TMP/state
hconf() {	# hconf NAME PORT
	dl_conf "$1" "$S" "https://127.0.0.1:$2/api/v1/" "ca_file = $C/ca.pem" \
	    "token_file = $T_TMP/token" "timeout = 2s" "max_backoff = 1s" \
	    "breaker_failures = 1" "breaker_cooldown = 1s"
}
hconf good "$PORT"
qfault() { printf '%s\n' "$@" > "$D/faults.new" && mv "$D/faults.new" "$D/faults"; }
dl_rows "$S/landing/a.csv" 3 1
touch -d '-1 min' "$S"/landing/*
"$TRADEDROP" once -c "$T_TMP/good.conf" 2> "$T_TMP/l1"
t_is $? 0 "a.csv delivered over https"
# b and c parsed, their delivery refused once (401): backed up
dl_rows "$S/landing/b.csv" 3 2
dl_rows "$S/landing/c.csv" 3 3
touch -d '-1 min' "$S"/landing/*
qfault "/batches status 401"
"$TRADEDROP" once -c "$T_TMP/good.conf" 2> "$T_TMP/l2"
t_is $? 3 "b and c parsed, not delivered (the receiver refused)"
mkdir "$T_TMP/bak"; cp -p "$S"/state.db* "$T_TMP/bak/"
sleep 2	# the breaker, open, closes
"$TRADEDROP" once -c "$T_TMP/good.conf" 2> "$T_TMP/l3"
t_is $? 0 "then delivered, each in a commit of its own"
t_is "$(grep -c '"event":"transmission_delivered".*"output":"https"' "$S/audit.log")" 3 \
    "three https deliveries in the log"
n0=$(grep -c '"path": *"/api/v1/transmissions"' "$D/requests.ndjson")
cp "$S/audit.log" "$T_TMP/log.before"
rm -f "$S"/state.db*; cp -p "$T_TMP/bak"/state.db* "$S/"
"$TRADEDROP" audit -c "$T_TMP/good.conf" verify > "$T_TMP/v" 2>&1
t_ok "$([ $? -ne 0 ]; echo $?)" "state.db restored from before the two: audit verify refuses"
"$TRADEDROP" once -c "$T_TMP/good.conf" 2> "$T_TMP/l4"
t_is $? 4 "and so does once"
t_grep "$T_TMP/l4" "past the head recorded in state.db that do not continue its chain" "saying why"
t_ok "$(cmp -s "$S/audit.log" "$T_TMP/log.before"; echo $?)" "the log keeps every line"
t_is "$(grep -c '"path": *"/api/v1/transmissions"' "$D/requests.ndjson")" "$n0" \
    "no manifest is sent again"
t_done
