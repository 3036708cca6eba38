/*
 * gen.c — the synthetic city: the PRNG, identifiers, facilities, people,
 * encounters, conditions, observations, medication requests,
 * immunizations, allergies and pregnancies (see gen.h, decision 0021).
 *
 * JSON is written with printf into one fixed buffer per resource: every
 * string comes from the static tables (no quotes or backslashes to escape),
 * and it is several times faster than building json-c objects.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gen_int.h"

/* ---- PRNG ------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void gen_rng_seed(struct gen_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t gen_rng_next(struct gen_rng *r)
{
	uint64_t *s = r->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t gen_rng_below(struct gen_rng *r, uint64_t n)
{
	/* Rejection keeps it exactly uniform (Lemire's threshold). */
	uint64_t threshold = -n % n, x;

	do
		x = gen_rng_next(r);
	while (x < threshold);
	return x % n;
}

double gen_rng_unit(struct gen_rng *r)
{
	return (double)(gen_rng_next(r) >> 11) * 0x1.0p-53;
}

double gen_rng_normal(struct gen_rng *r, double mean, double sd)
{
	double u = 1.0 - gen_rng_unit(r), v = gen_rng_unit(r);

	return mean + sd * sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

uint64_t gen_seed_parse(const char *s)
{
	char *end;
	unsigned long long v;
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a */

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s && *s != '-' && !*end && errno != ERANGE)	/* too big: hashed, not clamped */
		return v;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

size_t gen_pick(struct gen_rng *r, const struct gen_weighted *t, size_t n)
{
	uint64_t total = 0, x;

	for (size_t i = 0; i < n; i++)
		total += t[i].weight;
	x = gen_rng_below(r, total);
	for (size_t i = 0; i < n; i++) {
		if (x < t[i].weight)
			return i;
		x -= t[i].weight;
	}
	return n - 1;
}

static size_t pick_n(struct gen_rng *r, const struct gen_weighted *t, size_t n)
{
	return gen_pick(r, t, n);
}

static int chance(struct gen_rng *r, double p)
{
	return gen_rng_unit(r) < p;
}

static double clamp(double x, double lo, double hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

/* Knuth's method: fine for the small means used here. */
static unsigned poisson(struct gen_rng *r, double mean)
{
	double l = exp(-mean), p = 1.0;
	unsigned k = 0;

	do {
		k++;
		p *= gen_rng_unit(r);
	} while (p > l && k < 200);
	return k - 1;
}

/*
 * A keyed permutation of [0, half * half): a 4-round Feistel network with
 * addition modulo half. Distinct inputs give distinct outputs, which is what
 * makes CCCD and BHXH numbers unique without remembering any.
 */
static uint64_t permute(uint64_t x, uint64_t half, uint64_t key)
{
	uint64_t left = x / half, right = x % half;

	for (uint64_t round = 0; round < 4; round++) {
		uint64_t k = key + round, f = right * 0x9e3779b97f4a7c15ull + k;
		uint64_t next = (left + splitmix64(&f) % half) % half;

		left = right;
		right = next;
	}
	return left * half + right;
}

/* permute's inverse: unpermute(permute(x, h, k), h, k) == x. */
static uint64_t unpermute(uint64_t y, uint64_t half, uint64_t key)
{
	uint64_t left = y / half, right = y % half;

	for (uint64_t round = 4; round-- > 0;) {
		uint64_t k = key + round, f = left * 0x9e3779b97f4a7c15ull + k;
		uint64_t prev = (right + half - splitmix64(&f) % half) % half;

		right = left;
		left = prev;
	}
	return left * half + right;
}

/* ---- dates (proleptic Gregorian, days since 1970-01-01) ------------------ */

static int64_t days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

#define REF_Y 2025
#define REF_M 12
#define REF_D 31
#define CARE_FIRST_YEAR 2021	/* encounters fall in 2021 .. the reference date */

static int full_years(int by, int bm, int bd, int y, int m, int d)
{
	return y - by - (m < bm || (m == bm && d < bd));
}

/* ---- writing JSON ---------------------------------------------------------- */

static void put(struct gen *g, const char *fmt, ...) LT_PRINTF(2, 3);
static void put(struct gen *g, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (g->overflow)
		return;
	va_start(ap, fmt);
	k = vsnprintf(g->json + g->n, sizeof(g->json) - g->n, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= sizeof(g->json) - g->n)
		g->overflow = 1;
	else
		g->n += (size_t)k;
}

static void start(struct gen *g)
{
	g->n = 0;
	g->overflow = 0;
	g->json[0] = 0;
}

static int finish(struct gen *g, enum gen_type t, const char *id, gen_emit_fn emit, void *arg)
{
	if (g->overflow)
		return ERR_TOO_LARGE;
	return emit(arg, t, id, g->json, g->n);
}

static const char *const type_names[GEN_N_TYPES] = {
	"Organization", "Location", "Patient", "Encounter", "Condition", "Observation",
	"MedicationRequest", "Immunization", "AllergyIntolerance",
};

const char *gen_type_name(enum gen_type t)
{
	return (unsigned)t < GEN_N_TYPES ? type_names[t] : "";
}

void gen_init(struct gen *g, uint64_t seed)
{
	memset(g, 0, sizeof(*g));
	g->seed = seed;
	g->serial_next = GEN_CCCD_SERIALS;
}

void gen_release(struct gen *g)
{
	g->n = 0;
}

/* ---- facilities -------------------------------------------------------------- */

/* Issue 7's counts; the clinics are a sample of the city's 10,627. */
#define N_HOSP_CITY 60
#define N_HOSP_MINISTRY 14
#define N_HOSP_PRIVATE 90
#define N_REGIONAL 38
#define N_STATIONS 168
#define N_CLINICS 200
#define FIRST_MINISTRY N_HOSP_CITY
#define FIRST_PRIVATE (FIRST_MINISTRY + N_HOSP_MINISTRY)
#define FIRST_REGIONAL (FIRST_PRIVATE + N_HOSP_PRIVATE)
#define FIRST_STATION (FIRST_REGIONAL + N_REGIONAL)
#define FIRST_CLINIC (FIRST_STATION + N_STATIONS)
#define N_FACILITIES (FIRST_CLINIC + N_CLINICS)
#define FIRST_CODE 79001	/* codes 79001..79570: synthetic, sequential */

size_t gen_facility_count(void)
{
	return N_FACILITIES;
}

static void name_from(struct gen_facility *f, const char *const *real, size_t n_real, size_t i,
		      const char *sample)
{
	if (i < n_real)
		snprintf(f->name, sizeof(f->name), "%s", real[i]);
	else
		snprintf(f->name, sizeof(f->name), "%s %02zu", sample, i - n_real + 1);
}

int gen_facility_get(size_t i, struct gen_facility *f)
{
	static const char *const clinic_kinds[] = {
		"Phòng khám đa khoa mẫu", "Phòng khám nội tổng quát mẫu", "Phòng khám nhi mẫu",
		"Phòng khám sản phụ khoa mẫu", "Phòng khám răng hàm mặt mẫu",
	};

	if (i >= N_FACILITIES)
		return -1;
	memset(f, 0, sizeof(*f));
	snprintf(f->code, sizeof(f->code), "%d", FIRST_CODE + (int)i);
	f->ward = &gen_wards[(i * 7) % gen_n_wards];
	if (i < FIRST_MINISTRY) {
		f->kind = GEN_HOSPITAL_CITY;
		f->level = i < 25 ? 3 : 2;
		name_from(f, gen_hospitals_city, gen_n_hospitals_city, i, "Bệnh viện công lập mẫu");
	} else if (i < FIRST_PRIVATE) {
		f->kind = GEN_HOSPITAL_MINISTRY;
		f->level = 3;
		name_from(f, gen_hospitals_ministry, gen_n_hospitals_ministry, i - FIRST_MINISTRY,
			  "Bệnh viện trực thuộc bộ mẫu");
	} else if (i < FIRST_REGIONAL) {
		f->kind = GEN_HOSPITAL_PRIVATE;
		f->level = i - FIRST_PRIVATE < 10 ? 3 : 2;
		name_from(f, gen_hospitals_private, gen_n_hospitals_private, i - FIRST_PRIVATE,
			  "Bệnh viện tư nhân mẫu");
	} else if (i < FIRST_STATION) {
		f->kind = GEN_REGIONAL_CENTRE;
		f->level = 2;
		snprintf(f->name, sizeof(f->name), "Trung tâm Y tế khu vực mẫu %02zu",
			 i - FIRST_REGIONAL + 1);
	} else if (i < FIRST_CLINIC) {
		size_t k = i - FIRST_STATION;

		f->kind = GEN_COMMUNE_STATION;
		f->level = 1;
		f->ward = &gen_wards[k];	/* one station per ward: N_STATIONS == GEN_N_WARDS */
		snprintf(f->name, sizeof(f->name), "Trạm Y tế %s", f->ward->name);
	} else {
		size_t k = i - FIRST_CLINIC;

		f->kind = GEN_CLINIC;
		f->level = 1;
		snprintf(f->name, sizeof(f->name), "%s %03zu", clinic_kinds[k % 5], k / 5 + 1);
	}
	return 0;
}

static const struct {
	const char *code, *text;
} ownership[] = {
	[GEN_HOSPITAL_CITY] = { "public-city", "Công lập, Sở Y tế quản lý" },
	[GEN_HOSPITAL_MINISTRY] = { "public-ministry", "Công lập, trực thuộc bộ" },
	[GEN_HOSPITAL_PRIVATE] = { "private", "Tư nhân" },
	[GEN_REGIONAL_CENTRE] = { "public-city", "Công lập, Sở Y tế quản lý" },
	[GEN_COMMUNE_STATION] = { "public-city", "Công lập, Sở Y tế quản lý" },
	[GEN_CLINIC] = { "private", "Tư nhân" },
};
static const char *const kind_text[] = {
	[GEN_HOSPITAL_CITY] = "Bệnh viện", [GEN_HOSPITAL_MINISTRY] = "Bệnh viện",
	[GEN_HOSPITAL_PRIVATE] = "Bệnh viện", [GEN_REGIONAL_CENTRE] = "Trung tâm y tế khu vực",
	[GEN_COMMUNE_STATION] = "Trạm y tế", [GEN_CLINIC] = "Phòng khám",
};
static const char *const level_text[] = { "", "Ban đầu", "Cơ bản", "Chuyên sâu" };

#define CITY "Thành phố Hồ Chí Minh"
_Static_assert(N_STATIONS == GEN_N_WARDS, "a commune health station in every ward");

/* An address's ward: its name as district, its code in an extension. */
#define WARD_EXT "\"extension\":[{\"url\":\"" GEN_EXT_WARD "\",\"valueCoding\":{\"system\":\"" \
	GEN_CS_WARD "\",\"code\":\"%s\",\"display\":\"%s\"}}]"

int gen_facilities(struct gen *g, gen_emit_fn emit, void *arg)
{
	struct gen_facility f;
	char id[32];
	int rc;

	for (size_t i = 0; i < N_FACILITIES; i++) {
		if (gen_facility_get(i, &f))
			return ERR_INVALID;
		start(g);
		snprintf(id, sizeof(id), "gen-org-%s", f.code);
		put(g, "{\"resourceType\":\"Organization\",\"id\":\"%s\",\"identifier\":[{\"system\":\""
		    GEN_SID_CSKCB "\",\"value\":\"%s\"}],\"active\":true,\"type\":["
		    "{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/organization-type\","
		    "\"code\":\"prov\",\"display\":\"Healthcare Provider\"}],\"text\":\"%s\"},"
		    "{\"coding\":[{\"system\":\"http://fhir.lienthong.vn/CodeSystem/facility-ownership\","
		    "\"code\":\"%s\"}],\"text\":\"%s\"},"
		    "{\"coding\":[{\"system\":\"http://fhir.lienthong.vn/CodeSystem/facility-level\","
		    "\"code\":\"%d\"}],\"text\":\"Cấp chuyên môn kỹ thuật: %s\"}],"
		    "\"name\":\"%s\",\"address\":[{" WARD_EXT ",\"district\":\"%s\","
		    "\"city\":\"" CITY "\",\"country\":\"VN\"}]}",
		    id, f.code, kind_text[f.kind], ownership[f.kind].code, ownership[f.kind].text,
		    f.level, level_text[f.level], f.name, f.ward->code, f.ward->name, f.ward->name);
		if ((rc = finish(g, GEN_ORGANIZATION, id, emit, arg)))
			return rc;
		start(g);
		snprintf(id, sizeof(id), "gen-loc-%s", f.code);
		put(g, "{\"resourceType\":\"Location\",\"id\":\"%s\",\"status\":\"active\","
		    "\"name\":\"%s\",\"mode\":\"instance\",\"address\":{" WARD_EXT ","
		    "\"district\":\"%s\",\"city\":\"" CITY "\",\"country\":\"VN\"},"
		    "\"managingOrganization\":{\"reference\":\"Organization/gen-org-%s\"}}",
		    id, f.name, f.ward->code, f.ward->name, f.ward->name, f.code);
		if ((rc = finish(g, GEN_LOCATION, id, emit, arg)))
			return rc;
	}
	return 0;
}

/* ---- people --------------------------------------------------------------- */

static void person_rng(const struct gen *g, uint64_t index, struct gen_rng *r)
{
	uint64_t x = g->seed;

	/* Two rounds of mixing so that neighbouring seeds and indexes give
	 * unrelated streams. */
	x = splitmix64(&x) ^ index;
	gen_rng_seed(r, splitmix64(&x));
}

/* BHYT groups (the card's first two letters) and their benefit level
 * (third character), after the groups of Decree 146/2018 as far as we know
 * them: TE children under 6, HS pupils, SV students, DN employees of
 * enterprises, HC civil servants, GD household, HT pensioners, BT social
 * protection (elderly over 80). Approximate shares. */
static void bhyt_group(struct gen_rng *r, int age, const char **group, int *benefit)
{
	if (age < 6) {
		*group = "TE", *benefit = 1;
	} else if (age < 18) {
		*group = "HS", *benefit = 4;
	} else if (age < 23 && chance(r, 0.5)) {
		*group = "SV", *benefit = 4;
	} else if (age >= 80 && chance(r, 0.5)) {
		*group = "BT", *benefit = 2;
	} else if (age >= 60 && chance(r, 0.45)) {
		*group = "HT", *benefit = 3;
	} else {
		static const struct gen_weighted adult[] = { { "DN", 45 }, { "HC", 10 }, { "GD", 45 } };

		*group = adult[pick_n(r, adult, 3)].value;
		*benefit = 4;
	}
}

/* The draws a CCCD's prefix depends on: sex, birth date, the names (drawn
 * before the province, so drawn here too) and the province of birth (its
 * row in gen_birth_provinces). */
static void person_prefix(const struct gen *g, size_t index, struct gen_rng *r,
			  struct gen_person *p, size_t *province)
{
	struct gen_weighted bands[GEN_AGE_BANDS];
	int64_t ref = days_from_civil(REF_Y, REF_M, REF_D), birth;
	int band, years, young;

	memset(p, 0, sizeof(*p));
	person_rng(g, index, r);
	p->index = index;
	p->male = chance(r, gen_male_share);
	for (int i = 0; i < GEN_AGE_BANDS; i++)
		bands[i] = (struct gen_weighted){ "", gen_age_band_weight[i] };
	band = (int)pick_n(r, bands, GEN_AGE_BANDS);
	years = band * 5 + (int)gen_rng_below(r, band == GEN_AGE_BANDS - 1 ? 15 : 5);
	birth = ref - (int64_t)floor(((double)years + gen_rng_unit(r)) * 365.2425);
	civil_from_days(birth, &p->birth_year, &p->birth_month, &p->birth_day);
	p->age = full_years(p->birth_year, p->birth_month, p->birth_day, REF_Y, REF_M, REF_D);

	young = p->birth_year >= 1990;
	p->family = gen_family_names[pick_n(r, gen_family_names, gen_n_family_names)].value;
	if (p->male)
		p->middle = young ? gen_middle_male_young[pick_n(r, gen_middle_male_young, gen_n_middle_male_young)].value
				  : gen_middle_male_old[pick_n(r, gen_middle_male_old, gen_n_middle_male_old)].value;
	else
		p->middle = young ? gen_middle_female_young[pick_n(r, gen_middle_female_young, gen_n_middle_female_young)].value
				  : gen_middle_female_old[pick_n(r, gen_middle_female_old, gen_n_middle_female_old)].value;
	p->given = p->male ? gen_given_male[pick_n(r, gen_given_male, gen_n_given_male)].value
			   : gen_given_female[pick_n(r, gen_given_female, gen_n_given_female)].value;
	*province = pick_n(r, gen_birth_provinces, gen_n_birth_provinces);
}

/* The CCCD's 4th digit: century of birth (0 for the 1900s, 2 for the
 * 2000s) plus 1 for a woman. */
static int century_sex(const struct gen_person *p)
{
	return (p->birth_year >= 2000 ? 2 : 0) + !p->male;
}

/* A CCCD prefix (province, century/sex digit, 2-digit year) as an index
 * into g->serial_walked. */
static size_t cccd_prefix(const struct gen_person *p, size_t province)
{
	return (province * 4 + (size_t)century_sex(p)) * 100 + (size_t)(p->birth_year % 100);
}

static size_t prefix_of(const struct gen *g, size_t index)
{
	struct gen_rng r;
	struct gen_person p;
	size_t province;

	person_prefix(g, index, &r, &p, &province);
	return cccd_prefix(&p, province);
}

#define CCCD_KEY(g) ((g)->seed ^ 0xcccdull)

/* The next serial of this prefix's walk (its own keyed permutation of the
 * 1,000,000) that no patient below GEN_CCCD_SERIALS holds: serial s is
 * that of patient unpermute(s), taken if that patient has the same
 * prefix. Fewer than 1% of the serials of a prefix are taken, so this
 * is about one prefix_of a patient. */
static int next_free_serial(struct gen *g, size_t prefix, uint32_t *serial)
{
	uint32_t *walked = &g->serial_walked[prefix];
	uint64_t walk_key = g->seed ^ 0x5e71a1ull ^ ((uint64_t)prefix * 0x9e3779b97f4a7c15ull);

	while (*walked < GEN_CCCD_SERIALS) {
		uint64_t s = permute((*walked)++, 1000, walk_key);

		if (prefix_of(g, (size_t)unpermute(s, 1000, CCCD_KEY(g))) != prefix) {
			*serial = (uint32_t)s;
			return 0;
		}
	}
	g->error = "more than 1,000,000 people with one CCCD prefix (province of birth, "
		   "century/sex digit, birth year): their CCCDs would repeat";
	return ERR_NOT_SUPPORTED;
}

/* Patient index's serial in its prefix. Patients from GEN_CCCD_SERIALS on
 * take the next free serial in the order of their index: made in that
 * order, one walk step each; asked for out of order, those in between
 * (or, going back, all from GEN_CCCD_SERIALS) are replayed first, so the
 * answer does not depend on what was asked before. */
static int cccd_serial(struct gen *g, size_t index, size_t prefix, uint32_t *serial)
{
	int rc;

	if (index < GEN_CCCD_SERIALS) {
		*serial = (uint32_t)permute(index, 1000, CCCD_KEY(g));
		return 0;
	}
	if (index + 1 == g->serial_next) {	/* asked again */
		*serial = g->serial_last;
		return 0;
	}
	if (index < g->serial_next) {
		memset(g->serial_walked, 0, sizeof(g->serial_walked));
		g->serial_next = GEN_CCCD_SERIALS;
	}
	for (; g->serial_next < index; g->serial_next++)
		if ((rc = next_free_serial(g, prefix_of(g, g->serial_next), serial)))
			return rc;
	if ((rc = next_free_serial(g, prefix, serial)))
		return rc;
	g->serial_last = *serial;
	g->serial_next = index + 1;
	return 0;
}

int gen_person_make(struct gen *g, size_t index, struct gen_person *p)
{
	struct gen_rng r;
	size_t province;
	uint32_t serial;
	const char *group;
	int benefit, rc;

	if (index >= GEN_MAX_PATIENTS)
		return ERR_INVALID;
	person_prefix(g, index, &r, p, &province);

	/* CCCD: province of birth, century/sex digit, 2-digit year, and a
	 * 6-digit serial unique within them (VIETNAM.md §3). */
	if ((rc = cccd_serial(g, index, cccd_prefix(p, province), &serial)))
		return rc;
	snprintf(p->cccd, sizeof(p->cccd), "%s%d%02d%06u", gen_birth_provinces[province].value,
		 century_sex(p), p->birth_year % 100, (unsigned)serial);

	/* BHYT for about 93% (the insured share HCMC reported for 2024). The
	 * social-insurance number's 8 digits: a permutation of the index over
	 * [0, 10^8), unique for every GEN_MAX_PATIENTS. */
	p->insured = chance(&r, 0.93);
	bhyt_group(&r, p->age, &group, &benefit);
	if (p->insured)
		snprintf(p->bhyt, sizeof(p->bhyt), "%s%d79%010llu", group, benefit,
			 7900000000ull +
				 (unsigned long long)permute(index, 10000, g->seed ^ 0xb47ull));
	snprintf(p->phone, sizeof(p->phone), "%s%07llu",
		 gen_phone_prefixes[pick_n(&r, gen_phone_prefixes, gen_n_phone_prefixes)].value,
		 (unsigned long long)gen_rng_below(&r, 10000000));
	p->ward_index = (size_t)gen_rng_below(&r, gen_n_wards);
	p->ward = &gen_wards[p->ward_index];
	p->street = gen_streets[pick_n(&r, gen_streets, gen_n_streets)].value;
	p->house_number = 1 + (int)gen_rng_below(&r, 400);
	return 0;
}

/* ---- care ----------------------------------------------------------------- */

enum { CLASS_AMB, CLASS_IMP, CLASS_EMER };
static const struct {
	const char *code, *display, *text;
} classes[] = {
	[CLASS_AMB] = { "AMB", "ambulatory", "Khám ngoại trú" },
	[CLASS_IMP] = { "IMP", "inpatient encounter", "Điều trị nội trú" },
	[CLASS_EMER] = { "EMER", "emergency", "Cấp cứu" },
};

/* Routine visits, then dengue and TB, then a pregnancy's antenatal visits
 * and delivery. */
#define MAX_ROUTINE 38
#define MAX_ENCOUNTERS (MAX_ROUTINE + 2 + GEN_N_ANTENATAL_WEEKS + 1)
_Static_assert(MAX_ENCOUNTERS <= 64, "renewed[] holds a bit per encounter in 64");

enum { ENC_ROUTINE, ENC_ANTENATAL, ENC_DELIVERY };

struct encounter {
	int64_t day;
	int minute;		/* start, minutes after midnight (local time) */
	int minutes;		/* how long */
	int cls;
	size_t facility;
	int labs;
	int acute;		/* the gen_condition_row it was for, or -1 */
	int kind;		/* ENC_ROUTINE, ENC_ANTENATAL, ENC_DELIVERY */
};

/* Physiology that stays with a person; each visit adds a little noise. */
struct body {
	double adult_height, bmi, sbp_offset, hr, glucose, hba1c, creatinine, cholesterol,
		alt, ast, hb;
};

struct care {
	struct gen *g;
	gen_emit_fn emit;
	void *arg;
	struct gen_rng r;
	const struct gen_person *p;
	char patient_id[24];
	int has[GEN_N_CONDITIONS];
	struct body b;
	unsigned n_obs, n_med;
	int allergic[GEN_N_ALLERGENS];
	int64_t lmp, delivery;	/* a pregnancy: last menstrual period, delivery day (may be
				 * after the reference date: still pregnant); lmp 0: none */
};

static int age_group(int age)
{
	return age < 15 ? 0 : age < 40 ? 1 : age < 60 ? 2 : 3;
}

static void format_time(char out[32], int64_t day, int minute)
{
	int y, m, d;

	day += minute / 1440;
	minute %= 1440;
	civil_from_days(day, &y, &m, &d);
	snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:00+07:00", y, m, d, minute / 60, minute % 60);
}

static void format_date(char out[16], int64_t day)
{
	int y, m, d;

	civil_from_days(day, &y, &m, &d);
	snprintf(out, 16, "%04d-%02d-%02d", y, m, d);
}

static size_t pick_hospital(struct gen_rng *r)
{
	double u = gen_rng_unit(r);

	if (u < 0.55)
		return (size_t)gen_rng_below(r, N_HOSP_CITY);
	if (u < 0.75)
		return FIRST_MINISTRY + (size_t)gen_rng_below(r, N_HOSP_MINISTRY);
	return FIRST_PRIVATE + (size_t)gen_rng_below(r, N_HOSP_PRIVATE);
}

/* Outpatients go to their commune station, a regional centre, a clinic or
 * a hospital; inpatients and emergencies to hospitals. */
static void place(struct care *c, struct encounter *e)
{
	struct gen_rng *r = &c->r;

	if (e->cls == CLASS_AMB) {
		double u = gen_rng_unit(r);

		if (u < 0.35)
			e->facility = FIRST_STATION + c->p->ward_index;
		else if (u < 0.55)
			e->facility = FIRST_REGIONAL + (size_t)gen_rng_below(r, N_REGIONAL);
		else if (u < 0.75)
			e->facility = FIRST_CLINIC + (size_t)gen_rng_below(r, N_CLINICS);
		else
			e->facility = pick_hospital(r);
		e->minute = 7 * 60 + (int)gen_rng_below(r, 9 * 60);
		e->minutes = 20 + (int)gen_rng_below(r, 70);
	} else if (e->cls == CLASS_EMER) {
		e->facility = pick_hospital(r);
		e->minute = (int)gen_rng_below(r, 24 * 60);
		e->minutes = 120 + (int)gen_rng_below(r, 240);
		e->labs = 1;
	} else {
		e->facility = pick_hospital(r);
		e->minute = 7 * 60 + (int)gen_rng_below(r, 13 * 60);
		e->minutes = (2 + (int)gen_rng_below(r, 9)) * 1440;
		e->labs = 1;
	}
}

static int cmp_encounter(const void *a, const void *b)
{
	const struct encounter *x = a, *y = b;

	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	return (x->minute > y->minute) - (x->minute < y->minute);
}

static void draw_conditions(struct care *c)
{
	int grp = age_group(c->p->age);

	/* Diabetes first: it raises the odds of hypertension, dyslipidaemia
	 * and CKD. */
	c->has[GEN_E11] = chance(&c->r, gen_conditions[GEN_E11].per_1000[grp] / 1000.0);
	for (int k = 0; k < GEN_N_PREVALENT; k++) {
		double p = gen_conditions[k].per_1000[grp] / 1000.0;

		if (k == GEN_E11)
			continue;
		if (c->has[GEN_E11] && (k == GEN_I10 || k == GEN_E78))
			p *= 1.5;
		if ((c->has[GEN_E11] || c->has[GEN_I10]) && k == GEN_N18)
			p *= 2;
		if (c->p->age < 1 && !gen_conditions[k].chronic)
			p = 0;
		c->has[k] = chance(&c->r, clamp(p, 0, 0.95));
	}
}

static void draw_body(struct care *c)
{
	struct gen_rng *r = &c->r;
	struct body *b = &c->b;
	int male = c->p->male;

	b->adult_height = clamp(male ? gen_rng_normal(r, 166, 6) : gen_rng_normal(r, 155, 5.5), 135, 195);
	b->bmi = clamp(gen_rng_normal(r, 22.3, 3.0) + 2.5 * c->has[GEN_E11] + 1.5 * c->has[GEN_I10], 15, 40);
	b->sbp_offset = gen_rng_normal(r, 0, 9) + 22 * c->has[GEN_I10];
	b->hr = gen_rng_normal(r, 77, 8);
	b->glucose = c->has[GEN_E11] ? gen_rng_normal(r, 165, 40) : gen_rng_normal(r, 92, 9);
	b->hba1c = c->has[GEN_E11] ? gen_rng_normal(r, 7.8, 1.2) : gen_rng_normal(r, 5.4, 0.3);
	b->creatinine = (male ? gen_rng_normal(r, 0.95, 0.12) : gen_rng_normal(r, 0.72, 0.10)) *
			(c->has[GEN_N18] ? clamp(gen_rng_normal(r, 2.3, 0.6), 1.4, 6) : 1);
	b->cholesterol = gen_rng_normal(r, 185, 28) + 55 * c->has[GEN_E78];
	b->alt = c->has[GEN_B18_1] ? gen_rng_normal(r, 55, 25) : gen_rng_normal(r, 22, 8);
	b->ast = c->has[GEN_B18_1] ? gen_rng_normal(r, 48, 20) : gen_rng_normal(r, 24, 7);
	b->hb = (male ? gen_rng_normal(r, 14.8, 1.1) : gen_rng_normal(r, 12.9, 1.0)) - 1.8 * c->has[GEN_N18];
}

/* Linear interpolation in a table of (age, value) anchors. */
static double by_age(const double (*t)[2], size_t n, double age)
{
	if (age <= t[0][0])
		return t[0][1];
	for (size_t i = 1; i < n; i++)
		if (age <= t[i][0])
			return t[i - 1][1] + (t[i][1] - t[i - 1][1]) * (age - t[i - 1][0]) / (t[i][0] - t[i - 1][0]);
	return t[n - 1][1];
}

/* ---- resources ------------------------------------------------------------- */

static int emit_patient(struct care *c)
{
	const struct gen_person *p = c->p;
	struct gen *g = c->g;

	start(g);
	put(g, "{\"resourceType\":\"Patient\",\"id\":\"%s\",\"identifier\":[{\"use\":\"official\","
	    "\"type\":{\"text\":\"CCCD\"},\"system\":\"" GEN_SID_CCCD "\",\"value\":\"%s\"}",
	    c->patient_id, p->cccd);
	if (p->insured)
		put(g, ",{\"type\":{\"text\":\"BHYT\"},\"system\":\"" GEN_SID_BHYT "\",\"value\":\"%s\"}",
		    p->bhyt);
	put(g, "],\"active\":true,\"name\":[{\"use\":\"official\",\"text\":\"%s %s %s\","
	    "\"family\":\"%s\",\"given\":[\"%s\",\"%s\"]}],"
	    "\"telecom\":[{\"system\":\"phone\",\"value\":\"%s\",\"use\":\"mobile\"}],"
	    "\"gender\":\"%s\",\"birthDate\":\"%04d-%02d-%02d\","
	    "\"address\":[{" WARD_EXT ",\"use\":\"home\",\"text\":\"%d %s, %s, " CITY "\","
	    "\"line\":[\"%d %s\"],\"district\":\"%s\",\"city\":\"" CITY "\",\"country\":\"VN\"}],"
	    "\"generalPractitioner\":[{\"reference\":\"Organization/gen-org-%d\"}]}",
	    p->family, p->middle, p->given, p->family, p->middle, p->given, p->phone,
	    p->male ? "male" : "female", p->birth_year, p->birth_month, p->birth_day,
	    p->ward->code, p->ward->name, p->house_number, p->street, p->ward->name,
	    p->house_number, p->street, p->ward->name,
	    FIRST_CODE + (int)(FIRST_STATION + p->ward_index));
	return finish(g, GEN_PATIENT, c->patient_id, c->emit, c->arg);
}

static int emit_encounter(struct care *c, const struct encounter *e, const char *id)
{
	char t0[32], t1[32];
	int code = FIRST_CODE + (int)e->facility;

	format_time(t0, e->day, e->minute);
	format_time(t1, e->day, e->minute + e->minutes);
	start(c->g);
	put(c->g, "{\"resourceType\":\"Encounter\",\"id\":\"%s\",\"status\":\"finished\","
	    "\"class\":{\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ActCode\","
	    "\"code\":\"%s\",\"display\":\"%s\"},\"type\":[{\"text\":\"%s\"}],"
	    "\"subject\":{\"reference\":\"Patient/%s\"},\"period\":{\"start\":\"%s\",\"end\":\"%s\"},"
	    "\"location\":[{\"location\":{\"reference\":\"Location/gen-loc-%d\"}}],"
	    "\"serviceProvider\":{\"reference\":\"Organization/gen-org-%d\"}}",
	    id, classes[e->cls].code, classes[e->cls].display,
	    e->kind == ENC_ANTENATAL ? "Khám thai" : e->kind == ENC_DELIVERY ? "Sinh con" :
	    classes[e->cls].text,
	    c->patient_id, t0, t1, code, code);
	return finish(c->g, GEN_ENCOUNTER, id, c->emit, c->arg);
}

/* The id of the n-th Condition of the patient (1-based). */
static void condition_id(const struct care *c, unsigned n, char id[40])
{
	snprintf(id, 40, "gen-cond-%s-%02u", c->patient_id + 8, n);
}

static int emit_condition(struct care *c, int row, unsigned n, const struct encounter *e,
			  const char *encounter_id)
{
	const struct gen_condition *k = &gen_conditions[row];
	char id[40], recorded[16], onset[16], abated[16];
	int64_t birth = days_from_civil(c->p->birth_year, c->p->birth_month, c->p->birth_day);
	int64_t ref = days_from_civil(REF_Y, REF_M, REF_D);
	int64_t onset_day = e->day, abated_day = e->day + 10;
	int resolved = !k->chronic;

	if (k->chronic) {
		onset_day = e->day - (int64_t)gen_rng_below(&c->r, 3650);
		if (onset_day < birth + 1)
			onset_day = birth + 1 < e->day ? birth + 1 : e->day;
	}
	if (row == GEN_A15)
		abated_day = e->day + 180;
	else if (row == GEN_Z34)
		onset_day = c->lmp, abated_day = c->delivery;	/* supervised until delivery */
	else if (row == GEN_O24_4)
		abated_day = c->delivery;
	else if (row == GEN_O80 || row == GEN_O82)
		abated_day = e->day + (e->minute + e->minutes) / 1440;	/* discharge */
	if (abated_day > ref)
		resolved = 0;	/* still on treatment, still pregnant */
	condition_id(c, n, id);
	format_date(recorded, e->day);
	format_date(onset, onset_day);
	format_date(abated, abated_day);
	start(c->g);
	put(c->g, "{\"resourceType\":\"Condition\",\"id\":\"%s\",\"clinicalStatus\":{\"coding\":[{"
	    "\"system\":\"http://terminology.hl7.org/CodeSystem/condition-clinical\",\"code\":\"%s\"}]},"
	    "\"verificationStatus\":{\"coding\":[{\"system\":"
	    "\"http://terminology.hl7.org/CodeSystem/condition-ver-status\",\"code\":\"confirmed\"}]},"
	    "\"category\":[{\"coding\":[{\"system\":"
	    "\"http://terminology.hl7.org/CodeSystem/condition-category\",\"code\":\"%s\"}]}],"
	    "\"code\":{\"coding\":[{\"system\":\"http://hl7.org/fhir/sid/icd-10\",\"code\":\"%s\","
	    "\"display\":\"%s\"}],\"text\":\"%s\"},\"subject\":{\"reference\":\"Patient/%s\"},"
	    "\"encounter\":{\"reference\":\"Encounter/%s\"},\"onsetDateTime\":\"%s\"",
	    id, resolved ? "resolved" : "active",
	    k->chronic ? "problem-list-item" : "encounter-diagnosis", k->icd10, k->display,
	    k->display, c->patient_id, encounter_id, onset);
	if (resolved)
		put(c->g, ",\"abatementDateTime\":\"%s\"", abated);
	put(c->g, ",\"recordedDate\":\"%s\"}", recorded);
	return finish(c->g, GEN_CONDITION, id, c->emit, c->arg);
}

struct obs_code {
	const char *loinc, *display, *unit;
	int decimals;
};

static const struct obs_code
	o_weight = { "29463-7", "Body weight", "kg", 1 },
	o_height = { "8302-2", "Body height", "cm", 1 },
	o_bmi = { "39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", 1 },
	o_hr = { "8867-4", "Heart rate", "/min", 0 },
	o_glucose = { "2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", 0 },
	o_hba1c = { "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 1 },
	o_creatinine = { "2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 2 },
	o_cholesterol = { "2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", 0 },
	o_alt = { "1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 0 },
	o_ast = { "1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 0 },
	o_hb = { "718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 1 };

static void obs_head(struct care *c, const char *id, const char *category, const char *loinc,
		     const char *display, const char *encounter_id, const char *when)
{
	put(c->g, "{\"resourceType\":\"Observation\",\"id\":\"%s\",\"status\":\"final\","
	    "\"category\":[{\"coding\":[{\"system\":"
	    "\"http://terminology.hl7.org/CodeSystem/observation-category\",\"code\":\"%s\"}]}],"
	    "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"%s\",\"display\":\"%s\"}]},"
	    "\"subject\":{\"reference\":\"Patient/%s\"},\"encounter\":{\"reference\":\"Encounter/%s\"},"
	    "\"effectiveDateTime\":\"%s\"",
	    id, category, loinc, display, c->patient_id, encounter_id, when);
}

static void next_obs_id(struct care *c, char id[40])
{
	snprintf(id, 40, "gen-obs-%s-%04u", c->patient_id + 8, ++c->n_obs);
}

static int emit_quantity(struct care *c, const struct obs_code *k, int lab, double value,
			 const char *encounter_id, const char *when)
{
	char id[40];

	next_obs_id(c, id);
	start(c->g);
	obs_head(c, id, lab ? "laboratory" : "vital-signs", k->loinc, k->display, encounter_id, when);
	put(c->g, ",\"valueQuantity\":{\"value\":%.*f,\"unit\":\"%s\","
	    "\"system\":\"http://unitsofmeasure.org\",\"code\":\"%s\"}}",
	    k->decimals, value, k->unit, k->unit);
	return finish(c->g, GEN_OBSERVATION, id, c->emit, c->arg);
}

static int emit_bp(struct care *c, double sbp, double dbp, const char *encounter_id, const char *when)
{
	char id[40];

	next_obs_id(c, id);
	start(c->g);
	obs_head(c, id, "vital-signs", "85354-9", "Blood pressure panel with all children optional",
		 encounter_id, when);
	put(c->g, ",\"component\":[{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\","
	    "\"code\":\"8480-6\",\"display\":\"Systolic blood pressure\"}]},\"valueQuantity\":"
	    "{\"value\":%.0f,\"unit\":\"mm[Hg]\",\"system\":\"http://unitsofmeasure.org\","
	    "\"code\":\"mm[Hg]\"}},{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\","
	    "\"code\":\"8462-4\",\"display\":\"Diastolic blood pressure\"}]},\"valueQuantity\":"
	    "{\"value\":%.0f,\"unit\":\"mm[Hg]\",\"system\":\"http://unitsofmeasure.org\","
	    "\"code\":\"mm[Hg]\"}}]}",
	    sbp, dbp);
	return finish(c->g, GEN_OBSERVATION, id, c->emit, c->arg);
}

/* At the first antenatal visit: pregnancy status (LOINC 82810-3),
 * SNOMED CT 77386006 Pregnant. */
static int emit_pregnancy_status(struct care *c, const char *encounter_id, const char *when)
{
	char id[40];

	next_obs_id(c, id);
	start(c->g);
	obs_head(c, id, "social-history", "82810-3", "Pregnancy status", encounter_id, when);
	put(c->g, ",\"valueCodeableConcept\":{\"coding\":[{\"system\":\"http://snomed.info/sct\","
	    "\"code\":\"77386006\",\"display\":\"Pregnant\"}],\"text\":\"Đang mang thai\"}}");
	return finish(c->g, GEN_OBSERVATION, id, c->emit, c->arg);
}

/* Rough growth anchors (WHO child growth standards, medians of both sexes,
 * rounded): height in cm and BMI by age in years. */
static const double height_by_age[][2] = {
	{ 0, 50 }, { 1, 75 }, { 2, 87 }, { 5, 110 }, { 10, 138 }, { 15, 160 }, { 18, 161 },
};
static const double bmi_by_age[][2] = {
	{ 0, 13.4 }, { 1, 17.2 }, { 5, 15.3 }, { 10, 16.6 }, { 15, 19.5 }, { 18, 21 },
};

static int emit_observations(struct care *c, const struct encounter *e, const char *encounter_id)
{
	struct gen_rng *r = &c->r;
	const struct body *b = &c->b;
	int64_t birth = days_from_civil(c->p->birth_year, c->p->birth_month, c->p->birth_day);
	double age = (double)(e->day - birth) / 365.2425, height, bmi, weight, hr;
	char when[32];
	int rc;

	format_time(when, e->day, e->minute + 10);
	if (age < 18) {
		height = by_age(height_by_age, 7, age) * b->adult_height / 161.0;
		bmi = by_age(bmi_by_age, 6, age) * (0.9 + 0.2 * gen_rng_unit(r));
	} else {
		height = b->adult_height;
		bmi = b->bmi + gen_rng_normal(r, 0, 0.4);
	}
	weight = bmi * height * height / 10000.0;
	bmi = weight / (height * height / 10000.0);
	hr = age < 5 ? gen_rng_normal(r, 112, 10) : age < 12 ? gen_rng_normal(r, 90, 9)
							     : b->hr + gen_rng_normal(r, 0, 5);
	if ((rc = emit_quantity(c, &o_weight, 0, weight, encounter_id, when)) ||
	    (rc = emit_quantity(c, &o_height, 0, height, encounter_id, when)) ||
	    (rc = emit_quantity(c, &o_bmi, 0, bmi, encounter_id, when)) ||
	    (rc = emit_quantity(c, &o_hr, 0, clamp(hr, 40, 180), encounter_id, when)))
		return rc;
	if (age >= 15) {
		double sbp = clamp(108 + 0.55 * (age - 20) + b->sbp_offset + gen_rng_normal(r, 0, 7), 85, 220);
		double dbp = clamp(0.55 * sbp + 8 + gen_rng_normal(r, 0, 5), 50, 130);

		if ((rc = emit_bp(c, sbp, dbp, encounter_id, when)))
			return rc;
	}
	if (e->acute == GEN_Z34 && (rc = emit_pregnancy_status(c, encounter_id, when)))
		return rc;
	if (!e->labs)
		return 0;
	format_time(when, e->day, e->minute + 35);
	if ((rc = emit_quantity(c, &o_glucose, 1, clamp(b->glucose + gen_rng_normal(r, 0, 8), 50, 500),
				encounter_id, when)) ||
	    (c->has[GEN_E11] &&
	     (rc = emit_quantity(c, &o_hba1c, 1, clamp(b->hba1c + gen_rng_normal(r, 0, 0.3), 4, 15),
				 encounter_id, when))) ||
	    (rc = emit_quantity(c, &o_creatinine, 1,
				clamp(b->creatinine * (age < 12 ? 0.5 : 1) + gen_rng_normal(r, 0, 0.05), 0.2, 12),
				encounter_id, when)) ||
	    (age >= 18 &&
	     (rc = emit_quantity(c, &o_cholesterol, 1, clamp(b->cholesterol + gen_rng_normal(r, 0, 10), 90, 400),
				 encounter_id, when))) ||
	    (rc = emit_quantity(c, &o_alt, 1, clamp(b->alt + gen_rng_normal(r, 0, 4), 5, 400), encounter_id, when)) ||
	    (rc = emit_quantity(c, &o_ast, 1, clamp(b->ast + gen_rng_normal(r, 0, 4), 8, 400), encounter_id, when)) ||
	    (rc = emit_quantity(c, &o_hb, 1,
				clamp((age < 12 ? 12.3 : b->hb) + 1.5 * (e->acute == GEN_A90) +
				      gen_rng_normal(r, 0, 0.3), 6, 20),
				encounter_id, when)))
		return rc;
	return 0;
}

/* ---- allergies, medications, immunizations, pregnancies ------------------ */

static void draw_allergies(struct care *c)
{
	for (int k = 0; k < GEN_N_ALLERGENS; k++)
		c->allergic[k] = chance(&c->r, gen_allergens[k].per_1000 / 1000.0);
}

/* Recorded at the first encounter when there is one. */
static int emit_allergy(struct care *c, int row, unsigned n, const struct encounter *e,
			const char *encounter_id)
{
	const struct gen_allergen *a = &gen_allergens[row];
	const struct gen_manifestation *m = &a->reaction[chance(&c->r, 0.3)];
	int high = chance(&c->r, a->high), confirmed = chance(&c->r, 0.7);
	char id[48], when[16];

	snprintf(id, sizeof(id), "gen-allergy-%s-%02u", c->patient_id + 8, n);
	start(c->g);
	put(c->g, "{\"resourceType\":\"AllergyIntolerance\",\"id\":\"%s\","
	    "\"clinicalStatus\":{\"coding\":[{\"system\":"
	    "\"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical\",\"code\":\"active\"}]},"
	    "\"verificationStatus\":{\"coding\":[{\"system\":"
	    "\"http://terminology.hl7.org/CodeSystem/allergyintolerance-verification\",\"code\":\"%s\"}]},"
	    "\"type\":\"allergy\",\"category\":[\"%s\"],\"criticality\":\"%s\",\"code\":{",
	    id, confirmed ? "confirmed" : "unconfirmed", a->category, high ? "high" : "low");
	if (a->snomed)
		put(c->g, "\"coding\":[{\"system\":\"http://snomed.info/sct\",\"code\":\"%s\","
		    "\"display\":\"%s\"}],", a->snomed, a->display);
	put(c->g, "\"text\":\"%s\"},\"patient\":{\"reference\":\"Patient/%s\"}", a->text,
	    c->patient_id);
	if (e) {
		format_date(when, e->day);
		put(c->g, ",\"encounter\":{\"reference\":\"Encounter/%s\"},\"recordedDate\":\"%s\"",
		    encounter_id, when);
	}
	put(c->g, ",\"reaction\":[{\"manifestation\":[{\"coding\":[{\"system\":"
	    "\"http://snomed.info/sct\",\"code\":\"%s\",\"display\":\"%s\"}],\"text\":\"%s\"}]}]}",
	    m->snomed, m->display, m->text);
	return finish(c->g, GEN_ALLERGY_INTOLERANCE, id, c->emit, c->arg);
}

/* What a prescription is for: a Condition of the patient, or a code. */
struct med_reason {
	const char *condition_id;	/* or NULL */
	const char *icd10, *text;	/* when there is no Condition */
};

static int emit_medication(struct care *c, int drug, const struct encounter *e,
			   const char *encounter_id, int active, const struct med_reason *why)
{
	const struct gen_drug *d = &gen_drugs[drug];
	char id[48], when[32];
	int code = FIRST_CODE + (int)e->facility;

	snprintf(id, sizeof(id), "gen-medreq-%s-%03u", c->patient_id + 8, ++c->n_med);
	format_time(when, e->day, e->minute + 40);
	start(c->g);
	put(c->g, "{\"resourceType\":\"MedicationRequest\",\"id\":\"%s\",\"status\":\"%s\","
	    "\"intent\":\"order\",\"category\":[{\"coding\":[{\"system\":"
	    "\"http://terminology.hl7.org/CodeSystem/medicationrequest-category\",\"code\":\"%s\"}]}],"
	    "\"medicationCodeableConcept\":{\"coding\":[{\"system\":\"http://www.whocc.no/atc\","
	    "\"code\":\"%s\",\"display\":\"%s\"}],\"text\":\"%s\"},"
	    "\"subject\":{\"reference\":\"Patient/%s\"},\"encounter\":{\"reference\":\"Encounter/%s\"},"
	    "\"authoredOn\":\"%s\",\"requester\":{\"reference\":\"Organization/gen-org-%d\"},",
	    id, active ? "active" : "completed", e->cls == CLASS_AMB ? "outpatient" : "inpatient",
	    d->atc, d->atc_name, d->text, c->patient_id, encounter_id, when, code);
	if (why->condition_id)
		put(c->g, "\"reasonReference\":[{\"reference\":\"Condition/%s\"}],", why->condition_id);
	else
		put(c->g, "\"reasonCode\":[{\"coding\":[{\"system\":\"http://hl7.org/fhir/sid/icd-10\","
		    "\"code\":\"%s\"}],\"text\":\"%s\"}],", why->icd10, why->text);
	put(c->g, "\"courseOfTherapyType\":{\"coding\":[{\"system\":"
	    "\"http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy\","
	    "\"code\":\"%s\"}]},\"dosageInstruction\":[{\"text\":\"%s\"}],"
	    "\"dispenseRequest\":{\"expectedSupplyDuration\":{\"value\":%d,\"unit\":\"ngày\","
	    "\"system\":\"http://unitsofmeasure.org\",\"code\":\"d\"}}}",
	    d->days ? "acute" : "continuous", d->dosage, d->days ? d->days : 30);
	return finish(c->g, GEN_MEDICATION_REQUEST, id, c->emit, c->arg);
}

/* A drug the patient is allergic to is swapped for another of its use. */
static int avoid_allergy(const struct care *c, int drug, int child)
{
	if (c->allergic[GEN_ALLERGY_PENICILLIN] &&
	    (drug == GEN_AMOXICILLIN || drug == GEN_AMOX_CLAV || drug == GEN_AMOXICILLIN_CHILD))
		return child ? GEN_AZITHROMYCIN_CHILD : GEN_AZITHROMYCIN;
	if (c->allergic[GEN_ALLERGY_NSAID] && drug == GEN_ASPIRIN)
		return GEN_CLOPIDOGREL;
	return drug;
}

/* A short course at an encounter: paracetamol, an antibiotic or both. */
static int acute_course(struct care *c, const struct encounter *e, const char *encounter_id,
			int64_t ref, double p_paracetamol, double p_antibiotic,
			const struct med_reason *why)
{
	int64_t birth = days_from_civil(c->p->birth_year, c->p->birth_month, c->p->birth_day);
	int child = e->day - birth < 12 * 365, rc, drug;

	if (chance(&c->r, p_paracetamol)) {
		drug = child ? GEN_PARACETAMOL_CHILD : GEN_PARACETAMOL;
		if ((rc = emit_medication(c, drug, e, encounter_id, e->day + gen_drugs[drug].days > ref, why)))
			return rc;
	}
	if (chance(&c->r, p_antibiotic)) {
		drug = gen_antibiotic_drug[pick_n(&c->r, gen_antibiotics, gen_n_antibiotics)];
		if (child || e->day - birth < 18 * 365)	/* no quinolones for the young */
			drug = drug == GEN_CIPROFLOXACIN ? GEN_AMOXICILLIN : drug;
		if (child)
			drug = drug == GEN_AZITHROMYCIN ? GEN_AZITHROMYCIN_CHILD : GEN_AMOXICILLIN_CHILD;
		drug = avoid_allergy(c, drug, child);
		if ((rc = emit_medication(c, drug, e, encounter_id, e->day + gen_drugs[drug].days > ref, why)))
			return rc;
	}
	return 0;
}

/* Children under 6 on the reference date: the TCMR schedule, each dose
 * given or missed, none after the reference date. Birth doses where the
 * child was born, the rest at the commune station of the child's ward. */
static int emit_immunizations(struct care *c)
{
	const struct gen_person *p = c->p;
	int64_t birth = days_from_civil(p->birth_year, p->birth_month, p->birth_day);
	int64_t ref = days_from_civil(REF_Y, REF_M, REF_D), last[16] = { 0 };
	const char *series[16] = { 0 };
	int doses[16] = { 0 }, station = FIRST_CODE + (int)(FIRST_STATION + p->ward_index);
	int born_at, rc;
	double cover = chance(&c->r, gen_tcmr_keepers) ? gen_tcmr_keeper_dose : gen_tcmr_other_dose;
	unsigned n = 0;
	size_t n_series = 0;

	if (p->age >= 6)
		return 0;
	born_at = FIRST_CODE + (int)(chance(&c->r, 0.6) ? 6 + gen_rng_below(&c->r, 2)	/* Từ Dũ, Hùng Vương */
								: pick_hospital(&c->r));
	for (size_t i = 0; i < gen_n_tcmr; i++) {
		const struct gen_vaccine_dose *v = &gen_tcmr[i];
		size_t s = 0;
		int64_t day;
		char id[48], when[32];
		int where;

		while (s < n_series && strcmp(series[s], v->series))
			s++;
		if (s == 16)
			continue;	/* more series than the arrays hold: gen_tcmr has 9 */
		if (s == n_series)
			series[n_series++] = v->series;
		if (!chance(&c->r, cover))
			continue;
		if (v->at_birth)	/* hepatitis B within a day, BCG within the month */
			day = birth + (!strcmp(v->series, "BCG") ? (int64_t)gen_rng_below(&c->r, 30)
								 : chance(&c->r, 0.8) ? 0 : 1 + (int64_t)gen_rng_below(&c->r, 7));
		else	/* late by up to four weeks, usually less */
			day = birth + v->age_days + (int64_t)(gen_rng_below(&c->r, 29) * gen_rng_unit(&c->r));
		if (doses[s] && day < last[s] + v->min_gap_days)
			day = last[s] + v->min_gap_days;
		if (day > ref)
			continue;
		last[s] = day;
		doses[s]++;
		where = v->at_birth ? born_at : station;
		snprintf(id, sizeof(id), "gen-imm-%s-%02u", c->patient_id + 8, ++n);
		format_time(when, day, v->at_birth ? (int)gen_rng_below(&c->r, 24 * 60)
						   : 7 * 60 + 30 + (int)gen_rng_below(&c->r, 8 * 60));
		start(c->g);
		put(c->g, "{\"resourceType\":\"Immunization\",\"id\":\"%s\",\"status\":\"completed\","
		    "\"vaccineCode\":{\"coding\":[{\"system\":\"http://hl7.org/fhir/sid/cvx\","
		    "\"code\":\"%s\",\"display\":\"%s\"}],\"text\":\"%s\"},"
		    "\"patient\":{\"reference\":\"Patient/%s\"},\"occurrenceDateTime\":\"%s\","
		    "\"primarySource\":true,\"location\":{\"reference\":\"Location/gen-loc-%d\"},"
		    "\"performer\":[{\"actor\":{\"reference\":\"Organization/gen-org-%d\"}}],"
		    "\"fundingSource\":{\"coding\":[{\"system\":"
		    "\"http://terminology.hl7.org/CodeSystem/immunization-funding-source\","
		    "\"code\":\"public\"}],\"text\":\"Tiêm chủng mở rộng\"},"
		    "\"protocolApplied\":[{\"series\":\"%s\",\"doseNumberPositiveInt\":%d}]}",
		    id, v->cvx, v->cvx_display, v->text, c->patient_id, when, where, where, v->series,
		    doses[s]);
		if ((rc = finish(c->g, GEN_IMMUNIZATION, id, c->emit, c->arg)))
			return rc;
	}
	return 0;
}

/* A pregnancy for some women who are 18-45 during the years of care:
 * antenatal visits and, unless still pregnant on the reference date, a
 * delivery in hospital. Appends to enc[]; returns how many. */
static unsigned plan_pregnancy(struct care *c, struct encounter *enc, int64_t first, int64_t ref)
{
	const struct gen_person *p = c->p;
	int64_t adult = days_from_civil(p->birth_year + 18, p->birth_month, p->birth_day);
	int64_t too_old = days_from_civil(p->birth_year + 45, p->birth_month, p->birth_day);
	int64_t lo = first > adult ? first : adult, hi = too_old - 287;	/* delivered by 45 */
	int gdm, caesarean;
	unsigned n = 0;

	if (hi > ref)
		hi = ref;
	if (p->male || hi <= lo ||
	    !chance(&c->r, clamp(gen_births_per_woman_year * (double)(hi - lo) / 365.25, 0, 0.9)))
		return 0;
	c->lmp = lo + (int64_t)gen_rng_below(&c->r, (uint64_t)(hi - lo));
	c->delivery = c->lmp + 259 + (int64_t)gen_rng_below(&c->r, 28);	/* 37w0d .. 40w6d */
	gdm = chance(&c->r, gen_gestational_diabetes_share);
	caesarean = chance(&c->r, gen_caesarean_share);
	c->has[GEN_Z34] = 1;
	for (size_t i = 0; i < gen_n_antenatal_weeks; i++) {
		struct encounter *e = &enc[n];
		int64_t day = c->lmp + 7 * gen_antenatal_weeks[i] + (int64_t)gen_rng_below(&c->r, 7);
		int gdm_visit = gdm && gen_antenatal_weeks[i] == 28;

		if (i && !gdm_visit && !chance(&c->r, gen_antenatal_kept))
			continue;
		if (day > ref || day >= c->delivery)
			break;
		memset(e, 0, sizeof(*e));
		e->day = day;
		e->cls = CLASS_AMB;
		e->kind = ENC_ANTENATAL;
		e->acute = -1;
		place(c, e);
		if (gen_rng_unit(&c->r) < 0.6)	/* most go to a hospital for antenatal care */
			e->facility = chance(&c->r, 0.5) ? 6 + (size_t)gen_rng_below(&c->r, 2)
							 : pick_hospital(&c->r);
		e->labs = !n || gdm_visit;
		if (!n)
			e->acute = GEN_Z34;
		else if (gdm_visit)
			e->acute = GEN_O24_4, c->has[GEN_O24_4] = 1;
		n++;
	}
	if (c->delivery <= ref) {
		struct encounter *e = &enc[n++];
		int row = caesarean ? GEN_O82 : GEN_O80;

		memset(e, 0, sizeof(*e));
		e->day = c->delivery;
		e->cls = CLASS_IMP;
		e->kind = ENC_DELIVERY;
		e->acute = row;
		c->has[row] = 1;
		e->facility = chance(&c->r, 0.6) ? 6 + (size_t)gen_rng_below(&c->r, 2) : pick_hospital(&c->r);
		e->minute = (int)gen_rng_below(&c->r, 24 * 60);
		e->minutes = (caesarean ? 4 : 2) * 1440 + (int)gen_rng_below(&c->r, 1440);
		e->labs = 1;
	}
	if (!n)	/* the first visit was after the reference date */
		c->has[GEN_Z34] = 0, c->lmp = 0;
	return n;
}

int gen_patient(struct gen *g, size_t index, gen_emit_fn emit, void *arg)
{
	struct gen_person p;
	struct care c;
	struct encounter enc[MAX_ENCOUNTERS];
	char encounter_ids[MAX_ENCOUNTERS][32], cond_ids[GEN_N_CONDITIONS][40];
	int64_t ref = days_from_civil(REF_Y, REF_M, REF_D), first, birth;
	static const double visits_per_year[GEN_AGE_GROUPS] = { 1.5, 0.7, 1.1, 2.4 };
	int n_chronic = 0, grp, rc, cond_at[GEN_N_CONDITIONS], regimen[GEN_N_CONDITIONS];
	unsigned cond_no[GEN_N_CONDITIONS];
	uint64_t renewed[GEN_N_CONDITIONS];	/* bit i: prescribed at encounter i */
	unsigned n = 0, n_conditions = 0, n_allergies = 0, want;

	if (index >= GEN_MAX_PATIENTS)
		return ERR_INVALID;
	if ((rc = gen_person_make(g, index, &p)))
		return rc;
	memset(&c, 0, sizeof(c));
	c.g = g;
	c.emit = emit;
	c.arg = arg;
	c.p = &p;
	person_rng(g, (uint64_t)index | (1ull << 40), &c.r);	/* a second stream: care */
	snprintf(c.patient_id, sizeof(c.patient_id), "gen-pat-%06zu", index + 1);
	draw_conditions(&c);
	draw_body(&c);
	draw_allergies(&c);
	for (int k = 0; k < GEN_N_CONDITIONS; k++)
		n_chronic += c.has[k] && gen_conditions[k].chronic;

	/* Encounters: a Poisson number over the years of care, more for the
	 * old and the chronically ill; dengue, TB and a pregnancy bring their
	 * own. */
	birth = days_from_civil(p.birth_year, p.birth_month, p.birth_day);
	first = days_from_civil(CARE_FIRST_YEAR, 1, 1);
	if (first < birth)
		first = birth;
	grp = age_group(p.age);
	want = poisson(&c.r, (visits_per_year[grp] + 0.8 * n_chronic) * (double)(ref - first + 1) / 365.25);
	if (want > MAX_ROUTINE)
		want = MAX_ROUTINE;
	if (!want && n_chronic)
		want = 1;
	for (; n < want; n++) {
		struct encounter *e = &enc[n];
		double u = gen_rng_unit(&c.r), imp = grp == 3 ? 0.10 : 0.05;

		memset(e, 0, sizeof(*e));
		e->acute = -1;
		e->day = first + (int64_t)gen_rng_below(&c.r, (uint64_t)(ref - first + 1));
		e->cls = u < imp ? CLASS_IMP : u < imp + 0.05 ? CLASS_EMER : CLASS_AMB;
		place(&c, e);
		if (e->cls == CLASS_AMB)
			e->labs = chance(&c.r, n_chronic ? 0.45 : 0.15);
	}
	if (c.has[GEN_A90]) {
		/* Dengue comes in the rainy season, June to November. */
		struct encounter *e = &enc[n++];
		int year = CARE_FIRST_YEAR + (int)gen_rng_below(&c.r, REF_Y - CARE_FIRST_YEAR + 1);
		double u = gen_rng_unit(&c.r);

		memset(e, 0, sizeof(*e));
		e->day = days_from_civil(year, 6 + (int)gen_rng_below(&c.r, 6), 1 + (int)gen_rng_below(&c.r, 28));
		if (e->day < birth + 30)
			e->day = birth + 30 <= ref ? birth + 30 : ref;
		e->cls = u < 0.55 ? CLASS_AMB : u < 0.9 ? CLASS_IMP : CLASS_EMER;
		place(&c, e);
		e->labs = 1;
		e->acute = GEN_A90;
	}
	if (c.has[GEN_A15]) {
		struct encounter *e = &enc[n++];

		memset(e, 0, sizeof(*e));
		e->day = first + (int64_t)gen_rng_below(&c.r, (uint64_t)(ref - first + 1));
		e->cls = CLASS_AMB;
		place(&c, e);
		e->facility = 13;	/* Bệnh viện Phạm Ngọc Thạch, the city's TB hospital */
		e->labs = 1;
		e->acute = GEN_A15;
	}
	n += plan_pregnancy(&c, enc + n, first, ref);
	qsort(enc, n, sizeof(enc[0]), cmp_encounter);
	for (unsigned i = 0; i < n; i++)
		snprintf(encounter_ids[i], sizeof(encounter_ids[i]), "gen-enc-%06zu-%02u", index + 1, i + 1);

	/* Chronic conditions are recorded at one of the earlier encounters,
	 * acute ones at their own; those treated get a regimen there,
	 * renewed at most later outpatient visits. */
	for (int k = 0; k < GEN_N_CONDITIONS; k++) {
		unsigned at = 0;

		cond_at[k] = -1;
		regimen[k] = -1;
		renewed[k] = 0;
		if (!c.has[k] || !n)
			continue;
		if (gen_conditions[k].chronic) {
			at = (unsigned)gen_rng_below(&c.r, n / 2 + 1);
		} else {
			while (at < n && enc[at].acute != k)
				at++;
		}
		if (at >= n)
			continue;
		cond_at[k] = (int)at;
		cond_no[k] = ++n_conditions;
		condition_id(&c, cond_no[k], cond_ids[k]);
		if (!chance(&c.r, gen_treated_per_100[k] / 100.0))
			continue;
		for (size_t i = 0, total = 0; i < gen_n_regimens; i++) {
			if (gen_regimens[i].condition != k)
				continue;
			total += gen_regimens[i].weight;
			if (gen_rng_below(&c.r, total) < gen_regimens[i].weight)
				regimen[k] = (int)i;	/* a weighted choice in one pass */
		}
		renewed[k] = 1ull << at;
		for (unsigned i = at + 1; gen_conditions[k].chronic && i < n; i++)
			if (enc[i].cls == CLASS_AMB && chance(&c.r, 0.7))
				renewed[k] |= 1ull << i;
	}

	if ((rc = emit_patient(&c)))
		return rc;
	for (int k = 0; k < GEN_N_ALLERGENS; k++)
		if (c.allergic[k] &&
		    (rc = emit_allergy(&c, k, ++n_allergies, n ? &enc[0] : NULL, encounter_ids[0])))
			return rc;
	for (unsigned i = 0; i < n; i++)
		if ((rc = emit_encounter(&c, &enc[i], encounter_ids[i])) ||
		    (rc = emit_observations(&c, &enc[i], encounter_ids[i])))
			return rc;
	for (int k = 0; k < GEN_N_CONDITIONS; k++)
		if (cond_at[k] >= 0 &&
		    (rc = emit_condition(&c, k, cond_no[k], &enc[cond_at[k]], encounter_ids[cond_at[k]])))
			return rc;
	/* Prescriptions, encounter by encounter: the chronic regimens due
	 * there (the last of each still active), then short courses. */
	for (unsigned i = 0; i < n; i++) {
		const struct encounter *e = &enc[i];
		int64_t age_days = e->day - birth;

		for (int k = 0; k < GEN_N_CONDITIONS; k++) {
			struct med_reason why = { cond_ids[k], NULL, NULL };
			int last;

			if (regimen[k] < 0 || !(renewed[k] >> i & 1))
				continue;
			last = i + 1 >= 64 || !(renewed[k] >> (i + 1));
			for (int d = 0; d < 3 && gen_regimens[regimen[k]].drug[d]; d++) {
				int drug = avoid_allergy(&c, gen_regimens[regimen[k]].drug[d], 0);
				int active = gen_drugs[drug].days ? e->day + gen_drugs[drug].days > ref : last;

				if ((rc = emit_medication(&c, drug, e, encounter_ids[i], active, &why)))
					return rc;
			}
		}
		if (e->acute == GEN_A90) {
			/* Dengue: paracetamol, never NSAIDs or antibiotics. */
			struct med_reason why = { cond_ids[GEN_A90], NULL, NULL };

			rc = acute_course(&c, e, encounter_ids[i], ref, 0.9, 0, &why);
		} else if (e->kind == ENC_ROUTINE && e->acute < 0 && age_days > 60) {
			static const struct med_reason uri = { NULL, "J06.9",
				"Nhiễm trùng đường hô hấp trên cấp" };
			int emer = e->cls == CLASS_EMER, acute = emer || chance(&c.r, 0.3);

			rc = acute ? acute_course(&c, e, encounter_ids[i], ref, 0.8, emer ? 0.35 : 0.45, &uri) : 0;
		}
		if (rc)
			return rc;
	}
	return emit_immunizations(&c);
}
