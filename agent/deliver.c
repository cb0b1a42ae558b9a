/*
 * deliver.c - delivery of processed transmissions, in the order they were
 * received: every batch, then the rejections, then the manifest.
 *
 * file://DIR: a batch is moved (renamed, or copied across filesystems)
 * from outbox/<tid>/ to DIR/<tid>/ under the same name, so a delivery
 * repeated after a crash overwrites a file with identical bytes.
 *
 * https://URL: POST <url>/batches, <url>/rejections, <url>/transmissions
 * with derived Idempotency-Keys, so a retry after a crash reuses them.
 * Tier 1 failures are retried with exponential backoff and full jitter
 * (Retry-After honoured) behind a circuit breaker kept in state.db.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zlib.h>

#include "td.h"
#include "audit.h"
#include "buf.h"
#include "conf.h"
#include "failpoint.h"
#include "fsutil.h"
#include "hash.h"
#include "json.h"
#include "log.h"
#include "store.h"
#include "forward.h"
#include "outbox.h"
#include "intake.h"

#define IO_BLOCK	(1 << 20)
#define MAX_BODY	((size_t)1 << 30)

struct dtx {
	char		 id[TD_SHA256_HEX];
	char		*name;
	char		*state;
	char		*mv;		/* mapping_version */
	uint64_t	 records, dlq;
	uint64_t	 batches;	/* how many it was cut into */
	int		 rejections_sent;
};

static void
dtx_free(struct dtx *t)
{
	x_free(t->name);
	x_free(t->state);
	x_free(t->mv);
}

/* SHA-256 of a file as hex, or "" when it cannot be read. */
static void
file_sha256(const char *path, char hex[TD_SHA256_HEX])
{
	int fd;

	hex[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	(void)td_sha256_fd(fd, hex);
	close(fd);
}

static char *
derived_key(const char *tid, const char *mv, const char *what)
{
	char hex[TD_SHA256_HEX], *s;

	s = xasprintf("%s\n%s\n%s", tid, mv, what);
	td_sha256_hex(s, strlen(s), hex);
	x_free(s);
	return xstrdup(hex);
}

/* ------------------------------------------------- circuit breaker */

static void
breaker_load(struct td_ctx *x)
{
	sqlite3_stmt *s;

	x->brk_failures = 0;
	x->brk_opened = 0;
	s = store_prepare(x->st, "SELECT value FROM meta WHERE key = "
	    "'breaker'");
	if (sqlite3_step(s) == SQLITE_ROW)
		(void)sscanf((const char *)sqlite3_column_text(s, 0),
		    "%u %lld", &x->brk_failures, &x->brk_opened);
	sqlite3_reset(s);
}

static void
breaker_save(struct td_ctx *x)
{
	sqlite3_stmt *s;
	char v[64];

	snprintf(v, sizeof(v), "%u %lld", x->brk_failures, x->brk_opened);
	if (store_begin(x->st) != 0)
		return;
	s = store_prepare(x->st, "INSERT INTO meta(key, value) VALUES "
	    "('breaker', ?) ON CONFLICT(key) DO UPDATE SET value = "
	    "excluded.value");
	sqlite3_bind_text(s, 1, v, -1, SQLITE_TRANSIENT);
	if (store_step_done(x->st, s) == 0)
		(void)store_commit(x->st);
	else
		store_rollback(x->st);
}

/*
 * POST with retries. Returns FWD_ACK, FWD_REJECT, FWD_HOLD, or FWD_RETRY
 * when the breaker opened (delivery stops for this run).
 */
static int
post_retry(struct td_ctx *x, const char *path, const char *ctype,
    const char *cenc, const char * const *hdrs, const void *body,
    size_t len, const char *what, struct fwd_resp *resp)
{
	uint64_t maxb = td_conf_u64(x->conf, TDK_output_max_backoff);
	uint64_t cool = td_conf_u64(x->conf, TDK_output_breaker_cooldown);
	unsigned maxf = (unsigned)td_conf_u64(x->conf,
	    TDK_output_breaker_failures);
	unsigned attempt = 0;
	uint64_t cap;
	long long now;
	double delay;
	int r;

	for (;;) {
		now = (long long)time(NULL);
		if (x->brk_opened != 0) {
			if (now < x->brk_opened + (long long)cool) {
				td_log(TD_LOG_WARN, "breaker_open", "url=%s "
				    "retry_in=%llds", fwd_url(x->fwd),
				    x->brk_opened + (long long)cool - now);
				return FWD_RETRY;
			}
			td_log(TD_LOG_INFO, "breaker_half_open", "url=%s",
			    fwd_url(x->fwd));
		}
		r = fwd_post(x->fwd, path, ctype, cenc, hdrs, body, len, resp);
		if (r != FWD_RETRY) {
			if (x->brk_failures != 0 || x->brk_opened != 0) {
				td_log(TD_LOG_INFO, "breaker_closed", "url=%s",
				    fwd_url(x->fwd));
				x->brk_failures = 0;
				x->brk_opened = 0;
				breaker_save(x);
			}
			return r;
		}
		x->brk_failures++;
		td_log(TD_LOG_WARN, "delivery_retry", "what=%s status=%ld "
		    "error=%s failures=%u", what, resp->status, resp->error[0] ?
		    resp->error : "-", x->brk_failures);
		if (x->brk_opened != 0 || x->brk_failures >= maxf) {
			/* half-open probe failed, or too many failures */
			x->brk_opened = (long long)time(NULL);
			breaker_save(x);
			td_log(TD_LOG_ERROR, "breaker_opened", "url=%s "
			    "failures=%u cooldown=%llus", fwd_url(x->fwd),
			    x->brk_failures, (unsigned long long)cool);
			return FWD_RETRY;
		}
		breaker_save(x);
		if (resp->retry_after >= 0)
			delay = (double)((uint64_t)resp->retry_after < maxb ?
			    (uint64_t)resp->retry_after : maxb);
		else {
			/* exponential backoff, full jitter */
			cap = attempt < 20 ? (1ULL << attempt) : maxb;
			if (cap > maxb)
				cap = maxb;
			delay = (double)randombytes_uniform(
			    (uint32_t)(cap * 1000 + 1)) / 1000.0;
		}
		attempt++;
		td_log(TD_LOG_INFO, "delivery_backoff", "what=%s delay_ms=%llu",
		    what, (unsigned long long)(delay * 1000));
		{
			struct timespec ts;

			ts.tv_sec = (time_t)delay;
			ts.tv_nsec = (long)((delay - (double)ts.tv_sec) * 1e9);
			while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
				;
		}
	}
}

/* ------------------------------------------------------ batches */

/*
 * Copy src to dst on another filesystem, checking its SHA-256 on the way:
 * staged as dst.tmp beside dst, fsynced, renamed, the directory fsynced.
 * A crash at any point leaves no dst or an intact one (and perhaps the
 * .tmp, which the copy made again truncates and renames).
 */
static int
copy_batch(const char *src, const char *dst, const char *sha)
{
	struct td_afile af;
	struct td_sha256 h;
	unsigned char dg[TD_SHA256_LEN];
	char hex[TD_SHA256_HEX], *blk;
	ssize_t n;
	int fd, r;

	if ((fd = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? TD_ERR_NOTFOUND : TD_ERR_IO;
	if ((r = td_afile_open(&af, dst)) != 0) {
		close(fd);
		return r;
	}
	td_sha256_init(&h);
	blk = xmalloc(IO_BLOCK);
	for (;;) {
		if ((n = read(fd, blk, IO_BLOCK)) < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? TD_ERR_IO : TD_OK;
			break;
		}
		td_sha256_update(&h, blk, (size_t)n);
		if ((r = td_afile_write(&af, blk, (size_t)n)) != 0)
			break;
	}
	close(fd);
	x_free(blk);
	if (r == 0) {
		td_sha256_final(&h, dg);
		td_hex(dg, sizeof(dg), hex);
		if (strcmp(hex, sha) != 0)
			r = TD_ERR_FORMAT;
	}
	if (r != 0) {
		td_afile_abort(&af);
		return r;
	}
	td_failpoint("batch_staged");
	return td_afile_commit(&af);
}

/*
 * Move one batch into the output directory; 0 when it is there, intact.
 * Every step can be repeated: a rename is atomic; across filesystems the
 * batch is copied (unless an earlier run's copy is already in place),
 * then the outbox copy removed; a batch no longer in the outbox must be
 * in the output with its recorded SHA-256.
 */
static int
move_batch(const char *src, const char *dst, const char *sha)
{
	char hex[TD_SHA256_HEX];
	int r;

	if (rename(src, dst) == 0)
		return TD_OK;
	if (errno == EXDEV) {
		/* EXDEV comes before ENOENT: src may be gone as well */
		file_sha256(dst, hex);
		if (access(src, F_OK) == 0) {
			if (strcmp(hex, sha) != 0 &&
			    (r = copy_batch(src, dst, sha)) != 0)
				return r;
			td_failpoint("batch_copied");
			if (unlink(src) != 0)
				return TD_ERR_IO;
			td_failpoint("batch_source_removed");
			return TD_OK;
		}
	} else if (errno == ENOENT)
		file_sha256(dst, hex);
	else
		return TD_ERR_IO;
	/* moved by a run that stopped before recording it */
	return strcmp(hex, sha) == 0 ? TD_OK : TD_ERR_NOTFOUND;
}

/* What went wrong moving a batch, for the log. */
static const char *
move_error(int r)
{
	switch (r) {
	case TD_ERR_NOTFOUND:
		return "batch missing from the outbox";
	case TD_ERR_FORMAT:
		return "the outbox batch does not match its recorded sha256";
	case TD_ERR_NOSPACE:
		return "no space left on the output filesystem";
	}
	return strerror(errno);
}

static int
mark_batches(struct td_ctx *x, const char *tid, const uint64_t *seqs,
    size_t n, const char *state)
{
	sqlite3_stmt *s;
	size_t i;
	int r;

	if (n == 0)
		return TD_OK;
	if ((r = store_begin(x->st)) != 0)
		return r;
	for (i = 0; i < n && r == 0; i++) {
		s = store_prepare(x->st, "UPDATE batches SET state = ?, "
		    "acked_at = ?, attempts = attempts + 1 WHERE "
		    "transmission_id = ? AND seq = ?");
		sqlite3_bind_text(s, 1, state, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)time(NULL));
		sqlite3_bind_text(s, 3, tid, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)seqs[i]);
		r = store_step_done(x->st, s);
	}
	if (r != 0) {
		store_rollback(x->st);
		return r;
	}
	if ((r = store_commit(x->st)) == 0)
		td_failpoint("batches_acked");
	return r;
}

/*
 * Append line (one NDJSON line, '\n' included) to path unless it is
 * there already. Lines of refused batches are appended one at a time,
 * each followed by the removal of its batch's outbox copy, so a line
 * that a crash may have left is the file's last line: only that tail is
 * read, never the whole file. A last line cut short by a crash while
 * it was written (a prefix of line, with no newline) is cut off first.
 */
static int
dlq_append_once(const char *path, const char *line)
{
	struct stat sb;
	size_t len = strlen(line), n, cut;
	off_t off;
	char *tail = NULL;
	int fd, r = TD_OK;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640)) < 0)
		return errno == ENOSPC ? TD_ERR_NOSPACE : TD_ERR_IO;
	if (fstat(fd, &sb) != 0) {
		r = TD_ERR_IO;
		goto out;
	}
	off = sb.st_size;
	n = (uint64_t)sb.st_size < len ? (size_t)sb.st_size : len;
	tail = xmalloc(len + 1);
	if (n > 0 && pread(fd, tail, n, off - (off_t)n) != (ssize_t)n) {
		r = TD_ERR_IO;
		goto out;
	}
	if (n == len && memcmp(tail, line, len) == 0)
		goto out;		/* appended by a run that stopped */
	if (n > 0 && tail[n - 1] != '\n') {
		/* a cut line: the bytes after the last newline */
		for (cut = 0; cut < n && tail[n - 1 - cut] != '\n'; cut++)
			;
		if ((cut < n || (off_t)n == off) &&
		    memcmp(tail + n - cut, line, cut) == 0) {
			off -= (off_t)cut;
			if (ftruncate(fd, off) != 0) {
				r = TD_ERR_IO;
				goto out;
			}
		}
	}
	if (lseek(fd, off, SEEK_SET) != off)
		r = TD_ERR_IO;
	if (r == 0)
		r = td_write_all(fd, line, len);
	if (r == 0 && fsync(fd) != 0)
		r = errno == ENOSPC ? TD_ERR_NOSPACE : TD_ERR_IO;
 out:
	x_free(tail);
	if (close(fd) != 0 && r == 0)
		r = TD_ERR_IO;
	return r;
}

/*
 * A refused batch is recorded in three idempotent steps, so a crash
 * anywhere leaves something the next run finishes: (1) its file is
 * linked into dlq/ (the outbox copy stays); (2) the state rejected and its
 * dead-letter line are committed; (3) the line is appended to
 * dlq/<tid>.ndjson unless it is there already, and the outbox copy is
 * removed. An outbox file of a rejected batch means step 3 is undone.
 * This is step 3 for one batch.
 */
static int
finish_reject(struct td_ctx *x, const char *tid, uint64_t seq,
    const char *line)
{
	char *src, *dlq;
	int r = TD_OK;

	src = xasprintf("%s/%s/batch-%06llu%s", x->outbox, tid,
	    (unsigned long long)seq, outbox_suffix(x->enc));
	if (access(src, F_OK) == 0) {
		dlq = xasprintf("%s/%s.ndjson", x->dlq, tid);
		if ((r = dlq_append_once(dlq, line)) == 0)
			td_failpoint("dlq_appended");
		if (r == 0 && unlink(src) != 0)
			r = TD_ERR_IO;
		x_free(dlq);
	}
	x_free(src);
	return r;
}

/* Step 3 for every refused batch of tid a crash interrupted. */
static int
finish_rejects(struct td_ctx *x, const char *tid)
{
	sqlite3_stmt *s;
	const char *line;
	int r = TD_OK;

	s = store_prepare(x->st, "SELECT seq, reject_info FROM batches WHERE "
	    "transmission_id = ? AND state = 'rejected' ORDER BY seq");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	while (r == 0 && sqlite3_step(s) == SQLITE_ROW)
		if ((line = (const char *)sqlite3_column_text(s, 1)) != NULL)
			r = finish_reject(x, tid, (uint64_t)
			    sqlite3_column_int64(s, 0), line);
	sqlite3_reset(s);
	return r;
}

/* A batch the reconciler refused (400/413/422): Tier 3, to dlq/. */
static int
reject_batch(struct td_ctx *x, const struct dtx *t, uint64_t seq,
    uint64_t nrec, const char *src, const struct fwd_resp *resp)
{
	struct td_buf b;
	sqlite3_stmt *s;
	char *dst;
	int r = TD_OK;

	dst = xasprintf("%s/%s.batch-%06llu%s", x->dlq, t->id,
	    (unsigned long long)seq, outbox_suffix(x->enc));
	(void)unlink(dst);
	if (link(src, dst) != 0 && td_copy_file(src, dst) != 0)
		r = TD_ERR_IO;
	if (r == 0 && td_fsync_dir(x->dlq) != 0)
		r = TD_ERR_IO;
	x_free(dst);
	if (r != 0)
		return r;
	td_buf_init(&b, 1024, 0);
	td_buf_printf(&b, "{\"tier\":3,\"code\":\"rejected_by_reconciler\","
	    "\"message\":\"the reconciler answered %ld to batch %llu\","
	    "\"transmission_id\":\"%s\",\"batch\":%llu,\"records\":%llu,"
	    "\"batch_file\":\"%s.batch-%06llu%s\",\"response\":",
	    resp->status, (unsigned long long)seq, t->id,
	    (unsigned long long)seq, (unsigned long long)nrec, t->id,
	    (unsigned long long)seq, outbox_suffix(x->enc));
	if (td_json_str(&b, resp->body, strlen(resp->body)) != 0)
		td_buf_puts(&b, "null");
	td_buf_puts(&b, "}\n");
	if ((r = store_begin(x->st)) == 0) {
		s = store_prepare(x->st, "UPDATE batches SET state = "
		    "'rejected', reject_info = ?, acked_at = ?, attempts = "
		    "attempts + 1 WHERE transmission_id = ? AND seq = ?");
		sqlite3_bind_text(s, 1, td_buf_cstr(&b), -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)time(NULL));
		sqlite3_bind_text(s, 3, t->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)seq);
		if ((r = store_step_done(x->st, s)) == 0)
			r = store_commit(x->st);
		else
			store_rollback(x->st);
		if (r == 0)
			td_failpoint("batch_rejected");
	}
	if (r == 0)
		r = finish_reject(x, t->id, seq, td_buf_cstr(&b));
	td_buf_free(&b);
	if (r == 0) {
		x->n_dlq += nrec;
		td_log(TD_LOG_ERROR, "batch_rejected", "file=%s batch=%llu "
		    "records=%llu status=%ld code=rejected_by_reconciler",
		    t->name, (unsigned long long)seq,
		    (unsigned long long)nrec, resp->status);
	}
	return r;
}

/* The headers of a request about a transmission (seq 0: not a batch). */
struct hdrs {
	const char	*v[5];		/* NULL-terminated, for fwd_*() */
	char		*own[4];
};

static void
hdrs_make(struct hdrs *h, const struct td_ctx *x, const char *tid,
    const char *key, uint64_t seq, uint64_t total)
{
	memset(h, 0, sizeof(*h));
	h->v[0] = h->own[0] = xasprintf("Idempotency-Key: %s", key);
	h->v[1] = h->own[1] = xasprintf("Tradedrop-Integration: %s",
	    x->integration);
	h->v[2] = h->own[2] = xasprintf("Tradedrop-Transmission: %s", tid);
	if (seq > 0)
		h->v[3] = h->own[3] = xasprintf("Tradedrop-Batch: %llu/%llu",
		    (unsigned long long)seq, (unsigned long long)total);
}

static void
hdrs_free(struct hdrs *h)
{
	size_t i;

	for (i = 0; i < TD_NELEM(h->own); i++)
		x_free(h->own[i]);
	memset(h, 0, sizeof(*h));
}

static int
send_batches(struct td_ctx *x, const struct dtx *t)
{
	sqlite3_stmt *s;
	const char *suf = outbox_suffix(x->enc), *cenc;
	char *obdir, *outdir = NULL, *src = NULL, *dst = NULL, *body;
	struct hdrs h;
	uint64_t *seqs = NULL, *nrecs = NULL, seq, total;
	char **shas = NULL, **keys = NULL;
	size_t n = 0, i, blen;
	struct fwd_resp resp;
	int r = TD_OK, fr;

	obdir = xasprintf("%s/%s", x->outbox, t->id);
	/* a refusal a crash interrupted */
	if ((r = finish_rejects(x, t->id)) != 0)
		goto out;
	total = t->batches;
	s = store_prepare(x->st, "SELECT seq, sha256, idempotency_key, "
	    "records FROM batches WHERE transmission_id = ? AND state = "
	    "'pending' ORDER BY seq");
	sqlite3_bind_text(s, 1, t->id, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		seqs = xreallocarray(seqs, n + 1, sizeof(*seqs));
		nrecs = xreallocarray(nrecs, n + 1, sizeof(*nrecs));
		shas = xreallocarray(shas, n + 1, sizeof(*shas));
		keys = xreallocarray(keys, n + 1, sizeof(*keys));
		seqs[n] = (uint64_t)sqlite3_column_int64(s, 0);
		shas[n] = xstrdup((const char *)sqlite3_column_text(s, 1));
		keys[n] = xstrdup((const char *)sqlite3_column_text(s, 2));
		nrecs[n] = (uint64_t)sqlite3_column_int64(s, 3);
		n++;
	}
	sqlite3_reset(s);

	if (x->fwd == NULL) {
		outdir = xasprintf("%s/%s", x->out_dir, t->id);
		if (td_mkdirs(outdir, 0755) != 0) {
			td_log(TD_LOG_ERROR, "delivery_failed", "output=%s "
			    "error=%s", outdir, strerror(errno));
			r = TD_ERR_IO;
			goto out;
		}
		for (i = 0; i < n && r == 0; i++) {
			x_free(src);
			x_free(dst);
			src = xasprintf("%s/batch-%06llu%s", obdir,
			    (unsigned long long)seqs[i], suf);
			dst = xasprintf("%s/batch-%06llu%s", outdir,
			    (unsigned long long)seqs[i], suf);
			if ((r = move_batch(src, dst, shas[i])) != 0)
				td_log(TD_LOG_ERROR, "delivery_failed",
				    "file=%s batch=%llu output=%s error=%s",
				    t->name, (unsigned long long)seqs[i], dst,
				    move_error(r));
		}
		if (r == 0 && (td_fsync_dir(outdir) != 0 ||
		    td_fsync_dir(obdir) != 0))
			r = TD_ERR_IO;
		if (r == 0)
			r = mark_batches(x, t->id, seqs, n, "acked");
		goto out;
	}

	cenc = x->enc == OB_ENC_GZIP ? "gzip" : x->enc == OB_ENC_ZSTD ?
	    "zstd" : NULL;
	/*
	 * While the breaker is closed, keep several batches in flight; at
	 * the first failure wait for the others, then go on one at a time
	 * with retries and backoff from the first batch still pending.
	 */
	if (x->brk_failures == 0 && x->brk_opened == 0 && n > 1) {
		int stop = 0, slot;
		size_t next = 0;
		struct {
			size_t		 i;
			char		*body;
			struct hdrs	 h;
		} pend[8];

		memset(pend, 0, sizeof(pend));
		while (1) {
			while (!stop && next < n && fwd_inflight(x->fwd) < 4) {
				x_free(src);
				src = xasprintf("%s/batch-%06llu%s", obdir,
				    (unsigned long long)seqs[next], suf);
				if (td_read_file(src, MAX_BODY, &body,
				    &blen) != 0) {
					stop = 1;	/* the slow path reports */
					break;
				}
				hdrs_make(&h, x, t->id, keys[next], seqs[next],
				    total);
				slot = fwd_start(x->fwd, "/batches",
				    "application/x-ndjson", cenc, h.v, body,
				    blen);
				if (slot == FWD_START_FAILED) {
					x_free(body);
					hdrs_free(&h);
					stop = 1;	/* the slow path retries */
					break;
				}
				if (slot < 0 || slot >= 8)
					td_fatal("send_batches: no free slot");
				pend[slot].i = next++;
				pend[slot].body = body;
				pend[slot].h = h;
			}
			if (fwd_inflight(x->fwd) == 0)
				break;
			fr = fwd_wait(x->fwd, &slot, &resp);
			i = pend[slot].i;
			x_free(pend[slot].body);
			hdrs_free(&pend[slot].h);
			memset(&pend[slot], 0, sizeof(pend[slot]));
			if (r != 0)
				continue;
			switch (fr) {
			case FWD_ACK:
				r = mark_batches(x, t->id, &seqs[i], 1,
				    "acked");
				break;
			case FWD_REJECT:
				x_free(src);
				src = xasprintf("%s/batch-%06llu%s", obdir,
				    (unsigned long long)seqs[i], suf);
				r = reject_batch(x, t, seqs[i], nrecs[i], src,
				    &resp);
				break;
			default:
				/* retried, or reported, one at a time below */
				stop = 1;
			}
			if (r != 0)
				stop = 1;
		}
		if (r != 0)
			goto out;
		/* what is still pending goes one at a time */
		for (i = 0; i < n; i++) {
			x_free(shas[i]);
			x_free(keys[i]);
		}
		n = 0;
		s = store_prepare(x->st, "SELECT seq, sha256, "
		    "idempotency_key, records FROM batches WHERE "
		    "transmission_id = ? AND state = 'pending' ORDER BY seq");
		sqlite3_bind_text(s, 1, t->id, -1, SQLITE_STATIC);
		while (sqlite3_step(s) == SQLITE_ROW) {
			seqs[n] = (uint64_t)sqlite3_column_int64(s, 0);
			shas[n] = xstrdup((const char *)
			    sqlite3_column_text(s, 1));
			keys[n] = xstrdup((const char *)
			    sqlite3_column_text(s, 2));
			nrecs[n] = (uint64_t)sqlite3_column_int64(s, 3);
			n++;
		}
		sqlite3_reset(s);
	}
	for (i = 0; i < n && r == 0; i++) {
		seq = seqs[i];
		x_free(src);
		src = xasprintf("%s/batch-%06llu%s", obdir,
		    (unsigned long long)seq, suf);
		if ((r = td_read_file(src, MAX_BODY, &body, &blen)) != 0) {
			td_log(TD_LOG_ERROR, "delivery_failed", "file=%s "
			    "batch=%llu error=%s", t->name,
			    (unsigned long long)seq, "cannot read the outbox "
			    "batch");
			break;
		}
		hdrs_make(&h, x, t->id, keys[i], seq, total);
		fr = post_retry(x, "/batches", "application/x-ndjson", cenc,
		    h.v, body, blen, "batch", &resp);
		x_free(body);
		hdrs_free(&h);
		switch (fr) {
		case FWD_ACK:
			/* committed now: a crash re-sends only what is not */
			r = mark_batches(x, t->id, &seq, 1, "acked");
			break;
		case FWD_REJECT:
			r = reject_batch(x, t, seq, nrecs[i], src, &resp);
			break;
		case FWD_HOLD:
			td_log(TD_LOG_ERROR, "delivery_refused", "file=%s "
			    "batch=%llu status=%ld message=%s", t->name,
			    (unsigned long long)seq, resp.status,
			    resp.status == 401 || resp.status == 403 ?
			    "credentials refused; the batch stays spooled" :
			    "the reconciler refused the request; the batch "
			    "stays spooled");
			r = TD_ERR_STATE;
			break;
		default:
			r = TD_ERR_IO;
		}
	}
 out:
	for (i = 0; i < n; i++) {
		x_free(shas[i]);
		x_free(keys[i]);
	}
	x_free(shas);
	x_free(keys);
	x_free(seqs);
	x_free(nrecs);
	x_free(obdir);
	x_free(outdir);
	x_free(src);
	x_free(dst);
	return r;
}

/*
 * POST a transmission-level document (its rejections or its manifest)
 * with retries, under the key derived from what it is.
 */
static int
post_doc(struct td_ctx *x, const struct dtx *t, const char *what,
    const char *path, const char *ctype, const char *cenc, const void *body,
    size_t len, struct fwd_resp *resp)
{
	struct hdrs h;
	char *k;
	int fr;

	k = derived_key(t->id, t->mv ? t->mv : "", what);
	hdrs_make(&h, x, t->id, k, 0, 0);
	fr = post_retry(x, path, ctype, cenc, h.v, body, len, what, resp);
	x_free(k);
	hdrs_free(&h);
	return fr;
}

/* --------------------------------------------------- rejections */

/*
 * gzip the file src into dst (written atomically), streaming in blocks:
 * memory stays bounded whatever the size of a dead-letter file.
 */
static int
gzip_file(const char *src, const char *dst)
{
	struct td_afile af;
	z_stream z;
	char *in, *out;
	ssize_t n;
	int fd, r = TD_OK, flush, zr;

	if ((fd = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? TD_ERR_NOTFOUND : TD_ERR_IO;
	if ((r = td_afile_open(&af, dst)) != 0) {
		close(fd);
		return r;
	}
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 1, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		td_fatal("deflateInit2 failed");
	in = xmalloc(IO_BLOCK);
	out = xmalloc(IO_BLOCK);
	flush = Z_NO_FLUSH;
	while (r == 0 && flush != Z_FINISH) {
		if ((n = read(fd, in, IO_BLOCK)) < 0) {
			if (errno == EINTR)
				continue;
			r = TD_ERR_IO;
			break;
		}
		flush = n == 0 ? Z_FINISH : Z_NO_FLUSH;
		z.next_in = (Bytef *)in;
		z.avail_in = (uInt)n;
		do {
			z.next_out = (Bytef *)out;
			z.avail_out = IO_BLOCK;
			zr = deflate(&z, flush);
			if (zr == Z_STREAM_ERROR) {
				r = TD_ERR_INTERNAL;
				break;
			}
			if (IO_BLOCK - z.avail_out > 0 && (r = td_afile_write(&af,
			    out, IO_BLOCK - z.avail_out)) != 0)
				break;
		} while (z.avail_out == 0);
	}
	deflateEnd(&z);
	close(fd);
	x_free(in);
	x_free(out);
	if (r != 0) {
		td_afile_abort(&af);
		return r;
	}
	return td_afile_commit(&af);
}

/* Where the rejections of a transmission are: its dlq/ file, or its reason.json. */
static char *
rejection_source(struct td_ctx *x, const struct dtx *t)
{
	if (strcmp(t->state, "quarantined") == 0)
		return xasprintf("%s/%s/reason.json", x->quarantine, t->id);
	return xasprintf("%s/%s.ndjson", x->dlq, t->id);
}

static int
send_rejections(struct td_ctx *x, const struct dtx *t)
{
	struct fwd_resp resp;
	struct stat sb;
	sqlite3_stmt *s;
	void *map = MAP_FAILED;
	char *src = NULL, *gz = NULL, *dir = NULL;
	int r = TD_OK, fr, fd = -1;

	if (t->rejections_sent || !td_conf_u64(x->conf,
	    TDK_output_report_rejections))
		return TD_OK;
	src = rejection_source(x, t);
	if (access(src, F_OK) != 0)
		goto done;	/* nothing was rejected */
	if (x->fwd == NULL) {
		dir = xasprintf("%s/%s", x->out_dir, t->id);
		gz = xasprintf("%s/rejections.ndjson.gz", dir);
		if ((r = td_mkdirs(dir, 0755)) == 0)
			r = gzip_file(src, gz);
		if (r != 0) {
			td_log(TD_LOG_ERROR, "delivery_failed", "output=%s "
			    "error=%s", gz, r == TD_ERR_NOSPACE ? "no space "
			    "left on the output filesystem" : strerror(errno));
			goto out;
		}
	} else {
		gz = xasprintf("%s/%s.rejections.ndjson.gz", x->outbox, t->id);
		if ((r = gzip_file(src, gz)) != 0)
			goto out;
		if ((fd = open(gz, O_RDONLY | O_CLOEXEC)) < 0 ||
		    fstat(fd, &sb) != 0 || (map = mmap(NULL, (size_t)sb.st_size,
		    PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
			r = TD_ERR_IO;
			goto out;
		}
		fr = post_doc(x, t, "rejections", "/rejections",
		    "application/x-ndjson", "gzip", map, (size_t)sb.st_size,
		    &resp);
		if (fr == FWD_REJECT) {
			/* nothing to dead-letter a dead-letter report into */
			td_log(TD_LOG_ERROR, "rejections_refused", "file=%s "
			    "status=%ld", t->name, resp.status);
		} else if (fr != FWD_ACK) {
			r = fr == FWD_HOLD ? TD_ERR_STATE : TD_ERR_IO;
			if (fr == FWD_HOLD)
				td_log(TD_LOG_ERROR, "delivery_refused",
				    "file=%s what=rejections status=%ld",
				    t->name, resp.status);
			goto out;
		}
	}
 done:
	if ((r = store_begin(x->st)) != 0)
		goto out;
	s = store_prepare(x->st, "UPDATE transmissions SET rejections_sent "
	    "= 1 WHERE id = ?");
	sqlite3_bind_text(s, 1, t->id, -1, SQLITE_STATIC);
	if ((r = store_step_done(x->st, s)) == 0)
		r = store_commit(x->st);
	else
		store_rollback(x->st);
	if (r == 0)
		td_failpoint("rejections_sent");
 out:
	if (map != MAP_FAILED)
		munmap(map, (size_t)sb.st_size);
	if (fd >= 0)
		close(fd);
	if (x->fwd != NULL && gz != NULL)
		(void)unlink(gz);	/* a staging copy; made again if needed */
	x_free(src);
	x_free(gz);
	x_free(dir);
	return r;
}

/* ----------------------------------------------------- manifest */

/*
 * The manifest staged at parse time, with counts and control totals
 * recomputed when the reconciler refused batches.
 */
static char *
final_manifest(struct td_ctx *x, const struct dtx *t, const char *staged)
{
	sqlite3_stmt *s;
	struct td_dec q, a, v;
	struct td_buf b;
	const char *c0, *c1, *k0, *k1, *txt;
	char qs[TD_DEC_STRMAX], as[TD_DEC_STRMAX], *ret;
	uint64_t deliv = 0, rej = 0;
	int has_amount = 0;

	memset(&q, 0, sizeof(q));
	memset(&a, 0, sizeof(a));
	s = store_prepare(x->st, "SELECT state, records, quantity_total, "
	    "amount_total FROM batches WHERE transmission_id = ?");
	sqlite3_bind_text(s, 1, t->id, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (strcmp((const char *)sqlite3_column_text(s, 0),
		    "rejected") == 0) {
			rej += (uint64_t)sqlite3_column_int64(s, 1);
			continue;
		}
		deliv += (uint64_t)sqlite3_column_int64(s, 1);
		txt = (const char *)sqlite3_column_text(s, 2);
		if (td_dec_parse(txt, strlen(txt), 0, &v) == 0)
			(void)td_dec_add(&q, &v);
		if (sqlite3_column_type(s, 3) != SQLITE_NULL) {
			txt = (const char *)sqlite3_column_text(s, 3);
			if (td_dec_parse(txt, strlen(txt), 0, &v) == 0)
				(void)td_dec_add(&a, &v);
			has_amount = 1;
		}
	}
	sqlite3_reset(s);
	if (rej == 0)
		return xstrdup(staged);
	c0 = strstr(staged, "\"counts\":{");
	c1 = c0 ? strchr(c0, '}') : NULL;
	k0 = c1 ? strstr(c1, "\"control_totals\":{") : NULL;
	k1 = k0 ? strchr(k0, '}') : NULL;
	if (k1 == NULL)
		return xstrdup(staged);
	td_dec_format(&q, qs, sizeof(qs));
	td_dec_format(&a, as, sizeof(as));
	td_buf_init(&b, strlen(staged) + 256, 0);
	td_buf_append(&b, staged, (size_t)(c0 - staged));
	td_buf_printf(&b, "\"counts\":{\"records\":%llu,\"delivered\":%llu,"
	    "\"dlq\":%llu,\"held\":0,\"duplicate\":0}",
	    (unsigned long long)t->records, (unsigned long long)deliv,
	    (unsigned long long)(t->dlq + rej));
	td_buf_append(&b, c1 + 1, (size_t)(k0 - c1 - 1));
	td_buf_printf(&b, "\"control_totals\":{\"quantity\":\"%s\","
	    "\"amount\":", qs);
	if (has_amount)
		td_buf_printf(&b, "\"%s\"}", as);
	else
		td_buf_puts(&b, "null}");
	td_buf_puts(&b, k1 + 1);
	ret = xstrdup(td_buf_cstr(&b));
	td_buf_free(&b);
	return ret;
}

static int
send_manifest(struct td_ctx *x, const struct dtx *t)
{
	struct fwd_resp resp;
	sqlite3_stmt *s;
	char *obdir, *src, *dst = NULL, *outdir = NULL, *staged = NULL,
	    *man = NULL, *fields = NULL;
	size_t mlen;
	int r, fr;

	obdir = xasprintf("%s/%s", x->outbox, t->id);
	src = xasprintf("%s/manifest.json", obdir);
	if ((r = td_read_file(src, 64 << 20, &staged, &mlen)) != 0) {
		td_log(TD_LOG_ERROR, "delivery_failed", "file=%s error=%s",
		    t->name, "the staged manifest is missing");
		goto out;
	}
	man = final_manifest(x, t, staged);
	if (x->fwd == NULL) {
		outdir = xasprintf("%s/%s", x->out_dir, t->id);
		dst = xasprintf("%s/manifest.json", outdir);
		if ((r = td_write_file_atomic(dst, man, strlen(man))) != 0) {
			td_log(TD_LOG_ERROR, "delivery_failed", "file=%s "
			    "output=%s error=%s", t->name, dst,
			    strerror(errno));
			goto out;
		}
	} else {
		fr = post_doc(x, t, "manifest", "/transmissions",
		    "application/json", NULL, man, strlen(man), &resp);
		if (fr != FWD_ACK) {
			if (fr != FWD_RETRY)
				td_log(TD_LOG_ERROR, "delivery_refused",
				    "file=%s what=manifest status=%ld body=%s",
				    t->name, resp.status, resp.body);
			r = fr == FWD_RETRY ? TD_ERR_IO : TD_ERR_STATE;
			goto out;
		}
	}
	fields = xasprintf("\"output\":\"%s\",\"records\":%llu",
	    x->fwd ? "https" : "file", (unsigned long long)t->records);
	if ((r = store_begin(x->st)) != 0)
		goto out;
	s = store_prepare(x->st, "UPDATE transmissions SET state = "
	    "'delivered', delivered = (SELECT total(records) FROM batches "
	    "WHERE transmission_id = ?1 AND state = 'acked'), dlq = dlq + "
	    "(SELECT total(records) FROM batches WHERE transmission_id = ?1 "
	    "AND state = 'rejected'), updated_at = ?2 WHERE id = ?1");
	sqlite3_bind_text(s, 1, t->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)time(NULL));
	r = store_step_done(x->st, s);
	if (r == 0)
		r = audit_append(x->audit, "transmission_delivered", t->id,
		    fields);
	if (r == 0)
		r = store_commit(x->st);
	else
		store_rollback(x->st);
	if (r != 0)
		goto out;
	td_failpoint("transmission_delivered");
	x->n_delivered++;
	td_log(TD_LOG_INFO, "file_delivered", "file=%s transmission_id=%s "
	    "output=%s", t->name, t->id, x->fwd ? fwd_url(x->fwd) : outdir);
	(void)td_remove_tree(obdir, x->state_dir);
 out:
	x_free(obdir);
	x_free(src);
	x_free(dst);
	x_free(outdir);
	x_free(staged);
	x_free(man);
	x_free(fields);
	return r;
}

/* ------------------------------------------------------- entry */

/*
 * SQLite's progress callback, every VM_TICK virtual machine instructions:
 * the work delivery asks of the database, logged at debug level, so a
 * test can tell that it grows with the number of batches, not faster.
 */
#define VM_TICK		100

static int
count_vm(void *arg)
{
	(*(uint64_t *)arg)++;
	return 0;
}

int
deliver_pending(struct td_ctx *x)
{
	sqlite3_stmt *s;
	struct dtx *ts = NULL;
	char *err = NULL;
	size_t n = 0, i;
	uint64_t ticks = 0, nb = 0;
	int r = 0;

	sqlite3_progress_handler(store_db(x->st), VM_TICK, count_vm, &ticks);

	s = store_prepare(x->st, "SELECT id, name, state, mapping_version, "
	    "records_in, dlq, rejections_sent, batches FROM transmissions WHERE "
	    "state = 'parsed' OR (state = 'quarantined' AND "
	    "rejections_sent = 0) ORDER BY seq");
	while (sqlite3_step(s) == SQLITE_ROW) {
		ts = xreallocarray(ts, n + 1, sizeof(*ts));
		memset(&ts[n], 0, sizeof(ts[n]));
		snprintf(ts[n].id, sizeof(ts[n].id), "%s",
		    (const char *)sqlite3_column_text(s, 0));
		ts[n].name = xstrdup((const char *)sqlite3_column_text(s, 1));
		ts[n].state = xstrdup((const char *)sqlite3_column_text(s, 2));
		if (sqlite3_column_type(s, 3) != SQLITE_NULL)
			ts[n].mv = xstrdup((const char *)
			    sqlite3_column_text(s, 3));
		ts[n].records = (uint64_t)sqlite3_column_int64(s, 4);
		ts[n].dlq = (uint64_t)sqlite3_column_int64(s, 5);
		ts[n].rejections_sent = sqlite3_column_int(s, 6);
		ts[n].batches = (uint64_t)sqlite3_column_int64(s, 7);
		n++;
	}
	sqlite3_reset(s);
	if (n > 0 && x->out_dir == NULL && x->fwd == NULL) {
		if (fwd_open(&x->fwd, x->conf, &err) != 0) {
			td_log(TD_LOG_ERROR, "delivery_failed", "error=%s",
			    err);
			x_free(err);
			x->undelivered = 1;
			r = TD_ERR_INVAL;
		}
		breaker_load(x);
	}
	for (i = 0; i < n; i++) {
		/* in order: a failure holds back everything after it */
		if (r == 0 && strcmp(ts[i].state, "parsed") == 0)
			r = send_batches(x, &ts[i]);
		if (r == 0)
			r = send_rejections(x, &ts[i]);
		if (r == 0 && strcmp(ts[i].state, "parsed") == 0)
			r = send_manifest(x, &ts[i]);
		if (r != 0)
			x->undelivered = 1;
		nb += ts[i].batches;
		dtx_free(&ts[i]);
	}
	x_free(ts);
	sqlite3_progress_handler(store_db(x->st), 0, NULL, NULL);
	td_log(TD_LOG_DEBUG, "delivery_done", "transmissions=%zu batches=%llu "
	    "sql_vm_steps=%llu", n, (unsigned long long)nb,
	    (unsigned long long)(ticks * VM_TICK));
	return r;
}
