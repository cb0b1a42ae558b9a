/*
 * cmd-status.c - the `status` command: what state.db says of an integration.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "td.h"
#include "audit.h"
#include "buf.h"
#include "conf.h"
#include "failpoint.h"
#include "fsutil.h"
#include "hash.h"
#include "json.h"
#include "log.h"
#include "store.h"
#include "map.h"
#include "process.h"
#include "intake.h"
#include "deliver.h"
#include "backoff.h"
#include "sftp.h"
#include "agent.h"

/*
 * The last poll of a source (last_at 0: never), its result and files
 * fetched, and its breaker.
 */
static void
source_status(struct store *st, const char *name, struct backoff *b)
{
	char k[BACKOFF_MAXNAME];

	backoff_source_name(k, name);
	if (st == NULL || backoff_load(st, k, b) != 0)
		memset(b, 0, sizeof(*b));
}

static int q1_failed;	/* a status query failed: status exits 1 */

static int64_t
q1(struct store *st, const char *sql)
{
	int64_t v;

	if (store_query_int(st, sql, 0, &v) != 0)
		q1_failed = 1;
	return v;
}

int
cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char *path, *sd;
	struct td_conf *c;
	struct store *st = NULL;
	char *err = NULL, *dbp;
	int json = 0;
	struct backoff brk, sb;
	unsigned bfail = 0;
	const char *bstate;
	size_t i;
	int64_t t_recv, t_parsed, t_deliv, t_quar, t_dup, r_in, r_deliv,
	    r_dlq, r_pending, ob_batches, ob_bytes, oldest, now, r_held,
	    r_rdup, r_quar, r_sum, r_promo;

	if (cmd_conf_opt(argc, argv, "status [-c FILE] [--json]", &path,
	    longopts, &json) != 0 || optind != argc) {
		if (optind != argc)
			fprintf(stderr, "usage: tradedrop status [-c FILE] "
			    "[--json]\n");
		return EXIT_USAGE;
	}
	if ((c = td_load_conf_or_report(path)) == NULL)
		return EXIT_USAGE;
	sd = td_conf_str(c, TDK_integration_state_dir);
	dbp = xasprintf("%s/state.db", sd);
	if (access(dbp, F_OK) == 0 && store_open(sd, 1, &st, &err) != 0) {
		fprintf(stderr, "tradedrop: %s\n", err);
		x_free(err);
		x_free(dbp);
		td_conf_free(c);
		return 1;
	}
	x_free(dbp);
	t_recv = t_parsed = t_deliv = t_quar = t_dup = r_in = r_deliv = 0;
	r_dlq = r_pending = ob_batches = ob_bytes = r_held = r_rdup = r_quar = r_sum = 0;
	r_promo = 0;
	oldest = -1;
	now = (int64_t)time(NULL);
	memset(&brk, 0, sizeof(brk));
	if (st != NULL) {
		t_recv = q1(st, "SELECT count(*) FROM transmissions WHERE "
		    "state = 'received'");
		t_parsed = q1(st, "SELECT count(*) FROM transmissions WHERE "
		    "state = 'parsed'");
		t_deliv = q1(st, "SELECT count(*) FROM transmissions WHERE "
		    "state = 'delivered'");
		t_quar = q1(st, "SELECT count(*) FROM transmissions WHERE "
		    "state = 'quarantined'");
		t_dup = q1(st, "SELECT count(*) FROM duplicate_drops");
		r_in = q1(st, "SELECT total(records_in) FROM transmissions "
		    "WHERE state IN ('parsed', 'delivered', 'quarantined')");
		r_quar = q1(st, "SELECT total(records_in - dlq) FROM "
		    "transmissions WHERE state = 'quarantined'");
		r_sum = q1(st, "SELECT total(summed) FROM transmissions "
		    "WHERE state IN ('parsed', 'delivered')");
		r_promo = q1(st, "SELECT total(unknown_promo) FROM "
		    "transmissions WHERE state IN ('parsed', 'delivered')");
		r_deliv = q1(st, "SELECT total(delivered) FROM transmissions "
		    "WHERE state = 'delivered'");
		r_pending = q1(st, "SELECT total(delivered) FROM "
		    "transmissions WHERE state = 'parsed'");
		r_dlq = q1(st, "SELECT total(dlq) FROM transmissions WHERE "
		    "state IN ('parsed', 'delivered', 'quarantined')");
		r_held = q1(st, "SELECT total(held) FROM transmissions WHERE "
		    "state IN ('parsed', 'delivered')");
		r_rdup = q1(st, "SELECT total(duplicate) FROM transmissions "
		    "WHERE state IN ('parsed', 'delivered')");
		ob_batches = q1(st, "SELECT count(*) FROM batches WHERE "
		    "state = 'pending'");
		ob_bytes = q1(st, "SELECT total(bytes) FROM batches WHERE "
		    "state = 'pending'");
		if (store_query_int(st, "SELECT min(received_at) FROM "
		    "transmissions WHERE state IN ('received', 'parsed')", -1,
		    &oldest) != 0)
			q1_failed = 1;
		if (backoff_load(st, BACKOFF_OUTPUT, &brk) == 0)
			bfail = brk.failures;
	}
	bstate = backoff_state_name(backoff_state(&brk, now));
	if (json) {
		printf("{\"integration\":");
		{
			struct td_buf b;

			td_buf_init(&b, 64, 0);
			td_json_str(&b, td_conf_str(c, TDK_integration_name),
			    strlen(td_conf_str(c, TDK_integration_name)));
			fwrite(b.p, 1, b.len, stdout);
			td_buf_free(&b);
		}
		printf(",\"transmissions\":{\"received\":%lld,\"parsed\":%lld,"
		    "\"delivered\":%lld,\"quarantined\":%lld,"
		    "\"duplicate\":%lld},\"records\":{"
		    "\"in\":%lld,\"delivered\":%lld,\"pending\":%lld,"
		    "\"dlq\":%lld,\"held\":%lld,\"duplicate\":%lld,"
		    "\"quarantined\":%lld,\"summed\":%lld},"
		    "\"unknown_promo\":%lld,\"outbox\":{\"batches\":%lld,"
		    "\"bytes\":%lld},\"oldest_pending_age_seconds\":",
		    (long long)t_recv, (long long)t_parsed, (long long)t_deliv,
		    (long long)t_quar, (long long)t_dup,
		    (long long)r_in, (long long)r_deliv, (long long)r_pending,
		    (long long)r_dlq, (long long)r_held, (long long)r_rdup,
		    (long long)r_quar, (long long)r_sum, (long long)r_promo,
		    (long long)ob_batches,
		    (long long)ob_bytes);
		if (oldest >= 0)
			printf("%lld", (long long)(now - oldest));
		else
			printf("null");
		printf(",\"breaker\":{\"state\":\"%s\",\"failures\":%u},"
		    "\"sources\":[", bstate, bfail);
		for (i = 0; i < td_conf_nsources(c); i++) {
			source_status(st, td_conf_source_name(c, i), &sb);
			printf("%s{\"name\":\"%s\",\"last_poll\":", i ? "," : "",
			    td_conf_source_name(c, i));
			if (sb.last_at > 0)
				printf("%lld,\"result\":\"%s\",\"fetched\":%u",
				    (long long)sb.last_at, sb.last_result,
				    sb.last_count);
			else
				printf("null,\"result\":null,\"fetched\":0");
			printf(",\"breaker\":{\"state\":\"%s\",\"failures\":"
			    "%u}}", backoff_state_name(backoff_state(&sb, now)),
			    sb.failures);
		}
		printf("]}\n");
	} else {
		printf("integration %s (state %s)\n",
		    td_conf_str(c, TDK_integration_name), sd);
		printf("transmissions: %lld delivered, %lld pending delivery, "
		    "%lld being processed, %lld quarantined, %lld duplicate "
		    "drop%s\n", (long long)t_deliv, (long long)t_parsed,
		    (long long)t_recv, (long long)t_quar, (long long)t_dup,
		    t_dup == 1 ? "" : "s");
		printf("records: %lld in, %lld delivered, %lld pending, "
		    "%lld dead-lettered, %lld held, %lld duplicate, %lld "
		    "quarantined, %lld summed\n", (long long)r_in,
		    (long long)r_deliv, (long long)r_pending, (long long)r_dlq,
		    (long long)r_held, (long long)r_rdup, (long long)r_quar,
		    (long long)r_sum);
		printf("promotions: %lld record%s with a promo_code not in "
		    "promo_file (unknown_promo)\n", (long long)r_promo,
		    r_promo == 1 ? "" : "s");
		printf("outbox: %lld batch%s, %lld bytes\n",
		    (long long)ob_batches, ob_batches == 1 ? "" : "es",
		    (long long)ob_bytes);
		if (oldest >= 0)
			printf("oldest pending: %llds\n",
			    (long long)(now - oldest));
		else
			printf("oldest pending: none\n");
		printf("delivery breaker: %s (%u consecutive failure%s)\n",
		    bstate, bfail, bfail == 1 ? "" : "s");
		for (i = 0; i < td_conf_nsources(c); i++) {
			source_status(st, td_conf_source_name(c, i), &sb);
			if (sb.last_at > 0)
				printf("source %s: last poll %llds ago, %s, %u "
				    "file%s fetched", td_conf_source_name(c, i),
				    (long long)(now - sb.last_at),
				    sb.last_result, sb.last_count,
				    sb.last_count == 1 ? "" : "s");
			else
				printf("source %s: never polled",
				    td_conf_source_name(c, i));
			if (sb.failures > 0)
				printf("; breaker %s (%u consecutive failure%s)",
				    backoff_state_name(backoff_state(&sb, now)),
				    sb.failures, sb.failures == 1 ? "" : "s");
			printf("\n");
		}
	}
	store_close(st);
	td_conf_free(c);
	return q1_failed ? 1 : 0;
}
