/* failpoint.c - TD_FAILPOINT=name[:N]: SIGKILL, EIO or SIGSTOP at the named point. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "td.h"
#include "failpoint.h"
#include "log.h"
#include "num.h"

static int		 fp_loaded;
static char		*fp_name;	/* NULL: no failpoint armed */
static unsigned long	 fp_hit = 1;	/* which passage kills */
static unsigned long	 fp_seen;

static void
failpoint_load(void)
{
	const char *v = getenv("TD_FAILPOINT"), *colon;
	uint64_t n;

	fp_loaded = 1;
	if (v == NULL || *v == '\0')
		return;
	if ((colon = strchr(v, ':')) == NULL) {
		fp_name = xstrdup(v);
		return;
	}
	if (td_parse_u64(colon + 1, strlen(colon + 1), 1,
	    UINT32_MAX, &n) != 0)
		td_fatal("TD_FAILPOINT=%s: the count after ':' must be a "
		    "positive number", v);
	fp_name = xstrndup(v, (size_t)(colon - v));
	fp_hit = (unsigned long)n;
}

/* The armed point reached for the time it names: logged. */
static int
failpoint_reached(const char *name)
{
	if (!fp_loaded)
		failpoint_load();
	if (fp_name == NULL || strcmp(name, fp_name) != 0 ||
	    ++fp_seen != fp_hit)
		return 0;
	td_log(TD_LOG_WARN, "failpoint", "name=%s passage=%lu", name, fp_seen);
	return 1;
}

void
td_failpoint(const char *name)
{
	if (!failpoint_reached(name))
		return;
	(void)raise(SIGKILL);
	_exit(137);		/* not reached */
}

int
td_failpoint_eio(const char *name)
{
	if (!failpoint_reached(name))
		return 0;
	errno = EIO;
	return -1;
}

void
td_failpoint_stop(const char *name)
{
	if (failpoint_reached(name))
		(void)raise(SIGSTOP);
}

uint64_t
td_test_bound(const char *name, uint64_t max)
{
	const char *e = getenv(name);
	uint64_t v;

	if (e == NULL || td_parse_u64(e, strlen(e), 1, max, &v) != 0)
		return max;
	return v;
}
