#!/bin/sh
# run-user.sh - started as root with `user = nobody`, `tradedrop run`
# switches every process (the loop and its workers) to nobody's uid, gid
# and supplementary groups before it reads any input, and works as that
# user (a manifest's temporary name another user holds in a sticky
# output directory included); an unknown user is a configuration error.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/run-lib.sh"
[ "$(id -u)" -eq 0 ] || t_skip_all "not root"
id nobody > /dev/null 2>&1 || t_skip_all "no user nobody"
t_tmpdir
trap 'run_cleanup; rm -rf "$T_TMP"' EXIT
chmod 755 "$T_TMP"
NU=$(id -u nobody)
NG=$(id -g nobody)

S=$T_TMP/state
mkdir -p "$S/landing" "$T_TMP/out"
chown -R nobody "$S" "$T_TMP/out"
run_conf "$T_TMP/t.conf" "$S" "$T_TMP/out"
printf '[integration]\nuser = nobody\n' >> "$T_TMP/t.conf"
chmod 644 "$T_TMP/t.conf"
run_start "$T_TMP/t.conf" "$T_TMP/log" || t_skip_all "run did not start"
t_grep "$T_TMP/log" "event=privileges_dropped user=nobody uid=$NU gid=$NG" "the switch is logged"
wait_until 5 sh -c "[ \$(pgrep -P $RUN_PID | wc -l) -ge 3 ]"
bad=0 n=0
for p in $RUN_PID $(pgrep -P "$RUN_PID"); do
	n=$((n + 1))
	u=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' /proc/$p/status)
	g=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' /proc/$p/status)
	gs=$(awk '/^Groups:/ { $1 = ""; print }' /proc/$p/status | tr -d ' ')
	if [ "$u" != "$NU $NU $NU $NU" ] || [ "$g" != "$NG $NG $NG $NG" ] ||
	    { [ -n "$gs" ] && [ "$gs" != "$NG" ]; }; then
		echo "# pid $p: uid $u gid $g groups $gs"
		bad=$((bad + 1))
	fi
done
t_ok "$([ $n -ge 4 ]; echo $?)" "the loop and its three workers are running ($n processes)"
t_is $bad 0 "every process has nobody's real, effective, saved and fs uid and gid, and no other group"
run_drop "$S/landing" a.csv 3
t_ok "$(wait_until 5 run_delivered "$T_TMP/out" 1; echo $?)" "a drop is delivered"
t_is "$(find "$S/archive" "$T_TMP/out" -type f ! -user nobody | wc -l)" 0 "everything it wrote is nobody's"
# The output may be writable by its reader, who can compute the id of a
# drop to come (its SHA-256) and make its directory first, sticky and
# writable by all, with a manifest.json.tmp of their own in it: nobody
# could neither remove nor open that name, the manifest was never
# written and the delivery failed at every try. It is written under a
# name of its own; theirs is left alone.
READER=$((NU - 1))
mkdir "$T_TMP/stage"
run_drop "$T_TMP/stage" b.csv 4
TID=$(sha256sum < "$T_TMP/stage/b.csv" | cut -c1-64)
mkdir -m 1777 "$T_TMP/out/$TID"
echo theirs > "$T_TMP/out/$TID/manifest.json.tmp"
chown -R "$READER" "$T_TMP/out/$TID"
mv "$T_TMP/stage/b.csv" "$S/landing/"
t_ok "$(wait_until 10 test -f "$T_TMP/out/$TID/manifest.json"; echo $?)" \
    "a reader's sticky directory at a drop's id, their manifest.json.tmp in it: delivered"
t_is "$(stat -c %u "$T_TMP/out/$TID/manifest.json.tmp") $(cat "$T_TMP/out/$TID/manifest.json.tmp")" \
    "$READER theirs" "their manifest.json.tmp is left alone"
t_is "$(ls -A "$T_TMP/out/$TID" | grep -c '^\.')" 0 "no temporary name of its own left"
run_stop
t_is "$RUN_RC" 0 "exit 0"

sed -i 's/^user = nobody/user = no-such-user-td/' "$T_TMP/t.conf"
"$TRADEDROP" run --foreground -c "$T_TMP/t.conf" > "$T_TMP/out2" 2>&1
t_is $? 2 "an unknown user: exit 2"
t_grep "$T_TMP/out2" "user = no-such-user-td: no such user" "and says so"
t_done
