# delivery-lib.sh - drops and configurations for the delivery tests.
# Source after common.sh and t_tmpdir; needs PY (python3) set.
#   dl_rows FILE N [SEED [BADROW]]  N rows of Store,UPC,Date,Units with
#                                   valid UPC-A check digits; row BADROW
#                                   (0-based) gets a bad one
#   dl_conf NAME STATE URL [LINE...]  $T_TMP/NAME.conf mapping those
#                                   columns, output URL, batch_records =
#                                   1000, then LINE... (appended); makes
#                                   STATE/landing

dl_rows() {
	$PY - "$1" "$2" "${3:-5}" "${4:--1}" <<'PY'
import sys, random
path, n, seed, bad = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
r = random.Random(seed)
def upc():
    d = [r.randrange(10) for _ in range(11)]
    s = 3 * sum(d[0::2]) + sum(d[1::2])
    return "".join(map(str, d)) + str((10 - s % 10) % 10)
with open(path, "w") as f:
    f.write("Store,UPC,Date,Units\n")
    for i in range(n):
        u = upc() if i != bad else "041000001238"
        f.write("%d,%s,2026-11-28,%d\n" % (r.randrange(9999), u, r.randrange(1, 50)))
PY
}

dl_conf() {
	_n=$1 _s=$2 _u=$3; shift 3
	cat > "$T_TMP/$_n.conf" <<CONF
[integration]
name = acme
state_dir = $_s
[map]
store_id = column "Store"
gtin = column "UPC" gtin
txn_date = column "Date" date "%Y-%m-%d"
quantity = column "Units" decimal
[output]
url = $_u
batch_records = 1000
CONF
	for _l in "$@"; do echo "$_l" >> "$T_TMP/$_n.conf"; done
	mkdir -p "$_s/landing"
}
