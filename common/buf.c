/* buf.c - bounded growable byte buffer; see buf.h for the invariants. */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "td.h"
#include "buf.h"

#define BUF_MIN_CAP	64

void
td_buf_init(struct td_buf *b, size_t initial_cap, size_t max)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	/* keep cap + 1 (room for the NUL) representable */
	b->max = (max == 0 || max > SIZE_MAX - 1) ? SIZE_MAX - 1 : max;
	if (initial_cap > b->max)
		initial_cap = b->max;
	if (initial_cap > 0) {
		b->p = xmalloc(initial_cap + 1);
		b->cap = initial_cap;
	}
}

void
td_buf_free(struct td_buf *b)
{
	x_free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

void
td_buf_reset(struct td_buf *b)
{
	b->len = 0;
}

int
td_buf_reserve(struct td_buf *b, size_t more)
{
	size_t need, ncap;

	if (more > b->max - b->len)
		return TD_ERR_LIMIT;
	need = b->len + more;
	if (need <= b->cap && b->p != NULL)
		return 0;
	ncap = b->cap < BUF_MIN_CAP ? BUF_MIN_CAP : b->cap;
	while (ncap < need && ncap <= b->max / 2)
		ncap *= 2;
	if (ncap < need || ncap > b->max)
		ncap = b->max;	/* >= need, checked above */
	b->p = xrealloc(b->p, ncap + 1);
	b->cap = ncap;
	return 0;
}

int
td_buf_append_slow(struct td_buf *b, const void *data, size_t n)
{
	int r;

	if (n == 0)
		return 0;
	if ((r = td_buf_reserve(b, n)) != 0)
		return r;
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

int
td_buf_putc_slow(struct td_buf *b, int c)
{
	int r;

	if ((r = td_buf_reserve(b, 1)) != 0)
		return r;
	b->p[b->len++] = (char)(unsigned char)c;
	return 0;
}

int
td_buf_puts(struct td_buf *b, const char *s)
{
	return td_buf_append(b, s, strlen(s));
}

int
td_buf_printf(struct td_buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n, r;

	/* First try in place: the byte after cap is ours for the NUL. */
	room = b->p == NULL ? 0 : b->cap - b->len + 1;
	va_start(ap, fmt);
	n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return TD_ERR_INVAL;
	if ((size_t)n < room) {		/* fitted: len + n <= cap <= max */
		b->len += (size_t)n;
		return 0;
	}
	if ((r = td_buf_reserve(b, (size_t)n)) != 0)
		return r;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len + 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n > b->cap - b->len)
		return TD_ERR_INVAL;	/* arguments changed under us */
	b->len += (size_t)n;
	return 0;
}

const char *
td_buf_cstr(struct td_buf *b)
{
	if (b->p == NULL)
		return "";
	b->p[b->len] = '\0';
	return b->p;
}
