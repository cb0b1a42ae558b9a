#!/bin/sh
# durable.sh - what `tradedrop once` makes durable, seen by strace: every
# file it writes (the raw copy, each outbox batch, the archive's records,
# both manifests, the dead letters) is fsynced, with
# the directories that name them, before the step that records it is
# committed; and for a file alone nothing flushes the whole file system
# (no syncfs, no sync), which would also flush every other program's
# dirty pages. A claim group of several files under sync_method syncfs
# (the default) makes each step durable by one syncfs(2) instead, each
# before the step after it: the order is checked call by call.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
command -v strace > /dev/null || t_skip_all "strace not installed"
. "$srcdir/tests/lib/delivery-lib.sh"

S=$T_TMP/state
dl_conf t "$S" "file://$T_TMP/out"
sed -i 's/^batch_records = 1000/batch_records = 700/' "$T_TMP/t.conf"
dl_rows "$S/landing/a.csv" 3000 7 12
ASAN_OPTIONS=$T_ASAN_NOLEAKS strace -f -y -qq \
    -e trace=fsync,fdatasync,syncfs,sync,sync_file_range -o "$T_TMP/trace" \
    "$TRADEDROP" once -c "$T_TMP/t.conf" 2> "$T_TMP/log"
t_is $? 1 "once exits 1 (a row was dead-lettered)"
TA=$(sha256sum "$S/archive"/*/*/*/raw/a.csv | cut -c1-64)
t_is "$(ls "$T_TMP/out/$TA" | grep -c '^batch-')" 5 "five batches delivered"

t_is "$(grep -cE '(^| )(syncfs|sync)\(' "$T_TMP/trace")" 0 \
    "nothing flushes the whole file system (no syncfs, no sync)"

t_is "$(grep -cE 'sync.*= -1' "$T_TMP/trace")" 0 "no flush failed"
# the paths fsynced, as strace -y names them (calls of two threads at
# once are cut by strace into "<unfinished ...>" and "resumed" lines)
sed -n 's/.*\(fsync\|fdatasync\)([0-9]*<\([^>]*\)>.*/\2/p' "$T_TMP/trace" |
    sort -u > "$T_TMP/synced"
syncd() { grep -qxF "$1" "$T_TMP/synced"; }
A=$(dirname "$(ls -d "$S"/archive/*/*/$TA/raw)")
n=0
for seq in 1 2 3 4 5; do
	syncd "$S/outbox/$TA.tmp/batch-$(printf %06d $seq).ndjson.gz" && n=$((n + 1))
done
t_is $n 5 "each outbox batch is fsynced where it is written"
t_ok "$(syncd "$S/outbox/$TA"; echo $?)" \
    "and the directory naming them (once, under its final name, renamed from $TA.tmp)"
t_ok "$(syncd "$S/outbox"; echo $?)" "the outbox directory, after the staged batches are renamed into it"
t_ok "$(syncd "$A/records.tmp"; echo $?)" "the archive's records (links to the batches)"
t_ok "$(syncd "$A/manifest.json"; echo $?)" "the archive's manifest"
t_ok "$(syncd "$S/outbox/$TA.tmp/manifest.json"; echo $?)" "the outbox manifest"
t_ok "$(syncd "$A"; echo $?)" "the archive directory naming them"
t_ok "$(grep -q "^$S/work/.*/a.csv\$" "$T_TMP/synced"; echo $?)" \
    "the raw copy, before it is renamed into the archive"
t_ok "$(grep -q "^$S/dlq/$TA.ndjson" "$T_TMP/synced"; echo $?)" "the dead letters"
t_ok "$(syncd "$S/dlq"; echo $?)" "and their directory"
t_ok "$(syncd "$T_TMP/out/$TA"; echo $?)" \
    "file:// output: the directory the batches are renamed into"
# Nothing is flushed twice, or for nothing: a clean drop with no sidecar
# syncs its claim directory and the landing directory once each (a
# sidecar claimed after it syncs them again), and the dead-letter
# directory not at all.
S2=$T_TMP/state2
dl_conf t2 "$S2" "file://$T_TMP/out2"
sed -i '/^\[integration\]/a sync_method = fsync' "$T_TMP/t2.conf"
dl_rows "$S2/landing/b.csv" 200 9
dl_rows "$S2/landing/c.csv" 200 10
(cd "$S2/landing" && sha256sum c.csv > c.csv.sha256)
# settled before the run, so that one pass finds them all ready (made a
# second apart, or the pass at a settle boundary, they were claimed in
# two passes: two groups)
touch -d '-1 min' "$S2/landing/b.csv" "$S2/landing/c.csv" \
    "$S2/landing/c.csv.sha256"
ASAN_OPTIONS=$T_ASAN_NOLEAKS strace -f -y -qq -e trace=fsync,fdatasync \
    -o "$T_TMP/trace2" "$TRADEDROP" once -c "$T_TMP/t2.conf" 2> "$T_TMP/log2"
t_is $? 0 "clean drops: once exits 0"
sed -n 's/.*\(fsync\|fdatasync\)([0-9]*<\([^>]*\)>.*/\2/p' "$T_TMP/trace2" |
    sort | uniq -c | awk '{ print $2, $1 }' > "$T_TMP/counts2"
count2() { awk -v p="$1" '$1 == p { print $2 }' "$T_TMP/counts2"; }
t_is "$(count2 "$S2/landing")" 2 \
    "the landing directory: synced once for the group of claims (b.csv and c.csv, claimed together), once more for the sidecar"
# the group's order, per file as for one claim: each claim directory,
# then work/, then landing, all before a claimed file's data is synced
t_ok "$(awk -v w="$S2/work>" -v l="$S2/landing>" -v c="$S2/work/" '
    index($0, c) && $0 !~ /\.csv>/ && !cd1 { cd1 = NR; next }
    index($0, c) && $0 !~ /\.csv>/ && !cd2 { cd2 = NR }
    index($0, w) && !w1 { w1 = NR }
    index($0, l) && !l1 { l1 = NR }
    index($0, c) && /\.csv>/ && !f1 { f1 = NR }
    END { exit !(cd1 && cd2 && cd2 < w1 && w1 < l1 && l1 < f1) }' \
    "$T_TMP/trace2"; echo $?)" \
    "both claim directories, then work/, then landing, then the files' data"
t_is "$(grep -c "^$S2/work/[^/]* " "$T_TMP/counts2")" 2 "two claim directories synced"
# (the directories: not the files, nor the sidecar's temporary copy)
t_is "$(awk -v p="$S2/work/" 'index($1, p) == 1 && $1 !~ /\.csv|\/\.td-partial/ { print $2 }' "$T_TMP/counts2" | sort | tr '\n' ' ')" "1 2 " \
    "each claim directory synced at the claim; c.csv's once more for its sidecar, as it is written (a claim's removal is work/'s to sync)"
# a settled claim's removal from work/ is made durable by the next fsync
# of work/ (the next claim's, or the one at the end of the pass): the
# last raw/ synced (the last file settled) comes before a sync of work/
t_ok "$(awk -v w="$S2/work>" -v r="/raw>" 'index($0, r) { lr = NR }
    index($0, w) { lw = NR } END { exit !(lr > 0 && lw > lr) }' \
    "$T_TMP/trace2"; echo $?)" "work/ is synced after the last claim is settled"
t_is "$(count2 "$S2/dlq")" "" "no dead letters: their directory is not synced"

# A group of 5 under sync_method syncfs: each step flushed by one syncfs
# before the next step begins (tradedrop(8), PROCESSING):
#   claims; their bytes (syncfs) < the receive commit (audit.log);
#   archive/.../raw made (mkdir) < syncfs < the files moved there;
#   the files moved < syncfs < their claim directories removed;
#   the staging renamed into outbox/ < syncfs < the parse commit.
S3=$T_TMP/state3
dl_conf t3 "$S3" "file://$T_TMP/out3"
for i in 1 2 3 4 5; do dl_rows "$S3/landing/g$i.csv" 4 $((20 + i)); done
touch -d '-1 min' "$S3"/landing/*.csv
ASAN_OPTIONS=$T_ASAN_NOLEAKS strace -f -y -qq -e trace=fsync,fdatasync,syncfs,rename,renameat,renameat2,mkdir,mkdirat,rmdir \
    -o "$T_TMP/trace3" "$TRADEDROP" once -c "$T_TMP/t3.conf" 2> "$T_TMP/log3"
t_is $? 0 "a group of 5 under syncfs: once exits 0"
t_is "$(ls "$T_TMP/out3" | wc -l)" 5 "a group of 5 under syncfs: 5 transmissions delivered"
$PY - "$T_TMP/trace3" "$S3" > "$T_TMP/order3" <<'PY'
import re, sys
trace, S = sys.argv[1], sys.argv[2]
ev = []		# (kind, detail), in the intake's order
for l in open(trace):
    l = l.rstrip("\n")
    if "resumed>" in l or "<unfinished" in l or " = -1 " in l:
        continue	# strace splits calls of two threads; failed calls
    m = re.match(r"\d+ +(\w+)\((.*)\) += ", l)
    if not m:
        continue
    call, a = m.groups()
    if call == "syncfs":
        ev.append(("syncfs", a))
    elif call == "fdatasync" and a.endswith("/audit.log>"):
        ev.append(("commit", a))
    elif call in ("mkdir", "mkdirat") and a.split(",")[0].endswith('/raw"'):
        ev.append(("mkraw", a))
    elif call == "rmdir" and "/work/" in a:
        ev.append(("unclaim", a))
    elif call in ("rename", "renameat", "renameat2"):
        if "/raw/" in a or "raw>" in a:
            ev.append(("toraw", a))
        elif re.search(r"/outbox/[0-9a-f]{64}\.tmp\"", a):
            ev.append(("staged", a))
        elif "/landing>" in a and "/work/" in a:
            ev.append(("claim", a))
kinds = [k for k, _ in ev]
def idx(k): return [i for i, x in enumerate(kinds) if x == k]
def sync_between(i, j): return any(kinds[x] == "syncfs" for x in range(i + 1, j))
def first_after(k, i): return next((x for x in idx(k) if x > i), None)
bad = []
c, r, u, s = idx("claim"), idx("toraw"), idx("unclaim"), idx("staged")
mk = idx("mkraw")
print("claims=%d mkraw=%d toraw=%d unclaim=%d staged=%d syncfs=%d" % (
    len(c), len(mk), len(r), len(u), len(s), len(idx("syncfs"))))
if not (len(c) == len(r) == len(u) == len(s) == len(mk) == 5):
    bad.append("counts")
else:
    cm = first_after("commit", c[-1])
    if cm is None or not sync_between(c[-1], cm) or cm > mk[0]:
        bad.append("bytes before the receive commit")
    if not sync_between(mk[-1], r[0]):
        bad.append("archive directories before the moves")
    if not sync_between(r[-1], u[0]):
        bad.append("moves before the claims' removal")
    cm = first_after("commit", s[-1])
    if cm is None or not sync_between(s[-1], cm):
        bad.append("staging before the parse commit")
print("bad: " + (", ".join(bad) or "none"))
PY
t_is "$(head -1 "$T_TMP/order3")" "claims=5 mkraw=5 toraw=5 unclaim=5 staged=5 syncfs=4" \
    "a group of 5 under syncfs: 5 claims, 5 archive entries, 5 moves, 5 claims removed, 5 stagings, 4 syncfs"
t_is "$(tail -1 "$T_TMP/order3")" "bad: none" \
    "each step's syncfs before the next step: the bytes before the receive commit, the directories before the moves, the moves before the claims go, the staging before the parse commit"
t_done
