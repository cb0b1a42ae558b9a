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
#include "audit.h"
#include "conf.h"
#include "failpoint.h"
#include "hash.h"
#include "store.h"
#include "agent.h"

#define AUDIT_LINE_MAX	(1 << 20)	/* audit_append's own limit */
#define AUDIT_TRIES	10	/* reads of a head that moves */

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

/*
 * 0: the chain holds up to the head; 1: broken (said on stderr); 2,
 * with quiet_tail, when only the lines after the head are not those of
 * one step (nothing said: the caller reads the head again).
 */
static int
audit_verify(const char *path, const struct head *hd, int quiet_tail)
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
			if (ftello(f) - off > (off_t)len) {
				fprintf(stderr, "%s:%lld: a NUL byte in the "
				    "line\n", path, n);
				bad = 1;
				break;
			}
			fprintf(stderr, "%s:%lld: %s\n", path, n, feof(f) ?
			    "the last line is cut short: the audit log was "
			    "truncated" : "a line longer than 1 MiB");
			bad = 1;
			break;
		}
		if (audit_check_line(line, len - 1, n, prev, why, sizeof(why)) != 0) {
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
		/* what follows the head: a step that has not committed yet */
		len = fread(line, 1, AUDIT_LINE_MAX + 1, f);
		line[len] = '\0';
		if ((len > AUDIT_LINE_MAX || !audit_tail_ok(line, len, n,
		    prev)) && quiet_tail)
			bad = 2;
		else if (len > AUDIT_LINE_MAX || !audit_tail_ok(line, len, n,
		    prev)) {
			fprintf(stderr, "%s:%lld: the lines after the head "
			    "state.db records (line %lld) are not those of one "
			    "step that has not committed yet: lines were "
			    "appended, or state.db is older than the log\n",
			    path, n + 1, n);
			bad = 1;
		} else
			printf("%s: %lld line%s verified; the chain ends at "
			    "the head state.db records (%.16s...)%s\n", path,
			    n, n == 1 ? "" : "s", hd->hash, len == 0 ? "" :
			    "; lines after it are not committed yet");
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
	struct head hd, again;
	char *err = NULL, *log;
	int rc, tries;

	if (cmd_conf_opt(argc, argv, use, &path, NULL, NULL) != 0)
		return EXIT_USAGE;
	if (optind + 1 != argc || strcmp(argv[optind], "verify") != 0) {
		fprintf(stderr, "usage: tradedrop %s\n", use);
		return EXIT_USAGE;
	}
	if ((c = td_load_conf_or_report(path)) == NULL)
		return EXIT_USAGE;
	sd = td_conf_str(c, TDK_integration_state_dir);
	log = xasprintf("%s/audit.log", sd);
	/*
	 * A daemon beside it commits steps while the log is read: lines
	 * after the head it read may be of several steps committed since.
	 * Read the head again and verify the whole chain up to the new one;
	 * only a head that did not move (or moved AUDIT_TRIES times) makes
	 * them an error.
	 */
	for (tries = 1;; tries++) {
		if (load_head(sd, &hd, &err) != 0) {
			fprintf(stderr, "tradedrop: %s\n", err);
			x_free(err);
			rc = 1;
			break;
		}
		if (tries == 1)
			td_failpoint_stop("audit_head_loaded");
		if ((rc = audit_verify(log, &hd, tries < AUDIT_TRIES)) != 2)
			break;
		if (load_head(sd, &again, &err) != 0) {
			x_free(err);
			err = NULL;
		} else if (again.seq != hd.seq)
			continue;
		rc = audit_verify(log, &hd, 0);
		break;
	}
	x_free(log);
	td_conf_free(c);
	return rc;
}
