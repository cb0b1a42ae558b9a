/* hash.c - hex helpers around SHA-256. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "td.h"

#include "hash.h"

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
	if (n < 0)
		return TD_ERR_IO;
	td_sha256_final(&h, d);
	td_hex(d, sizeof(d), out);
	return TD_OK;
}
