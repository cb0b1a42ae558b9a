/* fiscal.c - Gregorian and retail 4-4-5 / 4-5-4 / 5-4-4 calendars. */
#include "config.h"

#include <string.h>

#include "td.h"
#include "fiscal.h"

/* Weeks of the three periods of every quarter, by calendar type. */
static const int patterns[4][3] = {
	{ 0, 0, 0 }, { 4, 4, 5 }, { 4, 5, 4 }, { 5, 4, 4 },
};

int
td_calendar_init(struct td_calendar *cal, int type,
    const struct td_date *anchor)
{
	struct td_date nrf = { 2026, 2, 1 };	/* any Sunday, 1 February */

	memset(cal, 0, sizeof(*cal));
	cal->type = type;
	if (anchor == NULL)
		anchor = &nrf;
	if (anchor->m == 2 && anchor->d == 29)
		return TD_ERR_INVAL;
	cal->month = anchor->m;
	cal->day = anchor->d;
	cal->wday = td_date_weekday(anchor);
	return 0;
}

int32_t
td_fiscal_year_start(const struct td_calendar *cal, int ay)
{
	struct td_date a = { ay, cal->month, cal->day };
	int32_t days = td_date_to_days(&a);
	int off = (cal->wday - td_date_weekday(&a) + 7) % 7;

	/* the nearest day of that weekday: at most 3 days either side */
	return days + (off <= 3 ? off : off - 7);
}

void
td_fiscal_of(const struct td_calendar *cal, const struct td_date *d,
    struct td_fiscal *f)
{
	struct td_date jan1 = { d->y, 1, 1 }, mid;
	int32_t days = td_date_to_days(d), start, next;
	int ay, w, p, q;

	memset(f, 0, sizeof(*f));
	if (cal->type == TD_CAL_GREGORIAN) {
		f->year = d->y;
		f->quarter = (d->m - 1) / 3 + 1;
		f->period = d->m;
		f->week = (int)(days - td_date_to_days(&jan1)) / 7 + 1;
		return;
	}
	/* the year of the anchor before the day: this year's, the next
	 * year's (an anchor late in December) or the last year's */
	ay = d->y + 1;
	while ((start = td_fiscal_year_start(cal, ay)) > days)
		ay--;
	next = td_fiscal_year_start(cal, ay + 1);
	/* named by the calendar year of most of its days */
	td_date_from_days(start + 182, &mid);
	f->year = mid.y;
	f->weeks = (int)(next - start) / 7;
	w = (int)(days - start) / 7;		/* 0-based */
	f->week = w + 1;
	if (w >= 52)
		w = 51;				/* the 53rd: period 12 */
	q = w / 13;
	w %= 13;
	for (p = 0; w >= patterns[cal->type][p]; p++)
		w -= patterns[cal->type][p];
	f->quarter = q + 1;
	f->period = q * 3 + p + 1;
}
