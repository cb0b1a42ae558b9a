/* test-json.c - unit tests for common/json.c */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "td.h"
#include "buf.h"
#include "json.h"
#include "tap.h"

/* td_json_str() of n bytes into a fresh unbounded buffer, as a C string */
static const char *
J(const char *s, size_t n, int *ret)
{
	static struct td_buf b;
	static int init;

	if (!init) {
		td_buf_init(&b, 0, 0);
		init = 1;
	}
	td_buf_reset(&b);
	*ret = td_json_str(&b, s, n);
	return td_buf_cstr(&b);
}

struct str_vec {
	const char *s;
	size_t n;		/* 0: strlen */
	const char *want;
};

static const struct str_vec str_vecs[] = {
	{ "", 0, "\"\"" },
	{ "hello", 0, "\"hello\"" },
	{ "say \"hi\"", 0, "\"say \\\"hi\\\"\"" },
	{ "C:\\dir\\", 0, "\"C:\\\\dir\\\\\"" },
	{ "a\tb\nc\rd\be\ff", 0, "\"a\\tb\\nc\\rd\\be\\ff\"" },
	{ "\x01\x1f", 0, "\"\\u0001\\u001f\"" },
	{ "nul\0byte", 8, "\"nul\\u0000byte\"" },
	{ "del\x7f", 0, "\"del\x7f\"" },
	{ "/slash/", 0, "\"/slash/\"" },
	{ "caf\xc3\xa9", 0, "\"caf\xc3\xa9\"" },
	{ "\xe2\x82\xac 5", 0, "\"\xe2\x82\xac 5\"" },
	{ "\xf0\x9f\x98\x80", 0, "\"\xf0\x9f\x98\x80\"" },
	{ "\xe2\x80\xa8", 0, "\"\xe2\x80\xa8\"" },	/* U+2028 as is */
	{ "0123456789abcdef\"0123456789abcdef", 0,
	    "\"0123456789abcdef\\\"0123456789abcdef\"" },
	{ "0123456\xc3\xa9" "89abcdef", 0, "\"0123456\xc3\xa9" "89abcdef\"" },
	{ "01234567\n", 0, "\"01234567\\n\"" },
	{ "0123456789abcde\\", 0, "\"0123456789abcde\\\\\"" },
};

static void
test_strings(void)
{
	const struct str_vec *v;
	const char *got;
	size_t i, n;
	int r;

	for (i = 0; i < TD_NELEM(str_vecs); i++) {
		v = &str_vecs[i];
		n = v->n ? v->n : strlen(v->s);
		got = J(v->s, n, &r);
		ok(r == 0 && strcmp(got, v->want) == 0, "json string %zu: %s",
		    i, got);
	}
	got = J(NULL, 0, &r);
	ok(r == 0 && strcmp(got, "\"\"") == 0, "NULL, 0 is the empty string");
}

static void
test_controls(void)
{
	static const char *shortesc[32] = {
		[8] = "\\b", [9] = "\\t", [10] = "\\n", [12] = "\\f",
		[13] = "\\r",
	};
	char in[3], want[16];
	const char *got;
	int c, r, bad = 0;

	for (c = 0; c < 32; c++) {
		in[0] = 'x';
		in[1] = (char)c;
		in[2] = 'y';
		if (shortesc[c] != NULL)
			snprintf(want, sizeof(want), "\"x%sy\"", shortesc[c]);
		else
			snprintf(want, sizeof(want), "\"x\\u%04xy\"", c);
		got = J(in, 3, &r);
		if (r != 0 || strcmp(got, want) != 0) {
			diag("control %d: got %s want %s", c, got, want);
			bad++;
		}
	}
	is_int(bad, 0, "every control character escaped");
	for (c = 32; c < 128; c++) {
		in[0] = (char)c;
		got = J(in, 1, &r);
		if (c == '"' || c == '\\')
			bad += r != 0 || got[1] != '\\' || got[2] != c;
		else
			bad += r != 0 || got[1] != c || got[2] != '"';
	}
	is_int(bad, 0, "printable ASCII copied, only \" and \\ escaped");
}

struct utf8_vec {
	const char *s;
	const char *what;
};

static const struct utf8_vec good_utf8[] = {
	{ "\xc2\x80", "U+0080" },
	{ "\xdf\xbf", "U+07FF" },
	{ "\xe0\xa0\x80", "U+0800" },
	{ "\xed\x9f\xbf", "U+D7FF" },
	{ "\xee\x80\x80", "U+E000" },
	{ "\xef\xbf\xbd", "U+FFFD" },
	{ "\xef\xbf\xbf", "U+FFFF" },
	{ "\xef\xbb\xbf", "U+FEFF (BOM kept as is)" },
	{ "\xf0\x90\x80\x80", "U+10000" },
	{ "\xf3\xbf\xbf\xbf", "U+FFFFF" },
	{ "\xf4\x8f\xbf\xbf", "U+10FFFF" },
};

static const struct utf8_vec bad_utf8[] = {
	{ "\x80", "lone continuation 80" },
	{ "\xbf", "lone continuation BF" },
	{ "\xc0\x80", "overlong NUL C0 80" },
	{ "\xc1\xbf", "overlong C1 BF" },
	{ "\xe0\x80\x80", "overlong 3-byte E0 80 80" },
	{ "\xe0\x9f\xbf", "overlong 3-byte E0 9F BF" },
	{ "\xf0\x80\x80\x80", "overlong 4-byte F0 80" },
	{ "\xf0\x8f\xbf\xbf", "overlong 4-byte F0 8F" },
	{ "\xed\xa0\x80", "surrogate U+D800" },
	{ "\xed\xbf\xbf", "surrogate U+DFFF" },
	{ "\xed\xa0\xbd\xed\xb8\x80", "CESU-8 surrogate pair" },
	{ "\xf4\x90\x80\x80", "U+110000" },
	{ "\xf5\x80\x80\x80", "F5 lead" },
	{ "\xf7\xbf\xbf\xbf", "F7 lead" },
	{ "\xf8\x88\x80\x80\x80", "5-byte form" },
	{ "\xfc\x84\x80\x80\x80\x80", "6-byte form" },
	{ "\xfe", "FE" },
	{ "\xff", "FF" },
	{ "\xc3", "truncated 2-byte at end" },
	{ "\xe2\x82", "truncated 3-byte at end" },
	{ "\xf0\x9f\x98", "truncated 4-byte at end" },
	{ "\xc3" "A", "2-byte lead then ASCII" },
	{ "\xe2\x82" "A", "3-byte lead, 1 continuation, ASCII" },
	{ "\xe2" "AB", "3-byte lead then ASCII" },
	{ "\xf0\x9f\x98" "A", "4-byte missing last" },
	{ "\xc3\xa9\xa9", "extra continuation" },
	{ "\xe9", "Latin-1 e-acute" },
	{ "caf\xe9 cr\xe8me", "Latin-1 text" },
	{ "\x93quoted\x94", "cp1252 smart quotes" },
};

static void
test_utf8(void)
{
	struct td_buf b;
	char in[64], want[80];
	const char *got;
	size_t i, len, pre;
	int r;

	for (i = 0; i < TD_NELEM(good_utf8); i++) {
		snprintf(want, sizeof(want), "\"%s\"", good_utf8[i].s);
		got = J(good_utf8[i].s, strlen(good_utf8[i].s), &r);
		ok(r == 0 && strcmp(got, want) == 0, "valid %s",
		    good_utf8[i].what);
	}
	td_buf_init(&b, 0, 0);
	for (i = 0; i < TD_NELEM(bad_utf8); i++) {
		td_buf_reset(&b);
		td_buf_puts(&b, "{\"k\":");
		pre = b.len;
		/* alone, and after 20 bytes of ASCII (word-at-a-time path) */
		r = td_json_str(&b, bad_utf8[i].s, strlen(bad_utf8[i].s));
		ok(r == TD_ERR_FORMAT && b.len == pre &&
		    memcmp(td_buf_cstr(&b), "{\"k\":", pre) == 0,
		    "invalid: %s", bad_utf8[i].what);
		len = (size_t)snprintf(in, sizeof(in), "01234567890123456789%s",
		    bad_utf8[i].s);
		r = td_json_str(&b, in, len);
		ok(r == TD_ERR_FORMAT && b.len == pre,
		    "invalid after ASCII: %s", bad_utf8[i].what);
	}
	td_buf_free(&b);
	/* a valid sequence cut by n is invalid */
	got = J("\xe2\x82\xac", 2, &r);
	ok(r == TD_ERR_FORMAT, "n cuts a sequence");
}

static void
test_limit(void)
{
	struct td_buf b;
	int r;

	td_buf_init(&b, 0, 7);
	is_int(td_json_str(&b, "hello", 5), 0, "exactly max");
	is_str(td_buf_cstr(&b), "\"hello\"", "fits");
	td_buf_reset(&b);
	is_int(td_json_str(&b, "hello!", 6), TD_ERR_LIMIT, "one over max");
	is_int(b.len, 0, "len restored");
	is_int(td_json_str(&b, "hell\n", 5), TD_ERR_LIMIT,
	    "escape expands past max");
	is_int(b.len, 0, "len restored after escape");
	is_int(td_json_str(&b, "hel\n", 4), 0, "escape fits exactly");
	is_str(td_buf_cstr(&b), "\"hel\\n\"", "escaped at max");
	td_buf_free(&b);

	td_buf_init(&b, 0, 20);
	td_buf_puts(&b, "[1,");
	is_int(td_json_str(&b, "\x01\x02\x03", 3), TD_ERR_LIMIT,
	    "\\u escapes past max");
	is_str(td_buf_cstr(&b), "[1,", "previous contents kept");
	is_int(td_json_str(&b, "\x01\x02", 2), 0, "two \\u escapes fit");
	is_int(b.len, 17, "3 + 14");
	td_buf_reset(&b);
	is_int(td_json_key(&b, "sixteen_chars_ke"), 0, "key at max - 1");
	is_int(b.len, 19, "key length");
	td_buf_reset(&b);
	is_int(td_json_key(&b, "seventeen_chars_k"), 0, "key at max");
	is_str(td_buf_cstr(&b), "\"seventeen_chars_k\":", "key text");
	is_int(td_json_key(&b, ""), TD_ERR_LIMIT, "key past max");
	is_int(b.len, 20, "unchanged");
	td_buf_free(&b);
	(void)r;
}

/* Reference: escape byte by byte, validate by decoding code points. */
static int
ref_json(const unsigned char *s, size_t n, struct td_buf *b)
{
	size_t i, k, len;
	uint32_t cp, min;
	char esc[8];

	td_buf_putc(b, '"');
	for (i = 0; i < n; i += len) {
		if (s[i] < 0x80) {
			len = 1;
			if (s[i] == '"' || s[i] == '\\') {
				td_buf_putc(b, '\\');
				td_buf_putc(b, s[i]);
			} else if (s[i] < 0x20) {
				switch (s[i]) {
				case '\b': td_buf_puts(b, "\\b"); break;
				case '\f': td_buf_puts(b, "\\f"); break;
				case '\n': td_buf_puts(b, "\\n"); break;
				case '\r': td_buf_puts(b, "\\r"); break;
				case '\t': td_buf_puts(b, "\\t"); break;
				default:
					snprintf(esc, sizeof(esc), "\\u%04x",
					    s[i]);
					td_buf_puts(b, esc);
				}
			} else
				td_buf_putc(b, s[i]);
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			len = 2; cp = s[i] & 0x1f; min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			len = 3; cp = s[i] & 0x0f; min = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			len = 4; cp = s[i] & 0x07; min = 0x10000;
		} else
			return -1;
		if (n - i < len)
			return -1;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return -1;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		td_buf_append(b, s + i, len);
	}
	td_buf_putc(b, '"');
	return 0;
}

static void
test_random(void)
{
	/* an alphabet weighted towards the interesting bytes */
	static const unsigned char alpha[] = {
		'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', ' ', '0', '"', '\\',
		'\n', 0x00, 0x1f, 0x7f, 0x80, 0xbf, 0xc2, 0xc3, 0xdf, 0xe0,
		0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0x9f, 0xa0, 0x8f,
		0x90,
	};
	struct td_buf got, want;
	unsigned char s[80];
	uint64_t x = 0x2545F4914F6CDD1DULL;
	size_t i, k, n;
	int r, rr, bad = 0, nvalid = 0;

	td_buf_init(&got, 0, 0);
	td_buf_init(&want, 0, 0);
	for (i = 0; i < 300000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = (size_t)(x % sizeof(s));
		for (k = 0; k < n; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* mostly plain ASCII so that long runs occur */
			s[k] = (x >> 8) % 4 != 0 ?
			    (unsigned char)('a' + k % 26) :
			    alpha[(x >> 16) % sizeof(alpha)];
		}
		td_buf_reset(&got);
		td_buf_reset(&want);
		r = td_json_str(&got, (const char *)s, n);
		rr = ref_json(s, n, &want);
		if (rr == 0)
			nvalid++;
		if ((rr == 0 && (r != 0 || got.len != want.len ||
		    memcmp(got.p, want.p, got.len) != 0)) ||
		    (rr != 0 && (r != TD_ERR_FORMAT || got.len != 0))) {
			if (bad++ < 3)
				diag("mismatch on case %zu (ref %d, got %d)",
				    i, rr, r);
		}
	}
	ok(bad == 0, "300000 random strings agree with a byte-wise "
	    "reference (%d valid)", nvalid);
	td_buf_free(&got);
	td_buf_free(&want);
}

struct sample {
	const char	*s;
	size_t		 n;
};

#define S(x)	{ x, sizeof(x) - 1 }

/*
 * Write each sample with w as a line "hex of the input TAB JSON" and have
 * python3 assert `check` over every line: a Python expression of h (the
 * input bytes) and j (the JSON text as bytes). Random byte strings are
 * added to the listed samples when nrandom > 0.
 */
static void
python_check(const struct sample *samples, size_t ns, size_t nrandom,
    int (*w)(struct td_buf *, const char *, size_t), const char *check,
    const char *name)
{
	char path[] = "/tmp/td-test-json-XXXXXX", *cmd, rnd[48];
	struct td_buf b;
	const char *s;
	FILE *fp;
	size_t i, k, n;
	int fd, r, bad = 0;

	if (access("/usr/bin/python3", X_OK) != 0) {
		ok(1, "%s # SKIP /usr/bin/python3 not found", name);
		return;
	}
	if ((fd = mkstemp(path)) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		ok(0, "temporary file");
		return;
	}
	td_buf_init(&b, 0, 0);
	srand(2028);
	for (i = 0; i < ns + nrandom; i++) {
		if (i < ns) {
			s = samples[i].s;
			n = samples[i].n;
		} else {
			/* high bytes, UTF-8 leads, controls, '"' and '\\' */
			n = (size_t)rand() % sizeof(rnd);
			for (k = 0; k < n; k++)
				rnd[k] = "\x80\xbf\xc2\xe2\xed\xf0\xf4\xff"
				    "\x01\x1f\"\\a\xa8\x80\x9f"[rand() % 16];
			s = rnd;
		}
		td_buf_reset(&b);
		for (k = 0; k < n; k++)
			td_buf_printf(&b, "%02x", (unsigned char)s[k]);
		td_buf_putc(&b, '\t');
		if (w(&b, s, n) != 0)
			bad++;
		td_buf_putc(&b, '\n');
		fwrite(b.p, 1, b.len, fp);
	}
	td_buf_free(&b);
	fclose(fp);
	cmd = xasprintf("/usr/bin/python3 -c '"
	    "import codecs, json, sys\n"
	    "codecs.register_error(\"perbyte\", lambda e: "
	    "(\"\\ufffd\" * (e.end - e.start), e.end))\n"
	    "for l in open(sys.argv[1], \"rb\"):\n"
	    "    h, j = l.rstrip(b\"\\n\").split(b\"\\t\", 1)\n"
	    "    h = bytes.fromhex(h.decode())\n"
	    "    assert %s, l\n"
	    "' %s", check, path);
	r = system(cmd);
	x_free(cmd);
	unlink(path);
	ok(bad == 0 && r == 0, "%s", name);
}

static void
test_python(void)
{
	static const struct sample samples[] = {
		S("plain"), S("q\"b\\s/"), S("\x01\x02\x1f\x7f"),
		S("tab\there\r\n"),
		S("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"),
		S("\xe2\x80\xa8\xe2\x80\xa9"), S("nul\0in"), S(""),
	};

	python_check(samples, TD_NELEM(samples), 0, td_json_str,
	    "json.loads(j.decode(\"utf-8\")).encode() == h",
	    "python3 json.loads decodes every sample exactly");
}

/*
 * td_json_str_lossy, which every dead-letter line and quarantine message
 * goes through: any bytes give valid JSON (strict UTF-8, no raw control
 * character), and each byte that is not part of well-formed UTF-8
 * becomes one U+FFFD.
 */
static const struct {
	const char	*s;
	size_t		 n;
	const char	*want;
	const char	*name;
} lossy_vecs[] = {
	{ "plain", 5, "\"plain\"", "valid text as td_json_str" },
	{ "a\xff" "b", 3, "\"a\xef\xbf\xbd" "b\"", "an invalid byte" },
	{ "\"\\\x01\xff", 4, "\"\\\"\\\\\\u0001\xef\xbf\xbd\"",
	    "quote, backslash and a control beside an invalid byte" },
	{ "cut\xc3", 4, "\"cut\xef\xbf\xbd\"", "a sequence cut at the end" },
	{ "x\xe2\x82y", 4, "\"x\xef\xbf\xbd\xef\xbf\xbdy\"",
	    "a sequence cut short: one U+FFFD a byte" },
	{ "\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"", "an overlong" },
	{ "\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"",
	    "a surrogate" },
	{ "\xe2\x80\xa8\xff", 4, "\"\xe2\x80\xa8\xef\xbf\xbd\"",
	    "U+2028 kept, the bad byte after it replaced" },
	{ "\xf0\x9f\x98\x80\x80", 5, "\"\xf0\x9f\x98\x80\xef\xbf\xbd\"",
	    "an extra continuation byte after a 4-byte character" },
	{ "nul\0\xfe", 5, "\"nul\\u0000\xef\xbf\xbd\"", "NUL and 0xFE" },
	{ "0123456789abcde\xff", 16, "\"0123456789abcde\xef\xbf\xbd\"",
	    "an invalid byte at the end of the second 8-byte word" },
};

static void
test_lossy(void)
{
	static const struct sample samples[] = {
		S("\xff"), S("\xc3"), S("\xe2\x82"), S("\xe2\x82" "A"),
		S("\xc0\xaf"), S("\xe0\x80\x80"), S("\xed\xa0\x80"),
		S("\xed\xbf\xbf"), S("\xf4\x90\x80\x80"), S("\xf5\x80"),
		S("\x80\xbf"), S("\x01\x1f\x7f"), S("q\"b\\s"),
		S("\xe2\x80\xa8 \xe2\x80\xa9"), S("\xf0\x9f\x98"),
		S("caf\xe9 \xc3\xa9 \xe2\x82\xac\xff\xf0\x9f\x98\x80"),
		S("nul\0\xff"), S(""),
	};
	struct td_buf b;
	size_t i, save;
	int r;

	td_buf_init(&b, 0, 0);
	for (i = 0; i < TD_NELEM(lossy_vecs); i++) {
		td_buf_reset(&b);
		r = td_json_str_lossy(&b, lossy_vecs[i].s, lossy_vecs[i].n);
		ok(r == 0 && strcmp(td_buf_cstr(&b), lossy_vecs[i].want) == 0,
		    "lossy: %s", lossy_vecs[i].name);
	}
	td_buf_free(&b);

	/* a bound is kept, and the buffer is unchanged when hit */
	td_buf_init(&b, 0, 8);
	td_buf_puts(&b, "ab");
	save = b.len;
	is_int(td_json_str_lossy(&b, "\xff\xff", 2), TD_ERR_LIMIT,
	    "lossy: past the buffer's max is TD_ERR_LIMIT");
	ok(b.len == save && memcmp(b.p, "ab", 2) == 0,
	    "lossy: and the buffer is unchanged");
	td_buf_free(&b);

	python_check(samples, TD_NELEM(samples), 5000, td_json_str_lossy,
	    "json.loads(j.decode(\"utf-8\")) == h.decode(\"utf-8\", "
	    "\"perbyte\")", "lossy: 18 samples and 5000 random strings are "
	    "valid JSON that python3 reads back as the input with one "
	    "U+FFFD a bad byte");
}

#undef S

int
main(void)
{
	test_strings();
	test_controls();
	test_utf8();
	test_limit();
	test_random();
	test_python();
	test_lossy();
	return done_testing();
}
