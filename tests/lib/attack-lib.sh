# attack-lib.sh - drops and configurations for the attack tests
# (attack.sh, attack2.sh). Source after common.sh and t_tmpdir.
#   mk_conf NAME STATE_DIR [LINE...]  $T_TMP/NAME.conf (0644, readable by
#                                     nobody); the lines go last (a second
#                                     [integration] header continues it)
#   mk FILE UNITS                     a one-row CSV (one store, item and
#                                     day: the units are in the key, so
#                                     that Tier 4 sees no restatement)
#   tid FILE                          its transmission id

mk_conf() {
	_n=$1 _s=$2; shift 2
	printf '%s\n' "[integration]" "name = acme" "state_dir = $_s" \
	    "[watch]" "settle = 0" "[output]" "url = file://$_s-out" "[map]" \
	    'store_id = column "Store"' 'gtin = column "UPC" gtin' \
	    'txn_date = column "Date" date "%Y-%m-%d"' \
	    'quantity = column "Units" decimal' \
	    'key = store_id, gtin, txn_date, quantity' "$@" > "$T_TMP/$_n.conf"
	chmod 644 "$T_TMP/$_n.conf"
}
mk() { printf 'Store,UPC,Date,Units\n1,041000001239,2026-11-28,%s\n' "$2" > "$1"; }
tid() { sha256sum "$1" | cut -c1-64; }
