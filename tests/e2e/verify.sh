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
conf() {	# conf NAME CHECKSUM SIGNATURE [WAIT [OUT [LOG_LEVEL]]], for $S
	cat > "$T_TMP/$1.conf" <<CONF
[integration]
name = acme
state_dir = $S
log_level = ${6:-info}
[watch]
settle = 0
[verify]
checksum = $2
signature = $3
trusted_key_file = $K/k.pub
sidecar_wait = ${4:-3s}
[map]
store_id = column "Store"
gtin = column "UPC" gtin
txn_date = column "Date" date "%Y-%m-%d"
quantity = column "Units" decimal
[output]
url = file://$T_TMP/${5:-out}
CONF
}
# waits long enough that a loaded machine does not outrun them: opt
# keeps SHA256SUMS through its run; req pairs sidecars that come within
# its wait, then (after sleeping past it) refuses the one that never came
conf opt optional optional 60s
conf req required required 10s

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
sleep 11
"$TRADEDROP" once -c "$T_TMP/req.conf" 2> "$T_TMP/log4"
t_is $? 1 "after sidecar_wait once exits 1"
t_is "$(reason lonely.csv)" "2 checksum_missing" "a required sidecar that never came: checksum_missing"
t_is "$(ls "$L")" "" "SHA256SUMS removed once older than sidecar_wait and naming nothing left"

# Every sidecar of a file travels with it and every checksum is checked;
# a SHA256SUMS over 1 MiB is read, once for all the files it names.
S=$T_TMP/state2
L=$S/landing
mkdir -p "$L"
conf many optional off 1s out2 debug
mk both.csv 31; (cd "$L" && sha256sum both.csv > both.csv.sha256 && sha512sum both.csv > both.csv.sha512)
mk half.csv 32; (cd "$L" && sha256sum half.csv > half.csv.sha256 && printf '%0128d  half.csv\n' 0 > half.csv.sha512)
mk half2.csv 33
mk odd.csv 34; (cd "$L" && sha512sum odd.csv > odd.csv.sha256)
mk lnk.csv 35; ln -s /etc/passwd "$L/lnk.csv.sha256"
i=1
while [ $i -le 40 ]; do mk "f$i.csv" "$((100 + i))"; i=$((i + 1)); done
(cd "$L" && {
	awk 'BEGIN { for (i = 0; i < 10000; i++) printf "%064x  other%05d.csv\n", i, i }'
	sha256sum f*.csv
	printf '%064d  half2.csv\n' 0
	awk 'BEGIN { for (i = 10000; i < 20000; i++) printf "%064x  other%05d.csv\n", i, i }'
} > SHA256SUMS && sha512sum f1.csv f2.csv half2.csv > SHA512SUMS)
t_ok "$([ "$(wc -c < "$L/SHA256SUMS")" -gt 1048576 ]; echo $?)" "a SHA256SUMS of 20041 lines, over 1 MiB"

cp "$L/SHA256SUMS" "$T_TMP/SHA256SUMS.sent"
"$TRADEDROP" once -c "$T_TMP/many.conf" 2> "$T_TMP/log5"
t_is $? 1 "once exits 1: half.csv and half2.csv refused"
tid() { sha256sum "$S"/archive/*/*/*/raw/"$1" | cut -c1-64; }
raw() { echo "$S"/archive/*/*/"$(tid "$1")"/raw; }
ver2() {
	$PY -c "import json; v=json.load(open('$T_TMP/out2/$(tid "$1")/manifest.json'))['verification']; print(v['checksum'], v.get('checksum_algorithm'))" 2>/dev/null
}
t_is "$(ver2 both.csv)" "ok sha512" "NAME.sha256 and NAME.sha512 both checked; the stronger is recorded"
t_is "$(cd "$(raw both.csv)" && ls)" "$(printf 'both.csv\nboth.csv.sha256\nboth.csv.sha512')" \
	"both checksum sidecars archived beside the file"
t_is "$(reason half.csv)" "2 checksum_mismatch" "a wrong NAME.sha512 beside a right NAME.sha256 is refused"
t_grep "$S/quarantine/$(tid half.csv)/reason.json" "half.csv.sha512 says sha512" "and the reason names the .sha512"
t_is "$(ver2 odd.csv)" "ok sha512" "a SHA-512 digest in a NAME.sha256 is checked as one"
t_is "$(ver2 f7.csv)" "ok sha256" "a file named in a SHA256SUMS over 1 MiB is verified"
t_is "$(ver2 f1.csv)" "ok sha512" "a file in both SHA256SUMS and SHA512SUMS: the stronger is recorded"
t_is "$(reason half2.csv)" "2 checksum_mismatch" "a wrong SHA256SUMS line beside a right SHA512SUMS one is refused"
t_grep "$S/quarantine/$(tid half2.csv)/reason.json" "SHA256SUMS says sha256 $(printf '%064d' 0)" "and the reason names SHA256SUMS"
t_is "$(cat "$(raw f7.csv)/SHA256SUMS")" "$(grep ' f7\.csv$' "$T_TMP/SHA256SUMS.sent")" \
	"the archive keeps the SHA256SUMS line of the file, as sent"
t_ok "$(cd "$(raw f7.csv)" && sha256sum --quiet -c SHA256SUMS > /dev/null 2>&1; echo $?)" \
	"sha256sum -c in the archive checks the file against it"
t_ok "$(cd "$(raw f1.csv)" && sha512sum --quiet -c SHA512SUMS > /dev/null 2>&1; echo $?)" \
	"and sha512sum -c against the SHA512SUMS lines"
t_is "$(grep -c "event=checksum_manifest_read file=$L/SHA256SUMS " "$T_TMP/log5")" 1 \
	"the large SHA256SUMS is read and parsed once for 45 files"
t_is "$(ver2 lnk.csv)" "absent None" "a symbolic link named like a sidecar is not one"
t_is "$(ls "$L" | grep -v SUMS)" "lnk.csv.sha256" "no sidecar is left in landing, only that link"
rm -f "$L/lnk.csv.sha256"
t_is "$(ls "$T_TMP"/out2/*/manifest.json | wc -l)" 43 "43 transmissions delivered"
sleep 2
"$TRADEDROP" once -c "$T_TMP/many.conf" 2> "$T_TMP/log6"
t_is "$(ls "$L")" "" "both manifests removed once they name nothing left"

# A manifest over 16 MiB is not read: logged, ignored, left in landing.
mk huge.csv 50
(cd "$L" && { sha256sum huge.csv; awk 'BEGIN { for (i = 0; i < 215000; i++) printf "%064x  other%06d.csv\n", i, i }'; } > SHA256SUMS)
"$TRADEDROP" once -c "$T_TMP/many.conf" 2> "$T_TMP/log7"
t_grep "$T_TMP/log7" "event=checksum_manifest_too_large file=$L/SHA256SUMS size=$(wc -c < "$L/SHA256SUMS") max=16777216" \
	"a SHA256SUMS over 16 MiB is logged"
t_is "$(ver2 huge.csv)" "absent None" "and the file is checked as if it had none"
sleep 2
"$TRADEDROP" once -c "$T_TMP/many.conf" 2> "$T_TMP/log8"
t_is "$(ls "$L")" "SHA256SUMS" "it is left in landing for the operator"
t_done
