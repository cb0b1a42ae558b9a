/*
 * buf.h - bounded growable byte buffer.
 *
 * The struct is exposed so hot paths (CSV fields, JSON output) can append
 * without a function call when the capacity suffices. Invariants, kept by
 * every function here: len <= cap <= max; when p != NULL it points to
 * cap + 1 bytes, so there is always room for the NUL of td_buf_cstr().
 * A buffer never holds more than max bytes: an append that would exceed
 * it fails with TD_ERR_LIMIT and leaves the buffer unchanged.
 * Out of memory is fatal (xrealloc).
 */
#ifndef TD_BUF_H
#define TD_BUF_H

#include <stddef.h>
#include <string.h>

struct td_buf {
	char	*p;	/* data, not NUL-terminated except by td_buf_cstr() */
	size_t	 len;	/* bytes used */
	size_t	 cap;	/* bytes usable before a reallocation */
	size_t	 max;	/* hard bound on len */
};

/*
 * Set up an empty buffer. initial_cap bytes are allocated at once (0: on
 * first use; clamped to max). max 0 means unbounded (SIZE_MAX - 1).
 */
void	 td_buf_init(struct td_buf *, size_t initial_cap, size_t max);

/* Free the storage; the buffer is left empty and may be reused. */
void	 td_buf_free(struct td_buf *);

/* len = 0, storage kept. */
void	 td_buf_reset(struct td_buf *);

/*
 * Make room for `more` bytes after len. Returns 0 or TD_ERR_LIMIT if
 * len + more > max (nothing changes then).
 */
int	 td_buf_reserve(struct td_buf *, size_t more);

/* Slow paths of the inline functions below; do not call directly. */
int	 td_buf_append_slow(struct td_buf *, const void *, size_t);
int	 td_buf_putc_slow(struct td_buf *, int);

/* Append n bytes. 0 or TD_ERR_LIMIT (buffer unchanged). */
static inline int
td_buf_append(struct td_buf *b, const void *data, size_t n)
{
	if (n <= b->cap - b->len && n != 0) {
		memcpy(b->p + b->len, data, n);
		b->len += n;
		return 0;
	}
	return td_buf_append_slow(b, data, n);
}

/* Append one byte (c converted to unsigned char). 0 or TD_ERR_LIMIT. */
static inline int
td_buf_putc(struct td_buf *b, int c)
{
	if (b->len < b->cap) {
		b->p[b->len++] = (char)(unsigned char)c;
		return 0;
	}
	return td_buf_putc_slow(b, c);
}

/* Append a NUL-terminated string (without its NUL). 0 or TD_ERR_LIMIT. */
int	 td_buf_puts(struct td_buf *, const char *);

/*
 * Append formatted text. 0, TD_ERR_LIMIT (buffer unchanged) or
 * TD_ERR_INVAL if the format cannot be expanded.
 */
int	 td_buf_printf(struct td_buf *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * NUL-terminated view of the contents, valid until the next change.
 * The NUL is not counted in len. Never fails ("" for an unused buffer).
 */
const char *td_buf_cstr(struct td_buf *);

#endif
