/*
 * process.h - one received file through unpack, decode, parse and map:
 * documents (archive members) in, record lines into batch buffers,
 * rejections to a callback. The parser is the one [parse] format names
 * (parser.h); records of every format go through the same mapping,
 * totals, batching and rejection (emit_record). Shared by `once` and
 * `try`. Memory is bounded by the parser's limits, the read block and
 * batch_records.
 */
#ifndef TD_PROCESS_H
#define TD_PROCESS_H

#include <stdint.h>

#include "buf.h"
#include "decimal.h"
#include "ledger.h"

struct ack_group;
struct mapper;
struct map_result;
struct ledger_verdict;
struct parser_ops;
struct td_conf;

struct batch_totals {
	struct td_dec	 quantity;
	struct td_dec	 amount;
	int		 has_amount;
};

struct rejection {
	int		 tier;
	const char	*code;
	const char	*message;
	const char	*member;	/* archive member or NULL */
	uint64_t	 line;		/* 0: whole document */
	const char	*raw;		/* raw row text, or NULL */
	size_t		 rawlen;
};

/*
 * A mapped record asked of the Tier 4 ledger a window at a time (the
 * parser child: see ledger_ask): what the ledger reads of it, then its
 * verdict and the quantity, amount and line as the ledger leaves them.
 */
/* sink->ledger_ask: the most records of a window, and the bytes of its
 * lines at which one is asked before it has that many */
#define PROC_WIN_ROWS	4096
#define PROC_WIN_BYTES	((size_t)4 << 20)
/* a batch is cut at batch_records, or once its lines reach this */
#define PROC_BATCH_BYTES	((size_t)64 << 20)

struct ledger_item {
	unsigned char	 record_id[16];
	unsigned char	 record_key[16];
	unsigned char	 values[16];
	uint32_t	 kday;		/* map_result's */
	struct td_dec	 quantity;
	struct td_dec	 amount;
	int		 has_amount;
	/* its JSON line: off, len in buf (the stage, or the lines of the
	 * mapping thread that mapped it, not copied into the stage) */
	const struct td_buf *buf;
	size_t		 off, len;
	struct ledger_verdict v;
};

struct proc_sink {
	/* An empty buffer for the next batch. */
	struct td_buf	*(*buffer)(void *arg);
	/* A batch of nrec records is complete (also the last, partial one),
	 * with the control totals of its records. */
	int		(*batch)(void *arg, struct td_buf *, uint64_t nrec,
			    const struct batch_totals *);
	/* A Tier 3 rejection (the document goes on). */
	int		(*reject)(void *arg, const struct rejection *);
	/*
	 * Forget every batch and rejection received so far: the file is
	 * processed again from its first byte, because encoding = auto
	 * found that document doc (0-based) is not UTF-8 and reads it as
	 * windows-1252 this time (mixed 0), or, read so, found it mixed
	 * and reads it as UTF-8, its rows that are not UTF-8 rejected
	 * (mixed 1; tradedrop.conf(5), [decode]). No buffer given out
	 * before is used again.
	 */
	int		(*reset)(void *arg, size_t doc, int mixed);
	/*
	 * Tier 4 (NULL: none, as in `try`): classify a mapped record, its
	 * JSON line at start in the batch buffer (up to its end), which the
	 * ledger may change (restates; the sums of [map] duplicates = sum,
	 * also in the map_result).
	 */
	int		(*ledger)(void *arg, struct map_result *,
			    struct td_buf *, size_t start,
			    struct ledger_verdict *);
	/*
	 * With ledger called without the line (the buffer NULL, for the
	 * parser child): a held restatement's line, as ledger_hold().
	 */
	int		(*ledger_hold)(void *arg, const struct map_result *,
			    const char *line, size_t len, const char *restates);
	/*
	 * With ledger: a pass over the file is over (not stopped early);
	 * *again = 1 when the ledger met a key on two rows of it: the file
	 * is read again, after reset(arg, SIZE_MAX, 0).
	 */
	int		(*pass_end)(void *arg, int *again);
	/*
	 * Tier 4 a window of records at a time, instead of ledger (the
	 * parser child, where each question is a round trip to the caller):
	 * ledger_ask is given the n mapped records of a window in row
	 * order, each line in its item's buf; ledger_collect later fills in
	 * each one's verdict (its what, and its msg: what is read of it),
	 * quantity, amount and, when it changed, its line (appended to
	 * stage, with buf, off and len). The next window
	 * is mapped in between; rows and rejections wait with the records,
	 * so that everything reaches the sink in the order of the file.
	 */
	int		(*ledger_ask)(void *arg, struct ledger_item *const *,
			    size_t n, const struct td_buf *stage);
	int		(*ledger_collect)(void *arg, struct ledger_item *const *,
			    size_t n, struct td_buf *stage);
	/*
	 * format = x12: the 997 group of a functional group read, given
	 * (the callee frees it). NULL: kept in the result's acks.
	 */
	int		(*ack)(void *arg, struct ack_group *);
	void		*arg;
};

/*
 * Rejected rows counted by code, in the order the codes were first seen.
 * Bounded: one entry per distinct code, and codes are a fixed set.
 */
struct rej_count {
	char		 code[48];
	uint64_t	 n;
};
struct rej_counts {
	struct rej_count *v;
	size_t		 n;
};
void	rej_counts_add(struct rej_counts *, const char *code, uint64_t n);
void	rej_counts_merge(struct rej_counts *, const struct rej_counts *);
void	rej_counts_free(struct rej_counts *);
/*
 * Most frequent first, then by name: as a JSON object ({"code":n,...},
 * {} when none), or as text "code:n,code:n" ("" when none).
 */
void	rej_counts_json(const struct rej_counts *, struct td_buf *);
void	rej_counts_text(const struct rej_counts *, struct td_buf *);

struct proc_doc {
	char		*member;	/* NULL for the file itself */
	const char	*encoding;	/* "utf-8", "windows-1252", ... */
	uint64_t	 rows, records, rejected;
	/*
	 * 1: encoding = auto read it as a mixed document (UTF-8 with bytes
	 * that are not, its rows that hold them rejected as invalid_utf8);
	 * the input offsets of its first valid multi-byte sequence and of
	 * its first invalid one, and how many invalid sequences it has
	 */
	int		 mixed;
	uint64_t	 first_multi, first_bad, nbad;
};

struct proc_result {
	uint64_t	 rows;		/* data rows seen (records in) */
	uint64_t	 records;	/* records produced */
	uint64_t	 rejected;	/* Tier 3 */
	struct rej_counts by_code;	/* the Tier 3 rejections by code */
	uint64_t	 held;		/* Tier 4 restatements held */
	uint64_t	 duplicate;	/* Tier 4 duplicate_record, withheld */
	uint64_t	 restated;	/* restatements forwarded (in records) */
	uint64_t	 summed;	/* rows added into an earlier row's record */
	uint64_t	 unknown_promo;	/* records produced whose promo_code is
					 * not in promo_file (in records) */
	int		 again;		/* the ledger wants another pass */
	int		 pass2;		/* this is that pass */
	/*
	 * The ledger's first pass: where the control totals went past 36
	 * digits (the whole message), decided only at the end of the pass,
	 * as a second pass counts other rows (NULL: they did not).
	 */
	char		*over;
	uint64_t	 batches;
	struct td_dec	 quantity;	/* control totals of produced records */
	struct td_dec	 amount;
	int		 has_amount;
	/* the period covered: the earliest and latest txn_date of the
	 * records produced, "" when none */
	char		 first_date[11];
	char		 last_date[11];
	/* 1 when max_rows stopped the file before its end */
	int		 partial;
	struct proc_doc	*docs;		/* one per document, in order */
	size_t		 ndocs;
	char		 format[32];	/* outer container: "raw", "zip", ... */
	/* Tier 2: the whole file is refused */
	const char	*t2code;
	char		 t2msg[512];
	char		*t2detail;	/* JSON object text, or NULL */
	int		 ioerr;		/* a sink failed: TD_ERR_* */
	/*
	 * The SHA-256 (lowercase hex) and size of every byte read from the
	 * fd, offset 0 to its end: what was parsed, and the rest of the file
	 * read after it. "" when process_file() returned an error; a file
	 * that changed while it was read is refused as Tier 2 file_changed
	 * and has "" too.
	 */
	char		 raw_sha256[65];
	uint64_t	 raw_size;
	/* format = x12: the 997 of each functional group read (ack.h),
	 * in the order of the file */
	struct ack_group **acks;
	size_t		 nacks;
	/* format = x12: 852 ZA activities that make no record (codes not
	 * in x12_activity), counted by code */
	struct rej_counts skipped;
};

struct proc_opts {
	const char	*transmission_id;
	const char	*file;		/* name of the received file */
	uint64_t	 batch_records;
	/* 0, or stop (res->partial) at the first data row after this many:
	 * a quick look, not a verdict on the whole file (try --first) */
	uint64_t	 max_rows;
	/* the parser; NULL: the one [parse] format names */
	const struct parser_ops *parser;
	/* sandbox_process_file: NULL, or the file may be parsed by the
	 * child of the job's file before of the same signer (the key id of
	 * its verified signature, "" for a file not signature-verified) */
	const char	*signer;
};

/*
 * Map with n threads (this one included; at most 8) from now on: a
 * window of rows waiting for the ledger is mapped in n slices at once,
 * each by a clone of m (mapper_clone), and the output is the same
 * whatever n is. Only for a process that will not fork (the parser
 * child, before it confines itself: the threads are confined with it);
 * m must live as long as the process. Returns the threads there are
 * (1: none were made). Without it, rows are mapped one by one as read.
 */
int	proc_threads_start(const struct mapper *m, int n);
/* A test hook: fn once on each mapping thread; how many ran it. */
int	proc_threads_each(void (*fn)(void));

/*
 * Process the file read from fd (a regular file: with encoding = auto
 * it may be read again from offset 0, after sink->reset). Returns 0 when
 * it was read to the end (look at res->t2code), or a negative TD_ERR_*
 * for a local failure (I/O, disk full) that must be retried.
 */
int	process_file(struct mapper *, const struct td_conf *, int fd,
	    const struct proc_opts *, const struct proc_sink *,
	    struct proc_result *);
void	proc_result_clear(struct proc_result *);
/*
 * A warning (event=decode_mixed) for each document of res read as a
 * mixed document: once per document, from the pass that counts.
 */
void	proc_log_mixed(const struct proc_result *, const char *file);
/* "utf-8" for one document, its encoding; "mixed" when they differ. */
const char *proc_encoding(const struct proc_result *);

#endif
