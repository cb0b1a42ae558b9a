/*
 * ack.c - X12 997 functional acknowledgments (see ack.h).
 *
 * Codes (X12 997, 004010 and 005010):
 *   AK304  1 unrecognized segment id, 8 segment has data element errors
 *   AK501  A accepted, R rejected
 *   AK502  1 set not supported, 2 trailer (SE) missing, 3 ST02/SE02
 *          differ, 4 SE01 is not the count, 5 segments in error
 *   AK901  A accepted, P partially accepted, R rejected
 *   AK905  2 version not supported, 3 trailer (GE) missing, 4 GS06/GE02
 *          differ, 5 GE01 is not the count
 */
#include "config.h"

#include <sys/stat.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "td.h"
#include "clock.h"
#include "buf.h"
#include "conf.h"
#include "ctx.h"
#include "fsutil.h"
#include "log.h"
#include "num.h"
#include "store.h"
#include "ack.h"
#include "process.h"
#include "x12.h"

#define ACK_MAX_SETS	100000	/* AK2 loops of accepted sets kept */
#define ACK_MAX_CTL	999999999UL
#define ACK_LINE	128	/* a segment of the body, its NUL included */
/*
 * The longest body a group has: AK1, an AK2 and AK5 for each set kept,
 * the set at fault's AK2, AK3 and AK5, AK9 (a few more for slack), each
 * at most ACK_LINE - 1 bytes and "~\n".
 */
#define ACK_BODY_MAX	((2 * (size_t)ACK_MAX_SETS + 8) * (ACK_LINE + 1))

struct ack_env {
	char		 isa05[3], isa06[16], isa07[3], isa08[16];
	char		 isa12[6], isa15[2];
};

struct ack_group {
	struct ack_env	 env;
	char		 gs01[3], gs02[16], gs03[16], gs06[16], gs08[13];
	struct td_buf	 body;		/* AK1 ... AK9 */
	unsigned long	 nseg;
	uint64_t	 nsets, nacc;
	char		 status;
};

struct ack_builder {
	struct ack_env	 env;
	struct ack_group *g;		/* the open group, or NULL */
	int		 in_set;
	uint64_t	 st_ord;
	char		 st01[4], st02[16];
};

/*
 * Copy an element of the drop, at most sz - 1 bytes: a byte that is not
 * printable ASCII or is one of the 997's delimiters becomes '?'.
 */
static void
cp(char *dst, size_t sz, const char *p, size_t n)
{
	size_t i;

	if (n > sz - 1)
		n = sz - 1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		dst[i] = (c < 0x20 || c > 0x7e || c == '*' || c == '~' ||
		    c == '>' || c == '^') ? '?' : (char)c;
	}
	dst[n] = '\0';
}

static void
cpel(char *dst, size_t sz, const struct x12_seg *s, size_t i)
{
	if (i < s->nel)
		cp(dst, sz, s->el[i].p, s->el[i].len);
	else
		dst[0] = '\0';
}

struct ack_builder *
ack_builder_new(void)
{
	return xcalloc(1, sizeof(struct ack_builder));
}

void
ack_group_free(struct ack_group *g)
{
	if (g == NULL)
		return;
	td_buf_free(&g->body);
	x_free(g);
}

void
ack_builder_free(struct ack_builder *b)
{
	if (b == NULL)
		return;
	ack_group_free(b->g);
	x_free(b);
}

char
ack_group_status(const struct ack_group *g)
{
	return g->status;
}

/* What ack_group_pack writes before the body. */
struct ack_packed {
	struct ack_env	 env;
	char		 gs01[3], gs02[16], gs03[16], gs06[16], gs08[13];
	char		 status;
	uint64_t	 nseg, nsets, nacc, bodylen;
};

size_t
ack_group_packed_max(void)
{
	return sizeof(struct ack_packed) + ACK_BODY_MAX;
}

void
ack_group_pack(const struct ack_group *g, struct td_buf *out)
{
	struct ack_packed k;

	memset(&k, 0, sizeof(k));
	k.env = g->env;
	memcpy(k.gs01, g->gs01, sizeof(k.gs01));
	memcpy(k.gs02, g->gs02, sizeof(k.gs02));
	memcpy(k.gs03, g->gs03, sizeof(k.gs03));
	memcpy(k.gs06, g->gs06, sizeof(k.gs06));
	memcpy(k.gs08, g->gs08, sizeof(k.gs08));
	k.status = g->status;
	k.nseg = g->nseg;
	k.nsets = g->nsets;
	k.nacc = g->nacc;
	k.bodylen = g->body.len;
	td_buf_append(out, &k, sizeof(k));
	td_buf_append(out, g->body.p, g->body.len);
}

/* The '*'-separated elements of a segment s[0..n): at most max. */
static size_t
split_els(const char *s, size_t n, struct td_field *el, size_t max)
{
	size_t k = 0, at = 0, i;

	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != '*')
			continue;
		if (k == max)
			return max + 1;
		el[k].p = s + at;
		el[k].len = i - at;
		k++;
		at = i + 1;
	}
	return k;
}

/* An element as cp() writes it: lo to hi bytes of el_ok's characters. */
static int
el_text(const struct td_field *e, size_t lo, size_t hi)
{
	size_t i;

	if (e->len < lo || e->len > hi)
		return 0;
	for (i = 0; i < e->len; i++)
		if (e->p[i] < 0x20 || e->p[i] > 0x7e || e->p[i] == '*' ||
		    e->p[i] == '~' || e->p[i] == '>' || e->p[i] == '^')
			return 0;
	return 1;
}

/* An element that is the number v, as "%llu" writes it. */
static int
el_num(const struct td_field *e, uint64_t v)
{
	char b[TD_U64_STRMAX];
	size_t n = td_format_u64(v, b);

	return e->len == n && memcmp(e->p, b, n) == 0;
}

/* An element of 1 to 20 digits. */
static int
el_digits(const struct td_field *e)
{
	size_t i;

	if (e->len < 1 || e->len > 20)
		return 0;
	for (i = 0; i < e->len; i++)
		if (e->p[i] < '0' || e->p[i] > '9')
			return 0;
	return 1;
}

static int
el_is(const struct td_field *e, const char *s)
{
	return e->len == strlen(s) && memcmp(e->p, s, e->len) == 0;
}

/*
 * The body of a group's 997 is what ack.c writes and nothing else: AK1
 * of the group's own GS01, GS06 (and GS08 from 005010), then for each
 * set an AK2, at most one AK3 and an AK5, then AK9 of the group's status
 * and counts, nseg segments in all, each "~\n"-ended and shorter than
 * ACK_LINE. What a parser child sends is believed no further: a child
 * taken over cannot make the 997 carry segments of its own.
 */
static int
body_ok(const struct ack_packed *k, const char *p, size_t n)
{
	struct td_field el[8];
	const char *e;
	size_t at = 0, len, nel;
	uint64_t nseg = 0;
	int st = 0;		/* 0 AK1, 1 AK2|AK9, 2 AK3|AK5, 3 AK5, 4 end */

	while (at < n) {
		if ((e = memchr(p + at, '~', n - at)) == NULL ||
		    (size_t)(e - p) + 1 >= n || e[1] != '\n')
			return 0;
		len = (size_t)(e - (p + at));
		if (len > ACK_LINE - 1 || st == 4)
			return 0;
		nel = split_els(p + at, len, el, 7);
		at += len + 2;
		nseg++;
		if (st == 0) {
			if (nel < 3 || nel > 4 || !el_is(&el[0], "AK1") ||
			    !el_is(&el[1], k->gs01) || !el_is(&el[2], k->gs06) ||
			    (nel == 4) != (strncmp(k->gs08, "005010", 6) >= 0) ||
			    (nel == 4 && !el_is(&el[3], k->gs08)))
				return 0;
			st = 1;
		} else if (st == 1 && el_is(&el[0], "AK2")) {
			if (nel != 3 || !el_text(&el[1], 0, 3) ||
			    !el_text(&el[2], 0, 15))
				return 0;
			st = 2;
		} else if (st == 1 && el_is(&el[0], "AK9")) {
			if (nel < 5 || nel > 6 || el[1].len != 1 ||
			    el[1].p[0] != k->status || !el_digits(&el[2]) ||
			    !el_num(&el[3], k->nsets) ||
			    !el_num(&el[4], k->nacc) || (nel == 6 &&
			    (el[5].len != 1 || el[5].p[0] < '1' ||
			    el[5].p[0] > '5')))
				return 0;
			st = 4;
		} else if (st == 2 && el_is(&el[0], "AK3")) {
			if (nel != 5 || !el_text(&el[1], 1, 3) ||
			    !el_digits(&el[2]) || el[3].len != 0 ||
			    !(el_is(&el[4], "1") || el_is(&el[4], "8")))
				return 0;
			st = 3;
		} else if ((st == 2 || st == 3) && el_is(&el[0], "AK5")) {
			if (!(nel == 2 && el_is(&el[1], "A")) && !(nel == 3 &&
			    el_is(&el[1], "R") && el[2].len == 1 &&
			    el[2].p[0] >= '1' && el[2].p[0] <= '5'))
				return 0;
			st = 1;
		} else
			return 0;
	}
	return st == 4 && nseg == k->nseg;
}

/* An element as cp() leaves it: NUL ended in sz, no delimiter. */
static int
el_ok(const char *s, size_t sz)
{
	size_t i;

	for (i = 0; i < sz && s[i] != '\0'; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '*' || s[i] == '~' ||
		    s[i] == '>' || s[i] == '^')
			return 0;
	return i < sz;
}

struct ack_group *
ack_group_unpack(const char *p, size_t n)
{
	struct ack_packed k;
	struct ack_group *g;

	if (n < sizeof(k))
		return NULL;
	memcpy(&k, p, sizeof(k));
	if (k.bodylen != n - sizeof(k) || k.bodylen > ACK_BODY_MAX ||
	    !el_ok(k.env.isa05,
	    sizeof(k.env.isa05)) || !el_ok(k.env.isa06, sizeof(k.env.isa06)) ||
	    !el_ok(k.env.isa07, sizeof(k.env.isa07)) || !el_ok(k.env.isa08,
	    sizeof(k.env.isa08)) || !el_ok(k.env.isa12, sizeof(k.env.isa12)) ||
	    !el_ok(k.env.isa15, sizeof(k.env.isa15)) || !el_ok(k.gs01,
	    sizeof(k.gs01)) || !el_ok(k.gs02, sizeof(k.gs02)) ||
	    !el_ok(k.gs03, sizeof(k.gs03)) || !el_ok(k.gs06, sizeof(k.gs06)) ||
	    !el_ok(k.gs08, sizeof(k.gs08)) || (k.status != 'A' &&
	    k.status != 'P' && k.status != 'R'))
		return NULL;
	/* the body: the segments ack.c writes, of this group */
	p += sizeof(k);
	if (!body_ok(&k, p, k.bodylen))
		return NULL;
	g = xcalloc(1, sizeof(*g));
	g->env = k.env;
	memcpy(g->gs01, k.gs01, sizeof(g->gs01));
	memcpy(g->gs02, k.gs02, sizeof(g->gs02));
	memcpy(g->gs03, k.gs03, sizeof(g->gs03));
	memcpy(g->gs06, k.gs06, sizeof(g->gs06));
	memcpy(g->gs08, k.gs08, sizeof(g->gs08));
	g->status = k.status;
	g->nseg = (unsigned long)k.nseg;
	g->nsets = k.nsets;
	g->nacc = k.nacc;
	td_buf_init(&g->body, k.bodylen, 0);
	td_buf_append(&g->body, p, k.bodylen);
	return g;
}

static void
seg(struct ack_group *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One segment of the body, its terminator added. */
static void
seg(struct ack_group *g, const char *fmt, ...)
{
	char line[ACK_LINE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	td_buf_puts(&g->body, line);
	td_buf_puts(&g->body, "~\n");
	g->nseg++;
}

/*
 * AK9 closes the group; code 0: none, else the group's own fault, which
 * rejects it whole. Returns the group.
 */
static struct ack_group *
close_group(struct ack_builder *b, uint64_t included, int code)
{
	struct ack_group *g = b->g;

	g->status = code != 0 || g->nacc == 0 ? 'R' :
	    g->nacc == g->nsets ? 'A' : 'P';
	if (code != 0)
		seg(g, "AK9*%c*%llu*%llu*%llu*%d", g->status,
		    (unsigned long long)included,
		    (unsigned long long)g->nsets,
		    (unsigned long long)g->nacc, code);
	else
		seg(g, "AK9*%c*%llu*%llu*%llu", g->status,
		    (unsigned long long)included,
		    (unsigned long long)g->nsets,
		    (unsigned long long)g->nacc);
	b->g = NULL;
	b->in_set = 0;
	return g;
}

/* The AK2 of the set read, then its AK3 (when seg3 is not NULL). */
static void
set_ak2(struct ack_builder *b, const char *seg3, uint64_t pos, int ak304)
{
	seg(b->g, "AK2*%s*%s", b->st01, b->st02);
	if (seg3 != NULL)
		seg(b->g, "AK3*%s*%llu**%d", seg3[0] != '\0' ? seg3 : "?",
		    (unsigned long long)pos, ak304);
}

struct ack_group *
ack_segment(struct ack_builder *b, const struct x12_seg *s)
{
	const struct td_field *id = &s->el[0];
	struct ack_group *g;
	uint64_t n;

	if (x12_is(id, "ISA")) {
		cpel(b->env.isa05, sizeof(b->env.isa05), s, 5);
		cpel(b->env.isa06, sizeof(b->env.isa06), s, 6);
		cpel(b->env.isa07, sizeof(b->env.isa07), s, 7);
		cpel(b->env.isa08, sizeof(b->env.isa08), s, 8);
		cpel(b->env.isa12, sizeof(b->env.isa12), s, 12);
		cpel(b->env.isa15, sizeof(b->env.isa15), s, 15);
	} else if (x12_is(id, "GS")) {
		ack_group_free(b->g);
		g = b->g = xcalloc(1, sizeof(*g));
		g->env = b->env;
		cpel(g->gs01, sizeof(g->gs01), s, 1);
		cpel(g->gs02, sizeof(g->gs02), s, 2);
		cpel(g->gs03, sizeof(g->gs03), s, 3);
		cpel(g->gs06, sizeof(g->gs06), s, 6);
		cpel(g->gs08, sizeof(g->gs08), s, 8);
		td_buf_init(&g->body, 256, 0);
		/* 005010 names the version in AK103 */
		if (strncmp(g->gs08, "005010", 6) >= 0)
			seg(g, "AK1*%s*%s*%s", g->gs01, g->gs06, g->gs08);
		else
			seg(g, "AK1*%s*%s", g->gs01, g->gs06);
	} else if (b->g == NULL) {
		return NULL;
	} else if (x12_is(id, "ST")) {
		cpel(b->st01, sizeof(b->st01), s, 1);
		cpel(b->st02, sizeof(b->st02), s, 2);
		b->st_ord = s->ordinal;
		b->in_set = 1;
	} else if (x12_is(id, "SE")) {
		b->in_set = 0;
		b->g->nsets++;
		b->g->nacc++;
		if (b->g->nsets <= ACK_MAX_SETS) {
			set_ak2(b, NULL, 0, 0);
			seg(b->g, "AK5*A");
		}
	} else if (x12_is(id, "GE")) {
		n = b->g->nsets;
		return close_group(b, n, 0);
	}
	return NULL;
}

struct ack_group *
ack_fault(struct ack_builder *b, const struct x12 *x)
{
	const struct td_field *el;
	const char *code, *id;
	char idbuf[4];
	uint64_t ord, pos;
	size_t n;
	int ak5 = 0, ak9 = 0;

	if (b->g == NULL)
		return NULL;
	code = x12_fault(x, &ord, NULL);
	if (code == NULL)
		return NULL;
	/* the drop's bytes: shown printable */
	cp(idbuf, sizeof(idbuf), x12_fault_id(x), strlen(x12_fault_id(x)));
	id = idbuf;
	if (b->in_set) {
		/* the set at fault: rejected with its code */
		pos = ord >= b->st_ord ? ord - b->st_ord + 1 : 0;
		if (strcmp(code, "x12_control_mismatch") == 0) {
			set_ak2(b, NULL, 0, 0);
			ak5 = 3;
		} else if (strcmp(code, "x12_count_mismatch") == 0) {
			set_ak2(b, NULL, 0, 0);
			ak5 = 4;
		} else if (strcmp(code, "x12_segment_too_long") == 0) {
			set_ak2(b, id, pos, 8);
			ak5 = 5;
		} else if (strcmp(id, "SE") == 0) {
			/* SE01 missing or not a number */
			set_ak2(b, id, pos, 8);
			ak5 = 4;
		} else if (id[0] == '\0' || strcmp(id, "ST") == 0 ||
		    strcmp(id, "GS") == 0 || strcmp(id, "GE") == 0 ||
		    strcmp(id, "ISA") == 0 || strcmp(id, "IEA") == 0) {
			/* the text ends, or an envelope segment comes, first */
			set_ak2(b, NULL, 0, 0);
			ak5 = 2;
			if (strcmp(id, "GE") != 0)
				ak9 = 3;
		} else {
			/* not a segment id */
			set_ak2(b, id, pos, 1);
			ak5 = 5;
		}
		seg(b->g, "AK5*R*%d", ak5);
		b->g->nsets++;
		return close_group(b, b->g->nsets, ak9);
	}
	/* between the sets of the group */
	if (strcmp(code, "x12_unsupported_set") == 0) {
		n = x12_fault_elements(x, &el);
		cp(b->st01, sizeof(b->st01), n > 1 ? el[1].p : "?",
		    n > 1 ? el[1].len : 1);
		cp(b->st02, sizeof(b->st02), n > 2 ? el[2].p : "?",
		    n > 2 ? el[2].len : 1);
		set_ak2(b, NULL, 0, 0);
		seg(b->g, "AK5*R*1");
		b->g->nsets++;
	} else if (strcmp(code, "x12_unsupported_version") == 0)
		ak9 = 2;
	else if (strcmp(id, "GE") == 0)
		ak9 = strcmp(code, "x12_control_mismatch") == 0 ? 4 : 5;
	else
		ak9 = 3;
	return close_group(b, b->g->nsets, ak9);
}

/* A fixed-width ISA field: s padded with blanks, cut at w. */
static void
isa_field(struct td_buf *t, const char *s, size_t w)
{
	size_t n = strlen(s);

	td_buf_append(t, s, n < w ? n : w);
	for (; n < w; n++)
		td_buf_putc(t, ' ');
}

char *
ack_text(const struct ack_group *g, unsigned long ctl, const char *our_q,
    const char *our_id, long long now)
{
	struct td_buf t;
	time_t tt = (time_t)now;
	struct tm tm;
	char *out;
	int rep;

	gmtime_r(&tt, &tm);
	/* 00402 and later have a repetition separator in ISA11 */
	rep = strncmp(g->env.isa12, "00402", 5) >= 0;
	td_buf_init(&t, 512 + g->body.len, 0);
	td_buf_puts(&t, "ISA*00*          *00*          *");
	isa_field(&t, our_q != NULL ? our_q : g->env.isa07, 2);
	td_buf_putc(&t, '*');
	isa_field(&t, our_id != NULL ? our_id : g->env.isa08, 15);
	td_buf_putc(&t, '*');
	isa_field(&t, g->env.isa05, 2);
	td_buf_putc(&t, '*');
	isa_field(&t, g->env.isa06, 15);
	td_buf_printf(&t, "*%02d%02d%02d*%02d%02d*%c*", tm.tm_year % 100,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    rep ? '^' : 'U');
	isa_field(&t, g->env.isa12, 5);
	td_buf_printf(&t, "*%09lu*0*%s*>~\n", ctl,
	    g->env.isa15[0] == 'T' ? "T" : "P");
	td_buf_printf(&t, "GS*FA*%s*%s*%04d%02d%02d*%02d%02d*%lu*X*%s~\n",
	    g->gs03, g->gs02, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	    tm.tm_hour, tm.tm_min, ctl, g->gs08);
	td_buf_puts(&t, "ST*997*0001~\n");
	td_buf_append(&t, g->body.p, g->body.len);
	td_buf_printf(&t, "SE*%lu*0001~\n", g->nseg + 2);
	td_buf_printf(&t, "GE*1*%lu~\n", ctl);
	td_buf_printf(&t, "IEA*1*%09lu~\n", ctl);
	out = xstrdup(td_buf_cstr(&t));
	td_buf_free(&t);
	return out;	/* transferred */
}

/* Our control number of the idx-th 997 of tid: the one it had, or new. */
static int
ack_number(struct td_ctx *x, const char *tid, size_t idx, char status,
    unsigned long *ctl)
{
	sqlite3_stmt *s;
	int r;

	*ctl = 0;
	if ((r = store_begin(x->st)) != 0)
		return r;
	s = store_prepare(x->st, "INSERT OR IGNORE INTO x12_acks("
	    "transmission_id, idx, status, created_at) VALUES (?, ?, ?, ?)");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)idx);
	sqlite3_bind_text(s, 3, &status, 1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)td_time());
	if ((r = store_step_done(x->st, s)) != 0)
		goto out;
	s = store_prepare(x->st, "SELECT ctl FROM x12_acks WHERE "
	    "transmission_id = ? AND idx = ?");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)idx);
	if (sqlite3_step(s) == SQLITE_ROW)
		*ctl = (unsigned long)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	r = *ctl == 0 ? TD_ERR_STATE : 0;
	if (r == 0 && *ctl > ACK_MAX_CTL) {
		td_log(TD_LOG_ERROR, "ack_numbers_exhausted", "transmission_id=%s "
		    "control_number=%lu max=%lu", tid, *ctl, ACK_MAX_CTL);
		r = TD_ERR_LIMIT;
	}
 out:
	r = store_end(x->st, r);
	return r;
}

int
ack_write(struct td_ctx *x, const char *tid, const char *archive_dir,
    const struct proc_result *res)
{
	const char *our_id, *our_q;
	char *dir = NULL, *path = NULL, *text = NULL;
	unsigned long ctl;
	size_t i;
	int r = 0;

	if (res->nacks == 0)
		return 0;
	our_id = td_conf_str(x->conf, TDK_integration_x12_id);
	our_q = td_conf_str(x->conf, TDK_integration_x12_qualifier);
	dir = xasprintf("%s/%s/ack", x->state_dir, archive_dir);
	if (td_mkdirs(dir, 0750) != 0) {
		r = TD_ERR_IO;
		goto out;
	}
	for (i = 0; i < res->nacks; i++) {
		const struct ack_group *g = res->acks[i];

		if ((r = ack_number(x, tid, i, g->status, &ctl)) != 0)
			goto out;
		x_free(text);
		x_free(path);
		text = ack_text(g, ctl, our_q, our_id, (long long)td_time());
		path = xasprintf("%s/997-%09lu.x12", dir, ctl);
		if ((r = td_write_file_atomic(path, text, strlen(text))) != 0)
			goto out;
		td_log(TD_LOG_INFO, "ack_written", "transmission_id=%s "
		    "group=%s status=%s control_number=%lu file=%s", tid,
		    g->gs06, g->status == 'A' ? "A" : g->status == 'P' ? "P" :
		    "R", ctl, path);
	}
	r = td_fsync_dir(dir);
 out:
	if (r != 0)
		td_log(TD_LOG_ERROR, "ack_failed", "transmission_id=%s error=%s",
		    tid, td_errstr(r));
	x_free(text);
	x_free(path);
	x_free(dir);
	return r;
}
