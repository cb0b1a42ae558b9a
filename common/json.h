/*
 * json.h - JSON output into a td_buf. Only what the forwarder needs:
 * strings and keys; numbers are formatted by num.h and decimal.h.
 */
#ifndef TD_JSON_H
#define TD_JSON_H

#include <stddef.h>

struct td_buf;

/*
 * Append s[0..n) as a quoted JSON string. '"', '\\' and control
 * characters are escaped (\b \f \n \r \t, others \u00XX); everything
 * else, including well-formed UTF-8, is copied as is (no \u escapes for
 * non-ASCII). Returns 0; TD_ERR_FORMAT if s is not strictly valid UTF-8
 * (overlongs, surrogates, > U+10FFFF, stray or truncated sequences);
 * TD_ERR_LIMIT if the buffer's max would be passed. On error b->len is
 * restored to what it was. Hot path: runs of plain ASCII are scanned 8
 * bytes at a time and copied with one memcpy. s may be NULL if n is 0.
 */
int	 td_json_str(struct td_buf *b, const char *s, size_t n);

/*
 * Append "key": for a trusted key (ASCII, nothing to escape; not
 * checked). 0 or TD_ERR_LIMIT (b unchanged).
 */
int	 td_json_key(struct td_buf *b, const char *key);

/*
 * Like td_json_str, for messages that may hold cut or foreign text: bytes
 * that are not valid UTF-8 are written as U+FFFD. Never TD_ERR_FORMAT.
 */
int	 td_json_str_lossy(struct td_buf *b, const char *s, size_t n);

/*
 * Length (2-4) of the well-formed multi-byte UTF-8 sequence at p (avail
 * bytes readable), or 0 for a byte that does not start one: ASCII, a
 * stray continuation byte, an overlong form, a surrogate, a code point
 * above U+10FFFF or a sequence cut short. Shared with log.c.
 */
size_t	 td_utf8_len(const unsigned char *p, size_t avail);

#endif
