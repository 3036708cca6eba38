/*
 * utf8.h — well-formed UTF-8 (RFC 3629): no overlongs, no surrogates, at most
 * U+10FFFF. Used by the strict JSON scanner and to keep error messages (which
 * quote request text) valid. Thread-safe, no state.
 */
#ifndef LT_BASE_UTF8_H
#define LT_BASE_UTF8_H

#include <stddef.h>

/* Length (1-4) of the well-formed sequence at p, of at most left bytes,
 * or 0 when the bytes there are not well-formed UTF-8. */
size_t utf8_seq_len(const unsigned char *p, size_t left);

/* Makes the NUL-terminated s valid UTF-8 in place: each byte of a bad or
 * cut sequence becomes '?', and control characters become ' '. */
void utf8_sanitize(char *s);

#endif
