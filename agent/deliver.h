/*
 * deliver.h - delivery of processed transmissions, in the order they were
 * received, as steps a loop drives: deliver_step() does what can be done
 * now and, when a request is to be retried after a backoff, says when to
 * call it again instead of sleeping. `once` sleeps until then; the
 * daemon's loop will arm a timer.
 */
#ifndef TD_DELIVER_H
#define TD_DELIVER_H

#include <stdint.h>

struct td_ctx;
struct deliverer;

#define DELIVER_DONE	0	/* all delivered that can be in this run */
#define DELIVER_WAIT	1	/* call deliver_step again at *next_ms */
/* outbox/TID this: the staging copy of TID's rejections (HTTPS output) */
#define DELIVER_REJ_STAGED	".rejections.ndjson.gz"


/*
 * The Idempotency-Key of a request about transmission tid processed
 * with mapping version mv: the hex SHA-256 of "TID\nMV\nWHAT", WHAT
 * being the batch's seq in decimal (deliver_batch_key) or "manifest" or
 * "rejections". A retry, in this run or after a crash, reuses it.
 * Allocated.
 */
char	*deliver_key(const char *tid, const char *mv, const char *what);
char	*deliver_batch_key(const char *tid, const char *mv, uint64_t seq);

/* The clock of deliver_step's times: CLOCK_MONOTONIC, milliseconds. */
int64_t	 deliver_clock_ms(void);
struct deliverer *deliver_new(struct td_ctx *);
/*
 * Returns DELIVER_DONE, DELIVER_WAIT (*next_ms set), or a negative
 * TD_ERR_*: delivery stopped at a failure (logged; the transmission and
 * every later one stay for the next run, and x->undelivered is set);
 * when it stopped at the open circuit breaker, *next_ms is when the
 * breaker lets a probe through (else 0). A call before the *next_ms of
 * a DELIVER_WAIT does nothing and returns DELIVER_WAIT again.
 */
int	 deliver_step(struct deliverer *, int64_t now_ms, int64_t *next_ms);
void	 deliver_free(struct deliverer *);

#endif
