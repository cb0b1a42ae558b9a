/*
 * ledger.h - Tier 4: the record_key ledger (SPEC section 8).
 *
 * Every record a transmission delivers enters state.db's record_keys
 * (under the day of its key, then the key: see ledger.c's LKEY_LEN)
 * with the hash of its values and its record_id, in the transaction
 * that records the transmission parsed. A later record with the same
 * key is a duplicate_record (same values: withheld) or a restatement
 * (other values: held until an operator decides, or forwarded with
 * `restates`, per on_restatement). Two rows of one transmission with
 * one key are Tier 3 duplicate_key_in_file, both of them (or, with
 * [map] duplicates = sum, one record with their sums): the end of the
 * first pass over the file only notices it, and the file is read again.
 *
 * While a transmission is processed its keys are kept in an array of
 * bounded size, then as sorted runs in an unlinked file in state_dir,
 * merged when a pass over the file ends (ledger_pass_end) and by
 * ledger_commit; the keys on more than one row and the holds are kept
 * in TEMP tables of state.db's connection (spilled to disk past the
 * page cache), so memory stays bounded whatever the file's size.
 */
#ifndef TD_LEDGER_H
#define TD_LEDGER_H

#include <stddef.h>

#include "decimal.h"
#include "hash.h"

struct td_ctx;
struct td_buf;
struct map_result;
struct ledger;

/* What the ledger says of one mapped record. */
#define LEDGER_NEW		0	/* deliver it */
#define LEDGER_DUPLICATE	1	/* same key, same values: withheld */
#define LEDGER_HOLD		2	/* restatement, held (kept by the ledger) */
#define LEDGER_FORWARD		3	/* restatement, forwarded with restates */
#define LEDGER_IN_FILE		4	/* Tier 3 duplicate_key_in_file */
#define LEDGER_AGAIN		5	/* a pass met a key twice (sandbox.c's
					   PASSEND answer): read again */
#define LEDGER_SUMMED		6	/* added into an earlier row's record */

struct ledger_verdict {
	int		 what;
	char		 restates[TD_ID_HEX];	/* LEDGER_FORWARD, _HOLD */
	char		 msg[256];		/* LEDGER_IN_FILE */
	/*
	 * ledger_check without the line (b NULL): what is left for the
	 * caller to do to it. sum: the first row of a key met more than
	 * once, its line to get quantity q and amount a (anull: null), as
	 * ledger_patch_sums() does; hold: a restatement held, for
	 * ledger_hold() with its line so made.
	 */
	int		 sum, anull, hold;
	char		 q[TD_DEC_STRMAX], a[TD_DEC_STRMAX];
};

/* Start the ledger of one transmission (forgets any earlier one). */
int	 ledger_open(struct td_ctx *, struct ledger **);
void	 ledger_free(struct ledger *);
/* Everything given so far is forgotten: the file starts over. */
int	 ledger_reset(struct ledger *);
/*
 * The file starts over because a key was met twice: keep only those
 * keys, whose rows the next pass dead-letters.
 */
int	 ledger_again(struct ledger *);
/*
 * The checks of a file run in one read transaction of state.db's
 * connection: end it before the connection's next transaction.
 */
int	 ledger_end(struct ledger *);
/*
 * A pass over the file is over: find the keys on more than one of its
 * rows (a record does not know it: they are found here, in the sorted
 * runs of the pass's keys). *again is then ledger_wants_again(): 1
 * when the file is to be read again. A NULL ledger: *again = 0.
 */
int	 ledger_pass_end(struct ledger *, int *again);
/* 1 when a pass met a key twice (ledger_again is due). */
int	 ledger_wants_again(const struct ledger *);
/*
 * Classify a mapped record, its JSON line at start in b (to its end;
 * kept for a hold), or without it (b NULL: see struct ledger_verdict). The line gets `restates` when forwarded; with [map]
 * duplicates = sum, the first row of a key met more than once gets the
 * sums of quantity and amount of all its rows (in the line and in *mr),
 * and the others are LEDGER_SUMMED.
 */
int	 ledger_check(struct ledger *, struct map_result *, struct td_buf *b,
	    size_t start, struct ledger_verdict *);
/*
 * The held restatement of a ledger_check without the line (v->hold):
 * its line, as the caller made it, and what the check left in *mr.
 */
int	 ledger_hold(struct ledger *, const struct map_result *,
	    const char *line, size_t len, const char *restates);
/*
 * Set "quantity" and "amount" of the record line at start in b (to its
 * end) to q and a (NULL: null): 0, or TD_ERR_LIMIT.
 */
int	 ledger_patch_sums(struct td_buf *, size_t start, const char *q,
	    const char *a);
/*
 * In the caller's transaction, after the transmission's row: enter the
 * keys of what it delivers, and its holds, into state.db.
 */
int	 ledger_commit(struct ledger *, const char *tid);

/*
 * Set `restates` of the record line that starts at b->p + start and
 * ends the buffer (map.c wrote it null) to the record_id hex.
 */
int	 ledger_patch_restates(struct td_buf *, size_t start, const char *hex);
/*
 * A batch the reconciler refused (Tier 3): its records were never
 * delivered, so that the ledger forgets them (those that restate no
 * record), for a replay or a later drop to deliver them. path is the
 * batch file, enc its OB_ENC_*, tid the transmission whose batch it is
 * (only the keys it entered are forgotten). In the caller's transaction.
 */
struct store;
int	 ledger_forget_batch(struct store *, const char *path, int enc,
	    const char *tid);

/*
 * An operator's decision on a held record (record_id hex): approve puts
 * it in a new batch of its transmission, to be delivered with
 * `restates`, and enters it in the ledger; reject never delivers it.
 * Both audited with reason and by. Errors are said on stderr.
 */
int	 ledger_decide(struct td_ctx *, const char *record_id, int approve,
	    const char *reason, const char *by, char tid[TD_SHA256_HEX]);

#endif
