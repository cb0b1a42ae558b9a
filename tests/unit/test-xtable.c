/*
 * test-xtable.c - agent/xtable.c: the tables of [map] load and answer
 * in time that grows with their size, whatever their keys: a table of
 * keys chosen to collide under the unkeyed hash it had (FNV-1a), and
 * one key with a row for each of many days. A table of a header alone
 * loads, with no rows.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "td.h"
#include "date.h"
#include "xtable.h"
#include "../lib/tap.h"
#include "../lib/testutil.h"

static char tmpdir[] = "/tmp/test-xtable.XXXXXX";

#define NKEYS	300000
#define NDAYS	300000

/* Seconds since t0 (0: now, to start from). */
static double
since(double t0)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9 - t0;
}

/* A table file with its header line written. */
static FILE *
table(const char *path, const char *header)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		td_fatal("%s: %s", path, strerror(errno));
	fprintf(f, "%s\n", header);
	return f;
}

static uint64_t
fnv1a(const char *p, size_t n)
{
	uint64_t h = 14695981039346656037ULL;

	while (n-- > 0)
		h = (h ^ (unsigned char)*p++) * 1099511628211ULL;
	return h;
}

static struct xtable *
load(const char *path)
{
	struct xtable *t = NULL;
	char *err = NULL;

	if (xtable_load(XT_CROSSWALK, path, &t, &err) != 0)
		td_fatal("%s", err);
	return t;
}

/*
 * NKEYS keys whose FNV-1a all fall in the first quarter of the slots a
 * table of NKEYS keys has (2^20): one cluster, quadratic to build with
 * an unkeyed hash (about 40 s); with a random key an ordinary table.
 */
static void
test_flood(void)
{
	char *path = xasprintf("%s/flood.csv", tmpdir), key[32];
	const uint64_t quarter = (1u << 20) / 4;
	const struct xt_row *r;
	struct xtable *t;
	uint64_t i, k;
	double t0;
	FILE *f = table(path, "retailer_item_id,gtin");
	int bad = 0;

	for (i = 0, k = 0; k < NKEYS; i++) {
		int n = snprintf(key, sizeof(key), "P%llu",
		    (unsigned long long)i);

		if ((fnv1a(key, (size_t)n) & ((1u << 20) - 1)) < quarter) {
			fprintf(f, "%s,%s\n", key, k % 2 ? "041000001239" :
			    "00012345678905");
			k++;
		}
	}
	fclose(f);
	t0 = since(0);
	t = load(path);
	ok(since(t0) < tu_time_limit(10), "%d keys that collide under FNV-1a "
	    "load in seconds (%.1f s)", NKEYS, since(t0));
	is_int(xtable_rows(t), NKEYS, "... every row");
	t0 = since(0);
	for (i = 0, k = 0; k < NKEYS; i++) {
		int n = snprintf(key, sizeof(key), "P%llu",
		    (unsigned long long)i);

		if ((fnv1a(key, (size_t)n) & ((1u << 20) - 1)) >= quarter)
			continue;
		r = xtable_find(t, key, (size_t)n, 0);
		bad |= r == NULL || strcmp(r->v[0], k % 2 ?
		    "00041000001239" : "00012345678905") != 0;
		k++;
	}
	ok(!bad, "... each found, with its GTIN");
	ok(since(t0) < tu_time_limit(10), "... in seconds (%.1f s)", since(t0));
	ok(xtable_find(t, "P-1", 3, 0) == NULL, "a key not in it is not");
	xtable_free(t);
	x_free(path);
}

/*
 * One key with a row for every other day of NDAYS: a lookup finds the
 * day's row among NDAYS / 2 (it scanned them all: about 40 s for one
 * lookup a day), and a day between rows has none.
 */
static void
test_one_key(void)
{
	char *path = xasprintf("%s/days.csv", tmpdir), ds[TD_DATE_STRMAX];
	const struct xt_row *r;
	struct xtable *t;
	struct td_date d;
	int32_t day;
	double t0;
	FILE *f = table(path, "retailer_item_id,gtin,effective_from,"
	    "effective_to");
	int bad = 0;

	for (day = 0; day < NDAYS; day += 2) {
		td_date_from_days(day, &d);
		td_date_format(&d, ds);
		fprintf(f, "4011,%s,%s,%s\n", day % 4 ? "041000001239" :
		    "00012345678905", ds, ds);
	}
	fclose(f);
	t = load(path);
	is_int(xtable_rows(t), NDAYS / 2, "one key, %d dated rows", NDAYS / 2);
	t0 = since(0);
	for (day = -1; day <= NDAYS; day++) {
		r = xtable_find(t, "4011", 4, day);
		if (day < 0 || day >= NDAYS || day % 2)
			bad |= r != NULL;
		else
			bad |= r == NULL || strcmp(r->v[0], day % 4 ?
			    "00041000001239" : "00012345678905") != 0;
	}
	ok(!bad, "each day finds its row, the days between none");
	ok(since(t0) < tu_time_limit(10), "... in seconds (%.1f s)", since(t0));
	xtable_free(t);
	x_free(path);
}

/*
 * A header and no rows: a table with nothing in it, every key absent.
 * (Its empty row array was handed to qsort as NULL: UBSan stopped it.)
 */
static void
test_header_only(void)
{
	char *path = xasprintf("%s/empty.csv", tmpdir);
	struct xtable *t;

	fclose(table(path, "retailer_item_id,gtin"));
	t = load(path);
	is_int(xtable_rows(t), 0, "a table of a header alone loads, no rows");
	ok(xtable_find(t, "4011", 4, 0) == NULL, "... and finds no key");
	xtable_free(t);
	x_free(path);
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL)
		td_fatal("mkdtemp: %s", strerror(errno));
	test_header_only();
	test_flood();
	test_one_key();
	if (getenv("TD_KEEP_TMP") == NULL)
		tu_sh("/", "rm -rf '%s'", tmpdir);
	return done_testing();
}
