/*
 * sftp-drive.c - poll every [source] of a configuration once with
 * sftp_poll() and print the stats; the e2e test's stand-in for
 * `tradedrop once` until sftp is wired into it.
 *   sftp-drive [-k] CONF     -k: sftp_check() each source instead
 * Exit: 0 all polls OK, 3 a Tier 1 failure, 1 auth/host key, 2 usage, 4 other.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "td.h"
#include "conf.h"
#include "log.h"
#include "intake.h"
#include "sftp.h"

int
main(int argc, char **argv)
{
	struct td_conf *c = NULL;
	struct td_ctx x;
	struct sftp_stats st;
	char *errs = NULL;
	size_t i;
	int check = 0, rc = 0, r;

	if (argc == 3 && strcmp(argv[1], "-k") == 0) {
		check = 1;
		argv++;
		argc--;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: sftp-drive [-k] CONF\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	td_log_init("sftp-drive", TD_LOG_INFO, 0);
	if (td_conf_load(argv[1], &c, &errs) != 0) {
		fprintf(stderr, "%s\n", errs ? errs : "config error");
		x_free(errs);
		return 2;
	}
	td_log_set_level(td_log_level_from_name(td_conf_str(c,
	    TDK_integration_log_level)));
	if (check) {
		for (i = 0; i < td_conf_nsources(c); i++) {
			r = sftp_check(c, i, &errs);
			printf("source %s: %s: %s\n", td_conf_source_name(c, i),
			    r == 0 ? "ok" : "FAILED", errs ? errs : "");
			x_free(errs);
			errs = NULL;
			if (r != 0)
				rc = r == TD_ERR_IO ? 3 : 1;
		}
		td_conf_free(c);
		return rc;
	}
	if (ctx_open(&x, c, 0) != 0) {
		ctx_close(&x);
		td_conf_free(c);
		return 4;
	}
	for (i = 0; i < td_conf_nsources(c); i++) {
		r = sftp_poll(&x, i, &st);
		printf("source=%s rc=%d listed=%u fetched=%u skipped_seen=%u "
		    "waiting=%u failed=%u bytes=%llu tier1=%d auth_error=%d\n",
		    td_conf_source_name(c, i), r, st.listed, st.fetched,
		    st.skipped_seen, st.waiting, st.failed,
		    (unsigned long long)st.bytes, st.tier1, st.auth_error);
		if (r != 0 && rc == 0)
			rc = st.tier1 ? 3 : st.auth_error ? 1 : 4;
	}
	ctx_close(&x);
	td_conf_free(c);
	return rc;
}
