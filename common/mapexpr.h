/*
 * mapexpr.h - syntax of a [map] value: SOURCE [TRANSFORM ...]
 *
 *   SOURCE     column "Header Name" | column N (1-based) | const "VALUE"
 *   TRANSFORM  date "FORMAT" | decimal [thousands] [parens] | gtin |
 *              crosswalk | upper | trim
 *
 * Strings are in double quotes; \" and \\ escape inside them.
 */
#ifndef TD_MAPEXPR_H
#define TD_MAPEXPR_H

#include <stddef.h>

#define MX_SRC_COLUMN_NAME	1
#define MX_SRC_COLUMN_NUM	2
#define MX_SRC_CONST		3

#define MX_XF_DATE	1
#define MX_XF_DECIMAL	2
#define MX_XF_GTIN	3
#define MX_XF_CROSSWALK	4
#define MX_XF_UPPER	5
#define MX_XF_TRIM	6

#define MX_MAX_XF	8

/* decimal options */
#define MX_DEC_THOUSANDS	0x1
#define MX_DEC_PARENS		0x2

struct mx_xform {
	int	 kind;
	char	*arg;		/* date format, or NULL */
	unsigned opts;		/* MX_DEC_* */
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
 * TD_ERR_FORMAT and points *why at a static message.
 */
int	 mapexpr_parse(const char *text, struct mapexpr **out, const char **why);
void	 mapexpr_free(struct mapexpr *);
/* Canonical text form (what mapping_version hashes). Caller frees. */
char	*mapexpr_canon(const struct mapexpr *);
/* Index of the first transform of that kind, or -1. */
int	 mapexpr_find(const struct mapexpr *, int kind);

#endif
