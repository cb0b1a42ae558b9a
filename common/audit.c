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
#include "audit.h"
#include "buf.h"
#include "fsutil.h"
#include "hash.h"
#include "json.h"
#include "log.h"
#include "store.h"

#define AUDIT_GENESIS \
	"0000000000000000000000000000000000000000000000000000000000000000"

struct audit {
	int		 fd;
	char		*path;
	char		*integration;
	struct store	*st;
	long long	 seq;
	char		 hash[TD_SHA256_HEX];
	long long	 offset;
};

int
audit_open(struct audit **out, const char *path, const char *integration,
    struct store *st, char **err)
{
	struct audit *a;
	sqlite3_stmt *s;
	struct stat sb;

	*out = NULL;
	*err = NULL;
	a = xcalloc(1, sizeof(*a));
	a->path = xstrdup(path);
	a->integration = xstrdup(integration);
	a->st = st;
	memcpy(a->hash, AUDIT_GENESIS, sizeof(a->hash));
	s = store_prepare(st, "SELECT seq, hash, offset FROM audit_head "
	    "WHERE id = 1");
	if (sqlite3_step(s) == SQLITE_ROW) {
		a->seq = sqlite3_column_int64(s, 0);
		snprintf(a->hash, sizeof(a->hash), "%s",
		    (const char *)sqlite3_column_text(s, 1));
		a->offset = sqlite3_column_int64(s, 2);
	}
	sqlite3_reset(s);
	a->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (a->fd < 0 || fstat(a->fd, &sb) != 0) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		goto fail;
	}
	if (sb.st_size < a->offset) {
		*err = xasprintf("%s: %lld bytes, but its recorded head is at "
		    "%lld: the audit log was truncated", path,
		    (long long)sb.st_size, a->offset);
		goto fail;
	}
	if (sb.st_size > a->offset) {
		/* lines of transactions that never committed */
		if (ftruncate(a->fd, a->offset) != 0 || fsync(a->fd) != 0) {
			*err = xasprintf("%s: %s", path, strerror(errno));
			goto fail;
		}
		td_log(TD_LOG_WARN, "audit_tail_dropped", "file=%s bytes=%lld",
		    path, (long long)(sb.st_size - a->offset));
	}
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
	char hex[TD_SHA256_HEX], ts[32];
	struct timespec now;
	struct tm tm;
	sqlite3_stmt *s;
	int r;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	td_buf_init(&b, 512, 1 << 20);
	td_buf_printf(&b, "{\"seq\":%lld,\"time\":\"%s.%03ldZ\",\"event\":",
	    a->seq + 1, ts, now.tv_nsec / 1000000);
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
	if (r == 0 && fdatasync(a->fd) != 0)
		r = TD_ERR_IO;
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
