#!/bin/sh
# landing.sh - what the landing directory accepts and refuses, as an
# uploader with write access to it would try: hard and symbolic links to
# files it cannot read, FIFOs, directories, a regular file swapped for a
# symlink while it is claimed, files still being written, files that
# cannot be read or moved, other owners, a sidecar whose copy into the
# claim fails, the daemon's own names under a [watch] that takes dot
# names; and the state a lost state.db leaves beside a full archive.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
command -v timeout > /dev/null || t_skip_all "timeout (coreutils) not installed"

ROOT=0; [ "$(id -u)" -eq 0 ] && ROOT=1
# immutable files must be made mutable again before the tree is removed
trap 'chattr -R -i "$T_TMP" 2> /dev/null; rm -rf "$T_TMP"' EXIT

# mk_conf NAME STATE_DIR SETTLE [EXTRA WATCH LINE]
mk_conf() {
	cat > "$T_TMP/$1.conf" <<CONF
[integration]
name = acme
state_dir = $2
[watch]
settle = $3
$4
[map]
store_id = column "Store"
gtin = column "UPC" gtin
txn_date = column "Date" date "%Y-%m-%d"
quantity = column "Units" decimal
# one item, store and day in every drop: the units tell them apart, so
# that Tier 4 sees no restatement
key = store_id, gtin, txn_date, quantity
[output]
url = file://$2-out
CONF
}
row() {	# row STORE UNITS
	printf '%s,041000001239,2026-11-28,%s\n' "$1" "$2"
}
mk() {	# mk FILE UNITS: a one-row CSV
	{ echo 'Store,UPC,Date,Units'; row 1 "$2"; } > "$1"
}
tid() { sha256sum "$1" | cut -c1-64; }
# delivered FILE OUT: the records of FILE's transmission in OUT, or ""
delivered() {
	$PY - "$2/$(tid "$1")" <<'PY'
import glob, gzip, json, sys
n = 0
for b in sorted(glob.glob(sys.argv[1] + '/batch-*.ndjson.gz')):
    n += sum(1 for _ in gzip.open(b))
print(n if glob.glob(sys.argv[1] + '/manifest.json') else '')
PY
}
# nothing of the secret anywhere tradedrop writes
leaked() {
	{ grep -rl --exclude-dir=landing TOPSECRET "$1" "$1-out" 2> /dev/null
	  find "$1" "$1-out" -name '*.gz' -exec zgrep -l TOPSECRET {} + \
	      2> /dev/null; } | wc -l
}
SECRET=$T_TMP/secret.csv
printf 'TOPSECRET,041000001239,2026-11-28,1\n' > "$SECRET"
chmod 600 "$SECRET"

# ---------------------------------------------------- links and specials
S=$T_TMP/s1; L=$S/landing
mkdir -p "$L"
mk_conf c1 "$S" 0
ln "$SECRET" "$L/hard.csv"
ln -s "$SECRET" "$L/soft.csv"
mkfifo "$L/fifo.csv"
mkdir "$L/dir.csv"
mk "$L/good.csv" 5
timeout 60 "$TRADEDROP" once -c "$T_TMP/c1.conf" 2> "$T_TMP/log1"
t_is $? 1 "once exits 1 when landing entries were refused (and does not hang on a FIFO)"
t_is "$(delivered "$SECRET" "$S-out")" "" "a hard link to a file outside landing is not taken"
t_is "$(cd "$L" && ls)" "dir.csv
fifo.csv
hard.csv
soft.csv" "the refused entries are left where they are; the good file was taken"
t_is "$(stat -c %h "$SECRET")" 2 "the hard-linked file keeps both names"
t_is "$(leaked "$S")" 0 "nothing of the linked file reached state, quarantine, dlq or output"
for e in 'hard.csv reason="hard link (2 names)"' 'soft.csv reason="symbolic link"' \
    'fifo.csv reason=FIFO' 'dir.csv reason=directory'; do
	t_grep "$T_TMP/log1" "event=landing_refused file=$e" "refusal logged: $e"
done
t_is "$(grep -c 'event=landing_refused' "$T_TMP/log1")" 4 "each refused entry is logged once"
GOOD=$(ls "$S"/archive/*/*/*/raw/good.csv)
t_is "$(delivered "$GOOD" "$S-out")" 1 "the good file beside them was delivered"

# -------------------------------------- a file swapped for a symlink (race)
# The uploader keeps replacing race.csv, a regular file, by a symlink to
# the secret and back, while tradedrop claims it over and over.
S=$T_TMP/s2; L=$S/landing
mkdir -p "$L"
mk_conf c2 "$S" 0
$PY - "$L" "$SECRET" 6 <<'PY' &
import os, sys, time
land, secret, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
end = time.monotonic() + secs
i = 0
while time.monotonic() < end:
    i += 1
    t = os.path.join(land, '.r%d' % i)
    with open(t, 'w') as f:
        f.write('Store,UPC,Date,Units\n%d,041000001239,2026-11-28,1\n' % i)
    os.replace(t, os.path.join(land, 'race.csv'))
    l = os.path.join(land, '.l%d' % i)
    os.symlink(secret, l)
    os.replace(l, os.path.join(land, 'race.csv'))
PY
SWAP=$!
runs=0
while kill -0 $SWAP 2> /dev/null; do
	"$TRADEDROP" once -c "$T_TMP/c2.conf" 2>> "$T_TMP/log2"
	runs=$((runs + 1))
done
wait $SWAP
echo "# $runs runs against the swapping uploader; $(ls "$S"/archive/*/*/ 2> /dev/null | wc -l) files taken"
t_is "$(leaked "$S")" 0 "a symlink swapped in during the claim is never followed"
t_is "$(find "$S/archive" -type l | wc -l)" 0 "no symlink was archived"
t_is "$(stat -c %h "$SECRET")" 2 "the secret is untouched (one name, and the hard link above)"

# --------------------------------------------------------------- owners
if [ $ROOT -eq 1 ]; then
	S=$T_TMP/s3; L=$S/landing
	mkdir -p "$L"
	mk_conf c3 "$S" 0 "owner = nobody"
	mk "$L/root.csv" 6
	mk "$L/nobody.csv" 7; chown nobody "$L/nobody.csv"
	"$TRADEDROP" once -c "$T_TMP/c3.conf" 2> "$T_TMP/log3"
	t_is "$(ls "$L")" root.csv "a file of another owner is left in landing"
	t_grep "$T_TMP/log3" 'file=root.csv reason="owner uid 0 is not in [watch] owner"' \
		"and its refusal names the owner"
	t_is "$(ls "$S"/archive/*/*/*/raw/)" nobody.csv "a file of a listed owner is taken"
else
	t_skip "owner checks need root to chown"
fi

mk_conf c3b "$T_TMP/s3b" 0 "owner = no-such-user-td"
"$TRADEDROP" check -c "$T_TMP/c3b.conf" > /dev/null 2> "$T_TMP/log3b"
t_is $? 2 "check refuses an owner that is no user"
t_grep "$T_TMP/log3b" "[watch] owner: no such user: no-such-user-td" "and names it"

# ------------------------------------------- files still being written
S=$T_TMP/s4; L=$S/landing
mkdir -p "$L"
mk_conf c4 "$S" 2
# a writer that appends a row every 0.3 s for 7 s, closing the file each time
$PY - "$L/slow.csv" 7 <<'PY' &
import sys, time
p, secs = sys.argv[1], float(sys.argv[2])
with open(p, 'w') as f:
    f.write('Store,UPC,Date,Units\n')
end = time.monotonic() + secs
i = 0
while time.monotonic() < end:
    i += 1
    with open(p, 'a') as f:
        f.write('%d,041000001239,2026-11-28,1\n' % i)
    time.sleep(0.3)
PY
WR=$!
sleep 0.5
"$TRADEDROP" once -c "$T_TMP/c4.conf" 2> "$T_TMP/log4"
t_is $? 0 "a file still growing is not an error"
t_ok "$([ -f "$L/slow.csv" ]; echo $?)" "a file that keeps growing is left in landing"
t_grep "$T_TMP/log4" "event=files_not_settled count=1" "and the run says a file has not settled"
wait $WR
ROWS=$(($(wc -l < "$L/slow.csv") - 1))
"$TRADEDROP" once -c "$T_TMP/c4.conf" 2> "$T_TMP/log4b"
t_is $? 0 "once the writer is done the file is taken"
t_is "$(delivered "$S/archive"/*/*/*/raw/slow.csv "$S-out")" "$ROWS" \
	"every row the writer wrote was delivered ($ROWS)"

# a writer that holds the file open for writing, idle, with an old mtime
if [ $ROOT -eq 1 ] || [ "$(stat -c %u "$T_TMP")" = "$(id -u)" ]; then
	mk "$T_TMP/held.csv" 8
	mv "$T_TMP/held.csv" "$L/held.csv"
	touch -d '1 hour ago' "$L/held.csv"
	$PY - "$L/held.csv" "$T_TMP/held.ready" <<'PY' &
import os, sys, time
f = open(sys.argv[1], 'a')
open(sys.argv[2], 'w').close()
time.sleep(30)
f.write('2,041000001239,2026-11-28,9\n')
PY
	HW=$!
	while [ ! -f "$T_TMP/held.ready" ]; do sleep 0.1; done
	"$TRADEDROP" once -c "$T_TMP/c4.conf" 2> "$T_TMP/log5"
	t_ok "$([ -f "$L/held.csv" ]; echo $?)" "a file held open for writing is not taken"
	kill $HW; wait $HW 2> /dev/null
	"$TRADEDROP" once -c "$T_TMP/c4.conf" 2> "$T_TMP/log5b"
	t_is "$(delivered "$S/archive"/*/*/*/raw/held.csv "$S-out")" 1 \
		"once the writer closed it, it is taken"
else
	t_skip "read leases need the file's owner"
fi

# ----------------------------- files that cannot be read or moved out
if [ $ROOT -eq 1 ] && command -v setpriv > /dev/null && command -v chattr > /dev/null; then
	S=$T_TMP/s5; L=$S/landing
	mkdir -p "$L"
	mk_conf c5 "$S" 0
	chmod 755 "$T_TMP"
	mkdir -p "$S-out"
	chown -R nobody "$S" "$S-out"
	chmod 1777 "$L"; chown root "$L"	# a sticky upload directory
	mk "$L/a-unreadable.csv" 1; chmod 600 "$L/a-unreadable.csv"
	mk "$L/b-sticky.csv" 2				# root's, in a sticky dir
	mk "$L/c-good.csv" 3; chown nobody "$L/c-good.csv"
	touch -d '1 min ago' "$L/a-unreadable.csv" "$L/b-sticky.csv"
	chmod 644 "$T_TMP/c5.conf"
	AS_NOBODY="setpriv --reuid=nobody --regid=nogroup --clear-groups"
	$AS_NOBODY "$TRADEDROP" once -c "$T_TMP/c5.conf" 2> "$T_TMP/log6"
	t_is $? 1 "unreadable and immovable files: exit 1, not a stall"
	t_grep "$T_TMP/log6" 'file=a-unreadable.csv reason="unreadable' "an unreadable file is refused, logged"
	t_grep "$T_TMP/log6" 'file=b-sticky.csv reason="cannot be moved out of landing' \
		"a file that cannot be moved out of a sticky directory is refused, logged"
	t_is "$(delivered "$S/archive"/*/*/*/raw/c-good.csv "$S-out")" 1 \
		"a good file beside them still flows"
	t_is "$(find "$S/work" -mindepth 1 | wc -l)" 0 "nothing is left stuck in work/"
	mk "$L/d-later.csv" 4; chown nobody "$L/d-later.csv"
	$AS_NOBODY "$TRADEDROP" once -c "$T_TMP/c5.conf" 2> "$T_TMP/log7"
	t_is $? 1 "the next run is not wedged by them"
	t_is "$(delivered "$S/archive"/*/*/*/raw/d-later.csv "$S-out")" 1 \
		"a file dropped later is delivered"

	# an immutable file: rename(2) fails with EPERM even for root
	S=$T_TMP/s6; L=$S/landing
	mkdir -p "$L"
	mk_conf c6 "$S" 0
	mk "$L/imm.csv" 1
	if chattr +i "$L/imm.csv" 2> /dev/null; then
		mk "$L/next.csv" 2
		"$TRADEDROP" once -c "$T_TMP/c6.conf" 2> "$T_TMP/log8"
		t_is $? 1 "an immutable file: exit 1"
		t_grep "$T_TMP/log8" 'file=imm.csv reason="cannot be moved out of landing' \
			"an immutable file is refused, logged"
		t_is "$(delivered "$S/archive"/*/*/*/raw/next.csv "$S-out")" 1 \
			"the file beside it is delivered"
		chattr -i "$L/imm.csv"
	else
		t_skip "this filesystem has no immutable flag"
		t_skip "this filesystem has no immutable flag"
		t_skip "this filesystem has no immutable flag"
	fi
else
	for i in 1 2 3 4 5 6 7 8 9 10; do
		t_skip "needs root, setpriv and chattr"
	done
fi

# ------------------------- a file changed after it was hashed and verified
# A writer that kept a descriptor (where no read lease can tell) changes
# the file between its receipt and its parse: the run is stopped right
# after the archive move (TD_FAILPOINT), the archived raw file changed,
# and the next run must refuse it rather than deliver what was not the
# verified file.
S=$T_TMP/s8; L=$S/landing
mkdir -p "$L"
mk_conf c8 "$S" 0
{ echo 'Store,UPC,Date,Units'; row 1 3; row 2 4; } > "$L/late-edit.csv"
(cd "$L" && sha256sum late-edit.csv > late-edit.csv.sha256)
TID=$(tid "$L/late-edit.csv")
TD_FAILPOINT=archived "$TRADEDROP" once -c "$T_TMP/c8.conf" 2> "$T_TMP/log11"
t_is $? 137 "stopped between receipt and parse"
RAW=$(ls "$S"/archive/*/*/$TID/raw/late-edit.csv)
sed -i 's/,4$/,400/' "$RAW"
"$TRADEDROP" once -c "$T_TMP/c8.conf" 2> "$T_TMP/log12"
t_is $? 1 "a file changed after it was verified: exit 1"
t_is "$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['code'])" \
    "$S/quarantine/$TID/reason.json" 2> /dev/null)" file_changed \
	"it is quarantined as file_changed"
t_is "$(ls "$S-out/$TID" 2> /dev/null)" "rejections.ndjson.gz" \
	"no record of it was delivered, only its rejection"

# ------------------------------------------------------ lost state.db
S=$T_TMP/s1
rm -f "$S"/state.db* "$S/audit.log"
cp "$GOOD" "$S/landing/again.csv"
OUT_BEFORE=$(find "$S-out" -type f | sort | xargs sha256sum)
"$TRADEDROP" once -c "$T_TMP/c1.conf" 2> "$T_TMP/log9"
t_is $? 4 "an empty state.db beside a full archive: once refuses to run"
t_grep "$T_TMP/log9" "the state was lost" "and says why"
t_grep "$T_TMP/log9" "--reinitialise" "and names the way out"
t_is "$(find "$S-out" -type f | sort | xargs sha256sum)" "$OUT_BEFORE" "nothing was delivered again"
t_ok "$([ -f "$S/landing/again.csv" ]; echo $?)" "the drop waits in landing"
"$TRADEDROP" once -c "$T_TMP/c1.conf" --reinitialise 2> "$T_TMP/log10"
t_grep "$S/audit.log" '"event":"state_reinitialised"' "--reinitialise is audited"
t_is "$(find "$S-out" -type f -newer "$T_TMP/log9" -name manifest.json | wc -l)" 1 \
	"after --reinitialise the drop is taken as new"

# ------------------------------------------------- long sidecar names
# A sidecar of a name of 244 bytes or more (a data file of 237 bytes or
# more and its .sha256: an uploader's, or an SFTP source's, whose names
# may be 244 bytes): its copy into the claim was written under a
# temporary name over 255 bytes; the run exited 4 without a word and the
# file stayed claimed in work/ for good, each later run failing to
# recover it.
S=$T_TMP/s8; L=$S/landing
mkdir -p "$L"
mk_conf c8 "$S" 0
N=$(printf 'n%.0s' $(seq 244)).csv
mk "$L/$N" 8
(cd "$L" && sha256sum "$N" > "$N.sha256")
timeout 60 "$TRADEDROP" once -c "$T_TMP/c8.conf" 2> "$T_TMP/log11"
t_is "$? $(delivered "$S/archive"/*/*/*/raw/"$N" "$S-out" 2> /dev/null)" "0 1" \
    "a 248-byte name with its 255-byte .sha256: verified and delivered"
t_is "$(ls -A "$L") $(ls -A "$S/work" 2> /dev/null)" " " \
    "a 248-byte name with its 255-byte .sha256: nothing left in landing or work"

# ------------------------------------------ a sidecar copy that fails
# The copy of a sidecar into its claim failing with an I/O error (the
# test hook TD_FAILPOINT=sidecar_copy, once): once exited 4 with nothing
# said. It is logged, naming the sidecar; nothing is lost: the sidecar
# stays in landing, the data file in its claim, and the next run receives
# the file, verified against the sidecar, and delivers it.
S=$T_TMP/s9; L=$S/landing
mkdir -p "$L"
mk_conf c9 "$S" 0
mk "$L/sc.csv" 9
(cd "$L" && sha256sum sc.csv > sc.csv.sha256)
TD_FAILPOINT=sidecar_copy timeout 60 "$TRADEDROP" once -c "$T_TMP/c9.conf" \
    2> "$T_TMP/log13"
t_is $? 4 "a sidecar copy that fails: once exits 4"
t_grep "$T_TMP/log13" "event=landing_copy_failed file=sc.csv.sha256 dst=$S/work/" \
    "a sidecar copy that fails: logged, naming the sidecar"
t_is "$(ls -A "$L") $(ls -A "$S"/work/* 2> /dev/null)" "sc.csv.sha256 sc.csv" \
    "a sidecar copy that fails: the sidecar left in landing, the file in its claim"
timeout 60 "$TRADEDROP" once -c "$T_TMP/c9.conf" 2> "$T_TMP/log14"
t_is "$? $(delivered "$S/archive"/*/*/*/raw/sc.csv "$S-out" 2> /dev/null)" "0 1" \
    "a sidecar copy that fails: the next run receives the file and delivers it"
t_grep "$S/audit.log" '"verification":{"checksum":"ok","checksum_algorithm":"sha256"' \
    "a sidecar copy that fails: verified against its sidecar"
t_is "$(ls -A "$L") $(ls -A "$S/work")" " " \
    "a sidecar copy that fails: nothing left in landing or work"

# ------------------------------------------ the daemon's own names
# A [watch] that takes dot names (pattern = *, .*, ignore = *.tmp): a
# broken SFTP download's .NAME.part, stable until a poll resumes it, was
# taken and delivered as a transmission, cut short, and its .part.info
# as another; the resume was lost. They stay in landing, untaken, and
# so does a .td-HEX.tmp; a dot name of the sender's is taken.
S=$T_TMP/s10; L=$S/landing
mkdir -p "$L"
mk_conf c10 "$S" 0 "pattern = *, .*
ignore = *.filepart"
mk "$L/.big.csv.part" 10
echo "2000000 1700000000 1048576 src" > "$L/.big.csv.part.info"
mk "$L/.big.csv.part.tmp" 11
mk "$L/.td-0123456789abcdef.tmp" 12
mk "$L/.dot.csv" 13
timeout 60 "$TRADEDROP" once -c "$T_TMP/c10.conf" 2> "$T_TMP/log15"
t_is "$? $(delivered "$S/archive"/*/*/*/raw/.dot.csv "$S-out" 2> /dev/null)" "0 1" \
    "dot names taken: .dot.csv is delivered"
t_is "$(grep -c 'event=file_received file=\.\(big\|td-\)' "$T_TMP/log15")" 0 \
    "dot names taken: a download's .part, .part.info, .part.tmp and a .td-HEX.tmp are not received"
t_is "$(ls -A "$L" | LC_ALL=C sort | tr '\n' ' ')" \
    ".big.csv.part .big.csv.part.info .big.csv.part.tmp .td-0123456789abcdef.tmp " \
    "dot names taken: the daemon's own names stay in landing"

# ---------------------------------------------------------- file modes
S=$T_TMP/s7; L=$S/landing
mkdir -p "$L"
mk_conf c7 "$S" 0
{ echo 'Store,UPC,Date,Units'; row 1 1; row 2 x; } > "$L/bad.csv"
# one bad row of 26: parsed, its dead letter in dlq/ (bad.csv, half bad,
# is quarantined: its dead letter a sample in the quarantine)
{ echo 'Store,UPC,Date,Units'; for i in $(seq 1 25); do row "$i" 1; done; row 26 x; } > "$L/some.csv"
(umask 022; "$TRADEDROP" once -c "$T_TMP/c7.conf" 2> /dev/null)
t_is "$(stat -c %a "$S"/dlq/*.ndjson)" 640 "a dead-letter file is not readable by others"
t_is "$(stat -c %a "$S"/quarantine/*/dead-letters.ndjson)" 640 \
    "a quarantined file's dead-letter samples are not readable by others"
t_done
