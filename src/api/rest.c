/*
 * rest.c — read, vread, create, update, delete and patch of one resource,
 * each maybe conditional (If-None-Exist, PUT/PATCH/DELETE [type]?search).
 *
 * A write is a transaction of one entry run by the write engine (tx.c):
 * the bytes served later are built and validated there, committed through
 * the store's group commit, and the response goes out only once they are
 * durable. This file turns the HTTP request into that entry and the
 * entry's outcome into the response.
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

/* The query of a conditional request (PUT/PATCH/DELETE [type]?search)
 * encoded again as one string for the write engine. */
static int request_query(struct api_ctx *c, struct buf *q)
{
	int rc = 0;

	for (int i = 0; i < c->req->n_params && !rc; i++) {
		const struct api_param *p = &c->req->params[i];

		if (!strcmp(p->name, "_format") || !strcmp(p->name, "_pretty"))
			continue;
		if (q->n)
			rc = buf_putc(q, '&');
		if (!rc)
			rc = api_put_query_value(q, p->name);
		if (!rc)
			rc = buf_putc(q, '=');
		if (!rc)
			rc = api_put_query_value(q, p->value ? p->value : "");
	}
	if (rc)
		return err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
	if (!q->n)
		return err_set(&c->err, ERR_BAD_REQUEST, NULL,
			       "a conditional %s on %s needs search parameters", c->req->method,
			       c->type);
	return 0;
}

/* The reply to a write, per Prefer: the resource, nothing, or an outcome. */
static int write_reply(struct api_ctx *c, struct tx_entry *e, const char *what)
{
	int rc;

	c->res->status = e->status;
	snprintf(c->id, sizeof(c->id), "%s", e->out_id);
	api_set_version_headers(c, e->version, e->last_updated_ms);
	if ((rc = api_set_location(c, e->out_id, e->version)))
		return rc;
	switch (c->ret) {
	case RETURN_MINIMAL:
		return 0;
	case RETURN_OUTCOME:
		return api_set_outcome(c, e->status, "%s %s/%s version %lld", what, c->type,
				       e->out_id, (long long)e->version);
	case RETURN_REPRESENTATION:
		break;
	}
	api_take_body_json(c, &e->stored);
	return 0;
}

/* Runs one write through the engine (a transaction of one entry). */
static int run_one(struct api_ctx *c, struct tx_entry *e)
{
	size_t failed;
	int rc = api_tx_run(c, e, 1, TX_ATOMIC, &failed);

	if (rc) {
		for (int i = 0; i < e->err.n_issues; i++)
			err_set(&c->err, rc, e->err.issue[i].expression, "%s",
				e->err.issue[i].diagnostics);
		if (!e->err.n_issues)
			err_set(&c->err, rc, NULL, "%s", err_message(rc));
	}
	return rc;
}

/* Fills the parts of an entry every write takes from the HTTP request. */
static int entry_from_request(struct api_ctx *c, struct tx_entry *e, enum tx_method m,
			      struct buf *query)
{
	int rc;

	e->method = m;
	e->type = c->type;
	/* Parameters are a conditional write's search; otherwise none are taken. */
	if ((c->id[0] || m == TX_POST) && (rc = api_check_params(c, NULL)))
		return rc;
	if ((rc = api_parse_if_match(c, &e->if_match)))
		return rc;
	if (c->id[0]) {
		snprintf(e->id, sizeof(e->id), "%s", c->id);
		return 0;
	}
	if (m == TX_POST)
		return 0;
	if ((rc = request_query(c, query)))
		return rc;
	e->query = query->p;
	return 0;
}

int api_create(struct api_ctx *c)
{
	struct tx_entry e;
	struct buf q;
	int rc;

	api_tx_entry_init(&e);
	buf_init(&q, 0);
	rc = entry_from_request(c, &e, TX_POST, &q);
	if (!rc)
		rc = api_parse_body(c, &e.body);
	e.if_none_exist = c->req->if_none_exist;
	if (!rc)
		rc = run_one(c, &e);
	if (!rc)
		rc = write_reply(c, &e, e.noop ? "matched" : "created");
	json_object_put(e.body);
	api_tx_entry_release(&e);
	buf_release(&q);
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
	rc = store_read(c->api->st, c->tenant, c->type, c->id, version, &v, &c->err);
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

int api_update(struct api_ctx *c)
{
	const char *inm = c->req->if_none_match;
	struct tx_entry e;
	struct buf q;
	int rc;

	api_tx_entry_init(&e);
	buf_init(&q, 0);
	rc = entry_from_request(c, &e, TX_PUT, &q);
	if (!rc)
		rc = api_parse_body(c, &e.body);
	e.if_none_match = inm && strchr(inm, '*');
	if (!rc)
		rc = run_one(c, &e);
	if (!rc)
		rc = write_reply(c, &e, e.status == 201 ? "created" : "updated");
	json_object_put(e.body);
	api_tx_entry_release(&e);
	buf_release(&q);
	return rc;
}

int api_delete(struct api_ctx *c)
{
	struct tx_entry e;
	struct buf q;
	int rc;

	api_tx_entry_init(&e);
	buf_init(&q, 0);
	rc = entry_from_request(c, &e, TX_DELETE, &q);
	if (!rc)
		rc = run_one(c, &e);
	if (!rc && e.noop && !e.version)
		rc = api_set_outcome(c, 200, "the search matched no %s; nothing was deleted",
				     c->type);
	else if (!rc && e.noop)
		rc = api_set_outcome(c, 200, "%s/%s was already deleted", c->type, e.out_id);
	else if (!rc && e.n_del > 1)
		rc = api_set_outcome(c, 200, "deleted %zu %s resources", e.n_del, c->type);
	else if (!rc) {
		api_set_version_headers(c, e.version, e.last_updated_ms);
		rc = api_set_outcome(c, 200, "deleted %s/%s (version %lld)", c->type, e.out_id,
				     (long long)e.version);
	}
	api_tx_entry_release(&e);
	buf_release(&q);
	return rc;
}

int api_patch(struct api_ctx *c)
{
	const char *ct = c->req->content_type;
	struct tx_entry e;
	struct buf q;
	int rc;

	api_tx_entry_init(&e);
	buf_init(&q, 0);
	rc = entry_from_request(c, &e, TX_PATCH, &q);
	if (!rc && (!ct || strncasecmp(ct, "application/json-patch+json", 27) != 0))
		rc = err_set(&c->err, ERR_MEDIA_TYPE, NULL,
			     "PATCH takes a JSON Patch (Content-Type: application/json-patch+json); "
			     "FHIRPath Patch is not supported yet");
	if (!rc && (!c->req->body || !c->req->body_len))
		rc = err_set(&c->err, ERR_BAD_REQUEST, NULL, "the request has no body");
	if (!rc)
		rc = json_parse(c->req->body, c->req->body_len, c->api->cfg.limits.max_json_depth,
				&e.body, &c->err);
	if (!rc)
		rc = run_one(c, &e);
	if (!rc)
		rc = write_reply(c, &e, "patched");
	json_object_put(e.body);
	api_tx_entry_release(&e);
	buf_release(&q);
	return rc;
}
