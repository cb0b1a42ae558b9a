/*
 * fuzz-map.c - libFuzzer harness: the [map] language (every transform
 * and option) and the mapper, on a configuration and rows both taken
 * from the input:
 *
 *   [map] lines (and any other sections) up to the first empty line;
 *   rows, comma-separated, the first naming the columns, up to the next;
 *   optionally a crosswalk_file, and after another empty line a
 *   promo_file, each written to a temporary file.
 *
 * Each value of a "key = value" line must parse to the same canonical
 * text again (what mapping_version hashes). Each row mapped must give
 * 0 with one JSON line (its GTIN a valid 14-digit one, its dates real
 * ones), 1 with a code and a message, or TD_ERR_LIMIT; nothing may
 * crash, leak or overrun.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "td.h"
#include "buf.h"
#include "conf.h"
#include "gtin.h"
#include "date.h"
#include "mapexpr.h"
#include "parser.h"
#include "map.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAX_ROWS	64
#define MAX_COLS	32

/* The part of [*p, end) up to an empty line; *p moves past it. */
static size_t
part(const char **p, const char *end, const char **start)
{
	const char *s = *p, *e;

	*start = s;
	e = s;
	while (e < end && !(e + 1 < end && e[0] == '\n' && e[1] == '\n'))
		e++;
	*p = e < end ? e + 2 : end;
	return (size_t)(e - s);
}

/* A value's canonical text parses to itself. */
static void
canon_stable(const char *line, size_t n)
{
	struct mapexpr *a = NULL, *b = NULL;
	const char *eq, *why;
	char *text, *c1, *c2;

	if ((eq = memchr(line, '=', n)) == NULL)
		return;
	text = xstrndup(eq + 1, n - (size_t)(eq + 1 - line));
	if (memchr(text, '\0', n - (size_t)(eq + 1 - line)) != NULL ||
	    mapexpr_parse(text, &a, &why) != 0) {
		x_free(text);
		return;
	}
	c1 = mapexpr_canon(a);
	if (mapexpr_parse(c1, &b, &why) != 0)
		abort();
	c2 = mapexpr_canon(b);
	if (strcmp(c1, c2) != 0)
		abort();
	mapexpr_free(a);
	mapexpr_free(b);
	x_free(c1);
	x_free(c2);
	x_free(text);
}

/* Split a line into fields at commas. */
static size_t
fields(const char *s, size_t n, struct td_field *f)
{
	size_t k = 0, i, b = 0;

	for (i = 0; i <= n && k < MAX_COLS; i++)
		if (i == n || s[i] == ',') {
			f[k].p = s + b;
			f[k].len = i - b;
			k++;
			b = i + 1;
		}
	return k;
}

/* The value of "name":"..." in a record, or NULL (null or absent). */
static const char *
value(const char *rec, const char *name, size_t *n)
{
	char key[40];
	const char *p;

	snprintf(key, sizeof(key), "\"%s\":\"", name);
	if ((p = strstr(rec, key)) == NULL)
		return NULL;
	p += strlen(key);
	*n = strcspn(p, "\"");
	return p;
}

/* What a mapped record (len bytes at p, not a string) must be. */
static void
check_record(const char *p, size_t len)
{
	static const char *const dates[] = { "txn_date", "period_start" };
	struct td_date d;
	const char *v, *code;
	char g[TD_GTIN_LEN + 1], *rec = xstrndup(p, len);
	size_t n, i;

	if (len < 2 || strlen(rec) != len || rec[len - 1] != '\n' ||
	    memchr(rec, '\n', len - 1) != NULL ||
	    strncmp(rec, "{\"schema\":\"tradedrop.pos.v1\",", 29) != 0)
		abort();
	if ((v = value(rec, "gtin", &n)) == NULL || n != TD_GTIN_LEN ||
	    td_gtin_normalize(v, n, g, &code) != 0 || memcmp(g, v, n) != 0)
		abort();
	for (i = 0; i < TD_NELEM(dates); i++)
		if ((v = value(rec, dates[i], &n)) != NULL &&
		    td_date_parse_iso(v, n, &d) != 0)
			abort();
	if (value(rec, "txn_date", &n) == NULL)
		abort();
	x_free(rec);
}

/* A table part as a temporary file: its path (caller frees), or NULL. */
static char *
table(const char *p, size_t n)
{
	char path[] = "/tmp/td-fuzz-map-table.XXXXXX";
	int fd;

	if ((fd = mkstemp(path)) < 0)
		abort();
	if (write(fd, p, n) != (ssize_t)n)
		abort();
	close(fd);
	return xstrdup(path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *a, *b, *l, *e;
	const char *xw, *pr;
	char path[] = "/tmp/td-fuzz-map.XXXXXX", *errs = NULL, *err = NULL;
	char *tab[2] = { NULL, NULL }, *missing = NULL;
	struct td_conf *c = NULL;
	struct mapper *m = NULL;
	struct map_doc doc = { "0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef", "f.csv", NULL, 1, "line" };
	struct td_field names[MAX_COLS], f[MAX_COLS];
	struct map_result res;
	struct td_buf out;
	size_t an, bn, xn, pn, nn, nf, before, row = 0;
	FILE *fp;
	int fd, r;

	an = part(&p, end, &a);
	bn = part(&p, end, &b);
	xn = part(&p, end, &xw);
	pn = part(&p, end, &pr);
	for (l = a; l < a + an; l = e + 1) {
		if ((e = memchr(l, '\n', (size_t)(a + an - l))) == NULL)
			e = a + an;
		canon_stable(l, (size_t)(e - l));
	}
	if (xn > 0)
		tab[0] = table(xw, xn);
	if (pn > 0)
		tab[1] = table(pr, pn);
	if ((fd = mkstemp(path)) < 0 || (fp = fdopen(fd, "w")) == NULL)
		abort();
	fprintf(fp, "[integration]\nname = fz\nstate_dir = /tmp/td-fuzz-map-"
	    "state\nmax_reject_ratio = 1\n[output]\nurl = file:///tmp/td-"
	    "fuzz-map-out\n[map]\n");
	if (tab[0] != NULL)
		fprintf(fp, "crosswalk_file = %s\n", tab[0]);
	if (tab[1] != NULL)
		fprintf(fp, "promo_file = %s\n", tab[1]);
	fwrite(a, 1, an, fp);
	fputc('\n', fp);
	fclose(fp);
	if (td_conf_load(path, &c, &errs) != 0 || mapper_new(c, &m, &err) != 0)
		goto out;
	x_free(mapper_tables(m));
	if (strlen(mapper_version(m)) != 64)
		abort();
	/* the first row names the columns */
	if ((e = memchr(b, '\n', bn)) == NULL)
		e = b + bn;
	nn = fields(b, (size_t)(e - b), names);
	r = mapper_begin(m, &doc, names, nn, &missing);
	x_free(missing);
	if (r != 0)
		goto out;
	td_buf_init(&out, 0, 1 << 16);
	for (l = e + 1; l < b + bn && row < MAX_ROWS; l = e + 1, row++) {
		if ((e = memchr(l, '\n', (size_t)(b + bn - l))) == NULL)
			e = b + bn;
		nf = fields(l, (size_t)(e - l), f);
		before = out.len;
		r = mapper_map(m, f, nf, row + 1, row + 2, &out, &res);
		if (r == 0)
			check_record(out.p + before, out.len - before);
		else if (r == 1) {
			if (res.code == NULL || res.msg[0] == '\0' ||
			    strlen(res.msg) >= sizeof(res.msg) ||
			    res.nerr < 1 || out.len != before)
				abort();
		} else if (r != TD_ERR_LIMIT || out.len != before)
			abort();
		if (r == TD_ERR_LIMIT)
			td_buf_reset(&out);
	}
	td_buf_free(&out);
 out:
	mapper_free(m);
	td_conf_free(c);
	x_free(errs);
	x_free(err);
	unlink(path);
	for (r = 0; r < 2; r++) {
		if (tab[r] != NULL)
			unlink(tab[r]);
		x_free(tab[r]);
	}
	return 0;
}
