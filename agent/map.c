/*
 * map.c - the [map] section applied to the field values of parsed
 * records: canonical records, whatever the format.
 *
 * Hot path: no allocation per record. Field values are pointers into
 * the parser's record or into per-field scratch buffers; the JSON line
 * is appended to the caller's batch buffer directly.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "td.h"
#include "buf.h"
#include "conf.h"
#include "currency.h"
#include "date.h"
#include "fsutil.h"
#include "decimal.h"
#include "fiscal.h"
#include "gtin.h"
#include "hash.h"
#include "json.h"
#include "mapexpr.h"
#include "num.h"
#include "parser.h"
#include "map.h"
#include "xtable.h"

#define PERIOD_DAY		0
#define PERIOD_WEEK_ENDING	1	/* the date ends a week */
#define PERIOD_WEEK_STARTING	2	/* the date starts a week */

/*
 * Bumped whenever the mapping semantics change: part of mapping_version,
 * so that a file mapped before a change can be replayed under it (replay
 * refuses the same mapping_version) and its batches get new keys.
 * 3: an 11-digit UP or EN id of an X12 LIN is gtin_length (it was given
 * a check digit: another product's code), an X12 date of digits other
 * than 8 is bad_date (it was read as one-digit month or day), and so is
 * any date of a format with directives of digits side by side (%Y%m%d)
 * not at their full width (date.c); upper gives a value longer than
 * max_field + 64 (a default, a constant) whole, not cut; decimal
 * group=" " reads the no-break spaces U+00A0 and U+202F (decimal.c).
 * 4: a CSV row with more fields than the header is extra_field (a value
 * split by an unquoted delimiter moved the fields after it), an 852's
 * last ZA before SE with XQ02 alone is dated (it was empty_value), an
 * 867 PTD loop's DTM*090/091 date its records (BPT03 did), and X12
 * dead letters name their segment.
 * 5: the minor unit of a currency is ISO 4217 List one's (currency.c):
 * CLF and UYW amounts have 4 decimals (a 4-decimal one was amount_scale,
 * others were written with 2), and a second date transform of an
 * expression reads with its own format (it took the first's answer).
 * 6: under encoding = auto, two two-byte UTF-8 sequences side by side
 * (Greek, Cyrillic...) are evidence of UTF-8 (decode.c): such a document
 * with a stray byte is mixed (it was read as Windows-1252).
 */
#define MAPPER_SEMANTICS	"tradedrop.pos.v1 mapper 6"

enum mf {			/* canonical fields a [map] key can feed,
				 * in record order: rejections name them so */
	MF_STORE_ID, MF_RETAILER_ITEM_ID, MF_GTIN, MF_TXN_DATE, MF_TXN_TIME,
	MF_TXN_REF, MF_PERIOD_START, MF_QUANTITY, MF_UOM, MF_AMOUNT,
	MF_CURRENCY, MF_PROMO_CODE, MF__COUNT
};

static const struct {
	int		 key;		/* -1: only a format's own mapping */
	const char	*name;
	int		 required;
} mfields[MF__COUNT] = {
	{ TDK_map_store_id, "store_id", 1 },
	{ TDK_map_retailer_item_id, "retailer_item_id", 0 },
	{ TDK_map_gtin, "gtin", 1 },
	{ TDK_map_txn_date, "txn_date", 1 },
	{ TDK_map_txn_time, "txn_time", 0 },
	{ TDK_map_txn_ref, "txn_ref", 0 },
	{ -1, "period_start", 0 },
	{ TDK_map_quantity, "quantity", 1 },
	{ TDK_map_uom, "uom", 0 },
	{ TDK_map_amount, "amount", 0 },
	{ TDK_map_currency, "currency", 0 },
	{ TDK_map_promo_code, "promo_code", 0 },
};

/* Record fields in output order; `key` may name those up to promo_type. */
enum rf {
	RF_STORE_ID, RF_RETAILER_ITEM_ID, RF_GTIN, RF_TXN_DATE, RF_TXN_TIME,
	RF_TXN_REF, RF_PERIOD_START, RF_QUANTITY, RF_UOM, RF_AMOUNT,
	RF_CURRENCY, RF_PROMO_CODE, RF_PROMO_ID, RF_PROMO_TYPE,
	RF_DISCOUNT_AMOUNT, RF_RESTATES, RF__COUNT
};
/* the mapped fields are the record's first ones, in the same order */
_Static_assert((int)RF_PROMO_CODE == (int)MF_PROMO_CODE,
    "record fields up to promo_code are the mapped fields");
/* ,"name": of each record field, with its length */
static const struct {
	const char	*s;
	size_t		 n;
} rf_keys[RF__COUNT] = {
#define K(x) { ",\"" x "\":", sizeof(",\"" x "\":") - 1 }
	K("store_id"), K("retailer_item_id"), K("gtin"), K("txn_date"),
	K("txn_time"), K("txn_ref"), K("period_start"), K("quantity"),
	K("uom"), K("amount"), K("currency"), K("promo_code"), K("promo_id"),
	K("promo_type"), K("discount_amount"), K("restates"),
#undef K
};
static const char *rf_names[RF__COUNT] = {
	"store_id", "retailer_item_id", "gtin", "txn_date", "txn_time",
	"txn_ref", "period_start", "quantity", "uom", "amount", "currency",
	"promo_code", "promo_id", "promo_type", "discount_amount", "restates",
};

struct mslot {
	const struct mapexpr *mx;	/* NULL: not mapped */
	int		 col;		/* 0-based column for this document */
	char		*scratch;	/* transform output */
	size_t		 scratchsz;
	/* the last date parsed: feeds repeat the same dates row after row */
	char		 date_in[32];
	size_t		 date_inlen;
	char		 date_out[TD_DATE_STRMAX];
	/* what a rejection calls the field: its name and, when the value
	 * is read from a column of the retailer's file, that column's
	 * (gtin (column "UPC"), gtin (column 3)) */
	char		 label[128];
};

struct mapper {
	char		*integration;
	struct mapexpr	*own[MF__COUNT];	/* the format's own mapping */
	char		 currency[4];
	int		 minor;			/* currency minor-unit digits */
	int		 neg_reject;
	int		 period;		/* PERIOD_* */
	struct td_calendar cal;
	int		 keys[RF__COUNT];	/* rf indexes in key order */
	int		 nkeys;
	int		 key_dated;		/* txn_date is a key field */
	struct mslot	 slot[MF__COUNT];
	char		 version[TD_SHA256_HEX];
	/* the last txn_date and what follows from it */
	char		 last_date[TD_DATE_STRMAX];
	char		 last_pstart[TD_DATE_STRMAX];
	char		 last_end[TD_DATE_STRMAX];	/* txn_date written */
	uint32_t	 last_kday;			/* its MAP_KDAY */
	char		 last_fiscal[96];
	size_t		 last_fiscal_len;
	/* per document */
	struct td_buf	 prefix;	/* after record_key up to "line": (or
					 * the format's position key) */
	struct td_buf	 suffix;	/* mapping_version and closing brace */
	struct td_buf	 idpre;		/* record_id message up to the ordinal */
	struct td_buf	 hmsg;		/* a hash's message, built whole */
	const struct map_doc *doc;
	/* the time a datetime read in this row */
	char		 row_time[TD_TIME_STRMAX];
	int		 row_timed;
	int		 dt_date;	/* txn_date's datetime fills txn_time */
	struct xtable	*xwalk;		/* crosswalk_file, or NULL */
	struct xtable	*promo;		/* promo_file, or NULL */
	char		*tpath[2];	/* their paths */
	char		*vtext;		/* what mapping_version hashes */
	int		 date_first;	/* map txn_date before the others */
	int32_t		 row_day;	/* the row's txn_date, for the tables */
	int		 row_dayok;
	char		 row_date[TD_DATE_STRMAX];
	const struct xt_row *xrow;	/* the last crosswalk row found */
	char		 discount[TD_DEC_STRMAX];
	size_t		 line_fixed;	/* mapper_row_bound's part of no value */
};

/*
 * The label of a slot, for name: the name alone for a constant, an
 * unmapped field and a format's own mapping (its virtual columns are
 * not the retailer's: an X12 dead letter names its segment), else the
 * name and the column of the retailer's file the value is read from.
 */
static void
slot_label(struct mslot *s, const char *name, int own)
{
	char show[72];

	if (own || s->mx == NULL || s->mx->src == MX_SRC_CONST)
		snprintf(s->label, sizeof(s->label), "%s", name);
	else if (s->mx->src == MX_SRC_COLUMN_NUM)
		snprintf(s->label, sizeof(s->label), "%s (column %u)", name,
		    s->mx->colnum);
	else
		snprintf(s->label, sizeof(s->label), "%s (column \"%s\")",
		    name, mapper_shown(s->mx->arg, strlen(s->mx->arg), show,
		    sizeof(show)));
}

int
mapper_new(const struct td_conf *c, struct mapper **out, char **err)
{
	struct mapper *m;
	char *text;
	char * const *keys;
	const struct parser_ops *ops;
	const char *why, *path;
	size_t nkeys, i, j, maxf;
	struct td_date d;

	*out = NULL;
	*err = NULL;
	if ((ops = parser_find(td_conf_str(c, TDK_parse_format))) == NULL) {
		*err = xasprintf("format = %s is not supported by this version",
		    td_conf_str(c, TDK_parse_format));
		return TD_ERR_INVAL;
	}
	m = xcalloc(1, sizeof(*m));
	if ((path = td_conf_str(c, TDK_map_crosswalk_file)) != NULL) {
		m->tpath[0] = xstrdup(path);
		if (xtable_load(XT_CROSSWALK, path, &m->xwalk, err) != 0)
			goto fail;
	}
	if ((path = td_conf_str(c, TDK_map_promo_file)) != NULL) {
		m->tpath[1] = xstrdup(path);
		if (xtable_load(XT_PROMO, path, &m->promo, err) != 0)
			goto fail;
	}
	m->integration = xstrdup(td_conf_str(c, TDK_integration_name));
	snprintf(m->currency, sizeof(m->currency), "%s",
	    td_conf_str(c, TDK_integration_currency));
	/* check refused any other: this is for a td_conf made otherwise */
	if ((m->minor = td_currency_minor(m->currency)) < 0) {
		*err = xasprintf("currency = %s is not an ISO 4217 currency "
		    "with a minor unit", m->currency);
		goto fail;
	}
	m->neg_reject = td_conf_enum_is(c, TDK_map_negative_quantity,
	    "reject");
	m->period = td_conf_enum_is(c, TDK_map_period, "week_ending") ?
	    PERIOD_WEEK_ENDING : td_conf_enum_is(c, TDK_map_period,
	    "week_starting") ? PERIOD_WEEK_STARTING : PERIOD_DAY;
	{
		static const char *types[] = { "gregorian", "445", "454",
		    "544" };
		const char *ys = td_conf_str(c, TDK_calendar_year_start);
		struct td_date anchor;
		int t;

		for (t = 0; t < 3 && !td_conf_enum_is(c, TDK_calendar_type,
		    types[t]); t++)
			;
		if (ys != NULL && td_date_parse_iso(ys, strlen(ys),
		    &anchor) != 0)
			ys = NULL;	/* check refused it */
		if (td_calendar_init(&m->cal, t, ys != NULL ? &anchor :
		    NULL) != 0) {
			*err = xstrdup("year_start: 29 February has no day "
			    "in most years");
			goto fail;
		}
	}
	maxf = (size_t)td_conf_u64(c, TDK_parse_max_field);

	for (i = 0; ops->map != NULL && ops->map[i] != NULL; i += 2) {
		for (j = 0; j < MF__COUNT; j++)
			if (strcmp(ops->map[i], mfields[j].name) == 0)
				break;
		if (j == MF__COUNT || m->own[j] != NULL ||
		    mapexpr_parse(ops->map[i + 1], &m->own[j], &why) != 0)
			td_fatal("format %s: bad own mapping of %s",
			    ops->name, ops->map[i]);
	}
	for (i = 0; i < MF__COUNT; i++) {
		if (ops->map != NULL)
			m->slot[i].mx = m->own[i];
		else if (mfields[i].key >= 0)
			m->slot[i].mx = td_conf_map(c, mfields[i].key);
		m->slot[i].col = -1;
		slot_label(&m->slot[i], mfields[i].name, ops->map != NULL);
		if (m->slot[i].mx == NULL)
			continue;
		if (mapexpr_find(m->slot[i].mx, MX_XF_CROSSWALK) >= 0 &&
		    m->xwalk == NULL) {
			*err = xasprintf("%s: the crosswalk transform needs "
			    "crosswalk_file", mfields[i].name);
			goto fail;
		}
		m->slot[i].scratchsz = maxf + 64;
		m->slot[i].scratch = xmalloc(m->slot[i].scratchsz);
	}
	if (m->slot[MF_TXN_DATE].mx != NULL &&
	    m->slot[MF_TXN_DATE].mx->src == MX_SRC_CONST &&
	    mapexpr_find(m->slot[MF_TXN_DATE].mx, MX_XF_DATE) < 0 &&
	    mapexpr_find(m->slot[MF_TXN_DATE].mx, MX_XF_DATETIME) < 0 &&
	    td_date_parse_iso(m->slot[MF_TXN_DATE].mx->arg,
	    strlen(m->slot[MF_TXN_DATE].mx->arg), &d) != 0) {
		*err = xstrdup("txn_date: a const needs the form YYYY-MM-DD "
		    "or a date transform");
		goto fail;
	}
	m->dt_date = m->slot[MF_TXN_DATE].mx != NULL &&
	    mapexpr_find(m->slot[MF_TXN_DATE].mx, MX_XF_DATETIME) >= 0;
	/* a date to look crosswalks up by: txn_date is mapped first */
	m->date_first = m->xwalk != NULL && xtable_dated(m->xwalk);
	keys = td_conf_list(c, TDK_map_key, &nkeys);
	for (i = 0; i < nkeys && m->nkeys < RF__COUNT; i++)
		for (j = 0; j < RF__COUNT; j++)
			if (strcmp(keys[i], rf_names[j]) == 0)
				m->keys[m->nkeys++] = (int)j;
	/* (the default key without a promo_file is settled by the
	 * config: promo_code, not promo_id) */
	for (i = 0; i < (size_t)m->nkeys; i++)
		if (m->keys[i] == RF_TXN_DATE)
			m->key_dated = 1;

	text = td_conf_mapping_text(c);
	{
		struct td_sha256 h;
		unsigned char dg[TD_SHA256_LEN];

		struct td_buf vt;

		/* what is hashed is kept: archive/mappings/ shows it */
		td_buf_init(&vt, 1024, 0);
		td_buf_puts(&vt, MAPPER_SEMANTICS "\n");
		td_buf_puts(&vt, text);
		for (i = 0; ops->map != NULL && ops->map[i] != NULL; i++) {
			td_buf_putc(&vt, '\n');
			td_buf_puts(&vt, ops->map[i]);
		}
		/* the tables by their contents, not their paths */
		if (m->xwalk != NULL)
			td_buf_printf(&vt, "\ncrosswalk=%s",
			    xtable_sha256(m->xwalk));
		if (m->promo != NULL)
			td_buf_printf(&vt, "\npromo=%s", xtable_sha256(m->promo));
		td_sha256_init(&h);
		td_sha256_update(&h, vt.p, vt.len);
		td_sha256_final(&h, dg);
		m->vtext = xstrdup(td_buf_cstr(&vt));
		td_buf_free(&vt);
		td_hex(dg, sizeof(dg), m->version);
	}
	x_free(text);
	td_buf_init(&m->prefix, 256, 0);
	td_buf_init(&m->suffix, 128, 0);
	td_buf_init(&m->idpre, 256, 0);
	td_buf_init(&m->hmsg, 1024, 0);
	*out = m;
	return TD_OK;
 fail:
	mapper_free(m);
	return TD_ERR_INVAL;
}

void
mapper_free(struct mapper *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < MF__COUNT; i++) {
		x_free(m->slot[i].scratch);
		mapexpr_free(m->own[i]);
	}
	td_buf_free(&m->prefix);
	td_buf_free(&m->suffix);
	td_buf_free(&m->idpre);
	td_buf_free(&m->hmsg);
	xtable_free(m->xwalk);
	xtable_free(m->promo);
	x_free(m->tpath[0]);
	x_free(m->tpath[1]);
	x_free(m->vtext);
	x_free(m->integration);
	x_free(m);
}

/*
 * What a clone owns: each slot's scratch and the hash message. The rest
 * of the struct is m's, by value (its tables, its document's prefix,
 * suffix and id prefix are m's buffers: read, never written by
 * mapper_map, and not freed by the clone).
 */
struct mapper *
mapper_clone(const struct mapper *m)
{
	struct mapper *c;

	c = xcalloc(1, sizeof(*c));
	mapper_clone_sync(c, m);
	return c;
}

void
mapper_clone_sync(struct mapper *c, const struct mapper *m)
{
	char *scratch[MF__COUNT];
	size_t i, sz[MF__COUNT];
	struct td_buf hmsg;
	int fresh = c->integration == NULL;

	for (i = 0; i < MF__COUNT; i++) {
		scratch[i] = c->slot[i].scratch;
		sz[i] = c->slot[i].scratchsz;
	}
	hmsg = c->hmsg;
	memcpy(c, m, sizeof(*c));
	for (i = 0; i < MF__COUNT; i++) {
		if (fresh && m->slot[i].scratch != NULL) {
			sz[i] = m->slot[i].scratchsz;
			scratch[i] = xmalloc(sz[i]);
		}
		c->slot[i].scratch = scratch[i];
		c->slot[i].scratchsz = sz[i];
	}
	if (fresh)
		td_buf_init(&hmsg, 1024, 0);
	c->hmsg = hmsg;
}

void
mapper_clone_free(struct mapper *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < MF__COUNT; i++)
		x_free(c->slot[i].scratch);
	td_buf_free(&c->hmsg);
	x_free(c);
}

/*
 * What a record line has of its own, whatever its values: its names,
 * ids, numbers and derived fields (txn_date, period_start, the fiscal
 * period, currency, uom, restates, nulls), what each field's transform
 * may add to a value (a date written out, a GTIN padded, a decimal
 * made canonical: TD_DEC_STRMAX at most), and what the mapping itself
 * may write for each field (a constant, a default, a values table's
 * value, the tables' values), six bytes a byte.
 */
static size_t
line_own(const struct mapper *m)
{
	const struct mapexpr *mx;
	size_t i, j, k, most, n = 1024 + MF__COUNT * TD_DEC_STRMAX;

	for (i = 0; i < MF__COUNT; i++) {
		if ((mx = m->slot[i].mx) == NULL)
			continue;
		most = mx->src == MX_SRC_CONST && mx->arg != NULL ?
		    strlen(mx->arg) : 0;
		for (j = 0; j < mx->nxf; j++) {
			if (mx->xf[j].kind == MX_XF_DEFAULT &&
			    mx->xf[j].arg != NULL && strlen(mx->xf[j].arg) > most)
				most = strlen(mx->xf[j].arg);
			for (k = 0; mx->xf[j].kind == MX_XF_VALUES &&
			    k < mx->xf[j].nvals; k++)
				if (mx->xf[j].vals[k].to != NULL &&
				    strlen(mx->xf[j].vals[k].to) > most)
					most = strlen(mx->xf[j].vals[k].to);
		}
		n += 6 * most;
	}
	if (m->promo != NULL)
		n += 6 * 2 * xtable_maxv(m->promo);
	if (m->xwalk != NULL)
		n += 6 * xtable_maxv(m->xwalk);
	return n;
}

size_t
mapper_line_own(const struct mapper *m)
{
	return line_own(m);
}

size_t
mapper_row_bound(const struct mapper *m, const struct td_field *v,
    size_t nv)
{
	const struct mslot *s;
	size_t n = m->line_fixed;
	int i;

	for (i = 0; i < MF__COUNT; i++) {
		s = &m->slot[i];
		if (s->mx != NULL && s->mx->src != MX_SRC_CONST && s->col >= 0 &&
		    (size_t)s->col < nv)
			n += 6 * v[s->col].len;
	}
	return n;
}

const char *
mapper_version(const struct mapper *m)
{
	return m->version;
}

/* Write archive/mappings/VERSION/ unless it is there. */
int
mapper_archive(struct mapper *m, const char *state_dir)
{
	struct xtable *t[2] = { m->xwalk, m->promo };
	static const char *name[2] = { "crosswalk.csv", "promo.csv" };
	char *dir, *tmp, *f;
	const char *bytes;
	struct stat sb;
	size_t len;
	int i, r = 0;

	dir = xasprintf("%s/archive/mappings/%s", state_dir, m->version);
	tmp = xasprintf("%s/archive/mappings/.tmp-%s", state_dir, m->version);
	if (lstat(dir, &sb) == 0)
		goto out;
	if (lstat(tmp, &sb) == 0)
		(void)td_remove_tree(tmp, state_dir);
	if ((r = td_mkdirs(tmp, 0750)) != 0)
		goto out;
	f = xasprintf("%s/mapping.txt", tmp);
	r = td_write_file_atomic(f, m->vtext, strlen(m->vtext));
	x_free(f);
	for (i = 0; r == 0 && i < 2; i++) {
		if (t[i] == NULL || (bytes = xtable_bytes(t[i], &len)) == NULL)
			continue;
		f = xasprintf("%s/%s", tmp, name[i]);
		r = td_write_file_atomic(f, bytes, len);
		x_free(f);
	}
	if (r == 0 && rename(tmp, dir) != 0)
		r = errno == ENOSPC ? TD_ERR_NOSPACE : TD_ERR_IO;
	if (r == 0)
		r = td_fsync_parent(dir);
 out:
	/* the copies are durable, or never will be from this run */
	for (i = 0; i < 2; i++)
		if (t[i] != NULL)
			xtable_drop_bytes(t[i]);
	x_free(dir);
	x_free(tmp);
	return r;
}

char *
mapper_tables(const struct mapper *m)
{
	const struct xtable *t[2] = { m->xwalk, m->promo };
	static const char *name[2] = { "crosswalk_file", "promo_file" };
	struct td_buf b;
	char *ret;
	int i;

	td_buf_init(&b, 128, 0);
	for (i = 0; i < 2; i++)
		if (t[i] != NULL)
			td_buf_printf(&b, "%s %s: %zu rows, %zu KiB of memory, "
			    "sha256 %s\n", name[i], m->tpath[i], xtable_rows(t[i]),
			    (xtable_memory(t[i]) + 1023) / 1024,
			    xtable_sha256(t[i]));
	ret = xstrdup(td_buf_cstr(&b));
	td_buf_free(&b);
	return ret;
}

static int
json_str_or_null(struct td_buf *b, const char *s, size_t n)
{
	if (s == NULL)
		return td_buf_append(b, "null", 4);
	return td_json_str(b, s, n);
}

/*
 * Keep the outcome of one of several appends in *werr: a full buffer
 * (TD_ERR_LIMIT) wins over anything else, otherwise the first error
 * (TD_ERR_FORMAT: text that is not UTF-8) stays. Error codes are not
 * bit masks: or-ing them mixes them into another code.
 */
static void
wnote(int *werr, int r)
{
	if (r == TD_ERR_LIMIT || (r != 0 && *werr == 0))
		*werr = r;
}

/* Header field f is name (n bytes), exactly or but for blanks around it. */
static int
header_names(const struct td_field *f, const char *name, size_t n)
{
	const char *p = f->p;
	size_t l = f->len;

	if (l == n && memcmp(p, name, n) == 0)
		return 1;
	while (l > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		l--;
	}
	while (l > 0 && (p[l - 1] == ' ' || p[l - 1] == '\t'))
		l--;
	return l == n && memcmp(p, name, n) == 0;
}

int
mapper_begin(struct mapper *m, const struct map_doc *doc,
    const struct td_field *names, size_t nnames, char **missing)
{
	struct td_buf miss, amb;
	const struct mapexpr *mx;
	size_t i, j, n, nm;
	int r;

	*missing = NULL;
	m->doc = doc;
	td_buf_init(&miss, 64, 0);
	td_buf_init(&amb, 64, 0);
	for (i = 0; i < MF__COUNT; i++) {
		mx = m->slot[i].mx;
		m->slot[i].col = -1;
		if (mx == NULL || mx->src == MX_SRC_CONST)
			continue;
		if (mx->src == MX_SRC_COLUMN_NUM) {
			m->slot[i].col = (int)mx->colnum - 1;
			continue;
		}
		/* by name, exactly or but for surrounding blanks: once */
		n = strlen(mx->arg);
		for (j = 0, nm = 0; names != NULL && j < nnames; j++) {
			if (!header_names(&names[j], mx->arg, n))
				continue;
			if (nm++ == 0) {
				m->slot[i].col = (int)j;
				continue;
			}
			if (nm == 2)
				td_buf_printf(&amb, "%s\"%s\" (columns %d",
				    amb.len ? "; " : "", mx->arg,
				    m->slot[i].col + 1);
			td_buf_printf(&amb, " and %zu", j + 1);
		}
		if (nm >= 2)
			td_buf_putc(&amb, ')');
		if (nm == 0)
			td_buf_printf(&miss, "%s\"%s\"", miss.len ? ", " : "",
			    mx->arg);
	}
	if (miss.len > 0 || amb.len > 0) {
		*missing = xstrdup(td_buf_cstr(miss.len > 0 ? &miss : &amb));
		r = miss.len > 0 ? TD_ERR_FORMAT : TD_ERR_EXISTS;
		td_buf_free(&miss);
		td_buf_free(&amb);
		return r;
	}
	td_buf_free(&miss);
	td_buf_free(&amb);

	/* The constant parts of every record of this document. */
	r = 0;
	td_buf_reset(&m->prefix);
	wnote(&r, td_buf_puts(&m->prefix, "\",\"integration\":"));
	wnote(&r, td_json_str(&m->prefix, m->integration,
	    strlen(m->integration)));
	wnote(&r, td_buf_printf(&m->prefix, ",\"transmission_id\":\"%s\","
	    "\"source\":{\"file\":", doc->transmission_id));
	wnote(&r, td_json_str(&m->prefix, doc->file, strlen(doc->file)));
	wnote(&r, td_buf_puts(&m->prefix, ",\"member\":"));
	wnote(&r, json_str_or_null(&m->prefix, doc->member,
	    doc->member ? strlen(doc->member) : 0));
	wnote(&r, td_buf_printf(&m->prefix, ",\"%s\":", doc->position != NULL ?
	    doc->position : "line"));
	td_buf_reset(&m->suffix);
	wnote(&r, td_buf_printf(&m->suffix, ",\"mapping_version\":\"%s\"}\n",
	    m->version));
	if (r != 0) {
		/* a file name that is not UTF-8 (the buffers are unbounded) */
		*missing = NULL;
		return r == TD_ERR_LIMIT ? TD_ERR_LIMIT : TD_ERR_INVAL;
	}

	/* a line's bytes but its values' (mapper_row_bound) */
	m->line_fixed = m->prefix.len + m->suffix.len + line_own(m);

	/* the start of every record_id message of this document */
	td_buf_reset(&m->idpre);
	td_buf_puts(&m->idpre, m->integration);
	td_buf_putc(&m->idpre, '\n');
	td_buf_puts(&m->idpre, doc->transmission_id);
	td_buf_putc(&m->idpre, '\n');
	if (doc->member != NULL)
		td_buf_puts(&m->idpre, doc->member);
	if (doc->occurrence > 1) {
		/* a name seen before in this file: NUL (never in a name) and
		 * the occurrence; first occurrences hash as they always did */
		char occ[TD_U64_STRMAX];
		size_t occlen = td_format_u64(doc->occurrence, occ);

		td_buf_putc(&m->idpre, '\0');
		td_buf_append(&m->idpre, occ, occlen);
	}
	td_buf_putc(&m->idpre, '\n');
	return TD_OK;
}

static int
reject(struct map_result *res, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * A rejection of the row. The first one gives its code; when a row has
 * several, each message is followed by its code and they are joined by
 * "; ", as far as the message holds.
 */
static int
reject(struct map_result *res, const char *code, const char *fmt, ...)
{
	va_list ap;
	size_t len = 0, part;

	if (res->nerr == 0)
		res->code = code;
	else {
		len = strlen(res->msg);
		/* the first message gets its code, unless it names it */
		if (res->nerr == 1 && strstr(res->msg, res->code) == NULL)
			len += (size_t)snprintf(res->msg + len,
			    len < sizeof(res->msg) ? sizeof(res->msg) - len :
			    0, " (%s)", res->code);
		if (len < sizeof(res->msg))
			len += (size_t)snprintf(res->msg + len,
			    sizeof(res->msg) - len, "; ");
	}
	part = len;
	if (len < sizeof(res->msg)) {
		va_start(ap, fmt);
		len += (size_t)vsnprintf(res->msg + len, sizeof(res->msg) - len,
		    fmt, ap);
		va_end(ap);
	}
	if (res->nerr > 0 && len < sizeof(res->msg) &&
	    strstr(res->msg + part, code) == NULL)
		snprintf(res->msg + len, sizeof(res->msg) - len, " (%s)",
		    code);
	res->nerr++;
	return 1;
}

const char *
mapper_shown(const char *p, size_t n, char *buf, size_t bufsz)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 5 < bufsz; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
			buf[o++] = (char)ch;
		else
			o += (size_t)snprintf(buf + o, bufsz - o, "\\x%02x", ch);
	}
	if (i < n && o + 4 < bufsz) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

struct fval {
	const char	*p;	/* NULL: JSON null */
	size_t		 n;
};

/*
 * The day the tables are looked up by: txn_date as written. A week
 * whose other end is not a valid day (before 1900, after 9999) rejects
 * the row: its txn_date or period_start could not be written.
 */
static void
row_day(struct mapper *m, const struct fval *v, struct map_result *res)
{
	struct td_date d, o;
	int32_t day;
	int side;

	if (v->p == NULL || td_date_parse_iso(v->p, v->n, &d) != 0)
		return;
	side = m->period == PERIOD_WEEK_STARTING ? 6 :
	    m->period == PERIOD_WEEK_ENDING ? -6 : 0;
	td_date_from_days(td_date_to_days(&d) + side, &o);
	if (td_date_valid(&o) != 0) {
		(void)reject(res, "bad_date", "%s: the week %s %.10s "
		    "%s %s (years 1900 to 9999 are valid)",
		    m->slot[MF_TXN_DATE].label, side > 0 ?
		    "starting" : "ending", v->p, side > 0 ? "ends after" :
		    "starts before", side > 0 ? "9999-12-31" : "1900-01-01");
		return;
	}
	day = td_date_to_days(side > 0 ? &o : &d);
	td_date_from_days(day, &d);
	td_date_format(&d, m->row_date);
	m->row_day = day;
	m->row_dayok = 1;
}

/*
 * Look p (n bytes) up in the crosswalk, as of the row's txn_date when
 * the crosswalk has dates: 0 with m->xrow set, or 1 (rejected).
 */
static int
crosswalk(struct mapper *m, const char *fname, const char *p, size_t n,
    struct map_result *res)
{
	char show[80];

	if (xtable_dated(m->xwalk) && !m->row_dayok) {
		if (res->nerr > 0)
			return 1;	/* txn_date is bad: said already */
		return reject(res, "unmapped_item", "%s: \"%s\" cannot be "
		    "looked up without a txn_date", fname,
		    mapper_shown(p, n, show, sizeof(show)));
	}
	if ((m->xrow = xtable_find(m->xwalk, p, n, m->row_day)) == NULL)
		return reject(res, "unmapped_item", "%s: item \"%s\" is not in "
		    "crosswalk_file%s%s", fname,
		    mapper_shown(p, n, show, sizeof(show)),
		    xtable_dated(m->xwalk) ? " on " : "",
		    xtable_dated(m->xwalk) ? m->row_date : "");
	return 0;
}

/* What a refused GTIN looks like, and the option that would read it. */
static const char *
gtin_hint(const char *p, size_t n, const char *code, unsigned opts)
{
	if (strcmp(code, "gtin_length") != 0)
		return "";
	if ((n == 11 || n == 7) && !(opts & (MX_GTIN_NOCHECK | MX_GTIN_PAD)))
		return ": a code without its check digit (gtin nocheck) or "
		    "with a leading zero lost (gtin pad)?";
	if (n == 6 && !(opts & MX_GTIN_UPCE))
		return ": a UPC-E (gtin upce)?";
	if (n >= 9 && n <= 10 && !(opts & MX_GTIN_PAD))
		return ": leading zeros lost (gtin pad)?";
	(void)p;
	return "";
}

/* The n bytes at p without blanks around them. */
static void
trim_blanks(const char **p, size_t *n)
{
	while (*n > 0 && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
		(*n)--;
}

/* substr START LEN of UTF-8 text, in characters. */
static void
substr_chars(const char **p, size_t *n, unsigned start, unsigned len)
{
	const unsigned char *s = (const unsigned char *)*p;
	size_t i = 0, b;
	unsigned c;

	for (c = 1; c < start && i < *n; c++)
		for (i++; i < *n && (s[i] & 0xc0) == 0x80; i++)
			;
	b = i;
	for (c = 0; c < len && i < *n; c++)
		for (i++; i < *n && (s[i] & 0xc0) == 0x80; i++)
			;
	*p += b;
	*n = i - b;
}

/*
 * Compute field i from the record's values (nv of them, by column).
 * Returns 0, or 1 with res set (rejection).
 */
static int
map_field(struct mapper *m, int i, const struct td_field *rv, size_t nv,
    struct fval *v, struct map_result *res)
{
	struct mslot *s = &m->slot[i];
	const struct mapexpr *mx = s->mx;
	const struct mx_xform *xf;
	const char *p, *why, *fname = s->label;
	char show[80], hint[160], gtin[TD_GTIN_LEN + 1];
	size_t n, k, x;
	struct td_date d;
	struct td_time t;
	struct td_dec dec;
	struct td_dec_fmt df;
	regmatch_t rm[10];
	int r, req = mfields[i].required, timed = 0, cache, want;

	/* with a crosswalk, an empty gtin is looked up by the item id */
	if (i == MF_GTIN && m->xwalk != NULL)
		req = 0;

	if (mx->src == MX_SRC_CONST) {
		p = mx->arg;
		n = strlen(p);
	} else if ((size_t)s->col >= nv) {
		return reject(res, "missing_field", "%s: the row has %zu "
		    "field%s, column %d is missing", fname, nv,
		    nv == 1 ? "" : "s", s->col + 1);
	} else {
		p = rv[s->col].p;
		n = rv[s->col].len;
	}
	for (x = 0; x < mx->nxf; x++) {
		xf = &mx->xf[x];
		switch (xf->kind) {
		case MX_XF_TRIM:
			trim_blanks(&p, &n);
			continue;
		case MX_XF_UPPER:
			/*
			 * A value longer than the scratch buffer (a constant,
			 * a default or a table's value past max_field; never
			 * one in the buffer already) grows it: it was cut.
			 * ASCII letters only, whatever the locale: toupper()
			 * of a Latin-1 one changes bytes of UTF-8 characters.
			 */
			if (n >= s->scratchsz) {
				s->scratchsz = n + 64;
				s->scratch = xrealloc(s->scratch, s->scratchsz);
			}
			for (k = 0; k < n; k++)
				s->scratch[k] = (char)(p[k] >= 'a' && p[k] <= 'z' ?
				    p[k] - 'a' + 'A' : p[k]);
			p = s->scratch;
			continue;
		case MX_XF_DEFAULT:
			if (n == 0) {
				p = xf->arg;
				n = strlen(p);
			}
			continue;
		case MX_XF_SUBSTR:
			substr_chars(&p, &n, xf->start, xf->len);
			continue;
		case MX_XF_VALUES:
			if (n == 0)
				continue;
			if ((why = mapexpr_value(xf, p, n)) == NULL)
				return reject(res, "unknown_value", "%s: \"%s\" "
				    "is not in values \"%s\"", fname,
				    mapper_shown(p, n, show, sizeof(show)),
				    xf->arg);
			p = why;
			n = strlen(p);
			continue;
		case MX_XF_REGEX:
			if (n == 0)
				continue;
			/* glibc's regexec() takes time quadratic in the
			 * value for common patterns ("([0-9]+)\\.([0-9]+)"
			 * on 64 KiB of digits: 17 s): values are bounded */
			if (n > MX_REGEX_VALUE_MAX)
				return reject(res, "regex_no_match", "%s: \"%s\" "
				    "has %zu bytes, more than the %d a regex "
				    "reads", fname, mapper_shown(p, n, show,
				    sizeof(show)), n, MX_REGEX_VALUE_MAX);
			if (n >= s->scratchsz || memchr(p, '\0', n) != NULL)
				return reject(res, "regex_no_match", "%s: \"%s\" "
				    "cannot be matched (a NUL byte, or too "
				    "long)", fname,
				    mapper_shown(p, n, show, sizeof(show)));
			memmove(s->scratch, p, n);
			s->scratch[n] = '\0';
			if (regexec(xf->re, s->scratch, TD_NELEM(rm), rm, 0) != 0 ||
			    rm[xf->group_no].rm_so < 0)
				return reject(res, "regex_no_match", "%s: \"%s\" "
				    "does not match regex \"%s\"", fname,
				    mapper_shown(p, n, show, sizeof(show)),
				    xf->arg);
			p = s->scratch + rm[xf->group_no].rm_so;
			n = (size_t)(rm[xf->group_no].rm_eo -
			    rm[xf->group_no].rm_so);
			continue;
		}
		/* typed transforms: an empty value is null or an error */
		if (n == 0) {
			if (!req) {
				v->p = NULL;
				return 0;
			}
			return reject(res, "empty_value", "%s is empty", fname);
		}
		switch (xf->kind) {
		case MX_XF_DATE:
			/* the cache is the first date transform's: a second
			 * one reads that one's output with its own format */
			cache = (int)x == mapexpr_find(mx, MX_XF_DATE);
			if (cache && n == s->date_inlen &&
			    memcmp(p, s->date_in, n) == 0) {
				memcpy(s->scratch, s->date_out, 10);
				p = s->scratch;
				n = 10;
				break;
			}
			switch (td_date_parse(p, n, xf->arg, &d)) {
			case 0:
				break;
			case TD_ERR_RANGE:
				return reject(res, "bad_date", "%s: \"%s\" is "
				    "not a real date or time", fname,
				    mapper_shown(p, n, show, sizeof(show)));
			default:
				return reject(res, "bad_date", "%s: \"%s\" "
				    "does not match \"%s\"", fname,
				    mapper_shown(p, n, show, sizeof(show)), xf->arg);
			}
			if (cache && n <= sizeof(s->date_in)) {
				memcpy(s->date_in, p, n);
				s->date_inlen = n;
				td_date_format(&d, s->date_out);
			}
			n = td_date_format(&d, s->scratch);
			p = s->scratch;
			break;
		case MX_XF_DATETIME:
			if (xf->arg == NULL)
				r = td_datetime_parse_iso(p, n, &d, &t);
			else
				r = td_datetime_parse(p, n, xf->arg,
				    xf->opts & MX_DT_TIME_ONLY ?
				    TD_DT_TIME_ONLY : TD_DT_TIME, &d, &t);
			if (r != 0)
				return reject(res, i == MF_TXN_TIME ? "bad_time" :
				    "bad_date", "%s: \"%s\" %s \"%s\"", fname,
				    mapper_shown(p, n, show, sizeof(show)),
				    r == TD_ERR_RANGE ? "is not a real date and "
				    "time, as" : "does not match",
				    xf->arg != NULL ? xf->arg : "ISO 8601 "
				    "YYYY-MM-DDTHH:MM[:SS][.f][Z|+hh:mm]");
			td_time_format(&t, m->row_time);
			m->row_timed = 1;
			if (i == MF_TXN_TIME) {
				memcpy(s->scratch, m->row_time, 8);
				n = 8;
			} else
				n = td_date_format(&d, s->scratch);
			p = s->scratch;
			timed = 1;
			break;
		case MX_XF_DECIMAL:
			df.sign = xf->sign;
			df.group = xf->group;
			df.point = xf->point;
			df.implied = xf->cents ? m->minor : xf->implied;
			if ((r = td_dec_parse_fmt(p, n, &df, &dec)) != 0) {
				if (r == TD_ERR_RANGE)
					return reject(res, "bad_decimal", "%s: "
					    "\"%s\" is not an exact decimal (more "
					    "than 36 digits or 18 decimals)",
					    fname, mapper_shown(p, n, show,
					    sizeof(show)));
				if (td_dec_hint(p, n, &df, hint,
				    sizeof(hint)) != NULL)
					return reject(res, "bad_decimal", "%s: "
					    "\"%s\" is not an exact decimal as "
					    "mapped: it %s", fname,
					    mapper_shown(p, n, show, sizeof(show)),
					    hint);
				return reject(res, "bad_decimal", "%s: \"%s\" "
				    "is not an exact decimal", fname,
				    mapper_shown(p, n, show, sizeof(show)));
			}
			if (i == MF_QUANTITY)
				res->quantity = dec;
			else if (i == MF_AMOUNT) {
				/* the currency's scale: padded, or trailing
				 * zeros dropped; never rounded. Padding fails
				 * only past 36 digits: too long, not too
				 * precise */
				if (dec.scale <= m->minor &&
				    td_dec_rescale(&dec, m->minor) != 0)
					return reject(res, "bad_decimal",
					    "%s: \"%s\" has more than 36 "
					    "digits with the %d decimals of %s",
					    fname,
					    mapper_shown(p, n, show, sizeof(show)),
					    m->minor, m->currency);
				if (td_dec_rescale(&dec, m->minor) != 0)
					return reject(res, "amount_scale",
					    "%s: \"%s\" has more decimals "
					    "than %s allows (%d)", fname,
					    mapper_shown(p, n, show, sizeof(show)),
					    m->currency, m->minor);
				res->amount = dec;
				res->has_amount = 1;
			}
			n = td_dec_format(&dec, s->scratch, s->scratchsz);
			p = s->scratch;
			break;
		case MX_XF_CROSSWALK:
			if ((r = crosswalk(m, fname, p, n, res)) != 0)
				return r;
			p = s->scratch;
			memcpy(s->scratch, m->xrow->v[0], 14);
			n = 14;
			break;
		case MX_XF_GTIN:
			/* p may be in scratch (after upper or regex): the
			 * code is made apart, then copied there */
			if (td_gtin_normalize_want(p, n, (xf->opts &
			    MX_GTIN_NOCHECK ? TD_GTIN_NOCHECK : 0) |
			    (xf->opts & MX_GTIN_UPCE ? TD_GTIN_UPCE : 0) |
			    (xf->opts & MX_GTIN_PAD ? TD_GTIN_PAD : 0),
			    gtin, &why, &want) != 0) {
				/* a wrong check digit: the one it should be,
				 * to tell a typo from another product */
				if (want >= 0)
					snprintf(hint, sizeof(hint), ": check "
					    "digit %c, expected %d", p[n - 1],
					    want);
				else
					snprintf(hint, sizeof(hint), "%s",
					    /* the options of a format's own
					     * mapping (X12) are not the
					     * operator's to set */
					    m->own[i] != NULL ? "" :
					    gtin_hint(p, n, why, xf->opts));
				return reject(res, why, "%s: \"%s\" is not a "
				    "valid GTIN (%s%s)", fname,
				    mapper_shown(p, n, show, sizeof(show)), why,
				    hint);
			}
			memcpy(s->scratch, gtin, sizeof(gtin));
			p = s->scratch;
			n = 14;
			break;
		}
	}
	if (n == 0) {
		if (req)
			return reject(res, "empty_value", "%s is empty", fname);
		v->p = NULL;
		return 0;
	}
	if (i == MF_TXN_TIME && !timed && td_time_parse_hms(p, n, &t) != 0)
		return reject(res, "bad_time", "%s: \"%s\" is not a time "
		    "HH:MM:SS (datetime \"FORMAT\" reads other forms)", fname,
		    mapper_shown(p, n, show, sizeof(show)));
	v->p = p;
	v->n = n;
	return 0;
}

/*
 * From the date mapped to txn_date (cached per date): the txn_date
 * written (the week's last day for week_starting), period_start and the
 * fiscal object of the txn_date written.
 */
static void
date_derived(struct mapper *m, const struct td_date *d)
{
	struct td_date ps = *d, end = *d;
	struct td_fiscal f;
	int32_t days = td_date_to_days(d);
	int n;

	if (m->period == PERIOD_WEEK_ENDING)
		td_date_from_days(days - 6, &ps);
	else if (m->period == PERIOD_WEEK_STARTING)
		td_date_from_days(days + 6, &end);
	td_date_format(&ps, m->last_pstart);
	td_date_format(&end, m->last_end);
	m->last_kday = m->key_dated ? MAP_KDAY(td_date_to_days(&end)) :
	    MAP_KDAY_NONE;
	td_fiscal_of(&m->cal, &end, &f);
	n = snprintf(m->last_fiscal, sizeof(m->last_fiscal),
	    ",\"fiscal\":{\"year\":%d,\"quarter\":%d,\"period\":%d,"
	    "\"week\":%d}", f.year, f.quarter, f.period, f.week);
	m->last_fiscal_len = (size_t)n;
}

/*
 * promo_id, promo_type and discount_amount of the record's promo_code,
 * as of its txn_date; an unknown code keeps them null and is counted.
 */
static void
promo(struct mapper *m, struct fval *rv, struct map_result *res)
{
	const struct xt_row *x;
	const char *d;
	struct td_dec pct, r;
	size_t n;

	x = m->row_dayok ? xtable_find(m->promo, rv[RF_PROMO_CODE].p,
	    rv[RF_PROMO_CODE].n, m->row_day) : NULL;
	if (x == NULL) {
		res->unknown_promo = 1;
		return;
	}
	rv[RF_PROMO_ID].p = x->v[0];
	rv[RF_PROMO_ID].n = strlen(x->v[0]);
	rv[RF_PROMO_TYPE].p = x->v[1];
	rv[RF_PROMO_TYPE].n = strlen(x->v[1]);
	d = x->v[2];
	if ((n = strlen(d)) == 0)
		return;
	/* a percentage of the amount, or an amount per unit; both
	 * checked when the table was read */
	if (d[n - 1] == '%') {
		if (!res->has_amount)
			return;
		(void)td_dec_parse(d, n - 1, 0, &pct);
		r = res->amount;
	} else {
		(void)td_dec_parse(d, n, 0, &pct);
		r = res->quantity;
	}
	/* exact, then rounded once: a quantity with many decimals
	 * times a discount of a few has more than 18 */
	if (td_dec_mul_round(&r, &pct, d[n - 1] == '%' ? 2 : 0,
	    m->minor) != 0)
		return;
	rv[RF_DISCOUNT_AMOUNT].n = td_dec_format(&r, m->discount,
	    sizeof(m->discount));
	rv[RF_DISCOUNT_AMOUNT].p = m->discount;
}

/* Is the value text that is not UTF-8? */
static int
bad_utf8(const struct fval *v)
{
	const unsigned char *p = (const unsigned char *)v->p;
	size_t i, k;

	for (i = 0; p != NULL && i < v->n; i += k)
		if (p[i] < 0x80)
			k = 1;
		else if ((k = td_utf8_len(p + i, v->n - i)) == 0)
			return 1;
	return 0;
}

/* A field of a record_key or values message: LF, then n or s VALUE. */
static void
key_add(struct td_buf *b, const struct fval *v)
{
	if (v->p == NULL)
		td_buf_append(b, "\nn", 2);
	else {
		td_buf_append(b, "\ns", 2);
		td_buf_append(b, v->p, v->n);
	}
}

/*
 * Append v in decimal, or an id in hex: formatted in b's room when there
 * is enough, not in an array appended after (its bytes, just stored one
 * by one, read back at once by memcpy's wide loads, which wait for the
 * stores: three times a record). As td_buf_append would.
 */
static int
put_u64(struct td_buf *b, uint64_t v)
{
	char num[TD_U64_STRMAX];

	if (b->cap - b->len >= TD_U64_STRMAX) {
		b->len += td_format_u64(v, b->p + b->len);
		return 0;
	}
	return td_buf_append(b, num, td_format_u64(v, num));
}

static int
put_id(struct td_buf *b, const unsigned char id[TD_ID_LEN])
{
	char hex[TD_ID_HEX];

	if (b->cap - b->len >= TD_ID_HEX) {
		td_hex(id, TD_ID_LEN, b->p + b->len);
		b->len += TD_ID_HEX - 1;
		return 0;
	}
	td_hex(id, TD_ID_LEN, hex);
	return td_buf_append(b, hex, TD_ID_HEX - 1);
}

int
mapper_map(struct mapper *m, const struct td_field *v, size_t nv,
    uint64_t ordinal, uint64_t pos, struct td_buf *out,
    struct map_result *res)
{
	struct fval fv[MF__COUNT], rv[RF__COUNT];
	struct td_buf *b;
	unsigned char dg[3][TD_SHA256_LEN];
	const void *hp[3];
	size_t hn[3];
	char curr[4], curr2[80];
	struct td_date d;
	size_t start = out->len;
	int i, ret;

	res->code = NULL;
	res->nerr = 0;
	res->msg[0] = '\0';
	res->has_amount = 0;
	/* a row without an amount has none, not the last row's (its mapping
	 * must not depend on the rows mapped before it: process.c maps a
	 * window's rows on several threads) */
	memset(&res->quantity, 0, sizeof(res->quantity));
	memset(&res->amount, 0, sizeof(res->amount));
	m->row_timed = 0;
	res->unknown_promo = 0;
	res->date_at = 0;
	m->row_dayok = 0;
	memset(fv, 0, sizeof(fv));
	if (m->date_first) {
		(void)map_field(m, MF_TXN_DATE, v, nv, &fv[MF_TXN_DATE], res);
		row_day(m, &fv[MF_TXN_DATE], res);
	}
	/* every field, so that a row with several bad ones tells them all */
	for (i = 0; i < MF__COUNT; i++) {
		if (m->slot[i].mx != NULL && !(i == MF_TXN_DATE &&
		    m->date_first))
			(void)map_field(m, i, v, nv, &fv[i], res);
		if (i == MF_TXN_DATE && !m->date_first)
			row_day(m, &fv[MF_TXN_DATE], res);
	}
	/* no gtin: the crosswalk by retailer_item_id */
	if (fv[MF_GTIN].p == NULL && m->xwalk != NULL && res->nerr == 0) {
		if (fv[MF_RETAILER_ITEM_ID].p == NULL)
			(void)reject(res, "empty_value", "%s is empty, and so "
			    "is the %s to look it up by",
			    m->slot[MF_GTIN].label,
			    m->slot[MF_RETAILER_ITEM_ID].label);
		else if (crosswalk(m, m->slot[MF_RETAILER_ITEM_ID].label,
		    fv[MF_RETAILER_ITEM_ID].p, fv[MF_RETAILER_ITEM_ID].n,
		    res) == 0) {
			fv[MF_GTIN].p = m->xrow->v[0];
			fv[MF_GTIN].n = 14;
		}
	}
	if (res->nerr > 0)
		return 1;
	if (m->dt_date && m->row_timed) {
		fv[MF_TXN_TIME].p = m->row_time;
		fv[MF_TXN_TIME].n = 8;
	}
	if (fv[MF_TXN_DATE].p == NULL || fv[MF_TXN_DATE].n != 10)
		return reject(res, "bad_date", "txn_date is not a date");
	if (memcmp(fv[MF_TXN_DATE].p, m->last_date, 10) != 0) {
		if (td_date_parse_iso(fv[MF_TXN_DATE].p, 10, &d) != 0)
			return reject(res, "bad_date", "txn_date is not a date");
		date_derived(m, &d);
		memcpy(m->last_date, fv[MF_TXN_DATE].p, 10);
		m->last_date[10] = '\0';
	}
	if (fv[MF_QUANTITY].p == NULL)
		return reject(res, "empty_value", "quantity is empty");
	if (m->neg_reject && td_dec_sign(&res->quantity) < 0)
		return reject(res, "negative_quantity", "%s: %.*s is "
		    "negative and negative_quantity = reject",
		    m->slot[MF_QUANTITY].label, (int)fv[MF_QUANTITY].n,
		    fv[MF_QUANTITY].p);
	if (fv[MF_CURRENCY].p != NULL && (fv[MF_CURRENCY].n != 3 ||
	    memcmp(fv[MF_CURRENCY].p, m->currency, 3) != 0)) {
		char show[32];

		return reject(res, "currency_mismatch", "%s: \"%s\" is "
		    "not the integration's %s", m->slot[MF_CURRENCY].label,
		    mapper_shown(fv[MF_CURRENCY].p,
		    fv[MF_CURRENCY].n, show, sizeof(show)), m->currency);
	}

	/* record fields in output order */
	memset(rv, 0, sizeof(rv));
	rv[RF_STORE_ID] = fv[MF_STORE_ID];
	rv[RF_RETAILER_ITEM_ID] = fv[MF_RETAILER_ITEM_ID];
	rv[RF_GTIN] = fv[MF_GTIN];
	rv[RF_TXN_DATE].p = m->last_end;
	rv[RF_TXN_DATE].n = 10;
	rv[RF_TXN_TIME] = fv[MF_TXN_TIME];
	rv[RF_TXN_REF] = fv[MF_TXN_REF];
	if (m->slot[MF_PERIOD_START].mx != NULL)
		rv[RF_PERIOD_START] = fv[MF_PERIOD_START];
	else if (m->period != PERIOD_DAY) {
		rv[RF_PERIOD_START].n = 10;
		rv[RF_PERIOD_START].p = m->last_pstart;
	}
	rv[RF_QUANTITY] = fv[MF_QUANTITY];
	rv[RF_UOM] = fv[MF_UOM];
	if (rv[RF_UOM].p == NULL) {
		rv[RF_UOM].p = "EA";
		rv[RF_UOM].n = 2;
	}
	rv[RF_AMOUNT] = fv[MF_AMOUNT];
	memcpy(curr, m->currency, 4);
	rv[RF_CURRENCY].p = curr;
	rv[RF_CURRENCY].n = 3;
	rv[RF_PROMO_CODE] = fv[MF_PROMO_CODE];
	if (m->promo != NULL && rv[RF_PROMO_CODE].p != NULL)
		promo(m, rv, res);

	/* record_id, record_key and the values' hash: the three messages
	 * built whole one after the other, and hashed together */
	b = &m->hmsg;
	td_buf_reset(b);
	td_buf_append(b, m->idpre.p, m->idpre.len);
	(void)put_u64(b, ordinal);
	hn[0] = b->len;
	td_buf_puts(b, m->integration);
	for (i = 0; i < m->nkeys; i++)
		key_add(b, &rv[m->keys[i]]);
	hn[1] = b->len - hn[0];
	for (i = 0; i < RF_DISCOUNT_AMOUNT; i++)
		key_add(b, &rv[i]);
	hn[2] = b->len - hn[0] - hn[1];
	hp[0] = b->p;
	hp[1] = b->p + hn[0];
	hp[2] = b->p + hn[0] + hn[1];
	td_sha256_once_n(3, hp, hn, dg);
	memcpy(res->record_id, dg[0], TD_ID_LEN);
	memcpy(res->record_key, dg[1], TD_ID_LEN);
	memcpy(res->values, dg[2], TD_ID_LEN);
	res->kday = m->last_kday;

	/* a field that is not UTF-8 is skipped so that a full buffer is
	 * still seen: that is TD_ERR_LIMIT whatever else is wrong */
	ret = 0;
	wnote(&ret, td_buf_puts(out, "{\"schema\":\"tradedrop.pos.v1\","
	    "\"record_id\":\""));
	wnote(&ret, put_id(out, dg[0]));
	wnote(&ret, td_buf_puts(out, "\",\"record_key\":\""));
	wnote(&ret, put_id(out, dg[1]));
	wnote(&ret, td_buf_append(out, m->prefix.p, m->prefix.len));
	wnote(&ret, put_u64(out, pos));
	wnote(&ret, td_buf_putc(out, '}'));
	for (i = 0; i < RF__COUNT && ret != TD_ERR_LIMIT; i++) {
		wnote(&ret, td_buf_append(out, rf_keys[i].s, rf_keys[i].n));
		if (i == RF_TXN_DATE)
			res->date_at = (uint32_t)(out->len - start + 1);
		wnote(&ret, json_str_or_null(out, rv[i].p, rv[i].n));
		if (i == RF_PERIOD_START)
			wnote(&ret, td_buf_append(out, m->last_fiscal,
			    m->last_fiscal_len));
	}
	wnote(&ret, td_buf_append(out, m->suffix.p, m->suffix.len));
	if (ret != 0) {
		out->len = start;
		if (ret == TD_ERR_LIMIT)
			return TD_ERR_LIMIT;
		for (i = 0; i < RF__COUNT && !bad_utf8(&rv[i]); i++)
			;
		/* the record fields up to promo_code are the mapped ones,
		 * in the same order */
		return reject(res, "invalid_utf8", "%s: \"%s\" is not valid "
		    "UTF-8 text (declare [decode] encoding)",
		    i <= RF_PROMO_CODE ? m->slot[i].label :
		    i < RF__COUNT ? rf_names[i] : "a field",
		    i < RF__COUNT ? mapper_shown(rv[i].p, rv[i].n, curr2,
		    sizeof(curr2)) : "");
	}
	return 0;
}
