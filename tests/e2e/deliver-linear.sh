#!/bin/sh
# deliver-linear.sh - delivery does work in proportion to the number of
# batches: twice the batches, about twice the SQLite work (the
# delivery_done debug line counts the virtual machine instructions
# delivery ran). A count subquery per batch made it quadratic: 40,000
# batches took minutes to deliver.
. "$srcdir/tests/lib/common.sh"
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
t_tmpdir
. "$srcdir/tests/lib/delivery-lib.sh"

steps() {	# steps N: deliver N one-record batches, print the SQLite work
	dl_rows "$T_TMP/$1.csv" "$1"
	dl_conf "c$1" "$T_TMP/s$1" "file://$T_TMP/out$1"
	sed -i 's/^name = acme$/&\nlog_level = debug/; s/^batch_records = .*/batch_records = 1/' \
	    "$T_TMP/c$1.conf"
	mv "$T_TMP/$1.csv" "$T_TMP/s$1/landing/"
	"$TRADEDROP" once -c "$T_TMP/c$1.conf" 2> "$T_TMP/log$1"
	echo "$? $(sed -n 's/.*event=delivery_done .*batches=\([0-9]*\) sql_vm_steps=\([0-9]*\).*/\1 \2/p' "$T_TMP/log$1")"
}
set -- $(steps 1500)
t_is "$1 $2" "0 1500" "1,500 batches delivered"
A=$3
set -- $(steps 3000)
t_is "$1 $2" "0 3000" "3,000 batches delivered"
B=$3
echo "# SQLite VM instructions: $A for 1,500 batches, $B for 3,000"
t_is "$(ls "$T_TMP"/out3000/* | grep -c '^batch-')" 3000 "every batch in the output"
t_ok "$([ -n "$A" ] && [ -n "$B" ] && [ $((B * 10)) -le $((A * 25)) ]; echo $?)" \
	"twice the batches, at most 2.5 times the work ($B against $A)"
t_done
