/*
 * test-outbox.c - the batch writer: every batch written in order under
 * its own name with the right count, size, SHA-256 and control totals;
 * gzip and zstd batches decode to what was submitted, and the batches
 * concatenated are valid as one gzip or zstd stream (the archive's
 * records, read in order); the list of batches is in sequence order
 * whichever worker wrote first; a full disk is reported as TD_ERR_NOSPACE. The compressing threads
 * run only between the first batch and outbox_finish: intake forks the
 * parser child after outbox_open, and that child must be forked from a
 * process of one thread.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#include "tap.h"
#include "td.h"
#include "buf.h"
#include "decimal.h"
#include "fsutil.h"
#include "hash.h"
#include "outbox.h"

#define NBATCH	7

static char *tmp;

/* The threads of this process (/proc/self/status), or -1. */
static int
threads(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int n = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* The NDJSON text of batch k (1-based): k * 997 lines, a few MiB in all. */
static void
batch_text(struct td_buf *b, int k, uint64_t *nrec)
{
	int i, n = k * 997;

	for (i = 0; i < n; i++)
		td_buf_printf(b, "{\"batch\":%d,\"line\":%d,"
		    "\"pad\":\"%0*d\"}\n", k, i, 1 + (i * 7 + k) % 40, i);
	*nrec = (uint64_t)n;
}

static char *
file_text(const char *path, size_t *len)
{
	char *p = NULL;

	if (td_read_file(path, (size_t)1 << 30, &p, len) != 0)
		return NULL;
	return p;
}

/* Inflate every gzip member of p in turn; NULL if any is invalid. */
static char *
gunzip_all(const char *p, size_t len, size_t *outlen)
{
	struct td_buf b;
	z_stream z;
	char blk[65536];
	int zr = Z_OK;
	char *ret;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return NULL;
	td_buf_init(&b, 1 << 16, 0);
	z.next_in = (Bytef *)(uintptr_t)p;
	z.avail_in = (uInt)len;
	while (z.avail_in > 0) {
		z.next_out = (Bytef *)blk;
		z.avail_out = sizeof(blk);
		zr = inflate(&z, Z_NO_FLUSH);
		td_buf_append(&b, blk, sizeof(blk) - z.avail_out);
		if (zr == Z_STREAM_END) {
			if (z.avail_in > 0 && inflateReset(&z) != Z_OK)
				break;
		} else if (zr != Z_OK)
			break;
	}
	inflateEnd(&z);
	if (zr != Z_STREAM_END) {
		td_buf_free(&b);
		return NULL;
	}
	*outlen = b.len;
	ret = xmalloc(b.len + 1);
	memcpy(ret, b.p, b.len);
	ret[b.len] = '\0';
	td_buf_free(&b);
	return ret;
}

/* Decode every zstd frame of p (ZSTD_decompress takes them in a row). */
static char *
unzstd_all(const char *p, size_t len, size_t want, size_t *outlen)
{
	char *out = xmalloc(want + 1);
	size_t n;

	n = ZSTD_decompress(out, want + 1, p, len);
	if (ZSTD_isError(n)) {
		x_free(out);
		return NULL;
	}
	*outlen = n;
	return out;
}

static char *
decode(int enc, const char *p, size_t len, size_t want, size_t *outlen)
{
	char *c;

	switch (enc) {
	case OB_ENC_GZIP:
		return gunzip_all(p, len, outlen);
	case OB_ENC_ZSTD:
		return unzstd_all(p, len, want, outlen);
	}
	c = xmalloc(len + 1);
	memcpy(c, p, len);
	*outlen = len;
	return c;
}

static void
one_encoding(const char *name)
{
	int enc = outbox_encoding(name);
	struct outbox_writer *ob;
	struct ob_batch *bs;
	struct td_buf *b, all, text[NBATCH + 1];
	struct td_dec q, a;
	uint64_t nrec[NBATCH + 1];
	char *dir, *path, *data, *plain, *cat, hex[TD_SHA256_HEX];
	char qs[TD_DEC_STRMAX];
	size_t n, len, plen, catlen;
	int k, fd, good;

	dir = xasprintf("%s/ob-%s", tmp, name);
	ok(outbox_open(&ob, dir, enc, 8 << 20) == 0, "%s: open", name);
	is_int(threads(), 1, "%s: open starts no thread (the parser child "
	    "is forked after it)", name);
	td_buf_init(&all, 1 << 20, 0);
	for (k = 1; k <= NBATCH; k++) {
		b = outbox_buffer(ob);
		batch_text(b, k, &nrec[k]);
		td_buf_init(&text[k], b->len + 1, 0);
		td_buf_append(&text[k], b->p, b->len);
		snprintf(qs, sizeof(qs), "%d.25", k * 10);
		(void)td_dec_parse(qs, strlen(qs), 0, &q);
		(void)td_dec_parse("-1.5", 4, 0, &a);
		if (outbox_submit(ob, b, nrec[k], &q, k % 2 ? &a : NULL) != 0)
			diag("%s: submit %d failed", name, k);
	}
	ok(outbox_finish(ob, &bs, &n) == 0, "%s: every batch written", name);
	is_int(threads(), 1, "%s: and its threads are gone", name);
	is_int(n, NBATCH, "%s: %d batches", name, NBATCH);
	for (k = 1; k <= (int)n; k++) {
		const struct ob_batch *ob1 = &bs[k - 1];

		path = xasprintf("%s/batch-%06d%s", dir, k, outbox_suffix(enc));
		data = file_text(path, &len);
		good = data != NULL && ob1->seq == (uint64_t)k &&
		    ob1->records == nrec[k] && ob1->bytes == len;
		ok(good, "%s: batch %d: in order, its records and size", name,
		    k);
		hex[0] = '\0';
		if ((fd = open(path, O_RDONLY)) >= 0) {
			(void)td_sha256_fd(fd, hex);
			close(fd);
		}
		is_str(ob1->sha256, hex, "%s: batch %d: sha256 of the file",
		    name, k);
		snprintf(qs, sizeof(qs), "%d.25", k * 10);
		ok(strcmp(ob1->quantity, qs) == 0 &&
		    strcmp(ob1->amount, k % 2 ? "-1.5" : "") == 0,
		    "%s: batch %d: control totals", name, k);
		plain = data ? decode(enc, data, len, text[k].len, &plen) :
		    NULL;
		ok(plain != NULL && plen == text[k].len &&
		    memcmp(plain, text[k].p, plen) == 0,
		    "%s: batch %d decodes to what was submitted", name, k);
		if (data != NULL)
			td_buf_append(&all, data, len);
		x_free(plain);
		x_free(data);
		x_free(path);
	}
	data = xmalloc(all.len + 1);
	memcpy(data, all.p, all.len);
	len = all.len;
	td_buf_reset(&all);
	for (k = 1; k <= NBATCH; k++)
		td_buf_append(&all, text[k].p, text[k].len);
	cat = decode(enc, data, len, all.len, &catlen);
	ok(cat != NULL && catlen == all.len &&
	    memcmp(cat, all.p, catlen) == 0,
	    "%s: the batches concatenated decode as one stream to every "
	    "record in order", name);
	x_free(cat);
	x_free(data);
	for (k = 1; k <= NBATCH; k++)
		td_buf_free(&text[k]);
	td_buf_free(&all);
	x_free(bs);
	outbox_free(ob);
	x_free(dir);
}

/* Submit one batch to a writer whose batch file is /dev/full. */
static int
full_disk(void)
{
	struct outbox_writer *ob;
	struct ob_batch *bs = NULL;
	struct td_buf *b;
	struct td_dec q;
	char *dir, *link;
	uint64_t nrec;
	size_t n;
	int r;

	dir = xasprintf("%s/full", tmp);
	if (outbox_open(&ob, dir, OB_ENC_GZIP, 8 << 20) != 0) {
		x_free(dir);
		return TD_ERR_INTERNAL;
	}
	link = xasprintf("%s/batch-000001%s", dir, outbox_suffix(OB_ENC_GZIP));
	if (symlink("/dev/full", link) != 0)
		diag("symlink: %s", strerror(errno));
	b = outbox_buffer(ob);
	batch_text(b, 1, &nrec);
	(void)td_dec_parse("1", 1, 0, &q);
	(void)outbox_submit(ob, b, nrec, &q, NULL);
	r = outbox_finish(ob, &bs, &n);
	x_free(bs);
	outbox_free(ob);
	x_free(link);
	x_free(dir);
	return r;
}

/*
 * A large first batch and small ones after it: with more than one
 * worker the small ones are written first, and the list is still in
 * sequence order, each entry of its own file.
 */
static void
out_of_order(void)
{
	struct outbox_writer *ob;
	struct ob_batch *bs = NULL;
	struct td_buf *b;
	struct td_dec q;
	char *dir, *path;
	uint64_t nrec;
	size_t n = 0, i;
	int k, good = 1, fd;
	char hex[TD_SHA256_HEX];

	dir = xasprintf("%s/order", tmp);
	if (outbox_open(&ob, dir, OB_ENC_GZIP, 8 << 20) != 0)
		td_fatal("outbox_open %s", dir);
	(void)td_dec_parse("1", 1, 0, &q);
	for (k = 1; k <= 6; k++) {
		b = outbox_buffer(ob);
		if (k == 1) {
			for (i = 0; i < 60000; i++)
				td_buf_printf(b, "{\"line\":%zu,\"h\":\"%08zx"
				    "%08zx\"}\n", i, i * 2654435761u,
				    i * 40503u);
			nrec = 60000;
		} else {
			td_buf_printf(b, "{\"batch\":%d}\n", k);
			nrec = 1;
		}
		(void)outbox_submit(ob, b, nrec, &q, NULL);
	}
	ok(outbox_finish(ob, &bs, &n) == 0 && n == 6,
	    "a large first batch and five small ones: all written");
	for (i = 0; i < n; i++) {
		path = outbox_batch_path(dir, i + 1, OB_ENC_GZIP);
		hex[0] = '\0';
		if ((fd = open(path, O_RDONLY)) >= 0) {
			(void)td_sha256_fd(fd, hex);
			close(fd);
		}
		if (bs[i].seq != i + 1 || strcmp(bs[i].sha256, hex) != 0 ||
		    bs[i].records != (i == 0 ? 60000u : 1u)) {
			diag("entry %zu: seq %llu, %llu records", i,
			    (unsigned long long)bs[i].seq,
			    (unsigned long long)bs[i].records);
			good = 0;
		}
		x_free(path);
	}
	ok(good, "the batches are listed in sequence order, each with its "
	    "file's sha256 (%ld cpus)", td_cpus());
	x_free(bs);
	outbox_free(ob);
	x_free(dir);
}

int
main(void)
{
	char dir[] = "/tmp/td-test-outbox.XXXXXX", *p, *cmd;
	struct outbox_writer *ob;
	struct ob_batch *bs;
	size_t n;

	if (mkdtemp(dir) == NULL)
		td_fatal("mkdtemp");
	tmp = dir;

	is_str(outbox_suffix(outbox_encoding("gzip")), ".ndjson.gz",
	    "gzip batches end in .ndjson.gz");
	is_str(outbox_suffix(outbox_encoding("zstd")), ".ndjson.zst",
	    "zstd batches end in .ndjson.zst");
	is_str(outbox_suffix(outbox_encoding("identity")), ".ndjson",
	    "identity batches end in .ndjson");

	one_encoding("gzip");
	one_encoding("zstd");
	one_encoding("identity");
	out_of_order();

	is_int(full_disk(), TD_ERR_NOSPACE,
	    "a full disk under a batch file: TD_ERR_NOSPACE");

	p = xasprintf("%s/ob-none", dir);
	bs = NULL;
	ok(outbox_open(&ob, p, OB_ENC_GZIP, 1 << 20) == 0 &&
	    outbox_finish(ob, &bs, &n) == 0 && n == 0 && threads() == 1,
	    "an outbox given no batch finishes with none, and no thread");
	x_free(bs);
	outbox_free(ob);
	x_free(p);

	p = xasprintf("%s/ob-gzip", dir);
	ok(outbox_open(&ob, p, OB_ENC_GZIP, 1 << 20) == TD_ERR_IO,
	    "a directory that exists already is refused");
	x_free(p);

	cmd = xasprintf("rm -rf '%s'", dir);
	(void)!system(cmd);
	x_free(cmd);
	return done_testing();
}
