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
 * Rebuilding is online: it reads the current versions page by page (a
 * search across types, in rid order) and replaces each resource's rows in
 * batches through the normal group commit, each write pinned to the
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
	int64_t last_rid;
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
		.tenant = STORE_DEFAULT_TENANT,
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

int api_reindex(struct store *st, int64_t tenant, api_reindex_progress_fn progress, void *arg,
		struct err *e)
{
	struct reindex *r = calloc(1, sizeof(*r));
	struct store_query q = { .tenant = tenant };
	struct store_search s = { .q = &q, .count = 0, .total = STORE_TOTAL_ACCURATE };
	char cursor[STORE_CURSOR_MAX];
	int rc;

	if (!r)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	r->st = st;
	r->progress = progress;
	r->arg = arg;
	r->e = e;
	for (size_t i = 0; i < REINDEX_BATCH; i++)
		store_ix_rows_init(&r->ix[i]);
	rc = store_search(st, &s, on_resource, r, e);	/* the total, for progress */
	r->total = s.total_n;
	s.total = STORE_TOTAL_NONE;
	s.count = REINDEX_BATCH;
	cursor[0] = '\0';
	while (!rc) {
		s.cursor = cursor[0] ? cursor : NULL;
		rc = store_search(st, &s, on_resource, r, e);
		if (!rc)
			rc = flush(r);
		if (rc || !s.next_cursor[0])
			break;
		snprintf(cursor, sizeof(cursor), "%s", s.next_cursor);
	}
	if (!rc) {
		struct store_txn txn = { .meta_key = INDEX_META_KEY, .meta_value = fhir_search_fingerprint() };

		rc = store_commit(st, &txn, e);
	}
	if (!rc)
		log_info("reindex: %lld resources indexed, %lld skipped (changed meanwhile or unreadable)",
			 (long long)(r->done - r->skipped), (long long)r->skipped);
	for (size_t i = 0; i < REINDEX_BATCH; i++)
		store_ix_rows_release(&r->ix[i]);
	free(r);
	return rc;
}
