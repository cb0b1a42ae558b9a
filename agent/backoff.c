/*
 * backoff.c - backoff and circuit breakers kept in state.db. See backoff.h.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "td.h"
#include "store.h"
#include "backoff.h"

void
backoff_source_name(char out[BACKOFF_MAXNAME], const char *source)
{
	snprintf(out, BACKOFF_MAXNAME, "source:%s", source);
}

int
backoff_load(struct store *st, const char *name, struct backoff *b)
{
	sqlite3_stmt *s;
	int r;

	memset(b, 0, sizeof(*b));
	snprintf(b->name, sizeof(b->name), "%s", name);
	s = store_prepare(st, "SELECT failures, opened_at, next_at, last_at, "
	    "last_result, last_count, last_refused FROM backoff WHERE "
	    "name = ?");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if ((r = sqlite3_step(s)) == SQLITE_ROW) {
		b->failures = (unsigned)sqlite3_column_int64(s, 0);
		b->opened_at = sqlite3_column_int64(s, 1);
		b->next_at = sqlite3_column_int64(s, 2);
		b->last_at = sqlite3_column_int64(s, 3);
		if (sqlite3_column_type(s, 4) != SQLITE_NULL)
			snprintf(b->last_result, sizeof(b->last_result), "%s",
			    (const char *)sqlite3_column_text(s, 4));
		b->last_count = (unsigned)sqlite3_column_int64(s, 5);
		b->last_refused = (unsigned)sqlite3_column_int64(s, 6);
	}
	sqlite3_reset(s);
	return r == SQLITE_ROW || r == SQLITE_DONE ? TD_OK : TD_ERR_STATE;
}

int
backoff_save(struct store *st, const struct backoff *b)
{
	sqlite3_stmt *s;
	int r;

	if ((r = store_begin(st)) != 0)
		return r;
	s = store_prepare(st, "INSERT INTO backoff(name, failures, opened_at, "
	    "next_at, last_at, last_result, last_count, last_refused) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
	    "failures = excluded.failures, opened_at = excluded.opened_at, "
	    "next_at = excluded.next_at, last_at = excluded.last_at, "
	    "last_result = excluded.last_result, "
	    "last_count = excluded.last_count, "
	    "last_refused = excluded.last_refused");
	sqlite3_bind_text(s, 1, b->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)b->failures);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)b->opened_at);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)b->next_at);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)b->last_at);
	if (b->last_result[0] != '\0')
		sqlite3_bind_text(s, 6, b->last_result, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, (sqlite3_int64)b->last_count);
	sqlite3_bind_int64(s, 8, (sqlite3_int64)b->last_refused);
	if ((r = store_step_done(st, s)) == 0)
		return store_commit(st);
	store_rollback(st);
	return r;
}

int
backoff_state(const struct backoff *b, int64_t now)
{
	if (b->opened_at == 0)
		return BACKOFF_CLOSED;
	/* before it opened: the clock was stepped back, and how much of
	 * the cooldown is left cannot be told; a probe, not a wait of as
	 * long as the step */
	if (now < b->opened_at)
		return BACKOFF_HALF_OPEN;
	return now < b->next_at ? BACKOFF_OPEN : BACKOFF_HALF_OPEN;
}

const char *
backoff_state_name(int state)
{
	switch (state) {
	case BACKOFF_OPEN:
		return "open";
	case BACKOFF_HALF_OPEN:
		return "half-open";
	}
	return "closed";
}

static uint32_t
uniform(const struct backoff_policy *p, uint32_t upper)
{
	if (upper == 0)
		return 0;
	return p->uniform != NULL ? p->uniform(upper) :
	    randombytes_uniform(upper);
}

int
backoff_succeeded(struct backoff *b)
{
	int was = b->failures != 0 || b->opened_at != 0;

	b->failures = 0;
	b->opened_at = 0;
	b->next_at = 0;
	return was;
}

int
backoff_failed(struct backoff *b, const struct backoff_policy *p,
    int64_t now)
{
	uint64_t wait = p->cooldown;
	unsigned k;

	if (b->failures < UINT32_MAX)
		b->failures++;
	if (b->opened_at == 0 && b->failures < p->threshold)
		return 0;
	/* the threshold reached, or a probe failed */
	if (p->grow)
		for (k = p->threshold; k < b->failures && wait != 0 &&
		    wait < p->cooldown_max; k++)
			wait *= 2;
	if (wait > p->cooldown_max && p->grow)
		wait = p->cooldown_max;
	if (p->jitter)
		wait = 1 + uniform(p, (uint32_t)(wait < UINT32_MAX ? wait :
		    UINT32_MAX));
	b->opened_at = now;
	b->next_at = now + (int64_t)wait;
	return 1;
}

uint64_t
backoff_retry_ms(const struct backoff_policy *p, unsigned n)
{
	uint64_t cap = n < 20 ? (uint64_t)1 << n : p->retry_max;

	if (cap > p->retry_max)
		cap = p->retry_max;
	if (cap > UINT32_MAX / 1000 - 1)
		cap = UINT32_MAX / 1000 - 1;
	return uniform(p, (uint32_t)(cap * 1000 + 1));
}
