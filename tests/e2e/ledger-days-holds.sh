#!/bin/sh
# ledger-days-holds.sh - a record held before the migration to schema 7
# (its hold has no key_day) is approved against what the ledger holds for
# its key now, dated or not: a dated key entered since (a restatement
# forwarded, or a hold of since approved) with the same values makes it
# a duplicate_record, not delivered again; with other values, what it
# restates.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
S=$T_TMP/state
. "$srcdir/tests/lib/ledger-lib.sh"
dl_conf t "$S" "file://$T_TMP/out" "[integration]" "max_reject_ratio = 0.9"
recs() { gzip -dc "${O:-$T_TMP/out}/$1"/batch-*.ndjson.gz; }
q() { sqlite3 "$S/state.db" "$1"; }
nine() {	# how many records of store 2 with quantity 9 were delivered
	gzip -dc "$T_TMP"/out/*/batch-*.ndjson.gz | grep '"store_id":"2"' |
	    grep -c '"quantity":"9"'
}

drop d1.csv 2026-11-20 2,4
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log1"
t_is $? 0 "d1: delivered"
drop d2.csv 2026-11-20 2,9
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log2"
t_is $? 1 "d2: the restatement is held"
H2=$("$TRADEDROP" hold -c "$T_TMP/t.conf" list | cut -d' ' -f1)
# back to schema 6: H2 becomes a hold of before the migration
to_schema6 "$S"
# d3: the same restatement again, on the migrated ledger: held too
drop d3.csv 2026-11-20 2,9 7,1
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log3"
t_is $? 1 "d3: held again (a restatement of d1's record)"
H3=$("$TRADEDROP" hold -c "$T_TMP/t.conf" list | cut -d" " -f1 | grep -v "$H2")
t_is "$(q "SELECT count(*) FROM holds WHERE key_day IS NULL")" 1 "H2 has no key_day"
"$TRADEDROP" hold -c "$T_TMP/t.conf" approve "$H3" --reason "recount" > "$T_TMP/ha3" 2>&1
t_is $? 0 "the new hold is approved"
t_is "$(nine)" 1 "quantity 9 delivered once"
"$TRADEDROP" hold -c "$T_TMP/t.conf" approve "$H2" --reason "recount" > "$T_TMP/ha2" 2>&1
t_is "$([ $? -ne 0 ] && echo refused)" refused "the old hold's values are delivered already: not approved"
t_grep "$T_TMP/ha2" "duplicate_record" "said: a duplicate_record"
t_is "$(nine)" 1 "quantity 9 still delivered once"

# forward: an old hold, then a forwarded restatement with other values,
# then the old hold approved: it restates the forwarded record, and the
# values it delivered are what the key has now
S=$T_TMP/f O=$T_TMP/outf
dl_conf f "$S" "file://$T_TMP/outf" "[integration]" "max_reject_ratio = 0.9"
drop e1.csv 2026-11-21 2,4
"$TRADEDROP" once -c "$T_TMP/f.conf" 2> "$T_TMP/logf1"
drop e2.csv 2026-11-21 2,9
"$TRADEDROP" once -c "$T_TMP/f.conf" 2> "$T_TMP/logf2"
t_is $? 1 "e2: held"
G2=$("$TRADEDROP" hold -c "$T_TMP/f.conf" list | cut -d' ' -f1)
to_schema6 "$S"
dl_conf f "$S" "file://$T_TMP/outf" "[integration]" "max_reject_ratio = 0.9" \
    "on_restatement = forward"
drop e3.csv 2026-11-21 2,7
"$TRADEDROP" once -c "$T_TMP/f.conf" 2> "$T_TMP/logf3"
t_is $? 0 "e3: forwarded"
E3=$(tid e3.csv)
R7=$(recs "$E3" | $PY -c 'import json,sys; print([r["record_id"] for r in map(json.loads, sys.stdin)][0])')
"$TRADEDROP" hold -c "$T_TMP/f.conf" approve "$G2" --reason "recount" > "$T_TMP/hf2" 2>&1
t_is $? 0 "the old hold is approved"
E2=$(tid e2.csv)
t_is "$(recs "$E2" | grep -c "\"restates\":\"$R7\"")" 1 \
    "approved: it restates the record forwarded since (e3's)"
# the approved values again: a duplicate; e3's again: a restatement
drop e4.csv 2026-11-21 2,9 8,1
"$TRADEDROP" once -c "$T_TMP/f.conf" 2> "$T_TMP/logf4"
t_grep "$T_TMP/logf4" "duplicate_records=1" "e4: the approved values are a duplicate"
t_done
