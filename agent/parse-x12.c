/*
 * parse-x12.c - format = x12 behind the parser ops (parser.h): the X12
 * reader (x12.c) fed with a document's decoded text, and the built-in
 * mapping of 852 (Product Activity Data) and 867 (Product Transfer and
 * Resale Report) segments to the virtual columns of parser_x12.map.
 *
 *   column 1  store_id          852: SDQ location, else N104 of the
 *                               last N1 (N902 when N1 has no N104);
 *                               867: N104 of the PTD loop's N1*ST
 *   column 2  gtin              LIN: UP, UI/UN (11 digits: the check
 *                               digit is computed), EN, UK, first found
 *                               in that order
 *   column 3  retailer_item_id  LIN: IN, VN, VC, BP, SK, first found
 *   column 4  txn_date          852: XQ03, else XQ02; 867: the QTY
 *                               loop's DTM*003, else DTM*091, else BPT03
 *   column 5  period_start      852: XQ02; 867: DTM*090
 *   column 6  quantity          852: SDQ quantity, else ZA02; 867: QTY02
 *   column 7  uom               852: ZA03, else SDQ01; 867: QTY03
 *   column 8  amount            867: AMT02 of AMT*1 (line item total)
 *
 * A record's position is its ZA, SDQ (852) or QTY (867) segment.
 * Dates of 6 digits (003030) are YYMMDD: 00-49 is 20YY, 50-99 19YY.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "td.h"
#include "ack.h"
#include "conf.h"
#include "gtin.h"
#include "map.h"
#include "parser.h"
#include "x12.h"

#define VAL_MAX		128
#define NCOL		8

enum { C_STORE, C_GTIN, C_ITEM, C_DATE, C_PSTART, C_QTY, C_UOM, C_AMT };

struct val {
	char		 s[VAL_MAX];
	size_t		 n;
	int		 over;		/* longer than VAL_MAX: not kept */
};

struct px12 {
	struct emitter	*e;
	struct x12	*x;
	struct ack_builder *ack;
	char * const	*act;		/* x12_activity */
	size_t		 nact;
	char * const	*tra;		/* x12_transfer */
	size_t		 ntra;
	int		 set;		/* 852, 867 or 0 */
	/* the set's context */
	struct val	 start, end, bpt, loc, gtin, item;
	struct val	 pstart, pend;	/* 867: DTM*090/091 of the PTD loop */
	uint64_t	 lin_ord;
	int		 in_ptd, ptd_on, in_qty;
	/* a record that waits for the segments after it (852: SDQ after
	 * ZA; 867: LIN, AMT, DTM after QTY) */
	int		 pending, pend_sdq;
	uint64_t	 pend_ord;
	struct val	 qty, uom, amt, date, store;
	/* a ZA whose code is not in x12_activity: its quantities (one,
	 * or its SDQ pairs) are counted as skipped, by code */
	int		 skipping, skip_sdq;
	struct val	 skip;
	int		 xwalk;		/* crosswalk_file is set */
	char		 raw[X12_MAX_SEGMENT];
	size_t		 rawlen;
};

static const char *gtin_q[] = { "UP", "UI", "UN", "EN", "UK" };
static const char *item_q[] = { "IN", "VN", "VC", "BP", "SK" };

/* The parser's mapping of its virtual columns (see the top). */
static const char *const x12_map[] = {
	"store_id", "column 1",
	"gtin", "column 2 gtin",
	"retailer_item_id", "column 3",
	"txn_date", "column 4 date \"%Y%m%d\"",
	"period_start", "column 5 date \"%Y%m%d\"",
	"quantity", "column 6 decimal",
	"uom", "column 7",
	"amount", "column 8 decimal",
	NULL
};

static void
val_set(struct val *v, const struct td_field *f)
{
	const char *p = f->p;
	size_t n = f->len;

	/* blanks around a value are padding ("EA ") */
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	v->over = n > VAL_MAX;
	v->n = v->over ? 0 : n;
	if (!v->over)
		memcpy(v->s, p, n);
}

static void
val_clear(struct val *v)
{
	v->n = 0;
	v->over = 0;
}

/* Element i of s, or an empty one. */
static const struct td_field *
elem(const struct x12_seg *s, size_t i)
{
	static const struct td_field none = { "", 0 };

	return i < s->nel ? &s->el[i] : &none;
}

/* A date element: CCYYMMDD as is, YYMMDD given its century. */
static void
date_set(struct val *v, const struct td_field *f)
{
	size_t i;
	int digits = 1;

	val_set(v, f);
	for (i = 0; i < v->n; i++)
		digits &= v->s[i] >= '0' && v->s[i] <= '9';
	if (digits && v->n == 6) {
		memmove(v->s + 2, v->s, 6);
		memcpy(v->s, v->s[2] < '5' ? "20" : "19", 2);
		v->n = 8;
	}
}

/*
 * A date of digits that is not CCYYMMDD once date_set() is done: the
 * mapping's "%Y%m%d" reads one or two digits of month and day, and would
 * take "2026118" for 2026-11-08 when it may be 2026-01-18.
 */
static int
date_odd(const struct val *v)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (v->s[i] < '0' || v->s[i] > '9')
			return 0;	/* the mapping refuses it: bad_date */
	return v->n > 0 && v->n != 8;
}

static int
in_list(char * const *l, size_t n, const struct td_field *f)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (x12_is(f, l[i]))
			return 1;
	return 0;
}

/*
 * The id of the first qualifier of q (n) that LIN pairs hold; returns
 * that qualifier, or NULL.
 */
static const char *
lin_pick(struct val *v, const struct x12_seg *s, const char **q, size_t n)
{
	size_t i, k;

	val_clear(v);
	for (i = 0; i < n; i++)
		for (k = 2; k + 1 < s->nel; k += 2)
			if (x12_is(&s->el[k], q[i]) && s->el[k + 1].len > 0) {
				val_set(v, &s->el[k + 1]);
				return q[i];
			}
	return NULL;
}

/* LIN: the GTIN and the retailer's item id from its qualifier pairs. */
static void
lin_read(struct px12 *px, const struct x12_seg *s)
{
	const char *q;
	int check;

	px->lin_ord = s->ordinal;
	q = lin_pick(&px->gtin, s, gtin_q, TD_NELEM(gtin_q));
	/* UI and UN: an 11-digit U.P.C. without its check digit. Not UP
	 * or EN: 11 digits there are a code that lost a digit (a leading
	 * zero, to a spreadsheet), which the gtin transform refuses, not
	 * the body of another product's code */
	if (q != NULL && (strcmp(q, "UI") == 0 || strcmp(q, "UN") == 0) &&
	    px->gtin.n == 11 && (check = td_gtin_check_digit(px->gtin.s,
	    11)) >= 0) {
		px->gtin.s[11] = (char)('0' + check);
		px->gtin.n = 12;
	}
	(void)lin_pick(&px->item, s, item_q, TD_NELEM(item_q));
}

static void
col(struct td_field *f, const struct val *v)
{
	f->p = v->s;
	f->len = v->n;
}

/* One record: the context and its own store, quantity and uom. */
static int
record(struct px12 *px, const struct val *store, const struct val *qty,
    uint64_t ord, const char *raw, size_t rawlen)
{
	struct td_field f[NCOL];
	struct prec pr;
	char msg[256], show[64];
	const struct val *date, *vals[NCOL];
	size_t i;

	memset(&pr, 0, sizeof(pr));
	pr.pos = ord;
	pr.raw = raw;
	pr.rawlen = rawlen;
	if (px->set == 852) {
		date = px->end.n > 0 ? &px->end : &px->start;
	} else {
		date = px->date.n > 0 ? &px->date : px->pend.n > 0 ?
		    &px->pend : px->end.n > 0 ? &px->end : &px->bpt;
	}
	vals[C_STORE] = store;
	vals[C_GTIN] = &px->gtin;
	vals[C_ITEM] = &px->item;
	vals[C_DATE] = date;
	vals[C_PSTART] = px->set != 852 && px->pstart.n > 0 ? &px->pstart :
	    &px->start;
	vals[C_QTY] = qty;
	vals[C_UOM] = &px->uom;
	vals[C_AMT] = &px->amt;
	for (i = 0; i < NCOL; i++) {
		col(&f[i], vals[i]);
		if (vals[i]->over && pr.code == NULL) {
			pr.code = "field_too_long";
			snprintf(msg, sizeof(msg), "segment %llu: a value for "
			    "column %zu is longer than %d bytes",
			    (unsigned long long)ord, i + 1, VAL_MAX);
			pr.msg = msg;
		}
	}
	if (pr.code == NULL && px->gtin.n == 0 &&
	    (px->item.n == 0 || !px->xwalk)) {
		pr.code = "unmapped_item";
		if (px->lin_ord == 0)
			snprintf(msg, sizeof(msg), "segment %llu: no LIN "
			    "segment names the item", (unsigned long long)ord);
		else
			snprintf(msg, sizeof(msg), "segment %llu: the LIN at "
			    "segment %llu has no GTIN (UP, UI, UN, EN or UK); "
			    "retailer item \"%s\"", (unsigned long long)ord,
			    (unsigned long long)px->lin_ord,
			    mapper_shown(px->item.s, px->item.n, show,
			    sizeof(show)));
		pr.msg = msg;
	}
	if (pr.code == NULL && store->n == 0) {
		pr.code = "empty_value";
		snprintf(msg, sizeof(msg), "segment %llu: store_id is empty: "
		    "%s", (unsigned long long)ord, px->set == 852 ?
		    "no SDQ location and no N1 (N104) or N9 location before "
		    "it" : "its PTD loop has no N1*ST with N104");
		pr.msg = msg;
	}
	/* after the item and the store, as in record order */
	for (i = C_DATE; i <= C_PSTART && pr.code == NULL; i++)
		if (date_odd(vals[i])) {
			pr.code = "bad_date";
			snprintf(msg, sizeof(msg), "segment %llu: %s \"%s\" "
			    "is not a date CCYYMMDD (or YYMMDD)",
			    (unsigned long long)ord, i == C_DATE ? "txn_date" :
			    "period_start", mapper_shown(vals[i]->s,
			    vals[i]->n, show, sizeof(show)));
			pr.msg = msg;
		}
	pr.f = f;
	pr.nf = NCOL;
	return emit_record(px->e, &pr);
}

/* 852: ZA then SDQ pairs, or the ZA alone at the N1 location. */
static int
flush_852(struct px12 *px)
{
	int r = 0;

	if (px->skipping && !px->skip_sdq)
		emit_skipped(px->e, px->skip.s, px->skip.n, 1);
	px->skipping = 0;

	if (px->pending && !px->pend_sdq)
		r = record(px, &px->loc, &px->qty, px->pend_ord, px->raw,
		    px->rawlen);
	px->pending = 0;
	return r;
}

static int
sdq_records(struct px12 *px, const struct x12_seg *s)
{
	struct val store, qty;
	size_t k;
	int r;

	px->pend_sdq = 1;
	if (px->uom.n == 0)
		val_set(&px->uom, elem(s, 1));
	for (k = 3; k < s->nel; k += 2) {
		if (s->el[k].len == 0 && elem(s, k + 1)->len == 0)
			continue;
		val_set(&store, &s->el[k]);
		val_set(&qty, elem(s, k + 1));
		if ((r = record(px, &store, &qty, s->ordinal, s->raw,
		    s->rawlen)) != 0)
			return r;
	}
	return 0;
}

/* The location/quantity pairs of an SDQ that are not both empty. */
static uint64_t
sdq_pairs(const struct x12_seg *s)
{
	uint64_t n = 0;
	size_t k;

	for (k = 3; k < s->nel; k += 2)
		if (s->el[k].len > 0 || elem(s, k + 1)->len > 0)
			n++;
	return n;
}

static void
pend(struct px12 *px, const struct x12_seg *s)
{
	px->pending = 1;
	px->pend_sdq = 0;
	px->pend_ord = s->ordinal;
	px->rawlen = s->rawlen < sizeof(px->raw) ? s->rawlen : sizeof(px->raw);
	memcpy(px->raw, s->raw, px->rawlen);
}

static int
seg_852(struct px12 *px, const struct x12_seg *s, const struct td_field *id)
{
	int r;

	if (px->pending && x12_is(id, "SDQ"))
		return sdq_records(px, s);
	if (px->skipping && x12_is(id, "SDQ")) {
		px->skip_sdq = 1;
		emit_skipped(px->e, px->skip.s, px->skip.n, sdq_pairs(s));
		return 0;
	}
	if ((r = flush_852(px)) != 0)
		return r;
	if (x12_is(id, "XQ")) {
		date_set(&px->start, elem(s, 2));
		date_set(&px->end, elem(s, 3));
	} else if (x12_is(id, "N1")) {
		val_set(&px->loc, elem(s, 4));
	} else if (x12_is(id, "N9")) {
		if (px->loc.n == 0)
			val_set(&px->loc, elem(s, 2));
	} else if (x12_is(id, "LIN")) {
		lin_read(px, s);
	} else if (x12_is(id, "ZA")) {
		if (!in_list(px->act, px->nact, elem(s, 1))) {
			px->skipping = 1;
			px->skip_sdq = 0;
			val_set(&px->skip, elem(s, 1));
			return 0;
		}
		pend(px, s);
		val_set(&px->qty, elem(s, 2));
		val_set(&px->uom, elem(s, 3));
	}
	return 0;
}

/* 867: a QTY record is complete at the next QTY, PTD, CTT or SE. */
static int
flush_867(struct px12 *px)
{
	int r = 0;

	if (px->pending)
		r = record(px, &px->store, &px->qty, px->pend_ord, px->raw,
		    px->rawlen);
	px->pending = 0;
	return r;
}

static int
seg_867(struct px12 *px, const struct x12_seg *s, const struct td_field *id)
{
	int r;

	if (x12_is(id, "QTY") || x12_is(id, "PTD") || x12_is(id, "CTT") ||
	    x12_is(id, "SE")) {
		if ((r = flush_867(px)) != 0)
			return r;
		px->in_qty = 0;
	}
	if (x12_is(id, "BPT")) {
		date_set(&px->bpt, elem(s, 3));
	} else if (x12_is(id, "DTM")) {
		if (px->in_qty && x12_is(elem(s, 1), "003"))
			date_set(&px->date, elem(s, 2));
		else if (!px->in_qty && x12_is(elem(s, 1), "090"))
			date_set(px->in_ptd ? &px->pstart : &px->start,
			    elem(s, 2));
		else if (!px->in_qty && x12_is(elem(s, 1), "091"))
			date_set(px->in_ptd ? &px->pend : &px->end,
			    elem(s, 2));
	} else if (x12_is(id, "PTD")) {
		px->in_ptd = 1;
		px->ptd_on = in_list(px->tra, px->ntra, elem(s, 1));
		val_clear(&px->store);
		/* a PTD loop's own period, more precise than the header's */
		val_clear(&px->pstart);
		val_clear(&px->pend);
	} else if (x12_is(id, "N1")) {
		if (px->in_ptd && !px->in_qty && x12_is(elem(s, 1), "ST"))
			val_set(&px->store, elem(s, 4));
	} else if (x12_is(id, "QTY")) {
		if (!px->in_ptd || !px->ptd_on)
			return 0;
		px->in_qty = 1;
		pend(px, s);
		val_set(&px->qty, elem(s, 2));
		val_set(&px->uom, elem(s, 3));
		val_clear(&px->amt);
		val_clear(&px->date);
		val_clear(&px->gtin);
		val_clear(&px->item);
		px->lin_ord = 0;
	} else if (x12_is(id, "LIN")) {
		if (px->in_qty)
			lin_read(px, s);
	} else if (x12_is(id, "AMT")) {
		if (px->in_qty && x12_is(elem(s, 1), "1"))
			val_set(&px->amt, elem(s, 2));
	}
	return 0;
}

static void
set_begin(struct px12 *px, const struct x12_seg *s)
{
	px->set = x12_is(elem(s, 1), "852") ? 852 : 867;
	val_clear(&px->start);
	val_clear(&px->end);
	val_clear(&px->bpt);
	val_clear(&px->pstart);
	val_clear(&px->pend);
	val_clear(&px->loc);
	val_clear(&px->gtin);
	val_clear(&px->item);
	val_clear(&px->amt);
	val_clear(&px->date);
	val_clear(&px->store);
	px->lin_ord = 0;
	px->in_ptd = px->ptd_on = px->in_qty = 0;
	px->pending = 0;
	px->skipping = 0;
}

static int
px12_segment(void *arg, const struct x12_seg *s)
{
	struct px12 *px = arg;
	const struct td_field *id = &s->el[0];
	struct ack_group *g;
	int r;

	if ((g = ack_segment(px->ack, s)) != NULL)
		emit_ack(px->e, g);

	if (x12_is(id, "ST")) {
		set_begin(px, s);
		return 0;
	}
	if (px->set == 0)
		return 0;
	/*
	 * SE ends the set: its last record is flushed while the set is
	 * still known (an 852's date is its XQ's, which a record made
	 * after the reset took for an 867's, empty with XQ02 alone)
	 */
	if (px->set == 852) {
		if (x12_is(id, "SE")) {
			r = flush_852(px);
			px->set = 0;
			return r;
		}
		return seg_852(px, s, id);
	}
	if (x12_is(id, "SE")) {
		r = flush_867(px);
		px->set = 0;
		return r;
	}
	return seg_867(px, s, id);
}

static int
px12_fail(struct px12 *px)
{
	struct ack_group *g;
	const char *code, *msg;
	uint64_t ord;

	if ((g = ack_fault(px->ack, px->x)) != NULL)
		emit_ack(px->e, g);
	code = x12_fault(px->x, &ord, &msg);
	return emit_fail_at(px->e, ord, code, "%s", msg);
}

static void
px12_free(void *state)
{
	struct px12 *px = state;

	if (px == NULL)
		return;
	x12_free(px->x);
	ack_builder_free(px->ack);
	x_free(px);
}

static int
px12_open(void **state, const struct td_conf *c, struct emitter *e)
{
	static const char *const sets[] = { "852", "867", NULL };
	static const char *const versions[] = { "003030", "004010", "005010",
	    NULL };
	struct x12_opts o = { sets, versions };
	struct px12 *px;

	*state = NULL;
	px = xcalloc(1, sizeof(*px));
	px->e = e;
	px->x = x12_new(&o);
	px->ack = ack_builder_new();
	px->act = td_conf_list(c, TDK_parse_x12_activity, &px->nact);
	px->tra = td_conf_list(c, TDK_parse_x12_transfer, &px->ntra);
	/* with a crosswalk an item without a GTIN is looked up by the
	 * mapper, by its retailer item id */
	px->xwalk = td_conf_str(c, TDK_map_crosswalk_file) != NULL;
	*state = px;
	/* the virtual columns are named by number */
	return emit_header(e, NULL, 0, 0);
}

static int
px12_feed(void *state, const char *text, size_t n)
{
	struct px12 *px = state;
	int r;

	r = x12_feed(px->x, text, n, px12_segment, px);
	if (r == X12_FAULT)
		return px12_fail(px);
	return r;
}

static int
px12_finish(void *state)
{
	struct px12 *px = state;
	int r;

	r = x12_finish(px->x, px12_segment, px);
	if (r == X12_FAULT)
		return px12_fail(px);
	return r;
}

const struct parser_ops parser_x12 = {
	.name = "x12",
	.position = "segment",
	.map = x12_map,
	.open = px12_open,
	.feed = px12_feed,
	.finish = px12_finish,
	.free = px12_free,
	/* a mixed document is refused whole: a segment is read with the
	 * ones before it (an N1 names the store of the records after it),
	 * so one cannot be dropped alone */
	.bad_rows = 0,
};
