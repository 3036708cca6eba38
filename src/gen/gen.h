/*
 * gen.h — a synthetic Ho Chi Minh City (issue 7): facilities, people and
 * their care as FHIR R4 resources, deterministic for a given seed.
 *
 * Everything is a pure function of (seed, index): patient i gets its own
 * PRNG stream seeded from the run's seed and i (splitmix64 into
 * xoshiro256**), so the output does not depend on the order in which
 * patients are generated or on how many threads generate them. The one
 * thing kept between patients is a fixed-size table, from patient
 * GEN_CCCD_SERIALS on, of how many CCCD serials each prefix has used
 * (gen_person_make): patients made in increasing order cost one step each;
 * one asked for out of order makes the generator replay the steps up to it
 * (half a second of CPU per million), so the answer is the same. Memory is
 * bounded regardless of how many are made.
 * The distributions (age and sex, names, disease prevalence, lab values) are
 * static tables in gen_tables.c, each with the source it approximates; see
 * docs/synthetic-data.md and decision 0021.
 *
 * Resources are handed to a caller's callback as one line of compact JSON
 * (valid until the callback returns). No I/O. A struct gen is used by one
 * thread at a time; several may run side by side on their own structs.
 */
#ifndef LT_GEN_GEN_H
#define LT_GEN_GEN_H

#include <stddef.h>
#include <stdint.h>
#include "../base/err.h"

/* The most patients a city has (--patients); ids stay at most 8 digits.
 * CCCD and BHXH numbers are unique by construction (see gen_person_make). */
#define GEN_MAX_PATIENTS 20000000
/* A CCCD is a 6-digit prefix (province of birth, century/sex digit, 2-digit
 * birth year) and a 6-digit serial: at most this many people share a
 * prefix. Patients below this index take the serial from a permutation
 * of their index; later ones the next serial free in their prefix. */
#define GEN_CCCD_SERIALS 1000000
#define GEN_MAX_BIRTH_PROVINCES 32	/* rows of gen_birth_provinces, at most */
#define GEN_CCCD_PREFIXES (GEN_MAX_BIRTH_PROVINCES * 4 * 100)
/* Ages and encounter dates are relative to this day, not the wall clock. */
#define GEN_REFERENCE_DATE "2025-12-31"

#define GEN_SID_CCCD "urn:lienthong:id:vn-cccd"
#define GEN_SID_BHYT "urn:lienthong:id:vn-bhyt"
#define GEN_SID_CSKCB "urn:lienthong:id:vn-cskcb"
/* An address's ward or commune as a code of QĐ 19/2025/QĐ-TTg (decision 0031). */
#define GEN_EXT_WARD "http://fhir.lienthong.vn/StructureDefinition/address-ward"
#define GEN_CS_WARD "http://fhir.lienthong.vn/CodeSystem/vn-commune-2025"

/* ---- the PRNG: xoshiro256** (Blackman & Vigna), seeded by splitmix64 ---- */

struct gen_rng {
	uint64_t s[4];
};

void gen_rng_seed(struct gen_rng *r, uint64_t seed);
uint64_t gen_rng_next(struct gen_rng *r);
uint64_t gen_rng_below(struct gen_rng *r, uint64_t n);	/* uniform in [0, n), n > 0 */
double gen_rng_unit(struct gen_rng *r);			/* uniform in [0, 1) */
double gen_rng_normal(struct gen_rng *r, double mean, double sd);
/* A --seed value: a decimal number is taken as is, any other text hashed. */
uint64_t gen_seed_parse(const char *s);

/* ---- the city ------------------------------------------------------------ */

enum gen_type {
	GEN_ORGANIZATION,
	GEN_LOCATION,
	GEN_PATIENT,
	GEN_ENCOUNTER,
	GEN_CONDITION,
	GEN_OBSERVATION,
	GEN_MEDICATION_REQUEST,
	GEN_IMMUNIZATION,
	GEN_ALLERGY_INTOLERANCE,
	GEN_N_TYPES
};
const char *gen_type_name(enum gen_type t);	/* "Patient" */

/* Called once per resource; json (n bytes, no newline) and id are borrowed.
 * A non-zero return stops generation and is returned. */
typedef int (*gen_emit_fn)(void *arg, enum gen_type type, const char *id, const char *json,
			   size_t n);

enum gen_facility_kind {
	GEN_HOSPITAL_CITY,	/* public, run by the city's Department of Health */
	GEN_HOSPITAL_MINISTRY,	/* public, run by a ministry (Health, Defence, Public Security) */
	GEN_HOSPITAL_PRIVATE,
	GEN_REGIONAL_CENTRE,	/* trung tâm y tế khu vực */
	GEN_COMMUNE_STATION,	/* trạm y tế phường/xã */
	GEN_CLINIC		/* phòng khám (a sample) */
};

/* A commune-level unit of HCMC (phường, xã, đặc khu): its 5-digit code in
 * the national list (QĐ 19/2025/QĐ-TTg) and its name. */
struct gen_ward {
	const char *code, *name;
};

struct gen_facility {
	char code[6];		/* 5 characters, "79NNN" (synthetic, not the official code) */
	enum gen_facility_kind kind;
	char name[160];
	const struct gen_ward *ward;	/* where it is */
	int level;		/* technical level (Law 15/2023 art. 104): 1 initial
				 * (ban đầu), 2 basic (cơ bản), 3 specialised (chuyên sâu) */
};

size_t gen_facility_count(void);
/* Facility i (0 <= i < gen_facility_count()); 0, or -1 when out of range. */
int gen_facility_get(size_t i, struct gen_facility *f);

/* A person, before any care: what the Patient resource says. */
struct gen_person {
	size_t index;		/* 0-based; the id is gen-pat-<index+1, 6 digits> */
	int male;
	int birth_year, birth_month, birth_day;
	int age;		/* full years on GEN_REFERENCE_DATE */
	const char *family, *middle, *given;
	char cccd[13];
	int insured;
	char bhyt[16];		/* empty when not insured */
	char phone[11];
	const struct gen_ward *ward;
	const char *street;
	size_t ward_index;	/* the ward's commune health station is facility 202 + this */
	int house_number;
};

/* The largest resource the generator writes (a Patient is about 1 KB). */
#define GEN_MAX_JSON 8192

struct gen {
	uint64_t seed;
	char json[GEN_MAX_JSON];	/* the resource being written */
	size_t n;
	int overflow;
	/* CCCD serials of the patients [GEN_CCCD_SERIALS, serial_next): how
	 * far each prefix's walk over the serials has gone, by (row of the
	 * province in gen_birth_provinces * 4 + century/sex digit) * 100 +
	 * 2-digit birth year, and the serial of patient serial_next - 1.
	 * About 50 KB. */
	uint32_t serial_walked[GEN_CCCD_PREFIXES];
	size_t serial_next;
	uint32_t serial_last;
	const char *error;		/* why gen_person_make last failed (static text), or NULL */
};

void gen_init(struct gen *g, uint64_t seed);
void gen_release(struct gen *g);

/*
 * The person with this index: a pure function of (seed, index). The CCCD's
 * serial is unique within its prefix: below GEN_CCCD_SERIALS a keyed
 * permutation of the index (as the generator has always made them); from
 * there, in index order, the next serial of the prefix's own keyed walk
 * over its 1,000,000 that no patient below GEN_CCCD_SERIALS holds. 0;
 * ERR_INVALID when index >= GEN_MAX_PATIENTS; ERR_NOT_SUPPORTED with
 * g->error set when more than GEN_CCCD_SERIALS
 * people would share a prefix — a CCCD is never repeated. With
 * gen_tables.c's distributions that takes about 160 million patients: at
 * GEN_MAX_PATIENTS the fullest prefix holds about 125,000.
 */
int gen_person_make(struct gen *g, size_t index, struct gen_person *p) LT_MUST_CHECK;
/* An Organization and a Location for every facility. */
int gen_facilities(struct gen *g, gen_emit_fn emit, void *arg) LT_MUST_CHECK;
/* Patient index and everything about them: Encounters, Conditions,
 * Observations, MedicationRequests, Immunizations (children under 6),
 * AllergyIntolerances; pregnancies as Conditions and Encounters. References point only at resources of the same patient
 * and at the facilities. index < GEN_MAX_PATIENTS (else ERR_INVALID); the
 * errors of gen_person_make. */
int gen_patient(struct gen *g, size_t index, gen_emit_fn emit, void *arg) LT_MUST_CHECK;

#endif
