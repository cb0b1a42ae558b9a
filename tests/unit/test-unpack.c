/*
 * test-unpack.c - agent/unpack.c: archives built at test time with the
 * standard tools (zip or python3's zipfile, tar, gzip, bzip2, xz, zstd)
 * from CSV files whose bytes are compared with what comes out; nesting,
 * truncation, every limit, bombs (timed, with peak RSS), path traversal
 * fixtures, and libarchive's / xz's / zstd's / rubyzip's malformed inputs,
 * each run in a child under alarm() so a crash or hang is a failed test;
 * streams damaged after their first member or followed by other data,
 * concatenated tars, NUL-filled files; and unpack_digest() against
 * sha256sum, for files read whole, in part or not at all, through a pipe,
 * and for a zip that changes while it is read.
 * Data: $srcdir/tests/data/archives (srcdir defaults to "."); the zip
 * bombs are read from $srcdir/../shared/corpus/archives/zip-bomb/kd2fw
 * and skipped when absent.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "td.h"
#include "fsutil.h"
#include "unpack.h"
#include "../lib/tap.h"
#include "../lib/testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN	1
#endif
#endif

#ifdef UNDER_ASAN
/* RLIMIT_AS cannot hold ASan's shadow; make malloc fail instead. */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "soft_rss_limit_mb=512:allocator_may_return_null=1";
}
#endif

#define MAX_DOCS	64
#define KEEP_MAX	(16 * 1024 * 1024)	/* bytes of a document kept */
#define MIB		(1024 * 1024)

static const char *srcdir;
static char tmpdir[] = "/tmp/test-unpack.XXXXXX";
static int have_zip;
static int keep_data = 1;	/* run() keeps document bytes */
static unsigned char u_scratch[65536];

/* ---- helpers ------------------------------------------------------ */

struct res {
	int		 rc;
	char		 code[64];
	char		 msg[512];
	int		 ndocs;
	char		*names[MAX_DOCS];	/* "(null)" for member NULL */
	unsigned char	*data[MAX_DOCS];
	size_t		 len[MAX_DOCS];
	uint64_t	 documents, skipped_dirs, skipped_empty, expanded;
	char		 format[32];
	double		 secs;
	long		 maxrss_kb;		/* peak RSS of the child */
	long		 base_kb;		/* its RSS before unpacking */
	int		 sig;			/* killed by this signal */
};

static void
res_free(struct res *r)
{
	int i;

	for (i = 0; i < r->ndocs && i < MAX_DOCS; i++) {
		x_free(r->names[i]);
		x_free(r->data[i]);
	}
	memset(r, 0, sizeof(*r));
}

static struct unpack_limits
lim_default(void)
{
	struct unpack_limits l = { 200, UINT64_C(16) << 30, 10000, 3 };

	return l;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *
tpath(const char *rel)
{
	return xasprintf("%s/%s", tmpdir, rel);
}

static char *
dpath(const char *rel)
{
	return xasprintf("%s/tests/data/archives/%s", srcdir, rel);
}

static void
write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0)
		td_fatal("write %s: %s", path, strerror(errno));
}

static unsigned char *
slurp(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = NULL;
	size_t len = 0, cap = 0, n;

	*lenp = 0;
	if (f == NULL)
		return NULL;
	for (;;) {
		if (cap - len < 65536) {
			cap = cap * 2 + 65536;
			p = xrealloc(p, cap);
		}
		if ((n = fread(p + len, 1, cap - len, f)) == 0)
			break;
		len += n;
	}
	fclose(f);
	*lenp = len;
	return p;
}

#define sh(...)	tu_sh(tmpdir, __VA_ARGS__)

/* zip OUT (relative to tmpdir) from files in tmpdir/DIR; -0 if stored. */
static int
mkzip(const char *out, const char *dir, int stored, const char *files)
{
	if (have_zip)
		return sh("cd '%s' && rm -f '%s/%s' && zip -q -X %s '%s/%s' %s",
		    dir, tmpdir, out, stored ? "-0" : "", tmpdir, out, files);
	return sh("cd '%s' && rm -f '%s/%s' && python3 -c 'import sys, "
	    "zipfile; z = zipfile.ZipFile(sys.argv[1], \"w\", zipfile.%s); "
	    "[z.write(f) for f in sys.argv[2:]]; z.close()' '%s/%s' %s",
	    dir, tmpdir, out, stored ? "ZIP_STORED" : "ZIP_DEFLATED", tmpdir,
	    out, files);
}

/* Unpack path, keeping up to MAX_DOCS documents; reads in bufsz chunks. */
static void
run(const char *path, const struct unpack_limits *lim, size_t bufsz,
    struct res *r)
{
	struct unpacker *u = NULL;
	const struct unpack_stats *st;
	const char *member;
	unsigned char *buf = xmalloc(bufsz);
	double t0 = now();
	ssize_t n;
	int fd, rc;

	memset(r, 0, sizeof(*r));
	if ((fd = open(path, O_RDONLY)) < 0)
		td_fatal("open %s: %s", path, strerror(errno));
	if ((rc = unpack_open(&u, fd, path, lim)) < 0)
		td_fatal("unpack_open: %d", rc);
	while ((rc = unpack_next(u, &member)) == 1) {
		int i = r->ndocs++;
		size_t cap = 0;

		if (i < MAX_DOCS)
			r->names[i] = xstrdup(member ? member : "(null)");
		while ((n = unpack_read(u, buf, bufsz)) > 0) {
			if (!keep_data || i >= MAX_DOCS ||
			    r->len[i] + (size_t)n > KEEP_MAX)
				continue;
			if (r->len[i] + (size_t)n > cap) {
				cap = (r->len[i] + (size_t)n) * 2;
				r->data[i] = xrealloc(r->data[i], cap);
			}
			memcpy(r->data[i] + r->len[i], buf, (size_t)n);
			r->len[i] += (size_t)n;
		}
		if (n < 0) {
			rc = (int)n;
			break;
		}
	}
	r->rc = rc;
	if (rc < 0) {
		snprintf(r->code, sizeof(r->code), "%s",
		    unpack_errcode(u) ? unpack_errcode(u) : "(none)");
		snprintf(r->msg, sizeof(r->msg), "%s",
		    unpack_errmsg(u) ? unpack_errmsg(u) : "");
	}
	st = unpack_stats(u);
	r->documents = st->documents;
	r->skipped_dirs = st->skipped_dirs;
	r->skipped_empty = st->skipped_empty;
	r->expanded = st->expanded;
	snprintf(r->format, sizeof(r->format), "%s", st->format);
	unpack_close(u);
	close(fd);
	x_free(buf);
	r->secs = now() - t0;
}

/* Resident set size now, in KiB. */
static long
rss_kb(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, res = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld %ld", &size, &res) != 2)
		res = 0;
	fclose(f);
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/*
 * The same in a child under alarm(secs), for inputs that might crash,
 * hang or blow up; only the outcome and counts come back (no documents).
 * maxrss_kb is the child's peak RSS.
 */
static void
run_forked(const char *path, const struct unpack_limits *lim,
    unsigned secs, struct res *r)
{
	struct rusage ru;
	int pfd[2], status;
	pid_t pid;
	ssize_t n;

	memset(r, 0, sizeof(*r));
	fflush(stdout);
	if (pipe(pfd) != 0 || (pid = fork()) < 0)
		td_fatal("pipe/fork: %s", strerror(errno));
	if (pid == 0) {
		struct res c;
		int i;
#ifndef UNDER_ASAN
		/* as the sandbox will: libarchive bugs stop at a limit */
		struct rlimit rl = { 512 * MIB, 512 * MIB };

		setrlimit(RLIMIT_AS, &rl);
#endif
		long base_kb = rss_kb();

		close(pfd[0]);
		keep_data = 0;
		alarm((unsigned)tu_time_limit(secs));
		run(path, lim, 65536, &c);
		c.base_kb = base_kb;
		for (i = 0; i < c.ndocs && i < MAX_DOCS; i++) {
			x_free(c.names[i]);
			x_free(c.data[i]);
			c.names[i] = NULL;
			c.data[i] = NULL;
		}
		if (write(pfd[1], &c, sizeof(c)) != (ssize_t)sizeof(c))
			_exit(2);
		_exit(0);
	}
	close(pfd[1]);
	n = read(pfd[0], r, sizeof(*r));
	close(pfd[0]);
	if (wait4(pid, &status, 0, &ru) < 0)
		td_fatal("wait4: %s", strerror(errno));
	if (n != (ssize_t)sizeof(*r)) {
		memset(r, 0, sizeof(*r));
		r->rc = TD_ERR_INTERNAL;
		snprintf(r->code, sizeof(r->code), "(child died)");
	}
	if (WIFSIGNALED(status))
		r->sig = WTERMSIG(status);
	r->maxrss_kb = ru.ru_maxrss;
}

static int
is_tier2(const char *code)
{
	static const char *codes[] = {
		"archive_corrupt", "archive_encrypted", "archive_ratio_exceeded",
		"archive_too_large", "archive_too_many_members",
		"archive_too_deep", "path_traversal", "archive_member_type",
	};
	size_t i;

	for (i = 0; i < TD_NELEM(codes); i++)
		if (strcmp(code, codes[i]) == 0)
			return 1;
	return 0;
}

/* Document i is named want and holds the bytes of tmpdir/src/file. */
static void
is_doc(const struct res *r, int i, const char *want, const char *file,
    const char *what)
{
	char *p = xasprintf("%s/src/%s", tmpdir, file);
	unsigned char *d;
	size_t n;

	d = slurp(p, &n);
	if (i >= r->ndocs) {
		ok(0, "%s: document %d exists (%d documents)", what, i,
		    r->ndocs);
	} else {
		is_str(r->names[i], want, "%s: document %d is %s", what, i,
		    want);
		ok(d != NULL && r->len[i] == n &&
		    memcmp(r->data[i], d, n) == 0,
		    "%s: document %d has the bytes of %s (%zu / %zu)", what, i,
		    file, r->len[i], n);
	}
	x_free(d);
	x_free(p);
}

static void
is_ok(const struct res *r, int ndocs, const char *what)
{
	if (!ok(r->rc == 0, "%s: unpacks (rc %d)", what, r->rc))
		diag("  %s: %s", r->code, r->msg);
	is_int(r->ndocs, ndocs, "%s: %d documents", what, ndocs);
	is_int(r->documents, ndocs, "%s: stats.documents", what);
}

static void
is_err(const struct res *r, const char *code, const char *what)
{
	is_str(r->rc < 0 ? r->code : "(success)", code, "%s: expected code",
	    what);
	if (r->rc < 0)
		diag("  %s: %s (rc %d)", r->code, r->msg, r->rc);
}

/* ---- test data ---------------------------------------------------- */

static uint64_t rng = 88172645463325252ULL;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

/* A sell-through CSV of about size bytes that compresses ~3:1. */
static void
gen_csv(const char *rel, size_t size)
{
	char *path = xasprintf("%s/src/%s", tmpdir, rel);
	FILE *f = fopen(path, "wb");
	size_t n = 0;
	int w;

	if (f == NULL)
		td_fatal("%s: %s", path, strerror(errno));
	w = fprintf(f, "date,store,gtin,qty,amount\n");
	n += (size_t)w;
	while (n < size) {
		w = fprintf(f, "2024-%02u-%02u,S%04u,%08u%05u,%u,%u.%02u\n",
		    rnd() % 12 + 1, rnd() % 28 + 1, rnd() % 500,
		    rnd() % 100000000, rnd() % 100000, rnd() % 40,
		    rnd() % 1000, rnd() % 100);
		n += (size_t)w;
	}
	fclose(f);
	x_free(path);
}

/* A tiny uudecode: decodes path's first "begin" block to out. */
static int
uudecode(const char *path, const char *out)
{
	unsigned char *text, *o = NULL;
	size_t len, olen = 0, cap = 0, pos = 0;
	int begun = 0, rc = -1;

	if ((text = slurp(path, &len)) == NULL)
		return -1;
	while (pos < len) {
		const char *line = (const char *)text + pos;
		const unsigned char *nl = memchr(text + pos, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos, k;
		int n;

		pos += ll + 1;
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		if (!begun) {
			begun = ll >= 6 && strncmp(line, "begin ", 6) == 0;
			continue;
		}
		if (ll == 3 && strncmp(line, "end", 3) == 0) {
			rc = 0;
			break;
		}
		if (ll == 0 || (n = (line[0] - ' ') & 0x3f) == 0)
			continue;
		if (olen + (size_t)n > cap) {
			cap = (olen + (size_t)n) * 2;
			o = xrealloc(o, cap);
		}
		for (k = 1; n > 0; k += 4) {
			unsigned char c[4];
			int j;

			for (j = 0; j < 4; j++)
				c[j] = k + (size_t)j < ll ?
				    (unsigned char)((line[k + j] - ' ') & 0x3f) :
				    0;
			o[olen++] = (unsigned char)(c[0] << 2 | c[1] >> 4);
			if (--n > 0) {
				o[olen++] = (unsigned char)(c[1] << 4 | c[2] >> 2);
				n--;
			}
			if (n > 0) {
				o[olen++] = (unsigned char)(c[2] << 6 | c[3]);
				n--;
			}
		}
	}
	if (rc == 0)
		write_file(out, o, olen);
	x_free(o);
	x_free(text);
	return rc;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the files in a directory ending with suffix. */
static char **
list_dir(const char *dir, const char *suffix, size_t *np)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, sl = strlen(suffix);

	*np = 0;
	if (d == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (de->d_name[0] == '.' || l < sl ||
		    strcmp(de->d_name + l - sl, suffix) != 0)
			continue;
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	qsort(v, n, sizeof(*v), cmp_name);
	*np = n;
	return v;
}

static void
free_list(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		x_free(v[i]);
	x_free(v);
}

/*
 * Streams damaged after their first part, and what follows streams and
 * tar archives. gz-*: two gzip members of src/a.csv and src/b.csv.
 */
static void
build_whole(void)
{
	sh("cat src/a.csv src/b.csv > src/ab.csv && "
	    "gzip -c src/a.csv > g1 && gzip -c src/b.csv > g2 && "
	    "cat g1 g2 > gz-multi.csv.gz && "
	    "python3 -c 'import sys\n"
	    "g1 = open(\"g1\", \"rb\").read(); g2 = open(\"g2\", \"rb\").read()\n"
	    "def w(n, d): open(n, \"wb\").write(d)\n"
	    "def flip(d, i): d = bytearray(d); d[i] ^= 0x55; return bytes(d)\n"
	    "w(\"gz-crc.csv.gz\", g1 + flip(g2, len(g2) - 6))\n"
	    "w(\"gz-isize.csv.gz\", g1 + flip(g2, len(g2) - 2))\n"
	    "w(\"gz-trailing.csv.gz\", g1 + g2 + b\"garbage after the end\\n\")\n"
	    "w(\"gz-zeros.csv.gz\", g1 + g2 + bytes(512))\n"
	    "w(\"gz-onebyte.csv.gz\", g1 + b\"x\")\n"
	    "w(\"gz-bad2head.csv.gz\", g1 + flip(g2, 0))\n"
	    "w(\"gz-bad2data.csv.gz\", g1 + flip(g2, len(g2) // 2))\n"
	    "w(\"gz-trunc2.csv.gz\", g1 + g2[:len(g2) // 2])\n"
	    "'");
	/* tar: a.csv and b.csv; then the same with c.csv appended by tar -r */
	sh("tar -C src -cf ab.tar a.csv b.csv && tar -C src -cf c.tar c.csv && "
	    "gzip -c ab.tar > ab.tar.gz && gzip -c c.tar > c.tar.gz && "
	    "( cat ab.tar.gz; printf 'trailing' ) > tgz-trailing.tar.gz && "
	    "python3 -c 'd = open(\"c.tar.gz\", \"rb\").read(); "
	    "d = bytearray(d); d[len(d) // 2] ^= 0x55; "
	    "open(\"tgz-bad2.tar.gz\", \"wb\").write(open(\"ab.tar.gz\", "
	    "\"rb\").read() + bytes(d))' && "
	    "cat ab.tar c.tar > cat.tar && gzip -c cat.tar > cat.tar.gz && "
	    "mkdir -p app && cp src/a.csv app/c.csv && "
	    "tar -C src -cf appended.tar c.csv && "
	    "tar -C app -rf appended.tar c.csv");
	/* the same things inside a zip */
	sh("mkdir -p nz && cp gz-trailing.csv.gz nz/t.csv.gz && "
	    "cp gz-bad2head.csv.gz nz/b.csv.gz && cp tgz-trailing.tar.gz nz/t.tar.gz && "
	    "cp gz-multi.csv.gz nz/m.csv.gz");
	mkzip("nest-trailing.zip", "nz", 0, "t.csv.gz");
	mkzip("nest-bad2.zip", "nz", 1, "b.csv.gz");
	mkzip("nest-tgz.zip", "nz", 0, "t.tar.gz");
	mkzip("nest-ok.zip", "nz", 1, "m.csv.gz");
	/* other raw streams with bytes after their end */
	sh("( bzip2 -c src/a.csv; printf 'tail' ) > bz-trailing.csv.bz2 && "
	    "( xz -c src/a.csv; printf 'tail' ) > xz-trailing.csv.xz && "
	    "( zstd -q -c src/a.csv; printf 'tail' ) > zst-trailing.csv.zst");
	/* NULs: a gzip of 20480 of them; a CSV after 1024 of them */
	sh("head -c 20480 /dev/zero | gzip -c > nul.tar.gz && "
	    "( head -c 1024 /dev/zero; cat src/c.csv ) > nul-prefix.csv && "
	    "gzip -c nul-prefix.csv > nul-prefix.csv.gz && "
	    "mkdir -p nn && cp nul-prefix.csv nn/ && "
	    "( head -c 3000000 /dev/urandom; cat src/a.csv ) > big-stored && "
	    "mkdir -p sz && cp big-stored sz/big && cp src/a.csv sz/a.csv");
	mkzip("nest-nul.zip", "nn", 0, "nul-prefix.csv");
	mkzip("seek.zip", "sz", 1, "big a.csv");
}

/*
 * For test_gzip_paths(): gzip members with every header field, their
 * header split across the 1 MiB blocks the file is read in; headers,
 * trailers and data damaged in each way zlib names; bombs.
 */
static void
build_gz(void)
{
	sh("python3 -c 'import os, struct, zlib\n"
	    "a = open(\"src/a.csv\", \"rb\").read()\n"
	    "b = open(\"src/b.csv\", \"rb\").read()\n"
	    "def w(n, d): open(n, \"wb\").write(d)\n"
	    "def member(data, flg=0, xtra=b\"\", name=b\"\", cmt=b\"\", "
	    "level=6, cm=8, hcrc_bad=0):\n"
	    "  h = bytes([0x1f, 0x8b, cm, flg]) + bytes(6)\n"
	    "  if flg & 4: h += struct.pack(\"<H\", len(xtra)) + xtra\n"
	    "  if flg & 8: h += name + bytes(1)\n"
	    "  if flg & 16: h += cmt + bytes(1)\n"
	    "  if flg & 2: h += struct.pack(\"<H\", "
	    "(zlib.crc32(h) ^ hcrc_bad) & 0xffff)\n"
	    "  c = zlib.compressobj(level, zlib.DEFLATED, -15)\n"
	    "  d = c.compress(data) + c.flush()\n"
	    "  return h + d + struct.pack(\"<II\", zlib.crc32(data), "
	    "len(data) & 0xffffffff)\n"
	    "full = dict(flg=2 | 4 | 8 | 16, xtra=b\"XY\\x02\\x00ab\", "
	    "name=b\"b.csv\", cmt=b\"a comment\")\n"
	    "m2 = member(b, **full)\n"
	    "fill = os.urandom(1000000)\n"
	    "m1 = member(fill, level=0)\n"
	    "for at in range(0, 40):\n"
	    "  pad = (1 << 20) - at - len(m1) - 2\n"
	    "  w(\"gzs-%%02d.gz\" %% at, member(fill, flg=4, xtra=bytes(pad), "
	    "level=0) + m2)\n"
	    "da = member(a)\n"
	    "f1 = member(fill[:(1 << 20) - 40000 - len(da)], level=0)\n"
	    "for at in range(0, 24):\n"
	    "  pad = (1 << 20) - at - len(f1) - len(da) - 2\n"
	    "  m = f1 + member(a, flg=4, xtra=bytes(pad))\n"
	    "  w(\"gze-%%02d.gz\" %% at, m + m2)\n"
	    "  w(\"gzj-%%02d.gz\" %% at, m + b\"junk\")\n"
	    "t1 = member(b\"x,1\\n\" * 40 + b\"y\" * 60)\n"
	    "t2 = member(b\"z,2\\n\" * 10, **full)\n"
	    "w(\"gzt.gz\", t1 + t2 + t1)\n"
	    "w(\"gzt-junk.gz\", t1 + t2 + b\"junk\")\n"
	    "g1 = member(a)\n"
	    "w(\"gzh-full.csv.gz\", g1 + m2)\n"
	    "w(\"gzh-flags.csv.gz\", g1 + member(b, flg=0x20))\n"
	    "w(\"gzh-hcrc.csv.gz\", g1 + member(b, hcrc_bad=1, **full))\n"
	    "w(\"gzh-method.csv.gz\", g1 + member(b, cm=7))\n"
	    "w(\"gzh-magic.csv.gz\", g1 + bytes([0x1f, 0x8c]) + m2[2:])\n"
	    "w(\"gzh-4bytes.csv.gz\", g1 + m2[:4])\n"
	    "w(\"gzh-9bytes.csv.gz\", g1 + m2[:9])\n"
	    "w(\"gzh-stored.csv.gz\", g1 + member(b, level=0) + member(b\"\"))\n"
	    "d = bytearray(member(a, level=0)); d[10] ^= 6\n"
	    "w(\"gzd-btype.csv.gz\", bytes(d))\n"
	    "d = bytearray(member(a, level=0)); d[12] ^= 1\n"
	    "w(\"gzd-stored.csv.gz\", bytes(d))\n"
	    "for i in range(60):\n"
	    "  d = bytearray(g1 + member(b)); j = (i * 7919) %% len(d)\n"
	    "  d[j] ^= 1 << (i %% 8)\n"
	    "  w(\"gzr-%%02d.csv.gz\" %% i, bytes(d))\n"
	    "'");
	sh("cat big.csv.gz big.csv.gz > gz-big2.csv.gz && "
	    "head -c 16M /dev/zero | tr '\\0' b | gzip -1 > gz-bomb.csv.gz");
}

/* ---- tests -------------------------------------------------------- */

static void
build(void)
{
	char *p = tpath("src");

	have_zip = system("command -v zip >/dev/null 2>&1") == 0;
	diag("building test archives with %s", have_zip ? "zip" :
	    "python3 zipfile");
	if (mkdir(p, 0700) != 0)
		td_fatal("mkdir %s: %s", p, strerror(errno));
	x_free(p);
	gen_csv("a.csv", 3000);
	gen_csv("b.csv", 5000);
	gen_csv("c.csv", 700);
	gen_csv("big.csv", 3 * MIB);
	sh("mkdir -p src/d src/outer && : > src/empty.csv && "
	    "cp src/c.csv src/d/c.csv");
	mkzip("two.zip", "src", 0, "a.csv b.csv");
	sh("tar -C src -cf - d empty.csv a.csv | gzip > dir.tar.gz");
	sh("tar -C src -cf plain.tar a.csv big.csv b.csv");
	sh("gzip -c plain.tar > plain.tar.gz && bzip2 -c plain.tar > "
	    "plain.tar.bz2 && xz -c plain.tar > plain.tar.xz && "
	    "zstd -q -c plain.tar > plain.tar.zst");
	sh("cp src/a.csv a.csv && gzip -c src/a.csv > a.csv.gz && "
	    "bzip2 -c src/a.csv > a.csv.bz2 && xz -c src/a.csv > a.csv.xz && "
	    "zstd -q -c src/big.csv > big.csv.zst && "
	    "gzip -c src/big.csv > big.csv.gz");
	/* in.csv.gz inside a zip */
	sh("mkdir -p z1 && gzip -c src/big.csv > z1/in.csv.gz");
	mkzip("x.zip", "z1", 0, "in.csv.gz");
	/* nesting: n.zip{outer/in.zip{in.tar.gz{a.csv}, b.csv}, big.csv} */
	sh("mkdir -p n/l2 n/l1/outer && tar -C src -czf n/l2/in.tar.gz a.csv "
	    "&& cp src/b.csv n/l2/ && cp src/big.csv n/l1/");
	mkzip("n/l1/outer/in.zip", "n/l2", 0, "in.tar.gz b.csv");
	mkzip("n.zip", "n/l1", 1, "outer/in.zip big.csv");
	/* members */
	sh("mkdir -p m && for i in 1 2 3 4 5; do cp src/c.csv m/m$i.csv; done");
	mkzip("m.zip", "m", 0, "m1.csv m2.csv m3.csv m4.csv m5.csv");
	/* truncated */
	sh("head -c $(( $(wc -c < plain.tar.gz) / 2 )) plain.tar.gz > "
	    "trunc.tar.gz && head -c $(( $(wc -c < big.csv.gz) / 2 )) "
	    "big.csv.gz > trunc.csv.gz && head -c $(( $(wc -c < two.zip) - 60 "
	    ")) two.zip > trunc.zip");
	/*
	 * bombs: 64 MiB of 'a' through every filter, in a zip, nested.  (Not
	 * NULs: a stream that starts with a 512-byte block of NULs is an
	 * empty tar archive, which ends right there.)
	 */
	sh("head -c 64M /dev/zero | tr '\\0' a > zeros && gzip -9 -c zeros > zeros.gz && "
	    "bzip2 -9 -c zeros > zeros.bz2 && xz -c zeros > zeros.xz && "
	    "zstd -q -19 -c zeros > zeros.zst && "
	    "tar -cf - zeros src/a.csv | gzip -9 > zeros.tar.gz && "
	    "mkdir -p zb && mv zeros zb/zeros && cp zeros.gz zb/");
	mkzip("zeros.zip", "zb", 0, "zeros");
	mkzip("zerosgz.zip", "zb", 1, "zeros.gz");
	sh("rm -f zb/zeros");
	build_whole();
	build_gz();
}

static void
test_basic(void)
{
	struct unpack_limits lim = lim_default();
	struct res r;
	char *p;
	static const struct { const char *file, *fmt; } raw[] = {
		{ "a.csv", "raw" }, { "a.csv.gz", "gzip" },
		{ "a.csv.bz2", "bzip2" }, { "a.csv.xz", "xz" },
	};
	static const struct { const char *file, *fmt; } tars[] = {
		{ "plain.tar", "tar" }, { "plain.tar.gz", "tar.gz" },
		{ "plain.tar.bz2", "tar.bz2" }, { "plain.tar.xz", "tar.xz" },
		{ "plain.tar.zst", "tar.zst" },
	};
	size_t i;

	p = tpath("two.zip");
	run(p, &lim, 65536, &r);
	is_ok(&r, 2, "zip with two CSVs");
	is_str(r.format, "zip", "zip: format");
	is_doc(&r, 0, "a.csv", "a.csv", "zip");
	is_doc(&r, 1, "b.csv", "b.csv", "zip");
	res_free(&r);
	/* odd read sizes see the same bytes */
	run(p, &lim, 7, &r);
	is_doc(&r, 1, "b.csv", "b.csv", "zip read 7 bytes at a time");
	res_free(&r);
	x_free(p);

	p = tpath("dir.tar.gz");
	run(p, &lim, 65536, &r);
	is_ok(&r, 2, "tar.gz with a directory and an empty file");
	is_doc(&r, 0, "d/c.csv", "c.csv", "tar.gz");
	is_doc(&r, 1, "a.csv", "a.csv", "tar.gz");
	is_int(r.skipped_dirs, 1, "tar.gz: directory skipped and counted");
	is_int(r.skipped_empty, 1, "tar.gz: empty file skipped and counted");
	is_str(r.format, "tar.gz", "tar.gz: format");
	res_free(&r);
	x_free(p);

	for (i = 0; i < TD_NELEM(raw); i++) {
		p = tpath(raw[i].file);
		run(p, &lim, 65536, &r);
		is_ok(&r, 1, raw[i].file);
		is_doc(&r, 0, "(null)", "a.csv", raw[i].file);
		is_str(r.format, raw[i].fmt, "%s: format", raw[i].file);
		res_free(&r);
		x_free(p);
	}

	p = tpath("big.csv.zst");
	run(p, &lim, 65536, &r);
	is_ok(&r, 1, ".csv.zst");
	is_doc(&r, 0, "(null)", "big.csv", ".csv.zst (member NULL)");
	is_str(r.format, "zstd", ".csv.zst: format");
	is_int(r.expanded, r.len[0], ".csv.zst: stats.expanded");
	res_free(&r);
	x_free(p);

	for (i = 0; i < TD_NELEM(tars); i++) {
		p = tpath(tars[i].file);
		run(p, &lim, 65536, &r);
		is_ok(&r, 3, tars[i].file);
		is_doc(&r, 0, "a.csv", "a.csv", tars[i].file);
		is_doc(&r, 1, "big.csv", "big.csv", tars[i].file);
		is_doc(&r, 2, "b.csv", "b.csv", tars[i].file);
		is_str(r.format, tars[i].fmt, "%s: format", tars[i].file);
		res_free(&r);
		x_free(p);
	}

	p = tpath("x.zip");
	run(p, &lim, 65536, &r);
	is_ok(&r, 1, ".csv.gz inside a zip");
	is_doc(&r, 0, "in.csv.gz", "big.csv", ".csv.gz in zip, decompressed");
	res_free(&r);
	x_free(p);

	/* an empty top-level file: no document, counted as skipped */
	p = tpath("src/empty.csv");
	run(p, &lim, 65536, &r);
	is_ok(&r, 0, "empty file");
	is_int(r.skipped_empty, 1, "empty file: counted as skipped");
	res_free(&r);
	x_free(p);
}

static void
test_nested(void)
{
	struct unpack_limits lim = lim_default();
	struct res r;
	char *p = tpath("n.zip");
	uint64_t d;

	for (d = 2; d <= 3; d++) {
		lim.max_depth = d;
		run(p, &lim, 65536, &r);
		is_ok(&r, 3, "nested zip/zip/tar.gz, max_depth 2..3");
		is_doc(&r, 0, "outer/in.zip!/in.tar.gz!/a.csv", "a.csv",
		    "nested");
		is_doc(&r, 1, "outer/in.zip!/b.csv", "b.csv", "nested");
		is_doc(&r, 2, "big.csv", "big.csv", "nested");
		res_free(&r);
	}
	for (d = 0; d <= 1; d++) {
		lim.max_depth = d;
		run(p, &lim, 65536, &r);
		is_err(&r, "archive_too_deep", d == 0 ? "nested, max_depth 0" :
		    "nested, max_depth 1");
		res_free(&r);
	}
	x_free(p);
}

static void
test_limits(void)
{
	struct unpack_limits lim = lim_default();
	struct res r;
	char *p;

	p = tpath("m.zip");
	lim.max_members = 5;
	run(p, &lim, 65536, &r);
	is_ok(&r, 5, "five members, max_members 5");
	res_free(&r);
	lim.max_members = 4;
	run(p, &lim, 65536, &r);
	is_err(&r, "archive_too_many_members", "five members, max_members 4");
	is_int(r.ndocs, 4, "max_members: four documents came out first");
	res_free(&r);
	x_free(p);
	lim = lim_default();

	/* a real CSV compresses ~3:1; ratio 2 stops it, 200 does not */
	p = tpath("big.csv.gz");
	lim.max_ratio = 2;
	run(p, &lim, 65536, &r);
	is_err(&r, "archive_ratio_exceeded", "big.csv.gz, max_ratio 2");
	res_free(&r);
	x_free(p);
	p = tpath("x.zip");
	run(p, &lim, 65536, &r);
	is_err(&r, "archive_ratio_exceeded", "gz in zip, max_ratio 2");
	res_free(&r);
	x_free(p);
	lim = lim_default();

	/* max_bytes: whole transmission */
	p = tpath("plain.tar.gz");
	lim.max_bytes = 2 * MIB;
	run(p, &lim, 65536, &r);
	is_err(&r, "archive_too_large", "tar.gz of 3 MiB, max_bytes 2 MiB");
	ok(r.expanded <= 2 * MIB, "max_bytes: no more than 2 MiB returned");
	res_free(&r);
	x_free(p);
	lim = lim_default();

	/* truncated */
	p = tpath("trunc.tar.gz");
	run(p, &lim, 65536, &r);
	is_err(&r, "archive_corrupt", "truncated tar.gz");
	ok(r.msg[0] != '\0', "truncated tar.gz: libarchive's message");
	res_free(&r);
	x_free(p);
	p = tpath("trunc.csv.gz");
	run(p, &lim, 65536, &r);
	is_err(&r, "archive_corrupt", "truncated .csv.gz");
	res_free(&r);
	x_free(p);
	p = tpath("trunc.zip");
	run(p, &lim, 65536, &r);
	ok(r.rc == 0 || strcmp(r.code, "archive_corrupt") == 0,
	    "zip without its central directory: read (streaming) or corrupt"
	    " (%s)", r.rc == 0 ? "read" : r.code);
	res_free(&r);
	x_free(p);
}

/* A caller that skips documents: unpack_next drains within the limits. */
static void
test_skip(void)
{
	struct unpack_limits lim = lim_default();
	struct unpacker *u = NULL;
	const char *member;
	char *p = tpath("zeros.tar.gz");
	int fd = open(p, O_RDONLY), r, n = 0;

	ok(unpack_open(&u, fd, p, &lim) == 0, "skip: open");
	while ((r = unpack_next(u, &member)) == 1)
		n++;
	is_int(r, TD_ERR_LIMIT, "skip: a bomb the caller does not read "
	    "still stops unpack_next");
	is_str(unpack_errcode(u), "archive_ratio_exceeded",
	    "skip: archive_ratio_exceeded");
	unpack_close(u);
	close(fd);
	x_free(p);

	ok(unpack_open(&u, -1, "x", &lim) == TD_ERR_INVAL && u == NULL,
	    "open: bad fd is TD_ERR_INVAL, *u NULL");
	lim.max_ratio = 0;
	ok(unpack_open(&u, 0, "x", &lim) == TD_ERR_INVAL,
	    "open: max_ratio 0 is TD_ERR_INVAL");
}

static void
bomb(const char *path, const char *what, const struct unpack_limits *lim,
    const char *want)
{
	struct res r;

	run_forked(path, lim, 30, &r);
	diag("%s: %s in %.2f s, peak RSS %ld KiB, %ld KiB above the start "
	    "(%" PRIu64 " bytes out)", what, r.rc < 0 ? r.code : "success",
	    r.secs, r.maxrss_kb, r.maxrss_kb - r.base_kb, r.expanded);
	ok(r.sig == 0, "%s: no crash or hang (signal %d)", what, r.sig);
	if (want != NULL)
		is_err(&r, want, what);
	else	/* zbsm: member "0" starts with member "1"'s local header,
		 * so it is read as a nested zip whose data does not inflate */
		ok(r.rc < 0 && (strcmp(r.code, "archive_ratio_exceeded") == 0 ||
		    strcmp(r.code, "archive_too_large") == 0 ||
		    strcmp(r.code, "archive_corrupt") == 0),
		    "%s: ratio or size limit, or corrupt (%s)", what, r.code);
	ok(r.secs < tu_time_limit(5), "%s: stopped in %.2f s (< %.0f s)", what,
	    r.secs, tu_time_limit(5));
	/* the child inherits the parent's pages (ASan's are many): count
	 * what unpacking added */
	ok(r.maxrss_kb - r.base_kb < 200 * 1024, "%s: RSS grew %ld KiB "
	    "(< 200 MiB)", what, r.maxrss_kb - r.base_kb);
}

static void
test_bombs(void)
{
	struct unpack_limits lim = lim_default();
	static const char *gen[] = {
		"zeros.gz", "zeros.bz2", "zeros.xz", "zeros.zst",
		"zeros.tar.gz", "zeros.zip", "zerosgz.zip",
	};
	static const char *corpus[] = { "zbsm.zip", "zipbomb_1G.zip" };
	size_t i;
	char *p;

	for (i = 0; i < TD_NELEM(gen); i++) {
		p = tpath(gen[i]);
		bomb(p, gen[i], &lim, "archive_ratio_exceeded");
		x_free(p);
	}
	/* the size limit alone */
	lim.max_ratio = 1000000;
	lim.max_bytes = 8 * MIB;
	p = tpath("zeros.xz");
	bomb(p, "zeros.xz, max_bytes 8 MiB, no ratio limit", &lim,
	    "archive_too_large");
	x_free(p);
	lim = lim_default();

	for (i = 0; i < TD_NELEM(corpus); i++) {
		p = xasprintf("%s/../shared/corpus/archives/zip-bomb/kd2fw/%s",
		    srcdir, corpus[i]);
		if (access(p, R_OK) != 0) {
			ok(1, "# SKIP %s not found (%s)", corpus[i], p);
			x_free(p);
			continue;
		}
		bomb(p, corpus[i], &lim, NULL);
		x_free(p);
	}
}

static void
test_traversal(void)
{
	struct unpack_limits lim = lim_default();
	static const struct { const char *file, *code; } want[] = {
		{ "absolute1.zip", "path_traversal" },
		{ "absolute2.zip", "path_traversal" },
		{ "relative0.zip", "path_traversal" },
		{ "relative1.zip", "path_traversal" },
		{ "relative2.zip", "path_traversal" },
		{ "out_evil.zip", "path_traversal" },
		{ "symlink.zip", "archive_member_type" },
		{ "dirsymlink.zip", "archive_member_type" },
		{ "dirsymlink2a.zip", "archive_member_type" },
		{ "dirsymlink2b.zip", "archive_member_type" },
		{ "tilde.zip", NULL },
	};
	struct res r;
	size_t i;

	for (i = 0; i < TD_NELEM(want); i++) {
		char *rel = xasprintf("path-traversal/%s", want[i].file);
		char *p = dpath(rel);

		run(p, &lim, 65536, &r);
		if (want[i].code != NULL)
			is_err(&r, want[i].code, want[i].file);
		else {
			is_ok(&r, 2, want[i].file);
			is_str(r.ndocs > 0 ? r.names[0] : NULL, "~tilde~",
			    "tilde.zip: \"~tilde~\" is a plain name");
		}
		res_free(&r);
		x_free(p);
		x_free(rel);
	}
}

/* Known outcomes among the malformed fixtures (others: any Tier 2 or 0). */
static const struct { const char *file, *code; } known[] = {
	{ "test_compat_tar_hardlink_1.tar", "archive_member_type" },
	{ "test_read_format_zip_symlink.zip", "archive_member_type" },
	{ "test_read_format_zip_traditional_encryption_data.zip",
	    "archive_encrypted" },
	{ "test_read_too_many_filters.gz", "archive_corrupt" },
	{ "test_read_format_zip_malformed1.zip", "archive_corrupt" },
	{ "test_compat_gzip_1.tgz", "" },
	{ "test_compat_bzip2_1.tbz", "" },
	{ "test_compat_xz_1.txz", "" },
	{ "test_compat_zstd_1.tar.zst", "" },
	/* a gzip quine: libarchive 3.6.2 loops allocating until the
	 * sandbox's RLIMIT_AS (set here too) makes malloc fail */
	{ "test_read_filter_gzip_recursive.gz", "archive_corrupt" },
	{ "good-0-empty.xz", "" }, { "good-0cat-empty.xz", "" },
	{ "good-0catpad-empty.xz", "" }, { "good-1-check-crc64.xz", "" },
	{ "good-1-check-sha256.xz", "" }, { "good-2-lzma2.xz", "" },
	{ "bad-0-header_magic.xz", "" },	/* not xz: a plain document */
	{ "bad-0-empty-truncated.xz", "archive_corrupt" },
	{ "bad-0-footer_magic.xz", "archive_corrupt" },
	{ "bad-1-check-crc32.xz", "archive_corrupt" },
	{ "bad-1-check-crc64.xz", "archive_corrupt" },
	{ "bad-1-check-sha256.xz", "archive_corrupt" },
	{ "bad-2-compressed_data_padding.xz", "archive_corrupt" },
	/* zstd's golden files track its newest decoder: only "no crash" */
	{ "zipWithDirs.zip", "" }, { "osx-archive.zip", "" },
	{ "ntfs.zip", "" },
};

static void
fixture(const char *path, const char *name)
{
	struct unpack_limits lim = lim_default();
	struct res r;
	size_t i;

	run_forked(path, &lim, 10, &r);
#ifdef UNDER_ASAN
	if (r.sig == SIGALRM &&
	    strcmp(name, "test_read_filter_gzip_recursive.gz") == 0) {
		ok(1, "# SKIP %s: libarchive 3.6.2 loops on this gzip quine; "
		    "without RLIMIT_AS (impossible under ASan) only the time "
		    "limit stops it", name);
		return;
	}
#endif
	ok(r.sig == 0 && (r.rc >= 0 || is_tier2(r.code)),
	    "%s: no crash or hang, Tier 2 or success (%s%s%s; %d documents, "
	    "%.2f s)", name, r.rc < 0 ? r.code : "success", r.sig ? ", signal "
	    : "", r.sig ? strsignal(r.sig) : "", r.ndocs, r.secs);
	if (r.rc < 0)
		diag("  %s", r.msg);
	for (i = 0; i < TD_NELEM(known); i++)
		if (strcmp(known[i].file, name) == 0)
			is_str(r.rc < 0 ? r.code : "", known[i].code,
			    "%s: expected outcome", name);
}

static void
test_fixtures(void)
{
	static const struct { const char *dir, *suffix; } sets[] = {
		{ "libarchive", ".uu" }, { "xz-edge", ".xz" },
		{ "zstd-edge", ".zst" }, { "zip-edge", ".zip" },
	};
	size_t s, i, n;
	char **v;

	for (s = 0; s < TD_NELEM(sets); s++) {
		char *dir = dpath(sets[s].dir);

		v = list_dir(dir, sets[s].suffix, &n);
		ok(n > 0, "%s: %zu fixtures", sets[s].dir, n);
		for (i = 0; i < n; i++) {
			char *in = xasprintf("%s/%s", dir, v[i]);

			if (strcmp(sets[s].suffix, ".uu") == 0) {
				char *name = xstrndup(v[i], strlen(v[i]) - 3);
				char *out = xasprintf("%s/%s", tmpdir, name);

				if (ok(uudecode(in, out) == 0, "uudecode %s",
				    v[i]))
					fixture(out, name);
				x_free(out);
				x_free(name);
			} else
				fixture(in, v[i]);
			x_free(in);
		}
		free_list(v, n);
		x_free(dir);
	}
}

/* The sha256sum of a file in tmpdir, or "" */
static void
sha256sum(const char *rel, char out[65])
{
	char *p = tpath(rel);

	tu_sha256sum(p, out);
	x_free(p);
}

static uint64_t
file_size(const char *rel)
{
	char *p = tpath(rel);
	struct stat sb;
	uint64_t n = stat(p, &sb) == 0 ? (uint64_t)sb.st_size : 0;

	x_free(p);
	return n;
}

/*
 * Unpack tmpdir/rel from fd (reading stop documents at most, 0: all, -1:
 * none) and compare unpack_digest() with sha256sum.
 */
static void
is_digest(const char *rel, int fd, int stop, const char *what)
{
	struct unpack_limits lim = lim_default();
	struct unpacker *u = NULL;
	const char *member;
	char want[65], got[65];
	uint64_t size = 1;
	int r, n = 0, rc;

	sha256sum(rel, want);
	if (unpack_open(&u, fd, rel, &lim) != 0)
		td_fatal("unpack_open");
	while (stop >= 0 && (stop == 0 || n < stop) &&
	    (r = unpack_next(u, &member)) == 1) {
		n++;
		while (unpack_read(u, u_scratch, sizeof(u_scratch)) > 0)
			;
	}
	rc = unpack_digest(u, got, &size);
	is_int(rc, 0, "%s: unpack_digest returns 0", what);
	is_str(got, want, "%s: the digest is the file's sha256sum", what);
	is_int(size, file_size(rel), "%s: the size is the file's", what);
	unpack_close(u);
}

static void
test_digest(void)
{
	static const char *files[] = {
		"a.csv", "a.csv.gz", "two.zip", "plain.tar.gz", "n.zip",
		"gz-trailing.csv.gz", "big.csv.gz", "m.zip", "trunc.zip",
	};
	struct unpack_limits lim = lim_default();
	struct unpacker *u = NULL;
	const char *member;
	char *p, got[65];
	uint64_t size;
	size_t i;
	int fd, r;
	FILE *f;

	for (i = 0; i < TD_NELEM(files); i++) {
		p = tpath(files[i]);
		if ((fd = open(p, O_RDONLY)) < 0)
			td_fatal("open %s", p);
		is_digest(files[i], fd, 0, files[i]);
		close(fd);
		/* stopping early, or reading nothing, still covers it all */
		fd = open(p, O_RDONLY);
		is_digest(files[i], fd, 1, files[i]);
		close(fd);
		fd = open(p, O_RDONLY);
		is_digest(files[i], fd, -1, files[i]);
		close(fd);
		x_free(p);
	}
	/* a pipe: read to its end as it comes */
	p = xasprintf("cat '%s/big.csv.gz'", tmpdir);
	f = popen(p, "r");
	is_digest("big.csv.gz", fileno(f), 0, "big.csv.gz through a pipe");
	pclose(f);
	x_free(p);
	/* the fd's offset does not matter: a regular file is read from 0 */
	p = tpath("a.csv.gz");
	fd = open(p, O_RDONLY);
	(void)lseek(fd, 100, SEEK_SET);
	is_digest("a.csv.gz", fd, 0, "a.csv.gz, fd not at 0");
	close(fd);
	x_free(p);

	/*
	 * A zip is read by seeking: a block read again must be what it was.
	 * Here the central directory's block changes after it was read.
	 */
	p = tpath("seek.zip");
	fd = open(p, O_RDONLY);
	ok(unpack_open(&u, fd, "seek.zip", &lim) == 0, "changed zip: open");
	is_int(unpack_next(u, &member), 1, "changed zip: first document");
	sh("python3 -c 'import os; f = open(\"seek.zip\", \"r+b\"); "
	    "f.seek(-30, os.SEEK_END); b = f.read(1); f.seek(-30, os.SEEK_END); "
	    "f.write(bytes([b[0] ^ 1])); f.close()'");
	while ((r = unpack_next(u, &member)) == 1)
		while (unpack_read(u, u_scratch, sizeof(u_scratch)) > 0)
			;
	is_int(unpack_digest(u, got, &size), TD_ERR_FORMAT,
	    "changed zip: unpack_digest says the file changed");
	is_str(unpack_errcode(u), "file_changed", "changed zip: file_changed");
	is_str(got, "", "changed zip: no digest");
	diag("  %s", unpack_errmsg(u));
	unpack_close(u);
	close(fd);
	x_free(p);
}

/* Whole streams: a gzip read to its last byte, tar padding only NULs. */
static void
test_whole(void)
{
	struct unpack_limits lim = lim_default();
	static const struct { const char *file, *code; int ndocs; } want[] = {
		{ "gz-multi.csv.gz", NULL, 1 },
		{ "gz-crc.csv.gz", "archive_corrupt", 0 },
		{ "gz-isize.csv.gz", "archive_corrupt", 0 },
		{ "gz-trailing.csv.gz", "archive_corrupt", 0 },
		{ "gz-zeros.csv.gz", "archive_corrupt", 0 },
		{ "gz-onebyte.csv.gz", "archive_corrupt", 0 },
		{ "gz-bad2head.csv.gz", "archive_corrupt", 0 },
		{ "gz-bad2data.csv.gz", "archive_corrupt", 0 },
		{ "gz-trunc2.csv.gz", "archive_corrupt", 0 },
		{ "tgz-trailing.tar.gz", "archive_corrupt", 0 },
		{ "tgz-bad2.tar.gz", "archive_corrupt", 0 },
		{ "cat.tar", "archive_corrupt", 0 },
		{ "cat.tar.gz", "archive_corrupt", 0 },
		{ "appended.tar", NULL, 2 },
		{ "nest-trailing.zip", "archive_corrupt", 0 },
		{ "nest-bad2.zip", "archive_corrupt", 0 },
		{ "nest-tgz.zip", "archive_corrupt", 0 },
		{ "nest-ok.zip", NULL, 1 },
		{ "bz-trailing.csv.bz2", "archive_corrupt", 0 },
		{ "xz-trailing.csv.xz", "archive_corrupt", 0 },
		{ "zst-trailing.csv.zst", "archive_corrupt", 0 },
		{ "nul.tar.gz", NULL, 0 },
		{ "nul-prefix.csv", "nul_prefix", 0 },
		{ "nul-prefix.csv.gz", "nul_prefix", 0 },
		{ "nest-nul.zip", "nul_prefix", 0 },
	};
	static const struct { const char *file, *says, *what; } msgs[] = {
		{ "gz-bad2head.csv.gz", "after 1 member) is not a gzip member",
		    "a damaged second member's header, named as such" },
		{ "gz-crc.csv.gz", "gzip member 2 (at byte ", "the member "
		    "named" },
		{ "gz-crc.csv.gz", "): incorrect data check", "a bad CRC-32, "
		    "as zlib says" },
		{ "cat.tar", "data after the end of the tar archive, at byte "
		    "10240", "two tar archives concatenated" },
		{ "bz-trailing.csv.bz2", "4 bytes after the end of the bzip2 "
		    "stream", "bytes after a bzip2 stream, counted" },
	};
	struct res r;
	size_t i;
	char *p;

	for (i = 0; i < TD_NELEM(want); i++) {
		p = tpath(want[i].file);
		run(p, &lim, 65536, &r);
		if (want[i].code == NULL)
			is_ok(&r, want[i].ndocs, want[i].file);
		else
			is_err(&r, want[i].code, want[i].file);
		res_free(&r);
		x_free(p);
	}
	p = tpath("gz-multi.csv.gz");
	run(p, &lim, 65536, &r);
	is_doc(&r, 0, "(null)", "ab.csv", "two gzip members: both, in order");
	is_str(r.format, "gzip", "two gzip members: format gzip");
	res_free(&r);
	x_free(p);
	for (i = 0; i < TD_NELEM(msgs); i++) {
		p = tpath(msgs[i].file);
		run(p, &lim, 65536, &r);
		ok(strstr(r.msg, msgs[i].says) != NULL, "%s: %s (%s)",
		    msgs[i].file, msgs[i].what, r.msg);
		res_free(&r);
		x_free(p);
	}
	p = tpath("appended.tar");
	run(p, &lim, 65536, &r);
	is_str(r.ndocs == 2 ? r.names[1] : NULL, "c.csv", "tar -r: the "
	    "member appended under the same name is a second document");
	res_free(&r);
	x_free(p);
	p = tpath("nul.tar.gz");
	{
		struct unpacker *u = NULL;
		const char *member;
		int fd = open(p, O_RDONLY);

		ok(unpack_open(&u, fd, p, &lim) == 0 &&
		    unpack_next(u, &member) == 0, "gzip of NULs: no document");
		is_int(unpack_stats(u)->nul_bytes, 20480, "gzip of NULs: "
		    "20480 NUL bytes, an empty tar archive");
		unpack_close(u);
		close(fd);
	}
	x_free(p);
}

/*
 * run() on tmpdir/file as it comes through a FIFO (a pipe: the member
 * cannot be read again for zlib's words): with ISA-L, or zlib when zlib
 * is set. unpack gathers a pipe's reads into its 1 MiB blocks.
 */
static void
run_fifo(const char *file, int zlib, struct res *r)
{
	struct unpack_limits lim = lim_default();
	char *p = tpath(file), *fifo = tpath("pipe.fifo");
	unsigned char *d;
	size_t n;
	pid_t pid;
	int fd, st;

	d = slurp(p, &n);
	(void)unlink(fifo);
	if (mkfifo(fifo, 0600) != 0 || (pid = fork()) < 0)
		td_fatal("mkfifo/fork: %s", strerror(errno));
	if (pid == 0) {
		if ((fd = open(fifo, O_WRONLY)) < 0 || td_write_all(fd, d, n))
			_exit(2);
		_exit(0);
	}
	if (zlib)
		setenv("TD_TEST_GZIP", "zlib", 1);
	run(fifo, &lim, 65536, r);
	unsetenv("TD_TEST_GZIP");
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	(void)unlink(fifo);
	x_free(d);
	x_free(fifo);
	x_free(p);
}

/* One file both ways: ISA-L (when built in) and zlib (the test hook). */
static void
run_both(const char *file, const struct unpack_limits *lim, struct res *is,
    struct res *zl)
{
	char *p = tpath(file);

	if (unsetenv("TD_TEST_GZIP") != 0)
		td_fatal("unsetenv: %s", strerror(errno));
	run(p, lim, 65536, is);
	if (setenv("TD_TEST_GZIP", "zlib", 1) != 0)
		td_fatal("setenv: %s", strerror(errno));
	run(p, lim, 65536, zl);
	unsetenv("TD_TEST_GZIP");
	x_free(p);
}

/*
 * The same outcome: code and message; documents, their names and every
 * byte of them when the file is read whole.
 */
static int
res_same(const struct res *a, const struct res *b, const char **why)
{
	int i;

	*why = "outcome";
	if (a->rc != b->rc || strcmp(a->code, b->code) != 0 ||
	    a->ndocs != b->ndocs || strcmp(a->format, b->format) != 0)
		return 0;
	*why = "message";
	if (strcmp(a->msg, b->msg) != 0)
		return 0;
	if (a->rc < 0)
		return 1;
	*why = "documents";
	if (a->expanded != b->expanded)
		return 0;
	for (i = 0; i < a->ndocs && i < MAX_DOCS; i++)
		if (strcmp(a->names[i], b->names[i]) != 0 ||
		    a->len[i] != b->len[i] || (a->len[i] > 0 &&
		    memcmp(a->data[i], b->data[i], a->len[i]) != 0))
			return 0;
	return 1;
}

/*
 * Gzip input is inflated with ISA-L when it is built in: every gzip file
 * of these tests gives what zlib gives (TD_TEST_GZIP=zlib), to the byte
 * and to the word of the message, and what zlib said before ISA-L.
 */
static void
test_gzip_paths(void)
{
	struct unpack_limits lim = lim_default();
	static const char *same[] = {
		"a.csv.gz", "big.csv.gz", "gz-big2.csv.gz", "plain.tar.gz",
		"dir.tar.gz", "trunc.csv.gz", "trunc.tar.gz", "x.zip", "n.zip",
		"gz-multi.csv.gz", "gz-crc.csv.gz", "gz-isize.csv.gz",
		"gz-trailing.csv.gz", "gz-zeros.csv.gz", "gz-onebyte.csv.gz",
		"gz-bad2head.csv.gz", "gz-bad2data.csv.gz", "gz-trunc2.csv.gz",
		"tgz-trailing.tar.gz", "tgz-bad2.tar.gz", "cat.tar.gz",
		"nest-trailing.zip", "nest-bad2.zip", "nest-tgz.zip",
		"nest-ok.zip", "nul.tar.gz", "nul-prefix.csv.gz", "zeros.gz",
		"zeros.tar.gz", "zerosgz.zip", "gz-bomb.csv.gz",
		"gzh-full.csv.gz", "gzh-flags.csv.gz", "gzh-hcrc.csv.gz",
		"gzh-method.csv.gz", "gzh-magic.csv.gz", "gzh-4bytes.csv.gz",
		"gzh-9bytes.csv.gz", "gzh-stored.csv.gz", "gzd-btype.csv.gz",
		"gzd-stored.csv.gz",
	};
	static const struct { const char *file, *code, *says; } want[] = {
		{ "gz-multi.csv.gz", NULL, NULL },
		{ "gzh-full.csv.gz", NULL, NULL },
		{ "gzh-stored.csv.gz", NULL, NULL },
		{ "gz-crc.csv.gz", "archive_corrupt", "gzip member 2 (at byte "
		    "1" },
		{ "gz-crc.csv.gz", "archive_corrupt", "): incorrect data check" },
		{ "gz-isize.csv.gz", "archive_corrupt", "): incorrect length "
		    "check" },
		{ "trunc.csv.gz", "archive_corrupt", "gzip member 1 (at byte 0)"
		    ": truncated" },
		{ "gz-trunc2.csv.gz", "archive_corrupt", "gzip member 2 (at "
		    "byte 1" },
		{ "gz-trunc2.csv.gz", "archive_corrupt", "): truncated" },
		{ "gzh-4bytes.csv.gz", "archive_corrupt", "): truncated" },
		{ "gzh-9bytes.csv.gz", "archive_corrupt", "): truncated" },
		{ "gz-trailing.csv.gz", "archive_corrupt", "after 2 members) is "
		    "not a gzip member" },
		{ "gzh-flags.csv.gz", "archive_corrupt", "): unknown header "
		    "flags set" },
		{ "gzh-hcrc.csv.gz", "archive_corrupt", "): header crc "
		    "mismatch" },
		{ "gzh-method.csv.gz", "archive_corrupt", "): unknown "
		    "compression method" },
		{ "gzh-magic.csv.gz", "archive_corrupt", "): incorrect header "
		    "check" },
		{ "gzd-btype.csv.gz", "archive_corrupt", "gzip member 1 (at "
		    "byte 0): invalid block type" },
		{ "gzd-stored.csv.gz", "archive_corrupt", "gzip member 1 (at "
		    "byte 0): invalid stored block lengths" },
		{ "zeros.gz", "archive_ratio_exceeded", "expands more than 200 "
		    "times" },
		{ "gz-bomb.csv.gz", "archive_ratio_exceeded", "expands more "
		    "than 200 times" },
	};
	struct res a, b;
	const char *why;
	unsigned char *want_a, *want_b, *end;
	size_t i, na, nb;
	char name[32], says[80], *apath, *bpath;
	int n, agree;

	for (i = 0; i < TD_NELEM(same); i++) {
		run_both(same[i], &lim, &a, &b);
		agree = res_same(&a, &b, &why);
		ok(agree, "%s: ISA-L and zlib agree (%s: %s "
		    "%s | %s %s)", same[i], why, a.code, a.msg, b.code, b.msg);
		res_free(&a);
		res_free(&b);
	}
	for (i = 0; i < TD_NELEM(want); i++) {
		run_both(want[i].file, &lim, &a, &b);
		if (want[i].code == NULL) {
			is_ok(&a, 1, want[i].file);
			is_doc(&a, 0, "(null)", "ab.csv", want[i].file);
		} else {
			is_err(&a, want[i].code, want[i].file);
			ok(strstr(a.msg, want[i].says) != NULL, "%s: says "
			    "\"%s\" (%s)", want[i].file, want[i].says, a.msg);
		}
		agree = res_same(&a, &b, &why);
		ok(agree, "%s: as zlib says (%s)", want[i].file, why);
		res_free(&a);
		res_free(&b);
	}

	/* a member's header split at every byte by the 1 MiB read blocks */
	bpath = tpath("src/b.csv");
	want_b = slurp(bpath, &nb);
	x_free(bpath);
	for (n = 0; n < 40; n++) {
		snprintf(name, sizeof(name), "gzs-%02d.gz", n);
		run_both(name, &lim, &a, &b);
		ok(a.rc == 0 && a.ndocs == 1 && a.len[0] == 1000000 + nb &&
		    memcmp(a.data[0] + 1000000, want_b, nb) == 0, "%s: a "
		    "header with every field, %d bytes of it in the first "
		    "block: read whole (%s)", name, n, a.msg);
		agree = res_same(&a, &b, &why);
		ok(agree, "%s: as zlib (%s)", name, why);
		res_free(&a);
		res_free(&b);
	}

	/*
	 * a member's end at every byte up to 24 before a block's end: its
	 * trailer, the next member's header or the junk after it split
	 * between two inputs of the inflater
	 */
	apath = tpath("src/a.csv");
	want_a = slurp(apath, &na);
	x_free(apath);
	for (n = 0; n < 24; n++) {
		snprintf(name, sizeof(name), "gze-%02d.gz", n);
		run_both(name, &lim, &a, &b);
		end = a.rc == 0 && a.ndocs == 1 && a.len[0] > na + nb ?
		    a.data[0] + a.len[0] : NULL;
		ok(end != NULL && memcmp(end - nb - na, want_a, na) == 0 &&
		    memcmp(end - nb, want_b, nb) == 0, "%s: a member ending "
		    "%d bytes before the first block's end, then another: "
		    "read whole (%s)", name, n, a.msg);
		agree = res_same(&a, &b, &why);
		ok(agree, "%s: as zlib (%s)", name, why);
		res_free(&a);
		res_free(&b);
		snprintf(name, sizeof(name), "gzj-%02d.gz", n);
		run_both(name, &lim, &a, &b);
		is_err(&a, "archive_corrupt", name);
		snprintf(says, sizeof(says), "(at byte %d, after 2 members) is "
		    "not a gzip member", (1 << 20) - n);
		ok(strstr(a.msg, says) != NULL, "%s: says \"%s\" (%s)", name,
		    says, a.msg);
		agree = res_same(&a, &b, &why);
		ok(agree, "%s: junk after it, as zlib (%s: %s | %s)", name,
		    why, a.msg, b.msg);
		res_free(&a);
		res_free(&b);
	}
	x_free(want_a);
	x_free(want_b);

	/* three members, and junk after two, through a pipe */
	run_fifo("gzt.gz", 0, &a);
	run_fifo("gzt.gz", 1, &b);
	ok(a.rc == 0 && a.ndocs == 1 && a.len[0] == 2 * (160 + 60) + 40,
	    "gzt.gz through a pipe: three members read whole (%zu bytes; %s)",
	    a.len[0], a.msg);
	agree = res_same(&a, &b, &why);
	ok(agree, "gzt.gz through a pipe: as zlib (%s)", why);
	res_free(&a);
	res_free(&b);
	run_fifo("gzt-junk.gz", 0, &a);
	run_fifo("gzt-junk.gz", 1, &b);
	is_err(&a, "archive_corrupt", "gzt-junk.gz");
	ok(strstr(a.msg, "(at byte 83, after 2 members) is not a gzip "
	    "member") != NULL, "gzt-junk.gz through a pipe: the junk after "
	    "two members, where it is (%s)", a.msg);
	agree = res_same(&a, &b, &why);
	ok(agree, "gzt-junk.gz through a pipe: as zlib (%s: %s | %s)", why,
	    a.msg, b.msg);
	res_free(&a);
	res_free(&b);

	/* single bits flipped anywhere: the same outcome */
	for (n = 0; n < 60; n++) {
		snprintf(name, sizeof(name), "gzr-%02d.csv.gz", n);
		run_both(name, &lim, &a, &b);
		agree = res_same(&a, &b, &why);
		ok(agree, "%s: a flipped bit, as zlib (%s: "
		    "%s %s | %s %s)", name, why, a.code, a.msg, b.code, b.msg);
		res_free(&a);
		res_free(&b);
	}

	/* limits */
	lim.max_bytes = 4 * MIB;
	run_both("gz-big2.csv.gz", &lim, &a, &b);
	is_err(&a, "archive_too_large", "gz-big2.csv.gz, max_bytes 4 MiB");
	agree = res_same(&a, &b, &why);
	ok(agree, "max_bytes: as zlib (%s)", why);
	res_free(&a);
	res_free(&b);
	lim = lim_default();
	lim.max_ratio = 2;
	run_both("big.csv.gz", &lim, &a, &b);
	is_err(&a, "archive_ratio_exceeded", "big.csv.gz, max_ratio 2");
	agree = res_same(&a, &b, &why);
	ok(agree, "max_ratio: as zlib (%s: %s | %s)", why, a.msg, b.msg);
	res_free(&a);
	res_free(&b);
}

int
main(void)
{
	if ((srcdir = getenv("srcdir")) == NULL || *srcdir == '\0')
		srcdir = ".";
	if (mkdtemp(tmpdir) == NULL)
		td_fatal("mkdtemp: %s", strerror(errno));

	build();
	test_basic();
	test_nested();
	test_limits();
	test_skip();
	test_bombs();
	test_traversal();
	test_fixtures();
	test_whole();
	test_gzip_paths();
	test_digest();

	if (getenv("TD_KEEP_TMP") == NULL)
		sh("cd / && rm -rf '%s'", tmpdir);
	return done_testing();
}
