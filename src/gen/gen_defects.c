/*
 * gen_defects.c — imperfection on purpose (see gen_defects.h): the
 * catalogue of defects, the draw, and the mutations.
 *
 * A resource without a defect costs a hash of its id and one PRNG draw and
 * is passed on byte for byte. One with a defect is parsed with json-c,
 * changed, written back compact and reported in the sidecar; so is every
 * resource of a patient who has a duplicate (some of them move to it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "gen_defects.h"
#include "../base/buf.h"
#include "../base/json.h"

/* Encounters remembered per patient (the generator makes at most 40);
 * beyond this many an encounter's observations keep their subject and get
 * the facility "00000" in local code systems. */
#define DEFECTS_MAX_ENCOUNTERS 256
#define DEFECTS_MAX_LINE (1u << 20)	/* one resource or sidecar line */
#define LOCAL_SYSTEM "urn:lienthong:local:"

/* ---- the catalogue ---------------------------------------------------------- */

static const char *const kind_names[GEN_DEFECT_N_KINDS] = {
	[GEN_DEFECT_CCCD_MISSING] = "cccd-missing",
	[GEN_DEFECT_CCCD_MALFORMED] = "cccd-malformed",
	[GEN_DEFECT_DUPLICATE] = "duplicate",
	[GEN_DEFECT_STALE_PHONE] = "stale-phone",
	[GEN_DEFECT_STALE_ADDRESS] = "stale-address",
	[GEN_DEFECT_BIRTH_FUTURE] = "birth-date-future",
	[GEN_DEFECT_IN_PROGRESS] = "encounter-in-progress",
	[GEN_DEFECT_END_BEFORE_START] = "period-end-before-start",
	[GEN_DEFECT_LOCAL_CODE] = "local-code",
	[GEN_DEFECT_ONSET_FUTURE] = "onset-future",
	[GEN_DEFECT_IMPOSSIBLE_VALUE] = "impossible-value",
	[GEN_DEFECT_MOVED] = "duplicate-moved",
};

const char *gen_defect_kind_name(enum gen_defect_kind k)
{
	return (unsigned)k < GEN_DEFECT_N_KINDS ? kind_names[k] : "?";
}

/* A resource of `type` that is drawn (probability RATE) gets `kind` with
 * probability weight / (sum of its type's weights). Rough guesses at what
 * an HIE sees, not measurements; docs/synthetic-data.md has the table. */
static const struct catalogue_row {
	enum gen_type type;
	enum gen_defect_kind kind;
	unsigned weight;
} catalogue[] = {
	{ GEN_PATIENT, GEN_DEFECT_CCCD_MISSING, 15 },
	{ GEN_PATIENT, GEN_DEFECT_CCCD_MALFORMED, 25 },
	{ GEN_PATIENT, GEN_DEFECT_DUPLICATE, 30 },
	{ GEN_PATIENT, GEN_DEFECT_STALE_PHONE, 10 },
	{ GEN_PATIENT, GEN_DEFECT_STALE_ADDRESS, 10 },
	{ GEN_PATIENT, GEN_DEFECT_BIRTH_FUTURE, 10 },
	{ GEN_ENCOUNTER, GEN_DEFECT_IN_PROGRESS, 70 },
	{ GEN_ENCOUNTER, GEN_DEFECT_END_BEFORE_START, 30 },
	{ GEN_CONDITION, GEN_DEFECT_LOCAL_CODE, 80 },
	{ GEN_CONDITION, GEN_DEFECT_ONSET_FUTURE, 20 },
	{ GEN_OBSERVATION, GEN_DEFECT_LOCAL_CODE, 50 },
	{ GEN_OBSERVATION, GEN_DEFECT_IMPOSSIBLE_VALUE, 50 },
};
#define N_CATALOGUE (sizeof(catalogue) / sizeof(catalogue[0]))

/* Mobile prefixes renumbered on 15/09/2018 (11 → 10 digits): the new
 * 3-digit prefix and the old 4-digit one it replaced. */
static const char *const old_prefixes[][2] = {
	{ "032", "0162" }, { "033", "0163" }, { "034", "0164" }, { "035", "0165" },
	{ "036", "0166" }, { "037", "0167" }, { "038", "0168" }, { "039", "0169" },
	{ "070", "0120" }, { "079", "0121" }, { "077", "0122" }, { "076", "0126" },
	{ "078", "0128" }, { "083", "0123" }, { "084", "0124" }, { "085", "0125" },
	{ "081", "0127" }, { "082", "0129" }, { "056", "0186" }, { "058", "0188" },
	{ "059", "0199" },
};

/* HCMC's districts before the two-tier reform of 01/07/2025 (NQ
 * 202/2025/QH15), as addresses written before it still name them. */
static const char *const old_districts[] = {
	"Quận 1", "Quận 3", "Quận 4", "Quận 5", "Quận 6", "Quận 7", "Quận 8", "Quận 10",
	"Quận 11", "Quận 12", "Quận Bình Thạnh", "Quận Gò Vấp", "Quận Phú Nhuận",
	"Quận Tân Bình", "Quận Tân Phú", "Quận Bình Tân", "Thành phố Thủ Đức",
	"Huyện Bình Chánh", "Huyện Củ Chi", "Huyện Hóc Môn", "Huyện Nhà Bè", "Huyện Cần Giờ",
};

/* CCCD province codes that do not exist (the old provinces run 001-096). */
static const char *const bad_provinces[] = { "000", "097", "098", "099" };

/* How a facility's own system names a LOINC test or an ICD-10 diagnosis. */
static const char *const local_names[][2] = {
	{ "29463-7", "Cân nặng" }, { "8302-2", "Chiều cao" }, { "39156-5", "BMI" },
	{ "8867-4", "Mạch" }, { "85354-9", "Huyết áp" }, { "2345-7", "Glucose máu" },
	{ "4548-4", "HbA1c" }, { "2160-0", "Creatinin máu" },
	{ "2093-3", "Cholesterol toàn phần" }, { "1742-6", "ALT (GPT)" },
	{ "1920-8", "AST (GOT)" }, { "718-7", "Huyết sắc tố (Hb)" },
};

/* ---- state ------------------------------------------------------------------ */

struct seen_encounter {
	char id[64];
	char facility[16];	/* "79001", from serviceProvider */
	int moved;		/* now points at the duplicate */
};

struct gen_defects {
	uint64_t seed;
	double rate;
	gen_emit_fn emit;
	void *emit_arg;
	gen_defect_record_fn record;
	void *record_arg;
	struct gen_defects_stats st;
	/* The current patient. */
	char patient_id[64];
	char dup_id[64];	/* empty when the patient has no duplicate */
	struct seen_encounter enc[DEFECTS_MAX_ENCOUNTERS];
	size_t n_enc;
	struct buf out, line;
};

struct gen_defects *gen_defects_new(uint64_t seed, double rate, gen_emit_fn emit, void *emit_arg,
				    gen_defect_record_fn record, void *record_arg)
{
	struct gen_defects *d;

	if (!(rate >= 0 && rate <= 1) || !emit || !record || !(d = calloc(1, sizeof(*d))))
		return NULL;
	d->seed = seed;
	d->rate = rate;
	d->emit = emit;
	d->emit_arg = emit_arg;
	d->record = record;
	d->record_arg = record_arg;
	buf_init(&d->out, DEFECTS_MAX_LINE);
	buf_init(&d->line, DEFECTS_MAX_LINE);
	return d;
}

void gen_defects_free(struct gen_defects *d)
{
	if (!d)
		return;
	buf_release(&d->out);
	buf_release(&d->line);
	free(d);
}

const struct gen_defects_stats *gen_defects_stats(const struct gen_defects *d)
{
	return &d->st;
}

/* ---- small helpers ---------------------------------------------------------- */

static uint64_t fnv1a(const char *s, uint64_t h)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

/* The draws for one resource: a function of (seed, id, purpose) only. */
static void resource_rng(const struct gen_defects *d, const char *id, uint64_t purpose,
			 struct gen_rng *r)
{
	gen_rng_seed(r, fnv1a(id, 0xcbf29ce484222325ull) ^ (d->seed * 0x9e3779b97f4a7c15ull) ^
				purpose * 0xd1b54a32d192ed03ull);
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, &v)
		       ? v : NULL;
}

static struct json_object *at(struct json_object *a, size_t i)
{
	return a && json_object_is_type(a, json_type_array) && i < json_object_array_length(a)
		       ? json_object_array_get_idx(a, i) : NULL;
}

static const char *str(struct json_object *o)
{
	return o && json_object_is_type(o, json_type_string) ? json_object_get_string(o) : NULL;
}

static struct json_object *new_str(const char *s)
{
	return json_object_new_string(s);
}

/* A counted reference to v, to hand to the sidecar while v stays put. */
static struct json_object *ref(struct json_object *v)
{
	return json_object_get(v);
}

/* Finds needle in the n bytes at p (no NUL needed). */
static const char *find(const char *p, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = 0; k <= n && i <= n - k; i++)
		if (p[i] == needle[0] && !memcmp(p + i, needle, k))
			return p + i;
	return NULL;
}

/* The text of a number as the resource has it ("178.1", "72"). */
static const char *number_text(struct json_object *v)
{
	const char *t = json_object_get_userdata(v);

	return t ? t : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

static int decimals_of(const char *t)
{
	const char *dot = strchr(t, '.');

	return dot ? (int)strspn(dot + 1, "0123456789") : 0;
}

/* Drops Vietnamese diacritics: "Nguyễn Văn Ân" → "Nguyen Van An". Letters
 * outside the Vietnamese alphabet are copied as they are. */
static void strip_diacritics(const char *s, char *out, size_t cap)
{
	/* U+1EA0..U+1EF9, in pairs (capital, small), by base letter. */
	static const struct { unsigned lo, hi; char base; } extended[] = {
		{ 0x1EA0, 0x1EB7, 'A' }, { 0x1EB8, 0x1EC7, 'E' }, { 0x1EC8, 0x1ECB, 'I' },
		{ 0x1ECC, 0x1EE3, 'O' }, { 0x1EE4, 0x1EF1, 'U' }, { 0x1EF2, 0x1EF9, 'Y' },
	};
	/* U+00C0..U+00DD and U+0100..U+01B0 (capital letters; small = +0x20 or +1). */
	static const struct { unsigned cp; char base; } latin[] = {
		{ 0xC0, 'A' }, { 0xC1, 'A' }, { 0xC2, 'A' }, { 0xC3, 'A' }, { 0xC8, 'E' },
		{ 0xC9, 'E' }, { 0xCA, 'E' }, { 0xCC, 'I' }, { 0xCD, 'I' }, { 0xD2, 'O' },
		{ 0xD3, 'O' }, { 0xD4, 'O' }, { 0xD5, 'O' }, { 0xD9, 'U' }, { 0xDA, 'U' },
		{ 0xDD, 'Y' }, { 0x102, 'A' }, { 0x110, 'D' }, { 0x128, 'I' }, { 0x168, 'U' },
		{ 0x1A0, 'O' }, { 0x1AF, 'U' },
	};
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	while (*p && o + 1 < cap) {
		unsigned cp = *p, len = 1;
		char base = 0;

		if (cp >= 0xC0 && cp < 0xE0 && (p[1] & 0xC0) == 0x80) {
			cp = ((cp & 0x1F) << 6) | (p[1] & 0x3F);
			len = 2;
		} else if (cp >= 0xE0 && cp < 0xF0 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
			cp = ((cp & 0x0F) << 12) | ((unsigned)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
			len = 3;
		}
		if (len == 1) {
			out[o++] = (char)*p++;
			continue;
		}
		for (size_t i = 0; i < sizeof(extended) / sizeof(extended[0]) && !base; i++)
			if (cp >= extended[i].lo && cp <= extended[i].hi)
				base = (char)(extended[i].base + ((cp - extended[i].lo) & 1 ? 0x20 : 0));
		for (size_t i = 0; i < sizeof(latin) / sizeof(latin[0]) && !base; i++) {
			unsigned small = latin[i].cp < 0x100 ? latin[i].cp + 0x20 : latin[i].cp + 1;

			if (cp == latin[i].cp)
				base = latin[i].base;
			else if (cp == small)
				base = (char)(latin[i].base + 0x20);
		}
		if (cp >= 0x300 && cp <= 0x323) {	/* a combining mark: dropped */
			p += len;
			continue;
		}
		if (base) {
			out[o++] = base;
		} else {
			if (o + len >= cap)
				break;
			memcpy(out + o, p, len);
			o += len;
		}
		p += len;
	}
	out[o] = 0;
}

/* A typo: two adjacent ASCII letters swapped ("Huy" → "Hyu"); 0 when the
 * name has no such pair. */
static int swap_letters(struct gen_rng *r, const char *s, char *out, size_t cap)
{
	size_t n = strlen(s), pairs[64], k = 0;

	if (n + 1 > cap)
		return 0;
	memcpy(out, s, n + 1);
	for (size_t i = 0; i + 1 < n && k < 64; i++)
		if (((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z') &&
		    ((s[i + 1] | 0x20) >= 'a' && (s[i + 1] | 0x20) <= 'z') && s[i] != s[i + 1])
			pairs[k++] = i;
	if (!k)
		return 0;
	k = pairs[gen_rng_below(r, k)];
	out[k] = s[k + 1];
	out[k + 1] = s[k];
	if (k == 0) {	/* keep the capital first */
		out[0] = (char)(out[0] & ~0x20);
		out[1] = (char)(out[1] | 0x20);
	}
	return 1;
}

/* "2024-01-21..." with the year replaced: year + delta, or `year` if delta is 0. */
static void with_year(const char *date, int year, char *out, size_t cap)
{
	snprintf(out, cap, "%04d%s", year, strlen(date) >= 4 ? date + 4 : "");
	if (!strncmp(out + 4, "-02-29", 6))	/* not every year has one */
		out[9] = '8';
}

/* ---- the sidecar ------------------------------------------------------------ */

struct line {
	enum gen_defect_kind kind;
	const char *type, *id, *path;
	struct json_object *original, *value;	/* taken; original NULL = none */
	const char *variant, *duplicate_of;
};

static int record(struct gen_defects *d, struct line *l)
{
	struct json_object *o = json_object_new_object();
	int rc;

	json_object_object_add(o, "kind", new_str(kind_names[l->kind]));
	json_object_object_add(o, "resourceType", new_str(l->type));
	json_object_object_add(o, "id", new_str(l->id));
	json_object_object_add(o, "path", new_str(l->path));
	if (l->original)
		json_object_object_add(o, "original", l->original);
	json_object_object_add(o, "value", l->value);
	if (l->variant)
		json_object_object_add(o, "variant", new_str(l->variant));
	if (l->duplicate_of)
		json_object_object_add(o, "duplicateOf", new_str(l->duplicate_of));
	buf_clear(&d->line);
	rc = json_write(&d->line, o, 0);
	json_object_put(o);
	if (rc)
		return rc;
	d->st.kind[l->kind]++;
	d->st.lines++;
	return d->record(d->record_arg, d->line.p, d->line.n);
}

/* ---- Patient ---------------------------------------------------------------- */

/* The index of the CCCD identifier, or -1. */
static int cccd_index(struct json_object *res)
{
	struct json_object *ids = get(res, "identifier");

	for (size_t i = 0; at(ids, i); i++) {
		const char *sys = str(get(at(ids, i), "system"));

		if (sys && !strcmp(sys, GEN_SID_CCCD) && str(get(at(ids, i), "value")))
			return (int)i;
	}
	return -1;
}

static void remove_identifier(struct json_object *res, int i)
{
	struct json_object *ids = get(res, "identifier");

	json_object_array_del_idx(ids, (size_t)i, 1);
	if (!json_object_array_length(ids))	/* FHIR has no empty arrays */
		json_object_object_del(res, "identifier");
}

static int cccd_missing(struct gen_defects *d, const char *id, struct json_object *res, int *applied)
{
	int i = cccd_index(res);
	char path[32];
	struct line l = { GEN_DEFECT_CCCD_MISSING, "Patient", id, path, NULL, NULL, NULL, NULL };

	if (i < 0)
		return 0;
	snprintf(path, sizeof(path), "identifier[%d]", i);
	l.original = ref(get(at(get(res, "identifier"), (size_t)i), "value"));
	remove_identifier(res, i);
	*applied = 1;
	return record(d, &l);
}

static int cccd_malformed(struct gen_defects *d, struct gen_rng *r, const char *id,
			  struct json_object *res, int *applied)
{
	static const char *const variants[] = { "11-digits", "13-digits", "letter", "wrong-province",
						"old-cmnd" };
	int i = cccd_index(res);
	struct json_object *ident;
	char path[40], v[32];
	const char *cccd;
	size_t n, pos, which = gen_rng_below(r, 5);
	struct line l = { GEN_DEFECT_CCCD_MALFORMED, "Patient", id, path, NULL, NULL, variants[which], NULL };

	if (i < 0)
		return 0;
	ident = at(get(res, "identifier"), (size_t)i);
	cccd = str(get(ident, "value"));
	n = strlen(cccd);
	if (n + 2 > sizeof(v))
		return 0;
	pos = n ? (size_t)gen_rng_below(r, n) : 0;
	switch (which) {
	case 0:	/* a digit lost */
		memcpy(v, cccd, pos);
		memcpy(v + pos, cccd + pos + (n > 0), n - pos - (n > 0) + 1);
		break;
	case 1:	/* a digit typed twice */
		memcpy(v, cccd, pos);
		v[pos] = n ? cccd[pos] : '0';
		memcpy(v + pos + 1, cccd + pos, n - pos + 1);
		break;
	case 2:	/* a letter for a digit: O for 0, I for 1, else any */
		memcpy(v, cccd, n + 1);
		if (n)
			v[pos] = cccd[pos] == '0' ? 'O' : cccd[pos] == '1' ? 'I'
						  : (char)('A' + gen_rng_below(r, 26));
		break;
	case 3:
		snprintf(v, sizeof(v), "%s%s", bad_provinces[gen_rng_below(r, 4)], n > 3 ? cccd + 3 : "");
		break;
	default:	/* the old 9-digit CMND (HCMC's began 02) in the CCCD slot */
		snprintf(v, sizeof(v), "02%07u", (unsigned)gen_rng_below(r, 10000000));
		break;
	}
	snprintf(path, sizeof(path), "identifier[%d].value", i);
	l.original = new_str(cccd);
	l.value = new_str(v);
	json_object_object_add(ident, "value", new_str(v));
	*applied = 1;
	return record(d, &l);
}

static int stale_phone(struct gen_defects *d, struct gen_rng *r, const char *id,
		       struct json_object *res, int *applied)
{
	struct json_object *tel = at(get(res, "telecom"), 0);
	const char *phone = str(get(tel, "value")), *old = NULL;
	char v[32];
	struct line l = { GEN_DEFECT_STALE_PHONE, "Patient", id, "telecom[0].value", NULL, NULL, NULL, NULL };
	size_t n_old = sizeof(old_prefixes) / sizeof(old_prefixes[0]);

	if (!phone || strlen(phone) != 10)
		return 0;
	for (size_t i = 0; i < n_old && !old; i++)
		if (!strncmp(phone, old_prefixes[i][0], 3))
			old = old_prefixes[i][1];
	/* A prefix that was always 10 digits: the number the person had before. */
	l.variant = old ? "pre-2018-form" : "pre-2018-number";
	if (!old)
		old = old_prefixes[gen_rng_below(r, n_old)][1];
	snprintf(v, sizeof(v), "%s%s", old, phone + 3);
	l.original = new_str(phone);
	l.value = new_str(v);
	json_object_object_add(tel, "value", new_str(v));
	*applied = 1;
	return record(d, &l);
}

static int stale_address(struct gen_defects *d, struct gen_rng *r, const char *id,
			 struct json_object *res, int *applied)
{
	struct json_object *addr = at(get(res, "address"), 0), *period;
	const char *ward = str(get(addr, "district")), *line = str(at(get(addr, "line"), 0));
	const char *city = str(get(addr, "city"));
	const char *old = old_districts[gen_rng_below(r, sizeof(old_districts) / sizeof(old_districts[0]))];
	char text[512], start[32];
	struct line l = { GEN_DEFECT_STALE_ADDRESS, "Patient", id, "address[0].district", NULL, NULL,
			  NULL, NULL };

	if (!addr || !ward)
		return 0;
	snprintf(start, sizeof(start), "%04d-%02d-01", 2005 + (int)gen_rng_below(r, 11),
		 1 + (int)gen_rng_below(r, 12));
	snprintf(text, sizeof(text), "%s%s%s, %s", line ? line : "", line ? ", " : "", old,
		 city ? city : "Thành phố Hồ Chí Minh");
	l.original = new_str(ward);
	l.value = new_str(old);
	json_object_object_add(addr, "text", new_str(text));
	json_object_object_add(addr, "district", new_str(old));
	json_object_object_del(addr, "extension");	/* no 2025 ward code before 2025 */
	period = json_object_new_object();
	json_object_object_add(period, "start", new_str(start));
	json_object_object_add(addr, "period", period);
	*applied = 1;
	return record(d, &l);
}

static int birth_future(struct gen_defects *d, struct gen_rng *r, const char *id,
			struct json_object *res, int *applied)
{
	const char *birth = str(get(res, "birthDate"));
	char v[32];
	struct line l = { GEN_DEFECT_BIRTH_FUTURE, "Patient", id, "birthDate", NULL, NULL, NULL, NULL };

	if (!birth || strlen(birth) < 4)
		return 0;
	with_year(birth, 2030 + (int)gen_rng_below(r, 10), v, sizeof(v));
	l.original = new_str(birth);
	l.value = new_str(v);
	json_object_object_add(res, "birthDate", new_str(v));
	*applied = 1;
	return record(d, &l);
}

/* An opaque id for the duplicate: 9 digits, a bijection of the patient
 * number (so never two alike), apart from the patients' own ids, which
 * have at most 8 (GEN_MAX_PATIENTS). */
_Static_assert(GEN_MAX_PATIENTS <= 99999999, "a duplicate's 9 digits are not a patient's number");
static void duplicate_id(const struct gen_defects *d, const char *id, char *out, size_t cap)
{
	const char *digits = strrchr(id, '-');
	uint64_t k = digits ? strtoull(digits + 1, NULL, 10) : fnv1a(id, 0);

	snprintf(out, cap, "gen-pat-%09llu",
		 (unsigned long long)((k % 1000000000ull * 48271ull + d->seed % 1000000000ull) %
				      1000000000ull));
}

/* The same person registered again at another facility: spelling
 * variants, maybe another phone, maybe without the CCCD. */
static int duplicate(struct gen_defects *d, struct gen_rng *r, const char *id,
		     struct json_object *res, struct json_object **dup_out, int *applied)
{
	static const char *const variants[] = { "no-diacritics", "given-middle-swapped", "typo" };
	struct json_object *dup = NULL, *name, *given;
	const char *family, *middle, *first, *text;
	char f2[128], m2[128], g2[128], full[400], variant[96], phone[32];
	size_t which = gen_rng_below(r, 3);
	int cccd;
	struct line l = { GEN_DEFECT_DUPLICATE, "Patient", NULL, "name[0].text", NULL, NULL, variant, id };

	name = at(get(res, "name"), 0);
	given = get(name, "given");
	family = str(get(name, "family"));
	middle = str(at(given, 0));
	first = str(at(given, 1));
	text = str(get(name, "text"));
	if (!family || !middle || !first || !text || json_object_deep_copy(res, &dup, NULL))
		return 0;
	duplicate_id(d, id, d->dup_id, sizeof(d->dup_id));
	json_object_object_add(dup, "id", new_str(d->dup_id));
	snprintf(f2, sizeof(f2), "%s", family);
	snprintf(m2, sizeof(m2), "%s", middle);
	snprintf(g2, sizeof(g2), "%s", first);
	if (which == 2 && !swap_letters(r, first, g2, sizeof(g2)))
		which = 0;
	if (which == 0) {
		strip_diacritics(family, f2, sizeof(f2));
		strip_diacritics(middle, m2, sizeof(m2));
		strip_diacritics(first, g2, sizeof(g2));
	}
	if (which == 1)
		snprintf(full, sizeof(full), "%s %s %s", f2, g2, m2);
	else
		snprintf(full, sizeof(full), "%s %s %s", f2, m2, g2);
	name = at(get(dup, "name"), 0);
	given = json_object_new_array();
	json_object_array_add(given, new_str(which == 1 ? g2 : m2));
	json_object_array_add(given, new_str(which == 1 ? m2 : g2));
	json_object_object_add(name, "text", new_str(full));
	json_object_object_add(name, "family", new_str(f2));
	json_object_object_add(name, "given", given);
	snprintf(variant, sizeof(variant), "%s", variants[which]);
	if (gen_rng_unit(r) < 0.3) {	/* another phone */
		struct json_object *tel = at(get(dup, "telecom"), 0);
		const char *p = str(get(tel, "value"));

		if (p && strlen(p) == 10) {
			snprintf(phone, sizeof(phone), "%.3s%07u", p, (unsigned)gen_rng_below(r, 10000000));
			json_object_object_add(tel, "value", new_str(phone));
			strncat(variant, ",new-phone", sizeof(variant) - strlen(variant) - 1);
		}
	}
	if (gen_rng_unit(r) < 0.5 && (cccd = cccd_index(dup)) >= 0) {	/* not asked for it */
		remove_identifier(dup, cccd);
		strncat(variant, ",no-cccd", sizeof(variant) - strlen(variant) - 1);
	}
	l.id = d->dup_id;
	l.original = new_str(text);
	l.value = new_str(full);
	*dup_out = dup;
	*applied = 1;
	return record(d, &l);
}

/* ---- Encounter, Condition, Observation ------------------------------------------ */

static struct seen_encounter *find_encounter(struct gen_defects *d, const char *reference)
{
	if (!reference || strncmp(reference, "Encounter/", 10))
		return NULL;
	for (size_t i = d->n_enc; i-- > 0;)
		if (!strcmp(d->enc[i].id, reference + 10))
			return &d->enc[i];
	return NULL;
}

/* Remembers an encounter and its facility, from the text (no parse). */
static void track_encounter(struct gen_defects *d, const char *id, const char *json, size_t n)
{
	struct seen_encounter *e;
	const char *sp = find(json, n, "\"serviceProvider\""), *org;
	size_t k = 0;

	if (d->n_enc == DEFECTS_MAX_ENCOUNTERS || strlen(id) >= sizeof(e->id))
		return;
	e = &d->enc[d->n_enc++];
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->moved = 0;
	snprintf(e->facility, sizeof(e->facility), "00000");
	if (sp && (org = find(sp, n - (size_t)(sp - json), "Organization/"))) {
		org += 13;
		if (!strncmp(org, "gen-org-", 8))
			org += 8;
		while (org + k < json + n && k + 1 < sizeof(e->facility) && org[k] != '"')
			k++;
		if (k) {
			memcpy(e->facility, org, k);
			e->facility[k] = 0;
		}
	}
}

static int in_progress(struct gen_defects *d, const char *id, struct json_object *res, int *applied)
{
	struct json_object *period = get(res, "period");
	const char *status = str(get(res, "status"));
	struct line l = { GEN_DEFECT_IN_PROGRESS, "Encounter", id, "status", NULL, NULL, NULL, NULL };

	if (!status)
		return 0;
	l.original = new_str(status);
	l.value = new_str("in-progress");
	if (get(period, "end")) {
		json_object_object_del(period, "end");
		l.variant = "no-period-end";
	}
	json_object_object_add(res, "status", new_str("in-progress"));
	*applied = 1;
	return record(d, &l);
}

static int end_before_start(struct gen_defects *d, const char *id, struct json_object *res, int *applied)
{
	struct json_object *period = get(res, "period");
	const char *start = str(get(period, "start")), *end = str(get(period, "end"));
	char v[64];
	struct line l = { GEN_DEFECT_END_BEFORE_START, "Encounter", id, "period.end", NULL, NULL, NULL, NULL };

	if (!start || !end || strlen(start) < 4 || strlen(start) >= sizeof(v))
		return 0;
	with_year(start, atoi(start) - 1, v, sizeof(v));
	l.original = new_str(end);
	l.value = new_str(v);
	json_object_object_add(period, "end", new_str(v));
	*applied = 1;
	return record(d, &l);
}

static int onset_future(struct gen_defects *d, struct gen_rng *r, const char *id,
			struct json_object *res, int *applied)
{
	const char *onset = str(get(res, "onsetDateTime"));
	char v[64];
	struct line l = { GEN_DEFECT_ONSET_FUTURE, "Condition", id, "onsetDateTime", NULL, NULL, NULL, NULL };

	if (!onset || strlen(onset) < 4 || strlen(onset) >= sizeof(v))
		return 0;
	with_year(onset, 2030 + (int)gen_rng_below(r, 10), v, sizeof(v));
	l.original = new_str(onset);
	l.value = new_str(v);
	json_object_object_add(res, "onsetDateTime", new_str(v));
	*applied = 1;
	return record(d, &l);
}

/* The facility's own code for the test or diagnosis, instead of LOINC or
 * ICD-10: system urn:lienthong:local:<facility>:lab|vs|dx. */
static int local_code(struct gen_defects *d, enum gen_type type, const char *id,
		      struct json_object *res, int *applied)
{
	struct json_object *code = get(res, "code"), *coding = at(get(code, "coding"), 0), *local;
	const char *sys = str(get(coding, "system")), *value = str(get(coding, "code"));
	const char *display = str(get(coding, "display")), *cat, *kind, *prefix;
	struct seen_encounter *e = find_encounter(d, str(get(get(res, "encounter"), "reference")));
	const char *facility = e ? e->facility : "00000";
	char system[96], local_value[16];
	struct line l = { GEN_DEFECT_LOCAL_CODE, gen_type_name(type), id, "code.coding[0]", NULL, NULL,
			  NULL, NULL };

	if (!coding || !sys || !value)
		return 0;
	cat = str(get(at(get(at(get(res, "category"), 0), "coding"), 0), "code"));
	if (type == GEN_CONDITION) {
		kind = "dx";
		prefix = "BL";	/* bệnh lý */
	} else if (cat && !strcmp(cat, "laboratory")) {
		kind = "lab";
		prefix = "XN";	/* xét nghiệm */
	} else {
		kind = "vs";
		prefix = "ST";	/* sinh tồn */
	}
	for (size_t i = 0; type == GEN_OBSERVATION && i < sizeof(local_names) / sizeof(local_names[0]); i++)
		if (!strcmp(value, local_names[i][0]))
			display = local_names[i][1];
	snprintf(system, sizeof(system), LOCAL_SYSTEM "%s:%s", facility, kind);
	/* The same facility gives the same test the same code. */
	snprintf(local_value, sizeof(local_value), "%s%04u", prefix,
		 (unsigned)(fnv1a(value, fnv1a(facility, 0xcbf29ce484222325ull)) % 10000));
	local = json_object_new_object();
	json_object_object_add(local, "system", new_str(system));
	json_object_object_add(local, "code", new_str(local_value));
	if (display)
		json_object_object_add(local, "display", new_str(display));
	l.original = ref(coding);
	l.value = ref(local);
	json_object_array_put_idx(get(code, "coding"), 0, local);
	*applied = 1;
	return record(d, &l);
}

/* A number no body or laboratory gives: a height over 3 m (ten times the real one),
 * a heart rate ten times too fast, a negative measurement, or a blood
 * pressure whose diastolic is above its systolic. */
static int impossible_value(struct gen_defects *d, const char *id, struct json_object *res, int *applied)
{
	struct json_object *vq = get(res, "valueQuantity"), *v = get(vq, "value");
	const char *loinc = str(get(at(get(get(res, "code"), "coding"), 0), "code"));
	struct json_object *comp = get(res, "component");
	struct json_object *q0 = get(at(comp, 0), "valueQuantity"), *q1 = get(at(comp, 1), "valueQuantity");
	struct json_object *v0 = get(q0, "value"), *v1 = get(q1, "value"), *pair;
	char text[64];
	const char *t;
	double x;
	struct line l = { GEN_DEFECT_IMPOSSIBLE_VALUE, "Observation", id, "valueQuantity.value", NULL,
			  NULL, NULL, NULL };

	if (!vq && v0 && v1 && json_object_get_double(v0) > json_object_get_double(v1)) {
		l.path = "component.valueQuantity.value";
		l.variant = "diastolic-above-systolic";
		pair = json_object_new_array();
		json_object_array_add(pair, ref(v0));
		json_object_array_add(pair, ref(v1));
		l.original = pair;
		pair = json_object_new_array();
		json_object_array_add(pair, ref(v1));
		json_object_array_add(pair, ref(v0));
		l.value = pair;
		json_object_get(v0);
		json_object_object_add(q0, "value", ref(v1));
		json_object_object_add(q1, "value", v0);
		*applied = 1;
		return record(d, &l);
	}
	if (!v || !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
		return 0;
	t = number_text(v);
	x = json_object_get_double(v);
	if (loinc && (!strcmp(loinc, "8302-2") || !strcmp(loinc, "8867-4"))) {
		/* Ten times (a newborn's 50 cm a hundred times): over 3 m, over 300/min. */
		l.variant = !strcmp(loinc, "8302-2") ? "height-over-3-m" : "heart-rate-times-10";
		x *= x < 30 ? 100 : 10;
		snprintf(text, sizeof(text), "%.*f", decimals_of(t), x);
	} else {
		l.variant = "negative";
		x = -x;
		snprintf(text, sizeof(text), "%s%s", t[0] == '-' ? "" : "-", t[0] == '-' ? t + 1 : t);
	}
	l.original = ref(v);
	l.value = json_object_new_double_s(x, text);
	json_object_object_add(vq, "value", json_object_new_double_s(x, text));
	*applied = 1;
	return record(d, &l);
}

/* A resource of a duplicated patient: encounters move to the duplicate
 * with probability 1/2 (as if recorded at the other facility), and their
 * conditions and observations with them. */
static int move_to_duplicate(struct gen_defects *d, enum gen_type type, const char *id,
			     struct json_object *res, int *changed)
{
	struct json_object *subject = get(res, "subject");
	const char *was = str(get(subject, "reference"));
	struct seen_encounter *e;
	char to[96];
	struct gen_rng r;
	struct line l = { GEN_DEFECT_MOVED, gen_type_name(type), id, "subject.reference", NULL, NULL,
			  NULL, d->patient_id };

	if (!was)
		return 0;
	if (type == GEN_ENCOUNTER) {
		e = d->n_enc && !strcmp(d->enc[d->n_enc - 1].id, id) ? &d->enc[d->n_enc - 1] : NULL;
		resource_rng(d, id, 2, &r);
		if (!e || gen_rng_unit(&r) >= 0.5)
			return 0;
		e->moved = 1;
	} else {
		e = find_encounter(d, str(get(get(res, "encounter"), "reference")));
		if (!e || !e->moved)
			return 0;
	}
	snprintf(to, sizeof(to), "Patient/%s", d->dup_id);
	l.original = new_str(was);
	l.value = new_str(to);
	json_object_object_add(subject, "reference", new_str(to));
	*changed = 1;
	return record(d, &l);
}

/* ---- the filter ------------------------------------------------------------- */

static enum gen_defect_kind draw(const struct gen_defects *d, enum gen_type type, const char *id,
				 struct gen_rng *r)
{
	unsigned total = 0, pick;

	resource_rng(d, id, 1, r);
	if (gen_rng_unit(r) >= d->rate)
		return GEN_DEFECT_N_KINDS;
	for (size_t i = 0; i < N_CATALOGUE; i++)
		total += catalogue[i].type == type ? catalogue[i].weight : 0;
	if (!total)
		return GEN_DEFECT_N_KINDS;
	pick = (unsigned)gen_rng_below(r, total);
	for (size_t i = 0; i < N_CATALOGUE; i++) {
		if (catalogue[i].type != type)
			continue;
		if (pick < catalogue[i].weight)
			return catalogue[i].kind;
		pick -= catalogue[i].weight;
	}
	return GEN_DEFECT_N_KINDS;
}

static int apply(struct gen_defects *d, enum gen_defect_kind kind, enum gen_type type, const char *id,
		 struct json_object *res, struct gen_rng *r, struct json_object **dup, int *applied)
{
	switch (kind) {
	case GEN_DEFECT_CCCD_MISSING:
		return cccd_missing(d, id, res, applied);
	case GEN_DEFECT_CCCD_MALFORMED:
		return cccd_malformed(d, r, id, res, applied);
	case GEN_DEFECT_DUPLICATE:
		return duplicate(d, r, id, res, dup, applied);
	case GEN_DEFECT_STALE_PHONE:
		return stale_phone(d, r, id, res, applied);
	case GEN_DEFECT_STALE_ADDRESS:
		return stale_address(d, r, id, res, applied);
	case GEN_DEFECT_BIRTH_FUTURE:
		return birth_future(d, r, id, res, applied);
	case GEN_DEFECT_IN_PROGRESS:
		return in_progress(d, id, res, applied);
	case GEN_DEFECT_END_BEFORE_START:
		return end_before_start(d, id, res, applied);
	case GEN_DEFECT_LOCAL_CODE:
		return local_code(d, type, id, res, applied);
	case GEN_DEFECT_ONSET_FUTURE:
		return onset_future(d, r, id, res, applied);
	case GEN_DEFECT_IMPOSSIBLE_VALUE:
		return impossible_value(d, id, res, applied);
	default:
		return 0;
	}
}

static int emit_object(struct gen_defects *d, enum gen_type type, const char *id, struct json_object *o)
{
	int rc;

	buf_clear(&d->out);
	if ((rc = json_write(&d->out, o, 0)))
		return rc;
	return d->emit(d->emit_arg, type, id, d->out.p, d->out.n);
}

int gen_defects_emit(void *arg, enum gen_type type, const char *id, const char *json, size_t n)
{
	struct gen_defects *d = arg;
	enum gen_defect_kind kind = GEN_DEFECT_N_KINDS;
	struct json_object *o = NULL, *dup = NULL;
	struct err e = { 0 };
	struct gen_rng r;
	int rc = 0, applied = 0, changed = 0, moving;

	if ((unsigned)type < GEN_N_TYPES)
		d->st.seen[type]++;
	if (type != GEN_PATIENT && type != GEN_ENCOUNTER && type != GEN_CONDITION &&
	    type != GEN_OBSERVATION)
		return d->emit(d->emit_arg, type, id, json, n);
	if (type == GEN_PATIENT) {
		snprintf(d->patient_id, sizeof(d->patient_id), "%s", id);
		d->dup_id[0] = 0;
		d->n_enc = 0;
	} else if (type == GEN_ENCOUNTER) {
		track_encounter(d, id, json, n);
	}
	if (d->rate > 0)
		kind = draw(d, type, id, &r);
	moving = type != GEN_PATIENT && d->dup_id[0];
	if (kind == GEN_DEFECT_N_KINDS && !moving)
		return d->emit(d->emit_arg, type, id, json, n);

	if ((rc = json_parse(json, n, JSON_DEFAULT_MAX_DEPTH, &o, &e)))
		return rc;
	if (kind != GEN_DEFECT_N_KINDS && !(rc = apply(d, kind, type, id, o, &r, &dup, &applied)) && applied)
		d->st.defective[type]++;
	changed = applied && kind != GEN_DEFECT_DUPLICATE;	/* the original stays as it was */
	if (!rc && moving)
		rc = move_to_duplicate(d, type, id, o, &changed);
	if (!rc)
		rc = changed ? emit_object(d, type, id, o) : d->emit(d->emit_arg, type, id, json, n);
	if (!rc && dup)
		rc = emit_object(d, GEN_PATIENT, d->dup_id, dup);
	json_object_put(o);
	json_object_put(dup);
	return rc;
}
