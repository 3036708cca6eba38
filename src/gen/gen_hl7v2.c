/*
 * gen_hl7v2.c — one patient's FHIR resources, as gen_patient() emits them,
 * into an ADT^A04 and ORU^R01 messages (gen_hl7v2.h).
 *
 * The FHIR JSON comes from our own generator, so it is parsed with json-c
 * directly (no RFC 8259 pre-check), and only what a message needs is
 * parsed at all: vital signs, Conditions and types this file does not know
 * are dropped on a cheap look at their bytes. Field by field, what is
 * written is what src/hl7v2/map*.c reads back (decision 0013), so that a
 * generated message arrives as the resources it came from.
 */
#include "gen_hl7v2.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/json.h"

#define LOINC "http://loinc.org"
#define UCUM "http://unitsofmeasure.org"
#define SYS_CMND "urn:lienthong:id:vn-cmnd"

/* ---- writing ER7 ----------------------------------------------------------- */

/* A message being appended to b; the first failure sticks in rc. */
struct wr {
	struct buf *b;
	int field;		/* the field of the current segment written last */
	int rc;
};

static void raw(struct wr *w, const char *s)
{
	if (!w->rc && s && buf_puts(w->b, s))
		w->rc = ERR_TOO_LARGE;
}

static void LT_PRINTF(2, 3) fmt(struct wr *w, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	if (!w->rc && buf_vprintf(w->b, f, ap))
		w->rc = ERR_TOO_LARGE;
	va_end(ap);
}

/* Text in a field: the delimiters and line breaks escaped (v2.5.1 §2.7). */
static void text(struct wr *w, const char *s)
{
	for (const char *p = s; p && *p && !w->rc; p++) {
		const char *esc = *p == '|' ? "\\F\\" : *p == '^' ? "\\S\\" : *p == '~' ? "\\R\\"
				: *p == '&' ? "\\T\\" : *p == '\\' ? "\\E\\" : *p == '\r' ? "\\X0D\\"
				: *p == '\n' ? "\\X0A\\" : NULL;

		if (esc)
			raw(w, esc);
		else if (buf_putc(w->b, *p))
			w->rc = ERR_TOO_LARGE;
	}
}

static void segment(struct wr *w, const char *name)
{
	raw(w, name);
	w->field = 0;
}

/* Moves to field f of the current segment (f > the last one written). */
static void field(struct wr *w, int f)
{
	while (w->field < f) {
		raw(w, "|");
		w->field++;
	}
}

static void end_segment(struct wr *w)
{
	raw(w, "\r");
}

/* ---- reading the FHIR ------------------------------------------------------ */

static json_object *member(json_object *o, const char *key)
{
	json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static json_object *item(json_object *o, const char *key, size_t i)
{
	json_object *a = member(o, key);

	return a && json_object_is_type(a, json_type_array) && i < json_object_array_length(a)
		       ? json_object_array_get_idx(a, i)
		       : NULL;
}

static size_t count(json_object *o, const char *key)
{
	json_object *a = member(o, key);

	return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

static const char *str(json_object *o, const char *key)
{
	return o ? json_get_str(o, key) : NULL;
}

/* A FHIR date or dateTime → a v2 DTM: "2024-01-21T15:52:00+07:00" →
 * "20240121155200+0700", "1982-11-29" → "19821129". Fractions of a second
 * are dropped (the generator writes none); "" when the text is not one. */
static void dtm(const char *s, char out[24])
{
	size_t n = s ? strlen(s) : 0;
	const char *tz;

	out[0] = '\0';
	if (n < 10 || s[4] != '-' || s[7] != '-')
		return;
	snprintf(out, 24, "%.4s%.2s%.2s", s, s + 5, s + 8);
	if (n < 16 || s[10] != 'T')
		return;
	snprintf(out + 8, 16, "%.2s%.2s%.2s", s + 11, s + 14, n >= 19 && s[16] == ':' ? s + 17 : "00");
	tz = s + 16 + (n >= 19 && s[16] == ':' ? 3 : 0);
	while (*tz == '.' || (*tz >= '0' && *tz <= '9'))
		tz++;
	if (*tz == 'Z')
		snprintf(out + 14, 10, "+0000");
	else if ((*tz == '+' || *tz == '-') && strlen(tz) == 6 && tz[3] == ':')
		snprintf(out + 14, 10, "%c%.2s%.2s", *tz, tz + 1, tz + 4);
}

/* "Organization/gen-org-79555" → "79555": the facility code of a
 * generated organisation; NULL for anything else. */
static const char *facility_code(json_object *ref)
{
	const char *r = str(ref, "reference");
	static const char prefix[] = "Organization/gen-org-";

	return r && !strncmp(r, prefix, sizeof(prefix) - 1) && r[sizeof(prefix) - 1]
		       ? r + sizeof(prefix) - 1
		       : NULL;
}

/* The part of a generated id after its last '-' ("000001" of gen-pat-000001). */
static const char *id_tail(const char *id)
{
	const char *d = id ? strrchr(id, '-') : NULL;

	return d ? d + 1 : id ? id : "";
}

/* Full years between two dates ("YYYY-MM-DD..."); -1 when either is not one. */
static int years_between(const char *from, const char *to)
{
	int y0, m0, d0, y1, m1, d1;

	if (!from || !to || sscanf(from, "%4d-%2d-%2d", &y0, &m0, &d0) != 3 ||
	    sscanf(to, "%4d-%2d-%2d", &y1, &m1, &d1) != 3)
		return -1;
	return y1 - y0 - (m1 < m0 || (m1 == m0 && d1 < d0));
}

/* ---- reference ranges ------------------------------------------------------ */

/*
 * The generator's lab Observations carry no reference range, so OBX-7 and
 * OBX-8 come from this table: common adult ranges as printed on Vietnamese
 * hospital lab reports and in textbooks, rounded (not any one laboratory's).
 * Children get none: their ranges depend on age, and "if known" is better
 * than wrong.
 */
static const struct {
	const char *loinc;
	const char *male, *female;	/* OBX-7: "low-high" or "<high" */
} ranges[] = {
	{ "2345-7", "70-99", "70-99" },		/* glucose, fasting, mg/dL */
	{ "4548-4", "4.0-5.6", "4.0-5.6" },	/* HbA1c, % */
	{ "2160-0", "0.7-1.3", "0.6-1.1" },	/* creatinine, mg/dL */
	{ "2093-3", "<200", "<200" },		/* total cholesterol, mg/dL */
	{ "1742-6", "7-56", "7-56" },		/* ALT, U/L */
	{ "1920-8", "10-40", "10-40" },		/* AST, U/L */
	{ "718-7", "13.5-17.5", "12.0-15.5" },	/* haemoglobin, g/dL */
};

static const char *range_for(const char *loinc, int female)
{
	for (size_t i = 0; loinc && i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (!strcmp(loinc, ranges[i].loinc))
			return female ? ranges[i].female : ranges[i].male;
	return NULL;
}

/* OBX-8 for a value against a range text: "H", "L", "N"; NULL when unknown. */
static const char *flag_for(const char *value, const char *range)
{
	char *end;
	double v, lo, hi;

	if (!value || !range)
		return NULL;
	v = strtod(value, &end);
	if (end == value || *end)
		return NULL;
	if (range[0] == '<') {
		hi = strtod(range + 1, NULL);
		return v >= hi ? "H" : "N";
	}
	lo = strtod(range, &end);
	if (*end != '-')
		return NULL;
	hi = strtod(end + 1, NULL);
	return v < lo ? "L" : v > hi ? "H" : "N";
}

/* ---- segments ---------------------------------------------------------------- */

static void msh(struct wr *w, const struct gen_hl7v2 *h, const char *facility, const char *when,
		const char *type, const char *control_id)
{
	segment(w, "MSH|^~\\&");
	w->field = 2;
	field(w, 3);
	raw(w, GEN_HL7V2_APP);
	field(w, 4);
	text(w, facility ? facility : GEN_HL7V2_APP);
	field(w, 5);
	raw(w, "LIENTHONG");
	field(w, 6);
	raw(w, "SYT-HCM");	/* the city's Department of Health runs the exchange */
	field(w, 7);
	raw(w, when);
	field(w, 9);
	raw(w, type);
	field(w, 10);
	fmt(w, "%08X%s", (unsigned)h->tag, control_id);
	field(w, 11);
	raw(w, "P");
	field(w, 12);
	raw(w, GEN_HL7V2_VERSION);
	field(w, 17);
	raw(w, "VNM");
	field(w, 18);
	raw(w, "UNICODE UTF-8");
	end_segment(w);
}

/* PID-3: CCCD (or the old CMND) as a national id assigned by the Ministry
 * of Public Security (BCA), the BHYT card as a health card number assigned
 * by Vietnam Social Security (BHXH): what map_types.c reads as
 * urn:lienthong:id:vn-cccd, vn-cmnd and vn-bhyt. A patient with neither
 * gets its generated id as a medical record number, so that it can still
 * be matched. */
static void pid3(struct wr *w, json_object *p)
{
	size_t n = count(p, "identifier");
	int written = 0;

	for (size_t i = 0; i < n; i++) {
		json_object *id = item(p, "identifier", i);
		const char *system = str(id, "system"), *value = str(id, "value"), *suffix;

		if (!system || !value || !*value)
			continue;
		if (!strcmp(system, GEN_SID_CCCD) || !strcmp(system, SYS_CMND))
			suffix = "^^^BCA^NI";
		else if (!strcmp(system, GEN_SID_BHYT))
			suffix = "^^^BHXH^HC";
		else
			continue;
		if (written++)
			raw(w, "~");
		text(w, value);
		raw(w, suffix);
	}
	if (!written) {
		text(w, str(p, "id"));
		raw(w, "^^^" GEN_HL7V2_APP "^MR");
	}
}

/* PID-5: family^first given^the others^^^^L. The generator's given names
 * are [middle, given] in the order they are said ("Hoàng Hữu Huy" is
 * family Hoàng, given [Hữu, Huy]); the inbound mapping makes
 * given = [XPN-2, XPN-3], so XPN-2 holds the middle name and XPN-3 the
 * given name, and the Patient arrives with its names in their order. */
static void pid5(struct wr *w, json_object *name)
{
	size_t n = count(name, "given");

	text(w, str(name, "family"));
	raw(w, "^");
	if (n)
		text(w, json_object_get_string(item(name, "given", 0)));
	raw(w, "^");
	for (size_t i = 1; i < n; i++) {
		if (i > 1)
			raw(w, " ");
		text(w, json_object_get_string(item(name, "given", i)));
	}
	raw(w, "^^^^L");
}

/* PID-11 (XAD): street^^city^^^country^H^^ward. The ward is what FHIR
 * calls district (XAD-9, county/parish, read back as district), by name,
 * so that the FHIR read back names it too; its code stays in FHIR. */
static void pid11(struct wr *w, json_object *a)
{
	const char *country = str(a, "country");

	text(w, json_object_get_string(item(a, "line", 0)));
	raw(w, "^^");
	text(w, str(a, "city"));
	raw(w, "^^^");
	text(w, country && !strcmp(country, "VN") ? "VNM" : country);	/* v2 table 0399: ISO 3166 alpha-3 */
	raw(w, "^");
	raw(w, str(a, "use") && !strcmp(str(a, "use"), "work") ? "B" : "H");
	raw(w, "^^");
	text(w, str(a, "district"));
}

/* PID-13 (home and mobile) or PID-14 (work): phones and e-mail, XTN. */
static void telecom(struct wr *w, json_object *p, int work)
{
	size_t n = count(p, "telecom");
	int written = 0;

	for (size_t i = 0; i < n; i++) {
		json_object *t = item(p, "telecom", i);
		const char *system = str(t, "system"), *value = str(t, "value"), *use = str(t, "use");

		if (!system || !value || (use && !strcmp(use, "work")) != work)
			continue;
		if (written++)
			raw(w, "~");
		if (!strcmp(system, "email")) {
			raw(w, work ? "^WPN^Internet^" : "^NET^Internet^");
			text(w, value);
		} else if (!strcmp(system, "phone")) {
			text(w, value);
			raw(w, work ? "^WPN^PH" : use && !strcmp(use, "mobile") ? "^PRN^CP" : "^PRN^PH");
		} else {
			written--;
		}
	}
}

static int has_telecom(json_object *p, int work)
{
	for (size_t i = 0; i < count(p, "telecom"); i++) {
		json_object *t = item(p, "telecom", i);
		const char *system = str(t, "system"), *use = str(t, "use");

		if (str(t, "value") && system && (!strcmp(system, "phone") || !strcmp(system, "email")) &&
		    (use && !strcmp(use, "work")) == work)
			return 1;
	}
	return 0;
}

static void pid(struct wr *w, json_object *p)
{
	const char *g = str(p, "gender");
	char birth[24];

	segment(w, "PID");
	field(w, 1);
	raw(w, "1");
	field(w, 3);
	pid3(w, p);
	if (item(p, "name", 0)) {
		field(w, 5);
		pid5(w, item(p, "name", 0));
	}
	dtm(str(p, "birthDate"), birth);
	field(w, 7);
	raw(w, birth);
	field(w, 8);
	raw(w, !g ? "" : !strcmp(g, "male") ? "M" : !strcmp(g, "female") ? "F"
		 : !strcmp(g, "other") ? "O" : "U");
	if (item(p, "address", 0)) {
		field(w, 11);
		pid11(w, item(p, "address", 0));
	}
	if (has_telecom(p, 0)) {
		field(w, 13);
		telecom(w, p, 0);
	}
	if (has_telecom(p, 1)) {
		field(w, 14);
		telecom(w, p, 1);
	}
	end_segment(w);
}

/* PV1 of an encounter: class, the facility (PL-4), the encounter's id as
 * the visit number assigned by the facility, admit and discharge times. */
static void pv1(struct wr *w, json_object *enc, const char *facility)
{
	const char *cls = str(member(enc, "class"), "code");
	char start[24], end[24];

	dtm(str(member(enc, "period"), "start"), start);
	dtm(str(member(enc, "period"), "end"), end);
	segment(w, "PV1");
	field(w, 1);
	raw(w, "1");
	field(w, 2);
	raw(w, !cls ? "U" : !strcmp(cls, "AMB") ? "O" : !strcmp(cls, "IMP") ? "I"
		 : !strcmp(cls, "EMER") ? "E" : "U");
	field(w, 3);
	raw(w, "^^^");
	text(w, facility);
	field(w, 19);
	text(w, str(enc, "id"));
	raw(w, "^^^");
	text(w, facility);
	raw(w, "^VN");
	field(w, 44);
	raw(w, start);
	field(w, 45);
	raw(w, end);
	end_segment(w);
}

/* ---- the messages ------------------------------------------------------------- */

static int adt(struct gen_hl7v2 *h)
{
	struct wr w = { .b = h->adt };
	json_object *first;
	char when[24], control[24];

	/* Registered at the first visit, by the commune station of the ward. */
	first = json_object_array_length(h->encounters) ? json_object_array_get_idx(h->encounters, 0)
							: NULL;
	dtm(str(member(first, "period"), "start"), when);
	if (!when[0])
		snprintf(when, sizeof(when), "%.4s%.2s%.2s", GEN_REFERENCE_DATE,
			 GEN_REFERENCE_DATE + 5, GEN_REFERENCE_DATE + 8);
	snprintf(control, sizeof(control), "A%.10s", id_tail(str(h->patient, "id")));
	msh(&w, h, facility_code(item(h->patient, "generalPractitioner", 0)), when,
	    "ADT^A04^ADT_A01", control);
	segment(&w, "EVN");
	field(&w, 1);
	raw(&w, "A04");
	field(&w, 2);
	raw(&w, when);
	end_segment(&w);
	pid(&w, h->patient);
	/* PV1 is required in ADT_A01; class N (not applicable) and no visit
	 * number: a registration, not a visit. Visits travel with their
	 * results (ORU's PV1). */
	raw(&w, "PV1|1|N\r");
	raw(&w, "\n");
	if (!w.rc)
		h->n_adt++;
	return w.rc;
}

/* OBX-2 from the value's type; *num the number of a quantity, else NULL. */
static void obx_type(struct wr *w, json_object *o, const char **num)
{
	json_object *q = member(o, "valueQuantity");

	*num = NULL;
	if (q && member(q, "value")) {
		*num = json_object_get_string(member(q, "value"));
		field(w, 2);
		raw(w, "NM");
	} else if (member(o, "valueCodeableConcept")) {
		field(w, 2);
		raw(w, "CWE");
	} else if (str(o, "valueString")) {
		field(w, 2);
		raw(w, "ST");
	}
}

static void coded(struct wr *w, json_object *cc)
{
	json_object *c = item(cc, "coding", 0);
	const char *system = str(c, "system");

	text(w, str(c, "code"));
	raw(w, "^");
	text(w, str(c, "display"));
	raw(w, "^");
	raw(w, system && !strcmp(system, LOINC) ? "LN" : "L");
}

static void obx(struct wr *w, int set, json_object *o, int female, int adult)
{
	json_object *q = member(o, "valueQuantity"), *rr = item(o, "referenceRange", 0);
	json_object *code = item(member(o, "code"), "coding", 0);
	const char *status = str(o, "status"), *num, *range = NULL, *flag, *unit;
	char when[24], buf[64];

	segment(w, "OBX");
	field(w, 1);
	fmt(w, "%d", set);
	obx_type(w, o, &num);
	field(w, 3);
	coded(w, member(o, "code"));
	field(w, 5);
	if (num)
		raw(w, num);
	else if (member(o, "valueCodeableConcept"))
		coded(w, member(o, "valueCodeableConcept"));
	else
		text(w, str(o, "valueString"));
	if (q && (unit = str(q, "code") ? str(q, "code") : str(q, "unit"))) {
		field(w, 6);
		text(w, unit);
		raw(w, str(q, "system") && !strcmp(str(q, "system"), UCUM) ? "^^UCUM" : "");
	}
	/* The resource's own range when it has one, else the table's (adults). */
	if (rr && str(rr, "text")) {
		range = str(rr, "text");
	} else if (rr && (member(rr, "low") || member(rr, "high"))) {
		json_object *lo = member(member(rr, "low"), "value"), *hi = member(member(rr, "high"), "value");

		if (lo && hi)
			snprintf(buf, sizeof(buf), "%s-%s", json_object_get_string(lo),
				 json_object_get_string(hi));
		else
			snprintf(buf, sizeof(buf), "%s%s", hi ? "<" : ">",
				 json_object_get_string(hi ? hi : lo));
		range = buf;
	} else if (adult && str(code, "system") && !strcmp(str(code, "system"), LOINC)) {
		range = range_for(str(code, "code"), female);
	}
	if (range) {
		field(w, 7);
		text(w, range);
		if ((flag = flag_for(num, range))) {
			field(w, 8);
			raw(w, flag);
		}
	}
	field(w, 11);	/* table 0085 */
	raw(w, !status || !strcmp(status, "final") ? "F" : !strcmp(status, "preliminary") ? "P"
	       : !strcmp(status, "amended") ? "A" : !strcmp(status, "corrected") ? "C"
	       : !strcmp(status, "cancelled") ? "X" : !strcmp(status, "entered-in-error") ? "W"
	       : "F");
	dtm(str(o, "effectiveDateTime"), when);
	field(w, 14);
	raw(w, when);
	end_segment(w);
}

/* A lab Observation of this encounter that an OBX can carry. */
static int reportable(json_object *o, const char *enc_ref)
{
	const char *ref = str(member(o, "encounter"), "reference");

	return ref && !strcmp(ref, enc_ref) &&
	       (member(o, "valueQuantity") || member(o, "valueCodeableConcept") ||
		str(o, "valueString"));
}

/* Placer and filler order numbers from the encounter's id:
 * gen-enc-000001-02 → gen-ord-000001-02, gen-lab-000001-02. */
static void order_number(struct wr *w, const char *enc_id, const char *kind,
			 const char *facility)
{
	static const char prefix[] = "gen-enc-";

	if (enc_id && !strncmp(enc_id, prefix, sizeof(prefix) - 1)) {
		fmt(w, "gen-%s-", kind);
		text(w, enc_id + sizeof(prefix) - 1);
	} else {
		text(w, enc_id);
		fmt(w, "-%s", kind);
	}
	raw(w, "^");
	text(w, facility);
}

static int oru(struct gen_hl7v2 *h, json_object *enc, const char *enc_ref)
{
	struct wr w = { .b = h->oru };
	const char *facility = facility_code(member(enc, "serviceProvider"));
	const char *g = str(h->patient, "gender"), *first = NULL, *last = NULL, *enc_id = str(enc, "id");
	size_t n = json_object_array_length(h->labs);
	char collected[24], reported[24], control[24];
	int set = 0, female = g && !strcmp(g, "female"), adult;

	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(h->labs, i);
		const char *t = str(o, "effectiveDateTime");

		if (!reportable(o, enc_ref))
			continue;
		if (t && (!first || strcmp(t, first) < 0))
			first = t;
		if (t && (!last || strcmp(t, last) > 0))
			last = t;
		set++;
	}
	if (!set)
		return 0;	/* no results at this visit: no ORU */
	if (!facility)
		facility = GEN_HL7V2_APP;
	dtm(first, collected);
	dtm(last, reported);
	if (!reported[0])
		dtm(str(member(enc, "period"), "start"), reported);
	/* MSH-10 is ST(20): 8 hex digits, R, the patient number (up to 8
	 * digits: GEN_MAX_PATIENTS), -, the encounter number (2 digits, at
	 * most 64 a patient). */
	snprintf(control, sizeof(control), "R%.8s-%.2s", id_tail(str(h->patient, "id")),
		 id_tail(enc_id));
	msh(&w, h, facility, reported, "ORU^R01^ORU_R01", control);
	pid(&w, h->patient);
	pv1(&w, enc, facility);
	segment(&w, "ORC");
	field(&w, 1);
	raw(&w, "RE");
	field(&w, 2);
	order_number(&w, enc_id, "ord", facility);
	field(&w, 3);
	order_number(&w, enc_id, "lab", facility);
	field(&w, 5);
	raw(&w, "CM");
	end_segment(&w);
	segment(&w, "OBR");
	field(&w, 1);
	raw(&w, "1");
	field(&w, 2);
	order_number(&w, enc_id, "ord", facility);
	field(&w, 3);
	order_number(&w, enc_id, "lab", facility);
	field(&w, 4);
	raw(&w, "11502-2^Laboratory report^LN");
	field(&w, 7);
	raw(&w, collected);
	field(&w, 22);
	raw(&w, reported);
	field(&w, 24);
	raw(&w, "LAB");
	field(&w, 25);
	raw(&w, "F");
	end_segment(&w);
	set = 0;
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(h->labs, i);

		if (!reportable(o, enc_ref))
			continue;
		adult = years_between(str(h->patient, "birthDate"), str(o, "effectiveDateTime")) >= 18;
		obx(&w, ++set, o, female, adult);
	}
	raw(&w, "\n");
	if (!w.rc) {
		h->n_oru++;
		h->n_obx += (size_t)set;
	}
	return w.rc;
}

/* ---- the converter -------------------------------------------------------------- */

static void forget(struct gen_hl7v2 *h)
{
	json_object_put(h->patient);
	json_object_put(h->encounters);
	json_object_put(h->labs);
	h->patient = NULL;
	h->encounters = h->labs = NULL;
	h->kept = 0;
}

void gen_hl7v2_init(struct gen_hl7v2 *h, uint64_t seed, struct buf *adt, struct buf *oru)
{
	memset(h, 0, sizeof(*h));
	h->tag = (uint32_t)(seed ^ (seed >> 32));
	h->adt = adt;
	h->oru = oru;
}

void gen_hl7v2_release(struct gen_hl7v2 *h)
{
	forget(h);
	if (h->tok)
		json_tokener_free(h->tok);
	h->tok = NULL;
}

int gen_hl7v2_patient_end(struct gen_hl7v2 *h)
{
	size_t adt0 = h->adt->n, oru0 = h->oru->n;
	int rc = 0;

	if (!h->patient) {
		forget(h);
		return 0;
	}
	if (!(rc = adt(h))) {
		size_t n = json_object_array_length(h->encounters);

		for (size_t i = 0; i < n && !rc; i++) {
			json_object *enc = json_object_array_get_idx(h->encounters, i);
			char ref[128];

			if ((size_t)snprintf(ref, sizeof(ref), "Encounter/%s", str(enc, "id") ? str(enc, "id") : "")
			    >= sizeof(ref))
				continue;
			rc = oru(h, enc, ref);
		}
	}
	h->n_bytes += h->adt->n - adt0 + (h->oru != h->adt ? h->oru->n - oru0 : 0);
	forget(h);
	return rc;
}

int gen_hl7v2_emit(void *arg, enum gen_type type, const char *id, const char *json, size_t n)
{
	struct gen_hl7v2 *h = arg;
	json_object *o;
	int rc;

	(void)id;
	if (type == GEN_PATIENT) {
		if (h->patient && (rc = gen_hl7v2_patient_end(h)))
			return rc;
		forget(h);
		if (!(h->encounters = json_object_new_array()) || !(h->labs = json_object_new_array()))
			return ERR_NOMEM;
	} else if (type == GEN_ENCOUNTER) {
		/* kept below */
	} else if (type == GEN_OBSERVATION) {
		/* Only laboratory results go to the ORU; vital signs do not. */
		if (!memmem(json, n, "\"code\":\"laboratory\"", 19))
			return 0;
	} else {
		return 0;	/* other types (and those added later) have no message here */
	}
	if (type != GEN_PATIENT && !h->patient)
		return 0;	/* care without a patient before it: nothing to attach it to */
	if (h->kept >= GEN_HL7V2_MAX_KEPT)
		return ERR_TOO_LARGE;
	if (!h->tok && !(h->tok = json_tokener_new()))
		return ERR_NOMEM;
	json_tokener_reset(h->tok);
	o = json_tokener_parse_ex(h->tok, json, (int)n);
	rc = json_tokener_get_error(h->tok) == json_tokener_success &&
		     json_object_is_type(o, json_type_object) ? 0 : ERR_JSON;
	if (rc) {
		json_object_put(o);
		return rc;
	}
	h->kept++;
	if (type == GEN_PATIENT)
		h->patient = o;
	else
		json_object_array_add(type == GEN_ENCOUNTER ? h->encounters : h->labs, o);
	return 0;
}
