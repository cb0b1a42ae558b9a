/* hash.h - SHA-256 through OpenSSL's libcrypto (SHA-NI where present). */
#ifndef TD_HASH_H
#define TD_HASH_H

#include <stddef.h>

#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>

#define TD_SHA256_LEN	32
#define TD_SHA256_HEX	65

struct td_sha256 {
	SHA256_CTX	c;
};

static inline void
td_sha256_init(struct td_sha256 *h)
{
	SHA256_Init(&h->c);
}

static inline void
td_sha256_update(struct td_sha256 *h, const void *p, size_t n)
{
	SHA256_Update(&h->c, p, n);
}

static inline void
td_sha256_final(struct td_sha256 *h, unsigned char out[TD_SHA256_LEN])
{
	SHA256_Final(out, &h->c);
}

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void	td_hex(const unsigned char *in, size_t n, char *out);
/* One-shot: hex SHA-256 of p. */
void	td_sha256_hex(const void *p, size_t n, char out[TD_SHA256_HEX]);
int	td_is_sha256_hex(const char *s);
/* Hex SHA-256 of what is left to read of fd. 0, or TD_ERR_IO. */
int	td_sha256_fd(int fd, char out[TD_SHA256_HEX]);

#endif
