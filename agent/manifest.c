/*
 * manifest.c - the manifest of a transmission, built from state.db. See
 * manifest.h; its fields are described in tradedrop-protocol(7).
 */
#include "config.h"

#include <string.h>

#include "td.h"
#include "buf.h"
#include "date.h"
#include "decimal.h"
#include "fsutil.h"
#include "json.h"
#include "log.h"
#include "store.h"
#include "ctx.h"
#include "tx.h"
#include "manifest.h"
#include "process.h"

#define MANIFEST_MAX	((size_t)64 << 20)	/* a staged one read back */

int
manifest_set_info(struct td_ctx *x, const char *tid, const char *container,
    const char *encoding, const char *batch_encoding)
{
	sqlite3_stmt *s;

	s = store_prepare(x->st, "UPDATE transmissions SET container = ?, "
	    "encoding = ?, batch_encoding = ? WHERE id = ?");
	sqlite3_bind_text(s, 1, container, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, encoding, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, batch_encoding, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, tid, -1, SQLITE_STATIC);
	return store_step_done(x->st, s);
}

int
manifest_set_x12(struct td_ctx *x, const char *tid,
    const struct rej_counts *skipped)
{
	sqlite3_stmt *s;
	struct td_buf b;
	int r;

	td_buf_init(&b, 64, 0);
	rej_counts_json(skipped, &b);
	s = store_prepare(x->st, "UPDATE transmissions SET format = 'x12', "
	    "activity_skipped = ? WHERE id = ?");
	sqlite3_bind_text(s, 1, td_buf_cstr(&b), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, tid, -1, SQLITE_STATIC);
	r = store_step_done(x->st, s);
	td_buf_free(&b);
	return r;
}

/* ,"activity_skipped":{...} of an X12 transmission, nothing otherwise */
static void
put_skipped(struct td_ctx *x, struct td_buf *b, const char *tid)
{
	sqlite3_stmt *s;

	s = store_prepare(x->st, "SELECT activity_skipped FROM transmissions "
	    "WHERE id = ? AND activity_skipped IS NOT NULL");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		td_buf_printf(b, ",\"activity_skipped\":%s",
		    (const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
}

int
manifest_add_member(struct td_ctx *x, const char *tid, uint64_t idx,
    const char *member, const char *encoding, uint64_t records_in,
    uint64_t delivered, uint64_t dlq)
{
	sqlite3_stmt *s;

	s = store_prepare(x->st, "INSERT OR REPLACE INTO members("
	    "transmission_id, idx, name, encoding, records_in, delivered, "
	    "dlq) VALUES (?, ?, ?, ?, ?, ?, ?)");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)idx);
	if (member != NULL)
		sqlite3_bind_text(s, 3, member, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, encoding, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)records_in);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)delivered);
	sqlite3_bind_int64(s, 7, (sqlite3_int64)dlq);
	return store_step_done(x->st, s);
}

/* One statement of the import below, on its own (not cached). */
static int
import_exec(struct td_ctx *x, const char *sql, const char *tid,
    const char *man)
{
	sqlite3 *db = store_db(x->st);
	sqlite3_stmt *s;
	int r;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		/* a SQLite built without its JSON functions */
		td_log(TD_LOG_ERROR, "manifest_import_failed", "transmission_id="
		    "%s error=%s", tid, sqlite3_errmsg(db));
		return TD_ERR_STATE;
	}
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, man, -1, SQLITE_STATIC);
	r = sqlite3_step(s);
	sqlite3_finalize(s);
	if (r != SQLITE_DONE) {
		td_log(TD_LOG_ERROR, "manifest_import_failed", "transmission_id="
		    "%s error=%s", tid, sqlite3_errmsg(db));
		return r == SQLITE_FULL ? TD_ERR_NOSPACE : TD_ERR_FORMAT;
	}
	return TD_OK;
}

/*
 * A transmission processed by a tradedrop that kept its container,
 * encodings and documents only in the manifest it staged: read them
 * from the archived copy (with SQLite's JSON functions) into state.db.
 */
static int
import_staged(struct td_ctx *x, const struct tx *t)
{
	char *path, *man = NULL;
	size_t len;
	int r, own;

	path = xasprintf("%s/%s/manifest.json", x->state_dir, t->archive_dir);
	if ((r = td_read_file(path, MANIFEST_MAX, &man, &len)) != 0) {
		td_log(TD_LOG_ERROR, "manifest_import_failed", "transmission_id="
		    "%s file=%s error=%s", t->id, path, td_strerror(r));
		x_free(path);
		return r == TD_ERR_NOSPACE ? r : TD_ERR_FORMAT;
	}
	x_free(path);
	own = sqlite3_get_autocommit(store_db(x->st));
	if (own && (r = store_begin(x->st)) != 0)
		goto out;
	r = import_exec(x, "UPDATE transmissions SET "
	    "container = json_extract(?2, '$.container'), "
	    "encoding = json_extract(?2, '$.encoding'), "
	    "batch_encoding = json_extract(?2, '$.batch_encoding') "
	    "WHERE id = ?1 AND json_type(?2, '$.container') = 'text' AND "
	    "json_type(?2, '$.encoding') = 'text' AND "
	    "json_type(?2, '$.batch_encoding') = 'text'", t->id, man);
	if (r == 0)
		r = import_exec(x, "INSERT OR REPLACE INTO members("
		    "transmission_id, idx, name, encoding, records_in, "
		    "delivered, dlq) SELECT ?1, key, json_extract(value, "
		    "'$.member'), json_extract(value, '$.encoding'), "
		    "json_extract(value, '$.records'), json_extract(value, "
		    "'$.delivered'), json_extract(value, '$.dlq') FROM "
		    "json_each(?2, '$.members')", t->id, man);
	if (own) {
		r = store_end(x->st, r);
	}
	if (r == 0)
		td_log(TD_LOG_INFO, "manifest_imported", "transmission_id=%s",
		    t->id);
 out:
	x_free(man);
	return r;
}

/* "NAME":"VALUE" with VALUE as a JSON string (null when not UTF-8). */
static void
put_str(struct td_buf *b, const char *key, const char *v)
{
	td_buf_printf(b, ",\"%s\":", key);
	if (v == NULL || td_json_str(b, v, strlen(v)) != 0)
		td_buf_puts(b, "null");
}

static void
put_members(struct td_ctx *x, struct td_buf *b, const char *tid)
{
	sqlite3_stmt *s;
	const char *name;
	int first = 1;

	td_buf_puts(b, ",\"members\":[");
	s = store_prepare(x->st, "SELECT name, encoding, records_in, "
	    "delivered, dlq FROM members WHERE transmission_id = ? ORDER BY "
	    "idx");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		name = (const char *)sqlite3_column_text(s, 0);
		td_buf_puts(b, first ? "{\"member\":" : ",{\"member\":");
		first = 0;
		if (name == NULL || td_json_str(b, name, (size_t)
		    sqlite3_column_bytes(s, 0)) != 0)
			td_buf_puts(b, "null");
		put_str(b, "encoding", (const char *)sqlite3_column_text(s, 1));
		td_buf_printf(b, ",\"records\":%llu,\"delivered\":%llu,"
		    "\"dlq\":%llu}",
		    (unsigned long long)sqlite3_column_int64(s, 2),
		    (unsigned long long)sqlite3_column_int64(s, 3),
		    (unsigned long long)sqlite3_column_int64(s, 4));
	}
	sqlite3_reset(s);
	td_buf_putc(b, ']');
}

/* Add the decimal text of column i (when not NULL) to *acc. */
static int
add_col(sqlite3_stmt *s, int i, struct td_dec *acc)
{
	const char *txt = (const char *)sqlite3_column_text(s, i);
	struct td_dec v;

	if (txt == NULL)
		return 0;
	if (td_dec_parse(txt, strlen(txt), 0, &v) == 0)
		(void)td_dec_add(acc, &v);
	return 1;
}

/*
 * Counts and control totals: as processing found them, unless the
 * reconciler refused batches; then what the accepted batches hold, and
 * the refused ones' records as dead-lettered (already added to the row
 * once the transmission is delivered).
 */
static void
put_counts(struct td_ctx *x, struct td_buf *b, const struct tx *t)
{
	sqlite3_stmt *s;
	struct td_dec q, a;
	char qs[TD_DEC_STRMAX], as[TD_DEC_STRMAX];
	const char *qt = t->quantity_total, *at = t->amount_total;
	uint64_t deliv = 0, rej = 0, dlq = t->dlq;
	int has_amount = 0;

	memset(&q, 0, sizeof(q));
	memset(&a, 0, sizeof(a));
	s = store_prepare(x->st, "SELECT state = 'rejected', records, "
	    "quantity_total, amount_total FROM batches WHERE transmission_id "
	    "= ?");
	sqlite3_bind_text(s, 1, t->id, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (sqlite3_column_int(s, 0)) {
			rej += (uint64_t)sqlite3_column_int64(s, 1);
			continue;
		}
		deliv += (uint64_t)sqlite3_column_int64(s, 1);
		(void)add_col(s, 2, &q);
		has_amount |= add_col(s, 3, &a);
	}
	sqlite3_reset(s);
	if (rej == 0)
		deliv = t->delivered;
	else {
		if (strcmp(t->state, "delivered") != 0)
			dlq += rej;
		td_dec_format(&q, qs, sizeof(qs));
		td_dec_format(&a, as, sizeof(as));
		qt = qs;
		at = has_amount ? as : NULL;
	}
	td_buf_printf(b, ",\"counts\":{\"records\":%llu,\"delivered\":%llu,"
	    "\"dlq\":%llu,\"held\":%llu,\"duplicate\":%llu",
	    (unsigned long long)t->records_in, (unsigned long long)deliv,
	    (unsigned long long)dlq, (unsigned long long)t->held,
	    (unsigned long long)t->duplicate);
	/* [map] duplicates = sum: rows added into another row's record */
	if (t->summed > 0)
		td_buf_printf(b, ",\"summed\":%llu",
		    (unsigned long long)t->summed);
	/* delivered records whose promo_code promo_file does not know */
	if (t->unknown_promo > 0)
		td_buf_printf(b, ",\"unknown_promo\":%llu",
		    (unsigned long long)t->unknown_promo);
	td_buf_putc(b, '}');
	td_buf_puts(b, ",\"control_totals\":{\"quantity\":");
	if (qt == NULL || td_json_str(b, qt, strlen(qt)) != 0)
		td_buf_puts(b, "\"0\"");
	put_str(b, "amount", at);
	td_buf_putc(b, '}');
}

/*
 * The batch list, from state.db. The rows must be the transmission's
 * batches 1..N, as many as its record says it was cut into: rows lost
 * (a damaged state.db page) or a read that fails are refused loudly,
 * never sent as a manifest that lists fewer batches than it counts.
 */
static int
put_batches(struct td_ctx *x, struct td_buf *b, const struct tx *t)
{
	sqlite3_stmt *s;
	uint64_t n = 0;
	int rc;

	put_str(b, "batch_encoding", t->batch_encoding);
	td_buf_printf(b, ",\"batches\":%llu,\"batch_list\":[",
	    (unsigned long long)t->batches);
	s = store_prepare(x->st, "SELECT seq, records, bytes, sha256, "
	    "idempotency_key FROM batches WHERE transmission_id = ? ORDER BY "
	    "seq");
	sqlite3_bind_text(s, 1, t->id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((uint64_t)sqlite3_column_int64(s, 0) != ++n)
			break;
		td_buf_printf(b, "%s{\"seq\":%llu,\"records\":%llu,"
		    "\"bytes\":%llu", n == 1 ? "" : ",",
		    (unsigned long long)sqlite3_column_int64(s, 0),
		    (unsigned long long)sqlite3_column_int64(s, 1),
		    (unsigned long long)sqlite3_column_int64(s, 2));
		put_str(b, "sha256", (const char *)sqlite3_column_text(s, 3));
		put_str(b, "idempotency_key",
		    (const char *)sqlite3_column_text(s, 4));
		td_buf_putc(b, '}');
	}
	sqlite3_reset(s);
	td_buf_putc(b, ']');
	if (rc == SQLITE_DONE && n == t->batches)
		return TD_OK;
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		/* busy, I/O, memory: tried again; damage is state_corrupt */
		td_log(TD_LOG_WARN, "store_error", "transmission_id=%s "
		    "error=%s message=%s", t->id, sqlite3_errstr(rc),
		    "its batches could not be read from state.db");
		return TD_ERR_IO;
	}
	td_log(TD_LOG_ERROR, "state_inconsistent", "transmission_id=%s "
	    "batches=%llu message=%s", t->id, (unsigned long long)t->batches,
	    "state.db does not hold each of its batches once: its manifest "
	    "is not built (tradedrop(8) RECOVERY)");
	return TD_ERR_STATE;
}

int
manifest_build(struct td_ctx *x, const char *tid, char **out)
{
	struct tx t;
	struct td_buf b;
	char ts[TD_RFC3339_MAX];
	int r;

	*out = NULL;
	if ((r = tx_load(x, tid, &t)) != 0)
		return r;
	if (t.mapping_version == NULL || (strcmp(t.state, "parsed") != 0 &&
	    strcmp(t.state, "delivered") != 0)) {
		r = TD_ERR_NOTFOUND;
		goto out;
	}
	if (t.container == NULL) {
		if ((r = import_staged(x, &t)) != 0)
			goto out;
		tx_free(&t);
		if ((r = tx_load(x, tid, &t)) != 0)
			return r;
		if (t.container == NULL) {
			r = TD_ERR_FORMAT;
			goto out;
		}
	}
	td_rfc3339(t.received_at, ts);
	td_buf_init(&b, 4096, 0);
	td_buf_puts(&b, "{\"schema\":\"tradedrop.transmission.v1\"");
	put_str(&b, "integration", x->integration);
	put_str(&b, "transmission_id", t.id);
	/* tradedrop replay: the transmission whose raw file this is */
	if (t.replay_of != NULL)
		put_str(&b, "replay_of", t.replay_of);
	td_buf_puts(&b, ",\"file\":{\"name\":");
	if (td_json_str(&b, t.name, strlen(t.name)) != 0)
		td_buf_puts(&b, "null");
	td_buf_printf(&b, ",\"size\":%llu", (unsigned long long)t.size);
	put_str(&b, "sha256", t.replay_of != NULL ? t.replay_of : t.id);
	td_buf_putc(&b, '}');
	put_str(&b, "source", t.source);
	put_str(&b, "received_at", ts);
	td_buf_printf(&b, ",\"verification\":%s", t.verification);
	put_str(&b, "encoding", t.encoding);
	put_str(&b, "container", t.container);
	put_str(&b, "format", t.format);
	put_str(&b, "mapping_version", t.mapping_version);
	put_counts(x, &b, &t);
	put_skipped(x, &b, t.id);
	put_members(x, &b, t.id);
	if ((r = put_batches(x, &b, &t)) == 0) {
		td_buf_puts(&b, "}\n");
		*out = xstrdup(td_buf_cstr(&b));	/* transferred */
	}
	td_buf_free(&b);
 out:
	tx_free(&t);
	return r;
}
