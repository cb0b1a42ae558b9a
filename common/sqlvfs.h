/*
 * sqlvfs.h - the SQLite VFS state.db is opened with: the system's, with
 * the writes to a WAL file gathered. See sqlvfs.c.
 */
#ifndef TD_SQLVFS_H
#define TD_SQLVFS_H

#include <stdint.h>

/*
 * Register the VFS (once; thread-safe) and return its name for
 * sqlite3_open_v2(), or NULL when it could not be (SQLite's own is used).
 */
const char	*sqlvfs_name(void);

/* What the gathering saved: the writes asked of it, and those made. */
struct sqlvfs_stats {
	uint64_t	 asked;		/* xWrite calls on WAL files */
	uint64_t	 made;		/* pwrite(2)s they became */
	uint64_t	 flushed_commit;	/* flushes at a commit frame */
};
void		 sqlvfs_stats(struct sqlvfs_stats *);

#endif
