/*
 * fuzz_api.c — the whole REST API through the in-process seam
 * (src/api: routing, negotiation, read/create/update/patch/delete, history)
 * on a real SQLite store in a temporary directory (under /dev/shm when it
 * exists, so the fsync of every write is cheap).
 *
 * Input: a request written as HTTP/1.1 text, which keeps the seeds readable
 * and lets libFuzzer splice requests:
 *
 *     METHOD TARGET
 *     Header: value          (Host, Accept, Content-Type, If-Match,
 *     ...                     If-None-Match, If-None-Exist, Prefer; others ignored)
 *
 *     body bytes (everything after the first empty line)
 *
 * The target is turned into a struct api_request the way src/http/http.c
 * and libmicrohttpd do: the path is percent-decoded (a %00 ends it), the
 * query is split on '&' and '=' and decoded ('+' is a space), at most
 * API_MAX_QUERY_PARAMS are kept (too_many_params beyond), url_len counts
 * path and query. Every string is its own allocation and the body is not
 * NUL-terminated, so AddressSanitizer sees any read past an end.
 *
 * The store starts with a few resources (Patient/p1 in 3 versions,
 * Observation/o1, a deleted Patient/gone) and is thrown away and rebuilt
 * every FZ_API_RESET_EVERY inputs so it does not grow without bound.
 *
 * Oracles, besides the sanitizers:
 *   - no 5xx but 501 (README: "no client mistake produces a 500");
 *   - every body is strict JSON with a Content-Type; every 4xx/5xx body is
 *     an OperationOutcome with at least one issue; 405 carries Allow;
 *   - no header value (Location, ETag, Last-Modified, Content-Type, Allow)
 *     holds a control character (no response splitting); a 201 has a Location.
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "api/api.h"
#include "base/log.h"
#include "store/store.h"
#include "fuzz_util.h"

#define FZ_API_RESET_EVERY 2000

struct fz_api {
	char dir[256];
	struct store *st;
	struct api *api;
	unsigned long runs;
};

static struct fz_api fz_api_state;

/* The strings of one request, each its own allocation. */
struct fz_request {
	struct api_request req;
	char *owned[2 * API_MAX_QUERY_PARAMS + 16];
	int n_owned;
};

static char *fz_keep(struct fz_request *r, char *s)
{
	if (!s)
		return NULL;
	if (r->n_owned == (int)(sizeof(r->owned) / sizeof(r->owned[0]))) {
		free(s);
		return NULL;
	}
	r->owned[r->n_owned++] = s;
	return s;
}

/* Percent-decodes n bytes (invalid escapes are kept as they are, like
 * libmicrohttpd); a decoded NUL ends the string. */
static char *fz_decode(const char *p, size_t n, int plus_is_space)
{
	char *out = malloc(n + 1);
	size_t j = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (c == '%' && i + 2 < n && str_hex_digit(p[i + 1]) >= 0 && str_hex_digit(p[i + 2]) >= 0) {
			c = (char)(str_hex_digit(p[i + 1]) * 16 + str_hex_digit(p[i + 2]));
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		}
		if (c == '\0')
			break;
		out[j++] = c;
	}
	out[j] = '\0';
	return out;
}

static char *fz_strndup(const char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s) {
		memcpy(s, p, n);
		s[n] = '\0';	/* a NUL inside ends it, as it would over HTTP */
	}
	return s;
}

static void fz_parse_query(struct fz_request *r, const char *q, size_t n)
{
	struct api_request *req = &r->req;
	size_t i = 0;

	while (i <= n) {
		size_t end = i, eq;
		const char *amp = memchr(q + i, '&', n - i);
		char *name, *value = NULL;

		end = amp ? (size_t)(amp - q) : n;
		for (eq = i; eq < end && q[eq] != '='; eq++)
			;
		if (end > i) {
			name = fz_decode(q + i, eq - i, 1);
			if (eq < end)
				value = fz_decode(q + eq + 1, end - eq - 1, 1);
			if (name) {
				req->url_len += strlen(name) + (value ? strlen(value) + 1 : 0) + 1;
				if (req->n_params == API_MAX_QUERY_PARAMS) {
					req->too_many_params = 1;
					free(name);
					free(value);
				} else {
					req->params[req->n_params].name = fz_keep(r, name);
					req->params[req->n_params].value =
						value ? fz_keep(r, value) : "";
					if (req->params[req->n_params].name)
						req->n_params++;
				}
			} else {
				free(value);
			}
		}
		if (!amp)
			break;
		i = end + 1;
	}
}

static void fz_set_header(struct fz_request *r, const char *line, size_t n)
{
	static const struct {
		const char *name;
		size_t offset;
	} known[] = {
		{ "host", offsetof(struct api_request, host) },
		{ "accept", offsetof(struct api_request, accept) },
		{ "content-type", offsetof(struct api_request, content_type) },
		{ "if-match", offsetof(struct api_request, if_match) },
		{ "if-none-match", offsetof(struct api_request, if_none_match) },
		{ "if-none-exist", offsetof(struct api_request, if_none_exist) },
		{ "prefer", offsetof(struct api_request, prefer) },
	};
	const char *colon = memchr(line, ':', n);
	size_t name_len, v;

	if (!colon)
		return;
	name_len = (size_t)(colon - line);
	for (v = name_len + 1; v < n && (line[v] == ' ' || line[v] == '\t'); v++)
		;
	for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
		if (strlen(known[k].name) == name_len && strncasecmp(known[k].name, line, name_len) == 0) {
			const char **slot = (const char **)((char *)&r->req + known[k].offset);
			*slot = fz_keep(r, fz_strndup(line + v, n - v));
			return;
		}
}

/* Builds the request from the fuzz input; the body is copied without a NUL. */
static void fz_request_build(struct fz_request *r, const char *p, size_t size)
{
	struct api_request *req = &r->req;
	const char *eol = memchr(p, '\n', size), *sp, *target, *qm;
	size_t line_len = eol ? (size_t)(eol - p) : size, pos, target_len;
	char *path;

	memset(r, 0, sizeof(*r));
	if (line_len && p[line_len - 1] == '\r')
		line_len--;
	sp = memchr(p, ' ', line_len);
	req->method = fz_keep(r, fz_strndup(p, sp ? (size_t)(sp - p) : line_len));
	if (!req->method)
		req->method = "GET";
	target = sp ? sp + 1 : p + line_len;
	target_len = (size_t)(p + line_len - target);
	sp = memchr(target, ' ', target_len);	/* " HTTP/1.1" is ignored */
	if (sp)
		target_len = (size_t)(sp - target);
	qm = memchr(target, '?', target_len);
	path = fz_decode(target, qm ? (size_t)(qm - target) : target_len, 0);
	req->path = fz_keep(r, path);
	if (!req->path)
		req->path = "/";
	req->url_len = strlen(req->path);
	if (qm)
		fz_parse_query(r, qm + 1, (size_t)(target + target_len - qm - 1));

	/* Headers, up to the first empty line. */
	pos = eol ? (size_t)(eol - p) + 1 : size;
	while (pos < size) {
		const char *nl = memchr(p + pos, '\n', size - pos);
		size_t n = nl ? (size_t)(nl - (p + pos)) : size - pos;
		size_t len = n && p[pos + n - 1] == '\r' ? n - 1 : n;

		if (len == 0) {
			pos += n + 1;
			if (pos <= size && nl) {
				size_t body_len = size - pos;
				char *body = malloc(body_len ? body_len : 1);

				if (body && body_len) {
					memcpy(body, p + pos, body_len);
					req->body = fz_keep(r, body);
					req->body_len = req->body ? body_len : 0;
				} else {
					free(body);
				}
			}
			break;
		}
		fz_set_header(r, p + pos, len);
		if (!nl)
			break;
		pos += n + 1;
	}
}

static void fz_request_release(struct fz_request *r)
{
	for (int i = 0; i < r->n_owned; i++)
		free(r->owned[i]);
	r->n_owned = 0;
}

/* ---- the store -------------------------------------------------------- */

static void fz_api_call_ct(const char *method, const char *path, const char *body,
			   const char *content_type)
{
	struct api_request req = { 0 };
	struct api_response res;

	req.method = method;
	req.path = path;
	req.url_len = strlen(path);
	req.host = "fuzz.test";
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.content_type = content_type;
	api_response_init(&res);
	if (api_handle(fz_api_state.api, &req, &res) >= 300) {
		fprintf(stderr, "fuzz_api: seeding %s %s failed: %.*s\n", method, path, (int)res.body.n,
			res.body.p ? res.body.p : "");
		abort();
	}
	api_response_release(&res);
}

static void fz_api_call(const char *method, const char *path, const char *body)
{
	fz_api_call_ct(method, path, body, body ? "application/fhir+json" : NULL);
}

static void fz_rmdir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[512];

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static void fuzz_api_close(void)
{
	if (!fz_api_state.api)
		return;
	api_free(fz_api_state.api);
	store_close(fz_api_state.st);
	fz_rmdir(fz_api_state.dir);
	fz_api_state.api = NULL;
	fz_api_state.st = NULL;
}

#ifndef FZ_NO_ENTRY
/* libFuzzer ends a timed run with exit(): leave no store behind in /dev/shm. */
static void fuzz_api_at_exit(void)
{
	fuzz_api_close();
}
#endif

static void fuzz_api_open(void)
{
	struct stat sb;
	const char *base = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) && access("/dev/shm", W_OK) == 0
				   ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	struct store_config sc = { .backend = "sqlite", .max_readers = 4 };
	struct api_config ac = {
		.limits = { .max_body_bytes = 64 * 1024, .max_url_bytes = 1024, .max_json_depth = 64 },
	};
	struct err e = { 0 };

#ifndef FZ_NO_ENTRY
	static int at_exit_set;

	if (!at_exit_set)
		at_exit_set = atexit(fuzz_api_at_exit) == 0;
#endif
	log_set_level(LOG_ERROR);
	snprintf(fz_api_state.dir, sizeof(fz_api_state.dir), "%s/lt-fuzz-api-XXXXXX", base);
	if (!mkdtemp(fz_api_state.dir)) {
		perror("fuzz_api: mkdtemp");
		abort();
	}
	sc.data_dir = fz_api_state.dir;
	if (store_open(&sc, &fz_api_state.st, &e) || api_new(&ac, fz_api_state.st, &fz_api_state.api, &e)) {
		fprintf(stderr, "fuzz_api: cannot open the store: %s\n", e.issue[0].diagnostics);
		abort();
	}
	fz_api_call("PUT", "/fhir/Patient/p1",
		    "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"active\":true,"
		    "\"name\":[{\"family\":\"Tr\xe1\xba\xa7n\",\"given\":[\"V\xc4\x83n\"]}],\"birthDate\":\"1980-01-02\"}");
	fz_api_call("PUT", "/fhir/Patient/p1",
		    "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"active\":false,"
		    "\"name\":[{\"family\":\"Tr\xe1\xba\xa7n\"}],\"gender\":\"male\"}");
	fz_api_call("PUT", "/fhir/Observation/o1",
		    "{\"resourceType\":\"Observation\",\"id\":\"o1\",\"status\":\"final\","
		    "\"code\":{\"text\":\"glucose\"},\"subject\":{\"reference\":\"Patient/p1\"},"
		    "\"valueQuantity\":{\"value\":7.80,\"unit\":\"mmol/L\"}}");
	fz_api_call("PUT", "/fhir/Patient/gone", "{\"resourceType\":\"Patient\",\"id\":\"gone\"}");
	fz_api_call("DELETE", "/fhir/Patient/gone", NULL);
	fz_api_call_ct("PATCH", "/fhir/Patient/p1",
		       "[{\"op\":\"add\",\"path\":\"/birthDate\",\"value\":\"1980-01-02\"}]",
		       "application/json-patch+json");
}

/* ---- oracles ---------------------------------------------------------- */

static void fz_require_header(const char *name, const char *v)
{
	if (!v)
		return;
	for (const unsigned char *s = (const unsigned char *)v; *s; s++)
		if (*s < 0x20 || *s == 0x7f) {
			fprintf(stderr, "*** header %s: ", name);
			fz_fail("a response header holds a control character", v, strlen(v));
			return;
		}
}

static void fz_check_response(const struct api_request *req, const struct api_response *res)
{
	if (res->status < 100 || res->status > 599)
		fz_fail("status out of range", NULL, 0);
	if (res->status >= 500 && res->status != 501 &&
	    !(res->status == 503 && fz_ignored("patch-null") && res->body.n &&
	      strstr(res->body.p, "out of memory copying JSON"))) {
		fprintf(stderr, "*** %s %s -> %d\n", req->method, req->path, res->status);
		fz_fail("a 5xx other than 501 for a client request", res->body.p, res->body.n);
	}
	if (res->body.n) {
		if (!res->content_type)
			fz_fail("a body without a Content-Type", NULL, 0);
		fz_require_json("response body", res->body.p, res->body.n);
	}
	if (res->status >= 400) {
		struct json_object *o = NULL, *issue = NULL;
		struct err e = { 0 };

		if (!res->body.n || json_parse(res->body.p, res->body.n, 0, &o, &e) ||
		    !json_object_is_type(o, json_type_object) ||
		    strcmp(json_get_str(o, "resourceType") ? json_get_str(o, "resourceType") : "",
			   "OperationOutcome") ||
		    !json_object_object_get_ex(o, "issue", &issue) ||
		    !json_object_is_type(issue, json_type_array) || json_object_array_length(issue) < 1) {
			/* Not strict JSON is reported above; this is about the shape. */
			if (!res->body.n || json_check(res->body.p, res->body.n, 256, &e) == 0)
				fz_fail("an error without an OperationOutcome", res->body.p, res->body.n);
		}
		json_object_put(o);
	}
	if (res->status == 405 && !res->allow)
		fz_fail("405 without Allow", NULL, 0);
	if (res->status == 201 && !res->location.n)
		fz_fail("201 without Location", NULL, 0);
	fz_require_header("Location", res->location.n ? res->location.p : NULL);
	fz_require_header("ETag", res->etag);
	fz_require_header("Last-Modified", res->last_modified);
	fz_require_header("Content-Type", res->content_type);
	fz_require_header("Allow", res->allow);
}

static int fuzz_api_one(const uint8_t *data, size_t size)
{
	struct fz_request r;
	struct api_response res;

	if (!fz_api_state.api)
		fuzz_api_open();
	fz_request_build(&r, (const char *)data, size);
	api_response_init(&res);
	api_handle(fz_api_state.api, &r.req, &res);
	fz_check_response(&r.req, &res);
	api_response_release(&res);
	fz_request_release(&r);
	if (++fz_api_state.runs % FZ_API_RESET_EVERY == 0)
		fuzz_api_close();
	return 0;
}

#ifndef FZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_api_one(data, size);
}
#endif
