/*
 * x12.h - the ANSI X12 tokeniser and envelope checker, streaming.
 *
 * Text is fed in pieces of any size. The delimiters come from each ISA
 * segment (106 characters with fixed-width fields): the element
 * separator is its 4th character, the repetition separator ISA11 (when
 * the interchange is 00402 or later), the component separator ISA16,
 * and the segment terminator the character after ISA16. A UTF-8 BOM
 * before the first ISA and CR, LF, blanks and tabs between segments are
 * skipped; one file may hold several interchanges.
 *
 * Every segment that passes the envelope checks is handed to the
 * callback with its elements; the first fault stops the reader and is
 * kept (x12_fault) with a stable code, the ordinal of the segment (ISA
 * being 1 in each interchange) and a message. Memory is bounded: a
 * segment is at most X12_MAX_SEGMENT bytes and X12_MAX_ELEMENTS
 * elements.
 */
#ifndef TD_X12_H
#define TD_X12_H

#include <stddef.h>
#include <stdint.h>

#include "parser.h"

#define X12_MAX_SEGMENT		4096	/* bytes, the terminator excluded */
#define X12_MAX_ELEMENTS	256	/* the segment id included */

struct x12;

/* One segment: el[0] is its id, el[1] its first element, ... */
struct x12_seg {
	const struct td_field *el;
	size_t		 nel;
	uint64_t	 ordinal;	/* in its interchange, ISA being 1 */
	uint64_t	 interchange;	/* 1 for the first of the file */
	const char	*raw;		/* the segment's text, no terminator */
	size_t		 rawlen;
	char		 comp;		/* component separator */
	int		 rep;		/* repetition separator, or -1 */
};

/*
 * Called for each segment that passes the envelope checks (ISA, GS, ST,
 * the segments of the set, SE, GE, IEA). 0 to go on; anything else
 * stops the reader and is returned by x12_feed/x12_finish.
 */
typedef int	(*x12_seg_cb)(void *arg, const struct x12_seg *);

/*
 * Transaction set ids that may appear (NULL-terminated); another is a
 * fault x12_unsupported_set. Versions likewise (GS08, 6 characters; a
 * suffix such as 004010VICS is allowed); another is
 * x12_unsupported_version. NULL: any.
 */
struct x12_opts {
	const char * const *sets;
	const char * const *versions;
};

struct x12	*x12_new(const struct x12_opts *);
void		 x12_free(struct x12 *);
/*
 * Feed n bytes. Returns 0 to go on, X12_FAULT when the text is refused
 * (see x12_fault), or what the callback returned.
 */
#define X12_FAULT	1
int		 x12_feed(struct x12 *, const char *text, size_t n,
		    x12_seg_cb, void *arg);
/* The end of the text: as x12_feed. */
int		 x12_finish(struct x12 *, x12_seg_cb, void *arg);
/* The fault: its code (NULL when none), segment ordinal, message. */
const char	*x12_fault(const struct x12 *, uint64_t *ordinal,
		    const char **msg);
/*
 * The id of the segment at fault ("SE", "GE", ...), or "" when it is not
 * known (a malformed ISA, the end of the text).
 */
const char	*x12_fault_id(const struct x12 *);
/* The elements of the segment at fault (el[0] its id); 0: not known. */
size_t		 x12_fault_elements(const struct x12 *,
		    const struct td_field **el);
/* Interchanges read to their IEA so far. */
uint64_t	 x12_interchanges(const struct x12 *);

/* Does field f hold exactly the NUL-terminated s? */
int		 x12_is(const struct td_field *f, const char *s);

#endif
