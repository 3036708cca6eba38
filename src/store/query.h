/*
 * query.h — the store's index: the rows written with each resource, and the
 * backend-neutral query language that searches them.
 *
 * The store knows no FHIR. A search parameter is a number (param); a row
 * lives in one of a few typed tables (token, string, date, number, reference,
 * uri, composite). src/fhir turns a resource into rows (fhir_index_rows) and
 * a FHIR search URL into a struct store_query (fhir_search_parse); the
 * backend turns the query into its own language (SQL) and runs it.
 *
 * Index rows exist only for the current version of a live resource: a write
 * replaces the resource's rows in the same transaction as the version, and a
 * delete removes them. So a match on the index is a match on current data.
 *
 * Ownership: every pointer in a query or a row set is borrowed; the caller
 * keeps it alive (an arena) until the store call returns.
 */
#ifndef LT_STORE_QUERY_H
#define LT_STORE_QUERY_H

#include <stddef.h>
#include <stdint.h>
#include "../base/buf.h"

enum store_ix_table {
	STORE_IX_TOKEN,		/* s0 system ("" = none), s1 code */
	STORE_IX_STRING,	/* s0 folded, s1 exact */
	STORE_IX_DATE,		/* lo, hi: ms since epoch, inclusive */
	STORE_IX_NUMBER,	/* dlo, dhi; quantities: s0 system, s1 code, s2 unit */
	STORE_IX_REFERENCE,	/* s0 type, s1 id, s2 url, s3 version */
	STORE_IX_URI,		/* s0 uri */
	STORE_IX_COMPOSITE,	/* s0 s1: first part (token system/code or ref type/id);
				 * s2 s3: second part text (token system/code, string folded);
				 * dlo dhi: second part range (number, quantity, date as ms);
				 * elo ehi: third part range (number) */
	STORE_IX__COUNT
};

/* One index row; strings are offsets into the row set's text buffer. */
struct store_ix_row {
	uint32_t param;
	uint8_t table;			/* enum store_ix_table */
	uint32_t s[4], n[4];		/* s[i]: offset in text, n[i]: length */
	int64_t lo, hi;
	double dlo, dhi, elo, ehi;
};

/* The rows of one resource. */
struct store_ix_rows {
	struct store_ix_row *row;
	size_t n, cap;
	struct buf text;		/* the strings of all rows */
};

void store_ix_rows_init(struct store_ix_rows *r);
void store_ix_rows_release(struct store_ix_rows *r);
void store_ix_rows_clear(struct store_ix_rows *r);
/* Appends a row and returns it zeroed (strings empty), or NULL. */
struct store_ix_row *store_ix_rows_add(struct store_ix_rows *r, int table, uint32_t param);
/* Sets string i of the last row added. */
int store_ix_rows_str(struct store_ix_rows *r, struct store_ix_row *row, int i, const char *s,
		      size_t n) LT_MUST_CHECK;

/* ---- queries ----------------------------------------------------------- */

/* What a value matches. */
enum store_q_op {
	STORE_Q_TOKEN,		/* s0 system when has_system; s1 code when has_code */
	STORE_Q_STRING_PREFIX,	/* s0 folded prefix */
	STORE_Q_STRING_EXACT,	/* s1 exact (s0 its folded form, for the index) */
	STORE_Q_STRING_CONTAINS, /* s0 folded */
	STORE_Q_URI,		/* s0 exact */
	STORE_Q_URI_BELOW,	/* s0 prefix */
	STORE_Q_URI_ABOVE,	/* the stored uri is a prefix of s0 */
	STORE_Q_DATE,		/* cmp over [lo, hi] */
	STORE_Q_NUMBER,		/* cmp over [dlo, dhi); quantities: s0 system, s1 code (code or unit) */
	STORE_Q_REFERENCE,	/* s0 type (may be empty), s1 id (see local), or s2 url;
				 * or sub: a chain (local references only) */
	STORE_Q_COMPOSITE,	/* a composite: s0 s1 first token; second part: s2 s3 text,
				 * or cmp over [dlo, dhi); third: cmp2 over [elo, ehi) */
	STORE_Q_NEAR,		/* a position (rows: lo latitude, hi longitude) within elo
				 * km of latitude dlo, longitude dhi (great circle) */
	STORE_Q_PRESENT,	/* any row of the parameter (":missing=false") */
	STORE_Q_ID,		/* the resource's id is s0 */
	STORE_Q_LAST_UPDATED,	/* cmp over the resource's lastUpdated [lo, hi] */
	STORE_Q_HAS,		/* a resource of sub's type matching sub refers to this
				 * one through param has_param */
	STORE_Q_TYPE,		/* system search: the resource's type is s0 */
	STORE_Q_COMPARTMENT	/* the resource is in the compartment comp (one value) */
};

/* The FHIR prefixes of number, date and quantity. */
enum store_cmp {
	STORE_CMP_EQ,
	STORE_CMP_NE,
	STORE_CMP_GT,
	STORE_CMP_LT,
	STORE_CMP_GE,
	STORE_CMP_LE,
	STORE_CMP_SA,
	STORE_CMP_EB,
	STORE_CMP_AP
};

struct store_query;

/*
 * A compartment as one clause (STORE_Q_COMPARTMENT): the resources that
 * refer to the owner, a resource of `type` with `id`, through one of
 * params[] by a local reference (a relative one, or the absolute URL
 * `base` + "/" + type + "/" + id), and the owner itself when with_owner.
 * id NULL: the compartments of every live resource of the type (and, with
 * with_owner, every such resource). The parameters may be of any types: a
 * row's parameter key names its type.
 */
struct store_qcompartment {
	const char *type;		/* "Patient" */
	const char *id;			/* NULL: any live owner */
	struct str base;		/* this server's base URL; empty: relative references only */
	const uint32_t *params;		/* reference parameters, of any resource types */
	size_t n_params;
	uint8_t with_owner;
};

struct store_qvalue {
	uint8_t op;			/* enum store_q_op */
	uint8_t cmp, cmp2;		/* enum store_cmp */
	uint8_t has_system;		/* token: system given ("" = "no system") */
	uint8_t has_code;		/* token: code given */
	uint8_t system_or_none;		/* token: rows without a system match too (a
					 * `code` element, whose system is implied) */
	uint8_t has_second;		/* composite: the second part is given */
	uint8_t has_third;		/* composite: the third (a number) is given: cmp2 over
					 * [tlo, thi), exact value texact */
	uint8_t local;			/* reference Type/id: only local references (url
					 * empty, or s2: the same as an absolute URL on
					 * this server) */
	struct str s[4];
	int64_t lo, hi;
	double dlo, dhi, elo, ehi;
	double tlo, thi, texact;
	uint32_t has_param;		/* STORE_Q_HAS: the reference parameter of sub's type */
	const struct store_qvalue *and_also;	/* DATE, NUMBER: the same row must also
						 * match this (a range: ge X and lt Y) */
	const struct store_query *sub;	/* chain target / _has referrer */
	const struct store_qcompartment *comp;	/* STORE_Q_COMPARTMENT */
};

/* Values OR'ed; a clause on one parameter of one table. With param
 * STORE_PARAM_EACH, each value names its own parameter (in has_param):
 * a compartment is "any of these references points at the owner". */
#define STORE_PARAM_EACH UINT32_MAX
struct store_qclause {
	uint32_t param;
	uint8_t table;			/* enum store_ix_table (unused for ID, LAST_UPDATED, HAS, TYPE) */
	uint8_t negate;			/* :not, :missing=true: none of the values */
	uint8_t own_type;		/* param is a key of the query's type alone (not a
					 * common parameter shared by all types) */
	struct store_qvalue *v;
	size_t n;
};

enum store_sort_kind {
	STORE_SORT_RID,			/* insertion order (the default) */
	STORE_SORT_ID,
	STORE_SORT_LAST_UPDATED,
	STORE_SORT_PARAM		/* table + param */
};

struct store_qsort {
	uint8_t kind, table, desc;
	uint8_t n_param;		/* 2: the rows of part[0] and part[1], not param's */
	uint32_t param;
	uint32_t part[2];
};

#define STORE_QUERY_MAX_SORT 4
#define STORE_CURSOR_MAX 512		/* bytes of an encoded cursor */

/* A search: resources of tenant (of type, or of types[] / any type when
 * type is NULL) matching every clause. */
struct store_query {
	int64_t tenant;
	const char *type;		/* NULL: system search */
	struct store_qclause *c;	/* AND */
	size_t n;
	struct store_qsort sort[STORE_QUERY_MAX_SORT];
	size_t n_sort;
};

enum store_hit_mode { STORE_HIT_MATCH = 1, STORE_HIT_INCLUDE = 2 };

/* What to include with a page: resources referred to by (include) or
 * referring to (revinclude) the page's resources through param. */
struct store_qinclude {
	uint32_t param;			/* reference parameter of the referring type;
					 * STORE_PARAM_EACH (include only): any parameter */
	const char *from_type;		/* include: the page's type; revinclude: the referrer's */
	const char *target_type;	/* only this target type (`:Patient`), or NULL */
	uint8_t rev, iterate;
	const struct store_query *filter;	/* NULL, or only the included resources that
						 * also match it (same tenant; e.g. _type and
						 * _lastUpdated clauses) */
};

#define STORE_SEARCH_MAX_INCLUDE 16
#define STORE_SEARCH_MAX_RESULTS 10000	/* matches + includes of one page */

enum store_total { STORE_TOTAL_NONE, STORE_TOTAL_ACCURATE };

/* One search: a page of matches (after cursor, at most count), the
 * resources they include, and the total. All reads see one snapshot. */
struct store_search {
	const struct store_query *q;
	int count;			/* page size; 0: only the total */
	const char *cursor;		/* from a previous page's next_cursor, or NULL */
	int total;			/* enum store_total */
	const struct store_qinclude *inc;	/* `*` comes expanded, one per parameter */
	size_t n_inc;
	/* Results. */
	int64_t total_n;		/* -1 when not counted */
	char next_cursor[STORE_CURSOR_MAX];	/* "" when this is the last page */
};

#endif
