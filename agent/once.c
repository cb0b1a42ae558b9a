/*
 * once.c - the `once`, `try` and `status` commands.
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

void	intake_rejection_json(struct td_buf *, const char *, const char *,
	    const char *, const struct rejection *);

static int
parse_conf_opt(int argc, char **argv, const char *usage, const char **path,
    const struct option *extra, int *flag)
{
	static const struct option none[] = { { NULL, 0, NULL, 0 } };
	int ch;

	*path = td_default_conf();
	while ((ch = getopt_long(argc, argv, "c:", extra ? extra : none,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			*path = optarg;
			break;
		case 'j':
			*flag = 1;
			break;
		default:
			fprintf(stderr, "usage: tradedrop %s\n", usage);
			return -1;
		}
	}
	return 0;
}

/*
 * Fetch what each SFTP source has ready into landing/. A connection
 * failure (Tier 1) or a refused login or host key leaves the source for
 * the next run, and once exits 3; the other sources go on.
 */
static void
poll_sources(struct td_ctx *x)
{
	struct sftp_stats st;
	size_t i;
	int r;

	for (i = 0; i < td_conf_nsources(x->conf); i++) {
		memset(&st, 0, sizeof(st));
		r = sftp_poll(x, i, &st);
		td_log(r == 0 ? TD_LOG_INFO : TD_LOG_WARN, "source_polled",
		    "source=%s listed=%u fetched=%u already=%u waiting=%u "
		    "failed=%u bytes=%llu result=%s",
		    td_conf_source_name(x->conf, i), st.listed, st.fetched,
		    st.skipped_seen, st.waiting, st.failed,
		    (unsigned long long)st.bytes, r == 0 ? "ok" : st.tier1 ?
		    "tier1" : st.auth_error ? "refused" : "error");
		if (r != 0 || st.failed > 0)
			x->run.undelivered = 1;
	}
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
static void
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
	int64_t rejects;
	int rc, left = 0, qfail = 0;

	static const struct option longopts[] = {
		{ "reinitialise", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	int reinit = 0;

	if (parse_conf_opt(argc, argv, "once [-c FILE] [--reinitialise]",
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
	if (!x.run.failed && !x.run.paused)
		poll_sources(&x);
	if (!x.run.failed)
		(void)intake_landing(&x, 1);
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
	if (x.run.failed)
		rc = EXIT_INTERNAL;
	else if (x.run.undelivered || left > 0)
		rc = EXIT_ONCE_UNDELIVERED;
	else if (rejects > 0 || x.run.n_quarantined > 0 || x.run.n_dlq > 0 ||
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
	td_log(rc == 0 ? TD_LOG_INFO : TD_LOG_WARN, "once_done", "received=%u "
	    "duplicate=%u quarantined=%u delivered=%u records=%llu dlq=%llu "
	    "pending=%d waiting=%u unsettled=%u refused=%u exit=%d",
	    x.run.n_received, x.run.n_duplicate,
	    x.run.n_quarantined,
	    x.run.n_delivered, (unsigned long long)x.run.n_records,
	    (unsigned long long)x.run.n_dlq, left, x.run.n_waiting, x.run.n_unsettled,
	    x.run.n_refused, rc);
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

/* ------------------------------------------------------------- try */

struct trysink {
	struct td_buf	 buf;
	const char	*file;
	uint64_t	 rejected;
	FILE		*out;		/* records of this attempt */
	FILE		*err;		/* its rejections */
};

static struct td_buf *
try_buffer(void *arg)
{
	struct trysink *t = arg;

	return &t->buf;
}

static int
try_batch(void *arg, struct td_buf *b, uint64_t n,
    const struct batch_totals *bt)
{
	struct trysink *t = arg;

	if (fwrite(b->p, 1, b->len, t->out) != b->len)
		return TD_ERR_IO;
	td_buf_reset(b);
	return 0;
}

static int
try_reject(void *arg, const struct rejection *rj)
{
	struct trysink *t = arg;

	t->rejected++;
	if (rj->member != NULL)
		fprintf(t->err, "%s!/%s:%llu: tier %d %s: %s\n", t->file,
		    rj->member, (unsigned long long)rj->line, rj->tier,
		    rj->code, rj->message);
	else
		fprintf(t->err, "%s:%llu: tier %d %s: %s\n", t->file,
		    (unsigned long long)rj->line, rj->tier, rj->code,
		    rj->message);
	return 0;
}

/*
 * A file's first attempt, or encoding = auto starting it over: what the
 * attempt before wrote is forgotten.
 */
static int
try_reset(void *arg, size_t doc)
{
	struct trysink *t = arg;

	(void)doc;
	if (t->out == NULL && ((t->out = tmpfile()) == NULL ||
	    (t->err = tmpfile()) == NULL))
		td_fatal("tmpfile: %s", strerror(errno));
	if (ftruncate(fileno(t->out), 0) != 0 ||
	    ftruncate(fileno(t->err), 0) != 0)
		td_fatal("ftruncate: %s", strerror(errno));
	rewind(t->out);
	rewind(t->err);
	td_buf_reset(&t->buf);
	t->rejected = 0;
	return 0;
}

/* Copy what an attempt wrote to a temporary file to f. */
static void
try_flush(FILE *tmp, FILE *f)
{
	char b[65536];
	size_t n;

	rewind(tmp);
	while ((n = fread(b, 1, sizeof(b), tmp)) > 0)
		(void)!fwrite(b, 1, n, f);
}

/*
 * Each file's attempts write to temporary files; what the last attempt
 * wrote is shown, and its records only when the file as a whole would be
 * taken: a file `once` would quarantine (Tier 2) shows its rejections,
 * then the verdict, and no record.
 */
int
cmd_try(int argc, char **argv)
{
	const char *path;
	struct td_conf *c;
	struct mapper *m = NULL;
	struct trysink ts;
	struct proc_sink sink;
	struct proc_result res;
	struct proc_opts po;
	char tid[TD_SHA256_HEX], *err = NULL;
	const char *base;
	int i, fd, r, rc = 0;

	if (parse_conf_opt(argc, argv, "try [-c FILE] FILE...", &path, NULL,
	    NULL) != 0)
		return EXIT_USAGE;
	if (optind == argc) {
		fprintf(stderr, "usage: tradedrop try [-c FILE] FILE...\n");
		return EXIT_USAGE;
	}
	if ((c = td_load_conf_or_report(path)) == NULL)
		return EXIT_USAGE;
	if (mapper_new(c, &m, &err) != 0) {
		fprintf(stderr, "tradedrop: %s: %s\n", path, err);
		x_free(err);
		td_conf_free(c);
		return EXIT_USAGE;
	}
	memset(&ts, 0, sizeof(ts));
	td_buf_init(&ts.buf, 1 << 20, 0);
	sink.buffer = try_buffer;
	sink.batch = try_batch;
	sink.reject = try_reject;
	sink.reset = try_reset;
	sink.arg = &ts;
	for (i = optind; i < argc; i++) {
		ts.file = argv[i];
		if ((fd = open(argv[i], O_RDONLY | O_CLOEXEC)) < 0) {
			fprintf(stderr, "tradedrop: %s: %s\n", argv[i],
			    strerror(errno));
			rc = 1;
			continue;
		}
		if (td_sha256_fd(fd, tid) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
			fprintf(stderr, "tradedrop: %s: %s\n", argv[i],
			    strerror(errno));
			close(fd);
			rc = 1;
			continue;
		}
		base = strrchr(argv[i], '/');
		base = base ? base + 1 : argv[i];
		memset(&po, 0, sizeof(po));
		po.transmission_id = tid;
		po.file = base;
		po.batch_records = td_conf_u64(c, TDK_output_batch_records);
		/* with encoding = auto a document may have to start over as
		 * windows-1252 (try_reset again): only the last attempt counts */
		(void)try_reset(&ts, 0);
		r = process_file(m, c, fd, &po, &sink, &res);
		fflush(ts.out);
		fflush(ts.err);
		if (r == 0 && res.t2code == NULL)
			try_flush(ts.out, stdout);
		try_flush(ts.err, stderr);
		if (r != 0) {
			fprintf(stderr, "tradedrop: %s: %s\n", argv[i],
			    td_strerror(r));
			rc = 1;
		} else if (res.t2code != NULL) {
			fprintf(stderr, "%s: tier 2 %s: %s\n", argv[i],
			    res.t2code, res.t2msg);
			fprintf(stderr, "%s: the whole file would be quarantined: "
			    "none of its records is shown, none would be "
			    "delivered\n", argv[i]);
			rc = 1;
		}
		if (ts.rejected > 0)
			rc = 1;
		proc_result_clear(&res);
		close(fd);
	}
	fflush(stdout);
	if (ts.out != NULL) {
		fclose(ts.out);
		fclose(ts.err);
	}
	td_buf_free(&ts.buf);
	mapper_free(m);
	td_conf_free(c);
	return rc;
}

/* ---------------------------------------------------------- status */

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
	    r_dlq, r_pending, ob_batches, ob_bytes, oldest, now;

	if (parse_conf_opt(argc, argv, "status [-c FILE] [--json]", &path,
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
	r_dlq = r_pending = ob_batches = ob_bytes = 0;
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
		    "WHERE state IN ('parsed', 'delivered')");
		r_deliv = q1(st, "SELECT total(delivered) FROM transmissions "
		    "WHERE state = 'delivered'");
		r_pending = q1(st, "SELECT total(delivered) FROM "
		    "transmissions WHERE state = 'parsed'");
		r_dlq = q1(st, "SELECT total(dlq) FROM transmissions WHERE "
		    "state IN ('parsed', 'delivered')");
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
		    "\"duplicate\":%lld},\"records\":{\"in\":%lld,"
		    "\"delivered\":%lld,\"pending\":%lld,\"dlq\":%lld,"
		    "\"held\":0,\"duplicate\":0},\"outbox\":{\"batches\":%lld,"
		    "\"bytes\":%lld},\"oldest_pending_age_seconds\":",
		    (long long)t_recv, (long long)t_parsed, (long long)t_deliv,
		    (long long)t_quar, (long long)t_dup, (long long)r_in,
		    (long long)r_deliv, (long long)r_pending, (long long)r_dlq,
		    (long long)ob_batches, (long long)ob_bytes);
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
		    "%lld dead-lettered, 0 held, 0 duplicate\n",
		    (long long)r_in, (long long)r_deliv, (long long)r_pending,
		    (long long)r_dlq);
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
