/*
 * notify.c - sd_notify when built with libsystemd, and the pidfile. See
 * notify.h. The only place that knows whether libsystemd is linked.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "td.h"
#include "fsutil.h"
#include "log.h"
#include "notify.h"

static void
notify_send(const char *state)
{
#ifdef HAVE_LIBSYSTEMD
	(void)sd_notify(0, state);
#else
	(void)state;
#endif
}

void
notify_ready(void)
{
	notify_send("READY=1\nSTATUS=running");
}

/* RELOADING=1 is followed by READY=1 once the new config is in use */
void
notify_reloading(void)
{
#ifdef HAVE_LIBSYSTEMD
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	(void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000);
#endif
}

void
notify_stopping(void)
{
	notify_send("STOPPING=1");
}

void
notify_status(const char *text)
{
#ifdef HAVE_LIBSYSTEMD
	(void)sd_notifyf(0, "STATUS=%s", text);
#else
	(void)text;
#endif
}

/* The start takes ms longer than systemd's TimeoutStartSec counted. */
void
notify_extend_ms(uint64_t ms)
{
#ifdef HAVE_LIBSYSTEMD
	(void)sd_notifyf(0, "EXTEND_TIMEOUT_USEC=%llu",
	    (unsigned long long)ms * 1000ULL);
#else
	(void)ms;
#endif
}

uint64_t
notify_watchdog_ms(void)
{
#ifdef HAVE_LIBSYSTEMD
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
		return usec / 2000 > 0 ? usec / 2000 : 1;
#endif
	return 0;
}

void
notify_watchdog(void)
{
	notify_send("WATCHDOG=1");
}

int
notify_pidfile(const char *path)
{
	char v[32];
	int r;

	snprintf(v, sizeof(v), "%ld\n", (long)getpid());
	if ((r = td_write_file_atomic(path, v, strlen(v))) != 0) {
		td_log(TD_LOG_ERROR, "pidfile_failed", "path=%s error=%s",
		    path, td_strerror(r));
		return TD_ERR_IO;
	}
	return TD_OK;
}
