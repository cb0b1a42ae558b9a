/*
 * deliver.c - file:// delivery of parsed transmissions, in the order
 * they were received: every batch first, the manifest last.
 *
 * A batch is moved (renamed, or copied across filesystems) from
 * outbox/<tid>/ to DIR/<tid>/ under the same name, so a delivery
 * repeated after a crash overwrites a file with identical bytes.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "td.h"
#include "audit.h"
#include "conf.h"
#include "fsutil.h"
#include "hash.h"
#include "log.h"
#include "store.h"
#include "outbox.h"
#include "intake.h"

#define IO_BLOCK	(1 << 20)

/* SHA-256 of a file as hex, or "" when it cannot be read. */
static void
file_sha256(const char *path, char hex[TD_SHA256_HEX])
{
	struct td_sha256 h;
	unsigned char dg[TD_SHA256_LEN];
	char *blk;
	ssize_t n;
	int fd;

	hex[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	blk = xmalloc(IO_BLOCK);
	td_sha256_init(&h);
	while ((n = read(fd, blk, IO_BLOCK)) > 0)
		td_sha256_update(&h, blk, (size_t)n);
	close(fd);
	x_free(blk);
	if (n < 0)
		return;
	td_sha256_final(&h, dg);
	td_hex(dg, sizeof(dg), hex);
}


/* Move one batch into the output; 0 when it is there, intact. */
static int
move_batch(const char *src, const char *dst, const char *sha)
{
	char hex[TD_SHA256_HEX];

	if (rename(src, dst) == 0)
		return TD_OK;
	if (errno == EXDEV) {
		if (td_copy_file(src, dst) != 0)
			return TD_ERR_IO;
		(void)unlink(src);
		return TD_OK;
	}
	if (errno != ENOENT)
		return TD_ERR_IO;
	/* moved by a run that stopped before recording it */
	file_sha256(dst, hex);
	return strcmp(hex, sha) == 0 ? TD_OK : TD_ERR_NOTFOUND;
}

static int
deliver_one(struct td_ctx *x, const char *tid, const char *name)
{
	sqlite3_stmt *s;
	const char *suf = outbox_suffix(x->enc);
	char *obdir, *outdir, *src = NULL, *dst = NULL, *man = NULL;
	char *fields = NULL;
	size_t mlen;
	uint64_t seq;
	int r = TD_OK, n = 0;

	obdir = xasprintf("%s/%s", x->outbox, tid);
	outdir = xasprintf("%s/%s", x->out_dir, tid);
	if (td_mkdirs(outdir, 0755) != 0) {
		td_log(TD_LOG_ERROR, "delivery_failed", "output=%s error=%s",
		    outdir, strerror(errno));
		r = TD_ERR_IO;
		goto out;
	}
	s = store_prepare(x->st, "SELECT seq, sha256 FROM batches WHERE "
	    "transmission_id = ? AND state = 'pending' ORDER BY seq");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	while (r == 0 && sqlite3_step(s) == SQLITE_ROW) {
		seq = (uint64_t)sqlite3_column_int64(s, 0);
		x_free(src);
		x_free(dst);
		src = xasprintf("%s/batch-%06llu%s", obdir,
		    (unsigned long long)seq, suf);
		dst = xasprintf("%s/batch-%06llu%s", outdir,
		    (unsigned long long)seq, suf);
		r = move_batch(src, dst,
		    (const char *)sqlite3_column_text(s, 1));
		if (r != 0)
			td_log(TD_LOG_ERROR, "delivery_failed", "file=%s "
			    "batch=%llu output=%s error=%s", name,
			    (unsigned long long)seq, dst, r == TD_ERR_NOTFOUND ?
			    "batch missing from the outbox" : strerror(errno));
		n++;
	}
	sqlite3_reset(s);
	if (r != 0)
		goto out;
	if (td_fsync_dir(outdir) != 0 || td_fsync_dir(obdir) != 0) {
		r = TD_ERR_IO;
		goto out;
	}
	if ((r = store_begin(x->st)) != 0)
		goto out;
	s = store_prepare(x->st, "UPDATE batches SET state = 'acked', "
	    "acked_at = ?, attempts = attempts + 1 WHERE transmission_id = ? "
	    "AND state = 'pending'");
	sqlite3_bind_int64(s, 1, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(s, 2, tid, -1, SQLITE_STATIC);
	if ((r = store_step_done(x->st, s)) != 0 ||
	    (r = store_commit(x->st)) != 0) {
		store_rollback(x->st);
		goto out;
	}

	/* the manifest, last */
	x_free(src);
	x_free(dst);
	src = xasprintf("%s/manifest.json", obdir);
	dst = xasprintf("%s/manifest.json", outdir);
	if ((r = td_read_file(src, 64 << 20, &man, &mlen)) != 0 ||
	    (r = td_write_file_atomic(dst, man, mlen)) != 0) {
		td_log(TD_LOG_ERROR, "delivery_failed", "file=%s output=%s "
		    "error=%s", name, dst, strerror(errno));
		goto out;
	}
	fields = xasprintf("\"output\":\"file\",\"batches\":%d", n);
	if ((r = store_begin(x->st)) != 0)
		goto out;
	s = store_prepare(x->st, "UPDATE transmissions SET state = "
	    "'delivered', updated_at = ? WHERE id = ?");
	sqlite3_bind_int64(s, 1, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(s, 2, tid, -1, SQLITE_STATIC);
	r = store_step_done(x->st, s);
	if (r == 0)
		r = audit_append(x->audit, "transmission_delivered", tid,
		    fields);
	if (r == 0)
		r = store_commit(x->st);
	else
		store_rollback(x->st);
	if (r != 0)
		goto out;
	x->n_delivered++;
	td_log(TD_LOG_INFO, "file_delivered", "file=%s transmission_id=%s "
	    "output=%s", name, tid, outdir);
	(void)td_remove_tree(obdir, x->state_dir);
 out:
	x_free(obdir);
	x_free(outdir);
	x_free(src);
	x_free(dst);
	x_free(man);
	x_free(fields);
	return r;
}

int
deliver_pending(struct td_ctx *x)
{
	sqlite3_stmt *s;
	char **ids = NULL, **names = NULL;
	size_t n = 0, i;
	int r = 0;

	s = store_prepare(x->st, "SELECT id, name FROM transmissions WHERE "
	    "state = 'parsed' ORDER BY seq");
	while (sqlite3_step(s) == SQLITE_ROW) {
		ids = xreallocarray(ids, n + 1, sizeof(*ids));
		names = xreallocarray(names, n + 1, sizeof(*names));
		ids[n] = xstrdup((const char *)sqlite3_column_text(s, 0));
		names[n++] = xstrdup((const char *)sqlite3_column_text(s, 1));
	}
	sqlite3_reset(s);
	for (i = 0; i < n; i++) {
		/* in order: a failure holds back everything after it */
		if (r == 0 && (r = deliver_one(x, ids[i], names[i])) != 0)
			x->undelivered = 1;
		x_free(ids[i]);
		x_free(names[i]);
	}
	x_free(ids);
	x_free(names);
	return r;
}
