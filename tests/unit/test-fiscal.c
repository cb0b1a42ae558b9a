/*
 * test-fiscal.c - fiscal calendars against published dates: the NRF
 * 4-5-4 calendar for fiscal 2017 (53 weeks), 2022, 2023 (53 weeks),
 * 2024 and 2025, every day of them; 4-4-5 and 5-4-4 periods; a year_start
 * anchored late in December; Gregorian.
 */
#include "config.h"

#include <string.h>

#include "td.h"
#include "date.h"
#include "fiscal.h"
#include "../lib/tap.h"

static int32_t
day(const char *s)
{
	struct td_date d;

	if (td_date_parse_iso(s, strlen(s), &d) != 0)
		td_fatal("bad date %s", s);
	return td_date_to_days(&d);
}

/* NRF retail calendar 4-5-4 (nrf.com): first and last day of each year. */
static const struct {
	int		 fy;
	const char	*first, *last;
	int		 weeks;
} nrf[] = {
	{ 2017, "2017-01-29", "2018-02-03", 53 },
	{ 2018, "2018-02-04", "2019-02-02", 52 },
	{ 2022, "2022-01-30", "2023-01-28", 52 },
	{ 2023, "2023-01-29", "2024-02-03", 53 },
	{ 2024, "2024-02-04", "2025-02-01", 52 },
	{ 2025, "2025-02-02", "2026-01-31", 52 },
	{ 2026, "2026-02-01", "2027-01-30", 52 },
};

/* NRF fiscal 2023, month by month: Feb ... Jan (the 53rd week in Jan). */
static const char *nrf2023[12][2] = {
	{ "2023-01-29", "2023-02-25" }, { "2023-02-26", "2023-04-01" },
	{ "2023-04-02", "2023-04-29" }, { "2023-04-30", "2023-05-27" },
	{ "2023-05-28", "2023-07-01" }, { "2023-07-02", "2023-07-29" },
	{ "2023-07-30", "2023-08-26" }, { "2023-08-27", "2023-09-30" },
	{ "2023-10-01", "2023-10-28" }, { "2023-10-29", "2023-11-25" },
	{ "2023-11-26", "2023-12-30" }, { "2023-12-31", "2024-02-03" },
};

static void
fiscal(const struct td_calendar *cal, int32_t days, struct td_fiscal *f)
{
	struct td_date d;

	td_date_from_days(days, &d);
	td_fiscal_of(cal, &d, f);
}

static void
test_nrf(void)
{
	struct td_calendar cal;
	struct td_fiscal f;
	int32_t a, b, x;
	size_t i;
	int bad, p, lastweek;

	if (td_calendar_init(&cal, TD_CAL_454, NULL) != 0)
		td_fatal("init");
	for (i = 0; i < TD_NELEM(nrf); i++) {
		a = day(nrf[i].first);
		b = day(nrf[i].last);
		bad = 0;
		lastweek = 0;
		for (x = a; x <= b; x++) {
			fiscal(&cal, x, &f);
			if (f.year != nrf[i].fy || f.weeks != nrf[i].weeks ||
			    f.week != (int)(x - a) / 7 + 1 || f.quarter < 1 ||
			    f.quarter > 4 || f.quarter != (f.period - 1) / 3 + 1)
				bad++;
			lastweek = f.week;
		}
		ok(bad == 0 && lastweek == nrf[i].weeks, "NRF fiscal %d: %s to "
		    "%s, %d weeks, every day", nrf[i].fy, nrf[i].first,
		    nrf[i].last, nrf[i].weeks);
		fiscal(&cal, a - 1, &f);
		is_int(f.year, nrf[i].fy - 1, "the day before fiscal %d is in "
		    "the year before", nrf[i].fy);
	}
	/* fiscal 2023 period by period, the 53rd week in January */
	bad = 0;
	for (p = 0; p < 12; p++)
		for (x = day(nrf2023[p][0]); x <= day(nrf2023[p][1]); x++) {
			fiscal(&cal, x, &f);
			if (f.period != p + 1)
				bad++;
		}
	ok(bad == 0, "NRF fiscal 2023: every day in its published month");
	fiscal(&cal, day("2024-02-03"), &f);
	ok(f.year == 2023 && f.quarter == 4 && f.period == 12 && f.week == 53,
	    "2024-02-03 is fiscal 2023, Q4, period 12, week 53");
	fiscal(&cal, day("2026-11-21"), &f);
	ok(f.year == 2026 && f.quarter == 4 && f.period == 10 && f.week == 42,
	    "2026-11-21 is fiscal 2026, Q4, period 10, week 42");
}

static void
test_patterns(void)
{
	static const struct {
		int	type;
		int	weeks[12];
	} v[] = {
		{ TD_CAL_445, { 4, 4, 5, 4, 4, 5, 4, 4, 5, 4, 4, 5 } },
		{ TD_CAL_454, { 4, 5, 4, 4, 5, 4, 4, 5, 4, 4, 5, 4 } },
		{ TD_CAL_544, { 5, 4, 4, 5, 4, 4, 5, 4, 4, 5, 4, 4 } },
	};
	struct td_calendar cal;
	struct td_fiscal f;
	int32_t a;
	size_t i;
	int w, p, n[13], bad;

	for (i = 0; i < TD_NELEM(v); i++) {
		td_calendar_init(&cal, v[i].type, NULL);
		/* fiscal 2023 has 53 weeks: the last goes to period 12 */
		a = day("2023-01-29");
		memset(n, 0, sizeof(n));
		for (w = 0; w < 53; w++) {
			fiscal(&cal, a + 7 * w, &f);
			n[f.period]++;
		}
		bad = 0;
		for (p = 0; p < 12; p++)
			if (n[p + 1] != v[i].weeks[p] + (p == 11))
				bad++;
		ok(bad == 0, "type %d: weeks per period as the pattern, the "
		    "53rd in period 12", v[i].type);
	}
}

static void
test_anchor(void)
{
	struct td_calendar cal;
	struct td_fiscal f;
	struct td_date a = { 2025, 12, 28 }, feb29 = { 2024, 2, 29 };

	/* a year_start late in December, a Sunday */
	ok(td_calendar_init(&cal, TD_CAL_445, &a) == 0, "year_start "
	    "2025-12-28");
	fiscal(&cal, day("2025-12-28"), &f);
	ok(f.year == 2026 && f.week == 1 && f.period == 1, "2025-12-28 is "
	    "the first day of fiscal 2026 (most of its days are in 2026)");
	fiscal(&cal, day("2025-12-27"), &f);
	ok(f.year == 2025 && f.period == 12, "2025-12-27 is the last day of "
	    "fiscal 2025");
	fiscal(&cal, day("2026-12-26"), &f);
	ok(f.year == 2026 && f.week == 52, "2026-12-26 ends fiscal 2026");
	fiscal(&cal, day("2026-12-27"), &f);
	ok(f.year == 2027 && f.week == 1, "2026-12-27 (the Sunday nearest 28 "
	    "December) starts fiscal 2027");
	ok(td_calendar_init(&cal, TD_CAL_445, &feb29) == TD_ERR_INVAL,
	    "29 February cannot anchor a year");
}

static void
test_gregorian(void)
{
	struct td_calendar cal;
	struct td_fiscal f;

	td_calendar_init(&cal, TD_CAL_GREGORIAN, NULL);
	fiscal(&cal, day("2026-11-28"), &f);
	ok(f.year == 2026 && f.quarter == 4 && f.period == 11 && f.week == 48,
	    "gregorian: 2026-11-28 is 2026, Q4, month 11, week 48");
	fiscal(&cal, day("2024-12-31"), &f);
	ok(f.year == 2024 && f.week == 53, "gregorian: 31 December of a leap "
	    "year is week 53");
}

int
main(void)
{
	test_nrf();
	test_patterns();
	test_anchor();
	test_gregorian();
	return done_testing();
}
