/*
 * test-verify.c - agent/verify.c: minisign keys and signatures made by the
 * real minisign(1) during the test (prehashed and legacy, then tampered
 * byte by byte), the public go-minisign / minisign-net vectors in
 * $srcdir/tests/data/minisign, checksum files written by the real
 * sha256sum/sha512sum (GNU, -b, --tag, SHA256SUMS with ./ and dir/
 * prefixes, escaped names), and malformed sidecars of every kind.
 * srcdir defaults to ".". Sections needing a missing tool print SKIP.
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "td.h"
#include "buf.h"
#include "fsutil.h"
#include "verify.h"
#include "../lib/tap.h"

static char tmpdir[] = "/tmp/td-test-verify-XXXXXX";
static const char *srcdir = ".";

/* ---- helpers ----------------------------------------------------- */

struct blob {
	char	*p;
	size_t	 n;
};

static struct blob
slurp(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static struct blob
slurp(const char *fmt, ...)
{
	struct blob b = { NULL, 0 };
	va_list ap;
	char *path;

	va_start(ap, fmt);
	path = xvasprintf(fmt, ap);
	va_end(ap);
	if (td_read_file(path, 16 << 20, &b.p, &b.n) != 0) {
		diag("cannot read %s", path);
		b.p = NULL;
		b.n = 0;
	}
	x_free(path);
	return b;
}

static void
blob_free(struct blob *b)
{
	x_free(b->p);
	b->p = NULL;
	b->n = 0;
}

static void
spit(const char *name, const void *p, size_t n)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	FILE *f;

	if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, n, f) != n)
		td_fatal("cannot write %s", path);
	fclose(f);
	x_free(path);
}

/* Run a shell command in tmpdir; 0 when it exits 0. */
static int
run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
run(const char *fmt, ...)
{
	va_list ap;
	char *cmd, *full;
	int rc;

	va_start(ap, fmt);
	cmd = xvasprintf(fmt, ap);
	va_end(ap);
	full = xasprintf("cd '%s' && { %s ; } >/dev/null 2>&1 </dev/null",
	    tmpdir, cmd);
	rc = system(full);
	x_free(cmd);
	x_free(full);
	return rc;
}

static int
have(const char *tool)
{
	char *cmd = xasprintf("command -v %s >/dev/null 2>&1", tool);
	int rc = system(cmd);

	x_free(cmd);
	return rc == 0;
}

static void
blake2b_of(const void *p, size_t n, uint8_t out[64])
{
	crypto_generichash(out, 64, p, n, NULL, 0);
}

/* A copy of s with every "\n" turned into "\r\n". */
static struct blob
to_crlf(const char *s, size_t n)
{
	struct blob b;
	size_t i;

	b.p = xmalloc(2 * n + 1);
	b.n = 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '\n')
			b.p[b.n++] = '\r';
		b.p[b.n++] = s[i];
	}
	b.p[b.n] = '\0';
	return b;
}

/* Text with line number `skip` (0-based) left out. */
static struct blob
drop_line(const char *s, size_t n, int skip)
{
	struct blob b;
	size_t i;
	int line = 0;

	b.p = xmalloc(n + 1);
	b.n = 0;
	for (i = 0; i < n; i++) {
		if (line != skip)
			b.p[b.n++] = s[i];
		if (s[i] == '\n')
			line++;
	}
	b.p[b.n] = '\0';
	return b;
}

static void
hex_lower(const uint8_t *d, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Base64 line for raw bytes (as minisign writes it). */
static char *
b64(const uint8_t *p, size_t n)
{
	size_t cap = sodium_base64_ENCODED_LEN(n,
	    sodium_base64_VARIANT_ORIGINAL);
	char *s = xmalloc(cap);

	sodium_bin2base64(s, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

/* ---- minisign: public vectors ------------------------------------ */

static int
load_key(const char *path, struct minisign_key *k)
{
	struct blob b = slurp("%s", path);
	int r = b.p ? minisign_parse_pubkey(b.p, b.n, k) : TD_ERR_IO;

	blob_free(&b);
	return r;
}

static int
load_sig(const char *path, struct minisign_sig *s)
{
	struct blob b = slurp("%s", path);
	int r = b.p ? minisign_parse_sig(b.p, b.n, s) : TD_ERR_IO;

	blob_free(&b);
	return r;
}

static void
test_vectors(void)
{
	static const char *gosigs[] = { "test.legacy.minisig",
	    "test.prehashed.minisig", "test.prehashed-rust-doc.minisig" };
	static const int goprehashed[] = { 0, 1, 1 };
	struct minisign_key gokey, bbkey, both[2];
	struct minisign_sig s;
	struct blob msg;
	char *dir, *p, id[17];
	uint8_t h[64], hwrong[64];
	size_t i, which;
	const char *res;

	dir = xasprintf("%s/tests/data/minisign", srcdir);

	p = xasprintf("%s/jedisct1-go-minisign/minisign.pub", dir);
	is_int(load_key(p, &gokey), 0, "go-minisign public key parses");
	x_free(p);
	minisign_keyid_hex(gokey.keyid, id);
	is_str(id, "E7620F1842B4E81F", "go-minisign key id as minisign prints it");

	p = xasprintf("%s/bitbeans-minisign-net/test.pub", dir);
	is_int(load_key(p, &bbkey), 0, "minisign-net public key parses");
	x_free(p);
	/*
	 * minisign-net wrote its comment with the id bytes in order
	 * (9D6F33B5E347042E); minisign itself prints them as a little-endian
	 * u64, and so do we.
	 */
	minisign_keyid_hex(bbkey.keyid, id);
	is_str(id, "2E0447E3B5336F9D", "minisign-net key id, minisign style");

	msg = slurp("%s/jedisct1-go-minisign/test", dir);
	is_int(msg.n, 4, "go-minisign message is 4 bytes");
	blake2b_of(msg.p, msg.n, h);
	blake2b_of("Test", 4, hwrong);
	both[0] = bbkey;
	both[1] = gokey;
	for (i = 0; i < TD_NELEM(gosigs); i++) {
		p = xasprintf("%s/jedisct1-go-minisign/%s", dir, gosigs[i]);
		is_int(load_sig(p, &s), 0, "%s parses", gosigs[i]);
		x_free(p);
		is_int(s.prehashed, goprehashed[i], "%s algorithm", gosigs[i]);
		ok(memcmp(s.keyid, gokey.keyid, 8) == 0, "%s key id", gosigs[i]);
		res = minisign_verify(&s, &gokey, 1, h, msg.p, msg.n, &which);
		is_str(res, NULL, "%s verifies over \"test\"", gosigs[i]);
		is_int(which, 0, "%s: key index 0", gosigs[i]);
		res = minisign_verify(&s, both, 2, h, msg.p, msg.n, &which);
		ok(res == NULL && which == 1, "%s: second of two trusted keys",
		    gosigs[i]);
		res = minisign_verify(&s, &gokey, 1, hwrong, "Test", 4, &which);
		is_str(res, "signature_invalid", "%s fails over \"Test\"",
		    gosigs[i]);
		ok(which == SIZE_MAX, "%s: no key index on failure", gosigs[i]);
		res = minisign_verify(&s, &bbkey, 1, h, msg.p, msg.n, NULL);
		is_str(res, "signature_untrusted_key",
		    "%s with another key's id is untrusted", gosigs[i]);
	}
	blob_free(&msg);

	p = xasprintf("%s/bitbeans-minisign-net/test.jpg.minisig", dir);
	is_int(load_sig(p, &s), 0, "minisign-net hashed signature parses");
	x_free(p);
	ok(s.prehashed == 1 && memcmp(s.keyid, bbkey.keyid, 8) == 0,
	    "minisign-net hashed: ED, key id of test.pub");
	is_str(s.trusted_comment,
	    "timestamp:1763291678\tfile:testfile.jpg\thashed",
	    "minisign-net hashed: trusted comment");
	is_str(minisign_verify(&s, &bbkey, 1, hwrong, NULL, 0, NULL),
	    "signature_invalid", "minisign-net hashed: wrong message fails");
	p = xasprintf("%s/bitbeans-minisign-net/test.jpg.minisig-legacy", dir);
	is_int(load_sig(p, &s), 0, "minisign-net legacy signature parses");
	x_free(p);
	ok(s.prehashed == 0 && memcmp(s.keyid, bbkey.keyid, 8) == 0,
	    "minisign-net legacy: Ed, key id of test.pub");
	is_str(minisign_verify(&s, &bbkey, 1, NULL, "test", 4, NULL),
	    "signature_invalid", "minisign-net legacy: wrong message fails");
	is_str(minisign_verify(&s, &gokey, 1, NULL, "test", 4, NULL),
	    "signature_untrusted_key", "minisign-net legacy: go key untrusted");
	x_free(dir);
}

/* ---- minisign: the real tool ------------------------------------- */

static void
tamper_checks(const char *what, const struct minisign_sig *good,
    const struct minisign_key *k, const uint8_t *h,
    const char *data, size_t n)
{
	struct minisign_sig s;
	char *bad = xmalloc(n);
	uint8_t hbad[64];
	size_t len;

	memcpy(bad, data, n);
	bad[n / 2] ^= 0x01;
	blake2b_of(bad, n, hbad);
	is_str(minisign_verify(good, k, 1, hbad, bad, n, NULL),
	    "signature_invalid", "%s: flipped byte in the data", what);
	is_int(run("minisign -V -q -p k.pub -m %s.bad -x %s.minisig", what,
	    what) != 0, 1, "%s: minisign -V also refuses the flipped data",
	    what);

	s = *good;
	s.sig[17] ^= 0x80;
	is_str(minisign_verify(&s, k, 1, h, data, n, NULL),
	    "signature_invalid", "%s: flipped byte in the signature", what);

	s = *good;
	s.prehashed = !s.prehashed;
	is_str(minisign_verify(&s, k, 1, h, data, n, NULL),
	    "signature_invalid", "%s: other algorithm is refused", what);

	s = *good;
	len = strlen(s.trusted_comment);
	s.trusted_comment[len > 0 ? len - 1 : 0] ^= 0x01;
	is_str(minisign_verify(&s, k, 1, h, data, n, NULL),
	    "signature_comment_invalid", "%s: flipped byte in the trusted "
	    "comment", what);

	s = *good;
	if (len < sizeof(s.trusted_comment) - 1) {
		s.trusted_comment[len] = 'x';
		s.trusted_comment[len + 1] = '\0';
	}
	is_str(minisign_verify(&s, k, 1, h, data, n, NULL),
	    "signature_comment_invalid", "%s: trusted comment extended", what);

	s = *good;
	s.global_sig[63] ^= 0x10;
	is_str(minisign_verify(&s, k, 1, h, data, n, NULL),
	    "signature_comment_invalid", "%s: flipped byte in the global "
	    "signature", what);

	s = *good;
	s.keyid[0] ^= 0x01;
	is_str(minisign_verify(&s, k, 1, h, data, n, NULL),
	    "signature_untrusted_key", "%s: flipped byte in the key id", what);
	x_free(bad);
}

/* Replace the first occurrence of from by to (same length) in b. */
static int
patch(struct blob *b, const char *from, const char *to)
{
	char *at = memmem(b->p, b->n, from, strlen(from));

	if (at == NULL || strlen(from) != strlen(to))
		return 0;
	memcpy(at, to, strlen(to));
	return 1;
}

static void
test_minisign_tool(void)
{
	struct minisign_key k1, k2, keys[2];
	struct minisign_sig s, sl;
	struct blob data, pub, pub2, sig, sigl, t;
	uint8_t h[64], buf[4096];
	char id[17], *cmt, *want, *line;
	size_t i, which;
	int r;

	if (!have("minisign")) {
		ok(1, "minisign(1) tests # SKIP minisign not installed");
		return;
	}
	ok(run("minisign -G -f -W -p k.pub -s k.key") == 0 &&
	    run("minisign -G -f -W -p k2.pub -s k2.key") == 0,
	    "minisign -G -W makes two key pairs");

	/* 200 KiB of varied bytes: includes NUL, CR, LF */
	randombytes_buf_deterministic(buf, sizeof(buf),
	    (const uint8_t *)"tradedrop-test-verify-seed-32byt");
	data.n = 200 * 1024;
	data.p = xmalloc(data.n);
	for (i = 0; i < data.n; i++)
		data.p[i] = (char)(buf[i % sizeof(buf)] ^ (i / sizeof(buf)));
	spit("data.bin", data.p, data.n);
	blake2b_of(data.p, data.n, h);

	ok(run("minisign -S -s k.key -m data.bin -x ed.minisig "
	    "-t 'tradedrop test: prehashed'") == 0,
	    "minisign -S (prehashed) signs");
	ok(run("minisign -S -l -s k.key -m data.bin -x Ed.minisig") == 0,
	    "minisign -S -l (legacy) signs");
	ok(run("minisign -V -q -p k.pub -m data.bin -x ed.minisig") == 0 &&
	    run("minisign -V -q -p k.pub -m data.bin -x Ed.minisig") == 0,
	    "minisign -V accepts both");
	/* tampered data files for minisign -V */
	data.p[data.n / 2] ^= 0x01;
	spit("ed.bad", data.p, data.n);
	spit("Ed.bad", data.p, data.n);
	data.p[data.n / 2] ^= 0x01;
	run("cp ed.minisig ed.bad.minisig; cp Ed.minisig Ed.bad.minisig");

	pub = slurp("%s/k.pub", tmpdir);
	pub2 = slurp("%s/k2.pub", tmpdir);
	is_int(minisign_parse_pubkey(pub.p, pub.n, &k1), 0, "k.pub parses");
	is_int(minisign_parse_pubkey(pub2.p, pub2.n, &k2), 0, "k2.pub parses");
	minisign_keyid_hex(k1.keyid, id);
	/* minisign prints the key id as a number: no leading zeros */
	{
		const char *nz = id;

		while (nz[0] == '0' && nz[1] != '\0')
			nz++;
		want = xasprintf("untrusted comment: minisign public key "
		    "%s\n", nz);
	}
	ok(pub.n > strlen(want) && memcmp(pub.p, want, strlen(want)) == 0,
	    "key id hex matches the comment minisign wrote (%s)", id);
	x_free(want);
	/* the bare base64 line (as -P takes it), with and without newline */
	line = memchr(pub.p, '\n', pub.n);
	if (line != NULL) {
		line++;
		is_int(minisign_parse_pubkey(line, strlen(line), &keys[0]), 0,
		    "bare key line parses");
		ok(memcmp(&keys[0], &k1, sizeof(k1)) == 0, "same key");
		is_int(minisign_parse_pubkey(line, 56, &keys[0]), 0,
		    "bare key without newline parses");
	}
	t = to_crlf(pub.p, pub.n);
	is_int(minisign_parse_pubkey(t.p, t.n, &keys[0]), 0,
	    "k.pub with CRLF parses");
	blob_free(&t);

	sig = slurp("%s/ed.minisig", tmpdir);
	sigl = slurp("%s/Ed.minisig", tmpdir);
	is_int(minisign_parse_sig(sig.p, sig.n, &s), 0, "prehashed sig parses");
	is_int(minisign_parse_sig(sigl.p, sigl.n, &sl), 0, "legacy sig parses");
	is_int(s.prehashed, 1, "minisign 0.11 default is prehashed (ED)");
	is_int(sl.prehashed, 0, "-l gives legacy (Ed)");
	is_str(s.trusted_comment, "tradedrop test: prehashed",
	    "trusted comment from -t");
	ok(strncmp(sl.trusted_comment, "timestamp:", 10) == 0 &&
	    strstr(sl.trusted_comment, "\tfile:data.bin") != NULL,
	    "default trusted comment (timestamp, tab, file)");
	is_str(minisign_verify(&s, &k1, 1, h, NULL, 0, &which), NULL,
	    "prehashed verifies with BLAKE2b-512 only");
	is_int(which, 0, "which = 0");
	is_str(minisign_verify(&sl, &k1, 1, NULL, data.p, data.n, &which),
	    NULL, "legacy verifies over the whole file");
	keys[0] = k2;
	keys[1] = k1;
	is_str(minisign_verify(&s, keys, 2, h, NULL, 0, &which), NULL,
	    "verifies against a list of trusted keys");
	is_int(which, 1, "which = 1");
	is_str(minisign_verify(&s, &k2, 1, h, NULL, 0, NULL),
	    "signature_untrusted_key", "other generated key: untrusted");
	is_str(minisign_verify(&sl, &k2, 1, NULL, data.p, data.n, NULL),
	    "signature_untrusted_key", "legacy, other key: untrusted");
	is_str(minisign_verify(&s, NULL, 0, h, NULL, 0, NULL),
	    "signature_untrusted_key", "no trusted keys: untrusted");
	is_str(minisign_verify(&s, &k1, 1, NULL, data.p, data.n, NULL),
	    "signature_invalid", "prehashed without a BLAKE2b: invalid");
	is_str(minisign_verify(&sl, &k1, 1, h, NULL, data.n, NULL),
	    "signature_invalid", "legacy without the data: invalid");
	/* key id collision: a key with the right id but the wrong pk */
	keys[0] = k2;
	memcpy(keys[0].keyid, k1.keyid, 8);
	keys[1] = k1;
	is_str(minisign_verify(&s, keys, 2, h, NULL, 0, &which), NULL,
	    "two keys with one id: the one that verifies wins");
	is_int(which, 1, "... index 1");
	is_str(minisign_verify(&s, keys, 1, h, NULL, 0, NULL),
	    "signature_invalid", "same key id, wrong key: invalid");

	tamper_checks("ed", &s, &k1, h, data.p, data.n);
	tamper_checks("Ed", &sl, &k1, h, data.p, data.n);

	/* edits of the signature file text */
	t = to_crlf(sig.p, sig.n);
	r = minisign_parse_sig(t.p, t.n, &sl);
	ok(r == 0 && minisign_verify(&sl, &k1, 1, h, NULL, 0, NULL) == NULL,
	    "signature with CRLF line ends parses and verifies");
	blob_free(&t);
	r = minisign_parse_sig(sig.p, sig.n - 1, &sl);
	ok(r == 0 && minisign_verify(&sl, &k1, 1, h, NULL, 0, NULL) == NULL,
	    "signature without its last newline verifies");
	t.p = xstrdup(sig.p);
	t.n = sig.n;
	ok(patch(&t, "signature from minisign", "signature FROM MINISIGN"),
	    "untrusted comment edited");
	r = minisign_parse_sig(t.p, t.n, &sl);
	ok(r == 0 && minisign_verify(&sl, &k1, 1, h, NULL, 0, NULL) == NULL,
	    "an edited untrusted comment does not matter");
	ok(patch(&t, "tradedrop test: prehashed", "tradedrop test: PREHASHED"),
	    "trusted comment edited in the file");
	r = minisign_parse_sig(t.p, t.n, &sl);
	ok(r == 0, "edited file still parses");
	is_str(minisign_verify(&sl, &k1, 1, h, NULL, 0, NULL),
	    "signature_comment_invalid", "edited trusted comment is caught");
	blob_free(&t);
	t = drop_line(sig.p, sig.n, 2);
	is_int(minisign_parse_sig(t.p, t.n, &sl), TD_ERR_FORMAT,
	    "trusted comment line missing: malformed");
	blob_free(&t);
	t = drop_line(sig.p, sig.n, 0);
	is_int(minisign_parse_sig(t.p, t.n, &sl), TD_ERR_FORMAT,
	    "untrusted comment line missing: malformed");
	blob_free(&t);
	t = drop_line(sig.p, sig.n, 3);
	is_int(minisign_parse_sig(t.p, t.n, &sl), TD_ERR_FORMAT,
	    "global signature line missing: malformed");
	blob_free(&t);
	for (i = 0, r = 0; i + 1 < sig.n; i++)
		if (minisign_parse_sig(sig.p, i, &sl) != TD_ERR_FORMAT)
			r++;
	is_int(r, 0, "every truncation of the signature is malformed");
	for (i = 0, r = 0; i + 1 < pub.n; i++)
		if (minisign_parse_pubkey(pub.p, i, &keys[0]) != TD_ERR_FORMAT)
			r++;
	is_int(r, 0, "every truncation of the public key is malformed");

	/* comment length: 8191 bytes is the limit, as in minisign */
	cmt = xmalloc(8300);
	memset(cmt, 'c', 3000);
	cmt[3000] = '\0';
	ok(run("minisign -S -s k.key -m data.bin -x c3000.minisig -t '%s'",
	    cmt) == 0, "minisign signs a 3000-byte trusted comment");
	t = slurp("%s/c3000.minisig", tmpdir);
	r = minisign_parse_sig(t.p, t.n, &sl);
	ok(r == 0 && strlen(sl.trusted_comment) == 3000 &&
	    minisign_verify(&sl, &k1, 1, h, NULL, 0, NULL) == NULL,
	    "3000-byte trusted comment parses and verifies");
	blob_free(&t);
	{
		/* the same signature with its comment made 8191, then 8192
		 * bytes long: the first parses, the second is malformed */
		const char *tc, *eol;
		char *crafted;
		size_t o, len, pre;
		int k;

		t = slurp("%s/c3000.minisig", tmpdir);
		tc = strstr(t.p, "trusted comment: ");
		eol = tc ? strchr(tc, '\n') : NULL;
		ok(tc != NULL && eol != NULL, "found the trusted comment line");
		for (k = 8191; k <= 8192 && tc != NULL && eol != NULL; k++) {
			pre = (size_t)(tc - t.p) + strlen("trusted comment: ");
			len = pre + (size_t)k + (t.n - (size_t)(eol - t.p));
			crafted = xmalloc(len + 1);
			memcpy(crafted, t.p, pre);
			memset(crafted + pre, 'c', (size_t)k);
			o = pre + (size_t)k;
			memcpy(crafted + o, eol, t.n - (size_t)(eol - t.p));
			if (k == 8191)
				is_int(minisign_parse_sig(crafted, len, &sl), 0,
				    "an 8191-byte trusted comment parses");
			else
				is_int(minisign_parse_sig(crafted, len, &sl),
				    TD_ERR_FORMAT, "an 8192-byte trusted "
				    "comment is malformed");
			x_free(crafted);
		}
		blob_free(&t);
	}
	x_free(cmt);

	blob_free(&data);
	blob_free(&pub);
	blob_free(&pub2);
	blob_free(&sig);
	blob_free(&sigl);
}

/* ---- minisign: hand-made malformed inputs ------------------------ */

static void
test_minisign_malformed(void)
{
	struct minisign_key k;
	struct minisign_sig s;
	uint8_t raw[74], rpk[42], g[64], rnd[600], seed[32];
	char *l1, *l2, *txt, *cm;
	size_t i;
	int bad;

	memset(raw, 0x5a, sizeof(raw));
	memcpy(raw, "ED", 2);
	memset(g, 0xa5, sizeof(g));
	memset(rpk, 0x33, sizeof(rpk));
	memcpy(rpk, "Ed", 2);
	l1 = b64(raw, 74);
	l2 = b64(g, 64);

#define SIGTXT(u, a, tc, gl) xasprintf("untrusted comment: %s\n%s\n" \
	"trusted comment: %s\n%s\n", (u), (a), (tc), (gl))

	txt = SIGTXT("x", l1, "hello", l2);
	is_int(minisign_parse_sig(txt, strlen(txt), &s), 0,
	    "hand-made signature parses");
	ok(s.prehashed == 1 && s.keyid[0] == 0x5a && s.sig[63] == 0x5a &&
	    s.global_sig[0] == 0xa5, "fields land where they belong");
	is_str(s.trusted_comment, "hello", "trusted comment text");
	x_free(txt);

	txt = SIGTXT("x", l1, "", l2);
	ok(minisign_parse_sig(txt, strlen(txt), &s) == 0 &&
	    s.trusted_comment[0] == '\0', "empty trusted comment is allowed");
	x_free(txt);

	txt = xasprintf("untrusted comment: x\n%s\ntrusted comment: a\n%s\n\n"
	    "junk\n", l1, l2);
	is_int(minisign_parse_sig(txt, strlen(txt), &s), TD_ERR_FORMAT,
	    "trailing junk line: malformed");
	x_free(txt);
	txt = xasprintf("untrusted comment: x\n%s\ntrusted comment: a\n%s\n\n"
	    "\r\n", l1, l2);
	is_int(minisign_parse_sig(txt, strlen(txt), &s), 0,
	    "trailing empty lines are allowed");
	x_free(txt);
	txt = xasprintf("untrusted comment: x\n%s\ntrusted comment: a\r\r\n%s\n",
	    l1, l2);
	ok(minisign_parse_sig(txt, strlen(txt), &s) == 0 &&
	    strcmp(s.trusted_comment, "a\r") == 0,
	    "only one CR is a line end (the other is comment text)");
	x_free(txt);

	for (i = 0; i < 3; i++) {
		static const char *algs[] = { "EE", "ed", "\0\0" };

		memcpy(raw, algs[i], 2);
		x_free(l1);
		l1 = b64(raw, 74);
		txt = SIGTXT("x", l1, "a", l2);
		is_int(minisign_parse_sig(txt, strlen(txt), &s), TD_ERR_FORMAT,
		    "signature algorithm \"%.2s\" (%zu): malformed", algs[i], i);
		x_free(txt);
	}
	memcpy(raw, "Ed", 2);
	x_free(l1);
	l1 = b64(raw, 73);
	txt = SIGTXT("x", l1, "a", l2);
	is_int(minisign_parse_sig(txt, strlen(txt), &s), TD_ERR_FORMAT,
	    "73-byte signature blob: malformed");
	x_free(txt);
	x_free(l1);
	l1 = b64(raw, 74);
	txt = SIGTXT("x", l1, "a", "AAAA");
	is_int(minisign_parse_sig(txt, strlen(txt), &s), TD_ERR_FORMAT,
	    "short global signature: malformed");
	x_free(txt);
	l1[99] = 'A';	/* drop the '=' padding character */
	txt = SIGTXT("x", l1, "a", l2);
	is_int(minisign_parse_sig(txt, strlen(txt), &s), TD_ERR_FORMAT,
	    "base64 without padding: malformed");
	x_free(txt);
	l1[99] = '=';
	l1[50] = '!';
	txt = SIGTXT("x", l1, "a", l2);
	is_int(minisign_parse_sig(txt, strlen(txt), &s), TD_ERR_FORMAT,
	    "character outside base64: malformed");
	x_free(txt);
	x_free(l1);
	l1 = b64(raw, 74);
	txt = xasprintf("untrusted comment: x\n %s\ntrusted comment: a\n%s\n",
	    l1, l2);
	is_int(minisign_parse_sig(txt, strlen(txt), &s), TD_ERR_FORMAT,
	    "leading space on the base64 line: malformed");
	x_free(txt);
	txt = xasprintf("untrusted comment: x\n%s\ntrusted  comment: a\n%s\n",
	    l1, l2);
	is_int(minisign_parse_sig(txt, strlen(txt), &s), TD_ERR_FORMAT,
	    "misspelt trusted comment prefix: malformed");
	x_free(txt);
	txt = SIGTXT("x", l1, "a", l2);
	i = strlen(txt);
	txt[strlen("untrusted comment: x\n") + 10] = '\0';
	is_int(minisign_parse_sig(txt, i, &s), TD_ERR_FORMAT,
	    "NUL byte in the base64 line: malformed");
	x_free(txt);
	txt = SIGTXT("x", l1, "ab", l2);
	i = strlen(txt);
	*strstr(txt, "ab") = '\0';
	is_int(minisign_parse_sig(txt, i, &s), TD_ERR_FORMAT,
	    "NUL byte in the trusted comment: malformed");
	x_free(txt);

	cm = xmalloc(8200);
	memset(cm, 'u', 8199);
	cm[8191] = '\0';
	txt = SIGTXT(cm, l1, "a", l2);
	is_int(minisign_parse_sig(txt, strlen(txt), &s), 0,
	    "8191-byte untrusted comment parses");
	x_free(txt);
	cm[8191] = 'u';
	cm[8192] = '\0';
	txt = SIGTXT(cm, l1, "a", l2);
	is_int(minisign_parse_sig(txt, strlen(txt), &s), TD_ERR_FORMAT,
	    "8192-byte untrusted comment: malformed");
	x_free(txt);
	txt = SIGTXT("x", l1, cm, l2);
	is_int(minisign_parse_sig(txt, strlen(txt), &s), TD_ERR_FORMAT,
	    "8192-byte trusted comment: malformed");
	x_free(txt);
	x_free(cm);

	/* public keys */
	x_free(l1);
	l1 = b64(rpk, 42);
	ok(minisign_parse_pubkey(l1, strlen(l1), &k) == 0 && k.keyid[0] == 0x33,
	    "hand-made key line parses");
	memcpy(rpk, "ED", 2);
	x_free(l1);
	l1 = b64(rpk, 42);
	is_int(minisign_parse_pubkey(l1, strlen(l1), &k), TD_ERR_FORMAT,
	    "public key algorithm \"ED\": malformed");
	memcpy(rpk, "Ed", 2);
	x_free(l1);
	l1 = b64(rpk, 41);
	is_int(minisign_parse_pubkey(l1, strlen(l1), &k), TD_ERR_FORMAT,
	    "41-byte public key: malformed");
	x_free(l1);
	l1 = b64(rpk, 42);
	txt = xasprintf("%s \n", l1);
	is_int(minisign_parse_pubkey(txt, strlen(txt), &k), TD_ERR_FORMAT,
	    "trailing space after the key: malformed");
	x_free(txt);
	txt = xasprintf("untrusted comment: k\n%s\n%s\n", l1, l1);
	is_int(minisign_parse_pubkey(txt, strlen(txt), &k), TD_ERR_FORMAT,
	    "two key lines: malformed");
	x_free(txt);
	txt = xasprintf("untrusted comment: k\n");
	is_int(minisign_parse_pubkey(txt, strlen(txt), &k), TD_ERR_FORMAT,
	    "comment without a key: malformed");
	x_free(txt);
	txt = xasprintf("comment: k\n%s\n", l1);
	is_int(minisign_parse_pubkey(txt, strlen(txt), &k), TD_ERR_FORMAT,
	    "wrong comment prefix: malformed");
	x_free(txt);

	/* empty and random inputs */
	is_int(minisign_parse_sig("", 0, &s), TD_ERR_FORMAT, "empty sig");
	is_int(minisign_parse_pubkey("", 0, &k), TD_ERR_FORMAT, "empty key");
	is_int(minisign_parse_sig("\n\n", 2, &s), TD_ERR_FORMAT, "blank sig");
	is_int(minisign_parse_sig(NULL, 0, &s), TD_ERR_FORMAT, "NULL, 0");
	is_int(minisign_parse_sig("x", 1, NULL), TD_ERR_INVAL, "NULL out");
	memset(seed, 7, sizeof(seed));
	for (i = 0, bad = 0; i < 500; i++) {
		seed[0] = (uint8_t)i;
		seed[1] = (uint8_t)(i >> 8);
		randombytes_buf_deterministic(rnd, sizeof(rnd), seed);
		if (minisign_parse_sig((char *)rnd, 1 + i % sizeof(rnd), &s) !=
		    TD_ERR_FORMAT ||
		    minisign_parse_pubkey((char *)rnd, 1 + i % sizeof(rnd), &k)
		    != TD_ERR_FORMAT)
			bad++;
	}
	is_int(bad, 0, "500 random byte strings: all malformed");
	x_free(l1);
	x_free(l2);
#undef SIGTXT
}

/* ---- checksum files ---------------------------------------------- */

struct lk {
	int	 r;
	int	 algo;
	char	 hex[129];
};

static struct lk
lookup_text(const char *text, size_t n, const char *name)
{
	struct lk l;

	memset(&l, 0, sizeof(l));
	l.r = verify_checksum_lookup(text, n, name, &l.algo, l.hex);
	return l;
}

static struct lk
lookup_file(const char *file, const char *name)
{
	struct blob b = slurp("%s/%s", tmpdir, file);
	struct lk l = lookup_text(b.p ? b.p : "", b.n, name);

	blob_free(&b);
	return l;
}

static void
want_digest(struct lk l, int algo, const char *hex, const char *what)
{
	ok(l.r == 0 && l.algo == algo && strcmp(l.hex, hex) == 0, "%s", what);
	if (l.r != 0 || l.algo != algo || strcmp(l.hex, hex) != 0)
		diag("got r=%d algo=%d hex=%s", l.r, l.algo, l.hex);
}

static void
digests(const char *s, size_t n, char h256[65], char h512[129])
{
	uint8_t d[64];

	crypto_hash_sha256(d, (const uint8_t *)s, n);
	hex_lower(d, 32, h256);
	crypto_hash_sha512(d, (const uint8_t *)s, n);
	hex_lower(d, 64, h512);
}

static void
test_checksums(void)
{
	static const char xcsv[] = "date,gtin,qty\r\n2024-01-02,4006381333931,3\r\n";
	char hx256[65], hx512[129], hy256[65], hz256[65], h512[129], other[65];
	char *txt, *up;
	struct blob b;
	struct lk l;
	size_t i;

	digests(xcsv, sizeof(xcsv) - 1, hx256, hx512);
	digests("y\n", 2, hy256, h512);
	digests("zzz", 3, hz256, h512);
	memset(other, 'a', 64);
	other[64] = '\0';

	if (!have("sha256sum") || !have("sha512sum")) {
		ok(1, "coreutils checksum tests # SKIP sha256sum missing");
	} else {
		spit("x.csv", xcsv, sizeof(xcsv) - 1);
		spit("y.csv", "y\n", 2);
		run("mkdir -p sub/deep");
		spit("sub/deep/z.csv", "zzz", 3);
		spit("a\\b.csv", xcsv, sizeof(xcsv) - 1);
		spit("n\nl.csv", xcsv, sizeof(xcsv) - 1);
		spit("p) = q.csv", xcsv, sizeof(xcsv) - 1);
		ok(run("sha256sum x.csv > gnu.sha256 && "
		    "sha256sum -b x.csv > bin.sha256 && "
		    "sha512sum x.csv > gnu.sha512 && "
		    "sha512sum -b x.csv > bin.sha512 && "
		    "sha256sum --tag x.csv > bsd.sha256 && "
		    "sha512sum --tag x.csv > bsd.sha512 && "
		    "sha256sum ./x.csv ./y.csv sub/deep/z.csv > SHA256SUMS && "
		    "sha256sum 'a\\b.csv' \"$(printf 'n\\nl.csv')\" "
		    "'p) = q.csv' > esc.sha256 && "
		    "sha256sum --tag 'a\\b.csv' \"$(printf 'n\\nl.csv')\" "
		    "'p) = q.csv' > esctag.sha256") == 0,
		    "sha256sum/sha512sum write the sidecars");
		want_digest(lookup_file("gnu.sha256", "x.csv"), VFY_SHA256,
		    hx256, "GNU text mode SHA-256");
		want_digest(lookup_file("bin.sha256", "x.csv"), VFY_SHA256,
		    hx256, "GNU binary mode (-b) SHA-256");
		want_digest(lookup_file("gnu.sha512", "x.csv"), VFY_SHA512,
		    hx512, "GNU text mode SHA-512");
		want_digest(lookup_file("bin.sha512", "x.csv"), VFY_SHA512,
		    hx512, "GNU binary mode (-b) SHA-512");
		want_digest(lookup_file("bsd.sha256", "x.csv"), VFY_SHA256,
		    hx256, "BSD (--tag) SHA-256");
		want_digest(lookup_file("bsd.sha512", "x.csv"), VFY_SHA512,
		    hx512, "BSD (--tag) SHA-512");
		want_digest(lookup_file("SHA256SUMS", "x.csv"), VFY_SHA256,
		    hx256, "SHA256SUMS: ./x.csv");
		want_digest(lookup_file("SHA256SUMS", "y.csv"), VFY_SHA256,
		    hy256, "SHA256SUMS: ./y.csv");
		want_digest(lookup_file("SHA256SUMS", "z.csv"), VFY_SHA256,
		    hz256, "SHA256SUMS: sub/deep/z.csv by its last component");
		want_digest(lookup_file("SHA256SUMS", "./y.csv"), VFY_SHA256,
		    hy256, "SHA256SUMS: ./y.csv as written");
		is_int(lookup_file("SHA256SUMS", "w.csv").r, TD_ERR_NOTFOUND,
		    "SHA256SUMS: no line for w.csv");
		is_int(lookup_file("SHA256SUMS", "deep/z.csv").r,
		    TD_ERR_NOTFOUND, "a partial path is not a match");
		is_int(lookup_file("gnu.sha256", "y.csv").r, TD_ERR_NOTFOUND,
		    "other name: not found");
		want_digest(lookup_file("esc.sha256", "a\\b.csv"), VFY_SHA256,
		    hx256, "GNU escaped name with a backslash");
		want_digest(lookup_file("esc.sha256", "n\nl.csv"), VFY_SHA256,
		    hx256, "GNU escaped name with a newline");
		want_digest(lookup_file("esc.sha256", "p) = q.csv"),
		    VFY_SHA256, hx256, "GNU name with \") = \"");
		want_digest(lookup_file("esctag.sha256", "a\\b.csv"),
		    VFY_SHA256, hx256, "BSD escaped name with a backslash");
		want_digest(lookup_file("esctag.sha256", "n\nl.csv"),
		    VFY_SHA256, hx256, "BSD escaped name with a newline");
		want_digest(lookup_file("esctag.sha256", "p) = q.csv"),
		    VFY_SHA256, hx256, "BSD name with \") = \"");
		is_int(lookup_file("esc.sha256", "a\\\\b.csv").r,
		    TD_ERR_NOTFOUND, "escaped form is not the name");

		b = slurp("%s/SHA256SUMS", tmpdir);
		up = xmalloc(b.n + 1);
		for (i = 0; i < b.n; i++)
			up[i] = (char)toupper((unsigned char)b.p[i]);
		/* names went upper case too; look up by upper-case name */
		want_digest(lookup_text(up, b.n, "Y.CSV"), VFY_SHA256, hy256,
		    "upper-case hex, lower-case output");
		x_free(up);
		txt = xasprintf("# made by sha256sum\n\n   \n%.*s", (int)b.n,
		    b.p);
		want_digest(lookup_text(txt, strlen(txt), "y.csv"),
		    VFY_SHA256, hy256, "comments and blank lines ignored");
		x_free(txt);
		up = to_crlf(b.p, b.n).p;
		want_digest(lookup_text(up, strlen(up), "z.csv"), VFY_SHA256,
		    hz256, "CRLF line ends");
		x_free(up);
		txt = xasprintf("%.*sthis is not a checksum\n", (int)b.n, b.p);
		is_int(lookup_text(txt, strlen(txt), "x.csv").r, TD_ERR_FORMAT,
		    "a malformed line anywhere: malformed");
		x_free(txt);
		blob_free(&b);
	}

	/* hand-made lines */
	txt = xasprintf("%s\n", hx256);
	want_digest(lookup_text(txt, strlen(txt), "anything.csv"), VFY_SHA256,
	    hx256, "bare digest matches any name");
	x_free(txt);
	txt = xasprintf("%s", hx512);
	want_digest(lookup_text(txt, strlen(txt), "x.csv"), VFY_SHA512, hx512,
	    "bare SHA-512 digest without newline");
	x_free(txt);
	txt = xasprintf("%s\n%s  y.csv\n", hx256, hy256);
	is_int(lookup_text(txt, strlen(txt), "y.csv").r, TD_ERR_FORMAT,
	    "bare digest among named lines: malformed");
	x_free(txt);
	txt = xasprintf("%s  dir/x.csv\n%s  x.csv\n", other, hx256);
	want_digest(lookup_text(txt, strlen(txt), "x.csv"), VFY_SHA256, hx256,
	    "exact name beats last component");
	x_free(txt);
	txt = xasprintf("%s  a/x.csv\n%s  b/x.csv\n", other, hx256);
	is_int(lookup_text(txt, strlen(txt), "x.csv").r, TD_ERR_FORMAT,
	    "two different digests for x.csv: malformed");
	x_free(txt);
	txt = xasprintf("%s  x.csv\n%s *x.csv\n", hx256, hx256);
	want_digest(lookup_text(txt, strlen(txt), "x.csv"), VFY_SHA256, hx256,
	    "the same digest twice is fine");
	x_free(txt);
	txt = xasprintf("SHA256 (x.csv) = %s\nSHA512 (x.csv) = %s\n", hx256,
	    hx512);
	want_digest(lookup_text(txt, strlen(txt), "x.csv"), VFY_SHA512, hx512,
	    "SHA-256 and SHA-512 given: SHA-512 is used");
	x_free(txt);

	{
		/* prefix, digits of hx256 to use, suffix */
		static const struct {
			const char	*pre;
			int		 nhex;
			const char	*post;
		} bad[] = {
			{ "", 63, "  x.csv" },		/* short hex */
			{ "", 64, " x.csv" },		/* one space */
			{ "", 64, "\tx.csv" },		/* tab */
			{ "", 64, "  " },		/* empty name */
			{ "", 64, " *" },		/* empty name */
			{ " ", 64, "  x.csv" },		/* leading space */
			{ "", 64, "a  x.csv" },		/* 65 digits */
			{ "\\", 64, "  x\\q.csv" },	/* bad escape */
			{ "\\", 64, "  x.csv\\" },	/* escape at end */
			{ "\\", 64, "" },		/* escaped bare */
			{ "SHA256 (x.csv) =  ", 64, "" },
			{ "SHA256(x.csv)= ", 64, "" },	/* openssl style */
			{ "SHA1 (x.csv) = ", 64, "" },
			{ "MD5 (x.csv) = ", 64, "" },
			{ "SHA256 () = ", 64, "" },	/* empty name */
			{ "SHA256 (x.csv) = ", 64, "g" },
			{ "SHA512 (x.csv) = ", 64, "" },	/* 64 digits */
			{ "sha256 (x.csv) = ", 64, "" },
			{ "SHA256 (x.csv) ", 64, "" },
			{ "", 60, "xyz!  x.csv" },	/* not hex */
		};

		for (i = 0; i < TD_NELEM(bad); i++) {
			txt = xasprintf("%s%.*s%s\n", bad[i].pre, bad[i].nhex,
			    hx256, bad[i].post);
			l = lookup_text(txt, strlen(txt), "x.csv");
			is_int(l.r, TD_ERR_FORMAT, "malformed line %zu: "
			    "'%s' HEX(%d) '%s'", i, bad[i].pre, bad[i].nhex,
			    bad[i].post[0] == '\t' ? "\\t" : bad[i].post);
			x_free(txt);
		}
	}
	txt = xasprintf("SHA256 (x.csv) = %s\n", hx512);
	is_int(lookup_text(txt, strlen(txt), "x.csv").r, TD_ERR_FORMAT,
	    "SHA256 tag with 128 digits: malformed");
	x_free(txt);
	txt = xasprintf("%s  x.csv\n", hx256);
	txt[10] = '\0';
	is_int(lookup_text(txt, 64 + 8, "x.csv").r, TD_ERR_FORMAT,
	    "NUL byte: malformed");
	x_free(txt);
	is_int(lookup_text("", 0, "x.csv").r, TD_ERR_FORMAT, "empty file");
	is_int(lookup_text("# only\n\n", 8, "x.csv").r, TD_ERR_FORMAT,
	    "only comments: malformed");
	is_int(lookup_text("x", 1, "").r, TD_ERR_INVAL, "empty name: INVAL");
	is_int(verify_checksum_lookup("x", 1, "x", NULL, NULL), TD_ERR_INVAL,
	    "NULL outputs: INVAL");
	/* a long name: over the 4096 limit is malformed, at it is fine */
	{
		char *nm = xmalloc(4098);

		memset(nm, 'n', 4097);
		nm[4096] = '\0';
		txt = xasprintf("%s  %s\n", hx256, nm);
		want_digest(lookup_text(txt, strlen(txt), nm), VFY_SHA256,
		    hx256, "4096-byte name");
		x_free(txt);
		nm[4096] = 'n';
		nm[4097] = '\0';
		txt = xasprintf("%s  %s\n", hx256, nm);
		is_int(lookup_text(txt, strlen(txt), "n").r, TD_ERR_FORMAT,
		    "4097-byte name: malformed");
		x_free(txt);
		x_free(nm);
	}
	{
		uint8_t rnd[700], seed[32];
		int bad = 0;

		memset(seed, 9, sizeof(seed));
		for (i = 0; i < 500; i++) {
			seed[0] = (uint8_t)i;
			seed[1] = (uint8_t)(i >> 8);
			randombytes_buf_deterministic(rnd, sizeof(rnd), seed);
			if (lookup_text((char *)rnd, 1 + i % sizeof(rnd),
			    "x.csv").r != TD_ERR_FORMAT)
				bad++;
		}
		is_int(bad, 0, "500 random byte strings: all malformed");
	}
	/* truncations of a valid line */
	txt = xasprintf("%s  x.csv\n", hx256);
	for (i = 1, l.r = 0; i <= 64 + 2; i++)
		if (i != 64 && lookup_text(txt, i, "x.csv").r != TD_ERR_FORMAT)
			l.r++;
	is_int(l.r, 0, "truncated checksum lines: malformed");
	x_free(txt);
}

/*
 * The index of a checksum file (verify_sums_*) answers exactly as
 * verify_checksum_lookup over the whole text, for random files built
 * from every line form, comments, CRLF, conflicts, bare digests and
 * malformed lines; and the extract for a name (what a claim keeps of a
 * SHA256SUMS) gives that same answer on its own.
 */
static int
same_lk(struct lk a, struct lk b)
{
	return a.r == b.r && a.algo == b.algo && strcmp(a.hex, b.hex) == 0;
}

static void
test_sums_index(void)
{
	static const char *names[] = { "x.csv", "./x.csv", "dir/x.csv",
	    "y.csv", "a/b/y.csv", "b/y.csv", "sp ace.csv", "x.csv.gz" };
	static const char *asked[] = { "x.csv", "y.csv", "b/y.csv",
	    "dir/x.csv", "sp ace.csv", "z.csv", "x.csv.gz" };
	static const char *junk[] = { "not a checksum", "SHA256 (x.csv) = 12",
	    "\\q", "" };
	struct td_buf t, ex;
	struct vfy_sums *ix;
	struct lk whole, got, part;
	char hex[4][129];
	size_t f, k, i, nl;
	int bad_lookup = 0, bad_extract = 0, nformat = 0, nfound = 0;

	for (i = 0; i < 4; i++) {
		for (k = 0; k < (i < 2 ? 64 : 128); k++)
			hex[i][k] = "0123456789abcdefABCDEF"[(i * 7 + k * 3) %
			    (k % 5 == 0 ? 22 : 16)];
		hex[i][k] = '\0';
	}
	srand(4096);
	td_buf_init(&t, 0, 0);
	td_buf_init(&ex, 0, 0);
	for (f = 0; f < 3000; f++) {
		td_buf_reset(&t);
		nl = (size_t)rand() % 6;
		for (k = 0; k < nl; k++) {
			const char *n = names[rand() % TD_NELEM(names)];
			const char *h = hex[rand() % 4];
			int form = rand() % 20;

			if (form < 7)
				td_buf_printf(&t, "%s  %s", h, n);
			else if (form < 10)
				td_buf_printf(&t, "%s *%s", h, n);
			else if (form < 13)
				td_buf_printf(&t, "SHA%s (%s) = %s",
				    strlen(h) == 64 ? "256" : "512", n, h);
			else if (form < 15)
				td_buf_printf(&t, "# %s", n);
			else if (form < 16)
				td_buf_puts(&t, "   ");
			else if (form < 17)
				td_buf_puts(&t, h);	/* bare */
			else if (form < 19 && rand() % 4 == 0)
				td_buf_puts(&t, junk[rand() % 4]);
			else
				td_buf_printf(&t, "%s  %s", h, names[0]);
			td_buf_puts(&t, rand() % 5 == 0 ? "\r\n" : "\n");
		}
		if (rand() % 50 == 0)
			td_buf_putc(&t, '\0');
		if (t.len > 0 && rand() % 4 == 0)
			t.len--;	/* no final newline */
		if (verify_sums_new(xstrndup(t.p ? t.p : "", t.len), t.len,
		    &ix) != 0) {
			bad_lookup++;
			continue;
		}
		for (i = 0; i < TD_NELEM(asked); i++) {
			whole = lookup_text(t.p ? t.p : "", t.len, asked[i]);
			memset(&got, 0, sizeof(got));
			got.r = verify_sums_lookup(ix, asked[i], &got.algo,
			    got.hex);
			if (!same_lk(whole, got)) {
				if (bad_lookup++ < 3)
					diag("file %zu name %s: whole r=%d, "
					    "index r=%d", f, asked[i], whole.r,
					    got.r);
			}
			nformat += whole.r == TD_ERR_FORMAT;
			nfound += whole.r == 0;
			td_buf_reset(&ex);
			k = (size_t)verify_sums_extract(ix, asked[i], &ex);
			if (whole.r == TD_ERR_NOTFOUND) {
				bad_extract += (int)k != TD_ERR_NOTFOUND ||
				    ex.len != 0;
				continue;
			}
			part = lookup_text(ex.p ? ex.p : "", ex.len, asked[i]);
			if (k != 0 || !same_lk(whole, part)) {
				if (bad_extract++ < 3)
					diag("file %zu name %s: whole r=%d, "
					    "extract r=%d", f, asked[i],
					    whole.r, part.r);
			}
		}
		verify_sums_free(ix);
	}
	td_buf_free(&t);
	td_buf_free(&ex);
	is_int(bad_lookup, 0, "index: 3000 random checksum files, 7 names "
	    "each, the same answers as a whole-text lookup (%d found, %d "
	    "malformed)", nfound, nformat);
	is_int(bad_extract, 0, "extract: the lines kept for a name give the "
	    "same answer on their own");
}

int
main(void)
{
	const char *s;

	if ((s = getenv("srcdir")) != NULL && *s != '\0')
		srcdir = s;
	if (sodium_init() < 0)
		td_fatal("sodium_init");
	if (mkdtemp(tmpdir) == NULL)
		td_fatal("mkdtemp");

	test_vectors();
	test_minisign_tool();
	test_minisign_malformed();
	test_checksums();
	test_sums_index();

	run("cd / && rm -rf '%s'", tmpdir);
	return done_testing();
}
