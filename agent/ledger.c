/*
 * ledger.c - Tier 4: the record_key ledger and held records. See ledger.h.
 */
#include "config.h"

#include <sys/types.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#include "td.h"
#include "clock.h"
#include "audit.h"
#include "buf.h"
#include "conf.h"
#include "date.h"
#include "decimal.h"
#include "failpoint.h"
#include "fsutil.h"
#include "json.h"
#include "log.h"
#include "store.h"
#include "ctx.h"
#include "map.h"
#include "outbox.h"
#include "deliver.h"
#include "tx.h"
#include "ledger.h"

/* the tail map.c writes on every record line */
#define TAIL_NULL	",\"restates\":null,\"mapping_version\":\""
#define TAIL_LEN	(sizeof(TAIL_NULL) - 1 + 64 + 3)
#define LEDGER_MMAP	"4294967296"	/* 4 GiB of address space */
#define LEDGER_CACHE	"-4096"		/* KiB: state.db's page cache */
#define LEDGER_TEMP_CACHE "-12288"	/* KiB: the temporary tables' */
/* bytes: the file's keys kept in memory, the rest in sorted runs */
#define LEDGER_RUN_BYTES ((size_t)8 << 20)
#define SPILL_SLICE	((size_t)256 << 10)	/* a run is written so */
#define COMMIT_ROWS	64	/* keys a statement enters into record_keys */
/*
 * A key in record_keys (schema 7): the day of the key, 4 bytes
 * big-endian (map.h's MAP_KDAY, MAP_KDAY_NONE when txn_date is not a key
 * field), then the record_key. The B-tree is in date order first: a
 * file's keys, mostly of a few recent days, go in beside each other at
 * the end, and a commit writes about as many pages as the keys take,
 * however many keys the ledger holds. Keyed by the hash alone, a file's
 * keys fell all over the B-tree and each commit rewrote most of its
 * pages (a 4.8 M-key ledger: 1.2 M keys more wrote 375 MB of WAL, 4.6 s;
 * by day: 84 MB, 1.3 s). Keys entered before schema 7 are the record_key
 * alone (LKEY_OLD bytes); meta's ledger_undated says there are some.
 */
#define LKEY_LEN	(4 + TD_ID_LEN)
#define LKEY_OLD	TD_ID_LEN
#define KDAY_RANKS	4096	/* distinct days sort_index() ranks */
#define DAY_SLOTS	2048	/* the days ledger_check() knows of, */
#define DAY_MAX		1024	/* at most this many at a time */

/*
 * The ledger's entry of one record of the file: the first esz bytes
 * (the sums only with [map] duplicates = sum).
 */
struct lent {
	unsigned char	 key[TD_ID_LEN];
	unsigned char	 values[TD_ID_LEN];
	unsigned char	 id[TD_ID_LEN];
	uint64_t	 seq;		/* the row's order in the pass */
	uint32_t	 kday;		/* map_result's */
	int16_t		 verdict;
	int16_t		 has_amount;
	struct td_dec	 q, a;		/* duplicates = sum */
};

/* A sorted run of entries in the runs' file. */
struct lrun {
	off_t		 off;
	size_t		 n;
};

struct ledger {
	struct td_ctx	*x;
	int		 forward;	/* on_restatement = forward */
	int		 sum;		/* [map] duplicates = sum */
	int		 pass2;		/* the file is read again */
	int		 again;		/* this pass met a key twice */
	int		 intx;		/* in its read transaction */
	int		 own;		/* begun by it, not its caller's */
	int		 undated;	/* record_keys has keys of before
					   schema 7 (LKEY_OLD bytes) */
	/* the keys of this pass's rows (pass 2: those on one row) */
	unsigned char	*ents;		/* nent of esz bytes, at most maxent */
	size_t		 esz, nent, cap, maxent;
	uint64_t	 seq;
	int		 fd;		/* the runs' unlinked file, or -1 */
	struct lrun	*runs;
	size_t		 nruns;
	off_t		 fend;
	/*
	 * The days of record_keys this read transaction has asked about
	 * (day_empty): a hash of day_k, day_v 0 for a free slot, 1 for a
	 * day with no key, 2 for a day with some.
	 */
	uint32_t	 day_k[DAY_SLOTS];
	unsigned char	 day_v[DAY_SLOTS];
	size_t		 ndays;
};

/* Forget the entries of the pass; the runs' file is emptied. */
static int
runs_clear(struct ledger *l)
{
	l->nent = 0;
	l->seq = 0;
	l->nruns = 0;
	l->fend = 0;
	if (l->fd != -1 && ftruncate(l->fd, 0) != 0)
		return TD_ERR_IO;
	return TD_OK;
}

static int
clear(struct ledger *l)
{
	return store_exec(l->x->st, "DELETE FROM temp.tx_keys;"
	    "DELETE FROM temp.tx_holds;");
}

/*
 * LEDGER_RUN_BYTES, or less: the tests lower it with the environment
 * variable TD_LEDGER_RUN_BYTES (bytes; at least one entry is kept) to
 * have a small file spill its keys into several runs (ledger-runs.sh,
 * run-failpoints.sh). It can only lower the bound, never raise it.
 */
static size_t
run_bytes(void)
{
	return (size_t)td_test_bound("TD_LEDGER_RUN_BYTES", LEDGER_RUN_BYTES);
}

/* Bytes i..i+7 of a key as a number in their order (memcmp's). */
static inline uint64_t
key64(const unsigned char *k, size_t i)
{
	uint64_t v;

	memcpy(&v, k + i, sizeof(v));
	return be64toh(v);
}

/* The key of record_keys for a record_key of day kday. */
static void
lkey(uint32_t kday, const unsigned char key[TD_ID_LEN],
    unsigned char out[LKEY_LEN])
{
	uint32_t be = htobe32(kday);

	memcpy(out, &be, sizeof(be));
	memcpy(out + sizeof(be), key, TD_ID_LEN);
}

/* 1 when record_keys has keys of before schema 7 (meta's ledger_undated). */
static int
ledger_undated(struct store *st)
{
	int64_t v = 0;

	(void)store_query_int(st, "SELECT count(*) FROM meta WHERE key = "
	    "'ledger_undated'", 0, &v);
	return v > 0;
}

/*
 * The row of record_keys for the key k (klen bytes: LKEY_LEN, or
 * LKEY_OLD for a hold's key of before schema 7), key being its
 * record_key: 1, *same set when its values_hash is values and its
 * record_id in restates (hex); 0 when there is none; TD_ERR_STATE. With
 * undated, a key entered before schema 7 (the record_key alone) is
 * looked up when the dated one is not there.
 */
static int
find_key(struct store *st, int undated, const unsigned char *k, size_t klen,
    const unsigned char key[TD_ID_LEN], const unsigned char values[TD_ID_LEN],
    int *same, char restates[TD_ID_HEX])
{
	sqlite3_stmt *s;
	int r, pass;

	*same = 0;
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			if (!undated || klen == LKEY_OLD)
				break;
			k = key;
			klen = LKEY_OLD;
		}
		/* the one lookup per record the ledger's speed is about */
		s = store_prepare(st, "SELECT values_hash = ?2, "
		    "lower(hex(record_id)) FROM record_keys WHERE "
		    "record_key = ?1");
		sqlite3_bind_blob(s, 1, k, (int)klen, SQLITE_STATIC);
		sqlite3_bind_blob(s, 2, values, TD_ID_LEN, SQLITE_STATIC);
		if ((r = sqlite3_step(s)) == SQLITE_ROW) {
			*same = sqlite3_column_int(s, 0);
			snprintf(restates, TD_ID_HEX, "%s",
			    (const char *)sqlite3_column_text(s, 1));
		}
		sqlite3_reset(s);
		if (r == SQLITE_ROW)
			return 1;
		if (r != SQLITE_DONE)
			return TD_ERR_STATE;
	}
	return 0;
}

/*
 * 1 when record_keys has no key of day kday, 0 when it has some, or
 * TD_ERR_STATE: then no record of that day can be in the ledger, and
 * ledger_check() need not look it up. A file's records are mostly of a
 * few days, and a new week's file mostly of days the ledger has not met
 * yet: one seek for each of its days, instead of a lookup for each of
 * its records (1.5 us each in a ledger of 10 M keys). Kept for the read
 * transaction the lookups are in (ledger_check); not asked of a ledger
 * with keys of before schema 7, which carry no day.
 */
static int
day_empty(struct ledger *l, uint32_t kday)
{
	sqlite3_stmt *s;
	unsigned char k[4];
	uint32_t be = htobe32(kday);
	size_t h = (size_t)((kday * 2654435761U) & (DAY_SLOTS - 1));
	int r, empty;

	while (l->day_v[h] != 0) {
		if (l->day_k[h] == kday)
			return l->day_v[h] == 1;
		h = (h + 1) & (DAY_SLOTS - 1);
	}
	memcpy(k, &be, sizeof(k));
	/* the first key at or after the day's: of the day, or not */
	s = store_prepare(l->x->st, "SELECT substr(record_key, 1, 4) = ?1 "
	    "FROM record_keys WHERE record_key >= ?1 ORDER BY record_key "
	    "LIMIT 1");
	sqlite3_bind_blob(s, 1, k, sizeof(k), SQLITE_STATIC);
	if ((r = sqlite3_step(s)) == SQLITE_ROW)
		empty = sqlite3_column_int(s, 0) == 0;
	else
		empty = 1;
	sqlite3_reset(s);
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		return TD_ERR_STATE;
	if (l->ndays < DAY_MAX) {
		l->day_k[h] = kday;
		l->day_v[h] = empty ? 1 : 2;
		l->ndays++;
	}
	return empty;
}

/* Forget the days day_empty() has asked about. */
static void
days_clear(struct ledger *l)
{
	memset(l->day_v, 0, sizeof(l->day_v));
	l->ndays = 0;
}

/*
 * The order of record_keys (the day of the key, then the key); for one
 * key, the order of the rows.
 */
static int
entcmp(const void *a, const void *b)
{
	const struct lent *x = a, *y = b;
	uint64_t u = key64(x->key, 0), v = key64(y->key, 0);

	if (x->kday != y->kday)
		return x->kday < y->kday ? -1 : 1;
	if (u == v) {
		u = key64(x->key, 8);
		v = key64(y->key, 8);
	}
	if (u != v)
		return u < v ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* A key's first 8 bytes and where the entry is, for sort_index(). */
struct kix {
	uint64_t	 k;
	size_t		 i;
};

static int
kixcmp(const void *a, const void *b, void *arg)
{
	const struct kix *x = a, *y = b;
	const struct ledger *l = arg;

	if (x->k != y->k)
		return x->k < y->k ? -1 : 1;
	return entcmp(l->ents + x->i * l->esz, l->ents + y->i * l->esz);
}

/*
 * Sort x in kixcmp() order: the keys are hashes, spread evenly, so a
 * counting pass on their first bits puts each in a bucket of about two,
 * and each bucket is then sorted alone (insertion when small, qsort_r
 * when a file repeats one key many times, so never quadratic).
 */
static void
kix_sort(struct kix *x, size_t n, const struct ledger *l)
{
	struct kix *t, v;
	size_t *cnt, nb = 1, i, j, k, b, e;
	unsigned shift = 64;

	while (nb < n / 2 && nb < 65536) {
		nb <<= 1;
		shift--;
	}
	cnt = xcalloc(nb + 1, sizeof(*cnt));
	t = xreallocarray(NULL, n, sizeof(*t));
	for (i = 0; i < n; i++)
		cnt[(shift == 64 ? 0 : x[i].k >> shift) + 1]++;
	for (b = 0; b < nb; b++)
		cnt[b + 1] += cnt[b];
	for (i = 0; i < n; i++)
		t[cnt[shift == 64 ? 0 : x[i].k >> shift]++] = x[i];
	/* cnt[b] is now the end of bucket b */
	for (b = 0, i = 0; b < nb; b++, i = e) {
		e = cnt[b];
		if (e - i > 16) {
			qsort_r(t + i, e - i, sizeof(*t), kixcmp, (void *)l);
			continue;
		}
		for (j = i + 1; j < e; j++) {
			v = t[j];
			for (k = j; k > i && kixcmp(&t[k - 1], &v,
			    (void *)l) > 0; k--)
				t[k] = t[k - 1];
			t[k] = v;
		}
	}
	memcpy(x, t, n * sizeof(*x));
	x_free(t);
	x_free(cnt);
}

static int
u32cmp(const void *a, const void *b)
{
	uint32_t u = *(const uint32_t *)a, v = *(const uint32_t *)b;

	return u < v ? -1 : u > v;
}

/*
 * The distinct days of the entries in memory, sorted, in *days (*n of
 * them; the caller frees): 0, or -1 when there are more than KDAY_RANKS
 * (nothing set). A file's rows come mostly in runs of one day: a day
 * like the row before's is not looked up again.
 */
static int
kday_ranks(const struct ledger *l, uint32_t **days, size_t *n)
{
	const struct lent *e;
	uint32_t *d, *tab, last = 0, v;
	size_t nd = 0, i, h, mask = 2 * KDAY_RANKS - 1;
	int has0 = 0;

	*days = NULL;
	*n = 0;
	d = xreallocarray(NULL, KDAY_RANKS, sizeof(*d));
	tab = xcalloc(mask + 1, sizeof(*tab));	/* 0: empty */
	for (i = 0; i < l->nent; i++) {
		e = (const struct lent *)(const void *)(l->ents + i * l->esz);
		if ((v = e->kday) == last && i > 0)
			continue;
		last = v;
		if (v == 0) {
			if (has0)
				continue;
			has0 = 1;
		} else {
			h = (size_t)((v * 2654435761u) & mask);
			while (tab[h] != 0 && tab[h] != v)
				h = (h + 1) & mask;
			if (tab[h] == v)
				continue;
			tab[h] = v;
		}
		if (nd == KDAY_RANKS) {
			x_free(tab);
			x_free(d);
			return -1;
		}
		d[nd++] = v;
	}
	x_free(tab);
	if (nd > 1)
		qsort(d, nd, sizeof(*d), u32cmp);
	*days = d;
	*n = nd;
	return 0;
}

/*
 * The sort key of entry p: entcmp()'s order on its first 64 bits, its
 * day's place in the top rb bits and the key's first bits below, so
 * that kix_sort()'s buckets split each day's keys evenly. The place is
 * the day's rank among the run's days (ndays > 0), or, past KDAY_RANKS
 * days, its distance from the first day, base (rb bits hold the range).
 */
static uint64_t
ent_k(const unsigned char *p, const uint32_t *days, size_t ndays,
    unsigned rb, uint32_t base)
{
	const struct lent *e = (const struct lent *)(const void *)p;
	size_t lo = 0, hi = ndays, mid;
	uint64_t k = key64(e->key, 0);

	if (rb == 0)
		return k;
	if (ndays == 0)
		return (uint64_t)(e->kday - base) << (64 - rb) | k >> rb;
	while (hi - lo > 1) {
		mid = (lo + hi) / 2;
		if (days[mid] <= e->kday)
			lo = mid;
		else
			hi = mid;
	}
	return (uint64_t)lo << (64 - rb) | k >> rb;
}

/*
 * The entries in memory in entcmp() order: x[j].i is the j-th (the
 * caller frees x), or NULL when there are fewer than two. The entries
 * are large (64 or 128 bytes): what is sorted is a small index of their
 * keys' first bytes (the keys are hashes: a tie is the same key).
 */
static struct kix *
sort_index(struct ledger *l)
{
	struct kix *x;
	size_t n = l->nent, esz = l->esz, i;
	uint32_t *days = NULL, lo = UINT32_MAX, hi = 0, d;
	size_t ndays = 0;
	unsigned rb = 0;

	if (n < 2)
		return NULL;
	x = xreallocarray(NULL, n, sizeof(*x));
	if (kday_ranks(l, &days, &ndays) == 0)
		while (((size_t)1 << rb) < ndays)
			rb++;
	else {
		/* more days than ranked: their distance from the first */
		for (i = 0; i < n; i++) {
			d = ((const struct lent *)(const void *)(l->ents +
			    i * esz))->kday;
			lo = d < lo ? d : lo;
			hi = d > hi ? d : hi;
		}
		while (rb < 32 && ((uint64_t)1 << rb) <= (uint64_t)(hi - lo))
			rb++;
	}
	for (i = 0; i < n; i++) {
		x[i].k = ent_k(l->ents + i * esz, days, ndays, rb, lo);
		x[i].i = i;
	}
	x_free(days);
	kix_sort(x, n, l);
	return x;
}

/* Sort the entries in memory: each moved once, in place, cycle by cycle. */
static void
sort_ents(struct ledger *l)
{
	unsigned char tmp[sizeof(struct lent)];
	struct kix *x;
	size_t n = l->nent, esz = l->esz, i, j, k;

	if ((x = sort_index(l)) == NULL)
		return;
	/* the entry at j is to be the one at x[j].i */
	for (i = 0; i < n; i++) {
		if (x[i].i == i || x[i].i == SIZE_MAX)
			continue;
		memcpy(tmp, l->ents + i * esz, esz);
		for (j = i;; j = k) {
			k = x[j].i;
			x[j].i = SIZE_MAX;
			if (k == i) {
				memcpy(l->ents + j * esz, tmp, esz);
				break;
			}
			memcpy(l->ents + j * esz, l->ents + k * esz, esz);
		}
	}
	x_free(x);
}

/*
 * The runs' file failed: say so, naming it, as the file's own failure
 * (processing_failed) only says what the error was.
 */
static void
spill_failed(const struct ledger *l, int err, const char *what)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "the Tier 4 ledger's sorted runs of the "
	    "file's keys, an unlinked file in state_dir: %s", what);
	td_log(TD_LOG_ERROR, "ledger_spill_failed", "dir=%s bytes=%lld "
	    "error=%s message=%s", l->x->state_dir, (long long)l->fend,
	    strerror(err), msg);
}

/* The runs' file: unlinked from the start, so a crash leaves nothing. */
static int
runs_file(struct ledger *l)
{
	char *p;
	int fd = -1;

#ifdef O_TMPFILE
	fd = open(l->x->state_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#endif
	if (fd == -1) {
		p = xasprintf("%s/ledger-runs.XXXXXX", l->x->state_dir);
		if ((fd = mkostemp(p, O_CLOEXEC)) != -1)
			(void)unlink(p);
		x_free(p);
	}
	if (fd == -1) {
		spill_failed(l, errno, "cannot create it");
		return errno == ENOSPC ? TD_ERR_NOSPACE : TD_ERR_IO;
	}
	l->fd = fd;
	return TD_OK;
}

/*
 * The entries in memory in x's order (as they are when x is NULL) to the
 * runs' file, a slice at a time: each gathered from where it is, not
 * first moved in place (cycle by cycle, one cache miss waiting on the
 * other) to be read again by write(2).
 */
static int
write_run(struct ledger *l, const struct kix *x)
{
	unsigned char *buf;
	size_t per = SPILL_SLICE / l->esz, i, k;
	int r = TD_OK;

	if (x == NULL)
		return td_write_all(l->fd, l->ents, l->nent * l->esz);
	buf = xreallocarray(NULL, per, l->esz);
	for (i = 0; i < l->nent && r == TD_OK; i += k) {
		for (k = 0; k < per && i + k < l->nent; k++)
			memcpy(buf + k * l->esz, l->ents + x[i + k].i * l->esz,
			    l->esz);
		r = td_write_all(l->fd, buf, k * l->esz);
	}
	x_free(buf);
	return r;
}

/* Sort the entries in memory and write them as a run. */
static int
spill(struct ledger *l)
{
	size_t n = l->nent * l->esz;
	struct kix *x;
	int r;

	if (l->fd == -1 && (r = runs_file(l)) != 0)
		return r;
	if (lseek(l->fd, l->fend, SEEK_SET) != l->fend) {
		spill_failed(l, errno, "cannot seek in it");
		return TD_ERR_IO;
	}
	x = sort_index(l);
	if ((r = write_run(l, x)) != 0) {
		spill_failed(l, r == TD_ERR_NOSPACE ? ENOSPC : errno,
		    "cannot write a run to it");
		x_free(x);
		return r == TD_ERR_NOSPACE ? r : TD_ERR_IO;
	}
	x_free(x);
	l->runs = xreallocarray(l->runs, l->nruns + 1, sizeof(*l->runs));
	l->runs[l->nruns].off = l->fend;
	l->runs[l->nruns++].n = l->nent;
	l->fend += (off_t)n;
	l->nent = 0;
	td_failpoint("ledger_spill");
	return TD_OK;
}

/* Note the key of a row of this pass, and what the ledger said of it. */
static int
append(struct ledger *l, const struct map_result *mr, int verdict)
{
	struct lent *e;
	int r;

	if (l->nent == l->maxent && (r = spill(l)) != 0)
		return r;
	if (l->nent == l->cap) {
		l->cap = l->cap == 0 ? 1024 : l->cap * 2;
		if (l->cap > l->maxent)
			l->cap = l->maxent;
		l->ents = xreallocarray(l->ents, l->cap, l->esz);
	}
	e = (struct lent *)(void *)(l->ents + l->nent++ * l->esz);
	memcpy(e->key, mr->record_key, TD_ID_LEN);
	memcpy(e->values, mr->values, TD_ID_LEN);
	memcpy(e->id, mr->record_id, TD_ID_LEN);
	e->seq = l->seq++;
	e->kday = mr->kday;
	e->verdict = (int16_t)verdict;
	e->has_amount = (int16_t)(mr->has_amount != 0);
	if (l->sum) {
		/* field by field: no padding or unset amount to the file */
		memset(&e->q, 0, sizeof(e->q));
		memset(&e->a, 0, sizeof(e->a));
		e->q.v = mr->quantity.v;
		e->q.scale = mr->quantity.scale;
		if (mr->has_amount) {
			e->a.v = mr->amount.v;
			e->a.scale = mr->amount.scale;
		}
	}
	return TD_OK;
}

/* One sorted source of a merge: a run, read a slice at a time. */
struct lsrc {
	unsigned char	*buf;
	size_t		 n, i;		/* entries in buf, the next one */
	size_t		 per, left;	/* a slice; entries still in the file */
	off_t		 off;
};

/* A k-way merge of the pass's runs (or of the sorted memory). */
struct lmerge {
	struct ledger	*l;
	struct lsrc	*src;
	size_t		 nsrc, *heap, nheap;
	unsigned char	*mem;
	int		 ahead;		/* cur is the next group's first */
	struct lent	 cur;
};

/* The entries of one key, in row order. */
struct lgroup {
	struct lent	 first;
	uint64_t	 n;
	/* duplicates = sum, n > 1: the sums, as tx_keys kept them */
	char		 q[TD_DEC_STRMAX], a[TD_DEC_STRMAX];
	int		 qnull, anull;
};

static int
src_fill(struct lmerge *m, struct lsrc *s)
{
	size_t k = s->left < s->per ? s->left : s->per, len, got = 0;
	ssize_t n;

	s->i = 0;
	s->n = 0;
	len = k * m->l->esz;
	while (got < len) {
		n = pread(m->l->fd, s->buf + got, len - got, s->off +
		    (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return TD_ERR_IO;
		got += (size_t)n;
	}
	s->off += (off_t)len;
	s->left -= k;
	s->n = k;
	return TD_OK;
}

static const struct lent *
src_ent(const struct lmerge *m, size_t i)
{
	const struct lsrc *s = &m->src[m->heap[i]];

	return (const struct lent *)(const void *)(s->buf + s->i * m->l->esz);
}

static void
sift_down(struct lmerge *m, size_t i)
{
	size_t c, t;

	for (;;) {
		c = 2 * i + 1;
		if (c >= m->nheap)
			return;
		if (c + 1 < m->nheap && entcmp(src_ent(m, c + 1),
		    src_ent(m, c)) < 0)
			c++;
		if (entcmp(src_ent(m, c), src_ent(m, i)) >= 0)
			return;
		t = m->heap[c];
		m->heap[c] = m->heap[i];
		m->heap[i] = t;
		i = c;
	}
}

static void
merge_close(struct lmerge *m)
{
	x_free(m->src);
	x_free(m->heap);
	x_free(m->mem);
}

/*
 * Start a merge of the entries of the pass. With no run written, the
 * memory is sorted and read; else the rest joins the runs, whose
 * slices share the memory the entries had.
 */
static int
merge_open(struct ledger *l, struct lmerge *m)
{
	size_t i, per;
	int r;

	memset(m, 0, sizeof(*m));
	m->l = l;
	if (l->nruns == 0) {
		sort_ents(l);
		m->src = xcalloc(1, sizeof(*m->src));
		m->src[0].buf = l->ents;
		m->src[0].n = l->nent;
		m->nsrc = 1;
	} else {
		if (l->nent > 0 && (r = spill(l)) != 0)
			return r;
		x_free(l->ents);
		l->ents = NULL;
		l->cap = 0;
		per = l->maxent / l->nruns;
		if (per == 0)
			per = 1;
		m->mem = xreallocarray(NULL, l->nruns * per, l->esz);
		m->src = xcalloc(l->nruns, sizeof(*m->src));
		m->nsrc = l->nruns;
		for (i = 0; i < l->nruns; i++) {
			m->src[i].buf = m->mem + i * per * l->esz;
			m->src[i].per = per;
			m->src[i].left = l->runs[i].n;
			m->src[i].off = l->runs[i].off;
			if ((r = src_fill(m, &m->src[i])) != 0) {
				merge_close(m);
				return r;
			}
		}
	}
	m->heap = xcalloc(m->nsrc, sizeof(*m->heap));
	for (i = 0; i < m->nsrc; i++)
		if (m->src[i].n > 0)
			m->heap[m->nheap++] = i;
	for (i = m->nheap / 2; i-- > 0; )
		sift_down(m, i);
	return TD_OK;
}

/* The next entry in m->cur: 1, 0 at the end, or an error. */
static int
merge_next(struct lmerge *m)
{
	struct lsrc *s;
	int r;

	if (m->nheap == 0)
		return 0;
	s = &m->src[m->heap[0]];
	memcpy(&m->cur, s->buf + s->i * m->l->esz, m->l->esz);
	if (++s->i == s->n && (r = src_fill(m, s)) != 0)
		return r;
	if (s->n == 0)
		m->heap[0] = m->heap[--m->nheap];
	sift_down(m, 0);
	return 1;
}

/*
 * duplicates = sum: add the quantity and amount of e to the sums of g,
 * as the ledger added a repeated row into tx_keys: the texts of the
 * sums so far parsed, e's values added; an overflow makes q null.
 */
static void
group_add(struct lgroup *g, const struct lent *e)
{
	struct td_dec q, a;
	int over = 0, has = e->has_amount;

	memset(&q, 0, sizeof(q));
	memset(&a, 0, sizeof(a));
	if (g->qnull || td_dec_parse(g->q, strlen(g->q), 0, &q) != 0)
		over = 1;	/* overflowed before */
	if (!g->anull) {
		has = 1;
		if (td_dec_parse(g->a, strlen(g->a), 0, &a) != 0)
			over = 1;
	}
	if (!over && (td_dec_add(&q, &e->q) != 0 ||
	    (e->has_amount && td_dec_add(&a, &e->a) != 0)))
		over = 1;
	if (!(g->qnull = over))
		td_dec_format(&q, g->q, sizeof(g->q));
	if (!(g->anull = !has))
		td_dec_format(&a, g->a, sizeof(g->a));
}

/* The next key of the merge in *g: 1, 0 at the end, or an error. */
static int
merge_group(struct lmerge *m, struct lgroup *g)
{
	struct ledger *l = m->l;
	int r;

	if (!m->ahead && (r = merge_next(m)) != 1)
		return r;
	m->ahead = 0;
	memcpy(&g->first, &m->cur, l->esz);
	g->n = 1;
	while ((r = merge_next(m)) == 1) {
		if (m->cur.kday != g->first.kday ||
		    memcmp(m->cur.key, g->first.key, TD_ID_LEN) != 0) {
			m->ahead = 1;
			return 1;
		}
		if (++g->n == 2 && l->sum) {
			/* the first row's values, as it entered tx_keys */
			td_dec_format(&g->first.q, g->q, sizeof(g->q));
			g->qnull = 0;
			if (!(g->anull = !g->first.has_amount))
				td_dec_format(&g->first.a, g->a, sizeof(g->a));
		}
		if (l->sum)
			group_add(g, &m->cur);
	}
	return r < 0 ? r : 1;
}

int
ledger_pass_end(struct ledger *l, int *again)
{
	struct lmerge m;
	struct lgroup g;
	unsigned char k[LKEY_LEN];
	sqlite3_stmt *s;
	int r;

	*again = 0;
	if (l == NULL || l->pass2)
		return TD_OK;	/* its repeated keys were known before it */
	if ((r = merge_open(l, &m)) != 0)
		return r;
	while ((r = merge_group(&m, &g)) == 1) {
		if (g.n < 2)
			continue;
		/* a key on more than one row: the file is read again */
		lkey(g.first.kday, g.first.key, k);
		s = store_prepare(l->x->st, "INSERT INTO temp.tx_keys("
		    "record_key, n, dup, values_hash, record_id, verdict, q, "
		    "a) VALUES (?, ?, 0, ?, ?, ?, ?, ?)");
		sqlite3_bind_blob(s, 1, k, LKEY_LEN, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)g.n);
		sqlite3_bind_blob(s, 3, g.first.values, TD_ID_LEN,
		    SQLITE_STATIC);
		sqlite3_bind_blob(s, 4, g.first.id, TD_ID_LEN, SQLITE_STATIC);
		sqlite3_bind_int(s, 5, g.first.verdict);
		if (l->sum && !g.qnull)
			sqlite3_bind_text(s, 6, g.q, -1, SQLITE_STATIC);
		if (l->sum && !g.anull)
			sqlite3_bind_text(s, 7, g.a, -1, SQLITE_STATIC);
		if ((r = store_step_done(l->x->st, s)) != 0)
			break;
		l->again = 1;
	}
	merge_close(&m);
	*again = ledger_wants_again(l);
	return r;
}

int
ledger_open(struct td_ctx *x, struct ledger **out)
{
	struct ledger *l;

	*out = NULL;
	/*
	 * One lookup per record in a ledger of tens of millions of keys
	 * (about 50 bytes each): read it through a memory map, not a read
	 * per page; pages read that way take no room in the page cache.
	 * Memory stays bounded whatever the size of the file (make bench,
	 * case F: <= 64 MiB): state.db's page cache holds what a commit
	 * writes (the file's keys go in in key order, so a small one
	 * serves). The file's own keys are not in SQLite: an entry a row
	 * (64 bytes, 128 with duplicates = sum) goes into an array of at
	 * most LEDGER_RUN_BYTES, written sorted as a run to an unlinked
	 * file in state_dir when full, and the runs are merged at the end
	 * of each pass (repeated keys) and by the commit. The temporary
	 * tables hold only the keys on more than one row and the held
	 * records, so their cache rarely fills. A 100 MB drop (1.2 M
	 * rows): the keys in a temporary table cost 16 CPU-s, 52 MiB of
	 * RSS; in runs 6.5 CPU-s, 51 MiB.
	 */
	if (store_exec(x->st, "PRAGMA mmap_size = " LEDGER_MMAP) != 0 ||
	    store_exec(x->st, "PRAGMA cache_size = " LEDGER_CACHE) != 0 ||
	    store_exec(x->st, "PRAGMA temp.cache_size = " LEDGER_TEMP_CACHE)
	    != 0 ||
	    store_exec(x->st, "CREATE TEMP TABLE IF NOT EXISTS tx_keys ("
	    "  record_key BLOB PRIMARY KEY,"
	    "  n INTEGER NOT NULL,"		/* rows of this file with it */
	    "  dup INTEGER NOT NULL,"		/* 1: dead-letter every one */
	    "  values_hash BLOB,"
	    "  record_id BLOB,"
	    "  verdict INTEGER,"
	    "  q TEXT,"				/* duplicates = sum: the sums */
	    "  a TEXT,"
	    "  emitted INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
	    "CREATE TEMP TABLE IF NOT EXISTS tx_holds ("
	    "  record_id TEXT PRIMARY KEY,"
	    "  record_key TEXT NOT NULL,"
	    "  key_day INTEGER NOT NULL,"
	    "  values_hash BLOB NOT NULL,"
	    "  restates TEXT NOT NULL,"
	    "  record TEXT NOT NULL,"
	    "  quantity TEXT NOT NULL,"
	    "  amount TEXT);") != 0)
		return TD_ERR_STATE;
	l = xcalloc(1, sizeof(*l));
	l->x = x;
	l->fd = -1;
	l->undated = ledger_undated(x->st);
	l->esz = offsetof(struct lent, q);
	l->forward = td_conf_enum_is(x->conf, TDK_integration_on_restatement,
	    "forward");
	l->sum = td_conf_enum_is(x->conf, TDK_map_duplicates, "sum");
	if (l->sum)
		l->esz = sizeof(struct lent);
	if ((l->maxent = run_bytes() / l->esz) == 0)
		l->maxent = 1;
	if (clear(l) != 0) {
		x_free(l);
		return TD_ERR_STATE;
	}
	*out = l;
	return TD_OK;
}

int
ledger_end(struct ledger *l)
{
	if (l == NULL || !l->intx)
		return TD_OK;
	l->intx = 0;
	days_clear(l);
	if (!l->own)
		return TD_OK;	/* the caller's, committed by it */
	return store_exec(l->x->st, "COMMIT") == 0 ? TD_OK : TD_ERR_STATE;
}

void
ledger_free(struct ledger *l)
{
	if (l == NULL)
		return;
	(void)ledger_end(l);
	(void)clear(l);
	if (l->fd != -1)
		close(l->fd);
	x_free(l->ents);
	x_free(l->runs);
	x_free(l);
}

int
ledger_reset(struct ledger *l)
{
	l->pass2 = 0;
	l->again = 0;
	if (runs_clear(l) != 0)
		return TD_ERR_IO;
	return clear(l) == 0 ? TD_OK : TD_ERR_STATE;
}

int
ledger_again(struct ledger *l)
{
	l->pass2 = 1;
	l->again = 0;
	if (runs_clear(l) != 0)
		return TD_ERR_IO;
	return store_exec(l->x->st, "DELETE FROM temp.tx_keys WHERE n < 2;"
	    "UPDATE temp.tx_keys SET dup = 1;"
	    "DELETE FROM temp.tx_holds;") == 0 ? TD_OK : TD_ERR_STATE;
}

int
ledger_wants_again(const struct ledger *l)
{
	return l != NULL && l->again && !l->pass2;
}

static void
dec_text(const struct td_dec *d, char out[TD_DEC_STRMAX])
{
	td_dec_format(d, out, TD_DEC_STRMAX);
}

static int
hold(struct ledger *l, const struct map_result *mr, const char *line,
    size_t len, const char *restates)
{
	sqlite3_stmt *s;
	char rid[TD_ID_HEX], key[TD_ID_HEX], q[TD_DEC_STRMAX],
	    a[TD_DEC_STRMAX];

	td_hex(mr->record_id, TD_ID_LEN, rid);
	td_hex(mr->record_key, TD_ID_LEN, key);
	dec_text(&mr->quantity, q);
	s = store_prepare(l->x->st, "INSERT OR REPLACE INTO temp.tx_holds("
	    "record_id, record_key, values_hash, restates, record, quantity, "
	    "amount, key_day) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
	sqlite3_bind_text(s, 1, rid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(s, 3, mr->values, TD_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, restates, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, line, (int)len, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, q, -1, SQLITE_TRANSIENT);
	if (mr->has_amount) {
		dec_text(&mr->amount, a);
		sqlite3_bind_text(s, 7, a, -1, SQLITE_TRANSIENT);
	}
	sqlite3_bind_int64(s, 8, (sqlite3_int64)mr->kday);
	return store_step_done(l->x->st, s);
}

/* Replace n bytes at off of b with the text rep: 0, or TD_ERR_LIMIT. */
static int
buf_splice(struct td_buf *b, size_t off, size_t n, const char *rep)
{
	size_t m = strlen(rep);

	if (m > n && td_buf_reserve(b, m - n) != 0)
		return TD_ERR_LIMIT;
	memmove(b->p + off + m, b->p + off + n, b->len - off - n);
	memcpy(b->p + off, rep, m);
	b->len = b->len - n + m;
	return TD_OK;
}

/*
 * Set "quantity" and "amount" of the record line at start in b to q and
 * a (NULL: null). A quote inside a JSON string is always escaped, so
 * the first `,"quantity":"` is the member itself.
 */
int
ledger_patch_sums(struct td_buf *b, size_t start, const char *q,
    const char *a)
{
	static const char kq[] = ",\"quantity\":\"", ka[] = ",\"amount\":";
	char rep[TD_DEC_STRMAX + 2];
	const char *p, *e, *end = b->p + b->len;
	size_t off;
	int r;

	if ((p = memmem(b->p + start, b->len - start, kq, sizeof(kq) - 1)) ==
	    NULL || (e = memchr(p + sizeof(kq) - 1, '"', (size_t)(end - p -
	    sizeof(kq) + 1))) == NULL)
		td_fatal("ledger: a record line without its quantity");
	off = (size_t)(p - b->p) + sizeof(kq) - 1;
	if ((r = buf_splice(b, off, (size_t)(e - p) - sizeof(kq) + 1,
	    q)) != 0)
		return r;
	end = b->p + b->len;
	if ((p = memmem(b->p + start, b->len - start, ka, sizeof(ka) - 1)) ==
	    NULL)
		td_fatal("ledger: a record line without its amount");
	off = (size_t)(p - b->p) + sizeof(ka) - 1;
	if (b->p[off] == '"') {
		if ((e = memchr(b->p + off + 1, '"', (size_t)(end - b->p -
		    off - 1))) == NULL)
			td_fatal("ledger: a record line with a broken amount");
		e++;
	} else
		e = b->p + off + 4;	/* null */
	if (a != NULL)
		snprintf(rep, sizeof(rep), "\"%s\"", a);
	else
		snprintf(rep, sizeof(rep), "null");
	return buf_splice(b, off, (size_t)(e - b->p) - off, rep);
}

/*
 * Pass 2, a key on more than one row: *what = LEDGER_IN_FILE (reject,
 * or a sum that overflowed), LEDGER_SUMMED (a later row), or 0 with the
 * line and mr made the sum of all its rows (the first row).
 */
static int
in_file(struct ledger *l, struct map_result *mr, struct td_buf *b,
    size_t start, struct ledger_verdict *v, int *found)
{
	struct store *st = l->x->st;
	struct td_sha256 h;
	unsigned char dg[TD_SHA256_LEN];
	sqlite3_stmt *s;
	char key[TD_ID_HEX], *q = NULL, *a = NULL;
	unsigned char k[LKEY_LEN];
	long long n = 0;
	int r, emitted = 0;

	*found = 0;
	lkey(mr->kday, mr->record_key, k);
	s = store_prepare(st, "SELECT n, q, a, emitted FROM temp.tx_keys "
	    "WHERE record_key = ? AND dup != 0");
	sqlite3_bind_blob(s, 1, k, LKEY_LEN, SQLITE_STATIC);
	if ((r = sqlite3_step(s)) == SQLITE_ROW) {
		*found = 1;
		n = sqlite3_column_int64(s, 0);
		if (sqlite3_column_text(s, 1) != NULL)
			q = xstrdup((const char *)sqlite3_column_text(s, 1));
		if (sqlite3_column_text(s, 2) != NULL)
			a = xstrdup((const char *)sqlite3_column_text(s, 2));
		emitted = sqlite3_column_int(s, 3);
	}
	sqlite3_reset(s);
	if (r != SQLITE_ROW) {
		r = r == SQLITE_DONE ? TD_OK : TD_ERR_STATE;
		goto out;
	}
	r = TD_OK;
	td_hex(mr->record_key, TD_ID_LEN, key);
	if (!l->sum || q == NULL) {
		snprintf(v->msg, sizeof(v->msg), "record_key %s is on %lld rows "
		    "of this file: each is dead-lettered for review (%s)", key,
		    n, l->sum ? "the sum of their quantities or amounts "
		    "exceeds 36 digits" : "[map] duplicates = sum adds them "
		    "up");
		v->what = LEDGER_IN_FILE;
		goto out;
	}
	if (emitted) {
		v->what = LEDGER_SUMMED;
		goto out;
	}
	/* the first row: the record of all of them */
	if (b == NULL) {
		v->sum = 1;
		snprintf(v->q, sizeof(v->q), "%s", q);
		if (!(v->anull = a == NULL))
			snprintf(v->a, sizeof(v->a), "%s", a);
	} else if ((r = ledger_patch_sums(b, start, q, a)) != 0)
		goto out;
	(void)td_dec_parse(q, strlen(q), 0, &mr->quantity);
	if ((mr->has_amount = a != NULL))
		(void)td_dec_parse(a, strlen(a), 0, &mr->amount);
	td_sha256_init(&h);
	td_sha256_update(&h, mr->values, TD_ID_LEN);
	/* its values: the first row's, and the sums */
	td_sha256_update(&h, "sum\n", 4);
	td_sha256_update(&h, q, strlen(q) + 1);
	if (a != NULL)
		td_sha256_update(&h, a, strlen(a));
	td_sha256_final(&h, dg);
	memcpy(mr->values, dg, TD_ID_LEN);
 out:
	x_free(q);
	x_free(a);
	return r;
}

int
ledger_check(struct ledger *l, struct map_result *mr, struct td_buf *b,
    size_t start, struct ledger_verdict *v)
{
	struct store *st = l->x->st;
	sqlite3_stmt *s;
	unsigned char k[LKEY_LEN];
	int r, found = 0, same = 0, sumfirst = 0;

	memset(v, 0, sizeof(*v));
	v->what = LEDGER_NEW;
	/*
	 * One transaction over the file's lookups: a statement of its own
	 * would take and drop the WAL read lock each time (several times
	 * the cost of the lookup), and write the file's keys with a journal
	 * commit each.
	 */
	if (!l->intx) {
		/* inside the transaction of a group of files (intake.c,
		 * landing_pass): none of its own, the group commits */
		l->own = sqlite3_get_autocommit(store_db(st)) != 0;
		if (l->own && store_exec(st, "BEGIN") != 0)
			return TD_ERR_STATE;
		l->intx = 1;
		days_clear(l);
	}
	if (l->pass2) {
		if ((r = in_file(l, mr, b, start, v, &sumfirst)) != 0)
			return r;
		if (v->what != LEDGER_NEW)
			return TD_OK;
	}
	lkey(mr->kday, mr->record_key, k);
	if (!l->undated && (found = day_empty(l, mr->kday)) != 0) {
		if (found < 0)
			return found;
		found = 0;	/* no key of its day */
	} else if ((found = find_key(st, l->undated, k, LKEY_LEN,
	    mr->record_key, mr->values, &same, v->restates)) < 0)
		return found;
	if (found)
		v->what = same ? LEDGER_DUPLICATE : l->forward ?
		    LEDGER_FORWARD : LEDGER_HOLD;
	if (sumfirst) {
		/* its key is this file's already: its sum is what counts */
		s = store_prepare(st, "UPDATE temp.tx_keys SET emitted = 1, "
		    "dup = 2, values_hash = ?, record_id = ?, verdict = ? "
		    "WHERE record_key = ?");
		sqlite3_bind_blob(s, 1, mr->values, TD_ID_LEN, SQLITE_STATIC);
		sqlite3_bind_blob(s, 2, mr->record_id, TD_ID_LEN,
		    SQLITE_STATIC);
		sqlite3_bind_int(s, 3, v->what);
		sqlite3_bind_blob(s, 4, k, LKEY_LEN, SQLITE_STATIC);
		if ((r = store_step_done(st, s)) != 0)
			return r;
	} else if ((r = append(l, mr, v->what)) != 0)
		return r;
	if (b == NULL) {
		v->hold = v->what == LEDGER_HOLD;
		return TD_OK;	/* the caller patches and holds */
	}
	if (v->what == LEDGER_FORWARD)
		return ledger_patch_restates(b, start, v->restates);
	if (v->what == LEDGER_HOLD)
		return hold(l, mr, b->p + start, b->len - start, v->restates);
	return TD_OK;
}

int
ledger_hold(struct ledger *l, const struct map_result *mr, const char *line,
    size_t len, const char *restates)
{
	return hold(l, mr, line, len, restates);
}

/*
 * The SQL of COMMIT_ROWS rows into record_keys: made once, at the same
 * address every time (store_prepare() keeps statements by it).
 */
static const char *
insert_sql(void)
{
	static char sql[128 + COMMIT_ROWS * 12];
	size_t i, n;

	if (sql[0] != '\0')
		return sql;
	n = (size_t)snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO "
	    "record_keys(record_key, values_hash, record_id, tx) VALUES ");
	for (i = 0; i < COMMIT_ROWS; i++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s(?,?,?,?)",
		    i ? "," : "");
	return sql;
}

/*
 * Enter n keys into record_keys (tx: seq, or null without has): by
 * COMMIT_ROWS in one statement, a fraction of the cost of each alone.
 */
static int
insert_keys(struct store *st, const struct lent *e, size_t n, int has,
    sqlite3_int64 seq)
{
	sqlite3_stmt *s;
	unsigned char kb[COMMIT_ROWS][LKEY_LEN];
	size_t i, j, k;
	int r = 0, b;

	for (i = 0; i < n && r == 0; i += k) {
		if (n - i >= COMMIT_ROWS) {
			k = COMMIT_ROWS;
			s = store_prepare(st, insert_sql());
		} else {
			k = 1;
			s = store_prepare(st, "INSERT OR REPLACE INTO "
			    "record_keys(record_key, values_hash, record_id, "
			    "tx) VALUES (?, ?, ?, ?)");
		}
		for (j = 0; j < k; j++) {
			b = (int)j * 4;
			lkey(e[i + j].kday, e[i + j].key, kb[j]);
			sqlite3_bind_blob(s, b + 1, kb[j], LKEY_LEN,
			    SQLITE_STATIC);
			sqlite3_bind_blob(s, b + 2, e[i + j].values, TD_ID_LEN,
			    SQLITE_STATIC);
			sqlite3_bind_blob(s, b + 3, e[i + j].id, TD_ID_LEN,
			    SQLITE_STATIC);
			if (has)
				sqlite3_bind_int64(s, b + 4, seq);
		}
		r = store_step_done(st, s);
	}
	return r;
}

int
ledger_commit(struct ledger *l, const char *tid)
{
	struct store *st = l->x->st;
	struct lent pend[COMMIT_ROWS];
	size_t npend = 0;
	struct lmerge m;
	struct lgroup g;
	sqlite3_stmt *s;
	sqlite3_int64 seq = 0;
	int r, has;

	s = store_prepare(st, "SELECT seq FROM transmissions WHERE id = ?");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	if ((has = sqlite3_step(s) == SQLITE_ROW))
		seq = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	/* the rows' keys, in key order: of a key met twice, the first */
	if ((r = merge_open(l, &m)) != 0)
		return r;
	while ((r = merge_group(&m, &g)) == 1) {
		if (g.first.verdict != LEDGER_NEW &&
		    g.first.verdict != LEDGER_FORWARD)
			continue;
		memcpy(&pend[npend++], &g.first, sizeof(pend[0]));
		if (npend == COMMIT_ROWS) {
			r = insert_keys(st, pend, npend, has, seq);
			npend = 0;
			if (r != 0)
				break;
		}
	}
	if (r == 0 && npend > 0)
		r = insert_keys(st, pend, npend, has, seq);
	merge_close(&m);
	if (r != 0)
		return r;
	/* pass 2: the records of the sums of a key's rows */
	s = store_prepare(st, "INSERT OR REPLACE INTO record_keys(record_key, "
	    "values_hash, record_id, tx) SELECT record_key, values_hash, "
	    "record_id, (SELECT seq FROM transmissions WHERE id = ?) FROM "
	    "temp.tx_keys WHERE dup = 2 AND verdict IN (0, 3)");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	if ((r = store_step_done(st, s)) != 0)
		return r;
	/*
	 * A replay's records keep their record_id: one held already (its
	 * original's hold, or an earlier replay's, decided or not) with the
	 * same values stays as it is, decision and all; with other values,
	 * today's mapping's, this hold takes its place, to be decided.
	 * Ignored, it would be counted held and be nowhere to approve.
	 */
	s = store_prepare(st, "INSERT INTO holds(record_id, "
	    "transmission_id, record_key, reason, record, state, created_at, "
	    "restates, values_hash, quantity, amount, key_day) SELECT "
	    "record_id, ?1, record_key, 'restatement', record, 'held', ?2, "
	    "restates, values_hash, quantity, amount, key_day FROM "
	    "temp.tx_holds WHERE 1 ON CONFLICT(record_id) DO UPDATE SET "
	    "transmission_id = excluded.transmission_id, record_key = "
	    "excluded.record_key, reason = excluded.reason, record = "
	    "excluded.record, state = 'held', created_at = "
	    "excluded.created_at, decided_at = NULL, decided_by = NULL, "
	    "decision_reason = NULL, restates = excluded.restates, "
	    "values_hash = excluded.values_hash, quantity = "
	    "excluded.quantity, amount = excluded.amount, key_day = "
	    "excluded.key_day WHERE values_hash IS NOT "
	    "excluded.values_hash");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)td_time());
	return store_step_done(st, s);
}

/*
 * Set `restates` of the record line that starts at b->p + start (map.c
 * wrote it null) to the record_id hex: 0, or TD_ERR_LIMIT.
 */
int
ledger_patch_restates(struct td_buf *b, size_t start, const char *hex)
{
	size_t len = b->len - start, at;
	char *p;

	if (len < TAIL_LEN || memcmp(b->p + b->len - TAIL_LEN, TAIL_NULL,
	    sizeof(TAIL_NULL) - 1) != 0)
		td_fatal("ledger: a record line without its restates tail");
	if (td_buf_reserve(b, 2 * TD_ID_LEN + 2 - 4) != 0)
		return TD_ERR_LIMIT;
	at = b->len - TAIL_LEN + sizeof(",\"restates\":") - 1;
	p = b->p + at;
	memmove(p + 2 * TD_ID_LEN + 2, p + 4, b->len - at - 4);
	p[0] = '"';
	memcpy(p + 1, hex, 2 * TD_ID_LEN);
	p[2 * TD_ID_LEN + 1] = '"';
	b->len += 2 * TD_ID_LEN + 2 - 4;
	return TD_OK;
}

/* ---------------------------------------------------- decisions */

struct heldrec {
	char		*tid, *key, *record, *restates, *state, *q, *a;
	size_t		 reclen;
	unsigned char	 values[TD_ID_LEN];
	int		 dated;		/* kday known (held since schema 7, or
					   held_day()) */
	uint32_t	 kday;
};

static char *
col(sqlite3_stmt *s, int i)
{
	const char *t = (const char *)sqlite3_column_text(s, i);

	return t != NULL ? xstrdup(t) : NULL;
}

static void
heldrec_free(struct heldrec *h)
{
	x_free(h->tid);
	x_free(h->key);
	x_free(h->record);
	x_free(h->restates);
	x_free(h->state);
	x_free(h->q);
	x_free(h->a);
}

/*
 * A hold of before schema 7 (key_day NULL): the day its key has now,
 * map.c's MAP_KDAY of the txn_date its record was written with when
 * txn_date is a [map] key field, MAP_KDAY_NONE when it is not, so that
 * its approval finds (and enters) the dated key a record of its key
 * delivered since the migration has, not only the undated one. A record
 * without a txn_date to read leaves h undated (the record_key alone).
 * A quote inside a JSON string is always escaped: the first
 * `,"txn_date":"` is the member itself.
 */
static void
held_day(const struct td_conf *c, struct heldrec *h)
{
	static const char kd[] = ",\"txn_date\":\"";
	char * const *keys;
	const char *p;
	struct td_date d;
	size_t i, n;

	keys = td_conf_list(c, TDK_map_key, &n);
	for (i = 0; i < n; i++)
		if (strcmp(keys[i], "txn_date") == 0)
			break;
	if (i == n) {
		h->kday = MAP_KDAY_NONE;
		h->dated = 1;
		return;
	}
	if (h->record == NULL || (p = memmem(h->record, h->reclen, kd,
	    sizeof(kd) - 1)) == NULL)
		return;
	p += sizeof(kd) - 1;
	if ((size_t)(h->record + h->reclen - p) < 11 || p[10] != '"' ||
	    td_date_parse_iso(p, 10, &d) != 0)
		return;
	h->kday = MAP_KDAY(td_date_to_days(&d));
	h->dated = 1;
}

static int
load_hold(struct td_ctx *x, const char *rid, struct heldrec *h)
{
	sqlite3_stmt *s;
	int r = TD_ERR_NOTFOUND;

	memset(h, 0, sizeof(*h));
	s = store_prepare(x->st, "SELECT transmission_id, record_key, record, "
	    "restates, state, quantity, amount, values_hash, key_day FROM "
	    "holds WHERE record_id = ?");
	sqlite3_bind_text(s, 1, rid, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		h->tid = col(s, 0);
		h->key = col(s, 1);
		h->record = col(s, 2);
		h->reclen = (size_t)sqlite3_column_bytes(s, 2);
		h->restates = col(s, 3);
		h->state = col(s, 4);
		h->q = col(s, 5);
		h->a = col(s, 6);
		if (sqlite3_column_bytes(s, 7) == TD_ID_LEN)
			memcpy(h->values, sqlite3_column_blob(s, 7), TD_ID_LEN);
		if ((h->dated = sqlite3_column_type(s, 8) == SQLITE_INTEGER))
			h->kday = (uint32_t)sqlite3_column_int64(s, 8);
		r = TD_OK;
	}
	sqlite3_reset(s);
	if (r == TD_OK && !h->dated)
		held_day(x->conf, h);
	return r;
}

/*
 * Write the approved record as batch seq of its transmission into the
 * outbox (outbox/<tid>/), in the transmission's batch encoding.
 */
static int
stage_batch(struct td_ctx *x, const struct tx *t, const struct heldrec *h,
    uint64_t seq, struct ob_batch *ob)
{
	struct outbox_writer *w = NULL;
	struct ob_batch *b = NULL;
	struct td_buf *buf;
	struct td_dec q, a;
	char *tmp, *dir, *src = NULL, *dst = NULL;
	size_t nb = 0;
	int enc = outbox_encoding(t->batch_encoding ? t->batch_encoding :
	    "gzip"), r;

	tmp = xasprintf("%s/%s.tmp", x->outbox, t->id);
	dir = xasprintf("%s/%s", x->outbox, t->id);
	(void)td_remove_tree(tmp, x->state_dir);
	memset(&q, 0, sizeof(q));
	memset(&a, 0, sizeof(a));
	(void)td_dec_parse(h->q, strlen(h->q), 0, &q);
	if (h->a != NULL)
		(void)td_dec_parse(h->a, strlen(h->a), 0, &a);
	if ((r = outbox_open(&w, tmp, enc, (size_t)1 << 26)) != 0)
		goto out;
	buf = outbox_buffer(w);
	td_buf_append(buf, h->record, h->reclen);
	if ((r = ledger_patch_restates(buf, 0, h->restates)) != 0 ||
	    (r = outbox_submit(w, buf, 1, &q, h->a ? &a : NULL)) != 0)
		goto out;
	r = outbox_finish(w, &b, &nb);
	if (r == 0 && nb != 1)
		r = TD_ERR_STATE;
	if (r != 0)
		goto out;
	*ob = b[0];
	ob->seq = seq;
	src = outbox_batch_path(tmp, 1, enc);
	dst = outbox_batch_path(dir, seq, enc);
	if (td_mkdirs(dir, 0750) != 0 || rename(src, dst) != 0 ||
	    td_fsync_dir(dir) != 0)
		r = TD_ERR_IO;
 out:
	outbox_free(w);
	(void)td_remove_tree(tmp, x->state_dir);
	x_free(b);
	x_free(tmp);
	x_free(dir);
	x_free(src);
	x_free(dst);
	return r;
}

/* The TD_ID_LEN bytes of the 2 * TD_ID_LEN hex digits hex. */
static void
unhex(const char *hex, unsigned char out[TD_ID_LEN])
{
	size_t i;
	unsigned v;

	for (i = 0; i < TD_ID_LEN; i++) {
		v = 0;
		(void)sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (unsigned char)v;
	}
}

/* ------------------------------------------- a batch refused (Tier 3) */

/* The 32 hex digits after "name":" in the line, or NULL. */
static const char *
line_hex(const char *line, size_t len, const char *name)
{
	const char *p = memmem(line, len, name, strlen(name));
	size_t i;

	if (p == NULL || (size_t)(line + len - p) < strlen(name) + TD_ID_LEN * 2)
		return NULL;
	p += strlen(name);
	for (i = 0; i < TD_ID_LEN * 2; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' &&
		    p[i] <= 'f')))
			return NULL;
	return p;
}

/*
 * One record of a refused batch out of record_keys: its key (dated by
 * its txn_date, undated, or of before schema 7) while it still names
 * this record as entered by the batch's transmission (of seq tx; a key
 * of before the tx column has none): a replay's records keep their
 * record_id, and a replay processed before the refusal came in has
 * entered the key for its own record, delivered. A record that
 * restates another is left: the key named that one before, delivered,
 * whose values the ledger no longer has.
 */
static int
forget_line(struct store *st, const char *line, size_t len, sqlite3_int64 tx)
{
	unsigned char key[TD_ID_LEN], id[TD_ID_LEN], k1[LKEY_LEN],
	    k2[LKEY_LEN];
	const char *rk, *ri, *d;
	struct td_date dt;
	sqlite3_stmt *s;
	uint32_t kday = MAP_KDAY_NONE;

	if (memmem(line, len, "\"restates\":null", 15) == NULL ||
	    (ri = line_hex(line, len, "\"record_id\":\"")) == NULL ||
	    (rk = line_hex(line, len, "\"record_key\":\"")) == NULL)
		return TD_OK;
	unhex(rk, key);
	unhex(ri, id);
	if ((d = memmem(line, len, "\"txn_date\":\"", 12)) != NULL &&
	    (size_t)(line + len - d) >= 22 &&
	    td_date_parse_iso(d + 12, 10, &dt) == 0)
		kday = MAP_KDAY(td_date_to_days(&dt));
	lkey(kday, key, k1);
	lkey(MAP_KDAY_NONE, key, k2);
	s = store_prepare(st, "DELETE FROM record_keys WHERE record_key IN "
	    "(?1, ?2, ?3) AND record_id = ?4 AND (tx IS NULL OR tx = ?5)");
	sqlite3_bind_blob(s, 1, k1, LKEY_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, k2, LKEY_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, key, TD_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, id, TD_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, tx);
	return store_step_done(st, s);
}

/* The complete lines at the start of b out of record_keys; the rest kept. */
static int
forget_lines(struct store *st, struct td_buf *b, int last, sqlite3_int64 tx)
{
	char *p = b->p, *end = b->p + b->len, *nl;
	size_t rest;
	int r = TD_OK;

	while (r == 0 && p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			if (!last)
				break;
			nl = end;
		}
		r = forget_line(st, p, (size_t)(nl - p), tx);
		p = nl < end ? nl + 1 : end;
	}
	rest = (size_t)(end - p);
	memmove(b->p, p, rest);
	b->len = rest;
	return r;
}

int
ledger_forget_batch(struct store *st, const char *path, int enc,
    const char *tid)
{
	unsigned char in[65536], out[65536];
	struct td_buf b;
	z_stream z;
	ZSTD_DStream *zd = NULL;
	ZSTD_inBuffer zi;
	ZSTD_outBuffer zo;
	ssize_t n = 0;
	size_t zr;
	sqlite3_stmt *s;
	sqlite3_int64 tx;
	int fd, r = TD_OK, zok = 0, e;

	s = store_prepare(st, "SELECT seq FROM transmissions WHERE id = ?");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	e = sqlite3_step(s);
	tx = e == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	if (e != SQLITE_ROW)
		return TD_ERR_STATE;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return TD_ERR_IO;
	memset(&z, 0, sizeof(z));
	if (enc == OB_ENC_GZIP) {
		if (inflateInit2(&z, 15 + 16) != Z_OK) {
			close(fd);
			return TD_ERR_INTERNAL;
		}
		zok = 1;
	} else if (enc == OB_ENC_ZSTD && (zd = ZSTD_createDStream()) == NULL) {
		close(fd);
		return TD_ERR_INTERNAL;
	}
	td_buf_init(&b, sizeof(out) * 2, 0);
	while (r == 0 && (n = read(fd, in, sizeof(in))) > 0) {
		if (enc == OB_ENC_IDENTITY) {
			td_buf_append(&b, in, (size_t)n);
			r = forget_lines(st, &b, 0, tx);
			continue;
		}
		if (enc == OB_ENC_ZSTD) {
			zi.src = in;
			zi.size = (size_t)n;
			zi.pos = 0;
			/* on while the output is filled: more may be pending
			 * in the decoder once all of in[] is taken */
			do {
				zo.dst = out;
				zo.size = sizeof(out);
				zo.pos = 0;
				zr = ZSTD_decompressStream(zd, &zo, &zi);
				if (ZSTD_isError(zr))
					r = TD_ERR_FORMAT;
				td_buf_append(&b, out, zo.pos);
				if (r == 0)
					r = forget_lines(st, &b, 0, tx);
			} while (r == 0 && (zi.pos < zi.size ||
			    zo.pos == zo.size));
			continue;
		}
		z.next_in = in;
		z.avail_in = (uInt)n;
		do {
			z.next_out = out;
			z.avail_out = sizeof(out);
			e = inflate(&z, Z_NO_FLUSH);
			if (e != Z_OK && e != Z_STREAM_END && e != Z_BUF_ERROR)
				r = TD_ERR_FORMAT;
			td_buf_append(&b, out, sizeof(out) - z.avail_out);
			if (r == 0)
				r = forget_lines(st, &b, 0, tx);
			/* a batch is gzip members one after the other */
			if (r == 0 && e == Z_STREAM_END && inflateReset(&z) !=
			    Z_OK)
				r = TD_ERR_FORMAT;
		} while (r == 0 && (z.avail_in > 0 || z.avail_out == 0));
	}
	if (r == 0 && n < 0)
		r = TD_ERR_IO;
	if (r == 0)
		r = forget_lines(st, &b, 1, tx);
	if (zok)
		inflateEnd(&z);
	ZSTD_freeDStream(zd);
	td_buf_free(&b);
	close(fd);
	return r;
}

/*
 * The key of record_keys of the held h in k: its length (a hold of
 * before schema 7 has no day: the record_key alone, as it was entered).
 */
static size_t
held_key(const struct heldrec *h, unsigned char key[TD_ID_LEN],
    unsigned char k[LKEY_LEN])
{
	unhex(h->key, key);
	if (!h->dated) {
		memcpy(k, key, TD_ID_LEN);
		return LKEY_OLD;
	}
	lkey(h->kday, key, k);
	return LKEY_LEN;
}

/*
 * What the ledger holds for the key of h now, which another approval
 * may have changed since h was held: the same values (delivered since:
 * a duplicate_record, not to be delivered again; said on stderr), or
 * h->restates made the record delivered last for its key.
 */
static int
relink(struct td_ctx *x, const char *rid, struct heldrec *h)
{
	unsigned char key[TD_ID_LEN], k[LKEY_LEN];
	char *cur = NULL, hex[TD_ID_HEX], *carg;
	size_t klen = held_key(h, key, k);
	int same = 0, r = TD_OK, found;

	if ((found = find_key(x->st, ledger_undated(x->st), k, klen, key,
	    h->values, &same, hex)) < 0)
		return found;
	if (found)
		cur = xstrdup(hex);
	if (cur != NULL && same) {
		carg = ctx_conf_arg(x->conf);
		fprintf(stderr, "tradedrop: record %s: its record_key %s was "
		    "delivered with these values since it was held (record "
		    "%s): a duplicate_record, not delivered again; `tradedrop "
		    "hold %s reject %s --reason TEXT` closes it\n", rid, h->key,
		    cur, carg, rid);
		x_free(carg);
		r = TD_ERR_INVAL;
	} else if (cur != NULL && strcmp(cur, h->restates) != 0) {
		x_free(h->restates);
		h->restates = cur;
		cur = NULL;
	}
	x_free(cur);
	return r;
}

/* *acc (NULL: none yet) plus text v, exactly, into out: 0 or an error. */
static int
dec_plus(const char *acc, const char *v, char out[TD_DEC_STRMAX])
{
	struct td_dec a, b;
	int r;

	memset(&a, 0, sizeof(a));
	if ((acc != NULL && (r = td_dec_parse(acc, strlen(acc), 0, &a)) != 0)
	    || (r = td_dec_parse(v, strlen(v), 0, &b)) != 0 ||
	    (r = td_dec_add(&a, &b)) != 0)
		return r;
	td_dec_format(&a, out, TD_DEC_STRMAX);
	return 0;
}

/*
 * An approved record is delivered: the transmission's control totals
 * take in its quantity and amount, and its member's count of delivered
 * records it (when one member has its name), so that the manifest sent
 * again adds up to what was delivered. Read in the transaction, not from
 * t: another decision may have come in between.
 */
static int
approve_totals(struct td_ctx *x, const char *tid, const struct heldrec *h)
{
	sqlite3_stmt *s;
	char *qt = NULL, *at = NULL, q[TD_DEC_STRMAX], a[TD_DEC_STRMAX];
	int r;

	s = store_prepare(x->st, "SELECT quantity_total, amount_total FROM "
	    "transmissions WHERE id = ?");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	if ((r = sqlite3_step(s)) == SQLITE_ROW) {
		qt = col(s, 0);
		at = col(s, 1);
	}
	sqlite3_reset(s);
	if (r != SQLITE_ROW)
		r = TD_ERR_STATE;
	else if ((r = dec_plus(qt, h->q, q)) != 0 || (h->a != NULL &&
	    (r = dec_plus(at, h->a, a)) != 0))
		fprintf(stderr, "tradedrop: transmission %s: its control "
		    "totals with the approved record do not fit 36 digits\n",
		    tid);
	else {
		s = store_prepare(x->st, "UPDATE transmissions SET "
		    "quantity_total = ?, amount_total = ? WHERE id = ?");
		sqlite3_bind_text(s, 1, q, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, h->a != NULL ? a : at, -1,
		    SQLITE_STATIC);
		sqlite3_bind_text(s, 3, tid, -1, SQLITE_STATIC);
		r = store_step_done(x->st, s);
	}
	if (r == 0) {
		s = store_prepare(x->st, "UPDATE members SET delivered = "
		    "delivered + 1 WHERE transmission_id = ?1 AND name IS "
		    "json_extract(?2, '$.source.member') AND (SELECT count(*) "
		    "FROM members WHERE transmission_id = ?1 AND name IS "
		    "json_extract(?2, '$.source.member')) = 1");
		sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, h->record, (int)h->reclen,
		    SQLITE_STATIC);
		r = store_step_done(x->st, s);
	}
	x_free(qt);
	x_free(at);
	return r;
}

static int
approve(struct td_ctx *x, const struct tx *t, const char *rid,
    const struct heldrec *h)
{
	struct ob_batch ob;
	sqlite3_stmt *s;
	unsigned char key[TD_ID_LEN], lk[LKEY_LEN], id[TD_ID_LEN];
	size_t lklen;
	int64_t seq;
	char *k;
	int r;

	s = store_prepare(x->st, "SELECT coalesce(max(seq), 0) FROM batches "
	    "WHERE transmission_id = ?");
	sqlite3_bind_text(s, 1, t->id, -1, SQLITE_STATIC);
	seq = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	if ((r = stage_batch(x, t, h, (uint64_t)seq + 1, &ob)) != 0)
		return r;
	lklen = held_key(h, key, lk);
	unhex(rid, id);
	/* a replay's batches are keyed by its records' transmission_id */
	k = deliver_batch_key(t->replay_of != NULL ? t->replay_of : t->id,
	    t->mapping_version, ob.seq);
	s = store_prepare(x->st, "INSERT INTO batches(transmission_id, seq, "
	    "records, bytes, sha256, idempotency_key, state, created_at, "
	    "quantity_total, amount_total) VALUES (?, ?, 1, ?, ?, ?, "
	    "'pending', ?, ?, ?)");
	sqlite3_bind_text(s, 1, t->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)ob.seq);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)ob.bytes);
	sqlite3_bind_text(s, 4, ob.sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, k, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)td_time());
	sqlite3_bind_text(s, 7, h->q, -1, SQLITE_STATIC);
	if (h->a != NULL)
		sqlite3_bind_text(s, 8, h->a, -1, SQLITE_STATIC);
	r = store_step_done(x->st, s);
	x_free(k);
	if (r == 0) {
		s = store_prepare(x->st, "UPDATE transmissions SET state = "
		    "'parsed', held = held - 1, delivered = delivered + 1, "
		    "batches = batches + 1, approvals = approvals + 1, "
		    "reported = 1 WHERE id = ?");
		sqlite3_bind_text(s, 1, t->id, -1, SQLITE_STATIC);
		r = store_step_done(x->st, s);
	}
	if (r == 0)
		r = approve_totals(x, t->id, h);
	if (r == 0) {
		s = store_prepare(x->st, "INSERT OR REPLACE INTO record_keys("
		    "record_key, values_hash, record_id, tx) VALUES (?, ?, ?, "
		    "(SELECT seq FROM transmissions WHERE id = ?))");
		sqlite3_bind_blob(s, 1, lk, (int)lklen, SQLITE_STATIC);
		sqlite3_bind_blob(s, 2, h->values, TD_ID_LEN, SQLITE_STATIC);
		sqlite3_bind_blob(s, 3, id, TD_ID_LEN, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, t->id, -1, SQLITE_STATIC);
		r = store_step_done(x->st, s);
	}
	return r;
}

int
ledger_decide(struct td_ctx *x, const char *rid, int yes,
    const char *reason, const char *by, char tid[TD_SHA256_HEX])
{
	struct heldrec h;
	struct tx t;
	struct td_buf b;
	sqlite3_stmt *s;
	int r;

	memset(&t, 0, sizeof(t));
	if (load_hold(x, rid, &h) != 0) {
		fprintf(stderr, "tradedrop: no held record %s\n", rid);
		return TD_ERR_NOTFOUND;
	}
	snprintf(tid, TD_SHA256_HEX, "%s", h.tid);
	if (strcmp(h.state, "held") != 0) {
		fprintf(stderr, "tradedrop: record %s is %s already\n", rid,
		    h.state);
		r = TD_ERR_INVAL;
		goto out;
	}
	if ((r = tx_load(x, h.tid, &t)) != 0 || t.mapping_version == NULL) {
		fprintf(stderr, "tradedrop: the transmission of record %s is "
		    "gone\n", rid);
		r = TD_ERR_STATE;
		goto out;
	}
	if (yes && (r = relink(x, rid, &h)) != 0)
		goto out;
	td_buf_init(&b, 512, 0);
	td_buf_printf(&b, "\"record_id\":\"%s\",\"record_key\":\"%s\","
	    "\"restates\":\"%s\",\"code\":\"restatement\",\"reason\":", rid,
	    h.key, h.restates);
	td_json_str_lossy(&b, reason, strlen(reason));
	td_buf_puts(&b, ",\"by\":");
	td_json_str_lossy(&b, by, strlen(by));
	if ((r = store_begin(x->st)) != 0) {
		td_buf_free(&b);
		goto out;
	}
	r = yes ? approve(x, &t, rid, &h) : 0;
	if (r == 0) {
		s = store_prepare(x->st, "UPDATE holds SET state = ?, "
		    "decided_at = ?, decided_by = ?, decision_reason = ?, "
		    "restates = ? WHERE record_id = ?");
		sqlite3_bind_text(s, 1, yes ? "approved" : "rejected", -1,
		    SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)td_time());
		sqlite3_bind_text(s, 3, by, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, reason, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 5, h.restates, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 6, rid, -1, SQLITE_STATIC);
		r = store_step_done(x->st, s);
	}
	if (r == 0)
		r = audit_append(x->audit, yes ? "hold_approved" :
		    "hold_rejected", h.tid, td_buf_cstr(&b));
	r = store_end(x->st, r);
	td_buf_free(&b);
	if (r == 0)
		td_log(TD_LOG_INFO, yes ? "hold_approved" : "hold_rejected",
		    "record_id=%s transmission_id=%s by=%s reason=%s", rid,
		    h.tid, by, reason);
 out:
	tx_free(&t);
	heldrec_free(&h);
	return r;
}
