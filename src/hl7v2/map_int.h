/*
 * map_int.h — private to map*.c: the state of one hl7v2_map call and the
 * helpers the segment maps share.
 *
 *   map.c        dispatch on MSH-9, the Bundle and its entries, conditional
 *                keys, identifier systems, errors
 *   map_types.c  v2 data types → FHIR data types (TS/DTM, NM, SN, CWE, CX,
 *                XPN, XAD, XTN, XCN, units)
 *   map_adt.c    PID → Patient, NK1 → Patient.contact, PV1 → Encounter,
 *                ADT events, A40 merge
 *   map_lab.c    ORC/OBR → ServiceRequest, OBR → DiagnosticReport,
 *                OBX → Observation, SPM → Specimen, NTE → note
 *
 * Everything lives for one call: strings come from the arena, JSON objects
 * are owned by the Bundle once added. Not thread-shared.
 * Choices and their reasons: docs/decisions/0013-hl7v2-mapping.md.
 */
#ifndef LT_HL7V2_MAP_INT_H
#define LT_HL7V2_MAP_INT_H

#include <json-c/json.h>
#include "hl7v2.h"
#include "../base/arena.h"

#define MAP_ARENA_BYTES (64u << 20)	/* strings copied out of one message */
#define MAP_TZ_DEFAULT "+07:00"		/* Vietnam, no daylight saving time */
#define MAP_URL_MAX 2048		/* one conditional URL (search) */
#define MAP_KEY_IDS 8			/* identifiers OR'ed in a Patient key */

/* The entries that other entries refer to, by their urn:uuid fullUrl. */
#define MAP_URN_LEN 46			/* "urn:uuid:" + 36 + NUL */

/* Prefix of every system we name ourselves (decision 0013). */
#define MAP_ID_PREFIX "urn:lienthong:id:"
#define MAP_CODE_PREFIX "urn:lienthong:code:"
#define MAP_SYS_CCCD MAP_ID_PREFIX "vn-cccd"
#define MAP_SYS_CMND MAP_ID_PREFIX "vn-cmnd"
#define MAP_SYS_BHYT MAP_ID_PREFIX "vn-bhyt"

enum map_kind { MAP_ADT, MAP_RESULT, MAP_ORDER };

struct map {
	const struct hl7v2_msg *m;
	const struct hl7v2_map_opts *o;
	struct hl7v2_header h;
	enum map_kind kind;
	const char *code, *event;	/* MSH-9.1, MSH-9.2 (or EVN-1) */
	const char *sender;		/* MSH-4, or the configured facility */
	const char *receiver;		/* MSH-6, or NULL */
	const char *control_id;		/* MSH-10 */
	char tz[8];			/* "+hh:mm" for times without one */
	struct arena a;
	json_object *bundle, *entries;
	json_object *keys;		/* conditional URL -> fullUrl, to merge repeats */
	struct err *e;
	struct hl7v2_where *at;
	/* What the segments that follow refer to; "" when none. */
	char patient[MAP_URN_LEN];
	char encounter[MAP_URN_LEN];
};

/* ---- map.c ---------------------------------------------------------------- */

/* Sets e and *at: segment i, field, component, HL7 error code (table 0357).
 * Returns code. */
int map_fail(struct map *mp, int code, long seg, int field, int comp, int hl7code,
	     const char *fmt, ...) LT_PRINTF(7, 8);

/* Adds an entry: resource res (taken), request method and url ("Type?query"
 * for conditional writes, "Type" with if_none_exist for conditional
 * creates). The fullUrl comes back in urn. An entry whose conditional key
 * was already added in this message is not added twice: res is dropped and
 * urn names the first one. */
int map_entry(struct map *mp, json_object *res, const char *method, const char *url,
	      const char *if_none_exist, char urn[MAP_URN_LEN]) LT_MUST_CHECK;

/* Appends "system|value" to a search URL, escaped for FHIR search (\| \, \$
 * \\) and for the URL (percent-encoding). */
int map_url_token(struct buf *b, const char *system, const char *value) LT_MUST_CHECK;

/* The system of an identifier assigned by authority (namespace ns, universal
 * id uid of type uid_type; any may be NULL) of kind ("mr", "order"...):
 * urn:oid: or the URI when universal, else urn:lienthong:id:<ns>:<kind>,
 * else urn:lienthong:id:<deflt>:<kind>. From the arena. */
const char *map_system(struct map *mp, const char *ns, const char *uid, const char *uid_type,
		       const char *deflt, const char *kind);

/* Base64 (RFC 4648) of n bytes, from the arena; NULL when out of memory. */
char *map_base64(struct map *mp, const char *p, size_t n);

/* A string for a URN segment: [A-Za-z0-9._~-] kept, the rest %XX. */
const char *map_urn_part(struct map *mp, const char *s);

/* ---- map_types.c ---------------------------------------------------------- */

/* A value, trimmed of spaces; NULL when absent, empty or the HL7 null "".
 * Arena copy, NUL-terminated. */
const char *v2_str(struct map *mp, long seg, int f, int r, int c, int s);
/* The segment's name and field count helpers. */
int v2_reps(struct map *mp, long seg, int f);
/* Index of the next segment named name after from; -1 if none. */
long v2_next(struct map *mp, const char *name, long from);
int v2_is(struct map *mp, long seg, const char *name);

/* TS/DTM/DT text → FHIR dateTime (or date when date_only) in out. 0, or -1
 * when the text is not a v2 date/time. *has_time says whether hours came. */
int v2_datetime(struct map *mp, const char *s, int date_only, char *out, size_t n, int *has_time);
/* The same, reading segment seg field f (component c) and failing with a
 * clear message; *out NULL when the field is empty. */
int map_datetime(struct map *mp, long seg, int f, int c, int date_only, const char **out)
	LT_MUST_CHECK;
/* A FHIR instant from a TS field when it has a time; NULL otherwise. */
int map_instant(struct map *mp, long seg, int f, int c, const char **out) LT_MUST_CHECK;

/* NM text → FHIR decimal text ("+007.50" → "7.50"); NULL when not a number. */
const char *v2_decimal(struct map *mp, const char *s);
json_object *json_decimal(const char *text);

/* CWE/CE/CNE at seg-f repetition r (components from c0: 0 for a field,
 * or the component where an embedded CWE starts as subcomponents) →
 * CodeableConcept; NULL when empty. deflt_system names codes without
 * CWE-3 (NULL: a code local to the sender). */
json_object *map_cwe(struct map *mp, long seg, int f, int r, const char *deflt_system);
/* A coding system name of table 0396 → URI (arena); local names scoped by sender. */
const char *map_code_system(struct map *mp, const char *name);
/* A single code of table tbl ("0001"): CodeableConcept with system v2-tbl. */
json_object *map_v2_code(struct map *mp, const char *code, const char *tbl);

/* CX → Identifier, with our system rules for patient identifiers; NULL when
 * empty. *rank: how authoritative (0 best). */
json_object *map_cx(struct map *mp, long seg, int f, int r, int *rank);
json_object *map_xpn(struct map *mp, long seg, int f, int r);
json_object *map_xad(struct map *mp, long seg, int f, int r);
json_object *map_xtn(struct map *mp, long seg, int f, int r, const char *use);
/* XCN (or the CNN of an NDL in component c as subcomponents) → Reference
 * by identifier and display, to a Practitioner we do not create. */
json_object *map_xcn(struct map *mp, long seg, int f, int r);
json_object *map_ndl(struct map *mp, long seg, int f, int r);
/* A Reference with only a display (an organisation named in the message). */
json_object *map_display_ref(const char *type, const char *display);
/* OBX-6 (CWE) → Quantity fields on q (unit, system, code). */
void map_units(struct map *mp, long seg, int f, json_object *q);

/* JSON helpers: add only when v is not NULL. */
void jset(json_object *o, const char *k, json_object *v);
void jstr(json_object *o, const char *k, const char *v);
void jpush(json_object *o, const char *k, json_object *v);
json_object *jref(const char *urn);

/* ---- map_adt.c ------------------------------------------------------------ */

/* PID at seg → Patient entry (conditional update on its identifiers);
 * sets mp->patient. NK1 segments that follow become contacts. */
int map_patient(struct map *mp, long seg) LT_MUST_CHECK;
/* PV1 at seg → Encounter entry when it has a key; sets mp->encounter. */
int map_encounter(struct map *mp, long seg, const char *status) LT_MUST_CHECK;
int map_adt(struct map *mp) LT_MUST_CHECK;
int map_adt_merge(struct map *mp) LT_MUST_CHECK;

/* ---- map_lab.c ------------------------------------------------------------ */

int map_results(struct map *mp) LT_MUST_CHECK;	/* ORU^R01, OUL^R22 */
int map_orders(struct map *mp) LT_MUST_CHECK;	/* ORM^O01, OML^O21 */

#endif
