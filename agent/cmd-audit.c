/*
 * cmd-audit.c - the `audit verify` command: recompute the hash chain of
 * audit.log line by line and hold its end against the head state.db
 * keeps, so that an edit, a deletion, a reordering and a truncation are
 * each named by the first line they break.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "td.h"
#include "conf.h"
#include "hash.h"
#include "store.h"
#include "agent.h"

#define AUDIT_LINE_MAX	(1 << 20)	/* audit_append's own limit */
#define AUDIT_GENESIS \
	"0000000000000000000000000000000000000000000000000000000000000000"
/* ,"prev":"<64 hex>","hash":"<64 hex>"} */
#define SUFFIX_LEN	(9 + 64 + 10 + 64 + 2)

struct head {
	long long	 seq;
	long long	 offset;
	char		 hash[TD_SHA256_HEX];
};

static int
load_head(const char *sd, struct head *h, char **err)
{
	struct store *st;
	sqlite3_stmt *s;
	char *dbp = xasprintf("%s/state.db", sd);
	int r;

	memset(h, 0, sizeof(*h));
	memcpy(h->hash, AUDIT_GENESIS, sizeof(h->hash));
	if (access(dbp, F_OK) != 0) {
		*err = xasprintf("%s: %s", dbp, strerror(errno));
		x_free(dbp);
		return TD_ERR_NOTFOUND;
	}
	x_free(dbp);
	if ((r = store_open(sd, 1, &st, err)) != 0)
		return r;
	s = store_prepare(st, "SELECT seq, hash, offset FROM audit_head "
	    "WHERE id = 1");
	if (sqlite3_step(s) == SQLITE_ROW) {
		h->seq = sqlite3_column_int64(s, 0);
		snprintf(h->hash, sizeof(h->hash), "%s",
		    (const char *)sqlite3_column_text(s, 1));
		h->offset = sqlite3_column_int64(s, 2);
	}
	sqlite3_reset(s);
	store_close(st);
	return TD_OK;
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

/*
 * Line n (1-based, len bytes without its LF) against the chain so far
 * (prev). On success prev becomes its hash. Else why says what is wrong.
 */
static int
check_line(const char *line, size_t len, long long n, char prev[TD_SHA256_HEX],
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

/* 0: the chain holds up to the head; 1: broken (said on stderr). */
static int
audit_verify(const char *path, const struct head *hd)
{
	FILE *f;
	char *line, prev[TD_SHA256_HEX], why[256];
	long long n = 0, off = 0;
	size_t len;
	int bad = 0;

	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT && hd->seq == 0) {
			printf("%s: no audit log yet, and state.db records no "
			    "head: nothing to verify\n", path);
			return 0;
		}
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	line = xmalloc(AUDIT_LINE_MAX + 2);
	memcpy(prev, AUDIT_GENESIS, sizeof(prev));
	while (n < hd->seq && fgets(line, AUDIT_LINE_MAX + 2, f) != NULL) {
		n++;
		len = strlen(line);
		if (len == 0 || line[len - 1] != '\n') {
			fprintf(stderr, "%s:%lld: %s\n", path, n, feof(f) ?
			    "the last line is cut short: the audit log was "
			    "truncated" : "a line longer than 1 MiB");
			bad = 1;
			break;
		}
		if (check_line(line, len - 1, n, prev, why, sizeof(why)) != 0) {
			fprintf(stderr, "%s:%lld: %s\n", path, n, why);
			bad = 1;
			break;
		}
		off += (long long)len;
	}
	if (!bad && n < hd->seq) {
		fprintf(stderr, "%s:%lld: missing: the log ends after line "
		    "%lld (byte %lld), but state.db records its head at line "
		    "%lld (byte %lld): the audit log was truncated, or its "
		    "last lines deleted\n", path, n + 1, n, off, hd->seq,
		    hd->offset);
		bad = 1;
	}
	if (!bad && (strcmp(prev, hd->hash) != 0 || off != hd->offset)) {
		fprintf(stderr, "%s:%lld: the line is not the head state.db "
		    "records (hash %.16s..., byte %lld)\n", path, n, hd->hash,
		    hd->offset);
		bad = 1;
	}
	if (!bad) {
		int c = fgetc(f);

		printf("%s: %lld line%s verified; the chain ends at the head "
		    "state.db records (%.16s...)%s\n", path, n, n == 1 ? "" :
		    "s", hd->hash, c == EOF ? "" : "; lines after it are not "
		    "committed yet");
	}
	x_free(line);
	fclose(f);
	return bad;
}

int
cmd_audit(int argc, char **argv)
{
	static const char *use = "audit [-c FILE] verify";
	const char *path, *sd;
	struct td_conf *c;
	struct head hd;
	char *err = NULL, *log;
	int rc;

	if (cmd_conf_opt(argc, argv, use, &path, NULL, NULL) != 0)
		return EXIT_USAGE;
	if (optind + 1 != argc || strcmp(argv[optind], "verify") != 0) {
		fprintf(stderr, "usage: tradedrop %s\n", use);
		return EXIT_USAGE;
	}
	if ((c = td_load_conf_or_report(path)) == NULL)
		return EXIT_USAGE;
	sd = td_conf_str(c, TDK_integration_state_dir);
	if (load_head(sd, &hd, &err) != 0) {
		fprintf(stderr, "tradedrop: %s\n", err);
		x_free(err);
		td_conf_free(c);
		return 1;
	}
	log = xasprintf("%s/audit.log", sd);
	rc = audit_verify(log, &hd);
	x_free(log);
	td_conf_free(c);
	return rc;
}
