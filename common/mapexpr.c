/* mapexpr.c - parse [map] expressions; see mapexpr.h for the grammar. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "td.h"
#include "mapexpr.h"

struct lexer {
	const char	*p;
	char		*tok;		/* current token text */
	int		 quoted;	/* token was a quoted string */
};

static void
skip_space(struct lexer *lx)
{
	while (*lx->p == ' ' || *lx->p == '\t')
		lx->p++;
}

/* Next token: 1 if one was read, 0 at end, negative on error. */
static int
next_token(struct lexer *lx, const char **why)
{
	const char *s;
	char *o;

	x_free(lx->tok);
	lx->tok = NULL;
	lx->quoted = 0;
	skip_space(lx);
	if (*lx->p == '\0')
		return 0;
	if (*lx->p == '"') {
		lx->p++;
		o = lx->tok = xmalloc(strlen(lx->p) + 1);
		while (*lx->p != '"') {
			if (*lx->p == '\0') {
				*why = "unterminated quoted string";
				return TD_ERR_FORMAT;
			}
			if (*lx->p == '\\') {
				lx->p++;
				if (*lx->p != '"' && *lx->p != '\\') {
					*why = "bad escape in quoted string "
					    "(only \\\" and \\\\)";
					return TD_ERR_FORMAT;
				}
			}
			*o++ = *lx->p++;
		}
		*o = '\0';
		lx->p++;
		lx->quoted = 1;
		if (*lx->p != '\0' && *lx->p != ' ' && *lx->p != '\t') {
			*why = "junk after quoted string";
			return TD_ERR_FORMAT;
		}
		return 1;
	}
	s = lx->p;
	while (*lx->p != '\0' && *lx->p != ' ' && *lx->p != '\t') {
		if (*lx->p == '"') {
			*why = "quote inside a word";
			return TD_ERR_FORMAT;
		}
		lx->p++;
	}
	lx->tok = xstrndup(s, (size_t)(lx->p - s));
	return 1;
}

static int
parse_colnum(const char *s, unsigned *out)
{
	unsigned long v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > 65536)
			return -1;
	}
	if (v == 0)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static const struct {
	const char	*name;
	int		 kind;
} xforms[] = {
	{ "date", MX_XF_DATE },
	{ "decimal", MX_XF_DECIMAL },
	{ "gtin", MX_XF_GTIN },
	{ "crosswalk", MX_XF_CROSSWALK },
	{ "upper", MX_XF_UPPER },
	{ "trim", MX_XF_TRIM },
};

int
mapexpr_parse(const char *text, struct mapexpr **out, const char **why)
{
	struct lexer lx = { text, NULL, 0 };
	struct mapexpr *mx;
	struct mx_xform *xf;
	size_t i;
	int r, ret = TD_ERR_FORMAT, pending;

	*out = NULL;
	*why = NULL;
	mx = xcalloc(1, sizeof(*mx));

	if ((r = next_token(&lx, why)) <= 0) {
		if (r == 0)
			*why = "empty mapping: expected column or const";
		goto out;
	}
	if (lx.quoted)
		goto badsrc;
	if (strcmp(lx.tok, "column") == 0) {
		if ((r = next_token(&lx, why)) <= 0) {
			if (r == 0)
				*why = "column needs a \"Header\" or a number";
			goto out;
		}
		if (lx.quoted) {
			mx->src = MX_SRC_COLUMN_NAME;
			mx->arg = xstrdup(lx.tok);
		} else if (parse_colnum(lx.tok, &mx->colnum) == 0) {
			mx->src = MX_SRC_COLUMN_NUM;
		} else {
			*why = "column number must be 1 to 65536 "
			    "(quote header names)";
			goto out;
		}
	} else if (strcmp(lx.tok, "const") == 0) {
		if ((r = next_token(&lx, why)) <= 0 || !lx.quoted) {
			if (*why == NULL)
				*why = "const needs a \"quoted value\"";
			goto out;
		}
		mx->src = MX_SRC_CONST;
		mx->arg = xstrdup(lx.tok);
	} else {
 badsrc:
		*why = "expected column or const";
		goto out;
	}

	pending = 0;
	for (;;) {
		if (!pending && (r = next_token(&lx, why)) <= 0) {
			if (r < 0)
				goto out;
			break;
		}
		pending = 0;
		if (lx.quoted) {
			*why = "unexpected quoted string";
			goto out;
		}
		for (i = 0; i < TD_NELEM(xforms); i++)
			if (strcmp(lx.tok, xforms[i].name) == 0)
				break;
		if (i == TD_NELEM(xforms)) {
			*why = "unknown transform (date, decimal, gtin, "
			    "crosswalk, upper, trim)";
			goto out;
		}
		if (mx->nxf == MX_MAX_XF) {
			*why = "too many transforms";
			goto out;
		}
		xf = &mx->xf[mx->nxf++];
		xf->kind = xforms[i].kind;
		if (xf->kind == MX_XF_DATE) {
			if ((r = next_token(&lx, why)) <= 0 || !lx.quoted ||
			    *lx.tok == '\0') {
				if (*why == NULL)
					*why = "date needs a \"FORMAT\"";
				goto out;
			}
			xf->arg = xstrdup(lx.tok);
		} else if (xf->kind == MX_XF_DECIMAL) {
			while ((r = next_token(&lx, why)) > 0 && !lx.quoted) {
				if (strcmp(lx.tok, "thousands") == 0)
					xf->opts |= MX_DEC_THOUSANDS;
				else if (strcmp(lx.tok, "parens") == 0)
					xf->opts |= MX_DEC_PARENS;
				else {
					pending = 1;
					break;
				}
			}
			if (r < 0)
				goto out;
			if (r > 0 && lx.quoted) {
				*why = "unexpected quoted string";
				goto out;
			}
			if (r == 0)
				break;
		}
	}
	*out = mx;	/* transferred */
	mx = NULL;
	ret = TD_OK;
 out:
	x_free(lx.tok);
	mapexpr_free(mx);
	return ret;
}

void
mapexpr_free(struct mapexpr *mx)
{
	size_t i;

	if (mx == NULL)
		return;
	for (i = 0; i < mx->nxf; i++)
		x_free(mx->xf[i].arg);
	x_free(mx->arg);
	x_free(mx);
}

static void
canon_quote(char **acc, const char *s)
{
	size_t n = strlen(*acc), m = strlen(s), i;
	char *o;

	*acc = xrealloc(*acc, n + 2 * m + 4);
	o = *acc + n;
	*o++ = '"';
	for (i = 0; i < m; i++) {
		if (s[i] == '"' || s[i] == '\\')
			*o++ = '\\';
		*o++ = s[i];
	}
	*o++ = '"';
	*o = '\0';
}

static void
canon_word(char **acc, const char *w)
{
	size_t n = strlen(*acc), m = strlen(w);

	*acc = xrealloc(*acc, n + m + 1);
	memcpy(*acc + n, w, m + 1);
}

char *
mapexpr_canon(const struct mapexpr *mx)
{
	char *acc = xstrdup(""), num[16];
	size_t i, j;

	switch (mx->src) {
	case MX_SRC_COLUMN_NAME:
		canon_word(&acc, "column ");
		canon_quote(&acc, mx->arg);
		break;
	case MX_SRC_COLUMN_NUM:
		snprintf(num, sizeof(num), "column %u", mx->colnum);
		canon_word(&acc, num);
		break;
	case MX_SRC_CONST:
		canon_word(&acc, "const ");
		canon_quote(&acc, mx->arg);
		break;
	}
	for (i = 0; i < mx->nxf; i++) {
		for (j = 0; j < TD_NELEM(xforms); j++)
			if (xforms[j].kind == mx->xf[i].kind)
				break;
		canon_word(&acc, " ");
		canon_word(&acc, xforms[j].name);
		if (mx->xf[i].arg != NULL) {
			canon_word(&acc, " ");
			canon_quote(&acc, mx->xf[i].arg);
		}
		if (mx->xf[i].opts & MX_DEC_THOUSANDS)
			canon_word(&acc, " thousands");
		if (mx->xf[i].opts & MX_DEC_PARENS)
			canon_word(&acc, " parens");
	}
	return acc;
}

int
mapexpr_find(const struct mapexpr *mx, int kind)
{
	size_t i;

	for (i = 0; i < mx->nxf; i++)
		if (mx->xf[i].kind == kind)
			return (int)i;
	return -1;
}
