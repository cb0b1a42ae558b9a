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

"$TRADEDROP" frobnicate > "$T_TMP/out" 2>&1
t_is $? 2 "unknown command exits 2"
"$TRADEDROP" --version > "$T_TMP/out" 2>&1
t_is $? 0 "--version exits 0"
t_grep "$T_TMP/out" "tradedrop " "--version prints the name"
"$TRADEDROP" --help > "$T_TMP/out" 2>&1
t_grep "$T_TMP/out" "check [-c FILE] [--dump]" "--help lists check"
t_done
