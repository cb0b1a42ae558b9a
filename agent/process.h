/*
 * process.h - one document through parse and map: CSV rows in, record
 * lines into batch buffers, rejections to a callback. Shared by `once`
 * and `try`. Memory is bounded by the CSV limits and batch_records.
 */
#ifndef TD_PROCESS_H
#define TD_PROCESS_H

#include <stdint.h>

#include "buf.h"
#include "decimal.h"

struct mapper;
struct map_doc;

struct rejection {
	int		 tier;
	const char	*code;
	const char	*message;
	uint64_t	 line;		/* 0: whole file */
	const char	*raw;		/* raw row text, or NULL */
	size_t		 rawlen;
};

struct proc_sink {
	/* An empty buffer for the next batch. */
	struct td_buf	*(*buffer)(void *arg);
	/* A batch of nrec records is complete (also the last, partial one). */
	int		(*batch)(void *arg, struct td_buf *, uint64_t nrec);
	/* A Tier 3 rejection (the document goes on). */
	int		(*reject)(void *arg, const struct rejection *);
	void		*arg;
};

struct proc_result {
	uint64_t	 rows;		/* data rows seen (records in) */
	uint64_t	 records;	/* records produced */
	uint64_t	 rejected;	/* Tier 3 */
	uint64_t	 batches;
	struct td_dec	 quantity;	/* control totals of produced records */
	struct td_dec	 amount;
	int		 has_amount;
	/* Tier 2: the whole document is refused */
	const char	*t2code;
	char		 t2msg[512];
	char		*t2detail;	/* JSON object text, or NULL */
	int		 ioerr;		/* reading or a sink failed: TD_ERR_* */
};

/*
 * Process the document read from fd. Returns 0 when it was read to the
 * end (look at res->t2code for a Tier 2 outcome), or a negative TD_ERR_*
 * for a local failure (I/O, disk full) that must be retried.
 */
int	process_csv(struct mapper *, const struct td_conf *, int fd,
	    const struct map_doc *, uint64_t batch_records,
	    const struct proc_sink *, struct proc_result *);
void	proc_result_clear(struct proc_result *);

#endif
