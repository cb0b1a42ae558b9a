#!/bin/sh
# check-dump.sh - `check --dump` prints the effective config, secrets
# redacted, and its output loads again to the same dump (round trip).
. "$srcdir/tests/lib/common.sh"
t_tmpdir

printf 'x\n' > "$T_TMP/kh"
printf 'pw\n' > "$T_TMP/pw"; chmod 600 "$T_TMP/pw"
cat > "$T_TMP/a.conf" <<'CONF'
[integration]
name = acme
state_dir = state
[source "retail-1"]
url = sftp://pos@127.0.0.1:2222/outbound
known_hosts = kh
password_file = pw
[parse]
delimiter = \t
[map]
store_id = column "Store Nbr"
gtin = column "UPC"   trim gtin
txn_date = column "Week Ending" date "%m/%d/%Y"
quantity = column "Units" decimal thousands
[verify]
trusted_key = RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3
trusted_key = RWSdbzO140cELjh8lkBoBpp/UBg1pd9NgoPZF+y6ZSsEjavog68aNfMF
[output]
url = https://pos:s3cr3tpass@127.0.0.1:8443/api/v1
CONF
"$TRADEDROP" check --dump -c "$T_TMP/a.conf" > "$T_TMP/dump1" 2> "$T_TMP/err"
t_is $? 0 "check --dump exits 0"
t_grep "$T_TMP/dump1" "state_dir = $T_TMP/state" "relative path shown resolved"
t_grep "$T_TMP/dump1" "batch_records = 5000" "defaults shown"
t_grep "$T_TMP/dump1" "landing_dir = $T_TMP/state/landing" "derived default shown"
t_grep "$T_TMP/dump1" 'gtin = column "UPC" trim gtin' "map shown in canonical form"
t_grep "$T_TMP/dump1" "url = https://pos:REDACTED@127.0.0.1:8443/api/v1" \
	"password in a URL redacted"
t_grep "$T_TMP/dump1" "url = sftp://pos@127.0.0.1:2222/outbound" \
	"a URL without a password shown as written"
t_ok "$(grep -c s3cr3tpass "$T_TMP/dump1")" "the password never appears"
t_is "$(grep -c '^trusted_key = ' "$T_TMP/dump1")" 2 "repeated keys all shown"
t_grep "$T_TMP/dump1" 'delimiter = \t' "tab delimiter shown as \\t"
t_grep "$T_TMP/dump1" "sync_sla = 26h" \
	"a default is shown (every key is acted on: none is commented out)"
t_is "$(grep -c 'not supported by this version' "$T_TMP/dump1")" 0 \
	"no key is marked unsupported"

# round trip: the dump is a valid config giving the same dump
cp "$T_TMP/dump1" "$T_TMP/b.conf"
"$TRADEDROP" check --dump -c "$T_TMP/b.conf" > "$T_TMP/dump2" 2> "$T_TMP/err"
t_is $? 0 "the dump loads as a config"
sed 1d "$T_TMP/dump1" > "$T_TMP/d1"; sed 1d "$T_TMP/dump2" > "$T_TMP/d2"
cmp -s "$T_TMP/d1" "$T_TMP/d2"
t_is $? 0 "dump of the dump is identical (round trip)"
t_done
