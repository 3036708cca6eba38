/*
 * load.c — bulk load of NDJSON resources, for `lienthong import` and
 * POST /fhir/$import.
 *
 * Each line is one resource, written through the write engine (tx.c) as an
 * entry of a batch: with the same validation and indexing as any write, and
 * on its own, so that a bad line is reported and the others still load. A
 * resource with an id keeps it (PUT: created, or a new version of what is
 * there); one without gets a new id (POST). The batch commits in one group
 * commit, each resource in its own savepoint.
 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "../base/json.h"

static void load_fail(api_load_fn on_fail, void *arg, size_t i, const struct err *e)
{
	if (on_fail)
		on_fail(arg, i, e);
}

/* Reads line i into e; 0, or the error in e->err. */
static int load_entry(struct api *api, const struct api_load_item *it, struct tx_entry *e)
{
	const char *type, *id;
	int ti;

	if (json_parse(it->p, it->n, api->cfg.limits.max_json_depth, &e->body, &e->err))
		return e->err.code;
	type = json_object_is_type(e->body, json_type_object) ? json_get_str(e->body, "resourceType")
							       : NULL;
	if (!type)
		return err_set(&e->err, ERR_INVALID, "resourceType", "the line is not a FHIR resource");
	if ((ti = fhir_resource_type_index(type, strlen(type))) < 0)
		return err_set(&e->err, ERR_UNKNOWN_TYPE, "resourceType",
			       "'%.64s' is not a FHIR R4 resource type", type);
	e->type = fhir_resource_type_name(ti);
	id = json_get_str(e->body, "id");
	if (id && (!fhir_id_valid(id, strlen(id)) || strlen(id) >= sizeof(e->id)))
		return err_set(&e->err, ERR_INVALID, "id", "'%.64s' is not a valid id", id);
	e->method = id ? TX_PUT : TX_POST;
	if (id)
		snprintf(e->id, sizeof(e->id), "%s", id);
	return 0;
}

int api_load(struct api *api, const struct api_load_item *items, size_t n, int dry_run,
	     api_load_fn on_fail, void *arg, size_t *loaded)
{
	struct api_ctx *c = calloc(1, sizeof(*c));
	struct tx_entry *e = calloc(n ? n : 1, sizeof(*e));
	size_t *map = calloc(n ? n : 1, sizeof(*map)), m = 0, failed;
	int rc = 0;

	*loaded = 0;
	if (!c || !e || !map) {
		free(c);
		free(e);
		free(map);
		return ERR_NOMEM;
	}
	c->api = api;
	c->tenant = api->tenant;
	c->who.all = 1;
	snprintf(c->base, sizeof(c->base), "%s", api->base_url ? api->base_url : "");
	for (size_t i = 0; i < n; i++) {
		struct tx_entry *x = &e[m];

		api_tx_entry_init(x);
		if (load_entry(api, &items[i], x)) {
			load_fail(on_fail, arg, i, &x->err);
			json_object_put(x->body);
			api_tx_entry_release(x);
			continue;
		}
		map[m++] = i;
	}
	if (dry_run) {
		for (size_t k = 0; k < m; k++) {
			struct tx_entry *x = &e[k];

			if (api_prepare(c->tenant, x->type, x->body,
					x->method == TX_PUT ? x->id : "dry-run", 1, 0, &x->ix,
					&x->stored, &x->err))
				load_fail(on_fail, arg, map[k], &x->err);
			else
				(*loaded)++;
		}
	} else if (m) {
		rc = api_tx_run(c, e, m, 0, &failed);
		for (size_t k = 0; !rc && k < m; k++) {
			if (e[k].state == TX_FAILED)
				load_fail(on_fail, arg, map[k], &e[k].err);
			else
				(*loaded)++;
		}
	}
	for (size_t k = 0; k < m; k++) {
		json_object_put(e[k].body);
		api_tx_entry_release(&e[k]);
	}
	free(e);
	free(map);
	free(c);
	return rc;
}

/* ---- POST /fhir/$import: an NDJSON body ----------------------------------- */

#define IMPORT_CHUNK 1000
#define IMPORT_LISTED 1000		/* failed lines listed in the outcome */

struct import_out {
	struct buf *o;
	const size_t *line;		/* line number of each item of the chunk */
	size_t failed;
	int rc;
};

static void import_fail(void *arg, size_t i, const struct err *e)
{
	struct import_out *x = arg;

	if (x->failed++ >= IMPORT_LISTED || x->rc)
		return;
	x->rc = buf_printf(x->o, ",{\"severity\":\"error\",\"code\":\"%s\",\"diagnostics\":",
			   err_issue_code(e->code));
	if (!x->rc) {
		char msg[ERR_DIAG_MAX + 64];

		snprintf(msg, sizeof(msg), "line %zu: %s", x->line[i],
			 e->n_issues ? e->issue[0].diagnostics : err_message(e->code));
		x->rc = json_write_string(x->o, msg);
	}
	if (!x->rc && e->n_issues && e->issue[0].expression[0])
		x->rc = buf_puts(x->o, ",\"expression\":[") ||
			json_write_string(x->o, e->issue[0].expression) || buf_putc(x->o, ']');
	if (!x->rc)
		x->rc = buf_putc(x->o, '}');
}

/*
 * The documented equivalent of Bulk Data $import: the NDJSON travels in the
 * request body (application/fhir+ndjson) and is loaded before the answer,
 * line by line as `lienthong import` does. The answer is an
 * OperationOutcome: one information issue with the counts, one error issue
 * per line that failed (its line number, the first 1000).
 */
int api_import(struct api_ctx *c)
{
	const char *ct = c->req->content_type, *p = c->req->body, *end = p + c->req->body_len;
	struct api_load_item items[IMPORT_CHUNK];
	size_t line[IMPORT_CHUNK], n = 0, lineno = 0, loaded = 0, total = 0;
	struct buf errs;
	struct import_out x = { &errs, line, 0, 0 };
	int rc = 0;

	if ((rc = api_check_params(c, NULL)))
		return rc;
	if (!ct || (strncasecmp(ct, "application/fhir+ndjson", 23) &&
		    strncasecmp(ct, "application/ndjson", 18) && strncasecmp(ct, "application/x-ndjson", 20)))
		return err_set(&c->err, ERR_MEDIA_TYPE, NULL,
			       "$import takes NDJSON in the body (Content-Type: application/fhir+ndjson)");
	buf_init(&errs, 0);
	while (!rc && p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		size_t got = 0;

		lineno++;
		while (len && (p[len - 1] == '\r' || p[len - 1] == ' '))
			len--;
		if (len) {
			items[n] = (struct api_load_item){ p, len };
			line[n++] = lineno;
			total++;
		}
		p = nl ? nl + 1 : end;
		if (n == IMPORT_CHUNK || (p >= end && n)) {
			rc = api_load(c->api, items, n, 0, import_fail, &x, &got);
			loaded += got;
			n = 0;
		}
	}
	if (!rc && x.rc)
		rc = ERR_NOMEM;
	if (!rc) {
		struct buf *o = &c->res->body;

		buf_clear(o);
		c->res->status = 200;
		c->res->content_type = c->plain_json ? "application/json; charset=utf-8"
						     : "application/fhir+json; charset=utf-8";
		rc = buf_printf(o, "{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":"
				   "\"information\",\"code\":\"informational\",\"diagnostics\":"
				   "\"loaded %zu of %zu resources; %zu failed%s\"}", loaded, total,
				x.failed, x.failed > IMPORT_LISTED ? " (the first 1000 are listed)" : "") ||
		     buf_append(o, errs.p ? errs.p : "", errs.n) || buf_puts(o, "]}")
			     ? err_set(&c->err, ERR_NOMEM, NULL, "out of memory") : 0;
	} else if (!c->err.code) {
		err_set(&c->err, rc, NULL, "out of memory");
	}
	buf_release(&errs);
	return rc;
}
