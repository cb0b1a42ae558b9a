# crashloop-lib.sh - the peers, configurations and end-state checks shared
# by tests/e2e/crashloop.sh and tests/e2e/run-failpoints.sh. Source after
# common.sh and sshd.sh; the drops, the kill driver and the checks
# themselves are in tests/lib/crashloop.py.
#
#   cl_start [EXIT_CMD]         the start of such a test: t_skip_all
#                               unless root with sshd, python3, minisign,
#                               openssl and sqlite3; T_TMP (kept when KEEP
#                               is set); https-lib.sh; at exit cl_cleanup,
#                               then EXIT_CMD
#   cl_setup MODE SFTP INTEG... minisign keys, a test CA, a real sshd
#                               when SFTP is yes; the drop set (MODE full:
#                               CL_ROUNDS rounds spread over waves; small:
#                               fewer rows, one wave) for the integrations
#                               named: a (acme, CSV) and b (acme-x12, X12
#                               852/867); the reference configurations
#   cl_reference                every drop into the reference states, one
#                               undisturbed `tradedrop once` each
#   cl_instance DIR [OUTPUT [sftp]]
#                               a fresh set of state_dirs under DIR for
#                               the daemons, delivering to OUTPUT: https
#                               (default; a TLS test receiver of its own
#                               in DIR/peer) or file:PATH; with sftp, an
#                               SFTP source each (else what the SFTP
#                               sources would send lands in landing_dir);
#                               sets CFG to DIR/cl.json, what crashloop.py
#                               reads
#   cl_py CMD [ARG...]          crashloop.py CMD $CFG ARG...
#   cl_check [LABEL]            the end state: one TAP line per check, or
#                               with LABEL one line for all of them
#   cl_check_run                the checks of cl_check without their TAP
#                               lines (for a check in the background)
#   cl_cleanup                  kill every daemon, peer and sshd started
#
# Integration a has an SFTP source (when SFTP is yes) and landing_dir,
# minisign signatures optional; b the same for X12. Both deliver to the
# instance's receiver (mutual TLS). CL_BATCH sets batch_records of a.

PY=/usr/bin/python3
CL_PY=$srcdir/tests/lib/crashloop.py
CL_SFTP=no
CL_INSTANCES=

cl_start() {
	sshd_require
	[ -x $PY ] || t_skip_all "python3 not installed"
	for _c in minisign openssl sqlite3; do
		command -v $_c > /dev/null 2>&1 || t_skip_all "$_c not installed"
	done
	t_tmpdir
	[ -n "${KEEP:-}" ] && echo "# tmp $T_TMP"
	. "$srcdir/tests/lib/https-lib.sh"
	trap "cl_cleanup; ${1:-true}; [ -n \"\${KEEP:-}\" ] || rm -rf \"\$T_TMP\"" EXIT
}

cl_py() {
	_clc=$1; shift
	$PY "$CL_PY" "$_clc" "$CFG" "$@"
}

# cl_conf NAME STATE OUTPUT_URL SOURCE_DIR: the configuration of
# integration NAME (a or b) on STATE, delivering to OUTPUT_URL, with an
# SFTP source on SOURCE_DIR unless it is empty
cl_conf() {
	_cc_n=$1 _cc_s=$2 _cc_u=$3 _cc_src=$4
	case $_cc_n in
	a) _cc_name=acme _cc_pat='*.csv, *.csv.gz, *.zip'
	   _cc_batch=${CL_BATCH:-700} ;;
	b) _cc_name=acme-x12 _cc_pat='*.x12, *.zip' _cc_batch=150 ;;
	esac
	printf '[integration]\nname = %s\nstate_dir = %s\n' "$_cc_name" "$_cc_s"
	printf '[watch]\nsettle = 0\n'
	if [ -n "$_cc_src" ]; then
		cat <<CONF
[source "pos"]
url = sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT$_cc_src
pattern = $_cc_pat
known_hosts = $T_TMP/known_hosts
identity = $SSHD_KEY
poll_interval = 1s
stable_time = 0s
after = delete
connect_timeout = 10s
CONF
	fi
	case $_cc_n in
	a) cat <<CONF
[verify]
signature = optional
trusted_key_file = $T_TMP/keys/k.pub
[map]
store_id = column "Store Nbr"
gtin = column "UPC" gtin
txn_date = column "Week Ending" date "%m/%d/%Y"
retailer_item_id = column "Item"
quantity = column "Units" decimal
amount = column "Net Sales" decimal
txn_ref = column "Ticket"
key = store_id, gtin, txn_date, txn_ref
CONF
	;;
	b) printf '[parse]\nformat = x12\n' ;;
	esac
	printf '[output]\nurl = %s\nbatch_records = %s\n' "$_cc_u" "$_cc_batch"
	case $_cc_u in
	https:*) cat <<CONF
ca_file = $T_TMP/pki/ca.pem
client_cert = $T_TMP/pki/client.pem
client_key = $T_TMP/pki/client.key
max_backoff = 2s
breaker_cooldown = 1s
timeout = 20s
CONF
	;;
	esac
}

# cl_json FILE KEY=VALUE...: FILE, a JSON object, with these keys set
# (a VALUE starting with [, { or a digit is JSON, else a string)
cl_json() {
	$PY - "$@" <<'PY'
import json, os, sys
path = sys.argv[1]
o = json.load(open(path)) if os.path.exists(path) else {}
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    if v[:1] in "[{0123456789" and v or v in ("true", "false", "null"):
        v = json.loads(v)
    t = o
    ks = k.split(".")
    for p in ks[:-1]:
        t = t.setdefault(p, {})
    t[ks[-1]] = v
json.dump(o, open(path + ".tmp", "w"), indent=1)
os.replace(path + ".tmp", path)
PY
}

cl_name() { [ "$1" = a ] && echo acme || echo acme-x12; }

cl_setup() {
	_cs_mode=$1 CL_SFTP=$2; shift 2
	CL_INTEG=$*
	mkdir -p "$T_TMP/keys"
	chmod 755 "$T_TMP"
	minisign -G -f -W -p "$T_TMP/keys/k.pub" -s "$T_TMP/keys/k.key" \
	    < /dev/null > /dev/null 2>&1 || t_skip_all "minisign -G failed"
	sh "$srcdir/tests/lib/mkca.sh" "$T_TMP/pki" > /dev/null 2>&1 ||
	    t_skip_all "mkca.sh failed"
	if [ "$CL_SFTP" = yes ]; then
		sshd_start "$T_TMP/sshd" || t_skip_all "sshd did not start"
		sshd_known_hosts "$T_TMP/known_hosts"
	fi
	CL_BASE=$T_TMP/base.json
	_cs_l="[\"$(echo "$CL_INTEG" | sed 's/ /", "/g')\"]"
	cl_json "$CL_BASE" "td=$TRADEDROP" "dir=$T_TMP/drops" "mode=$_cs_mode" \
	    "seed=${CL_SEED:-1}" "kills=${CL_KILLS:-0}" \
	    "rounds=${CL_ROUNDS:-1}" "keys=$T_TMP/keys" \
	    "uid=${SSHD_UID:-0}" "sftp=$([ "$CL_SFTP" = yes ] && echo true || echo false)" \
	    "integrations=$_cs_l"
	for _cs_i in $CL_INTEG; do
		mkdir -p "$T_TMP/ref-$_cs_i/landing"
		cl_conf "$_cs_i" "$T_TMP/ref-$_cs_i" "file://$T_TMP/ref-out-$_cs_i" "" \
		    > "$T_TMP/ref-$_cs_i.conf"
		cl_json "$CL_BASE" "$_cs_i.name=$(cl_name "$_cs_i")" \
		    "$_cs_i.ref_conf=$T_TMP/ref-$_cs_i.conf" \
		    "$_cs_i.ref_state=$T_TMP/ref-$_cs_i" \
		    "$_cs_i.ref_out=$T_TMP/ref-out-$_cs_i"
	done
	CFG=$CL_BASE
	cl_py gen || t_skip_all "the drops could not be made"
}

cl_reference() {
	CFG=$CL_BASE
	cl_py stage
	for _cr_i in $CL_INTEG; do
		"$TRADEDROP" once -c "$T_TMP/ref-$_cr_i.conf" \
		    > /dev/null 2> "$T_TMP/ref-$_cr_i.log"
		t_is $? 1 "reference: an undisturbed \`once\` of $(cl_name "$_cr_i")'s" \
		    "drops exits 1 (files quarantined, rows dead-lettered)"
	done
}

cl_instance() {
	_ci_d=$1 _ci_out=${2:-https} _ci_sftp=${3:-}
	mkdir -p "$_ci_d/logs"
	cp "$CL_BASE" "$_ci_d/cl.json"
	CFG=$_ci_d/cl.json
	CL_INSTANCES="$CL_INSTANCES $_ci_d"
	case $_ci_out in
	https)
		peer_start "$_ci_d/peer" --cert "$T_TMP/pki/server.pem" \
		    --key "$T_TMP/pki/server.key" --ca "$T_TMP/pki/ca.pem" \
		    --require-client-cert || return 1
		_ci_url=https://127.0.0.1:$PORT/api/v1 ;;
	file:*)
		_ci_url=file://${_ci_out#file:} ;;
	esac
	cl_json "$CFG" "logdir=$_ci_d/logs" "peer=$_ci_d/peer"
	for _ci_i in $CL_INTEG; do
		_ci_s=$_ci_d/state-$_ci_i
		mkdir -p "$_ci_s/landing"
		_ci_r=
		if [ "$_ci_sftp" = sftp ]; then
			_ci_r=$_ci_d/remote-$_ci_i
			mkdir -p "$_ci_r"
			chown "$SSHD_UID:$SSHD_UID" "$_ci_r"
			cl_json "$CFG" "$_ci_i.remote=$_ci_r"
		fi
		cl_conf "$_ci_i" "$_ci_s" "$_ci_url" "$_ci_r" > "$_ci_d/$_ci_i.conf"
		cl_json "$CFG" "$_ci_i.conf=$_ci_d/$_ci_i.conf" "$_ci_i.state=$_ci_s" \
		    "$_ci_i.landing=$_ci_s/landing" \
		    "$_ci_i.output=$(case $_ci_out in https) echo https;; *) echo file;; esac)" \
		    "$_ci_i.out=${_ci_out#file:}"
		"$TRADEDROP" check -c "$_ci_d/$_ci_i.conf" > "$_ci_d/check-$_ci_i" 2>&1 || {
			sed 's/^/#   /' "$_ci_d/check-$_ci_i"
			return 1
		}
	done
}

# cl_check [LABEL]: each line "ok|not ok<TAB>what<TAB>detail" of the check
# as a TAP line; with LABEL, one TAP line for them all
cl_check() {
	[ -f "$CFG.rc" ] || cl_check_run
	_ck_rc=$(cat "$CFG.rc")
	_ck_tab=$(printf '\t')
	_ck_bad=0
	while IFS=$_ck_tab read -r _ck_st _ck_what _ck_detail; do
		case $_ck_st in
		ok) [ -n "${1:-}" ] || t_ok 0 "$_ck_what" ;;
		"not ok")
			_ck_bad=$((_ck_bad + 1))
			if [ -n "${1:-}" ]; then echo "#   not ok: $_ck_what"
			else t_ok 1 "$_ck_what"; fi
			echo "#   $_ck_detail" ;;
		*) echo "$_ck_st" ;;	# a comment
		esac
	done < "$CFG.out"
	[ -s "$CFG.err" ] && sed 's/^/#   /' "$CFG.err" | tail -20
	if [ -n "${1:-}" ]; then
		t_ok "$([ "$_ck_bad" -eq 0 ] && [ "$_ck_rc" -eq 0 ] && [ -s "$CFG.out" ]; echo $?)" \
		    "$1: the end state checks ($(grep -c '^ok' "$CFG.out") passed," \
		    "$_ck_bad failed)"
	else
		t_is "$_ck_rc" 0 "the checks ran to their end"
	fi
}

# the checks of cl_check, run now (for instance in the background), their
# result kept beside $CFG for cl_check
cl_check_run() {
	cl_py check > "$CFG.out" 2> "$CFG.err"
	echo $? > "$CFG.rc"
}

cl_cleanup() {
	for _cu_d in $CL_INSTANCES; do
		for _cu_p in $(cat "$_cu_d"/logs/*.pid 2>/dev/null); do
			kill -KILL -- "-$_cu_p" 2>/dev/null
		done
	done
	[ "$CL_SFTP" = yes ] && sshd_stop
	for _cu_p in $PEERS; do kill -KILL "$_cu_p" 2>/dev/null; done
	true
}
