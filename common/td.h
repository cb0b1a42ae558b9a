/*
 * td.h - names used everywhere in tradedrop: error codes and the
 * x-wrappers for allocation (out of memory is fatal, never an error path).
 */
#ifndef TD_H
#define TD_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Functions return 0 or one of these (negative). */
#define TD_OK		0
#define TD_ERR_INVAL	(-1)	/* bad argument or malformed input */
#define TD_ERR_RANGE	(-2)	/* number out of range / overflow */
#define TD_ERR_LIMIT	(-3)	/* a configured bound was hit */
#define TD_ERR_IO	(-4)	/* system call failed; errno kept */
#define TD_ERR_FORMAT	(-5)	/* input does not parse */
#define TD_ERR_STATE	(-6)	/* state store problem */
#define TD_ERR_EXISTS	(-7)
#define TD_ERR_NOTFOUND	(-8)
#define TD_ERR_NOSPACE	(-9)	/* ENOSPC / EDQUOT */
#define TD_ERR_INTERNAL	(-10)
#define TD_ERR_AGAIN	(-11)	/* not ready yet; try again later */

const char *td_strerror(int err);
/* For TD_ERR_IO, strerror(errno), which it keeps; else td_strerror. */
const char *td_errstr(int err);

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));
char	*xvasprintf(const char *, va_list) __attribute__((format(printf, 1, 0)));
void	 x_free(void *);

/* Print "tradedrop: message" to stderr and exit(4). For broken invariants. */
void	 td_fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

#define TD_NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#endif
