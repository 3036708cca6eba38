/* The REST API through the in-process seam: a real store, no socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "api/api.h"
#include "api/api_int.h"
#include "base/json.h"
#include "fhir/fhir.h"

static char dir[64];
static struct store *st;
static struct api *api;

struct call {
	const char *method, *path, *body, *content_type, *accept, *if_match, *if_none_match, *prefer;
	const char *params[8][2];
	size_t url_len;
	int too_many_params;
};

static int call(struct call c, struct api_response *res)
{
	struct api_request req = { 0 };

	req.method = c.method;
	req.path = c.path;
	req.host = "fhir.test:8080";
	req.body = c.body;
	req.body_len = c.body ? strlen(c.body) : 0;
	req.content_type = c.body && !c.content_type ? "application/fhir+json" : c.content_type;
	req.accept = c.accept;
	req.if_match = c.if_match;
	req.if_none_match = c.if_none_match;
	req.prefer = c.prefer;
	req.url_len = c.url_len ? c.url_len : strlen(c.path);
	req.too_many_params = c.too_many_params;
	for (int i = 0; i < 8 && c.params[i][0]; i++) {
		req.params[i].name = c.params[i][0];
		req.params[i].value = c.params[i][1];
		req.n_params++;
	}
	api_response_release(res);
	api_response_init(res);
	return api_handle(api, &req, res);
}

static struct json_object *body_json(struct api_response *res)
{
	struct json_object *o = NULL;
	struct err e = { 0 };

	assert_int_equal(json_parse(res->body.p, res->body.n, 64, &o, &e), 0);
	return o;
}

/* Asserts the body is an OperationOutcome whose first issue has this code. */
static void assert_outcome(struct api_response *res, const char *code)
{
	struct json_object *o = body_json(res), *issue, *first;

	assert_string_equal(json_get_str(o, "resourceType"), "OperationOutcome");
	assert_true(json_object_object_get_ex(o, "issue", &issue));
	first = json_object_array_get_idx(issue, 0);
	assert_string_equal(json_get_str(first, "code"), code);
	assert_non_null(json_get_str(first, "diagnostics"));
	json_object_put(o);
}

static char *create_patient(struct api_response *res, const char *body)
{
	struct json_object *o;
	char *id;

	assert_int_equal(call((struct call){ "POST", "/fhir/Patient", body }, res), 201);
	o = body_json(res);
	id = strdup(json_get_str(o, "id"));
	json_object_put(o);
	return id;
}

static int setup(void **state)
{
	struct store_config sc = { .backend = "sqlite", .data_dir = dir };
	struct api_config ac = { .limits = { .max_body_bytes = 4096, .max_url_bytes = 1024, .max_json_depth = 16 } };
	struct err e = { 0 };

	snprintf(dir, sizeof(dir), "/tmp/lt-api-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(store_open(&sc, &st, &e), 0);
	assert_int_equal(api_new(&ac, st, &api, &e), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	api_free(api);
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void metadata_tells_the_truth(void **state)
{
	struct api_response res;
	struct json_object *cs;

	api_response_init(&res);
	assert_int_equal(call((struct call){ "GET", "/fhir/metadata" }, &res), 200);
	assert_string_equal(res.content_type, "application/fhir+json; charset=utf-8");
	cs = body_json(&res);
	assert_string_equal(json_get_str(cs, "resourceType"), "CapabilityStatement");
	assert_string_equal(json_get_str(cs, "fhirVersion"), "4.0.1");
	assert_non_null(strstr(res.body.p, "\"type\":\"Patient\""));
	assert_non_null(strstr(res.body.p, "\"code\":\"history-instance\""));
	assert_non_null(strstr(res.body.p, "\"code\":\"search-type\""));
	assert_non_null(strstr(res.body.p, "\"name\":\"birthdate\""));
	assert_non_null(strstr(res.body.p, "\"name\":\"near\""));	/* Location near (special) */
	assert_null(strstr(res.body.p, "\"name\":\"_query\""));	/* not implemented: not claimed */
	assert_non_null(strstr(res.body.p, "\"code\":\"transaction\""));
	assert_non_null(strstr(res.body.p, "\"conditionalDelete\":\"single\""));
	assert_non_null(strstr(res.body.p, "\"name\":\"import\""));
	json_object_put(cs);
	assert_int_equal(call((struct call){ "DELETE", "/fhir/metadata" }, &res), 405);
	assert_string_equal(res.allow, "GET, HEAD");
	assert_outcome(&res, "not-supported");
	api_response_release(&res);
}

static void create_read_keeps_bytes_and_sets_headers(void **state)
{
	struct api_response res;
	char path[128], *id;
	const char *body = "{\"resourceType\":\"Patient\",\"id\":\"client-chosen\",\"name\":[{\"family\":\"Nguy\xe1\xbb\x85n\"}],"
			   "\"extension\":[{\"url\":\"http://x\",\"valueDecimal\":1.50}]}";

	api_response_init(&res);
	id = create_patient(&res, body);
	assert_string_not_equal(id, "client-chosen");	/* the server assigns ids on create */
	assert_string_equal(res.etag, "W/\"1\"");
	assert_non_null(strstr(res.location.p, "http://fhir.test:8080/fhir/Patient/"));
	assert_non_null(strstr(res.location.p, "/_history/1"));
	assert_non_null(strstr(res.body.p, "\"valueDecimal\":1.50"));
	assert_non_null(strstr(res.body.p, "\"meta\":{\"versionId\":\"1\",\"lastUpdated\":\""));
	snprintf(path, sizeof(path), "/fhir/Patient/%s", id);
	assert_int_equal(call((struct call){ "GET", path }, &res), 200);
	assert_string_equal(res.etag, "W/\"1\"");
	assert_true(strlen(res.last_modified) > 20);
	assert_non_null(strstr(res.body.p, "Nguy\xe1\xbb\x85n"));
	assert_non_null(strstr(res.body.p, "1.50"));
	assert_int_equal(call((struct call){ "GET", path, .if_none_match = "W/\"1\"" }, &res), 304);
	assert_int_equal(call((struct call){ "GET", "/fhir/Patient/nope" }, &res), 404);
	assert_outcome(&res, "not-found");
	assert_int_equal(call((struct call){ "GET", "/fhir/Patient/bad id!" }, &res), 400);
	assert_int_equal(call((struct call){ "GET", "/fhir/Patient/0123456789012345678901234567890123456789012345678901234567890123456789" }, &res), 400);
	assert_int_equal(call((struct call){ "GET", "/fhir/Patients/1" }, &res), 404);
	assert_int_equal(call((struct call){ "GET", "/nofhir/Patient/1" }, &res), 404);
	free(id);
	api_response_release(&res);
}

static void bad_input_is_rejected_and_changes_nothing(void **state)
{
	struct api_response res;
	char deep[200];

	api_response_init(&res);
	assert_int_equal(call((struct call){ "POST", "/fhir/Patient", "{\"resourceType\":\"Patient\",}" }, &res), 400);
	assert_outcome(&res, "structure");
	assert_int_equal(call((struct call){ "POST", "/fhir/Patient", "[1]" }, &res), 400);
	assert_int_equal(call((struct call){ "POST", "/fhir/Patient", "{\"resourceType\":\"Observation\"}" }, &res), 400);
	assert_int_equal(call((struct call){ "POST", "/fhir/Patient", "{\"resourceType\":\"Patient\",\"nmae\":[]}" }, &res), 400);
	assert_non_null(strstr(res.body.p, "\"expression\":[\"Patient.nmae\"]"));
	assert_int_equal(call((struct call){ "POST", "/fhir/Patient", "{\"resourceType\":\"Patient\",\"birthDate\":\"1980-02-30\"}" }, &res), 400);
	assert_non_null(strstr(res.body.p, "Patient.birthDate"));
	assert_int_equal(call((struct call){ "POST", "/fhir/Patient", "{\"resourceType\":\"Patient\"}", .content_type = "text/plain" }, &res), 415);
	assert_int_equal(call((struct call){ "POST", "/fhir/Patient", "{\"resourceType\":\"Patient\"}", .content_type = "application/fhir+json; charset=latin1" }, &res), 415);
	assert_int_equal(call((struct call){ "GET", "/fhir/metadata", .accept = "application/fhir+xml" }, &res), 406);
	assert_int_equal(call((struct call){ "GET", "/fhir/metadata", .params = { { "_format", "xml" } } }, &res), 406);
	assert_int_equal(call((struct call){ "GET", "/fhir/metadata", .accept = "text/html, */*;q=0.8" }, &res), 200);
	assert_int_equal(call((struct call){ "POST", "/fhir/Patient" }, &res), 400);
	/* limits */
	{
		char *big = malloc(5000);
		memset(big, ' ', 4999);
		big[4999] = '\0';
		memcpy(big, "{\"resourceType\":\"Patient\"}", 26);
		assert_int_equal(call((struct call){ "POST", "/fhir/Patient", big }, &res), 413);
		free(big);
	}
	assert_int_equal(call((struct call){ "GET", "/fhir/metadata", .url_len = 5000 }, &res), 414);
	assert_int_equal(call((struct call){ "GET", "/fhir/metadata", .too_many_params = 1 }, &res), 400);
	memset(deep, 0, sizeof(deep));
	strcpy(deep, "{\"resourceType\":\"Patient\",\"x\":");
	memset(deep + strlen(deep), '[', 20);
	memset(deep + strlen(deep), ']', 20);
	strcat(deep, "}");
	assert_int_equal(call((struct call){ "POST", "/fhir/Patient", deep }, &res), 400);
	assert_outcome(&res, "too-costly");
	/* nothing above was stored */
	assert_int_equal(call((struct call){ "GET", "/fhir/_history" }, &res), 200);
	{
		struct json_object *b = body_json(&res), *entries;
		json_object_object_get_ex(b, "entry", &entries);
		for (size_t i = 0; i < json_object_array_length(entries); i++)
			assert_null(strstr(json_object_to_json_string(json_object_array_get_idx(entries, i)), "nmae"));
		json_object_put(b);
	}
	api_response_release(&res);
}

static void update_if_match_prefer(void **state)
{
	struct api_response res;
	char path[128], body[256], *id;

	api_response_init(&res);
	id = create_patient(&res, "{\"resourceType\":\"Patient\",\"gender\":\"male\"}");
	snprintf(path, sizeof(path), "/fhir/Patient/%s", id);
	assert_int_equal(call((struct call){ "PUT", path, "{\"resourceType\":\"Patient\",\"gender\":\"female\"}" }, &res), 400);
	assert_int_equal(call((struct call){ "PUT", path, "{\"resourceType\":\"Patient\",\"id\":\"other\"}" }, &res), 400);
	snprintf(body, sizeof(body), "{\"resourceType\":\"Patient\",\"id\":\"%s\",\"gender\":\"female\"}", id);
	assert_int_equal(call((struct call){ "PUT", path, body, .if_match = "W/\"1\"" }, &res), 200);
	assert_string_equal(res.etag, "W/\"2\"");
	assert_int_equal(call((struct call){ "PUT", path, body, .if_match = "W/\"1\"" }, &res), 412);
	assert_outcome(&res, "conflict");
	assert_int_equal(call((struct call){ "PUT", path, body, .if_match = "garbage" }, &res), 400);
	assert_int_equal(call((struct call){ "PUT", path, body, .prefer = "return=minimal" }, &res), 200);
	assert_int_equal(res.body.n, 0);
	assert_string_equal(res.etag, "W/\"3\"");
	assert_int_equal(call((struct call){ "PUT", path, body, .prefer = "return=OperationOutcome" }, &res), 200);
	assert_outcome(&res, "informational");
	/* create on update with a client id */
	assert_int_equal(call((struct call){ "PUT", "/fhir/Patient/cccd-079180001234",
					     "{\"resourceType\":\"Patient\",\"id\":\"cccd-079180001234\"}" }, &res), 201);
	assert_string_equal(res.etag, "W/\"1\"");
	assert_int_equal(call((struct call){ "PUT", "/fhir/Patient/new-one", "{\"resourceType\":\"Patient\",\"id\":\"new-one\"}",
					     .if_match = "W/\"1\"" }, &res), 412);
	free(id);
	api_response_release(&res);
}

static void patch_json(void **state)
{
	struct api_response res;
	char path[128], *id;

	api_response_init(&res);
	id = create_patient(&res, "{\"resourceType\":\"Patient\",\"gender\":\"male\"}");
	snprintf(path, sizeof(path), "/fhir/Patient/%s", id);
	assert_int_equal(call((struct call){ "PATCH", path, "[{\"op\":\"replace\",\"path\":\"/gender\",\"value\":\"female\"}]" }, &res), 415);
	assert_int_equal(call((struct call){ "PATCH", path, "[{\"op\":\"test\",\"path\":\"/gender\",\"value\":\"female\"}]",
					     .content_type = "application/json-patch+json" }, &res), 422);
	assert_int_equal(call((struct call){ "PATCH", path, "[{\"op\":\"replace\",\"path\":\"/gender\",\"value\":5}]",
					     .content_type = "application/json-patch+json" }, &res), 422);
	assert_int_equal(call((struct call){ "PATCH", path, "[{\"op\":\"replace\",\"path\":\"/id\",\"value\":\"x\"}]",
					     .content_type = "application/json-patch+json" }, &res), 422);
	assert_int_equal(call((struct call){ "PATCH", path, "{\"op\":\"add\"}", .content_type = "application/json-patch+json" }, &res), 400);
	assert_int_equal(call((struct call){ "PATCH", path,
					     "[{\"op\":\"test\",\"path\":\"/gender\",\"value\":\"male\"},"
					     "{\"op\":\"add\",\"path\":\"/birthDate\",\"value\":\"1990-01-01\"}]",
					     .content_type = "application/json-patch+json", .if_match = "W/\"1\"" }, &res), 200);
	assert_string_equal(res.etag, "W/\"2\"");
	assert_non_null(strstr(res.body.p, "\"birthDate\":\"1990-01-01\""));
	assert_int_equal(call((struct call){ "PATCH", "/fhir/Patient/none", "[]", .content_type = "application/json-patch+json" }, &res), 404);
	free(id);
	api_response_release(&res);
}

static void delete_and_history(void **state)
{
	struct api_response res;
	char path[128], hist[160], vpath[160], *id;
	struct json_object *b, *entries, *first, *req;

	api_response_init(&res);
	id = create_patient(&res, "{\"resourceType\":\"Patient\"}");
	snprintf(path, sizeof(path), "/fhir/Patient/%s", id);
	assert_int_equal(call((struct call){ "DELETE", path }, &res), 200);
	assert_string_equal(res.etag, "W/\"2\"");
	assert_int_equal(call((struct call){ "GET", path }, &res), 410);
	assert_outcome(&res, "deleted");
	assert_int_equal(call((struct call){ "DELETE", path }, &res), 200);	/* idempotent */
	assert_int_equal(call((struct call){ "DELETE", "/fhir/Patient/never-was" }, &res), 404);
	snprintf(vpath, sizeof(vpath), "%s/_history/1", path);
	assert_int_equal(call((struct call){ "GET", vpath }, &res), 200);
	snprintf(vpath, sizeof(vpath), "%s/_history/2", path);
	assert_int_equal(call((struct call){ "GET", vpath }, &res), 410);
	snprintf(vpath, sizeof(vpath), "%s/_history/9", path);
	assert_int_equal(call((struct call){ "GET", vpath }, &res), 404);
	snprintf(hist, sizeof(hist), "%s/_history", path);
	assert_int_equal(call((struct call){ "GET", hist }, &res), 200);
	b = body_json(&res);
	assert_string_equal(json_get_str(b, "type"), "history");
	json_object_object_get_ex(b, "entry", &entries);
	assert_int_equal(json_object_array_length(entries), 2);
	first = json_object_array_get_idx(entries, 0);	/* newest first: the delete */
	json_object_object_get_ex(first, "request", &req);
	assert_string_equal(json_get_str(req, "method"), "DELETE");
	json_object_put(b);
	assert_int_equal(call((struct call){ "GET", "/fhir/Patient/never-was/_history" }, &res), 404);
	free(id);
	api_response_release(&res);
}

/* Type history pages by cursor; later writes do not shift earlier pages. */
static void history_paging(void **state)
{
	struct api_response res;
	struct json_object *b, *links, *entries;
	char cursor[32] = "";
	int pages = 0, seen = 0;

	api_response_init(&res);
	for (int i = 0; i < 5; i++)
		assert_int_equal(call((struct call){ "POST", "/fhir/Practitioner", "{\"resourceType\":\"Practitioner\"}" }, &res), 201);
	for (;;) {
		struct call c = { "GET", "/fhir/Practitioner/_history", .params = { { "_count", "2" } } };

		if (cursor[0]) {
			c.params[1][0] = "_cursor";
			c.params[1][1] = cursor;
		}
		assert_int_equal(call(c, &res), 200);
		b = body_json(&res);
		json_object_object_get_ex(b, "entry", &entries);
		seen += (int)json_object_array_length(entries);
		pages++;
		json_object_object_get_ex(b, "link", &links);
		cursor[0] = '\0';
		for (size_t i = 0; i < json_object_array_length(links); i++) {
			struct json_object *l = json_object_array_get_idx(links, i);
			const char *u = json_get_str(l, "url"), *p;
			if (!strcmp(json_get_str(l, "relation"), "next") && (p = strstr(u, "_cursor=")))
				snprintf(cursor, sizeof(cursor), "%s", p + 8);
		}
		json_object_put(b);
		if (!cursor[0])
			break;
		if (pages == 1)	/* a write between pages must not shift them */
			assert_int_equal(call((struct call){ "POST", "/fhir/Practitioner", "{\"resourceType\":\"Practitioner\"}" }, &res), 201);
	}
	assert_int_equal(seen, 5);
	assert_int_equal(pages, 3);
	assert_int_equal(call((struct call){ "GET", "/fhir/_history", .params = { { "_count", "x" } } }, &res), 400);
	assert_int_equal(call((struct call){ "GET", "/fhir/_history", .params = { { "_since", "yesterday" } } }, &res), 400);
	assert_int_equal(call((struct call){ "GET", "/fhir/_history", .params = { { "_since", "2020-01-01T00:00:00Z" } } }, &res), 200);
	api_response_release(&res);
}

static void format_pretty_strict_and_not_yet(void **state)
{
	struct api_response res;

	api_response_init(&res);
	assert_int_equal(call((struct call){ "GET", "/fhir/metadata", .params = { { "_pretty", "true" } } }, &res), 200);
	assert_non_null(strstr(res.body.p, "\n  \"resourceType\": \"CapabilityStatement\""));
	assert_int_equal(call((struct call){ "GET", "/fhir/metadata", .params = { { "_format", "application/json" } } }, &res), 200);
	assert_string_equal(res.content_type, "application/json; charset=utf-8");
	assert_int_equal(call((struct call){ "GET", "/fhir/_history", .params = { { "foo", "1" } } }, &res), 200);
	assert_int_equal(call((struct call){ "GET", "/fhir/_history", .prefer = "handling=strict", .params = { { "foo", "1" } } }, &res), 400);
	assert_int_equal(call((struct call){ "PUT", "/fhir/Patient" }, &res), 400);
	assert_outcome(&res, "invalid");
	assert_int_equal(call((struct call){ "POST", "/fhir", "{\"resourceType\":\"Bundle\",\"type\":\"transaction\"}" }, &res), 200);
	assert_non_null(strstr(res.body.p, "\"transaction-response\""));
	assert_int_equal(call((struct call){ "GET", "/fhir/$no-such-operation" }, &res), 501);
	assert_outcome(&res, "not-supported");
	assert_int_equal(call((struct call){ "TRACE", "/fhir/Patient" }, &res), 405);
	assert_int_equal(call((struct call){ "GET", "/fhir/Patient/1/$no-such-operation" }, &res), 501);
	api_response_release(&res);
}

/* Each history entry says what the client did and what it was answered;
 * the Bundle itself is valid R4. */
static void history_reports_interactions(void **state)
{
	static const char *const want[][3] = {	/* newest first: method, url, status */
		{ "PUT", "Encounter/hx", "201" },	/* re-created after the delete */
		{ "DELETE", "Encounter/hx", "200" },
		{ "PATCH", "Encounter/hx", "200" },
		{ "PUT", "Encounter/hx", "200" },
		{ "PUT", "Encounter/hx", "201" },	/* create-on-update */
	};
	const char *body = "{\"resourceType\":\"Encounter\",\"id\":\"hx\",\"status\":\"planned\","
			   "\"class\":{\"code\":\"AMB\"}}";
	struct api_response res;
	struct json_object *b, *entries;
	struct err e = { 0 };

	api_response_init(&res);
	assert_int_equal(call((struct call){ "PUT", "/fhir/Encounter/hx", body }, &res), 201);
	assert_int_equal(call((struct call){ "PUT", "/fhir/Encounter/hx", body }, &res), 200);
	assert_int_equal(call((struct call){ "PATCH", "/fhir/Encounter/hx",
					     "[{\"op\":\"replace\",\"path\":\"/status\",\"value\":\"finished\"}]",
					     .content_type = "application/json-patch+json" }, &res), 200);
	assert_int_equal(call((struct call){ "DELETE", "/fhir/Encounter/hx" }, &res), 200);
	assert_int_equal(call((struct call){ "PUT", "/fhir/Encounter/hx", body }, &res), 201);
	assert_int_equal(call((struct call){ "GET", "/fhir/Encounter/hx/_history" }, &res), 200);
	b = body_json(&res);
	assert_int_equal(fhir_validate(b, &e), 0);
	json_object_object_get_ex(b, "entry", &entries);
	assert_int_equal(json_object_array_length(entries), 5);
	for (size_t i = 0; i < 5; i++) {
		struct json_object *en = json_object_array_get_idx(entries, i), *rq, *rs;
		json_object_object_get_ex(en, "request", &rq);
		json_object_object_get_ex(en, "response", &rs);
		assert_string_equal(json_get_str(rq, "method"), want[i][0]);
		assert_string_equal(json_get_str(rq, "url"), want[i][1]);
		assert_string_equal(json_get_str(rs, "status"), want[i][2]);
	}
	json_object_put(b);
	/* _count=0: no entries, no "entry": [], and no next link to loop on */
	assert_int_equal(call((struct call){ "GET", "/fhir/Encounter/_history", .params = { { "_count", "0" } } }, &res), 200);
	assert_null(strstr(res.body.p, "\"entry\""));
	assert_null(strstr(res.body.p, "\"next\""));
	b = body_json(&res);
	assert_int_equal(fhir_validate(b, &e), 0);
	json_object_put(b);
	api_response_release(&res);
}

/* Errors quote request text; the OperationOutcome must stay valid UTF-8 and
 * valid JSON even when that text is not, or is cut mid-character. */
static void error_messages_stay_valid_utf8(void **state)
{
	char path[200] = "/fhir/";
	struct api_response res;
	struct err e = { 0 };

	api_response_init(&res);
	memset(path + 6, 'A', 63);
	memcpy(path + 69, "\xe1\xbb\x85\xe1\xbb\x85", 7);	/* a 3-byte letter cut at byte 64 */
	assert_int_equal(call((struct call){ "GET", path }, &res), 404);
	assert_int_equal(json_check(res.body.p, res.body.n, 64, &e), 0);
	assert_int_equal(call((struct call){ "GET", "/fhir/Pat\xffient/1" }, &res), 404);
	assert_int_equal(json_check(res.body.p, res.body.n, 64, &e), 0);
	assert_int_equal(call((struct call){ "GET", "/fhir/metadata", .accept = "text/\xc0\xafhtml\n" }, &res), 406);
	assert_int_equal(json_check(res.body.p, res.body.n, 64, &e), 0);
	api_response_release(&res);
}

/* The value at a dotted path of the response body ("entry.0.response.status"). */
static const char *body_at(struct api_response *res, const char *path, struct json_object **keep)
{
	struct json_object *o = body_json(res), *cur = o;
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = strtok_r(buf, ".", &save); p && cur; p = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(cur, json_type_array))
			cur = json_object_array_get_idx(cur, (size_t)atoi(p));
		else if (!json_object_object_get_ex(cur, p, &cur))
			cur = NULL;
	}
	*keep = o;
	return cur ? json_object_get_string(cur) : NULL;
}

static int count_of(const char *type, const char *name, const char *value)
{
	struct api_response res;
	struct json_object *o;
	int n;

	api_response_init(&res);
	assert_int_equal(call((struct call){ "GET", type, .params = { { name, value }, { "_summary", "count" } } }, &res), 200);
	n = atoi(body_at(&res, "total", &o));
	json_object_put(o);
	api_response_release(&res);
	return n;
}

#define TX_PATIENT_OBS(kind, ifnone) \
	"{\"resourceType\":\"Bundle\",\"type\":\"" kind "\",\"entry\":[" \
	"{\"fullUrl\":\"urn:uuid:7f0a3c1e-0000-4000-8000-000000000001\"," \
	"\"resource\":{\"resourceType\":\"Patient\",\"identifier\":[{\"system\":\"urn:tx\",\"value\":\"p1\"}]," \
	"\"text\":{\"status\":\"generated\",\"div\":\"<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\">" \
	"<a href=\\\"urn:uuid:7f0a3c1e-0000-4000-8000-000000000001\\\">me</a></div>\"}}," \
	"\"request\":{\"method\":\"POST\",\"url\":\"Patient\"" ifnone "}}," \
	"{\"resource\":{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"tx\"}," \
	"\"subject\":{\"reference\":\"urn:uuid:7f0a3c1e-0000-4000-8000-000000000001\"}}," \
	"\"request\":{\"method\":\"POST\",\"url\":\"Observation\"}}]}"

static void transaction_rewrites_references(void **state)
{
	struct api_response res;
	struct json_object *o, *o2;
	char pid[80], path[160];
	const char *loc, *subj;

	api_response_init(&res);
	assert_int_equal(call((struct call){ "POST", "/fhir", TX_PATIENT_OBS("transaction", ",\"ifNoneExist\":\"identifier=urn:tx|p1\"") }, &res), 200);
	assert_string_equal(body_at(&res, "type", &o), "transaction-response");
	json_object_put(o);
	assert_string_equal(body_at(&res, "entry.0.response.status", &o), "201 Created");
	json_object_put(o);
	loc = body_at(&res, "entry.0.response.location", &o);	/* Patient/<id>/_history/1 */
	assert_non_null(strstr(loc, "/_history/1"));
	snprintf(pid, sizeof(pid), "%.*s", (int)(strstr(loc, "/_history") - loc), loc);
	json_object_put(o);
	snprintf(path, sizeof(path), "/fhir/%s", body_at(&res, "entry.1.response.location", &o));
	*strstr(path, "/_history") = '\0';
	json_object_put(o);
	assert_int_equal(call((struct call){ "GET", path }, &res), 200);
	subj = body_at(&res, "subject.reference", &o);
	assert_string_equal(subj, pid);
	json_object_put(o);
	snprintf(path, sizeof(path), "/fhir/%s", pid);
	assert_int_equal(call((struct call){ "GET", path }, &res), 200);
	assert_non_null(strstr(body_at(&res, "text.div", &o), pid));	/* the narrative's link too */
	json_object_put(o);

	/* Again: the conditional create matches, the Observation points at the match. */
	assert_int_equal(call((struct call){ "POST", "/fhir", TX_PATIENT_OBS("transaction", ",\"ifNoneExist\":\"identifier=urn:tx|p1\""), .prefer = "return=representation" }, &res), 200);
	assert_string_equal(body_at(&res, "entry.0.response.status", &o), "200 OK");
	json_object_put(o);
	assert_string_equal(body_at(&res, "entry.1.resource.subject.reference", &o2), pid);
	json_object_put(o2);
	assert_int_equal(count_of("/fhir/Patient", "identifier", "urn:tx|p1"), 1);
	assert_int_equal(count_of("/fhir/Observation", "subject", pid), 2);

	/* A conditional reference resolves; once ambiguous it fails with 412. */
	assert_int_equal(call((struct call){ "POST", "/fhir", "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
		"{\"resource\":{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"cond\"},"
		"\"subject\":{\"reference\":\"Patient?identifier=urn:tx|p1\"}},\"request\":{\"method\":\"POST\",\"url\":\"Observation\"}}]}" }, &res), 200);
	assert_int_equal(count_of("/fhir/Observation", "subject", pid), 3);
	assert_int_equal(call((struct call){ "POST", "/fhir/Patient", "{\"resourceType\":\"Patient\",\"identifier\":[{\"system\":\"urn:tx\",\"value\":\"p1\"}]}" }, &res), 201);
	assert_int_equal(call((struct call){ "POST", "/fhir", "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
		"{\"resource\":{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"cond\"},"
		"\"subject\":{\"reference\":\"Patient?identifier=urn:tx|p1\"}},\"request\":{\"method\":\"POST\",\"url\":\"Observation\"}}]}" }, &res), 412);
	assert_outcome(&res, "conflict");
	assert_int_equal(call((struct call){ "POST", "/fhir", TX_PATIENT_OBS("transaction", ",\"ifNoneExist\":\"identifier=urn:tx|p1\"") }, &res), 412);
	assert_int_equal(count_of("/fhir/Observation", "subject", pid), 3);
	api_response_release(&res);
}

static void transaction_is_all_or_nothing(void **state)
{
	struct api_response res;
	struct json_object *o;

	api_response_init(&res);
	/* The second entry is invalid: the first must leave no trace, index rows included. */
	assert_int_equal(call((struct call){ "POST", "/fhir", "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
		"{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"rb1\",\"identifier\":[{\"system\":\"urn:tx\",\"value\":\"rollback\"}]},\"request\":{\"method\":\"PUT\",\"url\":\"Patient/rb1\"}},"
		"{\"resource\":{\"resourceType\":\"Observation\",\"status\":\"bogus\"},\"request\":{\"method\":\"POST\",\"url\":\"Observation\"}}]}" }, &res), 400);
	assert_non_null(strstr(res.body.p, "\"Bundle.entry[1].resource.status\""));
	assert_int_equal(call((struct call){ "GET", "/fhir/Patient/rb1" }, &res), 404);
	assert_int_equal(count_of("/fhir/Patient", "identifier", "urn:tx|rollback"), 0);

	/* PUT with the body's id missing fails; DELETE then POST then PUT then GET order. */
	assert_int_equal(call((struct call){ "PUT", "/fhir/Patient/ord1", "{\"resourceType\":\"Patient\",\"id\":\"ord1\"}" }, &res), 201);
	assert_int_equal(call((struct call){ "POST", "/fhir", "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
		"{\"request\":{\"method\":\"GET\",\"url\":\"Patient/ord2\"}},"
		"{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"ord2\",\"gender\":\"female\"},\"request\":{\"method\":\"PUT\",\"url\":\"Patient/ord2\",\"ifNoneMatch\":\"*\"}},"
		"{\"request\":{\"method\":\"DELETE\",\"url\":\"Patient/ord1\"}}]}" }, &res), 200);
	assert_string_equal(body_at(&res, "entry.0.response.status", &o), "200 OK");	/* GET runs last */
	json_object_put(o);
	assert_string_equal(body_at(&res, "entry.0.resource.gender", &o), "female");
	json_object_put(o);
	assert_string_equal(body_at(&res, "entry.1.response.status", &o), "201 Created");
	json_object_put(o);
	assert_string_equal(body_at(&res, "entry.2.response.status", &o), "200 OK");
	json_object_put(o);
	assert_int_equal(call((struct call){ "GET", "/fhir/Patient/ord1" }, &res), 410);
	/* ifMatch on a stale version: 412, nothing changed. */
	assert_int_equal(call((struct call){ "POST", "/fhir", "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
		"{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"ord2\",\"gender\":\"male\"},\"request\":{\"method\":\"PUT\",\"url\":\"Patient/ord2\",\"ifMatch\":\"W/\\\"7\\\"\"}}]}" }, &res), 412);
	assert_int_equal(call((struct call){ "GET", "/fhir/Patient/ord2" }, &res), 200);
	assert_string_equal(body_at(&res, "gender", &o), "female");
	json_object_put(o);
	api_response_release(&res);
}

static void batch_entries_stand_alone(void **state)
{
	struct api_response res;
	struct json_object *o;

	api_response_init(&res);
	assert_int_equal(call((struct call){ "POST", "/fhir", "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":["
		"{\"resource\":{\"resourceType\":\"Patient\",\"identifier\":[{\"system\":\"urn:tx\",\"value\":\"b1\"}]},\"request\":{\"method\":\"POST\",\"url\":\"Patient\"}},"
		"{\"resource\":{\"resourceType\":\"Observation\",\"status\":\"bogus\"},\"request\":{\"method\":\"POST\",\"url\":\"Observation\"}},"
		"{\"request\":{\"method\":\"TRACE\",\"url\":\"Patient\"}},"
		"{\"request\":{\"method\":\"GET\",\"url\":\"Patient?identifier=urn:tx|b1&_summary=count\"}}]}" }, &res), 200);
	assert_string_equal(body_at(&res, "type", &o), "batch-response");
	json_object_put(o);
	assert_string_equal(body_at(&res, "entry.0.response.status", &o), "201 Created");
	json_object_put(o);
	assert_string_equal(body_at(&res, "entry.1.response.status", &o), "400 Bad Request");
	json_object_put(o);
	assert_string_equal(body_at(&res, "entry.1.response.outcome.resourceType", &o), "OperationOutcome");
	json_object_put(o);
	assert_string_equal(body_at(&res, "entry.2.response.status", &o), "400 Bad Request");
	json_object_put(o);
	assert_string_equal(body_at(&res, "entry.3.resource.total", &o), "1");
	json_object_put(o);
	api_response_release(&res);
}

static void conditional_rest_writes(void **state)
{
	struct api_response res;
	struct json_object *o;
	char id[80];

	api_response_init(&res);
	/* If-None-Exist: created once, then matched (200, the match's id). */
	assert_int_equal(call((struct call){ "POST", "/fhir/Patient", "{\"resourceType\":\"Patient\",\"identifier\":[{\"system\":\"urn:c\",\"value\":\"1\"}]}" }, &res), 201);
	snprintf(id, sizeof(id), "%s", body_at(&res, "id", &o));
	json_object_put(o);
	{
		struct api_request req = { 0 };

		req.method = "POST";
		req.path = "/fhir/Patient";
		req.host = "fhir.test";
		req.body = "{\"resourceType\":\"Patient\",\"identifier\":[{\"system\":\"urn:c\",\"value\":\"1\"}],\"gender\":\"male\"}";
		req.body_len = strlen(req.body);
		req.content_type = "application/fhir+json";
		req.if_none_exist = "identifier=urn:c|1";
		req.url_len = 13;
		api_response_release(&res);
		api_response_init(&res);
		assert_int_equal(api_handle(api, &req, &res), 200);
		assert_string_equal(body_at(&res, "id", &o), id);
		json_object_put(o);
		req.if_none_exist = "Patient?identifier=urn:c|2";
		req.body = "{\"resourceType\":\"Patient\",\"identifier\":[{\"system\":\"urn:c\",\"value\":\"2\"}]}";
		req.body_len = strlen(req.body);
		api_response_release(&res);
		api_response_init(&res);
		assert_int_equal(api_handle(api, &req, &res), 201);
	}
	/* PUT [type]?search: updates the one match; creates when none. */
	assert_int_equal(call((struct call){ "PUT", "/fhir/Patient", "{\"resourceType\":\"Patient\",\"identifier\":[{\"system\":\"urn:c\",\"value\":\"1\"}],\"gender\":\"female\"}",
		.params = { { "identifier", "urn:c|1" } } }, &res), 200);
	assert_string_equal(body_at(&res, "id", &o), id);
	json_object_put(o);
	assert_string_equal(body_at(&res, "meta.versionId", &o), "2");
	json_object_put(o);
	assert_int_equal(call((struct call){ "PUT", "/fhir/Patient", "{\"resourceType\":\"Patient\",\"identifier\":[{\"system\":\"urn:c\",\"value\":\"3\"}]}",
		.params = { { "identifier", "urn:c|3" } } }, &res), 201);
	assert_int_equal(call((struct call){ "PUT", "/fhir/Patient", "{\"resourceType\":\"Patient\"}",
		.params = { { "identifier", "urn:c|" } } }, &res), 412);	/* three match */
	assert_int_equal(call((struct call){ "PUT", "/fhir/Patient", "{\"resourceType\":\"Patient\"}",
		.params = { { "no-such-param", "1" } } }, &res), 400);
	/* PATCH [type]?search. */
	assert_int_equal(call((struct call){ "PATCH", "/fhir/Patient", "[{\"op\":\"add\",\"path\":\"/active\",\"value\":true}]",
		.content_type = "application/json-patch+json", .params = { { "identifier", "urn:c|3" } } }, &res), 200);
	assert_string_equal(body_at(&res, "active", &o), "true");
	json_object_put(o);
	/* DELETE [type]?search: one match deleted; several refused (single rule); none is fine. */
	assert_int_equal(call((struct call){ "DELETE", "/fhir/Patient", .params = { { "identifier", "urn:c|3" } } }, &res), 200);
	assert_int_equal(count_of("/fhir/Patient", "identifier", "urn:c|3"), 0);
	assert_int_equal(call((struct call){ "DELETE", "/fhir/Patient", .params = { { "identifier", "urn:c|" } } }, &res), 412);
	assert_int_equal(count_of("/fhir/Patient", "identifier", "urn:c|"), 2);
	assert_int_equal(call((struct call){ "DELETE", "/fhir/Patient", .params = { { "identifier", "urn:c|9" } } }, &res), 200);
	api_response_release(&res);
}

/* The token buckets of ratelimit.c: a burst, then the rate; keys apart; the
 * table stays bounded under a flood of keys. */
static void rate_limit_buckets(void **state)
{
	struct api_config cfg = { .rate_limit = 2 };
	struct api lim = { .cfg = cfg };
	struct err e = { 0 };
	char key[32];

	(void)state;
	assert_int_equal(api_limiter_open(&lim, &e), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(api_limit_take(lim.limiter, "p:1", 2, 4, 1000), 0);
	assert_int_equal(api_limit_take(lim.limiter, "p:1", 2, 4, 1000), 1);
	assert_int_equal(api_limit_take(lim.limiter, "p:2", 2, 4, 1000), 0);
	/* Half a second at 2/s brings one request back, and only one. */
	assert_int_equal(api_limit_take(lim.limiter, "p:1", 2, 4, 1500), 0);
	assert_int_equal(api_limit_take(lim.limiter, "p:1", 2, 4, 1500), 1);
	for (int i = 0; i < 100000; i++) {
		snprintf(key, sizeof(key), "a:10.0.%d.%d", i / 256, i % 256);
		(void)api_limit_take(lim.limiter, key, 2, 4, 2000 + i);
	}
	assert_int_equal(api_limit_take(lim.limiter, "p:3", 0, 0, 9000), 0);	/* rate 0: none */
	api_limiter_close(&lim);
	assert_null(lim.limiter);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(metadata_tells_the_truth),
		cmocka_unit_test(create_read_keeps_bytes_and_sets_headers),
		cmocka_unit_test(bad_input_is_rejected_and_changes_nothing),
		cmocka_unit_test(update_if_match_prefer),
		cmocka_unit_test(patch_json),
		cmocka_unit_test(delete_and_history),
		cmocka_unit_test(history_paging),
		cmocka_unit_test(format_pretty_strict_and_not_yet),
		cmocka_unit_test(history_reports_interactions),
		cmocka_unit_test(error_messages_stay_valid_utf8),
		cmocka_unit_test(transaction_rewrites_references),
		cmocka_unit_test(transaction_is_all_or_nothing),
		cmocka_unit_test(batch_entries_stand_alone),
		cmocka_unit_test(conditional_rest_writes),
		cmocka_unit_test(rate_limit_buckets),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
