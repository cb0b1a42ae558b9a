/*
 * ctx.h - the context every stage of one integration shares: its
 * configuration, state.db, audit log, keys, directories and the
 * counters of the current run.
 */
#ifndef TD_CTX_H
#define TD_CTX_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "process.h"

struct td_conf;
struct store;
struct mapper;
struct audit;
struct minisign_key;
struct forwarder;
struct landing_seen;

/*
 * What one run (one `once`, later one pass of the daemon) did and saw:
 * reset at the start of each, read for the exit status and the logs.
 */
struct td_run {
	unsigned	 n_received, n_duplicate, n_quarantined, n_delivered;
	unsigned	 n_waiting;	/* data files waiting for a sidecar */
	unsigned	 n_unsettled;	/* landing files still changing */
	unsigned	 n_refused;	/* landing entries refused */
	unsigned	 n_dup_quarantined;	/* duplicates of quarantined ones */
	uint64_t	 n_records, n_dlq;
	struct rej_counts rejections;	/* by code: n_dlq and the rows
					 * rejected of files quarantined */
	uint64_t	 n_held, n_recdup;	/* Tier 4 records */
	uint64_t	 n_unknown_promo;	/* records with an unknown promo_code */
	char		**refused;	/* landing entries refused: logged once */
	size_t		 nrefused;
	int		 listed;	/* landing was listed whole: refused is
					   all it holds that is refused */
	int		 paused;	/* disk or outbox full: take nothing new */
	int		 relanded;	/* landing_dir was replaced (landing.c) */
	int64_t		 settle_at;	/* a landing file settles then (td_mono_ms;
					   0: none) */
	int		 failed;	/* internal error seen */
	int		 undelivered;
};

/* The long-lived state of an integration, shared by every stage. */
struct td_ctx {
	struct td_conf	*conf;
	struct store	*st;
	struct mapper	*map;
	struct audit	*audit;
	struct minisign_key *keys;	/* trusted minisign keys */
	size_t		 nkeys;
	const char	*integration;
	char		*state_dir;
	char		*landing;
	char		*work;
	int		 work_dirty;	/* a claim directory removed from work/
					 * since work/ was last fsynced */
	int		 recover;	/* a pass left claims in work/ for
					 * intake_recover (intake.c) */
	char		*outbox;
	char		*dlq;
	char		*quarantine;
	char		*out_dir;	/* file:// output directory, or NULL */
	struct forwarder *fwd;		/* https:// output, opened on demand */
	int		 enc;		/* OB_ENC_* */
	uint64_t	 batch_records;
	int		 lockfd;	/* flock on state_dir/lock */
	int		 landfd;	/* landing_dir, opened once */
	int		 landfd_old;	/* one replaced, not yet drained, or -1 */
	uid_t		*owners;	/* [watch] owner, resolved */
	size_t		 nowners;
	struct td_run	 run;
	/* the landing entries the pass before this one refused (run.refused
	 * of that pass): the daemon does not log them again while they stay
	 * as they were, at every pass */
	char		**refused_before;
	size_t		 nrefused_before;
	/* landing files as last listed, by name: since when each has been
	 * seen unchanged (landing.c), and the wall clock's offset from the
	 * monotonic clock then, to notice a step of the wall clock */
	struct landing_seen *seen;
	size_t		 nseen;
	int64_t		 clock_skew;	/* ms; 0: not yet known (a worker
				   starts with the loop's: worker.c) */
	int		 clock_stepped;	/* file times are not ages any more */
	int		 landing_gone;	/* landing_dir's path names nothing */
	dev_t		 db_dev;	/* state_dir/state.db as opened */
	ino_t		 db_ino;
	int		 state_moved;	/* it is not the one at the path now */
	/*
	 * A claim group of several files under sync_method syncfs: the
	 * intake's steps leave their flushes to ctx_syncfs (intake.c,
	 * landing_pass). sfs_fd: a directory of each file system that
	 * state_dir's directories are on, opened at the first ctx_syncfs.
	 */
	int		 defer_sync;
	int		 sfs_fd[6];
	int		 nsfs;		/* -1: not opened yet */
	/* the daemon's intake worker: told of each transmission processed */
	void		(*processed_cb)(struct td_ctx *, const char *tid);
	/* after each file of the intake, whatever became of it */
	void		(*file_done_cb)(struct td_ctx *);
};

/* ctx_open flags */
#define CTX_MAPPER	0x1	/* load the [map] */
#define CTX_REINIT	0x2	/* accept an empty state.db beside an archive */
#define CTX_NOLOCK	0x4	/* the daemon's worker: its parent holds the lock */
#define CTX_CHECK	0x8	/* with NOLOCK: check state.db page by page too
				   (it is checked whenever the lock is taken) */

/* Open state (dirs, state.db, audit log, mapper). Prints errors. */
int	ctx_open(struct td_ctx *, struct td_conf *, int flags);
void	ctx_close(struct td_ctx *);
/* Lock state_dir: the descriptor, or -1 when another process has it. */
int	ctx_lock(const char *state_dir);

/*
 * 1 when state_dir/state.db is no longer the file opened (state_dir
 * removed, moved, replaced or restored from a backup under a running
 * process), logged once (state_dir_replaced); 0 when it is. Whatever
 * is taken then would go into a state no later run sees: the caller
 * stops, and a restart opens what is there now.
 */
int	ctx_state_moved(struct td_ctx *);

/*
 * Make durable everything written on the file systems of state_dir,
 * work/, outbox/, dlq/, quarantine/ and archive/ (one syncfs(2) of each
 * file system they are on): 0, TD_ERR_NOSPACE or TD_ERR_IO, logged
 * (sync_failed). A write-back error since the last call is reported
 * (Linux 5.8 and later), as by an fsync of the file it struck. One of
 * those directories that cannot be opened (but for archive/ not made
 * yet) fails it too: its file system is never left out.
 */
int	ctx_syncfs(struct td_ctx *);

/* Forget what the last run did. */
void	ctx_run_reset(struct td_ctx *);

/* "-c FILE" of c's file, absolute and quoted for the shell (to free) */
char	*ctx_conf_arg(const struct td_conf *);

#endif
