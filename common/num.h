/*
 * num.h - checked number parsing and fast formatting.
 *
 * Parsers take the whole input: no leading or trailing spaces, no '+',
 * no base prefixes. Malformed input (junk, empty) is TD_ERR_FORMAT, a
 * well-formed number outside the allowed range TD_ERR_RANGE; junk wins
 * over range ("99999999999999999999x" is TD_ERR_FORMAT). The output is
 * set to 0 on entry and written only on success.
 */
#ifndef TD_NUM_H
#define TD_NUM_H

#include <stddef.h>
#include <stdint.h>

/* n bytes of decimal digits (leading zeros allowed) in [min, max]. */
int	 td_parse_u64(const char *s, size_t n, uint64_t min, uint64_t max,
	    uint64_t *out);

/* Like td_parse_u64 with an optional leading '-' ("-0" is 0). */
int	 td_parse_i64(const char *s, size_t n, int64_t min, int64_t max,
	    int64_t *out);

/*
 * NUL-terminated duration: digits and an optional unit, one of
 * s (seconds, the default), m, h, d (lower case): "30", "30s", "5m",
 * "26h", "7d".
 */
int	 td_parse_duration(const char *s, uint64_t *seconds);

/*
 * NUL-terminated size: digits and an optional 1024-based unit K, M, G,
 * T (either case, no "B"): "512", "64K", "8M", "16G", "1T".
 */
int	 td_parse_size(const char *s, uint64_t *bytes);

/*
 * NUL-terminated exact decimal ratio in [0, 1] as parts per million:
 * "0.05" -> 50000, "1" -> 1000000, "1.000" -> 1000000. An integer part
 * is required and a '.' must be followed by a digit. More than 6
 * fraction digits is TD_ERR_FORMAT unless the extra ones are zeros;
 * "1.5" and "2" are TD_ERR_RANGE.
 */
int	 td_parse_ratio(const char *s, uint32_t *ppm);

#define TD_U64_STRMAX	21	/* "18446744073709551615" + NUL */

/* Write v in decimal and a NUL to out (>= 21 bytes); returns the length. */
size_t	 td_format_u64(uint64_t v, char *out);

#endif
