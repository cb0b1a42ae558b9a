/*
 * test-store.c - state.db: created and migrated from an empty directory,
 * reopened without change, WAL mode, newer schemas refused, a write
 * waiting out another process's lock, checkpoints deferred.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "td.h"
#include "audit.h"
#include "fsutil.h"
#include "log.h"
#include "store.h"

/*
 * store_query_int: an answer, no row and NULL give 0 and the value or the
 * default; a query that fails says so instead of answering the default
 * (outbox backpressure and once's exit status read it).
 */
static void
test_query_int(struct store *st)
{
	int64_t v;

	ok(store_query_int(st, "SELECT 42", -1, &v) == 0 && v == 42,
	    "query_int: a value");
	ok(store_query_int(st, "SELECT 1 WHERE 0", -1, &v) == 0 && v == -1,
	    "query_int: no row gives the default");
	ok(store_query_int(st, "SELECT NULL", -1, &v) == 0 && v == -1,
	    "query_int: NULL gives the default");
	v = 7;
	is_int(store_query_int(st, "SELECT abs(-9223372036854775808)", 0, &v),
	    TD_ERR_STATE, "query_int: a statement that fails as it runs is "
	    "an error, not 0");
	is_int(v, 0, "and *out is the default");
	v = 7;
	is_int(store_query_int(st, "SELECT total(bytes) FROM no_such_table",
	    0, &v), TD_ERR_STATE, "query_int: one that does not prepare is "
	    "an error");
	is_int(v, 0, "and *out is the default");
}

static int
mode_of(const char *dir, const char *name)
{
	struct stat sb;
	char *p = xasprintf("%s/%s", dir, name);
	int r = stat(p, &sb) == 0 ? (int)(sb.st_mode & 07777) : -1;

	x_free(p);
	return r;
}

/*
 * state.db, its -wal and -shm, and audit.log are 0640 whatever the
 * umask, like everything else tradedrop writes; an older, wider file is
 * narrowed.
 */
static void
test_modes(const char *dir)
{
	char *state = xasprintf("%s/modes", dir), *err, *p;
	struct store *st;
	struct audit *a;
	mode_t old;
	int fd;

	old = umask(022);
	if (store_open(state, 0, &st, &err) != 0)
		td_fatal("store_open: %s", err);
	is_int(mode_of(state, "state.db"), 0640, "state.db is 0640 under "
	    "umask 022");
	is_int(mode_of(state, "state.db-wal"), 0640, "so is state.db-wal");
	is_int(mode_of(state, "state.db-shm"), 0640, "so is state.db-shm");
	umask(077);
	p = xasprintf("%s/audit.log", state);
	if (audit_open(&a, p, "acme", st, &err) != 0)
		td_fatal("audit_open: %s", err);
	audit_close(a);
	is_int(mode_of(state, "audit.log"), 0640, "audit.log is 0640 under "
	    "umask 077");
	store_close(st);

	/* files an older version made wider */
	umask(0);
	if (chmod(p, 0666) != 0 || (fd = open(p, O_RDONLY)) < 0)
		td_fatal("chmod");
	close(fd);
	x_free(p);
	p = xasprintf("%s/state.db", state);
	if (chmod(p, 0644) != 0)
		td_fatal("chmod");
	x_free(p);
	if (store_open(state, 0, &st, &err) != 0)
		td_fatal("store_open: %s", err);
	p = xasprintf("%s/audit.log", state);
	if (audit_open(&a, p, "acme", st, &err) != 0)
		td_fatal("audit_open: %s", err);
	audit_close(a);
	x_free(p);
	is_int(mode_of(state, "state.db"), 0640, "a 0644 state.db is "
	    "narrowed to 0640");
	is_int(mode_of(state, "state.db-wal"), 0640, "and its -wal");
	is_int(mode_of(state, "audit.log"), 0640, "a 0666 audit.log is "
	    "narrowed to 0640");
	store_close(st);
	umask(old);
	x_free(state);
}

/*
 * A page damaged under a running process: the statement that meets it
 * fails (not an empty answer), SQLite's report is logged as
 * state_corrupt, and store_corrupt_seen() says so (once exits 4 on it).
 */
static void
test_corrupt(const char *dir)
{
	char *state = xasprintf("%s/corrupt", dir), *db, *err = NULL, junk[4096];
	struct store *st;
	struct stat sb;
	int64_t n = 7;
	off_t pg;
	int fd, i;

	ok(!store_corrupt_seen(), "corrupt: nothing seen before");
	if (store_open(state, 0, &st, &err) != 0) {
		ok(0, "corrupt: open: %s", err);
		x_free(err);
		x_free(state);
		return;
	}
	ok(store_exec(st, "CREATE TABLE big(x)") == 0 && store_begin(st) == 0 &&
	    store_exec(st, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL "
	    "SELECT i + 1 FROM c WHERE i < 3000) INSERT INTO big SELECT "
	    "randomblob(300) FROM c") == 0 && store_commit(st) == 0,
	    "corrupt: a table of about 250 pages");
	store_close(st);
	/* its last pages, the table's leaves, overwritten */
	db = xasprintf("%s/state.db", state);
	memset(junk, 0x5a, sizeof(junk));
	fd = open(db, O_WRONLY);
	ok(fd >= 0 && fstat(fd, &sb) == 0 && sb.st_size > 100 * 4096,
	    "corrupt: state.db checkpointed, %lld bytes", fd >= 0 ?
	    (long long)sb.st_size : -1LL);
	for (i = 2; fd >= 0 && i < 40; i += 3) {
		pg = (sb.st_size / 4096 - i) * 4096;
		if (pwrite(fd, junk, sizeof(junk), pg) != (ssize_t)sizeof(junk))
			break;
	}
	if (fd >= 0)
		close(fd);
	ok(!store_corrupt_seen(), "corrupt: nothing seen before it is read");
	if (store_open(state, 0, &st, &err) != 0) {
		ok(0, "corrupt: reopen: %s", err);
		x_free(err);
	} else {
		is_int(store_query_int(st, "SELECT count(*) FROM big WHERE "
		    "length(x) = 300", 0, &n), TD_ERR_STATE, "corrupt: the "
		    "statement that meets a damaged page fails");
		ok(store_corrupt_seen(), "corrupt: and the damage is seen "
		    "(logged as state_corrupt)");
		store_close(st);
	}
	x_free(db);
	x_free(state);
}

/*
 * SQLITE_BUSY: a write waits while another process holds state.db's
 * write lock (a worker's commit), and goes through once it is let go.
 */
static void
test_busy(const char *dir)
{
	char *state = xasprintf("%s/busy", dir), *err = NULL, c = 0;
	struct store *st, *other;
	struct timespec t0, t1, hold = { 1, 0 };
	double waited;
	int64_t n = 0;
	int p[2], status = 1;
	pid_t pid;

	if (store_open(state, 0, &st, &err) != 0 || pipe(p) != 0) {
		ok(0, "busy: open: %s", err ? err : strerror(errno));
		x_free(err);
		x_free(state);
		return;
	}
	if ((pid = fork()) == 0) {
		close(p[0]);
		if (store_open(state, 0, &other, &err) != 0 ||
		    store_exec(other, "BEGIN IMMEDIATE") != 0 ||
		    store_exec(other, "INSERT INTO meta(key, value) VALUES "
		    "('busy', 'first')") != 0)
			_exit(1);
		(void)!write(p[1], "x", 1);
		nanosleep(&hold, NULL);
		_exit(store_exec(other, "COMMIT") == 0 ? 0 : 1);
	}
	close(p[1]);
	(void)!read(p[0], &c, 1);
	close(p[0]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok(c == 'x' && store_exec(st, "INSERT OR REPLACE INTO meta(key, "
	    "value) VALUES ('busy', 'second')") == 0, "busy: a write while "
	    "another process holds the write lock goes through");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	waited = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* (the lock is held 1 s: a parent that came late waited less) */
	ok(waited > 0.05, "busy: after the lock is let go (waited %.3f s)",
	    waited);
	ok(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "busy: the other process committed");
	ok(store_query_int(st, "SELECT count(*) FROM meta WHERE key = 'busy' "
	    "AND value = 'second'", 0, &n) == 0 && n == 1, "busy: the "
	    "second write is the one kept");
	store_close(st);
	x_free(state);
}

/* the size of DIR/state.db, -1 when it cannot be had */
static off_t
db_size(const char *state)
{
	char *p = xasprintf("%s/state.db", state);
	struct stat sb;
	off_t r = stat(p, &sb) == 0 ? sb.st_size : -1;

	x_free(p);
	return r;
}

/* a commit of 2,500 rows of a page each (pgsz: state.db's page size) */
static int
big_commit(struct store *st, const char *table, int64_t pgsz)
{
	char *sql = xasprintf("CREATE TABLE %s (v BLOB); WITH RECURSIVE "
	    "n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500) "
	    "INSERT INTO %s SELECT randomblob(%lld) FROM n", table, table,
	    (long long)pgsz - 100);
	int r;

	r = store_begin(st) != 0 || store_exec(st, sql) != 0 ||
	    store_commit(st) != 0 ? -1 : 0;
	x_free(sql);
	return r;
}

/* state opened for a checkpoint test, and its page size; NULL: said */
static struct store *
ckpt_open(const char *state, const char *what, int64_t *pgsz)
{
	struct store *st;
	char *err = NULL;

	if (store_open(state, 0, &st, &err) != 0) {
		ok(0, "%s: open: %s", what, err != NULL ? err : "?");
		x_free(err);
		return NULL;
	}
	if (store_query_int(st, "PRAGMA page_size", 0, pgsz) != 0 ||
	    *pgsz < 512)
		*pgsz = 4096;
	return st;
}

/*
 * A deferred checkpoint that fails for want of room (a file size limit
 * here, a full disk in the field) is said, once a minute, and the next
 * call after the cause is gone copies the WAL all the same.
 */
static void
test_checkpoint_failed(const char *dir)
{
	char *state = xasprintf("%s/ckptfail", dir), *err = NULL, *text = NULL;
	char *path = xasprintf("%s/ckptfail.log", dir);	/* its stderr */
	struct store *st;
	struct rlimit old, lim;
	off_t before, after;
	int64_t pgsz = 0, rows = 0;
	size_t len = 0;
	int fd, saved, r, n = 0;
	const char *p;

	if ((st = ckpt_open(state, "checkpoint_failed", &pgsz)) == NULL) {
		x_free(state);
		x_free(path);
		return;
	}
	store_defer_checkpoints(st);
	before = db_size(state);
	r = big_commit(st, "a", pgsz);
	ok(r == 0 && db_size(state) == before, "checkpoint_failed: 2,500 "
	    "pages in the WAL, none in state.db (%lld bytes)",
	    (long long)before);
	/* state.db may not grow past what it is (nor the log's file) */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) < 0 || (saved = dup(STDERR_FILENO)) < 0 ||
	    getrlimit(RLIMIT_FSIZE, &old) != 0)
		td_fatal("open %s", path);
	lim = old;
	lim.rlim_cur = (rlim_t)before + 65536;
	(void)signal(SIGXFSZ, SIG_IGN);
	dup2(fd, STDERR_FILENO);
	if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
		td_fatal("setrlimit");
	store_checkpoint(st);
	store_checkpoint(st);		/* again within the minute */
	(void)setrlimit(RLIMIT_FSIZE, &old);
	(void)signal(SIGXFSZ, SIG_DFL);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	if (td_read_file(path, 1 << 20, &text, &len) != 0)
		td_fatal("read %s", path);
	unlink(path);
	for (p = text; (p = strstr(p, "event=checkpoint_failed")) != NULL;
	    p++)
		n++;
	ok(n == 1 && strstr(text, " level=warn event=checkpoint_failed "
	    "db=") != NULL && strstr(text, " wal_pages=") != NULL &&
	    strstr(text, "ckptfail") != NULL, "a checkpoint that fails is "
	    "said once, with state.db and the WAL's pages: %.*s", (int)len - 1,
	    text);
	ok(db_size(state) <= before + 65536, "state.db no larger than "
	    "allowed (%lld bytes)", (long long)db_size(state));
	store_checkpoint(st);
	after = db_size(state);
	ok(after >= before + (off_t)2000 * pgsz, "the next call, with room, "
	    "copies the WAL (%lld -> %lld bytes)", (long long)before,
	    (long long)after);
	store_close(st);
	ok(store_open(state, 0, &st, &err) == 0 && store_query_int(st,
	    "SELECT count(*) FROM a", 0, &rows) == 0 && rows == 2500,
	    "every row there after reopening");
	store_close(st);
	x_free(text);
	x_free(err);
	x_free(state);
	x_free(path);
}

/*
 * store_defer_checkpoints: a commit leaves its pages in the WAL (state.db
 * does not grow), store_checkpoint() copies them once past 1,000 pages
 * and not before; without it, the commit copies them itself (SQLite's
 * automatic checkpoint).  The daemon's intake worker relies on both: the
 * loop is told of a file before its checkpoint, and the WAL stays bounded.
 */
static void
test_checkpoint(const char *dir)
{
	char *state = xasprintf("%s/ckpt", dir), *err = NULL;
	struct store *st, *rd = NULL;
	off_t before, after, big;
	int64_t rows = 0, pgsz = 0;
	int r;

	/* 2,500 pages whatever their size: 2,000 of them are "big" */
	if ((st = ckpt_open(state, "checkpoint", &pgsz)) == NULL) {
		x_free(state);
		return;
	}
	big = (off_t)2000 * pgsz;
	before = db_size(state);
	r = big_commit(st, "a", pgsz);
	after = db_size(state);
	ok(r == 0 && after >= before + big, "checkpoint: by default a "
	    "large commit is copied into state.db by the commit (%lld -> %lld "
	    "bytes)", (long long)before, (long long)after);
	store_defer_checkpoints(st);
	/* a reader whose snapshot is from before the next commit */
	ok(store_open(state, 0, &rd, &err) == 0 && store_exec(rd, "BEGIN") ==
	    0 && store_query_int(rd, "SELECT count(*) FROM a", 0, &rows) == 0 &&
	    rows == 2500, "a reader's transaction open");
	before = after;
	r = big_commit(st, "b", pgsz);
	after = db_size(state);
	ok(r == 0 && after == before, "checkpoint deferred: the commit leaves "
	    "state.db as it was (%lld -> %lld bytes)", (long long)before,
	    (long long)after);
	store_checkpoint(st);
	after = db_size(state);
	ok(after == before, "store_checkpoint: the reader's snapshot holds "
	    "the copy back (%lld bytes)", (long long)after);
	ok(rd != NULL && store_exec(rd, "COMMIT") == 0, "the reader done");
	store_close(rd);
	store_checkpoint(st);		/* no commit since */
	after = db_size(state);
	ok(after >= before + big, "the next store_checkpoint copies the WAL "
	    "past 1,000 pages, without a commit in between (%lld -> %lld "
	    "bytes)", (long long)before, (long long)after);
	/* a new table: pages past the end of state.db, were they copied */
	ok(store_exec(st, "CREATE TABLE d (v); INSERT INTO d VALUES (2)") == 0 &&
	    (store_checkpoint(st), db_size(state) == after),
	    "and not a WAL of a page or two");
	store_close(st);
	ok(store_open(state, 0, &st, &err) == 0 && store_query_int(st,
	    "SELECT (SELECT count(*) FROM a) + (SELECT count(*) FROM b) + "
	    "(SELECT count(*) FROM d)", 0, &rows) == 0 && rows == 5001,
	    "every row there after reopening");
	x_free(err);
	store_close(st);
	x_free(state);
}

int
main(void)
{
	char dir[] = "/tmp/td-test-store.XXXXXX", *state, *err, *cmd;
	struct store *st;
	sqlite3_stmt *s;
	struct stat sb;
	int64_t n;

	if (mkdtemp(dir) == NULL)
		td_fatal("mkdtemp");
	state = xasprintf("%s/a/b/state", dir);

	ok(store_open(state, 0, &st, &err) == 0, "open creates state_dir "
	    "and state.db");
	if (st == NULL) {
		diag("%s", err);
		return done_testing();
	}
	ok(stat(state, &sb) == 0 && S_ISDIR(sb.st_mode), "state_dir exists");
	is_int(store_schema_version(st), store_latest_version(),
	    "migrated to the latest schema");
	ok(store_latest_version() >= 1, "at least one migration");
	ok(store_query_int(st, "SELECT count(*) FROM sqlite_master WHERE "
	    "type = 'table' AND name IN ('transmissions', 'batches', "
	    "'remote_files', 'record_keys', 'holds', 'audit_head', "
	    "'duplicate_drops', 'meta')", 0, &n) == 0 && n == 8,
	    "all tables exist");
	test_query_int(st);
	s = store_prepare(st, "PRAGMA journal_mode");
	ok(sqlite3_step(s) == SQLITE_ROW &&
	    strcmp((const char *)sqlite3_column_text(s, 0), "wal") == 0,
	    "WAL mode");
	sqlite3_reset(s);

	/* a committed row survives close and reopen */
	ok(store_begin(st) == 0, "begin");
	ok(store_exec(st, "INSERT INTO meta(key, value) VALUES ('k', 'v')")
	    == 0, "insert");
	ok(store_commit(st) == 0, "commit");
	/* a rolled-back one does not */
	ok(store_begin(st) == 0, "begin again");
	store_exec(st, "INSERT INTO meta(key, value) VALUES ('k2', 'v')");
	store_rollback(st);
	store_close(st);

	ok(store_open(state, 0, &st, &err) == 0, "reopen");
	is_int(store_schema_version(st), store_latest_version(),
	    "version unchanged on reopen");
	ok(store_query_int(st, "SELECT count(*) FROM meta WHERE key = "
	    "'k'", 0, &n) == 0 && n == 1, "committed row kept");
	ok(store_query_int(st, "SELECT count(*) FROM meta WHERE key = "
	    "'k2'", 0, &n) == 0 && n == 0, "rolled back row absent");
	ok(store_exec(st, "INSERT INTO transmissions(id, name, size, "
	    "received_at, archive_dir, state, updated_at) VALUES ('x', 'n', "
	    "1, 0, 'a', 'received', 0)") == 0, "transmissions insert");
	ok(store_exec(st, "INSERT INTO transmissions(id, name, size, "
	    "received_at, archive_dir, state, updated_at) VALUES ('x', 'n', "
	    "1, 0, 'a', 'received', 0)") != 0,
	    "transmission id is unique");

	/* a database from a newer tradedrop is refused, not touched */
	cmd = xasprintf("PRAGMA user_version = %d", store_latest_version()
	    + 1);
	store_exec(st, cmd);
	x_free(cmd);
	store_close(st);
	ok(store_open(state, 0, &st, &err) != 0 && err != NULL &&
	    strstr(err, "newer") != NULL, "newer schema refused");
	if (err != NULL)
		diag("%s", err);
	x_free(err);
	/* ... and so by a read-only command, which says so too (it told
	 * the operator to run once to migrate) */
	ok(store_open(state, 1, &st, &err) != 0 && err != NULL &&
	    strstr(err, "newer than this tradedrop") != NULL,
	    "read-only: a newer schema is said to be newer");
	x_free(err);
	/* an older one: a read-only command (status after an upgrade, the
	 * old daemon still running and holding the lock) says to restart
	 * the daemon, which migrates it, rather than to run once, which
	 * the lock would refuse */
	{
		sqlite3 *db;
		char *path = xasprintf("%s/state.db", state);

		cmd = xasprintf("PRAGMA user_version = %d",
		    store_latest_version() - 1);
		ok(sqlite3_open(path, &db) == SQLITE_OK && sqlite3_exec(db,
		    cmd, NULL, NULL, NULL) == SQLITE_OK, "(made older)");
		sqlite3_close(db);
		x_free(cmd);
		x_free(path);
	}
	ok(store_open(state, 1, &st, &err) != 0 && err != NULL &&
	    strstr(err, "restart the daemon") != NULL &&
	    strstr(err, "when no daemon runs") != NULL,
	    "read-only: an older schema says to restart the daemon");
	if (err != NULL)
		diag("%s", err);
	x_free(err);

	/* read-only open of a missing db fails cleanly */
	x_free(state);
	state = xasprintf("%s/none", dir);
	ok(store_open(state, 1, &st, &err) != 0, "read-only open of a "
	    "missing db fails");
	x_free(err);

	test_modes(dir);
	test_corrupt(dir);
	test_busy(dir);
	test_checkpoint(dir);
	test_checkpoint_failed(dir);

	cmd = xasprintf("rm -rf '%s'", dir);
	(void)!system(cmd);
	x_free(cmd);
	x_free(state);
	return done_testing();
}
