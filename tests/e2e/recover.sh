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
t_done
