/* num.c - checked number parsing and fast formatting. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "td.h"
#include "num.h"

static int
isdig(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Digits only, n >= 1. Sets *v (saturated) and *overflow; the value is
 * exact when !*overflow. Returns 0 or TD_ERR_FORMAT.
 */
static int
scan_digits(const char *s, size_t n, uint64_t *v, int *overflow)
{
	uint64_t acc = 0;
	unsigned d;
	size_t i;

	*v = 0;
	*overflow = 0;
	if (s == NULL || n == 0)
		return TD_ERR_FORMAT;
	for (i = 0; i < n; i++) {
		if (!isdig(s[i]))
			return TD_ERR_FORMAT;
		d = (unsigned)(s[i] - '0');
		if (acc > (UINT64_MAX - d) / 10)
			*overflow = 1;
		else
			acc = acc * 10 + d;
	}
	*v = acc;
	return 0;
}

int
td_parse_u64(const char *s, size_t n, uint64_t min, uint64_t max,
    uint64_t *out)
{
	uint64_t v;
	int r, ovf;

	*out = 0;
	if ((r = scan_digits(s, n, &v, &ovf)) != 0)
		return r;
	if (ovf || v < min || v > max)
		return TD_ERR_RANGE;
	*out = v;
	return 0;
}

int
td_parse_i64(const char *s, size_t n, int64_t min, int64_t max,
    int64_t *out)
{
	uint64_t mag;
	int64_t v;
	int neg = 0, r, ovf;

	*out = 0;
	if (s != NULL && n > 0 && s[0] == '-') {
		neg = 1;
		s++;
		n--;
	}
	if ((r = scan_digits(s, n, &mag, &ovf)) != 0)
		return r;
	if (ovf)
		return TD_ERR_RANGE;
	if (neg) {
		if (mag > (uint64_t)INT64_MAX + 1)
			return TD_ERR_RANGE;
		v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
	} else {
		if (mag > (uint64_t)INT64_MAX)
			return TD_ERR_RANGE;
		v = (int64_t)mag;
	}
	if (v < min || v > max)
		return TD_ERR_RANGE;
	*out = v;
	return 0;
}

/*
 * Digits then at most one unit character from `units`; *unit is its
 * index + 1, or 0 when absent. A bad unit is TD_ERR_FORMAT even when the
 * digits overflow.
 */
static int
parse_with_unit(const char *s, const char *units, size_t *unit, uint64_t *v)
{
	const char *u;
	size_t n;

	*v = 0;
	*unit = 0;
	if (s == NULL)
		return TD_ERR_FORMAT;
	n = strlen(s);
	if (n > 1 && !isdig(s[n - 1])) {
		if ((u = strchr(units, s[n - 1])) == NULL)
			return TD_ERR_FORMAT;
		*unit = (size_t)(u - units) + 1;
		n--;
	}
	return td_parse_u64(s, n, 0, UINT64_MAX, v);
}

/* *out = v * mul, or TD_ERR_RANGE */
static int
scale_u64(uint64_t v, uint64_t mul, uint64_t *out)
{
	if (v > UINT64_MAX / mul)
		return TD_ERR_RANGE;
	*out = v * mul;
	return 0;
}

int
td_parse_duration(const char *s, uint64_t *seconds)
{
	static const uint64_t mul[] = { 1, 1, 60, 3600, 86400 };
	uint64_t v;
	size_t unit;
	int r;

	*seconds = 0;
	if ((r = parse_with_unit(s, "smhd", &unit, &v)) != 0)
		return r;
	return scale_u64(v, mul[unit], seconds);
}

int
td_parse_size(const char *s, uint64_t *bytes)
{
	static const unsigned shift[] = { 0, 10, 20, 30, 40, 10, 20, 30, 40 };
	uint64_t v;
	size_t unit;
	int r;

	*bytes = 0;
	if ((r = parse_with_unit(s, "KMGTkmgt", &unit, &v)) != 0)
		return r;
	return scale_u64(v, (uint64_t)1 << shift[unit], bytes);
}

int
td_parse_ratio(const char *s, uint32_t *ppm)
{
	const char *p;
	uint32_t ip = 0, frac = 0;
	int nfrac = 0, extra_nonzero = 0;

	*ppm = 0;
	if (s == NULL || !isdig(*s))
		return TD_ERR_FORMAT;
	for (p = s; isdig(*p); p++) {
		if (ip < 2)	/* saturate: anything >= 2 is out of range */
			ip = ip * 10 + (uint32_t)(*p - '0');
	}
	if (*p == '.') {
		p++;
		if (!isdig(*p))
			return TD_ERR_FORMAT;
		for (; isdig(*p); p++, nfrac++) {
			if (nfrac < 6)
				frac = frac * 10 + (uint32_t)(*p - '0');
			else if (*p != '0')
				extra_nonzero = 1;
		}
	}
	if (*p != '\0' || extra_nonzero)
		return TD_ERR_FORMAT;
	for (; nfrac < 6; nfrac++)
		frac *= 10;
	if (ip > 1 || (ip == 1 && frac != 0))
		return TD_ERR_RANGE;
	*ppm = ip * 1000000 + frac;
	return 0;
}

static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";

size_t
td_format_u64(uint64_t v, char *out)
{
	uint64_t t;
	size_t len = 1;
	char *p;
	unsigned i;

	/* the length first, and the digits written where they go: not in
	 * a scratch buffer copied out (a call, and wide loads of bytes just
	 * stored, twice a record) */
	for (t = v; t >= 10; t /= 10)
		len++;
	p = out + len;
	*p = '\0';
	while (v >= 100) {
		i = (unsigned)(v % 100) * 2;
		v /= 100;
		*--p = digit_pairs[i + 1];
		*--p = digit_pairs[i];
	}
	if (v >= 10) {
		i = (unsigned)v * 2;
		*--p = digit_pairs[i + 1];
		*--p = digit_pairs[i];
	} else
		*--p = (char)('0' + v);
	return len;
}
