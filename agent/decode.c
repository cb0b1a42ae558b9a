/*
 * decode.c - streaming transcoding of a document to UTF-8; see decode.h.
 *
 * Input is decoded in blocks straight into the output buffer: for each
 * block the worst-case output size is reserved once, and a tight,
 * table-driven loop (no calls per byte) writes into it. Near the
 * buffer's maximum, small steps through a stack buffer keep the
 * TD_ERR_LIMIT bound exact.
 *
 *   UTF-8: validation only (Unicode Table 3-7, a 256-entry lead byte
 *     class table), 16 or 8 ASCII bytes per step; a validated span is
 *     copied with one memcpy.
 *   windows-1252, ISO-8859-1: 256-entry tables of precomputed UTF-8
 *     sequences; 8 ASCII bytes per step.
 *   UTF-16LE/BE: 4 ASCII code units per step; surrogates paired.
 *
 * A sequence cut by the end of a feed call is kept (at most 3 bytes) and
 * completed from the next call. A leading BOM of the decoder's own
 * encoding is skipped, even when split across calls; a U+FEFF anywhere
 * later is dropped from the output (dec_drop_feff). Errors are sticky.
 * Offsets are input byte offsets from the start of the document,
 * counting a BOM.
 *
 * encoding = auto's readings (decode.h): DEC_UTF8_TRY notes where the
 * first valid multi-byte sequence is, and turns DEC_UTF8_MIXED at an
 * invalid sequence after one; DEC_UTF8_MIXED stops after each invalid
 * sequence (decoder_feed_part), which it copies; DEC_CP1252_TRY looks
 * for a valid multi-byte sequence (utf8_find_multi) before it decodes,
 * keeping the valid start of one cut by the end of a call (tail).
 * Every verdict depends on the bytes only, never on how they are cut.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "td.h"
#include "buf.h"
#include "decode.h"

#define DEC_BLOCK	(256 * 1024)	/* input bytes per reservation */
#define DEC_STEP	16		/* input bytes per step near the bound */
#define DEC_SLACK	4		/* tables store 4 bytes per character */
#define DEC_PEND_MAX	8		/* pending bytes + bytes borrowed */

#define HI8	UINT64_C(0x8080808080808080)

struct decoder {
	int		 enc;
	int		 err;		/* sticky: 0 or TD_ERR_* */
	int		 finished;
	int		 at_start;	/* a BOM may still be (partly) pending */
	const char	*errcode;	/* after TD_ERR_FORMAT */
	uint64_t	 erroff;
	uint64_t	 fed;		/* input bytes fed before this call */
	size_t		 npend;		/* bytes of an incomplete sequence */
	uint8_t		 pend[DEC_PEND_MAX];
	/* the document so far: input offsets, UINT64_MAX for none */
	uint64_t	 first_multi;	/* evidence of UTF-8 (u8_evidence) */
	uint64_t	 pair;		/* the last two-byte sequence before */
	uint64_t	 first_bad;	/* an invalid sequence */
	uint64_t	 nbad;		/* invalid sequences (mixed) */
	uint64_t	 badoff;	/* DEC_BAD: the sequence's offset */
	size_t		 badlen;	/* and length */
	size_t		 ntail;		/* DEC_CP1252_TRY: a valid UTF-8 */
	uint8_t		 tail[4];	/* sequence's start at the end */
};

/* UTF-8 bytes of one character in b[0..2]; b[3] is the length. */
struct dec_seq {
	uint8_t	 b[4];
};

/*
 * windows-1252 differs from ISO-8859-1 only in 0x80-0x9F: their code
 * points per the WHATWG index (index-windows-1252.txt). WHATWG maps the
 * five bytes the Microsoft table leaves undefined to the C1 controls.
 */
static const uint16_t cp1252_80_9f[32] = {
	0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d, 0x017d, 0x008f,
	0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
};

/* The UTF-8 of every byte of both encodings, built once from that. */
static struct dec_seq dec_tab_cp1252[256], dec_tab_latin1[256];
static pthread_once_t dec_tab_once = PTHREAD_ONCE_INIT;

static void
dec_seq_set(struct dec_seq *e, uint32_t u)
{
	if (u < 0x80) {
		e->b[0] = (uint8_t)u;
		e->b[3] = 1;
	} else if (u < 0x800) {
		e->b[0] = (uint8_t)(0xc0 | (u >> 6));
		e->b[1] = (uint8_t)(0x80 | (u & 0x3f));
		e->b[3] = 2;
	} else {
		e->b[0] = (uint8_t)(0xe0 | (u >> 12));
		e->b[1] = (uint8_t)(0x80 | ((u >> 6) & 0x3f));
		e->b[2] = (uint8_t)(0x80 | (u & 0x3f));
		e->b[3] = 3;
	}
}

static void
dec_tab_init(void)
{
	uint32_t b;

	for (b = 0; b < 256; b++) {
		dec_seq_set(&dec_tab_latin1[b], b);
		dec_seq_set(&dec_tab_cp1252[b], b >= 0x80 && b < 0xa0 ?
		    cp1252_80_9f[b - 0x80] : b);
	}
}

static const uint8_t u8_class[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 00 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 10 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 20 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 30 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 40 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 50 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 60 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 70 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 80 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 90 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* a0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* b0 */
	0, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,	/* c0 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,	/* d0 */
	3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 5, 4, 4,	/* e0 */
	6, 7, 7, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* f0 */
};

/*
 * Per lead byte class: sequence length (0: never valid) and the range of
 * the second byte; later bytes are 80..BF (Unicode Table 3-7).
 */
static const uint8_t u8_len[9] = { 0, 1, 2, 3, 3, 3, 4, 4, 4 };
static const uint8_t u8_lo[9] =  { 0, 0, 0x80, 0xa0, 0x80, 0x80, 0x90, 0x80, 0x80 };
static const uint8_t u8_hi[9] =  { 0, 0, 0xbf, 0xbf, 0xbf, 0x9f, 0xbf, 0xbf, 0x8f };

static const uint8_t bom_utf8[] = { 0xef, 0xbb, 0xbf };
static const uint8_t bom_le[] = { 0xff, 0xfe };
static const uint8_t bom_be[] = { 0xfe, 0xff };

/*
 * Whether a valid multi-byte UTF-8 sequence of len bytes led by lead is,
 * alone, evidence that a document is UTF-8 (encoding = auto's mixed
 * document): one of three or four bytes, or of two led by C2 or C3
 * (U+0080 to U+00FF, the accented letters of Western European text).
 * Windows-1252 text forms the other two-byte sequences by chance: a
 * capital with an accent (C4 to DF) followed by punctuation or a symbol
 * (80 to BF), as JOSÉ’S (C9 92) or NESTLÉ® (C9 AE) do. Such a sequence
 * is evidence only when another two-byte sequence follows it at once
 * (two letters of Greek, Cyrillic, Hebrew or Arabic side by side, as
 * "Мо" is, D0 9C D0 BE), which Windows-1252 text would spell as two
 * capitals each followed by a symbol, "Ðœ Ð¾". Alone, it is still read
 * as UTF-8 where the document is; it only does not make it mixed.
 */
static inline int
u8_evidence(uint8_t lead, size_t len)
{
	return len >= 3 || lead <= 0xc3;
}

/*
 * Whether s[0..n) starts with a valid two-byte sequence: 1, 0, or -1
 * when n cuts it short (s[0] a two-byte lead and n < 2, or n == 0).
 */
static inline int
u8_pair_at(const uint8_t *s, size_t n)
{
	if (n == 0)
		return -1;
	if (u8_len[u8_class[s[0]]] != 2)
		return 0;
	if (n < 2)
		return -1;
	return s[1] >= 0x80 && s[1] <= 0xbf;
}

/*
 * Length of the longest prefix of s[0..n) made of complete, valid UTF-8
 * sequences. *bad is set when the prefix ends at an invalid sequence, left
 * 0 when it ends at n or at a sequence that n cuts short. s[0] is at
 * input offset off. *first, when UINT64_MAX, is set to the input offset
 * of the first evidence of UTF-8 (u8_evidence, or a two-byte sequence
 * followed at once by another); *pair is the offset of the last two-byte
 * sequence met while *first is not set (UINT64_MAX: none), carried from
 * one call to the next so that a pair cut between two calls is seen.
 */
static size_t
utf8_valid(const uint8_t *s, size_t n, int *bad, uint64_t off,
    uint64_t *first, uint64_t *pair)
{
	size_t i = 0, len;
	uint64_t a, b;
	unsigned k, c;

	*bad = 0;
	while (i < n) {
		while (n - i >= 16) {
			memcpy(&a, s + i, 8);
			memcpy(&b, s + i + 8, 8);
			if ((a | b) & HI8)
				break;
			i += 16;
		}
		if (n - i >= 8) {
			memcpy(&a, s + i, 8);
			if ((a & HI8) == 0) {
				i += 8;
				continue;
			}
		}
		while (i < n && s[i] < 0x80)
			i++;
		if (i == n)
			break;
		k = u8_class[s[i]];
		len = u8_len[k];
		if (len == 0)
			goto bad;
		if (n - i >= len) {
			c = s[i + 1];
			if (c < u8_lo[k] || c > u8_hi[k])
				goto bad;
			if (len >= 3 && (s[i + 2] & 0xc0) != 0x80)
				goto bad;
			if (len == 4 && (s[i + 3] & 0xc0) != 0x80)
				goto bad;
			if (*first == UINT64_MAX) {
				if (len == 2 && *pair != UINT64_MAX &&
				    *pair + 2 == off + i)
					*first = *pair;
				else if (u8_evidence(s[i], len))
					*first = off + i;
				else
					*pair = off + i;
			}
			i += len;
			continue;
		}
		/* cut short by n: invalid already, or maybe completed later */
		if (n - i >= 2) {
			c = s[i + 1];
			if (c < u8_lo[k] || c > u8_hi[k])
				goto bad;
			if (n - i >= 3 && (s[i + 2] & 0xc0) != 0x80)
				goto bad;
		}
		return i;
	}
	return i;
bad:
	*bad = 1;
	return i;
}

/*
 * The maximal subpart of the invalid sequence at s[0] (utf8_valid's
 * bad, whose bytes through the offending one are in s[0..n)): its lead
 * and the continuation bytes that were valid after it, 1 to 3 bytes.
 */
static size_t
utf8_bad_len(const uint8_t *s, size_t n)
{
	unsigned k = u8_class[s[0]];
	size_t len = u8_len[k];

	if (len < 2 || n < 2 || s[1] < u8_lo[k] || s[1] > u8_hi[k])
		return 1;
	if (len == 2 || n < 3 || (s[2] & 0xc0) != 0x80)
		return 2;
	return 3;
}

/*
 * Index of the first valid multi-byte UTF-8 sequence in s[0..n) that is
 * evidence of UTF-8 (u8_evidence, or a two-byte sequence followed at
 * once by another), or n when there is none; *cut is then the index of
 * the valid start of one that n cuts short (at most 3 bytes), or n.
 * Every byte is a possible start: a sequence is found wherever it is,
 * whatever comes before it.
 */
static size_t
utf8_find_multi(const uint8_t *s, size_t n, size_t *cut)
{
	size_t i = 0, j, len;
	uint64_t a;
	unsigned k;
	int p;

	*cut = n;
	while (i < n) {
		while (n - i >= 8) {
			memcpy(&a, s + i, 8);
			if (a & HI8)
				break;
			i += 8;
		}
		if (i == n)
			break;
		k = u8_class[s[i]];
		len = u8_len[k];
		if (len < 2) {
			i++;
			continue;
		}
		for (j = 1; j < len && i + j < n; j++)
			if (j == 1 ? s[i + 1] < u8_lo[k] ||
			    s[i + 1] > u8_hi[k] : (s[i + j] & 0xc0) != 0x80)
				break;
		if (j == len) {
			if (u8_evidence(s[i], len))
				return i;
			/* two bytes led by C4..DF: is another pair next? */
			if ((p = u8_pair_at(s + i + 2, n - i - 2)) > 0)
				return i;
			if (p < 0) {
				*cut = i;
				return n;
			}
		} else if (i + j == n) {
			*cut = i;
			return n;
		}
		i++;
	}
	return n;
}

/* Single-byte encodings; dst has room for 3 * n + DEC_SLACK bytes. */
static size_t
sbcs_decode(const struct dec_seq *tab, const uint8_t *s, size_t n,
    uint8_t *dst)
{
	const struct dec_seq *e;
	uint8_t *o = dst;
	uint64_t w;
	size_t i = 0, k;

	while (n - i >= 8) {
		memcpy(&w, s + i, 8);
		if ((w & HI8) == 0) {
			memcpy(o, &w, 8);
			o += 8;
		} else {
			for (k = 0; k < 8; k++) {
				e = &tab[s[i + k]];
				memcpy(o, e->b, 4);
				o += e->b[3];
			}
		}
		i += 8;
	}
	for (; i < n; i++) {
		e = &tab[s[i]];
		memcpy(o, e->b, 4);
		o += e->b[3];
	}
	return (size_t)(o - dst);
}

/*
 * UTF-16 to UTF-8; dst has room for 3 * (n / 2) bytes. Returns the bytes
 * consumed (complete code units and pairs); *bad as for utf8_valid().
 */
static size_t
utf16_decode(const uint8_t *s, size_t n, int be, uint8_t *dst,
    size_t *olen, int *bad)
{
	uint8_t *o = dst;
	size_t i = 0;
	uint32_t u, u2;
	const int h = be ? 0 : 1, l = be ? 1 : 0;	/* high, low byte */

	*bad = 0;
	while (n - i >= 2) {
		while (n - i >= 8 &&
		    (s[i + h] | s[i + 2 + h] | s[i + 4 + h] | s[i + 6 + h]) == 0 &&
		    ((s[i + l] | s[i + 2 + l] | s[i + 4 + l] | s[i + 6 + l]) &
		    0x80) == 0) {
			o[0] = s[i + l];
			o[1] = s[i + 2 + l];
			o[2] = s[i + 4 + l];
			o[3] = s[i + 6 + l];
			o += 4;
			i += 8;
		}
		if (n - i < 2)
			break;
		u = (uint32_t)s[i + h] << 8 | s[i + l];
		if (u < 0x80) {
			*o++ = (uint8_t)u;
			i += 2;
		} else if (u < 0x800) {
			o[0] = (uint8_t)(0xc0 | u >> 6);
			o[1] = (uint8_t)(0x80 | (u & 0x3f));
			o += 2;
			i += 2;
		} else if ((u & 0xf800) != 0xd800) {
			o[0] = (uint8_t)(0xe0 | u >> 12);
			o[1] = (uint8_t)(0x80 | (u >> 6 & 0x3f));
			o[2] = (uint8_t)(0x80 | (u & 0x3f));
			o += 3;
			i += 2;
		} else if (u >= 0xdc00) {
			*bad = 1;	/* low surrogate without a high one */
			break;
		} else {
			if (n - i < 4) {
				/* the low half may follow, unless it cannot */
				break;
			}
			u2 = (uint32_t)s[i + 2 + h] << 8 | s[i + 2 + l];
			if ((u2 & 0xfc00) != 0xdc00) {
				*bad = 1;	/* high surrogate alone */
				break;
			}
			u = 0x10000 + ((u - 0xd800) << 10) + (u2 - 0xdc00);
			o[0] = (uint8_t)(0xf0 | u >> 18);
			o[1] = (uint8_t)(0x80 | (u >> 12 & 0x3f));
			o[2] = (uint8_t)(0x80 | (u >> 6 & 0x3f));
			o[3] = (uint8_t)(0x80 | (u & 0x3f));
			o += 4;
			i += 4;
		}
	}
	*olen = (size_t)(o - dst);
	return i;
}

/* Worst-case output bytes for n input bytes. */
static size_t
dec_worst(const struct decoder *d, size_t n)
{
	switch (d->enc) {
	case DEC_UTF8:
	case DEC_UTF8_TRY:
	case DEC_UTF8_MIXED:
		return n + DEC_SLACK;
	case DEC_CP1252:
	case DEC_CP1252_TRY:
		return 3 * n + DEC_SLACK;
	default:		/* latin1: 2n; UTF-16: 3 per 2 bytes */
		return 2 * n + DEC_SLACK;
	}
}

/*
 * Decode s[0..n), input offset off, into dst (room for dec_worst(n)
 * bytes). Returns the input bytes consumed; *olen the output bytes; *bad
 * set when decoding stopped at an invalid sequence at s[return value].
 */
static size_t
dec_run(struct decoder *d, const uint8_t *s, size_t n, uint64_t off,
    uint8_t *dst, size_t *olen, int *bad)
{
	size_t v;

	*bad = 0;
	switch (d->enc) {
	case DEC_UTF8:
	case DEC_UTF8_TRY:
	case DEC_UTF8_MIXED:
		v = utf8_valid(s, n, bad, off, &d->first_multi, &d->pair);
		if (v > 0)
			memcpy(dst, s, v);
		*olen = v;
		return v;
	case DEC_CP1252:
	case DEC_CP1252_TRY:
		*olen = sbcs_decode(dec_tab_cp1252, s, n, dst);
		return n;
	case DEC_LATIN1:
		*olen = sbcs_decode(dec_tab_latin1, s, n, dst);
		return n;
	case DEC_UTF16LE:
		return utf16_decode(s, n, 0, dst, olen, bad);
	default:
		return utf16_decode(s, n, 1, dst, olen, bad);
	}
}

/*
 * Drop every U+FEFF (EF BB BF) from the UTF-8 in p[0..n), which holds
 * whole characters; returns the new length. A byte order mark inside a
 * document (two files joined, or a stray zero width no-break space) is
 * never part of a value.
 */
static size_t
dec_drop_feff(uint8_t *p, size_t n)
{
	uint8_t *q;
	size_t i = 0, o;

	for (;;) {
		if ((q = memchr(p + i, 0xef, n - i)) == NULL)
			return n;	/* the usual case: none */
		i = (size_t)(q - p);
		if (i + 3 <= n && q[1] == 0xbb && q[2] == 0xbf)
			break;
		i++;
	}
	for (o = i, i += 3; i < n; ) {
		if (p[i] == 0xef && i + 3 <= n && p[i + 1] == 0xbb &&
		    p[i + 2] == 0xbf) {
			i += 3;
			continue;
		}
		p[o++] = p[i++];
	}
	return o;
}

static int
dec_fail(struct decoder *d, uint64_t off)
{
	switch (d->enc) {
	case DEC_UTF8:
		d->errcode = "decode_invalid_utf8";
		break;
	case DEC_UTF8_TRY:
		d->errcode = "decode_not_utf8";
		break;
	case DEC_CP1252_TRY:
		d->errcode = "decode_mixed_retry";
		break;
	default:
		d->errcode = "decode_invalid_utf16";
		break;
	}
	d->erroff = off;
	d->err = TD_ERR_FORMAT;
	return d->err;
}

static int
dec_limit(struct decoder *d, uint64_t off)
{
	d->erroff = off;
	d->err = TD_ERR_LIMIT;
	return d->err;
}

int
decoder_sniff(const void *p, size_t n)
{
	const uint8_t *s = p;

	if (n >= 3 && memcmp(s, bom_utf8, 3) == 0)
		return DEC_UTF8;
	if (n >= 2 && memcmp(s, bom_le, 2) == 0)
		return DEC_UTF16LE;
	if (n >= 2 && memcmp(s, bom_be, 2) == 0)
		return DEC_UTF16BE;
	return 0;
}

int
decoder_looks_utf16(const void *p, size_t n)
{
	const uint8_t *s = p;
	size_t i, z[2] = { 0, 0 }, pairs;

	if (n > 4096)
		n = 4096;
	pairs = n / 2;
	if (pairs < 4)
		return 0;
	for (i = 0; i < 2 * pairs; i++)
		z[i & 1] += s[i] == 0;
	/* ASCII as UTF-16: a NUL in every other byte, on one side only */
	if (4 * z[1] >= 3 * pairs && 8 * z[0] <= pairs)
		return DEC_UTF16LE;
	if (4 * z[0] >= 3 * pairs && 8 * z[1] <= pairs)
		return DEC_UTF16BE;
	return 0;
}

/* NULL for an enc that is not a DEC_* value. */
struct decoder *
decoder_new(int enc)
{
	struct decoder *d;

	if (enc < DEC_UTF8 || enc > DEC_UTF8_MIXED)
		return NULL;
	pthread_once(&dec_tab_once, dec_tab_init);
	d = xcalloc(1, sizeof(*d));
	d->enc = enc;
	d->at_start = 1;
	d->first_multi = d->first_bad = d->pair = UINT64_MAX;
	return d;
}

void
decoder_free(struct decoder *d)
{
	x_free(d);
}

/*
 * While at the start of input, skip a BOM of this encoding. Returns the
 * number of bytes of in[] taken into the pending bytes or skipped.
 */
static size_t
dec_bom(struct decoder *d, const uint8_t *in, size_t n)
{
	const uint8_t *bom;
	size_t blen, take, have;

	switch (d->enc) {
	case DEC_UTF8:
	case DEC_UTF8_TRY:
	case DEC_UTF8_MIXED:
		bom = bom_utf8;
		blen = sizeof(bom_utf8);
		break;
	case DEC_UTF16LE:
		bom = bom_le;
		blen = sizeof(bom_le);
		break;
	case DEC_UTF16BE:
		bom = bom_be;
		blen = sizeof(bom_be);
		break;
	default:
		d->at_start = 0;
		return 0;
	}
	/* d->pend[0..npend) is a proper prefix of the BOM */
	take = blen - d->npend;
	if (take > n)
		take = n;
	if (memcmp(d->pend, bom, d->npend) != 0 ||
	    memcmp(in, bom + d->npend, take) != 0) {
		d->at_start = 0;	/* not a BOM: decode what is pending */
		return 0;
	}
	have = d->npend + take;
	if (have < blen) {		/* a BOM so far; wait for more */
		memcpy(d->pend + d->npend, in, take);
		d->npend = have;
		return take;
	}
	d->npend = 0;			/* skipped */
	d->at_start = 0;
	return take;
}

/*
 * The invalid sequence at p (its maximal subpart, len bytes, at input
 * offset off) is met: an error, unless the document is mixed, when it
 * is appended to out as it is (DEC_BAD).
 */
static int
dec_bad(struct decoder *d, const uint8_t *p, size_t len, uint64_t off,
    struct td_buf *out)
{
	if (d->first_bad == UINT64_MAX)
		d->first_bad = off;
	/* after a valid multi-byte sequence, encoding = auto's UTF-8 is
	 * mixed: its first invalid sequence is this one */
	if (d->enc == DEC_UTF8_TRY && d->first_multi != UINT64_MAX)
		d->enc = DEC_UTF8_MIXED;
	if (d->enc != DEC_UTF8_MIXED)
		return dec_fail(d, off);
	if (td_buf_append(out, p, len) != 0)
		return dec_limit(d, off);
	d->nbad++;
	d->badoff = off;
	d->badlen = len;
	return DEC_BAD;
}

/*
 * DEC_CP1252_TRY: 1 when in[0..n) (input offset base), after what the
 * calls before left in tail, holds a valid multi-byte UTF-8 sequence;
 * *at is its offset. Else the valid start of one that n cuts short is
 * kept in tail.
 */
static int
dec_scan_multi(struct decoder *d, const uint8_t *in, size_t n,
    uint64_t base, uint64_t *at)
{
	uint8_t tmp[DEC_PEND_MAX];
	size_t t = d->ntail, take, m, cut;

	if (t > 0) {
		take = sizeof(tmp) - t < n ? sizeof(tmp) - t : n;
		memcpy(tmp, d->tail, t);
		memcpy(tmp + t, in, take);
		m = utf8_find_multi(tmp, t + take, &cut);
		d->ntail = 0;
		if (m < t + take) {
			*at = base - t + m;
			return 1;
		}
		if (take == n) {	/* all of in[] was looked at */
			if (cut < t + take) {
				memcpy(d->tail, tmp + cut, t + take - cut);
				d->ntail = t + take - cut;
			}
			return 0;
		}
		/* else tmp is full (8 bytes): a sequence that starts in the
		 * tail (t <= 3) and takes at most 4 bytes was not cut by
		 * its end; in[] is looked at again, whole */
	}
	m = utf8_find_multi(in, n, &cut);
	if (m < n) {
		*at = base + m;
		return 1;
	}
	if (cut < n) {
		memcpy(d->tail, in + cut, n - cut);
		d->ntail = n - cut;
	}
	return 0;
}

int
decoder_feed_part(struct decoder *d, const void *inp, size_t n,
    struct td_buf *out, size_t *used)
{
	const uint8_t *in = inp;
	uint8_t tmp[DEC_PEND_MAX], obuf[3 * DEC_STEP + DEC_SLACK];
	uint64_t base = d->fed;		/* input offset of in[0] */
	uint64_t at;
	size_t i = 0, blk, tlen, v, olen, take, blen;
	int bad, r;

	*used = 0;
	if (d->err != 0)
		return d->err;
	if (d->finished)
		return TD_ERR_INVAL;
	if (n == 0)
		return 0;
	d->fed += n;

	if (d->at_start) {
		i = dec_bom(d, in, n);
		if (d->at_start) {
			*used = n;
			return 0;	/* all of in[] is a BOM prefix */
		}
	}
	if (d->enc == DEC_CP1252_TRY && dec_scan_multi(d, in + i, n - i,
	    base + i, &at))
		return dec_fail(d, at);

	/* Complete a pending sequence with bytes borrowed from in[]. */
	if (d->npend > 0) {
		take = sizeof(tmp) - d->npend;
		if (take > n - i)
			take = n - i;
		memcpy(tmp, d->pend, d->npend);
		memcpy(tmp + d->npend, in + i, take);
		tlen = d->npend + take;
		v = dec_run(d, tmp, tlen, base + i - d->npend, obuf, &olen,
		    &bad);
		olen = dec_drop_feff(obuf, olen);
		if (olen > 0 && td_buf_append(out, obuf, olen) != 0)
			return dec_limit(d, base + i - d->npend);
		if (bad) {
			blen = utf8_bad_len(tmp + v, tlen - v);
			r = dec_bad(d, tmp + v, blen, base + i - d->npend + v,
			    out);
			if (r != DEC_BAD)
				return r;
			/* the sequence holds every pending byte */
			i += v + blen - d->npend;
			d->npend = 0;
			goto stop;
		}
		if (v == 0) {		/* still incomplete: in[] used up */
			memcpy(d->pend, tmp, tlen);
			d->npend = tlen;
			*used = n;
			return 0;
		}
		/* v > npend: the pending sequence was completed */
		i += v - d->npend;
		d->npend = 0;
	}

	while (i < n) {
		blk = n - i;
		if (blk > DEC_BLOCK)
			blk = DEC_BLOCK;
		if (dec_worst(d, blk) <= out->max - out->len) {
			/* cannot fail: the bound leaves room */
			if (td_buf_reserve(out, dec_worst(d, blk)) != 0)
				return dec_limit(d, base + i);
			v = dec_run(d, in + i, blk, base + i,
			    (uint8_t *)out->p + out->len, &olen, &bad);
			out->len += dec_drop_feff((uint8_t *)out->p + out->len,
			    olen);
		} else {
			if (blk > DEC_STEP)
				blk = DEC_STEP;
			v = dec_run(d, in + i, blk, base + i, obuf, &olen,
			    &bad);
			olen = dec_drop_feff(obuf, olen);
			if (olen > 0 && td_buf_append(out, obuf, olen) != 0)
				return dec_limit(d, base + i);
		}
		i += v;
		if (bad) {
			blen = utf8_bad_len(in + i, blk - v);
			if ((r = dec_bad(d, in + i, blen, base + i, out)) !=
			    DEC_BAD)
				return r;
			i += blen;
			goto stop;
		}
		if (v == 0) {
			/* an incomplete sequence ends the input (< 4 bytes) */
			if (n - i >= sizeof(d->pend))
				td_fatal("decoder_feed: no progress at %llu",
				    (unsigned long long)(base + i));
			memcpy(d->pend, in + i, n - i);
			d->npend = n - i;
			break;
		}
	}
	*used = n;
	return 0;
 stop:
	/* DEC_BAD: the input from in[i] on is not taken */
	d->fed = base + i;
	*used = i;
	return DEC_BAD;
}

int
decoder_feed(struct decoder *d, const void *inp, size_t n,
    struct td_buf *out)
{
	const uint8_t *in = inp;
	size_t used;
	int r;

	while ((r = decoder_feed_part(d, in, n, out, &used)) == DEC_BAD) {
		in += used;
		n -= used;
	}
	return r;
}

int
decoder_finish(struct decoder *d, struct td_buf *out)
{
	size_t n = d->npend;

	if (d->err != 0)
		return d->err;
	if (d->finished)
		return TD_ERR_INVAL;
	d->finished = 1;
	if (n == 0)
		return 0;
	/* a truncated sequence or BOM */
	d->npend = 0;
	return dec_bad(d, d->pend, n, d->fed - n, out);
}

size_t
decoder_bad(const struct decoder *d, uint64_t *off)
{
	*off = d->badoff;
	return d->badlen;
}

int
decoder_mixed(const struct decoder *d, uint64_t *first_multi,
    uint64_t *first_bad, uint64_t *nbad)
{
	if (first_multi != NULL)
		*first_multi = d->first_multi;
	if (first_bad != NULL)
		*first_bad = d->first_bad;
	if (nbad != NULL)
		*nbad = d->nbad;
	return d->enc == DEC_UTF8_MIXED;
}

const char *
decoder_name(const struct decoder *d)
{
	switch (d->enc) {
	case DEC_CP1252:
	case DEC_CP1252_TRY:
		return "windows-1252";
	case DEC_LATIN1:
		return "iso-8859-1";
	case DEC_UTF16LE:
		return "utf-16le";
	case DEC_UTF16BE:
		return "utf-16be";
	default:
		return "utf-8";
	}
}

const char *
decoder_errcode(const struct decoder *d)
{
	return d->err == TD_ERR_FORMAT ? d->errcode : NULL;
}

uint64_t
decoder_erroffset(const struct decoder *d)
{
	return d->erroff;
}

/*
 * "utf-16" without a BOM is little-endian: the caller runs
 * decoder_sniff() and takes DEC_UTF16BE for a big-endian BOM.
 */
int
decoder_from_name(const char *name)
{
	static const struct {
		const char	*name;
		int		 enc;
	} names[] = {
		{ "utf-8",		DEC_UTF8 },
		{ "windows-1252",	DEC_CP1252 },
		{ "iso-8859-1",		DEC_LATIN1 },
		{ "utf-16",		DEC_UTF16LE },
		{ "utf-16le",		DEC_UTF16LE },
		{ "utf-16be",		DEC_UTF16BE },
	};
	size_t i;

	for (i = 0; i < TD_NELEM(names); i++)
		if (strcasecmp(name, names[i].name) == 0)
			return names[i].enc;
	return TD_ERR_INVAL;
}
