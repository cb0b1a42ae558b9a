/*
 * deliver.c - delivery of processed transmissions, in the order they were
 * received: every batch, then the rejections, then the manifest (built
 * from state.db by manifest.c, as processing built the copy it archived).
 *
 * file://DIR: a batch is moved (renamed, or copied across filesystems)
 * from outbox/<tid>/ to DIR/<tid>/ under the same name, so a delivery
 * repeated after a crash overwrites a file with identical bytes.
 *
 * https://URL: POST <url>/batches, <url>/rejections, <url>/transmissions
 * with derived Idempotency-Keys, so a retry after a crash reuses them.
 * Tier 1 failures are retried with exponential backoff and full jitter
 * (Retry-After honoured) behind a circuit breaker kept in state.db
 * (backoff.c).
 *
 * Delivery goes in steps (deliver_step): a step does what can be done
 * now and, when a request is to be retried after a backoff, returns the
 * time to come back instead of sleeping. Where it stopped needs no
 * memory: the state of every batch is in state.db, and a step starts
 * again from the first transmission, and the first batch, not yet
 * delivered; only the retry count of the request being retried is kept
 * between steps. HTTP requests themselves still block in fwd_wait.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "td.h"
#include "clock.h"
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
#include "backoff.h"
#include "ctx.h"
#include "manifest.h"
#include "tx.h"
#include "deliver.h"
#include "ledger.h"

#define IO_BLOCK	(1 << 20)
#define MAX_BODY	((size_t)1 << 30)
#define POST_LATER	(-100)	/* post_retry: again at wait_until */

struct deliverer {
	struct td_ctx	*x;
	struct backoff	 brk;		/* the output's breaker */
	struct backoff_policy pol;
	int64_t		 wait_until;	/* when to retry (deliver_clock_ms) */
	/* the request being retried: its Idempotency-Key, its failures */
	char		 retry_key[TD_SHA256_HEX];
	unsigned	 attempt;
	uint64_t	 ticks;		/* SQLite progress callbacks */
	uint64_t	 batches;	/* of the transmissions gone through */
	size_t		 ntx;
	/* send_rejections found none, and left rejections_sent to the
	 * delivered commit of send_manifest (of the same transmission) */
	int		 rej_none;
	/* a file:// delivery group is open (gopen): its transmissions,
	 * what each is to be recorded (dgroup_end) */
	struct dmember	*g;
	size_t		 gn;
	int		 gopen;
	int64_t		 gsince;	/* td_mono_ms */
};

/*
 * A file:// delivery group: the commits of up to DGROUP_MAX
 * transmissions' delivery steps (batches acked, rejections sent,
 * delivered) made one transaction, so that audit.log and state.db's log
 * are flushed once for the group, not three times a transmission. The
 * files are moved and the manifests written first, with no transaction
 * open: what each step is to record is kept (struct dmember), and the
 * group's transaction (dgroup_end) records it all, each transmission a
 * savepoint of it. So state.db's write lock is never held while the
 * output filesystem is written: a slow or hung one does not hold back
 * the intake, nor a command, past its busy timeout. The group is
 * recorded when it is full, DGROUP_HOLD_MS after its first
 * transmission, at a failure and at the end of the step. A stop before
 * the commit leaves the group's transmissions parsed, their batches and
 * manifests in the output: the next run finds each batch there with its
 * SHA-256 (move_batch), writes the same manifest again, and records
 * them, as after a stop before any delivery commit. Over https:// each
 * step commits alone.
 */
#define DGROUP_MAX	32
#define DGROUP_HOLD_MS	100
#if DGROUP_MAX > AUDIT_GROUP_STEPS
#error "DGROUP_MAX > AUDIT_GROUP_STEPS: see audit_tail_ok"
#endif
struct dmember {
	char		*name, *tid, *outdir, *obdir;
	struct pbatch	*acks;		/* moved: to record acked */
	size_t		 nacks;
	int		 rej_sent;	/* rejections_sent to set */
	int		 delivered;	/* its manifest written */
	int		 rej_none;	/* see deliverer.rej_none */
	char		*fields;	/* of its transmission_delivered line */
};

/* A batch still to deliver. */
struct pbatch {
	uint64_t	 seq;
	uint64_t	 records;
	char		 sha256[TD_SHA256_HEX];
	char		 key[TD_SHA256_HEX];	/* Idempotency-Key */
};

/* dir/batch-NNNNNN.ndjson.gz (or .zst, .ndjson) */
/*
 * The encoding of t's batches: the one they were written in (kept in
 * state.db), not today's output_encoding, which may have changed since.
 */
static int
batch_enc(const struct td_ctx *x, const struct tx *t)
{
	return t->batch_encoding != NULL ? outbox_encoding(t->batch_encoding) :
	    x->enc;
}

static char *
batch_path(const struct td_ctx *x, const struct tx *t, const char *dir,
    uint64_t seq)
{
	return outbox_batch_path(dir, seq, batch_enc(x, t));
}

/*
 * SHA-256 of a batch an earlier run put in the output, as hex, or "" when
 * it cannot be read or is not one: the output may be writable by its
 * reader (a transmission's directory they made first, see out_tid_dir),
 * and a FIFO there blocked the delivery for good, a link to a device or a
 * large file of theirs read without end. Only a file of ours is read: not
 * a link, nor a FIFO, opened without blocking.
 */
static void
file_sha256(const char *path, char hex[TD_SHA256_HEX])
{
	struct stat sb;
	int fd;

	hex[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) < 0)
		return;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    sb.st_uid == geteuid())
		(void)td_sha256_fd(fd, hex);
	close(fd);
}

char *
deliver_key(const char *tid, const char *mv, const char *what)
{
	char hex[TD_SHA256_HEX], *s;

	s = xasprintf("%s\n%s\n%s", tid, mv, what);
	td_sha256_hex(s, strlen(s), hex);
	x_free(s);
	return xstrdup(hex);
}

char *
deliver_batch_key(const char *tid, const char *mv, uint64_t seq)
{
	char what[24];

	snprintf(what, sizeof(what), "%llu", (unsigned long long)seq);
	return deliver_key(tid, mv, what);
}

/* ------------------------------------------------- circuit breaker */

/* The request under key is tried: a new one starts at attempt 0. */
static void
retry_of(struct deliverer *d, const char *key)
{
	if (strcmp(d->retry_key, key) != 0) {
		snprintf(d->retry_key, sizeof(d->retry_key), "%s", key);
		d->attempt = 0;
	}
}

/* A Tier 1 answer (or none) to a request: the reason, for the log. */
static void
log_retry(const struct deliverer *d, const char *what,
    const struct fwd_resp *resp)
{
	td_log(TD_LOG_WARN, "delivery_retry", "what=%s status=%ld "
	    "error=%s failures=%u", what, resp->status, resp->error[0] ?
	    resp->error : "-", d->brk.failures);
}

/*
 * A failed attempt of the request under key (a Tier 1 answer, or none):
 * logged with its reason and counted by the breaker. Returns FWD_RETRY
 * when that opened the breaker (delivery stops for this run), else
 * POST_LATER with d->wait_until set: exponential backoff with full
 * jitter, or Retry-After. key tells a retry of the same request (its
 * backoff grows) from a new one.
 */
static int
post_failed(struct deliverer *d, const char *key, const char *what,
    const struct fwd_resp *resp)
{
	struct td_ctx *x = d->x;
	struct backoff *b = &d->brk;
	uint64_t delay_ms;
	int64_t now;
	int opened;

	retry_of(d, key);
	now = td_time();
	opened = backoff_failed(b, &d->pol, now);
	log_retry(d, what, resp);
	(void)backoff_save(x->st, b);
	if (opened) {
		/* half-open probe failed, or too many failures */
		td_log(TD_LOG_ERROR, "breaker_opened", "url=%s "
		    "failures=%u cooldown=%llus", fwd_url(x->fwd),
		    b->failures, (unsigned long long)(b->next_at - now));
		d->retry_key[0] = '\0';
		return FWD_RETRY;
	}
	if (resp->retry_after >= 0)
		delay_ms = ((uint64_t)resp->retry_after < d->pol.retry_max ?
		    (uint64_t)resp->retry_after : d->pol.retry_max) * 1000;
	else
		delay_ms = backoff_retry_ms(&d->pol, d->attempt);
	d->attempt++;
	td_log(TD_LOG_INFO, "delivery_backoff", "what=%s delay_ms=%llu",
	    what, (unsigned long long)delay_ms);
	d->wait_until = deliver_clock_ms() + (int64_t)delay_ms;
	return POST_LATER;
}

/*
 * One attempt of a POST, with the breaker's bookkeeping. Returns FWD_ACK,
 * FWD_REJECT, FWD_HOLD; FWD_RETRY when the breaker is, or just went,
 * open (delivery stops for this run); POST_LATER when the request is to
 * be tried again at d->wait_until (post_failed).
 */
static int
post_retry(struct deliverer *d, const char *key, const char *path,
    const char *ctype, const char *cenc, const char * const *hdrs,
    const void *body, size_t len, const char *what, struct fwd_resp *resp)
{
	struct td_ctx *x = d->x;
	struct backoff *b = &d->brk;
	int64_t now;
	int r;

	retry_of(d, key);
	now = td_time();
	switch (backoff_state(b, now)) {
	case BACKOFF_OPEN:
		td_log(TD_LOG_WARN, "breaker_open", "url=%s retry_in=%llds",
		    fwd_url(x->fwd), (long long)(b->next_at - now));
		return FWD_RETRY;
	case BACKOFF_HALF_OPEN:
		td_log(TD_LOG_INFO, "breaker_half_open", "url=%s",
		    fwd_url(x->fwd));
		break;
	}
	r = fwd_post(x->fwd, path, ctype, cenc, hdrs, body, len, resp);
	if (r != FWD_RETRY) {
		if (backoff_succeeded(b)) {
			td_log(TD_LOG_INFO, "breaker_closed", "url=%s",
			    fwd_url(x->fwd));
			(void)backoff_save(x->st, b);
		}
		d->retry_key[0] = '\0';
		return r;
	}
	return post_failed(d, key, what, resp);
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

/*
 * The member of the open delivery group for t: the last one, or a new
 * one (DGROUP_MAX).
 */
static struct dmember *
dmember_of(struct deliverer *d, const struct tx *t)
{
	struct dmember *m;

	if (d->gn > 0 && strcmp(d->g[d->gn - 1].tid, t->id) == 0)
		return &d->g[d->gn - 1];
	d->g = xreallocarray(d->g, d->gn + 1, sizeof(*d->g));
	m = &d->g[d->gn++];
	memset(m, 0, sizeof(*m));
	m->name = xstrdup(t->name);
	m->tid = xstrdup(t->id);
	return m;
}

/* Mark batches delivered, in the transaction open. */
static int
acks_exec(struct td_ctx *x, const char *tid, const struct pbatch *pb,
    size_t n)
{
	sqlite3_stmt *s;
	size_t i;
	int r = TD_OK;

	for (i = 0; i < n && r == 0; i++) {
		s = store_prepare(x->st, "UPDATE batches SET state = "
		    "'acked', acked_at = ?, attempts = attempts + 1 WHERE "
		    "transmission_id = ? AND seq = ?");
		sqlite3_bind_int64(s, 1, (sqlite3_int64)td_time());
		sqlite3_bind_text(s, 2, tid, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)pb[i].seq);
		r = store_step_done(x->st, s);
	}
	return r;
}

/* Record batches as delivered, in one transaction. */
static int
ack_batches(struct td_ctx *x, const char *tid, const struct pbatch *pb,
    size_t n)
{
	int r;

	if (n == 0)
		return TD_OK;
	if ((r = store_begin(x->st)) != 0)
		return r;
	if ((r = store_end(x->st, acks_exec(x, tid, pb, n))) == 0)
		td_failpoint("batches_acked");
	return r;
}

/* The batches of tid still pending, in order. */
static void
load_pending(struct td_ctx *x, const char *tid, struct pbatch **out,
    size_t *np)
{
	sqlite3_stmt *s;
	struct pbatch *pb = NULL;
	size_t n = 0, cap = 0;

	s = store_prepare(x->st, "SELECT seq, sha256, idempotency_key, "
	    "records FROM batches WHERE transmission_id = ? AND state = "
	    "'pending' ORDER BY seq");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			pb = xreallocarray(pb, cap, sizeof(*pb));
		}
		pb[n].seq = (uint64_t)sqlite3_column_int64(s, 0);
		if (snprintf(pb[n].sha256, sizeof(pb[n].sha256), "%s",
		    (const char *)sqlite3_column_text(s, 1)) >=
		    (int)sizeof(pb[n].sha256) || snprintf(pb[n].key,
		    sizeof(pb[n].key), "%s", (const char *)
		    sqlite3_column_text(s, 2)) >= (int)sizeof(pb[n].key))
			td_fatal("batch %llu of %s: sha256 or idempotency "
			    "key longer than a SHA-256", (unsigned long long)
			    pb[n].seq, tid);
		pb[n].records = (uint64_t)sqlite3_column_int64(s, 3);
		n++;
	}
	sqlite3_reset(s);
	*out = pb;
	*np = n;
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
	/* a file this made: its name too, before the batch's rows go */
	if (r == 0 && sb.st_size == 0 && td_fsync_parent(path) != 0)
		r = TD_ERR_IO;
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
finish_reject(struct td_ctx *x, const struct tx *t, uint64_t seq,
    const char *line)
{
	const char *tid = t->id;
	char *obdir, *src, *dlq;
	int r = TD_OK;

	obdir = xasprintf("%s/%s", x->outbox, tid);
	src = batch_path(x, t, obdir, seq);
	x_free(obdir);
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
finish_rejects(struct td_ctx *x, const struct tx *t)
{
	const char *tid = t->id;
	sqlite3_stmt *s;
	const char *line;
	int r = TD_OK;

	s = store_prepare(x->st, "SELECT seq, reject_info FROM batches WHERE "
	    "transmission_id = ? AND state = 'rejected' ORDER BY seq");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	while (r == 0 && sqlite3_step(s) == SQLITE_ROW)
		if ((line = (const char *)sqlite3_column_text(s, 1)) != NULL)
			r = finish_reject(x, t, (uint64_t)
			    sqlite3_column_int64(s, 0), line);
	sqlite3_reset(s);
	return r;
}

/* A batch the reconciler refused (400/413/422): Tier 3, to dlq/. */
static int
reject_batch(struct td_ctx *x, const struct tx *t, uint64_t seq,
    uint64_t nrec, const char *src, const struct fwd_resp *resp)
{
	struct td_buf b;
	sqlite3_stmt *s;
	char *name, *dst;
	int r = TD_OK, e;

	name = outbox_batch_name(t->id, seq, batch_enc(x, t));
	dst = xasprintf("%s/%s", x->dlq, name);
	(void)unlink(dst);
	if (link(src, dst) != 0 && td_copy_file(src, dst) != 0)
		r = TD_ERR_IO;
	if (r == 0 && td_fsync_dir(x->dlq) != 0)
		r = TD_ERR_IO;
	x_free(dst);
	if (r != 0) {
		x_free(name);
		return r;
	}
	td_buf_init(&b, 1024, 0);
	td_buf_printf(&b, "{\"tier\":3,\"code\":\"rejected_by_reconciler\","
	    "\"message\":\"the reconciler answered %ld to batch %llu\","
	    "\"transmission_id\":\"%s\",\"batch\":%llu,\"records\":%llu,"
	    "\"batch_file\":\"%s\",\"response\":",
	    resp->status, (unsigned long long)seq, t->id,
	    (unsigned long long)seq, (unsigned long long)nrec, name);
	x_free(name);
	/* the body is cut at 4 KiB, perhaps inside a character, and is
	 * the receiver's text: what is not UTF-8 is replaced, not all of
	 * it dropped for null */
	if (td_json_str_lossy(&b, resp->body, strlen(resp->body)) != 0)
		td_buf_puts(&b, "null");
	td_buf_puts(&b, "}\n");
	if ((r = store_begin(x->st)) == 0) {
		s = store_prepare(x->st, "UPDATE batches SET state = "
		    "'rejected', reject_info = ?, acked_at = ?, attempts = "
		    "attempts + 1 WHERE transmission_id = ? AND seq = ?");
		sqlite3_bind_text(s, 1, td_buf_cstr(&b), -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)td_time());
		sqlite3_bind_text(s, 3, t->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)seq);
		r = store_step_done(x->st, s);
		/* never delivered: Tier 4 must not withhold them later */
		if (r == 0 && (e = ledger_forget_batch(x->st, src,
		    batch_enc(x, t), t->id)) != 0) {
			if (e == TD_ERR_STATE)
				r = e;
			else
				td_log(TD_LOG_ERROR, "ledger_forget_failed",
				    "file=%s batch=%llu error=%s", t->name,
				    (unsigned long long)seq, td_errstr(e));
		}
		if (r == 0)
			r = store_commit(x->st);
		else
			store_rollback(x->st);
		if (r == 0)
			td_failpoint("batch_rejected");
	}
	if (r == 0)
		r = finish_reject(x, t, seq, td_buf_cstr(&b));
	td_buf_free(&b);
	if (r == 0) {
		x->run.n_dlq += nrec;
		rej_counts_add(&x->run.rejections, "rejected_by_reconciler",
		    nrec);
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

/*
 * 1 when /proc/self/fd is there to name a descriptor by. Asked once:
 * whether /proc is mounted does not change while we run (and the first
 * delivery comes after the privilege drop).
 */
static int
proc_fd_here(void)
{
	static atomic_int here = -1;
	int h;

	if ((h = atomic_load(&here)) < 0) {
		h = access("/proc/self/fd", X_OK) == 0;
		atomic_store(&here, h);
	}
	return h;
}

/*
 * The directory of a transmission in a file:// output, made if need be.
 * The output may be writable by others (its reader takes what is
 * delivered): a symbolic link planted under an id that can be foreseen
 * (a drop an uploader made, a replay's) had the batches and manifest
 * written wherever it pointed, with our rights. Anything but a
 * directory is refused (ENOTDIR), and the delivery tried again later.
 * The directory is opened, and *via names it through that descriptor
 * (/proc/self/fd/N): the writes go into the directory checked, whatever
 * is renamed or planted at its name meanwhile. Without /proc, *via is
 * its name (checked, not held). *dfd is closed by the caller.
 */
static int
out_tid_dir(const char *dir, int *dfd, char **via)
{
	*dfd = -1;
	*via = NULL;
	if (td_mkdirs(dir, 0755) != 0)
		return TD_ERR_IO;
	if ((*dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0) {
		if (errno == ELOOP)
			errno = ENOTDIR;
		return TD_ERR_IO;
	}
	td_failpoint_stop("output_dir_opened");
	*via = xasprintf("/proc/self/fd/%d", *dfd);
	/*
	 * Without /proc, the name. Only then: a directory we may not search
	 * (a reader's, mode 0700, made first) had the writes go by its name,
	 * through a link swapped in for it meanwhile; through the descriptor
	 * they fail instead, and the delivery is tried again.
	 */
	if (!proc_fd_here()) {
		x_free(*via);
		*via = xstrdup(dir);
	}
	return TD_OK;
}

static void
out_tid_close(int dfd, char *via)
{
	if (dfd >= 0)
		close(dfd);
	x_free(via);
}

/* file://: move every pending batch into the output, then record them. */
static int
move_batches(struct deliverer *d, const struct tx *t, const char *obdir,
    const struct pbatch *pb, size_t n)
{
	struct td_ctx *x = d->x;
	struct dmember *m;
	char *outdir, *src, *dst, *via;
	size_t i;
	int r = TD_OK, dfd;

	outdir = xasprintf("%s/%s", x->out_dir, t->id);
	if (out_tid_dir(outdir, &dfd, &via) != 0) {
		td_log(TD_LOG_ERROR, "delivery_failed", "output=%s error=%s",
		    outdir, strerror(errno));
		out_tid_close(dfd, via);	/* (after the log: errno) */
		x_free(outdir);
		return TD_ERR_IO;
	}
	for (i = 0; i < n && r == 0; i++) {
		src = batch_path(x, t, obdir, pb[i].seq);
		dst = batch_path(x, t, via, pb[i].seq);
		if ((r = move_batch(src, dst, pb[i].sha256)) != 0) {
			x_free(dst);
			dst = batch_path(x, t, outdir, pb[i].seq);
			td_log(TD_LOG_ERROR, "delivery_failed", "file=%s "
			    "batch=%llu output=%s error=%s", t->name,
			    (unsigned long long)pb[i].seq, dst, move_error(r));
		}
		x_free(src);
		x_free(dst);
	}
	/*
	 * The batches' names in the output, durable before they are
	 * recorded acked. The outbox directory they left is not fsynced (it
	 * was, one device flush a transmission): that only made durable that
	 * the outbox no longer names them. A crash that forgets it leaves an
	 * acked batch's name back in outbox/<tid>/ beside the same file in
	 * the output (a rename persisted by halves; a copy's unlink undone):
	 * acked batches are never read from the outbox again (load_pending
	 * takes the pending ones), and outbox/<tid>/ is removed whole once
	 * the transmission is delivered (send_manifest), or by outbox_sweep
	 * when it is no longer parsed. So nothing delivered is lost and
	 * nothing is delivered twice.
	 */
	if (r == 0 && td_fsync_dir(via) != 0)
		r = TD_ERR_IO;
	out_tid_close(dfd, via);
	if (r == 0 && d->gopen && n > 0) {
		/* recorded by the group's commit (dgroup_end) */
		m = dmember_of(d, t);
		m->acks = xreallocarray(m->acks, m->nacks + n,
		    sizeof(*m->acks));
		memcpy(m->acks + m->nacks, pb, n * sizeof(*pb));
		m->nacks += n;
		td_failpoint("batches_acked");
	} else if (r == 0)
		r = ack_batches(x, t->id, pb, n);
	x_free(outdir);
	return r;
}

/* 1 when resp is a redirect (3xx): held, never followed. */
static int
redirected(const struct fwd_resp *resp)
{
	return resp->status >= 300 && resp->status < 400;
}

/*
 * A batch refused (3xx, 401, 403, other 4xx): logged at every attempt. A
 * redirect says where it points (the receiver's text, escaped by td_log),
 * for the operator to correct url: it is not followed, so neither the
 * batch nor the token goes anywhere else.
 */
static void
log_refused(const struct tx *t, uint64_t seq, const struct fwd_resp *resp)
{
	if (redirected(resp))
		td_log(TD_LOG_ERROR, "delivery_refused", "file=%s batch=%llu "
		    "status=%ld location=%s message=%s", t->name,
		    (unsigned long long)seq, resp->status, resp->location[0] ?
		    resp->location : "-", "the reconciler redirected the "
		    "request; redirects are not followed, the batch stays "
		    "spooled");
	else
		td_log(TD_LOG_ERROR, "delivery_refused", "file=%s batch=%llu "
		    "status=%ld message=%s", t->name, (unsigned long long)seq,
		    resp->status, resp->status == 401 || resp->status == 403 ?
		    "credentials refused; the batch stays spooled" :
		    "the reconciler refused the request; the batch stays "
		    "spooled");
}

/*
 * The rejection report or the manifest (what) kept after a refusal,
 * logged at every attempt: with the answer's body when body is set, and
 * where a redirect points.
 */
static void
log_doc_refused(const struct tx *t, const char *what,
    const struct fwd_resp *resp, int body)
{
	if (redirected(resp))
		td_log(TD_LOG_ERROR, "delivery_refused", "file=%s what=%s "
		    "status=%ld location=%s message=%s", t->name, what,
		    resp->status, resp->location[0] ? resp->location : "-",
		    "the reconciler redirected the request; redirects are "
		    "not followed");
	else if (body)
		td_log(TD_LOG_ERROR, "delivery_refused", "file=%s what=%s "
		    "status=%ld body=%s", t->name, what, resp->status,
		    resp->body);
	else
		td_log(TD_LOG_ERROR, "delivery_refused", "file=%s what=%s "
		    "status=%ld", t->name, what, resp->status);
}

static const char *
batch_cenc(const struct td_ctx *x, const struct tx *t)
{
	int enc = batch_enc(x, t);

	return enc == OB_ENC_GZIP ? "gzip" : enc == OB_ENC_ZSTD ?
	    "zstd" : NULL;
}

/*
 * While the breaker is closed, keep several batches in flight, each
 * acknowledgement committed as it arrives. At the first answer that is
 * neither an acknowledgement nor a refusal, wait for the others: what is
 * still pending then goes one at a time. A Tier 1 failure is logged
 * with its reason, and the first of them is counted by the breaker and
 * sets the backoff, as a serial attempt's would: DELIVER_WAIT (or
 * TD_ERR_IO when it opened the breaker) is returned, not 0, so that
 * the serial retry waits for it.
 */
static int
post_batches_parallel(struct deliverer *d, const struct tx *t,
    const char *obdir, const struct pbatch *pb, size_t n)
{
	struct td_ctx *x = d->x;
	struct {
		size_t		 i;
		char		*body;
		struct hdrs	 h;
	} pend[8];
	struct fwd_resp resp;
	struct hdrs h;
	char *src, *body;
	size_t next = 0, blen, i;
	int r = TD_OK, stop = 0, slot, fr, rr, later = 0;

	memset(pend, 0, sizeof(pend));
	for (;;) {
		while (!stop && next < n && fwd_inflight(x->fwd) < 4) {
			src = batch_path(x, t, obdir, pb[next].seq);
			rr = td_read_file(src, MAX_BODY, &body, &blen);
			x_free(src);
			if (rr != 0) {
				stop = 1;	/* the serial path reports */
				break;
			}
			hdrs_make(&h, x, t->id, pb[next].key, pb[next].seq,
			    t->batches);
			slot = fwd_start(x->fwd, "/batches",
			    "application/x-ndjson", batch_cenc(x, t), h.v, body,
			    blen);
			if (slot == FWD_START_FAILED) {
				x_free(body);
				hdrs_free(&h);
				stop = 1;	/* the serial path retries */
				break;
			}
			if (slot < 0 || slot >= (int)TD_NELEM(pend))
				td_fatal("post_batches_parallel: no free slot");
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
			r = ack_batches(x, t->id, &pb[i], 1);
			break;
		case FWD_REJECT:
			src = batch_path(x, t, obdir, pb[i].seq);
			r = reject_batch(x, t, pb[i].seq, pb[i].records, src,
			    &resp);
			x_free(src);
			break;
		case FWD_RETRY:
			if (later == 0)
				later = post_failed(d, pb[i].key, "batch",
				    &resp);
			else
				log_retry(d, "batch", &resp);
			stop = 1;
			break;
		default:
			/* refused (401, 403, ...): logged, as every attempt
			 * is, then sent again one at a time */
			log_refused(t, pb[i].seq, &resp);
			stop = 1;
		}
		if (r != 0)
			stop = 1;
	}
	if (r == 0 && later != 0)
		r = later == POST_LATER ? DELIVER_WAIT : TD_ERR_IO;
	return r;
}

/* One batch at a time from the first still pending, with retries. */
static int
post_batches_serial(struct deliverer *d, const struct tx *t,
    const char *obdir, const struct pbatch *pb, size_t n)
{
	struct td_ctx *x = d->x;
	struct fwd_resp resp;
	struct hdrs h;
	char *src, *body;
	size_t i, blen;
	int r = TD_OK, fr;

	for (i = 0; i < n && r == 0; i++) {
		src = batch_path(x, t, obdir, pb[i].seq);
		if ((r = td_read_file(src, MAX_BODY, &body, &blen)) != 0) {
			td_log(TD_LOG_ERROR, "delivery_failed", "file=%s "
			    "batch=%llu error=%s", t->name,
			    (unsigned long long)pb[i].seq, "cannot read the "
			    "outbox batch");
			x_free(src);
			break;
		}
		hdrs_make(&h, x, t->id, pb[i].key, pb[i].seq, t->batches);
		fr = post_retry(d, pb[i].key, "/batches",
		    "application/x-ndjson", batch_cenc(x, t), h.v, body, blen,
		    "batch", &resp);
		x_free(body);
		hdrs_free(&h);
		switch (fr) {
		case FWD_ACK:
			/* committed now: a crash re-sends only what is not */
			r = ack_batches(x, t->id, &pb[i], 1);
			break;
		case FWD_REJECT:
			r = reject_batch(x, t, pb[i].seq, pb[i].records, src,
			    &resp);
			break;
		case FWD_HOLD:
			log_refused(t, pb[i].seq, &resp);
			r = TD_ERR_STATE;
			break;
		case POST_LATER:
			r = DELIVER_WAIT;
			break;
		default:
			r = TD_ERR_IO;
		}
		x_free(src);
	}
	return r;
}

static int
send_batches(struct deliverer *d, const struct tx *t)
{
	struct td_ctx *x = d->x;
	struct pbatch *pb = NULL;
	char *obdir;
	size_t n = 0;
	int r;

	obdir = xasprintf("%s/%s", x->outbox, t->id);
	/* a refusal a crash interrupted */
	if ((r = finish_rejects(x, t)) != 0)
		goto out;
	load_pending(x, t->id, &pb, &n);
	if (x->fwd == NULL) {
		r = move_batches(d, t, obdir, pb, n);
		goto out;
	}
	if (d->brk.failures == 0 && d->brk.opened_at == 0 && n > 1) {
		r = post_batches_parallel(d, t, obdir, pb, n);
		x_free(pb);
		pb = NULL;
		n = 0;
		if (r == 0)
			load_pending(x, t->id, &pb, &n);
	}
	if (r == 0)
		r = post_batches_serial(d, t, obdir, pb, n);
 out:
	x_free(pb);
	x_free(obdir);
	return r;
}

/* what, or "what\nN" when sql (of the transmission tid) counts N > 0 */
static char *
keyed_what(struct td_ctx *x, const char *tid, const char *sql,
    const char *what)
{
	sqlite3_stmt *s;
	int64_t n = 0;

	s = store_prepare(x->st, sql);
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return n == 0 ? xstrdup(what) : xasprintf("%s\n%lld", what,
	    (long long)n);
}

/*
 * What a transmission's manifest is keyed by: "manifest", and after
 * `hold approve` has delivered N of its held records, "manifest\nN". A
 * manifest sent again with those records in its counts and control
 * totals is another document than the one a receiver stored: under the
 * first one's key it was answered 409 and never read. N is counted in
 * transmissions.approvals, not from holds: a replay's hold may take the
 * place of an approved one (ledger_commit).
 */
static char *
manifest_what(struct td_ctx *x, const char *tid)
{
	return keyed_what(x, tid, "SELECT approvals FROM transmissions "
	    "WHERE id = ?", "manifest");
}

/*
 * What the key of a transmission's rejection report is made of:
 * "rejections", and after its Nth release from the quarantine
 * "rejections\nN": each release reports again, other rejections under
 * the same mapping_version, which the first report's key would have the
 * receiver take for the first report (409).
 */
static char *
rejections_what(struct td_ctx *x, const char *tid)
{
	return keyed_what(x, tid, "SELECT releases FROM transmissions "
	    "WHERE id = ?", "rejections");
}

/*
 * POST a transmission-level document (its rejections or its manifest)
 * with retries, under the key derived from what it is (kwhat, when not
 * NULL: what, with more in it than a log line should say).
 */
static int
post_doc(struct deliverer *d, const struct tx *t, const char *what,
    const char *kwhat, const char *path, const char *ctype, const char *cenc,
    const void *body, size_t len, struct fwd_resp *resp)
{
	struct hdrs h;
	char *k;
	int fr;

	k = deliver_key(t->id, t->mapping_version ? t->mapping_version : "",
	    kwhat != NULL ? kwhat : what);
	hdrs_make(&h, d->x, t->id, k, 0, 0);
	fr = post_retry(d, k, path, ctype, cenc, h.v, body, len, what, resp);
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
rejection_source(struct td_ctx *x, const struct tx *t)
{
	if (strcmp(t->state, "quarantined") == 0)
		return xasprintf("%s/%s/reason.json", x->quarantine, t->id);
	return xasprintf("%s/%s.ndjson", x->dlq, t->id);
}

/* Mark tid's rejections sent, in the transaction open. */
static int
rej_sent_exec(struct td_ctx *x, const char *tid)
{
	sqlite3_stmt *s;

	s = store_prepare(x->st, "UPDATE transmissions SET rejections_sent "
	    "= 1 WHERE id = ?");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	return store_step_done(x->st, s);
}

static int
send_rejections(struct deliverer *d, const struct tx *t)
{
	struct td_ctx *x = d->x;
	struct fwd_resp resp;
	struct stat sb;
	void *map = MAP_FAILED;
	char *src = NULL, *gz = NULL, *dir = NULL, *via, *kwhat;
	int r = TD_OK, fr, fd = -1, dfd, e;

	d->rej_none = 0;
	if (t->rejections_sent && x->fwd != NULL) {
		/* a run killed after sending them, before it could remove
		 * its staging copy, left it behind */
		gz = xasprintf("%s/%s" DELIVER_REJ_STAGED, x->outbox,
		    t->id);
		dir = xasprintf("%s.tmp", gz);
		(void)unlink(gz);
		(void)unlink(dir);
		x_free(gz);
		x_free(dir);
		return TD_OK;
	}
	if (t->rejections_sent || !td_conf_u64(x->conf,
	    TDK_output_report_rejections))
		return TD_OK;
	src = rejection_source(x, t);
	if (access(src, F_OK) != 0 && strcmp(t->state, "parsed") == 0) {
		/*
		 * Nothing was rejected, of a transmission whose manifest is
		 * sent next: no commit of its own here (it cost a WAL
		 * fdatasync a drop); send_manifest sets rejections_sent in
		 * the commit that records it delivered. A crash before that
		 * leaves it parsed with rejections_sent 0, and the next run
		 * comes here again and finds, again, nothing to send.
		 */
		d->rej_none = 1;
		goto out;
	}
	if (access(src, F_OK) != 0)
		goto done;	/* nothing was rejected */
	if (x->fwd == NULL) {
		dir = xasprintf("%s/%s", x->out_dir, t->id);
		if ((r = out_tid_dir(dir, &dfd, &via)) == 0) {
			gz = xasprintf("%s/rejections.ndjson.gz", via);
			r = gzip_file(src, gz);
			x_free(gz);
		}
		e = errno;
		out_tid_close(dfd, via);
		errno = e;
		gz = xasprintf("%s/rejections.ndjson.gz", dir);
		if (r != 0) {
			td_log(TD_LOG_ERROR, "delivery_failed", "output=%s "
			    "error=%s", gz, r == TD_ERR_NOSPACE ? "no space "
			    "left on the output filesystem" : strerror(errno));
			goto out;
		}
	} else {
		gz = xasprintf("%s/%s" DELIVER_REJ_STAGED, x->outbox,
		    t->id);
		if ((r = gzip_file(src, gz)) != 0)
			goto out;
		if ((fd = open(gz, O_RDONLY | O_CLOEXEC)) < 0 ||
		    fstat(fd, &sb) != 0 || (map = mmap(NULL, (size_t)sb.st_size,
		    PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
			r = TD_ERR_IO;
			goto out;
		}
		kwhat = rejections_what(x, t->id);
		fr = post_doc(d, t, "rejections", kwhat, "/rejections",
		    "application/x-ndjson", "gzip", map, (size_t)sb.st_size,
		    &resp);
		x_free(kwhat);
		if (fr == POST_LATER) {
			r = DELIVER_WAIT;
			goto out;
		}
		if (fr == FWD_REJECT) {
			/* nothing to dead-letter a dead-letter report into */
			td_log(TD_LOG_ERROR, "rejections_refused", "file=%s "
			    "status=%ld", t->name, resp.status);
		} else if (fr != FWD_ACK) {
			r = fr == FWD_HOLD ? TD_ERR_STATE : TD_ERR_IO;
			if (fr == FWD_HOLD)
				log_doc_refused(t, "rejections", &resp, 0);
			goto out;
		}
	}
 done:
	if (d->gopen) {
		/* recorded by the group's commit (dgroup_end) */
		dmember_of(d, t)->rej_sent = 1;
		td_failpoint("rejections_sent");
		goto out;
	}
	if ((r = store_begin(x->st)) != 0)
		goto out;
	if ((r = store_end(x->st, rej_sent_exec(x, t->id))) == 0)
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

/* After the commit that recorded tid delivered: counted, logged, and
 * its outbox entry (obdir) removed. */
static void
delivered(struct td_ctx *x, const char *name, const char *tid,
    const char *output, const char *obdir)
{
	td_failpoint("transmission_delivered");
	x->run.n_delivered++;
	td_log(TD_LOG_INFO, "file_delivered", "file=%s transmission_id=%s "
	    "output=%s", name, tid, output);
	(void)td_remove_tree(obdir, x->state_dir);
}

/* Record tid delivered (its audit line too), in the transaction open. */
static int
delivered_exec(struct td_ctx *x, const char *tid, int rej_none,
    const char *fields)
{
	sqlite3_stmt *s;
	int r;

	/* rejections_sent: when send_rejections, just before in this step,
	 * found none, it left its commit to this one (d->rej_none) */
	s = store_prepare(x->st, "UPDATE transmissions SET state = "
	    "'delivered', delivered = (SELECT total(records) FROM batches "
	    "WHERE transmission_id = ?1 AND state = 'acked'), dlq = dlq + "
	    "(SELECT total(records) FROM batches WHERE transmission_id = ?1 "
	    "AND state = 'rejected'), rejections_sent = max(rejections_sent, "
	    "?3), updated_at = ?2 WHERE id = ?1");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)td_time());
	sqlite3_bind_int(s, 3, rej_none);
	r = store_step_done(x->st, s);
	if (r == 0)
		r = audit_append(x->audit, "transmission_delivered", tid,
		    fields);
	return r;
}

/* What the member m of a delivery group is to record, in a savepoint. */
static int
dmember_exec(struct td_ctx *x, const struct dmember *m)
{
	int r;

	if (store_exec(x->st, "SAVEPOINT dm") != 0)
		return -1;
	r = acks_exec(x, m->tid, m->acks, m->nacks);
	if (r == 0 && m->rej_sent)
		r = rej_sent_exec(x, m->tid);
	if (r == 0 && m->delivered)
		r = delivered_exec(x, m->tid, m->rej_none, m->fields);
	if (r != 0 && store_exec(x->st, "ROLLBACK TO dm") != 0)
		return -1;
	if (store_exec(x->st, "RELEASE dm") != 0)
		return -1;
	return r;
}

/*
 * End the open delivery group: record, in one transaction, what its
 * transmissions' steps did, in order, up to the first that cannot be
 * (it and those after stay as they were, done again by a later step);
 * once that has committed, tell of each transmission recorded
 * delivered. A failure to undo one alone rolls it all back.
 */
static int
dgroup_end(struct deliverer *d, int r)
{
	struct td_ctx *x = d->x;
	size_t k, done = 0;
	int rg, e = TD_OK;

	if (!d->gopen)
		return r;
	d->gopen = 0;
	if (d->gn > 0 && (e = store_begin(x->st)) == 0) {
		for (rg = 0; done < d->gn; done++)
			if ((rg = dmember_exec(x, &d->g[done])) != 0)
				break;
		e = rg < 0 ? TD_ERR_STATE : rg;
		if (rg < 0)
			done = 0;
		if ((rg = store_end(x->st, rg < 0 ? TD_ERR_STATE : 0)) != 0) {
			e = rg;
			done = 0;
		}
	}
	for (k = 0; k < d->gn; k++) {
		if (k < done && d->g[k].delivered)
			delivered(x, d->g[k].name, d->g[k].tid,
			    d->g[k].outdir, d->g[k].obdir);
		x_free(d->g[k].name);
		x_free(d->g[k].tid);
		x_free(d->g[k].outdir);
		x_free(d->g[k].obdir);
		x_free(d->g[k].acks);
		x_free(d->g[k].fields);
	}
	d->gn = 0;
	return r != 0 ? r : e;
}

static int
send_manifest(struct deliverer *d, const struct tx *t)
{
	struct td_ctx *x = d->x;
	struct fwd_resp resp;
	struct dmember *m;
	char *obdir, *dst = NULL, *outdir = NULL, *man = NULL, *fields = NULL;
	char *via, *kwhat;
	int r, fr, dfd, e;

	obdir = xasprintf("%s/%s", x->outbox, t->id);
	if ((r = manifest_build(x, t->id, &man)) != 0) {
		td_log(TD_LOG_ERROR, "delivery_failed", "file=%s error=%s",
		    t->name, "its manifest cannot be built");
		if (r == TD_ERR_STATE)
			x->run.failed = 1;	/* state.db lost its batches */
		goto out;
	}
	if (x->fwd == NULL) {
		outdir = xasprintf("%s/%s", x->out_dir, t->id);
		if ((r = out_tid_dir(outdir, &dfd, &via)) == 0) {
			dst = xasprintf("%s/manifest.json", via);
			r = td_write_file_atomic(dst, man, strlen(man));
			x_free(dst);
		}
		e = errno;
		out_tid_close(dfd, via);
		errno = e;
		dst = xasprintf("%s/manifest.json", outdir);
		if (r != 0) {
			td_log(TD_LOG_ERROR, "delivery_failed", "file=%s "
			    "output=%s error=%s", t->name, dst,
			    strerror(errno));
			goto out;
		}
	} else {
		kwhat = manifest_what(d->x, t->id);
		fr = post_doc(d, t, "manifest", kwhat, "/transmissions",
		    "application/json", NULL, man, strlen(man), &resp);
		x_free(kwhat);
		if (fr == POST_LATER) {
			r = DELIVER_WAIT;
			goto out;
		}
		if (fr != FWD_ACK) {
			if (fr != FWD_RETRY)
				log_doc_refused(t, "manifest", &resp, 1);
			r = fr == FWD_RETRY ? TD_ERR_IO : TD_ERR_STATE;
			goto out;
		}
	}
	fields = xasprintf("\"output\":\"%s\",\"records\":%llu",
	    x->fwd ? "https" : "file", (unsigned long long)t->records_in);
	if (d->gopen) {
		/* recorded by the group's commit, then told (dgroup_end) */
		m = dmember_of(d, t);
		m->delivered = 1;
		m->rej_none = d->rej_none;
		m->fields = fields;
		m->outdir = outdir;
		m->obdir = obdir;
		fields = outdir = obdir = NULL;
		goto out;
	}
	if ((r = store_begin(x->st)) != 0)
		goto out;
	r = store_end(x->st, delivered_exec(x, t->id, d->rej_none, fields));
	if (r != 0)
		goto out;
	delivered(x, t->name, t->id, x->fwd ? fwd_url(x->fwd) : outdir,
	    obdir);
 out:
	x_free(obdir);
	x_free(dst);
	x_free(outdir);
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

int64_t
deliver_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct deliverer *
deliver_new(struct td_ctx *x)
{
	struct deliverer *d = xcalloc(1, sizeof(*d));

	d->x = x;
	/* a breaker that opens at breaker_failures, for breaker_cooldown */
	d->pol.threshold = (unsigned)td_conf_u64(x->conf,
	    TDK_output_breaker_failures);
	d->pol.cooldown = td_conf_u64(x->conf, TDK_output_breaker_cooldown);
	d->pol.cooldown_max = d->pol.cooldown;
	d->pol.retry_max = td_conf_u64(x->conf, TDK_output_max_backoff);
	if (backoff_load(x->st, BACKOFF_OUTPUT, &d->brk) != 0)
		td_log(TD_LOG_WARN, "breaker_unread", "error=%s", "the "
		    "breaker's state could not be read; it starts closed");
	return d;
}

void
deliver_free(struct deliverer *d)
{
	if (d != NULL)
		x_free(d->g);
	x_free(d);
}

/* Every transmission to deliver, in the order received. */
static void
load_transmissions(struct td_ctx *x, struct tx **out, size_t *np)
{
	sqlite3_stmt *s;
	struct tx *ts = NULL;
	size_t n = 0;

	s = store_prepare(x->st, "SELECT " TX_COLUMNS " FROM transmissions "
	    "WHERE state = 'parsed' OR (state = 'quarantined' AND "
	    "rejections_sent = 0) ORDER BY seq");
	while (sqlite3_step(s) == SQLITE_ROW) {
		ts = xreallocarray(ts, n + 1, sizeof(*ts));
		tx_read(s, &ts[n++]);
	}
	sqlite3_reset(s);
	*out = ts;
	*np = n;
}

int
deliver_step(struct deliverer *d, int64_t now_ms, int64_t *next_ms)
{
	struct td_ctx *x = d->x;
	struct tx *ts = NULL;
	char *err = NULL;
	size_t n = 0, i;
	int64_t now;
	int r = TD_OK, parsed;

	*next_ms = 0;
	if (d->wait_until > now_ms) {
		*next_ms = d->wait_until;
		return DELIVER_WAIT;
	}
	d->wait_until = 0;
	sqlite3_progress_handler(store_db(x->st), VM_TICK, count_vm,
	    &d->ticks);
	load_transmissions(x, &ts, &n);
	if (n > 0 && x->out_dir == NULL && x->fwd == NULL) {
		if (fwd_open(&x->fwd, x->conf, &err) != 0) {
			td_log(TD_LOG_ERROR, "delivery_failed", "error=%s",
			    err);
			x_free(err);
			r = TD_ERR_INVAL;
		}
	}
	/* in order: a failure, or a wait, holds back everything after it;
	 * to file://, by groups (DGROUP_MAX) */
	for (i = 0; i < n && r == TD_OK; i++) {
		if (d->gopen && (d->gn >= td_test_bound("TD_TEST_DGROUP_MAX",
		    DGROUP_MAX) || td_mono_ms() -
		    d->gsince >= (int64_t)td_test_bound(
		    "TD_TEST_DGROUP_HOLD_MS", DGROUP_HOLD_MS)) &&
		    (r = dgroup_end(d, 0)) != 0)
			break;
		if (x->out_dir != NULL && !d->gopen) {
			d->gopen = 1;
			d->gsince = td_mono_ms();
		}
		parsed = strcmp(ts[i].state, "parsed") == 0;
		if (parsed)
			r = send_batches(d, &ts[i]);
		if (r == 0)
			r = send_rejections(d, &ts[i]);
		if (r == 0 && parsed)
			r = send_manifest(d, &ts[i]);
		if (r != DELIVER_WAIT) {
			d->ntx++;
			d->batches += ts[i].batches;
		}
	}
	/* what the group did before a failure is recorded still */
	r = dgroup_end(d, r);
	for (i = 0; i < n; i++)
		tx_free(&ts[i]);
	x_free(ts);
	sqlite3_progress_handler(store_db(x->st), 0, NULL, NULL);
	if (r == DELIVER_WAIT) {
		*next_ms = d->wait_until;
		return DELIVER_WAIT;
	}
	if (r != 0) {
		x->run.undelivered = 1;
		now = td_time();
		switch (backoff_state(&d->brk, now)) {
		case BACKOFF_OPEN:
			*next_ms = deliver_clock_ms() +
			    (d->brk.next_at - now) * 1000;
			break;
		case BACKOFF_HALF_OPEN:
			/* the cooldown ran out while this step ran (a slow
			 * machine, a short breaker_cooldown): the probe is
			 * due, not the 30 s retry of a failure without one */
			*next_ms = deliver_clock_ms() + 1000;
			break;
		}
	}
	td_log(TD_LOG_DEBUG, "delivery_done", "transmissions=%zu batches=%llu "
	    "sql_vm_steps=%llu", d->ntx, (unsigned long long)d->batches,
	    (unsigned long long)(d->ticks * VM_TICK));
	return r;
}
