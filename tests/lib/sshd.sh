# sshd.sh - a real OpenSSH sshd with internal-sftp on 127.0.0.1 for tests;
# source it after common.sh.
#
#   sshd_require            t_skip_all unless root with sshd, unshare, ssh-keygen
#   sshd_start DIR          start it; sets the variables below
#   sshd_stop               stop it (also safe when never started)
#   sshd_kill_session       kill -9 the `sshd: USER@notty` session process(es):
#                           the transfer breaks at once, the listener survives
#   sshd_signal_session -SIG  send SIG to them (-STOP pauses a transfer)
#   sshd_known_hosts FILE [hashed]   a correct known_hosts for [127.0.0.1]:PORT
#
# It runs as root inside `unshare --mount --pid --fork`, with a private
# tmpfs on /run (for /run/sshd) and bind-mounted copies of /etc/passwd,
# /etc/shadow and /etc/group that add the test user, so the host is not
# touched. The user has a password and an authorized ed25519 key; its
# files live under a plain home directory (no chroot: the test manipulates
# the remote directory directly).
#
# After sshd_start:
#   SSHD_PORT SSHD_USER SSHD_UID SSHD_HOME SSHD_PASSWORD SSHD_PASSFILE
#   SSHD_KEY (client private key, ed25519, mode 600)
#   SSHD_HOSTKEY_PUB (the server's public host key file)
#   SSHD_FP (its fingerprint, "SHA256:...", as ssh-keygen -l prints it)
#   SSHD_LOG (sshd's log)
# Set SSHD_FORCE_COMMAND before sshd_start to serve SFTP with another
# program (run by the user's shell on the session's stdin/stdout).

SSHD_BIN=/usr/sbin/sshd
SSHD_USER=tduser
SSHD_UID=47110
SSHD_UNSHARE=

sshd_require() {
	[ "$(id -u)" -eq 0 ] || t_skip_all "not root (sshd needs /run/sshd in a private namespace)"
	[ -x "$SSHD_BIN" ] || t_skip_all "$SSHD_BIN not installed (openssh-server)"
	for _c in unshare ssh-keygen openssl; do
		command -v $_c >/dev/null 2>&1 || t_skip_all "$_c not found"
	done
	unshare --mount --pid --fork true 2>/dev/null ||
	    t_skip_all "cannot create mount and pid namespaces"
}

# A free TCP port on 127.0.0.1 (bound and released; sshd_start retries).
sshd_free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
	    echo $((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000))
}

sshd_start() {
	SSHD_DIR=$1
	mkdir -p "$SSHD_DIR"
	SSHD_HOME=$SSHD_DIR/home
	SSHD_LOG=$SSHD_DIR/sshd.log
	SSHD_KEY=$SSHD_DIR/id_ed25519
	SSHD_PASSFILE=$SSHD_DIR/password
	SSHD_HOSTKEY_PUB=$SSHD_DIR/ssh_host_ed25519_key.pub
	SSHD_PASSWORD="pw-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
	mkdir -p "$SSHD_HOME"
	chown "$SSHD_UID:$SSHD_UID" "$SSHD_HOME"
	rm -f "$SSHD_DIR/ssh_host_ed25519_key" "$SSHD_DIR/ssh_host_ed25519_key.pub" "$SSHD_KEY" "$SSHD_KEY.pub"
	ssh-keygen -q -t ed25519 -N '' -C test-host -f "$SSHD_DIR/ssh_host_ed25519_key" </dev/null >/dev/null
	ssh-keygen -q -t ed25519 -N '' -C test-client -f "$SSHD_KEY" </dev/null >/dev/null
	cp "$SSHD_KEY.pub" "$SSHD_DIR/authorized_keys"
	chmod 600 "$SSHD_KEY"
	printf '%s\n' "$SSHD_PASSWORD" > "$SSHD_PASSFILE"
	chmod 600 "$SSHD_PASSFILE"
	SSHD_FP=$(ssh-keygen -l -E sha256 -f "$SSHD_HOSTKEY_PUB" | awk '{print $2}')
	_hash=$(openssl passwd -6 "$SSHD_PASSWORD")
	{ cat /etc/passwd; echo "$SSHD_USER:x:$SSHD_UID:$SSHD_UID:tradedrop test:$SSHD_HOME:/bin/sh"; } > "$SSHD_DIR/passwd"
	{ cat /etc/group; echo "$SSHD_USER:x:$SSHD_UID:"; } > "$SSHD_DIR/group"
	{ cat /etc/shadow; echo "$SSHD_USER:$_hash:19000:0:99999:7:::"; } > "$SSHD_DIR/shadow"
	chmod 640 "$SSHD_DIR/shadow"
	for _try in 1 2 3 4 5; do
		SSHD_PORT=$(sshd_free_port)
		cat > "$SSHD_DIR/sshd_config" <<CONF
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $SSHD_DIR/ssh_host_ed25519_key
PidFile $SSHD_DIR/sshd.pid
AuthorizedKeysFile $SSHD_DIR/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin no
AllowUsers $SSHD_USER
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
Subsystem sftp internal-sftp
ForceCommand ${SSHD_FORCE_COMMAND:-internal-sftp}
MaxStartups 100
MaxAuthTries 6
LogLevel VERBOSE
CONF
		: > "$SSHD_LOG"
		unshare --mount --pid --fork --kill-child=SIGTERM sh -c '
			set -e
			mount -t tmpfs -o mode=755 tmpfs /run
			mkdir -m 755 /run/sshd
			mount --bind "$1/passwd" /etc/passwd
			mount --bind "$1/shadow" /etc/shadow
			mount --bind "$1/group" /etc/group
			exec '"$SSHD_BIN"' -D -e -f "$1/sshd_config"' sh "$SSHD_DIR" \
			>> "$SSHD_LOG" 2>&1 &
		SSHD_UNSHARE=$!
		_i=0
		while [ $_i -lt 100 ]; do
			grep -q 'Server listening on' "$SSHD_LOG" && return 0
			kill -0 "$SSHD_UNSHARE" 2>/dev/null || break
			sleep 0.05
			_i=$((_i + 1))
		done
		sshd_stop
		grep -q 'Address already in use' "$SSHD_LOG" || break
	done
	echo "# sshd did not start:"
	sed 's/^/#   /' "$SSHD_LOG"
	return 1
}

# unshare ignores SIGTERM while it waits: stop sshd, PID 1 of the
# namespace, whose death ends every session too.
sshd_stop() {
	[ -n "$SSHD_UNSHARE" ] || return 0
	for _p in $(cat /proc/"$SSHD_UNSHARE"/task/*/children 2>/dev/null); do
		kill "$_p" 2>/dev/null
	done
	wait "$SSHD_UNSHARE" 2>/dev/null
	SSHD_UNSHARE=
}

# Descendants of process $1 (host pids), one per line.
sshd_descendants() {
	for _k in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		echo "$_k"
		sshd_descendants "$_k"
	done
}

# kill -9 the session process (`sshd: USER@notty`), not the [priv] monitor.
sshd_kill_session() {
	sshd_signal_session -9
}

# sshd_signal_session -SIG: send SIG to the session process(es) (internal-
# sftp runs in it: -STOP pauses a transfer, -CONT goes on)
sshd_signal_session() {
	_n=0
	for _p in $(sshd_descendants "$SSHD_UNSHARE"); do
		_cmd=$(tr '\0' ' ' < /proc/"$_p"/cmdline 2>/dev/null)
		case $_cmd in
		"sshd: $SSHD_USER@notty"*)
			kill "$1" "$_p" 2>/dev/null && _n=$((_n + 1)) ;;
		esac
	done
	[ $_n -gt 0 ]
}

# sshd_known_hosts FILE [hashed]
sshd_known_hosts() {
	echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$SSHD_HOSTKEY_PUB")" > "$1"
	if [ "${2:-}" = hashed ]; then
		ssh-keygen -q -H -f "$1" >/dev/null 2>&1
		rm -f "$1.old"
	fi
}
