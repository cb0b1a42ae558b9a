#!/bin/sh
# reject-ledger.sh - the records of a batch the reconciler refuses (422,
# Tier 3) were never delivered: the Tier 4 ledger forgets them, so that a
# replay after the fix delivers them (it withheld them as duplicate_record,
# "a record_key delivered with the same values", and no command could
# deliver them again); the records of the batches accepted stay
# duplicates, and no record reaches the receiver twice. For each
# output_encoding (the ledger reads the refused batch file back).
# prune then removes the refused batch's file in dlq/ too.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
command -v openssl > /dev/null || t_skip_all "openssl not installed"
LIB=$srcdir/tests/lib
. "$LIB/https-lib.sh"
C=$T_TMP/pki
sh "$LIB/mkca.sh" "$C" > /dev/null 2>&1 || t_skip_all "mkca.sh failed"
printf 'TOKEN\n' > "$T_TMP/token"; chmod 600 "$T_TMP/token"

# conf DIR PORT COLUMN ENCODING
conf() {
	cat > "$1/td.conf" <<EOF
[integration]
name = acme
state_dir = $1/state
max_reject_ratio = 1
[map]
store_id = column "Store"
gtin = column "UPC" gtin
txn_date = column "Date" date "%Y-%m-%d"
quantity = column "$3" decimal
[output]
url = https://127.0.0.1:$2/api/v1/
ca_file = $C/ca.pem
token_file = $T_TMP/token
batch_records = 2
timeout = 2s
max_backoff = 2s
output_encoding = $4
EOF
}
# accepted DIR FIELD: FIELD of each record of the gzip batches the peer
# in DIR accepted (200), sorted
accepted() {
	$PY - "$1" "$2" <<'PY'
import gzip, json, sys
d, f = sys.argv[1], sys.argv[2]
v = []
for l in open(d + "/requests.ndjson"):
    r = json.loads(l)
    if r["path"].endswith("/batches") and r["status"] == 200:
        b = gzip.decompress(open(d + "/" + r["body_file"], "rb").read())
        v += [json.loads(x)[f] for x in b.splitlines()]
print(" ".join(sorted(v)))
PY
}
for ENC in gzip zstd identity; do
	D=$T_TMP/$ENC
	mkdir -p "$D/state/landing"
	peer_start "$D/peer" --cert "$C/server.pem" --key "$C/server.key" || t_skip_all "peer did not start"
	conf "$D" "$PORT" Units "$ENC"
	{ echo 'Store,UPC,Date,Units,Units2'
	  for i in 1 2 3 4 5; do echo "$i,041000001239,2026-11-20,$i,$i"; done; } > "$D/state/landing/d1.csv"
	printf 'status 422\n' > "$D/peer/faults"	# the first batch
	"$TRADEDROP" once -c "$D/td.conf" 2> "$D/log1"
	t_is $? 1 "$ENC: once exits 1: a batch refused"
	# the batch answered first (batches may go out at once): 2 records,
	# or the last batch's 1
	N=$(sed -n 's/.*event=batch_rejected.* records=\([0-9]*\) status=422.*/\1/p' "$D/log1")
	t_ok "$([ "$N" = 1 ] || [ "$N" = 2 ]; echo $?)" "$ENC: one batch refused (422)"
	T=$(sha256sum "$D"/state/archive/*/*/*/raw/d1.csv | cut -c1-64)
	conf "$D" "$PORT" Units2 "$ENC"	# another mapping_version, the same values
	"$TRADEDROP" replay -c "$D/td.conf" "$T" > "$D/rp" 2>&1
	t_is $? 0 "$ENC: the replay is delivered"
	t_grep "$D/rp" "5 rows: $N delivered, 0 dead-lettered, 0 held, $((5 - N)) duplicate" \
	    "$ENC: the refused records delivered by the replay, those accepted withheld"
	peer_stop "$PEER_PID"
	if [ "$ENC" = gzip ]; then
		# every store's record accepted once, none twice
		got=$(accepted "$D/peer" store_id)
		t_is "$got" "1 2 3 4 5" "$ENC: the receiver accepted each record once"
	fi
	# retention: prune removes the refused batch's file with the
	# transmission's other dead letters (it was left in dlq/ for good)
	t_ok "$(ls "$D/state/dlq/$T".batch-* > /dev/null 2>&1; echo $?)" "$ENC: the refused batch is in dlq/"
	sqlite3 "$D/state/state.db" "UPDATE transmissions SET received_at = received_at - 3000 * 86400"
	"$TRADEDROP" prune -c "$D/td.conf" > "$D/pr" 2>&1
	t_is "$(ls "$D/state/dlq")" "" "$ENC: prune leaves nothing of them in dlq/"
	"$TRADEDROP" audit -c "$D/td.conf" verify > "$D/av" 2>&1
	t_is $? 0 "$ENC: the audit log verifies"
done

# the original's batch refused after a replay was processed (the
# original's batch still being delivered: 503, the breaker open): the
# replay's records keep their record_id, but their keys are the replay's,
# delivered, and stay; a later drop of the replay's values is withheld,
# not delivered a second time
D=$T_TMP/late
mkdir -p "$D/state/landing"
peer_start "$D/peer" --cert "$C/server.pem" --key "$C/server.key" || t_skip_all "peer did not start"
conf "$D" "$PORT" Units gzip
sed -i -e 's/^batch_records = 2$/batch_records = 5000/' \
    -e 's/^max_reject_ratio = 1$/&\non_restatement = forward/' \
    -e 's/^max_backoff = 2s$/max_backoff = 1s\nbreaker_failures = 2\nbreaker_cooldown = 1s/' "$D/td.conf"
{ echo 'Store,UPC,Date,Units,Units2'
  for i in 1 2 3; do echo "$i,041000001239,2026-11-20,$i,$((i + 10))"; done; } > "$D/state/landing/d1.csv"
for i in 1 2 3 4 5 6 7 8; do echo '/batches status 503'; done > "$D/peer/faults"
"$TRADEDROP" once -c "$D/td.conf" 2> "$D/log1"
t_is $? 3 "late: once exits 3: the original's batch not delivered yet"
T=$(sha256sum "$D"/state/archive/*/*/*/raw/d1.csv | cut -c1-64)
printf '/batches status 422\n' > "$D/peer/faults"	# the original's batch
sleep 1	# the breaker's cooldown
sed -i 's/^quantity = column "Units" decimal$/quantity = column "Units2" decimal/' "$D/td.conf"
"$TRADEDROP" replay -c "$D/td.conf" "$T" > "$D/rp" 2>&1
t_grep "$D/rp" "3 rows: 3 delivered, 0 dead-lettered, 0 held, 0 duplicate" \
    "late: the replay's 3 records (restatements) delivered"
t_grep "$D/rp" "event=batch_rejected file=d1.csv batch=1 records=3 status=422" \
    "late: then the original's batch refused"
{ echo 'Store,UPC,Date,Units'
  for i in 1 2 3; do echo "$i,041000001239,2026-11-20,$((i + 10))"; done; } > "$D/state/landing/d2.csv"
sed -i 's/^quantity = column "Units2" decimal$/quantity = column "Units" decimal/' "$D/td.conf"
"$TRADEDROP" once -c "$D/td.conf" 2> "$D/log2"
t_grep "$D/log2" "records=0 dlq=0 batches=0 rows=3 held=0 duplicate=3" \
    "late: a drop of the replay's values withheld as duplicate_record, not delivered twice"
peer_stop "$PEER_PID"
got=$(accepted "$D/peer" quantity)
t_is "$got" "11 12 13" "late: the receiver accepted each of the replay's records once"

# a refused batch of 3,000 records, megabytes once decoded: the ledger
# reads it to its end (what a decoder still held when the file's last
# bytes were taken, its output full, is read too)
for ENC in zstd gzip; do
	D=$T_TMP/big-$ENC
	mkdir -p "$D/state/landing"
	peer_start "$D/peer" --cert "$C/server.pem" --key "$C/server.key" || t_skip_all "peer did not start"
	conf "$D" "$PORT" Units "$ENC"
	sed -i 's/^batch_records = 2$/batch_records = 5000/' "$D/td.conf"
	$PY -c "
print('Store,UPC,Date,Units,Units2')
for i in range(1, 3001): print('%d,041000001239,2026-11-20,%d,%d' % (i, i % 7 + 1, i % 7 + 1))
" > "$D/state/landing/big.csv"
	printf 'status 422\n' > "$D/peer/faults"
	"$TRADEDROP" once -c "$D/td.conf" 2> "$D/log1"
	t_grep "$D/log1" "event=batch_rejected file=big.csv batch=1 records=3000 status=422" "big $ENC: the one batch of 3000 refused"
	T=$(sha256sum "$D"/state/archive/*/*/*/raw/big.csv | cut -c1-64)
	conf "$D" "$PORT" Units2 "$ENC"
	sed -i 's/^batch_records = 2$/batch_records = 5000/' "$D/td.conf"
	"$TRADEDROP" replay -c "$D/td.conf" "$T" > "$D/rp" 2>&1
	t_grep "$D/rp" "3000 rows: 3000 delivered, 0 dead-lettered, 0 held, 0 duplicate" \
	    "big $ENC: all 3000 refused records forgotten, and delivered by the replay"
	peer_stop "$PEER_PID"
done
t_done
