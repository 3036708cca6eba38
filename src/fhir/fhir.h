/*
 * fhir.h — FHIR R4 knowledge: resource types, structural validation, ids,
 * and OperationOutcome.
 *
 * The type tables are generated from the official R4 StructureDefinitions
 * (npm hl7.fhir.r4.examples@4.0.1) by tools/gen_fhir_tables.py into
 * fhir_tables.c; nothing here is written by hand that the specification
 * already says. No I/O. All functions are thread-safe (tables are const).
 */
#ifndef LT_FHIR_FHIR_H
#define LT_FHIR_FHIR_H

#include <json-c/json.h>
#include <stddef.h>
#include "../base/buf.h"
#include "../base/err.h"

#define FHIR_VERSION "4.0.1"
#define FHIR_ID_MAX 64

/* Resource types, sorted by name; indexes are stable only within a build. */
int fhir_resource_type_count(void);
const char *fhir_resource_type_name(int index);
/* Index of the resource type named by n bytes at name, or -1. Case-sensitive. */
int fhir_resource_type_index(const char *name, size_t n);

/* 1 when the n bytes are a valid FHIR id: [A-Za-z0-9\-\.]{1,64}. */
int fhir_id_valid(const char *s, size_t n);

/*
 * Validates a parsed resource against the R4 structure: known resourceType,
 * known element names (choice types resolved, `_x` primitive extensions),
 * JSON kinds (object/array/string/number/boolean), cardinality (min, max),
 * primitive formats (id, date, dateTime, instant, decimal, uri, code, ...),
 * required bindings to small closed value sets, and nested resources
 * (contained, Bundle.entry.resource, Parameters.parameter.resource).
 * Returns 0, or ERR_INVALID with one issue per problem found, each with a
 * FHIRPath expression such as "Patient.contact[0].gender".
 */
int fhir_validate(struct json_object *resource, struct err *e) LT_MUST_CHECK;

/* Appends an OperationOutcome for e (code, issues) to b as compact JSON. */
int fhir_outcome_write(struct buf *b, const struct err *e, int pretty) LT_MUST_CHECK;
/* The same, as a new json-c object (caller puts it). NULL when out of memory. */
struct json_object *fhir_outcome_new(const struct err *e);

#endif
