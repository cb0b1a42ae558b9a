/*
 * test-fsutil.c - common/fsutil.c: td_remove_tree removes only what lies
 * below its `within` directory (a sibling whose name merely starts the
 * same, such as state2 beside state, is refused and left alone);
 * td_mkdirs; the temporary name of an atomic write, and the one of its
 * own it falls back to when another user holds that name in a sticky
 * directory (landing), as the unprivileged user the daemon runs as.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "tap.h"
#include "td.h"
#include "fsutil.h"
#include "match.h"

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

static char *
slurp(const char *path)
{
	char *b;
	size_t n;

	return td_read_file_nofollow(path, 4096, &b, &n) == 0 ? b : NULL;
}

/* what lstat says of path: its owner, or -1 when it is gone */
static long
owner(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0 ? (long)sb.st_uid : -1;
}

/* the number of entries in dir, "." and ".." aside */
static int
entries(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/*
 * An atomic write as another unprivileged user (root ignores the sticky
 * bit): write path (through tmp when not NULL; with td_afile_open when
 * afile, whose temporary name is checked). 0, errno when it failed, 90
 * when the user could not be taken, 91 when the temporary name of its
 * own is not as it should be.
 */
struct as_user {
	const char	*path, *tmp;
	uid_t		 uid;
	gid_t		 gid;
	int		 afile;
};

static int
write_as_user(void *arg)
{
	const struct as_user *a = arg;
	/* watch ignore's default .*, and its pattern's, *, which does not
	 * match a leading period (nor *.tmp) */
	char * const globs[] = { ".*", "*", "*.tmp" };
	struct td_afile af;
	const char *base, *s;
	char *fixed;
	int r;

	if (a->uid != 0 && (setgroups(0, NULL) != 0 ||
	    setgid(a->gid) != 0 || setuid(a->uid) != 0 || geteuid() == 0))
		return 90;
	if (a->path == NULL)
		return 0;
	s = strrchr(a->path, '/');
	if (!a->afile)
		r = td_write_file_via(a->path, a->tmp, "new\n", 4);
	else if ((r = td_afile_open(&af, a->path)) == 0) {
		base = strrchr(af.tmp, '/') + 1;
		fixed = xasprintf("%s.tmp", a->path);
		if (strncmp(af.tmp, a->path, (size_t)(s - a->path) + 1) != 0 ||
		    base != af.tmp + (s - a->path) + 1 ||
		    strlen(base) > NAME_MAX || base[0] != '.' ||
		    !td_globs_match(globs, 1, base) ||
		    td_globs_match(globs + 1, 2, base) ||
		    strcmp(af.tmp, fixed) == 0) {
			x_free(fixed);
			td_afile_abort(&af);
			return 91;
		}
		x_free(fixed);
		if ((r = td_afile_write(&af, "new\n", 4)) == 0)
			r = td_afile_commit(&af);
		else
			td_afile_abort(&af);
	}
	return r == 0 ? 0 : errno > 0 && errno < 90 ? errno : 89;
}

/* a file of uid's (nobody's) at path, in the way */
static void
plant(const char *path, uid_t uid, gid_t gid)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, "theirs\n", 7) != 7 ||
	    fchown(fd, uid, gid) != 0)
		td_fatal("plant %s", path);
	close(fd);
}

/*
 * One write of land/PREFIX.NAME (through PREFIX.TMP when not NULL) as
 * a's user, with nobody's file at its temporary name.
 */
static void
held_one(struct as_user *a, const char *land, const char *prefix,
    const char *name, const char *tmp, int afile, const char *what)
{
	struct passwd *pw = getpwnam("nobody");
	uid_t nobody = pw != NULL ? pw->pw_uid : 65534;
	gid_t nogroup = pw != NULL ? pw->pw_gid : 65534;
	/* static: the forked children's leak check sees them (see below) */
	static char *p, *t;
	char *b;
	int n, more;

	a->path = p = xasprintf("%s/%s%s", land, prefix, name);
	a->tmp = tmp == NULL ? NULL : xasprintf("%s/%s%s", land, prefix, tmp);
	a->afile = afile;
	t = a->tmp != NULL ? xstrdup(a->tmp) : xasprintf("%s.tmp", p);
	n = entries(land);
	more = !exists(p);
	if (!exists(t)) {
		plant(t, nobody, nogroup);
		more++;
	}
	is_int(run_in_child(write_as_user, a), 0, "sticky directory%s, %s: "
	    "written", a->uid == 0 ? ", as root" : "", what);
	b = slurp(p);
	is_str(b, "new\n", "PATH has what was written");
	x_free(b);
	b = slurp(t);
	ok(owner(t) == (long)nobody && b != NULL &&
	    strcmp(b, "theirs\n") == 0,
	    "their temporary name is left as it was");
	x_free(b);
	is_int(entries(land), n + more, "nothing else is left");
	x_free(p);
	x_free(t);
	x_free((char *)a->tmp);
}

/*
 * In a sticky directory others may write (landing), another user's file
 * under the temporary name of a write (PATH.tmp, or the one given, such
 * as an SFTP download's .NAME.part.tmp) could not be removed, and the
 * O_EXCL open of it failed: that write failed at every try, for good.
 */
static void
held_names(const char *dir)
{
	struct passwd *pw = getpwnam("nobody");
	uid_t nobody = pw != NULL ? pw->pw_uid : 65534;
	gid_t nogroup = pw != NULL ? pw->pw_gid : 65534;
	struct as_user a = { NULL, NULL, nobody - 1, nogroup - 1, 0 };
	/* static: the forked children's leak check sees it (see below) */
	static char *land;
	char longname[252];
	int i;
	/* a name of 251 bytes: PATH.tmp is 255, the fallback fits too */
	const struct {
		const char	*name, *tmp;
		int		 afile;
		const char	*what;
	} c[] = {
		{ "state.json", NULL, 0, "td_write_file_atomic, another's "
		    "PATH.tmp" },
		{ "state.json", NULL, 0, "the same again (a name of its own "
		    "each time)" },
		{ ".a.csv.part.info", ".a.csv.part.tmp", 0, "td_write_file_via, "
		    "another's .NAME.part.tmp (an SFTP .part.info)" },
		{ longname, NULL, 0, "a name of 251 bytes, another's PATH.tmp "
		    "of 255" },
		{ "metrics.prom", NULL, 1, "td_afile_open, another's PATH.tmp: "
		    "a name of its own, hidden (.*, not *), beside PATH, "
		    "within NAME_MAX" },
	};

	if (geteuid() != 0) {
		ok(1, "# SKIP held temporary names: not root (a second user "
		    "is needed)");
		return;
	}
	if (run_in_child(write_as_user, &a) != 0) {
		ok(1, "# SKIP held temporary names: uid %ld cannot be taken",
		    (long)a.uid);
		return;
	}
	land = xasprintf("%s/landing", dir);
	if (chmod(dir, 0755) != 0 || mkdir(land, 0755) != 0 ||
	    chmod(land, 01777) != 0)
		td_fatal("sticky %s", land);
	memset(longname, 'n', sizeof(longname) - 5);
	memcpy(longname + sizeof(longname) - 5, ".csv", 5);
	for (i = 0; i < (int)(sizeof(c) / sizeof(c[0])); i++)
		held_one(&a, land, "", c[i].name, c[i].tmp, c[i].afile,
		    c[i].what);
	/*
	 * Root (`once` may run as root) could remove another user's file
	 * there, sticky bit or not: it is theirs all the same, and left.
	 */
	a.uid = 0;
	for (i = 0; i < (int)(sizeof(c) / sizeof(c[0])); i++)
		if (c[i].name != longname)	/* root-: past NAME_MAX */
			held_one(&a, land, "root-", c[i].name, c[i].tmp,
			    c[i].afile, c[i].what);
	x_free(land);
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

	/* a name nobody holds: the fixed one, as before (the sweeps of
	 * what a stop left look for it) */
	p = xasprintf("%s/mk/plain", dir);
	{
		struct td_afile af;
		char *t = xasprintf("%s.tmp", p);

		ok(td_afile_open(&af, p) == 0 && strcmp(af.tmp, t) == 0,
		    "a temporary name nobody holds: PATH.tmp, as before");
		td_afile_abort(&af);
		x_free(t);
	}
	x_free(p);

	/* a directory at PATH.tmp (ours, so not removed by unlink) */
	p = xasprintf("%s/mk/dirtmp.tmp", dir);
	if (mkdir(p, 0750) != 0)
		td_fatal("mkdir %s", p);
	x_free(p);
	p = xasprintf("%s/mk/dirtmp", dir);
	is_int(td_write_file_atomic(p, "new\n", 4), TD_OK,
	    "a directory at PATH.tmp: written under a name of its own");
	{
		char *b = slurp(p);

		is_str(b, "new\n", "and PATH has what was written");
		x_free(b);
	}
	x_free(p);

	held_names(dir);

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
