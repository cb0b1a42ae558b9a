/*
 * test-fsutil.c - common/fsutil.c: td_remove_tree removes only what lies
 * below its `within` directory (a sibling whose name merely starts the
 * same, such as state2 beside state, is refused and left alone).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "tap.h"
#include "td.h"
#include "fsutil.h"

static void
touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);

	if (fd < 0 || write(fd, "x\n", 2) != 2)
		td_fatal("touch %s", path);
	close(fd);
}

static int
exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

struct rm_args {
	const char	*path, *within;
};

static int
rm_child(void *arg)
{
	const struct rm_args *a = arg;

	return td_remove_tree(a->path, a->within) == 0 ? 0 : 1;
}

/* td_remove_tree in a child: 0, 1, or 4 when it refused (td_fatal). */
static int
remove_in_child(const char *path, const char *within)
{
	struct rm_args a = { path, within };

	return run_in_child(rm_child, &a);
}

/*
 * File scope, not main's: a forked child that ends in _exit() need not
 * keep main's pointers anywhere, and valgrind, checking the child for
 * leaks at its exit, took state2 for a definitely lost block.
 */
static char *state, *state2, *sub, *within;

int
main(void)
{
	char dir[] = "/tmp/td-test-fsutil.XXXXXX";
	char *p;

	if (mkdtemp(dir) == NULL)
		td_fatal("mkdtemp");
	state = xasprintf("%s/state", dir);
	state2 = xasprintf("%s/state2", dir);
	sub = xasprintf("%s/work/claim", state);
	if (td_mkdirs(sub, 0750) != 0 || td_mkdirs(state2, 0750) != 0)
		td_fatal("mkdirs");
	p = xasprintf("%s/data.csv", sub);
	touch(p);
	x_free(p);
	p = xasprintf("%s/state.db", state2);
	touch(p);
	x_free(p);

	is_int(remove_in_child(state2, state), 4,
	    "a sibling named like state_dir plus a suffix is refused");
	p = xasprintf("%s/state.db", state2);
	ok(exists(p), "and nothing in it was removed");
	x_free(p);

	p = xasprintf("%s/../state2", state);
	is_int(remove_in_child(p, state), 4, "a path through .. is refused");
	x_free(p);
	is_int(remove_in_child(state, state), 4,
	    "state_dir itself is refused");
	within = xasprintf("%s/", state);
	is_int(remove_in_child(state2, within), 4,
	    "a trailing slash on within changes nothing");
	ok(exists(state2), "state2 is still there");

	p = xasprintf("%s/work", state);
	is_int(remove_in_child(p, within), 0,
	    "a directory below state_dir/ is removed");
	ok(!exists(p) && exists(state), "with what it held, not its parent");
	x_free(p);

	/* a link below within is removed, not followed */
	p = xasprintf("%s/link", state);
	if (symlink(state2, p) != 0)
		td_fatal("symlink");
	is_int(remove_in_child(p, state), 0, "a symbolic link is removed");
	ok(!exists(p) && exists(state2), "its target is left alone");
	x_free(p);

	p = xasprintf("%s/gone", state);
	is_int(td_remove_tree(p, state), 0, "a missing path is no error");
	x_free(p);

	/* td_mkdirs: from the leaf, each missing level made */
	{
		struct stat st;
		char *q, *f;
		int i, good = 1;

		q = xasprintf("%s/mk/a/b/c", dir);
		is_int(td_mkdirs(q, 0750), TD_OK, "mkdirs: four new levels");
		for (i = 0; i < 4; i++) {
			if (stat(q, &st) != 0 || !S_ISDIR(st.st_mode) ||
			    (st.st_mode & 0777) != 0750)
				good = 0;
			*strrchr(q, '/') = '\0';
		}
		ok(good, "each a directory of mode 0750");
		x_free(q);
		q = xasprintf("%s/mk/a/b/c", dir);
		is_int(td_mkdirs(q, 0750), TD_OK, "a directory already there");
		x_free(q);
		q = xasprintf("%s//mk//a/x//y///", dir);
		is_int(td_mkdirs(q, 0750), TD_OK,
		    "doubled and trailing slashes");
		x_free(q);
		q = xasprintf("%s/mk/a/x/y", dir);
		ok(stat(q, &st) == 0 && S_ISDIR(st.st_mode), "made as named");
		x_free(q);
		f = xasprintf("%s/mk/file", dir);
		touch(f);
		q = xasprintf("%s/d/e", f);
		errno = 0;
		ok(td_mkdirs(q, 0750) == TD_ERR_IO && errno == ENOTDIR,
		    "through a regular file: refused, ENOTDIR");
		x_free(q);
		errno = 0;
		ok(td_mkdirs(f, 0750) == TD_ERR_IO && errno == ENOTDIR,
		    "a regular file in the directory's place: refused, ENOTDIR");
		x_free(f);
	}

	x_free(within);
	p = xasprintf("rm -rf %s", dir);
	if (system(p) != 0)
		diag("could not remove %s", dir);
	x_free(p);
	x_free(state);
	x_free(state2);
	x_free(sub);
	return done_testing();
}
