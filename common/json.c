/* json.c - JSON string output; see json.h. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "td.h"
#include "buf.h"
#include "json.h"

/* 0: copy as is, 1: escape, 2: first byte of a UTF-8 sequence (or junk) */
static const unsigned char json_class[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

#define ONES	0x0101010101010101ULL
#define HIGHS	0x8080808080808080ULL

/*
 * Non-zero if one of the 8 bytes in w is not plain ASCII: < 0x20, '"',
 * '\\' or >= 0x80. Each term is the classic "has a byte less than n"
 * test ((x - n*ONES) & ~x & HIGHS), exact as a yes/no answer.
 */
static inline int
word_special(uint64_t w)
{
	uint64_t q = w ^ (ONES * '"'), bs = w ^ (ONES * '\\'), t;

	t = (w - ONES * 0x20) & ~w;	/* a control character */
	t |= (q - ONES) & ~q;		/* a '"' */
	t |= (bs - ONES) & ~bs;		/* a backslash */
	t |= w;				/* a byte >= 0x80 */
	return (t & HIGHS) != 0;
}

/*
 * Length (2-4) of the well-formed UTF-8 sequence at p, or 0: overlongs,
 * surrogates (U+D800-DFFF), code points above U+10FFFF, stray
 * continuation bytes and truncated sequences (Unicode table 3-7).
 */
size_t
td_utf8_len(const unsigned char *p, size_t avail)
{
	unsigned c = p[0], lo = 0x80, hi = 0xBF;
	size_t len, k;

	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;	/* overlong */
		else if (c == 0xED)
			hi = 0x9F;	/* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;	/* overlong */
		else if (c == 0xF4)
			hi = 0x8F;	/* > U+10FFFF */
	} else
		return 0;
	if (avail < len || p[1] < lo || p[1] > hi)
		return 0;
	for (k = 2; k < len; k++)
		if ((p[k] & 0xC0) != 0x80)
			return 0;
	return len;
}

/* Append the escape for byte c (a control character, '"' or '\\'). */
static int
put_escape(struct td_buf *b, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char e[6] = { '\\', 'u', '0', '0', 0, 0 };

	switch (c) {
	case '"':  return td_buf_append(b, "\\\"", 2);
	case '\\': return td_buf_append(b, "\\\\", 2);
	case '\b': return td_buf_append(b, "\\b", 2);
	case '\f': return td_buf_append(b, "\\f", 2);
	case '\n': return td_buf_append(b, "\\n", 2);
	case '\r': return td_buf_append(b, "\\r", 2);
	case '\t': return td_buf_append(b, "\\t", 2);
	}
	e[4] = hex[c >> 4];
	e[5] = hex[c & 0xf];
	return td_buf_append(b, e, sizeof(e));
}

int
td_json_str(struct td_buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)(s ? s : "");
	size_t save = b->len, i = 0, run = 0, k;
	uint64_t w;
	int r;

	/* the output is at least n + 2 bytes: fail early, grow once */
	if (n > SIZE_MAX - 2 || (r = td_buf_reserve(b, n + 2)) != 0)
		return TD_ERR_LIMIT;
	b->p[b->len++] = '"';
	while (i < n) {
		while (n - i >= 8) {
			memcpy(&w, u + i, 8);
			if (word_special(w))
				break;
			i += 8;
		}
		if (i >= n)
			break;
		switch (json_class[u[i]]) {
		case 0:
			i++;
			break;
		case 2:
			if ((k = td_utf8_len(u + i, n - i)) == 0) {
				r = TD_ERR_FORMAT;
				goto out;
			}
			i += k;
			break;
		default:
			if ((r = td_buf_append(b, u + run, i - run)) != 0 ||
			    (r = put_escape(b, u[i])) != 0)
				goto out;
			run = ++i;
			break;
		}
	}
	if ((r = td_buf_append(b, u + run, n - run)) != 0 ||
	    (r = td_buf_putc(b, '"')) != 0)
		goto out;
	r = 0;
 out:
	if (r != 0)
		b->len = save;
	return r;
}

int
td_json_key(struct td_buf *b, const char *key)
{
	size_t n = strlen(key);
	int r;

	if (n > SIZE_MAX - 3 || (r = td_buf_reserve(b, n + 3)) != 0)
		return TD_ERR_LIMIT;
	b->p[b->len++] = '"';
	memcpy(b->p + b->len, key, n);
	b->len += n;
	b->p[b->len++] = '"';
	b->p[b->len++] = ':';
	return 0;
}

int
td_json_str_lossy(struct td_buf *b, const char *s, size_t n)
{
	struct td_buf t;
	size_t i, k;
	int r;

	if ((r = td_json_str(b, s, n)) != TD_ERR_FORMAT)
		return r;
	/* keep each valid sequence, replace each bad byte */
	td_buf_init(&t, n + 16, 0);
	for (i = 0; i < n; i = k) {
		for (k = i + 1; k <= n && k - i <= 4; k++) {
			struct td_buf probe;
			int ok;

			td_buf_init(&probe, 16, 0);
			ok = td_json_str(&probe, s + i, k - i) == 0;
			td_buf_free(&probe);
			if (ok)
				break;
		}
		if (k <= n && k - i <= 4)
			td_buf_append(&t, s + i, k - i);
		else {
			td_buf_append(&t, "\xef\xbf\xbd", 3);
			k = i + 1;
		}
	}
	r = td_json_str(b, t.p, t.len);
	td_buf_free(&t);
	return r;
}
