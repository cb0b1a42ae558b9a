/*
 * fuzz-sums.c - libFuzzer harness: checksum sidecars (agent/sidecar.c
 * over agent/verify.c) as intake uses them, on files in a private
 * temporary directory. The input:
 *
 *   its first byte: which sidecars hold the text (bits 0-3: NAME.sha256,
 *   NAME.sha512, SHA256SUMS, SHA512SUMS; none is SHA256SUMS) and the
 *   [verify] checksum policy (bits 4-5: optional, required, off,
 *   optional), e.g. "D" SHA256SUMS optional, "T" required, "_" all four;
 *   the rest of its first line: the name of the file checked (x.csv when
 *   it is not a plain file name, or is itself a sidecar's);
 *   the rest: the text of the sidecar(s), "@256" and "@512" in it
 *   replaced by the file's own SHA-256 and SHA-512, so that matching
 *   lines are in reach.
 *
 * In a landing directory with the file and those sidecars, and in a
 * claim directory made as intake makes it (per-file sidecars copied,
 * each manifest replaced by the lines sidecar_manifest_extract keeps):
 *   - sidecar_find finds the per-file sidecars present, and a manifest
 *     exactly when verify_checksum_lookup finds the name in it or finds
 *     it malformed; it wants SHA-512 exactly when a digest found is one;
 *   - sidecar_verify gives the outcome worked out here from
 *     verify_checksum_lookup (the first sidecar that fails is the reason:
 *     checksum_malformed or checksum_mismatch; none is checksum_missing
 *     under required; off checks nothing);
 *   - the claim directory verifies exactly as the landing one;
 *   - sidecar_json is one object.
 */
#include "config.h"

#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "td.h"
#include "buf.h"
#include "conf.h"
#include "fsutil.h"
#include "hash.h"
#include "verify.h"
#include "sidecar.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define NAME_MAXLEN	200
#define DATA		"Store,Units\n1,2\n"

static const char *const policies[] = { "optional", "required", "off",
    "optional" };
static struct td_conf *conf[4];
static char sha256[TD_SHA256_HEX], sha512[TD_SHA512_HEX];

/* The outcome sidecar_verify must give. */
struct want {
	const char	*code, *checksum, *algo;
	unsigned	 wants;
	int		 present[4];
};

/* The configurations (one per policy) and the file's digests. */
static void
setup(void)
{
	char path[] = "/tmp/td-fuzz-sums-conf.XXXXXX", *errs = NULL;
	unsigned char d[TD_SHA512_LEN];
	struct td_sha512 h;
	FILE *f;
	size_t i;
	int fd;

	for (i = 0; i < TD_NELEM(conf); i++) {
		if ((fd = mkstemp(path)) < 0 || (f = fdopen(fd, "w")) == NULL)
			abort();
		fprintf(f, "[integration]\nname = fz\nstate_dir = /tmp/td-fuzz-"
		    "sums-state\n[output]\nurl = file:///tmp/td-fuzz-sums-out\n"
		    "[verify]\nchecksum = %s\nsignature = off\n[map]\n"
		    "store_id = column 1\ntxn_date = column 2 date \"%%Y%%m%%d\"\n"
		    "quantity = column 3 decimal\ngtin = column 4 gtin\n",
		    policies[i]);
		fclose(f);
		if (td_conf_load(path, &conf[i], &errs) != 0) {
			fprintf(stderr, "fuzz-sums: %s\n", errs);
			abort();
		}
		unlink(path);
		memcpy(path + strlen(path) - 6, "XXXXXX", 6);
	}
	td_sha256_hex(DATA, strlen(DATA), sha256);
	td_sha512_init(&h);
	td_sha512_update(&h, DATA, strlen(DATA));
	td_sha512_final(&h, d);
	td_hex(d, sizeof(d), sha512);
}

/* The name from the first line, or x.csv. */
static char *
name_of(const char *p, size_t n, size_t *used)
{
	const char *nl = memchr(p, '\n', n);
	size_t len = nl != NULL ? (size_t)(nl - p) : n;
	char *name;

	*used = nl != NULL ? len + 1 : n;
	name = xstrndup(p, len);
	if (len == 0 || len > NAME_MAXLEN || strlen(name) != len ||
	    strchr(name, '/') != NULL || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0 || sidecar_is(name) ||
	    strncmp(name, ".tmp", 4) == 0) {
		x_free(name);
		name = xstrdup("x.csv");
	}
	return name;
}

/* The sidecar text: p[0..n) with @256 and @512 replaced. */
static void
text_of(const char *p, size_t n, struct td_buf *t)
{
	size_t i;

	td_buf_init(t, n + 1, 0);
	for (i = 0; i < n; i++) {
		if (n - i >= 4 && memcmp(p + i, "@256", 4) == 0) {
			td_buf_puts(t, sha256);
			i += 3;
		} else if (n - i >= 4 && memcmp(p + i, "@512", 4) == 0) {
			td_buf_puts(t, sha512);
			i += 3;
		} else
			td_buf_putc(t, p[i]);
	}
}

static void
put(const char *dir, const char *name, const char *p, size_t n)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f;

	if ((f = fopen(path, "w")) == NULL || (n > 0 && fwrite(p, 1, n, f) !=
	    n) || fclose(f) != 0)
		abort();
	x_free(path);
}

/* The sidecar names: NAME.sha256, NAME.sha512, SHA256SUMS, SHA512SUMS. */
static void
names_of(const char *name, char *sc[4])
{
	sc[0] = xasprintf("%s.sha256", name);
	sc[1] = xasprintf("%s.sha512", name);
	sc[2] = xstrdup("SHA256SUMS");
	sc[3] = xstrdup("SHA512SUMS");
}

/* What verifying name against the sidecars in which (text t) gives. */
static void
expect(const struct td_buf *t, const char *name, unsigned which, int pol,
    struct want *w)
{
	char hex[129];
	const char *want;
	size_t i;
	int algo, r, n = 0;

	memset(w, 0, sizeof(*w));
	r = verify_checksum_lookup(t->p ? t->p : "", t->len, name, &algo, hex);
	for (i = 0; i < 4; i++) {
		w->present[i] = (which >> i & 1) && (i < 2 || r == 0 ||
		    r == TD_ERR_FORMAT);
		n += w->present[i];
	}
	if (n > 0 && r == 0 && algo == VFY_SHA512)
		w->wants = SC_WANT_SHA512;
	if (strcmp(policies[pol], "off") == 0) {
		w->checksum = "off";
		return;
	}
	if (n == 0) {
		w->checksum = "absent";
		if (strcmp(policies[pol], "required") == 0)
			w->code = "checksum_missing";
		return;
	}
	w->checksum = "failed";
	if (r != 0) {
		w->code = "checksum_malformed";
		return;
	}
	want = algo == VFY_SHA512 ? sha512 : sha256;
	w->algo = algo == VFY_SHA512 ? "sha512" : "sha256";
	if (strcmp(hex, want) != 0) {
		w->code = "checksum_mismatch";
		return;
	}
	w->checksum = "ok";
}

/* Find and verify name in dir; the outcome must be w. */
static void
verify_in(const char *dir, const char *name, char *sc[4], int pol,
    const struct want *w)
{
	struct sidecars s;
	struct verification v;
	char *j;
	size_t i;

	sidecar_find(dir, name, &s);
	if ((s.sum256 != NULL) != w->present[0] ||
	    (s.sum512 != NULL) != w->present[1] ||
	    (s.manifest[0] != NULL) != w->present[2] ||
	    (s.manifest[1] != NULL) != w->present[3] || s.sig != NULL ||
	    sidecar_wants(&s) != w->wants)
		abort();
	for (i = 2; i < 4; i++)
		if (w->present[i] != sidecar_manifest_names(dir, sc[i], name))
			abort();
	sidecar_verify(conf[pol], NULL, 0, dir, name, &s, sha256,
	    w->wants & SC_WANT_SHA512 ? sha512 : NULL, NULL, &v);
	if ((v.code == NULL) != (w->code == NULL) ||
	    (v.code != NULL && strcmp(v.code, w->code) != 0) ||
	    v.checksum == NULL || strcmp(v.checksum, w->checksum) != 0 ||
	    (v.checksum_algo == NULL) != (w->algo == NULL) ||
	    (w->algo != NULL && strcmp(v.checksum_algo, w->algo) != 0) ||
	    strnlen(v.msg, sizeof(v.msg)) == sizeof(v.msg) ||
	    (v.code != NULL && v.msg[0] == '\0'))
		abort();
	j = sidecar_json(&v);
	if (j[0] != '{' || j[strlen(j) - 1] != '}' ||
	    strchr(j + 1, '{') != NULL)
		abort();
	x_free(j);
	sidecar_free(&s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static int once;
	const char *p = (const char *)data;
	char top[] = "/tmp/td-fuzz-sums.XXXXXX";
	char *name, *landing, *claim, *sc[4];
	struct td_buf t, lines;
	struct want w;
	unsigned which = n > 0 ? data[0] & 0xf : 0;
	int pol = n > 0 ? data[0] >> 4 & 3 : 0;
	size_t used, i;

	if (!once) {
		setup();
		once = 1;
	}
	if (which == 0)
		which = 4;
	name = name_of(p + (n > 0), n - (n > 0), &used);
	used += n > 0;
	text_of(p + used, n - used, &t);
	names_of(name, sc);
	/* a new private directory each time (a manifest's parsed index
	 * is cached by path and version) */
	if (mkdtemp(top) == NULL)
		abort();
	landing = xasprintf("%s/landing", top);
	claim = xasprintf("%s/claim", top);
	if (mkdir(landing, 0700) != 0 || mkdir(claim, 0700) != 0)
		abort();
	put(landing, name, DATA, strlen(DATA));
	put(claim, name, DATA, strlen(DATA));
	for (i = 0; i < 4; i++)
		if (which >> i & 1)
			put(landing, sc[i], t.p ? t.p : "", t.len);
	expect(&t, name, which, pol, &w);
	verify_in(landing, name, sc, pol, &w);

	/* the claim: per-file sidecars as they are, manifests' lines */
	td_buf_init(&lines, 0, 0);
	for (i = 0; i < 4; i++) {
		if (!w.present[i])
			continue;
		td_buf_reset(&lines);
		if (i < 2)
			td_buf_append(&lines, t.p, t.len);
		else if (sidecar_manifest_extract(landing, sc[i], name,
		    &lines) != 0)
			abort();
		put(claim, sc[i], lines.p ? lines.p : "", lines.len);
	}
	verify_in(claim, name, sc, pol, &w);

	td_buf_free(&lines);
	td_buf_free(&t);
	for (i = 0; i < 4; i++)
		x_free(sc[i]);
	if (td_remove_tree(top, "/tmp") != 0)
		abort();
	x_free(landing);
	x_free(claim);
	x_free(name);
	return 0;
}
