/*
 * cmd-check.c - the `check` command: validate a configuration, and with
 * --connect reach its reconciler and sources.
 */
#include "config.h"

#include <sys/types.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "td.h"
#include "conf.h"
#include "agent.h"
#include "map.h"
#include "forward.h"
#include "landing.h"
#include "sidecar.h"
#include "sftp.h"

#define CHECK_USAGE	"check [-c FILE] [--dump] [--connect]"

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
	size_t nkeys, nuids;
	uid_t *uids;
	char *err, *tables;
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
			    CHECK_USAGE);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: tradedrop %s\n", CHECK_USAGE);
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
	tables = mapper_tables(m);
	mapper_free(m);
	if (sidecar_load_keys(c, &keys, &nkeys, &err) != 0) {
		fprintf(stderr, "%s: %s\n", path, err);
		x_free(err);
		x_free(tables);
		td_conf_free(c);
		return 2;
	}
	x_free(keys);
	if (landing_owner_uids(c, &uids, &nuids, &err) != 0) {
		fprintf(stderr, "%s: %s\n", path, err);
		x_free(err);
		x_free(tables);
		td_conf_free(c);
		return 2;
	}
	x_free(uids);
	if (connect)
		rc = check_connect(c);
	if (dump)
		td_conf_dump(c, stdout);
	else
		printf("%s: configuration OK (integration %s, %zu source%s)\n"
		    "%s", path, td_conf_str(c, TDK_integration_name),
		    td_conf_nsources(c), td_conf_nsources(c) == 1 ? "" : "s",
		    tables);
	x_free(tables);
	td_conf_free(c);
	return rc;
}

