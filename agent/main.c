/*
 * main.c - the tradedrop command line: one binary, one subcommand per job.
 */
#include "config.h"

#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "td.h"
#include "conf.h"
#include "log.h"
#include "agent.h"
#include "map.h"
#include "forward.h"
#include "sidecar.h"
#include "sftp.h"

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
	{ "once", cmd_once, "once [-c FILE] [--reinitialise]",
	    "process everything in landing/, deliver, exit" },
	{ "try", cmd_try, "try [-c FILE] FILE...",
	    "dry run on sample files: canonical NDJSON on stdout" },
	{ "status", cmd_status, "status [-c FILE] [--json]",
	    "counts per outcome, outbox backlog, oldest pending age" },
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

/* check --connect: reach the reconciler (and each source). 0 or 1. */
static int
check_connect(struct td_conf *c)
{
	struct forwarder *f;
	const char *url = td_conf_str(c, TDK_output_url);
	char *err = NULL, buf[256];
	size_t i;
	int rc = 0;

	if (strncmp(url, "https://", 8) == 0) {
		if (fwd_open(&f, c, &err) != 0) {
			fprintf(stderr, "reconciler: %s\n", err);
			x_free(err);
			return 1;
		}
		if (fwd_check(f, buf, sizeof(buf)) != 0) {
			fprintf(stderr, "reconciler %s: %s\n", fwd_url(f), buf);
			rc = 1;
		} else
			printf("reconciler %s: TLS connection verified\n",
			    fwd_url(f));
		fwd_close(f);
	} else
		printf("output %s: a directory, nothing to connect to\n", url);
	for (i = 0; i < td_conf_nsources(c); i++) {
		if (sftp_check(c, i, &err) != 0) {
			fprintf(stderr, "source %s: %s\n",
			    td_conf_source_name(c, i), err ? err : "failed");
			rc = 1;
		} else
			printf("source %s: %s\n", td_conf_source_name(c, i),
			    err ? err : "ok");
		x_free(err);
		err = NULL;
	}
	return rc;
}

int
cmd_check(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dump", no_argument, NULL, 'd' },
		{ "connect", no_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 }
	};
	const char *path = td_default_conf();
	struct td_conf *c;
	struct mapper *m;
	struct minisign_key *keys;
	size_t nkeys;
	char *err;
	int ch, dump = 0, connect = 0, rc = 0;

	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			dump = 1;
			break;
		case 'C':
			connect = 1;
			break;
		default:
			fprintf(stderr, "usage: tradedrop %s\n",
			    commands[0].usage);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: tradedrop %s\n", commands[0].usage);
		return 2;
	}
	if ((c = td_load_conf_or_report(path)) == NULL)
		return 2;
	if (mapper_new(c, &m, &err) != 0) {
		fprintf(stderr, "%s: %s\n", path, err);
		x_free(err);
		td_conf_free(c);
		return 2;
	}
	mapper_free(m);
	if (sidecar_load_keys(c, &keys, &nkeys, &err) != 0) {
		fprintf(stderr, "%s: %s\n", path, err);
		x_free(err);
		td_conf_free(c);
		return 2;
	}
	x_free(keys);
	if (connect)
		rc = check_connect(c);
	if (dump)
		td_conf_dump(c, stdout);
	else
		printf("%s: configuration OK (integration %s, %zu source%s)\n",
		    path, td_conf_str(c, TDK_integration_name),
		    td_conf_nsources(c), td_conf_nsources(c) == 1 ? "" : "s");
	td_conf_free(c);
	return rc;
}

int
main(int argc, char **argv)
{
	size_t i;

	/* archive member names are converted to UTF-8 by libarchive */
	if (setlocale(LC_CTYPE, "C.UTF-8") == NULL)
		(void)setlocale(LC_CTYPE, "");
	td_log_init("tradedrop", TD_LOG_INFO, 0);
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
			return commands[i].fn(argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "tradedrop: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 2;
}
