/*
 * hl7v2_int.h — inside a parsed HL7 v2 message, for message.c, ack.c, the
 * unit tests and the fuzz target. Other modules include hl7v2.h only.
 *
 * hl7v2_parse makes one pass over the bytes and writes the decoded text of
 * the whole message into one buffer: converted to UTF-8, escape sequences
 * resolved, segments joined by CR. The separators that structure the message
 * are copied as they came, so that a repetition or a component is still one
 * contiguous slice of the text; a separator character that came out of an
 * escape sequence (\S\, \R\, \T\, \X5E\) is marked in the bitmap `lit`, so
 * that the accessors do not take it for a separator. The index keeps the
 * offset of each segment and of each field; repetitions, components and
 * subcomponents are found on demand by scanning one field.
 */
#ifndef LT_HL7V2_INT_H
#define LT_HL7V2_INT_H

#include <stddef.h>
#include <stdint.h>
#include "hl7v2.h"

/* The delimiters of a message: MSH-1 and MSH-2. '\0' for one the message
 * does not use (MSH-2 may be shorter than four characters). */
struct hl7v2_enc {
	char field, comp, rep, esc, sub, trunc;
};

struct hl7v2_seg {
	char name[4];
	uint32_t start, end;	/* [start, end) in text: from the name to the last byte */
	uint32_t first;		/* index in fields[] of the first piece after the name */
	uint32_t nfields;	/* pieces after the name (MSH: the first one is MSH-2) */
};

struct hl7v2_msg {
	char *text;			/* decoded, UTF-8, NUL-terminated (not counted in n) */
	size_t n;
	unsigned char *lit;		/* 1 bit per text byte: not a separator; NULL when none */
	struct hl7v2_enc enc;
	struct hl7v2_seg *segs;
	size_t nsegs;
	uint32_t *fields;		/* text offset where each piece starts */
	size_t nfields;
};

/* Whether the character at text offset i came out of an escape sequence. */
static inline int hl7v2_is_lit(const struct hl7v2_msg *m, size_t i)
{
	return m->lit && (m->lit[i >> 3] >> (i & 7)) & 1;
}

/* Reads MSH-1 and MSH-2 at p (which starts with "MSH"); 0 or -1 when they
 * are not usable, with the reason in why and the field (1 or 2) in *field. */
int hl7v2_enc_read(const char *p, size_t n, struct hl7v2_enc *enc, const char **why, int *field);

#endif
