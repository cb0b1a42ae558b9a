/*
 * child.h - run a piece of a unit test in a child process (header only),
 * for what must end the process: a td_fatal (exit 4) on a broken
 * invariant, a crash.
 *   int st = run_in_child(fn, arg);   fn's return value is the exit status
 * Returns the child's exit status, or -1 when a signal ended it. The
 * child's standard error goes to /dev/null (an expected fatal message
 * is not test output).
 */
#ifndef TD_CHILD_H
#define TD_CHILD_H

#include <sys/types.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline int
run_in_child(int (*fn)(void *), void *arg)
{
	pid_t pid;
	int status;

	fflush(stdout);
	if ((pid = fork()) < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		if (freopen("/dev/null", "w", stderr) == NULL)
			_exit(99);
		_exit(fn(arg));
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

#endif
