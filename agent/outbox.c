/*
 * outbox.c - the batch writers: a pool of worker threads that compress,
 * hash and write batches in parallel, each batch as soon as it is made.
 *
 * The threads start with the first batch, not in outbox_open: intake
 * opens the outbox and then forks the parser child (sandbox.c), and a
 * child forked while threads of its parent were starting could inherit
 * a lock one of them held (under ASan, whose allocator has no fork
 * handler, it hung on an allocator lock in seccomp_load's calloc).
 * They start with the second batch: a file of one batch, as most small
 * drops are, has it compressed and written by outbox_finish in the
 * caller's thread, the same bytes, without making and ending threads
 * (two thread stacks a file, at many small files a second).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>
#ifdef HAVE_ISAL
#include <isa-l.h>
#else
#include <libdeflate.h>
#endif

#include "td.h"
#include "buf.h"
#include "fsutil.h"
#include "hash.h"
#include "log.h"
#include "outbox.h"

#define OB_MAXTHREADS	8

struct job {
	struct td_buf	*buf;
	uint64_t	 nrec;
	uint64_t	 seq;
	char		 quantity[TD_DEC_STRMAX];
	char		 amount[TD_DEC_STRMAX];
};

/* A worker holds only the compressor of the encoding in use. */
struct worker {
	struct outbox_writer *ob;
	pthread_t	 thr;
#ifdef HAVE_ISAL
	uint8_t		*isal_lvlbuf;	/* gzip */
#else
	struct libdeflate_compressor *gz;	/* gzip */
#endif
	ZSTD_CCtx	*zs;		/* zstd */
	char		*cbuf;
	size_t		 cbufsz;
};

/*
 * Buffers cycle: free -> filled by the parser -> queued -> compressed and
 * written by any worker -> free. Every batch is a file of its own, so no
 * worker waits for another's turn; the list of batches is put in
 * sequence order by outbox_finish.
 */
struct outbox_writer {
	char		*dir;
	int		 enc;
	int		 nbuf;
	struct td_buf	*bufs;
	struct td_buf	**free;
	int		 nfree;
	struct job	*q;
	int		 qhead, qlen;
	uint64_t	 next_seq;	/* seq of the next submitted batch */
	int		 done;		/* no more jobs */
	int		 err;		/* first error of a worker */
	int		 err_errno;
	struct worker	 w[OB_MAXTHREADS];
	int		 nthreads;	/* to run */
	int		 running;	/* started, not yet joined */
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct ob_batch	*batches;
	size_t		 nbatches;
	int		 nosync;	/* outbox_nosync: batches not flushed */
};

const char *
outbox_suffix(int enc)
{
	switch (enc) {
	case OB_ENC_ZSTD:
		return ".ndjson.zst";
	case OB_ENC_IDENTITY:
		return ".ndjson";
	}
	return ".ndjson.gz";
}

char *
outbox_batch_name(const char *prefix, uint64_t seq, int enc)
{
	return xasprintf("%s%sbatch-%06llu%s", prefix ? prefix : "",
	    prefix ? "." : "", (unsigned long long)seq, outbox_suffix(enc));
}

char *
outbox_batch_path(const char *dir, uint64_t seq, int enc)
{
	char *name = outbox_batch_name(NULL, seq, enc), *p;

	p = xasprintf("%s/%s", dir, name);
	x_free(name);
	return p;
}

int
outbox_encoding(const char *name)
{
	if (strcmp(name, "zstd") == 0)
		return OB_ENC_ZSTD;
	if (strcmp(name, "identity") == 0)
		return OB_ENC_IDENTITY;
	return OB_ENC_GZIP;
}

/* Compress and hash one batch (any worker, no lock held). */
static int
encode_batch(struct worker *w, const struct job *j, struct ob_batch *b,
    const char **data)
{
	struct outbox_writer *ob = w->ob;
	struct td_sha256 h;
	unsigned char dg[TD_SHA256_LEN];
	size_t n, bound;

	memset(b, 0, sizeof(*b));
	b->seq = j->seq;
	b->records = j->nrec;
	memcpy(b->quantity, j->quantity, sizeof(b->quantity));
	memcpy(b->amount, j->amount, sizeof(b->amount));
	switch (ob->enc) {
	case OB_ENC_GZIP:
#ifdef HAVE_ISAL
		/* stored blocks at worst, plus gzip header and trailer */
		bound = j->buf->len + (j->buf->len >> 10) + 1024;
#else
		bound = libdeflate_gzip_compress_bound(w->gz, j->buf->len);
#endif
		break;
	case OB_ENC_ZSTD:
		bound = ZSTD_compressBound(j->buf->len);
		break;
	default:
		bound = 0;
	}
	if (bound > w->cbufsz) {
		w->cbuf = xrealloc(w->cbuf, bound);
		w->cbufsz = bound;
	}
	switch (ob->enc) {
	case OB_ENC_GZIP:
#ifdef HAVE_ISAL
		{
			struct isal_zstream zs;

			/* stateless_init leaves fields of the internal
			 * state that isal_deflate_stateless reads (valgrind:
			 * uninitialised, from this stack): none from here */
			memset(&zs, 0, sizeof(zs));
			isal_deflate_stateless_init(&zs);
			zs.level = 1;
			zs.level_buf = w->isal_lvlbuf;
			zs.level_buf_size = ISAL_DEF_LVL1_DEFAULT;
			zs.gzip_flag = IGZIP_GZIP;
			zs.next_in = (uint8_t *)j->buf->p;
			zs.avail_in = (uint32_t)j->buf->len;
			zs.next_out = (uint8_t *)w->cbuf;
			zs.avail_out = (uint32_t)w->cbufsz;
			zs.end_of_stream = 1;
			zs.flush = NO_FLUSH;
			if (j->buf->len > UINT32_MAX / 2 ||
			    isal_deflate_stateless(&zs) != COMP_OK)
				return TD_ERR_INTERNAL;
			n = zs.total_out;
		}
#else
		n = libdeflate_gzip_compress(w->gz, j->buf->p, j->buf->len,
		    w->cbuf, w->cbufsz);
		if (n == 0)
			return TD_ERR_INTERNAL;
#endif
		*data = w->cbuf;
		break;
	case OB_ENC_ZSTD:
		n = ZSTD_compressCCtx(w->zs, w->cbuf, w->cbufsz, j->buf->p,
		    j->buf->len, 1);
		if (ZSTD_isError(n))
			return TD_ERR_INTERNAL;
		*data = w->cbuf;
		break;
	default:
		*data = j->buf->p;
		n = j->buf->len;
	}
	b->bytes = n;
	td_sha256_init(&h);
	td_sha256_update(&h, *data, n);
	td_sha256_final(&h, dg);
	td_hex(dg, sizeof(dg), b->sha256);
	return TD_OK;
}

/* Log the file a write failed on (errno kept for err_errno). */
static void
write_failed(const char *path, int r)
{
	int e = errno;

	td_log(TD_LOG_ERROR, "outbox_write_failed", "path=%s error=%s", path,
	    td_errstr(r));
	errno = e;
}

/*
 * Write an encoded batch into its file, which stays open in *fdp to be
 * made durable by fsync outside the lock, so the workers' flushes overlap.
 */
static int
write_batch(struct outbox_writer *ob, const struct ob_batch *b,
    const char *data, int *fdp)
{
	char *path;
	int fd, r;

	path = outbox_batch_path(ob->dir, b->seq, ob->enc);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		r = (errno == ENOSPC || errno == EDQUOT) ? TD_ERR_NOSPACE :
		    TD_ERR_IO;
	else
		r = td_write_all(fd, data, b->bytes);
	if (r != 0)
		write_failed(path, r);
	x_free(path);
	*fdp = fd;
	return r;
}

/* Make a written batch durable and close it. */
static int
sync_batch(int fd)
{
	int r = TD_OK;

	if (fsync(fd) != 0)
		r = (errno == ENOSPC || errno == EDQUOT) ? TD_ERR_NOSPACE :
		    TD_ERR_IO;
	if (close(fd) != 0 && r == 0)
		r = TD_ERR_IO;
	return r;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct outbox_writer *ob = w->ob;
	struct ob_batch b;
	struct job j;
	const char *data = NULL;
	int fd, r, skip;

	for (;;) {
		pthread_mutex_lock(&ob->mu);
		while (ob->qlen == 0 && !ob->done)
			pthread_cond_wait(&ob->cv, &ob->mu);
		if (ob->qlen == 0 && ob->done) {
			pthread_mutex_unlock(&ob->mu);
			break;
		}
		j = ob->q[ob->qhead];
		ob->qhead = (ob->qhead + 1) % ob->nbuf;
		ob->qlen--;
		skip = ob->err != 0;
		pthread_mutex_unlock(&ob->mu);

		r = skip ? 0 : encode_batch(w, &j, &b, &data);
		fd = -1;
		if (!skip && r == 0)
			r = write_batch(ob, &b, data, &fd);

		pthread_mutex_lock(&ob->mu);
		if (r != 0 && ob->err == 0) {
			ob->err = r;
			ob->err_errno = errno;
		}
		if (!skip && r == 0) {
			ob->batches = xreallocarray(ob->batches,
			    ob->nbatches + 1, sizeof(*ob->batches));
			ob->batches[ob->nbatches++] = b;
		}
		td_buf_reset(j.buf);
		ob->free[ob->nfree++] = j.buf;
		pthread_cond_broadcast(&ob->cv);
		pthread_mutex_unlock(&ob->mu);

		/* durable outside the lock: other batches are written
		 * meanwhile (outbox_finish joins every worker); with
		 * nosync, by the caller's syncfs (outbox_nosync) */
		if (fd >= 0) {
			if (ob->nosync)
				r = close(fd) != 0 ? TD_ERR_IO : TD_OK;
			else
				r = sync_batch(fd);
			if (r != 0) {
				pthread_mutex_lock(&ob->mu);
				if (ob->err == 0) {
					ob->err = r;
					ob->err_errno = errno;
				}
				pthread_mutex_unlock(&ob->mu);
			}
		}
	}
	return NULL;
}

void
outbox_nosync(struct outbox_writer *ob)
{
	ob->nosync = 1;
}

int
outbox_open(struct outbox_writer **out, const char *dir, int enc,
    size_t bufmax)
{
	struct outbox_writer *ob;
	long ncpu;
	int i, r;

	*out = NULL;
	if (mkdir(dir, 0750) != 0) {
		r = (errno == ENOSPC) ? TD_ERR_NOSPACE : TD_ERR_IO;
		write_failed(dir, r);
		return r;
	}
	ob = xcalloc(1, sizeof(*ob));
	ob->dir = xstrdup(dir);
	ob->enc = enc;
	ob->next_seq = 1;
	/*
	 * One compressing worker per core this process may run on (its
	 * affinity: taskset(1), a cgroup's cpuset, systemd's CPUAffinity=),
	 * up to OB_MAXTHREADS; identity needs only one. The batches are the
	 * same bytes whatever the number (tests/e2e/threads.sh).
	 */
	ncpu = td_cpus();
	ob->nthreads = enc == OB_ENC_IDENTITY ? 1 : (int)(ncpu < 1 ? 1 :
	    ncpu > OB_MAXTHREADS ? OB_MAXTHREADS : ncpu);
	td_log(TD_LOG_DEBUG, "outbox_open", "threads=%d cpus=%ld",
	    ob->nthreads, ncpu);
	ob->nbuf = ob->nthreads + 2;
	ob->bufs = xcalloc((size_t)ob->nbuf, sizeof(*ob->bufs));
	ob->free = xcalloc((size_t)ob->nbuf, sizeof(*ob->free));
	ob->q = xcalloc((size_t)ob->nbuf, sizeof(*ob->q));
	for (i = 0; i < ob->nbuf; i++) {
		td_buf_init(&ob->bufs[i], 1 << 20, bufmax);
		ob->free[ob->nfree++] = &ob->bufs[i];
	}
	pthread_mutex_init(&ob->mu, NULL);
	pthread_cond_init(&ob->cv, NULL);
	for (i = 0; i < ob->nthreads; i++) {
		struct worker *w = &ob->w[i];

		w->ob = ob;
#ifdef HAVE_ISAL
		if (enc == OB_ENC_GZIP)
			w->isal_lvlbuf = xmalloc(ISAL_DEF_LVL1_DEFAULT);
#else
		if (enc == OB_ENC_GZIP &&
		    (w->gz = libdeflate_alloc_compressor(1)) == NULL)
			td_fatal("libdeflate_alloc_compressor");
#endif
		if (enc == OB_ENC_ZSTD && (w->zs = ZSTD_createCCtx()) == NULL)
			td_fatal("ZSTD_createCCtx");
	}
	*out = ob;
	return TD_OK;
}

/* The workers, with the first batch (see the head of this file). */
static void
ob_start(struct outbox_writer *ob)
{
	int i, r;

	for (i = 0; i < ob->nthreads; i++) {
		if ((r = pthread_create(&ob->w[i].thr, NULL, worker_main,
		    &ob->w[i])) != 0)
			td_fatal("pthread_create: %s", strerror(r));
		ob->running++;
	}
}

struct td_buf *
outbox_buffer(struct outbox_writer *ob)
{
	struct td_buf *b;

	pthread_mutex_lock(&ob->mu);
	while (ob->nfree == 0)
		pthread_cond_wait(&ob->cv, &ob->mu);
	b = ob->free[--ob->nfree];
	pthread_mutex_unlock(&ob->mu);
	return b;
}

int
outbox_submit(struct outbox_writer *ob, struct td_buf *b, uint64_t nrec,
    const struct td_dec *quantity, const struct td_dec *amount)
{
	struct job *j;
	int r;

	/* the workers from the second batch: a file of one batch (most
	 * small drops) has it compressed in outbox_finish, no thread made */
	if (ob->running == 0 && !ob->done && ob->next_seq > 1)
		ob_start(ob);
	pthread_mutex_lock(&ob->mu);
	j = &ob->q[(ob->qhead + ob->qlen) % ob->nbuf];
	j->buf = b;
	j->nrec = nrec;
	td_dec_format(quantity, j->quantity, sizeof(j->quantity));
	if (amount != NULL)
		td_dec_format(amount, j->amount, sizeof(j->amount));
	else
		j->amount[0] = '\0';
	j->seq = ob->next_seq++;
	ob->qlen++;
	r = ob->err;
	pthread_cond_broadcast(&ob->cv);
	pthread_mutex_unlock(&ob->mu);
	return r;
}

static int
batch_cmp(const void *a, const void *b)
{
	const struct ob_batch *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int
outbox_finish(struct outbox_writer *ob, struct ob_batch **batches,
    size_t *n)
{
	int i, r;

	*batches = NULL;
	*n = 0;
	pthread_mutex_lock(&ob->mu);
	ob->done = 1;
	pthread_cond_broadcast(&ob->cv);
	pthread_mutex_unlock(&ob->mu);
	for (i = 0; i < ob->running; i++)
		pthread_join(ob->w[i].thr, NULL);
	if (ob->running == 0)
		(void)worker_main(&ob->w[0]);	/* the one batch, here */
	ob->running = 0;
	r = ob->err;
	/*
	 * Each batch's data is durable (sync_batch); its name in ob->dir is
	 * not synced here. ob->dir is a staging directory that every caller
	 * renames (process_one: outbox/<tid>.tmp -> outbox/<tid>) or moves
	 * the batches out of (ledger.c: into outbox/<tid>/), and then fsyncs
	 * the directory that finally names them (sync_staged, ledger's
	 * td_fsync_dir), before the commit that records the batches. An
	 * fsync here flushed the same directory inode a second time (one
	 * device flush per drop, 0.3-0.8 ms on a VM). A crash before that
	 * later fsync leaves at most a staging directory of an uncommitted
	 * step, which outbox_sweep / clean_partial remove and the step
	 * redoes. (The archive's records/ are hard links made from these
	 * names: a link needs the inode, not a durable old name.)
	 */
	if (r != 0) {
		errno = ob->err_errno;
		return r;
	}
	/* in the order they were submitted, not written */
	if (ob->nbatches > 1)
		qsort(ob->batches, ob->nbatches, sizeof(*ob->batches),
		    batch_cmp);
	*batches = ob->batches;		/* transferred */
	*n = ob->nbatches;
	ob->batches = NULL;
	ob->nbatches = 0;
	return TD_OK;
}

void
outbox_free(struct outbox_writer *ob)
{
	struct ob_batch *b;
	size_t n;
	int i;

	if (ob == NULL)
		return;
	if (!ob->done) {
		(void)outbox_finish(ob, &b, &n);
		x_free(b);
	}
	for (i = 0; i < OB_MAXTHREADS; i++) {
#ifdef HAVE_ISAL
		x_free(ob->w[i].isal_lvlbuf);
#else
		if (ob->w[i].gz != NULL)
			libdeflate_free_compressor(ob->w[i].gz);
#endif
		if (ob->w[i].zs != NULL)
			ZSTD_freeCCtx(ob->w[i].zs);
		x_free(ob->w[i].cbuf);
	}
	for (i = 0; i < ob->nbuf; i++)
		td_buf_free(&ob->bufs[i]);
	x_free(ob->bufs);
	x_free(ob->free);
	x_free(ob->q);
	pthread_mutex_destroy(&ob->mu);
	pthread_cond_destroy(&ob->cv);
	x_free(ob->batches);
	x_free(ob->dir);
	x_free(ob);
}
