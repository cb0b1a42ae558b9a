/*
 * conf.c - load the INI configuration with inih (upstream, carried in
 * common/inih), validate every value against conf-table.h, and answer
 * queries.
 *
 * Errors are collected, not fatal: every one is reported as FILE:LINE.
 */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "inih/ini.h"

#include "td.h"
#include "buf.h"
#include "conf.h"
#include "currency.h"
#include "date.h"
#include "mapexpr.h"
#include "num.h"

#define CONF_MAX_LINE	8189	/* bytes of a line, without its line end */
#if INI_MAX_LINE < CONF_MAX_LINE + 3 || INI_INITIAL_ALLOC < INI_MAX_LINE || \
    INI_ALLOW_MULTILINE || !INI_CUSTOM_ALLOCATOR || INI_USE_STACK
#error "inih must be built with the options of INIH_OPTS in Makefile.am"
#endif
#define CONF_MAX_SOURCES 64
#define CONF_MAX_FILE	(1 << 20)

static const struct td_conf_keyinfo keytab[TDK__COUNT] = {
#define TD_X(s, k, t, d, mn, mx, ev, fl, h) \
	{ #s, #k, t, d, mn, mx, ev, fl, h },
	TD_CONF_KEYS(TD_X)
#undef TD_X
};

struct confval {
	int		 set;		/* from the file */
	int		 line;
	char		*str;		/* text (last value for repeatable) */
	uint64_t	 u;
	char		**list;		/* CT_LIST items, or CF_REPEAT values */
	size_t		 nlist;
	struct mapexpr	*map;
};

struct confsrc {
	char		*name;
	int		 line;
	struct confval	 v[TDK__COUNT];
};

struct td_conf {
	char		*path;
	char		*dir;		/* directory of path, for relative paths */
	struct confval	 v[TDK__COUNT];
	struct confsrc	*src;
	size_t		 nsrc;
	char		*landing_default;
	char		*output_default;
	char		*seclines;	/* "name=line\n" of each section seen */
};

struct loadctx {
	struct td_conf	*c;
	char		*text;		/* the whole file */
	size_t		 len, off;	/* its length, the next line */
	int		 line;
	struct td_buf	 errs;
	int		 nerr;
	char		*cursec;	/* section as written */
	struct confsrc	*cursrc;
	int		 secok;
	struct stat	 st;		/* of the file, as read */
};

/* inih allocates its line buffer through these (INI_CUSTOM_ALLOCATOR). */
void	*ini_malloc(size_t);
void	 ini_free(void *);

void *
ini_malloc(size_t n)
{
	return xmalloc(n);
}

void
ini_free(void *p)
{
	x_free(p);
}

const struct td_conf_keyinfo *
td_conf_keyinfo(int key)
{
	if (key < 0 || key >= TDK__COUNT)
		return NULL;
	return &keytab[key];
}

static void __attribute__((format(printf, 3, 4)))
conf_err(struct loadctx *lc, int line, const char *fmt, ...)
{
	va_list ap;
	char *m;

	va_start(ap, fmt);
	m = xvasprintf(fmt, ap);
	va_end(ap);
	if (line > 0)
		td_buf_printf(&lc->errs, "%s:%d: %s\n", lc->c->path, line, m);
	else
		td_buf_printf(&lc->errs, "%s: %s\n", lc->c->path, m);
	lc->nerr++;
	x_free(m);
}

static void
val_clear(struct confval *v)
{
	size_t i;

	for (i = 0; i < v->nlist; i++)
		x_free(v->list[i]);
	x_free(v->list);
	x_free(v->str);
	mapexpr_free(v->map);
	memset(v, 0, sizeof(*v));
}

static char *
trim_dup(const char *s, size_t n)
{
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return xstrndup(s, n);
}

static void
list_add(struct confval *v, char *item)
{
	v->list = xreallocarray(v->list, v->nlist + 1, sizeof(*v->list));
	v->list[v->nlist++] = item;	/* transferred */
}

static char *
resolve_path(const struct td_conf *c, const char *p)
{
	if (*p == '/' || c->dir == NULL)
		return xstrdup(p);
	return xasprintf("%s/%s", c->dir, p);
}

static int
enum_index(const char *vals, const char *s, uint64_t *out)
{
	const char *p = vals, *e;
	uint64_t i = 0;
	size_t n = strlen(s);

	for (;;) {
		e = strchr(p, '|');
		if (e == NULL)
			e = p + strlen(p);
		if ((size_t)(e - p) == n && strncmp(p, s, n) == 0) {
			*out = i;
			return 0;
		}
		if (*e == '\0')
			return -1;
		p = e + 1;
		i++;
	}
}

/* the units a bound is written in, largest first */
struct conf_unit {
	char		 unit;
	uint64_t	 n;
};
static const struct conf_unit dur_units[] = {
	{ 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 }, { 0, 0 } };
static const struct conf_unit size_units[] = {
	{ 'T', 1ULL << 40 }, { 'G', 1ULL << 30 }, { 'M', 1ULL << 20 },
	{ 'K', 1ULL << 10 }, { 0, 0 } };

/*
 * A bound of a CT_INT, CT_DURATION or CT_SIZE key as the file would write
 * it: 26h rather than 93600, 16M rather than 16777216.
 */
static char *
bound_text(int type, uint64_t v)
{
	const struct conf_unit *u = type == CT_DURATION ? dur_units :
	    type == CT_SIZE ? size_units : NULL;

	for (; u != NULL && u->unit != 0 && v != 0; u++)
		if (v % u->n == 0)
			return xasprintf("%llu%c",
			    (unsigned long long)(v / u->n), u->unit);
	return xasprintf("%llu%s", (unsigned long long)v,
	    type == CT_DURATION ? "s" : "");
}

/*
 * What is wrong with a value of key k out of its bounds, naming them:
 * "out of range: 1 to 1000000", "out of range: at least 1K".
 */
static char *
range_why(const struct td_conf_keyinfo *ki)
{
	char *lo = bound_text(ki->type, ki->min), *hi, *why;

	if (ki->max == UINT64_MAX) {
		why = xasprintf("out of range: at least %s", lo);
	} else {
		hi = bound_text(ki->type, ki->max);
		why = xasprintf("out of range: %s to %s", lo, hi);
		x_free(hi);
	}
	x_free(lo);
	return why;
}

/* "not one of a, b, c" of a CT_ENUM's "a|b|c" */
static char *
enum_why(const char *vals)
{
	size_t n = strlen(vals), i;
	char *why = xmalloc(sizeof("not one of ") + 2 * n), *o;

	memcpy(why, "not one of ", sizeof("not one of ") - 1);
	o = why + sizeof("not one of ") - 1;
	for (i = 0; i < n; i++) {
		if (vals[i] == '|') {
			*o++ = ',';
			*o++ = ' ';
		} else
			*o++ = vals[i];
	}
	*o = '\0';
	return why;
}

/*
 * Parse one value of key k into v. Returns NULL or the message; a message
 * made for this value is also in *whyfree, for the caller to free.
 */
static const char *
parse_value(struct td_conf *c, int k, const char *raw, struct confval *v,
    char **whyfree)
{
	const struct td_conf_keyinfo *ki = &keytab[k];
	const char *why = NULL, *p, *e;
	uint64_t u;
	uint32_t ppm;
	struct td_date d;
	char *s = trim_dup(raw, strlen(raw)), *item;
	size_t n;
	int r;

	*whyfree = NULL;
	switch (ki->type) {
	case CT_STRING:
		break;
	case CT_NAME:
		n = strlen(s);
		if (n < 1 || n > 64 ||
		    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n)
			why = "must be 1 to 64 of a-z 0-9 _ -";
		break;
	case CT_PATH:
		if (*s == '\0')
			why = "empty path";
		else {
			item = resolve_path(c, s);
			x_free(s);
			s = item;
		}
		break;
	case CT_BOOL:
		if (strcmp(s, "yes") == 0 || strcmp(s, "true") == 0 ||
		    strcmp(s, "on") == 0 || strcmp(s, "1") == 0)
			v->u = 1;
		else if (strcmp(s, "no") == 0 || strcmp(s, "false") == 0 ||
		    strcmp(s, "off") == 0 || strcmp(s, "0") == 0)
			v->u = 0;
		else
			why = "expected yes or no";
		break;
	case CT_ENUM:
		if (enum_index(ki->enumvals, s, &v->u) != 0)
			why = *whyfree = enum_why(ki->enumvals);
		break;
	case CT_INT:
		if (td_parse_u64(s, strlen(s), 0, UINT64_MAX, &u) != 0)
			why = "not a whole number";
		else if (u < ki->min || u > ki->max)
			why = *whyfree = range_why(ki);
		else
			v->u = u;
		break;
	case CT_DURATION:
		if (td_parse_duration(s, &u) != 0)
			why = "not a duration (e.g. 30s, 5m, 26h, 7d)";
		else if (u < ki->min || u > ki->max)
			why = *whyfree = range_why(ki);
		else
			v->u = u;
		break;
	case CT_SIZE:
		if (td_parse_size(s, &u) != 0)
			why = "not a size (e.g. 512K, 8M, 16G)";
		else if (u < ki->min || u > ki->max)
			why = *whyfree = range_why(ki);
		else
			v->u = u;
		break;
	case CT_RATIO:
		if (td_parse_ratio(s, &ppm) != 0)
			why = "not a ratio between 0 and 1 (e.g. 0.05)";
		else
			v->u = ppm;
		break;
	case CT_LIST:
		for (p = s; ; p = e + 1) {
			e = strchr(p, ',');
			if (e == NULL)
				e = p + strlen(p);
			item = trim_dup(p, (size_t)(e - p));
			if (*item == '\0') {
				x_free(item);
				why = "empty item in list";
				break;
			}
			list_add(v, item);
			if (*e == '\0')
				break;
		}
		break;
	case CT_BYTE:
		if (strcmp(s, "\\t") == 0 || strcmp(s, "tab") == 0)
			v->u = '\t';
		else if (strcmp(s, "semicolon") == 0)
			v->u = ';';	/* a ";" after a blank starts a comment */
		else if (*s == '\0')
			/* what "delimiter = ;" leaves once inih cut it */
			why = "empty (a \";\" after a blank starts a comment: "
			    "write semicolon for a semicolon)";
		else if (strlen(s) == 1 && (unsigned char)*s >= 0x80)
			/* the CSV is read decoded, as UTF-8: such a byte is
			 * part of a character there, and would cut it */
			why = "must be an ASCII byte: the CSV is read after "
			    "decoding to UTF-8";
		else if (strlen(s) == 1 && *s != '"' && *s != '\r' &&
		    *s != '\n')
			v->u = (unsigned char)*s;
		else
			why = "must be one byte (\\t for tab), not a quote";
		break;
	case CT_MAP:
		/* the keys a typed transform counts or checks take no text
		 * edit after one; on the others it only normalises text */
		if (k == TDK_map_gtin || k == TDK_map_txn_date ||
		    k == TDK_map_txn_time || k == TDK_map_quantity ||
		    k == TDK_map_amount)
			(void)mapexpr_parse(s, &v->map, &why);
		else
			(void)mapexpr_parse_text(s, &v->map, &why);
		break;
	case CT_DATE:
		if (td_date_parse_iso(s, strlen(s), &d) != 0)
			why = "not a date YYYY-MM-DD";
		break;
	case CT_CURRENCY:
		/* exact, as the enumerations are: never case-folded */
		r = td_currency_minor(s);
		n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
		if (r == TD_ERR_INVAL)
			why = "ISO 4217 gives it no minor unit (N.A.: a metal, "
			    "a unit of account or a testing code), so no "
			    "amount can be written in it";
		else if (r < 0 && n == 3 && s[3] == '\0')
			why = "not a currency of ISO 4217 List one (a typo, or "
			    "a code since withdrawn; tradedrop.conf(5) has the "
			    "list)";
		else if (r < 0 && strlen(s) == 3 &&
		    strspn(s, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 3)
			why = "an ISO 4217 code is written in capital letters";
		else if (r < 0)
			why = "not an ISO 4217 code (three capital letters)";
		break;
	}
	if (ki->flags & CF_REPEAT)
		list_add(v, xstrdup(s));
	x_free(v->str);
	v->str = s;
	return why;
}

static int
key_lookup(const char *section, const char *name)
{
	int k;

	for (k = 0; k < TDK__COUNT; k++)
		if (strcmp(keytab[k].section, section) == 0 &&
		    strcmp(keytab[k].key, name) == 0)
			return k;
	return -1;
}

static int
section_known(const char *s)
{
#define TD_X(sec) if (strcmp(s, #sec) == 0) return 1;
	TD_CONF_SECTIONS(TD_X)
#undef TD_X
	return 0;
}

/* Split `source "NAME"`; returns the name (allocated) or NULL. */
static char *
source_name(const char *sec, const char **why)
{
	const char *p = sec + strlen("source"), *q;
	char *name;
	size_t n;

	*why = NULL;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '"' || (q = strchr(p + 1, '"')) == NULL || q[1] != '\0') {
		*why = "source section needs a quoted name: [source \"NAME\"]";
		return NULL;
	}
	name = xstrndup(p + 1, (size_t)(q - p - 1));
	n = strlen(name);
	if (n < 1 || n > 64 ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n) {
		*why = "source name must be 1 to 64 of a-z 0-9 _ -";
		x_free(name);
		return NULL;
	}
	return name;
}

/* Line of the [section] header, or 0 when the file has none. */
static int
section_line(const struct td_conf *c, const char *sec)
{
	const char *p = c->seclines;
	size_t n = strlen(sec);

	while (p != NULL && *p != '\0') {
		if (strncmp(p, sec, n) == 0 && p[n] == '=')
			return (int)strtol(p + n + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return 0;
}

/* A [section] header line was read: check it and make it current. */
static void
begin_section(struct loadctx *lc, const char *section)
{
	struct td_conf *c = lc->c;
	const char *why;
	char *sname;
	size_t i;

	x_free(lc->cursec);
	lc->cursec = xstrdup(section);
	lc->cursrc = NULL;
	lc->secok = 1;
	if (strncmp(section, "source", 6) == 0 &&
	    (section[6] == ' ' || section[6] == '\t' || section[6] == '"')) {
		if ((sname = source_name(section, &why)) == NULL) {
			conf_err(lc, lc->line, "%s", why);
			lc->secok = 0;
			return;
		}
		for (i = 0; i < c->nsrc; i++) {
			if (strcmp(c->src[i].name, sname) == 0) {
				conf_err(lc, lc->line, "duplicate source "
				    "\"%s\" (first at line %d)", sname,
				    c->src[i].line);
				x_free(sname);
				lc->secok = 0;
				return;
			}
		}
		if (c->nsrc == CONF_MAX_SOURCES) {
			conf_err(lc, lc->line, "too many sources");
			x_free(sname);
			lc->secok = 0;
			return;
		}
		c->src = xreallocarray(c->src, c->nsrc + 1, sizeof(*c->src));
		lc->cursrc = &c->src[c->nsrc++];
		memset(lc->cursrc, 0, sizeof(*lc->cursrc));
		lc->cursrc->name = sname;
		lc->cursrc->line = lc->line;
	} else if (strcmp(section, "source") == 0) {
		conf_err(lc, lc->line, "source section needs a quoted name: "
		    "[source \"NAME\"]");
		lc->secok = 0;
	} else if (!section_known(section)) {
		conf_err(lc, lc->line, "unknown section [%s]", section);
		lc->secok = 0;
	} else if (section_line(c, section) == 0) {
		char *nl = xasprintf("%s%s=%d\n", c->seclines ?
		    c->seclines : "", section, lc->line);

		x_free(c->seclines);
		c->seclines = nl;
	}
}

static int
conf_ini_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct loadctx *lc = user;
	struct td_conf *c = lc->c;
	struct confval *v;
	const char *why, *secname;
	char *whyfree;
	int k;

	if (name == NULL)
		return 1;
	if (lc->cursec == NULL) {
		conf_err(lc, lc->line, "key \"%s\" outside any section",
		    name);
		return 1;
	}
	if (!lc->secok)
		return 1;
	secname = lc->cursrc != NULL ? "source" : section;
	if ((k = key_lookup(secname, name)) < 0) {
		conf_err(lc, lc->line, "unknown key \"%s\" in [%s]", name,
		    secname);
		return 1;
	}
	if (keytab[k].flags & CF_UNBUILT) {
		conf_err(lc, lc->line, "%s: not supported by this version",
		    name);
		return 1;
	}
	v = lc->cursrc != NULL ? &lc->cursrc->v[k] : &c->v[k];
	if (v->set && !(keytab[k].flags & CF_REPEAT)) {
		conf_err(lc, lc->line, "duplicate key \"%s\" (first at "
		    "line %d)", name, v->line);
		return 1;
	}
	if (!(keytab[k].flags & CF_REPEAT))
		val_clear(v);
	v->set = 1;
	v->line = lc->line;
	if ((why = parse_value(c, k, value, v, &whyfree)) != NULL)
		conf_err(lc, lc->line, "%s = %s: %s", name, value, why);
	x_free(whyfree);
	return 1;
}

/*
 * inih's reader: hand it the next line of the file. A line that holds a
 * NUL byte or is too long is reported here and handed on as a blank
 * line, so that the lines after it are checked too.
 */
static char *
conf_ini_reader(char *str, int num, void *stream)
{
	struct loadctx *lc = stream;
	const char *p, *nl;
	char *sec;
	size_t n, len;

	if (lc->off >= lc->len)
		return NULL;
	p = lc->text + lc->off;
	nl = memchr(p, '\n', lc->len - lc->off);
	n = nl != NULL ? (size_t)(nl - p) : lc->len - lc->off;
	lc->off += n + (nl != NULL);
	lc->line++;
	if (lc->line == 1 && n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
		p += 3;		/* a UTF-8 byte order mark */
		n -= 3;
	}
	len = n > 0 && p[n - 1] == '\r' ? n - 1 : n;
	if (memchr(p, '\0', n) != NULL) {
		conf_err(lc, lc->line, "NUL byte in the line");
		n = 0;
	} else if (len > CONF_MAX_LINE) {
		conf_err(lc, lc->line, "line longer than %d bytes",
		    CONF_MAX_LINE);
		n = 0;
	}
	if (n + 2 > (size_t)num)	/* INI_MAX_LINE is checked above */
		td_fatal("conf: inih line buffer of %d bytes", num);
	memcpy(str, p, n);
	str[n] = '\n';
	str[n + 1] = '\0';
	/* Section headers are handled here: inih reports none without keys. */
	for (p = str; *p == ' ' || *p == '\t'; p++)
		;
	if (*p == '[' && (nl = strchr(p, ']')) != NULL) {
		sec = xstrndup(p + 1, (size_t)(nl - p - 1));
		begin_section(lc, sec);
		x_free(sec);
	}
	return str;
}

/*
 * Read the whole configuration into lc->text: a regular file of at most
 * CONF_MAX_FILE bytes. A directory, a device or a FIFO (/dev/zero would
 * never end) is refused before anything is read.
 */
static int
conf_read(struct loadctx *lc, const char *path)
{
	struct stat st;
	size_t cap = 0;
	ssize_t r;
	int fd, ret = TD_ERR_IO;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) < 0) {
		conf_err(lc, 0, "%s", strerror(errno));
		return TD_ERR_IO;
	}
	if (fstat(fd, &st) != 0) {
		conf_err(lc, 0, "%s", strerror(errno));
		goto out;
	}
	lc->st = st;
	ret = TD_ERR_FORMAT;
	if (S_ISDIR(st.st_mode)) {
		conf_err(lc, 0, "is a directory, not a configuration file");
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		conf_err(lc, 0, "not a regular file");
		goto out;
	}
	for (;;) {
		if (lc->len == cap) {
			if (cap > CONF_MAX_FILE) {
				conf_err(lc, 0, "larger than %d bytes (1 MiB), "
				    "too large for a configuration file",
				    CONF_MAX_FILE);
				goto out;
			}
			cap = cap == 0 ? 8192 : cap * 2;
			if (cap > CONF_MAX_FILE + 1)
				cap = CONF_MAX_FILE + 1;
			lc->text = xrealloc(lc->text, cap);
		}
		if ((r = read(fd, lc->text + lc->len, cap - lc->len)) < 0) {
			if (errno == EINTR)
				continue;
			conf_err(lc, 0, "%s", strerror(errno));
			ret = TD_ERR_IO;
			goto out;
		}
		if (r == 0)
			break;
		lc->len += (size_t)r;
	}
	ret = TD_OK;
 out:
	close(fd);
	return ret;
}

static void
apply_defaults(struct td_conf *c, struct confval *vals, const char *sec)
{
	int k;
	const char *why;
	char *whyfree;

	for (k = 0; k < TDK__COUNT; k++) {
		if (strcmp(keytab[k].section, sec) != 0 || vals[k].set ||
		    keytab[k].def == NULL)
			continue;
		if ((why = parse_value(c, k, keytab[k].def, &vals[k],
		    &whyfree)) != NULL)
			td_fatal("default of %s.%s: %s", sec, keytab[k].key,
			    why);
		/* A repeatable default would double on a later set. */
	}
}

/* Whether someone but the owner of st may write it (or into it). */
static int
others_write(const struct stat *st)
{
	if (S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX))
		return 0;	/* /tmp: nobody renames an entry of another */
	return (st->st_mode & (S_IWGRP | S_IWOTH)) != 0;
}

/* Whether root, this process's user or (by_user) `user` owns st. */
static int
trusted_owner(struct loadctx *lc, const struct stat *st, int by_user,
    int *is_user)
{
	const char *user = lc->c->v[TDK_integration_user].str;
	struct passwd *pw;

	*is_user = 0;
	if (st->st_uid == 0 || st->st_uid == geteuid())
		return 1;
	*is_user = user != NULL && (pw = getpwnam(user)) != NULL &&
	    pw->pw_uid == st->st_uid;
	return by_user && *is_user;
}

#define LINKS_MAX	40	/* as the kernel's */

/* One directory the walk passes through: 0, or -1 (said). */
static int
check_parent(struct loadctx *lc, int line, const char *what,
    const char *dir, const struct stat *st, int by_user)
{
	int is_user;

	if (others_write(st)) {
		conf_err(lc, line, "%sdirectory %s is writable by group or "
		    "others (mode %03o); refusing it (chmod go-w %s)", what,
		    dir, (unsigned)(st->st_mode & 07777), dir);
		return -1;
	}
	if (!trusted_owner(lc, st, by_user, &is_user)) {
		conf_err(lc, line, "%sdirectory %s is owned by uid %ju, which "
		    "is neither root nor the user tradedrop runs as; refusing "
		    "it (chown)", what, dir, (uintmax_t)st->st_uid);
		return -1;
	}
	return 0;
}

/*
 * Walk path from / as the kernel resolves it: whoever may write one of
 * the directories it passes through -- those holding a symbolic link
 * too -- can put their own file in its place, and so can whoever owns a
 * link on the way. Each directory must be owned as the file may be and
 * not writable by group or others (unless sticky, as /tmp), each link
 * owned so. Said once, for the first one bad; a path that cannot be
 * walked is refused.
 */
static void
check_parents(struct loadctx *lc, int line, const char *what,
    const char *path, int by_user)
{
	char cur[PATH_MAX], rest[2 * PATH_MAX], tmp[2 * PATH_MAX];
	char lnk[PATH_MAX], *p, *e, *slash;
	struct stat st;
	size_t n, cl;
	ssize_t ln;
	int links = 0, last, is_user;

	if (path[0] == '/')
		n = (size_t)snprintf(rest, sizeof(rest), "%s", path);
	else if (getcwd(cur, sizeof(cur)) != NULL)
		n = (size_t)snprintf(rest, sizeof(rest), "%s/%s", cur, path);
	else {
		conf_err(lc, line, "%sthe working directory: %s; refusing "
		    "it (name it by its absolute path)", what,
		    strerror(errno));
		return;
	}
	if (n >= PATH_MAX) {
		conf_err(lc, line, "%sits path is too long to check; "
		    "refusing it", what);
		return;
	}
	snprintf(cur, sizeof(cur), "/");
	if (stat(cur, &st) != 0 ||
	    check_parent(lc, line, what, cur, &st, by_user) != 0)
		return;
	for (p = rest;;) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			return;
		e = p + strcspn(p, "/");
		n = (size_t)(e - p);
		last = e[strspn(e, "/")] == '\0';
		if (n == 1 && p[0] == '.') {
			p = e;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if ((slash = strrchr(cur, '/')) != NULL)
				slash[slash == cur] = '\0';	/* "/" stays */
			p = e;
			continue;
		}
		if (strlen(cur) + 1 + n >= sizeof(cur)) {
			conf_err(lc, line, "%sits path is too long to check; "
			    "refusing it", what);
			return;
		}
		cl = strlen(cur);
		if (cl > 1)
			cur[cl++] = '/';
		memcpy(cur + cl, p, n);
		cur[cl + n] = '\0';
		p = e;
		if (lstat(cur, &st) != 0) {
			conf_err(lc, line, "%s%s: %s", what, cur,
			    strerror(errno));
			return;
		}
		if (S_ISLNK(st.st_mode)) {
			if (++links > LINKS_MAX) {
				conf_err(lc, line, "%stoo many symbolic links",
				    what);
				return;
			}
			if (!trusted_owner(lc, &st, by_user, &is_user)) {
				conf_err(lc, line, "%ssymbolic link %s is "
				    "owned by uid %ju, which is neither root "
				    "nor the user tradedrop runs as; refusing "
				    "it (chown -h)", what, cur,
				    (uintmax_t)st.st_uid);
				return;
			}
			if ((ln = readlink(cur, lnk, sizeof(lnk) - 1)) < 0) {
				conf_err(lc, line, "%s%s: %s", what, cur,
				    strerror(errno));
				return;
			}
			lnk[ln] = '\0';
			/* the link's directory, or / for an absolute one */
			if (lnk[0] == '/')
				snprintf(cur, sizeof(cur), "/");
			else if ((slash = strrchr(cur, '/')) != NULL)
				slash[slash == cur] = '\0';
			if ((size_t)snprintf(tmp, sizeof(tmp), "%s/%s", lnk,
			    p) >= sizeof(tmp)) {
				conf_err(lc, line, "%sits path is too long to "
				    "check; refusing it", what);
				return;
			}
			memcpy(rest, tmp, strlen(tmp) + 1);
			p = rest;
			continue;
		}
		if (last)
			return;		/* the file: its own check */
		if (!S_ISDIR(st.st_mode)) {
			conf_err(lc, line, "%s%s: %s", what, cur,
			    strerror(ENOTDIR));
			return;
		}
		if (check_parent(lc, line, what, cur, &st, by_user) != 0)
			return;
	}
}

/*
 * Only the owner of the file st describes may write it, and the owner is
 * root, the user this process runs as, or -- with by_user, for the
 * files the configuration names, never for the configuration itself,
 * where that user is read from -- the `user` it switches to: anyone
 * else who may write a key, password, token, known_hosts, CA or trusted
 * key file -- or the configuration file, which names them all -- can
 * put their own there. what prefixes the messages ("KEY FILE: ", or ""
 * for the configuration file, which each message names anyway).
 */
static void
check_writers(struct loadctx *lc, int line, const char *what,
    const char *path, const struct stat *st, const char *mode, int by_user)
{
	int is_user, bad = 0;

	if (others_write(st)) {
		conf_err(lc, line, "%swritable by group or others (mode %03o); "
		    "refusing it (chmod %s)", what,
		    (unsigned)(st->st_mode & 0777), mode);
		bad = 1;
	}
	if (!trusted_owner(lc, st, by_user, &is_user)) {
		conf_err(lc, line, "%sowned by uid %ju, which is neither root "
		    "nor the user tradedrop runs as%s; refusing it (chown)",
		    what, (uintmax_t)st->st_uid, is_user ? " (it is "
		    "[integration] user, which this file names: it cannot "
		    "vouch for itself)" : "");
		bad = 1;
	}
	if (!bad)
		check_parents(lc, line, what, path, by_user);
}

/* check_writers for the file of key, named by v */
static void
check_file_writers(struct loadctx *lc, const struct confval *v,
    const char *key, const struct stat *st, const char *mode)
{
	char *what = xasprintf("%s %s: ", key, v->str);

	check_writers(lc, v->line, what, v->str, st, mode, 1);
	x_free(what);
}

/* A secret file: a regular file nobody but its owner reads or writes. */
static void
check_secret_file(struct loadctx *lc, const struct confval *v,
    const char *key)
{
	struct stat st;

	if (v->str == NULL)
		return;
	if (stat(v->str, &st) != 0) {
		conf_err(lc, v->line, "%s %s: %s", key, v->str,
		    strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		conf_err(lc, v->line, "%s %s: not a regular file", key,
		    v->str);
		return;
	}
	if (st.st_mode & (S_IRGRP | S_IROTH)) {
		conf_err(lc, v->line, "%s %s: readable by group or others "
		    "(mode %03o); refusing it (chmod 600)", key, v->str,
		    (unsigned)(st.st_mode & 0777));
		st.st_mode &= ~(mode_t)(S_IWGRP | S_IWOTH);	/* said */
	}
	check_file_writers(lc, v, key, &st, "600");
}

/* A readable regular file, described in *st; 0, or -1 (error said). */
static int
readable_file(struct loadctx *lc, const struct confval *v, const char *key,
    struct stat *st)
{
	if (stat(v->str, st) != 0 || access(v->str, R_OK) != 0)
		conf_err(lc, v->line, "%s %s: %s", key, v->str,
		    strerror(errno));
	else if (!S_ISREG(st->st_mode))
		conf_err(lc, v->line, "%s %s: not a regular file", key,
		    v->str);
	else
		return 0;
	return -1;
}

static void
check_readable_file(struct loadctx *lc, const struct confval *v,
    const char *key)
{
	struct stat st;

	if (v->str != NULL)
		(void)readable_file(lc, v, key, &st);
}

/* What checks are made against: readable, and written by its owner only. */
static void
check_trust_file(struct loadctx *lc, const struct confval *v,
    const char *key)
{
	struct stat st;

	if (v->str != NULL && readable_file(lc, v, key, &st) == 0)
		check_file_writers(lc, v, key, &st, "644");
}

static void
missing(struct loadctx *lc, const char *sec, const char *key,
    const char *extra)
{
	int line = section_line(lc->c, sec);

	if (line > 0)
		conf_err(lc, line, "[%s]: missing required key \"%s\"%s",
		    sec, key, extra);
	else
		conf_err(lc, 0, "missing section [%s] (required key "
		    "\"%s\"%s)", sec, key, extra);
}

/*
 * The resolved form of path, for comparing directories: walked one
 * component at a time, each one that exists replaced by its realpath
 * (so symlinks and ".." cannot hide where it is), each one that does not
 * yet exist appended as text, as mkdir -p would create it. NULL when a
 * relative path cannot be resolved (the current directory is gone).
 */
static char *
conf_realpath(const char *path)
{
	char cwd[PATH_MAX];
	char *abs, *cur, *next, *rp, *slash;
	const char *t, *e;
	size_t n;

	if (*path == '/')
		abs = xstrdup(path);
	else if (getcwd(cwd, sizeof(cwd)) != NULL)
		abs = xasprintf("%s/%s", cwd, path);
	else
		return NULL;
	cur = xstrdup("");	/* the root */
	for (t = abs; *t != '\0'; t = e) {
		while (*t == '/')
			t++;
		e = t + strcspn(t, "/");
		n = (size_t)(e - t);
		if (n == 0 || (n == 1 && *t == '.'))
			continue;
		if (n == 2 && t[0] == '.' && t[1] == '.') {
			if ((slash = strrchr(cur, '/')) != NULL)
				*slash = '\0';
			continue;
		}
		next = xasprintf("%s/%.*s", cur, (int)n, t);
		x_free(cur);
		if ((rp = realpath(next, NULL)) != NULL) {
			cur = xstrdup(strcmp(rp, "/") == 0 ? "" : rp);
			free(rp);
			x_free(next);
		} else
			cur = next;	/* transferred */
	}
	next = xstrdup(*cur != '\0' ? cur : "/");
	x_free(cur);
	x_free(abs);
	return next;
}

/* Is a the directory b or inside it (both resolved)? */
static int
path_within(const char *a, const char *b)
{
	size_t n = strlen(b);

	if (strcmp(b, "/") == 0)
		return 1;
	return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

/* One of the three directories tradedrop keeps apart. */
struct confdir {
	const char	*key;		/* as named in messages */
	const char	*scheme;	/* "file://" for the output */
	const char	*path;		/* as configured */
	char		*real;		/* resolved */
	int		 line;
};

/*
 * d must not be o, hold it or lie inside it; when o is state_dir, d may
 * be o/allowed (its default, where the daemon keeps nothing of its own).
 */
static void
check_overlap(struct loadctx *lc, const struct confdir *d,
    const struct confdir *o, const char *allowed)
{
	const char *how;
	char *place, *shown, *why = NULL;

	if (strcmp(d->real, o->real) == 0)
		how = "is the same directory as";
	else if (path_within(o->real, d->real))
		how = "holds";
	else if (path_within(d->real, o->real)) {
		how = "lies inside";
		if (allowed != NULL) {
			place = xasprintf("%s/%s", strcmp(o->real, "/") != 0 ?
			    o->real : "", allowed);
			if (strcmp(d->real, place) == 0) {
				x_free(place);
				return;
			}
			x_free(place);
			why = xasprintf(", where only <state_dir>/%s may be",
			    allowed);
		}
	} else
		return;
	shown = strcmp(d->path, d->real) == 0 ? xasprintf("%s%s", d->scheme,
	    d->path) : xasprintf("%s%s (resolved: %s)", d->scheme, d->path,
	    d->real);
	conf_err(lc, d->line, "%s %s: %s %s %s%s", d->key, shown, how, o->key,
	    o->real, why != NULL ? why : "; the two must not overlap");
	x_free(shown);
	x_free(why);
}

/* An existing path that is not a directory cannot be one of them. */
static int
check_is_dir(struct loadctx *lc, const struct confdir *d)
{
	struct stat st;

	if (stat(d->path, &st) == 0 ? S_ISDIR(st.st_mode) : errno != ENOTDIR)
		return 0;
	conf_err(lc, d->line, "%s %s%s: not a directory", d->key, d->scheme,
	    d->path);
	return -1;
}

/*
 * state_dir, landing_dir and a file:// output directory: directories (or
 * not there yet), and apart. `once` once took state.db as a drop from a
 * landing_dir equal to state_dir.
 */
static void
check_dirs(struct loadctx *lc)
{
	struct td_conf *c = lc->c;
	const struct confval *sv = &c->v[TDK_integration_state_dir];
	const struct confval *lv = &c->v[TDK_integration_landing_dir];
	const struct confval *ov = &c->v[TDK_output_url];
	const char *url = td_conf_str(c, TDK_output_url);
	struct confdir d[3];
	size_t i, n = 0;
	int bad = 0;

	if (sv->str == NULL)
		return;
	d[n++] = (struct confdir){ "state_dir", "", sv->str, NULL, sv->line };
	if (check_is_dir(lc, &d[0]) != 0)
		return;		/* and so are the defaults below it */
	d[n++] = (struct confdir){ "landing_dir", "", td_conf_str(c,
	    TDK_integration_landing_dir), NULL, lv->set ? lv->line : sv->line };
	if (url != NULL && strncmp(url, "file://", 7) == 0)
		d[n++] = (struct confdir){ "url", "file://", url + 7, NULL,
		    ov->set ? ov->line : sv->line };
	for (i = 1; i < n; i++)
		bad |= check_is_dir(lc, &d[i]);
	if (bad)
		return;
	for (i = 0; i < n; i++)
		if ((d[i].real = conf_realpath(d[i].path)) == NULL) {
			conf_err(lc, d[i].line, "%s %s%s: cannot resolve it: %s",
			    d[i].key, d[i].scheme, d[i].path, strerror(errno));
			bad = 1;
		}
	if (bad)
		goto out;
	check_overlap(lc, &d[1], &d[0], "landing");
	if (n == 3) {
		check_overlap(lc, &d[2], &d[0], "out");
		if (ov->set || !lv->set)
			check_overlap(lc, &d[2], &d[1], NULL);
		else
			check_overlap(lc, &d[1], &d[2], NULL);
	}
 out:
	for (i = 0; i < n; i++)
		x_free(d[i].real);
}

/*
 * URLs are read with libcurl's URL API, the path kept as written (so a
 * ".." stays visible) and any scheme accepted (sftp needs no libssh2 in
 * libcurl).
 */
static CURLU *
url_parse(const char *u)
{
	CURLU *h;

	if ((h = curl_url()) == NULL)
		td_fatal("curl_url: out of memory");
	if (curl_url_set(h, CURLUPART_URL, u, CURLU_NON_SUPPORT_SCHEME |
	    CURLU_PATH_AS_IS) != CURLUE_OK) {
		curl_url_cleanup(h);
		return NULL;
	}
	return h;
}

/* One part of a parsed URL (allocated), or NULL when it has none. */
static char *
url_get(CURLU *h, CURLUPart part, unsigned int flags)
{
	char *p = NULL, *ret;

	if (curl_url_get(h, part, &p, flags) != CURLUE_OK)
		return NULL;
	ret = xstrdup(p);
	curl_free(p);
	return ret;
}

/* u with its password replaced by REDACTED, or NULL if u does not parse. */
static char *
url_redact(const char *u)
{
	CURLU *h;
	char *pw, *ret = NULL;

	if ((h = url_parse(u)) == NULL)
		return NULL;
	if ((pw = url_get(h, CURLUPART_PASSWORD, 0)) == NULL)
		ret = xstrdup(u);
	else if (curl_url_set(h, CURLUPART_PASSWORD, "REDACTED", 0) ==
	    CURLUE_OK)
		ret = url_get(h, CURLUPART_URL, 0);
	x_free(pw);
	curl_url_cleanup(h);
	return ret;
}

char *
td_conf_url_redact(const char *u)
{
	char *r = url_redact(u);

	return r != NULL ? r : xstrdup("REDACTED");
}

static int
url_host_ok(const char *h)
{
	size_t n = strlen(h);

	if (n > 2 && h[0] == '[' && h[n - 1] == ']')
		return strspn(h + 1, "0123456789abcdefABCDEF:.") == n - 2;
	return n > 0 && *h != '-' && *h != '.' && strspn(h,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
	    == n;
}

static int
url_has_dot_segment(const char *path)
{
	const char *p;
	size_t n;

	for (p = path; *p != '\0'; p += n) {
		p += *p == '/';
		n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return 1;
	}
	return 0;
}

/*
 * [source] url: sftp://USER@HOST[:PORT]/PATH with no password, a user,
 * no "." or ".." segment (written or %-encoded), nothing after the path,
 * in the form libcurl itself writes it; at least as strict as the SFTP
 * stage's own reading, so that check passes nothing --connect refuses.
 */
static void
check_source_url(struct loadctx *lc, const struct confval *v)
{
	enum { U_USER, U_HOST, U_ZONE, U_PORT, U_QUERY, U_FRAG, U_PATH,
	    U_DPATH, U_URL, U__N };
	static const CURLUPart parts[U__N] = { CURLUPART_USER,
	    CURLUPART_HOST, CURLUPART_ZONEID, CURLUPART_PORT, CURLUPART_QUERY,
	    CURLUPART_FRAGMENT, CURLUPART_PATH, CURLUPART_PATH, CURLUPART_URL };
	const char *u = v->str, *why = NULL;
	char *p[U__N], *pw;
	uint64_t port;
	CURLU *h;
	size_t i;

	if (u == NULL)
		return;
	if ((h = url_parse(u)) == NULL) {
		conf_err(lc, v->line, "url: not a URL (libcurl cannot read it); "
		    "expected sftp://USER@HOST[:PORT]/PATH");
		return;
	}
	if ((pw = url_get(h, CURLUPART_PASSWORD, 0)) != NULL) {
		/* never echoed: the line number says which */
		conf_err(lc, v->line, "url: a password in the URL is refused; "
		    "put it in password_file");
		x_free(pw);
		curl_url_cleanup(h);
		return;
	}
	for (i = 0; i < U__N; i++)
		p[i] = url_get(h, parts[i], i == U_DPATH ? CURLU_URLDECODE : 0);
	if (strncmp(u, "sftp://", 7) != 0)
		why = "must start with sftp://";
	else if (p[U_USER] == NULL || *p[U_USER] == '\0')
		why = "needs USER@ before the host";
	else if (strspn(p[U_USER], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
	    "OPQRSTUVWXYZ0123456789._-") != strlen(p[U_USER]))
		why = "user must be letters, digits, . _ -";
	else if (p[U_HOST] == NULL || p[U_ZONE] != NULL ||
	    !url_host_ok(p[U_HOST]))
		why = "host must be a name, an IPv4 address or an [IPv6] "
		    "address";
	else if (p[U_PORT] != NULL && td_parse_u64(p[U_PORT],
	    strlen(p[U_PORT]), 1, 65535, &port) != 0)
		why = "port must be 1-65535";
	else if (p[U_QUERY] != NULL || p[U_FRAG] != NULL)
		why = "has a ?query or #fragment";
	else if (strchr(u + 7, '/') == NULL || p[U_PATH] == NULL)
		why = "needs an absolute /PATH after the host";
	else if (p[U_DPATH] == NULL)
		why = "path has a bad %-escape";
	else if (url_has_dot_segment(p[U_PATH]) ||
	    url_has_dot_segment(p[U_DPATH]))
		why = "path has a . or .. segment";
	if (why != NULL)
		conf_err(lc, v->line, "url = %s: %s", u, why);
	else if (p[U_URL] == NULL || strcmp(p[U_URL], u) != 0)
		conf_err(lc, v->line, "url = %s: libcurl reads it as %s; write "
		    "it that way", u, p[U_URL] != NULL ? p[U_URL] : "nothing");
	for (i = 0; i < U__N; i++)
		x_free(p[i]);
	curl_url_cleanup(h);
}

/* [output] url: https://HOST[:PORT][/PATH] or file:///DIR. */
static void
check_output_url(struct loadctx *lc, const struct confval *v)
{
	const char *u = v->str, *why = NULL;
	char *q = NULL, *f = NULL, *shown;
	CURLU *h = NULL;

	if (u == NULL)
		return;
	if (strncmp(u, "https://", 8) != 0 && strncmp(u, "file:///", 8) != 0)
		why = "must be https://HOST/PATH or file:///DIR";
	else if ((h = url_parse(u)) == NULL)
		why = "not a URL (libcurl cannot read it)";
	else if (u[4] == 's' && (u[8] == '/' || u[8] == '\0'))
		why = "needs a host after https://";
	else if ((q = url_get(h, CURLUPART_QUERY, 0)) != NULL ||
	    (f = url_get(h, CURLUPART_FRAGMENT, 0)) != NULL)
		why = "has a ?query or #fragment";
	if (why != NULL && (shown = url_redact(u)) != NULL) {
		conf_err(lc, v->line, "url = %s: %s", shown, why);
		x_free(shown);
	} else if (why != NULL)
		conf_err(lc, v->line, "url: %s", why);
	x_free(q);
	x_free(f);
	curl_url_cleanup(h);
}

static const char *canonical_fields[] = {
	"store_id", "retailer_item_id", "gtin", "txn_date", "txn_time",
	"txn_ref", "period_start", "quantity", "uom", "amount", "currency",
	"promo_code", "promo_id", "promo_type",
};

/*
 * What a field delivers is what its last typed transform (date,
 * datetime, decimal, gtin, crosswalk) wrote. For a field that has kind a
 * (or b) that must be the last: amount = ... decimal crosswalk delivered
 * a GTIN while the totals counted the amount decimal read, gtin = ...
 * gtin decimal a GTIN without its leading zeros. Typed transforms before
 * it only prepare the text it reads (gtin = ... decimal crosswalk).
 */
static void
map_typed_last(struct loadctx *lc, int k, int a, int b, const char *what)
{
	const struct mapexpr *mx = lc->c->v[k].map;
	int last, i;

	if (mx == NULL || (last = mapexpr_last_typed(mx)) == a ||
	    (b >= 0 && last == b))
		return;
	for (i = (int)mx->nxf - 1; i >= 0; i--)
		if (mx->xf[i].kind == a || (b >= 0 && mx->xf[i].kind == b))
			break;
	if (i < 0)
		return;		/* none of them: said elsewhere, or allowed */
	conf_err(lc, lc->c->v[k].line, "%s: %s after %s: the value "
	    "delivered would not be %s; end with %s%s%s", keytab[k].key,
	    mapexpr_xf_name(last), mapexpr_xf_name(mx->xf[i].kind), what,
	    mapexpr_xf_name(a), b >= 0 ? " or " : "",
	    b >= 0 ? mapexpr_xf_name(b) : "");
}

/* Where date, datetime and the date-time fields may be used. */
static void
map_times(struct loadctx *lc)
{
	struct td_conf *c = lc->c;
	const struct mapexpr *mx;
	const struct mx_xform *xf;
	int k, dt_date = 0;
	size_t i;

	for (k = TDK_map_store_id; k <= TDK_map_txn_ref; k++) {
		if ((mx = c->v[k].map) == NULL)
			continue;
		for (i = 0; i < mx->nxf; i++) {
			xf = &mx->xf[i];
			if (xf->kind == MX_XF_DATETIME && k != TDK_map_txn_date &&
			    k != TDK_map_txn_time)
				conf_err(lc, c->v[k].line, "%s: datetime "
				    "fills only txn_date and txn_time; use "
				    "date for a day", keytab[k].key);
			else if (xf->kind == MX_XF_DATETIME &&
			    k == TDK_map_txn_date && xf->arg != NULL &&
			    td_datetime_fmt_check(xf->arg, TD_DT_TIME) != 0)
				conf_err(lc, c->v[k].line, "txn_date: the "
				    "datetime format has no date; use it on "
				    "txn_time");
			else if (xf->kind == MX_XF_DATETIME &&
			    k == TDK_map_txn_date)
				dt_date = 1;
			else if (xf->kind == MX_XF_DATE &&
			    k == TDK_map_txn_time)
				conf_err(lc, c->v[k].line, "txn_time: date "
				    "reads no time; use datetime");
		}
	}
	mx = c->v[TDK_map_txn_date].map;
	if (mx != NULL && mx->src != MX_SRC_CONST &&
	    mapexpr_find(mx, MX_XF_DATE) < 0 &&
	    mapexpr_find(mx, MX_XF_DATETIME) < 0)
		conf_err(lc, c->v[TDK_map_txn_date].line, "txn_date needs the "
		    "date \"FORMAT\" or the datetime transform");
	map_typed_last(lc, TDK_map_txn_date, MX_XF_DATE, MX_XF_DATETIME,
	    "the date checked");
	map_typed_last(lc, TDK_map_txn_time, MX_XF_DATETIME, -1, "the time checked");
	if (dt_date && c->v[TDK_map_txn_time].map != NULL)
		conf_err(lc, c->v[TDK_map_txn_time].line, "txn_time is mapped, "
		    "and the datetime of txn_date fills it too: keep one");
}

/*
 * An X12 interchange id or qualifier (x12_id, x12_qualifier): min to max
 * characters of printable ASCII, none of them a delimiter of the 997s we
 * write (* ~ > ^), no leading blank.
 */
static void
check_isa_id(struct loadctx *lc, const struct confval *v, const char *key,
    size_t min, size_t max)
{
	/* the two ISA fields: 2 (a qualifier) or 1 to 15 (an id) */
	const char *s = v->str;
	size_t n, i;

	if (!v->set || s == NULL)
		return;
	n = strlen(s);
	for (i = 0; i < n; i++)
		if (s[i] < ' ' || s[i] > '~' || strchr("*~>^", s[i]) != NULL)
			break;
	if (n < min || n > max || i < n || s[0] == ' ')
		conf_err(lc, v->line, "%s must be %s printable characters, "
		    "none of * ~ > ^ (it goes into the ISA of every 997 "
		    "sent)", key, min == max ? "2" : "1 to 15");
}

static void
validate(struct loadctx *lc)
{
	struct td_conf *c = lc->c;
	struct confval *sv;
	size_t i, j;
	int k, found, x12;
	const char *u;

	/* the configuration file names the secrets and what to trust */
	check_writers(lc, 0, "", lc->c->path, &lc->st, "644", 0);
	for (k = 0; k < TDK__COUNT; k++) {
		if (strcmp(keytab[k].section, "source") == 0)
			continue;
		if ((keytab[k].flags & CF_REQUIRED) && !c->v[k].set)
			missing(lc, keytab[k].section, keytab[k].key, "");
		if (keytab[k].flags & CF_SECRETFILE)
			check_secret_file(lc, &c->v[k], keytab[k].key);
	}
	for (i = 0; i < c->nsrc; i++) {
		sv = c->src[i].v;
		u = sv[TDK_source_ack_dir].str;
		if (u != NULL && (u[0] != '/' || strstr(u, "/../") != NULL ||
		    (strlen(u) >= 3 && strcmp(u + strlen(u) - 3, "/..") == 0)))
			conf_err(lc, sv[TDK_source_ack_dir].line, "ack_dir "
			    "must be an absolute remote directory, "
			    "/remote/dir, without ..");
		for (k = 0; k < TDK__COUNT; k++) {
			if (strcmp(keytab[k].section, "source") != 0)
				continue;
			if ((keytab[k].flags & CF_REQUIRED) && !sv[k].set)
				conf_err(lc, c->src[i].line, "source \"%s\": "
				    "missing required key \"%s\"",
				    c->src[i].name, keytab[k].key);
			if (keytab[k].flags & CF_SECRETFILE)
				check_secret_file(lc, &sv[k], keytab[k].key);
		}
		check_trust_file(lc, &sv[TDK_source_known_hosts],
		    "known_hosts");
		check_source_url(lc, &sv[TDK_source_url]);
		if (!sv[TDK_source_identity].set &&
		    !sv[TDK_source_password_file].set)
			conf_err(lc, c->src[i].line, "source \"%s\": needs "
			    "identity or password_file", c->src[i].name);
		u = sv[TDK_source_after].str;
		if (u != NULL && strcmp(u, "keep") != 0 &&
		    strcmp(u, "delete") != 0 &&
		    (strncmp(u, "move:", 5) != 0 || u[5] != '/'))
			conf_err(lc, sv[TDK_source_after].line, "after must "
			    "be keep, delete or move:/remote/dir");
	}
	for (i = 0; i < c->v[TDK_verify_trusted_key_file].nlist; i++) {
		struct confval tmp = c->v[TDK_verify_trusted_key_file];

		tmp.str = tmp.list[i];
		check_trust_file(lc, &tmp, "trusted_key_file");
	}
	check_isa_id(lc, &c->v[TDK_integration_x12_id], "x12_id", 1, 15);
	check_isa_id(lc, &c->v[TDK_integration_x12_qualifier],
	    "x12_qualifier", 2, 2);
	check_trust_file(lc, &c->v[TDK_map_crosswalk_file],
	    "crosswalk_file");
	check_trust_file(lc, &c->v[TDK_map_promo_file], "promo_file");
	check_trust_file(lc, &c->v[TDK_output_ca_file], "ca_file");
	check_readable_file(lc, &c->v[TDK_output_client_cert], "client_cert");
	if (c->v[TDK_output_client_cert].set !=
	    c->v[TDK_output_client_key].set)
		conf_err(lc, c->v[TDK_output_client_cert].set ?
		    c->v[TDK_output_client_cert].line :
		    c->v[TDK_output_client_key].line,
		    "client_cert and client_key go together");

	check_output_url(lc, &c->v[TDK_output_url]);
	check_dirs(lc);

	x12 = td_conf_enum_is(c, TDK_parse_format, "x12");
	for (k = TDK_map_store_id; k <= TDK_map_txn_ref; k++) {
		if (x12 && c->v[k].set)
			conf_err(lc, c->v[k].line, "%s: with format = x12 the "
			    "mapping is built in; [map] only takes "
			    "crosswalk_file, promo_file, key and "
			    "negative_quantity", keytab[k].key);
	}
	if (!x12) {
		static const int req[] = { TDK_map_store_id, TDK_map_txn_date,
		    TDK_map_quantity };

		for (i = 0; i < TD_NELEM(req); i++)
			if (!c->v[req[i]].set)
				missing(lc, "map", keytab[req[i]].key,
				    " (format = csv)");
		if (!c->v[TDK_map_gtin].set && !c->v[TDK_map_crosswalk_file].set)
			missing(lc, "map", "gtin", " (or crosswalk_file to "
			    "derive it)");
		if (!c->v[TDK_map_gtin].set && c->v[TDK_map_crosswalk_file].set &&
		    !c->v[TDK_map_retailer_item_id].set)
			missing(lc, "map", "retailer_item_id", " (the "
			    "crosswalk_file looks the gtin up by it)");
		for (k = TDK_map_store_id; k <= TDK_map_txn_ref; k++)
			if (c->v[k].map != NULL && !c->v[TDK_map_crosswalk_file].set &&
			    mapexpr_find(c->v[k].map, MX_XF_CROSSWALK) >= 0)
				conf_err(lc, c->v[k].line, "%s: the crosswalk "
				    "transform needs crosswalk_file",
				    keytab[k].key);
		if (c->v[TDK_map_gtin].map != NULL &&
		    mapexpr_find(c->v[TDK_map_gtin].map, MX_XF_GTIN) < 0 &&
		    mapexpr_find(c->v[TDK_map_gtin].map, MX_XF_CROSSWALK) < 0)
			conf_err(lc, c->v[TDK_map_gtin].line, "gtin needs "
			    "the gtin (or crosswalk) transform");
		map_typed_last(lc, TDK_map_gtin, MX_XF_GTIN, MX_XF_CROSSWALK,
		    "the GTIN checked");
		map_times(lc);
		for (k = TDK_map_quantity; k <= TDK_map_amount;
		    k += TDK_map_amount - TDK_map_quantity) {
			if (c->v[k].map != NULL &&
			    mapexpr_find(c->v[k].map, MX_XF_DECIMAL) < 0)
				conf_err(lc, c->v[k].line, "%s needs the "
				    "decimal transform", keytab[k].key);
			map_typed_last(lc, k, MX_XF_DECIMAL, -1, "the number "
			    "decimal read, which the totals count");
		}
		if (!td_conf_u64(c, TDK_parse_header)) {
			for (k = TDK_map_store_id; k <= TDK_map_txn_ref; k++)
				if (c->v[k].map != NULL && c->v[k].map->src ==
				    MX_SRC_COLUMN_NAME)
					conf_err(lc, c->v[k].line, "%s: "
					    "column \"NAME\" needs header = "
					    "yes; use column N",
					    keytab[k].key);
		}
	}
	/*
	 * The default key: promo_id says nothing without a promo_file, the
	 * code as sent does. Settled here, so that check --dump, the
	 * mapping's text (mapping_version) and the mapper all see the key
	 * in use: the dump's line, written in the file, changes nothing.
	 */
	if (!c->v[TDK_map_key].set && !c->v[TDK_map_promo_file].set)
		for (i = 0; i < c->v[TDK_map_key].nlist; i++)
			if (strcmp(c->v[TDK_map_key].list[i], "promo_id") == 0) {
				x_free(c->v[TDK_map_key].list[i]);
				c->v[TDK_map_key].list[i] = xstrdup("promo_code");
			}
	for (i = 0; i < c->v[TDK_map_key].nlist; i++) {
		found = 0;
		for (j = 0; j < TD_NELEM(canonical_fields); j++)
			if (strcmp(c->v[TDK_map_key].list[i],
			    canonical_fields[j]) == 0)
				found = 1;
		if (!found)
			conf_err(lc, c->v[TDK_map_key].line, "key: \"%s\" is "
			    "not a record field", c->v[TDK_map_key].list[i]);
	}
	if (c->v[TDK_calendar_year_start].set &&
	    td_conf_enum_is(c, TDK_calendar_type, "gregorian"))
		conf_err(lc, c->v[TDK_calendar_year_start].line, "year_start "
		    "needs a retail calendar: type = 445, 454 or 544");
	if (c->v[TDK_calendar_year_start].set &&
	    strcmp(c->v[TDK_calendar_year_start].str + 4, "-02-29") == 0)
		conf_err(lc, c->v[TDK_calendar_year_start].line, "year_start: "
		    "29 February has no day in most years");
	if (!td_conf_enum_is(c, TDK_verify_signature, "off") &&
	    c->v[TDK_verify_trusted_key].nlist == 0 &&
	    c->v[TDK_verify_trusted_key_file].nlist == 0)
		conf_err(lc, c->v[TDK_verify_signature].line, "signature = %s "
		    "needs trusted_key or trusted_key_file",
		    td_conf_str(c, TDK_verify_signature));
}

int
td_conf_load(const char *path, struct td_conf **out, char **errs)
{
	struct loadctx lc;
	struct td_conf *c;
	char *tmp;
	size_t i;
	int r, ret = TD_ERR_FORMAT;

	*out = NULL;
	*errs = NULL;
	memset(&lc, 0, sizeof(lc));
	c = lc.c = xcalloc(1, sizeof(*c));
	c->path = xstrdup(path);
	tmp = xstrdup(path);
	c->dir = xstrdup(dirname(tmp));
	x_free(tmp);
	if (c->dir[0] != '/') {
		/*
		 * Absolute: `run` leaves the working directory (daemon(3)
		 * goes to /), and what the file names relative to itself
		 * must stay where it was when it was checked.
		 */
		char cwd[PATH_MAX];

		if (getcwd(cwd, sizeof(cwd)) != NULL) {
			tmp = c->dir;
			c->dir = strcmp(tmp, ".") == 0 ? xstrdup(cwd) :
			    xasprintf("%s/%s", cwd, tmp);
			x_free(tmp);
		}
	}
	td_buf_init(&lc.errs, 256, 0);

	if ((ret = conf_read(&lc, path)) != TD_OK)
		goto out;
	ret = TD_ERR_FORMAT;
	r = ini_parse_stream(conf_ini_reader, &lc, conf_ini_handler, &lc);
	if (r > 0)
		conf_err(&lc, r, "syntax error (expected [section] or "
		    "key = value)");
	else if (r < 0)
		conf_err(&lc, 0, "cannot read");
	if (lc.nerr == 0) {
		apply_defaults(c, c->v, "integration");
#define TD_X(sec) if (strcmp(#sec, "source") != 0) apply_defaults(c, c->v, #sec);
		TD_CONF_SECTIONS(TD_X)
#undef TD_X
		for (i = 0; i < c->nsrc; i++)
			apply_defaults(c, c->src[i].v, "source");
		if (c->v[TDK_integration_state_dir].str != NULL) {
			c->landing_default = xasprintf("%s/landing",
			    c->v[TDK_integration_state_dir].str);
			c->output_default = xasprintf("file://%s/out",
			    c->v[TDK_integration_state_dir].str);
		}
		validate(&lc);
	}
	if (lc.nerr > 0)
		goto out;
	*out = c;	/* transferred */
	c = NULL;
	ret = TD_OK;
 out:
	x_free(lc.text);
	x_free(lc.cursec);
	if (lc.errs.len > 0)
		*errs = xstrdup(td_buf_cstr(&lc.errs));
	td_buf_free(&lc.errs);
	td_conf_free(c);
	return ret;
}

void
td_conf_free(struct td_conf *c)
{
	size_t i;
	int k;

	if (c == NULL)
		return;
	for (k = 0; k < TDK__COUNT; k++)
		val_clear(&c->v[k]);
	for (i = 0; i < c->nsrc; i++) {
		for (k = 0; k < TDK__COUNT; k++)
			val_clear(&c->src[i].v[k]);
		x_free(c->src[i].name);
	}
	x_free(c->src);
	x_free(c->landing_default);
	x_free(c->output_default);
	x_free(c->seclines);
	x_free(c->path);
	x_free(c->dir);
	x_free(c);
}

const char *
td_conf_path(const struct td_conf *c)
{
	return c->path;
}

char *
td_conf_abspath(const struct td_conf *c)
{
	const char *base = strrchr(c->path, '/');

	if (c->path[0] == '/' || c->dir == NULL)
		return xstrdup(c->path);
	return resolve_path(c, base != NULL ? base + 1 : c->path);
}

const char *
td_conf_str(const struct td_conf *c, int k)
{
	if (k == TDK_integration_landing_dir && c->v[k].str == NULL)
		return c->landing_default;
	if (k == TDK_output_url && c->v[k].str == NULL)
		return c->output_default;
	return c->v[k].str;
}

uint64_t
td_conf_u64(const struct td_conf *c, int k)
{
	return c->v[k].u;
}

int
td_conf_isset(const struct td_conf *c, int k)
{
	return c->v[k].set;
}

char * const *
td_conf_list(const struct td_conf *c, int k, size_t *n)
{
	*n = c->v[k].nlist;
	return c->v[k].list;
}

const struct mapexpr *
td_conf_map(const struct td_conf *c, int k)
{
	return c->v[k].map;
}

int
td_conf_enum_is(const struct td_conf *c, int k, const char *val)
{
	return c->v[k].str != NULL && strcmp(c->v[k].str, val) == 0;
}

size_t
td_conf_nsources(const struct td_conf *c)
{
	return c->nsrc;
}

const char *
td_conf_source_name(const struct td_conf *c, size_t i)
{
	return c->src[i].name;
}

const char *
td_conf_src_str(const struct td_conf *c, size_t i, int k)
{
	return c->src[i].v[k].str;
}

uint64_t
td_conf_src_u64(const struct td_conf *c, size_t i, int k)
{
	return c->src[i].v[k].u;
}

char * const *
td_conf_src_list(const struct td_conf *c, size_t i, int k, size_t *n)
{
	*n = c->src[i].v[k].nlist;
	return c->src[i].v[k].list;
}

static void
dump_vals(const struct td_conf *c, const struct confval *vals,
    const char *sec, FILE *f)
{
	const struct confval *v;
	const char *s;
	char *canon;
	size_t i;
	int k;

	for (k = 0; k < TDK__COUNT; k++) {
		if (strcmp(keytab[k].section, sec) != 0)
			continue;
		v = &vals[k];
		if (keytab[k].flags & CF_REPEAT) {
			if (v->nlist == 0)
				fprintf(f, "# %s =\n", keytab[k].key);
			for (i = 0; i < v->nlist; i++)
				fprintf(f, "%s = %s\n", keytab[k].key,
				    v->list[i]);
			continue;
		}
		s = vals == c->v ? td_conf_str(c, k) : v->str;
		if (keytab[k].flags & CF_UNBUILT) {
			fprintf(f, "# %s =%s%s ; not supported by this "
			    "version\n", keytab[k].key, s != NULL ? " " : "",
			    s != NULL ? s : "");
			continue;
		}
		if (s == NULL) {
			fprintf(f, "# %s =\n", keytab[k].key);
			continue;
		}
		fprintf(f, "%s = ", keytab[k].key);
		if (keytab[k].type == CT_MAP) {
			canon = mapexpr_canon(v->map);
			fputs(canon, f);
			x_free(canon);
		} else if (keytab[k].type == CT_LIST) {
			for (i = 0; i < v->nlist; i++)
				fprintf(f, "%s%s", i ? ", " : "", v->list[i]);
		} else if (keytab[k].type == CT_BYTE && v->u == '\t') {
			fputs("\\t", f);
		} else if (keytab[k].type == CT_BYTE && v->u == ';') {
			fputs("semicolon", f);
		} else if (keytab[k].flags & CF_URL) {
			canon = td_conf_url_redact(s);
			fputs(canon, f);
			x_free(canon);
		} else
			fputs(s, f);
		fputc('\n', f);
	}
}

void
td_conf_dump(const struct td_conf *c, FILE *f)
{
	size_t i;
	int first = 1;

	fprintf(f, "# effective configuration of %s\n", c->path);
#define TD_X(sec)							\
	if (strcmp(#sec, "source") == 0) {				\
		for (i = 0; i < c->nsrc; i++) {				\
			fprintf(f, "\n[source \"%s\"]\n", c->src[i].name); \
			dump_vals(c, c->src[i].v, "source", f);		\
		}							\
	} else {							\
		fprintf(f, "%s[%s]\n", first ? "" : "\n", #sec);	\
		dump_vals(c, c->v, #sec, f);				\
	}								\
	first = 0;
	TD_CONF_SECTIONS(TD_X)
#undef TD_X
}

char *
td_conf_mapping_text(const struct td_conf *c)
{
	struct td_buf b;
	char *canon, *ret;
	size_t i;
	int k;

	td_buf_init(&b, 512, 0);
	for (k = 0; k < TDK__COUNT; k++) {
		if (strcmp(keytab[k].section, "map") != 0 &&
		    strcmp(keytab[k].section, "calendar") != 0 &&
		    k != TDK_parse_format && k != TDK_integration_currency)
			continue;
		if (k == TDK_map_crosswalk_file || k == TDK_map_promo_file)
			continue;	/* their contents are hashed instead */
		td_buf_printf(&b, "%s.%s=", keytab[k].section, keytab[k].key);
		if (c->v[k].map != NULL) {
			canon = mapexpr_canon(c->v[k].map);
			td_buf_puts(&b, canon);
			x_free(canon);
		} else if (keytab[k].type == CT_LIST) {
			for (i = 0; i < c->v[k].nlist; i++)
				td_buf_printf(&b, "%s%s", i ? "," : "",
				    c->v[k].list[i]);
		} else if (c->v[k].str != NULL)
			td_buf_puts(&b, c->v[k].str);
		td_buf_putc(&b, '\n');
	}
	ret = xstrdup(td_buf_cstr(&b));
	td_buf_free(&b);
	return ret;
}
