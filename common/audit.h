/*
 * audit.h - audit.log: hash-chained JSON lines (SPEC section 8).
 *
 * Each line is the event's canonical JSON with "prev" and "hash" added:
 * hash = hex SHA-256 of (prev || canonical JSON without prev/hash).
 * The head (seq, hash, byte offset) is kept in state.db and updated in
 * the caller's transaction, so a line written by a transaction that
 * never committed is cut off on the next open, and a truncated log is
 * detected.
 */
#ifndef TD_AUDIT_H
#define TD_AUDIT_H

#include <stddef.h>

struct store;
struct audit;

int	audit_open(struct audit **, const char *path, const char *integration,
	    struct store *, char **err);
void	audit_close(struct audit *);
/*
 * Append an event; call inside a store transaction. fields is NULL or
 * JSON members text ("\"k\":1,\"s\":\"x\"") added after the standard
 * ones. The line is written now and made durable (one fdatasync for
 * all of a transaction's lines) before state.db commits the transaction
 * it is in (store_precommit); a rollback leaves it to be cut.
 */
int	audit_append(struct audit *, const char *event, const char *tid,
	    const char *fields);
/*
 * Check line n (1-based; len bytes without its LF) against the chain so
 * far: prev, the hash of line n - 1 (the genesis hash for line 1). 0 and
 * prev set to its hash, or -1 with why (of size whysz) saying what is
 * wrong.
 */
int	audit_check_line(const char *line, size_t len, long long n,
	    char prev[65], char *why, size_t whysz);

/*
 * The most steps one transaction commits: the files of a claim group
 * received, or processed, together (agent/intake.c, CLAIM_GROUP), or
 * the transmissions delivered to file:// together (agent/deliver.c,
 * DGROUP_MAX).
 */
#define AUDIT_GROUP_STEPS	32
/*
 * Whether the n bytes at buf (NUL-terminated), past the head (seq,
 * hash), can be the lines of one transaction that never committed: the
 * lines of one step, or of up to AUDIT_GROUP_STEPS steps of one phase
 * of a claim group (each step's first event transmission_received or
 * duplicate_transmission, or each transmission_parsed). One step may
 * audit more than once (transmission_received and
 * transmission_verified), so up to 5 complete lines a step, each
 * continuing the chain from the head, all about one transmission, each
 * after the first an event that only follows another in a step; then
 * perhaps a last line cut short, which names the hash before it as its
 * prev. Lines of steps that never commit together (a state.db older
 * than its log by a received and a parsed step, a quarantine) are not.
 */
int	audit_tail_ok(const char *buf, size_t n, long long seq,
	    const char *hash);

#define AUDIT_GENESIS \
	"0000000000000000000000000000000000000000000000000000000000000000"

#endif
