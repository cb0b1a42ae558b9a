#!/bin/sh
# x12-ack.sh - the 997 functional acknowledgments of format = x12: one per
# functional group in archive/YYYY/MM/<transmission_id>/ack/, compared
# segment by segment with the ones written by hand under
# tests/data/x12/expected/ack (a comment per segment says why it reads
# so), for accepted groups and for each envelope fault; our interchange
# control numbers are monotonic across files and runs, never reused, and
# a fault outside a group (a malformed ISA) or a duplicate drop has none;
# x12_id and x12_qualifier name us in ISA05/ISA06.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
D=$srcdir/tests/data/x12
S=$T_TMP/state
mkdir -p "$S/landing"
conf() {	# conf FILE [LINE...]: the integration, format = x12
	_f=$1; shift
	printf '[integration]\nname = acme\nstate_dir = %s\nmax_reject_ratio = 1\n' "$S" > "$_f"
	for _l in "$@"; do printf '%s\n' "$_l" >> "$_f"; done
	printf '[output]\nurl = file://%s/out\n[parse]\nformat = x12\n' "$T_TMP" >> "$_f"
}
conf "$T_TMP/t.conf"
# acks NAME: once on NAME.x12 (copied to landing as NAME2.x12 when $2 is
# given); the 997s its transmission got, in control number order, with
# the date and time of ISA09/ISA10 and GS04/GS05 shown as YYMMDD HHMM
acks() {
	cp "$D/$1.x12" "$S/landing/${2:-$1}.x12"
	"$TRADEDROP" once -c "${CONF:-$T_TMP/t.conf}" > /dev/null 2> "$T_TMP/log"
	tid=$(sha256sum "$D/$1.x12" | cut -c1-64)
	for f in $(ls "$S"/archive/*/*/"$tid"/ack/997-*.x12 2> /dev/null | sort); do
		echo "# ${f##*/}"
		sed -e 's/^\(ISA\*.*\)\*[0-9]\{6\}\*[0-9]\{4\}\*/\1*YYMMDD*HHMM*/' \
		    -e 's/^\(GS\*FA\*[^*]*\*[^*]*\)\*[0-9]\{8\}\*[0-9]\{4\}\*/\1*CCYYMMDD*HHMM*/' "$f"
	done
}
# same NAME: the 997s of NAME.x12 are those of expected/ack/NAME.txt
same() {
	acks "$1" > "$T_TMP/got"
	sed -e 's/[[:space:]]*#[^~]*$//' -e '/^$/d' "$D/expected/ack/$1.txt" > "$T_TMP/want"
	grep -v '^#' "$T_TMP/got" > "$T_TMP/got2"
	if cmp -s "$T_TMP/got2" "$T_TMP/want"; then t_ok 0 "$1: its 997s, segment by segment"
	else
		t_ok 1 "$1: its 997s, segment by segment"
		diff "$T_TMP/want" "$T_TMP/got" | sed 's/^/#   /'
	fi
}
same sdq-4010
t_grep "$T_TMP/log" "group=101 status=A control_number=1 file=$S/archive/" \
    "sdq-4010: the 997 is logged with its status and control number"
same ui-5010
same multi
same bad-se-control
same bad-se-count
same bad-mixed-850
same bad-ge-count
same bad-ge-control
same bad-no-se
same bad-version
same bad-long-segment
# a malformed ISA: no group, no 997, no control number used
acks bad-isa-short > "$T_TMP/got"
t_is "$(grep -c . "$T_TMP/got")" 0 "bad-isa-short: a fault outside a group has no 997"
# the same content again under another name: a duplicate, no new 997
acks sdq-4010 again > "$T_TMP/got"
t_is "$(grep -c '^# 997' "$T_TMP/got")" 1 "a duplicate drop gets no second 997"
# our id and qualifier; the control numbers go on from 12
CONF=$T_TMP/id.conf
conf "$CONF" 'x12_id = TRADEDROP01' 'x12_qualifier = 01'
same bad-iea-control
t_is "$(sqlite3 "$S/state.db" 'SELECT group_concat(ctl) FROM (SELECT ctl FROM x12_acks ORDER BY ctl)' 2>/dev/null)" \
    "1,2,3,4,5,6,7,8,9,10,11,12,13" "state.db: one control number per 997, in order, none reused"
t_done
