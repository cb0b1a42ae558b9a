/*
 * x12.c - the ANSI X12 tokeniser and envelope checker (see x12.h).
 *
 * One pass, byte-driven between segments and memchr-driven inside
 * them. The reader state survives piece boundaries anywhere: in the
 * BOM, in the ISA, in a segment. Envelope rules, in the order they are
 * checked for each segment:
 *
 *   outside an interchange   ISA only (fixed 106 characters)
 *   in an interchange        GS (a group) or IEA (IEA01 = groups,
 *                            IEA02 = ISA13)
 *   in a group               ST (a supported set and version) or GE
 *                            (GE01 = sets, GE02 = GS06)
 *   in a set                 anything but ISA/GS/ST/GE/IEA; SE ends it
 *                            (SE01 = segments ST..SE, SE02 = ST02)
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "td.h"
#include "map.h"
#include "x12.h"

#define ISA_LEN		106

enum rstate { R_LEAD, R_ISA, R_GAP, R_SEG, R_STOP };
enum envstate { E_NONE, E_ISA, E_GS, E_ST };

struct x12 {
	struct x12_opts	 o;
	enum rstate	 rs;
	int		 started;	/* a byte other than a BOM was seen */
	const unsigned char *bom;	/* the BOM being matched, or NULL */
	size_t		 bompos;	/* its bytes matched so far */
	char		 seg[X12_MAX_SEGMENT + ISA_LEN];
	size_t		 seglen;
	char		 esep, term, comp;
	int		 rep;
	struct td_field	 el[X12_MAX_ELEMENTS];
	/* envelope */
	enum envstate	 env;
	uint64_t	 ordinal;	/* segments of this interchange */
	uint64_t	 interchange;	/* interchanges begun */
	uint64_t	 done;		/* interchanges ended by their IEA */
	uint64_t	 ngroups, nsets, nsegs;
	char		 isa13[16], gs06[16], st02[16];
	char		 gs08[16];
	size_t		 gs08len;
	size_t		 cur_nel;	/* elements of the segment split */
	/* the fault */
	const char	*code;
	uint64_t	 fault_ord;
	char		 fault_id[4];	/* its segment's id, "" unknown */
	size_t		 fault_nel;	/* its elements in el, 0 unknown */
	char		 msg[256];
};

static const int isa_width[16] = {
	2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1
};

struct x12 *
x12_new(const struct x12_opts *o)
{
	struct x12 *x = xcalloc(1, sizeof(*x));

	if (o != NULL)
		x->o = *o;
	x->rep = -1;
	return x;
}

void
x12_free(struct x12 *x)
{
	x_free(x);
}

const char *
x12_fault(const struct x12 *x, uint64_t *ordinal, const char **msg)
{
	if (ordinal != NULL)
		*ordinal = x->fault_ord;
	if (msg != NULL)
		*msg = x->msg;
	return x->code;
}

const char *
x12_fault_id(const struct x12 *x)
{
	return x->fault_id;
}

size_t
x12_fault_elements(const struct x12 *x, const struct td_field **el)
{
	*el = x->el;
	return x->fault_nel;
}

uint64_t
x12_interchanges(const struct x12 *x)
{
	return x->done;
}

int
x12_is(const struct td_field *f, const char *s)
{
	size_t n = strlen(s);

	return f->len == n && memcmp(f->p, s, n) == 0;
}

static int
fault(struct x12 *x, const char *code, uint64_t ord, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
fault(struct x12 *x, const char *code, uint64_t ord, const char *fmt, ...)
{
	va_list ap;

	const char *id = x->seg;
	size_t n;

	x->code = code;
	x->fault_ord = ord;
	x->fault_nel = x->cur_nel;
	/* the segment's id: split, or the text read of it so far */
	if (x->cur_nel > 0) {
		id = x->el[0].p;
		n = x->el[0].len;
	} else
		for (n = 0; n < x->seglen && n < 4 && x->seg[n] != x->esep;)
			n++;
	x->fault_id[0] = '\0';
	/* an id holding a NUL byte would read as a shorter one: unknown */
	if (n >= 2 && n <= 3 && (x->cur_nel > 0 || x->esep != '\0') &&
	    memchr(id, '\0', n) == NULL) {
		memcpy(x->fault_id, id, n);
		x->fault_id[n] = '\0';
	}
	va_start(ap, fmt);
	vsnprintf(x->msg, sizeof(x->msg), fmt, ap);
	va_end(ap);
	x->rs = R_STOP;
	return X12_FAULT;
}

static int
is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z');
}

/* A count element: 1 to 10 digits. -1 when it is not one. */
static int64_t
count_of(const struct td_field *f)
{
	int64_t v = 0;
	size_t i;

	if (f->len == 0 || f->len > 10)
		return -1;
	for (i = 0; i < f->len; i++) {
		if (f->p[i] < '0' || f->p[i] > '9')
			return -1;
		v = v * 10 + (f->p[i] - '0');
	}
	return v;
}

/* Control numbers agree: by value when both are digits, else exactly. */
static int
ctl_eq(const char *a, const struct td_field *b)
{
	size_t an = strlen(a), bn = b->len, i;
	const char *bp = b->p;
	int digits = an > 0 && bn > 0;

	for (i = 0; digits && i < an; i++)
		digits = a[i] >= '0' && a[i] <= '9';
	for (i = 0; digits && i < bn; i++)
		digits = bp[i] >= '0' && bp[i] <= '9';
	if (digits) {
		while (an > 1 && *a == '0') {
			a++;
			an--;
		}
		while (bn > 1 && *bp == '0') {
			bp++;
			bn--;
		}
	}
	return an == bn && memcmp(a, bp, an) == 0;
}

/*
 * Keep a control number (at most 15 characters, else it is malformed).
 * It is kept as a string, so a NUL byte in it is malformed too: "0001"
 * then NUL bytes would match a trailer's "0001".
 */
static int
ctl_keep(char *dst, size_t dstsz, const struct td_field *f)
{
	if (f->len == 0 || f->len >= dstsz || memchr(f->p, '\0', f->len) != NULL)
		return -1;
	memcpy(dst, f->p, f->len);
	dst[f->len] = '\0';
	return 0;
}

/* Is GS08 one of the versions: its first 6 characters (004010VICS). */
static int
listed(const char * const *list, const char *p, size_t n)
{
	size_t i;

	if (list == NULL)
		return 1;
	for (i = 0; list[i] != NULL; i++)
		if (n >= 6 && strlen(list[i]) == 6 && memcmp(list[i], p, 6) == 0)
			return 1;
	return 0;
}

/* Is the set id (ST01) supported: exactly one of the list. */
static int
set_listed(const char * const *list, const struct td_field *f)
{
	size_t i;

	if (list == NULL)
		return 1;
	for (i = 0; list[i] != NULL; i++)
		if (x12_is(f, list[i]))
			return 1;
	return 0;
}

/* Split the segment text into elements. */
static int
split(struct x12 *x, const char *s, size_t n, size_t *nel)
{
	const char *p = s, *end = s + n, *q;
	size_t k = 0;

	for (;;) {
		if (k == X12_MAX_ELEMENTS)
			return -1;
		q = memchr(p, x->esep, (size_t)(end - p));
		x->el[k].p = p;
		x->el[k].len = (size_t)((q != NULL ? q : end) - p);
		k++;
		if (q == NULL)
			break;
		p = q + 1;
	}
	*nel = k;
	return 0;
}

/* The ISA in x->seg (106 characters): delimiters and fixed widths. */
static int
isa_read(struct x12 *x)
{
	const char *b = x->seg;
	char show[32];
	size_t pos = 3, i, k;
	unsigned char t, c, e;

	x->ordinal = 1;
	x->interchange++;
	e = (unsigned char)b[3];
	for (k = 0; k < 16; k++) {
		if (b[pos] != (char)e)
			return fault(x, "x12_envelope", 1, "interchange %llu: "
			    "the ISA segment is not 106 characters with "
			    "fixed-width fields: the element separator "
			    "\"%s\" is not at character %zu (before ISA%02zu)",
			    (unsigned long long)x->interchange,
			    mapper_shown(b + 3, 1, show, sizeof(show)), pos + 1, k + 1);
		for (i = pos + 1; i < pos + 1 + (size_t)isa_width[k]; i++)
			if (b[i] == (char)e)
				return fault(x, "x12_envelope", 1,
				    "interchange %llu: the ISA segment is not "
				    "106 characters with fixed-width fields: "
				    "ISA%02zu is shorter than %d characters",
				    (unsigned long long)x->interchange, k + 1,
				    isa_width[k]);
		pos += 1 + (size_t)isa_width[k];
	}
	c = (unsigned char)b[104];
	t = (unsigned char)b[105];
	if (t >= 0x80 || t == 0)
		return fault(x, "x12_envelope", 1, "interchange %llu: the "
		    "segment terminator after ISA16 (\"%s\") is not a single "
		    "ASCII character", (unsigned long long)x->interchange,
		    mapper_shown(b + 105, 1, show, sizeof(show)));
	if (is_alnum(t) || t == ' ' || t == e || t == c)
		return fault(x, "x12_envelope", 1, "interchange %llu: the "
		    "segment terminator after ISA16 (\"%s\") is a letter, a "
		    "digit, a blank or another delimiter: is ISA16 or the "
		    "terminator missing?", (unsigned long long)x->interchange,
		    mapper_shown(b + 105, 1, show, sizeof(show)));
	if (is_alnum(e) || is_blank(e) || e >= 0x80 || is_alnum(c) ||
	    is_blank(c) || c == e)
		return fault(x, "x12_envelope", 1, "interchange %llu: the "
		    "element separator (\"%s\") or the component separator "
		    "ISA16 is a letter, a digit, a blank or the same as the "
		    "other", (unsigned long long)x->interchange,
		    mapper_shown(b + 3, 1, show, sizeof(show)));
	for (i = 90; i < 99; i++)
		if (b[i] < '0' || b[i] > '9')
			return fault(x, "x12_envelope", 1, "interchange %llu: "
			    "ISA13 (the control number) \"%s\" is not 9 "
			    "digits", (unsigned long long)x->interchange,
			    mapper_shown(b + 90, 9, show, sizeof(show)));
	x->esep = (char)e;
	x->comp = (char)c;
	x->term = (char)t;
	x->rep = -1;
	/* 00402 and later: ISA11 is the repetition separator */
	if (memcmp(b + 84, "00402", 5) >= 0 && !is_alnum((unsigned char)b[82])
	    && b[82] != c && b[82] != (char)t)
		x->rep = (unsigned char)b[82];
	memcpy(x->isa13, b + 90, 9);
	x->isa13[9] = '\0';
	x->ngroups = 0;
	x->env = E_ISA;
	return 0;
}

static const char *
env_name(enum envstate s)
{
	switch (s) {
	case E_ISA:
		return "the interchange (ISA)";
	case E_GS:
		return "the functional group (GS)";
	case E_ST:
		return "the transaction set (ST)";
	default:
		return "nothing";
	}
}

/*
 * A trailer (SE, GE, IEA) at ordinal ord: its 01 is the count of what
 * it closes (have of them: noun), its 02 the control number ctl of the
 * header (hdr names it).
 */
static int
trailer(struct x12 *x, size_t nel, const char *name, const char *hdr,
    const char *ctl, const char *noun, uint64_t have, const char *scope)
{
	const struct td_field *el = x->el;
	uint64_t ord = x->ordinal;
	char s1[40];
	int64_t cnt;

	if (nel < 3 || (cnt = count_of(&el[1])) < 0)
		return fault(x, "x12_envelope", ord, "segment %llu: %s01 (the "
		    "count of %s) is missing or not a number",
		    (unsigned long long)ord, name, noun);
	if (!ctl_eq(ctl, &el[2]))
		return fault(x, "x12_control_mismatch", ord, "segment %llu: "
		    "%s02 \"%s\" is not %s \"%s\"", (unsigned long long)ord,
		    name, mapper_shown(el[2].p, el[2].len, s1, sizeof(s1)), hdr,
		    ctl);
	if ((uint64_t)cnt != have)
		return fault(x, "x12_count_mismatch", ord, "segment %llu: "
		    "%s01 says %lld %s, %s has %llu", (unsigned long long)ord,
		    name, (long long)cnt, noun, scope, (unsigned long long)have);
	return 0;
}

/* The envelope rules for one segment (not the ISA), el/nel set. */
static int
envelope(struct x12 *x, size_t nel)
{
	const struct td_field *el = x->el, *id = &x->el[0];
	char s1[40], s2[40], scope[64];
	uint64_t ord = x->ordinal;
	int isenv, r;

	isenv = x12_is(id, "GS") || x12_is(id, "ST") || x12_is(id, "SE") ||
	    x12_is(id, "GE") || x12_is(id, "IEA") || x12_is(id, "ISA");
	switch (x->env) {
	case E_ST:
		x->nsegs++;
		if (!isenv)
			return 0;
		if (!x12_is(id, "SE"))
			return fault(x, "x12_envelope", ord, "segment %llu: "
			    "%s where the transaction set %s begun by ST has "
			    "no SE yet", (unsigned long long)ord,
			    mapper_shown(id->p, id->len, s1, sizeof(s1)), x->st02);
		snprintf(scope, sizeof(scope), "the set %s (ST to SE)", x->st02);
		if ((r = trailer(x, nel, "SE", "ST02", x->st02, "segments",
		    x->nsegs, scope)) != 0)
			return r;
		x->env = E_GS;
		return 0;
	case E_GS:
		if (x12_is(id, "ST")) {
			if (nel < 3 || ctl_keep(x->st02, sizeof(x->st02),
			    &el[2]) != 0 || el[1].len == 0)
				return fault(x, "x12_envelope", ord, "segment "
				    "%llu: ST lacks ST01 (the set) or ST02 "
				    "(its control number: 1 to 15 characters, "
				    "no NUL)",
				    (unsigned long long)ord);
			if (!set_listed(x->o.sets, &el[1]))
				return fault(x, "x12_unsupported_set", ord,
				    "segment %llu: transaction set %s is not "
				    "supported (852 and 867 are)",
				    (unsigned long long)ord,
				    mapper_shown(el[1].p, el[1].len, s1, sizeof(s1)));
			/* the version of a supported set (GS08) */
			if (!listed(x->o.versions, x->gs08, x->gs08len))
				return fault(x, "x12_unsupported_version", ord,
				    "segment %llu: version %s (GS08) of set "
				    "%s is not supported (003030, 004010 and "
				    "005010 are)", (unsigned long long)ord,
				    mapper_shown(x->gs08, x->gs08len, s1, sizeof(s1)),
				    mapper_shown(el[1].p, el[1].len, s2, sizeof(s2)));
			x->nsets++;
			x->nsegs = 1;
			x->env = E_ST;
			return 0;
		}
		if (!x12_is(id, "GE"))
			return fault(x, "x12_envelope", ord, "segment %llu: "
			    "%s where ST or GE is expected",
			    (unsigned long long)ord,
			    mapper_shown(id->p, id->len, s1, sizeof(s1)));
		snprintf(scope, sizeof(scope), "the group %s", x->gs06);
		if ((r = trailer(x, nel, "GE", "GS06", x->gs06, "sets",
		    x->nsets, scope)) != 0)
			return r;
		x->env = E_ISA;
		return 0;
	case E_ISA:
		if (x12_is(id, "GS")) {
			if (nel < 9 || ctl_keep(x->gs06, sizeof(x->gs06),
			    &el[6]) != 0)
				return fault(x, "x12_envelope", ord, "segment "
				    "%llu: GS has fewer than 8 elements or no "
				    "GS06 (its control number: 1 to 15 "
				    "characters, no NUL)",
				    (unsigned long long)ord);
			x->gs08len = el[8].len < sizeof(x->gs08) ?
			    el[8].len : sizeof(x->gs08);
			memcpy(x->gs08, el[8].p, x->gs08len);
			x->ngroups++;
			x->nsets = 0;
			x->env = E_GS;
			return 0;
		}
		if (!x12_is(id, "IEA"))
			return fault(x, "x12_envelope", ord, "segment %llu: "
			    "%s where GS or IEA is expected",
			    (unsigned long long)ord,
			    mapper_shown(id->p, id->len, s1, sizeof(s1)));
		if ((r = trailer(x, nel, "IEA", "ISA13", x->isa13, "groups",
		    x->ngroups, "the interchange")) != 0)
			return r;
		x->env = E_NONE;
		x->done++;
		return 0;
	default:
		break;
	}
	return fault(x, "x12_envelope", ord, "segment %llu: %s outside an "
	    "interchange", (unsigned long long)ord,
	    mapper_shown(id->p, id->len, s1, sizeof(s1)));
}

/* A segment id: 2 or 3 capital letters and digits, a letter first. */
static int
valid_id(const struct td_field *f)
{
	size_t i;

	if (f->len < 2 || f->len > 3 || f->p[0] < 'A' || f->p[0] > 'Z')
		return 0;
	for (i = 1; i < f->len; i++)
		if (!((f->p[i] >= 'A' && f->p[i] <= 'Z') ||
		    (f->p[i] >= '0' && f->p[i] <= '9')))
			return 0;
	return 1;
}

/* One whole segment is in x->seg: check it, hand it on. */
static int
segment(struct x12 *x, int isa, x12_seg_cb cb, void *arg)
{
	struct x12_seg s;
	size_t n = x->seglen, nel;
	char show[40];
	int r;

	if (isa) {
		if ((r = isa_read(x)) != 0)
			return r;
		n = ISA_LEN - 1;
	} else {
		x->ordinal++;
		if (x->term == '\n' && n > 0 && x->seg[n - 1] == '\r')
			n--;
	}
	x->cur_nel = 0;
	if (split(x, x->seg, n, &nel) != 0)
		return fault(x, "x12_segment_too_long", x->ordinal, "segment "
		    "%llu has more than %d elements",
		    (unsigned long long)x->ordinal, X12_MAX_ELEMENTS - 1);
	x->cur_nel = nel;
	if (!valid_id(&x->el[0]))
		return fault(x, "x12_envelope", x->ordinal, "segment %llu: "
		    "\"%s\" is not a segment id", (unsigned long long)x->ordinal,
		    mapper_shown(x->el[0].p, x->el[0].len, show, sizeof(show)));
	if (!isa && x->env == E_NONE && !x12_is(&x->el[0], "ISA"))
		return fault(x, "x12_envelope", x->ordinal, "segment %llu: "
		    "%s after the IEA, where an ISA or the end is expected",
		    (unsigned long long)x->ordinal,
		    mapper_shown(x->el[0].p, x->el[0].len, show, sizeof(show)));
	if (!isa && (r = envelope(x, nel)) != 0)
		return r;
	s.el = x->el;
	s.nel = nel;
	s.ordinal = x->ordinal;
	s.interchange = x->interchange;
	s.raw = x->seg;
	s.rawlen = n;
	s.comp = x->comp;
	s.rep = x->rep;
	x->cur_nel = 0;
	if ((r = cb(arg, &s)) != 0)
		x->rs = R_STOP;
	return r;
}

int
x12_feed(struct x12 *x, const char *text, size_t n, x12_seg_cb cb, void *arg)
{
	static const unsigned char bom[] = { 0xef, 0xbb, 0xbf, 0 };
	static const unsigned char bom1252[] = { 0xc3, 0xaf, 0xc2, 0xbb, 0xc2,
	    0xbf, 0 };
	const char *q;
	size_t i = 0, k;
	char show[16];
	int r;

	while (i < n) {
		unsigned char c = (unsigned char)text[i];

		switch (x->rs) {
		case R_STOP:
			return x->code != NULL ? X12_FAULT : 0;
		case R_LEAD:
			/* a UTF-8 BOM, or the same read as windows-1252 */
			if (!x->started && x->bompos == 0 && (c == bom[0] ||
			    c == bom1252[0]))
				x->bom = c == bom[0] ? bom : bom1252;
			if (!x->started && x->bom != NULL &&
			    x->bompos < strlen((const char *)x->bom) &&
			    c == x->bom[x->bompos]) {
				x->bompos++;
				i++;
				continue;
			}
			if (!x->started && x->bom != NULL &&
			    x->bompos < strlen((const char *)x->bom))
				return fault(x, "x12_envelope", 1, "the text "
				    "starts with part of a byte order mark");
			x->started = 1;
			if (is_blank(c)) {
				i++;
				continue;
			}
			x->rs = R_ISA;
			x->seglen = 0;
			continue;
		case R_ISA:
			k = ISA_LEN - x->seglen;
			if (k > n - i)
				k = n - i;
			memcpy(x->seg + x->seglen, text + i, k);
			x->seglen += k;
			i += k;
			if (x->seglen >= 3 && memcmp(x->seg, "ISA", 3) != 0) {
				x->ordinal = 1;
				return fault(x, "x12_envelope", 1, "interchange "
				    "%llu: \"%s\" where an ISA segment is "
				    "expected", (unsigned long long)
				    x->interchange + 1,
				    mapper_shown(x->seg, 3, show, sizeof(show)));
			}
			if (x->seglen < ISA_LEN)
				continue;
			if ((r = segment(x, 1, cb, arg)) != 0)
				return r;
			x->rs = R_GAP;
			continue;
		case R_GAP:
			if (is_blank(c) || c == (unsigned char)x->term) {
				i++;
				continue;
			}
			if (x->env == E_NONE) {
				x->rs = R_LEAD;
				continue;
			}
			x->rs = R_SEG;
			x->seglen = 0;
			continue;
		case R_SEG:
			q = memchr(text + i, x->term, n - i);
			k = (size_t)((q != NULL ? q : text + n) - (text + i));
			if (x->seglen + k > X12_MAX_SEGMENT) {
				/* what fits, for the fault's segment id */
				memcpy(x->seg + x->seglen, text + i,
				    X12_MAX_SEGMENT - x->seglen);
				x->seglen = X12_MAX_SEGMENT;
				return fault(x, "x12_segment_too_long",
				    x->ordinal + 1, "segment %llu is longer "
				    "than %d bytes",
				    (unsigned long long)x->ordinal + 1,
				    X12_MAX_SEGMENT);
			}
			memcpy(x->seg + x->seglen, text + i, k);
			x->seglen += k;
			i += k;
			if (q == NULL)
				continue;
			i++;
			if ((r = segment(x, 0, cb, arg)) != 0)
				return r;
			x->rs = R_GAP;
			continue;
		}
	}
	return x->rs == R_STOP && x->code != NULL ? X12_FAULT : 0;
}

int
x12_finish(struct x12 *x, x12_seg_cb cb, void *arg)
{
	int r;

	switch (x->rs) {
	case R_STOP:
		return x->code != NULL ? X12_FAULT : 0;
	case R_ISA:
		return fault(x, "x12_envelope", 1, "interchange %llu: the text "
		    "ends inside the ISA segment (%zu of 106 characters)",
		    (unsigned long long)x->interchange + 1, x->seglen);
	case R_SEG:
		/* the last segment has no terminator: it ends with the
		 * text, blanks after it dropped */
		while (x->seglen > 0 && is_blank((unsigned char)
		    x->seg[x->seglen - 1]))
			x->seglen--;
		if (x->seglen > 0 && (r = segment(x, 0, cb, arg)) != 0)
			return r;
		break;
	default:
		break;
	}
	x->seglen = 0;		/* no segment is at fault */
	if (x->env != E_NONE)
		return fault(x, "x12_envelope", x->ordinal + 1, "interchange "
		    "%llu: the text ends inside %s, after segment %llu",
		    (unsigned long long)x->interchange, env_name(x->env),
		    (unsigned long long)x->ordinal);
	if (x->interchange == 0)
		return fault(x, "x12_envelope", 1, "the text holds no ISA "
		    "segment (no interchange)");
	x->rs = R_STOP;
	return 0;
}
