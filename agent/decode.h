/*
 * decode.h - streaming transcoding of a document to UTF-8, table driven.
 *
 *   DEC_UTF8     strict: invalid UTF-8 is an error (decode_invalid_utf8)
 *   DEC_UTF8_TRY like DEC_UTF8, but the error code is decode_not_utf8:
 *                the caller (encoding = auto) retries as windows-1252
 *   DEC_CP1252   every byte mapped per the WHATWG windows-1252 index
 *                (0x81 0x8D 0x8F 0x90 0x9D map to U+0081 ... as WHATWG does)
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
 * TD_ERR_LIMIT when out is full.
 */
int	 decoder_feed(struct decoder *, const void *in, size_t n,
	    struct td_buf *out);
/* End of input: a truncated sequence is an error. */
int	 decoder_finish(struct decoder *, struct td_buf *out);
/* "utf-8", "windows-1252", "iso-8859-1", "utf-16le", "utf-16be" */
const char *decoder_name(const struct decoder *);
/* After TD_ERR_FORMAT: stable code, and the input byte offset of the error. */
const char *decoder_errcode(const struct decoder *);
uint64_t decoder_erroffset(const struct decoder *);
/* Map a config name (utf-8, windows-1252, iso-8859-1, utf-16) to DEC_*. */
int	 decoder_from_name(const char *);

#endif
