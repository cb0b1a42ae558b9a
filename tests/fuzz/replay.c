/*
 * replay.c - run a fuzz harness over files (a corpus) without libFuzzer,
 * so every harness builds and runs in `make check`:
 *   fuzz-X-replay FILE|DIR ...   (TAP output, one line per file)
 * Each file runs in a child process, and its line checks that the
 * harness returned 0 with every invariant it asserts holding: a crash
 * or an abort() of the harness is "not ok" for that file, and the other
 * files still run. The default corpus is tests/data, etc,
 * tests/fuzz/corpus and, when it exists, ../shared/corpus (relative to
 * $srcdir).
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "tap.h"
#include "td.h"
#include "fsutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct input {
	const char	*buf;
	size_t		 n;
};

static int
run_child(void *arg)
{
	const struct input *in = arg;

	return LLVMFuzzerTestOneInput((const uint8_t *)in->buf, in->n);
}

static void
run_file(const char *path)
{
	struct input in;
	char *buf;
	int st;

	if (td_read_file(path, 16 << 20, &buf, &in.n) != 0) {
		ok(0, "read %s", path);
		return;
	}
	in.buf = buf;
	st = run_in_child(run_child, &in);
	if (!ok(st == 0, "%s: no crash, every invariant held", path))
		diag("the harness %s", st < 0 ? "crashed or aborted" :
		    "returned non-zero");
	x_free(buf);
}

static void
run_path(const char *path)
{
	struct stat sb;
	struct dirent **de;
	char *sub;
	int i, n;

	if (stat(path, &sb) != 0)
		return;
	if (!S_ISDIR(sb.st_mode)) {
		run_file(path);
		return;
	}
	if ((n = scandir(path, &de, NULL, alphasort)) < 0)
		return;
	for (i = 0; i < n; i++) {
		if (de[i]->d_name[0] != '.') {
			sub = xasprintf("%s/%s", path, de[i]->d_name);
			run_path(sub);
			x_free(sub);
		}
		free(de[i]);
	}
	free(de);
}

int
main(int argc, char **argv)
{
	static const char *const dflt[] = { "tests/data", "etc",
	    "tests/fuzz/corpus", "../shared/corpus" };
	const char *srcdir = getenv("srcdir");
	char *p;
	int i;

	if (argc > 1) {
		for (i = 1; i < argc; i++)
			run_path(argv[i]);
	} else {
		/* default corpus: the test data, and the shared one */
		for (i = 0; i < (int)TD_NELEM(dflt); i++) {
			p = xasprintf("%s/%s", srcdir ? srcdir : ".", dflt[i]);
			run_path(p);
			x_free(p);
		}
	}
	return done_testing();
}
