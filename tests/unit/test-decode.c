/*
 * test-decode.c - agent/decode.c against the published tables (WHATWG
 * windows-1252 index, Unicode ISO-8859-1 table, GNU libiconv tables),
 * golden files (charset-normalizer, chardet, csvkit UTF-16/BOM), glibc
 * iconv on 20 MB of random bytes, strict UTF-8 / UTF-16 error offsets,
 * the output bound, and every chunking 1..7 plus random ones; encoding
 * = auto's mixed documents (UTF-8 with invalid bytes): where each
 * invalid sequence is, against a reference written here, the first
 * reading's switch to mixed and the windows-1252 reading's stop at a
 * valid multi-byte sequence, whatever the chunking.
 * Ends with MB/s per decoder on a 200 MB buffer (TD_DECODE_BENCH_MB sets
 * the size; 0 skips it).
 *
 * Data: $srcdir/tests/data (srcdir defaults to "."); copyleft fixtures
 * from $srcdir/../shared/corpus, skipped when absent.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "td.h"
#include "buf.h"
#include "decode.h"
#include "../lib/tap.h"

static const char *srcdir;

/* ---- helpers ------------------------------------------------------ */

static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t
rng(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * UINT64_C(2685821657736338717);
}

static char *
path_of(const char *rel)
{
	return xasprintf("%s/%s", srcdir, rel);
}

/* Whole file, or NULL (errno kept) when it cannot be read. */
static uint8_t *
slurp(const char *path, size_t *lenp)
{
	FILE *f;
	uint8_t *p = NULL;
	size_t len = 0, cap = 0, r;

	*lenp = 0;
	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	for (;;) {
		if (cap - len < 65536) {
			cap = cap * 2 + 65536;
			p = xrealloc(p, cap + 1);
		}
		r = fread(p + len, 1, cap - len, f);
		len += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		fclose(f);
		x_free(p);
		return NULL;
	}
	fclose(f);
	p[len] = '\0';
	*lenp = len;
	return p;
}

static size_t
put_utf8(uint8_t *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (uint8_t)(0xc0 | cp >> 6);
		o[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (uint8_t)(0xe0 | cp >> 12);
		o[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (uint8_t)(0xf0 | cp >> 18);
	o[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

static size_t
put_utf16(uint8_t *o, uint32_t cp, int be)
{
	uint32_t u[2];
	size_t n = 1, k;

	if (cp >= 0x10000) {
		u[0] = 0xd800 + ((cp - 0x10000) >> 10);
		u[1] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
		n = 2;
	} else
		u[0] = cp;
	for (k = 0; k < n; k++) {
		o[2 * k + (be ? 0 : 1)] = (uint8_t)(u[k] >> 8);
		o[2 * k + (be ? 1 : 0)] = (uint8_t)u[k];
	}
	return 2 * n;
}

static int
count_of(const uint8_t *p, size_t n, const char *needle)
{
	size_t m = strlen(needle), i;
	int c = 0;

	for (i = 0; m <= n && i <= n - m; i++)
		if (memcmp(p + i, needle, m) == 0)
			c++;
	return c;
}

/* ---- running a decoder -------------------------------------------- */

struct res {
	uint8_t		*out;
	size_t		 len;
	int		 rc;
	char		*code;
	uint64_t	 off;
};

static void
res_free(struct res *r)
{
	x_free(r->out);
	x_free(r->code);
	memset(r, 0, sizeof(*r));
}

#define CHUNK_WHOLE	0
#define CHUNK_RANDOM	(-1)	/* 1..64 bytes, some large */

/*
 * Decode in[] with enc, fed in pieces of `chunk` bytes (CHUNK_WHOLE: one
 * call; CHUNK_RANDOM: random sizes), output bounded by max (0: none).
 */
static void
run(int enc, const void *inp, size_t n, int chunk, size_t max, struct res *r)
{
	const uint8_t *in = inp;
	struct decoder *d;
	struct td_buf out;
	size_t i = 0, k;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	td_buf_init(&out, 0, max);
	d = decoder_new(enc);
	while (i < n && rc == 0) {
		if (chunk == CHUNK_WHOLE)
			k = n;
		else if (chunk > 0)
			k = (size_t)chunk;
		else if (rng() % 8 == 0)
			k = 1 + rng() % 100000;
		else
			k = 1 + rng() % 64;
		if (k > n - i)
			k = n - i;
		rc = decoder_feed(d, in + i, k, &out);
		i += k;
	}
	/* a mixed document's sequence cut by the end: copied, DEC_BAD */
	if (rc == 0 && (rc = decoder_finish(d, &out)) == DEC_BAD)
		rc = 0;
	r->rc = rc;
	if (rc == TD_ERR_FORMAT && decoder_errcode(d) != NULL)
		r->code = xstrdup(decoder_errcode(d));
	if (rc == TD_ERR_FORMAT)
		r->off = decoder_erroffset(d);
	r->out = xmalloc(out.len + 1);
	if (out.len > 0)
		memcpy(r->out, out.p, out.len);
	r->out[out.len] = '\0';
	r->len = out.len;
	decoder_free(d);
	td_buf_free(&out);
}

static int
res_same(const struct res *a, const struct res *b, int cmp_out)
{
	if (a->rc != b->rc || a->off != b->off)
		return 0;
	if ((a->code == NULL) != (b->code == NULL))
		return 0;
	if (a->code != NULL && strcmp(a->code, b->code) != 0)
		return 0;
	if (!cmp_out)
		return 1;
	return a->len == b->len && memcmp(a->out, b->out, a->len) == 0;
}

/*
 * Run whole, then every chunk size 1..7 and 4 random chunkings; 1 if all
 * agree. Leaves the whole-input result in *r. On an error the output
 * before the error depends on the chunking (whole blocks are appended)
 * and is not compared.
 */
static int
agree_all(const char *name, int enc, const void *in, size_t n, struct res *r)
{
	struct res c;
	int k, bad = 0;

	run(enc, in, n, CHUNK_WHOLE, 0, r);
	for (k = -4; k <= 7 && !bad; k++) {
		if (k == 0)
			continue;
		run(enc, in, n, k < 0 ? CHUNK_RANDOM : k, 0, &c);
		if (!res_same(r, &c, r->rc == 0)) {
			diag("%s: chunk %d: rc %d off %" PRIu64 " len %zu; "
			    "whole: rc %d off %" PRIu64 " len %zu", name, k,
			    c.rc, c.off, c.len, r->rc, r->off, r->len);
			bad = 1;
		}
		res_free(&c);
	}
	return !bad;
}

static void
run_all(const char *name, int enc, const void *in, size_t n, struct res *r)
{
	ok(agree_all(name, enc, in, n, r),
	    "%s: chunk sizes 1..7 and random agree", name);
}

static const char *
enc_name(int enc)
{
	static char name[32];
	struct decoder *d = decoder_new(enc);

	snprintf(name, sizeof(name), "%s%s", d ? decoder_name(d) : "?",
	    enc == DEC_UTF8_TRY || enc == DEC_CP1252_TRY ? " (try)" :
	    enc == DEC_UTF8_MIXED ? " (mixed)" : "");
	decoder_free(d);
	return name;
}

/*
 * The caller's encoding = auto: BOM, else UTF-8 (mixed, maybe), else
 * windows-1252 unless that finds a valid multi-byte sequence, then
 * mixed UTF-8. Returns DEC_UTF8, DEC_CP1252 or DEC_UTF8_MIXED (when it
 * took a third reading).
 */
static int
run_auto(const void *in, size_t n, struct res *r)
{
	int enc = decoder_sniff(in, n);

	if (enc != 0) {
		run(enc, in, n, CHUNK_RANDOM, 0, r);
		return enc;
	}
	run(DEC_UTF8_TRY, in, n, CHUNK_RANDOM, 0, r);
	if (r->rc != TD_ERR_FORMAT || r->code == NULL ||
	    strcmp(r->code, "decode_not_utf8") != 0)
		return DEC_UTF8;
	res_free(r);
	run(DEC_CP1252_TRY, in, n, CHUNK_RANDOM, 0, r);
	if (r->rc != TD_ERR_FORMAT || r->code == NULL ||
	    strcmp(r->code, "decode_mixed_retry") != 0)
		return DEC_CP1252;
	res_free(r);
	run(DEC_UTF8_MIXED, in, n, CHUNK_RANDOM, 0, r);
	return DEC_UTF8_MIXED;
}

/* ---- tables ------------------------------------------------------- */

/*
 * WHATWG index: "pointer<TAB>0xCODE<TAB>..." lines; byte = 0x80 + pointer.
 * Fills cp[256] (ASCII identity) and returns the count of pointers read.
 */
static int
load_whatwg(const char *path, uint32_t cp[256])
{
	FILE *f;
	char line[512];
	unsigned ptr, code;
	int n = 0, b;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	for (b = 0; b < 256; b++)
		cp[b] = b < 0x80 ? (uint32_t)b : UINT32_MAX;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (line[0] == '#')
			continue;
		if (sscanf(line, " %u 0x%x", &ptr, &code) == 2 && ptr < 128) {
			cp[0x80 + ptr] = code;
			n++;
		}
	}
	fclose(f);
	return n;
}

/* ICU UCM: "<UXXXX> \xYY |0" lines (|0 = round trip). */
static int
load_ucm(const char *path, uint32_t cp[256])
{
	FILE *f;
	char line[512];
	unsigned code, byte, fl;
	int n = 0, b;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	for (b = 0; b < 256; b++)
		cp[b] = UINT32_MAX;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "<U%x> \\x%x |%u", &code, &byte, &fl) == 3 &&
		    byte < 256 && fl == 0) {
			cp[byte] = code;
			n++;
		}
	}
	fclose(f);
	return n;
}

/* GNU libiconv tests: "0xXX<TAB>0xXXXX"; undefined bytes are absent. */
static int
load_iconv_txt(const char *path, uint32_t cp[256])
{
	FILE *f;
	char line[512];
	unsigned code, byte;
	int n = 0, b;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	for (b = 0; b < 256; b++)
		cp[b] = UINT32_MAX;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "0x%x 0x%x", &byte, &code) == 2 && byte < 256) {
			cp[byte] = code;
			n++;
		}
	}
	fclose(f);
	return n;
}

/* Every byte defined in cp[] decodes (alone and in one run) to cp[b]. */
static void
check_table(const char *name, int enc, const uint32_t cp[256])
{
	uint8_t all[256], want[1024], one[4];
	size_t wlen = 0, olen;
	struct res r;
	int b, nall = 0, bad = 0, defined = 0;

	for (b = 0; b < 256; b++) {
		if (cp[b] == UINT32_MAX)
			continue;
		defined++;
		one[0] = (uint8_t)b;
		olen = put_utf8(want + wlen, cp[b]);
		run(enc, one, 1, CHUNK_WHOLE, 0, &r);
		if (r.rc != 0 || r.len != olen ||
		    memcmp(r.out, want + wlen, olen) != 0) {
			if (bad++ < 5)
				diag("%s: byte 0x%02X: rc %d, %zu bytes, want "
				    "U+%04" PRIX32, name, b, r.rc, r.len, cp[b]);
		}
		res_free(&r);
		all[nall++] = (uint8_t)b;
		wlen += olen;
	}
	ok(bad == 0, "%s: each of %d bytes decodes to the table's code point",
	    name, defined);
	run_all(name, enc, all, (size_t)nall, &r);
	ok(r.rc == 0 && r.len == wlen && memcmp(r.out, want, wlen) == 0,
	    "%s: all bytes in one run", name);
	res_free(&r);
}

/* ---- tests -------------------------------------------------------- */

static uint32_t whatwg[256], unicode_latin1[256];
static int have_whatwg;

static void
test_tables(void)
{
	char *p;
	int n;

	p = path_of("tests/data/encoding/whatwg/index-windows-1252.txt");
	n = load_whatwg(p, whatwg);
	is_int(n, 128, "WHATWG index-windows-1252.txt: 128 pointers");
	free(p);
	if (n == 128) {
		have_whatwg = 1;
		is_int(whatwg[0x81], 0x0081, "WHATWG: 0x81 is U+0081");
		is_int(whatwg[0x8D], 0x008D, "WHATWG: 0x8D is U+008D");
		is_int(whatwg[0x8F], 0x008F, "WHATWG: 0x8F is U+008F");
		is_int(whatwg[0x90], 0x0090, "WHATWG: 0x90 is U+0090");
		is_int(whatwg[0x9D], 0x009D, "WHATWG: 0x9D is U+009D");
		check_table("windows-1252 vs WHATWG index", DEC_CP1252, whatwg);
	}

	p = path_of("tests/data/encoding/unicode-icu/iso-8859_1-1998.ucm");
	n = load_ucm(p, unicode_latin1);
	is_int(n, 256, "ICU iso-8859_1-1998.ucm: 256 round-trip mappings");
	free(p);
	if (n == 256)
		check_table("iso-8859-1 vs Unicode table", DEC_LATIN1,
		    unicode_latin1);
}

static void
test_libiconv_tables(void)
{
	static const struct {
		const char	*file;
		int		 enc, count;
	} t[] = {
		{ "CP1252.TXT", DEC_CP1252, 251 },
		{ "ISO-8859-1.TXT", DEC_LATIN1, 256 },
	};
	uint32_t cp[256];
	char *p, *name;
	size_t i;
	int n;

	for (i = 0; i < TD_NELEM(t); i++) {
		p = xasprintf("%s/../shared/corpus/encoding/gnu-libiconv-tests/%s",
		    srcdir, t[i].file);
		n = load_iconv_txt(p, cp);
		if (n < 0) {
			ok(1, "# SKIP GNU libiconv %s not found at %s "
			    "(GPL-3.0, read from the corpus only)", t[i].file, p);
			free(p);
			continue;
		}
		is_int(n, t[i].count, "libiconv %s: %d mappings", t[i].file,
		    t[i].count);
		name = xasprintf("%s vs libiconv %s",
		    t[i].enc == DEC_CP1252 ? "windows-1252" : "iso-8859-1",
		    t[i].file);
		check_table(name, t[i].enc, cp);
		free(name);
		free(p);
	}
}

/* Reference windows-1252 decoding from the parsed WHATWG index. */
static uint8_t *
ref_cp1252(const uint8_t *in, size_t n, size_t *lenp)
{
	uint8_t *o = xmalloc(3 * n + 1);
	size_t i, len = 0;

	for (i = 0; i < n; i++)
		len += put_utf8(o + len, whatwg[in[i]]);
	*lenp = len;
	return o;
}

static void
test_chardet(void)
{
	static const struct {
		const char	*file;
		const char	*needle;	/* UTF-8 */
		int		 byte;		/* its windows-1252 byte */
	} t[] = {
		{ "github_bug_9.txt", "\xe2\x80\x9c", 0x93 },	/* “ */
		{ "github_bug_9.txt", "\xe2\x80\x9d", 0x94 },	/* ” */
		{ "github_bug_9.txt", "\xe2\x80\x93", 0x96 },	/* – */
		{ "github_bug_9.txt", "\xe2\x80\x94", 0x97 },	/* — */
		{ "_ude_1.txt", "\xe2\x82\xac", 0x80 },		/* € */
		{ "_ude_2.txt", "\xe2\x80\xa6", 0x85 },		/* … */
	};
	struct res r, a;
	uint8_t *in, *want, one;
	size_t n, wlen, i;
	char *p;
	int enc;

	for (i = 0; i < TD_NELEM(t); i++) {
		p = xasprintf("%s/../shared/corpus/encoding/chardet-tests/%s",
		    srcdir, t[i].file);
		in = slurp(p, &n);
		if (in == NULL) {
			ok(1, "# SKIP chardet %s not found at %s (LGPL-2.1, "
			    "read from the corpus only)", t[i].file, p);
			free(p);
			continue;
		}
		free(p);
		run(DEC_CP1252, in, n, CHUNK_RANDOM, 0, &r);
		one = (uint8_t)t[i].byte;
		ok(r.rc == 0 && count_of(in, n, (char[]){ (char)one, 0 }) > 0 &&
		    count_of(r.out, r.len, t[i].needle) ==
		    count_of(in, n, (char[]){ (char)one, 0 }),
		    "chardet %s: every 0x%02X became U+%04" PRIX32, t[i].file,
		    t[i].byte, whatwg[one]);
		if (have_whatwg) {
			want = ref_cp1252(in, n, &wlen);
			ok(r.len == wlen && memcmp(r.out, want, wlen) == 0,
			    "chardet %s: output is the WHATWG index's", t[i].file);
			free(want);
		}
		enc = run_auto(in, n, &a);
		ok(enc == DEC_CP1252 && res_same(&a, &r, 1),
		    "chardet %s: encoding = auto falls back to windows-1252",
		    t[i].file);
		res_free(&a);
		res_free(&r);
		free(in);
	}
}

static void
test_french(void)
{
	uint8_t *cp, *u8;
	size_t ncp, nu8;
	struct res r;
	char *p1, *p2;
	int enc;

	p1 = path_of("tests/data/encoding/charset-normalizer/sample-french-1.txt");
	p2 = path_of("tests/data/encoding/charset-normalizer/sample-french.txt");
	cp = slurp(p1, &ncp);
	u8 = slurp(p2, &nu8);
	ok(cp != NULL && u8 != NULL, "charset-normalizer french pair read");
	if (cp == NULL || u8 == NULL)
		goto out;
	run_all("sample-french-1.txt as windows-1252", DEC_CP1252, cp, ncp, &r);
	ok(r.rc == 0 && r.len == nu8 && memcmp(r.out, u8, nu8) == 0,
	    "sample-french-1.txt (windows-1252) decodes byte-exactly to "
	    "sample-french.txt");
	ok(count_of(r.out, r.len, "\xc5\x93") > 0, "... with 0x9C as U+0153");
	res_free(&r);

	run_all("sample-french-1.txt as utf-8 (try)", DEC_UTF8_TRY, cp, ncp, &r);
	ok(r.rc == TD_ERR_FORMAT && r.code != NULL &&
	    strcmp(r.code, "decode_not_utf8") == 0,
	    "sample-french-1.txt is not UTF-8 (decode_not_utf8 at %" PRIu64 ")",
	    r.off);
	res_free(&r);
	enc = run_auto(cp, ncp, &r);
	ok(enc == DEC_CP1252 && r.rc == 0 && r.len == nu8 &&
	    memcmp(r.out, u8, nu8) == 0, "auto: sample-french-1.txt via "
	    "windows-1252");
	res_free(&r);

	run_all("sample-french.txt as utf-8", DEC_UTF8, u8, nu8, &r);
	ok(r.rc == 0 && r.len == nu8 && memcmp(r.out, u8, nu8) == 0,
	    "sample-french.txt is valid UTF-8, copied unchanged");
	res_free(&r);
	enc = run_auto(u8, nu8, &r);
	ok(enc == DEC_UTF8 && r.rc == 0 && r.len == nu8 &&
	    memcmp(r.out, u8, nu8) == 0, "auto: sample-french.txt stays UTF-8");
	res_free(&r);
out:
	free(p1);
	free(p2);
	free(cp);
	free(u8);
}

/* Lines after the first, with a final newline removed. */
static void
body_of(const uint8_t *p, size_t n, const uint8_t **bp, size_t *bn)
{
	const uint8_t *nl = memchr(p, '\n', n);

	*bp = nl == NULL ? p + n : nl + 1;
	*bn = n - (size_t)(*bp - p);
	if (*bn > 0 && (*bp)[*bn - 1] == '\n')
		(*bn)--;
}

static void
test_csvkit(void)
{
	static const struct {
		const char	*file;
		int		 enc;
	} t[] = {
		{ "test_utf16_little.csv", DEC_UTF16LE },
		{ "test_utf16_big.csv", DEC_UTF16BE },
		{ "test_utf8_bom.csv", DEC_UTF8 },
	};
	/* upstream's UTF-16 twins have header a,b,c (test_utf8: foo,bar,baz) */
	static const char utf16_text[] = "a,b,c\n1,2,3\n4,5,\xca\xa4";
	const uint8_t *b1, *b2;
	uint8_t *twin, *in;
	size_t ntwin, n, l1, l2, i;
	struct res r;
	char *p, *name;

	p = path_of("tests/data/csv/csvkit/test_utf8.csv");
	twin = slurp(p, &ntwin);
	free(p);
	ok(twin != NULL, "csvkit test_utf8.csv read");
	if (twin == NULL)
		return;
	for (i = 0; i < TD_NELEM(t); i++) {
		p = xasprintf("%s/tests/data/csv/csvkit/%s", srcdir, t[i].file);
		in = slurp(p, &n);
		free(p);
		ok(in != NULL, "csvkit %s read", t[i].file);
		if (in == NULL)
			continue;
		is_int(decoder_sniff(in, n), t[i].enc, "%s: BOM sniffed",
		    t[i].file);
		name = xasprintf("csvkit %s", t[i].file);
		run_all(name, t[i].enc, in, n, &r);
		free(name);
		ok(r.rc == 0 && (r.len < 3 || memcmp(r.out, "\xef\xbb\xbf", 3)),
		    "%s: decodes, BOM not emitted", t[i].file);
		body_of(r.out, r.len, &b1, &l1);
		body_of(twin, ntwin, &b2, &l2);
		ok(l1 == l2 && memcmp(b1, b2, l1) == 0,
		    "%s: rows after the header equal test_utf8.csv's", t[i].file);
		if (t[i].enc == DEC_UTF8)
			ok(r.len == ntwin + 1 && memcmp(r.out, twin, ntwin) == 0 &&
			    r.out[ntwin] == '\n', "%s: test_utf8.csv plus the "
			    "final newline it lacks", t[i].file);
		else
			ok(r.len == sizeof(utf16_text) - 1 &&
			    memcmp(r.out, utf16_text, r.len) == 0,
			    "%s: exactly \"a,b,c\\n1,2,3\\n4,5,\\u02A4\"",
			    t[i].file);
		res_free(&r);
		free(in);
	}
	free(twin);
}

/* 20 MB of random windows-1252 (glibc rejects 0x81 0x8D 0x8F 0x90 0x9D). */
static void
test_iconv(void)
{
	static const struct {
		const char	*from;
		int		 enc;
	} t[] = {
		{ "WINDOWS-1252", DEC_CP1252 },
		{ "ISO-8859-1", DEC_LATIN1 },
	};
	const size_t n = 20u << 20;
	char in_path[] = "/tmp/td-decode-in.XXXXXX";
	char out_path[] = "/tmp/td-decode-out.XXXXXX";
	uint8_t *buf, *want, c;
	size_t i, k, nwant;
	struct res r;
	char *cmd;
	FILE *f;
	int fd, rc;

	if (system("command -v iconv >/dev/null 2>&1") != 0) {
		ok(1, "# SKIP iconv(1) not found");
		return;
	}
	buf = xmalloc(n);
	for (i = 0; i < n; i++) {
		do
			c = (uint8_t)(rng() >> 56);
		while (c == 0x81 || c == 0x8d || c == 0x8f || c == 0x90 ||
		    c == 0x9d);
		/* runs of ASCII too, so the fast path is exercised */
		if ((i >> 12) % 3 == 0)
			c &= 0x7f;
		buf[i] = c;
	}
	if ((fd = mkstemp(in_path)) < 0 || (f = fdopen(fd, "wb")) == NULL) {
		ok(0, "temp file: %s", strerror(errno));
		free(buf);
		return;
	}
	k = fwrite(buf, 1, n, f);
	rc = fclose(f);
	ok(k == n && rc == 0, "20 MB of random bytes written to %s", in_path);
	if ((fd = mkstemp(out_path)) >= 0)
		close(fd);
	for (i = 0; i < TD_NELEM(t); i++) {
		cmd = xasprintf("iconv -f %s -t UTF-8 < %s > %s", t[i].from,
		    in_path, out_path);
		rc = system(cmd);
		free(cmd);
		want = slurp(out_path, &nwant);
		ok(rc == 0 && want != NULL, "iconv -f %s -t UTF-8 ran",
		    t[i].from);
		if (rc != 0 || want == NULL) {
			free(want);
			continue;
		}
		run(t[i].enc, buf, n, CHUNK_RANDOM, 0, &r);
		ok(r.rc == 0 && r.len == nwant && memcmp(r.out, want, nwant) == 0,
		    "%s: 20 MB in random chunks agree with iconv (%zu bytes)",
		    enc_name(t[i].enc), nwant);
		res_free(&r);
		free(want);
	}
	unlink(in_path);
	unlink(out_path);
	free(buf);
}

/* ---- strict UTF-8 -------------------------------------------------- */

/*
 * Whether s[0..off), valid UTF-8 but for a leading BOM, holds a
 * multi-byte sequence that is evidence of UTF-8: one led by C2 or C3,
 * or of three or four bytes (a lead byte from E0 on).
 */
static int
multi_before(const uint8_t *s, uint64_t off)
{
	uint64_t i = off >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;

	for (; i < off; i++)
		if (s[i] == 0xc2 || s[i] == 0xc3 || s[i] >= 0xe0)
			return 1;
	return 0;
}

struct bad_case {
	const char	*name;
	const char	*in;
	size_t		 n;
	uint64_t	 off;
};
#define S(s)	s, sizeof(s) - 1

static const struct bad_case utf8_bad[] = {
	{ "overlong 2 (C0 80)", S("a\xc0\x80"), 1 },
	{ "overlong 2 (C1 BF)", S("\xc1\xbf"), 0 },
	{ "overlong 3 (E0 80 80)", S("ab\xe0\x80\x80"), 2 },
	{ "overlong 3 (E0 9F BF)", S("\xe0\x9f\xbf"), 0 },
	{ "overlong 4 (F0 8F BF BF)", S("xyz\xf0\x8f\xbf\xbf"), 3 },
	{ "surrogate ED A0 80", S("xy\xed\xa0\x80z"), 2 },
	{ "surrogate ED BF BF", S("\xed\xbf\xbf"), 0 },
	{ "> U+10FFFF (F4 90 80 80)", S("\xf4\x90\x80\x80"), 0 },
	{ "F5 lead", S("ok \xf5\x80\x80\x80"), 3 },
	{ "FF byte", S("\xff"), 0 },
	{ "FE byte", S("a\xfe"), 1 },
	{ "truncated 2 at end", S("abc\xc3"), 3 },
	{ "truncated 3 at end", S("abc\xe2\x82"), 3 },
	{ "truncated 4 at end", S("abc\xf0\x9f\x98"), 3 },
	{ "truncated by ASCII", S("\xe2\x82" "A"), 0 },
	{ "stray continuation", S("ab\x80" "cd"), 2 },
	{ "extra continuation", S("\xc3\xa9\xa9"), 2 },
	{ "after 20 ASCII bytes", S("0123456789abcdefghij\x80"), 20 },
	{ "after 16 ASCII bytes", S("0123456789abcdef\xc3\x28"), 16 },
	{ "offset counts the BOM", S("\xef\xbb\xbf" "ab\x80"), 5 },
	{ "BOM cut short", S("\xef\xbb"), 0 },
	{ "BOM then truncated", S("\xef\xbb\xbf\xe2"), 3 },
};

static const struct {
	const char	*name;
	const char	*in;
	size_t		 n;
	const char	*want;
	size_t		 wn;
} utf8_good[] = {
	{ "U+0080 U+07FF", S("\xc2\x80\xdf\xbf"), S("\xc2\x80\xdf\xbf") },
	{ "U+0800 U+D7FF U+E000 U+FFFF",
	    S("\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf"),
	    S("\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf") },
	{ "U+10000 U+10FFFF", S("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"),
	    S("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf") },
	{ "BOM skipped", S("\xef\xbb\xbf" "abc"), S("abc") },
	{ "two BOMs: both dropped", S("\xef\xbb\xbf\xef\xbb\xbf" "a"),
	    S("a") },
	{ "BOM later dropped", S("a\xef\xbb\xbf"), S("a") },
	{ "BOMs inside a value dropped",
	    S("1,\xef\xbb\xbf" "12\xef\xbb\xbf\xef\xbb\xbf" "3\n\xef\xbb\xbf" "x"),
	    S("1,123\nx") },
	{ "U+FEFF only: EF BB BE/BF BF kept", S("\xef\xbb\xbe\xef\xbf\xbf"),
	    S("\xef\xbb\xbe\xef\xbf\xbf") },
	{ "BOM alone", S("\xef\xbb\xbf"), S("") },
	{ "NUL", S("a\0b"), S("a\0b") },
};

static void
test_utf8_cases(void)
{
	static const int encs[] = { DEC_UTF8, DEC_UTF8_TRY };
	static const char *codes[] = { "decode_invalid_utf8", "decode_not_utf8" };
	struct res r;
	char *name;
	size_t i, e, wn;

	for (e = 0; e < 2; e++)
		for (i = 0; i < TD_NELEM(utf8_bad); i++) {
			name = xasprintf("%s: %s", enc_name(encs[e]),
			    utf8_bad[i].name);
			run_all(name, encs[e], utf8_bad[i].in, utf8_bad[i].n, &r);
			if (encs[e] == DEC_UTF8_TRY && multi_before(
			    (const uint8_t *)utf8_bad[i].in, utf8_bad[i].off)) {
				/* mixed: read on, the bytes copied */
				ok(r.rc == 0 && r.len == utf8_bad[i].n &&
				    memcmp(r.out, utf8_bad[i].in, r.len) == 0,
				    "%s: mixed after a multi-byte sequence, "
				    "copied", name);
				res_free(&r);
				free(name);
				continue;
			}
			ok(r.rc == TD_ERR_FORMAT && r.code != NULL &&
			    strcmp(r.code, codes[e]) == 0 &&
			    r.off == utf8_bad[i].off,
			    "%s: %s at offset %" PRIu64, name, codes[e],
			    utf8_bad[i].off);
			if (r.rc != TD_ERR_FORMAT || r.off != utf8_bad[i].off)
				diag("got rc %d code %s offset %" PRIu64, r.rc,
				    r.code ? r.code : "(null)", r.off);
			res_free(&r);
			free(name);
		}
	for (i = 0; i < TD_NELEM(utf8_good); i++) {
		name = xasprintf("utf-8: %s", utf8_good[i].name);
		run_all(name, DEC_UTF8, utf8_good[i].in, utf8_good[i].n, &r);
		wn = utf8_good[i].wn;
		ok(r.rc == 0 && r.len == wn &&
		    memcmp(r.out, utf8_good[i].want, wn) == 0, "%s: output", name);
		res_free(&r);
		free(name);
	}
}

/*
 * Reference: decode one code point at a time by the definition. Returns
 * -1 and the output, or the offset of the first bad sequence.
 */
static int64_t
ref_utf8(const uint8_t *s, size_t n, uint8_t *o, size_t *olen)
{
	size_t i = 0, len, k, bom = 0;
	uint32_t cp, min;

	*olen = 0;
	if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		i = bom = 3;
	while (i < n) {
		if (s[i] < 0x80) {
			o[(*olen)++] = s[i++];
			continue;
		}
		if (s[i] >= 0xc0 && s[i] < 0xe0) {
			len = 2, cp = s[i] & 0x1f, min = 0x80;
		} else if (s[i] >= 0xe0 && s[i] < 0xf0) {
			len = 3, cp = s[i] & 0x0f, min = 0x800;
		} else if (s[i] >= 0xf0 && s[i] < 0xf8) {
			len = 4, cp = s[i] & 0x07, min = 0x10000;
		} else
			return (int64_t)i;
		for (k = 1; k < len; k++) {
			if (i + k >= n || (s[i + k] & 0xc0) != 0x80)
				return (int64_t)i;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return (int64_t)i;
		if (cp != 0xfeff) {	/* a BOM after the start is dropped */
			memcpy(o + *olen, s + i, len);
			*olen += len;
		}
		i += len;
	}
	(void)bom;
	return -1;
}

static const uint32_t edge_cp[] = {
	0, 0x7f, 0x80, 0x7ff, 0x800, 0xfff, 0x1000, 0xd7ff, 0xe000, 0xfeff,
	0xfffe, 0xffff, 0x10000, 0x3ffff, 0x40000, 0xfffff, 0x100000, 0x10ffff,
};

static uint32_t
random_cp(void)
{
	uint32_t cp;

	switch (rng() % 6) {
	case 0:
		return edge_cp[rng() % TD_NELEM(edge_cp)];
	case 1:
		return 0x80 + (uint32_t)(rng() % 0x780);
	case 2:
		do
			cp = 0x800 + (uint32_t)(rng() % 0xf800);
		while (cp >= 0xd800 && cp <= 0xdfff);
		return cp;
	case 3:
		return 0x10000 + (uint32_t)(rng() % 0x100000);
	default:
		return 0x20 + (uint32_t)(rng() % 0x5f);
	}
}

/* Differential: random near-UTF-8 strings against ref_utf8(). */
static void
test_utf8_random(void)
{
	uint8_t in[96], want[128];
	size_t n, wlen, k;
	int64_t roff;
	struct res r;
	int i, bad = 0, errors = 0, cmpbad = 0;

	for (i = 0; i < 4000 && !bad; i++) {
		n = 0;
		if (rng() % 8 == 0)
			n = (size_t)put_utf8(in, 0xfeff);
		while (n < 60) {
			k = rng() % 20;
			if (k == 0)
				in[n++] = (uint8_t)rng();	/* any byte */
			else if (k == 1 && n > 0)
				n--;				/* cut */
			else if (k == 2) {			/* surrogate */
				n += put_utf8(in + n, 0xd800 +
				    (uint32_t)(rng() % 0x800));
			} else if (k == 3) {			/* overlong */
				in[n++] = 0xc0 | (uint8_t)(rng() % 2);
				in[n++] = 0x80 | (uint8_t)(rng() % 64);
			} else
				n += put_utf8(in + n, random_cp());
			if (rng() % 12 == 0)
				break;
		}
		roff = ref_utf8(in, n, want, &wlen);
		if (!agree_all("random utf-8", DEC_UTF8, in, n, &r))
			bad = 1;
		if (roff < 0 ? (r.rc != 0 || r.len != wlen ||
		    memcmp(r.out, want, wlen) != 0) :
		    (r.rc != TD_ERR_FORMAT || r.off != (uint64_t)roff)) {
			if (cmpbad++ < 3)
				diag("random utf-8 #%d (%zu bytes): ref %" PRId64
				    ", got rc %d off %" PRIu64, i, n, roff,
				    r.rc, r.off);
		}
		errors += roff >= 0;
		res_free(&r);
	}
	ok(!bad && cmpbad == 0, "utf-8: %d random strings (%d invalid) agree "
	    "with a by-the-definition decoder in every chunking", i, errors);
}

/* ---- encoding = auto: mixed documents ---------------------------- */

/*
 * By the definition (Unicode Table 3-7), spelled out: the bytes at
 * s[0..n) that are a valid start of a multi-byte sequence (1 for a byte
 * that starts none), and in *len the sequence's length (0: none).
 */
static size_t
ref_prefix(const uint8_t *s, size_t n, size_t *len)
{
	uint8_t b = s[0], lo = 0x80, hi = 0xbf;
	size_t k;

	if (b >= 0xc2 && b <= 0xdf)
		*len = 2;
	else if (b >= 0xe0 && b <= 0xef) {
		*len = 3;
		lo = b == 0xe0 ? 0xa0 : 0x80;
		hi = b == 0xed ? 0x9f : 0xbf;
	} else if (b >= 0xf0 && b <= 0xf4) {
		*len = 4;
		lo = b == 0xf0 ? 0x90 : 0x80;
		hi = b == 0xf4 ? 0x8f : 0xbf;
	} else {
		*len = 0;
		return 1;
	}
	for (k = 1; k < *len && k < n; k++)
		if (k == 1 ? s[1] < lo || s[1] > hi : (s[k] & 0xc0) != 0x80)
			break;
	return k;
}

/*
 * A mixed document by the definition: its text (every U+FEFF dropped,
 * invalid sequences copied) in out, "offset:length " of each invalid
 * sequence (its maximal subpart) in bads, the offset of the first valid
 * multi-byte sequence and of the first invalid one (UINT64_MAX: none).
 */
static void
ref_mixed(const uint8_t *s, size_t n, struct td_buf *out, struct td_buf *bads,
    uint64_t *first_multi, uint64_t *first_bad)
{
	size_t i = 0, k, len;

	*first_multi = *first_bad = UINT64_MAX;
	while (i < n) {
		if (s[i] < 0x80) {
			td_buf_putc(out, (char)s[i++]);
			continue;
		}
		k = ref_prefix(s + i, n - i, &len);
		if (len != 0 && k == len) {
			/* evidence of UTF-8: two bytes led by C2 or C3,
			 * or three or four, or two followed at once by
			 * two more (a pair led by C2 to DF) */
			if (*first_multi == UINT64_MAX && (len >= 3 ||
			    s[i] <= 0xc3 || (n - i >= 4 && s[i + 2] >= 0xc2 &&
			    s[i + 2] <= 0xdf && s[i + 3] >= 0x80 &&
			    s[i + 3] <= 0xbf)))
				*first_multi = i;
			if (len != 3 || memcmp(s + i, "\xef\xbb\xbf", 3) != 0)
				td_buf_append(out, s + i, len);
			i += len;
			continue;
		}
		if (*first_bad == UINT64_MAX)
			*first_bad = i;
		td_buf_printf(bads, "%zu:%zu ", i, k);
		td_buf_append(out, s + i, k);
		i += k;
	}
}

/*
 * Decode in[] as enc with decoder_feed_part() in pieces of chunk bytes
 * (CHUNK_RANDOM: random), out and bads as ref_mixed() gives them; each
 * DEC_BAD's bytes must end out. Returns the last rc (DEC_BAD taken as
 * 0); *code, *off its error's.
 */
static int
run_part(int enc, const uint8_t *in, size_t n, int chunk, struct td_buf *out,
    struct td_buf *bads, const char **code, uint64_t *off)
{
	struct decoder *d = decoder_new(enc);
	size_t i = 0, k, used, blen;
	uint64_t boff;
	int rc = 0;

	*code = NULL;
	*off = 0;
	while (i < n && rc == 0) {
		k = chunk > 0 ? (size_t)chunk : 1 + rng() % 64;
		if (k > n - i)
			k = n - i;
		rc = decoder_feed_part(d, in + i, k, out, &used);
		i += rc == DEC_BAD ? used : k;
		if (rc == DEC_BAD) {
			blen = decoder_bad(d, &boff);
			if (blen == 0 || blen > 3 || out->len < blen ||
			    boff + blen > n || memcmp(out->p + out->len - blen,
			    in + boff, blen) != 0)
				td_buf_puts(bads, "(bytes not at the end) ");
			td_buf_printf(bads, "%llu:%zu ",
			    (unsigned long long)boff, blen);
			rc = 0;
		}
	}
	if (rc == 0 && (rc = decoder_finish(d, out)) == DEC_BAD) {
		blen = decoder_bad(d, &boff);
		td_buf_printf(bads, "%llu:%zu ", (unsigned long long)boff,
		    blen);
		rc = 0;
	}
	if (rc == TD_ERR_FORMAT) {
		*code = decoder_errcode(d);
		*off = decoder_erroffset(d);
	}
	decoder_free(d);
	return rc;
}

static int
buf_same(const struct td_buf *a, const struct td_buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p,
	    a->len) == 0);
}

/*
 * s[0..n) read by encoding = auto's three readings in chunkings whole,
 * 1..4 and random, against the reference: 0 when all agree.
 */
static int
mixed_agree(const char *name, const uint8_t *s, size_t n)
{
	static const int chunks[] = { 0, 1, 2, 3, 4, -1, -1 };
	struct td_buf wout, wbads, out, bads;
	const char *code;
	uint64_t fm, fb, off;
	struct res cp;
	size_t c;
	int rc, bad = 0;

	if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		return 1;	/* a BOM decides: encoding = auto reads none */
	td_buf_init(&wout, 0, 0);
	td_buf_init(&wbads, 0, 0);
	td_buf_init(&out, 0, 0);
	td_buf_init(&bads, 0, 0);
	ref_mixed(s, n, &wout, &wbads, &fm, &fb);
	run(DEC_CP1252, s, n, CHUNK_WHOLE, 0, &cp);
	for (c = 0; c < TD_NELEM(chunks) && !bad; c++) {
		/* mixed from the start */
		td_buf_reset(&out);
		td_buf_reset(&bads);
		rc = run_part(DEC_UTF8_MIXED, s, n, chunks[c] == 0 ?
		    (int)n + 1 : chunks[c], &out, &bads, &code, &off);
		if (rc != 0 || !buf_same(&out, &wout) ||
		    !buf_same(&bads, &wbads)) {
			diag("%s: mixed, chunk %d: rc %d, invalid %.*s, "
			    "want %.*s", name, chunks[c], rc, (int)bads.len,
			    bads.p, (int)wbads.len, wbads.p);
			bad = 1;
		}
		/* the first reading: mixed only after a multi-byte sequence */
		td_buf_reset(&out);
		td_buf_reset(&bads);
		rc = run_part(DEC_UTF8_TRY, s, n, chunks[c] == 0 ? (int)n + 1 :
		    chunks[c], &out, &bads, &code, &off);
		if (fb != UINT64_MAX && (fm == UINT64_MAX || fb < fm) ?
		    rc != TD_ERR_FORMAT ||
		    strcmp(code, "decode_not_utf8") != 0 || off != fb :
		    rc != 0 || !buf_same(&out, &wout) ||
		    !buf_same(&bads, &wbads)) {
			diag("%s: try, chunk %d: rc %d off %llu", name,
			    chunks[c], rc, (unsigned long long)off);
			bad = 1;
		}
		/* the second: windows-1252 unless a multi-byte sequence */
		td_buf_reset(&out);
		td_buf_reset(&bads);
		rc = run_part(DEC_CP1252_TRY, s, n, chunks[c] == 0 ?
		    (int)n + 1 : chunks[c], &out, &bads, &code, &off);
		if (fm != UINT64_MAX ? rc != TD_ERR_FORMAT ||
		    strcmp(code, "decode_mixed_retry") != 0 || off != fm :
		    rc != 0 || out.len != cp.len || (out.len > 0 &&
		    memcmp(out.p, cp.out, cp.len) != 0)) {
			diag("%s: windows-1252 (try), chunk %d: rc %d off "
			    "%llu, first multi-byte %llu", name, chunks[c], rc,
			    (unsigned long long)off, (unsigned long long)fm);
			bad = 1;
		}
	}
	res_free(&cp);
	td_buf_free(&wout);
	td_buf_free(&wbads);
	td_buf_free(&out);
	td_buf_free(&bads);
	return !bad;
}

static void
test_mixed(void)
{
	static const char doc[] = "Store,Item\n1,Caf\xc3\xa9\n2,Caf\xe9\n"
	    "3,\xe2\x82\xac \xe2\x82x\n4,\xed\xa0\x80\n5,\xf0\x9f\x98";
	static const char late[] = "Store,Item\n1,Caf\xe9\n2,Caf\xc3\xa9\n";
	struct td_buf out, bads;
	struct decoder *d;
	const char *code;
	uint64_t fm, fb, nb, off;
	uint8_t in[200];
	size_t n, k, used;
	int i, rc, bad = 0;

	/* a stray E9 among UTF-8, a cut sequence, a surrogate, one at the
	 * end: each invalid sequence, its maximal subpart */
	td_buf_init(&out, 0, 0);
	td_buf_init(&bads, 0, 0);
	rc = run_part(DEC_UTF8_TRY, (const uint8_t *)doc, sizeof(doc) - 1, 1,
	    &out, &bads, &code, &off);
	is_int(rc, 0, "mixed: the first reading turns mixed at 0xE9");
	is_str(td_buf_cstr(&bads), "24:1 32:2 38:1 39:1 40:1 44:3 ",
	    "mixed: E9, E2 82, ED A0 80 as three, F0 9F 98 cut by the end");
	ok(out.len == sizeof(doc) - 1 && memcmp(out.p, doc, out.len) == 0,
	    "mixed: every byte copied as it is");
	d = decoder_new(DEC_UTF8_TRY);
	td_buf_reset(&out);
	rc = decoder_feed_part(d, doc, sizeof(doc) - 1, &out, &used);
	ok(rc == DEC_BAD && used == 25 && out.len == 25 &&
	    out.p[24] == '\xe9', "decoder_feed_part stops after 0xE9, which "
	    "ends out");
	ok(decoder_mixed(d, &fm, &fb, &nb) && fm == 16 && fb == 24 && nb == 1,
	    "decoder_mixed: first multi-byte at 16, first invalid at 24");
	is_str(decoder_name(d), "utf-8", "a mixed document is utf-8");
	decoder_free(d);

	/* the stray byte first: not UTF-8; as windows-1252, stopped at the
	 * multi-byte sequence, even split across calls */
	rc = run_part(DEC_UTF8_TRY, (const uint8_t *)late, sizeof(late) - 1, 3,
	    &out, &bads, &code, &off);
	ok(rc == TD_ERR_FORMAT && strcmp(code, "decode_not_utf8") == 0 &&
	    off == 16, "stray byte first: decode_not_utf8 at 16");
	for (k = 1; k <= 4; k++) {
		rc = run_part(DEC_CP1252_TRY, (const uint8_t *)late,
		    sizeof(late) - 1, (int)k, &out, &bads, &code, &off);
		ok(rc == TD_ERR_FORMAT && strcmp(code, "decode_mixed_retry") ==
		    0 && off == 23, "windows-1252 (try), chunks of %zu: "
		    "decode_mixed_retry at 23", k);
	}
	d = decoder_new(DEC_UTF8_MIXED);
	td_buf_reset(&out);
	ok(decoder_feed(d, late, sizeof(late) - 1, &out) == 0 &&
	    decoder_finish(d, &out) == 0 && decoder_mixed(d, &fm, &fb, &nb) &&
	    fm == 23 && fb == 16 && nb == 1, "read as mixed: first invalid "
	    "16, first multi-byte 23");
	decoder_free(d);
	ok(mixed_agree("doc", (const uint8_t *)doc, sizeof(doc) - 1) &&
	    mixed_agree("late", (const uint8_t *)late, sizeof(late) - 1),
	    "both documents: every chunking agrees with the reference");

	/* random text: ASCII, valid multi-byte sequences, any bytes */
	for (i = 0; i < 3000 && !bad; i++) {
		n = 0;
		while (n < 150) {
			k = rng() % 10;
			if (k == 0)
				in[n++] = (uint8_t)rng();
			else if (k == 1)
				in[n++] = 0x80 | (uint8_t)rng();
			else if (k == 2)
				n += put_utf8(in + n, random_cp());
			else if (k == 3 && n > 0)
				n--;
			else
				in[n++] = (uint8_t)('a' + rng() % 26);
			if (rng() % 40 == 0)
				break;
		}
		if (!mixed_agree("random", in, n))
			bad = 1;
	}
	ok(!bad, "mixed: %d random strings agree with the reference in "
	    "every reading and chunking", i);

	/* two-byte sequences led by C4..DF alone (Greek, Cyrillic, or
	 * Windows-1252's capital with an accent and a symbol), stray
	 * bytes, ASCII: a pair of them side by side is the evidence */
	for (i = 0; i < 4000 && !bad; i++) {
		n = 0;
		while (n < 60) {
			k = rng() % 6;
			if (k == 0)
				in[n++] = (uint8_t)(0x80 + rng() % 0x80);
			else if (k <= 2) {
				in[n++] = (uint8_t)(0xc4 + rng() % 0x1c);
				in[n++] = (uint8_t)(0x80 + rng() % 0x40);
			} else
				in[n++] = (uint8_t)('a' + rng() % 26);
			if (rng() % 20 == 0)
				break;
		}
		if (!mixed_agree("pairs", in, n))
			bad = 1;
	}
	ok(!bad, "mixed: %d strings of two-byte sequences led by C4 to DF "
	    "agree with the reference in every reading and chunking", i);
	{
		/* "Молоко" with a stray E9 first: mixed, evidence at the
		 * first pair; NESTLÉ® and JOSÉ’S alone are not */
		static const char cyr[] = "1,Caf\xe9\n2,\xd0\x9c\xd0\xbe"
		    "\xd0\xbb\xd0\xbe\xd0\xba\xd0\xbe\n";
		static const char one[] = "1,Caf\xe9\n2,\xd0\x9c\n";
		static const char cp[] = "1,NESTL\xc9\xae JOS\xc9\x92S \xe9\n";

		ref_mixed((const uint8_t *)cyr, sizeof(cyr) - 1, &out, &bads,
		    &fm, &fb);
		ok(fm == 9 && fb == 5, "Cyrillic after a stray byte: evidence "
		    "at its first letter (9), the stray byte at 5");
		for (k = 1; k <= 5; k++) {
			rc = run_part(DEC_CP1252_TRY, (const uint8_t *)cyr,
			    sizeof(cyr) - 1, (int)k, &out, &bads, &code, &off);
			ok(rc == TD_ERR_FORMAT && strcmp(code,
			    "decode_mixed_retry") == 0 && off == 9,
			    "Cyrillic read as windows-1252 in chunks of %zu: "
			    "read again as mixed, at 9", k);
		}
		ref_mixed((const uint8_t *)one, sizeof(one) - 1, &out, &bads,
		    &fm, &fb);
		ok(fm == UINT64_MAX, "one Cyrillic letter alone is no evidence");
		ref_mixed((const uint8_t *)cp, sizeof(cp) - 1, &out, &bads,
		    &fm, &fb);
		ok(fm == UINT64_MAX && mixed_agree("cp", (const uint8_t *)cp,
		    sizeof(cp) - 1), "C9 AE and C9 92 (NESTLE, JOSE with an "
		    "accent and a symbol): no evidence, Windows-1252");
		ok(mixed_agree("cyr", (const uint8_t *)cyr, sizeof(cyr) - 1),
		    "the Cyrillic document: every reading and chunking agrees");
	}
	td_buf_free(&out);
	td_buf_free(&bads);
}

/* ---- UTF-16 -------------------------------------------------------- */

static void
test_utf16_cases(void)
{
	static const struct {
		const char	*name;
		const char	*in;		/* little-endian */
		size_t		 n;
		const char	*want;		/* NULL: error at off */
		uint64_t	 off;
	} t[] = {
		{ "ASCII", S("a\0b\0"), "ab", 0 },
		{ "BOM skipped", S("\xff\xfe" "a\0"), "a", 0 },
		{ "BOM alone", S("\xff\xfe"), "", 0 },
		{ "BOM later dropped", S("a\0\xff\xfe" "b\0"), "ab", 0 },
		{ "U+00E9 U+20AC U+FFFF", S("\xe9\0\xac\x20\xff\xff"),
		    "\xc3\xa9\xe2\x82\xac\xef\xbf\xbf", 0 },
		{ "pair U+1F600", S("\x3d\xd8\x00\xde"), "\xf0\x9f\x98\x80", 0 },
		{ "pair U+10FFFF", S("\xff\xdb\xff\xdf"), "\xf4\x8f\xbf\xbf", 0 },
		{ "lone low", S("a\0\x00\xdc" "b\0"), NULL, 2 },
		{ "high at end", S("a\0\x3d\xd8"), NULL, 2 },
		{ "high then BMP", S("\x3d\xd8" "A\0"), NULL, 0 },
		{ "high then high", S("x\0\x3d\xd8\x3d\xd8\x00\xde"), NULL, 2 },
		{ "odd byte at end", S("a\0b"), NULL, 2 },
		{ "offset counts the BOM", S("\xff\xfe\x00\xdc"), NULL, 2 },
		{ "BOM cut short", S("\xff"), NULL, 0 },
		{ "after 8 ASCII units",
		    S("a\0b\0c\0d\0e\0f\0g\0h\0\x00\xdc"), NULL, 16 },
	};
	uint8_t be[64];
	struct res r;
	char *name;
	size_t i, k, wn;
	int e;

	for (i = 0; i < TD_NELEM(t); i++)
		for (e = 0; e < 2; e++) {
			/* big-endian twin: swap each byte pair, BOM included */
			for (k = 0; k < t[i].n; k++)
				be[k] = (uint8_t)t[i].in[k ^ 1];
			if (t[i].n % 2)
				be[t[i].n - 1] = (uint8_t)t[i].in[t[i].n - 1];
			if (e == 1 && t[i].n == 1)
				be[0] = 0xfe;
			name = xasprintf("%s: %s", e ? "utf-16be" : "utf-16le",
			    t[i].name);
			run_all(name, e ? DEC_UTF16BE : DEC_UTF16LE,
			    e ? (const void *)be : t[i].in, t[i].n, &r);
			if (t[i].want != NULL) {
				wn = strlen(t[i].want);
				ok(r.rc == 0 && r.len == wn &&
				    memcmp(r.out, t[i].want, wn) == 0,
				    "%s: output", name);
			} else {
				ok(r.rc == TD_ERR_FORMAT && r.code != NULL &&
				    strcmp(r.code, "decode_invalid_utf16") == 0 &&
				    r.off == t[i].off,
				    "%s: decode_invalid_utf16 at offset %" PRIu64,
				    name, t[i].off);
				if (r.rc != TD_ERR_FORMAT || r.off != t[i].off)
					diag("got rc %d offset %" PRIu64, r.rc,
					    r.off);
			}
			res_free(&r);
			free(name);
		}
}

/* Random code points (some lone surrogates) against a reference. */
static void
test_utf16_random(void)
{
	uint8_t in[2][200], want[300];
	size_t n[2], wlen, k;
	int64_t eoff;
	uint32_t cp;
	struct res r;
	int i, e, bad = 0, cmpbad = 0, errors = 0, lone_high;

	for (i = 0; i < 3000 && !bad; i++) {
		n[0] = n[1] = wlen = 0;
		eoff = -1;
		if (rng() % 6 == 0) {
			for (e = 0; e < 2; e++)
				n[e] = put_utf16(in[e], 0xfeff, e);
		}
		lone_high = 0;
		for (k = rng() % 40; k > 0; k--) {
			/* a lone high, then a lone low, would make a pair */
			if (!lone_high && rng() % 25 == 0) {
				/* a lone surrogate of either half */
				cp = 0xd800 + (uint32_t)(rng() % 0x800);
				if (eoff < 0)
					eoff = (int64_t)n[0];
			} else
				cp = random_cp();
			lone_high = cp >= 0xd800 && cp <= 0xdbff;
			if (cp == 0xfeff && n[0] == 0)
				cp = 0xfefe;	/* would be a BOM */
			for (e = 0; e < 2; e++)
				n[e] += put_utf16(in[e] + n[e], cp, e);
			if (eoff < 0 && cp != 0xfeff)	/* dropped */
				wlen += put_utf8(want + wlen, cp);
		}
		if (rng() % 10 == 0) {		/* odd final byte */
			for (e = 0; e < 2; e++)
				in[e][n[e]++] = 'x';
			if (eoff < 0)
				eoff = (int64_t)n[0] - 1;
		}
		for (e = 0; e < 2; e++) {
			if (!agree_all(e ? "random utf-16be" : "random utf-16le",
			    e ? DEC_UTF16BE : DEC_UTF16LE, in[e], n[e], &r))
				bad = 1;
			if (eoff < 0 ? (r.rc != 0 || r.len != wlen ||
			    memcmp(r.out, want, wlen) != 0) :
			    (r.rc != TD_ERR_FORMAT || r.off != (uint64_t)eoff)) {
				if (cmpbad++ < 3)
					diag("random utf-16 #%d: want %" PRId64
					    ", got rc %d off %" PRIu64, i, eoff,
					    r.rc, r.off);
			}
			res_free(&r);
		}
		errors += eoff >= 0;
	}
	ok(!bad && cmpbad == 0, "utf-16le/be: %d random strings (%d invalid) "
	    "agree with a reference encoder in every chunking", i, errors);
}

/* ---- bound, names ------------------------------------------------- */

static void
test_limit(void)
{
	static const struct {
		int		 enc;
		const char	*in;
		size_t		 n;
	} t[] = {
		{ DEC_UTF8, S("\xef\xbb\xbf" "abc\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
		    "0123456789abcdefghijklmnopqrstuvwxyz") },
		{ DEC_UTF8_TRY, S("hello, \xc3\xa9t\xc3\xa9") },
		{ DEC_CP1252, S("\x80\x81\x93quoted\x94 \x85 caf\xe9 0123456789"
		    "abcdefghijklmnop") },
		{ DEC_LATIN1, S("caf\xe9 na\xefve \xff\x80 0123456789abcdefghij") },
		{ DEC_UTF16LE, S("\xff\xfe" "a\0\xe9\0\xac\x20\x3d\xd8\x00\xde"
		    "b\0c\0d\0e\0f\0g\0h\0i\0") },
		{ DEC_UTF16BE, S("\0a\0\xe9\x20\xac\xd8\x3d\xde\x00\0b\0c") },
	};
	struct res full, r;
	size_t i, m;
	int bad, k;

	for (i = 0; i < TD_NELEM(t); i++) {
		run(t[i].enc, t[i].in, t[i].n, CHUNK_WHOLE, 0, &full);
		bad = full.rc != 0;
		/* every bound from 1 to the exact size, every chunking */
		for (m = 1; m <= full.len && !bad; m++)
			for (k = -2; k <= 7 && !bad; k++) {
				if (k == 0)
					continue;
				run(t[i].enc, t[i].in, t[i].n,
				    k < 0 ? CHUNK_RANDOM : k, m, &r);
				if (m == full.len ? (r.rc != 0 ||
				    r.len != full.len ||
				    memcmp(r.out, full.out, r.len) != 0) :
				    (r.rc != TD_ERR_LIMIT || r.len > m ||
				    memcmp(r.out, full.out, r.len) != 0)) {
					diag("%s: max %zu chunk %d: rc %d, %zu "
					    "bytes", enc_name(t[i].enc), m, k,
					    r.rc, r.len);
					bad = 1;
				}
				res_free(&r);
			}
		ok(!bad, "%s: TD_ERR_LIMIT below %zu output bytes, a prefix "
		    "within the bound; fits at exactly %zu",
		    enc_name(t[i].enc), full.len, full.len);
		res_free(&full);
	}
}

/*
 * U+FEFF after the start is dropped whatever the encoding produced it;
 * windows-1252's EF BB BF is three letters. UTF-16 without a BOM is told
 * by its NULs.
 */
static void
test_feff_utf16(void)
{
	static const uint8_t le[] = "S\0t\0o\0r\0e\0,\0U\0P\0C\0\n\0";
	static const uint8_t be[] = "\0S\0t\0o\0r\0e\0,\0U\0P\0C\0\n";
	static const uint8_t fr[] = "d\0\xe9\0j\0\xe0\0,\0\xe9\0t\0\xe9\0";
	static const char cyr[] = "\x1f\x04\x40\x04\x38\x04\x32\x04";
	struct res r;

	run(DEC_CP1252, "a\xef\xbb\xbf", 4, CHUNK_WHOLE, 0, &r);
	is_str((char *)r.out, "a\xc3\xaf\xc2\xbb\xc2\xbf", "windows-1252: "
	    "EF BB BF is three letters, kept");
	res_free(&r);
	run(DEC_UTF16BE, "\0a\xfe\xff\0b", 6, CHUNK_WHOLE, 0, &r);
	is_str((char *)r.out, "ab", "utf-16be: U+FEFF after the start "
	    "dropped");
	res_free(&r);
	is_int(decoder_looks_utf16(le, sizeof(le) - 1), DEC_UTF16LE,
	    "ASCII as UTF-16LE without a BOM: told");
	is_int(decoder_looks_utf16(be, sizeof(be) - 1), DEC_UTF16BE,
	    "ASCII as UTF-16BE without a BOM: told");
	is_int(decoder_looks_utf16(fr, sizeof(fr) - 1), DEC_UTF16LE,
	    "Latin-1 letters as UTF-16LE: told");
	is_int(decoder_looks_utf16(cyr, sizeof(cyr) - 1), 0,
	    "Cyrillic as UTF-16LE has no NUL: not told (it fails as UTF-8)");
	is_int(decoder_looks_utf16("Store,UPC,Date\n", 15), 0,
	    "UTF-8 text: not UTF-16");
	is_int(decoder_looks_utf16("\0\0\0\0\0\0\0\0\0\0", 10), 0,
	    "NULs on both sides: not UTF-16");
	is_int(decoder_looks_utf16(le, 6), 0, "too short to tell");
}

static void
test_api(void)
{
	struct td_buf out;
	struct decoder *d;

	is_int(decoder_from_name("utf-8"), DEC_UTF8, "name utf-8");
	is_int(decoder_from_name("windows-1252"), DEC_CP1252,
	    "name windows-1252");
	is_int(decoder_from_name("iso-8859-1"), DEC_LATIN1, "name iso-8859-1");
	is_int(decoder_from_name("utf-16"), DEC_UTF16LE,
	    "name utf-16: little-endian unless a BOM says otherwise");
	is_int(decoder_from_name("utf-16be"), DEC_UTF16BE, "name utf-16be");
	ok(decoder_from_name("ebcdic") < 0, "unknown name rejected");
	ok(decoder_from_name("auto") < 0, "auto is the caller's, not a DEC_*");
	ok(decoder_new(0) == NULL && decoder_new(99) == NULL,
	    "decoder_new rejects unknown encodings");

	is_int(decoder_sniff("\xef\xbb\xbf" "a", 4), DEC_UTF8, "sniff UTF-8 BOM");
	is_int(decoder_sniff("\xff\xfe" "a\0", 4), DEC_UTF16LE, "sniff FF FE");
	is_int(decoder_sniff("\xfe\xff\0a", 4), DEC_UTF16BE, "sniff FE FF");
	is_int(decoder_sniff("\xef\xbb", 2), 0, "sniff: 2 bytes of a UTF-8 BOM");
	is_int(decoder_sniff("abcd", 4), 0, "sniff: no BOM");
	is_int(decoder_sniff("", 0), 0, "sniff: empty");

	d = decoder_new(DEC_CP1252);
	is_str(decoder_name(d), "windows-1252", "decoder_name");
	ok(decoder_errcode(d) == NULL, "no error code before an error");
	td_buf_init(&out, 0, 0);
	is_int(decoder_finish(d, &out), 0, "empty input finishes");
	is_int(decoder_feed(d, "a", 1, &out), TD_ERR_INVAL,
	    "feed after finish is TD_ERR_INVAL");
	decoder_free(d);
	decoder_free(NULL);

	d = decoder_new(DEC_UTF8);
	is_int(decoder_feed(d, "a\xff", 2, &out), TD_ERR_FORMAT, "bad byte");
	is_int(decoder_feed(d, "b", 1, &out), TD_ERR_FORMAT, "errors stick");
	is_int(decoder_finish(d, &out), TD_ERR_FORMAT, "... through finish");
	is_str(decoder_errcode(d), "decode_invalid_utf8", "code kept");
	is_int(decoder_erroffset(d), 1, "offset kept");
	decoder_free(d);
	td_buf_free(&out);
}

/* ---- throughput --------------------------------------------------- */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CSV-like text: mostly ASCII, ~1 in 32 characters from hi[]. */
static size_t
gen_text(uint8_t *p, size_t n, int enc)
{
	static const uint32_t hi[] = { 0xe9, 0xfc, 0x20ac, 0x2019, 0xc5,
	    0x153, 0x1f600 };
	static const char field[] = "0123456789,;\"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz  ";
	uint8_t ch[8];
	size_t i = 0, k, m;
	uint64_t x;
	uint32_t cp;

	while (i + 8 <= n) {
		x = rng();
		if (x % 32 == 0) {
			cp = hi[(x >> 8) % TD_NELEM(hi)];
			if (enc == DEC_CP1252)
				cp = (uint8_t[]){ 0xe9, 0xfc, 0x80, 0x92, 0xc5,
				    0x9c, 0x85 }[(x >> 8) % TD_NELEM(hi)];
			else if (enc == DEC_LATIN1)
				cp = 0xa0 + (cp & 0x5f);
		} else if (x % 32 == 1)
			cp = '\n';
		else
			cp = (uint8_t)field[(x >> 8) % (sizeof(field) - 1)];
		if (enc == DEC_UTF16LE || enc == DEC_UTF16BE)
			m = put_utf16(ch, cp, enc == DEC_UTF16BE);
		else if (enc == DEC_UTF8)
			m = put_utf8(ch, cp);
		else {
			ch[0] = (uint8_t)cp;
			m = 1;
		}
		for (k = 0; k < m; k++)
			p[i++] = ch[k];
	}
	return i;
}

static void
test_bench(void)
{
	static const int encs[] = { DEC_UTF8, DEC_CP1252, DEC_LATIN1,
	    DEC_UTF16LE, DEC_UTF16BE };
	const char *env = getenv("TD_DECODE_BENCH_MB");
	size_t mb = env != NULL ? (size_t)strtoul(env, NULL, 10) : 200;
	size_t n, i, k, step = 1u << 20, outlen;
	struct td_buf out;
	struct decoder *d;
	uint8_t *buf;
	double t0, dt;
	int e, rc;

	if (mb == 0) {
		ok(1, "# SKIP throughput: TD_DECODE_BENCH_MB=0");
		return;
	}
	buf = xmalloc(mb << 20);
	td_buf_init(&out, 3 * step + 64, 0);
	for (e = 0; e < (int)TD_NELEM(encs); e++) {
		n = gen_text(buf, mb << 20, encs[e]);
		d = decoder_new(encs[e]);
		rc = 0;
		outlen = 0;
		t0 = now();
		/* 1 MiB feeds, output consumed after each, as a reader would */
		for (i = 0; i < n && rc == 0; i += k) {
			k = n - i < step ? n - i : step;
			rc = decoder_feed(d, buf + i, k, &out);
			outlen += out.len;
			td_buf_reset(&out);
		}
		if (rc == 0)
			rc = decoder_finish(d, &out);
		dt = now() - t0;
		ok(rc == 0, "throughput %s: %zu MB decoded", enc_name(encs[e]),
		    n >> 20);
		diag("decode %-12s %4zu MB in %.3f s: %6.0f MB/s (%zu MB out)",
		    enc_name(encs[e]), n >> 20, dt,
		    dt > 0 ? (double)n / 1e6 / dt : 0.0, outlen >> 20);
		decoder_free(d);
	}
	/* worst case for windows-1252: every byte above 0x7F */
	for (i = 0; i < (mb << 20); i++)
		buf[i] = 0x80 | (uint8_t)rng();
	d = decoder_new(DEC_CP1252);
	rc = 0;
	t0 = now();
	for (i = 0; i < (mb << 20) && rc == 0; i += step) {
		rc = decoder_feed(d, buf + i, step, &out);
		td_buf_reset(&out);
	}
	dt = now() - t0;
	ok(rc == 0, "throughput windows-1252, all bytes >= 0x80");
	diag("decode %-12s %4zu MB in %.3f s: %6.0f MB/s (bytes 80..FF only)",
	    "windows-1252", mb, dt, dt > 0 ? (double)(mb << 20) / 1e6 / dt : 0.0);
	decoder_free(d);
	td_buf_free(&out);
	free(buf);
}

int
main(void)
{
	const char *seed = getenv("TD_TEST_SEED");

	srcdir = getenv("srcdir");
	if (srcdir == NULL || *srcdir == '\0')
		srcdir = ".";
	if (seed != NULL)
		rng_state = strtoull(seed, NULL, 0) | 1;
	diag("srcdir %s, seed 0x%016" PRIx64, srcdir, rng_state);

	test_api();
	test_feff_utf16();
	test_tables();
	test_libiconv_tables();
	test_chardet();
	test_french();
	test_csvkit();
	test_utf8_cases();
	test_utf8_random();
	test_mixed();
	test_utf16_cases();
	test_utf16_random();
	test_limit();
	test_iconv();
	test_bench();
	return done_testing();
}
