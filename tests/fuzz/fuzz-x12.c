/*
 * fuzz-x12.c - libFuzzer harness: the X12 reader (tokeniser and
 * envelope) fed in three pieces split at data-derived points. Nothing
 * may crash; every segment handed on must respect the limits, have an
 * id, and come with ordinals that grow within an interchange; a fault
 * must have a code, a message and an ordinal of at least 1. The 997
 * builder (ack.c) follows the reader: every 997 it makes is printable
 * ASCII, starts with a 106-character ISA, and its SE01 counts its
 * segments.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "td.h"
#include "x12.h"
#include "ack.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct seen {
	uint64_t	 ichg, ord;
	struct ack_builder *ab;
};

/* The 997 of g holds to its invariants; g is freed. */
static void
check_ack(struct ack_group *g)
{
	char *t, *p, *se;
	unsigned long n = 0;

	if (g == NULL)
		return;
	t = ack_text(g, 123456789UL, NULL, NULL, 0);
	if (strncmp(t, "ISA*", 4) != 0 || strlen(t) < 108 || t[105] != '~' ||
	    t[106] != '\n')
		abort();
	for (p = t; *p != '\0'; p++)
		if ((*p < ' ' || *p > '~') && *p != '\n')
			abort();
	if ((p = strstr(t, "\nST*997*0001~\n")) == NULL ||
	    (se = strstr(p, "\nSE*")) == NULL)
		abort();
	for (p++; p <= se; p++)
		n += *p == '\n';
	if (strtoul(se + 4, NULL, 10) != n + 1)	/* and SE itself */
		abort();
	x_free(t);
	ack_group_free(g);
}

static int
on_seg(void *arg, const struct x12_seg *s)
{
	struct seen *sn = arg;
	size_t i, tot = 0;

	if (s->nel < 1 || s->nel > X12_MAX_ELEMENTS || s->el[0].len < 2 ||
	    s->rawlen > X12_MAX_SEGMENT + 106)
		abort();
	for (i = 0; i < s->nel; i++)
		tot += s->el[i].len;
	if (tot + s->nel - 1 != s->rawlen)
		abort();
	if (s->interchange == sn->ichg && s->ordinal <= sn->ord)
		abort();
	if (s->interchange != sn->ichg && s->ordinal != 1)
		abort();
	sn->ichg = s->interchange;
	sn->ord = s->ordinal;
	check_ack(ack_segment(sn->ab, s));
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static const char *const sets[] = { "852", "867", NULL };
	static const char *const versions[] = { "003030", "004010", "005010",
	    NULL };
	struct x12_opts o = { sets, versions };
	struct seen sn = { 0, 0, NULL };
	struct x12 *x;
	const char *code, *msg;
	uint64_t ord;
	size_t a, b;
	int r;

	/* a first byte 'A' lets any set through, to reach the set bodies */
	if (n > 0 && data[0] == 'A')
		o.sets = NULL;
	x = x12_new(&o);
	sn.ab = ack_builder_new();
	a = n > 0 ? data[n / 2] % (n + 1) : 0;
	b = n > 0 ? a + data[n - 1] % (n - a + 1) : 0;
	r = x12_feed(x, (const char *)data, a, on_seg, &sn);
	if (r == 0)
		r = x12_feed(x, (const char *)data + a, b - a, on_seg, &sn);
	if (r == 0)
		r = x12_feed(x, (const char *)data + b, n - b, on_seg, &sn);
	if (r == 0)
		r = x12_finish(x, on_seg, &sn);
	code = x12_fault(x, &ord, &msg);
	if ((r == X12_FAULT) != (code != NULL))
		abort();
	if (code != NULL && (ord < 1 || msg == NULL || msg[0] == '\0'))
		abort();
	if (code != NULL)
		check_ack(ack_fault(sn.ab, x));
	ack_builder_free(sn.ab);
	x12_free(x);
	return 0;
}
