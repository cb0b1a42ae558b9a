/*
 * testutil.h - helpers for unit tests that make their data with the
 * standard tools (header only).
 *   tu_sh(dir, fmt, ...)      run a shell command in dir; its exit status
 *   tu_sha256sum(path, out)   sha256sum's hex digest of a file, or ""
 *   tu_conf(dir, maplines)    a configuration of integration "acme" with
 *                             these [map] lines, state in dir/state and
 *                             output to file://dir/out; NULL on error
 *   tu_time_limit(secs)       a test's time limit: secs times
 *                             TD_TEST_TIME_SCALE (an integer, default 1)
 *   tu_rnd(state)             the next of a pseudo-random sequence
 *                             (splitmix64): the same for a seed anywhere
 */
#ifndef TD_TESTUTIL_H
#define TD_TESTUTIL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "td.h"
#include "conf.h"
#include "tap.h"

static inline int tu_sh(const char *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static inline int
tu_sh(const char *dir, const char *fmt, ...)
{
	va_list ap;
	char *cmd, *full;
	int st;

	va_start(ap, fmt);
	cmd = xvasprintf(fmt, ap);
	va_end(ap);
	full = xasprintf("cd '%s' && { %s ; }", dir, cmd);
	if ((st = system(full)) != 0)
		diag("command failed (%d): %s", st, cmd);
	x_free(full);
	x_free(cmd);
	return st;
}

static inline void
tu_sha256sum(const char *path, char out[65])
{
	char *cmd = xasprintf("sha256sum '%s'", path);
	FILE *f = popen(cmd, "r");

	out[0] = '\0';
	if (f == NULL || fscanf(f, "%64s", out) != 1)
		out[0] = '\0';
	if (f != NULL)
		pclose(f);
	x_free(cmd);
}

static inline struct td_conf *
tu_conf(const char *dir, const char *maplines)
{
	char *path = xasprintf("%s/t.conf", dir), *errs = NULL;
	FILE *f = fopen(path, "w");
	struct td_conf *c = NULL;

	if (f == NULL)
		td_fatal("%s: cannot write", path);
	fprintf(f, "[integration]\nname = acme\nstate_dir = %s/state\n"
	    "[map]\n%s[output]\nurl = file://%s/out\n", dir, maplines, dir);
	fclose(f);
	if (td_conf_load(path, &c, &errs) != 0) {
		diag("conf: %s", errs ? errs : "?");
		x_free(errs);
	}
	x_free(path);
	return c;
}

/*
 * A time limit, scaled for slow runs: make check-valgrind sets
 * TD_TEST_TIME_SCALE (the code runs there 20 to 50 times slower). A
 * limit that catches a quadratic cost still does: that grows with the
 * size, not with the scale.
 */
static inline double
tu_time_limit(double secs)
{
	const char *e = getenv("TD_TEST_TIME_SCALE");
	char *end;
	unsigned long k;

	if (e == NULL || *e == '\0')
		return secs;
	k = strtoul(e, &end, 10);
	if (*end != '\0' || k < 1 || k > 1000)
		td_fatal("TD_TEST_TIME_SCALE=%s: not an integer 1..1000", e);
	return secs * (double)k;
}

static inline uint64_t
tu_rnd(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

#endif
