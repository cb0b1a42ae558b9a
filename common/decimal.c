/* decimal.c - exact decimal numbers; see decimal.h. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "td.h"
#include "decimal.h"

typedef __int128 i128;		/* local shorthand only */
typedef unsigned __int128 u128;

/* 10^0 .. 10^36 */
#define E18	((i128)1000000000000000000LL)
static const i128 pow10_tab[TD_DEC_MAX_DIGITS + 1] = {
	1LL, 10LL, 100LL, 1000LL, 10000LL, 100000LL, 1000000LL, 10000000LL,
	100000000LL, 1000000000LL, 10000000000LL, 100000000000LL,
	1000000000000LL, 10000000000000LL, 100000000000000LL,
	1000000000000000LL, 10000000000000000LL, 100000000000000000LL,
	1000000000000000000LL, E18 * 10LL, E18 * 100LL, E18 * 1000LL,
	E18 * 10000LL, E18 * 100000LL, E18 * 1000000LL, E18 * 10000000LL,
	E18 * 100000000LL, E18 * 1000000000LL, E18 * 10000000000LL,
	E18 * 100000000000LL, E18 * 1000000000000LL, E18 * 10000000000000LL,
	E18 * 100000000000000LL, E18 * 1000000000000000LL,
	E18 * 10000000000000000LL, E18 * 100000000000000000LL,
	E18 * 1000000000000000000LL
};

static i128
pow10_i128(int e)
{
	return pow10_tab[e];
}

#define DEC_LIMIT	(pow10_tab[TD_DEC_MAX_DIGITS])

static int
in_range(i128 v)
{
	return v < DEC_LIMIT && v > -DEC_LIMIT;
}

/* *out = v * 10^e within the bounds, else TD_ERR_RANGE. */
static int
mul_pow10(i128 v, int e, i128 *out)
{
	i128 r;

	if (e < 0 || e > TD_DEC_MAX_DIGITS)
		return TD_ERR_RANGE;
	if (__builtin_mul_overflow(v, pow10_i128(e), &r) || !in_range(r))
		return TD_ERR_RANGE;
	*out = r;
	return 0;
}

static int
valid_scale(int scale)
{
	return scale >= 0 && scale <= TD_DEC_MAX_SCALE;
}

int
td_dec_parse(const char *s, size_t n, unsigned flags, struct td_dec *out)
{
	struct td_dec_fmt f;

	f.sign = flags & TD_DEC_PARENS ? TD_DEC_SIGN_PARENS :
	    TD_DEC_SIGN_LEADING;
	f.group = flags & TD_DEC_THOUSANDS ? ',' : '\0';
	f.point = '.';
	f.implied = 0;
	return td_dec_parse_fmt(s, n, &f, out);
}

/*
 * The bytes of a no-break space at s (n bytes there), in UTF-8: U+00A0,
 * or U+202F (narrow), which French and other exports put between groups
 * of thousands ("1 234,50"); 0 for anything else.
 */
static size_t
nbsp_at(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	if (n >= 2 && u[0] == 0xC2 && u[1] == 0xA0)
		return 2;
	if (n >= 3 && u[0] == 0xE2 && u[1] == 0x80 && u[2] == 0xAF)
		return 3;
	return 0;
}

int
td_dec_parse_fmt(const char *s, size_t n, const struct td_dec_fmt *f,
    struct td_dec *out)
{
	size_t i = 0, end = n, ndig = 0, nsig = 0, grp = 0, scale = 0, k = 1;
	int neg = 0, seen_point = 0, seen_group = 0;
	i128 v = 0;
	char c;

	out->v = 0;
	out->scale = 0;
	if (s == NULL || n == 0 || f->implied < 0 ||
	    f->implied > TD_DEC_MAX_SCALE)
		return TD_ERR_FORMAT;
	if (f->sign == TD_DEC_SIGN_PARENS && s[0] == '(') {
		if (n < 2 || s[n - 1] != ')')
			return TD_ERR_FORMAT;
		neg = 1;
		i = 1;
		end = n - 1;
	} else if (f->sign == TD_DEC_SIGN_TRAILING) {
		if (s[n - 1] == '+' || s[n - 1] == '-') {
			neg = s[n - 1] == '-';
			end = n - 1;
		}
	} else if (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-';
		i = 1;
	}
	for (; i < end; i++) {
		c = s[i];
		if (c >= '0' && c <= '9') {
			ndig++;
			if (seen_point)
				scale++;
			else
				grp++;
			if (nsig > 0 || c != '0')
				nsig++;
			/* keep accumulating only while it can fit */
			if (nsig <= TD_DEC_MAX_DIGITS &&
			    scale <= TD_DEC_MAX_SCALE)
				v = v * 10 + (c - '0');
		} else if (c == f->point && !seen_point && f->implied == 0) {
			if (seen_group && grp != 3)
				return TD_ERR_FORMAT;
			seen_point = 1;
		} else if (f->group != '\0' && !seen_point && (c == f->group ||
		    (f->group == ' ' && (k = nbsp_at(s + i, end - i)) > 0))) {
			/* first group 1-3 digits, later ones exactly 3;
			 * group=" " reads no-break spaces too */
			if (grp == 0 || grp > 3 || (seen_group && grp != 3))
				return TD_ERR_FORMAT;
			seen_group = 1;
			grp = 0;
			if (c != f->group)
				i += k - 1;
		} else
			return TD_ERR_FORMAT;
	}
	/* no digits, or a point with none after it ("5.") */
	if (ndig == 0 || (seen_point && scale == 0))
		return TD_ERR_FORMAT;
	if (seen_group && !seen_point && grp != 3)
		return TD_ERR_FORMAT;
	if (f->implied > 0)	/* the last digits are the fraction */
		scale = (size_t)f->implied;
	if (nsig > TD_DEC_MAX_DIGITS || scale > TD_DEC_MAX_SCALE)
		return TD_ERR_RANGE;
	out->v = neg ? -v : v;
	out->scale = (int)scale;
	return 0;
}

const char *
td_dec_hint(const char *s, size_t n, const struct td_dec_fmt *f, char *buf,
    size_t bufsz)
{
	struct td_dec_fmt g;
	struct td_dec d;
	size_t i, k, ndot = 0, ncomma = 0, nother = 0, ndig = 0, nblank = 0;
	const char *why = NULL;

	if (n == 0)
		return NULL;
	for (i = 0; i < n; i++) {
		if ((k = nbsp_at(s + i, n - i)) > 0) {
			nblank++;
			i += k - 1;
		} else if (s[i] == ' ')
			nblank++;
		else if (s[i] >= '0' && s[i] <= '9')
			ndig++;
		else if (s[i] == '.')
			ndot++;
		else if (s[i] == ',')
			ncomma++;
		else if (strchr("+-() ", s[i]) == NULL)
			nother++;
	}
	/* the first single change of fmt that reads it */
	g = *f;
	g.sign = TD_DEC_SIGN_TRAILING;
	if (f->sign != g.sign && td_dec_parse_fmt(s, n, &g, &d) == 0)
		why = "has a trailing sign: decimal sign=trailing reads it";
	g = *f;
	g.sign = TD_DEC_SIGN_LEADING;
	if (why == NULL && f->sign == TD_DEC_SIGN_TRAILING &&
	    td_dec_parse_fmt(s, n, &g, &d) == 0)
		why = "has a leading sign: decimal without sign= reads it";
	g = *f;
	g.sign = TD_DEC_SIGN_PARENS;
	if (why == NULL && f->sign != g.sign &&
	    td_dec_parse_fmt(s, n, &g, &d) == 0)
		why = "is negative in parentheses: decimal sign=parens reads it";
	g = *f;
	if (why == NULL && f->point == '.' && ncomma == 1 && ndot == 0) {
		g.point = ',';
		g.group = f->group == ',' ? '\0' : f->group;
		if (td_dec_parse_fmt(s, n, &g, &d) == 0)
			why = "has a decimal comma: decimal point=\",\" reads it"
			    " (or group=\",\" if the comma groups thousands)";
	}
	g = *f;
	if (why == NULL && f->group == '\0' && (ncomma > 0 || ndot > 1)) {
		g.group = f->point == '.' ? ',' : '.';
		if (td_dec_parse_fmt(s, n, &g, &d) == 0)
			why = f->point == '.' ?
			    "groups thousands with commas: decimal group=\",\" "
			    "reads it" :
			    "groups thousands with points: decimal group=\".\" "
			    "reads it";
	}
	g = *f;
	if (why == NULL && f->implied > 0 && (ndot > 0 || ncomma > 0))
		why = "has a decimal mark, but implied= says it has none";
	if (why == NULL && nother > 0 && ndig > 0)
		why = "has characters that are not part of a number (a "
		    "currency sign, a letter): regex can cut the number out";
	/* blanks: around the number (trim), or grouping it ("1 234") */
	if (why == NULL && ndig > 0 && nblank > 0) {
		size_t a = 0, b = n;

		while (a < b && s[a] == ' ')
			a++;
		while (b > a && s[b - 1] == ' ')
			b--;
		g = *f;
		g.group = ' ';
		if ((a > 0 || b < n) && td_dec_parse_fmt(s + a, b - a, f,
		    &d) == 0)
			why = "has blanks around it: trim removes them";
		else if (f->group == '\0' && td_dec_parse_fmt(s, n, &g,
		    &d) == 0)
			why = "groups thousands with blanks: decimal group=\" \" "
			    "reads it";
		else
			why = "has blanks, which no option reads inside a number "
			    "(trim removes those around it)";
	}
	if (why == NULL)
		return NULL;
	snprintf(buf, bufsz, "%s", why);
	return buf;
}

int
td_dec_add(struct td_dec *acc, const struct td_dec *x)
{
	i128 a = acc->v, b = x->v, r;
	int scale = acc->scale;

	if (!valid_scale(acc->scale) || !valid_scale(x->scale))
		return TD_ERR_RANGE;
	if (x->scale == acc->scale)
		;			/* the common case: no alignment */
	else if (x->scale > acc->scale) {
		if (mul_pow10(a, x->scale - acc->scale, &a) != 0)
			return TD_ERR_RANGE;
		scale = x->scale;
	} else if (mul_pow10(b, acc->scale - x->scale, &b) != 0)
		return TD_ERR_RANGE;
	if (__builtin_add_overflow(a, b, &r) || !in_range(r))
		return TD_ERR_RANGE;
	acc->v = r;
	acc->scale = scale;
	return 0;
}

int
td_dec_rescale(struct td_dec *d, int scale)
{
	i128 p, v;

	if (!valid_scale(scale) || !valid_scale(d->scale))
		return TD_ERR_RANGE;
	if (scale >= d->scale) {
		if (mul_pow10(d->v, scale - d->scale, &v) != 0)
			return TD_ERR_RANGE;
	} else {
		p = pow10_i128(d->scale - scale);
		if (d->v % p != 0)
			return TD_ERR_RANGE;
		v = d->v / p;
	}
	d->v = v;
	d->scale = scale;
	return 0;
}

int
td_dec_mul(struct td_dec *acc, const struct td_dec *x)
{
	i128 r;
	int scale = acc->scale + x->scale;

	if (!valid_scale(acc->scale) || !valid_scale(x->scale))
		return TD_ERR_RANGE;
	if (__builtin_mul_overflow(acc->v, x->v, &r) || !in_range(r))
		return TD_ERR_RANGE;
	/* more than 18 decimals: drop zeros, or it does not fit */
	while (scale > TD_DEC_MAX_SCALE && r % 10 == 0) {
		r /= 10;
		scale--;
	}
	if (scale > TD_DEC_MAX_SCALE)
		return TD_ERR_RANGE;
	acc->v = r;
	acc->scale = scale;
	return 0;
}

int
td_dec_round(struct td_dec *d, int scale)
{
	i128 p, q, rem;

	if (!valid_scale(scale) || !valid_scale(d->scale))
		return TD_ERR_RANGE;
	if (scale >= d->scale)
		return td_dec_rescale(d, scale);
	p = pow10_i128(d->scale - scale);
	q = d->v / p;
	rem = d->v % p;
	if (rem < 0)
		rem = -rem;
	if (rem * 2 >= p)
		q += d->v < 0 ? -1 : 1;
	d->v = q;
	d->scale = scale;
	return 0;
}

int
td_dec_mul_round(struct td_dec *acc, const struct td_dec *x, int shift,
    int scale)
{
	i128 r, p, q, rem;
	int s;

	if (!valid_scale(acc->scale) || !valid_scale(x->scale) ||
	    !valid_scale(scale) || shift < 0 || shift > 2)
		return TD_ERR_RANGE;
	s = acc->scale + x->scale + shift;
	if (s > TD_DEC_MAX_DIGITS ||
	    __builtin_mul_overflow(acc->v, x->v, &r))
		return TD_ERR_RANGE;
	if (s <= scale) {
		if (mul_pow10(r, scale - s, &q) != 0)
			return TD_ERR_RANGE;
	} else {
		p = pow10_i128(s - scale);
		q = r / p;
		rem = r % p;
		if (rem < 0)
			rem = -rem;
		/* rem < p <= 10^36: twice it still fits */
		if (rem >= p - rem)
			q += r < 0 ? -1 : 1;
		if (!in_range(q))
			return TD_ERR_RANGE;
	}
	acc->v = q;
	acc->scale = scale;
	return 0;
}

void
td_dec_neg(struct td_dec *d)
{
	if (in_range(d->v))
		d->v = -d->v;
}

int
td_dec_sign(const struct td_dec *d)
{
	return d->v < 0 ? -1 : d->v > 0;
}

int
td_dec_cmp(const struct td_dec *a, const struct td_dec *b)
{
	i128 pa, pb, ia, ib, fa, fb;

	if (a->scale == b->scale || !valid_scale(a->scale) ||
	    !valid_scale(b->scale))
		return a->v < b->v ? -1 : a->v > b->v;
	/*
	 * Compare integer parts, then fractions brought to 18 digits; the
	 * values never overflow (|fraction| < 10^18, times <= 10^18).
	 */
	pa = pow10_i128(a->scale);
	pb = pow10_i128(b->scale);
	ia = a->v / pa;
	ib = b->v / pb;
	if (ia != ib)
		return ia < ib ? -1 : 1;
	fa = (a->v % pa) * pow10_i128(TD_DEC_MAX_SCALE - a->scale);
	fb = (b->v % pb) * pow10_i128(TD_DEC_MAX_SCALE - b->scale);
	return fa < fb ? -1 : fa > fb;
}

size_t
td_dec_format(const struct td_dec *d, char *out, size_t outsz)
{
	char tmp[64], *p = tmp + sizeof(tmp);
	u128 mag;
	size_t len, cp;
	int i;

	if (!valid_scale(d->scale)) {
		if (outsz > 0)
			out[0] = '\0';
		return 0;
	}
	/* magnitude without overflowing on the most negative value */
	mag = d->v < 0 ? (u128)0 - (u128)d->v : (u128)d->v;
	for (i = 0; mag != 0 || i <= d->scale; i++) {
		if (i == d->scale && i != 0)
			*--p = '.';
		*--p = (char)('0' + (int)(mag % 10));
		mag /= 10;
	}
	if (d->v < 0)
		*--p = '-';
	len = (size_t)(tmp + sizeof(tmp) - p);
	if (outsz > 0) {
		cp = len < outsz ? len : outsz - 1;
		memcpy(out, p, cp);
		out[cp] = '\0';
	}
	return len;
}
