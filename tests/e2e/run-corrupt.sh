#!/bin/sh
# run-corrupt.sh - a page in the middle of a stopped daemon's state.db
# overwritten with garbage (dd): `run` and `once` refuse to start, say
# which file and what to do, exit 4 and change nothing; then the recovery
# procedure of tradedrop(8) (RECOVERY, "A corrupt state.db"), run as the
# page prints it, gives a state.db the daemon starts on: its history kept
# (a file dropped again is a duplicate), `audit verify` passing, new drops
# delivered once, and the page's lost ledger keys listed by the query the
# page gives. Then, against the TLS test receiver, what the page says a
# lost row costs: rows of transmissions (and of the ledger) removed as a
# lost page would, the files dropped again go under the same
# Idempotency-Keys, the receiver answers 409, and no record is accepted
# twice.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/run-lib.sh"
. "$srcdir/tests/lib/localfaults-lib.sh"
command -v sqlite3 > /dev/null || t_skip_all "sqlite3 not installed"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
command -v openssl > /dev/null || t_skip_all "openssl not installed"
. "$srcdir/tests/lib/https-lib.sh"
trap 'run_cleanup; for p in $PEERS; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$T_TMP"' EXIT
MAN=$srcdir/man/tradedrop.8
# block NAME: the literal block of tradedrop(8) between its BEGIN NAME and
# END NAME comments, for this integration
block() {
	awk -v b=".\\\\\" BEGIN $1" -v e=".\\\\\" END $1" '
	    index($0, b) == 1 { on = 1; next }
	    index($0, e) == 1 { on = 0 }
	    on && !/^\./' "$MAN" |
	sed -e "s|/var/lib/tradedrop/acme|$S|" -e "s|/etc/tradedrop/acme.conf|$CONF|" \
	    -e "s|^chown tradedrop:|chown $(id -un):|" -e "s|^tradedrop |\"$TRADEDROP\" |"
}

lf_setup 1
lf_start a.csv
for f in b c d e; do run_drop "$L" $f.csv 1500; done
t_ok "$(wait_until 60 run_delivered "$O" 5; echo $?)" "five transmissions delivered"
run_stop
t_is "$RUN_RC" 0 "the daemon stopped (exit 0)"
n0=$(sqlite3 "$S/state.db" "SELECT count(*) FROM transmissions")
k0=$(sqlite3 "$S/state.db" "SELECT count(*) FROM record_keys")
# a leaf page of the ledger, in the middle of the file
P=$(sqlite3 "$S/state.db" "SELECT pageno FROM dbstat WHERE name = 'record_keys' AND pagetype = 'leaf' ORDER BY pageno" 2>/dev/null | awk '{ p[NR] = $1 } END { print p[int((NR + 1) / 2)] }')
[ -n "$P" ] || P=$(( $(sqlite3 "$S/state.db" "PRAGMA page_count") / 2 ))
echo "# page $P of $(sqlite3 "$S/state.db" "PRAGMA page_count") overwritten"
dd if=/dev/urandom of="$S/state.db" bs=4096 seek=$((P - 1)) count=1 conv=notrunc 2> /dev/null
sum0=$(sha256sum "$S"/state.db* | sha256sum)
a0=$(wc -l < "$S/audit.log")
run_drop "$L" f.csv 3

timeout 30 "$TRADEDROP" run --foreground -c "$CONF" > "$T_TMP/run.out" 2>&1
t_is $? 4 "run refuses a corrupt state.db: exit 4"
t_grep "$T_TMP/run.out" "tradedrop: $S/state.db is corrupt (" "it names the file and the problem"
t_grep "$T_TMP/run.out" "recover it as tradedrop(8), RECOVERY says" "and where the recovery is"
"$TRADEDROP" once -c "$CONF" > "$T_TMP/once.out" 2>&1
t_is $? 4 "once refuses it too: exit 4"
t_grep "$T_TMP/once.out" "tradedrop: $S/state.db is corrupt" "and says so"
t_is "$(sha256sum "$S"/state.db* | sha256sum)" "$sum0" "state.db untouched: not started over, not repaired in place"
t_is "$(wc -l < "$S/audit.log")" "$a0" "nothing audited"
t_is "$(ls "$L")" "f.csv" "the drop waits in landing"

block "state.db recovery" > "$T_TMP/recover.sh"
t_ok "$([ "$(wc -l < "$T_TMP/recover.sh")" -ge 5 ]; echo $?)" "tradedrop(8) gives the recovery procedure"
(set -e; . "$T_TMP/recover.sh") > "$T_TMP/recover.out" 2>&1
t_is $? 0 "the procedure runs"
t_grep "$T_TMP/recover.out" "ok" "the new state.db passes the integrity check"
t_grep "$T_TMP/recover.out" "lines verified" "audit verify passes on it"
t_ok "$([ -s "$S/corrupt/state.db" ]; echo $?)" "the corrupt copy is kept"
t_is "$(sqlite3 "$S/state.db" "SELECT count(*) FROM transmissions")" "$n0" "every transmission is still known"
k1=$(sqlite3 "$S/state.db" "SELECT count(*) FROM record_keys")
echo "# ledger keys: $k0 before, $k1 recovered"
t_ok "$([ "$k1" -lt "$k0" ] && [ "$k1" -gt $((k0 / 2)) ]; echo $?)" "the keys of the lost page are gone, the others kept"
block "lost keys" > "$T_TMP/lost.sh"
(cd "$S" && sh "$T_TMP/lost.sh") > "$T_TMP/lost.out" 2>&1
t_ok "$([ "$(wc -l < "$T_TMP/lost.out")" -ge 1 ] && ! grep -q -i error "$T_TMP/lost.out"; echo $?)" \
	"the query of tradedrop(8) lists the transmissions that lost keys ($(cut -d'|' -f1 "$T_TMP/lost.out" | tr '\n' ' '))"

run_start "$CONF" "$LOG" || t_skip_all "run did not start after the recovery"
t_ok "$(wait_until 30 run_delivered "$O" 6; echo $?)" "the daemon starts on it; the waiting drop is delivered"
m=$(lf_mark "$LOG")
cp "$(ls "$S"/archive/*/*/*/raw/c.csv)" "$T_TMP/c.csv" && mv "$T_TMP/c.csv" "$L/c.csv"
run_drop "$L" g.csv 3
t_ok "$(wait_until 30 run_delivered "$O" 7; echo $?)" "a new drop is delivered"
lf_logged 30 "$LOG" "$m" "event=duplicate_transmission file=c.csv"
t_ok $? "a file delivered before the corruption, dropped again, is a duplicate"
run_stop
t_is "$RUN_RC" 0 "exit 0"
for f in a b c d e f g; do
	t_is "$(lf_tx "$O" $f.csv | wc -w)" 1 "$f.csv delivered once"
done
"$TRADEDROP" audit verify -c "$CONF" > /dev/null 2>&1
t_is $? 0 "audit verify passes"
t_is "$(sqlite3 "$S/state.db" 'PRAGMA integrity_check')" ok "PRAGMA integrity_check is ok"

# ------------------------------- lost rows, as the reconciler sees them
C=$T_TMP/pki
D=$T_TMP/peer
sh "$srcdir/tests/lib/mkca.sh" "$C" > /dev/null 2>&1 || t_skip_all "mkca.sh failed"
peer_start "$D" --cert "$C/server.pem" --key "$C/server.key" --ca "$C/ca.pem" \
	--require-client-cert || t_skip_all "no peer"
lf_setup 2
sed -i "s|^url = file://.*|url = https://127.0.0.1:$PORT/api/v1/\nca_file = $C/ca.pem\nclient_cert = $C/client.pem\nclient_key = $C/client.key\nreport_rejections = no|" "$CONF"
manifests() { [ "$(grep -c '"/api/v1/transmissions"' "$D/requests.ndjson" 2>/dev/null)" -ge "$1" ]; }
run_start "$CONF" "$LOG" || t_skip_all "run did not start"
run_drop "$L" j.csv 2
t_ok "$(wait_until 30 manifests 1; echo $?)" "j.csv delivered to the receiver"
run_drop "$L" h.csv 3
run_drop "$L" k.csv 4
t_ok "$(wait_until 30 manifests 3; echo $?)" "then h.csv and k.csv"
run_stop
sqlite3 "$S/state.db" ".backup '$T_TMP/state.db.3'"
sqlite3 "$S/state.db" "DELETE FROM transmissions"
timeout 30 "$TRADEDROP" run --foreground -c "$CONF" > "$T_TMP/lost.out" 2>&1
t_is $? 4 "every transmission forgotten beside a full archive: run refuses to start, exit 4"
t_grep "$T_TMP/lost.out" "holds no transmission but $S/archive is not empty" "and says why"
rm -f "$S/state.db-wal" "$S/state.db-shm"
cp "$T_TMP/state.db.3" "$S/state.db"
# what a lost page may have held: h.csv's row; k.csv's row and its keys
sqlite3 "$S/state.db" "DELETE FROM transmissions WHERE name = 'h.csv';
    DELETE FROM record_keys WHERE tx = (SELECT seq FROM transmissions
    WHERE name = 'k.csv'); DELETE FROM transmissions WHERE name = 'k.csv'"
run_start "$CONF" "$LOG" || t_skip_all "run did not start"
for f in h k; do
	cp "$(ls "$S"/archive/*/*/*/raw/$f.csv)" "$T_TMP/$f.csv" && mv "$T_TMP/$f.csv" "$L/"
done
t_ok "$(wait_until 30 manifests 5; echo $?)" "dropped again, both are taken as new and processed"
run_stop
t_is "$RUN_RC" 0 "exit 0"
$PY - "$D" > "$T_TMP/keys.out" <<'PY'
import gzip, json, os, sys
d = sys.argv[1]
reqs = [json.loads(l) for l in open(os.path.join(d, "requests.ndjson"))]
byname, ok2xx, seen, twice = {}, {}, set(), 0
for r in sorted(reqs, key=lambda r: r["seq"]):
    k = r["headers"]["idempotency-key"]
    what = r["path"].rsplit("/", 1)[1]
    byname.setdefault(what, []).append((k, r["status"]))
    if 200 <= r["status"] < 300:
        ok2xx[k] = ok2xx.get(k, 0) + 1
        if what == "batches":
            for l in gzip.decompress(open(os.path.join(d, r["body_file"]), "rb").read()).splitlines():
                rid = json.loads(l)["record_id"]
                twice += rid in seen
                seen.add(rid)
again = [(what, s) for what, v in byname.items() for i, (k, s) in enumerate(v)
         if any(k == k2 for k2, _ in v[:i])]
print("keys accepted more than once:", sum(1 for n in ok2xx.values() if n > 1))
print("records accepted twice:", twice, "of", len(seen))
print("sent again:", sorted(again))
PY
t_grep "$T_TMP/keys.out" "keys accepted more than once: 0" "every Idempotency-Key was accepted once"
t_grep "$T_TMP/keys.out" "records accepted twice: 0 of 9" "no record accepted twice"
t_grep "$T_TMP/keys.out" "sent again: [('batches', 409), ('transmissions', 409), ('transmissions', 409)]" \
	"k.csv's batch and both manifests went again under their first keys, answered 409; h.csv's records were withheld by the ledger"
# ---------------------------------------- a lost row of a batch
# A transmission whose batches state.db no longer holds each of (a row
# lost with a page): its other batches go, but never a manifest that
# counts batches it does not list; once exits 4 and says why, each time.
S9=$T_TMP/s9
mkdir -p "$S9/landing"
run_conf "$T_TMP/lb.conf" "$S9" "$T_TMP/out9"
sed -i "s|^url = .*|url = https://127.0.0.1:1/api\ntimeout = 1s|" "$T_TMP/lb.conf"
run_drop "$S9/landing" lb.csv 2500
"$TRADEDROP" once -c "$T_TMP/lb.conf" 2> "$T_TMP/lb1.log"
t_is $? 3 "a lost row: first the output is down (exit 3), three batches pending"
sqlite3 "$S9/state.db" "DELETE FROM batches WHERE seq = 2"
sed -i "s|^url = .*|url = file://$T_TMP/out9|" "$T_TMP/lb.conf"
for n in 2 3; do
	"$TRADEDROP" once -c "$T_TMP/lb.conf" 2> "$T_TMP/lb$n.log"
	t_is $? 4 "a lost row, run $n: once exits 4"
	TID=$(ls "$T_TMP/out9")
	t_grep "$T_TMP/lb$n.log" "level=error event=state_inconsistent transmission_id=$TID batches=3 message=\"state.db does not hold each of its batches once" \
		"a lost row, run $n: it says which transmission and that state.db lost a batch"
	t_is "$(find "$T_TMP/out9" -name manifest.json | wc -l)" 0 \
		"a lost row, run $n: no manifest is delivered"
done
# ---------------------------------------- damage met by the other commands
# A count read past a damaged page would be short, not an error: every
# command that meets damage says so (state_corrupt) and exits 4.
cp -a "$S9" "$T_TMP/s10"
sed "s|$S9|$T_TMP/s10|" "$T_TMP/lb.conf" > "$T_TMP/s10.conf"
chmod 600 "$T_TMP/s10.conf"
P=$(sqlite3 "$T_TMP/s10/state.db" "PRAGMA wal_checkpoint(TRUNCATE)" "SELECT pageno FROM dbstat WHERE name = 'transmissions' AND pagetype = 'leaf' LIMIT 1" | tail -1)
python3 -c 'import sys
f = open(sys.argv[1], "r+b"); f.seek((int(sys.argv[2]) - 1) * 4096 + 8)
f.write(b"\xff" * 200)' "$T_TMP/s10/state.db" "$P"
for c in "status" "status --json"; do
	"$TRADEDROP" $c -c "$T_TMP/s10.conf" > "$T_TMP/s10.out" 2>&1
	t_is $? 4 "a damaged transmissions page: $c exits 4"
	t_grep "$T_TMP/s10.out" "level=error event=state_corrupt code=11" \
		"and logs state_corrupt"
done
t_done
