#!/bin/sh
# replay.sh - `tradedrop replay`: a file with a PLU the crosswalk lacks
# has those rows dead-lettered as unmapped_item; after the crosswalk is
# fixed, a replay delivers them under the new mapping_version as a new
# logical transmission whose manifest says replay_of, the rows delivered
# before withheld as duplicate_record, the original's output untouched.
# Replaying again, or under the original's mapping, delivers nothing;
# --dry-run says what would happen and changes nothing.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
exec $PY - "$TRADEDROP" "$T_TMP" "$srcdir" <<'PY'
import gzip, hashlib, json, os, sqlite3, subprocess, sys

td, tmp = os.path.abspath(sys.argv[1]), sys.argv[2]
sys.path.insert(0, os.path.join(sys.argv[3], "tests", "lib"))
from tdtap import ok, done  # noqa: E402

state, out = os.path.join(tmp, "state"), os.path.join(tmp, "out")
xw, cfg = os.path.join(tmp, "items.csv"), os.path.join(tmp, "td.conf")


def crosswalk(rows):
    with open(xw, "w") as f:
        f.write("retailer_item_id,gtin\n" + rows)
    os.chmod(xw, 0o600)


crosswalk("4011,041000001239\n4020,4006381333931\n")
with open(cfg, "w") as f:
    f.write("[integration]\nname = acme\nstate_dir = %s\n"
            "max_reject_ratio = 1\n[output]\nurl = file://%s\n[map]\n"
            "store_id = column \"Store\"\n"
            "retailer_item_id = column \"PLU\"\n"
            "txn_date = column \"Date\" date \"%%Y-%%m-%%d\"\n"
            "quantity = column \"Units\" decimal\ncrosswalk_file = %s\n"
            % (state, out, xw))
DATA = ("Store,PLU,Date,Units\n1,4011,2026-07-01,2\n1,4012,2026-07-01,3\n"
        "1,4020,2026-07-02,1\n1,4012,2026-07-02,5\n")
os.makedirs(os.path.join(state, "landing"))
with open(os.path.join(state, "landing", "sales.csv"), "w") as f:
    f.write(DATA)
with open(os.path.join(tmp, "sales.csv"), "w") as f:
    f.write(DATA)


def run(*args):
    p = subprocess.run([td] + list(args) + ["-c", cfg], capture_output=True)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def tree(top):
    """Every file below top with its bytes' SHA-256; state.db as the SQL
    of its contents (a reader may leave SQLite's -wal and -shm files)."""
    t = {os.path.relpath(os.path.join(d, n), top):
         hashlib.sha256(open(os.path.join(d, n), "rb").read()).hexdigest()
         for d, _, ns in os.walk(top) for n in ns
         if n not in ("state.db", "state.db-wal", "state.db-shm")}
    if os.path.exists(os.path.join(top, "state.db")):
        db = sqlite3.connect("file:%s/state.db?mode=ro" % top, uri=True)
        t["state.db"] = "\n".join(db.iterdump())
        db.close()
    return t


def records(d):
    return [json.loads(l) for b in sorted(os.listdir(os.path.join(out, d)))
            if b.startswith("batch-")
            for l in gzip.open(os.path.join(out, d, b)).read().splitlines()]


def events(name):
    return [json.loads(l) for l in open(os.path.join(state, "audit.log"))
            if json.loads(l)["event"] == name]


rc, so, se = run("once")
dirs = os.listdir(out)
tid = dirs[0] if len(dirs) == 1 else None
man0 = json.load(open(os.path.join(out, tid, "manifest.json"))) if tid \
    else {}
dlq = [json.loads(l) for l in open(os.path.join(state, "dlq", tid +
                                                ".ndjson"))] if tid else []
ok(rc == 1 and man0.get("counts") == {"records": 4, "delivered": 2,
                                      "dlq": 2, "held": 0, "duplicate": 0}
   and [d["code"] for d in dlq] == ["unmapped_item"] * 2,
   "the PLU missing from the crosswalk: its 2 rows are unmapped_item",
   (se, man0, dlq))
orig_out, mv0 = tree(os.path.join(out, tid)), man0.get("mapping_version")

rc, so, se = run("replay", tid)
ok(rc == 0 and "nothing new" in so and os.listdir(out) == [tid],
   "replay under the same mapping: nothing new, exit 0", (rc, so, se))

crosswalk("4011,041000001239\n4012,96385074\n4020,4006381333931\n")
before = (tree(state), tree(out))
rc, so, se = run("replay", "--dry-run", tid[:12])
ok(rc == 0 and "would read 4 rows: 2 delivered, 0 dead-lettered, 0 held, "
   "2 duplicate" in so and "nothing was changed" in so,
   "--dry-run: 2 rows would be delivered and 2 withheld", (rc, so, se))
after = (tree(state), tree(out))
ok(after == before, "--dry-run changes nothing in state_dir or the output",
   [k for i in (0, 1) for k in set(before[i]) | set(after[i])
    if before[i].get(k) != after[i].get(k)])

rc, so, se = run("replay", tid)
new = [d for d in os.listdir(out) if d != tid]
rid = new[0] if len(new) == 1 else None
man = json.load(open(os.path.join(out, rid, "manifest.json"))) if rid else {}
mv = man.get("mapping_version")
ok(rc == 0 and rid is not None and man.get("replay_of") == tid and
   man.get("transmission_id") == rid and mv and mv != mv0 and
   man["file"]["sha256"] == tid and man["file"]["name"] == "sales.csv",
   "replay: a new transmission whose manifest says replay_of the original "
   "and the new mapping_version", (rc, so, se, man))
ok(man.get("counts") == {"records": 4, "delivered": 2, "dlq": 0, "held": 0,
                         "duplicate": 2},
   "replay: the formerly unmapped rows delivered, the others withheld as "
   "duplicate_record", man.get("counts"))
recs = records(rid) if rid else []
p = subprocess.run([td, "try", "-c", cfg, os.path.join(tmp, "sales.csv")],
                   capture_output=True)
tried = [json.loads(l) for l in p.stdout.decode().splitlines()]
ok([(r["retailer_item_id"], r["gtin"], r["quantity"]) for r in recs] ==
   [("4012", "00000096385074", "3"), ("4012", "00000096385074", "5")] and
   all(r["transmission_id"] == tid and r["mapping_version"] == mv
       for r in recs) and recs == [r for r in tried
                                   if r["retailer_item_id"] == "4012"],
   "replayed records: the raw file's transmission_id, the new "
   "mapping_version, the record_id of their row (as try gives it)",
   (recs, tried))
keys = [b["idempotency_key"] for b in man.get("batch_list", [])]
ok(keys == [hashlib.sha256(("%s\n%s\n1" % (tid, mv)).encode()).hexdigest()],
   "the replay's Idempotency-Key: SHA-256 of the original id, the new "
   "mapping_version and the batch seq", keys)
ok(tree(os.path.join(out, tid)) == orig_out, "the original's output is "
   "untouched")
ev = events("transmission_replayed")
ok(len(ev) == 1 and ev[0]["transmission_id"] == rid and
   ev[0]["replay_of"] == tid and ev[0]["mapping_version"] == mv and
   ev[0]["replayed_mapping_version"] == mv0,
   "audited: transmission_replayed", ev)
ok(len([e for e in events("transmission_delivered")
        if e["transmission_id"] == rid]) == 1, "audited: the replay "
   "delivered")

before = (tree(out), len(events("transmission_replayed")))
for what in (tid, rid):
    rc, so, se = run("replay", what)
    ok(rc == 0 and "already" in so and "nothing new" in so and
       (tree(out), len(events("transmission_replayed"))) == before,
       "replaying %s again: nothing new" % ("the original" if what == tid
                                            else "the replay"), (rc, so, se))
rc, so, se = run("replay", "--dry-run", tid)
ok(rc == 0 and "already" in so, "--dry-run says it was replayed", so)
rc, so, se = run("replay", "0123456789ab")
ok(rc == 1 and "no transmission" in se, "an unknown id: exit 1", se)
rc, so, se = run("replay")
ok(rc == 2, "no id: usage, exit 2", se)
st = json.loads(run("status", "--json")[1])
ok(st["transmissions"]["delivered"] == 2 and
   st["records"]["delivered"] == 4, "status counts the replay as a "
   "transmission of its own", st)
with open(os.path.join(state, "landing", "bad.csv"), "w") as f:
    f.write("Store,Item\n1,2\n")
run("once")
q = [d for d in os.listdir(os.path.join(state, "quarantine"))]
rc, so, se = run("replay", q[0] if q else "none")
ok(len(q) == 1 and rc == 1 and "`tradedrop quarantine -c %s release %s`"
   % (cfg, q[0]) in se,
   "a quarantined transmission is not replayed: release it, the command "
   "with -c FILE", (q, so, se))
rc, so, se = run("audit", "verify")
ok(rc == 0, "audit verify passes", (so, se))
done()
PY
