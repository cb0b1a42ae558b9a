/*
 * cmd-hold.c - the `hold` command: Tier 4 restatements held by
 * on_restatement = hold, and the finance override on one: approve
 * (delivered with `restates`) or reject (never delivered), each with a
 * reason, audited.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "td.h"
#include "conf.h"
#include "date.h"
#include "store.h"
#include "ctx.h"
#include "ledger.h"
#include "agent.h"

#define HUSAGE "hold [-c FILE] list | show ID | approve ID --reason TEXT " \
	"| reject ID --reason TEXT"

static int
resolve_rid(struct store *st, const char *id, char out[TD_ID_HEX])
{
	return cmd_resolve(st, "SELECT record_id FROM holds WHERE "
	    "substr(record_id, 1, ?1) = ?2 LIMIT 2", "held record", id, out,
	    TD_ID_HEX - 1);
}

static int
h_list(struct store *st)
{
	sqlite3_stmt *s;
	char ts[TD_RFC3339_MAX], *t;
	int n = 0;

	s = store_prepare(st, "SELECT h.record_id, h.created_at, h.restates, "
	    "h.transmission_id, t.name FROM holds h JOIN transmissions t ON "
	    "t.id = h.transmission_id WHERE h.state = 'held' ORDER BY "
	    "h.created_at, h.record_id");
	while (sqlite3_step(s) == SQLITE_ROW) {
		td_rfc3339(sqlite3_column_int64(s, 1), ts);
		printf("%s %s restatement restates=%s transmission_id=%s "
		    "file=%s\n", (const char *)sqlite3_column_text(s, 0), ts,
		    (const char *)sqlite3_column_text(s, 2),
		    (const char *)sqlite3_column_text(s, 3),
		    cmd_tty((const char *)sqlite3_column_text(s, 4), &t));
		x_free(t);
		n++;
	}
	sqlite3_reset(s);
	if (n == 0)
		printf("nothing is held\n");
	return 0;
}

static int
h_show(struct store *st, const struct td_conf *c, const char *id)
{
	sqlite3_stmt *s;
	char rid[TD_ID_HEX];
	const char *by;
	char *t, *carg;
	int r = 1;

	if (resolve_rid(st, id, rid) != 0)
		return 1;
	s = store_prepare(st, "SELECT state, transmission_id, restates, "
	    "record, decided_by, decision_reason FROM holds WHERE "
	    "record_id = ?");
	sqlite3_bind_text(s, 1, rid, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		printf("record %s\nstate: %s\ncode: restatement (tier 4)\n"
		    "transmission_id: %s\nrestates: %s\nrecord: %s",
		    rid, (const char *)sqlite3_column_text(s, 0),
		    (const char *)sqlite3_column_text(s, 1),
		    (const char *)sqlite3_column_text(s, 2),
		    (const char *)sqlite3_column_text(s, 3));
		by = (const char *)sqlite3_column_text(s, 4);
		if (by != NULL) {
			printf("decided by: %s\n", cmd_tty(by, &t));
			x_free(t);
			printf("reason: %s\n", cmd_tty((const char *)
			    sqlite3_column_text(s, 5), &t));
			x_free(t);
		} else {
			carg = ctx_conf_arg(c);
			printf("next: `tradedrop hold %s approve %s --reason "
			    "TEXT` delivers it with restates; `tradedrop hold "
			    "%s reject %s --reason TEXT` never does\n", carg,
			    rid, carg, rid);
			x_free(carg);
		}
		r = 0;
	}
	sqlite3_reset(s);
	return r;
}

static int
h_decide(struct td_conf *c, const char *verb, const char *id,
    const char *reason)
{
	struct td_ctx x;
	char rid[TD_ID_HEX], tid[TD_SHA256_HEX];
	int rc, yes = strcmp(verb, "approve") == 0;

	if ((rc = cmd_ctx_open(&x, c)) != 0)
		return rc;
	if (resolve_rid(x.st, id, rid) != 0 || ledger_decide(&x, rid, yes,
	    reason, cmd_decider(), tid) != 0) {
		ctx_close(&x);
		return 1;
	}
	printf("record %s %s\n", rid, yes ? "approved" : "rejected");
	rc = 0;
	if (yes) {
		/* its batch, then the transmission's manifest again */
		deliver_all(&x);
		if (x.run.undelivered)
			rc = EXIT_ONCE_UNDELIVERED;
	}
	ctx_close(&x);
	return rc;
}

int
cmd_hold(int argc, char **argv)
{
	static const struct cmd_verbs v = {
		"hold", HUSAGE, "approve", "reject", 1, "nothing is held",
		h_list, h_show, h_decide
	};

	return cmd_decide_main(argc, argv, &v);
}
