/*
 * sidecar.h - checksum and signature sidecars travelling with a drop:
 * NAME.sha256, NAME.sha512, NAME.minisig, and SHA256SUMS / SHA512SUMS
 * manifests naming several files. Sidecars never become transmissions;
 * they are claimed with their data file and archived beside it.
 */
#ifndef TD_SIDECAR_H
#define TD_SIDECAR_H

#include <stdint.h>

struct td_conf;
struct minisign_key;

/* 1 when name is a sidecar or checksum manifest, never a transmission. */
int	 sidecar_is(const char *name);
/* 1 when name is a multi-file manifest (SHA256SUMS, SHA512SUMS). */
int	 sidecar_is_manifest(const char *name);

/* The sidecars of name present in dir (names relative to dir). */
struct sidecars {
	char	*sum;		/* NAME.sha256 or NAME.sha512 */
	char	*sig;		/* NAME.minisig */
	char	*manifest;	/* a SHA*SUMS naming NAME */
};
void	 sidecar_find(const char *dir, const char *name, struct sidecars *);
void	 sidecar_free(struct sidecars *);

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

/* Hashes the sidecars found call for: SHA-512, BLAKE2b-512. */
#define SC_WANT_SHA512	0x1
#define SC_WANT_BLAKE2B	0x2
unsigned sidecar_wants(const struct sidecars *);

/*
 * Verify the file dir/name against its sidecars sc (found in dir with
 * sidecar_find), given its digests, under the [verify] policy.
 */
void	 sidecar_verify(const struct td_conf *, const struct minisign_key *,
	    size_t nkeys, const char *dir, const char *name,
	    const struct sidecars *sc, const char *sha256hex,
	    const char *sha512hex,
	    const uint8_t *blake2b, struct verification *);
/* JSON object text of a verification (for the manifest). Caller frees. */
char	*sidecar_json(const struct verification *);

#endif
