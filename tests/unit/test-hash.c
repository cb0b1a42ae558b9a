/*
 * test-hash.c - common/hash.c: SHA-256 and SHA-512 over EVP give the
 * standard digests (FIPS 180-4 examples), whole or in pieces, from a
 * copied mid-state, from many threads at once; a state copied by value
 * is caught, not silently shared; hashing does not allocate a context
 * per call.
 */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "child.h"
#include "tap.h"
#include "td.h"
#include "hash.h"

static long nalloc;

static void *
count_malloc(size_t n, const char *file, int line)
{
	__atomic_add_fetch(&nalloc, 1, __ATOMIC_RELAXED);
	return malloc(n);
}

static void *
count_realloc(void *p, size_t n, const char *file, int line)
{
	__atomic_add_fetch(&nalloc, 1, __ATOMIC_RELAXED);
	return realloc(p, n);
}

static void
count_free(void *p, const char *file, int line)
{
	free(p);
}

static const char abc256[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
static const char abc512[] =
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
static const char empty256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char empty512[] =
    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
/* SHA-256 of one million 'a' */
static const char million256[] =
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

static void
hex256(struct td_sha256 *h, char out[TD_SHA256_HEX])
{
	unsigned char d[TD_SHA256_LEN];

	td_sha256_final(h, d);
	td_hex(d, sizeof(d), out);
}

static void
hex512(struct td_sha512 *h, char out[TD_SHA512_HEX])
{
	unsigned char d[TD_SHA512_LEN];

	td_sha512_final(h, d);
	td_hex(d, sizeof(d), out);
}

static void
test_vectors(void)
{
	struct td_sha256 h;
	struct td_sha512 g;
	char x[TD_SHA512_HEX], *big;
	size_t i;

	td_sha256_hex("abc", 3, x);
	is_str(x, abc256, "SHA-256 of abc");
	td_sha256_hex("", 0, x);
	is_str(x, empty256, "SHA-256 of nothing");
	td_sha512_init(&g);
	td_sha512_update(&g, "abc", 3);
	hex512(&g, x);
	is_str(x, abc512, "SHA-512 of abc");
	td_sha512_init(&g);
	hex512(&g, x);
	is_str(x, empty512, "SHA-512 of nothing");

	big = xmalloc(1000000);
	memset(big, 'a', 1000000);
	td_sha256_hex(big, 1000000, x);
	is_str(x, million256, "SHA-256 of a million a, at once");
	/* the same in uneven pieces */
	td_sha256_init(&h);
	for (i = 0; i < 1000000; ) {
		size_t n = 1 + (i * 7919) % 1021;

		if (n > 1000000 - i)
			n = 1000000 - i;
		td_sha256_update(&h, big + i, n);
		i += n;
	}
	hex256(&h, x);
	is_str(x, million256, "and in uneven pieces");
	x_free(big);
}

/* A mid-state copied (record ids: one prefix, many suffixes). */
static void
test_copy(void)
{
	struct td_sha256 pre, h;
	struct td_sha512 pre5, g;
	char x[TD_SHA512_HEX], want[TD_SHA512_HEX];
	int i, bad = 0;

	td_sha256_init(&pre);
	td_sha256_update(&pre, "ab", 2);
	for (i = 0; i < 100; i++) {
		td_sha256_copy(&h, &pre);
		td_sha256_update(&h, "c", 1);
		hex256(&h, x);
		if (strcmp(x, abc256) != 0)
			bad++;
	}
	is_int(bad, 0, "100 copies of the state after \"ab\" each finish "
	    "as SHA-256(abc)");
	td_sha256_update(&pre, "c", 1);
	hex256(&pre, x);
	is_str(x, abc256, "the original goes on unchanged by its copies");

	td_sha512_init(&pre5);
	td_sha512_update(&pre5, "a", 1);
	td_sha512_copy(&g, &pre5);
	td_sha512_update(&g, "bc", 2);
	hex512(&g, x);
	is_str(x, abc512, "SHA-512 from a copied state");
	td_sha512_clear(&pre5);

	/* clear: nothing on a zeroed or finished state, drops a live one */
	memset(&h, 0, sizeof(h));
	td_sha256_clear(&h);
	td_sha256_init(&h);
	td_sha256_update(&h, "junk", 4);
	td_sha256_clear(&h);
	td_sha256_clear(&h);
	td_sha256_init(&h);
	td_sha256_update(&h, "abc", 3);
	hex256(&h, want);
	is_str(want, abc256, "a cleared state can be initialised again");
}

static int
misuse_child(void *arg)
{
	struct td_sha256 a, b;

	td_sha256_init(&a);
	b = a;
	td_sha256_update(&b, "x", 1);
	return 0;
}

/* A state copied by value would share its context: caught. */
static void
test_misuse(void)
{
	is_int(run_in_child(misuse_child, NULL), 4, "a state copied by "
	    "value is a fatal error, not a shared context");
}

struct thr {
	int	 id;
	int	 bad;
};

static void *
thr_run(void *arg)
{
	struct thr *t = arg;
	struct td_sha256 pre, h;
	struct td_sha512 g;
	char x[TD_SHA512_HEX];
	int i;

	td_sha256_init(&pre);
	td_sha256_update(&pre, "a", 1);
	for (i = 0; i < 2000; i++) {
		td_sha256_copy(&h, &pre);
		td_sha256_update(&h, "bc", 2);
		hex256(&h, x);
		t->bad += strcmp(x, abc256) != 0;
		td_sha512_init(&g);
		td_sha512_update(&g, "abc", 3);
		hex512(&g, x);
		t->bad += strcmp(x, abc512) != 0;
	}
	td_sha256_clear(&pre);
	return NULL;
}

static void
test_threads(void)
{
	pthread_t th[8];
	struct thr t[8];
	int i, bad = 0;

	for (i = 0; i < 8; i++) {
		t[i].id = i;
		t[i].bad = 0;
		if (pthread_create(&th[i], NULL, thr_run, &t[i]) != 0)
			td_fatal("pthread_create");
	}
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		bad += t[i].bad;
	}
	is_int(bad, 0, "8 threads hashing at once, 32000 digests, all right");
}

static void
test_fd(void)
{
	char path[] = "/tmp/td-test-hash.XXXXXX", x[TD_SHA256_HEX];
	int fd;

	if ((fd = mkstemp(path)) < 0 || write(fd, "abc", 3) != 3 ||
	    lseek(fd, 0, SEEK_SET) != 0)
		td_fatal("mkstemp");
	unlink(path);
	ok(td_sha256_fd(fd, x) == 0 && strcmp(x, abc256) == 0,
	    "td_sha256_fd of a file");
	close(fd);
	ok(td_sha256_fd(-1, x) == TD_ERR_IO && x[0] == '\0',
	    "td_sha256_fd of a bad descriptor is TD_ERR_IO");
	ok(td_is_sha256_hex(abc256) && !td_is_sha256_hex("ABC") &&
	    !td_is_sha256_hex(abc512), "td_is_sha256_hex");
}

/*
 * Contexts come from the per-thread cache: hashing a short message
 * costs at most the one allocation libcrypto 3.0 makes for its provider
 * state inside EVP_DigestInit_ex2 (EVP_Digest, a new context each time,
 * makes two).
 */
static void
test_alloc(void)
{
	char x[TD_SHA256_HEX];
	long before;
	int i;

	td_sha256_hex("warm", 4, x);
	before = __atomic_load_n(&nalloc, __ATOMIC_RELAXED);
	for (i = 0; i < 1000; i++)
		td_sha256_hex("abc", 3, x);
	ok(__atomic_load_n(&nalloc, __ATOMIC_RELAXED) - before <= 1000,
	    "1000 digests: at most one libcrypto allocation each (%ld)",
	    __atomic_load_n(&nalloc, __ATOMIC_RELAXED) - before);
}

int
main(void)
{
	/* before libcrypto allocates anything */
	if (!CRYPTO_set_mem_functions(count_malloc, count_realloc,
	    count_free))
		diag("cannot count libcrypto allocations");
	test_vectors();
	test_copy();
	test_misuse();
	test_threads();
	test_fd();
	test_alloc();
	return done_testing();
}
