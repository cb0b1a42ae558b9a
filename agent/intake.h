/*
 * intake.h - the durable state machine of a transmission:
 *
 *   landing/NAME --claim--> work/CLAIM/NAME --receive--> archive/.../raw/NAME
 *   (state received) --process--> outbox/<tid>/ (state parsed)
 *                               \-> quarantine/<tid>/ (state quarantined)
 *   (state parsed) --deliver--> output (state delivered)
 *
 * Every arrow is committed in state.db; each step can be re-run after a
 * crash at any instant and gives the same result.
 */
#ifndef TD_INTAKE_H
#define TD_INTAKE_H

#include <sys/types.h>

#include <stdint.h>

struct td_conf;
struct store;
struct mapper;
struct audit;
struct minisign_key;
struct forwarder;

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
	char		*outbox;
	char		*dlq;
	char		*quarantine;
	char		*out_dir;	/* file:// output directory, or NULL */
	struct forwarder *fwd;		/* https:// output, opened on demand */
	unsigned	 brk_failures;	/* circuit breaker (https) */
	long long	 brk_opened;	/* when it opened, 0: closed */
	int		 enc;		/* OB_ENC_* */
	uint64_t	 batch_records;
	int		 lockfd;	/* flock on state_dir/lock */
	int		 landfd;	/* landing_dir, opened once */
	uid_t		*owners;	/* [watch] owner, resolved */
	size_t		 nowners;
	char		**refused;	/* landing entries refused this run */
	size_t		 nrefused;
	int		 paused;	/* disk or outbox full: take nothing new */
	/* what this run did, for the exit status */
	unsigned	 n_received, n_duplicate, n_quarantined, n_delivered;
	unsigned	 n_waiting;	/* data files waiting for a sidecar */
	unsigned	 n_unsettled;	/* landing files still changing */
	unsigned	 n_refused;	/* landing entries refused */
	uint64_t	 n_records, n_dlq;
	int		 failed;	/* internal error seen */
	int		 undelivered;
};

/* ctx_open flags */
#define CTX_MAPPER	0x1	/* load the [map] */
#define CTX_REINIT	0x2	/* accept an empty state.db beside an archive */

/* Open state (dirs, state.db, audit log, mapper). Prints errors. */
int	ctx_open(struct td_ctx *, struct td_conf *, int flags);
void	ctx_close(struct td_ctx *);

/* Finish what a previous run left in work/. */
int	intake_recover(struct td_ctx *);
/*
 * Take every ready file of landing/ through intake and processing. With
 * wait set, wait (a bounded time) for files that have not settled yet.
 */
int	intake_landing(struct td_ctx *, int wait);
/* A landing file waits for its required sidecars (see sidecar_wait). */
struct stat;
int	waiting_for_sidecar(struct td_ctx *, const char *name,
	    const struct stat *);
/* Process every transmission still in state received. */
int	intake_process_pending(struct td_ctx *);

#endif
