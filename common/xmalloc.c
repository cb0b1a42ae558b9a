/* xmalloc.c - allocation wrappers; running out of memory is fatal. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "td.h"

void
td_fatal(const char *fmt, ...)
{
	va_list ap;

	fputs("tradedrop: fatal: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(4);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		td_fatal("out of memory allocating %zu bytes", n);
	return p;
}

void *
xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);

	if (p == NULL)
		td_fatal("out of memory allocating %zu x %zu bytes", n, m);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		td_fatal("out of memory reallocating %zu bytes", n);
	return q;
}

void *
xreallocarray(void *p, size_t n, size_t m)
{
	if (m != 0 && n > SIZE_MAX / m)
		td_fatal("allocation overflow %zu x %zu", n, m);
	return xrealloc(p, n * m);
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xvasprintf(const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	char *p;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		td_fatal("xvasprintf: bad format");
	p = xmalloc((size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

void
x_free(void *p)
{
	free(p);
}

const char *
td_strerror(int err)
{
	switch (err) {
	case TD_OK:		return "success";
	case TD_ERR_INVAL:	return "invalid argument";
	case TD_ERR_RANGE:	return "out of range";
	case TD_ERR_LIMIT:	return "limit exceeded";
	case TD_ERR_IO:		return "I/O error";
	case TD_ERR_FORMAT:	return "malformed input";
	case TD_ERR_STATE:	return "state store error";
	case TD_ERR_EXISTS:	return "already exists";
	case TD_ERR_NOTFOUND:	return "not found";
	case TD_ERR_NOSPACE:	return "no space left on device";
	case TD_ERR_INTERNAL:	return "internal error";
	case TD_ERR_AGAIN:	return "not ready yet";
	}
	return "unknown error";
}

const char *
td_errstr(int err)
{
	return err == TD_ERR_IO && errno != 0 ? strerror(errno) :
	    td_strerror(err);
}
