/*
 * parse-csv.c - format = csv behind the parser ops (parser.h): the
 * tokeniser (csv.c) fed with a document's decoded text; skip_rows, the
 * header row bound by name, and every row after it emitted with its
 * physical line. A row that is not valid CSV is emitted as rejected with
 * a message naming the field (by number and header name) and the limit.
 * A header that lacks a mapped column is refused only after a look at
 * the rows after it, up to line PROBE_LINES, streaming: when one of them
 * has every mapped column, the refusal suggests the skip_rows that reads
 * it as the header. In a mixed document (encoding = auto), a data row
 * that holds bytes that are not UTF-8 is rejected as invalid_utf8,
 * before anything else is said of it; a header that does is refused
 * (decode_invalid_utf8); a skipped row is skipped.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "td.h"
#include "conf.h"
#include "csv.h"
#include "map.h"
#include "parser.h"

#define PROBE_LINES	20	/* where a header is looked for */

struct pcsv {
	struct emitter	*e;
	struct csv	*p;
	struct csv_opts	 co;		/* the limits, for messages */
	uint64_t	 skip;		/* rows still to skip */
	uint64_t	 skip_rows;	/* as configured */
	int		 need_header;
	struct td_field	*hdr;		/* the document's header (copies) */
	size_t		 nhdr;
	/* the header lacks a mapped column: rows after it are looked at */
	int		 probing;
	uint64_t	 hdr_line;
	uint64_t	 probed;	/* rows looked at */
	int		 extra_empty;	/* extra_fields = empty */
	int		 short_ok;	/* short_rows = allow */
};

/* Keep the header's names: messages name a column by them. */
static void
header_keep(struct pcsv *pc, const struct csv_rec *rec)
{
	char *copy;
	size_t i;

	pc->hdr = xcalloc(rec->nf, sizeof(*pc->hdr));
	for (i = 0; i < rec->nf; i++) {
		/* a NUL may be inside: copied by length */
		copy = xmalloc(rec->f[i].len + 1);
		memcpy(copy, rec->f[i].p, rec->f[i].len);
		copy[rec->f[i].len] = '\0';
		pc->hdr[i].p = copy;
		pc->hdr[i].len = rec->f[i].len;
	}
	pc->nhdr = rec->nf;
}

/*
 * What is wrong with a record that is not valid CSV, naming the field
 * (by number, and by its header name when there is one) and the limit.
 */
static void
csv_problem(const struct pcsv *pc, const struct csv_rec *rec, char *buf,
    size_t n)
{
	char col[128], show[96];
	size_t f = rec->errfield;

	if (f > 0 && f <= pc->nhdr)
		snprintf(col, sizeof(col), "field %zu (\"%s\")", f,
		    mapper_shown(pc->hdr[f - 1].p, pc->hdr[f - 1].len, show,
		    sizeof(show)));
	else
		snprintf(col, sizeof(col), "field %zu", f);
	switch (rec->err) {
	case CSV_E_FIELD_TOO_LONG:
		snprintf(buf, n, "%s is longer than max_field (%zu bytes)", col,
		    pc->co.max_field);
		break;
	case CSV_E_RECORD_TOO_LONG:
		snprintf(buf, n, "the record is longer than max_record (%zu "
		    "bytes)", pc->co.max_record);
		break;
	case CSV_E_TOO_MANY_FIELDS:
		snprintf(buf, n, "the record has more than max_fields (%zu) "
		    "fields", pc->co.max_fields);
		break;
	case CSV_E_BAD_QUOTE:
		snprintf(buf, n, "%s has data after its closing quote", col);
		break;
	case CSV_E_UNTERMINATED:
		snprintf(buf, n, "%s opens a quote that is still open at the "
		    "end of the document", col);
		break;
	case CSV_E_NUL_BYTE:
		snprintf(buf, n, "%s holds a NUL byte, which is not text", col);
		break;
	default:
		snprintf(buf, n, "%s", csv_errcode(rec->err));
		break;
	}
}

static int
pcsv_header(struct pcsv *pc, const struct csv_rec *rec)
{
	char why[256];

	pc->need_header = 0;
	if (rec->err != 0) {
		csv_problem(pc, rec, why, sizeof(why));
		return emit_fail(pc->e, "schema_bad_header", "line %llu: the "
		    "header row is not valid CSV (%s): %s",
		    (unsigned long long)rec->line, csv_errcode(rec->err), why);
	}
	header_keep(pc, rec);
	if (rec->line < PROBE_LINES &&
	    emit_header_fits(pc->e, rec->f, rec->nf) == TD_ERR_FORMAT) {
		pc->probing = 1;
		pc->hdr_line = rec->line;
		return 0;
	}
	return emit_header(pc->e, rec->f, rec->nf, rec->line);
}

/*
 * Refuse the header kept, suggesting the row at line (0: none), the
 * probed-th after it, when that has every mapped column.
 */
static int
pcsv_refuse(struct pcsv *pc, uint64_t line)
{
	char hint[128];

	pc->probing = 0;
	if (line == 0)
		return emit_header(pc->e, pc->hdr, pc->nhdr, pc->hdr_line);
	snprintf(hint, sizeof(hint), "line %llu has every mapped column: set "
	    "skip_rows = %llu in [parse] to read it as the header",
	    (unsigned long long)line,
	    (unsigned long long)(pc->skip_rows + pc->probed));
	return emit_header_hint(pc->e, pc->hdr, pc->nhdr, pc->hdr_line, hint,
	    pc->skip_rows + pc->probed);
}

/* A row after a header that lacks a mapped column: is it the header? */
static int
pcsv_probe(struct pcsv *pc, const struct csv_rec *rec)
{
	if (rec->line > PROBE_LINES)
		return pcsv_refuse(pc, 0);
	pc->probed++;
	if (rec->err == 0 && emit_header_fits(pc->e, rec->f, rec->nf) == 0)
		return pcsv_refuse(pc, rec->line);
	return 0;
}

/*
 * A row longer than the header is taken only with extra_fields = empty
 * and nothing past the header's fields: one value split in two by an
 * unquoted delimiter (1,234.56) moved the fields after it, and a mapped
 * column read its neighbour's value.
 */
static int
extra_empty(const struct pcsv *pc, const struct csv_rec *rec)
{
	size_t i;

	if (!pc->extra_empty)
		return 0;
	for (i = pc->nhdr; i < rec->nf; i++)
		if (rec->f[i].len != 0)
			return 0;
	return 1;
}

static int
pcsv_record(void *arg, const struct csv_rec *rec)
{
	struct pcsv *pc = arg;
	struct prec pr;
	char why[200], msg[256], bad[200];
	int isbad = emit_row_bad(pc->e, bad, sizeof(bad));

	if (pc->skip > 0) {
		pc->skip--;
		return 0;
	}
	if (pc->need_header && isbad)
		return emit_fail(pc->e, "decode_invalid_utf8", "line %llu: the "
		    "header row is not UTF-8, as the rest of the document is: "
		    "%s", (unsigned long long)rec->line,
		    bad);
	if (pc->need_header)
		return pcsv_header(pc, rec);
	if (pc->probing)
		return pcsv_probe(pc, rec);
	pr.f = rec->f;
	pr.nf = rec->nf;
	pr.pos = rec->line;
	pr.raw = rec->raw;
	pr.rawlen = rec->rawlen;
	pr.code = NULL;
	pr.msg = NULL;
	if (isbad) {
		/* its values are not text: nothing else is said of it */
		pr.code = "invalid_utf8";
		snprintf(msg, sizeof(msg), "the row is not UTF-8, "
		    "as the rest of the document is: %s", bad);
		pr.msg = msg;
	} else if (rec->err != 0) {
		csv_problem(pc, rec, why, sizeof(why));
		pr.code = csv_errcode(rec->err);
		snprintf(msg, sizeof(msg), "the row is not valid CSV (%s): %s",
		    pr.code, why);
		pr.msg = msg;
	} else if (pc->nhdr > 0 && rec->nf > pc->nhdr && !extra_empty(pc,
	    rec)) {
		pr.code = "extra_field";
		snprintf(msg, sizeof(msg), "the row has %zu fields, the header "
		    "%zu: a delimiter in an unquoted value (a thousands "
		    "separator, say) moves every field after it%s", rec->nf,
		    pc->nhdr, pc->extra_empty ? "" : "; if the rows end with "
		    "a delimiter, set extra_fields = empty in [parse]");
		pr.msg = msg;
	} else if (pc->nhdr > 0 && rec->nf < pc->nhdr && !pc->short_ok) {
		/*
		 * a value split in two (1,234.56) in a row that leaves out
		 * its empty last field has as many fields as the header, and
		 * one that leaves out more is short: missing a field, which
		 * one cannot be told
		 */
		pr.code = "missing_field";
		snprintf(msg, sizeof(msg), "the row has %zu field%s, the header "
		    "%zu; if the rows leave out their empty last fields, set "
		    "short_rows = allow in [parse]", rec->nf, rec->nf == 1 ?
		    "" : "s", pc->nhdr);
		pr.msg = msg;
	}
	return emit_record(pc->e, &pr);
}

static void
pcsv_free(void *state)
{
	struct pcsv *pc = state;
	size_t i;

	if (pc == NULL)
		return;
	for (i = 0; i < pc->nhdr; i++)
		x_free((char *)pc->hdr[i].p);
	x_free(pc->hdr);
	csv_free(pc->p);
	x_free(pc);
}

static int
pcsv_open(void **state, const struct td_conf *c, struct emitter *e)
{
	struct pcsv *pc;

	*state = NULL;
	pc = xcalloc(1, sizeof(*pc));
	pc->e = e;
	pc->co.delim = (unsigned char)td_conf_u64(c, TDK_parse_delimiter);
	pc->co.max_field = (size_t)td_conf_u64(c, TDK_parse_max_field);
	pc->co.max_record = (size_t)td_conf_u64(c, TDK_parse_max_record);
	pc->co.max_fields = (size_t)td_conf_u64(c, TDK_parse_max_fields);
	if ((pc->p = csv_new(&pc->co)) == NULL)
		td_fatal("csv_new: bad options");	/* the config checks them */
	pc->skip = pc->skip_rows = td_conf_u64(c, TDK_parse_skip_rows);
	pc->need_header = td_conf_u64(c, TDK_parse_header) != 0;
	pc->extra_empty = td_conf_enum_is(c, TDK_parse_extra_fields, "empty");
	pc->short_ok = td_conf_enum_is(c, TDK_parse_short_rows, "allow");
	*state = pc;
	/* without a header, columns are named by number from the start */
	return pc->need_header ? 0 : emit_header(e, NULL, 0, 0);
}

static int
pcsv_feed(void *state, const char *text, size_t n)
{
	struct pcsv *pc = state;

	return csv_feed(pc->p, text, n, pcsv_record, pc);
}

static int
pcsv_finish(void *state)
{
	struct pcsv *pc = state;
	int r;

	if ((r = csv_finish(pc->p, pcsv_record, pc)) != 0)
		return r;
	if (pc->probing)
		return pcsv_refuse(pc, 0);
	if (pc->need_header)
		return emit_fail(pc->e, "empty_file", "the document has no "
		    "header row");
	return 0;
}

const struct parser_ops parser_csv = {
	.name = "csv",
	.position = "line",
	.open = pcsv_open,
	.feed = pcsv_feed,
	.finish = pcsv_finish,
	.free = pcsv_free,
	.bad_rows = 1,
};
