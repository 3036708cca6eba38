/*
 * search.c — the search interaction: GET [type]?..., POST [type]/_search
 * (form body), and GET [base]?_type=... across types.
 *
 * src/fhir parses the parameters into a store query; the store runs it (one
 * snapshot for the page, its includes and the total); this file writes the
 * searchset Bundle. Stored bytes are spliced into the Bundle as they are,
 * except when _summary or _elements asks for a subset of each resource.
 *
 * Paging is by keyset: `next` carries the request's parameters and an
 * opaque _cursor the store made from the last row's sort keys.
 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/arena.h"
#include "../base/json.h"
#include "../base/url.h"
#include "../fhir/fhir_tables.h"
#include "../fhir/search.h"

#define SEARCH_ARENA_BYTES (8u << 20)
#define SEARCH_MAX_ARGS (2 * API_MAX_QUERY_PARAMS)

struct search_out {
	struct api_ctx *c;
	const struct fhir_search_request *req;
	struct buf entries;
	int n_match, n_include;
};

/* ---- subsets: _summary and _elements ------------------------------------ */

static int listed(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == n && !strncmp(p, name, n))
			return 1;
		p = end ? end + 1 : NULL;
	}
	return 0;
}

/* Whether top-level element `name` of a resource of type t stays. */
static int keep_element(const struct fhir_type *t, const char *name, int summary,
			const char *elements)
{
	const struct fhir_elem *el;

	if (!strcmp(name, "resourceType") || !strcmp(name, "id") || !strcmp(name, "meta"))
		return 1;
	if (name[0] == '_')	/* a primitive's extension goes with its value */
		name++;
	el = t ? fhir_elem_find(t, name, strlen(name)) : NULL;
	if (elements)
		return listed(elements, name) || (el && el->min > 0);
	switch (summary) {
	case FHIR_SUMMARY_TRUE:
		return el && (el->flags & FHIR_ELEM_SUMMARY);
	case FHIR_SUMMARY_TEXT:
		return !strcmp(name, "text") || (el && el->min > 0);
	case FHIR_SUMMARY_DATA:
		return strcmp(name, "text") != 0;
	default:
		return 1;
	}
}

/* Writes the subset of the stored resource json that the request asks for,
 * marked SUBSETTED as the spec asks. */
static int write_subset(struct search_out *o, const struct store_version *v)
{
	struct json_object *res = NULL, *out = NULL, *meta, *tags, *tag;
	const struct fhir_type *t = NULL;
	struct err ignored = { 0 };
	int ti = fhir_resource_type_index(v->type, strlen(v->type)), rc;

	if (ti >= 0)
		t = &fhir_types[fhir_resource_types[ti].type];
	rc = json_parse(v->json.p, v->json.n, 256, &res, &ignored);
	if (rc)
		return buf_append(&o->entries, v->json.p, v->json.n);	/* ours: cannot happen */
	out = json_object_new_object();
	if (!out) {
		json_object_put(res);
		return ERR_NOMEM;
	}
	json_object_object_foreach(res, key, val) {
		if (keep_element(t, key, o->req->summary, o->req->elements))
			json_object_object_add(out, key, json_object_get(val));
	}
	/* A fresh meta (the stored one is shared with res) with a copy of its
	 * tags, to which SUBSETTED is added. */
	{
		struct json_object *old_meta = json_object_object_get(res, "meta");

		meta = json_object_new_object();
		tags = json_object_new_array();
		if (old_meta) {
			json_object_object_foreach(old_meta, mk, mv) {
				if (strcmp(mk, "tag") != 0)
					json_object_object_add(meta, mk, json_object_get(mv));
			}
		}
		if (old_meta && json_object_object_get_ex(old_meta, "tag", &tag))
			for (size_t i = 0; i < json_object_array_length(tag); i++)
				json_object_array_add(tags, json_object_get(json_object_array_get_idx(tag, i)));
		json_object_object_add(meta, "tag", tags);
		json_object_object_add(out, "meta", meta);
	}
	tag = json_object_new_object();
	json_object_object_add(tag, "system",
			       json_object_new_string("http://terminology.hl7.org/CodeSystem/v3-ObservationValue"));
	json_object_object_add(tag, "code", json_object_new_string("SUBSETTED"));
	json_object_object_add(tag, "display", json_object_new_string("subsetted"));
	json_object_array_add(tags, tag);
	rc = json_write(&o->entries, out, 0);
	json_object_put(out);
	json_object_put(res);
	return rc;
}

static int on_hit(void *arg, const struct store_version *v)
{
	struct search_out *o = arg;
	struct api_ctx *c = o->c;
	struct buf *b = &o->entries;
	int rc;

	if (!api_may_see(c, v->type, v->id, v->json.p, v->json.n))
		return 0;	/* not this credential's to see: left out */
	rc = buf_puts(b, o->n_match + o->n_include ? ",{" : "{");
	if (!rc)
		rc = buf_printf(b, "\"fullUrl\":\"%s/%s/%s\",\"resource\":", c->base, v->type, v->id);
	if (!rc) {
		/* _summary and _elements shape the matches, not what they include. */
		if ((o->req->summary == FHIR_SUMMARY_NONE && !o->req->elements) ||
		    v->search_mode == STORE_HIT_INCLUDE)
			rc = buf_append(b, v->json.p, v->json.n);
		else
			rc = write_subset(o, v);
	}
	if (!rc)
		rc = buf_printf(b, ",\"search\":{\"mode\":\"%s\"}}",
				v->search_mode == STORE_HIT_INCLUDE ? "include" : "match");
	if (v->search_mode == STORE_HIT_INCLUDE)
		o->n_include++;
	else
		o->n_match++;
	if (rc)
		return err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
	return 0;
}

/* ---- links ---------------------------------------------------------------- */

/* Whether the search used args[i]: not a cursor, not empty, not ignored. */
static int arg_used(const struct fhir_search_request *r, const struct fhir_search_arg *a)
{
	if (!strcmp(a->name, "_cursor") || !a->value[0])
		return 0;
	for (size_t k = 0; k < r->n_ignored; k++)
		if (r->ignored[k] == a->name)
			return 0;
	return 1;
}

/* [base][/type]?name=value&... of the parameters the search used, with
 * _cursor set to cursor (none when NULL). */
static int put_link(struct buf *b, struct api_ctx *c, const struct fhir_search_request *r,
		    const struct fhir_search_arg *args, size_t n, const char *relation,
		    const char *cursor)
{
	struct buf url;
	int rc, first = 1;

	buf_init(&url, 0);
	rc = buf_puts(&url, c->base);
	if (!rc && c->compartment)
		rc = buf_printf(&url, "/%s/%s", c->compartment, c->id);
	if (!rc && c->type)
		rc = buf_printf(&url, "/%s", c->type);
	for (size_t i = 0; !rc && i < n; i++) {
		if (!arg_used(r, &args[i]))
			continue;
		rc = buf_putc(&url, first ? '?' : '&');
		first = 0;
		if (!rc)
			rc = api_put_query_value(&url, args[i].name);
		if (!rc)
			rc = buf_putc(&url, '=');
		if (!rc)
			rc = api_put_query_value(&url, args[i].value);
	}
	if (!rc && cursor) {
		rc = buf_puts(&url, first ? "?_cursor=" : "&_cursor=");
		if (!rc)
			rc = api_put_query_value(&url, cursor);
	}
	if (!rc)
		rc = api_put_link(b, relation, url.p);
	buf_release(&url);
	return rc;
}

/* The ignored parameters, worded for the outcome entry (in a). */
static const char **ignored_notes(const struct fhir_search_request *r, struct arena *a)
{
	const char **notes = r->n_ignored ? arena_alloc(a, r->n_ignored * sizeof(*notes)) : NULL;

	for (size_t i = 0; notes && i < r->n_ignored; i++) {
		char msg[256];

		snprintf(msg, sizeof(msg), "search parameter '%.100s' was ignored: %s", r->ignored[i],
			 r->ignored_why[i]);
		notes[i] = arena_strndup(a, msg, strlen(msg));
		if (!notes[i])
			return NULL;
	}
	return notes;
}

/* ---- arguments ------------------------------------------------------------ */

/* The query's parameters, then a form body's (POST _search). */
static int collect_args(struct api_ctx *c, struct arena *a, struct fhir_search_arg *args,
			size_t *n)
{
	const struct api_request *req = c->req;

	*n = 0;
	for (int i = 0; i < req->n_params; i++) {
		args[*n].name = req->params[i].name;
		args[(*n)++].value = req->params[i].value ? req->params[i].value : "";
	}
	if (strcmp(req->method, "POST") != 0)
		return 0;
	if (req->content_type && *req->content_type &&
	    strncasecmp(req->content_type, "application/x-www-form-urlencoded", 33) != 0)
		return err_set(&c->err, ERR_MEDIA_TYPE, NULL,
			       "POST _search takes application/x-www-form-urlencoded parameters");
	return api_parse_form(a, req->body, req->body_len, 1, args, n, SEARCH_MAX_ARGS, &c->err);
}

int api_parse_form(struct arena *a, const char *s, size_t len, int plus_is_space,
		   struct fhir_search_arg *args, size_t *n, size_t max, struct err *e)
{
	char *body;

	if (!s || !len)
		return 0;
	if (!(body = arena_strndup(a, s, len)))
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	if (strlen(body) != len)
		return err_set(e, ERR_BAD_REQUEST, NULL, "the form holds a NUL byte");
	for (char *p = body; p && *p;) {
		char *amp = strchr(p, '&'), *eq;

		if (amp)
			*amp = '\0';
		if (*p) {
			if (*n == max)
				return err_set(e, ERR_BAD_REQUEST, NULL, "more than %zu search parameters",
					       max);
			eq = strchr(p, '=');
			if (eq)
				*eq = '\0';
			url_unescape(p, plus_is_space);
			if (eq)
				url_unescape(eq + 1, plus_is_space);
			args[*n].name = p;
			args[(*n)++].value = eq ? eq + 1 : "";
		}
		p = amp ? amp + 1 : NULL;
	}
	return 0;
}

int api_search(struct api_ctx *c)
{
	struct fhir_search_arg args[SEARCH_MAX_ARGS];
	struct fhir_search_request *req = NULL;
	struct store_search s = { 0 };
	struct search_out o = { 0 };
	struct arena a;
	struct buf *b = &c->res->body;
	const char **notes;
	size_t n_args = 0;
	int rc;

	arena_init(&a, SEARCH_ARENA_BYTES);
	buf_init(&o.entries, 0);
	if ((rc = collect_args(c, &a, args, &n_args)))
		goto out;
	req = arena_alloc(&a, sizeof(*req));
	if (!req) {
		rc = err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	if ((rc = fhir_search_parse(c->type, c->tenant, args, n_args, c->strict, c->base, &a,
				    req, &c->err)))
		goto out;
	if (c->compartment &&
	    (rc = fhir_search_compartment(req, c->compartment, c->id, &a, &c->err)))
		goto out;
	s.q = &req->q;
	s.count = req->count;
	s.cursor = req->cursor;
	s.total = req->total;
	s.inc = req->inc;
	s.n_inc = req->n_inc;
	o.c = c;
	o.req = req;
	rc = store_search(c->api->st, &s, on_hit, &o, &c->err);
	if (rc)
		goto out;
	/* Without _total, the total is given when it is known for free: a
	 * first page that holds every match. */
	if (s.total_n < 0 && !req->total_given && !req->cursor && !s.next_cursor[0])
		s.total_n = o.n_match;

	if ((rc = api_bundle_start(c, "searchset")))
		goto out;
	if (!rc && s.total_n >= 0)
		rc = buf_printf(b, ",\"total\":%lld", (long long)s.total_n);
	if (!rc)
		rc = buf_puts(b, ",\"link\":[");
	if (!rc)
		rc = put_link(b, c, req, args, n_args, "self", req->cursor);
	if (!rc && s.next_cursor[0] && !(rc = buf_putc(b, ',')))
		rc = put_link(b, c, req, args, n_args, "next", s.next_cursor);
	if (!rc)
		rc = buf_putc(b, ']');
	notes = ignored_notes(req, &a);
	if (!rc && req->n_ignored && !notes)
		rc = err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
	rc = api_bundle_end(c, rc, &o.entries, notes, notes ? req->n_ignored : 0, 1);
out:
	buf_release(&o.entries);
	arena_release(&a);
	return rc;
}
