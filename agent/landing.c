/*
 * landing.c - the edge of the landing directory. See landing.h.
 *
 * An uploader with write access to landing_dir may put anything there:
 * symbolic and hard links to files it cannot read, FIFOs, directories, a
 * file it is still writing, and it may swap one for another between two
 * system calls. So a name is looked at with fstatat(AT_SYMLINK_NOFOLLOW),
 * opened with O_NOFOLLOW | O_NONBLOCK relative to the directory's
 * descriptor, the open file is checked with fstat, and after the rename
 * into work/ the claimed name must still be the inode that was checked.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "td.h"
#include "clock.h"
#include "conf.h"
#include "failpoint.h"
#include "fsutil.h"
#include "log.h"
#include "match.h"
#include "num.h"
#include "sidecar.h"
#include "intake.h"
#include "landing.h"

#define COPY_BLOCK	(1 << 20)

int
landing_own_name(const char *name)
{
	static const char *const dl[] = {
		LANDING_PART, LANDING_PART_INFO, LANDING_PART_TMP
	};
	size_t m, l = strlen(name);

	if (name[0] != '.')
		return 0;
	for (m = 0; m < TD_NELEM(dl); m++)
		if (l > strlen(dl[m]) + 1 && td_has_suffix(name, dl[m]))
			return 1;
	return td_afile_unique_name(name);
}

/*
 * A [watch] may take dot names (pattern = *, .* with an ignore that
 * leaves them): a broken download's .NAME.part, stable until the next
 * poll resumes it, was then taken and delivered as a transmission of its
 * own, cut short, and its .part.info another; the resume was lost.
 */
enum landing_name
landing_name_class(const struct td_conf *c, const char *name)
{
	char * const *pat, * const *ign;
	size_t npat, nign;

	if (landing_own_name(name))
		return LANDING_OWN;
	pat = td_conf_list(c, TDK_watch_pattern, &npat);
	ign = td_conf_list(c, TDK_watch_ignore, &nign);
	if (td_globs_match(ign, nign, name))
		return LANDING_IGNORED;
	if (sidecar_is(name))
		return LANDING_SIDECAR;
	if (!td_globs_match(pat, npat, name))
		return LANDING_UNMATCHED;
	return LANDING_TAKEN;
}

int
landing_owner_uids(const struct td_conf *c, uid_t **uidsp, size_t *np,
    char **errp)
{
	char * const *own;
	uid_t *uids;
	size_t n, i;

	*uidsp = NULL;
	*np = 0;
	*errp = NULL;
	own = td_conf_list(c, TDK_watch_owner, &n);
	uids = n ? xcalloc(n, sizeof(*uids)) : NULL;
	for (i = 0; i < n; i++) {
		struct passwd *pw;
		uint64_t u;

		if (td_parse_u64(own[i], strlen(own[i]), 0,
		    (uid_t)-1 - 1, &u) == 0)
			uids[i] = (uid_t)u;
		else if ((pw = getpwnam(own[i])) != NULL)
			uids[i] = pw->pw_uid;
		else {
			*errp = xasprintf("[watch] owner: no such user: %s",
			    own[i]);
			x_free(uids);
			return TD_ERR_INVAL;
		}
	}
	*uidsp = uids;
	*np = n;
	return TD_OK;
}

int
landing_open(struct td_ctx *x)
{
	char *err;

	x->landfd = open(x->landing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (x->landfd < 0) {
		fprintf(stderr, "tradedrop: %s: %s\n", x->landing,
		    strerror(errno));
		return TD_ERR_IO;
	}
	if (landing_owner_uids(x->conf, &x->owners, &x->nowners,
	    &err) != 0) {
		fprintf(stderr, "tradedrop: %s: %s\n", td_conf_path(x->conf),
		    err);
		x_free(err);
		return TD_ERR_INVAL;
	}
	return TD_OK;
}

int
landing_follow(struct td_ctx *x, int *oldfdp)
{
	struct stat held, now;
	int fd;

	*oldfdp = -1;
	if (fstat(x->landfd, &held) != 0)
		return TD_ERR_IO;
	if (stat(x->landing, &now) != 0) {
		/* moved away, removed or unmounted: the one held may still
		 * hold files, and is listed until the path names one again */
		if (!x->landing_gone)
			td_log(TD_LOG_ERROR, "landing_missing", "dir=%s "
			    "error=%s", x->landing, strerror(errno));
		x->landing_gone = 1;
		return TD_OK;
	}
	if (held.st_dev == now.st_dev && held.st_ino == now.st_ino) {
		x->landing_gone = 0;
		return TD_OK;
	}
	if ((fd = open(x->landing, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		td_log(TD_LOG_ERROR, "landing_unreadable", "dir=%s error=%s",
		    x->landing, strerror(errno));
		return TD_ERR_IO;
	}
	x->landing_gone = 0;
	td_log(TD_LOG_WARN, "landing_replaced", "dir=%s action=%s",
	    x->landing, "take what is left in the old directory, then use "
	    "the new one");
	*oldfdp = x->landfd;
	x->landfd = fd;
	x->run.relanded = 1;
	return TD_OK;
}

/* A landing file as last listed, and since when it has been so. */
struct landing_seen {
	char		*name;
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime, ctime;
	int64_t		 since;		/* td_mono_ms */
};

static void
seen_free(struct landing_seen *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		x_free(t[i].name);
	x_free(t);
}

void
landing_close(struct td_ctx *x)
{
	if (x->landfd > 0)
		close(x->landfd);
	x->landfd = -1;
	if (x->landfd_old > 0)
		close(x->landfd_old);
	x->landfd_old = -1;
	x_free(x->owners);
	x->owners = NULL;
	seen_free(x->seen, x->nseen);
	x->seen = NULL;
	x->nseen = 0;
}

void
landing_refuse(struct td_ctx *x, const char *name, const struct stat *sb,
    const char *why)
{
	char *k;
	size_t i;

	k = xasprintf("%ju:%ju:%lld.%09ld:%s", (uintmax_t)sb->st_dev,
	    (uintmax_t)sb->st_ino, (long long)sb->st_mtim.tv_sec,
	    sb->st_mtim.tv_nsec, name);
	for (i = 0; i < x->run.nrefused; i++) {
		if (strcmp(x->run.refused[i], k) == 0) {
			x_free(k);
			return;
		}
	}
	x->run.refused = xreallocarray(x->run.refused, x->run.nrefused + 1,
	    sizeof(*x->run.refused));
	x->run.refused[x->run.nrefused++] = k;
	x->run.n_refused++;
	/* the daemon's pass before refused it too, unchanged: said then */
	for (i = 0; i < x->nrefused_before; i++)
		if (strcmp(x->refused_before[i], k) == 0)
			return;
	td_log(TD_LOG_WARN, "landing_refused", "file=%s reason=%s", name,
	    why);
}

/* Why the file described by sb may not be taken, or NULL. */
static const char *
refusal_of(struct td_ctx *x, const struct stat *sb, int owners, char *buf,
    size_t n)
{
	size_t i;

	if (S_ISLNK(sb->st_mode))
		return "symbolic link";
	if (S_ISDIR(sb->st_mode))
		return "directory";
	if (S_ISFIFO(sb->st_mode))
		return "FIFO";
	if (S_ISSOCK(sb->st_mode))
		return "socket";
	if (S_ISCHR(sb->st_mode) || S_ISBLK(sb->st_mode))
		return "device";
	if (!S_ISREG(sb->st_mode))
		return "not a regular file";
	if (sb->st_nlink != 1) {
		snprintf(buf, n, "hard link (%ju names)",
		    (uintmax_t)sb->st_nlink);
		return buf;
	}
	if (x->nowners == 0 || !owners)
		return NULL;
	for (i = 0; i < x->nowners; i++)
		if (sb->st_uid == x->owners[i])
			return NULL;
	snprintf(buf, n, "owner uid %ju is not in [watch] owner",
	    (uintmax_t)sb->st_uid);
	return buf;
}

/* Why a landing entry described by sb may not be taken, or NULL. */
static const char *
refusal(struct td_ctx *x, const struct stat *sb, char *buf, size_t n)
{
	return refusal_of(x, sb, 1, buf, n);
}

const char *
landing_check_fd(struct td_ctx *x, int fd, struct stat *sb)
{
	static char buf[96];

	if (fstat(fd, sb) != 0)
		return "fstat failed";
	return refusal_of(x, sb, 1, buf, sizeof(buf));
}

const char *
landing_check_claimed(struct td_ctx *x, int fd, struct stat *sb)
{
	static char buf[96];

	/* no owner check: a claimed file was made ours (take_inode) */
	if (fstat(fd, sb) != 0)
		return "fstat failed";
	return refusal_of(x, sb, 0, buf, sizeof(buf));
}

static int
ts_cmp(const struct timespec *a, const struct timespec *b)
{
	if (a->tv_sec != b->tv_sec)
		return a->tv_sec < b->tv_sec ? -1 : 1;
	if (a->tv_nsec != b->tv_nsec)
		return a->tv_nsec < b->tv_nsec ? -1 : 1;
	return 0;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct landing_entry *x = a, *y = b;
	int c;

	if ((c = ts_cmp(&x->mtime, &y->mtime)) != 0)
		return c;
	return strcmp(x->name, y->name);
}

void
landing_list_free(struct landing_entry *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		x_free(e[i].name);
	x_free(e);
}

/*
 * When a file last changed: its mtime, or its ctime when that is later
 * (a rename into landing, or a touch -m back in time, sets the ctime).
 */
static int64_t
changed_at(const struct stat *sb)
{
	return sb->st_ctim.tv_sec > sb->st_mtim.tv_sec ?
	    (int64_t)sb->st_ctim.tv_sec : (int64_t)sb->st_mtim.tv_sec;
}

static int
seen_cmp(const void *a, const void *b)
{
	return strcmp(((const struct landing_seen *)a)->name,
	    ((const struct landing_seen *)b)->name);
}

/*
 * Since when (td_mono_ms) the file NAME has been as sb describes, by
 * what the last listing saw (now, when it was not there or differed);
 * the entry goes into the next table.
 */
static int64_t
seen_since(struct td_ctx *x, const char *name, const struct stat *sb,
    int64_t now, struct landing_seen **tp, size_t *np)
{
	struct landing_seen key, *o, *t;
	int64_t since = now;

	key.name = (char *)(uintptr_t)name;
	o = x->nseen > 0 ? bsearch(&key, x->seen, x->nseen, sizeof(*o),
	    seen_cmp) : NULL;
	if (o != NULL && o->dev == sb->st_dev && o->ino == sb->st_ino &&
	    o->size == sb->st_size && ts_cmp(&o->mtime, &sb->st_mtim) == 0 &&
	    ts_cmp(&o->ctime, &sb->st_ctim) == 0)
		since = o->since;
	*tp = xreallocarray(*tp, *np + 1, sizeof(**tp));
	t = &(*tp)[(*np)++];
	t->name = xstrdup(name);
	t->dev = sb->st_dev;
	t->ino = sb->st_ino;
	t->size = sb->st_size;
	t->mtime = sb->st_mtim;
	t->ctime = sb->st_ctim;
	t->since = since;
	return since;
}

/*
 * A step of the wall clock: the offset between it and the monotonic
 * clock moved by more than CLOCK_STEP_MS since the last look. From then
 * on a file's times say nothing of how long it has been unchanged.
 */
#define CLOCK_STEP_MS	5000

void
landing_clock(int64_t *skewp, int *steppedp)
{
	struct timespec ts;
	int64_t skew, d;

	td_clock_real(&ts);
	skew = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 -
	    td_mono_ms();
	if (skew == 0)
		skew = 1;
	d = skew - *skewp;
	if (*skewp != 0 && (d > CLOCK_STEP_MS || d < -CLOCK_STEP_MS)) {
		/* to the nearest second: both clocks are read in whole ms,
		 * so a step of 3 h may measure 10799.999 s */
		td_log(TD_LOG_WARN, "clock_step", "seconds=%lld action=%s",
		    (long long)((d + (d < 0 ? -500 : 500)) / 1000),
		    "landing files settle by the monotonic clock only");
		*steppedp = 1;
	}
	*skewp = skew;
}

/*
 * How long (ms) the file has been unchanged: as long as this process
 * has seen it so, or, when longer, the age of its last change by the
 * wall clock; but not the latter when that change is in the future or
 * the wall clock was stepped since it started (a forward step makes
 * every file look old, a backward one makes it look new).
 */
static int64_t
unchanged_ms(struct td_ctx *x, const struct stat *sb, int64_t since,
    int64_t mono)
{
	int64_t seen = mono - since, age;

	age = (td_time() - changed_at(sb)) * 1000;
	if (x->clock_stepped || age < 0)
		age = 0;
	return age > seen ? age : seen;
}

int
landing_list(struct td_ctx *x, struct landing_entry **ep, size_t *np,
    int64_t *settle_at)
{
	struct landing_entry *e = NULL;
	struct landing_seen *seen = NULL;
	enum landing_name k;
	char why[96];
	const char *w;
	struct dirent *de;
	struct stat sb;
	size_t n = 0, nseen = 0;
	int64_t mono = td_mono_ms(), since, age, ready;
	uint64_t settle = td_conf_u64(x->conf, TDK_watch_settle);
	DIR *d;
	int fd;

	*ep = NULL;
	*np = 0;
	*settle_at = 0;
	landing_clock(&x->clock_skew, &x->clock_stepped);
	if ((fd = openat(x->landfd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0 || (d = fdopendir(fd)) == NULL) {
		td_log(TD_LOG_ERROR, "landing_unreadable", "dir=%s error=%s",
		    x->landing, strerror(errno));
		if (fd >= 0)
			close(fd);
		return TD_ERR_IO;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if ((k = landing_name_class(x->conf, de->d_name)) ==
		    LANDING_IGNORED || k == LANDING_OWN)
			continue;
		if (k == LANDING_SIDECAR) {
			/* taken with its data file; but a sidecar that is a
			 * link, a FIFO or a directory is refused now, so it
			 * is not silently absent */
			if (fstatat(x->landfd, de->d_name, &sb,
			    AT_SYMLINK_NOFOLLOW) == 0 &&
			    (w = refusal(x, &sb, why, sizeof(why))) != NULL)
				landing_refuse(x, de->d_name, &sb, w);
			continue;
		}
		if (k != LANDING_TAKEN)
			continue;
		if (fstatat(x->landfd, de->d_name, &sb,
		    AT_SYMLINK_NOFOLLOW) != 0)
			continue;	/* gone */
		if ((w = refusal(x, &sb, why, sizeof(why))) != NULL) {
			landing_refuse(x, de->d_name, &sb, w);
			continue;
		}
		since = seen_since(x, de->d_name, &sb, mono, &seen, &nseen);
		age = unchanged_ms(x, &sb, since, mono);
		if (settle > 0 && age < (int64_t)settle * 1000) {
			/* still changing, or only just arrived */
			ready = mono + (int64_t)settle * 1000 - age;
			x->run.n_unsettled++;
			if (*settle_at == 0 || ready < *settle_at)
				*settle_at = ready;
			continue;
		}
		if (waiting_for_sidecar(x, de->d_name, age / 1000))
			continue;
		e = xreallocarray(e, n + 1, sizeof(*e));
		e[n].name = xstrdup(de->d_name);
		e[n].dev = sb.st_dev;
		e[n].ino = sb.st_ino;
		e[n].size = sb.st_size;
		e[n].mtime = sb.st_mtim;
		e[n].ctime = sb.st_ctim;
		n++;
	}
	closedir(d);
	if (n > 0)	/* e is NULL when nothing is ready: qsort's UB */
		qsort(e, n, sizeof(*e), entry_cmp);
	/* what this listing saw replaces what the last one did (a listing
	 * of a replaced directory being drained is not remembered) */
	if (x->landfd == x->landfd_old) {
		seen_free(seen, nseen);
	} else {
		if (nseen > 0)
			qsort(seen, nseen, sizeof(*seen), seen_cmp);
		seen_free(x->seen, x->nseen);
		x->seen = seen;
		x->nseen = nseen;
	}
	x->run.listed = 1;
	*ep = e;
	*np = n;
	return TD_OK;
}

/*
 * Is someone holding fd's file open for writing? A read lease is granted
 * only when nobody does (fcntl(2)), and it is broken (SIGIO, ignored in
 * main) as soon as someone opens the file for writing. It needs the
 * file's owner or CAP_LEASE, and not every filesystem has leases: then
 * the kernel cannot tell, and the settle time alone decides.
 * LEASE_HELD: taken, keep it over the claim and check it is still held
 * (lease_kept) before letting it go; LEASE_NONE: cannot tell;
 * LEASE_BUSY: a writer has it open.
 */
#define LEASE_NONE	0
#define LEASE_HELD	1
#define LEASE_BUSY	2

static int
lease_take(int fd)
{
	if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0)
		return LEASE_HELD;
	return errno == EAGAIN || errno == EBUSY ? LEASE_BUSY : LEASE_NONE;
}

/* Was the lease kept (nobody opened the file for writing)? Drops it. */
static int
lease_kept(int fd, int lease)
{
	int held;

	if (lease != LEASE_HELD)
		return 1;
	held = fcntl(fd, F_GETLEASE) == F_RDLCK;
	(void)fcntl(fd, F_SETLEASE, F_UNLCK);
	return held;
}

/*
 * Copy what fd holds into dfd/name durably (a landing on another
 * filesystem). Only the data extents are copied (SEEK_DATA/SEEK_HOLE), so
 * a sparse file stays sparse instead of filling the state directory.
 */
static int
copy_fd(int fd, int dfd, const char *name)
{
	char *blk = xmalloc(COPY_BLOCK);
	off_t off = 0, end, size;
	struct stat sb;
	ssize_t n;
	int out, r = TD_OK;

	if (fstat(fd, &sb) != 0 || (out = openat(dfd, name, O_WRONLY |
	    O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640)) < 0) {
		x_free(blk);
		return TD_ERR_IO;
	}
	size = sb.st_size;
	while (r == 0 && off < size) {
		if ((off = lseek(fd, off, SEEK_DATA)) < 0) {
			if (errno != ENXIO)	/* ENXIO: only a hole is left */
				r = TD_ERR_IO;
			break;
		}
		if ((end = lseek(fd, off, SEEK_HOLE)) < 0 || end > size)
			end = size;
		while (r == 0 && off < end) {
			n = pread(fd, blk, (size_t)(end - off) < COPY_BLOCK ?
			    (size_t)(end - off) : COPY_BLOCK, off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				r = n < 0 ? TD_ERR_IO : TD_OK;
				end = off;	/* shorter than it said */
				size = off;
				break;
			}
			if (lseek(out, off, SEEK_SET) != off ||
			    (r = td_write_all(out, blk, (size_t)n)) != 0)
				r = r ? r : TD_ERR_IO;
			off += n;
		}
	}
	if (r == 0 && ftruncate(out, size) != 0)
		r = errno == ENOSPC ? TD_ERR_NOSPACE : TD_ERR_IO;
	if (r == 0 && fsync(out) != 0)
		r = errno == ENOSPC ? TD_ERR_NOSPACE : TD_ERR_IO;
	close(out);
	x_free(blk);
	return r;
}

static int
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Put dfd/name back into landing; 0 when it is back. */
static int
put_back(struct td_ctx *x, int dfd, const char *name, const char *claim)
{
	char *alt;
	int r;

	if (renameat2(dfd, name, x->landfd, name, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EEXIST)
		return TD_ERR_IO;
	/* NAME.td-returned-CLAIM, NAME cut so that it fits NAME_MAX */
	{
		size_t keep = strlen(name), room = 255 - strlen(".td-returned-") -
		    strlen(claim);

		if (keep > room)
			keep = room;
		alt = xasprintf("%.*s.td-returned-%s", (int)keep, name, claim);
	}
	r = renameat2(dfd, name, x->landfd, alt, RENAME_NOREPLACE);
	td_log(TD_LOG_WARN, "landing_returned", "file=%s as=%s", name, alt);
	x_free(alt);
	return r == 0 ? 0 : TD_ERR_IO;
}

int
landing_unclaim(struct td_ctx *x, const char *claim)
{
	char *wdir = xasprintf("%s/%s", x->work, claim);
	struct dirent *de;
	DIR *d;
	int dfd, r = TD_OK;

	if ((dfd = open(wdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (d = fdopendir(dfd)) == NULL) {
		if (dfd >= 0)
			close(dfd);
		x_free(wdir);
		return errno == ENOENT ? TD_OK : TD_ERR_IO;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (strncmp(de->d_name, PARTIAL_NAME,
		    strlen(PARTIAL_NAME)) == 0) {
			(void)unlinkat(dfd, de->d_name, 0);
			continue;
		}
		if (put_back(x, dfd, de->d_name, claim) != 0) {
			td_log(TD_LOG_ERROR, "unclaim_failed", "file=%s "
			    "claim=%s error=%s", de->d_name, claim,
			    strerror(errno));
			r = TD_ERR_IO;
		}
	}
	closedir(d);
	if (r == 0 && rmdir(wdir) != 0 && errno != ENOENT)
		r = TD_ERR_IO;
	(void)fsync(x->landfd);
	(void)td_fsync_dir(x->work);
	x_free(wdir);
	return r;
}

/* Make the open file ours, 0640: 0, or -1 when that is not possible. */
static int
take_inode(int fd)
{
	struct stat sb;

	if (fstat(fd, &sb) != 0)
		return -1;
	if ((sb.st_uid != geteuid() || sb.st_gid != getegid()) &&
	    fchown(fd, geteuid(), getegid()) != 0)
		return -1;
	return fchmod(fd, 0640) == 0 ? 0 : -1;
}

/*
 * Where no lease could say that nobody writes the file, a writer that
 * opened it before the claim could still change the claimed inode, even
 * after it was hashed, verified and archived. So the claimed name is
 * replaced by a copy of our own, made from the checked descriptor; the
 * original must not have changed meanwhile (else it goes back to
 * landing, not settled).
 */
static int
private_copy(struct td_ctx *x, int fd, int dfd, const char *name,
    const char *cl, const struct stat *sb)
{
	struct stat sb2;
	int r;

	if ((r = copy_fd(fd, dfd, PARTIAL_NAME)) != 0) {
		(void)unlinkat(dfd, PARTIAL_NAME, 0);
		(void)put_back(x, dfd, name, cl);
		return r;
	}
	if (fstat(fd, &sb2) != 0 || sb2.st_size != sb->st_size ||
	    ts_cmp(&sb2.st_mtim, &sb->st_mtim) != 0) {
		(void)unlinkat(dfd, PARTIAL_NAME, 0);
		if (put_back(x, dfd, name, cl) != 0)
			td_log(TD_LOG_ERROR, "unclaim_failed", "file=%s "
			    "claim=%s error=%s", name, cl, strerror(errno));
		x->run.n_unsettled++;
		return TD_ERR_AGAIN;
	}
	/* atomically: the name now holds our copy, the uploader's inode
	 * has no name left in the state directory */
	if (renameat(dfd, PARTIAL_NAME, dfd, name) != 0)
		return TD_ERR_IO;
	return TD_OK;
}

/*
 * The second half of a claim's durability, for one claim or for the
 * group of claims made since the last call (landing_claim with defer):
 * work/ names every new claim directory (each made durable with the
 * file it names by its own fsync first), then landing no longer names
 * the files. Per file the order is as it was, claim directory, work/,
 * landing; a group only shares the last two flushes (intake.c,
 * landing_pass). The fsync of work/ also makes durable the removal of
 * every claim settled before (intake.c: settle, intake_sync_work).
 */
int
landing_claim_sync(struct td_ctx *x)
{
	if (td_fsync_dir(x->work) != 0)
		return TD_ERR_IO;
	x->work_dirty = 0;
	if (fsync(x->landfd) != 0)
		return TD_ERR_IO;
	return TD_OK;
}

int
landing_claim(struct td_ctx *x, const struct landing_entry *e,
    char **claimp, int *fdp, int defer)
{
	static unsigned seq;
	struct timespec ts;
	struct stat sb, sb2;
	char *cl, *wdir, why[96];
	const char *w;
	int fd, dfd = -1, r = TD_OK, copied = 0, lease = LEASE_NONE, nolease;
	int owned;

	*claimp = NULL;
	*fdp = -1;
	fd = openat(x->landfd, e->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return TD_ERR_NOTFOUND;
		if (errno == EWOULDBLOCK)
			return TD_ERR_AGAIN;	/* a lease holder writes */
		if (fstatat(x->landfd, e->name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
			return TD_ERR_NOTFOUND;
		snprintf(why, sizeof(why), "%s", errno == ELOOP ?
		    "symbolic link" : strerror(errno));
		if (errno == EACCES || errno == EPERM)
			snprintf(why, sizeof(why), "unreadable: %s",
			    strerror(EACCES));
		landing_refuse(x, e->name, &sb, why);
		return TD_ERR_FORMAT;
	}
	if ((w = landing_check_fd(x, fd, &sb)) != NULL) {
		landing_refuse(x, e->name, &sb, w);
		close(fd);
		return TD_ERR_FORMAT;
	}
	if (sb.st_dev != e->dev || sb.st_ino != e->ino ||
	    sb.st_size != e->size || ts_cmp(&sb.st_mtim, &e->mtime) != 0 ||
	    (lease = lease_take(fd)) == LEASE_BUSY) {
		/* replaced, or changed since it was listed, or being
		 * written: it has not settled yet */
		td_log(TD_LOG_DEBUG, "landing_busy", "file=%s", e->name);
		x->run.n_unsettled++;
		close(fd);
		return TD_ERR_AGAIN;
	}
	if (fcntl(fd, F_SETFL, 0) != 0) {
		close(fd);
		return TD_ERR_IO;
	}

	td_clock_real(&ts);
	cl = xasprintf("%lld.%09ld-%ld-%u", (long long)ts.tv_sec, ts.tv_nsec,
	    (long)getpid(), seq++);
	wdir = xasprintf("%s/%s", x->work, cl);
	if (mkdir(wdir, 0750) != 0 || (dfd = open(wdir, O_RDONLY |
	    O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = errno == ENOSPC ? TD_ERR_NOSPACE : TD_ERR_IO;
		goto fail;
	}
	if (renameat(x->landfd, e->name, dfd, e->name) != 0) {
		if (errno == ENOENT) {
			r = TD_ERR_NOTFOUND;	/* taken by someone else */
			goto fail;
		}
		if (errno != EXDEV) {
			/* immutable, or a sticky upload directory: the file
			 * cannot be taken out of the uploader's reach */
			snprintf(why, sizeof(why), "cannot be moved out of "
			    "landing: %s", strerror(errno));
			landing_refuse(x, e->name, &sb, why);
			r = TD_ERR_FORMAT;
			goto fail;
		}
		/* landing is on another filesystem: copy what was opened
		 * under a reserved name, then rename; the original goes
		 * only once the copy is durable */
		if ((r = copy_fd(fd, dfd, PARTIAL_NAME)) != 0)
			goto fail;
		if (renameat(dfd, PARTIAL_NAME, dfd, e->name) != 0 ||
		    fsync(dfd) != 0) {
			r = TD_ERR_IO;
			goto fail;
		}
		copied = 1;
	}
	if (!copied) {
		/* what was renamed must be what was opened and checked */
		if (fstatat(dfd, e->name, &sb2, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !same_file(&sb, &sb2) ||
		    (w = landing_check_fd(x, fd, &sb2)) != NULL) {
			(void)lease_kept(fd, lease);
			lease = LEASE_NONE;
			if (put_back(x, dfd, e->name, cl) != 0)
				td_log(TD_LOG_ERROR, "unclaim_failed", "file=%s "
				    "claim=%s error=%s", e->name, cl,
				    strerror(errno));
			landing_refuse(x, e->name, &sb, "replaced or linked "
			    "while it was being claimed");
			r = TD_ERR_FORMAT;
			goto fail;
		}
	}
	td_failpoint("claimed");
	/*
	 * With the lease held nobody writes the file now: make the inode
	 * ours, 0640, before the lease goes, so that nobody can open it for
	 * writing later, not even through a descriptor kept from before the
	 * claim (/proc/PID/fd). Where that is not possible, or there is no
	 * lease, the claimed name gets a private copy below.
	 */
	owned = !copied && lease == LEASE_HELD && take_inode(fd) == 0;
	if (!lease_kept(fd, lease)) {
		if (owned) {
			/* give it back as it was */
			if (fchown(fd, sb.st_uid, sb.st_gid) != 0 ||
			    fchmod(fd, sb.st_mode & 07777) != 0)
				td_log(TD_LOG_WARN, "landing_returned",
				    "file=%s error=%s", e->name,
				    strerror(errno));
		}
		/* someone opened it for writing during the claim: give it
		 * back, it has not settled (a copy is simply dropped) */
		lease = LEASE_NONE;
		if (copied)
			(void)unlinkat(dfd, e->name, 0);
		else if (put_back(x, dfd, e->name, cl) != 0)
			td_log(TD_LOG_ERROR, "unclaim_failed", "file=%s "
			    "claim=%s error=%s", e->name, cl, strerror(errno));
		td_log(TD_LOG_INFO, "landing_busy", "file=%s "
		    "reason=\"opened for writing during the claim\"", e->name);
		x->run.n_unsettled++;
		r = TD_ERR_AGAIN;
		goto fail;
	}
	nolease = !owned;
	lease = LEASE_NONE;
	if (copied) {
		/* the original must not have changed while it was copied,
		 * and is removed only if it is still the file copied */
		if (fstat(fd, &sb2) != 0 || sb2.st_size != sb.st_size ||
		    ts_cmp(&sb2.st_mtim, &sb.st_mtim) != 0) {
			(void)unlinkat(dfd, e->name, 0);
			x->run.n_unsettled++;
			r = TD_ERR_AGAIN;
			goto fail;
		}
		close(fd);
		if ((fd = openat(dfd, e->name, O_RDONLY | O_NOFOLLOW |
		    O_CLOEXEC)) < 0) {
			r = TD_ERR_IO;
			goto fail;
		}
		/* the claim's own name in work/, on the other file system,
		 * durable before the original goes */
		if (td_fsync_dir(x->work) != 0) {
			(void)unlinkat(dfd, e->name, 0);
			r = TD_ERR_IO;
			goto fail;
		}
		if (fstatat(x->landfd, e->name, &sb2,
		    AT_SYMLINK_NOFOLLOW) == 0 && same_file(&sb, &sb2) &&
		    unlinkat(x->landfd, e->name, 0) != 0 && errno != ENOENT) {
			/* a read-only landing directory, an immutable file,
			 * another's in a sticky directory: taken, it would
			 * be taken again at every pass; refused instead, as
			 * when the rename fails */
			snprintf(why, sizeof(why), "cannot be moved out of "
			    "landing: %s", strerror(errno));
			(void)unlinkat(dfd, e->name, 0);
			landing_refuse(x, e->name, &sb, why);
			r = TD_ERR_FORMAT;
			goto fail;
		}
	} else {
		/* not made ours under a lease (above): a private copy */
		if (nolease && (r = private_copy(x, fd, dfd, e->name, cl,
		    &sb)) != 0)
			goto fail;
		if (nolease) {
			close(fd);
			if ((fd = openat(dfd, e->name, O_RDONLY | O_NOFOLLOW |
			    O_CLOEXEC)) < 0) {
				r = TD_ERR_IO;
				goto fail;
			}
		}
	}
	if (fsync(dfd) != 0) {
		r = TD_ERR_IO;
		goto fail;
	}
	/* work/ (the new claim directory) and landing (the name gone), now
	 * or, for a group of claims, once for all (landing_claim_sync) */
	if (!defer && landing_claim_sync(x) != 0) {
		r = TD_ERR_IO;
		goto fail;
	}
	close(dfd);
	x_free(wdir);
	*claimp = cl;
	*fdp = fd;
	return TD_OK;
 fail:
	(void)lease_kept(fd, lease);
	if (dfd >= 0) {
		(void)unlinkat(dfd, PARTIAL_NAME, 0);
		close(dfd);
		(void)rmdir(wdir);
	}
	close(fd);
	x_free(cl);
	x_free(wdir);
	return r;
}

/*
 * Take the small file NAME (a sidecar) from landing into dir: read it
 * through a descriptor checked like a data file's (no link followed, a
 * regular file with one link, at most max bytes, never blocking), write
 * the bytes read into a file of our own in dir, and remove the landing
 * name only if it is still that file. Nothing of the uploader's (a
 * directory, a link, an inode it can still write) ever enters the
 * state directory. 0 when taken or gone; refusals are logged.
 */
int
landing_take_copy(struct td_ctx *x, const char *name, const char *dir,
    size_t max)
{
	struct stat sb, sb2;
	char *text = NULL, *dst, *tmp, why[96];
	const char *w;
	size_t len;
	int fd, r;

	fd = openat(x->landfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return TD_OK;
		if (fstatat(x->landfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
			return TD_OK;
		landing_refuse(x, name, &sb, errno == ELOOP ? "symbolic link" :
		    "unreadable");
		return TD_ERR_FORMAT;
	}
	if ((w = landing_check_fd(x, fd, &sb)) != NULL ||
	    (uint64_t)sb.st_size > max) {
		if (w == NULL) {
			snprintf(why, sizeof(why), "sidecar larger than %zu "
			    "bytes", max);
			w = why;
		}
		landing_refuse(x, name, &sb, w);
		close(fd);
		return TD_ERR_FORMAT;
	}
	r = td_read_fd(fd, max, &text, &len);
	close(fd);
	if (r != 0) {
		landing_refuse(x, name, &sb, "unreadable");
		return TD_ERR_FORMAT;
	}
	/*
	 * The temporary name has a length of its own: PARTIAL_NAME.NAME
	 * went over NAME_MAX for a sidecar of 244 bytes or more, and its
	 * ENAMETOOLONG left the claim stuck in work/ for good (each run
	 * failed to recover it). Sidecars are copied one at a time.
	 */
	dst = xasprintf("%s/%s", dir, name);
	tmp = xasprintf("%s/" PARTIAL_NAME ".sidecar", dir);
	r = td_failpoint_eio("sidecar_copy") != 0 ? TD_ERR_IO :
	    td_write_file_via(dst, tmp, text, len);
	if (r != 0)
		td_log(TD_LOG_ERROR, "landing_copy_failed", "file=%s dst=%s "
		    "error=%s", name, dst, td_errstr(r));
	x_free(text);
	x_free(dst);
	x_free(tmp);
	if (r != 0)
		return r;
	if (fstatat(x->landfd, name, &sb2, AT_SYMLINK_NOFOLLOW) == 0 &&
	    same_file(&sb, &sb2) && unlinkat(x->landfd, name, 0) != 0 &&
	    errno != ENOENT) {
		td_log(TD_LOG_ERROR, "landing_unlink_failed", "file=%s "
		    "error=%s", name, strerror(errno));
		return TD_ERR_IO;
	}
	return TD_OK;
}

int
landing_secure_claimed(struct td_ctx *x, const char *claim, const char *name)
{
	char *wdir = xasprintf("%s/%s", x->work, claim);
	struct stat sb;
	int dfd, fd, r = TD_OK;

	if ((dfd = open(wdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		x_free(wdir);
		return TD_ERR_IO;
	}
	x_free(wdir);
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (fd < 0 || landing_check_claimed(x, fd, &sb) != NULL)
		r = TD_ERR_FORMAT;	/* receive refuses it */
	else if (sb.st_uid != geteuid() &&
	    (r = private_copy(x, fd, dfd, name, claim, &sb)) == 0 &&
	    fsync(dfd) != 0)
		r = TD_ERR_IO;	/* the copy's name, before it is recorded */
	if (fd >= 0)
		close(fd);
	close(dfd);
	return r == TD_ERR_FORMAT ? TD_OK : r;
}
