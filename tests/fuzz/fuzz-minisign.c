/*
 * fuzz-minisign.c - libFuzzer harness: one input fed as a .minisig, as a
 * public key and as a checksum file. Nothing may crash, and what parses
 * must keep the documented shape: a NUL-terminated trusted comment of at
 * most 8191 bytes (VFY_COMMENTMAX, what a struct minisign_sig holds), a
 * digest of 64 or 128 lower-case hex digits.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "td.h"
#include "buf.h"
#include "verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_hex(int algo, const char hex[129])
{
	size_t n = strnlen(hex, 129);

	if (n == 129 || (algo == VFY_SHA256 && n != 64) ||
	    (algo == VFY_SHA512 && n != 128) ||
	    (algo != VFY_SHA256 && algo != VFY_SHA512) ||
	    strspn(hex, "0123456789abcdef") != n)
		abort();
}

/*
 * The index of a checksum file answers as the whole-text lookup, and the
 * lines it keeps for name give that answer on their own.
 */
static void
check_index(const struct vfy_sums *ix, const char *text, size_t n,
    const char *name)
{
	struct td_buf ex;
	char hex[129], hex2[129];
	int algo, algo2, r, r2;

	r = verify_checksum_lookup(text, n, name, &algo, hex);
	r2 = verify_sums_lookup(ix, name, &algo2, hex2);
	if (r != r2 || algo != algo2 || strcmp(hex, hex2) != 0)
		abort();
	td_buf_init(&ex, 0, 0);
	r2 = verify_sums_extract(ix, name, &ex);
	if (r == TD_ERR_NOTFOUND ? (r2 != TD_ERR_NOTFOUND || ex.len != 0) :
	    r2 != 0)
		abort();
	if (r != TD_ERR_NOTFOUND) {
		r2 = verify_checksum_lookup(ex.p ? ex.p : "", ex.len, name,
		    &algo2, hex2);
		if (r != r2 || algo != algo2 || strcmp(hex, hex2) != 0)
			abort();
	}
	td_buf_free(&ex);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	const char *text = (const char *)data;
	struct minisign_sig sig;
	struct minisign_key key;
	struct vfy_sums *ix;
	uint8_t h[64];
	char hex[129], id[17];
	size_t which;
	int algo, r;

	memset(h, 0, sizeof(h));
	if (minisign_parse_pubkey(text, n, &key) != 0) {
		/* a key that matches whatever id the signature names */
		memset(&key, 0, sizeof(key));
	}
	minisign_keyid_hex(key.keyid, id);
	if (strlen(id) != 16)
		abort();
	if (minisign_parse_sig(text, n, &sig) == 0) {
		if (strnlen(sig.trusted_comment,
		    sizeof(sig.trusted_comment)) >
		    sizeof(sig.trusted_comment) - 1)
			abort();
		if (sig.prehashed != 0 && sig.prehashed != 1)
			abort();
		memcpy(key.keyid, sig.keyid, sizeof(key.keyid));
		if (minisign_verify(&sig, &key, 1, h, data, n, &which) ==
		    NULL && which != 0)
			abort();
	}

	r = verify_checksum_lookup(text, n, "x.csv", &algo, hex);
	if (r == 0)
		check_hex(algo, hex);
	else if (r != TD_ERR_FORMAT && r != TD_ERR_NOTFOUND)
		abort();
	if (verify_sums_new(xstrndup(text, n), n, &ix) != 0)
		abort();
	check_index(ix, text, n, "x.csv");
	/* the input's first line as the name to look up */
	if (n > 0 && n < 4096) {
		char name[4096];
		const char *nl = memchr(text, '\n', n);
		size_t len = nl != NULL ? (size_t)(nl - text) : n;

		memcpy(name, text, len);
		name[len] = '\0';
		if (name[0] != '\0' &&
		    verify_checksum_lookup(text, n, name, &algo, hex) == 0)
			check_hex(algo, hex);
		if (name[0] != '\0' && strlen(name) == len)
			check_index(ix, text, n, name);
	}
	verify_sums_free(ix);
	return 0;
}
