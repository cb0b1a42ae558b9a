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

# run started on a full state_dir (state.db cannot be opened: its -shm and
# WAL are written at open) waits for room instead of exiting, which under
# systemd's start limit left it down once room came back (8 MB: with the
# filler removed, more than the 4 MiB cmd-run.c asks for is free)
mkdir -p "$T_TMP/full"
dl_rows "$T_TMP/tiny2.csv" 3 8
mk_conf full "$T_TMP/full" "$T_TMP/fullout"
cat > "$T_TMP/inner2.sh" <<INNER
set -u
mount -t tmpfs -o size=8m tmpfs "$T_TMP/full" || exit 90
mkdir -p "$T_TMP/full/landing"
cp "$T_TMP/tiny.csv" "$T_TMP/full/landing/t1.csv"
"$TRADEDROP" once -c "$T_TMP/full.conf" 2> "$T_TMP/flog0" || exit 91
dd if=/dev/zero of="$T_TMP/full/filler" bs=64k 2> /dev/null
TD_FULL_WAIT_MS=200 "$TRADEDROP" run --foreground -c "$T_TMP/full.conf" \
    2> "$T_TMP/flog" &
P=\$!
sleep 1.5
kill -0 \$P 2> /dev/null && echo alive > "$T_TMP/falive"
rm -f "$T_TMP/full/filler"
n=0
while ! grep -q event=run_start "$T_TMP/flog" && [ \$n -lt 200 ]; do
	sleep 0.1; n=\$((n + 1)); done
cp "$T_TMP/tiny2.csv" "$T_TMP/full/landing/t2.csv"
n=0
while [ "\$(ls "$T_TMP/fullout" | wc -l)" -lt 2 ] && [ \$n -lt 200 ]; do
	sleep 0.1; n=\$((n + 1)); done
kill -TERM \$P
wait \$P
echo \$? > "$T_TMP/frc"
umount "$T_TMP/full"
INNER
unshare -m sh "$T_TMP/inner2.sh"
t_is $? 0 "full state_dir: ran inside a mount namespace"
t_is "$(cat "$T_TMP/falive" 2> /dev/null)" alive \
    "run on a full state_dir is still up after 1.5 s"
t_grep "$T_TMP/flog" "event=start_waiting reason=disk_full state_dir=$T_TMP/full" \
    "it says it waits for room, naming state_dir"
t_grep "$T_TMP/flog" "event=start_resumed" "with room back it starts"
t_is "$(ls "$T_TMP/fullout" | wc -l)" 2 "and delivers the file dropped then"
t_is "$(cat "$T_TMP/frc" 2> /dev/null)" 0 "SIGTERM: exit 0"
t_done
