/*
 * parser.h - the parse stage: one parser per format behind a small ops
 * table, chosen by [parse] format.
 *
 * The processing stage (process.c) unpacks a file into documents,
 * decodes each to UTF-8 and feeds the text to the format's parser. The
 * parser finds the records in it and hands each to emit_record(), which
 * every format shares: it maps the record's field values, keeps the
 * control totals, cuts batches and sends rejections to the sink. A
 * parser that reads column names from the document binds them with
 * emit_header(); one that does not binds the columns by number (names
 * NULL) before its first record.
 *
 *   open(&state, conf, e)       a document starts
 *   feed(state, text, n) ...    its decoded text, in pieces of any size
 *   finish(state)               its end
 *   free(state)                 once open has set a state, whatever
 *                               open, feed or finish returned
 *
 * open, feed and finish return 0 to go on, 1 to stop the file (the
 * emitter holds why: a Tier 2 verdict given with emit_fail() or through
 * emit_header(), or a sink that failed; the emit functions return 1
 * then and the parser returns it), or a negative TD_ERR_* for a local
 * failure. Nothing is allocated per record: field values point into the
 * parser's buffers and are read only during the emit call.
 */
#ifndef TD_PARSER_H
#define TD_PARSER_H

#include <stddef.h>
#include <stdint.h>

struct td_conf;
struct emitter;

/* A field value: not NUL-terminated; may contain NUL. */
struct td_field {
	const char	*p;
	size_t		 len;
};

/* One record as its parser found it. */
struct prec {
	const struct td_field *f;	/* its values, by column */
	size_t		 nf;
	uint64_t	 pos;		/* where it starts (see position) */
	const char	*raw;		/* its source text, for a rejection */
	size_t		 rawlen;
	/* not NULL: the parser rejects it itself (it is not valid syntax),
	 * with this Tier 3 code and message; f and nf are not read */
	const char	*code;
	const char	*msg;
};

struct parser_ops {
	const char	*name;		/* the [parse] format value */
	/* what a record's position counts, as its source object names
	 * it: "line" (CSV) or "segment" (X12) */
	const char	*position;
	/*
	 * NULL, or the format's own mapping, used instead of the fields of
	 * [map]: pairs of a canonical field name ("store_id", ...,
	 * "period_start") and a [map] expression over the columns the
	 * parser gives its records, ending with NULL.
	 */
	const char * const *map;
	int		(*open)(void **state, const struct td_conf *,
			    struct emitter *);
	int		(*feed)(void *state, const char *text, size_t n);
	int		(*finish)(void *state);
	void		(*free)(void *state);
	/*
	 * 1: a row that holds bytes that are not UTF-8, in a mixed document
	 * (encoding = auto: tradedrop.conf(5), [decode]), is rejected by
	 * the parser alone, which asks emit_row_bad() of each row it reads;
	 * 0: a mixed document is refused whole (decode_mixed)
	 */
	int		 bad_rows;
};

/* The parser of a format; NULL when this version has none. */
const struct parser_ops *parser_find(const char *format);

extern const struct parser_ops parser_csv;
extern const struct parser_ops parser_x12;

/*
 * Bind the document's columns: names are its column names (a header),
 * found at position pos; NULL (n 0): columns are named by number only.
 * 0, or 1: the file is refused (a mapped column missing or named twice,
 * a file name that is not UTF-8).
 */
int	 emit_header(struct emitter *, const struct td_field *names, size_t n,
	    uint64_t pos);
/*
 * emit_header, refusing a header that lacks a mapped column with a hint
 * of the parser's (NULL: none) and the skip_rows it suggests (0: none),
 * for the message and reason.json's detail.
 */
int	 emit_header_hint(struct emitter *, const struct td_field *names,
	    size_t n, uint64_t pos, const char *hint, uint64_t skip_rows);
/*
 * Whether names would bind the document's columns, without refusing
 * anything: 0, TD_ERR_FORMAT (a mapped column missing), TD_ERR_EXISTS
 * (one named twice), TD_ERR_INVAL (a file name that is not UTF-8). A
 * parser looks ahead with it for a header further down.
 */
int	 emit_header_fits(struct emitter *, const struct td_field *names,
	    size_t n);
struct ack_group;
/* The 997 of a functional group the document holds (taken over). */
void	 emit_ack(struct emitter *, struct ack_group *);
/*
 * count quantities the format reads but makes no record of (those of an
 * 852 ZA whose code, n bytes, is not in x12_activity: its SDQ pairs, or
 * one): counted by code for the manifest, never dropped silently.
 */
void	 emit_skipped(struct emitter *, const char *code, size_t n,
	    uint64_t count);
/*
 * Of the row the parser has just read to its end (any row: skipped, the
 * header, data), in a mixed document: 1 when it holds bytes that are
 * not UTF-8, with a message naming the first invalid sequence (its byte
 * offset in the document and its bytes in hex) and how many more the
 * row has, in msg (n bytes); 0 when it does not. The invalid sequences
 * are given to the parser as they are, and counted for the row that is
 * open when they come (process_doc), so that the row that ends next
 * holds them.
 */
int	 emit_row_bad(struct emitter *, char *msg, size_t n);
/* One record: mapped into the batch, or rejected (Tier 3). 0 or 1. */
int	 emit_record(struct emitter *, const struct prec *);
/*
 * The whole file is refused (Tier 2) with code and a message, which is
 * prefixed with the archive member when there is one. Returns 1.
 */
int	 emit_fail(struct emitter *, const char *code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* The same, with the position (a segment, a line) in reason.json's
 * detail: {"segment": pos, "member": ...}. Returns 1. */
int	 emit_fail_at(struct emitter *, uint64_t pos, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
