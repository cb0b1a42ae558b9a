/*
 * decimal.h - exact decimal numbers for money and quantities.
 *
 * value = v * 10^-scale, with 0 <= scale <= TD_DEC_MAX_SCALE and
 * |v| < 10^TD_DEC_MAX_DIGITS. Every function keeps these bounds and never
 * rounds: a result that does not fit is TD_ERR_RANGE and the operand is
 * left unchanged. No floating point anywhere.
 */
#ifndef TD_DECIMAL_H
#define TD_DECIMAL_H

#include <stddef.h>

#define TD_DEC_MAX_SCALE	18
#define TD_DEC_MAX_DIGITS	36
#define TD_DEC_STRMAX		48	/* td_dec_format() buffer size */

/* td_dec_parse() flags */
#define TD_DEC_THOUSANDS	0x01	/* "1,234,567.50" */
#define TD_DEC_PARENS		0x02	/* "(5.00)" is -5.00 */

struct td_dec {
	__int128 v;
	int	 scale;
};

/*
 * Parse n bytes: optional '+' or '-', digits, optional '.' and digits
 * (".5" is fine; "5." and "." are not: a point has digits after it).
 * The scale is kept: "12.50" is
 * v=1250 scale=2. Leading zeros are not significant. With
 * TD_DEC_THOUSANDS the integer part may be grouped by ',' (first group
 * 1-3 digits, then groups of exactly 3); with TD_DEC_PARENS "(x)" means
 * -x (no sign inside the parentheses). Anything else, including spaces,
 * exponents and currency signs, is TD_ERR_FORMAT; more than 36
 * significant digits or more than 18 fraction digits is TD_ERR_RANGE.
 * *out is zeroed on entry.
 */
int	 td_dec_parse(const char *s, size_t n, unsigned flags,
	    struct td_dec *out);

/* How a number is written, for td_dec_parse_fmt(). */
#define TD_DEC_SIGN_LEADING	0	/* "-12", "+12" */
#define TD_DEC_SIGN_TRAILING	1	/* "12-", "12+"; no leading sign */
#define TD_DEC_SIGN_PARENS	2	/* "(12)" is -12; "-12" too */
struct td_dec_fmt {
	int	 sign;		/* TD_DEC_SIGN_* */
	char	 group;		/* thousands separator, or '\0': none */
	char	 point;		/* decimal mark: '.' or ',' */
	int	 implied;	/* 0..18: digits only, the last N are decimals */
};
/*
 * Parse n bytes written as fmt says; td_dec_parse() is this with '.' as
 * the point, TD_DEC_THOUSANDS as group ',' and TD_DEC_PARENS as
 * TD_DEC_SIGN_PARENS. With implied > 0 the text has no point and its
 * last implied digits are the fraction ("1250", implied 2: 12.50).
 * Errors as td_dec_parse().
 */
int	 td_dec_parse_fmt(const char *s, size_t n, const struct td_dec_fmt *,
	    struct td_dec *out);
/*
 * Why text that td_dec_parse_fmt() refused is not a number in fmt, and
 * which option of the decimal transform would read it, as a short
 * phrase in buf ("has a trailing sign: sign=trailing reads it"); NULL
 * when there is nothing better to say than "is not an exact decimal".
 */
const char *td_dec_hint(const char *s, size_t n, const struct td_dec_fmt *,
	    char *buf, size_t bufsz);

/* *acc += *x at the larger of the two scales. 0 or TD_ERR_RANGE. */
int	 td_dec_add(struct td_dec *acc, const struct td_dec *x);

/*
 * Change the scale of *d to scale (0..18). Raising is exact unless the
 * result has more than 36 digits; lowering only drops zero digits.
 * Otherwise TD_ERR_RANGE and *d is unchanged.
 */
int	 td_dec_rescale(struct td_dec *d, int scale);

/* *acc *= *x exactly (the scales add). 0 or TD_ERR_RANGE (unchanged). */
int	 td_dec_mul(struct td_dec *acc, const struct td_dec *x);
/*
 * Change the scale of *d to scale (0..18), rounding half away from zero
 * when digits are dropped: 1.005 to 2 decimals is 1.01, -1.005 is -1.01.
 * 0 or TD_ERR_RANGE (unchanged).
 */
int	 td_dec_round(struct td_dec *d, int scale);
/*
 * *acc = *acc * *x / 10^shift (shift 0..2: 2 takes x as a percentage),
 * rounded once, half away from zero, to scale (0..18) decimals. The
 * exact product may have up to 36 decimals: 0.30000000000000001 * 0.125
 * is 0.04 to 2, where td_dec_mul() refuses its 20. 0 or TD_ERR_RANGE
 * (unchanged).
 */
int	 td_dec_mul_round(struct td_dec *acc, const struct td_dec *x,
	    int shift, int scale);
/* Negate in place (cannot fail for a valid value). */
void	 td_dec_neg(struct td_dec *d);

/* -1, 0 or 1 as a < b, a == b, a > b, by value ("1.0" == "1"). */
int	 td_dec_cmp(const struct td_dec *a, const struct td_dec *b);

/* -1, 0 or 1. */
int	 td_dec_sign(const struct td_dec *d);

/*
 * Write d as "-12.50", "0.5", "0", "-2" (scale digits after the point;
 * zero never has a sign: "0.00") and a NUL. Returns the length of the
 * full text; like snprintf the output is truncated when outsz is too
 * small (TD_DEC_STRMAX always suffices). A struct with a scale outside
 * 0..18 formats as "" and returns 0.
 */
size_t	 td_dec_format(const struct td_dec *d, char *out, size_t outsz);

#endif
