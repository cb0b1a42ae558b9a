/*
 * bench-ledger.c - `make bench`: the cost per record of the Tier 4
 * ledger lookup with a large record_key ledger (default 10 M keys, 7
 * years of a large retailer's store/item/week keys).
 *
 *   bench-ledger STATE_DIR [NKEYS [NLOOKUPS]]
 *
 * Fills STATE_DIR/state.db's record_keys with NKEYS keys (pseudo-random
 * 16-byte keys, as SHA-256 prefixes are, inserted in key order so the
 * fill is quick), then times ledger_check() -- the lookup in the ledger,
 * plus the entry of the key in the transmission's own keys, which is
 * what processing pays per record -- for NLOOKUPS records: half of them
 * keys of the ledger (duplicates and restatements), half new ones, in
 * random order. Prints the cost per record in microseconds and the goal
 * (2 us), in CPU time. A benchmark: it exits 0 whatever the result.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "td.h"
#include "buf.h"
#include "conf.h"
#include "fsutil.h"
#include "hash.h"
#include "store.h"
#include "ctx.h"
#include "map.h"
#include "ledger.h"

static uint64_t
rnd(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* key i of the ledger: i (big-endian, so in order) then a hash of it */
static void
key_of(uint64_t i, unsigned char k[TD_ID_LEN])
{
	uint64_t s = i, h = rnd(&s);
	int b;

	for (b = 0; b < 8; b++) {
		k[b] = (unsigned char)(i >> (56 - 8 * b));
		k[8 + b] = (unsigned char)(h >> (56 - 8 * b));
	}
}

/*
 * Record i of the run: half of them (at random) a key of the ledger,
 * each a different one, half a new key.
 */
static void
pick(uint64_t i, uint64_t *seed, uint64_t nkeys, unsigned char k[TD_ID_LEN])
{
	if (rnd(seed) & 1)
		key_of(i * 2654435761ULL % nkeys, k);
	else
		key_of(nkeys + i, k);
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
	uint64_t nkeys = 10000000, nlook = 1000000, i, seed = 42, have;
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
		s = store_prepare(x.st, "INSERT INTO record_keys(record_key, "
		    "values_hash, record_id, tx) VALUES (?, ?, ?, 1)");
		for (i = have; i < nkeys; i++) {
			unsigned char k[TD_ID_LEN];

			key_of(i, k);
			sqlite3_bind_blob(s, 1, k, TD_ID_LEN, SQLITE_TRANSIENT);
			sqlite3_bind_blob(s, 2, k, TD_ID_LEN, SQLITE_TRANSIENT);
			sqlite3_bind_blob(s, 3, k, TD_ID_LEN, SQLITE_TRANSIENT);
			if (store_step_done(x.st, s) != 0)
				return 1;
		}
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
		pick(i, &seed, nkeys, mr.record_key);
		sqlite3_bind_blob(s, 1, mr.record_key, TD_ID_LEN, SQLITE_STATIC);
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
		pick(i, &seed, nkeys, mr.record_key);
		memcpy(mr.values, mr.record_key, TD_ID_LEN);
		memcpy(mr.record_id, &i, sizeof(i));
		td_buf_reset(&line);
		if (td_buf_puts(&line, "{}") != 0 ||
		    ledger_check(l, &mr, &line, 0, &v) != 0) {
			fprintf(stderr, "bench-ledger: ledger_check failed at "
			    "record %llu\n", (unsigned long long)i);
			return 1;
		}
		hits += v.what == LEDGER_DUPLICATE;
	}
	t1 = now();
	printf("ledger: %llu records through ledger_check (%u already "
	    "delivered; with the file's own keys kept): %.2f us per record\n",
	    (unsigned long long)nlook, hits,
	    (t1 - t0) * 1e6 / (double)nlook);
	td_buf_free(&line);
	ledger_free(l);
	store_close(x.st);
	td_conf_free(c);
	x_free(conf);
	x_free(text);
	return 0;
}
