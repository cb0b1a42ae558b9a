# ledger-lib.sh - helpers of the dated-ledger tests (ledger-days.sh,
# ledger-days-holds.sh), sourced after common.sh and t_tmpdir: the
# sqlite3 they need (SKIP without it), delivery-lib.sh, and
#   drop NAME DATE STORE,UNITS...  rows of one item into $S/landing/NAME
#   tid NAME                       the transmission_id of $S's NAME
#   to_schema6 STATE_DIR           that state.db made as schema 6 left it:
#                                  keys of the record_key alone, holds
#                                  without key_day, remote_files without
#                                  sha256 (schema 8), backoff without
#                                  last_refused (schema 9), transmissions
#                                  without releases (schema 10)
command -v sqlite3 > /dev/null || t_skip_all "sqlite3 not installed"
# a schema-6 ledger is made with ALTER TABLE ... DROP COLUMN: SQLite 3.35
sqlite3 :memory: "CREATE TABLE t(a, b); ALTER TABLE t DROP COLUMN b;" \
    2> /dev/null || t_skip_all "sqlite3 older than 3.35 (no DROP COLUMN)"
PY=/usr/bin/python3
. "$srcdir/tests/lib/delivery-lib.sh"
drop() {
	_n=$1 _d=$2; shift 2
	echo "Store,UPC,Date,Units" > "$S/landing/$_n"
	for _r in "$@"; do
		echo "${_r%%,*},041000001239,$_d,${_r#*,}" >> "$S/landing/$_n"
	done
}
tid() { sha256sum "$S"/archive/*/*/*/raw/"$1" | cut -c1-64; }
to_schema6() {
	sqlite3 "$1/state.db" "UPDATE record_keys SET record_key =
	    substr(record_key, 5); ALTER TABLE holds DROP COLUMN key_day;
	    ALTER TABLE remote_files DROP COLUMN sha256;
	    ALTER TABLE backoff DROP COLUMN last_refused;
	    ALTER TABLE transmissions DROP COLUMN releases;
	    ALTER TABLE transmissions DROP COLUMN approvals;
	    PRAGMA user_version = 6;"
}
