#!/bin/sh
# security.sh - the security properties of issue 19, as tests, for both
# `tradedrop once` and `tradedrop run`:
#   1. no configuration key turns TLS verification or host-key checking
#      off: every plausible such key is refused with FILE:LINE by check,
#      once and run, and the key table holds none;
#   2. TLS: a server certificate from an untrusted CA, for another host
#      name, or expired, and a CA file that trusts nothing, refuse the
#      delivery, and nothing reaches the server (once; run across SIGHUP
#      reloads);
#   3. SSH: an unknown, changed or @revoked host key refuses the source,
#      and known_hosts stays byte-identical (never learned; nothing in
#      ~/.ssh either) (once; run across reloads);
#   4. secret files readable or writable by group or others, or owned by
#      another user, and known_hosts, CA and trusted key files writable
#      by group or others or owned by another user, are refused naming
#      the file and line (check, once, run; a SIGHUP reload keeps the
#      running config); so is the configuration file itself;
#   5. names with control characters, newlines, terminal escapes, "../",
#      bytes that are not UTF-8, 255 bytes in landing (the most a file
#      system holds), 4,000 bytes in archive members and from an SFTP
#      server that lies in its listing (tests/lib/evil-sftp.py): no
#      crash, taken or refused as tradedrop(8) says, and never a raw
#      control byte in the log, the audit log, the JSON files or what the
#      operator commands (try included) print;
#   6. symbolic links (to a file outside, to a root-only file, dangling,
#      to a directory), FIFOs, character and block devices, sockets, hard
#      links and directories in landing are never followed or read, and
#      each is logged by name - by the daemon once, not at every pass;
#   7. confinement: a full cycle of once and of run (SFTP intake,
#      checksum, zip, map, delivery, quarantine, dead letters, audit,
#      files large enough for SQLite's temporary files) inside a mount
#      namespace where everything but state_dir and the file:// output
#      directory is read-only; and a read-only output, landing or state
#      directory, or metrics textfile, is an error naming it, never a
#      crash, a loss, or a file taken again and again.
# What attack*.sh, landing.sh, sftp.sh, https.sh and conf-errors.sh prove
# already (once only, mostly) is not repeated. Parts that need root
# (sshd, mknod, chown, mount namespaces) print SKIP otherwise. About a
# minute and a half on a loaded 2-core machine.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/run-lib.sh"
. "$srcdir/tests/lib/sshd.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
command -v openssl > /dev/null || t_skip_all "openssl not installed"
command -v timeout > /dev/null || t_skip_all "timeout (coreutils) not installed"
. "$srcdir/tests/lib/https-lib.sh"
. "$srcdir/tests/lib/security-lib.sh"
trap 'run_cleanup; sshd_stop; for p in $PEERS; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$T_TMP"' EXIT
chmod 755 "$T_TMP"
HOME=$T_TMP/home
export HOME
mkdir "$HOME"
ROOT=0
[ "$(id -u)" -eq 0 ] && ROOT=1
skip_n() { _k=$1; shift; while [ "$_k" -gt 0 ]; do t_skip "$@"; _k=$((_k - 1)); done; }
SSHD=0
if [ $ROOT -eq 1 ] && [ -x "$SSHD_BIN" ] && command -v ssh-keygen > /dev/null &&
    unshare --mount --pid --fork true 2> /dev/null; then
	SSHD=1
fi

# conf FILE STATE OUTPUT-URL [LINES...]: drops of run_drop (run-lib.sh),
# settle = 0; a failed delivery opens the breaker (once exits 3), which
# lets a probe through every second; LINES go after [output]
conf() {
	_f=$1 _s=$2 _o=$3; shift 3
	{ printf '[integration]\nname = acme\nstate_dir = %s\n' "$_s"
	  printf '[watch]\nsettle = 0\n[map]\n'
	  printf 'store_id = column "Store Nbr"\ngtin = column "UPC" gtin\n'
	  printf 'txn_date = column "Week Ending" date "%%m/%%d/%%Y"\n'
	  printf 'quantity = column "Units" decimal\ntxn_ref = column "Ticket"\n'
	  printf 'key = store_id, gtin, txn_date, txn_ref\n'
	  printf '[output]\nurl = %s\ntimeout = 5s\nmax_backoff = 1s\n' "$_o"
	  printf 'breaker_failures = 1\nbreaker_cooldown = 1s\n'
	  for _l in "$@"; do echo "$_l"; done; } > "$_f.tmp"
	mv "$_f.tmp" "$_f"
}
# count PATTERN FILE: lines of FILE holding the fixed string PATTERN
count() { grep -cF -- "$1" "$2" 2> /dev/null; }
# clean NAME FILE...: no raw control byte and no invalid UTF-8 in FILEs
clean() {
	_n=$1; shift
	_bad=$(for _f in "$@"; do sec_raw_bytes "$_f" | sed "s|^|$(basename "$_f"):|"; done)
	t_is "$_bad" "" "$_n"
}
# json_clean NAME DIR: every JSON and JSON-lines file tradedrop wrote
# under DIR reads as strict JSON
json_clean() {
	_bad=$(find "$2" -type f \( -name '*.json' -o -name '*.ndjson' -o \
	    -name audit.log \) -exec sh -c '. "$1"; PY=$2; shift 2; sec_json_lines "$@"' \
	    sh "$srcdir/tests/lib/security-lib.sh" "$PY" {} +)
	t_is "$_bad" "" "$1"
}
# peer_reqs DIR: requests the HTTPS peer in DIR recorded
peer_reqs() { cat "$1/requests.ndjson" 2> /dev/null | wc -l | tr -d ' '; }

# ================================================ 1. no key turns checks off
# check, once and run refuse every key that could weaken TLS or host-key
# checking (there is none: each is unknown), naming file and line; and
# the key table holds no such name for a later version to add silently.
printf 'x\n' > "$T_TMP/kh0"
printf 'pw\n' > "$T_TMP/pw0"
chmod 600 "$T_TMP/pw0"
conf "$T_TMP/c0.conf" "$T_TMP/s0" "file://$T_TMP/o0"
bad=
n=0
while IFS='|' read -r sec line; do
	n=$((n + 1))
	{ cat "$T_TMP/c0.conf"
	  case $sec in
	  source) printf '[source "s"]\nurl = sftp://pos@127.0.0.1/out\n'
		  printf 'known_hosts = kh0\npassword_file = pw0\n' ;;
	  *) printf '[%s]\n' "$sec" ;;
	  esac
	  echo "$line"; } > "$T_TMP/w.conf"
	L=$(wc -l < "$T_TMP/w.conf")
	"$TRADEDROP" check -c "$T_TMP/w.conf" > "$T_TMP/w.out" 2>&1
	rc=$?
	k=${line%% =*}
	if [ $rc -ne 2 ] || ! grep -qF "$T_TMP/w.conf:$L: unknown key \"$k\"" "$T_TMP/w.out"; then
		bad="$bad [$sec] $line (exit $rc: $(head -1 "$T_TMP/w.out"))"
	fi
done <<'KEYS'
output|tls_verify = no
output|insecure = yes
output|verify = no
output|verify_peer = no
output|verify_host = no
output|ssl_verify_peer = 0
output|ssl_verify_host = 0
output|ssl_no_verify = yes
output|tls_insecure_skip_verify = true
output|ca_verify = off
output|ca_path = /
output|pinned_public_key = none
source|strict_host_key_checking = no
source|StrictHostKeyChecking = no
source|host_key_check = off
source|hostkey_verify = no
source|accept_new_host_keys = yes
source|trust_on_first_use = yes
source|known_hosts_learn = yes
source|insecure = yes
integration|insecure = yes
integration|tls_verify = no
verify|tls = off
KEYS
t_is "$bad" "" "check refuses each of $n keys that could weaken TLS or host-key checking, with FILE:LINE"

refused() {	# refused NAME SECTION-AND-LINES WANT
	{ cat "$T_TMP/c0.conf"; printf "$2"; } > "$T_TMP/w.conf"
	"$TRADEDROP" check -c "$T_TMP/w.conf" > "$T_TMP/w.out" 2>&1
	t_is "$? $(grep -cF -- "$3" "$T_TMP/w.out")" "2 1" "$1"
}
sed -i '/^url = file:/d' "$T_TMP/c0.conf"
L=$(($(wc -l < "$T_TMP/c0.conf") + 2))
refused "an http:// output is refused" '[output]\nurl = http://127.0.0.1:1/api\n' \
	"w.conf:$L: url = http://127.0.0.1:1/api: must be https://HOST/PATH or file:///DIR"
refused "a source without known_hosts is refused" \
	'[source "s"]\nurl = sftp://pos@127.0.0.1/out\npassword_file = pw0\n' \
	'source "s": missing required key "known_hosts"'
refused "known_hosts = /dev/null is refused" \
	'[source "s"]\nurl = sftp://pos@127.0.0.1/out\nknown_hosts = /dev/null\npassword_file = pw0\n' \
	"known_hosts /dev/null: not a regular file"
refused "ca_file = /dev/null is refused" '[output]\nurl = https://127.0.0.1:1/api\nca_file = /dev/null\n' \
	"ca_file /dev/null: not a regular file"
conf "$T_TMP/c0.conf" "$T_TMP/s0" "file://$T_TMP/o0"

awk '/^X\([a-z_]+, [a-z0-9_]+,/ { sub(/^X\(/, ""); split($0, f, ", "); print f[1] "." f[2] }' \
	"$srcdir/common/conf-table.h" > "$T_TMP/keys"
t_ok "$([ "$(wc -l < "$T_TMP/keys")" -gt 60 ]; echo $?)" "the key table was read"
t_is "$(grep -iE '\.(.*insecure.*|.*_?verify(_.*)?|.*strict.*|.*tofu.*|.*learn.*|skip_(verify|check|tls).*|accept_.*|ssl_.*|tls_.*|.*host_?key.*)$' "$T_TMP/keys" | tr '\n' ' ')" "" \
	"no key of the table reads as one that could turn a check off"

{ cat "$T_TMP/c0.conf"; printf '[output]\ninsecure = yes\n'; } > "$T_TMP/w.conf"
L=$(wc -l < "$T_TMP/w.conf")
"$TRADEDROP" once -c "$T_TMP/w.conf" > "$T_TMP/w.out" 2>&1
t_is "$? $(count "w.conf:$L: unknown key \"insecure\"" "$T_TMP/w.out")" "2 1" "once refuses it too (exit 2, FILE:LINE)"
timeout 20 "$TRADEDROP" run --foreground -c "$T_TMP/w.conf" > "$T_TMP/w.out" 2>&1
t_is "$? $(count "w.conf:$L: unknown key \"insecure\"" "$T_TMP/w.out")" "2 1" "run refuses it too (exit 2, FILE:LINE)"
t_ok "$([ ! -e "$T_TMP/s0/state.db" ]; echo $?)" "and nothing was started"

# ======================================================== 2. TLS at delivery
# A server that is not the reconciler: its certificate from another CA,
# from the right CA for another name, from the right CA but expired; and
# a ca_file that trusts nothing. Each refuses the delivery (once exits 3,
# the batch stays spooled), and the server never sees a request.
C=$T_TMP/pki
sh "$srcdir/tests/lib/mkca.sh" "$C" || t_skip_all "mkca.sh failed"
sec_mkcert "$C" wrongname "DNS:other.example" 30 || t_skip_all "cannot make a certificate"
sec_mkcert "$C" expired "IP:127.0.0.1,DNS:localhost" -1 || t_skip_all "cannot make a certificate"
: > "$C/empty.pem"
peer_start "$T_TMP/p-good" --cert "$C/server.pem" --key "$C/server.key" || t_skip_all "peer"
P_GOOD=$PORT
peer_start "$T_TMP/p-rogue" --cert "$C/rogue-server.pem" --key "$C/rogue-server.key" || t_skip_all "peer"
P_ROGUE=$PORT
peer_start "$T_TMP/p-wrongname" --cert "$C/wrongname.pem" --key "$C/wrongname.key" || t_skip_all "peer"
P_WRONGNAME=$PORT
peer_start "$T_TMP/p-expired" --cert "$C/expired.pem" --key "$C/expired.key" || t_skip_all "peer"
P_EXPIRED=$PORT
# tls_conf NAME KIND: a config delivering to the peer of KIND
tls_conf() {
	case $2 in
	rogue) _p=$P_ROGUE _ca=$C/ca.pem ;;
	wrongname) _p=$P_WRONGNAME _ca=$C/ca.pem ;;
	expired) _p=$P_EXPIRED _ca=$C/ca.pem ;;
	emptyca) _p=$P_GOOD _ca=$C/empty.pem ;;
	good) _p=$P_GOOD _ca=$C/ca.pem ;;
	esac
	conf "$T_TMP/$1.conf" "$T_TMP/$1" "https://127.0.0.1:$_p/api/v1" "ca_file = $_ca"
}
for k in rogue wrongname expired emptyca; do
	tls_conf t-$k $k
	mkdir -p "$T_TMP/t-$k/landing"
	run_drop "$T_TMP/t-$k/landing" a.csv 2
	timeout 60 "$TRADEDROP" once -c "$T_TMP/t-$k.conf" 2> "$T_TMP/t-$k.log"
	rc=$?
	"$TRADEDROP" status --json -c "$T_TMP/t-$k.conf" > "$T_TMP/t-$k.st" 2>&1
	t_is "$rc $(count event=delivery_retry "$T_TMP/t-$k.log") $(count '"outbox":{"batches":1' "$T_TMP/t-$k.st")" "3 1 1" \
		"once, $k: delivery refused (exit 3, a Tier 1 retry logged), the batch kept"
	case $k in
	rogue) why="SSL certificate problem: unable to get local issuer certificate" ;;
	wrongname) why="no alternative certificate subject name matches target host name '127.0.0.1'" ;;
	expired) why="SSL certificate problem: certificate has expired" ;;
	emptyca) why="error setting certificate file: $C/empty.pem" ;;
	esac
	t_is "$(count "$why" "$T_TMP/t-$k.log")" 1 "once, $k: the log says why ($why)"
	timeout 60 "$TRADEDROP" check --connect -c "$T_TMP/t-$k.conf" > "$T_TMP/t-$k.cc" 2>&1
	t_is $? 1 "check --connect, $k: refused"
	t_is "$(count "$why" "$T_TMP/t-$k.cc")" 1 "check --connect, $k: and says why"
done
echo "# $(grep -h -o 'error="[^"]*"' "$T_TMP"/t-*.log | sort -u | tr '\n' ' ')"
t_is "$(peer_reqs "$T_TMP/p-rogue") $(peer_reqs "$T_TMP/p-wrongname") $(peer_reqs "$T_TMP/p-expired") $(peer_reqs "$T_TMP/p-good")" \
	"0 0 0 0" "no request reached any of these servers"
# a certificate of the right CA without subjectAltName, whose common
# name holds terminal escapes and a newline: curl quotes it in its error,
# which reaches the operator's terminal through check --connect
printf 'basicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' > "$C/esc.ext"
if openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$C/esc.key" -subj "/CN=$(printf 'x\033[2J\033]0;PWNED\007 ok')" \
    -out "$C/esc.csr" > /dev/null 2>&1 &&
    openssl x509 -req -in "$C/esc.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" \
    -days 2 -extfile "$C/esc.ext" -out "$C/esc.pem" > /dev/null 2>&1 &&
    peer_start "$T_TMP/p-esc" --cert "$C/esc.pem" --key "$C/esc.key"; then
	conf "$T_TMP/t-esc.conf" "$T_TMP/t-esc" "https://127.0.0.1:$PORT/api/v1" "ca_file = $C/ca.pem"
	timeout 60 "$TRADEDROP" check --connect -c "$T_TMP/t-esc.conf" > "$T_TMP/t-esc.cc" 2>&1
	t_is "$? $(count "certificate subject name 'x?[2J?]0;PWNED? ok' does not match" "$T_TMP/t-esc.cc") $(tr -d '\n' < "$T_TMP/t-esc.cc" | LC_ALL=C grep -c "$(printf '[\001-\010\013-\037\177]')")" "1 1 0" \
		"check --connect: a hostile certificate's name is shown, its control characters replaced"
else
	t_skip "cannot make a certificate with escapes in its name"
fi

# run: the same four, one after another by SIGHUP, then the reconciler
tls_conf t-run expired
mkdir -p "$T_TMP/t-run/landing"
run_start "$T_TMP/t-run.conf" "$T_TMP/t-run.log" || t_skip_all "run did not start"
run_drop "$T_TMP/t-run/landing" b.csv 3
for k in expired wrongname rogue emptyca; do
	[ $k = expired ] || {
		N=$(count event=reloaded "$T_TMP/t-run.log")
		tls_conf t-run $k
		run_signal HUP
		wait_until 20 sh -c "[ \$(grep -c event=reloaded '$T_TMP/t-run.log') -gt $N ]"
	}
	N=$(count event=delivery_retry "$T_TMP/t-run.log")
	wait_until 30 sh -c "[ \$(grep -c event=delivery_retry '$T_TMP/t-run.log') -ge $((N + 2)) ]"
	rc=$?
	t_ok $rc "run, $k: every attempt refused (a retry logged each time)"
	[ $rc -eq 0 ] || tail -20 "$T_TMP/t-run.log" | sed 's/^/#   | /'
done
t_is "$(peer_reqs "$T_TMP/p-rogue") $(peer_reqs "$T_TMP/p-wrongname") $(peer_reqs "$T_TMP/p-expired") $(peer_reqs "$T_TMP/p-good")" \
	"0 0 0 0" "run: no request reached any of them"
tls_conf t-run good
run_signal HUP
wait_until 30 sh -c "grep -q event=file_delivered '$T_TMP/t-run.log'"
t_ok $? "run: once the configuration names the reconciler's CA, the batch is delivered"
run_stop
t_is "$(peer_reqs "$T_TMP/p-rogue") $(peer_reqs "$T_TMP/p-wrongname") $(peer_reqs "$T_TMP/p-expired")" \
	"0 0 0" "and the others still saw nothing"

# ================================================== 3. host keys, never learned
# known_hosts without the server's key (another host's entry, or empty),
# with another key for it, or with its key marked @revoked: every poll is
# refused, nothing is fetched, and known_hosts is byte-identical after
# (no key learned, nothing written to ~/.ssh either).
if [ $SSHD -eq 1 ] && sshd_start "$T_TMP/sshd"; then
	R=$T_TMP/r-keys
	mkdir -p "$R"
	run_drop "$R" k.csv 2
	chown -R "$SSHD_UID:$SSHD_UID" "$R"
	HK=$(cut -d' ' -f1,2 "$SSHD_HOSTKEY_PUB")
	ssh-keygen -q -t ed25519 -N '' -f "$T_TMP/other" < /dev/null > /dev/null
	OK=$(cut -d' ' -f1,2 "$T_TMP/other.pub")
	echo "[127.0.0.2]:$SSHD_PORT $HK" > "$T_TMP/kh-unknown"
	: > "$T_TMP/kh-empty"
	echo "[127.0.0.1]:$SSHD_PORT $OK" > "$T_TMP/kh-changed"
	printf '@revoked [127.0.0.1]:%s %s\n[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$HK" \
	    "$SSHD_PORT" "$HK" > "$T_TMP/kh-revoked"
	sshd_known_hosts "$T_TMP/kh-good"
	sha256sum "$T_TMP"/kh-* > "$T_TMP/kh.sums"
	# kh_conf NAME KIND: a config polling R with known_hosts kh-KIND
	kh_conf() {
		conf "$T_TMP/$1.conf" "$T_TMP/$1" "file://$T_TMP/$1-out" \
		    "[source \"pos\"]" "url = sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT$R" \
		    "pattern = *.csv" "known_hosts = $T_TMP/kh-$2" \
		    "identity = $SSHD_KEY" "ready = marker" "poll_interval = 1s" \
		    "connect_timeout = 5s"
	}
	: > "$R/k.csv.done"
	for k in unknown empty changed revoked; do
		kh_conf h-$k $k
		timeout 60 "$TRADEDROP" once -c "$T_TMP/h-$k.conf" 2> "$T_TMP/h-$k.log"
		rc=$?
		t_is "$rc $(find "$T_TMP/h-$k" -name k.csv 2> /dev/null | wc -l)" "3 0" \
			"once, $k host key: refused (exit 3), nothing fetched"
	done
	t_grep "$T_TMP/h-unknown.log" "event=sftp_hostkey_unknown" "an unknown key is named as such"
	t_grep "$T_TMP/h-changed.log" "event=sftp_hostkey_changed" "a changed key is named as such"
	t_grep "$T_TMP/h-revoked.log" "event=sftp_hostkey_revoked" \
		"a key marked @revoked is refused though a plain line lists it too"
	# the daemon: changed, unknown, empty, revoked, one after the other
	kh_conf h-run changed
	run_start "$T_TMP/h-run.conf" "$T_TMP/h-run.log" || t_skip_all "run did not start"
	for k in changed unknown empty revoked; do
		[ $k = changed ] || {
			N=$(count event=reloaded "$T_TMP/h-run.log")
			kh_conf h-run $k
			run_signal HUP
			wait_until 20 sh -c "[ \$(grep -c event=reloaded '$T_TMP/h-run.log') -gt $N ]"
		}
		N=$(count "event=source_polled source=pos" "$T_TMP/h-run.log")
		run_signal USR1
		wait_until 30 sh -c "[ \$(grep -c 'event=source_polled source=pos' '$T_TMP/h-run.log') -ge $((N + 2)) ]"
		t_is "$?,$(find "$T_TMP/h-run" -name k.csv | wc -l)" "0,0" \
			"run, $k host key: polled again and again, nothing fetched"
	done
	t_is "$(grep -c 'event=source_polled source=pos.*result=ok' "$T_TMP/h-run.log")" 0 \
		"run: no poll succeeded"
	t_ok "$(sha256sum -c --quiet "$T_TMP/kh.sums" > /dev/null 2>&1; echo $?)" \
		"every known_hosts file is byte-identical: no key was learned"
	t_is "$(find "$HOME" -mindepth 1 | wc -l)" 0 "nothing was written under HOME (no ~/.ssh/known_hosts)"
	kh_conf h-run good
	run_signal HUP
	wait_until 30 run_delivered "$T_TMP/h-run-out" 1
	t_ok $? "run: with the right key in known_hosts, the file is fetched and delivered"
	run_stop
	t_ok "$(sha256sum -c --quiet "$T_TMP/kh.sums" > /dev/null 2>&1; echo $?)" \
		"known_hosts still byte-identical after a successful login"
else
	skip_n 16 "needs root and sshd"
fi

# ====================================================== 4. secret files
# Each secret file readable or writable by group or others, or owned by
# another user, is refused, naming the file and the line that names it;
# check, once and run refuse it alike, and a SIGHUP reload keeps the
# running configuration.
K=$T_TMP/keys.d
mkdir -p "$K"
for f in id pp pw ck tok; do printf 'SECRET-%s\n' $f > "$K/$f"; chmod 600 "$K/$f"; done
printf 'CERT\n' > "$K/ck.pem"
conf "$T_TMP/sec.conf" "$T_TMP/sec" "https://127.0.0.1:1/api" \
    "client_cert = $K/ck.pem" "client_key = $K/ck" "token_file = $K/tok" \
    "[source \"pos\"]" "url = sftp://pos@127.0.0.1:1/out" "known_hosts = $T_TMP/kh0" \
    "identity = $K/id" "passphrase_file = $K/pp" "password_file = $K/pw" \
    "poll_interval = 1h"
"$TRADEDROP" check -c "$T_TMP/sec.conf" > "$T_TMP/sec.out" 2>&1
t_is $? 0 "secret files of mode 600 owned by root or the user pass"
# line FILE: the number of the line naming FILE in sec.conf
line() { grep -n " = $1\$" "$T_TMP/sec.conf" | cut -d: -f1; }
# loose CONF V GOOD FILE:KEY...: each FILE (in $K) made mode V in turn
# (V = owner: another user's), CONF checked, FILE put back (mode GOOD,
# root's); prints each FILE not refused as wanted, naming it and the line
loose() {
	_c=$1 _v=$2 _g=$3; shift 3
	for _fk in "$@"; do
		_f=${_fk%%:*} _k=${_fk#*:}
		if [ "$_v" = owner ]; then
			chown nobody "$K/$_f"
			_w="owned by uid $(id -u nobody), which is neither root nor the user tradedrop runs as"
		else
			chmod "$_v" "$K/$_f"
			case $_g$_v in
			600?[4-7]?|600??[4-7]) _w="readable by group or others (mode $_v)" ;;
			*) _w="writable by group or others (mode $_v); refusing it (chmod $_g)" ;;
			esac
		fi
		"$TRADEDROP" check -c "$_c" > "$T_TMP/loose.out" 2>&1
		_rc=$?
		_l=$(grep -n " = $K/$_f\$" "$_c" | cut -d: -f1)
		if [ $_rc -ne 2 ] || grep -q SECRET "$T_TMP/loose.out" ||
		    ! grep -qF "$(basename "$_c"):$_l: $_k $K/$_f: $_w" "$T_TMP/loose.out"; then
			echo "$_f(exit $_rc: $(head -1 "$T_TMP/loose.out"))"
		fi
		chmod "$_g" "$K/$_f"
		chown 0 "$K/$_f" 2> /dev/null
	done
}
for v in 640 604 620 602 owner; do
	if [ $v = owner ] && [ $ROOT -eq 0 ]; then
		t_skip "a file of another owner needs root to chown"
		continue
	fi
	t_is "$(loose "$T_TMP/sec.conf" $v 600 id:identity pp:passphrase_file \
	    pw:password_file ck:client_key tok:token_file)" "" \
		"each of identity, passphrase_file, password_file, client_key, token_file: $v is refused, naming file and line, never its content"
done
if [ $ROOT -eq 1 ]; then
	# owned by the user it switches to: accepted
	chown nobody "$K/tok"
	{ cat "$T_TMP/sec.conf"; printf '[integration]\nuser = nobody\n'; } > "$T_TMP/sec-user.conf"
	"$TRADEDROP" check -c "$T_TMP/sec-user.conf" > "$T_TMP/sec.out" 2>&1
	t_is $? 0 "a secret file owned by [integration] user is accepted"
	chown 0 "$K/tok"
else
	t_skip "needs root to chown"
fi
# what the checks are made against (known_hosts, ca_file,
# trusted_key_file): anyone may read them, only their owner write them
echo '[127.0.0.1]:1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ' > "$K/kh"
cp "$C/ca.pem" "$K/ca.pem"
$PY -c 'import base64, os; print("untrusted comment: test key\n" + base64.b64encode(b"Ed" + os.urandom(40)).decode())' > "$K/mini.pub"
chmod 644 "$K/kh" "$K/ca.pem" "$K/mini.pub"
conf "$T_TMP/trust.conf" "$T_TMP/sec" "https://127.0.0.1:1/api" "ca_file = $K/ca.pem" \
    "[verify]" "trusted_key_file = $K/mini.pub" \
    "[source \"pos\"]" "url = sftp://pos@127.0.0.1:1/out" "known_hosts = $K/kh" \
    "password_file = $K/pw"
"$TRADEDROP" check -c "$T_TMP/trust.conf" > "$T_TMP/sec.out" 2>&1
t_is $? 0 "known_hosts, ca_file and trusted_key_file of mode 644 owned by root or the user pass"
for v in 664 646 owner; do
	if [ $v = owner ] && [ $ROOT -eq 0 ]; then
		t_skip "a file of another owner needs root to chown"
		continue
	fi
	t_is "$(loose "$T_TMP/trust.conf" $v 644 kh:known_hosts ca.pem:ca_file \
	    mini.pub:trusted_key_file)" "" \
		"each of known_hosts, ca_file, trusted_key_file: $v is refused, naming file and line"
done
# the configuration file itself, which names all of them: the same rule
cp "$T_TMP/trust.conf" "$T_TMP/cf.conf"
for v in 664 646 owner; do
	if [ $v = owner ]; then
		[ $ROOT -eq 1 ] || { t_skip "a file of another owner needs root to chown"; continue; }
		chmod 644 "$T_TMP/cf.conf"; chown nobody "$T_TMP/cf.conf"
		w="cf.conf: owned by uid $(id -u nobody), which is neither root nor the user tradedrop runs as; refusing it (chown)"
	else
		chmod $v "$T_TMP/cf.conf"
		w="cf.conf: writable by group or others (mode $v); refusing it (chmod 644)"
	fi
	"$TRADEDROP" check -c "$T_TMP/cf.conf" > "$T_TMP/sec.out" 2>&1
	t_is "$? $(count "$w" "$T_TMP/sec.out")" "2 1" \
		"a configuration file $v is refused by check, naming it"
	"$TRADEDROP" once -c "$T_TMP/cf.conf" > "$T_TMP/sec.out" 2>&1
	t_is "$? $(count "$w" "$T_TMP/sec.out")" "2 1" "and by once"
	chown 0 "$T_TMP/cf.conf"
done
if [ $ROOT -eq 1 ]; then
	# its owner cannot vouch for it by naming itself [integration] user:
	# root would then send root's secrets where that user says
	{ cat "$T_TMP/trust.conf"; printf '[integration]\nuser = nobody\n'; } > "$T_TMP/cf.conf"
	chmod 644 "$T_TMP/cf.conf"; chown nobody "$T_TMP/cf.conf"
	"$TRADEDROP" check -c "$T_TMP/cf.conf" > "$T_TMP/sec.out" 2>&1
	t_is "$? $(count "cf.conf: owned by uid $(id -u nobody), which is neither root nor the user tradedrop runs as (it is [integration] user, which this file names: it cannot vouch for itself)" "$T_TMP/sec.out")" "2 1" \
		"a configuration file owned by the [integration] user it names is refused (run as root)"
	# the user it runs as may own it
	conf "$T_TMP/nb.conf" "$T_TMP/nb" "file://$T_TMP/nb-out"
	chmod 644 "$T_TMP/nb.conf"; chown nobody "$T_TMP/nb.conf"
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$TRADEDROP" check -c "$T_TMP/nb.conf" > "$T_TMP/sec.out" 2>&1
	t_is $? 0 "a configuration file owned by the user tradedrop runs as is accepted"
else
	t_skip "needs root to chown"
	t_skip "needs root to chown"
fi
# The directories above them: whoever may write one can put their own
# file in its place.
if [ $ROOT -eq 1 ]; then
	D=$T_TMP/pd/etc
	mkdir -p "$D/keys"
	cp "$T_TMP/trust.conf" "$D/p.conf"
	cp "$K/kh" "$D/keys/kh"
	sed -i "s|= $K/kh\$|= $D/keys/kh|" "$D/p.conf"
	chmod 644 "$D/p.conf" "$D/keys/kh"
	"$TRADEDROP" check -c "$D/p.conf" > "$T_TMP/sec.out" 2>&1
	t_is $? 0 "parents: the configuration in directories of mode 755 owned by root passes"
	# pd: group-writable by a group others are in, then others-writable
	for m in 775 757; do
		chgrp nogroup "$T_TMP/pd"; chmod $m "$T_TMP/pd"
		"$TRADEDROP" check -c "$D/p.conf" > "$T_TMP/sec.out" 2>&1
		t_is "$? $(count "p.conf: directory $T_TMP/pd is writable by group or others (mode $m); refusing it (chmod go-w $T_TMP/pd)" "$T_TMP/sec.out")" "2 1" \
			"parents: a directory of mode $m above the configuration file is refused, naming it"
	done
	chmod 1777 "$T_TMP/pd"
	"$TRADEDROP" check -c "$D/p.conf" > "$T_TMP/sec.out" 2>&1
	t_is $? 0 "parents: a sticky directory writable by all (as /tmp) passes"
	chmod 755 "$T_TMP/pd"; chgrp 0 "$T_TMP/pd"
	chown nobody "$D"
	"$TRADEDROP" check -c "$D/p.conf" > "$T_TMP/sec.out" 2>&1
	t_is "$? $(count "p.conf: directory $D is owned by uid $(id -u nobody), which is neither root nor the user tradedrop runs as; refusing it (chown)" "$T_TMP/sec.out")" "2 1" \
		"parents: the configuration's directory owned by another user is refused, naming it"
	chown 0 "$D"
	chown nobody "$D/keys"
	"$TRADEDROP" check -c "$D/p.conf" > "$T_TMP/sec.out" 2>&1
	t_grep "$T_TMP/sec.out" "p.conf:$(grep -n "= $D/keys/kh" "$D/p.conf" | cut -d: -f1): known_hosts $D/keys/kh: directory $D/keys is owned by uid $(id -u nobody), which is neither root nor the user tradedrop runs as; refusing it (chown)" \
		"parents: known_hosts in a directory of another user is refused, naming the line"
	{ cat "$D/p.conf"; printf '[integration]\nuser = nobody\n'; } > "$D/pu.conf"
	chmod 644 "$D/pu.conf"
	"$TRADEDROP" check -c "$D/pu.conf" > "$T_TMP/sec.out" 2>&1
	t_is $? 0 "parents: but accepted in a directory of [integration] user, as the file itself would be"
	chown 0 "$D/keys"
	# symbolic links: the directory holding one is on the way too, and
	# so is the link's owner
	mkdir -m 777 "$T_TMP/pd/shared"
	ln -s "$D/keys" "$T_TMP/pd/shared/keys"
	sed "s|= $D/keys/kh\$|= $T_TMP/pd/shared/keys/kh|" "$D/p.conf" > "$D/pl.conf"
	chmod 644 "$D/pl.conf"
	"$TRADEDROP" check -c "$D/pl.conf" > "$T_TMP/sec.out" 2>&1
	t_is "$? $(count "known_hosts $T_TMP/pd/shared/keys/kh: directory $T_TMP/pd/shared is writable by group or others (mode 777); refusing it (chmod go-w $T_TMP/pd/shared)" "$T_TMP/sec.out")" "2 1" \
		"parents: known_hosts reached through a link in a directory all may write is refused, naming that directory"
	ln -s "$D/p.conf" "$T_TMP/pd/shared/p.conf"
	"$TRADEDROP" check -c "$T_TMP/pd/shared/p.conf" > "$T_TMP/sec.out" 2>&1
	t_is "$? $(count "p.conf: directory $T_TMP/pd/shared is writable by group or others (mode 777); refusing it" "$T_TMP/sec.out")" "2 1" \
		"parents: so is the configuration file named through such a link"
	chmod 1777 "$T_TMP/pd/shared"
	"$TRADEDROP" check -c "$D/pl.conf" > "$T_TMP/sec.out" 2>&1
	t_is $? 0 "parents: through root's link in a sticky directory it passes"
	chown -h nobody "$T_TMP/pd/shared/keys"
	"$TRADEDROP" check -c "$D/pl.conf" > "$T_TMP/sec.out" 2>&1
	t_is "$? $(count "known_hosts $T_TMP/pd/shared/keys/kh: symbolic link $T_TMP/pd/shared/keys is owned by uid $(id -u nobody), which is neither root nor the user tradedrop runs as; refusing it (chown -h)" "$T_TMP/sec.out")" "2 1" \
		"parents: but not through another user's link there, which that user could point elsewhere"
	rm -rf "$T_TMP/pd/shared"
	# a relative -c: what the file names relative to itself is made
	# absolute, so that run, which leaves the working directory, uses
	# what was checked
	printf '[integration]\nname = rel\nstate_dir = st\n[map]\nstore_id = column "S"\ngtin = column "U" gtin\ntxn_date = column "D" date "%%Y-%%m-%%d"\nquantity = column "Q" decimal\n[output]\nurl = file://%s/rel-out\n' "$T_TMP" > "$D/rel.conf"
	chmod 644 "$D/rel.conf"
	(cd "$T_TMP/pd" && "$TRADEDROP" check --dump -c etc/rel.conf) > "$T_TMP/sec.out" 2>&1
	t_grep "$T_TMP/sec.out" "state_dir = $D/st" "a relative -c: state_dir relative to the file is made absolute"
else
	skip_n 12 "needs root to chown and chgrp"
fi
chmod 644 "$K/pw"
"$TRADEDROP" once -c "$T_TMP/sec.conf" > "$T_TMP/sec.out" 2>&1
t_is "$? $(count "sec.conf:$(line "$K/pw"): password_file $K/pw: readable" "$T_TMP/sec.out")" "2 1" \
	"once refuses a loose secret file (exit 2), naming it"
timeout 20 "$TRADEDROP" run --foreground -c "$T_TMP/sec.conf" > "$T_TMP/sec.out" 2>&1
t_is "$? $(count "sec.conf:$(line "$K/pw"): password_file $K/pw: readable" "$T_TMP/sec.out")" "2 1" \
	"run refuses it (exit 2), naming it"
chmod 600 "$K/pw"
run_start "$T_TMP/sec.conf" "$T_TMP/sec-run.log" || t_skip_all "run did not start"
chmod 640 "$K/tok"
run_signal HUP
wait_until 20 grep -q event=reload_failed "$T_TMP/sec-run.log"
t_ok $? "run: a reload with a loose secret file fails"
t_grep "$T_TMP/sec-run.log" "sec.conf:$(line "$K/tok"): token_file $K/tok: readable by group or others (mode 640)" \
	"and names it"
t_grep "$T_TMP/sec-run.log" 'action="kept the running config"' "the running configuration is kept"
t_is "$(grep -c SECRET "$T_TMP/sec-run.log")" 0 "no secret reached the log"
t_ok "$(kill -0 "$RUN_PID"; echo $?)" "the daemon goes on"
run_stop
chmod 600 "$K/tok"

# ============================================================ 5. names
# File names are the sender's text: control characters, a newline, a
# terminal escape, C1 controls, a bidirectional override, bytes that are
# not UTF-8, a 255-byte name (the most a file system holds). Each is
# taken (records name it exactly) or, not UTF-8, quarantined as
# bad_file_name; none crashes anything, and no raw control byte reaches
# the log, the JSON files or what the operator commands print.
NAMES='nl\nx.csv|esc\033[2J\033]0;owned\007.csv|cr\rdel\177.csv|bad\377\376.csv|c1\302\233x.csv|bidi\342\200\256vsc.csv|tab\tsp ace.csv|q"uo\\te=x.csv|-rf.csv'
NAMES="$NAMES|\\033[31m$($PY -c 'print("L" * 246, end="")').csv"
# drop_names DIR: one drop per name, written beside DIR and renamed in
drop_names() {
	_i=0
	printf '%s\n' "$NAMES" | tr '|' '\n' | while IFS= read -r _fmt; do
		_i=$((_i + 1))
		{ echo "Store Nbr,Week Ending,UPC,Units,Sales,Ticket"
		  echo "$_i,11/28/2026,041000001239,$_i,$_i.50,n$_i"; } > "$1/../.n$_i"
		mv "$1/../.n$_i" "$1/$(printf -- "$_fmt")"
	done
}
# names_check STATE OUT: "delivered quarantined" and the names the
# records give that are not the names dropped
names_check() {
	printf '%s\n' "$NAMES" | tr '|' '\n' | while IFS= read -r _fmt; do
		printf -- "$_fmt" | od -An -v -tx1 | tr -d ' \n'; echo; done > "$T_TMP/names.hex"
	$PY - "$1" "$2" "$T_TMP/names.hex" <<'PY'
import glob, gzip, json, sqlite3, sys
state, out, hexes = sys.argv[1:4]
want = {bytes.fromhex(h.strip()) for h in open(hexes) if h.strip()}
got = set()
for b in glob.glob(out + '/*/batch-*.ndjson.gz'):
    for l in gzip.open(b):
        got.add(json.loads(l)['source']['file'].encode('utf-8'))
db = sqlite3.connect(state + '/state.db')
q = [r[0] for r in db.execute("SELECT reason_code FROM transmissions WHERE state = 'quarantined'")]
print(len(got), ','.join(q), sorted(got - want))
PY
}
S5=$T_TMP/n1
mkdir -p "$S5/landing"
conf "$T_TMP/n1.conf" "$S5" "file://$T_TMP/n1-out"
drop_names "$S5/landing"
timeout 60 "$TRADEDROP" once -c "$T_TMP/n1.conf" 2> "$T_TMP/n1.log"
t_is $? 1 "once: names of every kind, one not UTF-8: exit 1 (one quarantined), no crash"
t_is "$(names_check "$S5" "$T_TMP/n1-out")" "9 bad_file_name []" \
	"once: nine delivered, each record naming its file exactly; the name that is not UTF-8 quarantined as bad_file_name"
clean "once: no raw control byte or invalid UTF-8 in the log" "$T_TMP/n1.log"
t_is "$(grep -vc '^ts=' "$T_TMP/n1.log")" 0 "once: every log line is a whole event (no name broke a line)"
k=0
for e in 'file="nl\nx.csv"' 'file="esc\x1b[2J\x1b]0;owned\x07.csv"' 'file="bad\xff\xfe.csv"' \
    'file="c1\xc2\x9bx.csv"' 'file="bidi\xe2\x80\xaevsc.csv"' 'file="q\"uo\\te=x.csv"'; do
	k=$((k + 1))
	t_grep "$T_TMP/n1.log" "$e" "once: name $k of 6 is logged escaped"
done
json_clean "once: every JSON file written reads as strict JSON" "$S5"
json_clean "once: every JSON file delivered reads as strict JSON" "$T_TMP/n1-out"
"$TRADEDROP" quarantine -c "$T_TMP/n1.conf" list > "$T_TMP/n1.ql" 2>&1
TQ=$(cut -d' ' -f1 "$T_TMP/n1.ql")
"$TRADEDROP" quarantine -c "$T_TMP/n1.conf" show "$TQ" > "$T_TMP/n1.qs" 2>&1
"$TRADEDROP" status -c "$T_TMP/n1.conf" > "$T_TMP/n1.st" 2>&1
"$TRADEDROP" status --json -c "$T_TMP/n1.conf" >> "$T_TMP/n1.st" 2>&1
"$TRADEDROP" hold -c "$T_TMP/n1.conf" list >> "$T_TMP/n1.st" 2>&1
"$TRADEDROP" prune --dry-run -c "$T_TMP/n1.conf" >> "$T_TMP/n1.st" 2>&1
clean "quarantine list and show, status, hold list, prune print no raw control byte" \
	"$T_TMP/n1.ql" "$T_TMP/n1.qs" "$T_TMP/n1.st"
t_grep "$T_TMP/n1.ql" 'file="bad\xff\xfe.csv"' "quarantine list names it escaped"

# the daemon: the same names dropped while it runs
S5=$T_TMP/n2
mkdir -p "$S5/landing"
conf "$T_TMP/n2.conf" "$S5" "file://$T_TMP/n2-out"
run_start "$T_TMP/n2.conf" "$T_TMP/n2.log" || t_skip_all "run did not start"
drop_names "$S5/landing"
wait_until 60 run_delivered "$T_TMP/n2-out" 9
t_ok $? "run: the nine are delivered"
wait_until 30 sh -c "grep -q event=file_quarantined '$T_TMP/n2.log'"
run_stop
t_is "$RUN_RC $(names_check "$S5" "$T_TMP/n2-out")" "0 9 bad_file_name []" \
	"run: each record names its file exactly; the one not UTF-8 is quarantined; exit 0"
clean "run: no raw control byte or invalid UTF-8 in the log" "$T_TMP/n2.log"
t_is "$(grep -vc '^ts=' "$T_TMP/n2.log")" 0 "run: every log line is a whole event"
json_clean "run: every JSON file written reads as strict JSON" "$S5"

# names inside archives: control characters, a 4,000-byte member name,
# one over the 4,096-byte limit, "../", an absolute name, not UTF-8
S5=$T_TMP/n3
mkdir -p "$S5/landing"
conf "$T_TMP/n3.conf" "$S5" "file://$T_TMP/n3-out"
$PY - "$S5/landing" <<'PY'
import io, sys, tarfile, zipfile
d = sys.argv[1]
tag = 0
def rows(n, bad=False):
    global tag
    tag += 1
    r = 'Store Nbr,Week Ending,UPC,Units,Sales,Ticket\n' + ''.join(
        '%d,11/28/2026,041000001239,%d,1.00,t%d-%d\n' % (i, i, tag, i) for i in range(1, n + 1))
    return (r + '9,11/28/2026,041000001235,1,1.00,bad\n' if bad else r).encode()
def zipped(path, members):
    with zipfile.ZipFile(path, 'w') as z:
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name), data)
def tarred(path, name, data):
    with tarfile.open(path, 'w:gz', format=tarfile.PAX_FORMAT) as t:
        i = tarfile.TarInfo(name); i.size = len(data)
        t.addfile(i, io.BytesIO(data))
# a member named with escapes and a newline, one record dead-lettered
zipped(d + '/.esc', [('esc\x1b[2J\x1b]0;owned\x07\nnl.csv', rows(30, True))])
tarred(d + '/.long', 'dir/\x1b[7m' + 'M' * 3986 + '.csv', rows(2))
tarred(d + '/.toolong', 'N' * 5000 + '.csv', rows(2))
zipped(d + '/.trav', [('../evil.csv', rows(2))])
zipped(d + '/.abs', [('/tmp/evil.csv', rows(2))])
zipped(d + '/.badutf', [('BADUTF8!.csv', rows(2))])
raw = open(d + '/.badutf', 'rb').read().replace(b'BADUTF8!', b'bad\xff\xfe\x80zz')
open(d + '/.badutf', 'wb').write(raw)
import os
for a, b in (('.esc', 'esc.zip'), ('.long', 'long.tar.gz'), ('.toolong', 'toolong.tar.gz'),
             ('.trav', 'trav.zip'), ('.abs', 'abs.zip'), ('.badutf', 'badutf.zip')):
    os.rename(d + '/' + a, d + '/' + b)
PY
cp "$S5/landing/esc.zip" "$T_TMP/esc.zip"
timeout 60 "$TRADEDROP" once -c "$T_TMP/n3.conf" 2> "$T_TMP/n3.log"
t_is $? 1 "archives with hostile member names: exit 1, no crash"
t_is "$(sqlite3 "$S5/state.db" "SELECT name || ':' || coalesce(reason_code, state) FROM transmissions ORDER BY name" | tr '\n' ' ')" \
	"abs.zip:path_traversal badutf.zip:bad_file_name esc.zip:delivered long.tar.gz:delivered toolong.tar.gz:archive_corrupt trav.zip:path_traversal " \
	"escapes and 4,000 bytes are taken; over 4,096 bytes, ../, an absolute name and bytes not UTF-8 are quarantined with their codes"
t_is "$($PY -c '
import glob, gzip, json, sys
m = set()
for b in glob.glob(sys.argv[1] + "/*/batch-*.ndjson.gz"):
    for l in gzip.open(b):
        m.add(json.loads(l)["source"]["member"])
print(sorted(len(x) for x in m), "esc\x1b[2J\x1b]0;owned\x07\nnl.csv" in m)' "$T_TMP/n3-out")" \
	"[24, 3998] True" "the records name their members exactly, the 4,000-byte one whole"
clean "archives: no raw control byte in the log" "$T_TMP/n3.log"
t_is "$(grep -vc '^ts=' "$T_TMP/n3.log")" 0 "archives: every log line is a whole event"
json_clean "archives: every JSON file written reads as strict JSON" "$S5"
t_is "$(find "$T_TMP" -name evil.csv | wc -l)" 0 "no member was written out under its own name"
"$TRADEDROP" try -c "$T_TMP/n3.conf" "$T_TMP/esc.zip" > "$T_TMP/try.out" 2> "$T_TMP/try.err"
t_grep "$T_TMP/try.err" 'gtin_check_digit' "try reports the dead-lettered record of the member"
clean "try prints the member's name escaped" "$T_TMP/try.err"

# ... and names from an SFTP server that lies in its listing
# (tests/lib/evil-sftp.py behind a real sshd): a 4,000-byte name, "..",
# "../evil.csv", "a/b.csv", a NUL, a newline, an escape, a carriage
# return, DEL, a 300-byte name. Each is refused and logged by name,
# escaped; none is opened; the names a file system could hold are fetched
# (the one that is not UTF-8 then quarantined); a long name does not hide
# the names after it.
if [ $SSHD -eq 1 ]; then
	sshd_stop
	LI=$T_TMP/liar
	mkdir -p "$LI/root/state"
	chmod 777 "$LI/root/state"	# the server runs as the test user
	cp "$srcdir/tests/lib/evil-sftp.py" "$LI/liar.py"
	set --
	i=0
	for h in $($PY -c 'print(" ".join(n.hex() for n in (
	    b"L" * 4000 + b".csv", b"..", b".", b"../evil.csv", b"a/b.csv",
	    b"nul\0x.csv", b"nl\nx.csv", b"esc\x1b[2J.csv", b"cr\r.csv",
	    b"del\x7f.csv", b"P" * 296 + b".csv",
	    b"good.csv", b"bad\xff.csv", b"c1\xc2\x9b.csv", b"sp ace.csv")))'); do
		i=$((i + 1))
		{ echo "Store Nbr,Week Ending,UPC,Units,Sales,Ticket"
		  echo "$i,11/28/2026,041000001239,$i,$i.50,s$i"; } > "$LI/data$i"
		touch -d '1 hour ago' "$LI/data$i"
		set -- "$@" "$h:$LI/data$i"
	done
	sec_spec "$LI/root" "$LI/req.log" "$@" > "$LI/spec.json"
	chmod 644 "$LI"/data* "$LI/liar.py" "$LI/spec.json"
	: > "$LI/req.log"
	chmod 666 "$LI/req.log"	# the server runs as the test user
	if SSHD_FORCE_COMMAND="/usr/bin/python3 $LI/liar.py $LI/spec.json" sshd_start "$T_TMP/sshd-liar"; then
		sshd_known_hosts "$LI/kh"
		# liar_conf NAME
		liar_conf() {
			conf "$T_TMP/$1.conf" "$T_TMP/$1" "file://$T_TMP/$1-out" \
			    "[source \"liar\"]" "url = sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT/remote/in" \
			    "known_hosts = $LI/kh" "identity = $SSHD_KEY" \
			    "poll_interval = 1s" "connect_timeout = 5s" \
			    "stable_time = 0s"
		}
		liar_conf l1
		timeout 60 "$TRADEDROP" once -c "$T_TMP/l1.conf" 2> "$T_TMP/l1.log"
		timeout 60 "$TRADEDROP" once -c "$T_TMP/l1.conf" 2>> "$T_TMP/l1.log"
		rc=$?
		t_is "$rc $(ls "$T_TMP/l1-out" 2> /dev/null | wc -l) $(sqlite3 "$T_TMP/l1/state.db" "SELECT group_concat(reason_code) FROM transmissions WHERE state = 'quarantined'")" \
			"1 4 bad_file_name" \
			"once: the four plain names fetched after a 4,000-byte one (one not UTF-8, quarantined), exit 1"
		t_is "$(grep -c 'event=sftp_bad_name' "$T_TMP/l1.log")" 18 \
			"once: each of the nine names refused is logged, at each poll"
		k=0
		for e in 'name=../evil.csv bytes=11' 'name=a/b.csv bytes=7' 'name="nl\nx.csv" bytes=8' \
		    'name="esc\x1b[2J.csv" bytes=11' 'name="cr\r.csv"' 'name="del\x7f.csv"' 'name=nul bytes=9' \
		    "name=$($PY -c 'print("L" * 255, end="")') bytes=4004" "bytes=300"; do
			k=$((k + 1))
			t_grep "$T_TMP/l1.log" "$e" "once: refused name $k of 9 is logged escaped"
		done
		clean "once: no raw control byte in the log" "$T_TMP/l1.log"
		t_is "$(grep -vc '^ts=' "$T_TMP/l1.log")" 0 "once: every log line is a whole event"
		t_is "$(grep '^OPEN ' "$LI/req.log" | cut -d' ' -f2 | sort -u | $PY -c '
import sys
print(sorted(bytes.fromhex(l.strip()).split(b"/")[-1] for l in sys.stdin))')" \
			"[b'bad\\xff.csv', b'c1\\xc2\\x9b.csv', b'good.csv', b'sp ace.csv']" \
			"only the plain names were opened on the server"
		t_is "$(find "$T_TMP/l1" "$T_TMP/l1-out" -name 'evil.csv' -o -name 'b.csv' | wc -l)" 0 \
			"nothing was written under a name the server gave with a /"
		liar_conf l2
		run_start "$T_TMP/l2.conf" "$T_TMP/l2.log" || t_skip_all "run did not start"
		wait_until 60 run_delivered "$T_TMP/l2-out" 3
		t_ok $? "run: the plain names are fetched and delivered"
		wait_until 30 sh -c "grep -q event=file_quarantined '$T_TMP/l2.log'"
		run_stop
		t_is "$RUN_RC $(grep -c 'event=sftp_bad_name.*bytes=4004' "$T_TMP/l2.log") $(grep 'event=sftp_listed' "$T_TMP/l2.log" | grep -c 'bad_names=0 ')" "0 1 0" \
			"run: the 4,000-byte name is refused at every listing (each counts it), logged once an hour, exit 0"
		clean "run: no raw control byte in the log" "$T_TMP/l2.log"
		t_is "$(grep -vc '^ts=' "$T_TMP/l2.log")" 0 "run: every log line is a whole event"
		sshd_stop
	else
		skip_n 19 "the lying SFTP server did not start"
	fi
else
	skip_n 19 "needs root and sshd"
fi

# =================================================== 6. what is not a file
# In landing: symbolic links to a file outside, to a root-only file,
# dangling, to a directory; a FIFO; a character and a block device; a
# socket; a hard link to a file outside; a directory named like a drop.
# None is followed or read (no secret reaches state or output, a FIFO or
# device never blocks a run); each stays where it is and is logged by
# name - by the daemon once, not again at every pass while it stays.
SECRET=$T_TMP/secret.csv
printf 'Store Nbr,Week Ending,UPC,Units,Sales,Ticket\nTOPSECRET,11/28/2026,041000001239,1,1.00,x\n' > "$SECRET"
chmod 600 "$SECRET"
mkdir -p "$T_TMP/outside"
cp "$SECRET" "$T_TMP/outside/in.csv"
# specials DIR: make them in DIR; prints the names expected to be refused
specials() {
	ln -s "$SECRET" "$1/soft.csv"
	ln -s /etc/shadow "$1/shadow.csv"
	ln -s "$T_TMP/nonexistent" "$1/dangling.csv"
	ln -s "$T_TMP/outside" "$1/dirlink.csv"
	mkfifo "$1/fifo.csv"
	ln "$SECRET" "$1/hard.csv"
	mkdir "$1/../dir.csv"
	cp "$SECRET" "$1/../dir.csv/x.csv"
	mv "$1/../dir.csv" "$1/dir.csv"
	$PY -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$1/sock.csv"
	echo "soft.csv shadow.csv dangling.csv dirlink.csv fifo.csv hard.csv dir.csv sock.csv"
	# devices need root (and CAP_MKNOD: not in every container)
	mknod "$1/zero.csv" c 1 5 2> /dev/null && echo zero.csv
	mknod "$1/loop.csv" b 7 0 2> /dev/null && echo loop.csv
}
# leaked STATE OUT: files under STATE and OUT holding the secret
leaked() {
	{ grep -rl --exclude-dir=landing TOPSECRET "$1" "$2" 2> /dev/null
	  find "$1" "$2" -name '*.gz' -exec zgrep -l TOPSECRET {} + 2> /dev/null; } | wc -l
}
S6=$T_TMP/x1
mkdir -p "$S6/landing"
conf "$T_TMP/x1.conf" "$S6" "file://$T_TMP/x1-out"
REFUSED=$(specials "$S6/landing" | tr '\n' ' ')
NREF=$(echo $REFUSED | wc -w)
run_drop "$S6/landing" good.csv 2
ls -A "$S6/landing" | grep -v good.csv | sort > "$T_TMP/x1.before"
timeout 60 "$TRADEDROP" once -c "$T_TMP/x1.conf" 2> "$T_TMP/x1.log"
t_is $? 1 "once: $NREF entries that are not plain files: exit 1, no hang"
bad=
for n in $REFUSED; do
	[ "$(grep -c "event=landing_refused file=$n reason=" "$T_TMP/x1.log")" = 1 ] || bad="$bad $n"
done
t_is "$bad" "" "once: each is logged once, by name, with its reason"
t_is "$(ls -A "$S6/landing" | sort | tr '\n' ' ')" "$(tr '\n' ' ' < "$T_TMP/x1.before")" \
	"once: each is left where it is; the good file was taken"
t_is "$(leaked "$S6" "$T_TMP/x1-out")" 0 "once: nothing of what they point to reached state or output"
t_ok "$(run_delivered "$T_TMP/x1-out" 1; echo $?)" "once: the good file beside them is delivered"
case $REFUSED in *zero.csv*) ;; *) echo "# no device made (mknod needs root and CAP_MKNOD)" ;; esac

# the daemon: made while it runs, then five more drops, one by one; its
# retention runs every 100 ms here (every day, and at start, otherwise):
# a job that is not a landing pass between two passes must not make the
# next pass log them all again (it did: CI, stop 41)
S6=$T_TMP/x2
mkdir -p "$S6/landing"
conf "$T_TMP/x2.conf" "$S6" "file://$T_TMP/x2-out"
TD_TEST_PRUNE_PERIOD_MS=100 run_start "$T_TMP/x2.conf" "$T_TMP/x2.log" ||
	t_skip_all "run did not start"
specials "$S6/landing" > /dev/null
for i in 1 2 3 4 5; do
	run_drop "$S6/landing" g$i.csv 2
	wait_until 30 run_delivered "$T_TMP/x2-out" $i
	sleep 0.3	# retention runs between this pass and the next
done
t_ok "$(run_delivered "$T_TMP/x2-out" 5; echo $?)" "run: five drops beside them are delivered"
wait_until 10 sh -c "[ \$(grep -c 'event=landing_refused' '$T_TMP/x2.log') -ge $NREF ]"
t_ok "$(kill -0 "$RUN_PID"; echo $?)" "run: the daemon is still running"
run_stop
t_is "$RUN_RC" 0 "run: exit 0"
bad=
for n in $REFUSED; do
	[ "$(grep -c "event=landing_refused file=$n reason=" "$T_TMP/x2.log")" = 1 ] || bad="$bad $n:$(grep -c "file=$n " "$T_TMP/x2.log")"
done
t_is "$bad" "" "run: each is logged by name once, not again at each of the passes after"
t_is "$(ls -A "$S6/landing" | sort | tr '\n' ' ')" "$(tr '\n' ' ' < "$T_TMP/x1.before")" \
	"run: each is left where it is"
t_is "$(leaked "$S6" "$T_TMP/x2-out")" 0 "run: nothing of what they point to reached state or output"

# ========================================================= 7. confinement
# once and run, each a full cycle (an SFTP source, a drop with its
# checksum, a zip, one file quarantined, one row dead-lettered, the
# audit log; run also SIGHUP and SIGUSR1, and HTTPS delivery), inside a
# mount namespace in which every mount is read-only but state_dir and
# the file:// output directory (run: state_dir alone): it all works, so
# nothing is written anywhere else (two files of 40,000 records too:
# SQLite's temporary files). Then an output, landing or state
# directory that cannot be written is an error naming it, never a crash,
# a loss, or a file taken again and again.
if sec_ro_usable && [ $SSHD -eq 1 ] && sshd_start "$T_TMP/sshd7"; then
	sshd_known_hosts "$T_TMP/kh7"
	# cycle NAME: a config NAME.conf and its drops: one on the SFTP
	# source, four in landing
	cycle() {
		_s=$T_TMP/$1 _r=$T_TMP/$1-remote
		mkdir -p "$_s/landing" "$_r"
		run_drop "$_r" remote.csv 3
		: > "$_r/remote.csv.done"
		chown -R "$SSHD_UID:$SSHD_UID" "$_r"
		mkdir "$_s/new"
		run_drop "$_s/new" a.csv 4
		(cd "$_s/new" && sha256sum a.csv > a.csv.sha256 &&
		    $PY -c 'import zipfile; zipfile.ZipFile("z.zip", "w").write("a.csv", "z.csv")' &&
		    sed -i 's/,a.csv-/,z-/' a.csv && sha256sum a.csv > a.csv.sha256)
		printf 'Store Nbr,Qty\n1,2\n' > "$_s/new/q.csv"
		{ echo "Store Nbr,Week Ending,UPC,Units,Sales,Ticket"
		  i=1; while [ $i -le 30 ]; do
			echo "$i,11/28/2026,041000001239,$i,1.00,d$i"; i=$((i + 1)); done
		  echo "31,11/28/2026,041000001235,1,1.00,d31"; } > "$_s/new/d.csv"
		mv "$_s/new"/* "$_s/landing/"
		rmdir "$_s/new"
	}
	# (the SFTP source is added to each config below)
	src7() {
		echo "[source \"pos\"]"; echo "url = sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT$T_TMP/$1-remote"
		echo "known_hosts = $T_TMP/kh7"; echo "identity = $SSHD_KEY"
		echo "ready = marker"; echo "poll_interval = 1s"
	}
	mkdir -p "$T_TMP/c1"
	t_ok "$(sec_ro "$T_TMP/c1" sh -c "! touch '$T_TMP/probe' 2> /dev/null && touch '$T_TMP/c1/probe'"; echo $?)" \
		"in the namespace only the directories named can be written"
	rm -f "$T_TMP/c1/probe"

	cycle c1
	mkdir -p "$T_TMP/c1-out"
	conf "$T_TMP/c1.conf" "$T_TMP/c1" "file://$T_TMP/c1-out" "$(src7 c1)"
	sec_ro "$T_TMP/c1 $T_TMP/c1-out" timeout 120 "$TRADEDROP" once -c "$T_TMP/c1.conf" 2> "$T_TMP/c1.log"
	rc=$?
	t_is "$rc $(ls "$T_TMP/c1-out" | wc -l) $(ls "$T_TMP/c1/quarantine" | wc -l) $(ls "$T_TMP/c1/dlq" | wc -l)" \
		"1 5 1 1" "once, read-only but state_dir and output: four delivered, one quarantined, one row dead-lettered (exit 1)"
	t_grep "$T_TMP/c1.log" "event=sftp_fetched source=pos file=remote.csv" "once: the SFTP file was fetched"
	t_grep "$T_TMP/c1/audit.log" '"event":"transmission_verified"' "once: the checksum was verified (audit log)"
	t_is "$(grep '"event":"transmission_verified"' "$T_TMP/c1/audit.log" | grep -c '"checksum":"ok"')" 1 \
		"once: the checksum of a.csv was verified"
	t_is "$(grep -ci 'read-only\|permission denied' "$T_TMP/c1.log")" 0 "once: no write was refused"
	sec_ro "$T_TMP/c1 $T_TMP/c1-out" sh -c "'$TRADEDROP' audit verify -c '$T_TMP/c1.conf' &&
	    '$TRADEDROP' status -c '$T_TMP/c1.conf' && '$TRADEDROP' quarantine list -c '$T_TMP/c1.conf' &&
	    '$TRADEDROP' hold list -c '$T_TMP/c1.conf' && '$TRADEDROP' prune -c '$T_TMP/c1.conf'" \
	    > "$T_TMP/c1.ops" 2>&1
	t_is $? 0 "audit verify, status, quarantine list, hold list and prune work there too"

	# files of 40,000 records: SQLite's temporary files (a statement
	# journal past 64 KiB) stay in state_dir
	mkdir -p "$T_TMP/c6/landing" "$T_TMP/c6-out"
	conf "$T_TMP/c6.conf" "$T_TMP/c6" "file://$T_TMP/c6-out"
	$PY - "$T_TMP/c6/landing" <<'PY'
import os, sys
for k in range(2):
    p = '%s/big%d.csv' % (sys.argv[1], k)
    with open(p + '.tmp', 'w') as f:
        f.write('Store Nbr,Week Ending,UPC,Units,Sales,Ticket\n')
        f.writelines('%d,11/28/2026,041000001239,%d,1.00,b%d-%d\n' % (i % 5000, i % 97 + 1, k, i)
                     for i in range(40000))
    os.rename(p + '.tmp', p)
PY
	sec_ro "$T_TMP/c6 $T_TMP/c6-out" timeout 120 "$TRADEDROP" once -c "$T_TMP/c6.conf" 2> "$T_TMP/c6.log"
	t_is "$? $(ls "$T_TMP/c6-out" | wc -l) $(grep -c 'level=error' "$T_TMP/c6.log")" "0 2 0" \
		"once: two files of 40,000 records, read-only /tmp and /var/tmp: both delivered, no error"
	grep 'level=error' "$T_TMP/c6.log" | head -3 | sed 's/^/#   | /'
	rm -rf "$T_TMP/c6" "$T_TMP/c6-out"

	cycle c2
	conf "$T_TMP/c2.conf" "$T_TMP/c2" "https://127.0.0.1:$P_GOOD/api/v1" "ca_file = $C/ca.pem" \
	    "$(src7 c2)" "[metrics]" "textfile = $T_TMP/c2.prom"
	unshare --mount --propagation private sh -c "$SEC_RO_SH" sh \
	    "$(sec_ro_dirs "$T_TMP/c2")" \
	    "$TRADEDROP" run --foreground -c "$T_TMP/c2.conf" 2>> "$T_TMP/c2.log" &
	RUN_PID=$!
	wait_until 20 grep -q event=run_start "$T_TMP/c2.log"
	t_ok $? "run starts in a namespace where only state_dir can be written"
	run_signal HUP
	run_signal USR1
	wait_until 60 sh -c "[ \$(sqlite3 '$T_TMP/c2/state.db' \"SELECT count(*) FROM transmissions WHERE state IN ('delivered', 'quarantined')\" 2> /dev/null) -ge 5 ]"
	t_ok $? "run: the SFTP file and the four drops are processed"
	wait_until 30 sh -c "[ \$(sqlite3 '$T_TMP/c2/state.db' \"SELECT count(*) FROM transmissions WHERE state = 'delivered'\") -eq 4 ]"
	t_ok $? "run: four delivered over HTTPS"
	run_stop
	t_is "$RUN_RC $(ls "$T_TMP/c2/quarantine" | wc -l) $(ls "$T_TMP/c2/dlq" | wc -l)" "0 1 1" \
		"run: one quarantined, one row dead-lettered, exit 0"
	t_is "$(grep -v metrics_textfile_failed "$T_TMP/c2.log" | grep -ci 'read-only\|permission denied')" 0 \
		"run: no write was refused (but the metrics textfile's)"
	t_grep "$T_TMP/c2.log" "event=metrics_textfile_failed path=$T_TMP/c2.prom" \
		"run: a metrics textfile that cannot be written is named, and the daemon goes on"
	"$TRADEDROP" audit verify -c "$T_TMP/c2.conf" > /dev/null 2>&1
	t_is $? 0 "run: the audit chain verifies"

	# what cannot be written: the output directory, then landing, then
	# state_dir
	mkdir -p "$T_TMP/c3/landing" "$T_TMP/c3-out" "$T_TMP/c3-land"
	conf "$T_TMP/c3.conf" "$T_TMP/c3" "file://$T_TMP/c3-out"
	run_drop "$T_TMP/c3/landing" o.csv 2
	sec_ro "$T_TMP/c3" "$TRADEDROP" once -c "$T_TMP/c3.conf" 2> "$T_TMP/c3.log"
	t_is "$? $(count "event=delivery_failed output=$T_TMP/c3-out/" "$T_TMP/c3.log")" "3 1" \
		"an output directory that cannot be written: exit 3, the failure names it"
	t_is "$(ls "$T_TMP/c3/outbox" | wc -l)" 1 "the batch stays spooled"
	"$TRADEDROP" once -c "$T_TMP/c3.conf" 2>> "$T_TMP/c3.log"
	t_is "$? $(ls "$T_TMP/c3-out" | wc -l)" "0 1" "once it can be written, it is delivered"
	conf "$T_TMP/c4.conf" "$T_TMP/c3" "file://$T_TMP/c3-out" "[integration]" "landing_dir = $T_TMP/c3-land"
	run_drop "$T_TMP/c3-land" l.csv 2
	for i in 1 2; do
		sec_ro "$T_TMP/c3 $T_TMP/c3-out" "$TRADEDROP" once -c "$T_TMP/c4.conf" 2>> "$T_TMP/c4.log"
		rc=$?
	done
	t_is "$rc $(count 'event=landing_refused file=l.csv reason="cannot be moved out of landing: Read-only file system"' "$T_TMP/c4.log")" "1 2" \
		"a landing directory that cannot be written: its file is refused, named, at each run (exit 1)"
	t_is "$(count event=file_received "$T_TMP/c4.log") $(count event=duplicate_transmission "$T_TMP/c4.log") $(ls "$T_TMP/c3-out" | wc -l)" \
		"0 0 1" "and never taken (it could not be removed from landing): not delivered, not a duplicate"
	"$TRADEDROP" once -c "$T_TMP/c4.conf" 2>> "$T_TMP/c4.log"
	t_is "$? $(ls "$T_TMP/c3-out" | wc -l) $(ls "$T_TMP/c3-land" | wc -l)" "0 2 0" \
		"once landing can be written, it is taken and delivered"
	mkdir -p "$T_TMP/c5"
	conf "$T_TMP/c5.conf" "$T_TMP/c5" "file://$T_TMP/c3-out"
	sec_ro "$T_TMP/c3-out" "$TRADEDROP" once -c "$T_TMP/c5.conf" > "$T_TMP/c5.log" 2>&1
	t_is "$? $(count "$T_TMP/c5/" "$T_TMP/c5.log") $(count "Read-only file system" "$T_TMP/c5.log")" "4 1 1" \
		"once: a state_dir that cannot be written: exit 4, naming it"
	sec_ro "$T_TMP/c3-out" timeout 20 "$TRADEDROP" run --foreground -c "$T_TMP/c5.conf" > "$T_TMP/c5.log" 2>&1
	rc=$?
	t_ok "$([ $rc -ne 0 ] && [ $rc -lt 124 ] && grep -q "$T_TMP/c5.*Read-only file system" "$T_TMP/c5.log"; echo $?)" \
		"run: a state_dir that cannot be written: exit $rc, naming it"
	sshd_stop
else
	skip_n 23 "needs root, mount namespaces and sshd"
fi

t_done
