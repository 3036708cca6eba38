/*
 * fhir_tables.h — private to src/fhir: the R4 structure tables that
 * tools/gen_fhir_tables.py generates into fhir_tables.c, and that
 * validate.c walks. Nothing else should include this header.
 *
 * Every FHIR type is one row of fhir_types[]: the 20 primitives, the complex
 * datatypes (plus the two Quantity profiles SimpleQuantity and MoneyQuantity
 * and the abstract Element, used for `_x` primitive extensions), the
 * pseudo-type "Resource" (an element that holds any resource, dispatched
 * on its resourceType), the 146 concrete resources, and one row for each
 * inline backbone element such as "Patient.contact" or "Timing.repeat".
 *
 * A complex type's child elements are a contiguous slice of fhir_elems[],
 * sorted by JSON property name (byte order) so that a property is found by
 * binary search. Choice elements are expanded, one row per allowed type
 * (valueString, valueQuantity, ...), sharing a choice group number.
 * contentReference elements (Questionnaire.item.item) simply point at the
 * referenced backbone type.
 *
 * Required elements (min >= 1) and required choice groups have a slot
 * number < 64 within their type so that the validator can tick them off in
 * a uint64_t; fhir_required_names[] names each slot for diagnostics.
 *
 * Required bindings on `code` elements whose value set is small and closed
 * point at a row of fhir_value_sets[], whose codes are a sorted slice of
 * fhir_codes[]. Row 0 means "no binding checked".
 *
 * All tables are const and read-only: thread-safe.
 */
#ifndef LT_FHIR_FHIR_TABLES_H
#define LT_FHIR_FHIR_TABLES_H

#include <stddef.h>
#include <stdint.h>

/* The generator warns when these no longer match what it produced. */
#define FHIR_TYPE_COUNT 682
#define FHIR_RESOURCE_TYPE_COUNT 146
#define FHIR_VALUE_SET_COUNT 209

#define FHIR_MAX_MANY 0xFFFF	/* fhir_elem.max for "*" */
#define FHIR_NO_SLOT 0xFF	/* fhir_elem.required_slot / choice: none */

/* fhir_elem.flags */
#define FHIR_ELEM_NO_EXT 0x01	/* an XML attribute (Element.id, Extension.url): no `_name` */
#define FHIR_ELEM_SUMMARY 0x02	/* isSummary: part of _summary=true */

enum fhir_kind {
	FHIR_KIND_PRIMITIVE,	/* JSON string, number or boolean; see prim */
	FHIR_KIND_COMPLEX,	/* a datatype: JSON object with elements */
	FHIR_KIND_BACKBONE,	/* an inline element of a resource or datatype */
	FHIR_KIND_RESOURCE,	/* a concrete resource: object with resourceType */
	FHIR_KIND_ANY_RESOURCE	/* "Resource": any resource, by its resourceType */
};

enum fhir_prim {
	FHIR_PRIM_NONE,
	FHIR_PRIM_BASE64,
	FHIR_PRIM_BOOLEAN,
	FHIR_PRIM_CANONICAL,
	FHIR_PRIM_CODE,
	FHIR_PRIM_DATE,
	FHIR_PRIM_DATETIME,
	FHIR_PRIM_DECIMAL,
	FHIR_PRIM_ID,
	FHIR_PRIM_INSTANT,
	FHIR_PRIM_INTEGER,
	FHIR_PRIM_MARKDOWN,
	FHIR_PRIM_OID,
	FHIR_PRIM_POSITIVE_INT,
	FHIR_PRIM_STRING,
	FHIR_PRIM_TIME,
	FHIR_PRIM_UNSIGNED_INT,
	FHIR_PRIM_URI,
	FHIR_PRIM_URL,
	FHIR_PRIM_UUID,
	FHIR_PRIM_XHTML
};

struct fhir_elem {
	const char *name;	/* JSON property name, choice suffix included */
	uint16_t type;		/* index into fhir_types[] */
	uint16_t value_set;	/* index into fhir_value_sets[]; 0 = none */
	uint16_t max;		/* maximum count; FHIR_MAX_MANY for "*" */
	uint8_t min;		/* minimum count (0 or 1 in R4) */
	uint8_t is_array;	/* 1 when JSON carries an array (base max > 1) */
	uint8_t required_slot;	/* slot in the type's required bitmap, or FHIR_NO_SLOT */
	uint8_t choice;		/* choice group within the type, or FHIR_NO_SLOT */
	uint8_t flags;		/* FHIR_ELEM_* */
};

struct fhir_type {
	const char *name;	/* "Patient", "Patient.contact", "HumanName", "date" */
	uint8_t kind;		/* enum fhir_kind */
	uint8_t prim;		/* enum fhir_prim, FHIR_PRIM_NONE unless primitive */
	uint16_t elem_first;	/* its elements: fhir_elems[elem_first .. +elem_count) */
	uint16_t elem_count;
	uint16_t required_first; /* names of its required slots in fhir_required_names[] */
	uint8_t required_count;	/* slots 0 .. required_count-1 */
	uint8_t choice_count;	/* choice groups 0 .. choice_count-1 */
};

struct fhir_resource_type {
	const char *name;	/* sorted by strcmp */
	uint16_t type;		/* index into fhir_types[] */
};

struct fhir_value_set {
	const char *url;	/* canonical URL, without version */
	const char *hint;	/* "male | female | other | unknown", or "" when long */
	uint16_t code_first;	/* codes: fhir_codes[code_first .. +code_count), sorted */
	uint16_t code_count;
};

extern const struct fhir_type fhir_types[FHIR_TYPE_COUNT];
extern const struct fhir_elem fhir_elems[];
extern const char *const fhir_required_names[];
extern const struct fhir_resource_type fhir_resource_types[FHIR_RESOURCE_TYPE_COUNT];
extern const struct fhir_value_set fhir_value_sets[FHIR_VALUE_SET_COUNT];
extern const char *const fhir_codes[];
extern const uint16_t fhir_type_element;	/* the type of `_x` objects */

/* The element of type t whose JSON name is the n bytes at name, or NULL
 * (binary search in t's sorted slice; validate.c). Shared by validation and
 * the FHIRPath evaluator so that both resolve names the same way. */
const struct fhir_elem *fhir_elem_find(const struct fhir_type *t, const char *name, size_t n);

#endif
