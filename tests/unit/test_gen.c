/*
 * test_gen.c — the synthetic city (src/gen/): same seed, same bytes;
 * CCCD and BHYT numbers well-formed and unique (past 1,000,000 people too,
 * and a prefix that would hold more fails rather than repeat one); sex, age and family names
 * near their targets; every resource valid FHIR R4 by the server's own
 * validator; references resolve; immunisations follow the TCMR schedule
 * within the child's life; pregnancies only for women of 18-45; no drug a
 * patient is allergic to. Wards: HCMC's 168 units with their codes, a
 * station in each, and every address's code, name and station agreeing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/json.h"
#include "fhir/fhir.h"
#include "gen/gen.h"
#include "gen/gen_int.h"

#define N_PEOPLE 20000

struct digest {
	uint64_t h;
	size_t n[GEN_N_TYPES];
};

static int on_digest(void *arg, enum gen_type type, const char *id, const char *json, size_t n)
{
	struct digest *d = arg;

	for (size_t i = 0; i < n; i++)
		d->h = (d->h ^ (unsigned char)json[i]) * 0x100000001b3ull;
	d->h = (d->h ^ '\n') * 0x100000001b3ull;
	d->n[type]++;
	return 0;
}

static struct digest city(uint64_t seed, size_t patients)
{
	struct gen *g = malloc(sizeof(*g));
	struct digest d = { 0xcbf29ce484222325ull, { 0 } };

	assert_non_null(g);
	gen_init(g, seed);
	assert_int_equal(gen_facilities(g, on_digest, &d), 0);
	for (size_t i = 0; i < patients; i++)
		assert_int_equal(gen_patient(g, i, on_digest, &d), 0);
	gen_release(g);
	free(g);
	return d;
}

static void same_seed_same_bytes(void **state)
{
	struct digest a = city(42, 500), b = city(42, 500), c = city(43, 500);

	assert_true(a.h == b.h);
	assert_memory_equal(a.n, b.n, sizeof(a.n));
	assert_true(a.h != c.h);
	assert_int_equal(a.n[GEN_PATIENT], 500);
	assert_int_equal(a.n[GEN_ORGANIZATION], 570);
	assert_int_equal(a.n[GEN_LOCATION], 570);
	assert_true(a.n[GEN_ENCOUNTER] > 500 && a.n[GEN_OBSERVATION] > 5 * a.n[GEN_ENCOUNTER] / 2);
	assert_true(a.n[GEN_CONDITION] > 50);
	assert_true(a.n[GEN_MEDICATION_REQUEST] > 500);
	assert_true(a.n[GEN_IMMUNIZATION] > 100);
	assert_true(a.n[GEN_ALLERGY_INTOLERANCE] > 5);
}

/* Patient 77 is the same whether made alone or after 0..76: no state is
 * carried from one patient to the next (what makes threads safe to add). */
static void a_patient_depends_on_seed_and_index_only(void **state)
{
	struct gen *g = malloc(sizeof(*g));
	struct digest alone = { 0xcbf29ce484222325ull, { 0 } }, after = alone, skip = alone;

	assert_non_null(g);
	gen_init(g, 7);
	assert_int_equal(gen_patient(g, 77, on_digest, &alone), 0);
	for (size_t i = 0; i < 77; i++)
		assert_int_equal(gen_patient(g, i, on_digest, &skip), 0);
	assert_int_equal(gen_patient(g, 77, on_digest, &after), 0);
	assert_true(alone.h == after.h);
	assert_int_equal(gen_patient(g, GEN_MAX_PATIENTS, on_digest, &after), ERR_INVALID);
	free(g);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static int all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static int known_province(const char *cccd)
{
	for (size_t i = 0; i < gen_n_birth_provinces; i++)
		if (!strncmp(cccd, gen_birth_provinces[i].value, 3))
			return 1;
	return 0;
}

/* A CCCD as docs/synthetic-data.md §Identifiers has it: a province of
 * birth of the table (001-096), the century/sex digit of this person, the
 * last two digits of their birth year, 6 digits; a BHYT card of 2
 * letters, a benefit digit, 79 and the BHXH number 79 + 8 digits. */
static void assert_identifiers_well_formed(const struct gen_person *p)
{
	int province;

	assert_int_equal(strlen(p->cccd), 12);
	assert_true(all_digits(p->cccd, 12));
	assert_true(known_province(p->cccd));
	province = atoi((char[4]){ p->cccd[0], p->cccd[1], p->cccd[2], 0 });
	assert_true(province >= 1 && province <= 96);
	assert_int_equal(p->cccd[3] - '0', (p->birth_year >= 2000 ? 2 : 0) + !p->male);
	assert_int_equal((p->cccd[4] - '0') * 10 + p->cccd[5] - '0', p->birth_year % 100);
	if (!p->insured) {
		assert_string_equal(p->bhyt, "");
		return;
	}
	assert_int_equal(strlen(p->bhyt), 15);
	assert_true(p->bhyt[0] >= 'A' && p->bhyt[0] <= 'Z' && p->bhyt[1] >= 'A' && p->bhyt[1] <= 'Z');
	assert_true(p->bhyt[2] >= '1' && p->bhyt[2] <= '5');
	assert_memory_equal(p->bhyt + 3, "7979", 4);
	assert_true(all_digits(p->bhyt + 5, 10));
}

/* Sorted in place; how many values equal the one before. */
static size_t repeats(uint64_t *v, size_t n)
{
	size_t k = 0;

	qsort(v, n, sizeof(uint64_t), cmp_u64);
	for (size_t i = 1; i < n; i++)
		k += v[i] == v[i - 1];
	return k;
}

/* The people of seed 2026: identifiers and the shape of the population. */
static void identifiers_and_population(void **state)
{
	struct gen g;
	struct gen_person p;
	uint64_t *cccd = calloc(N_PEOPLE, sizeof(uint64_t)), *bhxh = calloc(N_PEOPLE, sizeof(uint64_t));
	size_t n_bhyt = 0, male = 0, under15 = 0, over60 = 0, nguyen = 0, hcmc_born = 0;
	double want_under15 = 0, want_over60 = 0, total = 0, names = 0, want_nguyen;

	assert_non_null(cccd);
	assert_non_null(bhxh);
	gen_init(&g, 2026);
	for (size_t i = 0; i < N_PEOPLE; i++) {
		assert_int_equal(gen_person_make(&g, i, &p), 0);
		assert_identifiers_well_formed(&p);
		cccd[i] = strtoull(p.cccd, NULL, 10);
		hcmc_born += !strncmp(p.cccd, "079", 3);
		if (p.insured) {
			if (p.age < 6)
				assert_memory_equal(p.bhyt, "TE1", 3);
			bhxh[n_bhyt++] = strtoull(p.bhyt + 5, NULL, 10);
		}
		assert_int_equal(strlen(p.phone), 10);
		assert_true(p.phone[0] == '0' && all_digits(p.phone, 10));
		assert_true(p.age >= 0 && p.age <= 100);
		male += p.male;
		under15 += p.age < 15;
		over60 += p.age >= 60;
		nguyen += !strcmp(p.family, "Nguyễn");
	}
	assert_int_equal(repeats(cccd, N_PEOPLE), 0);
	assert_int_equal(repeats(bhxh, n_bhyt), 0);

	for (int b = 0; b < GEN_AGE_BANDS; b++) {
		total += gen_age_band_weight[b];
		want_under15 += b < 3 ? gen_age_band_weight[b] : 0;
		want_over60 += b >= 12 ? gen_age_band_weight[b] : 0;
	}
	for (size_t i = 0; i < gen_n_family_names; i++)
		names += gen_family_names[i].weight;
	want_nguyen = gen_family_names[0].weight / names;
	assert_true(want_nguyen > 0.30 && want_nguyen < 0.32);	/* the table says ~31% */
	/* Tolerances: about 4 standard errors at n = 20,000. */
	print_message("male %.3f, <15 %.3f (want %.3f), 60+ %.3f (want %.3f), insured %.3f, "
		      "Nguyễn %.3f, born in HCMC %.3f\n",
		      (double)male / N_PEOPLE, (double)under15 / N_PEOPLE, want_under15 / total,
		      (double)over60 / N_PEOPLE, want_over60 / total, (double)n_bhyt / N_PEOPLE,
		      (double)nguyen / N_PEOPLE, (double)hcmc_born / N_PEOPLE);
	assert_true(abs((int)male - (int)(gen_male_share * N_PEOPLE)) < 0.015 * N_PEOPLE);
	assert_true(abs((int)under15 - (int)(want_under15 / total * N_PEOPLE)) < 0.012 * N_PEOPLE);
	assert_true(abs((int)over60 - (int)(want_over60 / total * N_PEOPLE)) < 0.012 * N_PEOPLE);
	assert_true(abs((int)n_bhyt - (int)(0.93 * N_PEOPLE)) < 0.008 * N_PEOPLE);
	assert_true(abs((int)nguyen - (int)(want_nguyen * N_PEOPLE)) < 0.015 * N_PEOPLE);
	free(cccd);
	free(bhxh);
}

#define N_MANY 2000000	/* twice GEN_CCCD_SERIALS: the old generator repeated CCCDs from here */

/* 2,000,000 people of seed 5: every CCCD and BHXH number well-formed and
 * unique, and the same whichever order they are asked for in. */
static void identifiers_unique_past_a_million(void **state)
{
	struct gen *g = malloc(sizeof(*g));
	struct gen_person p;
	uint64_t *cccd = calloc(N_MANY, sizeof(uint64_t)), *bhxh = calloc(N_MANY, sizeof(uint64_t));
	static const size_t probe[] = { 1999999, 1000000, 1500000, 999999, 1500001 };
	uint64_t probed[5];
	size_t n_bhxh = 0, cccd_repeats, bhxh_repeats;

	assert_non_null(g);
	assert_non_null(cccd);
	assert_non_null(bhxh);
	assert_true(N_MANY >= 2 * GEN_CCCD_SERIALS && N_MANY <= GEN_MAX_PATIENTS);
	gen_init(g, 5);
	for (size_t i = 0; i < N_MANY; i++) {
		assert_int_equal(gen_person_make(g, i, &p), 0);
		assert_identifiers_well_formed(&p);
		cccd[i] = strtoull(p.cccd, NULL, 10);
		if (p.insured)
			bhxh[n_bhxh++] = strtoull(p.bhyt + 5, NULL, 10);
	}
	assert_int_equal(gen_person_make(g, N_MANY - 1, &p), 0);	/* asked again */
	assert_true(strtoull(p.cccd, NULL, 10) == cccd[N_MANY - 1]);
	for (size_t k = 0; k < 5; k++)
		probed[k] = cccd[probe[k]];
	cccd_repeats = repeats(cccd, N_MANY);
	bhxh_repeats = repeats(bhxh, n_bhxh);
	print_message("%d people: %zu CCCDs repeated, %zu BHXH numbers repeated (of %zu)\n", N_MANY,
		      cccd_repeats, bhxh_repeats, n_bhxh);
	assert_int_equal(cccd_repeats, 0);
	assert_int_equal(bhxh_repeats, 0);

	/* Out of order, from a fresh generator: the last first, then back. */
	gen_init(g, 5);
	for (size_t k = 0; k < 5; k++) {
		assert_int_equal(gen_person_make(g, probe[k], &p), 0);
		assert_true(strtoull(p.cccd, NULL, 10) == probed[k]);
	}
	free(cccd);
	free(bhxh);
	free(g);
}

/* Below GEN_CCCD_SERIALS the identifiers are those the generator has made
 * since issue 7's first slice (so existing cities keep their bytes). */
static void identifiers_below_a_million_unchanged(void **state)
{
	struct gen *g = malloc(sizeof(*g));
	struct gen_person p;

	assert_non_null(g);
	gen_init(g, 79);
	assert_int_equal(gen_person_make(g, 0, &p), 0);
	assert_string_equal(p.cccd, "092090197178");
	assert_string_equal(p.bhyt, "DN4797982619101");
	assert_int_equal(gen_person_make(g, 999999, &p), 0);
	assert_string_equal(p.cccd, "051196178557");
	assert_string_equal(p.bhyt, "DN4797931474192");
	free(g);
}

/* A prefix whose 1,000,000 serials are used up: the next person with it
 * is refused, with a reason, rather than given a CCCD already out. */
static void a_full_prefix_fails(void **state)
{
	struct gen *g = malloc(sizeof(*g));
	struct gen_person p;
	struct digest d = { 0xcbf29ce484222325ull, { 0 } };
	size_t row = 0, prefix;

	assert_non_null(g);
	gen_init(g, 3);
	assert_int_equal(gen_person_make(g, GEN_CCCD_SERIALS, &p), 0);
	while (strncmp(p.cccd, gen_birth_provinces[row].value, 3))
		row++;
	prefix = (row * 4 + (size_t)(p.cccd[3] - '0')) * 100 +
		 (size_t)((p.cccd[4] - '0') * 10 + p.cccd[5] - '0');
	assert_true(prefix < GEN_CCCD_PREFIXES);

	gen_init(g, 3);
	g->serial_walked[prefix] = GEN_CCCD_SERIALS;
	assert_int_equal(gen_person_make(g, GEN_CCCD_SERIALS, &p), ERR_NOT_SUPPORTED);
	assert_non_null(g->error);
	print_message("%s\n", g->error);
	assert_int_equal(gen_patient(g, GEN_CCCD_SERIALS, on_digest, &d), ERR_NOT_SUPPORTED);
	assert_int_equal(d.n[GEN_PATIENT], 0);
	assert_int_equal(gen_person_make(g, 12345, &p), 0);	/* the first million are not affected */
	free(g);
}

struct check {
	size_t n, invalid, per_type[GEN_N_TYPES];
	size_t hypertension_old, old_people;
};

static int on_validate(void *arg, enum gen_type type, const char *id, const char *json, size_t n)
{
	struct check *c = arg;
	struct json_object *o = NULL;
	struct err e = { 0 };

	if (json_parse(json, n, JSON_DEFAULT_MAX_DEPTH, &o, &e) != 0) {
		print_error("not JSON: %.*s\n", (int)n, json);
		c->invalid++;
		return 0;
	}
	if (strcmp(json_get_str(o, "id") ? json_get_str(o, "id") : "", id) ||
	    strcmp(json_get_str(o, "resourceType"), gen_type_name(type)) ||
	    !fhir_id_valid(id, strlen(id))) {
		print_error("wrong id or type: %s\n", id);
		c->invalid++;
	} else if (fhir_validate(o, &e) != 0) {
		print_error("invalid %s: %s at %s\n", id, e.n_issues ? e.issue[0].diagnostics : "",
			    e.n_issues ? e.issue[0].expression : "");
		c->invalid++;
	}
	json_object_put(o);
	c->n++;
	c->per_type[type]++;
	return 0;
}

static void every_resource_is_valid(void **state)
{
	struct gen *g = malloc(sizeof(*g));
	struct check c = { 0 };

	assert_non_null(g);
	gen_init(g, 99);
	assert_int_equal(gen_facilities(g, on_validate, &c), 0);
	for (size_t i = 0; i < 400; i++)
		assert_int_equal(gen_patient(g, i, on_validate, &c), 0);
	print_message("%zu resources validated\n", c.n);
	assert_true(c.n > 10000);
	assert_int_equal(c.invalid, 0);
	for (int t = 0; t < GEN_N_TYPES; t++)
		assert_true(c.per_type[t] > 0);
	free(g);
}

/* ---- references, immunisations, pregnancies, allergies ---------------- */

/* "Type/id" of every resource, and every reference made, of a small city. */
struct refs {
	char (*ids)[64], (*refs)[64];
	size_t n_ids, n_refs, cap_ids, cap_refs;
};

static void add_key(char (**v)[64], size_t *n, size_t *cap, const char *s, size_t len)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 4096;
		*v = realloc(*v, *cap * sizeof(**v));
		assert_non_null(*v);
	}
	assert_true(len < 64);
	memcpy((*v)[*n], s, len);
	(*v)[(*n)++][len] = 0;
}

static int on_refs(void *arg, enum gen_type type, const char *id, const char *json, size_t n)
{
	struct refs *r = arg;
	char key[64];
	const char *p = json, *end;
	int k = snprintf(key, sizeof(key), "%s/%s", gen_type_name(type), id);

	add_key(&r->ids, &r->n_ids, &r->cap_ids, key, (size_t)k);
	while ((p = strstr(p, "\"reference\":\"")) && p < json + n) {
		p += 13;
		end = strchr(p, '"');
		add_key(&r->refs, &r->n_refs, &r->cap_refs, p, (size_t)(end - p));
	}
	return 0;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void references_resolve(void **state)
{
	struct gen *g = malloc(sizeof(*g));
	struct refs r = { 0 };
	size_t to_new[3] = { 0 };

	assert_non_null(g);
	gen_init(g, 11);
	assert_int_equal(gen_facilities(g, on_refs, &r), 0);
	for (size_t i = 0; i < 600; i++)
		assert_int_equal(gen_patient(g, i, on_refs, &r), 0);
	qsort(r.ids, r.n_ids, sizeof(r.ids[0]), cmp_key);
	for (size_t i = 1; i < r.n_ids; i++)
		assert_true(strcmp(r.ids[i - 1], r.ids[i]) != 0);	/* unique */
	for (size_t i = 0; i < r.n_refs; i++) {
		if (!bsearch(r.refs[i], r.ids, r.n_ids, sizeof(r.ids[0]), cmp_key))
			print_error("unresolved: %s\n", r.refs[i]);
		assert_non_null(bsearch(r.refs[i], r.ids, r.n_ids, sizeof(r.ids[0]), cmp_key));
		to_new[0] += !strncmp(r.refs[i], "Condition/", 10);
		to_new[1] += !strncmp(r.refs[i], "Location/", 9);
		to_new[2] += !strncmp(r.refs[i], "Encounter/", 10);
	}
	print_message("%zu resources, %zu references, all resolve\n", r.n_ids, r.n_refs);
	assert_true(r.n_refs > r.n_ids && to_new[0] > 100 && to_new[1] > 100 && to_new[2] > 1000);
	free(r.ids);
	free(r.refs);
	free(g);
}

/* One patient's record, seen through a few strings of each resource. */
struct record {
	char birth[11];
	int female;
	struct {
		char series[16], date[11];
		int dose;
	} imm[64];
	size_t n_imm;
	char pregnancy_onset[11], delivery[11], first_antenatal[11];
	int n_pregnancies, n_deliveries, penicillin_allergy, penicillin_drug, n_pentavalent;
};

/* Copies the n characters after `key` in json into out (NUL-terminated). */
static int field(const char *json, const char *key, char *out, size_t n)
{
	const char *p = strstr(json, key);

	if (!p)
		return 0;
	memcpy(out, p + strlen(key), n);
	out[n] = 0;
	return 1;
}

static int on_record(void *arg, enum gen_type type, const char *id, const char *json, size_t n)
{
	struct record *r = arg;
	char when[11];

	if (type == GEN_PATIENT) {
		assert_true(field(json, "\"birthDate\":\"", r->birth, 10));
		r->female = strstr(json, "\"gender\":\"female\"") != NULL;
	} else if (type == GEN_IMMUNIZATION) {
		const char *s = strstr(json, "\"series\":\"") + 10, *e = strchr(s, '"');

		assert_true(r->n_imm < 64 && (size_t)(e - s) < 16);
		memcpy(r->imm[r->n_imm].series, s, (size_t)(e - s));
		r->imm[r->n_imm].series[e - s] = 0;
		r->n_pentavalent += strstr(json, "\"code\":\"102\"") != NULL;
		r->imm[r->n_imm].dose = atoi(strstr(json, "\"doseNumberPositiveInt\":") + 24);
		assert_true(field(json, "\"occurrenceDateTime\":\"", r->imm[r->n_imm].date, 10));
		r->n_imm++;
	} else if (type == GEN_CONDITION && strstr(json, "\"code\":\"Z34\"")) {
		r->n_pregnancies++;
		assert_true(field(json, "\"onsetDateTime\":\"", r->pregnancy_onset, 10));
		assert_true(field(json, "\"recordedDate\":\"", r->first_antenatal, 10));
	} else if (type == GEN_CONDITION && (strstr(json, "\"code\":\"O80\"") || strstr(json, "\"code\":\"O82\""))) {
		r->n_deliveries++;
		assert_true(field(json, "\"onsetDateTime\":\"", r->delivery, 10));
	} else if (type == GEN_ENCOUNTER && strstr(json, "\"text\":\"Khám thai\"")) {
		assert_true(field(json, "\"start\":\"", when, 10));
		assert_true(r->n_pregnancies == 0);	/* conditions come after encounters */
		if (!r->first_antenatal[0] || strcmp(when, r->first_antenatal) < 0)
			memcpy(r->first_antenatal, when, 11);
	} else if (type == GEN_ALLERGY_INTOLERANCE && strstr(json, "764146007")) {
		r->penicillin_allergy = 1;
	} else if (type == GEN_MEDICATION_REQUEST &&
		   (strstr(json, "\"J01CA04\"") || strstr(json, "\"J01CR02\""))) {
		r->penicillin_drug = 1;
	}
	return 0;
}

static int full_years_at(const char *birth, const char *date)
{
	return atoi(date) - atoi(birth) - (strcmp(date + 5, birth + 5) < 0);
}

static void immunisations_pregnancies_allergies(void **state)
{
	struct gen *g = malloc(sizeof(*g));
	struct record *r = malloc(sizeof(*r));
	size_t children = 0, penta_due = 0, penta = 0, pregnancies = 0, deliveries = 0;
	size_t penicillin = 0, women = 0;

	assert_non_null(g);
	assert_non_null(r);
	gen_init(g, 2025);
	for (size_t i = 0; i < 6000; i++) {
		memset(r, 0, sizeof(*r));
		assert_int_equal(gen_patient(g, i, on_record, r), 0);
		/* Immunisations: children under 6, within their life, before
		 * the reference date, each series' doses numbered 1, 2, ... in
		 * date order. */
		if (r->n_imm)
			assert_true(full_years_at(r->birth, GEN_REFERENCE_DATE) < 6);
		children += full_years_at(r->birth, GEN_REFERENCE_DATE) < 6;
		for (size_t k = 0; k < r->n_imm; k++) {
			int want = 1;

			assert_true(strcmp(r->imm[k].date, r->birth) >= 0);
			assert_true(strcmp(r->imm[k].date, GEN_REFERENCE_DATE) <= 0);
			for (size_t j = 0; j < k; j++) {
				if (strcmp(r->imm[j].series, r->imm[k].series))
					continue;
				assert_true(strcmp(r->imm[j].date, r->imm[k].date) < 0);
				want++;
			}
			assert_int_equal(r->imm[k].dose, want);
		}
		/* Coverage: the three pentavalent doses (2, 3, 4 months, given
		 * by 5) of children at least 5 months old, ~93% each. */
		if (full_years_at(r->birth, GEN_REFERENCE_DATE) < 6 && strcmp(r->birth, "2025-07-31") < 0) {
			penta_due += 3;
			penta += (size_t)r->n_pentavalent;
		}
		/* Pregnancies: women of 18-45; antenatal visits, then delivery. */
		women += r->female;
		if (r->n_pregnancies) {
			assert_int_equal(r->n_pregnancies, 1);
			assert_true(r->female);
			assert_true(full_years_at(r->birth, r->pregnancy_onset) >= 18);
			assert_true(full_years_at(r->birth, r->pregnancy_onset) <= 45);
			assert_true(strcmp(r->pregnancy_onset, r->first_antenatal) < 0);
			pregnancies++;
		}
		assert_true(r->n_deliveries <= r->n_pregnancies);
		if (r->n_deliveries) {
			assert_true(strcmp(r->first_antenatal, r->delivery) < 0);
			assert_true(full_years_at(r->birth, r->delivery) <= 45);
			deliveries++;
		}
		/* No penicillin for those allergic to it. */
		if (r->penicillin_allergy) {
			penicillin++;
			assert_false(r->penicillin_drug);
		}
	}
	print_message("children under 6 %zu, pentavalent doses %zu of %zu due (%.3f), pregnancies "
		      "%zu of %zu women, deliveries %zu, penicillin allergies %zu\n",
		      children, penta, penta_due, (double)penta / (double)penta_due, pregnancies, women,
		      deliveries, penicillin);
	assert_true((double)penta / (double)penta_due > 0.88 && (double)penta / (double)penta_due < 0.97);
	assert_true(pregnancies > 100 && deliveries > pregnancies / 2);
	assert_true(penicillin > 20);
	free(r);
	free(g);
}

/* Lab values follow conditions: diabetics' glucose is higher. */
struct glucose {
	const char *patient;
	int diabetic;
	double sum[2];
	size_t n[2];
	char pending[64][16];
	double value[64];
	size_t n_pending;
};

static int on_glucose(void *arg, enum gen_type type, const char *id, const char *json, size_t n)
{
	struct glucose *s = arg;
	const char *v;

	if (type == GEN_CONDITION && strstr(json, "\"code\":\"E11\""))
		s->diabetic = 1;
	if (type == GEN_OBSERVATION && strstr(json, "\"code\":\"2345-7\"") &&
	    (v = strstr(json, "\"value\":")) && s->n_pending < 64)
		s->value[s->n_pending++] = strtod(v + 8, NULL);
	return 0;
}

static void glucose_follows_diabetes(void **state)
{
	struct gen *g = malloc(sizeof(*g));
	struct glucose s;

	assert_non_null(g);
	memset(&s, 0, sizeof(s));
	gen_init(g, 5);
	for (size_t i = 0; i < 3000; i++) {
		s.diabetic = 0;
		s.n_pending = 0;
		assert_int_equal(gen_patient(g, i, on_glucose, &s), 0);
		for (size_t k = 0; k < s.n_pending; k++) {
			s.sum[s.diabetic] += s.value[k];
			s.n[s.diabetic]++;
		}
	}
	assert_true(s.n[0] > 100 && s.n[1] > 20);
	print_message("glucose mg/dL: %.0f without E11 (%zu), %.0f with (%zu)\n", s.sum[0] / (double)s.n[0],
		      s.n[0], s.sum[1] / (double)s.n[1], s.n[1]);
	assert_true(s.sum[0] / (double)s.n[0] < 105);
	assert_true(s.sum[1] / (double)s.n[1] > 130);
	free(g);
}

/* ---- wards ------------------------------------------------------------ */

struct wards {
	size_t patients, per_ward[GEN_N_WARDS];
};

/* o's member key, or NULL. */
static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* The ward of code, or -1. */
static int ward_of(const char *code)
{
	for (int i = 0; i < GEN_N_WARDS; i++)
		if (code && !strcmp(gen_wards[i].code, code))
			return i;
	return -1;
}

/* The address's ward extension agrees with its district (the ward's name). */
static int address_ward(struct json_object *addr)
{
	struct json_object *ext = json_object_array_get_idx(member(addr, "extension"), 0);
	struct json_object *coding = member(ext, "valueCoding");
	int w = ward_of(json_get_str(coding, "code"));

	assert_string_equal(json_get_str(ext, "url"), GEN_EXT_WARD);
	assert_string_equal(json_get_str(coding, "system"), GEN_CS_WARD);
	assert_true(w >= 0);
	assert_string_equal(json_get_str(coding, "display"), gen_wards[w].name);
	assert_string_equal(json_get_str(addr, "district"), gen_wards[w].name);
	return w;
}

static int on_ward(void *arg, enum gen_type type, const char *id, const char *json, size_t n)
{
	struct wards *w = arg;
	struct json_object *o = NULL, *addr, *gp;
	struct gen_facility f;
	struct err e = { 0 };
	const char *ref;
	int ward;

	if (type != GEN_PATIENT && type != GEN_ORGANIZATION && type != GEN_LOCATION)
		return 0;
	assert_int_equal(json_parse(json, n, JSON_DEFAULT_MAX_DEPTH, &o, &e), 0);
	addr = member(o, "address");
	if (json_object_is_type(addr, json_type_array))
		addr = json_object_array_get_idx(addr, 0);
	ward = address_ward(addr);
	if (type == GEN_PATIENT) {
		/* the patient's GP is the station of the patient's ward */
		gp = json_object_array_get_idx(member(o, "generalPractitioner"), 0);
		ref = json_get_str(gp, "reference");
		assert_non_null(ref);
		assert_int_equal(strncmp(ref, "Organization/gen-org-", 21), 0);
		assert_int_equal(gen_facility_get((size_t)atoi(ref + 21) - 79001, &f), 0);
		assert_int_equal(f.kind, GEN_COMMUNE_STATION);
		assert_ptr_equal(f.ward, &gen_wards[ward]);
		w->patients++;
		w->per_ward[ward]++;
	}
	json_object_put(o);
	(void)id;
	return 0;
}

static void wards_coded(void **state)
{
	struct gen *g = malloc(sizeof(*g));
	struct wards *w = calloc(1, sizeof(*w));
	size_t units[3] = { 0 }, stations = 0, fewest = (size_t)-1;
	struct gen_facility f;
	char name[200];

	assert_non_null(g);
	assert_non_null(w);
	/* the list: 168 distinct 5-digit codes in order; 113 phường, 54 xã, 1 đặc khu */
	assert_int_equal(gen_n_wards, GEN_N_WARDS);
	for (size_t i = 0; i < gen_n_wards; i++) {
		const char *c = gen_wards[i].code, *nm = gen_wards[i].name;

		assert_int_equal(strlen(c), 5);
		assert_true(all_digits(c, 5));
		if (i)
			assert_true(strcmp(gen_wards[i - 1].code, c) < 0);
		if (!strncmp(nm, "Phường ", strlen("Phường ")))
			units[0]++;
		else if (!strncmp(nm, "Xã ", strlen("Xã ")))
			units[1]++;
		else if (!strncmp(nm, "Đặc khu ", strlen("Đặc khu ")))
			units[2]++;
	}
	assert_int_equal(units[0], 113);
	assert_int_equal(units[1], 54);
	assert_int_equal(units[2], 1);
	/* a station per ward, named after it */
	for (size_t i = 0; gen_facility_get(i, &f) == 0; i++) {
		if (f.kind != GEN_COMMUNE_STATION)
			continue;
		assert_ptr_equal(f.ward, &gen_wards[stations]);
		snprintf(name, sizeof(name), "Trạm Y tế %s", f.ward->name);
		assert_string_equal(f.name, name);
		stations++;
	}
	assert_int_equal(stations, GEN_N_WARDS);
	/* every address coded, and every ward lived in */
	gen_init(g, 7);
	assert_int_equal(gen_facilities(g, on_ward, w), 0);
	for (size_t i = 0; i < 5000; i++)
		assert_int_equal(gen_patient(g, i, on_ward, w), 0);
	assert_int_equal(w->patients, 5000);
	for (size_t i = 0; i < GEN_N_WARDS; i++)
		if (w->per_ward[i] < fewest)
			fewest = w->per_ward[i];
	print_message("5000 patients in 168 wards, the fewest in one: %zu\n", fewest);
	assert_true(fewest > 0);
	gen_release(g);
	free(g);
	free(w);
}

static void seeds(void **state)
{
	assert_true(gen_seed_parse("42") == 42);
	assert_true(gen_seed_parse("hcmc") != gen_seed_parse("hcm"));
	assert_true(gen_seed_parse("-1") != 0);
	assert_true(gen_seed_parse("18446744073709551615") == UINT64_MAX);
	/* beyond 64 bits: hashed, so two such seeds still differ */
	assert_true(gen_seed_parse("18446744073709551616") != gen_seed_parse("18446744073709551617"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_seed_same_bytes),
		cmocka_unit_test(a_patient_depends_on_seed_and_index_only),
		cmocka_unit_test(identifiers_and_population),
		cmocka_unit_test(identifiers_unique_past_a_million),
		cmocka_unit_test(identifiers_below_a_million_unchanged),
		cmocka_unit_test(a_full_prefix_fails),
		cmocka_unit_test(every_resource_is_valid),
		cmocka_unit_test(references_resolve),
		cmocka_unit_test(immunisations_pregnancies_allergies),
		cmocka_unit_test(glucose_follows_diabetes),
		cmocka_unit_test(wards_coded),
		cmocka_unit_test(seeds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
