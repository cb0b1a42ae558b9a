/*
 * sftp.c - the SFTP source stage.
 *
 * One poll of a source: connect (non-blocking connect bounded by
 * connect_timeout, then libssh2 in blocking mode with a session
 * timeout), verify the host key against known_hosts (mandatory: an
 * unknown or changed key is refused, never learned), authenticate,
 * list the remote directory, decide which versions are ready, download
 * them to landing/.NAME.part, make them durable, rename them into
 * landing, record them as fetched, then apply `after`.
 *
 * Bad input never crashes: remote names are untrusted and checked
 * before they become local paths; anything odd is logged (escaped) and
 * skipped.
 *
 * Each source has a circuit breaker in state.db (backoff.c, named
 * "source:NAME"), with the time, result and files fetched of its last
 * poll, which `status` shows: 5 consecutive Tier 1 failures (connection,
 * listing or transfer) open it, and polls are skipped for a jittered
 * 1-5 s, doubled by each failed probe up to 15 minutes. A refused login
 * or host key is not Tier 1 and does not count.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stddef.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libssh2.h>
#include <libssh2_sftp.h>
#include <sodium.h>
#include <sqlite3.h>

#include "td.h"
#include "clock.h"
#include "audit.h"
#include "conf.h"
#include "failpoint.h"
#include "fsutil.h"
#include "hash.h"
#include "log.h"
#include "match.h"
#include "store.h"
#include "backoff.h"
#include "ctx.h"
#include "intake.h"
#include "landing.h"
#include "sidecar.h"
#include "sftp.h"

#define SFTP_BUF	(2u << 20)	/* read size: libssh2 pipelines up to 4x */
/*
 * The buffer a remote name is read into. libssh2 (1.10, 1.11) answers a
 * name longer than its buffer with LIBSSH2_ERROR_BUFFER_TOO_SMALL and
 * does not step past it, so every later name of the same SSH_FXP_NAME
 * reply fails the same way: one long name would hide the files beside
 * it. A name cannot be longer than the reply that carries it, and
 * libssh2 takes no reply over 256 KiB; names over SFTP_NAME_MAX bytes
 * are then refused by name_ok(), one by one.
 */
#define SFTP_NAME_BUF	(256u << 10)
/* so that .NAME.part.info fits NAME_MAX */
#define SFTP_NAME_MAX	(255 - 1 - (int)(sizeof(LANDING_PART_INFO) - 1))
#define SFTP_NAME_LOG	255		/* bytes of a refused name logged */
#define SFTP_MAX_ENTRIES 1000000	/* largest listing handled */
#define SFTP_MAX_NAMES	(4 * SFTP_MAX_ENTRIES)	/* names of any kind */
#define SFTP_BAD_LOG	100		/* unsafe names logged a listing */
#define SFTP_HELD_MAX	100000		/* data names held for a sidecar */
#define SFTP_RESUME_MIN	(1u << 20)	/* smaller files restart, no .info */
#define SFTP_RESUME_CHECK (64u << 10)	/* bytes before the offset compared */
#define SFTP_SYNC_EVERY	(64u << 20)	/* a download is made durable, its
					   .part.info says so, this often */
#define SFTP_BATCH_FILES 512		/* files made durable by one syncfs */
#define SFTP_BATCH_BYTES (64u << 20)
#define SFTP_SECRET_MAX	4096
#define SFTP_IO_TIMEOUT	60		/* seconds, at least connect_timeout */
#define SFTP_BRK_FAILURES 5		/* consecutive Tier 1 failures */
#define SFTP_BRK_WAIT	5		/* seconds, then doubled per probe */
#define SFTP_BACKOFF_MAX 900

struct sftp_url {
	char		*user;
	char		*host;
	unsigned	 port;
	char		*path;		/* absolute, no trailing slash (but "/") */
};

/* A block libssh2 allocated for a session (ssh_alloc): in conn's list. */
union ssh_block {
	struct {
		union ssh_block	*prev, *next;
		size_t		 n;	/* bytes asked for */
	}		 l;
	max_align_t	 align;
};
/*
 * The most libssh2 may hold for a session. It keeps every reply the
 * server sends until a request of that id is read, and a server may send
 * replies to requests never made: without a bound that took the worker's
 * memory until it died, at every poll. What a session needs is a few
 * packets of at most 256 KiB and the reads in flight of one SFTP_BUF.
 */
#define SSH_MEM_MAX	(64u << 20)

struct conn {
	int		 fd;
	LIBSSH2_SESSION	*s;
	LIBSSH2_SFTP	*sftp;
	struct sftp_url	 u;
	const char	*name;		/* source name */
	int		 dead;		/* connection lost */
	int		 overdue;	/* poll_timeout reached */
	struct timespec	 deadline;	/* CLOCK_MONOTONIC; 0: none */
	union ssh_block	 mem;		/* libssh2's blocks (a ring) */
	size_t		 mem_bytes;	/* what they hold, up to SSH_MEM_MAX */
	int		 mem_said;	/* the bound was logged */
	int		 after_late;	/* `after` left to the next poll */
	/* data names whose sidecar the listing refused: they wait */
	char		**held;
	size_t		 nheld;
	int		 held_sorted;
};

/* Why a connection attempt failed. */
#define CONN_TIER1	1
#define CONN_AUTH	2

enum ent_kind { EK_OTHER, EK_DATA, EK_SIDECAR, EK_MANIFEST, EK_MARKER };

struct ent {
	char		*name;
	uint64_t	 size;
	int64_t		 mtime;
	int		 kind;
	int		 known;		/* row state: 0 none, 1 seen, 2 fetched */
	int64_t		 first_seen;	/* of this version (td_time) */
	int		 ready;
	int		 done;		/* landed in this poll */
	int		 twice;		/* listed more than once: refused */
	char		*base;		/* data file name for sidecars/markers */
};

struct pending {
	struct ent	*e;
	int		 fd;
	char		*part, *info, *final;
	uint64_t	 size;
	char		 sha256[TD_SHA256_HEX];	/* of the bytes landed */
};

struct batch {
	struct pending	 p[SFTP_BATCH_FILES];
	size_t		 n;
	uint64_t	 bytes;
};

/* The breaker of a source (see the comment at the top). */
static const struct backoff_policy sftp_policy = {
	.threshold = SFTP_BRK_FAILURES,
	.cooldown = SFTP_BRK_WAIT,
	.cooldown_max = SFTP_BACKOFF_MAX,
	.grow = 1,
	.jitter = 1,
};

static int libssh2_ready;

static void
url_free(struct sftp_url *u)
{
	x_free(u->user);
	x_free(u->host);
	x_free(u->path);
	memset(u, 0, sizeof(*u));
}

/*
 * sftp://USER@HOST[:PORT]/PATH, strictly: user of [A-Za-z0-9._-], host
 * a DNS name, IPv4 address or [IPv6], port 1-65535, an absolute path
 * without control characters, "." or ".." components.
 */
static int
url_parse(const char *s, struct sftp_url *u, const char **why)
{
	const char *p, *at, *h, *he, *slash;
	unsigned long port = 22;
	char *end;
	size_t n, i;

	memset(u, 0, sizeof(*u));
	*why = NULL;
	if (strncmp(s, "sftp://", 7) != 0) {
		*why = "url must start with sftp://";
		return TD_ERR_INVAL;
	}
	p = s + 7;
	if ((at = strchr(p, '@')) == NULL || at == p) {
		*why = "url needs USER@ before the host";
		return TD_ERR_INVAL;
	}
	for (i = 0; p + i < at; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789._-", p[i]) == NULL) {
			*why = "url user must be letters, digits, . _ -";
			return TD_ERR_INVAL;
		}
	h = at + 1;
	if (*h == '[') {
		if ((he = strchr(h, ']')) == NULL || he == h + 1) {
			*why = "url has an unterminated [IPv6] host";
			return TD_ERR_INVAL;
		}
		for (i = 1; h + i < he; i++)
			if (strchr("0123456789abcdefABCDEF:.", h[i]) == NULL) {
				*why = "url has a bad [IPv6] host";
				return TD_ERR_INVAL;
			}
		u->host = xstrndup(h + 1, (size_t)(he - h - 1));
		p = he + 1;
	} else {
		for (he = h; *he != '\0' && *he != ':' && *he != '/'; he++)
			if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
			    "TUVWXYZ0123456789.-", *he) == NULL) {
				*why = "url host must be a name or an address";
				return TD_ERR_INVAL;
			}
		if (he == h || *h == '-' || *h == '.') {
			*why = "url needs a host";
			return TD_ERR_INVAL;
		}
		u->host = xstrndup(h, (size_t)(he - h));
		p = he;
	}
	if (*p == ':') {
		if (p[1] < '0' || p[1] > '9') {
			*why = "url port must be a number";
			goto bad;
		}
		errno = 0;
		port = strtoul(p + 1, &end, 10);
		if (errno != 0 || port < 1 || port > 65535 || *end != '/') {
			*why = "url port must be 1-65535";
			goto bad;
		}
		p = end;
	}
	if (*p != '/') {
		*why = "url needs an absolute /PATH after the host";
		goto bad;
	}
	for (i = 0; p[i] != '\0'; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) {
			*why = "url path has a control character";
			goto bad;
		}
	/* no "." or ".." components */
	for (slash = p; slash != NULL; slash = strchr(slash + 1, '/')) {
		n = strcspn(slash + 1, "/");
		if ((n == 1 && slash[1] == '.') ||
		    (n == 2 && slash[1] == '.' && slash[2] == '.')) {
			*why = "url path has a . or .. component";
			goto bad;
		}
	}
	n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		n--;
	u->user = xstrndup(s + 7, (size_t)(at - (s + 7)));
	u->port = (unsigned)port;
	u->path = xstrndup(p, n);
	return TD_OK;
bad:
	url_free(u);
	return TD_ERR_INVAL;
}

/*
 * Whether a name refused at this poll is to be logged: the first time
 * this process meets it (every `once`), then once an hour (a daemon's
 * SFTP worker, which polls every poll_interval; each poll counts its
 * refused names in event=sftp_listed all the same), measured on the
 * monotonic clock as other repeated warnings (a step of the wall clock
 * neither repeats nor silences it). The memory is a fixed table of
 * hashes, the oldest of a full neighbourhood given up.
 */
#define SAID_SLOTS	4096
#define SAID_PROBE	8
#define SAID_AGAIN	3600		/* seconds of the monotonic clock */

static int
say_refused(const char *source, const char *name, size_t len)
{
	static struct {
		uint64_t	h;
		int64_t		at;
	} said[SAID_SLOTS];
	crypto_generichash_state g;
	uint64_t h;
	int64_t now = td_mono_ms(), again = 1000 * (int64_t)td_test_bound(
	    "TD_TEST_REFUSED_AGAIN", SAID_AGAIN);
	size_t j, k, old = 0;

	(void)crypto_generichash_init(&g, NULL, 0, sizeof(h));
	(void)crypto_generichash_update(&g, (const unsigned char *)source,
	    strlen(source) + 1);
	(void)crypto_generichash_update(&g, (const unsigned char *)name, len);
	(void)crypto_generichash_final(&g, (unsigned char *)&h, sizeof(h));
	h |= 1;				/* 0: a free slot */
	for (j = 0; j < SAID_PROBE; j++) {
		k = (size_t)((h >> 1) + j) % SAID_SLOTS;
		if (said[k].h == h) {
			if (now - said[k].at < again)
				return 0;
			said[k].at = now;
			return 1;
		}
		/* a free slot, else the oldest */
		if (j == 0 || (said[old].h != 0 && (said[k].h == 0 ||
		    said[k].at < said[old].at)))
			old = k;
	}
	said[old].h = h;
	said[old].at = now;
	return 1;
}

/*
 * Remote names become local paths: refuse anything that is not a plain
 * name, or too long for its download's names in landing: .NAME.part and
 * .NAME.part.info must fit NAME_MAX (255) too, or every poll would stop
 * at that file, the files beside it never landed.
 */
static int
name_ok(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > SFTP_NAME_MAX || memchr(name, '\0', len) != NULL)
		return 0;
	if ((len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	for (i = 0; i < len; i++)
		if (name[i] == '/' || (unsigned char)name[i] < 0x20 ||
		    name[i] == 0x7f)
			return 0;
	return 1;
}

/*
 * Read a secret file: at most SFTP_SECRET_MAX bytes, one trailing
 * newline stripped. The caller wipes and frees it with secret_free().
 */
static int
secret_read(const char *path, char **out)
{
	char buf[SFTP_SECRET_MAX + 1];
	size_t n = 0;
	ssize_t r;
	int fd, rc = TD_OK;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return TD_ERR_IO;
	for (;;) {
		r = read(fd, buf + n, sizeof(buf) - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = TD_ERR_IO;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == sizeof(buf)) {
			rc = TD_ERR_LIMIT;
			goto out;
		}
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (memchr(buf, '\0', n) != NULL) {
		rc = TD_ERR_FORMAT;
		goto out;
	}
	*out = xmalloc(n + 1);
	memcpy(*out, buf, n);
	(*out)[n] = '\0';
out:
	sodium_memzero(buf, sizeof(buf));
	close(fd);
	return rc;
}

static void
secret_free(char *s)
{
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		x_free(s);
	}
}

static const char *
ssh_err(LIBSSH2_SESSION *s)
{
	char *msg = NULL;

	if (s == NULL || libssh2_session_last_error(s, &msg, NULL, 0) == 0 ||
	    msg == NULL)
		return "no error";
	return msg;
}

/* Non-blocking connect bounded by timeout, then back to blocking. */
static int
tcp_connect(const char *host, unsigned port, int timeout, int *fdp,
    char **err)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct pollfd pfd;
	char portstr[8];
	socklen_t sl;
	int fd = -1, e = 0, r, on = 1, v;
	struct timespec t0, t1;
	long left;

	*fdp = -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%u", port);
	if ((r = getaddrinfo(host, portstr, &hints, &res)) != 0) {
		*err = xasprintf("cannot resolve %s: %s", host,
		    gai_strerror(r));
		return TD_ERR_IO;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno != EINPROGRESS) {
			e = errno;
			goto next;
		}
		for (;;) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			left = (long)timeout * 1000 -
			    ((t1.tv_sec - t0.tv_sec) * 1000 +
			    (t1.tv_nsec - t0.tv_nsec) / 1000000);
			if (left <= 0) {
				e = ETIMEDOUT;
				goto next;
			}
			pfd.fd = fd;
			pfd.events = POLLOUT;
			r = poll(&pfd, 1, (int)left);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				e = errno;
				goto next;
			}
			if (r == 0) {
				e = ETIMEDOUT;
				goto next;
			}
			break;
		}
		sl = sizeof(v);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &sl) != 0)
			v = errno;
		if (v == 0)
			break;
		e = v;
next:
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		*err = xasprintf("cannot connect to %s port %u: %s", host, port,
		    strerror(e ? e : ECONNREFUSED));
		return TD_ERR_IO;
	}
	if ((v = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, v & ~O_NONBLOCK) == -1) {
		*err = xasprintf("cannot connect to %s port %u: fcntl: %s",
		    host, port, strerror(errno));
		close(fd);
		return TD_ERR_IO;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	v = 60;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v));
	v = 15;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &v, sizeof(v));
	v = 4;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &v, sizeof(v));
	*fdp = fd;
	return TD_OK;
}

/* "SHA256:<base64 without padding>", as OpenSSH prints it. */
static void
fingerprint(LIBSSH2_SESSION *s, char *out, size_t n)
{
	const char *h = libssh2_hostkey_hash(s, LIBSSH2_HOSTKEY_HASH_SHA256);
	char b64[64];

	if (h == NULL) {
		snprintf(out, n, "SHA256:(unavailable)");
		return;
	}
	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)h, 32,
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	snprintf(out, n, "SHA256:%s", b64);
}

static const char *
hostkey_typename(int type, int *kbit)
{
	switch (type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA:
		*kbit = LIBSSH2_KNOWNHOST_KEY_SSHRSA;
		return "RSA";
	case LIBSSH2_HOSTKEY_TYPE_DSS:
		*kbit = LIBSSH2_KNOWNHOST_KEY_SSHDSS;
		return "DSA";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
		*kbit = LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
		return "ECDSA";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
		*kbit = LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
		return "ECDSA";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
		*kbit = LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
		return "ECDSA";
	case LIBSSH2_HOSTKEY_TYPE_ED25519:
		*kbit = LIBSSH2_KNOWNHOST_KEY_ED25519;
		return "ED25519";
	default:
		*kbit = LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
		return "unknown";
	}
}

/*
 * Is the host key (key, klen: the SSH wire blob) on a "@revoked" line of
 * khfile? libssh2 does not read the markers of OpenSSH: it accepts a
 * revoked key that a plain line lists too. A key revoked for any host
 * is refused (OpenSSH refuses it for the hosts the line names).
 * Returns 1 revoked, 0 not, -1 (errno) the file cannot be read.
 */
static int
hostkey_revoked(const char *khfile, const char *key, size_t klen)
{
	char line[16384], *p, *f[4];
	unsigned char *bin = xmalloc(sizeof(line));
	size_t binlen, n;
	int rc = 0, partial, longline = 0;
	FILE *fp;

	if ((fp = fopen(khfile, "re")) == NULL) {
		x_free(bin);
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), fp) != NULL) {
		n = strlen(line);
		partial = n > 0 && line[n - 1] != '\n' && !feof(fp);
		if (longline || partial) {
			/* a line too long to hold a key: skip to its end */
			longline = partial;
			continue;
		}
		p = line + strspn(line, " \t");
		if (strncmp(p, "@revoked", 8) != 0 || (p[8] != ' ' &&
		    p[8] != '\t'))
			continue;
		for (n = 0; n < 4 && *p != '\0'; n++) {
			f[n] = p;
			p += strcspn(p, " \t\r\n");
			if (*p != '\0')
				*p++ = '\0';
			p += strspn(p, " \t\r\n");
		}
		if (n == 4 && sodium_base642bin(bin, sizeof(line), f[3],
		    strlen(f[3]), NULL, &binlen, NULL,
		    sodium_base64_VARIANT_ORIGINAL) == 0 && binlen == klen &&
		    memcmp(bin, key, klen) == 0)
			rc = 1;
	}
	if (rc == 0 && ferror(fp))
		rc = -1;
	fclose(fp);
	x_free(bin);
	return rc;
}

/*
 * The host key must be in known_hosts for exactly this host (and
 * port, as "[host]:port" when not 22, matching plain and hashed
 * entries the way OpenSSH writes them), and on no "@revoked" line.
 * Never learned.
 */
static int
hostkey_check(const struct td_conf *c, size_t i, struct conn *k, char **err)
{
	LIBSSH2_KNOWNHOSTS *kh = NULL;
	struct libssh2_knownhost *entry = NULL;
	const char *khfile = td_conf_src_str(c, i, TDK_source_known_hosts);
	const char *key, *tname;
	char fp[80], *hostname;
	size_t klen;
	int type, kbit, r, rc = TD_ERR_INVAL;

	if (k->u.port == 22)
		hostname = xstrdup(k->u.host);
	else
		hostname = xasprintf("[%s]:%u", k->u.host, k->u.port);
	key = libssh2_session_hostkey(k->s, &klen, &type);
	if (key == NULL) {
		*err = xasprintf("no host key from %s: %s", hostname,
		    ssh_err(k->s));
		goto out;
	}
	tname = hostkey_typename(type, &kbit);
	fingerprint(k->s, fp, sizeof(fp));
	if ((kh = libssh2_knownhost_init(k->s)) == NULL) {
		*err = xasprintf("cannot initialise known hosts");
		goto out;
	}
	r = libssh2_knownhost_readfile(kh, khfile,
	    LIBSSH2_KNOWNHOST_FILE_OPENSSH);
	if (r < 0) {
		*err = xasprintf("cannot read known_hosts %s: %s", khfile,
		    ssh_err(k->s));
		td_log(TD_LOG_ERROR, "sftp_known_hosts_unreadable", "source=%s "
		    "file=%s error=%s", k->name, khfile, ssh_err(k->s));
		goto out;
	}
	if ((r = hostkey_revoked(khfile, key, klen)) != 0) {
		if (r < 0) {
			*err = xasprintf("cannot read known_hosts %s: %s",
			    khfile, strerror(errno));
			td_log(TD_LOG_ERROR, "sftp_known_hosts_unreadable",
			    "source=%s file=%s error=%s", k->name, khfile,
			    strerror(errno));
			goto out;
		}
		*err = xasprintf("HOST KEY REVOKED for %s: the server offers "
		    "%s key %s, which %s marks @revoked; refusing to connect",
		    hostname, tname, fp, khfile);
		td_log(TD_LOG_ERROR, "sftp_hostkey_revoked", "source=%s "
		    "host=%s type=%s fingerprint=%s known_hosts=%s",
		    k->name, hostname, tname, fp, khfile);
		goto out;
	}
	/* port -1: check exactly the name given, "[host]:port" included */
	r = libssh2_knownhost_checkp(kh, hostname, -1, key, klen,
	    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | kbit,
	    &entry);
	switch (r) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		td_log(TD_LOG_DEBUG, "sftp_hostkey_ok", "source=%s host=%s "
		    "type=%s fingerprint=%s", k->name, hostname, tname, fp);
		rc = TD_OK;
		break;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		*err = xasprintf("HOST KEY CHANGED for %s: the server offers %s "
		    "key %s, which does not match %s; refusing to connect "
		    "(someone may be intercepting the connection, or the key "
		    "was replaced: check the fingerprint with the retailer, "
		    "then update known_hosts)", hostname, tname, fp, khfile);
		td_log(TD_LOG_ERROR, "sftp_hostkey_changed", "source=%s "
		    "host=%s type=%s fingerprint=%s known_hosts=%s",
		    k->name, hostname, tname, fp, khfile);
		break;
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		*err = xasprintf("UNKNOWN HOST KEY for %s: %s key %s is not in "
		    "%s; refusing to connect (get the key with ssh-keyscan, "
		    "check its fingerprint with ssh-keygen -lf against the one "
		    "the retailer gives you, then add it)", hostname, tname,
		    fp, khfile);
		td_log(TD_LOG_ERROR, "sftp_hostkey_unknown", "source=%s "
		    "host=%s type=%s fingerprint=%s known_hosts=%s",
		    k->name, hostname, tname, fp, khfile);
		break;
	default:
		*err = xasprintf("host key check failed for %s: %s", hostname,
		    ssh_err(k->s));
		td_log(TD_LOG_ERROR, "sftp_hostkey_failed", "source=%s "
		    "host=%s error=%s", k->name, hostname, ssh_err(k->s));
		break;
	}
out:
	if (kh != NULL)
		libssh2_knownhost_free(kh);
	x_free(hostname);
	return rc;
}

static int
auth(const struct td_conf *c, size_t i, struct conn *k, char **err)
{
	const char *id = td_conf_src_str(c, i, TDK_source_identity);
	const char *pwf = td_conf_src_str(c, i, TDK_source_password_file);
	const char *ppf = td_conf_src_str(c, i, TDK_source_passphrase_file);
	char *secret = NULL;
	int r, tier1 = 0;

	if (id != NULL) {
		if (ppf != NULL && secret_read(ppf, &secret) != 0) {
			*err = xasprintf("cannot read passphrase_file %s",
			    ppf);
			return CONN_AUTH;
		}
		r = libssh2_userauth_publickey_fromfile_ex(k->s, k->u.user,
		    (unsigned)strlen(k->u.user), NULL, id,
		    secret != NULL ? secret : "");
		secret_free(secret);
		secret = NULL;
		if (r == 0)
			return 0;
		if (r == LIBSSH2_ERROR_SOCKET_RECV ||
		    r == LIBSSH2_ERROR_SOCKET_SEND ||
		    r == LIBSSH2_ERROR_TIMEOUT ||
		    r == LIBSSH2_ERROR_SOCKET_DISCONNECT)
			tier1 = 1;
		*err = xasprintf("public key authentication as %s with %s "
		    "failed: %s", k->u.user, id, ssh_err(k->s));
		if (tier1 || pwf == NULL)
			return tier1 ? CONN_TIER1 : CONN_AUTH;
		x_free(*err);
		*err = NULL;
	}
	if (secret_read(pwf, &secret) != 0) {
		*err = xasprintf("cannot read password_file %s", pwf);
		return CONN_AUTH;
	}
	r = libssh2_userauth_password_ex(k->s, k->u.user,
	    (unsigned)strlen(k->u.user), secret, (unsigned)strlen(secret),
	    NULL);
	secret_free(secret);
	if (r == 0)
		return 0;
	*err = xasprintf("password authentication as %s failed: %s",
	    k->u.user, ssh_err(k->s));
	if (r == LIBSSH2_ERROR_SOCKET_RECV || r == LIBSSH2_ERROR_SOCKET_SEND ||
	    r == LIBSSH2_ERROR_TIMEOUT || r == LIBSSH2_ERROR_SOCKET_DISCONNECT)
		return CONN_TIER1;
	return CONN_AUTH;
}

/*
 * libssh2 allocates a session's memory through these, and conn_close
 * frees what is left once the session is: libssh2 1.10 frees an SFTP
 * handle only when its FXP_CLOSE is sent, which a lost connection
 * cannot, and libssh2_sftp_shutdown leaves open handles alone, so a
 * connection lost mid-transfer kept the handle and its read-ahead
 * (about 20 KB a file, LeakSanitizer in sftp.sh) for the life of the
 * process.
 */
static void
ssh_link(struct conn *k, union ssh_block *b)
{
	b->l.prev = &k->mem;
	b->l.next = k->mem.l.next;
	k->mem.l.next->l.prev = b;
	k->mem.l.next = b;
}

static void
ssh_unlink(union ssh_block *b)
{
	b->l.prev->l.next = b->l.next;
	b->l.next->l.prev = b->l.prev;
}

/*
 * Whether the session k may hold had more bytes than it does: past
 * SSH_MEM_MAX libssh2 is told there is no memory (it fails the call, and
 * the poll ends as a Tier 1 failure), and that is logged once a session.
 */
static int
ssh_mem_ok(struct conn *k, size_t had, size_t want)
{
	if (want <= had || want - had <= SSH_MEM_MAX - k->mem_bytes)
		return 1;
	if (!k->mem_said) {
		k->mem_said = 1;
		td_log(TD_LOG_ERROR, "sftp_memory_limit", "source=%s host=%s "
		    "held=%zu asked=%zu limit=%u reason=%s", k->name, k->u.host,
		    k->mem_bytes, want, SSH_MEM_MAX, "the server's replies "
		    "outgrew what a session needs (replies to requests never "
		    "made?)");
	}
	return 0;
}

static
LIBSSH2_ALLOC_FUNC(ssh_alloc)
{
	struct conn *k = *abstract;
	union ssh_block *b;

	if (count > SIZE_MAX - sizeof(*b) || !ssh_mem_ok(k, 0, count))
		return NULL;
	b = xmalloc(sizeof(*b) + count);
	b->l.n = count;
	k->mem_bytes += count;
	ssh_link(k, b);
	return b + 1;
}

static
LIBSSH2_REALLOC_FUNC(ssh_realloc)
{
	struct conn *k = *abstract;
	union ssh_block *b;

	if (ptr == NULL)
		return ssh_alloc(count, abstract);
	b = (union ssh_block *)ptr - 1;
	if (count > SIZE_MAX - sizeof(*b) || !ssh_mem_ok(k, b->l.n, count))
		return NULL;
	ssh_unlink(b);
	k->mem_bytes -= b->l.n;
	b = xrealloc(b, sizeof(*b) + count);
	b->l.n = count;
	k->mem_bytes += count;
	ssh_link(k, b);
	return b + 1;
}

static
LIBSSH2_FREE_FUNC(ssh_free)
{
	struct conn *k = *abstract;
	union ssh_block *b;

	if (ptr == NULL)
		return;
	b = (union ssh_block *)ptr - 1;
	ssh_unlink(b);
	k->mem_bytes -= b->l.n;
	x_free(b);
}

static void
conn_close(struct conn *k)
{
	union ssh_block *b;

	/*
	 * A connection lost or timed out: libssh2 would wait out the I/O
	 * timeout again for each close it sends (a stalled server), give
	 * up on the session's teardown and leave its ciphers' OpenSSL state
	 * allocated. Shut the socket first: every call fails at once.
	 */
	if (k->dead && k->fd >= 0)
		(void)shutdown(k->fd, SHUT_RDWR);
	if (k->sftp != NULL)
		libssh2_sftp_shutdown(k->sftp);
	if (k->s != NULL) {
		libssh2_session_disconnect(k->s, "tradedrop: done");
		libssh2_session_free(k->s);
	}
	/* what libssh2 did not free (see ssh_alloc) */
	while (k->mem.l.next != NULL && k->mem.l.next != &k->mem) {
		b = k->mem.l.next;
		ssh_unlink(b);
		x_free(b);
	}
	k->mem_bytes = 0;
	while (k->nheld > 0)
		x_free(k->held[--k->nheld]);
	x_free(k->held);
	k->held = NULL;
	if (k->fd >= 0)
		close(k->fd);
	url_free(&k->u);
	k->sftp = NULL;
	k->s = NULL;
	k->fd = -1;
}

/*
 * Connect, check the host key, authenticate, start SFTP. Returns 0, or
 * CONN_TIER1 / CONN_AUTH with *err set.
 */
static int
conn_open(const struct td_conf *c, size_t i, struct conn *k, char **err)
{
	const char *why;
	uint64_t ct = td_conf_src_u64(c, i, TDK_source_connect_timeout);
	long iot = ct > SFTP_IO_TIMEOUT ? (long)ct : SFTP_IO_TIMEOUT;
	int r;

	/* lowered by a test of a server that stops answering */
	iot = (long)td_test_bound("TD_TEST_SFTP_IO_TIMEOUT", (uint64_t)iot);
	*err = NULL;
	memset(k, 0, sizeof(*k));
	k->fd = -1;
	k->name = td_conf_source_name(c, i);
	clock_gettime(CLOCK_MONOTONIC, &k->deadline);
	k->deadline.tv_sec += (time_t)td_conf_src_u64(c, i,
	    TDK_source_poll_timeout);
	if (url_parse(td_conf_src_str(c, i, TDK_source_url), &k->u,
	    &why) != 0) {
		*err = xasprintf("%s", why);
		return CONN_AUTH;
	}
	if (!libssh2_ready) {
		if (libssh2_init(0) != 0) {
			*err = xasprintf("libssh2_init failed");
			return CONN_TIER1;
		}
		libssh2_ready = 1;
	}
	if (tcp_connect(k->u.host, k->u.port, (int)ct, &k->fd, err) != 0)
		return CONN_TIER1;
	k->mem.l.prev = k->mem.l.next = &k->mem;
	k->mem_bytes = 0;
	k->mem_said = 0;
	if ((k->s = libssh2_session_init_ex(ssh_alloc, ssh_free, ssh_realloc,
	    k)) == NULL)
		td_fatal("libssh2_session_init: out of memory");
	libssh2_session_set_blocking(k->s, 1);
	libssh2_session_set_timeout(k->s, (long)ct * 1000);
	if ((r = libssh2_session_handshake(k->s, k->fd)) != 0) {
		*err = xasprintf("SSH handshake with %s port %u failed: %s",
		    k->u.host, k->u.port, ssh_err(k->s));
		return r == LIBSSH2_ERROR_KEX_FAILURE ||
		    r == LIBSSH2_ERROR_METHOD_NOT_SUPPORTED ? CONN_AUTH :
		    CONN_TIER1;
	}
	if (hostkey_check(c, i, k, err) != 0)
		return CONN_AUTH;
	if ((r = auth(c, i, k, err)) != 0)
		return r;
	/*
	 * No libssh2 keepalive: a blocking call waits for the socket no
	 * longer than the time to the next keepalive, and then fails as a
	 * timeout, so a transfer or a listing that pauses across that time
	 * would be cut there, not at the I/O timeout. (The socket has TCP
	 * keepalives, and a connection lasts one poll.)
	 */
	if ((k->sftp = libssh2_sftp_init(k->s)) == NULL) {
		*err = xasprintf("cannot start SFTP: %s", ssh_err(k->s));
		return CONN_TIER1;
	}
	libssh2_session_set_timeout(k->s, iot * 1000);
	return 0;
}

/*
 * Has the poll run past poll_timeout? A server that trickles its bytes,
 * each read within the I/O timeout, would keep the one SFTP worker, and
 * every other source's polls, for as long as it likes: the poll stops
 * at its next step, as a connection lost (Tier 1; a download of 1 MiB
 * or more resumes on the next poll). Logged once.
 */
/* Whether the poll is past poll_timeout (nothing else done). */
static int
conn_past(const struct conn *k)
{
	struct timespec now;

	if (k->overdue)
		return 1;
	if (k->deadline.tv_sec == 0)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return !(now.tv_sec < k->deadline.tv_sec || (now.tv_sec ==
	    k->deadline.tv_sec && now.tv_nsec < k->deadline.tv_nsec));
}

static int
conn_overdue(struct conn *k, const char *file, uint64_t offset)
{
	if (k->overdue)
		return 1;
	if (!conn_past(k))
		return 0;
	k->overdue = k->dead = 1;
	td_log(TD_LOG_WARN, "sftp_poll_timeout", "source=%s file=%s "
	    "offset=%llu reason=%s", k->name, file != NULL ? file : "-",
	    (unsigned long long)offset, "the poll ran past poll_timeout; "
	    "stopped (a download of 1 MiB or more resumes next poll)");
	return 1;
}

/* A failed SFTP call: 1 when the connection is gone (Tier 1). */
static int
conn_lost(struct conn *k)
{
	if (libssh2_session_last_errno(k->s) != LIBSSH2_ERROR_SFTP_PROTOCOL)
		k->dead = 1;
	return k->dead;
}

static void
ents_free(struct ent *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		x_free(e[i].name);
		x_free(e[i].base);
	}
	x_free(e);
}

static int
ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->name,
	    ((const struct ent *)b)->name);
}

static struct ent *
ent_find(struct ent *e, size_t n, const char *name)
{
	struct ent key;

	if (n == 0)
		return NULL;	/* an empty listing has no array (UBSan) */
	key.name = (char *)name;
	return bsearch(&key, e, n, sizeof(*e), ent_cmp);
}

/* The suffixes of the sidecars a data file NAME may have. */
static const char *const sc[] = { ".sha256", ".sha512", ".minisig" };

/*
 * A name the listing refused (unsafe, too long, listed twice) that is a
 * sidecar's, NAME.sha256, .sha512 or .minisig: NAME waits (data_held),
 * as for a sidecar not yet ready. Taken without it, NAME was unverified.
 */
static void
hold_base(struct conn *k, const char *name, size_t len)
{
	size_t m, l;

	/* a name no data file can have, or past the bound: nothing held
	 * (a listing of that many refused sidecars is refused by then) */
	if (k->nheld == SFTP_HELD_MAX)
		return;
	for (m = 0; m < TD_NELEM(sc); m++) {
		l = strlen(sc[m]);
		if (len > l && len - l <= SFTP_NAME_BUF && memcmp(name + len -
		    l, sc[m], l) == 0) {
			k->held = xreallocarray(k->held, k->nheld + 1,
			    sizeof(*k->held));
			k->held[k->nheld++] = xstrndup(name, len - l);
			return;
		}
	}
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

/* Whether data file name waits for a sidecar the listing refused. */
static int
data_held(struct conn *k, const char *name)
{
	if (k->nheld == 0)
		return 0;
	if (!k->held_sorted) {
		qsort(k->held, k->nheld, sizeof(*k->held), str_cmp);
		k->held_sorted = 1;
	}
	return bsearch(&name, k->held, k->nheld, sizeof(*k->held),
	    str_cmp) != NULL;
}

/*
 * A name a listing (sorted) has more than once: an honest server never
 * sends one, and its entries were two downloads of one landing name (the
 * second removed the first's .NAME.part, and nothing landed, at every
 * poll). One entry is kept, marked twice, which refuse_names() refuses
 * (never fetched; still listed, so that its partial download is kept);
 * a sidecar's holds its data file back. The new count of e.
 */
static size_t
drop_twice_listed(struct conn *k, struct ent *e, size_t n)
{
	size_t i, j, m = 0;

	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && strcmp(e[j].name, e[i].name) == 0;
		    j++)
			;
		e[m] = e[i];
		if (j - i > 1) {
			e[m].twice = 1;
			hold_base(k, e[i].name, strlen(e[i].name));
		}
		m++;
		for (i++; i < j; i++) {
			x_free(e[i].name);
			x_free(e[i].base);
		}
	}
	return m;
}

/*
 * List dir: regular files with size and mtime, valid names only.
 * Returns 0, or TD_ERR_IO (connection lost) / TD_ERR_NOTFOUND /
 * TD_ERR_FORMAT (a name too long to step past).
 */
static int
list_dir(struct conn *k, struct ent **out, size_t *np, unsigned *bad,
    char **err)
{
	LIBSSH2_SFTP_HANDLE *d;
	LIBSSH2_SFTP_ATTRIBUTES a;
	struct ent *e = NULL;
	char *name = xmalloc(SFTP_NAME_BUF + 1);
	size_t n = 0, cap = 0, nread = 0;
	int r, rc = TD_OK, logged = 0;

	*out = NULL;
	*np = 0;
	*bad = 0;
	d = libssh2_sftp_open_ex(k->sftp, k->u.path,
	    (unsigned)strlen(k->u.path), 0, 0, LIBSSH2_SFTP_OPENDIR);
	if (d == NULL) {
		*err = xasprintf("cannot open remote directory %s: %s",
		    k->u.path, ssh_err(k->s));
		rc = conn_lost(k) ? TD_ERR_IO : TD_ERR_NOTFOUND;
		goto out;
	}
	for (;;) {
		r = libssh2_sftp_readdir_ex(d, name, SFTP_NAME_BUF, NULL, 0,
		    &a);
		if (r == 0)
			break;
		if (r == LIBSSH2_ERROR_BUFFER_TOO_SMALL) {
			/* the names after it cannot be read (see above) */
			*err = xasprintf("cannot list %s: a name longer than "
			    "%u bytes", k->u.path, SFTP_NAME_BUF);
			rc = TD_ERR_FORMAT;
			break;
		}
		if (r < 0) {
			*err = xasprintf("cannot list %s: %s", k->u.path,
			    ssh_err(k->s));
			rc = conn_lost(k) ? TD_ERR_IO : TD_ERR_NOTFOUND;
			break;
		}
		if (conn_overdue(k, NULL, 0)) {
			*err = xasprintf("cannot list %s: poll_timeout "
			    "reached", k->u.path);
			rc = TD_ERR_IO;
			break;
		}
		/* every name counts: a listing of bad names or directories
		 * that never ends is bounded as one of files */
		if (++nread > SFTP_MAX_NAMES) {
			*err = xasprintf("more than %d names in %s",
			    SFTP_MAX_NAMES, k->u.path);
			rc = TD_ERR_LIMIT;
			break;
		}
		name[r] = '\0';
		if ((r == 1 && name[0] == '.') ||
		    (r == 2 && name[0] == '.' && name[1] == '.'))
			continue;
		if (!name_ok(name, (size_t)r)) {
			/* at most SFTP_BAD_LOG lines a listing: sftp_listed
			 * counts them all */
			hold_base(k, name, (size_t)r);
			(*bad)++;
			if (logged >= SFTP_BAD_LOG ||
			    !say_refused(k->name, name, (size_t)r))
				continue;
			logged++;
			if (r > SFTP_NAME_LOG)
				name[SFTP_NAME_LOG] = '\0';
			td_log(TD_LOG_WARN, "sftp_bad_name", "source=%s dir=%s "
			    "name=%s bytes=%d", k->name, k->u.path, name, r);
			continue;
		}
		if (!(a.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) ||
		    !LIBSSH2_SFTP_S_ISREG(a.permissions) ||
		    !(a.flags & LIBSSH2_SFTP_ATTR_SIZE) ||
		    !(a.flags & LIBSSH2_SFTP_ATTR_ACMODTIME))
			continue;
		if (n == SFTP_MAX_ENTRIES) {
			*err = xasprintf("more than %d files in %s",
			    SFTP_MAX_ENTRIES, k->u.path);
			rc = TD_ERR_LIMIT;
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			e = xreallocarray(e, cap, sizeof(*e));
		}
		memset(&e[n], 0, sizeof(e[n]));
		e[n].name = xstrndup(name, (size_t)r);
		e[n].size = a.filesize;
		e[n].mtime = (int64_t)a.mtime;
		n++;
	}
	libssh2_sftp_close_handle(d);
out:
	x_free(name);
	if (rc != TD_OK) {
		ents_free(e, n);
		return rc;
	}
	if (n > 0)	/* e is NULL for an empty directory: qsort's UB */
		qsort(e, n, sizeof(*e), ent_cmp);
	n = drop_twice_listed(k, e, n);
	*out = e;	/* transferred */
	*np = n;
	return TD_OK;
}

/* What each listed name is to this source. */
static void
classify(const struct td_conf *c, size_t i, struct ent *e, size_t n)
{
	char * const *pat;
	size_t npat, j, m, l;
	const char *suf = td_conf_src_str(c, i, TDK_source_marker_suffix);
	const char *ready = td_conf_src_str(c, i, TDK_source_ready);
	int marker = ready != NULL && strcmp(ready, "marker") == 0;

	pat = td_conf_src_list(c, i, TDK_source_pattern, &npat);
	for (j = 0; j < n; j++) {
		e[j].kind = EK_OTHER;
		if (sidecar_is_manifest(e[j].name)) {
			e[j].kind = EK_MANIFEST;
			continue;
		}
		if (marker && suf != NULL && td_has_suffix(e[j].name, suf)) {
			l = strlen(e[j].name) - strlen(suf);
			e[j].base = xstrndup(e[j].name, l);
			if (td_globs_match(pat, npat, e[j].base) &&
			    !sidecar_is(e[j].base))
				e[j].kind = EK_MARKER;
			continue;
		}
		if (sidecar_is(e[j].name)) {
			for (m = 0; m < TD_NELEM(sc); m++)
				if (td_has_suffix(e[j].name, sc[m])) {
					l = strlen(e[j].name) - strlen(sc[m]);
					e[j].base = xstrndup(e[j].name, l);
					break;
				}
			if (e[j].base != NULL &&
			    td_globs_match(pat, npat, e[j].base))
				e[j].kind = EK_SIDECAR;
			continue;
		}
		if (td_globs_match(pat, npat, e[j].name))
			e[j].kind = EK_DATA;
	}
}

/*
 * Why no file of a source may land under name, or NULL: intake would
 * never take it from landing (landing_name_class, the rule landing_list
 * follows), or it is a name of another file's download there, which
 * fetch() and parts_sweep() remove, resume or write over.
 */
static const char *
name_refusal(const struct td_conf *c, const char *name)
{
	switch (landing_name_class(c, name)) {
	case LANDING_IGNORED:
		return "intake never takes it from landing: its name "
		    "matches [watch] ignore";
	case LANDING_SIDECAR:
		return "intake never takes it from landing: a sidecar's "
		    "name, taken only with its data file";
	case LANDING_UNMATCHED:
		return "intake never takes it from landing: its name "
		    "matches no [watch] pattern";
	case LANDING_OWN:
		return "the name of a download's file in landing "
		    "(.NAME.part, .NAME.part.info or .NAME.part.tmp) or of "
		    "a temporary file of the daemon's (.td-HEX.tmp)";
	case LANDING_TAKEN:
		break;
	}
	return NULL;
}

/*
 * Leave out of the poll, as name_ok() does an unsafe name, each data
 * file whose name name_refusal() refuses, and each sidecar of such a
 * name: landed, it would stay in landing for good, taken by nothing and
 * said by nothing, and after = delete would have removed it from the
 * server. Each is logged at every poll that lists it (with log), and is
 * not recorded, fetched nor given its after. Returns how many; *first
 * (when not NULL) says the first and why.
 */
static unsigned
refuse_names(const struct td_conf *c, size_t i, struct ent *e, size_t n,
    int log, char **first)
{
	uint64_t max = td_conf_src_u64(c, i, TDK_source_max_file_size);
	const struct ent *d;
	const char *why;
	unsigned refused = 0, logged = 0;
	size_t j;

	for (j = 0; j < n; j++) {
		if (e[j].twice)
			why = "the server lists the name more than once";
		else if (e[j].kind == EK_DATA)
			why = e[j].size > max ? "larger than max_file_size" :
			    name_refusal(c, e[j].name);
		else if (e[j].kind == EK_SIDECAR)
			why = name_refusal(c, e[j].base) == NULL &&
			    ((d = ent_find(e, n, e[j].base)) == NULL ||
			    (d->size <= max && !d->twice)) ? NULL :
			    "a sidecar of a name refused: intake takes a "
			    "sidecar only with its data file";
		else
			continue;
		if (why == NULL)
			continue;
		/* at most SFTP_BAD_LOG lines a listing: sftp_listed counts
		 * them all */
		if (log && logged < SFTP_BAD_LOG && say_refused(
		    td_conf_source_name(c, i), e[j].name, strlen(e[j].name))) {
			logged++;
			td_log(TD_LOG_WARN, "sftp_name_refused", "source=%s "
			    "file=%s reason=%s", td_conf_source_name(c, i),
			    e[j].name, why);
		}
		if (first != NULL && *first == NULL)
			*first = xasprintf("%s: %s", e[j].name, why);
		e[j].kind = EK_OTHER;
		refused++;
	}
	return refused;
}

static char *
remote_path(struct conn *k, const char *name)
{
	if (strcmp(k->u.path, "/") == 0)
		return xasprintf("/%s", name);
	return xasprintf("%s/%s", k->u.path, name);
}

/*
 * Record the listing: look up each candidate's version, insert new
 * versions as 'seen', forget 'seen' versions no longer listed.
 */
static int
record_listing(struct td_ctx *x, struct conn *k, struct ent *e, size_t n)
{
	sqlite3_stmt *q, *ins, *tmp;
	char *p;
	size_t j;
	int rc = TD_ERR_STATE;
	int64_t now = td_time();

	if (store_exec(x->st, "CREATE TEMP TABLE IF NOT EXISTS sftp_listing "
	    "(path TEXT, size INTEGER, mtime INTEGER, PRIMARY KEY (path, "
	    "size, mtime))") != 0 ||
	    store_exec(x->st, "DELETE FROM temp.sftp_listing") != 0)
		return TD_ERR_STATE;
	if (store_begin(x->st) != 0)
		return TD_ERR_STATE;
	q = store_prepare(x->st, "SELECT state, first_seen FROM remote_files "
	    "WHERE source = ?1 AND path = ?2 AND size = ?3 AND mtime = ?4");
	ins = store_prepare(x->st, "INSERT OR IGNORE INTO remote_files "
	    "(source, path, size, mtime, state, first_seen) VALUES "
	    "(?1, ?2, ?3, ?4, 'seen', ?5)");
	tmp = store_prepare(x->st, "INSERT OR IGNORE INTO temp.sftp_listing "
	    "VALUES (?1, ?2, ?3)");
	if (q == NULL || ins == NULL || tmp == NULL)
		goto out;
	for (j = 0; j < n; j++) {
		if (e[j].kind == EK_OTHER)
			continue;
		p = remote_path(k, e[j].name);
		sqlite3_bind_text(q, 1, k->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, p, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(q, 3, (sqlite3_int64)e[j].size);
		sqlite3_bind_int64(q, 4, e[j].mtime);
		e[j].known = 0;
		e[j].first_seen = now;
		if (sqlite3_step(q) == SQLITE_ROW) {
			e[j].known = strcmp((const char *)
			    sqlite3_column_text(q, 0), "fetched") == 0 ? 2 : 1;
			e[j].first_seen = sqlite3_column_int64(q, 1);
		}
		sqlite3_reset(q);
		if (e[j].known == 0) {
			sqlite3_bind_text(ins, 1, k->name, -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 2, p, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(ins, 3, (sqlite3_int64)e[j].size);
			sqlite3_bind_int64(ins, 4, e[j].mtime);
			sqlite3_bind_int64(ins, 5, now);
			if (store_step_done(x->st, ins) != 0) {
				x_free(p);
				goto out;
			}
		}
		sqlite3_bind_text(tmp, 1, p, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(tmp, 2, (sqlite3_int64)e[j].size);
		sqlite3_bind_int64(tmp, 3, e[j].mtime);
		x_free(p);
		if (store_step_done(x->st, tmp) != 0)
			goto out;
	}
	q = store_prepare(x->st, "DELETE FROM remote_files WHERE source = ?1 "
	    "AND state = 'seen' AND NOT EXISTS (SELECT 1 FROM "
	    "temp.sftp_listing l WHERE l.path = remote_files.path AND "
	    "l.size = remote_files.size AND l.mtime = remote_files.mtime)");
	if (q == NULL)
		goto out;
	sqlite3_bind_text(q, 1, k->name, -1, SQLITE_STATIC);
	if (store_step_done(x->st, q) != 0)
		goto out;
	if (store_commit(x->st) != 0)
		return TD_ERR_STATE;
	return TD_OK;
out:
	store_rollback(x->st);
	return rc;
}

/* Decide readiness of every candidate. */
static void
decide(const struct td_conf *c, size_t i, struct ent *e, size_t n)
{
	const char *ready = td_conf_src_str(c, i, TDK_source_ready);
	const char *suf = td_conf_src_str(c, i, TDK_source_marker_suffix);
	int marker = ready != NULL && strcmp(ready, "marker") == 0;
	int64_t settle = (int64_t)td_conf_src_u64(c, i,
	    TDK_source_stable_time), now = td_time();
	struct ent *b, *m;
	char *mk;
	size_t j;

	for (j = 0; j < n; j++) {
		if (e[j].kind == EK_OTHER || e[j].known == 2)
			continue;
		if (marker && (e[j].kind == EK_DATA ||
		    e[j].kind == EK_SIDECAR)) {
			mk = xasprintf("%s%s", e[j].kind == EK_DATA ?
			    e[j].name : e[j].base, suf);
			m = ent_find(e, n, mk);
			x_free(mk);
			/*
			 * A marker an earlier version was fetched with
			 * (after = keep leaves it) and older than this one
			 * says nothing of it: this version may be an upload
			 * still going. It waits for a marker of its own.
			 */
			e[j].ready = m != NULL && !(m->known == 2 &&
			    m->mtime < e[j].mtime);
			if (m != NULL && !e[j].ready)
				td_log(TD_LOG_INFO, "sftp_marker_stale",
				    "source=%s file=%s marker=%s reason=%s",
				    td_conf_source_name(c, i), e[j].name,
				    m->name, "the marker is older than the "
				    "file and was used by an earlier version; "
				    "waiting for a new marker");
		} else if (e[j].kind != EK_MARKER)
			/*
			 * Unchanged across two listings, and for stable_time:
			 * listings close together (SIGUSR1, a breaker's probe
			 * seconds after a failure, `once` run again) would
			 * take an upload stalled that long for a whole file.
			 */
			e[j].ready = e[j].known == 1 &&
			    now - e[j].first_seen >= settle;
	}
	/* a data file waits for its listed sidecars to be ready too */
	for (j = 0; j < n; j++) {
		if (e[j].kind != EK_SIDECAR || e[j].ready || e[j].known == 2)
			continue;
		if ((b = ent_find(e, n, e[j].base)) != NULL &&
		    b->kind == EK_DATA)
			b->ready = 0;
	}
}

static void
pending_drop(struct pending *p)
{
	if (p->fd >= 0)
		close(p->fd);
	x_free(p->part);
	x_free(p->info);
	x_free(p->final);
	memset(p, 0, sizeof(*p));
	p->fd = -1;
}

/* Do attributes from the server say version e (size and mtime)? */
static int
attrs_match(const LIBSSH2_SFTP_ATTRIBUTES *a, const struct ent *e)
{
	return (a->flags & LIBSSH2_SFTP_ATTR_SIZE) &&
	    (a->flags & LIBSSH2_SFTP_ATTR_ACMODTIME) &&
	    a->filesize == e->size && (int64_t)a->mtime == e->mtime;
}

/*
 * The .part.info of a resumable download holds "SIZE MTIME SYNCED
 * SOURCE": the version, how much of .NAME.part is durable (fdatasync'd
 * before the line said so: a machine that stops loses the rest, or
 * leaves zeros or older blocks in it on some filesystems), and the
 * source whose download it is (sources may share a landing directory:
 * see parts_sweep). Earlier releases wrote "SIZE MTIME SOURCE"
 * (earlier ones "SIZE MTIME"), with nothing synced: not resumed.
 */
static void
info_line(char *out, size_t n, const struct ent *e, uint64_t synced,
    const char *source)
{
	snprintf(out, n, "%llu %lld %llu %s\n", (unsigned long long)e->size,
	    (long long)e->mtime, (unsigned long long)synced, source);
}

/*
 * Could a download's name in landing not be made because something else
 * has it (a directory, a file another user owns in a sticky directory,
 * a name planted again between unlink and open)? That stops this file
 * only: landing is writable by others, and one such name stopped every
 * poll of the source before any file after it was fetched.
 */
static int
name_taken(int e)
{
	return e == EEXIST || e == EISDIR || e == ENOTEMPTY || e == ELOOP ||
	    e == EPERM;
}

static int
landing_taken(struct conn *k, const struct ent *e, const char *path, int err)
{
	td_log(TD_LOG_WARN, "sftp_landing_busy", "source=%s file=%s "
	    "name=%s error=%s reason=%s", k->name, e->name, path,
	    strerror(err), "something else has the name of its download "
	    "in landing; the other files are fetched, this one on a later "
	    "poll");
	return TD_ERR_EXISTS;
}

/* A decimal number ended by a space at *pp: 0 (*pp past the space). */
static int
info_num(const char **pp, uint64_t *v)
{
	const char *p = *pp;

	*v = 0;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (*v > (UINT64_MAX - 9) / 10)
			return -1;
		*v = *v * 10 + (uint64_t)(*p - '0');
	}
	if (*p != ' ')
		return -1;
	*pp = p + 1;
	return 0;
}

/*
 * The fields of a .part.info line of this release (buf NUL-ended, its
 * newline in it): 0, or -1 for any other line (one of an earlier
 * release: "SIZE MTIME SOURCE" or "SIZE MTIME").
 */
static int
info_parse(char *buf, uint64_t *size, int64_t *mtime, uint64_t *synced,
    const char **src)
{
	const char *p = buf;
	size_t n = strlen(buf);
	uint64_t m;
	int neg;

	if (n < 2 || buf[n - 1] != '\n')
		return -1;
	buf[n - 1] = '\0';
	if (info_num(&p, size) != 0)
		return -1;
	if ((neg = *p == '-'))
		p++;
	if (info_num(&p, &m) != 0 || m > INT64_MAX)
		return -1;
	*mtime = neg ? -(int64_t)m : (int64_t)m;
	if (info_num(&p, synced) != 0 || *p == '\0' || strchr(p, ' ') != NULL)
		return -1;
	*src = p;
	return 0;
}

/* Write .part.info saying that synced bytes of the .part are durable. */
static int
info_write(struct td_ctx *x, struct conn *k, const struct pending *p,
    uint64_t synced)
{
	char info[256], *itmp;
	int rc;

	/*
	 * Written under .NAME.part.tmp: .NAME.part.info.tmp (what
	 * td_write_file_atomic names it) is 4 bytes over NAME_MAX for a
	 * name of 241-244 bytes, and its ENAMETOOLONG stopped the poll at
	 * that file, at every poll.
	 */
	info_line(info, sizeof(info), p->e, synced, k->name);
	itmp = xasprintf("%s/.%s" LANDING_PART_TMP, x->landing, p->e->name);
	if ((rc = td_write_file_via(p->info, itmp, info, strlen(info))) != 0) {
		if (rc != TD_ERR_NOSPACE && name_taken(errno))
			rc = landing_taken(k, p->e, p->info, errno);
		else if (rc != TD_ERR_NOSPACE)
			rc = TD_ERR_INTERNAL;
	}
	x_free(itmp);
	return rc;
}

/*
 * Make the first got bytes of the download durable, then say so in its
 * .part.info: what a resume after a crash may keep.
 */
static int
part_sync(struct td_ctx *x, struct conn *k, const struct pending *p,
    uint64_t got)
{
	int e;

	if (fdatasync(p->fd) != 0) {
		e = errno;
		td_log(TD_LOG_ERROR, "sftp_landing_write", "file=%s error=%s",
		    p->part, strerror(e));
		return e == ENOSPC || e == EDQUOT ? TD_ERR_NOSPACE :
		    TD_ERR_INTERNAL;
	}
	return info_write(x, k, p, got);
}

/*
 * Resume the download of e? Then p->fd is its .part, opened, *off where
 * it resumes (the bytes its .part.info says are durable: more, not
 * synced, are cut off) and *have the size the .part had.
 */
static int
resume_offset(struct pending *p, const struct ent *e,
    const char *source, uint64_t *off, uint64_t *have)
{
	char buf[256];
	const char *src;
	uint64_t size, synced;
	int64_t mtime;
	struct stat sb;
	ssize_t r;
	int fd;

	*off = *have = 0;
	/*
	 * Landing is writable by others: a link or FIFO is not ours, nor a
	 * file another user made (only the last SFTP_RESUME_CHECK bytes of
	 * the partial are compared with the server's: the rest of one
	 * planted there would land as the server's file).
	 */
	if ((fd = open(p->info, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) < 0)
		return 0;
	r = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    sb.st_uid == geteuid() ? read(fd, buf, sizeof(buf) - 1) : -1;
	close(fd);
	if (r <= 0)
		return 0;
	buf[r] = '\0';
	if (info_parse(buf, &size, &mtime, &synced, &src) != 0 ||
	    strcmp(src, source) != 0)
		return 0;
	if (size != e->size || mtime != e->mtime)
		return 0;
	/* not followed if a link, not blocking if a FIFO */
	if ((fd = open(p->part, O_RDWR | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) < 0)
		return 0;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_nlink != 1 ||
	    sb.st_uid != geteuid() || (uint64_t)sb.st_size > e->size ||
	    (*have = (uint64_t)sb.st_size) == 0 || synced == 0 ||
	    ((*off = synced < *have ? synced : *have) < *have &&
	    ftruncate(fd, (off_t)*off) != 0)) {
		close(fd);
		*off = *have = 0;
		return 0;
	}
	p->fd = fd;
	return 1;
}

/*
 * Before resuming at *off: the same size and mtime do not prove the
 * same file (one replaced by another of that size, its mtime kept, as
 * `put -p` or rsync -t do). The last bytes of the partial must be the
 * remote file's; else the download restarts (*off = 0, .part emptied).
 * buf holds 2 * SFTP_RESUME_CHECK. 0, TD_ERR_IO (connection lost),
 * TD_ERR_NOTFOUND (a read refused) or TD_ERR_INTERNAL (local read).
 */
static int
resume_check(struct conn *k, LIBSSH2_SFTP_HANDLE *h, struct pending *p,
    const struct ent *e, char *buf, uint64_t *off)
{
	size_t back = *off < SFTP_RESUME_CHECK ? (size_t)*off :
	    SFTP_RESUME_CHECK, got = 0;
	ssize_t r;

	libssh2_sftp_seek64(h, *off - back);
	while (got < back) {
		r = libssh2_sftp_read(h, buf + got, back - got);
		if (r == 0)
			break;
		if (r < 0) {
			td_log(TD_LOG_WARN, "sftp_read_failed", "source=%s "
			    "file=%s offset=%llu error=%s", k->name, e->name,
			    (unsigned long long)(*off - back + got),
			    ssh_err(k->s));
			return conn_lost(k) ? TD_ERR_IO : TD_ERR_NOTFOUND;
		}
		got += (size_t)r;
	}
	if (pread(p->fd, buf + SFTP_RESUME_CHECK, back, (off_t)(*off -
	    back)) != (ssize_t)back) {
		td_log(TD_LOG_ERROR, "sftp_landing_read", "file=%s error=%s",
		    p->part, strerror(errno));
		return TD_ERR_INTERNAL;
	}
	if (got == back && memcmp(buf, buf + SFTP_RESUME_CHECK, back) == 0)
		return TD_OK;
	td_log(TD_LOG_WARN, "sftp_resume_mismatch", "source=%s file=%s "
	    "offset=%llu reason=%s", k->name, e->name,
	    (unsigned long long)*off, "the partial download is not the "
	    "remote file's beginning; restarting");
	if (ftruncate(p->fd, 0) != 0 || lseek(p->fd, 0, SEEK_SET) < 0) {
		td_log(TD_LOG_ERROR, "sftp_landing_write", "file=%s error=%s",
		    p->part, strerror(errno));
		return TD_ERR_INTERNAL;
	}
	*off = 0;
	libssh2_sftp_seek64(h, 0);
	return TD_OK;
}

/*
 * Download e to landing/.NAME.part. Returns 0 (p->fd open, not yet
 * synced), TD_ERR_IO when the connection is lost (the .part is kept
 * for resuming), TD_ERR_INTERNAL for a local write error, TD_ERR_EXISTS
 * when landing/NAME is still there or another has a name of its download,
 * TD_ERR_FORMAT when the remote file changed (the .part is removed),
 * TD_ERR_NOSPACE, or TD_ERR_NOTFOUND (remote file gone or unreadable).
 */
static int	unchanged(struct conn *, const struct ent *);

/*
 * A sidecar of ours alone in landing (path, as sb says), its data file
 * not there and no version of it fetched since the sidecar was: a
 * version the server has replaced since (a pair sent again). Left, it
 * held the new sidecar out and the new data file was checked against it
 * (checksum_mismatch); removed, the new one lands. (A data file fetched
 * with it is being claimed: intake takes the sidecars after hashing it,
 * and the sidecar stays for it.) 1 when it was removed.
 */
static int
sidecar_superseded(struct td_ctx *x, struct conn *k, const struct ent *e,
    const char *path, const struct stat *sb)
{
	sqlite3_stmt *s;
	struct stat db;
	char *data, *rp;
	int alone;

	if (e->kind != EK_SIDECAR || e->base == NULL || !S_ISREG(sb->st_mode) ||
	    sb->st_nlink != 1 || sb->st_uid != geteuid())
		return 0;
	data = xasprintf("%s/%s", x->landing, e->base);
	alone = lstat(data, &db) != 0 && errno == ENOENT;
	x_free(data);
	if (alone) {
		/*
		 * When it landed: its own fetch, as recorded (a rename or
		 * chown in landing since moves its ctime, not that), or its
		 * ctime when none is (a poll stopped before recording it)
		 */
		rp = remote_path(k, e->name);
		data = remote_path(k, e->base);
		s = store_prepare(x->st, "SELECT 1 FROM remote_files WHERE "
		    "source = ?1 AND path = ?2 AND state = 'fetched' AND "
		    "fetched_at >= coalesce((SELECT max(fetched_at) FROM "
		    "remote_files WHERE source = ?1 AND path = ?3 AND state = "
		    "'fetched'), ?4) LIMIT 1");
		if (s == NULL)
			alone = 0;
		else {
			sqlite3_bind_text(s, 1, k->name, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 2, data, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 3, rp, -1, SQLITE_STATIC);
			sqlite3_bind_int64(s, 4, (sqlite3_int64)sb->st_ctime);
			alone = sqlite3_step(s) == SQLITE_DONE;
			sqlite3_reset(s);
		}
		x_free(rp);
		x_free(data);
	}
	if (!alone || unlink(path) != 0)
		return 0;
	td_log(TD_LOG_INFO, "sftp_sidecar_replaced", "source=%s file=%s "
	    "reason=%s", k->name, e->name, "an earlier version alone in "
	    "landing, its data file not there: the server's new one "
	    "replaces it");
	return 1;
}

static int
fetch(struct td_ctx *x, struct conn *k, struct ent *e, char *buf,
    struct pending *p, struct sftp_stats *st)
{
	LIBSSH2_SFTP_HANDLE *h = NULL;
	LIBSSH2_SFTP_ATTRIBUTES a;
	struct stat sb;
	char *rp = NULL;
	uint64_t off = 0, have = 0, got = 0, synced = 0, want;
	ssize_t r;
	int rc = TD_OK, flags, fr, same;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->e = e;
	p->size = e->size;
	p->final = xasprintf("%s/%s", x->landing, e->name);
	p->part = xasprintf("%s/.%s" LANDING_PART, x->landing, e->name);
	p->info = xasprintf("%s/.%s" LANDING_PART_INFO, x->landing, e->name);
	if (lstat(p->final, &sb) == 0 && !sidecar_superseded(x, k, e,
	    p->final, &sb)) {
		td_log(TD_LOG_INFO, "sftp_landing_busy", "source=%s file=%s "
		    "reason=%s", k->name, e->name, "an earlier file of this "
		    "name is still in landing; fetched on a later poll");
		rc = TD_ERR_EXISTS;
		goto out;
	}
	if (e->size >= SFTP_RESUME_MIN &&
	    resume_offset(p, e, k->name, &off, &have)) {
		if (off < have)
			td_log(TD_LOG_INFO, "sftp_resume", "source=%s file=%s "
			    "offset=%llu size=%llu partial=%llu reason=%s",
			    k->name, e->name, (unsigned long long)off,
			    (unsigned long long)e->size,
			    (unsigned long long)have, "the partial's bytes "
			    "after offset were not yet durable; fetched again");
		else
			td_log(TD_LOG_INFO, "sftp_resume", "source=%s file=%s "
			    "offset=%llu size=%llu", k->name, e->name,
			    (unsigned long long)off,
			    (unsigned long long)e->size);
	} else {
		(void)unlink(p->info);
		off = 0;
	}
	/*
	 * Landing is writable by others: a resume checked the .part it
	 * opened (without following a link, see resume_offset); a new
	 * download creates a file of its own.
	 */
	if (off == 0) {
		(void)unlink(p->part);
		flags = O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
		p->fd = open(p->part, flags, 0640);
	}
	if (p->fd < 0 && name_taken(errno)) {
		rc = landing_taken(k, e, p->part, errno);
		goto out;
	}
	if (p->fd < 0 || lseek(p->fd, (off_t)off, SEEK_SET) < 0) {
		td_log(TD_LOG_ERROR, "sftp_landing_write", "file=%s error=%s",
		    p->part, strerror(errno));
		rc = errno == ENOSPC || errno == EDQUOT ? TD_ERR_NOSPACE :
		    TD_ERR_INTERNAL;
		goto out;
	}
	if (e->size >= SFTP_RESUME_MIN && off == 0 &&
	    (rc = info_write(x, k, p, 0)) != 0)
		goto out;
	synced = got = off;
	rp = remote_path(k, e->name);
	h = libssh2_sftp_open_ex(k->sftp, rp, (unsigned)strlen(rp),
	    LIBSSH2_FXF_READ, 0, LIBSSH2_SFTP_OPENFILE);
	if (h == NULL) {
		if (conn_lost(k)) {
			rc = TD_ERR_IO;
			goto out;
		}
		td_log(TD_LOG_WARN, "sftp_open_failed", "source=%s file=%s "
		    "error=%s", k->name, e->name, ssh_err(k->s));
		rc = TD_ERR_NOTFOUND;
		goto out;
	}
	if (off > 0 && (rc = resume_check(k, h, p, e, buf, &off)) != 0)
		goto out;
	if (off > 0)
		libssh2_sftp_seek64(h, off);
	else if (synced > 0) {
		/* restarted: the .part.info must not say its old bytes are
		 * durable before new ones are written over them */
		synced = got = 0;
		if ((rc = info_write(x, k, p, 0)) != 0)
			goto out;
	}
	for (;;) {
		/*
		 * libssh2 pipelines read requests for up to 4x the buffer
		 * asked for: ask for what is left (+1 to see the end), so a
		 * small file costs one request, a large one stays pipelined.
		 */
		want = e->size - got + 1;
		r = libssh2_sftp_read(h, buf, want < SFTP_BUF ? (size_t)want :
		    SFTP_BUF);
		if (r == 0)
			break;
		if (r < 0) {
			td_log(TD_LOG_WARN, "sftp_read_failed", "source=%s "
			    "file=%s offset=%llu error=%s", k->name, e->name,
			    (unsigned long long)got, ssh_err(k->s));
			rc = conn_lost(k) ? TD_ERR_IO : TD_ERR_NOTFOUND;
			goto out;
		}
		if ((rc = td_write_all(p->fd, buf, (size_t)r)) != 0) {
			td_log(TD_LOG_ERROR, "sftp_landing_write", "file=%s "
			    "error=%s", p->part, strerror(errno));
			if (rc != TD_ERR_NOSPACE)
				rc = TD_ERR_INTERNAL;
			goto out;
		}
		got += (size_t)r;
		st->bytes += (size_t)r;
		if (got > e->size)
			break;
		if (e->size >= SFTP_RESUME_MIN && got - synced >=
		    SFTP_SYNC_EVERY && got < e->size) {
			if ((rc = part_sync(x, k, p, got)) != 0)
				goto out;
			synced = got;
		}
		if (conn_overdue(k, e->name, got)) {
			rc = TD_ERR_IO;
			goto out;
		}
	}
	/*
	 * The listed size read to its end does not prove the version: a
	 * file rewritten in place while it was read has that size and a
	 * mix of both contents. The open file must still have the size and
	 * modification time of the listing. (A file replaced by a rename
	 * is not this one: the handle reads the version listed, whole.)
	 */
	memset(&a, 0, sizeof(a));
	fr = got == e->size ? libssh2_sftp_fstat_ex(h, &a, 0) : 0;
	if (fr != 0 && conn_lost(k)) {
		rc = TD_ERR_IO;
		goto out;
	}
	/* a server that refuses FSTAT, or answers it without the size and
	 * the time: the path's (a rename since then reads as a change) */
	if (got == e->size && (fr != 0 || !(a.flags & LIBSSH2_SFTP_ATTR_SIZE) ||
	    !(a.flags & LIBSSH2_SFTP_ATTR_ACMODTIME))) {
		same = unchanged(k, e);
		if (k->dead) {		/* not a change: kept to resume */
			rc = TD_ERR_IO;
			goto out;
		}
	} else
		same = attrs_match(&a, e);
	if (got != e->size || !same) {
		td_log(TD_LOG_WARN, "sftp_changed", "source=%s file=%s "
		    "listed_size=%llu read=%llu reason=%s", k->name,
		    e->name, (unsigned long long)e->size,
		    (unsigned long long)got,
		    got > e->size ? "longer than listed" : got < e->size ?
		    "shorter than listed" : "modified while it was read");
		(void)unlink(p->part);
		(void)unlink(p->info);
		rc = TD_ERR_FORMAT;
		goto out;
	}
out:
	if (h != NULL && !k->dead)
		libssh2_sftp_close_handle(h);
	x_free(rp);
	/*
	 * A download broken off by the connection, kept to resume: its
	 * bytes are made durable now, and its .part.info says so (else a
	 * resume after a restart would keep only what was synced last).
	 * What fails here leaves the older, still true, .part.info.
	 */
	if (rc == TD_ERR_IO && p->fd >= 0 && e->size >= SFTP_RESUME_MIN &&
	    got > synced && fstat(p->fd, &sb) == 0 &&
	    (uint64_t)sb.st_size == got)
		(void)part_sync(x, k, p, got);
	if (rc != TD_OK) {
		/*
		 * Only the download this call opened: one met by NAME still
		 * in landing stays whole, .part.info with it, to be resumed
		 * or swept (without it, a .part nothing ever removed).
		 */
		if ((rc == TD_ERR_EXISTS || rc == TD_ERR_NOTFOUND) &&
		    p->fd >= 0) {
			(void)unlink(p->part);
			(void)unlink(p->info);
		}
		/* too small to resume: nothing would take it */
		if (rc == TD_ERR_IO && p->fd >= 0 && e->size < SFTP_RESUME_MIN)
			(void)unlink(p->part);
		pending_drop(p);
	}
	return rc;
}

/*
 * Remote file still the version listed? A stat that fails because the
 * connection is lost or timed out marks it dead (k->dead), for the
 * caller to tell from a change: else each later call would wait out
 * the I/O timeout again, one per file a server that stopped answering
 * has in the batch.
 */
static int
unchanged(struct conn *k, const struct ent *e)
{
	LIBSSH2_SFTP_ATTRIBUTES a;
	char *rp = remote_path(k, e->name);
	int r;

	r = libssh2_sftp_stat_ex(k->sftp, rp, (unsigned)strlen(rp),
	    LIBSSH2_SFTP_LSTAT, &a);
	x_free(rp);
	if (r != 0)
		(void)conn_lost(k);
	return r == 0 && attrs_match(&a, e);
}

/* keep | delete | move:DIR, for a version durably in landing. */
static void
apply_after(const struct td_conf *c, size_t i, struct conn *k,
    const struct ent *e)
{
	const char *after = td_conf_src_str(c, i, TDK_source_after);
	char *rp, *dst;
	int r, t;

	if (after == NULL || strcmp(after, "keep") == 0 || k->dead)
		return;
	/*
	 * Past poll_timeout the rest is the next poll's (after_resume): the
	 * files are landed and recorded, the poll is no failure for it (a
	 * step after it that needs the server is, as ever).
	 */
	if (k->after_late || conn_past(k)) {
		if (!k->after_late)
			td_log(TD_LOG_INFO, "sftp_after_deferred", "source=%s "
			    "file=%s after=%s reason=%s", k->name, e->name,
			    after, "poll_timeout reached: this file's and the "
			    "rest's after is left to the next poll");
		k->after_late = 1;
		return;
	}
	if (!unchanged(k, e)) {
		if (k->dead)	/* applied by the next poll (after_resume) */
			td_log(TD_LOG_WARN, "sftp_after_failed", "source=%s "
			    "file=%s after=%s tier=1 error=%s", k->name,
			    e->name, after, ssh_err(k->s));
		else
			td_log(TD_LOG_WARN, "sftp_after_skipped", "source=%s "
			    "file=%s reason=%s", k->name, e->name, "remote "
			    "file changed since it was listed; left in place");
		return;
	}
	rp = remote_path(k, e->name);
	if (strcmp(after, "delete") == 0) {
		r = libssh2_sftp_unlink_ex(k->sftp, rp, (unsigned)strlen(rp));
		dst = NULL;
	} else {
		dst = xasprintf("%s/%s", after + 5, e->name);
		r = libssh2_sftp_rename_ex(k->sftp, rp, (unsigned)strlen(rp),
		    dst, (unsigned)strlen(dst), LIBSSH2_SFTP_RENAME_ATOMIC |
		    LIBSSH2_SFTP_RENAME_NATIVE);
		/*
		 * SFTP 3 renames never replace (OpenSSH: link, unlink),
		 * so a name sent again (a daily file) met its earlier
		 * version in DIR and stayed, failing at every poll:
		 * moved as NAME.MTIME then; a version sent again with its
		 * time kept (put -p), already fetched, meets that one too:
		 * NAME.MTIME.NOW.
		 */
		for (t = 0; t < 2 && r != 0 && !conn_lost(k) &&
		    libssh2_sftp_last_error(k->sftp) == LIBSSH2_FX_FAILURE;
		    t++) {
			x_free(dst);
			dst = t == 0 ? xasprintf("%s/%s.%lld", after + 5,
			    e->name, (long long)e->mtime) : xasprintf(
			    "%s/%s.%lld.%lld", after + 5, e->name,
			    (long long)e->mtime, (long long)td_time());
			r = libssh2_sftp_rename_ex(k->sftp, rp,
			    (unsigned)strlen(rp), dst, (unsigned)strlen(dst),
			    LIBSSH2_SFTP_RENAME_ATOMIC |
			    LIBSSH2_SFTP_RENAME_NATIVE);
		}
	}
	/* the SFTP status is the server's answer only if it answered */
	if (r != 0 && conn_lost(k))
		td_log(TD_LOG_WARN, "sftp_after_failed", "source=%s file=%s "
		    "after=%s tier=1 error=%s", k->name, e->name, after,
		    ssh_err(k->s));
	else if (r != 0)
		td_log(TD_LOG_WARN, "sftp_after_failed", "source=%s file=%s "
		    "after=%s error=%s sftp_status=%lu", k->name, e->name,
		    after, ssh_err(k->s), libssh2_sftp_last_error(k->sftp));
	else if (dst != NULL)
		td_log(TD_LOG_INFO, "sftp_moved", "source=%s file=%s to=%s",
		    k->name, e->name, dst);
	else
		td_log(TD_LOG_INFO, "sftp_deleted", "source=%s file=%s",
		    k->name, e->name);
	x_free(rp);
	x_free(dst);
}

/*
 * `after` for the versions listed that an earlier poll fetched (known
 * 2, the same size and mtime), all but those `keep` leaves: that poll
 * was stopped before it applied `after`. Markers go with their data.
 */
static void
after_resume(const struct td_conf *c, size_t i, struct conn *k,
    const struct ent *e, size_t n)
{
	const char *after = td_conf_src_str(c, i, TDK_source_after);
	size_t j;

	if (after == NULL || strcmp(after, "keep") == 0)
		return;
	for (j = 0; j < n && !k->dead; j++) {
		if (e[j].known != 2 || e[j].kind == EK_OTHER)
			continue;
		td_log(TD_LOG_INFO, "sftp_after_resumed", "source=%s file=%s "
		    "after=%s reason=%s", k->name, e[j].name, after,
		    "fetched by an earlier poll that stopped before it");
		apply_after(c, i, k, &e[j]);
	}
}

/*
 * Record version e of a remote file as fetched (in a transaction), with
 * the SHA-256 of the bytes landed (NULL: none landed), which push_acks
 * matches to a transmission's id.
 */
static int
record_fetched(struct td_ctx *x, struct conn *k, const struct ent *e,
    int64_t now, const char *sha256)
{
	sqlite3_stmt *s;
	char *rp = remote_path(k, e->name);
	int r;

	s = store_prepare(x->st, "INSERT OR REPLACE INTO remote_files "
	    "(source, path, size, mtime, state, first_seen, fetched_at, "
	    "sha256) VALUES (?1, ?2, ?3, ?4, 'fetched', COALESCE((SELECT "
	    "first_seen FROM remote_files WHERE source = ?1 AND path = ?2 "
	    "AND size = ?3 AND mtime = ?4), ?5), ?5, ?6)");
	if (s == NULL) {
		x_free(rp);
		return TD_ERR_STATE;
	}
	sqlite3_bind_text(s, 1, k->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, rp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)e->size);
	sqlite3_bind_int64(s, 4, e->mtime);
	sqlite3_bind_int64(s, 5, now);
	if (sha256 != NULL)
		sqlite3_bind_text(s, 6, sha256, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 6);
	r = store_step_done(x->st, s);
	x_free(rp);
	return r;
}

/*
 * A version of sidecar e's data file was fetched at or after e's mtime:
 * e belongs to that version (still listed, or taken from the server by
 * `after` since). A sidecar newer than every fetch of its data file's
 * name is of the next version, still to come.
 */
static int
data_gone_after(struct td_ctx *x, struct conn *k, const struct ent *e)
{
	sqlite3_stmt *s;
	char *rp = remote_path(k, e->base);
	int r;

	s = store_prepare(x->st, "SELECT 1 FROM remote_files WHERE "
	    "source = ?1 AND path = ?2 AND state = 'fetched' AND "
	    "fetched_at >= ?3 LIMIT 1");
	if (s == NULL) {
		x_free(rp);
		return 0;
	}
	sqlite3_bind_text(s, 1, k->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, rp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, e->mtime);
	r = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_reset(s);
	x_free(rp);
	return r;
}

/*
 * Sidecar e is newer than the fetch of the version of its data file
 * listed: it waits on the server for the next version (logged once an
 * hour; each poll counts it as waiting).
 */
static void
sidecar_waits(struct conn *k, const struct ent *e, struct sftp_stats *st)
{
	st->waiting++;
	if (say_refused(k->name, e->name, strlen(e->name)))
		td_log(TD_LOG_INFO, "sftp_sidecar_waits", "source=%s file=%s "
		    "data=%s reason=%s", k->name, e->name, e->base, "newer "
		    "than the fetch of the version of its data file listed: "
		    "left on the server for the next version (or sent too "
		    "late for that one)");
}

/*
 * Data file name waits for its sidecar side (logged once an hour; each
 * poll counts it as waiting).
 */
static void
data_waits(struct conn *k, const char *name, const char *side,
    struct sftp_stats *st)
{
	char *key;

	st->waiting++;
	key = xasprintf("waits %s", name);
	if (say_refused(k->name, key, strlen(key)))
		td_log(TD_LOG_WARN, "sftp_data_waits", "source=%s file=%s "
		    "sidecar=%s reason=%s", k->name, name, side, "its sidecar "
		    "did not land or was refused in this poll: the file waits "
		    "for it");
	x_free(key);
}

/*
 * A sidecar listed that did not land in this poll (refused, changed while
 * read, its landing name held): its data file waits for it, as for one not
 * yet ready. Fetched without it, the data file was taken unverified (or
 * against an older sidecar left in landing), and the sidecar, listed
 * next, was late for good.
 */
static void
sidecar_missed(struct conn *k, struct ent *e, size_t n, struct ent *side,
    struct sftp_stats *st)
{
	struct ent *d;

	if (side->kind != EK_SIDECAR || (d = ent_find(e, n, side->base)) ==
	    NULL || d->kind != EK_DATA || !d->ready || d->known == 2)
		return;
	d->ready = 0;
	data_waits(k, d->name, side->name, st);
}

/*
 * A sidecar listed after its data file's version was fetched: landing
 * it would leave it there for good (its data file is gone from landing,
 * so no claim takes it). It is recorded as fetched, logged and given
 * `after`, not fetched. So does a sidecar whose first fetch was stopped
 * before its record while its data file went on (a crash): the copy
 * landed then went with the data file.
 */
static void
sidecar_late(struct td_ctx *x, size_t i, struct conn *k, struct ent *e)
{
	if (store_begin(x->st) != 0)
		return;
	if (record_fetched(x, k, e, td_time(), NULL) != 0 ||
	    store_commit(x->st) != 0) {
		store_rollback(x->st);
		return;
	}
	e->known = 2;
	td_log(TD_LOG_WARN, "sftp_sidecar_late", "source=%s file=%s data=%s "
	    "reason=%s", k->name, e->name, e->base, "its data file was "
	    "fetched before it; not fetched, recorded as seen");
	apply_after(x->conf, i, k, e);
}

/*
 * Make the batch durable (one fsync, or one syncfs for many files),
 * rename into landing, fsync landing, record 'fetched', apply after.
 */
static int
batch_commit(struct td_ctx *x, size_t i, struct conn *k, struct batch *b,
    struct ent *e, size_t n, struct sftp_stats *st)
{
	struct ent *mk;
	char *m;
	const char *suf = td_conf_src_str(x->conf, i, TDK_source_marker_suffix);
	size_t j, landed = 0;
	int rc = TD_OK, r;
	int acks = td_conf_src_str(x->conf, i, TDK_source_ack_dir) != NULL;
	int64_t now = td_time();

	if (b->n == 0)
		return TD_OK;
	r = b->n == 1 ? fsync(b->p[0].fd) : syncfs(b->p[0].fd);
	if (r != 0) {
		td_log(TD_LOG_ERROR, "sftp_landing_sync", "dir=%s error=%s",
		    x->landing, strerror(errno));
		rc = errno == ENOSPC || errno == EDQUOT ? TD_ERR_NOSPACE :
		    TD_ERR_IO;
		goto out;
	}
	/*
	 * The bytes landed, for push_acks (all before any is renamed): read
	 * once more, so only for a source with ack_dir.
	 */
	for (j = 0; j < b->n && acks; j++)
		if (lseek(b->p[j].fd, 0, SEEK_SET) != 0 ||
		    td_sha256_fd(b->p[j].fd, b->p[j].sha256) != 0) {
			td_log(TD_LOG_ERROR, "sftp_landing_read", "file=%s "
			    "error=%s", b->p[j].part, strerror(errno));
			rc = TD_ERR_IO;
			goto out;
		}
	for (j = 0; j < b->n; j++) {
		close(b->p[j].fd);
		b->p[j].fd = -1;
		if (renameat2(AT_FDCWD, b->p[j].part, AT_FDCWD, b->p[j].final,
		    RENAME_NOREPLACE) != 0) {
			td_log(TD_LOG_WARN, "sftp_landing_busy", "source=%s "
			    "file=%s error=%s", k->name, b->p[j].e->name,
			    strerror(errno));
			st->waiting++;
			/* a sidecar not landed holds its data file back */
			sidecar_missed(k, e, n, b->p[j].e, st);
			continue;
		}
		(void)unlink(b->p[j].info);
		b->p[j].e->done = 1;
		landed++;
	}
	if (td_fsync_dir(x->landing) != 0) {
		rc = TD_ERR_IO;
		goto out;
	}
	if (store_begin(x->st) != 0) {
		rc = TD_ERR_STATE;
		goto out;
	}
	for (j = 0, r = 0; j < b->n && r == 0; j++) {
		struct ent *v[2] = { b->p[j].e, NULL };
		size_t t;

		if (!b->p[j].e->done)
			continue;
		if (b->p[j].e->kind == EK_DATA && suf != NULL) {
			m = xasprintf("%s%s", b->p[j].e->name, suf);
			mk = ent_find(e, n, m);
			x_free(m);
			if (mk != NULL && mk->kind == EK_MARKER)
				v[1] = mk;
		}
		for (t = 0; t < 2 && v[t] != NULL && r == 0; t++)
			r = record_fetched(x, k, v[t], now, t == 0 && acks ?
			    b->p[j].sha256 : NULL);
	}
	if (r != 0 || store_commit(x->st) != 0) {
		store_rollback(x->st);
		rc = TD_ERR_STATE;
		goto out;
	}
	td_failpoint("sftp_fetched");
	for (j = 0; j < b->n; j++) {
		struct ent *d = b->p[j].e;

		if (!d->done)
			continue;
		st->fetched++;
		td_log(TD_LOG_INFO, "sftp_fetched", "source=%s file=%s "
		    "size=%llu", k->name, d->name,
		    (unsigned long long)d->size);
		apply_after(x->conf, i, k, d);
		if (d->kind == EK_DATA && suf != NULL) {
			m = xasprintf("%s%s", d->name, suf);
			mk = ent_find(e, n, m);
			x_free(m);
			if (mk != NULL && mk->kind == EK_MARKER)
				apply_after(x->conf, i, k, mk);
		}
	}
out:
	for (j = 0; j < b->n; j++)
		pending_drop(&b->p[j]);
	b->n = 0;
	b->bytes = 0;
	return rc;
}

/*
 * Is the .part.info name in dir fd that of a download of source? Its
 * last field names the source ("SIZE MTIME SYNCED SOURCE", or in an
 * earlier release "SIZE MTIME SOURCE"). One of "SIZE MTIME" (earlier
 * still) names none: it is taken for any source's, or it would never be
 * removed.
 */
static int
info_ours(int fd, const char *name, const char *source)
{
	struct stat sb;
	char buf[256], *sp;
	const char *p;
	uint64_t v;
	ssize_t r;
	int f;

	/* (landing is writable by others: not a link, not a FIFO, nor one
	 * another user made) */
	if ((f = openat(fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) < 0)
		return 0;
	r = fstat(f, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    sb.st_uid == geteuid() ? read(f, buf, sizeof(buf) - 1) : -1;
	close(f);
	if (r <= 1 || buf[r - 1] != '\n')
		return 0;
	buf[r - 1] = ' ';	/* "SIZE MTIME ": two numbers */
	buf[r] = '\0';
	p = buf;
	if (info_num(&p, &v) == 0) {
		if (*p == '-')
			p++;
		if (info_num(&p, &v) == 0 && *p == '\0')
			return 1;
	}
	buf[r - 1] = '\0';
	return (sp = strrchr(buf, ' ')) != NULL && strcmp(sp + 1, source) == 0;
}

/*
 * A .part.info is written under .NAME.part.tmp, or under a name of our
 * own (.td-HEX.tmp: td_write_file_via) when another user holds that one
 * in landing; a stop while it was written leaves the latter, which
 * nothing else takes or removes. Ours (our user's regular file) and
 * older than TMP_SWEEP_AGE: no write of ours takes that long (a
 * .part.info is one line). Another user's is left: landing may be
 * writable by others, and their files are theirs; so is a name with
 * more than one link (ours has one: another is a link made to it).
 */
#define TMP_SWEEP_AGE	3600	/* seconds */

static void
tmp_sweep(int dfd, const char *name, const char *source)
{
	struct stat sb;

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISREG(sb.st_mode) || sb.st_nlink != 1 ||
	    sb.st_uid != geteuid() ||
	    (int64_t)sb.st_mtime > td_time() - TMP_SWEEP_AGE)
		return;
	if (unlinkat(dfd, name, 0) == 0)
		td_log(TD_LOG_INFO, "sftp_tmp_removed", "source=%s file=%s "
		    "reason=%s", source, name, "a temporary file of the "
		    "daemon's that a stop left");
}

/*
 * A .NAME.part with no .NAME.part.info: a download under SFTP_RESUME_MIN
 * (which restarts, and has none) that a stop cut short. Removed, as a
 * tmp_sweep() file is, once an hour old, ours, of one link, and NAME one
 * this source would fetch and no longer lists; else it stayed for good.
 * (Another source sharing landing with a download of NAME under way has
 * written it within the hour.)
 */
static void
part_sweep(struct td_ctx *x, size_t i, struct conn *k, struct ent *e,
    size_t n, int dfd, const char *name, size_t l)
{
	struct stat sb;
	struct ent t;
	char *info;
	int gone;

	info = xasprintf("%s.info", name);
	gone = fstatat(dfd, info, &sb, AT_SYMLINK_NOFOLLOW) != 0 &&
	    errno == ENOENT;
	x_free(info);
	if (!gone || fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISREG(sb.st_mode) || sb.st_nlink != 1 ||
	    sb.st_uid != geteuid() ||
	    (int64_t)sb.st_mtime > td_time() - TMP_SWEEP_AGE)
		return;
	memset(&t, 0, sizeof(t));
	t.name = xstrndup(name + 1, l - 1 - (sizeof(LANDING_PART) - 1));
	classify(x->conf, i, &t, 1);
	if (t.kind != EK_OTHER && ent_find(e, n, t.name) == NULL &&
	    unlinkat(dfd, name, 0) == 0)
		td_log(TD_LOG_INFO, "sftp_part_removed", "source=%s file=%s "
		    "reason=%s", k->name, t.name, "a broken download under "
		    "1 MiB (no .part.info) of a file no longer listed");
	x_free(t.name);
	x_free(t.base);
}

/*
 * A download broken off is kept to resume (.NAME.part with its
 * .NAME.part.info); if NAME is then deleted or renamed on the server,
 * no poll resumes nor removes it, and each such file would stay in
 * landing for good. After a whole listing, remove this source's
 * (its .part.info says so) whose names the listing no longer has.
 */
static void
parts_sweep(struct td_ctx *x, size_t i, struct conn *k, struct ent *e,
    size_t n)
{
	static const char sfx[] = LANDING_PART_INFO;
	struct ent t;
	struct dirent *de;
	DIR *d;
	char *part, *tmp;
	size_t l;

	if ((d = opendir(x->landing)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (td_afile_unique_name(de->d_name)) {
			tmp_sweep(dirfd(d), de->d_name, k->name);
			continue;
		}
		l = strlen(de->d_name);
		if (de->d_name[0] == '.' && td_has_suffix(de->d_name,
		    LANDING_PART) && l > sizeof(LANDING_PART)) {
			part_sweep(x, i, k, e, n, dirfd(d), de->d_name, l);
			continue;
		}
		if (de->d_name[0] != '.' || !td_has_suffix(de->d_name, sfx) ||
		    l < sizeof(sfx) + 1)
			continue;
		if (!info_ours(dirfd(d), de->d_name, k->name))
			continue;
		memset(&t, 0, sizeof(t));
		t.name = xstrndup(de->d_name + 1, l - 1 - (sizeof(sfx) - 1));
		classify(x->conf, i, &t, 1);
		if (t.kind != EK_OTHER && ent_find(e, n, t.name) == NULL) {
			part = xasprintf(".%s" LANDING_PART, t.name);
			tmp = xasprintf(".%s" LANDING_PART_TMP, t.name);
			(void)unlinkat(dirfd(d), part, 0);
			/* the temporary of its .part.info, if a stop left it */
			(void)unlinkat(dirfd(d), tmp, 0);
			(void)unlinkat(dirfd(d), de->d_name, 0);
			x_free(tmp);
			td_log(TD_LOG_INFO, "sftp_part_removed", "source=%s "
			    "file=%s reason=%s", k->name, t.name, "a broken "
			    "download of a file no longer listed");
			x_free(part);
		}
		x_free(t.name);
		x_free(t.base);
	}
	closedir(d);
}

/* A Tier 1 failure of this poll: counted by the source's breaker. */
static void
tier1_failed(struct backoff *bk, const char *name, struct sftp_stats *st)
{
	int64_t now = td_time();

	st->tier1 = 1;
	if (backoff_failed(bk, &sftp_policy, now))
		td_log(TD_LOG_WARN, "sftp_breaker_opened", "source=%s "
		    "failures=%u retry_in=%lld", name, bk->failures,
		    (long long)(bk->next_at - now));
}

/* Keep the outcome of the poll, and the breaker, for the next ones. */
static void
record_poll(struct td_ctx *x, const char *name, struct backoff *bk, int rc,
    const struct sftp_stats *st)
{
	if (rc == TD_OK && backoff_succeeded(bk))
		td_log(TD_LOG_INFO, "sftp_breaker_closed", "source=%s", name);
	bk->last_at = td_time();
	snprintf(bk->last_result, sizeof(bk->last_result), "%s", rc == 0 ?
	    "ok" : st->tier1 ? "unreachable" : st->auth_error ? "refused" :
	    "error");
	bk->last_count = st->fetched;
	bk->last_refused = st->refused;
	if (backoff_save(x->st, bk) != 0)
		td_log(TD_LOG_WARN, "sftp_poll_unrecorded", "source=%s", name);
}

static int	push_acks(struct td_ctx *, size_t, struct conn *, unsigned *);

int
sftp_poll(struct td_ctx *x, size_t i, struct sftp_stats *st)
{
	const struct td_conf *c = x->conf;
	const char *name = td_conf_source_name(c, i);
	struct conn k;
	struct ent *e = NULL, *d;
	struct batch *b = NULL;
	char *err = NULL, *buf = NULL;
	size_t n = 0, j, pass;
	unsigned bad, refused;
	char bname[BACKOFF_MAXNAME];
	struct backoff bk;
	struct timespec t0, t1;
	int64_t now = td_time();
	int r, rc = TD_OK;

	memset(st, 0, sizeof(*st));
	memset(&k, 0, sizeof(k));
	k.fd = -1;
	backoff_source_name(bname, name);
	if (backoff_load(x->st, bname, &bk) != 0)
		return TD_ERR_STATE;
	if (backoff_state(&bk, now) == BACKOFF_OPEN) {
		/* not a poll: nothing is recorded */
		td_log(TD_LOG_WARN, "sftp_breaker_open", "source=%s "
		    "failures=%u retry_in=%lld", name, bk.failures,
		    (long long)(bk.next_at - now));
		st->tier1 = 1;
		return TD_ERR_IO;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((r = conn_open(c, i, &k, &err)) != 0) {
		if (r == CONN_TIER1) {
			tier1_failed(&bk, name, st);
			td_log(TD_LOG_WARN, "sftp_connect_failed", "source=%s "
			    "tier=1 failures=%u error=%s", name, bk.failures,
			    err);
			rc = TD_ERR_IO;
		} else {
			st->auth_error = 1;
			td_log(TD_LOG_ERROR, "sftp_login_refused", "source=%s "
			    "error=%s", name, err);
			rc = TD_ERR_INVAL;
		}
		goto out;
	}
	r = list_dir(&k, &e, &n, &bad, &err);
	if (r != 0) {
		td_log(r == TD_ERR_IO ? TD_LOG_WARN : TD_LOG_ERROR,
		    "sftp_list_failed", "source=%s error=%s", name, err);
		if (r == TD_ERR_IO)
			tier1_failed(&bk, name, st);
		rc = r == TD_ERR_IO ? TD_ERR_IO : TD_ERR_INVAL;
		goto out;
	}
	st->listed = (unsigned)n;
	classify(c, i, e, n);
	refused = refuse_names(c, i, e, n, 1, NULL);
	/* both left on the server: unsafe names and names never taken */
	st->refused = bad + refused;
	if ((rc = record_listing(x, &k, e, n)) != 0)
		goto out;
	decide(c, i, e, n);
	for (j = 0; j < n; j++) {
		if (e[j].kind == EK_OTHER || e[j].kind == EK_MARKER)
			continue;
		if (e[j].known == 2)
			st->skipped_seen++;
		else if (!e[j].ready)
			st->waiting++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	td_log(TD_LOG_INFO, "sftp_listed", "source=%s dir=%s files=%zu "
	    "bad_names=%u refused_names=%u already_fetched=%u waiting=%u "
	    "ms=%lld", name, k.u.path, n, bad, refused, st->skipped_seen,
	    st->waiting,
	    (long long)((t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000));

	/* sidecars and manifests first, then data files */
	buf = xmalloc(SFTP_BUF);
	b = xcalloc(1, sizeof(*b));
	for (pass = 0; pass < 2 && rc == TD_OK; pass++) {
		for (j = 0; j < n && rc == TD_OK; j++) {
			int side = e[j].kind == EK_SIDECAR ||
			    e[j].kind == EK_MANIFEST;

			if (!e[j].ready || e[j].known == 2 ||
			    (pass == 0) != side ||
			    (pass == 1 && e[j].kind != EK_DATA))
				continue;
			if (e[j].kind == EK_DATA && data_held(&k, e[j].name)) {
				data_waits(&k, e[j].name, "(refused)", st);
				continue;
			}
			/*
			 * late: its data file is fetched (listed so, or
			 * gone), and at or after the sidecar's time. One
			 * newer than that fetch is the next version's (a
			 * daily name, its sidecar sent first): fetched when
			 * its data file is gone, and while the fetched one
			 * is listed left on the server until the next one
			 * is (landed now, it was taken for a sidecar of the
			 * version landed already, and was late for good).
			 */
			if (e[j].kind == EK_SIDECAR && ((d = ent_find(e, n,
			    e[j].base)) == NULL || (d->kind == EK_DATA &&
			    d->known == 2))) {
				if (data_gone_after(x, &k, &e[j])) {
					sidecar_late(x, i, &k, &e[j]);
					continue;
				}
				if (d != NULL) {
					sidecar_waits(&k, &e[j], st);
					continue;
				}
			}
			if (k.dead)	/* lost while `after` was applied */
				break;
			r = conn_overdue(&k, e[j].name, 0) ? TD_ERR_IO :
			    fetch(x, &k, &e[j], buf, &b->p[b->n], st);
			if (r == TD_ERR_EXISTS || r == TD_ERR_FORMAT ||
			    r == TD_ERR_NOTFOUND)
				sidecar_missed(&k, e, n, &e[j], st);
			if (r == TD_ERR_EXISTS) {
				st->waiting++;
				continue;
			}
			if (r == TD_ERR_FORMAT || r == TD_ERR_NOTFOUND) {
				st->failed++;
				continue;
			}
			if (r == TD_ERR_IO) {
				tier1_failed(&bk, name, st);
				td_log(TD_LOG_WARN, "sftp_transfer_failed",
				    "source=%s file=%s tier=1 error=%s", name,
				    e[j].name, k.overdue ? "poll_timeout "
				    "reached" : ssh_err(k.s));
				rc = TD_ERR_IO;
				break;
			}
			if (r != 0) {
				rc = r;
				break;
			}
			b->bytes += e[j].size;
			b->n++;
			if (b->n == SFTP_BATCH_FILES ||
			    b->bytes >= SFTP_BATCH_BYTES)
				rc = batch_commit(x, i, &k, b, e, n, st);
		}
		/* sidecars are durable before their data file lands */
		if (rc == TD_OK || rc == TD_ERR_IO) {
			r = batch_commit(x, i, &k, b, e, n, st);
			if (rc == TD_OK)
				rc = r;
		}
	}
	/*
	 * The connection lost or timed out while `after` was applied: Tier
	 * 1, and the rest is left to the next poll (each call would wait
	 * out the I/O timeout again).
	 */
	if (rc == TD_OK && k.dead) {
		tier1_failed(&bk, name, st);
		td_log(TD_LOG_WARN, "sftp_transfer_failed", "source=%s tier=1 "
		    "error=%s", name, ssh_err(k.s));
		rc = TD_ERR_IO;
	}
	/*
	 * A version recorded as fetched and still listed: a run stopped
	 * between that commit and `after` (a crash, a lost connection).
	 * It is durable in landing: apply `after` now.
	 */
	if (rc == TD_OK) {
		after_resume(c, i, &k, e, n);
		parts_sweep(x, i, &k, e, n);
	}
	/* the 997s of what this source sent earlier, now durable */
	if (rc == TD_OK) {
		unsigned up;

		rc = push_acks(x, i, &k, &up);
		if (rc == TD_ERR_IO)
			tier1_failed(&bk, name, st);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	td_log(rc == TD_OK ? TD_LOG_INFO : TD_LOG_WARN, "sftp_poll_done",
	    "source=%s listed=%u fetched=%u already_fetched=%u waiting=%u "
	    "failed=%u bytes=%llu ms=%lld", name, st->listed, st->fetched,
	    st->skipped_seen, st->waiting, st->failed,
	    (unsigned long long)st->bytes,
	    (long long)((t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000));
out:
	record_poll(x, name, &bk, rc, st);
	if (b != NULL) {
		for (j = 0; j < b->n; j++)
			pending_drop(&b->p[j]);
		x_free(b);
	}
	x_free(buf);
	ents_free(e, n);
	x_free(err);
	conn_close(&k);
	return rc;
}

/* ------------------------------------------------------------ ack_dir */

#define ACK_PUSH_MAX	256		/* 997s uploaded per connection */
#define ACK_FILE_MAX	((size_t)16 << 20)

/* One 997 to upload: our control number, its transmission's paths. */
struct ack_up {
	unsigned long	 ctl;
	char		*tid;
	char		*dir;		/* archive_dir */
};

/* Write n bytes to the remote path rp (created or truncated). */
static int
put_file(struct conn *k, const char *rp, const char *p, size_t n)
{
	LIBSSH2_SFTP_HANDLE *h;
	ssize_t w;
	size_t off = 0;
	int r = 0;

	h = libssh2_sftp_open_ex(k->sftp, rp, (unsigned)strlen(rp),
	    LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC, 0644,
	    LIBSSH2_SFTP_OPENFILE);
	if (h == NULL)
		return TD_ERR_IO;
	while (off < n) {
		if ((w = libssh2_sftp_write(h, p + off, n - off)) <= 0) {
			r = TD_ERR_IO;
			break;
		}
		off += (size_t)w;
	}
	/* fsync@openssh.com where the server has it */
	if (r == 0)
		(void)libssh2_sftp_fsync(h);
	if (libssh2_sftp_close_handle(h) != 0 && r == 0)
		r = TD_ERR_IO;
	return r;
}

/*
 * Upload one 997 to ack_dir: to .997-N.x12.part, then renamed to
 * 997-N.x12 (a final name already there with its size is an upload a
 * crash interrupted before it was recorded). Then recorded uploaded,
 * with an audit entry, in one transaction.
 */
static int
push_ack(struct td_ctx *x, struct conn *k, const char *ackdir,
    const struct ack_up *a)
{
	LIBSSH2_SFTP_ATTRIBUTES st;
	sqlite3_stmt *s;
	char *local, *tmp, *dst, *buf = NULL, *fields = NULL;
	size_t len = 0;
	int r;

	local = xasprintf("%s/%s/ack/997-%09lu.x12", x->state_dir, a->dir,
	    a->ctl);
	tmp = xasprintf("%s/.997-%09lu.x12.part", ackdir, a->ctl);
	dst = xasprintf("%s/997-%09lu.x12", ackdir, a->ctl);
	if ((r = td_read_file(local, ACK_FILE_MAX, &buf, &len)) != 0) {
		td_log(TD_LOG_ERROR, "ack_missing", "file=%s error=%s", local,
		    td_errstr(r));
		goto out;
	}
	if ((r = put_file(k, tmp, buf, len)) != 0)
		goto out;
	if (libssh2_sftp_rename_ex(k->sftp, tmp, (unsigned)strlen(tmp), dst,
	    (unsigned)strlen(dst), LIBSSH2_SFTP_RENAME_ATOMIC |
	    LIBSSH2_SFTP_RENAME_NATIVE) != 0 &&
	    (libssh2_sftp_stat_ex(k->sftp, dst, (unsigned)strlen(dst),
	    LIBSSH2_SFTP_STAT, &st) != 0 ||
	    !(st.flags & LIBSSH2_SFTP_ATTR_SIZE) || st.filesize != len)) {
		r = TD_ERR_IO;
		goto out;
	}
	fields = xasprintf("\"source\":\"%s\",\"control_number\":%lu,"
	    "\"to\":\"997-%09lu.x12\"", k->name, a->ctl, a->ctl);
	if ((r = store_begin(x->st)) != 0)
		goto out;
	s = store_prepare(x->st, "UPDATE x12_acks SET uploaded_at = ? "
	    "WHERE ctl = ?");
	sqlite3_bind_int64(s, 1, (sqlite3_int64)td_time());
	sqlite3_bind_int64(s, 2, (sqlite3_int64)a->ctl);
	r = store_step_done(x->st, s);
	if (r == 0)
		r = audit_append(x->audit, "ack_uploaded", a->tid, fields);
	r = store_end(x->st, r);
	if (r == 0)
		td_log(TD_LOG_INFO, "ack_uploaded", "source=%s transmission_id=%s "
		    "control_number=%lu to=%s", k->name, a->tid, a->ctl, dst);
 out:
	x_free(local);
	x_free(tmp);
	x_free(dst);
	x_free(buf);
	x_free(fields);
	return r;
}

/*
 * Upload the 997s not yet uploaded of the transmissions this source
 * fetched (a version of the same name, size and SHA-256, the bytes of
 * the transmission or of the one it replays, recorded fetched from its
 * directory) once they are durable (parsed, delivered or quarantined).
 * Name and size alone would send the 997s of a drop another put into
 * landing (writable by others) under a fetched file's name and size:
 * acknowledgments the retailer never asked for. TD_ERR_IO is Tier 1:
 * what is left goes at the next poll.
 */
static int
push_acks(struct td_ctx *x, size_t i, struct conn *k, unsigned *n)
{
	const char *ackdir = td_conf_src_str(x->conf, i, TDK_source_ack_dir);
	struct ack_up *a = NULL;
	sqlite3_stmt *s;
	char *prefix;
	size_t na = 0, j;
	int r = TD_OK;

	*n = 0;
	if (ackdir == NULL)
		return TD_OK;
	prefix = remote_path(k, "");
	s = store_prepare(x->st, "SELECT a.ctl, t.id, t.archive_dir FROM "
	    "x12_acks a JOIN transmissions t ON t.id = a.transmission_id "
	    "WHERE a.uploaded_at IS NULL AND t.state IN ('parsed', "
	    "'delivered', 'quarantined') AND EXISTS (SELECT 1 FROM "
	    "remote_files r WHERE r.source = ?1 AND r.state = 'fetched' AND "
	    "r.size = t.size AND r.path = ?2 || t.name AND r.sha256 = "
	    "COALESCE(t.replay_of, t.id)) ORDER BY a.ctl LIMIT 256");
	sqlite3_bind_text(s, 1, k->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, prefix, -1, SQLITE_STATIC);
	a = xcalloc(ACK_PUSH_MAX, sizeof(*a));
	while (na < ACK_PUSH_MAX && sqlite3_step(s) == SQLITE_ROW) {
		a[na].ctl = (unsigned long)sqlite3_column_int64(s, 0);
		a[na].tid = xstrdup((const char *)sqlite3_column_text(s, 1));
		a[na].dir = xstrdup((const char *)sqlite3_column_text(s, 2));
		na++;
	}
	sqlite3_reset(s);
	for (j = 0; j < na && r == TD_OK; j++) {
		r = push_ack(x, k, ackdir, &a[j]);
		if (r == TD_OK)
			(*n)++;
		else if (r == TD_ERR_IO)
			td_log(TD_LOG_WARN, "sftp_ack_failed", "source=%s "
			    "control_number=%lu tier=1 error=%s", k->name,
			    a[j].ctl, ssh_err(k->s));
	}
	for (j = 0; j < na; j++) {
		x_free(a[j].tid);
		x_free(a[j].dir);
	}
	x_free(a);
	x_free(prefix);
	return r;
}

int
sftp_push_acks(struct td_ctx *x, size_t i, unsigned *uploaded)
{
	const char *name = td_conf_source_name(x->conf, i);
	char bname[BACKOFF_MAXNAME], *err = NULL;
	struct sftp_stats st;
	struct backoff bk;
	struct conn k;
	int r;

	*uploaded = 0;
	if (td_conf_src_str(x->conf, i, TDK_source_ack_dir) == NULL)
		return TD_OK;
	memset(&st, 0, sizeof(st));
	memset(&k, 0, sizeof(k));
	k.fd = -1;
	backoff_source_name(bname, name);
	if (backoff_load(x->st, bname, &bk) != 0)
		return TD_ERR_STATE;
	if (backoff_state(&bk, td_time()) == BACKOFF_OPEN)
		return TD_ERR_IO;	/* the next poll or run */
	if ((r = conn_open(x->conf, i, &k, &err)) != 0) {
		td_log(TD_LOG_WARN, "sftp_ack_failed", "source=%s tier=%d "
		    "error=%s", name, r == CONN_TIER1 ? 1 : 2, err);
		r = r == CONN_TIER1 ? TD_ERR_IO : TD_ERR_INVAL;
	} else
		r = push_acks(x, i, &k, uploaded);
	if (r == TD_ERR_IO) {
		tier1_failed(&bk, name, &st);
		if (backoff_save(x->st, &bk) != 0)
			td_log(TD_LOG_WARN, "sftp_poll_unrecorded", "source=%s",
			    name);
	}
	x_free(err);
	conn_close(&k);
	return r;
}

int
sftp_check(const struct td_conf *c, size_t i, char **err)
{
	struct conn k;
	struct ent *e = NULL;
	char *first = NULL;
	size_t n = 0;
	unsigned bad, refused = 0;
	int r;

	*err = NULL;
	if ((r = conn_open(c, i, &k, err)) != 0) {
		conn_close(&k);
		return r == CONN_TIER1 ? TD_ERR_IO : TD_ERR_INVAL;
	}
	r = list_dir(&k, &e, &n, &bad, err);
	if (r == 0) {
		/* what the polls would leave on the server, said here too */
		classify(c, i, e, n);
		refused = refuse_names(c, i, e, n, 0, &first);
	}
	if (r == 0 && refused > 0)
		*err = xasprintf("%zu files in %s; %u of them never fetched, "
		    "their names refused (first %s)", n, k.u.path, refused,
		    first);
	else if (r == 0)
		*err = xasprintf("%zu files in %s", n, k.u.path);
	x_free(first);
	ents_free(e, n);
	conn_close(&k);
	return r == 0 ? TD_OK : r == TD_ERR_IO ? TD_ERR_IO : TD_ERR_INVAL;
}
