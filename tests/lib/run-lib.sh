# run-lib.sh - start and stop `tradedrop run --foreground` from a shell
# test. Source after common.sh and t_tmpdir.
#   run_start CONF LOG     start it, wait for event=run_start; RUN_PID
#   run_signal SIG         send SIG to it
#   run_stop               SIGTERM; RUN_RC its exit status, RUN_MS the
#                          milliseconds it took to exit
#   wait_until SECS CMD... run CMD every 50 ms until it succeeds; 1 when
#                          SECS passed first
#   now_ms                 milliseconds since the epoch
#   run_conf FILE STATE OUT [LINES...]
#                          a config for drops of "Store Nbr,Week Ending,
#                          UPC,Units,Sales,Ticket" rows (the ticket keys
#                          each row for Tier 4), settle = 0, file://OUT;
#                          LINES are added to [map]
#   run_drop DIR NAME ROWS a drop of ROWS rows written beside DIR and
#                          renamed into it
#   run_delivered OUT N    at least N manifests are in the file:// OUT
# A daemon still running when the test exits is killed.

RUN_PID=
now_ms() { date +%s%3N; }
wait_until() {
	_wu_end=$(( $(now_ms) + $1 * 1000 )); shift
	until "$@"; do
		[ "$(now_ms)" -ge "$_wu_end" ] && return 1
		sleep 0.05
	done
	return 0
}
run_start() {
	"$TRADEDROP" run --foreground -c "$1" 2>> "$2" &
	RUN_PID=$!
	if ! wait_until 10 grep -q 'event=run_start' "$2"; then
		echo "# run did not start:"; sed 's/^/#   | /' "$2" | tail -20
		return 1
	fi
}
run_signal() { kill -"$1" "$RUN_PID"; }
run_stop() {
	_rs_t0=$(now_ms)
	kill -TERM "$RUN_PID" 2>/dev/null
	wait "$RUN_PID"; RUN_RC=$?
	RUN_MS=$(( $(now_ms) - _rs_t0 ))
	RUN_PID=
}
run_cleanup() {
	[ -n "$RUN_PID" ] && kill -KILL "$RUN_PID" 2>/dev/null
	true
}
run_conf() {
	_rc_f=$1 _rc_s=$2 _rc_o=$3; shift 3
	{ printf '[integration]\nname = acme\nstate_dir = %s\n' "$_rc_s"
	  printf '[output]\nurl = file://%s\nbatch_records = 1000\n' "$_rc_o"
	  printf '[watch]\nsettle = 0\n[map]\n'
	  printf 'quantity = column "Units" decimal\n'
	  printf 'txn_date = column "Week Ending" date "%%m/%%d/%%Y"\n'
	  printf 'store_id = column "Store Nbr"\ngtin = column "UPC" gtin\n'
	  # every row of every drop is its own sale: Tier 4 withholds none
	  printf 'txn_ref = column "Ticket"\n'
	  printf 'key = store_id, gtin, txn_date, txn_ref\n'
	  for _rc_l in "$@"; do echo "$_rc_l"; done
	} > "$_rc_f"
}
run_drop() {
	{ echo "Store Nbr,Week Ending,UPC,Units,Sales,Ticket"; _rd_i=1
	  while [ $_rd_i -le "$3" ]; do
		echo "$_rd_i,11/28/2026,041000001239,$_rd_i,$_rd_i.50,$2-$_rd_i"
		_rd_i=$((_rd_i + 1))
	  done; } > "$1/../.$2.tmp"
	mv "$1/../.$2.tmp" "$1/$2"
}
run_delivered() {
	[ "$(ls "$1"/*/manifest.json 2>/dev/null | wc -l)" -ge "$2" ]
}
