#!/bin/sh
# conf-errors.sh - `tradedrop check` exit codes and FILE:LINE messages.
. "$srcdir/tests/lib/common.sh"
t_tmpdir

cat > "$T_TMP/good.conf" <<'CONF'
[integration]
name = acme
state_dir = state
[map]
store_id = column "Store Nbr"
gtin = column "UPC" gtin
txn_date = column "Week Ending" date "%m/%d/%Y"
quantity = column "Units" decimal
CONF
"$TRADEDROP" check -c "$T_TMP/good.conf" > "$T_TMP/out" 2>&1
t_is $? 0 "check of a good config exits 0"
t_grep "$T_TMP/out" "configuration OK" "check says OK"

cp "$T_TMP/good.conf" "$T_TMP/bad.conf"
printf '[output]\nbatch_records = many\n[nosuch]\n' >> "$T_TMP/bad.conf"
"$TRADEDROP" check -c "$T_TMP/bad.conf" > "$T_TMP/out" 2>&1
t_is $? 2 "check of a bad config exits 2"
t_grep "$T_TMP/out" "$T_TMP/bad.conf:10: batch_records = many: not a whole number" \
	"bad value named with file and line"
t_grep "$T_TMP/out" "$T_TMP/bad.conf:11: unknown section [nosuch]" \
	"unknown section named with file and line"

"$TRADEDROP" check -c "$T_TMP/missing.conf" > "$T_TMP/out" 2>&1
t_is $? 2 "missing config file exits 2"
t_grep "$T_TMP/out" "$T_TMP/missing.conf: No such file or directory" \
	"missing file named"

printf 'secret\n' > "$T_TMP/token"
chmod 644 "$T_TMP/token"
cp "$T_TMP/good.conf" "$T_TMP/perm.conf"
printf '[output]\ntoken_file = token\n' >> "$T_TMP/perm.conf"
"$TRADEDROP" check -c "$T_TMP/perm.conf" > "$T_TMP/out" 2>&1
t_is $? 2 "a world-readable token_file is refused"
t_grep "$T_TMP/out" "perm.conf:10: token_file $T_TMP/token: readable by group or others" \
	"permission refusal names file, line and path"
t_ok "$(grep -c secret "$T_TMP/out")" "the secret itself is never printed"

cp "$T_TMP/good.conf" "$T_TMP/key.conf"
printf '[verify]\ntrusted_key = RWQBBBB\n' >> "$T_TMP/key.conf"
"$TRADEDROP" check -c "$T_TMP/key.conf" > "$T_TMP/out" 2>&1
t_is $? 2 "a trusted_key that is not a minisign key is refused"
t_grep "$T_TMP/out" "trusted_key RWQBBBB: not a minisign public key" "and named"

# What is not a configuration file gets one clear error, never a hang.
mkdir "$T_TMP/dir.conf"
"$TRADEDROP" check -c "$T_TMP/dir.conf" > "$T_TMP/out" 2>&1
t_is $? 2 "a directory as config exits 2"
t_is "$(cat "$T_TMP/out")" \
	"$T_TMP/dir.conf: is a directory, not a configuration file" \
	"a directory as config is one clear error"
timeout 20 "$TRADEDROP" check -c /dev/zero > "$T_TMP/out" 2>&1
t_is $? 2 "/dev/zero as config exits 2 at once"
t_grep "$T_TMP/out" "/dev/zero: not a regular file" "a device is refused"
mkfifo "$T_TMP/fifo.conf"
timeout 20 "$TRADEDROP" check -c "$T_TMP/fifo.conf" > "$T_TMP/out" 2>&1
t_is $? 2 "a FIFO as config exits 2 without waiting for a writer"
t_grep "$T_TMP/out" "fifo.conf: not a regular file" "a FIFO is refused"
cp "$T_TMP/good.conf" "$T_TMP/big.conf"
head -c 1048576 /dev/zero | tr '\0' '#' >> "$T_TMP/big.conf"
timeout 20 "$TRADEDROP" check -c "$T_TMP/big.conf" > "$T_TMP/out" 2>&1
t_is $? 2 "a config over 1 MiB exits 2"
t_grep "$T_TMP/out" "big.conf: larger than 1048576 bytes (1 MiB)" \
	"the size limit is named"

# A NUL byte is named as such, and the lines after it are still checked.
cp "$T_TMP/good.conf" "$T_TMP/nul.conf"
printf '[watch]\npattern = *.csv\000x\nbogus = 1\n' >> "$T_TMP/nul.conf"
"$TRADEDROP" check -c "$T_TMP/nul.conf" > "$T_TMP/out" 2>&1
t_is $? 2 "a NUL byte in a line exits 2"
t_grep "$T_TMP/out" "nul.conf:10: NUL byte in the line" "a NUL byte is named with its line"
t_ok "$(grep -c 'too long\|longer than' "$T_TMP/out")" "and not called a long line"
t_grep "$T_TMP/out" "nul.conf:11: unknown key \"bogus\"" "the next line is still checked"

# A UTF-8 byte order mark (Windows Notepad) before the first section.
printf '\357\273\277' > "$T_TMP/bom.conf"
cat "$T_TMP/good.conf" >> "$T_TMP/bom.conf"
"$TRADEDROP" check -c "$T_TMP/bom.conf" > "$T_TMP/out" 2>&1
t_is $? 0 "a config starting with a UTF-8 BOM loads"

"$TRADEDROP" frobnicate > "$T_TMP/out" 2>&1
t_is $? 2 "unknown command exits 2"
"$TRADEDROP" --version > "$T_TMP/out" 2>&1
t_is $? 0 "--version exits 0"
t_grep "$T_TMP/out" "tradedrop " "--version prints the name"
"$TRADEDROP" --help > "$T_TMP/out" 2>&1
t_grep "$T_TMP/out" "check [-c FILE] [--dump]" "--help lists check"
t_done
