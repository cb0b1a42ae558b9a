/*
 * tx.h - the row of a transmission in state.db (table transmissions),
 * as intake, delivery and the manifest read it: one struct, one reader.
 */
#ifndef TD_TX_H
#define TD_TX_H

#include <stdint.h>

#include <sqlite3.h>

#include "hash.h"

struct td_ctx;

struct tx {
	char		 id[TD_SHA256_HEX];
	char		*name;
	uint64_t	 size;
	int64_t		 received_at;
	char		*source;	/* "landing" */
	char		*archive_dir;	/* relative to state_dir */
	char		*state;		/* received parsed delivered quarantined */
	char		*mapping_version;	/* NULL before processing */
	char		*format;	/* "csv"; NULL before processing */
	char		*container;	/* "raw", "zip", ...; NULL before */
	char		*encoding;	/* of the documents, or "mixed"; NULL before */
	char		*batch_encoding;	/* output_encoding; NULL before */
	uint64_t	 records_in, delivered, dlq, held, duplicate;
	uint64_t	 summed;	/* rows added into another's record */
	uint64_t	 unknown_promo;	/* records with a promo_code not in promo_file */
	char		*replay_of;	/* a replay: the transmission replayed; else NULL */
	uint64_t	 batches;	/* how many it was cut into */
	char		*quantity_total;	/* control totals; NULL before */
	char		*amount_total;	/* NULL: no amounts */
	char		*verification;	/* JSON object */
	char		*verify_code;	/* Tier 2 code, or NULL */
	char		*verify_message;
	int		 rejections_sent;
};

/* The columns tx_read() reads, in order: "SELECT " TX_COLUMNS " FROM transmissions ..." */
#define TX_COLUMNS "id, name, size, received_at, source, archive_dir, " \
	"state, mapping_version, format, container, encoding, " \
	"batch_encoding, records_in, delivered, dlq, held, duplicate, " \
	"batches, quantity_total, amount_total, verification, " \
	"verify_code, verify_message, rejections_sent, summed, " \
	"unknown_promo, replay_of"

/* Fill *t from the current row of a statement that selected TX_COLUMNS. */
void	tx_read(sqlite3_stmt *, struct tx *);
/* The row of transmission tid: 0, or TD_ERR_NOTFOUND (*t zeroed). */
int	tx_load(struct td_ctx *, const char *tid, struct tx *);
void	tx_free(struct tx *);

#endif
