/* gtin.c - GS1 check digits, GTIN normalisation, UPC-E expansion. */
#include "config.h"

#include <string.h>

#include "td.h"
#include "gtin.h"

static int
all_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

int
td_gtin_check_digit(const char *digits, size_t n)
{
	unsigned sum = 0, w = 3;
	size_t i;

	if (digits == NULL || n == 0 || !all_digits(digits, n))
		return TD_ERR_FORMAT;
	for (i = n; i-- > 0; w ^= 2)		/* weights 3, 1, 3, ... */
		sum += w * (unsigned)(digits[i] - '0');
	return (int)((10 - sum % 10) % 10);
}

int
td_gtin_normalize(const char *s, size_t n, char out[15], const char **code)
{
	return td_gtin_normalize_opts(s, n, 0, out, code);
}

/* A UPC-E of n digits (as opts allow) to its 13-byte UPC-A in a. */
static int
upce_to_upca(const char *s, size_t n, unsigned opts, char a[13])
{
	char e[9];
	int ck;

	if (opts & TD_GTIN_NOCHECK) {
		if (n != 6 && n != 7)
			return TD_ERR_FORMAT;
		/* number system 0 unless given; a check digit to compute */
		e[0] = '0';
		memcpy(e + 7 - n, s, n);
		e[7] = '0';
	} else if (n == 6) {
		e[0] = '0';
		memcpy(e + 1, s, 6);
		e[7] = '0';
	} else if (n == 8)
		memcpy(e, s, 8);
	else
		return TD_ERR_FORMAT;
	e[8] = '\0';
	if (td_upce_expand(e, 8, a) != 0)
		return TD_ERR_FORMAT;
	if ((opts & TD_GTIN_NOCHECK) || n == 6) {
		ck = td_gtin_check_digit(a, 11);
		a[11] = (char)('0' + ck);
	}
	return 0;
}

int
td_gtin_normalize_opts(const char *s, size_t n, unsigned opts, char out[15],
    const char **code)
{
	int want;

	return td_gtin_normalize_want(s, n, opts, out, code, &want);
}

int
td_gtin_normalize_want(const char *s, size_t n, unsigned opts, char out[15],
    const char **code, int *want)
{
	char buf[TD_GTIN_LEN + 1];
	size_t i;
	int ck;

	out[0] = '\0';
	*code = NULL;
	*want = -1;
	if (s == NULL || n == 0) {
		*code = "gtin_empty";
		return TD_ERR_FORMAT;
	}
	if (!all_digits(s, n)) {
		*code = "gtin_not_digits";
		return TD_ERR_FORMAT;
	}
	for (; n > TD_GTIN_LEN; s++, n--) {
		if (*s != '0') {
			*code = "gtin_length";
			return TD_ERR_FORMAT;
		}
	}
	/* (with nocheck a UPC-E has 6 or 7 digits: 8 is a length error) */
	if ((opts & TD_GTIN_UPCE) && (n == 6 ||
	    n == ((opts & TD_GTIN_NOCHECK) ? 7 : 8))) {
		if (upce_to_upca(s, n, opts, buf) != 0) {
			*code = "gtin_upce";
			return TD_ERR_FORMAT;
		}
		s = buf;
		n = 12;
	} else if (opts & TD_GTIN_NOCHECK) {
		/* a body: the check digit is computed and appended */
		if (n == TD_GTIN_LEN || (!(opts & TD_GTIN_PAD) && n != 7 &&
		    n != 11 && n != 12 && n != 13) || n < 6) {
			*code = "gtin_length";
			return TD_ERR_FORMAT;
		}
		memcpy(buf, s, n);
		buf[n] = (char)('0' + td_gtin_check_digit(s, n));
		s = buf;
		n++;
	}
	if ((opts & TD_GTIN_PAD) && n >= 6 && n < 13 && n != 8 && n != 12) {
		/* zeros in front change no check digit: pad to 14 */
		memmove(buf + TD_GTIN_LEN - n, s, n);
		memset(buf, '0', TD_GTIN_LEN - n);
		s = buf;
		n = TD_GTIN_LEN;
	}
	if (n != 8 && n != 12 && n != 13 && n != 14) {
		*code = "gtin_length";
		return TD_ERR_FORMAT;
	}
	/* its check digit adds up, but all zeros names no product */
	for (i = 0; i < n && s[i] == '0'; i++)
		;
	if (i == n) {
		*code = "gtin_zero";
		return TD_ERR_FORMAT;
	}
	if ((ck = td_gtin_check_digit(s, n - 1)) != s[n - 1] - '0') {
		*code = "gtin_check_digit";
		*want = ck;
		return TD_ERR_FORMAT;
	}
	for (i = 0; i < TD_GTIN_LEN - n; i++)
		out[i] = '0';
	memcpy(out + i, s, n);
	out[TD_GTIN_LEN] = '\0';
	return 0;
}

/*
 * UPC-E payload "abcdef" to UPC-A, chosen by f: each template gives the
 * five manufacturer and five item digits, '0'-'5' naming a payload
 * digit (a-f), 'z' a zero.
 */
static const char *const upce_tmpl[10] = {
	"015zzzz234", "015zzzz234", "015zzzz234",	/* abf00 00cde */
	"012zzzzz34",					/* abc00 000de */
	"0123zzzzz4",					/* abcd0 0000e */
	"01234zzzz5", "01234zzzz5", "01234zzzz5",	/* abcde 0000f */
	"01234zzzz5", "01234zzzz5",
};

int
td_upce_expand(const char *s, size_t n, char out[13])
{
	const char *t;
	size_t i;

	out[0] = '\0';
	if (s == NULL || n != 8 || !all_digits(s, n) ||
	    (s[0] != '0' && s[0] != '1'))
		return TD_ERR_FORMAT;
	t = upce_tmpl[s[6] - '0'];
	out[0] = s[0];
	for (i = 0; i < 10; i++)
		out[i + 1] = t[i] == 'z' ? '0' : s[1 + (t[i] - '0')];
	out[11] = s[7];
	out[12] = '\0';
	return 0;
}
