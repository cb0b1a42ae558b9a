/*
 * loop.h - the daemon's event loop: one poll(2) over inotify on
 * landing_dir, a timerfd for every deadline (source polls, a delivery
 * retry, a file settling, the periodic rescan, the daily retention, the
 * watchdog), signalfd, and the sockets of its workers (worker.h), which
 * do the slow work.
 */
#ifndef TD_LOOP_H
#define TD_LOOP_H

struct td_conf;
struct metrics;

/*
 * Run until SIGTERM or SIGINT; c and m are taken over (a reload replaces
 * c), conf_path is read again on SIGHUP. lockfd holds state_dir's lock.
 * Returns the exit status: 0 after a signal, EXIT_INTERNAL when the
 * loop could not be set up.
 */
int	loop_run(struct td_conf *c, struct metrics *m, const char *conf_path,
	    int lockfd, const char *pidfile);

#endif
