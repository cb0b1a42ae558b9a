/*
 * outbox.h - batches of canonical records, compressed by a pool of worker
 * threads (one per core) behind a bounded queue and written in order, so
 * parsing and compression use every core. Each batch is serialised once and
 * compressed once (ISA-L gzip level 1 when built with it, else libdeflate)
 * and written once, into the outbox batch file; the archive keeps the same
 * file under a second name (a hard link, made by intake.c).
 *
 * Files are staged under a temporary directory; the caller makes them
 * visible (outbox_finish syncs each batch; the caller renames, fsyncs
 * the directory that finally names the batches, and commits).
 */
#ifndef TD_OUTBOX_H
#define TD_OUTBOX_H

#include <stdint.h>

#include "buf.h"
#include "decimal.h"
#include "hash.h"

#define OB_ENC_GZIP	0
#define OB_ENC_ZSTD	1
#define OB_ENC_IDENTITY	2

struct ob_batch {
	uint64_t	 seq;		/* 1-based */
	uint64_t	 records;
	uint64_t	 bytes;		/* encoded size */
	char		 sha256[TD_SHA256_HEX];	/* of the encoded file */
	char		 quantity[TD_DEC_STRMAX];	/* control totals */
	char		 amount[TD_DEC_STRMAX];	/* "" when no amounts */
};

struct outbox_writer;

const char *outbox_suffix(int enc);	/* ".ndjson.gz" ... */
/*
 * The file name of batch seq: "batch-000001.ndjson.gz" (the suffix of
 * enc), in the outbox and the output; with a prefix (a transmission id),
 * "PREFIX.batch-000001.ndjson.gz", as a refused batch is kept in dlq/.
 * outbox_batch_path gives DIR/batch-NNNNNN... Allocated.
 */
char	*outbox_batch_name(const char *prefix, uint64_t seq, int enc);
char	*outbox_batch_path(const char *dir, uint64_t seq, int enc);
int	 outbox_encoding(const char *name);	/* from output_encoding */

/*
 * Start writing batches into dir (created; must not exist). bufmax bounds
 * one batch's serialised size.
 */
int	 outbox_open(struct outbox_writer **, const char *dir, int enc,
	    size_t bufmax);
/*
 * The batches of ob are not flushed: its caller makes them durable (one
 * syncfs for a group of files) before anything names them. Before the
 * first batch.
 */
void	 outbox_nosync(struct outbox_writer *);
/* An empty buffer to fill with NDJSON lines. */
struct td_buf *outbox_buffer(struct outbox_writer *);
/* Hand over a filled buffer (nrec records). Blocks while the queue is full. */
int	 outbox_submit(struct outbox_writer *, struct td_buf *, uint64_t nrec,
	    const struct td_dec *quantity, const struct td_dec *amount);
/* Wait for every batch; returns the first error of the writer thread. */
int	 outbox_finish(struct outbox_writer *, struct ob_batch **, size_t *n);
void	 outbox_free(struct outbox_writer *);

#endif
