/*
 * worker.h - the daemon's worker processes. The loop (loop.c) never does
 * slow work itself: it hands each job to a worker, a child process with
 * its own state.db connection, and goes on watching. Each worker does one
 * job at a time and answers with one reply (and, for intake, a note after
 * every file it processed, so that delivery starts at once):
 *
 *   intake   scan landing/ (a full rescan), claim, receive and process
 *            what is ready; also finishes what a stop left in work/;
 *            and retention (prune_expired), at start and every day: it
 *            is the one writer of the archive, so never beside a scan
 *   deliver  deliver what is processed, until done or a retry's backoff
 *   sftp     poll one SFTP source into landing/
 *
 * They talk over a SOCK_SEQPACKET pair, one struct per message. The
 * parent holds the lock of state_dir; a worker dies with its parent.
 */
#ifndef TD_WORKER_H
#define TD_WORKER_H

#include <sys/types.h>

#include <stdint.h>

struct td_conf;

#define WK_INTAKE	0
#define WK_DELIVER	1
#define WK_SFTP		2
#define WK_N		3

#define WK_REQ_SCAN	1	/* intake: one pass over landing/ */
#define WK_REQ_DELIVER	2	/* deliver: deliver_step until done or wait */
#define WK_REQ_POLL	3	/* sftp: poll source arg */
#define WK_REQ_PRUNE	4	/* intake: retention (prune_expired) */

#define WK_REP_DONE	1	/* the job is done; the worker is idle */
#define WK_REP_PROCESSED 2	/* intake: one more transmission processed */
#define WK_REP_DELIVERED 3	/* deliver: one more transmission delivered */

struct wk_req {
	int		 op;
	uint32_t	 arg;
};

struct wk_rep {
	int		 op;
	int		 r;		/* 0, DELIVER_WAIT, or a TD_ERR_* */
	int		 req;		/* DONE: the request's op */
	uint32_t	 arg;		/* the request's arg */
	int64_t		 next_ms;	/* deliver: call again then (monotonic) */
	int64_t		 settle_at;	/* intake: a file settles then (td_mono_ms) */
	unsigned	 received, quarantined, delivered, duplicate;
	uint64_t	 records, dlq;
	int		 paused;	/* intake: disk or outbox full */
	int		 relanded;	/* intake: landing_dir was replaced */
	int		 state_moved;	/* intake: so was state_dir: stop */
	int64_t		 clock_skew;	/* intake: the wall clock's offset at */
	int		 clock_stepped;	/* its last listing (landing_clock) */
	uint64_t	 usec;		/* PROCESSED: the time that file took */
	char		 name[256];	/* PROCESSED, DELIVERED: its file name */
};

/*
 * What the loop knows of the wall clock (landing_clock), handed to an
 * intake worker it starts, and kept up to date by its replies.
 */
struct wk_clock {
	int64_t		 skew;		/* ms; 0: not yet known */
	int		 stepped;	/* a step was seen (and logged) */
};

struct worker {
	int		 kind;		/* WK_* */
	pid_t		 pid;		/* 0: not running */
	int		 fd;		/* the parent's end, or -1 */
	int		 busy;		/* a request is out */
	int		 dirty;		/* asked again while busy */
	uint32_t	 arg;		/* of the request out */
	int64_t		 restart_at;	/* after a crash: not before (ms) */
	unsigned	 crashes;	/* in a row */
};

/* The name of a worker kind: "intake", "deliver", "sftp". */
const char *worker_name(int kind);
/*
 * Start a worker of w->kind on configuration c; lockfd is kept open in
 * it. An intake worker's first listing compares the wall clock with
 * *clk (NULL: with nothing). Returns 0 or TD_ERR_IO (logged).
 */
int	worker_start(struct worker *, struct td_conf *c, int lockfd,
	    const struct wk_clock *clk);
/* Send a request; the caller checks it is idle. 0 or TD_ERR_IO. */
int	worker_send(struct worker *, int op, uint32_t arg);
/* Read one reply: 0, TD_ERR_AGAIN (none yet), TD_ERR_IO (it is gone). */
int	worker_recv(struct worker *, struct wk_rep *);

#endif
