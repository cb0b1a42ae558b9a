/*
 * unpack.h - the documents inside a received file, streamed with
 * libarchive: raw gzip/bzip2/xz/zstd streams, zip and tar (with any of
 * those filters), nested up to max_depth. Nothing is extracted to disk and
 * no member is held in memory.
 *
 *   u = unpack_open(fd, name, limits)
 *   while ((r = unpack_next(u, &member)) == 1)
 *           while ((n = unpack_read(u, buf, size)) > 0) ...
 *   r == 0: done; r < 0: Tier 2, see unpack_errcode()/unpack_errmsg()
 *
 * A file that is neither compressed nor an archive is one document whose
 * member is NULL. A raw compressed stream (.csv.gz, .csv.zst) is one
 * document whose member is NULL too. Members of archives are named by
 * their path; a member of a nested archive by the path of the archive,
 * "!/", then its own path (e.g. "outer/in.zip!/a.csv").
 *
 * Limits, checked while streaming (never trusting headers):
 *   max_ratio    expanded bytes / compressed bytes consumed, per member
 *                (checked once a member has expanded past 1 MiB)
 *                -> archive_ratio_exceeded
 *   max_bytes    expanded bytes of the whole transmission -> archive_too_large
 *   max_members  documents (and skipped entries) -> archive_too_many_members
 *   max_depth    nesting of archives in archives -> archive_too_deep
 * Entries named with "..", absolute paths -> path_traversal; symlinks,
 * hardlinks, devices, FIFOs -> archive_member_type; corrupt or truncated
 * input -> archive_corrupt (with libarchive's message).
 * Directories and empty files are skipped and counted.
 */
#ifndef TD_UNPACK_H
#define TD_UNPACK_H

#include <stdint.h>
#include <sys/types.h>

struct unpack_limits {
	uint64_t	 max_ratio;
	uint64_t	 max_bytes;
	uint64_t	 max_members;
	uint64_t	 max_depth;
};

struct unpack_stats {
	uint64_t	 documents;
	uint64_t	 skipped_dirs;
	uint64_t	 skipped_empty;
	uint64_t	 expanded;	/* bytes returned by unpack_read */
	const char	*format;	/* "raw", "gzip", "zip", "tar.gz" ... of the outer file */
};

struct unpacker;

int	 unpack_open(struct unpacker **, int fd, const char *name,
	    const struct unpack_limits *);
/* 1: a document is ready (*member NULL or its path), 0: end, <0: Tier 2 */
int	 unpack_next(struct unpacker *, const char **member);
/* Bytes of the current document; 0 at its end; <0: Tier 2 */
ssize_t	 unpack_read(struct unpacker *, void *buf, size_t n);
const char *unpack_errcode(const struct unpacker *);
const char *unpack_errmsg(const struct unpacker *);
const struct unpack_stats *unpack_stats(const struct unpacker *);
void	 unpack_close(struct unpacker *);

#endif
