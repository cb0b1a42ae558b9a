/*
 * fsutil.h - durable file operations: every file is written to a
 * temporary name, fsynced, renamed, and its directory fsynced.
 */
#ifndef TD_FSUTIL_H
#define TD_FSUTIL_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

/* The cores this process may run on (its affinity), at least 1. */
long	td_cpus(void);
/* mkdir -p; new directories and their parents are fsynced. */
int	td_mkdirs(const char *path, int mode);
int	td_fsync_dir(const char *dir);
/* fsync the directory holding path. */
int	td_fsync_parent(const char *path);
/* Write all of buf to fd, retrying short writes; TD_ERR_NOSPACE on ENOSPC. */
int	td_write_all(int fd, const void *buf, size_t n);
/* Atomically replace path with data. */
int	td_write_file_atomic(const char *path, const void *data, size_t n);
/* The same, written first under the name tmp (NULL: path.tmp). */
int	td_write_file_via(const char *path, const char *tmp, const void *data,
	    size_t n);
/* Write a NUL-terminated string to path, made durable (fsync). */
int	td_write_all_path(const char *path, const char *s);
/* The same, not flushed: the caller makes it durable (syncfs). */
int	td_write_all_path_nosync(const char *path, const char *s);
/* Copy src to dst durably (temporary name, fsync, rename). */
int	td_copy_file(const char *src, const char *dst);
/*
 * Read a whole (small) file, at most max bytes, NUL-terminated (not
 * counted in len). TD_ERR_NOTFOUND, TD_ERR_IO, or TD_ERR_LIMIT past max.
 */
int	td_read_file(const char *path, size_t max, char **out, size_t *len);
/*
 * Both read only a regular file: anything else (a FIFO, a device, a
 * directory) is TD_ERR_FORMAT, found without blocking. This one also
 * refuses a symbolic link (TD_ERR_IO, errno ELOOP): for untrusted names.
 */
int	td_read_file_nofollow(const char *path, size_t max, char **out,
	    size_t *len);
/* The same for what is left to read of fd. */
int	td_read_fd(int fd, size_t max, char **out, size_t *len);
/*
 * rm -rf path, which must lie strictly below the directory `within`
 * (compared by path component: "/state2" is not below "/state", and no
 * "." or ".." component is accepted); anything else is a broken
 * invariant (td_fatal). A symbolic link is removed, never followed.
 */
int	td_remove_tree(const char *path, const char *within);

/*
 * Open path, creating it with exactly the permissions mode whatever the
 * umask; an existing file loses the bits beyond mode (it never gains
 * any). flags as for open(2), O_CREAT implied. An fd, or -1 with errno.
 */
int	td_open_mode(const char *path, int flags, mode_t mode);
/* The same for an existing file (a missing one is no error). */
int	td_restrict_mode(const char *path, mode_t mode);

/* A file being written under a temporary name. */
struct td_afile {
	int	 fd;
	char	*path;
	char	*tmp;
	uint64_t bytes;
};
int	td_afile_open(struct td_afile *, const char *path);
/* Is name (no directory) a temporary of a write whose PATH.tmp another
 * held (.td-HEX.tmp)? */
int	td_afile_unique_name(const char *name);
int	td_afile_write(struct td_afile *, const void *, size_t);
/* fsync, rename into place, fsync the directory. Closes. */
int	td_afile_commit(struct td_afile *);
/* Remove the temporary file. Safe after commit or on a zeroed struct. */
void	td_afile_abort(struct td_afile *);

#endif
