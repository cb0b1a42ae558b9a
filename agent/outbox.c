/*
 * outbox.c - the batch writer thread: compress, hash, write.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libdeflate.h>
#include <zstd.h>

#include "td.h"
#include "buf.h"
#include "fsutil.h"
#include "hash.h"
#include "outbox.h"

#define OB_NBUF		3	/* one being filled, two queued */

struct job {
	struct td_buf	*buf;
	uint64_t	 nrec;
};

struct outbox_writer {
	char		*dir;
	int		 enc;
	int		 recfd;		/* records file, or -1 */
	struct td_buf	 bufs[OB_NBUF];
	struct td_buf	*free[OB_NBUF];
	int		 nfree;
	struct job	 q[OB_NBUF];
	int		 qhead, qlen;
	int		 done;		/* no more jobs */
	int		 err;		/* first error of the thread */
	int		 err_errno;
	pthread_t	 thr;
	int		 started;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct ob_batch	*batches;
	size_t		 nbatches;
	/* thread-only */
	struct libdeflate_compressor *gz;
	ZSTD_CCtx	*zs;
	char		*cbuf;
	size_t		 cbufsz;
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

int
outbox_encoding(const char *name)
{
	if (strcmp(name, "zstd") == 0)
		return OB_ENC_ZSTD;
	if (strcmp(name, "identity") == 0)
		return OB_ENC_IDENTITY;
	return OB_ENC_GZIP;
}

/* Compress, hash and write one batch (writer thread). */
static int
write_batch(struct outbox_writer *ob, const struct job *j)
{
	struct ob_batch b;
	struct td_sha256 h;
	unsigned char dg[TD_SHA256_LEN];
	const char *data;
	size_t n, bound;
	char *path;
	int fd, r;

	memset(&b, 0, sizeof(b));
	b.seq = ob->nbatches + 1;
	b.records = j->nrec;
	switch (ob->enc) {
	case OB_ENC_GZIP:
		bound = libdeflate_gzip_compress_bound(ob->gz, j->buf->len);
		break;
	case OB_ENC_ZSTD:
		bound = ZSTD_compressBound(j->buf->len);
		break;
	default:
		bound = 0;
	}
	if (bound > ob->cbufsz) {
		ob->cbuf = xrealloc(ob->cbuf, bound);
		ob->cbufsz = bound;
	}
	switch (ob->enc) {
	case OB_ENC_GZIP:
		n = libdeflate_gzip_compress(ob->gz, j->buf->p, j->buf->len,
		    ob->cbuf, ob->cbufsz);
		if (n == 0)
			return TD_ERR_INTERNAL;
		data = ob->cbuf;
		break;
	case OB_ENC_ZSTD:
		n = ZSTD_compressCCtx(ob->zs, ob->cbuf, ob->cbufsz, j->buf->p,
		    j->buf->len, 1);
		if (ZSTD_isError(n))
			return TD_ERR_INTERNAL;
		data = ob->cbuf;
		break;
	default:
		data = j->buf->p;
		n = j->buf->len;
	}
	b.bytes = n;
	td_sha256_init(&h);
	td_sha256_update(&h, data, n);
	td_sha256_final(&h, dg);
	td_hex(dg, sizeof(dg), b.sha256);

	path = xasprintf("%s/batch-%06llu%s", ob->dir,
	    (unsigned long long)b.seq, outbox_suffix(ob->enc));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	x_free(path);
	if (fd < 0)
		return (errno == ENOSPC || errno == EDQUOT) ? TD_ERR_NOSPACE :
		    TD_ERR_IO;
	r = td_write_all(fd, data, n);
	if (close(fd) != 0 && r == 0)
		r = TD_ERR_IO;
	if (r == 0 && ob->recfd >= 0)
		r = td_write_all(ob->recfd, data, n);
	if (r != 0)
		return r;
	ob->batches = xreallocarray(ob->batches, ob->nbatches + 1,
	    sizeof(*ob->batches));
	ob->batches[ob->nbatches++] = b;
	return TD_OK;
}

static void *
writer_main(void *arg)
{
	struct outbox_writer *ob = arg;
	struct job j;
	int r;

	for (;;) {
		pthread_mutex_lock(&ob->mu);
		while (ob->qlen == 0 && !ob->done)
			pthread_cond_wait(&ob->cv, &ob->mu);
		if (ob->qlen == 0 && ob->done) {
			pthread_mutex_unlock(&ob->mu);
			break;
		}
		j = ob->q[ob->qhead];
		pthread_mutex_unlock(&ob->mu);

		r = ob->err == 0 ? write_batch(ob, &j) : 0;
		td_buf_reset(j.buf);

		pthread_mutex_lock(&ob->mu);
		if (r != 0 && ob->err == 0) {
			ob->err = r;
			ob->err_errno = errno;
		}
		ob->qhead = (ob->qhead + 1) % OB_NBUF;
		ob->qlen--;
		ob->free[ob->nfree++] = j.buf;
		pthread_cond_broadcast(&ob->cv);
		pthread_mutex_unlock(&ob->mu);
	}
	return NULL;
}

int
outbox_open(struct outbox_writer **out, const char *dir,
    const char *records_path, int enc, size_t bufmax)
{
	struct outbox_writer *ob;
	int i;

	*out = NULL;
	if (mkdir(dir, 0750) != 0)
		return (errno == ENOSPC) ? TD_ERR_NOSPACE : TD_ERR_IO;
	ob = xcalloc(1, sizeof(*ob));
	ob->dir = xstrdup(dir);
	ob->enc = enc;
	ob->recfd = -1;
	if (records_path != NULL) {
		ob->recfd = open(records_path, O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0640);
		if (ob->recfd < 0) {
			int r = errno == ENOSPC ? TD_ERR_NOSPACE : TD_ERR_IO;

			x_free(ob->dir);
			x_free(ob);
			return r;
		}
	}
	for (i = 0; i < OB_NBUF; i++) {
		td_buf_init(&ob->bufs[i], 1 << 20, bufmax);
		ob->free[ob->nfree++] = &ob->bufs[i];
	}
	if (enc == OB_ENC_GZIP &&
	    (ob->gz = libdeflate_alloc_compressor(1)) == NULL)
		td_fatal("libdeflate_alloc_compressor");
	if (enc == OB_ENC_ZSTD && (ob->zs = ZSTD_createCCtx()) == NULL)
		td_fatal("ZSTD_createCCtx");
	pthread_mutex_init(&ob->mu, NULL);
	pthread_cond_init(&ob->cv, NULL);
	if (pthread_create(&ob->thr, NULL, writer_main, ob) != 0)
		td_fatal("pthread_create: %s", strerror(errno));
	ob->started = 1;
	*out = ob;
	return TD_OK;
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
outbox_submit(struct outbox_writer *ob, struct td_buf *b, uint64_t nrec)
{
	int r;

	pthread_mutex_lock(&ob->mu);
	ob->q[(ob->qhead + ob->qlen) % OB_NBUF].buf = b;
	ob->q[(ob->qhead + ob->qlen) % OB_NBUF].nrec = nrec;
	ob->qlen++;
	r = ob->err;
	pthread_cond_broadcast(&ob->cv);
	pthread_mutex_unlock(&ob->mu);
	return r;
}

int
outbox_finish(struct outbox_writer *ob, struct ob_batch **batches,
    size_t *n)
{
	int r;

	*batches = NULL;
	*n = 0;
	pthread_mutex_lock(&ob->mu);
	ob->done = 1;
	pthread_cond_broadcast(&ob->cv);
	pthread_mutex_unlock(&ob->mu);
	if (ob->started) {
		pthread_join(ob->thr, NULL);
		ob->started = 0;
	}
	r = ob->err;
	if (r == 0 && ob->recfd >= 0 && close(ob->recfd) != 0)
		r = TD_ERR_IO;
	else if (ob->recfd >= 0 && r != 0)
		close(ob->recfd);
	ob->recfd = -1;
	if (r != 0) {
		errno = ob->err_errno;
		return r;
	}
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
	if (ob->started) {
		(void)outbox_finish(ob, &b, &n);
		x_free(b);
	}
	if (ob->recfd >= 0)
		close(ob->recfd);
	for (i = 0; i < OB_NBUF; i++)
		td_buf_free(&ob->bufs[i]);
	if (ob->gz != NULL)
		libdeflate_free_compressor(ob->gz);
	if (ob->zs != NULL)
		ZSTD_freeCCtx(ob->zs);
	pthread_mutex_destroy(&ob->mu);
	pthread_cond_destroy(&ob->cv);
	x_free(ob->cbuf);
	x_free(ob->batches);
	x_free(ob->dir);
	x_free(ob);
}
