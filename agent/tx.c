/*
 * tx.c - the row of a transmission in state.db. See tx.h.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "td.h"
#include "store.h"
#include "ctx.h"
#include "tx.h"

/* Column i as an allocated string, or NULL when it is NULL. */
static char *
col_str(sqlite3_stmt *s, int i)
{
	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return NULL;
	return xstrdup((const char *)sqlite3_column_text(s, i));
}

static uint64_t
col_u64(sqlite3_stmt *s, int i)
{
	return (uint64_t)sqlite3_column_int64(s, i);
}

void
tx_read(sqlite3_stmt *s, struct tx *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "%s",
	    (const char *)sqlite3_column_text(s, 0));
	t->name = col_str(s, 1);
	t->size = col_u64(s, 2);
	t->received_at = sqlite3_column_int64(s, 3);
	t->source = col_str(s, 4);
	t->archive_dir = col_str(s, 5);
	t->state = col_str(s, 6);
	t->mapping_version = col_str(s, 7);
	t->format = col_str(s, 8);
	t->container = col_str(s, 9);
	t->encoding = col_str(s, 10);
	t->batch_encoding = col_str(s, 11);
	t->records_in = col_u64(s, 12);
	t->delivered = col_u64(s, 13);
	t->dlq = col_u64(s, 14);
	t->held = col_u64(s, 15);
	t->duplicate = col_u64(s, 16);
	t->batches = col_u64(s, 17);
	t->quantity_total = col_str(s, 18);
	t->amount_total = col_str(s, 19);
	/* received before verification was recorded */
	if ((t->verification = col_str(s, 20)) == NULL)
		t->verification = xstrdup("{\"checksum\":\"not_checked\","
		    "\"signature\":\"not_checked\"}");
	t->verify_code = col_str(s, 21);
	if (t->verify_code != NULL && (t->verify_message =
	    col_str(s, 22)) == NULL)
		t->verify_message = xstrdup("");
	t->rejections_sent = sqlite3_column_int(s, 23);
	t->summed = col_u64(s, 24);
	t->unknown_promo = col_u64(s, 25);
	t->replay_of = col_str(s, 26);
}

int
tx_load(struct td_ctx *x, const char *tid, struct tx *t)
{
	sqlite3_stmt *s;
	int r = TD_ERR_NOTFOUND;

	memset(t, 0, sizeof(*t));
	s = store_prepare(x->st, "SELECT " TX_COLUMNS " FROM transmissions "
	    "WHERE id = ?");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		tx_read(s, t);
		r = TD_OK;
	}
	sqlite3_reset(s);
	return r;
}

void
tx_free(struct tx *t)
{
	x_free(t->name);
	x_free(t->source);
	x_free(t->archive_dir);
	x_free(t->state);
	x_free(t->mapping_version);
	x_free(t->format);
	x_free(t->container);
	x_free(t->encoding);
	x_free(t->batch_encoding);
	x_free(t->quantity_total);
	x_free(t->amount_total);
	x_free(t->verification);
	x_free(t->verify_code);
	x_free(t->verify_message);
	x_free(t->replay_of);
	memset(t, 0, sizeof(*t));
}
