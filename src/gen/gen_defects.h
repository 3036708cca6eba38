/*
 * gen_defects.h — imperfection on purpose (issue 7): a filter between the
 * synthetic city's generator (gen.h) and whatever writes its output, that
 * gives a fraction of the resources the defects real feeds have — CCCDs
 * missing or malformed, the same person registered twice at two
 * facilities, local codes where LOINC or ICD-10 belong, impossible values,
 * stale contact details and encounters never closed — and reports each one
 * as a line of JSON, so that data-quality checks can be scored against the
 * truth. The catalogue and its shares are in gen_defects.c and
 * docs/synthetic-data.md.
 *
 * A defect is a data-quality defect, never a schema error: every resource
 * it touches still passes the server's validation and loads with
 * `lienthong import`, and every reference still resolves.
 *
 * Deterministic: whether a resource gets a defect, and which, is a pure
 * function of (seed, resource id), so the same seed gives the same bytes,
 * and a higher rate gives a superset of a lower rate's defects. Resources
 * without a defect are passed on byte for byte; types the filter does not
 * know (those added to gen.h later) pass unchanged. State is per patient
 * (its encounters, its duplicate): the generator must emit a Patient before
 * the rest of that patient's resources, as gen_patient() does.
 *
 * Ownership: a struct gen_defects is the caller's (gen_defects_new /
 * gen_defects_free); the JSON handed to the callbacks is borrowed, valid
 * until they return. One thread at a time per struct.
 */
#ifndef LT_GEN_GEN_DEFECTS_H
#define LT_GEN_GEN_DEFECTS_H

#include <stddef.h>
#include <stdint.h>
#include "gen.h"

/* The catalogue. Each kind applies to one resource type (local codes to
 * two); GEN_DEFECT_MOVED is not drawn: it records a resource of a
 * duplicated patient that now points at the duplicate. */
enum gen_defect_kind {
	GEN_DEFECT_CCCD_MISSING,	/* Patient: the CCCD identifier removed */
	GEN_DEFECT_CCCD_MALFORMED,	/* Patient: 11/13 digits, letters, bad province, 9-digit CMND */
	GEN_DEFECT_DUPLICATE,		/* Patient: a second Patient for the same person */
	GEN_DEFECT_STALE_PHONE,		/* Patient: the pre-2018 11-digit form of the mobile number */
	GEN_DEFECT_STALE_ADDRESS,	/* Patient: a pre-2025 district (districts abolished 07/2025) */
	GEN_DEFECT_BIRTH_FUTURE,	/* Patient: birthDate in the 2030s, after all care */
	GEN_DEFECT_IN_PROGRESS,		/* Encounter: "in-progress" since 2021-2025, no end */
	GEN_DEFECT_END_BEFORE_START,	/* Encounter: period.end a year before period.start */
	GEN_DEFECT_LOCAL_CODE,		/* Condition, Observation: a facility's local code */
	GEN_DEFECT_ONSET_FUTURE,	/* Condition: onsetDateTime in the 2030s */
	GEN_DEFECT_IMPOSSIBLE_VALUE,	/* Observation: 17 m tall, negative lab, diastolic > systolic */
	GEN_DEFECT_MOVED,		/* Encounter, Condition, Observation: subject = the duplicate */
	GEN_DEFECT_N_KINDS
};

const char *gen_defect_kind_name(enum gen_defect_kind k);	/* "cccd-missing" */

/* Receives one line of the sidecar (a JSON object, no newline). A non-zero
 * return stops generation and is returned. */
typedef int (*gen_defect_record_fn)(void *arg, const char *json, size_t n);

struct gen_defects_stats {
	size_t seen[GEN_N_TYPES];	/* resources from the generator, by type */
	size_t defective[GEN_N_TYPES];	/* of which drawn and given a defect */
	size_t kind[GEN_DEFECT_N_KINDS];	/* sidecar lines by kind */
	size_t lines;			/* sidecar lines */
};

struct gen_defects;

/* rate in [0, 1]: the probability that a Patient, Encounter, Condition or
 * Observation gets a defect. emit receives the resources (the duplicates
 * too), record the sidecar lines. NULL when out of memory or rate is out
 * of range. */
struct gen_defects *gen_defects_new(uint64_t seed, double rate, gen_emit_fn emit, void *emit_arg,
				    gen_defect_record_fn record, void *record_arg);
void gen_defects_free(struct gen_defects *d);

/* A gen_emit_fn: pass it to gen_facilities / gen_patient with the struct
 * gen_defects as arg. */
int gen_defects_emit(void *arg, enum gen_type type, const char *id, const char *json, size_t n);

const struct gen_defects_stats *gen_defects_stats(const struct gen_defects *d);

#endif
