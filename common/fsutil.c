/* fsutil.c - durable, atomic file operations. */
#include "config.h"

#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "td.h"
#include "fsutil.h"

long
td_cpus(void)
{
	cpu_set_t set;
	long n;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		return CPU_COUNT(&set) > 0 ? CPU_COUNT(&set) : 1;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? n : 1;
}

static int
errno_to_td(void)
{
	return (errno == ENOSPC || errno == EDQUOT) ? TD_ERR_NOSPACE :
	    TD_ERR_IO;
}

int
td_fsync_dir(const char *dir)
{
	int fd, r;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return TD_ERR_IO;
	r = fsync(fd);
	close(fd);
	return r == 0 ? TD_OK : TD_ERR_IO;
}

int
td_fsync_parent(const char *path)
{
	char *d = xstrdup(path), *s;
	int r;

	s = strrchr(d, '/');
	if (s == NULL)
		r = td_fsync_dir(".");
	else {
		if (s == d)
			s++;
		*s = '\0';
		r = td_fsync_dir(d);
	}
	x_free(d);
	return r;
}

/* path is a directory (0), is something else (-1, ENOTDIR), or not (1). */
static int
is_dir(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return errno == ENOENT ? 1 : -1;
	if (S_ISDIR(st.st_mode))
		return 0;
	errno = ENOTDIR;
	return -1;
}

/*
 * mkdir -p from the leaf: a directory that is there already (the common
 * case: each file's steps name the same directories again) costs one
 * stat, whatever its depth; a missing parent is made first, the same way.
 * Each directory made has its parent fsynced.
 */
int
td_mkdirs(const char *path, int mode)
{
	char *parent, *s;
	int r, e;

	if ((r = is_dir(path)) <= 0)
		return r == 0 ? TD_OK : TD_ERR_IO;
	r = mkdir(path, (mode_t)mode);
	if (r != 0 && errno == ENOENT) {
		/* the parent (without the last name and the slashes around
		 * it), made first */
		parent = xstrdup(path);
		s = parent + strlen(parent);
		while (s > parent && s[-1] == '/')
			s--;
		while (s > parent && s[-1] != '/')
			s--;
		while (s > parent && s[-1] == '/')
			s--;
		*s = '\0';
		if (parent[0] == '\0') {
			/* "/" itself, or a relative name in a removed cwd */
			x_free(parent);
			errno = ENOENT;
			return TD_ERR_IO;
		}
		r = td_mkdirs(parent, mode) == TD_OK ? 0 : -1;
		e = errno;
		x_free(parent);
		errno = e;
		if (r != 0)
			return TD_ERR_IO;
		r = mkdir(path, (mode_t)mode);
	}
	if (r == 0)
		return td_fsync_parent(path) != 0 ? TD_ERR_IO : TD_OK;
	if (errno == EEXIST) {		/* made meanwhile by another */
		if ((r = is_dir(path)) == 0)
			return TD_OK;
		/* or a link to a name not there: not ENOENT, which says
		 * nothing of what holds the name */
		if (r > 0)
			errno = ENOTDIR;
		return TD_ERR_IO;
	}
	return TD_ERR_IO;
}

int
td_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno_to_td();
		}
		p += w;
		n -= (size_t)w;
	}
	return TD_OK;
}

/*
 * A name others may hold stays held: one they own in a sticky directory
 * (landing, writable by others) cannot be removed, nor a directory; the
 * O_EXCL open of it then failed the same way at every write.
 */
static int
name_held(int unlink_errno, int open_errno)
{
	return open_errno == EEXIST || ((unlink_errno == EPERM ||
	    unlink_errno == EACCES || unlink_errno == EISDIR) &&
	    (open_errno == EPERM || open_errno == EACCES));
}

/*
 * A temporary name of our own beside path: .td-HEX.tmp, which nobody can
 * foresee, within NAME_MAX whatever path's name, and never taken from
 * landing (hidden: watch ignore's .*; a pattern's * does not match a
 * leading period). An fd, or -1 with errno; *tmp replaced when it
 * succeeds.
 */
static int
afile_open_unique(const char *path, char **tmp)
{
	static uint64_t seq;
	struct timespec ts;
	const char *s = strrchr(path, '/');
	uint64_t v;
	char *t;
	int fd = -1, tries, e;

	for (tries = 0; tries < 8 && fd < 0; tries++) {
		if (getrandom(&v, sizeof(v), GRND_NONBLOCK) !=
		    (ssize_t)sizeof(v)) {
			/* no entropy yet (early boot): O_EXCL and the
			 * retries still keep it from taking another's */
			clock_gettime(CLOCK_REALTIME, &ts);
			v = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
			    ((uint64_t)getpid() << 44) ^ ++seq;
		}
		t = s == NULL ? xasprintf(".td-%016llx.tmp",
		    (unsigned long long)v) : xasprintf("%.*s/.td-%016llx.tmp",
		    (int)(s - path), path, (unsigned long long)v);
		fd = open(t, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0640);
		if (fd >= 0) {
			x_free(*tmp);
			*tmp = t;	/* transferred */
			break;
		}
		e = errno;
		x_free(t);
		errno = e;
		if (e != EEXIST)
			break;
	}
	return fd;
}

int
td_afile_unique_name(const char *name)
{
	size_t l = strlen(name);

	/* what afile_open_unique makes: .td-%016llx.tmp */
	return l == 24 && strncmp(name, ".td-", 4) == 0 &&
	    strspn(name + 4, "0123456789abcdef") == 16 &&
	    strcmp(name + 20, ".tmp") == 0;
}

/*
 * Whether path's directory has the sticky bit: there a file is for its
 * owner to remove (the kernel lets root, and the directory's owner, all
 * the same).
 */
static int
sticky_dir(const char *path)
{
	const char *s = strrchr(path, '/');
	struct stat sb;
	char *d;
	int r;

	d = s == NULL ? xstrdup(".") : s == path ? xstrdup("/") :
	    xasprintf("%.*s", (int)(s - path), path);
	r = stat(d, &sb) == 0 && (sb.st_mode & S_ISVTX) != 0;
	x_free(d);
	return r;
}

/*
 * td_afile_open with the temporary name tmp (NULL: path.tmp), or one of
 * our own when something we cannot remove has it.
 */
static int
afile_open(struct td_afile *af, const char *path, const char *tmp)
{
	struct stat sb;
	int ue = 0;

	memset(af, 0, sizeof(*af));
	af->fd = -1;
	af->path = xstrdup(path);
	af->tmp = tmp != NULL ? xstrdup(tmp) : xasprintf("%s.tmp", path);
	/*
	 * A directory others may write (landing, a file:// destination,
	 * node_exporter's textfile directory) may hold a link or a FIFO of
	 * that name: never follow or open one, always a file of our own.
	 * The fixed name is kept otherwise: the sweeps of what a stop left
	 * look for it.
	 */
	/*
	 * Another user's file there in a sticky directory is theirs even
	 * when we could remove it (root, as `once` may run, ignores the
	 * sticky bit): left, and a name of our own taken.
	 */
	if (lstat(af->tmp, &sb) == 0 && sb.st_uid != geteuid() &&
	    sticky_dir(af->tmp))
		af->fd = afile_open_unique(path, &af->tmp);
	else {
		if (unlink(af->tmp) != 0)
			ue = errno;
		af->fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0640);
		if (af->fd < 0 && name_held(ue, errno))
			af->fd = afile_open_unique(path, &af->tmp);
	}
	if (af->fd < 0) {
		int r = errno_to_td(), e = errno;

		x_free(af->path);
		x_free(af->tmp);
		af->path = af->tmp = NULL;
		errno = e;
		return r;
	}
	return TD_OK;
}

int
td_afile_open(struct td_afile *af, const char *path)
{
	return afile_open(af, path, NULL);
}

int
td_afile_write(struct td_afile *af, const void *p, size_t n)
{
	int r = td_write_all(af->fd, p, n);

	if (r == 0)
		af->bytes += n;
	return r;
}

int
td_afile_commit(struct td_afile *af)
{
	int r;

	if (fsync(af->fd) != 0) {
		r = errno_to_td();
		goto fail;
	}
	if (close(af->fd) != 0) {
		af->fd = -1;
		r = errno_to_td();
		goto fail;
	}
	af->fd = -1;
	if (rename(af->tmp, af->path) != 0) {
		r = errno_to_td();
		goto fail;
	}
	if ((r = td_fsync_parent(af->path)) != 0)
		goto fail;
	x_free(af->tmp);
	x_free(af->path);
	af->tmp = af->path = NULL;
	return TD_OK;
 fail:
	td_afile_abort(af);
	return r;
}

void
td_afile_abort(struct td_afile *af)
{
	if (af->fd >= 0)
		close(af->fd);
	af->fd = -1;
	if (af->tmp != NULL)
		(void)unlink(af->tmp);
	x_free(af->tmp);
	x_free(af->path);
	af->tmp = af->path = NULL;
}

int
td_write_file_atomic(const char *path, const void *data, size_t n)
{
	return td_write_file_via(path, NULL, data, n);
}

int
td_write_file_via(const char *path, const char *tmp, const void *data,
    size_t n)
{
	struct td_afile af;
	int r;

	if ((r = afile_open(&af, path, tmp)) != 0)
		return r;
	if ((r = td_afile_write(&af, data, n)) != 0) {
		td_afile_abort(&af);
		return r;
	}
	return td_afile_commit(&af);
}

int
td_read_fd(int fd, size_t max, char **out, size_t *len)
{
	char *b = NULL;
	size_t n = 0, cap = 0;
	ssize_t r;

	*out = NULL;
	*len = 0;
	for (;;) {
		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			b = xrealloc(b, cap + 1);
		}
		r = read(fd, b + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			x_free(b);
			return TD_ERR_IO;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			x_free(b);
			return TD_ERR_LIMIT;
		}
	}
	b[n] = '\0';
	*out = b;
	*len = n;
	return TD_OK;
}

static int
read_regular(const char *path, int flags, size_t max, char **out,
    size_t *len)
{
	struct stat sb;
	int fd, r;

	*out = NULL;
	*len = 0;
	/* never block on a FIFO, never take a terminal */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC |
	    flags)) < 0)
		return errno == ENOENT ? TD_ERR_NOTFOUND : TD_ERR_IO;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		errno = EINVAL;
		return TD_ERR_FORMAT;
	}
	r = td_read_fd(fd, max, out, len);
	close(fd);
	return r;
}

int
td_read_file(const char *path, size_t max, char **out, size_t *len)
{
	return read_regular(path, 0, max, out, len);
}

int
td_read_file_nofollow(const char *path, size_t max, char **out,
    size_t *len)
{
	return read_regular(path, O_NOFOLLOW, max, out, len);
}

/*
 * Is path strictly below dir? Component-wise: "/state2" and "/state/.."
 * are not below "/state"; trailing slashes of dir do not count.
 */
static int
path_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	const char *p;

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 0 || strncmp(path, dir, n) != 0 ||
	    (path[n] != '/' && dir[n - 1] != '/'))
		return 0;
	for (p = path + n; *p != '\0'; ) {
		size_t len;

		p += strspn(p, "/");
		len = strcspn(p, "/");
		if ((len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += len;
	}
	/* something below, not dir itself */
	return path[n + strspn(path + n, "/")] != '\0';
}

/*
 * Remove what dfd holds, descriptor by descriptor: a directory entry is
 * opened with O_NOFOLLOW | O_DIRECTORY and emptied through that
 * descriptor, so a directory renamed or swapped for a symbolic link while
 * this runs is never followed out of the tree.
 */
static int
remove_in(int dfd, int depth)
{
	struct dirent *de;
	DIR *d;
	int fd, sub, r = TD_OK;

	if (depth > 64 || (fd = dup(dfd)) < 0)
		return TD_ERR_IO;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return TD_ERR_IO;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0 || errno == ENOENT)
			continue;
		if (errno != EISDIR && errno != EPERM) {
			r = TD_ERR_IO;
			continue;
		}
		sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0 || remove_in(sub, depth + 1) != 0)
			r = TD_ERR_IO;
		if (sub >= 0)
			close(sub);
		if (unlinkat(dfd, de->d_name, AT_REMOVEDIR) != 0 &&
		    errno != ENOENT)
			r = TD_ERR_IO;
	}
	closedir(d);
	return r;
}

int
td_remove_tree(const char *path, const char *within)
{
	int dfd, r;

	if (!path_below(path, within))
		td_fatal("td_remove_tree: %s is outside %s", path, within);
	if ((dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return TD_OK;
		if (errno != ENOTDIR && errno != ELOOP)
			return TD_ERR_IO;
		/* a file or a symbolic link: remove the name itself */
		return unlink(path) == 0 || errno == ENOENT ? TD_OK : TD_ERR_IO;
	}
	r = remove_in(dfd, 0);
	close(dfd);
	if (rmdir(path) != 0 && errno != ENOENT)
		r = TD_ERR_IO;
	return r;
}

/* Take the permission bits beyond mode off the open file fd. */
static int
fd_restrict_mode(int fd, mode_t mode)
{
	struct stat sb;

	if (fstat(fd, &sb) != 0)
		return TD_ERR_IO;
	if ((sb.st_mode & 07777 & ~mode) != 0 &&
	    fchmod(fd, sb.st_mode & mode & 07777) != 0)
		return TD_ERR_IO;
	return TD_OK;
}

int
td_open_mode(const char *path, int flags, mode_t mode)
{
	int fd, saved;

	flags = (flags & ~(O_CREAT | O_EXCL)) | O_CLOEXEC;
	if ((fd = open(path, flags | O_CREAT | O_EXCL, mode)) >= 0) {
		/* created: exactly mode, not mode & ~umask */
		if (fchmod(fd, mode) == 0)
			return fd;
	} else if (errno == EEXIST &&
	    (fd = open(path, flags, mode)) >= 0) {
		if (fd_restrict_mode(fd, mode) == 0)
			return fd;
	}
	if (fd >= 0) {
		saved = errno;
		close(fd);
		errno = saved;
	}
	return -1;
}

int
td_restrict_mode(const char *path, mode_t mode)
{
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
		return errno == ENOENT ? TD_OK : TD_ERR_IO;
	r = fd_restrict_mode(fd, mode);
	close(fd);
	return r;
}

static int
write_all_path(const char *path, const char *s, int sync)
{
	int fd, r;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return errno_to_td();
	r = td_write_all(fd, s, strlen(s));
	if (r == 0 && sync && fsync(fd) != 0)
		r = errno_to_td();
	if (close(fd) != 0 && r == 0)
		r = errno_to_td();
	return r;
}

int
td_write_all_path(const char *path, const char *s)
{
	return write_all_path(path, s, 1);
}

int
td_write_all_path_nosync(const char *path, const char *s)
{
	return write_all_path(path, s, 0);
}

int
td_copy_file(const char *src, const char *dst)
{
	struct td_afile af;
	char *blk;
	ssize_t n;
	int fd, r = TD_OK;

	if ((fd = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return TD_ERR_IO;
	if ((r = td_afile_open(&af, dst)) != 0) {
		close(fd);
		return r;
	}
	blk = xmalloc(1 << 20);
	for (;;) {
		n = read(fd, blk, 1 << 20);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if ((r = td_afile_write(&af, blk, (size_t)n)) != 0)
			break;
	}
	if (n < 0)
		r = TD_ERR_IO;
	close(fd);
	x_free(blk);
	if (r != 0) {
		td_afile_abort(&af);
		return r;
	}
	return td_afile_commit(&af);
}
