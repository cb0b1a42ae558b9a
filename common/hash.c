/*
 * hash.c - SHA-256 and SHA-512 over OpenSSL's EVP interface, and hex
 * helpers. See hash.h for the rules a state follows.
 *
 * Speed: the digests are fetched once per process (an implicit fetch at
 * every init is what makes EVP slow), and digest contexts are kept in a
 * per-thread cache of a few per algorithm, so hashing a record id does
 * not allocate a context. (libcrypto 3.0 itself still renews its
 * provider state inside EVP_DigestInit_ex2; later versions reuse it.)
 * Several short messages hashed together (a record's ids) skip EVP
 * where the CPU has the SHA extensions (sha256ni.c).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "td.h"

#include "hash.h"
#include "sha256ni.h"

#define MD_SHA256	0
#define MD_SHA512	1
#define MD_N		2
#define MD_CACHE	4	/* contexts kept per thread and algorithm */

struct md_cache {
	EVP_MD_CTX	*c[MD_N][MD_CACHE];
	int		 n[MD_N];
};

static const char *md_names[MD_N] = { "SHA256", "SHA512" };
static const char *md_types[MD_N] = { "td_sha256", "td_sha512" };
static EVP_MD *md_alg[MD_N];
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static pthread_key_t md_key;
static _Thread_local struct md_cache *md_tls;

/* At the exit of a thread: free the contexts it kept. */
static void
md_cache_free(void *p)
{
	struct md_cache *mc = p;
	int a, i;

	for (a = 0; a < MD_N; a++)
		for (i = 0; i < mc->n[a]; i++)
			EVP_MD_CTX_free(mc->c[a][i]);
	x_free(mc);
}

static void
md_init_once(void)
{
	int a;

	for (a = 0; a < MD_N; a++)
		if ((md_alg[a] = EVP_MD_fetch(NULL, md_names[a], NULL)) ==
		    NULL)
			td_fatal("libcrypto has no %s", md_names[a]);
	if (pthread_key_create(&md_key, md_cache_free) != 0)
		td_fatal("pthread_key_create");
}

/* A context for algorithm a, initialised. */
static EVP_MD_CTX *
md_get(int a)
{
	struct md_cache *mc = md_tls;
	EVP_MD_CTX *c;

	pthread_once(&md_once, md_init_once);
	if (mc == NULL) {
		mc = xcalloc(1, sizeof(*mc));
		if (pthread_setspecific(md_key, mc) != 0)
			td_fatal("pthread_setspecific");
		md_tls = mc;
	}
	if (mc->n[a] > 0)
		c = mc->c[a][--mc->n[a]];
	else if ((c = EVP_MD_CTX_new()) == NULL)
		td_fatal("out of memory");
	if (EVP_DigestInit_ex2(c, md_alg[a], NULL) != 1)
		td_fatal("libcrypto: %s init failed", md_names[a]);
	return c;
}

static void
md_put(int a, EVP_MD_CTX *c)
{
	struct md_cache *mc = md_tls;

	if (mc != NULL && mc->n[a] < MD_CACHE)
		mc->c[a][mc->n[a]++] = c;
	else
		EVP_MD_CTX_free(c);
}

/*
 * The generic operations on a state (ctx, self) of algorithm a. A state
 * is live from init to final or clear, and only at the address it was
 * initialised at.
 */
static void
md_live(int a, void *ctx, const void *self, const void *h)
{
	if (ctx == NULL || self != h)
		td_fatal("%s state used before init, after final, or copied "
		    "by value", md_types[a]);
}

static void
md_init(int a, void **ctx, const void **self, const void *h)
{
	*ctx = md_get(a);
	*self = h;
}

static void
md_update(int a, void *ctx, const void *self, const void *h,
    const void *p, size_t n)
{
	md_live(a, ctx, self, h);
	if (n > 0 && EVP_DigestUpdate(ctx, p, n) != 1)
		td_fatal("libcrypto: %s update failed", md_names[a]);
}

static void
md_final(int a, void **ctx, const void **self, const void *h,
    unsigned char *out)
{
	md_live(a, *ctx, *self, h);
	if (EVP_DigestFinal_ex(*ctx, out, NULL) != 1)
		td_fatal("libcrypto: %s final failed", md_names[a]);
	md_put(a, *ctx);
	*ctx = NULL;
	*self = NULL;
}

static void
md_copy(int a, void **dctx, const void **dself, const void *dst,
    void *sctx, const void *sself, const void *src)
{
	md_live(a, sctx, sself, src);
	*dctx = md_get(a);
	if (EVP_MD_CTX_copy_ex(*dctx, sctx) != 1)
		td_fatal("libcrypto: %s copy failed", md_names[a]);
	*dself = dst;
}

static void
md_clear(int a, void **ctx, const void **self, const void *h)
{
	if (*self == h && *ctx != NULL)
		md_put(a, *ctx);
	*ctx = NULL;
	*self = NULL;
}

void
td_sha256_init(struct td_sha256 *h)
{
	md_init(MD_SHA256, &h->ctx, &h->self, h);
}

void
td_sha256_update(struct td_sha256 *h, const void *p, size_t n)
{
	md_update(MD_SHA256, h->ctx, h->self, h, p, n);
}

void
td_sha256_final(struct td_sha256 *h, unsigned char out[TD_SHA256_LEN])
{
	md_final(MD_SHA256, &h->ctx, &h->self, h, out);
}

void
td_sha256_copy(struct td_sha256 *dst, const struct td_sha256 *src)
{
	md_copy(MD_SHA256, &dst->ctx, &dst->self, dst, src->ctx, src->self,
	    src);
}

void
td_sha256_clear(struct td_sha256 *h)
{
	md_clear(MD_SHA256, &h->ctx, &h->self, h);
}

void
td_sha512_init(struct td_sha512 *h)
{
	md_init(MD_SHA512, &h->ctx, &h->self, h);
}

void
td_sha512_update(struct td_sha512 *h, const void *p, size_t n)
{
	md_update(MD_SHA512, h->ctx, h->self, h, p, n);
}

void
td_sha512_final(struct td_sha512 *h, unsigned char out[TD_SHA512_LEN])
{
	md_final(MD_SHA512, &h->ctx, &h->self, h, out);
}

void
td_sha512_copy(struct td_sha512 *dst, const struct td_sha512 *src)
{
	md_copy(MD_SHA512, &dst->ctx, &dst->self, dst, src->ctx, src->self,
	    src);
}

void
td_sha512_clear(struct td_sha512 *h)
{
	md_clear(MD_SHA512, &h->ctx, &h->self, h);
}

void
td_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int
td_hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

void
td_sha256_once(const void *p, size_t n, unsigned char out[TD_SHA256_LEN])
{
	EVP_MD_CTX *c = md_get(MD_SHA256);

	if ((n > 0 && EVP_DigestUpdate(c, p, n) != 1) ||
	    EVP_DigestFinal_ex(c, out, NULL) != 1)
		td_fatal("libcrypto: SHA256 failed");
	md_put(MD_SHA256, c);
}

static void
sha256_evp_many(size_t k, const void *const p[], const size_t n[],
    unsigned char (*out)[TD_SHA256_LEN])
{
	size_t i;

	for (i = 0; i < k; i++)
		td_sha256_once(p[i], n[i], out[i]);
}

/*
 * Several short messages at once (a record's ids), picked once per
 * process: the SHA-NI code, which hashes two messages at a time
 * interleaved, where the CPU has the SHA extensions; EVP one by one
 * otherwise, or where the environment says TD_TEST_SHA256=evp (the
 * tests of the fallback). One message alone stays with EVP: libcrypto
 * uses the same instructions, whose latency bounds both; the SHA-NI code
 * is some 20% faster alone below 200 bytes, EVP from about 1000 up
 * (tests/bench/bench-sha256), and td_sha256_once's callers left are
 * large blocks or not per record.
 */
static void (*sha256_many_fn)(size_t, const void *const [], const size_t [],
    unsigned char (*)[TD_SHA256_LEN]);
static const char *sha256_many_name;
static pthread_once_t sha256_many_pick = PTHREAD_ONCE_INIT;

static void
sha256_pick(void)
{
	const char *e = getenv("TD_TEST_SHA256");

	if (e != NULL && strcmp(e, "evp") != 0 && strcmp(e, "auto") != 0)
		td_fatal("TD_TEST_SHA256: \"evp\" or \"auto\"");
	if ((e == NULL || strcmp(e, "evp") != 0) && sha256ni_usable()) {
		sha256_many_fn = sha256ni_many;
		sha256_many_name = "sha-ni";
	} else {
		sha256_many_fn = sha256_evp_many;
		sha256_many_name = "evp";
	}
}

const char *
td_sha256_once_n_impl(void)
{
	pthread_once(&sha256_many_pick, sha256_pick);
	return sha256_many_name;
}

void
td_sha256_once_n(size_t k, const void *const p[], const size_t n[],
    unsigned char (*out)[TD_SHA256_LEN])
{
	pthread_once(&sha256_many_pick, sha256_pick);
	sha256_many_fn(k, p, n, out);
}

void
td_sha256_hex(const void *p, size_t n, char out[TD_SHA256_HEX])
{
	struct td_sha256 h;
	unsigned char d[TD_SHA256_LEN];

	td_sha256_init(&h);
	td_sha256_update(&h, p, n);
	td_sha256_final(&h, d);
	td_hex(d, sizeof(d), out);
}

int
td_is_sha256_hex(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

int
td_sha256_fd(int fd, char out[TD_SHA256_HEX])
{
	struct td_sha256 h;
	unsigned char d[TD_SHA256_LEN];
	char *blk = xmalloc(1 << 20);
	ssize_t n;

	out[0] = '\0';
	td_sha256_init(&h);
	for (;;) {
		n = read(fd, blk, 1 << 20);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		td_sha256_update(&h, blk, (size_t)n);
	}
	x_free(blk);
	td_sha256_final(&h, d);
	if (n < 0)
		return TD_ERR_IO;
	td_hex(d, sizeof(d), out);
	return TD_OK;
}
