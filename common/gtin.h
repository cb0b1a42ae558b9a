/*
 * gtin.h - GS1 identification keys: GTIN-8, UPC-A (GTIN-12), EAN-13,
 * GTIN-14, and UPC-E expansion.
 */
#ifndef TD_GTIN_H
#define TD_GTIN_H

#include <stddef.h>

#define TD_GTIN_LEN	14	/* normalised form, without the NUL */

/*
 * The GS1 mod-10 check digit (0-9) for the n digits given (the key
 * without its check digit; weights 3,1,3,... from the right). Returns
 * TD_ERR_FORMAT if n is 0 or a byte is not a digit.
 */
int	 td_gtin_check_digit(const char *digits, size_t n);

/*
 * Validate and normalise a GTIN-8, -12, -13 or -14 given as n digits
 * (nothing else: no spaces, no signs). Input longer than 14 is accepted
 * only if the extra leading characters are all '0' (spreadsheet
 * padding). On success out holds 14 digits, left-padded with '0', and a
 * NUL, and *code is NULL. On error returns TD_ERR_FORMAT, out is "" and
 * *code is a stable reason: "gtin_empty", "gtin_not_digits",
 * "gtin_length" (e.g. 11 digits, a UPC-A without check digit, or 9/10),
 * "gtin_zero" (all digits zero: a valid check digit, but no product),
 * "gtin_check_digit".
 */
int	 td_gtin_normalize(const char *s, size_t n, char out[15],
	    const char **code);

/* td_gtin_normalize_opts() options: how codes were mangled on export */
#define TD_GTIN_NOCHECK	0x1	/* the check digit is missing: compute it */
#define TD_GTIN_UPCE	0x2	/* 6- and 8-digit values are UPC-E */
#define TD_GTIN_PAD	0x4	/* leading zeros lost: 6 to 13 digits */
/*
 * td_gtin_normalize() for codes exported with a known defect, each
 * declared, never guessed:
 *   TD_GTIN_NOCHECK  every value lacks its check digit: 7, 11, 12 or 13
 *                    digits (GTIN-8, UPC-A, EAN-13, GTIN-14 bodies), or
 *                    6 to 13 with TD_GTIN_PAD; the digit is computed
 *   TD_GTIN_UPCE     a value of 8 digits (number system 0 or 1, six
 *                    digits, check digit) or 6 digits (number system 0,
 *                    no check digit) is a UPC-E and is expanded to its
 *                    UPC-A; with TD_GTIN_NOCHECK, 6 or 7 digits (with
 *                    the number system) without a check digit. Other
 *                    lengths are read as usual. "gtin_upce": not a UPC-E.
 *   TD_GTIN_PAD      6 to 13 digits are left-padded with zeros to the
 *                    next valid length (zeros do not change the check
 *                    digit, so the code is still verified)
 * Codes as td_gtin_normalize(). out must not overlap s: it is written
 * before s is read.
 */
int	 td_gtin_normalize_opts(const char *s, size_t n, unsigned opts,
	    char out[15], const char **code);
/*
 * td_gtin_normalize_opts(), and *want: on "gtin_check_digit" the check
 * digit the value should end in (0-9; the one it ends in is its last
 * digit), else -1. For a message that tells a mistyped digit from
 * another product's code.
 */
int	 td_gtin_normalize_want(const char *s, size_t n, unsigned opts,
	    char out[15], const char **code, int *want);
/*
 * Expand an 8-digit UPC-E (number system 0 or 1, check digit last) to
 * the 12-digit UPC-A it stands for, NUL-terminated. The check digit is
 * carried over, not verified. 0 or TD_ERR_FORMAT (out is "").
 */
int	 td_upce_expand(const char *s, size_t n, char out[13]);

#endif
