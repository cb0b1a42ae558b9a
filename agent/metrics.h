/*
 * metrics.h - the numbers of an integration, for `status` and for the
 * daemon's Prometheus text: read from state.db (counts, outbox, sync
 * lag, each source's last poll and breaker), plus what only the running
 * daemon knows (histograms of file processing time and of drop-to-
 * delivered latency, Tier 1 failures since start). Served at /metrics
 * by libmicrohttpd driven from the loop ([metrics] listen) and written
 * atomically to [metrics] textfile.
 */
#ifndef TD_METRICS_H
#define TD_METRICS_H

#include <stdint.h>

struct td_buf;
struct td_conf;
struct store;
struct metrics;

/* What state.db says, as `status` shows it. */
struct metrics_state {
	int64_t		 t_received, t_parsed, t_delivered, t_quarantined;
	int64_t		 t_duplicate;
	int64_t		 r_in, r_delivered, r_pending, r_dlq, r_held;
	int64_t		 r_duplicate, r_quarantined, r_summed;
	int64_t		 r_unknown_promo;	/* delivered, promo_code unknown */
	int64_t		 ob_batches, ob_bytes;
	int64_t		 oldest;	/* received_at of the oldest undelivered, -1 */
	int		 breaker_state;	/* BACKOFF_* of the output */
	unsigned	 breaker_failures;
};

/* Read it; 0, or TD_ERR_STATE when a query failed (zeros then). */
int	 metrics_state_read(struct store *, int64_t now, struct metrics_state *);
/* When source NAME last polled well (0: never), from state.db. */
int64_t	 metrics_source_ok_at(struct store *, const char *name);
/* Record that source NAME polled well at t (its own transaction). */
int	 metrics_source_ok_save(struct store *, const char *name, int64_t t);

/*
 * The daemon's metrics: c's [metrics] listen is bound now (before the
 * privileges are dropped); TD_ERR_INVAL with *err for a bad address.
 */
int	 metrics_new(const struct td_conf *, struct metrics **, char **err);
void	 metrics_free(struct metrics *);
/* After a reload: the new config (listen cannot change; textfile can). */
void	 metrics_set_conf(struct metrics *, const struct td_conf *);
/* The descriptor the loop polls for HTTP, or -1; serve it when ready. */
int	 metrics_fd(struct metrics *);
void	 metrics_serve(struct metrics *);
/*
 * When to serve again without waiting for the descriptor (deliver_clock_ms),
 * or INT64_MAX: libmicrohttpd reads a request in pieces and its epoll is
 * edge-triggered, so the rest of one already received raises no event;
 * its connection timeouts are kept by the same call.
 */
int64_t	 metrics_serve_at(struct metrics *);

void	 metrics_file_processed(struct metrics *, uint64_t usec);
void	 metrics_landed(struct metrics *, const char *name);
void	 metrics_delivered(struct metrics *, const char *name);
void	 metrics_tier1(struct metrics *);
/*
 * Every few seconds: rewrite the textfile, warn when the oldest
 * undelivered record is older than sync_sla. Returns the next time to
 * call it (ms of deliver_clock_ms).
 */
int64_t	 metrics_tick(struct metrics *);
/* The Prometheus text exposition of everything. */
void	 metrics_render(struct metrics *, struct td_buf *);

#endif
