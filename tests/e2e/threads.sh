#!/bin/sh
# threads.sh - the output does not depend on the number of threads (the
# parser child's mapping threads, the compressing ones): the same drop
# taken by `tradedrop once` on one core (taskset -c 0: one thread each)
# and on every core of the machine (one thread per core, up to 8) gives
# the same batches byte for byte, the same archived records and the
# same manifests but for received_at; with gzip and with zstd batches.
# Each run's outbox_open and parser_threads lines (log_level = debug;
# a.csv is big enough for the child's threads, CHILD_THREADS_MIN in
# sandbox.c) show how many threads it used, so the comparison is
# between different numbers of threads, not the same one twice.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
command -v taskset > /dev/null || t_skip_all "taskset not installed"
. "$srcdir/tests/lib/delivery-lib.sh"

# the cores this process may run on (taskset prints the affinity list)
NCPU=$($PY -c 'import os; print(len(os.sched_getaffinity(0)))')
[ "$NCPU" -ge 2 ] || t_skip_all "one core only: nothing to compare with"
WANT=$NCPU; [ "$WANT" -gt 8 ] && WANT=8

# 40,000 rows in batches of 500: 80 batches, many more than threads
dl_rows "$T_TMP/a.csv" 40000 11 777

for enc in gzip zstd; do
	for run in one all; do
		S=$T_TMP/$enc-$run
		dl_conf $enc-$run "$S" "file://$T_TMP/out-$enc-$run" \
		    "output_encoding = $enc" "[integration]" "log_level = debug"
		sed -i 's/^batch_records = 1000/batch_records = 500/' \
		    "$T_TMP/$enc-$run.conf"
		cp "$T_TMP/a.csv" "$S/landing/a.csv"
		if [ $run = one ]; then
			taskset -c 0 "$TRADEDROP" once -c "$T_TMP/$enc-$run.conf" \
			    2> "$T_TMP/$enc-$run.log"
		else
			"$TRADEDROP" once -c "$T_TMP/$enc-$run.conf" \
			    2> "$T_TMP/$enc-$run.log"
		fi
		t_is $? 1 "$enc, $run: once exits 1 (a row was dead-lettered)"
	done
	t_grep "$T_TMP/$enc-one.log" "event=outbox_open threads=1 cpus=1" \
		"$enc: the run on one core used one thread"
	t_grep "$T_TMP/$enc-all.log" "event=outbox_open threads=$WANT cpus=$NCPU" \
		"$enc: the run on $NCPU cores used $WANT"
	t_grep "$T_TMP/$enc-one.log" "event=parser_threads file=a.csv threads=1 cpus=1" \
		"$enc: the parser child on one core mapped on one thread"
	t_grep "$T_TMP/$enc-all.log" "event=parser_threads file=a.csv threads=$WANT cpus=$NCPU" \
		"$enc: the parser child on $NCPU cores mapped on $WANT"
	O1=$T_TMP/out-$enc-one O2=$T_TMP/out-$enc-all
	t_is "$(find "$O1" -name 'batch-*' | wc -l)" 80 "$enc: 80 batches delivered"
	t_is "$(dl_same "$O1" "$O2" --all)" ok \
		"$enc: the same batches byte for byte, the same manifests"
	R1=$(find "$T_TMP/$enc-one/archive" -type d -name records)
	R2=$(find "$T_TMP/$enc-all/archive" -type d -name records)
	t_ok "$([ -n "$R1" ] && [ "$(ls "$R1" | wc -l)" -eq 80 ] &&
	    diff -r "$R1" "$R2" > /dev/null; echo $?)" \
		"$enc: the same archived records, byte for byte"
done
t_is "$(find "$T_TMP/out-zstd-all" -name 'batch-*.ndjson.zst' | wc -l)" 80 \
	"the zstd runs wrote zstd batches"
t_done
