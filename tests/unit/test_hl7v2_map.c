/*
 * HL7 v2 → FHIR mapping (src/hl7v2/map*.c): hand-written messages for each
 * value type and each refusal, then every message of ../shared/data/hl7v2
 * committed through the real API (POST /fhir) or refused for a stated
 * reason, twice, to show that the second time creates nothing.
 */
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
#include "hl7v2/hl7v2.h"
#include "testdata.h"

static char dir[64];
static struct store *st;
static struct api *api;

static int setup(void **state)
{
	struct store_config sc = { .backend = "sqlite", .data_dir = dir };
	struct api_config ac = { .limits = { .max_body_bytes = 8 << 20, .max_url_bytes = 8192,
					     .max_json_depth = 64 } };
	struct err e = { 0 };

	snprintf(dir, sizeof(dir), "/tmp/lt-hl7map-XXXXXX");
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

/* ---- helpers -------------------------------------------------------------- */

/* ER7 with '\n' for readability; the wire has '\r'. */
static int map_text(const char *text, json_object **bundle, struct err *e, struct hl7v2_where *at)
{
	struct hl7v2_map_opts o = { .facility = "79001" };
	struct hl7v2_msg *m = NULL;
	char *copy = strdup(text);
	int rc;

	for (char *p = copy; *p; p++)
		if (*p == '\n')
			*p = '\r';
	rc = hl7v2_parse(copy, strlen(copy), NULL, &m, e, at);
	if (!rc)
		rc = hl7v2_map(m, &o, bundle, e, at);
	if (!rc && getenv("LT_DUMP"))	/* to read what a message becomes */
		printf("%s\n", json_object_to_json_string_ext(*bundle, JSON_C_TO_STRING_PRETTY));
	hl7v2_free(m);
	free(copy);
	return rc;
}

static int request(const char *method, const char *path, const char *body,
		   const char *params[][2], struct api_response *res)
{
	struct api_request req = { 0 };

	req.method = method;
	req.path = path;
	req.host = "fhir.test";
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.content_type = body ? "application/fhir+json" : NULL;
	req.url_len = strlen(path);
	for (int i = 0; params && params[i][0]; i++) {
		req.params[i].name = params[i][0];
		req.params[i].value = params[i][1];
		req.n_params++;
	}
	api_response_release(res);
	api_response_init(res);
	return api_handle(api, &req, res);
}

/* Every entry's resource passes fhir_validate (Binary patches included). */
static void validate_entries(json_object *bundle)
{
	json_object *entries = json_object_object_get(bundle, "entry");

	for (size_t i = 0; i < json_object_array_length(entries); i++) {
		json_object *res = json_object_object_get(json_object_array_get_idx(entries, i),
							  "resource");
		struct err e = { 0 };

		if (fhir_validate(res, &e)) {
			fprintf(stderr, "entry %zu: %s at %s\n%s\n", i, e.issue[0].diagnostics,
				e.issue[0].expression,
				json_object_to_json_string_ext(res, JSON_C_TO_STRING_PRETTY));
			fail();
		}
	}
}

/* POST the Bundle; returns how many entries answered 201 (created), or -1
 * when the transaction failed (then *why holds the outcome). */
static int commit(json_object *bundle, char *why, size_t why_n)
{
	struct api_response res;
	json_object *out = NULL, *entries;
	struct err e = { 0 };
	int created = 0, status;

	validate_entries(bundle);
	api_response_init(&res);
	status = request("POST", "/fhir", json_object_to_json_string(bundle), NULL, &res);
	if (status != 200) {
		if (why)
			snprintf(why, why_n, "%d %.*s", status, (int)res.body.n, res.body.p);
		api_response_release(&res);
		return -1;
	}
	assert_int_equal(json_parse(res.body.p, res.body.n, 64, &out, &e), 0);
	entries = json_object_object_get(out, "entry");
	for (size_t i = 0; i < json_object_array_length(entries); i++) {
		const char *s = json_get_str(json_object_object_get(json_object_array_get_idx(entries, i),
								    "response"), "status");

		assert_non_null(s);
		assert_true(!strncmp(s, "200", 3) || !strncmp(s, "201", 3));
		created += !strncmp(s, "201", 3);
		if (getenv("LT_DUMP") && !strncmp(s, "201", 3))
			printf("created: %s\n", json_get_str(json_object_object_get(
				json_object_array_get_idx(json_object_object_get(bundle, "entry"), i),
				"request"), "url"));
	}
	json_object_put(out);
	api_response_release(&res);
	return created;
}

/* Search; returns the searchset's total and its body in *out (caller puts). */
static int search(const char *path, const char *name, const char *value, json_object **out)
{
	const char *params[][2] = { { name, value }, { NULL, NULL } };
	struct api_response res;
	struct err e = { 0 };
	json_object *b = NULL;
	int total;

	api_response_init(&res);
	assert_int_equal(request("GET", path, NULL, params, &res), 200);
	assert_int_equal(json_parse(res.body.p, res.body.n, 64, &b, &e), 0);
	total = json_object_get_int(json_object_object_get(b, "total"));
	api_response_release(&res);
	if (out)
		*out = b;
	else
		json_object_put(b);
	return total;
}

/* The first entry resource of the given type, borrowed. */
static json_object *first(json_object *bundle, const char *type, int nth)
{
	json_object *entries = json_object_object_get(bundle, "entry");

	for (size_t i = 0; i < json_object_array_length(entries); i++) {
		json_object *r = json_object_object_get(json_object_array_get_idx(entries, i),
							"resource");

		if (!strcmp(json_get_str(r, "resourceType"), type) && nth-- == 0)
			return r;
	}
	return NULL;
}

static const char *path_str(json_object *o, const char *path)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save)) {
		if (*k >= '0' && *k <= '9')
			o = json_object_array_get_idx(o, (size_t)atoi(k));
		else
			o = json_object_object_get(o, k);
	}
	return o ? json_object_get_string(o) : NULL;
}

#define MSH(type) "MSH|^~\\&|HIS|BV_CHORAY|LT|SYT|20260115083000+0700||" type "|MSG0001|P|2.5\n"

/* ---- ADT ------------------------------------------------------------------ */

static void adt_a01_patient_and_encounter(void **state)
{
	const char *msg = MSH("ADT^A01^ADT_A01")
		"EVN|A01|20260115083000\n"
		"PID|1||079123456789^^^BCA^NI~MRN001^^^^MR~DN4797912345678^^^BHYT^HC||Nguy\xe1\xbb\x85n^V\xc4\x83n An^^^^^L||19800214|M|||12 L\xc3\xaa L\xe1\xbb\xa3i^^H\xe1\xbb\x93 Ch\xc3\xad Minh^79^^VNM^H||0901234567^PRN^CP\n"
		"NK1|1|Tr\xe1\xba\xa7n^Th\xe1\xbb\x8b B|SPO^Spouse^HL70063|||\n"
		"PV1|1|I|NOI^101^A|||||||MED|||||||||V0001|||||||||||||||||||||||||20260115080000\n";
	json_object *b = NULL, *p, *enc, *found = NULL;
	struct err e = { 0 };
	struct hl7v2_where at = { 0 };
	const char *url;

	assert_int_equal(map_text(msg, &b, &e, &at), 0);
	p = first(b, "Patient", 0);
	assert_non_null(p);
	assert_string_equal(path_str(p, "identifier.0.system"), "urn:lienthong:id:vn-cccd");
	assert_string_equal(path_str(p, "identifier.0.value"), "079123456789");
	assert_string_equal(path_str(p, "identifier.1.system"), "urn:lienthong:id:BV_CHORAY:mr");
	assert_string_equal(path_str(p, "identifier.2.system"), "urn:lienthong:id:vn-bhyt");
	assert_string_equal(path_str(p, "gender"), "male");
	assert_string_equal(path_str(p, "birthDate"), "1980-02-14");
	assert_string_equal(path_str(p, "telecom.0.use"), "mobile");
	assert_string_equal(path_str(p, "contact.0.relationship.0.coding.0.code"), "SPO");
	url = path_str(json_object_array_get_idx(json_object_object_get(b, "entry"), 0),
		       "request.url");
	assert_string_equal(url, "Patient?identifier=urn:lienthong:id:vn-cccd|079123456789,"
				 "urn:lienthong:id:BV_CHORAY:mr|MRN001,"
				 "urn:lienthong:id:vn-bhyt|DN4797912345678");
	enc = first(b, "Encounter", 0);
	assert_string_equal(path_str(enc, "status"), "in-progress");
	assert_string_equal(path_str(enc, "class.code"), "IMP");
	assert_string_equal(path_str(enc, "period.start"), "2026-01-15T08:00:00+07:00");
	assert_int_equal(commit(b, NULL, 0), 2);
	assert_int_equal(commit(b, NULL, 0), 0);	/* again: nothing new */
	assert_int_equal(search("/fhir/Patient", "identifier",
				"urn:lienthong:id:vn-cccd|079123456789", &found), 1);
	json_object_put(found);
	json_object_put(b);

	/* A03: the same visit, finished. */
	msg = MSH("ADT^A03")
		"EVN|A03|20260120100000\n"
		"PID|1||MRN001^^^^MR||Nguy\xe1\xbb\x85n^V\xc4\x83n An||19800214|M\n"
		"PV1|1|I|NOI^101^A|||||||MED|||||||||V0001|||||||||||||||||||||||||20260115080000|20260120093000\n";
	assert_int_equal(map_text(msg, &b, &e, &at), 0);
	enc = first(b, "Encounter", 0);
	assert_string_equal(path_str(enc, "status"), "finished");
	assert_string_equal(path_str(enc, "period.end"), "2026-01-20T09:30:00+07:00");
	assert_int_equal(commit(b, NULL, 0), 0);	/* matched by MRN, updated */
	assert_int_equal(search("/fhir/Encounter", "status", "finished", NULL), 1);
	json_object_put(b);
}

static void adt_a40_merge_keeps_the_merged_record(void **state)
{
	const char *old = MSH("ADT^A04")
		"PID|1||OLD77^^^^MR||Le^Thi C||19900101|F|||1 Pho Hue^^Ha Noi\n";
	const char *merge = MSH("ADT^A40^ADT_A39")
		"EVN|A40|20260115083000\n"
		"PID|1||NEW88^^^^MR||Le^Thi C||19900101|F\n"
		"MRG|OLD77^^^^MR\n";
	json_object *b = NULL, *found = NULL, *p;
	struct err e = { 0 };
	struct hl7v2_where at = { 0 };
	char why[512];

	assert_int_equal(map_text(merge, &b, &e, &at), 0);
	assert_int_equal(commit(b, why, sizeof(why)), -1);	/* OLD77 is not known here */
	assert_non_null(strstr(why, "404"));
	json_object_put(b);
	assert_int_equal(map_text(old, &b, &e, &at), 0);
	assert_int_equal(commit(b, NULL, 0), 1);
	json_object_put(b);
	assert_int_equal(map_text(merge, &b, &e, &at), 0);
	assert_int_equal(commit(b, NULL, 0), 1);
	assert_int_equal(commit(b, NULL, 0), 0);
	json_object_put(b);
	assert_int_equal(search("/fhir/Patient", "identifier", "urn:lienthong:id:BV_CHORAY:mr|OLD77",
				&found), 1);
	p = json_object_object_get(json_object_array_get_idx(json_object_object_get(found, "entry"), 0),
				   "resource");
	assert_false(json_object_get_boolean(json_object_object_get(p, "active")));
	assert_string_equal(path_str(p, "link.0.type"), "replaced-by");
	assert_string_equal(path_str(p, "link.0.other.identifier.value"), "NEW88");
	assert_string_equal(path_str(p, "address.0.city"), "Ha Noi");	/* kept */
	json_object_put(found);
	assert_int_equal(search("/fhir/Patient", "identifier", "urn:lienthong:id:BV_CHORAY:mr|NEW88",
				&found), 1);
	p = json_object_object_get(json_object_array_get_idx(json_object_object_get(found, "entry"), 0),
				   "resource");
	assert_string_equal(path_str(p, "link.0.type"), "replaces");
	assert_non_null(strstr(path_str(p, "link.0.other.reference"), "Patient/"));
	json_object_put(found);
}

/* ---- results -------------------------------------------------------------- */

#define ORU_HEAD MSH("ORU^R01^ORU_R01") \
	"PID|1||MRN500^^^^MR||Pham^Van D||19700505|M\n" \
	"OBR|1|P100^HIS|F200^LIS|24331-1^Lipid panel^LN|||20260115070000|||||||||||||||20260115090000||CH|F\n"

static void oru_value_types(void **state)
{
	const char *msg = ORU_HEAD
		"OBX|1|NM|2345-7^Glucose^LN||5.40|mmol/L^^UCUM|3.9-6.1|N|||F|||20260115080000\n"
		"NTE|1||fasting\n"
		"OBX|2|SN|2339-0^Glucose^LN||<^5|mg/dl|<5|L|||P\n"
		"OBX|3|SN|11111-1^Titer^LN||^1^:^128||||||F\n"
		"OBX|4|SN|22222-2^Range^LN||^2^-^4|g/L|||||C\n"
		"OBX|5|ST|33333-3^Comment^LN||hemolysed||||||F\n"
		"OBX|6|FT|44444-4^Report^LN||line one\\.br\\line two||||||F\n"
		"OBX|7|CWE|55555-5^Culture^LN||260385009^Negative^SCT||||||F\n"
		"OBX|8|DT|66666-6^Date^LN||20260110||||||F\n"
		"OBX|9|TS|77777-7^Time^LN||202601100930||||||X\n"
		"OBX|10|TM|88888-8^Clock^LN||0930||||||F\n"
		"OBX|11|CX|99999-9^Ref^LN||ABC123^^^LAB||||||F\n"
		"OBX|12|NM|10000-1^Pending^LN||||||||I\n"
		"OBX|13|NM|10000-2^Potassium^LN||007.50|mmol/l|>3.5|HH|||F\n"
		"SPM|1|S300&LIS||BLD^Blood^HL70487|||||||||||||20260115065000\n";
	json_object *b = NULL, *o, *found = NULL, *dr;
	struct err e = { 0 };
	struct hl7v2_where at = { 0 };

	assert_int_equal(map_text(msg, &b, &e, &at), 0);
	o = first(b, "Observation", 0);
	assert_string_equal(path_str(o, "identifier.0.value"), "F200-1");
	assert_string_equal(path_str(o, "identifier.0.system"), "urn:lienthong:id:LIS:filler");
	assert_string_equal(path_str(o, "valueQuantity.value"), "5.40");
	assert_string_equal(path_str(o, "valueQuantity.system"), "http://unitsofmeasure.org");
	assert_string_equal(path_str(o, "referenceRange.0.low.value"), "3.9");
	assert_string_equal(path_str(o, "referenceRange.0.high.value"), "6.1");
	assert_string_equal(path_str(o, "interpretation.0.coding.0.system"),
			    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation");
	assert_string_equal(path_str(o, "note.0.text"), "fasting");
	assert_string_equal(path_str(o, "effectiveDateTime"), "2026-01-15T08:00:00+07:00");
	assert_string_equal(path_str(o, "code.coding.0.system"), "http://loinc.org");
	assert_non_null(path_str(o, "specimen.reference"));
	o = first(b, "Observation", 1);
	assert_string_equal(path_str(o, "valueQuantity.comparator"), "<");
	assert_string_equal(path_str(o, "valueQuantity.code"), "mg/dL");
	assert_string_equal(path_str(o, "referenceRange.0.high.value"), "5");
	assert_string_equal(path_str(o, "status"), "preliminary");
	assert_string_equal(path_str(first(b, "Observation", 2), "valueRatio.denominator.value"), "128");
	assert_string_equal(path_str(first(b, "Observation", 3), "valueRange.high.value"), "4");
	assert_string_equal(path_str(first(b, "Observation", 3), "status"), "corrected");
	assert_string_equal(path_str(first(b, "Observation", 4), "valueString"), "hemolysed");
	assert_string_equal(path_str(first(b, "Observation", 5), "valueString"), "line one\nline two");
	assert_string_equal(path_str(first(b, "Observation", 6), "valueCodeableConcept.coding.0.system"),
			    "http://snomed.info/sct");
	assert_string_equal(path_str(first(b, "Observation", 7), "valueDateTime"), "2026-01-10");
	assert_string_equal(path_str(first(b, "Observation", 8), "valueDateTime"),
			    "2026-01-10T09:30:00+07:00");
	assert_string_equal(path_str(first(b, "Observation", 8), "status"), "cancelled");
	assert_string_equal(path_str(first(b, "Observation", 9), "valueTime"), "09:30:00");
	assert_string_equal(path_str(first(b, "Observation", 10), "valueString"), "ABC123");
	assert_string_equal(path_str(first(b, "Observation", 11), "status"), "registered");
	assert_null(path_str(first(b, "Observation", 11), "valueQuantity"));
	assert_string_equal(path_str(first(b, "Observation", 12), "valueQuantity.value"), "7.50");
	dr = first(b, "DiagnosticReport", 0);
	assert_string_equal(path_str(dr, "status"), "final");
	assert_string_equal(path_str(dr, "issued"), "2026-01-15T09:00:00+07:00");
	assert_int_equal(json_object_array_length(json_object_object_get(dr, "result")), 13);
	assert_string_equal(path_str(first(b, "Specimen", 0), "identifier.0.value"), "S300");
	assert_string_equal(path_str(first(b, "ServiceRequest", 0), "identifier.0.system"),
			    "urn:lienthong:id:HIS:placer");
	/* Patient, ServiceRequest, 13 Observations, DiagnosticReport, Specimen */
	assert_int_equal(commit(b, NULL, 0), 17);
	assert_int_equal(commit(b, NULL, 0), 0);
	assert_int_equal(search("/fhir/Observation", "identifier",
				"urn:lienthong:id:LIS:filler|F200-1", &found), 1);
	json_object_put(found);
	assert_int_equal(search("/fhir/DiagnosticReport", "identifier",
				"urn:lienthong:id:LIS:filler|F200", NULL), 1);
	json_object_put(b);
}

static void refusals(void **state)
{
	static const struct {
		const char *msg;
		int rc, code, field;
		const char *segment, *says;
	} cases[] = {
		{ MSH("BAR^P01") "PID|1||X1^^^^MR\n", ERR_NOT_SUPPORTED, 200, 9, "MSH", "BAR" },
		{ MSH("ADT^A02") "PID|1||X1^^^^MR\n", ERR_NOT_SUPPORTED, 201, 9, "MSH", "A02" },
		{ MSH("ADT^A01") "EVN|A01\nPV1|1|I\n", ERR_INVALID, 100, 0, "PID", "no PID" },
		{ MSH("ADT^A08") "PID|1||\n", ERR_INVALID, 101, 3, "PID", "PID-3" },
		{ MSH("ADT^A08") "PID|1||X1^^^^MR||A^B||19621320\n", ERR_INVALID, 102, 7, "PID",
		  "PID-7" },
		{ ORU_HEAD "OBX|1|NM|||5.4||||||F\n", ERR_INVALID, 101, 3, "OBX", "OBX-3" },
		{ ORU_HEAD "OBX|1|NM|1-1^X^LN||5,4||||||F\n", ERR_INVALID, 102, 5, "OBX",
		  "not a number" },
		{ ORU_HEAD "OBX|1|ZZ|1-1^X^LN||5||||||F\n", ERR_NOT_SUPPORTED, 102, 2, "OBX", "ZZ" },
		{ ORU_HEAD "OBX|1|ST|1-1^X^LN||5||||||Q\n", ERR_INVALID, 103, 11, "OBX", "0085" },
		{ MSH("ORU^R01") "PID|1||X1^^^^MR\nOBR|1|P1||\n", ERR_INVALID, 101, 4, "OBR",
		  "OBR-4" },
		{ MSH("ORM^O01") "PID|1||X1^^^^MR\nORC|NW\nOBR|1|||1-1^X^LN\n", ERR_INVALID, 101, 2,
		  "OBR", "placer" },
		{ MSH("ORM^O01") "ORC|NW|P1\nOBR|1|P1||1-1^X^LN\n", ERR_INVALID, 100, 0, "PID",
		  "PID" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_object *b = NULL;
		struct err e = { 0 };
		struct hl7v2_where at = { 0 };

		assert_int_equal(map_text(cases[i].msg, &b, &e, &at), cases[i].rc);
		assert_null(b);
		assert_int_equal(at.code, cases[i].code);
		assert_int_equal(at.field, cases[i].field);
		assert_string_equal(at.segment, cases[i].segment);
		if (!strstr(e.issue[0].diagnostics, cases[i].says)) {
			fprintf(stderr, "case %zu: '%s' does not say '%s'\n", i,
				e.issue[0].diagnostics, cases[i].says);
			fail();
		}
	}
}

static void orders_create_and_results_refer(void **state)
{
	const char *orm = MSH("ORM^O01")
		"PID|1||MRN700^^^^MR||Vo^Thi E||19850303|F\n"
		"PV1|1|O|||||||||||||||||V700\n"
		"ORC|NW|P700^HIS|||||||20260115070000|||BS01^Tran^Minh\n"
		"OBR|1|P700^HIS||718-7^Hemoglobin^LN\n"
		"NTE|1||urgent please\n";
	const char *oru = "MSH|^~\\&|LIS|LAB|HIS|BV_CHORAY|20260115093000+0700||ORU^R01|M2|P|2.5\n"
		"PID|1||MRN700^^^BV_CHORAY^MR||Vo^Thi E\n"
		"OBR|1|P700^HIS|F700|718-7^Hemoglobin^LN|||20260115080000||||||||||||||||||F\n"
		"OBX|1|NM|718-7^Hemoglobin^LN||13.2|g/dL|12-16|N|||F\n";
	json_object *b = NULL, *sr, *found = NULL;
	struct err e = { 0 };
	struct hl7v2_where at = { 0 };

	assert_int_equal(map_text(orm, &b, &e, &at), 0);
	sr = first(b, "ServiceRequest", 0);
	assert_string_equal(path_str(sr, "status"), "active");
	assert_string_equal(path_str(sr, "intent"), "order");
	assert_string_equal(path_str(sr, "requester.display"), "Tran Minh");
	assert_string_equal(path_str(sr, "note.0.text"), "urgent please");
	assert_int_equal(commit(b, NULL, 0), 3);
	json_object_put(b);
	/* The lab's ORU names the same patient (MR of BV_CHORAY) and order (HIS
	 * placer number): nothing new but its results and report. */
	assert_int_equal(map_text(oru, &b, &e, &at), 0);
	assert_int_equal(commit(b, NULL, 0), 2);
	json_object_put(b);
	assert_int_equal(search("/fhir/ServiceRequest", "identifier",
				"urn:lienthong:id:HIS:placer|P700", NULL), 1);
	assert_int_equal(search("/fhir/DiagnosticReport", "based-on:ServiceRequest.identifier",
				"urn:lienthong:id:HIS:placer|P700", &found), 1);
	json_object_put(found);
}

/* ---- the shared messages -------------------------------------------------- */

/* Messages refused, and why (file, message number from 1, words of the
 * reason). Every other message must commit. */
static const struct {
	const char *file;
	int msg;
	const char *says;
} refused[] = {
	{ "hapi-example_oml_o21.hl7", 9, "message type ORL" },	/* an order response */
	{ "hapi-example_oml_o21.hl7", 10, "PID-3" },		/* no patient identifier */
	{ "hapi-util-messages.multi.txt", 3, "message type ACK" },
	{ "hapi-util-messages.multi.txt", 2, "message type BAR" },
	{ "hapi-util-messages.multi.txt", 4, "message type BAR" },
	{ "hapi-util-messages.multi.txt", 5, "message type BAR" },
	{ "hapi-util-messages.multi.txt", 6, "message type BAR" },
	{ "hapi-util-messages.multi.txt", 7, "message type BAR" },
	{ "hapi-util-messages.multi.txt", 8, "message type BAR" },
	{ "hapi-util-messages.multi.txt", 9, "message type BAR" },
	{ "hapi-util-messages.multi.txt", 10, "message type BAR" },
	{ "hapi-util-messages.multi.txt", 11, "message type BAR" },
	{ "hapi-util-messages.multi.txt", 12, "message type BAR" },
	{ "hapi-util-messages.multi.txt", 13, "message type BAR" },
	{ "hapi-util-messages.multi.txt", 17, "message type QRY" },
	{ "hapi-util-messages.multi.txt", 18, "message type QRY" },
	{ "ms-ORU-R01-01.hl7", 1, "OBX-3" },	/* "OBX||ED|||App5...": no observation id */
	{ "ms-OUL-R22-01.hl7", 1, "OBX-3" },
	{ "pyhl7-sample_hl7.hl7", 1, "PID-7" },	/* birth date 196203520 */
	{ NULL, 0, NULL },
};

/* hapi's messages.txt has // and C comments between messages: not HL7. */
static size_t strip_comments(char *p, size_t n)
{
	size_t out = 0, i = 0;
	int in_block = 0;

	while (i < n) {
		size_t j = i;
		int drop;

		while (j < n && p[j] != '\n' && p[j] != '\r')
			j++;
		while (j < n && (p[j] == '\n' || p[j] == '\r'))
			j++;
		drop = in_block || (j - i >= 2 && (!memcmp(p + i, "//", 2) || !memcmp(p + i, "/*", 2)));
		if (!in_block && j - i >= 2 && !memcmp(p + i, "/*", 2))
			in_block = 1;
		if (in_block && memmem(p + i, j - i, "*/", 2))
			in_block = 0;
		if (!drop) {
			memmove(p + out, p + i, j - i);
			out += j - i;
		}
		i = j;
	}
	return out;
}

struct each {
	const char *file;
	int n, committed, refused, unexpected;
};

static const char *expected_refusal(const char *file, int n)
{
	for (size_t i = 0; refused[i].file; i++)
		if (!strcmp(refused[i].file, file) && refused[i].msg == n)
			return refused[i].says;
	return NULL;
}

static int each_message(void *arg, const char *p, size_t n)
{
	struct each *ea = arg;
	struct hl7v2_map_opts o = { .facility = "79001" };
	struct hl7v2_msg *m = NULL;
	struct hl7v2_where at = { 0 };
	struct err e = { 0 };
	json_object *b = NULL;
	const char *says;
	char why[600] = "";
	int rc;

	ea->n++;
	says = expected_refusal(ea->file, ea->n);
	rc = hl7v2_parse(p, n, NULL, &m, &e, &at);
	if (!rc)
		rc = hl7v2_map(m, &o, &b, &e, &at);
	if (!rc && getenv("LT_DUMP"))
		printf("BUNDLE %s %s\n", ea->file, json_object_to_json_string(b));
	if (!rc && commit(b, why, sizeof(why)) < 0)
		rc = -1;
	if (!rc) {
		assert_int_equal(commit(b, NULL, 0), 0);	/* the second time: nothing new */
		ea->committed++;
	} else {
		ea->refused++;
		if (rc > 0)
			snprintf(why, sizeof(why), "%s %s-%d (%d): %s", err_name(rc), at.segment,
				 at.field, at.code, e.issue[0].diagnostics);
	}
	printf("  %-36s #%-2d %s%s\n", ea->file, ea->n, rc ? "refused: " : "committed", why);
	if (rc && (!says || !strstr(why, says))) {
		fprintf(stderr, "%s #%d refused unexpectedly\n", ea->file, ea->n);
		ea->unexpected++;
	}
	if (!rc && says) {
		fprintf(stderr, "%s #%d should be refused (%s)\n", ea->file, ea->n, says);
		ea->unexpected++;
	}
	json_object_put(b);
	hl7v2_free(m);
	return 0;
}

static void shared_messages(void **state)
{
	const char *shared = getenv("LT_SHARED_DIR");
	char path[4096], line[1024];
	FILE *manifest;
	int files = 0, unexpected = 0;

	if (!shared || td_join(path, sizeof(path), shared, "/data/hl7v2/MANIFEST.tsv") ||
	    !(manifest = fopen(path, "r"))) {
		printf("skipped: ../shared/data/hl7v2 not found (LT_SHARED_DIR)\n");
		skip();
	}
	{	/* the patient that ms-ADT-A40-01 merges away, known before */
		json_object *b = NULL;
		struct err e = { 0 };
		struct hl7v2_where at = { 0 };

		assert_int_equal(map_text("MSH|^~\\&|Ntierprise|Ntierprise Clinic|||20190423||ADT^A28|1|P|2.8\n"
					  "PID|1||56789^^^BCBS^MR||Test^Old||20180205|F\n", &b, &e, &at), 0);
		assert_int_equal(commit(b, NULL, 0), 1);
		json_object_put(b);
	}
	while (fgets(line, sizeof(line), manifest)) {
		struct each ea = { 0 };
		char *tab = strchr(line, '\t'), *text;
		size_t n = 0;

		if (!tab || !strncmp(line, "file\t", 5))
			continue;
		*tab = '\0';
		ea.file = line;
		snprintf(path, sizeof(path), "%s/data/hl7v2/%s", shared, line);
		text = td_slurp(path, &n);
		assert_non_null(text);
		n = strip_comments(text, n);
		assert_int_equal(hl7v2_split(text, n, each_message, &ea), 0);
		assert_true(ea.n > 0);
		unexpected += ea.unexpected;
		free(text);
		files++;
	}
	fclose(manifest);
	assert_true(files >= 20);
	assert_int_equal(unexpected, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(adt_a01_patient_and_encounter),
		cmocka_unit_test(adt_a40_merge_keeps_the_merged_record),
		cmocka_unit_test(oru_value_types),
		cmocka_unit_test(refusals),
		cmocka_unit_test(orders_create_and_results_refer),
		cmocka_unit_test(shared_messages),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
