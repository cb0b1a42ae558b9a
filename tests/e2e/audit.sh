#!/bin/sh
# audit.sh - `tradedrop audit verify`: an untouched log verifies; editing,
# deleting or reordering any one line, and truncating the log, are each
# caught (exit 1) and named by the first line they break.
. "$srcdir/tests/lib/common.sh"
t_tmpdir

S=$T_TMP/state PY=/usr/bin/python3
. "$srcdir/tests/lib/delivery-lib.sh"
dl_conf t "$S" "file://$T_TMP/out"
for i in 1 2; do
	printf 'Store,UPC,Date,Units\n%s,041000001239,2026-11-20,3\n' $i > "$S/landing/d$i.csv"
done
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log1"
t_is $? 0 "once delivers two files"
L=$S/audit.log
N=$(wc -l < "$L")
t_grep "$L" "\"event\":\"config_loaded\",\"integration\":\"acme\",\"transmission_id\":null,\"file\":\"$T_TMP/t.conf\",\"sha256\":\"$(sha256sum < "$T_TMP/t.conf" | cut -c1-64)\"" "config_loaded, with the config's hash"
t_is "$(grep -c '"event":"transmission_verified".*"verification":{"checksum":"absent","signature":"off"},"code":null' "$L")" 2 "transmission_verified for each file"
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> /dev/null
t_is "$(grep -c '"event":"config_loaded"' "$L")" 1 "an unchanged config is not audited again"
N=$(wc -l < "$L")
t_ok "$([ "$N" -ge 6 ]; echo $?)" "the log has a line per step ($N)"
"$TRADEDROP" audit -c "$T_TMP/t.conf" verify > "$T_TMP/v0" 2> "$T_TMP/e0"
t_is $? 0 "an untouched log verifies"
t_grep "$T_TMP/v0" "$N lines verified" "and says how many lines"

cp "$L" "$T_TMP/orig"
# run verify on a changed log; $1 the line verify must name
check() {
	"$TRADEDROP" audit -c "$T_TMP/t.conf" verify > "$T_TMP/v" 2> "$T_TMP/e"
	t_is $? 1 "$2: audit verify exits 1"
	t_grep "$T_TMP/e" "$L:$1: " "$2: names line $1"
	cp "$T_TMP/orig" "$L"
}
# an edit that keeps the line's length: d1.csv becomes d9.csv
L1=$(grep -n '"file":"d1.csv"' "$T_TMP/orig" | head -1 | cut -d: -f1)
sed "${L1}s/d1\.csv/d9.csv/" "$T_TMP/orig" > "$L"
check "$L1" "line $L1 edited"
t_grep "$T_TMP/e" "its hash does not match its content" "an edit is named as one"
L2=$(grep -n '"file":"d2.csv"' "$T_TMP/orig" | head -1 | cut -d: -f1)
sed "${L2}s/\"size\":[0-9]*/\"size\":99/" "$T_TMP/orig" > "$L"
check "$L2" "line $L2 edited"
sed '1s/"sha256":"[0-9a-f]/"sha256":"g/' "$T_TMP/orig" > "$L"
check 1 "the config's hash edited in line 1"
# a deletion
sed '2d' "$T_TMP/orig" > "$L"
check 2 "line 2 deleted"
# a reordering of lines 3 and 4
sed -n '1,2p' "$T_TMP/orig" > "$L"; sed -n '4p' "$T_TMP/orig" >> "$L"
sed -n '3p' "$T_TMP/orig" >> "$L"; sed -n '5,$p' "$T_TMP/orig" >> "$L"
check 3 "lines 3 and 4 swapped"
# the last line deleted: only state.db's head tells
sed '$d' "$T_TMP/orig" > "$L"
check "$N" "the last line deleted"
t_grep "$T_TMP/e" "the audit log was truncated" "a truncation is named as one"
# truncated in the middle of a line
head -c $(( $(wc -c < "$T_TMP/orig") - 40 )) "$T_TMP/orig" > "$L"
check "$N" "truncated inside the last line"
# a hash recomputed over an edited line still breaks the next line's prev
python3 - "$T_TMP/orig" "$L" <<'PY' 2>/dev/null || cp "$T_TMP/orig" "$L"
import hashlib, sys
lines = open(sys.argv[1]).read().splitlines()
l = lines[1]
i = l.index(',"prev":"')
body, prev = l[:i] + "}", l[i+9:i+73]
body = body.replace('"integration":"acme"', '"integration":"acmf"')
h = hashlib.sha256((prev + body).encode()).hexdigest()
lines[1] = body[:-1] + ',"prev":"%s","hash":"%s"}' % (prev, h)
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
PY
check 3 "line 2 edited and re-hashed"
t_grep "$T_TMP/e" "its prev is not the hash of line 2" "the next line's link is named"
# a NUL byte in line 2 is named as one
$PY -c "
import sys
l = open(sys.argv[1], 'rb').read().split(b'\n')
l[1] = l[1][:20] + b'\0' + l[1][21:]
open(sys.argv[2], 'wb').write(b'\n'.join(l))" "$T_TMP/orig" "$L"
check 2 "a NUL byte in line 2"
t_grep "$T_TMP/e" "a NUL byte in the line" "a NUL byte is named as one"
# a line appended after the head is no uncommitted step
{ cat "$T_TMP/orig"; echo '{"seq":99,"event":"forged"}'; } > "$L"
check $((N + 1)) "a line appended after the head"
t_grep "$T_TMP/e" "are not those of one step that has not committed yet" "appended lines are named as such"
# state.db without its head: every line is past it
mkdir "$T_TMP/db"; cp -p "$S"/state.db* "$T_TMP/db/"
sqlite3 "$S/state.db" "DELETE FROM audit_head" 2> /dev/null || $PY -c "
import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute('DELETE FROM audit_head'); c.commit()" "$S/state.db"
check 1 "state.db has lost its head"
rm -f "$S"/state.db*; cp -p "$T_TMP/db"/state.db* "$S/"
"$TRADEDROP" audit -c "$T_TMP/t.conf" verify > "$T_TMP/v" 2>&1
t_is $? 0 "the restored log verifies again"
"$TRADEDROP" audit -c "$T_TMP/t.conf" > /dev/null 2>&1
t_is $? 2 "audit without verify is a usage error"
# a crash inside a step that audits twice (transmission_received and
# transmission_verified, one transaction): both lines are on disk, the
# head in state.db is before them. The next run cuts them, does the
# step again, and the log verifies.
C=$T_TMP/crash
dl_conf c "$C" "file://$T_TMP/cout"
printf 'Store,UPC,Date,Units\n7,041000001239,2026-11-20,3\n' > "$C/landing/c.csv"
TD_FAILPOINT=audit_appended:3 "$TRADEDROP" once -c "$T_TMP/c.conf" 2> "$T_TMP/c1"
t_grep "$T_TMP/c1" "event=failpoint name=audit_appended" "killed after two uncommitted audit lines"
t_is "$(grep -c . "$C/audit.log")" 3 "config_loaded, received and verified are on disk"
"$TRADEDROP" once -c "$T_TMP/c.conf" 2> "$T_TMP/c2"
t_is $? 0 "the next run starts and delivers"
t_grep "$T_TMP/c2" "event=audit_tail_dropped file=$C/audit.log" "the uncommitted lines are cut, said"
t_is "$(grep -c '"event":"transmission_received"' "$C/audit.log")" 1 "received once in the log"
"$TRADEDROP" audit -c "$T_TMP/c.conf" verify > /dev/null 2> "$T_TMP/c3"
t_is $? 0 "and the log verifies"
# but a state.db older than its log (restored from a backup) is no
# crash: the lines of later steps past its head are refused, not cut
mkdir "$T_TMP/bak"
cp -p "$C"/state.db* "$T_TMP/bak/"
printf 'Store,UPC,Date,Units\n8,041000001239,2026-11-20,3\n' > "$C/landing/e.csv"
"$TRADEDROP" once -c "$T_TMP/c.conf" 2> /dev/null
t_is $? 0 "e delivered after the backup"
cp "$C/audit.log" "$T_TMP/clog"
rm -f "$C"/state.db*
cp -p "$T_TMP/bak"/state.db* "$C/"
"$TRADEDROP" once -c "$T_TMP/c.conf" 2> "$T_TMP/c4"
t_is $? 4 "the old state.db is refused"
t_grep "$T_TMP/c4" "past the head recorded in state.db that do not continue its chain" "and says why"
t_ok "$(cmp -s "$C/audit.log" "$T_TMP/clog"; echo $?)" "the log keeps every line"

# a step's audit lines are made durable before state.db commits it (one
# fdatasync for the step, store_precommit): when that fdatasync fails
# the step is not committed, and the next run takes the file again,
# received once, the chain whole
F=$T_TMP/fs
dl_conf f "$F" "file://$T_TMP/fout"
"$TRADEDROP" once -c "$T_TMP/f.conf" 2> /dev/null
printf 'Store,UPC,Date,Units\n4,041000001239,2026-11-20,3\n' > "$F/landing/g.csv"
if command -v strace > /dev/null && strace -o /dev/null true 2> /dev/null; then
	ASAN_OPTIONS=$T_ASAN_NOLEAKS strace -f -qq -o /dev/null \
	    -P "$F/audit.log" -e trace=fdatasync -e inject=fdatasync:error=EIO \
	    "$TRADEDROP" once -c "$T_TMP/f.conf" 2> "$T_TMP/f1"
	t_is $? 4 "audit.log's fdatasync failing (strace inject EIO): once exits 4"
	t_grep "$T_TMP/f1" "event=audit_sync_failed path=$F/audit.log error=\"Input/output error\"" \
	    "the failed sync is logged with the log's path"
	t_is "$(find "$T_TMP/fout" -name manifest.json 2> /dev/null | wc -l)" 0 \
	    "nothing is delivered"
	"$TRADEDROP" once -c "$T_TMP/f.conf" 2> "$T_TMP/f2"
	t_is $? 0 "the next run takes g.csv and delivers it"
	t_grep "$T_TMP/f2" "event=audit_tail_dropped file=$F/audit.log" \
	    "the line of the step not committed is cut, said"
	t_is "$(grep -c '"event":"transmission_received".*"file":"g.csv"' "$F/audit.log")" 1 \
	    "g.csv received once in the log"
	"$TRADEDROP" audit -c "$T_TMP/f.conf" verify > /dev/null 2>&1
	t_is $? 0 "and the log verifies"
else
	for _i in 1 2 3 4 5 6 7; do
		T_N=$((T_N + 1))
		echo "ok $T_N # SKIP strace missing: a failed audit sync not checked"
	done
fi
t_done
