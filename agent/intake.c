/*
 * intake.c - claim, receive (hash + archive + record), process into the
 * outbox or quarantine. See intake.h for the state machine.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "td.h"
#include "clock.h"
#include "audit.h"
#include "buf.h"
#include "conf.h"
#include "date.h"
#include "failpoint.h"
#include "fsutil.h"
#include "hash.h"
#include "json.h"
#include "log.h"
#include "store.h"
#include "map.h"
#include "outbox.h"
#include "process.h"
#include "sandbox.h"
#include "sidecar.h"
#include "forward.h"
#include "ack.h"
#include "verify.h"
#include "deliver.h"
#include "manifest.h"
#include "tx.h"
#include "intake.h"
#include "landing.h"
#include "ledger.h"

#define IO_BLOCK	(1 << 20)

static int64_t
now_sec(void)
{
	return td_time();
}

/* ------------------------------------------------------------ claim */

/*
 * Move every sidecar of NAME from landing into dir (NAME.sha256,
 * NAME.sha512, NAME.minisig), and write there, under their own names,
 * the lines of each SHA256SUMS / SHA512SUMS that concern it (a manifest
 * may name others, and copying all of it into every claim would cost
 * files x size). Also run for a claim a crash interrupted. Each is
 * written into dir durably; *taken says whether one was removed from
 * landing, whose removal is the caller's to sync.
 */
static int
claim_sidecars(struct td_ctx *x, const char *dir, const char *name,
    int *taken)
{
	struct sidecars sc;
	const char *mv[3];
	struct td_buf lines;
	size_t k;
	int r = TD_OK;

	*taken = 0;
	sidecar_find(x->landing, name, &sc);
	mv[0] = sc.sum256;
	mv[1] = sc.sum512;
	mv[2] = sc.sig;
	for (k = 0; k < TD_NELEM(mv); k++) {
		/* copied from a checked descriptor, never renamed by path:
		 * a refused one is logged and left, as if absent */
		int rk;

		if (mv[k] == NULL)
			continue;
		*taken = 1;
		rk = landing_take_copy(x, mv[k], dir, SIDECAR_COPY_MAX);
		if (rk != 0 && rk != TD_ERR_FORMAT && r == TD_OK)
			r = rk;
	}
	td_buf_init(&lines, 0, 0);
	for (k = 0; k < TD_NELEM(sc.manifest); k++) {
		char *b, *tmp;

		if (sc.manifest[k] == NULL)
			continue;
		b = xasprintf("%s/%s", dir, sc.manifest[k]);
		/* a partial name intake_recover removes */
		tmp = xasprintf("%s/" PARTIAL_NAME ".%s", dir, sc.manifest[k]);
		td_buf_reset(&lines);
		/* (one that stopped naming NAME meanwhile: nothing to keep) */
		if (access(b, F_OK) != 0 && sidecar_manifest_extract(
		    x->landing, sc.manifest[k], name, &lines) == 0 &&
		    td_write_file_via(b, tmp, lines.p ? lines.p : "",
		    lines.len) != 0)
			r = TD_ERR_IO;
		x_free(b);
		x_free(tmp);
	}
	td_buf_free(&lines);
	sidecar_free(&sc);
	return r;
}

/* ---------------------------------------------------------- receive */

/* See intake.h. */
int
intake_hash_fd(int fd, unsigned want, char tid[TD_SHA256_HEX],
    char sha512hex[129], uint8_t b2[64], uint64_t *size)
{
	struct td_sha256 h;
	struct td_sha512 h512;
	crypto_generichash_state hb;
	unsigned char dg[TD_SHA256_LEN], d512[64];
	char *blk;
	ssize_t n;
	int r = TD_OK;

	*size = 0;
	sha512hex[0] = '\0';
	memset(b2, 0, 64);
	blk = xmalloc(IO_BLOCK);
	td_sha256_init(&h);
	if (want & SC_WANT_SHA512)
		td_sha512_init(&h512);
	if (want & SC_WANT_BLAKE2B)
		crypto_generichash_init(&hb, NULL, 0, 64);
	for (;;) {
		n = pread(fd, blk, IO_BLOCK, (off_t)*size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = TD_ERR_IO;
			break;
		}
		if (n == 0)
			break;
		td_sha256_update(&h, blk, (size_t)n);
		if (want & SC_WANT_SHA512)
			td_sha512_update(&h512, blk, (size_t)n);
		if (want & SC_WANT_BLAKE2B)
			crypto_generichash_update(&hb, (unsigned char *)blk,
			    (size_t)n);
		*size += (uint64_t)n;
	}
	if (r == 0 && !(want & HASH_NOSYNC) && fsync(fd) != 0 &&
	    errno != EINVAL && errno != EBADF)
		r = TD_ERR_IO;
	x_free(blk);
	td_sha256_final(&h, dg);
	td_hex(dg, sizeof(dg), tid);
	if (want & SC_WANT_SHA512) {
		td_sha512_final(&h512, d512);
		td_hex(d512, sizeof(d512), sha512hex);
	}
	if (want & SC_WANT_BLAKE2B)
		crypto_generichash_final(&hb, b2, 64);
	return r;
}

/* The hashes the sidecars of NAME in landing or in the claim need. */
static unsigned
sidecar_wants_of(struct td_ctx *x, const char *wdir, const char *name)
{
	struct sidecars sc;
	unsigned w;

	sidecar_find(x->landing, name, &sc);
	w = sidecar_wants(&sc);
	sidecar_free(&sc);
	sidecar_find(wdir, name, &sc);
	w |= sidecar_wants(&sc);
	sidecar_free(&sc);
	return w;
}

static int64_t
claim_time(const char *cl)
{
	return (int64_t)strtoll(cl, NULL, 10);
}

static char *
archive_rel(const char *tid, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	return xasprintf("archive/%04d/%02d/%s", tm.tm_year + 1900,
	    tm.tm_mon + 1, tid);
}

/*
 * work/ holds a claim directory removed since it was last fsynced: sync
 * it now. See settle(): the removal of a settled claim is made durable
 * by the next fsync of work/ (the next claim's, or this one at the end
 * of a pass or a recovery), not once per file.
 */
int
intake_sync_work(struct td_ctx *x)
{
	if (!x->work_dirty)
		return TD_OK;
	if (td_fsync_dir(x->work) != 0)
		return TD_ERR_IO;
	x->work_dirty = 0;
	return TD_OK;
}

/*
 * Move the claimed files into the archive and drop the work entry.
 *
 * Durability: the receive step's commit (claim, archive_dir) came first;
 * each file's new name is made durable here by fsync(raw/) (and the
 * directories td_mkdirs made, by their parents' fsyncs; with dirs_made,
 * by the caller, archive_dirs) before the claim directory is removed. Neither the claim directory (the file's old
 * name) nor work/ (the claim's removal) is fsynced here any more (two
 * device flushes a file): work/ is fsynced by the next claim, which
 * makes a directory there and syncs it anyway, or by intake_sync_work()
 * at the end of the pass. A crash before that can bring the claim
 * directory back, empty or (file systems that may persist the two sides
 * of a rename apart) still naming the file already in raw/: the next
 * run's intake_recover finds the claim recorded and settles it again,
 * which is idempotent: a source that is the same inode as its
 * destination is unlinked (rename(2) of two links of one file does
 * nothing), so the rmdir goes through. Nothing is lost (the raw copy was
 * durable first) and nothing is taken twice (the claim is recorded).
 */
static int
settle(struct td_ctx *x, const char *cl, const char *archive_dir,
    int dirs_made, int defer)
{
	char *wdir = xasprintf("%s/%s", x->work, cl);
	char *rawdir = xasprintf("%s/%s/raw", x->state_dir, archive_dir);
	char *src, *dst;
	DIR *d;
	struct dirent *de;
	struct stat ss, ds;
	int r = TD_OK;

	if (!dirs_made && td_mkdirs(rawdir, 0750) != 0) {
		r = TD_ERR_IO;
		goto out;
	}
	if ((d = opendir(wdir)) != NULL) {
		while ((de = readdir(d)) != NULL && r == 0) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			src = xasprintf("%s/%s", wdir, de->d_name);
			dst = xasprintf("%s/%s", rawdir, de->d_name);
			if (rename(src, dst) != 0 && errno != ENOENT)
				r = TD_ERR_IO;
			/* two links of one file (see above): the old goes */
			else if (lstat(src, &ss) == 0 && lstat(dst, &ds) == 0 &&
			    ss.st_dev == ds.st_dev && ss.st_ino == ds.st_ino &&
			    unlink(src) != 0 && errno != ENOENT)
				r = TD_ERR_IO;
			x_free(src);
			x_free(dst);
		}
		closedir(d);
	}
	if (r != 0 || defer)
		goto out;	/* defer: settle_done, after a syncfs */
	if (td_fsync_dir(rawdir) != 0) {
		r = TD_ERR_IO;
		goto out;
	}
	if (rmdir(wdir) != 0 && errno != ENOENT) {
		r = TD_ERR_IO;
		goto out;
	}
	x->work_dirty = 1;	/* synced by the next claim or intake_sync_work */
 out:
	if (r != 0)
		td_log(TD_LOG_ERROR, "archive_failed", "dir=%s error=%s",
		    rawdir, strerror(errno));
	x_free(wdir);
	x_free(rawdir);
	return r;
}

/*
 * The end of settle(..., defer) for a claim whose files were moved and
 * made durable in their archive entry since (ctx_syncfs): its claim
 * directory goes.
 */
static int
settle_done(struct td_ctx *x, const char *cl)
{
	char *wdir = xasprintf("%s/%s", x->work, cl);
	int r = TD_OK;

	if (rmdir(wdir) != 0 && errno != ENOENT) {
		td_log(TD_LOG_ERROR, "archive_failed", "dir=%s error=%s",
		    wdir, strerror(errno));
		r = TD_ERR_IO;
	} else
		x->work_dirty = 1;
	x_free(wdir);
	return r;
}

static int
drop_work(struct td_ctx *x, const char *cl)
{
	char *wdir = xasprintf("%s/%s", x->work, cl);
	int r;

	r = td_remove_tree(wdir, x->state_dir);
	(void)td_fsync_dir(x->work);
	x_free(wdir);
	return r;
}

/* A claim being received: one of a group (landing_pass) or a recovery. */
struct rcv {
	char		*cl;
	const char	*name;
	int		 fd;	/* the claim's descriptor, or -1 */
	char		 tid[TD_SHA256_HEX];
	uint64_t	 size;
	int		 status;	/* what receive_record returned */
	int		 recorded;	/* in the transaction under way */
	int		 settled;	/* moved into its archive entry */
	char		*adir;	/* a new transmission's; NULL: a duplicate */
	char		*qcode;	/* a duplicate of a quarantined one */
	char		*next;
};

static void
rcv_clear(struct rcv *rc)
{
	x_free(rc->adir);
	x_free(rc->qcode);
	x_free(rc->next);
	rc->adir = rc->qcode = rc->next = NULL;
	rc->recorded = 0;
	rc->settled = 0;
}

/*
 * Receive work/CL/NAME, up to its commit: hash it, then record it, in
 * the transaction the caller began, as a new transmission (rc->adir set)
 * or as a duplicate drop, with its audit lines. rc->fd is the descriptor
 * the claim opened, or -1 (a claim left by a stop). The file must not
 * change while it is hashed: a file that is still being written goes
 * back to landing (TD_ERR_AGAIN), and one that cannot be read goes back
 * and is refused (TD_ERR_FORMAT); nothing of it is then in the
 * transaction. Any other error leaves the transaction to be rolled back.
 */
static int
receive_record(struct td_ctx *x, struct rcv *rc)
{
	char *path, *fields, *wdir, *vjson = NULL;
	char sha512hex[129];
	const char *cl = rc->cl, *name = rc->name;
	char *tid = rc->tid;
	uint8_t b2[64];
	struct verification v;
	struct sidecars sc;
	struct stat sb0, sb1;
	struct td_buf fb;
	uint64_t size;
	int64_t t = claim_time(cl);
	sqlite3_stmt *s;
	const char *why;
	unsigned want;
	int r, exists, ownfd = 0, moved, fd = rc->fd;

	rcv_clear(rc);
	memset(&v, 0, sizeof(v));
	wdir = xasprintf("%s/%s", x->work, cl);
	if (fd < 0) {
		path = xasprintf("%s/%s", wdir, name);
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
		    O_CLOEXEC);
		x_free(path);
		ownfd = 1;
	}
	why = fd < 0 ? strerror(errno) : landing_check_claimed(x, fd, &sb0);
	if (why != NULL) {
		struct stat z;

		memset(&z, 0, sizeof(z));
		landing_refuse(x, name, fd < 0 ? &z : &sb0, why);
		r = TD_ERR_FORMAT;
		goto giveback;
	}
	want = sidecar_wants_of(x, wdir, name);
	/* a group under syncfs: its data made durable before its commit
	 * by one syncfs for all (receive_group) */
	r = intake_hash_fd(fd, want | (x->defer_sync ? HASH_NOSYNC : 0), tid,
	    sha512hex, b2, &size);
	if (r != 0) {
		char msg[128];

		snprintf(msg, sizeof(msg), "read error: %s", strerror(errno));
		td_log(TD_LOG_ERROR, "read_failed", "file=%s error=%s", name,
		    strerror(errno));
		landing_refuse(x, name, &sb0, msg);
		r = TD_ERR_FORMAT;
		goto giveback;
	}
	if (fstat(fd, &sb1) != 0 || (uint64_t)sb1.st_size != size ||
	    (uint64_t)sb0.st_size != size ||
	    sb1.st_mtim.tv_sec != sb0.st_mtim.tv_sec ||
	    sb1.st_mtim.tv_nsec != sb0.st_mtim.tv_nsec) {
		/* a writer still holds it: not settled */
		td_log(TD_LOG_WARN, "file_growing", "file=%s size=%llu "
		    "now=%llu", name, (unsigned long long)size,
		    (unsigned long long)sb1.st_size);
		x->run.n_unsettled++;
		r = TD_ERR_AGAIN;
		goto giveback;
	}
	if (ownfd)
		close(fd);
	fd = -1;
	/*
	 * The sidecars travel with their data file: each is written into
	 * the claim durably, then removed from landing, which is synced
	 * again only then (the claim synced both directories).
	 */
	r = claim_sidecars(x, wdir, name, &moved);
	if ((moved && td_fsync_dir(x->landing) != 0) || r != 0) {
		x_free(wdir);
		return TD_ERR_IO;
	}
	sidecar_find(wdir, name, &sc);
	if ((sidecar_wants(&sc) & ~want) != 0) {
		/* a sidecar arrived meanwhile that needs another hash */
		path = xasprintf("%s/%s", wdir, name);
		if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
		    intake_hash_fd(fd, sidecar_wants(&sc) | (x->defer_sync ?
		    HASH_NOSYNC : 0), tid, sha512hex, b2, &size) != 0)
			r = TD_ERR_IO;
		if (fd >= 0)
			close(fd);
		x_free(path);
	}
	if (r == 0)
		sidecar_verify(x->conf, x->keys, x->nkeys, wdir, name, &sc,
		    tid, sha512hex[0] ? sha512hex : NULL, b2, &v);
	sidecar_free(&sc);
	x_free(wdir);
	if (r != 0) {
		td_log(TD_LOG_ERROR, "read_failed", "file=%s error=%s", name,
		    strerror(errno));
		return r;
	}
	rc->size = size;
	/* (a drop identical to one before it in the same transaction is
	 * its duplicate: this connection reads what it has not committed) */
	s = store_prepare(x->st, "SELECT state, reason_code FROM "
	    "transmissions WHERE id = ?");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	exists = sqlite3_step(s) == SQLITE_ROW;
	/* a drop identical to a quarantined one: say how to reprocess it */
	if (exists && strcmp((const char *)sqlite3_column_text(s, 0),
	    "quarantined") == 0 && sqlite3_column_text(s, 1) != NULL)
		rc->qcode = xstrdup((const char *)sqlite3_column_text(s, 1));
	sqlite3_reset(s);
	if (rc->qcode != NULL) {
		/* the command as it can be pasted, its -c FILE included */
		path = ctx_conf_arg(x->conf);
		rc->next = xasprintf("tradedrop quarantine %s release %s",
		    path, tid);
		x_free(path);
	}

	td_buf_init(&fb, 256, 0);
	td_buf_puts(&fb, "\"file\":");
	if (td_json_str(&fb, name, strlen(name)) != 0)
		td_buf_puts(&fb, "null");
	td_buf_printf(&fb, ",\"size\":%" PRIu64, size);
	if (rc->qcode != NULL) {
		td_buf_printf(&fb, ",\"original_state\":\"quarantined\","
		    "\"quarantine_code\":\"%s\",\"next\":", rc->qcode);
		(void)td_json_str(&fb, rc->next, strlen(rc->next));
	}
	fields = xstrdup(td_buf_cstr(&fb));
	td_buf_free(&fb);

	if (exists) {
		s = store_prepare(x->st, "INSERT OR IGNORE INTO "
		    "duplicate_drops(claim, transmission_id, name, size, "
		    "received_at) VALUES (?, ?, ?, ?, ?)");
		sqlite3_bind_text(s, 1, cl, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, tid, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)size);
		sqlite3_bind_int64(s, 5, t);
		r = store_step_done(x->st, s);
		if (r == 0)
			r = audit_append(x->audit, "duplicate_transmission",
			    tid, fields);
	} else {
		rc->adir = archive_rel(tid, t);
		vjson = sidecar_json(&v);
		s = store_prepare(x->st, "INSERT INTO transmissions(id, name, "
		    "size, received_at, archive_dir, state, claim, "
		    "updated_at, verification, verify_code, verify_message) "
		    "VALUES (?, ?, ?, ?, ?, 'received', ?, ?, ?, ?, ?)");
		sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)size);
		sqlite3_bind_int64(s, 4, t);
		sqlite3_bind_text(s, 5, rc->adir, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 6, cl, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 7, now_sec());
		sqlite3_bind_text(s, 8, vjson, -1, SQLITE_STATIC);
		if (v.code != NULL) {
			sqlite3_bind_text(s, 9, v.code, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 10, v.msg, -1, SQLITE_STATIC);
		}
		r = store_step_done(x->st, s);
		if (r == 0)
			r = audit_append(x->audit, "transmission_received",
			    tid, fields);
		if (r == 0) {
			/* what its sidecars proved, in the same step */
			char *vf = xasprintf("\"verification\":%s,\"code\":"
			    "%s%s%s", vjson, v.code ? "\"" : "", v.code ?
			    v.code : "null", v.code ? "\"" : "");

			r = audit_append(x->audit, "transmission_verified",
			    tid, vf);
			x_free(vf);
		}
	}
	x_free(fields);
	x_free(vjson);
	if (r == 0)
		rc->recorded = 1;
	return r;
 giveback:
	if (ownfd && fd >= 0)
		close(fd);
	x_free(wdir);
	if (landing_unclaim(x, cl) != 0)
		return TD_ERR_IO;
	return r;
}

/*
 * After the commit that recorded rc: its log line; a duplicate's claim
 * removed (a new one's is settled by the caller).
 */
static int
receive_recorded(struct td_ctx *x, struct rcv *rc)
{
	td_failpoint(rc->adir == NULL ? "duplicate_recorded" :
	    "transmission_received");
	if (rc->adir != NULL) {
		x->run.n_received++;
		td_log(TD_LOG_INFO, "file_received", "file=%s "
		    "transmission_id=%s size=%llu", rc->name, rc->tid,
		    (unsigned long long)rc->size);
		return 0;
	}
	x->run.n_duplicate++;
	if (rc->qcode != NULL) {
		x->run.n_dup_quarantined++;
		td_log(TD_LOG_WARN, "duplicate_transmission", "file=%s "
		    "transmission_id=%s size=%llu "
		    "original_state=quarantined quarantine_code=%s "
		    "message=\"identical to a transmission quarantined "
		    "as %s; dropping it again never reprocesses it\" "
		    "next=%s", rc->name, rc->tid,
		    (unsigned long long)rc->size, rc->qcode, rc->qcode,
		    rc->next);
	} else
		td_log(TD_LOG_WARN, "duplicate_transmission", "file=%s "
		    "transmission_id=%s size=%llu", rc->name, rc->tid,
		    (unsigned long long)rc->size);
	return drop_work(x, rc->cl);
}

/*
 * The archive directories (archive/Y/M/<tid>/raw) of the n new
 * transmissions of rc, made and durable before their files are moved
 * there: each made first, then each directory that gained an entry
 * synced once, however many of the group it holds (archive/Y/M, one a
 * group as a rule, and each <tid>), where td_mkdirs synced the parent
 * of each directory it made, archive/Y/M once a file. With defer (a
 * group under syncfs), all made, then one ctx_syncfs for them all.
 */
static int
archive_dirs(struct td_ctx *x, struct rcv *rc, size_t n)
{
	char *p, *ym, **synced;
	size_t k, j, ns = 0;
	struct stat sb;
	int r = TD_OK;

	synced = xreallocarray(NULL, n + 1, sizeof(*synced));
	for (k = 0; k < n && r == 0; k++) {
		if (!rc[k].recorded || rc[k].adir == NULL)
			continue;
		ym = xasprintf("%s/%s", x->state_dir, rc[k].adir);
		*strrchr(ym, '/') = '\0';
		for (j = 0; j < ns && strcmp(synced[j], ym) != 0; j++)
			;
		if (j == ns && td_mkdirs(ym, 0750) != 0)
			r = TD_ERR_IO;
		p = xasprintf("%s/%s/raw", x->state_dir, rc[k].adir);
		*strrchr(p, '/') = '\0';
		if (r == 0 && mkdir(p, 0750) != 0 && (errno != EEXIST ||
		    lstat(p, &sb) != 0 || !S_ISDIR(sb.st_mode)))
			r = TD_ERR_IO;
		p[strlen(p)] = '/';
		if (r == 0 && mkdir(p, 0750) != 0 && (errno != EEXIST ||
		    lstat(p, &sb) != 0 || !S_ISDIR(sb.st_mode)))
			r = TD_ERR_IO;
		/* <tid>, whose new entry raw/ this makes durable */
		*strrchr(p, '/') = '\0';
		if (r == 0 && !x->defer_sync && td_fsync_dir(p) != 0)
			r = TD_ERR_IO;
		if (r != 0)
			td_log(TD_LOG_ERROR, "archive_failed", "dir=%s "
			    "error=%s", p, strerror(errno));
		x_free(p);
		if (j == ns)
			synced[ns++] = ym;
		else
			x_free(ym);
	}
	/* archive/Y/M, with the <tid> entries of the group */
	if (r == 0 && x->defer_sync)
		r = ctx_syncfs(x);
	for (j = 0; j < ns; j++) {
		if (r == 0 && !x->defer_sync && td_fsync_dir(synced[j]) != 0) {
			td_log(TD_LOG_ERROR, "archive_failed", "dir=%s "
			    "error=%s", synced[j], strerror(errno));
			r = TD_ERR_IO;
		}
		x_free(synced[j]);
	}
	x_free(synced);
	return r;
}

/*
 * Receive the n claims of rc (a group claimed together, or one claim a
 * stop left) in one transaction: each is hashed and recorded (its
 * status, rc[k].status: 0, or TD_ERR_AGAIN or TD_ERR_FORMAT when it went
 * back to landing), in a savepoint of its own; then all of them are
 * committed at once, their audit lines made durable by one fdatasync of
 * audit.log and the transaction by one of state.db's log, where each
 * file had its own two; then their archive directories are made
 * (archive_dirs) and each file moved there (settle, rc[k].settled). A
 * claim that fails otherwise is rolled back to its savepoint, left in
 * work/ for intake_recover as before, and the claims after it are not
 * looked at (*done: how many were); those before it are still
 * committed. Returns the first error.
 *
 * Durability: as for one file. Nothing is committed before what it
 * names is durable: each file's bytes (intake_hash_fd) and its claim
 * (the claim's sync) were before the commit; its archive entry is made
 * after the commit, and a stop before it is settled is resumed by
 * intake_recover from the claim recorded (in the order of the claims).
 * A stop before the commit leaves every claim of the group unrecorded,
 * received again by intake_recover.
 *
 * Under syncfs (x->defer_sync, a group of several files), the same
 * order with one flush of the file system for each step in place of
 * each file's: the files hashed, one ctx_syncfs (their data), the
 * commit; the archive directories made, one ctx_syncfs; every file
 * moved there, one ctx_syncfs; then the claim directories removed. Each
 * step's flush comes before the next step begins, so that what a step
 * names was durable first, as with fsyncs.
 */
static int
receive_group(struct td_ctx *x, struct rcv *rc, size_t n, size_t *done)
{
	size_t k;
	int r = 0, rr = 0, nrec = 0;

	*done = 0;
	if (store_begin(x->st) != 0)
		return TD_ERR_STATE;
	for (k = 0; k < n && rr == 0; k++) {
		if ((rr = store_exec(x->st, "SAVEPOINT rcv")) != 0)
			break;
		*done = k + 1;
		rr = rc[k].status = receive_record(x, &rc[k]);
		if (rr == TD_ERR_AGAIN || rr == TD_ERR_FORMAT)
			rr = 0;	/* given back, nothing of it recorded */
		if (rr != 0) {
			(void)store_exec(x->st, "ROLLBACK TO rcv");
			rcv_clear(&rc[k]);
		} else if (rc[k].recorded)
			nrec++;
		if (store_exec(x->st, "RELEASE rcv") != 0 && rr == 0)
			rr = TD_ERR_STATE;
	}
	/* what was recorded before a claim failed is committed still;
	 * under syncfs, once the bytes of all are durable */
	if (x->defer_sync && nrec > 0 && (r = ctx_syncfs(x)) != 0)
		r = store_end(x->st, r);
	else
		r = store_commit(x->st);
	if (r != 0) {
		for (k = 0; k < n; k++)
			rcv_clear(&rc[k]);
		return rr ? rr : r;
	}
	for (k = 0; k < *done && r == 0; k++)
		if (rc[k].recorded)
			r = receive_recorded(x, &rc[k]);
	if (r == 0 && nrec > 0)
		r = archive_dirs(x, rc, *done);
	for (k = 0; k < *done && r == 0; k++) {
		if (!rc[k].recorded || rc[k].adir == NULL)
			continue;
		if ((r = settle(x, rc[k].cl, rc[k].adir, 1,
		    x->defer_sync)) == 0 && !x->defer_sync)
			rc[k].settled = 1;
		if (!x->defer_sync)
			td_failpoint("archived");
	}
	if (!x->defer_sync || nrec == 0)
		return rr ? rr : r;
	/* moved, each file in its archive entry: one flush for all, then
	 * the claims go (a stop before leaves them recorded: settled again
	 * by intake_recover) */
	if (r == 0)
		r = ctx_syncfs(x);
	for (k = 0; k < *done && r == 0; k++) {
		if (!rc[k].recorded || rc[k].adir == NULL)
			continue;
		if ((r = settle_done(x, rc[k].cl)) == 0)
			rc[k].settled = 1;
		td_failpoint("archived");
	}
	return rr ? rr : r;
}

/*
 * Receive one claim (see receive_group). *tidp gets the transmission id
 * of a new one.
 */
static int
receive(struct td_ctx *x, const char *cl, const char *name, int fd,
    char **tidp)
{
	struct rcv rc;
	size_t done;
	int r;

	*tidp = NULL;
	memset(&rc, 0, sizeof(rc));
	rc.cl = (char *)cl;
	rc.name = name;
	rc.fd = fd;
	r = receive_group(x, &rc, 1, &done);
	if (r == 0 && done == 1)
		r = rc.status;
	if (r == 0 && rc.settled)
		*tidp = xstrdup(rc.tid);
	rcv_clear(&rc);
	return r;
}

/* -------------------------------------------------------- process */

#define PS_MAXCODES	64	/* distinct Tier 3 codes counted; more: "other" */

/* Where processing puts a transmission: its outbox and dead letters. */
struct psink {
	struct td_ctx		*x;
	struct tx		*t;
	struct outbox_writer	*ob;
	int			 defer;		/* its batches not flushed: a
						 * group's ctx_syncfs does */
	const char		*obtmp;		/* the outbox staging dir */
	FILE			*dlq;
	char			*dlqtmp;
	struct td_buf		 line;
	/* the first dead letters, kept should the file be quarantined
	 * (bounded by QUARANTINE_SAMPLE_BYTES) */
	struct td_buf		 samples;
	uint64_t		 nsamples;
	struct ledger		*ledger;	/* Tier 4 */
	struct {
		const char	*code;
		uint64_t	 n;
	}			 bycode[PS_MAXCODES];	/* dead letters */
	size_t			 ncodes;
};

static struct td_buf *
ps_buffer(void *arg)
{
	struct psink *p = arg;

	return outbox_buffer(p->ob);
}

static int
ps_batch(void *arg, struct td_buf *b, uint64_t n,
    const struct batch_totals *bt)
{
	struct psink *p = arg;

	return outbox_submit(p->ob, b, n, &bt->quantity,
	    bt->has_amount ? &bt->amount : NULL);
}

static int
ps_ledger(void *arg, struct map_result *mr, struct td_buf *b, size_t start,
    struct ledger_verdict *v)
{
	struct psink *p = arg;

	return ledger_check(p->ledger, mr, b, start, v);
}

static int
ps_ledger_hold(void *arg, const struct map_result *mr, const char *line,
    size_t len, const char *restates)
{
	struct psink *p = arg;

	return ledger_hold(p->ledger, mr, line, len, restates);
}

static int
ps_pass_end(void *arg, int *again)
{
	struct psink *p = arg;

	return ledger_pass_end(p->ledger, again);
}

/* Append JSON for raw row text: a string, or base64 when not UTF-8. */
static void
json_raw(struct td_buf *b, const char *raw, size_t n)
{
	size_t len = sodium_base64_encoded_len(n,
	    sodium_base64_VARIANT_ORIGINAL);
	char *enc;

	td_buf_puts(b, "\"raw\":");
	if (td_json_str(b, raw, n) == 0)
		return;
	enc = xmalloc(len);
	sodium_bin2base64(enc, len, (const unsigned char *)raw, n,
	    sodium_base64_VARIANT_ORIGINAL);
	td_buf_puts(b, "null,\"raw_base64\":\"");
	td_buf_puts(b, enc);
	td_buf_putc(b, '"');
	x_free(enc);
}

/* One dead-letter line; `try` prints the same. */

void
intake_rejection_json(struct td_buf *b, const char *tid, const char *file,
    const char *member, const char *pos, const struct rejection *rj)
{
	td_buf_printf(b, "{\"tier\":%d,\"code\":", rj->tier);
	td_json_str(b, rj->code, strlen(rj->code));
	td_buf_puts(b, ",\"message\":");
	td_json_str_lossy(b, rj->message, strlen(rj->message));
	td_buf_printf(b, ",\"transmission_id\":\"%s\",\"source\":{\"file\":",
	    tid);
	if (td_json_str(b, file, strlen(file)) != 0)
		td_buf_puts(b, "null");
	td_buf_puts(b, ",\"member\":");
	if (member == NULL || td_json_str(b, member, strlen(member)) != 0)
		td_buf_puts(b, "null");
	/* "line" (CSV) or "segment" (X12), as a record's source says */
	td_buf_printf(b, ",\"%s\":%llu},", pos, (unsigned long long)rj->line);
	if (rj->raw != NULL)
		json_raw(b, rj->raw, rj->rawlen);
	else
		td_buf_puts(b, "\"raw\":null");
	td_buf_puts(b, "}\n");
}

static int
ps_reject(void *arg, const struct rejection *rj)
{
	struct psink *p = arg;
	size_t i;

	if (p->dlq == NULL) {
		int fd;

		p->dlqtmp = xasprintf("%s/%s.ndjson.tmp", p->x->dlq, p->t->id);
		fd = open(p->dlqtmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0640);
		if (fd < 0 || (p->dlq = fdopen(fd, "we")) == NULL) {
			if (fd >= 0)
				close(fd);
			return errno == ENOSPC ? TD_ERR_NOSPACE : TD_ERR_IO;
		}
	}
	for (i = 0; i < p->ncodes; i++)
		if (strcmp(p->bycode[i].code, rj->code) == 0)
			break;
	if (i == p->ncodes && p->ncodes < PS_MAXCODES)
		p->bycode[p->ncodes++].code = rj->code;
	if (i < p->ncodes)
		p->bycode[i].n++;
	td_buf_reset(&p->line);
	intake_rejection_json(&p->line, p->t->id, p->t->name, rj->member,
	    td_conf_enum_is(p->x->conf, TDK_parse_format, "x12") ? "segment" :
	    "line", rj);
	if (fwrite(p->line.p, 1, p->line.len, p->dlq) != p->line.len)
		return errno == ENOSPC ? TD_ERR_NOSPACE : TD_ERR_IO;
	/* whole lines, the first ones that fit: a line longer than the
	 * room left (a record of max_record bytes, whose dead letter is
	 * longer than all the room) is passed over, not the end of the
	 * samples, lest a file whose first bad row is one keep none */
	if (p->nsamples < QUARANTINE_SAMPLES && p->line.len <=
	    QUARANTINE_SAMPLE_BYTES - p->samples.len &&
	    td_buf_append(&p->samples, p->line.p, p->line.len) == 0)
		p->nsamples++;
	td_log(TD_LOG_DEBUG, "record_rejected", "file=%s line=%llu tier=%d "
	    "code=%s message=%s", p->t->name, (unsigned long long)rj->line,
	    rj->tier, rj->code, rj->message);
	return 0;
}

/*
 * The directory entries a processing step changed, durable: the outbox
 * (a staged transmission renamed in or removed), the transmission's
 * archive directory (its records and manifest) and the dead letters.
 * Each file's own data was made durable by the one who wrote it (the
 * outbox workers, the manifest writer, the dead-letter writer), so only
 * what this job wrote is flushed, never the whole file system. Without
 * outbox, the outbox directory is left to the caller: a group's commit
 * syncs it once for all of its files (pgroup_end).
 */
static int
sync_staged(struct td_ctx *x, const struct tx *t, const char *obdir,
    int outbox)
{
	char *adir, *dlqf;
	int r;

	adir = xasprintf("%s/%s", x->state_dir, t->archive_dir);
	dlqf = xasprintf("%s/%s.ndjson", x->dlq, t->id);
	r = outbox ? td_fsync_dir(x->outbox) : 0;
	if (r == 0 && obdir != NULL)
		r = td_fsync_dir(obdir);
	if (r == 0)
		r = td_fsync_dir(adir);
	/* only where a dead-letter file was put (a release syncs its
	 * removal itself) */
	if (r == 0 && access(dlqf, F_OK) == 0)
		r = td_fsync_dir(x->dlq);
	x_free(adir);
	x_free(dlqf);
	return r;
}

/*
 * The archive's records of a transmission: its batches, each under a
 * second name (a hard link) in records.tmp/, made durable, then renamed
 * records/ (clean_partial removed those of an attempt before).
 * A batch is so written once; a link the file system refuses (another
 * file system, no hard links) is a copy, made durable by td_copy_file.
 */
static int
link_records(struct td_ctx *x, const char *obtmp, const char *rectmp,
    const char *rec, const struct ob_batch *b, size_t nb, int defer)
{
	char *src, *dst;
	size_t i;
	int r = 0;

	/* clean_partial removed what an attempt before left */
	if (mkdir(rectmp, 0750) != 0)
		return errno == ENOSPC || errno == EDQUOT ? TD_ERR_NOSPACE :
		    TD_ERR_IO;
	for (i = 0; i < nb && r == 0; i++) {
		src = outbox_batch_path(obtmp, b[i].seq, x->enc);
		dst = outbox_batch_path(rectmp, b[i].seq, x->enc);
		if (link(src, dst) != 0)
			r = errno == ENOSPC || errno == EDQUOT ?
			    TD_ERR_NOSPACE : td_copy_file(src, dst);
		if (r != 0)
			td_log(TD_LOG_ERROR, "archive_write_failed", "path=%s "
			    "error=%s", dst, td_errstr(r));
		x_free(src);
		x_free(dst);
	}
	if (r == 0 && !defer && td_fsync_dir(rectmp) != 0)
		r = TD_ERR_IO;
	if (r == 0 && rename(rectmp, rec) != 0)
		r = TD_ERR_IO;
	return r;
}

/*
 * The last steps of processing tid, in the transaction that records it
 * parsed: record what its manifest says beyond the transmission's row,
 * build the manifest from state, stage it in the outbox and keep it in
 * the archive, then make the archive's records (links to the nb batches
 * b) and the outbox entry visible and durable, all before the commit. A
 * run stopped before the commit leaves an outbox entry of a transmission
 * not parsed: swept, and the transmission processed again. grouped: the
 * outbox directory's own sync is left to the group's commit; and under
 * syncfs (x->defer_sync) every flush of this file's staging is left to
 * the one ctx_syncfs before that commit (pgroup_end): a stop before it
 * leaves staging of a transmission not parsed, removed whole at the
 * next start (outbox_sweep, clean_partial) whatever of it reached the
 * disk, as a stop before an fsync does.
 */
static int
stage_parsed(struct td_ctx *x, const struct tx *t,
    const struct proc_result *res, const char *obtmp, const char *obdir,
    const char *rectmp, const char *rec, const struct ob_batch *b, size_t nb,
    int grouped)
{
	const struct proc_doc *d;
	char *man = NULL, *p;
	size_t i;
	int r, defer = grouped && x->defer_sync;
	int (*put)(const char *, const char *) = defer ?
	    td_write_all_path_nosync : td_write_all_path;

	r = manifest_set_info(x, t->id, res->format[0] ? res->format : "raw",
	    proc_encoding(res), td_conf_str(x->conf,
	    TDK_output_output_encoding));
	if (r == 0 && strcmp(td_conf_str(x->conf, TDK_parse_format), "x12") == 0)
		r = manifest_set_x12(x, t->id, &res->skipped);
	for (i = 0; i < res->ndocs && r == 0; i++) {
		d = &res->docs[i];
		r = manifest_add_member(x, t->id, i, d->member, d->encoding,
		    d->rows, d->records, d->rejected);
	}
	if (r == 0)
		r = manifest_build(x, t->id, &man);
	if (r == 0) {
		p = xasprintf("%s/manifest.json", obtmp);
		r = put(p, man);
		x_free(p);
	}
	if (r == 0) {
		p = xasprintf("%s/%s/manifest.json", x->state_dir,
		    t->archive_dir);
		r = put(p, man);
		x_free(p);
	}
	if (r == 0)
		r = link_records(x, obtmp, rectmp, rec, b, nb, defer);
	if (r == 0 && rename(obtmp, obdir) != 0)
		r = TD_ERR_IO;
	if (r == 0 && !defer)
		r = sync_staged(x, t, obdir, !grouped);
	if (r == 0)
		td_failpoint("outbox_staged");
	x_free(man);
	return r;
}

/*
 * The counts of a quarantined transmission, with the names the manifest
 * uses: its rows read, none delivered, dead-lettered, held or duplicate:
 * every row is held back with the file, its Tier 3 rows too, whose dead
 * letters are not kept (samples aside; a release writes them all).
 */
static void
put_qcounts(struct td_buf *b, const struct proc_result *res)
{
	td_buf_printf(b, "\"records\":%llu,\"delivered\":0,\"dlq\":0,"
	    "\"held\":0,\"duplicate\":0,\"quarantined\":%llu",
	    (unsigned long long)res->rows, (unsigned long long)res->rows);
}

/* The rows rejected before the verdict, by code, and the samples kept. */
static void
put_qrejected(struct td_buf *b, const struct proc_result *res,
    uint64_t kept)
{
	td_buf_printf(b, "\"rejected\":%llu,\"rejections\":",
	    (unsigned long long)res->rejected);
	rej_counts_json(&res->by_code, b);
	td_buf_printf(b, ",\"dead_letters_kept\":%llu",
	    (unsigned long long)kept);
}

/*
 * The dead letters of a transmission being quarantined, before the
 * commit that records it so: here, its first ones (of ps, when it was
 * processed) as samples in qdir, made durable by the caller's fsync of
 * qdir, or no samples file; then (quarantine_dlq_remove) none in dlq/,
 * neither the staging file of this attempt nor a file an attempt before
 * left (a release stopped before it removed it). A stop at any point
 * before the commit leaves the transmission received: processed again
 * from the start, it writes the same.
 */
static int
quarantine_samples(const char *qdir, const struct psink *ps)
{
	char *p;
	int r = 0;

	p = xasprintf("%s/%s", qdir, QUARANTINE_SAMPLE_FILE);
	if (ps != NULL && ps->nsamples > 0)
		r = td_write_file_atomic(p, ps->samples.p, ps->samples.len);
	else if (unlink(p) != 0 && errno != ENOENT)
		r = TD_ERR_IO;
	x_free(p);
	return r;
}

/* Remove the dead letters in dlq/ of a transmission being quarantined. */
static int
quarantine_dlq_remove(struct td_ctx *x, const struct tx *t,
    const struct psink *ps)
{
	char *p;
	int gone = 0, r = 0;

	if (ps != NULL && ps->dlqtmp != NULL) {
		if (unlink(ps->dlqtmp) == 0)
			gone = 1;
		else if (errno != ENOENT)
			r = TD_ERR_IO;
	}
	p = xasprintf("%s/%s.ndjson", x->dlq, t->id);
	if (unlink(p) == 0)
		gone = 1;
	else if (errno != ENOENT)
		r = TD_ERR_IO;
	x_free(p);
	if (r == 0 && gone)
		r = td_fsync_dir(x->dlq);
	return r;
}

static int
quarantine(struct td_ctx *x, const struct tx *t, const char *code,
    const char *msg, const char *detail, const struct proc_result *res,
    const struct psink *ps)
{
	struct td_buf b;
	char *qdir, *raw, *qraw, *path, ts[TD_RFC3339_MAX], *fields;
	uint64_t kept = ps != NULL ? ps->nsamples : 0;
	int r;

	qdir = xasprintf("%s/%s", x->quarantine, t->id);
	raw = xasprintf("%s/%s/raw/%s", x->state_dir, t->archive_dir,
	    t->name);
	qraw = xasprintf("%s/%s", qdir, t->name);
	path = xasprintf("%s/reason.json", qdir);
	td_rfc3339(t->received_at, ts);
	td_buf_init(&b, 1024, 0);
	td_buf_printf(&b, "{\"tier\":2,\"code\":\"%s\",\"message\":", code);
	td_json_str_lossy(&b, msg, strlen(msg));
	td_buf_puts(&b, ",\"detail\":");
	td_buf_puts(&b, detail != NULL ? detail : "null");
	td_buf_puts(&b, ",\"file\":");
	if (td_json_str(&b, t->name, strlen(t->name)) != 0)
		td_buf_puts(&b, "null");
	td_buf_printf(&b, ",\"size\":%llu,\"transmission_id\":\"%s\","
	    "\"received_at\":\"%s\",\"integration\":",
	    (unsigned long long)t->size, t->id, ts);
	td_json_str(&b, x->integration, strlen(x->integration));
	td_buf_printf(&b, ",\"records\":%llu,", (unsigned long long)res->rows);
	put_qrejected(&b, res, kept);
	td_buf_puts(&b, ",\"counts\":{");
	put_qcounts(&b, res);
	td_buf_puts(&b, "}}\n");

	r = TD_ERR_IO;
	if (td_mkdirs(qdir, 0750) != 0)
		goto out;
	(void)unlink(qraw);
	if (link(raw, qraw) != 0 && td_copy_file(raw, qraw) != 0)
		goto out;
	if ((r = quarantine_samples(qdir, ps)) != 0)
		goto out;
	if ((r = td_write_file_atomic(path, b.p, b.len)) != 0)
		goto out;
	td_failpoint("quarantine_staged");
	if ((r = td_fsync_dir(qdir)) != 0)
		goto out;
	if ((r = quarantine_dlq_remove(x, t, ps)) != 0)
		goto out;
	td_failpoint("quarantine_dlq_removed");
	td_buf_reset(&b);
	td_buf_printf(&b, "\"tier\":2,\"code\":\"%s\",\"message\":", code);
	td_json_str_lossy(&b, msg, strlen(msg));
	td_buf_putc(&b, ',');
	put_qcounts(&b, res);
	td_buf_putc(&b, ',');
	put_qrejected(&b, res, kept);
	fields = xstrdup(td_buf_cstr(&b));
	if ((r = store_begin(x->st)) == 0) {
		sqlite3_stmt *s = store_prepare(x->st, "UPDATE transmissions "
		    "SET state = 'quarantined', mapping_version = ?, "
		    "records_in = ?, dlq = ?, reason_tier = 2, "
		    "reason_code = ?, reason_message = ?, updated_at = ? "
		    "WHERE id = ?");

		sqlite3_bind_text(s, 1, mapper_version(x->map), -1,
		    SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)res->rows);
		/* of a quarantined transmission, dlq is the rows rejected
		 * before the verdict (`quarantine list`): status and the
		 * metrics count them quarantined, with the file */
		sqlite3_bind_int64(s, 3, (sqlite3_int64)res->rejected);
		sqlite3_bind_text(s, 4, code, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 5, msg, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 6, now_sec());
		sqlite3_bind_text(s, 7, t->id, -1, SQLITE_STATIC);
		r = store_step_done(x->st, s);
		if (r == 0)
			r = audit_append(x->audit, "transmission_quarantined",
			    t->id, fields);
		r = store_end(x->st, r);
	}
	x_free(fields);
	if (r == 0) {
		td_failpoint("transmission_quarantined");
		x->run.n_quarantined++;
		td_buf_reset(&b);
		rej_counts_text(&res->by_code, &b);
		td_log(TD_LOG_WARN, "file_quarantined", res->rejected == 0 ?
		    "file=%s transmission_id=%s tier=2 code=%s message=%s" :
		    "file=%s transmission_id=%s tier=2 code=%s message=%s "
		    "rejections=%s", t->name, t->id, code, msg,
		    td_buf_cstr(&b));
	}
 out:
	if (r != 0)
		td_log(TD_LOG_ERROR, "quarantine_failed", "file=%s error=%s",
		    t->name, td_errstr(r));
	td_buf_free(&b);
	x_free(qdir);
	x_free(raw);
	x_free(qraw);
	x_free(path);
	return r;
}

/*
 * Open the archived raw file path to read it: a regular file only,
 * never through a symbolic link, and without blocking (a FIFO put in
 * its place would block the open, and the lock with it). The fd, or -1
 * with *why saying why not.
 */
static int
open_raw(const char *path, const char **why)
{
	struct stat sb;
	int fd;

	*why = NULL;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC)) < 0) {
		*why = strerror(errno);
		return -1;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		*why = "not a regular file";
		close(fd);
		return -1;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == -1) {
		*why = strerror(errno);
		close(fd);
		return -1;
	}
	return fd;
}

/* ------------------------------------------------ operator decisions */

/*
 * Check the archived raw file of t again, with today's [verify] and
 * keys: its bytes must still be its transmission id. *vjson and *v get
 * the new verification.
 */
static int
reverify(struct td_ctx *x, const struct tx *t, struct verification *v,
    char **vjson)
{
	char *rawdir, *raw, tid[TD_SHA256_HEX], sha512hex[129];
	const char *why;
	struct sidecars sc;
	uint8_t b2[64];
	uint64_t size;
	int fd, r;

	*vjson = NULL;
	memset(v, 0, sizeof(*v));
	rawdir = xasprintf("%s/%s/raw", x->state_dir, t->archive_dir);
	raw = xasprintf("%s/%s", rawdir, t->name);
	sidecar_find(rawdir, t->name, &sc);
	if ((fd = open_raw(raw, &why)) < 0) {
		fprintf(stderr, "tradedrop: %s: %s\n", raw, why);
		r = TD_ERR_IO;
		goto out;
	}
	r = intake_hash_fd(fd, sidecar_wants(&sc), tid, sha512hex, b2, &size);
	close(fd);
	if (r == 0 && (strcmp(tid, t->replay_of != NULL ? t->replay_of :
	    t->id) != 0 || size != t->size)) {
		fprintf(stderr, "tradedrop: %s: the archived file no longer "
		    "has the bytes of transmission %s; not released\n", raw,
		    t->id);
		r = TD_ERR_FORMAT;
	}
	if (r == 0) {
		sidecar_verify(x->conf, x->keys, x->nkeys, rawdir, t->name,
		    &sc, tid, sha512hex[0] ? sha512hex : NULL, b2, v);
		*vjson = sidecar_json(v);
	}
 out:
	sidecar_free(&sc);
	x_free(rawdir);
	x_free(raw);
	return r;
}

/* The quarantined transmission tid, or an error said on stderr. */
static int
load_quarantined(struct td_ctx *x, const char *tid, struct tx *t)
{
	if (tx_load(x, tid, t) != 0) {
		fprintf(stderr, "tradedrop: no transmission %s\n", tid);
		return TD_ERR_NOTFOUND;
	}
	if (strcmp(t->state, "quarantined") != 0) {
		fprintf(stderr, "tradedrop: transmission %s is %s, not "
		    "quarantined\n", tid, t->state);
		tx_free(t);
		return TD_ERR_INVAL;
	}
	return TD_OK;
}

/* "code":…,"message":… of the quarantine reason of tid, for audit. */
static char *
reason_fields(struct td_ctx *x, const char *tid)
{
	struct td_buf b;
	sqlite3_stmt *s;
	const char *code = NULL, *msg = NULL;
	char *f;

	td_buf_init(&b, 256, 0);
	s = store_prepare(x->st, "SELECT reason_code, reason_message FROM "
	    "transmissions WHERE id = ?");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		code = (const char *)sqlite3_column_text(s, 0);
		msg = (const char *)sqlite3_column_text(s, 1);
	}
	td_buf_puts(&b, "\"quarantine_code\":");
	if (code == NULL || td_json_str(&b, code, strlen(code)) != 0)
		td_buf_puts(&b, "null");
	td_buf_puts(&b, ",\"quarantine_message\":");
	if (msg == NULL)
		td_buf_puts(&b, "null");
	else
		td_json_str_lossy(&b, msg, strlen(msg));
	sqlite3_reset(s);
	f = xstrdup(td_buf_cstr(&b));
	td_buf_free(&b);
	return f;	/* transferred */
}

/*
 * Run the UPDATE s, append the audit event for it and commit, all in
 * one transaction: an operator's decision is recorded whole or not at
 * all.
 */
static int
decide(struct td_ctx *x, sqlite3_stmt *s, const char *event,
    const char *tid, const char *fields)
{
	int r = store_step_done(x->st, s);

	if (r == 0)
		r = audit_append(x->audit, event, tid, fields);
	r = store_end(x->st, r);
	return r;
}

/* 1 when state.db has tid quarantined. */
static int
still_quarantined(struct td_ctx *x, const char *tid)
{
	sqlite3_stmt *s;
	int q;

	s = store_prepare(x->st, "SELECT 1 FROM transmissions WHERE id = ? "
	    "AND state = 'quarantined'");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	q = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_reset(s);
	return q;
}

/*
 * What a drop of t that did not commit put in its archive entry: the
 * decision never made, and the link to its reason.json.
 */
static void
drop_undo(struct td_ctx *x, const struct tx *t)
{
	char *p;

	p = xasprintf("%s/%s/decision.json", x->state_dir, t->archive_dir);
	(void)unlink(p);
	x_free(p);
	p = xasprintf("%s/%s/" QUARANTINE_SAMPLE_FILE, x->state_dir,
	    t->archive_dir);
	(void)unlink(p);
	x_free(p);
	p = xasprintf("%s/%s/reason.json", x->state_dir, t->archive_dir);
	if (unlink(p) == 0)
		(void)td_fsync_parent(p);
	x_free(p);
}

int
intake_release(struct td_ctx *x, const char *tid)
{
	struct tx t;
	struct verification v;
	sqlite3_stmt *s;
	char *vjson = NULL, *fields = NULL, *p;
	int r;

	if ((r = load_quarantined(x, tid, &t)) != 0)
		return r;
	if ((r = reverify(x, &t, &v, &vjson)) != 0)
		goto out;
	p = reason_fields(x, t.id);
	fields = xasprintf("%s,\"mapping_version\":\"%s\"", p,
	    mapper_version(x->map));
	x_free(p);
	if ((r = store_begin(x->st)) != 0)
		goto out;
	s = store_prepare(x->st, "UPDATE transmissions SET state = "
	    "'received', verification = ?, verify_code = ?, verify_message "
	    "= ?, reason_tier = NULL, reason_code = NULL, reason_message = "
	    "NULL, records_in = 0, dlq = 0, held = 0, duplicate = 0, "
	    "reported = 0, rejections_sent = 0, releases = releases + 1, "
	    "updated_at = ? WHERE id = ?");
	sqlite3_bind_text(s, 1, vjson, -1, SQLITE_STATIC);
	if (v.code != NULL) {
		sqlite3_bind_text(s, 2, v.code, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, v.msg, -1, SQLITE_STATIC);
	} else {
		sqlite3_bind_null(s, 2);
		sqlite3_bind_null(s, 3);
	}
	sqlite3_bind_int64(s, 4, now_sec());
	sqlite3_bind_text(s, 5, t.id, -1, SQLITE_STATIC);
	if ((r = decide(x, s, "transmission_released", t.id, fields)) != 0)
		goto out;
	/* its raw bytes stay in the archive; what the quarantine and the
	 * dead letters held is of the attempt before */
	p = xasprintf("%s/%s", x->quarantine, t.id);
	(void)td_remove_tree(p, x->state_dir);
	x_free(p);
	p = xasprintf("%s/%s.ndjson", x->dlq, t.id);
	if (unlink(p) == 0)
		(void)td_fsync_dir(x->dlq);
	x_free(p);
	drop_undo(x, &t);	/* of a drop stopped before its commit */
	td_log(TD_LOG_INFO, "transmission_released", "file=%s "
	    "transmission_id=%s", t.name, t.id);
 out:
	x_free(vjson);
	x_free(fields);
	tx_free(&t);
	return r;
}

/*
 * Link the file src, if there, into adir as name (a copy where no link
 * can be made): not moved, so that the quarantine entry (and the dead
 * letters an older tradedrop kept in dlq/) stay whole until the drop
 * commits.
 */
static int
keep_in_archive(const char *src, const char *adir, const char *name)
{
	char *q;
	int r = 0;

	q = xasprintf("%s/%s", adir, name);
	(void)unlink(q);	/* a drop's before, which never committed */
	if (link(src, q) != 0 && errno != ENOENT && td_copy_file(src, q) != 0)
		r = TD_ERR_IO;
	x_free(q);
	return r;
}

int
intake_drop(struct td_ctx *x, const char *tid, const char *reason,
    const char *by)
{
	struct tx t;
	struct td_buf b;
	sqlite3_stmt *s;
	char *adir = NULL, *qdir = NULL, *olddlq = NULL, *p, *fields = NULL;
	char *rf = NULL, ts[TD_RFC3339_MAX];
	int r;

	if ((r = load_quarantined(x, tid, &t)) != 0)
		return r;
	adir = xasprintf("%s/%s", x->state_dir, t.archive_dir);
	qdir = xasprintf("%s/%s", x->quarantine, t.id);
	olddlq = xasprintf("%s/%s.ndjson", x->dlq, t.id);
	rf = reason_fields(x, t.id);
	td_rfc3339(now_sec(), ts);
	td_buf_init(&b, 512, 0);
	td_buf_printf(&b, "\"decision\":\"dropped\",\"time\":\"%s\","
	    "\"reason\":", ts);
	td_json_str_lossy(&b, reason, strlen(reason));
	td_buf_puts(&b, ",\"by\":");
	td_json_str_lossy(&b, by, strlen(by));
	td_buf_printf(&b, ",%s", rf);
	fields = xstrdup(td_buf_cstr(&b));
	/* the decision beside the raw file, which the archive keeps */
	td_buf_reset(&b);
	td_buf_printf(&b, "{\"transmission_id\":\"%s\",%s}\n", t.id, fields);
	/*
	 * reason.json is linked, not moved: until the commit the
	 * transmission is quarantined, and its quarantine entry whole (the
	 * report of its rejections is sent from it). A stop before the
	 * commit leaves both files in the archive, which a drop again
	 * replaces and a release removes.
	 */
	p = xasprintf("%s/decision.json", adir);
	r = td_write_file_atomic(p, b.p, b.len);
	x_free(p);
	if (r == 0) {
		p = xasprintf("%s/reason.json", qdir);
		r = keep_in_archive(p, adir, "reason.json");
		x_free(p);
	}
	if (r == 0) {
		/* its samples; of a file an older tradedrop quarantined, the
		 * whole dead-letter file it kept in dlq/, which leaves dlq/
		 * with the drop (dlq/ holds those of parsed ones only) */
		p = xasprintf("%s/" QUARANTINE_SAMPLE_FILE, qdir);
		if (access(p, F_OK) != 0) {
			x_free(p);
			p = xstrdup(olddlq);
		}
		r = keep_in_archive(p, adir, QUARANTINE_SAMPLE_FILE);
		x_free(p);
	}
	if (r == 0 && (r = td_fsync_dir(adir)) == 0 &&
	    (r = store_begin(x->st)) == 0) {
		s = store_prepare(x->st, "UPDATE transmissions SET state = "
		    "'dropped', reported = 1, updated_at = ? WHERE id = ?");
		sqlite3_bind_int64(s, 1, now_sec());
		sqlite3_bind_text(s, 2, t.id, -1, SQLITE_STATIC);
		r = decide(x, s, "transmission_dropped", t.id, fields);
	}
	if (r == 0) {
		(void)td_remove_tree(qdir, x->state_dir);
		if (unlink(olddlq) == 0)
			(void)td_fsync_dir(x->dlq);
		td_log(TD_LOG_INFO, "transmission_dropped", "file=%s "
		    "transmission_id=%s reason=%s", t.name, t.id, reason);
	} else if (still_quarantined(x, t.id))
		drop_undo(x, &t);	/* a commit that failed but went
					 * through keeps them */
	td_buf_free(&b);
	x_free(adir);
	x_free(qdir);
	x_free(olddlq);
	x_free(rf);
	x_free(fields);
	tx_free(&t);
	return r;
}

/* --------------------------------------------------------- replay */

void
intake_replay_id(const char *tid, const char *mv, char rid[TD_SHA256_HEX])
{
	char *m = xasprintf("tradedrop.replay\n%s\n%s", tid, mv);

	td_sha256_hex(m, strlen(m), rid);
	x_free(m);
}

int
intake_replay_source(struct td_ctx *x, const char *id, struct tx *t)
{
	sqlite3_stmt *s;
	char *orig;
	int pruned;

	if (tx_load(x, id, t) != 0) {
		fprintf(stderr, "tradedrop: no transmission %s\n", id);
		return TD_ERR_NOTFOUND;
	}
	if (t->replay_of != NULL) {
		/* a replay of a replay: the same raw file again */
		orig = xstrdup(t->replay_of);
		tx_free(t);
		if (tx_load(x, orig, t) != 0) {
			fprintf(stderr, "tradedrop: no transmission %s\n", orig);
			x_free(orig);
			return TD_ERR_NOTFOUND;
		}
		x_free(orig);
	}
	if (strcmp(t->state, "parsed") != 0 &&
	    strcmp(t->state, "delivered") != 0) {
		orig = ctx_conf_arg(x->conf);
		if (strcmp(t->state, "quarantined") == 0)
			fprintf(stderr, "tradedrop: transmission %s is "
			    "quarantined: only a parsed or delivered one is "
			    "replayed (a quarantined one is processed again by "
			    "`tradedrop quarantine %s release %s`)\n", t->id,
			    orig, t->id);
		else
			fprintf(stderr, "tradedrop: transmission %s is %s: only "
			    "a parsed or delivered one is replayed\n", t->id,
			    t->state);
		x_free(orig);
		tx_free(t);
		return TD_ERR_INVAL;
	}
	s = store_prepare(x->st, "SELECT pruned_at IS NOT NULL FROM "
	    "transmissions WHERE id = ?");
	sqlite3_bind_text(s, 1, t->id, -1, SQLITE_STATIC);
	pruned = sqlite3_step(s) != SQLITE_ROW || sqlite3_column_int(s, 0);
	sqlite3_reset(s);
	if (pruned) {
		fprintf(stderr, "tradedrop: transmission %s: its archive entry "
		    "was pruned; nothing is left to replay\n", t->id);
		tx_free(t);
		return TD_ERR_NOTFOUND;
	}
	return TD_OK;
}

int
intake_replayed_as(struct td_ctx *x, const char *tid, const char *mv,
    char rid[TD_SHA256_HEX])
{
	sqlite3_stmt *s;
	int found;

	s = store_prepare(x->st, "SELECT id FROM transmissions WHERE "
	    "replay_of = ? AND mapping_version = ? ORDER BY seq LIMIT 1");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, mv, -1, SQLITE_STATIC);
	if ((found = sqlite3_step(s) == SQLITE_ROW))
		snprintf(rid, TD_SHA256_HEX, "%s",
		    (const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	return found;
}

/*
 * The replay's own archive entry: raw/ holds hard links to the raw file
 * and sidecars of the original's (the same bytes, stored once).
 */
static int
replay_link(struct td_ctx *x, const struct tx *o, const char *adir)
{
	DIR *d;
	struct dirent *de;
	struct stat sb;
	char *from, *to, *src, *dst;
	int r = 0;

	from = xasprintf("%s/%s/raw", x->state_dir, o->archive_dir);
	to = xasprintf("%s/%s/raw", x->state_dir, adir);
	if (td_mkdirs(to, 0750) != 0 || (d = opendir(from)) == NULL) {
		fprintf(stderr, "tradedrop: %s: %s\n", from, strerror(errno));
		x_free(from);
		x_free(to);
		return TD_ERR_IO;
	}
	while (r == 0 && (de = readdir(d)) != NULL) {
		src = xasprintf("%s/%s", from, de->d_name);
		dst = xasprintf("%s/%s", to, de->d_name);
		if (lstat(src, &sb) == 0 && S_ISREG(sb.st_mode)) {
			(void)unlink(dst);	/* of a replay interrupted */
			if (link(src, dst) != 0 && td_copy_file(src, dst) != 0) {
				fprintf(stderr, "tradedrop: %s: %s\n", dst,
				    strerror(errno));
				r = errno == ENOSPC ? TD_ERR_NOSPACE : TD_ERR_IO;
			}
		}
		x_free(src);
		x_free(dst);
	}
	closedir(d);
	if (r == 0)
		r = td_fsync_dir(to);
	x_free(from);
	x_free(to);
	return r;
}

int
intake_replay(struct td_ctx *x, const char *id, const char *by,
    char rid[TD_SHA256_HEX])
{
	struct tx o, e;
	struct td_buf b;
	sqlite3_stmt *s;
	const char *mv = mapper_version(x->map);
	char *adir = NULL, *fields = NULL;
	int64_t now = now_sec();
	int r;

	rid[0] = '\0';
	if ((r = intake_replay_source(x, id, &o)) != 0)
		return r;
	if (strcmp(o.mapping_version, mv) == 0) {
		snprintf(rid, TD_SHA256_HEX, "%s", o.id);
		r = TD_ERR_EXISTS;
		goto out;
	}
	if (intake_replayed_as(x, o.id, mv, rid)) {
		r = TD_ERR_EXISTS;
		goto out;
	}
	intake_replay_id(o.id, mv, rid);
	if (tx_load(x, rid, &e) == 0) {
		tx_free(&e);
		r = TD_ERR_EXISTS;
		goto out;
	}
	adir = archive_rel(rid, now);
	if ((r = replay_link(x, &o, adir)) != 0)
		goto out;
	/* the file name and the user are untrusted text: JSON-escaped */
	td_buf_init(&b, 256, 0);
	td_buf_printf(&b, "\"replay_of\":\"%s\",\"file\":", o.id);
	td_json_str_lossy(&b, o.name, strlen(o.name));
	td_buf_printf(&b, ",\"mapping_version\":\"%s\","
	    "\"replayed_mapping_version\":\"%s\",\"by\":", mv,
	    o.mapping_version);
	td_json_str_lossy(&b, by, strlen(by));
	fields = xstrdup(td_buf_cstr(&b));
	td_buf_free(&b);
	if ((r = store_begin(x->st)) != 0)
		goto out;
	s = store_prepare(x->st, "INSERT INTO transmissions(id, name, size, "
	    "received_at, source, archive_dir, state, updated_at, "
	    "verification, replay_of) VALUES (?, ?, ?, ?, ?, ?, 'received', "
	    "?, ?, ?)");
	sqlite3_bind_text(s, 1, rid, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, o.name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)o.size);
	sqlite3_bind_int64(s, 4, now);
	sqlite3_bind_text(s, 5, o.source, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, adir, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, now);
	sqlite3_bind_text(s, 8, o.verification, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 9, o.id, -1, SQLITE_STATIC);
	if ((r = decide(x, s, "transmission_replayed", rid, fields)) == 0)
		td_log(TD_LOG_INFO, "transmission_replayed", "file=%s "
		    "transmission_id=%s replay_of=%s mapping_version=%s",
		    o.name, rid, o.id, mv);
 out:
	x_free(adir);
	x_free(fields);
	tx_free(&o);
	return r;
}

/* Remove what an interrupted processing of tid may have left. */
static void
clean_partial(struct td_ctx *x, const struct tx *t)
{
	char *p;

	p = xasprintf("%s/%s.tmp", x->outbox, t->id);
	(void)td_remove_tree(p, x->state_dir);
	x_free(p);
	p = xasprintf("%s/%s", x->outbox, t->id);
	(void)td_remove_tree(p, x->state_dir);
	x_free(p);
	p = xasprintf("%s/%s.ndjson.tmp", x->dlq, t->id);
	(void)unlink(p);
	x_free(p);
	/*
	 * The archive's records of an attempt whose commit never came (a
	 * transmission processed is one still received): records.tmp/ of a
	 * stop inside link_records, records/ of a stop after it. Left, they
	 * would hold their batches' space while this attempt writes its own,
	 * and stay with a transmission this attempt quarantines. Never
	 * those of a transmission whose processing was committed.
	 */
	if (t->state == NULL || strcmp(t->state, "received") != 0)
		return;
	p = xasprintf("%s/%s/records.tmp", x->state_dir, t->archive_dir);
	(void)td_remove_tree(p, x->state_dir);
	x_free(p);
	p = xasprintf("%s/%s/records", x->state_dir, t->archive_dir);
	(void)td_remove_tree(p, x->state_dir);
	x_free(p);
	/*
	 * The quarantine entry of an attempt whose commit never came, or of
	 * the attempt before a release stopped before it removed it: left,
	 * its reason and dead-letter samples would stay beside a
	 * transmission this attempt delivers.
	 */
	p = xasprintf("%s/%s", x->quarantine, t->id);
	(void)td_remove_tree(p, x->state_dir);
	x_free(p);
	/* and what a drop that never committed put in its archive entry (a
	 * release stopped after its commit, before it removed them): it
	 * would say "dropped" of a transmission this attempt delivers */
	drop_undo(x, t);
}

/*
 * The commit that records tid parsed failed (a full disk: SQLite could
 * not grow its log) after stage_parsed put its outbox entry and the
 * archive's records in place: remove them, so that they do not hold the space the
 * next attempt needs, if tid is still to be processed (a commit that
 * reported a failure but went through keeps them).
 */
static void
unstage(struct td_ctx *x, const struct tx *t, const char *obdir,
    const char *rec)
{
	sqlite3_stmt *s;
	int todo;

	s = store_prepare(x->st, "SELECT 1 FROM transmissions WHERE id = ? "
	    "AND state = 'received'");
	sqlite3_bind_text(s, 1, t->id, -1, SQLITE_STATIC);
	todo = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_reset(s);
	if (!todo)
		return;
	(void)td_remove_tree(obdir, x->state_dir);
	(void)td_remove_tree(rec, x->state_dir);
	(void)sync_staged(x, t, NULL, 1);
}

/* Stage the outbox and the archive's records of this attempt. */
static int
ps_open(struct psink *p)
{
	int r;

	r = outbox_open(&p->ob, p->obtmp, p->x->enc, (size_t)1 << 34);
	if (r == 0 && p->defer)
		outbox_nosync(p->ob);
	return r;
}

/*
 * encoding = auto starts the file over with document doc read as
 * windows-1252, or as a mixed document's UTF-8: drop everything the
 * attempt before staged.
 */
static int
ps_reset(void *arg, size_t doc, int mixed)
{
	struct psink *p = arg;
	int r;

	if (doc == SIZE_MAX) {
		td_log(TD_LOG_INFO, "duplicate_key_retry", "file=%s "
		    "message=\"a record_key is on more than one row: the file "
		    "is read again to dead-letter each of them\"", p->t->name);
		r = ledger_again(p->ledger);
	} else {
		if (mixed)
			td_log(TD_LOG_INFO, "decode_retry", "file=%s "
			    "document=%zu encoding=utf-8 mixed=yes", p->t->name,
			    doc + 1);
		else
			td_log(TD_LOG_INFO, "decode_retry", "file=%s "
			    "document=%zu encoding=windows-1252", p->t->name,
			    doc + 1);
		r = ledger_reset(p->ledger);
	}
	if (r != 0)
		return r;
	outbox_free(p->ob);
	p->ob = NULL;
	if (p->dlq != NULL) {
		fclose(p->dlq);
		p->dlq = NULL;
	}
	x_free(p->dlqtmp);
	p->dlqtmp = NULL;
	p->ncodes = 0;
	td_buf_reset(&p->samples);
	p->nsamples = 0;
	clean_partial(p->x, p->t);
	return ps_open(p);
}

/*
 * The Tier 3 rows of a transmission, counted by code, as one audit event
 * (in the step that records it parsed or quarantined).
 */
static int
audit_dead_letters(struct td_ctx *x, const struct tx *t,
    const struct psink *p, uint64_t total)
{
	struct td_buf b;
	size_t i;
	int r;

	if (total == 0)
		return 0;
	td_buf_init(&b, 256, 0);
	td_buf_printf(&b, "\"tier\":3,\"count\":%llu,\"by_code\":{",
	    (unsigned long long)total);
	for (i = 0; i < p->ncodes; i++) {
		total -= p->bycode[i].n;
		td_buf_printf(&b, "%s\"%s\":%llu", i ? "," : "",
		    p->bycode[i].code, (unsigned long long)p->bycode[i].n);
	}
	if (total > 0)	/* more distinct codes than counted */
		td_buf_printf(&b, "%s\"other\":%llu", i ? "," : "",
		    (unsigned long long)total);
	td_buf_putc(&b, '}');
	r = audit_append(x->audit, "records_dead_lettered", t->id,
	    td_buf_cstr(&b));
	td_buf_free(&b);
	return r;
}

/*
 * The Tier 4 outcomes of a transmission, one audit event each: records
 * withheld as duplicate_record, restatements held or forwarded.
 */
static int
audit_tier4(struct td_ctx *x, const struct tx *t,
    const struct proc_result *res)
{
	char *f;
	int r = 0;

	if (res->duplicate > 0) {
		f = xasprintf("\"tier\":4,\"code\":\"duplicate_record\","
		    "\"count\":%llu", (unsigned long long)res->duplicate);
		r = audit_append(x->audit, "records_withheld", t->id, f);
		x_free(f);
	}
	if (r == 0 && res->held > 0) {
		f = xasprintf("\"tier\":4,\"code\":\"restatement\","
		    "\"count\":%llu", (unsigned long long)res->held);
		r = audit_append(x->audit, "records_held", t->id, f);
		x_free(f);
	}
	if (r == 0 && res->restated > 0) {
		f = xasprintf("\"tier\":4,\"code\":\"restatement\","
		    "\"count\":%llu", (unsigned long long)res->restated);
		r = audit_append(x->audit, "restatements_forwarded", t->id, f);
		x_free(f);
	}
	if (r == 0 && (res->held > 0 || res->duplicate > 0))
		td_log(TD_LOG_WARN, "records_tier4", "file=%s "
		    "transmission_id=%s held=%llu duplicate=%llu "
		    "restated=%llu", t->name, t->id,
		    (unsigned long long)res->held,
		    (unsigned long long)res->duplicate,
		    (unsigned long long)res->restated);
	return r;
}

/* Parse and map a received transmission into the outbox. */
/*
 * A transmission processed and staged, in state parsed once its
 * transaction commits: what is said and counted of it then.
 */
struct pdone {
	struct tx	 t;
	char		*obdir, *rec;
	uint64_t	 rows, records, rejected, held, duplicate;
	uint64_t	 unknown_promo;
	size_t		 nb;
	struct rej_counts by_code;
};

/*
 * The files of a claim group processed (see landing_pass), recorded
 * parsed in one transaction that pgroup_end commits: each file's
 * statements and audit lines in a savepoint of their own (one that
 * fails is rolled back alone, its staging removed), then one sync of
 * outbox/ for them all, one fdatasync of audit.log and one of state.db's
 * log, where each file had its own three. The transaction keeps every
 * other writer of state.db (the delivery worker, a command) waiting:
 * once it has been open PGROUP_HOLD_MS, it is committed before the next
 * file is processed, so that it is held that long and one file's
 * processing (of at most CLAIM_GROUP_BYTES of input) more at most,
 * well within the 10 s a writer waits (store_busy). (A test lowers it:
 * TD_TEST_GROUP_HOLD_MS.)
 */
#define PGROUP_HOLD_MS	500
struct pgroup {
	int		 open;		/* its transaction begun */
	int64_t		 since;		/* then (td_mono_ms) */
	int		 added;		/* the last file is in it */
	int		 defer;		/* staged unflushed: ctx_syncfs first */
	struct pdone	*d;
	size_t		 n;
};

static void
pdone_free(struct pdone *d)
{
	tx_free(&d->t);
	x_free(d->obdir);
	x_free(d->rec);
	rej_counts_free(&d->by_code);
}

/* After the commit that recorded d->t parsed: counted and logged. */
static void
pdone_finish(struct td_ctx *x, struct pdone *d)
{
	struct td_buf b;

	td_failpoint("transmission_parsed");
	x->run.n_records += d->records;
	x->run.n_dlq += d->rejected;
	rej_counts_merge(&x->run.rejections, &d->by_code);
	x->run.n_held += d->held;
	x->run.n_recdup += d->duplicate;
	x->run.n_unknown_promo += d->unknown_promo;
	td_buf_init(&b, 256, 0);
	rej_counts_text(&d->by_code, &b);
	/* the format is a literal: a value is quoted, a key never */
	td_log(d->rejected || d->held ? TD_LOG_WARN : TD_LOG_INFO,
	    "file_parsed", d->rejected == 0 ? "file=%s transmission_id=%s "
	    "records=%llu dlq=%llu batches=%zu rows=%llu held=%llu "
	    "duplicate=%llu" : "file=%s transmission_id=%s records=%llu "
	    "dlq=%llu batches=%zu rows=%llu held=%llu duplicate=%llu "
	    "rejections=%s", d->t.name, d->t.id,
	    (unsigned long long)d->records, (unsigned long long)d->rejected,
	    d->nb, (unsigned long long)d->rows, (unsigned long long)d->held,
	    (unsigned long long)d->duplicate, td_buf_cstr(&b));
	td_buf_free(&b);
}

/*
 * End the group's transaction, if one is open: with r 0, outbox/ synced
 * first (the entries renamed into it), then the commit; then each file
 * is counted, logged and told to the loop (processed_cb), in order. A
 * failure (or r) rolls all of them back and removes their staging: they
 * stay received, processed again by a later job.
 */
static int
pgroup_end(struct td_ctx *x, struct pgroup *pg, int r)
{
	size_t k;

	if (!pg->open)
		return r;
	if (r == 0 && pg->n > 0 && pg->defer)
		r = ctx_syncfs(x);
	else if (r == 0 && pg->n > 0 && td_fsync_dir(x->outbox) != 0)
		r = TD_ERR_IO;
	pg->defer = 0;
	if (r == 0 && pg->n > 1)
		td_failpoint("group_staged");
	r = store_end(x->st, r);
	pg->open = 0;
	for (k = 0; k < pg->n; k++) {
		if (r != 0)
			unstage(x, &pg->d[k].t, pg->d[k].obdir, pg->d[k].rec);
		else {
			pdone_finish(x, &pg->d[k]);
			if (x->processed_cb != NULL)
				x->processed_cb(x, pg->d[k].t.id);
		}
		pdone_free(&pg->d[k]);
	}
	pg->n = 0;
	return r;
}

/*
 * Process the received transmission tid into the outbox (state parsed)
 * or quarantine. With pg, a parsed one is left in pg's transaction
 * (pg->added set), committed by pgroup_end; a step that commits on
 * its own (a quarantine, the numbers of 997s) commits pg's first.
 */
static int
process_one(struct td_ctx *x, const char *tid, struct pgroup *pg)
{
	struct tx t;
	struct psink ps;
	struct proc_sink sink;
	struct proc_result res;
	struct proc_opts po;
	struct ob_batch *b = NULL;
	size_t nb = 0, i;
	char *raw = NULL, *obtmp = NULL, *obdir = NULL, *rec = NULL,
	    *rectmp = NULL, *dlqf = NULL,
	    *fields = NULL, *k;
	sqlite3_stmt *s;
	const char *why;
	char signer[24];
	int fd = -1, r, staged = 0;
	struct pdone pd;

	if (pg != NULL)
		pg->added = 0;
	memset(&pd, 0, sizeof(pd));
	memset(&ps, 0, sizeof(ps));
	memset(&res, 0, sizeof(res));
	memset(&po, 0, sizeof(po));
	if ((r = tx_load(x, tid, &t)) != 0)
		return r;
	clean_partial(x, &t);
	if (t.verify_code != NULL) {
		/* not proven whole and authentic: nothing of it is parsed */
		if (pg != NULL && (r = pgroup_end(x, pg, 0)) != 0)
			goto out;
		r = quarantine(x, &t, t.verify_code, t.verify_message,
		    t.verification, &res, NULL);
		goto out;
	}
	raw = xasprintf("%s/%s/raw/%s", x->state_dir, t.archive_dir, t.name);
	obtmp = xasprintf("%s/%s.tmp", x->outbox, t.id);
	obdir = xasprintf("%s/%s", x->outbox, t.id);
	rec = xasprintf("%s/%s/records", x->state_dir, t.archive_dir);
	rectmp = xasprintf("%s.tmp", rec);
	ps.x = x;
	ps.t = &t;
	ps.obtmp = obtmp;
	td_buf_init(&ps.line, 1024, 0);
	td_buf_init(&ps.samples, 0, QUARANTINE_SAMPLE_BYTES);
	memset(&sink, 0, sizeof(sink));
	sink.buffer = ps_buffer;
	sink.batch = ps_batch;
	sink.reject = ps_reject;
	sink.reset = ps_reset;
	sink.ledger = ps_ledger;
	sink.ledger_hold = ps_ledger_hold;
	sink.pass_end = ps_pass_end;
	sink.arg = &ps;
	/* a replay's records are of the original's raw file: its id, and
	 * so each row's record_id, stay */
	po.transmission_id = t.replay_of != NULL ? t.replay_of : t.id;
	po.file = t.name;
	po.batch_records = x->batch_records;
	/* a small file may go to the child of the job's file before, of
	 * the same signer (sandbox_release ends it with the job) */
	sidecar_signer(t.verification, signer, sizeof(signer));
	po.signer = signer;
	td_log(TD_LOG_INFO, "file_processing", "file=%s transmission_id=%s "
	    "size=%llu", t.name, t.id, (unsigned long long)t.size);
	if (pg != NULL && pg->open && td_mono_ms() - pg->since >=
	    (int64_t)td_test_bound("TD_TEST_GROUP_HOLD_MS", PGROUP_HOLD_MS) &&
	    (r = pgroup_end(x, pg, 0)) != 0)
		goto out;
	if ((fd = open_raw(raw, &why)) < 0) {
		td_log(TD_LOG_ERROR, "archive_missing", "file=%s error=%s",
		    raw, why);
		r = TD_ERR_IO;
		goto out;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	ps.defer = pg != NULL && x->defer_sync;
	if ((r = ps_open(&ps)) != 0 || (r = ledger_open(x, &ps.ledger)) != 0)
		goto out;
	/* encoding = auto may start over, through ps_reset */
	r = sandbox_process_file(x->map, x->conf, fd, &po, &sink, &res);
	if (ledger_end(ps.ledger) != 0 && r == 0)
		r = TD_ERR_STATE;
	if (ps.ob != NULL) {
		int r2 = outbox_finish(ps.ob, &b, &nb);

		if (r == 0)
			r = r2;
	}
	close(fd);
	fd = -1;
	if (ps.dlq != NULL) {
		if (fflush(ps.dlq) != 0 || fsync(fileno(ps.dlq)) != 0)
			r = r ? r : TD_ERR_IO;
		fclose(ps.dlq);
		ps.dlq = NULL;
	}
	if (r != 0) {
		td_log(TD_LOG_ERROR, "processing_failed", "file=%s error=%s",
		    t.name, td_errstr(r));
		goto out;
	}
	proc_log_mixed(&res, t.name);

	/*
	 * What was parsed must be what was received, hashed and verified:
	 * a writer that still held the file could have changed it since.
	 * (process_file says file_changed itself when it saw the file
	 * change while it read it.)
	 */
	if (res.t2code == NULL && (strcmp(res.raw_sha256,
	    po.transmission_id) != 0 ||
	    res.raw_size != t.size)) {
		res.t2code = "file_changed";
		snprintf(res.t2msg, sizeof(res.t2msg), "the file changed after "
		    "it was received: it now reads %llu bytes with SHA-256 "
		    "%.16s..., not the %llu bytes of its transmission id; "
		    "nothing of it is delivered",
		    (unsigned long long)res.raw_size, res.raw_sha256,
		    (unsigned long long)t.size);
	}

	/* the 997s of an X12 drop, durable before its state changes
	 * (their numbers are committed on their own) */
	if (pg != NULL && (res.nacks > 0 || res.t2code != NULL) &&
	    (r = pgroup_end(x, pg, 0)) != 0)
		goto out;
	if ((r = ack_write(x, t.id, t.archive_dir, &res)) != 0)
		goto out;

	/* Tier 2 (process_file also applies max_reject_ratio): the whole
	 * file goes to quarantine, its dead letters cut to samples there;
	 * none is dead-lettered (a release writes them, in dlq/) */
	if (res.t2code != NULL) {
		(void)td_remove_tree(obtmp, x->state_dir);
		if ((r = sync_staged(x, &t, NULL, 1)) == 0)
			r = quarantine(x, &t, res.t2code, res.t2msg,
			    res.t2detail, &res, &ps);
		/* the run's rejections by code, of its quarantined files
		 * too; its n_dlq only what is in dlq/ */
		if (r == 0)
			rej_counts_merge(&x->run.rejections, &res.by_code);
		goto out;
	}

	dlqf = xasprintf("%s/%s.ndjson", x->dlq, t.id);
	if (ps.dlqtmp != NULL) {
		if (rename(ps.dlqtmp, dlqf) != 0) {
			r = TD_ERR_IO;
			goto out;
		}
	} else if (unlink(dlqf) == 0 && td_fsync_dir(x->dlq) != 0) {
		/* no dead letter this time: those of an attempt before (a
		 * release killed before it removed them) must not be sent
		 * as this one's */
		r = TD_ERR_IO;
		goto out;
	}

	fields = xasprintf("\"records\":%llu,\"delivered\":%llu,\"dlq\":%llu,"
	    "\"held\":%llu,\"duplicate\":%llu,\"summed\":%llu,"
	    "\"batches\":%zu,\"mapping_version\":\"%s\"",
	    (unsigned long long)res.rows, (unsigned long long)res.records,
	    (unsigned long long)res.rejected, (unsigned long long)res.held,
	    (unsigned long long)res.duplicate, (unsigned long long)res.summed,
	    nb, mapper_version(x->map));
	if (res.unknown_promo > 0) {
		k = fields;
		fields = xasprintf("%s,\"unknown_promo\":%llu", k,
		    (unsigned long long)res.unknown_promo);
		x_free(k);
	}
	if (pg == NULL)
		r = store_begin(x->st);
	else if (!pg->open && (r = store_begin(x->st)) == 0) {
		pg->open = 1;
		pg->since = td_mono_ms();
	}
	if (r == 0 && pg != NULL)
		r = store_exec(x->st, "SAVEPOINT parsed");
	if (r != 0)
		goto out;
	{
		char q[TD_DEC_STRMAX], a[TD_DEC_STRMAX];

		td_dec_format(&res.quantity, q, sizeof(q));
		td_dec_format(&res.amount, a, sizeof(a));
		s = store_prepare(x->st, "UPDATE transmissions SET state = "
		    "'parsed', mapping_version = ?, format = 'csv', "
		    "records_in = ?, delivered = ?, dlq = ?, batches = ?, "
		    "quantity_total = ?, amount_total = ?, updated_at = ?, "
		    "held = ?, duplicate = ?, summed = ?, unknown_promo = ? "
		    "WHERE id = ?");
		sqlite3_bind_text(s, 1, mapper_version(x->map), -1,
		    SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)res.rows);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)res.records);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)res.rejected);
		sqlite3_bind_int64(s, 5, (sqlite3_int64)nb);
		sqlite3_bind_text(s, 6, q, -1, SQLITE_TRANSIENT);
		if (res.has_amount)
			sqlite3_bind_text(s, 7, a, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(s, 7);
		sqlite3_bind_int64(s, 8, now_sec());
		sqlite3_bind_int64(s, 9, (sqlite3_int64)res.held);
		sqlite3_bind_int64(s, 10, (sqlite3_int64)res.duplicate);
		sqlite3_bind_int64(s, 11, (sqlite3_int64)res.summed);
		sqlite3_bind_int64(s, 12, (sqlite3_int64)res.unknown_promo);
		sqlite3_bind_text(s, 13, t.id, -1, SQLITE_STATIC);
		r = store_step_done(x->st, s);
	}
	if (r == 0)
		r = ledger_commit(ps.ledger, t.id);
	if (r == 0) {
		/* a transmission is processed once: rows of its id are left
		 * by a processing state.db forgot (its row lost with a page
		 * of a recovered state.db); its batches go again, under the
		 * same keys */
		s = store_prepare(x->st, "DELETE FROM batches WHERE "
		    "transmission_id = ?");
		sqlite3_bind_text(s, 1, t.id, -1, SQLITE_STATIC);
		r = store_step_done(x->st, s);
	}
	for (i = 0; i < nb && r == 0; i++) {
		s = store_prepare(x->st, "INSERT INTO batches(transmission_id, "
		    "seq, records, bytes, sha256, idempotency_key, state, "
		    "created_at, quantity_total, amount_total) VALUES "
		    "(?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)");
		k = deliver_batch_key(po.transmission_id,
		    mapper_version(x->map), b[i].seq);
		sqlite3_bind_text(s, 1, t.id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)b[i].seq);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)b[i].records);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)b[i].bytes);
		sqlite3_bind_text(s, 5, b[i].sha256, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 6, k, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 7, now_sec());
		sqlite3_bind_text(s, 8, b[i].quantity, -1, SQLITE_STATIC);
		if (b[i].amount[0] != '\0')
			sqlite3_bind_text(s, 9, b[i].amount, -1, SQLITE_STATIC);
		r = store_step_done(x->st, s);
		x_free(k);
	}
	if (r == 0 && (r = stage_parsed(x, &t, &res, obtmp, obdir, rectmp,
	    rec, b, nb, pg != NULL)) == 0)
		staged = 1;
	if (r == 0)
		r = audit_append(x->audit, "transmission_parsed", t.id, fields);
	if (r == 0)
		r = audit_dead_letters(x, &t, &ps, res.rejected);
	if (r == 0)
		r = audit_tier4(x, &t, &res);
	if (pg == NULL)
		r = store_end(x->st, r);
	else {
		/* this file alone rolled back; a savepoint that cannot be
		 * undone or released spoils the group: all rolled back */
		int bad = r != 0 &&
		    store_exec(x->st, "ROLLBACK TO parsed") != 0;

		if (store_exec(x->st, "RELEASE parsed") != 0)
			bad = 1;
		if (bad) {
			r = TD_ERR_STATE;
			(void)pgroup_end(x, pg, r);
		}
	}
	if (r != 0) {
		if (staged)
			unstage(x, &t, obdir, rec);
		goto out;
	}
	pd.rows = res.rows;
	pd.records = res.records;
	pd.rejected = res.rejected;
	pd.held = res.held;
	pd.duplicate = res.duplicate;
	pd.unknown_promo = res.unknown_promo;
	pd.nb = nb;
	rej_counts_merge(&pd.by_code, &res.by_code);
	pd.t = t;	/* transferred */
	memset(&t, 0, sizeof(t));
	if (pg == NULL) {
		pdone_finish(x, &pd);
		goto out;
	}
	pd.obdir = obdir;
	pd.rec = rec;
	obdir = rec = NULL;	/* transferred */
	pg->d = xreallocarray(pg->d, pg->n + 1, sizeof(*pg->d));
	pg->d[pg->n++] = pd;
	memset(&pd, 0, sizeof(pd));
	pg->added = 1;
	pg->defer |= ps.defer;
 out:
	if (ps.dlq != NULL)
		fclose(ps.dlq);
	if (r != 0) {
		if (ps.dlqtmp != NULL)
			(void)unlink(ps.dlqtmp);
		(void)td_remove_tree(obtmp, x->state_dir);
		(void)td_remove_tree(rectmp, x->state_dir);
	}
	outbox_free(ps.ob);
	ledger_free(ps.ledger);
	td_buf_free(&ps.line);
	td_buf_free(&ps.samples);
	proc_result_clear(&res);
	if (fd >= 0)
		close(fd);
	x_free(ps.dlqtmp);
	x_free(b);
	x_free(raw);
	x_free(obtmp);
	x_free(obdir);
	x_free(rec);
	x_free(rectmp);
	x_free(dlqf);
	x_free(fields);
	tx_free(&t);
	pdone_free(&pd);
	return r;
}

/* ---------------------------------------------------- entry points */

/*
 * Backpressure: intake pauses while the outbox holds more than
 * max_outbox_bytes of undelivered batches.
 */
static int
outbox_full(struct td_ctx *x)
{
	int64_t bytes;

	if (store_query_int(x->st, "SELECT total(bytes) FROM batches WHERE "
	    "state = 'pending'", 0, &bytes) != 0) {
		x->run.failed = 1;	/* logged; pause intake, the run fails */
		return 1;
	}
	if ((uint64_t)bytes <= td_conf_u64(x->conf,
	    TDK_output_max_outbox_bytes))
		return 0;
	td_log(TD_LOG_WARN, "intake_paused", "reason=outbox_full "
	    "outbox_bytes=%lld max_outbox_bytes=%llu", (long long)bytes,
	    (unsigned long long)td_conf_u64(x->conf,
	    TDK_output_max_outbox_bytes));
	return 1;
}

/* A full disk or outbox pauses intake until a later run; others fail. */
static void
paused_or_failed(struct td_ctx *x, int r)
{
	if (r == TD_ERR_NOSPACE || r == TD_ERR_LIMIT) {
		if (r == TD_ERR_NOSPACE)
			td_log(TD_LOG_ERROR, "intake_paused", "reason=disk_full "
			    "state_dir=%s", x->state_dir);
		x->run.undelivered = 1;
		x->run.paused = 1;
	} else
		x->run.failed = 1;
}

static int	recover_claims(struct td_ctx *);

int
intake_process_pending(struct td_ctx *x)
{
	sqlite3_stmt *s;
	char **ids = NULL;
	size_t n = 0, i;
	int r = 0;

	/* claims a failed pass left in work/ (landing_pass): received and
	 * settled first, here as at the start, not at the next start only
	 * (a transmission recorded but not yet in its archive entry is not
	 * processed before, and the files behind it wait for it); not the
	 * sweeps of the start, of what no run leaves but a stop */
	if (x->recover) {
		x->recover = 0;
		if ((r = recover_claims(x)) != 0) {
			x->recover = 1;
			paused_or_failed(x, r);
			return r;
		}
	}
	s = store_prepare(x->st, "SELECT id FROM transmissions WHERE "
	    "state = 'received' ORDER BY seq");
	while (sqlite3_step(s) == SQLITE_ROW) {
		ids = xreallocarray(ids, n + 1, sizeof(*ids));
		ids[n++] = xstrdup((const char *)sqlite3_column_text(s, 0));
	}
	sqlite3_reset(s);
	for (i = 0; i < n; i++) {
		/* after one failed, the rest wait for the next job */
		if (r == 0 && ctx_state_moved(x))
			r = TD_ERR_STATE;
		/* nor is one processed while the outbox is full: those of a
		 * group left received by it (landing_pass) would pass
		 * max_outbox_bytes by their output all at once */
		if (r == 0 && outbox_full(x))
			paused_or_failed(x, r = TD_ERR_LIMIT);
		if (r == 0) {
			if ((r = process_one(x, ids[i], NULL)) != 0)
				paused_or_failed(x, r);
			else if (x->processed_cb != NULL)
				x->processed_cb(x, ids[i]);
			if (x->file_done_cb != NULL)
				x->file_done_cb(x);
		}
		x_free(ids[i]);
	}
	x_free(ids);
	return r;
}

/*
 * Outbox entries of transmissions that are already delivered or
 * quarantined (a run stopped after recording that, before removing them),
 * and staging directories of an interrupted processing.
 */
static void
outbox_sweep(struct td_ctx *x)
{
	DIR *d;
	struct dirent *de;
	sqlite3_stmt *s;
	char tid[TD_SHA256_HEX], *p;
	size_t l;
	int stale;

	if ((d = opendir(x->outbox)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		l = strlen(de->d_name);
		memcpy(tid, de->d_name, l < 64 ? l : 64);
		tid[l < 64 ? l : 64] = '\0';
		if (l > 64 && strncmp(de->d_name + 64, DELIVER_REJ_STAGED,
		    sizeof(DELIVER_REJ_STAGED) - 1) == 0 &&
		    td_is_sha256_hex(tid)) {
			/* the staging copy of a transmission's rejections
			 * (deliver.c), made again whenever they are sent: a
			 * run killed after sending them left it */
			(void)unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		if (l != 64 && !(l == 68 && strcmp(de->d_name + 64, ".tmp") == 0))
			continue;
		memcpy(tid, de->d_name, 64);
		tid[64] = '\0';
		if (!td_is_sha256_hex(tid))
			continue;
		s = store_prepare(x->st, "SELECT state FROM transmissions "
		    "WHERE id = ?");
		sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
		stale = 1;
		if (sqlite3_step(s) == SQLITE_ROW && l == 64 &&
		    strcmp((const char *)sqlite3_column_text(s, 0), "parsed") == 0)
			stale = 0;
		sqlite3_reset(s);
		if (stale) {
			p = xasprintf("%s/%s", x->outbox, de->d_name);
			(void)td_remove_tree(p, x->state_dir);
			x_free(p);
		}
	}
	closedir(d);
}

/*
 * Claim names in the order they were made: "SEC.NSEC-PID-SEQ" (see
 * landing_claim), compared by time, then sequence; others after, by name.
 */
static int
claim_cmp(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	long long xs, ys, xn, yn, xq, yq;
	long xp, yp;
	int xok, yok;

	xok = sscanf(x, "%lld.%lld-%ld-%lld", &xs, &xn, &xp, &xq) == 4;
	yok = sscanf(y, "%lld.%lld-%ld-%lld", &ys, &yn, &yp, &yq) == 4;
	if (!xok || !yok)
		return xok != yok ? (xok ? -1 : 1) : strcmp(x, y);
	if (xs != ys)
		return xs < ys ? -1 : 1;
	if (xn != yn)
		return xn < yn ? -1 : 1;
	if (xq != yq)
		return xq < yq ? -1 : 1;
	return strcmp(x, y);
}

/* Work entries left by a run that stopped between claim and archive. */
/*
 * The quarantine entries of dropped transmissions: a drop stopped after
 * its commit, before it removed the entry (its reason.json and samples
 * are in the archive, linked before the commit), and the dead letters an
 * older tradedrop kept in dlq/ for it.
 */
static void
quarantine_sweep(struct td_ctx *x)
{
	DIR *d;
	struct dirent *de;
	sqlite3_stmt *s;
	char *p;
	int dropped;

	if ((d = opendir(x->quarantine)) == NULL)
		return;
	s = store_prepare(x->st, "SELECT 1 FROM transmissions WHERE id = ? "
	    "AND state = 'dropped'");
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		sqlite3_bind_text(s, 1, de->d_name, -1, SQLITE_TRANSIENT);
		dropped = sqlite3_step(s) == SQLITE_ROW;
		sqlite3_reset(s);
		if (!dropped)
			continue;
		p = xasprintf("%s/%s", x->quarantine, de->d_name);
		(void)td_remove_tree(p, x->state_dir);
		x_free(p);
		p = xasprintf("%s/%s.ndjson", x->dlq, de->d_name);
		if (unlink(p) == 0)
			(void)td_fsync_dir(x->dlq);
		x_free(p);
		td_log(TD_LOG_INFO, "quarantine_swept", "transmission_id=%s",
		    de->d_name);
	}
	closedir(d);
}

int
intake_recover(struct td_ctx *x)
{
	outbox_sweep(x);
	quarantine_sweep(x);
	return recover_claims(x);
}

/*
 * The claims a stop (or a failed pass: x->recover) left in work/:
 * settled, dropped or received again.
 */
static int
recover_claims(struct td_ctx *x)
{
	DIR *d, *d2;
	struct dirent *de, *de2;
	char *wdir, *name, *tid, **cls = NULL;
	const char *dn;
	size_t ncl = 0, j;
	sqlite3_stmt *s;
	int r = 0, state, moved;

	if ((d = opendir(x->work)) == NULL)
		return TD_ERR_IO;
	/*
	 * In the order they were claimed (their names start with the time of
	 * the claim), not the directory's: a stop can leave several claims
	 * not yet recorded (landing_pass claims by groups), and they are
	 * received as they would have been, in landing's order, so that the
	 * first of two identical drops is still the transmission and the
	 * other its duplicate.
	 */
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		cls = xreallocarray(cls, ncl + 1, sizeof(*cls));
		cls[ncl++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (ncl > 1)
		qsort(cls, ncl, sizeof(*cls), claim_cmp);
	for (j = 0; j < ncl && r == 0; j++) {
		dn = cls[j];
		wdir = xasprintf("%s/%s", x->work, dn);
		name = NULL;
		if ((d2 = opendir(wdir)) != NULL) {
			while ((de2 = readdir(d2)) != NULL) {
				if (strcmp(de2->d_name, ".") == 0 ||
				    strcmp(de2->d_name, "..") == 0)
					continue;
				if (strncmp(de2->d_name, PARTIAL_NAME,
				    strlen(PARTIAL_NAME)) == 0) {
					char *t = xasprintf("%s/%s", wdir,
					    de2->d_name);

					(void)unlink(t);	/* partial copy */
					x_free(t);
					continue;
				}
				if (sidecar_is(de2->d_name))
					continue;
				x_free(name);
				name = xstrdup(de2->d_name);
			}
			closedir(d2);
		}
		if (name == NULL) {
			/* only sidecars left: the data file was archived, or
			 * a duplicate's drop was under way */
			char *adir = NULL;

			s = store_prepare(x->st, "SELECT archive_dir FROM "
			    "transmissions WHERE claim = ?");
			sqlite3_bind_text(s, 1, dn, -1, SQLITE_STATIC);
			if (sqlite3_step(s) == SQLITE_ROW)
				adir = xstrdup((const char *)
				    sqlite3_column_text(s, 0));
			sqlite3_reset(s);
			if (adir != NULL)
				r = settle(x, dn, adir, 0, 0);
			else
				(void)td_remove_tree(wdir, x->state_dir);
			x_free(adir);
			x_free(wdir);
			continue;
		}
		/* Was it recorded before the stop? */
		state = 0;
		s = store_prepare(x->st, "SELECT archive_dir FROM "
		    "transmissions WHERE claim = ?");
		sqlite3_bind_text(s, 1, dn, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW) {
			char *adir = xstrdup((const char *)
			    sqlite3_column_text(s, 0));

			sqlite3_reset(s);
			td_log(TD_LOG_INFO, "resume_archive", "file=%s", name);
			r = settle(x, dn, adir, 0, 0);
			x_free(adir);
			state = 1;
		} else
			sqlite3_reset(s);
		if (!state) {
			s = store_prepare(x->st, "SELECT 1 FROM duplicate_drops "
			    "WHERE claim = ?");
			sqlite3_bind_text(s, 1, dn, -1, SQLITE_STATIC);
			if (sqlite3_step(s) == SQLITE_ROW)
				state = 2;
			sqlite3_reset(s);
			if (state == 2)
				r = drop_work(x, dn);
		}
		if (!state) {
			td_log(TD_LOG_INFO, "resume_intake", "file=%s", name);
			/* sidecars a crash left in landing */
			(void)claim_sidecars(x, wdir, name, &moved);
			if (moved)
				(void)td_fsync_dir(x->landing);
			tid = NULL;
			r = landing_secure_claimed(x, dn, name);
			if (r == 0)
				r = receive(x, dn, name, -1, &tid);
			if (r == TD_ERR_AGAIN || r == TD_ERR_FORMAT)
				r = 0;	/* back in landing */
			x_free(tid);
			if (r != 0 && r != TD_ERR_STATE && r != TD_ERR_NOSPACE) {
				/* one claim that cannot be finished or given
				 * back must not stop every other file */
				td_log(TD_LOG_ERROR, "recover_failed", "claim=%s "
				    "file=%s error=%s", dn, name,
				    td_errstr(r));
				x->run.n_refused++;
				r = 0;
			}
		}
		x_free(name);
		x_free(wdir);
	}
	for (j = 0; j < ncl; j++)
		x_free(cls[j]);
	x_free(cls);
	/* the claims settled again, gone for good (see settle) */
	(void)intake_sync_work(x);
	return r;
}

/*
 * A data file whose required sidecar has not arrived waits, for at most
 * sidecar_wait after it landed (age: how long it has been unchanged, see
 * landing_list); then it is taken and refused for the missing sidecar.
 */
int
waiting_for_sidecar(struct td_ctx *x, const char *name, int64_t age)
{
	struct sidecars sc;
	int need_sum, need_sig, wait;

	need_sum = td_conf_enum_is(x->conf, TDK_verify_checksum, "required");
	need_sig = td_conf_enum_is(x->conf, TDK_verify_signature,
	    "required");
	if (!need_sum && !need_sig)
		return 0;
	sidecar_find(x->landing, name, &sc);
	wait = (need_sum && sc.sum256 == NULL && sc.sum512 == NULL &&
	    sc.manifest[0] == NULL && sc.manifest[1] == NULL) ||
	    (need_sig && sc.sig == NULL);
	sidecar_free(&sc);
	if (!wait)
		return 0;
	if (age >= 0 && (uint64_t)age >= td_conf_u64(x->conf,
	    TDK_verify_sidecar_wait))
		return 0;
	x->run.n_waiting++;
	td_log(TD_LOG_INFO, "sidecar_wait", "file=%s checksum=%s "
	    "signature=%s", name, need_sum ? "required" : "no",
	    need_sig ? "required" : "no");
	return 1;
}

/*
 * Remove checksum manifests from landing once no file they name is
 * left there (their lines went into each claim) and they are older than
 * sidecar_wait (so one that came before its files waits for them). A
 * manifest is parsed once, not once per file in landing.
 */
static void
sweep_manifests(struct td_ctx *x)
{
	static const char *names[] = { "SHA256SUMS", "SHA512SUMS" };
	DIR *d;
	struct dirent *de;
	struct stat sb;
	char *p;
	size_t i;
	int used;

	for (i = 0; i < TD_NELEM(names); i++) {
		p = xasprintf("%s/%s", x->landing, names[i]);
		/* one too large to read is left for the operator (logged) */
		/* (a change time in the future: the clock went back) */
		if (stat(p, &sb) != 0 || td_time() < sb.st_ctim.tv_sec ||
		    (uint64_t)(td_time() - sb.st_ctim.tv_sec) <
		    td_conf_u64(x->conf, TDK_verify_sidecar_wait) ||
		    sb.st_size > SIDECAR_MANIFEST_MAX) {
			x_free(p);
			continue;
		}
		used = 0;
		if ((d = opendir(x->landing)) != NULL) {
			while (!used && (de = readdir(d)) != NULL) {
				if (de->d_name[0] == '.' ||
				    sidecar_is(de->d_name))
					continue;
				used = sidecar_manifest_names(x->landing,
				    names[i], de->d_name);
			}
			closedir(d);
		}
		if (!used && unlink(p) == 0)
			(void)td_fsync_dir(x->landing);
		x_free(p);
	}
}

/* Look again at landing within a second (td_mono_ms). */
static void
again_soon(int64_t *settle_at)
{
	int64_t t = td_mono_ms() + 1000;

	if (*settle_at == 0 || *settle_at > t)
		*settle_at = t;
}

/*
 * One pass over landing: claim, receive and process every file that is
 * ready. *settle_at gets when a file that has not settled may be ready.
 *
 * Files are claimed by groups of up to CLAIM_GROUP files and
 * CLAIM_GROUP_BYTES (many small drops at once): each claim renames its
 * file into its own claim directory and fsyncs that directory, then one
 * fsync of work/ and one of landing/ serve the whole group (landing_claim_sync), before any of them is
 * hashed or recorded (they were two flushes a file). Per file the order
 * of what is made durable is unchanged: claim directory, work/, landing;
 * then the file's data (intake_hash_fd), then the commit. A crash
 * between a claim and the group's sync leaves files named in both
 * landing and a claim directory, or (file systems that may persist a
 * rename by halves) only in landing: a claim not recorded, which the
 * next run's intake_recover receives in the order of the claims, or a
 * file landing still names, taken again; never a file lost (landing
 * lost its name only once the claim directory and work/ were synced),
 * never one delivered twice (its transmission id, the SHA-256 of its
 * bytes, is recorded once: a second name is a duplicate drop).
 *
 * The group is then received, and processed, by phases rather than file
 * by file, each phase's file work done for all of its files before one
 * commit records them all (receive_group, then process_one with a
 * struct pgroup): a commit costs two device flushes (audit.log, then
 * state.db's log), and a directory every file of the group writes into
 * (archive/YYYY/MM, outbox/) is synced once for all of them. Per file,
 * what is made durable before what is as for a file alone. Under
 * sync_method fsync each directory synced is one this job wrote into;
 * under syncfs (the default) a group of several files has each step's
 * flushes made by one syncfs(2) (x->defer_sync: receive_group,
 * stage_parsed, pgroup_end), which also flushes every other writer's
 * dirty pages on the file system: about ten device flushes a file
 * become four a group. The claims' own flushes stay.
 * Nothing is claimed while the outbox is full: that is checked before
 * each group, and again before each of its files is processed after
 * the first (its output is not bounded by its input: a gzip file
 * expands), so that max_outbox_bytes is passed by one file's batches at
 * most; the files of the group received then wait for a later job
 * (intake_process_pending). The claims of a group not received are
 * given back to landing (landing_unclaim).
 */
#define CLAIM_GROUP	32
/* a group's uncommitted audit lines are cut at the next start */
#if CLAIM_GROUP > AUDIT_GROUP_STEPS
#error "CLAIM_GROUP > AUDIT_GROUP_STEPS: see audit_tail_ok"
#endif
/*
 * A group also ends before CLAIM_GROUP_BYTES of data: the flushes shared
 * only matter beside the work of small files, and a large file is
 * claimed alone, as each file was, when its turn comes (not taken out of
 * landing while the files before it are processed).
 */
#define CLAIM_GROUP_BYTES	(256 * 1024)

static int
landing_pass(struct td_ctx *x, int64_t *settle_at)
{
	struct landing_entry *e;
	struct {
		size_t	 i;
		char	*cl;
		int	 fd;
	} g[CLAIM_GROUP];
	struct rcv rc[CLAIM_GROUP];
	size_t n, i, ng, k, done, np;
	uint64_t gbytes;
	char *cl;
	struct pgroup pg;
	int r, r2, r3, rp = 0, fd;

	memset(&pg, 0, sizeof(pg));
	if ((r = landing_list(x, &e, &n, settle_at)) != 0)
		return r;
	for (i = 0; i < n && r == 0; ) {
		if (ctx_state_moved(x)) {
			r = TD_ERR_STATE;	/* nothing into a state gone */
			break;
		}
		if (outbox_full(x)) {
			r = TD_ERR_LIMIT;
			break;
		}
		/* claim a group */
		for (ng = 0, gbytes = 0; i < n && ng < CLAIM_GROUP && r == 0;
		    i++) {
			if (ng > 0 && gbytes + (uint64_t)e[i].size >
			    CLAIM_GROUP_BYTES)
				break;	/* the next group's */
			r = landing_claim(x, &e[i], &cl, &fd, 1);
			if (r == TD_ERR_NOTFOUND)
				td_log(TD_LOG_INFO, "landing_gone", "file=%s "
				    "reason=%s", e[i].name, "removed or "
				    "renamed after it was listed");
			if (r == TD_ERR_NOTFOUND || r == TD_ERR_FORMAT) {
				r = 0;	/* gone, or refused and logged */
				continue;
			}
			if (r == TD_ERR_AGAIN) {
				/* not settled after all: look again soon */
				again_soon(settle_at);
				r = 0;
				continue;
			}
			if (r != 0) {
				td_log(TD_LOG_ERROR, "claim_failed", "file=%s "
				    "dir=%s error=%s", e[i].name, x->work,
				    td_errstr(r));
				break;
			}
			g[ng].i = i;
			g[ng].cl = cl;
			g[ng].fd = fd;
			ng++;
			gbytes += (uint64_t)e[i].size;
		}
		if (ng == 0)
			break;
		/* a claim that failed: those made before it still go on */
		r2 = r;
		if ((r = landing_claim_sync(x)) != 0) {
			/* left in work/ for intake_recover, as a claim whose
			 * own sync failed always was */
			td_log(TD_LOG_ERROR, "claim_failed", "claims=%zu dir=%s "
			    "error=%s", ng, x->work, td_errstr(r));
			for (k = 0; k < ng; k++) {
				close(g[k].fd);
				x_free(g[k].cl);
			}
			break;
		}
		/* receive them all (one commit), then process each */
		memset(rc, 0, sizeof(rc));
		for (k = 0; k < ng; k++) {
			rc[k].cl = g[k].cl;
			rc[k].name = e[g[k].i].name;
			rc[k].fd = g[k].fd;
		}
		/* several files: each step's flushes are one syncfs under
		 * sync_method syncfs (receive_group, pgroup_end) */
		x->defer_sync = ng > 1 && strcmp(td_conf_str(x->conf,
		    TDK_integration_sync_method), "syncfs") == 0;
		r = receive_group(x, rc, ng, &done);
		for (k = 0; k < ng; k++) {
			close(g[k].fd);
			if (k < done) {
				if (rc[k].status == TD_ERR_AGAIN)
					again_soon(settle_at);
				continue;
			}
			/* the intake stopped: the group's claims not
			 * received go back to landing, as if never taken */
			if (landing_unclaim(x, g[k].cl) != 0)
				td_log(TD_LOG_ERROR, "unclaim_failed",
				    "file=%s claim=%s error=%s",
				    e[g[k].i].name, g[k].cl, td_errstr(
				    TD_ERR_IO));
		}
		/* one that failed: the rest are received, processed by
		 * the next job; those before it are still committed. The
		 * outbox is looked at again before each file after the
		 * group's first, with what the group staged (this
		 * connection reads its own transaction), as it was before
		 * each file of the group was received: max_outbox_bytes is
		 * passed by one file's output at most, not by the group's
		 * (32 small gzip files may expand to many times 256 KiB).
		 * Those left are received, processed by a later job. */
		for (k = 0, np = 0; k < done && rp == 0; k++) {
			if (!rc[k].settled)
				continue;
			if (np++ > 0 && outbox_full(x)) {
				rp = TD_ERR_LIMIT;
				break;
			}
			rp = process_one(x, rc[k].tid, &pg);
			/* not left in the group's transaction: its own
			 * commit (a quarantine) is done */
			if (rp == 0 && !pg.added && x->processed_cb != NULL)
				x->processed_cb(x, rc[k].tid);
		}
		r3 = pgroup_end(x, &pg, 0);
		x->defer_sync = 0;
		if (rp == 0)
			rp = r3;
		for (k = 0; k < done; k++)
			if (x->file_done_cb != NULL)
				x->file_done_cb(x);
		for (k = 0; k < ng; k++) {
			rcv_clear(&rc[k]);
			x_free(g[k].cl);
		}
		if (r == 0)
			r = rp;
		if (r == 0)
			r = r2;
	}
	x_free(pg.d);
	landing_list_free(e, n);
	/* the claims settled in this pass, gone for good (see settle) */
	(void)intake_sync_work(x);
	/* a failure may leave claims in work/, recorded or not (a sync or
	 * a move that failed): the next job resumes them before anything
	 * else (intake_process_pending) */
	if (r != 0 && r != TD_ERR_LIMIT)
		x->recover = 1;
	return r;
}

/*
 * The landing directory was replaced: take what is ready in the old one
 * (through its descriptor, and /proc/self/fd for what goes by path:
 * sidecars), so that nothing in a directory moved away or unmounted is
 * lost with it. It is closed once nothing is left to settle in it and
 * the pass went through; until then each pass looks at it first.
 * *settle_at: when a file there may have settled.
 */
static void
drain_old_landing(struct td_ctx *x, int64_t *settle_at)
{
	char *path = xasprintf("/proc/self/fd/%d", x->landfd_old), *keep;
	int newfd = x->landfd, r;

	keep = x->landing;
	x->landing = path;
	x->landfd = x->landfd_old;
	x->run.n_unsettled = 0;
	r = landing_pass(x, settle_at);
	x->landing = keep;
	x->landfd = newfd;
	x_free(path);
	if (r != 0) {
		td_log(TD_LOG_ERROR, "landing_drain_failed", "dir=%s error=%s "
		    "action=%s", keep, td_errstr(r), "tried again next pass");
		return;
	}
	if (x->run.n_unsettled > 0) {
		td_log(TD_LOG_INFO, "landing_draining", "dir=%s unsettled=%u",
		    keep, x->run.n_unsettled);
		return;
	}
	td_log(TD_LOG_INFO, "landing_drained", "dir=%s", keep);
	close(x->landfd_old);
	x->landfd_old = -1;
	*settle_at = 0;
}

int
intake_landing(struct td_ctx *x, int wait)
{
	int64_t settle_at, start = td_mono_ms(), now, limit;
	uint64_t settle = td_conf_u64(x->conf, TDK_watch_settle);
	int64_t drain_at = 0;
	struct timespec ts;
	int r;

	if (x->run.paused)
		return 0;	/* a full disk or outbox: take nothing new */
	if (x->landfd_old < 0)
		(void)landing_follow(x, &x->landfd_old);
	if (x->landfd_old >= 0)
		drain_old_landing(x, &drain_at);
	/* `once` waits for files that are still settling, but not for one
	 * that keeps changing: that one is left for a later run */
	limit = start + (2 * (int64_t)settle + 1) * 1000;
	for (;;) {
		x->run.n_unsettled = 0;
		if ((r = landing_pass(x, &settle_at)) != 0)
			break;
		now = td_mono_ms();
		if (!wait || settle_at == 0 || settle_at > limit)
			break;
		if (settle_at > now) {
			td_log(TD_LOG_DEBUG, "settle_wait", "ms=%lld",
			    (long long)(settle_at - now));
			ts.tv_sec = (time_t)((settle_at - now) / 1000);
			ts.tv_nsec = (long)((settle_at - now) % 1000) * 1000000;
			while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
				;
		}
	}
	if (r == 0 && drain_at != 0 && (settle_at == 0 || drain_at < settle_at))
		settle_at = drain_at;
	x->run.settle_at = r == 0 ? settle_at : 0;
	if (r == 0) {
		if (x->run.n_unsettled > 0)
			td_log(TD_LOG_INFO, "files_not_settled", "count=%u "
			    "settle=%llu", x->run.n_unsettled,
			    (unsigned long long)settle);
		sweep_manifests(x);
	} else
		paused_or_failed(x, r);
	return r;
}
