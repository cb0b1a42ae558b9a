#!/bin/sh
# content.sh - what a drop holds, through `tradedrop once` to a file://
# receiver: gzip files damaged after their first member or followed by
# garbage are quarantined whole (nothing of them delivered) while a valid
# multi-member gzip is delivered whole, in .gz, .tar.gz and inside a zip;
# two members of one name (tar -r) give rows with distinct record_ids.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
S=$T_TMP/state L=$T_TMP/state/landing
mkdir -p "$L" "$T_TMP/w"
# conf FILE [MAP-LINE...]: the integration, with these [map] lines
conf() {
	_f=$1; shift
	printf '[integration]\nname = acme\nstate_dir = %s\n[output]\nurl = file://%s/out\n[map]\n' \
	    "$S" "$T_TMP" > "$_f"
	for _l in "$@"; do printf '%s\n' "$_l" >> "$_f"; done
}
MAP1='store_id = column "Store"'
MAP2='retailer_item_id = column "Item"'
MAP3='gtin = column "UPC" gtin'
MAP4='txn_date = column "Date" date "%Y-%m-%d"'
MAP5='quantity = column "Units" decimal'
# the drops repeat stores, items and days: the Item column, which tells
# them apart, is part of the key, so that Tier 4 sees no duplicate
MAP6='key = store_id, gtin, txn_date, retailer_item_id'
conf "$T_TMP/t.conf" "$MAP1" "$MAP2" "$MAP3" "$MAP4" "$MAP5" "$MAP6"

tid() { sha256sum "$S"/archive/*/*/*/raw/"$1" | cut -c1-64; }
reason() { $PY -c "import json; r=json.load(open('$S/quarantine/$(tid "$1")/reason.json')); print(r['tier'], r['code'])" 2>/dev/null; }
message() { $PY -c "import json; print(json.load(open('$S/quarantine/$(tid "$1")/reason.json'))['message'])" 2>/dev/null; }
delivered() {	# delivered NAME: the number of records of NAME that were delivered
	for f in "$T_TMP/out/$(tid "$1")"/batch-*.gz; do [ -f "$f" ] && gzip -dc "$f"; done | wc -l | tr -d ' '
}
nothing() {	# nothing NAME: only the rejection report reached the receiver
	t_is "$(ls "$T_TMP/out/$(tid "$1")" 2>/dev/null)" "rejections.ndjson.gz" \
	    "nothing of $1 delivered, only its rejection"
}

# --- gzip: 500 rows, the header and row 1 in member 1, 499 in member 2
$PY - "$T_TMP/w" <<'PY'
import gzip, sys, zipfile, io, tarfile
w = sys.argv[1]
def rows(a, b, tag):
    return ''.join('%d,041000001239,2026-11-28,%d,%s%d\r\n' % (i, i, tag, i)
                   for i in range(a, b)).encode()
def two(tag):
    return (gzip.compress(b'Store,UPC,Date,Units,Item\r\n' + rows(1, 2, tag)),
            gzip.compress(rows(2, 501, tag)))
def flip(d, i):
    d = bytearray(d); d[i] ^= 0x55; return bytes(d)
def put(name, data):
    open(w + '/' + name, 'wb').write(data)
a, b = two('multi'); put('multi.csv.gz', a + b)
a, b = two('head'); put('bad2-header.csv.gz', a + flip(b, 0))
a, b = two('data'); put('bad2-data.csv.gz', a + flip(b, len(b) // 2))
a, b = two('crc'); put('bad2-crc.csv.gz', a + flip(b, len(b) - 6))
a, b = two('cut'); put('bad2-cut.csv.gz', a + b[:len(b) // 2])
a, b = two('tail'); put('trailing.csv.gz', a + b + b'trailing garbage\n')
a, b = two('zero'); put('zeros.csv.gz', a + b + bytes(1024))
# a .tar.gz: a tar of one CSV in two gzip members, then garbage
def tar(name, data):
    t = io.BytesIO(); f = tarfile.open(fileobj=t, mode='w')
    i = tarfile.TarInfo(name); i.size = len(data); f.addfile(i, io.BytesIO(data))
    f.close(); return t.getvalue()
t = tar('in.csv', b'Store,UPC,Date,Units,Item\r\n' + rows(1, 501, 'tar'))
put('multi.tar.gz', gzip.compress(t[:5000]) + gzip.compress(t[5000:]))
put('trailing.tar.gz', gzip.compress(t[:5000]) + gzip.compress(t[5000:]) + b'x' * 40)
# the same inside a zip
def zipped(name, inner):
    z = io.BytesIO(); f = zipfile.ZipFile(z, 'w'); f.writestr(name, inner); f.close()
    return z.getvalue()
a, b = two('nest'); put('nested-ok.zip', zipped('in.csv.gz', a + b))
a, b = two('nestbad'); put('nested-bad2.zip', zipped('in.csv.gz', a + flip(b, 0)))
put('nested-tgz.zip', zipped('in.tar.gz', gzip.compress(t) + b'\0garbage'))
PY
for f in "$T_TMP"/w/*.gz "$T_TMP"/w/*.zip; do cp "$f" "$L/"; done
# --- rows: 100 good ones, and bad ones among them
$PY - "$L/rows.csv" <<'PY'
import sys
bad = {10: '10,00000000,2026-11-28,1,zero-gtin\r\n',
       20: '20,041000001239,2026-11-28,5.,point-only\r\n',
       30: '30,041000001239,2026-11-28,1,nul\0byte\r\n',
       40: '40,041000001239,2026-11-28,1,%s\r\n' % ('x' * 70000),
       50: '50,041000001239,2026-11-28,1,bom\ufeffinside\r\n',
       60: '\ufeff60,041000001239,2026-11-28,1,bom-first\r\n'}
with open(sys.argv[1], 'wb') as f:
    f.write(b'Store,UPC,Date,Units,Item\r\n')
    for i in range(1, 101):
        f.write((bad.get(i) or '%d,041000001239,2026-11-28,1,ok\r\n' % i).encode())
PY
# --- a header that has a mapped column twice; one with an unmapped one twice
printf 'Store,UPC,Date,Units,Item,UPC\r\n1,041000001239,2026-11-28,1,x,00000000\r\n' > "$L/dup.csv"
printf 'Store,UPC,Date,Units,Item,Note,Note\r\n1,041000001239,2026-11-28,1,x,a,b\r\n' > "$L/dup-unmapped.csv"
# --- a gzip of NUL bytes; a CSV after 4096 NUL bytes
head -c 10240 /dev/zero | gzip -c > "$L/nul.csv.gz"
{ head -c 4096 /dev/zero; printf 'Store,UPC,Date,Units,Item\r\n1,041000001239,2026-11-28,1,x\r\n'; } > "$L/nul-prefix.csv"
# --- UTF-16LE without a byte order mark
$PY -c "open('$L/utf16.csv', 'wb').write('Store,UPC,Date,Units,Item\r\n1,041000001239,2026-11-28,1,x\r\n'.encode('utf-16-le'))"
# --- a tar with a member appended under a name already there (tar -r)
mkdir -p "$T_TMP/r1/d" "$T_TMP/r2/d"
printf 'Store,UPC,Date,Units,Item\n1,041000001239,2026-11-28,1,first\n' > "$T_TMP/r1/d/c.csv"
printf 'Store,UPC,Date,Units,Item\n2,041000001239,2026-11-28,2,second\n' > "$T_TMP/r2/d/c.csv"
tar -C "$T_TMP/r1" -cf "$T_TMP/w/appended.tar" d/c.csv
tar -C "$T_TMP/r2" -rf "$T_TMP/w/appended.tar" d/c.csv
cp "$T_TMP/w/appended.tar" "$L/"

"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log"
t_is $? 1 "once exits 1: damaged gzip files quarantined"

t_is "$(delivered multi.csv.gz)" 500 "a valid two-member .csv.gz: all 500 rows delivered"
t_is "$(delivered multi.tar.gz)" 500 "a valid two-member .tar.gz: all 500 rows delivered"
t_is "$(delivered nested-ok.zip)" 500 "a valid two-member .csv.gz in a zip: all 500 rows delivered"
for f in bad2-header.csv.gz bad2-data.csv.gz bad2-crc.csv.gz bad2-cut.csv.gz \
    trailing.csv.gz zeros.csv.gz trailing.tar.gz nested-bad2.zip nested-tgz.zip; do
	t_is "$(reason $f)" "2 archive_corrupt" "$f: quarantined as archive_corrupt"
	nothing $f
done
t_grep "$S/quarantine/$(tid bad2-header.csv.gz)/reason.json" "after 1 member) is not a gzip member" \
    "a damaged second member's header: the reason says where the gzip data stops"
t_grep "$S/quarantine/$(tid bad2-crc.csv.gz)/reason.json" "gzip member 2" \
    "a bad CRC in member 2: the reason names the member"
t_grep "$S/quarantine/$(tid nested-bad2.zip)/reason.json" "in.csv.gz: " \
    "inside a zip: the reason names the member"

# rows.csv: what each bad row became, by line
t_is "$($PY -c "
import json
print(' '.join('%d:%s' % (r['source']['line'], r['code']) for r in map(json.loads, open('$S/dlq/$(tid rows.csv).ndjson'))))")" \
    "11:gtin_zero 21:bad_decimal 31:csv_nul_byte 41:csv_field_too_long" \
    "rows: an all-zero GTIN is gtin_zero, '5.' is bad_decimal, a NUL byte is csv_nul_byte"
t_is "$(delivered rows.csv)" 96 "rows: the 96 good rows delivered"
t_is "$($PY -c "
import json
for r in map(json.loads, open('$S/dlq/$(tid rows.csv).ndjson')):
    if r['code'] == 'csv_field_too_long': print(r['message'])")" \
    'the row is not valid CSV (csv_field_too_long): field 5 ("Item") is longer than max_field (65536 bytes)' \
    "rows: csv_field_too_long names the column and the limit"
t_is "$(for f in "$T_TMP/out/$(tid rows.csv)"/batch-*.gz; do gzip -dc "$f"; done | $PY -c "
import json, sys
print(' '.join('%s:%s' % (r['store_id'], r['retailer_item_id']) for r in map(json.loads, sys.stdin) if r['store_id'] in ('50', '60')))")" \
    "50:bominside 60:bom-first" "rows: a byte order mark inside the file is dropped from the values"

# dup.csv: which column is ambiguous, and where
t_is "$(reason dup.csv)" "2 schema_ambiguous_column" "a mapped column twice in the header: schema_ambiguous_column"
t_is "$(message dup.csv)" 'the header on line 1 has a mapped column more than once: "UPC" (columns 2 and 6)' \
    "the message names the column and both positions"
nothing dup.csv
t_is "$(delivered dup-unmapped.csv)" 1 "an unmapped column twice: delivered"

# NULs: said for what they are, not "holds no document" alone
t_is "$(reason nul.csv.gz)" "2 empty_file" "a gzip of NUL bytes: empty_file"
t_is "$(message nul.csv.gz)" "the file holds no document: it is 10240 NUL bytes once decompressed, which read as an empty tar archive" \
    "a gzip of NUL bytes: the message says so"
t_is "$(reason nul-prefix.csv)" "2 nul_prefix" "a CSV after NUL bytes: nul_prefix"
t_is "$(message nul-prefix.csv)" "nul-prefix.csv begins with 4096 NUL bytes, then other data: a damaged or zero-filled file, neither an archive nor text" \
    "a CSV after NUL bytes: the message says so"

# utf16.csv: the reason says what the text looks like and what to set
t_is "$(reason utf16.csv)" "2 decode_utf16_no_bom" "UTF-16 without a BOM: decode_utf16_no_bom"
t_is "$(message utf16.csv)" "the text looks like UTF-16LE without a byte order mark (a NUL byte after most characters); set [decode] encoding = utf-16" \
    "UTF-16 without a BOM: the message says how to read it"
conf "$T_TMP/u16.conf" "$MAP1" "$MAP2" "$MAP3" "$MAP4" "$MAP5" "[decode]" "encoding = utf-16"
mkdir -p "$T_TMP/u16/landing"
$PY -c "open('$T_TMP/u16/landing/utf16.csv', 'wb').write('Store,UPC,Date,Units,Item\r\n1,041000001239,2026-11-28,1,\u00e9t\u00e9\r\n'.encode('utf-16-le'))"
sed -i "s|^state_dir = .*|state_dir = $T_TMP/u16|; s|^url = .*|url = file://$T_TMP/u16/out|" "$T_TMP/u16.conf"
"$TRADEDROP" once -c "$T_TMP/u16.conf" 2> /dev/null
t_is "$?" 0 "with encoding = utf-16 as the message says, once exits 0"
t_is "$(gzip -dc "$T_TMP"/u16/out/*/batch-*.gz | $PY -c "import json,sys; print(json.loads(sys.stdin.readline())['retailer_item_id'])")" \
    "été" "with encoding = utf-16 the file is read"

# try: the records of a file the whole of which would be quarantined are
# not shown; the verdict is, after the rejections that led to it
"$TRADEDROP" try -c "$T_TMP/t.conf" "$T_TMP/w/multi.csv.gz" > "$T_TMP/try.out" 2> "$T_TMP/try.err"
t_is "$? $(wc -l < "$T_TMP/try.out" | tr -d ' ') $(grep -c 'tier' "$T_TMP/try.err")" "0 500 0" \
    "try of a whole multi-member gzip: exit 0, its 500 records, no rejection on stderr"
t_is "$(cut -d: -f2 "$T_TMP/try.err")" " accepted
 summary" "try: stderr holds only the verdict (accepted) and the summary"
"$TRADEDROP" try -c "$T_TMP/t.conf" "$T_TMP/w/bad2-header.csv.gz" > "$T_TMP/try.out" 2> "$T_TMP/try.err"
t_is "$? $(wc -c < "$T_TMP/try.out" | tr -d ' ')" "1 0" \
    "try of a gzip with a damaged second member: exit 1, no record on stdout (its first member's row is not shown)"
t_grep "$T_TMP/try.err" "$T_TMP/w/bad2-header.csv.gz: tier 2 archive_corrupt: " "try: the tier 2 verdict, code and message"
t_grep "$T_TMP/try.err" "bad2-header.csv.gz: the whole file would be quarantined: none of its records is shown, none would be delivered" \
    "try: says the whole file would be quarantined"
$PY -c "
import sys
sys.stdout.write('Store,UPC,Date,Units,Item\n1,041000001239,2026-11-28,1,ok\n2,000000000000,2026-11-28,1,zero\n')" > "$T_TMP/ratio.csv"
"$TRADEDROP" try -c "$T_TMP/t.conf" "$T_TMP/ratio.csv" > "$T_TMP/try.out" 2> "$T_TMP/try.err"
t_is "$? $(wc -c < "$T_TMP/try.out" | tr -d ' ')" "1 0" "try of a file over max_reject_ratio: exit 1, no record shown"
t_is "$(cut -d: -f2- "$T_TMP/try.err" | head -2)" "3: tier 3 gtin_zero: gtin (column \"UPC\"): \"000000000000\" is not a valid GTIN (gtin_zero)
 tier 2 reject_ratio_exceeded: 1 of 2 rows rejected, more than max_reject_ratio 0.05" \
    "try: the rejected row, then the verdict once would give"

# tar -r: both rows delivered, each with its own record_id, recomputed:
# the first 16 bytes of the SHA-256 of integration LF transmission_id LF member [NUL occurrence] LF
# ordinal, the occurrence only for a name met before in the file
T=$(tid appended.tar)
for f in "$T_TMP/out/$T"/batch-*.gz; do gzip -dc "$f"; done > "$T_TMP/appended.ndjson"
$PY - "$T" "$T_TMP/appended.ndjson" > "$T_TMP/appended.check" 2>&1 <<'PY'
import hashlib, json, sys
tid, recs = sys.argv[1], [json.loads(l) for l in open(sys.argv[2])]
assert [(r['source']['member'], r['retailer_item_id']) for r in recs] == \
    [('d/c.csv', 'first'), ('d/c.csv', 'second')], recs
want = [hashlib.sha256(b'acme\n' + tid.encode() + b'\nd/c.csv\n1').hexdigest()[:32],
        hashlib.sha256(b'acme\n' + tid.encode() + b'\nd/c.csv\x002\n1').hexdigest()[:32]]
assert [r['record_id'] for r in recs] == want, ([r['record_id'] for r in recs], want)
PY
t_is "$?" 0 "tar -r: both d/c.csv rows delivered, with distinct, recomputed record_ids"
sed 's/^/# /' "$T_TMP/appended.check"
t_done
