/* test-decimal.c - unit tests for common/decimal.c */
#include "config.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "td.h"
#include "decimal.h"
#include "tap.h"

#define T	TD_DEC_THOUSANDS
#define P	TD_DEC_PARENS

struct parse_vec {
	const char *s;
	unsigned flags;
	int ret;
	const char *fmt;	/* td_dec_format() of the result */
	int scale;
};

static const struct parse_vec parse_vecs[] = {
	{ "0", 0, 0, "0", 0 },
	{ "12.50", 0, 0, "12.50", 2 },
	{ "-12.50", 0, 0, "-12.50", 2 },
	{ "+3", 0, 0, "3", 0 },
	{ "-2", 0, 0, "-2", 0 },
	{ "007.10", 0, 0, "7.10", 2 },
	{ "-0.00", 0, 0, "0.00", 2 },
	{ "-0", 0, 0, "0", 0 },
	{ "+0.0", 0, 0, "0.0", 1 },
	{ ".5", 0, 0, "0.5", 1 },
	{ "-.5", 0, 0, "-0.5", 1 },
	{ "5.", 0, TD_ERR_FORMAT, "0", 0 },	/* a point, then nothing */
	{ "-5.", 0, TD_ERR_FORMAT, "0", 0 },
	{ "0.000000000000000001", 0, 0, "0.000000000000000001", 18 },
	{ "0.0000000000000000001", 0, TD_ERR_RANGE, "0", 0 },
	{ "1.0000000000000000000", 0, TD_ERR_RANGE, "0", 0 },
	{ "999999999999999999999999999999999999", 0, 0,
	    "999999999999999999999999999999999999", 0 },
	{ "-999999999999999999.999999999999999999", 0, 0,
	    "-999999999999999999.999999999999999999", 18 },
	{ "1000000000000000000000000000000000000", 0, TD_ERR_RANGE, "0", 0 },
	{ "000000000000000000000000000000000000000000001", 0, 0, "1", 0 },
	{ "0.000000000000000000", 0, 0, "0.000000000000000000", 18 },
	{ "99999999999999999999999999999999999999999", 0, TD_ERR_RANGE,
	    "0", 0 },
	{ "", 0, TD_ERR_FORMAT, "0", 0 },
	{ "-", 0, TD_ERR_FORMAT, "0", 0 },
	{ "+", 0, TD_ERR_FORMAT, "0", 0 },
	{ ".", 0, TD_ERR_FORMAT, "0", 0 },
	{ "-.", 0, TD_ERR_FORMAT, "0", 0 },
	{ "1e5", 0, TD_ERR_FORMAT, "0", 0 },
	{ "1E5", 0, TD_ERR_FORMAT, "0", 0 },
	{ " 1", 0, TD_ERR_FORMAT, "0", 0 },
	{ "1 ", 0, TD_ERR_FORMAT, "0", 0 },
	{ "- 1", 0, TD_ERR_FORMAT, "0", 0 },
	{ "$5", 0, TD_ERR_FORMAT, "0", 0 },
	{ "5$", 0, TD_ERR_FORMAT, "0", 0 },
	{ "--1", 0, TD_ERR_FORMAT, "0", 0 },
	{ "+-1", 0, TD_ERR_FORMAT, "0", 0 },
	{ "1-", 0, TD_ERR_FORMAT, "0", 0 },
	{ "1..2", 0, TD_ERR_FORMAT, "0", 0 },
	{ "1.2.3", 0, TD_ERR_FORMAT, "0", 0 },
	{ "0x10", 0, TD_ERR_FORMAT, "0", 0 },
	{ "NaN", 0, TD_ERR_FORMAT, "0", 0 },
	{ "inf", 0, TD_ERR_FORMAT, "0", 0 },
	{ "1,5", 0, TD_ERR_FORMAT, "0", 0 },
	{ "1,234", 0, TD_ERR_FORMAT, "0", 0 },
	{ "(5.00)", 0, TD_ERR_FORMAT, "0", 0 },
	/* junk wins over range */
	{ "99999999999999999999999999999999999999999x", 0, TD_ERR_FORMAT,
	    "0", 0 },
	/* TD_DEC_THOUSANDS */
	{ "1,234,567.50", T, 0, "1234567.50", 2 },
	{ "-1,234", T, 0, "-1234", 0 },
	{ "1234", T, 0, "1234", 0 },
	{ "999,999", T, 0, "999999", 0 },
	{ "12,345.", T, TD_ERR_FORMAT, "0", 0 },
	{ "0.123", T, 0, "0.123", 3 },
	{ "1,234.567,8", T, TD_ERR_FORMAT, "0", 0 },
	{ "1234,567", T, TD_ERR_FORMAT, "0", 0 },
	{ "1,23", T, TD_ERR_FORMAT, "0", 0 },
	{ "1,2345", T, TD_ERR_FORMAT, "0", 0 },
	{ "1,23.5", T, TD_ERR_FORMAT, "0", 0 },
	{ ",123", T, TD_ERR_FORMAT, "0", 0 },
	{ "1,,234", T, TD_ERR_FORMAT, "0", 0 },
	{ "1,234,", T, TD_ERR_FORMAT, "0", 0 },
	{ "1,.5", T, TD_ERR_FORMAT, "0", 0 },
	{ ",", T, TD_ERR_FORMAT, "0", 0 },
	{ "-,123", T, TD_ERR_FORMAT, "0", 0 },
	/* TD_DEC_PARENS */
	{ "(5.00)", P, 0, "-5.00", 2 },
	{ "(0.00)", P, 0, "0.00", 2 },
	{ "(.5)", P, 0, "-0.5", 1 },
	{ "(5.)", P, TD_ERR_FORMAT, "0", 0 },
	{ "-5.00", P, 0, "-5.00", 2 },
	{ "(1,234.50)", P | T, 0, "-1234.50", 2 },
	{ "(1,234.50)", P, TD_ERR_FORMAT, "0", 0 },
	{ "(-5)", P, TD_ERR_FORMAT, "0", 0 },
	{ "(+5)", P, TD_ERR_FORMAT, "0", 0 },
	{ "-(5)", P, TD_ERR_FORMAT, "0", 0 },
	{ "()", P, TD_ERR_FORMAT, "0", 0 },
	{ "(", P, TD_ERR_FORMAT, "0", 0 },
	{ ")", P, TD_ERR_FORMAT, "0", 0 },
	{ "(5", P, TD_ERR_FORMAT, "0", 0 },
	{ "5)", P, TD_ERR_FORMAT, "0", 0 },
	{ "((5))", P, TD_ERR_FORMAT, "0", 0 },
	{ "( 5)", P, TD_ERR_FORMAT, "0", 0 },
};

static void
test_parse(void)
{
	const struct parse_vec *v;
	struct td_dec d;
	char buf[TD_DEC_STRMAX];
	size_t i, len;
	int r;

	for (i = 0; i < TD_NELEM(parse_vecs); i++) {
		v = &parse_vecs[i];
		d.v = 77;
		d.scale = 7;
		r = td_dec_parse(v->s, strlen(v->s), v->flags, &d);
		len = td_dec_format(&d, buf, sizeof(buf));
		ok(r == v->ret && strcmp(buf, v->fmt) == 0 &&
		    d.scale == v->scale && len == strlen(v->fmt),
		    "parse '%s' flags %u -> %d '%s' scale %d", v->s, v->flags,
		    r, buf, d.scale);
	}
	/* n bounds the input */
	is_int(td_dec_parse("12.345", 4, 0, &d), 0, "n limits the input");
	td_dec_format(&d, buf, sizeof(buf));
	is_str(buf, "12.3", "prefix parsed");
	is_int(td_dec_parse("1\0" "2", 3, 0, &d), TD_ERR_FORMAT,
	    "embedded NUL");
	is_int(td_dec_parse(NULL, 0, 0, &d), TD_ERR_FORMAT, "NULL");
}

static void
test_format(void)
{
	struct td_dec d;
	char buf[TD_DEC_STRMAX], small[5];
	size_t len;

	d.v = 0;
	d.scale = 0;
	len = td_dec_format(&d, buf, sizeof(buf));
	ok(len == 1 && strcmp(buf, "0") == 0, "zero");
	d.v = -5;
	d.scale = 3;
	td_dec_format(&d, buf, sizeof(buf));
	is_str(buf, "-0.005", "small negative");
	d.v = 123456;
	d.scale = 2;
	len = td_dec_format(&d, small, sizeof(small));
	ok(len == 7 && strcmp(small, "1234") == 0,
	    "truncates like snprintf, returns full length");
	len = td_dec_format(&d, small, 0);
	is_int(len, 7, "outsz 0 writes nothing");
	/* the extremes of __int128 do not overflow the formatter */
	d.v = -((((__int128)1 << 126) - 1) + ((__int128)1 << 126)) - 1;
	d.scale = 18;
	len = td_dec_format(&d, buf, sizeof(buf));
	is_str(buf, "-170141183460469231731.687303715884105728", "INT128_MIN");
	ok(len < TD_DEC_STRMAX, "fits in TD_DEC_STRMAX");
	d.scale = 19;
	len = td_dec_format(&d, buf, sizeof(buf));
	ok(len == 0 && buf[0] == '\0', "bad scale formats as empty");
	d.scale = -1;
	len = td_dec_format(&d, buf, sizeof(buf));
	ok(len == 0 && buf[0] == '\0', "negative scale formats as empty");
}

static struct td_dec
D(const char *s)
{
	struct td_dec d;

	if (td_dec_parse(s, strlen(s), 0, &d) != 0)
		printf("# bad test literal %s\n", s);
	return d;
}

static const char *
F(const struct td_dec *d)
{
	static char buf[4][TD_DEC_STRMAX];
	static int k;

	k = (k + 1) % 4;
	td_dec_format(d, buf[k], sizeof(buf[k]));
	return buf[k];
}

struct add_vec {
	const char *a, *b;
	int ret;
	const char *sum;
};

static const struct add_vec add_vecs[] = {
	{ "1", "2", 0, "3" },
	{ "1.5", "2.25", 0, "3.75" },
	{ "1.50", "2", 0, "3.50" },
	{ "2", "1.500", 0, "3.500" },
	{ "0.1", "0.2", 0, "0.3" },
	{ "-5.00", "5", 0, "0.00" },
	{ "-0.001", "0", 0, "-0.001" },
	{ "10.00", "-12.50", 0, "-2.50" },
	{ "999999999999999999999999999999999998", "1", 0,
	    "999999999999999999999999999999999999" },
	{ "999999999999999999999999999999999999", "1", TD_ERR_RANGE,
	    "999999999999999999999999999999999999" },
	{ "-999999999999999999999999999999999999", "-1", TD_ERR_RANGE,
	    "-999999999999999999999999999999999999" },
	{ "-999999999999999999999999999999999999", "1", 0,
	    "-999999999999999999999999999999999998" },
	/* alignment overflows: 10^18 at scale 18 needs 37 digits */
	{ "1000000000000000000", "0.000000000000000001", TD_ERR_RANGE,
	    "1000000000000000000" },
	{ "0.000000000000000001", "1000000000000000000", TD_ERR_RANGE,
	    "0.000000000000000001" },
	{ "999999999999999999", "0.000000000000000001", 0,
	    "999999999999999999.000000000000000001" },
	{ "99999999999999999999999999999999999", "0.1", 0,
	    "99999999999999999999999999999999999.1" },
	{ "999999999999999999999999999999999999", "0.1", TD_ERR_RANGE,
	    "999999999999999999999999999999999999" },
	{ "9999999999999999999999999999999999.9", "0.1", 0,
	    "10000000000000000000000000000000000.0" },
};

static void
test_add(void)
{
	const struct add_vec *v;
	struct td_dec a, b;
	size_t i;
	int r;

	for (i = 0; i < TD_NELEM(add_vecs); i++) {
		v = &add_vecs[i];
		a = D(v->a);
		b = D(v->b);
		r = td_dec_add(&a, &b);
		ok(r == v->ret && strcmp(F(&a), v->sum) == 0,
		    "%s + %s -> %d %s", v->a, v->b, r, F(&a));
	}
}

/* xorshift64 */
static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void
test_sums(void)
{
	static const char *third[3] = { "0.1", "0.10", "0.100" };
	struct td_dec acc, x;
	char txt[64];
	__int128 ref = 0;
	uint64_t pow10[19];
	size_t i, bad = 0;
	int n, sc, r;
	int64_t m;

	/* 0.1 a million times in three spellings: exactly 100000.000 */
	acc = D("0");
	for (i = 0; i < 1000000; i++) {
		x = D(third[i % 3]);
		if (td_dec_add(&acc, &x) != 0)
			bad++;
	}
	ok(bad == 0 && strcmp(F(&acc), "100000.000") == 0,
	    "a million 0.1s = %s", F(&acc));

	/* cents 0.01 .. 100000.00 sum to n(n+1)/200 */
	acc = D("0.00");
	for (i = 1; i <= 10000000; i++) {
		x.v = (__int128)i;
		x.scale = 2;
		if (td_dec_add(&acc, &x) != 0)
			bad++;
	}
	ok(bad == 0 && strcmp(F(&acc), "500000050000.00") == 0,
	    "sum of 0.01..100000.00 = %s", F(&acc));

	/*
	 * Random values with random scales, spelled as text, against an
	 * independent accumulator at scale 18 (|m| < 2^40, so no overflow).
	 */
	pow10[0] = 1;
	for (i = 1; i < 19; i++)
		pow10[i] = pow10[i - 1] * 10;
	acc = D("0");
	for (i = 0; i < 200000; i++) {
		m = (int64_t)(rnd() >> 24) - ((int64_t)1 << 39);
		sc = (int)(rnd() % 19);
		/* text: sign, integer part, '.', sc digits */
		n = snprintf(txt, sizeof(txt), "%s%" PRIu64 ".%0*" PRIu64,
		    m < 0 ? "-" : "",
		    (uint64_t)(m < 0 ? -m : m) / pow10[sc], sc,
		    (uint64_t)(m < 0 ? -m : m) % pow10[sc]);
		if (sc == 0)
			n -= 2;	/* "123.0" -> "123" ("123." is bad_decimal) */
		if ((r = td_dec_parse(txt, (size_t)n, 0, &x)) != 0 ||
		    x.scale != sc || x.v != m) {
			if (bad++ == 0)
				diag("parse '%.*s' -> %d", n, txt, r);
			continue;
		}
		if (td_dec_add(&acc, &x) != 0)
			bad++;
		ref += (__int128)m * (__int128)pow10[18 - sc];
	}
	x.v = ref;
	x.scale = 18;
	ok(bad == 0 && td_dec_rescale(&acc, 18) == 0 &&
	    td_dec_cmp(&acc, &x) == 0 && strcmp(F(&acc), F(&x)) == 0,
	    "200000 mixed-scale random values: %s", F(&x));
}

static void
test_rescale(void)
{
	struct td_dec d;

	d = D("12.5");
	is_int(td_dec_rescale(&d, 3), 0, "raise scale");
	is_str(F(&d), "12.500", "12.500");
	is_int(td_dec_rescale(&d, 1), 0, "lower over zeros");
	is_str(F(&d), "12.5", "back to 12.5");
	is_int(td_dec_rescale(&d, 0), TD_ERR_RANGE, "never rounds");
	is_str(F(&d), "12.5", "unchanged after failure");
	d = D("-7.000");
	is_int(td_dec_rescale(&d, 0), 0, "negative lowered");
	is_str(F(&d), "-7", "-7");
	is_int(td_dec_rescale(&d, 19), TD_ERR_RANGE, "scale 19");
	is_int(td_dec_rescale(&d, -1), TD_ERR_RANGE, "scale -1");
	is_str(F(&d), "-7", "unchanged");
	d = D("1000000000000000000");
	is_int(td_dec_rescale(&d, 18), TD_ERR_RANGE, "37 digits");
	is_str(F(&d), "1000000000000000000", "unchanged");
	d = D("999999999999999999");
	is_int(td_dec_rescale(&d, 18), 0, "36 digits");
	is_str(F(&d), "999999999999999999.000000000000000000", "36 digits");
	d = D("0");
	is_int(td_dec_rescale(&d, 18), 0, "zero");
	is_str(F(&d), "0.000000000000000000", "zero at 18");
}

struct cmp_vec {
	const char *a, *b;
	int want;
};

static const struct cmp_vec cmp_vecs[] = {
	{ "1", "1.0", 0 },
	{ "1.5", "1.50", 0 },
	{ "-0", "0.000", 0 },
	{ "1.01", "1.1", -1 },
	{ "1.1", "1.01", 1 },
	{ "-1.1", "-1.01", -1 },
	{ "-0.5", "0.5", -1 },
	{ "0.5", "-0.5", 1 },
	{ "-0.5", "-0.50000", 0 },
	{ "2", "1.999999999999999999", 1 },
	{ "-2", "-1.999999999999999999", -1 },
	{ "999999999999999999999999999999999999",
	    "999999999999999999.999999999999999999", 1 },
	{ "-999999999999999999999999999999999999",
	    "-999999999999999999.999999999999999999", -1 },
	{ "0.000000000000000001", "0", 1 },
	{ "-0.000000000000000001", "0", -1 },
	{ "10", "9.99", 1 },
};

static void
test_cmp(void)
{
	const struct cmp_vec *v;
	struct td_dec a, b;
	size_t i;

	for (i = 0; i < TD_NELEM(cmp_vecs); i++) {
		v = &cmp_vecs[i];
		a = D(v->a);
		b = D(v->b);
		is_int(td_dec_cmp(&a, &b), v->want, "cmp(%s, %s)", v->a, v->b);
		is_int(td_dec_cmp(&b, &a), -v->want, "cmp(%s, %s)", v->b, v->a);
	}
	a = D("-3.2");
	is_int(td_dec_sign(&a), -1, "sign -");
	a = D("-0.00");
	is_int(td_dec_sign(&a), 0, "sign -0.00");
	a = D("0.01");
	is_int(td_dec_sign(&a), 1, "sign +");
	td_dec_neg(&a);
	is_str(F(&a), "-0.01", "neg");
	td_dec_neg(&a);
	is_str(F(&a), "0.01", "neg twice");
}

static void
test_roundtrip(void)
{
	struct td_dec d, e;
	char buf[TD_DEC_STRMAX];
	size_t i, len, bad = 0, k;
	int nd;

	for (i = 0; i < 100000; i++) {
		/* up to 36 random digits, random scale, random sign */
		nd = 1 + (int)(rnd() % TD_DEC_MAX_DIGITS);
		d.v = 0;
		for (k = 0; k < (size_t)nd; k++)
			d.v = d.v * 10 + (int)(rnd() % 10);
		if (rnd() & 1)
			d.v = -d.v;
		d.scale = (int)(rnd() % (TD_DEC_MAX_SCALE + 1));
		len = td_dec_format(&d, buf, sizeof(buf));
		if (len != strlen(buf) ||
		    td_dec_parse(buf, len, 0, &e) != 0 ||
		    e.v != d.v || e.scale != d.scale) {
			if (bad++ == 0)
				diag("round trip failed for %s", buf);
		}
	}
	is_int(bad, 0, "100000 random values format and parse back");
}


/* Numbers as retailers write them: td_dec_parse_fmt(). */
struct fmt_vec {
	const char	*s;
	int		 sign;
	char		 group, point;
	int		 implied;
	int		 ret;
	const char	*fmt;
};

#define LEAD	TD_DEC_SIGN_LEADING
#define TRAIL	TD_DEC_SIGN_TRAILING
#define PAREN	TD_DEC_SIGN_PARENS
static const struct fmt_vec fmt_vecs[] = {
	/* trailing sign, the AS/400 habit */
	{ "12-", TRAIL, 0, '.', 0, 0, "-12" },
	{ "7.50-", TRAIL, 0, '.', 0, 0, "-7.50" },
	{ "7.50+", TRAIL, 0, '.', 0, 0, "7.50" },
	{ "7.50", TRAIL, 0, '.', 0, 0, "7.50" },
	{ "0-", TRAIL, 0, '.', 0, 0, "0" },
	{ "-12", TRAIL, 0, '.', 0, TD_ERR_FORMAT, "0" },
	{ "12--", TRAIL, 0, '.', 0, TD_ERR_FORMAT, "0" },
	{ "-", TRAIL, 0, '.', 0, TD_ERR_FORMAT, "0" },
	{ "12 -", TRAIL, 0, '.', 0, TD_ERR_FORMAT, "0" },
	{ "12-", LEAD, 0, '.', 0, TD_ERR_FORMAT, "0" },
	{ "1,234.50-", TRAIL, ',', '.', 0, 0, "-1234.50" },
	/* parentheses */
	{ "(7.50)", PAREN, 0, '.', 0, 0, "-7.50" },
	{ "-7.50", PAREN, 0, '.', 0, 0, "-7.50" },
	{ "(7.50)", LEAD, 0, '.', 0, TD_ERR_FORMAT, "0" },
	/* leading plus */
	{ "+3", LEAD, 0, '.', 0, 0, "3" },
	/* thousands, both conventions */
	{ "1,234.50", LEAD, ',', '.', 0, 0, "1234.50" },
	{ "1.234,50", LEAD, '.', ',', 0, 0, "1234.50" },
	{ "-1.234.567,5", LEAD, '.', ',', 0, 0, "-1234567.5" },
	{ "1 234,50", LEAD, ' ', ',', 0, 0, "1234.50" },
	{ "1234,50", LEAD, 0, ',', 0, 0, "1234.50" },
	{ "1.234,50", LEAD, ',', '.', 0, TD_ERR_FORMAT, "0" },
	{ "1,234.50", LEAD, '.', ',', 0, TD_ERR_FORMAT, "0" },
	{ "12,34.50", LEAD, ',', '.', 0, TD_ERR_FORMAT, "0" },
	{ "1.23,4", LEAD, '.', ',', 0, TD_ERR_FORMAT, "0" },
	{ "1234.50", LEAD, 0, ',', 0, TD_ERR_FORMAT, "0" },
	/* group=" ": no-break spaces too (U+00A0, U+202F), in UTF-8 */
	{ "1\xc2\xa0" "234,50", LEAD, ' ', ',', 0, 0, "1234.50" },
	{ "-1\xe2\x80\xaf" "234\xe2\x80\xaf" "567", LEAD, ' ', '.', 0, 0,
	    "-1234567" },
	{ "12 345\xc2\xa0" "678,9", LEAD, ' ', ',', 0, 0, "12345678.9" },
	{ "1\xc2\xa0" "234", LEAD, ',', '.', 0, TD_ERR_FORMAT, "0" },
	{ "1\xc2\xa0" "234", LEAD, 0, '.', 0, TD_ERR_FORMAT, "0" },
	{ "1\xc2\xa0" "23", LEAD, ' ', '.', 0, TD_ERR_FORMAT, "0" },
	{ "1\xc2\xa0", LEAD, ' ', '.', 0, TD_ERR_FORMAT, "0" },
	{ "1\xc2" "234", LEAD, ' ', '.', 0, TD_ERR_FORMAT, "0" },
	{ "1\xe2\x80" "234", LEAD, ' ', '.', 0, TD_ERR_FORMAT, "0" },
	{ "1\xe2\x80\x89" "234", LEAD, ' ', '.', 0, TD_ERR_FORMAT, "0" },
	{ "1,234\xc2\xa0" "567", LEAD, ' ', '.', 0, TD_ERR_FORMAT, "0" },
	/* implied decimals and cents */
	{ "1250", LEAD, 0, '.', 2, 0, "12.50" },
	{ "-1250", LEAD, 0, '.', 2, 0, "-12.50" },
	{ "5", LEAD, 0, '.', 2, 0, "0.05" },
	{ "0005", LEAD, 0, '.', 2, 0, "0.05" },
	{ "0", LEAD, 0, '.', 2, 0, "0.00" },
	{ "1250-", TRAIL, 0, '.', 2, 0, "-12.50" },
	{ "1,250", LEAD, ',', '.', 3, 0, "1.250" },
	{ "12.50", LEAD, 0, '.', 2, TD_ERR_FORMAT, "0" },
	{ "1250", LEAD, 0, '.', 18, 0, "0.000000000000001250" },
};

static void
test_parse_fmt(void)
{
	const struct fmt_vec *v;
	struct td_dec_fmt f;
	struct td_dec d;
	char buf[TD_DEC_STRMAX];
	size_t i;
	int r;

	for (i = 0; i < TD_NELEM(fmt_vecs); i++) {
		v = &fmt_vecs[i];
		f.sign = v->sign;
		f.group = v->group;
		f.point = v->point;
		f.implied = v->implied;
		r = td_dec_parse_fmt(v->s, strlen(v->s), &f, &d);
		td_dec_format(&d, buf, sizeof(buf));
		ok(r == v->ret && strcmp(buf, v->fmt) == 0, "parse_fmt '%s' "
		    "sign %d group '%c' point '%c' implied %d -> %d '%s'",
		    v->s, v->sign, v->group ? v->group : '0', v->point,
		    v->implied, r, buf);
	}
}

/* What a refused number gets told: the option that reads it. */
static void
test_hint(void)
{
	static const struct {
		const char	*s;
		const char	*has;	/* NULL: no hint */
	} h[] = {
		{ "12-", "sign=trailing" },
		{ "7.50-", "sign=trailing" },
		{ "(7.50)", "sign=parens" },
		{ "7,50", "point=\",\"" },
		{ "1,234.50", "group=\",\"" },
		{ "1,234,567", "group=\",\"" },
		{ "$12.50", "regex" },
		{ "12 50", "blanks" },
		/* blanks inside a number are not trim's: "1 234" was told
		 * \"trim removes those around it\", which reads nothing */
		{ " 12.50 ", "trim" },
		{ "1 234 567", "group=\" \"" },
		{ "1\xc2\xa0" "234\xe2\x80\xaf" "567", "group=\" \"" },
		{ "abc", NULL },
		{ "", NULL },
	};
	struct td_dec_fmt f = { TD_DEC_SIGN_LEADING, '\0', '.', 0 };
	struct td_dec_fmt imp = { TD_DEC_SIGN_LEADING, '\0', '.', 2 };
	char buf[160];
	const char *w;
	size_t i;

	for (i = 0; i < TD_NELEM(h); i++) {
		w = td_dec_hint(h[i].s, strlen(h[i].s), &f, buf, sizeof(buf));
		if (h[i].has == NULL)
			ok(w == NULL, "hint for '%s': none", h[i].s);
		else
			ok(w != NULL && strstr(w, h[i].has) != NULL,
			    "hint for '%s' names %s: %s", h[i].s, h[i].has,
			    w ? w : "(none)");
	}
	w = td_dec_hint("12.50", 5, &imp, buf, sizeof(buf));
	ok(w != NULL && strstr(w, "implied") != NULL, "hint for '12.50' "
	    "with implied=2: %s", w ? w : "(none)");
}

/* Multiplication and rounding: the promotion discount. */
static void
test_mul_round(void)
{
	static const struct {
		const char	*a, *b;
		int		 scale;		/* rounded to, or -1 */
		const char	*want;
	} v[] = {
		{ "12.50", "0.10", -1, "1.2500" },
		{ "12.50", "0.10", 2, "1.25" },
		{ "3", "0.50", 2, "1.50" },
		{ "-3", "0.50", 2, "-1.50" },
		{ "1.005", "1", 2, "1.01" },
		{ "-1.005", "1", 2, "-1.01" },
		{ "1.004", "1", 2, "1.00" },
		{ "19.99", "0.15", 2, "3.00" },
		{ "19.99", "0.15", -1, "2.9985" },
		{ "0.125", "1", 0, "0" },
		{ "0.5", "1", 0, "1" },
		{ "7", "1", 2, "7.00" },
	};
	struct td_dec a, b;
	char buf[TD_DEC_STRMAX];
	size_t i;
	int r;

	for (i = 0; i < TD_NELEM(v); i++) {
		td_dec_parse(v[i].a, strlen(v[i].a), 0, &a);
		td_dec_parse(v[i].b, strlen(v[i].b), 0, &b);
		r = td_dec_mul(&a, &b);
		if (r == 0 && v[i].scale >= 0)
			r = td_dec_round(&a, v[i].scale);
		td_dec_format(&a, buf, sizeof(buf));
		ok(r == 0 && strcmp(buf, v[i].want) == 0, "%s * %s to %d: %s",
		    v[i].a, v[i].b, v[i].scale, buf);
	}
	td_dec_parse("100000000000000000000", 21, 0, &a);
	b = a;
	is_int(td_dec_mul(&a, &b), TD_ERR_RANGE, "a product of 42 digits does "
	    "not fit");
}

/*
 * td_dec_mul_round(): the exact product, divided by 10^shift, rounded
 * once; it reads products of more than 18 decimals that td_dec_mul()
 * refuses (a promotion's discount came out null).
 */
static void
test_mul_round_once(void)
{
	static const struct {
		const char	*a, *b;
		int		 shift, scale;
		const char	*want;	/* NULL: TD_ERR_RANGE */
	} v[] = {
		{ "0.30000000000000001", "0.125", 0, 2, "0.04" },
		{ "0.333333333333333333", "0.50", 0, 2, "0.17" },
		{ "-0.333333333333333333", "0.50", 0, 2, "-0.17" },
		{ "0.000000000000000001", "0.000000000000000001", 0, 18,
		    "0.000000000000000000" },
		{ "0.000000000000000005", "0.1", 0, 18, "0.000000000000000001" },
		{ "19.99", "10", 2, 2, "2.00" },
		{ "19.99", "15", 2, 2, "3.00" },
		{ "1.005", "1", 0, 2, "1.01" },
		{ "-1.005", "1", 0, 2, "-1.01" },
		{ "1.004", "1", 0, 2, "1.00" },
		{ "3", "0.50", 0, 2, "1.50" },
		{ "7", "1", 0, 3, "7.000" },
		{ "12.50", "0.10", 0, 4, "1.2500" },
		{ "0.5", "1", 0, 0, "1" },
		{ "999999999999999999999999999999999999", "10", 0, 0, NULL },
		{ "999999999999999999999999999999999999", "1", 0, 2, NULL },
		{ "1", "1", 3, 2, NULL },
	};
	char buf[TD_DEC_STRMAX];
	struct td_dec a, b;
	size_t i;
	int r;

	for (i = 0; i < TD_NELEM(v); i++) {
		if (td_dec_parse(v[i].a, strlen(v[i].a), 0, &a) != 0 ||
		    td_dec_parse(v[i].b, strlen(v[i].b), 0, &b) != 0)
			td_fatal("vector %zu", i);
		r = td_dec_mul_round(&a, &b, v[i].shift, v[i].scale);
		td_dec_format(&a, buf, sizeof(buf));
		if (v[i].want == NULL)
			ok(r == TD_ERR_RANGE && strcmp(buf, v[i].a) == 0,
			    "%s * %s / 10^%d to %d: does not fit, unchanged",
			    v[i].a, v[i].b, v[i].shift, v[i].scale);
		else
			ok(r == 0 && strcmp(buf, v[i].want) == 0, "%s * %s / "
			    "10^%d to %d: %s", v[i].a, v[i].b, v[i].shift,
			    v[i].scale, buf);
	}
}

int
main(void)
{
	test_mul_round();
	test_mul_round_once();
	test_parse();
	test_parse_fmt();
	test_hint();
	test_format();
	test_add();
	test_sums();
	test_rescale();
	test_cmp();
	test_roundtrip();
	return done_testing();
}
