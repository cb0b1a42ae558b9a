/*
 * process.c - unpack, decode, parse CSV, map rows, cut batches.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "td.h"
#include "buf.h"
#include "conf.h"
#include "json.h"
#include "log.h"
#include "csv.h"
#include "decode.h"
#include "map.h"
#include "unpack.h"
#include "process.h"

#define READ_BLOCK	(1 << 20)
#define PROGRESS_EVERY	(256ULL << 20)	/* log progress every 256 MiB */
#define BATCH_MAX_BYTES	((size_t)64 << 20)	/* a batch is cut here too */

struct pstate {
	struct mapper		*m;
	struct map_doc		 doc;
	const struct proc_sink	*sink;
	struct proc_result	*res;
	struct proc_doc		*pd;
	uint64_t		 batch_records;
	uint64_t		 skip;		/* rows still to skip */
	int			 need_header;
	struct td_buf		*cur;		/* batch being filled */
	uint64_t		 curn;
	struct batch_totals	 bt;		/* its control totals */
	struct map_result	 mr;
	const struct csv_opts	*co;		/* the limits, for messages */
	char			**hdr;		/* the document's header */
	size_t			 nhdr;
};

static void
header_free(struct pstate *ps)
{
	size_t i;

	for (i = 0; i < ps->nhdr; i++)
		x_free(ps->hdr[i]);
	x_free(ps->hdr);
	ps->hdr = NULL;
	ps->nhdr = 0;
}

/* Keep the header's names: messages name a column by them. */
static void
header_keep(struct pstate *ps, const struct csv_rec *rec)
{
	size_t i;

	header_free(ps);
	ps->hdr = xcalloc(rec->nf, sizeof(*ps->hdr));
	for (i = 0; i < rec->nf; i++)
		ps->hdr[i] = xstrndup(rec->f[i].p, rec->f[i].len);
	ps->nhdr = rec->nf;
}

/*
 * What is wrong with a record that is not valid CSV, naming the field
 * (by number, and by its header name when there is one) and the limit.
 */
static void
csv_problem(const struct pstate *ps, const struct csv_rec *rec, char *buf,
    size_t n)
{
	char col[128], show[96];
	size_t f = rec->errfield;

	if (f > 0 && f <= ps->nhdr)
		snprintf(col, sizeof(col), "field %zu (\"%s\")", f,
		    mapper_shown(ps->hdr[f - 1], strlen(ps->hdr[f - 1]), show,
		    sizeof(show)));
	else
		snprintf(col, sizeof(col), "field %zu", f);
	switch (rec->err) {
	case CSV_E_FIELD_TOO_LONG:
		snprintf(buf, n, "%s is longer than max_field (%zu bytes)", col,
		    ps->co->max_field);
		break;
	case CSV_E_RECORD_TOO_LONG:
		snprintf(buf, n, "the record is longer than max_record (%zu "
		    "bytes)", ps->co->max_record);
		break;
	case CSV_E_TOO_MANY_FIELDS:
		snprintf(buf, n, "the record has more than max_fields (%zu) "
		    "fields", ps->co->max_fields);
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
flush_batch(struct pstate *ps)
{
	int r;

	if (ps->curn == 0)
		return 0;
	r = ps->sink->batch(ps->sink->arg, ps->cur, ps->curn, &ps->bt);
	ps->res->batches++;
	ps->cur = NULL;
	ps->curn = 0;
	memset(&ps->bt, 0, sizeof(ps->bt));
	return r;
}

static void
t2(struct proc_result *res, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
t2(struct proc_result *res, const char *code, const char *fmt, ...)
{
	va_list ap;

	res->t2code = code;
	va_start(ap, fmt);
	vsnprintf(res->t2msg, sizeof(res->t2msg), fmt, ap);
	va_end(ap);
}

/* "member X: " for messages about a document of an archive. */
static const char *
where(const struct pstate *ps, char *buf, size_t n)
{
	if (ps->doc.member == NULL)
		return "";
	snprintf(buf, n, "member %s: ", ps->doc.member);
	return buf;
}

/* reason.json's detail of a refused header: it, its line, the member. */
static char *
header_detail(const struct pstate *ps, const struct csv_rec *rec)
{
	struct td_buf d;
	size_t i;
	char *s;

	td_buf_init(&d, 256, 1 << 20);
	td_buf_puts(&d, "{\"header\":[");
	for (i = 0; i < rec->nf; i++) {
		if (i > 0)
			td_buf_putc(&d, ',');
		if (td_json_str(&d, rec->f[i].p, rec->f[i].len) != 0)
			td_buf_puts(&d, "null");
	}
	td_buf_printf(&d, "],\"header_line\":%llu,\"member\":",
	    (unsigned long long)rec->line);
	if (ps->doc.member == NULL || td_json_str(&d, ps->doc.member,
	    strlen(ps->doc.member)) != 0)
		td_buf_puts(&d, "null");
	td_buf_putc(&d, '}');
	s = xstrdup(td_buf_cstr(&d));
	td_buf_free(&d);
	return s;	/* transferred */
}

static int
on_record(void *arg, const struct csv_rec *rec)
{
	struct pstate *ps = arg;
	struct proc_result *res = ps->res;
	struct rejection rj;
	char *missing, wb[300];
	int r;

	if (ps->skip > 0) {
		ps->skip--;
		return 0;
	}
	if (ps->need_header) {
		ps->need_header = 0;
		if (rec->err != 0) {
			csv_problem(ps, rec, ps->mr.msg, sizeof(ps->mr.msg));
			t2(res, "schema_bad_header", "%sline %llu: the header "
			    "row is not valid CSV (%s): %s", where(ps, wb,
			    sizeof(wb)), (unsigned long long)rec->line,
			    csv_errcode(rec->err), ps->mr.msg);
			return 1;
		}
		header_keep(ps, rec);
		r = mapper_begin(ps->m, &ps->doc, rec, &missing);
		if (r == TD_ERR_FORMAT || r == TD_ERR_EXISTS) {
			if (r == TD_ERR_FORMAT)
				t2(res, "schema_missing_column", "%sthe header "
				    "on line %llu lacks mapped column%s %s",
				    where(ps, wb, sizeof(wb)),
				    (unsigned long long)rec->line,
				    strchr(missing, ',') ? "s" : "", missing);
			else
				t2(res, "schema_ambiguous_column", "%sthe "
				    "header on line %llu has a mapped column "
				    "more than once: %s", where(ps, wb,
				    sizeof(wb)), (unsigned long long)rec->line,
				    missing);
			res->t2detail = header_detail(ps, rec);
			x_free(missing);
			return 1;
		}
		if (r != 0) {
			t2(res, "bad_file_name", "the file or member name is "
			    "not valid UTF-8");
			return 1;
		}
		return 0;
	}
	res->rows++;
	ps->pd->rows++;
	if (rec->err != 0) {
		char why[200];

		csv_problem(ps, rec, why, sizeof(why));
		ps->mr.code = csv_errcode(rec->err);
		snprintf(ps->mr.msg, sizeof(ps->mr.msg), "the row is not "
		    "valid CSV (%s): %s", ps->mr.code, why);
		goto rejected;
	}
	if (ps->cur == NULL)
		ps->cur = ps->sink->buffer(ps->sink->arg);
	r = mapper_map(ps->m, rec, ps->pd->rows, ps->cur, &ps->mr);
	if (r < 0) {
		res->ioerr = r;
		return 1;
	}
	if (r > 0)
		goto rejected;
	res->records++;
	ps->pd->records++;
	if (td_dec_add(&res->quantity, &ps->mr.quantity) != 0 ||
	    (ps->mr.has_amount &&
	    td_dec_add(&res->amount, &ps->mr.amount) != 0)) {
		t2(res, "control_total_overflow", "%sline %llu: control "
		    "totals exceed 36 digits", where(ps, wb, sizeof(wb)),
		    (unsigned long long)rec->line);
		return 1;
	}
	if (ps->mr.has_amount)
		res->has_amount = 1;
	/* cannot overflow where the file's totals did not */
	(void)td_dec_add(&ps->bt.quantity, &ps->mr.quantity);
	if (ps->mr.has_amount) {
		(void)td_dec_add(&ps->bt.amount, &ps->mr.amount);
		ps->bt.has_amount = 1;
	}
	if ((++ps->curn >= ps->batch_records || ps->cur->len >= BATCH_MAX_BYTES)
	    && (r = flush_batch(ps)) != 0) {
		res->ioerr = r;
		return 1;
	}
	return 0;
 rejected:
	res->rejected++;
	ps->pd->rejected++;
	memset(&rj, 0, sizeof(rj));
	rj.tier = 3;
	rj.code = ps->mr.code;
	rj.message = ps->mr.msg;
	rj.member = ps->doc.member;
	rj.line = rec->line;
	rj.raw = rec->raw;
	rj.rawlen = rec->rawlen;
	if ((r = ps->sink->reject(ps->sink->arg, &rj)) != 0) {
		res->ioerr = r;
		return 1;
	}
	return 0;
}

void
proc_result_clear(struct proc_result *res)
{
	size_t i;

	for (i = 0; i < res->ndocs; i++)
		x_free(res->docs[i].member);
	x_free(res->docs);
	x_free(res->t2detail);
	memset(res, 0, sizeof(*res));
}

const char *
proc_encoding(const struct proc_result *res)
{
	size_t i;

	if (res->ndocs == 0)
		return "utf-8";
	for (i = 1; i < res->ndocs; i++)
		if (strcmp(res->docs[i].encoding, res->docs[0].encoding) != 0)
			return "mixed";
	return res->docs[0].encoding;
}

/*
 * How many documents so far, the last one included, have the last one's
 * member name: 1 unless an archive repeats a name (tar -r appends).
 */
static uint64_t
occurrence(const struct proc_result *res)
{
	const char *name = res->docs[res->ndocs - 1].member;
	uint64_t n = 1;
	size_t i;

	for (i = 0; name != NULL && i + 1 < res->ndocs; i++)
		if (res->docs[i].member != NULL &&
		    strcmp(res->docs[i].member, name) == 0)
			n++;
	return n;
}

static int
forced(const struct proc_opts *o, size_t idx)
{
	size_t i;

	for (i = 0; i < o->nforce; i++)
		if (o->force_cp1252[i] == idx)
			return 1;
	return 0;
}

/*
 * More rows dead-lettered than max_reject_ratio (ppm) allows: the whole
 * file is Tier 2, so that `once` and `try` agree.
 */
static void
reject_ratio(struct proc_result *res, uint64_t ppm)
{
	char frac[8];
	size_t l;

	if (res->t2code != NULL || res->rows == 0 ||
	    (unsigned __int128)res->rejected * 1000000 <=
	    (unsigned __int128)ppm * res->rows)
		return;
	snprintf(frac, sizeof(frac), "%06u", (unsigned)(ppm % 1000000));
	for (l = strlen(frac); l > 1 && frac[l - 1] == '0'; l--)
		frac[l - 1] = '\0';
	t2(res, "reject_ratio_exceeded", "%llu of %llu rows rejected, more "
	    "than max_reject_ratio %u.%s", (unsigned long long)res->rejected,
	    (unsigned long long)res->rows, (unsigned)(ppm / 1000000), frac);
}

/* A file without a document: say what it is (empty_file). */
static void
no_document(struct proc_result *res, const struct unpack_stats *st)
{
	int plain = strcmp(st->format, "tar") == 0 ||
	    strcmp(st->format, "empty") == 0;

	if (st->nul_bytes > 0)
		t2(res, "empty_file", "the file holds no document: it is %llu "
		    "NUL bytes%s, which read as an empty tar archive",
		    (unsigned long long)st->nul_bytes, plain ? "" :
		    " once decompressed");
	else if (strncmp(st->format, "empty", 5) == 0)
		t2(res, "empty_file", "the file is empty%s", plain ? "" :
		    " once decompressed");
	else
		t2(res, "empty_file", "the file holds no document: its "
		    "archive (%s) has %llu director%s and %llu empty file%s",
		    st->format, (unsigned long long)st->skipped_dirs,
		    st->skipped_dirs == 1 ? "y" : "ies",
		    (unsigned long long)st->skipped_empty,
		    st->skipped_empty == 1 ? "" : "s");
}

/* Text with a NUL in every other byte is UTF-16 without a BOM: say so. */
static void
utf16_hint(struct pstate *ps, int enc)
{
	char wb[300];

	if (enc == DEC_UTF16LE)
		t2(ps->res, "decode_utf16_no_bom", "%sthe text looks like "
		    "UTF-16LE without a byte order mark (a NUL byte after most "
		    "characters); set [decode] encoding = utf-16",
		    where(ps, wb, sizeof(wb)));
	else
		t2(ps->res, "decode_utf16_no_bom", "%sthe text looks like "
		    "UTF-16BE without a byte order mark (a NUL byte before "
		    "most characters), which this version reads only with "
		    "one: have the sender add a byte order mark, or send UTF-8",
		    where(ps, wb, sizeof(wb)));
}

/*
 * One document: read it from the unpacker, decode, feed the parser.
 * Returns 0 (look at res), or a negative TD_ERR_* local failure.
 */
static int
process_doc(struct pstate *ps, struct unpacker *u, struct csv *p,
    int enc, int autoenc, char *blk, struct td_buf *dec, uint64_t *total)
{
	struct proc_result *res = ps->res;
	struct decoder *d = NULL;
	ssize_t n;
	char wb[300];
	int r = 0, first = 1, ret = TD_OK;

	for (;;) {
		n = unpack_read(u, blk, READ_BLOCK);
		if (n < 0) {
			t2(res, unpack_errcode(u), "%s%s", where(ps, wb,
			    sizeof(wb)), unpack_errmsg(u));
			goto out;
		}
		if (first) {
			/* a BOM decides; else the configured encoding */
			int bom = decoder_sniff(blk, (size_t)n), u16;

			first = 0;
			if (bom == 0 && enc != DEC_UTF16LE &&
			    enc != DEC_UTF16BE &&
			    (u16 = decoder_looks_utf16(blk, (size_t)n)) != 0) {
				utf16_hint(ps, u16);
				goto out;
			}
			if (autoenc && bom != 0)
				enc = bom;
			else if (enc == DEC_UTF16LE && bom == DEC_UTF16BE)
				enc = DEC_UTF16BE;
			d = decoder_new(enc);
			ps->pd->encoding = decoder_name(d);
		}
		td_buf_reset(dec);
		r = n == 0 ? decoder_finish(d, dec) :
		    decoder_feed(d, blk, (size_t)n, dec);
		if (r == TD_ERR_FORMAT) {
			if (strcmp(decoder_errcode(d), "decode_not_utf8") == 0) {
				res->restart = 1;
				res->restart_doc = res->ndocs - 1;
			} else
				t2(res, decoder_errcode(d), "%sbyte %llu is "
				    "not valid %s", where(ps, wb, sizeof(wb)),
				    (unsigned long long)decoder_erroffset(d),
				    decoder_name(d));
			goto out;
		}
		if (r != 0) {
			ret = r;
			goto out;
		}
		if (dec->len > 0)
			r = csv_feed(p, dec->p, dec->len, on_record, ps);
		if (r == 0 && n == 0)
			r = csv_finish(p, on_record, ps);
		if (res->ioerr != 0) {
			ret = res->ioerr;
			goto out;
		}
		if (r != 0 || res->t2code != NULL || n == 0)
			break;
		*total += (uint64_t)n;
		if (*total / PROGRESS_EVERY != (*total - (uint64_t)n) /
		    PROGRESS_EVERY)
			td_log(TD_LOG_INFO, "file_progress", "file=%s "
			    "bytes=%llu rows=%llu records=%llu dlq=%llu",
			    ps->doc.file, (unsigned long long)*total,
			    (unsigned long long)res->rows,
			    (unsigned long long)res->records,
			    (unsigned long long)res->rejected);
	}
	if (res->t2code == NULL && ps->need_header)
		t2(res, "empty_file", "%sthe document has no header row",
		    where(ps, wb, sizeof(wb)));
 out:
	decoder_free(d);
	return ret;
}

int
process_file(struct mapper *m, const struct td_conf *c, int fd,
    const struct proc_opts *o, const struct proc_sink *sink,
    struct proc_result *res)
{
	struct unpack_limits lim;
	struct unpacker *u = NULL;
	struct csv_opts co;
	struct csv *p = NULL;
	struct pstate ps;
	struct td_buf dec;
	const char *member, *encname;
	char *blk = NULL, *missing;
	uint64_t total = 0;
	int r, enc, autoenc, ret = TD_OK;

	memset(res, 0, sizeof(*res));
	memset(&ps, 0, sizeof(ps));
	ps.m = m;
	ps.sink = sink;
	ps.res = res;
	ps.batch_records = o->batch_records;
	ps.co = &co;
	ps.doc.transmission_id = o->transmission_id;
	ps.doc.file = o->file;
	td_buf_init(&dec, READ_BLOCK * 4, 0);

	memset(&co, 0, sizeof(co));
	co.delim = (unsigned char)td_conf_u64(c, TDK_parse_delimiter);
	co.max_field = (size_t)td_conf_u64(c, TDK_parse_max_field);
	co.max_record = (size_t)td_conf_u64(c, TDK_parse_max_record);
	co.max_fields = (size_t)td_conf_u64(c, TDK_parse_max_fields);
	lim.max_ratio = td_conf_u64(c, TDK_unpack_max_ratio);
	lim.max_bytes = td_conf_u64(c, TDK_unpack_max_bytes);
	lim.max_members = td_conf_u64(c, TDK_unpack_max_members);
	lim.max_depth = td_conf_u64(c, TDK_unpack_max_depth);
	encname = td_conf_str(c, TDK_decode_encoding);

	if ((r = unpack_open(&u, fd, o->file, &lim)) != 0) {
		if (u != NULL)
			t2(res, unpack_errcode(u), "%s", unpack_errmsg(u));
		else
			ret = r;
		goto out;
	}
	blk = xmalloc(READ_BLOCK);
	while ((r = unpack_next(u, &member)) == 1) {
		res->docs = xreallocarray(res->docs, res->ndocs + 1,
		    sizeof(*res->docs));
		ps.pd = &res->docs[res->ndocs++];
		memset(ps.pd, 0, sizeof(*ps.pd));
		ps.pd->member = member ? xstrdup(member) : NULL;
		ps.pd->encoding = "utf-8";
		ps.doc.member = ps.pd->member;
		ps.doc.occurrence = occurrence(res);
		autoenc = strcmp(encname, "auto") == 0;
		if (autoenc)
			enc = forced(o, res->ndocs - 1) ? DEC_CP1252 :
			    DEC_UTF8_TRY;
		else
			enc = decoder_from_name(encname);
		csv_free(p);
		if ((p = csv_new(&co)) == NULL)
			td_fatal("csv_new: bad options");
		header_free(&ps);
		ps.skip = mapper_skip_rows(m);
		ps.need_header = mapper_has_header(m);
		if (!ps.need_header &&
		    mapper_begin(m, &ps.doc, NULL, &missing) != 0) {
			x_free(missing);
			t2(res, "bad_file_name", "the file or member name is "
			    "not valid UTF-8");
			goto out;
		}
		if ((ret = process_doc(&ps, u, p, enc, autoenc, blk, &dec,
		    &total)) != 0)
			goto out;
		if (res->t2code != NULL || res->restart)
			goto out;
	}
	if (r < 0) {
		t2(res, unpack_errcode(u), "%s", unpack_errmsg(u));
		goto out;
	}
	if (res->ndocs == 0) {
		no_document(res, unpack_stats(u));
		goto out;
	}
	if ((r = flush_batch(&ps)) != 0)
		ret = r;
	else
		reject_ratio(res, td_conf_u64(c, TDK_integration_max_reject_ratio));
 out:
	if (u != NULL && unpack_stats(u)->format != NULL)
		snprintf(res->format, sizeof(res->format), "%s",
		    unpack_stats(u)->format);
	/* the digest of what was read, the rest of the file included */
	if (u != NULL && ret == 0 && !res->restart &&
	    (r = unpack_digest(u, res->raw_sha256, &res->raw_size)) != 0) {
		if (r == TD_ERR_FORMAT) {	/* changed: that explains all */
			t2(res, unpack_errcode(u), "%s", unpack_errmsg(u));
			x_free(res->t2detail);
			res->t2detail = NULL;
		} else
			ret = r;
	}
	x_free(blk);
	header_free(&ps);
	csv_free(p);
	unpack_close(u);
	td_buf_free(&dec);
	return ret;
}
