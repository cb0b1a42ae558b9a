/*
 * cmd-try.c - the `try` command: the pipeline on sample files, without state.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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
#include "deliver.h"
#include "backoff.h"
#include "sftp.h"
#include "agent.h"

struct trysink {
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

static int
try_reject(void *arg, const struct rejection *rj)
{
	struct trysink *t = arg;

	t->rejected++;
	if (rj->member != NULL)
		fprintf(t->err, "%s!/%s:%llu: tier %d %s: %s\n", t->file,
		    rj->member, (unsigned long long)rj->line, rj->tier,
		    rj->code, rj->message);
	else
		fprintf(t->err, "%s:%llu: tier %d %s: %s\n", t->file,
		    (unsigned long long)rj->line, rj->tier, rj->code,
		    rj->message);
	return 0;
}

/*
 * A file's first attempt, or encoding = auto starting it over: what the
 * attempt before wrote is forgotten.
 */
static int
try_reset(void *arg, size_t doc)
{
	struct trysink *t = arg;

	(void)doc;
	if (t->out == NULL && ((t->out = tmpfile()) == NULL ||
	    (t->err = tmpfile()) == NULL))
		td_fatal("tmpfile: %s", strerror(errno));
	if (ftruncate(fileno(t->out), 0) != 0 ||
	    ftruncate(fileno(t->err), 0) != 0)
		td_fatal("ftruncate: %s", strerror(errno));
	rewind(t->out);
	rewind(t->err);
	td_buf_reset(&t->buf);
	t->rejected = 0;
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

/*
 * Each file's attempts write to temporary files; what the last attempt
 * wrote is shown, and its records only when the file as a whole would be
 * taken: a file `once` would quarantine (Tier 2) shows its rejections,
 * then the verdict, and no record.
 */
int
cmd_try(int argc, char **argv)
{
	const char *path;
	struct td_conf *c;
	struct mapper *m = NULL;
	struct trysink ts;
	struct proc_sink sink;
	struct proc_result res;
	struct proc_opts po;
	char tid[TD_SHA256_HEX], *err = NULL;
	const char *base;
	int i, fd, r, rc = 0;

	if (cmd_conf_opt(argc, argv, "try [-c FILE] FILE...", &path, NULL,
	    NULL) != 0)
		return EXIT_USAGE;
	if (optind == argc) {
		fprintf(stderr, "usage: tradedrop try [-c FILE] FILE...\n");
		return EXIT_USAGE;
	}
	if ((c = td_load_conf_or_report(path)) == NULL)
		return EXIT_USAGE;
	if (mapper_new(c, &m, &err) != 0) {
		fprintf(stderr, "tradedrop: %s: %s\n", path, err);
		x_free(err);
		td_conf_free(c);
		return EXIT_USAGE;
	}
	memset(&ts, 0, sizeof(ts));
	td_buf_init(&ts.buf, 1 << 20, 0);
	sink.buffer = try_buffer;
	sink.batch = try_batch;
	sink.reject = try_reject;
	sink.reset = try_reset;
	sink.ledger = NULL;	/* no state: no Tier 4 */
	sink.arg = &ts;
	for (i = optind; i < argc; i++) {
		ts.file = argv[i];
		if ((fd = open(argv[i], O_RDONLY | O_CLOEXEC)) < 0) {
			fprintf(stderr, "tradedrop: %s: %s\n", argv[i],
			    strerror(errno));
			rc = 1;
			continue;
		}
		if (td_sha256_fd(fd, tid) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
			fprintf(stderr, "tradedrop: %s: %s\n", argv[i],
			    strerror(errno));
			close(fd);
			rc = 1;
			continue;
		}
		base = strrchr(argv[i], '/');
		base = base ? base + 1 : argv[i];
		memset(&po, 0, sizeof(po));
		po.transmission_id = tid;
		po.file = base;
		po.batch_records = td_conf_u64(c, TDK_output_batch_records);
		/* with encoding = auto a document may have to start over as
		 * windows-1252 (try_reset again): only the last attempt counts */
		(void)try_reset(&ts, 0);
		r = process_file(m, c, fd, &po, &sink, &res);
		fflush(ts.out);
		fflush(ts.err);
		if (r == 0 && res.t2code == NULL)
			try_flush(ts.out, stdout);
		try_flush(ts.err, stderr);
		if (r != 0) {
			fprintf(stderr, "tradedrop: %s: %s\n", argv[i],
			    td_strerror(r));
			rc = 1;
		} else if (res.t2code != NULL) {
			fprintf(stderr, "%s: tier 2 %s: %s\n", argv[i],
			    res.t2code, res.t2msg);
			fprintf(stderr, "%s: the whole file would be quarantined: "
			    "none of its records is shown, none would be "
			    "delivered\n", argv[i]);
			rc = 1;
		}
		if (ts.rejected > 0)
			rc = 1;
		proc_result_clear(&res);
		close(fd);
	}
	fflush(stdout);
	if (ts.out != NULL) {
		fclose(ts.out);
		fclose(ts.err);
	}
	td_buf_free(&ts.buf);
	mapper_free(m);
	td_conf_free(c);
	return rc;
}

