/* match.h - file name matching shared by the landing and SFTP sources. */
#ifndef TD_MATCH_H
#define TD_MATCH_H

#include <stddef.h>

/* Does name match one of the n shell globs (fnmatch, FNM_PERIOD)? */
int	td_globs_match(char * const *globs, size_t n, const char *name);
/* Does s end in suf, with at least one byte before it? */
int	td_has_suffix(const char *s, const char *suf);

#endif
