/*
 * fuzz-conf.c - libFuzzer harness: the configuration loader (libinih,
 * every value parser, [map] expressions) on arbitrary files.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "td.h"
#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	char path[] = "/tmp/td-fuzz-conf.XXXXXX", *errs = NULL;
	struct td_conf *c = NULL;
	FILE *f;
	int fd;

	if ((fd = mkstemp(path)) < 0)
		abort();
	if ((f = fdopen(fd, "w")) == NULL)
		abort();
	fwrite(data, 1, n, f);
	fclose(f);
	if (td_conf_load(path, &c, &errs) == 0) {
		FILE *null = fopen("/dev/null", "w");

		td_conf_dump(c, null);
		fclose(null);
		x_free(td_conf_mapping_text(c));
	}
	td_conf_free(c);
	x_free(errs);
	unlink(path);
	return 0;
}
