#!/bin/sh
# mixed-utf8.sh - encoding = auto and a UTF-8 drop with a stray byte of
# another encoding (a lone 0xE9, Windows-1252 "é", pasted into a UTF-8
# export), through `tradedrop once` to a file:// receiver: the other
# rows arrive with their "é" as UTF-8, the row with the stray byte is in
# dlq/ as invalid_utf8 with its byte offset, the byte in hex and its raw
# bytes (raw_base64), and event=decode_mixed is logged once; the same
# with the stray byte before any UTF-8 (read as Windows-1252 first, then
# again as mixed: nothing delivered twice); Windows-1252 without a UTF-8
# sequence decodes as before, byte for byte as encoding = windows-1252
# does, also when a capital with an accent followed by a symbol makes a
# valid UTF-8 pair by chance (NESTLÉ®); a mixed file over
# max_reject_ratio is quarantined; an invalid sequence of two or three
# bytes (one cut by the end of the file) is given whole; a header with a
# stray byte is refused, the log naming the first UTF-8 sequence even
# past where the reading stopped; a mixed X12 is refused whole, its
# first UTF-8 sequence named also when the stray byte comes first; a
# mixed file
# of 1.5 MB (several read blocks) gives the same batches and dead
# letters on one core and on all of them.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"

# conf NAME STATE [INTEGRATION-LINE...]
conf() {
	_n=$1 _s=$2; shift 2
	mkdir -p "$_s/landing"
	{
		printf '[integration]\nname = acme\nstate_dir = %s\n' "$_s"
		for _l in "$@"; do printf '%s\n' "$_l"; done
		printf '[map]\nstore_id = column "Store"\n'
		printf 'retailer_item_id = column "Item"\n'
		printf 'gtin = column "UPC" gtin\n'
		printf 'txn_date = column "Date" date "%%Y-%%m-%%d"\n'
		printf 'quantity = column "Units" decimal\n'
		printf 'key = store_id, gtin, txn_date, retailer_item_id\n'
		printf '[output]\nurl = file://%s/out\n' "$_s"
	} > "$T_TMP/$_n.conf"
}
S=$T_TMP/s
conf t "$S"
W=$T_TMP/w
mkdir -p "$W"
$PY - "$W" <<'PY'
import sys
w = sys.argv[1]
H = b'Store,UPC,Date,Units,Item\n'
def row(i, item):
    return b'%d,041000001239,2026-11-28,%d,' % (i, i) + item + b'\n'
# (each file its own store numbers: Tier 4 sees no duplicate)
def good(a, b, s):
    return [row(i + s, b'Caf\xc3\xa9 n\xc3\xa9e %d' % i) for i in range(a, b)]
bad = row(99, b'CAF\xe9 BLEND')
g = good(1, 41, 0)
open(w + '/u8.csv', 'wb').write(H + b''.join(g[:20]) + bad + b''.join(g[20:]))
open(w + '/late.csv', 'wb').write(H + bad + b''.join(good(1, 41, 100)))
open(w + '/ratio.csv', 'wb').write(H + b''.join(good(1, 6, 200)) + bad)
# invalid sequences of two and three bytes (a lead byte and the
# continuation bytes valid after it), one cut by the end of the file
open(w + '/cut.csv', 'wb').write(H + b''.join(good(1, 41, 300)) +
    row(98, b'CAF\xe2\x82 BLEND') + row(99, b'CAF\xf0\x9f\x98')[:-1])
# Windows-1252: no byte pair of it is a UTF-8 sequence
open(w + '/cp.csv', 'wb').write(H + row(1, b'CAF\xc9 \x93BLEND\x94 \x80') +
    row(2, b'Stra\xdfe \xe9t\xe9'))
# Windows-1252 whose capitals with an accent are followed by a symbol:
# C9 AE, C9 92 and C9 A0 are valid UTF-8 (U+026E, U+0252, U+0260), and
# no evidence that the document is UTF-8
open(w + '/cpacc.csv', 'wb').write(H + row(1, b'NESTL\xc9\xae TOLL HOUSE') +
    row(2, b'JOS\xc9\x92S') + row(3, b'CAF\xc9\xa0BLEND') +
    row(4, b'caf\xe9 cr\xe8me'))
# 30000 rows, a stray byte in every 1000th, and one that is the last
# byte of the first 1 MiB read block (spaces before it put it there)
rows = [row(i, (b'Caf\xe9 %d' if i % 1000 == 0 else b'Caf\xc3\xa9 %d') % i)
        for i in range(1, 30001)]
T, at = (1 << 20) - 1, len(H)
for j, r in enumerate(rows):
    if at + len(r) > T - 40:
        break
    at += len(r)
pad = T - (at + r.index(b'Caf') + 3)
rows[j] = r.replace(b'Caf\xc3\xa9', b' ' * pad + b'Caf\xe9x')
big = H + b''.join(rows)
# a header with a stray byte, its first UTF-8 sequence past the first
# read block (1 MiB): read as Windows-1252 first, then as mixed
open(w + '/hdrfar.csv', 'wb').write(b'Store,UPC,Date,Units,Item,Cat\xe9gorie\n' +
    b''.join(row(i, b'Cafe') for i in range(1, 30001)) + row(1, b'Caf\xc3\xa9'))
# Cyrillic and Greek UTF-8, whose letters are all two-byte sequences
# led by D0/D1 and CE/CF, a stray byte first in one and last in the
# other: two letters side by side are the evidence
cy = [row(i + 400, 'Молоко %d'.encode() % i) for i in range(1, 41)]
open(w + '/cyr.csv', 'wb').write(H + row(99, b'CAF\xe9 BLEND') + b''.join(cy))
gr = [row(i + 500, 'Γάλα %d'.encode() % i) for i in range(1, 41)]
open(w + '/greek.csv', 'wb').write(H + b''.join(gr) + row(99, b'CAF\xe9 BLEND'))
assert big[T] == 0xe9 and big[T + 1] == ord('x')
open(w + '/big.csv', 'wb').write(big)
PY
for f in u8 late ratio cut hdrfar cp cpacc cyr greek; do cp "$W/$f.csv" "$S/landing/"; done
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/once.log"
t_is $? 1 "once exits 1 (rows dead-lettered, a file quarantined)"

tid() { sha256sum "$W/$1" | cut -c1-64; }
# records NAME: store and item of each record delivered, one a line
records() {
	for f in "$S/out/$(tid "$1")"/batch-*.gz; do [ -f "$f" ] && gzip -dc "$f"; done |
	    $PY -c "import json,sys
for l in sys.stdin: r = json.loads(l); print(r['store_id'], r['retailer_item_id'])"
}
# dead NAME: tier, code, line, message, raw and its raw_base64 decoded
dead() {
	$PY -c "import base64,json,sys
for l in open('$S/dlq/$(tid "$1").ndjson'):
    d = json.loads(l)
    print(d['tier'], d['code'], d['source']['line'], d['message'], d['raw'],
          base64.b64decode(d.get('raw_base64') or ''))"
}
# want N: the records of good rows 1..40 with store numbers from N + 1
want() { $PY -c "
for i in range(1, 41): print(i + $1, 'Café née %d' % i)"; }

# 1. UTF-8, one stray byte after the UTF-8 rows
t_is "$(records u8.csv)" "$(want 0)" "u8.csv: the 40 UTF-8 rows delivered, é as UTF-8"
t_is "$(dead u8.csv)" "3 invalid_utf8 22 the row is not UTF-8, as the rest of the document is: byte 912 of the document is 0xE9 None b'99,041000001239,2026-11-28,99,CAF\\xe9 BLEND'" \
	"u8.csv: the row with 0xE9 in dlq/: invalid_utf8, its offset and byte, its raw bytes"
t_grep "$T_TMP/once.log" "level=warn event=decode_mixed file=u8.csv member=\"\" first_invalid=912 first_multibyte=57 invalid=1" \
	"u8.csv: event=decode_mixed with the first invalid byte and multi-byte sequence"
t_is "$(grep -c 'event=decode_mixed file=u8.csv' "$T_TMP/once.log")" 1 "u8.csv: logged once"
t_is "$(grep -c 'event=decode_retry file=u8.csv' "$T_TMP/once.log")" 0 "u8.csv: read once"
t_is "$($PY -c "import json; m = json.load(open('$S/out/$(tid u8.csv)/manifest.json')); print(m['encoding'], m['counts']['delivered'], m['counts']['dlq'])")" \
	"utf-8 40 1" "u8.csv: the manifest says utf-8, 40 delivered, 1 dead-lettered"

# 2. the stray byte first: Windows-1252, then mixed
t_is "$(records late.csv)" "$(want 100)" "late.csv: the 40 UTF-8 rows delivered once, é as UTF-8"
t_is "$(dead late.csv)" "3 invalid_utf8 2 the row is not UTF-8, as the rest of the document is: byte 59 of the document is 0xE9 None b'99,041000001239,2026-11-28,99,CAF\\xe9 BLEND'" \
	"late.csv: the stray row in dlq/, line 2, byte 59"
t_grep "$T_TMP/once.log" "event=decode_retry file=late.csv document=1 encoding=windows-1252" \
	"late.csv: read again as windows-1252"
t_grep "$T_TMP/once.log" "event=decode_retry file=late.csv document=1 encoding=utf-8 mixed=yes" \
	"late.csv: then again as mixed UTF-8"
t_grep "$T_TMP/once.log" "event=decode_mixed file=late.csv member=\"\" first_invalid=59 first_multibyte=102 invalid=1" \
	"late.csv: event=decode_mixed, first invalid byte before the first multi-byte sequence"
t_is "$(ls "$S/out/$(tid late.csv)" | grep -c batch-)" 1 "late.csv: one batch, none twice"

# 2b. Cyrillic after the stray byte, Greek before it: mixed, not read as
# Windows-1252 (every letter would have arrived as two: "Ð\u009cÐ¾")
t_is "$(records cyr.csv)" "$($PY -c "
for i in range(1, 41): print(i + 400, 'Молоко %d' % i)")" \
	"cyr.csv: the 40 Cyrillic UTF-8 rows delivered as UTF-8, the stray byte before them"
t_is "$(dead cyr.csv | cut -d' ' -f1-3)" "3 invalid_utf8 2" "cyr.csv: the stray row in dlq/"
t_grep "$T_TMP/once.log" "event=decode_mixed file=cyr.csv member=\"\" first_invalid=59 first_multibyte=99 invalid=1" \
	"cyr.csv: the first multi-byte sequence is the first of two Cyrillic letters"
t_is "$(records greek.csv)" "$($PY -c "
for i in range(1, 41): print(i + 500, 'Γάλα %d' % i)")" \
	"greek.csv: the 40 Greek UTF-8 rows delivered as UTF-8, the stray byte after them"
t_is "$(dead greek.csv | cut -d' ' -f1-3)" "3 invalid_utf8 42" "greek.csv: the stray row in dlq/"

# 3. over max_reject_ratio: quarantined
t_is "$($PY -c "import json; r = json.load(open('$S/quarantine/$(tid ratio.csv)/reason.json')); print(r['tier'], r['code'], r['message'])")" \
	"2 reject_ratio_exceeded 1 of 6 rows rejected, more than max_reject_ratio 0.05" \
	"ratio.csv: 1 row of 6 invalid_utf8 is over max_reject_ratio: quarantined"
t_is "$(ls "$S/out/$(tid ratio.csv)" 2>/dev/null)" "rejections.ndjson.gz" "ratio.csv: nothing of it delivered"

# 3b. an invalid sequence of several bytes: each of them in hex
t_is "$(records cut.csv)" "$(want 300)" "cut.csv: the 40 UTF-8 rows delivered"
t_is "$(dead cut.csv | cut -d' ' -f1-3,16-)" "3 invalid_utf8 42 bytes 1890-1891 of the document are 0xE2 0x82 None b'98,041000001239,2026-11-28,98,CAF\\xe2\\x82 BLEND'
3 invalid_utf8 43 bytes 1932-1934 of the document are 0xF0 0x9F 0x98 None b'99,041000001239,2026-11-28,99,CAF\\xf0\\x9f\\x98'" \
	"cut.csv: a two-byte and a three-byte invalid sequence (cut by the end) in dlq/ with all their bytes"

# 3c. the header not UTF-8 in a mixed document: refused; the log names
# the first multi-byte sequence, which the reading as Windows-1252 found
t_is "$($PY -c "import json; r = json.load(open('$S/quarantine/$(tid hdrfar.csv)/reason.json')); print(r['tier'], r['code'], r['message'])")" \
	"2 decode_invalid_utf8 line 1: the header row is not UTF-8, as the rest of the document is: byte 29 of the document is 0xE9" \
	"hdrfar.csv: a header with a stray byte refuses the file"
t_grep "$T_TMP/once.log" "event=decode_mixed file=hdrfar.csv member=\"\" first_invalid=29 first_multibyte=$($PY -c "
print(open('$W/hdrfar.csv', 'rb').read().index(b'\xc3\xa9'))") invalid=1" \
	"hdrfar.csv: event=decode_mixed gives the first multi-byte sequence, past where the reading stopped"

# 4. Windows-1252 without a UTF-8 sequence: as before, byte for byte
t_is "$(records cp.csv)" "1 CAFÉ “BLEND” €
2 Straße été" "cp.csv: Windows-1252 decoded"
t_is "$($PY -c "import json; print(json.load(open('$S/out/$(tid cp.csv)/manifest.json'))['encoding'])")" \
	"windows-1252" "cp.csv: the manifest says windows-1252"
NBSP=$(printf '\302\240')
t_is "$(records cpacc.csv) $($PY -c "import json; m = json.load(open('$S/out/$(tid cpacc.csv)/manifest.json')); print(m['encoding'], m['counts']['dlq'])")" \
	"1 NESTLÉ® TOLL HOUSE
2 JOSÉ’S
3 CAFÉ${NBSP}BLEND
4 café crème windows-1252 0" \
	"cpacc.csv: É followed by ®, ’ or a no-break space (valid UTF-8 by chance) leaves it Windows-1252"
conf cp "$T_TMP/cp" "[decode]" "encoding = windows-1252"
"$TRADEDROP" try -c "$T_TMP/t.conf" "$W/cp.csv" > "$T_TMP/try-auto" 2> /dev/null
"$TRADEDROP" try -c "$T_TMP/cp.conf" "$W/cp.csv" > "$T_TMP/try-cp" 2> /dev/null
t_ok "$([ -s "$T_TMP/try-auto" ] && cmp -s "$T_TMP/try-auto" "$T_TMP/try-cp"; echo $?)" \
	"cp.csv: auto gives the records encoding = windows-1252 gives, byte for byte"
for f in "$srcdir"/../shared/corpus/encoding/chardet-tests/_ude_1.txt \
    "$srcdir"/tests/data/encoding/charset-normalizer/sample-french-1.txt; do
	[ -f "$f" ] || { echo "# SKIP $f not present"; continue; }
	# each line a value: Windows-1252 text as a one-column CSV
	$PY -c "import sys
t = open(sys.argv[1], 'rb').read().replace(b'\"', b'').replace(b',', b' ')
out = b'Store,UPC,Date,Units,Item\n'
for i, l in enumerate(t.splitlines()):
    out += b'%d,041000001239,2026-11-28,1,\"' % (i + 1) + l + b'\"\n'
open(sys.argv[2], 'wb').write(out)" "$f" "$T_TMP/corpus.csv"
	"$TRADEDROP" try -c "$T_TMP/t.conf" "$T_TMP/corpus.csv" > "$T_TMP/try-auto" 2> /dev/null
	"$TRADEDROP" try -c "$T_TMP/cp.conf" "$T_TMP/corpus.csv" > "$T_TMP/try-cp" 2> /dev/null
	t_ok "$([ -s "$T_TMP/try-auto" ] && cmp -s "$T_TMP/try-auto" "$T_TMP/try-cp"; echo $?)" \
		"$(basename "$f") (Windows-1252): auto gives what encoding = windows-1252 gives"
done

# 5. X12: a segment cannot be dropped alone (an N1 names the store of the
# records after it): a mixed 852 is refused whole
X=$T_TMP/x
mkdir -p "$X/landing"
printf '[integration]\nname = acme\nstate_dir = %s\n[parse]\nformat = x12\n[output]\nurl = file://%s/out\n' \
    "$X" "$X" > "$T_TMP/x.conf"
$PY -c "import sys
d = open(sys.argv[1], 'rb').read()
d = d.replace(b'ACME MART', b'ACM\xc3\x89 MART').replace(b'PEN-01', b'P\xc9N-01')
open(sys.argv[2], 'wb').write(d)
# the stray byte first, in the ISA segment: read as Windows-1252 first
d = open(sys.argv[1], 'rb').read().replace(b'RETAILER       *ZZ',
    b'RETAIL\xc9R       *ZZ', 1).replace(b'ACME MART', b'ACM\xc3\x89 MART')
open(sys.argv[3], 'wb').write(d)" "$srcdir/tests/data/x12/sdq-4010.x12" \
    "$X/landing/m.x12" "$X/landing/isa.x12"
"$TRADEDROP" once -c "$T_TMP/x.conf" 2> "$T_TMP/x.log"
t_is "$($PY -c "import json; r = json.load(open('$X/quarantine/$(sha256sum "$X"/archive/*/*/*/raw/m.x12 | cut -c1-64)/reason.json')); print(r['tier'], r['code'], r['message'].split(' (')[0])")" \
	"2 decode_mixed byte 375 is not UTF-8 in a document that is UTF-8 elsewhere" \
	"a mixed X12 document: Tier 2 decode_mixed, the offset of its invalid byte"
t_is "$($PY -c "import json; r = json.load(open('$X/quarantine/$(sha256sum "$X"/archive/*/*/*/raw/isa.x12 | cut -c1-64)/reason.json')); print(r['tier'], r['code'], r['message'].split(': ')[0])")" \
	"2 decode_mixed byte 41 is not UTF-8 in a document that is UTF-8 elsewhere (a multi-byte sequence at byte 204)" \
	"a mixed X12 document, the stray byte first (in ISA): decode_mixed names the multi-byte sequence after it"

# 6. 1.5 MB, several read blocks: the same on one core and on all
if command -v taskset > /dev/null; then
	for run in one all; do
		conf $run "$T_TMP/$run"
		cp "$W/big.csv" "$T_TMP/$run/landing/"
		if [ $run = one ]; then
			taskset -c 0 "$TRADEDROP" once -c "$T_TMP/$run.conf" 2> "$T_TMP/$run.log"
		else
			"$TRADEDROP" once -c "$T_TMP/$run.conf" 2> "$T_TMP/$run.log"
		fi
	done
	B=$(tid big.csv)
	t_is "$(gzip -dc "$T_TMP/one/out/$B"/batch-*.gz | wc -l | tr -d ' ') $(wc -l < "$T_TMP/one/dlq/$B.ndjson" | tr -d ' ')" \
		"29969 31" "big.csv: 29969 rows delivered, 31 with a stray byte dead-lettered"
	t_grep "$T_TMP/one/dlq/$B.ndjson" "byte $($PY -c "
b = open('$W/big.csv', 'rb').read(); print(b.index(b'\xe9x'))") of the document is 0xE9" \
		"big.csv: the byte at the end of the first read block is found"
	same() {	# the dead letters and every batch of one run are the other's
		cmp -s "$T_TMP/one/dlq/$B.ndjson" "$T_TMP/all/dlq/$B.ndjson" || return 1
		for f in "$T_TMP/one/out/$B"/batch-*.gz; do
			cmp -s "$f" "$T_TMP/all/out/$B/${f##*/}" || return 1
		done
	}
	same
	t_ok $? "big.csv: one core and all cores give the same batches and dead letters"
else
	echo "# SKIP taskset not installed"
fi
t_done
