/*
 * test-sqlvfs.c - state.db's VFS (common/sqlvfs.c): the writes to the WAL
 * are gathered into few, and what SQLite counts on stays true. Each
 * check reads state.db through a second connection opened with SQLite's
 * own VFS, as another process (or the sqlite3 shell) would: it sees
 * every committed row at once, even without a sync at the commit; a
 * transaction rolled back or cut off by an exit leaves nothing; and the
 * file is sound (integrity_check).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tap.h"
#include "testutil.h"
#include "td.h"
#include "store.h"
#include "sqlvfs.h"

#define ROWS	200000		/* the large transaction's */

/*
 * Insert n rows of pseudo-random keys from seed into t, in key order
 * after every key there when sorted (as the ledger enters a file's
 * keys), else anywhere: 0 or -1.
 */
static int
fill_keys(sqlite3 *db, uint64_t seed, int n, int sorted)
{
	sqlite3_stmt *s;
	uint64_t k[2], v[4];
	int i, r = 0;

	if (sqlite3_prepare_v2(db, "INSERT INTO t(k, v) VALUES (?, ?)", -1,
	    &s, NULL) != SQLITE_OK)
		return -1;
	for (i = 0; i < n && r == 0; i++) {
		k[0] = tu_rnd(&seed);
		k[1] = tu_rnd(&seed);
		if (sorted)	/* 0xff, then i big-endian */
			k[0] = 0xffULL | (uint64_t)__builtin_bswap32(
			    (uint32_t)i) << 8;
		v[0] = v[1] = v[2] = v[3] = k[0] ^ k[1];
		sqlite3_bind_blob(s, 1, k, sizeof(k), SQLITE_STATIC);
		sqlite3_bind_blob(s, 2, v, sizeof(v), SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			r = -1;
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	return r;
}

static int
fill(sqlite3 *db, uint64_t seed, int n)
{
	return fill_keys(db, seed, n, 0);
}

static int64_t
count(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s;
	int64_t n = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -2;
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

/* "ok" when the other connection finds the file sound. */
static int
sound(sqlite3 *db)
{
	sqlite3_stmt *s;
	int r = 0;

	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL) !=
	    SQLITE_OK)
		return 0;
	r = sqlite3_step(s) == SQLITE_ROW &&
	    strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0;
	sqlite3_finalize(s);
	return r;
}

/* 4000 rows of 600 bytes into u, by fn (randomblob, zeroblob) */
#define SPILL_U(fn)	"WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL " \
    "SELECT i + 1 FROM c WHERE i < 4000) INSERT INTO u(v) SELECT " fn \
    "(600) FROM c"

/* 2000 rows of 600 bytes into t, by fn */
#define SPILL_X(fn)	"WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL " \
    "SELECT i + 1 FROM c WHERE i < 2000) INSERT INTO t(v) SELECT " fn \
    "(600) FROM c"

/* The rows of t whose value is not what fill() gave their key. */
static const char *BAD =
    "SELECT count(*) FROM t WHERE length(k) != 16 OR length(v) != 32";

int
main(void)
{
	char dir[] = "/tmp/td-test-sqlvfs.XXXXXX", *state, *path, *err = NULL;
	struct sqlvfs_stats a, b;
	struct store *st;
	struct stat sb;
	sqlite3 *db, *other = NULL, *third = NULL, *xa = NULL, *xb = NULL;
	char *xpath;
	char *vname = NULL;
	int status;
	pid_t pid;

	if (mkdtemp(dir) == NULL)
		td_fatal("mkdtemp");
	state = xasprintf("%s/state", dir);
	path = xasprintf("%s/state.db", state);
	if (store_open(state, 0, &st, &err) != 0) {
		ok(0, "open: %s", err);
		return done_testing();
	}
	db = store_db(st);
	ok(sqlvfs_name() != NULL, "the VFS is registered");
	(void)sqlite3_file_control(db, "main", SQLITE_FCNTL_VFSNAME, &vname);
	ok(vname != NULL && strncmp(vname, "tradedrop/", 10) == 0,
	    "state.db is opened through it (%s)", vname ? vname : "none");
	sqlite3_free(vname);
	ok(sqlite3_open_v2(path, &other, SQLITE_OPEN_READWRITE, NULL) ==
	    SQLITE_OK, "a second connection, with SQLite's own VFS");

	/*
	 * A large transaction through a small page cache: pages spill into
	 * the WAL before the commit and are written there again, SQLite
	 * reads them back, and at the commit rewrites the checksums of the
	 * frames after the first one written again.
	 */
	ok(store_exec(st, "CREATE TABLE t (k BLOB PRIMARY KEY, v BLOB) "
	    "WITHOUT ROWID; PRAGMA cache_size = 64") == 0, "a table");
	sqlvfs_stats(&a);
	ok(store_begin(st) == 0 && fill_keys(db, 7, ROWS, 1) == 0 &&
	    store_commit(st) == 0, "%d rows in key order in one transaction",
	    ROWS);
	sqlvfs_stats(&b);
	ok(b.asked - a.asked > 2000 && (b.made - a.made) * 4 <
	    b.asked - a.asked, "its WAL writes were gathered: %llu asked, "
	    "%llu made", (unsigned long long)(b.asked - a.asked),
	    (unsigned long long)(b.made - a.made));
	is_int(count(other, "SELECT count(*) FROM t"), ROWS,
	    "the other connection reads every row");
	ok(store_begin(st) == 0 && fill(db, 1, ROWS) == 0 &&
	    store_commit(st) == 0, "%d rows more, in no order", ROWS);
	sqlvfs_stats(&a);
	diag("in no order: %llu WAL writes asked, %llu made",
	    (unsigned long long)(a.asked - b.asked),
	    (unsigned long long)(a.made - b.made));
	b = a;
	is_int(count(other, "SELECT count(*) FROM t"), 2 * ROWS,
	    "the other connection reads every row");
	is_int(count(other, BAD), 0, "each as written");
	ok(sound(other), "integrity_check: ok");

	/*
	 * Committed, not synced, no checkpoint after: in the file before
	 * anyone can know of it.
	 */
	ok(store_exec(st, "PRAGMA synchronous = OFF; "
	    "PRAGMA wal_autocheckpoint = 0") == 0 &&
	    store_begin(st) == 0 && fill(db, 2, 3000) == 0 &&
	    store_commit(st) == 0, "3000 rows committed without a sync");
	ok(store_exec(st, "INSERT INTO t(k, v) VALUES (x'00', x'00')") == 0,
	    "and one row alone");
	is_int(count(other, "SELECT count(*) FROM t WHERE k = x'00'"), 1,
	    "the other connection reads it at once");
	ok(store_exec(st, "DELETE FROM t WHERE k = x'00'") == 0 &&
	    count(other, "SELECT count(*) FROM t WHERE k = x'00'") == 0,
	    "and that it is gone");
	sqlvfs_stats(&a);
	ok(a.flushed_commit > b.flushed_commit, "written at their commit "
	    "frame");
	is_int(count(other, "SELECT count(*) FROM t"), 2 * ROWS + 3000,
	    "the other connection reads them at once");
	ok(sound(other), "integrity_check: ok");
	ok(store_exec(st, "PRAGMA synchronous = FULL; "
	    "PRAGMA wal_autocheckpoint = 1000") == 0, "sync again");

	/* rolled back after spilling: nothing of it, and the next is whole */
	ok(store_begin(st) == 0 && fill(db, 3, 50000) == 0, "a large "
	    "transaction spilled into the WAL");
	store_rollback(st);
	ok(store_begin(st) == 0 && fill(db, 4, 10) == 0 &&
	    store_commit(st) == 0, "rolled back; 10 rows committed after");
	is_int(count(other, "SELECT count(*) FROM t"), 2 * ROWS + 3010,
	    "the other connection reads those 10 and none rolled back");
	is_int(count(other, BAD), 0, "each as written");
	ok(sound(other), "integrity_check: ok");

	/*
	 * Rolled back after spilling, then another connection's commit of
	 * as many frames, at the same offsets of the WAL: this connection
	 * reads the other's pages, not its own rolled back ones, and writes
	 * nothing of those over them later (its checkpoint syncs the WAL).
	 */
	ok(store_exec(st, "PRAGMA wal_autocheckpoint = 0; "
	    "CREATE TABLE u (id INTEGER PRIMARY KEY, v BLOB)") == 0 &&
	    sqlite3_exec(other, "PRAGMA wal_autocheckpoint = 0", NULL, NULL,
	    NULL) == SQLITE_OK, "a second table, no checkpoint at commits");
	ok(store_begin(st) == 0 && store_exec(st, SPILL_U("randomblob")) ==
	    0, "a transaction spilled into the WAL");
	store_rollback(st);
	ok(sqlite3_exec(other, "BEGIN; " SPILL_U("zeroblob") "; COMMIT",
	    NULL, NULL, NULL) == SQLITE_OK, "rolled back; the other "
	    "connection commits as many pages");
	is_int(count(db, "SELECT count(*) FROM u WHERE v = zeroblob(600)"),
	    4000, "this connection reads the other's rows");
	ok(sound(db), "integrity_check through the VFS: ok");
	ok(store_exec(st, "PRAGMA wal_checkpoint(PASSIVE)") == 0,
	    "a checkpoint (the WAL synced)");
	ok(sqlite3_open_v2(path, &third, SQLITE_OPEN_READONLY, NULL) ==
	    SQLITE_OK && count(third, "SELECT count(*) FROM u WHERE v = "
	    "zeroblob(600)") == 4000 && sound(third), "a new connection "
	    "reads them, integrity_check: ok");
	sqlite3_close(third);

	/*
	 * The same in locking_mode EXCLUSIVE, which takes no WAL write lock
	 * (the database's own lock keeps the others out): a database of its
	 * own, t of 2000 rows through a cache of 10 pages.
	 */
	xpath = xasprintf("%s/x.db", dir);
	ok(sqlite3_open_v2(xpath, &xa, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, sqlvfs_name()) == SQLITE_OK &&
	    sqlite3_exec(xa, "PRAGMA journal_mode = WAL; "
	    "PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = 10; "
	    "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB); "
	    "PRAGMA locking_mode = EXCLUSIVE; BEGIN; " SPILL_X("randomblob")
	    "; ROLLBACK; PRAGMA locking_mode = NORMAL; "
	    "SELECT count(*) FROM t", NULL, NULL, NULL) == SQLITE_OK,
	    "in locking_mode EXCLUSIVE, a transaction spilled, rolled back; "
	    "NORMAL again");
	ok(sqlite3_open_v2(xpath, &xb, SQLITE_OPEN_READWRITE, NULL) ==
	    SQLITE_OK && sqlite3_exec(xb, "PRAGMA wal_autocheckpoint = 0; "
	    "BEGIN; " SPILL_X("zeroblob") "; COMMIT", NULL, NULL, NULL) ==
	    SQLITE_OK, "another connection commits as many pages");
	is_int(count(xa, "SELECT count(*) FROM t WHERE v = zeroblob(600)"),
	    2000, "the first reads the other's rows");
	ok(sound(xa), "integrity_check through the VFS: ok");
	sqlite3_close(xa);
	sqlite3_close(xb);
	ok(sqlite3_open_v2(xpath, &xb, SQLITE_OPEN_READONLY, NULL) ==
	    SQLITE_OK && count(xb, "SELECT count(*) FROM t WHERE v = "
	    "zeroblob(600)") == 2000 && sound(xb), "closed, a new connection "
	    "reads them, integrity_check: ok");
	sqlite3_close(xb);
	x_free(xpath);
	ok(store_exec(st, "DROP TABLE u; PRAGMA wal_autocheckpoint = 1000") ==
	    0, "the table dropped");

	/* a process that ends in a transaction: as if it never began */
	fflush(stdout);
	if ((pid = fork()) == 0) {
		struct store *c;

		if (store_open(state, 0, &c, &err) != 0 ||
		    store_exec(c, "PRAGMA cache_size = 64") != 0 ||
		    store_begin(c) != 0 || fill(store_db(c), 5, 50000) != 0)
			_exit(1);
		_exit(0);	/* no commit, no close */
	}
	ok(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "a process wrote 50000 rows and "
	    "exited before its commit");
	is_int(count(other, "SELECT count(*) FROM t"), 2 * ROWS + 3010,
	    "none of them is read");
	ok(sound(other), "integrity_check: ok");
	ok(store_begin(st) == 0 && fill(db, 6, 20000) == 0 &&
	    store_commit(st) == 0, "20000 rows committed after it");
	is_int(count(other, "SELECT count(*) FROM t"), 2 * ROWS + 23010,
	    "the other connection reads them");

	/* a checkpoint moves all of it into state.db */
	ok(store_exec(st, "PRAGMA wal_checkpoint(TRUNCATE)") == 0,
	    "checkpoint");
	ok(stat(path, &sb) == 0 && sb.st_size > (off_t)ROWS * 48,
	    "state.db holds the rows");
	sqlite3_close(other);
	store_close(st);
	ok(sqlite3_open_v2(path, &other, SQLITE_OPEN_READONLY, NULL) ==
	    SQLITE_OK, "reopened with SQLite's own VFS");
	is_int(count(other, "SELECT count(*) FROM t"), 2 * ROWS + 23010,
	    "every committed row is there");
	is_int(count(other, BAD), 0, "each as written");
	ok(sound(other), "integrity_check: ok");
	sqlite3_close(other);

	x_free(path);
	x_free(state);
	path = xasprintf("rm -rf '%s'", dir);
	(void)!system(path);
	x_free(path);
	return done_testing();
}
