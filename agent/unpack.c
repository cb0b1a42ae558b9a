/*
 * unpack.c - the documents inside a received file (see unpack.h).
 *
 * The file is read through a stack of libarchive readers.  Level 0 reads
 * the fd.  Every regular member of an archive level is read by a child
 * reader whose read callback pulls the member's bytes from the parent
 * with archive_read_data(), so libarchive decides by content what the
 * member is: a plain document (format "raw", no filter), a raw compressed
 * stream (format "raw" plus a filter), an empty file (format "empty"), or
 * an archive (zip or tar, any filter), which becomes the next level.
 * Nothing is buffered by us beyond one callback block per level, so no
 * byte is lost between bidding and reading and no member is ever held
 * whole.
 *
 * The input of a level (the fd, or the parent's member) that begins with
 * a gzip header is inflated here before its reader sees it, with ISA-L
 * when it is built in (two to three times zlib's speed), else with zlib:
 * libarchive's gzip filter checks neither the CRC-32 nor the length of a
 * member, and ends the stream quietly at the first bytes that are not a
 * gzip header, so a damaged second member or trailing garbage would pass.
 * libarchive keeps its gzip filter for a gzip inside another layer.
 * Both inflaters accept the same files with the same documents, and
 * refuse the same files with the same codes; the words are zlib's where
 * the member can be inflated again with zlib for them (a file read from
 * its start, not a pipe or a member of another layer: there ISA-L's
 * coarser "invalid block" stays; see gz_isal(), gz_zlib_word()). Of a
 * member refused for its CRC-32, ISA-L may have handed out more bytes
 * first than zlib, and the ratio check may run at other points; the file
 * is refused whole either way. The test hook TD_TEST_GZIP=zlib picks
 * zlib, so that the tests can compare them.
 *
 * When a level's reader is done, the rest of its input is read and
 * checked (unpack_level_end): nothing may follow a raw compressed stream,
 * and only NUL bytes may follow a tar archive's end.
 *
 * Level 0 reads the fd from offset 0 in 1 MiB blocks and hashes every
 * byte once, in order (struct rawin).  Only a file that starts like a zip
 * is read by seeking (the seeking zip reader trusts the central
 * directory, so zip symlinks are seen as symlinks); then every block read
 * is recorded by its SHA-256 and a block read again must match.  Nested
 * zips can only be streamed, and a streamed zip has no file types (a
 * nested zip's symlink comes out as a small document holding the link's
 * target - harmless, nothing is written).  Only zip, tar, "empty" and
 * "raw" formats and the gzip, bzip2, xz and zstd filters are enabled:
 * "all formats" would let mtree read files named in the input from the
 * local disk, and "all filters" would run external programs (lrzip, lzop,
 * grzip, lz4 without the library).  Nothing here ever writes to disk (no
 * archive_write_disk).
 *
 * Limits (see unpack.h) are checked on bytes as they are produced:
 *   - expanded / compressed of the member being read, where "compressed"
 *     is what the member's archive consumed from its own input since the
 *     member's header (consumption, not read-ahead, so a small file read
 *     in one block is not a false positive).  Checked for the document in
 *     unpack_read() and for every member, nested archives included, in
 *     the child's pull; and for every gzip stream inflated here.
 *   - every byte decompressed on the caller's behalf (returned, or read
 *     and dropped when the caller moves on early or a level ends before
 *     its input does) counts towards max_bytes.
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
#include <zlib.h>
#ifdef HAVE_ISAL
#include <isa-l/igzip_lib.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#endif

#include "td.h"
#include "hash.h"
#include "unpack.h"

#define UNPACK_BLK		(1024 * 1024)	/* level 0 read and digest block */
#define UNPACK_CHILD_BUF	(128 * 1024)	/* nested level read size */
#define UNPACK_GZ_OUT		(128 * 1024)	/* inflated bytes per callback */
#define UNPACK_READ_MAX		(1024 * 1024)	/* most bytes per unpack_read */
#define UNPACK_RATIO_MIN	(1024 * 1024)	/* ratio checked above this */
#define UNPACK_NAME_MAX		4096		/* longest member path */
#define UNPACK_DEPTH_MAX	64		/* sanity bound on max_depth */
#define UNPACK_MSG_MAX		512
#define UNPACK_ERRNO_MISC	(-1)	/* libarchive's private ARCHIVE_ERRNO_MISC */
#define UNPACK_NONE		UINT64_MAX
#define UNPACK_MD_LEN		32		/* SHA-256 */

/* The SHA-256 of a block of the fd as first read (zip mode). */
struct rawdg {
	uint64_t		 bno;
	size_t			 len;
	unsigned char		 md[UNPACK_MD_LEN];
};

/* Level 0's input: the fd, every byte hashed once, in order. */
struct rawin {
	int			 fd;
	int			 pipe;		/* not a regular file: read() */
	int			 seek;		/* a zip: libarchive seeks */
	struct td_sha256	 md;		/* over bytes [0, hashed) */
	uint64_t		 hashed;
	int			 eof;		/* hashed is the file's size */
	unsigned char		*blk;		/* block bno, blklen bytes */
	uint64_t		 bno;
	size_t			 blklen;
	int			 have;
	uint64_t		 pos;		/* next offset for libarchive */
	struct rawdg		*dg;		/* zip mode, sorted by bno */
	size_t			 ndg;
	int			 err;		/* a read failed: TD_ERR_* */
	int			 final;		/* unpack_digest() ran */
	char			 hex[2 * UNPACK_MD_LEN + 1];
};

/*
 * The outermost gzip layer of a level's input, inflated with ISA-L when it
 * is built in (unless the test hook TD_TEST_GZIP=zlib asks for zlib), else
 * with zlib.  Both give the same results: ISA-L's are checked the way
 * zlib checks them (see gz_isal()).
 */
struct gunzip {
	const unsigned char	*in;		/* input not yet consumed */
	size_t			 nin;
	unsigned char		*out;
	size_t			 nout;		/* room left in out */
	z_stream		 zs;		/* zlib, when isal is NULL */
#ifdef HAVE_ISAL
	struct inflate_state	*isal;
	struct isal_gzip_header	 hdr;		/* the member's, as parsed */
	unsigned char		 head[4];	/* its first bytes */
	size_t			 nhead;
	unsigned char		 tail[8];	/* the last bytes consumed */
#endif
	int			 in_member;
	int			 src_eof;
	uint64_t		 members;	/* members completed */
	uint64_t		 member_at;	/* input offset of the current one */
	uint64_t		 in_total;	/* compressed bytes consumed */
	uint64_t		 out_total;
};

/* One reader in the stack. */
struct ulevel {
	struct unpacker		*u;
	int			 idx;
	struct archive		*a;
	unsigned char		*buf;		/* levels >= 1: pull buffer */
	char			*prefix;	/* names of members: prefix + path */
	char			*name;		/* levels >= 1: the member's name */
	int			 src_eof;	/* the member's end was pulled */

	/* levels >= 1: the member of the parent this level reads */
	uint64_t		 in_base;	/* parent consumption at its header */
	uint64_t		 pulled;	/* bytes pulled from the parent */

	/* the input as the reader sees it */
	struct gunzip		*gz;		/* NULL: not gzip */
	unsigned char		 stash[3];	/* first bytes, peeked at */
	size_t			 nstash;
	const unsigned char	*pend;		/* rest of a peeked block */
	size_t			 npend;
	uint64_t		 delivered;	/* bytes given to the reader */
	const unsigned char	*last;		/* the last block given */
	size_t			 lastlen;
	uint64_t		 entries;	/* headers read (archive levels) */

	/* archive levels: first header already read by the bidding step */
	struct archive_entry	*pend_e;
	int			 pend_eof;
};

struct unpacker {
	char			*name;
	struct unpack_limits	 lim;
	struct unpack_stats	 st;
	struct rawin		 raw;

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
	int			 gz_zlib;	/* test hook: zlib, not ISA-L */
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

static int
unpack_ratio_fail(struct unpacker *u, const char *name, uint64_t out,
    uint64_t in)
{
	return unpack_fail(u, TD_ERR_LIMIT, "archive_ratio_exceeded",
	    "%s: expands more than %" PRIu64 " times (%" PRIu64 " bytes from %"
	    PRIu64 ")", name, u->lim.max_ratio, out, in);
}

/* What a level is called in messages: the file, or the member. */
static const char *
lv_name(const struct ulevel *lv)
{
	return lv->idx > 0 ? lv->name : lv->u->name;
}

/*
 * Compressed bytes of a gzip input used so far: what ISA-L holds in its
 * bit buffer, whole bytes of it, is not counted yet (as zlib gives them
 * back), so that both count alike.
 */
static uint64_t
gz_in(const struct gunzip *g)
{
#ifdef HAVE_ISAL
	if (g->isal != NULL && g->in_member && g->isal->read_in_length > 0)
		return g->in_total - (uint64_t)g->isal->read_in_length / 8;
#endif
	return g->in_total;
}

/*
 * Bytes a level's reader has consumed from its compressed input: what
 * zlib consumed for a gzip input, else libarchive's own count.
 */
static uint64_t
lv_consumed(const struct ulevel *lv)
{
	la_int64_t n;

	if (lv->gz != NULL)
		return gz_in(lv->gz);
	n = archive_filter_bytes(lv->a, -1);
	return n < 0 ? 0 : (uint64_t)n;
}

/* Consumption since base (0 if a seek went backwards). */
static uint64_t
lv_consumed_since(const struct ulevel *lv, uint64_t base)
{
	uint64_t n = lv_consumed(lv);

	return n >= base ? n - base : 0;
}

/* ------------------------------------------------------ the raw file */

static int
rawdg_cmp(const void *key, const void *elt)
{
	uint64_t k = *(const uint64_t *)key;
	const struct rawdg *g = elt;

	return k < g->bno ? -1 : k > g->bno;
}

static struct rawdg *
raw_dg_find(struct rawin *r, uint64_t bno)
{
	if (r->ndg == 0)
		return NULL;
	return bsearch(&bno, r->dg, r->ndg, sizeof(*r->dg), rawdg_cmp);
}

static void
raw_dg_add(struct rawin *r, uint64_t bno, size_t len,
    const unsigned char *md)
{
	size_t i = r->ndg;

	r->dg = xreallocarray(r->dg, r->ndg + 1, sizeof(*r->dg));
	while (i > 0 && r->dg[i - 1].bno > bno) {
		r->dg[i] = r->dg[i - 1];
		i--;
	}
	r->dg[i].bno = bno;
	r->dg[i].len = len;
	memcpy(r->dg[i].md, md, sizeof(r->dg[i].md));
	r->ndg++;
}

/* The file changed under us: that explains any error seen before. */
static int
raw_changed(struct unpacker *u, uint64_t off, size_t len)
{
	u->raw.err = TD_ERR_FORMAT;
	u->rc = 0;
	return unpack_fail(u, TD_ERR_FORMAT, "file_changed", "%s changed while "
	    "it was read: bytes %" PRIu64 " to %" PRIu64 " differ from their "
	    "first read", u->name, off, off + len);
}

/* Feed the block held to the digest if it is the next one in order. */
static void
raw_feed(struct rawin *r)
{
	if (!r->have || r->bno * UNPACK_BLK != r->hashed || r->eof)
		return;
	if (r->blklen > 0)
		td_sha256_update(&r->md, r->blk, r->blklen);
	r->hashed += r->blklen;
	if (r->blklen < UNPACK_BLK)
		r->eof = 1;
}

/* Read block bno of the file into r->blk. 0, or <0 with u's error set. */
static int
raw_load(struct unpacker *u, uint64_t bno)
{
	struct rawin *r = &u->raw;
	struct rawdg *g;
	unsigned char md[UNPACK_MD_LEN];
	uint64_t off = bno * UNPACK_BLK;
	size_t len = 0;
	ssize_t n;

	r->have = 0;
	if (r->err != 0)
		return u->rc != 0 ? u->rc : r->err;
	if (r->pipe && off != r->hashed) {
		r->err = TD_ERR_INTERNAL;
		return unpack_fail(u, TD_ERR_INTERNAL, "io_error",
		    "unpack: a pipe read out of order");
	}
	while (len < UNPACK_BLK) {
		if (r->pipe)
			n = read(r->fd, r->blk + len, UNPACK_BLK - len);
		else
			n = pread(r->fd, r->blk + len, UNPACK_BLK - len,
			    (off_t)(off + len));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r->err = TD_ERR_IO;
			return unpack_fail(u, TD_ERR_IO, "io_error", "read: %s",
			    strerror(errno));
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (r->seek) {
		td_sha256_once(r->blk, len, md);
		if ((g = raw_dg_find(r, bno)) == NULL)
			raw_dg_add(r, bno, len, md);
		else if (g->len != len || memcmp(g->md, md, sizeof(md)) != 0)
			return raw_changed(u, off, len > g->len ? len : g->len);
	}
	r->bno = bno;
	r->blklen = len;
	r->have = 1;
	return 0;
}

/* The bytes of the file at pos, to the end of their block; 0 at its end. */
static ssize_t
raw_at(struct unpacker *u, uint64_t pos, const unsigned char **p)
{
	struct rawin *r = &u->raw;
	uint64_t bno = pos / UNPACK_BLK, in = pos % UNPACK_BLK;

	*p = r->blk;
	if (!(r->have && r->bno == bno) && raw_load(u, bno) < 0)
		return -1;
	raw_feed(r);
	if (in >= r->blklen)
		return 0;
	*p = r->blk + in;
	return (ssize_t)(r->blklen - in);
}

/* Level 0 of a zip: libarchive reads at raw.pos and seeks. */
static la_ssize_t
unpack_zip_read(struct archive *a, void *arg, const void **bufp)
{
	struct ulevel *lv = arg;
	struct unpacker *u = lv->u;
	const unsigned char *p;
	ssize_t n;

	*bufp = u->raw.blk;
	if (u->rc != 0 || (n = raw_at(u, u->raw.pos, &p)) < 0) {
		archive_set_error(a, UNPACK_ERRNO_MISC, "%s", u->msg);
		return -1;
	}
	u->raw.pos += (uint64_t)n;
	*bufp = p;
	return n;
}

static la_int64_t
unpack_zip_seek(struct archive *a, void *arg, la_int64_t off, int whence)
{
	struct ulevel *lv = arg;
	struct rawin *r = &lv->u->raw;
	struct stat sb;
	la_int64_t base;

	switch (whence) {
	case SEEK_SET:
		base = 0;
		break;
	case SEEK_CUR:
		base = (la_int64_t)r->pos;
		break;
	default:
		if (fstat(r->fd, &sb) != 0) {
			archive_set_error(a, errno, "fstat: %s",
			    strerror(errno));
			return ARCHIVE_FATAL;
		}
		base = (la_int64_t)sb.st_size;
		break;
	}
	if ((off < 0 && base < -off) || (off > 0 && base > INT64_MAX - off)) {
		archive_set_error(a, EINVAL, "seek out of range");
		return ARCHIVE_FATAL;
	}
	r->pos = (uint64_t)(base + off);
	return base + off;
}

/* ------------------------------------------------- a level's input */

static ssize_t	 unpack_pull(struct ulevel *);

/* The next block of a level's input: the file, or the parent's member. */
static ssize_t
lv_src(struct ulevel *lv, const unsigned char **p)
{
	struct unpacker *u = lv->u;
	ssize_t n;

	if (lv->nstash > 0) {
		*p = lv->stash;
		n = (ssize_t)lv->nstash;
		lv->nstash = 0;
		return n;
	}
	if (lv->npend > 0) {
		*p = lv->pend;
		n = (ssize_t)lv->npend;
		lv->npend = 0;
		return n;
	}
	if (lv->idx == 0) {
		if ((n = raw_at(u, u->raw.pos, p)) > 0)
			u->raw.pos += (uint64_t)n;
		return n;
	}
	*p = lv->buf;
	return unpack_pull(lv);
}

static int
gz_fail(struct ulevel *lv, const char *what)
{
	struct gunzip *g = lv->gz;

	return unpack_fail(lv->u, TD_ERR_FORMAT, "archive_corrupt", "%s: gzip "
	    "member %" PRIu64 " (at byte %" PRIu64 "): %s", lv_name(lv),
	    g->members + 1, g->member_at, what);
}

/* Start inflating a member. */
static void
gz_member(struct gunzip *g)
{
#ifdef HAVE_ISAL
	if (g->isal != NULL) {
		isal_inflate_reset(g->isal);
		isal_gzip_header_init(&g->hdr);
		g->nhead = 0;
		return;
	}
#endif
	if (inflateReset(&g->zs) != Z_OK)
		td_fatal("inflateReset failed");
}

/*
 * Inflate some of the current member with zlib, which checks its header,
 * its CRC-32 and its length. Returns 1 at its end, 0 when it needs more
 * input or room, -1 with *why set.
 */
static int
gz_zlib(struct gunzip *g, const char **why)
{
	int zr;

	g->zs.next_in = (Bytef *)(uintptr_t)g->in;
	g->zs.avail_in = (uInt)g->nin;
	g->zs.next_out = g->out + (UNPACK_GZ_OUT - g->nout);
	g->zs.avail_out = (uInt)g->nout;
	zr = inflate(&g->zs, Z_NO_FLUSH);
	g->in = g->zs.next_in;
	g->nin = g->zs.avail_in;
	g->nout = g->zs.avail_out;
	if (zr == Z_STREAM_END)
		return 1;
	if (zr == Z_OK || (zr == Z_BUF_ERROR && g->nin == 0))
		return 0;
	*why = g->zs.msg != NULL ? g->zs.msg : "cannot inflate";
	return -1;
}

#ifdef HAVE_ISAL
#if defined(__x86_64__)
static int	 gz_avx = -1;

static __attribute__((target("avx"))) void
gz_zeroupper_avx(void)
{
	_mm256_zeroupper();
}
#endif

/*
 * ISA-L's AVX-512 code leaves the upper halves of the vector registers
 * dirty, and every SSE instruction after it (zlib's, OpenSSL's, ours)
 * then runs several times slower: clear them after each call into it.
 */
static void
gz_zeroupper(void)
{
#if defined(__x86_64__)
	if (gz_avx < 0)
		gz_avx = __builtin_cpu_supports("avx") ? 1 : 0;
	if (gz_avx)
		gz_zeroupper_avx();
#endif
}

/* Keep the last bytes consumed: the trailer, when a member ends. */
static void
gz_tail(struct gunzip *g, size_t used)
{
	size_t n = sizeof(g->tail);

	if (used >= n) {
		memcpy(g->tail, g->in + used - n, n);
		return;
	}
	memmove(g->tail, g->tail + used, n - used);
	memcpy(g->tail + n - used, g->in, used);
}

/* zlib's word for what ISA-L found wrong. */
static const char *
gz_isal_why(const struct gunzip *g, int r)
{
	uint32_t crc;

	switch (r) {
	case ISAL_INVALID_WRAPPER:
		return "incorrect header check";
	case ISAL_UNSUPPORTED_METHOD:
		return "unknown compression method";
	case ISAL_INCORRECT_CHECKSUM:
		if (!g->isal->wrapper_flag)
			return "header crc mismatch";
		/* the trailer was the last 8 bytes consumed; zlib checks
		 * the CRC-32 before the length */
		crc = (uint32_t)g->tail[0] | (uint32_t)g->tail[1] << 8 |
		    (uint32_t)g->tail[2] << 16 | (uint32_t)g->tail[3] << 24;
		return crc != g->isal->crc ? "incorrect data check" :
		    "incorrect length check";
	case ISAL_INVALID_LOOKBACK:
		return "invalid distance too far back";
	case ISAL_INVALID_SYMBOL:
		return "invalid literal/length or distance code";
	default:
		return "invalid block";
	}
}

/*
 * gz_zlib() with ISA-L. The member's header is parsed here, with one
 * struct kept between calls (isal_inflate() would start a header split
 * between two inputs over, forgetting its flags), after zlib's checks of
 * its first four bytes, in zlib's order (ISA-L ignores reserved flags).
 */
static int
gz_isal(struct gunzip *g, const char **why)
{
	struct inflate_state *s = g->isal;
	size_t take;
	int r = ISAL_DECOMP_OK;

	if (g->nhead < sizeof(g->head)) {
		take = sizeof(g->head) - g->nhead;
		if (take > g->nin)
			take = g->nin;
		memcpy(g->head + g->nhead, g->in, take);
		g->nhead += take;	/* ISA-L takes at least these */
		*why = NULL;
		if (g->nhead >= 2 && (g->head[0] != 0x1f || g->head[1] != 0x8b))
			*why = "incorrect header check";
		else if (g->nhead == 4 && g->head[2] != 8)
			*why = "unknown compression method";
		else if (g->nhead == 4 && (g->head[3] & 0xe0) != 0)
			*why = "unknown header flags set";
		if (*why != NULL)
			return -1;
	}
	s->next_in = (uint8_t *)(uintptr_t)g->in;
	s->avail_in = (uint32_t)g->nin;
	if (!s->wrapper_flag)
		r = isal_read_gzip_header(s, &g->hdr);
	if (r == ISAL_DECOMP_OK && s->wrapper_flag) {
		s->next_out = g->out + (UNPACK_GZ_OUT - g->nout);
		s->avail_out = (uint32_t)g->nout;
		r = isal_inflate(s);
		g->nout = s->avail_out;
	}
	gz_zeroupper();
	if (s->avail_in > g->nin) {
		/*
		 * next_in moved back before the start of this input: after
		 * an error on a damaged member ISA-L 2.30 can leave avail_in
		 * wrapped past UINT32_MAX. Its counts are not used; the
		 * error, or a refusal, stands. (A member's end never gives
		 * back more than the call took: check_gzip_checksum()
		 * stashes at most 7 bytes for its 8-byte trailer.)
		 */
		*why = r < 0 ? gz_isal_why(g, r) : "invalid block";
		return -1;
	}
	gz_tail(g, g->nin - s->avail_in);
	g->in = s->next_in;
	g->nin = s->avail_in;
	if (r < 0) {
		*why = gz_isal_why(g, r);
		return -1;
	}
	return s->block_state == ISAL_BLOCK_FINISH;
}
#endif

/*
 * ISA-L names damage inside deflate data more coarsely than zlib ("invalid
 * block" for zlib's "invalid block type", "invalid stored block lengths",
 * "invalid bit length repeat" ...). When the file can be read again (the
 * member is the file's own, not a pipe's), inflate the member once more
 * with zlib from its start for zlib's word, reading no further than a
 * block past where ISA-L stopped. Only a damaged file pays.
 */
static const char *
gz_zlib_word(struct ulevel *lv, const char *why)
{
#ifdef HAVE_ISAL
	struct unpacker *u = lv->u;
	struct gunzip *g = lv->gz;
	unsigned char *in, *out;
	uint64_t off = g->member_at, end = g->in_total + UNPACK_CHILD_BUF;
	z_stream zs;
	size_t want;
	ssize_t n;
	int zr;

	if (g->isal == NULL || lv->idx > 0 || u->raw.pipe ||
	    strncmp(why, "invalid ", 8) != 0)
		return why;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 15 + 16) != Z_OK)
		td_fatal("inflateInit2 failed");
	in = xmalloc(UNPACK_CHILD_BUF);
	out = xmalloc(UNPACK_GZ_OUT);
	for (;;) {
		if (zs.avail_in == 0) {
			want = end - off < UNPACK_CHILD_BUF ?
			    (size_t)(end - off) : UNPACK_CHILD_BUF;
			if (want == 0)
				break;
			n = pread(u->raw.fd, in, want, (off_t)off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			off += (uint64_t)n;
			zs.next_in = in;
			zs.avail_in = (uInt)n;
		}
		zs.next_out = out;
		zs.avail_out = UNPACK_GZ_OUT;
		zr = inflate(&zs, Z_NO_FLUSH);
		if (zr == Z_STREAM_END)
			break;
		if (zr != Z_OK && !(zr == Z_BUF_ERROR && zs.avail_in == 0)) {
			if (zs.msg != NULL)
				why = zs.msg;	/* zlib's, static */
			break;
		}
	}
	inflateEnd(&zs);
	x_free(in);
	x_free(out);
#else
	(void)lv;
#endif
	return why;
}

/*
 * The next inflated block of a gzip input: member after member, each
 * checked (CRC-32 and length); whatever follows a member must be another
 * member. Returns bytes, 0 at the end, -1 with u's error set.
 */
static ssize_t
gz_read(struct ulevel *lv, const unsigned char **bufp)
{
	struct unpacker *u = lv->u;
	struct gunzip *g = lv->gz;
	const unsigned char *p;
	const char *why = NULL;
	ssize_t n;
	size_t before;
	int r;

	*bufp = g->out;
	if (u->rc != 0)
		return -1;
	g->nout = UNPACK_GZ_OUT;
	while (g->nout == UNPACK_GZ_OUT) {
		if (g->nin == 0) {
			if (g->src_eof) {
				if (g->in_member) {
					gz_fail(lv, "truncated");
					return -1;
				}
				break;
			}
			if ((n = lv_src(lv, &p)) < 0)
				return -1;
			if (n == 0) {
				g->src_eof = 1;
				continue;
			}
			g->in = p;
			g->nin = (size_t)n;
		}
		if (!g->in_member) {
			if (g->in[0] != 0x1f) {
				unpack_fail(u, TD_ERR_FORMAT, "archive_corrupt",
				    "%s: data after the end of the gzip stream "
				    "(at byte %" PRIu64 ", after %" PRIu64
				    " member%s) is not a gzip member",
				    lv_name(lv), g->in_total, g->members,
				    g->members == 1 ? "" : "s");
				return -1;
			}
			gz_member(g);
			g->in_member = 1;
			g->member_at = g->in_total;
		}
		before = g->nin;
#ifdef HAVE_ISAL
		if (g->isal != NULL)
			r = gz_isal(g, &why);
		else
#endif
			r = gz_zlib(g, &why);
		g->in_total += before - g->nin;
		if (r < 0) {
			gz_fail(lv, gz_zlib_word(lv, why));
			return -1;
		}
		if (r == 1) {
			g->in_member = 0;
			g->members++;
		}
	}
	n = (ssize_t)(UNPACK_GZ_OUT - g->nout);
	g->out_total += (uint64_t)n;
	if (unpack_over_ratio(g->out_total, gz_in(g), u->lim.max_ratio)) {
		unpack_ratio_fail(u, lv_name(lv), g->out_total, gz_in(g));
		return -1;
	}
	return n;
}

/* The next block of a level's input as its reader sees it. */
static ssize_t
lv_read(struct ulevel *lv, const unsigned char **p)
{
	return lv->gz != NULL ? gz_read(lv, p) : lv_src(lv, p);
}

/* The read callback of every reader but a zip's at level 0. */
static la_ssize_t
unpack_lv_read(struct archive *a, void *arg, const void **bufp)
{
	struct ulevel *lv = arg;
	const unsigned char *p = NULL;
	ssize_t n;

	n = lv_read(lv, &p);
	*bufp = p;
	if (n < 0) {
		archive_set_error(a, UNPACK_ERRNO_MISC, "%s", lv->u->msg);
		return -1;
	}
	if (n > 0) {
		lv->delivered += (uint64_t)n;
		lv->last = p;
		lv->lastlen = (size_t)n;
	}
	return n;
}

/*
 * Look at the first bytes of a level's input (kept for its reader) and
 * put a gzip stage in front of the reader when they are a gzip header.
 */
static int
lv_input(struct ulevel *lv)
{
	const unsigned char *p;
	unsigned char head[3];
	size_t have = 0, take;
	ssize_t n;
	struct gunzip *g;
	int whole = 0;

	while (have < sizeof(head)) {
		if ((n = lv_src(lv, &p)) < 0)
			return lv->u->rc;
		if (n == 0)
			break;
		if (have == 0 && (size_t)n >= sizeof(head)) {
			/* the usual case: the first block, kept whole */
			memcpy(head, p, sizeof(head));
			lv->pend = p;
			lv->npend = (size_t)n;
			have = sizeof(head);
			whole = 1;
			break;
		}
		take = sizeof(head) - have;
		if (take > (size_t)n)
			take = (size_t)n;
		memcpy(head + have, p, take);
		have += take;
		if (take < (size_t)n) {
			lv->pend = p + take;
			lv->npend = (size_t)n - take;
		}
	}
	if (!whole) {	/* short first blocks: hand them over from here */
		memcpy(lv->stash, head, have);
		lv->nstash = have;
	}
	if (have < sizeof(head) || head[0] != 0x1f || head[1] != 0x8b ||
	    head[2] != 8)
		return 0;
	g = lv->gz = xcalloc(1, sizeof(*g));
	g->out = xmalloc(UNPACK_GZ_OUT);
#ifdef HAVE_ISAL
	if (!lv->u->gz_zlib) {
		g->isal = xmalloc(sizeof(*g->isal));
		isal_inflate_init(g->isal);
		g->isal->crc_flag = ISAL_GZIP;
		return 0;
	}
#endif
	if (inflateInit2(&g->zs, 15 + 16) != Z_OK)
		td_fatal("inflateInit2 failed");
	return 0;
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
	in = lv_consumed_since(p, lv->in_base);
	if (unpack_over_ratio(lv->pulled, in, u->lim.max_ratio)) {
		unpack_ratio_fail(u, lv->name, lv->pulled, in);
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
	if (lv->gz != NULL) {
#ifdef HAVE_ISAL
		if (lv->gz->isal != NULL)
			x_free(lv->gz->isal);
		else
#endif
			inflateEnd(&lv->gz->zs);
		x_free(lv->gz->out);
		x_free(lv->gz);
	}
	x_free(lv->buf);
	x_free(lv->prefix);
	x_free(lv->name);
	memset(lv, 0, sizeof(*lv));
}

static void
unpack_pop(struct unpacker *u)
{
	unpack_level_free(&u->lv[--u->nlv]);
}

/*
 * Read and drop what is left of a level's input; decompressed bytes count
 * towards max_bytes. Calls scan on each block when it is not NULL.
 */
static int
lv_drain(struct ulevel *lv, uint64_t *rest, uint64_t *nz_at, uint64_t at)
{
	struct unpacker *u = lv->u;
	const unsigned char *p;
	ssize_t n;
	size_t i;

	while ((n = lv_read(lv, &p)) > 0) {
		if (lv->idx > 0 || lv->gz != NULL) {
			u->produced += (uint64_t)n;
			if (u->produced > u->lim.max_bytes)
				return unpack_fail(u, TD_ERR_LIMIT,
				    "archive_too_large", "more than %" PRIu64
				    " bytes expanded", u->lim.max_bytes);
		}
		for (i = 0; *nz_at == UNPACK_NONE && i < (size_t)n; i++)
			if (p[i] != 0)
				*nz_at = at + *rest + i;
		*rest += (uint64_t)n;
	}
	return n < 0 ? u->rc : 0;
}

/*
 * A level's reader is done (its archive or its document ended): read the
 * rest of its input. Nothing may follow a raw stream; after a tar archive
 * only NUL bytes (its padding). A zip is not checked (a streamed zip ends
 * at its central directory, a seeking one reads what it needs).
 */
static int
unpack_level_end(struct unpacker *u, struct ulevel *lv)
{
	int base = archive_format(lv->a) & ARCHIVE_FORMAT_BASE_MASK;
	int filtered = archive_filter_count(lv->a) > 1;
	la_int64_t c = archive_filter_bytes(lv->a, -1);
	uint64_t consumed = c < 0 ? 0 : (uint64_t)c, left, seen, rest;
	uint64_t nz_at = UNPACK_NONE;
	const char *f;
	size_t i;

	if (u->rc != 0)
		return u->rc;
	if (lv->idx == 0 && u->raw.seek)
		return 0;	/* unpack_digest() reads the rest */
	if (base == ARCHIVE_FORMAT_ZIP)
		consumed = lv->delivered;
	/* given to the reader and not consumed: in the last block given */
	left = lv->delivered > consumed ? lv->delivered - consumed : 0;
	seen = left < lv->lastlen ? left : lv->lastlen;
	for (i = 0; i < seen && nz_at == UNPACK_NONE; i++)
		if (lv->last[lv->lastlen - seen + i] != 0)
			nz_at = lv->delivered - seen + i;
	rest = left;
	if (lv_drain(lv, &rest, &nz_at, lv->delivered - left) != 0)
		return u->rc;
	if (base == ARCHIVE_FORMAT_ZIP)
		return 0;
	if (base == ARCHIVE_FORMAT_TAR) {
		if (filtered)
			return 0;	/* its filter was not read to its end */
		if (nz_at != UNPACK_NONE && lv->entries == 0)
			return unpack_fail(u, TD_ERR_FORMAT, "nul_prefix",
			    "%s begins with %" PRIu64 " NUL bytes, then other "
			    "data: a damaged or zero-filled file, neither an "
			    "archive nor text", lv_name(lv), nz_at);
		if (nz_at != UNPACK_NONE)
			return unpack_fail(u, TD_ERR_FORMAT, "archive_corrupt",
			    "%s: data after the end of the tar archive, at "
			    "byte %" PRIu64 " (two archives concatenated?)",
			    lv_name(lv), nz_at);
		if (lv->entries == 0 && lv->idx == 0)
			u->st.nul_bytes = consumed + rest;
		return 0;
	}
	if (rest > 0) {
		f = filtered ? archive_filter_name(lv->a, 0) : NULL;
		return unpack_fail(u, TD_ERR_FORMAT, "archive_corrupt",
		    "%s: %" PRIu64 " bytes after the end of the %s stream",
		    lv_name(lv), rest, f != NULL ? f : "compressed");
	}
	return 0;
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

static void
unpack_format_add(struct unpacker *u, const char *f)
{
	size_t len = strlen(u->format);

	if (len == 0)
		snprintf(u->format, sizeof(u->format), "%s", f);
	else
		snprintf(u->format + len, sizeof(u->format) - len, ".%s",
		    unpack_filter_ext(f));
}

/* "raw", "gzip", "zip", "tar.gz", "empty" ... of level 0. */
static void
unpack_set_format(struct unpacker *u, struct ulevel *lv)
{
	struct archive *a = lv->a;
	int fmt = archive_format(a), nf = archive_filter_count(a), i;
	const char *base, *f;

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
		if ((f = archive_filter_name(a, i)) == NULL)
			f = "?";
		unpack_format_add(u, f);
	}
	if (lv->gz != NULL)	/* ours, outermost */
		unpack_format_add(u, "gzip");
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

/* A header read failed: ARCHIVE_RETRY (a damaged tar header) too. */
static int
unpack_header_bad(int r)
{
	return r != ARCHIVE_EOF && (r == ARCHIVE_RETRY || r < ARCHIVE_WARN);
}

/* Start a document read from level lv (the leaf). */
static int
unpack_doc_start(struct unpacker *u, struct ulevel *lv, char *member)
{
	u->in_doc = 1;
	u->doc_eof = 0;
	u->doc_out = 0;
	/* children: consumption of the parent since the member's header;
	 * the top level: the whole input */
	u->doc_base = lv->idx > 0 ? lv->in_base : 0;
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
	c->in_base = lv_consumed(p);
	if (lv_input(c) != 0)
		return u->rc;
	c->a = unpack_reader(0);
	if (archive_read_open(c->a, c, NULL, unpack_lv_read, NULL) !=
	    ARCHIVE_OK)
		return unpack_corrupt(u, c->a);
	r = archive_read_next_header(c->a, &e);
	if (r == ARCHIVE_EOF && archive_format(c->a) == ARCHIVE_FORMAT_EMPTY) {
		if (unpack_level_end(u, c) != 0)
			return u->rc;
		u->st.skipped_empty++;
		unpack_pop(u);
		return 0;
	}
	if (unpack_header_bad(r))
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
		c->pend_e = e;
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

/* A regular file that starts like a zip ("PK\3\4", or "PK\5\6" empty). */
static int
unpack_looks_zip(struct rawin *r)
{
	unsigned char h[4];
	ssize_t n;

	if (r->pipe)
		return 0;
	do
		n = pread(r->fd, h, sizeof(h), 0);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(h) && h[0] == 'P' && h[1] == 'K' &&
	    ((h[2] == 3 && h[3] == 4) || (h[2] == 5 && h[3] == 6));
}

/* Level 0: open the fd and read the first header. 1: document, 0: end. */
static int
unpack_start(struct unpacker *u)
{
	struct ulevel *lv = &u->lv[0];
	struct archive_entry *e = NULL;
	int r;

	u->started = 1;
	u->nlv = 1;
	lv->u = u;
	lv->idx = 0;
	lv->prefix = xstrdup("");
	u->raw.seek = unpack_looks_zip(&u->raw);
	if (!u->raw.seek && lv_input(lv) != 0)
		return u->rc;
	lv->a = unpack_reader(u->raw.seek);
	archive_read_set_callback_data(lv->a, lv);
	if (u->raw.seek) {
		archive_read_set_read_callback(lv->a, unpack_zip_read);
		archive_read_set_seek_callback(lv->a, unpack_zip_seek);
	} else
		archive_read_set_read_callback(lv->a, unpack_lv_read);
	if (archive_read_open1(lv->a) != ARCHIVE_OK)
		return unpack_corrupt(u, lv->a);
	r = archive_read_next_header(lv->a, &e);
	if (unpack_header_bad(r))
		return unpack_corrupt(u, lv->a);
	unpack_set_format(u, lv);
	if (r == ARCHIVE_EOF) {
		if (unpack_level_end(u, lv) != 0)
			return u->rc;
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
	lv->pend_e = e;
	return 2;
}

int
unpack_open(struct unpacker **up, int fd, const char *name,
    const struct unpack_limits *lim)
{
	struct unpacker *u;
	struct stat sb;
	const char *e;

	*up = NULL;
	if (fd < 0 || lim == NULL || lim->max_ratio == 0 ||
	    lim->max_depth > UNPACK_DEPTH_MAX)
		return TD_ERR_INVAL;
	u = xcalloc(1, sizeof(*u));
	u->name = xstrdup(name != NULL ? name : "");
	u->lim = *lim;
	/* archives at depths 0..max_depth, plus a leaf */
	u->maxlv = (int)lim->max_depth + 2;
	u->lv = xcalloc((size_t)u->maxlv, sizeof(*u->lv));
	u->scratch = xmalloc(UNPACK_CHILD_BUF);
	u->gz_zlib = (e = getenv("TD_TEST_GZIP")) != NULL &&
	    strcmp(e, "zlib") == 0;
	u->st.format = "";
	u->raw.fd = fd;
	u->raw.pipe = fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode);
	u->raw.blk = xmalloc(UNPACK_BLK);
	/* the digest of the process's own cache: no fetch of SHA-256 */
	td_sha256_init(&u->raw.md);
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
		if (unpack_level_end(u, &u->lv[u->nlv - 1]) != 0)
			return u->rc;
		if (u->nlv == 1) {	/* the top level was the document */
			u->done = 1;
			return 0;
		}
		unpack_pop(u);
	}

	for (;;) {
		lv = &u->lv[u->nlv - 1];
		e = NULL;
		if (lv->pend_e != NULL) {
			e = lv->pend_e;
			lv->pend_e = NULL;
			r = ARCHIVE_OK;
		} else if (lv->pend_eof) {
			lv->pend_eof = 0;
			r = ARCHIVE_EOF;
		} else
			r = archive_read_next_header(lv->a, &e);
		if (r == ARCHIVE_EOF) {
			/* an archive ended: the rest of its input, checked */
			if (unpack_level_end(u, lv) != 0)
				return u->rc;
			if (u->nlv == 1) {
				u->done = 1;
				return 0;
			}
			unpack_pop(u);
			continue;
		}
		if (unpack_header_bad(r))
			return unpack_corrupt(u, lv->a);
		lv->entries++;
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
	in = lv_consumed_since(p, u->doc_base);
	if (unpack_over_ratio(u->doc_out, in, u->lim.max_ratio))
		return unpack_ratio_fail(u, u->member != NULL ? u->member :
		    u->name, u->doc_out, in);
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

int
unpack_digest(struct unpacker *u, char hex[2 * UNPACK_MD_LEN + 1],
    uint64_t *size)
{
	static const char xd[] = "0123456789abcdef";
	struct rawin *r = &u->raw;
	const unsigned char *p;
	unsigned char md[UNPACK_MD_LEN];
	size_t i;

	hex[0] = '\0';
	*size = 0;
	if (!r->final) {
		while (!r->eof && r->err == 0)
			(void)raw_at(u, r->hashed, &p);
		if (r->err != 0)
			return r->err == TD_ERR_FORMAT ? TD_ERR_FORMAT :
			    TD_ERR_IO;
		td_sha256_final(&r->md, md);
		for (i = 0; i < sizeof(md); i++) {
			r->hex[2 * i] = xd[md[i] >> 4];
			r->hex[2 * i + 1] = xd[md[i] & 0xf];
		}
		r->hex[2 * sizeof(md)] = '\0';
		r->final = 1;
	}
	memcpy(hex, r->hex, sizeof(r->hex));
	*size = r->hashed;
	return 0;
}

void
unpack_close(struct unpacker *u)
{
	if (u == NULL)
		return;
	while (u->nlv > 0)
		unpack_pop(u);
	td_sha256_clear(&u->raw.md);
	x_free(u->raw.blk);
	x_free(u->raw.dg);
	x_free(u->lv);
	x_free(u->member);
	x_free(u->name);
	x_free(u->scratch);
	x_free(u);
}
