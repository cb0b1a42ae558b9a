/*
 * decode.h - streaming transcoding of a document to UTF-8, table driven.
 *
 *   DEC_UTF8     strict: invalid UTF-8 is an error (decode_invalid_utf8)
 *   DEC_UTF8_TRY encoding = auto's first reading: like DEC_UTF8, but an
 *                invalid sequence before any valid multi-byte one is
 *                the error decode_not_utf8 (the caller retries as
 *                DEC_CP1252_TRY), and one after a valid multi-byte
 *                sequence makes the document mixed: from there on it
 *                is read as DEC_UTF8_MIXED
 *   DEC_UTF8_MIXED a mixed document: valid UTF-8 is copied, and each
 *                invalid sequence (its maximal subpart, as Unicode
 *                chapter 3 defines it for U+FFFD substitution: 1 to 3
 *                bytes) is copied as it is and reported (DEC_BAD), for
 *                the caller to reject the row that holds it
 *   DEC_CP1252   every byte mapped per the WHATWG windows-1252 index
 *                (0x81 0x8D 0x8F 0x90 0x9D map to U+0081 ... as WHATWG does)
 *   DEC_CP1252_TRY encoding = auto's second reading: DEC_CP1252, but a
 *                valid UTF-8 multi-byte sequence (a lead byte C2-F4 and
 *                its continuation bytes, Unicode Table 3-7) is the
 *                error decode_mixed_retry at its offset: the document
 *                is mixed, and the caller reads it as DEC_UTF8_MIXED
 *   DEC_LATIN1   ISO-8859-1: byte b is U+00bb
 *   DEC_UTF16LE, DEC_UTF16BE: unpaired surrogates are errors
 *                (decode_invalid_utf16)
 *
 * decoder_sniff() looks at the first bytes of a document for a BOM.
 * A BOM is consumed, never emitted; a U+FEFF later in the document (two
 * files joined, a stray zero width no-break space) is dropped too.
 */
#ifndef TD_DECODE_H
#define TD_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define DEC_UTF8	1
#define DEC_UTF8_TRY	2
#define DEC_CP1252	3
#define DEC_LATIN1	4
#define DEC_UTF16LE	5
#define DEC_UTF16BE	6
#define DEC_CP1252_TRY	7
#define DEC_UTF8_MIXED	8

/* decoder_feed_part(), decoder_finish(): an invalid sequence (mixed) */
#define DEC_BAD		1

struct decoder;

/*
 * From the first n bytes (n may be small; at least 4 when available):
 * DEC_UTF8 for a UTF-8 BOM, DEC_UTF16LE/BE for a UTF-16 BOM, else 0.
 */
int	 decoder_sniff(const void *p, size_t n);
/*
 * From the first n bytes of a document without a BOM: DEC_UTF16LE or
 * DEC_UTF16BE when they look like UTF-16 text of that byte order (a NUL
 * in most odd, or most even, bytes and few on the other side), else 0.
 */
int	 decoder_looks_utf16(const void *p, size_t n);
struct decoder *decoder_new(int enc);
void	 decoder_free(struct decoder *);
/*
 * Append the UTF-8 of n more input bytes to out (a sequence may span
 * calls). 0, TD_ERR_FORMAT on undecodable input (see decoder_error), or
 * TD_ERR_LIMIT when out is full. A mixed document's invalid sequences
 * are copied as they are.
 */
int	 decoder_feed(struct decoder *, const void *in, size_t n,
	    struct td_buf *out);
/*
 * decoder_feed, but a mixed document's decoding stops after each
 * invalid sequence: DEC_BAD, with out ending in the sequence's bytes
 * (decoder_bad says how many, and where) and *used the bytes of in
 * taken, through that sequence; the caller feeds the rest again. Else
 * as decoder_feed, *used n on 0.
 */
int	 decoder_feed_part(struct decoder *, const void *in, size_t n,
	    struct td_buf *out, size_t *used);
/*
 * End of input: a truncated sequence is an error; in a mixed document
 * it is an invalid sequence, appended to out: DEC_BAD.
 */
int	 decoder_finish(struct decoder *, struct td_buf *out);
/* After DEC_BAD: the sequence's length (1 to 3) and input offset. */
size_t	 decoder_bad(const struct decoder *, uint64_t *off);
/*
 * 1 when the document is mixed (DEC_UTF8_MIXED, or DEC_UTF8_TRY once it
 * met an invalid sequence after a valid multi-byte one). first_multi,
 * first_bad: the input offsets of the first valid multi-byte sequence
 * and of the first invalid one met so far, UINT64_MAX when none; nbad:
 * the invalid sequences. Each may be NULL.
 */
int	 decoder_mixed(const struct decoder *, uint64_t *first_multi,
	    uint64_t *first_bad, uint64_t *nbad);
/* "utf-8", "windows-1252", "iso-8859-1", "utf-16le", "utf-16be"
 * (utf-8 when mixed, windows-1252 for DEC_CP1252_TRY) */
const char *decoder_name(const struct decoder *);
/* After TD_ERR_FORMAT: stable code, and the input byte offset of the error. */
const char *decoder_errcode(const struct decoder *);
uint64_t decoder_erroffset(const struct decoder *);
/* Map a config name (utf-8, windows-1252, iso-8859-1, utf-16) to DEC_*. */
int	 decoder_from_name(const char *);

#endif
