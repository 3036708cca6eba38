/* Search through the in-process seam: a real store, hand-written expected
 * result sets. The integration suite (tests/search) covers more cases over
 * HTTP; this one pins the store-level behaviour: index rows follow writes,
 * paging is stable while data change, and bad input is a 400. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "api/api.h"
#include "base/json.h"

static char dir[64];
static struct store *st;
static struct api *api;

struct q {
	const char *method, *path, *prefer;
	const char *params[8][2];
};

static int call(struct q c, const char *body, struct api_response *res)
{
	struct api_request req = { 0 };

	req.method = c.method ? c.method : "GET";
	req.path = c.path;
	req.host = "fhir.test";
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.content_type = body ? "application/fhir+json" : NULL;
	req.prefer = c.prefer;
	req.url_len = strlen(c.path);
	for (int i = 0; i < 8 && c.params[i][0]; i++) {
		req.params[i].name = c.params[i][0];
		req.params[i].value = c.params[i][1];
		req.n_params++;
	}
	api_response_release(res);
	api_response_init(res);
	return api_handle(api, &req, res);
}

static void put(const char *path, const char *body)
{
	struct api_response res;
	int status;

	api_response_init(&res);
	status = call((struct q){ "PUT", path }, body, &res);
	if (status != 200 && status != 201)
		fail_msg("PUT %s: %d %s", path, status, res.body.p);
	api_response_release(&res);
}

/* Runs a search and returns "Type/id Type/id ..." of its entries in order
 * (match entries, then "+Type/id" for includes), following next links when
 * all_pages. */
static char *search(struct q c, int all_pages, int *status_out)
{
	static char out[4096];
	struct api_response res;
	char cursor[600] = "";

	out[0] = '\0';
	api_response_init(&res);
	for (;;) {
		struct json_object *b = NULL, *entries, *links;
		struct err e = { 0 };
		struct q page = c;
		int status, i;
		const char *next = NULL;

		if (cursor[0]) {
			for (i = 0; i < 7 && page.params[i][0]; i++)
				;
			page.params[i][0] = "_cursor";
			page.params[i][1] = cursor;
		}
		status = call(page, NULL, &res);
		if (status_out)
			*status_out = status;
		if (status != 200)
			break;
		assert_int_equal(json_parse(res.body.p, res.body.n, 64, &b, &e), 0);
		if (json_object_object_get_ex(b, "entry", &entries)) {
			for (size_t k = 0; k < json_object_array_length(entries); k++) {
				struct json_object *en = json_object_array_get_idx(entries, k), *r, *s;
				const char *mode;

				json_object_object_get_ex(en, "resource", &r);
				json_object_object_get_ex(en, "search", &s);
				mode = json_get_str(s, "mode");
				if (!strcmp(mode, "outcome"))
					continue;
				snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s%s/%s",
					 out[0] ? " " : "", !strcmp(mode, "include") ? "+" : "",
					 json_get_str(r, "resourceType"), json_get_str(r, "id"));
			}
		}
		if (json_object_object_get_ex(b, "link", &links))
			for (size_t k = 0; k < json_object_array_length(links); k++) {
				struct json_object *l = json_object_array_get_idx(links, k);

				if (!strcmp(json_get_str(l, "relation"), "next"))
					next = strstr(json_get_str(l, "url"), "_cursor=");
			}
		if (next && all_pages) {
			snprintf(cursor, sizeof(cursor), "%s", next + 8);
			json_object_put(b);
			continue;
		}
		json_object_put(b);
		break;
	}
	api_response_release(&res);
	return out;
}

static int cmp_words(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The words of s sorted, includes ("+…") after matches: without _sort the
 * order of a page is the server's choice. */
static char *sorted(const char *s)
{
	static char buf[2][4096];	/* two results live at once: got and want */
	static int turn;
	char *out = buf[turn ^= 1];
	char tmp[4096], *w[256], *save = NULL;
	size_t n = 0, nm;

	snprintf(tmp, sizeof(tmp), "%s", s);
	for (char *t = strtok_r(tmp, " ", &save); t && n < 256; t = strtok_r(NULL, " ", &save))
		w[n++] = t;
	for (nm = 0; nm < n && w[nm][0] != '+'; nm++)
		;
	qsort(w, nm, sizeof(w[0]), cmp_words);
	qsort(w + nm, n - nm, sizeof(w[0]), cmp_words);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		snprintf(out + strlen(out), sizeof(buf[0]) - strlen(out), "%s%s", i ? " " : "", w[i]);
	return out;
}

#define EXPECT(want, ...) assert_string_equal(sorted(search((struct q){ __VA_ARGS__ }, 1, NULL)), sorted(want))
#define EXPECT_ORDER(want, ...) assert_string_equal(search((struct q){ __VA_ARGS__ }, 1, NULL), want)

static int expect_status(struct q c)
{
	int status = 0;

	search(c, 0, &status);
	return status;
}

static const char *const fixture[][2] = {
	{ "/fhir/Organization/o1", "{\"resourceType\":\"Organization\",\"id\":\"o1\",\"name\":\"Bệnh viện Chợ Rẫy\"}" },
	{ "/fhir/Patient/p1",
	  "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"gender\":\"female\",\"birthDate\":\"1980-05-17\","
	  "\"name\":[{\"family\":\"Nguyễn\",\"given\":[\"Thị\",\"Hồng\"]}],"
	  "\"identifier\":[{\"system\":\"http://fhir.lienthong.vn/sid/cccd\",\"value\":\"079180001234\"}],"
	  "\"managingOrganization\":{\"reference\":\"Organization/o1\"}}" },
	{ "/fhir/Patient/p2",
	  "{\"resourceType\":\"Patient\",\"id\":\"p2\",\"gender\":\"male\",\"birthDate\":\"1980-05\","
	  "\"name\":[{\"family\":\"Trần\",\"given\":[\"Văn\",\"Nam\"]}],"
	  "\"identifier\":[{\"system\":\"http://fhir.lienthong.vn/sid/cccd\",\"value\":\"079080005678\"}]}" },
	{ "/fhir/Patient/p3",
	  "{\"resourceType\":\"Patient\",\"id\":\"p3\",\"birthDate\":\"1975\",\"active\":true,"
	  "\"name\":[{\"family\":\"Lê\",\"given\":[\"Minh\"]}]}" },
	{ "/fhir/Observation/g1",
	  "{\"resourceType\":\"Observation\",\"id\":\"g1\",\"status\":\"final\","
	  "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"2345-7\"}],\"text\":\"Glucose máu\"},"
	  "\"subject\":{\"reference\":\"Patient/p1\"},\"effectiveDateTime\":\"2026-11-02T08:30:00+07:00\","
	  "\"valueQuantity\":{\"value\":126,\"unit\":\"mg/dL\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"mg/dL\"}}" },
	{ "/fhir/Observation/g2",
	  "{\"resourceType\":\"Observation\",\"id\":\"g2\",\"status\":\"final\","
	  "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"2345-7\"}]},"
	  "\"subject\":{\"reference\":\"Patient/p2\"},\"effectiveDateTime\":\"2025-01-15\","
	  "\"valueQuantity\":{\"value\":5.4,\"unit\":\"mmol/L\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"mmol/L\"}}" },
	{ "/fhir/Observation/h1",
	  "{\"resourceType\":\"Observation\",\"id\":\"h1\",\"status\":\"preliminary\","
	  "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"4548-4\"}]},"
	  "\"subject\":{\"reference\":\"Patient/p1\"},\"effectiveDateTime\":\"2026-11-02\","
	  "\"valueQuantity\":{\"value\":7.1,\"unit\":\"%\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"%\"}}" },
};

static int setup(void **state)
{
	struct store_config sc = { .backend = "sqlite" };
	struct api_config ac = { .limits = { 1 << 20, 8192, 64 } };
	struct err e = { 0 };

	snprintf(dir, sizeof(dir), "/tmp/lt-test-search-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	sc.data_dir = dir;
	if (store_open(&sc, &st, &e) || api_new(&ac, st, &api, &e))
		return -1;
	for (size_t i = 0; i < sizeof(fixture) / sizeof(fixture[0]); i++)
		put(fixture[i][0], fixture[i][1]);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	api_free(api);
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void strings_fold_accents(void **state)
{
	EXPECT("Patient/p1", .path = "/fhir/Patient", .params = { { "name", "nguyen" } });
	EXPECT("Patient/p1", .path = "/fhir/Patient", .params = { { "family", "NGUYỄN" } });
	EXPECT("", .path = "/fhir/Patient", .params = { { "family:exact", "Nguyen" } });
	EXPECT("Patient/p1", .path = "/fhir/Patient", .params = { { "family:exact", "Nguyễn" } });
	EXPECT("Patient/p2", .path = "/fhir/Patient", .params = { { "name:contains", "ran" } });
	EXPECT("Patient/p1 Patient/p2", .path = "/fhir/Patient", .params = { { "given", "hong,nam" } });
	EXPECT("Organization/o1", .path = "/fhir/Organization", .params = { { "name", "benh vien cho" } });
}

static void tokens(void **state)
{
	EXPECT("Observation/g1 Observation/g2", .path = "/fhir/Observation",
	       .params = { { "code", "http://loinc.org|2345-7" } });
	EXPECT("Observation/g1 Observation/g2", .path = "/fhir/Observation", .params = { { "code", "2345-7" } });
	EXPECT("", .path = "/fhir/Observation", .params = { { "code", "|2345-7" } });
	EXPECT("Observation/g1 Observation/g2 Observation/h1", .path = "/fhir/Observation",
	       .params = { { "code", "http://loinc.org|" } });
	EXPECT("Observation/h1", .path = "/fhir/Observation", .params = { { "status:not", "final" } });
	EXPECT("Observation/g1", .path = "/fhir/Observation", .params = { { "code:text", "glucose" } });
	EXPECT("Patient/p2", .path = "/fhir/Patient",
	       .params = { { "identifier", "http://fhir.lienthong.vn/sid/cccd|079080005678" } });
	EXPECT("Patient/p3", .path = "/fhir/Patient", .params = { { "gender:missing", "true" } });
	EXPECT("Patient/p3", .path = "/fhir/Patient", .params = { { "active", "true" } });
	EXPECT("Patient/p1 Patient/p2", .path = "/fhir/Patient",
	       .params = { { "gender:in", "http://hl7.org/fhir/ValueSet/administrative-gender" } });
	EXPECT("Patient/p3", .path = "/fhir/Patient",
	       .params = { { "gender:not-in", "http://hl7.org/fhir/ValueSet/administrative-gender" } });
	EXPECT("", .path = "/fhir/Observation",
	       .params = { { "status:not-in", "http://hl7.org/fhir/ValueSet/observation-status|4.0.1" } });
}

static void dates_and_prefixes(void **state)
{
	/* p1 1980-05-17, p2 1980-05 (the whole month), p3 1975 (the whole year) */
	EXPECT("Patient/p1 Patient/p2", .path = "/fhir/Patient", .params = { { "birthdate", "1980" } });
	EXPECT("Patient/p1", .path = "/fhir/Patient", .params = { { "birthdate", "1980-05-17" } });
	EXPECT("Patient/p2", .path = "/fhir/Patient", .params = { { "birthdate", "gt1980-05-17" } });
	EXPECT("Patient/p2 Patient/p3", .path = "/fhir/Patient", .params = { { "birthdate", "lt1980-05-17" } });
	EXPECT("Patient/p1 Patient/p2", .path = "/fhir/Patient", .params = { { "birthdate", "ge1980-05-17" } });
	EXPECT("Patient/p3", .path = "/fhir/Patient", .params = { { "birthdate", "eb1980" } });
	EXPECT("Patient/p1 Patient/p2", .path = "/fhir/Patient", .params = { { "birthdate", "sa1979" } });
	EXPECT("Patient/p2 Patient/p3", .path = "/fhir/Patient", .params = { { "birthdate", "ne1980-05-17" } });
	EXPECT("Observation/g1 Observation/h1", .path = "/fhir/Observation",
	       .params = { { "date", "ge2026-01-01" }, { "date", "lt2027" } });
	/* 08:30 at +07:00 is 01:30 UTC */
	EXPECT("Observation/g1", .path = "/fhir/Observation", .params = { { "date", "2026-11-02T01:30:00Z" } });
}

static void quantities(void **state)
{
	EXPECT("Observation/g1", .path = "/fhir/Observation", .params = { { "value-quantity", "gt100" } });
	EXPECT("Observation/g2", .path = "/fhir/Observation",
	       .params = { { "value-quantity", "5.4|http://unitsofmeasure.org|mmol/L" } });
	EXPECT("Observation/g2", .path = "/fhir/Observation", .params = { { "value-quantity", "5.4||mmol/L" } });
	EXPECT("Observation/g2", .path = "/fhir/Observation", .params = { { "value-quantity", "5" } });
	EXPECT("", .path = "/fhir/Observation", .params = { { "value-quantity", "5.0" } });
	EXPECT("Observation/g2 Observation/h1", .path = "/fhir/Observation", .params = { { "value-quantity", "le7.1" } });
	EXPECT("Observation/g1", .path = "/fhir/Observation", .params = { { "value-quantity", "ap120" } });
}

static void references_chains_and_has(void **state)
{
	EXPECT("Observation/g1 Observation/h1", .path = "/fhir/Observation", .params = { { "subject", "Patient/p1" } });
	EXPECT("Observation/g1 Observation/h1", .path = "/fhir/Observation", .params = { { "patient", "p1" } });
	EXPECT("Observation/g1 Observation/h1", .path = "/fhir/Observation",
	       .params = { { "subject:Patient", "p1" } });
	EXPECT("Observation/g1 Observation/h1", .path = "/fhir/Observation",
	       .params = { { "subject", "http://fhir.test/fhir/Patient/p1" } });
	EXPECT("Observation/g2", .path = "/fhir/Observation", .params = { { "subject.name", "tran" } });
	EXPECT("Observation/g1 Observation/h1", .path = "/fhir/Observation",
	       .params = { { "subject:Patient.organization.name", "benh vien" } });
	EXPECT("Observation/g2", .path = "/fhir/Observation",
	       .params = { { "subject.identifier", "079080005678" } });
	EXPECT("Patient/p1", .path = "/fhir/Patient", .params = { { "_has:Observation:subject:code", "4548-4" } });
	EXPECT("Observation/g1 Observation/h1", .path = "/fhir/Patient/p1/Observation");
	EXPECT("Observation/g1 +Patient/p1", .path = "/fhir/Observation",
	       .params = { { "_id", "g1" }, { "_include", "Observation:subject" } });
	EXPECT("Patient/p2 +Observation/g2", .path = "/fhir/Patient",
	       .params = { { "_id", "p2" }, { "_revinclude", "Observation:subject" } });
	EXPECT("Observation/g1 +Patient/p1 +Organization/o1", .path = "/fhir/Observation",
	       .params = { { "_id", "g1" }, { "_include", "Observation:subject" },
			   { "_include:iterate", "Patient:organization" } });
}

static void sorting(void **state)
{
	EXPECT_ORDER("Patient/p2 Patient/p1 Patient/p3", .path = "/fhir/Patient", .params = { { "_sort", "-birthdate" } });
	EXPECT_ORDER("Patient/p3 Patient/p1 Patient/p2", .path = "/fhir/Patient", .params = { { "_sort", "family" } });
	EXPECT_ORDER("Observation/g2 Observation/h1 Observation/g1", .path = "/fhir/Observation",
	       .params = { { "_sort", "date,-code" } });
}

/* Pages of 1 see every match once, also when a write lands between pages. */
static void paging_is_stable(void **state)
{
	char first[64];

	snprintf(first, sizeof(first), "%s",
		 search((struct q){ .path = "/fhir/Patient", .params = { { "_count", "1" }, { "_sort", "family" } } }, 0, NULL));
	assert_string_equal(first, "Patient/p3");
	EXPECT_ORDER("Patient/p3 Patient/p1 Patient/p2", .path = "/fhir/Patient",
	       .params = { { "_count", "1" }, { "_sort", "family" } });
	EXPECT_ORDER("Patient/p1 Patient/p2 Patient/p3", .path = "/fhir/Patient", .params = { { "_count", "2" } });
}

static void writes_move_the_index(void **state)
{
	struct api_response res;

	put("/fhir/Patient/p9", "{\"resourceType\":\"Patient\",\"id\":\"p9\",\"name\":[{\"family\":\"Phạm\"}]}");
	EXPECT("Patient/p9", .path = "/fhir/Patient", .params = { { "family", "pham" } });
	put("/fhir/Patient/p9", "{\"resourceType\":\"Patient\",\"id\":\"p9\",\"name\":[{\"family\":\"Võ\"}]}");
	EXPECT("", .path = "/fhir/Patient", .params = { { "family", "pham" } });
	EXPECT("Patient/p9", .path = "/fhir/Patient", .params = { { "family", "vo" } });
	api_response_init(&res);
	assert_int_equal(call((struct q){ "DELETE", "/fhir/Patient/p9" }, NULL, &res), 200);
	api_response_release(&res);
	EXPECT("", .path = "/fhir/Patient", .params = { { "family", "vo" } });
	EXPECT("", .path = "/fhir/Patient", .params = { { "_id", "p9" } });
}

/* A union parameter (combo-code is code | component-code) has no rows of
 * its own: it reads its two parts' rows, in every form of search. */
static void union_parameters(void **state)
{
	struct api_response res;

	put("/fhir/Observation/bp1",
	    "{\"resourceType\":\"Observation\",\"id\":\"bp1\",\"status\":\"final\","
	    "\"subject\":{\"reference\":\"Patient/p3\"},"
	    "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"85354-9\"}]},"
	    "\"component\":[{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8480-6\"}],"
	    "\"text\":\"Tâm thu\"},\"valueQuantity\":{\"value\":150,\"system\":\"http://unitsofmeasure.org\","
	    "\"code\":\"mm[Hg]\"}},{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\","
	    "\"code\":\"8462-4\"}]},\"valueQuantity\":{\"value\":80,"
	    "\"system\":\"http://unitsofmeasure.org\",\"code\":\"mm[Hg]\"}}]}");
	EXPECT("", .path = "/fhir/Observation", .params = { { "code", "8480-6" } });
	EXPECT("Observation/bp1", .path = "/fhir/Observation", .params = { { "component-code", "8480-6" } });
	EXPECT("Observation/bp1", .path = "/fhir/Observation", .params = { { "combo-code", "8480-6" } });
	EXPECT("Observation/bp1", .path = "/fhir/Observation",
	       .params = { { "combo-code", "http://loinc.org|85354-9" } });
	EXPECT("Observation/g1 Observation/g2 Observation/bp1", .path = "/fhir/Observation",
	       .params = { { "combo-code", "2345-7,8462-4" } });
	EXPECT("Observation/bp1", .path = "/fhir/Observation", .params = { { "combo-code:text", "tam thu" } });
	EXPECT("Observation/g1 Observation/g2 Observation/h1", .path = "/fhir/Observation",
	       .params = { { "combo-code:not", "8480-6" } });
	/* values: g1 126 mg/dL, g2 5.4 mmol/L, h1 7.1 %, bp1 150 and 80 mm[Hg] */
	EXPECT("Observation/g1 Observation/bp1", .path = "/fhir/Observation",
	       .params = { { "combo-value-quantity", "gt100" } });
	EXPECT("Observation/bp1", .path = "/fhir/Observation",
	       .params = { { "combo-value-quantity", "80|http://unitsofmeasure.org|mm[Hg]" } });
	EXPECT("Observation/g2", .path = "/fhir/Observation",
	       .params = { { "combo-value-quantity", "5400|http://unitsofmeasure.org|umol/L" } });
	/* two bounds hold for one value: 150 and 80 are not both in (90, 100) */
	EXPECT("", .path = "/fhir/Observation",
	       .params = { { "combo-value-quantity", "gt100" }, { "combo-value-quantity", "lt90" } });
	EXPECT("Observation/g1", .path = "/fhir/Observation",
	       .params = { { "combo-value-quantity", "gt100" }, { "combo-value-quantity", "lt140" } });
	EXPECT("Observation/bp1", .path = "/fhir/Observation",
	       .params = { { "combo-code-value-quantity", "8480-6$gt140" } });
	EXPECT("Observation/g1", .path = "/fhir/Observation",
	       .params = { { "combo-code-value-quantity", "2345-7$gt100" } });
	EXPECT("", .path = "/fhir/Observation", .params = { { "combo-code-value-quantity", "8462-4$gt140" } });
	EXPECT("", .path = "/fhir/Observation", .params = { { "combo-code:missing", "true" } });
	EXPECT("Observation/g1 Observation/g2 Observation/h1 Observation/bp1", .path = "/fhir/Observation",
	       .params = { { "combo-code:missing", "false" } });
	EXPECT("Patient/p3", .path = "/fhir/Patient", .params = { { "_has:Observation:subject:combo-code", "8480-6" } });
	EXPECT("Observation/g1 Observation/g2 Observation/h1 Observation/bp1", .path = "/fhir/Observation",
	       .params = { { "combo-data-absent-reason:missing", "true" } });
	/* the least code of each: 2345-7, 2345-7, 4548-4, 8462-4; pages of one */
	EXPECT_ORDER("Observation/g1 Observation/g2 Observation/h1 Observation/bp1",
		     .path = "/fhir/Observation", .params = { { "_sort", "combo-code,_id" }, { "_count", "1" } });
	EXPECT_ORDER("Observation/bp1 Observation/h1 Observation/g2 Observation/g1",
		     .path = "/fhir/Observation", .params = { { "_sort", "-combo-code,-_id" } });
	api_response_init(&res);
	assert_int_equal(call((struct q){ "DELETE", "/fhir/Observation/bp1" }, NULL, &res), 200);
	api_response_release(&res);
	EXPECT("", .path = "/fhir/Observation", .params = { { "combo-code", "8480-6" } });
}

static void bad_input_is_400(void **state)
{
	assert_int_equal(expect_status((struct q){ .path = "/fhir/Patient", .params = { { "birthdate", "xx1980" } } }), 400);
	assert_int_equal(expect_status((struct q){ .path = "/fhir/Patient", .params = { { "birthdate", "1980-13" } } }), 400);
	assert_int_equal(expect_status((struct q){ .path = "/fhir/Patient", .params = { { "name:bogus", "x" } } }), 400);
	assert_int_equal(expect_status((struct q){ .path = "/fhir/Patient", .params = { { "_sort", "nope" } } }), 400);
	assert_int_equal(expect_status((struct q){ .path = "/fhir/Patient", .params = { { "_count", "-1" } } }), 400);
	assert_int_equal(expect_status((struct q){ .path = "/fhir/Patient",
		.params = { { "gender:in", "http://example.org/ValueSet/unknown" } } }), 400);
	assert_int_equal(expect_status((struct q){ .path = "/fhir/Patient", .params = { { "_cursor", "zz" } } }), 400);
	assert_int_equal(expect_status((struct q){ .path = "/fhir/Observation", .params = { { "subject.nope", "x" } } }), 400);
	assert_int_equal(expect_status((struct q){ .path = "/fhir/Observation", .params = { { "value-quantity", "1|a" } } }), 400);
	assert_int_equal(expect_status((struct q){ .path = "/fhir/Patient", .params = { { "_has:Nope:x:y", "1" } } }), 400);
	/* the deepest chain allowed runs (SQLite's parser stack is bounded); one more is 400 */
	assert_int_equal(expect_status((struct q){ .path = "/fhir/Observation",
		.params = { { "subject:Patient.organization.partof.partof.name", "x" } } }), 200);
	assert_int_equal(expect_status((struct q){ .path = "/fhir/Observation",
		.params = { { "subject:Patient.organization.partof.partof.partof.name", "x" } } }), 400);
	assert_int_equal(expect_status((struct q){ .path = "/fhir/Observation",
		.params = { { "subject.organization.partof.partof.name", "x" } } }), 200);
	assert_int_equal(expect_status((struct q){ .path = "/fhir/Patient",
		.params = { { "_has:Observation:subject:_has:DiagnosticReport:result:_has:Provenance:target:_has:AuditEvent:entity:_id", "1" } } }), 200);
	assert_int_equal(expect_status((struct q){ .path = "/fhir/Observation",
		.params = { { "subject:Patient._has:Observation:subject:subject:Patient.organization.name", "x" } } }), 200);
	/* focus targets every type: those whose `location` is not a reference
	 * (BodyStructure: a token) are skipped, not an error */
	assert_int_equal(expect_status((struct q){ .path = "/fhir/Observation",
		.params = { { "focus.location.name", "x" } } }), 200);
	/* a chain through references to any type at every link fans out: 400, not a
	 * silently partial answer or minutes of work */
	assert_int_equal(expect_status((struct q){ .path = "/fhir/Observation",
		.params = { { "focus.focus.focus.focus._id", "x" } } }), 400);
	/* ...and a chain no target takes is 400 */
	assert_int_equal(expect_status((struct q){ .path = "/fhir/Observation",
		.params = { { "subject:Patient.gender.name", "x" } } }), 400);
	/* unknown: ignored, unless strict */
	assert_int_equal(expect_status((struct q){ .path = "/fhir/Patient", .params = { { "nope", "1" } } }), 200);
	assert_int_equal(expect_status((struct q){ .path = "/fhir/Patient", .prefer = "handling=strict",
						   .params = { { "nope", "1" } } }), 400);
}

static void summary_count(void **state)
{
	struct api_response res;
	struct json_object *b = NULL, *total;
	struct err e = { 0 };

	api_response_init(&res);
	assert_int_equal(call((struct q){ .path = "/fhir/Observation", .params = { { "_summary", "count" } } }, NULL, &res), 200);
	assert_int_equal(json_parse(res.body.p, res.body.n, 64, &b, &e), 0);
	assert_true(json_object_object_get_ex(b, "total", &total));
	assert_int_equal(json_object_get_int(total), 3);
	assert_false(json_object_object_get_ex(b, "entry", NULL));
	json_object_put(b);
	api_response_release(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(strings_fold_accents),
		cmocka_unit_test(tokens),
		cmocka_unit_test(dates_and_prefixes),
		cmocka_unit_test(quantities),
		cmocka_unit_test(references_chains_and_has),
		cmocka_unit_test(sorting),
		cmocka_unit_test(paging_is_stable),
		cmocka_unit_test(summary_count),
		cmocka_unit_test(union_parameters),
		cmocka_unit_test(bad_input_is_400),
		cmocka_unit_test(writes_move_the_index),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
