#!/bin/sh
# parser-reuse.sh - a parser child serves the job's next small files
# (tradedrop(8), THE DAEMON): a burst goes through few children (logged
# at debug, event=parser_child ... child_files=N); a child that crashes
# in the middle of a burst (TD_TEST_PARSER) costs only its file, quarantined
# as parser_crashed, and the next file gets a new child; a signed file never
# goes to a child that parsed an unsigned one; nothing of one file reaches
# the next one's output, which is byte for byte the same as with a child
# for each file.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/run-lib.sh"
t_tmpdir
trap 'run_cleanup; rm -rf "$T_TMP"' EXIT

S=$T_TMP/state
L=$S/landing
conf() {	# conf FILE STATE OUT [LINES...]: run_conf's, logging at debug
	_cf=$1; shift
	run_conf "$_cf.in" "$@"
	sed 's/^\[integration\]$/[integration]\nlog_level = debug/' "$_cf.in" > "$_cf"
}
# burst DIR N: N drops f1.csv .. fN.csv, made beside DIR, moved in at
# once, one second apart in age (landing takes the oldest first)
burst() {
	mkdir -p "$1/../burst"
	_b=1
	while [ $_b -le "$2" ]; do
		run_drop "$1/../burst" f$_b.csv 2
		touch -d "@$((1700000000 + _b))" "$1/../burst/f$_b.csv"
		_b=$((_b + 1))
	done
	mv "$1"/../burst/* "$1"/ 2> /dev/null	# the daemon may take one at once
}
child_files() {	# child_files LOG FILE: the N of FILE's child_files=N
	sed -n "s/.*event=parser_child file=$2 .*child_files=\([0-9]*\).*/\1/p" "$1" | tail -1
}

# once: six files, the third crashes its child (a child kept from the
# second, so confined already: a segmentation fault)
mkdir -p "$L"
conf "$T_TMP/t.conf" "$S" "$T_TMP/out"
burst "$L" 6
TD_TEST_PARSER=segv:f3.csv "$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log.once"
t_is $? 1 "once: exits 1 (a file quarantined)"
t_is "$(child_files "$T_TMP/log.once" f1.csv)" 1 "once: f1 has a child of its own"
t_is "$(child_files "$T_TMP/log.once" f2.csv)" 2 "once: f2 goes to f1's child (child_files=2)"
t_is "$(child_files "$T_TMP/log.once" f3.csv)" 3 "once: and f3 too"
t_grep "$T_TMP/log.once" "event=parser_crashed file=f3.csv" "once: f3's child crashed"
# the zygote's word of how a child ended is that child's, kept or not
t_ok "$(grep -q 'event=parser_crashed file=f3.csv .* signal=11$' "$T_TMP/log.once"; echo $?)" "once: with its signal, 11"
t_is "$(ls -d "$S"/quarantine/* 2>/dev/null | wc -l)" 1 "once: one file quarantined"
t_is "$(grep -l '"code":"parser_crashed"' "$S"/quarantine/*/reason.json | grep -c .)" 1 "once: as parser_crashed"
t_is "$(ls "$S"/quarantine/*/f3.csv 2>/dev/null | wc -l)" 1 "once: f3's raw bytes are kept"
t_is "$(child_files "$T_TMP/log.once" f4.csv)" 1 "once: f4, after the crash, gets a new child"
t_is "$(child_files "$T_TMP/log.once" f6.csv)" 3 "once: which f5 and f6 go to"
t_is "$(ls "$T_TMP"/out/*/manifest.json 2>/dev/null | wc -l)" 5 "once: the five others are delivered"
t_is "$(zcat "$T_TMP"/out/*/batch-*.ndjson.gz | grep -c '"file":"f[12456].csv"')" 10 "once: all their records"
t_grep "$T_TMP/log.once" "event=parser_child_end files=3 reason=job_end" "once: the kept child is ended with the intake"

# run: the same burst through the daemon
rm -rf "$S" "$T_TMP/out"; mkdir -p "$L"
TD_TEST_PARSER=segv:f3.csv run_start "$T_TMP/t.conf" "$T_TMP/log.run" || t_skip_all "run did not start"
burst "$L" 6
t_ok "$(wait_until 20 run_delivered "$T_TMP/out" 5; echo $?)" "run: the five others are delivered"
t_ok "$(wait_until 5 grep -q 'event=parser_crashed file=f3.csv' "$T_TMP/log.run"; echo $?)" "run: f3's child crashed"
t_is "$(grep -l '"code":"parser_crashed"' "$S"/quarantine/*/reason.json | grep -c .)" 1 "run: f3 is quarantined as parser_crashed"
t_is "$(ls -d "$S"/quarantine/* 2>/dev/null | wc -l)" 1 "run: only f3"
t_ok "$(grep -q 'event=parser_child file=.*child_files=[2-9]' "$T_TMP/log.run"; echo $?)" "run: files of a pass share a child"
t_is "$(child_files "$T_TMP/log.run" f4.csv)" 1 "run: f4, after the crash, gets a new child"
t_ok "$(wait_until 5 grep -q 'event=parser_child_end .*reason=job_end' "$T_TMP/log.run"; echo $?)" "run: the kept child is ended with the job"
t_ok "$(kill -0 "$RUN_PID"; echo $?)" "run: the daemon is still running"
t_ok "$(grep -q 'event=parser_crashed file=f3.csv .* signal=11$' "$T_TMP/log.run"; echo $?)" "run: with its signal, 11"
# a second burst, a job of its own: the zygote's words of the children
# ended with the first are read in order, none taken for another's
rm -rf "$L/../burst"; mkdir -p "$L/../burst"
for f in g1 g2 g3; do run_drop "$L/../burst" $f.csv 2; done
mv "$L"/../burst/* "$L"/ 2> /dev/null
t_ok "$(wait_until 20 run_delivered "$T_TMP/out" 8; echo $?)" "run: a second burst is delivered"
t_ok "$(! grep -v 'event=parser_crashed\|event=file_quarantined\|event=rejections' "$T_TMP/log.run" | grep -q 'level=error\|event=zygote_word'; echo $?)" "run: nothing else failed"
run_stop
t_is "$RUN_RC" 0 "run: exit 0"

# signed after unsigned: a new child; signed after signed (one key): the same
if command -v minisign > /dev/null; then
	K=$T_TMP/keys; mkdir -p "$K"
	minisign -G -f -W -p "$K/k.pub" -s "$K/k.key" < /dev/null > /dev/null 2>&1
	rm -rf "$S" "$T_TMP/out"; mkdir -p "$L" "$S/burst"
	conf "$T_TMP/v.conf" "$S" "$T_TMP/out" '[verify]' 'signature = optional' "trusted_key_file = $K/k.pub"
	i=1
	for f in u1 u2 s1 s2 u3; do
		run_drop "$S/burst" $f.csv 2
		case $f in s*) minisign -S -s "$K/k.key" -m "$S/burst/$f.csv" -t "acme $f" < /dev/null > /dev/null 2>&1 ;; esac
		touch -d "@$((1700000000 + i))" "$S/burst/$f.csv"; i=$((i + 1))
	done
	t_is "$(ls "$S"/burst/*.minisig | wc -l)" 2 "minisign signed s1 and s2"
	mv "$S"/burst/* "$L"/
	"$TRADEDROP" once -c "$T_TMP/v.conf" 2> "$T_TMP/log.sig"
	t_is $? 0 "signed: once exits 0"
	t_is "$(ls "$T_TMP"/out/*/manifest.json 2>/dev/null | wc -l)" 5 "signed: all five delivered"
	t_is "$(grep -c '"signature":"ok"' "$T_TMP"/out/*/manifest.json | grep -c ':1$')" 2 "signed: two verified"
	t_is "$(child_files "$T_TMP/log.sig" u2.csv)" 2 "signed: unsigned u2 goes to u1's child"
	t_grep "$T_TMP/log.sig" "event=parser_child_end files=2 reason=signer" "signed: that child is ended before the signed s1"
	t_is "$(child_files "$T_TMP/log.sig" s1.csv)" 1 "signed: s1, signed after unsigned, gets a new child"
	t_is "$(child_files "$T_TMP/log.sig" s2.csv)" 2 "signed: s2, signed by the same key, goes to s1's child"
	t_is "$(child_files "$T_TMP/log.sig" u3.csv)" 1 "signed: u3, unsigned, gets a new child"
else
	t_skip "minisign not installed: signed after unsigned not checked"
fi

# nothing of one file in the next: files with rejections between clean
# ones, in one once (children kept) and in one once each (a child each):
# the same records and dead letters, byte for byte
mkdir -p "$T_TMP/drops"
for f in a-rej b-clean c-rej d-clean; do
	run_drop "$T_TMP/drops" $f.csv 4
	case $f in *rej)
		echo "5,13/45/2026,041000001239,5,5.50,$f-5" >> "$T_TMP/drops/$f.csv"
		echo "6,11/28/2026,12345,6,6.50,$f-6" >> "$T_TMP/drops/$f.csv" ;;
	esac
done
i=1
for f in a-rej b-clean c-rej d-clean; do touch -d "@$((1700000000 + i))" "$T_TMP/drops/$f.csv"; i=$((i + 1)); done
outputs() {	# outputs STATE OUT: each transmission's records and dead letters
	for m in "$2"/*/manifest.json; do
		d=$(dirname "$m"); t=$(basename "$d")
		echo "== $t"
		zcat "$d"/batch-*.ndjson.gz
		[ -f "$1/dlq/$t.ndjson" ] && cat "$1/dlq/$t.ndjson"
	done
}
# (a rejected row in three: delivered, not quarantined)
sed 's/^log_level = debug$/&\nmax_reject_ratio = 0.5/' "$T_TMP/t.conf" > "$T_TMP/r.conf"
rm -rf "$S" "$T_TMP/out"; mkdir -p "$L"
cp -p "$T_TMP"/drops/*.csv "$L"/
"$TRADEDROP" once -c "$T_TMP/r.conf" 2> "$T_TMP/log.kept"
t_is $? 1 "kept: once exits 1 (rows dead-lettered)"
t_is "$(child_files "$T_TMP/log.kept" d-clean.csv)" 4 "kept: the four files go to one child"
outputs "$S" "$T_TMP/out" > "$T_TMP/kept.txt"
tid=$(sha256sum "$T_TMP/drops/b-clean.csv" | cut -c1-64)
t_ok "$([ ! -e "$S/dlq/$tid.ndjson" ]; echo $?)" "kept: the clean file after rejections has no dead letter"
t_is "$(grep -c '"reason":' "$T_TMP/out/$tid/manifest.json" 2>/dev/null)" 0 "kept: nor any rejection in its manifest"
t_is "$(grep -o '"dlq":[0-9]*' "$T_TMP/out/$tid/manifest.json" | head -1)" '"dlq":0' "kept: its counts have no dead letter"
t_is "$(cat "$S"/dlq/*.ndjson | wc -l)" 4 "kept: four dead letters in all"
t_is "$(cat "$S"/dlq/*.ndjson | grep -c '"file":"[ac]-rej.csv"')" 4 "kept: all of the rejected files'"
tid=$(sha256sum "$T_TMP/drops/c-rej.csv" | cut -c1-64)
t_is "$(grep -c '"code"' "$S/dlq/$tid.ndjson" 2>/dev/null)" 2 "kept: the second rejected file has its own two dead letters"
rm -rf "$S" "$T_TMP/out"; mkdir -p "$L"
for f in a-rej b-clean c-rej d-clean; do
	cp -p "$T_TMP/drops/$f.csv" "$L"/
	"$TRADEDROP" once -c "$T_TMP/r.conf" 2>> "$T_TMP/log.each"
done
t_ok "$(! grep -q 'child_files=[2-9]' "$T_TMP/log.each"; echo $?)" "each: a child for each file"
outputs "$S" "$T_TMP/out" > "$T_TMP/each.txt"
t_ok "$(cmp -s "$T_TMP/kept.txt" "$T_TMP/each.txt"; echo $?)" "the same records and dead letters, byte for byte, with children kept or not"
t_is "$(grep -c '^== ' "$T_TMP/each.txt")" 4 "of the four files"
# replay and quarantine release, like once: the kept child is ended with
# the intake, not left waiting, confined, through the deliveries
line_of() {	# line_of LOG PATTERN: the line number of its first match
	grep -n "$2" "$1" | head -1 | cut -d: -f1
}
# (another mapping_version: a replay under the same one does nothing)
sed 's/^\[map\]$/&\namount = column "Sales" decimal/' "$T_TMP/r.conf" > "$T_TMP/r2.conf"
tid=$(sha256sum "$T_TMP/drops/b-clean.csv" | cut -c1-64)
"$TRADEDROP" replay -c "$T_TMP/r2.conf" "$tid" > /dev/null 2> "$T_TMP/log.replay"
t_is $? 1 "replay: exits 1 (its rows held, Tier 4: the records differ under the new mapping)"
t_grep "$T_TMP/log.replay" "event=parser_child_end files=1 reason=job_end" "replay: the kept child is ended with the intake"
t_ok "$([ "$(line_of "$T_TMP/log.replay" 'event=parser_child_end')" -lt "$(line_of "$T_TMP/log.replay" 'event=delivery_done')" ]; echo $?)" "replay: before the deliveries"
run_drop "$L" q.csv 2
TD_TEST_PARSER=segv:q.csv "$TRADEDROP" once -c "$T_TMP/r.conf" 2> /dev/null
tid=$(sha256sum "$S"/quarantine/*/q.csv | cut -c1-64)
"$TRADEDROP" quarantine release -c "$T_TMP/r.conf" "$tid" > /dev/null 2> "$T_TMP/log.release"
t_is $? 0 "release: exits 0"
t_grep "$T_TMP/log.release" "event=parser_child_end files=1 reason=job_end" "release: the kept child is ended with the intake"
t_ok "$([ "$(line_of "$T_TMP/log.release" 'event=parser_child_end')" -lt "$(line_of "$T_TMP/log.release" 'event=delivery_done')" ]; echo $?)" "release: before the deliveries"

# [parse] child_files: how many files a child takes; 1, a child of its
# own for each file (ways in not trusted alike)
for n in 1 2; do
	sed "s/^\[parse\]\$/&\nchild_files = $n/; t; s/^\[map\]\$/[parse]\nchild_files = $n\n&/" \
	    "$T_TMP/t.conf" > "$T_TMP/c$n.conf"
	rm -rf "$S" "$T_TMP/out"; mkdir -p "$L"
	burst "$L" 5
	"$TRADEDROP" once -c "$T_TMP/c$n.conf" 2> "$T_TMP/log.c$n"
	t_is $? 0 "child_files = $n: once exits 0"
	t_is "$(ls "$T_TMP"/out/*/manifest.json 2>/dev/null | wc -l)" 5 "child_files = $n: the five files are delivered"
done
t_ok "$(! grep -q 'event=parser_child .*child_files=[2-9]' "$T_TMP/log.c1"; echo $?)" \
    "child_files = 1: each file has a child of its own (none takes a second)"
t_is "$(for f in 1 2 3 4 5; do child_files "$T_TMP/log.c2" f$f.csv; done | tr '\n' ' ')" "1 2 1 2 1 " \
    "child_files = 2: a child takes two files, then a new one"
for n in 0 65; do
	sed "s/^\[map\]\$/[parse]\nchild_files = $n\n&/" "$T_TMP/t.conf" > "$T_TMP/bad.conf"
	"$TRADEDROP" check -c "$T_TMP/bad.conf" > "$T_TMP/bad.out" 2>&1
	t_is $? 2 "check refuses child_files = $n (exit 2)"
	t_ok "$(grep -q "bad.conf:[0-9]*: child_files = $n: out of range: 1 to 64" "$T_TMP/bad.out"; echo $?)" \
	    "naming the file, line and key, and the range"
done
t_done
