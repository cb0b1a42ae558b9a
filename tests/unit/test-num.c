/* test-num.c - unit tests for common/num.c */
#include "config.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "td.h"
#include "num.h"
#include "tap.h"

struct u64_vec {
	const char *s;
	uint64_t min, max;
	int ret;
	uint64_t want;
};

static const struct u64_vec u64_vecs[] = {
	{ "0", 0, UINT64_MAX, 0, 0 },
	{ "1", 0, UINT64_MAX, 0, 1 },
	{ "007", 0, UINT64_MAX, 0, 7 },
	{ "18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX },
	{ "18446744073709551616", 0, UINT64_MAX, TD_ERR_RANGE, 0 },
	{ "99999999999999999999", 0, UINT64_MAX, TD_ERR_RANGE, 0 },
	{ "99999999999999999999x", 0, UINT64_MAX, TD_ERR_FORMAT, 0 },
	{ "000000000000000000000000000042", 0, UINT64_MAX, 0, 42 },
	{ "", 0, UINT64_MAX, TD_ERR_FORMAT, 0 },
	{ " 1", 0, UINT64_MAX, TD_ERR_FORMAT, 0 },
	{ "1 ", 0, UINT64_MAX, TD_ERR_FORMAT, 0 },
	{ "+1", 0, UINT64_MAX, TD_ERR_FORMAT, 0 },
	{ "-1", 0, UINT64_MAX, TD_ERR_FORMAT, 0 },
	{ "0x10", 0, UINT64_MAX, TD_ERR_FORMAT, 0 },
	{ "1e3", 0, UINT64_MAX, TD_ERR_FORMAT, 0 },
	{ "1.0", 0, UINT64_MAX, TD_ERR_FORMAT, 0 },
	{ "5", 1, 10, 0, 5 },
	{ "1", 1, 10, 0, 1 },
	{ "10", 1, 10, 0, 10 },
	{ "0", 1, 10, TD_ERR_RANGE, 0 },
	{ "11", 1, 10, TD_ERR_RANGE, 0 },
	{ "65535", 0, 65535, 0, 65535 },
	{ "65536", 0, 65535, TD_ERR_RANGE, 0 },
};

struct i64_vec {
	const char *s;
	int64_t min, max;
	int ret;
	int64_t want;
};

static const struct i64_vec i64_vecs[] = {
	{ "0", INT64_MIN, INT64_MAX, 0, 0 },
	{ "-0", INT64_MIN, INT64_MAX, 0, 0 },
	{ "-1", INT64_MIN, INT64_MAX, 0, -1 },
	{ "42", INT64_MIN, INT64_MAX, 0, 42 },
	{ "9223372036854775807", INT64_MIN, INT64_MAX, 0, INT64_MAX },
	{ "9223372036854775808", INT64_MIN, INT64_MAX, TD_ERR_RANGE, 0 },
	{ "-9223372036854775808", INT64_MIN, INT64_MAX, 0, INT64_MIN },
	{ "-9223372036854775809", INT64_MIN, INT64_MAX, TD_ERR_RANGE, 0 },
	{ "-99999999999999999999", INT64_MIN, INT64_MAX, TD_ERR_RANGE, 0 },
	{ "-", INT64_MIN, INT64_MAX, TD_ERR_FORMAT, 0 },
	{ "--1", INT64_MIN, INT64_MAX, TD_ERR_FORMAT, 0 },
	{ "+1", INT64_MIN, INT64_MAX, TD_ERR_FORMAT, 0 },
	{ "- 1", INT64_MIN, INT64_MAX, TD_ERR_FORMAT, 0 },
	{ "1-", INT64_MIN, INT64_MAX, TD_ERR_FORMAT, 0 },
	{ "", INT64_MIN, INT64_MAX, TD_ERR_FORMAT, 0 },
	{ "-5", -5, 5, 0, -5 },
	{ "-6", -5, 5, TD_ERR_RANGE, 0 },
	{ "6", -5, 5, TD_ERR_RANGE, 0 },
	{ "-1", 0, 100, TD_ERR_RANGE, 0 },
};

struct unit_vec {
	const char *s;
	int ret;
	uint64_t want;
};

static const struct unit_vec dur_vecs[] = {
	{ "30", 0, 30 },
	{ "30s", 0, 30 },
	{ "5m", 0, 300 },
	{ "26h", 0, 93600 },
	{ "7d", 0, 604800 },
	{ "0", 0, 0 },
	{ "0d", 0, 0 },
	{ "18446744073709551615", 0, UINT64_MAX },
	{ "18446744073709551615s", 0, UINT64_MAX },
	{ "18446744073709551616", TD_ERR_RANGE, 0 },
	{ "307445734561825860m", 0, UINT64_C(18446744073709551600) },
	{ "307445734561825861m", TD_ERR_RANGE, 0 },
	{ "213503982334601d", 0, UINT64_C(18446744073709526400) },
	{ "213503982334602d", TD_ERR_RANGE, 0 },
	{ "", TD_ERR_FORMAT, 0 },
	{ "s", TD_ERR_FORMAT, 0 },
	{ "m", TD_ERR_FORMAT, 0 },
	{ "5x", TD_ERR_FORMAT, 0 },
	{ "5M", TD_ERR_FORMAT, 0 },
	{ "5 m", TD_ERR_FORMAT, 0 },
	{ " 5m", TD_ERR_FORMAT, 0 },
	{ "5m ", TD_ERR_FORMAT, 0 },
	{ "5mm", TD_ERR_FORMAT, 0 },
	{ "5ms", TD_ERR_FORMAT, 0 },
	{ "1h30m", TD_ERR_FORMAT, 0 },
	{ "-5m", TD_ERR_FORMAT, 0 },
	{ "+5m", TD_ERR_FORMAT, 0 },
	{ "1.5h", TD_ERR_FORMAT, 0 },
	{ "99999999999999999999x", TD_ERR_FORMAT, 0 },
};

static const struct unit_vec size_vecs[] = {
	{ "512", 0, 512 },
	{ "0", 0, 0 },
	{ "64K", 0, 65536 },
	{ "64k", 0, 65536 },
	{ "8M", 0, 8388608 },
	{ "16G", 0, UINT64_C(17179869184) },
	{ "1T", 0, UINT64_C(1099511627776) },
	{ "16777215T", 0, UINT64_C(18446742974197923840) },
	{ "16777216T", TD_ERR_RANGE, 0 },
	{ "18014398509481983K", 0, UINT64_C(18446744073709550592) },
	{ "18014398509481984K", TD_ERR_RANGE, 0 },
	{ "18446744073709551615", 0, UINT64_MAX },
	{ "", TD_ERR_FORMAT, 0 },
	{ "K", TD_ERR_FORMAT, 0 },
	{ "64KB", TD_ERR_FORMAT, 0 },
	{ "64KiB", TD_ERR_FORMAT, 0 },
	{ "64 K", TD_ERR_FORMAT, 0 },
	{ "1P", TD_ERR_FORMAT, 0 },
	{ "1.5G", TD_ERR_FORMAT, 0 },
	{ "-1K", TD_ERR_FORMAT, 0 },
	{ "0x10", TD_ERR_FORMAT, 0 },
};

struct ratio_vec {
	const char *s;
	int ret;
	uint32_t want;
};

static const struct ratio_vec ratio_vecs[] = {
	{ "0", 0, 0 },
	{ "1", 0, 1000000 },
	{ "0.05", 0, 50000 },
	{ "0.5", 0, 500000 },
	{ "0.000001", 0, 1 },
	{ "0.999999", 0, 999999 },
	{ "0.0000010", 0, 1 },
	{ "0.05000000000000", 0, 50000 },
	{ "1.0", 0, 1000000 },
	{ "1.000000000", 0, 1000000 },
	{ "00.25", 0, 250000 },
	{ "0.0", 0, 0 },
	{ "0.0000001", TD_ERR_FORMAT, 0 },
	{ "0.1234567", TD_ERR_FORMAT, 0 },
	{ "1.0000001", TD_ERR_FORMAT, 0 },
	{ "1.000001", TD_ERR_RANGE, 0 },
	{ "1.5", TD_ERR_RANGE, 0 },
	{ "2", TD_ERR_RANGE, 0 },
	{ "10", TD_ERR_RANGE, 0 },
	{ "99999999999999999999999", TD_ERR_RANGE, 0 },
	{ "", TD_ERR_FORMAT, 0 },
	{ ".5", TD_ERR_FORMAT, 0 },
	{ "0.", TD_ERR_FORMAT, 0 },
	{ ".", TD_ERR_FORMAT, 0 },
	{ "-0.5", TD_ERR_FORMAT, 0 },
	{ "+0.5", TD_ERR_FORMAT, 0 },
	{ "0,5", TD_ERR_FORMAT, 0 },
	{ "5%", TD_ERR_FORMAT, 0 },
	{ "0.5 ", TD_ERR_FORMAT, 0 },
	{ "1e-2", TD_ERR_FORMAT, 0 },
	{ "0.0.1", TD_ERR_FORMAT, 0 },
};

static void
test_u64(void)
{
	const struct u64_vec *v;
	uint64_t got;
	size_t i;
	int r;

	for (i = 0; i < TD_NELEM(u64_vecs); i++) {
		v = &u64_vecs[i];
		got = 12345;
		r = td_parse_u64(v->s, strlen(v->s), v->min, v->max, &got);
		ok(r == v->ret && got == v->want,
		    "u64 '%s' [%" PRIu64 ",%" PRIu64 "] -> %d %" PRIu64,
		    v->s, v->min, v->max, r, got);
	}
	/* n bounds the input: bytes after it are not looked at */
	is_int(td_parse_u64("123abc", 3, 0, UINT64_MAX, &got), 0, "n limits");
	is_int(got, 123, "prefix value");
	is_int(td_parse_u64("123", 0, 0, UINT64_MAX, &got), TD_ERR_FORMAT,
	    "n = 0");
	is_int(td_parse_u64(NULL, 0, 0, UINT64_MAX, &got), TD_ERR_FORMAT,
	    "NULL");
	is_int(td_parse_u64("1\0" "2", 3, 0, UINT64_MAX, &got), TD_ERR_FORMAT,
	    "embedded NUL");
}

static void
test_i64(void)
{
	const struct i64_vec *v;
	int64_t got;
	size_t i;
	int r;

	for (i = 0; i < TD_NELEM(i64_vecs); i++) {
		v = &i64_vecs[i];
		got = 12345;
		r = td_parse_i64(v->s, strlen(v->s), v->min, v->max, &got);
		ok(r == v->ret && got == v->want,
		    "i64 '%s' -> %d %" PRId64, v->s, r, got);
	}
	is_int(td_parse_i64("-", 1, INT64_MIN, INT64_MAX, &got),
	    TD_ERR_FORMAT, "lone minus");
	is_int(td_parse_i64("-12", 2, INT64_MIN, INT64_MAX, &got), 0,
	    "n limits");
	is_int(got, -1, "prefix value");
}

static void
test_units(void)
{
	const struct unit_vec *v;
	uint64_t got;
	size_t i;
	int r;

	for (i = 0; i < TD_NELEM(dur_vecs); i++) {
		v = &dur_vecs[i];
		got = 12345;
		r = td_parse_duration(v->s, &got);
		ok(r == v->ret && got == v->want,
		    "duration '%s' -> %d %" PRIu64, v->s, r, got);
	}
	for (i = 0; i < TD_NELEM(size_vecs); i++) {
		v = &size_vecs[i];
		got = 12345;
		r = td_parse_size(v->s, &got);
		ok(r == v->ret && got == v->want,
		    "size '%s' -> %d %" PRIu64, v->s, r, got);
	}
}

static void
test_ratio(void)
{
	const struct ratio_vec *v;
	uint32_t got;
	size_t i;
	int r;

	for (i = 0; i < TD_NELEM(ratio_vecs); i++) {
		v = &ratio_vecs[i];
		got = 12345;
		r = td_parse_ratio(v->s, &got);
		ok(r == v->ret && got == v->want,
		    "ratio '%s' -> %d %" PRIu32, v->s, r, got);
	}
}

static void
test_format(void)
{
	char got[TD_U64_STRMAX], want[32];
	uint64_t v, x = 88172645463325252ULL;
	size_t len, i, bad = 0;
	int n;

	len = td_format_u64(0, got);
	ok(len == 1 && strcmp(got, "0") == 0, "format 0");
	len = td_format_u64(UINT64_MAX, got);
	ok(len == 20 && strcmp(got, "18446744073709551615") == 0,
	    "format UINT64_MAX");
	/* every power of ten and its neighbours */
	for (v = 1; ; v *= 10) {
		uint64_t t[3] = { v - 1, v, v + 1 };

		for (i = 0; i < 3; i++) {
			len = td_format_u64(t[i], got);
			n = snprintf(want, sizeof(want), "%" PRIu64, t[i]);
			if (len != (size_t)n || strcmp(got, want) != 0)
				bad++;
		}
		if (v > UINT64_MAX / 10)
			break;
	}
	is_int(bad, 0, "powers of ten");
	/* pseudo-random values of every magnitude, round trip via parse */
	for (i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v = x >> (i % 64);
		len = td_format_u64(v, got);
		n = snprintf(want, sizeof(want), "%" PRIu64, v);
		if (len != (size_t)n || strcmp(got, want) != 0)
			bad++;
		else {
			uint64_t back;

			if (td_parse_u64(got, len, 0, UINT64_MAX, &back) != 0 ||
			    back != v)
				bad++;
		}
	}
	is_int(bad, 0, "200000 values match snprintf and parse back");
}

int
main(void)
{
	test_u64();
	test_i64();
	test_units();
	test_ratio();
	test_format();
	return done_testing();
}
