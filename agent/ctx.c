/*
 * ctx.c - open and close the shared context of an integration. See ctx.h.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "td.h"
#include "audit.h"
#include "buf.h"
#include "conf.h"
#include "fsutil.h"
#include "hash.h"
#include "json.h"
#include "log.h"
#include "store.h"
#include "map.h"
#include "outbox.h"
#include "sidecar.h"
#include "forward.h"
#include "landing.h"
#include "ctx.h"

/*
 * An empty state.db beside an archive means the state was lost (deleted,
 * or a fresh disk mounted over it): every file dropped again would be
 * delivered a second time. Refuse, unless the operator says so.
 */
static int
state_lost(struct td_ctx *x, int reinit)
{
	char *p = xasprintf("%s/archive", x->state_dir);
	struct dirent *de;
	int64_t known;
	DIR *d;
	int full = 0;

	if ((d = opendir(p)) != NULL) {
		/* transmissions are under YYYY/; mappings/ holds only the
		 * mapping states */
		while (!full && (de = readdir(d)) != NULL)
			full = de->d_name[0] != '.' &&
			    strcmp(de->d_name, "mappings") != 0;
		closedir(d);
	}
	x_free(p);
	if (!full)
		return 0;
	if (store_query_int(x->st, "SELECT (SELECT count(*) FROM "
	    "transmissions) + (SELECT count(*) FROM duplicate_drops)", -1,
	    &known) != 0)
		return TD_ERR_STATE;
	if (known != 0)
		return 0;
	if (reinit) {
		td_log(TD_LOG_WARN, "state_reinitialised", "state_dir=%s",
		    x->state_dir);
		if (store_begin(x->st) != 0)
			return TD_ERR_STATE;
		if (audit_append(x->audit, "state_reinitialised", NULL,
		    "\"reason\":\"--reinitialise\"") != 0 ||
		    store_commit(x->st) != 0) {
			store_rollback(x->st);
			return TD_ERR_STATE;
		}
		return 0;
	}
	fprintf(stderr, "tradedrop: %s/state.db holds no transmission but "
	    "%s/archive is not empty: the state was lost, and files dropped "
	    "again would be delivered twice; restore state.db and audit.log "
	    "from a backup, or start anew with --reinitialise (see "
	    "tradedrop(8), RECOVERY)\n", x->state_dir, x->state_dir);
	return TD_ERR_STATE;
}

/*
 * Audit the configuration a run works with (config_loaded: the file and
 * the SHA-256 of its bytes) whenever it differs from the last one
 * audited, kept in meta 'config_sha256'.
 */
static int
config_audit(struct td_ctx *x)
{
	const char *path = td_conf_path(x->conf);
	char hex[TD_SHA256_HEX], *last = NULL, *f;
	struct td_buf b;
	sqlite3_stmt *s;
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return TD_OK;	/* read once already; nothing to prove */
	r = td_sha256_fd(fd, hex);
	close(fd);
	if (r != 0)
		return TD_OK;
	s = store_prepare(x->st, "SELECT value FROM meta WHERE key = "
	    "'config_sha256'");
	if (sqlite3_step(s) == SQLITE_ROW)
		last = xstrdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	r = last != NULL && strcmp(last, hex) == 0;
	x_free(last);
	if (r)
		return TD_OK;
	td_buf_init(&b, 256, 0);
	td_buf_puts(&b, "\"file\":");
	td_json_str_lossy(&b, path, strlen(path));
	td_buf_printf(&b, ",\"sha256\":\"%s\"", hex);
	if (x->map != NULL)
		td_buf_printf(&b, ",\"mapping_version\":\"%s\"",
		    mapper_version(x->map));
	f = xstrdup(td_buf_cstr(&b));
	td_buf_free(&b);
	if ((r = store_begin(x->st)) == 0) {
		s = store_prepare(x->st, "INSERT OR REPLACE INTO meta(key, "
		    "value) VALUES ('config_sha256', ?)");
		sqlite3_bind_text(s, 1, hex, -1, SQLITE_STATIC);
		r = store_step_done(x->st, s);
		if (r == 0)
			r = audit_append(x->audit, "config_loaded", NULL, f);
		r = store_end(x->st, r);
	}
	x_free(f);
	return r;
}

/*
 * Take the lock of state_dir (state_dir/lock, flock): one process works on
 * an integration at a time. Returns the descriptor, or -1 (printed).
 */
int
ctx_lock(const char *state_dir)
{
	char *p = xasprintf("%s/lock", state_dir);
	int fd;

	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
		fprintf(stderr, "tradedrop: %s: %s\n", p, errno == EWOULDBLOCK ?
		    "another tradedrop is working on this state_dir" :
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	x_free(p);
	return fd;
}

int
ctx_open(struct td_ctx *x, struct td_conf *c, int flags)
{
	const char *url;
	char *err = NULL, *p;
	const char *dirs[6];
	struct stat sb;
	size_t i;
	int r;

	memset(x, 0, sizeof(*x));
	x->lockfd = -1;
	x->landfd = -1;
	x->landfd_old = -1;
	x->nsfs = -1;
	x->conf = c;
	x->integration = td_conf_str(c, TDK_integration_name);
	x->state_dir = xstrdup(td_conf_str(c, TDK_integration_state_dir));
	x->landing = xstrdup(td_conf_str(c, TDK_integration_landing_dir));
	x->work = xasprintf("%s/work", x->state_dir);
	x->outbox = xasprintf("%s/outbox", x->state_dir);
	x->dlq = xasprintf("%s/dlq", x->state_dir);
	x->quarantine = xasprintf("%s/quarantine", x->state_dir);
	x->batch_records = td_conf_u64(c, TDK_output_batch_records);
	x->enc = outbox_encoding(td_conf_str(c, TDK_output_output_encoding));
	url = td_conf_str(c, TDK_output_url);
	if (strncmp(url, "file://", 7) == 0)
		x->out_dir = xstrdup(url + 7);
	dirs[0] = x->state_dir;
	dirs[1] = x->landing;
	dirs[2] = x->work;
	dirs[3] = x->outbox;
	dirs[4] = x->dlq;
	dirs[5] = x->quarantine;
	for (i = 0; i < TD_NELEM(dirs); i++) {
		if (td_mkdirs(dirs[i], 0750) != 0) {
			fprintf(stderr, "tradedrop: %s: %s\n", dirs[i],
			    strerror(errno));
			return TD_ERR_IO;
		}
	}
	if (!(flags & CTX_NOLOCK) && (x->lockfd = ctx_lock(x->state_dir)) < 0)
		return TD_ERR_EXISTS;
	if (store_open(x->state_dir, 0, &x->st, &err) != 0 ||
	    ((!(flags & CTX_NOLOCK) || (flags & CTX_CHECK)) &&
	    store_check(x->st, &err) != 0)) {
		/* (a daemon's worker: the daemon checked it at start) */
		fprintf(stderr, "tradedrop: %s\n", err);
		x_free(err);
		return TD_ERR_STATE;
	}
	p = xasprintf("%s/state.db", x->state_dir);
	if (stat(p, &sb) == 0) {
		x->db_dev = sb.st_dev;
		x->db_ino = sb.st_ino;
	}
	x_free(p);
	p = xasprintf("%s/audit.log", x->state_dir);
	if (audit_open(&x->audit, p, x->integration, x->st, &err) != 0) {
		fprintf(stderr, "tradedrop: %s\n", err);
		x_free(err);
		x_free(p);
		return TD_ERR_STATE;
	}
	x_free(p);
	if (state_lost(x, flags & CTX_REINIT) != 0)
		return TD_ERR_STATE;
	if (landing_open(x) != 0)
		return TD_ERR_INVAL;
	if (sidecar_load_keys(c, &x->keys, &x->nkeys, &err) != 0) {
		fprintf(stderr, "tradedrop: %s: %s\n", td_conf_path(c), err);
		x_free(err);
		return TD_ERR_INVAL;
	}
	if ((flags & CTX_MAPPER) && mapper_new(c, &x->map, &err) != 0) {
		fprintf(stderr, "tradedrop: %s: %s\n", td_conf_path(c), err);
		x_free(err);
		return TD_ERR_INVAL;
	}
	if ((flags & CTX_MAPPER) && (r = mapper_archive(x->map,
	    x->state_dir)) != 0) {
		fprintf(stderr, "tradedrop: %s/archive/mappings: %s\n",
		    x->state_dir, td_strerror(r));
		return r;
	}
	if (config_audit(x) != 0)
		return TD_ERR_STATE;
	return TD_OK;
}

static void
refused_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		x_free(v[i]);
	x_free(v);
}

void
ctx_close(struct td_ctx *x)
{
	ctx_run_reset(x);
	refused_free(x->refused_before, x->nrefused_before);
	mapper_free(x->map);
	landing_close(x);
	fwd_close(x->fwd);
	x_free(x->keys);
	audit_close(x->audit);
	if (x->lockfd >= 0)
		close(x->lockfd);
	store_close(x->st);
	while (x->nsfs > 0)
		close(x->sfs_fd[--x->nsfs]);
	x_free(x->state_dir);
	x_free(x->landing);
	x_free(x->work);
	x_free(x->outbox);
	x_free(x->dlq);
	x_free(x->quarantine);
	x_free(x->out_dir);
	memset(x, 0, sizeof(*x));
}

int
ctx_syncfs(struct td_ctx *x)
{
	char *dirs[6];
	struct stat sb, sk;
	size_t i;
	int fd, k, e, r = TD_OK;

	if (x->nsfs < 0) {
		x->nsfs = 0;
		dirs[0] = x->state_dir;
		dirs[1] = x->work;
		dirs[2] = x->outbox;
		dirs[3] = x->dlq;
		dirs[4] = x->quarantine;
		dirs[5] = xasprintf("%s/archive", x->state_dir);
		for (i = 0; i < TD_NELEM(dirs); i++) {
			fd = open(dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0 && errno == ENOENT)
				continue;	/* not made yet: under state_dir */
			if (fd < 0) {
				/* its file system unknown: never left out of
				 * every flush after (EMFILE, EACCES, ...) */
				td_log(TD_LOG_ERROR, "sync_failed", "dir=%s "
				    "error=%s", dirs[i], strerror(errno));
				while (x->nsfs > 0)
					close(x->sfs_fd[--x->nsfs]);
				x->nsfs = -1;
				x_free(dirs[5]);
				return TD_ERR_IO;
			}
			for (k = 0; k < x->nsfs; k++)
				if (fstat(x->sfs_fd[k], &sk) == 0 &&
				    fstat(fd, &sb) == 0 &&
				    sk.st_dev == sb.st_dev)
					break;
			if (k < x->nsfs)
				close(fd);
			else
				x->sfs_fd[x->nsfs++] = fd;
		}
		x_free(dirs[5]);
		if (x->nsfs == 0) {
			x->nsfs = -1;
			td_log(TD_LOG_ERROR, "sync_failed", "dir=%s error=%s",
			    x->state_dir, strerror(errno));
			return TD_ERR_IO;
		}
	}
	for (k = 0; k < x->nsfs && r == 0; k++) {
		if (syncfs(x->sfs_fd[k]) == 0)
			continue;
		e = errno;
		r = e == ENOSPC || e == EDQUOT ? TD_ERR_NOSPACE : TD_ERR_IO;
		td_log(TD_LOG_ERROR, "sync_failed", "dir=%s error=%s",
		    x->state_dir, strerror(e));
	}
	return r;
}

int
ctx_state_moved(struct td_ctx *x)
{
	struct stat sb;
	char *p;
	int r, e = 0;

	if (x->state_moved)
		return 1;
	if (x->db_ino == 0)
		return 0;	/* not known: never said moved */
	p = xasprintf("%s/state.db", x->state_dir);
	r = stat(p, &sb);
	if (r != 0)
		e = errno;
	x_free(p);
	if (r == 0 && sb.st_dev == x->db_dev && sb.st_ino == x->db_ino)
		return 0;
	if (r != 0 && e != ENOENT && e != ENOTDIR)
		return 0;	/* cannot tell (EACCES, EIO): the next look */
	x->state_moved = 1;
	td_log(TD_LOG_ERROR, "state_dir_replaced", "dir=%s reason=%s "
	    "action=%s", x->state_dir, r != 0 ? "state.db is gone" :
	    "state.db is another file", "take nothing more; stop, so that a "
	    "restart opens what is there now");
	return 1;
}

void
ctx_run_reset(struct td_ctx *x)
{
	/*
	 * What this pass refused is what the next one need not log again.
	 * A job that did not list landing whole (a prune, a pass paused by a
	 * full disk, a listing that failed) saw no more than some of it:
	 * what it refused is added, and what the passes before refused is
	 * kept, or the next pass would log every entry again.
	 */
	if (x->run.listed) {
		refused_free(x->refused_before, x->nrefused_before);
		x->refused_before = x->run.refused;	/* transferred */
		x->nrefused_before = x->run.nrefused;
	} else if (x->run.nrefused > 0) {
		x->refused_before = xreallocarray(x->refused_before,
		    x->nrefused_before + x->run.nrefused,
		    sizeof(*x->refused_before));
		memcpy(x->refused_before + x->nrefused_before, x->run.refused,
		    x->run.nrefused * sizeof(*x->run.refused));
		x->nrefused_before += x->run.nrefused;
		x_free(x->run.refused);
	} else
		x_free(x->run.refused);
	rej_counts_free(&x->run.rejections);
	memset(&x->run, 0, sizeof(x->run));
}

/*
 * "-c FILE" naming the configuration c was loaded from, for a command the
 * operator is told to run next (in a log line too, read from anywhere):
 * its absolute path, in single quotes when the shell would read some of
 * its characters.
 */
char *
ctx_conf_arg(const struct td_conf *c)
{
	static const char safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789/._+,:@%-";
	char *p = td_conf_abspath(c), *out, *o;
	const char *q;

	if (p[strspn(p, safe)] == '\0') {
		out = xasprintf("-c %s", p);
	} else {
		/* each ' as '\'' : at most 4 bytes for 1 */
		out = xmalloc(strlen("-c ''") + 4 * strlen(p) + 1);
		o = out + strlen("-c '");
		memcpy(out, "-c '", strlen("-c '"));
		for (q = p; *q != '\0'; q++) {
			if (*q == '\'') {
				memcpy(o, "'\\''", 4);
				o += 4;
			} else
				*o++ = *q;
		}
		*o++ = '\'';
		*o = '\0';
	}
	x_free(p);
	return out;
}
