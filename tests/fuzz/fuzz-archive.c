/*
 * fuzz-archive.c - libFuzzer harness: the archive path (agent/unpack.c:
 * libarchive, and zlib for the outermost gzip layers) on a received
 * file held in memory: a memfd (read by pread, a zip by seeking), or a
 * pipe for inputs up to 64 KiB whose middle byte is odd (read in order,
 * a zip streamed). Nothing is written to disk.
 *
 * The limits come from the last byte xored with the size: max_ratio 2,
 * 100, 1000 or 100000, max_members 3 or 50, max_depth 0 to 3, max_bytes
 * 2 MiB (past the 1 MiB below which the ratio is not checked). Documents
 * are read in blocks of a data-derived size, and some are left part read
 * (the unpacker drains them). Nothing may crash, leak or hang, and:
 *   - every member name is non-empty, at most 4096 bytes, not absolute
 *     and has no ".." component ('/' and '\' both separate);
 *   - only a file that is one document has a document without a name;
 *   - the documents returned are at most max_members, their bytes at
 *     most max_bytes, and a top-level document expands at most
 *     max_ratio times the file (or 1 MiB);
 *   - the statistics count what was returned;
 *   - an error has one of the documented codes and a message, and stays
 *     (unpack_next and unpack_read give it again); the end stays too;
 *   - unpack_digest gives the SHA-256 and the size of the whole input,
 *     whatever happened before.
 */
#include "config.h"

#include <sys/mman.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "td.h"
#include "fsutil.h"
#include "hash.h"
#include "unpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define NAME_MAX_BYTES	4096
#define RATIO_MIN	(1 << 20)
#define PIPE_MAX	(64 << 10)

static const char *const codes[] = {
	"archive_ratio_exceeded", "archive_too_large",
	"archive_too_many_members", "archive_too_deep", "path_traversal",
	"archive_member_type", "archive_corrupt", "archive_encrypted",
	"nul_prefix",
};

/* A member name as unpack.h promises it. */
static void
check_name(const char *m)
{
	size_t n = strlen(m), k;
	const char *s;

	if (n == 0 || n > NAME_MAX_BYTES || m[0] == '/' || m[0] == '\\' ||
	    (((m[0] | 0x20) >= 'a' && (m[0] | 0x20) <= 'z') && m[1] == ':'))
		abort();
	for (s = m; *s != '\0'; s += k + (s[k] != '\0')) {
		k = strcspn(s, "/\\");
		if (k == 2 && s[0] == '.' && s[1] == '.')
			abort();
	}
}

static int
known_code(const char *c)
{
	size_t i;

	for (i = 0; c != NULL && i < TD_NELEM(codes); i++)
		if (strcmp(c, codes[i]) == 0)
			return 1;
	return 0;
}

/* The input as an fd: a memfd, or a pipe holding all of it. */
static int
input_fd(const uint8_t *data, size_t n, int pipe_it)
{
	int fd, p[2];

	if (pipe_it) {
		if (pipe(p) != 0)
			abort();
		if (n > 0 && td_write_all(p[1], data, n) != 0)
			abort();
		close(p[1]);
		return p[0];
	}
	if ((fd = memfd_create("fuzz-archive", MFD_CLOEXEC)) < 0)
		abort();
	if (n > 0 && td_write_all(fd, data, n) != 0)
		abort();
	return fd;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static const uint64_t ratios[] = { 2, 100, 1000, 100000 };
	static char buf[1 << 16];
	struct unpack_limits lim;
	const struct unpack_stats *st;
	struct unpacker *u = NULL;
	const char *member;
	char hex[65], want[TD_SHA256_HEX];
	uint64_t docs = 0, total = 0, doc, size;
	uint8_t sel = (uint8_t)((n > 0 ? data[n - 1] : 0) ^ n ^ n >> 8);
	size_t bs = n > 0 ? 1 + data[n / 3] * 257 % sizeof(buf) : 1;
	ssize_t k;
	int fd, r, unnamed = 0;

	lim.max_ratio = ratios[sel & 3];
	lim.max_members = sel & 4 ? 50 : 3;
	lim.max_depth = sel >> 3 & 3;
	lim.max_bytes = 2 << 20;
	fd = input_fd(data, n, n <= PIPE_MAX && n > 0 && data[n / 2] & 1);
	if (unpack_open(&u, fd, "fuzz.bin", &lim) != 0)
		abort();
	while ((r = unpack_next(u, &member)) == 1) {
		if (member != NULL)
			check_name(member);
		else
			unnamed = 1;
		docs++;
		doc = 0;
		/* some documents are left part read */
		while ((k = unpack_read(u, buf, bs)) > 0) {
			if ((size_t)k > bs)
				abort();
			doc += (uint64_t)k;
			if ((docs + sel) % 3 == 0 && doc >= bs)
				break;
		}
		total += doc;
		if (member == NULL && doc > RATIO_MIN &&
		    doc > lim.max_ratio * (uint64_t)n)
			abort();
		if (k < 0 && unpack_errcode(u) == NULL)
			abort();
	}
	st = unpack_stats(u);
	if (unnamed && docs != 1)
		abort();
	if (docs > lim.max_members || total > lim.max_bytes ||
	    st->documents != docs || st->expanded < total ||
	    st->expanded > lim.max_bytes || st->format == NULL)
		abort();
	if (r < 0) {
		if (!known_code(unpack_errcode(u)) ||
		    unpack_errmsg(u)[0] == '\0' || unpack_next(u, &member) != r ||
		    member != NULL || unpack_read(u, buf, 1) != r)
			abort();
	} else if (r != 0 || unpack_errcode(u) != NULL ||
	    unpack_next(u, &member) != 0 || st->format[0] == '\0')
		abort();
	td_sha256_hex(data, n, want);
	if (unpack_digest(u, hex, &size) != 0 || strcmp(hex, want) != 0 ||
	    size != n)
		abort();
	unpack_close(u);
	close(fd);
	return 0;
}
