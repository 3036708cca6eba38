/*
 * hl7v2.h — HL7 version 2 messages (issue #5): the parser, acknowledgments,
 * and the mapping of a message into FHIR (a transaction Bundle).
 *
 * Domain logic only, no I/O: src/mllp/ carries frames over sockets and the
 * API layer commits the Bundle. Layout:
 *   message.c  parse ER7 text (v2.1–2.8) into segments/fields/... ; read values
 *   ack.c      build ACK messages (MSA, ERR) for a parsed or unparseable message
 *   map*.c     v2 → FHIR R4, following the HL7 v2-to-FHIR implementation guide
 *
 * Addressing follows the standard's notation: PID-3.1 is segment PID, field
 * 3, component 1. Fields, components and subcomponents count from 1;
 * repetitions from 0. In MSH, MSH-1 is the field separator itself and MSH-2
 * the encoding characters, as the standard counts them.
 */
#ifndef LT_HL7V2_H
#define LT_HL7V2_H

#include <stddef.h>
#include <json-c/json.h>
#include "../base/buf.h"
#include "../base/err.h"

/* Bounds on what one message may hold; a message past them is refused
 * (ERR_TOO_LARGE) before it costs more memory. */
struct hl7v2_limits {
	size_t max_bytes;		/* the whole message or batch; default 16 MiB */
	size_t max_segments;		/* default 100,000 */
};

/* A parsed message: immutable, self-contained (it owns its decoded text). */
struct hl7v2_msg;

/* A piece of text inside a message, decoded: escape sequences resolved,
 * converted to UTF-8 from the message's character set (MSH-18). Not
 * NUL-terminated; valid while the message lives. n == 0 and p != NULL: the
 * element is present and empty; p == NULL: absent. The HL7 null ("") is
 * returned as the two characters "". */
struct hl7v2_str {
	const char *p;
	size_t n;
};

/* Where a parse failed, for the ERR segment of the ACK: segment name,
 * 1-based segment sequence in the message, field, and an HL7 error code
 * (table 0357: 100 segment sequence error, 101 required field missing,
 * 102 data type error, 103 table value not found, 200 unsupported message
 * type, 201 unsupported event code, 202 unsupported processing id,
 * 203 unsupported version id, 207 application internal error). */
struct hl7v2_where {
	char segment[4];
	int seq;
	int field;
	int component;
	int code;
};

/* Parses one message (MSH first; segments ended by CR, LF or CRLF; a leading
 * UTF-8 BOM skipped). lim may be NULL for the defaults. On failure: an err
 * code, the reason in e, and where in *at (may be NULL). */
int hl7v2_parse(const char *p, size_t n, const struct hl7v2_limits *lim, struct hl7v2_msg **out,
		struct err *e, struct hl7v2_where *at) LT_MUST_CHECK;
void hl7v2_free(struct hl7v2_msg *m);

/* Splits a batch file (FHS/BHS ... BTS/FTS) or a file of plain messages one
 * after another into messages: fn gets each message's raw bytes (MSH up to
 * the next MSH, FHS, BHS, BTS or FTS). A non-zero return from fn stops and
 * is returned. */
typedef int (*hl7v2_each_fn)(void *arg, const char *p, size_t n);
int hl7v2_split(const char *p, size_t n, hl7v2_each_fn fn, void *arg);

size_t hl7v2_segments(const struct hl7v2_msg *m);
/* The 3-letter name of segment i (Z-segments included, kept as they came). */
const char *hl7v2_segment_name(const struct hl7v2_msg *m, size_t i);
/* Index of the first segment named name at or after from; -1 if none. */
long hl7v2_find(const struct hl7v2_msg *m, const char *name, size_t from);
/* Number of repetitions of field f of segment i (0 when absent or empty). */
int hl7v2_reps(const struct hl7v2_msg *m, size_t i, int f);
/* One element: segment i, field f, repetition r, component c, subcomponent s
 * (c and s 1-based; c = 0 the whole repetition, s = 0 the whole component,
 * both still decoded). */
struct hl7v2_str hl7v2_get(const struct hl7v2_msg *m, size_t i, int f, int r, int c, int s);

/* The header fields the transport and the archive need, decoded. */
struct hl7v2_header {
	struct hl7v2_str sending_app, sending_facility;	/* MSH-3.1, MSH-4.1 */
	struct hl7v2_str receiving_app, receiving_facility;	/* MSH-5.1, MSH-6.1 */
	struct hl7v2_str message_code, trigger, structure;	/* MSH-9.1, 9.2, 9.3 */
	struct hl7v2_str control_id;			/* MSH-10 */
	struct hl7v2_str processing_id;			/* MSH-11.1 */
	struct hl7v2_str version;			/* MSH-12.1 */
	struct hl7v2_str accept_ack, app_ack;		/* MSH-15, MSH-16 (enhanced mode) */
	struct hl7v2_str charset;			/* MSH-18 */
};
void hl7v2_header(const struct hl7v2_msg *m, struct hl7v2_header *h);

/* ---- acknowledgments (ack.c) ---------------------------------------------- */

/* MSA-1 codes; the C forms (CA, CE, CR) are used for the accept
 * acknowledgment of enhanced mode. */
enum hl7v2_ack_code { HL7V2_AA, HL7V2_AE, HL7V2_AR, HL7V2_CA, HL7V2_CE, HL7V2_CR };

/* Appends to out an ACK answering m (its MSH-10 in MSA-2, sender and
 * receiver swapped, the same version and encoding characters, a fresh
 * MSH-10 of our own from ack_id), and, when code is not AA/CA, an ERR
 * segment from at and text. m may be NULL when the message could not be
 * parsed: then raw (the bytes received) is read as far as possible for
 * MSH-10 and the encoding characters. Segments end with CR. */
int hl7v2_ack(const struct hl7v2_msg *m, const char *raw, size_t raw_n, enum hl7v2_ack_code code,
	      const struct hl7v2_where *at, const char *text, const char *ack_id,
	      struct buf *out) LT_MUST_CHECK;

/* ---- mapping to FHIR (map*.c) --------------------------------------------- */

/* How identifiers and codes are named when the message does not say
 * (decision 0013). */
struct hl7v2_map_opts {
	const char *facility;		/* our facility code, for identifier systems; may be NULL */
};

/*
 * Maps m to a FHIR R4 transaction Bundle (json-c, the caller owns it) that
 * the API commits as one transaction: every resource the message implies,
 * with conditional creates/updates on business identifiers (Patient by its
 * identifiers, Encounter by visit number, ServiceRequest and DiagnosticReport
 * by order numbers, Observation by report + OBX set id), so that processing
 * the same message twice changes nothing the second time.
 * Supported: ADT A01 A03 A04 A08 A28 A31 A40, ORU^R01, ORM^O01, OML^O21,
 * OUL^R22. Unsupported type or event: ERR_NOT_SUPPORTED with *at code
 * 200/201. Bad content: ERR_INVALID with *at naming segment and field.
 */
int hl7v2_map(const struct hl7v2_msg *m, const struct hl7v2_map_opts *o, json_object **bundle,
	      struct err *e, struct hl7v2_where *at) LT_MUST_CHECK;

#endif
