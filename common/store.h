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
int	 store_schema_version(struct store *);
int	 store_latest_version(void);
sqlite3	*store_db(struct store *);

int	 store_begin(struct store *);	/* BEGIN IMMEDIATE */
int	 store_commit(struct store *);
void	 store_rollback(struct store *);
/* Run SQL without results; logs and returns TD_ERR_STATE on failure. */
int	 store_exec(struct store *, const char *sql);
/* Prepare (cached by SQL text for the store's lifetime). */
sqlite3_stmt *store_prepare(struct store *, const char *sql);
/* Step a statement expected to finish (INSERT/UPDATE); resets it. */
int	 store_step_done(struct store *, sqlite3_stmt *);
/* SELECT single integer (or def when no row). */
int64_t	 store_query_int(struct store *, const char *sql, int64_t def);
const char *store_errmsg(struct store *);

#endif
