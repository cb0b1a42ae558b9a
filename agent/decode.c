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
 * Length of the longest prefix of s[0..n) made of complete, valid UTF-8
 * sequences. *bad is set when the prefix ends at an invalid sequence, left
 * 0 when it ends at n or at a sequence that n cuts short.
 */
static size_t
utf8_valid(const uint8_t *s, size_t n, int *bad)
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
		return n + DEC_SLACK;
	case DEC_CP1252:
		return 3 * n + DEC_SLACK;
	default:		/* latin1: 2n; UTF-16: 3 per 2 bytes */
		return 2 * n + DEC_SLACK;
	}
}

/*
 * Decode s[0..n) into dst (room for dec_worst(n) bytes). Returns the
 * input bytes consumed; *olen the output bytes; *bad set when decoding
 * stopped at an invalid sequence at s[return value].
 */
static size_t
dec_run(const struct decoder *d, const uint8_t *s, size_t n, uint8_t *dst,
    size_t *olen, int *bad)
{
	size_t v;

	*bad = 0;
	switch (d->enc) {
	case DEC_UTF8:
	case DEC_UTF8_TRY:
		v = utf8_valid(s, n, bad);
		if (v > 0)
			memcpy(dst, s, v);
		*olen = v;
		return v;
	case DEC_CP1252:
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

	if (enc < DEC_UTF8 || enc > DEC_UTF16BE)
		return NULL;
	pthread_once(&dec_tab_once, dec_tab_init);
	d = xcalloc(1, sizeof(*d));
	d->enc = enc;
	d->at_start = 1;
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

int
decoder_feed(struct decoder *d, const void *inp, size_t n,
    struct td_buf *out)
{
	const uint8_t *in = inp;
	uint8_t tmp[DEC_PEND_MAX], obuf[3 * DEC_STEP + DEC_SLACK];
	uint64_t base = d->fed;		/* input offset of in[0] */
	size_t i = 0, blk, tlen, v, olen, take;
	int bad;

	if (d->err != 0)
		return d->err;
	if (d->finished)
		return TD_ERR_INVAL;
	if (n == 0)
		return 0;
	d->fed += n;

	if (d->at_start) {
		i = dec_bom(d, in, n);
		if (d->at_start)
			return 0;	/* all of in[] is a BOM prefix */
	}

	/* Complete a pending sequence with bytes borrowed from in[]. */
	if (d->npend > 0) {
		take = sizeof(tmp) - d->npend;
		if (take > n - i)
			take = n - i;
		memcpy(tmp, d->pend, d->npend);
		memcpy(tmp + d->npend, in + i, take);
		tlen = d->npend + take;
		v = dec_run(d, tmp, tlen, obuf, &olen, &bad);
		olen = dec_drop_feff(obuf, olen);
		if (olen > 0 && td_buf_append(out, obuf, olen) != 0)
			return dec_limit(d, base + i - d->npend);
		if (bad)
			return dec_fail(d, base + i - d->npend + v);
		if (v == 0) {		/* still incomplete: in[] used up */
			memcpy(d->pend, tmp, tlen);
			d->npend = tlen;
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
			v = dec_run(d, in + i, blk,
			    (uint8_t *)out->p + out->len, &olen, &bad);
			out->len += dec_drop_feff((uint8_t *)out->p + out->len,
			    olen);
		} else {
			if (blk > DEC_STEP)
				blk = DEC_STEP;
			v = dec_run(d, in + i, blk, obuf, &olen, &bad);
			olen = dec_drop_feff(obuf, olen);
			if (olen > 0 && td_buf_append(out, obuf, olen) != 0)
				return dec_limit(d, base + i);
		}
		i += v;
		if (bad)
			return dec_fail(d, base + i);
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
	return 0;
}

int
decoder_finish(struct decoder *d, struct td_buf *out)
{
	(void)out;
	if (d->err != 0)
		return d->err;
	if (d->finished)
		return TD_ERR_INVAL;
	d->finished = 1;
	if (d->npend > 0)		/* truncated sequence or BOM */
		return dec_fail(d, d->fed - d->npend);
	return 0;
}

const char *
decoder_name(const struct decoder *d)
{
	switch (d->enc) {
	case DEC_CP1252:
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
