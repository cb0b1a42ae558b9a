/*
 * test-map.c - agent/map.c: field values made by hand mapped to records;
 * what a full output buffer and a field that is not UTF-8 each give,
 * alone and together; the source position under the key its format
 * names.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "td.h"
#include "buf.h"
#include "conf.h"
#include "hash.h"
#include "map.h"
#include "parser.h"
#include "../lib/tap.h"
#include "../lib/testutil.h"

static char tmpdir[] = "/tmp/test-map.XXXXXX";

#define TID	"0123456789abcdef0123456789abcdef" \
		"0123456789abcdef0123456789abcdef"

/* The field values of a NULL-terminated list of strings: how many. */
static size_t
mkrec(struct td_field *f, const char *const *v)
{
	size_t n;

	for (n = 0; v[n] != NULL; n++) {
		f[n].p = v[n];
		f[n].len = strlen(v[n]);
	}
	return n;
}

/* The mapper points into its configuration: keep it until the end. */
static struct td_conf *conf;

static struct mapper *
mapper(const char *maplines, const char **hdr, struct map_doc *doc)
{
	struct td_conf *c = conf = tu_conf(tmpdir, maplines);
	struct mapper *m = NULL;
	struct td_field f[16];
	size_t n;
	char *err = NULL, *why = NULL;

	if (c == NULL || mapper_new(c, &m, &err) != 0)
		td_fatal("mapper: %s", err ? err : "no configuration");
	n = mkrec(f, hdr);
	if (mapper_begin(m, doc, f, n, &why) != 0)
		td_fatal("mapper_begin: %s", why ? why : "?");
	return m;
}

#define MAP_ALL	"store_id = column \"Store\"\n" \
		"retailer_item_id = column \"Item\"\n" \
		"gtin = column \"UPC\" gtin\n" \
		"txn_date = column \"Date\" date \"%Y-%m-%d\"\n" \
		"quantity = column \"Units\" decimal\n" \
		"promo_code = column \"Promo\"\n"

static const char *hdr_all[] = { "Store", "Item", "UPC", "Date", "Units",
    "Promo", NULL };

/*
 * Map a row into out: mapper_map() returns want (a TD_ERR_*, 0, or 1 for
 * a rejection with code) and, unless it is 0, writes nothing.
 */
static void
is_map(struct mapper *m, const char **row, struct td_buf *out, int want,
    const char *code, const char *what)
{
	struct td_field f[16];
	struct map_result res;
	size_t before = out->len, n;
	int rc;

	n = mkrec(f, row);
	rc = mapper_map(m, f, n, 1, 2, out, &res);
	if (!ok(rc == want && (rc != 1 || strcmp(res.code, code) == 0),
	    "%s: %d %s", what, want, code ? code : ""))
		diag("  got %d %s", rc, rc == 1 ? res.code : "");
	if (want != 0)
		is_int(out->len, before, "%s: nothing written", what);
}

/* longer than a whole record: it cannot fit where it stands */
static char ITEM[1000];

/*
 * A full buffer is TD_ERR_LIMIT (the caller cuts a batch), never a
 * rejection of the row; a field that is not UTF-8 rejects the row.
 */
static void
test_errors(void)
{
	struct map_doc doc = { TID, "a.csv", NULL, 1, "line" };
	struct mapper *m = mapper(MAP_ALL, hdr_all, &doc);
	const char *good[] = { "1", "x", "041000001239", "2026-11-28", "2",
	    "p", NULL };
	const char *bad8[] = { "1", "x", "041000001239", "2026-11-28", "2",
	    "\xff", NULL };
	const char *full[] = { "1", ITEM, "041000001239", "2026-11-28",
	    "2", "p", NULL };
	const char *fullbad8[] = { "1", ITEM, "041000001239", "2026-11-28",
	    "2", "\xff", NULL };
	const char *bad8full[] = { "\xff", "x", "041000001239", "2026-11-28",
	    "2", ITEM, NULL };
	struct td_buf out;
	size_t one;

	memset(ITEM, 'i', sizeof(ITEM) - 1);
	td_buf_init(&out, 0, 0);
	is_map(m, good, &out, 0, NULL, "a good row");
	one = out.len;
	ok(one > 100 && one < sizeof(ITEM) && out.p[one - 1] == '\n',
	    "one record line (%zu bytes)", one);
	td_buf_free(&out);

	/* room for a record with a short item, not for a long one */
	td_buf_init(&out, 0, one + 20);
	is_map(m, bad8, &out, 1, "invalid_utf8", "a field not UTF-8");
	{
		struct td_field f[16];
		struct map_result res;

		(void)mapper_map(m, f, mkrec(f, bad8), 1, 2, &out, &res);
		is_str(res.msg, "promo_code (column \"Promo\"): \"\\xff\" is not valid UTF-8 "
		    "text (declare [decode] encoding)", "invalid_utf8 names "
		    "the field and shows the bytes");
	}
	is_map(m, full, &out, TD_ERR_LIMIT, NULL, "a record that does not fit");
	is_map(m, fullbad8, &out, TD_ERR_LIMIT, NULL, "a full buffer, then a "
	    "field not UTF-8");
	/* it used to be -5 | -3 = -1, reported as invalid_utf8 */
	is_map(m, bad8full, &out, TD_ERR_LIMIT, NULL, "a field not UTF-8, "
	    "then a full buffer");
	is_map(m, good, &out, 0, NULL, "the buffer still takes a good row");
	is_int(out.len, one, "the same record as before");
	td_buf_free(&out);
	mapper_free(m);
	td_conf_free(conf);
}

/* The record_id of the row mapped as ordinal of doc, or "". */
static void
record_id(struct mapper *m, const struct map_doc *doc, uint64_t ordinal,
    char id[65])
{
	const char *good[] = { "1", "x", "041000001239", "2026-11-28", "2",
	    "p", NULL };
	struct td_field f[16];
	struct map_result res;
	struct td_buf out;
	char *why = NULL;
	const char *p;
	size_t n;

	id[0] = '\0';
	n = mkrec(f, hdr_all);
	if (mapper_begin(m, doc, f, n, &why) != 0)
		td_fatal("mapper_begin: %s", why ? why : "?");
	td_buf_init(&out, 0, 0);
	n = mkrec(f, good);
	if (mapper_map(m, f, n, ordinal, 2, &out, &res) == 0 &&
	    (p = strstr(td_buf_cstr(&out), "\"record_id\":\"")) != NULL)
		snprintf(id, 65, "%.*s", (int)strcspn(p + 13, "\""), p + 13);
	td_buf_free(&out);
}

/*
 * record_id: the first 16 bytes of the SHA-256 of integration LF
 * transmission_id LF member LF
 * ordinal; a member name met again in the file adds NUL and its
 * occurrence after the name.
 */
static void
test_record_id(void)
{
	struct map_doc doc = { TID, "a.tar", "d/c.csv", 1, "line" };
	struct mapper *m = mapper(MAP_ALL, hdr_all, &doc);
	char got[65], want[TD_SHA256_HEX];
	static const char in1[] = "acme\n" TID "\nd/c.csv\n7";
	static const char in2[] = "acme\n" TID "\nd/c.csv\0" "2\n7";
	static const char in3[] = "acme\n" TID "\nd/c.csv\0" "12\n7";
	static const char in0[] = "acme\n" TID "\n\n7";

	record_id(m, &doc, 7, got);
	td_sha256_hex(in1, sizeof(in1) - 1, want);
	want[2 * TD_ID_LEN] = '\0';	/* the first 16 bytes */
	is_str(got, want, "record_id of the first d/c.csv: as always");
	doc.occurrence = 2;
	record_id(m, &doc, 7, got);
	td_sha256_hex(in2, sizeof(in2) - 1, want);
	want[2 * TD_ID_LEN] = '\0';	/* the first 16 bytes */
	is_str(got, want, "record_id of the second d/c.csv: NUL 2 after the "
	    "name");
	doc.occurrence = 12;
	record_id(m, &doc, 7, got);
	td_sha256_hex(in3, sizeof(in3) - 1, want);
	want[2 * TD_ID_LEN] = '\0';	/* the first 16 bytes */
	is_str(got, want, "record_id of the twelfth: NUL 12");
	doc.member = NULL;
	doc.occurrence = 1;
	record_id(m, &doc, 7, got);
	td_sha256_hex(in0, sizeof(in0) - 1, want);
	want[2 * TD_ID_LEN] = '\0';	/* the first 16 bytes */
	is_str(got, want, "record_id of a file that is not an archive: the "
	    "member is empty");
	mapper_free(m);
	td_conf_free(conf);
}

/* A mapped name that two columns have is refused; an unmapped one not. */
static void
test_ambiguous(void)
{
	static const struct {
		const char *hdr[9];	/* NULL-terminated */
		int rc;
		const char *why;
	} t[] = {
		{ { "Store", "Item", "UPC", "Date", "Units", "Promo", "Note",
		    "Note" }, 0, NULL },
		{ { "Store", "UPC", "Item", "UPC", "Date", "Units", "Promo",
		    NULL }, TD_ERR_EXISTS, "\"UPC\" (columns 2 and 4)" },
		{ { "Store", "UPC", "Item", " UPC ", "Date", "Units", "Promo",
		    "UPC" }, TD_ERR_EXISTS, "\"UPC\" (columns 2 and 4 and 8)" },
		{ { "Store", "UPC", "Item", "Date", "Units", "Promo", "Store",
		    "Date" }, TD_ERR_EXISTS, "\"Store\" (columns 1 and 7); "
		    "\"Date\" (columns 4 and 8)" },
		{ { "Store", "UPC", "UPC", "Date", "Units", NULL }, TD_ERR_FORMAT,
		    "\"Item\", \"Promo\"" },
	};
	struct map_doc doc = { TID, "a.csv", NULL, 1, "line" };
	struct mapper *m = mapper(MAP_ALL, hdr_all, &doc);
	struct td_field f[16];
	char *why;
	size_t i, n;
	int rc;

	for (i = 0; i < TD_NELEM(t); i++) {
		n = mkrec(f, t[i].hdr);
		rc = mapper_begin(m, &doc, f, n, &why);
		is_int(rc, t[i].rc, "header %zu: mapper_begin %d", i, t[i].rc);
		is_str(why, t[i].why, "header %zu: %s", i, t[i].why ?
		    t[i].why : "fine");
		x_free(why);
	}
	mapper_free(m);
	td_conf_free(conf);
}

/*
 * The source position goes under the key the document's format names
 * ("line" when none), with the value given; values by column number
 * need no header.
 */
static void
test_position(void)
{
	static const struct {
		const char *position, *want;
	} t[] = {
		{ "segment", "\"source\":{\"file\":\"a.edi\",\"member\":null,"
		    "\"segment\":9},\"store_id\":\"1\"" },
		{ "line", "\"member\":null,\"line\":9}," },
		{ NULL, "\"member\":null,\"line\":9}," },
	};
	const char *vals[] = { "1", "041000001239", "20261128", "2", NULL };
	struct map_doc doc = { TID, "a.edi", NULL, 1, NULL };
	struct td_conf *c = tu_conf(tmpdir, "store_id = column 1\n"
	    "gtin = column 2 gtin\ntxn_date = column 3 date \"%Y%m%d\"\n"
	    "quantity = column 4 decimal\n[parse]\nheader = no\n");
	struct mapper *m = NULL;
	struct map_result res;
	struct td_field f[8];
	struct td_buf out;
	char *err = NULL, *why = NULL;
	size_t i, n;

	if (c == NULL || mapper_new(c, &m, &err) != 0)
		td_fatal("mapper: %s", err ? err : "no configuration");
	n = mkrec(f, vals);
	for (i = 0; i < TD_NELEM(t); i++) {
		doc.position = t[i].position;
		is_int(mapper_begin(m, &doc, NULL, 0, &why), 0, "%s: bound "
		    "without a header", t[i].position ? t[i].position : "NULL");
		td_buf_init(&out, 0, 0);
		is_int(mapper_map(m, f, n, 1, 9, &out, &res), 0, "%s: mapped",
		    t[i].position ? t[i].position : "NULL");
		ok(strstr(td_buf_cstr(&out), t[i].want) != NULL, "%s: %s",
		    t[i].position ? t[i].position : "NULL", t[i].want);
		td_buf_free(&out);
	}
	mapper_free(m);
	td_conf_free(c);
}

/* The value of "name":"..." in the record line s, or "" (null). */
static void
field_of(const char *s, const char *name, char *out, size_t outsz)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "\"%s\":\"", name);
	out[0] = '\0';
	if ((p = strstr(s, key)) != NULL)
		snprintf(out, outsz, "%.*s", (int)strcspn(p + strlen(key),
		    "\""), p + strlen(key));
}

/*
 * Map one row of hdr_all's columns with a mapper of these [map] lines
 * (freed after): mapper_map()'s return, the record in out.
 */
static int
map_one(char *lines, const char *const *row, struct td_buf *out,
    struct map_result *res)
{
	struct map_doc doc = { TID, "a.csv", NULL, 1, "line" };
	struct td_field f[8];
	struct mapper *m = mapper(lines, hdr_all, &doc);
	int rc;

	td_buf_init(out, 0, 0);
	rc = mapper_map(m, f, mkrec(f, row), 1, 2, out, res);
	mapper_free(m);
	td_conf_free(conf);
	x_free(lines);
	return rc;
}

/*
 * gtin after a transform that leaves the value in the field's scratch
 * buffer (upper, regex): the code is read whole, not overwritten while
 * it is normalised (every row was gtin_not_digits, or a wrong GTIN was
 * delivered: U12345670 as 00000000000000).
 */
static void
test_gtin_after_scratch(void)
{
	static const struct {
		const char *map, *upc, *want;
	} t[] = {
		{ "upper gtin", "041000001239", "00041000001239" },
		{ "upper gtin", "12345670", "00000012345670" },
		{ "regex \"^U?([0-9]+)$\" gtin", "041000001239",
		    "00041000001239" },
		{ "regex \"^U?([0-9]+)$\" gtin", "U12345670",
		    "00000012345670" },
		{ "regex \"^U?([0-9]+)$\" gtin", "U041000001239",
		    "00041000001239" },
		{ "regex \"^U?([0-9]+)$\" gtin nocheck", "U04100000123",
		    "00041000001239" },
		{ "regex \"^U?([0-9]+)$\" gtin upce", "U04252614",
		    "00042100005264" },
	};
	struct map_result res;
	struct td_buf out;
	char got[32];
	size_t i;
	int rc;

	for (i = 0; i < TD_NELEM(t); i++) {
		const char *row[] = { "1", "x", t[i].upc, "2026-11-28", "2",
		    "p", NULL };

		rc = map_one(xasprintf("store_id = column \"Store\"\n"
		    "gtin = column \"UPC\" %s\n"
		    "txn_date = column \"Date\" date \"%%Y-%%m-%%d\"\n"
		    "quantity = column \"Units\" decimal\n", t[i].map), row,
		    &out, &res);
		if (!ok(rc == 0, "%s %s: mapped", t[i].map, t[i].upc))
			diag("  got %d %s", rc, rc == 1 ? res.msg : "");
		field_of(td_buf_cstr(&out), "gtin", got, sizeof(got));
		if (!ok(strcmp(got, t[i].want) == 0, "%s %s: gtin %s",
		    t[i].map, t[i].upc, t[i].want))
			diag("  got gtin \"%s\"", got);
		td_buf_free(&out);
	}
}

/*
 * upper on a value longer than the field's scratch buffer (max_field + 64:
 * a default, a constant or a table's value may be longer) gives it whole,
 * in capitals: it was cut at the buffer's size. ASCII letters only: the
 * UTF-8 bytes of é, ß and € stay as they are, also under a Latin-1
 * LC_CTYPE (main() falls back to the environment's locale without
 * C.UTF-8), where toupper() makes 0xE2, the first byte of €, 0xC2.
 */
static void
upper_long(const char *where)
{
	const char *row[] = { "1", "x", "041000001239", "2026-11-28", "2", "",
	    NULL };
	static const char tail[] = "\xc3\xa9-\xc3\x9f-\xe2\x82\xac";
	struct map_result res;
	struct td_buf out;
	char def[301], want[301], got[400];
	int rc;

	memset(def, 'a', 200);
	memcpy(def + 200, tail, sizeof(tail));
	memset(want, 'A', 200);
	memcpy(want + 200, tail, sizeof(tail));
	rc = map_one(xasprintf("%s[parse]\nmax_field = 16\n[map]\n"
	    "txn_ref = column \"Promo\" default \"%s\" upper\n", MAP_ALL, def),
	    row, &out, &res);
	field_of(td_buf_cstr(&out), "txn_ref", got, sizeof(got));
	if (!ok(rc == 0 && strcmp(got, want) == 0, "upper of a 210-byte "
	    "default with max_field 16 (%s): whole, ASCII letters in capitals",
	    where))
		diag("  got %d \"%s\"", rc, rc == 1 ? res.msg : got);
	td_buf_free(&out);
}

static void
test_upper_long(void)
{
	static const char latin1[] = "en_US.ISO-8859-1";
	char *was = xstrdup(setlocale(LC_CTYPE, NULL));

	upper_long(was);
	/* ./bootstrap makes it (localedef) when run as root */
	if (setlocale(LC_CTYPE, latin1) == NULL || toupper(0xe2) != 0xc2)
		printf("ok %d - # SKIP upper under %s: no such locale "
		    "here\n", ++tap_n, latin1);
	else
		upper_long(latin1);
	setlocale(LC_CTYPE, was);
	x_free(was);
}

/*
 * A week that would leave the years 1900 to 9999 rejects its row
 * (bad_date): its txn_date or period_start used to be written as
 * "0000-00-00". The last and first whole weeks are still mapped.
 */
static void
test_week_bounds(void)
{
	static const struct {
		const char *period, *date, *code, *txn, *pstart, *msg;
	} t[] = {
		{ "week_starting", "9999-12-25", NULL, "9999-12-31",
		    "9999-12-25", NULL },
		{ "week_starting", "9999-12-26", "bad_date", NULL, NULL,
		    "txn_date (column \"Date\"): the week starting 9999-12-26 ends after "
		    "9999-12-31 (years 1900 to 9999 are valid)" },
		{ "week_starting", "9999-12-31", "bad_date", NULL, NULL, NULL },
		{ "week_ending", "1900-01-07", NULL, "1900-01-07",
		    "1900-01-01", NULL },
		{ "week_ending", "1900-01-06", "bad_date", NULL, NULL,
		    "txn_date (column \"Date\"): the week ending 1900-01-06 starts before "
		    "1900-01-01 (years 1900 to 9999 are valid)" },
		{ "week_ending", "1900-01-01", "bad_date", NULL, NULL, NULL },
		{ "day", "9999-12-31", NULL, "9999-12-31", "", NULL },
		{ "day", "1900-01-01", NULL, "1900-01-01", "", NULL },
	};
	size_t i;
	int rc;
	char got[32];
	struct td_buf out;
	struct map_result res;

	for (i = 0; i < TD_NELEM(t); i++) {
		const char *row[] = { "1", "x", "041000001239", t[i].date, "2",
		    "p", NULL };

		rc = map_one(xasprintf("%speriod = %s\n[calendar]\n"
		    "type = 454\n", MAP_ALL, t[i].period), row, &out, &res);
		if (t[i].code != NULL) {
			ok(rc == 1 && strcmp(res.code, t[i].code) == 0,
			    "%s %s: rejected, %s", t[i].period, t[i].date,
			    t[i].code);
			if (t[i].msg != NULL && !ok(rc == 1 &&
			    strcmp(res.msg, t[i].msg) == 0, "%s %s: the "
			    "message says why", t[i].period, t[i].date))
				diag("  got \"%s\"", rc == 1 ? res.msg : "");
			ok(out.len == 0, "%s %s: no record", t[i].period,
			    t[i].date);
		} else {
			if (!ok(rc == 0, "%s %s: mapped", t[i].period,
			    t[i].date))
				diag("  got %d %s", rc, rc == 1 ? res.msg : "");
			field_of(td_buf_cstr(&out), "txn_date", got,
			    sizeof(got));
			if (!ok(strcmp(got, t[i].txn) == 0, "%s %s: txn_date "
			    "%s", t[i].period, t[i].date, t[i].txn))
				diag("  got \"%s\"", got);
			field_of(td_buf_cstr(&out), "period_start", got,
			    sizeof(got));
			if (!ok(strcmp(got, t[i].pstart) == 0, "%s %s: "
			    "period_start %s", t[i].period, t[i].date,
			    t[i].pstart))
				diag("  got \"%s\"", got);
		}
		td_buf_free(&out);
	}
}

/*
 * A regex reads at most 1024 bytes of a value: glibc's regexec() takes
 * time quadratic in the value for a common unanchored pattern (60000
 * digits took 15 s a row), so a longer value is refused at once.
 */
static void
test_regex_bounded(void)
{
	static char big[60001], edge[1025];
	const char *row[] = { "1", big, "041000001239", "2026-11-28", "2",
	    "p", NULL };
	struct map_result res;
	struct td_buf out;
	struct timespec t0, t1;
	char want[256], got[80];
	int rc;

	memset(big, '1', sizeof(big) - 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = map_one(xasprintf("%stxn_ref = column \"Item\" regex "
	    "\"([0-9]+)\\\\.([0-9]+)\" 2\n", MAP_ALL), row, &out, &res);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	snprintf(want, sizeof(want), "txn_ref (column \"Item\"): \"%s\" has 60000 bytes, "
	    "more than the 1024 a regex reads", mapper_shown(big, 60000, got,
	    sizeof(got)));
	if (!ok(rc == 1 && strcmp(res.code, "regex_no_match") == 0 &&
	    strcmp(res.msg, want) == 0, "60000 digits: regex_no_match, the "
	    "length and the bound") && rc == 1)
		diag("  %s", res.msg);
	ok(t1.tv_sec - t0.tv_sec < tu_time_limit(3), "... at once (%lld s)",
	    (long long)(t1.tv_sec - t0.tv_sec));
	td_buf_free(&out);

	memset(edge, '1', sizeof(edge) - 1);
	edge[1000] = '.';
	row[1] = edge;
	rc = map_one(xasprintf("%stxn_ref = column \"Item\" regex "
	    "\"([0-9]+)\\\\.([0-9]+)\" 2\n", MAP_ALL), row, &out, &res);
	field_of(td_buf_cstr(&out), "txn_ref", got, sizeof(got));
	if (!ok(rc == 0 && strcmp(got, "11111111111111111111111") == 0,
	    "1024 bytes are matched: group 2 is the 23 digits after the "
	    "point"))
		diag("  got %d %s", rc, rc == 1 ? res.msg : got);
	td_buf_free(&out);
}

/*
 * Binding a document frees what it allocated: mapper_begin() kept the
 * buffer of ambiguous names of every document (65 bytes a file, for the
 * life of the daemon).
 */
static void
test_begin_frees(void)
{
	struct map_doc doc = { TID, "a.csv", NULL, 1, "line" };
	struct mapper *m = mapper(MAP_ALL, hdr_all, &doc);
	struct td_field f[16];
	struct mallinfo2 a, b;
	char *why;
	size_t n = mkrec(f, hdr_all), i;
	int bad = 0;

	a = mallinfo2();
	for (i = 0; i < 20000; i++) {
		bad |= mapper_begin(m, &doc, f, n, &why) != 0;
		x_free(why);
	}
	b = mallinfo2();
	ok(!bad, "20000 documents bound");
	if (!ok(b.uordblks < a.uordblks + 65536, "... in the memory of one "
	    "(%zu bytes more)", b.uordblks - a.uordblks))
		diag("  %zu bytes in use before, %zu after", a.uordblks,
		    b.uordblks);
	mapper_free(m);
	td_conf_free(conf);
}

/*
 * A discount per unit of a quantity with many decimals (as exports of
 * floating-point numbers write them): the exact product has more than
 * 18 decimals, and discount_amount was null; it is rounded once to the
 * currency. (amount is a const 19.99 here: X2 takes 10% of it.)
 */
static void
test_discount_decimals(void)
{
	static const struct {
		const char *qty, *promo, *want;
	} t[] = {
		{ "0.30000000000000001", "X1", "0.04" },
		{ "0.333333333333333333", "X1", "0.04" },
		{ "-0.30000000000000001", "X1", "-0.04" },
		{ "2", "X2", "2.00" },
		{ "3", "X1", "0.38" },
	};
	struct map_result res;
	struct td_buf out;
	char got[32];
	size_t i;
	int rc;

	if (tu_sh(tmpdir, "printf 'promo_code,promo_id,promo_type,discount\\n"
	    "X1,P-1,tpr,0.125\\nX2,P-2,tpr,10%%%%\\n' > promos.csv") != 0)
		td_fatal("promos.csv");
	for (i = 0; i < TD_NELEM(t); i++) {
		const char *row[] = { "1", "x", "041000001239", "2026-11-28",
		    t[i].qty, t[i].promo, NULL };

		rc = map_one(xasprintf("%samount = const \"19.99\" decimal\n"
		    "promo_file = %s/promos.csv\n", MAP_ALL, tmpdir), row, &out,
		    &res);
		field_of(td_buf_cstr(&out), "discount_amount", got,
		    sizeof(got));
		if (!ok(rc == 0 && strcmp(got, t[i].want) == 0, "%s of %s: "
		    "discount_amount %s", t[i].promo, t[i].qty, t[i].want))
			diag("  got %d \"%s\" %s", rc, got, rc == 1 ?
			    res.msg : "");
		td_buf_free(&out);
	}
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL)
		td_fatal("mkdtemp: %s", strerror(errno));
	test_errors();
	test_record_id();
	test_ambiguous();
	test_position();
	test_gtin_after_scratch();
	test_upper_long();
	test_week_bounds();
	test_regex_bounded();
	test_begin_frees();
	test_discount_decimals();
	if (getenv("TD_KEEP_TMP") == NULL)
		tu_sh("/", "rm -rf '%s'", tmpdir);
	return done_testing();
}
