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

# state_dir, landing_dir and a file:// output are kept apart, compared
# after resolving symlinks and "..", existing or not. Only the defaults
# <state_dir>/landing and <state_dir>/out may lie inside state_dir.
mkdir -p "$T_TMP/state" "$T_TMP/drops"
ln -s state "$T_TMP/alias"
refused() {	# refused NAME EXTRA-CONFIG WANTED-MESSAGE
	cp "$T_TMP/good.conf" "$T_TMP/o.conf"
	printf "$2" >> "$T_TMP/o.conf"
	"$TRADEDROP" check -c "$T_TMP/o.conf" > "$T_TMP/out" 2>&1
	t_is $? 2 "$1: check exits 2"
	t_grep "$T_TMP/out" "$3" "$1: named"
}
refused "landing_dir = state_dir" '[integration]\nlanding_dir = state\n' \
	"o.conf:10: landing_dir $T_TMP/state: is the same directory as state_dir $T_TMP/state"
refused "landing_dir holding state_dir" '[integration]\nlanding_dir = .\n' \
	"o.conf:10: landing_dir $T_TMP/. (resolved: $T_TMP): holds state_dir $T_TMP/state"
for d in work outbox archive quarantine dlq; do
	refused "landing_dir = state_dir/$d" "[integration]\\nlanding_dir = state/$d\\n" \
		"o.conf:10: landing_dir $T_TMP/state/$d: lies inside state_dir $T_TMP/state, where only <state_dir>/landing may be"
done
refused "landing_dir through a symlink" '[integration]\nlanding_dir = alias\n' \
	"landing_dir $T_TMP/alias (resolved: $T_TMP/state): is the same directory as state_dir"
refused "landing_dir through .." '[integration]\nlanding_dir = drops/../state/landing/..\n' \
	"(resolved: $T_TMP/state): is the same directory as state_dir"
refused "landing_dir not there yet" '[integration]\nlanding_dir = new/../alias/new/archive\n' \
	"(resolved: $T_TMP/state/new/archive): lies inside state_dir"
refused "file:// output = state_dir" "[output]\\nurl = file://$T_TMP/alias/\\n" \
	"o.conf:10: url file://$T_TMP/alias/ (resolved: $T_TMP/state): is the same directory as state_dir"
refused "file:// output in state_dir/outbox" "[output]\\nurl = file://$T_TMP/state/outbox\\n" \
	"url file://$T_TMP/state/outbox: lies inside state_dir $T_TMP/state, where only <state_dir>/out may be"
refused "file:// output = default landing" "[output]\\nurl = file://$T_TMP/state/landing\\n" \
	"url file://$T_TMP/state/landing: is the same directory as landing_dir $T_TMP/state/landing"
refused "file:// output inside landing_dir" "[integration]\\nlanding_dir = drops\\n[output]\\nurl = file://$T_TMP/drops/out\\n" \
	"o.conf:12: url file://$T_TMP/drops/out: lies inside landing_dir $T_TMP/drops"
refused "landing_dir inside the file:// output" "[integration]\\nlanding_dir = drops/in\\n[output]\\nurl = file://$T_TMP/drops\\n" \
	"o.conf:12: url file://$T_TMP/drops: holds landing_dir $T_TMP/drops/in"
cp "$T_TMP/good.conf" "$T_TMP/o.conf"
printf '[integration]\nlanding_dir = alias/landing\n[output]\nurl = file://%s/state/out\n' \
	"$T_TMP" >> "$T_TMP/o.conf"
"$TRADEDROP" check -c "$T_TMP/o.conf" > "$T_TMP/out" 2>&1
t_is $? 0 "the defaults <state_dir>/landing and file://<state_dir>/out, written out, pass"
sed 's/^state_dir = state$/state_dir = state.db/' "$T_TMP/good.conf" > "$T_TMP/o.conf"
: > "$T_TMP/state.db"
"$TRADEDROP" check -c "$T_TMP/o.conf" > "$T_TMP/out" 2>&1
t_is $? 2 "a state_dir that is a file is refused"
t_grep "$T_TMP/out" "o.conf:3: state_dir $T_TMP/state.db: not a directory" "and named"

# Every command that loads the configuration refuses an overlap, before
# it touches anything: once used to take state.db for a drop.
cp "$T_TMP/good.conf" "$T_TMP/o.conf"
printf '[integration]\nlanding_dir = state\n' >> "$T_TMP/o.conf"
"$TRADEDROP" once -c "$T_TMP/o.conf" > "$T_TMP/out" 2>&1
t_is $? 2 "once refuses landing_dir = state_dir (exit 2)"
t_is "$(ls "$T_TMP/state")" "" "and creates nothing in state_dir"
"$TRADEDROP" status -c "$T_TMP/o.conf" > "$T_TMP/out" 2>&1
t_is $? 2 "status refuses it too"

# URLs are checked when the configuration loads, not first at --connect:
# a password or a ".." in an sftp:// URL used to pass check.
printf 'x\n' > "$T_TMP/kh"
printf 'pw\n' > "$T_TMP/pw"; chmod 600 "$T_TMP/pw"
cp "$T_TMP/good.conf" "$T_TMP/o.conf"
printf '[source "a"]\nurl = sftp://pos:Hunter2pw@sftp.example/out\nknown_hosts = kh\npassword_file = pw\n' >> "$T_TMP/o.conf"
printf '[source "b"]\nurl = sftp://pos@sftp.example/out/../../etc\nknown_hosts = kh\npassword_file = pw\n' >> "$T_TMP/o.conf"
"$TRADEDROP" check -c "$T_TMP/o.conf" > "$T_TMP/out" 2>&1
t_is $? 2 "check refuses a password or a .. in an sftp:// URL"
t_grep "$T_TMP/out" "o.conf:10: url: a password in the URL is refused; put it in password_file" \
	"the password URL is named by its line"
t_ok "$(grep -c Hunter2pw "$T_TMP/out")" "and the password is not printed"
t_grep "$T_TMP/out" "o.conf:14: url = sftp://pos@sftp.example/out/../../etc: path has a . or .. segment" \
	"the .. is named with its line"

# A key this version does not act on would be refused (CF_UNBUILT),
# never silently kept: `user = nobody` once passed check while nothing
# switched user. Every key is acted on now; the count below says so.
refused "year_start without a retail calendar" '[calendar]\nyear_start = 2026-02-01\n' \
	"o.conf:10: year_start needs a retail calendar: type = 445, 454 or 544"

# [integration] currency is a code of ISO 4217 List one with a minor
# unit, in capitals: any three capitals used to pass, and the amounts of
# a typo were written with two decimals.
refused "currency XYZ" '[integration]\ncurrency = XYZ\n' \
	"o.conf:10: currency = XYZ: not a currency of ISO 4217 List one (a typo, or a code since withdrawn; tradedrop.conf(5) has the list)"
refused "currency EUE (a typo)" '[integration]\ncurrency = EUE\n' \
	"o.conf:10: currency = EUE: not a currency of ISO 4217 List one"
refused "currency HRK (withdrawn 2023)" '[integration]\ncurrency = HRK\n' \
	"o.conf:10: currency = HRK: not a currency of ISO 4217 List one"
for c in XAU XDR XTS XXX; do
	refused "currency $c (minor unit N.A.)" "[integration]\\ncurrency = $c\\n" \
		"o.conf:10: currency = $c: ISO 4217 gives it no minor unit (N.A.: a metal, a unit of account or a testing code), so no amount can be written in it"
done
refused "currency in lower case" '[integration]\ncurrency = eur\n' \
	"o.conf:10: currency = eur: an ISO 4217 code is written in capital letters"
for c in USD EUR JPY KWD CLF UYW XAF BGN ZWG XCG; do
	cp "$T_TMP/good.conf" "$T_TMP/o.conf"
	printf '[integration]\ncurrency = %s\n' "$c" >> "$T_TMP/o.conf"
	"$TRADEDROP" check -c "$T_TMP/o.conf" > "$T_TMP/out" 2>&1
	t_is $? 0 "currency = $c passes check"
done

# Every key of common/conf-table.h has a reader in agent/ or common/
# (a TDK_section_key outside conf.c) or the flag CF_UNBUILT, never both:
# a key that is accepted must do something.
awk '/^X\([a-z_]+, [a-z0-9_]+,/ { sub(/^X\(/, ""); split($0, f, ", ");
	cur = f[1] "." f[2]; flag[cur] = 0; order[++n] = cur }
    /CF_UNBUILT/ && cur != "" { flag[cur] = 1 }
    END { for (i = 1; i <= n; i++) print order[i], flag[order[i]] }' \
	"$srcdir/common/conf-table.h" > "$T_TMP/keys"
nkeys=0 bad=0
while read -r sk unbuilt; do
	nkeys=$((nkeys + 1))
	sym="TDK_$(echo "$sk" | tr . _)"
	readers=$(grep -rlw --include="*.[ch]" -- "$sym" "$srcdir/agent" "$srcdir/common" |
		grep -v '/common/conf\.[ch]$' | sed "s|^$srcdir/||" | tr '\n' ' ')
	if [ -z "$readers" ] && [ "$unbuilt" = 0 ]; then
		echo "# $sk: no reader in agent/ or common/ and not CF_UNBUILT"
		bad=$((bad + 1))
	elif [ -n "$readers" ] && [ "$unbuilt" = 1 ]; then
		echo "# $sk: CF_UNBUILT but read by $readers"
		bad=$((bad + 1))
	fi
done < "$T_TMP/keys"
t_ok "$([ "$nkeys" -gt 60 ]; echo $?)" "the key table was read ($nkeys keys)"
t_is "$bad" 0 "every key is read by the code or flagged CF_UNBUILT, not both"
t_is "$(grep -c ' 1$' "$T_TMP/keys")" 0 \
	"no key is flagged CF_UNBUILT: every key of the table is acted on"

"$TRADEDROP" frobnicate > "$T_TMP/out" 2>&1
t_is $? 2 "unknown command exits 2"
"$TRADEDROP" --version > "$T_TMP/out" 2>&1
t_is $? 0 "--version exits 0"
t_grep "$T_TMP/out" "tradedrop " "--version prints the name"
"$TRADEDROP" --help > "$T_TMP/out" 2>&1
t_grep "$T_TMP/out" "check [-c FILE] [--dump]" "--help lists check"
t_done
