#!/bin/sh
# enospc.sh - a full disk while processing pauses intake (exit 3) without
# corrupting state; with space back, the next run delivers exactly what an
# undisturbed run delivers. state_dir is a small tmpfs in a private mount
# namespace, so nothing of the host is touched.
. "$srcdir/tests/lib/common.sh"
[ "$(id -u)" -eq 0 ] || t_skip_all "needs root for a mount namespace"
command -v unshare > /dev/null || t_skip_all "unshare not installed"
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
t_tmpdir

. "$srcdir/tests/lib/delivery-lib.sh"

# ~1.5 MB of rows: its batches and records file need more than 3 MiB
dl_rows "$T_TMP/big.csv" 40000
dl_rows "$T_TMP/tiny.csv" 3 7
mk_conf() {	# mk_conf NAME STATE OUT
	dl_conf "$1" "$2" "file://$3"
}
mk_conf ref "$T_TMP/ref-state" "$T_TMP/ref-out"
mkdir -p "$T_TMP/ref-state/landing"
cp "$T_TMP/big.csv" "$T_TMP/tiny.csv" "$T_TMP/ref-state/landing/"
"$TRADEDROP" once -c "$T_TMP/ref.conf" 2> /dev/null
t_is $? 0 "reference run delivers"

mkdir -p "$T_TMP/small"
mk_conf small "$T_TMP/small" "$T_TMP/out"
cat > "$T_TMP/inner.sh" <<INNER
set -u
mount -t tmpfs -o size=3m tmpfs "$T_TMP/small" || exit 90
mkdir -p "$T_TMP/small/landing"
cp "$T_TMP/big.csv" "$T_TMP/small/landing/"
"$TRADEDROP" once -c "$T_TMP/small.conf" 2> "$T_TMP/log1"
echo \$? > "$T_TMP/rc1"
find "$T_TMP/small" -name '*.tmp' > "$T_TMP/tmps"
find "$T_TMP/small/outbox" -mindepth 1 > "$T_TMP/outbox1"
sqlite3 "$T_TMP/small/state.db" "SELECT state FROM transmissions" > "$T_TMP/state1" 2>&1
# still full: the waiting transmission fails again, and nothing new may
# be claimed in the same run
cp "$T_TMP/tiny.csv" "$T_TMP/small/landing/"
"$TRADEDROP" once -c "$T_TMP/small.conf" 2> "$T_TMP/log1b"
echo \$? > "$T_TMP/rc1b"
ls "$T_TMP/small/landing" > "$T_TMP/landing1b"
mount -o remount,size=64m "$T_TMP/small"
"$TRADEDROP" once -c "$T_TMP/small.conf" 2> "$T_TMP/log2"
echo \$? > "$T_TMP/rc2"
umount "$T_TMP/small"
INNER
unshare -m sh "$T_TMP/inner.sh"
t_is $? 0 "ran inside a mount namespace"
t_is "$(cat "$T_TMP/rc1")" 3 "disk full while processing: once exits 3"
t_grep "$T_TMP/log1" "event=intake_paused reason=disk_full" "the pause is logged"
t_is "$(cat "$T_TMP/tmps")" "" "no temporary files left behind"
t_is "$(cat "$T_TMP/outbox1")" "" "no partial outbox left behind"
t_is "$(cat "$T_TMP/state1")" "received" "the transmission waits, received, to be processed again"
t_is "$(cat "$T_TMP/rc1b")" 3 "still full: once exits 3 again"
t_is "$(cat "$T_TMP/landing1b")" "tiny.csv" "a run paused by a full disk claims no new file"
t_is "$(cat "$T_TMP/rc2")" 0 "with space back, the next once delivers"
R=$(cd "$T_TMP/ref-out" && find . -name 'batch-*' | sort)
O=$(cd "$T_TMP/out" && find . -name 'batch-*' | sort)
t_is "$O" "$R" "the same batches as an undisturbed run"
same=0
for f in $R; do cmp -s "$T_TMP/ref-out/$f" "$T_TMP/out/$f" || same=1; done
t_ok $same "every batch byte-identical to the undisturbed run's"

# Backpressure: with the reconciler unreachable, intake pauses once the
# outbox holds more than max_outbox_bytes (1 MiB here)
dl_conf bp "$T_TMP/bp" https://127.0.0.1:1/api "max_outbox_bytes = 1M" \
	"breaker_failures = 1"
mkdir -p "$T_TMP/bp/landing"
cp "$T_TMP/big.csv" "$T_TMP/bp/landing/a.csv"
sed 's/2026-11-28/2026-11-21/' "$T_TMP/big.csv" > "$T_TMP/bp/landing/b.csv"
touch -d '2026-11-28 10:00' "$T_TMP/bp/landing/a.csv"
touch -d '2026-11-28 11:00' "$T_TMP/bp/landing/b.csv"
"$TRADEDROP" once -c "$T_TMP/bp.conf" 2> "$T_TMP/bplog"
t_is $? 3 "reconciler unreachable: once exits 3"
t_grep "$T_TMP/bplog" "event=intake_paused reason=outbox_full" "intake pauses above max_outbox_bytes"
t_is "$(ls "$T_TMP/bp/landing")" "b.csv" "the next drop waits in landing"
t_done
