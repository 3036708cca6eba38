/*
 * index.c — the search-parameter table's lookups, and the extraction of
 * index entries from a resource.
 *
 * For each parameter of the resource's type, the parameter's FHIRPath
 * expression (compiled once for the whole table, see cache_build) is
 * evaluated and every value of the result is turned into entries according
 * to the parameter's type and the value's FHIR type: a HumanName gives one
 * string entry per part, a CodeableConcept one token per coding plus its
 * text for :text, a Period one date interval, and so on (R4 search.html
 * 3.1.1 says which element types each parameter type meets). Composite
 * parameters evaluate their components on each value of their own
 * expression and emit every combination.
 *
 * Strings in entries point into the resource, or into a scratch arena of
 * the extraction (folded text, integers written as text), which lives
 * until the next parameter: each entry is valid only during its callback.
 */
#include "search.h"
#include "fhir.h"
#include "fhir_tables.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/time.h"

/* Values of one component of a composite kept per value of the composite,
 * and combinations emitted per value: bounds against a combinatorial
 * blow-up on odd data. */
#define COMPOSITE_MAX_VALUES 16
#define COMPOSITE_MAX_COMBINATIONS 256
#define COMPOSITE_MAX_PARTS 4
#define SCRATCH_LOCAL_BYTES 2048
/* Entries of one parameter remembered to drop duplicates ("Peter" as the
 * given name of two HumanNames gives one row); past that many, duplicates
 * pass (the store's key on a row makes them harmless). */
#define SEEN_MAX 64

/* ---- the table --------------------------------------------------------- */

static const char *const type_names[] = {
	"number", "date", "string", "token", "reference", "composite", "quantity", "uri", "special",
};

const char *fhir_search_type_name(int type)
{
	if (type < 0 || type >= (int)(sizeof(type_names) / sizeof(type_names[0])))
		return "?";
	return type_names[type];
}

static const char *const modifier_names[] = {
	"missing", "exact", "contains", "not", "text", "in", "not-in", "below", "above",
	"type", "identifier", "of-type",
};

static int cmp_counted(const char *s, const char *p, size_t n)
{
	int c = strncmp(s, p, n);

	if (c)
		return c;
	return s[n] ? 1 : 0;
}

unsigned fhir_search_modifier_bit(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof(modifier_names) / sizeof(modifier_names[0]); i++)
		if (cmp_counted(modifier_names[i], name, n) == 0)
			return 1u << i;
	return 0;
}

const struct fhir_search_param *fhir_search_params_for(const char *resource_type, size_t *n)
{
	int r = resource_type ? fhir_resource_type_index(resource_type, strlen(resource_type)) : -1;

	*n = 0;
	if (r < 0)
		return NULL;
	*n = fhir_search_by_type[r].count;
	return &fhir_search_params[fhir_search_by_type[r].first];
}

const struct fhir_search_param *fhir_search_param_find_n(const char *resource_type, size_t type_n,
							   const char *code, size_t code_n)
{
	int r = resource_type ? fhir_resource_type_index(resource_type, type_n) : -1;
	size_t lo, hi;

	if (r < 0 || !code)
		return NULL;
	lo = fhir_search_by_type[r].first;
	hi = lo + fhir_search_by_type[r].count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_counted(fhir_search_params[mid].code, code, code_n);

		if (c == 0)
			return &fhir_search_params[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return fhir_search_customs_find(fhir_search_customs(), r, code, code_n);
}

const struct fhir_search_param *fhir_search_param_find(const char *resource_type, const char *code)
{
	if (!resource_type || !code)
		return NULL;
	return fhir_search_param_find_n(resource_type, strlen(resource_type), code, strlen(code));
}

const struct fhir_search_param *fhir_search_component_param(const struct fhir_search_param *p,
							    size_t i, const char **expression)
{
	const struct fhir_search_component *c;

	if (!p || i >= p->n_component)
		return NULL;
	c = &fhir_search_components[p->component_first + i];
	if (expression)
		*expression = c->expression;
	return &fhir_search_params[c->param];
}

/* ---- folding ----------------------------------------------------------- */

/* Length of the UTF-8 sequence starting with lead byte c and its code
 * point, or 0 when the bytes are not well-formed UTF-8. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t v;

	if (s[0] < 0xC2 || s[0] > 0xF4)
		return 0;
	len = s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : 4;
	if (len > n)
		return 0;
	v = s[0] & (0x7F >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
	    (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

static size_t utf8_encode(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	out[0] = (char)(0xE0 | (cp >> 12));
	out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[2] = (char)(0x80 | (cp & 0x3F));
	return 3;
}

size_t fhir_search_fold(const char *s, size_t n, char *out, size_t cap)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t o = 0, i = 0;

#define PUT(ch)                                 \
	do {                                    \
		if (o + 1 < cap)                \
			out[o] = (char)(ch);    \
		o++;                            \
	} while (0)

	while (i < n) {
		uint32_t cp;
		size_t len;
		const char *rep = NULL;
		char enc[4];
		size_t rep_n = 0;

		if (u[i] < 0x80) {
			PUT(u[i] >= 'A' && u[i] <= 'Z' ? u[i] + 32 : u[i]);
			i++;
			continue;
		}
		len = utf8_decode(u + i, n - i, &cp);
		if (len == 0) {
			PUT(u[i]);
			i++;
			continue;
		}
		if (cp >= 0x300 && cp < 0x370) {
			/* combining diacritical marks: dropped */
		} else if (cp >= 0xC0 && cp < 0x250) {
			rep = fhir_fold_00c0[cp - 0xC0];
			rep_n = strlen(rep);
		} else if (cp >= 0x1E00 && cp < 0x1F00) {
			rep = fhir_fold_1e00[cp - 0x1E00];
			rep_n = strlen(rep);
		} else if ((cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2) ||
			   (cp >= 0x410 && cp <= 0x42F)) {
			/* Greek and Russian capitals: lower case only */
			rep_n = utf8_encode(cp + 0x20, enc);
			rep = enc;
		} else if (cp >= 0x400 && cp <= 0x40F) {
			rep_n = utf8_encode(cp + 0x50, enc);
			rep = enc;
		} else {
			rep = s + i;
			rep_n = len;
		}
		for (size_t k = 0; k < rep_n; k++)
			PUT(rep[k]);
		i += len;
	}
#undef PUT
	if (cap)
		out[o < cap ? o : cap - 1] = '\0';
	return o;
}

/* ---- references -------------------------------------------------------- */

static bool str_is(struct str s, const char *lit)
{
	return cmp_counted(lit, s.p, s.n) == 0;
}

/* The '/'-separated segment ending at end (exclusive). */
static struct str segment_before(const char *s, size_t end)
{
	size_t start = end;

	while (start > 0 && s[start - 1] != '/')
		start--;
	return (struct str){ s + start, end - start };
}

void fhir_search_reference_split(const char *s, size_t n, struct fhir_reference_parts *out)
{
	struct str id, type, version = { NULL, 0 };
	size_t end = n;
	bool absolute = false;

	memset(out, 0, sizeof(*out));
	out->kind = FHIR_REFERENCE_OTHER;
	if (!s || n == 0)
		return;
	if (s[0] == '#') {
		out->kind = FHIR_REFERENCE_CONTAINED;
		out->id = (struct str){ s + 1, n - 1 };
		return;
	}
	if (n > 4 && memcmp(s, "urn:", 4) == 0) {
		out->kind = FHIR_REFERENCE_URN;
		return;
	}
	if (memchr(s, '?', n))
		return;		/* a search URL (conditional reference) */
	for (size_t i = 0; i + 2 < n && s[i] != '/'; i++)
		if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/')
			absolute = true;
	id = segment_before(s, end);
	if (id.p > s + 1) {
		struct str prev = segment_before(s, (size_t)(id.p - s) - 1);

		if (str_is(prev, "_history") && prev.p > s + 1) {
			version = id;
			end = (size_t)(prev.p - s) - 1;
			id = segment_before(s, end);
		}
	}
	if (id.p > s + 1) {
		type = segment_before(s, (size_t)(id.p - s) - 1);
		if (fhir_resource_type_index(type.p, type.n) >= 0 && fhir_id_valid(id.p, id.n)) {
			out->type = type;
			out->id = id;
			out->version = version;
			if (absolute)
				out->kind = FHIR_REFERENCE_ABSOLUTE;
			else if (type.p == s)
				out->kind = FHIR_REFERENCE_RELATIVE;
			return;
		}
	}
	if (absolute)
		out->kind = FHIR_REFERENCE_ABSOLUTE;
}

/* ---- compiled expressions ---------------------------------------------- */

/* The table's expressions compiled, built once (pthread_once) and read-only
 * afterwards, and the ids of the types extraction dispatches on. */
struct compiled {
	struct fhirpath_expr param[FHIR_SEARCH_PARAM_COUNT];	/* node NULL: none */
	struct fhirpath_expr component[FHIR_SEARCH_COMPONENT_COUNT];
	struct fhirpath_node *pool;
	bool ok;
	int t_address, t_human_name, t_coding, t_codeable_concept, t_identifier,
		t_contact_point, t_period, t_timing, t_range, t_money, t_quantity, t_reference,
		t_location_position;
};

static struct compiled cache;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_build(void)
{
	struct fhirpath_node tmp[FHIRPATH_MAX_NODES];
	size_t used = 0, cap = 0;
	size_t *offset = NULL;
	const size_t total = FHIR_SEARCH_PARAM_COUNT + FHIR_SEARCH_COMPONENT_COUNT;

	offset = malloc(total * sizeof(*offset));
	if (!offset)
		return;
	for (size_t i = 0; i < total; i++) {
		struct fhirpath_expr *x = i < FHIR_SEARCH_PARAM_COUNT ?
			&cache.param[i] : &cache.component[i - FHIR_SEARCH_PARAM_COUNT];
		const char *src = i < FHIR_SEARCH_PARAM_COUNT ?
			fhir_search_params[i].expression :
			fhir_search_components[i - FHIR_SEARCH_PARAM_COUNT].expression;
		struct fhirpath_expr compiled;

		offset[i] = SIZE_MAX;
		if (!src || fhirpath_compile(src, tmp, FHIRPATH_MAX_NODES, &compiled, NULL) != 0)
			continue;
		if (used + compiled.n > cap) {
			size_t ncap = cap ? cap * 2 : 16384;
			struct fhirpath_node *p;

			while (ncap < used + compiled.n)
				ncap *= 2;
			p = realloc(cache.pool, ncap * sizeof(*p));
			if (!p) {
				free(cache.pool);
				cache.pool = NULL;
				free(offset);
				return;
			}
			cache.pool = p;
			cap = ncap;
		}
		memcpy(cache.pool + used, tmp, compiled.n * sizeof(tmp[0]));
		*x = compiled;
		offset[i] = used;
		used += compiled.n;
	}
	/* The pool has moved while growing: point each expression at it now. */
	for (size_t i = 0; i < total; i++) {
		struct fhirpath_expr *x = i < FHIR_SEARCH_PARAM_COUNT ?
			&cache.param[i] : &cache.component[i - FHIR_SEARCH_PARAM_COUNT];

		x->node = offset[i] == SIZE_MAX ? NULL : cache.pool + offset[i];
	}
	free(offset);
	cache.t_address = fhirpath_type_id("Address", 7);
	cache.t_human_name = fhirpath_type_id("HumanName", 9);
	cache.t_coding = fhirpath_type_id("Coding", 6);
	cache.t_codeable_concept = fhirpath_type_id("CodeableConcept", 15);
	cache.t_identifier = fhirpath_type_id("Identifier", 10);
	cache.t_contact_point = fhirpath_type_id("ContactPoint", 12);
	cache.t_period = fhirpath_type_id("Period", 6);
	cache.t_timing = fhirpath_type_id("Timing", 6);
	cache.t_range = fhirpath_type_id("Range", 5);
	cache.t_money = fhirpath_type_id("Money", 5);
	cache.t_quantity = fhirpath_type_id("Quantity", 8);
	cache.t_reference = fhirpath_type_id("Reference", 9);
	cache.t_location_position = -1;
	for (int t = 0; t < FHIR_TYPE_COUNT; t++)
		if (strcmp(fhir_types[t].name, "Location.position") == 0)
			cache.t_location_position = t;
	cache.ok = true;
}

static const struct compiled *cache_get(void)
{
	pthread_once(&cache_once, cache_build);
	return cache.ok ? &cache : NULL;
}

const struct fhirpath_expr *fhir_search_param_expr(const struct fhir_search_param *p)
{
	const struct compiled *c = cache_get();
	size_t i;

	if (!c || !p)
		return NULL;
	if (p < fhir_search_params || p >= fhir_search_params + FHIR_SEARCH_PARAM_COUNT)
		return fhir_search_custom_expr(p);
	i = (size_t)(p - fhir_search_params);
	return c->param[i].node ? &c->param[i] : NULL;
}

const struct fhirpath_expr *fhir_search_component_expr(const struct fhir_search_param *p,
							size_t i)
{
	const struct compiled *c = cache_get();
	size_t k;

	if (!c || !fhir_search_param_expr(p) || i >= p->n_component)
		return NULL;
	k = p->component_first + i;
	return c->component[k].node ? &c->component[k] : NULL;
}

/* ---- extraction: plumbing --------------------------------------------- */

struct chunk {
	struct chunk *next;
	char data[];
};

/* Bytes that live until scratch_reset: a local block, then heap chunks. */
struct scratch {
	char local[SCRATCH_LOCAL_BYTES];
	size_t used;
	struct chunk *chunks;
};

struct collected {
	struct fhir_index_entry entry[COMPOSITE_MAX_VALUES];
	size_t n;
};

struct ix {
	const struct compiled *c;
	struct json_object *resource;
	fhir_index_fn fn;
	void *arg;
	struct err *e;
	const struct fhir_search_param *param;
	struct collected *collect;	/* composite component: gather, don't call fn */
	struct fhirpath_value root;	/* the resource, typed: the focus of evaluations */
	size_t n_seen;
	struct fhirpath_ctx fp;		/* the large members last: not cleared */
	struct scratch scratch;
	struct fhir_index_entry seen[SEEN_MAX];	/* this parameter's entries so far */
};

static char *scratch_alloc(struct ix *ix, size_t n)
{
	struct scratch *s = &ix->scratch;
	struct chunk *c;

	if (n <= SCRATCH_LOCAL_BYTES - s->used) {
		char *p = s->local + s->used;

		s->used += n;
		return p;
	}
	c = malloc(sizeof(*c) + n);
	if (!c)
		return NULL;
	c->next = s->chunks;
	s->chunks = c;
	return c->data;
}

static void scratch_reset(struct ix *ix)
{
	struct scratch *s = &ix->scratch;

	while (s->chunks) {
		struct chunk *next = s->chunks->next;

		free(s->chunks);
		s->chunks = next;
	}
	s->used = 0;
}

static bool same_str(struct str a, struct str b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static bool same_double(double a, double b)
{
	return a == b || (isnan(a) && isnan(b));
}

static bool same_entry(const struct fhir_index_entry *a, const struct fhir_index_entry *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case FHIR_INDEX_STRING:
	case FHIR_INDEX_TOKEN_TEXT:
	case FHIR_INDEX_URI:
		return same_str(a->v.string.exact, b->v.string.exact);
	case FHIR_INDEX_TOKEN:
	case FHIR_INDEX_REFERENCE_IDENTIFIER:
		return a->v.token.has_system == b->v.token.has_system &&
		       same_str(a->v.token.system, b->v.token.system) &&
		       same_str(a->v.token.code, b->v.token.code);
	case FHIR_INDEX_TOKEN_OF_TYPE:
		return same_str(a->v.of_type.system, b->v.of_type.system) &&
		       same_str(a->v.of_type.code, b->v.of_type.code) &&
		       same_str(a->v.of_type.value, b->v.of_type.value);
	case FHIR_INDEX_DATE:
		return a->v.date.low == b->v.date.low && a->v.date.high == b->v.date.high;
	case FHIR_INDEX_NUMBER:
	case FHIR_INDEX_QUANTITY:
		return same_str(a->v.quantity.text, b->v.quantity.text) &&
		       same_double(a->v.quantity.low, b->v.quantity.low) &&
		       same_double(a->v.quantity.high, b->v.quantity.high) &&
		       same_str(a->v.quantity.system, b->v.quantity.system) &&
		       same_str(a->v.quantity.code, b->v.quantity.code) &&
		       same_str(a->v.quantity.unit, b->v.quantity.unit);
	case FHIR_INDEX_REFERENCE:
		return same_str(a->v.reference.type, b->v.reference.type) &&
		       same_str(a->v.reference.id, b->v.reference.id) &&
		       same_str(a->v.reference.version, b->v.reference.version) &&
		       same_str(a->v.reference.url, b->v.reference.url) &&
		       a->v.reference.canonical == b->v.reference.canonical;
	case FHIR_INDEX_POSITION:
		return a->v.position.latitude == b->v.position.latitude &&
		       a->v.position.longitude == b->v.position.longitude;
	default:
		return false;	/* composites are not compared */
	}
}

/* The entry kinds a component contributes to a composite. */
static bool main_kind(int kind)
{
	return kind != FHIR_INDEX_TOKEN_TEXT && kind != FHIR_INDEX_TOKEN_OF_TYPE &&
	       kind != FHIR_INDEX_REFERENCE_IDENTIFIER;
}

static int emit(struct ix *ix, struct fhir_index_entry *en)
{
	en->param = ix->param;
	if (ix->collect) {
		/* A component keeps its first COMPOSITE_MAX_VALUES distinct
		 * values; the :text and :of-type entries of the same element
		 * must not take their places. */
		struct collected *c = ix->collect;

		if (!main_kind(en->kind) || c->n >= COMPOSITE_MAX_VALUES)
			return 0;
		for (size_t i = 0; i < c->n; i++)
			if (same_entry(&c->entry[i], en))
				return 0;
		c->entry[c->n++] = *en;
		return 0;
	}
	if (en->kind != FHIR_INDEX_COMPOSITE) {
		for (size_t i = 0; i < ix->n_seen; i++)
			if (same_entry(&ix->seen[i], en))
				return 0;
		if (ix->n_seen < SEEN_MAX)
			ix->seen[ix->n_seen++] = *en;
	}
	return ix->fn(ix->arg, en);
}

static bool get_member(struct json_object *o, const char *key, struct json_object **v)
{
	return json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, v) &&
	       v && *v;
}

/* A JSON string as a slice; false when absent or not a string. */
static bool json_str(struct json_object *o, struct str *out)
{
	if (!o || !json_object_is_type(o, json_type_string))
		return false;
	out->p = json_object_get_string(o);
	out->n = (size_t)json_object_get_string_len(o);
	return true;
}

static bool member_str(struct json_object *o, const char *key, struct str *out)
{
	struct json_object *v;

	return get_member(o, key, &v) && json_str(v, out);
}

static bool is_type(int t, const struct fhirpath_value *v)
{
	return t >= 0 && v->kind == FHIRPATH_JSON && v->type == (unsigned)t;
}

static int prim_of(const struct fhirpath_value *v)
{
	if (v->kind != FHIRPATH_JSON || v->type >= FHIR_TYPE_COUNT)
		return FHIR_PRIM_NONE;
	return fhir_types[v->type].prim;
}

static bool is_quantity(const struct ix *ix, const struct fhirpath_value *v)
{
	return v->kind == FHIRPATH_JSON && v->type < FHIR_TYPE_COUNT &&
	       fhirpath_type_is(v->type, (unsigned)ix->c->t_quantity);
}

/* ---- strings ----------------------------------------------------------- */

static int emit_text(struct ix *ix, int kind, struct str text)
{
	struct fhir_index_entry en = { 0 };
	size_t cap = FHIR_SEARCH_FOLD_MAX(text.n);
	char *folded;

	if (text.n == 0)
		return 0;
	folded = scratch_alloc(ix, cap);
	if (!folded)
		return err_set(ix->e, ERR_NOMEM, NULL, "index: out of memory");
	en.kind = kind;
	en.v.string.exact = text;
	en.v.string.folded.p = folded;
	en.v.string.folded.n = fhir_search_fold(text.p, text.n, folded, cap);
	return emit(ix, &en);
}

/* Each string of o[key] (a string or an array of strings). */
static int emit_member_texts(struct ix *ix, struct json_object *o, const char *key)
{
	struct json_object *v;
	struct str s;
	int rc = 0;

	if (!get_member(o, key, &v))
		return 0;
	if (json_object_is_type(v, json_type_array)) {
		size_t n = json_object_array_length(v);

		for (size_t i = 0; !rc && i < n; i++)
			if (json_str(json_object_array_get_idx(v, i), &s))
				rc = emit_text(ix, FHIR_INDEX_STRING, s);
		return rc;
	}
	return json_str(v, &s) ? emit_text(ix, FHIR_INDEX_STRING, s) : 0;
}

static int index_string(struct ix *ix, const struct fhirpath_value *v)
{
	static const char *const name_parts[] = { "text", "family", "given", "prefix", "suffix" };
	static const char *const address_parts[] = { "text", "line", "city", "district", "state",
						     "postalCode", "country" };
	const char *const *parts = NULL;
	size_t n_parts = 0;
	struct str s;
	int rc = 0;

	if (v->kind == FHIRPATH_STRING)
		return emit_text(ix, FHIR_INDEX_STRING, (struct str){ v->str, v->len });
	if (json_str(v->kind == FHIRPATH_JSON ? v->json : NULL, &s))
		return emit_text(ix, FHIR_INDEX_STRING, s);
	if (is_type(ix->c->t_human_name, v)) {
		parts = name_parts;
		n_parts = sizeof(name_parts) / sizeof(name_parts[0]);
	} else if (is_type(ix->c->t_address, v)) {
		parts = address_parts;
		n_parts = sizeof(address_parts) / sizeof(address_parts[0]);
	}
	for (size_t i = 0; !rc && i < n_parts; i++)
		rc = emit_member_texts(ix, v->json, parts[i]);
	return rc;
}

static int index_uri(struct ix *ix, const struct fhirpath_value *v)
{
	struct fhir_index_entry en = { 0 };

	if (!json_str(v->kind == FHIRPATH_JSON ? v->json : NULL, &en.v.string.exact) ||
	    en.v.string.exact.n == 0)
		return 0;
	en.kind = FHIR_INDEX_URI;
	return emit(ix, &en);
}

/* ---- tokens ------------------------------------------------------------ */

static int emit_token(struct ix *ix, int kind, const struct str *system, struct str code)
{
	struct fhir_index_entry en = { 0 };

	if (code.n == 0)
		return 0;
	en.kind = kind;
	if (system) {
		en.v.token.system = *system;
		en.v.token.has_system = 1;
	}
	en.v.token.code = code;
	return emit(ix, &en);
}

static int index_coding(struct ix *ix, struct json_object *coding)
{
	struct str system, code, display;
	bool has_system = member_str(coding, "system", &system);
	int rc = 0;

	if (member_str(coding, "code", &code))
		rc = emit_token(ix, FHIR_INDEX_TOKEN, has_system ? &system : NULL, code);
	if (!rc && member_str(coding, "display", &display))
		rc = emit_text(ix, FHIR_INDEX_TOKEN_TEXT, display);
	return rc;
}

static int index_codings(struct ix *ix, struct json_object *cc)
{
	struct json_object *codings;
	size_t n;
	int rc = 0;

	if (!get_member(cc, "coding", &codings) || !json_object_is_type(codings, json_type_array))
		return 0;
	n = json_object_array_length(codings);
	for (size_t i = 0; !rc && i < n; i++)
		rc = index_coding(ix, json_object_array_get_idx(codings, i));
	return rc;
}

static int index_identifier(struct ix *ix, struct json_object *id, int kind)
{
	struct json_object *type, *codings;
	struct str system, value, text;
	bool has_system = member_str(id, "system", &system);
	bool has_value = member_str(id, "value", &value);
	int rc = 0;

	if (has_value)
		rc = emit_token(ix, kind, has_system ? &system : NULL, value);
	if (rc || kind != FHIR_INDEX_TOKEN || !get_member(id, "type", &type))
		return rc;
	if (member_str(type, "text", &text))
		rc = emit_text(ix, FHIR_INDEX_TOKEN_TEXT, text);
	if (!rc && has_value && get_member(type, "coding", &codings) &&
	    json_object_is_type(codings, json_type_array)) {
		size_t n = json_object_array_length(codings);

		for (size_t i = 0; !rc && i < n; i++) {
			struct json_object *c = json_object_array_get_idx(codings, i);
			struct fhir_index_entry en = { 0 };

			en.kind = FHIR_INDEX_TOKEN_OF_TYPE;
			if (!member_str(c, "code", &en.v.of_type.code))
				continue;
			(void)member_str(c, "system", &en.v.of_type.system);
			en.v.of_type.value = value;
			rc = emit(ix, &en);
		}
	}
	return rc;
}

static int index_token(struct ix *ix, const struct fhirpath_value *v)
{
	struct str s, text;
	int rc;

	if (v->kind == FHIRPATH_BOOLEAN)
		return emit_token(ix, FHIR_INDEX_TOKEN, NULL,
				  v->boolean ? STR_LIT("true") : STR_LIT("false"));
	if (v->kind != FHIRPATH_JSON)
		return 0;
	if (json_object_is_type(v->json, json_type_boolean))
		return emit_token(ix, FHIR_INDEX_TOKEN, NULL,
				  json_object_get_boolean(v->json) ? STR_LIT("true") : STR_LIT("false"));
	if (json_str(v->json, &s))	/* code, id, string, uri and kin */
		return emit_token(ix, FHIR_INDEX_TOKEN, NULL, s);
	if (is_type(ix->c->t_coding, v))
		return index_coding(ix, v->json);
	if (is_type(ix->c->t_codeable_concept, v)) {
		rc = index_codings(ix, v->json);
		if (!rc && member_str(v->json, "text", &text))
			rc = emit_text(ix, FHIR_INDEX_TOKEN_TEXT, text);
		return rc;
	}
	if (is_type(ix->c->t_identifier, v))
		return index_identifier(ix, v->json, FHIR_INDEX_TOKEN);
	if (is_type(ix->c->t_contact_point, v))
		return member_str(v->json, "value", &s) ? emit_token(ix, FHIR_INDEX_TOKEN, NULL, s) : 0;
	return 0;
}

/* ---- dates ------------------------------------------------------------- */

static bool parse_date(struct json_object *o, int prim, int64_t *low, int64_t *high)
{
	struct str s;
	enum time_kind kind;

	if (!json_str(o, &s))
		return false;
	switch (prim) {
	case FHIR_PRIM_DATE: kind = TIME_DATE; break;
	case FHIR_PRIM_INSTANT: kind = TIME_INSTANT; break;
	default: kind = TIME_DATETIME; break;
	}
	return time_parse_fhir(s.p, s.n, kind, low, high) == 0;
}

/* A Period: start's low to end's high, open where absent. */
static bool period_bounds(struct json_object *period, int64_t *low, int64_t *high)
{
	struct json_object *start, *end;
	int64_t l, h;
	bool any = false;

	*low = FHIR_INDEX_MIN_MS;
	*high = FHIR_INDEX_MAX_MS;
	if (get_member(period, "start", &start) && parse_date(start, FHIR_PRIM_DATETIME, &l, &h)) {
		*low = l;
		any = true;
	}
	if (get_member(period, "end", &end) && parse_date(end, FHIR_PRIM_DATETIME, &l, &h)) {
		*high = h;
		any = true;
	}
	return any;
}

/* A Timing: "only the outer limits matter" (search.html): from the first
 * event or the bounds' start to the last event or the bounds' end. */
static bool timing_bounds(struct json_object *timing, int64_t *low, int64_t *high)
{
	struct json_object *events, *repeat, *bounds;
	int64_t l, h;
	bool any = false;

	*low = FHIR_INDEX_MAX_MS;
	*high = FHIR_INDEX_MIN_MS;
	if (get_member(timing, "event", &events) && json_object_is_type(events, json_type_array)) {
		size_t n = json_object_array_length(events);

		for (size_t i = 0; i < n; i++)
			if (parse_date(json_object_array_get_idx(events, i), FHIR_PRIM_DATETIME, &l,
				       &h)) {
				*low = l < *low ? l : *low;
				*high = h > *high ? h : *high;
				any = true;
			}
	}
	if (get_member(timing, "repeat", &repeat) && get_member(repeat, "boundsPeriod", &bounds) &&
	    period_bounds(bounds, &l, &h)) {
		*low = l < *low ? l : *low;
		*high = h > *high ? h : *high;
		any = true;
	}
	return any;
}

static int index_date(struct ix *ix, const struct fhirpath_value *v)
{
	struct fhir_index_entry en = { 0 };
	int prim = prim_of(v);
	bool ok = false;

	en.kind = FHIR_INDEX_DATE;
	if (prim == FHIR_PRIM_DATE || prim == FHIR_PRIM_DATETIME || prim == FHIR_PRIM_INSTANT)
		ok = parse_date(v->json, prim, &en.v.date.low, &en.v.date.high);
	else if (is_type(ix->c->t_period, v))
		ok = period_bounds(v->json, &en.v.date.low, &en.v.date.high);
	else if (is_type(ix->c->t_timing, v))
		ok = timing_bounds(v->json, &en.v.date.low, &en.v.date.high);
	return ok ? emit(ix, &en) : 0;
}

/* ---- numbers and quantities ------------------------------------------- */

/* The decimal text and value of a JSON number. */
static bool number_of(struct ix *ix, struct json_object *o, struct str *text, double *value)
{
	if (json_object_is_type(o, json_type_int)) {
		char *buf = scratch_alloc(ix, 24);
		int k;

		if (!buf)
			return false;
		k = snprintf(buf, 24, "%" PRId64, json_object_get_int64(o));
		text->p = buf;
		text->n = k > 0 ? (size_t)k : 0;
		*value = (double)json_object_get_int64(o);
		return true;
	}
	if (json_object_is_type(o, json_type_double)) {
		/* json-c keeps the text of a parsed number ("1.50" stays so) as the
		 * object's userdata; read it there rather than through
		 * json_object_get_string, which caches a copy in the object: the
		 * tree stays untouched, so threads may index the same one. */
		const char *orig = json_object_get_userdata(o);

		*value = json_object_get_double(o);
		if (orig) {
			text->p = orig;
			text->n = strlen(orig);
		} else {	/* built in memory, not parsed */
			char *buf = scratch_alloc(ix, 32);
			int k;

			if (!buf)
				return false;
			k = snprintf(buf, 32, "%.17g", *value);
			text->p = buf;
			text->n = k > 0 ? (size_t)k : 0;
		}
		return text->n > 0;
	}
	return false;
}

static bool member_number(struct ix *ix, struct json_object *o, const char *key, struct str *text,
			  double *value)
{
	struct json_object *v;

	return get_member(o, key, &v) && number_of(ix, v, text, value);
}

/* A Quantity (or one of its profiles): value, comparator, units. */
static bool quantity_of(struct ix *ix, struct json_object *q, struct fhir_index_entry *en)
{
	struct str comparator;

	if (!member_number(ix, q, "value", &en->v.quantity.text, &en->v.quantity.value))
		return false;
	en->v.quantity.low = en->v.quantity.high = en->v.quantity.value;
	if (member_str(q, "comparator", &comparator) && comparator.n > 0) {
		if (comparator.p[0] == '<')
			en->v.quantity.low = -INFINITY;
		else if (comparator.p[0] == '>')
			en->v.quantity.high = INFINITY;
	}
	(void)member_str(q, "system", &en->v.quantity.system);
	(void)member_str(q, "code", &en->v.quantity.code);
	(void)member_str(q, "unit", &en->v.quantity.unit);
	return true;
}

/* A Range: low.value to high.value, open where absent; units of either. */
static bool range_of(struct ix *ix, struct json_object *r, struct fhir_index_entry *en)
{
	struct json_object *low, *high;
	struct fhir_index_entry part = { 0 };
	bool any = false;

	en->v.quantity.value = NAN;
	en->v.quantity.low = -INFINITY;
	en->v.quantity.high = INFINITY;
	if (get_member(r, "high", &high) && quantity_of(ix, high, &part)) {
		en->v.quantity.high = part.v.quantity.value;
		en->v.quantity.system = part.v.quantity.system;
		en->v.quantity.code = part.v.quantity.code;
		en->v.quantity.unit = part.v.quantity.unit;
		any = true;
	}
	if (get_member(r, "low", &low) && quantity_of(ix, low, &part)) {
		en->v.quantity.low = part.v.quantity.value;
		en->v.quantity.system = part.v.quantity.system;
		en->v.quantity.code = part.v.quantity.code;
		en->v.quantity.unit = part.v.quantity.unit;
		any = true;
	}
	return any;
}

static int index_numeric(struct ix *ix, const struct fhirpath_value *v, int kind)
{
	struct fhir_index_entry en = { 0 };
	bool ok = false;

	en.kind = kind;
	if (v->kind != FHIRPATH_JSON)
		return 0;
	if (prim_of(v) != FHIR_PRIM_NONE) {
		ok = kind == FHIR_INDEX_NUMBER &&
		     number_of(ix, v->json, &en.v.quantity.text, &en.v.quantity.value);
		en.v.quantity.low = en.v.quantity.high = en.v.quantity.value;
	} else if (is_quantity(ix, v)) {
		ok = quantity_of(ix, v->json, &en);
	} else if (is_type(ix->c->t_range, v)) {
		ok = range_of(ix, v->json, &en);
	} else if (is_type(ix->c->t_money, v) && kind == FHIR_INDEX_QUANTITY) {
		ok = member_number(ix, v->json, "value", &en.v.quantity.text, &en.v.quantity.value);
		en.v.quantity.low = en.v.quantity.high = en.v.quantity.value;
		if (member_str(v->json, "currency", &en.v.quantity.code)) {
			en.v.quantity.system = STR_LIT("urn:iso:std:iso:4217");
			en.v.quantity.unit = en.v.quantity.code;
		}
	}
	if (!ok)
		return 0;
	if (kind == FHIR_INDEX_NUMBER)
		en.v.quantity.system = en.v.quantity.code = en.v.quantity.unit = (struct str){ 0 };
	return emit(ix, &en);
}

/* ---- references -------------------------------------------------------- */

static int emit_reference_text(struct ix *ix, struct str text, bool canonical)
{
	struct fhir_index_entry en = { 0 };
	struct fhir_reference_parts parts;

	if (text.n == 0)
		return 0;
	en.kind = FHIR_INDEX_REFERENCE;
	en.v.reference.url = text;
	if (canonical) {
		const char *bar = memchr(text.p, '|', text.n);

		en.v.reference.canonical = 1;
		if (bar) {
			en.v.reference.url.n = (size_t)(bar - text.p);
			en.v.reference.version = (struct str){ bar + 1,
							       text.n - en.v.reference.url.n - 1 };
		}
		return emit(ix, &en);
	}
	fhir_search_reference_split(text.p, text.n, &parts);
	en.v.reference.type = parts.type;
	en.v.reference.id = parts.id;
	en.v.reference.version = parts.version;
	if (parts.kind == FHIR_REFERENCE_RELATIVE) {
		en.v.reference.url = (struct str){ 0 };
	} else if (parts.kind == FHIR_REFERENCE_CONTAINED) {
		/* "#id": the type is the contained resource's, the id is local */
		struct json_object *contained;

		en.v.reference.id = (struct str){ 0 };
		if (get_member(ix->resource, "contained", &contained) &&
		    json_object_is_type(contained, json_type_array)) {
			size_t n = json_object_array_length(contained);

			for (size_t i = 0; i < n; i++) {
				struct json_object *res = json_object_array_get_idx(contained, i);
				struct str id;

				if (member_str(res, "id", &id) && id.n == parts.id.n &&
				    memcmp(id.p, parts.id.p, id.n) == 0)
					(void)member_str(res, "resourceType", &en.v.reference.type);
			}
		}
	}
	return emit(ix, &en);
}

static int index_reference(struct ix *ix, const struct fhirpath_value *v)
{
	struct json_object *ident;
	struct str s;
	int prim = prim_of(v), rc = 0;

	if (v->kind != FHIRPATH_JSON)
		return 0;
	if (prim == FHIR_PRIM_CANONICAL || prim == FHIR_PRIM_URI || prim == FHIR_PRIM_URL)
		return json_str(v->json, &s) ? emit_reference_text(ix, s, prim == FHIR_PRIM_CANONICAL) :
					       0;
	if (is_type(ix->c->t_reference, v)) {
		if (member_str(v->json, "reference", &s))
			rc = emit_reference_text(ix, s, false);
		else if (member_str(v->json, "type", &s) &&
			 fhir_resource_type_index(s.p, s.n) >= 0 &&
			 get_member(v->json, "identifier", &ident)) {
			/* a logical reference: its type serves :[type] */
			struct fhir_index_entry en = { 0 };

			en.kind = FHIR_INDEX_REFERENCE;
			en.v.reference.type = s;
			rc = emit(ix, &en);
		}
		if (!rc && get_member(v->json, "identifier", &ident))
			rc = index_identifier(ix, ident, FHIR_INDEX_REFERENCE_IDENTIFIER);
		return rc;
	}
	if (v->type < FHIR_TYPE_COUNT && fhir_types[v->type].kind == FHIR_KIND_RESOURCE) {
		/* a resource in place (Bundle.entry[0].resource): itself */
		struct fhir_index_entry en = { 0 };

		en.kind = FHIR_INDEX_REFERENCE;
		en.v.reference.type.p = fhir_types[v->type].name;
		en.v.reference.type.n = strlen(en.v.reference.type.p);
		if (!member_str(v->json, "id", &en.v.reference.id))
			return 0;
		return emit(ix, &en);
	}
	return 0;
}

static int index_position(struct ix *ix, const struct fhirpath_value *v)
{
	struct fhir_index_entry en = { 0 };
	struct json_object *lat, *lon;

	if (!is_type(ix->c->t_location_position, v) || !get_member(v->json, "latitude", &lat) ||
	    !get_member(v->json, "longitude", &lon))
		return 0;
	en.kind = FHIR_INDEX_POSITION;
	en.v.position.latitude = json_object_get_double(lat);
	en.v.position.longitude = json_object_get_double(lon);
	return emit(ix, &en);
}

static int index_value(struct ix *ix, int type, const struct fhirpath_value *v)
{
	switch (type) {
	case FHIR_SEARCH_STRING: return index_string(ix, v);
	case FHIR_SEARCH_TOKEN: return index_token(ix, v);
	case FHIR_SEARCH_DATE: return index_date(ix, v);
	case FHIR_SEARCH_NUMBER: return index_numeric(ix, v, FHIR_INDEX_NUMBER);
	case FHIR_SEARCH_QUANTITY: return index_numeric(ix, v, FHIR_INDEX_QUANTITY);
	case FHIR_SEARCH_REFERENCE: return index_reference(ix, v);
	case FHIR_SEARCH_URI: return index_uri(ix, v);
	case FHIR_SEARCH_SPECIAL: return index_position(ix, v);
	default: return 0;
	}
}

/* ---- parameters -------------------------------------------------------- */

static int emit_combinations(struct ix *ix, const struct fhir_search_param *p,
			     struct collected *parts, size_t n_parts)
{
	struct fhir_index_entry en = { 0 }, combo[COMPOSITE_MAX_PARTS];
	size_t pick[COMPOSITE_MAX_PARTS] = { 0 };
	int rc = 0;

	for (size_t k = 0; k < n_parts; k++)
		if (parts[k].n == 0)
			return 0;
	en.kind = FHIR_INDEX_COMPOSITE;
	en.v.composite.part = combo;
	en.v.composite.n = n_parts;
	for (int count = 0; !rc && count < COMPOSITE_MAX_COMBINATIONS; count++) {
		size_t k;

		for (k = 0; k < n_parts; k++)
			combo[k] = parts[k].entry[pick[k]];
		ix->param = p;
		rc = emit(ix, &en);
		/* next combination, like an odometer */
		for (k = 0; k < n_parts; k++) {
			if (++pick[k] < parts[k].n)
				break;
			pick[k] = 0;
		}
		if (k == n_parts)
			break;
	}
	return rc;
}

static int index_composite(struct ix *ix, const struct fhir_search_param *p,
			   const struct fhirpath_expr *x)
{
	struct collected parts[COMPOSITE_MAX_PARTS];
	size_t first, n, n_parts = p->n_component;
	int rc;

	if (n_parts == 0 || n_parts > COMPOSITE_MAX_PARTS)
		return 0;
	rc = fhirpath_eval(&ix->fp, x, ix->resource, &ix->root, &first, &n, ix->e);
	for (size_t i = 0; !rc && i < n; i++) {
		struct fhirpath_value focus = ix->fp.item[first + i];

		int empty = 0;

		for (size_t k = 0; k < n_parts; k++)
			parts[k].n = 0;
		/* Last component first: it is the value (value.as(Quantity),
		 * value.as(CodeableConcept)...), which most foci lack, and a
		 * composite with an empty part has no entry, so the code part
		 * need not be extracted then. */
		for (size_t k = n_parts; !rc && !empty && k-- > 0;) {
			const struct fhirpath_expr *cx = fhir_search_component_expr(p, k);
			const struct fhir_search_param *cp = fhir_search_component_param(p, k, NULL);
			size_t cf, cn;

			if (!cx || !cp)
				break;
			rc = fhirpath_eval(&ix->fp, cx, ix->resource, &focus, &cf, &cn, ix->e);
			ix->collect = &parts[k];
			ix->param = cp;
			for (size_t j = 0; !rc && j < cn; j++) {
				struct fhirpath_value v = ix->fp.item[cf + j];

				rc = index_value(ix, cp->type, &v);
			}
			ix->collect = NULL;
			ix->fp.n = cf;
			empty = parts[k].n == 0;
		}
		if (!rc && !empty)
			rc = emit_combinations(ix, p, parts, n_parts);
	}
	ix->fp.n = first;
	return rc;
}

static int index_param(struct ix *ix, const struct fhir_search_param *p)
{
	const struct fhirpath_expr *x = fhir_search_param_expr(p);
	size_t first, n;
	int rc;

	if (!x)
		return 0;
	ix->param = p;
	ix->n_seen = 0;
	scratch_reset(ix);
	if (p->type == FHIR_SEARCH_COMPOSITE)
		return index_composite(ix, p, x);
	rc = fhirpath_eval(&ix->fp, x, ix->resource, &ix->root, &first, &n, ix->e);
	for (size_t i = 0; !rc && i < n; i++) {
		struct fhirpath_value v = ix->fp.item[first + i];

		rc = index_value(ix, p->type, &v);
	}
	ix->fp.n = first;
	return rc;
}

/* The resource's row range in the table and its type's index, or an error. */
static int resource_slice(struct json_object *resource, size_t *first, size_t *count,
			  uint16_t *type, int *type_index, struct err *e)
{
	struct json_object *rt;
	int r;

	if (!json_object_is_type(resource, json_type_object) ||
	    !json_object_object_get_ex(resource, "resourceType", &rt) ||
	    !json_object_is_type(rt, json_type_string))
		return err_set(e, ERR_INVALID, "resourceType", "missing resourceType");
	r = fhir_resource_type_index(json_object_get_string(rt),
				     (size_t)json_object_get_string_len(rt));
	if (r < 0)
		return err_set(e, ERR_UNKNOWN_TYPE, "resourceType", "unknown resource type");
	*first = fhir_search_by_type[r].first;
	*count = fhir_search_by_type[r].count;
	*type = fhir_resource_types[r].type;
	*type_index = r;
	return 0;
}

static int run(struct json_object *resource, const struct fhir_search_param *only,
	       fhir_index_fn fn, void *arg, struct err *e)
{
	const struct fhir_search_customs *custom = fhir_search_customs();	/* one set throughout */
	struct ix *ix;
	size_t first = 0, count = 0;
	uint16_t type = 0;
	int rc, ti = -1;

	rc = resource_slice(resource, &first, &count, &type, &ti, e);
	if (rc)
		return rc;
	if (only && (only < fhir_search_params + first || only >= fhir_search_params + first + count) &&
	    (!fhir_search_custom_url(only) ||
	     strcmp(only->resource_type, fhir_resource_type_name(ti))))
		return err_set(e, ERR_BAD_REQUEST, NULL, "%s is not a parameter of this resource type",
			       only->code);
	/* About 15 KiB (value stack, scratch, seen entries): on the heap
	 * rather than on a worker thread's stack. One malloc per call. */
	ix = malloc(sizeof(*ix));
	if (!ix)
		return err_set(e, ERR_NOMEM, NULL, "index: out of memory");
	memset(ix, 0, offsetof(struct ix, fp));
	ix->scratch.used = 0;
	ix->scratch.chunks = NULL;
	ix->c = cache_get();
	if (!ix->c) {
		free(ix);
		return err_set(e, ERR_NOMEM, NULL, "index: out of memory");
	}
	fhirpath_ctx_init(&ix->fp);
	ix->resource = resource;
	ix->root.kind = FHIRPATH_JSON;
	ix->root.json = resource;
	ix->root.type = type;
	ix->fn = fn;
	ix->arg = arg;
	ix->e = e;
	if (only)
		rc = index_param(ix, only);
	else
		for (size_t i = first; !rc && i < first + count; i++)
			if (!fhir_search_param_union(&fhir_search_params[i], NULL))
				rc = index_param(ix, &fhir_search_params[i]);
	for (size_t i = 0; !rc && !only; i++) {
		const struct fhir_search_param *p = fhir_search_customs_param(custom, ti, i);

		if (!p)
			break;
		rc = index_param(ix, p);
	}
	scratch_reset(ix);
	fhirpath_ctx_release(&ix->fp);
	free(ix);
	return rc;
}

int fhir_index_resource(struct json_object *resource, fhir_index_fn fn, void *arg, struct err *e)
{
	return run(resource, NULL, fn, arg, e);
}

int fhir_index_param(struct json_object *resource, const struct fhir_search_param *p,
		     fhir_index_fn fn, void *arg, struct err *e)
{
	if (!p)
		return err_set(e, ERR_BAD_REQUEST, NULL, "no search parameter");
	return run(resource, p, fn, arg, e);
}

int fhir_index_supports(int search_type, const struct fhirpath_value *v)
{
	const struct compiled *c = cache_get();
	int prim = prim_of(v);

	if (!c)
		return 0;
	switch (search_type) {
	case FHIR_SEARCH_STRING:
		return v->kind == FHIRPATH_STRING ||
		       (v->kind == FHIRPATH_JSON && json_object_is_type(v->json, json_type_string)) ||
		       is_type(c->t_human_name, v) || is_type(c->t_address, v);
	case FHIR_SEARCH_TOKEN:
		return v->kind == FHIRPATH_BOOLEAN ||
		       (v->kind == FHIRPATH_JSON && (json_object_is_type(v->json, json_type_boolean) ||
						     json_object_is_type(v->json, json_type_string))) ||
		       is_type(c->t_coding, v) || is_type(c->t_codeable_concept, v) ||
		       is_type(c->t_identifier, v) || is_type(c->t_contact_point, v);
	case FHIR_SEARCH_DATE:
		return prim == FHIR_PRIM_DATE || prim == FHIR_PRIM_DATETIME ||
		       prim == FHIR_PRIM_INSTANT || is_type(c->t_period, v) || is_type(c->t_timing, v);
	case FHIR_SEARCH_NUMBER:
		return prim == FHIR_PRIM_DECIMAL || prim == FHIR_PRIM_INTEGER ||
		       prim == FHIR_PRIM_POSITIVE_INT || prim == FHIR_PRIM_UNSIGNED_INT ||
		       is_type(c->t_range, v) ||
		       (v->kind == FHIRPATH_JSON && v->type < FHIR_TYPE_COUNT &&
			fhirpath_type_is(v->type, (unsigned)c->t_quantity));
	case FHIR_SEARCH_QUANTITY:
		return is_type(c->t_range, v) || is_type(c->t_money, v) ||
		       (v->kind == FHIRPATH_JSON && v->type < FHIR_TYPE_COUNT &&
			fhirpath_type_is(v->type, (unsigned)c->t_quantity));
	case FHIR_SEARCH_REFERENCE:
		return prim == FHIR_PRIM_CANONICAL || prim == FHIR_PRIM_URI || prim == FHIR_PRIM_URL ||
		       is_type(c->t_reference, v) ||
		       (v->kind == FHIRPATH_JSON && v->type < FHIR_TYPE_COUNT &&
			fhir_types[v->type].kind == FHIR_KIND_RESOURCE);
	case FHIR_SEARCH_URI:
		return v->kind == FHIRPATH_JSON && json_object_is_type(v->json, json_type_string);
	case FHIR_SEARCH_SPECIAL:
		return is_type(c->t_location_position, v);
	default:
		return 0;
	}
}
