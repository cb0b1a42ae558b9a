/*
 * main.c - the tradedrop command line: one binary, one subcommand per job.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "td.h"
#include "conf.h"
#include "log.h"
#include "store.h"
#include "agent.h"

#ifndef TD_SYSCONFDIR
#define TD_SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONF TD_SYSCONFDIR "/tradedrop/tradedrop.conf"

static const struct command {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*usage;
	const char	*help;
} commands[] = {
	{ "check", cmd_check, "check [-c FILE] [--dump] [--connect]",
	    "validate the configuration; --dump prints it, secrets redacted" },
	{ "run", cmd_run, "run [-c FILE] [--foreground]",
	    "the daemon: watch, poll, process, deliver until SIGTERM" },
	{ "once", cmd_once, "once [-c FILE] [--reinitialise]",
	    "process everything in landing/, deliver, exit" },
	{ "try", cmd_try, "try [-c FILE] [--first N] FILE...",
	    "dry run on sample files: canonical NDJSON on stdout" },
	{ "status", cmd_status, "status [-c FILE] [--json]",
	    "counts per outcome, outbox backlog, oldest pending age" },
	{ "quarantine", cmd_quarantine,
	    "quarantine [-c FILE] list|show|release|drop [ID]",
	    "Tier 2 files: list, show, process again, or drop (audited; "
	    "drop needs --reason)" },
	{ "hold", cmd_hold,
	    "hold [-c FILE] list|show|approve|reject [ID]",
	    "Tier 4 held records; approve and reject need --reason" },
	{ "replay", cmd_replay, "replay [-c FILE] [--dry-run] ID",
	    "re-process an archived transmission with today's mapping" },
	{ "prune", cmd_prune, "prune [-c FILE] [--dry-run]",
	    "remove archive entries older than retain_days (audited)" },
	{ "audit", cmd_audit, "audit [-c FILE] verify",
	    "recompute the audit log's hash chain against state.db" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: tradedrop [--help | --version] COMMAND "
	    "[ARGS]\n\ncommands:\n");
	for (i = 0; i < TD_NELEM(commands); i++)
		fprintf(f, "  %-34s %s\n", commands[i].usage,
		    commands[i].help);
	fprintf(f, "\nThe default configuration file is %s.\n"
	    "See tradedrop(8) and tradedrop.conf(5).\n", DEFAULT_CONF);
}

const char *
td_default_conf(void)
{
	const char *e = getenv("TRADEDROP_CONF");

	return e != NULL && *e != '\0' ? e : DEFAULT_CONF;
}

/*
 * Load the configuration or print every error and return NULL; the
 * caller exits 2.
 */
struct td_conf *
td_load_conf_or_report(const char *path)
{
	struct td_conf *c;
	char *errs;

	if (td_conf_load(path, &c, &errs) != 0) {
		fputs(errs != NULL ? errs : "configuration error\n", stderr);
		x_free(errs);
		return NULL;
	}
	x_free(errs);
	td_log_set_level(td_log_level_from_name(td_conf_str(c,
	    TDK_integration_log_level)));
	return c;
}

/*
 * The -c FILE option every command takes, and a flag option of its own
 * (any long option whose val is 'j').
 */
int
cmd_conf_opt(int argc, char **argv, const char *usage, const char **path,
    const struct option *extra, int *flag)
{
	static const struct option none[] = { { NULL, 0, NULL, 0 } };
	int ch;

	*path = td_default_conf();
	while ((ch = getopt_long(argc, argv, "c:", extra ? extra : none,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			*path = optarg;
			break;
		case 'j':
			*flag = 1;
			break;
		default:
			fprintf(stderr, "usage: tradedrop %s\n", usage);
			return -1;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	size_t i;
	int rc;

	/* archive member names are converted to UTF-8 by libarchive */
	if (setlocale(LC_CTYPE, "C.UTF-8") == NULL)
		(void)setlocale(LC_CTYPE, "");
	td_log_init("tradedrop", TD_LOG_INFO, 0);
	/*
	 * A read lease (landing.c) is broken with SIGIO when an uploader
	 * opens the file for writing: that must never end the process.
	 */
	if (signal(SIGIO, SIG_IGN) == SIG_ERR)
		td_fatal("signal: %s", strerror(errno));
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("tradedrop %s\n", PACKAGE_VERSION);
		return 0;
	}
	for (i = 0; i < TD_NELEM(commands); i++) {
		if (strcmp(argv[1], commands[i].name) == 0) {
			optind = 1;
			rc = commands[i].fn(argc - 1, argv + 1);
			/*
			 * Damage to state.db met on the way (logged there as
			 * state_corrupt) makes any answer suspect: a count
			 * read past a damaged page is short, not an error.
			 */
			return store_corrupt_seen() && rc != 2 ?
			    EXIT_INTERNAL : rc;
		}
	}
	fprintf(stderr, "tradedrop: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 2;
}
