# https-lib.sh - start and stop tests/lib/https-peer.py from a shell test.
# Source after common.sh and t_tmpdir; needs PY (python3) set.
#   peer_start DIR ARGS...   sets PEER_PID and PORT; 1 if it did not start
#   peer_stop PID            SIGTERM, wait, SIGKILL if it lingers
#   https_drop DIR NAME ROWS [BADROW]
#                            DIR/NAME, a CSV drop of ROWS rows (Store, UPC,
#                            Date, Units, Sales); row BADROW's GTIN has a
#                            wrong check digit (Tier 3)
# Every peer started is killed when the test exits.

PEERS=
peer_start() {
	_d=$1; shift
	mkdir -p "$_d"
	$PY "$srcdir/tests/lib/https-peer.py" --dir "$_d" "$@" 2>>"$_d/peer.log" &
	PEER_PID=$!
	PEERS="$PEERS $PEER_PID"
	_i=0
	while [ ! -s "$_d/port" ]; do
		if ! kill -0 "$PEER_PID" 2>/dev/null || [ $_i -ge 100 ]; then
			echo "# peer did not start:"; sed 's/^/#   | /' "$_d/peer.log"
			return 1
		fi
		sleep 0.1; _i=$((_i + 1))
	done
	PORT=$(cat "$_d/port")
}
peer_stop() {
	kill -TERM "$1" 2>/dev/null
	_i=0
	while kill -0 "$1" 2>/dev/null && [ $_i -lt 50 ]; do sleep 0.1; _i=$((_i + 1)); done
	kill -0 "$1" 2>/dev/null && { kill -KILL "$1"; echo "# peer $1 needed SIGKILL"; }
	wait "$1"
}
https_drop() {
	{ echo "Store,UPC,Date,Units,Sales"
	  _i=1; while [ $_i -le "$3" ]; do
		if [ "$_i" = "${4:-0}" ]; then echo "${2%.csv}$_i,041000001235,2026-11-28,1,1.00"
		else echo "${2%.csv}$_i,041000001239,2026-11-28,$_i,$_i.25"; fi
		_i=$((_i + 1)); done; } > "$1/$2"
}
trap 'for p in $PEERS; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$T_TMP"' EXIT
