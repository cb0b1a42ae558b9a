/*
 * test-metrics.c - the daemon's Prometheus text: histograms are
 * cumulative with +Inf, _sum and _count; a drop's latency is counted
 * once, and only for a name that landed; each source's poll figures
 * are read from its row in state.db, each under its own name; [metrics]
 * listen is refused when it is not an address and port.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "td.h"
#include "buf.h"
#include "clock.h"
#include "conf.h"
#include "metrics.h"
#include "backoff.h"
#include "store.h"
#include "testutil.h"

static const char *MAP = "store_id = column \"S\"\n"
    "gtin = column \"G\" gtin\ntxn_date = column \"D\" date \"%Y-%m-%d\"\n"
    "quantity = column \"Q\" decimal\n";

static int
has(const struct td_buf *b, const char *line)
{
	char *s = xasprintf("\n%s\n", line);
	char *t = xmalloc(b->len + 2);
	int r;

	t[0] = '\n';
	memcpy(t + 1, b->p, b->len);
	t[b->len + 1] = '\0';
	r = strstr(t, s) != NULL;
	if (!r)
		diag("no line: %s", line);
	x_free(s);
	x_free(t);
	return r;
}

static struct td_conf *
conf_with(const char *dir, const char *extra)
{
	char *p = xasprintf("%s/t.conf", dir), *errs = NULL;
	struct td_conf *c = NULL;
	FILE *f;

	(void)td_conf_free(tu_conf(dir, MAP));
	if ((f = fopen(p, "ae")) != NULL) {
		fputs(extra, f);
		fclose(f);
	}
	if (td_conf_load(p, &c, &errs) != 0)
		diag("conf: %s", errs != NULL ? errs : "?");
	x_free(errs);
	x_free(p);
	return c;
}

int
main(void)
{
	char tmpl[] = "/tmp/td-metrics.XXXXXX";
	const char *dir = mkdtemp(tmpl);
	struct td_conf *c;
	struct metrics *m = NULL;
	struct td_buf b;
	char *err = NULL;

	if (dir == NULL)
		return 1;
	c = tu_conf(dir, MAP);
	ok(c != NULL && metrics_new(c, &m, &err) == 0, "metrics without "
	    "listen");
	metrics_file_processed(m, 3000);	/* 3 ms */
	metrics_file_processed(m, 70000);	/* 70 ms */
	metrics_file_processed(m, 2000000);	/* 2 s */
	metrics_landed(m, "a.csv");
	metrics_delivered(m, "a.csv");
	metrics_delivered(m, "a.csv");		/* once only */
	metrics_delivered(m, "never-landed.csv");
	td_buf_init(&b, 0, 0);
	metrics_render(m, &b);
	ok(has(&b, "tradedrop_file_processing_seconds_bucket{le=\"0.005\"} 1"),
	    "3 ms is in the 5 ms bucket");
	ok(has(&b, "tradedrop_file_processing_seconds_bucket{le=\"0.05\"} 1"),
	    "70 ms is not in the 50 ms bucket");
	ok(has(&b, "tradedrop_file_processing_seconds_bucket{le=\"0.1\"} 2"),
	    "buckets are cumulative");
	ok(has(&b, "tradedrop_file_processing_seconds_bucket{le=\"+Inf\"} 3"),
	    "+Inf counts every observation");
	ok(has(&b, "tradedrop_file_processing_seconds_count 3") &&
	    has(&b, "tradedrop_file_processing_seconds_sum 2.073000"),
	    "_count and _sum");
	ok(has(&b, "tradedrop_drop_to_delivered_seconds_count 1"),
	    "a latency only for a file that landed, once");
	ok(has(&b, "tradedrop_files_total{outcome=\"delivered\"} 0") &&
	    has(&b, "tradedrop_sync_lag_seconds 0") &&
	    has(&b, "tradedrop_sync_sla_seconds 93600"),
	    "no state.db yet: zeros, and the default sync_sla");
	ok(has(&b, "# TYPE tradedrop_files_total counter"), "TYPE lines");
	td_buf_free(&b);
	metrics_free(m);
	td_conf_free(c);

	/*
	 * Two SFTP sources with their last polls in state.db, every figure
	 * different: each metric reads its own field of its own source
	 */
	(void)tu_sh(dir, "printf 'pw\\n' > pw && chmod 600 pw && : > kh");
	{
		char *x = xasprintf("[source \"up\"]\nurl = sftp://pos@127.0.0.1:1/a\n"
		    "known_hosts = %s/kh\npassword_file = %s/pw\n"
		    "[source \"down\"]\nurl = sftp://pos@127.0.0.1:1/b\n"
		    "known_hosts = %s/kh\npassword_file = %s/pw\n",
		    dir, dir, dir, dir);

		c = conf_with(dir, x);
		x_free(x);
	}
	{
		struct store *st = NULL;
		struct backoff bk;
		char *sd = xasprintf("%s/state", dir);
		int64_t now = td_time();

		ok(c != NULL && store_open(sd, 0, &st, &err) == 0,
		    "state.db made");
		memset(&bk, 0, sizeof(bk));
		backoff_source_name(bk.name, "up");
		bk.last_at = 1700000005;
		snprintf(bk.last_result, sizeof(bk.last_result), "ok");
		bk.last_count = 2;
		bk.last_refused = 4;
		ok(backoff_save(st, &bk) == 0, "source up: 4 names refused");
		memset(&bk, 0, sizeof(bk));
		backoff_source_name(bk.name, "down");
		bk.last_at = 1700000009;
		bk.failures = 7;
		bk.opened_at = now;
		bk.next_at = now + 3600;
		snprintf(bk.last_result, sizeof(bk.last_result), "connect");
		ok(backoff_save(st, &bk) == 0,
		    "source down: 7 failures, breaker open");
		ok(metrics_source_ok_save(st, "up", 1700000004) == 0 &&
		    metrics_source_ok_save(st, "down", 1699990001) == 0,
		    "each source's last good poll");
		store_close(st);
		x_free(sd);
		ok(metrics_new(c, &m, &err) == 0, "metrics over that state.db");
		td_buf_init(&b, 0, 0);
		metrics_render(m, &b);
		ok(has(&b, "tradedrop_source_refused_names{source=\"up\"} 4") &&
		    has(&b, "tradedrop_source_refused_names{source=\"down\"} 0"),
		    "refused names: 4 for up, 0 for down");
		ok(has(&b, "tradedrop_last_poll_timestamp_seconds"
		    "{source=\"up\"} 1700000005") &&
		    has(&b, "tradedrop_last_poll_timestamp_seconds"
		    "{source=\"down\"} 1700000009"),
		    "last poll of each source");
		ok(has(&b, "tradedrop_source_poll_failures{source=\"up\"} 0") &&
		    has(&b, "tradedrop_source_poll_failures{source=\"down\"} 7"),
		    "failures of each source");
		ok(has(&b, "tradedrop_source_breaker_open{source=\"up\"} 0") &&
		    has(&b, "tradedrop_source_breaker_open{source=\"down\"} 1"),
		    "the breaker open for down only");
		ok(has(&b, "tradedrop_source_last_good_poll_timestamp_seconds"
		    "{source=\"up\"} 1700000004") &&
		    has(&b, "tradedrop_source_last_good_poll_timestamp_seconds"
		    "{source=\"down\"} 1699990001"),
		    "last good poll of each source");
		{
			char *w = xasprintf("tradedrop_source_backoff_until_"
			    "timestamp_seconds{source=\"down\"} %lld",
			    (long long)(now + 3600));

			ok(has(&b, "tradedrop_source_backoff_until_timestamp_"
			    "seconds{source=\"up\"} 0") && has(&b, w),
			    "backoff until: the open breaker's next probe for "
			    "down, 0 for up");
			x_free(w);
		}
		td_buf_free(&b);
		metrics_free(m);
		m = NULL;
	}
	td_conf_free(c);

	c = conf_with(dir, "[metrics]\nlisten = localhost:9464\n");
	m = NULL;
	ok(c != NULL && metrics_new(c, &m, &err) == TD_ERR_INVAL && m == NULL,
	    "a host name as listen is refused");
	ok(err != NULL && strstr(err, "listen = localhost:9464") != NULL,
	    "and named");
	x_free(err);
	err = NULL;
	td_conf_free(c);
	c = conf_with(dir, "[metrics]\nlisten = 127.0.0.1:70000\n");
	ok(c != NULL && metrics_new(c, &m, &err) == TD_ERR_INVAL,
	    "a port above 65535 is refused");
	x_free(err);
	td_conf_free(c);
	(void)tu_sh("/", "rm -rf '%s'", dir);
	return done_testing();
}
