/*
 * xtable.h - the lookup tables of [map]: crosswalk_file (retailer item
 * id or PLU to GTIN) and promo_file (promotion code to promo_id,
 * promo_type and a discount rule), each row optionally valid only
 * between two dates.
 *
 * A table is a CSV file with a header naming its columns (any order;
 * unknown columns are errors), read once per run into one block of
 * memory with an open-addressing hash over the keys. Every error names
 * the file and line: a bad GTIN, promo_type or date, a key given twice
 * for overlapping dates (the other line named too).
 */
#ifndef TD_XTABLE_H
#define TD_XTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"

#define XT_CROSSWALK	1
#define XT_PROMO	2

/* What a lookup found: values of the row, NUL-terminated. */
struct xt_row {
	const char	*v[3];	/* crosswalk: gtin (14 digits);
				 * promo: promo_id, promo_type, discount
				 * ("" when the row has none) */
	uint32_t	 line;
};

struct xtable;

/* The longest value (bytes) of any row. */
size_t	 xtable_maxv(const struct xtable *);

#define XT_MAX_BYTES	(256u << 20)	/* largest table file */

/*
 * Read and index the table of kind at path. On error returns TD_ERR_*
 * with *err "PATH:LINE: message" (caller frees). The file's SHA-256 is
 * in sha256 (hex), its bytes kept until xtable_drop_bytes().
 */
int	 xtable_load(int kind, const char *path, struct xtable **out,
	    char **err);
void	 xtable_free(struct xtable *);
/*
 * The row for key (n bytes) valid on day (days since 1970-01-01), or
 * NULL. A row without dates is valid on every day.
 */
const struct xt_row *xtable_find(const struct xtable *, const char *key,
	    size_t n, int32_t day);
/* Whether any row has dates (then lookups need the day). */
int	 xtable_dated(const struct xtable *);
/* Rows, and bytes of memory held. */
size_t	 xtable_rows(const struct xtable *);
size_t	 xtable_memory(const struct xtable *);
const char *xtable_sha256(const struct xtable *);
/* The file's bytes as read (for the archive of mapping states). */
const char *xtable_bytes(const struct xtable *, size_t *len);
void	 xtable_drop_bytes(struct xtable *);

#endif
