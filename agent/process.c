/*
 * process.c - read a document, parse CSV, map rows, cut batches.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "td.h"
#include "buf.h"
#include "conf.h"
#include "json.h"
#include "log.h"
#include "csv.h"
#include "map.h"
#include "process.h"

#define READ_BLOCK	(1 << 20)
#define PROGRESS_EVERY	(256ULL << 20)	/* log progress every 256 MiB */

struct pstate {
	struct mapper		*m;
	const struct map_doc	*doc;
	const struct proc_sink	*sink;
	struct proc_result	*res;
	uint64_t		 batch_records;
	uint64_t		 skip;		/* rows still to skip */
	int			 need_header;
	struct td_buf		*cur;
	uint64_t		 curn;
	struct map_result	 mr;
};

static int
flush_batch(struct pstate *ps)
{
	int r;

	if (ps->curn == 0)
		return 0;
	r = ps->sink->batch(ps->sink->arg, ps->cur, ps->curn);
	ps->res->batches++;
	ps->cur = NULL;
	ps->curn = 0;
	return r;
}

static int
on_record(void *arg, const struct csv_rec *rec)
{
	struct pstate *ps = arg;
	struct proc_result *res = ps->res;
	struct rejection rj;
	char *missing;
	int r;

	if (ps->skip > 0) {
		ps->skip--;
		return 0;
	}
	if (ps->need_header) {
		ps->need_header = 0;
		if (rec->err != 0) {
			res->t2code = "schema_bad_header";
			snprintf(res->t2msg, sizeof(res->t2msg), "line %llu: "
			    "the header row is not valid CSV (%s)",
			    (unsigned long long)rec->line,
			    csv_errcode(rec->err));
			return 1;
		}
		r = mapper_begin(ps->m, ps->doc, rec, &missing);
		if (r == TD_ERR_FORMAT) {
			struct td_buf d;
			size_t i;

			res->t2code = "schema_missing_column";
			snprintf(res->t2msg, sizeof(res->t2msg), "the header "
			    "on line %llu lacks mapped column%s %s",
			    (unsigned long long)rec->line,
			    strchr(missing, ',') ? "s" : "", missing);
			td_buf_init(&d, 256, 1 << 20);
			td_buf_puts(&d, "{\"header\":[");
			for (i = 0; i < rec->nf; i++) {
				if (i > 0)
					td_buf_putc(&d, ',');
				if (td_json_str(&d, rec->f[i].p,
				    rec->f[i].len) != 0)
					td_buf_puts(&d, "null");
			}
			td_buf_printf(&d, "],\"header_line\":%llu}",
			    (unsigned long long)rec->line);
			res->t2detail = xstrdup(td_buf_cstr(&d));
			td_buf_free(&d);
			x_free(missing);
			return 1;
		}
		if (r != 0) {
			res->t2code = "bad_file_name";
			snprintf(res->t2msg, sizeof(res->t2msg), "the file "
			    "name is not valid UTF-8");
			return 1;
		}
		return 0;
	}
	res->rows++;
	if (rec->err != 0) {
		ps->mr.code = csv_errcode(rec->err);
		snprintf(ps->mr.msg, sizeof(ps->mr.msg), "the row is not "
		    "valid CSV (%s)", ps->mr.code);
		goto rejected;
	}
	if (ps->cur == NULL)
		ps->cur = ps->sink->buffer(ps->sink->arg);
	r = mapper_map(ps->m, rec, res->rows, ps->cur, &ps->mr);
	if (r < 0) {
		res->ioerr = r;
		return 1;
	}
	if (r > 0)
		goto rejected;
	res->records++;
	if (td_dec_add(&res->quantity, &ps->mr.quantity) != 0 ||
	    (ps->mr.has_amount &&
	    td_dec_add(&res->amount, &ps->mr.amount) != 0)) {
		res->t2code = "control_total_overflow";
		snprintf(res->t2msg, sizeof(res->t2msg), "line %llu: control "
		    "totals exceed 36 digits", (unsigned long long)rec->line);
		return 1;
	}
	if (ps->mr.has_amount)
		res->has_amount = 1;
	if (++ps->curn >= ps->batch_records && (r = flush_batch(ps)) != 0) {
		res->ioerr = r;
		return 1;
	}
	return 0;
 rejected:
	res->rejected++;
	memset(&rj, 0, sizeof(rj));
	rj.tier = 3;
	rj.code = ps->mr.code;
	rj.message = ps->mr.msg;
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
	x_free(res->t2detail);
	memset(res, 0, sizeof(*res));
}

int
process_csv(struct mapper *m, const struct td_conf *c, int fd,
    const struct map_doc *doc, uint64_t batch_records,
    const struct proc_sink *sink, struct proc_result *res)
{
	struct csv_opts o;
	struct csv *p;
	struct pstate ps;
	char *blk;
	ssize_t n;
	uint64_t total = 0;
	char *missing;
	int r = 0, ret = TD_OK;

	memset(res, 0, sizeof(*res));
	memset(&ps, 0, sizeof(ps));
	ps.m = m;
	ps.doc = doc;
	ps.sink = sink;
	ps.res = res;
	ps.batch_records = batch_records;
	ps.skip = mapper_skip_rows(m);
	ps.need_header = mapper_has_header(m);
	if (!ps.need_header && mapper_begin(m, doc, NULL, &missing) != 0) {
		x_free(missing);
		res->t2code = "bad_file_name";
		snprintf(res->t2msg, sizeof(res->t2msg), "the file name is "
		    "not valid UTF-8");
		return TD_OK;
	}

	memset(&o, 0, sizeof(o));
	o.delim = (unsigned char)td_conf_u64(c, TDK_parse_delimiter);
	o.max_field = (size_t)td_conf_u64(c, TDK_parse_max_field);
	o.max_record = (size_t)td_conf_u64(c, TDK_parse_max_record);
	o.max_fields = (size_t)td_conf_u64(c, TDK_parse_max_fields);
	if ((p = csv_new(&o)) == NULL)
		td_fatal("csv_new: bad options");
	blk = xmalloc(READ_BLOCK);
	for (;;) {
		n = read(fd, blk, READ_BLOCK);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = TD_ERR_IO;
			goto out;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (total / PROGRESS_EVERY != (total - (uint64_t)n) /
		    PROGRESS_EVERY)
			td_log(TD_LOG_INFO, "file_progress", "file=%s "
			    "bytes=%llu rows=%llu records=%llu dlq=%llu",
			    doc->file, (unsigned long long)total,
			    (unsigned long long)res->rows,
			    (unsigned long long)res->records,
			    (unsigned long long)res->rejected);
		r = csv_feed(p, blk, (size_t)n, on_record, &ps);
		if (r != 0)
			break;
	}
	if (r == 0)
		r = csv_finish(p, on_record, &ps);
	if (res->ioerr != 0) {
		ret = res->ioerr;
		goto out;
	}
	if (res->t2code != NULL)
		goto out;
	if (ps.need_header) {
		res->t2code = "empty_file";
		snprintf(res->t2msg, sizeof(res->t2msg), total == 0 ?
		    "the file is empty" : "the file has no header row");
		goto out;
	}
	if ((r = flush_batch(&ps)) != 0) {
		ret = r;
		goto out;
	}
 out:
	x_free(blk);
	csv_free(p);
	return ret;
}
