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
	size_t i;

	out[0] = '\0';
	*code = NULL;
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
	if (td_gtin_check_digit(s, n - 1) != s[n - 1] - '0') {
		*code = "gtin_check_digit";
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
