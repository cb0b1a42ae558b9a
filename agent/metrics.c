/*
 * metrics.c - the numbers of `status` and of the daemon's /metrics and
 * textfile. See metrics.h. The only place that knows libmicrohttpd.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#ifdef HAVE_LIBMICROHTTPD
#include <microhttpd.h>
#endif

#include "td.h"
#include "clock.h"
#include "buf.h"
#include "conf.h"
#include "fsutil.h"
#include "log.h"
#include "num.h"
#include "store.h"
#include "backoff.h"
#include "deliver.h"
#include "metrics.h"

#define TICK_MS		10000	/* textfile and sync_sla check */
#define SLA_REPEAT	600000	/* ms between two sync_sla warnings, by
				 * the monotonic clock: a step of the wall
				 * clock neither repeats nor silences them */
#define LANDED_SLOTS	65536	/* drop times remembered, by name hash */
#define RENDER_MAX	(4 << 20)

static const double buckets[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
	900, 3600
};
#define NBUCKETS	(sizeof(buckets) / sizeof(buckets[0]))

struct histogram {
	uint64_t	 n[NBUCKETS + 1];	/* the last: above every bound */
	uint64_t	 count, sum_us;
};

struct landed {
	uint64_t	 h;
	int64_t		 t_ms;		/* CLOCK_REALTIME */
};

struct metrics {
	const struct td_conf *conf;
	struct store	*st;		/* read-only, while rendering */
	struct histogram processing, latency;
	uint64_t	 tier1;
	struct landed	*landed;
	int64_t		 sla_warned;	/* td_mono_ms of the last; 0: none */
	int64_t		 started;
#ifdef HAVE_LIBMICROHTTPD
	struct MHD_Daemon *mhd;
#endif
};

/* ------------------------------------------------------------ state.db */

static int q_failed;

static int64_t
q1(struct store *st, const char *sql)
{
	int64_t v;

	if (store_query_int(st, sql, 0, &v) != 0)
		q_failed = 1;
	return v;
}

#define MS(f)	offsetof(struct metrics_state, f)
static const struct {
	const char	*sql;
	size_t		 off;
} queries[] = {
	{ "SELECT count(*) FROM transmissions WHERE state = 'received'",
	    MS(t_received) },
	{ "SELECT count(*) FROM transmissions WHERE state = 'parsed'",
	    MS(t_parsed) },
	{ "SELECT count(*) FROM transmissions WHERE state = 'delivered'",
	    MS(t_delivered) },
	{ "SELECT count(*) FROM transmissions WHERE state = 'quarantined'",
	    MS(t_quarantined) },
	{ "SELECT count(*) FROM duplicate_drops", MS(t_duplicate) },
	/* one set of counts: rows read = delivered + pending + dlq + held +
	 * duplicate + quarantined + summed (quarantined files' rows too).
	 * dlq is what dlq/ holds: a quarantined file's rows are all
	 * quarantined, its rejected ones too (their dead letters are not
	 * kept; its dlq column counts them for `quarantine list`) */
	{ "SELECT total(records_in) FROM transmissions WHERE state IN "
	    "('parsed', 'delivered', 'quarantined')", MS(r_in) },
	{ "SELECT total(delivered) FROM transmissions WHERE state = "
	    "'delivered'", MS(r_delivered) },
	{ "SELECT total(delivered) FROM transmissions WHERE state = 'parsed'",
	    MS(r_pending) },
	{ "SELECT total(dlq) FROM transmissions WHERE state IN ('parsed', "
	    "'delivered')", MS(r_dlq) },
	{ "SELECT total(duplicate) FROM transmissions WHERE state IN "
	    "('parsed', 'delivered')", MS(r_duplicate) },
	{ "SELECT total(records_in) FROM transmissions WHERE state = "
	    "'quarantined'", MS(r_quarantined) },
	{ "SELECT total(summed) FROM transmissions WHERE state IN "
	    "('parsed', 'delivered')", MS(r_summed) },
	{ "SELECT total(unknown_promo) FROM transmissions WHERE state IN "
	    "('parsed', 'delivered')", MS(r_unknown_promo) },
	{ "SELECT total(held) FROM transmissions WHERE state IN ('parsed', "
	    "'delivered')", MS(r_held) },
	{ "SELECT count(*) FROM batches WHERE state = 'pending'",
	    MS(ob_batches) },
	{ "SELECT total(bytes) FROM batches WHERE state = 'pending'",
	    MS(ob_bytes) },
};

int
metrics_state_read(struct store *st, int64_t now, struct metrics_state *m)
{
	struct backoff b;
	size_t k;

	memset(m, 0, sizeof(*m));
	m->oldest = -1;
	if (st == NULL)
		return TD_OK;
	q_failed = 0;
	for (k = 0; k < TD_NELEM(queries); k++)
		*(int64_t *)((char *)m + queries[k].off) = q1(st,
		    queries[k].sql);
	if (store_query_int(st, "SELECT min(received_at) FROM "
	    "transmissions WHERE state IN ('received', 'parsed')", -1,
	    &m->oldest) != 0)
		q_failed = 1;
	if (backoff_load(st, BACKOFF_OUTPUT, &b) == 0) {
		m->breaker_state = backoff_state(&b, now);
		m->breaker_failures = b.failures;
	}
	return q_failed ? TD_ERR_STATE : TD_OK;
}

static const char sql_ok_get[] =
    "SELECT value FROM meta WHERE key = ?";
static const char sql_ok_put[] =
    "INSERT INTO meta (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value";

int64_t
metrics_source_ok_at(struct store *st, const char *name)
{
	sqlite3_stmt *s;
	char *k;
	int64_t v = 0;

	if (st == NULL)
		return 0;
	k = xasprintf("source_ok_at:%s", name);
	s = store_prepare(st, sql_ok_get);
	sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) !=
	    NULL && td_parse_i64((const char *)sqlite3_column_text(s, 0),
	    (size_t)sqlite3_column_bytes(s, 0), 0, INT64_MAX, &v) != 0)
		v = 0;
	sqlite3_reset(s);
	x_free(k);
	return v;
}

int
metrics_source_ok_save(struct store *st, const char *name, int64_t t)
{
	sqlite3_stmt *s;
	char *k, v[32];
	int r;

	k = xasprintf("source_ok_at:%s", name);
	snprintf(v, sizeof(v), "%lld", (long long)t);
	s = store_prepare(st, sql_ok_put);
	sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, v, -1, SQLITE_STATIC);
	r = store_step_done(st, s);
	x_free(k);
	return r;
}

/* ------------------------------------------------------------- the daemon */

static void
hist_add(struct histogram *h, uint64_t us)
{
	size_t i;

	for (i = 0; i < NBUCKETS && (double)us / 1e6 > buckets[i]; i++)
		;
	h->n[i]++;
	h->count++;
	h->sum_us += us;
}

static uint64_t
name_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h != 0 ? h : 1;
}

static int64_t
real_ms(void)
{
	struct timespec ts;

	td_clock_real(&ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
metrics_file_processed(struct metrics *m, uint64_t usec)
{
	hist_add(&m->processing, usec);
}

void
metrics_landed(struct metrics *m, const char *name)
{
	uint64_t h = name_hash(name);
	struct landed *l = &m->landed[h % LANDED_SLOTS];

	l->h = h;
	l->t_ms = real_ms();
}

void
metrics_delivered(struct metrics *m, const char *name)
{
	uint64_t h = name_hash(name);
	struct landed *l = &m->landed[h % LANDED_SLOTS];
	int64_t d;

	if (l->h != h)
		return;		/* there before the start, or forgotten */
	d = real_ms() - l->t_ms;
	hist_add(&m->latency, d > 0 ? (uint64_t)d * 1000 : 0);
	l->h = 0;
}

void
metrics_tier1(struct metrics *m)
{
	m->tier1++;
}

/*
 * state.db is opened for one render or tick and closed after it: the
 * loop forks its workers, and an SQLite connection must not be carried
 * across a fork (the child's own connection would share its locks).
 */
static void
metrics_store_done(struct metrics *m)
{
	store_close(m->st);
	m->st = NULL;
}

static struct store *
metrics_store(struct metrics *m)
{
	char *err = NULL, *p;

	if (m->st != NULL)
		return m->st;
	p = xasprintf("%s/state.db", td_conf_str(m->conf,
	    TDK_integration_state_dir));
	if (access(p, F_OK) == 0 && store_open(td_conf_str(m->conf,
	    TDK_integration_state_dir), 1, &m->st, &err) != 0) {
		td_log(TD_LOG_WARN, "metrics_failed", "error=%s", err);
		x_free(err);
		m->st = NULL;
	}
	x_free(p);
	return m->st;
}

/* A label value, escaped as the text format wants. */
static void
label(struct td_buf *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			td_buf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			td_buf_puts(b, "\\n");
		else
			td_buf_printf(b, "%c", *v);
	}
}

static void
head(struct td_buf *b, const char *name, const char *type, const char *help)
{
	td_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

static void
hist_render(struct td_buf *b, const char *name, const char *help,
    const struct histogram *h)
{
	uint64_t cum = 0;
	size_t i;

	head(b, name, "histogram", help);
	for (i = 0; i < NBUCKETS; i++) {
		cum += h->n[i];
		td_buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name,
		    buckets[i], (unsigned long long)cum);
	}
	td_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n"
	    "%s_count %llu\n", name, (unsigned long long)h->count, name,
	    (double)h->sum_us / 1e6, name, (unsigned long long)h->count);
}

static void
per_source(struct metrics *m, struct td_buf *b, int64_t now)
{
	static const char *names[] = {
		"tradedrop_last_poll_timestamp_seconds",
		"tradedrop_source_last_good_poll_timestamp_seconds",
		"tradedrop_source_poll_failures",
		"tradedrop_source_breaker_open",
		"tradedrop_source_backoff_until_timestamp_seconds",
		"tradedrop_source_refused_names",
	};
	static const char *helps[] = {
		"Time of the last poll of each SFTP source (0: never).",
		"Time of the last poll of each source that went well (0: never).",
		"Consecutive failed polls of each source.",
		"1 while the circuit breaker of a source is open.",
		"While a source's breaker is open: no poll before this time.",
		"Names the last poll of each source left on the server, "
		    "refused (unsafe, or never taken by intake).",
	};
	const struct td_conf *c = m->conf;
	struct backoff bk;
	char bn[BACKOFF_MAXNAME];
	size_t i, k;
	int64_t v;

	for (k = 0; k < TD_NELEM(names); k++) {
		head(b, names[k], "gauge", helps[k]);
		for (i = 0; i < td_conf_nsources(c); i++) {
			memset(&bk, 0, sizeof(bk));
			backoff_source_name(bn, td_conf_source_name(c, i));
			if (m->st != NULL)
				(void)backoff_load(m->st, bn, &bk);
			switch (k) {
			case 0:
				v = bk.last_at;
				break;
			case 1:
				v = metrics_source_ok_at(m->st,
				    td_conf_source_name(c, i));
				break;
			case 2:
				v = bk.failures;
				break;
			case 3:
				v = backoff_state(&bk, now) == BACKOFF_OPEN;
				break;
			case 4:
				v = backoff_state(&bk, now) == BACKOFF_OPEN ?
				    bk.next_at : 0;
				break;
			default:
				v = bk.last_refused;
				break;
			}
			td_buf_printf(b, "%s{source=\"", names[k]);
			label(b, td_conf_source_name(c, i));
			td_buf_printf(b, "\"} %lld\n", (long long)v);
		}
	}
}

void
metrics_render(struct metrics *m, struct td_buf *b)
{
	struct metrics_state s;
	int64_t now = td_time();

	(void)metrics_state_read(metrics_store(m), now, &s);
	head(b, "tradedrop_files_total", "counter",
	    "Files (transmissions) by outcome.");
	td_buf_printf(b, "tradedrop_files_total{outcome=\"received\"} %lld\n"
	    "tradedrop_files_total{outcome=\"delivered\"} %lld\n"
	    "tradedrop_files_total{outcome=\"quarantined\"} %lld\n"
	    "tradedrop_files_total{outcome=\"duplicate\"} %lld\n",
	    (long long)(s.t_received + s.t_parsed + s.t_delivered +
	    s.t_quarantined), (long long)s.t_delivered,
	    (long long)s.t_quarantined, (long long)s.t_duplicate);
	head(b, "tradedrop_records_total", "counter",
	    "Records by outcome.");
	td_buf_printf(b, "tradedrop_records_total{outcome=\"in\"} %lld\n"
	    "tradedrop_records_total{outcome=\"delivered\"} %lld\n"
	    "tradedrop_records_total{outcome=\"dlq\"} %lld\n"
	    "tradedrop_records_total{outcome=\"held\"} %lld\n",
	    (long long)s.r_in, (long long)s.r_delivered, (long long)s.r_dlq,
	    (long long)s.r_held);
	head(b, "tradedrop_errors_total", "counter", "Errors by tier (tier 1: "
	    "transient failures since the daemon started).");
	td_buf_printf(b, "tradedrop_errors_total{tier=\"1\"} %llu\n"
	    "tradedrop_errors_total{tier=\"2\"} %lld\n"
	    "tradedrop_errors_total{tier=\"3\"} %lld\n"
	    "tradedrop_errors_total{tier=\"4\"} %lld\n",
	    (unsigned long long)m->tier1, (long long)s.t_quarantined,
	    (long long)s.r_dlq, (long long)s.r_held);
	head(b, "tradedrop_outbox_batches", "gauge",
	    "Batches in the outbox, not yet acknowledged.");
	td_buf_printf(b, "tradedrop_outbox_batches %lld\n",
	    (long long)s.ob_batches);
	head(b, "tradedrop_outbox_bytes", "gauge",
	    "Bytes of the batches in the outbox.");
	td_buf_printf(b, "tradedrop_outbox_bytes %lld\n",
	    (long long)s.ob_bytes);
	head(b, "tradedrop_sync_lag_seconds", "gauge",
	    "Age of the oldest undelivered record (0: none).");
	td_buf_printf(b, "tradedrop_sync_lag_seconds %lld\n", (long long)
	    (s.oldest >= 0 && now > s.oldest ? now - s.oldest : 0));
	head(b, "tradedrop_sync_sla_seconds", "gauge",
	    "The configured sync_sla.");
	td_buf_printf(b, "tradedrop_sync_sla_seconds %llu\n",
	    (unsigned long long)td_conf_u64(m->conf,
	    TDK_integration_sync_sla));
	head(b, "tradedrop_breaker_open", "gauge",
	    "1 while the delivery circuit breaker is open.");
	td_buf_printf(b, "tradedrop_breaker_open %d\n",
	    s.breaker_state == BACKOFF_OPEN);
	head(b, "tradedrop_breaker_failures", "gauge",
	    "Consecutive failed deliveries.");
	td_buf_printf(b, "tradedrop_breaker_failures %u\n",
	    s.breaker_failures);
	per_source(m, b, now);
	hist_render(b, "tradedrop_drop_to_delivered_seconds", "Time from a "
	    "landing event of a file to its delivery (files that landed "
	    "while the daemon ran).", &m->latency);
	hist_render(b, "tradedrop_file_processing_seconds", "Time to claim, "
	    "receive and process one file.", &m->processing);
	head(b, "tradedrop_start_time_seconds", "gauge",
	    "When the daemon started.");
	td_buf_printf(b, "tradedrop_start_time_seconds %lld\n",
	    (long long)m->started);
	metrics_store_done(m);
}

#ifdef HAVE_LIBMICROHTTPD
static enum MHD_Result
metrics_http(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct metrics *m = cls;
	struct MHD_Response *resp;
	struct td_buf b;
	enum MHD_Result r;
	unsigned code = MHD_HTTP_OK;

	td_buf_init(&b, 8192, RENDER_MAX);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		code = MHD_HTTP_METHOD_NOT_ALLOWED;
		td_buf_puts(&b, "method not allowed\n");
	} else if (strcmp(url, "/metrics") != 0) {
		code = MHD_HTTP_NOT_FOUND;
		td_buf_puts(&b, "not found: see /metrics\n");
	} else
		metrics_render(m, &b);
	resp = MHD_create_response_from_buffer(b.len, b.p,
	    MHD_RESPMEM_MUST_COPY);
	td_buf_free(&b);
	if (resp == NULL)
		return MHD_NO;
	(void)MHD_add_response_header(resp, "Content-Type",
	    "text/plain; version=0.0.4; charset=utf-8");
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)	/* RFC 9110 15.5.6 */
		(void)MHD_add_response_header(resp, "Allow", "GET, HEAD");
	r = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return r;
}
#endif

/* "PORT", "HOST:PORT" or "[V6]:PORT"; the default host is 127.0.0.1. */
static int
parse_listen(const char *s, struct sockaddr_storage *ss, char **err)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	const char *colon = strrchr(s, ':'), *ps;
	char host[64];
	uint64_t port;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	ps = colon != NULL ? colon + 1 : s;
	hl = colon != NULL ? (size_t)(colon - s) : 0;
	if (td_parse_u64(ps, strlen(ps), 1, 65535, &port) != 0 ||
	    hl >= sizeof(host))
		goto bad;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			goto bad;
		return TD_OK;
	}
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, hl > 0 ? host : "127.0.0.1",
	    &s4->sin_addr) != 1)
		goto bad;
	return TD_OK;
bad:
	*err = xasprintf("[metrics] listen = %s: not PORT, ADDRESS:PORT or "
	    "[ADDRESS]:PORT with a numeric address", s);
	return TD_ERR_INVAL;
}

int
metrics_new(const struct td_conf *c, struct metrics **out, char **err)
{
	struct metrics *m = xcalloc(1, sizeof(*m));
	const char *listen = td_conf_str(c, TDK_metrics_listen);
#ifdef HAVE_LIBMICROHTTPD
	struct sockaddr_storage ss;
#endif

	*out = NULL;
	*err = NULL;
	m->conf = c;
	m->landed = xcalloc(LANDED_SLOTS, sizeof(*m->landed));
	m->started = td_time();
	if (listen != NULL && *listen != '\0') {
#ifdef HAVE_LIBMICROHTTPD
		if (parse_listen(listen, &ss, err) != 0) {
			metrics_free(m);
			return TD_ERR_INVAL;
		}
		m->mhd = MHD_start_daemon(MHD_USE_EPOLL, 0, NULL, NULL,
		    metrics_http, m, MHD_OPTION_SOCK_ADDR, &ss,
		    MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
		    MHD_OPTION_END);
		if (m->mhd == NULL) {
			*err = xasprintf("[metrics] listen = %s: cannot serve "
			    "there: %s", listen, strerror(errno));
			metrics_free(m);
			return TD_ERR_INVAL;
		}
#else
		*err = xasprintf("[metrics] listen = %s: this build has no "
		    "libmicrohttpd", listen);
		metrics_free(m);
		return TD_ERR_INVAL;
#endif
	}
	*out = m;
	return TD_OK;
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
#ifdef HAVE_LIBMICROHTTPD
	if (m->mhd != NULL)
		MHD_stop_daemon(m->mhd);
#endif
	store_close(m->st);
	x_free(m->landed);
	x_free(m);
}

void
metrics_set_conf(struct metrics *m, const struct td_conf *c)
{
	const char *a = td_conf_str(m->conf, TDK_metrics_listen);
	const char *b = td_conf_str(c, TDK_metrics_listen);

	if ((a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0))
		td_log(TD_LOG_WARN, "metrics_listen_kept", "listen=%s "
		    "hint=%s", a != NULL ? a : "", "a new [metrics] listen "
		    "takes effect at the next start");
	m->conf = c;
}

int
metrics_fd(struct metrics *m)
{
#ifdef HAVE_LIBMICROHTTPD
	const union MHD_DaemonInfo *i;

	if (m->mhd != NULL && (i = MHD_get_daemon_info(m->mhd,
	    MHD_DAEMON_INFO_EPOLL_FD)) != NULL)
		return i->epoll_fd;
#endif
	return -1;
}

void
metrics_serve(struct metrics *m)
{
#ifdef HAVE_LIBMICROHTTPD
	if (m->mhd != NULL)
		(void)MHD_run(m->mhd);
#endif
}

int64_t
metrics_serve_at(struct metrics *m)
{
#ifdef HAVE_LIBMICROHTTPD
	MHD_UNSIGNED_LONG_LONG ms;

	if (m->mhd != NULL && MHD_get_timeout(m->mhd, &ms) == MHD_YES)
		return deliver_clock_ms() + (ms < 3600000 ? (int64_t)ms :
		    3600000);
#else
	(void)m;
#endif
	return INT64_MAX;
}

int64_t
metrics_tick(struct metrics *m)
{
	const char *tf = td_conf_str(m->conf, TDK_metrics_textfile);
	uint64_t sla = td_conf_u64(m->conf, TDK_integration_sync_sla);
	struct metrics_state s;
	struct td_buf b;
	int64_t now = td_time();
	int r;

	if (tf != NULL && *tf != '\0') {
		td_buf_init(&b, 8192, RENDER_MAX);
		metrics_render(m, &b);
		if ((r = td_write_file_atomic(tf, b.p, b.len)) != 0)
			td_log(TD_LOG_WARN, "metrics_textfile_failed", "path=%s "
			    "error=%s", tf, td_strerror(r));
		td_buf_free(&b);
	}
	if (metrics_state_read(metrics_store(m), now, &s) == 0 &&
	    s.oldest >= 0 && now - s.oldest > (int64_t)sla) {
		if (m->sla_warned == 0 ||
		    td_mono_ms() - m->sla_warned >= SLA_REPEAT) {
			td_log(TD_LOG_WARN, "sync_sla_exceeded", "lag=%lld "
			    "sync_sla=%llu undelivered=%lld", (long long)(now -
			    s.oldest), (unsigned long long)sla, (long long)
			    (s.t_received + s.t_parsed));
			m->sla_warned = td_mono_ms();
		}
	} else
		m->sla_warned = 0;
	metrics_store_done(m);
	return deliver_clock_ms() + TICK_MS;
}
