/*
 * test-deliver.c - deliver_step is driven from the outside: with the
 * reconciler unreachable, a step makes one attempt and returns at once
 * with the time of the retry instead of sleeping; a call before that time
 * sends nothing; the backoff grows with each failure of the same request;
 * the failures are kept in state.db; when the breaker opens the step
 * fails, says when the breaker lets a probe through, and the run is
 * marked undelivered, the batch still spooled; the next run finds it
 * open and makes no attempt.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "td.h"
#include "conf.h"
#include "fsutil.h"
#include "store.h"
#include "ctx.h"
#include "intake.h"
#include "deliver.h"

/* A count from state.db, or -1 when the query fails. */
static int64_t
qint(struct store *st, const char *sql)
{
	int64_t v;

	return store_query_int(st, sql, 0, &v) == 0 ? v : -1;
}

/* The consecutive failures of the output's breaker, as state.db keeps them. */
static int64_t
failures(struct td_ctx *x)
{
	int64_t v;

	return store_query_int(x->st, "SELECT failures FROM backoff WHERE "
	    "name = 'output'", -1, &v) == 0 ? v : -1;
}

int
main(void)
{
	char dir[] = "/tmp/td-test-deliver.XXXXXX", *conf, *text, *err = NULL;
	char *land, *csv, *cmd;
	struct td_conf *c = NULL;
	struct deliverer *d;
	struct td_ctx x;
	struct timeval old[2];
	int64_t t0, t1, next, next2, next3;
	int r;

	if (mkdtemp(dir) == NULL)
		td_fatal("mkdtemp");
	conf = xasprintf("%s/t.conf", dir);
	text = xasprintf("[integration]\nname = acme\nstate_dir = %s/state\n"
	    "[watch]\nsettle = 0s\n"
	    "[map]\nstore_id = column \"Store\"\ngtin = column \"UPC\" gtin\n"
	    "txn_date = column \"Date\" date \"%%Y-%%m-%%d\"\n"
	    "quantity = column \"Units\" decimal\n"
	    "[output]\nurl = https://127.0.0.1:1/api\ntimeout = 2s\n"
	    "max_backoff = 2s\nbreaker_failures = 3\n", dir);
	if (td_write_file_atomic(conf, text, strlen(text)) != 0 ||
	    td_conf_load(conf, &c, &err) != 0)
		td_fatal("config: %s", err ? err : "cannot write");
	ok(ctx_open(&x, c, 1) == 0, "state opened");
	land = xasprintf("%s/state/landing", dir);
	csv = xasprintf("%s/a.csv", land);
	x_free(text);
	text = xstrdup("Store,UPC,Date,Units\n1,041000001239,2026-11-28,3\n");
	if (td_mkdirs(land, 0750) != 0 ||
	    td_write_file_atomic(csv, text, strlen(text)) != 0)
		td_fatal("cannot write %s", csv);
	memset(old, 0, sizeof(old));
	old[0].tv_sec = old[1].tv_sec = time(NULL) - 3600;
	(void)utimes(csv, old);		/* long settled */
	(void)intake_landing(&x, 0);
	is_int(qint(x.st, "SELECT count(*) FROM transmissions "
	    "WHERE state = 'parsed'"), 1, "a transmission to deliver");

	d = deliver_new(&x);
	t0 = deliver_clock_ms();
	r = deliver_step(d, t0, &next);
	t1 = deliver_clock_ms();
	is_int(r, DELIVER_WAIT, "unreachable: the step asks to be called "
	    "again");
	ok(t1 - t0 < 1500, "and returns without sleeping (%lld ms)",
	    (long long)(t1 - t0));
	ok(next >= t0 && next <= t1 + 1000, "the first retry within 1 s "
	    "(in %lld ms)", (long long)(next - t1));
	is_int(failures(&x), 1, "one failure counted");

	r = deliver_step(d, next - 1, &next2);
	ok(r == DELIVER_WAIT && next2 == next, "called early: nothing sent, "
	    "the same time again");
	is_int(failures(&x), 1, "still one failure");

	/* due now: the clock is not looked at to tell, only now_ms */
	t0 = deliver_clock_ms();
	r = deliver_step(d, next, &next3);
	t1 = deliver_clock_ms();
	is_int(r, DELIVER_WAIT, "the retry fails too");
	is_int(failures(&x), 2, "two failures");
	ok(next3 >= t0 && next3 <= t1 + 2000, "the next retry within 2 s "
	    "(in %lld ms)", (long long)(next3 - t1));

	t0 = deliver_clock_ms();
	r = deliver_step(d, next3, &next);
	ok(r < 0, "the third failure opens the breaker: the step fails");
	ok(next >= t0 + 50000 && next <= deliver_clock_ms() + 60000,
	    "and says when it lets a probe through: after breaker_cooldown "
	    "(in %lld ms)", (long long)(next - t0));
	ok(x.run.undelivered, "the run is marked undelivered");
	is_int(qint(x.st, "SELECT count(*) FROM batches WHERE "
	    "state = 'pending'"), 1, "the batch stays spooled");
	deliver_free(d);
	is_int(failures(&x), 3, "three failures kept in state.db");

	/* the next run finds the breaker open and makes no attempt */
	x.run.undelivered = 0;
	d = deliver_new(&x);
	t0 = deliver_clock_ms();
	r = deliver_step(d, t0, &next);
	ok(r < 0 && x.run.undelivered, "the next run: the breaker is still "
	    "open, the step fails");
	ok(next > t0 && next <= deliver_clock_ms() + 60000, "and says when "
	    "it lets a probe through");
	is_int(failures(&x), 3, "and no attempt was made");
	deliver_free(d);

	ctx_close(&x);
	td_conf_free(c);
	cmd = xasprintf("rm -rf '%s'", dir);
	(void)!system(cmd);
	x_free(cmd);
	x_free(conf);
	x_free(text);
	x_free(land);
	x_free(csv);
	return done_testing();
}
