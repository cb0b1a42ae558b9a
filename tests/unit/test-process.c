/*
 * test-process.c - agent/process.c: a file through unpack, decode, parse
 * and map as `once` and `try` run it, with the records, rejections and
 * Tier 2 verdict kept in memory; the digest and size of the raw bytes it
 * read (compared with sha256sum) whatever the file and its fate; a
 * parser of another format (one made here) driving emit_record(); the
 * encoding = auto restart and the sink it resets.
 * Files are made at test time in a temporary directory.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "td.h"
#include "buf.h"
#include "conf.h"
#include "hash.h"
#include "map.h"
#include "parser.h"
#include "process.h"
#include "../lib/tap.h"
#include "../lib/testutil.h"

static char tmpdir[] = "/tmp/test-process.XXXXXX";

#define TID	"0123456789abcdef0123456789abcdef" \
		"0123456789abcdef0123456789abcdef"

/* What one run of process_file() gave. */
struct got {
	struct td_buf	 buf;		/* the batch being filled */
	struct td_buf	 recs;		/* every record line */
	struct td_buf	 rejs;		/* "line code: message" per rejection */
	struct td_buf	 batches;	/* "records quantity amount" per batch */
	struct td_buf	 resets;	/* "doc " per sink reset */
	int		 reset_rc;	/* what the reset returns */
	uint64_t	 nrec;
	struct proc_result res;
	int		 rc;
};

static struct td_buf *
g_buffer(void *arg)
{
	struct got *g = arg;

	td_buf_reset(&g->buf);
	return &g->buf;
}

static int
g_batch(void *arg, struct td_buf *b, uint64_t n,
    const struct batch_totals *bt)
{
	struct got *g = arg;
	char q[TD_DEC_STRMAX], a[TD_DEC_STRMAX];

	td_dec_format(&bt->quantity, q, sizeof(q));
	td_dec_format(&bt->amount, a, sizeof(a));
	td_buf_printf(&g->batches, "%llu %s %s\n", (unsigned long long)n, q,
	    bt->has_amount ? a : "null");
	g->nrec += n;
	return td_buf_append(&g->recs, b->p, b->len);
}

static int
g_reject(void *arg, const struct rejection *rj)
{
	struct got *g = arg;

	return td_buf_printf(&g->rejs, "%llu %s: %s\n",
	    (unsigned long long)rj->line, rj->code, rj->message);
}

/* As a sink must: forget what it was given; note that it was asked. */
static int
g_reset(void *arg, size_t doc, int mixed)
{
	struct got *g = arg;

	td_buf_printf(&g->resets, "%zu%s ", doc, mixed ? "m" : "");
	td_buf_reset(&g->recs);
	td_buf_reset(&g->rejs);
	td_buf_reset(&g->batches);
	g->nrec = 0;
	return g->reset_rc;
}

#define MAP_STD	"store_id = column \"Store\"\n" \
		"gtin = column \"UPC\" gtin\n" \
		"txn_date = column \"Date\" date \"%Y-%m-%d\"\n" \
		"quantity = column \"Units\" decimal\n"

static void
got_init(struct got *g)
{
	memset(g, 0, sizeof(*g));
	td_buf_init(&g->buf, 4096, 0);
	td_buf_init(&g->recs, 4096, 0);
	td_buf_init(&g->rejs, 4096, 0);
	td_buf_init(&g->batches, 256, 0);
	td_buf_init(&g->resets, 64, 0);
}

/*
 * Process what fd reads with the mapping of c and parser ops (NULL: the
 * one of [parse] format) into *g, initialised with got_init().
 */
static void
run_fd(const struct td_conf *c, int fd, const char *name,
    const struct parser_ops *ops, uint64_t batch_records, struct got *g)
{
	struct mapper *m = NULL;
	struct proc_sink sink;
	struct proc_opts po;
	char *err = NULL;

	if (mapper_new(c, &m, &err) != 0)
		td_fatal("mapper_new: %s", err);
	memset(&sink, 0, sizeof(sink));
	sink.buffer = g_buffer;
	sink.batch = g_batch;
	sink.reject = g_reject;
	sink.reset = g_reset;
	sink.arg = g;
	memset(&po, 0, sizeof(po));
	po.transmission_id = TID;
	po.file = name;
	po.batch_records = batch_records;
	po.parser = ops;
	g->rc = process_file(m, c, fd, &po, &sink, &g->res);
	mapper_free(m);
}

/* Process tmpdir/rel as run_fd() does (free *g with got_free). */
static void
run_with(const struct td_conf *c, const char *rel,
    const struct parser_ops *ops, uint64_t batch_records, struct got *g)
{
	char *p = xasprintf("%s/%s", tmpdir, rel);
	int fd;

	got_init(g);
	if ((fd = open(p, O_RDONLY)) < 0)
		td_fatal("%s: %s", p, strerror(errno));
	run_fd(c, fd, rel, ops, batch_records, g);
	close(fd);
	x_free(p);
}

/* Process tmpdir/rel with the mapping of c into *g (free with got_free). */
static void
run(const struct td_conf *c, const char *rel, struct got *g)
{
	run_with(c, rel, NULL, 1000, g);
}

static void
got_free(struct got *g)
{
	td_buf_free(&g->buf);
	td_buf_free(&g->recs);
	td_buf_free(&g->rejs);
	td_buf_free(&g->batches);
	td_buf_free(&g->resets);
	proc_result_clear(&g->res);
}

/* sha256sum of tmpdir/rel */
static void
sha256sum(const char *rel, char out[65])
{
	char *p = xasprintf("%s/%s", tmpdir, rel);

	tu_sha256sum(p, out);
	x_free(p);
}

static long long
fsize(const char *rel)
{
	char *p = xasprintf("%s/%s", tmpdir, rel);
	struct stat sb;
	long long n = stat(p, &sb) == 0 ? (long long)sb.st_size : -1;

	x_free(p);
	return n;
}

static void
test_digest(void)
{
	static const struct { const char *file, *t2; uint64_t nrec; } f[] = {
		{ "plain.csv", NULL, 3 },
		{ "plain.csv.gz", NULL, 3 },
		{ "two.zip", NULL, 6 },
		{ "plain.tar.gz", NULL, 3 },
		{ "trailing.csv.gz", "archive_corrupt", 0 },
		{ "drift.csv", "schema_missing_column", 0 },
		{ "big-drift.csv.gz", "schema_missing_column", 0 },
	};
	struct td_conf *c = tu_conf(tmpdir, MAP_STD);
	struct got g;
	char want[65];
	size_t i;

	tu_sh(tmpdir, "printf 'Store,UPC,Date,Units\\n1,041000001239,2026-11-28,1\\n"
	    "2,041000001239,2026-11-28,2\\n3,041000001239,2026-11-28,3\\n' "
	    "> plain.csv && gzip -c plain.csv > plain.csv.gz && "
	    "cp plain.csv b.csv && python3 -c 'import zipfile; "
	    "z = zipfile.ZipFile(\"two.zip\", \"w\", zipfile.ZIP_DEFLATED); "
	    "z.write(\"plain.csv\"); z.write(\"b.csv\"); z.close()' && "
	    "tar -cf - plain.csv | gzip -c > plain.tar.gz && "
	    "( cat plain.csv.gz; printf 'trailing bytes' ) > trailing.csv.gz && "
	    "printf 'Store,UPC,Date,Qty\\n1,2,3,4\\n' > drift.csv && "
	    "( cat drift.csv; head -c 5000000 /dev/urandom | od -An -x ) | "
	    "gzip -1 -c > big-drift.csv.gz");
	for (i = 0; i < TD_NELEM(f); i++) {
		run(c, f[i].file, &g);
		sha256sum(f[i].file, want);
		is_int(g.rc, 0, "%s: process_file returns 0", f[i].file);
		is_str(g.res.t2code, f[i].t2, "%s: Tier 2 %s", f[i].file,
		    f[i].t2 ? f[i].t2 : "none");
		is_int(g.nrec, f[i].nrec, "%s: %llu records", f[i].file,
		    (unsigned long long)f[i].nrec);
		is_str(g.res.raw_sha256, want, "%s: raw_sha256 is the file's "
		    "sha256sum", f[i].file);
		is_int(g.res.raw_size, fsize(f[i].file), "%s: raw_size is the "
		    "file's size", f[i].file);
		got_free(&g);
	}
	td_conf_free(c);
}

/* The record_id of the n-th record line (0-based) in g, or "". */
static void
nth_id(const struct got *g, int n, char id[65])
{
	const char *p = g->recs.p, *end = g->recs.p + g->recs.len, *q;

	id[0] = '\0';
	for (; p != NULL && p < end && n > 0; n--)
		if ((p = memchr(p, '\n', (size_t)(end - p))) != NULL)
			p++;
	if (p != NULL && p < end &&
	    (q = strstr(p, "\"record_id\":\"")) != NULL)
		snprintf(id, 65, "%.*s", (int)strcspn(q + 13, "\""), q + 13);
}

/* A tar with a member appended under a name already there (tar -r). */
static void
test_repeated_member(void)
{
	struct td_conf *c = tu_conf(tmpdir, MAP_STD);
	struct got g;
	char id0[65], id1[65], want[TD_SHA256_HEX];
	static const char in0[] = "acme\n" TID "\nd.csv\n1";
	static const char in1[] = "acme\n" TID "\nd.csv\0" "2\n1";

	tu_sh(tmpdir, "mkdir -p r1 r2 && "
	    "printf 'Store,UPC,Date,Units\\n1,041000001239,2026-11-28,1\\n' "
	    "> r1/d.csv && "
	    "printf 'Store,UPC,Date,Units\\n2,041000001239,2026-11-28,2\\n' "
	    "> r2/d.csv && tar -C r1 -cf rep.tar d.csv && "
	    "tar -C r2 -rf rep.tar d.csv");
	run(c, "rep.tar", &g);
	is_int(g.nrec, 2, "tar -r: both rows, from two members named d.csv");
	nth_id(&g, 0, id0);
	nth_id(&g, 1, id1);
	ok(id0[0] != '\0' && strcmp(id0, id1) != 0, "tar -r: two record_ids");
	td_sha256_hex(in0, sizeof(in0) - 1, want);
	want[2 * TD_ID_LEN] = '\0';	/* the first 16 bytes */
	is_str(id0, want, "tar -r: the first d.csv's row has the id it "
	    "always had");
	td_sha256_hex(in1, sizeof(in1) - 1, want);
	want[2 * TD_ID_LEN] = '\0';	/* the first 16 bytes */
	is_str(id1, want, "tar -r: the second d.csv's row: NUL 2 after the "
	    "name");
	got_free(&g);
	td_conf_free(c);
}

/* Rows that are not valid CSV: the message names the field and limit. */
static void
test_csv_messages(void)
{
	struct td_conf *c = tu_conf(tmpdir, MAP_STD
	    "[parse]\nmax_field = 16\nmax_fields = 8\n");
	struct got g;

	tu_sh(tmpdir, "printf 'Store,UPC,Date,Units,Item\\n"
	    "1,041000001239,2026-11-28,1,x\\n"
	    "2,041000001239,2026-11-28,1,0123456789abcdefg\\n"
	    "3,041000001239,2026-11-28,1\\0,x\\n"
	    "4,041000001239,\"2026-11-28\"x,1,x\\n"
	    "5,041000001239,2026-11-28,1,x,6,7,8,9\\n"
	    "6,041000001239,2026-11-28,1,\"x\\0y\"\\n' > msgs.csv && "
	    "printf 'Store,UPC\\0,Date,Units\\n1,2,3,4\\n' > nulhdr.csv");
	run(c, "msgs.csv", &g);
	is_int(g.nrec, 1, "msgs.csv: one good row");
	is_str(g.rejs.p, "3 csv_field_too_long: the row is not valid CSV "
	    "(csv_field_too_long): field 5 (\"Item\") is longer than "
	    "max_field (16 bytes)\n"
	    "4 csv_nul_byte: the row is not valid CSV (csv_nul_byte): field 4 "
	    "(\"Units\") holds a NUL byte, which is not text\n"
	    "5 csv_bad_quote: the row is not valid CSV (csv_bad_quote): "
	    "field 3 (\"Date\") has data after its closing quote\n"
	    "6 csv_too_many_fields: the row is not valid CSV "
	    "(csv_too_many_fields): the record has more than max_fields (8) "
	    "fields\n"
	    "7 csv_nul_byte: the row is not valid CSV (csv_nul_byte): field 5 "
	    "(\"Item\") holds a NUL byte, which is not text\n",
	    "each bad row: its code, the field by number and name, the limit");
	got_free(&g);
	run(c, "nulhdr.csv", &g);
	is_str(g.res.t2code, "schema_bad_header", "a NUL in the header: "
	    "schema_bad_header");
	is_str(g.res.t2msg, "line 1: the header row is not valid CSV "
	    "(csv_nul_byte): field 2 holds a NUL byte, which is not text",
	    "a NUL in the header: the message says where");
	got_free(&g);
	td_conf_free(c);
}

/* UTF-16 without a BOM is refused with a hint, in either byte order. */
static void
test_utf16_hint(void)
{
	static const struct { const char *file, *says; } f[] = {
		{ "le.csv", "UTF-16LE without a byte order mark (a NUL byte "
		    "after most characters); set [decode] encoding = utf-16" },
		{ "be.csv", "UTF-16BE without a byte order mark" },
	};
	struct td_conf *c = tu_conf(tmpdir, MAP_STD);
	struct got g;
	size_t i;

	tu_sh(tmpdir, "python3 -c 'import sys; t = \"Store,UPC,Date,Units\\n"
	    "1,041000001239,2026-11-28,1\\n\"; "
	    "open(\"le.csv\", \"wb\").write(t.encode(\"utf-16-le\")); "
	    "open(\"be.csv\", \"wb\").write(t.encode(\"utf-16-be\"))'");
	for (i = 0; i < TD_NELEM(f); i++) {
		run(c, f[i].file, &g);
		is_str(g.res.t2code, "decode_utf16_no_bom", "%s: "
		    "decode_utf16_no_bom", f[i].file);
		ok(strstr(g.res.t2msg, f[i].says) != NULL, "%s: the message "
		    "says \"%s\" (%s)", f[i].file, f[i].says, g.res.t2msg);
		got_free(&g);
	}
	td_conf_free(c);
}

/* Files without a document: the message says what they are. */
static void
test_no_document(void)
{
	static const struct { const char *file, *code, *msg; } f[] = {
		{ "zeros.gz", "empty_file", "the file holds no document: it is "
		    "20480 NUL bytes once decompressed, which read as an empty "
		    "tar archive" },
		{ "zeros.tar", "empty_file", "the file holds no document: it is "
		    "10240 NUL bytes, which read as an empty tar archive" },
		{ "empty.csv", "empty_file", "the file is empty" },
		{ "empty.csv.gz", "empty_file", "the file is empty once "
		    "decompressed" },
		{ "dirs.tar", "empty_file", "the file holds no document: its "
		    "archive (tar) has 1 directory and 1 empty file" },
		{ "nul-prefix.csv", "nul_prefix", "nul-prefix.csv begins with "
		    "2048 NUL bytes, then other data: a damaged or zero-filled "
		    "file, neither an archive nor text" },
	};
	struct td_conf *c = tu_conf(tmpdir, MAP_STD);
	struct got g;
	size_t i;

	tu_sh(tmpdir, "head -c 20480 /dev/zero | gzip -c > zeros.gz && "
	    "head -c 10240 /dev/zero > zeros.tar && : > empty.csv && "
	    "gzip -c empty.csv > empty.csv.gz && mkdir -p dd/d && "
	    ": > dd/d/e.csv && tar -C dd -cf dirs.tar d && "
	    "( head -c 2048 /dev/zero; cat plain.csv ) > nul-prefix.csv");
	for (i = 0; i < TD_NELEM(f); i++) {
		run(c, f[i].file, &g);
		is_str(g.res.t2code, f[i].code, "%s: its code", f[i].file);
		is_str(g.res.t2msg, f[i].msg, "%s: the message says what it is",
		    f[i].file);
		got_free(&g);
	}
	td_conf_free(c);
}

/* More rejected rows than max_reject_ratio: Tier 2, as once says it. */
static void
test_reject_ratio(void)
{
	struct td_conf *c = tu_conf(tmpdir, MAP_STD);
	struct td_conf *c2 = tu_conf(tmpdir, MAP_STD
	    "[integration]\nmax_reject_ratio = 0.5\n");
	struct got g;

	tu_sh(tmpdir, "printf 'Store,UPC,Date,Units\\n"
	    "1,041000001239,2026-11-28,1\\n2,x,2026-11-28,1\\n' > half.csv");
	run(c, "half.csv", &g);
	is_str(g.res.t2code, "reject_ratio_exceeded", "1 of 2 rejected, "
	    "max 0.05: reject_ratio_exceeded");
	is_str(g.res.t2msg, "1 of 2 rows rejected, more than max_reject_ratio "
	    "0.05", "the message");
	got_free(&g);
	run(c2, "half.csv", &g);
	is_str(g.res.t2code, NULL, "1 of 2 rejected, max 0.5: not over");
	is_int(g.nrec, 1, "max 0.5: the good row is a record");
	got_free(&g);
	td_conf_free(c);
	td_conf_free(c2);
}

/*
 * A format made for this test, to show that a parser other than CSV
 * drives emit_record(): segments end with '~' (line ends between them
 * are skipped), elements are separated by '*', and segments are counted
 * from 1 in their document, as X12 counts them.
 *   R*v1*v2*...   a record of these values, at its segment's ordinal
 *   X*code*msg    a record the parser rejects itself
 *   F*code*msg    the whole file is refused
 * Every other segment is skipped (but counted).
 */
struct seg {
	struct emitter	*e;
	struct td_buf	 cur;		/* the segment being read */
	uint64_t	 ordinal;
};

static int
seg_open(void **state, const struct td_conf *c, struct emitter *e)
{
	struct seg *s = xcalloc(1, sizeof(*s));

	(void)c;
	s->e = e;
	td_buf_init(&s->cur, 256, 4096);
	*state = s;
	return emit_header(e, NULL, 0, 0);	/* columns by number */
}

static int
seg_one(struct seg *s)
{
	struct td_field f[8];
	struct prec pr;
	const char *p = td_buf_cstr(&s->cur), *end = p + s->cur.len, *q;
	char code[64], msg[128];
	size_t n = 0;

	s->ordinal++;
	for (;;) {
		q = memchr(p, '*', (size_t)(end - p));
		f[n].p = p;
		f[n++].len = (size_t)((q != NULL ? q : end) - p);
		if (q == NULL || n == TD_NELEM(f))
			break;
		p = q + 1;
	}
	memset(&pr, 0, sizeof(pr));
	pr.pos = s->ordinal;
	pr.raw = s->cur.p;
	pr.rawlen = s->cur.len;
	if (f[0].len != 1 || (f[0].p[0] != 'R' && n < 3))
		return 0;
	snprintf(code, sizeof(code), "%.*s", (int)f[1].len, f[1].p);
	snprintf(msg, sizeof(msg), "%.*s", n > 2 ? (int)f[2].len : 0,
	    n > 2 ? f[2].p : "");
	switch (f[0].p[0]) {
	case 'R':
		pr.f = f + 1;
		pr.nf = n - 1;
		return emit_record(s->e, &pr);
	case 'X':
		pr.code = code;
		pr.msg = msg;
		return emit_record(s->e, &pr);
	case 'F':
		/* the code must outlive the call: one of the known ones */
		return emit_fail(s->e, strcmp(code, "x12_envelope") == 0 ?
		    "x12_envelope" : "x12_other", "segment %llu: %s",
		    (unsigned long long)s->ordinal, msg);
	}
	return 0;
}

static int
seg_feed(void *state, const char *text, size_t n)
{
	struct seg *s = state;
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		if (text[i] == '~') {
			r = seg_one(s);
			td_buf_reset(&s->cur);
			if (r != 0)
				return r;
		} else if (s->cur.len > 0 || (text[i] != '\n' &&
		    text[i] != '\r')) {
			if (td_buf_putc(&s->cur, text[i]) != 0)
				return emit_fail(s->e, "x12_other", "segment "
				    "%llu is too long",
				    (unsigned long long)s->ordinal + 1);
		}
	}
	return 0;
}

static int
seg_finish(void *state)
{
	struct seg *s = state;

	if (s->cur.len > 0)
		return emit_fail(s->e, "x12_envelope", "the last segment has "
		    "no terminator");
	return 0;
}

static void
seg_free(void *state)
{
	struct seg *s = state;

	td_buf_free(&s->cur);
	x_free(s);
}

static const struct parser_ops seg_ops = {
	.name = "seg",
	.position = "segment",
	.open = seg_open,
	.feed = seg_feed,
	.finish = seg_finish,
	.free = seg_free,
};

#define MAP_SEG	"store_id = column 1\n" \
		"gtin = column 2 gtin\n" \
		"txn_date = column 3 date \"%Y%m%d\"\n" \
		"quantity = column 4 decimal\n" \
		"amount = column 5 decimal\n" \
		"[integration]\nmax_reject_ratio = 1\n"

/* The n-th record line (0-based) of g has needle. */
static int
nth_has(const struct got *g, int n, const char *needle)
{
	const char *p = td_buf_cstr((struct td_buf *)&g->recs), *q;

	for (; p != NULL && n > 0; n--)
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	if (p == NULL || (q = strstr(p, needle)) == NULL)
		return 0;
	return memchr(p, '\n', (size_t)(q - p)) == NULL;
}

/*
 * Another format through emit_record(): its records mapped by column at
 * their segment ordinals, its own rejections and the mapper's with the
 * segment, control totals, batches cut, a Tier 2 from the parser.
 */
static void
test_other_format(void)
{
	struct td_conf *c = tu_conf(tmpdir, MAP_SEG);
	struct got g;
	char id[65], want[TD_SHA256_HEX], q[TD_DEC_STRMAX], a[TD_DEC_STRMAX];
	static const char in5[] = "acme\n" TID "\n\n5";

	tu_sh(tmpdir, "printf 'HDR*x~\\nR*1*041000001239*20261128*2*3.5~\\n"
	    "R*2*041000001239*20261128*-1*~\\n"
	    "X*x12_bad_segment*LIN has no item id~\\n"
	    "R*3*041000001235*20261128*1~\\nJUNK~\\n"
	    "R*4*4006381333931*20261129*5*10~\\n' > f.seg && "
	    "mkdir -p a && printf 'R*1*041000001239*20261128*2~"
	    "F*x12_envelope*IEA01 is not 1~' > a/m.seg && "
	    "tar -cf m.tar a/m.seg");
	run_with(c, "f.seg", &seg_ops, 2, &g);
	is_int(g.rc, 0, "seg: process_file returns 0");
	is_str(g.res.t2code, NULL, "seg: no Tier 2");
	is_int(g.nrec, 3, "seg: three records");
	ok(nth_has(&g, 0, "\"source\":{\"file\":\"f.seg\",\"member\":null,"
	    "\"segment\":2},\"store_id\":\"1\",\"retailer_item_id\":null,"
	    "\"gtin\":\"00041000001239\",\"txn_date\":\"2026-11-28\""),
	    "seg: the first record is segment 2's, mapped by column");
	ok(nth_has(&g, 1, "\"segment\":3}") && nth_has(&g, 2, "\"segment\":7}"),
	    "seg: the others are segments 3 and 7");
	ok(strstr(td_buf_cstr(&g.recs), "\"line\"") == NULL,
	    "seg: no record names a line");
	nth_id(&g, 2, id);
	td_sha256_hex(in5, sizeof(in5) - 1, want);
	want[2 * TD_ID_LEN] = '\0';	/* the first 16 bytes */
	is_str(id, want, "seg: record_id counts the rejected records too "
	    "(the third record is the fifth)");
	is_str(g.rejs.p, "4 x12_bad_segment: LIN has no item id\n"
	    "5 gtin_check_digit: gtin (column 2): \"041000001235\" is not a valid GTIN "
	    "(gtin_check_digit: check digit 5, expected 9); amount (column 5): the row has 4 fields, column 5 is "
	    "missing (missing_field)\n", "seg: the parser's rejection and "
	    "the mapper's, each at its segment, every bad field of a row");
	ok(g.res.rows == 5 && g.res.records == 3 && g.res.rejected == 2,
	    "seg: 5 in, 3 records, 2 rejected (%llu %llu %llu)",
	    (unsigned long long)g.res.rows, (unsigned long long)g.res.records,
	    (unsigned long long)g.res.rejected);
	is_str(g.batches.p, "2 1 3.50\n1 5 10.00\n", "seg: batches of 2 "
	    "records, each with its control totals");
	td_dec_format(&g.res.quantity, q, sizeof(q));
	td_dec_format(&g.res.amount, a, sizeof(a));
	ok(strcmp(q, "6") == 0 && strcmp(a, "13.50") == 0 &&
	    g.res.has_amount && g.res.batches == 2, "seg: the file's control "
	    "totals, 6 and 13.50, in 2 batches");
	got_free(&g);

	run_with(c, "m.tar", &seg_ops, 2, &g);
	is_str(g.res.t2code, "x12_envelope", "seg: the parser refuses the file");
	is_str(g.res.t2msg, "member a/m.seg: segment 2: IEA01 is not 1",
	    "seg: the message names the member, then the parser's words");
	is_int(g.nrec, 0, "seg: nothing of a refused file reaches the sink");
	got_free(&g);
	td_conf_free(c);
}

/*
 * encoding = auto: a document that is not UTF-8 starts the file over
 * with it read as windows-1252; the sink is told to forget what it had,
 * and what it ends with is the last pass only.
 */
static void
test_auto_restart(void)
{
	struct td_conf *c = tu_conf(tmpdir, MAP_STD
	    "retailer_item_id = column \"Item\"\n");
	struct got g;
	char *p;
	int fds[2];

	tu_sh(tmpdir, "mkdir -p enc && cd enc && "
	    "printf 'Store,UPC,Date,Units,Item\\n1,041000001239,2026-11-28,1,"
	    "CAF\\303\\211\\n' > u.csv && "
	    "printf 'Store,UPC,Date,Units,Item\\n2,041000001239,2026-11-28,2,"
	    "CAF\\311 \\200\\n' > c.csv && "
	    "python3 -c 'import zipfile; "
	    "z = zipfile.ZipFile(\"../uc.zip\", \"w\"); z.write(\"u.csv\"); "
	    "z.write(\"c.csv\"); z.close()' && "
	    "cp c.csv c2.csv && tar -cf ../cuc.tar c.csv u.csv c2.csv");
	/* batches of one: u.csv's record reaches the sink before c.csv */
	run_with(c, "uc.zip", NULL, 1, &g);
	is_int(g.rc, 0, "uc.zip: process_file returns 0");
	is_str(g.resets.p, "1 ", "uc.zip: the sink is reset once, for "
	    "document 1");
	is_int(g.nrec, 2, "uc.zip: two records, none twice");
	ok(nth_has(&g, 0, "\"retailer_item_id\":\"CAF\xc3\x89\"") &&
	    nth_has(&g, 1, "\"retailer_item_id\":\"CAF\xc3\x89 \xe2\x82\xac\""),
	    "uc.zip: u.csv read as UTF-8, c.csv as windows-1252");
	ok(g.res.ndocs == 2 && strcmp(g.res.docs[0].encoding, "utf-8") == 0 &&
	    strcmp(g.res.docs[1].encoding, "windows-1252") == 0 &&
	    strcmp(proc_encoding(&g.res), "mixed") == 0,
	    "uc.zip: each document's encoding, mixed for the file");
	ok(g.res.raw_sha256[0] != '\0', "uc.zip: the digest of the last pass");
	got_free(&g);

	run_with(c, "cuc.tar", NULL, 1, &g);
	is_str(g.res.t2code, NULL, "cuc.tar: no Tier 2");
	is_str(g.resets.p, "0 2 ", "cuc.tar: reset for document 0, then 2");
	is_int(g.nrec, 3, "cuc.tar: three records, none twice");
	got_free(&g);

	/* a sink that cannot start over: its error, no verdict */
	got_init(&g);
	g.reset_rc = TD_ERR_NOSPACE;
	p = xasprintf("%s/uc.zip", tmpdir);
	if ((fds[0] = open(p, O_RDONLY)) < 0)
		td_fatal("%s: %s", p, strerror(errno));
	run_fd(c, fds[0], "uc.zip", NULL, 1000, &g);
	close(fds[0]);
	is_int(g.rc, TD_ERR_NOSPACE, "a reset that fails: process_file "
	    "returns its error");
	got_free(&g);

	/* what cannot be read again cannot start over: a local error */
	got_init(&g);
	if (pipe(fds) != 0)
		td_fatal("pipe: %s", strerror(errno));
	tu_sh(tmpdir, "cat enc/c.csv > /dev/fd/%d", fds[1]);
	close(fds[1]);
	run_fd(c, fds[0], "c.csv", NULL, 1000, &g);
	close(fds[0]);
	is_int(g.rc, TD_ERR_IO, "a pipe that must be read again: TD_ERR_IO");
	got_free(&g);
	x_free(p);
	td_conf_free(c);
}

/*
 * encoding = auto, mixed documents (UTF-8 with bytes that are not): read
 * as UTF-8, each row that holds an invalid byte rejected (invalid_utf8)
 * with its offset, bytes and raw text, the rest delivered unchanged; the
 * stray byte before any UTF-8: windows-1252 first, then mixed (the sink
 * reset twice); windows-1252 without a multi-byte sequence as before; a
 * mixed header refused; a format that cannot reject a row alone refuses
 * the document.
 */
static void
test_mixed(void)
{
	struct td_conf *c = tu_conf(tmpdir, MAP_STD
	    "retailer_item_id = column \"Item\"\n");
	struct td_conf *c1 = tu_conf(tmpdir, MAP_STD
	    "retailer_item_id = column \"Item\"\n"
	    "[integration]\nmax_reject_ratio = 0.01\n");
	/* the good rows' item, as the records have it */
	static const char item[] = "\"retailer_item_id\":\"CAF\xc3\x89 "
	    "\xc3\xa9t\xc3\xa9\"";
	struct got g;

	tu_sh(tmpdir, "mkdir -p mx && cd mx && "
	    "python3 -c 'import sys\n"
	    "h = b\"Store,UPC,Date,Units,Item\\n\"\n"
	    "def row(i, item): return b\"%%d,041000001239,2026-11-28,%%d,\" "
	    "%% (i, i) + item + b\"\\n\"\n"
	    "good = [row(i, b\"CAF\\xc3\\x89 \\xc3\\xa9t\\xc3\\xa9\") "
	    "for i in range(1, 31)]\n"
	    "bad = row(31, b\"CAF\\xc9\")\n"
	    "open(\"u8.csv\", \"wb\").write(h + b\"\".join(good[:15]) + bad + "
	    "b\"\".join(good[15:]))\n"
	    "open(\"late.csv\", \"wb\").write(h + bad + b\"\".join(good))\n"
	    "open(\"cp.csv\", \"wb\").write(h + bad + row(32, b\"CAF\\xc9 "
	    "\\x80\"))\n"
	    "open(\"hdr.csv\", \"wb\").write(b\"Store,UPC,Date,Units,Item,\""
	    "b\"Cat\\xe9gorie\\n\" + b\"\".join(good))\n"
	    "open(\"m.seg\", \"wb\").write(b\"R*\\xc3\\xa9*041000001239*"
	    "20261128*2~\\nR*\\xe9*041000001239*20261128*2~\\n\")\n'");
	run(c, "mx/u8.csv", &g);
	is_str(g.res.t2code, NULL, "mixed: no Tier 2");
	is_int(g.resets.len, 0, "mixed after UTF-8: read once, never "
	    "reset");
	is_int(g.nrec, 30, "mixed: the 30 UTF-8 rows are records");
	ok(nth_has(&g, 0, item) && nth_has(&g, 29, item),
	    "mixed: their text as UTF-8, unchanged");
	is_str(g.rejs.p, "17 invalid_utf8: the row is not UTF-8, as the rest "
	    "of the document is: byte 671 of the document is 0xC9\n",
	    "mixed: the row with 0xC9 rejected, its offset and byte");
	ok(g.res.ndocs == 1 && g.res.docs[0].mixed &&
	    g.res.docs[0].first_multi == 57 && g.res.docs[0].first_bad == 671 &&
	    g.res.docs[0].nbad == 1 && strcmp(g.res.docs[0].encoding,
	    "utf-8") == 0, "mixed: the document says so, utf-8, with its "
	    "offsets");
	got_free(&g);

	run(c, "mx/late.csv", &g);
	is_str(g.res.t2code, NULL, "stray byte first: no Tier 2");
	is_str(g.resets.p, "0 0m ", "stray byte first: read as windows-1252, "
	    "then mixed");
	is_int(g.nrec, 30, "stray byte first: 30 records, none twice");
	ok(nth_has(&g, 0, item), "stray byte first: the others as UTF-8");
	is_str(g.rejs.p, "2 invalid_utf8: the row is not UTF-8, as the rest "
	    "of the document is: byte 59 of the document is 0xC9\n",
	    "stray byte first: its row rejected");
	ok(g.res.docs[0].mixed && g.res.docs[0].first_bad == 59 &&
	    g.res.docs[0].first_multi == 92, "stray byte first: first invalid "
	    "59, first multi-byte 92");
	got_free(&g);

	run(c, "mx/cp.csv", &g);
	is_str(g.resets.p, "0 ", "windows-1252: reset once");
	ok(g.nrec == 2 && nth_has(&g, 0, "\"retailer_item_id\":\"CAF\xc3\x89\"")
	    && nth_has(&g, 1, "\"retailer_item_id\":\"CAF\xc3\x89 "
	    "\xe2\x82\xac\"") && g.rejs.len == 0 && !g.res.docs[0].mixed &&
	    strcmp(g.res.docs[0].encoding, "windows-1252") == 0,
	    "windows-1252 without a multi-byte sequence: as before");
	got_free(&g);

	run(c1, "mx/u8.csv", &g);
	is_str(g.res.t2code, "reject_ratio_exceeded", "mixed, 1 of 31 rows "
	    "rejected, max_reject_ratio 0.01: quarantined");
	got_free(&g);

	run(c, "mx/hdr.csv", &g);
	is_str(g.res.t2code, "decode_invalid_utf8", "mixed header: Tier 2");
	is_str(g.res.t2msg, "line 1: the header row is not UTF-8, as the rest "
	    "of the document is: byte 29 of the document is 0xE9",
	    "mixed header: the message");
	got_free(&g);
	td_conf_free(c);
	td_conf_free(c1);

	c = tu_conf(tmpdir, MAP_SEG);
	run_with(c, "mx/m.seg", &seg_ops, 2, &g);
	is_str(g.res.t2code, "decode_mixed", "mixed, a format that cannot "
	    "reject a row alone: Tier 2");
	is_str(g.res.t2msg, "byte 32 is not UTF-8 in a document that is UTF-8 "
	    "elsewhere (a multi-byte sequence at byte 2): its segments are "
	    "not rejected one by one, as each is read with those before it; "
	    "have the sender resend it in one encoding, or set [decode] "
	    "encoding", "decode_mixed: the message");
	is_int(g.nrec, 0, "decode_mixed: nothing reaches the sink");
	got_free(&g);
	td_conf_free(c);
}

/* The parsers by [parse] format: csv; x12 is refused until it exists. */
static void
test_parser_table(void)
{
	struct td_conf *c = tu_conf(tmpdir, "[parse]\nformat = x12\n");
	struct mapper *m = NULL;
	char *err = NULL;

	ok(parser_find("csv") == &parser_csv && strcmp(parser_csv.position,
	    "line") == 0, "format = csv: the CSV parser, positions are lines");
	ok(parser_find("x12") == &parser_x12 && strcmp(parser_x12.position,
	    "segment") == 0 && parser_x12.map != NULL, "format = x12: the "
	    "X12 parser with its own mapping, positions are segments");
	ok(parser_find("seg") == NULL && parser_find(NULL) == NULL,
	    "no parser for others");
	ok(c != NULL, "format = x12 loads");
	is_int(c != NULL ? mapper_new(c, &m, &err) : -1, 0,
	    "format = x12: mapper_new takes the built-in mapping");
	ok(err == NULL, "format = x12: no error for check to print");
	x_free(err);
	mapper_free(m);
	td_conf_free(c);
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL)
		td_fatal("mkdtemp: %s", strerror(errno));
	test_digest();
	test_repeated_member();
	test_csv_messages();
	test_utf16_hint();
	test_no_document();
	test_reject_ratio();
	test_parser_table();
	test_other_format();
	test_auto_restart();
	test_mixed();
	if (getenv("TD_KEEP_TMP") == NULL)
		tu_sh(tmpdir, "cd / && rm -rf '%s'", tmpdir);
	return done_testing();
}
