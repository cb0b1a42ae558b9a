/*
 * cmd-once.c - the `once` command: poll, take, process and deliver everything that is
 * ready, then exit with a status that says what happened.
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
#include "sandbox.h"
#include "deliver.h"
#include "backoff.h"
#include "sftp.h"
#include "metrics.h"
#include "agent.h"

/*
 * Poll SFTP source i once and log what it did. A connection failure
 * (Tier 1) or a refused login or host key leaves the source for the next
 * poll; 0 when the poll went well, else -1.
 */
int
cmd_poll_source(struct td_ctx *x, size_t i)
{
	struct sftp_stats st;
	int r;

	memset(&st, 0, sizeof(st));
	r = sftp_poll(x, i, &st);
	td_log(r == 0 ? TD_LOG_INFO : TD_LOG_WARN, "source_polled",
	    "source=%s listed=%u fetched=%u already=%u waiting=%u "
	    "failed=%u bytes=%llu result=%s",
	    td_conf_source_name(x->conf, i), st.listed, st.fetched,
	    st.skipped_seen, st.waiting, st.failed,
	    (unsigned long long)st.bytes, r == 0 ? "ok" : st.tier1 ?
	    "tier1" : st.auth_error ? "refused" : "error");
	if (r == 0)	/* for the time since the last good poll */
		(void)metrics_source_ok_save(x->st, td_conf_source_name(x->conf,
		    i), td_time());
	return r != 0 || st.failed > 0 ? -1 : 0;
}

/* Fetch what each SFTP source has ready; once exits 3 when one fails. */
static void
poll_sources(struct td_ctx *x)
{
	size_t i;

	for (i = 0; i < td_conf_nsources(x->conf); i++)
		if (cmd_poll_source(x, i) != 0)
			x->run.undelivered = 1;
}

/*
 * Upload the 997s of the X12 drops just processed to the ack_dir of the
 * sources that sent them; a failure leaves them for the next run, which
 * exits 3 like an unreachable source.
 */
static void
push_acks(struct td_ctx *x)
{
	unsigned n;
	size_t i;

	for (i = 0; i < td_conf_nsources(x->conf); i++)
		if (sftp_push_acks(x, i, &n) != 0)
			x->run.undelivered = 1;
}

/*
 * An exit status of 1 is decided from the outcomes no run has reported
 * (`reported` = 0), which the run's last commit then marks reported. A
 * run killed after that commit, before it could exit, would lose its 1:
 * state_dir/exit-status, written before the commit and removed only
 * once state.db is closed, keeps it for the next run.
 */
static char *
exit_status_path(const struct td_ctx *x)
{
	return xasprintf("%s/exit-status", x->state_dir);
}

/* 1 when a run killed after deciding to exit 1 left its status behind. */
static int
exit_status_pending(const struct td_ctx *x)
{
	char *p = exit_status_path(x), *v = NULL;
	size_t len;
	int pending = 0;

	if (td_read_file(p, 16, &v, &len) == 0)
		pending = len >= 1 && v[0] == '1';
	x_free(v);
	x_free(p);
	return pending;
}

static void
exit_status_keep(const struct td_ctx *x, int rc)
{
	char *p = exit_status_path(x), v[16];
	int r;

	snprintf(v, sizeof(v), "%d\n", rc);
	if ((r = td_write_file_atomic(p, v, strlen(v))) != 0)
		td_log(TD_LOG_WARN, "exit_status_unsaved", "path=%s error=%s "
		    "message=%s", p, td_strerror(r), "a kill before this run "
		    "exits may lose its exit status");
	x_free(p);
}

static void
exit_status_done(const struct td_ctx *x)
{
	char *p = exit_status_path(x);

	if (unlink(p) == 0)
		(void)td_fsync_parent(p);
	x_free(p);
}

/*
 * Deliver what can be delivered, sleeping between the steps until the
 * time each asks for (a retry's backoff).
 */
void
deliver_all(struct td_ctx *x)
{
	struct deliverer *d = deliver_new(x);
	struct timespec ts;
	int64_t next;

	while (deliver_step(d, deliver_clock_ms(), &next) == DELIVER_WAIT) {
		ts.tv_sec = (time_t)(next / 1000);
		ts.tv_nsec = (long)(next % 1000) * 1000000;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
		    NULL) == EINTR)
			;
	}
	deliver_free(d);
}

int
cmd_once(int argc, char **argv)
{
	const char *path;
	struct td_conf *c;
	struct td_ctx x;
	sqlite3_stmt *s;
	struct td_buf rj;
	int64_t rejects;
	int rc, left = 0, qfail = 0;

	static const struct option longopts[] = {
		{ "reinitialise", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	int reinit = 0;

	if (cmd_conf_opt(argc, argv, "once [-c FILE] [--reinitialise]",
	    &path, longopts, &reinit) != 0 || optind != argc) {
		if (optind != argc)
			fprintf(stderr, "usage: tradedrop once [-c FILE] "
			    "[--reinitialise]\n");
		return EXIT_USAGE;
	}
	if ((c = td_load_conf_or_report(path)) == NULL)
		return EXIT_USAGE;
	signal(SIGPIPE, SIG_IGN);
	rc = ctx_open(&x, c, CTX_MAPPER | (reinit ? CTX_REINIT : 0));
	if (rc != 0) {
		ctx_close(&x);
		td_conf_free(c);
		return rc == TD_ERR_INVAL ? EXIT_USAGE : rc == TD_ERR_EXISTS ?
		    EXIT_ONCE_UNDELIVERED : EXIT_INTERNAL;
	}
	td_log(TD_LOG_INFO, "once_start", "integration=%s landing=%s",
	    x.integration, x.landing);
	if (intake_recover(&x) != 0)
		x.run.failed = 1;
	if (!x.run.failed)
		(void)intake_process_pending(&x);
	sandbox_release();	/* not kept through the SFTP polls */
	if (!x.run.failed && !x.run.paused)
		poll_sources(&x);
	if (!x.run.failed)
		(void)intake_landing(&x, 1);
	sandbox_release();	/* no child kept past the intake */
	if (!x.run.failed)
		push_acks(&x);
	deliver_all(&x);
	s = store_prepare(x.st, "SELECT count(*) FROM transmissions WHERE "
	    "state IN ('received', 'parsed')");
	if (sqlite3_step(s) == SQLITE_ROW)
		left = sqlite3_column_int(s, 0);
	sqlite3_reset(s);

	/*
	 * Rejections are reported by the first run that finishes their
	 * transmission, even when the run that rejected them was killed.
	 */
	if (store_query_int(x.st, "SELECT count(*) FROM transmissions "
	    "WHERE reported = 0 AND (state = 'quarantined' OR (state = "
	    "'delivered' AND (dlq > 0 OR held > 0)))", 0, &rejects) != 0) {
		x.run.failed = 1;	/* and they stay unreported */
		qfail = 1;
	}
	if (store_corrupt_seen())
		x.run.failed = 1;	/* logged where it was met */
	if (x.run.failed)
		rc = EXIT_INTERNAL;
	else if (x.run.undelivered || left > 0)
		rc = EXIT_ONCE_UNDELIVERED;
	else if (rejects > 0 || x.run.n_quarantined > 0 || x.run.n_dlq > 0 ||
	    x.run.n_held > 0 ||
	    x.run.n_refused > 0 || exit_status_pending(&x))
		rc = EXIT_ONCE_REJECTS;
	else
		rc = EXIT_ONCE_OK;
	if (rc == EXIT_ONCE_REJECTS)
		exit_status_keep(&x, rc);
	if (!qfail && store_begin(x.st) == 0) {
		if (store_exec(x.st, "UPDATE transmissions SET reported = 1 "
		    "WHERE reported = 0 AND state IN ('delivered', "
		    "'quarantined')") == 0)
			(void)store_commit(x.st);
		else
			store_rollback(x.st);
	}
	td_failpoint("once_reported");
	td_buf_init(&rj, 64, 0);
	rej_counts_text(&x.run.rejections, &rj);
#define ONCE_DONE "received=%u duplicate=%u duplicate_of_quarantined=%u " \
	    "quarantined=%u delivered=%u records=%llu dlq=%llu held=%llu " \
	    "duplicate_records=%llu unknown_promo=%llu pending=%d waiting=%u unsettled=%u " \
	    "refused=%u exit=%d"
#define ONCE_ARGS x.run.n_received, x.run.n_duplicate, \
	    x.run.n_dup_quarantined, x.run.n_quarantined, x.run.n_delivered, \
	    (unsigned long long)x.run.n_records, \
	    (unsigned long long)x.run.n_dlq, (unsigned long long)x.run.n_held, \
	    (unsigned long long)x.run.n_recdup, \
	    (unsigned long long)x.run.n_unknown_promo, left, x.run.n_waiting, \
	    x.run.n_unsettled, x.run.n_refused, rc
	/* the format is a literal: a value is quoted, a key never */
	if (rj.len == 0)
		td_log(rc == 0 ? TD_LOG_INFO : TD_LOG_WARN, "once_done",
		    ONCE_DONE, ONCE_ARGS);
	else
		td_log(rc == 0 ? TD_LOG_INFO : TD_LOG_WARN, "once_done",
		    ONCE_DONE " rejections=%s", ONCE_ARGS, td_buf_cstr(&rj));
#undef ONCE_ARGS
#undef ONCE_DONE
	td_buf_free(&rj);
	/* the lock is still held: no other run sees the file go */
	audit_close(x.audit);
	x.audit = NULL;
	store_close(x.st);
	x.st = NULL;
	exit_status_done(&x);
	ctx_close(&x);
	td_conf_free(c);
	return rc;
}

