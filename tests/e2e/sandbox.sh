#!/bin/sh
# sandbox.sh - the parser child: a parser that dies (SIGSEGV, SIGKILL: a
# test hook, TD_TEST_PARSER=HOOK:FILE) costs that one file, quarantined
# as Tier 2 parser_crashed with its raw bytes kept, and `once` and the
# daemon go on with the others; under the seccomp sandbox the child
# cannot open a socket or a file to write, nor can its mapping threads.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/run-lib.sh"
t_tmpdir
trap 'run_cleanup; rm -rf "$T_TMP"' EXIT

S=$T_TMP/state
L=$S/landing
mkdir -p "$L"
run_conf "$T_TMP/t.conf" "$S" "$T_TMP/out"
reason() { cat "$S"/quarantine/*/reason.json 2>/dev/null; }

for sig in segv kill; do
	rm -rf "$S" "$T_TMP/out"; mkdir -p "$L"
	run_drop "$L" crash.csv 3
	run_drop "$L" good.csv 4
	TD_TEST_PARSER=$sig:crash.csv "$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log.$sig"
	t_is $? 1 "$sig: once exits 1 (a file quarantined)"
	t_ok "$(reason | grep -q '"code":"parser_crashed"'; echo $?)" "$sig: the file is quarantined as parser_crashed"
	t_ok "$(reason | grep -q '"tier":2'; echo $?)" "$sig: Tier 2"
	t_is "$(ls "$S"/quarantine/*/crash.csv 2>/dev/null | wc -l)" 1 "$sig: its raw bytes are kept"
	t_grep "$T_TMP/log.$sig" "event=parser_crashed file=crash.csv" "$sig: logged"
	n=9; [ $sig = segv ] && n=11
	t_ok "$(grep -q "event=parser_crashed file=crash.csv .* signal=$n\$" "$T_TMP/log.$sig"; echo $?)" "$sig: with its signal, $n"
	t_ok "$(run_delivered "$T_TMP/out" 1; echo $?)" "$sig: the other file is delivered"
done

if grep -q 'HAVE_LIBSECCOMP 1' "${top_builddir:-.}/config.h" 2>/dev/null; then
	rm -rf "$S" "$T_TMP/out"; mkdir -p "$L"
	run_drop "$L" net.csv 3
	TD_TEST_PARSER=socket:net.csv "$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log.socket"
	t_grep "$T_TMP/log.socket" "event=test_hook hook=socket result=refused error=\"Operation not permitted\"" "the child cannot open a socket (seccomp: EPERM)"
	run_drop "$L" out.csv 4
	TD_TEST_PARSER=write:$T_TMP/escaped:out.csv "$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log.write"
	t_grep "$T_TMP/log.write" "event=test_hook hook=write result=refused error=\"Operation not permitted\"" "the child cannot open a file to write (seccomp: EPERM)"
	t_ok "$([ ! -e "$T_TMP/escaped" ]; echo $?)" "and no file appears"
	t_ok "$(run_delivered "$T_TMP/out" 2; echo $?)" "both files are processed as usual otherwise"
	# a big file is mapped on every core: the child's mapping threads
	# are confined with it (SECCOMP_FILTER_FLAG_TSYNC)
	if [ "$(nproc)" -ge 2 ]; then
		run_drop "$L" big.csv 6000	# > 256 KiB (CHILD_THREADS_MIN)
		TD_TEST_PARSER=thread-socket:big.csv "$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log.thread"
		t_grep "$T_TMP/log.thread" "event=test_hook hook=thread-socket threads=$(($(nproc) > 8 ? 7 : $(nproc) - 1))" "a big file's child has a mapping thread a core but one"
		t_is "$(grep -c 'hook=thread-socket result=refused error="Operation not permitted"' "$T_TMP/log.thread")" \
		    "$(($(nproc) > 8 ? 7 : $(nproc) - 1))" "none of its mapping threads can open a socket (seccomp on every thread)"
		t_ok "$(! grep -q 'result=allowed' "$T_TMP/log.thread"; echo $?)" "and none could"
		t_ok "$(run_delivered "$T_TMP/out" 3; echo $?)" "the big file is delivered"
	else
		T_N=$((T_N + 1)); echo "ok $T_N # SKIP one core: the child maps on one thread"
	fi
else
	echo "# built without seccomp: the socket and write hooks are not checked"
fi

# the daemon goes on after a crash
rm -rf "$S" "$T_TMP/out"; mkdir -p "$L"
TD_TEST_PARSER=segv:boom.csv run_start "$T_TMP/t.conf" "$T_TMP/log.run" || t_skip_all "run did not start"
run_drop "$L" boom.csv 3
t_ok "$(wait_until 5 grep -q 'event=parser_crashed file=boom.csv' "$T_TMP/log.run"; echo $?)" "run: a crashing parser is logged"
run_drop "$L" after.csv 5
t_ok "$(wait_until 5 run_delivered "$T_TMP/out" 1; echo $?)" "run: the next file is delivered"
t_ok "$(kill -0 "$RUN_PID"; echo $?)" "run: the daemon is still running"
t_ok "$(reason | grep -q '"code":"parser_crashed"'; echo $?)" "run: the crashed file is quarantined as parser_crashed"
run_stop
t_is "$RUN_RC" 0 "exit 0"
# its processes (workers, the zygote, a parser child forked ahead of its
# file) are gone with it: after a stop, and after a SIGKILL of the daemon
mine() { pgrep -f -- "^[^ ]*tradedrop run .*-c $T_TMP/t.conf" | grep -c .; }
none_left() { [ "$(mine)" -eq 0 ]; }
t_is "$(mine)" 0 "stopped: no process of the daemon is left"
run_start "$T_TMP/t.conf" "$T_TMP/log.run2" || t_skip_all "run did not start"
run_drop "$L" again.csv 2
t_ok "$(wait_until 5 run_delivered "$T_TMP/out" 2; echo $?)" "run: a file delivered (a child forked ahead waits for the next)"
t_ok "$([ "$(mine)" -ge 4 ]; echo $?)" "running: the daemon, its workers and parser processes are seen ($(mine))"
# the child waiting for the next file killed (by an operator, the OOM
# killer): the next file is parsed by another, nothing is lost
n=0
for w in $(pgrep -P "$RUN_PID"); do for z in $(pgrep -P "$w"); do
	for c in $(pgrep -P "$z"); do kill -KILL "$c" && n=$((n + 1)); done
done; done
t_is "$n" 1 "running: one parser child waits for the next file (killed)"
run_drop "$L" next.csv 3
t_ok "$(wait_until 5 run_delivered "$T_TMP/out" 3; echo $?)" "run: the next file is delivered all the same"
t_ok "$(! grep -q 'parser_crashed\|level=error' "$T_TMP/log.run2"; echo $?)" "run: no file failed for it"
kill -KILL "$RUN_PID"; wait "$RUN_PID" 2>/dev/null; RUN_PID=
t_ok "$(wait_until 5 none_left; echo $?)" \
    "killed: no process of the daemon is left (the spare child goes with its zygote)"
t_done
