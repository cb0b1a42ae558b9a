/* date.c - calendar dates without locale or time zone; see date.h. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "td.h"
#include "date.h"

#define DATE_YEAR_MIN	1900
#define DATE_YEAR_MAX	9999

static const char *const month_names[12] = {
	"january", "february", "march", "april", "may", "june", "july",
	"august", "september", "october", "november", "december"
};

static int
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
	static const int mdays[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	return m == 2 && is_leap(y) ? 29 : mdays[m - 1];
}

int
td_date_valid(const struct td_date *d)
{
	if (d->y < DATE_YEAR_MIN || d->y > DATE_YEAR_MAX ||
	    d->m < 1 || d->m > 12 ||
	    d->d < 1 || d->d > days_in_month(d->y, d->m))
		return TD_ERR_RANGE;
	return 0;
}

/* Days from civil, after H. Hinnant's public-domain algorithm. */
int32_t
td_date_to_days(const struct td_date *d)
{
	int64_t y = d->y, m = d->m, era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d->d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int32_t)(era * 146097 + doe - 719468);
}

void
td_date_from_days(int32_t days, struct td_date *d)
{
	int64_t z = (int64_t)days + 719468, era, doe, yoe, doy, mp, m;

	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	m = mp < 10 ? mp + 3 : mp - 9;
	d->y = (int)(yoe + era * 400 + (m <= 2));
	d->m = (int)m;
	d->d = (int)(doy - (153 * mp + 2) / 5 + 1);
}

int
td_date_weekday(const struct td_date *d)
{
	int32_t days = td_date_to_days(d);

	return (int)((days % 7 + 7 + 4) % 7);	/* 1970-01-01 was a Thursday */
}

static void
put_digits(char *p, int v, int width)
{
	while (width-- > 0) {
		p[width] = (char)('0' + v % 10);
		v /= 10;
	}
}

size_t
td_date_format(const struct td_date *d, char out[11])
{
	if (td_date_valid(d) != 0) {
		memcpy(out, "0000-00-00", 11);
		return 10;
	}
	put_digits(out, d->y, 4);
	out[4] = '-';
	put_digits(out + 5, d->m, 2);
	out[7] = '-';
	put_digits(out + 8, d->d, 2);
	out[10] = '\0';
	return 10;
}

#define RFC3339_MIN	(-62167219200LL)	/* 0000-01-01T00:00:00Z */
#define RFC3339_MAX	253402300799LL		/* 9999-12-31T23:59:59Z */

/* t as RFC 3339 UTC, with milliseconds when ms >= 0. */
static size_t
rfc3339(int64_t t, int ms, char *out)
{
	struct td_date d;
	int64_t days, secs;

	if (t < RFC3339_MIN)
		t = RFC3339_MIN;
	if (t > RFC3339_MAX)
		t = RFC3339_MAX;
	days = (t >= 0 ? t : t - 86399) / 86400;
	secs = t - days * 86400;
	td_date_from_days((int32_t)days, &d);
	put_digits(out, d.y, 4);
	out[4] = '-';
	put_digits(out + 5, d.m, 2);
	out[7] = '-';
	put_digits(out + 8, d.d, 2);
	out[10] = 'T';
	put_digits(out + 11, (int)(secs / 3600), 2);
	out[13] = ':';
	put_digits(out + 14, (int)(secs / 60 % 60), 2);
	out[16] = ':';
	put_digits(out + 17, (int)(secs % 60), 2);
	if (ms < 0) {
		memcpy(out + 19, "Z", 2);
		return 20;
	}
	out[19] = '.';
	put_digits(out + 20, ms, 3);
	memcpy(out + 23, "Z", 2);
	return 24;
}

size_t
td_rfc3339(int64_t t, char out[TD_RFC3339_MAX])
{
	return rfc3339(t, -1, out);
}

size_t
td_rfc3339_ms(int64_t t, unsigned ms, char out[TD_RFC3339_MAX])
{
	return rfc3339(t, ms > 999 ? 999 : (int)ms, out);
}

/*
 * Check fmt alone: known directives; a date (a year, and either %j or
 * month and day) unless TD_DT_TIME_ONLY, then an hour and no date part;
 * a minute only after an hour, a second only after a minute; %I with %p.
 */
static int
fmt_check(const char *fmt, unsigned flags)
{
	int y = 0, m = 0, d = 0, j = 0, H = 0, I = 0, p = 0, M = 0, S = 0;

	if (fmt == NULL)
		return TD_ERR_INVAL;
	for (; *fmt != '\0'; fmt++) {
		if (*fmt != '%')
			continue;
		switch (*++fmt) {
		case 'Y':
		case 'y':
			y++;
			break;
		case 'm':
		case 'b':
			m++;
			break;
		case 'd':
			d++;
			break;
		case 'j':
			j++;
			break;
		case 'H':
			H++;
			break;
		case 'I':
			I++;
			break;
		case 'p':
			p++;
			break;
		case 'M':
			M++;
			break;
		case 'S':
			S++;
			break;
		case 'T':
			H++;
			M++;
			S++;
			break;
		case '%':
			break;
		default:	/* unknown, or '%' at the end */
			return TD_ERR_INVAL;
		}
	}
	if (y > 1 || m > 1 || d > 1 || j > 1 || H + I > 1 || p > 1 ||
	    M > 1 || S > 1)
		return TD_ERR_INVAL;
	if (flags & TD_DT_TIME_ONLY) {
		if (y || m || d || j || H + I == 0)
			return TD_ERR_INVAL;
	} else if (!y || (j && (m || d)) || (!j && !(m && d)))
		return TD_ERR_INVAL;
	if ((flags & TD_DT_TIME) && H + I == 0)
		return TD_ERR_INVAL;
	if ((M && H + I == 0) || (S && !M) || (I != p))
		return TD_ERR_INVAL;
	return 0;
}

int
td_datetime_fmt_check(const char *fmt, unsigned flags)
{
	return fmt_check(fmt, flags);
}

/* Read min..max digits at s[*i]; greedy. 0 or TD_ERR_FORMAT. */
static int
get_num(const char *s, size_t n, size_t *i, int min, int max, int *v)
{
	int k;

	*v = 0;
	for (k = 0; k < max && *i < n && s[*i] >= '0' && s[*i] <= '9'; k++)
		*v = *v * 10 + (s[(*i)++] - '0');
	return k < min ? TD_ERR_FORMAT : 0;
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Case-insensitive: does s[i..n) start with the len bytes of name? */
static int
match_word(const char *s, size_t n, size_t i, const char *name, size_t len)
{
	size_t k;

	if (n - i < len)
		return 0;
	for (k = 0; k < len; k++)
		if (lower((unsigned char)s[i + k]) != name[k])
			return 0;
	return 1;
}

/* English month name or abbreviation; the longest match wins. */
static int
get_month(const char *s, size_t n, size_t *i, int *m)
{
	size_t len;
	int k;

	*m = 0;
	for (k = 0; k < 12; k++) {
		len = strlen(month_names[k]);
		if (match_word(s, n, *i, month_names[k], len)) {
			*i += len;
			*m = k + 1;
			return 0;
		}
	}
	for (k = 0; k < 12; k++) {
		if (match_word(s, n, *i, month_names[k], 3)) {
			*i += 3;
			*m = k + 1;
			return 0;
		}
	}
	return TD_ERR_FORMAT;
}

/* "AM" or "PM", any case: 0 or 12 in *v. */
static int
get_ampm(const char *s, size_t n, size_t *i, int *v)
{
	if (match_word(s, n, *i, "am", 2))
		*v = 0;
	else if (match_word(s, n, *i, "pm", 2))
		*v = 12;
	else
		return TD_ERR_FORMAT;
	*i += 2;
	return 0;
}

/*
 * 1 when f starts a directive of digits: one beside another (as %m%d in
 * %Y%m%d) has its full width, or "2026118" would be read as 2026-11-08
 * when the sender may have meant 2026-01-18.
 */
static int
digits_at(const char *f)
{
	return f[0] == '%' && f[1] != '\0' && strchr("YymdjHIMST", f[1]) !=
	    NULL;
}

int
td_date_parse(const char *s, size_t n, const char *fmt, struct td_date *out)
{
	struct td_time tm;

	return td_datetime_parse(s, n, fmt, 0, out, &tm);
}

int
td_datetime_parse(const char *s, size_t n, const char *fmt, unsigned flags,
    struct td_date *out, struct td_time *tout)
{
	struct td_date t = { 0, 0, 0 };
	struct td_time tm = { 0, 0, 0 };
	size_t i = 0;
	int r, yday = 0, have_yday = 0, h12 = -1, pm = 0, prev = 0, tight;

	memset(out, 0, sizeof(*out));
	memset(tout, 0, sizeof(*tout));
	if ((r = fmt_check(fmt, flags)) != 0)
		return r;
	if (s == NULL)
		return TD_ERR_FORMAT;
	for (; *fmt != '\0'; fmt++) {
		if (*fmt != '%' || fmt[1] == '%') {
			if (*fmt == '%')
				fmt++;
			if (i >= n || s[i] != *fmt)
				return TD_ERR_FORMAT;
			i++;
			prev = 0;
			continue;
		}
		/* beside another directive of digits: its full width */
		tight = prev || digits_at(fmt + 2);
		prev = digits_at(fmt);
		switch (*++fmt) {
		case 'Y':
			r = get_num(s, n, &i, 4, 4, &t.y);
			break;
		case 'y':
			if ((r = get_num(s, n, &i, 2, 2, &t.y)) == 0)
				t.y += t.y < 69 ? 2000 : 1900;
			break;
		case 'm':
			r = get_num(s, n, &i, tight ? 2 : 1, 2, &t.m);
			break;
		case 'd':
			r = get_num(s, n, &i, tight ? 2 : 1, 2, &t.d);
			break;
		case 'b':
			r = get_month(s, n, &i, &t.m);
			break;
		case 'j':
			r = get_num(s, n, &i, tight ? 3 : 1, 3, &yday);
			have_yday = 1;
			break;
		case 'H':
			r = get_num(s, n, &i, tight ? 2 : 1, 2, &tm.h);
			break;
		case 'I':
			r = get_num(s, n, &i, tight ? 2 : 1, 2, &h12);
			break;
		case 'p':
			r = get_ampm(s, n, &i, &pm);
			break;
		case 'M':
			r = get_num(s, n, &i, 2, 2, &tm.m);
			break;
		case 'S':
			r = get_num(s, n, &i, 2, 2, &tm.s);
			break;
		case 'T':
			if ((r = get_num(s, n, &i, tight ? 2 : 1, 2,
			    &tm.h)) == 0 &&
			    (i >= n || s[i++] != ':' ||
			    (r = get_num(s, n, &i, 2, 2, &tm.m)) != 0 ||
			    i >= n || s[i++] != ':' ||
			    (r = get_num(s, n, &i, 2, 2, &tm.s)) != 0))
				r = TD_ERR_FORMAT;
			break;
		default:
			r = TD_ERR_INVAL;	/* fmt_check() let it through */
			break;
		}
		if (r != 0)
			return r;
	}
	if (i != n)
		return TD_ERR_FORMAT;
	if (h12 >= 0) {
		if (h12 < 1 || h12 > 12)
			return TD_ERR_RANGE;
		tm.h = h12 % 12 + pm;
	}
	if (tm.h > 23 || tm.m > 59 || tm.s > 59)
		return TD_ERR_RANGE;
	if (!(flags & TD_DT_TIME_ONLY)) {
		if (have_yday) {
			if (t.y < DATE_YEAR_MIN || t.y > DATE_YEAR_MAX ||
			    yday < 1 || yday > (is_leap(t.y) ? 366 : 365))
				return TD_ERR_RANGE;
			t.m = 1;
			t.d = 1;
			td_date_from_days(td_date_to_days(&t) + yday - 1, &t);
		}
		if ((r = td_date_valid(&t)) != 0)
			return r;
	}
	*out = t;
	*tout = tm;
	return 0;
}

/* n digits at s[*i] exactly. */
static int
get_fixed(const char *s, size_t n, size_t *i, int width, int *v)
{
	size_t start = *i;

	if (get_num(s, n, i, width, width, v) != 0 ||
	    *i - start != (size_t)width)
		return TD_ERR_FORMAT;
	return 0;
}

int
td_datetime_parse_iso(const char *s, size_t n, struct td_date *out,
    struct td_time *tout)
{
	struct td_time tm = { 0, 0, 0 };
	size_t i = 11;
	int r, zh, zm;

	memset(out, 0, sizeof(*out));
	memset(tout, 0, sizeof(*tout));
	if (s == NULL || n < 16 || (s[10] != 'T' && s[10] != 't' &&
	    s[10] != ' '))
		return TD_ERR_FORMAT;
	if ((r = td_date_parse_iso(s, 10, out)) != 0)
		return r;
	if (get_fixed(s, n, &i, 2, &tm.h) != 0 || i >= n || s[i++] != ':' ||
	    get_fixed(s, n, &i, 2, &tm.m) != 0)
		goto bad;
	if (i < n && s[i] == ':') {
		i++;
		if (get_fixed(s, n, &i, 2, &tm.s) != 0)
			goto bad;
		/* a fraction of a second: read, not kept */
		if (i < n && (s[i] == '.' || s[i] == ',')) {
			size_t f = ++i;

			while (i < n && s[i] >= '0' && s[i] <= '9' && i - f < 9)
				i++;
			if (i == f)
				goto bad;
		}
	}
	/* the offset: read and checked, never applied (as sent) */
	if (i < n && (s[i] == 'Z' || s[i] == 'z'))
		i++;
	else if (i < n && (s[i] == '+' || s[i] == '-')) {
		i++;
		if (get_fixed(s, n, &i, 2, &zh) != 0)
			goto bad;
		zm = 0;
		/* +HH, +HHMM or +HH:MM; "+05:" is cut off, not +05:00 */
		if (i < n && s[i] == ':') {
			i++;
			if (get_fixed(s, n, &i, 2, &zm) != 0)
				goto bad;
		} else if (i < n && get_fixed(s, n, &i, 2, &zm) != 0)
			goto bad;
		if (zh > 23 || zm > 59) {
			memset(out, 0, sizeof(*out));
			return TD_ERR_RANGE;
		}
	}
	if (i != n)
		goto bad;
	if (tm.h > 23 || tm.m > 59 || tm.s > 59) {
		memset(out, 0, sizeof(*out));
		return TD_ERR_RANGE;
	}
	*tout = tm;
	return 0;
 bad:
	memset(out, 0, sizeof(*out));
	return TD_ERR_FORMAT;
}

size_t
td_time_format(const struct td_time *t, char out[TD_TIME_STRMAX])
{
	put_digits(out, t->h, 2);
	out[2] = ':';
	put_digits(out + 3, t->m, 2);
	out[5] = ':';
	put_digits(out + 6, t->s, 2);
	out[8] = '\0';
	return 8;
}

int
td_time_parse_hms(const char *s, size_t n, struct td_time *out)
{
	struct td_date d;

	return td_datetime_parse(s, n, "%H:%M:%S", TD_DT_TIME_ONLY, &d, out) ||
	    n != 8 ? TD_ERR_FORMAT : 0;
}

int
td_date_parse_iso(const char *s, size_t n, struct td_date *out)
{
	struct td_date t;
	size_t i;
	int r;

	memset(out, 0, sizeof(*out));
	if (s == NULL || n != 10 || s[4] != '-' || s[7] != '-')
		return TD_ERR_FORMAT;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return TD_ERR_FORMAT;
	t.y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
	    (s[3] - '0');
	t.m = (s[5] - '0') * 10 + (s[6] - '0');
	t.d = (s[8] - '0') * 10 + (s[9] - '0');
	if ((r = td_date_valid(&t)) != 0)
		return r;
	*out = t;
	return 0;
}
