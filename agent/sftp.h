/*
 * sftp.h - the SFTP source stage: poll a retailer's SFTP directory and
 * land whole files in landing/ (via .NAME.part, fsync, rename).
 *
 * Remote state lives in state.db, table remote_files:
 *   'seen'    a (path, size, mtime) version listed by an earlier poll;
 *             listing the same version again makes it stable (ready)
 *   'fetched' that version is durably in landing; never fetched again
 * A partial download is .NAME.part in landing, with .NAME.part.info
 * ("SIZE MTIME SYNCED SOURCE": the remote file's version, how much of
 * the .part is durable, and whose download it is) for files large
 * enough to resume.
 */
#ifndef TD_SFTP_H
#define TD_SFTP_H

#include <stddef.h>
#include <stdint.h>

struct td_ctx;
struct td_conf;

struct sftp_stats {
	unsigned	listed;		/* regular files in the remote listing */
	unsigned	fetched;	/* files (data and sidecars) landed */
	unsigned	skipped_seen;	/* versions fetched by an earlier poll */
	unsigned	waiting;	/* not ready yet (growing, no marker) */
	unsigned	failed;		/* per-file failures (changed, refused) */
	unsigned	refused;	/* names left on the server: unsafe, or
					 * never taken by intake (refuse_names) */
	uint64_t	bytes;		/* bytes transferred */
	int		tier1;		/* connection failure or timeout */
	int		auth_error;	/* authentication or host key refused */
};

/*
 * Poll source i once: list, decide readiness, fetch ready files (and
 * their sidecars) into the landing dir via .NAME.part + rename, record
 * remote state, apply `after`. Returns 0, or a negative TD_ERR_*:
 * TD_ERR_IO for Tier 1 failures (st->tier1 set; the caller exits 3 for
 * `once`), TD_ERR_INVAL for authentication and host key refusals
 * (st->auth_error set; logged as errors every attempt), TD_ERR_STATE
 * for state.db, TD_ERR_NOSPACE for a full landing dir. Fills *st.
 */
int	sftp_poll(struct td_ctx *x, size_t i, struct sftp_stats *st);

/*
 * For `check --connect`: log in to source i and list its directory.
 * On failure *err says why (caller frees); on success *err is a short
 * summary ("N entries in DIR").
 */
int	sftp_check(const struct td_conf *c, size_t i, char **err);
/*
 * With ack_dir: upload the 997s of the transmissions source i sent that
 * are durable and not uploaded yet (each to a temporary name, then
 * renamed; recorded in state.db and the audit log). 0, TD_ERR_IO (Tier
 * 1: counted by the source's breaker, retried at the next poll) or
 * TD_ERR_INVAL (login refused).
 */
int	sftp_push_acks(struct td_ctx *x, size_t i, unsigned *uploaded);

#endif
