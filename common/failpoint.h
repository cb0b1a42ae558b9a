/*
 * failpoint.h - a test hook: kill the process (or fail a step with EIO)
 * at a named point.
 *
 * td_failpoint("name") does nothing unless the environment variable
 * TD_FAILPOINT names that point, as "name" (the first time it is
 * reached) or "name:N" (the N-th time). Then it logs event=failpoint
 * and sends the process SIGKILL, as a crash at that instant would: no
 * clean-up, no atexit handlers. Tests use it to stop a run right after
 * a commit or a filesystem step and check that the next run finishes
 * the work. Compiled in always; one getenv per process when unset.
 */
#ifndef TD_FAILPOINT_H
#define TD_FAILPOINT_H

#include <stdint.h>

void	td_failpoint(const char *name);
/*
 * The same for a point where an I/O error is tested, not a crash: -1
 * with errno EIO when TD_FAILPOINT names it (logged as event=failpoint),
 * as the step it stands before would fail; 0 otherwise.
 */
int	td_failpoint_eio(const char *name);
/*
 * And for a race: when TD_FAILPOINT names the point, the process stops
 * itself there (SIGSTOP, logged as event=failpoint), for a test to
 * change what the step after it meets, and goes on at SIGCONT.
 */
void	td_failpoint_stop(const char *name);
/*
 * A bound a test may lower through the environment variable name (a
 * number from 1 to max), never raise: max when it is unset or other.
 */
uint64_t td_test_bound(const char *name, uint64_t max);

#endif
