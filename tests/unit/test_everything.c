/* Patient/$everything through the in-process seam: a real store, a small
 * record written by hand, and the exact sets each request must return.
 * tests/integration/everything.sh checks a generated record of hundreds of
 * resources over HTTP against what the generator wrote. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "api/api.h"
#include "base/json.h"
#include "base/time.h"

#define OUT_MAX 8192

static char dir[64];
static struct store *st;
static struct api *api;

struct q {
	const char *method, *path, *prefer, *content_type, *body;
	const char *params[8][2];
};

static int call(struct q c, struct api_response *res)
{
	struct api_request req = { 0 };

	req.method = c.method ? c.method : "GET";
	req.path = c.path;
	req.host = "fhir.test";
	req.body = c.body;
	req.body_len = c.body ? strlen(c.body) : 0;
	req.content_type = c.content_type ? c.content_type : c.body ? "application/fhir+json" : NULL;
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

static void write_one(const char *method, const char *path, const char *body)
{
	struct api_response res;
	int status;

	api_response_init(&res);
	status = call((struct q){ method, path, .body = body }, &res);
	if (status != 200 && status != 201)
		fail_msg("%s %s: %d %s", method, path, status, res.body.p);
	api_response_release(&res);
}

static int cmp_words(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The words of s sorted, each once ("" stays ""). */
static void sort_words(char *s, size_t cap)
{
	char tmp[OUT_MAX], *w[512], *save = NULL;
	size_t n = 0;

	snprintf(tmp, sizeof(tmp), "%s", s);
	for (char *t = strtok_r(tmp, " ", &save); t && n < 512; t = strtok_r(NULL, " ", &save))
		w[n++] = t;
	qsort(w, n, sizeof(w[0]), cmp_words);
	s[0] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!i || strcmp(w[i], w[i - 1]))
			snprintf(s + strlen(s), cap - strlen(s), "%s%s", s[0] ? " " : "", w[i]);
}

/* What a $everything request returned over all its pages (following next
 * links, calling between(page) after each page when given): the matches
 * ("Type/id ...") and the included resources, each sorted. A match twice,
 * a page over _count or an entry whose fullUrl is not its resource fails. */
struct record {
	int status, pages;
	char match[OUT_MAX], include[OUT_MAX], outcome[1024];
	long long total;		/* -1 when absent */
};

static void fetch(struct q c, int count, struct record *r, void (*between)(int page))
{
	struct api_response res;
	char cursor[600] = "", *unsorted = malloc(OUT_MAX);

	memset(r, 0, sizeof(*r));
	r->total = -1;
	unsorted[0] = '\0';
	api_response_init(&res);
	for (;;) {
		struct json_object *b = NULL, *entries, *links, *total;
		struct err e = { 0 };
		struct q page = c;
		const char *next = NULL;
		int i, n_match = 0;

		for (i = 0; i < 7 && page.params[i][0]; i++)
			;
		if (cursor[0]) {
			page.params[i][0] = "_cursor";
			page.params[i++][1] = cursor;
		}
		r->status = call(page, &res);
		if (r->status != 200)
			break;
		r->pages++;
		assert_int_equal(json_parse(res.body.p, res.body.n, 64, &b, &e), 0);
		assert_string_equal(json_get_str(b, "type"), "searchset");
		if (r->pages == 1 && json_object_object_get_ex(b, "total", &total))
			r->total = json_object_get_int64(total);
		if (json_object_object_get_ex(b, "entry", &entries)) {
			for (size_t k = 0; k < json_object_array_length(entries); k++) {
				struct json_object *en = json_object_array_get_idx(entries, k), *res_, *s;
				char name[160], url[256], *list;
				const char *mode;

				json_object_object_get_ex(en, "resource", &res_);
				json_object_object_get_ex(en, "search", &s);
				mode = json_get_str(s, "mode");
				if (!strcmp(mode, "outcome")) {
					snprintf(r->outcome, sizeof(r->outcome), "%s", json_object_to_json_string(res_));
					continue;
				}
				snprintf(name, sizeof(name), "%s/%s", json_get_str(res_, "resourceType"),
					 json_get_str(res_, "id"));
				snprintf(url, sizeof(url), "http://fhir.test/fhir/%s", name);
				assert_string_equal(json_get_str(en, "fullUrl"), url);
				if (!strcmp(mode, "match")) {
					char padded[170];

					snprintf(padded, sizeof(padded), " %s ", name);
					if (strstr(unsorted, padded))
						fail_msg("%s is a match on two pages", name);
					snprintf(unsorted + strlen(unsorted), OUT_MAX - strlen(unsorted), " %s ", name);
					n_match++;
					list = r->match;
				} else {
					assert_string_equal(mode, "include");
					list = r->include;
				}
				snprintf(list + strlen(list), OUT_MAX - strlen(list), "%s%s", list[0] ? " " : "", name);
			}
		}
		if (count)
			assert_true(n_match <= count);
		if (json_object_object_get_ex(b, "link", &links))
			for (size_t k = 0; k < json_object_array_length(links); k++) {
				struct json_object *l = json_object_array_get_idx(links, k);

				if (!strcmp(json_get_str(l, "relation"), "next"))
					next = strstr(json_get_str(l, "url"), "_cursor=");
			}
		if (next)
			snprintf(cursor, sizeof(cursor), "%s", next + 8);
		json_object_put(b);
		if (between)
			between(r->pages);
		if (!next)
			break;
	}
	api_response_release(&res);
	free(unsorted);
	sort_words(r->match, sizeof(r->match));
	sort_words(r->include, sizeof(r->include));
}

/* Expects the record of a request: matches and includes, each as a sorted
 * list ("" for none). */
#define EXPECT(want_match, want_include, ...)                                      \
	do {                                                                       \
		struct record rec_;                                                \
		char wm_[OUT_MAX] = want_match, wi_[OUT_MAX] = want_include;       \
		fetch((struct q){ __VA_ARGS__ }, 0, &rec_, NULL);                  \
		assert_int_equal(rec_.status, 200);                                \
		sort_words(wm_, sizeof(wm_));                                      \
		sort_words(wi_, sizeof(wi_));                                      \
		assert_string_equal(rec_.match, wm_);                              \
		assert_string_equal(rec_.include, wi_);                            \
	} while (0)

static int status_of(struct q c)
{
	struct api_response res;
	int status;

	api_response_init(&res);
	status = call(c, &res);
	if (status >= 400) {	/* every error is an OperationOutcome */
		struct json_object *o = NULL;
		struct err e = { 0 };

		assert_int_equal(json_parse(res.body.p, res.body.n, 64, &o, &e), 0);
		assert_string_equal(json_get_str(o, "resourceType"), "OperationOutcome");
		json_object_put(o);
	}
	api_response_release(&res);
	return status;
}

/* p1's record: itself, obs1, e1, mr1, c1 (an absolute reference on this
 * server's base), dr1, and p3 (whose link points at p1), with what they
 * refer to outside any patient compartment. obs2 and g1 are p2's; obs-far
 * refers to a Patient/p1 on another server; dr1's result obs2 is another
 * patient's Observation and must not come with p1's record. */
static const char *const fixture[][2] = {
	{ "/fhir/Organization/o1", "{\"resourceType\":\"Organization\",\"id\":\"o1\",\"name\":\"Bệnh viện Chợ Rẫy\"}" },
	{ "/fhir/Organization/o2", "{\"resourceType\":\"Organization\",\"id\":\"o2\",\"name\":\"Bệnh viện Nhân dân 115\"}" },
	{ "/fhir/Practitioner/pr1", "{\"resourceType\":\"Practitioner\",\"id\":\"pr1\"}" },
	{ "/fhir/Practitioner/pr2", "{\"resourceType\":\"Practitioner\",\"id\":\"pr2\"}" },
	{ "/fhir/Practitioner/pr3", "{\"resourceType\":\"Practitioner\",\"id\":\"pr3\"}" },
	{ "/fhir/Location/l1", "{\"resourceType\":\"Location\",\"id\":\"l1\",\"managingOrganization\":{\"reference\":\"Organization/o2\"}}" },
	{ "/fhir/Medication/m1", "{\"resourceType\":\"Medication\",\"id\":\"m1\"}" },
	{ "/fhir/Patient/p1",
	  "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"generalPractitioner\":[{\"reference\":\"Practitioner/pr1\"}],"
	  "\"managingOrganization\":{\"reference\":\"Organization/o1\"}}" },
	{ "/fhir/Patient/p2", "{\"resourceType\":\"Patient\",\"id\":\"p2\"}" },
	{ "/fhir/Patient/p3",
	  "{\"resourceType\":\"Patient\",\"id\":\"p3\",\"link\":[{\"other\":{\"reference\":\"Patient/p1\"},\"type\":\"seealso\"}]}" },
	{ "/fhir/Observation/obs1",
	  "{\"resourceType\":\"Observation\",\"id\":\"obs1\",\"status\":\"final\",\"code\":{\"text\":\"glucose\"},"
	  "\"subject\":{\"reference\":\"Patient/p1\"},\"performer\":[{\"reference\":\"Practitioner/pr2\"}]}" },
	{ "/fhir/Observation/obs2",
	  "{\"resourceType\":\"Observation\",\"id\":\"obs2\",\"status\":\"final\",\"code\":{\"text\":\"glucose\"},"
	  "\"subject\":{\"reference\":\"Patient/p2\"},\"performer\":[{\"reference\":\"Practitioner/pr3\"}]}" },
	{ "/fhir/Observation/obs-far",
	  "{\"resourceType\":\"Observation\",\"id\":\"obs-far\",\"status\":\"final\",\"code\":{\"text\":\"glucose\"},"
	  "\"subject\":{\"reference\":\"http://other.example/fhir/Patient/p1\"}}" },
	{ "/fhir/Encounter/e1",
	  "{\"resourceType\":\"Encounter\",\"id\":\"e1\",\"status\":\"finished\","
	  "\"class\":{\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ActCode\",\"code\":\"AMB\"},"
	  "\"subject\":{\"reference\":\"Patient/p1\"},\"serviceProvider\":{\"reference\":\"Organization/o1\"},"
	  "\"location\":[{\"location\":{\"reference\":\"Location/l1\"}}]}" },
	{ "/fhir/MedicationRequest/mr1",
	  "{\"resourceType\":\"MedicationRequest\",\"id\":\"mr1\",\"status\":\"active\",\"intent\":\"order\","
	  "\"medicationReference\":{\"reference\":\"Medication/m1\"},\"subject\":{\"reference\":\"Patient/p1\"},"
	  "\"encounter\":{\"reference\":\"Encounter/e1\"},\"requester\":{\"reference\":\"Practitioner/pr1\"}}" },
	{ "/fhir/Condition/c1",
	  "{\"resourceType\":\"Condition\",\"id\":\"c1\",\"subject\":{\"reference\":\"http://fhir.test/fhir/Patient/p1\"}}" },
	{ "/fhir/DiagnosticReport/dr1",
	  "{\"resourceType\":\"DiagnosticReport\",\"id\":\"dr1\",\"status\":\"final\",\"code\":{\"text\":\"panel\"},"
	  "\"subject\":{\"reference\":\"Patient/p1\"},\"result\":[{\"reference\":\"Observation/obs2\"}]}" },
	{ "/fhir/Group/g1",
	  "{\"resourceType\":\"Group\",\"id\":\"g1\",\"type\":\"person\",\"actual\":true,"
	  "\"member\":[{\"entity\":{\"reference\":\"Patient/p2\"}}]}" },
};

#define P1_MATCH "Patient/p1 Patient/p3 Observation/obs1 Encounter/e1 MedicationRequest/mr1 " \
		 "Condition/c1 DiagnosticReport/dr1"
#define P1_INCLUDE "Practitioner/pr1 Practitioner/pr2 Organization/o1 Location/l1 Medication/m1"

static int setup(void **state)
{
	struct store_config sc = { .backend = "sqlite" };
	struct api_config ac = { .limits = { 1 << 20, 8192, 64 } };
	struct err e = { 0 };

	snprintf(dir, sizeof(dir), "/tmp/lt-test-everything-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	sc.data_dir = dir;
	if (store_open(&sc, &st, &e) || api_new(&ac, st, &api, &e))
		return -1;
	for (size_t i = 0; i < sizeof(fixture) / sizeof(fixture[0]); i++)
		write_one("PUT", fixture[i][0], fixture[i][1]);
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

static void one_patient(void **state)
{
	struct record r;

	EXPECT(P1_MATCH, P1_INCLUDE, .path = "/fhir/Patient/p1/$everything");
	EXPECT("Patient/p2 Observation/obs2 Group/g1", "Practitioner/pr3", .path = "/fhir/Patient/p2/$everything");
	/* The first page holds everything: the total comes for free. */
	fetch((struct q){ .path = "/fhir/Patient/p1/$everything" }, 0, &r, NULL);
	assert_int_equal(r.pages, 1);
	assert_int_equal(r.total, 7);
	/* POST without a body is the same request. */
	EXPECT(P1_MATCH, P1_INCLUDE, "POST", "/fhir/Patient/p1/$everything");
}

static void pages(void **state)
{
	struct record r;

	/* One match a page: every page brings what its match refers to. */
	fetch((struct q){ .path = "/fhir/Patient/p1/$everything", .params = { { "_count", "1" } } }, 1, &r, NULL);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.pages, 7);
	assert_int_equal(r.total, -1);
	assert_string_equal(r.match, "Condition/c1 DiagnosticReport/dr1 Encounter/e1 MedicationRequest/mr1 "
				     "Observation/obs1 Patient/p1 Patient/p3");
	assert_string_equal(r.include, "Location/l1 Medication/m1 Organization/o1 Practitioner/pr1 Practitioner/pr2");
	fetch((struct q){ .path = "/fhir/Patient/p1/$everything", .params = { { "_count", "3" } } }, 3, &r, NULL);
	assert_int_equal(r.pages, 3);
	/* _count=0: only the total. */
	fetch((struct q){ .path = "/fhir/Patient/p1/$everything", .params = { { "_count", "0" } } }, 0, &r, NULL);
	assert_int_equal(r.total, 7);
	assert_string_equal(r.match, "");
}

static void types(void **state)
{
	/* _type applies to the record and to what it refers to. */
	EXPECT("Observation/obs1", "Practitioner/pr2", .path = "/fhir/Patient/p1/$everything",
	       .params = { { "_type", "Observation,Practitioner" } });
	EXPECT("Observation/obs1", "", .path = "/fhir/Patient/p1/$everything", .params = { { "_type", "Observation" } });
	EXPECT("Patient/p1 Patient/p3", "", .path = "/fhir/Patient/p1/$everything", .params = { { "_type", "Patient" } });
	/* Repeated _type parameters add up. */
	EXPECT("Encounter/e1", "Organization/o1 Location/l1", .path = "/fhir/Patient/p1/$everything",
	       .params = { { "_type", "Encounter" }, { "_type", "Organization,Location" } });
}

static void post_parameters_and_form(void **state)
{
	EXPECT("Observation/obs1 Encounter/e1", "Practitioner/pr2", "POST", "/fhir/Patient/p1/$everything",
	       .body = "{\"resourceType\":\"Parameters\",\"parameter\":[{\"name\":\"_type\",\"valueCode\":\"Observation\"},"
		       "{\"name\":\"_type\",\"valueCode\":\"Encounter,Practitioner\"},{\"name\":\"_count\",\"valueInteger\":1}]}");
	EXPECT("Encounter/e1", "Location/l1", "POST", "/fhir/Patient/p1/$everything",
	       .content_type = "application/x-www-form-urlencoded", .body = "_type=Encounter%2CLocation&_count=5");
	assert_int_equal(status_of((struct q){ "POST", "/fhir/Patient/p1/$everything",
					       .body = "{\"resourceType\":\"Patient\"}" }), 400);
	assert_int_equal(status_of((struct q){ "POST", "/fhir/Patient/p1/$everything",
					       .body = "{\"resourceType\":\"Parameters\",\"parameter\":[{\"name\":\"_type\","
						       "\"valueCodeableConcept\":{\"text\":\"x\"}}]}" }), 400);
	assert_int_equal(status_of((struct q){ "POST", "/fhir/Patient/p1/$everything",
					       .body = "{\"resourceType\":\"Parameters\",\"parameter\":[{\"valueCode\":\"x\"}]}" }),
			 400);
	assert_int_equal(status_of((struct q){ "POST", "/fhir/Patient/p1/$everything", .content_type = "text/plain",
					       .body = "_type=Encounter" }), 415);
}

static void every_patient(void **state)
{
	struct record r;

	/* obs-far refers to another server's patient: in nobody's record here. */
	EXPECT("Patient/p1 Patient/p2 Patient/p3 Observation/obs1 Observation/obs2 Encounter/e1 "
	       "MedicationRequest/mr1 Condition/c1 DiagnosticReport/dr1 Group/g1",
	       P1_INCLUDE " Practitioner/pr3", .path = "/fhir/Patient/$everything");
	fetch((struct q){ .path = "/fhir/Patient/$everything", .params = { { "_count", "2" }, { "_type", "Patient,Group" } } },
	      2, &r, NULL);
	assert_int_equal(r.pages, 2);
	assert_string_equal(r.match, "Group/g1 Patient/p1 Patient/p2 Patient/p3");
	/* The type level is only for Patient. */
	assert_int_equal(status_of((struct q){ .path = "/fhir/Observation/$everything" }), 501);
	assert_int_equal(status_of((struct q){ .path = "/fhir/Observation/obs1/$everything" }), 501);
	assert_int_equal(status_of((struct q){ "DELETE", "/fhir/Patient/p1/$everything" }), 405);
}

/* Written between pages: a keyset cursor neither repeats nor skips a
 * resource that did not change. */
static void write_between(int page)
{
	if (page != 1)
		return;
	write_one("PUT", "/fhir/Observation/obs-late",
		  "{\"resourceType\":\"Observation\",\"id\":\"obs-late\",\"status\":\"final\",\"code\":{\"text\":\"x\"},"
		  "\"subject\":{\"reference\":\"Patient/p1\"}}");
	write_one("PUT", "/fhir/Condition/c0",	/* sorts before the cursor: not seen */
		  "{\"resourceType\":\"Condition\",\"id\":\"c0\",\"subject\":{\"reference\":\"Patient/p2\"}}");
}

static void paging_while_data_change(void **state)
{
	struct record r;

	fetch((struct q){ .path = "/fhir/Patient/p1/$everything", .params = { { "_count", "2" } } }, 2, &r,
	      write_between);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.match, "Condition/c1 DiagnosticReport/dr1 Encounter/e1 MedicationRequest/mr1 "
				     "Observation/obs-late Observation/obs1 Patient/p1 Patient/p3");
	write_one("DELETE", "/fhir/Observation/obs-late", NULL);
	write_one("DELETE", "/fhir/Condition/c0", NULL);
	EXPECT(P1_MATCH, P1_INCLUDE, .path = "/fhir/Patient/p1/$everything");
}

static void since(void **state)
{
	char at[TIME_INSTANT_LEN + 1];
	struct timespec pause = { 0, 5 * 1000 * 1000 };
	struct record r;

	nanosleep(&pause, NULL);
	time_format_instant(time_now_ms(), at);
	nanosleep(&pause, NULL);
	write_one("PUT", "/fhir/Observation/obs1",
		  "{\"resourceType\":\"Observation\",\"id\":\"obs1\",\"status\":\"amended\",\"code\":{\"text\":\"glucose\"},"
		  "\"subject\":{\"reference\":\"Patient/p1\"},\"performer\":[{\"reference\":\"Practitioner/pr2\"}]}");
	/* Only what changed since: pr2 did not, so it does not come. */
	EXPECT("Observation/obs1", "", .path = "/fhir/Patient/p1/$everything", .params = { { "_since", at } });
	EXPECT(P1_MATCH, P1_INCLUDE, .path = "/fhir/Patient/p1/$everything", .params = { { "_since", "2020-01-01" } });
	EXPECT("", "", .path = "/fhir/Patient/p1/$everything", .params = { { "_since", "2999-01-01T00:00:00Z" } });
	write_one("PUT", "/fhir/Practitioner/pr2", "{\"resourceType\":\"Practitioner\",\"id\":\"pr2\",\"active\":true}");
	EXPECT("Observation/obs1", "Practitioner/pr2", .path = "/fhir/Patient/p1/$everything", .params = { { "_since", at } });
	fetch((struct q){ .path = "/fhir/Patient/$everything", .params = { { "_since", at } } }, 0, &r, NULL);
	assert_string_equal(r.match, "Observation/obs1");
}

static void unknown_and_deleted(void **state)
{
	struct record r;

	assert_int_equal(status_of((struct q){ .path = "/fhir/Patient/nobody/$everything" }), 404);
	write_one("PUT", "/fhir/Patient/p4", "{\"resourceType\":\"Patient\",\"id\":\"p4\"}");
	write_one("PUT", "/fhir/Observation/obs4",
		  "{\"resourceType\":\"Observation\",\"id\":\"obs4\",\"status\":\"final\",\"code\":{\"text\":\"x\"},"
		  "\"subject\":{\"reference\":\"Patient/p4\"}}");
	EXPECT("Patient/p4 Observation/obs4", "", .path = "/fhir/Patient/p4/$everything");
	write_one("DELETE", "/fhir/Patient/p4", NULL);
	assert_int_equal(status_of((struct q){ .path = "/fhir/Patient/p4/$everything" }), 410);
	/* A deleted patient has no record among everyone's. */
	fetch((struct q){ .path = "/fhir/Patient/$everything", .params = { { "_type", "Observation" } } }, 0, &r, NULL);
	assert_string_equal(r.match, "Observation/obs1 Observation/obs2");
	write_one("DELETE", "/fhir/Observation/obs4", NULL);
}

static void parameters(void **state)
{
	static const char *const bad[][2] = {
		{ "_since", "yesterday" }, { "_since", "2026-02-30" }, { "_count", "ten" }, { "_count", "-1" },
		{ "_type", "Observatoin" }, { "_type", "Observation," }, { "_cursor", "zz" }, { "start", "soon" },
		{ "end", "2026-13-01" },
	};
	struct record r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int status = status_of((struct q){ .path = "/fhir/Patient/p1/$everything", .params = { { bad[i][0], bad[i][1] } } });

		if (status != 400)
			fail_msg("%s=%s: %d, not 400", bad[i][0], bad[i][1], status);
	}
	assert_int_equal(status_of((struct q){ .path = "/fhir/Patient/p1/$everything",
					       .params = { { "_count", "1" }, { "_count", "2" } } }), 400);
	/* start and end are taken and reported as ignored; so is an unknown
	 * parameter, which is 400 under handling=strict. */
	fetch((struct q){ .path = "/fhir/Patient/p1/$everything", .params = { { "start", "2020-01-01" }, { "end", "2026" } } },
	      0, &r, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.outcome, "'start' was ignored"));
	assert_non_null(strstr(r.outcome, "'end' was ignored"));
	fetch((struct q){ .path = "/fhir/Patient/p1/$everything", .params = { { "code", "x" } } }, 0, &r, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.outcome, "'code' was ignored"));
	assert_int_equal(status_of((struct q){ .path = "/fhir/Patient/p1/$everything", .prefer = "handling=strict",
					       .params = { { "code", "x" } } }), 400);
	assert_int_equal(status_of((struct q){ .path = "/fhir/Patient/p1/$everything", .prefer = "handling=strict",
					       .params = { { "_since", "2020" }, { "_pretty", "true" } } }), 200);
}

static void capability_lists_it(void **state)
{
	struct api_response res;

	api_response_init(&res);
	assert_int_equal(call((struct q){ .path = "/fhir/metadata" }, &res), 200);
	assert_non_null(strstr(res.body.p, "{\"name\":\"everything\",\"definition\":"
					   "\"http://hl7.org/fhir/OperationDefinition/Patient-everything\"}"));
	api_response_release(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_patient),
		cmocka_unit_test(pages),
		cmocka_unit_test(types),
		cmocka_unit_test(post_parameters_and_form),
		cmocka_unit_test(every_patient),
		cmocka_unit_test(paging_while_data_change),
		cmocka_unit_test(since),
		cmocka_unit_test(unknown_and_deleted),
		cmocka_unit_test(parameters),
		cmocka_unit_test(capability_lists_it),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
