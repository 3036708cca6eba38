/*
 * buf.h — growable byte buffers with a hard cap, and string slices.
 *
 * Every buffer fed by input has a named limit (like curl's dynbuf): going
 * past it fails with ERR_TOO_LARGE instead of allocating whatever a peer
 * asked for. The bytes are always NUL-terminated (not counted in n), so
 * b->p can be handed to C string functions. A struct buf is owned by whoever
 * declared it; buf_detach hands the memory over to the caller.
 */
#ifndef LT_BASE_BUF_H
#define LT_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include "err.h"

struct buf {
	char *p;		/* NULL until the first append */
	size_t n;		/* bytes used, not counting the trailing NUL */
	size_t alloc;		/* bytes allocated */
	size_t limit;		/* most bytes it may hold; 0 = SIZE_MAX */
};

/* A slice: borrowed bytes, not NUL-terminated. */
struct str {
	const char *p;
	size_t n;
};

#define STR_LIT(s) ((struct str){ (s), sizeof(s) - 1 })
#define STR_FMT(s) (int)(s).n, (s).p	/* printf("%.*s", STR_FMT(s)) */

void buf_init(struct buf *b, size_t limit);
void buf_release(struct buf *b);
void buf_clear(struct buf *b);	/* n = 0, memory kept */
int buf_append(struct buf *b, const void *p, size_t n) LT_MUST_CHECK;
int buf_puts(struct buf *b, const char *s) LT_MUST_CHECK;
int buf_putc(struct buf *b, char c) LT_MUST_CHECK;
int buf_printf(struct buf *b, const char *fmt, ...) LT_PRINTF(2, 3) LT_MUST_CHECK;
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) LT_MUST_CHECK;
/* Appends the contents of the file at path (ERR_IO, or ERR_TOO_LARGE past
 * b's limit). */
int buf_read_file(struct buf *b, const char *path, struct err *e) LT_MUST_CHECK;
/* Returns the bytes (malloc'ed, NUL-terminated) and resets b. */
char *buf_detach(struct buf *b, size_t *n);

struct str str_from(const char *s);
int str_eq(struct str a, const char *s);		/* exact, s NUL-terminated */
int str_ieq(struct str a, const char *s);		/* ASCII case-insensitive */
int str_has_prefix(struct str a, const char *prefix);
/* The value of a hexadecimal digit (either case), or -1. */
int str_hex_digit(char c);
/* Copies into dst (size dstsz), NUL-terminated; returns 0 or ERR_TOO_LARGE. */
int str_copy(char *dst, size_t dstsz, struct str s) LT_MUST_CHECK;

#endif
