#!/bin/sh
# run-failpoints.sh - every commit point of agent/ and common/ (each
# td_failpoint() name found in the sources, so a new one is covered at
# once) through `tradedrop run`: the daemon is started with
# TD_FAILPOINT=NAME, the worker that reaches the point is SIGKILLed
# there, the rest of the daemon's process group right after; the daemon
# is started again without it and runs until the work is done. The end
# state is then what an undisturbed run gives: every record delivered
# once, byte for byte as `once` delivers it, none under two idempotency
# keys, the bad files quarantined and the bad rows dead-lettered with
# their codes, each transmission received, parsed or quarantined, and
# delivered once in the audit log, `audit verify` and PRAGMA
# integrity_check pass, the counts add up, nothing left behind.
#
# The drops: the small drop set of crashloop.py (CSV, CP-1252, gzip,
# zip, minisign-signed, a bad signature, too many bad rows, a corrupt
# zip, a duplicate drop), all in landing_dir before the start. Some
# points need more than that to be reached:
#   batch_staged batch_copied batch_source_removed
#                   a file:// output on another filesystem than
#                   state_dir (a tmpfs in this test's mount namespace)
#   batch_rejected dlq_appended
#                   a batch the receiver refuses (422): its records go
#                   to dlq/ as rejected_by_reconciler
#   sftp_fetched    an SFTP source (a real sshd) with after = delete
# A point only `once` reaches (in agent/cmd-once.c) is reported as a
# skip. A point none of these reaches fails the test: add it to the
# table below.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/sshd.sh"
[ "$(id -u)" -eq 0 ] || t_skip_all "needs root for a mount namespace"
command -v unshare > /dev/null || t_skip_all "unshare not installed"
if [ -z "${TD_RUNFP_NS:-}" ]; then
	# again, in a mount namespace of its own: its tmpfs dies with it
	TD_RUNFP_NS=1 exec unshare -m --propagation private sh "$0" "$@"
fi
. "$srcdir/tests/lib/crashloop-lib.sh"
# the ledger writes a file's keys as sorted runs past 256 bytes of them,
# not 8 MiB (agent/ledger.c): the small drops spill, so ledger_spill is
# reached, and every other point is crossed with the keys in runs
TD_LEDGER_RUN_BYTES=256; export TD_LEDGER_RUN_BYTES
cl_start 'umount "$T_TMP/xdev" 2>/dev/null'

mkdir -p "$T_TMP/xdev"
mount -t tmpfs -o size=64m tmpfs "$T_TMP/xdev" ||
    t_skip_all "cannot mount a tmpfs"

# the points, from the sources
POINTS=$(grep -ho 'td_failpoint([^;]*;' "$srcdir"/agent/*.c "$srcdir"/common/*.c |
    grep -o '"[a-z0-9_]*"' | tr -d '"' | sort -u)
t_ok "$([ "$(echo "$POINTS" | wc -w)" -ge 15 ]; echo $?)" \
    "$(echo "$POINTS" | wc -w) failpoints in agent/ and common/"
only_once() {	# only agent/cmd-once.c names it
	[ "$(grep -l "td_failpoint(\"$1\")" "$srcdir"/agent/*.c "$srcdir"/common/*.c)" = \
	    "$srcdir/agent/cmd-once.c" ]
}
scenario() {
	case $1 in
	batch_staged|batch_copied|batch_source_removed) echo xdev ;;
	batch_rejected|dlq_appended) echo reject ;;
	sftp_fetched) echo sftp ;;
	*) echo https ;;
	esac
}

CL_BATCH=100
cl_setup small yes a
cl_reference

# Each point in an instance of its own (state_dirs, receiver), JOBS of
# them at a time: most of a run is waiting for the disk and the peers.
JOBS=${TD_RUNFP_JOBS:-6}
JOBPIDS=
n=0
RUNS=
for fp in $POINTS; do
	if only_once "$fp"; then
		t_ok 0 "# SKIP $fp: only \`once\` reaches it (agent/cmd-once.c)"
		continue
	fi
	n=$((n + 1))
	sc=$(scenario "$fp")
	case $sc in
	xdev) cl_instance "$T_TMP/fp$n" "file:$T_TMP/xdev/out$n" ;;
	sftp) cl_instance "$T_TMP/fp$n" https sftp ;;
	*) cl_instance "$T_TMP/fp$n" https ;;
	esac || { t_ok 1 "$fp: set up"; continue; }
	[ "$sc" = reject ] && echo "/batches status 422" > "$T_TMP/fp$n/peer/faults"
	RUNS="$RUNS $n:$fp:$sc"
	( cl_py fail "$fp" > "$T_TMP/fp$n/fail.out" 2>&1
	  echo $? > "$T_TMP/fp$n/fail.rc"
	  cl_check_run ) &
	JOBPIDS="$JOBPIDS $!"
	if [ $((n % JOBS)) -eq 0 ]; then
		wait $JOBPIDS	# not the receivers, which run on
		JOBPIDS=
	fi
done
[ -z "$JOBPIDS" ] || wait $JOBPIDS
for r in $RUNS; do
	n=${r%%:*} sc=${r##*:} fp=${r#*:}; fp=${fp%:*}
	CFG=$T_TMP/fp$n/cl.json
	t_is "$(cat "$T_TMP/fp$n/fail.rc")" 0 "$fp: the run ran to its end"
	fired=$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["fired"])' \
	    "$T_TMP/fp$n/logs/summary.json" 2>/dev/null)
	t_is "$fired" True "$fp ($sc): the daemon's worker was killed there"
	[ "$fired" = True ] || sed 's/^/#   /' "$T_TMP/fp$n/fail.out" | tail -5
	cl_check "$fp ($sc)"
done
t_done
