/*
 * gen_hl7v2.h — the synthetic city as HL7 v2.5.1 messages for the MLLP
 * interface (issue 7): per patient an ADT^A04 (registration: PID with the
 * CCCD and BHYT numbers, name, sex, birth date, address, phone), and per
 * encounter with lab results an ORU^R01 (PID, PV1, ORC, OBR, one OBX per
 * lab Observation).
 *
 * A converter, not a second generator: it is fed the FHIR resources that
 * gen_patient() emits (gen_hl7v2_emit is a gen_emit_fn), keeps those of one
 * patient it needs (Patient, Encounter, laboratory Observation; other
 * types, vital signs included, are ignored), and when told the patient is
 * complete appends that patient's messages to two caller-owned buffers. So
 * the messages say exactly what the NDJSON of the same seed says, and are a
 * pure function of (seed, patient index) like it: message control ids
 * (MSH-10) come from the seed and the resource ids, never from a counter.
 *
 * The messages are written for src/hl7v2's inbound mapping (CX types and
 * assigning authorities it maps to urn:lienthong:id:vn-cccd / vn-bhyt,
 * XPN, XAD, XTN, UCUM units): each one is meant to get an AA. Segments end
 * with CR; each message is followed by one LF, so a file of them is read
 * by `lienthong hl7 send` (hl7v2_split) and by text tools. Encoding UTF-8
 * (MSH-18 "UNICODE UTF-8"). See docs/synthetic-data.md, "HL7 v2 output".
 *
 * No I/O. A struct gen_hl7v2 is used by one thread at a time.
 */
#ifndef LT_GEN_GEN_HL7V2_H
#define LT_GEN_GEN_HL7V2_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "../base/buf.h"
#include "../base/err.h"
#include "gen.h"

#define GEN_HL7V2_APP "LTGEN"		/* MSH-3, our sending application */
#define GEN_HL7V2_VERSION "2.5.1"
/* Resources of one patient kept until its messages are written; a patient
 * has about 70, the lab results a few dozen. More is an error. */
#define GEN_HL7V2_MAX_KEPT 4096

struct gen_hl7v2 {
	uint32_t tag;			/* from the seed: the first 8 hex digits of MSH-10 */
	struct buf *adt, *oru;		/* where messages are appended (borrowed) */
	json_object *patient;		/* the current patient, or NULL */
	json_object *encounters;	/* its Encounters, in order */
	json_object *labs;		/* its laboratory Observations, in order */
	struct json_tokener *tok;	/* reused for every resource kept */
	size_t kept;
	size_t n_adt, n_oru, n_obx;	/* written so far */
	size_t n_bytes;
};

/* adt and oru receive the ADT^A04 and the ORU^R01 messages (they may be the
 * same buffer: one stream, each patient's ADT before its ORUs). */
void gen_hl7v2_init(struct gen_hl7v2 *h, uint64_t seed, struct buf *adt, struct buf *oru);
void gen_hl7v2_release(struct gen_hl7v2 *h);

/* A gen_emit_fn (arg is the struct gen_hl7v2): keeps what it needs of the
 * resource. A Patient while another is pending ends the pending one first. */
int gen_hl7v2_emit(void *arg, enum gen_type type, const char *id, const char *json, size_t n)
	LT_MUST_CHECK;
/* The current patient is complete: appends its messages and forgets it.
 * Nothing pending: nothing written, 0. ERR_TOO_LARGE past a buffer's limit. */
int gen_hl7v2_patient_end(struct gen_hl7v2 *h) LT_MUST_CHECK;

#endif
