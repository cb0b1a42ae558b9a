/*
 * sidecar.c - find, pair and check checksum and signature sidecars.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "td.h"
#include "buf.h"
#include "conf.h"
#include "fsutil.h"
#include "hash.h"
#include "json.h"
#include "log.h"
#include "verify.h"
#include "sidecar.h"

#define SIDECAR_MAX	(1 << 20)	/* largest per-file sidecar read */
#define MF_SMALL	(64 << 10)	/* smaller manifests: not cached */
#define MF_CACHE	2		/* larger ones kept parsed */

static const char *mf_names[2] = { "SHA256SUMS", "SHA512SUMS" };

static int
has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n > m && strcmp(s + n - m, suf) == 0;
}

int
sidecar_is_manifest(const char *name)
{
	return strcmp(name, mf_names[0]) == 0 ||
	    strcmp(name, mf_names[1]) == 0;
}

int
sidecar_is(const char *name)
{
	return has_suffix(name, ".sha256") || has_suffix(name, ".sha512") ||
	    has_suffix(name, ".minisig") || sidecar_is_manifest(name);
}

/* dir/NAME.suf when it is a regular file (a link is never a sidecar). */
static char *
exists(const char *dir, const char *name, const char *suf)
{
	char *rel = xasprintf("%s%s", name, suf), *p;
	struct stat sb;

	p = xasprintf("%s/%s", dir, rel);
	if (lstat(p, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		x_free(rel);
		rel = NULL;
	}
	x_free(p);
	return rel;
}

/* ---- manifests, parsed once per version ------------------------- */

struct mf_entry {
	char		*path;
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime, ctime;
	struct vfy_sums	*sums;		/* NULL: too large (logged) */
	uint64_t	 used;
};

static struct mf_entry mf_cache[MF_CACHE];
static uint64_t mf_clock;

static int
mf_same(const struct mf_entry *e, const char *path, const struct stat *sb)
{
	return e->path != NULL && strcmp(e->path, path) == 0 &&
	    e->dev == sb->st_dev && e->ino == sb->st_ino &&
	    e->size == sb->st_size &&
	    e->mtime.tv_sec == sb->st_mtim.tv_sec &&
	    e->mtime.tv_nsec == sb->st_mtim.tv_nsec &&
	    e->ctime.tv_sec == sb->st_ctim.tv_sec &&
	    e->ctime.tv_nsec == sb->st_ctim.tv_nsec;
}

/* Keep sums (NULL: too large) for the version sb of path; evict LRU. */
static void
mf_remember(const char *path, const struct stat *sb, struct vfy_sums *sums)
{
	struct mf_entry *e = &mf_cache[0];
	size_t i;

	for (i = 1; i < MF_CACHE; i++)
		if (mf_cache[i].used < e->used)
			e = &mf_cache[i];
	x_free(e->path);
	verify_sums_free(e->sums);
	e->path = xstrdup(path);
	e->dev = sb->st_dev;
	e->ino = sb->st_ino;
	e->size = sb->st_size;
	e->mtime = sb->st_mtim;
	e->ctime = sb->st_ctim;
	e->sums = sums;		/* transferred */
	e->used = ++mf_clock;
}

/*
 * The index of the manifest dir/m, or NULL when there is none to use:
 * absent, not a regular file, unreadable, or over the size limit. When
 * *tofree is set, the caller frees it (small manifests are not cached).
 */
static const struct vfy_sums *
mf_open(const char *dir, const char *m, struct vfy_sums **tofree)
{
	const struct vfy_sums *ret = NULL;
	struct vfy_sums *s;
	struct stat sb;
	char *p = xasprintf("%s/%s", dir, m), *text;
	size_t i, len;
	int fd, r;

	*tofree = NULL;
	fd = open(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
		goto out;
	for (i = 0; i < MF_CACHE; i++)
		if (mf_same(&mf_cache[i], p, &sb)) {
			mf_cache[i].used = ++mf_clock;
			ret = mf_cache[i].sums;
			goto out;
		}
	r = sb.st_size > SIDECAR_MANIFEST_MAX ? TD_ERR_LIMIT :
	    td_read_fd(fd, SIDECAR_MANIFEST_MAX, &text, &len);
	if (r == TD_ERR_LIMIT) {
		td_log(TD_LOG_WARN, "checksum_manifest_too_large", "file=%s "
		    "size=%lld max=%d action=ignored", p,
		    (long long)sb.st_size, SIDECAR_MANIFEST_MAX);
		mf_remember(p, &sb, NULL);	/* said once per version */
		goto out;
	}
	if (r != 0 || verify_sums_new(text, len, &s) != 0)
		goto out;
	td_log(TD_LOG_DEBUG, "checksum_manifest_read", "file=%s bytes=%zu",
	    p, len);
	if (sb.st_size <= MF_SMALL)
		ret = *tofree = s;
	else {
		mf_remember(p, &sb, s);
		ret = s;
	}
 out:
	if (fd >= 0)
		close(fd);
	x_free(p);
	return ret;
}

/* Does dir/m name name? Its digest's algorithm in *algo (0: malformed). */
static int
mf_names_file(const char *dir, const char *m, const char *name, int *algo)
{
	const struct vfy_sums *s;
	struct vfy_sums *tofree;
	char hex[129];
	int r;

	*algo = 0;
	if ((s = mf_open(dir, m, &tofree)) == NULL)
		return 0;
	r = verify_sums_lookup(s, name, algo, hex);
	verify_sums_free(tofree);
	/* a malformed manifest counts: it fails verification, loudly */
	return r == 0 || r == TD_ERR_FORMAT;
}

int
sidecar_manifest_names(const char *dir, const char *m, const char *name)
{
	int algo;

	return mf_names_file(dir, m, name, &algo);
}

int
sidecar_manifest_extract(const char *dir, const char *m, const char *name,
    struct td_buf *out)
{
	const struct vfy_sums *s;
	struct vfy_sums *tofree;
	int r;

	if ((s = mf_open(dir, m, &tofree)) == NULL)
		return TD_ERR_NOTFOUND;
	r = verify_sums_extract(s, name, out);
	verify_sums_free(tofree);
	return r;
}

/* ---- the sidecars of a file -------------------------------------- */

/* Look name up in the per-file checksum sidecar dir/file. */
static int
sum_lookup(const char *dir, const char *file, const char *name, int *algo,
    char hex[129])
{
	char *p = xasprintf("%s/%s", dir, file), *text;
	size_t len;
	int r;

	*algo = 0;
	hex[0] = '\0';
	r = td_read_file_nofollow(p, SIDECAR_MAX, &text, &len);
	x_free(p);
	if (r != 0)
		return r;
	r = verify_checksum_lookup(text, len, name, algo, hex);
	x_free(text);
	return r;
}

void
sidecar_find(const char *dir, const char *name, struct sidecars *sc)
{
	char hex[129];
	size_t i;
	int algo;

	memset(sc, 0, sizeof(*sc));
	sc->sum256 = exists(dir, name, ".sha256");
	sc->sum512 = exists(dir, name, ".sha512");
	sc->sig = exists(dir, name, ".minisig");
	if (sc->sum256 != NULL && sum_lookup(dir, sc->sum256, name, &algo,
	    hex) == 0 && algo == VFY_SHA512)
		sc->want |= SC_WANT_SHA512;
	if (sc->sum512 != NULL && sum_lookup(dir, sc->sum512, name, &algo,
	    hex) == 0 && algo == VFY_SHA512)
		sc->want |= SC_WANT_SHA512;
	for (i = 0; i < TD_NELEM(mf_names); i++)
		if (mf_names_file(dir, mf_names[i], name, &algo)) {
			sc->manifest[i] = xstrdup(mf_names[i]);
			if (algo == VFY_SHA512)
				sc->want |= SC_WANT_SHA512;
		}
	if (sc->sig != NULL)
		sc->want |= SC_WANT_BLAKE2B;
}

void
sidecar_free(struct sidecars *sc)
{
	x_free(sc->sum256);
	x_free(sc->sum512);
	x_free(sc->sig);
	x_free(sc->manifest[0]);
	x_free(sc->manifest[1]);
	memset(sc, 0, sizeof(*sc));
}

unsigned
sidecar_wants(const struct sidecars *sc)
{
	return sc->want;
}

int
sidecar_load_keys(const struct td_conf *c, struct minisign_key **keys,
    size_t *n, char **err)
{
	char * const *l;
	char *text;
	size_t nl, i, len;
	int r;

	*keys = NULL;
	*n = 0;
	*err = NULL;
	l = td_conf_list(c, TDK_verify_trusted_key, &nl);
	for (i = 0; i < nl; i++) {
		*keys = xreallocarray(*keys, *n + 1, sizeof(**keys));
		if (minisign_parse_pubkey(l[i], strlen(l[i]),
		    &(*keys)[*n]) != 0) {
			*err = xasprintf("trusted_key %s: not a minisign "
			    "public key", l[i]);
			goto fail;
		}
		(*n)++;
	}
	l = td_conf_list(c, TDK_verify_trusted_key_file, &nl);
	for (i = 0; i < nl; i++) {
		if ((r = td_read_file(l[i], 64 << 10, &text, &len)) != 0) {
			*err = xasprintf("trusted_key_file %s: %s", l[i],
			    r == TD_ERR_LIMIT ? "too large" : strerror(errno));
			goto fail;
		}
		*keys = xreallocarray(*keys, *n + 1, sizeof(**keys));
		r = minisign_parse_pubkey(text, len, &(*keys)[*n]);
		x_free(text);
		if (r != 0) {
			*err = xasprintf("trusted_key_file %s: not a minisign "
			    "public key file", l[i]);
			goto fail;
		}
		(*n)++;
	}
	return TD_OK;
 fail:
	x_free(*keys);
	*keys = NULL;
	*n = 0;
	return TD_ERR_FORMAT;
}

static void __attribute__((format(printf, 3, 4)))
fail(struct verification *v, const char *code, const char *fmt, ...)
{
	va_list ap;

	if (v->code != NULL)
		return;		/* the first failure is the reason */
	v->code = code;
	va_start(ap, fmt);
	vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
	va_end(ap);
}

static void
check_sum(const struct td_conf *c, const char *dir, const char *name,
    const struct sidecars *sc, const char *sha256hex, const char *sha512hex,
    struct verification *v)
{
	const char *files[4], *file, *want, *algo_name;
	const struct vfy_sums *ms;
	struct vfy_sums *tofree;
	char hex[129];
	size_t i, n = 0;
	int algo, r, strongest = 0;

	if (td_conf_enum_is(c, TDK_verify_checksum, "off")) {
		v->checksum = "off";
		return;
	}
	files[n] = sc->sum256;
	n += files[n] != NULL;
	files[n] = sc->sum512;
	n += files[n] != NULL;
	files[n] = sc->manifest[0];
	n += files[n] != NULL;
	files[n] = sc->manifest[1];
	n += files[n] != NULL;
	if (n == 0) {
		v->checksum = "absent";
		if (td_conf_enum_is(c, TDK_verify_checksum, "required"))
			fail(v, "checksum_missing", "no checksum sidecar "
			    "(%s.sha256, %s.sha512 or SHA256SUMS) arrived "
			    "within sidecar_wait", name, name);
		return;
	}
	for (i = 0; i < n; i++) {
		file = files[i];
		if (!sidecar_is_manifest(file))
			r = sum_lookup(dir, file, name, &algo, hex);
		else if ((ms = mf_open(dir, file, &tofree)) == NULL)
			r = TD_ERR_IO;
		else {
			r = verify_sums_lookup(ms, name, &algo, hex);
			verify_sums_free(tofree);
		}
		if (r != 0) {
			v->checksum = "failed";
			v->checksum_algo = NULL;
			fail(v, "checksum_malformed", "%s: %s", file,
			    r == TD_ERR_NOTFOUND ? "has no line for the file" :
			    r == TD_ERR_LIMIT ? "larger than 1 MiB, the most "
			    "read of a per-file checksum" : r == TD_ERR_IO ?
			    "cannot be read (or is over 16 MiB)" :
			    "not a checksum file");
			return;
		}
		algo_name = algo == VFY_SHA512 ? "sha512" : "sha256";
		want = algo == VFY_SHA512 ? sha512hex : sha256hex;
		if (want == NULL || strcmp(want, hex) != 0) {
			v->checksum = "failed";
			v->checksum_algo = algo_name;
			fail(v, "checksum_mismatch", "%s says %s %s, the file's "
			    "is %s", file, algo_name, hex,
			    want ? want : "(not computed)");
			return;
		}
		if (algo > strongest)
			strongest = algo;
	}
	v->checksum = "ok";
	v->checksum_algo = strongest == VFY_SHA512 ? "sha512" : "sha256";
}

static void
check_sig(const struct td_conf *c, const struct minisign_key *keys,
    size_t nkeys, const char *dir, const char *name,
    const struct sidecars *sc, const char *sha256hex, const uint8_t *b2,
    struct verification *v)
{
	char hex[TD_SHA256_HEX];
	struct minisign_sig sig;
	struct stat sb;
	const char *code;
	char *p, *text = NULL;
	void *map = MAP_FAILED;
	size_t len, which;
	int fd = -1, r;

	if (td_conf_enum_is(c, TDK_verify_signature, "off")) {
		v->signature = "off";
		return;
	}
	if (sc->sig == NULL) {
		v->signature = "absent";
		if (td_conf_enum_is(c, TDK_verify_signature, "required"))
			fail(v, "signature_missing", "no signature sidecar "
			    "%s.minisig arrived within sidecar_wait", name);
		goto out;
	}
	v->signature = "failed";
	p = xasprintf("%s/%s", dir, sc->sig);
	r = td_read_file_nofollow(p, 64 << 10, &text, &len);
	x_free(p);
	if (r != 0 || minisign_parse_sig(text, len, &sig) != 0) {
		fail(v, "signature_malformed", "%s: not a minisign signature",
		    sc->sig);
		goto out;
	}
	minisign_keyid_hex(sig.keyid, v->key_id);
	snprintf(v->trusted_comment, sizeof(v->trusted_comment), "%s",
	    sig.trusted_comment);
	if (!sig.prehashed) {
		/* legacy signatures cover the whole file: map it */
		p = xasprintf("%s/%s", dir, name);
		fd = open(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		x_free(p);
		if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
			fail(v, "signature_invalid", "cannot read the file");
			goto out;
		}
		if (sb.st_size > 0 && (map = mmap(NULL, (size_t)sb.st_size,
		    PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
			fail(v, "signature_invalid", "cannot map the file: %s",
			    strerror(errno));
			goto out;
		}
		/*
		 * This second read must be the bytes the transmission id was
		 * computed from: a writer that still holds the file could
		 * show the signer's bytes here and others to the parser.
		 */
		td_sha256_hex(map == MAP_FAILED ? "" : map, map == MAP_FAILED ?
		    0 : (size_t)sb.st_size, hex);
		if (strcmp(hex, sha256hex) != 0) {
			fail(v, "file_changed", "the file changed while its "
			    "signature was checked: nothing of it is parsed");
			goto out;
		}
	}
	code = minisign_verify(&sig, keys, nkeys, b2, map == MAP_FAILED ?
	    "" : map, map == MAP_FAILED ? 0 : (size_t)sb.st_size, &which);
	if (code != NULL) {
		fail(v, code, "%s: key id %s: %s", sc->sig, v->key_id,
		    strcmp(code, "signature_untrusted_key") == 0 ?
		    "not a trusted key" : strcmp(code,
		    "signature_comment_invalid") == 0 ? "the trusted comment "
		    "does not verify" : "the signature does not verify");
		goto out;
	}
	v->signature = "ok";
 out:
	if (map != MAP_FAILED)
		munmap(map, (size_t)sb.st_size);
	if (fd >= 0)
		close(fd);
	x_free(text);
}

void
sidecar_verify(const struct td_conf *c, const struct minisign_key *keys,
    size_t nkeys, const char *dir, const char *name,
    const struct sidecars *sc, const char *sha256hex,
    const char *sha512hex, const uint8_t *b2, struct verification *v)
{
	memset(v, 0, sizeof(*v));
	check_sum(c, dir, name, sc, sha256hex, sha512hex, v);
	check_sig(c, keys, nkeys, dir, name, sc, sha256hex, b2, v);
}

void
sidecar_signer(const char *json, char *out, size_t n)
{
	static const char sig[] = "\"signature\":\"", key[] = "\"key_id\":\"";
	const char *p, *k;
	size_t i;

	out[0] = '\0';
	/* the first "signature" is the verification's own: the fields
	 * before it are words, and the trusted comment (escaped) after */
	if (json == NULL || (p = strstr(json, sig)) == NULL ||
	    strncmp(p + sizeof(sig) - 1, "ok\"", 3) != 0)
		return;
	snprintf(out, n, "ok");
	if ((k = strstr(p, key)) == NULL)
		return;
	k += sizeof(key) - 1;
	for (i = 0; i < 16 && ((k[i] >= '0' && k[i] <= '9') ||
	    (k[i] >= 'A' && k[i] <= 'F') || (k[i] >= 'a' && k[i] <= 'f')); i++)
		;
	if (i == 16 && k[i] == '"')
		snprintf(out, n, "%.16s", k);
}

char *
sidecar_json(const struct verification *v)
{
	struct td_buf b;
	char *ret;

	td_buf_init(&b, 256, 0);
	td_buf_printf(&b, "{\"checksum\":\"%s\"", v->checksum ?
	    v->checksum : "not_checked");
	if (v->checksum_algo != NULL)
		td_buf_printf(&b, ",\"checksum_algorithm\":\"%s\"",
		    v->checksum_algo);
	td_buf_printf(&b, ",\"signature\":\"%s\"", v->signature ?
	    v->signature : "not_checked");
	if (v->key_id[0] != '\0') {
		td_buf_printf(&b, ",\"key_id\":\"%s\",\"trusted_comment\":",
		    v->key_id);
		if (td_json_str(&b, v->trusted_comment,
		    strlen(v->trusted_comment)) != 0)
			td_buf_puts(&b, "null");
	}
	td_buf_putc(&b, '}');
	ret = xstrdup(td_buf_cstr(&b));
	td_buf_free(&b);
	return ret;
}
