/*
 * csv.c - streaming RFC 4180 CSV parser (see csv.h for the grammar).
 *
 * The hot loop scans runs of ordinary bytes with a 256-entry class table
 * and copies each run with one memcpy into the record buffer; field ends
 * are stored as offsets into it, so the buffer may grow (up to
 * max_record) without invalidating anything.  The raw text of a record
 * that lies inside one chunk is handed out in place; only records that
 * straddle chunks are copied into the raw buffer (truncated at
 * max_record).
 *
 * Limits are checked so that the reported error does not depend on how
 * the input was chunked: field-level errors are found in byte order and
 * compared against the byte position where the record limit was crossed
 * (csv_fail); the record limit alone is checked at chunk and record ends.
 * Once a record has an error nothing more is copied or counted for it;
 * the state machine keeps running only to find the record's end.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "td.h"
#include "csv.h"

enum csv_state {
	CSV_S_BOM,	/* at start of input, matching a UTF-8 BOM */
	CSV_S_REC,	/* between records */
	CSV_S_CR,	/* between records, just after a CR (LF joins it) */
	CSV_S_FIELD,	/* at the start of a field */
	CSV_S_UNQ,	/* inside an unquoted field */
	CSV_S_Q,	/* inside a quoted field */
	CSV_S_QQ,	/* a quote inside a quoted field: end or "" */
	CSV_S_DONE	/* csv_finish() was called */
};

/* Class bits: which bytes end a run in the unquoted / quoted states. */
#define CSV_C_UNQ	0x01	/* delimiter, CR, LF, NUL */
#define CSV_C_Q		0x02	/* quote, CR, LF, NUL */

#define CSV_MIN_ALLOC	4096
#define CSV_MIN_FIELDS	16

static const unsigned char csv_bom[3] = { 0xef, 0xbb, 0xbf };

struct csv {
	unsigned char	 cls[256];
	unsigned char	 delim;
	size_t		 max_field;
	size_t		 max_record;
	size_t		 max_fields;

	int		 state;
	int		 bom_n;		/* BOM bytes matched so far */
	int		 err;		/* error of the current record */
	size_t		 errfield;	/* its field, 1-based (0: none) */
	unsigned char	 last;		/* last byte of the previous chunk */
	uint64_t	 line;		/* current physical line */
	uint64_t	 rec_line;	/* line where the current record began */
	uint64_t	 bytes;		/* input bytes consumed */

	unsigned char	*rbuf;		/* unquoted bytes of the record */
	size_t		 rlen;
	size_t		 rcap;		/* grows up to max_record */

	unsigned char	*raw;		/* raw bytes from earlier chunks */
	size_t		 rawcap;	/* grows up to max_record */
	uint64_t	 rawtot;	/* raw bytes in earlier chunks */
	const unsigned char *raw_mark;	/* record start in this chunk */

	size_t		*off;		/* field i is rbuf[off[i]..off[i+1]) */
	struct td_field *f;		/* filled just before the callback */
	size_t		 nf;		/* completed fields */
	size_t		 fcap;		/* f has fcap, off fcap + 1 entries */
};

struct csv *
csv_new(const struct csv_opts *o)
{
	struct csv *s;
	unsigned char d = CSV_DEFAULT_DELIM;
	size_t max_field = CSV_DEFAULT_MAX_FIELD;
	size_t max_record = CSV_DEFAULT_MAX_RECORD;
	size_t max_fields = CSV_DEFAULT_MAX_FIELDS;

	if (o != NULL) {
		if (o->delim != 0)
			d = o->delim;
		if (o->max_field != 0)
			max_field = o->max_field;
		if (o->max_record != 0)
			max_record = o->max_record;
		if (o->max_fields != 0)
			max_fields = o->max_fields;
	}
	if (d == '"' || d == '\r' || d == '\n')
		return NULL;
	/* The field arrays must stay allocatable (off has one extra). */
	if (max_fields > SIZE_MAX / 2 / sizeof(struct td_field))
		return NULL;

	s = xcalloc(1, sizeof(*s));
	s->delim = d;
	s->max_field = max_field;
	s->max_record = max_record;
	s->max_fields = max_fields;
	s->cls[d] |= CSV_C_UNQ;
	s->cls['\r'] |= CSV_C_UNQ | CSV_C_Q;
	s->cls['\n'] |= CSV_C_UNQ | CSV_C_Q;
	s->cls['"'] |= CSV_C_Q;
	s->cls[0] |= CSV_C_UNQ | CSV_C_Q;
	s->state = CSV_S_BOM;
	s->line = 1;
	s->fcap = max_fields < CSV_MIN_FIELDS ? max_fields : CSV_MIN_FIELDS;
	s->off = xreallocarray(NULL, s->fcap + 1, sizeof(*s->off));
	s->f = xreallocarray(NULL, s->fcap, sizeof(*s->f));
	return s;
}

void
csv_free(struct csv *s)
{
	if (s == NULL)
		return;
	x_free(s->rbuf);
	x_free(s->raw);
	x_free(s->off);
	x_free(s->f);
	x_free(s);
}

const char *
csv_errcode(int err)
{
	switch (err) {
	case 0:
		return "csv_ok";
	case CSV_E_RECORD_TOO_LONG:
		return "csv_record_too_long";
	case CSV_E_FIELD_TOO_LONG:
		return "csv_field_too_long";
	case CSV_E_TOO_MANY_FIELDS:
		return "csv_too_many_fields";
	case CSV_E_BAD_QUOTE:
		return "csv_bad_quote";
	case CSV_E_UNTERMINATED:
		return "csv_unterminated_quote";
	case CSV_E_NUL_BYTE:
		return "csv_nul_byte";
	}
	return "csv_unknown";
}

uint64_t
csv_bytes(const struct csv *s)
{
	return s->bytes;
}

/* Grow *bufp to hold need bytes (need <= max), doubling, capped at max. */
static void
csv_grow(unsigned char **bufp, size_t *capp, size_t need, size_t max)
{
	size_t cap = *capp < CSV_MIN_ALLOC ? CSV_MIN_ALLOC : *capp;

	while (cap < need && cap <= max / 2)
		cap *= 2;
	if (cap < need || cap > max)
		cap = need > max ? need : max;
	*bufp = xrealloc(*bufp, cap);
	*capp = cap;
}

/*
 * A field-level error at byte q of this chunk.  If the record limit was
 * already crossed by an earlier byte, that is the record's error.
 */
static void
csv_fail(struct csv *s, int code, const unsigned char *q)
{
	uint64_t before = s->rawtot + (uint64_t)(q - s->raw_mark);

	s->err = before > s->max_record ? CSV_E_RECORD_TOO_LONG : code;
	s->errfield = s->err == CSV_E_RECORD_TOO_LONG ? 0 : s->nf + 1;
}

/* Append n unquoted bytes at src to the current field. */
static inline void
csv_put(struct csv *s, const unsigned char *src, size_t n)
{
	size_t flen;

	if (s->err != 0 || n == 0)
		return;
	/* Invariants: flen <= max_field, rlen <= max_record. */
	flen = s->rlen - s->off[s->nf];
	if (n > s->max_field - flen) {
		csv_fail(s, CSV_E_FIELD_TOO_LONG, src + (s->max_field - flen));
		return;
	}
	if (n > s->max_record - s->rlen) {
		/* Unquoted bytes never outnumber raw bytes. */
		s->err = CSV_E_RECORD_TOO_LONG;
		return;
	}
	if (s->rlen + n > s->rcap)
		csv_grow(&s->rbuf, &s->rcap, s->rlen + n, s->max_record);
	memcpy(s->rbuf + s->rlen, src, n);
	s->rlen += n;
}

/* Make room for off[nf + 1] (nf + 1 <= max_fields). */
static void
csv_more_fields(struct csv *s)
{
	size_t n = s->fcap * 2;

	if (n > s->max_fields)
		n = s->max_fields;
	s->off = xreallocarray(s->off, n + 1, sizeof(*s->off));
	s->f = xreallocarray(s->f, n, sizeof(*s->f));
	s->fcap = n;
}

/* The delimiter at p ends a field and starts another. */
static inline void
csv_delim(struct csv *s, const unsigned char *p)
{
	if (s->err != 0)
		return;
	if (s->nf + 1 >= s->max_fields) {
		csv_fail(s, CSV_E_TOO_MANY_FIELDS, p);
		return;
	}
	if (s->nf + 1 > s->fcap)
		csv_more_fields(s);
	s->off[++s->nf] = s->rlen;
}

/* The record's last field ends (nf + 1 <= max_fields holds here). */
static inline void
csv_last_field(struct csv *s)
{
	if (s->err != 0)
		return;
	if (s->nf + 1 > s->fcap)
		csv_more_fields(s);
	s->off[++s->nf] = s->rlen;
}

/* Keep raw bytes of the current record, truncated at max_record. */
static void
csv_raw_add(struct csv *s, const unsigned char *src, size_t n)
{
	size_t have, keep;

	if (s->rawtot < s->max_record) {
		have = (size_t)s->rawtot;
		keep = s->max_record - have;
		if (keep > n)
			keep = n;
		if (have + keep > s->rawcap)
			csv_grow(&s->raw, &s->rawcap, have + keep, s->max_record);
		if (keep > 0)
			memcpy(s->raw + have, src, keep);
	}
	s->rawtot += n;
	if (s->err == 0 && s->rawtot > s->max_record)
		s->err = CSV_E_RECORD_TOO_LONG;
}

/*
 * Hand the current record to the callback.  eor is its line end in this
 * chunk, or NULL at end of input.
 */
static int
csv_emit(struct csv *s, const unsigned char *eor, csv_cb cb, void *arg)
{
	struct csv_rec rec;
	size_t seg = eor != NULL ? (size_t)(eor - s->raw_mark) : 0, i;
	/* no byte unquoted yet (empty fields): rbuf may still be NULL */
	const char *base = s->rbuf != NULL ? (const char *)s->rbuf : "";

	if (s->rawtot == 0 && eor != NULL) {
		/* The whole record is in this chunk: no copy. */
		rec.raw = (const char *)s->raw_mark;
		rec.rawlen = seg < s->max_record ? seg : s->max_record;
		if (s->err == 0 && seg > s->max_record)
			s->err = CSV_E_RECORD_TOO_LONG;
	} else {
		csv_raw_add(s, s->raw_mark, seg);
		rec.raw = (const char *)s->raw;
		rec.rawlen = s->rawtot < s->max_record ?
		    (size_t)s->rawtot : s->max_record;
	}
	rec.line = s->rec_line;
	rec.err = s->err;
	rec.errfield = s->err != 0 ? s->errfield : 0;
	rec.f = s->f;
	rec.nf = 0;
	if (s->err == 0) {
		for (i = 0; i < s->nf; i++) {
			s->f[i].p = base + s->off[i];
			s->f[i].len = s->off[i + 1] - s->off[i];
		}
		rec.nf = s->nf;
	}
	return cb(arg, &rec);
}

/* Index of the first byte in [p, end) whose class has a bit of m. */
static inline const unsigned char *
csv_scan(const unsigned char *p, const unsigned char *end,
    const unsigned char *cls, unsigned char m)
{
	while (end - p >= 8) {
		if (cls[p[0]] & m)
			return p;
		if (cls[p[1]] & m)
			return p + 1;
		if (cls[p[2]] & m)
			return p + 2;
		if (cls[p[3]] & m)
			return p + 3;
		if (cls[p[4]] & m)
			return p + 4;
		if (cls[p[5]] & m)
			return p + 5;
		if (cls[p[6]] & m)
			return p + 6;
		if (cls[p[7]] & m)
			return p + 7;
		p += 8;
	}
	while (p < end && !(cls[*p] & m))
		p++;
	return p;
}

/*
 * Run the state machine over one chunk.  *usedp gets the bytes consumed
 * (all of them unless the callback stopped us).
 */
static int
csv_run(struct csv *s, const unsigned char *data, size_t len, csv_cb cb,
    void *arg, size_t *usedp)
{
	const unsigned char *p = data, *end = data + len, *q;
	const unsigned char *cls = s->cls;
	int st = s->state, r = 0;
	unsigned char prev;

	s->raw_mark = data;
	while (p < end) {
		switch (st) {
		case CSV_S_CR:
			st = CSV_S_REC;
			if (*p == '\n') {
				p++;
				continue;
			}
			/* FALLTHROUGH */
		case CSV_S_REC:
			if (*p == '\n') {
				s->line++;
				p++;
				continue;
			}
			if (*p == '\r') {
				s->line++;
				p++;
				st = CSV_S_CR;
				continue;
			}
			/* A record begins. */
			s->rec_line = s->line;
			s->err = 0;
			s->errfield = 0;
			s->nf = 0;
			s->off[0] = 0;
			s->rlen = 0;
			s->rawtot = 0;
			s->raw_mark = p;
			/* FALLTHROUGH */
		case CSV_S_FIELD:
			if (*p == '"') {
				p++;
				st = CSV_S_Q;
				continue;
			}
			/* FALLTHROUGH */
		case CSV_S_UNQ:
			q = p;
			p = csv_scan(p, end, cls, CSV_C_UNQ);
			csv_put(s, q, (size_t)(p - q));
			if (p == end) {
				st = CSV_S_UNQ;
				continue;
			}
			if (*p == '\0') {
				if (s->err == 0)
					csv_fail(s, CSV_E_NUL_BYTE, p);
				p++;
				st = CSV_S_UNQ;
				continue;
			}
			if (*p == s->delim) {
				csv_delim(s, p);
				p++;
				st = CSV_S_FIELD;
				continue;
			}
			goto eor;
		case CSV_S_Q:
			q = p;
			for (;;) {
				p = csv_scan(p, end, cls, CSV_C_Q);
				if (p == end || *p == '"')
					break;
				if (*p == '\0') {
					csv_put(s, q, (size_t)(p - q));
					if (s->err == 0)
						csv_fail(s, CSV_E_NUL_BYTE, p);
					q = ++p;
					continue;
				}
				/* CR or LF inside quotes: data, and a line. */
				prev = p > data ? p[-1] : s->last;
				if (*p == '\r' || prev != '\r')
					s->line++;
				p++;
			}
			csv_put(s, q, (size_t)(p - q));
			if (p == end)
				continue;
			p++;
			st = CSV_S_QQ;
			continue;
		case CSV_S_QQ:
			if (*p == '"') {
				csv_put(s, p, 1);
				p++;
				st = CSV_S_Q;
				continue;
			}
			if (*p == s->delim) {
				csv_delim(s, p);
				p++;
				st = CSV_S_FIELD;
				continue;
			}
			if (*p == '\r' || *p == '\n')
				goto eor;
			/* Data after a closing quote; go on as unquoted. */
			if (s->err == 0)
				csv_fail(s, CSV_E_BAD_QUOTE, p);
			st = CSV_S_UNQ;
			continue;
		default:
			r = TD_ERR_INTERNAL;
			goto out;
		}
 eor:
		/* *p is the CR or LF ending the record. */
		csv_last_field(s);
		s->line++;
		st = *p == '\r' ? CSV_S_CR : CSV_S_REC;
		r = csv_emit(s, p, cb, arg);
		p++;
		if (r != 0)
			goto out;
	}
	/* The chunk ends inside a record: keep its raw bytes. */
	if (st >= CSV_S_FIELD && st <= CSV_S_QQ)
		csv_raw_add(s, s->raw_mark, (size_t)(end - s->raw_mark));
 out:
	if (p > data)
		s->last = p[-1];
	s->state = st;
	if (usedp != NULL)
		*usedp = (size_t)(p - data);
	return r;
}

int
csv_feed(struct csv *s, const void *data, size_t len, csv_cb cb, void *arg)
{
	const unsigned char *d = data;
	size_t used = 0, n = 0;
	int r;

	if (s->state == CSV_S_DONE)
		return TD_ERR_INVAL;
	if (len == 0)
		return 0;
	if (s->state == CSV_S_BOM) {
		while (used < len && s->bom_n < 3 && d[used] == csv_bom[s->bom_n]) {
			used++;
			s->bom_n++;
		}
		if (s->bom_n < 3 && used == len) {
			/* Still a possible BOM prefix. */
			s->bytes += used;
			return 0;
		}
		s->state = CSV_S_REC;
		/* A partial BOM was data after all: parse it as such. */
		if (s->bom_n < 3 && s->bom_n > 0 &&
		    (r = csv_run(s, csv_bom, s->bom_n, cb, arg, NULL)) != 0)
			return r;	/* not reached: no line end in it */
	}
	r = csv_run(s, d + used, len - used, cb, arg, &n);
	s->bytes += used + n;
	return r;
}

int
csv_finish(struct csv *s, csv_cb cb, void *arg)
{
	int r = 0;

	if (s->state == CSV_S_DONE)
		return 0;
	if (s->state == CSV_S_BOM && s->bom_n > 0 && s->bom_n < 3) {
		/* Input was only a BOM prefix: that is data. */
		s->state = CSV_S_REC;
		if ((r = csv_run(s, csv_bom, s->bom_n, cb, arg, NULL)) != 0)
			goto out;
	}
	switch (s->state) {
	case CSV_S_Q:
		if (s->err == 0) {
			s->err = CSV_E_UNTERMINATED;
			s->errfield = s->nf + 1;
		}
		/* FALLTHROUGH */
	case CSV_S_FIELD:
	case CSV_S_UNQ:
	case CSV_S_QQ:
		csv_last_field(s);
		s->raw_mark = NULL;
		r = csv_emit(s, NULL, cb, arg);
		break;
	default:
		break;
	}
 out:
	s->state = CSV_S_DONE;
	return r;
}
