#!/bin/sh
# crash.sh - `kill -9` of `tradedrop once` at random moments (claim and
# hash, parse and map, delivery) loses nothing and duplicates nothing:
# after restarts, what was delivered equals, file for file and byte for
# byte, what one uninterrupted run delivers from the same drops.
#
# The kill schedule is random but seeded; the seed is printed and
# TD_CRASH_SEED=N reruns the same schedule. The drops themselves are
# always the same (fixed seeds).
. "$srcdir/tests/lib/common.sh"

command -v python3 >/dev/null 2>&1 || t_skip_all "python3 not found"
t_tmpdir

SEED=${TD_CRASH_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "# seed $SEED (rerun with TD_CRASH_SEED=$SEED)"

# ------------------------------------------------------------ drops
# One 500,000-row sell-through file and three of 20,000 rows; acme_b
# has four bad rows (two bad check digits, two impossible dates).
cat > "$T_TMP/gen.py" <<'PY'
import os, shutil, random, sys

def upc_a(rng):
    d = [rng.randrange(10) for _ in range(11)]
    s = 3 * sum(d[0::2]) + sum(d[1::2])
    return ''.join(map(str, d)) + str((10 - s % 10) % 10)

WORDS = ['CRUNCHY OATS', 'COLA', 'HONEY "NUT" RINGS', 'SALSA, MILD',
         'GREEK YOGURT']
KINDS = ['CEREAL', 'CANS', 'JAR', '12PK']

def gen(path, nrows, seed, week, bad, mtime):
    rng = random.Random(seed)
    nitems = 1000 if nrows > 100000 else 200
    items, seen = [], set()
    while len(items) < nitems:
        u = upc_a(rng)
        if u in seen:
            continue
        seen.add(u)
        desc = '%s %s, %dOZ' % (rng.choice(WORDS), rng.choice(KINDS),
                                rng.randrange(1, 64))
        items.append((u, desc.replace('"', '""')))
    with open(path, 'w', newline='') as f:
        f.write('"Store Nbr","Week Ending","UPC","Item Description",'
                '"Units","Net Sales $","Promo"\r\n')
        for i in range(nrows):
            store = 1000 + i // nitems      # (store, upc) unique per file
            u, desc = items[i % nitems]
            units = rng.randrange(-3, 60) or 1
            cents = units * rng.randrange(99, 1999)
            promo = rng.choice(['', '', 'BOGO77', 'TPR0412'])
            w = week
            if bad.get(i) == 'gtin':
                u = u[:-1] + str((int(u[-1]) + 1) % 10)
            elif bad.get(i) == 'date':
                w = '02/30/2026'
            f.write('%d,%s,%s,"%s",%d,%s%d.%02d,%s\r\n' % (store, w, u,
                    desc, units, '-' if cents < 0 else '',
                    abs(cents) // 100, abs(cents) % 100, promo))
    os.utime(path, (mtime, mtime))

d = sys.argv[1]
os.makedirs(d, exist_ok=True)
t = 1795000000
gen(d + '/acme_big.csv', 500000, 1, '11/07/2026', {}, t)
gen(d + '/acme_a.csv', 20000, 2, '11/14/2026', {}, t + 60)
gen(d + '/acme_b.csv', 20000, 3, '11/21/2026',
    {17: 'gtin', 999: 'date', 12345: 'gtin', 19999: 'date'}, t + 120)
gen(d + '/acme_c.csv', 20000, 4, '11/28/2026', {}, t + 180)
PY
python3 "$T_TMP/gen.py" "$T_TMP/drops"
t_is $? 0 "drops generated"
NFILES=$(ls "$T_TMP/drops" | wc -l)

# mk_conf NAME STATE_DIR OUT_DIR
mk_conf() {
	cat > "$T_TMP/$1.conf" <<CONF
[integration]
name = acme-crash
state_dir = $2
currency = USD
max_reject_ratio = 0.5

[watch]
pattern = *.csv, *.csv.gz, *.zip
# the drops are complete before the runs start; a settle wait would only
# skew the timing the kills are aimed by
settle = 0

[parse]
format = csv
delimiter = ,
header = yes

# as in etc/demo/demo.conf
[map]
store_id = column "Store Nbr"
gtin = column "UPC" gtin
txn_date = column "Week Ending" date "%m/%d/%Y"
quantity = column "Units" decimal
amount = column "Net Sales \$" decimal
promo_code = column "Promo" trim
period = week_ending

[output]
url = file://$3
batch_records = 5000
CONF
}
mk_conf ref "$T_TMP/ref-state" "$T_TMP/ref-out"
mk_conf crash "$T_TMP/state" "$T_TMP/out"
for s in ref-state state; do
	mkdir -p "$T_TMP/$s/landing"
	cp -p "$T_TMP/drops/"* "$T_TMP/$s/landing/"
done

# --------------------------------------------- the kill-and-restart driver
# Runs `once` and kills it with SIGKILL after a seeded random delay. The
# delay counts from the start of the run, or, to aim at a short stage,
# from the moment the run is seen entering it (a file claimed into
# work/, a batch appearing in out/). Where the kill landed is told from
# the run's last log event and what it left behind.
cat > "$T_TMP/crash.py" <<'PY'
import json, os, random, shutil, signal, subprocess, sys, threading, time

(td, conf, state, out, seed, ref_dur, ref_recv, ref_mid, total, ref_files,
 logdir) = sys.argv[1:12]
seed, total, ref_files = int(seed), int(total), int(ref_files)
ref_dur, ref_recv, ref_mid = map(float, (ref_dur, ref_recv, ref_mid))
rng = random.Random(seed)
os.makedirs(logdir, exist_ok=True)
MAX_ITER = 45
MIN_KILLS = 8

drv = open(os.path.join(logdir, 'driver.log'), 'w')
def say(s):
    print('# ' + s, flush=True)
    drv.write(s + '\n')
    drv.flush()

def field(line, key):
    for w in line.split():
        if w.startswith(key + '='):
            return w[len(key) + 1:]
    return None

def ls(d):
    try:
        return sorted(os.listdir(d))
    except FileNotFoundError:
        return []

def nfiles(d):
    return sum(len(fs) for _, _, fs in os.walk(d))

parsed, delivered = set(), set()   # logged after their commit
killed_done = []    # (run, exit=, exit-status left) of runs killed
                    # after their once_done line
exits = []          # (run, rc) of every run, killed ones as -9

# Triggers: a function polled until it returns a scale for the delay
# (a float), or None for "not yet".
def start():
    return 1.0

def claimed():
    # a drop sits in work/CLAIM/ from its claim until it is archived
    for c in ls(state + '/work'):
        for f in ls(state + '/work/' + c):
            if not f.endswith('.tmp'):
                try:
                    return os.path.getsize('%s/work/%s/%s' % (state, c, f))
                except OSError:
                    pass
    return None

def processing():
    # a transmission other than the first being parsed into the outbox
    if not parsed:
        return None
    return 1.0 if any(f.endswith('.tmp') for f in ls(state + '/outbox')) \
        else None

def all_delivered():
    # A kill after a transmission's delivery commit, before its
    # file_delivered line, leaves no line for it: a manifest at the
    # receiver counts too. (It is written just before that commit, so
    # this only ends the planning of kills: a killed last run is
    # always followed by unkilled ones, and the output is compared.)
    if len(delivered) == total:
        return True
    return sum(1 for t in ls(out)
               if os.path.exists('%s/%s/manifest.json' % (out, t))) == total

def delivering(n):
    return lambda: 1.0 if nfiles(out) >= n else None

def run(n, plan):
    """One `once`; plan is None (never killed) or (kind, trigger, lo, hi):
    kill lo..hi seconds (times the trigger's scale) after the trigger."""
    log = open(os.path.join(logdir, 'run-%02d.log' % n), 'w')
    ev = []
    done = [None]       # once_done's exit=, when the run got that far
    lock = threading.Lock()
    t0 = time.monotonic()
    # Short stages are aimed at with the run at the lowest priority, so
    # that on a busy machine this poller still sees them in time.
    nice = plan is not None and plan[0] in ('claim', 'delivery')
    p = subprocess.Popen([td, 'once', '-c', conf], stdout=log,
                         stderr=subprocess.PIPE, text=True,
                         preexec_fn=(lambda: os.nice(19)) if nice else None)

    def reader():
        for line in p.stderr:
            log.write(line)
            log.flush()
            e, tid = field(line, 'event'), field(line, 'transmission_id')
            with lock:
                if e == 'file_parsed':
                    parsed.add(tid)
                elif e == 'file_delivered':
                    delivered.add(tid)
                elif e == 'once_done':
                    done[0] = int(field(line, 'exit'))
                ev.append((time.monotonic() - t0, e, field(line, 'file')))
    th = threading.Thread(target=reader)
    th.start()
    landing0 = len(ls(state + '/landing'))
    delay = None
    if plan is not None:
        kind, trig, lo, hi = plan
        while p.poll() is None:
            scale = trig()
            if scale is not None:
                break
            time.sleep(0.0002)
        if p.poll() is None:
            delay = rng.uniform(lo, hi) * scale
            time.sleep(delay)
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
        if delay is None:
            delay = -1.0
    rc = p.wait()
    th.join()
    log.close()
    exits.append((n, rc))
    if rc == -signal.SIGKILL and done[0] is not None:
        # whether it left state_dir/exit-status for the next run
        killed_done.append((n, done[0],
                            os.path.exists(state + '/exit-status')))
    return rc, ev, delay, landing0, time.monotonic() - t0

def where(ev, landing0):
    names = [e[1] for e in ev if e[1] not in
             ('store_migrated', 'audit_tail_dropped', 'record_rejected')]
    last = names[-1] if names else None
    if last == 'once_done':
        return 'exit', last
    if last == 'file_delivered' or (len(parsed) == total and
            last in (None, 'once_start', 'file_parsed')):
        return 'delivery', last
    if last in ('file_processing', 'file_progress'):
        return 'processing', last
    if ls(state + '/work') or last in ('file_received', 'resume_archive',
                                       'resume_intake', 'file_parsed'):
        return 'claim/hash', last
    if len(ls(state + '/landing')) < landing0:
        return 'claim/hash', last
    return 'startup', last

# The plan: a kill while the big drop is claimed and hashed, kills from
# the start of a run (0 to 5% of the reference run's duration D: start,
# claim, hash; 5% to 60%: parsing and mapping the big drop), then, once
# it is parsed, kills during the claim and hash and during the
# processing of the small ones, and last kills during delivery.
big = None
def plan_claim():
    # hashing took about ref_recv for the big drop: scale by size
    return ('claim', lambda: (lambda s: None if s is None else
            s / big)(claimed()), 0.0, 0.6 * ref_recv)
def plan_early():
    return ('early', start, 0.0, 0.05 * ref_dur)
def plan_proc():
    return ('processing', start, 0.05 * ref_dur, 0.6 * ref_dur)
def plan_mid():
    return ('small-processing', processing, 0.0,
            0.5 * ref_mid / max(total - 1, 1))
def plan_deliv():
    # once the k-th of the files still to come is in out/, k at random
    # (the first time among the first batches)
    have = nfiles(out)
    k = rng.randint(1, max(1, ref_files - have - 2))
    if not hits.get('delivery'):
        k = rng.randint(1, 3)
    return ('delivery', delivering(have + k), 0.0, 0.001)
big = max(os.path.getsize(state + '/landing/' + f)
          for f in ls(state + '/landing'))
first = [plan_early] * 2 + [plan_proc] * 3
rng.shuffle(first)
mid = [plan_claim, plan_mid, plan_mid]
rng.shuffle(mid)
plans = [plan_claim] + first + mid + [plan_deliv] * 3

hits = {}
kills = 0
n = 0
results = []
last_killed = False
while n < MAX_ITER and plans:
    plan = plans.pop(0)()
    n += 1
    rc, ev, delay, landing0, dur = run(n, plan)
    last_killed = rc == -signal.SIGKILL
    if rc == -signal.SIGKILL:
        kills += 1
        ph, last = where(ev, landing0)
        hits[ph] = hits.get(ph, 0) + 1
        say('run %d: %s plan, killed at %.3fs (+%.4fs) -> %s (last event '
            '%s; landing %d work %d outbox %d; parsed %d delivered %d)' % (
            n, plan[0], dur, delay, ph, last, len(ls(state + '/landing')),
            len(ls(state + '/work')), len(ls(state + '/outbox')),
            len(parsed), len(delivered)))
    else:
        say('run %d: %s plan, finished (exit %d) in %.3fs before the kill'
            % (n, plan[0], rc, dur))
        results.append(rc)
        if all_delivered():
            need = [ph for ph in ('claim/hash', 'processing', 'delivery')
                    if not hits.get(ph)]
            if (kills >= MIN_KILLS and not need) or n + 14 > MAX_ITER:
                break
            # A busy machine finished the work before enough kills
            # landed: start a fresh round on the same drops; only the
            # last round's output is compared with the reference.
            say('round over with %d kills (%s missing): a fresh round'
                % (kills, ', '.join(need) or 'none'))
            shutil.rmtree(state)
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(state + '/landing')
            drops = os.path.join(os.path.dirname(state), 'drops')
            for f in ls(drops):
                shutil.copy2(os.path.join(drops, f), state + '/landing/' + f)
            parsed.clear()
            delivered.clear()
            del killed_done[:]
            del exits[:]
            kills, hits, results = 0, {}, []
            plans = [plan_claim] + first + mid + [plan_deliv] * 3
            continue
    if len(parsed) == total:
        plans = [p for p in plans if p not in (plan_mid, plan_claim)]
    if not plans and not all_delivered():
        # top up until every stage was hit and there were enough kills
        need = [ph for ph in ('claim/hash', 'processing', 'delivery')
                if not hits.get(ph)]
        if kills < MIN_KILLS or need:
            if len(parsed) < total and 'claim/hash' in need:
                plans.append(plan_claim)
            elif len(parsed) < total:
                plans.append(plan_mid)
            else:
                plans.append(plan_deliv)

# Then run to completion, never killed (unless a planned run already did).
# A planned run killed after its last file_delivered line, before its
# last commit marked the rejections reported, leaves the work done but
# not finished: the run that finishes it is still to come.
final = []
while n < MAX_ITER and (not all_delivered() or last_killed):
    n += 1
    rc, ev, _, _, dur = run(n, None)
    say('run %d: not killed, exit %d in %.3fs' % (n, rc, dur))
    final.append(rc)
    last_killed = False
    if rc in (0, 1):
        break
json.dump({'kills': kills, 'hits': hits, 'final': results + final,
           'runs': n, 'killed_done': killed_done, 'exits': exits},
          open(logdir + '/summary.json', 'w'))
PY

# -------------------------------------------------------- reference run
# Timed, and the delivery window (last parse to the end) measured.
cat > "$T_TMP/timed.py" <<'PY'
import subprocess, sys, time
t0 = time.monotonic()
p = subprocess.Popen(sys.argv[2:], stderr=subprocess.PIPE, text=True)
first_parse = last_parse = None
recv = []
with open(sys.argv[1], 'w') as log:
    for line in p.stderr:
        log.write(line)
        if 'event=file_received' in line:
            recv.append(time.monotonic() - t0)
        if 'event=file_parsed' in line:
            last_parse = time.monotonic() - t0
            if first_parse is None:
                first_parse = last_parse
rc = p.wait()
dur = time.monotonic() - t0
print('%d %.4f %.4f %.4f %.4f' % (rc, dur, last_parse - first_parse,
      dur - last_parse, recv[0]))
PY
echo "# reference run"
set -- $(python3 "$T_TMP/timed.py" "$T_TMP/ref.log" \
	"$TRADEDROP" once -c "$T_TMP/ref.conf")
REF_RC=$1 REF_DUR=$2 REF_MID=$3 REF_WIN=$4 REF_RECV=$5
t_is "$REF_RC" 1 "reference run exits 1 (bad rows dead-lettered)"
echo "# reference run took ${REF_DUR}s: first file received at" \
	"${REF_RECV}s, ${REF_MID}s from the first parse to the last, then" \
	"${REF_WIN}s to deliver"
NTX=$(ls "$T_TMP/ref-out" | wc -l)
t_is "$NTX" "$NFILES" "reference run delivered one transmission per drop"

# ------------------------------------------------------------ crash run
echo "# crash run"
python3 "$T_TMP/crash.py" "$TRADEDROP" "$T_TMP/crash.conf" "$T_TMP/state" \
	"$T_TMP/out" "$SEED" "$REF_DUR" "$REF_RECV" "$REF_MID" "$NFILES" \
	"$(find "$T_TMP/ref-out" -type f | wc -l)" "$T_TMP/logs"
t_is $? 0 "kill driver ran"

summ() {
	python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
v = eval(sys.argv[2], {}, s)
print(v)' "$T_TMP/logs/summary.json" "$1"
}
KILLS=$(summ kills)
echo "# $KILLS kills: $(summ hits)"
t_ok "$([ "$KILLS" -ge 8 ]; echo $?)" "at least 8 runs killed ($KILLS)"
for ph in claim/hash processing delivery; do
	t_ok "$([ "$(summ "hits.get('$ph', 0)")" -ge 1 ]; echo $?)" \
		"a kill landed during $ph"
done
FIRST=$(summ 'final[0] if final else -1')
LAST=$(summ 'final[-1] if final else -1')
t_ok "$(case $FIRST in 0|1) echo 0;; *) echo 1;; esac)" \
	"the first run after the kills finishes the work (exit $FIRST)"
# The bad rows make a run exit 1. A run killed after deciding so, before
# it exits, leaves state_dir/exit-status for the next run, which exits 1
# again; only a kill after its once_done line and after it removed that
# file (its very last steps) ends the report there: that run's once_done
# line said exit=1, and every run after it rightly exits 0.
KDONE=$(summ "' '.join('%d:%d:%s' % (r, e, 'left' if f else 'gone') for r, e, f in killed_done)")
[ -n "$KDONE" ] && echo "# runs killed after their once_done line (run:exit=:exit-status): $KDONE"
ENDED=$(summ "(lambda k, ex=exits: 1 if k and all(rc in (0, -9) for r, rc in ex if r > k[-1][0]) else 0)([d for d in killed_done if d[1] == 1 and not d[2]])")
t_ok "$([ "$LAST" = 1 ] || [ "$ENDED" = 1 ]; echo $?)" \
	"the run that finishes exits 1 (bad rows were dead-lettered; exit" \
	"$LAST), or the report ended with a run killed after its once_done" \
	"line said exit=1 and it removed exit-status"
if [ "$LAST" != 1 ]; then
	echo "#   the bad rows were dead-lettered by" \
	    "$(grep -l 'event=file_parsed file=acme_b.csv' "$T_TMP"/logs/run-*.log |
	    sed 's,.*/,,')"
fi

# ----------------------------------------------------------- what arrived
cat > "$T_TMP/cmp.py" <<'PY'
import json, os, sys
ref, out = sys.argv[1], sys.argv[2]
bad = 0
def fail(msg):
    global bad
    bad += 1
    print('#   ' + msg)
def tree(d):
    r = {}
    for t in sorted(os.listdir(d)):
        r[t] = sorted(os.listdir(os.path.join(d, t)))
    return r
rt, ot = tree(ref), tree(out)
if rt != ot:
    fail('out/ differs from ref-out/: only in ref %s; only in out %s' % (
        sorted({t + '/' + f for t in rt for f in rt[t]} -
               {t + '/' + f for t in ot for f in ot.get(t, [])}),
        sorted({t + '/' + f for t in ot for f in ot[t]} -
               {t + '/' + f for t in rt for f in rt.get(t, [])})))
for t in sorted(set(rt) & set(ot)):
    for f in sorted(set(rt[t]) & set(ot[t])):
        a = open(os.path.join(ref, t, f), 'rb').read()
        b = open(os.path.join(out, t, f), 'rb').read()
        if f == 'manifest.json':
            ja, jb = json.loads(a), json.loads(b)
            ja.pop('received_at', None)
            jb.pop('received_at', None)
            if ja != jb:
                fail('%s/%s differs beyond received_at' % (t, f))
        elif a != b:
            fail('%s/%s is not byte-identical' % (t, f))
print('# %d differences' % bad)
sys.exit(1 if bad else 0)
PY
python3 "$T_TMP/cmp.py" "$T_TMP/ref-out" "$T_TMP/out"
t_ok $? "out/ equals ref-out/: same files, batches byte-identical," \
	"manifests equal but for received_at"

cat > "$T_TMP/ids.py" <<'PY'
import collections, gzip, os, sys
d = sys.argv[1]
ids = collections.Counter()
n = 0
for t in sorted(os.listdir(d)):
    for f in sorted(os.listdir(os.path.join(d, t))):
        if f.startswith('batch-'):
            for line in gzip.open(os.path.join(d, t, f), 'rb'):
                i = line.index(b'"record_id":"') + 13
                ids[line[i:i + 64]] += 1
                n += 1
dup = sum(1 for v in ids.values() if v > 1)
print(n, len(ids), dup)
PY
set -- $(python3 "$T_TMP/ids.py" "$T_TMP/out")
OUT_N=$1 OUT_IDS=$2 OUT_DUP=$3
set -- $(python3 "$T_TMP/ids.py" "$T_TMP/ref-out")
REF_N=$1
echo "# delivered records: $OUT_N (reference $REF_N), distinct ids $OUT_IDS"
t_is "$OUT_N" "$REF_N" "as many records delivered as by the reference run"
t_is "$OUT_DUP" 0 "no record_id delivered twice"
t_is "$OUT_IDS" "$OUT_N" "every record_id appears exactly once"

TIDS=$(ls "$T_TMP/ref-state/dlq")
t_is "$(ls "$T_TMP/state/dlq")" "$TIDS" "the same dead-letter files"
for f in $TIDS; do
	cmp "$T_TMP/ref-state/dlq/$f" "$T_TMP/state/dlq/$f" >/dev/null
	t_ok $? "dlq/$f equals the reference one"
done

LEFT=$(find "$T_TMP/state/work" "$T_TMP/state/outbox" ! -type d)
t_is "$LEFT" "" "nothing left in work/ or outbox/"
TMPS=$(find "$T_TMP/state" "$T_TMP/out" -name '*.tmp')
t_is "$TMPS" "" "no temporary files left behind"

# ----------------------------------------------------------- status
"$TRADEDROP" status -c "$T_TMP/ref.conf" --json > "$T_TMP/ref-status.json"
"$TRADEDROP" status -c "$T_TMP/crash.conf" --json > "$T_TMP/status.json"
t_is $? 0 "status --json exits 0"
cat > "$T_TMP/status.py" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
r = json.load(open(sys.argv[2]))
print(s['transmissions']['received'] + s['transmissions']['parsed'],
      s['records']['pending'], s['outbox']['batches'],
      s['transmissions']['delivered'], s['records']['delivered'],
      r['records']['delivered'], s['records']['dlq'],
      'same' if s == r else 'differs')
PY
set -- $(python3 "$T_TMP/status.py" "$T_TMP/status.json" \
	"$T_TMP/ref-status.json")
t_is "$1 $2 $3" "0 0 0" "status: nothing pending (transmissions, records," \
	"outbox batches)"
t_is "$4" "$NTX" "status: every transmission delivered"
t_is "$5" "$6" "status: as many records delivered as the reference ($6)"
t_is "$7" 4 "status: the 4 bad rows dead-lettered"
t_is "$8" same "status --json equals the reference run's"

# ----------------------------------------------------------- audit log
cat > "$T_TMP/audit.py" <<'PY'
import hashlib, json, sys
prev = '0' * 64
seq = 0
bad = 0
ev = {}
for n, line in enumerate(open(sys.argv[1], 'rb'), 1):
    try:
        o = json.loads(line)
    except ValueError:
        print('#   line %d: not JSON' % n); bad += 1; continue
    h = o.get('hash')
    if not isinstance(h, str) or len(h) != 64:
        print('#   line %d: no hash' % n); bad += 1; continue
    tail = b',"prev":"%s","hash":"%s"}\n' % (o['prev'].encode(), h.encode())
    body = line[:-len(tail)] + b'}' if line.endswith(tail) else None
    if (o['prev'] != prev or o['seq'] != seq + 1 or body is None or
            hashlib.sha256(prev.encode() + body).hexdigest() != h):
        print('#   line %d: breaks the hash chain' % n); bad += 1
    prev, seq = h, o['seq']
    ev[o['event']] = ev.get(o['event'], 0) + 1
print(bad, ev.get('transmission_received', 0), ev.get('transmission_parsed', 0),
      ev.get('transmission_delivered', 0))
PY
set -- $(python3 "$T_TMP/audit.py" "$T_TMP/state/audit.log")
t_is "$1" 0 "every audit.log line has a hash, and the chain holds"
t_is "$4" "$NTX" "one transmission_delivered event per transmission"
t_is "$2 $3" "$NTX $NTX" "one transmission_received and one" \
	"transmission_parsed event per transmission"

# --------------------------------------------------- nothing more to do
snap() {
	(cd "$T_TMP/out" && find . -type f -exec stat -c '%n %s %y' {} + |
	    sort && find . -type f -exec sha256sum {} + | sort)
}
snap > "$T_TMP/snap1"
"$TRADEDROP" once -c "$T_TMP/crash.conf" > "$T_TMP/last.log" 2>&1
t_is $? 0 "a last once has nothing to do and exits 0"
snap > "$T_TMP/snap2"
cmp -s "$T_TMP/snap1" "$T_TMP/snap2"
t_ok $? "a last once delivers nothing new (out/ unchanged)"

if [ "$T_FAILED" -ne 0 ]; then
	echo "# seed $SEED; what the kill driver said:"
	sed 's/^/#   /' "$T_TMP/logs/driver.log"
	echo "# logs of the runs (last lines):"
	for f in "$T_TMP"/logs/run-*.log; do
		echo "# == ${f##*/}"
		tail -3 "$f" | cut -c1-200 | sed 's/^/#   /'
	done
fi
t_done
