/*
 * bench-ledger.c - `make bench`: the cost per record of the Tier 4
 * ledger lookup with a large record_key ledger (default 10 M keys, 7
 * years of a large retailer's store/item/week keys).
 *
 *   bench-ledger STATE_DIR [NKEYS [NLOOKUPS]]
 *
 * STATE_DIR is best new (make bench makes one): a state.db of an older
 * build is migrated with its keys undated, and a lookup then costs two.
 *
 * Fills STATE_DIR/state.db's record_keys with NKEYS keys of 364 weeks
 * (pseudo-random 16-byte keys, as SHA-256 prefixes are, each under its
 * week's day as ledger.c keeps them, inserted in order so the fill is
 * quick), then times ledger_check() -- the lookup in the ledger, plus
 * the entry of the key in the transmission's own keys, which is what
 * processing pays per record -- for NLOOKUPS records: half of them keys
 * of the ledger (duplicates and restatements), half new ones of the
 * week after, in random order. Prints the cost per record in
 * microseconds and the goal (2 us), in CPU time. Then the commit of the
 * new keys (ledger_commit, in the transaction that records a file
 * parsed): its WAL bytes per key, held to < 200 (the key's own room and
 * the B-tree's, not a page: a ledger keyed by the hash alone wrote most
 * of its pages again for every large file), and its time. A benchmark:
 * it exits 0 whatever the result. Last, the cost per record of a file
 * whose records are all of a day the ledger has no key of, as a new
 * week's are (ledger_check asks about the day once, and looks up none).
 */
#include "config.h"

#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "td.h"
#include "testutil.h"
#include "buf.h"
#include "conf.h"
#include "fsutil.h"
#include "hash.h"
#include "store.h"
#include "ctx.h"
#include "map.h"
#include "ledger.h"

/* key i of the ledger: 16 pseudo-random bytes, as a SHA-256 prefix is */
static void
key_of(uint64_t i, unsigned char k[TD_ID_LEN])
{
	uint64_t s = i, h = tu_rnd(&s), g = tu_rnd(&s);
	int b;

	for (b = 0; b < 8; b++) {
		k[b] = (unsigned char)(h >> (56 - 8 * b));
		k[8 + b] = (unsigned char)(g >> (56 - 8 * b));
	}
}

static int
keycmp(const void *a, const void *b)
{
	return memcmp(a, b, 4 + TD_ID_LEN);
}

#define WEEKS		364
#define DAY0		18235	/* 2019-12-05, a Thursday */

/* the day key i is kept under: of week i / per, the week after for new */
static uint32_t
kday_of(uint64_t i, uint64_t nkeys)
{
	uint64_t per = (nkeys + WEEKS - 1) / WEEKS, w = i / (per ? per : 1);

	if (i >= nkeys)
		w = WEEKS;
	return MAP_KDAY(DAY0 + 7 * (int32_t)w);
}

/* the key of record_keys of key i, as ledger.c's lkey() makes it */
static void
lkey_of(uint64_t i, uint64_t nkeys, unsigned char k[4 + TD_ID_LEN])
{
	uint32_t d = kday_of(i, nkeys);
	int b;

	for (b = 0; b < 4; b++)
		k[b] = (unsigned char)(d >> (24 - 8 * b));
	key_of(i, k + 4);
}

/*
 * Record i of the run: half of them (at random) a key of the ledger,
 * each a different one, half a new key.
 */
static void
pick(uint64_t i, uint64_t *seed, uint64_t nkeys, struct map_result *mr)
{
	uint64_t j = tu_rnd(seed) & 1 ? i * 2654435761ULL % nkeys : nkeys + i;

	key_of(j, mr->record_key);
	mr->kday = kday_of(j, nkeys);
}

/* Record i (its key and day in mr) through ledger_check: 0, or 1. */
static int
check(struct ledger *l, struct map_result *mr, uint64_t i,
    struct td_buf *line, struct ledger_verdict *v)
{
	memcpy(mr->values, mr->record_key, TD_ID_LEN);
	memcpy(mr->record_id, &i, sizeof(i));
	td_buf_reset(line);
	if (td_buf_puts(line, "{}") == 0 &&
	    ledger_check(l, mr, line, 0, v) == 0)
		return 0;
	fprintf(stderr, "bench-ledger: ledger_check failed at record %llu\n",
	    (unsigned long long)i);
	return 1;
}

static long long
file_size(const char *dir, const char *name)
{
	struct stat sb;
	char *p = xasprintf("%s/%s", dir, name);
	long long n = stat(p, &sb) == 0 ? (long long)sb.st_size : 0;

	x_free(p);
	return n;
}

/* The wall clock, for the commit: its syncs are its cost too. */
static double
wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * CPU time of the process (user and system): on a shared machine the
 * wall clock measures the neighbours too. Page faults of the memory map
 * are system time, so reading the ledger from the page cache counts.
 */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	struct td_ctx x;
	struct td_conf *c;
	struct ledger *l;
	struct map_result mr;
	struct ledger_verdict v;
	struct td_buf line;
	sqlite3_stmt *s;
	char *conf, *text, *err = NULL;
	uint64_t nkeys = 10000000, nlook = 1000000, i, j, seed = 42, have;
	uint64_t per, nw;
	unsigned char *wk;
	int64_t n;
	double t0, t1;
	unsigned hits = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: bench-ledger STATE_DIR [NKEYS "
		    "[NLOOKUPS]]\n");
		return 2;
	}
	if (argc > 2)
		nkeys = strtoull(argv[2], NULL, 10);
	if (argc > 3)
		nlook = strtoull(argv[3], NULL, 10);
	if (nkeys == 0 || nlook == 0) {
		fprintf(stderr, "bench-ledger: NKEYS and NLOOKUPS must be "
		    "at least 1\n");
		return 2;
	}
	memset(&x, 0, sizeof(x));
	if (td_mkdirs(argv[1], 0750) != 0)
		return 1;
	conf = xasprintf("%s/bench.conf", argv[1]);
	text = xasprintf("[integration]\nname = bench\nstate_dir = %s\n"
	    "[map]\nstore_id = column 1\ngtin = column 2 gtin\n"
	    "txn_date = column 3 date \"%%Y-%%m-%%d\"\n"
	    "quantity = column 4 decimal\n", argv[1]);
	if (td_write_file_atomic(conf, text, strlen(text)) != 0 ||
	    td_conf_load(conf, &c, &err) != 0) {
		fprintf(stderr, "bench-ledger: %s\n", err ? err : conf);
		return 1;
	}
	x.conf = c;
	x.state_dir = argv[1];	/* where the ledger's runs file is made */
	if (store_open(argv[1], 0, &x.st, &err) != 0) {
		fprintf(stderr, "bench-ledger: %s\n", err);
		return 1;
	}
	if (store_query_int(x.st, "SELECT count(*) FROM record_keys", 0,
	    &n) != 0)
		return 1;
	have = (uint64_t)n;
	if (have < nkeys) {
		printf("ledger: filling %llu keys ...\n",
		    (unsigned long long)(nkeys - have));
		fflush(stdout);
		t0 = now();
		if (store_begin(x.st) != 0)
			return 1;
		s = store_prepare(x.st, "INSERT OR IGNORE INTO record_keys(record_key, "
		    "values_hash, record_id, tx) VALUES (?, ?, ?, 1)");
		/* a week at a time, each sorted: in the B-tree's order */
		per = (nkeys + WEEKS - 1) / WEEKS;
		wk = xreallocarray(NULL, per, 4 + TD_ID_LEN);
		for (i = have - have % per; i < nkeys; i += nw) {
			nw = nkeys - i < per ? nkeys - i : per;
			for (j = 0; j < nw; j++)
				lkey_of(i + j, nkeys, wk + j * (4 + TD_ID_LEN));
			qsort(wk, nw, 4 + TD_ID_LEN, keycmp);
			for (j = 0; j < nw; j++) {
				unsigned char *k = wk + j * (4 + TD_ID_LEN);

				sqlite3_bind_blob(s, 1, k, 4 + TD_ID_LEN,
				    SQLITE_STATIC);
				sqlite3_bind_blob(s, 2, k + 4, TD_ID_LEN,
				    SQLITE_STATIC);
				sqlite3_bind_blob(s, 3, k + 4, TD_ID_LEN,
				    SQLITE_STATIC);
				if (store_step_done(x.st, s) != 0)
					return 1;
			}
		}
		x_free(wk);
		if (store_commit(x.st) != 0)
			return 1;
		printf("ledger: filled in %.1f s\n", now() - t0);
	}
	/* as a run finds it: the fill checkpointed */
	(void)store_exec(x.st, "PRAGMA wal_checkpoint(TRUNCATE)");
	if (ledger_open(&x, &l) != 0)
		return 1;
	memset(&mr, 0, sizeof(mr));
	/* warm the page cache, as a long-running daemon's is */
	(void)store_query_int(x.st, "SELECT count(*) FROM record_keys", 0, &n);
	/* the index lookup alone: the statement ledger_check runs */
	s = store_prepare(x.st, "SELECT values_hash = ?2, "
	    "lower(hex(record_id)) FROM record_keys WHERE record_key = ?1");
	(void)store_exec(x.st, "BEGIN");	/* as ledger_check does */
	t0 = now();
	for (i = 0; i < nlook; i++) {
		unsigned char k[4 + TD_ID_LEN];

		pick(i, &seed, nkeys, &mr);
		lkey_of(i * 2654435761ULL % nkeys, nkeys, k);
		if (memcmp(k + 4, mr.record_key, TD_ID_LEN) != 0)
			lkey_of(nkeys + i, nkeys, k);
		sqlite3_bind_blob(s, 1, k, (int)sizeof(k), SQLITE_TRANSIENT);
		sqlite3_bind_blob(s, 2, mr.record_key, TD_ID_LEN, SQLITE_STATIC);
		hits += sqlite3_step(s) == SQLITE_ROW;
		sqlite3_reset(s);
	}
	t1 = now();
	(void)store_exec(x.st, "COMMIT");
	printf("ledger: %llu keys, %llu index lookups (%u found): %.2f us "
	    "per lookup (goal < 2 us: %s)\n", (unsigned long long)nkeys,
	    (unsigned long long)nlook, hits, (t1 - t0) * 1e6 / (double)nlook,
	    (t1 - t0) * 1e6 / (double)nlook < 2.0 ? "met" : "MISSED");
	hits = 0;
	seed = 42;
	td_buf_init(&line, 64, 4096);
	t0 = now();
	for (i = 0; i < nlook; i++) {
		pick(i, &seed, nkeys, &mr);
		if (check(l, &mr, i, &line, &v) != 0)
			return 1;
		hits += v.what == LEDGER_DUPLICATE;
	}
	t1 = now();
	printf("ledger: %llu records through ledger_check (%u already "
	    "delivered; with the file's own keys kept): %.2f us per record\n",
	    (unsigned long long)nlook, hits,
	    (t1 - t0) * 1e6 / (double)nlook);
	td_buf_free(&line);
	/* the commit of the file's new keys, after its row */
	if (ledger_end(l) != 0 || store_exec(x.st, "PRAGMA "
	    "wal_checkpoint(TRUNCATE)") != 0 || store_begin(x.st) != 0 ||
	    store_exec(x.st, "INSERT OR REPLACE INTO transmissions(id, name, "
	    "size, received_at, archive_dir, state, updated_at) VALUES "
	    "('bench', 'bench', 0, 0, '', 'received', 0)") != 0)
		return 1;
	t0 = wall();
	if (ledger_commit(l, "bench") != 0 || store_commit(x.st) != 0) {
		fprintf(stderr, "bench-ledger: the commit failed\n");
		return 1;
	}
	t1 = wall();
	printf("ledger: commit of %llu new keys into %llu: %.1f MB of WAL, "
	    "%.0f bytes a key (goal < 200: %s), %.2f s\n",
	    (unsigned long long)(nlook - hits), (unsigned long long)nkeys,
	    (double)file_size(argv[1], "state.db-wal") / 1e6,
	    (double)file_size(argv[1], "state.db-wal") /
	    (double)(nlook - hits), (double)file_size(argv[1],
	    "state.db-wal") / (double)(nlook - hits) < 200 ? "met" : "MISSED",
	    t1 - t0);
	(void)store_exec(x.st, "DELETE FROM record_keys WHERE tx = (SELECT "
	    "seq FROM transmissions WHERE id = 'bench'); DELETE FROM "
	    "transmissions WHERE id = 'bench'");
	ledger_free(l);
	/* a new week's file: every record of a day with no key yet */
	if (ledger_open(&x, &l) != 0)
		return 1;
	td_buf_init(&line, 64, 4096);
	t0 = now();
	for (i = 0; i < nlook; i++) {
		key_of(2 * nkeys + i, mr.record_key);
		mr.kday = kday_of(nkeys, nkeys) + 7;
		if (check(l, &mr, i, &line, &v) != 0)
			return 1;
	}
	t1 = now();
	printf("ledger: %llu records of a day with no key in the ledger (a "
	    "new week's file) through ledger_check: %.2f us per record\n",
	    (unsigned long long)nlook, (t1 - t0) * 1e6 / (double)nlook);
	td_buf_free(&line);
	ledger_free(l);
	store_close(x.st);
	td_conf_free(c);
	x_free(conf);
	x_free(text);
	return 0;
}
