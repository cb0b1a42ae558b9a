/*
 * test-log.c - common/log.c: what reaches the log of an untrusted value
 * (a file name, a field). Invalid UTF-8 and control characters never
 * reach it raw: each such byte is written as \xHH, inside quotes, so a
 * log line stays one line of valid UTF-8 that reads back to the bytes.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "td.h"
#include "buf.h"
#include "fsutil.h"
#include "json.h"
#include "log.h"

struct esc_vec {
	const char	*in;
	const char	*want;
	const char	*name;
};

static const struct esc_vec vecs[] = {
	{ "plain.csv", "plain.csv", "plain ASCII is written as is" },
	{ "", "\"\"", "empty is quoted" },
	{ "acme pos.csv", "\"acme pos.csv\"", "a space quotes" },
	{ "a\"b\\c=d", "\"a\\\"b\\\\c=d\"", "quote, backslash, = escaped" },
	{ "l1\nl2\rl3\tx", "\"l1\\nl2\\rl3\\tx\"", "newline, CR, tab" },
	{ "\x01\x1b[31m\x7f", "\"\\x01\\x1b[31m\\x7f\"",
	    "C0 controls and DEL as \\xHH" },
	{ "caf\xc3\xa9.csv", "\"caf\xc3\xa9.csv\"",
	    "well-formed UTF-8 passes inside quotes" },
	{ "\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"", "4-byte UTF-8 passes" },
	{ "\xff\xfe.csv", "\"\\xff\\xfe.csv\"",
	    "bytes that are never UTF-8 are escaped" },
	{ "caf\xe9.csv", "\"caf\\xe9.csv\"", "Latin-1 in a file name" },
	{ "cut\xc3", "\"cut\\xc3\"", "a sequence cut at the end" },
	{ "cut\xe2\x82-", "\"cut\\xe2\\x82-\"", "a sequence cut short" },
	{ "\x80x", "\"\\x80x\"", "a stray continuation byte" },
	{ "\xc0\xaf", "\"\\xc0\\xaf\"", "an overlong '/'" },
	{ "\xed\xa0\x80", "\"\\xed\\xa0\\x80\"", "a UTF-16 surrogate" },
	{ "\xf4\x90\x80\x80", "\"\\xf4\\x90\\x80\\x80\"", "above U+10FFFF" },
	{ "a\xc2\x85z", "\"a\\xc2\\x85z\"", "a C1 control (NEL)" },
	{ "a\xe2\x80\xa8z", "\"a\\xe2\\x80\\xa8z\"", "U+2028 line separator" },
	{ "a\xe2\x80\xaez", "\"a\\xe2\\x80\\xaez\"",
	    "U+202E right-to-left override" },
	{ "a\xe2\x81\xa6z", "\"a\\xe2\\x81\\xa6z\"", "U+2066 isolate" },
	{ "a\xe2\x80\x94z", "\"a\xe2\x80\x94z\"", "U+2014 em dash passes" },
};

/* Undo the escapes; -1 when s is not a well-formed escaped value. */
static int
unescape(const char *s, struct td_buf *out)
{
	size_t n = strlen(s), i;
	unsigned v;

	td_buf_reset(out);
	if (strcmp(s, "(null)") == 0)
		return -1;
	if (n == 0 || s[0] != '"') {
		td_buf_puts(out, s);
		return 0;
	}
	if (n < 2 || s[n - 1] != '"')
		return -1;
	for (i = 1; i < n - 1; i++) {
		if (s[i] != '\\') {
			td_buf_putc(out, s[i]);
			continue;
		}
		switch (s[++i]) {
		case '"': case '\\':
			td_buf_putc(out, s[i]);
			break;
		case 'n': td_buf_putc(out, '\n'); break;
		case 'r': td_buf_putc(out, '\r'); break;
		case 't': td_buf_putc(out, '\t'); break;
		case 'x':
			if (sscanf(s + i + 1, "%2x", &v) != 1)
				return -1;
			td_buf_putc(out, (int)v);
			i += 2;
			break;
		default:
			return -1;
		}
	}
	return 0;
}

/* One line: no byte below 0x20 nor DEL, and valid UTF-8 throughout. */
static int
is_clean(const char *s)
{
	struct td_buf b;
	const unsigned char *p;
	int ok_;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	td_buf_init(&b, 0, 0);
	ok_ = td_json_str(&b, s, strlen(s)) == 0;
	td_buf_free(&b);
	return ok_;
}

static void
test_vectors(void)
{
	char out[256];
	size_t i;

	for (i = 0; i < TD_NELEM(vecs); i++) {
		td_log_escape(out, sizeof(out), vecs[i].in);
		is_str(out, vecs[i].want, "%s", vecs[i].name);
	}
	td_log_escape(out, sizeof(out), NULL);
	is_str(out, "(null)", "a NULL value is written as (null)");
}

/* Random bytes: the logged form is clean and reads back exactly. */
static void
test_random(void)
{
	struct td_buf back;
	char in[64], out[64 * 4 + 3];
	size_t i, k, n, bad_clean = 0, bad_back = 0;

	srand(11);
	td_buf_init(&back, 0, 0);
	for (i = 0; i < 20000; i++) {
		n = 1 + (size_t)rand() % (sizeof(in) - 1);
		for (k = 0; k + 1 < n; k++) {
			/* mostly high bytes, some UTF-8 leads and ASCII */
			int r = rand() % 8;

			in[k] = (char)(r < 3 ? 0x80 + rand() % 0x80 :
			    r < 5 ? "\xc2\xe2\xed\xf0\xf4"[rand() % 5] :
			    1 + rand() % 0x7f);
		}
		in[n - 1] = '\0';
		td_log_escape(out, sizeof(out), in);
		if (!is_clean(out))
			bad_clean++;
		if (unescape(out, &back) != 0 || back.len != n - 1 ||
		    memcmp(back.p, in, n - 1) != 0)
			bad_back++;
	}
	td_buf_free(&back);
	is_int(bad_clean, 0, "20000 random values: every logged form is one "
	    "line of valid UTF-8");
	is_int(bad_back, 0, "and reads back to the original bytes");
}

/* What td_log itself writes to standard error. */
static void
test_line(void)
{
	char path[] = "/tmp/td-test-log.XXXXXX", *text;
	size_t len;
	int fd, saved;

	if ((fd = mkstemp(path)) < 0 || (saved = dup(STDERR_FILENO)) < 0)
		td_fatal("mkstemp");
	dup2(fd, STDERR_FILENO);
	td_log_init("tradedrop", TD_LOG_INFO, 0);
	td_log(TD_LOG_WARN, "file_refused", "file=%s reason=%s size=%zu",
	    "bad\xff\n.csv", NULL, (size_t)7);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	if (td_read_file(path, 4096, &text, &len) != 0)
		td_fatal("read %s", path);
	unlink(path);
	ok(strstr(text, " level=warn event=file_refused "
	    "file=\"bad\\xff\\n.csv\" reason=(null) size=7\n") != NULL,
	    "td_log escapes an invalid file name and a NULL value");
	ok(len > 0 && memchr(text, '\n', len) == text + len - 1 &&
	    (text[len - 1] = '\0', is_clean(text)), "one clean line");
	x_free(text);
}

int
main(void)
{
	test_vectors();
	test_random();
	test_line();
	return done_testing();
}
