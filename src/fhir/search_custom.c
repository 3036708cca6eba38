/*
 * search_custom.c — search parameters defined at run time by SearchParameter
 * resources (decision 0027).
 *
 * A set of custom parameters is built whole from the definitions, then
 * published: lookups (fhir_search_param_find_n, index extraction, keys)
 * read the current set through one atomic pointer and never lock. A set is
 * immutable once published; a replaced one is kept (on a list) until the
 * process ends, so that a search or a write that started with it can go on
 * using its rows. Sets are small (a row per parameter) and change only when
 * an administrator writes a SearchParameter, so the memory kept is too.
 *
 * A custom row is a struct fhir_search_param like the generated ones, at
 * the start of a struct custom that adds its compiled expression, its key
 * in the index and its definition's url: custom_of() tells the two kinds
 * apart by address (the generated rows are one array).
 *
 * The key of a custom parameter in the index is derived from (resource
 * type, code) alone, so it is the same across restarts, updates and a
 * delete followed by a create: 0x40000000 + 24 bits of a hash, times 4,
 * plus the sub-key (fhir_search_param_key). The generated table's keys are
 * below 2^14. Two custom parameters whose keys collide are refused like
 * two with the same code.
 */
#include "search.h"
#include "fhir.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/json.h"

#define CUSTOM_KEY_BASE 0x40000000u
#define CUSTOM_CODE_MAX 64
#define CUSTOM_MAX 1024			/* parameters (per base type) in one set */
#define OFFICIAL_URL "http://hl7.org/fhir/SearchParameter/"

struct custom {
	struct fhir_search_param p;	/* first: a pointer to p is one to the row */
	uint32_t key;			/* sub-key 0 */
	struct fhirpath_expr expr;
	const char *url;
	const char *sp_id;		/* the SearchParameter resource's id */
};

struct fhir_search_customs {
	struct custom *row;		/* sorted by resource type index, then code */
	size_t n;
	uint32_t *first;		/* per resource type index t: [first[t], first[t + 1]) */
	unsigned generation;
	const char *fingerprint;	/* the table's, then ";Type=hash" per type with rows */
	struct arena a;			/* everything above */
	struct fhir_search_customs *older;
};

static struct fhir_search_customs empty;
static _Atomic(struct fhir_search_customs *) published = &empty;
static pthread_mutex_t publish_lock = PTHREAD_MUTEX_INITIALIZER;

static const struct custom *custom_of(const struct fhir_search_param *p)
{
	if (!p || (p >= fhir_search_params && p < fhir_search_params + FHIR_SEARCH_PARAM_COUNT))
		return NULL;
	return (const struct custom *)(const void *)p;
}

const struct fhir_search_customs *fhir_search_customs(void)
{
	return atomic_load_explicit(&published, memory_order_acquire);
}

unsigned fhir_search_customs_generation(const struct fhir_search_customs *s)
{
	return s->generation;
}

size_t fhir_search_customs_count(const struct fhir_search_customs *s)
{
	return s->n;
}

const struct fhir_search_param *fhir_search_customs_param(const struct fhir_search_customs *s,
							  int type_index, size_t i)
{
	size_t k;

	if (!s->n || type_index < 0 || type_index >= fhir_resource_type_count())
		return NULL;
	k = s->first[type_index] + i;
	return k < s->first[type_index + 1] ? &s->row[k].p : NULL;
}

const struct fhir_search_param *fhir_search_customs_find(const struct fhir_search_customs *s,
							 int type_index, const char *code,
							 size_t code_n)
{
	for (size_t i = 0;; i++) {
		const struct fhir_search_param *p = fhir_search_customs_param(s, type_index, i);

		if (!p)
			return NULL;
		if (strlen(p->code) == code_n && !memcmp(p->code, code, code_n))
			return p;
	}
}

const char *fhir_search_custom_url(const struct fhir_search_param *p)
{
	const struct custom *c = custom_of(p);

	return c ? c->url : NULL;
}

uint32_t fhir_search_custom_key(const struct fhir_search_param *p)
{
	const struct custom *c = custom_of(p);

	return c ? c->key : UINT32_MAX;
}

const struct fhirpath_expr *fhir_search_custom_expr(const struct fhir_search_param *p)
{
	const struct custom *c = custom_of(p);

	return c ? &c->expr : NULL;
}

const char *fhir_search_fingerprint(void)
{
	const struct fhir_search_customs *s = fhir_search_customs();

	return s->n ? s->fingerprint : fhir_search_table_fingerprint();
}

/* ---- reading a definition --------------------------------------------- */

static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	h ^= 0xff;	/* separates "ab"+"c" from "a"+"bc" */
	return h * 0x100000001b3ull;
}

static uint32_t key_of(const char *type, const char *code)
{
	uint64_t h = fnv1a(fnv1a(0xcbf29ce484222325ull, type, strlen(type)), code, strlen(code));

	return CUSTOM_KEY_BASE + (uint32_t)((h ^ (h >> 32)) & 0xFFFFFFu) * 4u;
}

static int code_valid(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > CUSTOM_CODE_MAX ||
	    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

static const char *const type_names[] = { "number", "date", "string", "token", "reference",
					   "composite", "quantity", "uri", "special" };
static const char *const comparator_names[] = { "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb",
						"ap" };

/* R4 search.html 3.1.1.5, as the generated table has them per type. */
static uint16_t modifiers_of(int type)
{
	switch (type) {
	case FHIR_SEARCH_STRING:
		return FHIR_SEARCH_MOD_MISSING | FHIR_SEARCH_MOD_EXACT | FHIR_SEARCH_MOD_CONTAINS;
	case FHIR_SEARCH_TOKEN:
		return FHIR_SEARCH_MOD_MISSING | FHIR_SEARCH_MOD_TEXT | FHIR_SEARCH_MOD_NOT |
		       FHIR_SEARCH_MOD_ABOVE | FHIR_SEARCH_MOD_BELOW | FHIR_SEARCH_MOD_IN |
		       FHIR_SEARCH_MOD_NOT_IN | FHIR_SEARCH_MOD_OF_TYPE;
	case FHIR_SEARCH_REFERENCE:
		return FHIR_SEARCH_MOD_MISSING | FHIR_SEARCH_MOD_TYPE | FHIR_SEARCH_MOD_IDENTIFIER |
		       FHIR_SEARCH_MOD_ABOVE | FHIR_SEARCH_MOD_BELOW;
	case FHIR_SEARCH_URI:
		return FHIR_SEARCH_MOD_MISSING | FHIR_SEARCH_MOD_BELOW | FHIR_SEARCH_MOD_ABOVE;
	default:
		return FHIR_SEARCH_MOD_MISSING;
	}
}

/* Index of s in names[0..n), or -1. */
static int name_index(const char *s, const char *const *names, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (!strcmp(s, names[i]))
			return (int)i;
	return -1;
}

/* Rows being gathered for a set (or only checked). */
struct builder {
	struct arena *a;
	struct custom *row;
	size_t n, cap;
	const struct fhir_search_customs *with;	/* rows already there, or NULL */
};

/* Another parameter already using the (type, code) or the key; rows of the
 * same SearchParameter resource do not count (an update replaces them). */
static int clash(const struct builder *b, const char *type, const char *code, uint32_t key,
		 const char *sp_id, const char **other)
{
	const struct fhir_search_customs *w = b->with;

	for (size_t i = 0; w && i < w->n; i++) {
		const struct custom *c = &w->row[i];

		if (strcmp(c->sp_id, sp_id) && (c->key == key ||
		    (!strcmp(c->p.resource_type, type) && !strcmp(c->p.code, code)))) {
			*other = c->sp_id;
			return 1;
		}
	}
	for (size_t i = 0; i < b->n; i++) {
		const struct custom *c = &b->row[i];

		if (c->key == key || (!strcmp(c->p.resource_type, type) && !strcmp(c->p.code, code))) {
			*other = c->sp_id;
			return 1;
		}
	}
	return 0;
}

static const char *const *all_types(struct arena *a, uint16_t *n)
{
	int count = fhir_resource_type_count();
	const char **t = arena_alloc(a, (size_t)count * sizeof(*t));

	for (int i = 0; t && i < count; i++)
		t[i] = fhir_resource_type_name(i);
	*n = t ? (uint16_t)count : 0;
	return t;
}

/* The rows of one SearchParameter resource, added to b. 0 when it adds none
 * (not active, or only restating built-in parameters). */
static int add_def(struct builder *b, struct json_object *sp, const char *sp_id, struct err *e)
{
	struct json_object *base, *target, *cmp;
	const char *status = json_get_str(sp, "status"), *code = json_get_str(sp, "code");
	const char *url = json_get_str(sp, "url"), *expr = json_get_str(sp, "expression");
	const char *type_s = json_get_str(sp, "type");
	const char *const *targets = NULL;
	uint16_t n_target = 0, comparators = 0;
	struct fhirpath_node tmp[FHIRPATH_MAX_NODES];
	struct fhirpath_expr compiled;
	struct fhirpath_node *nodes;
	int type;

	if (!status || strcmp(status, "active"))
		return 0;	/* draft, retired, unknown: kept, not used */
	if (!code || !code_valid(code))
		return err_set(e, ERR_INVALID, "SearchParameter.code",
			       "a custom search parameter's code must start with a letter and hold"
			       " only letters, digits, '-' and '_' (at most %d)", CUSTOM_CODE_MAX);
	if (!url)
		return err_set(e, ERR_INVALID, "SearchParameter.url", "the url is required");
	type = name_index(type_s, type_names, sizeof(type_names) / sizeof(type_names[0]));
	if (type < 0)
		return err_set(e, ERR_INVALID, "SearchParameter.type", "unknown search parameter type");
	if (type == FHIR_SEARCH_COMPOSITE || type == FHIR_SEARCH_SPECIAL)
		return err_set(e, ERR_INVALID, "SearchParameter.type",
			       "this server cannot use a custom %s parameter: define number, date,"
			       " string, token, reference, quantity or uri parameters", type_s);
	if (!expr)
		return err_set(e, ERR_INVALID, "SearchParameter.expression",
			       "a custom search parameter needs a FHIRPath expression");
	if (fhirpath_compile(expr, tmp, FHIRPATH_MAX_NODES, &compiled, e))
		return e->code ? e->code : ERR_INVALID;
	if (!json_object_object_get_ex(sp, "base", &base) ||
	    !json_object_is_type(base, json_type_array) || !json_object_array_length(base))
		return err_set(e, ERR_INVALID, "SearchParameter.base", "base names no resource type");
	if (json_object_object_get_ex(sp, "comparator", &cmp) &&
	    json_object_is_type(cmp, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(cmp); i++) {
			int k = name_index(json_object_get_string(json_object_array_get_idx(cmp, i)),
					   comparator_names, 9);

			if (k < 0)
				return err_set(e, ERR_INVALID, "SearchParameter.comparator",
					       "unknown comparator");
			comparators |= (uint16_t)(1u << k);
		}
	} else if (type == FHIR_SEARCH_NUMBER || type == FHIR_SEARCH_DATE ||
		   type == FHIR_SEARCH_QUANTITY) {
		comparators = 0x1ff;	/* none listed: every prefix */
	}
	if (type == FHIR_SEARCH_REFERENCE) {
		if (json_object_object_get_ex(sp, "target", &target) &&
		    json_object_is_type(target, json_type_array) && json_object_array_length(target)) {
			const char **t;

			n_target = (uint16_t)json_object_array_length(target);
			t = arena_alloc(b->a, n_target * sizeof(*t));
			if (!t)
				return err_set(e, ERR_NOMEM, NULL, "out of memory");
			for (size_t i = 0; i < n_target; i++) {
				struct json_object *x = json_object_array_get_idx(target, i);
				int ti = fhir_resource_type_index(json_object_get_string(x),
								  json_object_get_string_len(x));

				if (ti < 0)
					return err_set(e, ERR_INVALID, "SearchParameter.target",
						       "target '%.64s' is not a resource type",
						       json_object_get_string(x));
				t[i] = fhir_resource_type_name(ti);
			}
			targets = t;
		} else {
			targets = all_types(b->a, &n_target);	/* any: Reference(Any) */
			if (!targets)
				return err_set(e, ERR_NOMEM, NULL, "out of memory");
		}
	}
	nodes = arena_alloc(b->a, compiled.n * sizeof(*nodes));
	expr = arena_strndup(b->a, expr, strlen(expr));
	url = arena_strndup(b->a, url, strlen(url));
	code = arena_strndup(b->a, code, strlen(code));
	sp_id = arena_strndup(b->a, sp_id, strlen(sp_id));
	if (!nodes || !expr || !url || !code || !sp_id)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	memcpy(nodes, tmp, compiled.n * sizeof(*nodes));
	compiled.node = nodes;
	compiled.src = expr;

	for (size_t i = 0; i < json_object_array_length(base); i++) {
		struct json_object *x = json_object_array_get_idx(base, i);
		int ti = fhir_resource_type_index(json_object_get_string(x),
						  json_object_get_string_len(x));
		const struct fhir_search_param *known;
		const char *type_name, *other;
		uint32_t key;

		if (ti < 0)
			return err_set(e, ERR_INVALID, "SearchParameter.base",
				       "base '%.64s' is not a resource type (name each type the"
				       " parameter applies to)", json_object_get_string(x));
		type_name = fhir_resource_type_name(ti);
		known = fhir_search_param_find(type_name, code);
		if (known && !fhir_search_custom_url(known)) {
			/* The official definition restated (loading the spec's own
			 * SearchParameters): the built-in row serves it. */
			if (!strncmp(url, OFFICIAL_URL, strlen(OFFICIAL_URL)) &&
			    !strcmp(url + strlen(OFFICIAL_URL), known->id))
				continue;
			return err_set(e, ERR_INVALID, "SearchParameter.code",
				       "%s already has a search parameter '%s' (%s%s); choose"
				       " another code", type_name, code, OFFICIAL_URL, known->id);
		}
		key = key_of(type_name, code);
		if (clash(b, type_name, code, key, sp_id, &other))
			return err_set(e, ERR_INVALID, "SearchParameter.code",
				       "SearchParameter/%s already defines %s '%s' (or one whose index"
				       " key collides with it); choose another code", other, type_name,
				       code);
		if (b->n == b->cap) {
			size_t cap = b->cap ? 2 * b->cap : 8;
			struct custom *r;

			if (cap > CUSTOM_MAX)
				return err_set(e, ERR_TOO_LARGE, "SearchParameter",
					       "more than %d custom search parameters", CUSTOM_MAX);
			r = arena_alloc(b->a, cap * sizeof(*r));
			if (!r)
				return err_set(e, ERR_NOMEM, NULL, "out of memory");
			if (b->n)
				memcpy(r, b->row, b->n * sizeof(*r));
			b->row = r;
			b->cap = cap;
		}
		b->row[b->n++] = (struct custom){
			.p = {
				.resource_type = type_name,
				.code = code,
				.id = sp_id,
				.expression = expr,
				.target = targets,
				.n_target = n_target,
				.type = (uint8_t)type,
				.modifiers = modifiers_of(type),
				.comparators = comparators,
			},
			.key = key,
			.expr = compiled,
			.url = url,
			.sp_id = sp_id,
		};
	}
	return 0;
}

int fhir_search_custom_check(struct json_object *sp, const char *id,
			     const struct fhir_search_customs *with, size_t *n_params,
			     struct err *e)
{
	struct arena a;
	struct builder b = { .a = &a, .with = with };
	int rc;

	arena_init(&a, 4u << 20);
	rc = add_def(&b, sp, id ? id : "", e);
	*n_params = rc ? 0 : b.n;
	arena_release(&a);
	return rc;
}

/* ---- publishing a set ------------------------------------------------- */

static int row_cmp(const void *x, const void *y)
{
	const struct custom *a = x, *b = y;
	int ta = fhir_resource_type_index(a->p.resource_type, strlen(a->p.resource_type));
	int tb = fhir_resource_type_index(b->p.resource_type, strlen(b->p.resource_type));

	if (ta != tb)
		return ta < tb ? -1 : 1;
	return strcmp(a->p.code, b->p.code);
}

/* The table's fingerprint, then ";Type=hash" for each type with custom
 * rows (in type order): a reindex compares them type by type. */
static int fingerprint_build(struct fhir_search_customs *s)
{
	const char *table = fhir_search_table_fingerprint();
	size_t cap = strlen(table) + 1, used;
	char *out;

	for (int t = 0; t < fhir_resource_type_count(); t++)
		if (s->first[t + 1] > s->first[t])
			cap += strlen(fhir_resource_type_name(t)) + 18;
	out = arena_alloc(&s->a, cap);
	if (!out)
		return ERR_NOMEM;
	used = (size_t)snprintf(out, cap, "%s", table);
	for (int t = 0; t < fhir_resource_type_count(); t++) {
		uint64_t h = 0xcbf29ce484222325ull;
		char num[16];

		if (s->first[t + 1] == s->first[t])
			continue;
		for (uint32_t i = s->first[t]; i < s->first[t + 1]; i++) {
			const struct custom *c = &s->row[i];

			snprintf(num, sizeof(num), "%d", c->p.type);
			h = fnv1a(h, c->p.code, strlen(c->p.code));
			h = fnv1a(h, c->p.expression, strlen(c->p.expression));
			h = fnv1a(h, num, strlen(num));
		}
		used += (size_t)snprintf(out + used, cap - used, ";%s=%016llx",
					 fhir_resource_type_name(t), (unsigned long long)h);
	}
	s->fingerprint = out;
	return 0;
}

/* The ";Type=hash" part of fingerprint f for type, as a counted string
 * (n 0 when f has none for it). */
static const char *type_part(const char *f, const char *type, size_t *n)
{
	size_t tn = strlen(type);

	for (const char *p = strchr(f, ';'); p; p = strchr(p + 1, ';'))
		if (!strncmp(p + 1, type, tn) && p[1 + tn] == '=') {
			*n = strcspn(p + 1, ";");
			return p + 1;
		}
	*n = 0;
	return NULL;
}

int fhir_search_fingerprint_diff(const char *stored, const char *current, unsigned char *stale)
{
	size_t table_n = strcspn(current, ";");
	int n = 0;

	if (strncmp(stored, current, table_n) || (stored[table_n] && stored[table_n] != ';')) {
		memset(stale, 1, (size_t)fhir_resource_type_count());
		return fhir_resource_type_count();
	}
	for (int t = 0; t < fhir_resource_type_count(); t++) {
		size_t an, bn;
		const char *a = type_part(stored, fhir_resource_type_name(t), &an);
		const char *b = type_part(current, fhir_resource_type_name(t), &bn);

		stale[t] = an != bn || (an && memcmp(a, b, an));
		n += stale[t];
	}
	return n;
}

int fhir_search_customs_publish(struct json_object *const *defs, const char *const *ids, size_t n,
				fhir_search_skip_fn skipped, void *arg, struct err *e)
{
	struct fhir_search_customs *s = calloc(1, sizeof(*s));
	struct builder b = { 0 };
	int types = fhir_resource_type_count();

	if (!s)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	arena_init(&s->a, 64u << 20);
	b.a = &s->a;
	for (size_t i = 0; i < n; i++) {
		struct err why = { 0 };
		size_t before = b.n;

		if (add_def(&b, defs[i], ids[i], &why)) {
			if (why.code == ERR_NOMEM) {
				arena_release(&s->a);
				free(s);
				return err_set(e, ERR_NOMEM, NULL, "out of memory");
			}
			b.n = before;	/* none of its rows */
			if (skipped)
				skipped(arg, ids[i], &why);
		}
	}
	s->first = arena_alloc(&s->a, ((size_t)types + 1) * sizeof(*s->first));
	if (!s->first) {
		arena_release(&s->a);
		free(s);
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	}
	if (b.n)
		qsort(b.row, b.n, sizeof(*b.row), row_cmp);
	s->row = b.row;
	s->n = b.n;
	for (int t = 0, k = 0; t <= types; t++) {
		while ((size_t)k < s->n &&
		       fhir_resource_type_index(s->row[k].p.resource_type,
						strlen(s->row[k].p.resource_type)) < t)
			k++;
		s->first[t] = (uint32_t)k;
	}
	if (fingerprint_build(s)) {
		arena_release(&s->a);
		free(s);
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	}

	pthread_mutex_lock(&publish_lock);
	{
		struct fhir_search_customs *old = atomic_load(&published);

		s->generation = old->generation + 1;
		s->older = old;	/* kept: readers may still hold it */
		atomic_store_explicit(&published, s, memory_order_release);
	}
	pthread_mutex_unlock(&publish_lock);
	return 0;
}
