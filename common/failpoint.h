/*
 * failpoint.h - a test hook: kill the process at a named point.
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
 * A bound a test may lower through the environment variable name (a
 * number from 1 to max), never raise: max when it is unset or other.
 */
uint64_t td_test_bound(const char *name, uint64_t max);

#endif
