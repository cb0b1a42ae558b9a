/*
 * xtable.c - crosswalk and promotion tables; see xtable.h.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "td.h"
#include "buf.h"
#include "csv.h"
#include "date.h"
#include "decimal.h"
#include "fsutil.h"
#include "gtin.h"
#include "hash.h"
#include "xtable.h"

#define XT_MAX_ROWS	(16u << 20)
#define XT_MAX_KEY	256
#define NO_FROM		INT32_MIN
#define NO_TO		INT32_MAX

struct xrow {
	uint32_t	 key, klen;	/* key: offset in the arena */
	int32_t		 from, to;	/* valid days, inclusive */
	uint32_t	 val[3];	/* offsets in the arena */
	uint32_t	 ngroup;	/* rows of this key, at a group's first */
	struct xt_row	 r;
};

struct xtable {
	int		 kind;
	struct xrow	*rows;
	size_t		 nrows, cap;
	struct td_buf	 arena;
	uint32_t	*slots;		/* group's first row + 1; 0: empty */
	size_t		 nslots;
	int		 dated;
	size_t		 maxv;		/* the longest value */
	char		 sha256[TD_SHA256_HEX];
	char		*bytes;
	size_t		 len;
	/* the hash's key, random: a table cannot be made to collide */
	unsigned char	 hkey[crypto_shorthash_KEYBYTES];
};

/* The columns of each kind: the key, up to 3 values, 2 dates. */
static const char *const cols[3][7] = {
	{ NULL },
	{ "retailer_item_id", "gtin", NULL, NULL, "effective_from",
	    "effective_to", NULL },
	{ "promo_code", "promo_id", "promo_type", "discount", "valid_from",
	    "valid_to", NULL },
};
#define C_KEY	0
#define C_FROM	4
#define C_TO	5
#define NCOLS	6

struct loader {
	struct xtable	*t;
	const char	*path;
	int		 col[NCOLS];	/* field index of each column, or -1 */
	int		 header;
	char		*err;
};

static const char *const promo_types[] = { "tpr", "bogo", "markdown",
    "coupon", "display", "feature", "other" };

static int
lerr(struct loader *l, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
lerr(struct loader *l, uint64_t line, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	l->err = xasprintf("%s:%llu: %s", l->path, (unsigned long long)line,
	    msg);
	return TD_ERR_FORMAT;
}

static void
trimmed(const struct td_field *f, const char **p, size_t *n)
{
	*p = f->p;
	*n = f->len;
	while (*n > 0 && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
		(*n)--;
}

static uint32_t
arena_put(struct xtable *t, const char *p, size_t n)
{
	uint32_t off = (uint32_t)t->arena.len;

	td_buf_append(&t->arena, p, n);
	td_buf_putc(&t->arena, '\0');
	return off;
}

static int
header(struct loader *l, const struct csv_rec *r)
{
	const char *p;
	size_t i, n;
	int c;

	for (c = 0; c < NCOLS; c++)
		l->col[c] = -1;
	for (i = 0; i < r->nf; i++) {
		trimmed(&r->f[i], &p, &n);
		for (c = 0; c < NCOLS; c++)
			if (cols[l->t->kind][c] != NULL &&
			    strlen(cols[l->t->kind][c]) == n &&
			    memcmp(cols[l->t->kind][c], p, n) == 0)
				break;
		if (c == NCOLS)
			return lerr(l, r->line, "unknown column \"%.*s\" (the "
			    "header names %s, %s%s%s%s%s and the optional dates "
			    "%s, %s)", (int)(n > 64 ? 64 : n), p,
			    cols[l->t->kind][0], cols[l->t->kind][1],
			    cols[l->t->kind][2] ? ", " : "",
			    cols[l->t->kind][2] ? cols[l->t->kind][2] : "",
			    cols[l->t->kind][3] ? " and the optional " : "",
			    cols[l->t->kind][3] ? cols[l->t->kind][3] : "",
			    cols[l->t->kind][C_FROM], cols[l->t->kind][C_TO]);
		if (l->col[c] >= 0)
			return lerr(l, r->line, "column \"%s\" given twice",
			    cols[l->t->kind][c]);
		l->col[c] = (int)i;
	}
	for (c = 0; c < (l->t->kind == XT_PROMO ? 3 : 2); c++)
		if (l->col[c] < 0)
			return lerr(l, r->line, "the header has no column "
			    "\"%s\"", cols[l->t->kind][c]);
	return 0;
}

/* An optional date column: its day, or dflt when empty. */
static int
date_col(struct loader *l, const struct csv_rec *r, int c, int32_t dflt,
    int32_t *out)
{
	struct td_date d;
	const char *p;
	size_t n;

	*out = dflt;
	if (l->col[c] < 0)
		return 0;
	trimmed(&r->f[l->col[c]], &p, &n);
	if (n == 0)
		return 0;
	if (td_date_parse_iso(p, n, &d) != 0)
		return lerr(l, r->line, "%s: \"%.*s\" is not a date "
		    "YYYY-MM-DD", cols[l->t->kind][c], (int)(n > 32 ? 32 : n), p);
	*out = td_date_to_days(&d);
	l->t->dated = 1;
	return 0;
}

static int
row(struct loader *l, const struct csv_rec *r)
{
	struct xtable *t = l->t;
	struct xrow *x;
	struct td_dec dec;
	const char *p, *why;
	char g[15], ck[40];
	size_t n, i;
	int c, want;

	if (r->err != 0)
		return lerr(l, r->line, "not CSV (%s)", csv_errcode(r->err));
	for (c = 0; c < NCOLS; c++)
		if (l->col[c] >= (int)r->nf)
			return lerr(l, r->line, "%zu fields, the header has "
			    "more", r->nf);
	if (t->nrows == XT_MAX_ROWS)
		return lerr(l, r->line, "more than %u rows", XT_MAX_ROWS);
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 1024;
		t->rows = xreallocarray(t->rows, t->cap, sizeof(*t->rows));
	}
	x = &t->rows[t->nrows];
	memset(x, 0, sizeof(*x));
	x->r.line = (uint32_t)r->line;
	trimmed(&r->f[l->col[C_KEY]], &p, &n);
	if (n == 0 || n > XT_MAX_KEY)
		return lerr(l, r->line, "%s is empty or longer than %d bytes",
		    cols[t->kind][C_KEY], XT_MAX_KEY);
	x->key = arena_put(t, p, n);
	x->klen = (uint32_t)n;
	for (i = 0; i < 3; i++) {
		if (cols[t->kind][1 + i] == NULL || l->col[1 + i] < 0) {
			x->val[i] = arena_put(t, "", 0);
			continue;
		}
		trimmed(&r->f[l->col[1 + i]], &p, &n);
		if (t->kind == XT_CROSSWALK) {
			/* the GTIN, normalised and verified */
			if (td_gtin_normalize_want(p, n, 0, g, &why,
			    &want) != 0) {
				ck[0] = '\0';
				if (want >= 0)
					snprintf(ck, sizeof(ck), ": check "
					    "digit %c, expected %d", p[n - 1],
					    want);
				return lerr(l, r->line, "gtin \"%.*s\" is not a "
				    "valid GTIN (%s%s)", (int)(n > 32 ? 32 : n),
				    p, why, ck);
			}
			p = g;
			n = 14;
		} else if (i == 0 && n == 0)
			return lerr(l, r->line, "promo_id is empty");
		else if (i == 1) {
			for (c = 0; c < (int)TD_NELEM(promo_types); c++)
				if (strlen(promo_types[c]) == n &&
				    memcmp(promo_types[c], p, n) == 0)
					break;
			if (c == (int)TD_NELEM(promo_types))
				return lerr(l, r->line, "promo_type \"%.*s\" is "
				    "not tpr, bogo, markdown, coupon, display, "
				    "feature or other", (int)(n > 32 ? 32 : n),
				    p);
		} else if (i == 2 && n > 0) {
			/* "10%" of the amount, or an amount per unit */
			size_t m = n > 0 && p[n - 1] == '%' ? n - 1 : n;

			if (td_dec_parse(p, m, 0, &dec) != 0 ||
			    td_dec_sign(&dec) < 0 ||
			    (m < n && td_dec_cmp(&dec, &(struct td_dec){ 100,
			    0 }) > 0))
				return lerr(l, r->line, "discount \"%.*s\" is "
				    "neither a percentage (\"10%%\", 0 to 100) "
				    "nor an amount per unit (\"0.50\")",
				    (int)(n > 32 ? 32 : n), p);
		}
		x->val[i] = arena_put(t, p, n);
	}
	if (date_col(l, r, C_FROM, NO_FROM, &x->from) != 0 ||
	    date_col(l, r, C_TO, NO_TO, &x->to) != 0)
		return TD_ERR_FORMAT;
	if (x->from > x->to)
		return lerr(l, r->line, "%s is after %s", cols[t->kind][C_FROM],
		    cols[t->kind][C_TO]);
	t->nrows++;
	return 0;
}

static int
load_cb(void *arg, const struct csv_rec *r)
{
	struct loader *l = arg;

	if (!l->header) {
		l->header = 1;
		if (r->err != 0)
			return lerr(l, r->line, "the header is not CSV (%s)",
			    csv_errcode(r->err));
		return header(l, r);
	}
	return row(l, r);
}

static const struct xtable *sort_table;

static int
keycmp(const struct xtable *t, const struct xrow *a, const struct xrow *b)
{
	size_t n = a->klen < b->klen ? a->klen : b->klen;
	int c = memcmp(t->arena.p + a->key, t->arena.p + b->key, n);

	if (c != 0)
		return c;
	return a->klen < b->klen ? -1 : a->klen > b->klen;
}

static int
rowcmp(const void *va, const void *vb)
{
	const struct xrow *a = va, *b = vb;
	int c = keycmp(sort_table, a, b);

	if (c != 0)
		return c;
	if (a->from != b->from)
		return a->from < b->from ? -1 : 1;
	return a->r.line < b->r.line ? -1 : 1;
}

/*
 * SipHash under the table's random key: an unkeyed hash (FNV) let a
 * table of keys chosen to share their low bits load in quadratic time.
 */
static uint64_t
xhash(const struct xtable *t, const char *p, size_t n)
{
	union {
		unsigned char	 b[crypto_shorthash_BYTES];
		uint64_t	 v;
	} h;

	crypto_shorthash(h.b, (const unsigned char *)p, n, t->hkey);
	return h.v;
}

/* Sort, refuse overlaps, point values into the arena, build the hash. */
static int
index_rows(struct loader *l)
{
	struct xtable *t = l->t;
	struct xrow *x;
	size_t i, j, k, ngroups = 0;
	uint64_t h;

	sort_table = t;
	if (t->nrows > 0)	/* rows is NULL for a header alone */
		qsort(t->rows, t->nrows, sizeof(*t->rows), rowcmp);
	sort_table = NULL;
	for (i = 0; i < t->nrows; i = j) {
		for (j = i + 1; j < t->nrows &&
		    keycmp(t, &t->rows[i], &t->rows[j]) == 0; j++)
			if (t->rows[j - 1].to >= t->rows[j].from)
				return lerr(l, t->rows[j].r.line > t->rows[j -
				    1].r.line ? t->rows[j].r.line :
				    t->rows[j - 1].r.line, "\"%s\" is also on "
				    "line %u for %s: a key maps once on any "
				    "day", t->arena.p + t->rows[j].key,
				    t->rows[j].r.line < t->rows[j - 1].r.line ?
				    t->rows[j].r.line : t->rows[j - 1].r.line,
				    t->dated ? "overlapping dates" : "all dates");
		t->rows[i].ngroup = (uint32_t)(j - i);
		ngroups++;
	}
	for (i = 0; i < t->nrows; i++) {
		x = &t->rows[i];
		for (k = 0; k < 3; k++) {
			x->r.v[k] = t->arena.p + x->val[k];
			if (strlen(x->r.v[k]) > t->maxv)
				t->maxv = strlen(x->r.v[k]);
		}
	}
	for (t->nslots = 16; t->nslots < 2 * ngroups; t->nslots *= 2)
		;
	t->slots = xcalloc(t->nslots, sizeof(*t->slots));
	for (i = 0; i < t->nrows; i += t->rows[i].ngroup) {
		h = xhash(t, t->arena.p + t->rows[i].key, t->rows[i].klen);
		for (k = h & (t->nslots - 1); t->slots[k] != 0;
		    k = (k + 1) & (t->nslots - 1))
			;
		t->slots[k] = (uint32_t)i + 1;
	}
	return 0;
}

int
xtable_load(int kind, const char *path, struct xtable **out, char **err)
{
	struct loader l;
	struct xtable *t;
	struct csv *csv;
	int r;

	*out = NULL;
	*err = NULL;
	if (sodium_init() < 0)
		td_fatal("sodium_init failed");
	t = xcalloc(1, sizeof(*t));
	t->kind = kind;
	randombytes_buf(t->hkey, sizeof(t->hkey));
	td_buf_init(&t->arena, 4096, 0);
	memset(&l, 0, sizeof(l));
	l.t = t;
	l.path = path;
	if ((r = td_read_file(path, XT_MAX_BYTES, &t->bytes, &t->len)) != 0) {
		*err = xasprintf("%s: %s", path, r == TD_ERR_LIMIT ?
		    "larger than 256 MiB" : td_strerror(r));
		xtable_free(t);
		return r;
	}
	td_sha256_hex(t->bytes, t->len, t->sha256);
	if ((csv = csv_new(NULL)) == NULL)
		td_fatal("csv_new");
	r = csv_feed(csv, t->bytes, t->len, load_cb, &l);
	if (r == 0)
		r = csv_finish(csv, load_cb, &l);
	csv_free(csv);
	if (r == 0 && !l.header)
		r = lerr(&l, 1, "empty: a table needs a header line");
	if (r == 0)
		r = index_rows(&l);
	if (r != 0) {
		*err = l.err != NULL ? l.err : xasprintf("%s: %s", path,
		    td_strerror(r));
		xtable_free(t);
		return r;
	}
	*out = t;
	return 0;
}

void
xtable_free(struct xtable *t)
{
	if (t == NULL)
		return;
	x_free(t->rows);
	x_free(t->slots);
	td_buf_free(&t->arena);
	x_free(t->bytes);
	x_free(t);
}

const struct xt_row *
xtable_find(const struct xtable *t, const char *key, size_t n, int32_t day)
{
	const struct xrow *x;
	size_t k, lo, hi, mid;

	for (k = xhash(t, key, n) & (t->nslots - 1); t->slots[k] != 0;
	    k = (k + 1) & (t->nslots - 1)) {
		x = &t->rows[t->slots[k] - 1];
		if (x->klen != n || memcmp(t->arena.p + x->key, key, n) != 0)
			continue;
		/* the group's rows are sorted by date and do not overlap:
		 * the last that starts on or before day, if it holds day */
		for (lo = 0, hi = x->ngroup; hi - lo > 1; ) {
			mid = lo + (hi - lo) / 2;
			if (x[mid].from <= day)
				lo = mid;
			else
				hi = mid;
		}
		if (x[lo].from <= day && day <= x[lo].to)
			return &x[lo].r;
		return NULL;
	}
	return NULL;
}

int
xtable_dated(const struct xtable *t)
{
	return t->dated;
}

size_t
xtable_maxv(const struct xtable *t)
{
	return t->maxv;
}

size_t
xtable_rows(const struct xtable *t)
{
	return t->nrows;
}

size_t
xtable_memory(const struct xtable *t)
{
	return t->cap * sizeof(*t->rows) + t->arena.cap +
	    t->nslots * sizeof(*t->slots) + sizeof(*t);
}

const char *
xtable_sha256(const struct xtable *t)
{
	return t->sha256;
}

const char *
xtable_bytes(const struct xtable *t, size_t *len)
{
	*len = t->len;
	return t->bytes;
}

void
xtable_drop_bytes(struct xtable *t)
{
	x_free(t->bytes);
	t->bytes = NULL;
	t->len = 0;
}
