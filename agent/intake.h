/*
 * intake.h - the durable state machine of a transmission:
 *
 *   landing/NAME --claim--> work/CLAIM/NAME --receive--> archive/.../raw/NAME
 *   (state received) --process--> outbox/<tid>/ and dlq/<tid>.ndjson
 *                                 (state parsed)
 *                               \-> quarantine/<tid>/ (state quarantined;
 *                                 the dead letters cut to samples there)
 *   (state parsed) --deliver--> output (state delivered)
 *
 * Every arrow is committed in state.db; each step can be re-run after a
 * crash at any instant and gives the same result.
 */
#ifndef TD_INTAKE_H
#define TD_INTAKE_H

#include <stdint.h>

#include "ctx.h"
#include "hash.h"

/*
 * A quarantined file's dead letters are not kept whole (a release
 * processes the file again and writes them all to dlq/): only its first
 * QUARANTINE_SAMPLES dead-letter lines, as many of them as fit in
 * QUARANTINE_SAMPLE_BYTES, are kept beside its reason.json, in
 * quarantine/<tid>/QUARANTINE_SAMPLE_FILE; reason.json counts them all
 * by code. See tradedrop(8), quarantine show.
 */
#define QUARANTINE_SAMPLES	100
#define QUARANTINE_SAMPLE_BYTES	(1 << 20)
#define QUARANTINE_SAMPLE_FILE	"dead-letters.ndjson"

struct td_buf;
struct rejection;
/*
 * Append one dead-letter line (JSON and a newline) for a rejection, its
 * position named pos: "line" (CSV) or "segment" (X12).
 */
void	intake_rejection_json(struct td_buf *, const char *tid,
	    const char *file, const char *member, const char *pos,
	    const struct rejection *);

/*
 * SHA-256 (and as sidecars want, SC_WANT_*: SHA-512, BLAKE2b-512) of
 * what fd reads from its start, made durable (not with HASH_NOSYNC in
 * want: the caller syncs its file system); `try` verifies with them as
 * intake does.
 */
#define HASH_NOSYNC	0x100
int	intake_hash_fd(int fd, unsigned want, char tid[65], char sha512hex[129],
	    uint8_t b2[64], uint64_t *size);

/*
 * fsync work/ if a settled claim's directory was removed from it since
 * it was last synced (a claim's own fsync of work/ clears that).
 */
int	intake_sync_work(struct td_ctx *);
/* Finish what a previous run left in work/. */
int	intake_recover(struct td_ctx *);
/*
 * Take every ready file of landing/ through intake and processing. With
 * wait set, wait (a bounded time) for files that have not settled yet.
 */
int	intake_landing(struct td_ctx *, int wait);
/*
 * A landing file unchanged for age seconds waits for its required
 * sidecars (see sidecar_wait).
 */
int	waiting_for_sidecar(struct td_ctx *, const char *name, int64_t age);
/*
 * Operator decisions on a quarantined transmission (state quarantined,
 * else an error said on stderr). release: check its archived raw file
 * again with today's [verify], and put it back to be processed (state
 * received) with today's mapping; audited. drop: record the decision
 * (reason, by whom) in the archive beside the raw file, which stays;
 * state dropped; audited.
 */
int	intake_release(struct td_ctx *, const char *tid);
int	intake_drop(struct td_ctx *, const char *tid, const char *reason,
	    const char *by);
/*
 * tradedrop replay (see tradedrop(8)). A replay is a transmission row of
 * its own, state received until processed: its id is
 * intake_replay_id(original, mapping_version), the hex SHA-256 of
 * "tradedrop.replay\nTID\nMV", its replay_of the original (a replay of
 * a replay names the same original), its archive entry its own, with
 * raw/ hard links to the original's raw file and sidecars. Processing
 * gives its records the original's transmission_id (and so the same
 * record_id per row) and Idempotency-Keys of the original's id with the
 * new mapping_version; its outbox, batches, manifest and output
 * directory are under its own id.
 *
 * intake_replay_source: the original of id (followed through replay_of),
 * which must be parsed or delivered and not pruned; else an error said
 * on stderr. intake_replay: create the replay of id under today's
 * mapping, audited (transmission_replayed, with by); TD_ERR_EXISTS
 * (nothing done) when that mapping is the original's (rid = the
 * original) or the replay exists already (rid = it).
 */
void	intake_replay_id(const char *tid, const char *mv,
	    char rid[TD_SHA256_HEX]);
struct tx;
int	intake_replay_source(struct td_ctx *, const char *id, struct tx *);
int	intake_replay(struct td_ctx *, const char *id, const char *by,
	    char rid[TD_SHA256_HEX]);
/*
 * 1 when a replay of the original tid was processed with mapping
 * version mv already, rid set to it: the replay of that id, or another
 * released with mv after it was quarantined under another (its id is of
 * the mapping it was replayed with). 0 when none.
 */
int	intake_replayed_as(struct td_ctx *, const char *tid, const char *mv,
	    char rid[TD_SHA256_HEX]);
/* Process every transmission still in state received. */
int	intake_process_pending(struct td_ctx *);

#endif
