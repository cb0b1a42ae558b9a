/*
 * sandbox.c - the parser child. See sandbox.h. The only place that
 * knows libseccomp.
 *
 * The child is a fork of the caller: it inherits the mapper and the
 * configuration, keeps only the raw file's descriptor, one end of a
 * socket pair and stderr, confines itself and runs process_file() with
 * a sink that sends every call to the caller as a frame:
 *
 *   BATCH   nrec, control totals, the batch's bytes
 *   REJECT  tier, line, code, message, member, raw text
 *   RESET   the document encoding = auto starts over from
 *   LEDGER  a mapped record for the Tier 4 ledger (its ids, values'
 *           hash, quantity, amount and JSON line): the caller, which
 *           holds state.db, answers ANSWER with the verdict and the
 *           line and totals as the ledger leaves them
 *   PASSEND a pass over the file is over: the caller's ledger answers
 *           ANSWER, its verdict LEDGER_AGAIN when the file is to be
 *           read again (a key on two of its rows)
 *   RESULT  process_file()'s return and its proc_result
 *
 * The caller answers nothing else: a failing sink, like a crash, ends
 * the child (the caller kills it). A child that ends without a RESULT
 * crashed: the file is refused as Tier 2 parser_crashed.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_LIBSECCOMP
#include <seccomp.h>
#endif

/* built with AddressSanitizer (--enable-asan, or clang's fuzzing build) */
#if defined(__SANITIZE_ADDRESS__)
#define SB_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SB_ASAN	1
#endif
#endif
#ifdef SB_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

#include "td.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "map.h"
#include "ledger.h"
#include "fsutil.h"
#include "process.h"
#include "sandbox.h"

#define F_BATCH		1
#define F_REJECT	2
#define F_RESET		3
#define F_RESULT	4
#define F_LEDGER	5
#define F_ANSWER	6
#define F_PASSEND	7
#define NOSTR		UINT32_MAX
#define FRAME_MAX	(1U << 30)
#define CHILD_AS	(8ULL << 30)	/* RLIMIT_AS of the child */

struct frame {
	uint32_t	 type;
	uint32_t	 len;
};

/* LEDGER: then the record's JSON line */
struct fledger {
	unsigned char	 id[16], key[16], values[16];
	struct td_dec	 quantity, amount;
	int32_t		 has_amount;
	uint32_t	 pad;
};

/* ANSWER: then the line as the ledger left it */
struct fanswer {
	struct ledger_verdict v;
	struct td_dec	 quantity, amount;
	int32_t		 has_amount;
	uint32_t	 pad;
};

static int	read_full(int, void *, size_t);

struct fbatch {
	uint64_t	 nrec;
	struct batch_totals bt;
};

struct freject {
	int		 tier;
	uint64_t	 line;
	uint32_t	 len[4];	/* code, message, member, raw; NOSTR */
};

struct fresult {
	int		 r;
	struct proc_result res;	/* pointers not meaningful */
	uint32_t	 lcode, ldetail;
};

struct fdoc {
	struct proc_doc	 doc;
	uint32_t	 lmember, lenc;
};

const char *
sandbox_kind(void)
{
#ifdef HAVE_LIBSECCOMP
	return "seccomp";
#else
	return "none";
#endif
}

void
sandbox_close_fds(const int *keep, size_t nkeep)
{
	DIR *d;
	struct dirent *de;
	int fd, dfd, *fds = NULL;
	size_t n = 0, i, k;
	long v;
	char *end;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		errno = 0;
		v = strtol(de->d_name, &end, 10);
		if (errno != 0 || *end != '\0' || end == de->d_name ||
		    v < 3 || v > 1 << 20)
			continue;
		fd = (int)v;
		for (k = 0; k < nkeep && keep[k] != fd; k++)
			;
		if (fd == dfd || k < nkeep)
			continue;
		fds = xreallocarray(fds, n + 1, sizeof(*fds));
		fds[n++] = fd;
	}
	closedir(d);
	for (i = 0; i < n; i++)
		close(fds[i]);
	x_free(fds);
}

/* ---------------------------------------------------------------- child */

struct child {
	int		 sock;
	struct td_buf	 buf;
	struct td_buf	 out;
};

static int
put_frame(struct child *c, uint32_t type)
{
	struct frame f;
	const char *p;
	size_t left;
	ssize_t n;

	f.type = type;
	f.len = (uint32_t)(c->out.len - sizeof(f));
	memcpy(c->out.p, &f, sizeof(f));
	for (p = c->out.p, left = c->out.len; left > 0; p += n, left -= n) {
		if ((n = write(c->sock, p, left)) < 0) {
			if (errno == EINTR) {
				n = 0;
				continue;
			}
			return TD_ERR_IO;
		}
	}
	td_buf_reset(&c->out);
	return TD_OK;
}

static void
put_str(struct td_buf *b, const char *s, size_t n)
{
	if (s != NULL)
		td_buf_append(b, s, n);
}

static void
frame_start(struct child *c)
{
	struct frame f;

	memset(&f, 0, sizeof(f));
	td_buf_reset(&c->out);
	td_buf_append(&c->out, &f, sizeof(f));
}

static struct td_buf *
c_buffer(void *arg)
{
	struct child *c = arg;

	td_buf_reset(&c->buf);
	return &c->buf;
}

static int
c_batch(void *arg, struct td_buf *b, uint64_t nrec,
    const struct batch_totals *bt)
{
	struct child *c = arg;
	struct fbatch fb;

	memset(&fb, 0, sizeof(fb));
	fb.nrec = nrec;
	fb.bt = *bt;
	frame_start(c);
	td_buf_append(&c->out, &fb, sizeof(fb));
	td_buf_append(&c->out, b->p, b->len);
	return put_frame(c, F_BATCH);
}

static uint32_t
slen(const char *s, size_t n)
{
	return s == NULL ? NOSTR : (uint32_t)n;
}

static int
c_reject(void *arg, const struct rejection *rj)
{
	struct child *c = arg;
	struct freject fr;

	memset(&fr, 0, sizeof(fr));
	fr.tier = rj->tier;
	fr.line = rj->line;
	fr.len[0] = slen(rj->code, rj->code ? strlen(rj->code) : 0);
	fr.len[1] = slen(rj->message, rj->message ? strlen(rj->message) : 0);
	fr.len[2] = slen(rj->member, rj->member ? strlen(rj->member) : 0);
	fr.len[3] = slen(rj->raw, rj->rawlen);
	frame_start(c);
	td_buf_append(&c->out, &fr, sizeof(fr));
	put_str(&c->out, rj->code, fr.len[0]);
	put_str(&c->out, rj->message, fr.len[1]);
	put_str(&c->out, rj->member, fr.len[2]);
	put_str(&c->out, rj->raw, rj->rawlen);
	return put_frame(c, F_REJECT);
}

static int
c_reset(void *arg, size_t doc)
{
	struct child *c = arg;
	uint64_t d = doc;

	frame_start(c);
	td_buf_append(&c->out, &d, sizeof(d));
	return put_frame(c, F_RESET);
}

/* Tier 4: ask the caller, which holds the ledger, and wait. */
static int
c_ledger(void *arg, struct map_result *mr, struct td_buf *b, size_t start,
    struct ledger_verdict *v)
{
	struct child *c = arg;
	struct fledger fl;
	struct fanswer fa;
	struct frame f;
	char *line;
	int r;

	memset(&fl, 0, sizeof(fl));
	memcpy(fl.id, mr->record_id, sizeof(fl.id));
	memcpy(fl.key, mr->record_key, sizeof(fl.key));
	memcpy(fl.values, mr->values, sizeof(fl.values));
	fl.quantity = mr->quantity;
	fl.amount = mr->amount;
	fl.has_amount = mr->has_amount;
	frame_start(c);
	td_buf_append(&c->out, &fl, sizeof(fl));
	td_buf_append(&c->out, b->p + start, b->len - start);
	if ((r = put_frame(c, F_LEDGER)) != 0)
		return r;
	if ((r = read_full(c->sock, &f, sizeof(f))) != 0)
		return r;
	if (f.type != F_ANSWER || f.len < sizeof(fa) || f.len > FRAME_MAX)
		return TD_ERR_FORMAT;
	if ((r = read_full(c->sock, &fa, sizeof(fa))) != 0)
		return r;
	line = xmalloc(f.len - sizeof(fa) + 1);
	if ((r = read_full(c->sock, line, f.len - sizeof(fa))) == 0) {
		b->len = start;
		r = td_buf_append(b, line, f.len - sizeof(fa));
	}
	x_free(line);
	if (r != 0)
		return r;
	*v = fa.v;
	mr->quantity = fa.quantity;
	mr->amount = fa.amount;
	mr->has_amount = fa.has_amount;
	return TD_OK;
}

/* The pass is over: ask the caller's ledger whether to read again. */
static int
c_pass_end(void *arg, int *again)
{
	struct child *c = arg;
	struct fanswer fa;
	struct frame f;
	int r;

	frame_start(c);
	if ((r = put_frame(c, F_PASSEND)) != 0 ||
	    (r = read_full(c->sock, &f, sizeof(f))) != 0)
		return r;
	if (f.type != F_ANSWER || f.len != sizeof(fa))
		return TD_ERR_FORMAT;
	if ((r = read_full(c->sock, &fa, sizeof(fa))) != 0)
		return r;
	*again = fa.v.what == LEDGER_AGAIN;
	return TD_OK;
}

static void
c_result(struct child *c, int r, const struct proc_result *res)
{
	struct fresult fr;
	struct fdoc fd;
	size_t i;

	memset(&fr, 0, sizeof(fr));
	fr.r = r;
	fr.res = *res;
	fr.lcode = slen(res->t2code, res->t2code ? strlen(res->t2code) : 0);
	fr.ldetail = slen(res->t2detail, res->t2detail ?
	    strlen(res->t2detail) : 0);
	frame_start(c);
	td_buf_append(&c->out, &fr, sizeof(fr));
	put_str(&c->out, res->t2code, fr.lcode);
	put_str(&c->out, res->t2detail, fr.ldetail);
	for (i = 0; i < res->ndocs; i++) {
		memset(&fd, 0, sizeof(fd));
		fd.doc = res->docs[i];
		fd.lmember = slen(res->docs[i].member, res->docs[i].member ?
		    strlen(res->docs[i].member) : 0);
		fd.lenc = slen(res->docs[i].encoding, res->docs[i].encoding ?
		    strlen(res->docs[i].encoding) : 0);
		td_buf_append(&c->out, &fd, sizeof(fd));
		put_str(&c->out, res->docs[i].member, fd.lmember);
		put_str(&c->out, res->docs[i].encoding, fd.lenc);
	}
	/* the rejections by code: a count, then length, code and n each */
	{
		uint64_t n = res->by_code.n, k;
		uint32_t l;

		td_buf_append(&c->out, &n, sizeof(n));
		for (i = 0; i < res->by_code.n; i++) {
			l = (uint32_t)strlen(res->by_code.v[i].code);
			k = res->by_code.v[i].n;
			td_buf_append(&c->out, &l, sizeof(l));
			td_buf_append(&c->out, res->by_code.v[i].code, l);
			td_buf_append(&c->out, &k, sizeof(k));
		}
	}
	(void)put_frame(c, F_RESULT);
}

#ifdef SB_ASAN
/*
 * Where ASan and UBSan write a report of the confined child: the file
 * their log_path names (make check-asan), opened now, as open(2) is
 * refused once confined, and RLIMIT_NOFILE is 0 (the runtime, failing
 * to, hung in its own abort); -1 when they write to stderr.
 */
static int
asan_report_fd(void)
{
	const char *p = __sanitizer_get_report_path();	/* opens it */
	int fd;

	if (p == NULL || *p == '\0' ||
	    (fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC)) < 0)
		return -1;
	__sanitizer_set_report_fd((void *)(intptr_t)fd);
	return fd;
}
#endif

/*
 * Allow only what parsing needs; writes only to the socket and stderr.
 * A sanitizer build also lets ASan's runtime do what it must: ask
 * sigaltstack(2) before every call that does not return (_exit), and
 * write its report (asan_report_fd).
 */
static int
confine(int sock)
{
	struct rlimit rl;
	int afd = -1;		/* ASan's report file */
#ifdef HAVE_LIBSECCOMP
	static const int allow[] = {
		SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(pread64),
		SCMP_SYS(lseek), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
		SCMP_SYS(statx), SCMP_SYS(mmap), SCMP_SYS(munmap),
		SCMP_SYS(mremap), SCMP_SYS(brk), SCMP_SYS(madvise),
		SCMP_SYS(mprotect), SCMP_SYS(exit), SCMP_SYS(exit_group),
		SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask),
		SCMP_SYS(futex), SCMP_SYS(clock_gettime), SCMP_SYS(gettid),
		SCMP_SYS(getpid), SCMP_SYS(close), SCMP_SYS(getrandom),
		SCMP_SYS(sched_yield), SCMP_SYS(fadvise64),
	};
	static const int writes[] = {
		SCMP_SYS(write), SCMP_SYS(writev),
	};
	scmp_filter_ctx ctx;
	int wfd[3] = { sock, STDERR_FILENO, -1 };
	size_t i, j, nwfd = 2;
	int r = 0;
#endif

#ifdef SB_ASAN
	afd = asan_report_fd();		/* before RLIMIT_NOFILE */
#endif
	memset(&rl, 0, sizeof(rl));
	(void)setrlimit(RLIMIT_CORE, &rl);	/* no core of a crash */
	(void)setrlimit(RLIMIT_NOFILE, &rl);	/* no new descriptor */
#ifndef SB_ASAN
	rl.rlim_cur = rl.rlim_max = CHILD_AS;	/* a decompression bomb */
	(void)setrlimit(RLIMIT_AS, &rl);
#endif
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return TD_ERR_IO;
#ifdef HAVE_LIBSECCOMP
	if ((ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM))) == NULL)
		return TD_ERR_IO;
	for (i = 0; i < TD_NELEM(allow) && r == 0; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allow[i], 0);
#ifdef SB_ASAN
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sigaltstack),
		    0);
#endif
	if (afd >= 0)
		wfd[nwfd++] = afd;
	for (i = 0; i < TD_NELEM(writes) && r == 0; i++)
		for (j = 0; j < nwfd && r == 0; j++)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, writes[i], 1,
			    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)wfd[j]));
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r != 0)
		return TD_ERR_IO;
#else
	(void)sock;
	(void)afd;
#endif
	return TD_OK;
}

/*
 * A test hook, as td_failpoint(): TD_TEST_PARSER=HOOK:FILE does HOOK in
 * the child that parses FILE. segv and kill crash it before it is
 * confined; socket and write:PATH try what the sandbox forbids, after,
 * and log whether that was refused.
 */
static void
test_hook(const char *file, int when_confined)
{
	const char *e = getenv("TD_TEST_PARSER"), *colon;
	int fd;

	if (e == NULL || (colon = strrchr(e, ':')) == NULL ||
	    strcmp(colon + 1, file) != 0)
		return;
	if (!when_confined && strncmp(e, "segv:", 5) == 0) {
		/* the crash of a product build, whatever handler the
		 * runtime installed (ASan reported this one as its own) */
		signal(SIGSEGV, SIG_DFL);
		raise(SIGSEGV);
	}
	if (!when_confined && strncmp(e, "kill:", 5) == 0)
		raise(SIGKILL);
	if (when_confined && strncmp(e, "socket:", 7) == 0) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		td_log(TD_LOG_WARN, "test_hook", "hook=socket result=%s "
		    "error=%s", fd >= 0 ? "allowed" : "refused",
		    fd >= 0 ? "none" : strerror(errno));
	}
	if (when_confined && strncmp(e, "write:", 6) == 0) {
		char path[256];
		size_t n = (size_t)(colon - (e + 6));

		snprintf(path, sizeof(path), "%.*s", (int)n, e + 6);
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		td_log(TD_LOG_WARN, "test_hook", "hook=write result=%s "
		    "error=%s", fd >= 0 ? "allowed" : "refused",
		    fd >= 0 ? "none" : strerror(errno));
		if (fd >= 0)
			close(fd);
	}
}

static void __attribute__((noreturn))
child_main(struct mapper *m, const struct td_conf *cf, int fd, int sock,
    const struct proc_opts *o, int ledger)
{
	struct child c;
	struct proc_sink s;
	struct proc_result res;
	int keep[2], r;

	keep[0] = fd;
	keep[1] = sock;
	sandbox_close_fds(keep, 2);
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	test_hook(o->file, 0);
	memset(&c, 0, sizeof(c));
	c.sock = sock;
	td_buf_init(&c.buf, 0, 0);
	td_buf_init(&c.out, 65536, 0);
	if (confine(sock) != 0)
		_exit(3);
	test_hook(o->file, 1);
	memset(&s, 0, sizeof(s));
	s.buffer = c_buffer;
	s.batch = c_batch;
	s.reject = c_reject;
	s.reset = c_reset;
	s.ledger = ledger ? c_ledger : NULL;
	s.pass_end = ledger ? c_pass_end : NULL;
	s.arg = &c;
	memset(&res, 0, sizeof(res));
	r = process_file(m, cf, fd, o, &s, &res);
	c_result(&c, r, &res);
	_exit(0);
}

/* --------------------------------------------------------------- parent */

/* A string that lives as long as the process: codes and encodings. */
static const char *
intern(const char *p, uint32_t n)
{
	static char *tab[256];
	static size_t ntab;
	size_t i;

	for (i = 0; i < ntab; i++)
		if (strlen(tab[i]) == n && memcmp(tab[i], p, n) == 0)
			return tab[i];
	if (ntab == TD_NELEM(tab))
		return "unknown";
	tab[ntab] = xmalloc(n + 1);
	memcpy(tab[ntab], p, n);
	tab[ntab][n] = '\0';
	return tab[ntab++];
}

static int
read_full(int fd, void *buf, size_t n)
{
	char *p = buf;
	ssize_t k;

	while (n > 0) {
		if ((k = read(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			return TD_ERR_IO;
		}
		if (k == 0)
			return TD_ERR_NOTFOUND;	/* the child is gone */
		p += k;
		n -= (size_t)k;
	}
	return TD_OK;
}

/* Take a string of length n (NOSTR: NULL) from *p, bounded by end. */
static int
take(const char **p, const char *end, uint32_t n, const char **s,
    size_t *len)
{
	*s = NULL;
	if (len != NULL)
		*len = 0;
	if (n == NOSTR)
		return TD_OK;
	if ((size_t)(end - *p) < n)
		return TD_ERR_FORMAT;
	*s = *p;
	if (len != NULL)
		*len = n;
	*p += n;
	return TD_OK;
}

static char *
dupn(const char *s, size_t n)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = xmalloc(n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static int
on_result(const char *p, const char *end, struct proc_result *res, int *rp)
{
	struct fresult fr;
	struct fdoc fd;
	const char *code, *detail, *mem, *enc;
	size_t lc, ld, lm, le, i;

	if ((size_t)(end - p) < sizeof(fr))
		return TD_ERR_FORMAT;
	memcpy(&fr, p, sizeof(fr));
	p += sizeof(fr);
	if (take(&p, end, fr.lcode, &code, &lc) != 0 ||
	    take(&p, end, fr.ldetail, &detail, &ld) != 0 ||
	    fr.res.ndocs > (size_t)(end - p) / sizeof(fd))
		return TD_ERR_FORMAT;
	*res = fr.res;
	/* pointers of the child's are not ours */
	memset(&res->by_code, 0, sizeof(res->by_code));
	res->docs = NULL;
	res->t2detail = NULL;
	res->over = NULL;	/* decided in the child: its t2code says */
	res->t2code = code != NULL ? intern(code, (uint32_t)lc) : NULL;
	res->t2detail = dupn(detail, ld);
	res->docs = res->ndocs > 0 ? xcalloc(res->ndocs, sizeof(*res->docs)) :
	    NULL;
	for (i = 0; i < res->ndocs; i++) {
		if ((size_t)(end - p) < sizeof(fd))
			return TD_ERR_FORMAT;
		memcpy(&fd, p, sizeof(fd));
		p += sizeof(fd);
		if (take(&p, end, fd.lmember, &mem, &lm) != 0 ||
		    take(&p, end, fd.lenc, &enc, &le) != 0)
			return TD_ERR_FORMAT;
		res->docs[i] = fd.doc;
		res->docs[i].member = dupn(mem, lm);
		res->docs[i].encoding = enc != NULL ? intern(enc,
		    (uint32_t)le) : "utf-8";
	}
	{
		uint64_t n, k, j;
		uint32_t l;

		if ((size_t)(end - p) < sizeof(n))
			return TD_ERR_FORMAT;
		memcpy(&n, p, sizeof(n));
		p += sizeof(n);
		for (j = 0; j < n; j++) {
			if ((size_t)(end - p) < sizeof(l))
				return TD_ERR_FORMAT;
			memcpy(&l, p, sizeof(l));
			p += sizeof(l);
			if (l > 256 || (size_t)(end - p) < l + sizeof(k))
				return TD_ERR_FORMAT;
			code = p;
			p += l;
			memcpy(&k, p, sizeof(k));
			p += sizeof(k);
			rej_counts_add(&res->by_code, intern(code, l), k);
		}
	}
	*rp = fr.r;
	return TD_OK;
}

/* LEDGER: the caller's ledger decides; ANSWER the child. */
static int
on_ledger(int sock, const struct frame *f, const char *p,
    const struct proc_sink *s)
{
	struct fledger fl;
	struct fanswer fa;
	struct map_result mr;
	struct frame af;
	struct td_buf line;
	int r;

	if (f->len < sizeof(fl) || s->ledger == NULL)
		return TD_ERR_FORMAT;
	memcpy(&fl, p, sizeof(fl));
	memset(&mr, 0, sizeof(mr));
	memcpy(mr.record_id, fl.id, sizeof(fl.id));
	memcpy(mr.record_key, fl.key, sizeof(fl.key));
	memcpy(mr.values, fl.values, sizeof(fl.values));
	mr.quantity = fl.quantity;
	mr.amount = fl.amount;
	mr.has_amount = fl.has_amount != 0;
	td_buf_init(&line, f->len - sizeof(fl) + 64, 0);
	td_buf_append(&line, p + sizeof(fl), f->len - sizeof(fl));
	memset(&fa, 0, sizeof(fa));
	if ((r = s->ledger(s->arg, &mr, &line, 0, &fa.v)) == 0) {
		fa.quantity = mr.quantity;
		fa.amount = mr.amount;
		fa.has_amount = mr.has_amount;
		memset(&af, 0, sizeof(af));
		af.type = F_ANSWER;
		af.len = (uint32_t)(sizeof(fa) + line.len);
		if ((r = td_write_all(sock, &af, sizeof(af))) == 0 &&
		    (r = td_write_all(sock, &fa, sizeof(fa))) == 0)
			r = td_write_all(sock, line.p, line.len);
	}
	td_buf_free(&line);
	return r;
}

/* PASSEND: the caller's ledger ends the pass; ANSWER the child. */
static int
on_pass_end(int sock, const struct frame *f, const struct proc_sink *s)
{
	struct fanswer fa;
	struct frame af;
	int r, again = 0;

	if (f->len != 0 || s->pass_end == NULL)
		return TD_ERR_FORMAT;
	if ((r = s->pass_end(s->arg, &again)) != 0)
		return r;
	memset(&fa, 0, sizeof(fa));
	fa.v.what = again ? LEDGER_AGAIN : LEDGER_NEW;
	memset(&af, 0, sizeof(af));
	af.type = F_ANSWER;
	af.len = (uint32_t)sizeof(fa);
	if ((r = td_write_all(sock, &af, sizeof(af))) == 0)
		r = td_write_all(sock, &fa, sizeof(fa));
	return r;
}

static int
on_frame(int sock, const struct frame *f, const char *p,
    const struct proc_sink *s, struct proc_result *res, int *done, int *rp)
{
	const char *end = p + f->len, *str[4];
	struct fbatch fb;
	struct freject fr;
	struct rejection rj;
	struct td_buf *b;
	uint64_t doc;
	size_t i, rawlen = 0;
	char *own[3];
	int r;

	switch (f->type) {
	case F_BATCH:
		if (f->len < sizeof(fb))
			return TD_ERR_FORMAT;
		memcpy(&fb, p, sizeof(fb));
		b = s->buffer(s->arg);
		if (td_buf_append(b, p + sizeof(fb), f->len - sizeof(fb)) != 0)
			return TD_ERR_LIMIT;
		return s->batch(s->arg, b, fb.nrec, &fb.bt);
	case F_REJECT:
		if (f->len < sizeof(fr))
			return TD_ERR_FORMAT;
		memcpy(&fr, p, sizeof(fr));
		p += sizeof(fr);
		for (i = 0; i < 4; i++)
			if (take(&p, end, fr.len[i], &str[i], i == 3 ?
			    &rawlen : NULL) != 0)
				return TD_ERR_FORMAT;
		memset(&rj, 0, sizeof(rj));
		rj.tier = fr.tier;
		rj.line = fr.line;
		rj.code = str[0] != NULL ? intern(str[0], fr.len[0]) : "unknown";
		rj.message = own[0] = dupn(str[1], fr.len[1] == NOSTR ? 0 :
		    fr.len[1]);
		rj.member = own[1] = dupn(str[2], fr.len[2] == NOSTR ? 0 :
		    fr.len[2]);
		rj.raw = str[3];
		rj.rawlen = rawlen;
		own[2] = NULL;
		r = s->reject(s->arg, &rj);
		for (i = 0; i < 3; i++)
			x_free(own[i]);
		return r;
	case F_RESET:
		if (f->len != sizeof(doc))
			return TD_ERR_FORMAT;
		memcpy(&doc, p, sizeof(doc));
		return s->reset(s->arg, (size_t)doc);
	case F_LEDGER:
		return on_ledger(sock, f, p, s);
	case F_PASSEND:
		return on_pass_end(sock, f, s);
	case F_RESULT:
		*done = 1;
		return on_result(p, end, res, rp);
	}
	return TD_ERR_FORMAT;
}

int
sandbox_process_file(struct mapper *m, const struct td_conf *cf, int fd,
    const struct proc_opts *o, const struct proc_sink *s,
    struct proc_result *res)
{
	struct frame f;
	char *p = NULL;
	size_t cap = 0;
	int sv[2], status, done = 0, r = TD_OK, rr = TD_OK;
	pid_t pid;

	/*
	 * X12 builds its 997s (struct ack_group) while it parses, and they
	 * do not cross to the caller yet: an X12 file is parsed here, not
	 * in a child (tradedrop(8), THE PARSER SANDBOX).
	 */
	if (td_conf_enum_is(cf, TDK_parse_format, "x12"))
		return process_file(m, cf, fd, o, s, res);
	/*
	 * The Tier 4 ledger answers each record over the socket: correct,
	 * but a round trip a record (about 40 us of system time) makes a
	 * large file several times slower. Until the ledger's questions go
	 * a batch at a time, a file with a ledger is parsed here.
	 */
	if (s->ledger != NULL && getenv("TD_SANDBOX_LEDGER") == NULL)
		return process_file(m, cf, fd, o, s, res);
	memset(res, 0, sizeof(*res));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return TD_ERR_IO;
	if ((pid = fork()) < 0) {
		close(sv[0]);
		close(sv[1]);
		return TD_ERR_IO;
	}
	if (pid == 0) {
		close(sv[0]);
		child_main(m, cf, fd, sv[1], o, s->ledger != NULL);
	}
	close(sv[1]);
	while (!done && r == TD_OK) {
		if ((r = read_full(sv[0], &f, sizeof(f))) != 0)
			break;
		if (f.len > FRAME_MAX) {
			r = TD_ERR_FORMAT;
			break;
		}
		if (f.len > cap) {
			cap = f.len;
			p = xrealloc(p, cap);
		}
		if ((r = read_full(sv[0], p, f.len)) != 0)
			break;
		r = on_frame(sv[0], &f, p, s, res, &done, &rr);
	}
	x_free(p);
	close(sv[0]);
	if (!done)
		(void)kill(pid, SIGKILL);	/* a sink failed, or it died */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (done)
		return rr;
	if (r == TD_ERR_NOTFOUND || r == TD_ERR_FORMAT) {
		/* it died without a result: that file fails, as Tier 2 */
		proc_result_clear(res);
		res->t2code = "parser_crashed";
		snprintf(res->t2msg, sizeof(res->t2msg), "the parser process "
		    "ended before it finished: %s %d", WIFSIGNALED(status) ?
		    "signal" : "exit status", WIFSIGNALED(status) ?
		    WTERMSIG(status) : WEXITSTATUS(status));
		td_log(TD_LOG_ERROR, "parser_crashed", "file=%s "
		    "transmission_id=%s %s=%d", o->file, o->transmission_id,
		    WIFSIGNALED(status) ? "signal" : "exit",
		    WIFSIGNALED(status) ? WTERMSIG(status) :
		    WEXITSTATUS(status));
		return TD_OK;
	}
	return r;
}
