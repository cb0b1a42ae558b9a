/*
 * test-backoff.c - the breaker and backoff of agent/backoff.c with an
 * injected clock and an injected draw: the output's breaker opens at its
 * threshold for a fixed cooldown, is half-open after it, a failed probe
 * opens it again, a success closes it; an SFTP source's wait grows
 * 5, 10, 20 ... up to 900 s with full jitter; retries wait up to
 * min(2^n, max) s; the state survives state.db being closed, and
 * state.db version 1's meta rows are migrated.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "tap.h"
#include "td.h"
#include "fsutil.h"
#include "store.h"
#include "backoff.h"

static uint32_t last_upper;	/* what the last draw was asked for */
static int draw_max;		/* 1: draw upper - 1, 0: draw 0 */

static uint32_t
fake_uniform(uint32_t upper)
{
	last_upper = upper;
	return draw_max ? upper - 1 : 0;
}

/* An output: opens at 3 failures, for 60 s, always 60 s. */
static void
test_output(void)
{
	struct backoff_policy p = { .threshold = 3, .cooldown = 60,
	    .cooldown_max = 60, .retry_max = 2, .uniform = fake_uniform };
	struct backoff b;

	memset(&b, 0, sizeof(b));
	is_int(backoff_state(&b, 1000), BACKOFF_CLOSED, "new: closed");
	is_int(backoff_failed(&b, &p, 1000), 0, "1st failure: stays closed");
	is_int(backoff_failed(&b, &p, 1001), 0, "2nd failure: stays closed");
	is_int(backoff_state(&b, 1001), BACKOFF_CLOSED, "closed at 2");
	is_int(b.failures, 2, "two failures counted");
	is_int(backoff_failed(&b, &p, 1002), 1, "3rd failure opens it");
	ok(b.opened_at == 1002 && b.next_at == 1062, "open from 1002 to 1062 "
	    "(%lld, %lld)", (long long)b.opened_at, (long long)b.next_at);
	is_int(backoff_state(&b, 1061), BACKOFF_OPEN, "open 1 s before");
	is_int(backoff_state(&b, 1062), BACKOFF_HALF_OPEN,
	    "half-open when the cooldown is over");
	is_str(backoff_state_name(backoff_state(&b, 1062)), "half-open",
	    "named half-open");
	is_int(backoff_failed(&b, &p, 1070), 1, "a failed probe opens it "
	    "again");
	ok(b.next_at == 1130 && b.failures == 4, "for the same cooldown, "
	    "from the probe (%lld), 4 failures", (long long)b.next_at);
	is_int(backoff_state(&b, 1069), BACKOFF_HALF_OPEN, "the clock stepped "
	    "back past its opening: a probe, not a wait as long as the step");
	is_int(backoff_state(&b, 1070 - 3 * 3600), BACKOFF_HALF_OPEN,
	    "3 h back: a probe");
	is_int(backoff_succeeded(&b), 1, "a success closes it (said once)");
	ok(b.failures == 0 && b.opened_at == 0 && b.next_at == 0 &&
	    backoff_state(&b, 1130) == BACKOFF_CLOSED, "closed, count cleared");
	is_int(backoff_succeeded(&b), 0, "another success: nothing to say");
	is_int(backoff_failed(&b, &p, 2000), 0, "a failure after a success "
	    "counts from 1");
	is_int(backoff_succeeded(&b), 1, "a success ends a run of failures "
	    "that did not open it");
}

/* An SFTP source: 5 failures, then waits drawn in 1..5, 10, ... 900. */
static void
test_source(void)
{
	static const uint32_t caps[] = { 5, 10, 20, 40, 80, 160, 320, 640,
	    900, 900, 900 };
	struct backoff_policy p = { .threshold = 5, .cooldown = 5,
	    .cooldown_max = 900, .grow = 1, .jitter = 1,
	    .uniform = fake_uniform };
	struct backoff b;
	size_t i, good = 0;
	int64_t t = 5000;

	memset(&b, 0, sizeof(b));
	for (i = 0; i < 4; i++)
		(void)backoff_failed(&b, &p, t);
	is_int(backoff_state(&b, t), BACKOFF_CLOSED, "4 failures: closed");
	draw_max = 1;
	for (i = 0; i < TD_NELEM(caps); i++) {
		/* each probe fails as soon as it may go */
		if (backoff_failed(&b, &p, t) == 1 && last_upper == caps[i] &&
		    b.next_at == t + (int64_t)caps[i])
			good++;
		else
			diag("failure %u: drew in [0, %u), next in %lld s",
			    b.failures, last_upper, (long long)(b.next_at - t));
		t = b.next_at;
	}
	is_int(good, TD_NELEM(caps), "waits of at most 5, 10, 20 ... 640, "
	    "then 900 s, each from the failure");
	draw_max = 0;
	(void)backoff_failed(&b, &p, t);
	is_int(b.next_at - t, 1, "full jitter: the least wait is 1 s");
	is_int(backoff_state(&b, t), BACKOFF_OPEN, "open until then");
	is_int(backoff_state(&b, t + 1), BACKOFF_HALF_OPEN, "then a probe");
}

static void
test_retry(void)
{
	struct backoff_policy p = { .retry_max = 3, .uniform = fake_uniform };
	static const unsigned n[] = { 0, 1, 2, 3, 19, 20, 4000 };
	static const uint32_t upper[] = { 1001, 2001, 3001, 3001, 3001, 3001,
	    3001 };
	size_t i;

	draw_max = 1;
	for (i = 0; i < TD_NELEM(n); i++) {
		is_int(backoff_retry_ms(&p, n[i]), upper[i] - 1,
		    "retry %u: waits up to %u ms", n[i], upper[i] - 1);
		is_int(last_upper, upper[i], "retry %u: drawn from [0, %u]",
		    n[i], upper[i] - 1);
	}
	draw_max = 0;
	is_int(backoff_retry_ms(&p, 5), 0, "full jitter: no wait at all is "
	    "possible");
	p.uniform = NULL;
	for (i = 0; i < 200; i++)
		if (backoff_retry_ms(&p, 1) > 2000)
			break;
	is_int(i, 200, "libsodium's draws stay within the cap");
}

static void
test_store(const char *dir)
{
	struct store *st;
	struct backoff b, c;
	char name[BACKOFF_MAXNAME], *err = NULL, *state, *db;
	sqlite3 *h;

	state = xasprintf("%s/state", dir);
	ok(store_open(state, 0, &st, &err) == 0, "state.db opened");
	if (st == NULL)
		td_fatal("%s", err);
	ok(backoff_load(st, BACKOFF_OUTPUT, &b) == 0 && b.failures == 0 &&
	    b.opened_at == 0 && b.last_at == 0 &&
	    strcmp(b.name, "output") == 0, "absent: closed, never tried");
	backoff_source_name(name, "acme-sftp");
	is_str(name, "source:acme-sftp", "a source's breaker name");
	memset(&b, 0, sizeof(b));
	snprintf(b.name, sizeof(b.name), "%s", name);
	b.failures = 7;
	b.opened_at = 1700000000;
	b.next_at = 1700000040;
	b.last_at = 1700000001;
	snprintf(b.last_result, sizeof(b.last_result), "unreachable");
	b.last_count = 2;
	ok(backoff_save(st, &b) == 0, "saved");
	store_close(st);
	ok(store_open(state, 1, &st, &err) == 0, "reopened read-only");
	ok(backoff_load(st, name, &c) == 0 && memcmp(&b, &c, sizeof(b)) == 0,
	    "the same breaker read back after a close");
	store_close(st);

	/* a state.db of schema 1 kept these in meta */
	x_free(state);
	state = xasprintf("%s/old", dir);
	db = xasprintf("%s/state.db", state);
	if (td_mkdirs(state, 0750) != 0)
		td_fatal("mkdir %s", state);
	if (sqlite3_open(db, &h) != SQLITE_OK || sqlite3_exec(h,
	    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	    "CREATE TABLE transmissions (id TEXT);"
	    "CREATE TABLE remote_files (source TEXT NOT NULL, path TEXT NOT "
	    "NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL, state TEXT "
	    "NOT NULL, first_seen INTEGER NOT NULL, fetched_at INTEGER, "
	    "PRIMARY KEY (source, path, size, mtime));"
	    "INSERT INTO meta VALUES ('breaker', '4 1700000000');"
	    "INSERT INTO meta VALUES ('source:acme', '1700000100 refused 3');"
	    "INSERT INTO meta VALUES ('other', 'kept');"
	    "PRAGMA user_version = 1;", NULL, NULL, NULL) != SQLITE_OK)
		td_fatal("schema 1: %s", sqlite3_errmsg(h));
	sqlite3_close(h);
	ok(store_open(state, 0, &st, &err) == 0, "schema 1 migrated");
	if (st == NULL)
		td_fatal("%s", err);
	ok(backoff_load(st, BACKOFF_OUTPUT, &b) == 0 && b.failures == 4 &&
	    b.opened_at == 1700000000 && backoff_state(&b, 1700000001) ==
	    BACKOFF_HALF_OPEN, "the open breaker kept, its 4 failures, and "
	    "it may probe at once");
	ok(backoff_load(st, "source:acme", &b) == 0 && b.last_at ==
	    1700000100 && strcmp(b.last_result, "refused") == 0 &&
	    b.last_count == 3 && b.failures == 0, "a source's last poll "
	    "kept: time, result, files fetched");
	{
		int64_t v = -1;

		(void)store_query_int(st, "SELECT count(*) FROM meta", -1, &v);
		is_int(v, 1, "and moved out of meta, other rows left");
	}
	store_close(st);
	x_free(db);
	x_free(state);
}

int
main(void)
{
	char dir[] = "/tmp/td-test-backoff.XXXXXX", *cmd;

	if (mkdtemp(dir) == NULL)
		td_fatal("mkdtemp");
	test_output();
	test_source();
	test_retry();
	test_store(dir);
	cmd = xasprintf("rm -rf '%s'", dir);
	(void)!system(cmd);
	x_free(cmd);
	return done_testing();
}
