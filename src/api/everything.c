/*
 * everything.c — Patient/[id]/$everything and Patient/$everything (the R4
 * operation patient-everything): the patient, every resource in its Patient
 * compartment, and the resources those refer to whose types are in no
 * patient's compartment (Practitioner, Organization, Location, Medication,
 * ...), one level, as a searchset Bundle. Without an id: the same for every
 * patient of the tenant.
 *
 * Parameters, from the query, a form body or a Parameters body (POST):
 * _since (only resources last updated at or after it), _type (types, comma
 * separated, may repeat), _count (page size: EVERYTHING_DEFAULT_COUNT, at
 * most FHIR_SEARCH_MAX_COUNT), _cursor (from a next link). start and end are
 * accepted and reported as ignored: every resource of the record is
 * returned whatever its date of care.
 *
 * src/fhir turns the request into a store query across types
 * (fhir_search_everything); the store reads a page in rid order from the
 * reference index (one statement) and what the page refers to (one more),
 * in one snapshot. The `next` link carries a keyset cursor, so a page never
 * repeats or skips a resource that did not change meanwhile. The referred
 * resources come with each page that refers to them (search.mode include),
 * so one may come on several pages.
 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "../base/arena.h"
#include "../base/json.h"
#include "../base/time.h"
#include "../base/url.h"
#include "../fhir/search.h"

#define EVERYTHING_DEFAULT_COUNT 100
#define EVERYTHING_ARENA_BYTES (4u << 20)
#define EVERYTHING_MAX_NOTES 16
#define EVERYTHING_MAX_TYPES_BYTES 4096	/* _type values joined */

/* The operation's parameters, gathered from every source. */
struct everything_args {
	struct api_ctx *c;
	struct arena *a;
	const char *since, *count, *cursor;
	struct buf types;		/* _type values joined by ',' */
	const char *note[EVERYTHING_MAX_NOTES];	/* warnings for the outcome entry */
	size_t n_notes;
};

struct everything_out {
	struct api_ctx *c;
	struct buf entries;
	int n_match, n_include;
};

static void note(struct everything_args *ea, const char *name, const char *why)
{
	char msg[256];

	if (ea->n_notes == EVERYTHING_MAX_NOTES)
		return;
	snprintf(msg, sizeof(msg), "parameter '%.100s' was ignored: %s", name, why);
	ea->note[ea->n_notes] = arena_strndup(ea->a, msg, strlen(msg));
	if (ea->note[ea->n_notes])
		ea->n_notes++;
}

static int once(struct everything_args *ea, const char *name, const char **slot, const char *value)
{
	if (*slot)
		return err_set(&ea->c->err, ERR_BAD_REQUEST, name, "%s is given more than once", name);
	*slot = value;
	return 0;
}

/* One name=value of the operation, from whichever source. */
static int take_arg(struct everything_args *ea, const char *name, const char *value)
{
	struct api_ctx *c = ea->c;

	if (!strcmp(name, "_format") || !strcmp(name, "_pretty") || !*value)
		return 0;	/* empty parameters are ignored, as in search */
	if (!strcmp(name, "_since")) {
		if (time_parse_fhir(value, strlen(value), TIME_DATETIME, NULL, NULL))
			return err_set(&c->err, ERR_BAD_REQUEST, "_since",
				       "_since must be an instant such as 2026-01-31T08:00:00Z");
		return once(ea, name, &ea->since, value);
	}
	if (!strcmp(name, "_type")) {
		if ((ea->types.n && buf_putc(&ea->types, ',')) || buf_puts(&ea->types, value))
			return err_set(&c->err, ERR_BAD_REQUEST, "_type", "_type lists too many types");
		return 0;
	}
	if (!strcmp(name, "_count"))
		return once(ea, name, &ea->count, value);
	if (!strcmp(name, "_cursor"))
		return once(ea, name, &ea->cursor, value);
	if (!strcmp(name, "start") || !strcmp(name, "end")) {
		if (time_parse_fhir(value, strlen(value), TIME_DATETIME, NULL, NULL))
			return err_set(&c->err, ERR_BAD_REQUEST, name,
				       "%s must be a date such as 2026-01-31", name);
		note(ea, name, "the whole record is returned, whatever the dates of care");
		return 0;
	}
	if (c->strict)
		return err_set(&c->err, ERR_BAD_REQUEST, NULL,
			       "unknown or unsupported parameter '%.100s' (Prefer: handling=strict)", name);
	note(ea, name, "$everything does not take it");
	return 0;
}

/* application/x-www-form-urlencoded: name=value&... (decoded in the arena). */
static int take_form(struct everything_args *ea, const char *body, size_t n)
{
	char *form = arena_strndup(ea->a, body, n);
	int rc = 0;

	if (!form)
		return err_set(&ea->c->err, ERR_NOMEM, NULL, "out of memory");
	if (strlen(form) != n)
		return err_set(&ea->c->err, ERR_BAD_REQUEST, NULL, "the form body holds a NUL byte");
	for (char *pair = form, *next; !rc && pair; pair = next) {
		char *eq;

		next = strchr(pair, '&');
		if (next)
			*next++ = '\0';
		if (!*pair)
			continue;
		eq = strchr(pair, '=');
		if (eq)
			*eq++ = '\0';
		url_unescape(pair, 1);
		if (eq)
			url_unescape(eq, 1);
		rc = take_arg(ea, pair, eq ? eq : "");
	}
	return rc;
}

/* A Parameters resource: each parameter's value[x], a primitive. */
static int take_parameters(struct everything_args *ea, struct json_object *body)
{
	struct api_ctx *c = ea->c;
	struct json_object *list;
	const char *rt = json_get_str(body, "resourceType");
	int rc = 0;

	if (!rt || strcmp(rt, "Parameters"))
		return err_set(&c->err, ERR_BAD_REQUEST, "resourceType",
			       "POST $everything takes a Parameters resource or a form");
	if (!json_object_object_get_ex(body, "parameter", &list))
		return 0;
	if (!json_object_is_type(list, json_type_array))
		return err_set(&c->err, ERR_BAD_REQUEST, "Parameters.parameter", "parameter must be a list");
	for (size_t i = 0; !rc && i < json_object_array_length(list); i++) {
		struct json_object *p = json_object_array_get_idx(list, i);
		const char *name = json_get_str(p, "name"), *value = NULL;

		if (!name)
			return err_set(&c->err, ERR_BAD_REQUEST, "Parameters.parameter",
				       "each parameter needs a name");
		json_object_object_foreach(p, key, val) {
			if (strncmp(key, "value", 5))
				continue;
			if (json_object_is_type(val, json_type_string) ||
			    json_object_is_type(val, json_type_int))
				value = json_object_get_string(val);
		}
		if (!value)
			return err_set(&c->err, ERR_BAD_REQUEST, "Parameters.parameter",
				       "parameter '%.100s' needs a value[x] that is a string, code, "
				       "instant, date or integer", name);
		name = arena_strndup(ea->a, name, strlen(name));
		value = arena_strndup(ea->a, value, strlen(value));
		if (!name || !value)
			return err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
		rc = take_arg(ea, name, value);
	}
	return rc;
}

static int take_args(struct everything_args *ea)
{
	struct api_ctx *c = ea->c;
	const struct api_request *req = c->req;
	struct json_object *body = NULL;
	int rc = 0;

	for (int i = 0; !rc && i < req->n_params; i++)
		rc = take_arg(ea, req->params[i].name, req->params[i].value ? req->params[i].value : "");
	if (rc || strcmp(req->method, "POST") || !req->body || !req->body_len)
		return rc;
	if (req->content_type &&
	    !strncasecmp(req->content_type, "application/x-www-form-urlencoded", 33))
		return take_form(ea, req->body, req->body_len);
	if ((rc = api_parse_body(c, &body)))
		return rc;
	rc = take_parameters(ea, body);
	json_object_put(body);
	return rc;
}

/* ---- the Bundle ----------------------------------------------------------- */

static int on_hit(void *arg, const struct store_version *v)
{
	struct everything_out *o = arg;
	struct buf *b = &o->entries;
	int include = v->search_mode == STORE_HIT_INCLUDE;
	int rc = buf_printf(b, "%s{\"fullUrl\":\"%s/%s/%s\",\"resource\":",
			    o->n_match + o->n_include ? "," : "", o->c->base, v->type, v->id);

	if (!rc)
		rc = buf_append(b, v->json.p, v->json.n);
	if (!rc)
		rc = buf_printf(b, ",\"search\":{\"mode\":\"%s\"}}", include ? "include" : "match");
	*(include ? &o->n_include : &o->n_match) += 1;
	if (rc)
		return err_set(&o->c->err, ERR_NOMEM, NULL, "out of memory");
	return 0;
}

/* [base]/Patient[/id]/$everything?_since=&_type=&_count=[&_cursor=] */
static int put_link(struct buf *b, const struct everything_args *ea, int count,
		    const char *relation, const char *cursor)
{
	struct api_ctx *c = ea->c;
	struct buf url;
	int rc;

	buf_init(&url, 0);
	rc = buf_printf(&url, "%s/%s%s%s/$everything?_count=%d", c->base, c->type, c->id[0] ? "/" : "",
			c->id, count);
	if (!rc && ea->since && !(rc = buf_puts(&url, "&_since=")))
		rc = api_put_query_value(&url, ea->since);
	if (!rc && ea->types.n && !(rc = buf_puts(&url, "&_type=")))
		rc = api_put_query_value(&url, ea->types.p);
	if (!rc && cursor && *cursor && !(rc = buf_puts(&url, "&_cursor=")))
		rc = api_put_query_value(&url, cursor);
	if (!rc)
		rc = api_put_link(b, relation, url.p);
	buf_release(&url);
	return rc;
}

/* 404 for an unknown patient, 410 for a deleted one. */
static int check_owner(struct api_ctx *c)
{
	struct store_version v;
	int rc;

	store_version_init(&v);
	rc = store_read(c->api->st, c->tenant, c->type, c->id, 0, &v, &c->err);
	if (rc == ERR_NOT_FOUND)
		rc = err_set(&c->err, ERR_NOT_FOUND, NULL, "%s/%s is not known", c->type, c->id);
	else if (!rc && v.deleted)
		rc = err_set(&c->err, ERR_GONE, NULL, "%s/%s was deleted", c->type, c->id);
	store_version_release(&v);
	return rc;
}

int api_everything(struct api_ctx *c)
{
	struct everything_args ea = { .c = c };
	struct everything_out o = { .c = c };
	struct fhir_search_request *req = NULL;
	struct fhir_search_arg args[4];
	struct store_search s = { 0 };
	struct arena a;
	struct buf *b = &c->res->body;
	char count[24], *since = NULL;
	size_t n = 0;
	int rc;

	arena_init(&a, EVERYTHING_ARENA_BYTES);
	buf_init(&ea.types, EVERYTHING_MAX_TYPES_BYTES);
	buf_init(&o.entries, 0);
	ea.a = &a;
	if ((rc = take_args(&ea)) || (c->id[0] && (rc = check_owner(c))))
		goto out;
	/* Handed to the search parser as a search across types. */
	snprintf(count, sizeof(count), "%d", EVERYTHING_DEFAULT_COUNT);
	args[n++] = (struct fhir_search_arg){ "_count", ea.count ? ea.count : count };
	if (ea.cursor)
		args[n++] = (struct fhir_search_arg){ "_cursor", ea.cursor };
	if (ea.types.n)
		args[n++] = (struct fhir_search_arg){ "_type", ea.types.p };
	if (ea.since) {
		since = arena_alloc(&a, strlen(ea.since) + 3);
		if (!since) {
			rc = err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
			goto out;
		}
		memcpy(since, "ge", 2);
		memcpy(since + 2, ea.since, strlen(ea.since) + 1);
		args[n++] = (struct fhir_search_arg){ "_lastUpdated", since };
	}
	req = arena_alloc(&a, sizeof(*req));
	if (!req) {
		rc = err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	if ((rc = fhir_search_parse(NULL, c->tenant, args, n, 1, c->base, &a, req, &c->err)) ||
	    (rc = fhir_search_everything(req, c->type, c->id[0] ? c->id : NULL, c->base, &a,
					 &c->err)))
		goto out;
	s.q = &req->q;
	s.count = req->count;
	s.cursor = req->cursor;
	s.inc = req->inc;
	s.n_inc = req->n_inc;
	if ((rc = store_search(c->api->st, &s, on_hit, &o, &c->err)))
		goto out;

	if ((rc = api_bundle_start(c, "searchset")))
		goto out;
	/* The total is known for free when the first page holds everything. */
	if (s.total_n < 0 && !req->cursor && !s.next_cursor[0])
		s.total_n = o.n_match;
	if (s.total_n >= 0)
		rc = buf_printf(b, ",\"total\":%lld", (long long)s.total_n);
	if (!rc)
		rc = buf_puts(b, ",\"link\":[");
	if (!rc)
		rc = put_link(b, &ea, req->count, "self", req->cursor);
	if (!rc && s.next_cursor[0] && !(rc = buf_putc(b, ',')))
		rc = put_link(b, &ea, req->count, "next", s.next_cursor);
	if (!rc)
		rc = buf_putc(b, ']');
	rc = api_bundle_end(c, rc, &o.entries, ea.note, ea.n_notes, 1);
out:
	buf_release(&o.entries);
	buf_release(&ea.types);
	arena_release(&a);
	return rc;
}
