/*
 * cmd-prune.c - the `prune` command: retention. Archive entries (raw
 * file, records, manifest) and dead-letter files of delivered
 * transmissions received more than retain_days ago are removed, each
 * removal audited. A quarantined file, a dropped one (its decision is
 * the record), and a transmission with a record still held are never
 * pruned. The transmission's row and its record keys stay: a drop of
 * the same bytes is still a duplicate, and Tier 4 still knows what was
 * delivered.
 *
 * The daemon runs the same retention itself (prune_expired, in its
 * intake worker: worker.c), at start and every day; the command, which
 * needs the lock, is for a state_dir no daemon runs on. --dry-run takes
 * no lock and only reads.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "td.h"
#include "clock.h"
#include "audit.h"
#include "buf.h"
#include "conf.h"
#include "date.h"
#include "failpoint.h"
#include "fsutil.h"
#include "json.h"
#include "log.h"
#include "store.h"
#include "ctx.h"
#include "outbox.h"
#include "agent.h"

#define PUSAGE "prune [-c FILE] [--dry-run]"

struct victim {
	char	*id, *name, *adir, *enc;	/* enc: batch_encoding or NULL */
	int64_t	 received_at;
};

/* Remove what a pruned transmission left on disk. */
static void
remove_entry(struct td_ctx *x, const struct victim *v)
{
	sqlite3_stmt *s;
	char *p, *name;

	p = xasprintf("%s/%s", x->state_dir, v->adir);
	(void)td_remove_tree(p, x->state_dir);
	(void)td_fsync_parent(p);
	x_free(p);
	p = xasprintf("%s/%s.ndjson", x->dlq, v->id);
	if (unlink(p) == 0)
		(void)td_fsync_parent(p);
	x_free(p);
	/* the files of its batches the reconciler refused */
	s = store_prepare(x->st, "SELECT seq FROM batches WHERE "
	    "transmission_id = ? AND state = 'rejected'");
	sqlite3_bind_text(s, 1, v->id, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		name = outbox_batch_name(v->id, (uint64_t)
		    sqlite3_column_int64(s, 0), v->enc != NULL ?
		    outbox_encoding(v->enc) : x->enc);
		p = xasprintf("%s/%s", x->dlq, name);
		if (unlink(p) == 0)
			(void)td_fsync_parent(p);
		x_free(p);
		x_free(name);
	}
	sqlite3_reset(s);
}

static int
prune_one(struct td_ctx *x, const struct victim *v)
{
	struct td_buf b;
	sqlite3_stmt *s;
	char ts[TD_RFC3339_MAX];
	int r;

	td_rfc3339(v->received_at, ts);
	td_buf_init(&b, 256, 0);
	td_buf_puts(&b, "\"file\":");
	if (td_json_str(&b, v->name, strlen(v->name)) != 0)
		td_buf_puts(&b, "null");
	td_buf_printf(&b, ",\"received_at\":\"%s\",\"archive_dir\":", ts);
	td_json_str_lossy(&b, v->adir, strlen(v->adir));
	td_buf_printf(&b, ",\"retain_days\":%llu", (unsigned long long)
	    td_conf_u64(x->conf, TDK_integration_retain_days));
	if (td_failpoint_eio("prune_record") != 0) {
		r = TD_ERR_IO;
		goto out;
	}
	if ((r = store_begin(x->st)) != 0)
		goto out;
	s = store_prepare(x->st, "UPDATE transmissions SET pruned_at = ? "
	    "WHERE id = ?");
	sqlite3_bind_int64(s, 1, (sqlite3_int64)td_time());
	sqlite3_bind_text(s, 2, v->id, -1, SQLITE_STATIC);
	r = store_step_done(x->st, s);
	if (r == 0)
		r = audit_append(x->audit, "archive_pruned", v->id,
		    td_buf_cstr(&b));
	r = store_end(x->st, r);
 out:
	td_buf_free(&b);
	return r;
}

/*
 * The transmissions due: delivered, received before cutoff, not yet
 * pruned, with no record held. 0 or TD_ERR_STATE.
 */
static int
prune_select(struct store *st, int64_t cutoff, struct victim **vp,
    size_t *np)
{
	struct victim *v = NULL;
	sqlite3_stmt *s;
	size_t n = 0;
	int e;

	s = store_prepare(st, "SELECT id, name, archive_dir, received_at, "
	    "batch_encoding FROM transmissions t WHERE received_at < ? "
	    "AND pruned_at IS NULL AND state = 'delivered' AND NOT EXISTS (SELECT 1 FROM holds h "
	    "WHERE h.transmission_id = t.id AND h.state = 'held') ORDER BY "
	    "seq");
	sqlite3_bind_int64(s, 1, (sqlite3_int64)cutoff);
	while ((e = sqlite3_step(s)) == SQLITE_ROW) {
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n].id = xstrdup((const char *)sqlite3_column_text(s, 0));
		v[n].name = xstrdup((const char *)sqlite3_column_text(s, 1));
		v[n].adir = xstrdup((const char *)sqlite3_column_text(s, 2));
		v[n].received_at = sqlite3_column_int64(s, 3);
		v[n].enc = sqlite3_column_type(s, 4) == SQLITE_NULL ? NULL :
		    xstrdup((const char *)sqlite3_column_text(s, 4));
		n++;
	}
	sqlite3_reset(s);
	*vp = v;
	*np = n;
	return e == SQLITE_DONE ? TD_OK : TD_ERR_STATE;
}

int
prune_expired(const struct td_conf *c, struct store *st, struct td_ctx *x,
    int how, size_t *np)
{
	struct victim *v = NULL;
	uint64_t days = td_conf_u64(c, TDK_integration_retain_days);
	size_t n = 0, i;
	int r;

	*np = 0;
	r = prune_select(x != NULL ? x->st : st, td_time() - (int64_t)days *
	    86400, &v, &n);
	for (i = 0; r == 0 && i < n; i++) {
		char ts[TD_RFC3339_MAX], *t;

		if (how != PRUNE_DRY) {
			/* removed, then recorded: a stop in between leaves
			 * it to the next run, which records it then */
			remove_entry(x, &v[i]);
			if ((r = prune_one(x, &v[i])) != 0)
				break;
			(*np)++;
		}
		td_rfc3339(v[i].received_at, ts);
		if (how == PRUNE_LOG) {
			td_log(TD_LOG_INFO, "archive_pruned", "transmission_id=%s "
			    "received_at=%s file=%s retain_days=%llu", v[i].id,
			    ts, v[i].name, (unsigned long long)days);
			continue;
		}
		printf("%s %s %s %s\n", how == PRUNE_DRY ? "would prune" :
		    "pruned", v[i].id, ts, cmd_tty(v[i].name, &t));
		x_free(t);
	}
	if (how == PRUNE_DRY)
		*np = r == 0 ? n : 0;
	for (i = 0; i < n; i++) {
		x_free(v[i].id);
		x_free(v[i].name);
		x_free(v[i].adir);
		x_free(v[i].enc);
	}
	x_free(v);
	return r;
}

/*
 * --dry-run changes nothing: state.db opened read-only, without the
 * lock, beside a running daemon as `status` is.
 */
static int
prune_dry(struct td_conf *c)
{
	const char *sd = td_conf_str(c, TDK_integration_state_dir);
	struct store *st = NULL;
	char *err = NULL, *dbp;
	size_t n;
	int r;

	dbp = xasprintf("%s/state.db", sd);
	r = access(dbp, F_OK);
	x_free(dbp);
	if (r != 0)
		return 0;	/* nothing was ever received */
	if (store_open(sd, 1, &st, &err) != 0) {
		fprintf(stderr, "tradedrop: %s\n", err);
		x_free(err);
		return EXIT_INTERNAL;
	}
	r = prune_expired(c, st, NULL, PRUNE_DRY, &n);
	store_close(st);
	if (r != 0) {
		fprintf(stderr, "tradedrop: %s/state.db: %s\n", sd,
		    td_errstr(r));
		return EXIT_INTERNAL;
	}
	return 0;
}

int
cmd_prune(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct td_ctx x;
	struct td_conf *c;
	const char *path;
	size_t n;
	int dry = 0, rc, r;

	if (cmd_conf_opt(argc, argv, PUSAGE, &path, longopts, &dry) != 0 ||
	    optind != argc) {
		if (optind != argc)
			fprintf(stderr, "usage: tradedrop " PUSAGE "\n");
		return EXIT_USAGE;
	}
	if ((c = td_load_conf_or_report(path)) == NULL)
		return EXIT_USAGE;
	if (dry) {
		rc = prune_dry(c);
		td_conf_free(c);
		return rc;
	}
	if ((rc = cmd_ctx_open(&x, c)) != 0) {
		if (rc == EXIT_ONCE_UNDELIVERED)
			fprintf(stderr, "tradedrop: if that is the daemon "
			    "(tradedrop run), it prunes by itself, at start "
			    "and every day (its log: event=prune_done); "
			    "`tradedrop prune --dry-run` lists what is due\n");
		td_conf_free(c);
		return rc;
	}
	rc = 0;
	if ((r = prune_expired(c, NULL, &x, PRUNE_PRINT, &n)) != 0) {
		fprintf(stderr, "tradedrop: prune: %s (after %zu pruned)\n",
		    td_errstr(r), n);
		rc = EXIT_INTERNAL;
	}
	ctx_close(&x);
	td_conf_free(c);
	return rc;
}
