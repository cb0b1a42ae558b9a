# localfaults-lib.sh - helpers of the local fault tests (run-clock.sh,
# run-enospc.sh, run-corrupt.sh, run-landing-faults.sh). Source after
# common.sh, run-lib.sh and t_tmpdir.
#   lf_mount_ns "$@"            run the script again in a private mount
#                               namespace (skips all unless root)
#   lf_setup N [LINE...]        S=$T_TMP/sN (a state_dir), L its landing,
#                               O=$T_TMP/outN (a file:// output), LOG and
#                               CONF: run_conf's config with LINE...
#   lf_start FILE               run_start on CONF (skips all when it does
#                               not start), then drop FILE and wait for it
#                               to be delivered (one test)
#   lf_mark LOG                 the number of lines LOG has now
#   lf_after LOG MARK           the lines LOG got after MARK
#   lf_logged SECS LOG MARK ERE wait (at most SECS) until a line LOG got
#                               after MARK matches the extended regex ERE
#   lf_count LOG MARK ERE       how many lines after MARK match ERE
#   lf_tx OUT NAME              the transmission ids delivered to the
#                               file:// OUT for the landing file NAME
#   lf_records OUT TID          the records of transmission TID, as
#                               delivered (its batches, in order)
#   lf_same_as_try CONF OUT TID RAW
#                               "ok" when what was delivered for TID is
#                               byte for byte what `tradedrop try` makes of
#                               RAW now, with no clock shifted; else a
#                               diff summary

lf_mount_ns() {
	[ "$(id -u)" -eq 0 ] || t_skip_all "needs root for a mount namespace"
	command -v unshare > /dev/null || t_skip_all "unshare not installed"
	[ -n "${LF_IN_NS:-}" ] && return 0
	LF_IN_NS=1 exec unshare -m sh "$0" "$@"
}
lf_setup() {
	_ls_n=$1; shift
	S=$T_TMP/s$_ls_n L=$T_TMP/s$_ls_n/landing O=$T_TMP/out$_ls_n
	LOG=$T_TMP/log$_ls_n CONF=$T_TMP/s$_ls_n.conf
	mkdir -p "$L"
	run_conf "$CONF" "$S" "$O" "$@"
}
lf_start() {
	run_start "$CONF" "$LOG" || t_skip_all "run did not start"
	run_drop "$L" "$1" 2
	t_ok "$(wait_until 30 run_delivered "$O" 1; echo $?)" "$1 is delivered"
}
lf_mark() { wc -l < "$1" 2>/dev/null || echo 0; }
lf_after() { tail -n +"$(( $2 + 1 ))" "$1"; }
lf_logged() {
	_ll_s=$1 _ll_log=$2 _ll_m=$3 _ll_re=$4
	wait_until "$_ll_s" sh -c 'tail -n +"$(( $2 + 1 ))" "$1" | grep -qE -- "$3"' \
	    sh "$_ll_log" "$_ll_m" "$_ll_re"
}
lf_count() { lf_after "$1" "$2" | grep -cE -- "$3"; }
lf_tx() {
	for _lt_m in "$1"/*/manifest.json; do
		[ -f "$_lt_m" ] || continue
		grep -q "\"file\":{\"name\":\"$2\"" "$_lt_m" &&
		    basename "$(dirname "$_lt_m")"
	done
	true
}
lf_records() {
	for _lr_b in "$1/$2"/batch-*.ndjson.gz; do
		[ -f "$_lr_b" ] && gzip -dc "$_lr_b"
	done
	true
}
lf_same_as_try() {
	env -u TD_TEST_CLOCK_OFFSET "$TRADEDROP" try -c "$1" "$4" \
	    > "$T_TMP/lf-try.out" 2> /dev/null
	lf_records "$2" "$3" > "$T_TMP/lf-got.out"
	if [ -s "$T_TMP/lf-got.out" ] &&
	    cmp -s "$T_TMP/lf-try.out" "$T_TMP/lf-got.out"; then
		echo ok
	else
		echo "$(wc -l < "$T_TMP/lf-got.out") records delivered," \
		    "$(wc -l < "$T_TMP/lf-try.out") from try, differing"
	fi
}
