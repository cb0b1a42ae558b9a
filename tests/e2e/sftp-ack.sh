#!/bin/sh
# sftp-ack.sh - ack_dir: the 997s of X12 drops fetched from an SFTP source
# are uploaded to its ack_dir on a real OpenSSH sshd (internal-sftp) once
# the transmission is durable: under a temporary name, then renamed, the
# same bytes as the archive's copy, recorded in state.db and the audit
# log, each once; an upload that fails is Tier 1 (once exits 3) and goes
# at the next run; a drop put in landing by hand is not uploaded anywhere,
# even under the name and size of a file fetched.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/sshd.sh"
sshd_require
t_tmpdir
trap 'sshd_stop; rm -rf "$T_TMP"' EXIT
chmod 755 "$T_TMP"	# the test user reaches its files below
sshd_start "$T_TMP/sshd" || t_skip_all "sshd did not start"
KH=$T_TMP/known_hosts
sshd_known_hosts "$KH"
D=$srcdir/tests/data/x12
S=$T_TMP/state
R=$T_TMP/remote
A=$T_TMP/acks
mkdir -p "$R" "$A"
chown "$SSHD_UID:$SSHD_UID" "$R" "$A"
cat > "$T_TMP/t.conf" <<CONF
[integration]
name = acme
state_dir = $S
max_reject_ratio = 1
[source "retailer"]
url = sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT$R
pattern = *.x12
known_hosts = $KH
identity = $SSHD_KEY
connect_timeout = 5s
stable_time = 0s
ack_dir = $A
[parse]
format = x12
[output]
url = file://$T_TMP/out
CONF
"$TRADEDROP" check -c "$T_TMP/t.conf" > /dev/null 2>&1
t_ok $? "check accepts ack_dir"
poll() {	# one once; its log in $T_TMP/log, its exit status in $RC
	"$TRADEDROP" once -c "$T_TMP/t.conf" > /dev/null 2> "$T_TMP/log"
	RC=$?
	cat "$T_TMP/log" >> "$T_TMP/all.log"
}
put() { cp "$D/$1" "$R/$1"; chown "$SSHD_UID:$SSHD_UID" "$R/$1"; }
arch() {	# arch CTL: the archive's copy of our 997 number CTL
	find "$S/archive" -name "997-$(printf %09d "$1").x12" | head -1
}

put sdq-4010.x12
put bad-se-count.x12
poll	# ready = stable: listed
poll	# fetched, processed, acknowledged
t_is "$RC" 1 "the second poll fetches both (one is quarantined: exit 1)"
t_is "$(ls "$A" | tr '\n' ' ')" "997-000000001.x12 997-000000002.x12 " \
    "both 997s are in ack_dir under their final names, no temporary left"
cmp -s "$A/997-000000001.x12" "$(arch 1)" && cmp -s "$A/997-000000002.x12" "$(arch 2)"
t_ok $? "the uploaded 997s are the archive's bytes"
cat "$A"/997-* > "$T_TMP/both"
t_grep "$T_TMP/both" "AK5*R*4~" "the rejected group's 997 went too"
t_grep "$T_TMP/log" "event=ack_uploaded source=retailer transmission_id=" "each upload is logged"
t_is "$(grep -c '"event":"ack_uploaded"' "$S/audit.log")" 2 "each upload is in the audit log"
t_is "$(sqlite3 "$S/state.db" 'SELECT count(*) FROM x12_acks WHERE uploaded_at IS NOT NULL')" 2 \
    "state.db records both uploaded"

# again: nothing new, nothing uploaded twice
cp "$A/997-000000001.x12" "$T_TMP/first"
poll
t_is "$(grep -c 'event=ack_uploaded' "$T_TMP/log")" 0 "a later poll uploads nothing again"
cmp -s "$A/997-000000001.x12" "$T_TMP/first"
t_ok $? "and leaves the uploaded 997 as it was"

# ack_dir not writable: Tier 1, the next run uploads it
chmod 555 "$A"
put multi.x12
poll; poll
t_is "$RC" 3 "an upload that fails makes once exit 3"
t_grep "$T_TMP/log" "event=sftp_ack_failed source=retailer" "the failed upload is logged"
t_grep "$T_TMP/log" "tier=1" "as Tier 1"
t_is "$(ls "$A" | grep -c '^997-00000000[34]')" 0 "nothing of multi's 997s is in ack_dir"
chmod 755 "$A"
poll
t_is "$RC" 0 "the next run uploads them and exits 0"
t_is "$(ls -A "$A" | tr '\n' ' ')" \
    "997-000000001.x12 997-000000002.x12 997-000000003.x12 997-000000004.x12 " \
    "multi's two 997s are there, no temporary name left"

# a drop put in landing by hand came from no source: its 997 stays local
cp "$D/ui-5010.x12" "$S/landing/"
poll
t_ok "$([ -n "$(arch 5)" ] && [ ! -e "$A/997-000000005.x12" ]; echo $?)" \
    "a landing drop's 997 is written but not uploaded"
# nor one under the name and size of a file fetched from the source
# (landing is writable by others): its 997 went to the retailer as one of
# its own interchange, the name and size of what was fetched its only test
sed 's/\*000000101\*/*000000777*/; s/\*101\*X/*777*X/; s/GE\*1\*101~/GE*1*777~/; s/IEA\*1\*000000101~/IEA*1*000000777~/' \
    "$D/sdq-4010.x12" > "$S/landing/sdq-4010.x12"
t_is "$(stat -c %s "$S/landing/sdq-4010.x12")" "$(stat -c %s "$D/sdq-4010.x12")" \
    "a forged drop of the fetched sdq-4010.x12's name and size"
poll
t_ok "$([ -n "$(arch 6)" ] && [ ! -e "$A/997-000000006.x12" ]; echo $?)" \
    "a drop of a fetched file's name and size, other bytes: its 997 is not uploaded"
t_done
