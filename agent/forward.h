/*
 * forward.h - HTTPS POSTs to the reconciler with libcurl's multi
 * interface (one request at a time here; the daemon's loop will drive
 * the same multi handle), TLS verification always on, optional mutual
 * TLS, bearer token, keep-alive reuse.
 */
#ifndef TD_FORWARD_H
#define TD_FORWARD_H

#include <stddef.h>

struct td_conf;
struct forwarder;

#define FWD_ACK		0	/* 2xx, or 409 (already have it) */
#define FWD_RETRY	1	/* Tier 1: 5xx, 429, timeout, connection */
#define FWD_REJECT	2	/* 400, 413, 422: the body is refused */
#define FWD_HOLD	3	/* 401, 403, other 4xx: keep it, an operator must act */

struct fwd_resp {
	long	 status;		/* HTTP status, 0 when none */
	long	 retry_after;		/* seconds from Retry-After, or -1 */
	char	 body[4096];		/* response body, bounded, NUL-terminated */
	char	 error[256];		/* curl's error for a transport failure */
};

/* err set on failure (caller frees). */
int	 fwd_open(struct forwarder **, const struct td_conf *, char **err);
void	 fwd_close(struct forwarder *);
const char *fwd_url(const struct forwarder *);
/*
 * The same, asynchronously: start a request (up to a few in flight; body
 * must stay valid until it completes) and wait for any one to complete.
 * fwd_start returns the slot, or -1 when every slot is busy; fwd_wait
 * sets *slot to the one that completed.
 */
int	 fwd_start(struct forwarder *, const char *path, const char *ctype,
	    const char *cenc, const char * const *headers, const void *body,
	    size_t len);
int	 fwd_wait(struct forwarder *, int *slot, struct fwd_resp *);
int	 fwd_inflight(const struct forwarder *);
/* Connect and complete the TLS handshake only (check --connect). */
int	 fwd_check(struct forwarder *, char *err, size_t errlen);
/*
 * POST body to <url><path> with the given extra headers (NULL-terminated
 * "Name: value" strings). Returns FWD_*.
 */
int	 fwd_post(struct forwarder *, const char *path, const char *ctype,
	    const char *cenc, const char * const *headers, const void *body,
	    size_t len, struct fwd_resp *);

#endif
