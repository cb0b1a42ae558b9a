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
 *   unpack_digest(u, hex, &size): SHA-256 and size of the whole file
 *
 * A file that is neither compressed nor an archive is one document whose
 * member is NULL. A raw compressed stream (.csv.gz, .csv.zst) is one
 * document whose member is NULL too. Members of archives are named by
 * their path; a member of a nested archive by the path of the archive,
 * "!/", then its own path (e.g. "outer/in.zip!/a.csv").
 *
 * The fd is read from offset 0 (a regular file) or from where it stands
 * (a pipe) to its end, and every byte read is hashed once, in order: the
 * digest covers exactly the bytes that were parsed. Only a zip is read
 * by seeking (its central directory comes last); each block of it that
 * is read again must have the bytes it had the first time, or the file
 * is refused as file_changed.
 *
 * Limits, checked while streaming (never trusting headers):
 *   max_ratio    expanded bytes / compressed bytes consumed, per member
 *                and per gzip stream (checked past 1 MiB expanded)
 *                -> archive_ratio_exceeded
 *   max_bytes    expanded bytes of the whole transmission -> archive_too_large
 *   max_members  documents (and skipped entries) -> archive_too_many_members
 *   max_depth    nesting of archives in archives -> archive_too_deep
 * Entries named with "..", absolute paths -> path_traversal; symlinks,
 * hardlinks, devices, FIFOs -> archive_member_type; corrupt or truncated
 * input -> archive_corrupt (with libarchive's or zlib's message).
 * Directories and empty files are skipped and counted.
 *
 * Whole streams, nothing after them: the outermost gzip layer of the
 * file and of every member is read with ISA-L (zlib without it, or with
 * TD_TEST_GZIP=zlib), which checks each member's CRC-32 and length; a damaged or truncated member, or anything after
 * the last member that is not another member, is archive_corrupt. So is
 * anything after the end of a raw bzip2/xz/zstd stream, and any byte
 * other than NUL after the end of a tar archive (two archives
 * concatenated). A tar archive with no entry followed by other data is
 * nul_prefix: a document that begins with 512 or more NUL bytes.
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
	/* the outer file is an empty tar archive that is only NUL bytes:
	 * that many of them (after decompression), else 0 */
	uint64_t	 nul_bytes;
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
/*
 * Read what is left of the fd (whatever the archive readers did not
 * need) and give the lowercase hex SHA-256 and the size of every byte of
 * the file. Call it last, after an error too. Returns 0; TD_ERR_IO when a
 * read failed; TD_ERR_FORMAT when the file changed while it was read
 * (unpack_errcode() is then file_changed). hex is "" on error.
 */
int	 unpack_digest(struct unpacker *, char hex[65], uint64_t *size);
void	 unpack_close(struct unpacker *);

#endif
