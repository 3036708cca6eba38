/*
 * tx.c — the write engine. Every write of the API goes through here: a
 * REST create, update, patch or delete is a transaction of one entry; a
 * Bundle is a transaction or a batch of many.
 *
 * One attempt:
 *   1. resolve each entry's target: conditional searches (If-None-Exist,
 *      PUT/PATCH/DELETE [type]?search), fresh ids for creates;
 *   2. (bundles) rewrite the references that name another entry's fullUrl
 *      (urn:uuid:, urn:oid:) and resolve conditional references
 *      (Patient?identifier=...);
 *   3. plan each write: read the current version, check If-Match and
 *      If-None-Match, build the stored bytes and index rows;
 *   4. commit: one store txn (transaction) or one per entry (batch), with a
 *      guard for every conditional search so that the writer re-checks it
 *      against the data it commits over.
 * A conflict (another change got there first, or a guard's search now
 * answers differently) starts a new attempt, so concurrent transactions
 * never deadlock and never lose an update: each commits exactly as if the
 * transactions had run one after the other.
 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/arena.h"
#include "../base/json.h"
#include "../base/jsonpatch.h"
#include "../base/log.h"
#include "../base/rand.h"
#include "../base/time.h"
#include "../fhir/search.h"

#define TX_ARENA_BYTES (64u << 20)
#define TX_DELETE_MAX 1000		/* conditional delete of several: at most this many */

/* A string in a resource that names another entry or a search, found once
 * and rewritten on every attempt (the ids may differ between attempts). */
struct tx_slot {
	struct json_object *parent;	/* object or array holding the string */
	const char *key;		/* object member (points into parent's key), or NULL */
	size_t idx;			/* array index when key is NULL */
	char *orig;			/* the string as the client sent it (owned) */
	size_t entry;			/* the entry whose resource holds it */
	enum { SLOT_FULLURL, SLOT_CONDITIONAL, SLOT_NARRATIVE } kind;
};

struct tx {
	struct api_ctx *c;
	struct tx_entry *e;
	size_t n;
	unsigned flags;
	struct json_object *full_urls;	/* fullUrl -> entry index */
	struct tx_slot *slot;
	size_t n_slot, cap_slot;
	/* One attempt's. */
	struct arena a;
	struct store_guard *guard;
	size_t n_guard, cap_guard;
};

/* ---- small helpers -------------------------------------------------------- */

static int add_guard(struct tx *t, struct tx_entry *e, const struct store_query *q, int n_seen,
		     const char *type, const char *id)
{
	struct store_guard *g;

	if (t->n_guard == t->cap_guard) {
		size_t cap = t->cap_guard ? 2 * t->cap_guard : 16;

		g = realloc(t->guard, cap * sizeof(*g));
		if (!g)
			return err_set(&e->err, ERR_NOMEM, NULL, "out of memory");
		t->guard = g;
		t->cap_guard = cap;
	}
	g = &t->guard[t->n_guard++];
	g->q = q;
	g->n_seen = n_seen > 2 ? 2 : n_seen;
	g->type = type;
	g->id = id ? arena_strndup(&t->a, id, strlen(id)) : NULL;
	if (id && !g->id)
		return err_set(&e->err, ERR_NOMEM, NULL, "out of memory");
	e->guard_first = e->guard_first < 0 ? (int)t->n_guard - 1 : e->guard_first;
	e->n_guards++;
	return 0;
}

/* ---- conditional searches ------------------------------------------------- */

struct match {
	int n;
	size_t max;
	struct tx_del *found;		/* the first max matches */
	struct buf *first_json;		/* bytes of the first match, or NULL */
};

static int match_row(void *arg, const struct store_version *v)
{
	struct match *m = arg;

	if ((size_t)m->n < m->max) {
		struct tx_del *d = &m->found[m->n];

		snprintf(d->id, sizeof(d->id), "%s", v->id);
		d->version = v->version;
		d->last_updated_ms = v->last_updated_ms;
		if (m->n == 0 && m->first_json) {
			buf_clear(m->first_json);
			if (buf_append(m->first_json, v->json.p, v->json.n))
				return ERR_NOMEM;
		}
	}
	m->n++;
	return 0;
}

/*
 * Runs the search "query" (with or without a leading "Type?") on type for a
 * conditional interaction, strictly (an unknown parameter is an error, not
 * ignored: ignoring it would match too much). Finds up to max matches into
 * found[], counts up to max + 1, and guards the result.
 */
static int cond_search(struct tx *t, struct tx_entry *e, const char *type, const char *query,
		       size_t max, struct tx_del *found, struct buf *first_json, int *n)
{
	struct fhir_search_arg args[API_MAX_QUERY_PARAMS];
	struct fhir_search_request *req;
	struct store_search s = { 0 };
	struct match m = { 0 };
	const char *q = strchr(query, '?');
	size_t n_args = 0;
	int rc;

	if (q) {
		if ((size_t)(q - query) != strlen(type) || strncmp(query, type, strlen(type)))
			return err_set(&e->err, ERR_BAD_REQUEST, NULL,
				       "the search '%.100s' is not on %s", query, type);
		query = q + 1;
	}
	if (!*query)
		return err_set(&e->err, ERR_PRECONDITION, NULL,
			       "a conditional %s needs search parameters", type);
	req = arena_alloc(&t->a, sizeof(*req));
	if (!req)
		return err_set(&e->err, ERR_NOMEM, NULL, "out of memory");
	if ((rc = api_parse_form(&t->a, query, strlen(query), 0, args, &n_args,
				 API_MAX_QUERY_PARAMS, &e->err)))
		return rc;
	for (size_t i = 0; i < n_args; i++)
		if (fhir_search_is_control(args[i].name) && strcmp(args[i].name, "_id") &&
		    strcmp(args[i].name, "_lastUpdated") && strcmp(args[i].name, "_tag") &&
		    strcmp(args[i].name, "_profile") && strcmp(args[i].name, "_security"))
			return err_set(&e->err, ERR_BAD_REQUEST, NULL,
				       "'%.64s' does not select resources; a conditional "
				       "search takes search parameters only", args[i].name);
	if ((rc = fhir_search_parse(type, t->c->tenant, args, n_args, 1, t->c->base, &t->a,
				    req, &e->err)))
		return rc;
	s.q = &req->q;
	s.count = (int)max + 1;
	m.max = max;
	m.found = found;
	m.first_json = first_json;
	if ((rc = store_search(t->c->api->st, &s, match_row, &m, &e->err)))
		return rc == ERR_NOMEM ? err_set(&e->err, rc, NULL, "out of memory") : rc;
	*n = m.n;
	return add_guard(t, e, &req->q, m.n, type, m.n == 1 ? found[0].id : NULL);
}

/* ---- step 1: targets ------------------------------------------------------ */

/* A server-assigned id, drawn once and kept across attempts (so that the
 * references rewritten to it stay the same). */
static int fresh_id(struct tx_entry *e)
{
	if (!e->new_id[0] && rand_uuid(e->new_id))
		return err_set(&e->err, ERR_INTERNAL, NULL, "cannot draw a random id");
	snprintf(e->out_id, sizeof(e->out_id), "%s", e->new_id);
	return 0;
}

static int resolve_entry(struct tx *t, struct tx_entry *e)
{
	struct api *api = t->c->api;
	struct tx_del one;
	int n, rc;

	e->noop = 0;
	e->n_del = 0;
	e->guard_first = -1;
	e->n_guards = 0;
	switch (e->method) {
	case TX_POST:
		if (e->if_none_exist) {
			if ((rc = cond_search(t, e, e->type, e->if_none_exist, 1, &one, &e->stored, &n)))
				return rc;
			if (n > 1)
				return err_set(&e->err, ERR_PRECONDITION, NULL,
						  "If-None-Exist '%.100s' matches more than one %s",
						  e->if_none_exist, e->type);
			if (n == 1) {	/* exists: nothing is created */
				e->noop = 1;
				e->status = 200;
				snprintf(e->out_id, sizeof(e->out_id), "%s", one.id);
				e->version = one.version;
				e->last_updated_ms = one.last_updated_ms;
				return 0;
			}
		}
		return fresh_id(e);
	case TX_PUT:
	case TX_PATCH:
		if (!e->query) {
			snprintf(e->out_id, sizeof(e->out_id), "%s", e->id);
			return 0;
		}
		if ((rc = cond_search(t, e, e->type, e->query, 1, &one, NULL, &n)))
			return rc;
		if (n > 1)
			return err_set(&e->err, ERR_PRECONDITION, NULL, "the search '%.100s' matches more than one %s",
					  e->query, e->type);
		if (n == 1) {
			const char *body_id = e->method == TX_PUT ? json_get_str(e->body, "id") : NULL;

			if (body_id && strcmp(body_id, one.id))
				return err_set(&e->err, ERR_BAD_REQUEST, NULL,
						  "the resource's id is not the one the search '%.100s' "
						  "matches (%s)", e->query, one.id);
			snprintf(e->out_id, sizeof(e->out_id), "%s", one.id);
			return 0;
		}
		if (e->method == TX_PATCH)
			return err_set(&e->err, ERR_NOT_FOUND, NULL, "the search '%.100s' matches no %s", e->query,
					  e->type);
		/* No match: an update creates, with the client's id or a fresh one. */
		{
			const char *id = json_get_str(e->body, "id");

			if (!id)
				return fresh_id(e);
			if (strlen(id) >= sizeof(e->out_id) || !fhir_id_valid(id, strlen(id)))
				return err_set(&e->err, ERR_INVALID, "id", "'%.64s' is not a valid id", id);
			snprintf(e->out_id, sizeof(e->out_id), "%s", id);
		}
		return 0;
	case TX_DELETE:
		if (!e->query) {
			snprintf(e->out_id, sizeof(e->out_id), "%s", e->id);
			return 0;
		}
		{
			size_t max = api->cfg.delete_multiple ? TX_DELETE_MAX : 1;

			if (!e->del && !(e->del = calloc(max + 1, sizeof(*e->del))))
				return err_set(&e->err, ERR_NOMEM, NULL, "out of memory");
			if ((rc = cond_search(t, e, e->type, e->query, max, e->del, NULL, &n)))
				return rc;
			if ((size_t)n > max && max == 1)
				return err_set(&e->err, ERR_PRECONDITION, NULL,
					       "the search '%.100s' matches more than one %s (this server "
					       "deletes one at a time: conditional_delete=single)",
					       e->query, e->type);
			if ((size_t)n > max)
				return err_set(&e->err, ERR_PRECONDITION, NULL,
					       "the search '%.100s' matches more than %d %s", e->query,
					       TX_DELETE_MAX, e->type);
			if (n == 0) {	/* an ordinary delete of nothing */
				e->noop = 1;
				e->status = 200;
				return 0;
			}
			e->n_del = (size_t)n;
			snprintf(e->out_id, sizeof(e->out_id), "%s", e->del[0].id);
		}
		return 0;
	case TX_GET:
		return 0;
	}
	return err_set(&e->err, ERR_INTERNAL, NULL, "unknown method");
}

/* ---- step 2: references between entries ----------------------------------- */

static int is_conditional_ref(const char *s)
{
	const char *q = strchr(s, '?');
	size_t n = q ? (size_t)(q - s) : 0;

	return n && !memchr(s, '/', n) && fhir_resource_type_index(s, n) >= 0;
}

static int add_slot(struct tx *t, struct json_object *parent, const char *key, size_t idx,
		    const char *s, size_t entry, int kind)
{
	struct tx_slot *sl;

	if (t->n_slot == t->cap_slot) {
		size_t cap = t->cap_slot ? 2 * t->cap_slot : 64;

		sl = realloc(t->slot, cap * sizeof(*sl));
		if (!sl)
			return ERR_NOMEM;
		t->slot = sl;
		t->cap_slot = cap;
	}
	sl = &t->slot[t->n_slot];
	if (!(sl->orig = strdup(s)))
		return ERR_NOMEM;
	sl->parent = parent;
	sl->key = key;
	sl->idx = idx;
	sl->entry = entry;
	sl->kind = kind;
	t->n_slot++;
	return 0;
}

/* Which kind of slot a string is, or -1 for none. */
static int slot_kind(struct tx *t, const char *key, const char *s)
{
	int is_ref = key && !strcmp(key, "reference");

	if (key && !strcmp(key, "div"))
		return strstr(s, "urn:uuid:") || strstr(s, "urn:oid:") ? SLOT_NARRATIVE : -1;
	if (json_object_object_get_ex(t->full_urls, s, NULL))
		return SLOT_FULLURL;	/* any element naming an entry: reference, uri, ... */
	if (is_ref && (!strncmp(s, "urn:uuid:", 9) || !strncmp(s, "urn:oid:", 8)))
		return SLOT_FULLURL;	/* names no entry: an error (a dangling reference) */
	if (is_ref && is_conditional_ref(s))
		return SLOT_CONDITIONAL;
	return -1;
}

static int find_slots(struct tx *t, struct json_object *o, size_t entry, int depth)
{
	int rc = 0;

	if (depth > 256)
		return 0;
	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v) {
			int kind = json_object_is_type(v, json_type_string)
					   ? slot_kind(t, k, json_object_get_string(v)) : -1;

			if (kind >= 0)
				rc = add_slot(t, o, k, 0, json_object_get_string(v), entry, kind);
			else if (!json_object_is_type(v, json_type_string))
				rc = find_slots(t, v, entry, depth + 1);
			if (rc)
				return rc;
		}
	} else if (json_object_is_type(o, json_type_array)) {
		size_t n = json_object_array_length(o);

		for (size_t i = 0; i < n && !rc; i++) {
			struct json_object *v = json_object_array_get_idx(o, i);
			int kind = json_object_is_type(v, json_type_string)
					   ? slot_kind(t, NULL, json_object_get_string(v)) : -1;

			if (kind >= 0)
				rc = add_slot(t, o, NULL, i, json_object_get_string(v), entry, kind);
			else
				rc = find_slots(t, v, entry, depth + 1);
		}
	}
	return rc;
}

/* "Type/id" of the entry whose fullUrl is url, or NULL (not an entry, or
 * one that leaves no resource behind). */
static const char *entry_ref(struct tx *t, const char *url, char *out, size_t n)
{
	struct json_object *ix;
	const struct tx_entry *e;

	if (!json_object_object_get_ex(t->full_urls, url, &ix))
		return NULL;
	e = &t->e[json_object_get_int(ix)];
	if (e->method == TX_DELETE || e->method == TX_GET || !e->out_id[0])
		return NULL;
	snprintf(out, n, "%s/%s", e->type, e->out_id);
	return out;
}

/* The narrative with every urn naming an entry replaced by its reference. */
static int rewrite_narrative(struct tx *t, const char *s, struct buf *out)
{
	char ref[STORE_TYPE_MAX + FHIR_ID_MAX + 2];
	int rc = 0;

	buf_clear(out);
	while (*s && !rc) {
		const char *u = strstr(s, "urn:");
		size_t len;
		char urn[256];
		const char *to;

		if (!u) {
			rc = buf_puts(out, s);
			break;
		}
		len = strcspn(u, "\"'<> \t\r\n");
		rc = buf_append(out, s, (size_t)(u - s));
		if (!rc && len < sizeof(urn)) {
			memcpy(urn, u, len);
			urn[len] = '\0';
			to = entry_ref(t, urn, ref, sizeof(ref));
			rc = to ? buf_puts(out, to) : buf_append(out, u, len);
		} else if (!rc) {
			rc = buf_append(out, u, len);
		}
		s = u + len;
	}
	return rc;
}

static int set_slot(struct tx_slot *sl, const char *v)
{
	struct json_object *s = json_object_new_string(v);

	if (!s)
		return ERR_NOMEM;
	if (sl->key)
		return json_object_object_add(sl->parent, sl->key, s) ? ERR_NOMEM : 0;
	return json_object_array_put_idx(sl->parent, sl->idx, s) ? ERR_NOMEM : 0;
}

/* Step 2: sets every slot from this attempt's ids and searches. */
static int rewrite_refs(struct tx *t, size_t *failed)
{
	char ref[STORE_TYPE_MAX + FHIR_ID_MAX + 2];
	struct buf div;
	int rc = 0;

	buf_init(&div, 0);
	for (size_t i = 0; i < t->n_slot && !rc; i++) {
		struct tx_slot *sl = &t->slot[i];
		struct tx_entry *e = &t->e[sl->entry];
		const char *to = NULL;

		*failed = sl->entry;
		switch (sl->kind) {
		case SLOT_FULLURL:
			to = entry_ref(t, sl->orig, ref, sizeof(ref));
			if (!to)
				rc = err_set(&e->err, ERR_BAD_REQUEST, NULL,
					     "the reference '%.200s' names no created or updated "
					     "entry of the transaction", sl->orig);
			break;
		case SLOT_CONDITIONAL: {
			struct tx_del one;
			char type[STORE_TYPE_MAX + 1];
			size_t tn = (size_t)(strchr(sl->orig, '?') - sl->orig);
			int n;

			snprintf(type, sizeof(type), "%.*s", (int)tn, sl->orig);
			rc = cond_search(t, e, fhir_resource_type_name(
						       fhir_resource_type_index(type, tn)),
					 sl->orig, 1, &one, NULL, &n);
			if (!rc && n != 1)
				rc = err_set(&e->err, n ? ERR_PRECONDITION : ERR_NOT_FOUND, NULL,
					     "the conditional reference '%.200s' matches %s", sl->orig,
					     n ? "more than one resource" : "no resource");
			if (!rc) {
				snprintf(ref, sizeof(ref), "%s/%s", type, one.id);
				to = ref;
			}
			break;
		}
		case SLOT_NARRATIVE:
			if (!(rc = rewrite_narrative(t, sl->orig, &div)))
				to = div.p ? div.p : "";
			break;
		}
		if (!rc && to && (rc = set_slot(sl, to)))
			rc = err_set(&e->err, ERR_NOMEM, NULL, "out of memory");
	}
	buf_release(&div);
	return rc;
}

/* ---- step 3: the writes --------------------------------------------------- */

/* Builds the stored form of resource: resourceType, id, meta (versionId,
 * lastUpdated, then the client's other meta elements), then the rest in the
 * client's order. Validates it, makes its index rows, writes compact JSON. */
int api_prepare(int64_t tenant, const char *type, struct json_object *resource, const char *id,
		int64_t version, int64_t now_ms, struct store_ix_rows *ix, struct buf *out,
		struct err *err)
{
	struct json_object *o = json_object_new_object(), *meta = json_object_new_object(), *old_meta;
	char vid[24], when[TIME_INSTANT_LEN + 1];
	int rc = 0;

	if (!o || !meta) {
		json_object_put(o);
		json_object_put(meta);
		return err_set(err, ERR_NOMEM, NULL, "out of memory");
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
	json_object_object_add(o, "resourceType", json_object_new_string(type));
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "meta", meta);
	json_object_object_foreach(resource, k, v) {
		if (strcmp(k, "resourceType") && strcmp(k, "id") && strcmp(k, "meta"))
			json_object_object_add(o, k, json_object_get(v));
	}
	rc = fhir_validate(o, err);
	if (!rc && !strcmp(type, "SearchParameter"))
		rc = api_search_param_check(tenant, o, id, err);
	store_ix_rows_clear(ix);
	if (!rc)
		rc = fhir_index_rows(o, ix, err);
	buf_clear(out);
	if (!rc && json_write(out, o, 0))
		rc = err_set(err, ERR_NOMEM, NULL, "out of memory");
	json_object_put(o);
	return rc;
}

static int check_body_type(struct tx_entry *e)
{
	const char *rt = json_get_str(e->body, "resourceType");

	if (!rt)
		return err_set(&e->err, ERR_INVALID, "resourceType", "the resource has no resourceType");
	if (strcmp(rt, e->type) != 0)
		return err_set(&e->err, ERR_INVALID, "resourceType",
			       "the body is a %.64s but the request names %s", rt, e->type);
	return 0;
}

static int patch_current(struct tx *t, struct tx_entry *e, const struct store_version *cur,
			 int64_t now)
{
	struct json_object *doc;
	const char *rt, *id;
	int rc;

	if (json_parse(cur->json.p, cur->json.n, 0, &doc, &e->err))
		return err_set(&e->err, ERR_INTERNAL, NULL, "the stored resource cannot be read");
	if ((rc = json_patch_apply(&doc, e->body, &e->err)))
		goto out;
	rt = json_object_is_type(doc, json_type_object) ? json_get_str(doc, "resourceType") : NULL;
	id = rt ? json_get_str(doc, "id") : NULL;
	if (!rt || strcmp(rt, e->type) || !id || strcmp(id, e->out_id)) {
		rc = err_set(&e->err, ERR_UNPROCESSABLE, NULL,
			     "a patch may not change the resourceType or the id");
		goto out;
	}
	rc = api_prepare(t->c->tenant, e->type, doc, e->out_id, e->version, now, &e->ix, &e->stored,
			 &e->err);
	if (rc == ERR_INVALID)
		e->err.code = rc = ERR_UNPROCESSABLE;	/* the patch made it invalid: 422 */
out:
	json_object_put(doc);
	return rc;
}

/* Step 3 for one entry: what to write, against which version. */
static int plan_entry(struct tx *t, struct tx_entry *e, int64_t now)
{
	struct store_version cur;
	int rc, exists;

	if (e->noop || e->method == TX_GET || e->n_del > 1)
		return 0;
	if (e->method == TX_POST) {
		e->expect = 0;
		e->version = 1;
		e->last_updated_ms = now;
		e->interaction = STORE_CREATE;
		e->status = 201;
		if ((rc = check_body_type(e)))
			return rc;
		return api_prepare(t->c->tenant, e->type, e->body, e->out_id, 1, now, &e->ix,
				   &e->stored, &e->err);
	}
	store_version_init(&cur);
	rc = store_read(t->c->api->st, t->c->tenant, e->type, e->out_id, 0, &cur, &e->err);
	if (rc && rc != ERR_NOT_FOUND)
		goto out;
	err_clear(&e->err);
	exists = rc == 0;
	rc = 0;
	if (e->if_match >= 0 && (!exists || cur.version != e->if_match)) {
		rc = err_set(&e->err, ERR_PRECONDITION, NULL,
			     "If-Match W/\"%lld\" does not match the current version (%lld)",
			     (long long)e->if_match, (long long)(exists ? cur.version : 0));
		goto out;
	}
	if (e->if_none_match && exists && !cur.deleted) {
		rc = err_set(&e->err, ERR_PRECONDITION, NULL, "%s/%s exists (If-None-Match: *)",
			     e->type, e->out_id);
		goto out;
	}
	if (e->method != TX_PUT && (!exists || cur.deleted)) {
		if (e->method == TX_DELETE && exists) {	/* deleting what is deleted changes nothing */
			e->noop = 1;
			e->status = 200;
			e->version = cur.version;
			e->last_updated_ms = cur.last_updated_ms;
			goto out;
		}
		rc = err_set(&e->err, exists ? ERR_GONE : ERR_NOT_FOUND, NULL,
			     exists ? "%s/%s was deleted" : "%s/%s is not known", e->type, e->out_id);
		goto out;
	}
	e->expect = exists ? cur.version : 0;
	e->version = exists ? cur.version + 1 : 1;
	e->last_updated_ms = exists && now <= cur.last_updated_ms ? cur.last_updated_ms + 1 : now;
	switch (e->method) {
	case TX_PUT:
		e->interaction = exists && !cur.deleted ? STORE_UPDATE : STORE_UPDATE_CREATE;
		e->status = e->interaction == STORE_UPDATE ? 200 : 201;
		if ((rc = check_body_type(e)))
			break;
		if (!e->query && (!json_get_str(e->body, "id") ||
				  strcmp(json_get_str(e->body, "id"), e->out_id))) {
			rc = err_set(&e->err, ERR_INVALID, "id",
				     json_get_str(e->body, "id")
					     ? "the id in the resource does not match the id in the URL"
					     : "the resource in an update must carry its id");
			break;
		}
		rc = api_prepare(t->c->tenant, e->type, e->body, e->out_id, e->version,
				 e->last_updated_ms, &e->ix, &e->stored, &e->err);
		break;
	case TX_PATCH:
		e->interaction = STORE_PATCH;
		e->status = 200;
		rc = patch_current(t, e, &cur, e->last_updated_ms);
		break;
	case TX_DELETE:
		e->interaction = STORE_DELETE;
		e->status = 200;
		buf_clear(&e->stored);
		break;
	default:
		break;
	}
out:
	store_version_release(&cur);
	return rc;
}

static void fill_write(struct store_write *w, int64_t tenant, const struct tx_entry *e)
{
	int deleted = e->interaction == STORE_DELETE;

	*w = (struct store_write){
		.tenant = tenant,
		.type = e->type,
		.id = e->out_id,
		.expect_version = e->expect,
		.version = e->version,
		.last_updated_ms = e->last_updated_ms,
		.deleted = deleted,
		.interaction = e->interaction,
		.json = deleted ? NULL : e->stored.p,
		.json_len = deleted ? 0 : e->stored.n,
		.index = deleted ? NULL : &e->ix,
	};
}

/* The store writes of e (a conditional delete may have several). */
static size_t entry_writes(struct tx *t, struct tx_entry *e, struct store_write *w, int64_t now)
{
	if (e->noop || e->method == TX_GET)
		return 0;
	if (e->n_del > 1) {
		for (size_t i = 0; i < e->n_del; i++) {
			struct tx_entry d = *e;

			snprintf(d.out_id, sizeof(d.out_id), "%s", e->del[i].id);
			d.expect = e->del[i].version;
			d.version = e->del[i].version + 1;
			d.last_updated_ms = now <= e->del[i].last_updated_ms
						    ? e->del[i].last_updated_ms + 1 : now;
			d.interaction = STORE_DELETE;
			fill_write(&w[i], t->c->tenant, &d);
			w[i].id = e->del[i].id;
		}
		e->status = 200;
		return e->n_del;
	}
	fill_write(w, t->c->tenant, e);
	return 1;
}

/* ---- the attempts --------------------------------------------------------- */

static int method_rank(enum tx_method m)
{
	switch (m) {
	case TX_DELETE: return 0;
	case TX_POST: return 1;
	case TX_PUT:
	case TX_PATCH: return 2;
	case TX_GET: return 3;
	}
	return 3;
}

/* Two writes of one transaction on one resource: the spec forbids it. */
static int check_overlap(struct tx *t, struct store_write *w, size_t n, size_t *failed)
{
	struct json_object *seen = json_object_new_object();
	char key[STORE_TYPE_MAX + FHIR_ID_MAX + 2];
	int rc = 0;

	if (!seen)
		return ERR_NOMEM;
	for (size_t i = 0; i < n && !rc; i++) {
		snprintf(key, sizeof(key), "%s/%s", w[i].type, w[i].id);
		if (json_object_object_get_ex(seen, key, NULL)) {
			for (*failed = 0; *failed < t->n; (*failed)++)
				if (!strcmp(t->e[*failed].out_id, w[i].id) &&
				    !strcmp(t->e[*failed].type, w[i].type))
					break;
			if (*failed == t->n)
				*failed = 0;
			rc = err_set(&t->e[*failed].err, ERR_BAD_REQUEST, NULL,
				     "%s is changed by more than one entry of the transaction", key);
		} else {
			json_object_object_add(seen, key, NULL);
		}
	}
	json_object_put(seen);
	return rc;
}

/* A new attempt: fresh arena and guards; the entries still to do start over. */
static void attempt_reset(struct tx *t)
{
	arena_release(&t->a);
	arena_init(&t->a, TX_ARENA_BYTES);
	t->n_guard = 0;
	for (size_t i = 0; i < t->n; i++)
		if (t->e[i].state == TX_PENDING) {
			err_clear(&t->e[i].err);
			t->e[i].interaction = 0;
		}
}

/* One attempt of a transaction; *failed is the entry at fault. */
static int transaction_attempt(struct tx *t, size_t *failed)
{
	struct store_write *w = NULL;
	size_t nw = 0, cap = 0, *order = NULL;
	int64_t now = time_now_ms();
	int rc = 0;

	attempt_reset(t);
	for (size_t i = 0; i < t->n && !rc; i++)
		if ((rc = resolve_entry(t, &t->e[i])))
			*failed = i;
	if (!rc && t->n_slot)
		rc = rewrite_refs(t, failed);
	for (size_t i = 0; i < t->n && !rc; i++) {
		if ((rc = plan_entry(t, &t->e[i], now)))
			*failed = i;
		cap += t->e[i].n_del > 1 ? t->e[i].n_del : 1;
	}
	if (rc)
		return rc;
	w = calloc(cap ? cap : 1, sizeof(*w));
	order = calloc(t->n ? t->n : 1, sizeof(*order));
	if (!w || !order) {
		free(w);
		free(order);
		*failed = 0;
		return err_set(&t->e[0].err, ERR_NOMEM, NULL, "out of memory");
	}
	/* DELETE, then POST, then PUT and PATCH (stable within each). */
	for (int rank = 0, k = 0; rank < 3; rank++)
		for (size_t i = 0; i < t->n; i++)
			if (method_rank(t->e[i].method) == rank)
				order[k++] = i;
	for (size_t k = 0; k < t->n; k++) {
		struct tx_entry *e = &t->e[order[k]];

		if (method_rank(e->method) < 3)
			nw += entry_writes(t, e, w + nw, now);
	}
	rc = check_overlap(t, w, nw, failed);
	if (!rc) {
		struct store_txn txn = {
			.writes = w, .n_writes = nw, .guards = t->guard, .n_guards = t->n_guard,
			.message = t->c->message,
		};

		*failed = 0;
		rc = nw || t->n_guard || txn.message ? store_commit(t->c->api->st, &txn, &t->e[0].err) : 0;
	}
	free(w);
	free(order);
	return rc;
}

/* A batch: each entry on its own, all committed together (one group
 * commit, one savepoint each); the ones a conflict hit go again. */
static int batch_run(struct tx *t)
{
	int rc = 0;

	for (size_t i = 0; i < t->n; i++)	/* entries the caller failed stay failed */
		if (t->e[i].state != TX_FAILED)
			t->e[i].state = t->e[i].method == TX_GET ? TX_DONE : TX_PENDING;
	for (int attempt = 0; attempt < API_WRITE_RETRIES && !rc; attempt++) {
		int64_t now = time_now_ms();
		size_t nt = 0, nw = 0, total = 0;
		struct store_write *w;
		struct store_txn *txn;
		struct err *errs;
		size_t *who;
		int *rcs;

		attempt_reset(t);
		for (size_t i = 0; i < t->n; i++) {
			struct tx_entry *e = &t->e[i];

			if (e->state != TX_PENDING)
				continue;
			if (resolve_entry(t, e) || plan_entry(t, e, now)) {
				e->state = TX_FAILED;
				e->status = err_http_status(e->err.code);
			} else if (e->noop) {
				e->state = TX_DONE;
			} else {
				e->state = TX_PLANNED;
				total += e->n_del > 1 ? e->n_del : 1;
				nt++;
			}
		}
		if (!nt)
			break;
		w = calloc(total, sizeof(*w));
		txn = calloc(nt, sizeof(*txn));
		who = calloc(nt, sizeof(*who));
		rcs = calloc(nt, sizeof(*rcs));
		errs = calloc(nt, sizeof(*errs));
		if (w && txn && who && rcs && errs) {
			nt = 0;
			for (size_t i = 0; i < t->n; i++) {
				struct tx_entry *e = &t->e[i];
				size_t k;

				if (e->state != TX_PLANNED)
					continue;
				k = entry_writes(t, e, w + nw, now);
				txn[nt] = (struct store_txn){
					.writes = w + nw, .n_writes = k,
					.guards = e->n_guards ? t->guard + e->guard_first : NULL,
					.n_guards = (size_t)e->n_guards,
				};
				who[nt++] = i;
				nw += k;
			}
			rc = store_commit_many(t->c->api->st, txn, nt, rcs, errs);
			rc = 0;	/* each entry has its own result */
			for (size_t k = 0; k < nt; k++) {
				struct tx_entry *e = &t->e[who[k]];

				if (!rcs[k]) {
					e->state = TX_DONE;
				} else if (rcs[k] == ERR_CONFLICT && attempt + 1 < API_WRITE_RETRIES) {
					e->state = TX_PENDING;
				} else {
					e->state = TX_FAILED;
					e->err = errs[k];
					e->status = err_http_status(rcs[k]);
				}
			}
		} else {
			rc = err_set(&t->c->err, ERR_NOMEM, NULL, "out of memory");
		}
		free(w);
		free(txn);
		free(who);
		free(rcs);
		free(errs);
	}
	return rc;
}

void api_tx_entry_init(struct tx_entry *e)
{
	/* Field by field: the error's issue texts (7 KB) stay untouched until
	 * used, so a Bundle of thousands of entries costs no page faults. */
	e->method = 0;
	e->type = NULL;
	e->id[0] = '\0';
	e->query = e->if_none_exist = e->full_url = NULL;
	e->if_match = -1;
	e->if_none_match = 0;
	e->body = NULL;
	e->state = TX_PENDING;
	e->status = e->noop = e->interaction = 0;
	e->out_id[0] = e->new_id[0] = '\0';
	e->version = e->last_updated_ms = e->expect = 0;
	buf_init(&e->stored, 0);
	err_clear(&e->err);
	store_ix_rows_init(&e->ix);
	e->del = NULL;
	e->n_del = 0;
	e->guard_first = -1;
	e->n_guards = 0;
}

void api_tx_entry_release(struct tx_entry *e)
{
	buf_release(&e->stored);
	store_ix_rows_release(&e->ix);
	free(e->del);
	e->del = NULL;
}

/* Whether the run changed a SearchParameter (searchparam.c). */
static int wrote_search_parameter(const struct tx_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (e[i].state == TX_DONE && !e[i].noop && e[i].method != TX_GET &&
		    !strcmp(e[i].type, "SearchParameter"))
			return 1;
	return 0;
}

int api_tx_run(struct api_ctx *c, struct tx_entry *e, size_t n, unsigned flags, size_t *failed)
{
	struct tx t = { .c = c, .e = e, .n = n, .flags = flags };
	int rc = 0;

	*failed = 0;
	arena_init(&t.a, TX_ARENA_BYTES);
	if (flags & TX_REFS) {
		t.full_urls = json_object_new_object();
		if (!t.full_urls)
			rc = err_set(&e[0].err, ERR_NOMEM, NULL, "out of memory");
		for (size_t i = 0; i < n && !rc; i++) {
			if (!e[i].full_url)
				continue;
			*failed = i;
			if (json_object_object_get_ex(t.full_urls, e[i].full_url, NULL))
				rc = err_set(&e[i].err, ERR_BAD_REQUEST, "fullUrl",
					     "the fullUrl '%.200s' is used by more than one entry",
					     e[i].full_url);
			else if (json_object_object_add(t.full_urls, e[i].full_url,
							json_object_new_int((int)i)))
				rc = err_set(&e[i].err, ERR_NOMEM, NULL, "out of memory");
		}
		for (size_t i = 0; i < n && !rc; i++)
			if (e[i].body && (e[i].method == TX_POST || e[i].method == TX_PUT) &&
			    find_slots(&t, e[i].body, i, 0)) {
				*failed = i;
				rc = err_set(&e[i].err, ERR_NOMEM, NULL, "out of memory");
			}
	}
	if (!rc && (flags & TX_ATOMIC)) {
		for (size_t i = 0; i < n; i++)
			e[i].state = TX_PENDING;
		for (int attempt = 0; attempt < API_WRITE_RETRIES; attempt++)
			if ((rc = transaction_attempt(&t, failed)) != ERR_CONFLICT)
				break;
		for (size_t i = 0; !rc && i < n; i++)
			e[i].state = TX_DONE;
	} else if (!rc) {
		rc = batch_run(&t);
	}
	if (c->tenant == STORE_DEFAULT_TENANT && wrote_search_parameter(e, n)) {
		struct err le = { 0 };

		if (api_search_params_changed(c->api, &le))	/* the write stands; say so */
			log_error("custom search parameters not reloaded: %s",
				  le.n_issues ? le.issue[0].diagnostics : err_message(le.code));
	}
	for (size_t i = 0; i < t.n_slot; i++)
		free(t.slot[i].orig);
	free(t.slot);
	free(t.guard);
	json_object_put(t.full_urls);
	arena_release(&t.a);
	return rc;
}
