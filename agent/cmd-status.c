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
#include "clock.h"
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
#include "metrics.h"
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
	struct backoff sb;
	struct metrics_state ms;
	const char *bstate;
	size_t i;
	int64_t now, lag, ok_at;
	uint64_t sla;

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
	now = td_time();
	/* the same numbers as the daemon's metrics */
	if (metrics_state_read(st, now, &ms) != 0)
		q1_failed = 1;
	lag = ms.oldest >= 0 && now > ms.oldest ? now - ms.oldest : 0;
	sla = td_conf_u64(c, TDK_integration_sync_sla);
	bstate = backoff_state_name(ms.breaker_state);
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
		    (long long)ms.t_received, (long long)ms.t_parsed,
		    (long long)ms.t_delivered, (long long)ms.t_quarantined,
		    (long long)ms.t_duplicate, (long long)ms.r_in,
		    (long long)ms.r_delivered, (long long)ms.r_pending,
		    (long long)ms.r_dlq, (long long)ms.r_held,
		    (long long)ms.r_duplicate, (long long)ms.r_quarantined,
		    (long long)ms.r_summed, (long long)ms.r_unknown_promo,
		    (long long)ms.ob_batches,
		    (long long)ms.ob_bytes);
		if (ms.oldest >= 0)
			printf("%lld", (long long)(now - ms.oldest));
		else
			printf("null");
		printf(",\"sync_lag_seconds\":%lld,\"sync_sla_seconds\":%llu",
		    (long long)lag, (unsigned long long)sla);
		printf(",\"breaker\":{\"state\":\"%s\",\"failures\":%u},"
		    "\"sources\":[", bstate, ms.breaker_failures);
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
			    "%u}", backoff_state_name(backoff_state(&sb, now)),
			    sb.failures);
			ok_at = metrics_source_ok_at(st,
			    td_conf_source_name(c, i));
			if (ok_at > 0)
				printf(",\"last_good_poll\":%lld",
				    (long long)ok_at);
			else
				printf(",\"last_good_poll\":null");
			printf(",\"refused_names\":%u}", sb.last_at > 0 ?
			    sb.last_refused : 0);
		}
		printf("]}\n");
	} else {
		printf("integration %s (state %s)\n",
		    td_conf_str(c, TDK_integration_name), sd);
		printf("transmissions: %lld delivered, %lld pending delivery, "
		    "%lld being processed, %lld quarantined, %lld duplicate "
		    "drop%s\n", (long long)ms.t_delivered,
		    (long long)ms.t_parsed, (long long)ms.t_received,
		    (long long)ms.t_quarantined, (long long)ms.t_duplicate,
		    ms.t_duplicate == 1 ? "" : "s");
		printf("records: %lld in, %lld delivered, %lld pending, "
		    "%lld dead-lettered, %lld held, %lld duplicate, %lld "
		    "quarantined, %lld summed\n", (long long)ms.r_in,
		    (long long)ms.r_delivered, (long long)ms.r_pending,
		    (long long)ms.r_dlq, (long long)ms.r_held,
		    (long long)ms.r_duplicate, (long long)ms.r_quarantined,
		    (long long)ms.r_summed);
		printf("promotions: %lld record%s with a promo_code not in "
		    "promo_file (unknown_promo)\n", (long long)ms.r_unknown_promo,
		    ms.r_unknown_promo == 1 ? "" : "s");
		printf("outbox: %lld batch%s, %lld bytes\n",
		    (long long)ms.ob_batches, ms.ob_batches == 1 ? "" : "es",
		    (long long)ms.ob_bytes);
		if (ms.oldest >= 0)
			printf("oldest pending: %llds\n",
			    (long long)(now - ms.oldest));
		else
			printf("oldest pending: none\n");
		/* the sla as the configuration writes it (26h, not 93600s) */
		printf("sync lag: %llds (sync_sla %s)%s\n", (long long)lag,
		    td_conf_str(c, TDK_integration_sync_sla), lag >
		    (int64_t)sla ? ", past sync_sla" : "");
		printf("delivery breaker: %s (%u consecutive failure%s)\n",
		    bstate, ms.breaker_failures, ms.breaker_failures == 1 ? "" : "s");
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
			if (sb.last_at > 0 && sb.last_refused > 0)
				/* files waiting there that nothing fetches */
				printf(", %u name%s refused (left on the "
				    "server; see event=sftp_name_refused)",
				    sb.last_refused, sb.last_refused == 1 ?
				    "" : "s");
			if (sb.failures > 0)
				printf("; breaker %s (%u consecutive failure%s)",
				    backoff_state_name(backoff_state(&sb, now)),
				    sb.failures, sb.failures == 1 ? "" : "s");
			ok_at = metrics_source_ok_at(st,
			    td_conf_source_name(c, i));
			if (sb.last_at > 0 && ok_at > 0 && ok_at != sb.last_at)
				printf("; last good poll %llds ago",
				    (long long)(now - ok_at));
			else if (sb.last_at > 0 && ok_at == 0)
				printf("; no good poll yet");
			printf("\n");
		}
	}
	store_close(st);
	td_conf_free(c);
	return q1_failed ? 1 : 0;
}
