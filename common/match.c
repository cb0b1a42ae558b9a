/* match.c - file name matching. See match.h. */
#include "config.h"

#include <fnmatch.h>
#include <string.h>

#include "match.h"

int
td_globs_match(char * const *globs, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (fnmatch(globs[i], name, FNM_PERIOD) == 0)
			return 1;
	return 0;
}

int
td_has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return m > 0 && n > m && strcmp(s + n - m, suf) == 0;
}
