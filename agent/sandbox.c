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
 *   LEDGER  a window of mapped records for the Tier 4 ledger (each
 *           one's ids, values' hash, quantity and amount; not its
 *           line): the caller, which holds state.db, answers VERDICTS,
 *           each record's verdict, quantity, amount and values' hash,
 *           and what to do to its line (the sums of a key's rows,
 *           restates). The child maps the next window meanwhile, and
 *           reads the answer before it sends anything else, so that
 *           neither side writes while the other does (process.h,
 *           ledger_ask)
 *   HOLDS   right after VERDICTS, the lines of the restatements held,
 *           for the caller to keep (no answer)
 *   ACK     format = x12: a functional group's 997 (ack_group_pack)
 *   PASSEND a pass over the file is over: the caller's ledger answers
 *           ANSWER, its verdict LEDGER_AGAIN when the file is to be
 *           read again (a key on two of its rows)
 *   RESULT  process_file()'s return and its proc_result
 *
 * The caller answers nothing else: a failing sink, like a crash, ends
 * the child (the caller kills it). A child that ends without a RESULT
 * crashed: the file is refused as Tier 2 parser_crashed.
 *
 * A child of a small file (below CHILD_THREADS_MIN) that sent its RESULT
 * may be given the next small file of the same intake job (NEXT, from
 * the caller: the file's name and transmission id, its descriptor by
 * SCM_RIGHTS), up to [parse] child_files files, and only one of the
 * same signer (proc_opts.signer): forking, confining and ending a child cost more
 * than a small file's parsing. Such a child is confined with RLIMIT_NOFILE
 * CHILD_FILE + 1, not 0, and its allow-list has recvmsg(2) on its socket
 * and dup3(2) onto CHILD_FILE, no more: it can hold no descriptor but
 * 0 to CHILD_FILE, and receive only what the caller sends it. The caller
 * ends it (sandbox_release) when the job ends; a crash, a limit hit, a
 * protocol fault or a failing sink ends it as before, and fails only the
 * file it was working on.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "ack.h"
#include "buf.h"
#include "conf.h"
#include "log.h"
#include "map.h"
#include "ledger.h"
#include "failpoint.h"
#include "fsutil.h"
#include "process.h"
#include "sandbox.h"
#include "x12.h"

#define F_BATCH		1
#define F_REJECT	2
#define F_RESET		3
#define F_RESULT	4
#define F_LEDGER	5
#define F_ANSWER	6
#define F_PASSEND	7
#define F_VERDICTS	8
#define F_ACK		9
#define F_HOLDS		10
#define F_NEXT		11	/* the caller's: a reused child's next file */
#define NOSTR		UINT32_MAX
#define COUNTS_MAX	256		/* codes in a result's counts */
#define FRAME_MAX	(1U << 30)	/* of any type (see proto_init) */
#define SB_NAME_MAX	4096		/* unpack.c's longest member path */
#define SB_CODE_MAX	47		/* a code (word_ok) */
#define SB_MSG_MAX	(1 << 16)	/* a rejection's message */
#define SB_DETAIL_MAX	(1 << 20)	/* a Tier 2 detail (header_detail) */
#define SB_STAMP	256		/* what a verdict adds to a line */
#define SB_ISA_MAX	128		/* an ISA segment (x12.c ISA_LEN) */
#define SB_GS_MIN	8		/* "GS" and 8 separators, at least */
#define CHILD_AS	(8ULL << 30)	/* RLIMIT_AS of the child */
#define CHILD_SOCK	3		/* the child's socket, */
#define CHILD_FILE	4		/* and the raw file */
#define CHILD_IDLE	600		/* seconds the child may stay silent */
#define CHILD_THREADS_MIN (256 << 10)	/* a raw file this big is mapped on
					 * every core (proc_threads_start), and
					 * its batches go through SHM slots */
/*
 * A big file's batches go to the caller through shared memory, not the
 * socket: a memfd the caller makes (sealed at its size), mapped by both,
 * a page of slot states (futex words: 0 free, 1 the child's batch in
 * it), then SHM_SLOTS slots. The child copies a batch into a free slot
 * and sends a BATCH frame that names it; the caller copies it out at
 * once (what it then uses is its own copy: the child could write the
 * slot meanwhile) and frees the slot. A batch bigger than a slot goes
 * through the socket as a small file's do.
 */
#define SHM_SLOTS	2
#define SHM_SLOT_MAX	((size_t)256 << 20)	/* bigger (max_field): no SHM */
#define SHM_SLOT	shm_slot	/* shm_slot_set: pages used as touched */
#define SHM_HDR		((size_t)4096)
/* then a LEDGER frame's records: one window asked at a time (the child
 * reads its VERDICTS before it asks the next), no slot state needed */
#define SHM_LEDGER	(SHM_HDR + SHM_SLOTS * SHM_SLOT)
#define SHM_SIZE	(SHM_LEDGER + PROC_WIN_ROWS * sizeof(struct fledger))

struct frame {
	uint32_t	 type;
	uint32_t	 len;
};

static long	idle_limit(void);
static uint64_t	line_max(const struct td_conf *, const struct mapper *);

/*
 * An SHM slot holds any batch an honest child makes (the most a BATCH
 * frame may carry, proto_init): the child builds each batch in its
 * slot, which never grows. The same for the caller and the child, of
 * the same configuration.
 */
static size_t	shm_slot;

static void
shm_slot_set(const struct td_conf *cf, const struct mapper *m)
{
	shm_slot = (PROC_BATCH_BYTES + line_max(cf, m) + 4095) &
	    ~(size_t)4095;
}

/* LEDGER: a count (uint32_t), then this for each record */
struct fledger {
	unsigned char	 id[16], key[16], values[16];
	struct td_dec	 quantity, amount;
	int32_t		 has_amount;
	uint32_t	 kday;
};

/*
 * VERDICTS: for each record of the LEDGER frame a byte: 1 + its verdict
 * when that is all there is to say (nothing to patch or hold, the
 * record's quantity, amount and values as sent: most records), or 0
 * followed by this, then its message (LEDGER_IN_FILE). The child does
 * to the line what it says: the sums, restates; a held one's line goes
 * back in a HOLDS frame.
 */
struct fverdict {
	int32_t		 what;
	int32_t		 has_amount;
	int32_t		 sum, anull, hold;
	uint32_t	 msglen;
	struct td_dec	 quantity, amount;
	unsigned char	 values[16];
	char		 restates[TD_ID_HEX];
	char		 q[TD_DEC_STRMAX], a[TD_DEC_STRMAX];
};

/* HOLDS: a count (uint32_t), then for each held record this, its line */
struct fhold {
	unsigned char	 id[16], key[16], values[16];
	struct td_dec	 quantity, amount;
	int32_t		 has_amount;
	uint32_t	 len;
	uint32_t	 kday;
	char		 restates[TD_ID_HEX];
};

/* ANSWER (of PASSEND) */
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
	uint64_t	 bytes;		/* inslot: the batch's, in the slot */
	uint32_t	 inslot;	/* 1: in SHM slot `slot`, not after */
	uint32_t	 slot;
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

/* close_range(2) around the descriptors in keep: 0, or -1 (none) */
static int
close_around(const int *keep, size_t nkeep)
{
	unsigned int lo = 3, k;
	size_t i;
	int min;

	for (;;) {
		/* the smallest kept descriptor at or above lo */
		min = -1;
		for (i = 0; i < nkeep; i++)
			if (keep[i] >= (int)lo && (min == -1 || keep[i] < min))
				min = keep[i];
		k = min == -1 ? ~0U : (unsigned int)min - 1;
		if (k >= lo && close_range(lo, k, 0) != 0)
			return -1;
		if (min == -1)
			return 0;
		lo = (unsigned int)min + 1;
	}
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

	if (close_around(keep, nkeep) == 0)
		return;
	if ((d = opendir("/proc/self/fd")) == NULL) {
		/* no close_range, no /proc: every number, failing closed */
		struct rlimit rl;
		rlim_t top = 1 << 20;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < top)
			top = rl.rlim_cur;
		for (fd = 3; (rlim_t)fd < top; fd++) {
			for (k = 0; k < nkeep && keep[k] != fd; k++)
				;
			if (k == nkeep)
				(void)close(fd);
		}
		return;
	}
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

/*
 * A decimal into a frame: its value and scale only. A struct td_dec has
 * 12 bytes of padding after its scale that a struct copy carries as they
 * are, uninitialised where the decimal was made (valgrind: write(2) of
 * uninitialised bytes in LEDGER); a frame is zeroed, then given these.
 */
static void
dec_put(struct td_dec *dst, const struct td_dec *src)
{
	dst->v = src->v;
	dst->scale = src->scale;
}

/* ---------------------------------------------------------------- child */

struct child {
	int		 sock;
	unsigned char	*shm;		/* the SHM slots, or NULL */
	uint32_t	 next;		/* the slot the next batch takes */
	struct td_buf	 slot;		/* a batch built in slot next */
	struct td_buf	 buf;
	struct td_buf	 out;
	struct td_buf	 in;		/* VERDICTS */
	struct td_buf	 line;		/* a line patched */
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

static struct td_buf *	c_slot_buffer(struct child *);

static struct td_buf *
c_buffer(void *arg)
{
	struct child *c = arg;

	if (c->shm != NULL)
		return c_slot_buffer(c);
	td_buf_reset(&c->buf);
	return &c->buf;
}

/* The child's SHM slots (also for test-sandbox's hostile parser). */
static unsigned char *child_shm;

/* The slot states, futex words shared with the caller. */
static uint32_t *
shm_state(unsigned char *shm, uint32_t k)
{
	return (uint32_t *)(void *)(shm + k * sizeof(uint32_t));
}

/*
 * The next batch's buffer: slot next, once the caller has freed it (a
 * buffer that never grows: a slot holds the biggest batch). Waiting
 * longer than the idle limit, the child gives up: a buffer of no room,
 * which fails the first record (TD_ERR_LIMIT).
 */
static struct td_buf *
c_slot_buffer(struct child *c)
{
	uint32_t *st = shm_state(c->shm, c->next);
	struct timespec ts;

	ts.tv_sec = idle_limit();
	ts.tv_nsec = 0;
	memset(&c->slot, 0, sizeof(c->slot));
	c->slot.p = (char *)(c->shm + SHM_HDR + c->next * SHM_SLOT);
	while (__atomic_load_n(st, __ATOMIC_ACQUIRE) != 0)
		if (syscall(SYS_futex, st, FUTEX_WAIT, 1, &ts, NULL, 0) != 0 &&
		    errno == ETIMEDOUT)
			return &c->slot;
	c->slot.cap = c->slot.max = SHM_SLOT - 1;
	return &c->slot;
}

/* The batch built in slot next: its frame, the slot the caller's. */
static int
c_batch_slot(struct child *c, struct td_buf *b, struct fbatch *fb)
{
	uint32_t *st = shm_state(c->shm, c->next);
	struct frame f;

	__atomic_store_n(st, 1, __ATOMIC_RELEASE);
	fb->bytes = b->len;
	fb->inslot = 1;
	fb->slot = c->next;
	c->next = (c->next + 1) % SHM_SLOTS;
	frame_start(c);
	td_buf_append(&c->out, fb, sizeof(*fb));
	f.type = F_BATCH;
	f.len = (uint32_t)sizeof(*fb);
	memcpy(c->out.p, &f, sizeof(f));
	if (td_write_all(c->sock, c->out.p, c->out.len) != 0)
		return TD_ERR_IO;
	td_buf_reset(&c->out);
	return TD_OK;
}

static int
c_batch(void *arg, struct td_buf *b, uint64_t nrec,
    const struct batch_totals *bt)
{
	struct child *c = arg;
	struct fbatch fb;

	struct frame f;
	int r;

	memset(&fb, 0, sizeof(fb));
	fb.nrec = nrec;
	dec_put(&fb.bt.quantity, &bt->quantity);
	dec_put(&fb.bt.amount, &bt->amount);
	fb.bt.has_amount = bt->has_amount;
	if (b == &c->slot)
		return c_batch_slot(c, b, &fb);
	frame_start(c);
	td_buf_append(&c->out, &fb, sizeof(fb));
	/* the batch itself is written from where it is, not copied */
	f.type = F_BATCH;
	f.len = (uint32_t)(sizeof(fb) + b->len);
	memcpy(c->out.p, &f, sizeof(f));
	if ((r = td_write_all(c->sock, c->out.p, c->out.len)) != 0 ||
	    (r = td_write_all(c->sock, b->p, b->len)) != 0)
		return TD_ERR_IO;
	td_buf_reset(&c->out);
	return TD_OK;
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
c_reset(void *arg, size_t doc, int mixed)
{
	struct child *c = arg;
	uint64_t d[2] = { doc, mixed != 0 };

	frame_start(c);
	td_buf_append(&c->out, d, sizeof(d));
	return put_frame(c, F_RESET);
}

/* Tier 4: a window of records to the caller, which holds the ledger. */
static int
c_ledger_ask(void *arg, struct ledger_item *const *it, size_t n,
    const struct td_buf *stage)
{
	struct child *c = arg;
	struct fledger fl;
	uint32_t k = (uint32_t)n;
	size_t i;

	(void)stage;		/* the lines stay here, in their bufs */
	frame_start(c);
	td_buf_append(&c->out, &k, sizeof(k));
	for (i = 0; i < n; i++) {
		memset(&fl, 0, sizeof(fl));
		memcpy(fl.id, it[i]->record_id, sizeof(fl.id));
		memcpy(fl.key, it[i]->record_key, sizeof(fl.key));
		memcpy(fl.values, it[i]->values, sizeof(fl.values));
		fl.kday = it[i]->kday;
		dec_put(&fl.quantity, &it[i]->quantity);
		dec_put(&fl.amount, &it[i]->amount);
		fl.has_amount = it[i]->has_amount;
		/* a big file's in the SHM ledger area, the frame its count */
		if (c->shm != NULL && n <= PROC_WIN_ROWS)
			memcpy(c->shm + SHM_LEDGER + i * sizeof(fl), &fl,
			    sizeof(fl));
		else
			td_buf_append(&c->out, &fl, sizeof(fl));
	}
	return put_frame(c, F_LEDGER);
}

/*
 * What the verdict says to do to the item's line: done on a copy in
 * c->line, appended to stage (the item's buf from then on). 0, or
 * TD_ERR_LIMIT.
 */
static int
c_patch(struct child *c, struct ledger_item *it, const struct fverdict *fv,
    struct td_buf *stage)
{
	int r = TD_OK;

	if (!fv->sum && fv->what != LEDGER_FORWARD)
		return TD_OK;
	td_buf_reset(&c->line);
	if (td_buf_append(&c->line, it->buf->p + it->off, it->len) != 0)
		return TD_ERR_LIMIT;
	if (fv->sum)
		r = ledger_patch_sums(&c->line, 0, fv->q, fv->anull ? NULL :
		    fv->a);
	if (r == TD_OK && fv->what == LEDGER_FORWARD)
		r = ledger_patch_restates(&c->line, 0, fv->restates);
	if (r != TD_OK)
		return r;
	it->buf = stage;
	it->off = stage->len;
	it->len = c->line.len;
	return td_buf_append(stage, c->line.p, c->line.len);
}

/* Tier 4: the caller's verdicts on the window asked; HOLDS back. */
static int
c_ledger_collect(void *arg, struct ledger_item *const *it, size_t n,
    struct td_buf *stage)
{
	struct child *c = arg;
	struct fverdict fv;
	struct fhold fh;
	struct frame f;
	const char *p, *end;
	unsigned char tag;
	uint32_t nh = 0;
	size_t i;
	int r;

	if ((r = read_full(c->sock, &f, sizeof(f))) != 0)
		return r;
	if (f.type != F_VERDICTS || f.len > FRAME_MAX)
		return TD_ERR_FORMAT;
	td_buf_reset(&c->in);
	if (td_buf_reserve(&c->in, f.len) != 0)
		return TD_ERR_LIMIT;
	if ((r = read_full(c->sock, c->in.p, f.len)) != 0)
		return r;
	p = c->in.p;
	end = p + f.len;
	frame_start(c);		/* HOLDS */
	td_buf_append(&c->out, &nh, sizeof(nh));
	for (i = 0; i < n; i++) {
		if (p >= end)
			return TD_ERR_FORMAT;
		if ((tag = (unsigned char)*p++) != 0) {
			/* the verdict alone: the line as it is */
			if (tag - 1 == LEDGER_FORWARD ||
			    tag - 1 == LEDGER_IN_FILE)
				return TD_ERR_FORMAT;
			/* what process.c reads of it (the message is for
			 * IN_FILE only), not all its 400 bytes: they were most
			 * of the cache lines a window's row touched */
			it[i]->v.what = tag - 1;
			it[i]->v.restates[0] = '\0';
			it[i]->v.msg[0] = '\0';
			continue;
		}
		if ((size_t)(end - p) < sizeof(fv))
			return TD_ERR_FORMAT;
		memcpy(&fv, p, sizeof(fv));
		p += sizeof(fv);
		if (fv.msglen >= sizeof(it[i]->v.msg) ||
		    (size_t)(end - p) < fv.msglen ||
		    memchr(fv.q, '\0', sizeof(fv.q)) == NULL ||
		    memchr(fv.a, '\0', sizeof(fv.a)) == NULL ||
		    memchr(fv.restates, '\0', sizeof(fv.restates)) == NULL)
			return TD_ERR_FORMAT;
		memset(&it[i]->v, 0, sizeof(it[i]->v));
		it[i]->v.what = fv.what;
		memcpy(it[i]->v.msg, p, fv.msglen);
		p += fv.msglen;
		it[i]->quantity = fv.quantity;
		it[i]->amount = fv.amount;
		it[i]->has_amount = fv.has_amount;
		memcpy(it[i]->values, fv.values, sizeof(fv.values));
		if ((r = c_patch(c, it[i], &fv, stage)) != 0)
			return r;
		if (!fv.hold)
			continue;
		memset(&fh, 0, sizeof(fh));
		memcpy(fh.id, it[i]->record_id, sizeof(fh.id));
		memcpy(fh.key, it[i]->record_key, sizeof(fh.key));
		memcpy(fh.values, it[i]->values, sizeof(fh.values));
		fh.kday = it[i]->kday;
		dec_put(&fh.quantity, &it[i]->quantity);
		dec_put(&fh.amount, &it[i]->amount);
		fh.has_amount = it[i]->has_amount;
		fh.len = (uint32_t)it[i]->len;
		memcpy(fh.restates, fv.restates, sizeof(fh.restates));
		td_buf_append(&c->out, &fh, sizeof(fh));
		td_buf_append(&c->out, it[i]->buf->p + it[i]->off,
		    it[i]->len);
		nh++;
	}
	if (p != end)
		return TD_ERR_FORMAT;
	if (nh == 0)
		return TD_OK;
	memcpy(c->out.p + sizeof(f), &nh, sizeof(nh));
	return put_frame(c, F_HOLDS);
}

/* format = x12: a group's 997 to the caller. */
static int
c_ack(void *arg, struct ack_group *g)
{
	struct child *c = arg;

	frame_start(c);
	ack_group_pack(g, &c->out);
	ack_group_free(g);
	return put_frame(c, F_ACK);
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

/* Counts by code: a count, then length, code and n each. */
static void
put_counts(struct td_buf *b, const struct rej_counts *rc)
{
	uint64_t n = rc->n, k;
	uint32_t l;
	size_t i;

	td_buf_append(b, &n, sizeof(n));
	for (i = 0; i < rc->n; i++) {
		l = (uint32_t)strlen(rc->v[i].code);
		k = rc->v[i].n;
		td_buf_append(b, &l, sizeof(l));
		td_buf_append(b, rc->v[i].code, l);
		td_buf_append(b, &k, sizeof(k));
	}
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
	/* our pointers are nothing to the caller: none of them is sent */
	fr.res.by_code.v = fr.res.skipped.v = NULL;
	fr.res.acks = NULL;
	fr.res.docs = NULL;
	fr.res.t2code = NULL;
	fr.res.t2detail = NULL;
	fr.res.over = NULL;
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
		fd.doc.member = NULL;
		fd.doc.encoding = NULL;
		fd.lmember = slen(res->docs[i].member, res->docs[i].member ?
		    strlen(res->docs[i].member) : 0);
		fd.lenc = slen(res->docs[i].encoding, res->docs[i].encoding ?
		    strlen(res->docs[i].encoding) : 0);
		td_buf_append(&c->out, &fd, sizeof(fd));
		put_str(&c->out, res->docs[i].member, fd.lmember);
		put_str(&c->out, res->docs[i].encoding, fd.lenc);
	}
	/* the rejections by code, then the skipped X12 activities by code */
	put_counts(&c->out, &res->by_code);
	put_counts(&c->out, &res->skipped);
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

#ifdef HAVE_LIBSECCOMP
/*
 * The allow-list: only what parsing needs; writes only to the socket,
 * stderr and afd (ASan's report, or -1). A sanitizer build also lets
 * ASan's runtime do what it must: ask sigaltstack(2) before every call
 * that does not return (_exit), and write its report (asan_report_fd).
 */
static scmp_filter_ctx
filter_new(int sock, int afd)
{
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

	if ((ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM))) == NULL)
		return NULL;
	for (i = 0; i < TD_NELEM(allow) && r == 0; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allow[i], 0);
	/*
	 * A reused child's next file (c_next): received on the socket, put
	 * at CHILD_FILE. What it can receive is only what the caller sends,
	 * and where, only below its RLIMIT_NOFILE (0 unless reused).
	 */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(recvmsg), 1,
		    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)sock));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(dup3), 1,
		    SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)CHILD_FILE));
#ifdef SB_ASAN
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sigaltstack),
		    0);
	/* and test_hook's crash of a kept child, confined already, a
	 * SIGSEGV of its own and not a report of ASan's (make check-asan
	 * fails on any report): a sanitizer build's only */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(rt_sigaction),
		    0);
#endif
	if (afd >= 0)
		wfd[nwfd++] = afd;
	for (i = 0; i < TD_NELEM(writes) && r == 0; i++)
		for (j = 0; j < nwfd && r == 0; j++)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, writes[i], 1,
			    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)wfd[j]));
	if (r != 0) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

#ifndef SB_ASAN
/*
 * The allow-list for a child's socket at CHILD_SOCK, as a BPF program
 * made once, by the zygote: compiling it (libseccomp) cost more than a
 * small file's parsing. NULL when it cannot be made: each child then
 * makes its own. (A sanitizer build's children make their own: each
 * names its own report file.)
 */
static struct sock_fprog *
filter_compile(void)
{
	static struct sock_fprog prog;
	scmp_filter_ctx ctx;
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;
	int pfd[2], r;

	if ((ctx = filter_new(CHILD_SOCK, -1)) == NULL)
		return NULL;
	if (pipe(pfd) != 0) {
		seccomp_release(ctx);
		return NULL;
	}
	/* a program of a few hundred instructions: less than a pipe holds */
	r = seccomp_export_bpf(ctx, pfd[1]);
	close(pfd[1]);
	seccomp_release(ctx);
	while (r == 0) {
		if (len == cap) {
			cap = cap == 0 ? 4096 : cap * 2;
			buf = xrealloc(buf, cap);
		}
		if ((n = read(pfd[0], buf + len, cap - len)) < 0 &&
		    errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(pfd[0]);
	if (r != 0 || len == 0 || len % sizeof(struct sock_filter) != 0 ||
	    len / sizeof(struct sock_filter) > USHRT_MAX) {
		x_free(buf);
		return NULL;
	}
	prog.len = (unsigned short)(len / sizeof(struct sock_filter));
	prog.filter = (struct sock_filter *)(void *)buf;
	return &prog;
}
#endif /* !SB_ASAN */
#endif

/*
 * Confine the child: no core, no new descriptor (one that may be reused:
 * none above CHILD_FILE, see c_next), bounded memory, no new privileges,
 * and the allow-list (prog, made by the zygote, or made here when NULL).
 */
static int
confine(int sock, const struct sock_fprog *prog, int reuse)
{
	struct rlimit rl;
	int afd = -1;		/* ASan's report file */
#ifdef HAVE_LIBSECCOMP
	scmp_filter_ctx ctx;
	int r;
#endif

#ifdef SB_ASAN
	afd = asan_report_fd();		/* before RLIMIT_NOFILE */
#endif
	memset(&rl, 0, sizeof(rl));
	(void)setrlimit(RLIMIT_CORE, &rl);	/* no core of a crash */
	if (reuse)
		rl.rlim_cur = rl.rlim_max = CHILD_FILE + 1;
	(void)setrlimit(RLIMIT_NOFILE, &rl);	/* no new descriptor */
	rl.rlim_cur = rl.rlim_max = 0;
#ifndef SB_ASAN
	rl.rlim_cur = rl.rlim_max = CHILD_AS;	/* a decompression bomb */
	(void)setrlimit(RLIMIT_AS, &rl);
#endif
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return TD_ERR_IO;
#ifdef HAVE_LIBSECCOMP
	/* every thread of the child (its mapping threads), or none */
	if (prog != NULL && afd < 0 && sock == CHILD_SOCK)
		return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		    SECCOMP_FILTER_FLAG_TSYNC, prog) == 0 ? TD_OK : TD_ERR_IO;
	if ((ctx = filter_new(sock, afd)) == NULL)
		return TD_ERR_IO;
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r != 0)
		return TD_ERR_IO;
#else
	(void)sock;
	(void)afd;
	(void)prog;
#endif
	return TD_OK;
}

/* thread-socket: what a mapping thread may do */
static void
hook_socket(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	td_log(TD_LOG_WARN, "test_hook", "hook=thread-socket result=%s "
	    "error=%s", fd >= 0 ? "allowed" : "refused",
	    fd >= 0 ? "none" : strerror(errno));
}

/*
 * A test hook, as td_failpoint(): TD_TEST_PARSER=HOOK:FILE does HOOK in
 * the child that parses FILE. segv and kill crash it before it is
 * confined (a reused child, confined already, cannot signal itself: it
 * dies of a SIGSEGV, a real one, for both); socket and write:PATH try
 * what the sandbox forbids, after, and log whether that was refused.
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
	if (!when_confined && (strncmp(e, "segv:", 5) == 0 ||
	    strncmp(e, "kill:", 5) == 0)) {
		/* still here: refused by seccomp (a kept child's). A store
		 * to page 0, not through NULL: UBSan (check-asan) stops a
		 * NULL store itself, exit 1, before the fault */
		volatile int *volatile np = (volatile int *)(uintptr_t)16;

		signal(SIGSEGV, SIG_DFL);	/* ASan's: see filter_new */
		*np = 1;
	}
	if (when_confined && strncmp(e, "socket:", 7) == 0) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		td_log(TD_LOG_WARN, "test_hook", "hook=socket result=%s "
		    "error=%s", fd >= 0 ? "allowed" : "refused",
		    fd >= 0 ? "none" : strerror(errno));
	}
	if (when_confined && strncmp(e, "thread-socket:", 14) == 0)
		td_log(TD_LOG_WARN, "test_hook", "hook=thread-socket "
		    "threads=%d", proc_threads_each(hook_socket));
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

/* A message to or from the zygote: a request or a word, and room for
 * two descriptors. */
struct zmsg {
	struct msghdr	 mh;
	struct iovec	 iov;
	union {
		char		 buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr	 align;
	} cb;
};

static void
zmsg_init(struct zmsg *z, void *p, size_t n)
{
	memset(z, 0, sizeof(*z));
	z->iov.iov_base = p;
	z->iov.iov_len = n;
	z->mh.msg_iov = &z->iov;
	z->mh.msg_iovlen = 1;
	z->mh.msg_control = z->cb.buf;
	z->mh.msg_controllen = sizeof(z->cb.buf);
}

/* The n descriptors (at most two) a message to send carries. */
static void
zmsg_fds(struct zmsg *z, const int *fds, size_t n)
{
	struct cmsghdr *cm;

	if (n == 0) {
		z->mh.msg_control = NULL;
		z->mh.msg_controllen = 0;
		return;
	}
	z->mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
	cm = CMSG_FIRSTHDR(&z->mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
}

/*
 * The SHM slots' memfd, the first thing the caller sends when it said
 * it would (zreq.shm), mapped: NULL when it is not what it should be.
 */
static unsigned char *
shm_recv(int sock)
{
	struct zmsg z;
	struct cmsghdr *cm;
	struct stat st;
	unsigned char *p;
	char one;
	ssize_t n;
	int fd;

	do
		zmsg_init(&z, &one, 1);
	while ((n = recvmsg(sock, &z.mh, MSG_CMSG_CLOEXEC)) < 0 &&
	    errno == EINTR);
	cm = CMSG_FIRSTHDR(&z.mh);
	if (n != 1 || cm == NULL || cm->cmsg_level != SOL_SOCKET ||
	    cm->cmsg_type != SCM_RIGHTS ||
	    cm->cmsg_len != CMSG_LEN(sizeof(int)))
		return NULL;
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	p = MAP_FAILED;
	if (fstat(fd, &st) == 0 && (size_t)st.st_size == SHM_SIZE)
		p = mmap(NULL, SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		    fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

/* NEXT: a reused child's next file; its descriptor comes with it */
struct fnext {
	char		 tid[72];
	char		 file[1024];
};

/* The child's buffers, emptied and freed between two files. */
static void
child_bufs(struct child *c, int init)
{
	if (!init) {
		td_buf_free(&c->buf);
		td_buf_free(&c->out);
		td_buf_free(&c->in);
		td_buf_free(&c->line);
	}
	td_buf_init(&c->buf, 0, 0);
	td_buf_init(&c->out, 65536, 0);
	td_buf_init(&c->in, 0, 0);
	td_buf_init(&c->line, 0, 0);
}

/*
 * A reused child waits for its next file: NEXT from the caller, the
 * file's descriptor with it, put at CHILD_FILE (the one before closed:
 * with RLIMIT_NOFILE at CHILD_FILE + 1, that is where it lands unless 0
 * to 2 were closed). 0, or -1: the caller is done with this child, or
 * sent what it never sends (then it ends).
 */
static int
c_next(struct child *c, struct fnext *nx)
{
	struct {
		struct frame	 f;
		struct fnext	 n;
	} msg;
	struct zmsg z;
	struct cmsghdr *cm;
	ssize_t n;
	int fd = -1;

	close(CHILD_FILE);
	do
		zmsg_init(&z, &msg, sizeof(msg));
	while ((n = recvmsg(c->sock, &z.mh, MSG_CMSG_CLOEXEC)) < 0 &&
	    errno == EINTR);
	cm = n > 0 ? CMSG_FIRSTHDR(&z.mh) : NULL;
	if (cm != NULL && cm->cmsg_level == SOL_SOCKET &&
	    cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	if (n <= 0 || fd < 0 || (z.mh.msg_flags & MSG_CTRUNC) ||
	    ((size_t)n < sizeof(msg) && read_full(c->sock, (char *)&msg + n,
	    sizeof(msg) - (size_t)n) != 0) || msg.f.type != F_NEXT ||
	    msg.f.len != sizeof(msg.n))
		return -1;
	if (fd != CHILD_FILE) {
		if (syscall(SYS_dup3, fd, CHILD_FILE, O_CLOEXEC) != CHILD_FILE)
			return -1;
		close(fd);
	}
	msg.n.tid[sizeof(msg.n.tid) - 1] = '\0';
	msg.n.file[sizeof(msg.n.file) - 1] = '\0';
	*nx = msg.n;
	return 0;
}

static void __attribute__((noreturn))
child_main(struct mapper *m, const struct td_conf *cf, int fd, int sock,
    const struct proc_opts *oin, int ledger, int shm, int reuse,
    const struct sock_fprog *prog)
{
	struct child c;
	struct proc_sink s;
	struct proc_result res;
	struct proc_opts o = *oin;
	struct fnext nx;
	struct stat st;
	int keep[2], r, hs, hf, nfiles;

	/*
	 * The socket at CHILD_SOCK and the file at CHILD_FILE, the rest
	 * closed: the allow-list made once names the socket by number.
	 */
	if ((hs = fcntl(sock, F_DUPFD, CHILD_FILE + 1)) < 0 ||
	    (hf = fcntl(fd, F_DUPFD, CHILD_FILE + 1)) < 0 ||
	    dup2(hs, CHILD_SOCK) != CHILD_SOCK ||
	    dup2(hf, CHILD_FILE) != CHILD_FILE)
		_exit(3);
	sock = CHILD_SOCK;
	fd = CHILD_FILE;
	keep[0] = fd;
	keep[1] = sock;
	sandbox_close_fds(keep, 2);
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	test_hook(o.file, 0);
	memset(&c, 0, sizeof(c));
	c.sock = sock;
	child_bufs(&c, 1);
	/*
	 * A file of some size is mapped on every core: the threads are
	 * made now, as clone(2) is refused once confined, and are confined
	 * with this one (SECCOMP_FILTER_FLAG_TSYNC). A small file is not
	 * worth them.
	 */
	if (ledger && fstat(fd, &st) == 0 && st.st_size >= CHILD_THREADS_MIN)
		td_log(TD_LOG_DEBUG, "parser_threads", "file=%s threads=%d "
		    "cpus=%ld", o.file, proc_threads_start(m,
		    (int)td_cpus()), td_cpus());
	shm_slot_set(cf, m);
	if (shm && (c.shm = shm_recv(sock)) == NULL)
		_exit(3);
	child_shm = c.shm;
	if (confine(sock, prog, reuse) != 0)
		_exit(3);
	test_hook(o.file, 1);
	memset(&s, 0, sizeof(s));
	s.buffer = c_buffer;
	s.batch = c_batch;
	s.reject = c_reject;
	s.reset = c_reset;
	s.ledger_ask = ledger ? c_ledger_ask : NULL;
	s.ledger_collect = ledger ? c_ledger_collect : NULL;
	s.ack = c_ack;
	s.pass_end = ledger ? c_pass_end : NULL;
	s.arg = &c;
	for (nfiles = 1;; nfiles++) {
		memset(&res, 0, sizeof(res));
		r = process_file(m, cf, fd, &o, &s, &res);
		c_result(&c, r, &res);
		if (!reuse || (uint64_t)nfiles >= td_conf_u64(cf,
		    TDK_parse_child_files))
			_exit(0);
		/* nothing of this file is left for the next but freed
		 * memory: a child serves files of one signer only */
		proc_result_clear(&res);
		child_bufs(&c, 0);
		if (c_next(&c, &nx) != 0)
			_exit(0);
		o.transmission_id = nx.tid;
		o.file = nx.file;
		test_hook(o.file, 0);
		test_hook(o.file, 1);
	}
}

/* --------------------------------------------------------------- parent */

/*
 * The strings of one file's frames that outlive them: codes and
 * encodings, which the caller keeps (a rejection's code, the result's)
 * until it is done with the file. They last until the next file begins,
 * not longer: nothing a child sent reaches another file's output, and
 * no child can fill a table the next ones need.
 */
#define INTERN_MAX	1024
static char	*interned[INTERN_MAX];
static size_t	 ninterned;

static void
intern_clear(void)
{
	size_t i;

	for (i = 0; i < ninterned; i++)
		x_free(interned[i]);
	ninterned = 0;
}

static const char *
intern(const char *p, uint32_t n)
{
	size_t i;

	for (i = 0; i < ninterned; i++)
		if (strlen(interned[i]) == n && memcmp(interned[i], p, n) == 0)
			return interned[i];
	if (ninterned == INTERN_MAX)
		return "unknown";
	interned[ninterned] = xmalloc(n + 1);
	memcpy(interned[ninterned], p, n);
	interned[ninterned][n] = '\0';
	return interned[ninterned++];
}

/*
 * A code or an encoding the child sent: 1 to 47 bytes of [A-Za-z0-9_-],
 * as every one the parser and the mapping use (X12 activity codes are
 * upper case); it is written into JSON and logs as it is.
 */
static int
word_ok(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || n >= sizeof(((struct rej_count *)NULL)->code))
		return 0;
	for (i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' &&
		    p[i] <= 'Z') || (p[i] >= '0' && p[i] <= '9') ||
		    p[i] == '_' || p[i] == '-'))
			return 0;
	return 1;
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
			/* the caller's SO_RCVTIMEO: the child is silent */
			return errno == EAGAIN || errno == EWOULDBLOCK ?
			    TD_ERR_AGAIN : TD_ERR_IO;
		}
		if (k == 0)
			return TD_ERR_NOTFOUND;	/* the child is gone */
		p += k;
		n -= (size_t)k;
	}
	return TD_OK;
}

/*
 * Write to the child: a child gone (EPIPE, the socket broken) is no
 * SIGPIPE of the caller's, and is what a child gone says while it is
 * read (TD_ERR_NOTFOUND: parser_crashed), not a local failure; one that
 * reads nothing for idle_limit() seconds, TD_ERR_AGAIN.
 */
static int
send_full(int sock, const void *buf, size_t n)
{
	const char *p = buf;
	ssize_t k;

	while (n > 0) {
		if ((k = send(sock, p, n, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			/* SO_SNDTIMEO: the child reads nothing */
			return errno == EAGAIN || errno == EWOULDBLOCK ?
			    TD_ERR_AGAIN : TD_ERR_NOTFOUND;
		}
		p += k;
		n -= (size_t)k;
	}
	return TD_OK;
}

/*
 * A decimal the child sent is one td_dec keeps (a scale of 0 to 18, at
 * most 36 digits): none other reaches the ledger, totals or state.db.
 */
static int
dec_ok(const struct td_dec *d)
{
	struct td_dec z;

	memset(&z, 0, sizeof(z));
	return td_dec_add(&z, d) == TD_OK;
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

/* Counts by code as put_counts() wrote them, into rc. */
static int
take_counts(const char **pp, const char *end, struct rej_counts *rc)
{
	const char *p = *pp;
	char code[sizeof(((struct rej_count *)NULL)->code)];
	uint64_t n, k, j;
	uint32_t l;

	if ((size_t)(end - p) < sizeof(n))
		return TD_ERR_FORMAT;
	memcpy(&n, p, sizeof(n));
	p += sizeof(n);
	/* codes are a fixed set: rej_counts_add is linear in them */
	if (n > COUNTS_MAX)
		return TD_ERR_FORMAT;
	for (j = 0; j < n; j++) {
		if ((size_t)(end - p) < sizeof(l))
			return TD_ERR_FORMAT;
		memcpy(&l, p, sizeof(l));
		p += sizeof(l);
		if ((size_t)(end - p) < (size_t)l + sizeof(k) ||
		    !word_ok(p, l))
			return TD_ERR_FORMAT;
		memcpy(code, p, l);
		code[l] = '\0';
		p += l;
		memcpy(&k, p, sizeof(k));
		p += sizeof(k);
		rej_counts_add(rc, code, k);
	}
	*pp = p;
	return TD_OK;
}

/* A NUL in the n bytes at s: a text the child sent ends in its array. */
static int
nul_in(const char *s, size_t n)
{
	return memchr(s, '\0', n) != NULL;
}

/*
 * A Tier 2 detail the child sent, which reason.json holds as it is: a
 * JSON object on one line (no control byte), or no detail.
 */
static int
detail_ok(const char *s, size_t n)
{
	size_t i;

	if (n < 2 || s[0] != '{' || s[n - 1] != '}')
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20)
			return 0;
	return 1;
}

/* The 997 groups the child sent (format = x12), in order. */
struct packs {
	struct ack_group **v;
	size_t		 n;
};

static void
packs_clear(struct packs *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		ack_group_free(a->v[i]);
	x_free(a->v);
	a->v = NULL;
	a->n = 0;
}

/*
 * What an honest child can send of one file, and what it has sent of the
 * pass it is in (a RESET starts one over): a child past a limit broke
 * the protocol, and the file is refused as parser_crashed, the frame and
 * the limit logged (fault), before the worker allocates or writes more.
 */
struct proto {
	uint64_t	 max[F_HOLDS + 1];	/* bytes of each frame type */
	uint64_t	 rows;		/* records, rejections and 997s a pass */
	uint64_t	 groups;	/* 997s a pass (each kept till the end) */
	uint64_t	 resets;
	uint64_t	 batch_records;
	int		 autoenc;	/* [decode] encoding = auto */
	/* the file's RESETs of a document: read again as windows-1252,
	 * and then as mixed UTF-8 (never more of these than of those) */
	uint64_t	 n1252, nmixed;
	/* this pass */
	uint64_t	 records, batches, rejects, acks_n, asked, passes;
	uint64_t	 nreset;
	uint32_t	 asked_last;	/* the LEDGER just answered: records */
	unsigned char	*shm;		/* the SHM slots, or NULL */
	struct packs	 acks;		/* the 997 groups, in order */
	/* the limit broken: frame, what, how many, and the limit */
	const char	*fframe, *fwhat, *flimit;
	uint64_t	 fn, fmax;
};

static const char *const frame_names[] = {
	"unknown", "BATCH", "REJECT", "RESET", "RESULT", "LEDGER", "ANSWER",
	"PASSEND", "VERDICTS", "ACK", "HOLDS"
};

static uint64_t
add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/*
 * The longest record line the mapping writes: each canonical field
 * (fewer than 16) at most max_field and what an expression adds (64), a
 * byte escaped in JSON six at most; what the mapping writes itself (its
 * constants, defaults, values tables and tables' values, which may be
 * longer than max_field: mapper_line_own); the file's and member's
 * names so, and the ids, dates and numbers around them.
 */
static uint64_t
line_max(const struct td_conf *cf, const struct mapper *m)
{
	uint64_t f = td_conf_u64(cf, TDK_parse_max_field) + 64;

	return 16 * 6 * f + (m != NULL ? mapper_line_own(m) : 0) +
	    6 * ((uint64_t)SB_NAME_MAX + PATH_MAX + 256) + 4096;
}

/*
 * Each frame type's most bytes, from what process_file() sends at most
 * (tradedrop(8), THE DAEMON); a file's most rows, from the bytes it can
 * hold: the raw file's and all unpack may expand (unpack_read() fails
 * before it gives a byte past max_bytes), one row per byte at
 * most (its line end), and one per document, a 997 per SB_GS_MIN bytes
 * (a functional group's GS segment at least); the most RESETs, two per
 * document (read again as windows-1252, then as mixed UTF-8) and the
 * ledger's second pass.
 */
static void
proto_init(struct proto *pr, const struct td_conf *cf,
    const struct mapper *m, int fd, const struct proc_opts *o)
{
	uint64_t line = line_max(cf, m), docs, raw, size = 0;
	struct stat sb;
	size_t i;

	memset(pr, 0, sizeof(*pr));
	docs = td_conf_u64(cf, TDK_unpack_max_members) + 1;
	raw = td_conf_u64(cf, TDK_parse_max_record) + X12_MAX_SEGMENT +
	    SB_ISA_MAX;
	pr->max[F_BATCH] = sizeof(struct fbatch) + PROC_BATCH_BYTES + line;
	pr->max[F_REJECT] = sizeof(struct freject) + SB_CODE_MAX +
	    SB_MSG_MAX + SB_NAME_MAX + raw;
	pr->max[F_RESET] = 2 * sizeof(uint64_t);
	pr->max[F_RESULT] = sizeof(struct fresult) + SB_CODE_MAX +
	    SB_DETAIL_MAX + docs * (sizeof(struct fdoc) + SB_NAME_MAX +
	    SB_CODE_MAX) + 2 * (sizeof(uint64_t) + COUNTS_MAX *
	    (sizeof(uint32_t) + SB_CODE_MAX + sizeof(uint64_t)));
	pr->max[F_LEDGER] = sizeof(uint32_t) + PROC_WIN_ROWS *
	    sizeof(struct fledger);
	pr->max[F_PASSEND] = 0;
	pr->max[F_ACK] = ack_group_packed_max();
	pr->max[F_HOLDS] = sizeof(uint32_t) + PROC_WIN_ROWS *
	    (sizeof(struct fhold) + SB_STAMP) + 2 * (PROC_WIN_BYTES + line);
	for (i = 0; i <= F_HOLDS; i++)
		if (pr->max[i] > FRAME_MAX)
			pr->max[i] = FRAME_MAX;
	if (fstat(fd, &sb) == 0 && sb.st_size > 0)
		size = (uint64_t)sb.st_size;
	pr->rows = add_sat(add_sat(size, td_conf_u64(cf,
	    TDK_unpack_max_bytes)), docs);
	pr->groups = pr->rows / SB_GS_MIN + 1;
	pr->resets = 2 * docs + 1;
	pr->autoenc = strcmp(td_conf_str(cf, TDK_decode_encoding), "auto") ==
	    0;
	pr->batch_records = o->batch_records;
}

/* The child broke a limit: noted, for the log; TD_ERR_FORMAT. */
static int
fault(struct proto *pr, uint32_t type, const char *what, uint64_t n,
    const char *limit, uint64_t max)
{
	pr->fframe = frame_names[type < sizeof(frame_names) /
	    sizeof(frame_names[0]) ? type : 0];
	pr->fwhat = what;
	pr->fn = n;
	pr->flimit = limit;
	pr->fmax = max;
	return TD_ERR_FORMAT;
}

/* n more rows (records, rejections, 997s) of the pass, of a frame. */
static int
rows_add(struct proto *pr, uint32_t type, uint64_t *count, uint64_t n)
{
	uint64_t rows;

	*count = add_sat(*count, n);
	rows = add_sat(add_sat(pr->records, pr->rejects), pr->acks_n);
	if (rows > pr->rows)
		return fault(pr, type, "rows", rows, "limit", pr->rows);
	return TD_OK;
}

/*
 * What a RESULT says against what came: its rejections and (a file not
 * refused) records and batches are those sent, its digest is one.
 */
static int
result_agrees(struct proto *pr, const struct proc_result *res, int r)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < 64 && res->raw_sha256[i] != '\0'; i++)
		if (!((res->raw_sha256[i] >= '0' && res->raw_sha256[i] <= '9') ||
		    (res->raw_sha256[i] >= 'a' && res->raw_sha256[i] <= 'f')))
			break;
	if ((i != 0 && (i != 64 || res->raw_sha256[i] != '\0')) ||
	    (i == 0 && r == TD_OK && res->t2code == NULL && !res->partial))
		return fault(pr, F_RESULT, "raw_sha256_len", i, "expected", 64);
	/* only encoding = auto reads a document as mixed, and as UTF-8
	 * (a false one would be logged as event=decode_mixed) */
	for (i = 0; i < res->ndocs; i++)
		if (res->docs[i].mixed != 0 && (res->docs[i].mixed != 1 ||
		    !pr->autoenc || strcmp(res->docs[i].encoding, "utf-8") !=
		    0))
			return fault(pr, F_RESULT, "mixed", i + 1,
			    "encoding_auto", (uint64_t)pr->autoenc);
	for (i = 0; i < res->by_code.n; i++)
		n = add_sat(n, res->by_code.v[i].n);
	if (r != TD_OK)
		return TD_OK;
	if (res->rejected != pr->rejects || n != pr->rejects)
		return fault(pr, F_RESULT, "rejected", res->rejected !=
		    pr->rejects ? res->rejected : n, "received", pr->rejects);
	if (res->t2code == NULL ? res->records != pr->records :
	    res->records < pr->records)
		return fault(pr, F_RESULT, "records", res->records, "received",
		    pr->records);
	if (res->t2code == NULL ? res->batches != pr->batches :
	    res->batches < pr->batches)
		return fault(pr, F_RESULT, "batches", res->batches, "received",
		    pr->batches);
	return TD_OK;
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
	/* its texts are read as C strings */
	if (!nul_in(fr.res.format, sizeof(fr.res.format)) ||
	    !nul_in(fr.res.first_date, sizeof(fr.res.first_date)) ||
	    !nul_in(fr.res.last_date, sizeof(fr.res.last_date)) ||
	    !nul_in(fr.res.t2msg, sizeof(fr.res.t2msg)) ||
	    !nul_in(fr.res.raw_sha256, sizeof(fr.res.raw_sha256)) ||
	    !dec_ok(&fr.res.quantity) || !dec_ok(&fr.res.amount))
		return TD_ERR_FORMAT;
	if (take(&p, end, fr.lcode, &code, &lc) != 0 ||
	    (code != NULL && !word_ok(code, lc)) ||
	    take(&p, end, fr.ldetail, &detail, &ld) != 0 ||
	    (detail != NULL && !detail_ok(detail, ld)) ||
	    fr.res.ndocs > (size_t)(end - p) / sizeof(fd))
		return TD_ERR_FORMAT;
	*res = fr.res;
	/* pointers of the child's are not ours */
	memset(&res->by_code, 0, sizeof(res->by_code));
	memset(&res->skipped, 0, sizeof(res->skipped));
	res->acks = NULL;	/* the caller's, from ACK frames */
	res->nacks = 0;
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
		    take(&p, end, fd.lenc, &enc, &le) != 0 ||
		    (enc != NULL && !word_ok(enc, le)))
			return TD_ERR_FORMAT;
		res->docs[i] = fd.doc;
		res->docs[i].member = dupn(mem, lm);
		res->docs[i].encoding = enc != NULL ? intern(enc,
		    (uint32_t)le) : "utf-8";
	}
	if (take_counts(&p, end, &res->by_code) != 0 ||
	    take_counts(&p, end, &res->skipped) != 0)
		return TD_ERR_FORMAT;
	*rp = fr.r;
	return TD_OK;
}

/*
 * LEDGER: the caller's ledger decides on each record of the window, in
 * order; VERDICTS to the child, in one frame. What the child sent is
 * read as untrusted: every length is checked against the frame.
 */
static int
dec_same(const struct td_dec *a, const struct td_dec *b)
{
	return a->v == b->v && a->scale == b->scale;
}

/* The verdict v on the record fl is all there is to say (VERDICTS). */
static int
verdict_short(const struct fledger *fl, const struct map_result *mr,
    const struct ledger_verdict *v)
{
	return v->what >= 0 && v->what < 255 - 1 &&
	    v->what != LEDGER_FORWARD && v->what != LEDGER_IN_FILE &&
	    !v->sum && !v->anull && !v->hold && v->restates[0] == '\0' &&
	    v->q[0] == '\0' && v->a[0] == '\0' &&
	    mr->has_amount == (fl->has_amount != 0) &&
	    dec_same(&mr->quantity, &fl->quantity) &&
	    dec_same(&mr->amount, &fl->amount) &&
	    memcmp(mr->values, fl->values, sizeof(fl->values)) == 0;
}

static int
on_ledger(int sock, const struct frame *f, const char *p,
    const struct proc_sink *s, struct proto *pr)
{
	const char *end = p + f->len;
	struct fledger fl;
	struct fverdict fv;
	struct ledger_verdict v;
	struct map_result mr;
	struct frame af;
	struct td_buf out;
	uint32_t n, i;
	unsigned char tag;
	size_t ml;
	int r = TD_OK;

	if (f->len < sizeof(n) || s->ledger == NULL)
		return TD_ERR_FORMAT;
	memcpy(&n, p, sizeof(n));
	p += sizeof(n);
	/* a window at most: the VERDICTS stay as small */
	if (n == 0 || n > PROC_WIN_ROWS || n != (size_t)(end - p) /
	    sizeof(fl) || (size_t)(end - p) % sizeof(fl) != 0)
		return TD_ERR_FORMAT;
	/* each record asked is one of the file's rows */
	pr->asked = add_sat(pr->asked, n);
	if (pr->asked > pr->rows)
		return fault(pr, F_LEDGER, "rows", pr->asked, "limit",
		    pr->rows);
	pr->asked_last = n;
	td_buf_init(&out, (size_t)n + sizeof(af), 0);
	memset(&af, 0, sizeof(af));
	td_buf_append(&out, &af, sizeof(af));
	for (i = 0; i < n && r == TD_OK; i++) {
		memcpy(&fl, p, sizeof(fl));
		p += sizeof(fl);
		if (!dec_ok(&fl.quantity) || !dec_ok(&fl.amount)) {
			r = TD_ERR_FORMAT;
			break;
		}
		memset(&mr, 0, sizeof(mr));
		memcpy(mr.record_id, fl.id, sizeof(fl.id));
		memcpy(mr.record_key, fl.key, sizeof(fl.key));
		memcpy(mr.values, fl.values, sizeof(fl.values));
		mr.kday = fl.kday;
		mr.quantity = fl.quantity;
		mr.amount = fl.amount;
		mr.has_amount = fl.has_amount != 0;
		if ((r = s->ledger(s->arg, &mr, NULL, 0, &v)) != 0)
			break;
		if (verdict_short(&fl, &mr, &v)) {
			tag = (unsigned char)(1 + v.what);
			td_buf_append(&out, &tag, 1);
			continue;
		}
		tag = 0;
		td_buf_append(&out, &tag, 1);
		memset(&fv, 0, sizeof(fv));
		fv.what = v.what;
		fv.has_amount = mr.has_amount;
		dec_put(&fv.quantity, &mr.quantity);
		dec_put(&fv.amount, &mr.amount);
		memcpy(fv.values, mr.values, sizeof(fv.values));
		fv.sum = v.sum;
		fv.anull = v.anull;
		fv.hold = v.hold;
		memcpy(fv.restates, v.restates, sizeof(fv.restates));
		memcpy(fv.q, v.q, sizeof(fv.q));
		memcpy(fv.a, v.a, sizeof(fv.a));
		ml = v.what == LEDGER_IN_FILE ? strnlen(v.msg,
		    sizeof(v.msg) - 1) : 0;
		fv.msglen = (uint32_t)ml;
		td_buf_append(&out, &fv, sizeof(fv));
		td_buf_append(&out, v.msg, ml);
	}
	if (r == TD_OK) {
		af.type = F_VERDICTS;
		af.len = (uint32_t)(out.len - sizeof(af));
		memcpy(out.p, &af, sizeof(af));
		r = send_full(sock, out.p, out.len);
	}
	td_buf_free(&out);
	return r;
}

/* 32 lowercase hex digits, NUL ended: a record_id the child sent. */
static int
id_hex_ok(const char *h)
{
	size_t i;

	for (i = 0; i < 2 * TD_ID_LEN; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' &&
		    h[i] <= 'f')))
			return 0;
	return h[i] == '\0';
}

/*
 * HOLDS, right after the VERDICTS of a LEDGER: the lines of the
 * restatements held, to the ledger, each one record's line, as `hold
 * approve` writes it to the batches as it is: a JSON object and its
 * newline, no other control byte (no second line, no NUL).
 */
static int
on_holds(const struct frame *f, const char *p, const struct proc_sink *s,
    uint32_t asked)
{
	const char *end = p + f->len;
	struct fhold fh;
	struct map_result mr;
	uint32_t n, i;
	int r;

	if (f->len < sizeof(n) || s->ledger_hold == NULL)
		return TD_ERR_FORMAT;
	memcpy(&n, p, sizeof(n));
	p += sizeof(n);
	if (n == 0 || n > asked)
		return TD_ERR_FORMAT;
	for (i = 0; i < n; i++) {
		if ((size_t)(end - p) < sizeof(fh))
			return TD_ERR_FORMAT;
		memcpy(&fh, p, sizeof(fh));
		p += sizeof(fh);
		if ((size_t)(end - p) < fh.len || !id_hex_ok(fh.restates) ||
		    !dec_ok(&fh.quantity) || !dec_ok(&fh.amount) ||
		    fh.len < 1 || p[fh.len - 1] != '\n' ||
		    !detail_ok(p, fh.len - 1))
			return TD_ERR_FORMAT;
		memset(&mr, 0, sizeof(mr));
		memcpy(mr.record_id, fh.id, sizeof(fh.id));
		memcpy(mr.record_key, fh.key, sizeof(fh.key));
		memcpy(mr.values, fh.values, sizeof(fh.values));
		mr.kday = fh.kday;
		mr.quantity = fh.quantity;
		mr.amount = fh.amount;
		mr.has_amount = fh.has_amount != 0;
		if ((r = s->ledger_hold(s->arg, &mr, p, fh.len,
		    fh.restates)) != 0)
			return r;
		p += fh.len;
	}
	return p == end ? TD_OK : TD_ERR_FORMAT;
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
	if ((r = send_full(sock, &af, sizeof(af))) == 0)
		r = send_full(sock, &fa, sizeof(fa));
	return r;
}

/*
 * A big file's LEDGER frame is its count: its records, in the SHM ledger
 * area, copied after it in *p (the frame as a small file's), once.
 */
static int
shm_ledger(struct proto *pr, struct frame *f, char **p, size_t *cap)
{
	uint32_t n;
	size_t len;

	memcpy(&n, *p, sizeof(n));
	if (n == 0 || n > PROC_WIN_ROWS)
		return fault(pr, F_LEDGER, "records", n, "limit",
		    PROC_WIN_ROWS);
	len = sizeof(n) + (size_t)n * sizeof(struct fledger);
	if (len > *cap) {
		*cap = len;
		*p = xrealloc(*p, *cap);
	}
	memcpy(*p + sizeof(n), pr->shm + SHM_LEDGER, len - sizeof(n));
	f->len = (uint32_t)len;
	return TD_OK;
}

/*
 * The SHM slots of a big file's child (see SHM_SLOTS), mapped into
 * *shm: the memfd, to send to the child, or -1. Sealed at its size, so
 * that nothing the child does can make the caller's reads of it fault.
 */
static int
shm_make(unsigned char **shm)
{
	void *p;
	int fd;

	*shm = NULL;
	if ((fd = memfd_create("tradedrop-batches", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) < 0)
		return -1;
	if (ftruncate(fd, (off_t)SHM_SIZE) != 0 || fcntl(fd, F_ADD_SEALS,
	    F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0 ||
	    (p = mmap(NULL, SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    0)) == MAP_FAILED) {
		close(fd);
		return -1;
	}
	*shm = p;
	return fd;
}

static int
shm_send(int sock, int fd)
{
	struct zmsg z;
	char one = 1;

	zmsg_init(&z, &one, 1);
	zmsg_fds(&z, &fd, 1);
	return sendmsg(sock, &z.mh, MSG_NOSIGNAL) == 1 ? TD_OK : TD_ERR_IO;
}

/* BATCH: its records read straight into the caller's batch buffer (or
 * copied from its SHM slot). */
static int
on_batch(int sock, const struct frame *f, const struct proc_sink *s,
    struct proto *pr)
{
	struct fbatch fb;
	struct td_buf *b;
	size_t n;
	int r;

	if (f->len < sizeof(fb))
		return TD_ERR_FORMAT;
	if ((r = read_full(sock, &fb, sizeof(fb))) != 0)
		return r;
	if (!dec_ok(&fb.bt.quantity) || !dec_ok(&fb.bt.amount))
		return TD_ERR_FORMAT;
	/* a batch is cut at batch_records, and an empty one never sent */
	if (fb.nrec == 0 || fb.nrec > pr->batch_records)
		return fault(pr, F_BATCH, "records", fb.nrec, "limit",
		    pr->batch_records);
	if ((r = rows_add(pr, F_BATCH, &pr->records, fb.nrec)) != 0)
		return r;
	pr->batches++;
	if (fb.inslot) {
		/* copied out once, then the slot is the child's again */
		if (pr->shm == NULL || fb.slot >= SHM_SLOTS)
			return fault(pr, F_BATCH, "slot", fb.slot, "limit",
			    pr->shm == NULL ? 0 : SHM_SLOTS - 1);
		if (f->len != sizeof(fb))
			return fault(pr, F_BATCH, "size", f->len, "limit",
			    sizeof(fb));
		if (fb.bytes == 0 || fb.bytes > SHM_SLOT)
			return fault(pr, F_BATCH, "slot_bytes", fb.bytes,
			    "limit", SHM_SLOT);
		n = (size_t)fb.bytes;
		b = s->buffer(s->arg);
		if (td_buf_reserve(b, n) != 0)
			return TD_ERR_LIMIT;
		memcpy(b->p + b->len, pr->shm + SHM_HDR + fb.slot * SHM_SLOT,
		    n);
		b->len += n;
		__atomic_store_n(shm_state(pr->shm, fb.slot), 0,
		    __ATOMIC_RELEASE);
		(void)syscall(SYS_futex, shm_state(pr->shm, fb.slot),
		    FUTEX_WAKE, 1, NULL, NULL, 0);
		return s->batch(s->arg, b, fb.nrec, &fb.bt);
	}
	n = f->len - sizeof(fb);
	b = s->buffer(s->arg);
	if (td_buf_reserve(b, n) != 0)
		return TD_ERR_LIMIT;
	if ((r = read_full(sock, b->p + b->len, n)) != 0)
		return r;
	b->len += n;
	return s->batch(s->arg, b, fb.nrec, &fb.bt);
}

static int
on_frame(int sock, const struct frame *f, const char *p,
    const struct proc_sink *s, struct proc_result *res, int *done, int *rp,
    struct proto *pr)
{
	struct ack_group *g;
	const char *end = p + f->len, *str[4];
	struct freject fr;
	struct rejection rj;
	uint64_t doc[2];
	uint32_t asked = pr->asked_last;
	size_t i, rawlen = 0;
	char *own[3];
	int r;

	pr->asked_last = 0;	/* HOLDS come right after their LEDGER */
	switch (f->type) {
	case F_REJECT:
		if (f->len < sizeof(fr))
			return TD_ERR_FORMAT;
		if ((r = rows_add(pr, F_REJECT, &pr->rejects, 1)) != 0)
			return r;
		memcpy(&fr, p, sizeof(fr));
		p += sizeof(fr);
		for (i = 0; i < 4; i++)
			if (take(&p, end, fr.len[i], &str[i], i == 3 ?
			    &rawlen : NULL) != 0)
				return TD_ERR_FORMAT;
		if (str[0] != NULL && !word_ok(str[0], fr.len[0]))
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
		/* the document, and 1 when it is read as mixed UTF-8 */
		if (f->len != sizeof(doc))
			return TD_ERR_FORMAT;
		memcpy(doc, p, sizeof(doc));
		if (doc[1] > 1)
			return TD_ERR_FORMAT;
		if (++pr->nreset > pr->resets)
			return fault(pr, F_RESET, "resets", pr->nreset, "limit",
			    pr->resets);
		/* only encoding = auto reads a document again, as
		 * windows-1252 and only then as mixed; the ledger's second
		 * pass (UINT64_MAX) is no document's */
		if (doc[0] == UINT64_MAX && doc[1] != 0)
			return TD_ERR_FORMAT;
		if (doc[0] != UINT64_MAX && !pr->autoenc)
			return fault(pr, F_RESET, "document", doc[0] + 1,
			    "encoding_auto", 0);
		if (doc[0] != UINT64_MAX) {
			if (doc[1])
				pr->nmixed++;
			else
				pr->n1252++;
			if (pr->nmixed > pr->n1252)
				return fault(pr, F_RESET, "mixed", pr->nmixed,
				    "windows_1252", pr->n1252);
		}
		/* the file starts over */
		packs_clear(&pr->acks);
		pr->records = pr->batches = pr->rejects = pr->acks_n = 0;
		pr->asked = pr->passes = 0;
		return s->reset(s->arg, (size_t)doc[0], (int)doc[1]);
	case F_ACK:
		if ((r = rows_add(pr, F_ACK, &pr->acks_n, 1)) != 0)
			return r;
		if (pr->acks_n > pr->groups)
			return fault(pr, F_ACK, "groups", pr->acks_n, "limit",
			    pr->groups);
		if ((g = ack_group_unpack(p, f->len)) == NULL)
			return TD_ERR_FORMAT;
		pr->acks.v = xreallocarray(pr->acks.v, pr->acks.n + 1,
		    sizeof(*pr->acks.v));
		pr->acks.v[pr->acks.n++] = g;
		return TD_OK;
	case F_LEDGER:
		return on_ledger(sock, f, p, s, pr);
	case F_HOLDS:
		return on_holds(f, p, s, asked);
	case F_PASSEND:
		/* one at the end of each pass */
		if (++pr->passes > 1)
			return fault(pr, F_PASSEND, "passes", pr->passes,
			    "limit", 1);
		return on_pass_end(sock, f, s);
	case F_RESULT:
		/* one not whole is none: the child crashed */
		if ((r = on_result(p, end, res, rp)) == TD_OK &&
		    (r = result_agrees(pr, res, *rp)) == TD_OK)
			*done = 1;
		return r;
	}
	return TD_ERR_FORMAT;
}

/* --------------------------------------------------------------- zygote */

/*
 * The children are forked from a small process made once, by the first
 * file of a worker (or of `once`), the zygote, not from the caller: a
 * fork of the caller, with its database caches and batch buffers, costs
 * more than a small file's whole processing (every page it writes while
 * the child lives is copied, and each fork write-protects them all).
 * The zygote holds the caller's configuration and mapping as they were
 * when it was made, closes every other descriptor, and for each file
 * receives the raw file's descriptor and the child's end of the socket
 * (SCM_RIGHTS), forks the child, says its pid, waits for it and says how
 * it ended. A new worker (after a reload) makes a new zygote.
 */
struct zreq {
	uint64_t		 batch_records, max_rows;
	const struct parser_ops	*parser;	/* the same image: its address */
	int32_t			 ledger;
	int32_t			 shm;		/* the SHM memfd follows */
	int32_t			 reuse;		/* may be sent NEXT files */
	char			 tid[72];
	char			 file[1024];
};

static struct {
	pid_t			 pid;
	int			 sock;
	const struct mapper	*m;
	const struct td_conf	*cf;
	pid_t			 owner;		/* the process that made it */
	int			 unreaped;	/* a status not read yet */
} zy = { -1, -1, NULL, NULL, -1, 0 };

/*
 * The child kept for the job's next small file (see the top of this
 * file), pid -1 when none. The zygote waits for it: its word of how the
 * child ended comes once it is ended (kid_end, then zy.unreaped), and no
 * other child is asked of the zygote before.
 */
static struct {
	pid_t			 pid;
	int			 pidfd, sock;
	unsigned int		 files;		/* it has served */
	int			 ledger;
	const struct parser_ops	*parser;
	uint64_t		 batch_records, max_rows;
	const struct mapper	*m;
	const struct td_conf	*cf;
	char			 signer[72];
} kid = { -1, -1, -1, 0, 0, NULL, 0, 0, NULL, NULL, "" };

static void	child_kill(pid_t, int);

/* The kept child ended: why, for the log (debug). */
static void
kid_end(const char *why)
{
	if (kid.pid == -1)
		return;
	td_log(TD_LOG_DEBUG, "parser_child_end", "files=%u reason=%s",
	    kid.files, why);
	close(kid.sock);	/* it reads the end of its socket: _exit */
	if (getpid() == zy.owner) {
		child_kill(kid.pid, kid.pidfd);
		zy.unreaped = 1;
	} else if (kid.pidfd >= 0)
		close(kid.pidfd);	/* a fork's copy: not ours to end */
	kid.pid = -1;
	kid.pidfd = kid.sock = -1;
	kid.files = 0;
}

void
sandbox_release(void)
{
	kid_end("job_end");
}

/* Send a request and its two descriptors (file, child's socket). */
static int
zreq_send(int sock, struct zreq *q, const int fds[2])
{
	struct zmsg z;

	zmsg_init(&z, q, sizeof(*q));
	zmsg_fds(&z, fds, 2);
	return sendmsg(sock, &z.mh, MSG_NOSIGNAL) == (ssize_t)sizeof(*q) ?
	    TD_OK : TD_ERR_IO;
}

/*
 * Receive a request and its two descriptors: TD_OK, TD_ERR_NOTFOUND
 * when the other end is gone, TD_ERR_FORMAT for anything else.
 */
static int
zreq_recv(int sock, struct zreq *q, int fds[2])
{
	struct zmsg z;
	struct cmsghdr *cm;
	ssize_t n;

	do
		zmsg_init(&z, q, sizeof(*q));
	while ((n = recvmsg(sock, &z.mh, MSG_CMSG_CLOEXEC)) < 0 &&
	    errno == EINTR);
	if (n <= 0)
		return TD_ERR_NOTFOUND;
	cm = CMSG_FIRSTHDR(&z.mh);
	if ((size_t)n != sizeof(*q) || cm == NULL ||
	    cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
	    cm->cmsg_len != CMSG_LEN(2 * sizeof(int)))
		return TD_ERR_FORMAT;
	memcpy(fds, CMSG_DATA(cm), 2 * sizeof(int));
	q->tid[sizeof(q->tid) - 1] = '\0';
	q->file[sizeof(q->file) - 1] = '\0';
	return TD_OK;
}

/*
 * A parser child forked before its file is known (*ctl: the zygote's
 * end of its request socket), so that the fork is not on the file's
 * path: it waits for one request, then is the child of that one file.
 * It has the zygote's memory, which holds no request: the zygote is made
 * before its first one and clears each once handed on.
 */
static pid_t
spare_fork(struct mapper *m, const struct td_conf *cf, int sock,
    const struct sock_fprog *prog, int *ctl)
{
	struct zreq q;
	struct proc_opts o;
	int sv[2], fds[2];
	pid_t pid, zpid = getpid();

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	if ((pid = fork()) == 0) {
		close(sock);
		close(sv[0]);
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != zpid ||
		    zreq_recv(sv[1], &q, fds) != TD_OK)
			_exit(0);	/* not wanted after all */
		close(sv[1]);
		memset(&o, 0, sizeof(o));
		o.transmission_id = q.tid;
		o.file = q.file;
		o.batch_records = q.batch_records;
		o.max_rows = q.max_rows;
		o.parser = q.parser;
		child_main(m, cf, fds[0], fds[1], &o, q.ledger, q.shm,
		    q.reuse, prog);
	}
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return -1;
	}
	*ctl = sv[0];
	return pid;
}

/* A spare that will not be used: gone, and reaped. */
static void
spare_drop(pid_t *pid, int *ctl)
{
	if (*pid <= 0)
		return;
	close(*ctl);
	(void)kill(*pid, SIGKILL);
	while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
		;
	*pid = -1;
	*ctl = -1;
}

/*
 * A descriptor of our child pid (pidfd_open(2)), or -1 (a kernel before
 * 5.3). Taken before the child is waited for, it is that process's, not
 * its pid's: the caller kills the child with it (child_kill), at a time
 * when this process may have reaped it and the pid be another's.
 */
static int
pidfd_of(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

/* A word to the caller, with the descriptor fd (closed) unless -1. */
static int
word_send(int sock, int32_t v, int fd)
{
	struct zmsg w;
	ssize_t n;

	zmsg_init(&w, &v, sizeof(v));
	zmsg_fds(&w, &fd, fd >= 0);
	n = sendmsg(sock, &w.mh, MSG_NOSIGNAL);
	if (fd >= 0)
		close(fd);
	return n == (ssize_t)sizeof(v) ? 0 : -1;
}

static void __attribute__((noreturn))
zygote_main(struct mapper *m, const struct td_conf *cf, int sock)
{
	const struct sock_fprog *prog = NULL;
	struct zreq q;
	int keep[1], fds[2], status, ctl = -1, tries, r;
	int32_t st;
	pid_t pid, spare = -1;

	keep[0] = sock;
	sandbox_close_fds(keep, 1);
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	(void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
#if defined(HAVE_LIBSECCOMP) && !defined(SB_ASAN)
	prog = filter_compile();
#endif
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	for (;;) {
		/* the next file's child, forked while the caller works */
		if (spare == -1)
			spare = spare_fork(m, cf, sock, prog, &ctl);
		if ((r = zreq_recv(sock, &q, fds)) == TD_ERR_NOTFOUND) {
			spare_drop(&spare, &ctl);
			_exit(0);	/* the caller is gone */
		}
		if (r != TD_OK)
			_exit(3);	/* not the caller's */
		/* the spare takes it; one that went away, a new one, once */
		for (tries = 0, pid = -1; tries < 2 && pid == -1; tries++) {
			if (spare == -1)
				spare = spare_fork(m, cf, sock, prog, &ctl);
			if (spare == -1)
				break;
			if (zreq_send(ctl, &q, fds) == TD_OK) {
				pid = spare;
				close(ctl);
				spare = -1;
				ctl = -1;
			} else
				spare_drop(&spare, &ctl);
		}
		close(fds[0]);
		close(fds[1]);
		/* the next child is forked from here: nothing of this file
		 * (its name, its transmission id) stays in our memory */
		explicit_bzero(&q, sizeof(q));
		st = (int32_t)pid;
		if (word_send(sock, st, pid > 0 ? pidfd_of(pid) : -1) != 0) {
			spare_drop(&spare, &ctl);
			_exit(0);
		}
		if (pid < 0)
			continue;
		spare = spare_fork(m, cf, sock, prog, &ctl);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		st = (int32_t)status;
		if (send(sock, &st, sizeof(st), MSG_NOSIGNAL) != sizeof(st)) {
			spare_drop(&spare, &ctl);
			_exit(0);
		}
	}
}

static void
zygote_stop(void)
{
	kid_end("zygote_stop");
	if (zy.pid == -1)
		return;
	close(zy.sock);
	(void)kill(zy.pid, SIGKILL);
	while (waitpid(zy.pid, NULL, 0) < 0 && errno == EINTR)
		;
	zy.pid = -1;
	zy.sock = -1;
	zy.unreaped = 0;
}

/*
 * At exit: the zygote is told to end (its socket closed) and waited for,
 * so that its time and memory, and its children's, are counted with the
 * caller's (getrusage(RUSAGE_CHILDREN), time(1)).
 */
static void
zygote_atexit(void)
{
	pid_t pid = zy.pid;

	if (pid == -1 || getpid() != zy.owner)
		return;		/* none, or a copy of a fork's */
	kid_end("exit");	/* else the zygote waits for it */
	close(zy.sock);
	zy.pid = -1;
	zy.sock = -1;
	zy.unreaped = 0;
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static int
zygote_start(struct mapper *m, const struct td_conf *cf)
{
	static int registered;
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return TD_ERR_IO;
	if ((pid = fork()) < 0) {
		close(sv[0]);
		close(sv[1]);
		return TD_ERR_IO;
	}
	if (pid == 0) {
		close(sv[0]);
		zygote_main(m, cf, sv[1]);
	}
	close(sv[1]);
	zy.pid = pid;
	zy.sock = sv[0];
	zy.m = m;
	zy.cf = cf;
	zy.owner = getpid();
	if (!registered && atexit(zygote_atexit) == 0)
		registered = 1;
	return TD_OK;
}

/*
 * A 32-bit word from the zygote and, with it, the descriptor it may
 * carry in *fd (-1: none; fd NULL: one that comes is closed): 0, or
 * TD_ERR_IO when it is gone or a descriptor was cut (MSG_CTRUNC: at our
 * RLIMIT_NOFILE).
 */
static int
zygote_word_fd(int32_t *v, int *fd)
{
	struct zmsg w;
	struct cmsghdr *cm;
	ssize_t n;
	int got = -1;

	if (fd != NULL)
		*fd = -1;
	do
		zmsg_init(&w, v, sizeof(*v));
	while ((n = recvmsg(zy.sock, &w.mh, MSG_CMSG_CLOEXEC)) < 0 &&
	    errno == EINTR);
	/* every descriptor that came: the first one kept, others closed */
	for (cm = n > 0 ? CMSG_FIRSTHDR(&w.mh) : NULL; cm != NULL;
	    cm = CMSG_NXTHDR(&w.mh, cm)) {
		size_t i, k;
		int one;

		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len < CMSG_LEN(0))
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < k; i++) {
			memcpy(&one, CMSG_DATA(cm) + i * sizeof(int),
			    sizeof(int));
			if (got == -1)
				got = one;
			else
				close(one);
		}
	}
	if (n > 0 && (w.mh.msg_flags & MSG_CTRUNC)) {
		td_log(TD_LOG_ERROR, "zygote_word", "error=%s",
		    "a descriptor from the zygote was cut (MSG_CTRUNC)");
		n = -1;
	}
	if (got >= 0 && (fd == NULL || n != (ssize_t)sizeof(*v))) {
		close(got);
		got = -1;
	}
	if (fd != NULL)
		*fd = got;
	return n == (ssize_t)sizeof(*v) ? TD_OK : TD_ERR_IO;
}

static int
zygote_word(int32_t *v)
{
	return zygote_word_fd(v, NULL);
}

/*
 * The parser child of one file, forked by the zygote (made first, or
 * again when the mapping is another or it went away): *pid.
 */
static int
zygote_fork(struct mapper *m, const struct td_conf *cf, int fd, int sock,
    const struct proc_opts *o, int ledger, int shm, int reuse, pid_t *pid,
    int *pidfd)
{
	struct zreq q;
	int fds[2] = { fd, sock }, tries, r;
	int32_t v;

	*pidfd = -1;
	if (strlen(o->transmission_id) >= sizeof(q.tid) ||
	    strlen(o->file) >= sizeof(q.file))
		return TD_ERR_LIMIT;
	if (zy.pid != -1 && (zy.m != m || zy.cf != cf))
		zygote_stop();
	/* how the last child ended, not waited for then (see below) */
	if (zy.pid != -1 && zy.unreaped && zygote_word(&v) != 0)
		zygote_stop();
	zy.unreaped = 0;
	for (tries = 0; tries < 2; tries++) {
		/* made before the request is: a zygote (and every child
		 * it forks) has no copy of it */
		if (zy.pid == -1 && (r = zygote_start(m, cf)) != 0)
			return r;
		memset(&q, 0, sizeof(q));
		q.batch_records = o->batch_records;
		q.max_rows = o->max_rows;
		q.parser = o->parser;
		q.ledger = ledger;
		q.shm = shm;
		q.reuse = reuse;
		memcpy(q.tid, o->transmission_id, strlen(o->transmission_id));
		memcpy(q.file, o->file, strlen(o->file));
		if (zreq_send(zy.sock, &q, fds) == TD_OK &&
		    zygote_word_fd(&v, pidfd) == 0) {
			if (v > 0) {
				*pid = (pid_t)v;
				return TD_OK;
			}
			/* its fork failed (never a pid of 0: kill(0, ...)
			 * is our own process group) */
			if (*pidfd >= 0) {
				close(*pidfd);
				*pidfd = -1;
			}
			return TD_ERR_IO;
		}
		/* (no pidfd here: zygote_word_fd keeps one only with a
		 * whole word, and then we have returned) */
		zygote_stop();	/* gone (killed?): one more, once */
	}
	return TD_ERR_IO;
}

/* How the child of the last zygote_fork() ended, as waitpid(2) says. */
static int
zygote_status(int *status)
{
	int32_t v;

	if (zygote_word(&v) != 0)
		return TD_ERR_IO;
	*status = (int)v;
	return TD_OK;
}

/*
 * How long the child may stay silent, or leave what it is sent unread,
 * before it is taken for stuck (an endless loop, a child that waits for
 * the caller while the caller waits for it): CHILD_IDLE seconds, or the
 * test hook TD_TEST_PARSER_IDLE.
 */
static long
idle_limit(void)
{
	return (long)td_test_bound("TD_TEST_PARSER_IDLE", CHILD_IDLE);
}

/* 1 when every byte of fd reads (errno set when not). */
static int
readable(int fd)
{
	char buf[65536];
	off_t off = 0;
	ssize_t n;

	while ((n = pread(fd, buf, sizeof(buf), off)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		off += n;
	}
	return 1;
}

/*
 * SIGKILL to the child, by its pidfd where the zygote gave one (then
 * closed): the zygote reaps a child as soon as it ends, and by its pid
 * alone the signal could reach another process given that pid since,
 * one of this daemon's own (the same user).
 */
static void
child_kill(pid_t pid, int pidfd)
{
	if (pidfd < 0) {
		(void)kill(pid, SIGKILL);
		return;
	}
#ifdef SYS_pidfd_send_signal
	/* refused (a container's seccomp profile, say): by its pid, as
	 * before; a child left running would keep the zygote waiting */
	if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) != 0 &&
	    errno != ESRCH) {
		td_log(TD_LOG_WARN, "parser_kill", "pid=%ld error=%s "
		    "action=%s", (long)pid, strerror(errno), "kill by pid");
		(void)kill(pid, SIGKILL);
	}
#else
	(void)kill(pid, SIGKILL);
#endif
	close(pidfd);
}

/*
 * Why the kept child may not take this file (NULL: it may): a child
 * serves files of one signer, of the same mapping and options, small.
 */
static const char *
kid_misfit(const struct mapper *m, const struct td_conf *cf,
    const struct proc_opts *o, const struct proc_sink *s, int small)
{
	if (o->signer == NULL)
		return "not_reusable";
	if (!small)
		return "big_file";
	if (strcmp(kid.signer, o->signer) != 0)
		return "signer";
	if (kid.m != m || kid.cf != cf || kid.ledger != (s->ledger != NULL) ||
	    kid.parser != o->parser || kid.batch_records != o->batch_records ||
	    kid.max_rows != o->max_rows)
		return "options";
	return NULL;
}

/* NEXT to the kept child, the file's descriptor with it. */
static int
kid_next(int fd, const struct proc_opts *o)
{
	struct {
		struct frame	 f;
		struct fnext	 n;
	} msg;
	struct zmsg z;

	if (strlen(o->transmission_id) >= sizeof(msg.n.tid) ||
	    strlen(o->file) >= sizeof(msg.n.file))
		return TD_ERR_LIMIT;
	memset(&msg, 0, sizeof(msg));
	msg.f.type = F_NEXT;
	msg.f.len = (uint32_t)sizeof(msg.n);
	memcpy(msg.n.tid, o->transmission_id, strlen(o->transmission_id));
	memcpy(msg.n.file, o->file, strlen(o->file));
	zmsg_init(&z, &msg, sizeof(msg));
	zmsg_fds(&z, &fd, 1);
	return sendmsg(kid.sock, &z.mh, MSG_NOSIGNAL) == (ssize_t)sizeof(msg) ?
	    TD_OK : TD_ERR_IO;
}

int
sandbox_process_file(struct mapper *m, const struct td_conf *cf, int fd,
    const struct proc_opts *o, const struct proc_sink *s,
    struct proc_result *res)
{
	struct frame f;
	struct proto pr;
	struct timeval tv;
	struct stat st;
	char *p = NULL;
	const char *why;
	size_t cap = 0;
	int sv[2], status, done = 0, r = TD_OK, rr = TD_OK, pidfd = -1;
	int mfd = -1, small, reuse;
	unsigned int files = 1;
	pid_t pid = -1;

	/*
	 * A test hook, never set in production: the file is parsed here,
	 * in the caller, so that a test can compare the two ways.
	 */
	if (getenv("TD_TEST_IN_PROCESS") != NULL)
		return process_file(m, cf, fd, o, s, res);
	memset(res, 0, sizeof(*res));
	proto_init(&pr, cf, m, fd, o);
	intern_clear();		/* the file before is done with */
	small = fstat(fd, &st) == 0 && st.st_size < CHILD_THREADS_MIN;
	reuse = small && o->signer != NULL &&
	    strlen(o->signer) < sizeof(kid.signer) &&
	    td_conf_u64(cf, TDK_parse_child_files) > 1;
	/* the child kept from the job's file before, when it may take it;
	 * one that went away meanwhile is replaced, the file not failed */
	if (kid.pid != -1 && (why = kid_misfit(m, cf, o, s, small)) != NULL)
		kid_end(why);
	if (kid.pid != -1 && kid_next(fd, o) != TD_OK)
		kid_end("gone");
	if (kid.pid != -1) {
		/* the file's now, as a new one: kept again only when it
		 * sends its RESULT and the sink took all */
		pid = kid.pid;
		pidfd = kid.pidfd;
		sv[0] = kid.sock;
		files = kid.files + 1;
		kid.pid = -1;
		kid.pidfd = kid.sock = -1;
		kid.files = 0;
	} else {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
			return TD_ERR_IO;
		/* a big file's batches come through shared memory */
		shm_slot_set(cf, m);
		if (SHM_SLOT <= SHM_SLOT_MAX && !small && fstat(fd, &st) == 0 &&
		    st.st_size >= CHILD_THREADS_MIN)
			mfd = shm_make(&pr.shm);
		if ((r = zygote_fork(m, cf, fd, sv[1], o, s->ledger != NULL,
		    mfd >= 0, reuse, &pid, &pidfd)) != 0) {
			close(sv[0]);
			close(sv[1]);
			if (mfd >= 0) {
				close(mfd);
				(void)munmap(pr.shm, SHM_SIZE);
			}
			return r;
		}
		close(sv[1]);
		if (mfd >= 0) {
			r = shm_send(sv[0], mfd);
			close(mfd);
		}
	}
	if (reuse)
		td_log(TD_LOG_DEBUG, "parser_child", "file=%s "
		    "transmission_id=%s child_files=%u", o->file,
		    o->transmission_id, files);
	memset(&tv, 0, sizeof(tv));
	tv.tv_sec = idle_limit();
	if (setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
		r = TD_ERR_IO;
	while (!done && r == TD_OK) {
		if ((r = read_full(sv[0], &f, sizeof(f))) != 0)
			break;
		/* no more than an honest child's frame of that type */
		if (f.type == 0 || f.type > F_HOLDS) {
			r = fault(&pr, f.type, "type", f.type, "limit", F_HOLDS);
			break;
		}
		if (f.len > pr.max[f.type]) {
			r = fault(&pr, f.type, "size", f.len, "limit",
			    pr.max[f.type]);
			break;
		}
		if (f.type == F_BATCH) {
			pr.asked_last = 0;
			r = on_batch(sv[0], &f, s, &pr);
			continue;
		}
		if (f.len > cap) {
			cap = f.len;
			p = xrealloc(p, cap);
		}
		if ((r = read_full(sv[0], p, f.len)) != 0)
			break;
		if (f.type == F_LEDGER && pr.shm != NULL &&
		    f.len == sizeof(uint32_t) && (r = shm_ledger(&pr, &f, &p,
		    &cap)) != 0)
			break;
		r = on_frame(sv[0], &f, p, s, res, &done, &rr, &pr);
	}
	x_free(p);
	if (done) {
		res->acks = pr.acks.v;	/* transferred */
		res->nacks = pr.acks.n;
	} else
		packs_clear(&pr.acks);
	if (done && rr == TD_OK && reuse &&
	    files < td_conf_u64(cf, TDK_parse_child_files)) {
		/* kept for the job's next small file of this signer */
		kid.pid = pid;
		kid.pidfd = pidfd;
		kid.sock = sv[0];
		kid.files = files;
		kid.ledger = s->ledger != NULL;
		kid.parser = o->parser;
		kid.batch_records = o->batch_records;
		kid.max_rows = o->max_rows;
		kid.m = m;
		kid.cf = cf;
		snprintf(kid.signer, sizeof(kid.signer), "%s", o->signer);
		return TD_OK;
	}
	close(sv[0]);
	/* a sink failed, or it died; or it sent its result and has nothing
	 * left to do, and must not keep the caller waiting for its exit */
	child_kill(pid, pidfd);
	if (pr.shm != NULL)
		(void)munmap(pr.shm, SHM_SIZE);
	if (done) {
		/* its end is not waited for: read before the next request */
		zy.unreaped = 1;
		if (rr == TD_OK)
			return TD_OK;
		/*
		 * The child says it failed (reading the file; an honest
		 * child's sink fails only with the caller gone). Its word on
		 * a condition of the caller's is not taken: a full disk or
		 * outbox would pause intake, and the file, first again at
		 * every pass, would hold it paused for good. A read error
		 * the caller meets too is the caller's (the disk under
		 * state_dir: the file is tried again); any other, that file
		 * fails, Tier 2, its raw bytes kept; the daemon goes on.
		 */
		if (rr == TD_ERR_IO && !readable(fd)) {
			td_log(TD_LOG_ERROR, "raw_unreadable", "file=%s "
			    "transmission_id=%s error=%s", o->file,
			    o->transmission_id, strerror(errno));
			return TD_ERR_IO;
		}
		proc_result_clear(res);
		res->t2code = "parser_crashed";
		snprintf(res->t2msg, sizeof(res->t2msg), "the parser process "
		    "failed: %s", td_errstr(rr));
		td_log(TD_LOG_ERROR, "parser_crashed", "file=%s "
		    "transmission_id=%s error=%s", o->file, o->transmission_id,
		    td_errstr(rr));
		return TD_OK;
	}
	if (zygote_status(&status) != 0) {
		zygote_stop();	/* it went wrong: a new one next time */
		return TD_ERR_IO;
	}
	if (r == TD_ERR_AGAIN) {
		/* stuck: killed, and that file fails as if it crashed */
		proc_result_clear(res);
		res->t2code = "parser_crashed";
		snprintf(res->t2msg, sizeof(res->t2msg), "the parser process "
		    "was stuck: it sent or read nothing for %ld seconds, and "
		    "was killed", (long)tv.tv_sec);
		td_log(TD_LOG_ERROR, "parser_crashed", "file=%s "
		    "transmission_id=%s stuck=%lds", o->file,
		    o->transmission_id, (long)tv.tv_sec);
		return TD_OK;
	}
	if (r == TD_ERR_FORMAT && pr.fframe != NULL) {
		/* past what an honest child sends: killed, as if it crashed */
		proc_result_clear(res);
		res->t2code = "parser_crashed";
		snprintf(res->t2msg, sizeof(res->t2msg), "the parser process "
		    "broke its protocol: a %s frame's %s %llu, %s %llu, and "
		    "was killed", pr.fframe, pr.fwhat,
		    (unsigned long long)pr.fn, pr.flimit,
		    (unsigned long long)pr.fmax);
		td_log(TD_LOG_ERROR, "parser_crashed", "file=%s "
		    "transmission_id=%s frame=%s %s=%llu %s=%llu", o->file,
		    o->transmission_id, pr.fframe, pr.fwhat,
		    (unsigned long long)pr.fn, pr.flimit,
		    (unsigned long long)pr.fmax);
		return TD_OK;
	}
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
