#!/bin/sh
# attack4.sh - someone with write access to the archive replaces the raw
# file of a transmission with a FIFO: before its processing (after a
# crash left it received) and before `quarantine release`. Neither may
# block on it (which would hold the integration's lock for ever); each
# refuses the file, naming it, and exits. Then the holds of one record
# from several files: an approval is held against what the ledger holds
# now, not when the record was held. Last, the names and messages the
# operator commands print are the sender's text: never raw escapes. And
# a link planted in the file:// output is not written through, by root
# or another user.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
command -v timeout > /dev/null || t_skip_all "timeout (coreutils) not installed"
command -v mkfifo > /dev/null || t_skip_all "mkfifo not installed"

PY=/usr/bin/python3
. "$srcdir/tests/lib/delivery-lib.sh"
S=$T_TMP/state
dl_conf t "$S" "file://$T_TMP/out"
# a: its quantity column is called Qty (schema drift): quarantined
printf 'Store,UPC,Date,Qty\n1,041000001239,2026-11-20,3\n' > "$S/landing/a.csv"
TA=$(sha256sum "$S/landing/a.csv" | cut -c1-64)
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log1"
t_is $? 1 "a is quarantined"
RAW=$(ls "$S"/archive/*/*/"$TA"/raw/a.csv)
rm "$RAW"
mkfifo "$RAW"
sed -i 's/column "Units"/column "Qty"/' "$T_TMP/t.conf"
timeout 20 "$TRADEDROP" quarantine -c "$T_TMP/t.conf" release "$TA" > "$T_TMP/rel" 2>&1
RC=$?
t_ok "$([ $RC -ne 124 ] && [ $RC -ne 0 ]; echo $?)" "release of a FIFO does not block, and fails (exit $RC)"
t_grep "$T_TMP/rel" "$RAW: not a regular file" "release names the raw file"
"$TRADEDROP" quarantine -c "$T_TMP/t.conf" list > "$T_TMP/list" 2>&1
t_grep "$T_TMP/list" "$TA " "a is still quarantined"

# b: received and archived, then the run is killed before processing
S2=$T_TMP/state2
dl_conf u "$S2" "file://$T_TMP/out2"
printf 'Store,UPC,Date,Units\n1,041000001239,2026-11-20,3\n' > "$S2/landing/b.csv"
TB=$(sha256sum "$S2/landing/b.csv" | cut -c1-64)
TD_FAILPOINT=archived "$TRADEDROP" once -c "$T_TMP/u.conf" 2> "$T_TMP/log2"
t_grep "$T_TMP/log2" "event=failpoint name=archived" "killed with b archived, not processed"
RAW=$(ls "$S2"/archive/*/*/"$TB"/raw/b.csv)
rm "$RAW"
mkfifo "$RAW"
timeout 20 "$TRADEDROP" once -c "$T_TMP/u.conf" 2> "$T_TMP/log3"
RC=$?
t_ok "$([ $RC -ne 124 ]; echo $?)" "once does not block on a FIFO in the archive (exit $RC)"
t_grep "$T_TMP/log3" "event=archive_missing file=$RAW error=\"not a regular file\"" "once names the raw file"
t_is "$(ls "$T_TMP/out2" 2>/dev/null | wc -l)" 0 "nothing of b delivered"
# Tier 4: three restatements of one record held, from three files; the
# second has the values of the first. Once the first is approved, the
# second is a duplicate of what was delivered (never delivered again),
# and the third restates the first's record, not the one before it.
S3=$T_TMP/state3
dl_conf h "$S3" "file://$T_TMP/out3"
drop3() {	# NAME ROWS...
	_n=$1; shift
	echo "Store,UPC,Date,Units" > "$S3/landing/$_n"
	for _r in "$@"; do
		echo "${_r%%,*},041000001239,2026-11-20,${_r#*,}" >> "$S3/landing/$_n"
	done
	"$TRADEDROP" once -c "$T_TMP/h.conf" 2> /dev/null
	sha256sum "$S3"/archive/*/*/*/raw/"$_n" | cut -c1-64
}
recs3() { gzip -dc "$T_TMP/out3/$1"/batch-*.ndjson.gz; }
rid3() {	# TID STORE: the record_id of that store's record
	recs3 "$1" | $PY -c 'import json,sys; print([r["record_id"] for r in map(json.loads, sys.stdin) if r["store_id"] == sys.argv[1]][0])' "$2"
}
hid() { "$TRADEDROP" hold -c "$T_TMP/h.conf" list | grep "transmission_id=$1" | cut -d' ' -f1; }
T1=$(drop3 h1.csv 2,4)
R2=$(rid3 "$T1" 2)
TA=$(drop3 ha.csv 2,9 10,1)
TB=$(drop3 hb.csv 2,9 11,1)
TC=$(drop3 hc.csv 2,5 12,1)
HA=$(hid "$TA") HB=$(hid "$TB") HC=$(hid "$TC")
t_ok "$([ -n "$HA" ] && [ -n "$HB" ] && [ -n "$HC" ]; echo $?)" "three restatements held"
"$TRADEDROP" hold -c "$T_TMP/h.conf" approve "$HA" --reason "recount" > /dev/null 2>&1
t_is $? 0 "the first approved"
t_is "$(recs3 "$TA" | grep -c "\"store_id\":\"2\".*\"restates\":\"$R2\"")" 1 "delivered, restating the original"
"$TRADEDROP" hold -c "$T_TMP/h.conf" approve "$HB" --reason "recount" > "$T_TMP/hb" 2>&1
t_is $? 1 "the second (the same values) is not approved"
t_grep "$T_TMP/hb" "was delivered with these values since it was held (record $HA)" "and says why"
t_is "$(recs3 "$TB" | grep -c '"store_id":"2"')" 0 "it is not delivered again"
"$TRADEDROP" hold -c "$T_TMP/h.conf" approve "$HC" --reason "recount" > /dev/null 2>&1
t_is $? 0 "the third approved"
t_is "$(recs3 "$TC" | grep -c "\"store_id\":\"2\".*\"restates\":\"$HA\"")" 1 "it restates the record delivered last, the first's"
t_is "$(grep -c "\"event\":\"hold_approved\",\"integration\":\"acme\",\"transmission_id\":\"$TC\",\"record_id\":\"$HC\",\"record_key\":\"[0-9a-f]*\",\"restates\":\"$HA\"" "$S3/audit.log")" 1 "audit: with the record it restates"
# a file name and a header with terminal escapes (the sender's text):
# `quarantine list` and `hold list` print them escaped, never raw
S4=$T_TMP/state4
dl_conf e "$S4" "file://$T_TMP/out4"
E=$(printf '\033')
printf 'Store,UPC,Date,Qty%s]2;owned\a\n1,041000001239,2026-11-20,3\n' "$E" > "$S4/landing/q${E}[2J.csv"
"$TRADEDROP" once -c "$T_TMP/e.conf" 2> /dev/null
t_is $? 1 "the file with escapes is quarantined"
"$TRADEDROP" quarantine -c "$T_TMP/e.conf" list > "$T_TMP/ql" 2>&1
t_is "$(grep -c "$E" "$T_TMP/ql")" 0 "quarantine list prints no escape byte"
t_grep "$T_TMP/ql" 'file="q\x1b[2J.csv"' "it names the file escaped"
TQ=$(cut -d' ' -f1 "$T_TMP/ql")
"$TRADEDROP" quarantine -c "$T_TMP/e.conf" show "$TQ" > "$T_TMP/qs" 2>&1
t_is "$(grep -c "$E" "$T_TMP/qs")" 0 "quarantine show prints no escape byte"
# a symbolic link planted in the file:// output (writable by its reader)
# under the id of a drop to come, one any uploader can compute: the
# batches and the manifest were written where it pointed, with the
# daemon's rights; the delivery is refused until the name is freed
S5=$T_TMP/state5
dl_conf f "$S5" "file://$T_TMP/out5"
mkdir -p "$T_TMP/out5" "$T_TMP/elsewhere"
printf 'Store,UPC,Date,Units\n1,041000001239,2026-11-20,7\n' > "$T_TMP/f.csv"
TF=$(sha256sum "$T_TMP/f.csv" | cut -c1-64)
ln -s "$T_TMP/elsewhere" "$T_TMP/out5/$TF"
cp "$T_TMP/f.csv" "$S5/landing/"
"$TRADEDROP" once -c "$T_TMP/f.conf" 2> "$T_TMP/log5"
t_ok "$([ $? -ne 0 ]; echo $?)" "a link planted at a transmission's output directory: not delivered"
t_is "$(ls -A "$T_TMP/elsewhere")" "" "nothing written where the link points"
t_grep "$T_TMP/log5" "/$TF error=\"Not a directory\"" "the refusal is logged"
# a link to a name not there: the refusal said "No such file or directory"
rm "$T_TMP/out5/$TF"
ln -s "$T_TMP/elsewhere/new" "$T_TMP/out5/$TF"
"$TRADEDROP" once -c "$T_TMP/f.conf" 2> "$T_TMP/log5b"
t_ok "$([ $? -ne 0 ] && [ ! -e "$T_TMP/elsewhere/new" ]; echo $?)" "a dangling link there: not delivered, nothing made where it points"
t_grep "$T_TMP/log5b" "/$TF error=\"Not a directory\"" "and refused as not a directory"
rm "$T_TMP/out5/$TF"
"$TRADEDROP" once -c "$T_TMP/f.conf" 2> "$T_TMP/log6"
t_ok "$([ -f "$T_TMP/out5/$TF/manifest.json" ] && [ ! -L "$T_TMP/out5/$TF" ]; echo $?)" \
    "the link removed: delivered into a directory of its own"
# ... and one swapped in between the check and the writes: `once` stops
# itself right after it opened out/<id> (TD_FAILPOINT=output_dir_opened:
# SIGSTOP), the directory is renamed away and a link put at its name.
# The batches go into the directory that was checked (the writes name
# it through the descriptor opened), nothing where the link points.
S7=$T_TMP/state7
dl_conf g "$S7" "file://$T_TMP/out7"
mkdir -p "$T_TMP/out7" "$T_TMP/elsewhere7"
printf 'Store,UPC,Date,Units\n2,041000001239,2026-11-20,8\n' > "$T_TMP/g.csv"
TG=$(sha256sum "$T_TMP/g.csv" | cut -c1-64)
cp "$T_TMP/g.csv" "$S7/landing/"
TD_FAILPOINT=output_dir_opened "$TRADEDROP" once -c "$T_TMP/g.conf" 2> "$T_TMP/log7" &
P7=$!
stopped() { [ "$(cut -d' ' -f3 "/proc/$P7/stat" 2> /dev/null)" = T ]; }
n=0; until stopped || [ $n -ge 200 ]; do sleep 0.1; n=$((n + 1)); done
t_ok "$(stopped; echo $?)" "once stopped after it opened the output directory"
mv "$T_TMP/out7/$TG" "$T_TMP/out7/checked"
ln -s "$T_TMP/elsewhere7" "$T_TMP/out7/$TG"
kill -CONT $P7; wait $P7
t_is "$(ls -A "$T_TMP/elsewhere7")" "" "a link swapped in after the check: nothing written through it"
t_is "$(ls "$T_TMP/out7/checked" | grep -c '^batch-')" 1 \
    "the batch went into the directory that was checked"
t_grep "$T_TMP/log7" "/$TG/manifest.json error=\"Not a directory\"" \
    "the manifest, at the next step, finds the link and is refused"
# ... and the same for a daemon that is not root, the directory the
# reader made first and one it may not search (mode 0700): the writes
# went by the name, through the link swapped in for it
if [ "$(id -u)" -eq 0 ] && command -v setpriv > /dev/null; then
	S8=$T_TMP/state8
	dl_conf k8 "$S8" "file://$T_TMP/out8"
	mkdir -p "$T_TMP/out8" "$T_TMP/elsewhere8"
	chmod 1777 "$T_TMP/out8"; chmod 777 "$T_TMP/elsewhere8"
	chmod 755 "$T_TMP"; chmod 644 "$T_TMP/k8.conf"
	printf 'Store,UPC,Date,Units\n3,041000001239,2026-11-20,9\n' > "$S8/landing/h.csv"
	TH=$(sha256sum "$S8/landing/h.csv" | cut -c1-64)
	mkdir -m 700 "$T_TMP/out8/$TH"
	chown -R nobody "$S8"
	TD_FAILPOINT=output_dir_opened setpriv --reuid=nobody --regid=nogroup \
	    --clear-groups "$TRADEDROP" once -c "$T_TMP/k8.conf" 2> "$T_TMP/log8" &
	P7=$!
	n=0; until stopped || [ $n -ge 200 ]; do sleep 0.1; n=$((n + 1)); done
	t_ok "$(stopped; echo $?)" "not root: once stopped after it opened the reader's directory"
	mv "$T_TMP/out8/$TH" "$T_TMP/out8/checked"
	ln -s "$T_TMP/elsewhere8" "$T_TMP/out8/$TH"
	kill -CONT $P7; wait $P7
	t_is "$(ls -A "$T_TMP/elsewhere8")" "" \
	    "not root, a directory it may not search: nothing written through the link"
	t_grep "$T_TMP/log8" "output=$T_TMP/out8/$TH/batch-000001.ndjson.gz error=\"Permission denied\"" \
	    "not root, a directory it may not search: the write fails, logged by the directory's name"
else
	for w in stopped link logged; do
		t_ok 0 "not root: $w # SKIP needs root and setpriv"
	done
fi
t_done
