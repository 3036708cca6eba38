/*
 * test_gen_defects.c — the defects filter (src/gen/gen_defects.c): the
 * same seed gives the same bytes and sidecar; rate 0 changes nothing; the
 * rate and each kind's share are honoured; every sidecar line names a
 * resource of the output that has the stated defect; every changed
 * resource still passes the server's validation; every reference of a
 * duplicated patient's resources resolves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "base/json.h"
#include "fhir/fhir.h"
#include "gen/gen.h"
#include "gen/gen_defects.h"

#define N_RATE_PATIENTS 5000
#define MAX_PENDING 64

/* Whether gen_patient gives this id to a patient of some city: "gen-pat-"
 * and the patient number, at least 6 digits, no other leading zeros; a
 * city has at most GEN_MAX_PATIENTS, and never more than 99,999,999. */
static int an_original_id(const char *id)
{
	char canonical[32];
	unsigned long long k;

	if (strncmp(id, "gen-pat-", 8))
		return 0;
	k = strtoull(id + 8, NULL, 10);
	snprintf(canonical, sizeof(canonical), "gen-pat-%06llu", k);
	return k >= 1 && k <= 99999999 && !strcmp(canonical, id);
}

static uint64_t fnv(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
	return (h ^ '\n') * 0x100000001b3ull;
}

/* ---- digests: determinism and rate 0 -------------------------------------------- */

struct digest {
	uint64_t h, sidecar;
	size_t n, lines;
};

static int on_digest(void *arg, enum gen_type type, const char *id, const char *json, size_t n)
{
	struct digest *d = arg;

	d->h = fnv(d->h, json, n);
	d->n++;
	return 0;
}

static int on_digest_line(void *arg, const char *json, size_t n)
{
	struct digest *d = arg;

	d->sidecar = fnv(d->sidecar, json, n);
	d->lines++;
	return 0;
}

/* rate < 0: without the filter. */
static struct digest city(uint64_t seed, double rate, size_t patients)
{
	struct gen *g = malloc(sizeof(*g));
	struct digest d = { 0xcbf29ce484222325ull, 0xcbf29ce484222325ull, 0, 0 };
	struct gen_defects *f = NULL;
	gen_emit_fn emit = on_digest;
	void *arg = &d;

	assert_non_null(g);
	gen_init(g, seed);
	if (rate >= 0) {
		assert_non_null(f = gen_defects_new(seed, rate, on_digest, &d, on_digest_line, &d));
		emit = gen_defects_emit;
		arg = f;
	}
	assert_int_equal(gen_facilities(g, emit, arg), 0);
	for (size_t i = 0; i < patients; i++)
		assert_int_equal(gen_patient(g, i, emit, arg), 0);
	gen_defects_free(f);
	gen_release(g);
	free(g);
	return d;
}

static void same_seed_same_defects(void **state)
{
	struct digest a = city(42, 0.05, 500), b = city(42, 0.05, 500), c = city(43, 0.05, 500);
	struct digest plain = city(42, -1, 500);

	assert_true(a.lines > 500);
	assert_true(a.h == b.h && a.sidecar == b.sidecar && a.n == b.n && a.lines == b.lines);
	assert_true(a.h != c.h && a.sidecar != c.sidecar);
	assert_true(a.h != plain.h);
}

static void rate_zero_changes_nothing(void **state)
{
	struct digest plain = city(7, -1, 300), zero = city(7, 0, 300);

	assert_true(plain.h == zero.h);
	assert_int_equal(plain.n, zero.n);
	assert_int_equal(zero.lines, 0);
	assert_null(gen_defects_new(1, 1.5, on_digest, NULL, on_digest_line, NULL));
	assert_null(gen_defects_new(1, -0.1, on_digest, NULL, on_digest_line, NULL));
	assert_null(gen_defects_new(1, NAN, on_digest, NULL, on_digest_line, NULL));
}

/* ---- the truth: every sidecar line against the output ------------------------------ */

struct truth {
	/* Sidecar lines waiting for their resource (recorded before it is emitted). */
	struct json_object *pending[MAX_PENDING];
	size_t n_pending;
	/* The current patient, its duplicate, its encounters. */
	char patient[64], dup[64], expected_dup[64];
	char encounters[256][64];
	size_t n_enc;
	/* Counts. */
	size_t resources[GEN_N_TYPES], lines, by_kind[GEN_DEFECT_N_KINDS][GEN_N_TYPES];
	size_t invalid, wrong, unresolved, validate_all;
};

static int on_line(void *arg, const char *json, size_t n)
{
	struct truth *t = arg;
	struct json_object *o = NULL;
	struct err e = { 0 };

	assert_int_equal(json_parse(json, n, JSON_DEFAULT_MAX_DEPTH, &o, &e), 0);
	assert_true(t->n_pending < MAX_PENDING);
	t->pending[t->n_pending++] = o;
	t->lines++;
	return 0;
}

/* Resource element at a path like "identifier[0].value" or "code.coding[0]". */
static struct json_object *at_path(struct json_object *o, const char *path)
{
	char seg[64];

	while (o && *path) {
		size_t k = strcspn(path, ".");
		char *br;

		snprintf(seg, sizeof(seg), "%.*s", (int)k, path);
		path += k + (path[k] == '.');
		br = strchr(seg, '[');
		if (br)
			*br = 0;
		if (!json_object_object_get_ex(o, seg, &o))
			return NULL;
		if (br)
			o = json_object_array_get_idx(o, (size_t)atoi(br + 1));
	}
	return o;
}

static double num(struct json_object *o)
{
	return json_object_get_double(o);
}

static const char *get_s(struct json_object *o, const char *path)
{
	struct json_object *v = at_path(o, path);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

static int has_cccd(struct json_object *res, const char *value)
{
	struct json_object *ids = at_path(res, "identifier");

	for (size_t i = 0; ids && i < json_object_array_length(ids); i++) {
		struct json_object *x = json_object_array_get_idx(ids, i);

		if (!strcmp(get_s(x, "system"), GEN_SID_CCCD) && !strcmp(get_s(x, "value"), value))
			return 1;
	}
	return 0;
}

/* Does res show the defect that line l states? */
static int shows(struct json_object *res, struct json_object *l)
{
	const char *kind = get_s(l, "kind"), *path = get_s(l, "path");
	struct json_object *value = at_path(l, "value"), *now = at_path(res, path);

	if (!strcmp(kind, "cccd-missing"))
		return !has_cccd(res, get_s(l, "original"));
	if (!strcmp(path, "component.valueQuantity.value")) {
		struct json_object *s = at_path(res, "component[0].valueQuantity.value"),
				   *d = at_path(res, "component[1].valueQuantity.value");

		return s && d && num(d) > num(s) && num(s) == num(json_object_array_get_idx(value, 0));
	}
	if (!now || !json_object_equal(now, value))
		return 0;
	if (!strcmp(kind, "local-code"))
		return !strncmp(get_s(res, "code.coding[0].system"), "urn:lienthong:local:79", 22);
	if (!strcmp(kind, "impossible-value"))
		return num(now) < 0 || (!strcmp(get_s(l, "variant"), "height-over-3-m") && num(now) > 300) ||
		       (!strcmp(get_s(l, "variant"), "heart-rate-times-10") && num(now) >= 300);
	if (!strcmp(kind, "birth-date-future") || !strcmp(kind, "onset-future"))
		return strcmp(json_object_get_string(now), "2030") > 0;
	if (!strcmp(kind, "period-end-before-start"))
		return strcmp(json_object_get_string(now), get_s(res, "period.start")) < 0;
	if (!strcmp(kind, "encounter-in-progress"))
		return !at_path(res, "period.end");
	if (!strcmp(kind, "stale-address"))	/* the old district (above), no 2025 ward code */
		return !at_path(res, "address[0].extension");
	if (!strcmp(kind, "stale-phone"))
		return strlen(json_object_get_string(now)) == 11 && !strncmp(json_object_get_string(now), "01", 2);
	return 1;
}

static int kind_index(const char *name)
{
	for (int k = 0; k < GEN_DEFECT_N_KINDS; k++)
		if (!strcmp(name, gen_defect_kind_name((enum gen_defect_kind)k)))
			return k;
	return -1;
}

static int known(struct truth *t, const char *reference)
{
	if (!strncmp(reference, "Patient/", 8))
		return !strcmp(reference + 8, t->patient) || (t->dup[0] && !strcmp(reference + 8, t->dup));
	if (!strncmp(reference, "Encounter/", 10)) {
		for (size_t i = 0; i < t->n_enc; i++)
			if (!strcmp(reference + 10, t->encounters[i]))
				return 1;
		return 0;
	}
	return !strncmp(reference, "Organization/gen-org-79", 23) || !strncmp(reference, "Location/gen-loc-79", 19);
}

static int on_resource(void *arg, enum gen_type type, const char *id, const char *json, size_t n)
{
	struct truth *t = arg;
	struct json_object *o = NULL;
	struct err e = { 0 };
	size_t mine = 0;
	int is_dup = type == GEN_PATIENT && t->expected_dup[0] && !strcmp(id, t->expected_dup);

	for (size_t i = 0; i < t->n_pending; i++)
		mine += !strcmp(get_s(t->pending[i], "id"), id);
	if (type == GEN_PATIENT && !is_dup) {
		snprintf(t->patient, sizeof(t->patient), "%s", id);
		t->dup[0] = t->expected_dup[0] = 0;
		t->n_enc = 0;
		/* A duplicate's line is recorded before its original is emitted. */
		for (size_t i = 0; i < t->n_pending; i++)
			if (!strcmp(get_s(t->pending[i], "kind"), "duplicate") &&
			    !strcmp(get_s(t->pending[i], "duplicateOf"), id))
				snprintf(t->expected_dup, sizeof(t->expected_dup), "%s",
					 get_s(t->pending[i], "id"));
	} else if (is_dup) {
		snprintf(t->dup, sizeof(t->dup), "%s", id);
	}
	if (type == GEN_ENCOUNTER && t->n_enc < 256)
		snprintf(t->encounters[t->n_enc++], sizeof(t->encounters[0]), "%s", id);
	/* Untouched resources are the generator's bytes (test_gen.c checks them). */
	if (!mine && !t->validate_all && !is_dup && !t->dup[0]) {
		t->resources[type]++;
		return 0;
	}
	assert_int_equal(json_parse(json, n, JSON_DEFAULT_MAX_DEPTH, &o, &e), 0);
	assert_string_equal(json_object_get_string(at_path(o, "id")), id);
	if ((mine || t->validate_all || is_dup) && fhir_validate(o, &e)) {
		print_error("invalid %s: %s at %s\n", id, e.n_issues ? e.issue[0].diagnostics : "",
			    e.n_issues ? e.issue[0].expression : "");
		t->invalid++;
	}
	/* References resolve: to this patient, its duplicate, its encounters, a facility. */
	if (type == GEN_ENCOUNTER || type == GEN_CONDITION || type == GEN_OBSERVATION) {
		const char *s = get_s(o, "subject.reference"), *enc = get_s(o, "encounter.reference");

		if (!known(t, s) || (type != GEN_ENCOUNTER && *enc && !known(t, enc))) {
			print_error("%s: unresolved %s or %s\n", id, s, enc);
			t->unresolved++;
		}
	}
	/* Each sidecar line about this resource: does it show the defect? */
	for (size_t i = 0; i < t->n_pending;) {
		struct json_object *l = t->pending[i];
		int k = kind_index(get_s(l, "kind"));

		if (strcmp(get_s(l, "id"), id)) {
			i++;
			continue;
		}
		assert_true(k >= 0);
		assert_string_equal(get_s(l, "resourceType"), gen_type_name(type));
		if (!shows(o, l)) {
			print_error("%s does not show %s\n", id, json_object_to_json_string(l));
			t->wrong++;
		}
		if (k == GEN_DEFECT_DUPLICATE) {
			/* The duplicate comes right after its original, with the same birth date;
			 * its id is no patient's of any city gen makes. */
			assert_string_equal(get_s(l, "duplicateOf"), t->patient);
			assert_true(is_dup);
			if (an_original_id(id))
				fail_msg("duplicate %s has the id of patient %s", id, id + 8);
		}
		if (k == GEN_DEFECT_MOVED)
			assert_string_equal(get_s(l, "duplicateOf"), t->patient);
		t->by_kind[k][type]++;
		json_object_put(l);
		t->pending[i] = t->pending[--t->n_pending];
	}
	if (!is_dup)
		t->resources[type]++;
	json_object_put(o);
	return 0;
}

static void run_truth(struct truth *t, uint64_t seed, double rate, size_t patients)
{
	struct gen *g = malloc(sizeof(*g));
	struct gen_defects *f;

	assert_non_null(g);
	gen_init(g, seed);
	assert_non_null(f = gen_defects_new(seed, rate, on_resource, t, on_line, t));
	assert_int_equal(gen_facilities(g, gen_defects_emit, f), 0);
	for (size_t i = 0; i < patients; i++) {
		assert_int_equal(gen_patient(g, i, gen_defects_emit, f), 0);
		assert_int_equal(t->n_pending, 0);	/* every line matched a resource */
	}
	assert_int_equal(t->invalid, 0);
	assert_int_equal(t->wrong, 0);
	assert_int_equal(t->unresolved, 0);
	/* The filter's own counts agree with the sidecar. */
	assert_int_equal(gen_defects_stats(f)->lines, t->lines);
	for (int k = 0; k < GEN_DEFECT_N_KINDS; k++) {
		size_t sum = 0;

		for (int ty = 0; ty < GEN_N_TYPES; ty++)
			sum += t->by_kind[k][ty];
		assert_int_equal(gen_defects_stats(f)->kind[k], sum);
	}
	gen_defects_free(f);
	free(g);
}

/* A high rate on a few patients: every kind appears, every resource valid. */
static void every_line_is_true_and_valid(void **state)
{
	struct truth *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->validate_all = 1;
	run_truth(t, 11, 0.3, 300);
	print_message("%zu sidecar lines over %zu Observations\n", t->lines, t->resources[GEN_OBSERVATION]);
	for (int k = 0; k < GEN_DEFECT_N_KINDS; k++) {
		size_t sum = 0;

		for (int ty = 0; ty < GEN_N_TYPES; ty++)
			sum += t->by_kind[k][ty];
		if (!sum)
			print_error("no %s\n", gen_defect_kind_name((enum gen_defect_kind)k));
		assert_true(sum > 0);
	}
	free(t);
}

/* |got - want| within 4.5 standard errors of a binomial(n, p). */
static int near(size_t got, size_t n, double p)
{
	double sd = sqrt((double)n * p * (1 - p));

	return fabs((double)got - (double)n * p) <= 4.5 * sd + 1;
}

static void rate_and_shares_are_honoured(void **state)
{
	struct truth *t = calloc(1, sizeof(*t));
	const double rate = 0.05;
	/* The catalogue's shares (gen_defects.c, docs/synthetic-data.md). */
	static const struct { enum gen_defect_kind k; enum gen_type type; double share; } shares[] = {
		{ GEN_DEFECT_CCCD_MISSING, GEN_PATIENT, 0.15 },
		{ GEN_DEFECT_CCCD_MALFORMED, GEN_PATIENT, 0.25 },
		{ GEN_DEFECT_DUPLICATE, GEN_PATIENT, 0.30 },
		{ GEN_DEFECT_STALE_PHONE, GEN_PATIENT, 0.10 },
		{ GEN_DEFECT_STALE_ADDRESS, GEN_PATIENT, 0.10 },
		{ GEN_DEFECT_BIRTH_FUTURE, GEN_PATIENT, 0.10 },
		{ GEN_DEFECT_IN_PROGRESS, GEN_ENCOUNTER, 0.70 },
		{ GEN_DEFECT_END_BEFORE_START, GEN_ENCOUNTER, 0.30 },
		{ GEN_DEFECT_LOCAL_CODE, GEN_CONDITION, 0.80 },
		{ GEN_DEFECT_ONSET_FUTURE, GEN_CONDITION, 0.20 },
		{ GEN_DEFECT_LOCAL_CODE, GEN_OBSERVATION, 0.50 },
		{ GEN_DEFECT_IMPOSSIBLE_VALUE, GEN_OBSERVATION, 0.50 },
	};
	size_t drawn[GEN_N_TYPES] = { 0 };

	assert_non_null(t);
	run_truth(t, 2026, rate, N_RATE_PATIENTS);
	assert_int_equal(t->resources[GEN_PATIENT], N_RATE_PATIENTS);
	for (size_t i = 0; i < sizeof(shares) / sizeof(shares[0]); i++) {
		size_t got = t->by_kind[shares[i].k][shares[i].type], n = t->resources[shares[i].type];

		drawn[shares[i].type] += got;
		print_message("%-24s %-12s %6zu of %7zu (%.4f, want %.4f)\n",
			      gen_defect_kind_name(shares[i].k), gen_type_name(shares[i].type), got, n,
			      (double)got / (double)n, rate * shares[i].share);
		assert_true(near(got, n, rate * shares[i].share));
	}
	for (int ty = GEN_PATIENT; ty <= GEN_OBSERVATION; ty++) {
		print_message("%-12s %6zu of %7zu defective (%.4f)\n", gen_type_name((enum gen_type)ty),
			      drawn[ty], t->resources[ty], (double)drawn[ty] / (double)t->resources[ty]);
		assert_true(near(drawn[ty], t->resources[ty], rate));
	}
	/* Duplicates carry some of their original's care. */
	assert_true(t->by_kind[GEN_DEFECT_MOVED][GEN_ENCOUNTER] > t->by_kind[GEN_DEFECT_DUPLICATE][GEN_PATIENT]);
	assert_true(t->by_kind[GEN_DEFECT_MOVED][GEN_OBSERVATION] > t->by_kind[GEN_DEFECT_MOVED][GEN_ENCOUNTER]);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_seed_same_defects),
		cmocka_unit_test(rate_zero_changes_nothing),
		cmocka_unit_test(every_line_is_true_and_valid),
		cmocka_unit_test(rate_and_shares_are_honoured),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
