/*
 * test-sha256.c - td_sha256_once_n (a record's ids) and td_sha256_once
 * give OpenSSL's SHA-256, byte for byte, by whichever implementation
 * the process picked: the SHA-NI code of common/sha256ni.c where the
 * CPU has the SHA extensions, and EVP (TD_TEST_SHA256=evp, in a child
 * process as the pick is once per process). Each is checked on the FIPS 180-4
 * examples, on every length 0..300 (the padding's edges at 55, 56 and
 * 64 bytes and their multiples), and on millions of random messages of
 * random lengths 0..1100 at random alignments, alone and in groups of
 * 1 to 5 (TD_TEST_SHA256_N of them; 3000000 by default).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "child.h"
#include "tap.h"
#include "td.h"
#include "hash.h"
#include "sha256ni.h"

#define MAXLEN	1100
#define GROUP	5

static const struct {
	const char	*msg;
	const char	*sha;
} fips[] = {
	{ "abc",
	  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "",
	  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
	  "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
	  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
};
/* SHA-256 of one million 'a' */
static const char million[] =
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

static EVP_MD *md;

/* xorshift64* (the state never 0) */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static void
fill(unsigned char *p, size_t n, uint64_t *s)
{
	uint64_t r;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		r = rnd(s);
		memcpy(p + i, &r, 8);
	}
	for (r = rnd(s); i < n; i++, r >>= 8)
		p[i] = (unsigned char)r;
}

/* OpenSSL's digest, through nothing of hash.c */
static void
ref(const void *p, size_t n, unsigned char out[TD_SHA256_LEN])
{
	if (EVP_Digest(p, n, out, NULL, md, NULL) != 1)
		td_fatal("EVP_Digest");
}

/* The FIPS examples, one at a time and all at once: the mismatches. */
static int
check_fips(void)
{
	const void *p[5];
	size_t n[5], i;
	unsigned char d[5][TD_SHA256_LEN];
	char x[TD_SHA256_HEX], *big;
	int bad = 0;

	for (i = 0; i < 4; i++) {
		p[i] = fips[i].msg;
		n[i] = strlen(fips[i].msg);
		td_sha256_once(p[i], n[i], d[i]);
		td_hex(d[i], TD_SHA256_LEN, x);
		bad += strcmp(x, fips[i].sha) != 0;
	}
	big = xmalloc(1000000);
	memset(big, 'a', 1000000);
	p[4] = big;
	n[4] = 1000000;
	td_sha256_once(big, 1000000, d[4]);
	td_hex(d[4], TD_SHA256_LEN, x);
	bad += strcmp(x, million) != 0;
	memset(d, 0, sizeof(d));
	td_sha256_once_n(5, p, n, d);
	for (i = 0; i < 5; i++) {
		td_hex(d[i], TD_SHA256_LEN, x);
		bad += strcmp(x, i < 4 ? fips[i].sha : million) != 0;
	}
	x_free(big);
	return bad;
}

/* Every length 0..300, 20 random messages each (one all 0xff), alone
 * and two by two: the mismatches with OpenSSL. */
static int
check_lengths(uint64_t *s)
{
	unsigned char a[301], b[301], da[2][TD_SHA256_LEN], want[2][32];
	const void *p[2] = { a, b };
	size_t len, n[2];
	int r, bad = 0;

	for (len = 0; len <= 300; len++)
		for (r = 0; r < 20; r++) {
			fill(a, len, s);
			if (r == 0)
				memset(a, 0xff, len);
			fill(b, 300 - len, s);
			n[0] = len;
			n[1] = 300 - len;
			ref(a, len, want[0]);
			ref(b, 300 - len, want[1]);
			td_sha256_once(a, len, da[0]);
			bad += memcmp(da[0], want[0], 32) != 0;
			memset(da, 0, sizeof(da));
			td_sha256_once_n(2, p, n, da);
			bad += memcmp(da, want, sizeof(want)) != 0;
		}
	return bad;
}

/* nmsg random messages of random lengths 0..MAXLEN at random offsets,
 * in groups of 1..GROUP, and each alone: the mismatches. */
static long
check_random(long nmsg, uint64_t *s)
{
	unsigned char *buf[GROUP], d[GROUP][TD_SHA256_LEN],
	    want[GROUP][TD_SHA256_LEN], one[TD_SHA256_LEN];
	const void *p[GROUP];
	size_t n[GROUP];
	long done, bad = 0;
	int i, k;

	for (i = 0; i < GROUP; i++)
		buf[i] = xmalloc(MAXLEN + 16);
	for (done = 0; done < nmsg; done += k) {
		k = 1 + (int)(rnd(s) % GROUP);
		for (i = 0; i < k; i++) {
			n[i] = rnd(s) % (MAXLEN + 1);
			p[i] = buf[i] + rnd(s) % 16;
			fill((unsigned char *)p[i], n[i], s);
			ref(p[i], n[i], want[i]);
		}
		td_sha256_once_n((size_t)k, p, n, d);
		for (i = 0; i < k; i++) {
			bad += memcmp(d[i], want[i], TD_SHA256_LEN) != 0;
			td_sha256_once(p[i], n[i], one);
			bad += memcmp(one, want[i], TD_SHA256_LEN) != 0;
		}
	}
	for (i = 0; i < GROUP; i++)
		x_free(buf[i]);
	return bad;
}

static long
nrandom(void)
{
	const char *e = getenv("TD_TEST_SHA256_N");
	long n = e != NULL ? strtol(e, NULL, 10) : 0;

	return n > 0 ? n : 3000000;
}

/* In a child: the EVP fallback, forced. Exit 0 when every digest
 * matched, 2 when EVP was not the one picked, 1 else. */
static int
fallback(void *arg)
{
	uint64_t s = 2;

	if (setenv("TD_TEST_SHA256", "evp", 1) != 0)
		return 3;
	if (strcmp(td_sha256_once_n_impl(), "evp") != 0)
		return 2;
	return check_fips() != 0 || check_lengths(&s) != 0 ||
	    check_random(nrandom() / 10, &s) != 0;
}

int
main(void)
{
	uint64_t s = 1;
	long n = nrandom();

	if ((md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
		td_fatal("libcrypto has no SHA256");

	/* first, before this process picks its own */
	is_int(run_in_child(fallback, NULL), 0, "TD_TEST_SHA256=evp: EVP, "
	    "and its digests are OpenSSL's on the FIPS examples, every "
	    "length 0..300 and %ld random messages", n / 10);

	if (sha256ni_usable())
		is_str(td_sha256_once_n_impl(), "sha-ni", "this CPU has the SHA "
		    "extensions: the SHA-NI code is the one used");
	else
		is_str(td_sha256_once_n_impl(), "evp", "no SHA extensions here "
		    "(or not built with them): EVP is used");
	is_int(check_fips(), 0, "%s: the FIPS 180-4 examples (abc, "
	    "nothing, 448 and 896 bits, a million a), alone and together",
	    td_sha256_once_n_impl());
	is_int(check_lengths(&s), 0, "%s: OpenSSL's digest at every length "
	    "0..300, alone and in pairs", td_sha256_once_n_impl());
	is_int(check_random(n, &s), 0, "%s: OpenSSL's digest on %ld random "
	    "messages of 0..%d bytes, alone and in groups of 1..%d",
	    td_sha256_once_n_impl(), n, MAXLEN, GROUP);
	EVP_MD_free(md);
	return done_testing();
}
