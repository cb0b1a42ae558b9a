/*
 * sha256ni.c - SHA-256 with the x86 SHA extensions (SHA-NI), written from
 * FIPS 180-4 and Intel's description of SHA256RNDS2, SHA256MSG1 and
 * SHA256MSG2. Only the block functions (one message, or two
 * interleaved) use the extensions, and only they are compiled for them
 * (a function attribute), so the rest of the build stays generic;
 * sha256ni_usable() asks the CPU before anything calls them. Where the
 * compiler has no such intrinsics (configure's HAVE_SHA_NI), only the
 * definitions at its end are built: sha256ni_usable() says 0, so hash.c
 * keeps to EVP, and the others, which nothing may then call, end the
 * process (they exist so that the tests and the bench still link).
 *
 * Layout of the instructions' operands: the state a..h is kept as two
 * vectors, ABEF (dwords, high to low: a b e f) and CDGH (c d g h);
 * SHA256RNDS2 takes CDGH, ABEF and two words W[t]+K[t] in its low half
 * and returns ABEF two rounds on, the old ABEF being the new CDGH.
 * SHA256MSG1 and SHA256MSG2 are the two halves of the message schedule
 * (sigma0 over W[t-15], sigma1 over W[t-2]); the W[t-7] term is added
 * between them.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "td.h"
#include "sha256ni.h"

#ifdef HAVE_SHA_NI

#include <cpuid.h>
#include <immintrin.h>

static const uint32_t sha256ni_k[64] __attribute__((aligned(16))) = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5,
	0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
	0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
	0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
	0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

static const uint32_t sha256ni_iv[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
};

int
sha256ni_usable(void)
{
	unsigned int a, b, c, d;

	/* leaf 1: SSSE3 (ECX bit 9), SSE4.1 (ECX bit 19) */
	if (!__get_cpuid(1, &a, &b, &c, &d) ||
	    (c & (1U << 9)) == 0 || (c & (1U << 19)) == 0)
		return 0;
	/* leaf 7, sub-leaf 0: SHA (EBX bit 29) */
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || (b & (1U << 29)) == 0)
		return 0;
	return 1;
}

/*
 * Four rounds from t = 4*i of a lane (its ABEF, CDGH): the words
 * W[t..t+3] are in w (W[t] in the low dword), added to K[t..t+3]; the
 * first two rounds take the low half, the next two the high half moved
 * down.
 */
#define SHA256NI_ROUNDS4(i, abef, cdgh, w) do {				\
	__m128i wk_ = _mm_add_epi32((w),				\
	    _mm_load_si128((const __m128i *)&sha256ni_k[4 * (i)]));	\
	(cdgh) = _mm_sha256rnds2_epu32((cdgh), (abef), wk_);		\
	(abef) = _mm_sha256rnds2_epu32((abef), (cdgh),			\
	    _mm_shuffle_epi32(wk_, 0x0e));				\
} while (0)

/*
 * A lane's W[4i..4i+3] into m[i % 4] (which held W[4i-16..4i-13]):
 * MSG2(MSG1(W[t-16..], W[t-12..]) + W[t-7..t-4], W[t-4..t-1]).
 */
#define SHA256NI_SCHEDULE4(i, m) do {					\
	(m)[(i) & 3] = _mm_sha256msg2_epu32(_mm_add_epi32(		\
	    _mm_sha256msg1_epu32((m)[(i) & 3], (m)[((i) + 1) & 3]),	\
	    _mm_alignr_epi8((m)[((i) + 3) & 3], (m)[((i) + 2) & 3], 4)),\
	    (m)[((i) + 3) & 3]);					\
} while (0)

/* Rounds 4i..4i+3 of a lane, its schedule first from i = 4. */
#define SHA256NI_STEP(i, abef, cdgh, m) do {				\
	if ((i) >= 4)							\
		SHA256NI_SCHEDULE4(i, m);				\
	SHA256NI_ROUNDS4(i, abef, cdgh, (m)[(i) & 3]);			\
} while (0)

/* The 64 rounds of a block: S(i) for i = 0..15. */
#define SHA256NI_BLOCK(S) do {						\
	S(0);  S(1);  S(2);  S(3);  S(4);  S(5);  S(6);  S(7);		\
	S(8);  S(9);  S(10); S(11); S(12); S(13); S(14); S(15);		\
} while (0)

/* A state h[0..7] (a..h; dwords low to high: a b c d, e f g h) as ABEF
 * (f e b a) and CDGH (h g d c). */
__attribute__((target("sha,sse4.1")))
static inline void
sha256ni_load(const uint32_t h[8], __m128i *abef, __m128i *cdgh)
{
	__m128i t0, t1;

	t0 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]),
	    0xb1);				/* b a d c */
	t1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]),
	    0x1b);				/* h g f e */
	*abef = _mm_alignr_epi8(t0, t1, 8);	/* f e b a */
	*cdgh = _mm_blend_epi16(t0, t1, 0x0f);	/* h g d c */
}

/* The state's sums with the block's starting state, back into h. */
__attribute__((target("sha,sse4.1")))
static inline void
sha256ni_store(uint32_t h[8], __m128i abef, __m128i cdgh)
{
	__m128i t0, t1, abef0, cdgh0;

	sha256ni_load(h, &abef0, &cdgh0);
	abef = _mm_add_epi32(abef, abef0);
	cdgh = _mm_add_epi32(cdgh, cdgh0);
	t0 = _mm_shuffle_epi32(abef, 0x1b);	/* a b e f */
	t1 = _mm_shuffle_epi32(cdgh, 0xb1);	/* g h c d */
	_mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(t0, t1, 0xf0));
	_mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(t1, t0, 8));
}

/*
 * One 64-byte block into each of two states: b0 into h0, b1 into h1.
 * The 64 rounds of a block are a chain, each waiting for the one
 * before (SHA256RNDS2's latency); two independent chains interleaved
 * take little longer than one.
 */
__attribute__((target("sha,sse4.1")))
static void
sha256ni_block2(uint32_t h0[8], const unsigned char *b0, uint32_t h1[8],
    const unsigned char *b1)
{
	/* byte order within each dword: the message is big-endian */
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL,
	    0x0405060700010203ULL);
	__m128i abef0, cdgh0, abef1, cdgh1, m0[4], m1[4];
	int i;

	sha256ni_load(h0, &abef0, &cdgh0);
	sha256ni_load(h1, &abef1, &cdgh1);
	for (i = 0; i < 4; i++) {
		m0[i] = _mm_shuffle_epi8(_mm_loadu_si128(
		    (const __m128i *)(b0 + 16 * i)), bswap);
		m1[i] = _mm_shuffle_epi8(_mm_loadu_si128(
		    (const __m128i *)(b1 + 16 * i)), bswap);
	}
#define SHA256NI_STEP2(i) do {						\
	SHA256NI_STEP(i, abef0, cdgh0, m0);				\
	SHA256NI_STEP(i, abef1, cdgh1, m1);				\
} while (0)
	SHA256NI_BLOCK(SHA256NI_STEP2);
#undef SHA256NI_STEP2
	sha256ni_store(h0, abef0, cdgh0);
	sha256ni_store(h1, abef1, cdgh1);
}

/* One block b into the state h: a lane alone. */
__attribute__((target("sha,sse4.1")))
static void
sha256ni_block1(uint32_t h[8], const unsigned char *b)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL,
	    0x0405060700010203ULL);
	__m128i abef, cdgh, m[4];
	int i;

	sha256ni_load(h, &abef, &cdgh);
	for (i = 0; i < 4; i++)
		m[i] = _mm_shuffle_epi8(_mm_loadu_si128(
		    (const __m128i *)(b + 16 * i)), bswap);
#define SHA256NI_STEP1(i)	SHA256NI_STEP(i, abef, cdgh, m)
	SHA256NI_BLOCK(SHA256NI_STEP1);
#undef SHA256NI_STEP1
	sha256ni_store(h, abef, cdgh);
}

/* A message on its way through a lane: its whole blocks, then the last
 * one or two (the rest of it and the padding) from tail. */
struct sha256ni_lane {
	const unsigned char	*p;
	size_t			 full;	/* whole blocks at p */
	size_t			 nblk;	/* full + 1 or 2 */
	size_t			 i;	/* the next block */
	unsigned char		*out;
	uint32_t		 h[8];
	unsigned char		 tail[128];
};

__attribute__((target("sse2")))
static void
sha256ni_start(struct sha256ni_lane *l, const void *p, size_t n,
    unsigned char *out)
{
	uint64_t bits = __builtin_bswap64((uint64_t)n << 3);
	size_t rest = n % 64, tn, i;

	l->p = p;
	l->full = n / 64;
	l->i = 0;
	l->out = out;
	memcpy(l->h, sha256ni_iv, sizeof(l->h));
	/* the padding: 0x80, zeros, the length in bits (big-endian) in the
	 * last 8 bytes of one block, or of two where fewer than 9 are left */
	tn = rest < 56 ? 64 : 128;
	l->nblk = l->full + tn / 64;
	/* zeros (SSE2 stores: the memset would be a rep stos, slow to
	 * start for 128 bytes) */
	for (i = 0; i < sizeof(l->tail); i += 16)
		_mm_storeu_si128((__m128i *)(l->tail + i), _mm_setzero_si128());
	if (rest > 0)
		memcpy(l->tail, l->p + 64 * l->full, rest);
	l->tail[rest] = 0x80;
	memcpy(l->tail + tn - 8, &bits, 8);
}

static const unsigned char *
sha256ni_next(struct sha256ni_lane *l)
{
	return l->i < l->full ? l->p + 64 * l->i :
	    l->tail + 64 * (l->i - l->full);
}

static void
sha256ni_done(struct sha256ni_lane *l)
{
	uint32_t v;
	int i;

	/* big-endian words */
	for (i = 0; i < 8; i++) {
		v = __builtin_bswap32(l->h[i]);
		memcpy(l->out + 4 * i, &v, 4);
	}
}

/*
 * The messages go to the two lanes longest first (up to 16 of them;
 * beyond, in order), each lane taking the next as it finishes one: for a
 * record's ids of 2, 1 and 3 blocks, three steps of two blocks instead
 * of four.
 */
void
sha256ni_many(size_t k, const void *const p[], const size_t n[],
    unsigned char (*out)[32])
{
	struct sha256ni_lane lane[2], *l[2] = { NULL, NULL }, *one;
	size_t ord[16], next = 0, i, j, t;
	int w;

	for (i = 0; i < k && i < 16; i++) {
		/* insertion by block count, descending (n / 64 orders the
		 * same way as the count n / 64 + 1 or 2, near enough) */
		for (j = i; j > 0 && n[ord[j - 1]] < n[i]; j--)
			ord[j] = ord[j - 1];
		ord[j] = i;
	}
	for (;;) {
		for (w = 0; w < 2; w++)
			if (l[w] == NULL && next < k) {
				t = next < 16 ? ord[next] : next;
				l[w] = &lane[w];
				sha256ni_start(l[w], p[t], n[t], out[t]);
				next++;
			}
		if (l[0] != NULL && l[1] != NULL)
			sha256ni_block2(l[0]->h, sha256ni_next(l[0]),
			    l[1]->h, sha256ni_next(l[1]));
		else if ((one = l[0] != NULL ? l[0] : l[1]) != NULL)
			sha256ni_block1(one->h, sha256ni_next(one));
		else
			break;
		for (w = 0; w < 2; w++)
			if (l[w] != NULL && ++l[w]->i == l[w]->nblk) {
				sha256ni_done(l[w]);
				l[w] = NULL;
			}
	}
}

void
sha256ni_once(const void *p, size_t n, unsigned char out[32])
{
	sha256ni_many(1, &p, &n, (unsigned char (*)[32])out);
}

#else	/* !HAVE_SHA_NI */

int
sha256ni_usable(void)
{
	return 0;
}

void
sha256ni_many(size_t k, const void *const p[], const size_t n[],
    unsigned char (*out)[32])
{
	td_fatal("sha256ni_many: not built with the SHA extensions");
}

void
sha256ni_once(const void *p, size_t n, unsigned char out[32])
{
	td_fatal("sha256ni_once: not built with the SHA extensions");
}

#endif
