/*
 * conf.h - tradedrop configuration: load, validate, query, dump.
 * Every key is declared once in conf-table.h.
 */
#ifndef TD_CONF_H
#define TD_CONF_H

#include <stdint.h>
#include <stdio.h>

#include "conf-table.h"

struct mapexpr;

enum td_conf_key {
#define TD_X(s, k, ...) TDK_##s##_##k,
	TD_CONF_KEYS(TD_X)
#undef TD_X
	TDK__COUNT
};

enum td_conf_type {
	CT_STRING, CT_PATH, CT_BOOL, CT_ENUM, CT_INT, CT_DURATION, CT_SIZE,
	CT_RATIO, CT_LIST, CT_BYTE, CT_MAP, CT_DATE, CT_CURRENCY, CT_NAME
};

#define CF_REQUIRED	0x01
#define CF_REPEAT	0x02
#define CF_SECRETFILE	0x04
#define CF_URL		0x08
#define CF_UNBUILT	0x10	/* not acted on by this version: refused */

struct td_conf_keyinfo {
	const char	*section;
	const char	*key;
	int		 type;
	const char	*def;
	uint64_t	 min, max;
	const char	*enumvals;
	unsigned	 flags;
	const char	*help;
};

struct td_conf;

/* The table, for documentation and tests. */
const struct td_conf_keyinfo *td_conf_keyinfo(int key);

/*
 * Load and validate path. On failure returns TD_ERR_FORMAT and *errs
 * holds every "FILE:LINE: message" line, newline-separated (caller frees).
 */
int	 td_conf_load(const char *path, struct td_conf **out, char **errs);
void	 td_conf_free(struct td_conf *);
/* Print the effective configuration, secrets redacted. */
void	 td_conf_dump(const struct td_conf *, FILE *);
/*
 * The URL with the password of its userinfo replaced by REDACTED (with
 * libcurl's URL API); as given when it has none, and just "REDACTED"
 * when it does not parse. Allocated.
 */
char	*td_conf_url_redact(const char *url);

const char *td_conf_path(const struct td_conf *);
/* The file's path made absolute as it was when loaded (to free). */
char	*td_conf_abspath(const struct td_conf *);
/* Effective values of the global (non-source) keys. */
const char *td_conf_str(const struct td_conf *, int key);	/* NULL if unset */
uint64_t td_conf_u64(const struct td_conf *, int key);		/* numbers; bool 0/1; enum index; ratio in ppm; byte */
int	 td_conf_isset(const struct td_conf *, int key);	/* set in the file */
char * const *td_conf_list(const struct td_conf *, int key, size_t *n);
const struct mapexpr *td_conf_map(const struct td_conf *, int key);
int	 td_conf_enum_is(const struct td_conf *, int key, const char *val);

/* [source "NAME"] sections. */
size_t	 td_conf_nsources(const struct td_conf *);
const char *td_conf_source_name(const struct td_conf *, size_t i);
const char *td_conf_src_str(const struct td_conf *, size_t i, int key);
uint64_t td_conf_src_u64(const struct td_conf *, size_t i, int key);
char * const *td_conf_src_list(const struct td_conf *, size_t i, int key, size_t *n);

/* Canonical text of [map] and [calendar] values (for mapping_version). */
char	*td_conf_mapping_text(const struct td_conf *);

#endif
