/*
 * fuzz_hl7v2.c — the HL7 v2 parser and ACKs (src/hl7v2/message.c, ack.c).
 *
 * Input: any bytes, as the content of an MLLP frame (or a batch file).
 * Oracles, besides the sanitizers:
 *   - a refusal carries an error code, an issue, and in *at a table 0357
 *     code; a success leaves a message whose text is UTF-8 without NUL;
 *   - every hl7v2_str the accessors return lies inside the message's text,
 *     or is NULL; the header's too; hl7v2_reps agrees with hl7v2_get
 *     (repetition reps - 1 is there, repetition reps is not);
 *     hl7v2_find finds segments by their name;
 *   - the ACK of a parsed message (AA, and AE with a location and a text
 *     taken from the input) parses with hl7v2_parse and its MSA-2 is the
 *     message's MSH-10; the ACK built from the raw bytes (m = NULL) parses
 *     too, and when the input was a message, answers its MSH-10 as well;
 *   - hl7v2_split hands out pieces of the input, in order, each starting
 *     with MSH.
 */
#include <stddef.h>
#include <stdint.h>
#include "fuzz_util.h"
#include "base/utf8.h"
#include "hl7v2/hl7v2.h"
#include "hl7v2/hl7v2_int.h"

/* Accessor calls per input, at most: keeps a 4 KiB input fast. */
#define FZ_HL7V2_MAX_CALLS 20000

static void fuzz_hl7v2_inside(const struct hl7v2_msg *m, struct hl7v2_str v, const char *what)
{
	if (!v.p)
		return;
	if (v.p < m->text || v.p > m->text + m->n || v.n > (size_t)(m->text + m->n - v.p))
		fz_fail(what, NULL, 0);
}

static void fuzz_hl7v2_text(const struct hl7v2_msg *m)
{
	size_t i = 0;

	while (i < m->n) {
		size_t len = utf8_seq_len((const unsigned char *)m->text + i, m->n - i);

		if (len == 0 || m->text[i] == '\0') {
			fz_fail("the decoded text is not UTF-8 without NUL", m->text, m->n);
			return;
		}
		i += len;
	}
}

static void fuzz_hl7v2_accessors(const struct hl7v2_msg *m)
{
	struct hl7v2_header h;
	long calls = 0;

	hl7v2_header(m, &h);
	{
		const struct hl7v2_str all[] = { h.sending_app, h.sending_facility, h.receiving_app,
						 h.receiving_facility, h.message_code, h.trigger,
						 h.structure, h.control_id, h.processing_id, h.version,
						 h.accept_ack, h.app_ack, h.charset };

		for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++)
			fuzz_hl7v2_inside(m, all[k], "a header field lies outside the message");
	}
	for (size_t i = 0; i < hl7v2_segments(m) && calls < FZ_HL7V2_MAX_CALLS; i++) {
		const char *name = hl7v2_segment_name(m, i);
		int fields = (int)m->segs[i].nfields + (i == 0) + 1;

		if (!name || strlen(name) != 3 || hl7v2_find(m, name, i) != (long)i)
			fz_fail("hl7v2_find does not find a segment by its name", name, name ? 3 : 0);
		for (int f = 0; f <= fields && calls < FZ_HL7V2_MAX_CALLS; f++) {
			int reps = hl7v2_reps(m, i, f);

			if (reps > 0 && !hl7v2_get(m, i, f, reps - 1, 0, 0).p)
				fz_fail("hl7v2_reps counts a repetition hl7v2_get does not find", NULL, 0);
			if (reps > 0 && hl7v2_get(m, i, f, reps, 0, 0).p)
				fz_fail("hl7v2_get finds a repetition beyond hl7v2_reps", NULL, 0);
			for (int r = 0; r <= reps && r < 4; r++)
				for (int c = 0; c < 6; c++)
					for (int s = 0; s < 4; s++, calls++)
						fuzz_hl7v2_inside(m, hl7v2_get(m, i, f, r, c, s),
								  "hl7v2_get returned text outside the message");
		}
	}
	(void)hl7v2_segment_name(m, hl7v2_segments(m));
	(void)hl7v2_get(m, hl7v2_segments(m), 1, 0, 0, 0);
	(void)hl7v2_find(m, "ZZZ", 0);
}

/* Equal text; absent and empty are alike (MSA-2 is there even when MSH-10
 * was not). */
static int fuzz_hl7v2_same(struct hl7v2_str a, struct hl7v2_str b)
{
	size_t an = a.p ? a.n : 0, bn = b.p ? b.n : 0;

	return an == bn && (an == 0 || memcmp(a.p, b.p, an) == 0);
}

/* Field fa of segment ia in a and fb of ib in b hold the same values,
 * subcomponent by subcomponent (repetition 0): the ACK may use other
 * delimiters than the message (when the message has no escape character),
 * so the decoded texts of whole fields may differ. */
static int fuzz_hl7v2_same_field(const struct hl7v2_msg *a, size_t ia, int fa, const struct hl7v2_msg *b,
				 size_t ib, int fb)
{
	for (int c = 1; c <= 64; c++) {
		if (!hl7v2_get(a, ia, fa, 0, c, 0).p && !hl7v2_get(b, ib, fb, 0, c, 0).p)
			return 1;
		for (int s = 1; s <= 64; s++) {
			struct hl7v2_str x = hl7v2_get(a, ia, fa, 0, c, s), y = hl7v2_get(b, ib, fb, 0, c, s);

			if (!x.p && !y.p)
				break;
			if (!fuzz_hl7v2_same(x, y))
				return 0;
		}
	}
	return 1;
}

/* The ACK in b parses, and answers want (MSH-10 of the message) unless NULL. */
static void fuzz_hl7v2_check_ack(const struct buf *b, const struct hl7v2_msg *want, const char *what)
{
	struct hl7v2_msg *a = NULL;
	struct err e = { 0 };

	if (hl7v2_parse(b->p, b->n, NULL, &a, &e, NULL)) {
		fprintf(stderr, "*** %s: %s\n", what, e.issue[0].diagnostics);
		fz_fail("the ACK does not parse", b->p, b->n);
		return;
	}
	if (hl7v2_segments(a) < 2 || strcmp(hl7v2_segment_name(a, 1), "MSA") != 0)
		fz_fail("the ACK has no MSA segment", b->p, b->n);
	else if (want && !fuzz_hl7v2_same_field(want, 0, 10, a, 1, 2)) {
		fprintf(stderr, "*** %s\n", what);
		fz_fail("MSA-2 of the ACK is not the message's MSH-10", b->p, b->n);
	}
	hl7v2_free(a);
}

static void fuzz_hl7v2_acks(const struct hl7v2_msg *m, const char *p, size_t size)
{
	struct hl7v2_where at = { "PID", 2, 3, 1, 102 };
	char text[65];
	struct buf b;
	int rc;

	memcpy(text, p, size < 64 ? size : 64);
	text[size < 64 ? size : 64] = '\0';
	buf_init(&b, 0);
	if (m) {
		if (hl7v2_ack(m, p, size, HL7V2_AA, NULL, NULL, "ACK1", &b))
			fz_fail("hl7v2_ack failed on a parsed message", NULL, 0);
		else
			fuzz_hl7v2_check_ack(&b, m, "AA");
		buf_clear(&b);
		if (hl7v2_ack(m, p, size, HL7V2_AE, &at, text, NULL, &b))
			fz_fail("hl7v2_ack (AE) failed on a parsed message", NULL, 0);
		else
			fuzz_hl7v2_check_ack(&b, m, "AE");
		buf_clear(&b);
	}
	rc = hl7v2_ack(NULL, p, size, HL7V2_AR, m ? NULL : &at, text, "ACK2", &b);
	if (rc)
		fz_fail("hl7v2_ack failed on raw bytes", NULL, 0);
	else
		fuzz_hl7v2_check_ack(&b, m, "AR from raw bytes");
	buf_release(&b);
}

struct fuzz_hl7v2_split {
	const char *p, *last;
	size_t n;
};

static int fuzz_hl7v2_piece(void *arg, const char *p, size_t n)
{
	struct fuzz_hl7v2_split *sp = arg;
	struct hl7v2_msg *m = NULL;

	if (p < sp->last || p + n > sp->p + sp->n || n < 3 || memcmp(p, "MSH", 3) != 0)
		fz_fail("hl7v2_split handed out a piece that is not a message of the input", p,
			p >= sp->p && p + n <= sp->p + sp->n ? n : 0);
	sp->last = p + n;
	if (hl7v2_parse(p, n, NULL, &m, NULL, NULL) == 0)
		hl7v2_free(m);
	return 0;
}

static int fuzz_hl7v2_one(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct hl7v2_msg *m = (struct hl7v2_msg *)1;	/* must be reset to NULL on failure */
	struct hl7v2_where at = { "xyz", -1, -1, -1, -1 };
	struct fuzz_hl7v2_split sp = { p, p, size };
	struct err e = { 0 };
	int rc;

	rc = hl7v2_parse(p, size, NULL, &m, &e, &at);
	if (rc) {
		if (m)
			fz_fail("hl7v2_parse failed but left *out set", p, size);
		m = NULL;
		fz_check_err("hl7v2_parse", rc, &e);
		if (at.code < 100 || at.code > 207 || at.seq < 0 || at.field < 0)
			fz_fail("a refusal without a table 0357 code and a location", p, size);
	} else {
		if (!m)
			fz_fail("hl7v2_parse returned 0 and no message", p, size);
		fuzz_hl7v2_text(m);
		fuzz_hl7v2_accessors(m);
	}
	fuzz_hl7v2_acks(m, p, size);
	hl7v2_free(m);
	(void)hl7v2_split(p, size, fuzz_hl7v2_piece, &sp);
	return 0;
}

#ifndef FZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_hl7v2_one(data, size);
}
#endif
