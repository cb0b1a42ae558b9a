/* audit.c - append-only, hash-chained audit log. */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "td.h"
#include "clock.h"
#include "audit.h"
#include "buf.h"
#include "date.h"
#include "failpoint.h"
#include "fsutil.h"
#include "hash.h"
#include "json.h"
#include "log.h"
#include "store.h"

/*
 * The most lines one step audits in one transaction (parsing: parsed,
 * dead-lettered, withheld, held, forwarded), and the events that only
 * ever follow another in the same step: any other begins a step.
 */
#define STEP_LINES	5
static const char *const step_rest[] = {
	"transmission_verified", "transmission_quarantined",
	"records_dead_lettered", "records_withheld", "records_held",
	"restatements_forwarded"
};
/* ,"prev":"<64 hex>","hash":"<64 hex>"} */
#define SUFFIX_LEN	(9 + 64 + 10 + 64 + 2)

struct audit {
	int		 fd;
	char		*path;
	char		*integration;
	struct store	*st;
	long long	 seq;
	char		 hash[TD_SHA256_HEX];
	long long	 offset;
	int		 dirty;		/* lines written, not yet fdatasync'ed */
};

/*
 * Before state.db commits (store_precommit): the lines written in the
 * transaction, durable first, in one fdatasync however many they are
 * (a file's receive and verify, its parse and Tier 4 counts): the head
 * committed never points past what is on the disk. A failure makes the
 * commit a rollback, and the lines are cut at the next append.
 */
static int
audit_sync(void *arg)
{
	struct audit *a = arg;

	if (!a->dirty)
		return 0;
	if (fdatasync(a->fd) != 0) {
		td_log(TD_LOG_ERROR, "audit_sync_failed", "path=%s error=%s",
		    a->path, strerror(errno));
		return 1;
	}
	a->dirty = 0;
	return 0;
}

static int
is_hex64(const char *p)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((p[i] >= '0' && p[i] <= '9') ||
		    (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	return 1;
}

/* See audit.h. */
int
audit_check_line(const char *line, size_t len, long long n, char prev[TD_SHA256_HEX],
    char *why, size_t whysz)
{
	struct td_sha256 h;
	unsigned char dg[TD_SHA256_LEN];
	char hex[TD_SHA256_HEX], want[32];
	const char *sfx;
	int wl;

	wl = snprintf(want, sizeof(want), "{\"seq\":%lld,", n);
	if (len < SUFFIX_LEN + (size_t)wl || memchr(line, '\0', len) != NULL) {
		snprintf(why, whysz, "not an audit record");
		return -1;
	}
	sfx = line + len - SUFFIX_LEN;
	if (memcmp(sfx, ",\"prev\":\"", 9) != 0 || !is_hex64(sfx + 9) ||
	    memcmp(sfx + 73, "\",\"hash\":\"", 10) != 0 ||
	    !is_hex64(sfx + 83) || memcmp(sfx + 147, "\"}", 2) != 0) {
		snprintf(why, whysz, "no \"prev\" and \"hash\" at its end");
		return -1;
	}
	if (strncmp(line, want, (size_t)wl) != 0) {
		snprintf(why, whysz, "its seq is not %lld: a line before it "
		    "was deleted, or lines were reordered", n);
		return -1;
	}
	if (memcmp(sfx + 9, prev, 64) != 0) {
		snprintf(why, whysz, "its prev is not the hash of line %lld: "
		    "a line before it was deleted or changed, or lines were "
		    "reordered", n - 1);
		return -1;
	}
	td_sha256_init(&h);
	td_sha256_update(&h, prev, 64);
	td_sha256_update(&h, line, (size_t)(sfx - line));
	td_sha256_update(&h, "}", 1);
	td_sha256_final(&h, dg);
	td_hex(dg, sizeof(dg), hex);
	if (memcmp(sfx + 83, hex, 64) != 0) {
		snprintf(why, whysz, "its hash does not match its content: the "
		    "line was changed");
		return -1;
	}
	memcpy(prev, hex, TD_SHA256_HEX);
	return 0;
}

/* Load the committed head (seq, hash, offset) from state.db. */
static int
load_head(struct audit *a)
{
	sqlite3_stmt *s;
	int found = 0;

	a->seq = 0;
	a->offset = 0;
	memcpy(a->hash, AUDIT_GENESIS, sizeof(a->hash));
	s = store_prepare(a->st, "SELECT seq, hash, offset FROM audit_head "
	    "WHERE id = 1");
	if (sqlite3_step(s) == SQLITE_ROW) {
		a->seq = sqlite3_column_int64(s, 0);
		snprintf(a->hash, sizeof(a->hash), "%s",
		    (const char *)sqlite3_column_text(s, 1));
		a->offset = sqlite3_column_int64(s, 2);
		found = 1;
	}
	sqlite3_reset(s);
	return found;
}

/*
 * The "transmission_id" member of an audit line (up to its end): the
 * transmission a step is about. Its first occurrence is the member
 * itself, since a quote inside a JSON string is always escaped.
 */
static const char *
line_tid(const char *line, size_t len, size_t *tlen)
{
	static const char k[] = "\"transmission_id\":";
	const char *p, *e;

	*tlen = 0;
	if ((p = memmem(line, len, k, sizeof(k) - 1)) == NULL)
		return NULL;
	p += sizeof(k) - 1;
	if ((e = memchr(p, ',', len - (size_t)(p - line))) == NULL)
		return NULL;
	*tlen = (size_t)(e - p);
	return p;
}

/* Whether the line (len bytes) follows another in the same step. */
static int
continues_step(const char *line, size_t len)
{
	char k[64];
	size_t i;
	int n;

	for (i = 0; i < sizeof(step_rest) / sizeof(step_rest[0]); i++) {
		n = snprintf(k, sizeof(k), ",\"event\":\"%s\",", step_rest[i]);
		if (memmem(line, len, k, (size_t)n) != NULL)
			return 1;
	}
	return 0;
}

/*
 * The phase of a group's step that a line starts (its first event): 1
 * receive (transmission_received, duplicate_transmission), 2 process
 * (transmission_parsed), 3 delivery to file:// (transmission_delivered
 * with "output":"file", deliver.c's groups), 0 none (a step that commits
 * alone: a delivery over https:// too, so that a state.db restored from
 * before two of them is refused, not its log cut).
 */
static int
group_phase(const char *line, size_t len)
{
	static const struct {
		const char	*event;
		int		 phase;
	} first[] = {
		{ "transmission_received", 1 },
		{ "duplicate_transmission", 1 },
		{ "transmission_parsed", 2 },
		{ "transmission_delivered", 3 },
	};
	char k[64];
	size_t i;
	int n;

	for (i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
		n = snprintf(k, sizeof(k), ",\"event\":\"%s\",",
		    first[i].event);
		if (memmem(line, len, k, (size_t)n) == NULL)
			continue;
		/* a quote inside a JSON string is escaped: the member */
		if (first[i].phase == 3 && memmem(line, len,
		    ",\"output\":\"file\",", 17) == NULL)
			return 0;
		return first[i].phase;
	}
	return 0;
}

/* See audit.h. */
int
audit_tail_ok(const char *buf, size_t n, long long seq, const char *hash)
{
	char *want = NULL, prev[TD_SHA256_HEX], why[256];
	const char *p, *nl, *end = buf + n, *tid = NULL, *t;
	long long step0 = seq;
	size_t tidlen = 0, tl, len;
	int ok = 1, phase = -1, steps = 0, next;

	snprintf(prev, sizeof(prev), "%s", hash);
	for (p = buf; p < end; p = nl + 1) {
		if (memchr(p, '\0', (size_t)(end - p)) != NULL) {
			ok = 0;
			break;
		}
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			want = xasprintf("\"prev\":\"%s\"", prev);
			ok = strstr(p, want) != NULL;
			break;
		}
		len = (size_t)(nl - p);
		/* a step's first line, or one that follows another in it */
		next = steps == 0 || (!continues_step(p, len) &&
		    phase > 0 && group_phase(p, len) == phase);
		if (next) {
			if (steps == 0)
				phase = group_phase(p, len);
			steps++;
			step0 = seq;
			tid = NULL;
		}
		if (steps > AUDIT_GROUP_STEPS || seq - step0 >= STEP_LINES ||
		    (!next && !continues_step(p, len)) ||
		    audit_check_line(p, len, ++seq, prev, why,
		    sizeof(why)) != 0 || (t = line_tid(p, len, &tl)) == NULL ||
		    (tid != NULL && (tl != tidlen || memcmp(t, tid, tl) != 0))) {
			ok = 0;
			break;
		}
		tid = t;
		tidlen = tl;
	}
	x_free(want);
	return ok;
}

/*
 * Bytes past the committed head: the lines of a transaction that never
 * committed are cut off (they are written again when the step is
 * redone), if audit_tail_ok; anything else means the log and state.db
 * disagree: refuse.
 */
static int
check_tail(struct audit *a, off_t size, char **err)
{
	char *buf;
	size_t n;
	ssize_t got;
	int r = TD_ERR_STATE;

	if (size <= a->offset)
		return TD_OK;
	n = (size_t)(size - a->offset);
	if (n > (1 << 20)) {
		*err = xasprintf("%s: %zu bytes past the head recorded in "
		    "state.db; refusing to cut them", a->path, n);
		return TD_ERR_STATE;
	}
	buf = xmalloc(n + 1);
	got = pread(a->fd, buf, n, a->offset);
	if (got != (ssize_t)n) {
		x_free(buf);
		*err = xasprintf("%s: %s", a->path, strerror(errno));
		return TD_ERR_IO;
	}
	buf[n] = '\0';
	if (!audit_tail_ok(buf, n, a->seq, a->hash)) {
		*err = xasprintf("%s: %zu bytes past the head recorded in "
		    "state.db that do not continue its chain; refusing to cut "
		    "them", a->path, n);
		goto out;
	}
	if (ftruncate(a->fd, a->offset) != 0 || fsync(a->fd) != 0) {
		*err = xasprintf("%s: %s", a->path, strerror(errno));
		r = TD_ERR_IO;
		goto out;
	}
	td_log(TD_LOG_WARN, "audit_tail_dropped", "file=%s bytes=%zu "
	    "reason=uncommitted", a->path, n);
	r = TD_OK;
 out:
	x_free(buf);
	return r;
}

int
audit_open(struct audit **out, const char *path, const char *integration,
    struct store *st, char **err)
{
	struct audit *a;
	struct stat sb;
	int r;

	*out = NULL;
	*err = NULL;
	a = xcalloc(1, sizeof(*a));
	a->path = xstrdup(path);
	a->integration = xstrdup(integration);
	a->st = st;
	/* 0640 whatever the umask, like state.db */
	a->fd = td_open_mode(path, O_RDWR | O_APPEND | O_CLOEXEC, 0640);
	if (a->fd < 0) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		goto fail;
	}
	/*
	 * The head and the log are compared, and an uncommitted tail cut,
	 * under state.db's write lock: lines are appended only inside a
	 * write transaction, so another process (a daemon's worker) in the
	 * middle of a step cannot have its lines taken for a crashed step's
	 * and cut before it commits them.
	 */
	if (store_begin(st) != 0) {
		*err = xasprintf("%s: state.db is busy", path);
		goto fail;
	}
	(void)load_head(a);
	if (fstat(a->fd, &sb) != 0) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		store_rollback(st);
		goto fail;
	}
	if (sb.st_size < a->offset) {
		*err = xasprintf("%s: %lld bytes, but its recorded head is at "
		    "%lld: the audit log was truncated", path,
		    (long long)sb.st_size, a->offset);
		store_rollback(st);
		goto fail;
	}
	r = check_tail(a, sb.st_size, err);
	store_rollback(st);	/* nothing written to state.db */
	if (r != 0)
		goto fail;
	store_precommit(st, audit_sync, a);
	*out = a;
	return TD_OK;
 fail:
	audit_close(a);
	return TD_ERR_IO;
}

void
audit_close(struct audit *a)
{
	if (a == NULL)
		return;
	if (a->st != NULL && a->fd >= 0)
		store_precommit(a->st, NULL, NULL);
	if (a->fd >= 0)
		close(a->fd);
	x_free(a->path);
	x_free(a->integration);
	x_free(a);
}

int
audit_append(struct audit *a, const char *event, const char *tid,
    const char *fields)
{
	struct td_buf b;
	struct td_sha256 h;
	unsigned char dg[TD_SHA256_LEN];
	char hex[TD_SHA256_HEX], ts[TD_RFC3339_MAX];
	struct timespec now;
	sqlite3_stmt *s;
	int r;

	/*
	 * The committed head: a transaction that rolled back after its line
	 * was written left the file longer than that, and its line is cut.
	 */
	(void)load_head(a);
	{
		struct stat sb;

		if (fstat(a->fd, &sb) == 0 && sb.st_size > a->offset &&
		    ftruncate(a->fd, a->offset) != 0)
			return TD_ERR_IO;
	}
	td_clock_real(&now);
	td_rfc3339_ms((int64_t)now.tv_sec, (unsigned)(now.tv_nsec / 1000000),
	    ts);
	td_buf_init(&b, 512, 1 << 20);
	td_buf_printf(&b, "{\"seq\":%lld,\"time\":\"%s\",\"event\":",
	    a->seq + 1, ts);
	td_json_str(&b, event, strlen(event));
	td_buf_puts(&b, ",\"integration\":");
	td_json_str(&b, a->integration, strlen(a->integration));
	td_buf_puts(&b, ",\"transmission_id\":");
	if (tid != NULL)
		td_json_str(&b, tid, strlen(tid));
	else
		td_buf_puts(&b, "null");
	if (fields != NULL && *fields != '\0') {
		td_buf_putc(&b, ',');
		td_buf_puts(&b, fields);
	}
	td_buf_putc(&b, '}');
	td_sha256_init(&h);
	td_sha256_update(&h, a->hash, 64);
	td_sha256_update(&h, b.p, b.len);
	td_sha256_final(&h, dg);
	td_hex(dg, sizeof(dg), hex);
	b.len--;	/* reopen the object */
	r = td_buf_printf(&b, ",\"prev\":\"%s\",\"hash\":\"%s\"}\n", a->hash,
	    hex);
	if (r == 0)
		r = td_write_all(a->fd, b.p, b.len);
	if (r == 0)
		a->dirty = 1;	/* made durable before the commit */
	if (r == 0)
		td_failpoint("audit_appended");
	if (r != 0) {
		/* leave the file at the committed head */
		(void)!ftruncate(a->fd, a->offset);
		td_buf_free(&b);
		return r;
	}
	s = store_prepare(a->st, "INSERT INTO audit_head(id, seq, hash, "
	    "offset) VALUES (1, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
	    "seq = excluded.seq, hash = excluded.hash, "
	    "offset = excluded.offset");
	sqlite3_bind_int64(s, 1, a->seq + 1);
	sqlite3_bind_text(s, 2, hex, 64, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, a->offset + (long long)b.len);
	if ((r = store_step_done(a->st, s)) != 0) {
		(void)!ftruncate(a->fd, a->offset);
		td_buf_free(&b);
		return r;
	}
	a->seq++;
	memcpy(a->hash, hex, sizeof(hex));
	a->offset += (long long)b.len;
	td_buf_free(&b);
	return TD_OK;
}
