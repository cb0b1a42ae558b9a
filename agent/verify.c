/*
 * verify.c - checksum sidecars and minisign signatures (see verify.h).
 *
 * Every input here comes from a trading partner, so parsing is strict
 * and bounded: fixed-size buffers, lengths rather than NUL termination,
 * no allocation but for the index of a checksum file (verify_sums_*,
 * in proportion to the file, which the caller bounds), and any
 * deviation from the formats below is TD_ERR_FORMAT, never a crash.
 *
 * Checksum files, one entry a line (LF or CRLF; blank lines and lines
 * starting with '#' are ignored):
 *	HEX  NAME		GNU text mode
 *	HEX *NAME		GNU binary mode
 *	HEX			bare digest, only entry of the file
 *	SHA256 (NAME) = HEX	BSD / --tag (also SHA512)
 * A leading '\' marks a GNU-escaped name (\\, \n, \r). HEX is 64 (SHA-256)
 * or 128 (SHA-512) hex digits in either case.
 *
 * minisign (format of minisign 0.11):
 *	public key	"Ed" keyid[8] pk[32], base64 on one line, optionally
 *			after an "untrusted comment: " line
 *	signature	"untrusted comment: ..." line
 *			base64 of alg[2] ("Ed" or "ED") keyid[8] sig[64]
 *			"trusted comment: ..." line
 *			base64 of global_sig[64] = Ed25519(sig || comment)
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "td.h"
#include "buf.h"
#include "hash.h"
#include "verify.h"

#define VFY_NAMEMAX		4096	/* a checksum entry's file name */
#define VFY_COMMENTMAX		8191	/* comment text after its prefix */

#define MS_UNTRUSTED		"untrusted comment: "
#define MS_TRUSTED		"trusted comment: "
#define MS_PK_BYTES		(2 + 8 + 32)
#define MS_PK_B64		56
#define MS_SIG_BYTES		(2 + 8 + 64)
#define MS_SIG_B64		100
#define MS_GSIG_B64		88

/* ---- lines ------------------------------------------------------- */

struct vfy_lines {
	const char	*p, *end;
};

/*
 * Next line without its LF and one CR before it. Returns 0 at the end
 * of the text, 1 with *l and *n set otherwise.
 */
static int
vfy_next_line(struct vfy_lines *c, const char **l, size_t *n)
{
	const char *nl;

	if (c->p >= c->end)
		return 0;
	*l = c->p;
	if ((nl = memchr(c->p, '\n', (size_t)(c->end - c->p))) == NULL) {
		*n = (size_t)(c->end - c->p);
		c->p = c->end;
	} else {
		*n = (size_t)(nl - c->p);
		c->p = nl + 1;
	}
	if (*n > 0 && (*l)[*n - 1] == '\r')
		(*n)--;
	return 1;
}

/* The rest of the text is nothing but line ends. */
static int
vfy_only_line_ends(const struct vfy_lines *c)
{
	const char *q;

	for (q = c->p; q < c->end; q++)
		if (*q != '\n' && *q != '\r')
			return 0;
	return 1;
}

static int
vfy_has_prefix(const char *l, size_t n, const char *pfx)
{
	size_t pl = strlen(pfx);

	return n >= pl && memcmp(l, pfx, pl) == 0;
}

/* Strict base64 (padded, standard alphabet) of exactly want bytes. */
static int
vfy_b64(const char *l, size_t n, size_t b64len, uint8_t *out, size_t want)
{
	size_t got = 0;

	if (n != b64len)
		return TD_ERR_FORMAT;
	if (sodium_base642bin(out, want, l, n, NULL, &got, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || got != want)
		return TD_ERR_FORMAT;
	return 0;
}

/* ---- checksum files ---------------------------------------------- */

struct vfy_ent {
	int	 algo;		/* VFY_SHA256 / VFY_SHA512 */
	char	 hex[129];	/* lower case */
	int	 bare;		/* no name */
	char	 name[VFY_NAMEMAX + 1];
	size_t	 namelen;
};

static size_t
vfy_hexspan(const char *l, size_t n)
{
	size_t i;

	for (i = 0; i < n && td_hexval((unsigned char)l[i]) >= 0; i++)
		;
	return i;
}

static int
vfy_set_hex(struct vfy_ent *e, const char *h, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	if (n != 64 && n != 128)
		return TD_ERR_FORMAT;
	if (vfy_hexspan(h, n) != n)
		return TD_ERR_FORMAT;
	for (i = 0; i < n; i++)
		e->hex[i] = hx[td_hexval((unsigned char)h[i])];
	e->hex[n] = '\0';
	e->algo = n == 64 ? VFY_SHA256 : VFY_SHA512;
	return 0;
}

/* Copy a name, undoing GNU escapes when escaped is set. */
static int
vfy_set_name(struct vfy_ent *e, const char *s, size_t n, int escaped)
{
	size_t i, o = 0;
	char ch;

	if (n == 0)
		return TD_ERR_FORMAT;
	for (i = 0; i < n; i++) {
		ch = s[i];
		if (escaped && ch == '\\') {
			if (++i == n)
				return TD_ERR_FORMAT;
			switch (s[i]) {
			case '\\':
				ch = '\\';
				break;
			case 'n':
				ch = '\n';
				break;
			case 'r':
				ch = '\r';
				break;
			default:
				return TD_ERR_FORMAT;
			}
		}
		if (o == VFY_NAMEMAX)
			return TD_ERR_FORMAT;
		e->name[o++] = ch;
	}
	e->name[o] = '\0';
	e->namelen = o;
	return 0;
}

static int
vfy_parse_entry(const char *l, size_t n, struct vfy_ent *e)
{
	size_t k, hl, nl;
	int escaped = 0, algo = 0;

	e->bare = 0;
	if (n > 0 && l[0] == '\\') {
		escaped = 1;
		l++;
		n--;
	}
	if (vfy_has_prefix(l, n, "SHA256 ("))
		algo = VFY_SHA256;
	else if (vfy_has_prefix(l, n, "SHA512 ("))
		algo = VFY_SHA512;
	if (algo != 0) {
		/* "SHA256 (" NAME ") = " HEX; the name may hold ") = " */
		hl = algo == VFY_SHA256 ? 64 : 128;
		if (n < 8 + 1 + 4 + hl ||
		    memcmp(l + n - hl - 4, ") = ", 4) != 0)
			return TD_ERR_FORMAT;
		if (vfy_set_hex(e, l + n - hl, hl) != 0)
			return TD_ERR_FORMAT;
		nl = n - hl - 4 - 8;
		return vfy_set_name(e, l + 8, nl, escaped);
	}
	k = vfy_hexspan(l, n);
	if (k != 64 && k != 128)
		return TD_ERR_FORMAT;
	if (vfy_set_hex(e, l, k) != 0)
		return TD_ERR_FORMAT;
	if (k == n) {
		if (escaped)
			return TD_ERR_FORMAT;
		e->bare = 1;
		e->name[0] = '\0';
		e->namelen = 0;
		return 0;
	}
	if (n < k + 3 || l[k] != ' ' || (l[k + 1] != ' ' && l[k + 1] != '*'))
		return TD_ERR_FORMAT;
	return vfy_set_name(e, l + k + 2, n - k - 2, escaped);
}

/* Matches found for one level (exact name / last component), per algo. */
struct vfy_slot {
	int	 found;
	int	 conflict;
	char	 hex[129];
};

static void
vfy_slot_add(struct vfy_slot *s, const struct vfy_ent *e)
{
	if (!s->found) {
		s->found = 1;
		memcpy(s->hex, e->hex, sizeof(s->hex));
	} else if (strcmp(s->hex, e->hex) != 0)
		s->conflict = 1;
}

/* Pick from one level: a conflict is malformed, SHA-512 beats SHA-256. */
static int
vfy_slot_pick(const struct vfy_slot s[2], int *algo, char hex[129])
{
	int i;

	if ((s[0].found && s[0].conflict) || (s[1].found && s[1].conflict))
		return TD_ERR_FORMAT;
	i = s[1].found ? 1 : 0;
	memcpy(hex, s[i].hex, 129);
	*algo = i == 1 ? VFY_SHA512 : VFY_SHA256;
	return 0;
}

/* What follows the last '/' of an entry's name, NULL without one. */
static const char *
vfy_last_component(const struct vfy_ent *e)
{
	size_t i;

	for (i = e->namelen; i > 0; i--)
		if (e->name[i - 1] == '/')
			return e->name + i;
	return NULL;
}

static int
vfy_blank(const char *l, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (l[i] != ' ' && l[i] != '\t')
			return 0;
	return 1;
}

int
verify_checksum_lookup(const char *text, size_t len, const char *name,
    int *algo, char hex[129])
{
	struct vfy_lines c;
	struct vfy_ent e;
	struct vfy_slot exact[2], base[2];
	const char *l, *last;
	size_t n, nentries = 0, namelen;
	int nbare = 0, r;

	if (algo != NULL)
		*algo = 0;
	if (hex != NULL)
		hex[0] = '\0';
	if (algo == NULL || hex == NULL || name == NULL ||
	    (text == NULL && len > 0))
		return TD_ERR_INVAL;
	if ((namelen = strlen(name)) == 0)
		return TD_ERR_INVAL;
	if (len == 0 || memchr(text, '\0', len) != NULL)
		return TD_ERR_FORMAT;
	memset(exact, 0, sizeof(exact));
	memset(base, 0, sizeof(base));
	memset(&e, 0, sizeof(e));
	c.p = text;
	c.end = text + len;
	while (vfy_next_line(&c, &l, &n)) {
		if (vfy_blank(l, n) || l[0] == '#')
			continue;
		if ((r = vfy_parse_entry(l, n, &e)) != 0)
			return r;
		nentries++;
		if (e.bare) {
			nbare++;
			vfy_slot_add(&exact[e.algo - 1], &e);
			continue;
		}
		if (e.namelen == namelen && memcmp(e.name, name, namelen) == 0)
			vfy_slot_add(&exact[e.algo - 1], &e);
		else if ((last = vfy_last_component(&e)) != NULL &&
		    strcmp(last, name) == 0)
			vfy_slot_add(&base[e.algo - 1], &e);
	}
	if (nentries == 0)
		return TD_ERR_FORMAT;
	/* a bare digest names no file, so it must be alone */
	if (nbare > 0 && nentries > 1)
		return TD_ERR_FORMAT;
	if (exact[0].found || exact[1].found)
		return vfy_slot_pick(exact, algo, hex);
	if (base[0].found || base[1].found)
		return vfy_slot_pick(base, algo, hex);
	return TD_ERR_NOTFOUND;
}

/* ---- a checksum file indexed for many lookups --------------------- */

#define VFY_NONE	UINT32_MAX

struct vfy_line {
	size_t		 off;		/* in text */
	size_t		 len;		/* without its LF, with a CR */
	uint64_t	 hexact;	/* keyed hash of the name */
	uint64_t	 hbase;		/* of its last component */
	uint32_t	 nexact;	/* next line in the same bucket */
	uint32_t	 nbase;
	int		 hasbase;	/* the name has a '/' */
};

struct vfy_sums {
	char		*text;
	size_t		 len;
	int		 status;	/* 0 or TD_ERR_FORMAT for every name */
	uint32_t	 bad;		/* the line that makes it malformed */
	uint32_t	 bad2;		/* and another one, or VFY_NONE */
	uint32_t	 bare;		/* the bare digest, or VFY_NONE */
	struct vfy_line	*lines;	/* entries only */
	uint32_t	 nlines;
	uint32_t	 mask;		/* buckets - 1 */
	uint32_t	*hexact;	/* bucket heads */
	uint32_t	*hbase;
	unsigned char	 key[crypto_shorthash_KEYBYTES];
};

static uint64_t
vfy_hash(const struct vfy_sums *s, const char *p, size_t n)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, (const unsigned char *)p, n, s->key);
	memcpy(&v, h, sizeof(v));
	return v;
}

/* Line i as raw text without its CR (what vfy_parse_entry reads). */
static void
vfy_line_text(const struct vfy_sums *s, uint32_t i, const char **l,
    size_t *n)
{
	*l = s->text + s->lines[i].off;
	*n = s->lines[i].len;
	if (*n > 0 && (*l)[*n - 1] == '\r')
		(*n)--;
}

/* Add a raw line (its offset and length) to the line table. */
static uint32_t
vfy_add_line(struct vfy_sums *s, size_t off, size_t len)
{
	s->lines = xreallocarray(s->lines, (size_t)s->nlines + 1,
	    sizeof(*s->lines));
	memset(&s->lines[s->nlines], 0, sizeof(*s->lines));
	s->lines[s->nlines].off = off;
	s->lines[s->nlines].len = len;
	s->lines[s->nlines].nexact = s->lines[s->nlines].nbase = VFY_NONE;
	return s->nlines++;
}

/* Raw length of the line at p, up to its LF (the CR kept). */
static size_t
vfy_raw_len(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
}

int
verify_sums_new(char *text, size_t len, struct vfy_sums **out)
{
	struct vfy_sums *s;
	struct vfy_ent *e;
	const char *p, *end, *l, *last;
	size_t off, raw, n, nb;
	uint32_t i, b, nentries = 0;
	int r;

	*out = NULL;
	if (text == NULL && len > 0)
		return TD_ERR_INVAL;
	if (len > UINT32_MAX / 2) {
		x_free(text);
		return TD_ERR_LIMIT;
	}
	if (sodium_init() < 0)
		td_fatal("sodium_init failed");
	s = xcalloc(1, sizeof(*s));
	s->text = text;		/* transferred */
	s->len = len;
	s->bad = s->bad2 = s->bare = VFY_NONE;
	randombytes_buf(s->key, sizeof(s->key));
	e = xmalloc(sizeof(*e));
	end = text + len;
	for (off = 0; off < len && s->status == 0; off += raw + 1) {
		p = text + off;
		raw = vfy_raw_len(p, end);
		l = p;
		n = raw;
		if (n > 0 && l[n - 1] == '\r')
			n--;
		if (memchr(l, '\0', raw) != NULL) {
			s->status = TD_ERR_FORMAT;
			s->bad = vfy_add_line(s, off, raw);
			break;
		}
		if (vfy_blank(l, n) || l[0] == '#')
			continue;
		i = vfy_add_line(s, off, raw);
		if ((r = vfy_parse_entry(l, n, e)) != 0) {
			s->status = TD_ERR_FORMAT;
			s->bad = i;
			break;
		}
		nentries++;
		if (e->bare) {
			if (s->bare == VFY_NONE)
				s->bare = i;
			continue;
		}
		s->lines[i].hexact = vfy_hash(s, e->name, e->namelen);
		if ((last = vfy_last_component(e)) != NULL) {
			s->lines[i].hasbase = 1;
			s->lines[i].hbase = vfy_hash(s, last,
			    e->namelen - (size_t)(last - e->name));
		}
	}
	x_free(e);
	if (s->status == 0 && nentries == 0)
		s->status = TD_ERR_FORMAT;	/* an empty extract says so */
	else if (s->status == 0 && s->bare != VFY_NONE && nentries > 1) {
		/* a bare digest must be alone: keep it and one other */
		s->status = TD_ERR_FORMAT;
		s->bad = s->bare;
		s->bad2 = s->bare == 0 ? 1 : 0;
	}
	if (s->status != 0 || s->bare != VFY_NONE) {
		*out = s;
		return 0;
	}
	for (nb = 16; nb < 2 * (size_t)s->nlines; nb *= 2)
		;
	s->mask = (uint32_t)nb - 1;
	s->hexact = xreallocarray(NULL, nb, sizeof(*s->hexact));
	s->hbase = xreallocarray(NULL, nb, sizeof(*s->hbase));
	memset(s->hexact, 0xff, nb * sizeof(*s->hexact));
	memset(s->hbase, 0xff, nb * sizeof(*s->hbase));
	/* chain from the last line back, so each chain is in file order */
	for (i = s->nlines; i-- > 0; ) {
		b = (uint32_t)s->lines[i].hexact & s->mask;
		s->lines[i].nexact = s->hexact[b];
		s->hexact[b] = i;
		if (s->lines[i].hasbase) {
			b = (uint32_t)s->lines[i].hbase & s->mask;
			s->lines[i].nbase = s->hbase[b];
			s->hbase[b] = i;
		}
	}
	*out = s;
	return 0;
}

void
verify_sums_free(struct vfy_sums *s)
{
	if (s == NULL)
		return;
	x_free(s->text);
	x_free(s->lines);
	x_free(s->hexact);
	x_free(s->hbase);
	x_free(s);
}

/*
 * The lines matching name: exact names in ex, last components in ba
 * (each VFY_NONE-terminated, in file order, at most s->nlines). Also
 * the slots verify_checksum_lookup would fill.
 */
static void
vfy_sums_match(const struct vfy_sums *s, const char *name, uint32_t *ex,
    uint32_t *ba, struct vfy_slot exact[2], struct vfy_slot base[2])
{
	struct vfy_ent *e = xmalloc(sizeof(*e));
	size_t namelen = strlen(name), n;
	const char *l, *last;
	uint64_t h = vfy_hash(s, name, namelen);
	uint32_t i, nex = 0, nba = 0;

	memset(exact, 0, 2 * sizeof(*exact));
	memset(base, 0, 2 * sizeof(*base));
	for (i = s->hexact[h & s->mask]; i != VFY_NONE; i = s->lines[i].nexact) {
		if (s->lines[i].hexact != h)
			continue;
		vfy_line_text(s, i, &l, &n);
		if (vfy_parse_entry(l, n, e) != 0 || e->namelen != namelen ||
		    memcmp(e->name, name, namelen) != 0)
			continue;
		vfy_slot_add(&exact[e->algo - 1], e);
		ex[nex++] = i;
	}
	for (i = s->hbase[h & s->mask]; i != VFY_NONE; i = s->lines[i].nbase) {
		if (s->lines[i].hbase != h)
			continue;
		vfy_line_text(s, i, &l, &n);
		if (vfy_parse_entry(l, n, e) != 0 ||
		    (last = vfy_last_component(e)) == NULL ||
		    strcmp(last, name) != 0)
			continue;
		vfy_slot_add(&base[e->algo - 1], e);
		ba[nba++] = i;
	}
	ex[nex] = ba[nba] = VFY_NONE;
	x_free(e);
}

int
verify_sums_lookup(const struct vfy_sums *s, const char *name, int *algo,
    char hex[129])
{
	struct vfy_slot exact[2], base[2];
	struct vfy_ent *e;
	uint32_t *ex, *ba;
	const char *l;
	size_t n;
	int r;

	if (algo != NULL)
		*algo = 0;
	if (hex != NULL)
		hex[0] = '\0';
	if (s == NULL || algo == NULL || hex == NULL || name == NULL ||
	    *name == '\0')
		return TD_ERR_INVAL;
	if (s->status != 0)
		return s->status;
	if (s->bare != VFY_NONE) {
		e = xmalloc(sizeof(*e));
		vfy_line_text(s, s->bare, &l, &n);
		(void)vfy_parse_entry(l, n, e);
		*algo = e->algo;
		memcpy(hex, e->hex, 129);
		x_free(e);
		return 0;
	}
	ex = xreallocarray(NULL, (size_t)s->nlines + 1, sizeof(*ex));
	ba = xreallocarray(NULL, (size_t)s->nlines + 1, sizeof(*ba));
	vfy_sums_match(s, name, ex, ba, exact, base);
	if (exact[0].found || exact[1].found)
		r = vfy_slot_pick(exact, algo, hex);
	else if (base[0].found || base[1].found)
		r = vfy_slot_pick(base, algo, hex);
	else
		r = TD_ERR_NOTFOUND;
	x_free(ex);
	x_free(ba);
	return r;
}

static void
vfy_put_line(const struct vfy_sums *s, uint32_t i, struct td_buf *out)
{
	td_buf_append(out, s->text + s->lines[i].off, s->lines[i].len);
	td_buf_putc(out, '\n');
}

int
verify_sums_extract(const struct vfy_sums *s, const char *name,
    struct td_buf *out)
{
	struct vfy_slot exact[2], base[2];
	uint32_t *ex, *ba, a, b;
	int r = 0;

	if (s == NULL || name == NULL || *name == '\0')
		return TD_ERR_INVAL;
	if (s->status != 0 || s->bare != VFY_NONE) {
		/* what makes it malformed, or the bare digest: whole lines */
		if (s->bad != VFY_NONE)
			vfy_put_line(s, s->bad, out);
		if (s->bad2 != VFY_NONE)
			vfy_put_line(s, s->bad2, out);
		if (s->status == 0)
			vfy_put_line(s, s->bare, out);
		return 0;
	}
	ex = xreallocarray(NULL, (size_t)s->nlines + 1, sizeof(*ex));
	ba = xreallocarray(NULL, (size_t)s->nlines + 1, sizeof(*ba));
	vfy_sums_match(s, name, ex, ba, exact, base);
	if (ex[0] == VFY_NONE && ba[0] == VFY_NONE)
		r = TD_ERR_NOTFOUND;
	/* both lists in file order, merged */
	for (a = b = 0; r == 0 && (ex[a] != VFY_NONE || ba[b] != VFY_NONE); )
		if (ba[b] == VFY_NONE || (ex[a] != VFY_NONE && ex[a] < ba[b]))
			vfy_put_line(s, ex[a++], out);
		else
			vfy_put_line(s, ba[b++], out);
	x_free(ex);
	x_free(ba);
	return r;
}

/* ---- minisign ---------------------------------------------------- */

static int
vfy_comment(const char *l, size_t n, const char *pfx, char *out)
{
	size_t pl = strlen(pfx);

	if (!vfy_has_prefix(l, n, pfx) || n - pl > VFY_COMMENTMAX)
		return TD_ERR_FORMAT;
	if (out != NULL) {
		memcpy(out, l + pl, n - pl);
		out[n - pl] = '\0';
	}
	return 0;
}

int
minisign_parse_pubkey(const char *text, size_t len, struct minisign_key *out)
{
	struct vfy_lines c;
	const char *l;
	size_t n;
	uint8_t raw[MS_PK_BYTES];
	int r = TD_ERR_FORMAT;

	if (out == NULL || (text == NULL && len > 0))
		return TD_ERR_INVAL;
	memset(out, 0, sizeof(*out));
	if (len == 0 || memchr(text, '\0', len) != NULL)
		goto out;
	c.p = text;
	c.end = text + len;
	if (!vfy_next_line(&c, &l, &n))
		goto out;
	if (vfy_has_prefix(l, n, MS_UNTRUSTED)) {
		if (vfy_comment(l, n, MS_UNTRUSTED, NULL) != 0 ||
		    !vfy_next_line(&c, &l, &n))
			goto out;
	}
	if (vfy_b64(l, n, MS_PK_B64, raw, sizeof(raw)) != 0 ||
	    memcmp(raw, "Ed", 2) != 0 || !vfy_only_line_ends(&c))
		goto out;
	memcpy(out->keyid, raw + 2, 8);
	memcpy(out->pk, raw + 10, 32);
	r = 0;
 out:
	if (r != 0)
		memset(out, 0, sizeof(*out));
	return r;
}

int
minisign_parse_sig(const char *text, size_t len, struct minisign_sig *out)
{
	struct vfy_lines c;
	const char *l;
	size_t n;
	uint8_t raw[MS_SIG_BYTES];
	int r = TD_ERR_FORMAT;

	if (out == NULL || (text == NULL && len > 0))
		return TD_ERR_INVAL;
	memset(out, 0, sizeof(*out));
	if (len == 0 || memchr(text, '\0', len) != NULL)
		goto out;
	c.p = text;
	c.end = text + len;
	if (!vfy_next_line(&c, &l, &n) ||
	    vfy_comment(l, n, MS_UNTRUSTED, NULL) != 0)
		goto out;
	if (!vfy_next_line(&c, &l, &n) ||
	    vfy_b64(l, n, MS_SIG_B64, raw, sizeof(raw)) != 0)
		goto out;
	if (memcmp(raw, "ED", 2) == 0)
		out->prehashed = 1;
	else if (memcmp(raw, "Ed", 2) == 0)
		out->prehashed = 0;
	else
		goto out;
	memcpy(out->keyid, raw + 2, 8);
	memcpy(out->sig, raw + 10, 64);
	if (!vfy_next_line(&c, &l, &n) ||
	    vfy_comment(l, n, MS_TRUSTED, out->trusted_comment) != 0)
		goto out;
	if (!vfy_next_line(&c, &l, &n) ||
	    vfy_b64(l, n, MS_GSIG_B64, out->global_sig, 64) != 0 ||
	    !vfy_only_line_ends(&c))
		goto out;
	r = 0;
 out:
	if (r != 0)
		memset(out, 0, sizeof(*out));
	return r;
}

const char *
minisign_verify(const struct minisign_sig *sig,
    const struct minisign_key *keys, size_t nkeys,
    const uint8_t blake2b[64], const void *data, size_t len, size_t *which)
{
	uint8_t signed_tc[64 + VFY_COMMENTMAX];
	const unsigned char *msg;
	const char *res = "signature_untrusted_key";
	size_t i, tclen;
	int ok;

	if (which != NULL)
		*which = SIZE_MAX;
	if (sodium_init() < 0)
		td_fatal("sodium_init failed");
	if (sig == NULL || (keys == NULL && nkeys > 0))
		return "signature_invalid";
	tclen = strnlen(sig->trusted_comment, sizeof(sig->trusted_comment));
	if (tclen > VFY_COMMENTMAX)
		return "signature_comment_invalid";
	memcpy(signed_tc, sig->sig, 64);
	memcpy(signed_tc + 64, sig->trusted_comment, tclen);
	/* libsodium wants a pointer even for an empty message */
	msg = data != NULL ? data : (const unsigned char *)"";
	for (i = 0; i < nkeys; i++) {
		if (sodium_memcmp(keys[i].keyid, sig->keyid, 8) != 0)
			continue;
		if (sig->prehashed)
			ok = blake2b != NULL &&
			    crypto_sign_verify_detached(sig->sig, blake2b, 64,
			    keys[i].pk) == 0;
		else
			ok = (data != NULL || len == 0) &&
			    crypto_sign_verify_detached(sig->sig, msg, len,
			    keys[i].pk) == 0;
		if (!ok) {
			res = "signature_invalid";
			continue;
		}
		if (crypto_sign_verify_detached(sig->global_sig, signed_tc,
		    64 + tclen, keys[i].pk) != 0) {
			res = "signature_comment_invalid";
			continue;
		}
		if (which != NULL)
			*which = i;
		return NULL;
	}
	return res;
}

void
minisign_keyid_hex(const uint8_t keyid[8], char out[17])
{
	static const char hx[] = "0123456789ABCDEF";
	int i;

	/* minisign prints the key id as a little-endian u64 */
	for (i = 0; i < 8; i++) {
		out[2 * i] = hx[keyid[7 - i] >> 4];
		out[2 * i + 1] = hx[keyid[7 - i] & 15];
	}
	out[16] = '\0';
}
