/*
 * fiscal.h - the fiscal object of a day: Gregorian, or a retail 52/53
 * week calendar of 4-4-5, 4-5-4 or 5-4-4 periods.
 *
 * A retail fiscal year starts on the weekday of its anchor (year_start,
 * or the NRF rule: the Sunday nearest 1 February, so that the year ends
 * on the Saturday nearest 31 January) that is nearest to the anchor's
 * month and day, and runs to the day before the next one: 52 weeks, or
 * 53 when the nearest weekday drifts far enough (every five or six
 * years). A year is named by the calendar year that holds most of its
 * days (NRF: fiscal 2023 is 2023-01-29 to 2024-02-03). Quarters are 13
 * weeks, three periods each in the pattern; the 53rd week, when there
 * is one, is added to period 12, as the NRF calendar adds it to January.
 */
#ifndef TD_FISCAL_H
#define TD_FISCAL_H

#include "date.h"

#define TD_CAL_GREGORIAN	0
#define TD_CAL_445		1
#define TD_CAL_454		2
#define TD_CAL_544		3

struct td_calendar {
	int	type;		/* TD_CAL_* */
	int	month, day;	/* the anchor day of every year */
	int	wday;		/* the weekday years start on, 0 = Sunday */
};

struct td_fiscal {
	int	year, quarter, period, week;
	int	weeks;		/* in the year: 52 or 53 (Gregorian: 0) */
};

/*
 * Set up a calendar of type (TD_CAL_*); anchor is year_start, or NULL
 * for the NRF rule. 0, or TD_ERR_INVAL for an anchor on 29 February
 * (it has no day in most years).
 */
int	 td_calendar_init(struct td_calendar *, int type,
	    const struct td_date *anchor);
/* The fiscal object of a valid day. */
void	 td_fiscal_of(const struct td_calendar *, const struct td_date *,
	    struct td_fiscal *);
/* The first day of the retail year anchored in calendar year ay, in
 * days since 1970-01-01. */
int32_t	 td_fiscal_year_start(const struct td_calendar *, int ay);

#endif
