/* The REST API through the in-process seam: a real store, no socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "api/api.h"
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
	assert_null(strstr(res.body.p, "\"name\":\"near\""));	/* not implemented: not claimed */
	assert_null(strstr(res.body.p, "\"code\":\"transaction\""));
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
	assert_int_equal(call((struct call){ "PUT", "/fhir/Patient" }, &res), 501);
	assert_outcome(&res, "not-supported");
	assert_int_equal(call((struct call){ "POST", "/fhir", "{\"resourceType\":\"Bundle\",\"type\":\"transaction\"}" }, &res), 501);
	assert_int_equal(call((struct call){ "GET", "/fhir/Patient/1/$no-such-operation" }, &res), 501);
	assert_int_equal(call((struct call){ "PATCH", "/fhir/Patient" }, &res), 405);
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
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
