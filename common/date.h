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

/* A time of day, as sent: no time zone. */
struct td_time {
	int	h, m, s;
};
#define TD_TIME_STRMAX	9	/* "HH:MM:SS" + NUL */

/* td_datetime_parse() flags */
#define TD_DT_TIME	0x1	/* fmt must read an hour */
#define TD_DT_TIME_ONLY	0x2	/* fmt reads a time and no date */
/*
 * td_date_parse() with the time directives too:
 *   %H  hour 0-23, 1 or 2 digits    %I  hour 1-12, with %p
 *   %M  minute, 2 digits            %p  AM or PM, any case
 *   %S  second, 2 digits            %T  %H:%M:%S
 * A minute needs an hour, a second a minute; what is not read is 0. With
 * TD_DT_TIME_ONLY fmt names no date part and *out is zeroed. The time is
 * as written: no time zone is read or applied. Errors as td_date_parse()
 * (an hour 24, a minute 60 are TD_ERR_RANGE).
 */
int	 td_datetime_parse(const char *s, size_t n, const char *fmt,
	    unsigned flags, struct td_date *out, struct td_time *tout);
/* Check a format alone, as td_datetime_parse() would: 0 or TD_ERR_INVAL. */
int	 td_datetime_fmt_check(const char *fmt, unsigned flags);
/*
 * ISO 8601 as exports write it: "YYYY-MM-DD", 'T' or ' ', "HH:MM",
 * optionally ":SS" and a fraction (".123" or ",5": read, not kept), then
 * optionally "Z" or an offset "+hh:mm", "-hhmm", "+hh" (read and checked,
 * never applied: the date and time are taken as sent).
 */
int	 td_datetime_parse_iso(const char *s, size_t n, struct td_date *out,
	    struct td_time *tout);
/* Write "HH:MM:SS" and a NUL; returns 8. */
size_t	 td_time_format(const struct td_time *, char out[TD_TIME_STRMAX]);
/* Strict "HH:MM:SS" (8 bytes, 00:00:00 to 23:59:59): 0 or TD_ERR_FORMAT. */
int	 td_time_parse_hms(const char *s, size_t n, struct td_time *out);

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
