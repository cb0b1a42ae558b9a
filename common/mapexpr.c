/* mapexpr.c - parse [map] expressions; see mapexpr.h for the grammar. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "td.h"
#include "date.h"
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
			/* option="value": the word ends at the '=' */
			if (lx->p > s && lx->p[-1] == '=')
				break;
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
	{ "datetime", MX_XF_DATETIME },
	{ "decimal", MX_XF_DECIMAL },
	{ "gtin", MX_XF_GTIN },
	{ "crosswalk", MX_XF_CROSSWALK },
	{ "upper", MX_XF_UPPER },
	{ "trim", MX_XF_TRIM },
	{ "default", MX_XF_DEFAULT },
	{ "substr", MX_XF_SUBSTR },
	{ "regex", MX_XF_REGEX },
	{ "values", MX_XF_VALUES },
};

static char whybuf[256];

const char *
mapexpr_xf_name(int kind)
{
	size_t i;

	for (i = 0; i < TD_NELEM(xforms); i++)
		if (xforms[i].kind == kind)
			return xforms[i].name;
	return "?";
}

/* date, datetime, decimal, gtin, crosswalk: they check what they write */
static int
typed(int kind)
{
	return kind == MX_XF_DATE || kind == MX_XF_DATETIME ||
	    kind == MX_XF_DECIMAL || kind == MX_XF_GTIN ||
	    kind == MX_XF_CROSSWALK;
}

/* A number lo..hi in a word. 0 or -1. */
static int
parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	unsigned long v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > hi)
			return -1;
	}
	if (v < lo)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* The value of a NAME="C" or NAME=C option: one byte. */
static int
opt_char(struct lexer *lx, const char *val, char *out, const char **why)
{
	int r;

	if (*val == '\0') {
		/* NAME= then a quoted string */
		if ((r = next_token(lx, why)) <= 0 || !lx->quoted) {
			if (r >= 0)
				*why = "an option= needs a value";
			return -1;
		}
		val = lx->tok;
	}
	if (strlen(val) != 1) {
		*why = "group= and point= take one character";
		return -1;
	}
	*out = *val;
	return 0;
}

/*
 * The options of decimal or gtin, until a word that is not one: then 1
 * with that word the current token (pending), 0 at the end, -1 error.
 */
static int
parse_options(struct lexer *lx, struct mx_xform *xf, const char **why)
{
	const char *w;
	unsigned u;
	int r, seen_sign = 0, seen_group = 0, seen_point = 0;

	while ((r = next_token(lx, why)) > 0) {
		if (lx->quoted) {
			*why = "unexpected quoted string";
			return -1;
		}
		w = lx->tok;
		if (xf->kind == MX_XF_GTIN) {
			if (strcmp(w, "nocheck") == 0)
				xf->opts |= MX_GTIN_NOCHECK;
			else if (strcmp(w, "upce") == 0)
				xf->opts |= MX_GTIN_UPCE;
			else if (strcmp(w, "pad") == 0)
				xf->opts |= MX_GTIN_PAD;
			else
				break;
			continue;
		}
		if (strcmp(w, "thousands") == 0 || strncmp(w, "group=", 6) == 0) {
			if (seen_group++) {
				*why = "decimal: group= given twice";
				return -1;
			}
			if (*w == 't')
				xf->group = ',';
			else if (opt_char(lx, w + 6, &xf->group, why) != 0)
				return -1;
			if (isdigit((unsigned char)xf->group) ||
			    strchr("+-()", xf->group) != NULL) {
				*why = "decimal: group= cannot be a digit, a "
				    "sign or a parenthesis";
				return -1;
			}
		} else if (strncmp(w, "point=", 6) == 0) {
			if (seen_point++) {
				*why = "decimal: point= given twice";
				return -1;
			}
			if (opt_char(lx, w + 6, &xf->point, why) != 0)
				return -1;
			if (xf->point != '.' && xf->point != ',') {
				*why = "decimal: point= is \".\" or \",\"";
				return -1;
			}
		} else if (strcmp(w, "parens") == 0 ||
		    strncmp(w, "sign=", 5) == 0) {
			if (seen_sign++) {
				*why = "decimal: sign= given twice";
				return -1;
			}
			if (*w == 'p' || strcmp(w + 5, "parens") == 0)
				xf->sign = MX_SIGN_PARENS;
			else if (strcmp(w + 5, "trailing") == 0)
				xf->sign = MX_SIGN_TRAILING;
			else if (strcmp(w + 5, "leading") == 0)
				xf->sign = MX_SIGN_LEADING;
			else {
				*why = "decimal: sign= is leading, trailing "
				    "or parens";
				return -1;
			}
		} else if (strncmp(w, "implied=", 8) == 0) {
			if (xf->implied || xf->cents ||
			    parse_uint(w + 8, 1, 18, &u) != 0) {
				*why = "decimal: implied= is 1 to 18, once, "
				    "and not with cents";
				return -1;
			}
			xf->implied = (int)u;
		} else if (strcmp(w, "cents") == 0) {
			if (xf->implied || xf->cents) {
				*why = "decimal: cents once, and not with "
				    "implied=";
				return -1;
			}
			xf->cents = 1;
		} else
			break;
	}
	if (r < 0)
		return -1;
	if (xf->group != '\0' && xf->group == xf->point) {
		*why = "decimal: group= and point= are the same character";
		return -1;
	}
	return r > 0;
}

/*
 * How many copies of its atoms pattern p compiles to, as glibc's
 * regcomp() expands repetitions: X{m,n} is n copies of X (m+1 for
 * X{m,}), X+ two, and repetitions nested or stacked multiply, so that
 * "a" and 24 "+" are 2^24 copies (minutes, gigabytes). Counting stops
 * past MX_REGEX_COPIES.
 */
static unsigned long
regex_copies(const char *p)
{
	unsigned long sum[MX_REGEX_MAX + 2], last = 0, m, n;
	size_t depth = 0;
	char *e;

	sum[0] = 0;
	for (; *p != '\0'; p++) {
		switch (*p) {
		case '(':
			sum[++depth] = 0;
			last = 0;
			continue;
		case ')':
			if (depth == 0)
				break;
			last = sum[depth--];
			if (last == 0)
				last = 1;
			sum[depth] += last;
			continue;
		case '|':
			last = 0;
			continue;
		case '*':
		case '?':
			continue;
		case '+':
			m = n = 2;
			goto repeat;
		case '{':
			m = isdigit((unsigned char)p[1]) ?
			    strtoul(p + 1, &e, 10) : 0;
			if (!isdigit((unsigned char)p[1]))
				e = (char *)p + 1;
			n = *e == ',' && isdigit((unsigned char)e[1]) ?
			    strtoul(e + 1, &e, 10) : *e == ',' ? m + 1 : m;
			if (*e == ',')
				e++;
			if (*e != '}')
				break;		/* not an interval */
			p = e;
		repeat:
			n = n > m ? n : m;
			if (n > MX_REGEX_COPIES)
				return MX_REGEX_COPIES + 1;
			sum[depth] += last * (n > 0 ? n - 1 : 0);
			last *= n > 0 ? n : 1;
			goto check;
		case '[':
			/* a bracket expression is one atom */
			p += p[1] == '^';
			p += p[1] == ']';
			while (p[1] != '\0' && p[1] != ']') {
				if (p[1] == '[' && p[2] != '\0' &&
				    strchr(":.=", p[2]) != NULL &&
				    (e = strchr(p + 3, p[2])) != NULL &&
				    e[1] == ']')
					p = e + 1;
				else
					p++;
			}
			if (p[1] != '\0')
				p++;
			break;
		case '\\':
			if (p[1] != '\0')
				p++;
			break;
		}
		/* an atom of one copy */
		last = 1;
		sum[depth]++;
 check:
		if (sum[depth] > MX_REGEX_COPIES || last > MX_REGEX_COPIES)
			return MX_REGEX_COPIES + 1;
	}
	for (m = 0; depth > 0; depth--)
		m += sum[depth];
	return sum[0] + m;
}

/* A regex: bounded, without back-references, compiled. */
static int
parse_regex(struct mx_xform *xf, const char **why)
{
	const char *p;
	int r;

	if (strlen(xf->arg) > MX_REGEX_MAX || *xf->arg == '\0') {
		*why = "regex: the pattern must have 1 to 512 bytes";
		return -1;
	}
	for (p = xf->arg; *p != '\0'; p++) {
		if (*p == '\\' && p[1] >= '1' && p[1] <= '9') {
			*why = "regex: back-references (\\1 ... \\9) are not "
			    "allowed: they can take exponential time";
			return -1;
		}
		if (*p == '\\' && p[1] != '\0')
			p++;
	}
	if (regex_copies(xf->arg) > MX_REGEX_COPIES) {
		*why = "regex: its repetitions make more than 256 copies of "
		    "its parts (X{m,n} is n copies of X, X+ two, and nested "
		    "ones multiply): it would take long to compile and to "
		    "match";
		return -1;
	}
	xf->re = xcalloc(1, sizeof(*xf->re));
	if ((r = regcomp(xf->re, xf->arg, REG_EXTENDED)) != 0) {
		char e[160];

		regerror(r, xf->re, e, sizeof(e));
		x_free(xf->re);
		xf->re = NULL;
		snprintf(whybuf, sizeof(whybuf), "regex: %s", e);
		*why = whybuf;
		return -1;
	}
	return 0;
}

static char *
trim_copy(const char *s, size_t n)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return xstrndup(s, n);
}

/* values "A=x, B=y, *=z": the table, keys unique and not empty. */
static int
parse_values(struct mx_xform *xf, const char **why)
{
	const char *p = xf->arg, *e, *eq;
	size_t i;

	for (;;) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		if ((eq = memchr(p, '=', (size_t)(e - p))) == NULL) {
			*why = "values: each entry is FROM=TO, separated by "
			    "commas";
			return -1;
		}
		if (xf->nvals == MX_VALUES_MAX) {
			*why = "values: more than 256 entries";
			return -1;
		}
		xf->vals = xreallocarray(xf->vals, xf->nvals + 1,
		    sizeof(*xf->vals));
		xf->vals[xf->nvals].from = trim_copy(p, (size_t)(eq - p));
		xf->vals[xf->nvals].to = trim_copy(eq + 1,
		    (size_t)(e - eq - 1));
		xf->nvals++;
		if (*xf->vals[xf->nvals - 1].from == '\0') {
			*why = "values: an entry has nothing before its =";
			return -1;
		}
		for (i = 0; i + 1 < xf->nvals; i++)
			if (strcmp(xf->vals[i].from,
			    xf->vals[xf->nvals - 1].from) == 0) {
				snprintf(whybuf, sizeof(whybuf), "values: "
				    "\"%s\" is given twice",
				    xf->vals[i].from);
				*why = whybuf;
				return -1;
			}
		if (*e == '\0')
			break;
		p = e + 1;
	}
	return 0;
}

static int
parse(const char *text, int edits, struct mapexpr **out, const char **why)
{
	struct lexer lx = { text, NULL, 0 };
	struct mapexpr *mx;
	struct mx_xform *xf;
	const char *prev;
	size_t i, j;
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
			snprintf(whybuf, sizeof(whybuf), "unknown transform "
			    "\"%.40s\" (date, datetime, decimal, gtin, "
			    "crosswalk, upper, trim, default, substr, regex, "
			    "values)", lx.tok);
			*why = whybuf;
			goto out;
		}
		if (mx->nxf == MX_MAX_XF) {
			*why = "too many transforms (8 at most)";
			goto out;
		}
		/* a typed transform checks a value and writes it in its
		 * canonical form, the one delivered and the one counted: a
		 * later text edit would deliver what was never checked (an
		 * amount "1234.56" cut to "1234" by substr after decimal,
		 * while 1234.56 was totalled). trim, upper and default
		 * leave such a value as it is. */
		for (j = 0; !edits && j < mx->nxf &&
		    (xforms[i].kind == MX_XF_SUBSTR ||
		    xforms[i].kind == MX_XF_REGEX ||
		    xforms[i].kind == MX_XF_VALUES); j++) {
			if (!typed(mx->xf[j].kind))
				continue;
			prev = mapexpr_xf_name(mx->xf[j].kind);
			snprintf(whybuf, sizeof(whybuf), "%s after %s: %s "
			    "writes the value it checked, and nothing may "
			    "change it (put %s before %s)", xforms[i].name,
			    prev, prev, xforms[i].name, prev);
			*why = whybuf;
			goto out;
		}
		xf = &mx->xf[mx->nxf++];
		xf->kind = xforms[i].kind;
		xf->point = '.';
		switch (xf->kind) {
		case MX_XF_DATE:
		case MX_XF_DEFAULT:
		case MX_XF_REGEX:
		case MX_XF_VALUES:
			if ((r = next_token(&lx, why)) <= 0 || !lx.quoted ||
			    (*lx.tok == '\0' && xf->kind != MX_XF_DEFAULT)) {
				if (*why == NULL)
					*why = xf->kind == MX_XF_DATE ?
					    "date needs a \"FORMAT\"" :
					    xf->kind == MX_XF_DEFAULT ?
					    "default needs a \"VALUE\"" :
					    xf->kind == MX_XF_REGEX ?
					    "regex needs a \"PATTERN\"" :
					    "values needs \"FROM=TO, ...\"";
				goto out;
			}
			xf->arg = xstrdup(lx.tok);
			if (xf->kind == MX_XF_DATE &&
			    td_datetime_fmt_check(xf->arg, 0) != 0) {
				*why = "date format: a year, a month and a day "
				    "(or %j) from %Y %y %m %d %b %j, a time "
				    "from %H %M %S %T %I %p, literals, %%";
				goto out;
			}
			if (xf->kind == MX_XF_VALUES &&
			    parse_values(xf, why) != 0)
				goto out;
			if (xf->kind != MX_XF_REGEX)
				break;
			if (parse_regex(xf, why) != 0)
				goto out;
			xf->group_no = xf->re->re_nsub > 0;
			/* an optional GROUP */
			if ((r = next_token(&lx, why)) < 0)
				goto out;
			if (r == 0)
				goto done;
			if (lx.quoted || !isdigit((unsigned char)*lx.tok)) {
				pending = 1;
				break;
			}
			if (parse_uint(lx.tok, 0, 9, &xf->group_no) != 0 ||
			    xf->group_no > xf->re->re_nsub) {
				snprintf(whybuf, sizeof(whybuf), "regex: "
				    "group %s does not exist (the pattern has "
				    "%zu)", lx.tok, xf->re->re_nsub);
				*why = whybuf;
				goto out;
			}
			break;
		case MX_XF_DATETIME:
			/* an optional "FORMAT"; none: ISO 8601 */
			if ((r = next_token(&lx, why)) < 0)
				goto out;
			if (r == 0)
				goto done;
			if (!lx.quoted) {
				pending = 1;
				break;
			}
			xf->arg = xstrdup(lx.tok);
			if (td_datetime_fmt_check(xf->arg, TD_DT_TIME_ONLY) == 0)
				xf->opts |= MX_DT_TIME_ONLY;
			else if (td_datetime_fmt_check(xf->arg,
			    TD_DT_TIME) != 0) {
				*why = "datetime format: an hour (%H, %I with "
				    "%p, or %T), and a whole date or none, "
				    "from %Y %y %m %d %b %j %H %M %S %T %I %p, "
				    "literals, %%";
				goto out;
			}
			break;
		case MX_XF_SUBSTR:
			if ((r = next_token(&lx, why)) <= 0 || lx.quoted ||
			    parse_uint(lx.tok, 1, 65536, &xf->start) != 0 ||
			    (r = next_token(&lx, why)) <= 0 || lx.quoted ||
			    parse_uint(lx.tok, 1, 65536, &xf->len) != 0) {
				if (r >= 0)
					*why = "substr needs START and LEN, "
					    "1 to 65536 (characters, the "
					    "first is 1)";
				goto out;
			}
			break;
		case MX_XF_DECIMAL:
		case MX_XF_GTIN:
			if ((r = parse_options(&lx, xf, why)) < 0)
				goto out;
			if (r == 0)
				goto done;
			pending = 1;
			break;
		}
	}
 done:
	*out = mx;	/* transferred */
	mx = NULL;
	ret = TD_OK;
 out:
	x_free(lx.tok);
	mapexpr_free(mx);
	return ret;
}

int
mapexpr_parse(const char *text, struct mapexpr **out, const char **why)
{
	return parse(text, 0, out, why);
}

int
mapexpr_parse_text(const char *text, struct mapexpr **out, const char **why)
{
	return parse(text, 1, out, why);
}

void
mapexpr_free(struct mapexpr *mx)
{
	size_t i, j;

	if (mx == NULL)
		return;
	for (i = 0; i < mx->nxf; i++) {
		x_free(mx->xf[i].arg);
		if (mx->xf[i].re != NULL) {
			regfree(mx->xf[i].re);
			x_free(mx->xf[i].re);
		}
		for (j = 0; j < mx->xf[i].nvals; j++) {
			x_free(mx->xf[i].vals[j].from);
			x_free(mx->xf[i].vals[j].to);
		}
		x_free(mx->xf[i].vals);
	}
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
	char *acc = xstrdup(""), num[32];
	size_t i;

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
		const struct mx_xform *xf = &mx->xf[i];
		char c[2] = { 0, 0 };

		canon_word(&acc, " ");
		canon_word(&acc, mapexpr_xf_name(xf->kind));
		if (xf->arg != NULL) {
			canon_word(&acc, " ");
			canon_quote(&acc, xf->arg);
		}
		switch (xf->kind) {
		case MX_XF_DECIMAL:
			if (xf->sign == MX_SIGN_TRAILING)
				canon_word(&acc, " sign=trailing");
			else if (xf->sign == MX_SIGN_PARENS)
				canon_word(&acc, " sign=parens");
			if (xf->group != '\0') {
				c[0] = xf->group;
				canon_word(&acc, " group=");
				canon_quote(&acc, c);
			}
			if (xf->point != '.')
				canon_word(&acc, " point=\",\"");
			if (xf->implied > 0) {
				snprintf(num, sizeof(num), " implied=%d",
				    xf->implied);
				canon_word(&acc, num);
			}
			if (xf->cents)
				canon_word(&acc, " cents");
			break;
		case MX_XF_GTIN:
			if (xf->opts & MX_GTIN_NOCHECK)
				canon_word(&acc, " nocheck");
			if (xf->opts & MX_GTIN_UPCE)
				canon_word(&acc, " upce");
			if (xf->opts & MX_GTIN_PAD)
				canon_word(&acc, " pad");
			break;
		case MX_XF_SUBSTR:
			snprintf(num, sizeof(num), " %u %u", xf->start,
			    xf->len);
			canon_word(&acc, num);
			break;
		case MX_XF_REGEX:
			snprintf(num, sizeof(num), " %u", xf->group_no);
			canon_word(&acc, num);
			break;
		}
	}
	return acc;
}

int
mapexpr_last_typed(const struct mapexpr *mx)
{
	size_t i;

	for (i = mx->nxf; i > 0; i--)
		if (typed(mx->xf[i - 1].kind))
			return mx->xf[i - 1].kind;
	return -1;
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

const char *
mapexpr_value(const struct mx_xform *xf, const char *v, size_t n)
{
	const char *any = NULL;
	size_t i;

	for (i = 0; i < xf->nvals; i++) {
		if (strlen(xf->vals[i].from) == n &&
		    memcmp(xf->vals[i].from, v, n) == 0)
			return xf->vals[i].to;
		if (strcmp(xf->vals[i].from, "*") == 0)
			any = xf->vals[i].to;
	}
	return any;
}
