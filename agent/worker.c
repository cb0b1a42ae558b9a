/*
 * worker.c - the daemon's worker processes (see worker.h): fork, the
 * request loop of a worker, and the parent's end of the socket.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "td.h"
#include "conf.h"
#include "log.h"
#include "store.h"
#include "ctx.h"
#include "intake.h"
#include "deliver.h"
#include "agent.h"
#include "sandbox.h"
#include "worker.h"

static volatile sig_atomic_t wk_idle = 1, wk_stop;
static int wk_sock = -1;
static int64_t wk_mark;		/* intake: when the current file began */
static int64_t wk_delivered;	/* deliver: seq of the last reported */

const char *
worker_name(int kind)
{
	static const char *names[WK_N] = { "intake", "deliver", "sftp" };

	return kind >= 0 && kind < WK_N ? names[kind] : "?";
}

/* SIGTERM: an idle worker exits now, a busy one after its job. */
static void
wk_term(int sig)
{
	(void)sig;
	if (wk_idle)
		_exit(0);
	wk_stop = 1;
}

static void
wk_write(const struct wk_rep *rep)
{
	while (send(wk_sock, rep, sizeof(*rep), MSG_NOSIGNAL) < 0 &&
	    errno == EINTR)
		;
}

static int64_t
wk_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
wk_name(struct wk_rep *rep, const char *name)
{
	snprintf(rep->name, sizeof(rep->name), "%s", name != NULL ? name :
	    "");
}

/*
 * intake: tell the loop at once, so delivery of that file can start,
 * with its name and the time since the previous file was done.
 */
static void
wk_processed(struct td_ctx *x, const char *tid)
{
	struct wk_rep rep;
	sqlite3_stmt *s;
	int64_t now = wk_usec();

	memset(&rep, 0, sizeof(rep));
	rep.op = WK_REP_PROCESSED;
	rep.usec = (uint64_t)(now - wk_mark);
	wk_mark = now;
	s = store_prepare(x->st, "SELECT name FROM transmissions WHERE id = ?");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		wk_name(&rep, (const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	wk_write(&rep);
}

/*
 * intake, after each file (told to the loop if processed, a duplicate or
 * a quarantine commits too): the WAL copied into state.db now, not in
 * the commit, so that a processed file's delivery is under way; not
 * counted in the next file's processing time.
 */
static void
wk_file_done(struct td_ctx *x)
{
	store_checkpoint(x->st);
	wk_mark = wk_usec();
}

/* deliver: name each transmission delivered since the last report */
static void
wk_report_delivered(struct td_ctx *x)
{
	struct wk_rep rep;
	sqlite3_stmt *s;

	s = store_prepare(x->st, "SELECT seq, name FROM transmissions WHERE "
	    "seq > ? AND state = 'delivered' ORDER BY seq");
	sqlite3_bind_int64(s, 1, wk_delivered);
	while (sqlite3_step(s) == SQLITE_ROW) {
		memset(&rep, 0, sizeof(rep));
		rep.op = WK_REP_DELIVERED;
		wk_delivered = sqlite3_column_int64(s, 0);
		wk_name(&rep, (const char *)sqlite3_column_text(s, 1));
		wk_write(&rep);
	}
	sqlite3_reset(s);
}

/*
 * intake: retention, as `tradedrop prune` does it. A failure is logged
 * and left to the next day's run; the worker goes on.
 */
static void
wk_prune(struct td_ctx *x, struct wk_rep *rep)
{
	size_t n;
	int r;

	r = prune_expired(x->conf, NULL, x, PRUNE_LOG, &n);
	store_checkpoint(x->st);
	if (r != 0)
		td_log(TD_LOG_ERROR, "prune_failed", "pruned=%zu error=%s "
		    "action=%s", n, td_errstr(r), "retried in a day");
	else
		td_log(TD_LOG_INFO, "prune_done", "pruned=%zu retain_days=%llu",
		    n, (unsigned long long)td_conf_u64(x->conf,
		    TDK_integration_retain_days));
	rep->r = r;
}

static void
wk_job(int kind, struct td_ctx *x, struct deliverer *d,
    const struct wk_req *req, struct wk_rep *rep)
{
	switch (kind) {
	case WK_INTAKE:
		if (req->op == WK_REQ_PRUNE) {
			wk_prune(x, rep);
			break;
		}
		wk_mark = wk_usec();
		if (ctx_state_moved(x))
			x->run.failed = 1;	/* the loop stops */
		else if (intake_process_pending(x) == 0 && !x->run.paused)
			(void)intake_landing(x, 0);
		sandbox_release();	/* no child kept past the job */
		store_checkpoint(x->st);	/* what commits left */
		rep->settle_at = x->run.settle_at;
		rep->paused = x->run.paused;
		rep->relanded = x->run.relanded;
		rep->state_moved = x->state_moved;
		rep->clock_skew = x->clock_skew;
		rep->clock_stepped = x->clock_stepped;
		rep->r = x->run.failed ? TD_ERR_INTERNAL : 0;
		break;
	case WK_DELIVER:
		rep->r = deliver_step(d, deliver_clock_ms(), &rep->next_ms);
		wk_report_delivered(x);
		break;
	case WK_SFTP:
		rep->r = req->arg < td_conf_nsources(x->conf) ?
		    cmd_poll_source(x, req->arg) : TD_ERR_INVAL;
		break;
	}
	rep->received = x->run.n_received;
	rep->duplicate = x->run.n_duplicate;
	rep->quarantined = x->run.n_quarantined;
	rep->delivered = x->run.n_delivered;
	rep->records = x->run.n_records;
	rep->dlq = x->run.n_dlq;
}

static void __attribute__((noreturn))
worker_main(int kind, struct td_conf *c, int sock, pid_t parent,
    const struct wk_clock *clk)
{
	struct td_ctx x;
	struct deliverer *d = NULL;
	struct sigaction sa;
	struct wk_req req;
	struct wk_rep rep;
	sigset_t none;
	ssize_t n;

	wk_sock = sock;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = wk_term;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/*
	 * The loop gone (killed), nothing stops a busy worker or takes its
	 * reply, and it keeps the lock of state_dir from a restart for as
	 * long as its job lasts: die with the loop, as safe as any crash.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(EXIT_INTERNAL);
	if (ctx_open(&x, c, CTX_NOLOCK | (kind == WK_INTAKE ? CTX_MAPPER :
	    0)) != 0)
		_exit(EXIT_INTERNAL);
	if (kind == WK_INTAKE) {
		x.processed_cb = wk_processed;
		x.file_done_cb = wk_file_done;
		store_defer_checkpoints(x.st);
		if (clk != NULL) {
			/* the loop's look at the clock, just before the
			 * fork: a step before it was logged by then */
			x.clock_skew = clk->skew;
			x.clock_stepped = clk->stepped;
		}
		if (intake_recover(&x) != 0)
			td_log(TD_LOG_ERROR, "recover_failed", "worker=%s",
			    worker_name(kind));
	} else if (kind == WK_DELIVER) {
		d = deliver_new(&x);
		(void)store_query_int(x.st, "SELECT coalesce(max(seq), 0) FROM "
		    "transmissions WHERE state = 'delivered'", 0, &wk_delivered);
	}
	for (;;) {
		wk_idle = 1;
		if (wk_stop)
			break;
		n = recv(sock, &req, sizeof(req), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(req))
			break;		/* the loop closed its end */
		wk_idle = 0;
		ctx_run_reset(&x);
		memset(&rep, 0, sizeof(rep));
		rep.op = WK_REP_DONE;
		rep.arg = req.arg;
		rep.req = req.op;
		wk_job(kind, &x, d, &req, &rep);
		wk_write(&rep);
	}
	deliver_free(d);
	ctx_close(&x);
	_exit(0);
}

int
worker_start(struct worker *w, struct td_conf *c, int lockfd,
    const struct wk_clock *clk)
{
	int sv[2];
	pid_t pid, parent = getpid();

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		td_log(TD_LOG_ERROR, "worker_failed", "worker=%s error=%s",
		    worker_name(w->kind), strerror(errno));
		return TD_ERR_IO;
	}
	if ((pid = fork()) < 0) {
		td_log(TD_LOG_ERROR, "worker_failed", "worker=%s error=%s",
		    worker_name(w->kind), strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return TD_ERR_IO;
	}
	if (pid == 0) {
		int keep[2] = { sv[1], lockfd };

		sandbox_close_fds(keep, 2);
		worker_main(w->kind, c, sv[1], parent, clk);
	}
	close(sv[1]);
	w->pid = pid;
	w->fd = sv[0];
	w->busy = 0;
	td_log(TD_LOG_DEBUG, "worker_started", "worker=%s pid=%ld",
	    worker_name(w->kind), (long)pid);
	return TD_OK;
}

int
worker_send(struct worker *w, int op, uint32_t arg)
{
	struct wk_req req;

	memset(&req, 0, sizeof(req));
	req.op = op;
	req.arg = arg;
	if (w->fd < 0 || send(w->fd, &req, sizeof(req), MSG_NOSIGNAL |
	    MSG_DONTWAIT) != (ssize_t)sizeof(req))
		return TD_ERR_IO;
	w->busy = 1;
	w->arg = arg;
	return TD_OK;
}

int
worker_recv(struct worker *w, struct wk_rep *rep)
{
	ssize_t n;

	n = recv(w->fd, rep, sizeof(*rep), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return TD_ERR_AGAIN;
	if (n != (ssize_t)sizeof(*rep))
		return TD_ERR_IO;
	if (rep->op == WK_REP_DONE)
		w->busy = 0;
	return TD_OK;
}
