/*
 * bench-sha256.c - `make bench`: the cost of one SHA-256 of a record
 * id's message (32, 64, 100, 200 bytes; and 1000 for scale), by the ways
 * there are to compute it:
 *
 *   evp        EVP_DigestInit_ex2/Update/Final_ex on a kept context, as
 *              td_sha256_once does
 *   SHA256()   libcrypto's one-shot (fetches the digest at each call)
 *   EVP_Digest libcrypto's EVP one-shot with a prefetched digest
 *   sha-ni     common/sha256ni.c one message at a time (where the CPU
 *              has the SHA extensions)
 *   sha-ni x2, x3  the same, two or three messages of the length at
 *              once (interleaved two by two), per message
 *
 * and a record's three ids (75, 39 and 120 bytes, as in the 100 MB bench
 * drop) by EVP one by one against td_sha256_once_n.
 *
 *   bench-sha256 [ITERATIONS]
 *
 * Prints nanoseconds per hash, in CPU time, best of three runs. A
 * benchmark: it exits 0 whatever the result.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "td.h"
#include "hash.h"
#include "sha256ni.h"

static EVP_MD *md;
static EVP_MD_CTX *mctx;

static void
h_evp(const void *p, size_t n, unsigned char *out)
{
	if (EVP_DigestInit_ex2(mctx, md, NULL) != 1 ||
	    EVP_DigestUpdate(mctx, p, n) != 1 ||
	    EVP_DigestFinal_ex(mctx, out, NULL) != 1)
		td_fatal("EVP");
}

static void
h_sha256(const void *p, size_t n, unsigned char *out)
{
	(void)SHA256(p, n, out);
}

static void
h_evp_digest(const void *p, size_t n, unsigned char *out)
{
	if (EVP_Digest(p, n, out, NULL, md, NULL) != 1)
		td_fatal("EVP_Digest");
}

/* three messages at once (a record's three ids), ns per message */
static void
h_ni3(const void *p, size_t n, unsigned char *out)
{
	const void *pv[3] = { p, (const char *)p + 1, (const char *)p + 2 };
	const size_t nv[3] = { n - 2, n - 2, n - 2 };
	unsigned char d[3][32];

	sha256ni_many(3, pv, nv, d);
	memcpy(out, d[0], 32);
}

static void
h_ni2(const void *p, size_t n, unsigned char *out)
{
	const void *pv[2] = { p, (const char *)p + 1 };
	const size_t nv[2] = { n - 1, n - 1 };
	unsigned char d[2][32];

	sha256ni_many(2, pv, nv, d);
	memcpy(out, d[0], 32);
}

/* a record's three ids, as the 100 MB bench drop's: 75, 39 and 120
 * bytes (record_id, record_key, values) */
static const size_t reclen[3] = { 75, 39, 120 };

static void
rec_evp(const void *p, size_t n, unsigned char *out)
{
	unsigned char d[3][32];
	int i;

	for (i = 0; i < 3; i++)
		h_evp((const char *)p + 200 * i, reclen[i], d[i]);
	memcpy(out, d[2], 32);
}

static void
rec_n(const void *p, size_t n, unsigned char *out)
{
	const void *pv[3] = { p, (const char *)p + 200,
	    (const char *)p + 400 };
	unsigned char d[3][32];

	td_sha256_once_n(3, pv, reclen, d);
	memcpy(out, d[2], 32);
}

static double
now_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ns per hash of n bytes, best of three runs of iters */
static double
run(void (*fn)(const void *, size_t, unsigned char *), unsigned char *msg,
    size_t n, long iters)
{
	unsigned char d[TD_SHA256_LEN];
	double best = 0, t;
	long i;
	int r;

	for (r = 0; r < 3; r++) {
		t = now_cpu();
		for (i = 0; i < iters; i++) {
			/* each message differs, as record ids do */
			msg[0] = (unsigned char)i;
			fn(msg, n, d);
			msg[1] ^= d[0];
		}
		t = (now_cpu() - t) / iters * 1e9;
		if (r == 0 || t < best)
			best = t;
	}
	return best;
}

int
main(int argc, char **argv)
{
	static const size_t lens[] = { 32, 64, 100, 200, 1000 };
	static const struct {
		const char	*name;
		void		(*fn)(const void *, size_t, unsigned char *);
		int		 ni;
		int		 k;
	} impl[] = {
		{ "evp", h_evp, 0, 1 },
		{ "SHA256()", h_sha256, 0, 1 },
		{ "EVP_Digest", h_evp_digest, 0, 1 },
		{ "sha-ni", sha256ni_once, 1, 1 },
		{ "sha-ni x2", h_ni2, 1, 2 },
		{ "sha-ni x3", h_ni3, 1, 3 },
	};
	unsigned char msg[1000];
	long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
	size_t i, l;

	if (iters <= 0)
		iters = 1000000;
	if ((md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
	    (mctx = EVP_MD_CTX_new()) == NULL)
		td_fatal("libcrypto");
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)(i * 131 + 7);
	printf("SHA-256, ns per hash (CPU time, best of 3 x %ld)\n%-12s",
	    iters, "bytes");
	for (l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
		printf(" %8zu", lens[l]);
	printf("\n");
	for (i = 0; i < sizeof(impl) / sizeof(impl[0]); i++) {
		if (impl[i].ni && !sha256ni_usable())
			continue;
		printf("%-12s", impl[i].name);
		for (l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
			printf(" %8.1f", run(impl[i].fn, msg, lens[l],
			    iters) / impl[i].k);
		printf("\n");
	}
	printf("a record's three ids (75, 39, 120 bytes), ns per record:\n"
	    "  evp, one by one          %8.1f\n"
	    "  td_sha256_once_n, %-6s  %8.1f\n",
	    run(rec_evp, msg, 0, iters), td_sha256_once_n_impl(),
	    run(rec_n, msg, 0, iters));
	EVP_MD_CTX_free(mctx);
	EVP_MD_free(md);
	return 0;
}
