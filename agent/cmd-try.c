/*
 * cmd-try.c - the `try` command: the pipeline on sample files, without
 * state, and the verdict `once` would reach on each: verification of its
 * sidecars, its records, its rejections, the file-level tier 2 codes, a
 * summary, and the exit status `once` would have.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "td.h"
#include "audit.h"
#include "buf.h"
#include "conf.h"
#include "failpoint.h"
#include "fsutil.h"
#include "hash.h"
#include "json.h"
#include "log.h"
#include "store.h"
#include "map.h"
#include "process.h"
#include "intake.h"
#include "landing.h"
#include "deliver.h"
#include "backoff.h"
#include "sftp.h"
#include "num.h"
#include "sidecar.h"
#include "verify.h"
#include "agent.h"
#include "ctx.h"
#include "ledger.h"

struct trysink {
	struct ledger	*ledger;	/* this file's keys only (no state) */
	struct td_buf	 buf;
	const char	*file;
	uint64_t	 rejected;
	FILE		*out;		/* records of this attempt */
	FILE		*err;		/* its rejections */
};

static struct td_buf *
try_buffer(void *arg)
{
	struct trysink *t = arg;

	return &t->buf;
}

static int
try_batch(void *arg, struct td_buf *b, uint64_t n,
    const struct batch_totals *bt)
{
	struct trysink *t = arg;

	if (fwrite(b->p, 1, b->len, t->out) != b->len)
		return TD_ERR_IO;
	td_buf_reset(b);
	return 0;
}

/*
 * The sender's text s as printed: unchanged when it is plain text (valid
 * UTF-8 without a control character, as once's records give it), else
 * escaped as in the log, so that no control byte reaches the terminal.
 */
static const char *
try_text(const char *s, char **tmp)
{
	*tmp = NULL;
	if (s != NULL && strpbrk(s, "\"\\") == NULL &&
	    td_log_escape(NULL, 0, s) <= strlen(s) + 2)
		return s;	/* at most quoted: nothing to escape */
	return cmd_tty(s, tmp);
}

static int
try_reject(void *arg, const struct rejection *rj)
{
	struct trysink *t = arg;
	char *t1, *t2;
	const char *msg = try_text(rj->message, &t1);

	/* the member name and the message are the sender's text */
	t->rejected++;
	if (rj->member != NULL)
		fprintf(t->err, "%s!/%s:%llu: tier %d %s: %s\n", t->file,
		    try_text(rj->member, &t2), (unsigned long long)rj->line,
		    rj->tier, rj->code, msg);
	else {
		t2 = NULL;
		fprintf(t->err, "%s:%llu: tier %d %s: %s\n", t->file,
		    (unsigned long long)rj->line, rj->tier, rj->code, msg);
	}
	x_free(t1);
	x_free(t2);
	return 0;
}

/*
 * A file's first attempt, or encoding = auto starting it over: what the
 * attempt before wrote is forgotten.
 */
static int
try_reset(void *arg, size_t doc, int mixed)
{
	struct trysink *t = arg;

	(void)mixed;
	/* a key met twice: read again to dead-letter each of its rows, as
	 * once does; otherwise everything is forgotten */
	if (t->ledger != NULL && (doc == SIZE_MAX ? ledger_again(t->ledger) :
	    ledger_reset(t->ledger)) != 0)
		return TD_ERR_STATE;
	if (t->out == NULL && ((t->out = tmpfile()) == NULL ||
	    (t->err = tmpfile()) == NULL))
		td_fatal("tmpfile: %s", strerror(errno));
	/* what stdio still holds of the attempt before goes first: after
	 * the truncation it would land past the new end, as zeros */
	if (fflush(t->out) != 0 || fflush(t->err) != 0 ||
	    ftruncate(fileno(t->out), 0) != 0 ||
	    ftruncate(fileno(t->err), 0) != 0)
		td_fatal("ftruncate: %s", strerror(errno));
	rewind(t->out);
	rewind(t->err);
	td_buf_reset(&t->buf);
	t->rejected = 0;
	return 0;
}

static int
try_ledger(void *arg, struct map_result *mr, struct td_buf *b, size_t start,
    struct ledger_verdict *v)
{
	struct trysink *t = arg;

	return ledger_check(t->ledger, mr, b, start, v);
}

static int
try_pass_end(void *arg, int *again)
{
	struct trysink *t = arg;

	return ledger_pass_end(t->ledger, again);
}

/*
 * A ledger on a scratch state.db in a new directory under TMPDIR: it
 * knows no earlier transmission, so it finds only what is in the file.
 */
static int
try_ledger_open(struct td_conf *c, struct td_ctx *lx, struct ledger **out,
    char **scratch)
{
	const char *tmp = getenv("TMPDIR");
	char *err = NULL;
	int r, level = td_log_level_from_name(td_conf_str(c,
	    TDK_integration_log_level));

	memset(lx, 0, sizeof(*lx));
	lx->conf = c;
	lx->state_dir = xstrdup(tmp != NULL && *tmp == '/' ? tmp : "/tmp");
	*scratch = xasprintf("%s/tradedrop-try.XXXXXX", lx->state_dir);
	if (mkdtemp(*scratch) == NULL) {
		fprintf(stderr, "tradedrop: %s: %s\n", *scratch,
		    strerror(errno));
		x_free(*scratch);
		*scratch = NULL;
		return TD_ERR_IO;
	}
	/* a scratch state.db is no news: its migration is not logged */
	td_log_set_level(TD_LOG_WARN);
	r = store_open(*scratch, 0, &lx->st, &err);
	td_log_set_level(level);
	if (r != 0 || ledger_open(lx, out) != 0) {
		fprintf(stderr, "tradedrop: %s: %s\n", *scratch,
		    err != NULL ? err : "cannot open a scratch ledger");
		x_free(err);
		return TD_ERR_STATE;
	}
	return 0;
}

/* Copy what an attempt wrote to a temporary file to f. */
static void
try_flush(FILE *tmp, FILE *f)
{
	char b[65536];
	size_t n;

	rewind(tmp);
	while ((n = fread(b, 1, sizeof(b), tmp)) > 0)
		(void)!fwrite(b, 1, n, f);
}

/* The sidecars a required one is looked for among, as `once` says. */
static void
try_wait_note(const struct td_conf *c, const char *file, const char *code)
{
	int sig = strcmp(code, "signature_missing") == 0;

	fprintf(stderr, "%s: no %s sidecar beside it (%s): once would wait "
	    "for one up to sidecar_wait (%" PRIu64 "s) after the file landed, "
	    "then take it and refuse it:\n", file, sig ? "signature" :
	    "checksum", sig ? "NAME.minisig" : "NAME.sha256, NAME.sha512 or a "
	    "SHA256SUMS or SHA512SUMS naming it",
	    td_conf_u64(c, TDK_verify_sidecar_wait));
}

/*
 * Verify path against the sidecars beside it per [verify], as intake
 * does with those claimed with a file: v->code is the tier 2 code when
 * it would be refused. tid gets its SHA-256. Returns 0 or TD_ERR_IO.
 */
static int
try_verify(const struct td_conf *c, const struct minisign_key *keys,
    size_t nkeys, const char *path, int fd, char tid[TD_SHA256_HEX],
    struct verification *v)
{
	struct sidecars sc;
	char *dir, sha512hex[129];
	const char *base = strrchr(path, '/');
	uint8_t b2[64];
	uint64_t size;
	int r;

	dir = base == NULL ? xstrdup(".") : base == path ? xstrdup("/") :
	    xstrndup(path, (size_t)(base - path));
	base = base ? base + 1 : path;
	sidecar_find(dir, base, &sc);
	r = intake_hash_fd(fd, sidecar_wants(&sc), tid, sha512hex, b2, &size);
	if (r == 0 && lseek(fd, 0, SEEK_SET) != 0)
		r = TD_ERR_IO;
	if (r == 0)
		sidecar_verify(c, keys, nkeys, dir, base, &sc, tid,
		    sha512hex[0] ? sha512hex : NULL, b2, v);
	sidecar_free(&sc);
	x_free(dir);
	return r;
}

/* What was checked, when a sidecar was: one line. */
static void
try_verified(const char *file, const struct verification *v)
{
	if (strcmp(v->checksum, "ok") != 0 && strcmp(v->signature, "ok") != 0)
		return;
	fprintf(stderr, "%s: verified: checksum %s%s%s%s, signature %s%s%s\n",
	    file, v->checksum, v->checksum_algo ? " (" : "",
	    v->checksum_algo ? v->checksum_algo : "", v->checksum_algo ? ")" :
	    "", v->signature, v->key_id[0] ? ", key id " : "", v->key_id);
}

/*
 * The summary of a file: rows read, records, rejections by code, the
 * control totals and the period covered.
 */
/*
 * With encoding = auto, each document read as anything but UTF-8, and
 * what it was read as: the records do not say, and a Windows-1252 export
 * taken for UTF-8 (or the reverse) changes every accented value mapped.
 */
static void
try_decoded(const struct td_conf *c, const char *file,
    const struct proc_result *res)
{
	const struct proc_doc *d;
	char *t = NULL;
	size_t i;

	if (!td_conf_enum_is(c, TDK_decode_encoding, "auto"))
		return;
	for (i = 0; i < res->ndocs; i++) {
		d = &res->docs[i];
		if (strcmp(d->encoding, "utf-8") == 0)
			continue;
		fprintf(stderr, "%s%s%s: decoded as %s (encoding = auto)\n",
		    file, d->member != NULL ? "!/" : "", d->member != NULL ?
		    try_text(d->member, &t) : "", d->encoding);
		x_free(t);
	}
}

static void
try_summary(const char *file, const struct proc_result *res)
{
	char q[TD_DEC_STRMAX], a[TD_DEC_STRMAX];
	struct td_buf b;

	td_buf_init(&b, 64, 0);
	rej_counts_text(&res->by_code, &b);
	td_dec_format(&res->quantity, q, sizeof(q));
	td_dec_format(&res->amount, a, sizeof(a));
	fprintf(stderr, "%s: summary: rows %llu, records %llu, rejected %llu"
	    "%s%s%s; quantity %s, amount %s; period %s%s%s\n", file,
	    (unsigned long long)res->rows, (unsigned long long)res->records,
	    (unsigned long long)res->rejected, b.len ? " (" : "",
	    td_buf_cstr(&b), b.len ? ")" : "", q, res->has_amount ? a : "none",
	    res->first_date[0] ? res->first_date : "none",
	    res->first_date[0] ? " to " : "", res->last_date);
	td_buf_free(&b);
}

/* Why once would never take a landing file of this name, or NULL. */
static const char *
try_not_taken(const struct td_conf *c, const char *file)
{
	const char *base = strrchr(file, '/');

	base = base ? base + 1 : file;
	switch (landing_name_class(c, base)) {
	case LANDING_IGNORED:
		return "once would leave it in landing: its name matches "
		    "[watch] ignore";
	case LANDING_SIDECAR:
		return "a checksum or signature sidecar, which once never "
		    "takes as a transmission: it travels with its data file";
	case LANDING_UNMATCHED:
		return "once would leave it in landing: its name does not "
		    "match [watch] pattern";
	case LANDING_OWN:
		return "once would leave it in landing: one of the daemon's "
		    "own names there (an SFTP download's .NAME.part, "
		    ".NAME.part.info or .NAME.part.tmp, or .td-HEX.tmp)";
	case LANDING_TAKEN:
		break;
	}
	return NULL;
}

/*
 * Each file's attempts write to temporary files; what the last attempt
 * wrote is shown, and its records only when the file as a whole would be
 * taken: a file `once` would quarantine (Tier 2) shows its rejections,
 * then the verdict, and no record. A file that fails verification is
 * not parsed, as in `once`.
 */
static int
try_one(struct mapper *m, const struct td_conf *c,
    const struct minisign_key *keys, size_t nkeys, const char *file,
    uint64_t first, struct trysink *ts, const struct proc_sink *sink)
{
	struct verification v;
	struct proc_result res;
	struct proc_opts po;
	char tid[TD_SHA256_HEX], *tf, *tm = NULL;
	const char *base, *why, *shown;
	int fd, r, rc = EXIT_ONCE_OK;

	memset(&res, 0, sizeof(res));
	/* the file's name and what is said of its content are printed
	 * escaped, as in the log: they are the sender's text */
	shown = try_text(file, &tf);
	ts->file = shown;
	if ((why = try_not_taken(c, file)) != NULL) {
		fprintf(stderr, "%s: not a drop: %s\n", shown, why);
		/* once leaves it in landing: nothing of it would be
		 * delivered, as of a file that cannot be read; a script
		 * trying sample files must not take it for a good one */
		rc = EXIT_ONCE_REJECTS;
		goto out;
	}
	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "tradedrop: %s: %s\n", shown, strerror(errno));
		rc = EXIT_ONCE_REJECTS;		/* once refuses it */
		goto out;
	}
	if (try_verify(c, keys, nkeys, file, fd, tid, &v) != 0) {
		fprintf(stderr, "tradedrop: %s: %s\n", shown, strerror(errno));
		close(fd);
		rc = EXIT_ONCE_REJECTS;
		goto out;
	}
	if (v.code != NULL) {
		if (strcmp(v.code, "checksum_missing") == 0 ||
		    strcmp(v.code, "signature_missing") == 0)
			try_wait_note(c, shown, v.code);
		fprintf(stderr, "%s: tier 2 %s: %s\n", shown, v.code,
		    try_text(v.msg, &tm));
		fprintf(stderr, "%s: the whole file would be quarantined before "
		    "it is parsed: nothing of it would be delivered\n", shown);
		close(fd);
		rc = EXIT_ONCE_REJECTS;
		goto out;
	}
	try_verified(shown, &v);
	base = strrchr(file, '/');
	base = base ? base + 1 : file;
	memset(&po, 0, sizeof(po));
	po.transmission_id = tid;
	po.file = base;
	po.batch_records = td_conf_u64(c, TDK_output_batch_records);
	po.max_rows = first;
	/* with encoding = auto a document may have to start over as
	 * windows-1252 (try_reset again): only the last attempt counts */
	(void)try_reset(ts, 0, 0);
	r = process_file(m, c, fd, &po, sink, &res);
	if (ledger_end(ts->ledger) != 0 && r == 0)
		r = TD_ERR_STATE;
	close(fd);
	fflush(ts->out);
	fflush(ts->err);
	if (r == 0 && res.t2code == NULL)
		try_flush(ts->out, stdout);
	fflush(stdout);
	try_flush(ts->err, stderr);
	if (r == 0) {
		proc_log_mixed(&res, shown);
		try_decoded(c, shown, &res);
	}
	if (r != 0) {
		fprintf(stderr, "tradedrop: %s: %s\n", shown, td_strerror(r));
		rc = r == TD_ERR_NOSPACE ? EXIT_ONCE_UNDELIVERED :
		    EXIT_INTERNAL;
	} else if (res.t2code != NULL) {
		fprintf(stderr, "%s: tier 2 %s: %s\n", shown, res.t2code,
		    try_text(res.t2msg, &tm));
		fprintf(stderr, "%s: the whole file would be quarantined: "
		    "none of its records is shown, none would be "
		    "delivered\n", shown);
		rc = EXIT_ONCE_REJECTS;
	} else {
		fprintf(stderr, "%s: accepted: once would deliver %llu "
		    "record%s and dead-letter %llu row%s\n", shown,
		    (unsigned long long)res.records, res.records == 1 ? "" :
		    "s", (unsigned long long)res.rejected,
		    res.rejected == 1 ? "" : "s");
		if (res.rejected > 0)
			rc = EXIT_ONCE_REJECTS;
	}
	if (r == 0 && res.partial)
		fprintf(stderr, "%s: partial: --first %" PRIu64 " stopped it "
		    "after %" PRIu64 " rows: the verdict and the summary are "
		    "of those rows only\n", shown, first, first);
	if (r == 0)
		try_summary(shown, &res);
	proc_result_clear(&res);
out:
	x_free(tf);
	x_free(tm);
	return rc;
}

int
cmd_try(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "first", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	static const char usage[] = "usage: tradedrop try [-c FILE] "
	    "[--first N] FILE...\n";
	const char *path = td_default_conf();
	struct td_conf *c;
	struct mapper *m = NULL;
	struct minisign_key *keys = NULL;
	struct trysink ts;
	struct proc_sink sink;
	struct td_ctx lx;
	char *err = NULL, *scratch = NULL;
	uint64_t first = 0;
	size_t nkeys = 0;
	int i, ch, r, rc = EXIT_ONCE_OK;

	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			if (td_parse_u64(optarg, strlen(optarg), 1, UINT64_MAX,
			    &first) == 0)
				break;
			fprintf(stderr, "tradedrop: --first %s: not a number of "
			    "rows from 1\n", optarg);
			/* FALLTHROUGH */
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind == argc) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if ((c = td_load_conf_or_report(path)) == NULL)
		return EXIT_USAGE;
	if (mapper_new(c, &m, &err) != 0 ||
	    sidecar_load_keys(c, &keys, &nkeys, &err) != 0) {
		fprintf(stderr, "tradedrop: %s: %s\n", path, err);
		x_free(err);
		mapper_free(m);
		td_conf_free(c);
		return EXIT_USAGE;
	}
	memset(&ts, 0, sizeof(ts));
	td_buf_init(&ts.buf, 1 << 20, 0);
	memset(&sink, 0, sizeof(sink));
	sink.buffer = try_buffer;
	sink.batch = try_batch;
	sink.reject = try_reject;
	sink.reset = try_reset;
	/* Tier 4 within the file (duplicate_key_in_file, duplicates =
	 * sum) needs no state: a ledger on an empty scratch state.db */
	if (try_ledger_open(c, &lx, &ts.ledger, &scratch) != 0) {
		rc = EXIT_INTERNAL;
		goto out;
	}
	sink.ledger = try_ledger;
	sink.pass_end = try_pass_end;
	sink.arg = &ts;
	/* the worst outcome, as once's: 4 over 3 over 1 over 0 */
	for (i = optind; i < argc; i++) {
		r = try_one(m, c, keys, nkeys, argv[i], first, &ts, &sink);
		rc = r > rc ? r : rc;
	}
	fflush(stdout);
	if (ts.out != NULL) {
		fclose(ts.out);
		fclose(ts.err);
	}
 out:
	td_buf_free(&ts.buf);
	ledger_free(ts.ledger);
	store_close(lx.st);
	if (scratch != NULL)
		(void)td_remove_tree(scratch, lx.state_dir);
	x_free(scratch);
	x_free(lx.state_dir);
	x_free(keys);
	mapper_free(m);
	td_conf_free(c);
	return rc;
}
