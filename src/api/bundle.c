/*
 * bundle.c — batch and transaction: POST /fhir with a Bundle.
 *
 * Reads the entries into the write engine's form (tx.c), runs them as one
 * transaction or as a batch, then the GET entries (after the writes, as the
 * spec orders), and answers a transaction-response / batch-response Bundle
 * with one entry per request entry, in the request's order.
 *
 * A transaction fails as a whole with the failing entry's status and an
 * OperationOutcome that names the entry. A batch entry fails on its own:
 * its response carries the status and an OperationOutcome.
 *
 * Response entries carry the resource only under Prefer:
 * return=representation (the default here is minimal: a Bundle of
 * thousands of entries need not be echoed back), or an OperationOutcome
 * under return=OperationOutcome.
 */
#include "api_int.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "../base/arena.h"
#include "../base/json.h"
#include "../base/time.h"
#include "../base/url.h"
#include "../fhir/search.h"

struct bentry {
	struct tx_entry *tx;		/* its entry in the engine's array */
	const char *url;		/* request.url as given */
	int ok;				/* parsed (a batch entry may be malformed alone) */
	struct json_object *patch;	/* PATCH: the decoded JSON Patch (owned) */
};

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 412: return "Precondition Failed";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 507: return "Insufficient Storage";
	}
	return "";
}

/* "W/\"3\"" or "3" -> 3; -1 when absent; 0 when malformed. */
static int64_t etag_version(const char *v)
{
	char *end;
	long long n;

	if (!v)
		return -1;
	if (!strncmp(v, "W/", 2))
		v += 2;
	if (*v == '"')
		v++;
	n = strtoll(v, &end, 10);
	if (end == v || n < 1 || (*end && *end != '"'))
		return 0;
	return n;
}

/* PATCH in a Bundle: a Binary holding a JSON Patch (base64). */
static int decode_patch(struct api_ctx *c, struct bentry *b, struct json_object *res)
{
	const char *ct = json_get_str(res, "contentType"), *data = json_get_str(res, "data");
	const char *rt = json_get_str(res, "resourceType");
	size_t n, len;
	unsigned char *raw;
	int got, pad, rc;

	if (!rt || strcmp(rt, "Binary") || !ct ||
	    strncasecmp(ct, "application/json-patch+json", 27) || !data)
		return err_set(&b->tx->err, ERR_MEDIA_TYPE, "resource",
			       "a PATCH entry takes a Binary with contentType "
			       "application/json-patch+json and the patch in data; "
			       "FHIRPath Patch is not supported yet");
	n = strlen(data);
	if (n % 4 || n > (64u << 20))
		return err_set(&b->tx->err, ERR_BAD_REQUEST, "resource.data", "data is not base64");
	raw = malloc(n / 4 * 3 + 1);
	if (!raw)
		return err_set(&b->tx->err, ERR_NOMEM, NULL, "out of memory");
	got = EVP_DecodeBlock(raw, (const unsigned char *)data, (int)n);
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	pad = (n >= 1 && data[n - 1] == '=') + (n >= 2 && data[n - 2] == '=');
	len = got < pad ? 0 : (size_t)(got - pad);
	rc = got < 0 ? err_set(&b->tx->err, ERR_BAD_REQUEST, "resource.data", "data is not base64")
		     : json_parse((const char *)raw, len, c->api->cfg.limits.max_json_depth,
				  &b->patch, &b->tx->err);
	free(raw);
	b->tx->body = b->patch;
	return rc;
}

/* The path of request.url relative to the base ("Patient/1", "Patient?x=y"). */
static const char *relative_url(struct api_ctx *c, const char *url)
{
	size_t n = strlen(c->base);

	if (!strncmp(url, c->base, n) && url[n] == '/')
		return url + n + 1;
	if (url[0] == '/' && !strncmp(url, "/fhir/", 6))
		return url + 6;
	return url;
}

/* Reads one entry's request into b->tx. */
static int parse_entry(struct api_ctx *c, struct json_object *entry, struct bentry *b)
{
	struct tx_entry *e = b->tx;
	struct json_object *req, *res = NULL;
	const char *method, *url, *q, *slash;
	char type[STORE_TYPE_MAX + 1];
	size_t tn;
	int ti;

	if (!json_object_is_type(entry, json_type_object) ||
	    !json_object_object_get_ex(entry, "request", &req) ||
	    !json_object_is_type(req, json_type_object))
		return err_set(&e->err, ERR_BAD_REQUEST, "request", "the entry has no request");
	method = json_get_str(req, "method");
	url = json_get_str(req, "url");
	if (!method || !url || !*url)
		return err_set(&e->err, ERR_BAD_REQUEST, "request",
			       "the entry's request needs a method and a url");
	b->url = url;
	json_object_object_get_ex(entry, "resource", &res);
	e->full_url = json_get_str(entry, "fullUrl");
	if (!strcmp(method, "GET") || !strcmp(method, "HEAD")) {
		e->method = TX_GET;
		return 0;
	}
	e->method = !strcmp(method, "POST") ? TX_POST : !strcmp(method, "PUT") ? TX_PUT
		  : !strcmp(method, "PATCH") ? TX_PATCH : !strcmp(method, "DELETE") ? TX_DELETE : 0;
	if (!e->method)
		return err_set(&e->err, ERR_BAD_REQUEST, "request.method",
			       "'%.16s' is not a method of a Bundle entry", method);
	url = relative_url(c, url);
	q = strchr(url, '?');
	slash = strchr(url, '/');
	tn = strcspn(url, "/?");
	if ((ti = fhir_resource_type_index(url, tn)) < 0) {
		snprintf(type, sizeof(type), "%.*s", (int)(tn < 64 ? tn : 64), url);
		return err_set(&e->err, ERR_UNKNOWN_TYPE, "request.url",
			       "'%s' is not a FHIR R4 resource type", type);
	}
	e->type = fhir_resource_type_name(ti);
	if (slash && (!q || slash < q)) {
		const char *id = slash + 1;
		size_t idn = q ? (size_t)(q - id) : strlen(id);

		if (e->method == TX_POST || strchr(id, '/') || !fhir_id_valid(id, idn) ||
		    idn >= sizeof(e->id))
			return err_set(&e->err, ERR_BAD_REQUEST, "request.url",
				       "'%.200s' is not a URL this method takes", b->url);
		memcpy(e->id, id, idn);
		e->id[idn] = '\0';
	} else if (q) {
		if (e->method == TX_POST)
			return err_set(&e->err, ERR_BAD_REQUEST, "request.url",
				       "a POST entry's url is the type; the search of a "
				       "conditional create goes in ifNoneExist");
		e->query = q + 1;
	} else if (e->method != TX_POST) {
		return err_set(&e->err, ERR_BAD_REQUEST, "request.url",
			       "a %s entry's url names a resource or a search", method);
	}
	e->if_none_exist = json_get_str(req, "ifNoneExist");
	e->if_match = etag_version(json_get_str(req, "ifMatch"));
	if (!e->if_match)
		return err_set(&e->err, ERR_BAD_REQUEST, "request.ifMatch",
			       "ifMatch must be an ETag such as W/\"1\"");
	e->if_none_match = json_get_str(req, "ifNoneMatch") != NULL &&
			   strchr(json_get_str(req, "ifNoneMatch"), '*');
	if (e->method == TX_PATCH)
		return res ? decode_patch(c, b, res)
			   : err_set(&e->err, ERR_BAD_REQUEST, "resource", "a PATCH entry needs a resource");
	if (e->method == TX_POST || e->method == TX_PUT) {
		if (!res || !json_object_is_type(res, json_type_object))
			return err_set(&e->err, ERR_BAD_REQUEST, "resource",
				       "a %s entry needs a resource", method);
		e->body = res;
	}
	return 0;
}

/* ---- GET entries: run as requests of their own ----------------------------- */

static int run_get(struct api_ctx *c, struct bentry *b, struct api_response *out)
{
	struct api_request r;
	struct arena a;
	struct fhir_search_arg args[API_MAX_QUERY_PARAMS];
	const char *url = relative_url(c, b->url), *q = strchr(url, '?');
	size_t n = 0;
	char *path;
	int rc;

	memset(&r, 0, sizeof(r));
	arena_init(&a, 1u << 20);
	path = arena_alloc(&a, strlen(url) + 8);
	if (!path) {
		arena_release(&a);
		return ERR_NOMEM;
	}
	snprintf(path, strlen(url) + 8, "/fhir/%.*s", (int)(q ? (size_t)(q - url) : strlen(url)), url);
	if (q && (rc = api_parse_form(&a, q + 1, strlen(q + 1), 0, args, &n, API_MAX_QUERY_PARAMS,
				      &b->tx->err))) {
		arena_release(&a);
		return rc;
	}
	url_unescape(path, 0);
	r.method = "GET";
	r.path = path;
	for (size_t i = 0; i < n; i++) {
		r.params[i].name = args[i].name;
		r.params[i].value = args[i].value;
	}
	r.n_params = (int)n;
	r.url_len = strlen(b->url);
	r.host = c->req->host;
	r.prefer = c->req->prefer;
	/* The same credentials: the entry is authorized and audited on its own. */
	r.authorization = c->req->authorization;
	r.tenant = c->req->tenant;
	r.break_glass = c->req->break_glass;
	r.peer = c->req->peer;
	api_handle(c->api, &r, out);
	arena_release(&a);
	return 0;
}

/* ---- the response --------------------------------------------------------- */

static int put_status(struct buf *o, int status)
{
	return buf_printf(o, "\"status\":\"%d %s\"", status, reason(status));
}

static int put_entry_response(struct api_ctx *c, struct buf *o, struct bentry *b)
{
	struct tx_entry *e = b->tx;
	char when[TIME_INSTANT_LEN + 1];
	int rc = 0, failed = e->state == TX_FAILED || !b->ok;

	if (!failed && e->out_id[0] && e->version)
		rc = buf_printf(o, "\"fullUrl\":\"%s/%s/%s\",", c->base, e->type, e->out_id);
	if (!rc && failed)
		rc = buf_puts(o, "\"response\":{");
	else if (!rc && c->ret == RETURN_REPRESENTATION && e->stored.n && e->method != TX_DELETE)
		rc = buf_puts(o, "\"resource\":") || buf_append(o, e->stored.p, e->stored.n) ||
		     buf_puts(o, ",\"response\":{");
	else if (!rc)
		rc = buf_puts(o, "\"response\":{");
	if (rc)
		return rc;
	if (failed) {
		rc = put_status(o, err_http_status(e->err.code ? e->err.code : ERR_INTERNAL));
		if (!rc)
			rc = buf_puts(o, ",\"outcome\":");
		if (!rc)
			rc = fhir_outcome_write(o, &e->err, 0);
		return rc ? rc : buf_putc(o, '}');
	}
	rc = put_status(o, e->status);
	if (!rc && e->out_id[0] && e->version && e->method != TX_DELETE)
		rc = buf_printf(o, ",\"location\":\"%s/%s/_history/%lld\"", e->type, e->out_id,
				(long long)e->version);
	if (!rc && e->version) {
		time_format_instant(e->last_updated_ms, when);
		rc = buf_printf(o, ",\"etag\":\"W/\\\"%lld\\\"\",\"lastModified\":\"%s\"",
				(long long)e->version, when);
	}
	if (!rc && c->ret == RETURN_OUTCOME) {
		struct err info = { 0 };

		err_set(&info, ERR_OK, NULL, "%s %s/%s", e->noop ? "matched" : "done", e->type,
			e->out_id);
		rc = buf_puts(o, ",\"outcome\":") || fhir_outcome_write(o, &info, 0);
	}
	return rc ? rc : buf_putc(o, '}');
}

static int put_get_response(struct buf *o, struct api_response *r)
{
	int rc = 0;

	if (r->body.n && r->status < 400)
		rc = buf_puts(o, "\"resource\":") || buf_append(o, r->body.p, r->body.n) ||
		     buf_putc(o, ',');
	if (!rc)
		rc = buf_puts(o, "\"response\":{") || put_status(o, r->status);
	if (!rc && r->etag[0])
		rc = buf_puts(o, ",\"etag\":") || json_write_string(o, r->etag);
	if (!rc && r->body.n && r->status >= 400)
		rc = buf_puts(o, ",\"outcome\":") || buf_append(o, r->body.p, r->body.n);
	return rc ? rc : buf_putc(o, '}');
}

/* Copies the failing entry's issues into the request's error, naming it. */
static int fail_transaction(struct api_ctx *c, struct bentry *b, size_t i, int rc)
{
	const struct err *e = &b->tx->err;
	char where[ERR_EXPR_MAX + 64];	/* err_set keeps the first ERR_EXPR_MAX - 1 bytes */

	for (int k = 0; k < e->n_issues; k++) {
		const char *x = e->issue[k].expression, *type = b->tx->type;
		size_t tn = type ? strlen(type) : 0;

		if (!*x)
			snprintf(where, sizeof(where), "Bundle.entry[%zu]", i);
		else if (!strncmp(x, "request", 7) || !strncmp(x, "resource", 8) ||
			 !strncmp(x, "fullUrl", 7))
			snprintf(where, sizeof(where), "Bundle.entry[%zu].%s", i, x);
		else	/* a path in the resource: "Observation.status" or "status" */
			snprintf(where, sizeof(where), "Bundle.entry[%zu].resource.%s", i,
				 tn && !strncmp(x, type, tn) && x[tn] == '.' ? x + tn + 1 : x);
		err_set(&c->err, rc, where, "%s", e->issue[k].diagnostics);
	}
	if (!e->n_issues) {
		snprintf(where, sizeof(where), "Bundle.entry[%zu]", i);
		err_set(&c->err, rc, where, "%s", err_message(rc));
	}
	return rc;
}

int api_bundle(struct api_ctx *c)
{
	struct json_object *bundle = NULL, *entries = NULL;
	struct bentry *b = NULL;
	struct tx_entry *tx = NULL;
	struct buf *o = &c->res->body;
	const char *type, *prefer = c->req->prefer;
	size_t n = 0, n_init = 0, failed = 0;
	int rc, atomic;

	if ((rc = api_check_params(c, NULL)) || (rc = api_parse_body(c, &bundle)))
		return rc;
	type = json_get_str(bundle, "type");
	if (!json_get_str(bundle, "resourceType") || strcmp(json_get_str(bundle, "resourceType"), "Bundle")) {
		rc = err_set(&c->err, ERR_INVALID, "resourceType",
			     "POST to the base takes a Bundle (batch or transaction)");
		goto out;
	}
	if (!type || (strcmp(type, "batch") && strcmp(type, "transaction"))) {
		rc = err_set(&c->err, ERR_INVALID, "Bundle.type",
			     "POST to the base takes a Bundle of type batch or transaction, not '%.32s'",
			     type ? type : "");
		goto out;
	}
	atomic = !strcmp(type, "transaction");
	if (json_object_object_get_ex(bundle, "entry", &entries) &&
	    !json_object_is_type(entries, json_type_array)) {
		rc = err_set(&c->err, ERR_INVALID, "Bundle.entry", "entry must be an array");
		goto out;
	}
	n = entries ? json_object_array_length(entries) : 0;
	if (c->api->cfg.max_bundle_entries && n > c->api->cfg.max_bundle_entries) {
		rc = err_set(&c->err, ERR_TOO_LARGE, "Bundle.entry",
			     "the Bundle has %zu entries; this server takes at most %zu", n,
			     c->api->cfg.max_bundle_entries);
		goto out;
	}
	if (n && (!(b = calloc(n, sizeof(*b))) || !(tx = malloc(n * sizeof(*tx))))) {
		rc = err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	/* Bundles answer minimally unless a representation is asked for. */
	if (!prefer || !strstr(prefer, "return=representation"))
		c->ret = c->ret == RETURN_OUTCOME ? RETURN_OUTCOME : RETURN_MINIMAL;
	for (size_t i = 0; i < n; i++) {
		b[i].tx = &tx[i];
		api_tx_entry_init(&tx[i]);
		n_init = i + 1;
		b[i].ok = parse_entry(c, json_object_array_get_idx(entries, i), &b[i]) == 0;
		/* A GET entry is a request of its own (run_get), checked there. */
		if (b[i].ok && tx[i].method != TX_GET &&
		    api_allow(c, tx[i].type, tx[i].method == TX_POST ? AUTH_PERM_C
					     : tx[i].method == TX_DELETE ? AUTH_PERM_D : AUTH_PERM_U)) {
			tx[i].err = c->err;
			err_clear(&c->err);
			b[i].ok = 0;
		}
		if (!b[i].ok) {
			tx[i].state = TX_FAILED;	/* a batch goes on without it */
			if (atomic) {
				rc = fail_transaction(c, &b[i], i, tx[i].err.code);
				goto out;
			}
		}
	}
	rc = n ? api_tx_run(c, tx, n, atomic ? TX_ATOMIC | TX_REFS : 0, &failed) : 0;
	if (rc && atomic) {
		rc = fail_transaction(c, &b[failed], failed, rc);
		goto out;
	}
	if (rc)
		goto out;
	if ((rc = api_bundle_start(c, atomic ? "transaction-response" : "batch-response")) ||
	    (rc = buf_puts(o, ",\"entry\":[") ? ERR_NOMEM : 0))
		goto out;
	for (size_t i = 0; i < n && !rc; i++) {
		if (i && buf_putc(o, ','))
			rc = ERR_NOMEM;
		if (!rc && buf_putc(o, '{'))
			rc = ERR_NOMEM;
		if (!rc && b[i].ok && b[i].tx->method == TX_GET) {
			struct api_response r;

			api_response_init(&r);
			if (run_get(c, &b[i], &r)) {
				b[i].tx->state = TX_FAILED;
				rc = put_entry_response(c, o, &b[i]) ? ERR_NOMEM : 0;
			} else {
				rc = put_get_response(o, &r) ? ERR_NOMEM : 0;
			}
			api_response_release(&r);
		} else if (!rc) {
			rc = put_entry_response(c, o, &b[i]) ? ERR_NOMEM : 0;
		}
		if (!rc && buf_putc(o, '}'))
			rc = ERR_NOMEM;
	}
	if (!rc && buf_puts(o, "]}"))
		rc = ERR_NOMEM;
	if (rc)
		rc = err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
	else
		c->res->status = 200;
out:
	for (size_t i = 0; i < n_init; i++) {
		api_tx_entry_release(&tx[i]);
		json_object_put(b[i].patch);
	}
	free(b);
	free(tx);
	json_object_put(bundle);
	return rc;
}
