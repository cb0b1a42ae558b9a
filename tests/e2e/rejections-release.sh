#!/bin/sh
# rejections-release.sh - a quarantined file released after a fix that
# leaves the mapping as it was (max_reject_ratio, a trusted key, a limit)
# reports its rejections again, and the receiver stores the new report:
# it goes under an Idempotency-Key of its own, not the first report's,
# which the receiver, keeping the keys it answered, would refuse as 409.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
command -v openssl > /dev/null || t_skip_all "openssl not installed"
LIB=$srcdir/tests/lib
. "$LIB/https-lib.sh"

C=$T_TMP/pki
D=$T_TMP/peer
sh "$LIB/mkca.sh" "$C" > /dev/null 2>&1 || t_skip_all "mkca.sh failed"
peer_start "$D" --cert "$C/server.pem" --key "$C/server.key" --ca "$C/ca.pem" ||
	t_skip_all "the HTTPS peer did not start"
. "$LIB/delivery-lib.sh"
S=$T_TMP/state
conf() {	# conf MAX_REJECT_RATIO
	dl_conf t "$S" "https://127.0.0.1:$PORT/api/v1" "ca_file = $C/ca.pem" \
	    "timeout = 5s" "[integration]" "max_reject_ratio = $1" "[watch]" \
	    "settle = 0"
}
conf 0.5
# two rows of three are bad: quarantined as reject_ratio_exceeded
printf 'Store,UPC,Date,Units\n1,041000001239,2026-11-28,3\n2,041000001238,2026-11-28,4\n3,041000001239,2026-13-01,5\n' > "$S/landing/w48.csv"
TID=$(sha256sum "$S/landing/w48.csv" | cut -c1-64)
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log1"
t_is $? 1 "once exits 1: the file is quarantined"

# the same mapping, a looser ratio: released, its good row delivered
conf 1
"$TRADEDROP" quarantine -c "$T_TMP/t.conf" release "$TID" > "$T_TMP/rel" 2>&1
t_is $? 1 "release exits 1: delivered, two rows dead-lettered"

# what the receiver got at /rejections, in order
$PY - "$D" > "$T_TMP/rej" <<'PY'
import gzip, json, sys
d = sys.argv[1]
for l in open(d + "/requests.ndjson"):
    r = json.loads(l)
    if not r["path"].endswith("/rejections"):
        continue
    b = gzip.decompress(open(d + "/" + r["body_file"], "rb").read())
    lines = [json.loads(x) for x in b.decode().splitlines() if x]
    print(r["status"], r["headers"]["idempotency-key"],
          ",".join("%d:%s" % (x["tier"], x["code"]) for x in lines))
PY
sed 's/^/# /' "$T_TMP/rej"
t_is "$(wc -l < "$T_TMP/rej")" 2 "two rejection reports: the quarantine's and the release's"
t_is "$(sed -n 1p "$T_TMP/rej" | cut -d' ' -f1,3)" "200 2:reject_ratio_exceeded" "the first: the Tier 2 reason, stored"
t_is "$(sed -n 2p "$T_TMP/rej" | cut -d' ' -f1,3)" "200 3:gtin_check_digit,3:bad_date" "the release's: its two Tier 3 rows, stored (not 409)"
k1=$(sed -n 1p "$T_TMP/rej" | cut -d' ' -f2)
k2=$(sed -n 2p "$T_TMP/rej" | cut -d' ' -f2)
MV=$($PY -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT mapping_version FROM transmissions WHERE id=?', (sys.argv[2],)).fetchone()[0])" "$S/state.db" "$TID")
t_is "$k1" "$(printf '%s\n%s\nrejections' "$TID" "$MV" | sha256sum | cut -c1-64)" "the first report's key: transmission_id LF mapping_version LF rejections"
t_is "$k2" "$(printf '%s\n%s\nrejections\n1' "$TID" "$MV" | sha256sum | cut -c1-64)" "the release's: ... LF rejections LF 1, the release's number"
peer_stop "$PEER_PID"
t_done
