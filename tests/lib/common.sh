# common.sh - TAP helpers for shell tests; source it.
#   t_ok COND-EXIT "name"; t_is GOT WANT "name"; t_skip_all "why"; t_done
# $TRADEDROP is the binary under test; $srcdir the source tree.

: "${srcdir:=.}"
: "${TRADEDROP:=agent/tradedrop}"
T_N=0
T_FAILED=0
# ASAN_OPTIONS for a program run under strace in the sanitizer build (make
# check-asan): LeakSanitizer cannot run under ptrace (it aborts at exit);
# the rest of ASan and UBSan still checks
T_ASAN_NOLEAKS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0

t_ok() {
	_c=$1; shift
	T_N=$((T_N + 1))
	if [ "$_c" -eq 0 ]; then
		echo "ok $T_N - $*"
	else
		echo "not ok $T_N - $*"
		# a known failure marked "# TODO reason" does not fail the test
		case "$*" in
		*"# TODO"*) ;;
		*) T_FAILED=$((T_FAILED + 1)) ;;
		esac
	fi
}

t_is() {
	_got=$1 _want=$2; shift 2
	if [ "$_got" = "$_want" ]; then t_ok 0 "$*"; else
		t_ok 1 "$*"
		printf '#   got:  %s\n#   want: %s\n' "$_got" "$_want"
	fi
}

# t_grep FILE PATTERN name: FILE contains the fixed string PATTERN
t_grep() {
	_f=$1 _p=$2; shift 2
	if grep -qF -- "$_p" "$_f"; then t_ok 0 "$*"; else
		t_ok 1 "$*"
		echo "#   '$_p' not in $_f:"
		sed 's/^/#   | /' "$_f" | head -20
	fi
}

# t_skip WHY: one check skipped, with a SKIP line saying why
t_skip() {
	T_N=$((T_N + 1))
	echo "ok $T_N # SKIP $*"
}

t_skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

t_done() {
	echo "1..$T_N"
	[ "$T_FAILED" -eq 0 ]
}

# A fresh temporary directory removed at exit.
t_tmpdir() {
	T_TMP=$(mktemp -d /tmp/td-test.XXXXXX)
	trap 'rm -rf "$T_TMP"' EXIT
}
