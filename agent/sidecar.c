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
#include "json.h"
#include "verify.h"
#include "sidecar.h"

#define SIDECAR_MAX	(1 << 20)	/* largest sidecar read */

static int
has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n > m && strcmp(s + n - m, suf) == 0;
}

int
sidecar_is_manifest(const char *name)
{
	return strcmp(name, "SHA256SUMS") == 0 ||
	    strcmp(name, "SHA512SUMS") == 0;
}

int
sidecar_is(const char *name)
{
	return has_suffix(name, ".sha256") || has_suffix(name, ".sha512") ||
	    has_suffix(name, ".minisig") || sidecar_is_manifest(name);
}

static char *
exists(const char *dir, const char *name, const char *suf)
{
	char *rel = xasprintf("%s%s", name, suf), *p;
	struct stat sb;

	p = xasprintf("%s/%s", dir, rel);
	if (stat(p, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		x_free(rel);
		rel = NULL;
	}
	x_free(p);
	return rel;
}

/* Does the manifest dir/m have a line for name? */
static int
manifest_names(const char *dir, const char *m, const char *name)
{
	char *p = xasprintf("%s/%s", dir, m), *text, hex[129];
	size_t len;
	int algo, r;

	r = td_read_file(p, SIDECAR_MAX, &text, &len);
	x_free(p);
	if (r != 0)
		return 0;
	r = verify_checksum_lookup(text, len, name, &algo, hex);
	x_free(text);
	/* a malformed manifest counts: it fails verification, loudly */
	return r == 0 || r == TD_ERR_FORMAT;
}

void
sidecar_find(const char *dir, const char *name, struct sidecars *sc)
{
	memset(sc, 0, sizeof(*sc));
	if ((sc->sum = exists(dir, name, ".sha256")) == NULL)
		sc->sum = exists(dir, name, ".sha512");
	sc->sig = exists(dir, name, ".minisig");
	if (manifest_names(dir, "SHA256SUMS", name))
		sc->manifest = xstrdup("SHA256SUMS");
	else if (manifest_names(dir, "SHA512SUMS", name))
		sc->manifest = xstrdup("SHA512SUMS");
}

void
sidecar_free(struct sidecars *sc)
{
	x_free(sc->sum);
	x_free(sc->sig);
	x_free(sc->manifest);
	memset(sc, 0, sizeof(*sc));
}

unsigned
sidecar_wants(const struct sidecars *sc)
{
	unsigned w = 0;

	if ((sc->sum != NULL && has_suffix(sc->sum, ".sha512")) ||
	    (sc->manifest != NULL && strcmp(sc->manifest, "SHA512SUMS") == 0))
		w |= SC_WANT_SHA512;
	if (sc->sig != NULL)
		w |= SC_WANT_BLAKE2B;
	return w;
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
	const char *file, *want;
	char *p, *text = NULL, hex[129];
	size_t len;
	int algo, r;

	if (td_conf_enum_is(c, TDK_verify_checksum, "off")) {
		v->checksum = "off";
		return;
	}
	file = sc->sum != NULL ? sc->sum : sc->manifest;
	if (file == NULL) {
		v->checksum = "absent";
		if (td_conf_enum_is(c, TDK_verify_checksum, "required"))
			fail(v, "checksum_missing", "no checksum sidecar "
			    "(%s.sha256, %s.sha512 or SHA256SUMS) arrived "
			    "within sidecar_wait", name, name);
		goto out;
	}
	p = xasprintf("%s/%s", dir, file);
	r = td_read_file(p, SIDECAR_MAX, &text, &len);
	x_free(p);
	if (r == 0)
		r = verify_checksum_lookup(text, len, name, &algo, hex);
	if (r != 0) {
		v->checksum = "failed";
		fail(v, "checksum_malformed", "%s: %s", file, r ==
		    TD_ERR_NOTFOUND ? "has no line for the file" :
		    "not a checksum file");
		goto out;
	}
	v->checksum_algo = algo == VFY_SHA512 ? "sha512" : "sha256";
	want = algo == VFY_SHA512 ? sha512hex : sha256hex;
	if (want == NULL || strcmp(want, hex) != 0) {
		v->checksum = "failed";
		fail(v, "checksum_mismatch", "%s says %s %s, the file's is %s",
		    file, v->checksum_algo, hex, want ? want : "(not computed)");
		goto out;
	}
	v->checksum = "ok";
 out:
	x_free(text);
}

static void
check_sig(const struct td_conf *c, const struct minisign_key *keys,
    size_t nkeys, const char *dir, const char *name,
    const struct sidecars *sc, const uint8_t *b2,
    struct verification *v)
{
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
	r = td_read_file(p, 64 << 10, &text, &len);
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
		fd = open(p, O_RDONLY | O_CLOEXEC);
		x_free(p);
		if (fd < 0 || fstat(fd, &sb) != 0) {
			fail(v, "signature_invalid", "cannot read the file");
			goto out;
		}
		if (sb.st_size > 0 && (map = mmap(NULL, (size_t)sb.st_size,
		    PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
			fail(v, "signature_invalid", "cannot map the file: %s",
			    strerror(errno));
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
	check_sig(c, keys, nkeys, dir, name, sc, b2, v);
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
