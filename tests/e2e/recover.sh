#!/bin/sh
# recover.sh - the states a kill -9 can leave between the steps of a claim,
# set up by hand, are finished by the next run: a claimed file whose name
# ends in .tmp is processed (not taken for a partial copy), and sidecars
# left in landing by a claim cut short are reclaimed before hashing.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"

S=$T_TMP/state
mkdir -p "$S/landing"
cat > "$T_TMP/t.conf" <<CONF
[integration]
name = acme
state_dir = $S
[watch]
ignore = .*
[verify]
checksum = required
[map]
store_id = column "Store"
gtin = column "UPC" gtin
txn_date = column "Date" date "%Y-%m-%d"
quantity = column "Units" decimal
[output]
url = file://$T_TMP/out
CONF
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> /dev/null
t_is $? 0 "an empty first run"

# a claim interrupted right after the data file was renamed into work/
C1=$S/work/1764400000.000000001-1-0
C2=$S/work/1764400000.000000002-1-1
mkdir -p "$C1" "$C2"
printf 'Store,UPC,Date,Units\n1,041000001239,2026-11-28,3\n' > "$C1/daily.tmp"
(cd "$C1" && sha256sum daily.tmp > daily.tmp.sha256)
printf 'Store,UPC,Date,Units\n2,041000001239,2026-11-28,4\n' > "$C2/a.csv"
(cd "$C2" && sha256sum a.csv > "$S/landing/a.csv.sha256")
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log"
t_is $? 0 "the next run finishes both claims"
tid() { sha256sum "$S"/archive/*/*/*/raw/"$1" | cut -c1-64; }
t_ok "$([ -f "$T_TMP/out/$(tid daily.tmp)/manifest.json" ]; echo $?)" \
	"a claimed file named *.tmp is processed, not deleted as a partial copy"
t_grep "$T_TMP/out/$(tid a.csv)/manifest.json" '"checksum":"ok"' \
	"a sidecar left in landing by the cut claim is reclaimed and verified"
t_is "$(ls "$S/landing")" "" "nothing left in landing"
t_is "$(find "$S/work" -mindepth 1 | wc -l)" 0 "nothing left in work/"

# A settled claim's removal from work/ is synced by the next sync of
# work/, not at once (intake.c: settle): a crash before it can bring the
# claim directory back, empty, or (a rename persisted by halves) still
# naming the file that is in raw/ already. Both are recorded claims the
# next run settles again: nothing is taken, delivered or left twice.
sq() { $PY -c 'import sqlite3, sys; print("\n".join(str(r[0]) for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2])))' "$S/state.db" "$1"; }
CA=$(sq "SELECT claim FROM transmissions WHERE name = 'a.csv'")
CD=$(sq "SELECT claim FROM transmissions WHERE name = 'daily.tmp'")
RA=$(ls "$S"/archive/*/*/$(tid a.csv)/raw/a.csv)
mkdir "$S/work/$CA" "$S/work/$CD"
ln "$RA" "$S/work/$CA/a.csv"
ln "$(dirname "$RA")/a.csv.sha256" "$S/work/$CA/a.csv.sha256"
NT=$(sq "SELECT count(*) FROM transmissions")
NO=$(find "$T_TMP/out" -type f | wc -l)
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log2"
t_is $? 0 "claims settled before, back in work/: the next run exits 0"
t_is "$(find "$S/work" -mindepth 1 | wc -l)" 0 \
	"both settled again: nothing left in work/"
t_is "$(stat -c %h "$RA")" 1 "the raw file keeps one name, in raw/"
t_is "$(sq "SELECT count(*) FROM transmissions")" "$NT" "nothing received twice"
t_is "$(grep -c 'event=duplicate_transmission' "$T_TMP/log2")" 0 \
	"nor taken for a duplicate"
t_is "$(find "$T_TMP/out" -type f | wc -l)" "$NO" "nothing delivered again"
t_done
