/*
 * test-sandbox.c - agent/sandbox.c, the caller's side of the parser
 * child's socket, against a hostile child: the file's parser (one made
 * here) runs in the confined child and, as code an attacker runs there
 * could, writes frames of its own to the caller's socket. Whatever it
 * sends, the caller must come back (no crash, no hang), refusing the
 * file as Tier 2 parser_crashed when what came is not a result.
 * Each case runs in a process of its own (child.h) with a time limit,
 * so that a caller killed by a signal or stuck is a failed test.
 */
#include "../../agent/sandbox.c"

#include <sys/stat.h>

#include <sched.h>

#include "parser.h"

#include "../lib/tap.h"
#include "../lib/testutil.h"
#include "../lib/child.h"

static char tmpdir[] = "/tmp/test-sandbox.XXXXXX";

#define WIN_ROWS_MAX	PROC_WIN_ROWS

#define TID	"0123456789abcdef0123456789abcdef" \
		"0123456789abcdef0123456789abcdef"

/* a file's transmission id a later file's child must not find */
#define TID_PREV "fedcba9876543210fedcba9876543210" \
		"fedcba9876543210fedcba9876543210"

extern void	*__libc_stack_end;

#define MAP_STD	"store_id = column \"Store\"\n" \
		"gtin = column \"UPC\" gtin\n" \
		"txn_date = column \"Date\" date \"%Y-%m-%d\"\n" \
		"quantity = column \"Units\" decimal\n" \
		"[unpack]\nmax_bytes = 1024\nmax_members = 1\n"

/* What the hostile child does (inherited through fork). */
enum evil {
	E_RESULT_OK,		/* a well-formed RESULT, then exits */
	E_RESULT_SPIN,		/* a well-formed RESULT, then never exits */
	E_RESULT_BADDOC,	/* RESULT: 2 documents, the first's member
				 * longer than the frame */
	E_RESULT_NONUL,		/* RESULT: its text arrays without a NUL */
	E_LEDGER_CLOSE,		/* a full LEDGER window, then hangs up */
	E_LEDGER_BIG,		/* LEDGER: one record more than a window */
	E_REJECT_QUOTE,		/* REJECT: a code with a quote and a newline */
	E_DETAIL_LINES,		/* RESULT: a Tier 2 detail of two lines */
	E_COUNTS_MANY,		/* RESULT: 300000 codes counted */
	E_CODES_MANY,		/* 300 REJECTs of as many codes, RESULT */
	E_CODE_FRESH,		/* after E_CODES_MANY: a REJECT, RESULT */
	E_BATCH_SCALE,		/* BATCH: a quantity of scale 99 */
	E_LEDGER_HUGE,		/* LEDGER: a quantity of 38 digits */
	E_SILENT,		/* waits for the caller, sending nothing */
	E_NO_READ,		/* a full LEDGER window, then reads nothing */
	E_FRAME_BIG,		/* a frame of type big_type, one byte longer
				 * than its limit (only its header) */
	E_ENDLESS,		/* frames of type big_type, without end */
	E_PASSEND_TWICE,	/* PASSEND, its ANSWER read, PASSEND */
	E_HOLD_LINES,		/* LEDGER, its VERDICTS read, HOLDS of a line
				 * of two JSON objects, RESULT */
	E_HOLD_OK,		/* the same, of one line, RESULT */
	E_SNOOP,		/* counts the copies of TID_PREV on its stack
				 * (a REJECT of code seen_N), RESULT */
	E_RESULT_RECORDS,	/* RESULT: 5 records, none sent */
	E_RESULT_REJECTED,	/* a REJECT, RESULT: none rejected */
	E_RESULT_SHA,		/* RESULT: raw_sha256 not hex */
	E_BATCH_OK,		/* a BATCH of 1 record, RESULT of it */
	E_RESULT_NOSPACE,	/* RESULT: process_file's return a full disk */
	E_RESULT_EIO,		/* RESULT: process_file's return a read error */
	E_PID,			/* a REJECT of code pid_N (its pid), RESULT */
	E_SLOT_OK,		/* a batch of 1 record in SHM slot 1, RESULT */
	E_SLOT_OUT,		/* BATCH: in SHM slot 2 (there are 2) */
	E_SLOT_HUGE,		/* BATCH: in a slot, one byte more than it */
	E_SLOT_NONE,		/* BATCH: in a slot, with no SHM (small file) */
	E_SLOT_ZERO,		/* BATCH: in a slot, of no bytes */
	E_SLOT_TAIL,		/* BATCH: in a slot, and bytes after it */
	E_SLOT_SCRIBBLE,	/* a batch in slot 0, BATCH, then writes the
				 * slot over and over till it is killed */
	E_LEDGER_SHM_BIG,	/* a LEDGER in the SHM ledger area of a
				 * window and one record */
	E_LEDGER_SHM_OK,	/* a LEDGER of one record in the SHM area,
				 * its VERDICTS read, RESULT */
	E_ACK_INJECT,		/* ACK: a 997 with an ISA segment of its own
				 * before its AK9, then RESULT */
	E_RESET_1252_MIXED,	/* RESET of document 0 as windows-1252, then
				 * as mixed, RESULT (encoding = auto's) */
	E_RESET_MIXED,		/* RESET of document 0 as mixed, RESULT */
	E_RESET_LEDGER_MIXED,	/* RESET of the ledger's pass, mixed, RESULT */
	E_RESULT_MIXED,		/* RESULT of one document read as mixed
				 * UTF-8 (mixed_enc its encoding) */
	E_KEPT,			/* the first file parsed as nothing (the
				 * child kept); the second, in the same
				 * child: four ways to a descriptor of its
				 * own tried (dup3 elsewhere, dup, F_DUPFD,
				 * recvmsg on stderr), REJECT "kept_" and a
				 * letter each (p: EPERM, r: refused
				 * otherwise, a: allowed), RESULT */
	E_KEPT_GONE,		/* every file parsed as nothing; the kept
				 * child killed between two files */
};
static enum evil evil;
static const char *mixed_enc = "utf-8";	/* E_RESULT_MIXED */
static uint32_t big_type;	/* E_FRAME_BIG, E_ENDLESS */
static uint64_t big_len;	/* E_FRAME_BIG: the frame's length */
static const char *want_log;	/* in the caller's log, or NULL */
static int batch_ok;		/* a batch may reach the sink */
static int want_r;		/* what sandbox_process_file returns */
static int raw_dir;		/* the raw file given is a directory */

/* The caller's sink: what reached it. */
static struct td_buf sbuf;
static uint64_t nbatch, nreject, nledger, nhold;
static char lastcode[64];	/* of the last rejection */

static struct td_buf lastbatch;	/* t_batch's last */
static int big_file;		/* the file is big.csv (SHM slots) */

static struct td_buf *
t_buffer(void *arg)
{
	(void)arg;
	td_buf_reset(&sbuf);
	return &sbuf;
}

static int
t_batch(void *arg, struct td_buf *b, uint64_t n, const struct batch_totals *bt)
{
	(void)arg;
	(void)n;
	(void)bt;
	nbatch++;
	td_buf_reset(&lastbatch);
	td_buf_append(&lastbatch, b->p, b->len);
	return 0;
}

static pid_t victim = -1;	/* E_PID: a process at the child's pid */

/*
 * A process (pausing) at pid want, by /proc/sys/kernel/ns_last_pid
 * (root): its pid, or -1.
 */
static pid_t
victim_at(long want)
{
	pid_t p;
	int fd, tries;

	for (tries = 0; tries < 50; tries++) {
		if ((fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY)) < 0)
			return -1;
		dprintf(fd, "%ld", want - 1);
		close(fd);
		if ((p = fork()) == 0) {
			/* nothing of the test's held open, and gone with
			 * it whatever happens */
			(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
			if ((fd = open("/dev/null", O_RDWR)) >= 0) {
				dup2(fd, STDOUT_FILENO);
				dup2(fd, STDERR_FILENO);
			}
			alarm(60);
			for (;;)
				pause();
		}
		if (p == (pid_t)want)
			return p;
		if (p > 0) {	/* another process forked first */
			kill(p, SIGKILL);
			waitpid(p, NULL, 0);
		}
	}
	return -1;
}

/*
 * Whether E_PID can run: a process can be placed at a pid (root in the
 * first user namespace: ns_last_pid written, its value put back) and
 * this kernel has pidfds (without them the caller kills by pid, as it
 * must).
 */
static int
pid_placeable(void)
{
	char buf[32];
	ssize_t n;
	int fd, pfd, ok = 0;

#ifdef SYS_pidfd_open
	if ((pfd = (int)syscall(SYS_pidfd_open, getpid(), 0)) < 0)
		return 0;
	close(pfd);
#else
	(void)pfd;
	return 0;
#endif
	if ((fd = open("/proc/sys/kernel/ns_last_pid", O_RDWR)) < 0)
		return 0;
	if ((n = read(fd, buf, sizeof(buf) - 1)) > 0 &&
	    pwrite(fd, buf, (size_t)n, 0) == n)
		ok = 1;
	close(fd);
	return ok;
}

static int
t_reject(void *arg, const struct rejection *rj)
{
	char path[64];
	long pid;
	int i;

	(void)arg;
	snprintf(lastcode, sizeof(lastcode), "%s", rj->code);
	nreject++;
	if (evil == E_PID && sscanf(rj->code, "pid_%ld", &pid) == 1) {
		/* the child sent its RESULT after this and ended; the
		 * zygote reaps it: its pid is free, then another's */
		snprintf(path, sizeof(path), "/proc/%ld", pid);
		for (i = 0; i < 500 && access(path, F_OK) == 0; i++)
			usleep(10000);
		if (access(path, F_OK) == 0)
			diag("child %ld not reaped in 5 s", pid);
		else if ((victim = victim_at(pid)) < 0)
			diag("no process could be placed at pid %ld", pid);
	}
	return 0;
}

static int
t_reset(void *arg, size_t doc, int mixed)
{
	(void)arg;
	(void)doc;
	(void)mixed;
	return 0;
}

static int
t_ledger(void *arg, struct map_result *mr, struct td_buf *b, size_t start,
    struct ledger_verdict *v)
{
	(void)arg;
	(void)mr;
	(void)b;
	(void)start;
	memset(v, 0, sizeof(*v));
	v->what = LEDGER_NEW;
	nledger++;
	return 0;
}

static int
t_ledger_hold(void *arg, const struct map_result *mr, const char *line,
    size_t len, const char *restates)
{
	(void)arg;
	(void)mr;
	(void)line;
	(void)len;
	(void)restates;
	nhold++;
	return 0;
}

static int
t_pass_end(void *arg, int *again)
{
	(void)arg;
	*again = 0;
	return 0;
}

/* ------------------------------------------------ the hostile child */

static int evil_sock = -1;

static void
evil_put(uint32_t type, const void *p, size_t n)
{
	struct frame f;

	f.type = type;
	f.len = (uint32_t)n;
	if (td_write_all(evil_sock, &f, sizeof(f)) != 0 ||
	    td_write_all(evil_sock, p, n) != 0)
		_exit(7);
}

/*
 * A RESULT as c_result() makes it, for a file of no document, with a
 * Tier 2 code and detail (NULL: none) and ncodes codes counted.
 */
static void
evil_result_with(struct td_buf *b, const char *code, const char *detail,
    uint64_t ncodes)
{
	struct fresult fr;
	uint64_t zero = 0, j;
	uint32_t l;
	char c[16];

	memset(&fr, 0, sizeof(fr));
	fr.lcode = code != NULL ? (uint32_t)strlen(code) : NOSTR;
	fr.ldetail = detail != NULL ? (uint32_t)strlen(detail) : NOSTR;
	snprintf(fr.res.format, sizeof(fr.res.format), "raw");
	snprintf(fr.res.raw_sha256, sizeof(fr.res.raw_sha256), "%s", TID);
	td_buf_append(b, &fr, sizeof(fr));
	if (code != NULL)
		td_buf_append(b, code, fr.lcode);
	if (detail != NULL)
		td_buf_append(b, detail, fr.ldetail);
	td_buf_append(b, &ncodes, sizeof(ncodes));	/* by_code */
	for (j = 0; j < ncodes; j++) {
		l = (uint32_t)snprintf(c, sizeof(c), "c%llu",
		    (unsigned long long)j);
		td_buf_append(b, &l, sizeof(l));
		td_buf_append(b, c, l);
		td_buf_append(b, &zero, sizeof(zero));
	}
	td_buf_append(b, &zero, sizeof(zero));	/* skipped */
}

static void
evil_result(struct td_buf *b)
{
	evil_result_with(b, NULL, NULL, 0);
}

/* A RESULT of n records in as many batches, and k rejected (code c0). */
static void
evil_result_counts(struct td_buf *b, uint64_t n, uint64_t k)
{
	struct fresult fr;

	evil_result_with(b, NULL, NULL, k > 0);
	memcpy(&fr, b->p, sizeof(fr));
	fr.res.records = fr.res.batches = n;
	fr.res.rejected = k;
	memcpy(b->p, &fr, sizeof(fr));
	/* by_code: c0's count, the last 8 bytes before skipped's */
	if (k > 0)
		memcpy(b->p + b->len - 2 * sizeof(k), &k, sizeof(k));
}

/* A LEDGER of one record, and the caller's VERDICTS read. */
static void
evil_ask_one(struct td_buf *b)
{
	struct fledger fl;
	struct frame f;
	uint32_t n = 1;

	td_buf_reset(b);
	td_buf_append(b, &n, sizeof(n));
	memset(&fl, 0, sizeof(fl));
	td_buf_append(b, &fl, sizeof(fl));
	evil_put(F_LEDGER, b->p, b->len);
	if (read_full(evil_sock, &f, sizeof(f)) != 0 || td_buf_reserve(b,
	    f.len) != 0 || read_full(evil_sock, b->p, f.len) != 0)
		_exit(9);
}

/* HOLDS of one record, its line line. */
static void
evil_hold(struct td_buf *b, const char *line)
{
	struct fhold fh;
	uint32_t n = 1;

	td_buf_reset(b);
	td_buf_append(b, &n, sizeof(n));
	memset(&fh, 0, sizeof(fh));
	memset(fh.restates, 'a', sizeof(fh.restates) - 1);
	fh.len = (uint32_t)strlen(line);
	td_buf_append(b, &fh, sizeof(fh));
	td_buf_append(b, line, fh.len);
	evil_put(F_HOLDS, b->p, b->len);
}

static void	evil_reject(struct td_buf *, const char *);

/* A functional group's 997 (an empty group), packed into b. */
static void
evil_group(struct td_buf *b)
{
	static const struct td_field gs[] = {
		{ "GS", 2 }, { "PA", 2 }, { "S", 1 }, { "R", 1 },
		{ "20261128", 8 }, { "1200", 4 }, { "1", 1 }, { "X", 1 },
		{ "004010", 6 },
	}, ge[] = { { "GE", 2 }, { "0", 1 }, { "1", 1 } };
	struct ack_builder *ab = ack_builder_new();
	struct ack_group *g;
	struct x12_seg sg;

	memset(&sg, 0, sizeof(sg));
	sg.el = gs;
	sg.nel = sizeof(gs) / sizeof(gs[0]);
	(void)ack_segment(ab, &sg);
	sg.el = ge;
	sg.nel = sizeof(ge) / sizeof(ge[0]);
	if ((g = ack_segment(ab, &sg)) == NULL)
		_exit(10);
	ack_group_pack(g, b);
	ack_group_free(g);
	ack_builder_free(ab);
}

/*
 * The 997 evil_group() packs with seg (whole segments, each "~\n"-ended,
 * nseg of them) put before its AK9, the packed header's segment count
 * and body length made to agree (the header ends with nseg, nsets, nacc
 * and bodylen, 64 bits each; the body starts at its AK1).
 */
static void
evil_group_with(struct td_buf *b, const char *seg, uint64_t nseg)
{
	struct td_buf g;
	const char *ak1, *ak9;
	uint64_t v;
	size_t h;

	td_buf_init(&g, 0, 0);
	evil_group(&g);
	ak1 = memmem(g.p, g.len, "AK1*", 4);
	ak9 = ak1 != NULL ? memmem(ak1, g.len - (size_t)(ak1 - g.p), "AK9*",
	    4) : NULL;
	if (ak9 == NULL || (h = (size_t)(ak1 - g.p)) < 32)
		_exit(13);
	td_buf_reset(b);
	td_buf_append(b, g.p, (size_t)(ak9 - g.p));
	td_buf_puts(b, seg);
	td_buf_append(b, ak9, g.len - (size_t)(ak9 - g.p));
	memcpy(&v, b->p + h - 32, sizeof(v));
	v += nseg;
	memcpy(b->p + h - 32, &v, sizeof(v));
	v = b->len - h;
	memcpy(b->p + h - 8, &v, sizeof(v));
	td_buf_free(&g);
}

/* One frame of type t as an honest child could send it, for E_ENDLESS. */
static void
evil_one(struct td_buf *b, uint32_t t)
{
	struct fbatch fb;
	uint64_t doc[2] = { 0, 0 };	/* document 0, windows-1252 */

	td_buf_reset(b);
	switch (t) {
	case F_BATCH:
		memset(&fb, 0, sizeof(fb));
		fb.nrec = 1;
		td_buf_append(b, &fb, sizeof(fb));
		td_buf_append(b, "{}\n", 3);
		break;
	case F_REJECT:
		evil_reject(b, "bad_row");
		return;
	case F_RESET:
		td_buf_append(b, doc, sizeof(doc));
		break;
	case F_ACK:
		evil_group(b);
		break;
	}
	evil_put(t, b->p, b->len);
}

/* A REJECT of code: Tier 3, line 2, no message, member or text. */
static void
evil_reject(struct td_buf *b, const char *code)
{
	struct freject fr;

	memset(&fr, 0, sizeof(fr));
	fr.tier = 3;
	fr.line = 2;
	fr.len[0] = (uint32_t)strlen(code);
	fr.len[1] = fr.len[2] = fr.len[3] = NOSTR;
	td_buf_reset(b);
	td_buf_append(b, &fr, sizeof(fr));
	td_buf_append(b, code, fr.len[0]);
	evil_put(F_REJECT, b->p, b->len);
}

/* One REJECT of code, then the RESULT that counts it. */
static void
evil_reject_result(struct td_buf *b, const char *code)
{
	evil_reject(b, code);
	td_buf_reset(b);
	evil_result_counts(b, 0, 1);
	evil_put(F_RESULT, b->p, b->len);
}

/* E_SLOT_*: a batch through the SHM slots, or what is not one. */
static void
evil_slot(struct td_buf *b)
{
	static const char rec[] = "{\"slot\":1}\n";
	struct fbatch fb;
	uint32_t k = evil == E_SLOT_OK ? 1 : 0;

	if ((child_shm == NULL) != (evil == E_SLOT_NONE))
		_exit(11);	/* SHM for a big file only */
	memset(&fb, 0, sizeof(fb));
	fb.nrec = 1;
	fb.inslot = 1;
	fb.slot = evil == E_SLOT_OUT ? SHM_SLOTS : k;
	fb.bytes = evil == E_SLOT_HUGE ? SHM_SLOT + 1 : evil == E_SLOT_ZERO ?
	    0 : sizeof(rec) - 1;
	if (child_shm != NULL) {
		memcpy(child_shm + SHM_HDR + k * SHM_SLOT, rec, sizeof(rec) - 1);
		__atomic_store_n(shm_state(child_shm, k), 1, __ATOMIC_RELEASE);
	}
	td_buf_reset(b);
	td_buf_append(b, &fb, sizeof(fb));
	if (evil == E_SLOT_TAIL)
		td_buf_append(b, rec, sizeof(rec) - 1);
	evil_put(F_BATCH, b->p, b->len);
	if (evil == E_SLOT_SCRIBBLE)
		for (;;)
			memset(child_shm + SHM_HDR, 'x', 4096);
	td_buf_reset(b);
	evil_result_counts(b, 1, 0);
	evil_put(F_RESULT, b->p, b->len);
}

static void
evil_act(void)
{
	struct td_buf b;
	struct fresult fr;
	struct fdoc fd;
	struct fledger fl;
	struct frame vf;
	uint64_t zero = 0;
	uint32_t n;
	size_t i;

	char pidcode[32];

	td_buf_init(&b, 4096, 0);
	switch (evil) {
	case E_KEPT:
	case E_KEPT_GONE:
		_exit(13);	/* evil_open does it */
	case E_RESULT_OK:
	case E_RESULT_SPIN:
		evil_result(&b);
		evil_put(F_RESULT, b.p, b.len);
		if (evil == E_RESULT_SPIN)
			for (;;)
				sched_yield();
		break;
	case E_RESULT_MIXED:
		memset(&fr, 0, sizeof(fr));
		fr.lcode = fr.ldetail = NOSTR;
		snprintf(fr.res.format, sizeof(fr.res.format), "raw");
		snprintf(fr.res.raw_sha256, sizeof(fr.res.raw_sha256), "%s",
		    TID);
		fr.res.ndocs = 1;
		td_buf_append(&b, &fr, sizeof(fr));
		memset(&fd, 0, sizeof(fd));
		fd.doc.mixed = 1;
		fd.lmember = NOSTR;
		fd.lenc = (uint32_t)strlen(mixed_enc);
		td_buf_append(&b, &fd, sizeof(fd));
		td_buf_append(&b, mixed_enc, fd.lenc);
		td_buf_append(&b, &zero, sizeof(zero));	/* by_code */
		td_buf_append(&b, &zero, sizeof(zero));	/* skipped */
		evil_put(F_RESULT, b.p, b.len);
		break;
	case E_RESULT_BADDOC:
		memset(&fr, 0, sizeof(fr));
		fr.lcode = fr.ldetail = NOSTR;
		fr.res.ndocs = 2;
		td_buf_append(&b, &fr, sizeof(fr));
		memset(&fd, 0, sizeof(fd));
		fd.lmember = 100000;	/* past the frame */
		fd.lenc = NOSTR;
		td_buf_append(&b, &fd, sizeof(fd));
		td_buf_append(&b, &fd, sizeof(fd));
		evil_put(F_RESULT, b.p, b.len);
		break;
	case E_RESULT_NONUL:
		memset(&fr, 0, sizeof(fr));
		fr.lcode = fr.ldetail = NOSTR;
		memset(fr.res.format, 'F', sizeof(fr.res.format));
		memset(fr.res.first_date, '2', sizeof(fr.res.first_date));
		memset(fr.res.last_date, '2', sizeof(fr.res.last_date));
		memset(fr.res.t2msg, 'M', sizeof(fr.res.t2msg));
		memset(fr.res.raw_sha256, 'a', sizeof(fr.res.raw_sha256));
		td_buf_append(&b, &fr, sizeof(fr));
		td_buf_append(&b, &zero, sizeof(zero));	/* by_code */
		td_buf_append(&b, &zero, sizeof(zero));	/* skipped */
		evil_put(F_RESULT, b.p, b.len);
		break;
	case E_LEDGER_CLOSE:
	case E_LEDGER_BIG:
		n = evil == E_LEDGER_BIG ? WIN_ROWS_MAX + 1 : WIN_ROWS_MAX;
		td_buf_append(&b, &n, sizeof(n));
		memset(&fl, 0, sizeof(fl));
		for (i = 0; i < n; i++) {
			fl.id[0] = (unsigned char)i;
			fl.key[1] = (unsigned char)(i >> 8);
			td_buf_append(&b, &fl, sizeof(fl));
		}
		evil_put(F_LEDGER, b.p, b.len);
		/* never reads the VERDICTS: gone */
		break;
	case E_REJECT_QUOTE:
		evil_reject(&b, "bad\",\"x\":\"y\n");
		td_buf_reset(&b);
		evil_result(&b);
		evil_put(F_RESULT, b.p, b.len);
		break;
	case E_DETAIL_LINES:
		evil_result_with(&b, "schema_missing_column", "{\"a\":1}\n"
		    "{\"transmission_id\":\"x\"}", 0);
		evil_put(F_RESULT, b.p, b.len);
		break;
	case E_COUNTS_MANY:
		evil_result_with(&b, NULL, NULL, 300000);
		evil_put(F_RESULT, b.p, b.len);
		break;
	case E_CODES_MANY:
		for (i = 0; i < 300; i++) {
			char c[16];

			snprintf(c, sizeof(c), "code_%zu", i);
			evil_reject(&b, c);
		}
		td_buf_reset(&b);
		evil_result_counts(&b, 0, 300);
		evil_put(F_RESULT, b.p, b.len);
		break;
	case E_BATCH_SCALE:
		{
			struct fbatch fb;

			memset(&fb, 0, sizeof(fb));
			fb.nrec = 1;
			fb.bt.quantity.scale = 99;
			td_buf_append(&b, &fb, sizeof(fb));
			td_buf_append(&b, "{}\n", 3);
			evil_put(F_BATCH, b.p, b.len);
		}
		td_buf_reset(&b);
		evil_result(&b);
		evil_put(F_RESULT, b.p, b.len);
		break;
	case E_LEDGER_HUGE:
		n = 1;
		td_buf_append(&b, &n, sizeof(n));
		memset(&fl, 0, sizeof(fl));
		fl.quantity.v = ~(__int128)0 ^ ((__int128)1 << 127);
		td_buf_append(&b, &fl, sizeof(fl));
		evil_put(F_LEDGER, b.p, b.len);
		break;
	case E_SILENT:
		if (read(evil_sock, &n, sizeof(n)) < 0)
			_exit(9);
		break;
	case E_NO_READ:
		n = WIN_ROWS_MAX;
		td_buf_append(&b, &n, sizeof(n));
		memset(&fl, 0, sizeof(fl));
		for (i = 0; i < n; i++)
			td_buf_append(&b, &fl, sizeof(fl));
		evil_put(F_LEDGER, b.p, b.len);
		for (;;)
			sched_yield();
	case E_SNOOP:
		{
			/* what an attacker in this child can read of the
			 * memory it was forked with: the stack, up to its
			 * top, for another file's transmission id */
			const char *q = (const char *)&b;
			char code[32];
			size_t k = 0;

			for (; q + 64 <= (const char *)__libc_stack_end; q++)
				if (*q == 'f' && memcmp(q, TID_PREV, 64) == 0)
					k++;
			snprintf(code, sizeof(code), "seen_%zu", k);
			evil_reject_result(&b, code);
			break;
		}
	case E_CODE_FRESH:
		evil_reject_result(&b, "fresh_code");
		break;
	case E_FRAME_BIG:
		{
			struct frame f;

			f.type = big_type;
			f.len = (uint32_t)big_len;
			if (td_write_all(evil_sock, &f, sizeof(f)) != 0)
				_exit(7);
		}
		break;	/* and gone: the caller reads no more */
	case E_ENDLESS:
		for (;;)
			evil_one(&b, big_type);	/* _exit once refused */
	case E_PASSEND_TWICE:
		for (i = 0; i < 2; i++) {
			struct frame f;
			struct fanswer fa;

			evil_put(F_PASSEND, NULL, 0);
			if (read_full(evil_sock, &f, sizeof(f)) != 0 ||
			    read_full(evil_sock, &fa, sizeof(fa)) != 0)
				_exit(9);
		}
		evil_result(&b);
		evil_put(F_RESULT, b.p, b.len);
		break;
	case E_HOLD_LINES:
	case E_HOLD_OK:
		evil_ask_one(&b);
		evil_hold(&b, evil == E_HOLD_OK ? "{\"a\":1}\n" :
		    "{\"a\":1}\n{\"transmission_id\":\"x\"}\n");
		td_buf_reset(&b);
		evil_result(&b);
		evil_put(F_RESULT, b.p, b.len);
		break;
	case E_RESULT_RECORDS:
		evil_result_counts(&b, 5, 0);
		evil_put(F_RESULT, b.p, b.len);
		break;
	case E_RESULT_REJECTED:
		evil_reject(&b, "c0");
		td_buf_reset(&b);
		evil_result(&b);
		evil_put(F_RESULT, b.p, b.len);
		break;
	case E_RESULT_SHA:
		memset(&fr, 0, sizeof(fr));
		evil_result(&b);
		memcpy(&fr, b.p, sizeof(fr));
		memset(fr.res.raw_sha256, 'Z', sizeof(fr.res.raw_sha256) - 1);
		memcpy(b.p, &fr, sizeof(fr));
		evil_put(F_RESULT, b.p, b.len);
		break;
	case E_PID:
		snprintf(pidcode, sizeof(pidcode), "pid_%ld",
		    (long)getpid());
		evil_reject_result(&b, pidcode);
		break;
	case E_RESULT_NOSPACE:
	case E_RESULT_EIO:
		evil_result(&b);
		memcpy(&fr, b.p, sizeof(fr));
		fr.r = evil == E_RESULT_EIO ? TD_ERR_IO : TD_ERR_NOSPACE;
		memcpy(b.p, &fr, sizeof(fr));
		evil_put(F_RESULT, b.p, b.len);
		break;
	case E_BATCH_OK:
		evil_one(&b, F_BATCH);
		td_buf_reset(&b);
		evil_result_counts(&b, 1, 0);
		evil_put(F_RESULT, b.p, b.len);
		break;
	case E_SLOT_OK:
	case E_SLOT_OUT:
	case E_SLOT_HUGE:
	case E_SLOT_NONE:
	case E_SLOT_ZERO:
	case E_SLOT_TAIL:
	case E_SLOT_SCRIBBLE:
		evil_slot(&b);
		break;
	case E_RESET_1252_MIXED:
	case E_RESET_MIXED:
	case E_RESET_LEDGER_MIXED:
		{
			uint64_t d[2] = { evil == E_RESET_LEDGER_MIXED ?
			    UINT64_MAX : 0, 0 };

			if (evil == E_RESET_1252_MIXED)
				evil_put(F_RESET, d, sizeof(d));
			d[1] = 1;
			evil_put(F_RESET, d, sizeof(d));
		}
		evil_result(&b);
		evil_put(F_RESULT, b.p, b.len);
		break;
	case E_ACK_INJECT:
		evil_group_with(&b, "ISA*00*injected~\n", 1);
		evil_put(F_ACK, b.p, b.len);
		td_buf_reset(&b);
		evil_result(&b);
		evil_put(F_RESULT, b.p, b.len);
		break;
	case E_LEDGER_SHM_BIG:
	case E_LEDGER_SHM_OK:
		if (child_shm == NULL)
			_exit(11);
		n = evil == E_LEDGER_SHM_OK ? 1 : WIN_ROWS_MAX + 1;
		memset(&fl, 0, sizeof(fl));
		memcpy(child_shm + SHM_LEDGER, &fl, sizeof(fl));
		evil_put(F_LEDGER, &n, sizeof(n));
		if (evil == E_LEDGER_SHM_BIG)
			break;
		if (read_full(evil_sock, &vf, sizeof(vf)) != 0 || vf.type !=
		    F_VERDICTS || vf.len != 1 || read_full(evil_sock, &n, 1) !=
		    0)
			_exit(12);
		td_buf_reset(&b);
		evil_result(&b);
		evil_put(F_RESULT, b.p, b.len);
		break;
	}
	_exit(0);
}

/* E_KEPT: 'p' (EPERM), 'r' (refused otherwise) or 'a' (allowed) */
static char
kept_try(long r)
{
	return r >= 0 ? 'a' : errno == EPERM ? 'p' : 'r';
}

/* E_KEPT's second file: what a kept child may do with descriptors */
static void __attribute__((noreturn))
evil_kept(void)
{
	struct td_buf b;
	struct msghdr mh;
	char code[16], one;
	struct iovec iov = { &one, 1 };

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	evil_sock = CHILD_SOCK;
	td_buf_init(&b, 4096, 0);
	snprintf(code, sizeof(code), "kept_%c%c%c%c",
	    kept_try(syscall(SYS_dup3, CHILD_SOCK, CHILD_FILE + 2, 0)),
	    kept_try(dup(CHILD_SOCK)),
	    kept_try(fcntl(CHILD_SOCK, F_DUPFD, 0)),
	    kept_try(recvmsg(STDERR_FILENO, &mh, MSG_DONTWAIT)));
	evil_reject_result(&b, code);
	_exit(0);
}

/* The parser's open, in the confined child: find the socket, attack. */
static int
evil_open(void **state, const struct td_conf *c, struct emitter *e)
{
	static int files;	/* this child's (E_KEPT) */
	struct stat sb;
	int fd;

	(void)state;
	(void)c;
	(void)e;
	if ((evil == E_KEPT && files++ == 0) || evil == E_KEPT_GONE)
		return 0;	/* the first: nothing, the child kept */
	if (evil == E_KEPT)
		evil_kept();
	for (fd = 3; fd < 64; fd++)
		if (fstat(fd, &sb) == 0 && S_ISSOCK(sb.st_mode)) {
			evil_sock = fd;
			evil_act();
		}
	_exit(8);
}

static int
evil_feed(void *state, const char *text, size_t n)
{
	(void)state;
	(void)text;
	(void)n;
	return 0;
}

static int
evil_finish(void *state)
{
	(void)state;
	return 0;
}

static void
evil_free(void *state)
{
	(void)state;
}

static const struct parser_ops evil_ops = {
	.name = "evil",
	.position = "line",
	.open = evil_open,
	.feed = evil_feed,
	.finish = evil_finish,
	.free = evil_free,
};

/* Can the hostile child's stack be scanned (not under ASan, valgrind)? */
static int
stack_scan_ok(void)
{
	const char *p = getenv("LD_PRELOAD");

#ifdef SB_ASAN
	return 0;
#endif
	return p == NULL || strstr(p, "vgpreload") == NULL;
}

/* ------------------------------------------------------- the caller */

/* A small file's text (the caller's log), NUL ended. */
static char *
slurp(const char *path)
{
	char *t = xmalloc(65536);
	ssize_t n = -1;
	int fd;

	if ((fd = open(path, O_RDONLY)) >= 0) {
		n = read(fd, t, 65535);
		close(fd);
	}
	t[n > 0 ? n : 0] = '\0';
	return t;
}

static struct td_conf *conf;

/*
 * E_KEPT_GONE, after the first file: its kept child (first) dies before
 * the next file, which gets a new child, kept for the file after.
 */
static int
kept_gone(struct mapper *m, int fd, struct proc_opts *po,
    const struct proc_sink *sink, struct proc_result *res, pid_t first)
{
	pid_t second;
	int st, r;

	kill(first, SIGKILL);
	for (st = 0; st < 200 && kill(first, 0) == 0; st++)
		usleep(10000);	/* reaped by the zygote */
	if (sandbox_process_file(m, conf, fd, po, sink, res) != 0 ||
	    res->t2code != NULL) {
		diag("the file after the kept child died: %s",
		    res->t2code != NULL ? res->t2code : "error");
		return 19;
	}
	proc_result_clear(res);
	if ((second = kid.pid) == -1 || second == first)
		return 28;
	r = sandbox_process_file(m, conf, fd, po, sink, res);
	if (r != 0 || res->t2code != NULL || kid.pid != second) {
		diag("the third file: %d %s, child %ld (%ld)", r,
		    res->t2code != NULL ? res->t2code : "-",
		    (long)kid.pid, (long)second);
		return 21;
	}
	sandbox_release();
	return 0;
}

/*
 * In a process of its own: sandbox_process_file() on a small file with
 * the hostile child doing *arg. 0: it came back with 0 and the Tier 2
 * code want (NULL: none) and no record; 10+: what went wrong.
 */
static int
caller(void *arg)
{
	const char *want = arg;
	struct mapper *m = NULL;
	static const struct proc_sink sink = {
		.buffer = t_buffer, .batch = t_batch, .reject = t_reject,
		.reset = t_reset, .ledger = t_ledger, .pass_end = t_pass_end,
		.ledger_hold = t_ledger_hold,
	};
	struct proc_opts po;
	struct proc_result res;
	struct proto pr;
	char *err = NULL, *p, *log = NULL, *text;
	int fd, r, st;

	alarm((unsigned)tu_time_limit(20));	/* stuck: SIGALRM ends it */
	if (mapper_new(conf, &m, &err) != 0)
		return 10;
	td_buf_init(&sbuf, 4096, 0);
	memset(&po, 0, sizeof(po));
	po.transmission_id = TID;
	po.file = "f.csv";
	po.batch_records = 1000;
	po.parser = &evil_ops;
	p = xasprintf(raw_dir ? "%s" : big_file ? "%s/big.csv" : "%s/f.csv",
	    tmpdir);
	td_buf_init(&lastbatch, 64, 0);
	if ((fd = open(p, O_RDONLY)) < 0)
		return 11;
	memset(&res, 0, sizeof(res));
	if (evil == E_FRAME_BIG) {
		/* the caller's limit for that type, one byte over */
		proto_init(&pr, conf, m, fd, &po);
		big_len = pr.max[big_type] + 1;
	}
	if (want_log != NULL) {
		/* what the caller logs (stderr), to a file */
		log = xasprintf("%s/log.%ld", tmpdir, (long)getpid());
		if ((r = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 ||
		    dup2(r, STDERR_FILENO) < 0)
			return 20;
		close(r);
	}
	if (evil == E_CODES_MANY) {
		/* a file of many codes, then another file of its own */
		if (sandbox_process_file(m, conf, fd, &po, &sink, &res) != 0)
			return 18;
		proc_result_clear(&res);
		/* the children are forked by the zygote, which has the
		 * hostile parser's mode of when it was made: a new one */
		evil = E_CODE_FRESH;
		zygote_stop();
		r = sandbox_process_file(m, conf, fd, &po, &sink, &res);
		if (strcmp(lastcode, "fresh_code") != 0)
			return 19;
	} else if (evil == E_SNOOP) {
		/* a file, then another through the same zygote: the second
		 * one's child, forked while the first was parsed, finds
		 * nothing of the first (its own request aside) */
		po.transmission_id = TID_PREV;
		if (sandbox_process_file(m, conf, fd, &po, &sink, &res) != 0)
			return 18;
		proc_result_clear(&res);
		if (strcmp(lastcode, "seen_1") != 0) {
			diag("the first file's child: %s (its own request)",
			    lastcode);
			return 23;
		}
		po.transmission_id = TID;
		r = sandbox_process_file(m, conf, fd, &po, &sink, &res);
		if (strcmp(lastcode, "seen_0") != 0) {
			diag("the second file's child: %s", lastcode);
			return 19;
		}
	} else if (evil == E_KEPT || evil == E_KEPT_GONE) {
		/* E_KEPT: two small files of one signer: one child, kept.
		 * E_KEPT_GONE: the kept child dies between two files (killed,
		 * as by the OOM killer): the next file gets a new child, not
		 * failed, and the zygote's word of the dead one is not taken
		 * for another's; the file after goes to the new child */
		pid_t first;

		po.signer = "";
		if (sandbox_process_file(m, conf, fd, &po, &sink, &res) != 0 ||
		    res.t2code != NULL)
			return 18;
		proc_result_clear(&res);
		if ((first = kid.pid) == -1)
			return 27;	/* not kept */
		if (evil == E_KEPT_GONE) {
			if ((r = kept_gone(m, fd, &po, &sink, &res,
			    first)) != 0)
				return r;
		} else {
			r = sandbox_process_file(m, conf, fd, &po, &sink, &res);
			if (kid.pid != first) {
				diag("the second file's child: %ld, not %ld",
				    (long)kid.pid, (long)first);
				return 28;
			}
#ifdef HAVE_LIBSECCOMP
			if (strcmp(lastcode, "kept_pppp") != 0) {
#else
			if (strchr(lastcode, 'a') != NULL) {
#endif
				diag("the kept child's descriptors: %s",
				    lastcode);
				return 19;
			}
			sandbox_release();
			if (kid.pid != -1)
				return 29;
		}
	} else if (evil == E_PID) {
		/* the child's pid given to another process (victim) after
		 * the child ended and before the caller's kill: that one
		 * lives on */
		r = sandbox_process_file(m, conf, fd, &po, &sink, &res);
		if (victim <= 0)
			return 26;	/* not placed: t_reject says why */
		/* a SIGKILL takes a moment to end it: 200 ms */
		for (st = 0; st < 20 && waitpid(victim, NULL, WNOHANG) !=
		    victim; st++)
			usleep(10000);
		if (st < 20) {
			diag("the kill meant for the child reached process "
			    "%ld, which had its pid", (long)victim);
			return 25;
		}
		kill(victim, SIGKILL);
		waitpid(victim, NULL, 0);
	} else
		r = sandbox_process_file(m, conf, fd, &po, &sink, &res);
	if (r != want_r)
		return 12;
	if (r != 0) {
		/* as expected: only the log to look at */
		if (log != NULL && strstr((text = slurp(log)), want_log) ==
		    NULL) {
			diag("the log: %s", text);
			return 22;
		}
		return 0;
	}
	if (want == NULL ? res.t2code != NULL : (res.t2code == NULL ||
	    strcmp(res.t2code, want) != 0))
		return 13;
	if (nbatch != 0 && !batch_ok)
		return 14;
	/* what came through the slot is what the child put there */
	if (evil == E_SLOT_OK && (nbatch != 1 || lastbatch.len != 11 ||
	    memcmp(lastbatch.p, "{\"slot\":1}\n", 11) != 0))
		return 24;

	if (nhold != (evil == E_HOLD_OK))
		return 21;
	if (log != NULL) {
		text = slurp(log);
		if (strstr(text, want_log) == NULL) {
			diag("the log: %s", text);
			return 22;
		}
		x_free(text);
		x_free(log);
	}
	if (nledger > WIN_ROWS_MAX || (evil == E_LEDGER_HUGE && nledger > 0))
		return 15;
	/* what the caller reads of a result is text, and its encoding */
	if (memchr(res.format, '\0', sizeof(res.format)) == NULL ||
	    memchr(res.t2msg, '\0', sizeof(res.t2msg)) == NULL ||
	    memchr(res.first_date, '\0', sizeof(res.first_date)) == NULL ||
	    memchr(res.last_date, '\0', sizeof(res.last_date)) == NULL ||
	    memchr(res.raw_sha256, '\0', sizeof(res.raw_sha256)) == NULL)
		return 16;
	if (strcmp(proc_encoding(&res), "utf-8") != 0 &&
	    strcmp(proc_encoding(&res), "mixed") != 0)
		return 17;
	proc_result_clear(&res);
	close(fd);
	x_free(p);
	mapper_free(m);
	return 0;
}

static void
attack(enum evil e, const char *want, const char *name)
{
	int st, tries;

	evil = e;
	/* 26: E_PID could not place its process (another took the pid
	 * first, the machine busy): tried again, three times at most */
	for (tries = 0; tries < 3; tries++) {
		nbatch = nhold = 0;
		if ((st = run_in_child(caller, (void *)want)) != 26)
			break;
	}
	if (!ok(st == 0, "%s", name))
		diag("caller: %s %d", st < 0 ? "killed by a signal, or stuck" :
		    "exit", st);
}

/*
 * What a child sends as a group's 997 is taken only as ack.c writes it:
 * the builder's own group is, and so is the same with a set of its own
 * shape; a segment of the child's, an AK1 of another group, an AK9 of
 * other counts, a byte that is not printable, a segment not "~\n"-ended
 * are not (unpacked, NULL).
 */
static void
test_ack_body(void)
{
	static const struct {
		const char *seg;
		uint64_t nseg;
		int ok;
		const char *what;
	} c[] = {
		{ "", 0, 1, "the builder's own group" },
		{ "AK2*852*0001~\nAK5*A~\n", 2, 1, "a set as ack.c writes it" },
		{ "AK2*852*0001~\nAK3*LIN*7**8~\nAK5*R*5~\n", 3, 1,
		    "a set at fault as ack.c writes it" },
		{ "ISA*00*injected~\n", 1, 0, "an ISA of the child's" },
		{ "AK1*PA*1~\n", 1, 0, "a second AK1" },
		{ "AK2*852*0001~\n", 1, 0, "an AK2 without its AK5" },
		{ "AK2*852*0001~\nAK5*X~\n", 2, 0, "an AK5 of no code" },
		{ "AK2*852*0001~\nAK5*A*1~\n", 2, 0, "an AK5*A with a code" },
		{ "AK2*852*00\0011~\nAK5*A~\n", 2, 0, "a control byte" },
		{ "AK2*852*0001~\nAK5*A~\n", 1, 0, "nseg one short" },
		{ "AK2*852*0001~AK5*A~\n", 2, 0, "a segment not ~\\n-ended" },
		{ "AK9*A*0*0*0~\n", 1, 0, "a segment after AK9" },
	};
	static const struct {
		const char *find;
		size_t at;
		char to;
		const char *what;
	} t[] = {
		{ "AK1*PA*", 5, 'B', "an AK1 of GS01 PB in the group of PA" },
		{ "AK9*R*0*0*0", 8, '1', "an AK9 of other counts" },
	};
	struct ack_group *g;
	struct td_buf b;
	size_t i;
	char *p;

	td_buf_init(&b, 0, 0);
	for (i = 0; i < TD_NELEM(c); i++) {
		evil_group_with(&b, c[i].seg, c[i].nseg);
		g = ack_group_unpack(b.p, b.len);
		ok((g != NULL) == c[i].ok, "997 from a child, %s: %s", c[i].what,
		    c[i].ok ? "taken" : "refused");
		ack_group_free(g);
	}
	/* the builder's segments with one byte changed (the same length) */
	for (i = 0; i < TD_NELEM(t); i++) {
		evil_group_with(&b, "", 0);
		if ((p = memmem(b.p, b.len, t[i].find, strlen(t[i].find))) !=
		    NULL)
			p[t[i].at] = t[i].to;
		g = ack_group_unpack(b.p, b.len);
		ok(p != NULL && g == NULL, "997 from a child, %s: refused",
		    t[i].what);
		ack_group_free(g);
	}
	td_buf_free(&b);
}

int
main(void)
{
	static const uint32_t big[] = {
		F_BATCH, F_REJECT, F_RESULT, F_LEDGER, F_ACK, F_HOLDS, F_RESET
	}, endless[] = { F_BATCH, F_REJECT, F_ACK, F_RESET };
	char buf[64], name[160], *p;
	size_t i;

	if (mkdtemp(tmpdir) == NULL)
		td_fatal("mkdtemp: %s", strerror(errno));
	if ((conf = tu_conf(tmpdir, MAP_STD)) == NULL)
		td_fatal("tu_conf");
	{
		struct mapper *m0 = NULL;
		char *err0 = NULL;

		if (mapper_new(conf, &m0, &err0) != 0)
			td_fatal("mapper_new: %s", err0);
		shm_slot_set(conf, m0);	/* SHM_SLOT, as the caller has it */
		mapper_free(m0);
	}
	tu_sh(tmpdir, "printf 'Store,UPC,Date,Units\\n1,041000001239,"
	    "2026-11-28,1\\n' > f.csv");
	/* big enough for the SHM slots (CHILD_THREADS_MIN) */
	tu_sh(tmpdir, "head -c %d /dev/zero | tr '\\0' x > big.csv",
	    CHILD_THREADS_MIN + 1);

	attack(E_RESULT_OK, NULL, "a well-formed RESULT is the result");
	attack(E_RESULT_SPIN, NULL, "a child that sends its RESULT and never "
	    "exits: the caller comes back");
	attack(E_RESULT_BADDOC, "parser_crashed", "a RESULT whose document "
	    "overruns the frame is no result: parser_crashed");
	attack(E_RESULT_NONUL, "parser_crashed", "a RESULT whose texts have "
	    "no NUL is no result: parser_crashed");
	attack(E_LEDGER_CLOSE, "parser_crashed", "a child that asks the "
	    "ledger and hangs up: no SIGPIPE, parser_crashed");
	attack(E_LEDGER_BIG, "parser_crashed", "a LEDGER frame larger than "
	    "a window: refused, parser_crashed");
	attack(E_REJECT_QUOTE, "parser_crashed", "a REJECT whose code is "
	    "not a code (a quote, a newline: JSON): parser_crashed");
	attack(E_DETAIL_LINES, "parser_crashed", "a Tier 2 detail of two "
	    "lines (reason.json, sent as NDJSON): parser_crashed");
	attack(E_COUNTS_MANY, "parser_crashed", "a RESULT of 300000 codes "
	    "counted: refused at once, parser_crashed");
	attack(E_BATCH_SCALE, "parser_crashed", "a BATCH whose total has a "
	    "scale of 99: no batch, parser_crashed");
	attack(E_LEDGER_HUGE, "parser_crashed", "a LEDGER record of a "
	    "quantity past 36 digits: the ledger never sees it");
	/* the idle limit down from 600 s, for these two */
	setenv("TD_TEST_PARSER_IDLE", "1", 1);
	attack(E_SILENT, "parser_crashed", "a child that waits for the "
	    "caller, sending nothing: killed after the idle limit");
	attack(E_NO_READ, "parser_crashed", "a child that asks the ledger "
	    "and reads no answer: killed after the idle limit");
	unsetenv("TD_TEST_PARSER_IDLE");
	/* under ASan a frame's locals may live on a fake stack, and its
	 * redzones may not be read; under valgrind, reading a stack's
	 * unset bytes is an error: the scan means nothing there */
	if (stack_scan_ok())
		attack(E_SNOOP, NULL, "a file's child finds nothing of the "
		    "file before it in the memory it was forked with");
	else
		ok(1, "a file's child finds nothing of the file before it "
		    "# SKIP its stack cannot be scanned under ASan or valgrind");
	attack(E_CODES_MANY, NULL, "a child's 300 codes do not make the "
	    "next file's code \"unknown\"");
	attack(E_KEPT_GONE, NULL, "a kept child that dies between two "
	    "files: the next file gets a new child and is not failed");
	attack(E_KEPT, NULL, "a child kept for a second file is the same "
	    "one, and can make no descriptor of its own (dup3 but onto its "
	    "file's, dup, F_DUPFD, recvmsg but on its socket)");


	/* each frame type's limit: a frame one byte over, its header only */
	want_log = buf;
	for (i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		big_type = big[i];
		snprintf(buf, sizeof(buf), "frame=%s size=",
		    frame_names[big[i]]);
		snprintf(name, sizeof(name), "%s: a frame one byte longer "
		    "than an honest child's is refused at its header, logged",
		    frame_names[big[i]]);
		attack(E_FRAME_BIG, "parser_crashed", name);
	}
	/* an endless stream of frames each of which an honest child sends */
	batch_ok = 1;
	for (i = 0; i < sizeof(endless) / sizeof(endless[0]); i++) {
		big_type = endless[i];
		snprintf(buf, sizeof(buf), "frame=%s %s=",
		    frame_names[endless[i]], endless[i] == F_RESET ? "resets" :
		    endless[i] == F_ACK ? "groups" : "rows");
		snprintf(name, sizeof(name), "%s frames without end: cut "
		    "where the file could hold no more, logged",
		    frame_names[endless[i]]);
		attack(E_ENDLESS, "parser_crashed", name);
	}
	want_log = "frame=PASSEND passes=2";
	attack(E_PASSEND_TWICE, "parser_crashed", "two PASSENDs in a pass: "
	    "parser_crashed, logged");
	want_log = NULL;
	attack(E_HOLD_LINES, "parser_crashed", "a held line of two JSON "
	    "lines (hold approve writes it as it is): parser_crashed");
	attack(E_HOLD_OK, NULL, "a held line of one JSON object is held");
	want_log = "frame=RESULT records=5 received=0";
	attack(E_RESULT_RECORDS, "parser_crashed", "a RESULT of 5 records "
	    "where none came: parser_crashed, logged");
	want_log = "frame=RESULT rejected=0 received=1";
	attack(E_RESULT_REJECTED, "parser_crashed", "a RESULT of no "
	    "rejection where one came: parser_crashed, logged");
	want_log = "frame=RESULT raw_sha256_len=0 expected=64";
	attack(E_RESULT_SHA, "parser_crashed", "a RESULT whose raw_sha256 "
	    "is not hex: parser_crashed, logged");
	want_log = "parser_crashed file=f.csv transmission_id=" TID
	    " error=";
	attack(E_RESULT_NOSPACE, "parser_crashed", "a RESULT that says the "
	    "disk is full (the caller would pause intake, this file first "
	    "again every pass): that file fails, parser_crashed, logged");
	want_log = "parser_crashed file=f.csv transmission_id=" TID
	    " error=";
	attack(E_RESULT_EIO, "parser_crashed", "a RESULT that says the "
	    "file could not be read, which the caller reads: that file "
	    "fails, parser_crashed, logged");
	want_log = "raw_unreadable file=f.csv";
	want_r = TD_ERR_IO;
	raw_dir = 1;
	attack(E_RESULT_EIO, NULL, "a RESULT that says the file could not "
	    "be read, which the caller cannot read either: the caller's "
	    "read error (the file is tried again), logged");
	want_r = 0;
	raw_dir = 0;
	want_log = NULL;
	if (pid_placeable())
		attack(E_PID, NULL, "a child that ended and was reaped before "
		    "the caller's kill: the process given its pid since is "
		    "not killed (pidfd)");
	else
		ok(1, "a child reaped before the caller's kill: its pid's "
		    "next process is not killed # SKIP needs root in the "
		    "first namespace (/proc/sys/kernel/ns_last_pid) and "
		    "pidfds (Linux 5.3)");
	attack(E_BATCH_OK, NULL, "a BATCH of one record and the RESULT of "
	    "it: delivered");
	/* encoding = auto reads a document again as windows-1252, then as
	 * mixed UTF-8: nothing else */
	attack(E_RESET_1252_MIXED, NULL, "a document RESET as windows-1252, "
	    "then as mixed: taken");
	want_log = "frame=RESET mixed=1 windows_1252=0";
	attack(E_RESET_MIXED, "parser_crashed", "a document RESET as mixed "
	    "but never as windows-1252: parser_crashed, logged");
	want_log = NULL;
	attack(E_RESET_LEDGER_MIXED, "parser_crashed", "the ledger's second "
	    "pass RESET as mixed: parser_crashed");
	attack(E_RESULT_MIXED, NULL, "a RESULT of a document read as mixed "
	    "UTF-8 under encoding = auto: taken");
	mixed_enc = "windows-1252";
	want_log = "frame=RESULT mixed=1 encoding_auto=1";
	attack(E_RESULT_MIXED, "parser_crashed", "a RESULT of a document read "
	    "as mixed but as windows-1252: parser_crashed, logged");
	want_log = NULL;
	mixed_enc = "utf-8";
	{
		struct td_conf *cauto = conf;

		if ((conf = tu_conf(tmpdir, MAP_STD
		    "[decode]\nencoding = windows-1252\n")) == NULL)
			td_fatal("tu_conf");
		want_log = "frame=RESET document=1 encoding_auto=0";
		attack(E_RESET_1252_MIXED, "parser_crashed", "a document RESET "
		    "with encoding = windows-1252: parser_crashed, logged");
		want_log = "frame=RESULT mixed=1 encoding_auto=0";
		attack(E_RESULT_MIXED, "parser_crashed", "a RESULT of a "
		    "document read as mixed with encoding = windows-1252: "
		    "parser_crashed, logged");
		want_log = NULL;
		td_conf_free(conf);
		conf = cauto;
	}

	/* a big file's batches come through shared memory (SHM slots) */
	big_file = 1;
	attack(E_SLOT_OK, NULL, "a big file: a batch through its SHM slot "
	    "is copied out as it was put there, delivered");
	want_log = "frame=BATCH slot=2 limit=1";
	attack(E_SLOT_OUT, "parser_crashed", "a BATCH in an SHM slot there "
	    "is not: parser_crashed, logged");
	snprintf(buf, sizeof(buf), "frame=BATCH slot_bytes=%llu limit=%llu",
	    (unsigned long long)SHM_SLOT + 1, (unsigned long long)SHM_SLOT);
	want_log = buf;
	attack(E_SLOT_HUGE, "parser_crashed", "a BATCH longer than its SHM "
	    "slot: parser_crashed, logged");
	want_log = NULL;
	setenv("TD_TEST_PARSER_IDLE", "1", 1);
	attack(E_SLOT_SCRIBBLE, "parser_crashed", "a child that writes its "
	    "SHM slot on and on after its BATCH: the caller comes back");
	unsetenv("TD_TEST_PARSER_IDLE");
	want_log = "frame=BATCH slot_bytes=0 limit=";
	attack(E_SLOT_ZERO, "parser_crashed", "a BATCH in an SHM slot of no "
	    "bytes: parser_crashed, logged");
	snprintf(buf, sizeof(buf), "frame=BATCH size=%zu limit=%zu",
	    sizeof(struct fbatch) + 11, sizeof(struct fbatch));
	want_log = buf;
	attack(E_SLOT_TAIL, "parser_crashed", "a BATCH in an SHM slot with "
	    "bytes after it in the frame: parser_crashed, logged");
	want_log = "frame=LEDGER records=4097 limit=4096";
	attack(E_LEDGER_SHM_BIG, "parser_crashed", "a LEDGER in the SHM area "
	    "of one record more than a window: parser_crashed, logged");
	want_log = NULL;
	attack(E_LEDGER_SHM_OK, NULL, "a LEDGER of one record in the SHM "
	    "area: answered (a byte), the file goes on");
	big_file = 0;
	want_log = "frame=BATCH slot=0 limit=0";
	attack(E_SLOT_NONE, "parser_crashed", "a small file (no SHM): a "
	    "BATCH said to be in a slot is refused, parser_crashed, logged");
	want_log = NULL;
	attack(E_ACK_INJECT, "parser_crashed", "a 997 with a segment of the "
	    "child's own (an ISA): refused, parser_crashed");
	test_ack_body();

	/*
	 * A table's value may be longer than max_field lets a row's values
	 * be: the frames and the SHM slot count what the mapping writes
	 * itself, so a line carrying it is not taken for a hostile child.
	 */
	{
		struct td_conf *c2;
		struct mapper *m2 = NULL;
		struct proto pr2;
		struct proc_opts po2;
		char *e2 = NULL, *ml;
		uint64_t room;
		int fd2;

		tu_sh(tmpdir, "{ echo promo_code,promo_id,promo_type; "
		    "printf 'TPR7,'; head -c 65000 /dev/zero | tr '\\0' P; "
		    "echo ,tpr; } > promos.csv");
		ml = xasprintf("%s[map]\npromo_code = column \"Promo\"\n"
		    "promo_file = %s/promos.csv\n[parse]\nmax_field = 16\n",
		    MAP_STD, tmpdir);
		if ((c2 = tu_conf(tmpdir, ml)) == NULL ||
		    mapper_new(c2, &m2, &e2) != 0)
			td_fatal("a conf of a long promo_id: %s", e2 ? e2 : "?");
		memset(&po2, 0, sizeof(po2));
		po2.batch_records = 1000;
		p = xasprintf("%s/f.csv", tmpdir);
		if ((fd2 = open(p, O_RDONLY)) < 0)
			td_fatal("%s", p);
		proto_init(&pr2, c2, m2, fd2, &po2);
		room = pr2.max[F_BATCH] - sizeof(struct fbatch) -
		    PROC_BATCH_BYTES;
		ok(room >= 6 * 65000, "max_field = 16 beside a 65,000-byte promo_id: "
		    "a BATCH frame has room for a line past the batch's cut "
		    "(%llu bytes)", (unsigned long long)room);
		shm_slot_set(c2, m2);
		ok(SHM_SLOT >= PROC_BATCH_BYTES + 6 * 65000, "and so has an SHM "
		    "slot, for the value escaped six bytes a byte (%llu bytes)",
		    (unsigned long long)SHM_SLOT);
		close(fd2);
		x_free(p);
		x_free(ml);
		mapper_free(m2);
		td_conf_free(c2);
	}
	tu_sh("/", "rm -rf '%s'", tmpdir);
	return done_testing();
}
