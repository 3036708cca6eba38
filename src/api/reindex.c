/*
 * reindex.c — keeping the search index in step with the parameter table.
 *
 * The store remembers which parameter table its index rows were made with
 * (store_meta 'index_params' = fhir_search_fingerprint()). At start the API
 * compares it with its own: an empty store simply adopts it; a store whose
 * index was made with another table (an older lienthong, or a database
 * migrated from schema 1) still serves, and searches carry a warning until
 * `lienthong reindex` has rebuilt the rows.
 *
 * Rebuilding is online and covers every tenant: it reads the current
 * versions page by page (a search across types, in rid order; the custom
 * search parameters are those of the store, see searchparam.c) and
 * replaces each resource's rows in batches through the normal group
 * commit, each write pinned to the
 * version it was computed from. A resource updated meanwhile has been
 * indexed by its own write; its stale reindex write fails with a conflict
 * and is skipped. Reads are never blocked (WAL); the server's writes wait
 * at most one batch.
 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/json.h"
#include "../base/log.h"
#include "../fhir/search.h"

#define REINDEX_BATCH 256
#define INDEX_META_KEY "index_params"

int api_index_check(struct api *api, struct err *e)
{
	struct buf have;
	const char *want = fhir_search_fingerprint();
	int rc;

	buf_init(&have, 4096);
	rc = store_meta_get(api->st, INDEX_META_KEY, &have, e);
	if (rc == ERR_NOT_FOUND) {	/* a new store: its (empty) index is current */
		struct store_txn txn = { .meta_key = INDEX_META_KEY, .meta_value = want };

		err_clear(e);
		rc = store_commit(api->st, &txn, e);
	} else if (!rc && strcmp(have.p, want) != 0) {
		api->index_stale = 1;
		log_warn("the search index was built for parameter table '%s', not '%s':"
			 " searches may miss resources until `lienthong reindex` has run",
			 have.p, want);
	}
	buf_release(&have);
	return rc;
}

/* Re-reads the store's record after a reindex elsewhere. */
int api_index_stale(struct api *api)
{
	struct buf have;
	struct err e = { 0 };

	if (!api->index_stale)
		return 0;
	buf_init(&have, 4096);
	if (store_meta_get(api->st, INDEX_META_KEY, &have, &e) == 0 &&
	    !strcmp(have.p, fhir_search_fingerprint()))
		api->index_stale = 0;
	buf_release(&have);
	return api->index_stale;
}

/* One batch of reindex writes; the strings live in batch_ix[i] / versions. */
struct reindex {
	struct store *st;
	struct store_write w[REINDEX_BATCH];
	struct store_ix_rows ix[REINDEX_BATCH];
	char type[REINDEX_BATCH][STORE_TYPE_MAX + 1];
	char id[REINDEX_BATCH][STORE_ID_MAX + 1];
	size_t n;
	int64_t done, skipped, total;
	int64_t tenant;			/* being rebuilt */
	int64_t *tenants;		/* every tenant's id, the host's (1) first */
	unsigned char *stale;		/* per type index: rebuild it; NULL: every type */
	size_t n_tenants, cap_tenants;
	api_reindex_progress_fn progress;
	void *arg;
	struct err *e;
};

static int flush(struct reindex *r)
{
	struct store_txn txn = { .writes = r->w, .n_writes = r->n };
	int rc;

	if (!r->n)
		return 0;
	rc = store_commit(r->st, &txn, r->e);
	if (rc == ERR_CONFLICT) {	/* someone wrote meanwhile: one by one, skip those */
		err_clear(r->e);
		rc = 0;
		for (size_t i = 0; !rc && i < r->n; i++) {
			struct store_txn one = { .writes = &r->w[i], .n_writes = 1 };

			rc = store_commit(r->st, &one, r->e);
			if (rc == ERR_CONFLICT) {
				err_clear(r->e);
				r->skipped++;
				rc = 0;
			}
		}
	}
	r->done += (int64_t)r->n;
	r->n = 0;
	if (!rc && r->progress)
		r->progress(r->arg, r->done, r->total);
	return rc;
}

static int on_resource(void *arg, const struct store_version *v)
{
	struct reindex *r = arg;
	struct json_object *res = NULL;
	size_t i = r->n;
	int rc;

	rc = json_parse(v->json.p, v->json.n, 256, &res, r->e);
	if (!rc) {
		store_ix_rows_clear(&r->ix[i]);
		rc = fhir_index_rows(res, &r->ix[i], r->e);
	}
	json_object_put(res);
	if (rc) {
		/* A stored resource that no longer indexes: keep going, say which. */
		log_warn("reindex: %s/%s: %s", v->type, v->id,
			 r->e->n_issues ? r->e->issue[0].diagnostics : err_message(rc));
		err_clear(r->e);
		r->skipped++;
		return 0;
	}
	snprintf(r->type[i], sizeof(r->type[i]), "%s", v->type);
	snprintf(r->id[i], sizeof(r->id[i]), "%s", v->id);
	r->w[i] = (struct store_write){
		.tenant = r->tenant,
		.type = r->type[i],
		.id = r->id[i],
		.expect_version = v->version,
		.version = v->version,
		.interaction = STORE_REINDEX,
		.index = &r->ix[i],
	};
	r->n++;
	return 0;
}

static int add_tenant(struct reindex *r, int64_t id)
{
	if (r->n_tenants == r->cap_tenants) {
		size_t cap = r->cap_tenants ? 2 * r->cap_tenants : 64;
		int64_t *t = realloc(r->tenants, cap * sizeof(*t));

		if (!t)
			return err_set(r->e, ERR_NOMEM, NULL, "out of memory");
		r->tenants = t;
		r->cap_tenants = cap;
	}
	r->tenants[r->n_tenants++] = id;
	return 0;
}

static int on_tenant(void *arg, const struct store_tenant *t)
{
	struct reindex *r = arg;

	return t->id == STORE_DEFAULT_TENANT ? 0 : add_tenant(r, t->id);
}

/* One tenant's resources of type (NULL: every type): their number into
 * r->total, or their rows rebuilt page by page. */
static int pass(struct reindex *r, const char *type, int count_only)
{
	struct store_query q = { .tenant = r->tenant, .type = type };
	struct store_search s = { .q = &q };
	char cursor[STORE_CURSOR_MAX];
	int rc;

	if (count_only) {
		s.total = STORE_TOTAL_ACCURATE;
		rc = store_search(r->st, &s, on_resource, r, r->e);
		r->total += s.total_n > 0 ? s.total_n : 0;
		return rc;
	}
	s.count = REINDEX_BATCH;
	s.total = STORE_TOTAL_NONE;
	cursor[0] = '\0';
	for (;;) {
		s.cursor = cursor[0] ? cursor : NULL;
		rc = store_search(r->st, &s, on_resource, r, r->e);
		if (!rc)
			rc = flush(r);
		if (rc || !s.next_cursor[0])
			return rc;
		snprintf(cursor, sizeof(cursor), "%s", s.next_cursor);
	}
}

/* Every tenant, every type to rebuild. */
static int passes(struct reindex *r, int count_only)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < r->n_tenants; i++) {
		r->tenant = r->tenants[i];
		if (!r->stale)
			rc = pass(r, NULL, count_only);
		for (int t = 0; r->stale && !rc && t < fhir_resource_type_count(); t++)
			if (r->stale[t])
				rc = pass(r, fhir_resource_type_name(t), count_only);
	}
	return rc;
}

/* Which types to rebuild (r->stale; NULL: all), from the fingerprint the
 * index was made for: after a change of custom parameters, only their
 * types. */
static int plan(struct reindex *r, char *types, size_t n)
{
	struct buf have;
	int rc, count = fhir_resource_type_count();

	buf_init(&have, 4096);
	rc = store_meta_get(r->st, INDEX_META_KEY, &have, r->e);
	if (rc == ERR_NOT_FOUND) {
		err_clear(r->e);
		rc = 0;
	} else if (!rc && (r->stale = calloc((size_t)count, 1)) == NULL) {
		rc = err_set(r->e, ERR_NOMEM, NULL, "out of memory");
	} else if (!rc && fhir_search_fingerprint_diff(have.p, fhir_search_fingerprint(), r->stale) ==
			  count) {
		free(r->stale);
		r->stale = NULL;
	}
	buf_release(&have);
	snprintf(types, n, "every type");
	if (r->stale) {
		size_t used = 0;

		types[0] = '\0';
		for (int t = 0; t < count && used < n; t++)
			if (r->stale[t])
				used += (size_t)snprintf(types + used, n - used, "%s%s", used ? ", " : "",
							 fhir_resource_type_name(t));
		if (!types[0])
			snprintf(types, n, "no type (the index is current)");
	}
	return rc;
}

int api_reindex(struct store *st, api_reindex_progress_fn progress, void *arg, struct err *e)
{
	struct reindex *r = calloc(1, sizeof(*r));
	char types[512];
	int rc;

	if (!r)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	r->st = st;
	r->progress = progress;
	r->arg = arg;
	r->e = e;
	for (size_t i = 0; i < REINDEX_BATCH; i++)
		store_ix_rows_init(&r->ix[i]);
	/* The index is made with the custom search parameters the store has. */
	rc = api_search_params_load(st, e);
	if (!rc)
		rc = add_tenant(r, STORE_DEFAULT_TENANT);
	if (!rc)
		rc = store_tenants(st, on_tenant, r, e);
	if (!rc)
		rc = plan(r, types, sizeof(types));
	if (!rc)
		log_info("reindex: %s", types);
	if (!rc)
		rc = passes(r, 1);	/* the total, for progress */
	if (!rc)
		rc = passes(r, 0);
	if (!rc) {
		struct store_txn txn = { .meta_key = INDEX_META_KEY, .meta_value = fhir_search_fingerprint() };

		rc = store_commit(st, &txn, e);
	}
	if (!rc)
		log_info("reindex: %lld resources indexed in %zu tenants, %lld skipped (changed"
			 " meanwhile or unreadable)", (long long)(r->done - r->skipped), r->n_tenants,
			 (long long)r->skipped);
	for (size_t i = 0; i < REINDEX_BATCH; i++)
		store_ix_rows_release(&r->ix[i]);
	free(r->tenants);
	free(r->stale);
	free(r);
	return rc;
}
