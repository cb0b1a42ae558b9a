/*
 * store.h - the SQLite state store (state_dir/state.db, WAL mode).
 *
 * The schema is versioned with PRAGMA user_version and migrated forward
 * on open. Every write happens inside store_begin()/store_commit().
 */
#ifndef TD_STORE_H
#define TD_STORE_H

#include <sqlite3.h>
#include <stdint.h>

struct store;

/* Create state_dir if needed, open or create state.db, migrate. */
int	 store_open(const char *state_dir, int readonly, struct store **out,
	    char **err);
void	 store_close(struct store *);
/*
 * PRAGMA quick_check: every page of state.db can be read and every
 * table and index is well formed. TD_ERR_STATE, with *err naming the
 * file, the first problem and where to look, when not.
 */
int	 store_check(struct store *, char **err);
/* 1 once a statement of this process met a damaged page (logged) */
int	 store_corrupt_seen(void);
/* PRAGMA user_version, or TD_ERR_STATE when it cannot be read. */
int	 store_schema_version(struct store *);
int	 store_latest_version(void);
sqlite3	*store_db(struct store *);

int	 store_begin(struct store *);	/* BEGIN IMMEDIATE */
int	 store_commit(struct store *);
/*
 * fn(arg) before every commit of this connection's (sqlite3_commit_hook:
 * an explicit COMMIT or a statement's own): non-zero makes it a rollback.
 * One at a time; fn NULL removes it.
 */
void	 store_precommit(struct store *, int (*fn)(void *), void *arg);
/* End the transaction: commit when r is 0 (then its result), else roll
 * back and return r. */
int	 store_end(struct store *, int r);
void	 store_rollback(struct store *);
/*
 * Checkpoints of the WAL into state.db when the caller says, not in its
 * commits: after store_defer_checkpoints(), a commit returns once the WAL
 * is synced (as durable as before) and store_checkpoint() copies the WAL
 * into state.db if it has grown past SQLite's threshold of an automatic
 * checkpoint (1,000 pages), or a checkpoint before left some of it.  The
 * daemon's intake worker, after each file: the commit of a large file's
 * ledger is told to the loop, and its delivery starts, without waiting
 * for its checkpoint.  Another connection's commit (SQLite's automatic
 * checkpoint) may copy it first, as it would have before.
 */
void	 store_defer_checkpoints(struct store *);
void	 store_checkpoint(struct store *);
/* Run SQL without results; logs and returns TD_ERR_STATE on failure. */
int	 store_exec(struct store *, const char *sql);
/*
 * Prepare, or return the statement already prepared for the same sql
 * pointer, reset and with its bindings cleared. The cache is keyed by the
 * address of sql, not its text: pass a string literal (or a string that
 * lives as long as the store), never a built one. At most 64 statements
 * for the store's lifetime; a statement that does not prepare is fatal.
 */
sqlite3_stmt *store_prepare(struct store *, const char *sql);
/* Step a statement expected to finish (INSERT/UPDATE); resets it. */
int	 store_step_done(struct store *, sqlite3_stmt *);
/*
 * Run a SELECT of one integer: *out is the first column of its first row,
 * or def when there is no row or the value is NULL. Returns 0, or
 * TD_ERR_STATE (TD_ERR_NOSPACE for SQLITE_FULL) when the statement does
 * not prepare or run; that is logged (event=store_error) and *out is def,
 * so the caller must not read def as an answer.
 */
int	 store_query_int(struct store *, const char *sql, int64_t def,
	    int64_t *out);
const char *store_errmsg(struct store *);

#endif
