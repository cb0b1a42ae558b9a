/*
 * sha256ni.h - SHA-256 (FIPS 180-4) with the x86 SHA extensions, for
 * short messages hashed together (a record's ids): td_sha256_once_n
 * (hash.c) picks it at run time where sha256ni_usable() says the CPU
 * has them, and libcrypto's EVP otherwise.
 */
#ifndef TD_SHA256NI_H
#define TD_SHA256NI_H

#include <stddef.h>

/* 1 if this build has the code and this CPU runs it (SHA, SSSE3,
 * SSE4.1), else 0. */
int	sha256ni_usable(void);
/* The SHA-256 of the n bytes at p; only where sha256ni_usable(). (For
 * tests/bench/bench-sha256: hash.c keeps EVP for one message alone.) */
void	sha256ni_once(const void *p, size_t n, unsigned char out[32]);
/* out[i] = the SHA-256 of the n[i] bytes at p[i] for i < k, two
 * messages at a time in the time of about one. */
void	sha256ni_many(size_t k, const void *const p[], const size_t n[],
	    unsigned char (*out)[32]);

#endif
