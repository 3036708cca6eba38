/*
 * test_gen_hl7v2.c — the synthetic city as HL7 v2 (src/gen/gen_hl7v2.c):
 * every generated message parses with the project's own parser, says
 * UTF-8 v2.5.1, has a control id of its own, and maps (src/hl7v2) back to
 * the identifiers, names and lab values of the FHIR resources it came
 * from; the same seed gives the same bytes and patient i is the same alone;
 * delimiters in text are escaped; and a few patients' messages get AA from
 * the real API over a real store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api/api.h"
#include "base/json.h"
#include "fhir/fhir.h"
#include "gen/gen.h"
#include "gen/gen_hl7v2.h"
#include "hl7v2/hl7v2.h"
#include "store/store.h"

#define N_PATIENTS 200
#define N_COMMITTED 8
#define SYS_CCCD "urn:lienthong:id:vn-cccd"
#define SYS_BHYT "urn:lienthong:id:vn-bhyt"

/* What one patient was, in FHIR, beside what the converter made of it. */
struct seen {
	struct gen_hl7v2 h;
	struct buf adt, oru;
	json_object *patient;		/* the Patient */
	json_object *labs;		/* its laboratory Observations, in order */
};

static int tee(void *arg, enum gen_type type, const char *id, const char *json, size_t n)
{
	struct seen *s = arg;
	json_object *o = NULL;

	if (type == GEN_PATIENT || (type == GEN_OBSERVATION && strstr(json, "\"laboratory\""))) {
		char *copy = strndup(json, n);

		o = json_tokener_parse(copy);
		free(copy);
		assert_non_null(o);
		if (type == GEN_PATIENT) {
			json_object_put(s->patient);
			s->patient = o;
		} else {
			json_object_array_add(s->labs, o);
		}
	}
	return gen_hl7v2_emit(&s->h, type, id, json, n);
}

static void seen_init(struct seen *s, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	buf_init(&s->adt, 0);
	buf_init(&s->oru, 0);
	gen_hl7v2_init(&s->h, seed, &s->adt, &s->oru);
	s->labs = json_object_new_array();
}

static void seen_clear(struct seen *s)
{
	json_object_put(s->patient);
	json_object_put(s->labs);
	s->patient = NULL;
	s->labs = json_object_new_array();
	buf_clear(&s->adt);
	buf_clear(&s->oru);
}

static void seen_release(struct seen *s)
{
	json_object_put(s->patient);
	json_object_put(s->labs);
	gen_hl7v2_release(&s->h);
	buf_release(&s->adt);
	buf_release(&s->oru);
}

/* Generates patient i through the converter into s. */
static void one(struct gen *g, struct seen *s, size_t i)
{
	seen_clear(s);
	assert_int_equal(gen_patient(g, i, tee, s), 0);
	assert_int_equal(gen_hl7v2_patient_end(&s->h), 0);
}

/* ---- splitting a stream ----------------------------------------------------- */

struct msgs {
	char *p[4096];
	size_t n[4096];
	size_t count;
};

static int collect(void *arg, const char *p, size_t n)
{
	struct msgs *m = arg;

	assert_true(m->count < 4096);
	m->p[m->count] = strndup(p, n);
	m->n[m->count++] = n;
	return 0;
}

static void msgs_release(struct msgs *m)
{
	for (size_t i = 0; i < m->count; i++)
		free(m->p[i]);
	m->count = 0;
}

static void split(const struct buf *b, struct msgs *m)
{
	m->count = 0;
	assert_int_equal(hl7v2_split(b->p ? b->p : "", b->n, collect, m), 0);
}

static int hstr_eq(struct hl7v2_str s, const char *want)
{
	return s.p && s.n == strlen(want) && !memcmp(s.p, want, s.n);
}

static char *hstr_dup(struct hl7v2_str s)
{
	return s.p ? strndup(s.p, s.n) : strdup("");
}

/* Parses and maps one message; checks the header; returns the Bundle. */
static json_object *parse_map(const char *p, size_t n, const char *type, char **control_id)
{
	struct hl7v2_map_opts o = { 0 };
	struct hl7v2_msg *m = NULL;
	struct hl7v2_header h;
	struct hl7v2_where at = { 0 };
	struct err e = { 0 };
	json_object *bundle = NULL;
	char want[32];

	if (hl7v2_parse(p, n, NULL, &m, &e, &at)) {
		fprintf(stderr, "parse: %s (%s-%d)\n", e.issue[0].diagnostics, at.segment, at.field);
		fail();
	}
	hl7v2_header(m, &h);
	assert_true(hstr_eq(h.charset, "UNICODE UTF-8"));
	assert_true(hstr_eq(h.version, "2.5.1"));
	assert_true(hstr_eq(h.processing_id, "P"));
	snprintf(want, sizeof(want), "%.3s", type);
	assert_true(hstr_eq(h.message_code, want));
	assert_true(hstr_eq(h.trigger, type + 4));
	assert_null(h.accept_ack.p && h.accept_ack.n ? h.accept_ack.p : NULL);	/* original mode: AA */
	assert_true(h.control_id.n > 0 && h.control_id.n <= 20);	/* ST(20) in v2.5.1 */
	*control_id = hstr_dup(h.control_id);
	if (hl7v2_map(m, &o, &bundle, &e, &at)) {
		fprintf(stderr, "map: %s (%s-%d)\n%.*s\n", e.issue[0].diagnostics, at.segment,
			at.field, (int)n, p);
		fail();
	}
	hl7v2_free(m);
	return bundle;
}

/* The identifier value of a system in a Patient, or NULL. */
static const char *ident(json_object *p, const char *system)
{
	json_object *ids = json_object_object_get(p, "identifier");

	for (size_t i = 0; i < json_object_array_length(ids); i++) {
		json_object *id = json_object_array_get_idx(ids, i);
		const char *s = json_get_str(id, "system");

		if (s && !strcmp(s, system))
			return json_get_str(id, "value");
	}
	return NULL;
}

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Entry resources of a Bundle of one type, in order. */
static size_t resources(json_object *bundle, const char *type, json_object **out, size_t cap)
{
	json_object *entries = json_object_object_get(bundle, "entry");
	size_t k = 0;

	for (size_t i = 0; i < json_object_array_length(entries); i++) {
		json_object *r = json_object_object_get(json_object_array_get_idx(entries, i), "resource");

		if (same(json_get_str(r, "resourceType"), type) && k < cap)
			out[k++] = r;
	}
	return k;
}

static void check_patient(json_object *want, json_object *got)
{
	json_object *wn = json_object_array_get_idx(json_object_object_get(want, "name"), 0);
	json_object *gn = json_object_array_get_idx(json_object_object_get(got, "name"), 0);
	json_object *wa = json_object_array_get_idx(json_object_object_get(want, "address"), 0);
	json_object *ga = json_object_array_get_idx(json_object_object_get(got, "address"), 0);

	assert_non_null(ident(want, SYS_CCCD));
	assert_true(same(ident(want, SYS_CCCD), ident(got, SYS_CCCD)));
	assert_true(same(ident(want, SYS_BHYT), ident(got, SYS_BHYT)));
	assert_true(same(json_get_str(want, "gender"), json_get_str(got, "gender")));
	assert_true(same(json_get_str(want, "birthDate"), json_get_str(got, "birthDate")));
	assert_true(same(json_get_str(wn, "family"), json_get_str(gn, "family")));
	assert_string_equal(json_object_to_json_string(json_object_object_get(wn, "given")),
			    json_object_to_json_string(json_object_object_get(gn, "given")));
	assert_true(same(json_get_str(wa, "district"), json_get_str(ga, "district")));
	assert_true(same(json_get_str(wa, "city"), json_get_str(ga, "city")));
	assert_string_equal(json_object_to_json_string(json_object_object_get(wa, "line")),
			    json_object_to_json_string(json_object_object_get(ga, "line")));
	assert_true(same(json_get_str(json_object_array_get_idx(json_object_object_get(want, "telecom"), 0), "value"),
			 json_get_str(json_object_array_get_idx(json_object_object_get(got, "telecom"), 0), "value")));
}

static const char *code_of(json_object *o)
{
	return json_get_str(json_object_array_get_idx(json_object_object_get(
				    json_object_object_get(o, "code"), "coding"), 0), "code");
}

static const char *value_of(json_object *o)
{
	return json_object_get_string(json_object_object_get(json_object_object_get(o, "valueQuantity"),
							     "value"));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- the tests --------------------------------------------------------------- */

/* Every message of N_PATIENTS patients parses, maps, and says what the
 * FHIR said: identifiers, name, sex, birth date, address, phone; one OBX
 * per lab Observation, in order, with its LOINC code, value and unit. */
static void messages_match_the_fhir(void **state)
{
	struct gen *g = malloc(sizeof(*g));
	struct seen *s = malloc(sizeof(*s));
	struct msgs *m = malloc(sizeof(*m));
	char **ids = malloc(sizeof(char *) * 8 * N_PATIENTS * 8);
	size_t n_ids = 0, n_obx = 0, n_labs = 0, n_ranges = 0;
	json_object *got[256];

	(void)state;
	assert_non_null(g);
	assert_non_null(s);
	assert_non_null(m);
	assert_non_null(ids);
	gen_init(g, 42);
	seen_init(s, 42);
	for (size_t i = 0; i < N_PATIENTS; i++) {
		size_t lab = 0;

		one(g, s, i);
		split(&s->adt, m);
		assert_int_equal(m->count, 1);
		{
			json_object *b = parse_map(m->p[0], m->n[0], "ADT^A04", &ids[n_ids++]);

			assert_int_equal(resources(b, "Patient", got, 256), 1);
			assert_int_equal(resources(b, "Encounter", got + 1, 255), 0);	/* PV1 class N */
			check_patient(s->patient, got[0]);
			json_object_put(b);
		}
		msgs_release(m);
		split(&s->oru, m);
		for (size_t k = 0; k < m->count; k++) {
			json_object *b = parse_map(m->p[k], m->n[k], "ORU^R01", &ids[n_ids++]);
			size_t n_obs;

			assert_int_equal(resources(b, "Patient", got, 256), 1);
			check_patient(s->patient, got[0]);
			assert_int_equal(resources(b, "Encounter", got, 256), 1);
			assert_string_equal(json_get_str(got[0], "status"), "finished");
			assert_int_equal(resources(b, "DiagnosticReport", got, 256), 1);
			n_obs = resources(b, "Observation", got, 256);
			assert_true(n_obs > 0);
			for (size_t j = 0; j < n_obs; j++, lab++) {
				json_object *want = json_object_array_get_idx(s->labs, lab);
				json_object *q = json_object_object_get(got[j], "valueQuantity");

				assert_non_null(want);
				assert_string_equal(code_of(got[j]), code_of(want));
				assert_string_equal(value_of(got[j]), value_of(want));
				assert_string_equal(json_get_str(q, "system"), "http://unitsofmeasure.org");
				assert_string_equal(json_get_str(q, "code"),
						    json_get_str(json_object_object_get(want, "valueQuantity"), "code"));
				assert_string_equal(json_get_str(got[j], "status"), "final");
				assert_string_equal(json_get_str(got[j], "effectiveDateTime"),
						    json_get_str(want, "effectiveDateTime"));
				n_ranges += json_object_object_get(got[j], "referenceRange") != NULL;
			}
			n_obx += n_obs;
			json_object_put(b);
		}
		/* Every lab result travelled, and nothing else did. */
		assert_int_equal(lab, json_object_array_length(s->labs));
		n_labs += lab;
		msgs_release(m);
	}
	assert_int_equal(n_obx, s->h.n_obx);
	assert_int_equal(n_ids, s->h.n_adt + s->h.n_oru);
	assert_true(n_labs > N_PATIENTS);	/* the city has labs to send */
	assert_true(n_ranges > n_obx / 2);	/* adults get reference ranges */
	qsort(ids, n_ids, sizeof(*ids), cmp_str);
	for (size_t i = 0; i + 1 < n_ids; i++)
		if (!strcmp(ids[i], ids[i + 1]))
			fail_msg("MSH-10 %s twice", ids[i]);
	for (size_t i = 0; i < n_ids; i++)
		free(ids[i]);
	free(ids);
	seen_release(s);
	gen_release(g);
	free(g);
	free(s);
	free(m);
}

/* Same seed, same bytes; patient 77 is the same alone or after 0..76;
 * another seed gives other messages and other control ids. */
static void deterministic(void **state)
{
	struct gen *g = malloc(sizeof(*g));
	struct seen *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	char *alone_adt, *alone_oru;

	(void)state;
	gen_init(g, 7);
	seen_init(a, 7);
	seen_init(b, 8);
	one(g, a, 77);
	alone_adt = strdup(a->adt.p);
	alone_oru = strdup(a->oru.p ? a->oru.p : "");
	for (size_t i = 0; i <= 77; i++)
		one(g, a, i);
	assert_string_equal(a->adt.p, alone_adt);
	assert_string_equal(a->oru.p ? a->oru.p : "", alone_oru);
	assert_non_null(strstr(alone_adt, "|00000007A000078|"));
	gen_release(g);
	gen_init(g, 8);
	one(g, b, 77);
	assert_true(strcmp(b->adt.p, alone_adt) != 0);
	assert_null(strstr(b->adt.p, "|00000007A000078|"));
	assert_non_null(strstr(b->adt.p, "|00000008A000078|"));
	free(alone_adt);
	free(alone_oru);
	seen_release(a);
	seen_release(b);
	gen_release(g);
	free(g);
	free(a);
	free(b);
}

/* Text with the delimiters in it comes back as it was; unknown resource
 * types, vital signs and a lab result of no encounter are ignored; a
 * patient with no national id is matched by its own id. */
static void escapes_and_unknown_types(void **state)
{
	static const char patient[] =
		"{\"resourceType\":\"Patient\",\"id\":\"gen-pat-000009\","
		"\"name\":[{\"family\":\"A|B^C\",\"given\":[\"D~E\",\"F&G\\\\H\"]}],"
		"\"gender\":\"female\",\"birthDate\":\"1990-02-03\","
		"\"address\":[{\"use\":\"home\",\"line\":[\"1 Đường | số 2\"],\"district\":\"Phường X&Y\","
		"\"city\":\"Thành phố Hồ Chí Minh\",\"country\":\"VN\"}]}";
	static const char other[] = "{\"resourceType\":\"Immunization\",\"id\":\"x\"}";
	static const char vital[] =
		"{\"resourceType\":\"Observation\",\"id\":\"v\",\"category\":[{\"coding\":[{\"code\":\"vital-signs\"}]}]}";
	static const char lab_without_visit[] =
		"{\"resourceType\":\"Observation\",\"id\":\"l\",\"status\":\"final\","
		"\"category\":[{\"coding\":[{\"code\":\"laboratory\"}]}],"
		"\"valueQuantity\":{\"value\":1}}";
	static const char encounter[] =
		"{\"resourceType\":\"Encounter\",\"id\":\"gen-enc-000009-01\"}";
	struct seen s;
	struct msgs m;
	json_object *b, *got[4];
	char *id;

	(void)state;
	seen_init(&s, 1);
	assert_int_equal(gen_hl7v2_emit(&s.h, GEN_PATIENT, "gen-pat-000009", patient, strlen(patient)), 0);
	assert_int_equal(gen_hl7v2_emit(&s.h, (enum gen_type)(GEN_N_TYPES + 3), "x", other, strlen(other)), 0);
	assert_int_equal(gen_hl7v2_emit(&s.h, GEN_OBSERVATION, "v", vital, strlen(vital)), 0);
	assert_int_equal(gen_hl7v2_emit(&s.h, GEN_ENCOUNTER, "e", encounter, strlen(encounter)), 0);
	assert_int_equal(gen_hl7v2_emit(&s.h, GEN_OBSERVATION, "l", lab_without_visit,
					strlen(lab_without_visit)), 0);
	assert_int_equal(gen_hl7v2_patient_end(&s.h), 0);
	assert_int_equal(s.oru.n, 0);
	assert_non_null(strstr(s.adt.p, "A\\F\\B\\S\\C^D\\R\\E^F\\T\\G\\E\\H"));
	split(&s.adt, &m);
	assert_int_equal(m.count, 1);
	b = parse_map(m.p[0], m.n[0], "ADT^A04", &id);
	assert_int_equal(resources(b, "Patient", got, 4), 1);
	assert_string_equal(json_get_str(json_object_array_get_idx(json_object_object_get(got[0], "name"), 0), "family"), "A|B^C");
	assert_string_equal(json_object_to_json_string(json_object_object_get(
				    json_object_array_get_idx(json_object_object_get(got[0], "name"), 0), "given")),
			    "[ \"D~E\", \"F&G\\\\H\" ]");
	assert_string_equal(json_get_str(json_object_array_get_idx(json_object_object_get(got[0], "address"), 0), "district"),
			    "Phường X&Y");
	assert_string_equal(json_get_str(json_object_array_get_idx(json_object_object_get(got[0], "identifier"), 0), "value"),
			    "gen-pat-000009");
	assert_string_equal(json_get_str(got[0], "gender"), "female");
	json_object_put(b);
	free(id);
	msgs_release(&m);
	/* Nothing pending: nothing written. */
	buf_clear(&s.adt);
	assert_int_equal(gen_hl7v2_patient_end(&s.h), 0);
	assert_int_equal(s.adt.n, 0);
	seen_release(&s);
}

/* Patients numbered with 8 digits (a city past 10,000,000) get ORU control
 * ids of their own, within MSH-10's 20 characters: the patient number is
 * not cut to 7 digits (when it was, patients 12345678 and 12345679 shared
 * one, and the server, which knows a message by MSH-3/4 and MSH-10, would
 * take the second's results for a repeat of the first's when both came
 * from the same facility). */
static void control_ids_of_an_8_digit_patient(void **state)
{
	static const char *const number[] = { "12345678", "12345679" };
	struct seen s;
	char json[3][512], id[3][32], want[40];

	(void)state;
	seen_init(&s, 1);
	for (int k = 0; k < 2; k++) {
		snprintf(id[0], sizeof(id[0]), "gen-pat-%s", number[k]);
		snprintf(id[1], sizeof(id[1]), "gen-enc-%s-01", number[k]);
		snprintf(id[2], sizeof(id[2]), "gen-obs-%s-0001", number[k]);
		snprintf(json[0], sizeof(json[0]),
			 "{\"resourceType\":\"Patient\",\"id\":\"%s\",\"gender\":\"male\","
			 "\"birthDate\":\"1980-01-01\"}", id[0]);
		snprintf(json[1], sizeof(json[1]),
			 "{\"resourceType\":\"Encounter\",\"id\":\"%s\","
			 "\"period\":{\"start\":\"2024-03-04T08:00:00+07:00\"}}", id[1]);
		snprintf(json[2], sizeof(json[2]),
			 "{\"resourceType\":\"Observation\",\"id\":\"%s\",\"status\":\"final\","
			 "\"category\":[{\"coding\":[{\"code\":\"laboratory\"}]}],"
			 "\"encounter\":{\"reference\":\"Encounter/%s\"},"
			 "\"effectiveDateTime\":\"2024-03-04T09:00:00+07:00\","
			 "\"valueQuantity\":{\"value\":5}}", id[2], id[1]);
		assert_int_equal(gen_hl7v2_emit(&s.h, GEN_PATIENT, id[0], json[0], strlen(json[0])), 0);
		assert_int_equal(gen_hl7v2_emit(&s.h, GEN_ENCOUNTER, id[1], json[1], strlen(json[1])), 0);
		assert_int_equal(gen_hl7v2_emit(&s.h, GEN_OBSERVATION, id[2], json[2], strlen(json[2])), 0);
		assert_int_equal(gen_hl7v2_patient_end(&s.h), 0);
	}
	assert_int_equal(s.h.n_oru, 2);
	for (int k = 0; k < 2; k++) {
		snprintf(want, sizeof(want), "|00000001R%s-01|", number[k]);
		assert_int_equal(strlen(want) - 2, 20);
		if (!strstr(s.oru.p, want))
			fail_msg("no %s in\n%s", want, s.oru.p);
	}
	seen_release(&s);
}

/* The real API over a real store answers AA to every message of a few
 * patients, and again AA (the same ACK) when they come twice. */
static void accepted_by_the_api(void **state)
{
	char dir[64], cmd[128];
	struct store_config sc = { .backend = "sqlite", .data_dir = dir };
	struct api_config ac = { .limits = { .max_body_bytes = 8 << 20, .max_url_bytes = 8192,
					     .max_json_depth = 64 } };
	struct store *st = NULL;
	struct api *api = NULL;
	struct err e = { 0 };
	struct gen *g = malloc(sizeof(*g));
	struct seen *s = malloc(sizeof(*s));
	struct msgs *m = malloc(sizeof(*m));
	struct buf ack;
	size_t sent = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/lt-genhl7-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(store_open(&sc, &st, &e), 0);
	assert_int_equal(api_new(&ac, st, &api, &e), 0);
	buf_init(&ack, 0);
	gen_init(g, 3);
	seen_init(s, 3);
	for (size_t i = 0; i < N_COMMITTED; i++) {
		one(g, s, i);
		for (int k = 0; k < 2; k++) {
			split(k ? &s->oru : &s->adt, m);
			for (size_t j = 0; j < m->count; j++) {
				struct api_hl7v2_message msg = { .raw = m->p[j], .raw_len = m->n[j],
								 .peer = "test" };

				for (int again = 0; again < (j == 0 ? 2 : 1); again++) {
					buf_clear(&ack);
					if (api_hl7v2(api, &msg, &ack) != 1 || !strstr(ack.p, "MSA|AA|"))
						fail_msg("not accepted: %s\n%s", ack.p ? ack.p : "(no ACK)", m->p[j]);
				}
				sent++;
			}
			msgs_release(m);
		}
	}
	assert_true(sent > N_COMMITTED);
	buf_release(&ack);
	seen_release(s);
	gen_release(g);
	free(g);
	free(s);
	free(m);
	api_free(api);
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(messages_match_the_fhir),
		cmocka_unit_test(deterministic),
		cmocka_unit_test(escapes_and_unknown_types),
		cmocka_unit_test(control_ids_of_an_8_digit_patient),
		cmocka_unit_test(accepted_by_the_api),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
