/*
 * unpack.c - the documents inside a received file (see unpack.h).
 *
 * The file is read through a stack of libarchive readers.  Level 0 reads
 * the fd (read callback, 1 MiB buffer).  Every regular member of an
 * archive level is read by a child reader whose read callback pulls the
 * member's bytes from the parent with archive_read_data(), so libarchive
 * decides by content what the member is: a plain document (format "raw",
 * no filter), a raw compressed stream (format "raw" plus a filter), an
 * empty file (format "empty"), or an archive (zip or tar, any filter),
 * which becomes the next level.  Nothing is buffered by us beyond one
 * callback block per level, so no byte is lost between bidding and
 * reading and no member is ever held whole.
 *
 * Level 0, when the fd is a regular file, also gets a seek callback and
 * the seeking zip reader, which trusts the central directory (so zip
 * symlinks are seen as symlinks); nested zips can only be streamed, and
 * a streamed zip has no file types (a nested zip's symlink comes out as a
 * small document holding the link's target - harmless, nothing is
 * written).  Only zip, tar, "empty" and "raw" formats and the gzip,
 * bzip2, xz and zstd filters are enabled: "all formats" would let
 * mtree read files named in the input from the local disk, and "all
 * filters" would run external programs (lrzip, lzop, grzip, lz4 without
 * the library).  Nothing here ever writes to disk (no archive_write_disk).
 *
 * Limits (see unpack.h) are checked on bytes as they are produced:
 *   - expanded / compressed of the member being read, where "compressed"
 *     is what the member's archive consumed from its own input since the
 *     member's header (archive_filter_bytes(a, -1): consumption, not
 *     read-ahead, so a small file read in one block is not a false
 *     positive).  Checked for the document in unpack_read() and for every
 *     member, nested archives included, in the child read callback.
 *   - every byte decompressed on the caller's behalf (returned, or read
 *     and dropped when the caller moves on early or a nested archive ends
 *     before its member does) counts towards max_bytes.
 * unpack_read() returns at most UNPACK_READ_MAX bytes per call, so a
 * limit is never overshot by more than that.
 */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "td.h"
#include "unpack.h"

#define UNPACK_FD_BUF		(1024 * 1024)	/* level 0 read size */
#define UNPACK_CHILD_BUF	(128 * 1024)	/* nested level read size */
#define UNPACK_READ_MAX		(1024 * 1024)	/* most bytes per unpack_read */
#define UNPACK_RATIO_MIN	(1024 * 1024)	/* ratio checked above this */
#define UNPACK_NAME_MAX		4096		/* longest member path */
#define UNPACK_DEPTH_MAX	64		/* sanity bound on max_depth */
#define UNPACK_MSG_MAX		512
#define UNPACK_ERRNO_MISC	(-1)	/* libarchive's private ARCHIVE_ERRNO_MISC */

/* One reader in the stack. */
struct ulevel {
	struct unpacker		*u;
	int			 idx;
	struct archive		*a;
	unsigned char		*buf;		/* callback buffer */
	char			*prefix;	/* names of members: prefix + path */
	char			*name;		/* levels >= 1: the member's name */
	int			 src_eof;	/* callback saw the end */

	/* levels >= 1: the member of the parent this level reads */
	uint64_t		 in_base;	/* parent consumption at its header */
	uint64_t		 pulled;	/* bytes pulled from the parent */

	/* archive levels: first header already read by the bidding step */
	struct archive_entry	*pend;
	int			 pend_eof;
};

struct unpacker {
	int			 fd;
	char			*name;
	struct unpack_limits	 lim;
	struct unpack_stats	 st;

	struct ulevel		*lv;
	int			 nlv;		/* levels in use */
	int			 maxlv;

	int			 started;
	int			 done;
	int			 in_doc;	/* a document is current */
	int			 doc_eof;
	char			*member;	/* its name (NULL at top level) */
	uint64_t		 doc_out;	/* bytes of it produced */
	uint64_t		 doc_base;	/* consumption at its start */
	uint64_t		 produced;	/* all bytes decompressed for caller */
	uint64_t		 members;	/* entries seen, all levels */

	int			 rc;		/* sticky error */
	const char		*code;
	char			 msg[UNPACK_MSG_MAX];
	char			 format[64];
	unsigned char		*scratch;	/* for draining */
};

static int	 unpack_fail(struct unpacker *, int, const char *,
		    const char *, ...) __attribute__((format(printf, 4, 5)));

/* Record the first error; later ones are consequences of it. */
static int
unpack_fail(struct unpacker *u, int rc, const char *code, const char *fmt, ...)
{
	va_list ap;

	if (u->rc != 0)
		return u->rc;
	u->rc = rc;
	u->code = code;
	va_start(ap, fmt);
	vsnprintf(u->msg, sizeof(u->msg), fmt, ap);
	va_end(ap);
	return rc;
}

static int
unpack_corrupt(struct unpacker *u, struct archive *a)
{
	const char *s = a != NULL ? archive_error_string(a) : NULL;

	return unpack_fail(u, TD_ERR_FORMAT, "archive_corrupt", "%s",
	    s != NULL ? s : "unreadable archive");
}

/* out > max * in, without overflow; in == 0 means any expansion is over. */
static int
unpack_over_ratio(uint64_t out, uint64_t in, uint64_t max)
{
	if (out <= UNPACK_RATIO_MIN)
		return 0;
	if (in == 0)
		return 1;
	if (in > UINT64_MAX / max)
		return 0;
	return out > in * max;
}

/* Bytes the archive has consumed from its input (its read callback). */
static uint64_t
unpack_consumed(struct archive *a)
{
	la_int64_t n = archive_filter_bytes(a, -1);

	return n < 0 ? 0 : (uint64_t)n;
}

/* Consumption since base (0 if a seek went backwards). */
static uint64_t
unpack_consumed_since(struct archive *a, uint64_t base)
{
	uint64_t n = unpack_consumed(a);

	return n >= base ? n - base : 0;
}

/* Level 0: read the fd. */
static la_ssize_t
unpack_fd_read(struct archive *a, void *arg, const void **bufp)
{
	struct ulevel *lv = arg;
	struct unpacker *u = lv->u;
	ssize_t n;

	*bufp = lv->buf;
	if (u->rc != 0) {
		archive_set_error(a, UNPACK_ERRNO_MISC, "%s", u->msg);
		return -1;
	}
	do
		n = read(u->fd, lv->buf, UNPACK_FD_BUF);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int e = errno;

		unpack_fail(u, TD_ERR_IO, "io_error", "read: %s", strerror(e));
		archive_set_error(a, e, "read: %s", strerror(e));
		return -1;
	}
	if (n == 0)
		lv->src_eof = 1;
	return n;
}

/* Level 0, a regular file: lets the zip reader use the central directory. */
static la_int64_t
unpack_fd_seek(struct archive *a, void *arg, la_int64_t off, int whence)
{
	struct ulevel *lv = arg;
	off_t r = lseek(lv->u->fd, (off_t)off, whence);

	if (r < 0) {
		archive_set_error(a, errno, "lseek: %s", strerror(errno));
		return ARCHIVE_FATAL;
	}
	return (la_int64_t)r;
}

/*
 * Levels >= 1: pull the next block of the parent's current member, and
 * check the member's expansion against what the parent consumed for it.
 * Returns bytes (0 at the member's end) or -1 with u's error set.
 */
static ssize_t
unpack_pull(struct ulevel *lv)
{
	struct unpacker *u = lv->u;
	struct ulevel *p = &u->lv[lv->idx - 1];
	la_ssize_t n;
	uint64_t in;

	if (u->rc != 0)
		return -1;
	if (lv->src_eof)
		return 0;
	n = archive_read_data(p->a, lv->buf, UNPACK_CHILD_BUF);
	if (n < 0) {
		unpack_corrupt(u, p->a);
		return -1;
	}
	if (n == 0) {
		lv->src_eof = 1;
		return 0;
	}
	lv->pulled += (uint64_t)n;
	in = unpack_consumed_since(p->a, lv->in_base);
	if (unpack_over_ratio(lv->pulled, in, u->lim.max_ratio)) {
		unpack_fail(u, TD_ERR_LIMIT, "archive_ratio_exceeded",
		    "%s: expands more than %" PRIu64 " times (%" PRIu64
		    " bytes from %" PRIu64 ")", lv->name, u->lim.max_ratio,
		    lv->pulled, in);
		return -1;
	}
	return n;
}

static la_ssize_t
unpack_child_read(struct archive *a, void *arg, const void **bufp)
{
	struct ulevel *lv = arg;
	ssize_t n;

	*bufp = lv->buf;
	n = unpack_pull(lv);
	if (n < 0) {
		archive_set_error(a, UNPACK_ERRNO_MISC, "%s", lv->u->msg);
		return -1;
	}
	return n;
}

/* A reader for what tradedrop accepts, and nothing that touches disk. */
static struct archive *
unpack_reader(int seekable)
{
	struct archive *a;

	if ((a = archive_read_new()) == NULL)
		td_fatal("archive_read_new: out of memory");
	if (archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
	    archive_read_support_filter_bzip2(a) != ARCHIVE_OK ||
	    archive_read_support_filter_xz(a) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(a) != ARCHIVE_OK)
		td_fatal("libarchive lacks a decompressor: %s",
		    archive_error_string(a));
	/* order matters for ties: "empty" before "raw" */
	if (seekable)
		archive_read_support_format_zip(a);	/* both readers */
	else
		archive_read_support_format_zip_streamable(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_empty(a);
	archive_read_support_format_raw(a);
	return a;
}

static void
unpack_level_free(struct ulevel *lv)
{
	if (lv->a != NULL)
		archive_read_free(lv->a);
	lv->a = NULL;
	x_free(lv->buf);
	lv->buf = NULL;
	x_free(lv->prefix);
	lv->prefix = NULL;
	x_free(lv->name);
	lv->name = NULL;
	lv->pend = NULL;
	lv->pend_eof = 0;
	lv->src_eof = 0;
	lv->pulled = 0;
	lv->in_base = 0;
}

static void
unpack_pop(struct unpacker *u)
{
	unpack_level_free(&u->lv[--u->nlv]);
}

static int
unpack_is_raw(struct archive *a)
{
	return archive_format(a) == ARCHIVE_FORMAT_RAW;
}

static const char *
unpack_filter_ext(const char *name)
{
	if (strcmp(name, "gzip") == 0)
		return "gz";
	if (strcmp(name, "bzip2") == 0)
		return "bz2";
	if (strcmp(name, "zstd") == 0)
		return "zst";
	return name;
}

/* "raw", "gzip", "zip", "tar.gz", "empty" ... of level 0. */
static void
unpack_set_format(struct unpacker *u, struct archive *a)
{
	int fmt = archive_format(a), nf = archive_filter_count(a), i;
	size_t len;
	const char *base;

	if (fmt == ARCHIVE_FORMAT_RAW)
		base = NULL;
	else if (fmt == ARCHIVE_FORMAT_EMPTY)
		base = "empty";
	else if ((fmt & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_ZIP)
		base = "zip";
	else if ((fmt & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_TAR)
		base = "tar";
	else
		base = "unknown";
	u->format[0] = '\0';
	if (base != NULL)
		snprintf(u->format, sizeof(u->format), "%s", base);
	/* filter 0 is the one nearest the format; the last is the client */
	for (i = 0; i < nf - 1; i++) {
		const char *f = archive_filter_name(a, i);

		if (f == NULL)
			f = "?";
		len = strlen(u->format);
		if (len == 0)
			snprintf(u->format, sizeof(u->format), "%s", f);
		else
			snprintf(u->format + len, sizeof(u->format) - len,
			    ".%s", unpack_filter_ext(f));
	}
	if (u->format[0] == '\0')
		snprintf(u->format, sizeof(u->format), "raw");
	u->st.format = u->format;
}

/* Absolute, or has a ".." component ('/' and '\' both separate). */
static int
unpack_path_bad(const char *p)
{
	const char *s;

	if (p[0] == '/' || p[0] == '\\')
		return 1;
	if (isalpha((unsigned char)p[0]) && p[1] == ':')
		return 1;
	for (s = p; *s != '\0'; ) {
		size_t n = strcspn(s, "/\\");

		if (n == 2 && s[0] == '.' && s[1] == '.')
			return 1;
		s += n;
		if (*s != '\0')
			s++;
	}
	return 0;
}

static int
unpack_count_member(struct unpacker *u)
{
	if (++u->members > u->lim.max_members)
		return unpack_fail(u, TD_ERR_LIMIT, "archive_too_many_members",
		    "more than %" PRIu64 " archive members",
		    u->lim.max_members);
	return 0;
}

/* Start a document read from level lv (the leaf). */
static int
unpack_doc_start(struct unpacker *u, struct ulevel *lv, char *member)
{
	struct ulevel *p = lv->idx > 0 ? &u->lv[lv->idx - 1] : lv;

	u->in_doc = 1;
	u->doc_eof = 0;
	u->doc_out = 0;
	/* children: consumption of the parent since the member's header */
	u->doc_base = lv->idx > 0 ? lv->in_base : unpack_consumed(p->a);
	x_free(u->member);
	u->member = member;	/* transferred */
	u->st.documents++;
	return 1;
}

/*
 * Open a child reader over the current member of the top level and read
 * its first header, which tells what the member is.  Returns 1 when the
 * child is a document (it stays as the leaf), 0 when it was an empty file
 * (popped), 2 when it is an archive (it stays, its first header pending),
 * <0 on error.
 */
static int
unpack_push(struct unpacker *u, const char *path)
{
	struct ulevel *p = &u->lv[u->nlv - 1], *c;
	struct archive_entry *e = NULL;
	int r;

	if (u->nlv >= u->maxlv)
		td_fatal("unpack: level stack overflow");	/* invariant */
	c = &u->lv[u->nlv++];
	c->u = u;
	c->idx = u->nlv - 1;
	c->buf = xmalloc(UNPACK_CHILD_BUF);
	c->name = xstrdup(path);
	c->in_base = unpack_consumed(p->a);
	c->a = unpack_reader(0);
	if (archive_read_open(c->a, c, NULL, unpack_child_read, NULL) !=
	    ARCHIVE_OK)
		return unpack_corrupt(u, c->a);
	r = archive_read_next_header(c->a, &e);
	if (r == ARCHIVE_EOF && archive_format(c->a) == ARCHIVE_FORMAT_EMPTY) {
		u->st.skipped_empty++;
		unpack_pop(u);
		return 0;
	}
	if (r != ARCHIVE_EOF && r < ARCHIVE_WARN)
		return unpack_corrupt(u, c->a);
	if (r != ARCHIVE_EOF && unpack_is_raw(c->a))
		return 1;
	/* an archive in an archive */
	if ((uint64_t)c->idx > u->lim.max_depth)
		return unpack_fail(u, TD_ERR_LIMIT, "archive_too_deep",
		    "%s: archives nested more than %" PRIu64 " deep", path,
		    u->lim.max_depth);
	c->prefix = xasprintf("%s!/", path);
	if (r == ARCHIVE_EOF)
		c->pend_eof = 1;
	else
		c->pend = e;
	return 2;
}

/* Read and drop the rest of the current document, within the limits. */
static int
unpack_drain_doc(struct unpacker *u)
{
	ssize_t n;

	while (!u->doc_eof)
		if ((n = unpack_read(u, u->scratch, UNPACK_CHILD_BUF)) < 0)
			return (int)n;
	return 0;
}

/* Level 0: open the fd and read the first header. 1: document, 0: end. */
static int
unpack_start(struct unpacker *u)
{
	struct ulevel *lv = &u->lv[0];
	struct archive_entry *e = NULL;
	struct stat sb;
	int r, seekable;

	u->started = 1;
	u->nlv = 1;
	lv->u = u;
	lv->idx = 0;
	lv->buf = xmalloc(UNPACK_FD_BUF);
	lv->prefix = xstrdup("");
	seekable = fstat(u->fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    lseek(u->fd, 0, SEEK_CUR) >= 0;
	lv->a = unpack_reader(seekable);
	archive_read_set_callback_data(lv->a, lv);
	archive_read_set_read_callback(lv->a, unpack_fd_read);
	if (seekable)
		archive_read_set_seek_callback(lv->a, unpack_fd_seek);
	if (archive_read_open1(lv->a) != ARCHIVE_OK)
		return unpack_corrupt(u, lv->a);
	r = archive_read_next_header(lv->a, &e);
	if (r != ARCHIVE_EOF && r < ARCHIVE_WARN)
		return unpack_corrupt(u, lv->a);
	unpack_set_format(u, lv->a);
	if (r == ARCHIVE_EOF) {
		if (archive_format(lv->a) == ARCHIVE_FORMAT_EMPTY)
			u->st.skipped_empty++;
		u->done = 1;
		return 0;
	}
	if (unpack_is_raw(lv->a)) {
		if ((r = unpack_count_member(u)) < 0)
			return r;
		return unpack_doc_start(u, lv, NULL);
	}
	lv->pend = e;
	return 2;
}

int
unpack_open(struct unpacker **up, int fd, const char *name,
    const struct unpack_limits *lim)
{
	struct unpacker *u;

	*up = NULL;
	if (fd < 0 || lim == NULL || lim->max_ratio == 0 ||
	    lim->max_depth > UNPACK_DEPTH_MAX)
		return TD_ERR_INVAL;
	u = xcalloc(1, sizeof(*u));
	u->fd = fd;
	u->name = xstrdup(name != NULL ? name : "");
	u->lim = *lim;
	/* archives at depths 0..max_depth, plus a leaf */
	u->maxlv = (int)lim->max_depth + 2;
	u->lv = xcalloc((size_t)u->maxlv, sizeof(*u->lv));
	u->scratch = xmalloc(UNPACK_CHILD_BUF);
	u->st.format = "";
	*up = u;	/* transferred */
	return 0;
}

int
unpack_next(struct unpacker *u, const char **member)
{
	struct ulevel *lv;
	struct archive_entry *e;
	const char *path;
	int r;

	*member = NULL;
	if (u->rc != 0)
		return u->rc;
	if (u->done)
		return 0;
	if (!u->started) {
		if ((r = unpack_start(u)) < 0)
			return u->rc;
		if (r < 2) {
			*member = u->member;
			return r;
		}
	} else if (u->in_doc) {
		if (unpack_drain_doc(u) < 0)
			return u->rc;
		u->in_doc = 0;
		x_free(u->member);
		u->member = NULL;
		if (u->nlv == 1) {	/* the top level was the document */
			u->done = 1;
			return 0;
		}
		unpack_pop(u);
	}

	for (;;) {
		lv = &u->lv[u->nlv - 1];
		e = NULL;
		if (lv->pend != NULL) {
			e = lv->pend;
			lv->pend = NULL;
			r = ARCHIVE_OK;
		} else if (lv->pend_eof) {
			lv->pend_eof = 0;
			r = ARCHIVE_EOF;
		} else
			r = archive_read_next_header(lv->a, &e);
		if (r == ARCHIVE_EOF) {
			if (u->nlv == 1) {
				u->done = 1;
				return 0;
			}
			/* a nested archive ended: drop the rest of its member */
			while ((r = (int)unpack_pull(lv)) > 0) {
				u->produced += (uint64_t)r;
				if (u->produced > u->lim.max_bytes) {
					unpack_fail(u, TD_ERR_LIMIT,
					    "archive_too_large", "more than %"
					    PRIu64 " bytes expanded",
					    u->lim.max_bytes);
					break;
				}
			}
			if (u->rc != 0)
				return u->rc;
			unpack_pop(u);
			continue;
		}
		if (r < ARCHIVE_WARN)
			return unpack_corrupt(u, lv->a);
		if (unpack_count_member(u) < 0)
			return u->rc;

		if ((path = archive_entry_pathname_utf8(e)) == NULL &&
		    (path = archive_entry_pathname(e)) == NULL)
			return unpack_fail(u, TD_ERR_FORMAT, "archive_corrupt",
			    "member name not readable");
		if (*path == '\0')
			return unpack_fail(u, TD_ERR_FORMAT, "archive_corrupt",
			    "member with an empty name");
		if (strlen(lv->prefix) + strlen(path) > UNPACK_NAME_MAX)
			return unpack_fail(u, TD_ERR_FORMAT, "archive_corrupt",
			    "member name longer than %d bytes",
			    UNPACK_NAME_MAX);
		if (unpack_path_bad(path))
			return unpack_fail(u, TD_ERR_FORMAT, "path_traversal",
			    "%s%s: absolute or leaves the archive", lv->prefix,
			    path);
		if (archive_entry_hardlink(e) != NULL)
			return unpack_fail(u, TD_ERR_FORMAT,
			    "archive_member_type", "%s%s: hard link",
			    lv->prefix, path);
		switch (archive_entry_filetype(e)) {
		case AE_IFREG:
			break;
		case AE_IFDIR:
			u->st.skipped_dirs++;
			continue;
		case AE_IFLNK:
			return unpack_fail(u, TD_ERR_FORMAT,
			    "archive_member_type", "%s%s: symbolic link",
			    lv->prefix, path);
		default:
			return unpack_fail(u, TD_ERR_FORMAT,
			    "archive_member_type", "%s%s: not a regular file "
			    "(type 0%o)", lv->prefix, path,
			    (unsigned)archive_entry_filetype(e));
		}
		if (archive_entry_is_encrypted(e))
			return unpack_fail(u, TD_ERR_FORMAT, "archive_encrypted",
			    "%s%s: encrypted", lv->prefix, path);

		/* a regular member: let libarchive say what it is */
		{
			char *name = xasprintf("%s%s", lv->prefix, path);

			r = unpack_push(u, name);
			if (r == 1) {
				*member = name;
				return unpack_doc_start(u,
				    &u->lv[u->nlv - 1], name);
			}
			x_free(name);
			if (r < 0)
				return u->rc;
		}
	}
}

ssize_t
unpack_read(struct unpacker *u, void *buf, size_t n)
{
	struct ulevel *leaf, *p;
	la_ssize_t r;
	uint64_t in;

	if (u->rc != 0)
		return u->rc;
	if (!u->in_doc || u->doc_eof)
		return 0;
	if (n > UNPACK_READ_MAX)
		n = UNPACK_READ_MAX;
	if (n == 0)
		return 0;
	leaf = &u->lv[u->nlv - 1];
	p = leaf->idx > 0 ? &u->lv[leaf->idx - 1] : leaf;
	r = archive_read_data(leaf->a, buf, n);
	if (r < 0) {
		unpack_corrupt(u, leaf->a);
		return u->rc;
	}
	if (r == 0) {
		u->doc_eof = 1;
		return 0;
	}
	u->doc_out += (uint64_t)r;
	u->produced += (uint64_t)r;
	if (u->produced > u->lim.max_bytes)
		return unpack_fail(u, TD_ERR_LIMIT, "archive_too_large",
		    "more than %" PRIu64 " bytes expanded", u->lim.max_bytes);
	in = unpack_consumed_since(p->a, u->doc_base);
	if (unpack_over_ratio(u->doc_out, in, u->lim.max_ratio))
		return unpack_fail(u, TD_ERR_LIMIT, "archive_ratio_exceeded",
		    "%s: expands more than %" PRIu64 " times (%" PRIu64
		    " bytes from %" PRIu64 ")", u->member != NULL ? u->member :
		    u->name, u->lim.max_ratio, u->doc_out, in);
	u->st.expanded += (uint64_t)r;
	return r;
}

const char *
unpack_errcode(const struct unpacker *u)
{
	return u->rc != 0 ? u->code : NULL;
}

const char *
unpack_errmsg(const struct unpacker *u)
{
	return u->rc != 0 ? u->msg : NULL;
}

const struct unpack_stats *
unpack_stats(const struct unpacker *u)
{
	return &u->st;
}

void
unpack_close(struct unpacker *u)
{
	if (u == NULL)
		return;
	while (u->nlv > 0)
		unpack_pop(u);
	x_free(u->lv);
	x_free(u->member);
	x_free(u->name);
	x_free(u->scratch);
	x_free(u);
}
