/*
 * cmd-replay.c - the `replay` command: re-process the archived raw file
 * of a transmission with today's mapping, as a new logical transmission
 * (intake_replay, in intake.h) that the pipeline then processes and
 * delivers as `once` would. With --dry-run, the file is only read: what
 * the replay would deliver, dead-letter, hold or withhold is counted
 * against the ledger as it stands, and nothing is written.
 */
#include "config.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "td.h"
#include "buf.h"
#include "conf.h"
#include "hash.h"
#include "store.h"
#include "map.h"
#include "process.h"
#include "ledger.h"
#include "ctx.h"
#include "tx.h"
#include "intake.h"
#include "sandbox.h"
#include "agent.h"

#define RUSAGE	"replay [-c FILE] [--dry-run] TRANSMISSION_ID"

static int
resolve(struct store *st, const char *id, char out[TD_SHA256_HEX])
{
	return cmd_resolve(st, "SELECT id FROM transmissions WHERE "
	    "substr(id, 1, ?1) = ?2 LIMIT 2", "transmission", id, out,
	    TD_SHA256_HEX - 1);
}

/* --dry-run: a sink that keeps nothing but asks the ledger. */
struct dry {
	struct td_buf	 buf;
	struct ledger	*ledger;
};

static struct td_buf *
dry_buffer(void *arg)
{
	struct dry *d = arg;

	td_buf_reset(&d->buf);
	return &d->buf;
}

static int
dry_batch(void *arg, struct td_buf *b, uint64_t n,
    const struct batch_totals *bt)
{
	(void)arg;
	(void)n;
	(void)bt;
	td_buf_reset(b);
	return 0;
}

static int
dry_reject(void *arg, const struct rejection *rj)
{
	(void)arg;
	(void)rj;
	return 0;	/* counted by code in the proc_result */
}

static int
dry_reset(void *arg, size_t doc, int mixed)
{
	struct dry *d = arg;

	(void)mixed;
	return doc == SIZE_MAX ? ledger_again(d->ledger) :
	    ledger_reset(d->ledger);
}

static int
dry_ledger(void *arg, struct map_result *mr, struct td_buf *b,
    size_t start, struct ledger_verdict *v)
{
	struct dry *d = arg;

	return ledger_check(d->ledger, mr, b, start, v);
}

static int
dry_pass_end(void *arg, int *again)
{
	struct dry *d = arg;

	return ledger_pass_end(d->ledger, again);
}

/* Print what the replay of o under x's mapping would do: 0, or 1. */
static int
dry_run(struct td_ctx *x, const struct tx *o, const char *rid)
{
	struct dry d;
	const struct proc_sink sink = {
		.buffer = dry_buffer, .batch = dry_batch, .reject = dry_reject,
		.reset = dry_reset, .ledger = dry_ledger,
		.pass_end = dry_pass_end, .arg = &d
	};
	struct proc_opts po;
	struct proc_result res;
	struct td_buf codes;
	char *raw;
	int fd, r;

	memset(&d, 0, sizeof(d));
	memset(&po, 0, sizeof(po));
	memset(&res, 0, sizeof(res));
	raw = xasprintf("%s/%s/raw/%s", x->state_dir, o->archive_dir,
	    o->name);
	if ((fd = open(raw, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		fprintf(stderr, "tradedrop: %s: cannot be read\n", raw);
		x_free(raw);
		return 1;
	}
	td_buf_init(&d.buf, 4096, 0);
	po.transmission_id = o->id;
	po.file = o->name;
	po.batch_records = x->batch_records;
	if ((r = ledger_open(x, &d.ledger)) == 0)
		r = process_file(x->map, x->conf, fd, &po, &sink, &res);
	close(fd);
	if (r != 0 || res.ioerr != 0) {
		fprintf(stderr, "tradedrop: %s: %s\n", raw,
		    td_errstr(r ? r : res.ioerr));
		r = 1;
	} else if (res.t2code != NULL) {
		printf("dry run: the replay %s of transmission %s would be "
		    "quarantined: %s\n", rid, o->id, res.t2code);
		r = 1;
	} else {
		td_buf_init(&codes, 64, 0);
		rej_counts_text(&res.by_code, &codes);
		printf("dry run: the replay %s of transmission %s under "
		    "mapping_version %s would read %llu rows: %llu delivered, "
		    "%llu dead-lettered%s%s%s, %llu held, %llu duplicate, %llu "
		    "summed, %llu unknown_promo; nothing was changed\n", rid,
		    o->id, mapper_version(x->map),
		    (unsigned long long)res.rows,
		    (unsigned long long)res.records,
		    (unsigned long long)res.rejected, codes.len ? " (" : "",
		    td_buf_cstr(&codes), codes.len ? ")" : "",
		    (unsigned long long)res.held,
		    (unsigned long long)res.duplicate,
		    (unsigned long long)res.summed,
		    (unsigned long long)res.unknown_promo);
		td_buf_free(&codes);
	}
	ledger_free(d.ledger);	/* its TEMP tables only: nothing kept */
	proc_result_clear(&res);
	td_buf_free(&d.buf);
	x_free(raw);
	return r;
}

/*
 * --dry-run opens state.db read-only and takes no lock: like `status`,
 * it may run beside the daemon.
 */
static int
replay_dry(struct td_conf *c, const char *id)
{
	struct td_ctx x;
	struct tx o, e;
	char *err = NULL, tid[TD_SHA256_HEX], rid[TD_SHA256_HEX];
	int rc = 1;

	memset(&x, 0, sizeof(x));
	x.conf = c;
	x.integration = td_conf_str(c, TDK_integration_name);
	x.state_dir = xstrdup(td_conf_str(c, TDK_integration_state_dir));
	x.batch_records = td_conf_u64(c, TDK_output_batch_records);
	if (store_open(x.state_dir, 1, &x.st, &err) != 0) {
		fprintf(stderr, "tradedrop: %s\n", err);
		goto out;
	}
	if (mapper_new(c, &x.map, &err) != 0) {
		fprintf(stderr, "tradedrop: %s: %s\n", td_conf_path(c), err);
		rc = EXIT_USAGE;
		goto out;
	}
	if (resolve(x.st, id, tid) != 0 ||
	    intake_replay_source(&x, tid, &o) != 0)
		goto out;
	if (!intake_replayed_as(&x, o.id, mapper_version(x.map), rid))
		intake_replay_id(o.id, mapper_version(x.map), rid);
	if (strcmp(o.mapping_version, mapper_version(x.map)) == 0) {
		printf("dry run: transmission %s was processed with this "
		    "mapping_version (%s): a replay would deliver nothing "
		    "new\n", o.id, o.mapping_version);
		rc = 0;
	} else if (tx_load(&x, rid, &e) == 0) {
		printf("dry run: transmission %s was replayed under this "
		    "mapping_version already, as %s (%s): nothing new\n",
		    o.id, rid, e.state);
		tx_free(&e);
		rc = 0;
	} else
		rc = dry_run(&x, &o, rid);
	tx_free(&o);
 out:
	x_free(err);
	mapper_free(x.map);
	store_close(x.st);
	x_free(x.state_dir);
	return rc;
}

static int
replay(struct td_conf *c, const char *id)
{
	struct td_ctx x;
	struct tx t;
	char tid[TD_SHA256_HEX], rid[TD_SHA256_HEX];
	int rc, r;

	if ((rc = cmd_ctx_open(&x, c)) != 0)
		return rc;
	if (resolve(x.st, id, tid) != 0) {
		ctx_close(&x);
		return 1;
	}
	r = intake_replay(&x, tid, cmd_decider(), rid);
	if (r == TD_ERR_EXISTS) {
		if (tx_load(&x, rid, &t) == 0 && t.replay_of == NULL)
			printf("transmission %s was processed with this "
			    "mapping_version (%s): nothing new to replay\n",
			    rid, mapper_version(x.map));
		else
			printf("transmission %s was replayed under this "
			    "mapping_version already, as %s (%s): nothing "
			    "new\n", t.replay_of ? t.replay_of : tid, rid,
			    t.state ? t.state : "unknown");
		tx_free(&t);
		ctx_close(&x);
		return 0;
	}
	if (r != 0) {
		ctx_close(&x);
		return 1;
	}
	/* the whole pipeline, then delivery, as `once` does */
	(void)intake_process_pending(&x);
	sandbox_release();	/* not kept through the deliveries */
	deliver_all(&x);
	if (x.run.failed || tx_load(&x, rid, &t) != 0)
		rc = EXIT_INTERNAL;
	else {
		if (strcmp(t.state, "delivered") == 0)
			rc = t.dlq + t.held > 0 ? EXIT_ONCE_REJECTS :
			    EXIT_ONCE_OK;
		else if (strcmp(t.state, "quarantined") == 0)
			rc = EXIT_ONCE_REJECTS;
		else
			rc = EXIT_ONCE_UNDELIVERED;
		printf("transmission %s replayed as %s under mapping_version "
		    "%s: %s; %llu rows: %llu delivered, %llu dead-lettered, "
		    "%llu held, %llu duplicate\n", t.replay_of, rid,
		    mapper_version(x.map), t.state,
		    (unsigned long long)t.records_in,
		    (unsigned long long)t.delivered,
		    (unsigned long long)t.dlq, (unsigned long long)t.held,
		    (unsigned long long)t.duplicate);
		tx_free(&t);
	}
	ctx_close(&x);
	return rc;
}

int
cmd_replay(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char *path;
	struct td_conf *c;
	int dry = 0, rc;

	if (cmd_conf_opt(argc, argv, RUSAGE, &path, longopts, &dry) != 0)
		return EXIT_USAGE;
	if (optind != argc - 1) {
		fprintf(stderr, "usage: tradedrop " RUSAGE "\n");
		return EXIT_USAGE;
	}
	if ((c = td_load_conf_or_report(path)) == NULL)
		return EXIT_USAGE;
	rc = dry ? replay_dry(c, argv[optind]) : replay(c, argv[optind]);
	td_conf_free(c);
	return rc;
}
