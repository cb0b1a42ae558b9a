/*
 * csv.h - streaming RFC 4180 CSV parser.
 *
 * Bytes arrive in chunks of any size through csv_feed(); every complete
 * record is handed to a callback.  The parser owns bounded buffers (the
 * unquoted bytes of one record, the raw text of one record, the field
 * array) and allocates nothing per field or record once they are warm.
 *
 * Grammar: RFC 4180 with CRLF, LF and lone CR line ends (mixed freely);
 * a UTF-8 BOM at the very start of input is skipped; empty lines are
 * skipped (no record, but they count as lines); a field that starts with
 * a quote is quoted ("" is a literal quote, delimiters and line ends are
 * data and kept verbatim); a quote inside an unquoted field is literal;
 * anything between a closing quote and the next delimiter or line end
 * rejects the record (CSV_E_BAD_QUOTE).  A NUL byte is never text: it
 * rejects the record (CSV_E_NUL_BYTE), quoted or not.
 *
 * A record that breaks a rule or a limit is still delivered, with err set
 * and only line/raw/rawlen meaningful; parsing resumes after the end of
 * that record (quotes are honoured while looking for it).  When several
 * problems occur in one record, the one whose byte comes first is
 * reported; if a field-level problem and the record limit are crossed by
 * the same byte, the field-level code wins.  errfield names the field of
 * a field-level problem (1-based; 0 for the record limits).
 */
#ifndef TD_CSV_H
#define TD_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "parser.h"	/* struct td_field: the fields every parser gives */

/* Record error codes (csv_rec.err); csv_errcode() names them. */
#define CSV_E_RECORD_TOO_LONG	1	/* raw record > max_record bytes */
#define CSV_E_FIELD_TOO_LONG	2	/* unquoted field > max_field bytes */
#define CSV_E_TOO_MANY_FIELDS	3	/* more than max_fields fields */
#define CSV_E_BAD_QUOTE		4	/* data after a closing quote */
#define CSV_E_UNTERMINATED	5	/* quoted field open at end of input */
#define CSV_E_NUL_BYTE		6	/* a NUL byte in the record */

/* Used for csv_opts members left at 0. */
#define CSV_DEFAULT_DELIM	','
#define CSV_DEFAULT_MAX_FIELD	(64 * 1024)
#define CSV_DEFAULT_MAX_RECORD	(1024 * 1024)
#define CSV_DEFAULT_MAX_FIELDS	1024

struct csv_opts {
	unsigned char	 delim;		/* any byte but '"', CR, LF; 0: ',' */
	size_t		 max_field;	/* max bytes of one field after unquoting */
	size_t		 max_record;	/* max raw bytes of one record */
	size_t		 max_fields;	/* max fields per record */
};

struct csv_rec {
	const struct td_field *f;	/* valid only during the callback */
	size_t		 nf;
	uint64_t	 line;		/* 1-based physical line of its start */
	const char	*raw;		/* raw bytes without the line end, */
	size_t		 rawlen;	/* truncated to max_record */
	int		 err;		/* 0 or CSV_E_*: f/nf not meaningful */
	size_t		 errfield;	/* 1-based field of err, or 0 */
};

/* A nonzero return stops parsing; csv_feed()/csv_finish() return it. */
typedef int (*csv_cb)(void *, const struct csv_rec *);

struct csv;

/*
 * NULL opts: all defaults.  Returns NULL if delim is '"', CR or LF, or
 * max_fields is too large to allocate.
 */
struct csv	*csv_new(const struct csv_opts *);
/*
 * Returns 0, the callback's nonzero value (bytes after csv_bytes() were
 * not consumed; feeding them again resumes correctly), or TD_ERR_INVAL
 * after csv_finish().
 */
int		 csv_feed(struct csv *, const void *, size_t, csv_cb, void *);
/* End of input: emits an unfinished last record. */
int		 csv_finish(struct csv *, csv_cb, void *);
void		 csv_free(struct csv *);
/* Stable code for logs and state.db; "csv_ok" for 0. */
const char	*csv_errcode(int);
/* Input bytes consumed so far (including a skipped BOM). */
uint64_t	 csv_bytes(const struct csv *);

#endif
