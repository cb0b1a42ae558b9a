/*
 * verify.h - checksum sidecars and minisign signatures.
 *
 * Checksum files: GNU coreutils format ("HEX  NAME" or "HEX *NAME", one
 * or more lines, as SHA256SUMS) and BSD format ("SHA256 (NAME) = HEX",
 * "SHA512 (NAME) = HEX"). minisign: public keys (the base64 line, or a
 * .pub file with its untrusted comment), signatures in the prehashed "ED"
 * format (BLAKE2b-512 of the file, then Ed25519) and the legacy "Ed"
 * format (Ed25519 over the whole file), with the global signature over
 * signature || trusted comment. libsodium does the cryptography.
 */
#ifndef TD_VERIFY_H
#define TD_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#define VFY_SHA256	1
#define VFY_SHA512	2

/*
 * Find the digest that a checksum file gives for name (matched on the
 * name as written, or its last path component). Returns 0 with *algo and
 * hex (lower case, NUL-terminated; 129 bytes) set, TD_ERR_NOTFOUND when
 * the file has no line for name, TD_ERR_FORMAT when it is malformed.
 * A bare digest with no name (one line of just HEX) matches any name.
 */
int	 verify_checksum_lookup(const char *text, size_t len, const char *name,
	    int *algo, char hex[129]);

/*
 * A checksum file parsed once for many lookups (a SHA256SUMS naming
 * thousands of files). verify_sums_new takes text (allocated; it is
 * freed with the index, also on error) and indexes its entries by name;
 * a malformed file is indexed too and answers TD_ERR_FORMAT for every
 * name. Memory: the text plus about 48 bytes an entry.
 */
struct vfy_sums;
struct td_buf;
int	 verify_sums_new(char *text, size_t len, struct vfy_sums **out);
void	 verify_sums_free(struct vfy_sums *);
/*
 * Exactly what verify_checksum_lookup(text, len, name, ...) returns, in
 * time that does not grow with the file (a keyed hash of the names).
 */
int	 verify_sums_lookup(const struct vfy_sums *, const char *name,
	    int *algo, char hex[129]);
/*
 * Append to out the lines of the file that concern name, verbatim, one
 * LF after each: those naming it (exactly or by last component), or the
 * line(s) that make the file malformed, or its bare digest. A checksum
 * file of just those lines gives verify_checksum_lookup the same answer
 * for name as the whole file. 0, or TD_ERR_NOTFOUND when the file has no
 * line for name (out unchanged).
 */
int	 verify_sums_extract(const struct vfy_sums *, const char *name,
	    struct td_buf *out);

struct minisign_key {
	uint8_t		 keyid[8];
	uint8_t		 pk[32];
};

/* Parse a base64 key line, or the text of a .pub file. */
int	 minisign_parse_pubkey(const char *text, size_t len,
	    struct minisign_key *out);

struct minisign_sig {
	int		 prehashed;	/* "ED" (1) or legacy "Ed" (0) */
	uint8_t		 keyid[8];
	uint8_t		 sig[64];
	char		 trusted_comment[8192];
	uint8_t		 global_sig[64];
};

/* Parse a .minisig file. TD_ERR_FORMAT: signature_malformed. */
int	 minisign_parse_sig(const char *text, size_t len,
	    struct minisign_sig *out);

/*
 * Verify sig against the trusted keys. For a prehashed signature, blake2b
 * is the BLAKE2b-512 of the file (64 bytes) and data may be NULL; for a
 * legacy one, data/len is the whole file. Returns NULL when it verifies,
 * else the stable code: "signature_untrusted_key" (no trusted key has the
 * signature's key id), "signature_invalid", "signature_comment_invalid".
 * *which is the index of the key that verified.
 */
const char *minisign_verify(const struct minisign_sig *,
	    const struct minisign_key *keys, size_t nkeys,
	    const uint8_t blake2b[64], const void *data, size_t len,
	    size_t *which);

/* Hex of a key id as minisign prints it (16 upper-case hex digits). */
void	 minisign_keyid_hex(const uint8_t keyid[8], char out[17]);

#endif
