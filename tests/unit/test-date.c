/* test-date.c - unit tests for common/date.c */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "td.h"
#include "date.h"
#include "tap.h"

struct day_vec {
	int y, m, d;
	int32_t days;
	int wday;
};

static const struct day_vec day_vecs[] = {
	{ 1970, 1, 1, 0, 4 },
	{ 1969, 12, 31, -1, 3 },
	{ 1900, 1, 1, -25567, 1 },
	{ 1900, 2, 28, -25509, 3 },
	{ 1900, 3, 1, -25508, 4 },	/* 1900 is not a leap year */
	{ 1904, 2, 29, -24048, 1 },
	{ 2000, 2, 29, 11016, 2 },	/* 2000 is */
	{ 2000, 3, 1, 11017, 3 },
	{ 2024, 2, 29, 19782, 4 },
	{ 2038, 1, 19, 24855, 2 },
	{ 2100, 12, 31, 47846, 5 },
	{ 9999, 12, 31, 2932896, 5 },
};

static void
test_days(void)
{
	const struct day_vec *v;
	struct td_date d, e;
	char buf[TD_DATE_STRMAX];
	size_t i;

	for (i = 0; i < TD_NELEM(day_vecs); i++) {
		v = &day_vecs[i];
		d.y = v->y;
		d.m = v->m;
		d.d = v->d;
		td_date_from_days(v->days, &e);
		td_date_format(&d, buf);
		ok(td_date_valid(&d) == 0 && td_date_to_days(&d) == v->days &&
		    e.y == v->y && e.m == v->m && e.d == v->d &&
		    td_date_weekday(&d) == v->wday,
		    "%s = day %d, weekday %d", buf, (int)td_date_to_days(&d),
		    td_date_weekday(&d));
	}
}

static void
test_every_day(void)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	struct td_date d, e;
	char buf[TD_DATE_STRMAX], want[TD_DATE_STRMAX];
	int32_t days, expect = -25567;
	int wday = 1, leap, n, bad = 0, count = 0;

	for (d.y = 1900; d.y <= 2100; d.y++) {
		leap = (d.y % 4 == 0 && d.y % 100 != 0) || d.y % 400 == 0;
		for (d.m = 1; d.m <= 12; d.m++) {
			n = mdays[d.m - 1] + (d.m == 2 && leap);
			for (d.d = 1; d.d <= n; d.d++, expect++, count++) {
				days = td_date_to_days(&d);
				td_date_from_days(days, &e);
				td_date_format(&d, buf);
				snprintf(want, sizeof(want), "%04d-%02d-%02d",
				    d.y, d.m, d.d);
				if (days != expect || e.y != d.y ||
				    e.m != d.m || e.d != d.d ||
				    td_date_valid(&d) != 0 ||
				    td_date_weekday(&d) != wday ||
				    strcmp(buf, want) != 0 ||
				    td_date_parse_iso(buf, 10, &e) != 0 ||
				    e.y != d.y || e.m != d.m || e.d != d.d) {
					if (bad++ < 5)
						diag("mismatch at %s", want);
				}
				wday = (wday + 1) % 7;
			}
			/* the day after the last is invalid */
			e = d;
			e.d = n + 1;
			if (td_date_valid(&e) != TD_ERR_RANGE)
				bad++;
		}
	}
	ok(bad == 0 && count == 73414,
	    "every day 1900-01-01..2100-12-31 round trips (%d days)", count);
}

/*
 * td_date_from_days is the inverse of td_date_to_days "for any days
 * value": at the extremes the date is a real one (month 1..12, a day of
 * that month, leap years counted) and converts back to the same day.
 * (INT32_MIN is -5877641-06-23, INT32_MAX 5881580-07-11.)
 */
static void
test_extreme(int32_t days, const char *name)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	struct td_date d;
	int leap, n;

	td_date_from_days(days, &d);
	leap = (d.y % 4 == 0 && d.y % 100 != 0) || d.y % 400 == 0;
	n = d.m >= 1 && d.m <= 12 ? mdays[d.m - 1] + (d.m == 2 && leap) : 0;
	ok(n > 0 && d.d >= 1 && d.d <= n && td_date_to_days(&d) == days,
	    "%s: %d-%02d-%02d, and back", name, d.y, d.m, d.d);
}

static void
test_valid(void)
{
	struct td_date d;
	char buf[TD_DATE_STRMAX];

	d.y = 2025; d.m = 2; d.d = 29;
	is_int(td_date_valid(&d), TD_ERR_RANGE, "2025-02-29");
	d.y = 1900;
	is_int(td_date_valid(&d), TD_ERR_RANGE, "1900-02-29");
	d.y = 2000;
	is_int(td_date_valid(&d), 0, "2000-02-29");
	d.m = 13; d.d = 1;
	is_int(td_date_valid(&d), TD_ERR_RANGE, "month 13");
	d.m = 0;
	is_int(td_date_valid(&d), TD_ERR_RANGE, "month 0");
	d.m = 1; d.d = 0;
	is_int(td_date_valid(&d), TD_ERR_RANGE, "day 0");
	d.d = 32;
	is_int(td_date_valid(&d), TD_ERR_RANGE, "day 32");
	d.y = 1899; d.d = 31;
	is_int(td_date_valid(&d), TD_ERR_RANGE, "1899");
	d.y = 10000;
	is_int(td_date_valid(&d), TD_ERR_RANGE, "10000");
	is_int(td_date_format(&d, buf), 10, "format invalid returns 10");
	is_str(buf, "0000-00-00", "invalid formats as zeros");
	d.y = -2147483647 - 1; d.m = -5; d.d = 2147483647;
	is_int(td_date_valid(&d), TD_ERR_RANGE, "garbage");
	/* must not trap under UBSan, and stays in range */
	(void)td_date_to_days(&d);
	ok(td_date_weekday(&d) >= 0 && td_date_weekday(&d) <= 6,
	    "the weekday of garbage is still 0..6");
	test_extreme(INT32_MIN, "INT32_MIN");
	test_extreme(INT32_MAX, "INT32_MAX");
}

struct parse_vec {
	const char *s, *fmt;
	int ret;
	const char *want;
};

static const struct parse_vec parse_vecs[] = {
	{ "2024-03-05", "%Y-%m-%d", 0, "2024-03-05" },
	{ "2024-3-5", "%Y-%m-%d", 0, "2024-03-05" },
	{ "20240305", "%Y%m%d", 0, "2024-03-05" },
	{ "03/05/2024", "%m/%d/%Y", 0, "2024-03-05" },
	{ "5.3.24", "%d.%m.%y", 0, "2024-03-05" },
	{ "31.12.68", "%d.%m.%y", 0, "2068-12-31" },
	{ "01.01.69", "%d.%m.%y", 0, "1969-01-01" },
	{ "1.1.00", "%d.%m.%y", 0, "2000-01-01" },
	{ "01.01.99", "%d.%m.%y", 0, "1999-01-01" },
	{ "05-Mar-2024", "%d-%b-%Y", 0, "2024-03-05" },
	{ "05-MAR-2024", "%d-%b-%Y", 0, "2024-03-05" },
	{ "05-march-2024", "%d-%b-%Y", 0, "2024-03-05" },
	{ "September 9, 2024", "%b %d, %Y", 0, "2024-09-09" },
	{ "Sep 9, 2024", "%b %d, %Y", 0, "2024-09-09" },
	{ "May 31 2024", "%b %d %Y", 0, "2024-05-31" },
	{ "jUnE 1 2024", "%b %d %Y", 0, "2024-06-01" },
	{ "Dec2024 25", "%b%Y %d", 0, "2024-12-25" },
	/* beside another directive of digits, a directive's full width */
	{ "2026118", "%Y%m%d", TD_ERR_FORMAT, NULL },
	{ "202618", "%Y%m%d", TD_ERR_FORMAT, NULL },
	{ "1182026", "%m%d%Y", TD_ERR_FORMAT, NULL },
	{ "01182026", "%m%d%Y", 0, "2026-01-18" },
	{ "2026-1-8", "%Y-%m-%d", 0, "2026-01-08" },
	{ "20261-8", "%Y%m-%d", TD_ERR_FORMAT, NULL },
	{ "2026-18", "%Y-%m%d", TD_ERR_FORMAT, NULL },
	{ "2026-0108", "%Y-%m%d", 0, "2026-01-08" },
	{ "202460", "%Y%j", TD_ERR_FORMAT, NULL },
	{ "2024-60", "%Y-%j", 0, "2024-02-29" },
	{ "2024-03-05 930", "%Y-%m-%d %H%M", TD_ERR_FORMAT, NULL },
	{ "2024-03-05 0930", "%Y-%m-%d %H%M", 0, "2024-03-05" },
	{ "2024-03-05 9:30", "%Y-%m-%d %H:%M", 0, "2024-03-05" },
	{ "20240305 8:15:05", "%Y%m%d %T", 0, "2024-03-05" },
	{ "2024030508:15:05", "%Y%m%d%T", 0, "2024-03-05" },
	{ "202403058:15:05", "%Y%m%d%T", TD_ERR_FORMAT, NULL },
	{ "2024-001", "%Y-%j", 0, "2024-01-01" },
	{ "2024060", "%Y%j", 0, "2024-02-29" },
	{ "2023060", "%Y%j", 0, "2023-03-01" },
	{ "2024366", "%Y%j", 0, "2024-12-31" },
	{ "2023365", "%Y%j", 0, "2023-12-31" },
	{ "24/32", "%y/%j", 0, "2024-02-01" },
	{ "2023366", "%Y%j", TD_ERR_RANGE, NULL },
	{ "2024000", "%Y%j", TD_ERR_RANGE, NULL },
	{ "2024367", "%Y%j", TD_ERR_RANGE, NULL },
	{ "100% 2024-01-02", "100%% %Y-%m-%d", 0, "2024-01-02" },
	{ "2025-02-29", "%Y-%m-%d", TD_ERR_RANGE, NULL },
	{ "1900-02-29", "%Y-%m-%d", TD_ERR_RANGE, NULL },
	{ "2000-02-29", "%Y-%m-%d", 0, "2000-02-29" },
	{ "2024-13-01", "%Y-%m-%d", TD_ERR_RANGE, NULL },
	{ "2024-00-01", "%Y-%m-%d", TD_ERR_RANGE, NULL },
	{ "2024-01-00", "%Y-%m-%d", TD_ERR_RANGE, NULL },
	{ "2024-04-31", "%Y-%m-%d", TD_ERR_RANGE, NULL },
	{ "1899-12-31", "%Y-%m-%d", TD_ERR_RANGE, NULL },
	{ "0999-12-31", "%Y-%m-%d", TD_ERR_RANGE, NULL },
	{ "9999-12-31", "%Y-%m-%d", 0, "9999-12-31" },
	{ "1900-01-01", "%Y-%m-%d", 0, "1900-01-01" },
	{ "", "%Y-%m-%d", TD_ERR_FORMAT, NULL },
	{ "2024-03-05 ", "%Y-%m-%d", TD_ERR_FORMAT, NULL },
	{ " 2024-03-05", "%Y-%m-%d", TD_ERR_FORMAT, NULL },
	{ "2024/03/05", "%Y-%m-%d", TD_ERR_FORMAT, NULL },
	{ "24-03-05", "%Y-%m-%d", TD_ERR_FORMAT, NULL },
	{ "02024-03-05", "%Y-%m-%d", TD_ERR_FORMAT, NULL },
	{ "2024-003-05", "%Y-%m-%d", TD_ERR_FORMAT, NULL },
	{ "2024-03-", "%Y-%m-%d", TD_ERR_FORMAT, NULL },
	{ "2024-03", "%Y-%m-%d", TD_ERR_FORMAT, NULL },
	{ "2024-+3-05", "%Y-%m-%d", TD_ERR_FORMAT, NULL },
	{ "2024-03-05", "%Y%m%d", TD_ERR_FORMAT, NULL },
	{ "5.3.2024", "%d.%m.%y", TD_ERR_FORMAT, NULL },
	{ "05-Mrz-2024", "%d-%b-%Y", TD_ERR_FORMAT, NULL },
	{ "05-Ma-2024", "%d-%b-%Y", TD_ERR_FORMAT, NULL },
	{ "05-Marc-2024", "%d-%b-%Y", TD_ERR_FORMAT, NULL },
	{ "100 2024-01-02", "100%% %Y-%m-%d", TD_ERR_FORMAT, NULL },
	/* bad formats */
	{ "2024-03", "%Y-%m", TD_ERR_INVAL, NULL },
	{ "03-05", "%m-%d", TD_ERR_INVAL, NULL },
	{ "2024-03-05", "%Y-%m-%e", TD_ERR_INVAL, NULL },
	{ "2024-03-05", "%Y-%m-%d%", TD_ERR_INVAL, NULL },
	{ "2024-60-05", "%Y-%j-%d", TD_ERR_INVAL, NULL },
	{ "2024-03-05 PM", "%Y-%m-%d %p", TD_ERR_INVAL, NULL },
	{ "2024-03-05 10", "%Y-%m-%d %M", TD_ERR_INVAL, NULL },
	{ "2024-03-05 10", "%Y-%m-%d %I", TD_ERR_INVAL, NULL },
	{ "2024-03-05 10:00", "%Y-%m-%d %H:%M:%H", TD_ERR_INVAL, NULL },
	/* a time in the text is read and checked, the date kept */
	{ "2024-03-05 10:00", "%Y-%m-%d %H:%M", 0, "2024-03-05" },
	{ "2024-03-05 24:00", "%Y-%m-%d %H:%M", TD_ERR_RANGE, NULL },
	{ "2024-03-05 10:60", "%Y-%m-%d %H:%M", TD_ERR_RANGE, NULL },
	{ "2024-03-05 1:5", "%Y-%m-%d %H:%M", TD_ERR_FORMAT, NULL },
	{ "11/19/2026 8:15:05 PM", "%m/%d/%Y %I:%M:%S %p", 0, "2026-11-19" },
	{ "11/19/2026 13:15 PM", "%m/%d/%Y %I:%M %p", TD_ERR_RANGE, NULL },
	{ "2026-11-19T08:15:05", "%Y-%m-%dT%T", 0, "2026-11-19" },
};

static void
test_parse(void)
{
	const struct parse_vec *v;
	struct td_date d;
	char buf[TD_DATE_STRMAX];
	size_t i;
	int r;

	for (i = 0; i < TD_NELEM(parse_vecs); i++) {
		v = &parse_vecs[i];
		d.y = d.m = d.d = 99;
		r = td_date_parse(v->s, strlen(v->s), v->fmt, &d);
		td_date_format(&d, buf);
		if (v->ret == 0)
			ok(r == 0 && strcmp(buf, v->want) == 0,
			    "'%s' as '%s' -> %s", v->s, v->fmt, buf);
		else
			ok(r == v->ret && d.y == 0 && d.m == 0 && d.d == 0,
			    "'%s' as '%s' -> %d", v->s, v->fmt, r);
	}
	is_int(td_date_parse("2024-03-05", 7, "%Y-%m", &d), TD_ERR_INVAL,
	    "n bounds the input (fmt still checked)");
	is_int(td_date_parse("2024-03-05x", 10, "%Y-%m-%d", &d), 0,
	    "n bounds the input");
	is_int(td_date_parse("2024-03-0\0", 10, "%Y-%m-%d", &d), TD_ERR_FORMAT,
	    "embedded NUL");
	is_int(td_date_parse(NULL, 0, "%Y-%m-%d", &d), TD_ERR_FORMAT, "NULL");
}

static void
test_iso(void)
{
	static const char *bad[] = {
		"2024-3-05", "2024-03-5", "24-03-05", "2024/03/05",
		"2024-03-05T", "20240305", "2024-03-0x", "+024-03-05",
		"2024-03- 5", "",
	};
	struct td_date d;
	size_t i;

	is_int(td_date_parse_iso("2024-02-29", 10, &d), 0, "iso leap day");
	ok(d.y == 2024 && d.m == 2 && d.d == 29, "iso fields");
	is_int(td_date_parse_iso("2023-02-29", 10, &d), TD_ERR_RANGE,
	    "iso 2023-02-29");
	ok(d.y == 0 && d.m == 0 && d.d == 0, "zeroed on error");
	is_int(td_date_parse_iso("2023-13-01", 10, &d), TD_ERR_RANGE,
	    "iso month 13");
	is_int(td_date_parse_iso("1899-12-31", 10, &d), TD_ERR_RANGE,
	    "iso 1899");
	for (i = 0; i < TD_NELEM(bad); i++)
		is_int(td_date_parse_iso(bad[i], strlen(bad[i]), &d),
		    TD_ERR_FORMAT, "iso rejects '%s'", bad[i]);
	is_int(td_date_parse_iso("2024-03-05", 9, &d), TD_ERR_FORMAT,
	    "iso short n");
	is_int(td_date_parse_iso(NULL, 10, &d), TD_ERR_FORMAT, "iso NULL");
}

static void
test_rfc3339(void)
{
	static const struct {
		int64_t		 t;
		const char	*want;
	} vec[] = {
		{ 0, "1970-01-01T00:00:00Z" },
		{ -1, "1969-12-31T23:59:59Z" },
		{ 951782400, "2000-02-29T00:00:00Z" },
		{ 951868799, "2000-02-29T23:59:59Z" },
		{ 2147483648LL, "2038-01-19T03:14:08Z" },
		{ 1795906800, "2026-11-28T23:00:00Z" },
		{ -2208988800LL, "1900-01-01T00:00:00Z" },
		{ 253402300799LL, "9999-12-31T23:59:59Z" },
		{ 253402300800LL, "9999-12-31T23:59:59Z" },	/* clamped */
		{ -62167219201LL, "0000-01-01T00:00:00Z" },	/* clamped */
	};
	char buf[TD_RFC3339_MAX], want[32];
	struct tm tm;
	time_t tt;
	int64_t t;
	size_t i, n = 0, same = 0;

	for (i = 0; i < TD_NELEM(vec); i++) {
		memset(buf, 'x', sizeof(buf));
		is_int(td_rfc3339(vec[i].t, buf), 20, "rfc3339 %lld: length",
		    (long long)vec[i].t);
		is_str(buf, vec[i].want, "rfc3339 %lld", (long long)vec[i].t);
	}
	is_int(td_rfc3339_ms(951782400, 7, buf), 24, "with ms: length");
	is_str(buf, "2000-02-29T00:00:00.007Z", "with ms");
	td_rfc3339_ms(-1, 999, buf);
	is_str(buf, "1969-12-31T23:59:59.999Z", "with ms, before 1970");
	td_rfc3339_ms(0, 5000, buf);
	is_str(buf, "1970-01-01T00:00:00.999Z", "ms over 999 is 999");
	/* what log.c and intake.c printed with gmtime_r and strftime */
	for (t = -2208988800LL; t < 4102444800LL; t += 86400 * 7 + 3607) {
		tt = (time_t)t;
		gmtime_r(&tt, &tm);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
		td_rfc3339(t, buf);
		n++;
		same += strcmp(buf, want) == 0;
	}
	is_int(same, n, "rfc3339 as strftime(\"%%Y-%%m-%%dT%%H:%%M:%%SZ\") "
	    "for %zu times 1900-2099", n);
}


/* Date-times: formats, ISO 8601, and the time as sent. */
static void
test_datetime(void)
{
	static const struct {
		const char	*s, *fmt;	/* fmt NULL: ISO 8601 */
		unsigned	 flags;
		int		 ret;
		const char	*date, *time;
	} v[] = {
		{ "2026-11-19T08:15:05", NULL, 0, 0, "2026-11-19", "08:15:05" },
		{ "2026-11-19 08:15:05", NULL, 0, 0, "2026-11-19", "08:15:05" },
		{ "2026-11-19T08:15", NULL, 0, 0, "2026-11-19", "08:15:00" },
		{ "2026-11-19T08:15:05.123456", NULL, 0, 0, "2026-11-19",
		    "08:15:05" },
		{ "2026-11-19T08:15:05,5", NULL, 0, 0, "2026-11-19",
		    "08:15:05" },
		/* the offset is read, never applied: as sent */
		{ "2026-11-19T23:15:05Z", NULL, 0, 0, "2026-11-19", "23:15:05" },
		{ "2026-11-19T23:15:05-05:00", NULL, 0, 0, "2026-11-19",
		    "23:15:05" },
		{ "2026-11-19T00:15:05+0530", NULL, 0, 0, "2026-11-19",
		    "00:15:05" },
		{ "2026-11-19T00:15:05+09", NULL, 0, 0, "2026-11-19",
		    "00:15:05" },
		{ "2026-11-19", NULL, 0, TD_ERR_FORMAT, NULL, NULL },
		{ "2026-11-19T8:15:05", NULL, 0, TD_ERR_FORMAT, NULL, NULL },
		{ "2026-11-19T08:15:05.", NULL, 0, TD_ERR_FORMAT, NULL, NULL },
		{ "2026-11-19T08:15:05+5", NULL, 0, TD_ERR_FORMAT, NULL, NULL },
		{ "2026-11-19T08:15:05+05:", NULL, 0, TD_ERR_FORMAT, NULL,
		    NULL },
		{ "2026-11-19T08:15:05+05:3", NULL, 0, TD_ERR_FORMAT, NULL,
		    NULL },
		{ "2026-11-19T08:15:05+053", NULL, 0, TD_ERR_FORMAT, NULL,
		    NULL },
		{ "2026-11-19T08:15:05 Z", NULL, 0, TD_ERR_FORMAT, NULL, NULL },
		{ "2026-11-19X08:15:05", NULL, 0, TD_ERR_FORMAT, NULL, NULL },
		{ "2026-11-19T24:00:00", NULL, 0, TD_ERR_RANGE, NULL, NULL },
		{ "2026-11-19T08:15:05+24:00", NULL, 0, TD_ERR_RANGE, NULL,
		    NULL },
		{ "2026-02-30T08:15:05", NULL, 0, TD_ERR_RANGE, NULL, NULL },
		/* given formats */
		{ "11/19/2026 8:15 PM", "%m/%d/%Y %I:%M %p", TD_DT_TIME, 0,
		    "2026-11-19", "20:15:00" },
		{ "11/19/2026 12:05 AM", "%m/%d/%Y %I:%M %p", TD_DT_TIME, 0,
		    "2026-11-19", "00:05:00" },
		{ "11/19/2026 12:05 pm", "%m/%d/%Y %I:%M %p", TD_DT_TIME, 0,
		    "2026-11-19", "12:05:00" },
		{ "20261119 081505", "%Y%m%d %H%M%S", TD_DT_TIME, 0,
		    "2026-11-19", "08:15:05" },
		{ "20261119", "%Y%m%d", TD_DT_TIME, TD_ERR_INVAL, NULL, NULL },
		{ "08:15", "%H:%M", TD_DT_TIME_ONLY, 0, NULL, "08:15:00" },
		{ "081505", "%H%M%S", TD_DT_TIME_ONLY, 0, NULL, "08:15:05" },
		{ "2026 08:15", "%Y %H:%M", TD_DT_TIME_ONLY, TD_ERR_INVAL, NULL,
		    NULL },
		{ "8:15:05", "%T", TD_DT_TIME_ONLY, 0, NULL, "08:15:05" },
	};
	struct td_date d;
	struct td_time t;
	char db[TD_DATE_STRMAX], tb[TD_TIME_STRMAX];
	size_t i;
	int r;

	for (i = 0; i < TD_NELEM(v); i++) {
		if (v[i].fmt == NULL)
			r = td_datetime_parse_iso(v[i].s, strlen(v[i].s), &d, &t);
		else
			r = td_datetime_parse(v[i].s, strlen(v[i].s), v[i].fmt,
			    v[i].flags, &d, &t);
		td_date_format(&d, db);
		td_time_format(&t, tb);
		if (v[i].ret != 0)
			ok(r == v[i].ret, "'%s' as %s -> %d", v[i].s,
			    v[i].fmt ? v[i].fmt : "ISO 8601", r);
		else
			ok(r == 0 && strcmp(tb, v[i].time) == 0 &&
			    (v[i].date == NULL || strcmp(db, v[i].date) == 0),
			    "'%s' as %s -> %s %s", v[i].s,
			    v[i].fmt ? v[i].fmt : "ISO 8601", db, tb);
	}
	is_int(td_time_parse_hms("08:15:05", 8, &t), 0, "HH:MM:SS");
	is_int(td_time_parse_hms("8:15:05", 7, &t), TD_ERR_FORMAT,
	    "H:MM:SS is not HH:MM:SS");
	is_int(td_time_parse_hms("24:00:00", 8, &t), TD_ERR_FORMAT, "24:00:00");
	is_int(td_time_parse_hms("08:15", 5, &t), TD_ERR_FORMAT, "HH:MM");
}

int
main(void)
{
	test_days();
	test_every_day();
	test_valid();
	test_parse();
	test_iso();
	test_datetime();
	test_rfc3339();
	return done_testing();
}
