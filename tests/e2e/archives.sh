#!/bin/sh
# archives.sh - zipped, tarred, gzipped, zstd'd and nested drops delivered
# with the right source.member; Windows-1252, UTF-16 and BOM files decoded
# to UTF-8; bombs, traversal and corrupt archives quarantined with their
# codes in bounded time and memory, nothing written outside state_dir.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"

S=$T_TMP/state
L=$S/landing
W=$T_TMP/work
mkdir -p "$L" "$W"
cat > "$T_TMP/t.conf" <<CONF
[integration]
name = acme
state_dir = $S
[watch]
pattern = *
[unpack]
max_ratio = 200
max_bytes = 64M
max_members = 20
max_depth = 2
[map]
store_id = column "Store"
retailer_item_id = column "Item" trim
gtin = column "UPC" gtin
txn_date = column "Date" date "%Y-%m-%d"
quantity = column "Units" decimal
# the drops repeat stores and days; the Item tells them apart (Tier 4)
key = store_id, gtin, txn_date, retailer_item_id
[output]
url = file://$T_TMP/out
CONF

row() {	# row FILE STORE UNITS [ITEM]
	printf 'Store,UPC,Date,Units,Item\r\n%s,041000001239,2026-11-28,%s,%s\r\n' "$2" "$3" "${4:-x}" > "$1"
}
# a .zip holding two CSVs (one in a folder)
mkdir -p "$W/z/sub"; row "$W/z/a.csv" 1 1; row "$W/z/sub/b.csv" 2 2
# (another item: one key on two rows of a file is duplicate_key_in_file)
row "$W/z/a2.csv" 1 1 y
(cd "$W/z" && $PY -c "
import zipfile; z = zipfile.ZipFile('$L/two.zip', 'w', zipfile.ZIP_DEFLATED)
z.write('a.csv'); z.write('sub/b.csv'); z.write('a2.csv', 'café/łódź.csv'); z.close()")
# a .tar.gz with a directory, an empty file and a CSV
mkdir -p "$W/t/d/empty_dir"; row "$W/t/d/c.csv" 3 3; : > "$W/t/d/empty.csv"
tar -C "$W/t" -czf "$L/bundle.tar.gz" d
# a .csv.gz inside a .zip
row "$W/in.csv" 4 4; gzip -c "$W/in.csv" > "$W/in.csv.gz"
(cd "$W" && $PY -c "
import zipfile; z = zipfile.ZipFile('$L/nested.zip', 'w'); z.write('in.csv.gz'); z.close()")
# a .csv.zst
row "$W/z.csv" 5 5; zstd -q -c "$W/z.csv" > "$L/plain.csv.zst"
# Windows-1252 text (auto), and UTF-16LE with a BOM
printf 'Store,UPC,Date,Units,Item\r\n6,041000001239,2026-11-28,6,CAF\311 \222BLEND\222 \200\r\n' > "$L/cp1252.csv"
printf 'Store,UPC,Date,Units,Item\r\n7,041000001239,2026-11-28,7,na\303\257ve \342\200\223 ok\r\n' > "$W/u8.csv"
$PY -c "open('$L/utf16.csv','wb').write(b'\xff\xfe' + open('$W/u8.csv','rb').read().decode('utf-8').encode('utf-16-le'))"
# too deep: a zip in a zip in a zip in a zip (the outer file is depth 0,
# each archive inside an archive adds 1; max_depth 2)
(cd "$W" && $PY -c "
import zipfile, io
def z(name, data):
    b = io.BytesIO(); f = zipfile.ZipFile(b, 'w'); f.writestr(name, data); f.close(); return b.getvalue()
open('$L/deep.zip', 'wb').write(z('l1.zip', z('l2.zip', z('l3.zip', z('x.csv', open('$W/in.csv','rb').read())))))")
# traversal and member types
$PY -c "
import zipfile
z = zipfile.ZipFile('$L/evil.zip', 'w'); z.writestr('../../evil.csv', 'x'); z.close()
z = zipfile.ZipFile('$L/abs.zip', 'w'); z.writestr('/tmp/td-abs-evil.csv', 'x'); z.close()
z = zipfile.ZipFile('$L/link.zip', 'w')
i = zipfile.ZipInfo('link.csv'); i.external_attr = (0o120777 << 16); i.create_system = 3
z.writestr(i, '/etc/passwd'); z.close()"
# a ratio bomb: 48 MiB of one letter
head -c 50331648 /dev/zero | tr '\000' a | gzip -9 > "$L/zeros.csv.gz"
# a truncated .tar.gz
tar -C "$W/t" -czf "$W/full.tgz" d; head -c 60 "$W/full.tgz" > "$L/cut.tar.gz"

/usr/bin/time -f '%e %M' -o "$T_TMP/time" "$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log"
t_is $? 1 "once exits 1: bad archives quarantined"
read SECS RSS <<EOT
$(tail -1 "$T_TMP/time")
EOT
echo "# once over all drops: $SECS s, peak RSS $RSS KiB"
t_ok "$([ "$RSS" -lt 131072 ]; echo $?)" "peak RSS bounded ($RSS KiB < 128 MiB)"

tid() { sha256sum "$S"/archive/*/*/*/raw/"$1" | cut -c1-64; }
members() {	# members NAME: "member:store" of every record delivered
	for f in "$T_TMP/out/$(tid "$1")"/batch-*.gz; do gzip -dc "$f"; done 2>/dev/null |
	    $PY -c "
import json, sys
print(' '.join('%s:%s' % (r['source']['member'], r['store_id']) for r in map(json.loads, sys.stdin)))"
}
reason() { $PY -c "import json; r=json.load(open('$S/quarantine/$(tid "$1")/reason.json')); print(r['tier'], r['code'])" 2>/dev/null; }
field() { for f in "$T_TMP/out/$(tid "$1")"/batch-*.gz; do gzip -dc "$f"; done | $PY -c "import json,sys; print(json.loads(sys.stdin.readline())['$2'])"; }
man() { $PY -c "import json; m=json.load(open('$T_TMP/out/$(tid "$1")/manifest.json')); print($2)"; }

t_is "$(members two.zip)" "a.csv:1 sub/b.csv:2 café/łódź.csv:1" "a .zip of three CSVs: documents with their paths (UTF-8 too), in order"
t_is "$(members bundle.tar.gz)" "d/c.csv:3" "a .tar.gz: the CSV, the directory and the empty file skipped"
t_is "$(members nested.zip)" "in.csv.gz:4" "a .csv.gz inside a .zip: decompressed, named by its zip path"
t_is "$(members plain.csv.zst)" "None:5" "a .csv.zst: one document, member null"
t_is "$(man two.zip "m['container'], [x['member'] for x in m['members']]")" \
	"zip ['a.csv', 'sub/b.csv', 'café/łódź.csv']" "the manifest names the container and every member"
t_is "$(field cp1252.csv retailer_item_id)" "CAFÉ ’BLEND’ €" "Windows-1252 decoded to UTF-8 (auto)"
t_is "$(man cp1252.csv "m['encoding']")" "windows-1252" "the manifest records windows-1252"
"$TRADEDROP" try -c "$T_TMP/t.conf" "$S"/archive/*/*/$(tid cp1252.csv)/raw/cp1252.csv > "$T_TMP/try.out" 2> "$T_TMP/try.err"
t_is "$(wc -l < "$T_TMP/try.out" | tr -d ' ') $($PY -c "import json; print(json.loads(open('$T_TMP/try.out').readline())['retailer_item_id'])")" \
	"1 CAFÉ ’BLEND’ €" "try prints a Windows-1252 file once, decoded (the UTF-8 attempt is not shown)"
t_is "$(field utf16.csv retailer_item_id)" "naïve – ok" "UTF-16LE with a BOM decoded"
t_is "$(man utf16.csv "m['members'][0]['encoding']")" "utf-16le" "the manifest records utf-16le"
t_is "$(reason deep.zip)" "2 archive_too_deep" "nesting beyond max_depth: archive_too_deep"
t_is "$(reason evil.zip)" "2 path_traversal" "a ../ member: path_traversal"
t_is "$(reason abs.zip)" "2 path_traversal" "an absolute member: path_traversal"
t_is "$(reason link.zip)" "2 archive_member_type" "a symlink member: archive_member_type"
t_is "$(reason zeros.csv.gz)" "2 archive_ratio_exceeded" "a ratio bomb: archive_ratio_exceeded"
t_is "$(reason cut.tar.gz)" "2 archive_corrupt" "a truncated .tar.gz: archive_corrupt"
t_ok "$([ ! -e /tmp/td-abs-evil.csv ] && [ ! -e "$T_TMP/evil.csv" ] && [ ! -e "$S/evil.csv" ]; echo $?)" \
	"nothing written outside state_dir"
for f in evil.zip deep.zip zeros.csv.gz; do
	t_is "$(ls "$T_TMP/out/$(tid $f)" 2>/dev/null)" "rejections.ndjson.gz" \
	    "nothing of $f delivered, only its rejection"
done

# the corpus bombs, when the corpus is there
B=$srcdir/../shared/corpus/archives/zip-bomb/kd2fw
if [ -f "$B/zbsm.zip" ]; then
	for z in zbsm.zip zipbomb_1G.zip; do
		[ -f "$B/$z" ] || continue
		rm -rf "$S" "$T_TMP/out"; mkdir -p "$L"; cp "$B/$z" "$L/"
		/usr/bin/time -f '%e %M' -o "$T_TMP/time" "$TRADEDROP" once -c "$T_TMP/t.conf" 2> /dev/null
		read SECS RSS <<EOT
$(tail -1 "$T_TMP/time")
EOT
		echo "# $z: $SECS s, peak RSS $RSS KiB"
		r=$(reason $z)
		# zbsm's overlapping entries make its first member look like
		# a nested zip that does not inflate: refused as corrupt
		# before anything expands, which is as good
		case $z:$r in
		*:"2 archive_ratio_exceeded"|*:"2 archive_too_large"|\
		*:"2 archive_too_many_members"|zbsm.zip:"2 archive_corrupt") c=0;;
		*) c=1;;
		esac
		t_ok $c "$z quarantined ($r) in $SECS s, $RSS KiB"
	done
else
	echo "# SKIP corpus zip bombs: $B not present"
fi

# strict utf-8 refuses Windows-1252 with the byte offset
rm -rf "$S" "$T_TMP/out"; mkdir -p "$L"
sed 's/^\[map\]/[decode]\nencoding = utf-8\n[map]/' "$T_TMP/t.conf" > "$T_TMP/strict.conf"
printf 'Store,UPC,Date,Units,Item\r\n6,041000001239,2026-11-28,6,CAF\311\r\n' > "$L/cp.csv"
"$TRADEDROP" once -c "$T_TMP/strict.conf" 2> /dev/null
t_is "$(reason cp.csv)" "2 decode_invalid_utf8" "encoding = utf-8: invalid bytes are Tier 2"
t_grep "$S/quarantine/$(tid cp.csv)/reason.json" "byte 58" "the reason names the byte offset"

# gzip drops are inflated with ISA-L when it is built in: the same records,
# byte for byte, and the same quarantine reasons as zlib gives them (the
# test hook TD_TEST_GZIP=zlib), for a big two-member drop and damaged ones
rm -rf "$S" "$T_TMP/out"; mkdir -p "$L"
$PY -c "
import random, zlib
r = random.Random(17)
rows = ['%d,041000001239,2026-11-%02d,%d,item %d\r\n' % (r.randrange(1, 999), r.randrange(1, 29), r.randrange(1, 99), i) for i in range(150000)]
half = len(rows) // 2
def gz(s, level=6):
	c = zlib.compressobj(level, zlib.DEFLATED, 31)
	return c.compress(s.encode()) + c.flush()
head = 'Store,UPC,Date,Units,Item\r\n'
one = gz(head + ''.join(rows[:half]))
two = gz(''.join(rows[half:]), 1)
open('$L/big.csv.gz', 'wb').write(one + two)
small = gz(head + ''.join(rows[:3]))
d = bytearray(small); d[-6] ^= 1
open('$L/badcrc.csv.gz', 'wb').write(bytes(d))
open('$L/cut.csv.gz', 'wb').write(one[:len(one) // 2])
open('$L/tail.csv.gz', 'wb').write(small + b'garbage')
d = bytearray(gz(head + ''.join(rows[:3]), 0)); d[10] ^= 6
open('$L/btype.csv.gz', 'wb').write(bytes(d))
"
head -c 16777216 /dev/zero | tr '\000' a | gzip -9 > "$L/zeros.csv.gz"
cp -a "$L" "$T_TMP/gz-drops"
sed "s#$S#$T_TMP/state-zlib#; s#$T_TMP/out#$T_TMP/out-zlib#" "$T_TMP/t.conf" > "$T_TMP/zlib.conf"
mkdir -p "$T_TMP/state-zlib"
cp -a "$T_TMP/gz-drops" "$T_TMP/state-zlib/landing"
"$TRADEDROP" once -c "$T_TMP/t.conf" 2> /dev/null
TD_TEST_GZIP=zlib "$TRADEDROP" once -c "$T_TMP/zlib.conf" 2> /dev/null
why() {	# why STATE NAME: tier, code and message of its quarantine
	$PY -c "import json; r=json.load(open('$1/quarantine/$(tid "$2")/reason.json')); print(r['tier'], r['code'], r['message'])" 2>/dev/null
}
t_is "$(ls "$T_TMP/out/$(tid big.csv.gz)" | grep -c batch-)" 30 "a big two-member .csv.gz: 30 batches delivered"
# (manifests and rejections hold the time they were written)
t_ok "$(diff -r -x manifest.json -x rejections.ndjson.gz "$T_TMP/out" "$T_TMP/out-zlib" >/dev/null; echo $?)" \
	"ISA-L and zlib: every batch byte-identical"
mf() {	# mf OUT: the manifest of big.csv.gz but the time it was received
	$PY -c "import json; m=json.load(open('$1/$(tid big.csv.gz)/manifest.json')); m.pop('received_at'); print(json.dumps(m, sort_keys=True))"
}
t_is "$(man big.csv.gz "m['counts']['records']")" 150000 "a big two-member .csv.gz: every record"
t_is "$(mf "$T_TMP/out")" "$(mf "$T_TMP/out-zlib")" "ISA-L and zlib: the same manifest"
for f in badcrc.csv.gz cut.csv.gz tail.csv.gz btype.csv.gz zeros.csv.gz; do
	t_is "$(why "$S" $f)" "$(why "$T_TMP/state-zlib" $f)" "$f: the reason zlib gives"
done
t_is "$(reason badcrc.csv.gz)" "2 archive_corrupt" "a bad CRC-32: archive_corrupt"
t_grep "$S/quarantine/$(tid badcrc.csv.gz)/reason.json" "incorrect data check" "a bad CRC-32, in zlib's words"
t_is "$(reason cut.csv.gz)" "2 archive_corrupt" "a truncated .csv.gz: archive_corrupt"
t_grep "$S/quarantine/$(tid cut.csv.gz)/reason.json" "truncated" "a truncated .csv.gz, said"
t_is "$(reason tail.csv.gz)" "2 archive_corrupt" "garbage after a .csv.gz: archive_corrupt"
t_grep "$S/quarantine/$(tid btype.csv.gz)/reason.json" "invalid block type" "a bad block type, in zlib's words"
t_is "$(reason zeros.csv.gz)" "2 archive_ratio_exceeded" "a gzip bomb: archive_ratio_exceeded"
t_done
