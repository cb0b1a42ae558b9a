/*
 * map.h - turn the field values of parsed records into canonical
 * tradedrop.pos.v1 records, per the [map] section, whatever the format
 * they were parsed from. One mapper per run; bind it to each document's
 * columns, then map record by record. No allocation per record.
 */
#ifndef TD_MAP_H
#define TD_MAP_H

#include <stdint.h>

#include "buf.h"
#include "decimal.h"

struct td_conf;
struct td_field;
struct mapper;

/* What mapping one row produced. */
struct map_result {
	const char	*code;		/* Tier 3 code when rejected, else NULL;
					 * the first when several fields are */
	char		 msg[1024];	/* message when rejected: each bad
					 * field's, with its code when several */
	int		 nerr;		/* how many fields were bad */
	int		 unknown_promo;	/* promo_code not in promo_file */
	uint32_t	 date_at;	/* of a record line: where its txn_date
					 * is in it, or 0 */
	struct td_dec	 quantity;
	struct td_dec	 amount;
	int		 has_amount;
	/* of a mapped record: its ids as written (the first TD_ID_LEN
	 * bytes of their SHA-256), and the same of its values (every
	 * field from store_id to promo_type): what Tier 4 compares */
	unsigned char	 record_id[16];
	unsigned char	 record_key[16];
	unsigned char	 values[16];
	/*
	 * The day of the key (MAP_KDAY): where the Tier 4 ledger keeps it,
	 * so that a file's keys go in beside each other in state.db.
	 */
	uint32_t	 kday;
};

/*
 * The day a record's key is kept under in the ledger: its txn_date as
 * written (days since 1970-01-01, plus 2^31 so that the order of the
 * unsigned values is the dates' order) when txn_date is one of the
 * [map] key fields; else MAP_KDAY_NONE (then any txn_date may share the
 * key, and the day cannot be part of where it is kept).
 */
#define MAP_KDAY_NONE	0u
#define MAP_KDAY(days)	((uint32_t)(days) + 0x80000000u)

/* Where the document being mapped came from. */
struct map_doc {
	const char	*transmission_id;	/* 64 hex */
	const char	*file;			/* original file name */
	const char	*member;		/* archive member or NULL */
	/* 1 for the first document of the file with this member name, 2
	 * for the second (tar -r appends under a name already there) ... */
	uint64_t	 occurrence;
	/* what a record's position counts, the key of its source object:
	 * "line" (CSV), "segment" (X12); NULL is "line" */
	const char	*position;
};

int	 mapper_new(const struct td_conf *, struct mapper **, char **err);
void	 mapper_free(struct mapper *);
const char *mapper_version(const struct mapper *);
/*
 * What the tables of the mapping hold, a line each ("crosswalk_file
 * PATH: N rows, M KiB of memory\n"), or ""; caller frees.
 */
char	*mapper_tables(const struct mapper *);
/*
 * Keep the mapping state durably in STATE_DIR/archive/mappings/VERSION/
 * (mapping.txt: what mapping_version hashes; crosswalk.csv and
 * promo.csv: the tables as read), unless it is there already, so that
 * every archived transmission can be explained. The tables' bytes are
 * let go of after. 0 or TD_ERR_*.
 */
int	 mapper_archive(struct mapper *, const char *state_dir);

/*
 * Start a document and bind its columns. names (n of them) are the
 * column names of its header, or NULL when it has none (then a column
 * mapped by name is missing). Returns 0, or TD_ERR_FORMAT with *missing
 * set to the names of the absent mapped columns (comma-separated, caller
 * frees), or TD_ERR_EXISTS with it set to the mapped names that more
 * than one column has and their columns ("\"UPC\" (columns 2 and 5)"),
 * or TD_ERR_INVAL when a name of doc is not UTF-8. A column has a name
 * when its header field is it, exactly or but for blanks around it.
 */
int	 mapper_begin(struct mapper *, const struct map_doc *,
	    const struct td_field *names, size_t n, char **missing);
/*
 * Map one record from its field values by column (nv of them):
 * ordinal is its 1-based number among the document's records, pos its
 * position in the source (doc->position). On success appends one JSON
 * line (with LF) to out and returns 0; on a Tier 3 rejection returns 1
 * with res->code/msg set and out unchanged. TD_ERR_LIMIT (out unchanged)
 * when out cannot take the record, even if a field is also not UTF-8: a
 * full buffer is never a rejection.
 */
int	 mapper_map(struct mapper *, const struct td_field *v, size_t nv,
	    uint64_t ordinal, uint64_t pos, struct td_buf *out,
	    struct map_result *res);
/*
 * Printable, bounded rendering of an untrusted value for a message:
 * bytes outside printable ASCII, quotes and backslashes as \xHH, "..."
 * when cut. Returns buf.
 */
const char *mapper_shown(const char *p, size_t n, char *buf, size_t bufsz);
/*
 * A mapper for another thread (process.c maps a window's rows on every
 * core): mapper_map on a clone gives what it gives on m, byte for byte.
 * A clone shares m's tables and its document's state, and has its own
 * scratch: mapper_clone_sync gives it m's state of now, and is called
 * after every mapper_begin on m, before the clone maps again. m must
 * outlive its clones; the clones do not change m.
 */
struct mapper *mapper_clone(const struct mapper *m);
void	 mapper_clone_sync(struct mapper *c, const struct mapper *m);
void	 mapper_clone_free(struct mapper *c);
/*
 * At least the bytes of the record line the row of values v (nv of them)
 * maps to in the document begun: what the line has whatever the row
 * (prefix and suffix, names, ids, numbers, what the mapping writes
 * itself: constants, defaults, values tables, the tables' values, each
 * byte six times), and six bytes (JSON) for each byte of the value each
 * mapped field reads (a column read by two fields counts twice).
 * process.c cuts a window of rows not yet mapped by it.
 */
size_t	 mapper_row_bound(const struct mapper *m, const struct td_field *v,
	    size_t nv);
/*
 * What the mapping writes itself into a record line, at most (its
 * constants, defaults, values tables and the tables' values, six bytes a
 * byte, and its decimals): the part of mapper_row_bound that is neither
 * a value read nor the document's, the same for every file.
 */
size_t	 mapper_line_own(const struct mapper *m);

#endif
