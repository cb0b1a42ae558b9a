/*
 * test-csv.c - agent/csv.c against public corpora (csv-spectrum with its
 * expected JSON, Apache Commons CSV control files), real-world line-end
 * fixtures (theodi csvlint, csvkit), limits, chunked feeding, and a
 * byte-at-a-time reference parser for differential testing.
 * Data is read from $srcdir/tests/data/csv (srcdir defaults to ".").
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "td.h"
#include "csv.h"
#include "../lib/tap.h"

/* ---- small helpers ------------------------------------------------ */

struct sb {
	char	*p;
	size_t	 len, cap;
};

static void
sb_add(struct sb *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_str(struct sb *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void
sb_fmt(struct sb *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sb_fmt(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	sb_str(b, s);
	x_free(s);
}

static char *
data_path(const char *rel)
{
	const char *srcdir = getenv("srcdir");

	if (srcdir == NULL || *srcdir == '\0')
		srcdir = ".";
	return xasprintf("%s/tests/data/csv/%s", srcdir, rel);
}

/* Read a whole file; returns NULL (and says why) on failure. */
static unsigned char *
slurp(const char *rel, size_t *lenp)
{
	char *path = data_path(rel);
	FILE *fp;
	struct sb b = { NULL, 0, 0 };
	char tmp[8192];
	size_t n;

	*lenp = 0;
	if ((fp = fopen(path, "rb")) == NULL) {
		diag("cannot open %s: %s", path, strerror(errno));
		x_free(path);
		return NULL;
	}
	sb_add(&b, "", 0);
	while ((n = fread(tmp, 1, sizeof(tmp), fp)) > 0)
		sb_add(&b, tmp, n);
	fclose(fp);
	x_free(path);
	*lenp = b.len;
	return (unsigned char *)b.p;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in data dir rel ending in suffix; returns the count. */
static size_t
list_dir(const char *rel, const char *suffix, char ***namesp)
{
	char *path = data_path(rel);
	DIR *dir;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, nl, sl = strlen(suffix);

	*namesp = NULL;
	if ((dir = opendir(path)) == NULL) {
		diag("cannot open %s: %s", path, strerror(errno));
		x_free(path);
		return 0;
	}
	while ((de = readdir(dir)) != NULL) {
		nl = strlen(de->d_name);
		if (nl <= sl || strcmp(de->d_name + nl - sl, suffix) != 0)
			continue;
		names = xreallocarray(names, n + 1, sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	closedir(dir);
	x_free(path);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_str);
	*namesp = names;
	return n;
}

static void
free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		x_free(names[i]);
	x_free(names);
}

/* ---- collecting records ------------------------------------------- */

struct trec {
	uint64_t	 line;
	int		 err;
	size_t		 nf;
	char		**f;		/* NUL-terminated copies */
	size_t		*flen;
	char		*raw;
	size_t		 rawlen;
};

struct coll {
	struct trec	*r;
	size_t		 n;
	struct sb	 ser;		/* canonical text of all records */
	int		 stop_after;	/* return 99 after this many, if > 0 */
	int		 keep;		/* keep copies in r[] */
};

static void
ser_rec(struct sb *b, uint64_t line, int err, size_t errfield, size_t nf,
    const struct td_field *f, const char *raw, size_t rawlen)
{
	size_t i;

	sb_fmt(b, "L%" PRIu64 " E%d F%zu N%zu", line, err, errfield, nf);
	for (i = 0; i < nf; i++) {
		sb_fmt(b, " %zu:", f[i].len);
		sb_add(b, f[i].p, f[i].len);
	}
	sb_fmt(b, " R%zu:", rawlen);
	sb_add(b, raw, rawlen);
	sb_str(b, "\n");
}

static int
coll_cb(void *arg, const struct csv_rec *rec)
{
	struct coll *c = arg;
	struct trec *t;
	size_t i;

	ser_rec(&c->ser, rec->line, rec->err, rec->errfield, rec->nf, rec->f,
	    rec->raw, rec->rawlen);
	if (c->keep) {
		c->r = xreallocarray(c->r, c->n + 1, sizeof(*c->r));
		t = &c->r[c->n];
		t->line = rec->line;
		t->err = rec->err;
		t->nf = rec->nf;
		t->f = xcalloc(rec->nf + 1, sizeof(*t->f));
		t->flen = xcalloc(rec->nf + 1, sizeof(*t->flen));
		for (i = 0; i < rec->nf; i++) {
			t->f[i] = xmalloc(rec->f[i].len + 1);
			memcpy(t->f[i], rec->f[i].p, rec->f[i].len);
			t->f[i][rec->f[i].len] = '\0';
			t->flen[i] = rec->f[i].len;
		}
		t->raw = xmalloc(rec->rawlen + 1);
		memcpy(t->raw, rec->raw, rec->rawlen);
		t->raw[rec->rawlen] = '\0';
		t->rawlen = rec->rawlen;
	}
	c->n++;
	if (c->stop_after > 0 && c->n == (size_t)c->stop_after)
		return 99;
	return 0;
}

static void
coll_free(struct coll *c)
{
	size_t i, j;

	for (i = 0; c->keep && i < c->n; i++) {
		for (j = 0; j < c->r[i].nf; j++)
			x_free(c->r[i].f[j]);
		x_free(c->r[i].f);
		x_free(c->r[i].flen);
		x_free(c->r[i].raw);
	}
	x_free(c->r);
	x_free(c->ser.p);
	memset(c, 0, sizeof(*c));
}

/* Parse data fed in chunks of chunk bytes (0: all at once). */
static int
parse(const void *data, size_t len, const struct csv_opts *o, size_t chunk,
    struct coll *c, int keep)
{
	struct csv *p;
	const unsigned char *d = data;
	size_t off = 0, n;
	int r = 0;

	memset(c, 0, sizeof(*c));
	c->keep = keep;
	sb_add(&c->ser, "", 0);
	if ((p = csv_new(o)) == NULL)
		return -100;
	if (chunk == 0)
		chunk = len;
	while (off < len) {
		n = len - off < chunk ? len - off : chunk;
		if ((r = csv_feed(p, d + off, n, coll_cb, c)) != 0)
			goto out;
		off += n;
	}
	r = csv_finish(p, coll_cb, c);
	if (csv_bytes(p) != len)
		r = -101;
 out:
	csv_free(p);
	return r;
}

/* ---- reference parser: byte at a time, same grammar and limits ---- */

struct ref {
	const struct csv_opts *o;
	struct sb	 out;
	struct sb	 fld;		/* all field bytes of the record */
	size_t		 off[64];	/* tests keep max_fields < 63 */
	size_t		 nf;
	struct sb	 raw;
	size_t		 rawn;
	uint64_t	 line;
	int		 err;
	size_t		 errfield;
};

static void
ref_emit(struct ref *r)
{
	struct td_field f[64];
	size_t i, nf = r->err ? 0 : r->nf;

	for (i = 0; i < nf; i++) {
		f[i].p = r->fld.p + r->off[i];
		f[i].len = r->off[i + 1] - r->off[i];
	}
	ser_rec(&r->out, r->line, r->err, r->err == 0 ||
	    r->err == CSV_E_RECORD_TOO_LONG ? 0 : r->errfield, nf, f, r->raw.p,
	    r->raw.len);
}

static void
ref_byte(struct ref *r, unsigned char b)
{
	if (r->err == 0) {
		if (b == '\0')
			r->err = CSV_E_NUL_BYTE;
		else if (r->fld.len - r->off[r->nf] + 1 > r->o->max_field)
			r->err = CSV_E_FIELD_TOO_LONG;
		else
			sb_add(&r->fld, &b, 1);
		r->errfield = r->nf + 1;
	}
}

static void
ref_delim(struct ref *r)
{
	if (r->err == 0) {
		r->errfield = r->nf + 1;	/* kept only with an error */
		if (r->nf + 1 >= r->o->max_fields)
			r->err = CSV_E_TOO_MANY_FIELDS;
		else
			r->off[++r->nf] = r->fld.len;
	}
}

/* Count one raw byte of the record (after its field-level checks). */
static void
ref_raw(struct ref *r, unsigned char b)
{
	if (r->rawn < r->o->max_record)
		sb_add(&r->raw, &b, 1);
	r->rawn++;
	if (r->err == 0 && r->rawn > r->o->max_record)
		r->err = CSV_E_RECORD_TOO_LONG;
}

static void
ref_parse(const unsigned char *d, size_t n, const struct csv_opts *o,
    struct sb *out)
{
	enum { REC, CR, FIELD, UNQ, Q, QQ } st = REC;
	struct ref r;
	uint64_t line = 1;
	size_t i = 0;
	unsigned char b, delim = o->delim;

	memset(&r, 0, sizeof(r));
	r.o = o;
	sb_add(&r.out, "", 0);
	sb_add(&r.fld, "", 0);
	sb_add(&r.raw, "", 0);
	if (n >= 3 && memcmp(d, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	for (; i < n; i++) {
		b = d[i];
		if (st == CR) {
			st = REC;
			if (b == '\n')
				continue;
		}
		if (st == REC) {
			if (b == '\n' || b == '\r') {
				line++;
				st = b == '\r' ? CR : REC;
				continue;
			}
			r.line = line;
			r.err = 0;
			r.nf = 0;
			r.off[0] = 0;
			r.fld.len = 0;
			r.raw.len = 0;
			r.rawn = 0;
			st = FIELD;
		}
		if ((st == FIELD || st == UNQ || st == QQ) &&
		    (b == '\r' || b == '\n')) {
			if (r.err == 0)
				r.off[++r.nf] = r.fld.len;
			ref_emit(&r);
			line++;
			st = b == '\r' ? CR : REC;
			continue;
		}
		switch (st) {
		case FIELD:
			if (b == '"')
				st = Q;
			else if (b == delim)
				ref_delim(&r);
			else {
				ref_byte(&r, b);
				st = UNQ;
			}
			break;
		case UNQ:
			if (b == delim) {
				ref_delim(&r);
				st = FIELD;
			} else
				ref_byte(&r, b);
			break;
		case Q:
			if (b == '"')
				st = QQ;
			else {
				if (b == '\r' || (b == '\n' && d[i - 1] != '\r'))
					line++;
				ref_byte(&r, b);
			}
			break;
		case QQ:
			if (b == '"') {
				ref_byte(&r, b);
				st = Q;
			} else if (b == delim) {
				ref_delim(&r);
				st = FIELD;
			} else {
				if (r.err == 0) {
					r.err = CSV_E_BAD_QUOTE;
					r.errfield = r.nf + 1;
				}
				st = UNQ;
			}
			break;
		default:
			break;
		}
		ref_raw(&r, b);
	}
	if (st == Q && r.err == 0) {
		r.err = CSV_E_UNTERMINATED;
		r.errfield = r.nf + 1;
	}
	if (st == FIELD || st == UNQ || st == Q || st == QQ) {
		if (r.err == 0)
			r.off[++r.nf] = r.fld.len;
		ref_emit(&r);
	}
	x_free(r.fld.p);
	x_free(r.raw.p);
	*out = r.out;
}

/* ---- a tiny JSON reader for csv-spectrum's shape ------------------ */
/* [ {"k": "v", ...}, ... ] or a single {...}; string values only.   */

struct jobj {
	size_t	 n;
	char	**k;
	char	**v;
	size_t	*vlen;
};

static void
json_ws(const char **p)
{
	while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
		(*p)++;
}

static int
json_hex4(const char *p, unsigned *v)
{
	int i;

	*v = 0;
	for (i = 0; i < 4; i++) {
		*v <<= 4;
		if (p[i] >= '0' && p[i] <= '9')
			*v |= (unsigned)(p[i] - '0');
		else if (p[i] >= 'a' && p[i] <= 'f')
			*v |= (unsigned)(p[i] - 'a' + 10);
		else if (p[i] >= 'A' && p[i] <= 'F')
			*v |= (unsigned)(p[i] - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

static int
json_string(const char **p, struct sb *out)
{
	const char *s = *p;
	unsigned u;
	unsigned char e[3];

	out->len = 0;
	sb_add(out, "", 0);
	if (*s++ != '"')
		return -1;
	for (;;) {
		if (*s == '\0')
			return -1;
		if (*s == '"')
			break;
		if (*s != '\\') {
			sb_add(out, s++, 1);
			continue;
		}
		s++;
		switch (*s) {
		case '"': case '\\': case '/':
			sb_add(out, s, 1);
			break;
		case 'n':
			sb_str(out, "\n");
			break;
		case 'r':
			sb_str(out, "\r");
			break;
		case 't':
			sb_str(out, "\t");
			break;
		case 'b':
			sb_str(out, "\b");
			break;
		case 'f':
			sb_str(out, "\f");
			break;
		case 'u':
			/* BMP only; csv-spectrum has no \u escapes at all. */
			if (json_hex4(s + 1, &u) != 0)
				return -1;
			if (u < 0x80) {
				e[0] = (unsigned char)u;
				sb_add(out, e, 1);
			} else if (u < 0x800) {
				e[0] = (unsigned char)(0xc0 | (u >> 6));
				e[1] = (unsigned char)(0x80 | (u & 0x3f));
				sb_add(out, e, 2);
			} else {
				e[0] = (unsigned char)(0xe0 | (u >> 12));
				e[1] = (unsigned char)(0x80 | ((u >> 6) & 0x3f));
				e[2] = (unsigned char)(0x80 | (u & 0x3f));
				sb_add(out, e, 3);
			}
			s += 4;
			break;
		default:
			return -1;
		}
		s++;
	}
	*p = s + 1;
	return 0;
}

static int
json_object(const char **p, struct jobj *o)
{
	struct sb s = { NULL, 0, 0 };
	int r = -1;

	memset(o, 0, sizeof(*o));
	json_ws(p);
	if (**p != '{')
		goto out;
	(*p)++;
	json_ws(p);
	if (**p == '}') {
		(*p)++;
		r = 0;
		goto out;
	}
	for (;;) {
		json_ws(p);
		o->k = xreallocarray(o->k, o->n + 1, sizeof(*o->k));
		o->v = xreallocarray(o->v, o->n + 1, sizeof(*o->v));
		o->vlen = xreallocarray(o->vlen, o->n + 1, sizeof(*o->vlen));
		o->k[o->n] = o->v[o->n] = NULL;
		if (json_string(p, &s) != 0)
			goto out;
		o->k[o->n] = xstrndup(s.p, s.len);
		json_ws(p);
		if (*(*p)++ != ':')
			goto out;
		json_ws(p);
		if (json_string(p, &s) != 0)
			goto out;
		o->v[o->n] = xmalloc(s.len + 1);
		memcpy(o->v[o->n], s.p, s.len + 1);
		o->vlen[o->n] = s.len;
		o->n++;
		json_ws(p);
		if (**p == ',') {
			(*p)++;
			continue;
		}
		if (**p != '}')
			goto out;
		(*p)++;
		break;
	}
	r = 0;
 out:
	if (r != 0 && o->k != NULL) {
		/* The half-built pair at index n. */
		x_free(o->k[o->n]);
		x_free(o->v[o->n]);
	}
	x_free(s.p);
	return r;
}

static void
jobj_free(struct jobj *o)
{
	size_t i;

	for (i = 0; i < o->n; i++) {
		x_free(o->k[i]);
		x_free(o->v[i]);
	}
	x_free(o->k);
	x_free(o->v);
	x_free(o->vlen);
}

/* Parse a csv-spectrum expectation; returns the object count or -1. */
static long
json_read(const char *text, struct jobj **objsp)
{
	const char *p = text;
	struct jobj *objs = NULL;
	long n = 0;

	*objsp = NULL;
	json_ws(&p);
	if (*p == '{') {
		/* location_coordinates.json is one object, not an array. */
		objs = xcalloc(1, sizeof(*objs));
		if (json_object(&p, &objs[0]) != 0)
			goto bad;
		n = 1;
	} else if (*p == '[') {
		p++;
		json_ws(&p);
		while (*p != ']') {
			objs = xreallocarray(objs, (size_t)n + 1, sizeof(*objs));
			n++;
			if (json_object(&p, &objs[n - 1]) != 0)
				goto bad;
			json_ws(&p);
			if (*p == ',')
				p++;
			else if (*p != ']')
				goto bad;
		}
		p++;
	} else
		goto bad;
	json_ws(&p);
	if (*p != '\0')
		goto bad;
	*objsp = objs;
	return n;
 bad:
	while (n > 0)
		jobj_free(&objs[--n]);
	x_free(objs);
	return -1;
}

/* ---- csv-spectrum ------------------------------------------------- */

/*
 * Known defect in upstream csv-spectrum (still present at d30e80f8):
 * json/location_coordinates.json says "Contact Phone Number" is
 * "1234567890", but csvs/location_coordinates.csv has 2095257564.  The
 * test asserts that this one value, and nothing else, disagrees.
 */
static const struct {
	const char	*file, *key, *json_value, *csv_value;
} spectrum_errata[] = {
	{ "location_coordinates", "Contact Phone Number", "1234567890",
	    "2095257564" },
};

static void
test_spectrum(void)
{
	char **names, *rel, *jtext;
	size_t nnames, i, len, jlen, e, k;
	unsigned char *data;
	struct jobj *objs;
	struct coll c;
	long nobj, j;
	int fieldok, errata_hit = 0;
	const struct trec *h, *t;

	nnames = list_dir("csv-spectrum/csvs", ".csv", &names);
	is_int(nnames, 12, "csv-spectrum: 12 cases found");
	for (i = 0; i < nnames; i++) {
		names[i][strlen(names[i]) - 4] = '\0';
		rel = xasprintf("csv-spectrum/csvs/%s.csv", names[i]);
		data = slurp(rel, &len);
		x_free(rel);
		rel = xasprintf("csv-spectrum/json/%s.json", names[i]);
		jtext = (char *)slurp(rel, &jlen);
		x_free(rel);
		if (!ok(data != NULL && jtext != NULL, "%s: files read",
		    names[i])) {
			x_free(data);
			x_free(jtext);
			continue;
		}
		nobj = json_read(jtext, &objs);
		ok(nobj >= 1, "%s: expected JSON parsed (%ld records)",
		    names[i], nobj);
		is_int(parse(data, len, NULL, 0, &c, 1), 0, "%s: parse",
		    names[i]);
		is_int(c.n, nobj + 1, "%s: header + %ld records", names[i],
		    nobj);
		h = c.n > 0 ? &c.r[0] : NULL;
		for (j = 0; nobj > 0 && j < nobj && (size_t)j + 1 < c.n; j++) {
			t = &c.r[j + 1];
			fieldok = t->err == 0 && h->err == 0 &&
			    t->nf == objs[j].n && h->nf == objs[j].n;
			for (k = 0; fieldok && k < objs[j].n; k++) {
				if (strcmp(h->f[k], objs[j].k[k]) != 0) {
					diag("key %zu: '%s' vs '%s'", k,
					    h->f[k], objs[j].k[k]);
					fieldok = 0;
					break;
				}
				if (t->flen[k] == objs[j].vlen[k] &&
				    memcmp(t->f[k], objs[j].v[k],
				    t->flen[k]) == 0)
					continue;
				for (e = 0; e < TD_NELEM(spectrum_errata); e++)
					if (strcmp(names[i],
					    spectrum_errata[e].file) == 0 &&
					    strcmp(objs[j].k[k],
					    spectrum_errata[e].key) == 0 &&
					    strcmp(objs[j].v[k],
					    spectrum_errata[e].json_value) == 0 &&
					    strcmp(t->f[k],
					    spectrum_errata[e].csv_value) == 0)
						break;
				if (e < TD_NELEM(spectrum_errata)) {
					diag("%s: upstream JSON erratum for "
					    "'%s' (json '%s', csv '%s')",
					    names[i], objs[j].k[k],
					    objs[j].v[k], t->f[k]);
					errata_hit++;
					continue;
				}
				diag("field '%s': got '%s', want '%s'",
				    objs[j].k[k], t->f[k], objs[j].v[k]);
				fieldok = 0;
			}
			ok(fieldok, "%s: record %ld matches JSON field by "
			    "field", names[i], j + 1);
		}
		while (nobj > 0)
			jobj_free(&objs[--nobj]);
		x_free(objs);
		coll_free(&c);
		x_free(data);
		x_free(jtext);
	}
	is_int(errata_hit, TD_NELEM(spectrum_errata),
	    "csv-spectrum: each known upstream erratum seen exactly once");
	free_names(names, nnames);
}

/* ---- Apache Commons CSV control files ------------------------------ */

/*
 * Where our semantics (strict RFC 4180) differ from Commons CSV on a
 * record that a control file we run expects: test.csv line 7,
 * `" i ", " j " , " k "," l " `, has a space after the closing quote of
 * the last field; Commons CSV skips whitespace there, RFC 4180 does not
 * allow it and we reject the record as csv_bad_quote.
 */
static const struct {
	const char	*csv;
	uint64_t	 line;
	int		 err;
} commons_dev[] = {
	{ "test.csv", 7, CSV_E_BAD_QUOTE },
};

static void
test_commons_one(const char *ctl)
{
	char *rel, *text, *line, *next, *nl, *sp, *csvname;
	const char *why = NULL;
	unsigned char *data;
	size_t len, ri = 0, k, d, ndev = 0;
	struct coll c;
	struct sb got = { NULL, 0, 0 };
	int lineno = 0, ignore_empty = 0, nexp, allok = 1, devhit;
	long n;

	rel = xasprintf("commons-csv/%s", ctl);
	text = (char *)slurp(rel, &len);
	x_free(rel);
	if (!ok(text != NULL, "commons %s: read", ctl))
		return;
	nl = strchr(text, '\n');
	if (nl != NULL)
		*nl = '\0';
	if ((sp = strchr(text, ' ')) != NULL)
		*sp++ = '\0';
	csvname = text;
	if (sp != NULL) {
		/*
		 * Options that do not apply to an RFC 4180 parser:
		 * IgnoreSpaces trims fields (test_rfc4180_trim.txt),
		 * CommentStart/CheckComments make '#' lines comments
		 * (test_default_comment.txt, testCSV85_*.txt,
		 * testCSV246_*.txt).  Those cases are skipped.
		 */
		if (strstr(sp, "IgnoreSpaces") != NULL)
			why = "IgnoreSpaces (trimming) is not RFC 4180";
		else if (strstr(sp, "CommentStart") != NULL ||
		    strstr(sp, "CheckComments") != NULL)
			why = "comment lines are not RFC 4180";
		if (strstr(sp, "IgnoreEmpty=true") != NULL)
			ignore_empty = 1;
	}
	if (why != NULL) {
		diag("commons %s: skipped: %s", ctl, why);
		x_free(text);
		return;
	}
	rel = xasprintf("commons-csv/%s", csvname);
	data = slurp(rel, &len);
	x_free(rel);
	if (!ok(data != NULL, "commons %s: data %s read", ctl, csvname)) {
		x_free(text);
		return;
	}
	is_int(parse(data, len, NULL, 0, &c, 1), 0, "commons %s: parse", ctl);
	/* Line 2 is CSVFormat#toString(); records follow. */
	for (line = nl != NULL ? nl + 1 : NULL; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (++lineno == 1 || line[0] == '#' || line[0] == '\0')
			continue;
		errno = 0;
		n = strtol(line, &sp, 10);
		if (errno != 0 || sp == line || *sp != ':' || n < 0) {
			ok(0, "commons %s: bad control line '%s'", ctl, line);
			allok = 0;
			continue;
		}
		sp++;
		/*
		 * Without IgnoreEmpty, Commons CSV returns each empty line
		 * as a record "1:[]"; we skip empty lines by design.
		 * (test.csv has no real one-empty-field record.)
		 */
		if (!ignore_empty && n == 1 && strcmp(sp, "[]") == 0)
			continue;
		if (ri >= c.n) {
			ok(0, "commons %s: missing record for '%s'", ctl, line);
			allok = 0;
			continue;
		}
		devhit = 0;
		for (d = 0; d < TD_NELEM(commons_dev); d++)
			if (strcmp(commons_dev[d].csv, csvname) == 0 &&
			    commons_dev[d].line == c.r[ri].line) {
				is_int(c.r[ri].err, commons_dev[d].err,
				    "commons %s: line %" PRIu64 " is %s "
				    "(documented deviation)", ctl,
				    c.r[ri].line,
				    csv_errcode(commons_dev[d].err));
				devhit = 1;
				ndev++;
			}
		if (devhit) {
			ri++;
			continue;
		}
		got.len = 0;
		sb_fmt(&got, "[");
		for (k = 0; k < c.r[ri].nf; k++) {
			if (k > 0)
				sb_str(&got, ", ");
			sb_add(&got, c.r[ri].f[k], c.r[ri].flen[k]);
		}
		sb_str(&got, "]");
		nexp = (int)n;
		if (c.r[ri].err != 0 || (long)c.r[ri].nf != nexp ||
		    strcmp(got.p, sp) != 0) {
			diag("commons %s: line %" PRIu64 ": got %zu:%s err %s, "
			    "want %s", ctl, c.r[ri].line, c.r[ri].nf, got.p,
			    csv_errcode(c.r[ri].err), line);
			allok = 0;
		}
		ri++;
	}
	ok(allok, "commons %s: all records match", ctl);
	is_int(ri, c.n, "commons %s: no extra records", ctl);
	for (d = 0, k = 0; d < TD_NELEM(commons_dev); d++)
		if (strcmp(commons_dev[d].csv, csvname) == 0)
			k++;
	is_int(ndev, k, "commons %s: every documented deviation seen", ctl);
	x_free(got.p);
	coll_free(&c);
	x_free(data);
	x_free(text);
}

static void
test_commons(void)
{
	char **names;
	size_t n, i, run = 0;

	n = list_dir("commons-csv", ".txt", &names);
	for (i = 0; i < n; i++) {
		if (strncmp(names[i], "test", 4) != 0)
			continue;	/* README.txt */
		run++;
		test_commons_one(names[i]);
	}
	is_int(run, 7, "commons: 7 control files examined");
	free_names(names, n);
}

/* ---- line ends, line numbers, delimiters, BOM, NUL --------------- */

/* Expect the records of file rel (fields joined by '|', NUL as "\\0"). */
static void
expect_file(const char *rel, const struct csv_opts *o, const char *want)
{
	unsigned char *data;
	size_t len, i, k, j;
	struct coll c;
	struct sb got = { NULL, 0, 0 };

	if ((data = slurp(rel, &len)) == NULL) {
		ok(0, "%s: read", rel);
		return;
	}
	is_int(parse(data, len, o, 0, &c, 1), 0, "%s: parse", rel);
	sb_add(&got, "", 0);
	for (i = 0; i < c.n; i++) {
		sb_fmt(&got, "%" PRIu64 ":", c.r[i].line);
		if (c.r[i].err != 0)
			sb_str(&got, csv_errcode(c.r[i].err));
		for (k = 0; k < c.r[i].nf; k++) {
			if (k > 0)
				sb_str(&got, "|");
			for (j = 0; j < c.r[i].flen[k]; j++) {
				if (c.r[i].f[k][j] == '\0')
					sb_str(&got, "\\0");
				else
					sb_add(&got, &c.r[i].f[k][j], 1);
			}
		}
		sb_str(&got, "\n");
	}
	is_str(got.p, want, "%s: records and line numbers", rel);
	x_free(got.p);
	coll_free(&c);
	x_free(data);
}

static void
test_files(void)
{
	struct csv_opts tab = { '\t', 0, 0, 0 };

	/* Line numbers after multi-line quoted fields. */
	expect_file("csv-spectrum/csvs/newlines.csv", NULL,
	    "1:a|b|c\n2:1|2|3\n3:Once upon \na time|5|6\n5:7|8|9\n");
	expect_file("csv-spectrum/csvs/newlines_crlf.csv", NULL,
	    "1:a|b|c\n2:1|2|3\n3:Once upon \r\na time|5|6\n5:7|8|9\n");
	expect_file("csv-spectrum/csvs/quotes_and_newlines.csv", NULL,
	    "1:a|b\n2:1|ha \n\"ha\" \nha\n5:3|4\n");
	expect_file("commons-csv/psql.csv", NULL,
	    "1:1|abc|test line 1\ntest line 2||\n"
	    "3:2|xyz|\\b:\b \\t:\t \\n:\n \\r:\r|a|b\n"
	    "6:3|a|b,c,d|\"quoted\"|e\n");
	/* CR-only, CRLF, LF and mixed line ends. */
	expect_file("theodi-csvlint/cr-line-endings.csv", NULL,
	    "1:Foo|Bar|Baz\n2:Biff|Baff|Boff\n3:Qux|Teaspoon|Doge\n");
	expect_file("theodi-csvlint/crlf-line-endings.csv", NULL,
	    "1:Foo|Bsr|Baz\n2:Biff|Baff|Boff\n3:Qux|Teaspoon|Doge\n");
	expect_file("theodi-csvlint/lf-line-endings.csv", NULL,
	    "1:Foo|Bsr|Baz\n2:Biff|Baff|Boff\n3:Qux|Teaspoon|Doge\n");
	expect_file("theodi-csvlint/inconsistent-line-endings.csv", NULL,
	    "1:Foo|Bsr|Baz\n2:Biff|Baff|Boff\n3:Qux|Teaspoon|Doge\n");
	expect_file("theodi-csvlint/inconsistent-line-endings-unquoted.csv",
	    NULL, "1:Foo|Bsr|Baz\n2:Biff|Baff|Boff\n3:Qux|Teaspoon|Doge\n");
	/* CR-only with a CR inside quotes: it is data and a line. */
	expect_file("csvkit/mac_newlines.csv", NULL,
	    "1:a|b|c\n2:1|2|3\n3:Once upon\ra time|5|6\n");
	/* Bad quote ("3" "), empty line skipped but counted. */
	expect_file("theodi-csvlint/invalid_many_rows.csv", NULL,
	    "1:Foo|Bar|Baz\n2:1|2|3\n3:3|2|1\n4:csv_bad_quote\n"
	    "5:3|two|1\n6:1|2|3\n7:3|2|1\n9:3|2|1\n10:3|2|1\n11:||\n"
	    "12:3|2|1\n");
	/* Tab delimiter; the same file read with ',' is one field. */
	expect_file("csvkit/dummy.tsv", &tab, "1:a|b|c\n2:1|2|3\n");
	expect_file("csvkit/dummy.tsv", NULL, "1:a\tb\tc\n2:1\t2\t3\n");
	/* NUL bytes are data. */
	expect_file("csvkit/null_byte.csv", NULL, "1:a|b|c\n2:csv_nul_byte\n");
	/* A BOM at the start is skipped. */
	expect_file("csvkit/test_utf8_bom.csv", NULL,
	    "1:foo|bar|baz\n2:1|2|3\n3:4|5|\xca\xa4\n");
}

static void
test_bom_file(void)
{
	unsigned char *data;
	size_t len;
	struct coll c;

	if ((data = slurp("commons-csv/bom.csv", &len)) == NULL) {
		ok(0, "bom.csv read");
		return;
	}
	is_int(parse(data, len, NULL, 0, &c, 1), 0, "bom.csv: parse");
	ok(c.n == 252 && c.r[0].nf == 6 && strcmp(c.r[0].f[0], "Date") == 0 &&
	    c.r[0].rawlen == 36 && c.r[0].line == 1,
	    "bom.csv: BOM skipped, header 'Date' + 5 fields, 251 rows");
	coll_free(&c);
	x_free(data);
}

/* Parse a string; return the records rendered like expect_file(). */
static char *
render(const char *s, size_t len, const struct csv_opts *o, size_t chunk)
{
	struct coll c;
	struct sb got = { NULL, 0, 0 };
	size_t i, k, j;
	int r;

	r = parse(s, len, o, chunk, &c, 1);
	sb_add(&got, "", 0);
	if (r != 0)
		sb_fmt(&got, "rc=%d\n", r);
	for (i = 0; i < c.n; i++) {
		sb_fmt(&got, "%" PRIu64 ":", c.r[i].line);
		if (c.r[i].err != 0)
			sb_fmt(&got, "%s{%s}", csv_errcode(c.r[i].err),
			    c.r[i].raw);
		for (k = 0; k < c.r[i].nf; k++) {
			if (k > 0)
				sb_str(&got, "|");
			for (j = 0; j < c.r[i].flen[k]; j++) {
				if (c.r[i].f[k][j] == '\0')
					sb_str(&got, "\\0");
				else
					sb_add(&got, &c.r[i].f[k][j], 1);
			}
		}
		sb_str(&got, "\n");
	}
	coll_free(&c);
	return got.p;
}

#define EXPECT(in, o, want, name) do {					\
	char *g__ = render(in, sizeof(in) - 1, o, 0);			\
	is_str(g__, want, "%s", name);					\
	x_free(g__);							\
} while (0)

static void
test_semantics(void)
{
	struct csv_opts small = { 0, 4, 12, 3 };
	struct csv_opts semi = { ';', 0, 0, 0 };
	struct csv_opts three = { 0, 0, 0, 3 };

	EXPECT("", NULL, "", "empty input: no record");
	EXPECT("\xef\xbb\xbf", NULL, "", "only a BOM: no record");
	EXPECT("\xef\xbb", NULL, "1:\xef\xbb\n", "a partial BOM is data");
	EXPECT("\xef\xbbx,y\n", NULL, "1:\xef\xbbx|y\n",
	    "a partial BOM then data");
	EXPECT("a\n\xef\xbb\xbf\n", NULL, "1:a\n2:\xef\xbb\xbf\n",
	    "a BOM after the start is data");
	EXPECT("\n\r\n\r\rx\n\n", NULL, "5:x\n",
	    "empty lines skipped, each counted (LF, CRLF, CR, CR)");
	EXPECT("a,b\n,\n\"\"\n", NULL, "1:a|b\n2:|\n3:\n",
	    "empty fields; \"\" is a record of one empty field");
	EXPECT("a\"b,c\"\"d\n", NULL, "1:a\"b|c\"\"d\n",
	    "quotes inside unquoted fields are literal");
	EXPECT("\"ab\"c,d\n1,2\n", NULL,
	    "1:csv_bad_quote{\"ab\"c,d}\n2:1|2\n", "data after closing quote");
	EXPECT("\"a\" ,b\nx\n", NULL, "1:csv_bad_quote{\"a\" ,b}\n2:x\n",
	    "space after closing quote is a bad quote too");
	EXPECT("\"a\"x\"\nb\",c\nd\n", NULL,
	    "1:csv_bad_quote{\"a\"x\"}\n2:b\"|c\n3:d\n",
	    "after a bad quote the rest of the field is unquoted");
	EXPECT("x,\"a\"\"b\"\"\",\"\"\"\"\n", NULL, "1:x|a\"b\"|\"\n",
	    "doubled quotes");
	EXPECT("a,\"b\r\nc\rd\ne\"\r\nz\n", NULL,
	    "1:a|b\r\nc\rd\ne\n5:z\n", "line ends in quotes kept verbatim");
	EXPECT("a,\"b\nc", NULL,
	    "1:csv_unterminated_quote{a,\"b\nc}\n", "unterminated at EOF");
	EXPECT("a,\"b\"", NULL, "1:a|b\n", "closing quote at EOF");
	EXPECT("a,b", NULL, "1:a|b\n", "no trailing newline");
	EXPECT("a,b\r", NULL, "1:a|b\n", "CR at EOF");
	EXPECT("a,\n", NULL, "1:a|\n", "trailing empty field");
	EXPECT("a;\"b;c\";d,e\n", &semi, "1:a|b;c|d,e\n", "';' delimiter");
	EXPECT("a\0b,\0\nc,\"d\0\"\ne\n", NULL,
	    "1:csv_nul_byte{a}\n2:csv_nul_byte{c,\"d}\n3:e\n",
	    "a NUL byte, quoted or not, rejects its record (the raw text "
	    "shows up to the NUL)");
	/* Limits: max_field 4, max_record 12, max_fields 3. */
	EXPECT("abcd,x\nabcde,x\nok\n", &small,
	    "1:abcd|x\n2:csv_field_too_long{abcde,x}\n3:ok\n",
	    "max_field is inclusive");
	EXPECT("\"ab\"\"c\"\n\"ab\"\"cd\"\n", &small,
	    "1:ab\"c\n2:csv_field_too_long{\"ab\"\"cd\"}\n",
	    "max_field counts unquoted bytes");
	EXPECT("a,b,c\na,b,c,d\nz\n", &small,
	    "1:a|b|c\n2:csv_too_many_fields{a,b,c,d}\n3:z\n",
	    "max_fields");
	EXPECT("abc,abc,abc\nabc,abc,abcd\nabcd,abcd,abc\n", &small,
	    "1:abc|abc|abc\n2:abc|abc|abcd\n"
	    "3:csv_record_too_long{abcd,abcd,ab}\n",
	    "max_record is inclusive, counts raw bytes; raw is truncated");
	EXPECT("abcdefgh,ab\nx\n", &small,
	    "1:csv_field_too_long{abcdefgh,ab}\n2:x\n",
	    "the first limit crossed is reported");
	EXPECT("abcdefghijklm\nx\n", &small,
	    "1:csv_field_too_long{abcdefghijkl}\n2:x\n",
	    "field limit crossed before record limit wins");
	EXPECT("a,b,c,\"d\ne,f\"\nx,y\n", &three,
	    "1:csv_too_many_fields{a,b,c,\"d\ne,f\"}\n3:x|y\n",
	    "resync honours quotes; lines inside a rejected record count");
}

/* ---- limits on big input ------------------------------------------- */

static void
test_big_field(void)
{
	const size_t big = 10 * 1024 * 1024;
	struct csv_opts o = { 0, 1024 * 1024, 4 * 1024 * 1024, 16 };
	size_t chunks[] = { 0, 65536, 4093 };
	unsigned char *in;
	size_t len, i;
	struct coll c;

	/* a,"xxxx...(10 MB, with "" and CRLF inside)",b CRLF next,record */
	in = xmalloc(big + 64);
	memcpy(in, "a,\"", 3);
	memset(in + 3, 'x', big);
	memcpy(in + 3 + 1000, "\"\"", 2);
	memcpy(in + 3 + 2000000, "\r\n", 2);
	len = 3 + big;
	memcpy(in + len, "\",b\r\nnext,record\n", 17);
	len += 17;
	for (i = 0; i < TD_NELEM(chunks); i++) {
		is_int(parse(in, len, &o, chunks[i], &c, 1), 0,
		    "10 MB field, chunk %zu: parse", chunks[i]);
		ok(c.n == 2, "10 MB field: two records");
		if (c.n != 2) {
			coll_free(&c);
			continue;
		}
		is_str(csv_errcode(c.r[0].err), "csv_field_too_long",
		    "10 MB field with max_field 1 MB rejected");
		ok(c.r[0].nf == 0 && c.r[0].line == 1, "rejected at line 1");
		ok(c.r[0].rawlen == o.max_record &&
		    memcmp(c.r[0].raw, in, c.r[0].rawlen) == 0,
		    "raw text truncated to max_record");
		ok(c.r[1].err == 0 && c.r[1].nf == 2 && c.r[1].line == 3 &&
		    strcmp(c.r[1].f[0], "next") == 0 &&
		    strcmp(c.r[1].f[1], "record") == 0,
		    "the following record parses, at line 3");
		coll_free(&c);
	}
	x_free(in);
}

static void
test_long_record(void)
{
	struct csv_opts o = { 0, 0, 100, 0 };
	struct sb in = { NULL, 0, 0 };
	struct coll c;
	int i;

	for (i = 0; i < 60; i++)
		sb_str(&in, "aa,");
	sb_str(&in, "\"q\nq\"\"\n\",z\nok,1\n");
	is_int(parse(in.p, in.len, &o, 7, &c, 1), 0, "long record: parse");
	ok(c.n == 2 && c.r[0].err == CSV_E_RECORD_TOO_LONG &&
	    c.r[0].rawlen == 100 && memcmp(c.r[0].raw, in.p, 100) == 0,
	    "record over max_record: csv_record_too_long, raw truncated");
	ok(c.n == 2 && c.r[1].err == 0 && c.r[1].line == 4 &&
	    c.r[1].nf == 2 && strcmp(c.r[1].f[0], "ok") == 0,
	    "resynchronised after the quoted newlines, at line 4");
	coll_free(&c);
	x_free(in.p);
}

/* ---- API ------------------------------------------------------------ */

static void
test_api(void)
{
	struct csv_opts bad = { '"', 0, 0, 0 };
	struct csv *p;
	struct coll c;
	const char *in = "a\r\nb\r\nc\n";
	size_t len = strlen(in);
	uint64_t used;

	ok(csv_new(&bad) == NULL, "'\"' cannot be the delimiter");
	bad.delim = '\n';
	ok(csv_new(&bad) == NULL, "LF cannot be the delimiter");
	bad.delim = '\r';
	ok(csv_new(&bad) == NULL, "CR cannot be the delimiter");
	is_str(csv_errcode(CSV_E_RECORD_TOO_LONG), "csv_record_too_long",
	    "errcode record");
	is_str(csv_errcode(CSV_E_FIELD_TOO_LONG), "csv_field_too_long",
	    "errcode field");
	is_str(csv_errcode(CSV_E_TOO_MANY_FIELDS), "csv_too_many_fields",
	    "errcode fields");
	is_str(csv_errcode(CSV_E_BAD_QUOTE), "csv_bad_quote",
	    "errcode quote");
	is_str(csv_errcode(CSV_E_UNTERMINATED), "csv_unterminated_quote",
	    "errcode unterminated");
	is_str(csv_errcode(0), "csv_ok", "errcode 0");
	is_str(csv_errcode(42), "csv_unknown", "errcode unknown");

	/* A callback stop returns its value; feeding the rest resumes. */
	memset(&c, 0, sizeof(c));
	c.keep = 1;
	c.stop_after = 1;
	sb_add(&c.ser, "", 0);
	p = csv_new(NULL);
	is_int(csv_feed(p, in, len, coll_cb, &c), 99,
	    "callback's nonzero return is returned");
	used = csv_bytes(p);
	is_int(used, 2, "stopped just after the record's CR");
	c.stop_after = 0;
	is_int(csv_feed(p, in + used, len - (size_t)used, coll_cb, &c), 0,
	    "feeding the rest");
	is_int(csv_finish(p, coll_cb, &c), 0, "finish");
	ok(c.n == 3 && c.r[1].line == 2 && strcmp(c.r[1].f[0], "b") == 0 &&
	    c.r[2].line == 3, "resumed parse: LF of the CRLF not a new line");
	is_int(csv_bytes(p), len, "all bytes consumed");
	is_int(csv_feed(p, "x", 1, coll_cb, &c), TD_ERR_INVAL,
	    "feed after finish is refused");
	csv_free(p);
	csv_free(NULL);
	coll_free(&c);
}

/* ---- chunking equivalence and differential tests ------------------- */

static const char *corpus_dirs[] = {
	"csv-spectrum/csvs", "commons-csv", "theodi-csvlint", "csvkit",
};

static int
check_chunks(const unsigned char *d, size_t len, const struct csv_opts *o,
    const char *name, int quiet)
{
	static const size_t sizes[] = { 1, 2, 3, 4, 5, 6, 7, 4096 };
	struct coll whole, part;
	struct sb ref;
	struct csv_opts ro;
	size_t i;
	int same = 1;

	parse(d, len, o, 0, &whole, 0);
	for (i = 0; i < TD_NELEM(sizes); i++) {
		parse(d, len, o, sizes[i], &part, 0);
		if (part.ser.len != whole.ser.len ||
		    memcmp(part.ser.p, whole.ser.p, whole.ser.len) != 0) {
			diag("%s: chunk size %zu differs", name, sizes[i]);
			same = 0;
		}
		coll_free(&part);
	}
	/* The reference parser needs explicit limits. */
	ro.delim = o != NULL && o->delim ? o->delim : ',';
	ro.max_field = o != NULL && o->max_field ? o->max_field :
	    CSV_DEFAULT_MAX_FIELD;
	ro.max_record = o != NULL && o->max_record ? o->max_record :
	    CSV_DEFAULT_MAX_RECORD;
	ro.max_fields = o != NULL && o->max_fields ? o->max_fields : 63;
	if (ro.max_fields <= 63) {
		ref_parse(d, len, &ro, &ref);
		if (ref.len != whole.ser.len ||
		    memcmp(ref.p, whole.ser.p, ref.len) != 0) {
			diag("%s: differs from the reference parser", name);
			if (!quiet || getenv("CSV_DEBUG"))
				diag("got:\n%s\nref:\n%s", whole.ser.p, ref.p);
			same = 0;
		}
		x_free(ref.p);
	}
	coll_free(&whole);
	return same;
}

static void
test_chunking(void)
{
	struct csv_opts tiny = { 0, 4, 16, 3 };
	struct csv_opts tab = { '\t', 0, 0, 0 };
	char **names, *rel;
	unsigned char *data;
	size_t nd, n, i, len, files = 0;
	int allsame = 1;

	for (nd = 0; nd < TD_NELEM(corpus_dirs); nd++) {
		n = list_dir(corpus_dirs[nd], "", &names);
		for (i = 0; i < n; i++) {
			if (names[i][0] == '.' ||
			    strcmp(names[i], "README.txt") == 0 ||
			    strstr(names[i], ".txt") != NULL)
				continue;
			rel = xasprintf("%s/%s", corpus_dirs[nd], names[i]);
			if ((data = slurp(rel, &len)) != NULL) {
				files++;
				allsame &= check_chunks(data, len, NULL, rel, 0);
				allsame &= check_chunks(data, len, &tiny, rel, 0);
				allsame &= check_chunks(data, len, &tab, rel, 0);
			}
			x_free(data);
			x_free(rel);
		}
		free_names(names, n);
	}
	is_int(files, 30, "chunking: all 30 corpus data files found");
	ok(allsame, "every corpus file gives identical records in chunks of "
	    "1..7 and 4096 bytes, with default, tiny and tab options, and "
	    "matches the reference parser");
}

static void
test_random(void)
{
	static const unsigned char alpha[] = {
		'a', 'b', ',', ',', '"', '"', '"', '\r', '\n', '\n', '\0',
		'\t', 0xef, 0xbb, 0xbf, ' ',
	};
	unsigned char buf[160];
	struct csv_opts o;
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t len, i;
	int iter, bad = 0;

	for (iter = 0; iter < 3000; iter++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		len = (size_t)(x % sizeof(buf));
		for (i = 0; i < len; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = alpha[x % sizeof(alpha)];
		}
		if (iter % 5 == 0 && len >= 3)
			memcpy(buf, "\xef\xbb\xbf", 3);
		o.delim = iter % 3 == 0 ? '\t' : ',';
		o.max_field = 1 + (size_t)(x >> 20) % 10;
		o.max_record = 1 + (size_t)(x >> 30) % 40;
		o.max_fields = 1 + (size_t)(x >> 40) % 8;
		if (!check_chunks(buf, len, &o, "random", 1))
			bad++;
	}
	is_int(bad, 0, "3000 random inputs: chunking-independent and equal "
	    "to the reference parser");
}

/* ---- throughput (not asserted) ------------------------------------- */

struct bench {
	uint64_t	 recs, fields, errs;
};

static int
bench_cb(void *arg, const struct csv_rec *r)
{
	struct bench *b = arg;

	b->recs++;
	b->fields += r->nf;
	b->errs += r->err != 0;
	return 0;
}

static void
bench_one(const char *name, int quoted, size_t mb)
{
	struct sb blk = { NULL, 0, 0 };
	struct bench b = { 0, 0, 0 };
	struct timespec t0, t1;
	struct csv *p;
	uint64_t total, want, i, blkrecs = 0, nf = quoted ? 5 : 6;
	size_t off, n, chunk = 65536;
	double sec;

	/* ~1 MB of POS-like rows; fed mb times in 64 KiB chunks. */
	while (blk.len < 1024 * 1024) {
		if (quoted)
			sb_fmt(&blk, "\"2024-01-%02" PRIu64 "\",\"%013" PRIu64
			    "\",\"STORE %04" PRIu64 ", \"\"Main\"\"\",%" PRIu64
			    ",\"%" PRIu64 ".%02" PRIu64 "\"\r\n",
			    1 + blkrecs % 28, UINT64_C(4006381333931) + blkrecs,
			    blkrecs % 977, blkrecs % 50, blkrecs % 1000,
			    blkrecs % 100);
		else
			sb_fmt(&blk, "2024-01-%02" PRIu64 ",%013" PRIu64
			    ",STORE-%04" PRIu64 ",%" PRIu64 ",%" PRIu64
			    ".%02" PRIu64 ",EA\n", 1 + blkrecs % 28,
			    UINT64_C(4006381333931) + blkrecs, blkrecs % 977,
			    blkrecs % 50, blkrecs % 1000, blkrecs % 100);
		blkrecs++;
	}
	p = csv_new(NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < mb; i++)
		for (off = 0; off < blk.len; off += n) {
			n = blk.len - off < chunk ? blk.len - off : chunk;
			csv_feed(p, blk.p + off, n, bench_cb, &b);
		}
	csv_finish(p, bench_cb, &b);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	total = csv_bytes(p);
	csv_free(p);
	sec = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	want = blkrecs * mb;
	ok(b.recs == want && b.errs == 0 && b.fields == want * nf,
	    "bench %s: %" PRIu64 " records of %" PRIu64 " fields", name, want,
	    nf);
	diag("csv throughput, %s: %.1f MB in %.3f s = %.0f MB/s", name,
	    (double)total / 1e6, sec, sec > 0 ? (double)total / 1e6 / sec : 0);
	x_free(blk.p);
}

static void
test_bench(void)
{
	const char *s = getenv("TD_CSV_BENCH_MB");
	unsigned long v;
	size_t mb = 200;
	char *end;

	if (s != NULL && *s != '\0') {
		errno = 0;
		v = strtoul(s, &end, 10);
		if (errno == 0 && *end == '\0' && v >= 1 && v <= 100000)
			mb = (size_t)v;
	}
	bench_one("plain", 0, mb);
	bench_one("quoted", 1, mb / 4 ? mb / 4 : 1);
}

int
main(void)
{
	test_spectrum();
	test_commons();
	test_files();
	test_bom_file();
	test_semantics();
	test_big_field();
	test_long_record();
	test_api();
	test_chunking();
	test_random();
	test_bench();
	return done_testing();
}
