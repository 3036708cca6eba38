/*
 * rest.c — read, vread, create, update, delete and patch of one resource.
 *
 * Every write builds the exact bytes that will be served (id and meta set
 * by the server, resourceType/id/meta first), validates them, and commits
 * them through the store's group commit; the response goes out only after
 * the commit is durable. Updates are optimistic: prepared against the
 * current version and retried on a concurrent change, unless the client
 * pinned a version with If-Match (then 412).
 */
#include "api_int.h"

#include <stdio.h>
#include <string.h>
#include "../base/json.h"
#include "../base/jsonpatch.h"
#include "../base/rand.h"
#include "../base/time.h"
#include "../fhir/search.h"

static const char *const read_params[] = { "_summary", "_elements", NULL };

/* Builds the stored form of resource: resourceType, id, meta (versionId,
 * lastUpdated, then the client's other meta elements), then the rest in the
 * client's order. Validates it and writes compact JSON to out. */
static int prepare(struct api_ctx *c, struct json_object *resource, const char *id,
		   int64_t version, int64_t now_ms, int validate, struct buf *out)
{
	struct json_object *o = json_object_new_object(), *meta = json_object_new_object(), *old_meta;
	char vid[24], when[TIME_INSTANT_LEN + 1];
	int rc = 0;

	if (!o || !meta) {
		json_object_put(o);
		json_object_put(meta);
		return err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
	}
	snprintf(vid, sizeof(vid), "%lld", (long long)version);
	time_format_instant(now_ms, when);
	json_object_object_add(meta, "versionId", json_object_new_string(vid));
	json_object_object_add(meta, "lastUpdated", json_object_new_string(when));
	if (json_object_object_get_ex(resource, "meta", &old_meta) &&
	    json_object_is_type(old_meta, json_type_object)) {
		json_object_object_foreach(old_meta, mk, mv) {
			if (strcmp(mk, "versionId") && strcmp(mk, "lastUpdated"))
				json_object_object_add(meta, mk, json_object_get(mv));
		}
	} else if (old_meta) {
		json_object_object_add(meta, "invalid", json_object_get(old_meta));	/* let validation name it */
	}
	json_object_object_add(o, "resourceType", json_object_new_string(c->type));
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "meta", meta);
	json_object_object_foreach(resource, k, v) {
		if (strcmp(k, "resourceType") && strcmp(k, "id") && strcmp(k, "meta"))
			json_object_object_add(o, k, json_object_get(v));
	}
	if (validate)
		rc = fhir_validate(o, &c->err);
	store_ix_rows_clear(&c->ix);
	if (!rc)
		rc = fhir_index_rows(o, &c->ix, &c->err);
	if (!rc && json_write(out, o, 0))
		rc = err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
	json_object_put(o);
	return rc;
}

/* The resourceType of the body must be the one in the URL. */
static int check_type(struct api_ctx *c, struct json_object *resource)
{
	const char *rt = json_get_str(resource, "resourceType");

	if (!rt)
		return err_set(&c->err, ERR_INVALID, "resourceType", "the resource has no resourceType");
	if (strcmp(rt, c->type) != 0)
		return err_set(&c->err, ERR_INVALID, "resourceType",
			       "the body is a %.64s but the URL names %s", rt, c->type);
	return 0;
}

/* The body of a successful write, per Prefer. */
static int write_reply(struct api_ctx *c, int status, struct buf *stored, const char *id,
		       int64_t version, int64_t now_ms, const char *what)
{
	int rc;

	c->res->status = status;
	api_set_version_headers(c, version, now_ms);
	if ((rc = api_set_location(c, id, version)))
		return rc;
	switch (c->ret) {
	case RETURN_MINIMAL:
		return 0;
	case RETURN_OUTCOME:
		return api_set_outcome(c, status, "%s %s/%s version %lld", what, c->type, id,
				       (long long)version);
	case RETURN_REPRESENTATION:
		break;
	}
	api_take_body_json(c, stored);
	return 0;
}

/* Commits one write. */
static int commit_one(struct api_ctx *c, const char *id, int64_t expect, int64_t version,
		      int64_t now_ms, int interaction, const struct buf *stored)
{
	int deleted = interaction == STORE_DELETE;

	struct store_write w = {
		.tenant = c->api->tenant,
		.type = c->type,
		.id = id,
		.expect_version = expect,
		.version = version,
		.last_updated_ms = now_ms,
		.deleted = deleted,
		.interaction = interaction,
		.json = deleted ? NULL : stored->p,
		.json_len = deleted ? 0 : stored->n,
		.index = deleted ? NULL : &c->ix,
	};
	struct store_txn txn = { .writes = &w, .n_writes = 1 };

	return store_commit(c->api->st, &txn, &c->err);
}

static int create_object(struct api_ctx *c, struct json_object *resource)
{
	char id[UUID_STR_LEN + 1];
	int64_t now = time_now_ms();
	struct buf stored;
	int rc;

	if (c->req->if_none_exist)
		return err_set(&c->err, ERR_NOT_SUPPORTED, NULL,
			       "conditional create (If-None-Exist) is not implemented yet");
	if ((rc = check_type(c, resource)))
		return rc;
	if (rand_uuid(id))
		return err_set(&c->err, ERR_INTERNAL, NULL, "cannot draw a random id");
	buf_init(&stored, 0);
	rc = prepare(c, resource, id, 1, now, 1, &stored);
	if (!rc)
		rc = commit_one(c, id, 0, 1, now, STORE_CREATE, &stored);
	if (!rc) {
		snprintf(c->id, sizeof(c->id), "%s", id);
		rc = write_reply(c, 201, &stored, id, 1, now, "created");
	}
	buf_release(&stored);
	return rc;
}

int api_create(struct api_ctx *c)
{
	struct json_object *resource;
	int rc;

	if ((rc = api_check_params(c, NULL)) || (rc = api_parse_body(c, &resource)))
		return rc;
	rc = create_object(c, resource);
	json_object_put(resource);
	return rc;
}

/* Serves a stored version: 200 with the bytes, 410 for a deletion, 304 when
 * If-None-Match names this version. */
static int serve_version(struct api_ctx *c, struct store_version *v)
{
	api_set_version_headers(c, v->version, v->last_updated_ms);
	if (v->deleted) {
		err_set(&c->err, ERR_GONE, NULL, "%s/%s was deleted (version %lld)", c->type, c->id,
			(long long)v->version);
		return ERR_GONE;
	}
	if (c->req->if_none_match && strstr(c->req->if_none_match, c->res->etag + 2)) {
		c->res->status = 304;
		return 0;
	}
	c->res->status = 200;
	api_take_body_json(c, &v->json);
	return 0;
}

/* read (version 0: the current one) and vread. */
static int read_version(struct api_ctx *c, int64_t version)
{
	struct store_version v;
	int rc;

	if ((rc = api_check_params(c, read_params)))
		return rc;
	store_version_init(&v);
	rc = store_read(c->api->st, c->api->tenant, c->type, c->id, version, &v, &c->err);
	if (rc == ERR_NOT_FOUND && version)
		err_set(&c->err, ERR_NOT_FOUND, NULL, "%s/%s has no version %lld", c->type, c->id,
			(long long)version);
	else if (rc == ERR_NOT_FOUND)
		err_set(&c->err, ERR_NOT_FOUND, NULL, "%s/%s is not known", c->type, c->id);
	if (!rc)
		rc = serve_version(c, &v);
	store_version_release(&v);
	return rc;
}

int api_read(struct api_ctx *c) { return read_version(c, 0); }
int api_vread(struct api_ctx *c) { return read_version(c, c->vid); }

/*
 * The write loop shared by update, patch and delete: read the current
 * version, check If-Match, let `make` build the new bytes, commit against
 * the version read, retry on a concurrent change.
 */
typedef int (*make_fn)(struct api_ctx *c, void *arg, const struct store_version *cur, int exists,
		       int64_t version, int64_t now_ms, struct buf *out);

static int write_loop(struct api_ctx *c, make_fn make, void *arg, int interaction,
		      int must_exist, int64_t *version_out, int64_t *now_out, int *created_out,
		      struct buf *stored)
{
	int64_t if_match, version = 0, now = 0;
	struct store_version cur;
	int rc, attempt, exists = 0;

	if ((rc = api_parse_if_match(c, &if_match)))
		return rc;
	store_version_init(&cur);
	for (attempt = 0; attempt < API_WRITE_RETRIES; attempt++) {
		err_clear(&c->err);
		rc = store_read(c->api->st, c->api->tenant, c->type, c->id, 0, &cur, &c->err);
		if (rc && rc != ERR_NOT_FOUND)
			break;
		exists = rc == 0;
		err_clear(&c->err);
		rc = 0;
		if (if_match >= 0 && (!exists || cur.version != if_match)) {
			rc = err_set(&c->err, ERR_PRECONDITION, NULL,
				     "If-Match W/\"%lld\" does not match the current version (%lld)",
				     (long long)if_match, (long long)(exists ? cur.version : 0));
			break;
		}
		if (must_exist && !exists) {
			rc = err_set(&c->err, ERR_NOT_FOUND, NULL, "%s/%s is not known", c->type, c->id);
			break;
		}
		if (must_exist && cur.deleted) {
			rc = err_set(&c->err, ERR_GONE, NULL, "%s/%s was deleted", c->type, c->id);
			break;
		}
		version = exists ? cur.version + 1 : 1;
		now = time_now_ms();
		if (now <= cur.last_updated_ms)
			now = cur.last_updated_ms + 1;	/* versions never go back in time */
		buf_clear(stored);
		if ((rc = make(c, arg, &cur, exists, version, now, stored)))
			break;
		rc = commit_one(c, c->id, exists ? cur.version : 0, version, now,
				interaction == STORE_UPDATE && (!exists || cur.deleted)
					? STORE_UPDATE_CREATE : interaction,
				stored);
		if (rc != ERR_CONFLICT)
			break;
		if (if_match >= 0) {
			err_clear(&c->err);
			rc = err_set(&c->err, ERR_PRECONDITION, NULL,
				     "the resource changed while this request was applied");
			break;
		}
	}
	*version_out = version;
	*now_out = now;
	*created_out = !exists || cur.deleted;
	store_version_release(&cur);
	return rc;
}

static int make_update(struct api_ctx *c, void *arg, const struct store_version *cur, int exists,
		       int64_t version, int64_t now_ms, struct buf *out)
{
	return prepare(c, arg, c->id, version, now_ms, 1, out);
}

int api_update(struct api_ctx *c)
{
	struct json_object *resource;
	const char *body_id;
	int64_t version, now;
	struct buf stored;
	int rc, created;

	if ((rc = api_check_params(c, NULL)) || (rc = api_parse_body(c, &resource)))
		return rc;
	body_id = json_get_str(resource, "id");
	if ((rc = check_type(c, resource)))
		goto out;
	if (!body_id || strcmp(body_id, c->id) != 0) {
		rc = err_set(&c->err, ERR_INVALID, "id",
			     body_id ? "the id in the body does not match the id in the URL"
				     : "the resource in an update must carry its id");
		goto out;
	}
	buf_init(&stored, 0);
	rc = write_loop(c, make_update, resource, STORE_UPDATE, 0, &version, &now, &created,
			&stored);
	if (!rc)
		rc = write_reply(c, created ? 201 : 200, &stored, c->id, version, now,
				 created ? "created" : "updated");
	buf_release(&stored);
out:
	json_object_put(resource);
	return rc;
}

static int make_delete(struct api_ctx *c, void *arg, const struct store_version *cur, int exists,
		       int64_t version, int64_t now_ms, struct buf *out)
{
	return 0;	/* a deletion stores no bytes */
}

int api_delete(struct api_ctx *c)
{
	int64_t version, now;
	struct buf none;
	int rc, created;

	if ((rc = api_check_params(c, NULL)))
		return rc;
	buf_init(&none, 0);
	rc = write_loop(c, make_delete, NULL, STORE_DELETE, 1, &version, &now, &created, &none);
	buf_release(&none);
	if (rc == ERR_GONE) {	/* deleting what is deleted changes nothing */
		err_clear(&c->err);
		return api_set_outcome(c, 200, "%s/%s was already deleted", c->type, c->id);
	}
	if (rc)
		return rc;
	api_set_version_headers(c, version, now);
	return api_set_outcome(c, 200, "deleted %s/%s (version %lld)", c->type, c->id,
			       (long long)version);
}

static int make_patch(struct api_ctx *c, void *arg, const struct store_version *cur, int exists,
		      int64_t version, int64_t now_ms, struct buf *out)
{
	struct json_object *patch = arg, *doc;
	const char *rt, *id;
	int rc;

	if ((rc = json_parse(cur->json.p, cur->json.n, 0, &doc, &c->err)))
		return err_set(&c->err, ERR_INTERNAL, NULL, "the stored resource cannot be read");
	if ((rc = json_patch_apply(&doc, patch, &c->err)))
		goto out;
	rt = json_object_is_type(doc, json_type_object) ? json_get_str(doc, "resourceType") : NULL;
	id = rt ? json_get_str(doc, "id") : NULL;
	if (!rt || strcmp(rt, c->type) || !id || strcmp(id, c->id)) {
		rc = err_set(&c->err, ERR_UNPROCESSABLE, NULL,
			     "a patch may not change the resourceType or the id");
		goto out;
	}
	rc = prepare(c, doc, c->id, version, now_ms, 1, out);
	if (rc == ERR_INVALID)
		c->err.code = rc = ERR_UNPROCESSABLE;	/* the patch made it invalid: 422 */
out:
	json_object_put(doc);
	return rc;
}

int api_patch(struct api_ctx *c)
{
	const char *ct = c->req->content_type;
	struct json_object *patch;
	int64_t version, now;
	struct buf stored;
	int rc, created;

	if ((rc = api_check_params(c, NULL)))
		return rc;
	if (!ct || strncasecmp(ct, "application/json-patch+json", 27) != 0)
		return err_set(&c->err, ERR_MEDIA_TYPE, NULL,
			       "PATCH takes a JSON Patch (Content-Type: application/json-patch+json); "
			       "FHIRPath Patch is not supported yet");
	if (!c->req->body || !c->req->body_len)
		return err_set(&c->err, ERR_BAD_REQUEST, NULL, "the request has no body");
	if ((rc = json_parse(c->req->body, c->req->body_len, c->api->cfg.limits.max_json_depth, &patch,
			     &c->err)))
		return rc;
	buf_init(&stored, 0);
	rc = write_loop(c, make_patch, patch, STORE_PATCH, 1, &version, &now, &created, &stored);
	if (!rc)
		rc = write_reply(c, 200, &stored, c->id, version, now, "patched");
	buf_release(&stored);
	json_object_put(patch);
	return rc;
}
