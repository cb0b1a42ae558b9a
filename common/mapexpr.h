/*
 * mapexpr.h - syntax of a [map] value: SOURCE [TRANSFORM ...]
 *
 *   SOURCE     column "Header Name" | column N (1-based) | const "VALUE"
 *   TRANSFORM  date "FORMAT" | datetime ["FORMAT"] |
 *              decimal [sign=leading|trailing|parens] [group="C"]
 *                      [point="C"] [implied=N | cents] |
 *              gtin [nocheck] [upce] [pad] |
 *              crosswalk | upper | trim | default "X" |
 *              substr START LEN | regex "ERE" [GROUP] | values "A=x, B=y"
 *
 * Strings are in double quotes; \" and \\ escape inside them. The old
 * decimal options `thousands` (group=",") and `parens` (sign=parens)
 * are still read. Every error is found here, when the configuration is
 * loaded, never on a row.
 */
#ifndef TD_MAPEXPR_H
#define TD_MAPEXPR_H

#include <stddef.h>
#include <regex.h>

#define MX_SRC_COLUMN_NAME	1
#define MX_SRC_COLUMN_NUM	2
#define MX_SRC_CONST		3

#define MX_XF_DATE	1
#define MX_XF_DECIMAL	2
#define MX_XF_GTIN	3
#define MX_XF_CROSSWALK	4
#define MX_XF_UPPER	5
#define MX_XF_TRIM	6
#define MX_XF_DATETIME	7
#define MX_XF_DEFAULT	8
#define MX_XF_SUBSTR	9
#define MX_XF_REGEX	10
#define MX_XF_VALUES	11

#define MX_MAX_XF	8

/* decimal options: sign */
#define MX_SIGN_LEADING		0
#define MX_SIGN_TRAILING	1
#define MX_SIGN_PARENS		2
/* gtin options */
#define MX_GTIN_NOCHECK		0x1
#define MX_GTIN_UPCE		0x2
#define MX_GTIN_PAD		0x4
/* datetime options, found from its format */
#define MX_DT_TIME_ONLY		0x1	/* reads a time and no date */

#define MX_REGEX_MAX	512	/* bytes of a regex pattern */
#define MX_REGEX_VALUE_MAX 1024	/* bytes of a value a regex reads */
#define MX_REGEX_COPIES	256	/* of its atoms, repetitions expanded */
#define MX_VALUES_MAX	256	/* entries of a values table */

struct mx_value {
	char		*from;		/* "*": any other value */
	char		*to;
};

struct mx_xform {
	int		 kind;
	char		*arg;		/* date/datetime format (NULL: ISO
					 * 8601), default text, regex */
	/* decimal */
	int		 sign;		/* MX_SIGN_* */
	char		 group;		/* '\0': none */
	char		 point;		/* '.' or ',' */
	int		 implied;	/* 0..18 */
	int		 cents;		/* implied = the currency's minor unit */
	/* gtin */
	unsigned	 opts;		/* MX_GTIN_*; datetime: MX_DT_* */
	/* substr START LEN (1-based, in characters); regex GROUP */
	unsigned	 start, len;
	unsigned	 group_no;
	regex_t		*re;
	/* values */
	struct mx_value	*vals;
	size_t		 nvals;
};

struct mapexpr {
	int		 src;
	char		*arg;		/* header name or constant */
	unsigned	 colnum;	/* 1-based, for MX_SRC_COLUMN_NUM */
	struct mx_xform	 xf[MX_MAX_XF];
	size_t		 nxf;
};

/*
 * Parse text into *out (set to NULL on entry). On error returns
 * TD_ERR_FORMAT and points *why at a message, valid until the next call.
 */
int	 mapexpr_parse(const char *text, struct mapexpr **out, const char **why);
/*
 * As mapexpr_parse, for a key whose value is neither counted nor of a
 * type (store_id, uom, promo_code...): there a typed transform only
 * checks and normalises text, and a substr, regex or values may follow
 * it (store_id = column "No" decimal values "1=S001, 2=S002").
 */
int	 mapexpr_parse_text(const char *text, struct mapexpr **out,
	    const char **why);
void	 mapexpr_free(struct mapexpr *);
/* Canonical text form (what mapping_version hashes). Caller frees. */
char	*mapexpr_canon(const struct mapexpr *);
/* The name of a transform kind, as written ("decimal"). */
const char *mapexpr_xf_name(int kind);
/*
 * The kind of the last of date, datetime, decimal, gtin and crosswalk:
 * what the field delivers is what it wrote (mapexpr_parse refuses a
 * text edit after one), or -1 when there is none.
 */
int	 mapexpr_last_typed(const struct mapexpr *);
/* Index of the first transform of that kind, or -1. */
int	 mapexpr_find(const struct mapexpr *, int kind);
/* The value the table maps v (n bytes) to, or NULL. */
const char *mapexpr_value(const struct mx_xform *, const char *v, size_t n);

#endif
