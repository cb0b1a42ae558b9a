#!/bin/sh
# quarantine.sh - Tier 2 operator commands: `quarantine list` and `show`;
# the same file dropped again says it is quarantined and how to release
# it; `release` after a mapping fix delivers its records; `drop` records
# an audited decision and keeps the raw bytes in the archive.
. "$srcdir/tests/lib/common.sh"
t_tmpdir

PY=/usr/bin/python3
. "$srcdir/tests/lib/delivery-lib.sh"
S=$T_TMP/state
dl_conf t "$S" "file://$T_TMP/out"
# a: its quantity column is called Qty (schema drift under this mapping)
printf 'Store,UPC,Date,Qty\n1,041000001239,2026-11-20,3\n2,041000001239,2026-11-20,4\n' > "$T_TMP/a.csv"
# b: not a CSV this mapping can read at all
printf 'nothing,here\n1,2\n' > "$T_TMP/b.csv"
TA=$(sha256sum "$T_TMP/a.csv" | cut -c1-64)
TB=$(sha256sum "$T_TMP/b.csv" | cut -c1-64)
cp "$T_TMP/a.csv" "$T_TMP/b.csv" "$S/landing/"
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log1"
t_is $? 1 "once exits 1: two files quarantined"

"$TRADEDROP" quarantine -c "$T_TMP/t.conf" list > "$T_TMP/list" 2>&1
t_is $? 0 "quarantine list exits 0"
t_is "$(wc -l < "$T_TMP/list")" 2 "list: one line per quarantined file"
t_grep "$T_TMP/list" "$TA " "list: names a by its transmission id"
t_grep "$T_TMP/list" "schema_missing_column rows=0 rejected=0 file=a.csv" "list: a's code and file"

"$TRADEDROP" quarantine -c "$T_TMP/t.conf" show "$(echo $TA | cut -c1-10)" > "$T_TMP/show" 2>&1
t_is $? 0 "quarantine show takes a unique prefix of the id"
t_grep "$T_TMP/show" '"code":"schema_missing_column"' "show: the reason.json"
# the next step as it can be pasted: with -c naming this integration's file
t_grep "$T_TMP/show" "\`tradedrop quarantine -c $T_TMP/t.conf release $TA\`" "show: the next step, with -c FILE"
t_grep "$T_TMP/show" "\`tradedrop quarantine -c $T_TMP/t.conf drop $TA --reason TEXT\`" "show: or drop, with -c FILE"
# a -c relative to where show ran is named absolute, to paste anywhere
(cd "$T_TMP" && "$TRADEDROP" quarantine -c ./t.conf show "$TA") > "$T_TMP/show-rel" 2>&1
t_grep "$T_TMP/show-rel" "\`tradedrop quarantine -c $T_TMP/t.conf release $TA\`" "show -c ./t.conf: the next step names the file by its absolute path"

# the same bytes dropped again: not a bare duplicate_transmission
cp "$T_TMP/a.csv" "$S/landing/a-again.csv"
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log2"
t_is $? 0 "the drop again is not a new rejection"
t_grep "$T_TMP/log2" "event=duplicate_transmission file=a-again.csv transmission_id=$TA" "log: duplicate of a"
t_grep "$T_TMP/log2" "original_state=quarantined quarantine_code=schema_missing_column" "log: a is quarantined, and why"
t_grep "$T_TMP/log2" "next=\"tradedrop quarantine -c $T_TMP/t.conf release $TA\"" "log: how to reprocess it, with -c FILE"
t_grep "$T_TMP/log2" "duplicate=1 duplicate_of_quarantined=1" "once summary counts it"
t_grep "$S/audit.log" "\"event\":\"duplicate_transmission\",\"integration\":\"acme\",\"transmission_id\":\"$TA\",\"file\":\"a-again.csv\",\"size\":75,\"original_state\":\"quarantined\",\"quarantine_code\":\"schema_missing_column\",\"next\":\"tradedrop quarantine -c $T_TMP/t.conf release $TA\"" "audit: the duplicate's event says so"

# release before the fix: quarantined again, exit 1
"$TRADEDROP" quarantine -c "$T_TMP/t.conf" release "$TA" > "$T_TMP/rel0" 2>&1
t_is $? 1 "release without a fix: quarantined again, exit 1"
t_is "$(ls "$T_TMP/out/$TA" 2>/dev/null | grep -c batch)" 0 "nothing of a delivered"

# fix the mapping, release: delivered with today's mapping
sed -i 's/column "Units"/column "Qty"/' "$T_TMP/t.conf"
"$TRADEDROP" quarantine -c "$T_TMP/t.conf" release "$TA" > "$T_TMP/rel1" 2>&1
t_is $? 0 "release after the fix exits 0"
t_grep "$T_TMP/rel1" "transmission $TA released: delivered" "release says delivered"
t_is "$(gzip -dc "$T_TMP/out/$TA"/batch-*.ndjson.gz | grep -c '"quantity":"[34]"')" 2 "a's two records reached the output"
t_grep "$T_TMP/out/$TA/manifest.json" '"counts":{"records":2,"delivered":2,"dlq":0,"held":0,"duplicate":0}' "a's manifest counts"
t_is "$(ls "$S/quarantine")" "$TB" "a left the quarantine; b is still there"
t_grep "$S/audit.log" "\"event\":\"transmission_released\",\"integration\":\"acme\",\"transmission_id\":\"$TA\",\"quarantine_code\":\"schema_missing_column\"" "audit: released, with the code it had"
t_grep "$S/audit.log" "\"event\":\"config_loaded\",\"integration\":\"acme\",\"transmission_id\":null,\"file\":\"$T_TMP/t.conf\",\"sha256\":\"$(sha256sum < "$T_TMP/t.conf" | cut -c1-64)\"" "audit: the fixed config it was released with"
"$TRADEDROP" quarantine -c "$T_TMP/t.conf" release "$TA" > "$T_TMP/rel2" 2>&1
t_is $? 1 "a delivered transmission cannot be released"
t_grep "$T_TMP/rel2" "is delivered, not quarantined" "and says why"

# drop b: needs a reason; keeps the raw bytes with the decision
"$TRADEDROP" quarantine -c "$T_TMP/t.conf" drop "$TB" > "$T_TMP/drop0" 2>&1
t_is $? 2 "drop without --reason is a usage error"
"$TRADEDROP" quarantine -c "$T_TMP/t.conf" drop "$TB" --reason "test file from the retailer's QA" > "$T_TMP/drop1" 2>&1
t_is $? 0 "drop --reason exits 0"
t_is "$(ls "$S/quarantine")" "" "b left the quarantine"
BD=$(dirname "$(ls "$S"/archive/*/*/"$TB"/raw/b.csv)")/..
t_is "$(sha256sum < "$BD/raw/b.csv" | cut -c1-64)" "$TB" "b's raw bytes kept in the archive"
t_grep "$BD/decision.json" '"decision":"dropped"' "decision.json beside it"
t_grep "$BD/decision.json" "\"reason\":\"test file from the retailer's QA\"" "with the reason"
t_grep "$BD/reason.json" '"tier":2' "and the quarantine reason.json"
t_grep "$S/audit.log" "\"event\":\"transmission_dropped\",\"integration\":\"acme\",\"transmission_id\":\"$TB\",\"decision\":\"dropped\"" "audit: dropped"
"$TRADEDROP" quarantine -c "$T_TMP/t.conf" list > "$T_TMP/list2" 2>&1
t_grep "$T_TMP/list2" "nothing is quarantined" "list: nothing left"
# one set of counts: a file quarantined for its dead-lettered rows
printf 'Store,UPC,Date,Qty\n1,041000001238,2026-11-20,3\n2,041000001238,2026-11-20,4\n3,041000001239,2026-11-21,5\n' > "$S/landing/c.csv"
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log3"
t_is $? 1 "c: two of three rows rejected: quarantined"
TC=$(sha256sum "$S/landing/../archive"/*/*/*/raw/c.csv | cut -c1-64)
t_is "$(wc -l < "$S/quarantine/$TC/dead-letters.ndjson")" 2 "c: its two dead letters kept as samples in its quarantine entry"
t_is "$(ls -A "$S/dlq")" "" "c: none in dlq/ (its rows are quarantined with the file, not dead-lettered)"
t_grep "$S/quarantine/$TC/reason.json" '"rejected":2,"rejections":{"gtin_check_digit":2},"dead_letters_kept":2,"counts":{"records":3,"delivered":0,"dlq":0,"held":0,"duplicate":0,"quarantined":3}' "reason.json: the rejections by code, the counts as the manifest names them"
t_grep "$S/audit.log" '"code":"reject_ratio_exceeded","message":"2 of 3 rows rejected, more than max_reject_ratio 0.05","records":3,"delivered":0,"dlq":0,"held":0,"duplicate":0,"quarantined":3,"rejected":2,"rejections":{"gtin_check_digit":2},"dead_letters_kept":2' "audit: the same counts, and the rejections by code"
t_is "$(grep -c "\"event\":\"records_dead_lettered\",\"integration\":\"acme\",\"transmission_id\":\"$TC\"" "$S/audit.log")" 0 "audit: none of its rows dead-lettered"
"$TRADEDROP" status -c "$T_TMP/t.conf" --json > "$T_TMP/st" 2>&1
t_grep "$T_TMP/st" '"records":{"in":5,"delivered":2,"pending":0,"dlq":0,"held":0,"duplicate":0,"quarantined":3,"summed":0}' "status: the quarantined file's rows are counted quarantined, none dead-lettered"
"$TRADEDROP" status -c "$T_TMP/t.conf" > "$T_TMP/st2" 2>&1
t_grep "$T_TMP/st2" "records: 5 in, 2 delivered, 0 pending, 0 dead-lettered, 0 held, 0 duplicate, 3 quarantined, 0 summed" "status text: the same"

"$TRADEDROP" audit -c "$T_TMP/t.conf" verify > "$T_TMP/av" 2>&1
t_is $? 0 "the audit log verifies after every decision"


# A release killed after its commit, before it removed the dead letters
# of the attempt before: the next attempt, which dead-letters nothing,
# must not send them as its own (records in = delivered + dead letters).
if command -v strace > /dev/null; then
	S3=$T_TMP/state3
	dl_conf q "$S3" "file://$T_TMP/out3"
	sed -i 's/^\[integration\]/[integration]\nmax_reject_ratio = 0.25/' "$T_TMP/q.conf"
	sed 's/gtin = column "UPC" gtin/gtin = column "UPC" gtin nocheck/' "$T_TMP/q.conf" > "$T_TMP/q2.conf"
	chmod 600 "$T_TMP/q2.conf"
	printf 'Store,UPC,Date,Units\n1,04100000123,2026-11-20,18\n1,04100000456,2026-11-20,39\n2,07800000789,2026-11-20,32\n' > "$S3/landing/q.csv"
	"$TRADEDROP" once -c "$T_TMP/q.conf" 2> "$T_TMP/q1.log"
	t_is $? 1 "stale dead letters: three rows without check digit, quarantined"
	TQ=$(ls "$S3/quarantine")
	t_is "$(wc -l < "$S3/quarantine/$TQ/dead-letters.ndjson")" 3 "stale dead letters: three of them, as samples"
	t_is "$(ls -A "$S3/dlq")" "" "stale dead letters: none in dlq/"
	# as an older tradedrop kept them, whole, in dlq/
	cp "$S3/quarantine/$TQ/dead-letters.ndjson" "$S3/dlq/$TQ.ndjson"
	ASAN_OPTIONS=$T_ASAN_NOLEAKS strace -f -qq -o /dev/null -P "$S3/dlq/$TQ.ndjson" \
	    -e trace=unlink,unlinkat -e inject=unlink,unlinkat:signal=KILL \
	    "$TRADEDROP" quarantine release "$TQ" -c "$T_TMP/q2.conf" > /dev/null 2>&1
	t_is "$(sqlite3 "$S3/state.db" "SELECT state FROM transmissions")" received \
	    "stale dead letters: the release was killed after its commit, as it removed them"
	"$TRADEDROP" once -c "$T_TMP/q2.conf" 2> "$T_TMP/q2.log"
	t_is $? 0 "stale dead letters: with the mapping fixed, every row is delivered (exit 0)"
	t_is "$(sqlite3 "$S3/state.db" "SELECT state, records_in, delivered, dlq FROM transmissions")" "delivered|3|3|0" \
	    "stale dead letters: 3 in, 3 delivered, none dead-lettered"
	t_is "$(ls "$S3/dlq")" "" "stale dead letters: none kept"
	# the receiver holds the quarantine's report of the first attempt;
	# the stale dead letters must not have replaced it
	t_is "$(zcat "$T_TMP/out3/$TQ/rejections.ndjson.gz" | grep -c '"tier":3')" 0 \
	    "stale dead letters: not sent as the rejections of the delivered attempt"
	# killed after its commit, before it removed the quarantine entry:
	# the next attempt, delivered, leaves no reason or samples behind
	S4=$T_TMP/state4
	sed "s|$S3|$S4|; s|$T_TMP/out3|$T_TMP/out4|" "$T_TMP/q.conf" > "$T_TMP/q4.conf"
	sed "s|$S3|$S4|; s|$T_TMP/out3|$T_TMP/out4|" "$T_TMP/q2.conf" > "$T_TMP/q42.conf"
	chmod 600 "$T_TMP/q4.conf" "$T_TMP/q42.conf"
	mkdir -p "$S4/landing"
	cp "$S3/archive"/*/*/"$TQ"/raw/q.csv "$S4/landing/"
	"$TRADEDROP" once -c "$T_TMP/q4.conf" 2> "$T_TMP/q41.log"
	t_is "$(ls "$S4/quarantine/$TQ" | tr '\n' ' ')" "dead-letters.ndjson q.csv reason.json " \
	    "stale quarantine entry: quarantined, with its samples"
	ASAN_OPTIONS=$T_ASAN_NOLEAKS strace -f -qq -o /dev/null -P "$S4/quarantine/$TQ" \
	    -e trace=open,openat -e inject=open,openat:signal=KILL \
	    "$TRADEDROP" quarantine release "$TQ" -c "$T_TMP/q42.conf" > /dev/null 2>&1
	t_is "$(sqlite3 "$S4/state.db" "SELECT state FROM transmissions")" received \
	    "stale quarantine entry: the release was killed after its commit, as it removed it"
	"$TRADEDROP" once -c "$T_TMP/q42.conf" 2> "$T_TMP/q42.log"
	t_is $? 0 "stale quarantine entry: with the mapping fixed, every row is delivered (exit 0)"
	t_is "$(ls -A "$S4/quarantine")" "" \
	    "stale quarantine entry: no reason or samples left beside a delivered transmission"
else
	for i in 1 2 3 4 5 6 7 8 9 10 11 12; do t_skip "strace not installed"; done
fi

t_done
