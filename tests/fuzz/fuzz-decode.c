/*
 * fuzz-decode.c - libFuzzer harness: the decoding step (agent/decode.c)
 * against a reference decoder written here, one code point at a time.
 * Every input is read as each of seven encodings: strict UTF-8, UTF-8
 * as encoding = auto tries it (an invalid sequence after a valid
 * multi-byte one makes the document mixed: each invalid sequence, its
 * maximal subpart, is then copied as it is), a mixed document's UTF-8
 * (so from its start), windows-1252, ISO-8859-1, UTF-16LE and
 * UTF-16BE. The reference gives the UTF-8 text (every
 * U+FEFF dropped: a leading BOM is skipped, a later one is never part of
 * a value) or the
 * byte offset of the first undecodable sequence (a truncated one at the
 * end included); windows-1252 comes from glibc's iconv table, with the
 * five bytes it leaves undefined mapped to the C1 controls as WHATWG
 * does.
 *
 * The streaming decoder, fed the input whole, in three pieces split at
 * data-derived points, and a byte at a time, must give exactly the
 * reference's text, or its error with the stable code and offset and
 * the text before it. With an output bound it must give TD_ERR_LIMIT
 * exactly when the reference's text (before any error) is longer than
 * the bound, holding a prefix of it no longer than the bound. Errors
 * are sticky, a finished decoder refuses more input, and the BOM sniffer
 * and name table agree with the bytes and names they are given.
 */
#include "config.h"

#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "td.h"
#include "buf.h"
#include "decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define BYTEWISE_MAX	512	/* inputs fed a byte at a time */

/* The reference's answer for one encoding. */
struct ref {
	uint8_t		*out;		/* UTF-8, every U+FEFF dropped */
	size_t		 len;
	int		 bad;		/* an undecodable sequence ... */
	size_t		 off;		/* ... starting at this byte */
};

static uint32_t cp1252[256];

/* windows-1252 per glibc's table; its five holes are C1 (WHATWG). */
static void
cp1252_init(void)
{
	iconv_t cd;
	uint8_t out[4];
	size_t b, il, ol;
	char *ip, *op;
	char in[1];

	if ((cd = iconv_open("UTF-32BE", "CP1252")) == (iconv_t)-1)
		abort();
	for (b = 0; b < 256; b++) {
		in[0] = (char)b;
		ip = in;
		il = 1;
		op = (char *)out;
		ol = sizeof(out);
		if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1) {
			if (b != 0x81 && b != 0x8d && b != 0x8f && b != 0x90 &&
			    b != 0x9d)
				abort();	/* the oracle itself is off */
			cp1252[b] = (uint32_t)b;
			iconv(cd, NULL, NULL, NULL, NULL);
			continue;
		}
		cp1252[b] = (uint32_t)out[0] << 24 | (uint32_t)out[1] << 16 |
		    (uint32_t)out[2] << 8 | out[3];
	}
	iconv_close(cd);
}

/* The UTF-8 of code point c at o; its length. */
static size_t
utf8_put(uint8_t *o, uint32_t c)
{
	static const uint8_t lead[5] = { 0, 0, 0xc0, 0xe0, 0xf0 };
	size_t n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4, k;

	for (k = n - 1; k > 0; k--, c >>= 6)
		o[k] = (uint8_t)(0x80 | (c & 0x3f));
	o[0] = (uint8_t)(n == 1 ? c : (lead[n] | c));
	return n;
}

/*
 * The code point of strict UTF-8 at s[0..n): its length, or 0 when the
 * bytes there are not (or not all of) a well-formed sequence.
 */
static size_t
utf8_next(const uint8_t *s, size_t n, uint32_t *c)
{
	size_t len, k;
	uint32_t v, min;

	if (s[0] < 0x80) {
		*c = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		min = 0x10000;
	} else
		return 0;
	if (n < len)
		return 0;
	v = s[0] & (0x7f >> len);
	for (k = 1; k < len; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[k] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v < 0xe000))
		return 0;
	*c = v;
	return len;
}

/*
 * The maximal subpart of the ill-formed UTF-8 at s[0..n): its lead and
 * the continuation bytes valid after it (Unicode 3.9), 1 to 3 bytes.
 */
static size_t
utf8_subpart(const uint8_t *s, size_t n)
{
	uint8_t lo = 0x80, hi = 0xbf;
	size_t len, k;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		lo = s[0] == 0xe0 ? 0xa0 : 0x80;
		hi = s[0] == 0xed ? 0x9f : 0xbf;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		lo = s[0] == 0xf0 ? 0x90 : 0x80;
		hi = s[0] == 0xf4 ? 0x8f : 0xbf;
	} else
		return 1;
	for (k = 1; k < len && k < n; k++)
		if (k == 1 ? s[1] < lo || s[1] > hi : (s[k] & 0xc0) != 0x80)
			break;
	return k;
}

/* A UTF-16 code unit at s. */
static uint32_t
unit16(const uint8_t *s, int be)
{
	return be ? (uint32_t)s[0] << 8 | s[1] : (uint32_t)s[1] << 8 | s[0];
}

/* The code point of UTF-16 at s[0..n): its length in bytes, or 0. */
static size_t
utf16_next(const uint8_t *s, size_t n, int be, uint32_t *c)
{
	uint32_t hi, lo;

	if (n < 2)
		return 0;
	hi = unit16(s, be);
	if (hi < 0xd800 || hi >= 0xe000) {
		*c = hi;
		return 2;
	}
	if (hi >= 0xdc00 || n < 4)
		return 0;
	lo = unit16(s + 2, be);
	if (lo < 0xdc00 || lo >= 0xe000)
		return 0;
	*c = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
	return 4;
}

static void
ref_decode(int enc, const uint8_t *s, size_t n, struct ref *r)
{
	size_t i = 0, k = 0;
	uint32_t c = 0;
	int multi = 0;		/* a multi-byte sequence (not a leading BOM) */

	memset(r, 0, sizeof(*r));
	r->out = xmalloc(3 * n + 4);
	while (i < n) {
		switch (enc) {
		case DEC_UTF8:
		case DEC_UTF8_TRY:
		case DEC_UTF8_MIXED:
			k = utf8_next(s + i, n - i, &c);
			break;
		case DEC_CP1252:
			c = cp1252[s[i]];
			k = 1;
			break;
		case DEC_LATIN1:
			c = s[i];
			k = 1;
			break;
		default:
			k = utf16_next(s + i, n - i, enc == DEC_UTF16BE, &c);
			break;
		}
		if (k == 0 && (enc == DEC_UTF8_MIXED ||
		    (enc == DEC_UTF8_TRY && multi))) {
			/* mixed: the invalid sequence copied */
			k = utf8_subpart(s + i, n - i);
			memcpy(r->out + r->len, s + i, k);
			r->len += k;
			i += k;
			continue;
		}
		if (k == 0) {
			r->bad = 1;
			r->off = i;
			return;
		}
		/* evidence of UTF-8: two bytes led by C2 or C3, or three
		 * or four, or two followed at once by two more (a pair led
		 * by C2 to DF: two Greek or Cyrillic letters) */
		if ((k >= 3 || (k == 2 && (s[i] <= 0xc3 || (n - i >= 4 &&
		    s[i + 2] >= 0xc2 && s[i + 2] <= 0xdf && s[i + 3] >= 0x80 &&
		    s[i + 3] <= 0xbf)))) &&
		    (enc == DEC_UTF8 || enc == DEC_UTF8_TRY) &&
		    (i > 0 || c != 0xfeff))
			multi = 1;
		if (c != 0xfeff)
			r->len += utf8_put(r->out + r->len, c);
		i += k;
	}
}

/*
 * Decode s[0..n) fed in the pieces that end at cut[0..ncut) and at n,
 * into out (bound max, 0: none). Returns what the decoder returned
 * last; *code and *off its error's code and offset.
 */
static int
stream(int enc, const uint8_t *s, size_t n, const size_t *cut, size_t ncut,
    size_t max, struct td_buf *out, const char **code, uint64_t *off)
{
	struct decoder *d;
	size_t i, at = 0, end, len;
	int r = 0;

	td_buf_init(out, 0, max);
	if ((d = decoder_new(enc)) == NULL)
		abort();
	for (i = 0; i <= ncut && r == 0; i++) {
		end = i < ncut ? cut[i] : n;
		r = decoder_feed(d, s + at, end - at, out);
		at = end;
	}
	/* a mixed document's sequence cut by the end: copied, DEC_BAD */
	if (r == 0 && (r = decoder_finish(d, out)) == DEC_BAD)
		r = 0;
	len = out->len;
	*code = decoder_errcode(d);
	*off = decoder_erroffset(d);
	if (r != 0) {
		/* sticky: the same error again, nothing more written */
		if (decoder_feed(d, "a", 1, out) != r ||
		    decoder_finish(d, out) != r || out->len != len)
			abort();
	} else if (decoder_feed(d, "a", 1, out) != TD_ERR_INVAL ||
	    out->len != len)
		abort();
	if ((r == TD_ERR_FORMAT) != (*code != NULL))
		abort();
	decoder_free(d);
	return r;
}

static const char *
code_of(int enc)
{
	switch (enc) {
	case DEC_UTF8:
		return "decode_invalid_utf8";
	case DEC_UTF8_TRY:
		return "decode_not_utf8";
	default:
		return "decode_invalid_utf16";
	}
}

/* One streamed run of enc agrees with the reference r. */
static void
check(int enc, const uint8_t *s, size_t n, const size_t *cut, size_t ncut,
    size_t max, const struct ref *ref)
{
	struct td_buf out;
	const char *code;
	uint64_t off;
	int r;

	r = stream(enc, s, n, cut, ncut, max, &out, &code, &off);
	if (max != 0 && ref->len > max) {
		if (r != TD_ERR_LIMIT || out.len > max ||
		    (out.len > 0 && memcmp(out.p, ref->out, out.len) != 0))
			abort();
	} else if (ref->bad) {
		if (r != TD_ERR_FORMAT || strcmp(code, code_of(enc)) != 0 ||
		    off != ref->off || out.len != ref->len ||
		    (out.len > 0 && memcmp(out.p, ref->out, out.len) != 0))
			abort();
	} else if (r != 0 || out.len != ref->len ||
	    (out.len > 0 && memcmp(out.p, ref->out, out.len) != 0))
		abort();
	td_buf_free(&out);
}

/* The sniffer and the name table say what the bytes and names are. */
static void
check_sniff(const uint8_t *s, size_t n)
{
	static const int encs[] = { DEC_UTF8, DEC_UTF8_TRY, DEC_UTF8_MIXED,
	    DEC_CP1252, DEC_LATIN1, DEC_UTF16LE, DEC_UTF16BE };
	struct decoder *d;
	char name[17];
	size_t i;
	int want = 0, u16, e;

	if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		want = DEC_UTF8;
	else if (n >= 2 && memcmp(s, "\xff\xfe", 2) == 0)
		want = DEC_UTF16LE;
	else if (n >= 2 && memcmp(s, "\xfe\xff", 2) == 0)
		want = DEC_UTF16BE;
	if (decoder_sniff(s, n) != want)
		abort();
	u16 = decoder_looks_utf16(s, n);
	if ((u16 != 0 && u16 != DEC_UTF16LE && u16 != DEC_UTF16BE) ||
	    (n < 8 && u16 != 0))
		abort();
	if (decoder_new(0) != NULL || decoder_new(DEC_UTF8_MIXED + 1) != NULL)
		abort();
	for (i = 0; i < TD_NELEM(encs); i++) {
		d = decoder_new(encs[i]);
		e = decoder_from_name(decoder_name(d));
		if (e != (encs[i] == DEC_UTF8_TRY || encs[i] == DEC_UTF8_MIXED ?
		    DEC_UTF8 : encs[i]))
			abort();
		decoder_free(d);
	}
	/* the input's first bytes as a configured name */
	for (i = 0; i < n && i < sizeof(name) - 1 && s[i] != '\0'; i++)
		name[i] = (char)s[i];
	name[i] = '\0';
	e = decoder_from_name(name);
	if (e != TD_ERR_INVAL && (e < DEC_UTF8 || e > DEC_UTF16BE))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *s, size_t n)
{
	static const int encs[] = { DEC_UTF8, DEC_UTF8_TRY, DEC_UTF8_MIXED,
	    DEC_CP1252, DEC_LATIN1, DEC_UTF16LE, DEC_UTF16BE };
	static int once;
	struct ref ref;
	size_t cut[BYTEWISE_MAX], i, k, a, b, max;

	if (!once) {
		cp1252_init();
		once = 1;
	}
	check_sniff(s, n);
	a = n > 0 ? s[n / 2] % (n + 1) : 0;
	b = n > 0 ? a + s[n - 1] % (n - a + 1) : 0;
	max = n > 0 ? 1 + ((size_t)s[0] << 8 | s[n - 1]) % (3 * n + 8) : 1;
	for (i = 0; i < TD_NELEM(encs); i++) {
		ref_decode(encs[i], s, n, &ref);
		check(encs[i], s, n, NULL, 0, 0, &ref);
		cut[0] = a;
		cut[1] = b;
		check(encs[i], s, n, cut, 2, 0, &ref);
		check(encs[i], s, n, cut, 2, max, &ref);
		if (n > 0 && n <= BYTEWISE_MAX) {
			for (k = 0; k < n - 1; k++)
				cut[k] = k + 1;
			check(encs[i], s, n, cut, n - 1, 0, &ref);
		}
		x_free(ref.out);
	}
	return 0;
}
