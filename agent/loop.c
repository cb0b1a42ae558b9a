/*
 * loop.c - the event loop of `tradedrop run`. See loop.h and worker.h.
 *
 * The loop holds the configuration and the lock of state_dir. It never
 * parses input, talks to a network peer or waits for a disk: a landing
 * event asks the intake worker for a scan, a processed file asks the
 * deliver worker for a delivery, a due poll asks the sftp worker. Each
 * worker does one job at a time; a request made while it is busy is
 * remembered (coalesced) and sent when it answers.
 */
#include "config.h"

#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "td.h"
#include "conf.h"
#include "failpoint.h"
#include "log.h"
#include "match.h"
#include "map.h"
#include "sidecar.h"
#include "landing.h"
#include "deliver.h"
#include "notify.h"
#include "metrics.h"
#include "agent.h"
#include "worker.h"
#include "loop.h"

#define RESCAN_MS	60000	/* a full rescan of landing/ this often */
#define RETRY_MS	5000	/* a failed scan is tried again after this */
#define STATE_MS	2000	/* state_dir is looked at this often */
#define DELIVER_RETRY_MS 30000	/* a delivery that stopped at a failure */
#define TERM_GRACE_MS	2000	/* a busy worker's time to finish, at stop */
#define CRASH_MAX_MS	60000	/* longest wait before restarting a worker */
#define PRUNE_MS	86400000	/* retention runs this often (and at start) */
#define NEVER		INT64_MAX

struct loop {
	struct td_conf	*conf;
	const char	*conf_path;
	const char	*pidfile;
	int		 lockfd;
	int		 sigfd, inofd, tfd, wd;
	struct worker	 wk[WK_N];
	struct wk_clock	 clock;		/* the intake worker's, last known */
	int		 reload[WK_N];	/* restart on the new config when idle */
	size_t		 nsrc;
	int64_t		*poll_at;	/* per source, ms; NEVER: polling */
	int64_t		*polled_at;	/* per source: when its poll started */
	int		 want_scan, want_deliver, paused;
	int64_t		 scan_at;	/* a timed rescan */
	int64_t		 deliver_at;	/* not before (a backoff) */
	int		 deliver_stuck;	/* waits DELIVER_RETRY_MS: a refusal */
	int		 deliver_anew;	/* reloaded while a delivery ran */
	int64_t		 watch_at;	/* re-add the landing watch */
	int		 watch_lost;	/* since it was lost: rescan when back */
	int64_t		 watchdog_at;
	uint64_t	 watchdog_ms;
	struct metrics	*metrics;
	int64_t		 tick_at;	/* metrics textfile, sync_sla */
	int64_t		 prune_at;	/* retention is due (the intake's job) */
	int64_t		 prune_ms;	/* PRUNE_MS, a test may lower it */
	int		 stopping;
	int64_t		 kill_at;
	int		 rc;		/* the exit status, when not 0 */
	int64_t		 state_at;	/* look at state_dir again */
};

static int64_t
now_ms(void)
{
	return deliver_clock_ms();
}

static int
watch_add(struct loop *l)
{
	const char *dir = td_conf_str(l->conf, TDK_integration_landing_dir);

	/* IN_CREATE: a hard link (ln) into landing gives nothing else */
	l->wd = inotify_add_watch(l->inofd, dir, IN_CLOSE_WRITE |
	    IN_MOVED_TO | IN_CREATE | IN_ATTRIB | IN_ONLYDIR |
	    IN_DELETE_SELF | IN_MOVE_SELF);
	if (l->wd < 0) {
		td_log(TD_LOG_ERROR, "watch_failed", "dir=%s error=%s", dir,
		    strerror(errno));
		l->watch_at = now_ms() + RETRY_MS;
		return TD_ERR_IO;
	}
	l->watch_at = NEVER;
	if (l->watch_lost) {
		/* what landed while nothing watched */
		td_log(TD_LOG_INFO, "watch_restored", "dir=%s", dir);
		l->watch_lost = 0;
		l->want_scan = 1;
	}
	return TD_OK;
}

/*
 * The intake found the landing directory replaced (a directory made
 * again, or a file system mounted or unmounted there, which inotify may
 * not tell): watch what the path names now.
 */
/*
 * 1 when state_dir/lock is not the file whose lock we hold: state_dir was
 * removed, moved or replaced under us. The lock went with it (a second
 * daemon could start on the new one), and what the workers would take
 * would go into a state no later run sees: the caller stops, and the
 * restart (systemd's, on exit 4) opens what is there now. The intake
 * worker looks too, before each group of files (ctx_state_moved).
 */
static int
state_moved(struct loop *l)
{
	const char *dir = td_conf_str(l->conf, TDK_integration_state_dir);
	struct stat held, now;
	char *p;
	int r, e = 0;

	if (l->lockfd < 0 || fstat(l->lockfd, &held) != 0)
		return 0;
	p = xasprintf("%s/lock", dir);
	r = stat(p, &now);
	if (r != 0)
		e = errno;
	x_free(p);
	if (r == 0 && now.st_dev == held.st_dev && now.st_ino == held.st_ino)
		return 0;
	if (r != 0 && e != ENOENT && e != ENOTDIR)
		return 0;	/* cannot tell (EACCES, EIO): the next look */
	td_log(TD_LOG_ERROR, "state_dir_replaced", "dir=%s reason=%s "
	    "action=%s", dir, r != 0 ? "its lock file is gone" :
	    "its lock file is another file", "take nothing more; stop, so "
	    "that a restart opens what is there now");
	return 1;
}

static void
watch_again(struct loop *l)
{
	if (l->wd >= 0)
		(void)inotify_rm_watch(l->inofd, l->wd);
	l->wd = -1;
	l->watch_lost = 1;
	(void)watch_add(l);
}

static void
sources_reset(struct loop *l)
{
	size_t i, n = td_conf_nsources(l->conf);

	x_free(l->poll_at);
	x_free(l->polled_at);
	l->poll_at = xcalloc(n > 0 ? n : 1, sizeof(*l->poll_at));
	l->polled_at = xcalloc(n > 0 ? n : 1, sizeof(*l->polled_at));
	for (i = 0; i < n; i++)
		l->poll_at[i] = now_ms();	/* poll each at start */
	l->nsrc = n;
}

static void
worker_stop(struct worker *w, int sig)
{
	if (w->pid > 0)
		(void)kill(w->pid, sig);
}

/* Forget a worker: its socket closed, it exits (or has). */
static void
worker_drop(struct worker *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	w->busy = 0;
}

/*
 * Source i was polled: the next poll starts poll_interval after this one
 * started, or now when this one took longer.
 */
static void
poll_next(struct loop *l, uint32_t i)
{
	int64_t at;

	if (i >= l->nsrc)
		return;		/* a source a reload removed */
	at = l->polled_at[i] + (int64_t)td_conf_src_u64(l->conf, i,
	    TDK_source_poll_interval) * 1000;
	l->poll_at[i] = at > now_ms() ? at : now_ms();
}

/* A worker's job is lost with it: ask again once it is back. */
static void
job_lost(struct loop *l, struct worker *w)
{
	if (!w->busy)
		return;
	switch (w->kind) {
	case WK_INTAKE:
		l->want_scan = 1;
		break;
	case WK_DELIVER:
		l->want_deliver = 1;
		break;
	case WK_SFTP:
		poll_next(l, w->arg);
		break;
	}
}

static void
reap(struct loop *l)
{
	struct worker *w;
	int status, i;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		w = NULL;
		for (i = 0; i < WK_N; i++)
			if (l->wk[i].pid == pid)
				w = &l->wk[i];
		if (w == NULL)
			continue;	/* one replaced after a reload */
		w->pid = 0;
		if (l->stopping) {
			worker_drop(w);
			continue;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
		    l->reload[w->kind]) {
			worker_drop(w);
			continue;
		}
		td_log(TD_LOG_ERROR, "worker_died", "worker=%s pid=%ld "
		    "status=%s code=%d busy=%d", worker_name(w->kind),
		    (long)pid, WIFSIGNALED(status) ? "signal" : "exit",
		    WIFSIGNALED(status) ? WTERMSIG(status) :
		    WEXITSTATUS(status), w->busy);
		job_lost(l, w);
		worker_drop(w);
		w->crashes++;
		w->restart_at = now_ms() + (w->crashes >= 6 ? CRASH_MAX_MS :
		    (int64_t)1000 << (w->crashes - 1));
	}
}

/*
 * SIGHUP: read the config again and check everything a worker would
 * (mapping, keys, owners). On error the old one stays. state_dir and
 * landing_dir cannot change under a running daemon.
 */
static void
reload(struct loop *l)
{
	struct td_conf *nc = NULL;
	struct mapper *m = NULL;
	struct minisign_key *keys = NULL;
	uid_t *uids = NULL;
	size_t nk, nu, i;
	char *errs = NULL, *line, *nl;
	int ok = 0;

	td_log(TD_LOG_INFO, "reload", "config=%s", l->conf_path);
	if (td_conf_load(l->conf_path, &nc, &errs) != 0)
		goto out;
	x_free(errs);
	errs = NULL;
	if (strcmp(td_conf_str(nc, TDK_integration_state_dir),
	    td_conf_str(l->conf, TDK_integration_state_dir)) != 0 ||
	    strcmp(td_conf_str(nc, TDK_integration_landing_dir),
	    td_conf_str(l->conf, TDK_integration_landing_dir)) != 0) {
		errs = xasprintf("%s: state_dir and landing_dir cannot change "
		    "while the daemon runs; restart it", l->conf_path);
		goto out;
	}
	if (mapper_new(nc, &m, &errs) != 0 ||
	    sidecar_load_keys(nc, &keys, &nk, &errs) != 0 ||
	    landing_owner_uids(nc, &uids, &nu, &errs) != 0)
		goto out;
	ok = 1;
out:
	mapper_free(m);
	x_free(keys);
	x_free(uids);
	if (!ok) {
		/* one line per error, each FILE:LINE: message */
		for (line = errs; line != NULL && *line != '\0'; line = nl) {
			if ((nl = strchr(line, '\n')) != NULL)
				*nl++ = '\0';
			td_log(TD_LOG_ERROR, "reload_failed", "error=%s "
			    "action=%s", line, "kept the running config");
		}
		if (errs == NULL)
			td_log(TD_LOG_ERROR, "reload_failed", "config=%s "
			    "action=%s", l->conf_path, "kept the running config");
		x_free(errs);
		td_conf_free(nc);
		return;
	}
	x_free(errs);
	notify_reloading();
	metrics_set_conf(l->metrics, nc);
	td_conf_free(l->conf);
	l->conf = nc;
	td_log_set_level(td_log_level_from_name(td_conf_str(nc,
	    TDK_integration_log_level)));
	sources_reset(l);
	/*
	 * A delivery stopped by a refusal (401, 403, a token or output that
	 * could not be used) may be what the new config fixes: try at once,
	 * not DELIVER_RETRY_MS later; so too when the delivery running now
	 * (on the old config) ends so. A backoff, Retry-After or an open
	 * breaker is still waited for.
	 */
	if (l->deliver_stuck) {
		l->deliver_at = 0;
		l->deliver_stuck = 0;
	}
	if (l->wk[WK_DELIVER].busy)
		l->deliver_anew = 1;
	/* each worker starts again on the new config once it is idle */
	for (i = 0; i < WK_N; i++)
		l->reload[i] = 1;
	l->want_scan = l->want_deliver = 1;
	td_log(TD_LOG_INFO, "reloaded", "config=%s sources=%zu",
	    l->conf_path, l->nsrc);
	notify_ready();
}

static void
stop(struct loop *l, const char *why)
{
	int i;

	if (l->stopping)
		return;
	td_log(TD_LOG_INFO, "stopping", "signal=%s", why);
	notify_stopping();
	l->stopping = 1;
	l->kill_at = now_ms() + TERM_GRACE_MS;
	for (i = 0; i < WK_N; i++)
		worker_stop(&l->wk[i], SIGTERM);
}

static void
on_signal(struct loop *l)
{
	struct signalfd_siginfo si;
	size_t i;

	while (read(l->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
			stop(l, "TERM");
			break;
		case SIGINT:
			stop(l, "INT");
			break;
		case SIGHUP:
			if (!l->stopping)
				reload(l);
			break;
		case SIGUSR1:
			td_log(TD_LOG_INFO, "poll_now", "sources=%zu", l->nsrc);
			for (i = 0; i < l->nsrc; i++)
				if (l->poll_at[i] != NEVER)
					l->poll_at[i] = now_ms();
			break;
		case SIGCHLD:
			reap(l);
			break;
		}
	}
}

static void
on_inotify(struct loop *l)
{
	char buf[65536] __attribute__((aligned(__alignof__(struct
	    inotify_event))));
	const struct inotify_event *ev;
	char * const *ign;
	size_t nign;
	ssize_t n;
	char *p;

	ign = td_conf_list(l->conf, TDK_watch_ignore, &nign);
	while ((n = read(l->inofd, buf, sizeof(buf))) > 0) {
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW) {
				td_log(TD_LOG_WARN, "watch_overflow", "dir=%s "
				    "action=%s", td_conf_str(l->conf,
				    TDK_integration_landing_dir), "rescan");
				l->want_scan = 1;
			} else if (ev->mask & (IN_IGNORED | IN_DELETE_SELF |
			    IN_MOVE_SELF)) {
				if (ev->wd == l->wd) {
					td_log(TD_LOG_ERROR, "watch_lost",
					    "dir=%s", td_conf_str(l->conf,
					    TDK_integration_landing_dir));
					if (!(ev->mask & IN_IGNORED))
						(void)inotify_rm_watch(
						    l->inofd, l->wd);
					l->wd = -1;
					l->watch_lost = 1;
					l->watch_at = now_ms() + RETRY_MS;
				}
			} else if (ev->len > 0 &&
			    !td_globs_match(ign, nign, ev->name)) {
				l->want_scan = 1;	/* a full pass */
				metrics_landed(l->metrics, ev->name);
			}
		}
	}
}

static void
on_reply(struct loop *l, struct worker *w)
{
	struct wk_rep rep;
	int r;
	int64_t now;

	while ((r = worker_recv(w, &rep)) == TD_OK) {
		now = now_ms();
		if (rep.op == WK_REP_PROCESSED) {
			l->want_deliver = 1;
			metrics_file_processed(l->metrics, rep.usec);
			continue;
		}
		if (rep.op == WK_REP_DELIVERED) {
			metrics_delivered(l->metrics, rep.name);
			continue;
		}
		w->crashes = 0;
		switch (w->kind) {
		case WK_INTAKE:
			if (rep.req == WK_REQ_PRUNE)
				break;	/* logged by the worker */
			if (rep.received > 0 || rep.quarantined > 0)
				l->want_deliver = 1;
			if (rep.r != 0)
				l->scan_at = now + RETRY_MS;
			else if (rep.settle_at > 0)	/* monotonic, as ours */
				l->scan_at = rep.settle_at;
			else
				l->scan_at = now + RESCAN_MS;
			l->paused = rep.paused;
			if (rep.clock_skew != 0) {
				l->clock.skew = rep.clock_skew;
				l->clock.stepped |= rep.clock_stepped;
			}
			if (rep.relanded)
				watch_again(l);
			if (rep.state_moved) {
				/* logged by the worker (state_dir_replaced) */
				l->rc = EXIT_INTERNAL;
				stop(l, "state_dir");
			}
			if (rep.received + rep.duplicate + rep.quarantined > 0)
				td_log(TD_LOG_INFO, "intake_done", "received=%u "
				    "duplicate=%u quarantined=%u records=%llu "
				    "dlq=%llu", rep.received, rep.duplicate,
				    rep.quarantined,
				    (unsigned long long)rep.records,
				    (unsigned long long)rep.dlq);
			break;
		case WK_DELIVER:
			if (rep.r != 0)
				metrics_tier1(l->metrics);
			l->deliver_stuck = rep.r != 0 &&
			    rep.r != DELIVER_WAIT && rep.next_ms == 0;
			if (rep.r == DELIVER_WAIT) {
				l->want_deliver = 1;
				l->deliver_at = rep.next_ms;
			} else if (rep.r != 0) {
				l->want_deliver = 1;
				l->deliver_at = rep.next_ms > 0 ? rep.next_ms :
				    l->deliver_anew ? now : now +
				    DELIVER_RETRY_MS;
			} else if (l->paused)
				l->want_scan = 1;	/* the outbox drained */
			l->deliver_anew = 0;
			break;
		case WK_SFTP:
			if (rep.r != 0)
				metrics_tier1(l->metrics);
			poll_next(l, rep.arg);
			break;
		}
	}
	if (r == TD_ERR_IO) {
		/* it closed its end: SIGCHLD says why */
		job_lost(l, w);
		worker_drop(w);
	}
}

/* Start, restart and feed the workers; returns the next deadline. */
static int64_t
schedule(struct loop *l)
{
	int64_t now = now_ms(), next = NEVER, best;
	struct worker *w;
	size_t i, pick;
	int k;

	for (k = 0; k < WK_N && !l->stopping; k++) {
		w = &l->wk[k];
		if (l->reload[k] && !w->busy) {
			if (w->pid > 0)
				worker_drop(w);	/* it exits on EOF */
			w->pid = 0;
			l->reload[k] = 0;
		}
		if (w->pid == 0 && w->fd < 0) {
			if (w->restart_at > now) {
				next = w->restart_at < next ? w->restart_at :
				    next;
				continue;
			}
			/* a step since the last listing (of a worker now
			 * gone) is seen here, not missed by the new one */
			if (k == WK_INTAKE)
				landing_clock(&l->clock.skew,
				    &l->clock.stepped);
			if (worker_start(w, l->conf, l->lockfd, &l->clock) !=
			    0) {
				w->restart_at = now + RETRY_MS;
				next = w->restart_at < next ? w->restart_at :
				    next;
				continue;
			}
		}
	}
	if (l->stopping)
		return l->kill_at;
	if (l->state_at <= now) {
		l->state_at = now + STATE_MS;
		if (state_moved(l)) {
			l->rc = EXIT_INTERNAL;
			stop(l, "state_dir");
			return l->kill_at;
		}
	}
	if (l->state_at < next)
		next = l->state_at;
	if (l->watch_at <= now)
		(void)watch_add(l);
	if (l->watch_at < next)
		next = l->watch_at;
	if (l->scan_at <= now) {
		l->want_scan = 1;
		l->scan_at = now + RESCAN_MS;
	}
	if (l->scan_at < next)
		next = l->scan_at;
	w = &l->wk[WK_INTAKE];
	/*
	 * Retention, in the intake worker (the archive's one writer): once
	 * due, after the scan wanted now, unless it has waited RESCAN_MS
	 * for one (landing never quiet). A failed run waits for the next.
	 */
	if (l->prune_at > now && l->prune_at < next)
		next = l->prune_at;
	if (l->prune_at <= now && w->fd >= 0 && !w->busy && (!l->want_scan ||
	    now - l->prune_at >= RESCAN_MS) &&
	    worker_send(w, WK_REQ_PRUNE, 0) == 0) {
		l->prune_at = now + l->prune_ms;
		next = l->prune_at < next ? l->prune_at : next;
	}
	if (l->want_scan && w->fd >= 0 && !w->busy &&
	    worker_send(w, WK_REQ_SCAN, 0) == 0)
		l->want_scan = 0;
	w = &l->wk[WK_DELIVER];
	if (l->want_deliver && l->deliver_at > now && l->deliver_at < next)
		next = l->deliver_at;
	if (l->want_deliver && l->deliver_at <= now && w->fd >= 0 &&
	    !w->busy && worker_send(w, WK_REQ_DELIVER, 0) == 0)
		l->want_deliver = 0;
	/* the most overdue source first */
	w = &l->wk[WK_SFTP];
	best = NEVER;
	pick = l->nsrc;
	for (i = 0; i < l->nsrc; i++) {
		if (l->poll_at[i] < best) {
			best = l->poll_at[i];
			pick = i;
		}
	}
	if (pick < l->nsrc && best <= now && w->fd >= 0 && !w->busy &&
	    worker_send(w, WK_REQ_POLL, (uint32_t)pick) == 0) {
		l->poll_at[pick] = NEVER;
		l->polled_at[pick] = now;
	}
	else if (pick < l->nsrc && best > now && best < next)
		next = best;
	if (l->tick_at <= now) {
		l->tick_at = metrics_tick(l->metrics);
		/* with no connection, libmicrohttpd asks for no timeout: the
		 * listening socket, dropped from its epoll at the connection
		 * limit, is added back by a call once connections are gone */
		metrics_serve(l->metrics);
	}
	if (l->tick_at < next)
		next = l->tick_at;
	/* the rest of a request already read in part, and the connections'
	 * timeouts: no event comes for them (a request past 16 KiB waited
	 * for the tick, 10 s) */
	if ((best = metrics_serve_at(l->metrics)) <= now) {
		metrics_serve(l->metrics);
		best = metrics_serve_at(l->metrics);
	}
	if (best < next)
		next = best;
	if (l->watchdog_ms > 0) {
		if (l->watchdog_at <= now) {
			notify_watchdog();
			l->watchdog_at = now + (int64_t)l->watchdog_ms;
		}
		if (l->watchdog_at < next)
			next = l->watchdog_at;
	}
	return next;
}

static void
arm(struct loop *l, int64_t at)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	if (at != NEVER) {
		if (at <= 0)
			at = 1;
		its.it_value.tv_sec = (time_t)(at / 1000);
		its.it_value.tv_nsec = (long)(at % 1000) * 1000000;
	}
	(void)timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static int
setup(struct loop *l)
{
	sigset_t ss;

	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGHUP);
	sigaddset(&ss, SIGUSR1);
	sigaddset(&ss, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &ss, NULL) != 0 ||
	    (l->sigfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    (l->inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0 ||
	    (l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK |
	    TFD_CLOEXEC)) < 0) {
		td_log(TD_LOG_ERROR, "loop_failed", "error=%s",
		    strerror(errno));
		return TD_ERR_IO;
	}
	return TD_OK;
}

int
loop_run(struct td_conf *c, struct metrics *m, const char *conf_path,
    int lockfd, const char *pidfile)
{
	struct loop l;
	struct pollfd pfd[4 + WK_N];
	uint64_t ticks;
	int64_t next;
	int i, n, rc = 0, alive;

	memset(&l, 0, sizeof(l));
	l.conf = c;
	l.metrics = m;
	l.conf_path = conf_path;
	l.pidfile = pidfile;
	l.lockfd = lockfd;
	l.sigfd = l.inofd = l.tfd = l.wd = -1;
	for (i = 0; i < WK_N; i++) {
		l.wk[i].kind = i;
		l.wk[i].fd = -1;
	}
	if (setup(&l) != 0) {
		rc = EXIT_INTERNAL;
		goto out;
	}
	(void)watch_add(&l);	/* before the first scan: nothing is missed */
	sources_reset(&l);
	l.want_scan = 1;	/* what arrived while we were down */
	l.want_deliver = 1;
	l.scan_at = now_ms() + RESCAN_MS;
	/* the tests lower it with the environment (failpoint.h) */
	l.prune_ms = (int64_t)td_test_bound("TD_TEST_PRUNE_PERIOD_MS",
	    PRUNE_MS);
	l.prune_at = now_ms();	/* at start, after the first scan */
	l.watchdog_ms = notify_watchdog_ms();
	if (pidfile != NULL)
		(void)notify_pidfile(pidfile);
	td_log(TD_LOG_INFO, "run_start", "integration=%s landing=%s "
	    "sources=%zu pid=%ld", td_conf_str(c, TDK_integration_name),
	    td_conf_str(c, TDK_integration_landing_dir), l.nsrc,
	    (long)getpid());
	notify_ready();
	for (;;) {
		next = schedule(&l);
		if (l.stopping) {
			for (alive = 0, i = 0; i < WK_N; i++)
				alive += l.wk[i].pid > 0;
			if (alive == 0)
				break;
			if (now_ms() >= l.kill_at) {
				for (i = 0; i < WK_N; i++)
					worker_stop(&l.wk[i], SIGKILL);
				l.kill_at = now_ms() + 1000;
			}
		}
		arm(&l, next);
		n = 0;
		pfd[n].fd = l.sigfd;
		pfd[n++].events = POLLIN;
		pfd[n].fd = l.inofd;
		pfd[n++].events = POLLIN;
		pfd[n].fd = l.tfd;
		pfd[n++].events = POLLIN;
		for (i = 0; i < WK_N; i++) {
			pfd[n].fd = l.wk[i].fd;	/* -1 is skipped */
			pfd[n++].events = POLLIN;
		}
		pfd[n].fd = metrics_fd(m);
		pfd[n++].events = POLLIN;
		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			td_log(TD_LOG_ERROR, "loop_failed", "error=%s",
			    strerror(errno));
			rc = EXIT_INTERNAL;
			stop(&l, "error");
			continue;
		}
		if ((pfd[2].revents & POLLIN) &&
		    read(l.tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
			td_log(TD_LOG_WARN, "timer_failed", "error=%s",
			    strerror(errno));
		if (pfd[0].revents & POLLIN)
			on_signal(&l);
		if (pfd[1].revents & POLLIN)
			on_inotify(&l);
		for (i = 0; i < WK_N; i++)
			if (l.wk[i].fd >= 0 && pfd[3 + i].fd == l.wk[i].fd &&
			    (pfd[3 + i].revents & (POLLIN | POLLHUP | POLLERR)))
				on_reply(&l, &l.wk[i]);
		if (pfd[3 + WK_N].revents & POLLIN)
			metrics_serve(m);
	}
	(void)metrics_tick(m);		/* the textfile as we leave it */
	if (rc == 0)
		rc = l.rc;
	td_log(TD_LOG_INFO, "run_done", "exit=%d", rc);
out:
	for (i = 0; i < WK_N; i++)
		worker_drop(&l.wk[i]);
	if (pidfile != NULL)
		(void)unlink(pidfile);
	if (l.sigfd >= 0)
		close(l.sigfd);
	if (l.inofd >= 0)
		close(l.inofd);
	if (l.tfd >= 0)
		close(l.tfd);
	x_free(l.poll_at);
	x_free(l.polled_at);
	metrics_free(m);
	td_conf_free(l.conf);
	return rc;
}
