# security-lib.sh - helpers of tests/e2e/security.sh. Source after
# common.sh and t_tmpdir; needs PY (python3) set.
#
#   sec_raw_bytes FILE      lines of FILE that hold a raw control byte (C0
#                           but the line's newline, DEL, a C1 control
#                           U+0080-U+009F, a line separator or a
#                           bidirectional control) or are not valid
#                           UTF-8, each as "LINE: repr"; nothing when clean
#   sec_json_lines FILE...  the lines of these JSON-lines (or one-object)
#                           files that strict JSON (no raw control
#                           characters in strings) cannot read; nothing
#                           when clean
#   sec_mkcert CA_DIR NAME SAN DAYS
#                           CA_DIR/NAME.pem and .key: a server certificate
#                           from CA_DIR/ca.pem with subjectAltName SAN,
#                           valid DAYS days (-1: already expired)
#   sec_ro_usable           0 when read-only mount namespaces can be made
#                           (root, unshare --mount, bind remounts)
#   sec_ro DIRS CMD...      CMD in a new mount namespace in which every
#                           mount is read-only but the directories DIRS
#                           (one string, space-separated, absolute, no
#                           blanks in a name); SEC_RO_SH below starts
#                           a daemon so, keeping its process id
#   sec_ro_dirs DIRS        DIRS, with the sanitizers' report directory
#                           under make check-asan: what to give SEC_RO_SH
#                           (sec_ro does)
#   sec_spec ROOT LOG ENTRIES...
#                           print the control file of tests/lib/evil-sftp.py
#                           serving, besides the empty directory ROOT, the
#                           entries NAMEHEX:FILE in the order given, each
#                           request logged to LOG as its type and the hex
#                           of its path (ROOT/state is the server's own)

sec_raw_bytes() {
	$PY - "$1" <<'PY'
import sys
for n, line in enumerate(open(sys.argv[1], 'rb').read().split(b'\n'), 1):
    bad = any(c < 0x20 or c == 0x7f for c in line)
    try:
        t = line.decode('utf-8')
        bad = bad or any(0x80 <= ord(c) <= 0x9f or c in
            '\u2028\u2029\u200e\u200f\u202a\u202b\u202c\u202d\u202e'
            '\u2066\u2067\u2068\u2069' for c in t)
    except UnicodeDecodeError:
        bad = True
    if bad:
        print('%d: %r' % (n, line[:200]))
PY
}

sec_json_lines() {
	$PY - "$@" <<'PY'
import json, sys
for f in sys.argv[1:]:
    data = open(f, 'rb').read().decode('utf-8', 'strict')
    if f.endswith('.json'):
        chunks = [data]
    else:
        chunks = [l for l in data.split('\n') if l]
    for n, c in enumerate(chunks, 1):
        try:
            json.loads(c, strict=True)
        except ValueError as e:
            print('%s:%d: %s' % (f, n, e))
PY
}

sec_mkcert() {
	_d=$1 _n=$2
	printf 'basicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' \
	    "$3" > "$_d/$_n.ext"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$_d/$_n.key" -subj "/CN=$_n" -out "$_d/$_n.csr" \
	    > /dev/null 2>&1 &&
	openssl x509 -req -in "$_d/$_n.csr" -CA "$_d/ca.pem" \
	    -CAkey "$_d/ca.key" -days "$4" -extfile "$_d/$_n.ext" \
	    -out "$_d/$_n.pem" > /dev/null 2>&1 &&
	chmod 600 "$_d/$_n.key"
}

sec_ro_usable() {
	[ "$(id -u)" -eq 0 ] || return 1
	command -v unshare > /dev/null || return 1
	unshare --mount --propagation private sh -c \
	    'mount -o remount,bind,ro / && ! touch /.td-ro-probe' \
	    > /dev/null 2>&1
}

# The script sec_ro runs in the new namespace: DIRS bound onto
# themselves (mounts of their own), then every other mount remounted
# read-only, then exec CMD. Run it as
#   unshare --mount --propagation private sh -c "$SEC_RO_SH" sh DIRS CMD...
# to keep CMD's process id (a daemon started with & and stopped by it).
SEC_RO_SH='w=$1; shift
for d in $w; do mount --bind "$d" "$d" || exit 125; done
awk "{ print \$5 }" /proc/self/mountinfo | sort -u | while read -r m; do
	case " $w " in *" $m "*) continue ;; esac
	mount -o remount,bind,ro "$m" 2> /dev/null ||
	    echo "# cannot make $m read-only" >&2
done
exec "$@"'

# sec_ro_dirs DIRS: DIRS, and under make check-asan the sanitizers'
# report directory (the test harness's, not tradedrop's): the parser
# child opens its report file before it is confined, and a process
# that cannot is aborted by the runtime. For every SEC_RO_SH.
sec_ro_dirs() {
	# (make joins the options' continued lines with a blank: ": log_path")
	case "${ASAN_OPTIONS:-}" in
	*log_path=/*)
		_l=${ASAN_OPTIONS#*log_path=}
		_l=${_l%%:*}
		_l=${_l%% *}
		echo "$1 ${_l%/*}" ;;
	*)	echo "$1" ;;
	esac
}

sec_ro() {
	_w=$(sec_ro_dirs "$1"); shift
	unshare --mount --propagation private sh -c "$SEC_RO_SH" sh "$_w" "$@"
}

sec_spec() {
	_dir=$1 _log=$2; shift 2
	$PY - "$_dir" "$_log" "$@" <<'PY'
import json, sys
d, log, ents = sys.argv[1], sys.argv[2], sys.argv[3:]
print(json.dumps({"root": d, "state": d + "/state", "sessions": [{
    "hexlog": log, "serve": [{"hex": e.split(':', 1)[0],
                              "file": e.split(':', 1)[1]} for e in ents]}]}))
PY
}
