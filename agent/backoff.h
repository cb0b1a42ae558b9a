/*
 * backoff.h - backoff and circuit breaker of a remote peer (the output's
 * reconciler, an SFTP source), kept in state.db (table backoff) so that
 * every run, and the daemon's loop, sees the same one.
 *
 * A breaker counts consecutive failures. At `threshold` of them it
 * opens: no attempt until next_at, a wait of `cooldown` seconds (with
 * `grow`, doubled for each failure past the threshold, up to
 * `cooldown_max`; with `jitter`, drawn uniformly from 1 to that). When
 * the wait is over it is half-open: one attempt (a probe) goes; its
 * success closes the breaker, its failure opens it again. Any success
 * closes it and clears the count.
 *
 * Separately, one request that keeps failing is retried after
 * exponential backoff with full jitter: before retry n (0-based), a
 * wait drawn uniformly from 0 to min(2^n, retry_max) seconds.
 *
 * The transitions take the time as an argument and draw through the
 * policy's `uniform`, so they can be tested with any clock. The times
 * are wall-clock times (td_time()), kept across restarts; an open
 * breaker whose opened_at is in the future (the clock was stepped back)
 * is half-open.
 */
#ifndef TD_BACKOFF_H
#define TD_BACKOFF_H

#include <stdint.h>

struct store;

#define BACKOFF_OUTPUT	"output"	/* the name of the output's breaker */
#define BACKOFF_MAXNAME	80		/* "source:" and a source name */

struct backoff_policy {
	unsigned	 threshold;	/* consecutive failures that open it */
	uint64_t	 cooldown;	/* seconds it stays open */
	uint64_t	 cooldown_max;	/* with grow: at most this */
	int		 grow;		/* double per failure past threshold */
	int		 jitter;	/* wait uniformly 1..cooldown seconds */
	uint64_t	 retry_max;	/* seconds: longest wait of a retry */
	/* uniform in [0, upper); NULL: libsodium's randombytes_uniform */
	uint32_t	(*uniform)(uint32_t upper);
};

struct backoff {
	char		 name[BACKOFF_MAXNAME];
	unsigned	 failures;	/* consecutive */
	int64_t		 opened_at;	/* when it last opened; 0: closed */
	int64_t		 next_at;	/* while open: no attempt before */
	/* the last attempt (for SFTP sources: the last poll) */
	int64_t		 last_at;	/* 0: never */
	char		 last_result[32];
	unsigned	 last_count;
	unsigned	 last_refused;	/* SFTP: names it left, refused */
};

#define BACKOFF_CLOSED		0
#define BACKOFF_OPEN		1	/* no attempt now */
#define BACKOFF_HALF_OPEN	2	/* one probe may go */

/* The breaker of source NAME is "source:NAME". */
void	 backoff_source_name(char out[BACKOFF_MAXNAME], const char *source);

/* Read the breaker called name (closed, never tried, when absent). */
int	 backoff_load(struct store *, const char *name, struct backoff *);
/* Write it, in a transaction of its own. */
int	 backoff_save(struct store *, const struct backoff *);

int	 backoff_state(const struct backoff *, int64_t now);
const char *backoff_state_name(int state);	/* "closed" "open" "half-open" */

/*
 * An attempt succeeded: 1 when that closed an open breaker or ended a
 * run of failures (the caller logs it and saves), else 0.
 */
int	 backoff_succeeded(struct backoff *);
/*
 * An attempt failed at now: count it and, at the threshold or when it
 * was a probe, open the breaker. 1 when it opened (again), else 0.
 */
int	 backoff_failed(struct backoff *, const struct backoff_policy *,
	    int64_t now);

/* Milliseconds to wait before retry n of one request (full jitter). */
uint64_t backoff_retry_ms(const struct backoff_policy *, unsigned n);

#endif
