/*
 * sidecar.h - checksum and signature sidecars travelling with a drop:
 * NAME.sha256, NAME.sha512, NAME.minisig, and SHA256SUMS / SHA512SUMS
 * manifests naming several files. Sidecars never become transmissions;
 * every sidecar of NAME is claimed with it and archived beside it (of a
 * manifest, the lines that concern NAME), and every checksum among them
 * is checked.
 *
 * A manifest is parsed once per version (identity and times of the
 * file) into an index, so checking many files against a large one costs
 * in proportion to the files plus the manifest, not their product.
 * Manifests over SIDECAR_MANIFEST_MAX are not read (logged once per
 * version, event=checksum_manifest_too_large). The cache of parsed
 * manifests is per process and not locked: use it from one thread.
 */
#ifndef TD_SIDECAR_H
#define TD_SIDECAR_H

#include <stdint.h>

struct td_buf;
struct td_conf;
struct minisign_key;

#define SIDECAR_MANIFEST_MAX	(16 << 20)	/* largest SHA*SUMS read */

/* 1 when name is a sidecar or checksum manifest, never a transmission. */
int	 sidecar_is(const char *name);
/* 1 when name is a multi-file manifest (SHA256SUMS, SHA512SUMS). */
int	 sidecar_is_manifest(const char *name);

/* The sidecars of name present in dir (names relative to dir). */
struct sidecars {
	char	*sum256;	/* NAME.sha256 */
	char	*sum512;	/* NAME.sha512 */
	char	*sig;		/* NAME.minisig */
	char	*manifest[2];	/* SHA256SUMS, SHA512SUMS when it names NAME */
	unsigned want;		/* SC_WANT_*, see sidecar_wants */
};
void	 sidecar_find(const char *dir, const char *name, struct sidecars *);
void	 sidecar_free(struct sidecars *);

/*
 * 1 when the manifest dir/m names name, or is malformed (then it names
 * every file: it fails their verification, loudly).
 */
int	 sidecar_manifest_names(const char *dir, const char *m,
	    const char *name);
/*
 * Append to out the lines of the manifest dir/m that concern name,
 * verbatim (see verify_sums_extract): a file of them, beside name under
 * the name m, verifies name as the whole manifest would. 0, or
 * TD_ERR_NOTFOUND when it does not name name.
 */
int	 sidecar_manifest_extract(const char *dir, const char *m,
	    const char *name, struct td_buf *out);

/* Trusted minisign keys of the configuration. */
int	 sidecar_load_keys(const struct td_conf *, struct minisign_key **,
	    size_t *, char **err);

/* The outcome of verifying one claimed file. */
struct verification {
	const char	*code;		/* Tier 2 code, or NULL when accepted */
	char		 msg[512];
	const char	*checksum;	/* ok absent off failed */
	const char	*checksum_algo;	/* sha256 sha512 or NULL */
	const char	*signature;	/* ok absent off failed */
	char		 key_id[17];
	char		 trusted_comment[8192];
};

/*
 * Hashes the sidecars found call for: SHA-512 when one of their digests
 * for the file is a SHA-512 (whatever the file's name says), BLAKE2b-512
 * for a signature.
 */
#define SC_WANT_SHA512	0x1
#define SC_WANT_BLAKE2B	0x2
unsigned sidecar_wants(const struct sidecars *);

/*
 * Verify the file dir/name against its sidecars sc (found in dir with
 * sidecar_find), given its digests, under the [verify] policy. Every
 * checksum sidecar present is checked, in the order NAME.sha256,
 * NAME.sha512, SHA256SUMS, SHA512SUMS; all must match, the first that
 * does not is the reason, and checksum_algo is then the failing one's,
 * else the strongest checked.
 */
void	 sidecar_verify(const struct td_conf *, const struct minisign_key *,
	    size_t nkeys, const char *dir, const char *name,
	    const struct sidecars *sc, const char *sha256hex,
	    const char *sha512hex,
	    const uint8_t *blake2b, struct verification *);
/* JSON object text of a verification (for the manifest). Caller frees. */
char	*sidecar_json(const struct verification *);
/*
 * Who signed, from sidecar_json's text: the key id of a verified
 * signature ("ok" when it names none), "" when the signature was not
 * verified; in out, of n bytes (at least 17).
 */
void	 sidecar_signer(const char *json, char *out, size_t n);

#endif
