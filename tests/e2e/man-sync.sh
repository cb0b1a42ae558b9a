#!/bin/sh
# man-sync.sh - tradedrop(8) keeps up with the program: every command of
# --help is documented, every error code the source can give is in its
# code list, its LOGGING examples show each event at the level it is
# logged at, its EXAMPLES name no source-tree path as if installed;
# the events its LOGGING lists are logged at the levels it says;
# source.line counts physical lines with skip_rows as the pages say; and
# the EXAMPLES of tradedrop.conf(5), pasted, do what the text says.
# (Every key of common/conf-table.h in tradedrop.conf(5): man-lint.sh.)
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
exec $PY - "$TRADEDROP" "$T_TMP" "$srcdir" <<'PY'
import glob, json, os, re, subprocess, sys

td, tmp, src = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3]
sys.path.insert(0, os.path.join(src, "tests", "lib"))
from tdtap import ok, done  # noqa: E402

man8 = open(os.path.join(src, "man", "tradedrop.8"), encoding="utf-8").read()


def section(text, name):
    m = re.search(r'^\.Sh %s\n(.*?)(?=^\.Sh )' % re.escape(name), text,
                  re.M | re.S)
    return m.group(1) if m else ""


# 1. Every command --help lists is in the SYNOPSIS and COMMANDS.
helptext = subprocess.run([td, "--help"], capture_output=True,
                          text=True).stdout
cmds = re.findall(r'^  ([a-z][a-z-]*)\b', helptext, re.M)
ok(len(cmds) >= 4, "--help lists the commands (%s)" % " ".join(cmds),
   helptext)
synopsis, commands = section(man8, "SYNOPSIS"), section(man8, "COMMANDS")
for c in cmds:
    ok(re.search(r'^\.Ic %s$' % c, synopsis, re.M) is not None and
       re.search(r'^\.It Ic %s\b' % c, commands, re.M) is not None,
       "tradedrop(8) has %s in SYNOPSIS and COMMANDS" % c)
# ... and the verbs COMMANDS says need --reason, --help says so too
for c, verb in re.findall(r'^\.It Ic (\S+) Oo Fl c Ar file Oc Cm (\S+) Ar id '
                          r'Fl -reason', commands, re.M):
    line = [l for l in helptext.splitlines() if l.startswith("  %s " % c)]
    ok(len(line) == 1 and re.search(r'\b%s (?:and \w+ )?needs? --reason'
                                    % verb, line[0]) is not None,
       "--help says %s %s needs --reason" % (c, verb), line)

# 2. Every error code the source gives is in the code list of
# tradedrop(8) with its tier. A code is a snake_case string literal
# passed as the `const char *code` parameter of a function, assigned to
# a variable or member named *code, compared with one, or returned by a
# function whose result is assigned to one.
CODE = re.compile(r'"([a-z][a-z0-9]*(?:_[a-z0-9]+)+)"')
NOT_CODES = {
    "csv_ok": "csv_errcode() of no error",
    "csv_unknown": "csv_errcode() of an error number it does not know",
    "decode_not_utf8": "encoding = auto: the text is read again as "
                       "windows-1252, never a rejection",
    "decode_mixed_retry": "encoding = auto: read as windows-1252, the "
                          "text is mixed and read again as UTF-8, never "
                          "a rejection",
    "io_error": "unpack_fail() with TD_ERR_INTERNAL: exit 4, no tier",
}


def strip(t):
    t = re.sub(r'/\*.*?\*/', lambda m: '\n' * m.group(0).count('\n'), t,
               flags=re.S)
    return re.sub(r'//[^\n]*', '', t)


def args_at(t, i):
    """The arguments of the call whose '(' ends just before t[i]."""
    depth, cur, out, q = 0, "", [], None
    while i < len(t):
        c = t[i]
        if q:
            cur += c
            if c == "\\":
                cur += t[i + 1]
                i += 1
            elif c == q:
                q = None
        elif c in "\"'":
            q = c
            cur += c
        elif c == "(":
            depth += 1
            cur += c
        elif c == ")":
            if depth == 0:
                out.append(cur)
                return out
            depth -= 1
            cur += c
        elif c == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    return out


def body_of(t, name):
    m = re.search(r'^%s\s*\([^)]*\)\s*\{' % re.escape(name), t, re.M)
    if m is None:
        return ""
    depth, i = 0, m.end() - 1
    while i < len(t):
        depth += {"{": 1, "}": -1}.get(t[i], 0)
        if depth == 0:
            break
        i += 1
    return t[m.end():i]


srcs = {}
for d in ("agent", "common"):
    for f in sorted(glob.glob(os.path.join(src, d, "*.[ch]"))):
        with open(f, encoding="utf-8", errors="replace") as fh:
            srcs[os.path.relpath(f, src)] = strip(fh.read())
takes = {}
for t in srcs.values():
    for m in re.finditer(r'\b([a-z_][a-z0-9_]*)\s*\(([^;{}()]*)\)\s*[;{]', t):
        for i, p in enumerate(m.group(2).split(",")):
            if re.search(r'\bconst char \*\s*code$', p.strip()):
                takes[m.group(1)] = i
found, returners = {}, set()


def add(text, f, t, pos):
    for c in CODE.findall(text):
        found.setdefault(c, "%s:%d" % (f, t.count("\n", 0, pos) + 1))


cfiles = {f: t for f, t in srcs.items() if f.endswith(".c")}
for f, t in cfiles.items():
    for name, idx in takes.items():
        for m in re.finditer(r'\b%s\s*\(' % name, t):
            a = args_at(t, m.end())
            if len(a) > idx:
                add(a[idx], f, t, m.start())
    for m in re.finditer(r'\b\w*code\s*=\s*([^;=][^;]*);', t):
        add(m.group(1), f, t, m.start())
        fm = re.match(r'\s*([a-z_]\w*)\s*\(', m.group(1))
        if fm:
            returners.add(fm.group(1))
    for m in re.finditer(r'strcmp\(\s*[\w.>-]*code\w*\s*,\s*("[^"]*")', t):
        add(m.group(1), f, t, m.start())
for f, t in cfiles.items():
    for name in returners:
        b = body_of(t, name)
        for m in re.finditer(r'\b(?:return|res\s*=)\s*("[^"]*")', b):
            add(m.group(1), f, t, t.find(b) + m.start())
listed = dict(re.findall(r'^\.It Cm ([a-z0-9_]+) Ta ([1-4])', man8, re.M))
codes = sorted(c for c in found if c not in NOT_CODES)
ok(len(codes) >= 40, "the source gives %d codes" % len(codes),
   " ".join(sorted(found)))
missing = ["%s (%s)" % (c, found[c]) for c in codes if c not in listed]
ok(not missing, "every code in the source is in tradedrop(8) with its tier",
   "\n".join(missing))
t1 = [c for c in codes if listed.get(c) == "1"]
ok(not t1, "no rejection code is listed as Tier 1", " ".join(t1))
future = sorted(set(listed) - set(found))
print("# listed in tradedrop(8) and not (yet) given by the source: " +
      " ".join(future))

# 3. The LOGGING examples show each event at the level it is logged at:
# a run at log_level = debug on a drop with one bad row.
os.makedirs(os.path.join(tmp, "st", "landing"))
with open(os.path.join(tmp, "a.conf"), "w") as f:
    f.write('[integration]\nname = acme\nstate_dir = st\n'
            'log_level = debug\nmax_reject_ratio = 0.5\n[map]\n'
            'store_id = column "Store"\ngtin = column "UPC" gtin\n'
            'txn_date = column "Week Ending" date "%m/%d/%Y"\n'
            'quantity = column "Units" decimal\n')
with open(os.path.join(tmp, "st", "landing", "acme pos.csv"), "w") as f:
    f.write("Store,UPC,Week Ending,Units\n"
            "0042,041000001239,11/28/2026,3\n"
            "0042,041000001238,11/28/2026,2\n"
            "0042,041000001239,11/27/2026,1\n")
r = subprocess.run([td, "once", "-c", os.path.join(tmp, "a.conf")],
                   capture_output=True, text=True)
ok(r.returncode == 1, "once exits 1 (a row dead-lettered)", r.stderr)
logged = {}
for lvl, ev in re.findall(r'\blevel=(\w+) event=(\w+)', r.stderr):
    logged.setdefault(ev, set()).add(lvl)
logging = section(man8, "LOGGING")
shown = re.findall(r'\blevel=(\w+) event=(\w+)', logging)
ok({"record_rejected", "file_parsed"} <= {e for _, e in shown},
   "LOGGING shows record_rejected and file_parsed lines")
for lvl, ev in shown:
    ok(ev in logged and lvl in logged[ev],
       "LOGGING's level=%s event=%s is what the run logs" % (lvl, ev),
       "the run logged %s at %s" % (ev, ",".join(sorted(logged.get(ev, [])))
                                    or "no level"))

# 3b. The events LOGGING lists with their levels ("It Cm EVENT Pq LEVEL")
# are logged by the source at each of those levels: a level read off
# td_log(TD_LOG_X, "event" or, when it is computed, off the expression
# before the event's name.
lst = re.search(r'^The events that follow a drop.*?^\.El', logging,
                re.M | re.S)
ok(lst is not None, "LOGGING lists the events that follow a drop")
srcs = ""
for f in sorted(glob.glob(os.path.join(src, "agent", "*.c")) +
                glob.glob(os.path.join(src, "common", "*.c"))):
    srcs += strip(open(f, encoding="utf-8").read())
levels = {}
for m in re.finditer(r'td_log\(([^;]*?),\s*"([a-z_0-9]+)"', srcs):
    for lv in re.findall(r'TD_LOG_([A-Z]+)', m.group(1)):
        levels.setdefault(m.group(2), set()).add(lv.lower())
for m in re.finditer(r'^\.It Cm (.*?) Pq (.*)$', lst.group(0) if lst else "",
                     re.M):
    evs = [e.strip() for e in m.group(1).split(",")]
    said = set(re.findall(r'\b(info|warn|error|debug)\b', m.group(2)))
    for ev in evs:
        ok(ev in levels and levels[ev] <= said and said & levels[ev],
           "LOGGING: %s is logged at %s" % (ev, "/".join(sorted(said))),
           "the source logs it at %s" % ",".join(sorted(levels.get(ev,
                                                                  []))))

# 4. source.line and the rejected rows' line numbers count physical
# lines, with rows skipped by skip_rows, as tradedrop-protocol(7) and
# tradedrop.conf(5) say.
with open(os.path.join(tmp, "s.conf"), "w") as f:
    f.write('[integration]\nname = acme\nstate_dir = st2\n'
            'max_reject_ratio = 0.5\n[parse]\nskip_rows = 2\n[map]\n'
            'store_id = column "Store"\ngtin = column "UPC" gtin\n'
            'txn_date = column "Week Ending" date "%m/%d/%Y"\n'
            'quantity = column "Units" decimal\n')
with open(os.path.join(tmp, "s.csv"), "w") as f:
    f.write("ACME weekly sell-through\nweek ending 11/28/2026\n"
            "Store,UPC,Week Ending,Units\n"
            "0042,041000001239,11/28/2026,3\n"
            "0042,041000001238,11/28/2026,2\n"
            "0042,041000001239,11/27/2026,1\n")
r = subprocess.run([td, "try", "-c", os.path.join(tmp, "s.conf"),
                    os.path.join(tmp, "s.csv")], capture_output=True,
                   text=True)
lines = [json.loads(l)["source"]["line"] for l in r.stdout.splitlines()]
ok(lines == [4, 6], "with skip_rows = 2 the records are lines 4 and 6",
   "%s\n%s" % (lines, r.stderr))
ok("s.csv:5: tier 3 gtin_check_digit" in r.stderr,
   "and the rejected row is line 5", r.stderr)
proto = open(os.path.join(src, "man", "tradedrop-protocol.7"),
             encoding="utf-8").read()
conf5 = open(os.path.join(src, "man", "tradedrop.conf.5"),
             encoding="utf-8").read()
m = re.search(r'^\.Va line ,\n(.*?)^\.Va segment', proto, re.M | re.S)
ok(m is not None and "skip_rows = 2" in m.group(1) and
   "line 3" in m.group(1),
   "tradedrop-protocol(7): with skip_rows = 2 the header is line 3")
m = re.search(r'^\.It Cm skip_rows .*?(?=^\.It )', conf5, re.M | re.S)
ok(m is not None and "line 3" in m.group(0),
   "tradedrop.conf(5) skip_rows: the header is then line 3")

# 5. EXAMPLES name source-tree paths only as such, and the installed
# examples they name exist.
ex = section(man8, "EXAMPLES")
bad = []
for m in re.finditer(r'^\.Pa (etc/\S+)', ex, re.M):
    before = ex[max(0, m.start() - 300):m.start()]
    if "source tree" not in before:
        bad.append(m.group(1))
ok(not bad, "EXAMPLES says source tree before naming %s" % " ".join(bad)
   if bad else "EXAMPLES names etc/ paths as source-tree paths only")
named = re.findall(r'^\.Pa ([a-z0-9-]+\.conf)$', ex, re.M)
ok(len(named) >= 2 and all(os.path.isfile(os.path.join(
    src, "etc", "examples", n)) for n in named),
   "the examples EXAMPLES names are installed (%s)" % " ".join(named))

# 6. The EXAMPLES of tradedrop.conf(5), pasted: its configuration (its
# state_dir moved here), with the files it names, passes check, and its
# commands take its sample drop to exactly the records the text says.
ex5 = section(conf5, "EXAMPLES")
blocks = re.findall(r'^\.Bd -literal[^\n]*\n(.*?)^\.Ed', ex5, re.M | re.S)
ok(len(blocks) == 3, "tradedrop.conf(5) EXAMPLES: sample, configuration "
   "and commands", len(blocks))
if len(blocks) == 3:
    d = os.path.join(tmp, "ex5")
    os.mkdir(d)
    sample, cfgtext, cmds = blocks
    cfgtext = re.sub(r'^state_dir = .*$', "state_dir = " +
                     os.path.join(d, "state"), cfgtext, flags=re.M)
    cfg = os.path.join(d, "walmart-pos.conf")
    with open(cfg, "w") as f:
        f.write(cfgtext)
    with open(os.path.join(d, "sample.csv"), "w") as f:
        f.write(sample)
    for name, body, mode in (
            ("walmart-pos.known_hosts", "", 0o644),
            ("walmart-pos_ed25519", "KEY\n", 0o600),
            ("reconciler.token", "t\n", 0o600),
            ("walmart-pos-promos.csv", "promo_code,promo_id,promo_type\n"
             "BOGO77,P-77,bogo\nTPR0412,P-412,tpr\n", 0o644)):
        with open(os.path.join(d, name), "w") as f:
            f.write(body)
        os.chmod(os.path.join(d, name), mode)
    outs = []
    for line in cmds.splitlines():
        line = line.lstrip("# ").replace("/etc/tradedrop/walmart-pos.conf",
                                         cfg).replace("tradedrop ",
                                                      td + " ", 1)
        outs.append(subprocess.run(line, shell=True, cwd=d,
                                   capture_output=True, text=True))
    ok(all(o.returncode == 0 for o in outs),
       "its commands, pasted, exit 0", [(o.args, o.returncode, o.stderr)
                                        for o in outs])
    recs = [json.loads(l) for l in outs[-1].stdout.splitlines() if l]
    got = [(r["quantity"], r["amount"], r["promo_id"]) for r in recs]
    ok(got == [("18", "62.82", "P-77"), ("-2", "-5.98", None),
               ("1", "1203.66", "P-412")],
       "try gives the sample's three records: the return at -5.98, the "
       "grouped amount as 1203.66", (got, outs[-1].stderr))
done()
PY
