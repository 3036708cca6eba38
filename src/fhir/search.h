/*
 * search.h — the first building block of FHIR search: the R4 search
 * parameters, the FHIRPath subset their expressions use, and the extraction
 * of index entries from a resource.
 *
 * The parameter table is generated from the official SearchParameter
 * resources (npm hl7.fhir.r4.examples@4.0.1, Bundle-searchParams.json) by
 * tools/gen_search_params.py into search_params.c: one row per (resource
 * type, code), sorted by resource type then code (byte order), common
 * parameters (_id, _lastUpdated, _tag, _profile, _security, _source, _query,
 * _content on every type; _text on domain resources) repeated on each type.
 * A parameter shared by several types keeps only the part of its expression
 * for that type.
 *
 * FHIRPath (fhirpath.c) is a subset sized to those expressions: paths over
 * the R4 type tables (choice elements, nested resources, a primitive's
 * `_name` extensions), `|`, `where()`, `exists()`, `empty()`, `first()`,
 * `last()`, `count()`, `not()`, `hasValue()`, `as`, `is`, `ofType()`,
 * `resolve()` (by the reference's text: no store), `extension(url)`, `[n]`,
 * `=`, `!=`, `and`, `or`, `xor`, `implies`, string, integer, decimal and
 * boolean literals, `{}`, `$this`, `%resource`, `%context`, `%ucum`,
 * `%sct`, `%loinc`.
 * Anything else is refused when compiling, with a message naming it.
 * See docs/decisions/0005-search-index.md.
 *
 * Index extraction (index.c) evaluates every parameter of a resource's type
 * and hands normalized entries to a callback; it does no I/O and knows no
 * store.
 *
 * Thread-safety: the tables are const; compiled expressions of the table
 * are built once, on first use, under pthread_once, and are read-only
 * afterwards. A struct fhirpath_ctx belongs to one thread at a time.
 * Ownership: every pointer parameter is borrowed; every struct str in an
 * entry points into the resource or into memory owned by the extraction
 * and is valid only during the callback.
 */
#ifndef LT_FHIR_SEARCH_H
#define LT_FHIR_SEARCH_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include "../base/buf.h"
#include "../base/err.h"

/* ---- the search-parameter table ---------------------------------------- */

/* The generator warns when these no longer match what it produced. */
#define FHIR_SEARCH_PARAM_COUNT 3008
#define FHIR_SEARCH_COMPONENT_COUNT 148

enum fhir_search_type {
	FHIR_SEARCH_NUMBER,
	FHIR_SEARCH_DATE,
	FHIR_SEARCH_STRING,
	FHIR_SEARCH_TOKEN,
	FHIR_SEARCH_REFERENCE,
	FHIR_SEARCH_COMPOSITE,
	FHIR_SEARCH_QUANTITY,
	FHIR_SEARCH_URI,
	FHIR_SEARCH_SPECIAL
};

/* fhir_search_param.modifiers: which modifiers the parameter accepts
 * (R4 search.html 3.1.1.5, per parameter type). */
#define FHIR_SEARCH_MOD_MISSING 0x001
#define FHIR_SEARCH_MOD_EXACT 0x002
#define FHIR_SEARCH_MOD_CONTAINS 0x004
#define FHIR_SEARCH_MOD_NOT 0x008
#define FHIR_SEARCH_MOD_TEXT 0x010
#define FHIR_SEARCH_MOD_IN 0x020
#define FHIR_SEARCH_MOD_NOT_IN 0x040
#define FHIR_SEARCH_MOD_BELOW 0x080
#define FHIR_SEARCH_MOD_ABOVE 0x100
#define FHIR_SEARCH_MOD_TYPE 0x200	/* reference :[type] */
#define FHIR_SEARCH_MOD_IDENTIFIER 0x400
#define FHIR_SEARCH_MOD_OF_TYPE 0x800

/* fhir_search_param.comparators: the prefixes allowed (from the spec). */
#define FHIR_SEARCH_CMP_EQ 0x001
#define FHIR_SEARCH_CMP_NE 0x002
#define FHIR_SEARCH_CMP_GT 0x004
#define FHIR_SEARCH_CMP_LT 0x008
#define FHIR_SEARCH_CMP_GE 0x010
#define FHIR_SEARCH_CMP_LE 0x020
#define FHIR_SEARCH_CMP_SA 0x040
#define FHIR_SEARCH_CMP_EB 0x080
#define FHIR_SEARCH_CMP_AP 0x100

/* fhir_search_param.flags */
#define FHIR_SEARCH_MULTIPLE_OR 0x01	/* composite: several values OR'ed */
#define FHIR_SEARCH_MULTIPLE_AND 0x02
#define FHIR_SEARCH_PHONETIC 0x04	/* xpathUsage = phonetic */
#define FHIR_SEARCH_NEARBY 0x08		/* xpathUsage = nearby (Location near) */
#define FHIR_SEARCH_DISTANCE 0x10

struct fhir_search_param {
	const char *resource_type;	/* "Patient" */
	const char *code;		/* "birthdate", "_id" */
	const char *id;			/* SearchParameter.id, "individual-birthdate";
					 * url = http://hl7.org/fhir/SearchParameter/ + id */
	const char *expression;		/* FHIRPath for this type only; NULL: none in
					 * the spec (_content, _query, _text) */
	const char *const *target;	/* reference: target resource types */
	uint16_t n_target;
	uint16_t component_first;	/* composite: fhir_search_components[first..+n) */
	uint8_t n_component;
	uint8_t type;			/* enum fhir_search_type */
	uint16_t modifiers;		/* FHIR_SEARCH_MOD_* */
	uint16_t comparators;		/* FHIR_SEARCH_CMP_* */
	uint8_t flags;			/* FHIR_SEARCH_MULTIPLE_OR, ... */
};

struct fhir_search_component {
	uint16_t param;			/* the component's own row, same resource type */
	const char *expression;		/* relative to each value of the composite */
};

struct fhir_search_slice {
	uint16_t first, count;
};

/* The generated tables (search_params.c); prefer the functions below. */
extern const struct fhir_search_param fhir_search_params[FHIR_SEARCH_PARAM_COUNT];
extern const struct fhir_search_component fhir_search_components[FHIR_SEARCH_COMPONENT_COUNT];
extern const struct fhir_search_slice fhir_search_by_type[];	/* per fhir_resource_type_index */
extern const char fhir_fold_00c0[0x250 - 0xC0][4];	/* see fhir_search_fold */
extern const char fhir_fold_1e00[0x100][4];

/* Compartments: resource_type is in the compartment of a `compartment`
 * (Patient, Encounter, ...) when its parameter `param` refers to it. */
struct fhir_compartment_row {
	const char *compartment, *resource_type, *param;
};
extern const struct fhir_compartment_row fhir_compartment_rows[];
extern const size_t fhir_compartment_row_count;

/* The row for (resource_type, code), or NULL: the generated table's (two
 * binary searches), else the current custom set's. */
const struct fhir_search_param *fhir_search_param_find(const char *resource_type,
							 const char *code);
/* The same with counted strings (URL query parts are not NUL-terminated). */
const struct fhir_search_param *fhir_search_param_find_n(const char *resource_type, size_t type_n,
							   const char *code, size_t code_n);
/* All parameters of the generated table for a resource type, sorted by
 * code; NULL and *n = 0 for an unknown type. The custom ones:
 * fhir_search_customs_param. */
const struct fhir_search_param *fhir_search_params_for(const char *resource_type, size_t *n);
/* The i-th component's row and expression of a composite parameter. */
const struct fhir_search_param *fhir_search_component_param(const struct fhir_search_param *p,
							    size_t i, const char **expression);
/* "number", "date", ... for enum fhir_search_type. */
const char *fhir_search_type_name(int type);
/* FHIR_SEARCH_MOD_* for a modifier name ("exact", "of-type"), 0 when unknown.
 * Reference type modifiers (":Patient") are not names: check them with
 * fhir_resource_type_index. */
unsigned fhir_search_modifier_bit(const char *name, size_t n);

/* Folds n bytes of UTF-8 for string search: lower case, and for Latin
 * letters (U+00C0..U+024F, U+1E00..U+1EFF: Vietnamese included) without
 * diacritics: "Nguyễn" -> "nguyen", "ĐẶNG" -> "dang", "Straße" -> "strasse".
 * Combining marks U+0300..U+036F are dropped (decomposed input folds the
 * same); other characters are copied. Writes at most cap - 1 bytes and a
 * NUL, and returns the length of the whole folded text (as snprintf):
 * FHIR_SEARCH_FOLD_MAX(n) bytes are always enough. Invalid UTF-8 bytes are
 * copied as they are. Use the same function on query values. */
#define FHIR_SEARCH_FOLD_MAX(n) (2 * (n) + 1)
size_t fhir_search_fold(const char *s, size_t n, char *out, size_t cap);

/* What a reference's text says, without looking anything up. */
enum fhir_reference_kind {
	FHIR_REFERENCE_RELATIVE,	/* Type/id or Type/id/_history/v */
	FHIR_REFERENCE_ABSOLUTE,	/* scheme://...; type/id set when it ends so */
	FHIR_REFERENCE_CONTAINED,	/* #id: id is the part after '#' */
	FHIR_REFERENCE_URN,		/* urn:uuid:..., urn:oid:... */
	FHIR_REFERENCE_OTHER		/* anything else (a search URL, garbage) */
};

struct fhir_reference_parts {
	int kind;			/* enum fhir_reference_kind */
	struct str type, id, version;	/* empty when not found; type is a known R4 type */
};

/* Splits the n bytes at s (a Reference.reference, or a query value). */
void fhir_search_reference_split(const char *s, size_t n, struct fhir_reference_parts *out);

/* ---- FHIRPath ---------------------------------------------------------- */

#define FHIRPATH_MAX_NODES 256	/* nodes of one compiled expression */
#define FHIRPATH_MAX_DEPTH 96	/* nesting of the syntax tree */
#define FHIRPATH_MAX_ITEMS (1u << 20)	/* values alive during one evaluation */
#define FHIRPATH_LOCAL_ITEMS 128	/* of which this many without malloc */

/* One node of a compiled expression: private to fhirpath.c. */
struct fhirpath_node {
	uint8_t op;
	uint8_t flags;
	uint16_t type;		/* type argument (is, as, ofType, root type) */
	uint16_t a, b;		/* operands: node indexes, FHIRPATH_NONE when absent */
	uint32_t text;		/* name or literal: offset into the source */
	uint16_t text_n;
};
#define FHIRPATH_NONE 0xFFFF

/* A compiled expression: nodes[0..n) in storage owned by the caller of
 * fhirpath_compile; src is borrowed and must outlive it. */
struct fhirpath_expr {
	const char *src;
	const struct fhirpath_node *node;
	uint16_t n, root;
};

/* Compiles the NUL-terminated src into nodes[0..cap) and *x. Returns 0, or
 * ERR_BAD_REQUEST with a message saying what is wrong or outside the subset
 * and where (a byte offset); ERR_TOO_LARGE past cap nodes or
 * FHIRPATH_MAX_DEPTH levels. */
int fhirpath_compile(const char *src, struct fhirpath_node *nodes, size_t cap,
		     struct fhirpath_expr *x, struct err *e) LT_MUST_CHECK;

enum fhirpath_kind {
	FHIRPATH_JSON,		/* an element of the resource: json, type */
	FHIRPATH_BOOLEAN,	/* a computed boolean: boolean */
	FHIRPATH_STRING,	/* a literal: str, len (escapes not decoded) */
	FHIRPATH_INTEGER,	/* a literal or count(): integer */
	FHIRPATH_DECIMAL,	/* a literal: str, len */
	FHIRPATH_TYPE		/* what resolve() knows of a reference: only type */
};

/* A value of a collection. type is an opaque type id (fhirpath_type_name). */
struct fhirpath_value {
	struct json_object *json;	/* FHIRPATH_JSON; borrowed from the resource */
	const char *str;		/* FHIRPATH_STRING / DECIMAL */
	int64_t integer;		/* FHIRPATH_INTEGER */
	struct json_object *parent;	/* FHIRPATH_JSON primitive: the object holding it, */
	uint32_t index;			/* its position in the array (UINT32_MAX: none), */
	uint16_t elem;			/* and its element (private): finds `_name` */
	uint16_t type;
	uint32_t len;
	uint8_t kind;			/* enum fhirpath_kind */
	uint8_t boolean;		/* FHIRPATH_BOOLEAN */
	uint8_t escaped;		/* FHIRPATH_STRING holds backslash escapes */
};

/* The value stack of evaluations: item[0..n) are alive. Starts on
 * FHIRPATH_LOCAL_ITEMS inline values and moves to the heap past them. */
struct fhirpath_ctx {
	struct fhirpath_value *item;
	size_t n, cap;
	struct fhirpath_value local[FHIRPATH_LOCAL_ITEMS];
};

void fhirpath_ctx_init(struct fhirpath_ctx *c);
void fhirpath_ctx_release(struct fhirpath_ctx *c);

/*
 * Evaluates x with %resource = resource and the focus ($this) = *focus, or
 * the resource itself when focus is NULL. The result is c->item[*first ..
 * *first + *n), pushed on top of the stack: it stays valid (by index; the
 * stack may move) until c->n is set back to *first or below, which is how
 * a caller pops it. A focus that is the resource itself, typed
 * ({FHIRPATH_JSON, resource, its type}), saves looking up resourceType.
 * Returns 0; ERR_INVALID when resource has no known resourceType;
 * ERR_BAD_REQUEST for an expression that cannot be evaluated on this input
 * (e.g. where() criteria giving several values); ERR_TOO_LARGE past
 * FHIRPATH_MAX_ITEMS; ERR_NOMEM.
 */
int fhirpath_eval(struct fhirpath_ctx *c, const struct fhirpath_expr *x,
		  struct json_object *resource, const struct fhirpath_value *focus, size_t *first,
		  size_t *n, struct err *e) LT_MUST_CHECK;

/* "HumanName", "dateTime", "Patient", "System.Boolean", ... */
const char *fhirpath_type_name(unsigned type);
/* The type id of a FHIR type or resource name, or -1. */
int fhirpath_type_id(const char *name, size_t n);
/* 1 when a value of type `is` base: the same type, or a specialization
 * (Age is a Quantity, code a string, every resource a Resource). `as` and
 * `ofType` accept the same except primitive specializations, as the
 * official FHIRPath test suite has it. */
int fhirpath_type_is(unsigned type, unsigned base);

/* ---- index extraction -------------------------------------------------- */

enum fhir_index_kind {
	FHIR_INDEX_STRING,	/* string: exact, folded */
	FHIR_INDEX_TOKEN,	/* token: system (has_system), code */
	FHIR_INDEX_TOKEN_TEXT,	/* token :text: exact, folded of a display or text */
	FHIR_INDEX_TOKEN_OF_TYPE, /* token :of-type: of_type (Identifier.type + value) */
	FHIR_INDEX_DATE,	/* date: low, high */
	FHIR_INDEX_NUMBER,	/* number: quantity without units */
	FHIR_INDEX_QUANTITY,	/* quantity */
	FHIR_INDEX_REFERENCE,	/* reference (also canonical) */
	FHIR_INDEX_REFERENCE_IDENTIFIER, /* reference :identifier: token */
	FHIR_INDEX_URI,		/* uri: string.exact */
	FHIR_INDEX_POSITION,	/* special (Location near): position */
	FHIR_INDEX_COMPOSITE	/* composite: one value per component */
};

#define FHIR_INDEX_MIN_MS INT64_MIN	/* open start of a Period */
#define FHIR_INDEX_MAX_MS INT64_MAX	/* open end */

struct fhir_index_entry {
	const struct fhir_search_param *param;
	int kind;			/* enum fhir_index_kind */
	union {
		struct {		/* STRING, TOKEN_TEXT, URI */
			struct str exact;	/* the text as in the resource */
			struct str folded;	/* fhir_search_fold(exact); empty for URI */
		} string;
		struct {		/* TOKEN, REFERENCE_IDENTIFIER */
			struct str system;	/* meaningful only when has_system */
			struct str code;
			int has_system;		/* 0: no system at all (`|code` matches) */
		} token;
		struct {		/* TOKEN_OF_TYPE: type-system|type-code|value */
			struct str system, code, value;
		} of_type;
		struct {		/* DATE: the instants covered, ms since epoch, UTC */
			int64_t low, high;	/* FHIR_INDEX_MIN_MS / _MAX_MS when open */
		} date;
		struct {		/* NUMBER, QUANTITY */
			struct str text;	/* decimal as written ("1.50"); empty for a Range */
			double value;		/* text as a double (NaN for a Range) */
			double low, high;	/* the values covered: value, or a Range, or
						 * open on one side for a comparator (<, >=) */
			struct str system, code, unit;	/* QUANTITY; Money: ISO 4217 */
		} quantity;
		struct {		/* REFERENCE */
			struct str type;	/* "Patient", when known; empty otherwise */
			struct str id;		/* for a relative or absolute Type/id */
			struct str version;	/* _history/v, or canonical |version */
			struct str url;		/* absolute URL, urn:, "#contained", canonical */
			int canonical;		/* 1: a canonical (match on url|version) */
		} reference;
		struct {		/* POSITION */
			double latitude, longitude;
		} position;
		struct {		/* COMPOSITE: part[i] for component i */
			const struct fhir_index_entry *part;
			size_t n;
		} composite;
	} v;
};

/* Return nonzero to stop; fhir_index_resource then returns that value. */
typedef int (*fhir_index_fn)(void *arg, const struct fhir_index_entry *entry);

/*
 * Evaluates every search parameter of resource's type (its resourceType)
 * that has rows of its own (not the unions: fhir_search_param_union) and
 * calls fn for each index entry, parameter by parameter in table order.
 * Returns 0; ERR_UNKNOWN_TYPE / ERR_INVALID for a bad resourceType;
 * ERR_BAD_REQUEST when an expression cannot be evaluated on this resource;
 * ERR_NOMEM / ERR_TOO_LARGE; or fn's nonzero value. Values whose text does
 * not parse for their type (a date that is not a date) are skipped: the
 * resource is expected to have passed fhir_validate.
 */
int fhir_index_resource(struct json_object *resource, fhir_index_fn fn, void *arg,
			struct err *e) LT_MUST_CHECK;
/* The same for one parameter of the resource's type. */
int fhir_index_param(struct json_object *resource, const struct fhir_search_param *p,
		     fhir_index_fn fn, void *arg, struct err *e) LT_MUST_CHECK;
/* The compiled expression of a row, NULL when it has none or it did not
 * compile (compile it with fhirpath_compile to see why). The table's
 * expressions are compiled once, on the first call of this or of
 * fhir_index_*; NULL too when that ran out of memory. */
const struct fhirpath_expr *fhir_search_param_expr(const struct fhir_search_param *p);
/* The same for component i of a composite parameter. */
const struct fhirpath_expr *fhir_search_component_expr(const struct fhir_search_param *p,
							size_t i);
/* 1 when extraction turns a value v of a FHIRPath result into index entries
 * for a parameter of the given type (e.g. a HumanName for a string, a
 * Period for a date); 0 when it is ignored. For coverage reports. */
int fhir_index_supports(int search_type, const struct fhirpath_value *v);

/* ---- index rows and queries for the store ------------------------------ */

#include "../base/arena.h"
#include "../store/query.h"

/* A search parameter's key in the store: its row in the table, times 4,
 * plus what the rows hold (the value, the :text of a token, the :of-type of
 * an identifier, the :identifier of a reference; for a quantity, its value
 * in canonical UCUM units under the :text slot, which quantities do not
 * otherwise use: decision 0025). Stable within one
 * parameter table: fhir_search_fingerprint() names the table, and the
 * store keeps the fingerprint its index was built with. */
enum fhir_search_sub {
	FHIR_SEARCH_SUB_VALUE,
	FHIR_SEARCH_SUB_TEXT,
	FHIR_SEARCH_SUB_OF_TYPE,
	FHIR_SEARCH_SUB_IDENTIFIER
};
#define FHIR_SEARCH_SUB_CANONICAL FHIR_SEARCH_SUB_TEXT	/* quantity: canonical UCUM */
uint32_t fhir_search_param_key(const struct fhir_search_param *p, int sub);
/* A parameter of the generated table whose expression is the union of two
 * others' of its type ("A | B", same search type and components:
 * Observation's combo-code is code | component-code) has no index rows of
 * its own: its rows would repeat theirs. Returns A (and *b = B), or NULL
 * when p has rows of its own. Extraction skips such a parameter and a
 * search on it reads A's rows and B's. */
const struct fhir_search_param *fhir_search_param_union(const struct fhir_search_param *p,
							 const struct fhir_search_param **b);
/* The same by key: 1 and the parts' keys (same sub) when key is a union's. */
int fhir_search_union_keys(uint32_t key, uint32_t part[2]);
/* A short text that changes whenever the parameters do: the generated
 * table, and the custom ones below. */
const char *fhir_search_fingerprint(void);
/* The generated table's part of it. */
const char *fhir_search_table_fingerprint(void);
/* Which resource types have index rows made with other parameters when the
 * index was made for fingerprint `stored` and the server now has `current`:
 * stale[t] set for each such type index t (an array of
 * fhir_resource_type_count()); returns how many. Every type when the
 * tables differ; else the types whose custom parameters differ. */
int fhir_search_fingerprint_diff(const char *stored, const char *current, unsigned char *stale);

/* ---- custom search parameters (search_custom.c, decision 0027) -------- */

/* A set of search parameters defined by SearchParameter resources, beside
 * the generated table. fhir_search_param_find*, extraction and keys see
 * the current set; a set stays valid until the process ends. */
struct fhir_search_customs;

const struct fhir_search_customs *fhir_search_customs(void);
unsigned fhir_search_customs_generation(const struct fhir_search_customs *s);
size_t fhir_search_customs_count(const struct fhir_search_customs *s);
/* The i-th custom parameter of resource type type_index in s, NULL past
 * the last; by code. */
const struct fhir_search_param *fhir_search_customs_param(const struct fhir_search_customs *s,
							  int type_index, size_t i);
const struct fhir_search_param *fhir_search_customs_find(const struct fhir_search_customs *s,
							 int type_index, const char *code,
							 size_t code_n);
/* A custom row's definition url, key (sub-key 0) and compiled expression;
 * NULL / UINT32_MAX / NULL for a row of the generated table. */
const char *fhir_search_custom_url(const struct fhir_search_param *p);
uint32_t fhir_search_custom_key(const struct fhir_search_param *p);
const struct fhirpath_expr *fhir_search_custom_expr(const struct fhir_search_param *p);

/* Whether the SearchParameter resource sp (resource id `id`) can be used:
 * 0 when it is not active (kept, not used), only restates built-in
 * parameters, or defines parameters this server can index (*n_params: how
 * many, one per base type; 0 in the first two cases); ERR_INVALID
 * naming the element otherwise (an unknown base or target type, a code
 * taken by a built-in parameter, composite or special, an expression
 * outside the FHIRPath subset). With `with`, also refused when a parameter
 * of another SearchParameter of `with` has the same type and code. */
int fhir_search_custom_check(struct json_object *sp, const char *id,
			     const struct fhir_search_customs *with, size_t *n_params,
			     struct err *e);
/* Builds a set from the SearchParameter resources defs[0..n) (ids[i]: the
 * resource ids) and makes it current. A definition refused by
 * fhir_search_custom_check against the ones before it is left out and
 * passed to skipped. Returns 0, or ERR_NOMEM (the current set unchanged). */
typedef void (*fhir_search_skip_fn)(void *arg, const char *id, const struct err *why);
int fhir_search_customs_publish(struct json_object *const *defs, const char *const *ids, size_t n,
				fhir_search_skip_fn skipped, void *arg, struct err *e);

/* The index rows of a resource (as stored: meta set), appended to out.
 * _id and _lastUpdated give none: the store keeps them with the resource. */
int fhir_index_rows(struct json_object *resource, struct store_ix_rows *out,
		    struct err *e) LT_MUST_CHECK;

/* One name=value of a search request (decoded). */
struct fhir_search_arg {
	const char *name, *value;
};

enum fhir_summary {
	FHIR_SUMMARY_NONE,	/* no _summary, or false */
	FHIR_SUMMARY_TRUE,
	FHIR_SUMMARY_TEXT,
	FHIR_SUMMARY_DATA,
	FHIR_SUMMARY_COUNT
};

#define FHIR_SEARCH_DEFAULT_COUNT 20
#define FHIR_SEARCH_MAX_COUNT 1000
#define FHIR_SEARCH_MAX_CHAIN 4		/* links of a chain, levels of _has */
#define FHIR_SEARCH_MAX_SUBQUERIES 256	/* target types reached by all chains of a search */
#define FHIR_SEARCH_MAX_IGNORED 16

/* A parsed search request. Everything points into the arena given to
 * fhir_search_parse or into the request's strings. */
struct fhir_search_request {
	struct store_query q;
	struct store_qinclude inc[STORE_SEARCH_MAX_INCLUDE];
	size_t n_inc;
	int count;			/* _count (0 with _summary=count) */
	const char *cursor;		/* _cursor */
	int total;			/* enum store_total */
	int total_given;		/* _total was in the request */
	int summary;			/* enum fhir_summary */
	const char *elements;		/* _elements, as given */
	/* Parameters ignored (unknown, or not supported): names, for an
	 * OperationOutcome in the Bundle. */
	const char *ignored[FHIR_SEARCH_MAX_IGNORED];
	const char *ignored_why[FHIR_SEARCH_MAX_IGNORED];
	size_t n_ignored;
};

/* Restricts a parsed search to the compartment of compartment/id
 * (Patient/123/Observation). ERR_BAD_REQUEST when out->q.type is not in
 * that kind of compartment. */
int fhir_search_compartment(struct fhir_search_request *out, const char *compartment,
			    const char *id, struct arena *a, struct err *e) LT_MUST_CHECK;

/*
 * Patient/[id]/$everything: restricts a parsed search across types (type
 * NULL) to the compartment of compartment/id and the owner itself (id NULL:
 * of every live resource of type compartment), and includes with each page
 * what its resources refer to, through any parameter, one level, when its
 * type is outside every such compartment (Practitioner, Organization,
 * Location, Medication...). The request's _type and other clauses
 * (_lastUpdated) apply to both. A local reference is a relative one or the
 * absolute URL on base (NULL: relative only). ERR_BAD_REQUEST when out is
 * not across types or compartment is not a compartment.
 */
int fhir_search_everything(struct fhir_search_request *out, const char *compartment,
			   const char *id, const char *base, struct arena *a,
			   struct err *e) LT_MUST_CHECK;

/* Names of the parameters fhir_search_parse handles itself (result
 * shaping); the caller may add its own (_format, _pretty). */
int fhir_search_is_control(const char *name);

/*
 * Parses the arguments of a search on type (NULL: system level; _type
 * then restricts the types) for tenant. base is the server's own base URL,
 * so that absolute references to it match local ones. Unknown parameters
 * are listed in out->ignored, or refused with ERR_BAD_REQUEST when strict.
 * Returns 0 or ERR_BAD_REQUEST naming the parameter in e; ERR_NOMEM.
 */
int fhir_search_parse(const char *type, int64_t tenant, const struct fhir_search_arg *args,
		      size_t n, int strict, const char *base, struct arena *a,
		      struct fhir_search_request *out, struct err *e) LT_MUST_CHECK;

#endif
