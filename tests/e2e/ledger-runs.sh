#!/bin/sh
# ledger-runs.sh - the ledger keeps the keys of the file it processes in
# memory up to a bound, then as sorted runs in an unlinked temporary
# file, merged when a pass over the file ends; a key on two or more of
# the entries has the file read again (agent/ledger.c). The tests' knob
# TD_LEDGER_RUN_BYTES lowers the bound (it can only lower it), so that
# a small file spills into many runs and its repeated keys land in
# different runs: the records, dead letters, sums, holds and counts must
# be those of the run that kept every key in memory, through the parser
# sandbox (where the ledger is asked a window of records at a time) and
# in the daemon itself (the hook TD_TEST_IN_PROCESS). Killed right after a
# run is written, the next run finishes the file and nothing is left.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
. "$srcdir/tests/lib/delivery-lib.sh"

# f.csv: 300 rows, then row 2's key again (twice: in three runs) and
# row 150's (other units each time)
dl_rows "$T_TMP/rows.csv" 300 11
{
	cat "$T_TMP/rows.csv"
	sed -n 3p "$T_TMP/rows.csv" | sed 's/,[0-9]*$/,7/'
	sed -n 151p "$T_TMP/rows.csv" | sed 's/,[0-9]*$/,1.25/'
	sed -n 3p "$T_TMP/rows.csv" | sed 's/,[0-9]*$/,-2/'
} > "$T_TMP/f.csv"
# g.csv: rows of f.csv again (duplicate_record), a restatement (held),
# row 2's key (once now), a new row
{
	sed -n '1p;10,40p' "$T_TMP/rows.csv"
	sed -n 60p "$T_TMP/rows.csv" | sed 's/,[0-9]*$/,99/'
	sed -n 3p "$T_TMP/rows.csv" | sed 's/,[0-9]*$/,5/'
	echo "1,041000001239,2026-11-28,3"
} > "$T_TMP/g.csv"

# go NAME [LINE...]: f.csv then g.csv (or the files of GO_FILES) through
# once in state $T_TMP/NAME; the exit statuses and once_done lines in
# $T_TMP/NAME.out
go() {
	_g=$1; shift
	dl_conf "$_g" "$T_TMP/$_g" "file://$T_TMP/out-$_g" "$@"
	: > "$T_TMP/$_g.out"
	for _f in ${GO_FILES:-f g}; do
		cp "$T_TMP/$_f.csv" "$T_TMP/$_g/landing/"
		dl_run "$_g" "$_g-$_f.log"
		echo "$_f rc=$RC $(grep -o 'once_done.*' "$T_TMP/$_g-$_f.log")" \
		    >> "$T_TMP/$_g.out"
	done
}
# same REF NAME WHAT: NAME's outcome is REF's
same() {
	t_is "$(dl_same "$T_TMP/out-$1" "$T_TMP/out-$2" --all)" ok \
	    "$3: the same records and manifests"
	t_is "$(cat "$T_TMP/$2.out")" "$(cat "$T_TMP/$1.out")" \
	    "$3: the same exit statuses and counts"
	t_is "$(cat "$T_TMP/$2"/dlq/*.ndjson | sed 's/"received_at":"[^"]*"//')" \
	    "$(cat "$T_TMP/$1"/dlq/*.ndjson | sed 's/"received_at":"[^"]*"//')" \
	    "$3: the same dead letters"
	"$TRADEDROP" status -c "$T_TMP/$2.conf" --json 2>&1 |
	    grep -o '"records":{[^}]*}' > "$T_TMP/$2.st"
	"$TRADEDROP" status -c "$T_TMP/$1.conf" --json 2>&1 |
	    grep -o '"records":{[^}]*}' > "$T_TMP/$1.st"
	t_is "$(cat "$T_TMP/$2.st")" "$(cat "$T_TMP/$1.st")" \
	    "$3: status counts the same"
}

# counts FILE N: the counts once said of the N-th file
counts() {
	sed -n "$2p" "$1" | grep -o 'rc=[0-9]* \|records=[0-9]* dlq=[0-9]* held=[0-9]* duplicate_records=[0-9]*' | tr -d '\n'
}

# every key in memory
go ref
t_is "$(counts "$T_TMP/ref.out" 1)" "rc=1 records=298 dlq=5 held=0 duplicate_records=0" \
    "reference: the 5 rows of the two repeated keys are dead-lettered"
t_is "$(counts "$T_TMP/ref.out" 2)" "rc=1 records=2 dlq=0 held=1 duplicate_records=31" \
    "reference: g's rows are duplicates, a restatement and new records"
go refsum "[map]" "duplicates = sum"
t_is "$(counts "$T_TMP/refsum.out" 1)" "rc=0 records=300 dlq=0 held=0 duplicate_records=0" \
    "reference, sum: one record of each repeated key"
t_is "$(counts "$T_TMP/refsum.out" 2)" "rc=1 records=1 dlq=0 held=2 duplicate_records=31" \
    "reference, sum: row 2's key in g restates its sum"

TD_LEDGER_RUN_BYTES=1024; export TD_LEDGER_RUN_BYTES
go runs
same ref runs "runs of 1 KiB"
go runsum "[map]" "duplicates = sum"
same refsum runsum "runs of 1 KiB, sum"
TD_TEST_IN_PROCESS=1 go box "[map]" "duplicates = sum"
same refsum box "runs of 1 KiB, sum, parsed in the daemon itself"
TD_TEST_IN_PROCESS=1 go boxdead
same ref boxdead "runs of 1 KiB, parsed in the daemon itself"
# restatements forwarded (restates set in the line by the child, from
# the ledger's answer), with and without sums, both ways
go fwd "[integration]" "on_restatement = forward"
t_ok "$(cat "$T_TMP"/out-fwd/*/batch-*.ndjson.gz | gzip -dc | grep -q '"restates":"[0-9a-f]\{32\}"'; echo $?)" \
    "forward: a record restates an earlier one"
TD_TEST_IN_PROCESS=1 go fwdin "[integration]" "on_restatement = forward"
same fwdin fwd "runs of 1 KiB, forwarded restatements, parsed in the child and in the daemon"
go fwdsum "[integration]" "on_restatement = forward" "[map]" "duplicates = sum"
TD_TEST_IN_PROCESS=1 go fwdsumin "[integration]" "on_restatement = forward" "[map]" "duplicates = sum"
same fwdsumin fwdsum "runs of 1 KiB, sum and forward, parsed in the child and in the daemon"
TD_LEDGER_RUN_BYTES=1 go one
same ref one "runs of one entry each"

# Keys of many days: the entries are sorted by the day of the key, then
# the key, as record_keys keeps them. d.csv: 400 rows over nine days (one
# before 1970), then row 5's key and row 300's again in other runs; e.csv:
# 50 of d's rows, one restated, one new. m.csv: 3000 rows of 300 days
# (a run ranks them in 9 bits), rows 11's and 2900's keys again. w.csv:
# 10000 rows of 10000 days, row 7's key again: runs of 4687 entries, each
# of more days than a run ranks (KDAY_RANKS: placed by their distance
# from the first).
$PY - "$T_TMP" <<'PY'
import datetime, random, sys
d = sys.argv[1]
r = random.Random(7)
def upc():
    x = [r.randrange(10) for _ in range(11)]
    s = 3 * sum(x[0::2]) + sum(x[1::2])
    return "".join(map(str, x)) + str((10 - s % 10) % 10)
days = ["1969-12-31"] + ["2026-11-%02d" % i for i in range(20, 28)]
rows = ["%d,%s,%s,%d" % (r.randrange(9999), upc(), days[r.randrange(9)], r.randrange(1, 50)) for _ in range(400)]
def again(row, units):
    return row.rsplit(",", 1)[0] + "," + units
with open(d + "/d.csv", "w") as f:
    f.write("Store,UPC,Date,Units\n" + "\n".join(rows + [again(rows[4], "77"), again(rows[299], "2.5")]) + "\n")
with open(d + "/e.csv", "w") as f:
    f.write("Store,UPC,Date,Units\n" + "\n".join(rows[100:150] + [again(rows[200], "99"), "1,041000001239,2026-11-28,3"]) + "\n")
mrows = ["%d,%s,%s,%d" % (r.randrange(9999), upc(), datetime.date(2025, 1, 1) + datetime.timedelta(days=r.randrange(300)), r.randrange(1, 50)) for _ in range(3000)]
with open(d + "/m.csv", "w") as f:
    f.write("Store,UPC,Date,Units\n" + "\n".join(mrows + [again(mrows[10], "3"), again(mrows[2899], "4")]) + "\n")
base = datetime.date(1960, 1, 1)
wrows = ["%d,%s,%s,%d" % (r.randrange(9999), upc(), base + datetime.timedelta(days=i), r.randrange(1, 50)) for i in range(10000)]
with open(d + "/w.csv", "w") as f:
    f.write("Store,UPC,Date,Units\n" + "\n".join(wrows + [again(wrows[6], "5")]) + "\n")
PY
TD_LEDGER_RUN_BYTES= GO_FILES="d e" go dref
t_is "$(counts "$T_TMP/dref.out" 1)" "rc=1 records=398 dlq=4 held=0 duplicate_records=0" \
    "nine days, every key in memory: the 4 rows of the two repeated keys are dead-lettered"
t_is "$(counts "$T_TMP/dref.out" 2)" "rc=1 records=1 dlq=0 held=1 duplicate_records=50" \
    "nine days, every key in memory: e's rows are duplicates, a restatement and a new record"
GO_FILES="d e" go druns
same dref druns "nine days, runs of 1 KiB"
TD_LEDGER_RUN_BYTES= GO_FILES="m" go mref
t_is "$(counts "$T_TMP/mref.out" 1)" "rc=1 records=2998 dlq=4 held=0 duplicate_records=0" \
    "300 days in memory: the 4 rows of the two repeated keys are dead-lettered"
TD_LEDGER_RUN_BYTES=30000 GO_FILES="m" go mruns
same mref mruns "300 days, runs of 468 entries"
TD_LEDGER_RUN_BYTES= GO_FILES="w" go wref
t_is "$(counts "$T_TMP/wref.out" 1)" "rc=1 records=9999 dlq=2 held=0 duplicate_records=0" \
    "10000 days in memory: the two rows of the repeated key are dead-lettered"
TD_LEDGER_RUN_BYTES=300000 GO_FILES="w" go wruns
same wref wruns "10000 days, runs of 4687 entries"

# killed right after the first run is written: nothing left behind, and
# the next run does the file as if nothing happened
dl_conf kill "$T_TMP/kill" "file://$T_TMP/out-kill"
cp "$T_TMP/f.csv" "$T_TMP/kill/landing/"
dl_run kill kill-1.log ledger_spill
t_is "$RC" 137 "killed at the spill of the first run"
t_grep "$T_TMP/kill-1.log" 'failpoint' "the failpoint is reached"
t_is "$(find "$T_TMP/kill" -newer "$T_TMP/f.csv" -type f ! -path '*/landing/*' \
    ! -path '*/archive/*' ! -name 'state.db*' ! -name audit.log ! -name lock \
    ! -path '*/work/*' | grep -v -e '/outbox/' -e '/dlq/' | head -5)" "" \
    "no runs' file is left in the state directory"
dl_run kill kill-2.log
echo "f rc=$RC $(grep -o 'once_done.*' "$T_TMP/kill-2.log")" > "$T_TMP/kill.out"
cp "$T_TMP/g.csv" "$T_TMP/kill/landing/"
dl_run kill kill-3.log
echo "g rc=$RC $(grep -o 'once_done.*' "$T_TMP/kill-3.log")" >> "$T_TMP/kill.out"
t_is "$(dl_same "$T_TMP/out-ref" "$T_TMP/out-kill" --all)" ok \
    "after the kill: the same records and manifests"
t_is "$(sed 's/received=[0-9]* //' "$T_TMP/kill.out")" \
    "$(sed 's/received=[0-9]* //' "$T_TMP/ref.out")" \
    "after the kill: the same exit statuses and counts"
# Control totals past 36 digits: a file whose total overflows is Tier 2
# control_total_overflow. The ledger's first pass counts rows that its
# second (a key on two rows) rejects or finds duplicates, so where a
# second pass comes, the total it counts decides. ov1.csv: K(+B) K(0)
# X(-B, a duplicate_record of ov0.csv) P(+B), B = 6e35: the first pass
# (B + 0 + B) overflows, the second (P only) does not: P is delivered,
# both K rows dead-lettered. big.csv: B + B, no key twice: quarantined.
B=600000000000000000000000000000000000
U=036000291452
mkdir -p "$T_TMP/ov/landing"
dl_conf ov "$T_TMP/ov" "file://$T_TMP/out-ov"
sed -i 's/^\[integration\]/[integration]\nmax_reject_ratio = 1/' "$T_TMP/ov.conf"
printf 'Store,UPC,Date,Units\n1,%s,2026-11-28,-%s\n2,%s,2026-11-28,%s\n' $U $B $U $B > "$T_TMP/ov/landing/ov0.csv"
"$TRADEDROP" once -c "$T_TMP/ov.conf" 2> "$T_TMP/ov0.log"
t_is $? 0 "control totals: ov0.csv (-B, +B) delivered"
printf 'Store,UPC,Date,Units\n3,%s,2026-11-28,%s\n3,%s,2026-11-28,0\n1,%s,2026-11-28,-%s\n4,%s,2026-11-28,%s\n' $U $B $U $U $B $U $B > "$T_TMP/ov/landing/ov1.csv"
"$TRADEDROP" once -c "$T_TMP/ov.conf" 2> "$T_TMP/ov1.log"
t_is $? 1 "control totals: ov1.csv exits 1 (rows dead-lettered)"
t_grep "$T_TMP/ov1.log" "quarantined=0 delivered=1 records=1 dlq=2 " \
    "control totals: the first pass's overflow did not decide: P delivered, both K rows dead-lettered"
printf 'Store,UPC,Date,Units\n5,%s,2026-11-28,%s\n6,%s,2026-11-28,%s\n' $U $B $U $B > "$T_TMP/ov/landing/big.csv"
"$TRADEDROP" once -c "$T_TMP/ov.conf" 2> "$T_TMP/big.log"
t_is $? 1 "control totals: big.csv (+B, +B) exits 1"
t_grep "$T_TMP/big.log" "code=control_total_overflow" "control totals: big.csv is quarantined, control_total_overflow"
t_grep "$T_TMP/ov/quarantine/$(sha256sum "$T_TMP/ov/archive"/*/*/*/raw/big.csv | cut -c1-64)/reason.json" \
    "line 3: control totals exceed 36 digits" "control totals: reason.json names the row where they did"
# one key on 40 rows among 2,000 (the sort of a run puts a bucket of
# equal keys in order whatever its size): summed into one record of
# 1 + 2 + ... + 40 = 820 units, in memory and in runs of one entry
dl_rows "$T_TMP/many.csv" 2000 23
{
	cat "$T_TMP/many.csv"
	i=1
	while [ $i -le 40 ]; do
		sed -n 1000p "$T_TMP/many.csv" | sed "s/,[0-9]*\$/,$i/"
		i=$((i + 1))
	done
} > "$T_TMP/many40.csv"
k=$(sed -n 1000p "$T_TMP/many.csv" | cut -d, -f1)
for b in "" 64; do
	dl_conf "many$b" "$T_TMP/many$b" "file://$T_TMP/out-many$b" "[map]" "duplicates = sum"
	cp "$T_TMP/many40.csv" "$T_TMP/many$b/landing/"
	TD_LEDGER_RUN_BYTES=${b:-8388608} "$TRADEDROP" once -c "$T_TMP/many$b.conf" 2> "$T_TMP/many$b.log"
	t_is $? 0 "one key on 41 rows${b:+, runs of one entry}: once exits 0"
	t_grep "$T_TMP/many$b.log" "records=2000 dlq=0 " \
	    "one key on 41 rows${b:+, runs of one entry}: 2,000 records"
	t_is "$(cat "$T_TMP"/out-many$b/*/batch-*.ndjson.gz | gzip -dc | grep "\"store_id\":\"$k\"" | grep -o '"quantity":"[0-9]*"' | sort | tr '\n' ' ')" \
	    "$(sed -n 1000p "$T_TMP/many.csv" | awk -F, '{ printf "\"quantity\":\"%d\" ", $4 + 820 }')" \
	    "one key on 41 rows${b:+, runs of one entry}: one record of their sum"
done

# a full disk met by the runs file itself (state_dir a 3 MiB tmpfs in a
# private mount namespace; a run of one entry, so the 40,000 rows' keys
# need 2.5 MiB there, and one batch for the whole file, so that nothing
# else grows while the file is read): the file waits, the failure names
# the runs file, nothing is left behind, and with space back the next
# run delivers what an undisturbed run does
if [ "$(id -u)" -ne 0 ] || ! command -v unshare > /dev/null; then
	echo "# SKIP: the full-disk check of the runs file needs root and unshare"
else
	dl_rows "$T_TMP/big.csv" 40000
	dl_conf fullref "$T_TMP/fullref" "file://$T_TMP/out-fullref"
	dl_conf full "$T_TMP/full" "file://$T_TMP/out-full"
	sed -i 's/^batch_records = 1000$/batch_records = 100000/' \
	    "$T_TMP/fullref.conf" "$T_TMP/full.conf"
	cp "$T_TMP/big.csv" "$T_TMP/fullref/landing/"
	"$TRADEDROP" once -c "$T_TMP/fullref.conf" 2> "$T_TMP/fullref.log"
	t_is $? 0 "full disk: the reference run delivers"
	cat > "$T_TMP/full.sh" <<INNER
set -u
mount -t tmpfs -o size=3m tmpfs "$T_TMP/full" || exit 90
mkdir -p "$T_TMP/full/landing"
cp "$T_TMP/big.csv" "$T_TMP/full/landing/"
TD_LEDGER_RUN_BYTES=64 "$TRADEDROP" once -c "$T_TMP/full.conf" 2> "$T_TMP/full1.log"
echo \$? > "$T_TMP/full.rc1"
ls -A "$T_TMP/full" | grep -v -e '^state.db' -e '^landing\$' -e '^archive\$' -e '^work\$' -e '^outbox\$' -e '^quarantine\$' -e '^dlq\$' -e '^audit.log\$' -e '^lock\$' -e '^exit-status\$' > "$T_TMP/full.left"
find "$T_TMP/full/outbox" "$T_TMP/full/work" -mindepth 1 >> "$T_TMP/full.left" 2> /dev/null
mount -o remount,size=64m "$T_TMP/full"
TD_LEDGER_RUN_BYTES=64 "$TRADEDROP" once -c "$T_TMP/full.conf" 2> "$T_TMP/full2.log"
echo \$? > "$T_TMP/full.rc2"
umount "$T_TMP/full"
INNER
	unshare -m sh "$T_TMP/full.sh"
	t_is $? 0 "full disk: ran in a mount namespace"
	t_is "$(cat "$T_TMP/full.rc1")" 3 "full disk at the runs file: once exits 3"
	t_grep "$T_TMP/full1.log" "event=ledger_spill_failed dir=$T_TMP/full " \
	    "full disk: the failure names the ledger's runs file in state_dir"
	t_grep "$T_TMP/full1.log" "error=\"No space left on device\"" \
	    "full disk: with its error"
	t_grep "$T_TMP/full1.log" "event=intake_paused reason=disk_full" \
	    "full disk: intake pauses"
	t_is "$(cat "$T_TMP/full.left")" "" "full disk: nothing left behind"
	t_is "$(cat "$T_TMP/full.rc2")" 0 "full disk: with space back, the next run delivers"
	t_is "$(dl_same "$T_TMP/out-fullref" "$T_TMP/out-full" --all)" ok \
	    "full disk: the records and manifests of the undisturbed run"
fi
t_done
