/*
 * searchparam.c — custom search parameters (decision 0027).
 *
 * The active SearchParameter resources of the host's tenant (tenant 1)
 * define search parameters beside the generated table, for every tenant:
 * they are loaded when the store is opened and again after every write of
 * a SearchParameter there; search_custom.c holds the set. A write of an
 * active SearchParameter that cannot be used (an expression outside the
 * FHIRPath subset, a code a built-in parameter or another SearchParameter
 * has, ...) is refused with 422, as is one defining new parameters in
 * another tenant. A changed set changes the index fingerprint: searches
 * warn until `lienthong reindex` has rebuilt the rows (reindex.c).
 */
#include "api_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/json.h"
#include "../base/log.h"
#include "../fhir/search.h"

#define LOAD_PAGE 500

/* Loads are serialized, so that a load that saw a newer write is never
 * overtaken by an older one publishing after it. */
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

struct loaded {
	struct json_object **def;
	char **id;
	size_t n, cap;
	struct err *e;
};

static int on_definition(void *arg, const struct store_version *v)
{
	struct loaded *l = arg;
	struct json_object *o = NULL;

	if (v->deleted)
		return 0;
	if (json_parse(v->json.p, v->json.n, 256, &o, l->e))
		return l->e->code;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct json_object **d = realloc(l->def, cap * sizeof(*d));
		char **id = d ? realloc(l->id, cap * sizeof(*id)) : NULL;

		if (d)
			l->def = d;
		if (!d || !id) {
			json_object_put(o);
			return err_set(l->e, ERR_NOMEM, NULL, "out of memory");
		}
		l->id = id;
		l->cap = cap;
	}
	l->id[l->n] = strdup(v->id);
	if (!l->id[l->n]) {
		json_object_put(o);
		return err_set(l->e, ERR_NOMEM, NULL, "out of memory");
	}
	l->def[l->n++] = o;
	return 0;
}

static void on_skipped(void *arg, const char *id, const struct err *why)
{
	(void)arg;
	log_warn("SearchParameter/%s is not used: %s", id,
		 why->n_issues ? why->issue[0].diagnostics : err_message(why->code));
}

int api_search_params_load(struct store *st, struct err *e)
{
	struct store_query q = { .tenant = STORE_DEFAULT_TENANT, .type = "SearchParameter" };
	struct store_search s = { .q = &q, .count = LOAD_PAGE, .total = STORE_TOTAL_NONE };
	struct loaded l = { .e = e };
	char cursor[STORE_CURSOR_MAX] = "";
	int rc;

	pthread_mutex_lock(&load_lock);
	for (;;) {	/* in rid order: of two clashing definitions, the older one wins */
		s.cursor = cursor[0] ? cursor : NULL;
		rc = store_search(st, &s, on_definition, &l, e);
		if (rc || !s.next_cursor[0])
			break;
		snprintf(cursor, sizeof(cursor), "%s", s.next_cursor);
	}
	if (!rc)
		rc = fhir_search_customs_publish(l.def, (const char *const *)l.id, l.n, on_skipped,
						 NULL, e);
	pthread_mutex_unlock(&load_lock);
	for (size_t i = 0; i < l.n; i++) {
		json_object_put(l.def[i]);
		free(l.id[i]);
	}
	free(l.def);
	free(l.id);
	if (!rc && fhir_search_customs_count(fhir_search_customs()))
		log_info("%zu custom search parameters", fhir_search_customs_count(fhir_search_customs()));
	return rc;
}

int api_search_param_check(int64_t tenant, struct json_object *sp, const char *id, struct err *e)
{
	size_t n = 0;
	int rc = fhir_search_custom_check(sp, id, fhir_search_customs(), &n, e);

	if (rc == ERR_INVALID || rc == ERR_BAD_REQUEST || rc == ERR_TOO_LARGE)
		e->code = rc = ERR_UNPROCESSABLE;	/* valid FHIR, but not usable here */
	if (!rc && n && tenant != STORE_DEFAULT_TENANT)
		rc = err_set(e, ERR_UNPROCESSABLE, "SearchParameter",
			     "custom search parameters apply to every facility and are defined in"
			     " the host's own tenant; this SearchParameter is active and would"
			     " define %zu", n);
	return rc;
}

int api_search_params_changed(struct api *api, struct err *e)
{
	int rc = api_search_params_load(api->st, e);

	if (!rc)
		rc = api_index_check(api, e);
	return rc;
}
