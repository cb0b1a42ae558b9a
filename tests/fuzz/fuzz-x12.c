/*
 * fuzz-x12.c - libFuzzer harness: the X12 reader (tokeniser and
 * envelope) fed in three pieces split at data-derived points. Nothing
 * may crash; every segment handed on must respect the limits, have an
 * id, and come with ordinals that grow within an interchange; a fault
 * must have a code, a message and an ordinal of at least 1, and its
 * segment id and elements, when known, agree.
 *
 * The envelope is checked again by a model written here: the segments
 * handed on nest as ISA (GS (ST ... SE)* GE)* IEA, the sets and
 * versions are the allowed ones, and every trailer's count (SE01, GE01,
 * IEA01) and control number (SE02 = ST02, GE02 = GS06, IEA02 = ISA13,
 * by value when both are digits) is right; text read without a fault
 * ends after an IEA, and x12_interchanges counts the IEAs.
 *
 * The 997 builder (ack.c) follows the reader: every 997 it makes, with
 * the drop's ids or ours, is printable ASCII, starts with a 106-character
 * ISA, says in AK9 the status ack_group_status gives, and reads back
 * through the X12 reader (set 997, any version) as one interchange with
 * no fault: counts, control numbers and delimiters all right.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "td.h"
#include "x12.h"
#include "ack.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The envelope model: where the text is, and what it has seen. */
enum { M_NONE, M_ISA, M_GS, M_ST };

struct seen {
	uint64_t	 ichg, ord;
	struct ack_builder *ab;
	const char * const *sets, * const *versions;
	int		 env;
	uint64_t	 groups, sets_in, segs, ieas;
	struct td_field	 isa13, gs06, st02;
	char		 ctl[3][16];	/* copies of those */
	char		 gs08[16];	/* GS08, at most 15 bytes of it */
	size_t		 gs08len;
};

static int
no_seg(void *arg, const struct x12_seg *s)
{
	return 0;
}

/* The 997 text t reads back through the X12 reader without a fault. */
static void
reread(const char *t)
{
	static const char *const set997[] = { "997", NULL };
	struct x12_opts o = { set997, NULL };
	struct x12 *x = x12_new(&o);

	if (x12_feed(x, t, strlen(t), no_seg, NULL) != 0 ||
	    x12_finish(x, no_seg, NULL) != 0 || x12_interchanges(x) != 1)
		abort();
	x12_free(x);
}

/* The 997 of g holds to its invariants; g is freed. */
static void
check_ack(struct ack_group *g)
{
	char *t, *p, *se, *ak9;
	unsigned long n = 0;
	int ours;

	if (g == NULL)
		return;
	for (ours = 0; ours < 2; ours++) {
		t = ack_text(g, 123456789UL, ours ? "ZZ" : NULL,
		    ours ? "TRADEDROP" : NULL, ours ? 4102444799LL : 0);
		if (strncmp(t, "ISA*", 4) != 0 || strlen(t) < 108 ||
		    t[105] != '~' || t[106] != '\n')
			abort();
		for (p = t; *p != '\0'; p++)
			if ((*p < ' ' || *p > '~') && *p != '\n')
				abort();
		if ((p = strstr(t, "\nST*997*0001~\n")) == NULL ||
		    (se = strstr(p, "\nSE*")) == NULL ||
		    (ak9 = strstr(p, "\nAK9*")) == NULL ||
		    ak9[5] != ack_group_status(g))
			abort();
		for (n = 0, p++; p <= se; p++)
			n += *p == '\n';
		if (strtoul(se + 4, NULL, 10) != n + 1)	/* and SE itself */
			abort();
		reread(t);
		x_free(t);
	}
	ack_group_free(g);
}

static int
digits(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	return n > 0;
}

/* a and b are the same control number: by value when both are digits. */
static int
same_ctl(const struct td_field *a, const struct td_field *b)
{
	const char *pa = a->p, *pb = b->p;
	size_t na = a->len, nb = b->len;

	if (digits(pa, na) && digits(pb, nb)) {
		for (; na > 1 && *pa == '0'; pa++, na--)
			;
		for (; nb > 1 && *pb == '0'; pb++, nb--)
			;
	}
	return na == nb && memcmp(pa, pb, na) == 0;
}

/* Element i of s is the count c (1 to 10 digits). */
static int
count_is(const struct x12_seg *s, size_t i, uint64_t c)
{
	char buf[16];

	if (i >= s->nel || s->el[i].len > 10 ||
	    !digits(s->el[i].p, s->el[i].len))
		return 0;
	memcpy(buf, s->el[i].p, s->el[i].len);
	buf[s->el[i].len] = '\0';
	return strtoull(buf, NULL, 10) == c;
}

/* Keep element i of s as control number k of the model. */
static void
keep(struct seen *sn, struct td_field *f, int k, const struct x12_seg *s,
    size_t i)
{
	if (i >= s->nel || s->el[i].len == 0 || s->el[i].len > 15)
		abort();
	memcpy(sn->ctl[k], s->el[i].p, s->el[i].len);
	f->p = sn->ctl[k];
	f->len = s->el[i].len;
}

/* p[0..n) is one of l (NULL: any), or begins with one (prefix). */
static int
listed(const char * const *l, const char *p, size_t n, int prefix)
{
	size_t i, m;

	if (l == NULL)
		return 1;
	for (i = 0; l[i] != NULL; i++) {
		m = strlen(l[i]);
		if ((prefix ? n >= m : n == m) && memcmp(l[i], p, m) == 0)
			return 1;
	}
	return 0;
}

/* The segment s may come where the model is; move it on. */
static void
model(struct seen *sn, const struct x12_seg *s)
{
	const struct td_field *id = &s->el[0];
	int env = x12_is(id, "ISA") || x12_is(id, "GS") ||
	    x12_is(id, "ST") || x12_is(id, "SE") || x12_is(id, "GE") ||
	    x12_is(id, "IEA");

	switch (sn->env) {
	case M_NONE:
		if (!x12_is(id, "ISA"))
			abort();
		keep(sn, &sn->isa13, 0, s, 13);
		sn->groups = 0;
		sn->env = M_ISA;
		break;
	case M_ISA:
		if (x12_is(id, "GS")) {
			if (s->nel < 9)
				abort();
			keep(sn, &sn->gs06, 1, s, 6);
			sn->gs08len = s->el[8].len < sizeof(sn->gs08) ?
			    s->el[8].len : sizeof(sn->gs08);
			memcpy(sn->gs08, s->el[8].p, sn->gs08len);
			sn->sets_in = 0;
			sn->groups++;
			sn->env = M_GS;
		} else if (!x12_is(id, "IEA") || !count_is(s, 1, sn->groups) ||
		    !same_ctl(&s->el[2], &sn->isa13))
			abort();
		else {
			sn->ieas++;
			sn->env = M_NONE;
		}
		break;
	case M_GS:
		if (x12_is(id, "ST")) {
			if (s->nel < 3 || s->el[1].len == 0 ||
			    !listed(sn->sets, s->el[1].p, s->el[1].len, 0) ||
			    !listed(sn->versions, sn->gs08, sn->gs08len, 1))
				abort();
			keep(sn, &sn->st02, 2, s, 2);
			sn->segs = 1;
			sn->sets_in++;
			sn->env = M_ST;
		} else if (!x12_is(id, "GE") || !count_is(s, 1, sn->sets_in) ||
		    !same_ctl(&s->el[2], &sn->gs06))
			abort();
		else
			sn->env = M_ISA;
		break;
	default:
		sn->segs++;
		if (!env)
			break;
		if (!x12_is(id, "SE") || !count_is(s, 1, sn->segs) ||
		    !same_ctl(&s->el[2], &sn->st02))
			abort();
		sn->env = M_GS;
		break;
	}
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
	model(sn, s);
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
	struct seen sn;
	struct x12 *x;
	const struct td_field *el;
	const char *code, *msg, *id;
	uint64_t ord;
	size_t a, b, nel;
	int r;

	/* a first byte 'A' lets any set through, to reach the set bodies */
	if (n > 0 && data[0] == 'A')
		o.sets = NULL;
	memset(&sn, 0, sizeof(sn));
	sn.sets = o.sets;
	sn.versions = o.versions;
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
	/* the fault's segment, when known, is the one named ("" for an id
	 * holding a NUL byte) */
	id = x12_fault_id(x);
	nel = x12_fault_elements(x, &el);
	if (strlen(id) == 1 || strlen(id) > 3 || nel > X12_MAX_ELEMENTS ||
	    (nel > 0 && el[0].len >= 2 && el[0].len <= 3 &&
	    memchr(el[0].p, '\0', el[0].len) == NULL && !x12_is(&el[0], id)))
		abort();
	/* the model agrees on where the text ended */
	if (x12_interchanges(x) != sn.ieas ||
	    (code == NULL && (sn.env != M_NONE || sn.ieas < 1)))
		abort();
	if (code != NULL)
		check_ack(ack_fault(sn.ab, x));
	ack_builder_free(sn.ab);
	x12_free(x);
	return 0;
}
