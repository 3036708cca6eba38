/*
 * index_rows.c — turns the index entries of a resource (index.c) into the
 * store's typed rows (store/query.h), with the parameter keys both the
 * writer and the query side use.
 */
#include "search.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "ucum.h"
#include "../base/time.h"

uint32_t fhir_search_param_key(const struct fhir_search_param *p, int sub)
{
	/* The common parameters (_tag, _profile, ...) have the same expression
	 * on every type: they share the first type's key, so that a search
	 * across types is one clause. */
	if (p->code[0] == '_' && strcmp(p->resource_type, "Account") != 0) {
		const struct fhir_search_param *first = fhir_search_param_find("Account", p->code);

		if (first)
			p = first;
	}
	if (p < fhir_search_params || p >= fhir_search_params + FHIR_SEARCH_PARAM_COUNT)
		return fhir_search_custom_key(p) + (uint32_t)sub;
	return (uint32_t)(p - fhir_search_params) * 4u + (uint32_t)sub;
}

/* ---- parameters made of two others --------------------------------------- */

/* union_of[i]: when parameter i's expression is "A | B" with A and B the
 * expressions of two other parameters of its type, of its search type and
 * (composites) with its components, the rows of those two, each + 1; else
 * zeros. Observation's combo-* parameters are such unions (combo-code is
 * code | component-code): a resource's rows for them would repeat its rows
 * for the two parts, so they have none, and a search reads the parts'. */
static uint16_t union_of[FHIR_SEARCH_PARAM_COUNT][2];
_Static_assert(FHIR_SEARCH_PARAM_COUNT < UINT16_MAX, "union_of holds rows + 1 in 16 bits");
static pthread_once_t union_once = PTHREAD_ONCE_INIT;

static int same_components(const struct fhir_search_param *a, const struct fhir_search_param *b)
{
	if (a->n_component != b->n_component)
		return 0;
	for (size_t i = 0; i < a->n_component; i++) {
		const char *ea, *eb;
		const struct fhir_search_param *ca = fhir_search_component_param(a, i, &ea);
		const struct fhir_search_param *cb = fhir_search_component_param(b, i, &eb);

		if (!ca || !cb || ca->type != cb->type || strcmp(ea, eb))
			return 0;
	}
	return 1;
}

/* The row (+ 1) in [first, end) other than like's whose expression is the n
 * bytes at expr and which searches as like does, or 0. */
static uint16_t union_part(size_t first, size_t end, const struct fhir_search_param *like,
			   const char *expr, size_t n)
{
	for (size_t j = first; j < end; j++) {
		const struct fhir_search_param *q = &fhir_search_params[j];

		if (q != like && q->type == like->type && q->expression && q->code[0] != '_' &&
		    strlen(q->expression) == n && !memcmp(q->expression, expr, n) &&
		    same_components(q, like))
			return (uint16_t)(j + 1);
	}
	return 0;
}

static void union_build(void)
{
	size_t first = 0;

	for (size_t i = 0; i < FHIR_SEARCH_PARAM_COUNT; i++) {
		const struct fhir_search_param *p = &fhir_search_params[i];
		size_t end;

		if (strcmp(p->resource_type, fhir_search_params[first].resource_type))
			first = i;
		for (end = i + 1; end < FHIR_SEARCH_PARAM_COUNT &&
				  !strcmp(fhir_search_params[end].resource_type, p->resource_type);
		     end++)
			;
		if (!p->expression || p->code[0] == '_')
			continue;
		/* Each " | " a split: a side that is not a whole expression
		 * matches no parameter's. */
		for (const char *bar = strstr(p->expression, " | "); bar; bar = strstr(bar + 1, " | ")) {
			uint16_t a = union_part(first, end, p, p->expression,
						(size_t)(bar - p->expression));
			uint16_t b = a ? union_part(first, end, p, bar + 3, strlen(bar + 3)) : 0;

			if (a && b) {
				union_of[i][0] = a;
				union_of[i][1] = b;
				break;
			}
		}
	}
	/* A part must have rows of its own. */
	for (size_t i = 0; i < FHIR_SEARCH_PARAM_COUNT; i++)
		if (union_of[i][0] && (union_of[union_of[i][0] - 1][0] || union_of[union_of[i][1] - 1][0]))
			union_of[i][0] = union_of[i][1] = 0;
}

const struct fhir_search_param *fhir_search_param_union(const struct fhir_search_param *p,
							 const struct fhir_search_param **b)
{
	size_t i;

	if (p < fhir_search_params || p >= fhir_search_params + FHIR_SEARCH_PARAM_COUNT)
		return NULL;
	pthread_once(&union_once, union_build);
	i = (size_t)(p - fhir_search_params);
	if (!union_of[i][0])
		return NULL;
	if (b)
		*b = &fhir_search_params[union_of[i][1] - 1];
	return &fhir_search_params[union_of[i][0] - 1];
}

int fhir_search_union_keys(uint32_t key, uint32_t part[2])
{
	const struct fhir_search_param *a, *b;

	if (key >= FHIR_SEARCH_PARAM_COUNT * 4u)
		return 0;
	a = fhir_search_param_union(&fhir_search_params[key / 4], &b);
	if (!a)
		return 0;
	part[0] = fhir_search_param_key(a, (int)(key % 4));
	part[1] = fhir_search_param_key(b, (int)(key % 4));
	return 1;
}

static char fingerprint[40];
static pthread_once_t fingerprint_once = PTHREAD_ONCE_INIT;

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h ^ 0xff;	/* separates "ab"+"c" from "a"+"bc" */
}

static void fingerprint_build(void)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < FHIR_SEARCH_PARAM_COUNT; i++) {
		const struct fhir_search_param *p = &fhir_search_params[i];
		char t[8];

		snprintf(t, sizeof(t), "%d", p->type);
		h = fnv1a(fnv1a(fnv1a(fnv1a(h, p->resource_type), p->code), p->expression), t);
	}
	/* Bump the suffix when the way rows are made changes. The zone of
	 * dates without one is part of it: changing `timezone` moves them. */
	snprintf(fingerprint, sizeof(fingerprint), "r4-%016llx-7%+lld", (unsigned long long)h,
		 (long long)(time_local_offset_ms() / 60000));
}

const char *fhir_search_table_fingerprint(void)
{
	pthread_once(&fingerprint_once, fingerprint_build);
	return fingerprint;
}

struct rows_ctx {
	struct store_ix_rows *out;
	struct err *e;
};

static int put(struct rows_ctx *x, struct store_ix_row *r, int i, struct str s)
{
	return store_ix_rows_str(x->out, r, i, s.p, s.n);
}

/* A token's system: "" when it has none. */
static struct str token_system(const struct fhir_index_entry *en)
{
	return en->v.token.has_system ? en->v.token.system : (struct str){ "", 0 };
}

/* The first part of a composite row (a token, or a reference's type/id). */
static int composite_first(struct rows_ctx *x, struct store_ix_row *r,
			   const struct fhir_index_entry *p)
{
	if (p->kind == FHIR_INDEX_TOKEN)
		return put(x, r, 0, token_system(p)) || put(x, r, 1, p->v.token.code);
	if (p->kind == FHIR_INDEX_REFERENCE)
		return put(x, r, 0, p->v.reference.type) || put(x, r, 1, p->v.reference.id);
	return put(x, r, 1, (struct str){ "", 0 });
}

/* The second part: text (token, string) or a range (quantity, number, date). */
static int composite_second(struct rows_ctx *x, struct store_ix_row *r,
			    const struct fhir_index_entry *p)
{
	switch (p->kind) {
	case FHIR_INDEX_TOKEN:
		return put(x, r, 2, token_system(p)) || put(x, r, 3, p->v.token.code);
	case FHIR_INDEX_STRING:
		return put(x, r, 3, p->v.string.folded);
	case FHIR_INDEX_DATE:
		r->dlo = (double)p->v.date.low;
		r->dhi = (double)p->v.date.high;
		return 0;
	case FHIR_INDEX_NUMBER:
	case FHIR_INDEX_QUANTITY:
		r->dlo = p->v.quantity.low;
		r->dhi = p->v.quantity.high;
		return put(x, r, 2, p->v.quantity.system) || put(x, r, 3, p->v.quantity.code);
	default:
		return 0;
	}
}

/* A UCUM quantity's second row: its value in canonical units, with the
 * canonical code (decision 0025). None for other quantities. */
static int canonical_row(struct rows_ctx *x, const struct fhir_index_entry *en)
{
	struct str sys = en->v.quantity.system, code = en->v.quantity.code;
	char canon[FHIR_UCUM_CANON_MAX];
	double f, off;
	struct store_ix_row *r;

	if (!str_eq(sys, FHIR_UCUM_SYSTEM) || fhir_ucum_canonical(code.p, code.n, &f, &off, canon))
		return 0;
	r = store_ix_rows_add(x->out, STORE_IX_NUMBER,
			      fhir_search_param_key(en->param, FHIR_SEARCH_SUB_CANONICAL));
	if (!r)
		return err_set(x->e, ERR_NOMEM, NULL, "out of memory");
	r->dlo = isnan(en->v.quantity.low) ? -INFINITY : en->v.quantity.low * f + off;
	r->dhi = isnan(en->v.quantity.high) ? INFINITY : en->v.quantity.high * f + off;
	if (put(x, r, 0, sys) || store_ix_rows_str(x->out, r, 1, canon, strlen(canon)) ||
	    store_ix_rows_str(x->out, r, 2, "", 0))
		return err_set(x->e, ERR_NOMEM, NULL, "out of memory");
	return 0;
}

static int on_entry(void *arg, const struct fhir_index_entry *en)
{
	struct rows_ctx *x = arg;
	const struct fhir_search_param *p = en->param;
	struct store_ix_row *r;
	int table, sub = FHIR_SEARCH_SUB_VALUE, rc = 0;

	if (!strcmp(p->code, "_id") || !strcmp(p->code, "_lastUpdated"))
		return 0;	/* kept with the resource itself */
	switch (en->kind) {
	case FHIR_INDEX_STRING:
		table = STORE_IX_STRING;
		break;
	case FHIR_INDEX_TOKEN:
		table = STORE_IX_TOKEN;
		break;
	case FHIR_INDEX_TOKEN_TEXT:
		table = STORE_IX_STRING;
		sub = FHIR_SEARCH_SUB_TEXT;
		break;
	case FHIR_INDEX_TOKEN_OF_TYPE:
		table = STORE_IX_TOKEN;
		sub = FHIR_SEARCH_SUB_OF_TYPE;
		break;
	case FHIR_INDEX_DATE:
		table = STORE_IX_DATE;
		break;
	case FHIR_INDEX_NUMBER:
	case FHIR_INDEX_QUANTITY:
		table = STORE_IX_NUMBER;
		break;
	case FHIR_INDEX_REFERENCE:
		table = STORE_IX_REFERENCE;
		break;
	case FHIR_INDEX_REFERENCE_IDENTIFIER:
		table = STORE_IX_TOKEN;
		sub = FHIR_SEARCH_SUB_IDENTIFIER;
		break;
	case FHIR_INDEX_URI:
		table = STORE_IX_URI;
		break;
	case FHIR_INDEX_COMPOSITE:
		table = STORE_IX_COMPOSITE;
		break;
	case FHIR_INDEX_POSITION:	/* Location near: a number row, lo latitude, hi longitude */
		table = STORE_IX_NUMBER;
		break;
	default:
		return 0;
	}
	r = store_ix_rows_add(x->out, table, fhir_search_param_key(p, sub));
	if (!r)
		return err_set(x->e, ERR_NOMEM, NULL, "out of memory");
	switch (en->kind) {
	case FHIR_INDEX_STRING:
	case FHIR_INDEX_TOKEN_TEXT:
		rc = put(x, r, 0, en->v.string.folded) || put(x, r, 1, en->v.string.exact);
		break;
	case FHIR_INDEX_TOKEN:
	case FHIR_INDEX_REFERENCE_IDENTIFIER:
		rc = put(x, r, 0, token_system(en)) || put(x, r, 1, en->v.token.code);
		break;
	case FHIR_INDEX_TOKEN_OF_TYPE: {
		/* "type-system|type-code" and the identifier's value. */
		rc = put(x, r, 0, en->v.of_type.system) ||
		     store_ix_rows_str(x->out, r, 2, "|", 1) ||
		     store_ix_rows_str(x->out, r, 3, en->v.of_type.code.p, en->v.of_type.code.n) ||
		     put(x, r, 1, en->v.of_type.value);
		if (!rc) {	/* s0 spans system, '|' and code: they were appended in a row */
			r->n[0] = r->n[0] + r->n[2] + r->n[3];
			r->s[2] = r->s[3] = 0;
			r->n[2] = r->n[3] = 0;
		}
		break;
	}
	case FHIR_INDEX_DATE:
		r->lo = en->v.date.low;
		r->hi = en->v.date.high;
		break;
	case FHIR_INDEX_NUMBER:
	case FHIR_INDEX_QUANTITY:
		r->dlo = isnan(en->v.quantity.low) ? -INFINITY : en->v.quantity.low;
		r->dhi = isnan(en->v.quantity.high) ? INFINITY : en->v.quantity.high;
		if (en->kind == FHIR_INDEX_QUANTITY) {
			rc = put(x, r, 0, en->v.quantity.system) || put(x, r, 1, en->v.quantity.code) ||
			     put(x, r, 2, en->v.quantity.unit);
			if (!rc)
				return canonical_row(x, en);
		}
		break;
	case FHIR_INDEX_REFERENCE:
		rc = put(x, r, 0, en->v.reference.type) || put(x, r, 1, en->v.reference.id) ||
		     put(x, r, 2, en->v.reference.url) || put(x, r, 3, en->v.reference.version);
		break;
	case FHIR_INDEX_URI:
		rc = put(x, r, 0, en->v.string.exact);
		break;
	case FHIR_INDEX_POSITION:
		r->dlo = en->v.position.latitude;
		r->dhi = en->v.position.longitude;
		break;
	case FHIR_INDEX_COMPOSITE:
		r->dlo = r->dhi = r->elo = r->ehi = NAN;
		if (en->v.composite.n >= 1)
			rc = composite_first(x, r, &en->v.composite.part[0]);
		if (!rc && en->v.composite.n >= 2)
			rc = composite_second(x, r, &en->v.composite.part[1]);
		if (!rc && en->v.composite.n >= 3 &&
		    (en->v.composite.part[2].kind == FHIR_INDEX_NUMBER ||
		     en->v.composite.part[2].kind == FHIR_INDEX_QUANTITY)) {
			r->elo = en->v.composite.part[2].v.quantity.low;
			r->ehi = en->v.composite.part[2].v.quantity.high;
		}
		break;
	}
	if (rc)
		return err_set(x->e, ERR_NOMEM, NULL, "out of memory");
	return 0;
}

int fhir_index_rows(struct json_object *resource, struct store_ix_rows *out, struct err *e)
{
	struct rows_ctx x = { out, e };

	return fhir_index_resource(resource, on_entry, &x, e);
}
