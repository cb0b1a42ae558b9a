/*
 * manifest.h - the manifest of a transmission (tradedrop.transmission.v1),
 * built in one place from state.db alone: the transmission's row, its
 * documents (table members) and its batches. Processing records what it
 * learnt and builds the manifest it stages in the outbox and keeps in
 * the archive; delivery builds it again when it sends or writes it, then
 * counting the batches the reconciler refused as dead-lettered.
 */
#ifndef TD_MANIFEST_H
#define TD_MANIFEST_H

#include <stdint.h>

struct td_ctx;

/*
 * Record, while processing tid (in the caller's transaction), what its
 * manifest says beyond the transmission's row: the container ("raw",
 * "zip", ...), the encoding of its documents ("mixed" when they differ),
 * the output encoding of its batches, then each document in order.
 */
int	manifest_set_info(struct td_ctx *, const char *tid,
	    const char *container, const char *encoding,
	    const char *batch_encoding);
int	manifest_add_member(struct td_ctx *, const char *tid, uint64_t idx,
	    const char *member, const char *encoding, uint64_t records_in,
	    uint64_t delivered, uint64_t dlq);

/*
 * The manifest of transmission tid (parsed or delivered), one JSON line
 * with its newline, into *out (allocated). Batches the reconciler
 * refused stay in batch_list but count as dead-lettered, outside the
 * control totals. A transmission processed before members were recorded
 * has them read once from the manifest its processing staged in the
 * outbox. 0, TD_ERR_NOTFOUND (no such transmission, or not processed),
 * TD_ERR_STATE, or TD_ERR_FORMAT (the staged manifest of an older one
 * cannot be read).
 */
/*
 * An X12 transmission: format x12 and the 852 activities skipped, by
 * code (process.h), kept for its manifest's activity_skipped.
 */
struct rej_counts;
int	manifest_set_x12(struct td_ctx *, const char *tid,
	    const struct rej_counts *skipped);
int	manifest_build(struct td_ctx *, const char *tid, char **out);

#endif
