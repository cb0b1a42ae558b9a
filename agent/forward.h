/*
 * forward.h - HTTPS POSTs to the reconciler with libcurl's multi
 * interface: a few requests in flight at once (fwd_start, fwd_wait) or
 * one (fwd_post); fwd_wait still waits in its own curl_multi_poll, where
 * the daemon's loop will drive the same multi handle. TLS verification
 * always on, optional mutual TLS, bearer token, keep-alive reuse.
 */
#ifndef TD_FORWARD_H
#define TD_FORWARD_H

#include <stddef.h>

struct td_conf;
struct forwarder;

#define FWD_ACK		0	/* 2xx, or 409 (already have it) */
#define FWD_RETRY	1	/* Tier 1: 5xx, 429, timeout, connection */
#define FWD_REJECT	2	/* 400, 413, 422: the body is refused */
#define FWD_HOLD	3	/* 3xx, 401, 403, other 4xx: keep it, an operator
				 * must act (a redirect is never followed) */

struct fwd_resp {
	long	 status;		/* HTTP status, 0 when none */
	long	 retry_after;		/* seconds from Retry-After (> 0), or -1 */
	char	 body[4096];		/* response body, bounded, NUL-terminated */
	char	 error[256];		/* curl's error for a transport failure */
	char	 location[1024];	/* where a 3xx points (never followed),
					 * cut to fit; "" when none */
};

/* err set on failure (caller frees). */
int	 fwd_open(struct forwarder **, const struct td_conf *, char **err);
void	 fwd_close(struct forwarder *);
const char *fwd_url(const struct forwarder *);
/*
 * POST body to <url><path> with the given extra headers (NULL-terminated
 * "Name: value" strings). Returns FWD_*.
 */
int	 fwd_post(struct forwarder *, const char *path, const char *ctype,
	    const char *cenc, const char * const *headers, const void *body,
	    size_t len, struct fwd_resp *);
/*
 * The same, asynchronously: start a request (up to a few in flight; body
 * must stay valid until it completes) and wait for any one to complete.
 * fwd_start returns the slot, FWD_START_BUSY when every slot is busy, or
 * FWD_START_FAILED when libcurl refused the request (logged); fwd_wait
 * sets *slot to the one that completed.
 */
#define FWD_START_BUSY		(-1)
#define FWD_START_FAILED	(-2)
int	 fwd_start(struct forwarder *, const char *path, const char *ctype,
	    const char *cenc, const char * const *headers, const void *body,
	    size_t len);
int	 fwd_wait(struct forwarder *, int *slot, struct fwd_resp *);
int	 fwd_inflight(const struct forwarder *);
/* Connect and complete the TLS handshake only (check --connect). */
int	 fwd_check(struct forwarder *, char *err, size_t errlen);

#endif
