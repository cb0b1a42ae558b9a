/*
 * cmd-quarantine.c - the `quarantine` command: the Tier 2 files of an
 * integration, and the operator's two decisions on one: release it
 * (process it again with today's configuration, after a fix) or drop it
 * (audited, its raw bytes kept in the archive).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "td.h"
#include "conf.h"
#include "date.h"
#include "fsutil.h"
#include "log.h"
#include "store.h"
#include "ctx.h"
#include "intake.h"
#include "sandbox.h"
#include "agent.h"

#define QUSAGE "quarantine [-c FILE] list | show ID | release ID | " \
	"drop ID --reason TEXT"
#define REASON_MAX	4096

/*
 * The full id (of length len: 64 for a transmission, 32 for a record) of
 * ID, the id or a unique prefix of at least 6 hex digits, by sql (which
 * selects ids whose first ?1 characters are ?2) into out; or an error
 * said on stderr.
 */
int
cmd_resolve(struct store *st, const char *sql, const char *what,
    const char *id, char *out, size_t len)
{
	sqlite3_stmt *s;
	size_t i, n = strlen(id);
	int found = 0;

	for (i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			break;
	if (i != n || n < 6 || n > len) {
		fprintf(stderr, "tradedrop: \"%s\" is not a %s id (6 to %zu "
		    "lower-case hex digits)\n", id, what, len);
		return TD_ERR_INVAL;
	}
	s = store_prepare(st, sql);
	sqlite3_bind_int(s, 1, (int)n);
	sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW)
		if (found++ == 0)
			snprintf(out, len + 1, "%s",
			    (const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	if (found == 1)
		return TD_OK;
	fprintf(stderr, "tradedrop: %s %s %s \"%s\"\n", found ?
	    "more than one" : "no", what, found ? "starts with" : "is", id);
	return TD_ERR_NOTFOUND;
}

/* See agent.h. */
const char *
cmd_tty(const char *s, char **tmp)
{
	const unsigned char *p;
	size_t n;

	*tmp = NULL;
	if (s == NULL)
		return "null";
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < ' ' || *p >= 0x7f)
			break;
	if (*p == '\0')
		return s;
	n = td_log_escape(NULL, 0, s);
	*tmp = xmalloc(n + 1);
	(void)td_log_escape(*tmp, n + 1, s);
	return *tmp;
}

static int
resolve_tid(struct store *st, const char *id, char out[65])
{
	return cmd_resolve(st, "SELECT id FROM transmissions WHERE "
	    "substr(id, 1, ?1) = ?2 LIMIT 2", "transmission", id, out, 64);
}

static int
q_list(struct store *st)
{
	sqlite3_stmt *s;
	char ts[TD_RFC3339_MAX], *t1, *t2;
	int n = 0;

	s = store_prepare(st, "SELECT id, name, received_at, reason_code, "
	    "reason_message, records_in, dlq FROM transmissions WHERE state = "
	    "'quarantined' ORDER BY seq");
	while (sqlite3_step(s) == SQLITE_ROW) {
		td_rfc3339(sqlite3_column_int64(s, 2), ts);
		/* dlq: of a quarantined one, the rows rejected (intake.c) */
		printf("%s %s %s rows=%lld rejected=%lld file=%s: %s\n",
		    (const char *)sqlite3_column_text(s, 0), ts,
		    (const char *)sqlite3_column_text(s, 3),
		    (long long)sqlite3_column_int64(s, 5),
		    (long long)sqlite3_column_int64(s, 6),
		    cmd_tty((const char *)sqlite3_column_text(s, 1), &t1),
		    cmd_tty((const char *)sqlite3_column_text(s, 4), &t2));
		x_free(t1);
		x_free(t2);
		n++;
	}
	sqlite3_reset(s);
	if (n == 0)
		printf("nothing is quarantined\n");
	return 0;
}

/*
 * Where the dead letters of the quarantined tid are: the samples kept
 * beside its reason.json (how many), or the whole file an older release
 * of tradedrop kept in dlq/.
 */
static void
q_show_samples(const char *sd, const char *tid)
{
	char *p, *buf = NULL;
	size_t len, i, n = 0;

	p = xasprintf("%s/quarantine/%s/" QUARANTINE_SAMPLE_FILE, sd, tid);
	if (td_read_file(p, QUARANTINE_SAMPLE_BYTES, &buf, &len) == 0) {
		for (i = 0; i < len; i++)
			n += buf[i] == '\n';
		printf("dead letters: the first %zu, as samples (the "
		    "rejections above count them all; a release writes "
		    "them all to dlq/): %s\n", n, p);
	}
	x_free(buf);
	x_free(p);
	p = xasprintf("%s/dlq/%s.ndjson", sd, tid);
	if (access(p, F_OK) == 0)
		printf("dead letters: %s\n", p);
	x_free(p);
}

static int
q_show(struct store *st, const struct td_conf *c, const char *tid)
{
	sqlite3_stmt *s;
	char *p, *reason = NULL, *t1, *t2, *carg;
	const char *name, *sd = td_conf_str(c, TDK_integration_state_dir);
	size_t len;
	int r = 1;

	s = store_prepare(st, "SELECT name, archive_dir, state FROM "
	    "transmissions WHERE id = ?");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		name = cmd_tty((const char *)sqlite3_column_text(s, 0), &t1);
		printf("transmission %s\nstate: %s\nfile: %s\nraw: %s/%s/raw/"
		    "%s\n", tid, (const char *)sqlite3_column_text(s, 2), name,
		    sd, (const char *)sqlite3_column_text(s, 1), name);
		x_free(t1);
		if (strcmp((const char *)sqlite3_column_text(s, 2),
		    "quarantined") == 0) {
			p = xasprintf("%s/quarantine/%s/reason.json", sd, tid);
			if (td_read_file(p, 1 << 20, &reason, &len) == 0) {
				/* JSON, but the file may have been edited */
				if (len > 0 && reason[len - 1] == '\n')
					reason[len - 1] = '\0';
				printf("reason: %s\n", cmd_tty(reason, &t2));
				x_free(t2);
			}
			x_free(p);
			q_show_samples(sd, tid);
			carg = ctx_conf_arg(c);
			printf("next: fix the configuration, then `tradedrop "
			    "quarantine %s release %s`; or `tradedrop "
			    "quarantine %s drop %s --reason TEXT`\n", carg,
			    tid, carg, tid);
			x_free(carg);
		}
		r = 0;
	}
	sqlite3_reset(s);
	x_free(reason);
	return r;
}

/* Who decides: the user behind sudo, or this process's user. */
const char *
cmd_decider(void)
{
	const char *u = getenv("SUDO_USER");
	struct passwd *pw;

	if (u != NULL && *u != '\0')
		return u;
	if ((pw = getpwuid(getuid())) != NULL)
		return pw->pw_name;
	return "unknown";
}

/*
 * The context of a decision: the lock, state.db, the audit log, the
 * mapper. 0, or the exit status (the error said).
 */
int
cmd_ctx_open(struct td_ctx *x, struct td_conf *c)
{
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if ((rc = ctx_open(x, c, CTX_MAPPER)) == 0)
		return 0;
	ctx_close(x);
	return rc == TD_ERR_INVAL ? EXIT_USAGE : rc == TD_ERR_EXISTS ?
	    EXIT_ONCE_UNDELIVERED : EXIT_INTERNAL;
}

/* release or drop: with the lock, state.db and the audit log. */
static int
q_decide(struct td_conf *c, const char *verb, const char *id,
    const char *reason)
{
	struct td_ctx x;
	sqlite3_stmt *s;
	char tid[65], *state = NULL;
	int64_t dlq = 0;
	int rc;

	if ((rc = cmd_ctx_open(&x, c)) != 0)
		return rc;
	if (resolve_tid(x.st, id, tid) != 0) {
		ctx_close(&x);
		return 1;
	}
	if (strcmp(verb, "drop") == 0) {
		rc = intake_drop(&x, tid, reason, cmd_decider()) == 0 ? 0 : 1;
		if (rc == 0)
			printf("transmission %s dropped; its raw file and the "
			    "decision stay in the archive\n", tid);
		ctx_close(&x);
		return rc;
	}
	if (intake_release(&x, tid) != 0) {
		ctx_close(&x);
		return 1;
	}
	/* the whole pipeline again, then delivery, as `once` does */
	(void)intake_process_pending(&x);
	sandbox_release();	/* not kept through the deliveries */
	deliver_all(&x);
	s = store_prepare(x.st, "SELECT state, dlq + held FROM transmissions "
	    "WHERE id = ?");
	sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		state = xstrdup((const char *)sqlite3_column_text(s, 0));
		dlq = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	if (x.run.failed || state == NULL)
		rc = EXIT_INTERNAL;
	else if (strcmp(state, "delivered") == 0)
		rc = dlq > 0 ? EXIT_ONCE_REJECTS : EXIT_ONCE_OK;
	else if (strcmp(state, "quarantined") == 0)
		rc = EXIT_ONCE_REJECTS;
	else
		rc = EXIT_ONCE_UNDELIVERED;
	printf("transmission %s released: %s\n", tid, state ? state :
	    "unknown");
	x_free(state);
	ctx_close(&x);
	return rc;
}

/*
 * The driver of `quarantine` and `hold`: -c FILE, --reason TEXT, then
 * list, show ID, or one of the two decisions (which take the lock).
 */
int
cmd_decide_main(int argc, char **argv, const struct cmd_verbs *v)
{
	static const struct option longopts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	const char *path = td_default_conf(), *verb, *reason = NULL, *sd;
	struct td_conf *c;
	struct store *st = NULL;
	char *err = NULL;
	int ch, rc, nargs, decide, list;

	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'r':
			reason = optarg;
			break;
		default:
			fprintf(stderr, "usage: tradedrop %s\n", v->usage);
			return EXIT_USAGE;
		}
	}
	nargs = argc - optind;
	verb = nargs > 0 ? argv[optind] : "";
	list = strcmp(verb, "list") == 0;
	decide = strcmp(verb, v->yes) == 0 || strcmp(verb, v->no) == 0;
	if (!((list && nargs == 1) || ((decide || strcmp(verb, "show") == 0)
	    && nargs == 2)) || (reason != NULL && !decide)) {
		fprintf(stderr, "usage: tradedrop %s\n", v->usage);
		return EXIT_USAGE;
	}
	if (decide && (strcmp(verb, v->no) == 0 || v->yes_reason) &&
	    (reason == NULL || *reason == '\0' || strlen(reason) >
	    REASON_MAX)) {
		fprintf(stderr, "tradedrop: %s %s needs --reason TEXT (1 to "
		    "%d bytes): the decision is audited\n", v->name, verb,
		    REASON_MAX);
		return EXIT_USAGE;
	}
	if ((c = td_load_conf_or_report(path)) == NULL)
		return EXIT_USAGE;
	if (decide) {
		rc = v->decide(c, verb, argv[optind + 1], reason);
		td_conf_free(c);
		return rc;
	}
	sd = td_conf_str(c, TDK_integration_state_dir);
	err = xasprintf("%s/state.db", sd);
	rc = access(err, F_OK);
	x_free(err);
	err = NULL;
	if (rc != 0) {
		if (list)
			printf("%s\n", v->empty);
		td_conf_free(c);
		return list ? 0 : 1;
	}
	if (store_open(sd, 1, &st, &err) != 0) {
		fprintf(stderr, "tradedrop: %s\n", err);
		x_free(err);
		td_conf_free(c);
		return 1;
	}
	rc = list ? v->list(st) : v->show(st, c, argv[optind + 1]);
	store_close(st);
	td_conf_free(c);
	return rc;
}

/* show: the id resolved first */
static int
q_show_id(struct store *st, const struct td_conf *c, const char *id)
{
	char tid[65];

	if (resolve_tid(st, id, tid) != 0)
		return 1;
	return q_show(st, c, tid);
}

int
cmd_quarantine(int argc, char **argv)
{
	static const struct cmd_verbs v = {
		"quarantine", QUSAGE, "release", "drop", 0,
		"nothing is quarantined", q_list, q_show_id, q_decide
	};

	return cmd_decide_main(argc, argv, &v);
}
