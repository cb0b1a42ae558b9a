/*
 * map.h - turn parsed rows into canonical tradedrop.pos.v1 records,
 * per the [map] section. One mapper per run; bind it to each document's
 * header, then map row by row. No allocation per row.
 */
#ifndef TD_MAP_H
#define TD_MAP_H

#include <stdint.h>

#include "buf.h"
#include "decimal.h"

struct td_conf;
struct csv_rec;
struct mapper;

/* What mapping one row produced. */
struct map_result {
	const char	*code;		/* Tier 3 code when rejected, else NULL */
	char		 msg[256];	/* message when rejected */
	struct td_dec	 quantity;
	struct td_dec	 amount;
	int		 has_amount;
};

/* Where the document being mapped came from. */
struct map_doc {
	const char	*transmission_id;	/* 64 hex */
	const char	*file;			/* original file name */
	const char	*member;		/* archive member or NULL */
	/* 1 for the first document of the file with this member name, 2
	 * for the second (tar -r appends under a name already there) ... */
	uint64_t	 occurrence;
};

int	 mapper_new(const struct td_conf *, struct mapper **, char **err);
void	 mapper_free(struct mapper *);
const char *mapper_version(const struct mapper *);
int	 mapper_has_header(const struct mapper *);
uint64_t mapper_skip_rows(const struct mapper *);

/*
 * Start a document. With a header, hdr is its row: returns 0, or
 * TD_ERR_FORMAT with *missing set to the names of the absent mapped
 * columns (comma-separated, caller frees), or TD_ERR_EXISTS with it set
 * to the mapped names that more than one column has and their columns
 * ("\"UPC\" (columns 2 and 5)"). A column has a name when its header
 * field is it, exactly or but for blanks around it.
 */
int	 mapper_begin(struct mapper *, const struct map_doc *,
	    const struct csv_rec *hdr, char **missing);
/*
 * Map one data row (ordinal: 1-based data row number in the document).
 * On success appends one JSON line (with LF) to out and returns 0; on a
 * Tier 3 rejection returns 1 with res->code/msg set and out unchanged.
 * TD_ERR_LIMIT (out unchanged) when out cannot take the record, even if
 * a field is also not UTF-8: a full buffer is never a rejection.
 */
int	 mapper_map(struct mapper *, const struct csv_rec *, uint64_t ordinal,
	    struct td_buf *out, struct map_result *res);
/*
 * Printable, bounded rendering of an untrusted value for a message:
 * bytes outside printable ASCII, quotes and backslashes as \xHH, "..."
 * when cut. Returns buf.
 */
const char *mapper_shown(const char *p, size_t n, char *buf, size_t bufsz);

#endif
