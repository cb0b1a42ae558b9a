/*
 * store.c - SQLite state: open, WAL, busy handler, forward migrations.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "td.h"
#include "clock.h"
#include "log.h"
#include "store.h"
#include "fsutil.h"
#include "sqlvfs.h"

#define STORE_MAX_STMTS	64
#define STORE_STMTJRNL	(120 << 10)	/* bytes: a statement journal in memory */
/* what to do about a corrupt state.db */
#define STORE_RECOVERY	"nothing was changed; stop every tradedrop of this " \
	"integration, keep a copy of it and recover it as tradedrop(8), " \
	"RECOVERY says"

/*
 * Damage met while running: every statement that meets a corrupt page
 * fails, but a read loop that stops at the first non-row would take it
 * for the end of the rows. SQLite reports each such error to its log
 * callback, whoever ran the statement: it is logged there, loudly, and
 * remembered (store_corrupt_seen) so that once exits 4.
 */
static atomic_int	 corrupt_seen;
static pthread_once_t	 log_once = PTHREAD_ONCE_INIT;

static _Atomic int64_t	 corrupt_logged;	/* td_mono_ms; 0: never */
static atomic_uint	 corrupt_quiet;		/* reports not logged since */

#define CORRUPT_EVERY	60000	/* ms: a daemon meeting it again and again */

static void
sqlite_log(void *arg, int code, const char *msg)
{
	int64_t now = td_mono_ms(), last;

	(void)arg;
	if ((code & 0xff) != SQLITE_CORRUPT && (code & 0xff) != SQLITE_NOTADB)
		return;
	atomic_store(&corrupt_seen, 1);
	last = atomic_load(&corrupt_logged);
	if (last != 0 && now - last < CORRUPT_EVERY) {
		atomic_fetch_add(&corrupt_quiet, 1);
		return;
	}
	atomic_store(&corrupt_logged, now);
	td_log(TD_LOG_ERROR, "state_corrupt", "code=%d error=%s "
	    "not_logged=%u message=%s", code, msg,
	    atomic_exchange(&corrupt_quiet, 0), "state.db is damaged: stop "
	    "every tradedrop of this integration, keep a copy of it and "
	    "recover it as tradedrop(8), RECOVERY says");
}

static void
log_setup(void)
{
	int r;

	/*
	 * Each connection is used by one thread (the outbox's threads and
	 * the metrics endpoint never touch one): no mutex on every call,
	 * and no global counting of SQLite's memory behind one either.
	 */
	(void)sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	/*
	 * A statement's journal in memory up to STORE_STMTJRNL: at SQLite's
	 * 64 KiB, once one statement of a transaction passed it, every
	 * statement after wrote its journal to a temporary file (the ledger's
	 * commit of a large file: 174,000 pwrite(2)s for 2.45 M keys). SQLite
	 * allocates that much at once for a journal (its chunk): kept under
	 * malloc's mmap threshold (128 KiB), the chunk is reused from the
	 * heap; 4 MiB chunks, mapped and unmapped, raised the peak RSS of a
	 * 10 MB file from 46 to 69 MiB.
	 */
	(void)sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, STORE_STMTJRNL);
	/* before SQLite is initialised; later, SQLITE_MISUSE and no hook */
	if ((r = sqlite3_config(SQLITE_CONFIG_LOG, sqlite_log, NULL)) !=
	    SQLITE_OK)
		td_log(TD_LOG_WARN, "store_log_unset", "error=%s message=%s",
		    sqlite3_errstr(r), "damage to state.db met while running "
		    "is reported only as a failed statement");
}

int
store_corrupt_seen(void)
{
	return atomic_load(&corrupt_seen);
}

struct store {
	sqlite3		*db;
	char		*path;
	struct {
		const char	*sql;
		sqlite3_stmt	*st;
	} stmts[STORE_MAX_STMTS];
	int		 nstmts;
	int		 intx;
	int		 wal_pages;	/* store_defer_checkpoints(): as left */
	int64_t		 ckpt_said;	/* checkpoint_failed logged then */
};

/*
 * Migrations: migrations[i] takes the schema from version i to i + 1.
 * Never edit a released step; append a new one.
 */
static const char *migrations[] = {
	/* 0 -> 1: the initial schema */
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL);"
	/* one row per distinct transmission (raw file content) */
	"CREATE TABLE transmissions ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id TEXT NOT NULL UNIQUE,"		/* SHA-256 of the raw bytes */
	"  name TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  received_at INTEGER NOT NULL,"
	"  source TEXT NOT NULL DEFAULT 'landing',"
	"  archive_dir TEXT NOT NULL,"		/* relative to state_dir */
	"  state TEXT NOT NULL,"		/* received parsed delivered quarantined */
	"  mapping_version TEXT,"
	"  format TEXT,"
	"  records_in INTEGER NOT NULL DEFAULT 0,"
	"  delivered INTEGER NOT NULL DEFAULT 0,"
	"  dlq INTEGER NOT NULL DEFAULT 0,"
	"  held INTEGER NOT NULL DEFAULT 0,"
	"  duplicate INTEGER NOT NULL DEFAULT 0,"
	"  batches INTEGER NOT NULL DEFAULT 0,"
	"  quantity_total TEXT,"
	"  amount_total TEXT,"
	"  reason_tier INTEGER,"
	"  reason_code TEXT,"
	"  reason_message TEXT,"
	"  claim TEXT,"				/* work/ entry it came from */
	"  reported INTEGER NOT NULL DEFAULT 0,"	/* outcome in an exit status */
	"  verification TEXT,"			/* JSON: checksum, signature */
	"  verify_code TEXT,"			/* Tier 2 code when refused */
	"  verify_message TEXT,"
	"  rejections_sent INTEGER NOT NULL DEFAULT 0,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE INDEX transmissions_state ON transmissions(state, seq);"
	/* every drop whose content was already received */
	"CREATE TABLE duplicate_drops ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  claim TEXT NOT NULL UNIQUE,"
	"  transmission_id TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  received_at INTEGER NOT NULL);"
	/* batches of canonical records, in the outbox until acknowledged */
	"CREATE TABLE batches ("
	"  transmission_id TEXT NOT NULL,"
	"  seq INTEGER NOT NULL,"
	"  records INTEGER NOT NULL,"
	"  bytes INTEGER NOT NULL,"
	"  sha256 TEXT NOT NULL,"
	"  idempotency_key TEXT NOT NULL,"
	"  quantity_total TEXT NOT NULL DEFAULT '0',"
	"  amount_total TEXT,"			/* NULL: no amounts */
	"  reject_info TEXT,"			/* dlq line of a refused batch */
	"  state TEXT NOT NULL,"		/* pending acked rejected */
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL,"
	"  acked_at INTEGER,"
	"  PRIMARY KEY (transmission_id, seq));"
	"CREATE INDEX batches_state ON batches(state);"
	/* SFTP listings: what was seen and fetched */
	"CREATE TABLE remote_files ("
	"  source TEXT NOT NULL,"
	"  path TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  mtime INTEGER NOT NULL,"
	"  state TEXT NOT NULL,"		/* seen fetched */
	"  first_seen INTEGER NOT NULL,"
	"  fetched_at INTEGER,"
	"  PRIMARY KEY (source, path, size, mtime));"
	/* natural keys already delivered (Tier 4) */
	"CREATE TABLE record_keys ("
	"  record_key TEXT PRIMARY KEY,"
	"  values_hash TEXT NOT NULL,"
	"  transmission_id TEXT NOT NULL,"
	"  record_id TEXT NOT NULL,"
	"  delivered_at INTEGER NOT NULL);"
	/* Tier 4 held records */
	"CREATE TABLE holds ("
	"  record_id TEXT PRIMARY KEY,"
	"  transmission_id TEXT NOT NULL,"
	"  record_key TEXT NOT NULL,"
	"  reason TEXT NOT NULL,"
	"  record TEXT NOT NULL,"
	"  state TEXT NOT NULL,"		/* held approved rejected */
	"  created_at INTEGER NOT NULL,"
	"  decided_at INTEGER,"
	"  decided_by TEXT);"
	/* head of the audit hash chain, to detect truncation */
	"CREATE TABLE audit_head ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  seq INTEGER NOT NULL,"
	"  hash TEXT NOT NULL,"
	"  offset INTEGER NOT NULL);",

	/*
	 * 1 -> 2: what the manifest of a transmission says that was known
	 * only in memory while it was processed, so it is built from state
	 * alone (manifest.c).
	 */
	"ALTER TABLE transmissions ADD COLUMN container TEXT;"	/* raw zip ... */
	"ALTER TABLE transmissions ADD COLUMN encoding TEXT;"	/* or mixed */
	"ALTER TABLE transmissions ADD COLUMN batch_encoding TEXT;"
	/* the documents of a transmission (archive members), in order */
	"CREATE TABLE members ("
	"  transmission_id TEXT NOT NULL,"
	"  idx INTEGER NOT NULL,"		/* 0-based */
	"  name TEXT,"				/* NULL: the file itself */
	"  encoding TEXT NOT NULL,"
	"  records_in INTEGER NOT NULL,"
	"  delivered INTEGER NOT NULL,"
	"  dlq INTEGER NOT NULL,"
	"  PRIMARY KEY (transmission_id, idx));",

	/*
	 * 2 -> 3: backoff and circuit breakers of the output and of each
	 * SFTP source (backoff.c), before meta 'breaker' and 'source:NAME'.
	 */
	/* one row per remote peer: 'output', 'source:NAME' */
	"CREATE TABLE backoff ("
	"  name TEXT PRIMARY KEY,"
	"  failures INTEGER NOT NULL DEFAULT 0,"	/* consecutive */
	"  opened_at INTEGER NOT NULL DEFAULT 0,"	/* breaker; 0: closed */
	"  next_at INTEGER NOT NULL DEFAULT 0,"	/* no attempt before */
	"  last_at INTEGER NOT NULL DEFAULT 0,"	/* last attempt (poll) */
	"  last_result TEXT,"
	"  last_count INTEGER NOT NULL DEFAULT 0);"	/* files fetched */
	/* 'breaker' was "FAILURES OPENED": an open one may probe at once */
	"INSERT INTO backoff(name, failures, opened_at, next_at) "
	"  SELECT 'output', CAST(substr(value, 1, instr(value, ' ') - 1) "
	"  AS INTEGER), CAST(substr(value, instr(value, ' ') + 1) AS INTEGER),"
	"  CAST(substr(value, instr(value, ' ') + 1) AS INTEGER) "
	"  FROM meta WHERE key = 'breaker';"
	/* 'source:NAME' was "TIME RESULT FETCHED" */
	"INSERT INTO backoff(name, last_at, last_result, last_count) "
	"  SELECT key, CAST(substr(value, 1, instr(value, ' ') - 1) AS INTEGER),"
	"  substr(rest, 1, instr(rest, ' ') - 1),"
	"  CAST(substr(rest, instr(rest, ' ') + 1) AS INTEGER) "
	"  FROM (SELECT key, value, substr(value, instr(value, ' ') + 1) AS rest"
	"  FROM meta WHERE key LIKE 'source:%');"
	"DELETE FROM meta WHERE key = 'breaker' OR key LIKE 'source:%';",

	/*
	 * 3 -> 4: the Tier 4 ledger (agent/ledger.c). record_keys, unused
	 * until now, becomes a clustered index of raw 16-byte keys (no rowid:
	 * one B-tree, one lookup per record, about 50 bytes a key at tens of
	 * millions of keys); a key names the transmission by its seq. A hold
	 * keeps what approving it needs: the record it restates, its values
	 * and control totals, the decision's reason. The transmission's
	 * rows added into another's record, and when `prune` removed its
	 * archive entry.
	 */
	/* (both were created empty and never written until now) */
	"DROP TABLE IF EXISTS record_keys;"
	"CREATE TABLE record_keys ("
	"  record_key BLOB PRIMARY KEY,"
	"  values_hash BLOB NOT NULL,"
	"  record_id BLOB NOT NULL,"		/* of the record delivered */
	"  tx INTEGER NOT NULL"			/* transmissions.seq */
	") WITHOUT ROWID;"
	"DROP TABLE IF EXISTS holds;"
	"CREATE TABLE holds ("
	"  record_id TEXT PRIMARY KEY,"		/* hex */
	"  transmission_id TEXT NOT NULL,"
	"  record_key TEXT NOT NULL,"
	"  reason TEXT NOT NULL,"		/* restatement */
	"  record TEXT NOT NULL,"		/* its JSON line */
	"  state TEXT NOT NULL,"		/* held approved rejected */
	"  created_at INTEGER NOT NULL,"
	"  decided_at INTEGER,"
	"  decided_by TEXT,"
	"  restates TEXT NOT NULL,"		/* record_id, hex */
	"  values_hash BLOB NOT NULL,"
	"  quantity TEXT NOT NULL,"
	"  amount TEXT,"
	"  decision_reason TEXT);"
	"CREATE INDEX holds_state ON holds(state, created_at);"
	/* `prune` removed its archive entry (the row stays: duplicates) */
	"ALTER TABLE transmissions ADD COLUMN pruned_at INTEGER;"
	/* rows added into another row's record ([map] duplicates = sum) */
	"ALTER TABLE transmissions ADD COLUMN summed INTEGER NOT NULL "
	"DEFAULT 0;",

	/*
	 * 4 -> 5: the X12 997 acknowledgments we send (ack.c). ctl is our
	 * interchange and group control number: AUTOINCREMENT, so
	 * monotonic and never reused, even after rows are deleted.
	 */
	"CREATE TABLE x12_acks ("
	"  ctl INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  transmission_id TEXT NOT NULL,"
	"  idx INTEGER NOT NULL,"		/* 0-based, in the file */
	"  status TEXT NOT NULL,"		/* AK901: A P R */
	"  created_at INTEGER NOT NULL,"
	"  uploaded_at INTEGER,"		/* ack_dir: NULL until then */
	"  UNIQUE (transmission_id, idx));"
	/* 852 ZA quantities of codes not in x12_activity, by code: a JSON
	 * object for the manifest; NULL unless format = x12 */
	"ALTER TABLE transmissions ADD COLUMN activity_skipped TEXT;",

	/*
	 * 5 -> 6: records delivered with a promo_code that promo_file does
	 * not know (counted, never dropped), and the replays of `tradedrop
	 * replay`: a replay is a transmission row of its own (its id derived
	 * from the original's and the mapping_version, cmd-replay.c) that
	 * names the transmission whose archived raw file it re-processed.
	 */
	"ALTER TABLE transmissions ADD COLUMN unknown_promo INTEGER NOT NULL "
	"DEFAULT 0;"
	"ALTER TABLE transmissions ADD COLUMN replay_of TEXT;",

	/*
	 * 6 -> 7: record_keys keyed by the day of the key, then the key
	 * (agent/ledger.c, LKEY_LEN): a file's keys go in beside each other,
	 * not all over the B-tree. The keys already there stay as they were
	 * (their day is not known): meta's ledger_undated says to look them
	 * up too. A hold keeps its key's day for its approval (NULL: held
	 * before, its key the record_key alone).
	 */
	"ALTER TABLE holds ADD COLUMN key_day INTEGER;"
	"INSERT OR REPLACE INTO meta(key, value) SELECT 'ledger_undated', "
	"'keys of schema 6' WHERE EXISTS (SELECT 1 FROM record_keys);",

	/*
	 * 7 -> 8: the SHA-256 of the bytes an SFTP source landed (agent/
	 * sftp.c): its 997s go to ack_dir only for a transmission of those
	 * bytes, not for another drop of the same name and size. NULL for
	 * what was fetched before (its 997s stay in the archive).
	 */
	"ALTER TABLE remote_files ADD COLUMN sha256 TEXT;",

	/*
	 * 8 -> 9: how many names the last poll of a source left on the
	 * server because intake would never take them (agent/sftp.c,
	 * refuse_names): `status` and /metrics say it beside "ok".
	 */
	"ALTER TABLE backoff ADD COLUMN last_refused INTEGER NOT NULL "
	"DEFAULT 0;",

	/*
	 * 9 -> 10: how many times a transmission was released from the
	 * quarantine (agent/intake.c): the rejection report each release
	 * sends goes under a key of its own (agent/deliver.c), not under
	 * the first report's, which the receiver would answer 409.
	 */
	"ALTER TABLE transmissions ADD COLUMN releases INTEGER NOT NULL "
	"DEFAULT 0;",

	/*
	 * 10 -> 11: how many of a transmission's held records `hold
	 * approve` delivered (agent/ledger.c): its manifest sent again
	 * after the Nth goes under a key of its own (agent/deliver.c). The
	 * approved holds it counted can be taken by a replay's hold of the
	 * same record_id (agent/ledger.c, ledger_commit): counted again,
	 * the next approval's manifest had an earlier one's key (409).
	 */
	"ALTER TABLE transmissions ADD COLUMN approvals INTEGER NOT NULL "
	"DEFAULT 0;"
	"UPDATE transmissions SET approvals = (SELECT count(*) FROM holds "
	"WHERE holds.transmission_id = transmissions.id AND holds.state = "
	"'approved');",
};

int
store_latest_version(void)
{
	return (int)TD_NELEM(migrations);
}

const char *
store_errmsg(struct store *st)
{
	return sqlite3_errmsg(st->db);
}

int
store_exec(struct store *st, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		td_log(TD_LOG_ERROR, "store_error", "db=%s error=%s", st->path,
		    msg ? msg : sqlite3_errmsg(st->db));
		sqlite3_free(msg);
		return sqlite3_errcode(st->db) == SQLITE_FULL ?
		    TD_ERR_NOSPACE : TD_ERR_STATE;
	}
	return TD_OK;
}

int
store_begin(struct store *st)
{
	if (st->intx)
		td_fatal("store_begin: nested transaction");
	if (store_exec(st, "BEGIN IMMEDIATE") != 0)
		return TD_ERR_STATE;
	st->intx = 1;
	return TD_OK;
}

int
store_end(struct store *st, int r)
{
	if (r == 0)
		return store_commit(st);
	store_rollback(st);
	return r;
}

int
store_commit(struct store *st)
{
	int r = store_exec(st, "COMMIT");

	if (r != 0)
		store_rollback(st);
	st->intx = 0;
	return r;
}

void
store_precommit(struct store *st, int (*fn)(void *), void *arg)
{
	(void)sqlite3_commit_hook(st->db, fn, fn != NULL ? arg : NULL);
}

void
store_rollback(struct store *st)
{
	if (sqlite3_get_autocommit(st->db) == 0)
		(void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	st->intx = 0;
}

sqlite3_stmt *
store_prepare(struct store *st, const char *sql)
{
	sqlite3_stmt *s;
	int i;

	for (i = 0; i < st->nstmts; i++)
		if (st->stmts[i].sql == sql) {
			sqlite3_reset(st->stmts[i].st);
			sqlite3_clear_bindings(st->stmts[i].st);
			return st->stmts[i].st;
		}
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		td_fatal("store: prepare \"%s\": %s", sql,
		    sqlite3_errmsg(st->db));
	if (st->nstmts < STORE_MAX_STMTS) {
		st->stmts[st->nstmts].sql = sql;
		st->stmts[st->nstmts++].st = s;
	} else
		td_fatal("store: statement cache full");
	return s;
}

int
store_step_done(struct store *st, sqlite3_stmt *s)
{
	int r = sqlite3_step(s);

	sqlite3_reset(s);
	if (r != SQLITE_DONE && r != SQLITE_ROW) {
		td_log(TD_LOG_ERROR, "store_error", "db=%s error=%s", st->path,
		    sqlite3_errmsg(st->db));
		return r == SQLITE_FULL ? TD_ERR_NOSPACE : TD_ERR_STATE;
	}
	return TD_OK;
}

int
store_query_int(struct store *st, const char *sql, int64_t def, int64_t *out)
{
	sqlite3_stmt *s = NULL;
	int rc;

	*out = def;
	if ((rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL)) == SQLITE_OK) {
		if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			if (sqlite3_column_type(s, 0) != SQLITE_NULL)
				*out = sqlite3_column_int64(s, 0);
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK)
		td_log(TD_LOG_ERROR, "store_error", "db=%s error=%s query=%s",
		    st->path, sqlite3_errmsg(st->db), sql);
	sqlite3_finalize(s);
	if (rc == SQLITE_OK)
		return TD_OK;
	*out = def;
	return rc == SQLITE_FULL ? TD_ERR_NOSPACE : TD_ERR_STATE;
}

int
store_schema_version(struct store *st)
{
	int64_t v;

	if (store_query_int(st, "PRAGMA user_version", 0, &v) != 0)
		return TD_ERR_STATE;
	return (int)v;
}

static int
migrate(struct store *st, char **err)
{
	int v = store_schema_version(st), latest = store_latest_version();
	char *sql;

	if (v < 0) {
		*err = xasprintf("%s: cannot read the schema version: %s",
		    st->path, sqlite3_errmsg(st->db));
		return TD_ERR_STATE;
	}
	if (v > latest) {
		*err = xasprintf("%s: schema version %d is newer than this "
		    "tradedrop understands (%d); refusing to touch it",
		    st->path, v, latest);
		return TD_ERR_STATE;
	}
	for (; v < latest; v++) {
		if (store_begin(st) != 0)
			goto fail;
		sql = xasprintf("%s; PRAGMA user_version = %d;",
		    migrations[v], v + 1);
		if (store_exec(st, sql) != 0) {
			x_free(sql);
			store_rollback(st);
			goto fail;
		}
		x_free(sql);
		if (store_commit(st) != 0)
			goto fail;
		td_log(TD_LOG_INFO, "store_migrated", "db=%s version=%d",
		    st->path, v + 1);
	}
	return TD_OK;
 fail:
	*err = xasprintf("%s: migration to schema %d failed: %s", st->path,
	    v + 1, sqlite3_errmsg(st->db));
	return TD_ERR_STATE;
}

/*
 * state.db, its -wal and -shm are 0640 whatever the umask. SQLite would
 * create the database 0644 & ~umask and gives -wal and -shm the mode of
 * the database, so create it 0640 before SQLite opens it, and take the
 * bits beyond 0640 off what an older version left.
 */
static int
store_modes(const char *path)
{
	char *p;
	int fd, r = TD_OK;

	if ((fd = td_open_mode(path, O_RDWR | O_CLOEXEC, 0640)) < 0)
		return TD_ERR_IO;
	close(fd);
	p = xasprintf("%s-wal", path);
	if (td_restrict_mode(p, 0640) != 0)
		r = TD_ERR_IO;
	x_free(p);
	p = xasprintf("%s-shm", path);
	if (r == 0 && td_restrict_mode(p, 0640) != 0)
		r = TD_ERR_IO;
	x_free(p);
	return r;
}

/*
 * SQLite's temporary files (a statement journal past 64 KiB, the temp
 * tables of the ledger past their cache, sorts) go to /var/tmp or /tmp
 * unless told otherwise: into state_dir, where everything tradedrop
 * writes lives (and a unit with a read-only /var/tmp still works). Set
 * once, before the first of them, for the process (one integration);
 * SQLite passes over it when it cannot be written (a read-only reader).
 */
static void
store_temp_directory(const char *state_dir)
{
	if (sqlite3_temp_directory == NULL)
		sqlite3_temp_directory = sqlite3_mprintf("%s", state_dir);
}

/*
 * SQLITE_BUSY: the other connection's transaction (the workers and the
 * commands share state.db) ends within a few milliseconds as a rule.
 * SQLite's own timeout handler sleeps 1, 2, 5, 10 ms and more between
 * tries: at many small files a second the intake and the deliver worker
 * each slept a millisecond or two for most files. Try again every 0.1
 * ms for the first 5 ms, every ms up to 55 ms, then every 10 ms: given
 * up after about 10 s, as before.
 */
#define BUSY_FAST	50	/* tries of 0.1 ms, */
#define BUSY_MID	100	/* up to this many, of 1 ms, */
#define BUSY_TRIES	1095	/* then of 10 ms: ~10 s in all */

static int
store_busy(void *arg, int n)
{
	struct timespec ts;

	(void)arg;
	if (n >= BUSY_TRIES)
		return 0;
	ts.tv_sec = 0;
	ts.tv_nsec = n < BUSY_FAST ? 100000L : n < BUSY_MID ? 1000000L :
	    10000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	return 1;
}

int
store_open(const char *state_dir, int readonly, struct store **out,
    char **err)
{
	struct store *st;
	int r, flags;

	*out = NULL;
	*err = NULL;
	if (!readonly && td_mkdirs(state_dir, 0750) != 0) {
		*err = xasprintf("%s: %s", state_dir, strerror(errno));
		return TD_ERR_IO;
	}
	(void)pthread_once(&log_once, log_setup);	/* SQLite's first call */
	store_temp_directory(state_dir);
	st = xcalloc(1, sizeof(*st));
	st->path = xasprintf("%s/state.db", state_dir);
	if (!readonly && (r = store_modes(st->path)) != 0) {
		*err = xasprintf("%s: %s", st->path, strerror(errno));
		goto fail;
	}
	flags = readonly ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	if ((r = sqlite3_open_v2(st->path, &st->db, flags, sqlvfs_name())) !=
	    SQLITE_OK) {
		*err = xasprintf("%s: %s", st->path, st->db ?
		    sqlite3_errmsg(st->db) : sqlite3_errstr(r));
		goto fail;
	}
	sqlite3_busy_handler(st->db, store_busy, NULL);
	if (!readonly) {
		if (store_exec(st, "PRAGMA journal_mode = WAL") != 0 ||
		    store_exec(st, "PRAGMA synchronous = FULL") != 0 ||
		    store_exec(st, "PRAGMA foreign_keys = ON") != 0) {
			*err = xasprintf("%s: %s", st->path,
			    sqlite3_errmsg(st->db));
			goto fail;
		}
		if (migrate(st, err) != 0)
			goto fail;
	} else if ((r = store_schema_version(st)) < 0) {
		*err = xasprintf("%s: cannot read the schema version: %s",
		    st->path, sqlite3_errmsg(st->db));
		goto fail;
	} else if (r > store_latest_version()) {
		*err = xasprintf("%s: schema version %d is newer than this "
		    "tradedrop understands (%d): a newer tradedrop wrote it",
		    st->path, r, store_latest_version());
		goto fail;
	} else if (r != store_latest_version()) {
		/* tradedrop was upgraded and the daemon not restarted: the
		 * old one holds the lock, so once would be refused */
		*err = xasprintf("%s: schema version %d, expected %d: restart "
		    "the daemon (tradedrop run migrates it as it starts), or "
		    "run tradedrop once with this configuration when no "
		    "daemon runs", st->path, r, store_latest_version());
		goto fail;
	}
	*out = st;
	return TD_OK;
 fail:
	if (st->db != NULL && *err != NULL &&
	    ((sqlite3_errcode(st->db) & 0xff) == SQLITE_CORRUPT ||
	    (sqlite3_errcode(st->db) & 0xff) == SQLITE_NOTADB)) {
		char *e = *err;

		*err = xasprintf("%s; %s", e, STORE_RECOVERY);
		x_free(e);
	}
	store_close(st);
	return TD_ERR_STATE;
}

/* SQLite's own threshold of an automatic checkpoint, in WAL pages */
#define STORE_CHECKPOINT_PAGES	1000

static int
store_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct store *st = arg;

	(void)db;
	(void)name;
	st->wal_pages = pages;
	return SQLITE_OK;
}

void
store_defer_checkpoints(struct store *st)
{
	/* replaces the hook by which SQLite checkpoints after a commit */
	sqlite3_wal_hook(st->db, store_wal_hook, st);
}

void
store_checkpoint(struct store *st)
{
	int log = 0, done = 0, r;

	if (st == NULL || st->wal_pages < STORE_CHECKPOINT_PAGES)
		return;
	/*
	 * PASSIVE, as SQLite's own: another connection's checkpoint under
	 * way (SQLITE_BUSY) or a reader's snapshot leaves the rest, which
	 * the next call takes on (the count is kept until the whole WAL is
	 * in state.db)
	 */
	r = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    &log, &done);
	if (r == SQLITE_OK && done >= log)
		st->wal_pages = 0;
	else if (r != SQLITE_OK && r != SQLITE_BUSY && r != SQLITE_LOCKED &&
	    td_time() >= st->ckpt_said + 60) {
		/* as SQLite's own would fail, but said (once a minute) */
		st->ckpt_said = td_time();
		td_log(TD_LOG_WARN, "checkpoint_failed", "db=%s error=%s "
		    "wal_pages=%d", st->path, sqlite3_errstr(r),
		    st->wal_pages);
	}
}

int
store_check(struct store *st, char **err)
{
	sqlite3_stmt *s = NULL;
	const char *m = NULL;
	int rc;

	*err = NULL;
	if ((rc = sqlite3_prepare_v2(st->db, "PRAGMA quick_check", -1, &s,
	    NULL)) == SQLITE_OK) {
		/* "ok", or problems one a row after "*** in database main ***" */
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			m = (const char *)sqlite3_column_text(s, 0);
			if (m == NULL || strncmp(m, "*** ", 4) != 0)
				break;
		}
		if (rc == SQLITE_ROW && m != NULL && strcmp(m, "ok") == 0) {
			sqlite3_finalize(s);
			return TD_OK;
		}
		if (rc != SQLITE_ROW)
			m = NULL;
	}
	*err = xasprintf("%s is corrupt (%s); " STORE_RECOVERY, st->path,
	    m != NULL ? m : sqlite3_errmsg(st->db));
	sqlite3_finalize(s);
	return TD_ERR_STATE;
}

void
store_close(struct store *st)
{
	int i;

	if (st == NULL)
		return;
	for (i = 0; i < st->nstmts; i++)
		sqlite3_finalize(st->stmts[i].st);
	if (st->db != NULL)
		sqlite3_close(st->db);
	x_free(st->path);
	x_free(st);
}

sqlite3 *
store_db(struct store *st)
{
	return st->db;
}
