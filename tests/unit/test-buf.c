/* test-buf.c - unit tests for common/buf.c */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "td.h"
#include "buf.h"
#include "tap.h"

static void
test_basic(void)
{
	struct td_buf b;

	td_buf_init(&b, 0, 0);
	ok(b.p == NULL && b.len == 0 && b.cap == 0, "lazy init, no storage");
	is_str(td_buf_cstr(&b), "", "cstr of an unused buffer is empty");
	is_int(td_buf_append(&b, NULL, 0), 0, "empty append, unused buffer");
	is_int(b.len, 0, "still empty");
	is_int(td_buf_puts(&b, "hello"), 0, "puts");
	is_int(td_buf_putc(&b, ','), 0, "putc");
	is_int(td_buf_append(&b, " world", 6), 0, "append");
	is_int(b.len, 12, "len counts bytes");
	is_str(td_buf_cstr(&b), "hello, world", "contents");
	is_int(b.len, 12, "cstr does not count the NUL");
	is_int(td_buf_printf(&b, " %d-%s", 42, "x"), 0, "printf");
	is_str(td_buf_cstr(&b), "hello, world 42-x", "printf appended");
	td_buf_reset(&b);
	is_int(b.len, 0, "reset empties");
	ok(b.cap > 0, "reset keeps storage");
	is_str(td_buf_cstr(&b), "", "cstr after reset");
	td_buf_free(&b);
	ok(b.p == NULL && b.len == 0 && b.cap == 0, "free leaves it empty");
	is_int(td_buf_puts(&b, "again"), 0, "reuse after free");
	is_str(td_buf_cstr(&b), "again", "reused contents");
	td_buf_free(&b);
	td_buf_free(&b);
	ok(b.p == NULL && b.len == 0 && b.cap == 0,
	    "a second free leaves it empty too");
	is_int(td_buf_puts(&b, "third"), 0, "usable after a double free");
	is_str(td_buf_cstr(&b), "third", "with the right contents");
	td_buf_free(&b);
}

static void
test_binary(void)
{
	struct td_buf b;
	const char bin[] = { 'a', '\0', 'b', '\0' };

	td_buf_init(&b, 4, 0);
	is_int(b.cap, 4, "initial capacity allocated");
	is_int(td_buf_append(&b, bin, sizeof(bin)), 0, "append with NULs");
	is_int(b.len, 4, "fills capacity exactly");
	is_int(b.cap, 4, "no growth when it fits");
	ok(memcmp(td_buf_cstr(&b), bin, 4) == 0 && b.p[4] == '\0',
	    "cstr NUL fits after a full buffer");
	is_int(td_buf_putc(&b, 0xff), 0, "putc grows");
	is_int((unsigned char)b.p[4], 0xff, "putc stores the byte");
	td_buf_free(&b);
}

static void
test_limit(void)
{
	struct td_buf b;
	char big[100];

	memset(big, 'x', sizeof(big));
	td_buf_init(&b, 64, 10);
	is_int(b.cap, 10, "initial capacity clamped to max");
	is_int(td_buf_append(&b, big, 10), 0, "append up to max");
	is_int(td_buf_putc(&b, 'y'), TD_ERR_LIMIT, "putc past max");
	is_int(td_buf_append(&b, big, 1), TD_ERR_LIMIT, "append past max");
	is_int(td_buf_puts(&b, "z"), TD_ERR_LIMIT, "puts past max");
	is_int(td_buf_printf(&b, "%d", 1), TD_ERR_LIMIT, "printf past max");
	is_int(td_buf_reserve(&b, 1), TD_ERR_LIMIT, "reserve past max");
	is_int(td_buf_reserve(&b, SIZE_MAX), TD_ERR_LIMIT, "reserve SIZE_MAX");
	is_int(td_buf_reserve(&b, 0), 0, "reserve 0 at max");
	is_int(b.len, 10, "len unchanged after failures");
	is_str(td_buf_cstr(&b), "xxxxxxxxxx", "contents unchanged");
	td_buf_reset(&b);
	is_int(td_buf_append(&b, big, 11), TD_ERR_LIMIT, "one append over max");
	is_int(b.len, 0, "nothing appended");
	is_int(td_buf_printf(&b, "%s", "0123456789A"), TD_ERR_LIMIT,
	    "printf one over max");
	is_int(b.len, 0, "printf appended nothing");
	is_int(td_buf_printf(&b, "%s", "0123456789"), 0, "printf exactly max");
	is_str(td_buf_cstr(&b), "0123456789", "printf at max");
	td_buf_free(&b);

	td_buf_init(&b, 0, 100);
	is_int(td_buf_append(&b, big, 70), 0, "growth clamps to max");
	is_int(td_buf_append(&b, big, 30), 0, "fill to max");
	ok(b.cap == 100, "capacity never exceeds max (%zu)", b.cap);
	is_int(td_buf_putc(&b, 'x'), TD_ERR_LIMIT, "then full");
	td_buf_free(&b);

	td_buf_init(&b, 0, 1);
	is_int(td_buf_putc(&b, 'a'), 0, "max 1: one byte");
	is_int(td_buf_putc(&b, 'b'), TD_ERR_LIMIT, "max 1: not two");
	is_str(td_buf_cstr(&b), "a", "max 1 contents");
	td_buf_free(&b);
}

static void
test_growth(void)
{
	struct td_buf b;
	size_t i, bad = 0, want;
	char line[64];
	int n;

	td_buf_init(&b, 1, 0);
	for (i = 0; i < 1000000; i++)
		if (td_buf_putc(&b, (int)('a' + i % 26)) != 0)
			bad++;
	is_int(bad, 0, "a million putc");
	is_int(b.len, 1000000, "a million bytes");
	for (i = 0; i < b.len; i++)
		if (b.p[i] != (char)('a' + i % 26))
			bad++;
	is_int(bad, 0, "contents intact after growth");
	td_buf_reset(&b);
	for (i = 0; i < 10000; i++) {
		n = snprintf(line, sizeof(line), "%zu,", i);
		if (td_buf_printf(&b, "%zu,", i) != 0 ||
		    memcmp(b.p + b.len - (size_t)n, line, (size_t)n) != 0)
			bad++;
	}
	is_int(bad, 0, "10000 printf appends");
	td_buf_free(&b);

	td_buf_init(&b, 0, 0);
	memset(line, 'q', sizeof(line));
	want = 0;
	for (i = 0; i < 2000; i++) {
		if (td_buf_printf(&b, "%.*s", (int)(i % 64), line) != 0)
			bad++;
		want += i % 64;
	}
	ok(bad == 0 && b.len == want, "printf across capacity boundaries");
	for (i = 0; i < b.len; i++)
		if (b.p[i] != 'q')
			bad++;
	is_int(bad, 0, "printf contents");
	td_buf_reset(&b);
	is_int(td_buf_printf(&b, "%s", ""), 0, "empty printf");
	is_int(b.len, 0, "empty printf appends nothing");
	td_buf_free(&b);
}

int
main(void)
{
	test_basic();
	test_binary();
	test_limit();
	test_growth();
	return done_testing();
}
