/*
 * map_types.c — HL7 v2 data types → FHIR R4 data types, after the v2-to-FHIR
 * implementation guide's data type maps (TS/DTM, NM, CWE, CX, XPN, XAD, XTN,
 * XCN). Values that the maps read come out trimmed, with the HL7 null ("")
 * read as absent: a PUT replaces the whole resource, so "delete this value"
 * and "no value" end the same way.
 */
#include "map_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/time.h"

#define V2_TABLE "http://terminology.hl7.org/CodeSystem/v2-"
#define UCUM "http://unitsofmeasure.org"

/* ---- JSON ----------------------------------------------------------------- */

void jset(json_object *o, const char *k, json_object *v)
{
	if (v)
		json_object_object_add(o, k, v);
}

void jstr(json_object *o, const char *k, const char *v)
{
	if (v)
		json_object_object_add(o, k, json_object_new_string(v));
}

void jpush(json_object *o, const char *k, json_object *v)
{
	json_object *arr;

	if (!v)
		return;
	if (!json_object_object_get_ex(o, k, &arr)) {
		arr = json_object_new_array();
		json_object_object_add(o, k, arr);
	}
	json_object_array_add(arr, v);
}

json_object *jref(const char *urn)
{
	json_object *r;

	if (!urn || !*urn)
		return NULL;
	r = json_object_new_object();
	jstr(r, "reference", urn);
	return r;
}

json_object *map_display_ref(const char *type, const char *display)
{
	json_object *r;

	if (!display)
		return NULL;
	r = json_object_new_object();
	jstr(r, "type", type);
	jstr(r, "display", display);
	return r;
}

/* ---- reading values ------------------------------------------------------- */

const char *v2_str(struct map *mp, long seg, int f, int r, int c, int s)
{
	struct hl7v2_str v;
	const char *p;
	size_t n;

	if (seg < 0)
		return NULL;
	v = hl7v2_get(mp->m, (size_t)seg, f, r, c, s);
	p = v.p;
	n = v.n;
	if (!p)
		return NULL;
	while (n && isspace((unsigned char)*p))
		p++, n--;
	while (n && isspace((unsigned char)p[n - 1]))
		n--;
	if (!n || (n == 2 && p[0] == '"' && p[1] == '"'))
		return NULL;
	return arena_strndup(&mp->a, p, n);
}

int v2_reps(struct map *mp, long seg, int f)
{
	return seg < 0 ? 0 : hl7v2_reps(mp->m, (size_t)seg, f);
}

long v2_next(struct map *mp, const char *name, long from)
{
	return hl7v2_find(mp->m, name, (size_t)(from + 1));
}

int v2_is(struct map *mp, long seg, const char *name)
{
	return seg >= 0 && (size_t)seg < hl7v2_segments(mp->m) &&
	       !strcmp(hl7v2_segment_name(mp->m, (size_t)seg), name);
}

/* ---- dates and times ------------------------------------------------------ */

int v2_datetime(struct map *mp, const char *s, int date_only, char *out, size_t n, int *has_time)
{
	size_t digits = strspn(s, "0123456789"), k;
	const char *p = s + digits, *frac = NULL, *tz = NULL;
	size_t nfrac = 0;
	int len;

	if (has_time)
		*has_time = 0;
	if (digits != 4 && digits != 6 && digits != 8 && digits != 10 && digits != 12 &&
	    digits != 14)
		return -1;
	if (*p == '.' && digits == 14) {
		frac = ++p;
		nfrac = strspn(p, "0123456789");
		if (!nfrac)
			return -1;
		p += nfrac;
	}
	if (*p == '+' || *p == '-') {
		if (strlen(p) != 5 || strspn(p + 1, "0123456789") != 4)
			return -1;
		tz = p;
	} else if (*p) {
		return -1;
	}
	len = snprintf(out, n, "%.4s", s);
	if (digits >= 6)
		len += snprintf(out + len, n - (size_t)len, "-%.2s", s + 4);
	if (digits >= 8)
		len += snprintf(out + len, n - (size_t)len, "-%.2s", s + 6);
	if (digits >= 10 && !date_only) {
		if (digits == 10)
			len += snprintf(out + len, n - (size_t)len, "T%.2s:00:00", s + 8);
		else if (digits == 12)
			len += snprintf(out + len, n - (size_t)len, "T%.2s:%.2s:00", s + 8, s + 10);
		else
			len += snprintf(out + len, n - (size_t)len, "T%.2s:%.2s:%.2s", s + 8,
					s + 10, s + 12);
		if (frac)
			len += snprintf(out + len, n - (size_t)len, ".%.*s", (int)nfrac, frac);
		if (tz)
			len += snprintf(out + len, n - (size_t)len, "%c%.2s:%.2s", tz[0], tz + 1,
					tz + 3);
		else
			len += snprintf(out + len, n - (size_t)len, "%s", mp->tz);
		if (has_time)
			*has_time = 1;
	}
	k = (size_t)len;
	if (k >= n)
		return -1;
	return time_parse_fhir(out, k, TIME_DATETIME, NULL, NULL) ? -1 : 0;
}

static int datetime_field(struct map *mp, long seg, int f, int c, int date_only, int instant,
			  const char **out)
{
	const char *s = v2_str(mp, seg, f, 0, c, c ? 1 : 0);
	char buf[64];
	int has_time;

	*out = NULL;
	if (!s)
		return 0;
	if (v2_datetime(mp, s, date_only, buf, sizeof(buf), &has_time))
		return map_fail(mp, ERR_INVALID, seg, f, c, 102,
				"%s-%d: '%.40s' is not a valid %s (YYYY[MM[DD%s]])",
				hl7v2_segment_name(mp->m, (size_t)seg), f, s,
				date_only ? "date" : "date/time",
				date_only ? "" : "[HH[MM[SS[.S]]]]][+/-ZZZZ");
	if (!instant || has_time)
		*out = arena_strndup(&mp->a, buf, strlen(buf));
	return 0;
}

int map_datetime(struct map *mp, long seg, int f, int c, int date_only, const char **out)
{
	return datetime_field(mp, seg, f, c, date_only, 0, out);
}

int map_instant(struct map *mp, long seg, int f, int c, const char **out)
{
	return datetime_field(mp, seg, f, c, 0, 1, out);
}

/* ---- numbers -------------------------------------------------------------- */

const char *v2_decimal(struct map *mp, const char *s)
{
	const char *p = s, *int_start, *frac = NULL;
	size_t nint, nfrac = 0;
	int neg = 0;
	char *out;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	int_start = p;
	nint = strspn(p, "0123456789");
	p += nint;
	if (*p == '.') {
		frac = ++p;
		nfrac = strspn(p, "0123456789");
		p += nfrac;
	}
	if (*p || (!nint && !nfrac))
		return NULL;
	while (nint > 1 && *int_start == '0')	/* FHIR decimals have no leading zeros */
		int_start++, nint--;
	out = arena_alloc(&mp->a, nint + nfrac + 4);
	if (!out)
		return NULL;
	snprintf(out, nint + nfrac + 4, "%s%.*s%s%.*s", neg ? "-" : "", (int)(nint ? nint : 1),
		 nint ? int_start : "0", nfrac ? "." : "", (int)nfrac, frac ? frac : "");
	return out;
}

json_object *json_decimal(const char *text)
{
	return json_object_new_double_s(strtod(text, NULL), text);
}

/* ---- codes ---------------------------------------------------------------- */

/* Table 0396 names (and common variants) → FHIR system URIs. */
static const struct {
	const char *name, *uri;
} code_systems[] = {
	{ "LN", "http://loinc.org" },
	{ "LOINC", "http://loinc.org" },
	{ "SCT", "http://snomed.info/sct" },
	{ "SNM", "http://snomed.info/sct" },
	{ "SNOMED", "http://snomed.info/sct" },
	{ "SNOMEDCT", "http://snomed.info/sct" },
	{ "I10", "http://hl7.org/fhir/sid/icd-10" },
	{ "ICD10", "http://hl7.org/fhir/sid/icd-10" },
	{ "I10C", "http://hl7.org/fhir/sid/icd-10-cm" },
	{ "I9C", "http://hl7.org/fhir/sid/icd-9-cm" },
	{ "I9CDX", "http://hl7.org/fhir/sid/icd-9-cm" },
	{ "UCUM", UCUM },
	{ "C4", "http://www.ama-assn.org/go/cpt" },
	{ "CPT", "http://www.ama-assn.org/go/cpt" },
	{ "RXNORM", "http://www.nlm.nih.gov/research/umls/rxnorm" },
	{ "RXN", "http://www.nlm.nih.gov/research/umls/rxnorm" },
	{ "NDC", "http://hl7.org/fhir/sid/ndc" },
	{ "CVX", "http://hl7.org/fhir/sid/cvx" },
	{ "ISO3166_1", "urn:iso:std:iso:3166" },
	{ "ISO+", UCUM },
};

static int is_local_system(const char *name)
{
	return !strcmp(name, "L") || !strcmp(name, "LOCAL") || !strncmp(name, "99", 2);
}

const char *map_code_system(struct map *mp, const char *name)
{
	const char *a, *b;
	size_t n;
	char *out;

	if (name) {
		for (size_t i = 0; i < sizeof(code_systems) / sizeof(code_systems[0]); i++)
			if (!strcasecmp(name, code_systems[i].name))
				return code_systems[i].uri;
		/* HL70078, HL7 0078, HL0078: HL7 tables */
		if (!strncmp(name, "HL7", 3) || !strncmp(name, "HL", 2)) {
			const char *d = name + (name[2] == '7' ? 3 : 2);

			d += strspn(d, " ");
			if (strlen(d) == 4 && strspn(d, "0123456789") == 4) {
				out = arena_alloc(&mp->a, sizeof(V2_TABLE) + 4);
				if (out)
					snprintf(out, sizeof(V2_TABLE) + 4, V2_TABLE "%s", d);
				return out;
			}
		}
	}
	/* Local codes: scoped by the sender, so that two hospitals' local
	 * codes never meet; other names are global (table 0396). */
	a = map_urn_part(mp, !name || is_local_system(name) ? mp->sender : name);
	b = name && is_local_system(name) ? map_urn_part(mp, name) : NULL;
	if (!a)
		return NULL;
	n = sizeof(MAP_CODE_PREFIX) + strlen(a) + (b ? strlen(b) + 1 : 0);
	out = arena_alloc(&mp->a, n);
	if (out)
		snprintf(out, n, MAP_CODE_PREFIX "%s%s%s", a, b ? ":" : "", b ? b : "");
	return out;
}

static json_object *coding(const char *system, const char *code, const char *display)
{
	json_object *c = json_object_new_object();

	jstr(c, "system", system);
	jstr(c, "code", code);
	jstr(c, "display", display);
	return c;
}

json_object *map_cwe(struct map *mp, long seg, int f, int r, const char *deflt_system)
{
	const char *code = v2_str(mp, seg, f, r, 1, 0), *disp = v2_str(mp, seg, f, r, 2, 0);
	const char *sys = v2_str(mp, seg, f, r, 3, 0), *code2 = v2_str(mp, seg, f, r, 4, 0);
	const char *disp2 = v2_str(mp, seg, f, r, 5, 0), *sys2 = v2_str(mp, seg, f, r, 6, 0);
	const char *text = v2_str(mp, seg, f, r, 9, 0);
	json_object *cc;

	if (!code && !code2 && !text && !disp)
		return NULL;
	cc = json_object_new_object();
	if (code)
		jpush(cc, "coding", coding(sys || !deflt_system ? map_code_system(mp, sys)
								: deflt_system, code, disp));
	if (code2)
		jpush(cc, "coding", coding(sys2 || !deflt_system ? map_code_system(mp, sys2)
								 : deflt_system, code2, disp2));
	jstr(cc, "text", text ? text : code ? disp : disp ? disp : disp2);
	return cc;
}

json_object *map_v2_code(struct map *mp, const char *code, const char *tbl)
{
	char sys[64];
	json_object *cc;

	if (!code)
		return NULL;
	snprintf(sys, sizeof(sys), V2_TABLE "%s", tbl);
	cc = json_object_new_object();
	jpush(cc, "coding", coding(sys, code, NULL));
	return cc;
}

/* ---- identifiers ---------------------------------------------------------- */

static int all_digits(const char *s, size_t n)
{
	return s && strlen(s) == n && strspn(s, "0123456789") == n;
}

static int one_of(const char *s, const char *const *list)
{
	for (; s && *list; list++)
		if (!strcasecmp(s, *list))
			return 1;
	return 0;
}

/* A BHYT card: 2 letters, a benefit digit 1-5, 12 digits (VIETNAM.md §3). */
static int is_bhyt_card(const char *s)
{
	return s && strlen(s) == 15 && isupper((unsigned char)s[0]) &&
	       isupper((unsigned char)s[1]) && s[2] >= '1' && s[2] <= '5' &&
	       strspn(s + 3, "0123456789") == 12;
}

static char *lower(struct map *mp, const char *s)
{
	char *out = arena_strndup(&mp->a, s, strlen(s));

	for (char *p = out; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return out;
}

json_object *map_cx(struct map *mp, long seg, int f, int r, int *rank)
{
	static const char *const national_types[] = { "NI", "NN", "NNVNM", "CZ", "CCCD", NULL };
	static const char *const national_auth[] = { "CCCD", "VNM", "BCA", "CAN CUOC", "CMND", NULL };
	static const char *const bhyt_names[] = { "BHYT", "BHXH", "VSS", NULL };
	static const char *const facility_types[] = { "MR", "MRT", "PI", "PT", "PN", "MB", NULL };
	const char *value = v2_str(mp, seg, f, r, 1, 0), *ns = v2_str(mp, seg, f, r, 4, 1);
	const char *uid = v2_str(mp, seg, f, r, 4, 2), *uid_type = v2_str(mp, seg, f, r, 4, 3);
	const char *type = v2_str(mp, seg, f, r, 5, 0), *system;
	json_object *id;

	if (!value)
		return NULL;
	*rank = 4;
	if ((one_of(type, national_types) || one_of(ns, national_auth)) && all_digits(value, 12)) {
		system = MAP_SYS_CCCD;
		*rank = 0;
	} else if ((one_of(type, national_types) || one_of(ns, national_auth)) &&
		   all_digits(value, 9)) {
		system = MAP_SYS_CMND;	/* the old 9-digit identity card */
		*rank = 3;
	} else if (one_of(type, bhyt_names) || one_of(ns, bhyt_names) ||
		   (type && !strcmp(type, "HC") && (!ns || is_bhyt_card(value))) ||
		   (!type && !ns && is_bhyt_card(value))) {
		system = MAP_SYS_BHYT;
		*rank = 2;
	} else if (type && !strcmp(type, "PPN") && ns && strlen(ns) == 3 &&
		   isupper((unsigned char)ns[0]) && isupper((unsigned char)ns[1]) &&
		   isupper((unsigned char)ns[2])) {
		char *s = arena_alloc(&mp->a, 40);

		if (s)
			snprintf(s, 40, "http://hl7.org/fhir/sid/passport-%s", ns);
		system = s;
		*rank = 3;
	} else {
		system = map_system(mp, ns, uid, uid_type, NULL, type ? lower(mp, type) : "id");
		if (one_of(type, facility_types) || !type)
			*rank = 1;
	}
	id = json_object_new_object();
	if (type) {
		json_object *cc = map_v2_code(mp, type, "0203");

		jset(id, "type", cc);
	}
	jstr(id, "system", system);
	jstr(id, "value", value);
	if (ns || uid)
		jset(id, "assigner", map_display_ref(NULL, ns ? ns : uid));
	return id;
}

/* ---- names, addresses, telecom -------------------------------------------- */

static const char *name_use(const char *code)
{
	static const struct {
		const char *v2, *fhir;
	} uses[] = {
		{ "L", "official" }, { "D", "usual" }, { "M", "maiden" }, { "N", "nickname" },
		{ "A", "usual" }, { "C", "official" }, { "S", "anonymous" }, { "B", "old" },
		{ "T", "usual" }, { "U", NULL },
	};

	for (size_t i = 0; code && i < sizeof(uses) / sizeof(uses[0]); i++)
		if (!strcmp(code, uses[i].v2))
			return uses[i].fhir;
	return NULL;
}

json_object *map_xpn(struct map *mp, long seg, int f, int r)
{
	const char *family = v2_str(mp, seg, f, r, 1, 1), *given = v2_str(mp, seg, f, r, 2, 0);
	const char *middle = v2_str(mp, seg, f, r, 3, 0), *suffix = v2_str(mp, seg, f, r, 4, 0);
	const char *prefix = v2_str(mp, seg, f, r, 5, 0), *use = v2_str(mp, seg, f, r, 7, 0);
	json_object *n;

	if (!family && !given && !middle)
		return NULL;
	n = json_object_new_object();
	jstr(n, "use", name_use(use));
	jstr(n, "family", family);
	if (given)
		jpush(n, "given", json_object_new_string(given));
	if (middle)
		jpush(n, "given", json_object_new_string(middle));
	if (prefix)
		jpush(n, "prefix", json_object_new_string(prefix));
	if (suffix)
		jpush(n, "suffix", json_object_new_string(suffix));
	return n;
}

json_object *map_xad(struct map *mp, long seg, int f, int r)
{
	const char *street = v2_str(mp, seg, f, r, 1, 1), *other = v2_str(mp, seg, f, r, 2, 0);
	const char *city = v2_str(mp, seg, f, r, 3, 0), *state = v2_str(mp, seg, f, r, 4, 0);
	const char *zip = v2_str(mp, seg, f, r, 5, 0), *country = v2_str(mp, seg, f, r, 6, 0);
	const char *type = v2_str(mp, seg, f, r, 7, 0), *district = v2_str(mp, seg, f, r, 9, 0);
	json_object *a;

	if (!street && !other && !city && !state && !zip && !country && !district)
		return NULL;
	a = json_object_new_object();
	if (type && (!strcmp(type, "H") || !strcmp(type, "P")))
		jstr(a, "use", "home");
	else if (type && (!strcmp(type, "B") || !strcmp(type, "O")))
		jstr(a, "use", "work");
	else if (type && !strcmp(type, "C"))
		jstr(a, "use", "temp");
	else if (type && !strcmp(type, "BA"))
		jstr(a, "use", "old");
	else if (type && !strcmp(type, "M"))
		jstr(a, "type", "postal");
	if (street)
		jpush(a, "line", json_object_new_string(street));
	if (other)
		jpush(a, "line", json_object_new_string(other));
	jstr(a, "city", city);
	jstr(a, "district", district);
	jstr(a, "state", state);
	jstr(a, "postalCode", zip);
	jstr(a, "country", country);
	return a;
}

json_object *map_xtn(struct map *mp, long seg, int f, int r, const char *use)
{
	const char *formatted = v2_str(mp, seg, f, r, 1, 0), *tuse = v2_str(mp, seg, f, r, 2, 0);
	const char *equip = v2_str(mp, seg, f, r, 3, 0), *email = v2_str(mp, seg, f, r, 4, 0);
	const char *country = v2_str(mp, seg, f, r, 5, 0), *area = v2_str(mp, seg, f, r, 6, 0);
	const char *local = v2_str(mp, seg, f, r, 7, 0), *ext = v2_str(mp, seg, f, r, 8, 0);
	const char *system = "phone", *value = formatted;
	json_object *t;
	char *built;

	if (equip && (!strcmp(equip, "Internet") || !strcmp(equip, "X.400")))
		system = "email";
	else if (equip && !strcmp(equip, "FX"))
		system = "fax";
	else if (equip && !strcmp(equip, "BP"))
		system = "pager";
	if (tuse && !strcmp(tuse, "NET"))
		system = "email";
	if (!strcmp(system, "email") && email)
		value = email;
	if (!value && local) {
		built = arena_alloc(&mp->a, 128);
		if (built)
			snprintf(built, 128, "%s%s%s%s%s%s%s%s", country ? "+" : "",
				 country ? country : "", country ? " " : "", area ? area : "",
				 area ? " " : "", local, ext ? " ext. " : "", ext ? ext : "");
		value = built;
	}
	if (!value)
		return NULL;
	t = json_object_new_object();
	jstr(t, "system", system);
	jstr(t, "value", value);
	if (equip && !strcmp(equip, "CP"))
		use = "mobile";
	else if (tuse && (!strcmp(tuse, "PRN") || !strcmp(tuse, "ORN") || !strcmp(tuse, "VHN")))
		use = "home";
	else if (tuse && !strcmp(tuse, "WPN"))
		use = "work";
	jstr(t, "use", use);
	return t;
}

/* ---- people --------------------------------------------------------------- */

/* A person's Reference from the parts of an XCN (or CNN). */
static json_object *person_ref(struct map *mp, const char *id, const char *family,
			       const char *given, const char *middle, const char *prefix,
			       const char *auth)
{
	char display[256];
	json_object *r, *ident;
	int n = 0;

	if (!id && !family && !given)
		return NULL;
	display[0] = '\0';
	if (prefix)
		n += snprintf(display + n, sizeof(display) - (size_t)n, "%s ", prefix);
	if (family)
		n += snprintf(display + n, sizeof(display) - (size_t)n, "%s ", family);
	if (middle && n < (int)sizeof(display))
		n += snprintf(display + n, sizeof(display) - (size_t)n, "%s ", middle);
	if (given && n < (int)sizeof(display))
		n += snprintf(display + n, sizeof(display) - (size_t)n, "%s ", given);
	if (n > 0 && n <= (int)sizeof(display))
		display[n - 1] = '\0';
	r = json_object_new_object();
	jstr(r, "type", "Practitioner");
	if (id) {
		ident = json_object_new_object();
		jstr(ident, "system", map_system(mp, auth, NULL, NULL, NULL, "practitioner"));
		jstr(ident, "value", id);
		jset(r, "identifier", ident);
	}
	if (display[0])
		jstr(r, "display", display);
	return r;
}

json_object *map_xcn(struct map *mp, long seg, int f, int r)
{
	return person_ref(mp, v2_str(mp, seg, f, r, 1, 0), v2_str(mp, seg, f, r, 2, 1),
			  v2_str(mp, seg, f, r, 3, 0), v2_str(mp, seg, f, r, 4, 0),
			  v2_str(mp, seg, f, r, 6, 0), v2_str(mp, seg, f, r, 9, 1));
}

json_object *map_ndl(struct map *mp, long seg, int f, int r)
{
	/* NDL-1 is a CNN in subcomponents; older senders put an XCN there. */
	if (!v2_str(mp, seg, f, r, 1, 2) && !v2_str(mp, seg, f, r, 1, 3))
		return map_xcn(mp, seg, f, r);
	return person_ref(mp, v2_str(mp, seg, f, r, 1, 1), v2_str(mp, seg, f, r, 1, 2),
			  v2_str(mp, seg, f, r, 1, 3), v2_str(mp, seg, f, r, 1, 4),
			  v2_str(mp, seg, f, r, 1, 6), v2_str(mp, seg, f, r, 1, 9));
}

/* ---- units ---------------------------------------------------------------- */

/* Units as labs write them → UCUM. Only what is unambiguous. */
static const struct {
	const char *sent, *ucum;
} units[] = {
	{ "%", "%" }, { "mg/dL", "mg/dL" }, { "mg/dl", "mg/dL" }, { "g/dL", "g/dL" },
	{ "g/dl", "g/dL" }, { "g/L", "g/L" }, { "g/l", "g/L" }, { "mg/L", "mg/L" },
	{ "mg/l", "mg/L" }, { "mmol/L", "mmol/L" }, { "mmol/l", "mmol/L" },
	{ "umol/L", "umol/L" }, { "umol/l", "umol/L" }, { "\xc2\xb5mol/L", "umol/L" },
	{ "U/L", "U/L" }, { "IU/L", "[IU]/L" }, { "mIU/L", "m[IU]/L" }, { "uIU/mL", "u[IU]/mL" },
	{ "fL", "fL" }, { "fl", "fL" }, { "pg", "pg" }, { "ng/mL", "ng/mL" },
	{ "ng/ml", "ng/mL" }, { "pg/mL", "pg/mL" }, { "ug/mL", "ug/mL" },
	{ "mEq/L", "meq/L" }, { "meq/L", "meq/L" }, { "10*3/uL", "10*3/uL" },
	{ "10^3/uL", "10*3/uL" }, { "10*6/uL", "10*6/uL" }, { "10^6/uL", "10*6/uL" },
	{ "10*9/L", "10*9/L" }, { "10^9/L", "10*9/L" }, { "x10^9/L", "10*9/L" },
	{ "giga.l-1", "10*9/L" }, { "10*12/L", "10*12/L" }, { "10^12/L", "10*12/L" },
	{ "x10^12/L", "10*12/L" }, { "tera.l-1", "10*12/L" }, { "mmHg", "mm[Hg]" },
	{ "mm[Hg]", "mm[Hg]" }, { "kg", "kg" }, { "g", "g" }, { "cm", "cm" }, { "m", "m" },
	{ "Cel", "Cel" }, { "degC", "Cel" }, { "mL", "mL" }, { "L", "L" }, { "s", "s" },
	{ "sec", "s" }, { "min", "min" }, { "h", "h" }, { "mm/h", "mm/h" },
	{ "/min", "/min" }, { "kg/m2", "kg/m2" }, { "U/mL", "U/mL" }, { "mL/min", "mL/min" },
};

void map_units(struct map *mp, long seg, int f, json_object *q)
{
	const char *code = v2_str(mp, seg, f, 0, 1, 0), *text = v2_str(mp, seg, f, 0, 2, 0);
	const char *sys = v2_str(mp, seg, f, 0, 3, 0);

	if (!code && !text)
		return;
	jstr(q, "unit", code ? code : text);
	if (code && sys && (!strcasecmp(sys, "UCUM") || !strcmp(sys, "ISO+"))) {
		jstr(q, "system", UCUM);
		jstr(q, "code", code);
		return;
	}
	for (size_t i = 0; code && i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(code, units[i].sent)) {
			jstr(q, "system", UCUM);
			jstr(q, "code", units[i].ucum);
			return;
		}
}
