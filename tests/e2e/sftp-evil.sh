#!/bin/sh
# sftp-evil.sh - the SFTP source against a lying SFTP server: sshd on
# 127.0.0.1 (tests/lib/sshd.sh) whose SFTP subsystem is
# tests/lib/evil-sftp.py, an SFTP v3 server that serves a directory
# honestly unless a per-session scenario (JSON) tells it to lie. Each case
# runs `tradedrop once` a few times and checks what the man pages promise.
#
# The cases after "findings" are the defects its first run found (stop
# 39's attack, findings 1 to 8), each checked as mended.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/sshd.sh"
sshd_require
: "${top_builddir:=.}"
t_tmpdir
trap 'sshd_stop; rm -rf "$T_TMP"' EXIT
chmod 755 "$T_TMP"
cp "$srcdir/tests/lib/evil-sftp.py" "$T_TMP/evil-sftp.py"
chmod 755 "$T_TMP/evil-sftp.py"
CTL=$T_TMP/ctl.json
SSHD_FORCE_COMMAND="/usr/bin/python3 $T_TMP/evil-sftp.py $CTL"
sshd_start "$T_TMP/sshd" || t_skip_all "sshd did not start"
KH=$T_TMP/known_hosts
sshd_known_hosts "$KH"
export TD_TEST_SFTP_IO_TIMEOUT=5
CSVHEAD='Store Nbr,Week Ending,UPC,Units'
mkcsv() { { echo "$CSVHEAD"; _i=0; while [ $_i -lt "$2" ]; do
	echo "$((100 + _i)),11/28/2026,041000001239,$((_i + 1))"
	_i=$((_i + 1)); done; } > "$1"; }
bigcsv() { /usr/bin/python3 -c "import sys
print('$CSVHEAD')
for i in range($2): print('%d,11/28/2026,041000001239,%d' % (100 + i, i + 1))" > "$1"; }

# case NAME [SOURCE LINES...]: $C its directory, $SRV the served one,
# $C/td.conf; `verify KEY VALUE` adds to [verify]
case_() {
	C=$T_TMP/$1; shift
	SRV=$C/srv
	mkdir -p "$SRV" "$C/srvstate"
	chown "$SSHD_UID:$SSHD_UID" "$SRV" "$C/srvstate"
	{
	cat <<CONF
[integration]
name = evil
state_dir = $C/state
[source "evil"]
url = sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT/srv
pattern = ${PATTERN:-*.csv}
known_hosts = $KH
identity = $SSHD_KEY
connect_timeout = 5s
stable_time = 0s
CONF
	for _l in "$@"; do echo "$_l"; done
	[ -n "${VERIFY:-}" ] && printf '[verify]\n%s\n' "$VERIFY"
	cat <<CONF
[map]
store_id = column "Store Nbr"
gtin = column "UPC" gtin
txn_date = column "Week Ending" date "%m/%d/%Y"
quantity = column "Units" decimal
[output]
url = file://$C/out
CONF
	} > "$C/td.conf"
}
# sessions JSON: the scenario list for the next connections (0 first)
sessions() {
	printf '{"root": "%s", "state": "%s", "sessions": %s}\n' "$SRV" \
	    "$C/srvstate" "$1" > "$CTL"
	rm -f "$C/srvstate/sessions"
}
own() { chown -R "$SSHD_UID:$SSHD_UID" "$SRV"; }
old() { touch -d '-10 min' "$@"; }
poll() {
	"$TRADEDROP" once -c "$C/td.conf" >> "$C/td.out" 2>> "$C/td.log"
	RC=$?
}
# got FILE: how many times FILE reached the archive
got() { find "$C/state/archive" -path '*/raw/*' -name "$1" -type f 2>/dev/null | grep -c .; }
# checksum: the verification outcomes of the manifests, sorted
checksum() { cat $(find "$C/state/archive" -name manifest.json) 2>/dev/null |
	grep -o '"checksum":"[a-z_]*"' | sort | tr '\n' ' '; }
landing() { ls -A "$C/state/landing" 2>/dev/null | tr '\n' ' '; }

# ---------------------------------------------------------------- held
# hostile names: refused and logged, nothing written outside landing
case_ names
mkcsv "$SRV/d.csv" 3; old "$SRV/d.csv"; own
sessions '[{"extra": [{"name": "../../escape.csv"}, {"name": "sub/x.csv"},
 {"name": "nl\nx.csv"}, {"name": "esc\u001b.csv"}, {"name": ".."},
 {"name": "'"$(/usr/bin/python3 -c "print('a' * 10000)")"'.csv"}]}]'
poll; poll
t_is "$(got d.csv)" 1 "names: the real file lands beside hostile names"
t_is "$(grep -c 'event=sftp_bad_name' "$C/td.log")" 10 "names: each hostile name logged at each poll"
t_is "$(ls "$T_TMP" | grep -c escape)" 0 "names: nothing written outside landing"

# lies in READ replies: never landed
for l in '{"read_extra": 5}' '{"read_eof_at": {"d.csv": 50}}' \
    '{"read_zero": true}' '{"wrong_id": true}' '{"huge_len": true}' \
    '{"read_status": 99}' '{"stat_attr": {"d.csv": {"size": 10}}}' \
    '{"malformed_data": "strlen"}' '{"malformed_data": "bigger"}'; do
	case_ read
	rm -rf "$C"; case_ read
	mkcsv "$SRV/d.csv" 3; old "$SRV/d.csv"; own
	sessions "[{}, $l]"
	poll; poll
	t_is "$(got d.csv)/$(landing)" "0/" "read lie $l: nothing landed, nothing left"
done

# broken NAME packets: no crash
for m in count namelen attrs ext short; do
	rm -rf "$T_TMP/name"; case_ name
	mkcsv "$SRV/d.csv" 3; old "$SRV/d.csv"; own
	sessions "[{\"malformed_name\": \"$m\"}]"
	poll; poll
	t_ok "$([ "$RC" -le 3 ]; echo $?)" "malformed NAME ($m): once exits $RC, no crash"
done

# after = delete on a server that says OK and deletes nothing: no duplicate
case_ afterlie "after = delete"
mkcsv "$SRV/d.csv" 3; old "$SRV/d.csv"; own
sessions '[{"remove": "lie"}]'
poll; poll; poll; poll
t_is "$(got d.csv)" 1 "after lie: landed once"

# ------------------------------------------------------------ findings
# 1. READDIR lists d.csv twice, the second entry with another mtime: the
# second download unlinked the first's .d.csv.part, nothing landed and
# the poll said "landing busy", at every poll. A name listed twice is
# refused as unsafe: neither entry is fetched, it is said why, and the
# file beside it lands
case_ dup
mkcsv "$SRV/d.csv" 3; mkcsv "$SRV/e.csv" 2; old "$SRV/d.csv" "$SRV/e.csv"; own
M=$(stat -c %Y "$SRV/d.csv")
sessions "[{\"dup\": [{\"name\": \"d.csv\", \"mtime\": $((M - 100))}]}]"
poll; poll; poll
t_is "$(got d.csv)/$(got e.csv)/$(landing)" "0/1/" "dup listing: neither entry fetched, nothing left in landing; the file beside it lands"
t_is "$(grep -c 'event=sftp_name_refused source=evil file=d.csv reason="the server lists the name more than once"' "$C/td.log")" 3 \
    "dup listing: refused and said at each poll (each a once)"
t_is "$(grep -c 'sftp_landing_busy' "$C/td.log")" 0 "dup listing: no misleading landing_busy"
# 1b. a sidecar listed twice: refused, and its data file waits for it
# (it was fetched without it, unverified)
case_ dupside
mkcsv "$SRV/d.csv" 3; (cd "$SRV" && sha256sum d.csv > d.csv.sha256)
old "$SRV/d.csv" "$SRV/d.csv.sha256"; own
M=$(stat -c %Y "$SRV/d.csv.sha256")
sessions "[{\"dup\": [{\"name\": \"d.csv.sha256\", \"mtime\": $((M - 100))}]}]"
poll; poll
t_is "$(got d.csv)/$(landing)" "0/" "dup sidecar: its data file not taken without it, nothing left in landing"
t_grep "$C/td.log" "event=sftp_data_waits source=evil file=d.csv" "dup sidecar: the data file waits, and it is said"

# 2. a sidecar whose download fails in the poll that fetches its data
# file: the data file goes on without it, the sidecar is "late" for good
case_ sidecarfail
mkcsv "$SRV/d.csv" 3; (cd "$SRV" && sha256sum d.csv > d.csv.sha256)
old "$SRV/d.csv" "$SRV/d.csv.sha256"; own
sessions '[{}, {"open_fail": ["d.csv.sha256"]}, {}]'
poll; poll; poll; poll
t_is "$(got d.csv)" 1 "sidecar refused once: the data file lands"
t_is "$(checksum)" '"checksum":"ok" ' "sidecar refused once: it is checked with its sidecar"
t_grep "$C/td.log" "event=sftp_data_waits source=evil file=d.csv sidecar=d.csv.sha256" \
    "sidecar refused once: the data file waits for it, and it is said"

# 3. after = keep, a daily file of one name, its sidecar uploaded before
# it: the day-2 sidecar is taken for late (day 1's d.csv is listed)
case_ nextday
mkcsv "$SRV/d.csv" 3; (cd "$SRV" && sha256sum d.csv > d.csv.sha256)
touch -d '-1 day' "$SRV/d.csv" "$SRV/d.csv.sha256"; own
sessions '[{}]'
poll; poll
sleep 1.1	# the next day's sidecar: newer than the fetch of day 1's
mkcsv "$SRV/d2" 5; (cd "$SRV" && sha256sum d2 | sed 's/d2$/d.csv/' > d.csv.sha256); own
poll; poll
mv "$SRV/d2" "$SRV/d.csv"; own
poll; poll
t_is "$(got d.csv)" 2 "next day: both days land"
t_is "$(checksum)" '"checksum":"ok" "checksum":"ok" ' "next day: day 2 checked with its sidecar"

# 4. a sidecar fetched alone, then the pair replaced: the new data file is
# checked against the old sidecar still in landing
case_ stale
mkcsv "$SRV/o" 3; (cd "$SRV" && sha256sum o | sed 's/o$/d.csv/' > d.csv.sha256 && rm o); own
sessions '[{}]'
poll; poll
mkcsv "$SRV/d.csv" 5; (cd "$SRV" && sha256sum d.csv > d.csv.sha256)
touch -d '+2 sec' "$SRV/d.csv.sha256"; own
poll; poll; poll
t_is "$(grep -c 'code=checksum_mismatch' "$C/td.log")" 0 "stale sidecar: a consistent pair is not quarantined"
t_is "$(got d.csv)/$(checksum)" '1/"checksum":"ok" ' "stale sidecar: the new pair lands, checked with the new sidecar"
t_grep "$C/td.log" "event=sftp_sidecar_replaced source=evil file=d.csv.sha256" "stale sidecar: the old one replaced, and said"

# 5. DATA replies with request ids nobody asked for are kept by libssh2
# until the session ends: 60 of 200 kB before each of ~30 READs (with
# the I/O timeout of production: TD_TEST_SFTP_IO_TIMEOUT unset)
case_ flood
bigcsv "$SRV/x.csv" 25000; old "$SRV/x.csv"; own
sessions '[{}, {"flood": {"count": 60, "size": 200000}}]'
poll
# (not under make check-asan: ASan's shadow memory needs more address
# space than that; the session's own bound is checked all the same)
if [ -n "${ASAN_OPTIONS:-}" ]; then _lim=; else _lim="prlimit --as=1073741824"; fi
TD_TEST_SFTP_IO_TIMEOUT= $_lim "$TRADEDROP" once -c "$C/td.conf" >> "$C/td.out" 2>> "$C/td.log"
t_is "$(grep -c 'fatal: out of memory' "$C/td.log")" 0 "flood: memory bounded (1 GiB address space)"
t_grep "$C/td.log" "event=sftp_memory_limit source=evil" "flood: the session's bound is said"
t_grep "$C/td.log" "event=sftp_transfer_failed source=evil file=x.csv tier=1" "flood: the poll fails as Tier 1"

# 6. an endless READDIR of names with '/': one warning per name
case_ endless "poll_timeout = 3s"
sessions '[{"endless": {"kind": "bad", "batch": 200}}]'
poll
t_ok "$([ "$(grep -c 'event=sftp_bad_name' "$C/td.log")" -lt 10000 ]; echo $?)" \
    "endless bad names: the log is bounded ($(grep -c 'event=sftp_bad_name' "$C/td.log") lines in 3 s)"

# 7. a download under 1 MiB cut by the death of the process (kill -9, an
# out-of-memory exit), then the file leaves the server: .NAME.part stays
case_ orphan
bigcsv "$SRV/s.csv" 20000; old "$SRV/s.csv"; own
sessions '[{}, {"read_stall_at": {"s.csv": 300000}}, {}]'
poll
"$TRADEDROP" once -c "$C/td.conf" >> "$C/td.out" 2>> "$C/td.log" &
_p=$!; sleep 3; kill -9 $_p; wait $_p 2>/dev/null
rm -f "$SRV/s.csv"
poll; poll
t_is "$(landing)" ".s.csv.part " "orphan part: within the hour it stays (a download of another source may be under way)"
touch -d '-2 hours' "$C/state/landing/.s.csv.part"
poll
t_is "$(landing)" "" "orphan part: removed once its file is gone and it is an hour old"
t_grep "$C/td.log" "event=sftp_part_removed source=evil file=s.csv" "orphan part: and it is said"

# 8. after = delete on a server that answers each LSTAT and REMOVE 3 s
# late (within the 5 s I/O timeout): `after` never checks poll_timeout
case_ slowafter "after = delete" "poll_timeout = 5s"
for _f in 1 2 3 4 5 6; do mkcsv "$SRV/f$_f.csv" $_f; done; old "$SRV"/*.csv; own
sessions '[{}, {"delay": {"lstat": 3, "remove": 3}}, {}, {}]'
poll
_s=$(date +%s); poll; _t=$(( $(date +%s) - _s ))
t_ok "$([ $_t -lt 15 ]; echo $?)" "slow after: the poll stops near poll_timeout (5 s; took $_t s)"
t_is "$(grep -c 'event=sftp_after_deferred source=evil' "$C/td.log"):$(grep -c 'event=sftp_transfer_failed' "$C/td.log")" "1:0" \
    "slow after: the rest of after is deferred, said once, and the poll is no Tier 1 failure"
poll; poll
t_is "$(ls "$SRV" | grep -c 'csv$'):$(for _f in 1 2 3 4 5 6; do got f$_f.csv; done | tr -d '\n')" "0:111111" \
    "slow after: the next polls (a server answering at once) delete the rest, each file fetched once"

# 9. a server that lists a file of any size filled landing at every poll
# (a download reads up to the listed size): max_file_size leaves a larger
# one, and its sidecar, on the server; the file beside them lands
case_ big "max_file_size = 100K"
bigcsv "$SRV/x.csv" 25000; (cd "$SRV" && sha256sum x.csv > x.csv.sha256)
mkcsv "$SRV/s.csv" 2; old "$SRV"/*; own
sessions '[{}]'
poll; poll
t_is "$(got x.csv)/$(got s.csv)/$(landing)" "0/1/" "max_file_size: the larger file not fetched, the small one landed, nothing left"
t_is "$(grep -c 'event=sftp_name_refused source=evil file=x.csv reason="larger than max_file_size"' "$C/td.log"):$(grep -c 'event=sftp_name_refused source=evil file=x.csv.sha256 ' "$C/td.log")" \
    "2:2" "max_file_size: it and its sidecar refused, said at each poll (each a once)"
t_ok "$([ -e "$SRV/x.csv" ] && [ -e "$SRV/x.csv.sha256" ]; echo $?)" "max_file_size: both left on the server"

t_done
