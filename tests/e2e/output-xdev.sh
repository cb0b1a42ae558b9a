#!/bin/sh
# output-xdev.sh - a file:// output on another filesystem than state_dir
# (a tmpfs in a private mount namespace): batches are copied there, not
# renamed. A SIGKILL at each step of the copy (TD_FAILPOINT) or a full
# output filesystem stops a run; the next run finishes the move, and what
# is delivered equals an undisturbed run's, file for file and byte for
# byte, with no half file under a final name; later drops flow again.
# A FIFO or a link a reader put at a batch's name is not read.
. "$srcdir/tests/lib/common.sh"
[ "$(id -u)" -eq 0 ] || t_skip_all "needs root for a mount namespace"
command -v unshare > /dev/null || t_skip_all "unshare not installed"
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
if [ -z "${TD_XDEV_NS:-}" ]; then
	# again, in a mount namespace of its own: its mounts die with it
	TD_XDEV_NS=1 exec unshare -m --propagation private sh "$0" "$@"
fi
t_tmpdir
trap 'umount "$T_TMP/out" "$T_TMP/full" "$T_TMP/rd" 2>/dev/null; rm -rf "$T_TMP"' EXIT

. "$srcdir/tests/lib/delivery-lib.sh"
# 5,000 rows (five batches of about 100 kB) with one bad row, and a
# small drop for later
dl_rows "$T_TMP/a.csv" 5000 7 77
dl_rows "$T_TMP/b.csv" 20 8
mk_conf() {	# mk_conf NAME STATE OUT
	dl_conf "$1" "$2" "file://$3"
}
run() {	# run CONF LOG [FAILPOINT]: once, exit status in RC
	TD_FAILPOINT=${3:-} "$TRADEDROP" once -c "$T_TMP/$1.conf" \
	    2> "$T_TMP/$2"
	RC=$?
}
same() { dl_same "$T_TMP/ref-out" "$T_TMP/$1" ${2:-}; }

# the reference: an undisturbed run, output on the state's filesystem
mk_conf ref "$T_TMP/ref" "$T_TMP/ref-out"
cp "$T_TMP/a.csv" "$T_TMP/ref/landing/"
run ref ref.log
t_is "$RC" 1 "reference run delivers a, one row dead-lettered: exit 1"
cp "$T_TMP/b.csv" "$T_TMP/ref/landing/"
run ref ref2.log
t_is "$RC" 0 "reference run delivers b"
t_is "$(ls "$T_TMP/ref-out"/* | grep -c batch-)" 6 "six batches in the reference"

# ------------------------------------------- a SIGKILL at each step
mkdir -p "$T_TMP/out"
mount -t tmpfs -o size=64m tmpfs "$T_TMP/out"
t_is $? 0 "output on a tmpfs"
mk_conf kill "$T_TMP/s1" "$T_TMP/out"
cp "$T_TMP/a.csv" "$T_TMP/s1/landing/"
n=0
for fp in batch_staged:2 batch_copied:2 batch_source_removed:1; do
	n=$((n + 1))
	run kill "kill$n.log" "$fp"
	t_is "$RC" 137 "killed at $fp"
	t_grep "$T_TMP/kill$n.log" "event=failpoint name=${fp%:*}" \
		"the kill came at $fp"
	t_is "$(same out)" ok "after the kill at $fp, every file under a final name is intact"
	[ $n -eq 1 ] && t_is "$(find "$T_TMP/out" -name '*.tmp' | wc -l)" 1 \
		"the batch being copied is only under a temporary name"
done
t_is "$(find "$T_TMP/out" -name 'batch-*.tmp' | wc -l)" 0 \
	"the batch staged when the first run was killed was finished by a later one"
run kill kill4.log
t_is "$RC" 1 "the next run finishes the delivery, exit 1 as the reference"
t_is "$(same out)" ok "what it delivered is the reference's"
t_is "$(ls "$T_TMP"/out/*/manifest.json | wc -l)" 1 "a is delivered, manifest last"
cp "$T_TMP/b.csv" "$T_TMP/s1/landing/"
run kill kill5.log
t_is "$RC" 0 "a later drop is delivered"
t_is "$(same out --all)" ok "the output equals the reference's byte for byte"
t_is "$(find "$T_TMP/out" -name '*.tmp')" "" "no temporary files left in the output"
t_is "$(find "$T_TMP/s1/outbox" -mindepth 1)" "" "the outbox is empty"

# ------------------------------------------- the output filesystem full
# room for two batches: the third fails with ENOSPC
mkdir -p "$T_TMP/full"
mount -t tmpfs -o size=256k tmpfs "$T_TMP/full"
mk_conf full "$T_TMP/s2" "$T_TMP/full"
cp "$T_TMP/a.csv" "$T_TMP/s2/landing/"
run full full1.log
t_is "$RC" 3 "output full: once exits 3"
t_grep "$T_TMP/full1.log" "error=\"no space left on the output filesystem\"" \
	"the full output filesystem is named in the log"
t_is "$(find "$T_TMP/full" -name '*.tmp')" "" "no temporary file left in the output"
t_is "$(same full)" ok "every file under a final name is intact"
run full full2.log
t_is "$RC" 3 "still full: once exits 3 again"
t_is "$(same full)" ok "still nothing half-written"
mount -o remount,size=64m "$T_TMP/full"
run full full3.log
t_is "$RC" 1 "with space back, the next run delivers, exit 1 as the reference"
cp "$T_TMP/b.csv" "$T_TMP/s2/landing/"
run full full4.log
t_is "$RC" 0 "a later drop is delivered"
t_is "$(same full --all)" ok "the output equals the reference's byte for byte"

# ------------------------------------------- a reader's directory first
# The output may be writable by its reader, who can compute a drop's id
# (its SHA-256) and make its directory first: across filesystems the
# copy of an earlier run is looked for at each batch's name, and a FIFO
# there blocked the delivery for good, a link to a device read without
# end. Neither is read: the batches are copied over them.
mkdir -p "$T_TMP/rd"
mount -t tmpfs -o size=64m tmpfs "$T_TMP/rd"
mk_conf rd "$T_TMP/s3" "$T_TMP/rd"
TB=$(sha256sum < "$T_TMP/b.csv" | cut -c1-64)
mkdir -m 1777 "$T_TMP/rd/$TB"
mkfifo "$T_TMP/rd/$TB/batch-000001.ndjson.gz"
chown -R nobody "$T_TMP/rd/$TB"
cp "$T_TMP/b.csv" "$T_TMP/s3/landing/"
timeout 20 "$TRADEDROP" once -c "$T_TMP/rd.conf" 2> "$T_TMP/rd1.log"
RC=$?
t_is "$RC" 0 "a FIFO at a batch's name in a reader's directory: not blocked on, delivered"
t_ok "$([ -f "$T_TMP/rd/$TB/batch-000001.ndjson.gz" ] && [ -f "$T_TMP/rd/$TB/manifest.json" ]; echo $?)" \
	"the batch copied over the FIFO, the manifest written"
TA=$(sha256sum < "$T_TMP/a.csv" | cut -c1-64)
mkdir -m 1777 "$T_TMP/rd/$TA"
ln -s /dev/zero "$T_TMP/rd/$TA/batch-000001.ndjson.gz"
chown -hR nobody "$T_TMP/rd/$TA"
cp "$T_TMP/a.csv" "$T_TMP/s3/landing/"
timeout 20 "$TRADEDROP" once -c "$T_TMP/rd.conf" 2> "$T_TMP/rd2.log"
RC=$?
t_is "$RC" 1 "a link to /dev/zero at a batch's name: not read, delivered (exit 1 as the reference)"
t_ok "$([ -f "$T_TMP/rd/$TA/batch-000001.ndjson.gz" ] && [ ! -L "$T_TMP/rd/$TA/batch-000001.ndjson.gz" ]; echo $?)" \
	"the batch copied over the link"
t_done
