/*
 * api.c — the router: limits, content negotiation, the route table, and
 * turning a struct err into an OperationOutcome response.
 */
#include "api_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "../base/json.h"
#include "../base/log.h"
#include "../base/rand.h"
#include "../base/time.h"

#define FHIR_JSON "application/fhir+json; charset=utf-8"
#define PLAIN_JSON "application/json; charset=utf-8"
#define API_PATH_SEGMENTS 6
#define API_HEADERS_MAX_BYTES 8192	/* api_response.headers */

enum route_kind {
	ROUTE_SYSTEM,		/* /fhir */
	ROUTE_METADATA,		/* /fhir/metadata */
	ROUTE_SYSTEM_HISTORY,	/* /fhir/_history */
	ROUTE_TYPE,		/* /fhir/Patient */
	ROUTE_TYPE_HISTORY,	/* /fhir/Patient/_history */
	ROUTE_TYPE_SEARCH,	/* /fhir/Patient/_search */
	ROUTE_INSTANCE,		/* /fhir/Patient/1 */
	ROUTE_INSTANCE_HISTORY,	/* /fhir/Patient/1/_history */
	ROUTE_VREAD,		/* /fhir/Patient/1/_history/2 */
	ROUTE_COMPARTMENT,	/* /fhir/Patient/1/Observation */
	ROUTE_OPERATION,	/* any $operation */
	ROUTE__COUNT
};

static int api_operation(struct api_ctx *c);

/*
 * What each route answers to; anything else is 405 with the Allow list.
 * perms: what the token's scopes must allow on the type (every type for
 * system routes; AUTH_PERM_*); interaction and action name the request in
 * the audit trail (AuditEvent.subtype and .action).
 */
#define C_ AUTH_PERM_C
#define R_ AUTH_PERM_R
#define U_ AUTH_PERM_U
#define D_ AUTH_PERM_D
#define S_ AUTH_PERM_S
static const struct route_handler {
	enum route_kind route;
	const char *method;
	api_handler_fn fn;
	unsigned perms;
	const char *interaction;
	const char *action;
} route_handlers[] = {
	{ ROUTE_METADATA, "GET", api_metadata, 0, "capabilities", "R" },
	{ ROUTE_SYSTEM_HISTORY, "GET", api_history, R_ | S_, "history-system", "R" },
	{ ROUTE_TYPE, "POST", api_create, C_, "create", "C" },
	{ ROUTE_TYPE_HISTORY, "GET", api_history, R_ | S_, "history-type", "R" },
	{ ROUTE_INSTANCE, "GET", api_read, R_, "read", "R" },
	{ ROUTE_INSTANCE, "PUT", api_update, U_, "update", "U" },
	{ ROUTE_INSTANCE, "DELETE", api_delete, D_, "delete", "D" },
	{ ROUTE_INSTANCE, "PATCH", api_patch, U_, "patch", "U" },
	{ ROUTE_INSTANCE_HISTORY, "GET", api_history, R_, "history-instance", "R" },
	{ ROUTE_VREAD, "GET", api_vread, R_, "vread", "R" },
	{ ROUTE_SYSTEM, "POST", api_bundle, 0, "transaction", "E" },	/* per entry: bundle.c */
	{ ROUTE_SYSTEM, "GET", api_search, S_, "search-system", "E" },
	{ ROUTE_TYPE, "GET", api_search, S_, "search-type", "E" },
	{ ROUTE_TYPE_SEARCH, "POST", api_search, S_, "search-type", "E" },
	{ ROUTE_TYPE, "PUT", api_update, U_ | S_, "update", "U" },	/* conditional update */
	{ ROUTE_TYPE, "DELETE", api_delete, D_ | S_, "delete", "D" },	/* conditional delete */
	{ ROUTE_TYPE, "PATCH", api_patch, U_ | S_, "patch", "U" },	/* conditional patch */
	{ ROUTE_COMPARTMENT, "GET", api_search, S_, "search-type", "E" },
	{ ROUTE_OPERATION, "GET", api_operation, 0, "operation", "E" },
	{ ROUTE_OPERATION, "POST", api_operation, 0, "operation", "E" },
	{ ROUTE_OPERATION, "DELETE", api_operation, 0, "operation", "E" },
};

/*
 * The operations, by name and level. An operation's handler sees c->type
 * (type and instance level) and c->id (instance level); path segments after
 * the operation name are in c->op_rest ("" when none). perms are needed on
 * every type: an operation reads or writes across types.
 */
static const struct api_operation {
	const char *name;		/* without the '$' */
	unsigned levels;		/* API_OP_SYSTEM | API_OP_TYPE | API_OP_INSTANCE */
	const char *type;		/* type and instance level: only this type; NULL: any */
	const char *methods;		/* "GET POST" */
	api_handler_fn fn;
	unsigned perms;
} operations[] = {
	{ "import", API_OP_SYSTEM, NULL, "POST", api_import, C_ | U_ },
	/* Bulk Data export (export.c): kick-off, its status URL, its files. */
	{ "export", API_OP_SYSTEM, NULL, "GET POST", api_export_kickoff, R_ | S_ },
	{ "export", API_OP_TYPE, "Patient", "GET POST", api_export_kickoff, R_ | S_ },
	{ "export", API_OP_INSTANCE, "Group", "GET POST", api_export_kickoff, R_ | S_ },
	{ "export-status", API_OP_SYSTEM, NULL, "GET DELETE", api_export_status, R_ | S_ },
	{ "export-file", API_OP_SYSTEM, NULL, "GET", api_export_file, R_ | S_ },
	{ "everything", API_OP_TYPE | API_OP_INSTANCE, "Patient", "GET POST", api_everything,
	  R_ | S_ },
};

static int api_operation(struct api_ctx *c)
{
	unsigned level = c->id[0] ? API_OP_INSTANCE : c->type ? API_OP_TYPE : API_OP_SYSTEM;
	const char *method = !strcmp(c->req->method, "HEAD") ? "GET" : c->req->method;

	for (size_t i = 0; i < sizeof(operations) / sizeof(operations[0]); i++) {
		const struct api_operation *op = &operations[i];

		if (strcmp(op->name, c->op) || !(op->levels & level) ||
		    (level != API_OP_SYSTEM && op->type && strcmp(op->type, c->type)))
			continue;
		if (!strstr(op->methods, method)) {
			c->res->allow = op->methods;
			return err_set(&c->err, ERR_METHOD, NULL, "$%s does not take %s", c->op,
				       c->req->method);
		}
		if (api_allow(c, NULL, op->perms))
			return c->err.code;
		/* A patient's token: their own record only. */
		if (c->patient_only && (strcmp(op->name, "everything") || !c->id[0] ||
					strcmp(c->id, c->who.patient)))
			return err_set(&c->err, ERR_FORBIDDEN, NULL,
				       "a patient's token reaches only that patient's record");
		return op->fn(c);
	}
	return err_set(&c->err, ERR_NOT_SUPPORTED, NULL,
		       "$%s is not an operation of this server at this level "
		       "(see /fhir/metadata for what is)", c->op);
}

static const char *const route_allow[ROUTE__COUNT] = {
	[ROUTE_SYSTEM] = "GET, POST",
	[ROUTE_METADATA] = "GET, HEAD",
	[ROUTE_SYSTEM_HISTORY] = "GET, HEAD",
	[ROUTE_TYPE] = "GET, HEAD, POST, PUT, PATCH, DELETE",
	[ROUTE_TYPE_HISTORY] = "GET, HEAD",
	[ROUTE_TYPE_SEARCH] = "POST",
	[ROUTE_INSTANCE] = "GET, HEAD, PUT, PATCH, DELETE",
	[ROUTE_INSTANCE_HISTORY] = "GET, HEAD",
	[ROUTE_VREAD] = "GET, HEAD",
	[ROUTE_COMPARTMENT] = "GET",
	[ROUTE_OPERATION] = "GET, POST, DELETE",
};

void api_response_init(struct api_response *res)
{
	memset(res, 0, sizeof(*res));
	buf_init(&res->location, 4096);
	buf_init(&res->body, 0);
	buf_init(&res->headers, API_HEADERS_MAX_BYTES);
	res->file_fd = -1;
}

void api_response_release(struct api_response *res)
{
	buf_release(&res->location);
	buf_release(&res->body);
	buf_release(&res->headers);
	if (res->has_file && res->file_fd >= 0)
		close(res->file_fd);
	res->has_file = 0;
	res->file_fd = -1;
}

int api_response_add_header(struct api_response *res, const char *name, const char *value)
{
	int rc = buf_append(&res->headers, name, strlen(name) + 1);

	return rc ? rc : buf_append(&res->headers, value, strlen(value) + 1);
}

const char *api_param(const struct api_ctx *c, const char *name)
{
	for (int i = 0; i < c->req->n_params; i++)
		if (strcmp(c->req->params[i].name, name) == 0)
			return c->req->params[i].value;
	return NULL;
}

int api_parse_count(struct api_ctx *c, int def, int max, int *count)
{
	const char *v = api_param(c, "_count");
	char *end;
	long n;

	*count = def;
	if (!v)
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (end == v || *end || errno || n < 0)
		return err_set(&c->err, ERR_BAD_REQUEST, NULL, "_count must be a whole number >= 0");
	*count = n > max ? max : (int)n;
	return 0;
}

int api_put_query_value(struct buf *b, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	for (; !rc && *v; v++) {
		unsigned char ch = (unsigned char)*v;

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    strchr("-._~:", ch))
			rc = buf_putc(b, (char)ch);
		else
			rc = buf_printf(b, "%%%c%c", hex[ch >> 4], hex[ch & 15]);
	}
	return rc;
}

int api_bundle_start(struct api_ctx *c, const char *type)
{
	char id[UUID_STR_LEN + 1], now[TIME_INSTANT_LEN + 1];
	struct buf *b = &c->res->body;

	if (rand_uuid(id))
		return err_set(&c->err, ERR_INTERNAL, NULL, "cannot draw a random id");
	time_format_instant(time_now_ms(), now);
	buf_clear(b);
	c->res->content_type = c->plain_json ? PLAIN_JSON : FHIR_JSON;
	if (buf_printf(b, "{\"resourceType\":\"Bundle\",\"id\":\"%s\",\"meta\":{\"lastUpdated\":\"%s\"},"
			  "\"type\":\"%s\"", id, now, type))
		return err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
	return 0;
}

/* The OperationOutcome entry of a Bundle's warnings: a stale index, notes. */
static int put_warnings(struct buf *b, int comma, const char *const *notes, size_t n_notes,
			int stale)
{
	int rc = buf_puts(b, comma ? ",{" : "{");

	if (!rc)
		rc = buf_puts(b, "\"resource\":{\"resourceType\":\"OperationOutcome\",\"issue\":[");
	if (!rc && stale)
		rc = buf_printf(b, "{\"severity\":\"warning\",\"code\":\"incomplete\",\"diagnostics\":"
				"\"the search index is out of date (run lienthong reindex):"
				" results may be incomplete\"}%s", n_notes ? "," : "");
	for (size_t i = 0; !rc && i < n_notes; i++) {
		rc = buf_puts(b, i ? ",{" : "{");
		if (!rc)
			rc = buf_puts(b, "\"severity\":\"warning\",\"code\":\"not-supported\",\"diagnostics\":");
		if (!rc)
			rc = json_write_string(b, notes[i]);
		if (!rc)
			rc = buf_putc(b, '}');
	}
	if (!rc)
		rc = buf_puts(b, "]},\"search\":{\"mode\":\"outcome\"}}");
	return rc;
}

int api_bundle_end(struct api_ctx *c, int rc, const struct buf *entries, const char *const *notes,
		   size_t n_notes, int indexed)
{
	struct buf *b = &c->res->body;
	int stale = !rc && indexed && api_index_stale(c->api);

	if (!rc && (entries->n || n_notes || stale)) {
		rc = buf_puts(b, ",\"entry\":[");
		if (!rc)
			rc = buf_append(b, entries->p, entries->n);
		if (!rc && (n_notes || stale))
			rc = put_warnings(b, entries->n > 0, notes, n_notes, stale);
		if (!rc)
			rc = buf_putc(b, ']');
	}
	if (!rc)
		rc = buf_putc(b, '}');
	if (rc && !c->err.code)
		rc = err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
	if (!rc)
		c->res->status = 200;
	return rc;
}

int api_put_link(struct buf *b, const char *relation, const char *url)
{
	int rc = buf_printf(b, "{\"relation\":\"%s\",\"url\":", relation);

	if (!rc)
		rc = json_write_string(b, url);
	if (!rc)
		rc = buf_putc(b, '}');
	return rc;
}

/* Parameters every interaction understands. */
static int param_is_common(const char *name)
{
	return !strcmp(name, "_format") || !strcmp(name, "_pretty");
}

/* Unknown parameters are ignored, except under Prefer: handling=strict. */
int api_check_params(struct api_ctx *c, const char *const *allowed)
{
	for (int i = 0; i < c->req->n_params; i++) {
		const char *name = c->req->params[i].name;
		int known = param_is_common(name);

		for (const char *const *a = allowed; !known && a && *a; a++)
			known = !strcmp(*a, name);
		if (!known && c->strict)
			return err_set(&c->err, ERR_BAD_REQUEST, NULL,
				       "unknown or unsupported parameter '%s' (Prefer: handling=strict)", name);
	}
	return 0;
}

/* The media type of a header value, lower-cased, without parameters. */
static void media_type(const char *v, char *out, size_t outsz)
{
	size_t n = 0;

	while (*v == ' ' || *v == '\t')
		v++;
	while (*v && *v != ';' && *v != ',' && *v != ' ' && n + 1 < outsz)
		out[n++] = (char)tolower((unsigned char)*v++);
	out[n] = '\0';
}

static int media_is_json(const char *mt)
{
	return !strcmp(mt, "application/fhir+json") || !strcmp(mt, "application/json") ||
	       !strcmp(mt, "application/json+fhir") || !strcmp(mt, "json");
}

/* _format, Accept, _pretty, Prefer. */
static int negotiate(struct api_ctx *c)
{
	const char *format = api_param(c, "_format"), *pretty = api_param(c, "_pretty");
	const char *accept = c->req->accept, *prefer = c->req->prefer;
	char mt[96];

	if (pretty)
		c->pretty = !strcmp(pretty, "true");
	if (prefer) {
		if (strstr(prefer, "return=minimal"))
			c->ret = RETURN_MINIMAL;
		else if (strstr(prefer, "return=OperationOutcome"))
			c->ret = RETURN_OUTCOME;
		c->strict = strstr(prefer, "handling=strict") != NULL;
	}
	if (format) {
		media_type(format, mt, sizeof(mt));
		if (!media_is_json(mt))
			return err_set(&c->err, ERR_NOT_ACCEPTABLE, NULL,
				       "_format '%s' is not supported; this server speaks JSON "
				       "(application/fhir+json)", format);
		c->plain_json = !strcmp(mt, "application/json");
		return 0;
	}
	if (!accept || !*accept)
		return 0;
	/* Acceptable when any listed type is JSON or a wildcard. */
	for (const char *p = accept; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		media_type(p, mt, sizeof(mt));
		/* NDJSON: the files of a bulk export (bulk clients ask for them
		 * by type; any other answer is JSON, as for a wildcard). */
		if (media_is_json(mt) || !strcmp(mt, "*/*") || !strcmp(mt, "application/*") ||
		    !strcmp(mt, "application/fhir+ndjson") || !strcmp(mt, "application/ndjson")) {
			c->plain_json = !strcmp(mt, "application/json") && !strstr(accept, "fhir+json");
			return 0;
		}
	}
	return err_set(&c->err, ERR_NOT_ACCEPTABLE, NULL,
		       "cannot answer with '%s'; this server speaks application/fhir+json", accept);
}

/* Parses the request body as a JSON object, after the content-type check. */
int api_parse_body(struct api_ctx *c, struct json_object **out)
{
	const char *ct = c->req->content_type;
	char mt[96];
	int rc;

	*out = NULL;
	if (c->body_json) {
		*out = json_object_get(c->body_json);
		return 0;
	}
	if (ct && *ct) {
		const char *cs = strcasestr(ct, "charset=");
		media_type(ct, mt, sizeof(mt));
		if (!media_is_json(mt) || !strcmp(mt, "json"))
			return err_set(&c->err, ERR_MEDIA_TYPE, NULL,
				       "Content-Type '%s' is not supported; send application/fhir+json", ct);
		if (cs && strncasecmp(cs + 8, "utf-8", 5) != 0 && strncasecmp(cs + 8, "\"utf-8\"", 7) != 0)
			return err_set(&c->err, ERR_MEDIA_TYPE, NULL, "only the UTF-8 charset is supported");
	}
	if (!c->req->body || !c->req->body_len)
		return err_set(&c->err, ERR_BAD_REQUEST, NULL, "the request has no body");
	rc = json_parse(c->req->body, c->req->body_len, c->api->cfg.limits.max_json_depth, out,
			&c->err);
	if (rc)
		return rc;
	if (!json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		return err_set(&c->err, ERR_INVALID, NULL, "the body must be a JSON object (a resource)");
	}
	return 0;
}

/* If-Match: W/"3" or "3". Sets *version to -1 when the header is absent. */
int api_parse_if_match(struct api_ctx *c, int64_t *version)
{
	const char *v = c->req->if_match;
	char *end;
	long long n;

	*version = -1;
	if (!v)
		return 0;
	while (*v == ' ')
		v++;
	if (!strncmp(v, "W/", 2))
		v += 2;
	if (*v == '"')
		v++;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (end == v || errno || n < 1 || (*end && *end != '"'))
		return err_set(&c->err, ERR_BAD_REQUEST, NULL,
			       "If-Match must be an ETag such as W/\"1\"");
	*version = n;
	return 0;
}

void api_take_body_json(struct api_ctx *c, struct buf *json)
{
	struct buf old = c->res->body;

	c->res->body = *json;
	c->res->content_type = c->plain_json ? PLAIN_JSON : FHIR_JSON;
	*json = old;
	buf_clear(json);
}

int api_set_body_json(struct api_ctx *c, const char *json, size_t n)
{
	buf_clear(&c->res->body);
	c->res->content_type = c->plain_json ? PLAIN_JSON : FHIR_JSON;
	if (buf_append(&c->res->body, json, n))
		return err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
	return 0;
}

/* An informational OperationOutcome as the body, with the given status. */
int api_set_outcome(struct api_ctx *c, int status, const char *fmt, ...)
{
	struct err info = { 0 };
	va_list ap;

	info.n_issues = 1;
	va_start(ap, fmt);
	vsnprintf(info.issue[0].diagnostics, sizeof(info.issue[0].diagnostics), fmt, ap);
	va_end(ap);
	c->res->status = status;
	c->res->content_type = c->plain_json ? PLAIN_JSON : FHIR_JSON;
	buf_clear(&c->res->body);
	if (fhir_outcome_write(&c->res->body, &info, 0))
		return err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
	return 0;
}

void api_set_version_headers(struct api_ctx *c, int64_t version, int64_t last_updated_ms)
{
	snprintf(c->res->etag, sizeof(c->res->etag), "W/\"%lld\"", (long long)version);
	time_format_http(last_updated_ms, c->res->last_modified);
}

int api_set_location(struct api_ctx *c, const char *id, int64_t version)
{
	buf_clear(&c->res->location);
	if (buf_printf(&c->res->location, "%s/%s/%s/_history/%lld", c->base, c->type, id,
		       (long long)version))
		return err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
	return 0;
}

/* The public base URL: configured, or from the Host header (restricted to
 * host-name characters so nothing can be injected into Location). */
static void set_base(struct api_ctx *c)
{
	const char *host = c->req->host;
	int ok = host && *host && strlen(host) < 256;

	if (c->api->base_url) {
		snprintf(c->base, sizeof(c->base), "%s", c->api->base_url);
		return;
	}
	for (const char *p = host; ok && *p; p++)
		ok = isalnum((unsigned char)*p) || strchr(".-:[]_", *p);
	snprintf(c->base, sizeof(c->base), "%s://%s/fhir", c->req->https ? "https" : "http",
		 ok ? host : "localhost");
}

/* Splits "/fhir/a/b/c" into segments; returns the count or -1 when the path
 * is not under /fhir or has empty segments. */
static int split_path(const char *path, struct str *seg, int max)
{
	const char *p;
	int n = 0;

	if (strncmp(path, "/fhir", 5) != 0 || (path[5] && path[5] != '/'))
		return -1;
	p = path + 5;
	if (*p == '/')
		p++;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (len == 0) {
			if (!slash)
				break;
			return -1;
		}
		if (n == max)
			return -1;
		seg[n++] = (struct str){ p, len };
		if (!slash)
			break;
		p = slash + 1;
	}
	return n;
}

static int set_type(struct api_ctx *c, struct str s)
{
	int i = fhir_resource_type_index(s.p, s.n);

	if (i < 0)
		return err_set(&c->err, ERR_UNKNOWN_TYPE, NULL, "'%.*s' is not a FHIR R4 resource type",
			       (int)(s.n > 64 ? 64 : s.n), s.p);
	c->type = fhir_resource_type_name(i);
	return 0;
}

/* "." and ".." match the FHIR id pattern, but in a URL they are path steps
 * that proxies and clients rewrite: such an id could never be read back. */
static int only_dots(struct str s)
{
	for (size_t i = 0; i < s.n; i++)
		if (s.p[i] != '.')
			return 0;
	return 1;
}

static int set_id(struct api_ctx *c, struct str s)
{
	if (!fhir_id_valid(s.p, s.n) || only_dots(s) || str_copy(c->id, sizeof(c->id), s))
		return err_set(&c->err, ERR_BAD_REQUEST, NULL,
			       "'%.*s' is not a valid id (1-64 of A-Z a-z 0-9 - .)",
			       (int)(s.n > 64 ? 64 : s.n), s.p);
	return 0;
}

static int set_vid(struct api_ctx *c, struct str s)
{
	char tmp[24], *end;
	long long v;

	if (str_copy(tmp, sizeof(tmp), s))
		v = 0;
	else {
		errno = 0;
		v = strtoll(tmp, &end, 10);
		if (*end || errno)
			v = 0;
	}
	if (v < 1)
		return err_set(&c->err, ERR_BAD_REQUEST, NULL, "'%.*s' is not a version id",
			       (int)(s.n > 24 ? 24 : s.n), s.p);
	c->vid = v;
	return 0;
}

/* /fhir/$op, /fhir/Type/$op, /fhir/Type/id/$op, each maybe followed by
 * more segments (op_rest). */
static int set_operation(struct api_ctx *c, const struct str *seg, int n, int at)
{
	const char *rest;
	int rc;

	if (at >= 1 && (rc = set_type(c, seg[0])))
		return rc;
	if (at == 2 && (rc = set_id(c, seg[1])))
		return rc;
	if (str_copy(c->op, sizeof(c->op), (struct str){ seg[at].p + 1, seg[at].n - 1 }) || !c->op[0])
		return err_set(&c->err, ERR_NOT_FOUND, NULL, "no such operation");
	rest = at + 1 < n ? seg[at + 1].p : "";
	c->op_rest = rest;
	return 0;
}

/* Maps the path to a route kind and fills type/id/vid. */
static int route(struct api_ctx *c, enum route_kind *kind)
{
	struct str seg[API_PATH_SEGMENTS];
	int n = split_path(c->req->path, seg, API_PATH_SEGMENTS);

	if (n < 0 || n > 4)
		return err_set(&c->err, ERR_NOT_FOUND, NULL, "no FHIR endpoint at this path (the base is /fhir)");
	if (n == 0) {
		*kind = ROUTE_SYSTEM;
		return 0;
	}
	for (int i = 0; i < n && i < 3; i++)
		if (seg[i].p[0] == '$') {
			*kind = ROUTE_OPERATION;
			return set_operation(c, seg, n, i);
		}
	if (n == 1 && str_eq(seg[0], "metadata")) {
		*kind = ROUTE_METADATA;
		return 0;
	}
	if (n == 1 && str_eq(seg[0], "_history")) {
		*kind = ROUTE_SYSTEM_HISTORY;
		return 0;
	}
	if (set_type(c, seg[0]))
		return c->err.code;
	if (n == 1) {
		*kind = ROUTE_TYPE;
		return 0;
	}
	if (str_eq(seg[1], "_history") && n == 2) {
		*kind = ROUTE_TYPE_HISTORY;
		return 0;
	}
	if (str_eq(seg[1], "_search") && n == 2) {
		*kind = ROUTE_TYPE_SEARCH;
		return 0;
	}
	if (set_id(c, seg[1]))
		return c->err.code;
	if (n == 2) {
		*kind = ROUTE_INSTANCE;
		return 0;
	}
	if (str_eq(seg[2], "_history")) {
		if (n == 3) {
			*kind = ROUTE_INSTANCE_HISTORY;
			return 0;
		}
		*kind = ROUTE_VREAD;
		return set_vid(c, seg[3]);
	}
	if (n == 3 && fhir_resource_type_index(seg[2].p, seg[2].n) >= 0) {
		*kind = ROUTE_COMPARTMENT;
		c->compartment = c->type;
		return set_type(c, seg[2]);
	}
	return err_set(&c->err, ERR_NOT_FOUND, NULL, "no FHIR endpoint at this path");
}

/*
 * Where a patient's token (allowed only through patient/ scopes) may search:
 * its own compartment. A type search becomes the compartment search
 * Patient/[own id]/[type] (a Patient search is filtered to the patient by
 * api_may_see); across types, or another compartment, is refused.
 */
static int patient_scope(struct api_ctx *c, enum route_kind kind)
{
	switch (kind) {
	case ROUTE_INSTANCE:
	case ROUTE_VREAD:
	case ROUTE_INSTANCE_HISTORY:
	case ROUTE_OPERATION:
		return 0;	/* checked on the answer, or by the operation */
	case ROUTE_TYPE:
	case ROUTE_TYPE_SEARCH:
		if (strcmp(c->type, "Patient")) {
			c->compartment = "Patient";
			snprintf(c->id, sizeof(c->id), "%s", c->who.patient);
		}
		return 0;
	case ROUTE_COMPARTMENT:
		if (!strcmp(c->compartment, "Patient") && !strcmp(c->id, c->who.patient))
			return 0;
		break;
	default:
		break;
	}
	return err_set(&c->err, ERR_FORBIDDEN, NULL,
		       "a patient's token reaches only that patient's record");
}

static int dispatch(struct api_ctx *c)
{
	const struct api_request *req = c->req;
	const struct api_limits *lim = &c->api->cfg.limits;
	enum route_kind kind = ROUTE_SYSTEM;
	const char *method = !strcmp(req->method, "HEAD") ? "GET" : req->method;
	int rc;

	if (lim->max_url_bytes && req->url_len > lim->max_url_bytes)
		return err_set(&c->err, ERR_URL_TOO_LONG, NULL, "the URL is longer than %zu bytes",
			       lim->max_url_bytes);
	if (req->too_many_params)
		return err_set(&c->err, ERR_BAD_REQUEST, NULL, "more than %d query parameters",
			       API_MAX_QUERY_PARAMS);
	if (req->body_nomem)
		return err_set(&c->err, ERR_NOMEM, NULL, "out of memory reading the body; try again");
	if (req->body_too_large || (lim->max_body_bytes && req->body_len > lim->max_body_bytes))
		return err_set(&c->err, ERR_TOO_LARGE, NULL, "the body is larger than %zu bytes",
			       lim->max_body_bytes);
	if ((rc = negotiate(c)) || (rc = route(c, &kind)))
		return rc;
	/* AuditEvent is the store's audit trail (audit.c): read and searched, never written. */
	if (c->type && !strcmp(c->type, "AuditEvent") && kind != ROUTE_OPERATION) {
		if (!strcmp(method, "GET") &&
		    (kind == ROUTE_TYPE || kind == ROUTE_INSTANCE || kind == ROUTE_COMPARTMENT)) {
			c->audit_interaction = kind == ROUTE_INSTANCE ? "read" : "search-type";
			c->audit_action = kind == ROUTE_INSTANCE ? "R" : "E";
			if (api_allow(c, "AuditEvent", kind == ROUTE_INSTANCE ? AUTH_PERM_R : AUTH_PERM_S))
				return c->err.code;
			if (c->patient_only && (rc = patient_scope(c, kind)))
				return rc;
			return api_audit_search(c);
		}
		if (!strcmp(method, "GET"))
			return err_set(&c->err, ERR_NOT_SUPPORTED, NULL,
				       "AuditEvent records never change: they have no history");
		c->res->allow = "GET, HEAD";
		return err_set(&c->err, ERR_METHOD, NULL, "AuditEvent records are kept by the server: "
			       "they can be read and searched, not changed (%s)", req->method);
	}
	for (size_t i = 0; i < sizeof(route_handlers) / sizeof(route_handlers[0]); i++) {
		const struct route_handler *h = &route_handlers[i];

		if (h->route != kind || strcmp(h->method, method))
			continue;
		c->audit_interaction = h->interaction;
		c->audit_action = h->action;
		if (h->perms && api_allow(c, kind == ROUTE_SYSTEM || kind == ROUTE_SYSTEM_HISTORY
						     ? NULL : c->type, h->perms))
			return c->err.code;
		if (c->patient_only && (rc = patient_scope(c, kind)))
			return rc;
		if ((rc = h->fn(c)))
			return rc;
		/* A patient's token reads one resource: it must be theirs. */
		if (c->patient_only && c->res->status == 200 &&
		    (kind == ROUTE_INSTANCE || kind == ROUTE_VREAD || kind == ROUTE_INSTANCE_HISTORY) &&
		    !api_may_see(c, c->type, c->id, c->res->body.p, c->res->body.n)) {
			buf_clear(&c->res->body);
			c->res->etag[0] = c->res->last_modified[0] = '\0';
			return err_set(&c->err, ERR_FORBIDDEN, NULL,
				       "a patient's token reaches only that patient's record");
		}
		return 0;
	}
	c->res->allow = route_allow[kind];
	return err_set(&c->err, ERR_METHOD, NULL, "%s is not allowed here (allowed: %s)", req->method,
		       route_allow[kind]);
}

/* Re-indents a JSON body for _pretty=true. */
static void prettify(struct api_ctx *c)
{
	struct json_object *o;
	struct err ignore = { 0 };
	struct buf out;

	if (!c->res->body.n || json_parse(c->res->body.p, c->res->body.n, 0, &o, &ignore))
		return;
	buf_init(&out, 0);
	if (json_write(&out, o, 1) == 0 && buf_putc(&out, '\n') == 0) {
		buf_release(&c->res->body);
		c->res->body = out;
	} else
		buf_release(&out);
	json_object_put(o);
}

/* The entity of an audit record: the path under the base, and the names
 * (not the values: they may be health data) of the query parameters. */
static void audit_entity(const struct api_ctx *c, char *out, size_t n)
{
	const char *p = c->req->path;
	size_t at;

	if (!strncmp(p, "/fhir", 5))
		p += p[5] == '/' ? 6 : 5;
	at = (size_t)snprintf(out, n, "%s", *p ? p : "/");
	for (int i = 0; i < c->req->n_params && at < n; i++)
		at += (size_t)snprintf(out + at, n - at, "%c%s", i ? ',' : '?', c->req->params[i].name);
}

/* The patient an access concerned, when one is known. */
static void audit_patient(const struct api_ctx *c, char *out, size_t n)
{
	static const char *const params[] = { "patient", "subject", "_id" };
	const char *v;

	out[0] = '\0';
	if (c->compartment && !strcmp(c->compartment, "Patient") && c->id[0]) {
		snprintf(out, n, "Patient/%s", c->id);
		return;
	}
	if (c->type && !strcmp(c->type, "Patient") && c->id[0]) {
		snprintf(out, n, "Patient/%s", c->id);
		return;
	}
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++)
		if ((v = api_param(c, params[i])) && *v && !strchr(v, ',') &&
		    (i < 2 || (c->type && !strcmp(c->type, "Patient")))) {
			if (!strncmp(v, "Patient/", 8))
				v += 8;
			if (!strchr(v, '/')) {
				snprintf(out, n, "Patient/%.64s", v);
				return;
			}
		}
	if (c->res->status < 300 && c->res->body.n && c->type && c->id[0]) {
		char id[FHIR_ID_MAX + 1];

		if (api_resource_patient(c->type, c->id, c->res->body.p, c->res->body.n, id, sizeof(id)))
			snprintf(out, n, "Patient/%s", id);
	}
}

/* Records the request in the audit trail (queued: the writer appends it).
 * Fails only when the trail cannot be written (a full disk), e set. */
static int audit(struct api_ctx *c, int status, struct err *e)
{
	struct store_audit a = { 0 };
	char entity[512], patient[FHIR_ID_MAX + 16], subtype[80];

	if (!c->api->cfg.audit || !c->audit_interaction ||
	    !strcmp(c->audit_interaction, "capabilities"))
		return 0;
	audit_entity(c, entity, sizeof(entity));
	audit_patient(c, patient, sizeof(patient));
	if (c->audit_subtype)
		snprintf(subtype, sizeof(subtype), "%s", c->audit_subtype);
	else if (c->op[0])
		snprintf(subtype, sizeof(subtype), "$%s", c->op);
	else
		snprintf(subtype, sizeof(subtype), "%s", c->audit_interaction);
	a.tenant = c->tenant;
	a.at_ms = time_now_ms();
	a.agent = c->who.agent[0] ? c->who.agent : "anonymous";
	a.action = c->audit_action ? c->audit_action : "E";
	a.subtype = subtype;
	a.entity = entity;
	a.patient = patient;
	a.source = c->req->peer ? c->req->peer : "";
	a.outcome = status;
	a.flags = c->audit_flags;
	a.purpose = a.flags & STORE_AUDIT_BREAK_GLASS ? "ETREAT" : "TREAT";
	a.detail = a.flags & STORE_AUDIT_BREAK_GLASS ? c->req->break_glass
		   : c->audit_outcome_detail ? c->audit_outcome_detail
		   : c->err.code ? c->err.issue[0].diagnostics : "";
	if (!store_audit(c->api->st, &a, e))
		return 0;
	log_error("audit: cannot record a request: %s", e->issue[0].diagnostics);
	return e->code;
}

static void error_response(struct api_ctx *c);

int api_handle(struct api *api, const struct api_request *req, struct api_response *res)
{
	struct api_ctx *c = malloc(sizeof(*c));
	int status, handled = 0;

	if (!c) {
		res->status = 503;
		return res->status;
	}
	memset(c, 0, offsetof(struct api_ctx, err.issue));
	c->scopes.n = 0;
	c->api = api;
	c->req = req;
	c->res = res;
	store_ix_rows_init(&c->ix);
	res->status = 200;
	set_base(c);
	c->break_glass = req->break_glass && *req->break_glass;
	if (!strncmp(req->path, "/auth/", 6) && api_limit(c, 1)) {
		c->audit_interaction = c->audit_subtype = "login";
		c->audit_action = "E";
	} else if (api_public(c, &handled) || handled) {
		c->audit_interaction = c->audit_subtype;	/* a login is audited; keys are not */
		c->audit_action = "E";
	} else if (strcmp(req->path, "/fhir/metadata") && (api_authenticate(c) || api_limit(c, 0))) {
		c->audit_interaction = "access";
		c->audit_action = "E";
	} else
		dispatch(c);
	if (c->err.code)
		error_response(c);
	if (c->pretty)
		prettify(c);
	status = res->status;
	if (audit(c, status, &c->err) && status < 400 && c->audit_action &&
	    strchr("RE", c->audit_action[0])) {
		/* A read that cannot be audited is not served. (A write is
		 * durable already: its answer stands, its record is lost.) */
		error_response(c);
		status = res->status;
	}
	/* Nothing is answered from a change that is not durable yet. */
	store_durable_wait(api->st);
	store_ix_rows_release(&c->ix);
	free(c);
	return status;
}

/* The response becomes c->err's OperationOutcome. */
static void error_response(struct api_ctx *c)
{
	struct api_response *res = c->res;
	int code = c->err.code ? c->err.code : ERR_INTERNAL;

	res->status = err_http_status(code);
	res->content_type = c->plain_json ? PLAIN_JSON : FHIR_JSON;
	res->etag[0] = '\0';
	res->last_modified[0] = '\0';
	buf_clear(&res->location);
	buf_clear(&res->body);
	if (res->has_file)
		close(res->file_fd);
	res->has_file = 0;
	res->file_fd = -1;
	if (fhir_outcome_write(&res->body, &c->err, 0))
		buf_clear(&res->body);
	if (res->status >= 500 && code != ERR_NOT_SUPPORTED)
		log_warn("api: %s %s: %s", c->req->method, c->type ? c->type : "-", err_name(code));
}

void api_error(struct api_response *res, int code, const char *diagnostics)
{
	struct err e = { 0 };

	err_set(&e, code, NULL, "%s", diagnostics);
	res->status = err_http_status(code);
	res->content_type = FHIR_JSON;
	buf_clear(&res->body);
	if (fhir_outcome_write(&res->body, &e, 0))
		buf_clear(&res->body);
}

int api_new(const struct api_config *cfg, struct store *st, struct api **out, struct err *e)
{
	struct api *api = calloc(1, sizeof(*api));
	int rc;

	*out = NULL;
	if (!api)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	api->cfg = *cfg;
	api->st = st;
	api->tenant = STORE_DEFAULT_TENANT;
	buf_init(&api->capability, 0);
	pthread_mutex_init(&api->capability_lock, NULL);
	if (cfg->base_url && *cfg->base_url) {
		size_t n = strlen(cfg->base_url);
		while (n && cfg->base_url[n - 1] == '/')
			n--;
		api->base_url = strndup(cfg->base_url, n);
		if (!api->base_url) {
			api_free(api);
			return err_set(e, ERR_NOMEM, NULL, "out of memory");
		}
	}
	api->cfg.base_url = api->base_url;
	rc = api_search_params_load(api->st, e);
	if (!rc)
		rc = api_capability_build(api, e);
	if (!rc)
		rc = api_auth_open(api, e);
	if (!rc && api->auth)
		rc = api_limiter_open(api, e);
	if (!rc)
		rc = api_index_check(api, e);
	if (!rc)
		rc = api_exports_open(api, e);
	if (rc) {
		api_free(api);
		return rc;
	}
	*out = api;
	return 0;
}

void api_free(struct api *api)
{
	if (!api)
		return;
	api_exports_close(api);
	api_auth_close(api);
	api_limiter_close(api);
	buf_release(&api->capability);
	pthread_mutex_destroy(&api->capability_lock);
	free(api->base_url);
	free(api);
}
