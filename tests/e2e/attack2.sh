#!/bin/sh
# attack2.sh - an uploader attacks the fixes of bc866b9. The read lease
# says only that nobody holds the file open for writing at the claim: an
# uploader that holds it open read-only (which a read lease allows)
# reopens it for writing through /proc/self/fd once the lease is let go,
# and so still writes the inode tradedrop archived. With the same
# descriptor it links the claimed inode back under its landing name: the
# claim is given back, cannot be (the returned name is too long), stays
# in work/ and fails every later run.
#
# TD_ATTACK2_ROWS=N makes the large file N rows instead of 3,000,000:
# make check-asan sets fewer, as ASan maps them several times slower
# and the runs have 60 s. (Its hashing, in libcrypto, is as fast there:
# it is what the uploader races.)
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
command -v timeout > /dev/null || t_skip_all "timeout (coreutils) not installed"
[ "$(id -u)" -eq 0 ] || t_skip_all "needs root (setpriv, a lease on another's file)"
command -v setpriv > /dev/null || t_skip_all "setpriv not installed"
chmod 755 "$T_TMP"
AS_NOBODY="setpriv --reuid=nobody --regid=nogroup --clear-groups"
mkdir "$T_TMP/rdy"
chmod 1777 "$T_TMP/rdy"

. "$srcdir/tests/lib/attack-lib.sh"
wait_for() {
	_i=0
	while [ ! -f "$1" ] && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
}

# ------------- the lease held over the claim, then let go (tradedrop root)
S=$T_TMP/s1; L=$S/landing
mkdir -p "$L" "$S-out"
mk_conf c1 "$S"
mk "$L/t.csv" 4
touch -d '1 min ago' "$L/t.csv"
T1=$(tid "$L/t.csv")
chown nobody "$L" "$L/t.csv"
$AS_NOBODY $PY - "$L/t.csv" "$T_TMP/rdy/w1" <<'PY' &
import os, sys, time
p = sys.argv[1]
fd = os.open(p, os.O_RDONLY)		# a reader: the read lease is granted
open(sys.argv[2], 'w').close()
while os.path.exists(p):
    time.sleep(0.01)
time.sleep(3)				# delivered by now
try:
    w = os.open('/proc/self/fd/%d' % fd, os.O_WRONLY)
    os.pwrite(w, b'TAMPERED', 0)
except OSError:
    pass
PY
W=$!
wait_for "$T_TMP/rdy/w1"
timeout 60 "$TRADEDROP" once -c "$T_TMP/c1.conf" 2> "$T_TMP/log1"
wait $W
RAW=$(ls "$S"/archive/*/*/"$T1"/raw/t.csv 2> /dev/null)
if [ -n "$RAW" ]; then
	t_is "$(tid "$RAW")" "$T1" \
		"the archived raw copy is still the file received after the uploader reopened its read descriptor for writing"
else
	t_ok 0 "the file held open was not taken"
fi

# ------------- a claim that cannot be given back stays in work/
S=$T_TMP/s2; L=$S/landing
mkdir -p "$L" "$S-out"
mk_conf c2 "$S"
N=$(printf 'a%.0s' $(seq 220)).csv
$PY - "$L/$N" "${TD_ATTACK2_ROWS:-3000000}" <<'PY'
import sys
open(sys.argv[1], 'w').write('Store,UPC,Date,Units\n' + ''.join(
    '%d,041000001239,2026-11-28,%d\n' % (100 + i % 900, i + 1)
    for i in range(int(sys.argv[2]))))
PY
touch -d '1 min ago' "$L/$N"
chown nobody "$L" "$L/$N"
$AS_NOBODY $PY - "$L" "$N" "$T_TMP/rdy/w2" <<'PY' &
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
land, name, ready = sys.argv[1:4]
p = os.path.join(land, name)
fd = os.open(p, os.O_RDONLY)
open(ready, 'w').close()
while os.path.exists(p):
    pass
# it grows while it is hashed: given back to landing
w = os.open('/proc/self/fd/%d' % fd, os.O_WRONLY | os.O_APPEND)
os.write(w, b'9,041000001239,2026-11-28,1\n')
# and its name is taken again there (AT_FDCWD, AT_SYMLINK_FOLLOW)
libc.linkat(-100, b'/proc/self/fd/%d' % fd, -100, p.encode(), 0x400)
PY
W=$!
wait_for "$T_TMP/rdy/w2"
timeout 60 "$TRADEDROP" once -c "$T_TMP/c2.conf" 2> "$T_TMP/log2"
wait $W
mk "$L/good.csv" 5
touch -d '1 min ago' "$L/good.csv"
G=$(tid "$L/good.csv")
# this run also takes in the 3 M rows given back: a guard against a hang,
# generous for a loaded 2-core machine
timeout 600 "$TRADEDROP" once -c "$T_TMP/c2.conf" 2>> "$T_TMP/log2"
RC=$?
timeout 60 "$TRADEDROP" once -c "$T_TMP/c2.conf" 2>> "$T_TMP/log2"
t_ok "$([ $RC -ne 4 ] && [ $? -ne 4 ]; echo $?)" \
	"a claim that could not be given back does not fail every later run"
t_ok "$([ -f "$S-out/$G/manifest.json" ]; echo $?)" \
	"the next retailer file is delivered"
t_is "$(find "$S/work" -mindepth 1 -maxdepth 1 | wc -l)" 0 \
	"nothing of the uploader's is left in work/"
t_done
