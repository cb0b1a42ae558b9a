#!/bin/sh
# verify.sh - checksum sidecars and minisign signatures, made with the real
# minisign, sha256sum and sha512sum during the test: good files delivered
# with their verification recorded, every kind of tampering quarantined
# with its code, required sidecars waited for, then refused.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
command -v minisign > /dev/null || t_skip_all "minisign not installed"

K=$T_TMP/keys
mkdir -p "$K"
minisign -G -f -W -p "$K/k.pub" -s "$K/k.key" < /dev/null > /dev/null 2>&1
minisign -G -f -W -p "$K/other.pub" -s "$K/other.key" < /dev/null > /dev/null 2>&1
t_ok "$([ -s "$K/k.pub" ] && [ -s "$K/other.key" ]; echo $?)" "minisign made two key pairs"

S=$T_TMP/state
L=$S/landing
mkdir -p "$L"
conf() {
	cat > "$T_TMP/$1.conf" <<CONF
[integration]
name = acme
state_dir = $S
[watch]
settle = 0
[verify]
checksum = $2
signature = $3
trusted_key_file = $K/k.pub
sidecar_wait = 3s
[map]
store_id = column "Store"
gtin = column "UPC" gtin
txn_date = column "Date" date "%Y-%m-%d"
quantity = column "Units" decimal
[output]
url = file://$T_TMP/out
CONF
}
conf opt optional optional
conf req required required

mk() {	# mk NAME UNITS: a one-row CSV
	printf 'Store,UPC,Date,Units\n1,041000001239,2026-11-28,%s\n' "$2" > "$L/$1"
}
sign() {	# sign NAME [minisign options]: sign in landing
	_f=$1; shift
	minisign -S -s "$K/k.key" -m "$L/$_f" -t "acme drop $_f" "$@" < /dev/null > /dev/null 2>&1
}

mk good.csv 1; sign good.csv; (cd "$L" && sha256sum good.csv > good.csv.sha256)
mk legacy.csv 2; sign legacy.csv -l
mk bsd.csv 3; (cd "$L" && sha256sum --tag bsd.csv > bsd.csv.sha256)
mk m1.csv 4; mk m2.csv 5; (cd "$L" && sha256sum ./m1.csv m2.csv > SHA256SUMS)
mk big.csv 6; (cd "$L" && sha512sum -b big.csv > big.csv.sha512)
mk flipped.csv 7; (cd "$L" && sha256sum flipped.csv > flipped.csv.sha256); mk flipped.csv 8
mk badsig.csv 9; sign badsig.csv; mk badsig.csv 10
mk comment.csv 11; sign comment.csv
sed -i 's/^trusted comment: .*/trusted comment: acme drop TAMPERED/' "$L/comment.csv.minisig"
mk globalsig.csv 12; sign globalsig.csv
$PY - "$L/globalsig.csv.minisig" <<'PY'
import base64, sys
lines = open(sys.argv[1]).read().split("\n")
g = bytearray(base64.b64decode(lines[3])); g[10] ^= 1
lines[3] = base64.b64encode(bytes(g)).decode()
open(sys.argv[1], "w").write("\n".join(lines))
PY
mk keyid.csv 13; sign keyid.csv
$PY - "$L/keyid.csv.minisig" <<'PY'
import base64, sys
lines = open(sys.argv[1]).read().split("\n")
s = bytearray(base64.b64decode(lines[1])); s[3] ^= 1	# inside the key id
lines[1] = base64.b64encode(bytes(s)).decode()
open(sys.argv[1], "w").write("\n".join(lines))
PY
mk other.csv 14; minisign -S -s "$K/other.key" -m "$L/other.csv" < /dev/null > /dev/null 2>&1
mk garbage.csv 15; head -c 300 /dev/urandom > "$L/garbage.csv.minisig"

"$TRADEDROP" once -c "$T_TMP/opt.conf" 2> "$T_TMP/log1"
t_is $? 1 "once exits 1: tampered files quarantined"

tid() { sha256sum "$S"/archive/*/*/*/raw/"$1" | cut -c1-64; }
ver() {	# ver NAME: the verification object of its delivered manifest
	$PY -c "import json,sys; print(json.dumps(json.load(open('$T_TMP/out/$(tid "$1")/manifest.json'))['verification'], sort_keys=True))" 2>/dev/null
}
reason() {	# reason NAME: tier and code of its quarantine
	$PY -c "import json; r=json.load(open('$S/quarantine/$(tid "$1")/reason.json')); print(r['tier'], r['code'])" 2>/dev/null
}
KEYID=$(sed -n 2p "$K/k.pub" | base64 -d | $PY -c "import sys; b=sys.stdin.buffer.read(); print(b[2:10][::-1].hex().upper())")
t_is "$(ver good.csv)" "{\"checksum\": \"ok\", \"checksum_algorithm\": \"sha256\", \"key_id\": \"$KEYID\", \"signature\": \"ok\", \"trusted_comment\": \"acme drop good.csv\"}" \
	"prehashed signature and GNU sha256 verified, key id and trusted comment recorded"
t_grep "$T_TMP/out/$(tid legacy.csv)/manifest.json" '"signature":"ok"' "legacy (Ed) signature verified"
t_grep "$T_TMP/out/$(tid legacy.csv)/manifest.json" '"checksum":"absent"' "no checksum: absent under optional"
t_grep "$T_TMP/out/$(tid bsd.csv)/manifest.json" '"checksum":"ok"' "BSD-format sum verified"
t_grep "$T_TMP/out/$(tid m1.csv)/manifest.json" '"checksum":"ok"' "SHA256SUMS line with ./ prefix verified"
t_grep "$T_TMP/out/$(tid m2.csv)/manifest.json" '"checksum":"ok"' "SHA256SUMS second line verified"
t_grep "$T_TMP/out/$(tid big.csv)/manifest.json" '"checksum_algorithm":"sha512"' "binary-mode sha512 verified"
t_is "$(reason flipped.csv)" "2 checksum_mismatch" "a changed byte after summing: checksum_mismatch"
t_is "$(reason badsig.csv)" "2 signature_invalid" "a changed file after signing: signature_invalid"
t_is "$(reason comment.csv)" "2 signature_comment_invalid" "an edited trusted comment: signature_comment_invalid"
t_is "$(reason globalsig.csv)" "2 signature_comment_invalid" "a flipped global signature: signature_comment_invalid"
t_is "$(reason keyid.csv)" "2 signature_untrusted_key" "a flipped key id: signature_untrusted_key"
t_is "$(reason other.csv)" "2 signature_untrusted_key" "a key that is not trusted: signature_untrusted_key"
t_is "$(reason garbage.csv)" "2 signature_malformed" "a garbage .minisig: signature_malformed"
t_is "$(ls "$T_TMP/out/$(tid badsig.csv)")" "rejections.ndjson.gz" "nothing of a refused file is delivered, only its rejection"
t_ok "$([ -f "$S"/archive/*/*/$(tid good.csv)/raw/good.csv.minisig ] && [ -f "$S"/archive/*/*/$(tid good.csv)/raw/good.csv.sha256 ]; echo $?)" \
	"sidecars archived beside the raw file"
t_ok "$([ -f "$S"/archive/*/*/$(tid m1.csv)/raw/SHA256SUMS ]; echo $?)" "the manifest archived with each file it covers"
t_is "$(ls "$L")" "SHA256SUMS" "landing emptied but for SHA256SUMS, kept for sidecar_wait"
t_is "$(ls "$T_TMP"/out/*/manifest.json | wc -l)" 6 "six transmissions delivered; sidecars never became transmissions"

# required: a missing sidecar is waited for, then refused
mk lonely.csv 20
mk late.csv 21
"$TRADEDROP" once -c "$T_TMP/req.conf" 2> "$T_TMP/log2"
t_is $? 0 "files waiting for sidecars are not an error"
t_ok "$([ -f "$L/lonely.csv" ] && [ -f "$L/late.csv" ]; echo $?)" "they stay in landing while waiting"
t_grep "$T_TMP/log2" "event=sidecar_wait file=late.csv" "the wait is logged"
sign late.csv; (cd "$L" && sha256sum late.csv > late.csv.sha256)
"$TRADEDROP" once -c "$T_TMP/req.conf" 2> "$T_TMP/log3"
t_grep "$T_TMP/out/$(tid late.csv)/manifest.json" '"signature":"ok"' \
	"sidecars arriving within sidecar_wait are paired"
t_ok "$([ -f "$L/lonely.csv" ]; echo $?)" "the lonely file still waits"
sleep 4
"$TRADEDROP" once -c "$T_TMP/req.conf" 2> "$T_TMP/log4"
t_is $? 1 "after sidecar_wait once exits 1"
t_is "$(reason lonely.csv)" "2 checksum_missing" "a required sidecar that never came: checksum_missing"
t_is "$(ls "$L")" "" "SHA256SUMS removed once older than sidecar_wait and naming nothing left"
t_done
