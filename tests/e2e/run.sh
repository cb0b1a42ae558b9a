#!/bin/sh
# run.sh - `tradedrop run`, the daemon: a file dropped while it runs is
# delivered within 2 s with the same records `once` delivers; what
# landed while it was down is taken at start; SIGHUP with a broken
# config keeps the old one (the error logged with FILE:LINE), with a new
# mapping the next file uses it; SIGTERM exits 0 promptly, during a large
# file too, and the restart completes that file with no duplicate; a
# second daemon on the same state_dir is refused; a SIGHUP or SIGUSR1
# while it is still starting (held there by strace) does not kill it
# (skipped where strace is missing or cannot trace).
#
# TD_RUN_BIG_ROWS=N makes the large file N rows instead of 1,000,000:
# make check-asan sets fewer, as ASan maps them several times slower.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/run-lib.sh"
t_tmpdir; [ -n "${KEEP:-}" ] && echo "# tmp $T_TMP"
trap 'run_cleanup; [ -n "${KEEP:-}" ] || rm -rf "$T_TMP"' EXIT

S=$T_TMP/state
L=$S/landing
mkdir -p "$L"
run_conf "$T_TMP/t.conf" "$S" "$T_TMP/out"
drop() { run_drop "$L" "$@"; }
delivered() { run_delivered "$T_TMP/out" "$1"; }

# one drop before the start: taken by the rescan at start
drop early.csv 3
run_start "$T_TMP/t.conf" "$T_TMP/log" || t_skip_all "run did not start"
t_ok "$(wait_until 5 delivered 1; echo $?)" "a file dropped while the daemon was down is delivered at start"
t_ok "$([ -f "$S/tradedrop.pid" ] && [ "$(cat "$S/tradedrop.pid")" = "$RUN_PID" ]; echo $?)" "the pidfile names the daemon"

"$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/once.log"
t_is $? 3 "once refuses to work beside a running daemon (exit 3: the lock)"
t_grep "$T_TMP/once.log" "another tradedrop is working on this state_dir" "and says why"

t0=$(now_ms)
drop a.csv 5
wait_until 2 delivered 2; ok=$?
t1=$(now_ms)
t_ok $ok "a file dropped into landing is delivered within 2 s"
echo "# drop to manifest: $((t1 - t0)) ms"

# the same drops through `once` in a state of its own: the same records
mkdir -p "$T_TMP/o/state/landing"
sed -e "s|$S|$T_TMP/o/state|" -e "s|$T_TMP/out|$T_TMP/o/out|" "$T_TMP/t.conf" > "$T_TMP/o.conf"
cp "$S"/archive/*/*/*/raw/early.csv "$S"/archive/*/*/*/raw/a.csv "$T_TMP/o/state/landing/"
"$TRADEDROP" once -c "$T_TMP/o.conf" 2> "$T_TMP/o.log"
t_is "$(cd "$T_TMP/out" && for d in */; do zcat "$d"batch-*.ndjson.gz; done | sort | sha256sum)" \
    "$(cd "$T_TMP/o/out" && for d in */; do zcat "$d"batch-*.ndjson.gz; done | sort | sha256sum)" \
    "the daemon delivers byte for byte the records once delivers"

# SIGHUP with a broken config: the old one stays
cp "$T_TMP/t.conf" "$T_TMP/good.conf"
printf '[integration]\nname = acme\nstate_dir = %s\nbogus_key = 1\n' "$S" > "$T_TMP/t.conf"
run_signal HUP
t_ok "$(wait_until 5 grep -q 'event=reload_failed' "$T_TMP/log"; echo $?)" "SIGHUP with a broken config logs reload_failed"
t_grep "$T_TMP/log" "$T_TMP/t.conf:4:" "the error names FILE:LINE"
drop b.csv 2
t_ok "$(wait_until 5 delivered 3; echo $?)" "the daemon goes on with the old config"
t_ok "$(kill -0 "$RUN_PID"; echo $?)" "and is still running"

# SIGHUP with a new mapping: the next file uses it
run_conf "$T_TMP/t.conf" "$S" "$T_TMP/out" 'amount = column "Sales" decimal'
run_signal HUP
t_ok "$(wait_until 5 grep -q 'event=reloaded' "$T_TMP/log"; echo $?)" "SIGHUP with a good config reloads it"
drop c.csv 4
t_ok "$(wait_until 5 delivered 4; echo $?)" "the next file is delivered"
TC=$(sha256sum "$S"/archive/*/*/*/raw/c.csv | cut -c1-64)
TB=$(sha256sum "$S"/archive/*/*/*/raw/b.csv | cut -c1-64)
t_is "$(zcat "$T_TMP/out/$TC"/batch-*.ndjson.gz | grep -c '"amount":"1.50"')" 1 "the file after the reload is mapped with the new mapping (amount)"
t_is "$(zcat "$T_TMP/out/$TB"/batch-*.ndjson.gz | grep -c '"amount":null')" 2 "the file before it was not"

# SIGTERM: exit 0 at once
run_stop
t_is "$RUN_RC" 0 "SIGTERM: the daemon exits 0"
t_ok "$([ "$RUN_MS" -lt 3000 ]; echo $?)" "within 3 s ($RUN_MS ms)"
t_ok "$([ ! -e "$S/tradedrop.pid" ]; echo $?)" "the pidfile is removed"
t_is "$(pgrep -f "run --foreground -c $T_TMP/t.conf" | wc -l)" 0 "no worker is left behind"

# SIGTERM during a large file; the restart completes it, no duplicate
N=${TD_RUN_BIG_ROWS:-1000000}
{ echo "Store Nbr,Week Ending,UPC,Units,Sales,Ticket"
  awk -v n=$N 'BEGIN { for (i = 1; i <= n; i++) printf "%d,11/28/2026,041000001239,%d,1.00,big-%d\n", i, i, i }'; } > "$T_TMP/big.tmp"
run_start "$T_TMP/t.conf" "$T_TMP/log2" || t_skip_all "run did not start"
mv "$T_TMP/big.tmp" "$L/big.csv"
wait_until 10 grep -q 'event=file_processing file=big.csv' "$T_TMP/log2"
sleep 0.3
t_ok "$(grep -q 'event=file_parsed file=big.csv' "$T_TMP/log2"; [ $? -ne 0 ]; echo $?)" "SIGTERM comes while the large file is being processed"
run_stop
t_is "$RUN_RC" 0 "SIGTERM during a large file: exit 0"
t_ok "$([ "$RUN_MS" -lt 3000 ]; echo $?)" "promptly ($RUN_MS ms)"
run_start "$T_TMP/t.conf" "$T_TMP/log3" || t_skip_all "run did not start"
t_ok "$(wait_until 120 delivered 5; echo $?)" "the restart completes the large file"
TG=$(sha256sum "$S"/archive/*/*/*/raw/big.csv | cut -c1-64)
t_is "$(zcat "$T_TMP/out/$TG"/batch-*.ndjson.gz | wc -l)" $N "every record of it delivered"
t_is "$(zcat "$T_TMP/out/$TG"/batch-*.ndjson.gz | grep -o '"record_id":"[0-9a-f]*"' | sort -u | wc -l)" $N "none twice"
t_is "$(ls "$T_TMP/out" | wc -l)" 5 "five transmissions, each once"
run_stop

# SIGHUP and SIGUSR1 before the loop runs (the lock of state_dir taken
# 1.5 s late, as a long check of a large state.db would make it): held
# and acted on then, never the end of the daemon (a death by SIGHUP is a
# clean one to systemd's Restart=on-failure: it would stay down)
# (where strace is missing or cannot trace: ptrace denied, as in a
# container without CAP_SYS_PTRACE or with kernel.yama.ptrace_scope=3,
# or no -e inject, the test is skipped, said so)
if ! command -v strace > /dev/null; then
	echo "# skipped: early signals (strace not installed)"
elif ! strace -o /dev/null -e trace=flock \
    -e inject=flock:delay_enter=1:when=1 true 2> "$T_TMP/strace.err"; then
	echo "# skipped: early signals (strace cannot trace here:" \
	    "$(head -n 1 "$T_TMP/strace.err"))"
else
	# (LeakSanitizer cannot run under ptrace: make check-asan's
	# daemon would abort at its exit)
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	strace -o /dev/null -e trace=flock \
	    -e inject=flock:delay_enter=1500000:when=1 \
	    "$TRADEDROP" run --foreground -c "$T_TMP/t.conf" 2> "$T_TMP/log4" &
	ST=$!
	wait_until 5 pgrep -P "$ST" > /dev/null
	P=$(pgrep -P "$ST")
	sleep 0.3
	t_ok "$(grep -q 'event=run_start' "$T_TMP/log4"; [ $? -ne 0 ]; echo $?)" "early signals: sent before the loop runs"
	kill -HUP "$P"; kill -USR1 "$P"
	t_ok "$(wait_until 10 grep -q 'event=reloaded' "$T_TMP/log4"; echo $?)" "early signals: the SIGHUP is a reload once the loop runs"
	t_grep "$T_TMP/log4" "event=poll_now" "early signals: the SIGUSR1 a poll"
	drop late.csv 2
	t_ok "$(wait_until 10 delivered 6; echo $?)" "early signals: the daemon runs on"
	kill -TERM "$P"
	wait "$ST"
	t_is $? 0 "early signals: and exits 0 on SIGTERM"
fi
t_done
