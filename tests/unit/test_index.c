/*
 * test_index.c — index extraction (src/fhir/index.c): string folding,
 * reference splitting, entries expected by hand from small resources and
 * from the official Patient and Observation examples, and a run of every
 * search parameter over every example of the R4 package (which must
 * evaluate without error; what each parameter type meets and ignores is
 * printed, with the extraction time per resource).
 *
 * The package (npm hl7.fhir.r4.examples@4.0.1) is found in $LT_R4_EXAMPLES,
 * else in $LT_SOURCE_DIR/tests/client/node_modules/hl7.fhir.r4.examples;
 * the tests that need it say SKIP and the program exits 77 when it is not
 * there (after running the others).
 */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <cmocka.h>
#include "testdata.h"

#include "base/json.h"
#include "base/time.h"
#include "fhir/fhir.h"
#include "fhir/search.h"

static char examples_dir[4096];
static int have_examples;

/* ---- helpers ----------------------------------------------------------- */





static struct json_object *parse(const char *text, size_t n)
{
	struct json_object *o = NULL;
	struct err e = { 0 };

	if (json_parse(text, n, JSON_DEFAULT_MAX_DEPTH, &o, &e) != 0) {
		print_error("bad JSON: %s\n", e.issue[0].diagnostics);
		return NULL;
	}
	return o;
}

static struct json_object *parse_text(const char *text)
{
	return parse(text, strlen(text));
}

static struct json_object *load_example(const char *name)
{
	char path[8192];
	size_t n = 0;
	char *text;
	struct json_object *o;

	if (td_join(path, sizeof(path), examples_dir, "/") || td_join(path + strlen(path),
								 sizeof(path) - strlen(path), name, ""))
		return NULL;
	text = td_slurp(path, &n);
	if (!text)
		return NULL;
	o = parse(text, n);
	free(text);
	return o;
}

static int64_t ms_of(const char *s, int high)
{
	int64_t lo = 0, hi = 0;

	assert_int_equal(time_parse_fhir(s, strlen(s), TIME_DATETIME, &lo, &hi), 0);
	return high ? hi : lo;
}

static int str_is(struct str s, const char *lit)
{
	return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

/* Entries kept by the collecting callback, strings copied. */
#define KEEP_MAX 512
#define TEXT_MAX 128

struct kept {
	char code[64];
	int kind;
	char a[TEXT_MAX], b[TEXT_MAX], c[TEXT_MAX], d[TEXT_MAX];
	int has_system, canonical;
	int64_t low, high;
	double value, qlow, qhigh;
	size_t n_parts;
	int part_kind[4];
	char part_a[4][TEXT_MAX], part_b[4][TEXT_MAX];
};

struct keep {
	struct kept e[KEEP_MAX];
	int n;
	int stop_after;		/* return 1 after this many entries (0: never) */
};

static void copy(char *dst, struct str s)
{
	size_t n = s.n < TEXT_MAX - 1 ? s.n : TEXT_MAX - 1;

	if (n)
		memcpy(dst, s.p, n);
	dst[n] = '\0';
}

/* a, b, c, d: the main strings of each kind, in the order of the union. */
static void flatten(const struct fhir_index_entry *en, char *a, char *b, char *c, char *d)
{
	a[0] = b[0] = c[0] = d[0] = '\0';
	switch (en->kind) {
	case FHIR_INDEX_STRING:
	case FHIR_INDEX_TOKEN_TEXT:
	case FHIR_INDEX_URI:
		copy(a, en->v.string.exact);
		copy(b, en->v.string.folded);
		break;
	case FHIR_INDEX_TOKEN:
	case FHIR_INDEX_REFERENCE_IDENTIFIER:
		copy(a, en->v.token.system);
		copy(b, en->v.token.code);
		break;
	case FHIR_INDEX_TOKEN_OF_TYPE:
		copy(a, en->v.of_type.system);
		copy(b, en->v.of_type.code);
		copy(c, en->v.of_type.value);
		break;
	case FHIR_INDEX_NUMBER:
	case FHIR_INDEX_QUANTITY:
		copy(a, en->v.quantity.text);
		copy(b, en->v.quantity.system);
		copy(c, en->v.quantity.code);
		copy(d, en->v.quantity.unit);
		break;
	case FHIR_INDEX_REFERENCE:
		copy(a, en->v.reference.type);
		copy(b, en->v.reference.id);
		copy(c, en->v.reference.url);
		copy(d, en->v.reference.version);
		break;
	default:
		break;
	}
}

static int keep_cb(void *arg, const struct fhir_index_entry *en)
{
	struct keep *k = arg;
	struct kept *x;
	char scratch[2][TEXT_MAX];

	if (k->n >= KEEP_MAX)
		return 0;
	x = &k->e[k->n++];
	memset(x, 0, sizeof(*x));
	snprintf(x->code, sizeof(x->code), "%s", en->param->code);
	x->kind = en->kind;
	flatten(en, x->a, x->b, x->c, x->d);
	if (en->kind == FHIR_INDEX_TOKEN || en->kind == FHIR_INDEX_REFERENCE_IDENTIFIER)
		x->has_system = en->v.token.has_system;
	if (en->kind == FHIR_INDEX_REFERENCE)
		x->canonical = en->v.reference.canonical;
	if (en->kind == FHIR_INDEX_DATE) {
		x->low = en->v.date.low;
		x->high = en->v.date.high;
	}
	if (en->kind == FHIR_INDEX_NUMBER || en->kind == FHIR_INDEX_QUANTITY) {
		x->value = en->v.quantity.value;
		x->qlow = en->v.quantity.low;
		x->qhigh = en->v.quantity.high;
	}
	if (en->kind == FHIR_INDEX_POSITION) {
		x->qlow = en->v.position.latitude;
		x->qhigh = en->v.position.longitude;
	}
	if (en->kind == FHIR_INDEX_COMPOSITE) {
		x->n_parts = en->v.composite.n;
		for (size_t i = 0; i < en->v.composite.n && i < 4; i++) {
			x->part_kind[i] = en->v.composite.part[i].kind;
			flatten(&en->v.composite.part[i], x->part_a[i], x->part_b[i], scratch[0],
				scratch[1]);
		}
	}
	return k->stop_after && k->n >= k->stop_after ? 1 : 0;
}

/* The first kept entry for code of kind whose a and b match (NULL: any). */
static const struct kept *kept_find(const struct keep *k, const char *code, int kind,
				    const char *a, const char *b)
{
	for (int i = 0; i < k->n; i++) {
		const struct kept *x = &k->e[i];

		if (strcmp(x->code, code) == 0 && x->kind == kind && (!a || strcmp(x->a, a) == 0) &&
		    (!b || strcmp(x->b, b) == 0))
			return x;
	}
	return NULL;
}

static int kept_count(const struct keep *k, const char *code, int kind)
{
	int n = 0;

	for (int i = 0; i < k->n; i++)
		n += strcmp(k->e[i].code, code) == 0 && k->e[i].kind == kind;
	return n;
}

static void dump(const struct keep *k)
{
	for (int i = 0; i < k->n; i++)
		print_message("  %s kind %d [%s] [%s] [%s] [%s]\n", k->e[i].code, k->e[i].kind,
			      k->e[i].a, k->e[i].b, k->e[i].c, k->e[i].d);
}

static struct keep *index_text(const char *json)
{
	struct keep *k = calloc(1, sizeof(*k));
	struct json_object *o = parse_text(json);
	struct err e = { 0 };

	assert_non_null(k);
	assert_non_null(o);
	if (fhir_index_resource(o, keep_cb, k, &e) != 0)
		print_error("%s\n", e.issue[0].diagnostics);
	assert_int_equal(e.code, 0);
	json_object_put(o);
	return k;
}

/* ---- folding and references -------------------------------------------- */

static void expect_fold(const char *in, const char *want)
{
	char out[256];
	size_t n = fhir_search_fold(in, strlen(in), out, sizeof(out));

	if (strcmp(out, want) != 0)
		print_error("fold(%s) = %s, want %s\n", in, out, want);
	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
	assert_true(n <= FHIR_SEARCH_FOLD_MAX(strlen(in)));
}

static void test_fold(void **state)
{
	char small[4];

	(void)state;
	expect_fold("Nguy\xe1\xbb\x85n", "nguyen");			/* Nguyễn */
	expect_fold("\xc4\x90\xe1\xba\xb6NG", "dang");			/* ĐẶNG */
	expect_fold("\xc4\x91\xe1\xba\xb7ng", "dang");			/* đặng */
	expect_fold("Tr\xe1\xba\xa7n Th\xe1\xbb\x8b H\xe1\xbb\x93ng", "tran thi hong");
	expect_fold("Ph\xe1\xba\xa1m Minh Ch\xc3\xa2u", "pham minh chau");
	expect_fold("L\xc3\xaa V\xc4\x83n Minh", "le van minh");
	expect_fold("\xc6\xaf\xe1\xbb\x9a\x43", "uoc");			/* ƯỚC */
	expect_fold("H\xe1\xbb\x93 Ch\xc3\xad Minh", "ho chi minh");
	expect_fold("Nguye\xcc\x82\xcc\x83n", "nguyen");		/* decomposed */
	expect_fold("Stra\xc3\x9f" "e", "strasse");
	expect_fold("\xc3\x86r\xc3\xb8", "aero");			/* Ærø */
	expect_fold("\xc5\x81\xc3\xb3\x64\xc5\xba", "lodz");		/* Łódź */
	expect_fold("\xce\x91\xce\x98\xce\x97\xce\x9d\xce\x91",		/* ΑΘΗΝΑ */
		    "\xce\xb1\xce\xb8\xce\xb7\xce\xbd\xce\xb1");
	expect_fold("\xe4\xb8\xad\xe6\x96\x87", "\xe4\xb8\xad\xe6\x96\x87");	/* 中文 unchanged */
	expect_fold("ABC-xyz 09", "abc-xyz 09");
	expect_fold("bad \xff\xc3 utf8", "bad \xff\xc3 utf8");		/* copied as is */
	/* like snprintf: cut to fit, full length returned */
	assert_int_equal(fhir_search_fold("\xc4\x90\xe1\xba\xb6NG", 7, small, sizeof(small)), 4);
	assert_string_equal(small, "dan");
}

static void test_reference_split(void **state)
{
	struct fhir_reference_parts r;

	(void)state;
	fhir_search_reference_split("Patient/123", 11, &r);
	assert_int_equal(r.kind, FHIR_REFERENCE_RELATIVE);
	assert_true(str_is(r.type, "Patient") && str_is(r.id, "123") && r.version.n == 0);
	fhir_search_reference_split("Observation/o-1/_history/7", 26, &r);
	assert_int_equal(r.kind, FHIR_REFERENCE_RELATIVE);
	assert_true(str_is(r.type, "Observation") && str_is(r.id, "o-1") &&
		    str_is(r.version, "7"));
	{
		const char *s = "https://emr.example.vn/fhir/Patient/p1/_history/2";

		fhir_search_reference_split(s, strlen(s), &r);
		assert_int_equal(r.kind, FHIR_REFERENCE_ABSOLUTE);
		assert_true(str_is(r.type, "Patient") && str_is(r.id, "p1") &&
			    str_is(r.version, "2"));
		s = "http://example.org/not/fhir";
		fhir_search_reference_split(s, strlen(s), &r);
		assert_int_equal(r.kind, FHIR_REFERENCE_ABSOLUTE);
		assert_int_equal(r.type.n, 0);
		s = "urn:uuid:6c1d3f5e-0000-4000-8000-000000000000";
		fhir_search_reference_split(s, strlen(s), &r);
		assert_int_equal(r.kind, FHIR_REFERENCE_URN);
		s = "Patient?identifier=x|1";
		fhir_search_reference_split(s, strlen(s), &r);
		assert_int_equal(r.kind, FHIR_REFERENCE_OTHER);
		s = "NotAType/1";
		fhir_search_reference_split(s, strlen(s), &r);
		assert_int_equal(r.kind, FHIR_REFERENCE_OTHER);
		s = "Patient/bad id";
		fhir_search_reference_split(s, strlen(s), &r);
		assert_int_equal(r.kind, FHIR_REFERENCE_OTHER);
	}
	fhir_search_reference_split("#pr1", 4, &r);
	assert_int_equal(r.kind, FHIR_REFERENCE_CONTAINED);
	assert_true(str_is(r.id, "pr1"));
	fhir_search_reference_split("", 0, &r);
	assert_int_equal(r.kind, FHIR_REFERENCE_OTHER);
	fhir_search_reference_split("/Patient/1", 10, &r);
	assert_int_equal(r.kind, FHIR_REFERENCE_OTHER);
	assert_true(str_is(r.type, "Patient"));
}

/* ---- hand-written resources ------------------------------------------- */

static void test_vietnamese_patient(void **state)
{
	struct keep *k = index_text(
		"{\"resourceType\":\"Patient\",\"id\":\"vn1\","
		"\"meta\":{\"lastUpdated\":\"2026-11-22T08:00:00.000+07:00\","
		"\"tag\":[{\"system\":\"http://x/tags\",\"code\":\"demo\"}],"
		"\"profile\":[\"http://x/StructureDefinition/vn-patient\"]},"
		"\"identifier\":[{\"system\":\"http://cccd.gov.vn\",\"value\":\"079092001234\","
		"\"type\":{\"text\":\"C\xc4\x83n c\xc6\xb0\xe1\xbb\x9b\x63\","
		"\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/v2-0203\","
		"\"code\":\"NI\"}]}}],"
		"\"name\":[{\"text\":\"\xc4\x90\xe1\xba\xb7ng Th\xe1\xbb\x8b H\xe1\xbb\x93ng\","
		"\"family\":\"\xc4\x90\xe1\xba\xb7ng\",\"given\":[\"Th\xe1\xbb\x8b\","
		"\"H\xe1\xbb\x93ng\"]}],"
		"\"telecom\":[{\"system\":\"phone\",\"value\":\"+84 90 123 4567\"}],"
		"\"gender\":\"female\",\"birthDate\":\"1992-05\",\"deceasedBoolean\":false,"
		"\"address\":[{\"line\":[\"12 L\xc3\xaa L\xe1\xbb\xa3i\"],"
		"\"city\":\"H\xe1\xbb\x93 Ch\xc3\xad Minh\",\"country\":\"VN\"}],"
		"\"generalPractitioner\":[{\"reference\":\"Practitioner/bs-an\"}]}");
	const struct kept *x;

	x = kept_find(k, "family", FHIR_INDEX_STRING, "\xc4\x90\xe1\xba\xb7ng", "dang");
	assert_non_null(x);
	assert_int_equal(kept_count(k, "family", FHIR_INDEX_STRING), 1);
	assert_non_null(kept_find(k, "given", FHIR_INDEX_STRING, NULL, "thi"));
	assert_non_null(kept_find(k, "given", FHIR_INDEX_STRING, NULL, "hong"));
	/* name: text, family and each given */
	assert_int_equal(kept_count(k, "name", FHIR_INDEX_STRING), 4);
	assert_non_null(kept_find(k, "name", FHIR_INDEX_STRING, NULL, "dang thi hong"));
	assert_non_null(kept_find(k, "address-city", FHIR_INDEX_STRING, NULL, "ho chi minh"));
	assert_non_null(kept_find(k, "address", FHIR_INDEX_STRING, NULL, "12 le loi"));
	assert_non_null(kept_find(k, "address-country", FHIR_INDEX_STRING, "VN", "vn"));
	x = kept_find(k, "identifier", FHIR_INDEX_TOKEN, "http://cccd.gov.vn", "079092001234");
	assert_non_null(x);
	assert_int_equal(x->has_system, 1);
	assert_non_null(kept_find(k, "identifier", FHIR_INDEX_TOKEN_TEXT, NULL, "can cuoc"));
	x = kept_find(k, "identifier", FHIR_INDEX_TOKEN_OF_TYPE,
		      "http://terminology.hl7.org/CodeSystem/v2-0203", "NI");
	assert_non_null(x);
	assert_string_equal(x->c, "079092001234");
	x = kept_find(k, "phone", FHIR_INDEX_TOKEN, "", "+84 90 123 4567");
	assert_non_null(x);
	assert_int_equal(x->has_system, 0);
	x = kept_find(k, "gender", FHIR_INDEX_TOKEN, "", "female");
	assert_non_null(x);
	assert_int_equal(x->has_system, 0);
	assert_non_null(kept_find(k, "deceased", FHIR_INDEX_TOKEN, "", "false"));
	assert_non_null(kept_find(k, "_id", FHIR_INDEX_TOKEN, "", "vn1"));
	assert_non_null(kept_find(k, "_tag", FHIR_INDEX_TOKEN, "http://x/tags", "demo"));
	assert_non_null(kept_find(k, "_profile", FHIR_INDEX_URI,
				  "http://x/StructureDefinition/vn-patient", NULL));
	x = kept_find(k, "_lastUpdated", FHIR_INDEX_DATE, NULL, NULL);
	assert_non_null(x);
	assert_true(x->low == ms_of("2026-11-22T01:00:00Z", 0) && x->high == x->low);
	x = kept_find(k, "birthdate", FHIR_INDEX_DATE, NULL, NULL);
	assert_non_null(x);
	assert_true(x->low == ms_of("1992-05-01T00:00:00Z", 0));
	assert_true(x->high == ms_of("1992-05-31T23:59:59.999Z", 0));
	x = kept_find(k, "general-practitioner", FHIR_INDEX_REFERENCE, "Practitioner", "bs-an");
	assert_non_null(x);
	assert_string_equal(x->c, "");	/* relative: no URL */
	free(k);
}

static void test_dates_and_quantities(void **state)
{
	struct keep *k;
	const struct kept *x;

	(void)state;
	/* Period open at the end; Age and string onsets go to their own params */
	k = index_text("{\"resourceType\":\"Condition\",\"subject\":{\"reference\":\"Patient/p\"},"
		       "\"onsetPeriod\":{\"start\":\"2024-03-01\"},"
		       "\"abatementAge\":{\"value\":50,\"unit\":\"a\",\"system\":"
		       "\"http://unitsofmeasure.org\",\"code\":\"a\"}}");
	x = kept_find(k, "onset-date", FHIR_INDEX_DATE, NULL, NULL);
	assert_non_null(x);
	assert_true(x->low == ms_of("2024-03-01T00:00:00Z", 0) && x->high == FHIR_INDEX_MAX_MS);
	x = kept_find(k, "abatement-age", FHIR_INDEX_QUANTITY, "50", "http://unitsofmeasure.org");
	assert_non_null(x);
	assert_string_equal(x->c, "a");
	assert_true(x->value == 50 && x->qlow == 50 && x->qhigh == 50);
	assert_non_null(kept_find(k, "patient", FHIR_INDEX_REFERENCE, "Patient", "p"));
	assert_non_null(kept_find(k, "subject", FHIR_INDEX_REFERENCE, "Patient", "p"));
	free(k);

	/* comparator, decimal text kept, and the composite with it */
	k = index_text("{\"resourceType\":\"Observation\",\"status\":\"final\","
		       "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"2345-7\"}]},"
		       "\"subject\":{\"reference\":\"urn:uuid:0b8a5e4c-5f1b-4b9a-9d0e-3f6c2a1b7e90\"},"
		       "\"effectiveDateTime\":\"2026-01-02T03:04:05+07:00\","
		       "\"valueQuantity\":{\"value\":5.50,\"comparator\":\"<\","
		       "\"system\":\"http://unitsofmeasure.org\",\"code\":\"mmol/L\"}}");
	x = kept_find(k, "value-quantity", FHIR_INDEX_QUANTITY, "5.50", NULL);
	assert_non_null(x);
	assert_true(x->value == 5.5 && isinf(x->qlow) && x->qlow < 0 && x->qhigh == 5.5);
	x = kept_find(k, "date", FHIR_INDEX_DATE, NULL, NULL);
	assert_non_null(x);
	assert_true(x->low == ms_of("2026-01-01T20:04:05Z", 0) && x->high == x->low + 999);
	x = kept_find(k, "subject", FHIR_INDEX_REFERENCE, "", "");
	assert_non_null(x);
	assert_string_equal(x->c, "urn:uuid:0b8a5e4c-5f1b-4b9a-9d0e-3f6c2a1b7e90");
	/* an urn: says nothing of the type: not a patient */
	assert_null(kept_find(k, "patient", FHIR_INDEX_REFERENCE, NULL, NULL));
	x = kept_find(k, "code-value-quantity", FHIR_INDEX_COMPOSITE, NULL, NULL);
	assert_non_null(x);
	assert_int_equal(x->n_parts, 2);
	assert_int_equal(x->part_kind[0], FHIR_INDEX_TOKEN);
	assert_string_equal(x->part_b[0], "2345-7");
	assert_int_equal(x->part_kind[1], FHIR_INDEX_QUANTITY);
	assert_string_equal(x->part_a[1], "5.50");
	free(k);

	/* Range for number, integers as text, Timing bounds */
	k = index_text("{\"resourceType\":\"RiskAssessment\",\"status\":\"final\","
		       "\"subject\":{\"reference\":\"Patient/p\"},"
		       "\"prediction\":[{\"probabilityRange\":{\"low\":{\"value\":10},"
		       "\"high\":{\"value\":20}}},{\"probabilityDecimal\":0.25}]}");
	x = kept_find(k, "probability", FHIR_INDEX_NUMBER, "", NULL);
	assert_non_null(x);
	assert_true(isnan(x->value) && x->qlow == 10 && x->qhigh == 20);
	x = kept_find(k, "probability", FHIR_INDEX_NUMBER, "0.25", NULL);
	assert_non_null(x);
	assert_true(x->value == 0.25 && x->qlow == 0.25);
	free(k);
	k = index_text("{\"resourceType\":\"MolecularSequence\",\"coordinateSystem\":0,"
		       "\"variant\":[{\"start\":12,\"end\":15}],"
		       "\"referenceSeq\":{\"chromosome\":{\"coding\":[{\"code\":\"1\"}]}}}");
	assert_non_null(kept_find(k, "variant-start", FHIR_INDEX_NUMBER, "12", NULL));
	x = kept_find(k, "chromosome-variant-coordinate", FHIR_INDEX_COMPOSITE, NULL, NULL);
	assert_non_null(x);
	assert_int_equal(x->n_parts, 3);
	assert_string_equal(x->part_b[0], "1");		/* via %resource */
	assert_string_equal(x->part_a[1], "12");
	assert_string_equal(x->part_a[2], "15");
	free(k);
	k = index_text("{\"resourceType\":\"CarePlan\",\"status\":\"active\",\"intent\":\"plan\","
		       "\"subject\":{\"reference\":\"Patient/p\"},\"activity\":[{\"detail\":{"
		       "\"status\":\"scheduled\",\"scheduledTiming\":{\"event\":["
		       "\"2026-02-01\",\"2026-01-15\"],\"repeat\":{\"boundsPeriod\":{"
		       "\"end\":\"2026-03-01\"}}}}}]}");
	x = kept_find(k, "activity-date", FHIR_INDEX_DATE, NULL, NULL);
	assert_non_null(x);
	/* bounds open at the start win over the events */
	assert_true(x->low == FHIR_INDEX_MIN_MS && x->high == ms_of("2026-03-01T23:59:59.999Z", 0));
	free(k);
}

static void test_references(void **state)
{
	struct keep *k;
	const struct kept *x;

	(void)state;
	k = index_text("{\"resourceType\":\"Observation\",\"status\":\"final\","
		       "\"code\":{\"text\":\"x\"},"
		       "\"contained\":[{\"resourceType\":\"Practitioner\",\"id\":\"pr1\"}],"
		       "\"performer\":[{\"reference\":\"#pr1\"},"
		       "{\"reference\":\"https://other.example/fhir/Organization/o9/_history/3\"},"
		       "{\"type\":\"Practitioner\",\"identifier\":{\"system\":\"http://cchn\","
		       "\"value\":\"123\"}}],"
		       "\"basedOn\":[{\"identifier\":{\"value\":\"order-7\"}}]}");
	x = kept_find(k, "performer", FHIR_INDEX_REFERENCE, "Practitioner", "");
	assert_non_null(x);
	assert_string_equal(x->c, "#pr1");
	x = kept_find(k, "performer", FHIR_INDEX_REFERENCE, "Organization", "o9");
	assert_non_null(x);
	assert_string_equal(x->c, "https://other.example/fhir/Organization/o9/_history/3");
	assert_string_equal(x->d, "3");
	x = kept_find(k, "performer", FHIR_INDEX_REFERENCE_IDENTIFIER, "http://cchn", "123");
	assert_non_null(x);
	assert_int_equal(x->has_system, 1);
	/* a logical reference with a type is still found by :[type] */
	assert_non_null(kept_find(k, "performer", FHIR_INDEX_REFERENCE, "Practitioner", ""));
	x = kept_find(k, "based-on", FHIR_INDEX_REFERENCE_IDENTIFIER, "", "order-7");
	assert_non_null(x);
	assert_int_equal(x->has_system, 0);
	assert_non_null(kept_find(k, "code", FHIR_INDEX_TOKEN_TEXT, "x", "x"));
	free(k);

	/* canonicals */
	k = index_text("{\"resourceType\":\"ActivityDefinition\",\"status\":\"active\","
		       "\"url\":\"http://x/ActivityDefinition/a\","
		       "\"library\":[\"http://x/Library/lib|1.2\"],"
		       "\"relatedArtifact\":[{\"type\":\"composed-of\","
		       "\"resource\":\"http://x/Library/part\"},{\"type\":\"successor\","
		       "\"resource\":\"http://x/Library/next\"}]}");
	x = kept_find(k, "depends-on", FHIR_INDEX_REFERENCE, "", "");
	assert_non_null(x);
	assert_string_equal(x->c, "http://x/Library/lib");
	assert_string_equal(x->d, "1.2");
	assert_int_equal(x->canonical, 1);
	assert_int_equal(kept_count(k, "composed-of", FHIR_INDEX_REFERENCE), 1);
	assert_int_equal(kept_count(k, "successor", FHIR_INDEX_REFERENCE), 1);
	assert_non_null(kept_find(k, "url", FHIR_INDEX_URI, "http://x/ActivityDefinition/a", NULL));
	free(k);

	/* a document Bundle: its first resource */
	k = index_text("{\"resourceType\":\"Bundle\",\"type\":\"document\","
		       "\"identifier\":{\"system\":\"urn:ietf:rfc:3986\",\"value\":\"urn:uuid:1\"},"
		       "\"timestamp\":\"2026-01-01T00:00:00Z\",\"entry\":["
		       "{\"resource\":{\"resourceType\":\"Composition\",\"id\":\"c1\"}},"
		       "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"p\"}}]}");
	assert_non_null(kept_find(k, "composition", FHIR_INDEX_REFERENCE, "Composition", "c1"));
	assert_non_null(kept_find(k, "type", FHIR_INDEX_TOKEN, "", "document"));
	assert_non_null(kept_find(k, "identifier", FHIR_INDEX_TOKEN, "urn:ietf:rfc:3986",
				  "urn:uuid:1"));
	free(k);

	/* Location near */
	k = index_text("{\"resourceType\":\"Location\",\"name\":\"BV Ch\xe1\xbb\xa3 R\xe1\xba\xa9y\","
		       "\"position\":{\"latitude\":10.757,\"longitude\":106.659}}");
	x = kept_find(k, "near", FHIR_INDEX_POSITION, NULL, NULL);
	assert_non_null(x);
	assert_true(x->qlow == 10.757 && x->qhigh == 106.659);
	assert_non_null(kept_find(k, "name", FHIR_INDEX_STRING, NULL, "bv cho ray"));
	free(k);
}

/* A composite keeps up to COMPOSITE_MAX_VALUES (16) values per component:
 * values, not the :text entries that the same CodeableConcept gives (found
 * by the differential check: 9 codings with a display each lost the 9th),
 * nor duplicates. */
static void test_composite_values(void **state)
{
	char json[8192];
	size_t n = 0;
	struct keep *k;

	(void)state;
	n += (size_t)snprintf(json + n, sizeof(json) - n,
			      "{\"resourceType\":\"Observation\",\"status\":\"final\","
			      "\"code\":{\"text\":\"many\",\"coding\":[");
	for (int i = 1; i <= 20; i++)
		n += (size_t)snprintf(json + n, sizeof(json) - n,
				      "%s{\"system\":\"http://example.org\",\"code\":\"c%02d\","
				      "\"display\":\"Code %d\"}", i > 1 ? "," : "", i > 18 ? 1 : i, i);
	snprintf(json + n, sizeof(json) - n,
		 "]},\"valueQuantity\":{\"value\":5,\"unit\":\"g\"}}");
	k = index_text(json);
	/* 18 distinct codes (the last two repeat c01): the first 16 are kept */
	assert_int_equal(kept_count(k, "code-value-quantity", FHIR_INDEX_COMPOSITE), 16);
	assert_int_equal(kept_count(k, "code", FHIR_INDEX_TOKEN), 18);
	for (int i = 0; i < k->n; i++)
		if (strcmp(k->e[i].code, "code-value-quantity") == 0) {
			assert_int_equal(k->e[i].part_kind[0], FHIR_INDEX_TOKEN);
			assert_int_equal(k->e[i].part_kind[1], FHIR_INDEX_QUANTITY);
		}
	assert_non_null(kept_find(k, "code-value-quantity", FHIR_INDEX_COMPOSITE, NULL, NULL));
	{
		int found9 = 0, found16 = 0, found17 = 0;

		for (int i = 0; i < k->n; i++) {
			if (strcmp(k->e[i].code, "code-value-quantity") != 0)
				continue;
			found9 += strcmp(k->e[i].part_b[0], "c09") == 0;
			found16 += strcmp(k->e[i].part_b[0], "c16") == 0;
			found17 += strcmp(k->e[i].part_b[0], "c17") == 0;
		}
		assert_int_equal(found9, 1);
		assert_int_equal(found16, 1);
		assert_int_equal(found17, 0);
	}
	free(k);
}

static void test_errors_and_stop(void **state)
{
	struct keep *k = calloc(1, sizeof(*k));
	struct json_object *o;
	struct err e = { 0 };

	(void)state;
	assert_non_null(k);
	o = parse_text("{\"id\":\"x\"}");
	assert_int_equal(fhir_index_resource(o, keep_cb, k, &e), ERR_INVALID);
	json_object_put(o);
	err_clear(&e);
	o = parse_text("{\"resourceType\":\"Nope\"}");
	assert_int_equal(fhir_index_resource(o, keep_cb, k, &e), ERR_UNKNOWN_TYPE);
	json_object_put(o);
	err_clear(&e);
	/* the callback's nonzero value stops and comes back */
	o = parse_text("{\"resourceType\":\"Patient\",\"id\":\"a\",\"gender\":\"male\","
		       "\"active\":true}");
	k->n = 0;
	k->stop_after = 2;
	assert_int_equal(fhir_index_resource(o, keep_cb, k, &e), 1);
	assert_int_equal(k->n, 2);
	/* one parameter only */
	k->n = 0;
	k->stop_after = 0;
	assert_int_equal(fhir_index_param(o, fhir_search_param_find("Patient", "gender"), keep_cb,
					  k, &e), 0);
	assert_int_equal(k->n, 1);
	assert_string_equal(k->e[0].b, "male");
	assert_int_equal(fhir_index_param(o, fhir_search_param_find("Observation", "code"), keep_cb,
					  k, &e), ERR_BAD_REQUEST);
	json_object_put(o);
	free(k);
}

/* Several threads index the same tree at once (the first of them also
 * builds the compiled table): same entries each time, and nothing written
 * into the tree (TSan would see it; ASan checks the memory). */
#define THREADS 4
#define THREAD_ROUNDS 200

struct thread_arg {
	struct json_object *resource;
	size_t entries;
	int rc;
};

static int count_only(void *arg, const struct fhir_index_entry *en)
{
	(void)en;
	(*(size_t *)arg)++;
	return 0;
}

static void *index_thread(void *p)
{
	struct thread_arg *a = p;

	for (int r = 0; r < THREAD_ROUNDS && !a->rc; r++) {
		struct err e = { 0 };
		size_t n = 0;

		a->rc = fhir_index_resource(a->resource, count_only, &n, &e);
		if (r > 0 && n != a->entries)
			a->rc = -1;
		a->entries = n;
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct json_object *o = parse_text(
		"{\"resourceType\":\"Observation\",\"status\":\"final\","
		"\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"2345-7\"}],"
		"\"text\":\"Glucose\"},\"subject\":{\"reference\":\"Patient/p\"},"
		"\"effectiveDateTime\":\"2026-01-02\",\"valueQuantity\":{\"value\":5.50,"
		"\"unit\":\"mmol/L\"},\"component\":[{\"code\":{\"text\":\"x\"},"
		"\"valueQuantity\":{\"value\":1.25}}]}");
	const char *before;
	char copy[4096];
	pthread_t t[THREADS];
	struct thread_arg a[THREADS];

	(void)state;
	assert_non_null(o);
	before = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	snprintf(copy, sizeof(copy), "%s", before);
	for (int i = 0; i < THREADS; i++) {
		a[i].resource = o;
		a[i].entries = 0;
		a[i].rc = 0;
		assert_int_equal(pthread_create(&t[i], NULL, index_thread, &a[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(a[i].rc, 0);
		assert_true(a[i].entries > 5);	/* the combo-* unions have none (0034) */
		assert_int_equal(a[i].entries, a[0].entries);
	}
	assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), copy);
	json_object_put(o);
}

/* ---- the official examples --------------------------------------------- */

static void test_patient_example(void **state)
{
	struct json_object *o;
	struct keep *k;
	struct err e = { 0 };
	const struct kept *x;

	(void)state;
	if (!have_examples) {
		print_message("SKIP: R4 examples package not installed\n");
		skip();
	}
	o = load_example("Patient-example.json");
	assert_non_null(o);
	k = calloc(1, sizeof(*k));
	assert_non_null(k);
	assert_int_equal(fhir_index_resource(o, keep_cb, k, &e), 0);
	x = kept_find(k, "family", FHIR_INDEX_STRING, "Chalmers", "chalmers");
	if (!x)
		dump(k);
	assert_non_null(x);
	x = kept_find(k, "birthdate", FHIR_INDEX_DATE, NULL, NULL);
	assert_non_null(x);
	assert_true(x->low == ms_of("1974-12-25T00:00:00Z", 0));
	assert_true(x->high == ms_of("1974-12-25T23:59:59.999Z", 0));
	x = kept_find(k, "identifier", FHIR_INDEX_TOKEN, "urn:oid:1.2.36.146.595.217.0.1", "12345");
	assert_non_null(x);
	x = kept_find(k, "identifier", FHIR_INDEX_TOKEN_OF_TYPE,
		      "http://terminology.hl7.org/CodeSystem/v2-0203", "MR");
	assert_non_null(x);
	assert_string_equal(x->c, "12345");
	assert_non_null(kept_find(k, "gender", FHIR_INDEX_TOKEN, "", "male"));
	assert_non_null(kept_find(k, "organization", FHIR_INDEX_REFERENCE, "Organization", "1"));
	assert_non_null(kept_find(k, "phone", FHIR_INDEX_TOKEN, "", "(03) 5555 6473"));
	assert_non_null(kept_find(k, "address-city", FHIR_INDEX_STRING, "PleasantVille", NULL));
	assert_non_null(kept_find(k, "_id", FHIR_INDEX_TOKEN, "", "example"));
	assert_int_equal(kept_count(k, "given", FHIR_INDEX_STRING), 3);	/* Peter, James, Jim */
	free(k);
	json_object_put(o);
}

static void test_observation_example(void **state)
{
	struct json_object *o;
	struct keep *k;
	struct err e = { 0 };
	const struct kept *x;

	(void)state;
	if (!have_examples) {
		print_message("SKIP: R4 examples package not installed\n");
		skip();
	}
	o = load_example("Observation-example.json");
	assert_non_null(o);
	k = calloc(1, sizeof(*k));
	assert_non_null(k);
	assert_int_equal(fhir_index_resource(o, keep_cb, k, &e), 0);
	x = kept_find(k, "code", FHIR_INDEX_TOKEN, "http://loinc.org", "29463-7");
	if (!x)
		dump(k);
	assert_non_null(x);
	assert_int_equal(x->has_system, 1);
	assert_non_null(kept_find(k, "code", FHIR_INDEX_TOKEN_TEXT, "Body Weight", "body weight"));
	x = kept_find(k, "value-quantity", FHIR_INDEX_QUANTITY, "185", "http://unitsofmeasure.org");
	assert_non_null(x);
	assert_string_equal(x->c, "[lb_av]");
	assert_string_equal(x->d, "lbs");
	assert_true(x->value == 185);
	assert_non_null(kept_find(k, "patient", FHIR_INDEX_REFERENCE, "Patient", "example"));
	assert_non_null(kept_find(k, "category", FHIR_INDEX_TOKEN,
				  "http://terminology.hl7.org/CodeSystem/observation-category",
				  "vital-signs"));
	/* 4 codings x 1 quantity */
	assert_int_equal(kept_count(k, "code-value-quantity", FHIR_INDEX_COMPOSITE), 4);
	free(k);
	json_object_put(o);
}

struct counting {
	size_t entries;
	size_t by_kind[FHIR_INDEX_COMPOSITE + 1];
};

static int count_cb(void *arg, const struct fhir_index_entry *en)
{
	struct counting *c = arg;

	c->entries++;
	c->by_kind[en->kind]++;
	return 0;
}

static int example_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 5 && strcmp(d->d_name + n - 5, ".json") == 0 &&
	       strcmp(d->d_name, "package.json") != 0 && strcmp(d->d_name, ".index.json") != 0;
}

/* Definitional and infrastructure resources: left out of the timing, which
 * is about the clinical and administrative data written all day. */
static int definitional(const char *type)
{
	static const char *const names[] = {
		"ActivityDefinition", "Binary", "Bundle", "CapabilityStatement",
		"ChargeItemDefinition", "CodeSystem", "CompartmentDefinition", "ConceptMap",
		"DeviceDefinition", "EffectEvidenceSynthesis", "EventDefinition", "Evidence",
		"EvidenceVariable", "ExampleScenario", "GraphDefinition", "ImplementationGuide",
		"Library", "Measure", "MessageDefinition", "NamingSystem", "ObservationDefinition",
		"OperationDefinition", "OperationOutcome", "Parameters", "PlanDefinition",
		"Questionnaire", "ResearchDefinition", "ResearchElementDefinition",
		"RiskEvidenceSynthesis", "SearchParameter", "SpecimenDefinition",
		"StructureDefinition", "StructureMap", "TerminologyCapabilities", "TestReport",
		"TestScript", "ValueSet",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i], type) == 0)
			return 1;
	return strncmp(type, "Medicinal", 9) == 0 || strncmp(type, "Substance", 9) == 0;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* (parameter type, value type) pairs met and not turned into entries */
#define GAP_MAX 256

struct gap {
	int param_type;
	char value_type[64];
	char example[96];	/* Type.code of the first parameter seen */
	long count;
};

static void note_gap(struct gap *gaps, int *n_gaps, const struct fhir_search_param *p,
		     const struct fhirpath_value *v)
{
	const char *vt = v->kind == FHIRPATH_TYPE ? "(resolved type)" : fhirpath_type_name(v->type);
	int i;

	for (i = 0; i < *n_gaps; i++)
		if (gaps[i].param_type == p->type && strcmp(gaps[i].value_type, vt) == 0)
			break;
	if (i == *n_gaps) {
		if (*n_gaps == GAP_MAX)
			return;
		gaps[i].param_type = p->type;
		snprintf(gaps[i].value_type, sizeof(gaps[i].value_type), "%s", vt);
		snprintf(gaps[i].example, sizeof(gaps[i].example), "%s.%s", p->resource_type,
			 p->code);
		gaps[i].count = 0;
		(*n_gaps)++;
	}
	gaps[i].count++;
}

static void test_all_examples(void **state)
{
	static struct gap gaps[GAP_MAX];
	struct dirent **names = NULL;
	struct counting total = { 0 };
	struct fhirpath_ctx ctx;
	double *times = NULL, *parse_times = NULL;
	int n_names, n_resources = 0, n_times = 0, failures = 0, n_gaps = 0;
	long evaluations = 0, eval_failures = 0, nonempty = 0, values = 0;
	int reps = getenv("LT_INDEX_REPS") ? atoi(getenv("LT_INDEX_REPS")) : 5;

	(void)state;
	if (!have_examples) {
		print_message("SKIP: R4 examples package not installed\n");
		skip();
	}
	if (reps < 1)
		reps = 1;
	fhirpath_ctx_init(&ctx);
	n_names = scandir(examples_dir, &names, example_file, alphasort);
	assert_true(n_names > 5000);
	times = calloc((size_t)n_names, sizeof(*times));
	parse_times = calloc((size_t)n_names, sizeof(*parse_times));
	assert_true(times && parse_times);
	for (int i = 0; i < n_names; i++) {
		char path[8192];
		struct json_object *o = NULL, *rt;
		struct err e = { 0 };
		size_t len = 0, n_params;
		const struct fhir_search_param *params;
		char *text;
		double parse_us;
		int rc;

		assert_int_equal(td_join(path, sizeof(path), examples_dir, "/") ||
				 td_join(path + strlen(path), sizeof(path) - strlen(path),
				      names[i]->d_name, ""), 0);
		text = td_slurp(path, &len);
		assert_non_null(text);
		parse_us = now_us();
		rc = json_parse(text, len, JSON_DEFAULT_MAX_DEPTH, &o, &e);
		parse_us = now_us() - parse_us;
		if (rc != 0 ||
		    !json_object_object_get_ex(o, "resourceType", &rt)) {
			free(text);
			json_object_put(o);
			free(names[i]);
			continue;
		}
		free(text);
		n_resources++;
		/* every parameter of the type, one by one: no evaluation fails,
		 * and what extraction does not use is counted */
		params = fhir_search_params_for(json_object_get_string(rt), &n_params);
		for (size_t j = 0; j < n_params; j++) {
			const struct fhirpath_expr *x = fhir_search_param_expr(&params[j]);
			size_t first, n;

			if (!x)
				continue;
			evaluations++;
			ctx.n = 0;
			err_clear(&e);
			if (fhirpath_eval(&ctx, x, o, NULL, &first, &n, &e) != 0) {
				eval_failures++;
				print_error("%s %s: %s\n", names[i]->d_name, params[j].code,
					    e.issue[0].diagnostics);
				continue;
			}
			nonempty += n > 0;
			values += (long)n;
			if (params[j].type == FHIR_SEARCH_COMPOSITE)
				continue;
			for (size_t m = 0; m < n; m++)
				if (!fhir_index_supports(params[j].type, &ctx.item[first + m]))
					note_gap(gaps, &n_gaps, &params[j], &ctx.item[first + m]);
		}
		err_clear(&e);
		rc = fhir_index_resource(o, count_cb, &total, &e);
		if (rc) {
			print_error("%s: %s\n", names[i]->d_name, e.issue[0].diagnostics);
			failures++;
		} else if (!definitional(json_object_get_string(rt))) {
			struct counting scratch = { 0 };
			double t0 = now_us();

			for (int r = 0; r < reps; r++)
				rc |= fhir_index_resource(o, count_cb, &scratch, &e);
			times[n_times] = (now_us() - t0) / reps;
			parse_times[n_times++] = parse_us;
		}
		json_object_put(o);
		free(names[i]);
	}
	free(names);
	fhirpath_ctx_release(&ctx);
	print_message("index: %d example resources, %zu entries (string %zu, token %zu, token "
		      ":text %zu, :of-type %zu, date %zu, number %zu, quantity %zu, reference %zu, "
		      "reference :identifier %zu, uri %zu, position %zu, composite %zu)\n",
		      n_resources, total.entries, total.by_kind[FHIR_INDEX_STRING],
		      total.by_kind[FHIR_INDEX_TOKEN], total.by_kind[FHIR_INDEX_TOKEN_TEXT],
		      total.by_kind[FHIR_INDEX_TOKEN_OF_TYPE], total.by_kind[FHIR_INDEX_DATE],
		      total.by_kind[FHIR_INDEX_NUMBER], total.by_kind[FHIR_INDEX_QUANTITY],
		      total.by_kind[FHIR_INDEX_REFERENCE],
		      total.by_kind[FHIR_INDEX_REFERENCE_IDENTIFIER], total.by_kind[FHIR_INDEX_URI],
		      total.by_kind[FHIR_INDEX_POSITION], total.by_kind[FHIR_INDEX_COMPOSITE]);
	print_message("evaluations: %ld (resource, parameter) pairs, %ld failed, %ld non-empty, "
		      "%ld values\n", evaluations, eval_failures, nonempty, values);
	for (int i = 0; i < n_gaps; i++)
		print_message("  not indexed: %s parameter on %s value: %ld (e.g. %s)\n",
			      fhir_search_type_name(gaps[i].param_type), gaps[i].value_type,
			      gaps[i].count, gaps[i].example);
	if (n_times) {
		qsort(times, (size_t)n_times, sizeof(*times), cmp_double);
		print_message("extraction per resource over %d clinical/administrative examples "
			      "(mean of %d runs each): median %.2f us, p90 %.2f us, p99 %.2f us, "
			      "max %.1f us\n", n_times, reps, times[n_times / 2],
			      times[n_times * 9 / 10], times[n_times * 99 / 100],
			      times[n_times - 1]);
		qsort(parse_times, (size_t)n_times, sizeof(*parse_times), cmp_double);
		print_message("for comparison, json_parse of the same resources (one run each): "
			      "median %.2f us, p90 %.2f us\n", parse_times[n_times / 2],
			      parse_times[n_times * 9 / 10]);
	}
	free(times);
	free(parse_times);
	assert_int_equal(eval_failures, 0);
	assert_int_equal(failures, 0);
}

/* ---- custom search parameters (search_custom.c) ------------------------- */

struct skipped {
	int n;
	char id[4][32], why[4][256];
};

static void on_skip(void *arg, const char *id, const struct err *why)
{
	struct skipped *s = arg;

	if (s->n < 4) {
		snprintf(s->id[s->n], sizeof(s->id[0]), "%s", id);
		snprintf(s->why[s->n], sizeof(s->why[0]), "%s", why->issue[0].diagnostics);
	}
	s->n++;
}

static void test_custom_params(void **state)
{
	static const char *const defs[] = {
		"{\"resourceType\":\"SearchParameter\",\"url\":\"urn:x:eth\",\"status\":\"active\","
		"\"code\":\"ethnicity\",\"base\":[\"Patient\"],\"type\":\"token\","
		"\"expression\":\"Patient.extension.where(url='urn:eth').value\"}",
		/* two bases, one expression */
		"{\"resourceType\":\"SearchParameter\",\"url\":\"urn:x:since\",\"status\":\"active\","
		"\"code\":\"since\",\"base\":[\"Patient\",\"Practitioner\"],\"type\":\"date\","
		"\"expression\":\"Patient.extension('urn:since').value |"
		" Practitioner.extension('urn:since').value\"}",
		/* the same code again: left out, the older one kept */
		"{\"resourceType\":\"SearchParameter\",\"url\":\"urn:x:eth2\",\"status\":\"active\","
		"\"code\":\"ethnicity\",\"base\":[\"Patient\"],\"type\":\"string\","
		"\"expression\":\"Patient.gender\"}",
		/* not active: nothing */
		"{\"resourceType\":\"SearchParameter\",\"url\":\"urn:x:d\",\"status\":\"draft\","
		"\"code\":\"drafted\",\"base\":[\"Patient\"],\"type\":\"token\","
		"\"expression\":\"Patient.gender\"}",
	};
	static const char *const ids[] = { "eth", "since", "eth2", "d" };
	struct json_object *o[4];
	struct skipped sk = { 0 };
	struct err e = { 0 };
	const char *table = fhir_search_table_fingerprint();
	const struct fhir_search_param *p, *q;
	int patient = fhir_resource_type_index("Patient", 7);
	struct keep *k;
	size_t n;

	for (int i = 0; i < 4; i++)
		assert_non_null(o[i] = parse_text(defs[i]));
	assert_null(fhir_search_param_find("Patient", "ethnicity"));
	assert_string_equal(fhir_search_fingerprint(), table);
	assert_int_equal(fhir_search_customs_publish(o, ids, 4, on_skip, &sk, &e), 0);
	assert_int_equal(sk.n, 1);
	assert_string_equal(sk.id[0], "eth2");
	assert_non_null(strstr(sk.why[0], "SearchParameter/eth already defines Patient 'ethnicity'"));
	assert_int_equal(fhir_search_customs_count(fhir_search_customs()), 3);

	p = fhir_search_param_find("Patient", "ethnicity");
	assert_non_null(p);
	assert_int_equal(p->type, FHIR_SEARCH_TOKEN);
	assert_string_equal(fhir_search_custom_url(p), "urn:x:eth");
	assert_true(fhir_search_param_key(p, FHIR_SEARCH_SUB_TEXT) ==
		    fhir_search_param_key(p, FHIR_SEARCH_SUB_VALUE) + 1);
	assert_true(fhir_search_param_key(p, 0) >= 0x40000000u);
	assert_null(fhir_search_custom_url(fhir_search_param_find("Patient", "name")));
	assert_null(fhir_search_param_find("Patient", "drafted"));
	q = fhir_search_param_find("Practitioner", "since");
	assert_non_null(q);
	assert_true(fhir_search_param_key(q, 0) != fhir_search_param_key(
		fhir_search_param_find("Patient", "since"), 0));
	/* by type, by code */
	assert_ptr_equal(fhir_search_customs_param(fhir_search_customs(), patient, 0), p);
	assert_non_null(fhir_search_customs_param(fhir_search_customs(), patient, 1));
	assert_null(fhir_search_customs_param(fhir_search_customs(), patient, 2));
	assert_non_null(strstr(fhir_search_fingerprint(), table));
	assert_string_not_equal(fhir_search_fingerprint(), table);

	/* Extraction uses them, each on its own type only. */
	k = index_text("{\"resourceType\":\"Patient\",\"id\":\"p\",\"gender\":\"male\","
		       "\"extension\":[{\"url\":\"urn:eth\",\"valueCoding\":{\"system\":\"urn:s\","
		       "\"code\":\"05\"}},{\"url\":\"urn:since\",\"valueDate\":\"2023-07-15\"}]}");
	assert_non_null(kept_find(k, "ethnicity", FHIR_INDEX_TOKEN, "urn:s", "05"));
	assert_int_equal(kept_count(k, "since", FHIR_INDEX_DATE), 1);
	free(k);
	k = index_text("{\"resourceType\":\"Practitioner\",\"id\":\"d\",\"extension\":"
		       "[{\"url\":\"urn:since\",\"valueDate\":\"2020\"},"
		       "{\"url\":\"urn:eth\",\"valueCoding\":{\"code\":\"01\"}}]}");
	assert_int_equal(kept_count(k, "since", FHIR_INDEX_DATE), 1);
	assert_int_equal(kept_count(k, "ethnicity", FHIR_INDEX_TOKEN), 0);
	free(k);

	/* Checks against the current set: an update of the same resource is
	 * no clash, another resource with the code is; built-in codes are
	 * refused unless it is the official definition. */
	assert_int_equal(fhir_search_custom_check(o[0], "eth", fhir_search_customs(), &n, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(fhir_search_custom_check(o[0], "other", fhir_search_customs(), &n, &e),
			 ERR_INVALID);
	assert_string_equal(e.issue[0].expression, "SearchParameter.code");
	err_clear(&e);
	assert_int_equal(fhir_search_custom_check(o[3], "d", fhir_search_customs(), &n, &e), 0);
	assert_int_equal(n, 0);
	for (int i = 0; i < 4; i++)
		json_object_put(o[i]);
	o[0] = parse_text("{\"resourceType\":\"SearchParameter\",\"status\":\"active\","
			  "\"url\":\"http://hl7.org/fhir/SearchParameter/individual-family\","
			  "\"code\":\"family\",\"base\":[\"Patient\",\"Practitioner\"],"
			  "\"type\":\"string\",\"expression\":\"Patient.name.family\"}");
	assert_int_equal(fhir_search_custom_check(o[0], "f", NULL, &n, &e), 0);
	assert_int_equal(n, 0);
	json_object_put(o[0]);
	o[0] = parse_text("{\"resourceType\":\"SearchParameter\",\"status\":\"active\","
			  "\"url\":\"urn:mine\",\"code\":\"family\",\"base\":[\"Patient\"],"
			  "\"type\":\"string\",\"expression\":\"Patient.name.family\"}");
	assert_int_equal(fhir_search_custom_check(o[0], "f", NULL, &n, &e), ERR_INVALID);
	assert_non_null(strstr(e.issue[0].diagnostics, "already has a search parameter 'family'"));
	err_clear(&e);
	json_object_put(o[0]);

	/* A reindex compares fingerprints type by type. */
	{
		unsigned char stale[512];
		char f[1024];
		int patient_t = fhir_resource_type_index("Patient", 7);
		int prac_t = fhir_resource_type_index("Practitioner", 12);

		assert_true(fhir_resource_type_count() <= 512);
		snprintf(f, sizeof(f), "%s", fhir_search_fingerprint());
		assert_int_equal(fhir_search_fingerprint_diff(f, f, stale), 0);
		assert_int_equal(fhir_search_fingerprint_diff(table, f, stale), 2);
		assert_true(stale[patient_t] && stale[prac_t]);
		assert_int_equal(fhir_search_fingerprint_diff(f, table, stale), 2);
		assert_int_equal(fhir_search_fingerprint_diff("r4-older", f, stale),
				 fhir_resource_type_count());
		assert_int_equal(fhir_search_fingerprint_diff("r4-older", table, stale),
				 fhir_resource_type_count());
	}

	/* An empty set: back to the table alone. */
	assert_int_equal(fhir_search_customs_publish(NULL, NULL, 0, NULL, NULL, &e), 0);
	assert_null(fhir_search_param_find("Patient", "ethnicity"));
	assert_string_equal(fhir_search_fingerprint(), table);
	(void)state;
}

/* The unions (fhir_search_param_union): exactly Observation's combo-*
 * parameters, each code | component-code and the like; extraction gives
 * them no entries, and a custom parameter is never one. */
static void test_union_params(void **state)
{
	static const char *const want[][3] = {
		{ "combo-code", "code", "component-code" },
		{ "combo-code-value-concept", "code-value-concept", "component-code-value-concept" },
		{ "combo-code-value-quantity", "code-value-quantity", "component-code-value-quantity" },
		{ "combo-data-absent-reason", "data-absent-reason", "component-data-absent-reason" },
		{ "combo-value-concept", "value-concept", "component-value-concept" },
		{ "combo-value-quantity", "value-quantity", "component-value-quantity" },
	};
	struct keep *k = calloc(1, sizeof(*k));
	struct json_object *o;
	struct err e = { 0 };
	size_t found = 0;
	uint32_t part[2];

	assert_non_null(k);
	for (size_t i = 0; i < FHIR_SEARCH_PARAM_COUNT; i++) {
		const struct fhir_search_param *p = &fhir_search_params[i], *a, *b = NULL;
		size_t j;

		if (!(a = fhir_search_param_union(p, &b)))
			continue;
		for (j = 0; j < sizeof(want) / sizeof(want[0]); j++)
			if (!strcmp(p->code, want[j][0]))
				break;
		assert_true(j < sizeof(want) / sizeof(want[0]));
		assert_string_equal(p->resource_type, "Observation");
		assert_string_equal(a->code, want[j][1]);
		assert_string_equal(b->code, want[j][2]);
		assert_int_equal(fhir_search_union_keys(fhir_search_param_key(p, 1), part), 1);
		assert_int_equal(part[0], fhir_search_param_key(a, 1));
		assert_int_equal(part[1], fhir_search_param_key(b, 1));
		found++;
	}
	assert_int_equal(found, sizeof(want) / sizeof(want[0]));
	assert_null(fhir_search_param_union(fhir_search_param_find("Observation", "code"), NULL));
	assert_int_equal(fhir_search_union_keys(0x40000000u, part), 0);

	o = parse_text("{\"resourceType\":\"Observation\",\"status\":\"final\","
		       "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"1\"}]},"
		       "\"component\":[{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\","
		       "\"code\":\"2\"}]}}]}");
	assert_int_equal(fhir_index_resource(o, keep_cb, k, &e), 0);
	assert_true(k->n > 0);
	for (int i = 0; i < k->n; i++)
		assert_null(strstr(k->e[i].code, "combo-"));
	json_object_put(o);
	free(k);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* first: its threads race to build the compiled table */
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_reference_split),
		cmocka_unit_test(test_vietnamese_patient),
		cmocka_unit_test(test_dates_and_quantities),
		cmocka_unit_test(test_references),
		cmocka_unit_test(test_composite_values),
		cmocka_unit_test(test_errors_and_stop),
		cmocka_unit_test(test_patient_example),
		cmocka_unit_test(test_observation_example),
		cmocka_unit_test(test_all_examples),
		cmocka_unit_test(test_custom_params),
		cmocka_unit_test(test_union_params),
	};
	int rc;

	have_examples = td_find_examples(examples_dir, sizeof(examples_dir)) == 0;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (rc == 0 && !have_examples) {
		printf("SKIP: the R4 examples package is not installed (set LT_R4_EXAMPLES to the "
		       "unpacked hl7.fhir.r4.examples@4.0.1, or install it under "
		       "tests/client/node_modules); the tests on real data did not run\n");
		return 77;
	}
	return rc;
}
