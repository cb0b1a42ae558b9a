/*
 * cmd-run.c - the `run` command: the daemon. Load the configuration,
 * switch to `user` when started as root, lock state_dir, detach unless
 * --foreground, and hand over to the event loop (loop.c).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "td.h"
#include "conf.h"
#include "failpoint.h"
#include "fsutil.h"
#include "log.h"
#include "store.h"
#include "ctx.h"
#include "loop.h"
#include "metrics.h"
#include "notify.h"
#include "agent.h"

#define RUN_USAGE	"run [-c FILE] [--foreground]"
#define FULL_WAIT_MS	10000	/* between tries to open a full state_dir */
#define FULL_FREE	((uint64_t)4 << 20)	/* less free is full */

/*
 * 1 when state_dir's file system is full: less than FULL_FREE bytes or
 * no inode left for tradedrop (*avail: the bytes). state.db cannot be
 * opened then (its -shm and WAL are written at open).
 */
static int
state_full(const char *dir, uint64_t *avail)
{
	struct statvfs sv;

	*avail = 0;
	if (statvfs(dir, &sv) != 0)
		return 0;
	*avail = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
	return *avail < FULL_FREE || (sv.f_files > 0 && sv.f_favail == 0);
}

/*
 * state.db made or migrated, checked page by page, and found not lost,
 * as `once` does, before the workers open it. On a full state_dir it
 * cannot be opened: the daemon waits for room, trying again every
 * FULL_WAIT_MS whether there is room (and telling systemd to wait with
 * it), then opening it again, instead of exiting, which under systemd's
 * start limit (5 in 10 minutes) left it down for good once room came
 * back. Any other failure, or one with room, ends it: 0, or the failure.
 */
static int
run_open_state(struct td_conf *c)
{
	const char *dir = td_conf_str(c, TDK_integration_state_dir);
	struct td_ctx x;
	struct timespec ts;
	uint64_t avail;
	/* the tests lower it with the environment (failpoint.h) */
	unsigned ms = (unsigned)td_test_bound("TD_FULL_WAIT_MS",
	    FULL_WAIT_MS);
	char st[160];
	int r, tries;

	for (tries = 0;; tries++) {
		r = ctx_open(&x, c, CTX_NOLOCK | CTX_CHECK);
		ctx_close(&x);
		if (r == 0 || r == TD_ERR_INVAL || !state_full(dir, &avail))
			break;
		if (tries == 0)
			td_log(TD_LOG_ERROR, "start_waiting", "reason=disk_full "
			    "state_dir=%s free=%llu retry_ms=%u", dir,
			    (unsigned long long)avail, ms);
		/* opened again (checked again) once there is room */
		do {
			snprintf(st, sizeof(st), "waiting for room in %s "
			    "(%llu bytes free)", dir,
			    (unsigned long long)avail);
			notify_status(st);
			notify_extend_ms(2 * (uint64_t)ms);
			ts.tv_sec = (time_t)(ms / 1000);
			ts.tv_nsec = (long)(ms % 1000) * 1000000L;
			while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
				;
		} while (state_full(dir, &avail));
	}
	if (r == 0 && tries > 0)
		td_log(TD_LOG_INFO, "start_resumed", "state_dir=%s tries=%d",
		    dir, tries + 1);
	return r;
}

/*
 * Started as root with `user` set: take that user's uid, gid and
 * supplementary groups, for good (real, effective and saved), before
 * anything reads input. Fails when root could be regained.
 */
static int
run_drop_privileges(const struct td_conf *c)
{
	const char *user = td_conf_str(c, TDK_integration_user);
	struct passwd *pw;

	if (user == NULL || *user == '\0') {
		if (geteuid() == 0)
			td_log(TD_LOG_WARN, "running_as_root", "hint=%s",
			    "set user = in [integration] to drop privileges");
		return TD_OK;
	}
	if (geteuid() != 0) {
		td_log(TD_LOG_INFO, "privileges_kept", "user=%s reason=%s",
		    user, "not started as root");
		return TD_OK;
	}
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		fprintf(stderr, "tradedrop: %s: user = %s: %s\n",
		    td_conf_path(c), user, errno != 0 ? strerror(errno) :
		    "no such user");
		return TD_ERR_INVAL;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) {
		fprintf(stderr, "tradedrop: cannot switch to user %s: %s\n",
		    user, strerror(errno));
		return TD_ERR_IO;
	}
	if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		fprintf(stderr, "tradedrop: switched to user %s, but root "
		    "could be regained\n", user);
		return TD_ERR_INTERNAL;
	}
	td_log(TD_LOG_INFO, "privileges_dropped", "user=%s uid=%lu gid=%lu",
	    user, (unsigned long)pw->pw_uid, (unsigned long)pw->pw_gid);
	return TD_OK;
}

int
cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char *path;
	struct td_conf *c;
	struct metrics *m = NULL;
	char *pidfile, *err = NULL, *abspath, cwd[PATH_MAX];
	int fg = 0, lockfd, rc, r;
	sigset_t ss;

	/*
	 * A SIGHUP or SIGUSR1 that comes before the loop reads its signalfd
	 * (while state.db is checked, which takes long for a large one)
	 * would kill the daemon by default, and a death by SIGHUP is a clean
	 * one to systemd's Restart=on-failure: held until the loop takes it
	 * (loop.c blocks the same), it is a reload or a poll as at any time.
	 */
	sigemptyset(&ss);
	sigaddset(&ss, SIGHUP);
	sigaddset(&ss, SIGUSR1);
	(void)sigprocmask(SIG_BLOCK, &ss, NULL);
	if (cmd_conf_opt(argc, argv, RUN_USAGE, &path, longopts, &fg) != 0 ||
	    optind != argc) {
		if (optind != argc)
			fprintf(stderr, "usage: tradedrop " RUN_USAGE "\n");
		return EXIT_USAGE;
	}
	if ((c = td_load_conf_or_report(path)) == NULL)
		return EXIT_USAGE;
	signal(SIGPIPE, SIG_IGN);
	/* [metrics] listen may be a port only root can bind */
	if (metrics_new(c, &m, &err) != 0) {
		fprintf(stderr, "tradedrop: %s: %s\n", td_conf_path(c), err);
		x_free(err);
		td_conf_free(c);
		return EXIT_USAGE;
	}
	if (run_drop_privileges(c) != 0) {
		metrics_free(m);
		td_conf_free(c);
		return EXIT_USAGE;
	}
	if (td_mkdirs(td_conf_str(c, TDK_integration_state_dir), 0750) != 0 ||
	    td_mkdirs(td_conf_str(c, TDK_integration_landing_dir), 0750)
	    != 0) {
		fprintf(stderr, "tradedrop: %s: %s\n", td_conf_str(c,
		    TDK_integration_state_dir), strerror(errno));
		metrics_free(m);
		td_conf_free(c);
		return EXIT_INTERNAL;
	}
	if ((lockfd = ctx_lock(td_conf_str(c, TDK_integration_state_dir)))
	    < 0) {
		metrics_free(m);
		td_conf_free(c);
		return EXIT_USAGE;
	}
	/*
	 * A state the workers would refuse stops the daemon here instead
	 * of each worker dying at every restart.
	 */
	if ((r = run_open_state(c)) != 0) {
		close(lockfd);
		metrics_free(m);
		td_conf_free(c);
		return r == TD_ERR_INVAL ? EXIT_USAGE : EXIT_INTERNAL;
	}
	/* a reload reads the file again from wherever daemon(3) went */
	if (path[0] != '/' && getcwd(cwd, sizeof(cwd)) != NULL)
		abspath = xasprintf("%s/%s", cwd, path);
	else
		abspath = xstrdup(path);
	if (!fg) {
		/* the lock is shared with the detached child */
		if (daemon(0, 0) != 0) {
			fprintf(stderr, "tradedrop: daemon: %s\n",
			    strerror(errno));
			x_free(abspath);
			close(lockfd);
			metrics_free(m);
			td_conf_free(c);
			return EXIT_INTERNAL;
		}
		td_log_init("tradedrop", td_log_level_from_name(td_conf_str(c,
		    TDK_integration_log_level)), 1);
	}
	pidfile = xasprintf("%s/tradedrop.pid", td_conf_str(c,
	    TDK_integration_state_dir));
	rc = loop_run(c, m, abspath, lockfd, pidfile);	/* c, m taken over */
	x_free(pidfile);
	x_free(abspath);
	close(lockfd);
	return rc;
}
