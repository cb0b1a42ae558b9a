/*
 * clock.h - the wall clock as tradedrop sees it, and a test hook that
 * shifts it.
 *
 * Every date tradedrop writes (state.db, audit.log, the archive's
 * YYYY/MM, logs, acknowledgments) comes from td_time() or
 * td_clock_real(); every interval it waits (rescans, settling, retry
 * backoff, polls) is measured on CLOCK_MONOTONIC, which no step of the
 * wall clock moves.
 *
 * When the environment variable TD_TEST_CLOCK_OFFSET names a file, the
 * wall clock is shifted by the signed number of seconds that file holds
 * (read again at most every 100 ms, so a test can step the clock of a
 * running daemon forward or back). Never set in production; unset, it
 * costs one getenv per process.
 */
#ifndef TD_CLOCK_H
#define TD_CLOCK_H

#include <stdint.h>
#include <time.h>

/* time(NULL), shifted by the test hook. */
int64_t	td_time(void);
/* clock_gettime(CLOCK_REALTIME), shifted by the test hook. */
void	td_clock_real(struct timespec *);
/* CLOCK_MONOTONIC in milliseconds: for intervals. */
int64_t	td_mono_ms(void);

#endif
