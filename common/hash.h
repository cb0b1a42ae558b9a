/*
 * hash.h - SHA-256 and SHA-512 through OpenSSL's EVP interface (SHA-NI
 * where present): transmission ids, batch digests, record ids, the audit
 * chain, checksum sidecars.
 *
 * A state holds a libcrypto digest context taken from a small per-thread
 * cache: init takes one (allocating only when the cache is empty), final
 * hands it back, and the algorithm is fetched once per process. So every
 * state that was initialised ends in exactly one final or clear, and a
 * state is never copied by value (the copy would share the context): use
 * td_sha256_copy. A state used before init, after final, or copied by
 * value is a broken invariant (td_fatal), not a wrong digest.
 */
#ifndef TD_HASH_H
#define TD_HASH_H

#include <stddef.h>

#define TD_SHA256_LEN	32
#define TD_SHA256_HEX	65
/* record_id and record_key: the first 16 bytes of a SHA-256, in hex */
#define TD_ID_LEN	16
#define TD_ID_HEX	33
#define TD_SHA512_LEN	64
#define TD_SHA512_HEX	129

struct td_sha256 {
	void		*ctx;	/* EVP_MD_CTX */
	const void	*self;	/* this state's address while it is live */
};

struct td_sha512 {
	void		*ctx;
	const void	*self;
};

void	td_sha256_init(struct td_sha256 *);
void	td_sha256_update(struct td_sha256 *, const void *, size_t);
void	td_sha256_final(struct td_sha256 *, unsigned char out[TD_SHA256_LEN]);
/* dst (not live) becomes a copy of the live state src. */
void	td_sha256_copy(struct td_sha256 *dst, const struct td_sha256 *src);
/* Drop a live state unfinished; nothing on a zeroed or finished one. */
void	td_sha256_clear(struct td_sha256 *);

void	td_sha512_init(struct td_sha512 *);
void	td_sha512_update(struct td_sha512 *, const void *, size_t);
void	td_sha512_final(struct td_sha512 *, unsigned char out[TD_SHA512_LEN]);
void	td_sha512_copy(struct td_sha512 *dst, const struct td_sha512 *src);
void	td_sha512_clear(struct td_sha512 *);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void	td_hex(const unsigned char *in, size_t n, char *out);
/* The value of hex digit ch (either case), or -1. */
int	td_hexval(int ch);
/* One-shot: the SHA-256 of p, with a cached context. */
void	td_sha256_once(const void *p, size_t n,
	    unsigned char out[TD_SHA256_LEN]);
/* Several one-shots (the hot path: a record's ids): out[i] = the
 * SHA-256 of the n[i] bytes at p[i], i < k; with the SHA extensions
 * where the CPU has them, two messages in about the time of one. */
void	td_sha256_once_n(size_t k, const void *const p[], const size_t n[],
	    unsigned char (*out)[TD_SHA256_LEN]);
/* Which td_sha256_once_n uses in this process: "sha-ni" or "evp"
 * (forced by TD_TEST_SHA256=evp in the environment before its first
 * call). */
const char	*td_sha256_once_n_impl(void);
/* One-shot: hex SHA-256 of p. */
void	td_sha256_hex(const void *p, size_t n, char out[TD_SHA256_HEX]);
int	td_is_sha256_hex(const char *s);
/* Hex SHA-256 of what is left to read of fd. 0, or TD_ERR_IO. */
int	td_sha256_fd(int fd, char out[TD_SHA256_HEX]);

#endif
