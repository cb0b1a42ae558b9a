/*
 * sqlvfs.c - the SQLite VFS state.db is opened with: the system's own
 * ("unix"), every call passed to it, but for the writes to a WAL file,
 * which are gathered into few.
 *
 * SQLite writes a WAL frame as two write calls, its 24-byte header and
 * then its page, each a pwrite(2): a large transaction (a big file's
 * record keys, 2.45 M of them in 169 MB of WAL) made 82,000 of them,
 * and on a virtual machine, where a system call is dear, they were a
 * third of the commit's time. Here the writes that follow each other in
 * the file are kept in a buffer and written as one (SQLVFS_BUF).
 *
 * What SQLite relies on stays true:
 *  - Nothing it synced is lost: a sync (xSync) writes the buffer first.
 *  - What it committed is in the file before any other connection can
 *    know of it: a commit frame (its header's second word, the database
 *    size, not 0) and every write after it up to the next frame that is
 *    not one go to the file at once, before SQLite tells the wal-index,
 *    whatever PRAGMA synchronous says; and the database file's shm
 *    barrier, which SQLite raises before it writes the wal-index header
 *    readers check, writes the buffer too. (The padding frames of
 *    psow=0, which tradedrop never sets, may split a page into pieces;
 *    a 24-byte piece would be taken for a header: the barrier covers
 *    that.)
 *  - It reads what it wrote: a read of bytes all in the buffer is
 *    answered from it; one of some, the file's size, a truncation, a
 *    file control and the close write the buffer first; a write within
 *    the buffered bytes changes them there.
 *  - No other connection writes the WAL while we hold bytes of it: the
 *    buffer is written before the database's WAL write lock (the
 *    wal-index lock at offset 0) is let go, at the end of each write
 *    transaction, committed or rolled back, and before the database
 *    file's lock is lowered (locking_mode EXCLUSIVE takes no WAL write
 *    lock; that one keeps the others out). Bytes of a transaction
 *    rolled back, kept past it, were read back for another writer's
 *    frames at the same offsets and written over them later.
 * A crash loses only writes SQLite never synced nor committed, which it
 * does not count on (a transaction not committed is ignored by
 * recovery). Files other than WAL files are not touched.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "sqlvfs.h"

#define SQLVFS_NAME	"tradedrop"
/*
 * Bytes gathered at most: the system VFS writes at most 128 KiB - 1 in
 * one call (os_unix.c's seekAndWriteFd masks the count with 0x1ffff; a
 * count of 128 KiB or a multiple of it fails as a full disk). 31 frames
 * of 4 KiB pages in one pwrite(2).
 */
#define SQLVFS_BUF	((size_t)0x1ffff)
#define WAL_FRAME_HDR	24			/* SQLite's frame header */

struct wfile {
	sqlite3_file	 base;
	sqlite3_file	*real;		/* the system VFS's, after this */
	int		 wal;		/* a WAL file: writes gathered */
	int		 commit;	/* in a commit frame: written at once */
	struct wfile	*walf;		/* a database's open WAL file, or NULL */
	struct wfile	*dbf;		/* a WAL file's database, or NULL */
	unsigned char	*buf;
	size_t		 len;
	sqlite3_int64	 off;		/* of buf[0] in the file */
};

static sqlite3_vfs	*real_vfs;
static sqlite3_vfs	 vfs;
static const char	*vfs_name;
static pthread_once_t	 vfs_once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t	 st_asked, st_made, st_commit;

#define REAL(f)	(((struct wfile *)(f))->real)
#define RM(f)	(REAL(f)->pMethods)

/* Write what is gathered: SQLITE_OK, or the system VFS's error. */
static int
flush(struct wfile *w)
{
	int rc;

	if (w->len == 0)
		return SQLITE_OK;
	rc = w->real->pMethods->xWrite(w->real, w->buf, (int)w->len, w->off);
	atomic_fetch_add(&st_made, 1);
	w->len = 0;
	return rc;
}

static int
x_close(sqlite3_file *f)
{
	struct wfile *w = (struct wfile *)f;
	int rc, rc2;

	rc = flush(w);
	if (w->dbf != NULL && w->dbf->walf == w)
		w->dbf->walf = NULL;
	if (w->walf != NULL && w->walf->dbf == w)
		w->walf->dbf = NULL;
	w->dbf = w->walf = NULL;
	rc2 = RM(f)->xClose(REAL(f));
	free(w->buf);
	w->buf = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

static int
x_read(sqlite3_file *f, void *p, int amt, sqlite3_int64 off)
{
	struct wfile *w = (struct wfile *)f;
	int rc;

	/*
	 * A page spilled earlier in the transaction, read back: from the
	 * buffer when it is all there, else from the file, the buffer
	 * written first when some of it is there.
	 */
	if (w->len > 0 && off >= w->off && off + amt <= w->off +
	    (sqlite3_int64)w->len) {
		memcpy(p, w->buf + (off - w->off), (size_t)amt);
		return SQLITE_OK;
	}
	if (w->len > 0 && off < w->off + (sqlite3_int64)w->len &&
	    off + amt > w->off && (rc = flush(w)) != SQLITE_OK)
		return rc;
	return RM(f)->xRead(REAL(f), p, amt, off);
}

/* 1 when p, amt bytes, is the header of a commit frame. */
static int
commit_header(const void *p, int amt)
{
	const unsigned char *h = p;

	return amt == WAL_FRAME_HDR && (h[4] | h[5] | h[6] | h[7]) != 0;
}

static int
x_write(sqlite3_file *f, const void *p, int amt, sqlite3_int64 off)
{
	struct wfile *w = (struct wfile *)f;
	size_t n = (size_t)amt;
	int rc;

	if (!w->wal)
		return RM(f)->xWrite(REAL(f), p, amt, off);
	atomic_fetch_add(&st_asked, 1);
	if (amt == WAL_FRAME_HDR)
		w->commit = commit_header(p, amt);
	if (w->buf == NULL && (w->buf = malloc(SQLVFS_BUF)) == NULL) {
		/* no room: each write as the system VFS makes it */
		atomic_fetch_add(&st_made, 1);
		return RM(f)->xWrite(REAL(f), p, amt, off);
	}
	if (w->len > 0 && off >= w->off && off <= w->off + (sqlite3_int64)
	    w->len && (size_t)(off - w->off) + n <= SQLVFS_BUF) {
		/* after or within what is gathered */
		memcpy(w->buf + (off - w->off), p, n);
		if ((size_t)(off - w->off) + n > w->len)
			w->len = (size_t)(off - w->off) + n;
	} else {
		if ((rc = flush(w)) != SQLITE_OK)
			return rc;
		if (w->commit || n > SQLVFS_BUF / 2) {
			if (w->commit)
				atomic_fetch_add(&st_commit, 1);
			atomic_fetch_add(&st_made, 1);
			return RM(f)->xWrite(REAL(f), p, amt, off);
		}
		memcpy(w->buf, p, n);
		w->off = off;
		w->len = n;
	}
	if (!w->commit)
		return SQLITE_OK;
	atomic_fetch_add(&st_commit, 1);
	return flush(w);
}

static int
x_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	int rc;

	if ((rc = flush((struct wfile *)f)) != SQLITE_OK)
		return rc;
	return RM(f)->xTruncate(REAL(f), size);
}

static int
x_sync(sqlite3_file *f, int flags)
{
	int rc;

	if ((rc = flush((struct wfile *)f)) != SQLITE_OK)
		return rc;
	return RM(f)->xSync(REAL(f), flags);
}

static int
x_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	int rc;

	if ((rc = flush((struct wfile *)f)) != SQLITE_OK)
		return rc;
	return RM(f)->xFileSize(REAL(f), size);
}

static int
x_lock(sqlite3_file *f, int lock)
{
	return RM(f)->xLock(REAL(f), lock);
}

static int
x_unlock(sqlite3_file *f, int lock)
{
	struct wfile *w = (struct wfile *)f;

	/*
	 * The database's lock let go: in locking_mode EXCLUSIVE no WAL
	 * write lock is taken (see x_shm_lock), this one keeps the others
	 * out; what the WAL file holds goes to it before they may come in.
	 */
	if (w->walf != NULL)
		(void)flush(w->walf);
	return RM(f)->xUnlock(REAL(f), lock);
}

static int
x_check_reserved(sqlite3_file *f, int *out)
{
	return RM(f)->xCheckReservedLock(REAL(f), out);
}

static int
x_file_control(sqlite3_file *f, int op, void *arg)
{
	int rc;

	if (op == SQLITE_FCNTL_VFSNAME) {
		/* as SQLite's own shims say theirs: ours, then the system's */
		if ((rc = RM(f)->xFileControl(REAL(f), op, arg)) ==
		    SQLITE_OK && *(char **)arg != NULL) {
			char *s = sqlite3_mprintf("%s/%z", SQLVFS_NAME,
			    *(char **)arg);

			*(char **)arg = s;
		}
		return rc;
	}
	if ((rc = flush((struct wfile *)f)) != SQLITE_OK)
		return rc;
	return RM(f)->xFileControl(REAL(f), op, arg);
}

static int
x_sector_size(sqlite3_file *f)
{
	return RM(f)->xSectorSize(REAL(f));
}

static int
x_device(sqlite3_file *f)
{
	return RM(f)->xDeviceCharacteristics(REAL(f));
}

static int
x_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **p)
{
	if (RM(f)->iVersion < 2)
		return SQLITE_IOERR_SHMMAP;
	return RM(f)->xShmMap(REAL(f), pg, pgsz, extend, p);
}

/* wal.c's WAL_WRITE_LOCK: the one writer's, held for a write transaction */
#define WAL_WRITE_LOCK	0

static int
x_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	struct wfile *w = (struct wfile *)f;

	if (RM(f)->iVersion < 2)
		return SQLITE_IOERR_SHMLOCK;
	/*
	 * The write transaction ends (committed, rolled back, or a
	 * checkpoint's): what the WAL file holds of it goes to the file
	 * before another connection may write there. Only bytes past the
	 * last commit can be left (a commit is written at once), which no
	 * one reads: an error writing them is of no account here.
	 */
	if ((flags & SQLITE_SHM_UNLOCK) && offset <= WAL_WRITE_LOCK &&
	    offset + n > WAL_WRITE_LOCK && w->walf != NULL)
		(void)flush(w->walf);
	return RM(f)->xShmLock(REAL(f), offset, n, flags);
}

static void
x_shm_barrier(sqlite3_file *f)
{
	struct wfile *w = (struct wfile *)f;

	/*
	 * SQLite's barrier before it writes the wal-index header that
	 * readers check, at a commit: the commit's frames are in the file
	 * already (a commit frame is written at once); should that ever
	 * have been missed, they are now, before any reader may know of
	 * them. (No error can be returned here; a commit frame's own write
	 * returns its error to SQLite.)
	 */
	if (w->walf != NULL)
		(void)flush(w->walf);
	if (RM(f)->iVersion >= 2)
		RM(f)->xShmBarrier(REAL(f));
}

static int
x_shm_unmap(sqlite3_file *f, int del)
{
	if (RM(f)->iVersion < 2)
		return SQLITE_OK;
	return RM(f)->xShmUnmap(REAL(f), del);
}

static int
x_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
	if (RM(f)->iVersion < 3) {
		*pp = NULL;
		return SQLITE_OK;
	}
	return RM(f)->xFetch(REAL(f), off, amt, pp);
}

static int
x_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	if (RM(f)->iVersion < 3)
		return SQLITE_OK;
	return RM(f)->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods methods = {
	3,
	x_close, x_read, x_write, x_truncate, x_sync, x_file_size,
	x_lock, x_unlock, x_check_reserved, x_file_control, x_sector_size,
	x_device,
	x_shm_map, x_shm_lock, x_shm_barrier, x_shm_unmap,
	x_fetch, x_unfetch
};

static int
v_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags,
    int *out)
{
	struct wfile *w = (struct wfile *)f;
	int rc;

	(void)v;
	memset(w, 0, sizeof(*w));
	w->real = (sqlite3_file *)(w + 1);
	rc = real_vfs->xOpen(real_vfs, name, w->real, flags, out);
	/* SQLite closes a file whose open failed when pMethods is set */
	w->base.pMethods = w->real->pMethods != NULL ? &methods : NULL;
	w->wal = (flags & SQLITE_OPEN_WAL) != 0;
	if (w->wal && w->base.pMethods != NULL && name != NULL) {
		/* the database's file, opened through this VFS before it */
		struct wfile *d = (struct wfile *)
		    sqlite3_database_file_object(name);

		if (d != NULL && d->base.pMethods == &methods) {
			d->walf = w;
			w->dbf = d;
		}
	}
	return rc;
}

static int
v_delete(sqlite3_vfs *v, const char *name, int dirsync)
{
	(void)v;
	return real_vfs->xDelete(real_vfs, name, dirsync);
}

static int
v_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	(void)v;
	return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int
v_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
	(void)v;
	return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static void *
v_dlopen(sqlite3_vfs *v, const char *name)
{
	(void)v;
	return real_vfs->xDlOpen(real_vfs, name);
}

static void
v_dlerror(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	real_vfs->xDlError(real_vfs, n, out);
}

static void (*v_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
	(void)v;
	return real_vfs->xDlSym(real_vfs, h, sym);
}

static void
v_dlclose(sqlite3_vfs *v, void *h)
{
	(void)v;
	real_vfs->xDlClose(real_vfs, h);
}

static int
v_randomness(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return real_vfs->xRandomness(real_vfs, n, out);
}

static int
v_sleep(sqlite3_vfs *v, int us)
{
	(void)v;
	return real_vfs->xSleep(real_vfs, us);
}

static int
v_current_time(sqlite3_vfs *v, double *out)
{
	(void)v;
	return real_vfs->xCurrentTime(real_vfs, out);
}

static int
v_last_error(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return real_vfs->xGetLastError(real_vfs, n, out);
}

static int
v_current_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
	(void)v;
	return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static void
setup(void)
{
	sqlite3_vfs *r;

	/* the system's "unix" (version 2 at least: xCurrentTimeInt64) */
	if ((r = sqlite3_vfs_find(NULL)) == NULL || r->iVersion < 2 ||
	    r->szOsFile < 0)
		return;
	real_vfs = r;
	vfs.iVersion = 2;
	vfs.szOsFile = (int)sizeof(struct wfile) + r->szOsFile;
	vfs.mxPathname = r->mxPathname;
	vfs.zName = SQLVFS_NAME;
	vfs.xOpen = v_open;
	vfs.xDelete = v_delete;
	vfs.xAccess = v_access;
	vfs.xFullPathname = v_full_pathname;
	vfs.xDlOpen = v_dlopen;
	vfs.xDlError = v_dlerror;
	vfs.xDlSym = v_dlsym;
	vfs.xDlClose = v_dlclose;
	vfs.xRandomness = v_randomness;
	vfs.xSleep = v_sleep;
	vfs.xCurrentTime = v_current_time;
	vfs.xGetLastError = v_last_error;
	vfs.xCurrentTimeInt64 = v_current_time64;
	if (sqlite3_vfs_register(&vfs, 0) == SQLITE_OK)
		vfs_name = SQLVFS_NAME;
}

const char *
sqlvfs_name(void)
{
	(void)pthread_once(&vfs_once, setup);
	return vfs_name;
}

void
sqlvfs_stats(struct sqlvfs_stats *s)
{
	s->asked = atomic_load(&st_asked);
	s->made = atomic_load(&st_made);
	s->flushed_commit = atomic_load(&st_commit);
}
