/*
 * date.h - calendar dates (proleptic Gregorian) without libc locale or
 * time zone. Valid dates have years 1900..9999.
 */
#ifndef TD_DATE_H
#define TD_DATE_H

#include <stddef.h>
#include <stdint.h>

struct td_date {
	int	y, m, d;
};

#define TD_DATE_STRMAX	11	/* "YYYY-MM-DD" + NUL */

/*
 * Parse n bytes against fmt, a strptime-style subset:
 *   %Y  4 digits        %y  2 digits, 00-68 -> 20xx, 69-99 -> 19xx
 *   %m  month, 1 or 2 digits           %d  day, 1 or 2 digits
 *   %b  English month name or 3-letter abbreviation, any case
 *   %j  day of year 1-366, 1 to 3 digits (needs %Y or %y)
 *   %%  a literal '%'
 * Any other character must match itself. The whole input must be
 * consumed. Returns 0; TD_ERR_FORMAT if the input does not match;
 * TD_ERR_RANGE if it matches but names no valid date (2025-02-29,
 * month 13, day 0, year 0999); TD_ERR_INVAL for a bad fmt (unknown
 * directive, no year, no month and day, or %j together with %m/%b/%d).
 * *out is zeroed on entry.
 */
int	 td_date_parse(const char *s, size_t n, const char *fmt,
	    struct td_date *out);

/* Strict "YYYY-MM-DD" (exactly 10 bytes); errors as td_date_parse(). */
int	 td_date_parse_iso(const char *s, size_t n, struct td_date *out);

/*
 * 0 if *d is a valid date with a year in 1900..9999, else TD_ERR_RANGE.
 * (House style: 0 means yes. Do not write `if (td_date_valid(d))`.)
 */
int	 td_date_valid(const struct td_date *d);

/* Days since 1970-01-01 (negative before). *d must be valid. */
int32_t	 td_date_to_days(const struct td_date *d);

/* The inverse of td_date_to_days() for any days value. */
void	 td_date_from_days(int32_t days, struct td_date *d);

/*
 * Write "YYYY-MM-DD" and a NUL; returns 10. A date that is not valid
 * is written as "0000-00-00".
 */
size_t	 td_date_format(const struct td_date *d, char out[11]);

/* Day of the week, 0 = Sunday .. 6 = Saturday. *d must be valid. */
int	 td_date_weekday(const struct td_date *d);

#define TD_RFC3339_MAX	25	/* "YYYY-MM-DDTHH:MM:SS.mmmZ" + NUL */

/*
 * Write t (seconds since the epoch) as an RFC 3339 UTC time,
 * "YYYY-MM-DDTHH:MM:SSZ", and a NUL; returns 20. td_rfc3339_ms adds the
 * milliseconds ms (0-999; more is 999): "YYYY-MM-DDTHH:MM:SS.mmmZ",
 * returns 24.
 * Neither reads the time zone or the locale. A t before year 0000 or
 * after 9999 is written as the first or last second of that range.
 */
size_t	 td_rfc3339(int64_t t, char out[TD_RFC3339_MAX]);
size_t	 td_rfc3339_ms(int64_t t, unsigned ms, char out[TD_RFC3339_MAX]);

#endif
