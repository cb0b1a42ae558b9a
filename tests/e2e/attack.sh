#!/bin/sh
# attack.sh - an uploader with write access to landing_dir attacks the
# edge of the landing directory at the instants between two system calls
# of tradedrop. strace(1) holds tradedrop at one system call (-e inject=
# ...:delay_exit) so that the uploader's move lands exactly in the window
# a fast loop would hit by chance: the swap of a sidecar for a FIFO, a
# directory or a symbolic link, and an open for writing while tradedrop
# holds its read lease. Then an uploader that kept a descriptor of its
# file (tradedrop not its owner: no lease can tell) changes it after its
# claim: the signature must cover what is delivered, and the archived raw
# copy must stay the file received. Last, a sparse file on a landing
# directory of another filesystem must not be written out in full.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
command -v timeout > /dev/null || t_skip_all "timeout (coreutils) not installed"
[ "$(id -u)" -eq 0 ] || t_skip_all "needs root (setpriv, files of another owner)"
command -v setpriv > /dev/null || t_skip_all "setpriv not installed"
STRACE=0
command -v strace > /dev/null && strace -o /dev/null true 2> /dev/null && STRACE=1
chmod 755 "$T_TMP"
AS_NOBODY="setpriv --reuid=nobody --regid=nogroup --clear-groups"

. "$srcdir/tests/lib/attack-lib.sh"
# delivered FILE OUT: the records of FILE's transmission in OUT, or ""
delivered() {
	_d=$2/$(tid "$1")
	if [ -f "$_d/manifest.json" ]; then
		cat "$_d"/batch-*.ndjson.gz 2> /dev/null | gzip -dc | wc -l
	fi
}
# not_regular DIR: what under DIR is neither a regular file nor a directory
# of tradedrop's (an uploader's directory, a FIFO, a symlink)
not_regular() {
	find "$1/work" "$1/archive" "$1/quarantine" \( ! -type f ! -type d \) \
	    -o \( -type d ! -user "$(id -u)" \) -o \( -type d -name '*.sha256' \) \
	    2> /dev/null | sed "s|^$1/||"
}
SECRET=$T_TMP/secret
printf 'TOPSECRET\n' > "$SECRET"
chmod 600 "$SECRET"
# held PATH NTH SECS CMD...: run CMD under strace, the NTH fstatat(2) of
# PATH held SECS seconds before it returns
held() {
	_p=$1 _w=$2 _d=$3; shift 3
	ASAN_OPTIONS=$T_ASAN_NOLEAKS strace -f -o /dev/null -P "$_p" \
	    -e trace=newfstatat,fstatat64,lstat \
	    -e inject=newfstatat,fstatat64,lstat:delay_exit=${_d}000000:when=$_w "$@"
}

# claimed FILE: wait until FILE has left landing (at most 10 s); the
# looks at its sidecar that held() delays come after that
claimed() {
	_i=0
	while [ -e "$1" ] && [ $_i -lt 200 ]; do sleep 0.05; _i=$((_i + 1)); done
	sleep 0.3
}

# swap_sidecar CONF LANDING UNITS KIND: drop x.csv and x.csv.sha256 as
# nobody; run once with its 2nd look at x.csv.sha256 (claim_sidecars'
# own) held, and meanwhile swap a KIND (directory fifo symlink) in for it
swap_sidecar() {
	chown nobody "$2"
	mk "$2/x.csv" "$3"
	(cd "$2" && sha256sum x.csv > x.csv.sha256)
	chown nobody "$2"/*
	held "$2/x.csv.sha256" 2 2 timeout 30 "$TRADEDROP" once \
	    -c "$T_TMP/$1.conf" 2> "$T_TMP/log-$1" &
	_p=$!
	claimed "$2/x.csv"
	$AS_NOBODY sh -c "cd '$2' && mv x.csv.sha256 .old &&
	    case $4 in
	    directory) mkdir x.csv.sha256 && : > x.csv.sha256/inside ;;
	    fifo) mkfifo x.csv.sha256 ;;
	    symlink) ln -s '$SECRET' x.csv.sha256 ;;
	    esac"
	wait $_p
}

# ------------------------------ the read lease's break signal (SIGIO)
# tradedrop takes a read lease to tell whether a writer holds the file.
# The uploader that opens the file for writing while it is held breaks
# it, and the kernel signals the lease holder with SIGIO, whose default
# action kills the process: any uploader could kill every run.
if [ $STRACE -eq 1 ]; then
	S=$T_TMP/s1; L=$S/landing
	mkdir -p "$L"
	mk_conf c1 "$S"
	mk "$L/x.csv" 1
	touch -d '1 min ago' "$L/x.csv"
	ASAN_OPTIONS=$T_ASAN_NOLEAKS strace -f -o /dev/null -P "$L/x.csv" -e trace=fcntl \
	    -e inject=fcntl:delay_exit=4000000:when=1 \
	    timeout 60 "$TRADEDROP" once -c "$T_TMP/c1.conf" 2> "$T_TMP/log1" &
	P=$!
	sleep 2
	$PY -c 'import os, sys
try: os.close(os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK))
except OSError: pass' "$L/x.csv"
	wait $P
	t_is $? 0 "an uploader opening its file for writing during the claim does not kill the run (SIGIO)"
	# (a run that saw the writer may leave the file for the next)
	[ -f "$L/x.csv" ] && "$TRADEDROP" once -c "$T_TMP/c1.conf" 2>> "$T_TMP/log1"
	t_is "$(delivered "$T_TMP/s1/archive"/*/*/*/raw/x.csv "$S-out" 2> /dev/null)" 1 \
		"and its file is delivered"
else
	t_skip "needs strace"; t_skip "needs strace"
fi

# ------------------------- a sidecar swapped for a FIFO once looked at
# NAME.sha256 is a regular file when it is looked at (lstat), a FIFO when
# it is opened to be read: the open must not wait for a writer forever
# (and hold state_dir/lock, so that every later run exits 3).
if [ $STRACE -eq 1 ]; then
	S=$T_TMP/s2; L=$S/landing
	mkdir -p "$L"
	mk_conf c2 "$S"
	mk "$L/x.csv" 2
	(cd "$L" && sha256sum x.csv > x.csv.sha256)
	mk "$L/good.csv" 3
	mkfifo "$T_TMP/fifo"
	held "$L/x.csv.sha256" 1 3 timeout 30 "$TRADEDROP" once \
	    -c "$T_TMP/c2.conf" 2> "$T_TMP/log2" &
	P=$!
	claimed "$L/x.csv"
	mv "$T_TMP/fifo" "$L/x.csv.sha256"
	wait $P
	RC=$?
	t_ok "$([ $RC -ne 124 ]; echo $?)" "a sidecar swapped for a FIFO does not hang the run (exit $RC)"
	t_is "$(delivered "$L/../archive"/*/*/*/raw/good.csv "$S-out" 2> /dev/null)" 1 \
		"the file beside it is delivered"
	t_is "$(not_regular "$S")" "" "no FIFO was taken into state_dir"
else
	t_skip "needs strace"; t_skip "needs strace"; t_skip "needs strace"
fi

# --------------------- a sidecar swapped while it is claimed (rename)
# claim_sidecars looks at NAME.sha256 and then renames whatever is under
# that name at the time: the uploader's directory (which a process of the
# uploader may still be inside, writing into state_dir; a duplicate drop
# then has tradedrop remove that tree as root, through a symlink raced
# inside it), a FIFO or a symbolic link to a file it cannot read.
if [ $STRACE -eq 1 ]; then
	n=0
	for kind in directory fifo symlink; do
		n=$((n + 1))
		S=$T_TMP/s3$n; L=$S/landing
		mkdir -p "$L"
		mk_conf c3$n "$S"
		swap_sidecar c3$n "$L" $((10 + n)) $kind
		RC=$?
		t_ok "$([ $RC -ne 124 ]; echo $?)" \
			"a $kind swapped in for a sidecar during the claim does not hang the run (exit $RC)"
		t_is "$(not_regular "$S")" "" \
			"a $kind swapped in for a sidecar during the claim is not moved into state_dir"
	done
else
	for i in 1 2 3 4 5 6; do t_skip "needs strace"; done
fi

# ----------------- the same with landing_dir on another filesystem
# There a sidecar is copied (path-based, following links, as root): a
# symlink swapped in copies the file it points to into the archive.
XFS=/dev/shm
if [ $STRACE -eq 1 ] && [ -d $XFS ] && [ -w $XFS ] &&
    [ "$(stat -c %d $XFS)" != "$(stat -c %d "$T_TMP")" ]; then
	XL=$(mktemp -d $XFS/td-attack.XXXXXX)
	trap 'rm -rf "$T_TMP" "$XL"' EXIT
	chmod 755 "$XL"
	S=$T_TMP/s4; L=$XL/l4
	mkdir -p "$L" "$S"
	mk_conf c4 "$S" "[integration]" "landing_dir = $L"
	swap_sidecar c4 "$L" 21 symlink
	t_is "$(grep -rl TOPSECRET "$S" 2> /dev/null | wc -l)" 0 \
		"a symlink swapped in for a sidecar is not followed into another filesystem's copy"

	# a sparse file: nothing on the landing filesystem, 256 MiB of NUL
	# bytes once copied densely into state_dir
	S=$T_TMP/s5; L=$XL/l5
	mkdir -p "$L" "$S"
	mk_conf c5 "$S" "[integration]" "landing_dir = $L"
	truncate -s 256M "$L/sparse.csv"
	timeout 120 "$TRADEDROP" once -c "$T_TMP/c5.conf" 2> "$T_TMP/log5"
	KB=$(du -sk "$S" | cut -f1)
	t_ok "$([ "$KB" -lt 65536 ]; echo $?)" \
		"a sparse file from another filesystem is not written out in full ($KB KiB in state_dir)"
else
	t_skip "needs strace and $XFS on another filesystem"
	t_skip "needs $XFS on another filesystem"
fi

# --------------- a writer that kept its descriptor: what is verified
# tradedrop runs as nobody; the uploader (here root) owns the file, so no
# read lease can tell that it holds it open. A legacy ('Ed') minisign
# signature is checked by mapping the file again after it was hashed: the
# uploader puts the signed bytes there while the signature is checked,
# and its own bytes back before the file is parsed. The bytes parsed are
# those of the transmission id, the signature said "ok", and they were
# never signed.
if command -v minisign > /dev/null; then
	S=$T_TMP/s6; L=$S/landing
	mkdir -p "$L" "$S-out"
	(cd "$T_TMP" && minisign -G -W -p pub -s sec > /dev/null 2>&1)
	mk_conf c6 "$S" "[verify]" "signature = required" \
	    "trusted_key = $(sed -n 2p "$T_TMP/pub")"
	$PY - "$T_TMP" <<'PY'
import sys
d = sys.argv[1]
body = 'Store,UPC,Date,Units\n' + ''.join(
    '%d,041000001239,2026-11-28,1\n' % (100 + i % 900) for i in range(1200000))
open(d + '/signed.csv', 'w').write(body + '7,041000001239,2026-11-28,5\n')
open(d + '/forged.csv', 'w').write(body + '7,041000001239,2026-11-28,9\n')
print(len(body), file=open(d + '/tail.off', 'w'))
PY
	minisign -S -l -s "$T_TMP/sec" -m "$T_TMP/signed.csv" -t 'acme signed' \
	    < /dev/null > /dev/null 2>&1
	cp "$T_TMP/forged.csv" "$L/drop.csv"
	cp "$T_TMP/signed.csv.minisig" "$L/drop.csv.minisig"
	touch -d '1 min ago' "$L/drop.csv" "$L/drop.csv.minisig"
	chown -R nobody "$S" "$S-out"
	chown root "$L/drop.csv" "$L/drop.csv.minisig"
	$PY - "$L/drop.csv" "$(cat "$T_TMP/tail.off")" "$T_TMP/w6" <<'PY' &
import ctypes, os, struct, sys
p, off, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
libc = ctypes.CDLL(None, use_errno=True)
IN_OPEN, IN_CLOSE_NOWRITE = 0x20, 0x10
fd = os.open(p, os.O_RDWR)
ino = libc.inotify_init()
libc.inotify_add_watch(ino, ('/proc/self/fd/%d' % fd).encode(),
    IN_OPEN | IN_CLOSE_NOWRITE)
open(ready, 'w').close()
opens = 0
while True:
    buf = os.read(ino, 4096)
    i = 0
    while i < len(buf):
        wd, mask, cookie, ln = struct.unpack_from('iIII', buf, i)
        i += 16 + ln
        if mask & IN_OPEN:
            opens += 1
            if opens == 2:	# the signature check maps it again
                os.pwrite(fd, b'7,041000001239,2026-11-28,5\n', off)
        if mask & IN_CLOSE_NOWRITE and opens == 2:
            os.pwrite(fd, b'7,041000001239,2026-11-28,9\n', off)
            sys.exit(0)
PY
	W=$!
	while [ ! -f "$T_TMP/w6" ]; do sleep 0.1; done
	$AS_NOBODY timeout 120 "$TRADEDROP" once -c "$T_TMP/c6.conf" 2> "$T_TMP/log6"
	kill $W 2> /dev/null; wait $W 2> /dev/null
	FT=$(tid "$T_TMP/forged.csv")
	t_is "$(ls "$S-out/$FT" 2> /dev/null | grep -c manifest.json)" 0 \
		"bytes that were never signed are not delivered as signature ok"
else
	t_skip "needs minisign"
fi

# ... and the archived raw copy: the writer changes it after delivery
S=$T_TMP/s7; L=$S/landing
mkdir -p "$L" "$S-out"
mk_conf c7 "$S"
mk "$L/t.csv" 4
touch -d '1 min ago' "$L/t.csv"
T7=$(tid "$L/t.csv")
chown -R nobody "$S" "$S-out"
chown root "$L/t.csv"
$PY - "$L/t.csv" "$T_TMP/w7" <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
open(sys.argv[2], 'w').close()
while os.path.exists(sys.argv[1]):
    time.sleep(0.05)
time.sleep(2)
os.pwrite(fd, b'TAMPERED', 0)
PY
W=$!
while [ ! -f "$T_TMP/w7" ]; do sleep 0.1; done
$AS_NOBODY "$TRADEDROP" once -c "$T_TMP/c7.conf" 2> "$T_TMP/log7"
wait $W
RAW=$(ls "$S"/archive/*/*/"$T7"/raw/t.csv 2> /dev/null)
if [ -n "$RAW" ]; then
	t_is "$(tid "$RAW")" "$T7" \
		"the archived raw copy is still the file received after the uploader wrote to its descriptor"
else
	t_ok 0 "the file held open by another uid was not taken"
fi
t_done
