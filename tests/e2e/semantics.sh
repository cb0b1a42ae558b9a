#!/bin/sh
# semantics.sh - what the records mean to trade finance, through `try`
# and `once`: the fiscal object in the Gregorian and the retail 4-5-4,
# 4-4-5 and 5-4-4 calendars (the NRF rule and a year_start), over year
# boundaries and a 53-week year; period = week_ending and week_starting.
. "$srcdir/tests/lib/common.sh"
t_tmpdir
PY=/usr/bin/python3
[ -x $PY ] || t_skip_all "python3 not installed"
exec $PY - "$TRADEDROP" "$T_TMP" "$srcdir" <<'PY'
import json, os, subprocess, sys

td, tmp = os.path.abspath(sys.argv[1]), sys.argv[2]
sys.path.insert(0, os.path.join(sys.argv[3], "tests", "lib"))
from tdtap import ok, done  # noqa: E402


def conf(name, maplines, extra=""):
    path = os.path.join(tmp, name + ".conf")
    with open(path, "w") as f:
        f.write("[integration]\nname = acme\nstate_dir = %s/%s.state\n"
                "[output]\nurl = file://%s/%s.out\n[map]\n%s\n%s" %
                (tmp, name, tmp, name, "\n".join(maplines), extra))
    return path


def try_(cfg, data, fname):
    path = os.path.join(tmp, fname)
    with open(path, "w") as f:
        f.write(data)
    p = subprocess.run([td, "try", "-c", cfg, path], capture_output=True)
    return ([json.loads(l) for l in p.stdout.decode().splitlines() if l],
            p.stderr.decode(), p.returncode)


MAP = ['store_id = column "Store"', 'gtin = column "UPC" gtin',
       'txn_date = column "Date" date "%Y-%m-%d"',
       'quantity = column "Units" decimal']


def fiscal_of(cal, dates, period="day"):
    c = conf("cal", MAP + ["period = " + period], cal)
    recs, err, rc = try_(c, "Store,UPC,Date,Units\n" + "".join(
        "1,041000001239,%s,1\n" % d for d in dates), "cal.csv")
    return recs, err


# --- the NRF 4-5-4 calendar (the default anchor), published dates -------
days = {
    # fiscal 2023: 2023-01-29 .. 2024-02-03, 53 weeks, the 53rd in January
    "2023-01-28": (2022, 4, 12, 52), "2023-01-29": (2023, 1, 1, 1),
    "2023-02-25": (2023, 1, 1, 4), "2023-02-26": (2023, 1, 2, 5),
    "2023-04-01": (2023, 1, 2, 9), "2023-04-02": (2023, 1, 3, 10),
    "2023-11-26": (2023, 4, 11, 44), "2023-12-30": (2023, 4, 11, 48),
    "2023-12-31": (2023, 4, 12, 49), "2024-02-03": (2023, 4, 12, 53),
    "2024-02-04": (2024, 1, 1, 1),
    # fiscal 2025 ends 2026-01-31; fiscal 2026 starts 2026-02-01
    "2026-01-31": (2025, 4, 12, 52), "2026-02-01": (2026, 1, 1, 1),
    "2026-11-21": (2026, 4, 10, 42),
}
recs, err = fiscal_of("[calendar]\ntype = 454\n", list(days))
got = {r["txn_date"]: tuple(r["fiscal"][k] for k in
                            ("year", "quarter", "period", "week"))
       for r in recs}
ok(got == days, "4-5-4 (NRF rule): fiscal year, quarter, period and week "
   "of published dates, the 53rd week of 2023 in period 12",
   json.dumps({d: (got.get(d), days[d]) for d in days if got.get(d) != days[d]})
   + err)

# --- 4-4-5 and 5-4-4: the periods of fiscal 2023's quarter 1 -------------
for typ, want in (("445", {"2023-02-25": 1, "2023-03-25": 2, "2023-03-26": 3,
                           "2023-04-29": 3, "2023-04-30": 4}),
                  ("544", {"2023-03-04": 1, "2023-03-05": 2, "2023-04-01": 2,
                           "2023-04-02": 3, "2023-04-30": 4})):
    recs, err = fiscal_of("[calendar]\ntype = %s\n" % typ, list(want))
    got = {r["txn_date"]: r["fiscal"]["period"] for r in recs}
    ok(got == want, "%s: periods of fiscal 2023" % typ, (got, want, err))

# --- a year_start late in December ---------------------------------------
recs, err = fiscal_of("[calendar]\ntype = 445\nyear_start = 2025-12-28\n",
                      ["2025-12-27", "2025-12-28", "2026-12-26", "2026-12-27"])
got = [(r["txn_date"], r["fiscal"]["year"], r["fiscal"]["week"]) for r in recs]
ok(got == [("2025-12-27", 2025, 52), ("2025-12-28", 2026, 1),
           ("2026-12-26", 2026, 52), ("2026-12-27", 2027, 1)],
   "year_start 2025-12-28: years named by most of their days, the next "
   "starting on the Sunday nearest 28 December", (got, err))

# --- Gregorian (the default) ----------------------------------------------
recs, err = fiscal_of("", ["2026-11-28", "2024-12-31"])
ok([r["fiscal"] for r in recs] == [
    {"year": 2026, "quarter": 4, "period": 11, "week": 48},
    {"year": 2024, "quarter": 4, "period": 12, "week": 53}],
   "gregorian: calendar year, quarter, month, week from 1 January", recs)

# --- period: week_ending and week_starting -------------------------------
recs, err = fiscal_of("[calendar]\ntype = 454\n", ["2026-01-31"], "week_ending")
ok([(r["txn_date"], r["period_start"], r["fiscal"]["year"]) for r in recs] ==
   [("2026-01-31", "2026-01-25", 2025)],
   "week_ending: period_start is txn_date - 6", (recs, err))
recs, err = fiscal_of("[calendar]\ntype = 454\n", ["2026-01-25", "2026-02-01"],
                      "week_starting")
ok([(r["txn_date"], r["period_start"], r["fiscal"]["year"],
     r["fiscal"]["week"]) for r in recs] ==
   [("2026-01-31", "2026-01-25", 2025, 52), ("2026-02-07", "2026-02-01", 2026, 1)],
   "week_starting: the date starts the week, txn_date is its last day, "
   "and the fiscal week is that of the week", (recs, err))
recs, err = fiscal_of("", ["2026-11-28"])
ok(recs and recs[0]["period_start"] is None, "period = day: no period_start")

# --- check refuses what cannot be a calendar -------------------------------
for extra, why in (("[calendar]\nyear_start = 2026-02-01\n",
                    "year_start needs a retail calendar"),
                   ("[calendar]\ntype = 454\nyear_start = 2028-02-29\n",
                    "29 February has no day in most years"),
                   ("[calendar]\ntype = 453\n", "type = 453")):
    c = conf("bad", MAP, extra)
    p = subprocess.run([td, "check", "-c", c], capture_output=True)
    ok(p.returncode == 2 and why in p.stderr.decode(),
       "check refuses: %s" % why, p.stderr.decode())

done()
PY
