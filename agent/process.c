/*
 * process.c - the processing stage: unpack, decode, hand the text to the
 * format's parser (parser.h), and for every record it emits: map, keep
 * control totals, cut batches, send rejections to the sink. encoding =
 * auto starts a file over here when a document is not UTF-8, and again
 * when, read as windows-1252, it turns out mixed; a mixed document's
 * invalid sequences are counted for the row that holds them
 * (emit_row_bad).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "td.h"
#include "ack.h"
#include "buf.h"
#include "conf.h"
#include "json.h"
#include "log.h"
#include "decode.h"
#include "map.h"
#include "ledger.h"
#include "parser.h"
#include "unpack.h"
#include "process.h"

#define READ_BLOCK	(1 << 20)
#define PROGRESS_EVERY	(256ULL << 20)	/* log progress every 256 MiB */
#define BATCH_MAX_BYTES	PROC_BATCH_BYTES	/* a batch is cut here too */
/* sink->ledger_ask: a window is asked at this many rows, or bytes */
#define WIN_ROWS	PROC_WIN_ROWS
#define WIN_BYTES	PROC_WIN_BYTES

/* A row of a window, waiting for the ledger's answers. */
#define PK_REC		0	/* a mapped record */
#define PK_REJ		1	/* a row the parser or the mapping rejects */
#define PK_ACK		2	/* an X12 group's 997 (not a row) */
#define PK_MAP		3	/* a row to map: its values in the window's in */
#define NOSTAGE		SIZE_MAX
/* the mapping threads (proc_threads_start) */
#define MAP_THREADS_MAX	8
#define MAP_PAR_MIN	64	/* rows: fewer are mapped by the caller alone */

struct pend {
	int			 kind;
	uint64_t		 pos;
	size_t			 raw, rawlen;	/* in stage, or NOSTAGE */
	const char		*code;		/* PK_REJ */
	size_t			 msg;		/* PK_REJ: NUL ended, as sb says */
	int			 unknown_promo;
	struct ack_group	*ack;		/* PK_ACK */
	/* PK_MAP: its values in in (nf lengths, SIZE_MAX for none, then
	 * the bytes), its ordinal; the mapping thread that mapped it */
	size_t			 fin, nf;
	uint64_t		 ordinal;
	int			 sb;		/* 0: its line or message in stage */
	uint32_t		 date_at;	/* PK_REC: map_result's */
	struct ledger_item	 li;		/* PK_REC; last, see slot() */
};

struct window {
	struct pend		*v;
	struct ledger_item	**items;
	size_t			 n, cap;
	struct td_buf		 stage;		/* lines, raw rows, messages */
	struct td_buf		 in;		/* values of PK_MAP rows */
	/*
	 * The lines and messages of the rows mapping thread t mapped
	 * (out[0] unused: the caller's are in stage), read from there, not
	 * copied into the stage; until the window is cleared, as a window
	 * may be mapped more than once (emit_header_fits)
	 */
	struct td_buf		 out[MAP_THREADS_MAX];
	size_t			 nout;		/* bytes in out[] */
	size_t			 nmap;		/* PK_MAP rows */
	size_t			 est;		/* their lines' bytes, at most */
	int			 asked;
};

/*
 * The mapping threads of this process (proc_threads_start): a window's
 * rows are mapped in n slices at once, slice 0 by the caller into the
 * window's stage, slice t by thread t with its clone of the mapper into
 * the window's out[t]. Each row is mapped by mapper_map alone, so the
 * lines do not depend on n.
 */
struct mslice {
	struct mapper		*m;
	struct td_field		*f;		/* a row's values */
	size_t			 fcap;
	size_t			 lo, hi;	/* rows of the window */
	size_t			 bad;		/* first row that failed, or hi */
	int			 r;		/* its error */
};

static struct {
	const struct mapper	*m;		/* the clones' */
	int			 n;		/* 0: not started */
	pthread_t		 th[MAP_THREADS_MAX];
	struct mslice		 s[MAP_THREADS_MAX];
	pthread_mutex_t		 mu;
	pthread_cond_t		 go, done;
	uint64_t		 gen;		/* the window being mapped */
	int			 busy;		/* slices not done */
	int			 up;		/* threads in mpool_main */
	struct window		*w;
	void			(*fn)(void);	/* proc_threads_each */
} mpool = { .mu = PTHREAD_MUTEX_INITIALIZER, .go = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER };

struct emitter {
	const struct parser_ops	*ops;
	struct mapper		*m;
	struct map_doc		 doc;
	const struct proc_sink	*sink;
	struct proc_result	*res;
	struct proc_doc		*pd;
	uint64_t		 batch_records;
	uint64_t		 max_rows;	/* 0: all */
	struct td_buf		*cur;		/* batch being filled */
	uint64_t		 curn;
	struct batch_totals	 bt;		/* its control totals */
	struct map_result	 mr;
	/* encoding = auto met a document that is not UTF-8, or mixed: the
	 * DEC_* to read it as again (0: none), its index */
	int			 restart;
	size_t			 restart_doc;
	/* read as windows-1252, it turned mixed: the offset of its first
	 * valid multi-byte sequence (decode_mixed_retry's) */
	uint64_t		 restart_multi;
	/* the document being read as mixed after that: the offset, known
	 * before the reading comes to it; else UINT64_MAX */
	uint64_t		 multi_at;
	/* a mixed document: the first invalid sequence of the row being
	 * read (bad_n bytes, 0: none), and how many more it has */
	size_t			 bad_n;
	uint8_t			 bad_b[4];
	uint64_t		 bad_off, bad_more;
	/* sink->ledger_ask: the window being mapped, and the one asked */
	struct window		 win[2];
	int			 fill;
	int			 draining;
	struct mslice		 sl0;		/* the caller's slice */
};

static int	emit_drain(struct emitter *);
static int	map_window(struct emitter *, struct window *);
static void	emit_discard(struct emitter *);

static int
flush_batch(struct emitter *e)
{
	int r;

	if (e->curn == 0)
		return 0;
	r = e->sink->batch(e->sink->arg, e->cur, e->curn, &e->bt);
	e->res->batches++;
	e->cur = NULL;
	e->curn = 0;
	memset(&e->bt, 0, sizeof(e->bt));
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
where(const struct emitter *e, char *buf, size_t n)
{
	if (e->doc.member == NULL)
		return "";
	snprintf(buf, n, "member %s: ", e->doc.member);
	return buf;
}

static void
vfail(struct emitter *e, const char *code, const char *fmt, va_list ap)
{
	struct proc_result *res = e->res;
	char wb[300];
	int n;

	res->t2code = code;
	n = snprintf(res->t2msg, sizeof(res->t2msg), "%s", where(e, wb,
	    sizeof(wb)));
	if (n < 0 || (size_t)n >= sizeof(res->t2msg))
		return;
	vsnprintf(res->t2msg + n, sizeof(res->t2msg) - (size_t)n, fmt, ap);
}

/*
 * Rows waiting for the ledger come before what stops the file now: they
 * are done first, and when one of them stops it (an overflow, a failing
 * sink), that is what is said. 1: it did.
 */
static int
emit_settle(struct emitter *e)
{
	return e->draining ? 0 : emit_drain(e);
}

int
emit_fail(struct emitter *e, const char *code, const char *fmt, ...)
{
	va_list ap;

	if (emit_settle(e))
		return 1;
	va_start(ap, fmt);
	vfail(e, code, fmt, ap);
	va_end(ap);
	return 1;
}

int
emit_fail_at(struct emitter *e, uint64_t pos, const char *code,
    const char *fmt, ...)
{
	struct td_buf d;
	va_list ap;

	if (emit_settle(e))
		return 1;
	va_start(ap, fmt);
	vfail(e, code, fmt, ap);
	va_end(ap);
	td_buf_init(&d, 128, 1 << 16);
	td_buf_printf(&d, "{\"%s\":%llu,\"member\":", e->ops->position,
	    (unsigned long long)pos);
	if (e->doc.member == NULL || td_json_str(&d, e->doc.member,
	    strlen(e->doc.member)) != 0)
		td_buf_puts(&d, "null");
	td_buf_putc(&d, '}');
	x_free(e->res->t2detail);
	e->res->t2detail = xstrdup(td_buf_cstr(&d));
	td_buf_free(&d);
	return 1;
}

/*
 * reason.json's detail of a refused header: it, its line, the member,
 * and the skip_rows that would read the header suggested, if one is.
 */
static char *
header_detail(const struct emitter *e, const struct td_field *names,
    size_t n, uint64_t pos, uint64_t skip_rows)
{
	struct td_buf d;
	size_t i;
	char *s;

	td_buf_init(&d, 256, 1 << 20);
	td_buf_puts(&d, "{\"header\":[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			td_buf_putc(&d, ',');
		if (td_json_str(&d, names[i].p, names[i].len) != 0)
			td_buf_puts(&d, "null");
	}
	td_buf_printf(&d, "],\"header_%s\":%llu,\"member\":",
	    e->ops->position, (unsigned long long)pos);
	if (e->doc.member == NULL || td_json_str(&d, e->doc.member,
	    strlen(e->doc.member)) != 0)
		td_buf_puts(&d, "null");
	if (skip_rows > 0)
		td_buf_printf(&d, ",\"skip_rows\":%llu",
		    (unsigned long long)skip_rows);
	td_buf_putc(&d, '}');
	s = xstrdup(td_buf_cstr(&d));
	td_buf_free(&d);
	return s;	/* transferred */
}

/*
 * The header found, for a message: its names quoted and shown safely,
 * as many as fit in about 200 bytes, then how many more there are.
 */
static const char *
header_shown(const struct td_field *names, size_t n, char *buf, size_t bufsz)
{
	char show[64];
	size_t i, len = 0;
	int w;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		mapper_shown(names[i].p, names[i].len, show, sizeof(show));
		if (len + strlen(show) + 8 > 200 && i > 0)
			break;
		w = snprintf(buf + len, bufsz - len, "%s\"%s\"", i ? ", " : "",
		    show);
		if (w < 0 || (size_t)w >= bufsz - len)
			break;
		len += (size_t)w;
	}
	if (i < n)
		snprintf(buf + len, bufsz - len, ", ... (%zu more)", n - i);
	return buf;
}

int
emit_header_fits(struct emitter *e, const struct td_field *names, size_t n)
{
	char *missing;
	int r;

	/* rows waiting to be mapped are mapped with the header before */
	if (map_window(e, &e->win[e->fill]) != 0) {
		emit_discard(e);
		return e->res->ioerr;
	}
	r = mapper_begin(e->m, &e->doc, names, n, &missing);
	x_free(missing);
	return r;
}

int
emit_header(struct emitter *e, const struct td_field *names, size_t n,
    uint64_t pos)
{
	return emit_header_hint(e, names, n, pos, NULL, 0);
}

int
emit_header_hint(struct emitter *e, const struct td_field *names, size_t n,
    uint64_t pos, const char *hint, uint64_t skip_rows)
{
	char *missing, shown[300];
	int r;

	if (emit_settle(e))
		return 1;
	r = mapper_begin(e->m, &e->doc, names, n, &missing);
	if (r == 0)
		return 0;
	if (r == TD_ERR_FORMAT || r == TD_ERR_EXISTS) {
		if (r == TD_ERR_FORMAT)
			emit_fail(e, "schema_missing_column", "the header on "
			    "%s %llu lacks mapped column%s %s%s%s%s; the header "
			    "found: %s", e->ops->position,
			    (unsigned long long)pos,
			    strchr(missing, ',') ? "s" : "", missing,
			    hint ? " (" : "", hint ? hint : "", hint ? ")" : "",
			    n ? header_shown(names, n, shown, sizeof(shown)) :
			    "none");
		else
			emit_fail(e, "schema_ambiguous_column", "the header "
			    "on %s %llu has a mapped column more than once: "
			    "%s", e->ops->position, (unsigned long long)pos,
			    missing);
		e->res->t2detail = header_detail(e, names, n, pos,
		    r == TD_ERR_FORMAT ? skip_rows : 0);
		x_free(missing);
		return 1;
	}
	x_free(missing);
	t2(e->res, "bad_file_name", "the file or member name is not valid "
	    "UTF-8");
	return 1;
}

int
emit_row_bad(struct emitter *e, char *msg, size_t n)
{
	char hex[5 * sizeof(e->bad_b)], at[64], more[64];
	size_t i, k = 0;

	if (e->bad_n == 0)
		return 0;
	/* "0xE2 0x82": each byte after the one before it and a space */
	for (i = 0; i < e->bad_n; i++)
		k += (size_t)snprintf(hex + k, sizeof(hex) - k, "%s0x%02X",
		    i > 0 ? " " : "", e->bad_b[i]);
	if (e->bad_n == 1)
		snprintf(at, sizeof(at), "byte %llu of the document is",
		    (unsigned long long)e->bad_off);
	else
		snprintf(at, sizeof(at), "bytes %llu-%llu of the document are",
		    (unsigned long long)e->bad_off,
		    (unsigned long long)(e->bad_off + e->bad_n - 1));
	more[0] = '\0';
	if (e->bad_more > 0)
		snprintf(more, sizeof(more), " (and %llu more invalid "
		    "sequence%s in the row)", (unsigned long long)e->bad_more,
		    e->bad_more == 1 ? "" : "s");
	snprintf(msg, n, "%s %s%s", at, hex, more);
	e->bad_n = 0;
	e->bad_more = 0;
	return 1;
}

/* The row at pos (its text raw) is rejected (Tier 3): to the sink. */
static int
reject_at(struct emitter *e, uint64_t pos, const char *raw, size_t rawlen,
    const char *code, const char *msg)
{
	struct rejection rj;
	int r;

	e->res->rejected++;
	e->pd->rejected++;
	rej_counts_add(&e->res->by_code, code, 1);
	memset(&rj, 0, sizeof(rj));
	rj.tier = 3;
	rj.code = code;
	rj.message = msg;
	rj.member = e->doc.member;
	rj.line = pos;
	rj.raw = raw;
	rj.rawlen = rawlen;
	if ((r = e->sink->reject(e->sink->arg, &rj)) != 0) {
		e->res->ioerr = r;
		return 1;
	}
	return 0;
}

static int
emit_reject(struct emitter *e, const struct prec *pr, const char *code,
    const char *msg)
{
	return reject_at(e, pr->pos, pr->raw, pr->rawlen, code, msg);
}

/*
 * Widen the period covered with the txn_date of a record line just
 * mapped: at `at`, where the mapping wrote it (map_result.date_at), or
 * found. `,"txn_date":"` cannot stand inside a JSON string (a quote
 * there follows a backslash), so its first occurrence is the field.
 */
static void
note_period(struct proc_result *res, const char *line, size_t len, size_t at)
{
	static const char key[] = ",\"txn_date\":\"";
	const char *p;
	size_t dl = sizeof(res->first_date) - 1;

	if (at >= sizeof(key) - 1 && at + dl < len && memcmp(line + at -
	    (sizeof(key) - 1), key, sizeof(key) - 1) == 0)
		p = line + at - (sizeof(key) - 1);
	else
		p = memmem(line, len, key, sizeof(key) - 1);
	if (p == NULL || (size_t)(line + len - p) < sizeof(key) + dl ||
	    p[sizeof(key) - 1 + dl] != '"')
		return;
	p += sizeof(key) - 1;
	if (res->first_date[0] == '\0' || memcmp(p, res->first_date, dl) < 0)
		memcpy(res->first_date, p, dl);
	if (res->last_date[0] == '\0' || memcmp(p, res->last_date, dl) > 0)
		memcpy(res->last_date, p, dl);
}

/* The 997 group g to the sink, or to the result. */
static void
give_ack(struct emitter *e, struct ack_group *g)
{
	struct proc_result *res = e->res;
	int r;

	if (e->sink->ack != NULL) {
		if ((r = e->sink->ack(e->sink->arg, g)) != 0 &&
		    res->ioerr == 0)
			res->ioerr = r;
		return;
	}
	res->acks = xreallocarray(res->acks, res->nacks + 1,
	    sizeof(*res->acks));
	res->acks[res->nacks++] = g;	/* transferred */
}

static int	stage_ack(struct emitter *, struct ack_group *);

void
emit_ack(struct emitter *e, struct ack_group *g)
{
	/* after the rows before it, when they wait for the ledger */
	if (e->sink->ledger_ask != NULL && !e->draining)
		(void)stage_ack(e, g);
	else
		give_ack(e, g);
}

void
emit_skipped(struct emitter *e, const char *code, size_t n, uint64_t count)
{
	struct rej_counts *rc = &e->res->skipped;
	char c[4];
	size_t i;
	int ok = n >= 1 && n <= 3;

	/* an X12 code, else "invalid"; at most 64 codes, then "other" */
	for (i = 0; ok && i < n; i++)
		ok = (code[i] >= 'A' && code[i] <= 'Z') ||
		    (code[i] >= '0' && code[i] <= '9');
	if (ok) {
		memcpy(c, code, n);
		c[n] = '\0';
	}
	for (i = 0; ok && i < rc->n && strcmp(rc->v[i].code, c) != 0; i++)
		;
	if (ok && i == rc->n && rc->n >= 64)
		snprintf(c, sizeof(c), "%s", "?");
	rej_counts_add(rc, !ok ? "invalid" : strcmp(c, "?") == 0 ? "other" :
	    c, count);
}

/*
 * The record at start in e->cur (its totals in e->mr) is produced:
 * counted, its period and totals noted, the batch cut when full.
 */
static int
accepted(struct emitter *e, uint64_t pos, size_t start)
{
	struct proc_result *res = e->res;
	int r;

	res->records++;
	e->pd->records++;
	if (e->mr.unknown_promo)
		res->unknown_promo++;
	note_period(res, e->cur->p + start, e->cur->len - start,
	    e->mr.date_at);
	if (res->over == NULL && (td_dec_add(&res->quantity,
	    &e->mr.quantity) != 0 || (e->mr.has_amount &&
	    td_dec_add(&res->amount, &e->mr.amount) != 0))) {
		if (e->sink->pass_end == NULL || res->pass2)
			return emit_fail(e, "control_total_overflow", "%s %llu: "
			    "control totals exceed 36 digits",
			    e->ops->position, (unsigned long long)pos);
		/*
		 * The ledger's first pass counts rows that a second one, if
		 * a key turns out to be on two rows, rejects: the pass goes
		 * on, and its end decides (process_pass).
		 */
		emit_fail(e, "control_total_overflow", "%s %llu: control "
		    "totals exceed 36 digits", e->ops->position,
		    (unsigned long long)pos);
		res->over = xstrdup(res->t2msg);
		res->t2code = NULL;
		res->t2msg[0] = '\0';
	}
	if (e->mr.has_amount)
		res->has_amount = 1;
	/* cannot overflow where the file's totals did not */
	(void)td_dec_add(&e->bt.quantity, &e->mr.quantity);
	if (e->mr.has_amount) {
		(void)td_dec_add(&e->bt.amount, &e->mr.amount);
		e->bt.has_amount = 1;
	}
	if ((++e->curn >= e->batch_records || e->cur->len >= BATCH_MAX_BYTES)
	    && (r = flush_batch(e)) != 0) {
		res->ioerr = r;
		return 1;
	}
	return 0;
}

/* What the ledger said of the record at start in e->cur. */
static int
on_verdict(struct emitter *e, const struct ledger_verdict *lv, size_t start,
    uint64_t pos, const char *raw, size_t rawlen)
{
	struct proc_result *res = e->res;

	switch (lv->what) {
	case LEDGER_DUPLICATE:
		e->cur->len = start;
		res->duplicate++;
		return 0;
	case LEDGER_HOLD:
		e->cur->len = start;
		res->held++;
		return 0;
	case LEDGER_SUMMED:
		e->cur->len = start;
		res->summed++;
		return 0;
	case LEDGER_IN_FILE:
		e->cur->len = start;
		return reject_at(e, pos, raw, rawlen, "duplicate_key_in_file",
		    lv->msg);
	case LEDGER_FORWARD:
		res->restated++;
		break;
	}
	return accepted(e, pos, start);
}

/* ------------------------------------------ the ledger's windows */

static void
uncount_one(struct emitter *e)
{
	e->res->rows--;
	e->pd->rows--;
}

/* Rows of w from i on never happened: the file stopped before them. */
static void
uncount(struct emitter *e, struct window *w, size_t i)
{
	for (; i < w->n; i++) {
		if (w->v[i].kind == PK_ACK) {
			ack_group_free(w->v[i].ack);
			w->v[i].ack = NULL;
			continue;
		}
		uncount_one(e);
	}
}

static void
window_init(struct window *w)
{
	int t;

	td_buf_init(&w->stage, 0, 0);
	td_buf_init(&w->in, 0, 0);
	for (t = 1; t < MAP_THREADS_MAX; t++)
		td_buf_init(&w->out[t], 0, 0);
}

static void
window_free(struct window *w)
{
	int t;

	td_buf_free(&w->stage);
	td_buf_free(&w->in);
	for (t = 1; t < MAP_THREADS_MAX; t++)
		td_buf_free(&w->out[t]);
	x_free(w->v);
	x_free(w->items);
}

static void
window_clear(struct window *w)
{
	int t;

	w->n = 0;
	w->asked = 0;
	w->nmap = 0;
	w->est = 0;
	td_buf_reset(&w->stage);
	td_buf_reset(&w->in);
	for (t = 1; t < MAP_THREADS_MAX; t++)
		td_buf_reset(&w->out[t]);
	w->nout = 0;
}

/* Where p's line or message is: the stage, or a mapping thread's out. */
static const char *
pend_at(const struct window *w, const struct pend *p, size_t off)
{
	return (p->sb == 0 ? w->stage.p : w->out[p->sb].p) + off;
}

/* p, a row mapped (mr) to the line at off in b, len bytes: PK_REC. */
static void
pend_record(struct pend *p, const struct map_result *mr,
    const struct td_buf *b, size_t off, size_t len)
{
	p->kind = PK_REC;
	memcpy(p->li.record_id, mr->record_id, 16);
	memcpy(p->li.record_key, mr->record_key, 16);
	memcpy(p->li.values, mr->values, 16);
	p->li.kday = mr->kday;
	p->li.quantity = mr->quantity;
	p->li.amount = mr->amount;
	p->li.has_amount = mr->has_amount;
	p->li.buf = b;
	p->li.off = off;
	p->li.len = len;
	p->unknown_promo = mr->unknown_promo;
	p->date_at = mr->date_at;
}

/* ------------------------------------------ the mapping threads */

/*
 * Map the PK_MAP rows of w from sl->lo to sl->hi with sl->m into out:
 * each becomes PK_REC (its line in out) or PK_REJ (its message in out),
 * marked with sb. A row that fails (TD_ERR_LIMIT) stops the slice:
 * sl->bad and sl->r.
 */
static void
map_slice(struct mslice *sl, struct window *w, struct td_buf *out, int sb)
{
	struct map_result mr;
	struct pend *p;
	const char *in;
	size_t i, k, len, at, start;
	int r;

	sl->bad = sl->hi;
	sl->r = 0;
	for (i = sl->lo; i < sl->hi; i++) {
		p = &w->v[i];
		if (p->kind != PK_MAP)
			continue;
		if (p->nf > sl->fcap) {
			sl->fcap = p->nf;
			sl->f = xreallocarray(sl->f, sl->fcap, sizeof(*sl->f));
		}
		in = w->in.p + p->fin;
		at = p->nf * sizeof(size_t);
		for (k = 0; k < p->nf; k++) {
			memcpy(&len, in + k * sizeof(len), sizeof(len));
			if (len == SIZE_MAX) {
				sl->f[k].p = NULL;
				sl->f[k].len = 0;
				continue;
			}
			sl->f[k].p = in + at;
			sl->f[k].len = len;
			at += len;
		}
		start = out->len;
		r = mapper_map(sl->m, sl->f, p->nf, p->ordinal, p->pos, out,
		    &mr);
		p->sb = sb;
		if (r > 0) {
			p->kind = PK_REJ;
			p->code = mr.code;
			p->msg = out->len;
			if (td_buf_append(out, mr.msg, strlen(mr.msg) + 1) == 0)
				continue;
			r = TD_ERR_LIMIT;
		}
		if (r != 0) {
			out->len = start;
			sl->bad = i;
			sl->r = r;
			return;
		}
		pend_record(p, &mr, out, start, out->len - start);
	}
}

static void *
mpool_main(void *arg)
{
	struct mslice *sl = arg;
	struct window *w;
	void (*fn)(void);
	uint64_t seen = 0;

	(void)pthread_mutex_lock(&mpool.mu);
	mpool.up++;
	(void)pthread_cond_broadcast(&mpool.done);
	for (;;) {
		while (mpool.gen == seen)
			(void)pthread_cond_wait(&mpool.go, &mpool.mu);
		seen = mpool.gen;
		w = mpool.w;
		fn = mpool.fn;
		(void)pthread_mutex_unlock(&mpool.mu);
		if (fn != NULL)
			fn();
		else if (sl->lo < sl->hi)
			map_slice(sl, w, &w->out[sl - mpool.s],
			    (int)(sl - mpool.s));
		(void)pthread_mutex_lock(&mpool.mu);
		if (--mpool.busy == 0)
			(void)pthread_cond_signal(&mpool.done);
	}
	return NULL;
}

int
proc_threads_start(const struct mapper *m, int n)
{
	int i;

	if (mpool.n != 0)
		return mpool.n;
	if (n > MAP_THREADS_MAX)
		n = MAP_THREADS_MAX;
	if (n < 2)
		return 1;
	for (i = 1; i < n; i++) {
		mpool.s[i].m = mapper_clone(m);
		if (pthread_create(&mpool.th[i], NULL, mpool_main,
		    &mpool.s[i]) != 0) {
			mapper_clone_free(mpool.s[i].m);
			break;
		}
	}
	mpool.m = m;
	mpool.n = i;
	/*
	 * Each thread is in its loop before this returns: what glibc does
	 * as a thread starts (rseq(2), set_robust_list(2)) is done before
	 * the caller confines itself, and them with it.
	 */
	(void)pthread_mutex_lock(&mpool.mu);
	while (mpool.up < mpool.n - 1)
		(void)pthread_cond_wait(&mpool.done, &mpool.mu);
	(void)pthread_mutex_unlock(&mpool.mu);
	return mpool.n;
}

/* Wake the threads (with fn, or to map w) and wait until they are done. */
static void
mpool_round(struct window *w, void (*fn)(void))
{
	(void)pthread_mutex_lock(&mpool.mu);
	mpool.w = w;
	mpool.fn = fn;
	mpool.busy = mpool.n - 1;
	mpool.gen++;
	(void)pthread_cond_broadcast(&mpool.go);
	(void)pthread_mutex_unlock(&mpool.mu);
}

static void
mpool_wait(void)
{
	(void)pthread_mutex_lock(&mpool.mu);
	while (mpool.busy > 0)
		(void)pthread_cond_wait(&mpool.done, &mpool.mu);
	mpool.fn = NULL;
	(void)pthread_mutex_unlock(&mpool.mu);
}

int
proc_threads_each(void (*fn)(void))
{
	if (mpool.n < 2)
		return 0;
	mpool_round(NULL, fn);
	mpool_wait();
	return mpool.n - 1;
}

/*
 * Map the PK_MAP rows of w, on every mapping thread when there are
 * enough of them: 0, or 1 when one failed (res->ioerr), the rows from it
 * on forgotten.
 */
static int
map_window(struct emitter *e, struct window *w)
{
	struct mslice *sl;
	size_t per, bad = SIZE_MAX;
	int t, n = mpool.n, r = 0;

	if (w->nmap == 0)
		return 0;
	if (n < 2 || mpool.m != e->m || w->nmap < MAP_PAR_MIN)
		n = 1;
	per = (w->n + (size_t)n - 1) / (size_t)n;
	e->sl0.m = e->m;
	e->sl0.lo = 0;
	e->sl0.hi = per < w->n ? per : w->n;
	if (n > 1) {
		for (t = 1; t < n; t++) {
			sl = &mpool.s[t];
			mapper_clone_sync(sl->m, e->m);
			sl->lo = (size_t)t * per < w->n ? (size_t)t * per : w->n;
			sl->hi = sl->lo + per < w->n ? sl->lo + per : w->n;
		}
		mpool_round(w, NULL);
	}
	map_slice(&e->sl0, w, &w->stage, 0);
	if (n > 1)
		mpool_wait();
	if (e->sl0.bad < e->sl0.hi) {
		bad = e->sl0.bad;
		r = e->sl0.r;
	}
	/* the first row that failed; the lines stay where they were made */
	for (t = 1; t < n && bad == SIZE_MAX; t++) {
		sl = &mpool.s[t];
		if (sl->bad < sl->hi) {
			bad = sl->bad;
			r = sl->r;
		}
	}
	for (w->nout = 0, t = 1; t < MAP_THREADS_MAX; t++)
		w->nout += w->out[t].len;
	w->nmap = 0;
	w->est = 0;
	if (bad == SIZE_MAX)
		return 0;
	e->res->ioerr = r;
	uncount(e, w, bad);
	w->n = bad;
	return 1;
}

/* A row's values into w->in, for map_window: 0, or TD_ERR_LIMIT. */
static int
stage_values(struct window *w, struct pend *p, const struct prec *pr)
{
	size_t k, len, start = w->in.len;
	int r = 0;

	p->fin = w->in.len;
	p->nf = pr->nf;
	for (k = 0; k < pr->nf && r == 0; k++) {
		len = pr->f[k].p == NULL ? SIZE_MAX : pr->f[k].len;
		r = td_buf_append(&w->in, &len, sizeof(len));
	}
	for (k = 0; k < pr->nf && r == 0; k++)
		if (pr->f[k].p != NULL && pr->f[k].len > 0)
			r = td_buf_append(&w->in, pr->f[k].p, pr->f[k].len);
	if (r != 0)
		w->in.len = start;
	return r;
}

/* The records of w to the ledger. 1: the sink failed. */
static int
ask(struct emitter *e, struct window *w)
{
	size_t i, k = 0;
	int r;

	if (map_window(e, w) != 0)
		return 1;
	for (i = 0; i < w->n; i++)
		if (w->v[i].kind == PK_REC)
			w->items[k++] = &w->v[i].li;
	if (k > 0 && (r = e->sink->ledger_ask(e->sink->arg, w->items, k,
	    &w->stage)) != 0) {
		e->res->ioerr = r;
		return 1;
	}
	w->asked = 1;
	return 0;
}

static int
collect(struct emitter *e, struct window *w)
{
	size_t i, k = 0;
	int r;

	for (i = 0; i < w->n; i++)
		if (w->v[i].kind == PK_REC)
			w->items[k++] = &w->v[i].li;
	if (k > 0 && (r = e->sink->ledger_collect(e->sink->arg, w->items, k,
	    &w->stage)) != 0) {
		e->res->ioerr = r;
		return 1;
	}
	return 0;
}

/* A row of an answered window, as emit_record does it at once. */
static int
apply(struct emitter *e, struct window *w, const struct pend *p)
{
	const char *raw = p->raw == NOSTAGE ? NULL : w->stage.p + p->raw;
	size_t start;

	if (p->kind == PK_ACK) {
		give_ack(e, p->ack);
		return e->res->ioerr != 0;
	}
	if (p->kind == PK_REJ)
		return reject_at(e, p->pos, raw, p->rawlen, p->code,
		    pend_at(w, p, p->msg));
	if (p->kind != PK_REC)
		td_fatal("process: a row settled before it was mapped");
	if (e->cur == NULL)
		e->cur = e->sink->buffer(e->sink->arg);
	start = e->cur->len;
	if (td_buf_append(e->cur, p->li.buf->p + p->li.off, p->li.len) != 0) {
		e->res->ioerr = TD_ERR_LIMIT;
		return 1;
	}
	e->mr.quantity = p->li.quantity;
	e->mr.amount = p->li.amount;
	e->mr.has_amount = p->li.has_amount;
	e->mr.unknown_promo = p->unknown_promo;
	e->mr.date_at = p->date_at;
	return on_verdict(e, &p->li.v, start, p->pos, raw, p->rawlen);
}

/*
 * The answers of the asked window w, then its rows in order. 1: one
 * stopped the file; the rows after it are forgotten.
 */
static int
settle_window(struct emitter *e, struct window *w)
{
	size_t i;
	int stop = 0;

	if (collect(e, w) != 0) {
		uncount(e, w, 0);
		window_clear(w);
		return 1;
	}
	e->draining++;
	for (i = 0; i < w->n && !stop; i++) {
		stop = apply(e, w, &w->v[i]);
		w->v[i].ack = NULL;	/* given */
	}
	e->draining--;
	if (stop)
		uncount(e, w, i);
	window_clear(w);
	return stop;
}

/* Forget the rows still waiting: the file stopped before them. */
static void
emit_discard(struct emitter *e)
{
	struct window *w;
	size_t k;

	for (k = 0; k < 2; k++) {
		w = &e->win[k];
		/* an asked window's answers are read all the same: the
		 * sink speaks in turns */
		if (w->asked && w->n > 0)
			(void)collect(e, w);
		if (w->n > 0)
			uncount(e, w, 0);
		window_clear(w);
	}
}

/*
 * Every row waiting goes to the sink, in order: the window asked, then
 * the one being mapped. 1: one of them stopped the file.
 */
static int
emit_drain(struct emitter *e)
{
	struct window *o = &e->win[!e->fill], *w = &e->win[e->fill];

	if (e->sink->ledger_ask == NULL)
		return 0;
	if (o->asked && settle_window(e, o) != 0) {
		emit_discard(e);
		return 1;
	}
	if (w->n == 0)
		return 0;
	if (ask(e, w) != 0) {
		emit_discard(e);
		return 1;
	}
	return settle_window(e, w);
}

/*
 * The window being mapped is full: the one asked before is answered and
 * done, this one asked, and the next rows are mapped while it is
 * answered.
 */
static int
cycle(struct emitter *e)
{
	struct window *o = &e->win[!e->fill], *w = &e->win[e->fill];

	/* mapped while the ledger answers the window before */
	if (map_window(e, w) != 0) {
		emit_discard(e);
		return 1;
	}
	if (o->asked && settle_window(e, o) != 0) {
		emit_discard(e);
		return 1;
	}
	if (ask(e, w) != 0) {
		emit_discard(e);
		return 1;
	}
	e->fill = !e->fill;
	return 0;
}

/* Put n bytes in w's stage: their offset there, or NOSTAGE (no room). */
static size_t
stage_put(struct window *w, const void *p, size_t n)
{
	size_t off = w->stage.len;

	if (td_buf_append(&w->stage, p, n) != 0)
		return NOSTAGE;
	return off;
}

/* A new entry at the end of w, zeroed but for li.v (not counted yet in
 * w->n). */
static struct pend *
slot(struct window *w)
{
	if (w->n == w->cap) {
		w->cap = w->cap == 0 ? 64 : w->cap * 2;
		w->v = xreallocarray(w->v, w->cap, sizeof(*w->v));
		w->items = xreallocarray(w->items, w->cap,
		    sizeof(*w->items));
	}
	/* all but li.v, of which ledger_collect sets what is read before
	 * it is: its 400 bytes were most of what a row wrote here */
	memset(&w->v[w->n], 0, offsetof(struct pend, li.v));
	return &w->v[w->n];
}

/* emit_ack with sink->ledger_ask: the 997 group waits after the rows. */
static int
stage_ack(struct emitter *e, struct ack_group *g)
{
	struct window *w = &e->win[e->fill];
	struct pend *p;

	if (e->res->t2code != NULL || e->res->ioerr != 0) {
		ack_group_free(g);	/* the file stopped before it */
		return 1;
	}
	p = slot(w);
	p->kind = PK_ACK;
	p->ack = g;
	p->raw = NOSTAGE;
	w->n++;
	if (w->n >= WIN_ROWS)
		return cycle(e);
	return 0;
}

/* emit_record with sink->ledger_ask: the row waits in the window. */
static int
stage_row(struct emitter *e, const struct prec *pr)
{
	struct window *w = &e->win[e->fill];
	struct pend *p;
	const char *msg = NULL;
	size_t start;
	int r;

	if (e->res->t2code != NULL || e->res->ioerr != 0) {
		uncount_one(e);		/* the file stopped before it */
		return 1;
	}
	p = slot(w);
	p->pos = pr->pos;
	if (pr->code != NULL) {
		p->kind = PK_REJ;
		p->code = pr->code;
		msg = pr->msg;
	} else if (mpool.n >= 2 && mpool.m == e->m) {
		/* mapped with the rest of the window, on every core */
		p->kind = PK_MAP;
		p->ordinal = e->pd->rows;
		if (stage_values(w, p, pr) != 0)
			goto full;
		/* a window is cut before its lines pass WIN_BYTES, as when
		 * they are mapped one by one: each at most this long */
		w->est += mapper_row_bound(e->m, pr->f, pr->nf);
	} else {
		start = w->stage.len;
		r = mapper_map(e->m, pr->f, pr->nf, e->pd->rows, pr->pos,
		    &w->stage, &e->mr);
		if (r < 0) {
			e->res->ioerr = r;
			return 1;
		}
		if (r > 0) {
			w->stage.len = start;
			p->kind = PK_REJ;
			p->code = e->mr.code;
			msg = e->mr.msg;
		} else {
			pend_record(p, &e->mr, &w->stage, start,
			    w->stage.len - start);
		}
	}
	p->raw = NOSTAGE;
	p->rawlen = 0;
	if (pr->raw != NULL) {
		if ((p->raw = stage_put(w, pr->raw, pr->rawlen)) == NOSTAGE)
			goto full;
		p->rawlen = pr->rawlen;
	}
	if (p->kind == PK_REJ && ((p->msg = stage_put(w, msg != NULL ? msg :
	    "", msg != NULL ? strlen(msg) + 1 : 1)) == NOSTAGE))
		goto full;
	w->n++;
	if (p->kind == PK_MAP)
		w->nmap++;
	if (w->n >= WIN_ROWS || w->stage.len + w->nout + w->est >= WIN_BYTES)
		return cycle(e);
	return 0;
 full:
	e->res->ioerr = TD_ERR_LIMIT;
	return 1;
}

int
emit_record(struct emitter *e, const struct prec *pr)
{
	struct proc_result *res = e->res;
	struct ledger_verdict lv;
	size_t start;
	int r;

	if (e->max_rows != 0 && res->rows >= e->max_rows) {
		res->partial = 1;
		return 1;
	}
	res->rows++;
	e->pd->rows++;
	if (e->sink->ledger_ask != NULL)
		return stage_row(e, pr);
	if (pr->code != NULL)
		return emit_reject(e, pr, pr->code, pr->msg);
	if (e->cur == NULL)
		e->cur = e->sink->buffer(e->sink->arg);
	start = e->cur->len;
	r = mapper_map(e->m, pr->f, pr->nf, e->pd->rows, pr->pos, e->cur,
	    &e->mr);
	if (r < 0) {
		res->ioerr = r;
		return 1;
	}
	if (r > 0)
		return emit_reject(e, pr, e->mr.code, e->mr.msg);
	if (e->sink->ledger == NULL)
		return accepted(e, pr->pos, start);
	if ((r = e->sink->ledger(e->sink->arg, &e->mr, e->cur, start,
	    &lv)) != 0) {
		res->ioerr = r;
		return 1;
	}
	return on_verdict(e, &lv, start, pr->pos, pr->raw, pr->rawlen);
}

/* The parsers of this version, by [parse] format. */
static const struct parser_ops *const parsers[] = {
	&parser_csv,
	&parser_x12,
};

const struct parser_ops *
parser_find(const char *format)
{
	size_t i;

	for (i = 0; format != NULL && i < TD_NELEM(parsers); i++)
		if (strcmp(parsers[i]->name, format) == 0)
			return parsers[i];
	return NULL;
}

void
rej_counts_add(struct rej_counts *rc, const char *code, uint64_t n)
{
	size_t i;

	for (i = 0; i < rc->n; i++)
		if (strcmp(rc->v[i].code, code) == 0)
			break;
	if (i == rc->n) {
		rc->v = xreallocarray(rc->v, rc->n + 1, sizeof(*rc->v));
		snprintf(rc->v[i].code, sizeof(rc->v[i].code), "%s", code);
		rc->v[i].n = 0;
		rc->n++;
	}
	rc->v[i].n += n;
}

void
rej_counts_merge(struct rej_counts *dst, const struct rej_counts *src)
{
	size_t i;

	for (i = 0; i < src->n; i++)
		rej_counts_add(dst, src->v[i].code, src->v[i].n);
}

void
rej_counts_free(struct rej_counts *rc)
{
	x_free(rc->v);
	rc->v = NULL;
	rc->n = 0;
}

static int
rej_count_cmp(const void *a, const void *b)
{
	const struct rej_count *x = *(const struct rej_count * const *)a;
	const struct rej_count *y = *(const struct rej_count * const *)b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->code, y->code);
}

/* The counts in their order of report: most frequent first. */
static const struct rej_count **
rej_counts_sorted(const struct rej_counts *rc)
{
	const struct rej_count **o;
	size_t i;

	o = xreallocarray(NULL, rc->n + 1, sizeof(*o));
	for (i = 0; i < rc->n; i++)
		o[i] = &rc->v[i];
	qsort(o, rc->n, sizeof(*o), rej_count_cmp);
	return o;
}

void
rej_counts_json(const struct rej_counts *rc, struct td_buf *b)
{
	const struct rej_count **o = rej_counts_sorted(rc);
	size_t i;

	td_buf_putc(b, '{');
	for (i = 0; i < rc->n; i++) {
		if (i > 0)
			td_buf_putc(b, ',');
		td_json_str(b, o[i]->code, strlen(o[i]->code));
		td_buf_printf(b, ":%llu", (unsigned long long)o[i]->n);
	}
	td_buf_putc(b, '}');
	x_free(o);
}

void
rej_counts_text(const struct rej_counts *rc, struct td_buf *b)
{
	const struct rej_count **o = rej_counts_sorted(rc);
	size_t i;

	for (i = 0; i < rc->n; i++)
		td_buf_printf(b, "%s%s:%llu", i > 0 ? "," : "", o[i]->code,
		    (unsigned long long)o[i]->n);
	x_free(o);
}

void
proc_result_clear(struct proc_result *res)
{
	size_t i;

	for (i = 0; i < res->ndocs; i++)
		x_free(res->docs[i].member);
	x_free(res->docs);
	x_free(res->t2detail);
	for (i = 0; i < res->nacks; i++)
		ack_group_free(res->acks[i]);
	x_free(res->acks);
	rej_counts_free(&res->skipped);
	rej_counts_free(&res->by_code);
	x_free(res->over);
	memset(res, 0, sizeof(*res));
}

void
proc_log_mixed(const struct proc_result *res, const char *file)
{
	const struct proc_doc *pd;
	size_t i;

	for (i = 0; i < res->ndocs; i++) {
		pd = &res->docs[i];
		if (!pd->mixed)
			continue;
		td_log(TD_LOG_WARN, "decode_mixed", "file=%s member=%s "
		    "first_invalid=%llu first_multibyte=%llu invalid=%llu "
		    "message=\"read as UTF-8, with the rows that hold bytes "
		    "that are not UTF-8 rejected (invalid_utf8)\"", file,
		    pd->member != NULL ? pd->member : "",
		    (unsigned long long)pd->first_bad,
		    (unsigned long long)pd->first_multi,
		    (unsigned long long)pd->nbad);
	}
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
utf16_hint(struct emitter *e, int enc)
{
	if (enc == DEC_UTF16LE)
		emit_fail(e, "decode_utf16_no_bom", "the text looks like "
		    "UTF-16LE without a byte order mark (a NUL byte after most "
		    "characters); set [decode] encoding = utf-16");
	else
		emit_fail(e, "decode_utf16_no_bom", "the text looks like "
		    "UTF-16BE without a byte order mark (a NUL byte before "
		    "most characters), which this version reads only with "
		    "one: have the sender add a byte order mark, or send UTF-8");
}

/*
 * A mixed document's invalid sequence ends dec (decoder_feed_part): the
 * text before it to the parser, then the sequence, counted for the row
 * that is open, which holds it (emit_row_bad). A parser that cannot
 * reject a row alone refuses the document. As ops->feed returns.
 */
static int
feed_bad(struct emitter *e, void *st, struct decoder *d,
    const struct td_buf *dec)
{
	uint64_t off, multi;
	size_t len = decoder_bad(d, &off), before = dec->len - len;
	int r;

	if (!e->ops->bad_rows) {
		(void)decoder_mixed(d, &multi, NULL, NULL);
		if (multi == UINT64_MAX)	/* after the invalid byte */
			multi = e->multi_at;
		return emit_fail(e, "decode_mixed", "byte %llu is not UTF-8 in "
		    "a document that is UTF-8 elsewhere (a multi-byte sequence "
		    "at byte %llu): its %ss are not rejected one by one, as "
		    "each is read with those before it; have the sender "
		    "resend it in one encoding, or set [decode] encoding",
		    (unsigned long long)off, (unsigned long long)multi,
		    e->ops->position);
	}
	if (before > 0 && (r = e->ops->feed(st, dec->p, before)) != 0)
		return r;
	if (e->bad_n == 0) {
		e->bad_n = len;
		memcpy(e->bad_b, dec->p + before, len);
		e->bad_off = off;
	} else
		e->bad_more++;
	return e->ops->feed(st, dec->p + before, len);
}

/*
 * One document: read it from the unpacker, decode, feed the parser (its
 * state st). Returns 0 (look at res and e->restart), or a negative
 * TD_ERR_* local failure.
 */
static int
process_doc(struct emitter *e, void *st, struct unpacker *u, int enc,
    int autoenc, char *blk, struct td_buf *dec, uint64_t *total)
{
	struct proc_result *res = e->res;
	struct decoder *d = NULL;
	const char *code;
	ssize_t n;
	size_t off, used;
	int r = 0, first = 1, ret = TD_OK, again;

	e->bad_n = 0;
	e->bad_more = 0;
	for (;;) {
		n = unpack_read(u, blk, READ_BLOCK);
		if (n < 0) {
			emit_fail(e, unpack_errcode(u), "%s", unpack_errmsg(u));
			goto out;
		}
		if (first) {
			/* a BOM decides; else the configured encoding */
			int bom = decoder_sniff(blk, (size_t)n), u16;

			first = 0;
			if (bom == 0 && enc != DEC_UTF16LE &&
			    enc != DEC_UTF16BE &&
			    (u16 = decoder_looks_utf16(blk, (size_t)n)) != 0) {
				utf16_hint(e, u16);
				goto out;
			}
			if (autoenc && bom != 0)
				enc = bom;
			else if (enc == DEC_UTF16LE && bom == DEC_UTF16BE)
				enc = DEC_UTF16BE;
			d = decoder_new(enc);
			e->pd->encoding = decoder_name(d);
		}
		/* a mixed document's decoding stops after each invalid
		 * sequence: then the block goes on from there */
		off = 0;
		do {
			td_buf_reset(dec);
			used = 0;
			r = n == 0 ? decoder_finish(d, dec) :
			    decoder_feed_part(d, blk + off, (size_t)n - off,
			    dec, &used);
			off += used;
			if (r == TD_ERR_FORMAT) {
				/* encoding = auto reads it again as: */
				code = decoder_errcode(d);
				again = strcmp(code, "decode_not_utf8") == 0 ?
				    DEC_CP1252_TRY : strcmp(code,
				    "decode_mixed_retry") == 0 ?
				    DEC_UTF8_MIXED : 0;
				if (again != 0) {
					/* unless a row before it stops the
					 * file */
					if (emit_settle(e) == 0) {
						e->restart = again;
						e->restart_doc = res->ndocs - 1;
						e->restart_multi =
						    decoder_erroffset(d);
					}
				} else
					emit_fail(e, code, "byte %llu is not "
					    "valid %s", (unsigned long long)
					    decoder_erroffset(d),
					    decoder_name(d));
				goto out;
			}
			if (r < 0) {
				ret = r;
				goto out;
			}
			if (r == DEC_BAD)
				r = feed_bad(e, st, d, dec);
			else if (dec->len > 0)
				r = e->ops->feed(st, dec->p, dec->len);
			if (r == 0 && n == 0)	/* the end: in one piece */
				r = e->ops->finish(st);
			if (r < 0) {
				ret = r;
				goto out;
			}
			if (res->ioerr != 0) {
				ret = res->ioerr;
				goto out;
			}
			if (r != 0 || res->t2code != NULL)
				goto out;
		} while (off < (size_t)n);
		if (n == 0)
			break;
		*total += (uint64_t)n;
		if (*total / PROGRESS_EVERY != (*total - (uint64_t)n) /
		    PROGRESS_EVERY)
			td_log(TD_LOG_INFO, "file_progress", "file=%s "
			    "bytes=%llu rows=%llu records=%llu dlq=%llu",
			    e->doc.file, (unsigned long long)*total,
			    (unsigned long long)res->rows,
			    (unsigned long long)res->records,
			    (unsigned long long)res->rejected);
	}
 out:
	/* read as mixed, its rows rejected (not refused: decode_mixed) */
	if (d != NULL && e->ops->bad_rows &&
	    (e->pd->mixed = decoder_mixed(d, &e->pd->first_multi,
	    &e->pd->first_bad, &e->pd->nbad)) &&
	    e->pd->first_multi == UINT64_MAX)
		e->pd->first_multi = e->multi_at;	/* stopped before it */
	decoder_free(d);
	return ret;
}

/*
 * encoding = auto: a document read again (process_file), and the DEC_*
 * it is read as (DEC_CP1252_TRY, then DEC_UTF8_MIXED).
 */
struct forced {
	size_t		 doc;
	int		 enc;
	uint64_t	 multi;		/* DEC_UTF8_MIXED: restart_multi */
};

/* What force says of document idx, or NULL. */
static const struct forced *
forced_find(const struct forced *force, size_t nforce, size_t idx)
{
	size_t i;

	for (i = 0; i < nforce; i++)
		if (force[i].doc == idx)
			return &force[i];
	return NULL;
}

/*
 * One pass over the file, the documents of force read as it says.
 * Returns as process_file(); *restart is the index of a document that
 * encoding = auto found not to be UTF-8, or mixed (the pass stopped
 * there), or SIZE_MAX; *renc then how to read it (its doc unset).
 */
static int
process_pass(struct mapper *m, const struct td_conf *c, int fd,
    const struct proc_opts *o, const struct forced *force, size_t nforce,
    const struct proc_sink *sink, struct proc_result *res, size_t *restart,
    struct forced *renc)
{
	const struct forced *f;
	struct unpack_limits lim;
	struct unpacker *u = NULL;
	struct emitter e;
	struct td_buf dec;
	const char *member, *encname;
	char *blk = NULL;
	void *st = NULL;
	uint64_t total = 0;
	int r, enc, autoenc, ret = TD_OK;

	*restart = SIZE_MAX;
	memset(res, 0, sizeof(*res));
	memset(&e, 0, sizeof(e));
	e.ops = o->parser;
	if (e.ops == NULL && (e.ops = parser_find(td_conf_str(c,
	    TDK_parse_format))) == NULL)
		td_fatal("no parser for format = %s",	/* mapper_new refuses it */
		    td_conf_str(c, TDK_parse_format));
	e.m = m;
	e.sink = sink;
	e.res = res;
	e.batch_records = o->batch_records;
	e.max_rows = o->max_rows;
	e.doc.transmission_id = o->transmission_id;
	e.doc.file = o->file;
	e.doc.position = e.ops->position;
	window_init(&e.win[0]);
	window_init(&e.win[1]);
	td_buf_init(&dec, READ_BLOCK * 4, 0);

	lim.max_ratio = td_conf_u64(c, TDK_unpack_max_ratio);
	lim.max_bytes = td_conf_u64(c, TDK_unpack_max_bytes);
	lim.max_members = td_conf_u64(c, TDK_unpack_max_members);
	lim.max_depth = td_conf_u64(c, TDK_unpack_max_depth);
	encname = td_conf_str(c, TDK_decode_encoding);
	autoenc = strcmp(encname, "auto") == 0;

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
		e.pd = &res->docs[res->ndocs++];
		memset(e.pd, 0, sizeof(*e.pd));
		e.pd->member = member ? xstrdup(member) : NULL;
		e.pd->encoding = "utf-8";
		e.doc.member = e.pd->member;
		e.doc.occurrence = occurrence(res);
		f = autoenc ? forced_find(force, nforce, res->ndocs - 1) :
		    NULL;
		e.multi_at = f != NULL && f->enc == DEC_UTF8_MIXED ? f->multi :
		    UINT64_MAX;
		if (!autoenc)
			enc = decoder_from_name(encname);
		else
			enc = f != NULL ? f->enc : DEC_UTF8_TRY;
		if (st != NULL)
			e.ops->free(st);
		st = NULL;
		if ((r = e.ops->open(&st, c, &e)) != 0) {
			if (r < 0)
				ret = r;
			goto out;
		}
		if ((ret = process_doc(&e, st, u, enc, autoenc, blk, &dec,
		    &total)) != 0)
			goto out;
		/* the document's rows still waiting for the ledger */
		if (res->t2code == NULL && !e.restart && emit_drain(&e) != 0 &&
		    res->ioerr != 0) {
			ret = res->ioerr;
			goto out;
		}
		if (res->t2code != NULL || e.restart)
			goto out;
		if (res->partial)
			break;
	}
	if (r < 0) {
		t2(res, unpack_errcode(u), "%s", unpack_errmsg(u));
		goto out;
	}
	if (res->ndocs == 0) {
		no_document(res, unpack_stats(u));
		goto out;
	}
	if ((r = flush_batch(&e)) != 0)
		ret = r;
	else if (sink->pass_end != NULL &&
	    (r = sink->pass_end(sink->arg, &res->again)) != 0)
		ret = r;
	else if (res->over != NULL && !res->again)
		t2(res, "control_total_overflow", "%s", res->over);
	else
		reject_ratio(res, td_conf_u64(c, TDK_integration_max_reject_ratio));
 out:
	emit_discard(&e);	/* stopped early: what waits never was */
	window_free(&e.win[0]);
	window_free(&e.win[1]);
	x_free(e.sl0.f);
	if (u != NULL && unpack_stats(u)->format != NULL)
		snprintf(res->format, sizeof(res->format), "%s",
		    unpack_stats(u)->format);
	/* the digest of what was read, the rest of the file included */
	if (u != NULL && ret == 0 && !e.restart && !res->partial &&
	    (r = unpack_digest(u, res->raw_sha256, &res->raw_size)) != 0) {
		if (r == TD_ERR_FORMAT) {	/* changed: that explains all */
			t2(res, unpack_errcode(u), "%s", unpack_errmsg(u));
			x_free(res->t2detail);
			res->t2detail = NULL;
		} else
			ret = r;
	}
	if (ret == 0 && e.restart) {
		*restart = e.restart_doc;
		renc->enc = e.restart;
		renc->multi = e.restart_multi;
	}
	if (st != NULL)
		e.ops->free(st);
	x_free(blk);
	unpack_close(u);
	td_buf_free(&dec);
	return ret;
}

int
process_file(struct mapper *m, const struct td_conf *c, int fd,
    const struct proc_opts *o, const struct proc_sink *sink,
    struct proc_result *res)
{
	struct forced *force = NULL, as = { 0, 0, UINT64_MAX };
	size_t nforce = 0, doc, i;
	int r, again = 0;

	for (;;) {
		r = process_pass(m, c, fd, o, force, nforce, sink, res, &doc,
		    &as);
		if (r == 0 && doc == SIZE_MAX && res->again && !again &&
		    res->t2code == NULL) {
			/*
			 * The ledger met a record_key on two rows: read the
			 * file again, with every row of such a key rejected.
			 */
			again = 1;
			proc_result_clear(res);
			res->pass2 = 1;
			if (lseek(fd, 0, SEEK_SET) != 0) {
				r = TD_ERR_IO;
				break;
			}
			if ((r = sink->reset(sink->arg, SIZE_MAX, 0)) != 0)
				break;
			continue;
		}
		if (r != 0 || doc == SIZE_MAX)
			break;
		/*
		 * encoding = auto: that document is not UTF-8. Read it as
		 * windows-1252 and start the file over; the sink forgets
		 * what it was given, so nothing is delivered twice. Read so,
		 * it may turn out mixed: then it is read as UTF-8, its rows
		 * that are not UTF-8 rejected, and the file starts over once
		 * more (each document at most twice).
		 */
		for (i = 0; i < nforce && force[i].doc != doc; i++)
			;
		if (i == nforce) {
			force = xreallocarray(force, nforce + 1,
			    sizeof(*force));
			force[nforce++].doc = doc;
		} else if (force[i].enc == DEC_UTF8_MIXED)
			td_fatal("process: document %zu read a third time",
			    doc);
		force[i].enc = as.enc;
		force[i].multi = as.multi;
		proc_result_clear(res);
		res->pass2 = again;
		if (lseek(fd, 0, SEEK_SET) != 0) {
			r = TD_ERR_IO;
			break;
		}
		if ((r = sink->reset(sink->arg, doc, as.enc ==
		    DEC_UTF8_MIXED)) != 0)
			break;
	}
	x_free(force);
	return r;
}
