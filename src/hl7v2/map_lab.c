/*
 * map_lab.c — results and orders: ORU^R01, OUL^R22, ORM^O01, OML^O21.
 *
 * One walk over the segments. PID and PV1 set the patient and the visit
 * that what follows refers to. An order group starts at ORC or OBR and ends
 * at the next ORC (after an OBR), OBR or PID: it becomes a ServiceRequest
 * (ORC + OBR), and in results a DiagnosticReport whose results are the
 * group's OBX. Observations are held until the group ends, so that they
 * can point at the ServiceRequest's fullUrl. SPM follows its OBR in ORU and
 * OML and precedes it in OUL (specimen-centred); OBR-15 stands for it in
 * versions before 2.5. NTE segments are notes of the segment before them.
 */
#include "map_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "../base/json.h"

#define V3_INTERPRETATION "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
#define MAP_MAX_SPECIMENS 8	/* specimens referred to by one order group */

struct key {
	const char *system, *value;	/* NULL when none */
};

struct group {
	long orc, obr;
	struct key placer, filler, base;	/* base: what Observation keys hang on */
	json_object *request;		/* ServiceRequest being built, or NULL */
	json_object *report;		/* DiagnosticReport being built (results) */
	json_object *pending;		/* [{url, res}] Observations to add */
	char specimen[MAP_MAX_SPECIMENS][MAP_URN_LEN];
	int n_specimens;
	int n_obx;
};

/* The walk's state besides the group: the last SPM (OUL) and its key. */
struct walk {
	struct group g;
	int open;
	int spm_after;			/* SPM follows its OBR (ORU, OML) */
	char specimen[MAP_URN_LEN];	/* the current SPM's entry, "" when none */
	struct key specimen_key;
};

static int nomem(struct map *mp)
{
	return map_fail(mp, ERR_NOMEM, -1, 0, 0, 207, "out of memory");
}

static const char *seg_name(struct map *mp, long seg);

/* The message control id, when nothing else names what seg records. */
static int message_key(struct map *mp, long seg, const char *what)
{
	if (mp->control_id)
		return 0;
	return map_fail(mp, ERR_INVALID, 0, 10, 0, 101,
			"MSH-10 message control id is empty, and %s segment %ld has no number "
			"of its own (%s): what it records cannot be recognised when it is sent "
			"again", seg_name(mp, seg), seg + 1, what);
}

static const char *seg_name(struct map *mp, long seg)
{
	return hl7v2_segment_name(mp->m, (size_t)seg);
}

/* "Type?identifier=system|value" (or without "Type?" for ifNoneExist). */
static const char *key_query(struct map *mp, const char *type, struct key k)
{
	struct buf b;
	const char *out = NULL;

	buf_init(&b, MAP_URL_MAX);
	if ((!type || (!buf_puts(&b, type) && !buf_putc(&b, '?'))) &&
	    !buf_puts(&b, "identifier=") && !map_url_token(&b, k.system, k.value))
		out = arena_strndup(&mp->a, b.p, b.n);
	buf_release(&b);
	return out;
}

static json_object *identifier(struct map *mp, struct key k, const char *type_code)
{
	json_object *id = json_object_new_object();

	if (type_code)
		jset(id, "type", map_v2_code(mp, type_code, "0203"));
	jstr(id, "system", k.system);
	jstr(id, "value", k.value);
	return id;
}

/* NTE segments right after seg → note[] of o. */
static void notes(struct map *mp, long seg, json_object *o)
{
	for (long s = seg + 1; v2_is(mp, s, "NTE"); s++) {
		int reps = v2_reps(mp, s, 3);
		struct buf b;

		buf_init(&b, 0);
		for (int r = 0; r < reps; r++) {
			const char *t = v2_str(mp, s, 3, r, 0, 0);

			if (t && ((b.n && buf_putc(&b, '\n')) || buf_puts(&b, t)))
				break;
		}
		if (b.n) {
			json_object *a = json_object_new_object();

			jstr(a, "text", b.p);
			jpush(o, "note", a);
		}
		buf_release(&b);
	}
}

/* An EI (entity identifier) at seg-f → key: namespace, universal id. The
 * default scope is the application that assigns such numbers: the sender
 * for its own kind, else the receiver (a lab's ORU carries the placer
 * numbers of the facility it answers). */
static struct key ei_key(struct map *mp, long seg, int f, const char *kind, int sender_assigns)
{
	struct key k = { NULL, v2_str(mp, seg, f, 0, 1, 0) };
	const char *deflt = sender_assigns || !mp->receiver ? mp->sender : mp->receiver;

	if (k.value)
		k.system = map_system(mp, v2_str(mp, seg, f, 0, 2, 0), v2_str(mp, seg, f, 0, 3, 0),
				      v2_str(mp, seg, f, 0, 4, 0), deflt, kind);
	return k;
}

/* ---- SPM → Specimen ------------------------------------------------------- */

static int specimen(struct map *mp, long seg, struct key base, char urn[MAP_URN_LEN],
		    struct key *out_key)
{
	/* SPM-2 is an EIP: placer's EI in component 1, filler's in 2, each
	 * with its parts as subcomponents. */
	int c = v2_str(mp, seg, 2, 0, 2, 1) ? 2 : 1;
	struct key k = { NULL, v2_str(mp, seg, 2, 0, c, 1) };
	const char *start, *end, *received, *url;
	json_object *sp, *col;
	int rc;

	if (k.value) {
		k.system = map_system(mp, v2_str(mp, seg, 2, 0, c, 2), v2_str(mp, seg, 2, 0, c, 3),
				      v2_str(mp, seg, 2, 0, c, 4), NULL, "specimen");
	} else {
		const char *set = v2_str(mp, seg, 1, 0, 0, 0);
		char *v = arena_alloc(&mp->a, 256);
		int rc0 = base.value ? 0 : message_key(mp, seg, "SPM-2");

		if (rc0)
			return rc0;
		if (!v)
			return nomem(mp);
		snprintf(v, 256, "%s-spm%s", base.value ? base.value : mp->control_id,
			 set ? set : "1");
		k.system = base.system ? base.system
				       : map_system(mp, NULL, NULL, NULL, NULL, "message");
		k.value = v;
	}
	if ((rc = map_datetime(mp, seg, 17, 1, 0, &start)) ||
	    (rc = map_datetime(mp, seg, 17, 2, 0, &end)) ||
	    (rc = map_datetime(mp, seg, 18, 1, 0, &received)))
		return rc;
	sp = json_object_new_object();
	jstr(sp, "resourceType", "Specimen");
	jpush(sp, "identifier", identifier(mp, k, NULL));
	jset(sp, "type", map_cwe(mp, seg, 4, 0, "http://terminology.hl7.org/CodeSystem/v2-0487"));
	jset(sp, "subject", jref(mp->patient));
	jstr(sp, "receivedTime", received);
	col = json_object_new_object();
	if (start && end) {
		json_object *period = json_object_new_object();

		jstr(period, "start", start);
		jstr(period, "end", end);
		jset(col, "collectedPeriod", period);
	} else {
		jstr(col, "collectedDateTime", start);
	}
	jset(col, "method", map_cwe(mp, seg, 7, 0, "http://terminology.hl7.org/CodeSystem/v2-0488"));
	jset(col, "bodySite", map_cwe(mp, seg, 8, 0, NULL));
	if (json_object_object_length(col))
		jset(sp, "collection", col);
	else
		json_object_put(col);
	notes(mp, seg, sp);
	url = key_query(mp, "Specimen", k);
	if (!url) {
		json_object_put(sp);
		return nomem(mp);
	}
	if (out_key)
		*out_key = k;
	return map_entry(mp, sp, "PUT", url, NULL, urn);
}

/* OBR-15 (specimen source, before 2.5) when the group has no SPM. */
static int specimen_obr15(struct map *mp, struct group *g)
{
	json_object *type = map_cwe(mp, g->obr, 15, 0, "http://terminology.hl7.org/CodeSystem/v2-0070");
	json_object *sp, *col;
	struct key k = g->base;
	const char *collected, *url;
	char *v;
	int rc;

	if (!type)
		return 0;
	v = arena_alloc(&mp->a, 256);
	if (!v) {
		json_object_put(type);
		return nomem(mp);
	}
	snprintf(v, 256, "%s-spm1", k.value);
	k.value = v;
	if ((rc = map_datetime(mp, g->obr, 7, 1, 0, &collected))) {
		json_object_put(type);
		return rc;
	}
	sp = json_object_new_object();
	jstr(sp, "resourceType", "Specimen");
	jpush(sp, "identifier", identifier(mp, k, NULL));
	jset(sp, "type", type);
	jset(sp, "subject", jref(mp->patient));
	if (collected) {
		col = json_object_new_object();
		jstr(col, "collectedDateTime", collected);
		jset(sp, "collection", col);
	}
	url = key_query(mp, "Specimen", k);
	if (!url) {
		json_object_put(sp);
		return nomem(mp);
	}
	rc = map_entry(mp, sp, "PUT", url, NULL, g->specimen[0]);
	g->n_specimens = rc ? 0 : 1;
	return rc;
}

/* ---- OBX → Observation ---------------------------------------------------- */

static const char *result_status(const char *code)
{
	static const struct {
		const char *v2, *fhir;
	} st[] = {	/* table 0085 */
		{ "F", "final" }, { "P", "preliminary" }, { "C", "corrected" },
		{ "X", "cancelled" }, { "D", "entered-in-error" }, { "W", "entered-in-error" },
		{ "R", "preliminary" }, { "S", "preliminary" }, { "I", "registered" },
		{ "O", "registered" }, { "A", "amended" }, { "U", "final" }, { "N", "cancelled" },
	};

	if (!code)
		return "unknown";
	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++)
		if (!strcmp(code, st[i].v2))
			return st[i].fhir;
	return NULL;
}

static int is_v3_interpretation(const char *code)
{
	static const char *const v3[] = { "<", ">", "A", "AA", "AC", "B", "CAR", "D", "DET", "E",
		"EX", "EXP", "H", "HH", "HM", "HU", "HX", "I", "IE", "IND", "L", "LL", "LU", "LX",
		"MS", "N", "NCL", "ND", "NEG", "NR", "NS", "OBX", "POS", "QCF", "R", "RR", "S",
		"SDD", "SYN-R", "SYN-S", "TOX", "U", "UNE", "VS", "W", "WR" };

	for (size_t i = 0; i < sizeof(v3) / sizeof(v3[0]); i++)
		if (!strcmp(code, v3[i]))
			return 1;
	return 0;
}

static json_object *quantity(struct map *mp, long obx, const char *decimal, int with_units)
{
	json_object *q = json_object_new_object();

	jset(q, "value", json_decimal(decimal));
	if (with_units)
		map_units(mp, obx, 6, q);
	return q;
}

/* OBX-7 → referenceRange: "3.5-5.0", "<5", "<=5", ">10", else text only. */
static json_object *reference_range(struct map *mp, long obx)
{
	const char *text = v2_str(mp, obx, 7, 0, 0, 0), *dash, *lo = NULL, *hi = NULL;
	json_object *rr;

	if (!text)
		return NULL;
	rr = json_object_new_object();
	if (text[0] == '<' || text[0] == '>') {
		const char *num = v2_decimal(mp, text + (text[1] == '=' ? 2 : 1));

		if (num && text[0] == '<')
			hi = num;
		else if (num)
			lo = num;
	} else if ((dash = strchr(text + 1, '-'))) {
		char *a = arena_strndup(&mp->a, text, (size_t)(dash - text));

		lo = a ? v2_decimal(mp, a) : NULL;
		hi = v2_decimal(mp, dash + 1);
		if (!lo || !hi)
			lo = hi = NULL;
	}
	if (lo)
		jset(rr, "low", quantity(mp, obx, lo, 1));
	if (hi)
		jset(rr, "high", quantity(mp, obx, hi, 1));
	jstr(rr, "text", text);
	return rr;
}

static int bad_value(struct map *mp, long obx, const char *type, const char *v, const char *want)
{
	return map_fail(mp, ERR_INVALID, obx, 5, 0, 102,
			"OBX-5 (set %s): '%.40s' is not %s, as OBX-2 value type %s requires",
			v2_str(mp, obx, 1, 0, 0, 0) ? v2_str(mp, obx, 1, 0, 0, 0) : "?", v, want,
			type);
}

/* SN: comparator, number, separator, number. */
static int value_sn(struct map *mp, long obx, json_object *o)
{
	const char *cmp = v2_str(mp, obx, 5, 0, 1, 0), *n1 = v2_str(mp, obx, 5, 0, 2, 0);
	const char *sep = v2_str(mp, obx, 5, 0, 3, 0), *n2 = v2_str(mp, obx, 5, 0, 4, 0);
	const char *d1 = n1 ? v2_decimal(mp, n1) : NULL, *d2 = n2 ? v2_decimal(mp, n2) : NULL;
	const char *raw = v2_str(mp, obx, 5, 0, 0, 0);

	if (!n1 || !d1 || (n2 && !d2))
		return bad_value(mp, obx, "SN", raw ? raw : "", "a structured numeric value");
	if (sep && !strcmp(sep, "+")) {	/* "2+": an ordinal, kept as written */
		char *s = arena_alloc(&mp->a, strlen(n1) + 2);

		if (!s)
			return nomem(mp);
		snprintf(s, strlen(n1) + 2, "%s+", n1);
		jstr(o, "valueString", s);
	} else if (sep && !strcmp(sep, "-") && d2) {
		json_object *r = json_object_new_object();

		jset(r, "low", quantity(mp, obx, d1, 1));
		jset(r, "high", quantity(mp, obx, d2, 1));
		jset(o, "valueRange", r);
	} else if (sep && (!strcmp(sep, ":") || !strcmp(sep, "/")) && d2) {
		json_object *r = json_object_new_object();

		jset(r, "numerator", quantity(mp, obx, d1, 0));
		jset(r, "denominator", quantity(mp, obx, d2, 0));
		jset(o, "valueRatio", r);
	} else if (!sep && !n2) {
		json_object *q = quantity(mp, obx, d1, 1);

		if (cmp && strcmp(cmp, "=")) {
			if (strcmp(cmp, "<") && strcmp(cmp, ">") && strcmp(cmp, "<=") &&
			    strcmp(cmp, ">=")) {
				json_object_put(q);
				return bad_value(mp, obx, "SN", raw, "a structured numeric value");
			}
			jstr(q, "comparator", cmp);
		}
		jset(o, "valueQuantity", q);
	} else {
		return bad_value(mp, obx, "SN", raw, "a structured numeric value");
	}
	return 0;
}

/* FT/TX/ST repetitions joined by line breaks; formatting commands that the
 * parser leaves (\.br\, \.sp\, \.in+4\ ...) become line breaks or go. */
static const char *text_value(struct map *mp, long obx)
{
	int reps = v2_reps(mp, obx, 5);
	struct buf b;
	const char *out = NULL;

	buf_init(&b, 0);
	for (int r = 0; r < reps; r++) {
		const char *t = v2_str(mp, obx, 5, r, 0, 0);

		if (r && buf_putc(&b, '\n'))
			goto out;
		for (const char *p = t; p && *p; p++) {
			const char *end;

			if (p[0] == '\\' && p[1] == '.' && (end = strchr(p + 2, '\\'))) {
				if ((!strncmp(p, "\\.br\\", 5) || !strncmp(p, "\\.sp", 4)) &&
				    buf_putc(&b, '\n'))
					goto out;
				p = end;
				continue;
			}
			if (buf_putc(&b, *p))
				goto out;
		}
	}
	if (b.n)
		out = arena_strndup(&mp->a, b.p, b.n);
out:
	buf_release(&b);
	return out;
}

/* ED / RP → an Attachment for DiagnosticReport.presentedForm. */
static int attachment(struct map *mp, long obx, const char *type, json_object **out)
{
	int ed = !strcmp(type, "ED");
	const char *kind = v2_str(mp, obx, 5, 0, ed ? 2 : 3, 0);
	const char *sub = v2_str(mp, obx, 5, 0, ed ? 3 : 4, 0);
	const char *enc = ed ? v2_str(mp, obx, 5, 0, 4, 0) : NULL;
	const char *data = v2_str(mp, obx, 5, 0, ed ? 5 : 1, 0);
	char mime[128];
	json_object *a;

	*out = NULL;
	if (!data)
		return 0;	/* nothing to keep */
	if (sub && strchr(sub, '/'))
		snprintf(mime, sizeof(mime), "%s", sub);
	else
		snprintf(mime, sizeof(mime), "%s/%s",
			 !kind ? "application"
			 : !strcasecmp(kind, "IM") || !strcasecmp(kind, "image") ? "image"
			 : !strcasecmp(kind, "TEXT") || !strcasecmp(kind, "TX") ? "text"
			 : !strcasecmp(kind, "AU") || !strcasecmp(kind, "audio") ? "audio"
								  : "application",
			 sub ? sub : "octet-stream");
	for (char *p = mime; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	a = json_object_new_object();
	jstr(a, "contentType", mime);
	if (!ed) {
		jstr(a, "url", data);
	} else if (enc && !strcasecmp(enc, "Base64")) {
		char *clean = arena_strndup(&mp->a, data, strlen(data)), *w = clean;

		for (const char *p = data; clean && *p; p++)
			if (!isspace((unsigned char)*p))
				*w++ = *p;
		if (clean)
			*w = '\0';
		jstr(a, "data", clean);
	} else if (enc && !strcmp(enc, "A")) {
		jstr(a, "data", map_base64(mp, data, strlen(data)));
	} else {
		json_object_put(a);
		return map_fail(mp, ERR_NOT_SUPPORTED, obx, 5, 4, 102,
				"OBX-5: encapsulated data encoded '%s' is not read (Base64 and A are)",
				enc ? enc : "");
	}
	*out = a;
	return 0;
}

static int obx_value(struct map *mp, long obx, const char *type, json_object *o)
{
	const char *raw = v2_str(mp, obx, 5, 0, 0, 0), *d;
	char dt[64];
	int has_time;

	if (!raw)
		return 0;
	if (!type)
		return map_fail(mp, ERR_INVALID, obx, 2, 0, 101,
				"OBX-2 value type is empty but OBX-5 holds a value");
	if (!strcmp(type, "NM")) {
		if (!(d = v2_decimal(mp, raw)))
			return bad_value(mp, obx, type, raw, "a number");
		jset(o, "valueQuantity", quantity(mp, obx, d, 1));
	} else if (!strcmp(type, "SN")) {
		return value_sn(mp, obx, o);
	} else if (!strcmp(type, "ST") || !strcmp(type, "TX") || !strcmp(type, "FT")) {
		jstr(o, "valueString", text_value(mp, obx));
	} else if (!strcmp(type, "CE") || !strcmp(type, "CWE") || !strcmp(type, "CNE") ||
		   !strcmp(type, "CF")) {
		jset(o, "valueCodeableConcept", map_cwe(mp, obx, 5, 0, NULL));
	} else if (!strcmp(type, "ID") || !strcmp(type, "IS")) {
		json_object *cc = json_object_new_object(), *c = json_object_new_object();

		jstr(c, "system", map_code_system(mp, NULL));
		jstr(c, "code", raw);
		jpush(cc, "coding", c);
		jset(o, "valueCodeableConcept", cc);
	} else if (!strcmp(type, "RP")) {	/* in an order: no report to attach it to */
		jstr(o, "valueString", v2_str(mp, obx, 5, 0, 1, 0));
	} else if (!strcmp(type, "ED")) {
		if (v2_str(mp, obx, 5, 0, 5, 0))
			return map_fail(mp, ERR_NOT_SUPPORTED, obx, 5, 5, 102,
					"OBX-5: encapsulated data outside a result report is not "
					"mapped");
	} else if (!strcmp(type, "CX")) {
		jstr(o, "valueString", v2_str(mp, obx, 5, 0, 1, 0));	/* R4 has no valueIdentifier */
	} else if (!strcmp(type, "DT") || !strcmp(type, "TS") || !strcmp(type, "DTM")) {
		if (v2_datetime(mp, v2_str(mp, obx, 5, 0, 1, 0) ? v2_str(mp, obx, 5, 0, 1, 0) : raw,
				!strcmp(type, "DT"), dt, sizeof(dt), &has_time))
			return bad_value(mp, obx, type, raw, "a date/time");
		jstr(o, "valueDateTime", dt);
	} else if (!strcmp(type, "TM")) {
		size_t n = strspn(raw, "0123456789");

		if ((n != 4 && n != 6) || (raw[n] && raw[n] != '.'))
			return bad_value(mp, obx, type, raw, "a time (HHMM[SS])");
		snprintf(dt, sizeof(dt), "%.2s:%.2s:%.2s", raw, raw + 2, n == 6 ? raw + 4 : "00");
		jstr(o, "valueTime", dt);
	} else {
		return map_fail(mp, ERR_NOT_SUPPORTED, obx, 2, 0, 102,
				"OBX-2 value type %s is not mapped to FHIR (NM, SN, ST, TX, FT, CE, "
				"CWE, CNE, ID, IS, CX, DT, TS, DTM, TM, ED, RP are)", type);
	}
	return 0;
}

static int observation(struct map *mp, struct walk *w, long obx)
{
	struct group *g = w->open ? &w->g : NULL;
	const char *type = v2_str(mp, obx, 2, 0, 1, 0), *set = v2_str(mp, obx, 1, 0, 0, 0);
	const char *sub = v2_str(mp, obx, 4, 0, 0, 0), *status, *effective, *url;
	struct key base = g ? g->base : w->specimen_key, k;
	json_object *o = NULL, *code, *pending;
	char *v;
	int rc, reps;

	if (g)
		g->n_obx++;
	if (!(code = map_cwe(mp, obx, 3, 0, NULL)))
		return map_fail(mp, ERR_INVALID, obx, 3, 0, 101,
				"OBX-3 observation identifier is empty (OBX set %s): what was "
				"observed is not said", set ? set : "?");
	if (type && (!strcmp(type, "ED") || !strcmp(type, "RP")) && g && g->report) {
		json_object *a;

		json_object_put(code);
		if ((rc = attachment(mp, obx, type, &a)))
			return rc;
		jpush(g->report, "presentedForm", a);
		return 0;
	}
	if (!(status = result_status(v2_str(mp, obx, 11, 0, 1, 0)))) {
		json_object_put(code);
		return map_fail(mp, ERR_INVALID, obx, 11, 0, 103,
				"OBX-11 '%s' is not a result status of HL7 table 0085",
				v2_str(mp, obx, 11, 0, 1, 0));
	}
	if (!base.value && (rc = message_key(mp, obx, "no OBR order number before it"))) {
		json_object_put(code);
		return rc;
	}
	if (!base.value) {
		base.system = map_system(mp, NULL, NULL, NULL, NULL, "message");
		base.value = mp->control_id;
	}
	v = arena_alloc(&mp->a, 300);
	if (!v) {
		json_object_put(code);
		return nomem(mp);
	}
	/* filler order number - set id (- sub-id when given) */
	if (set)
		snprintf(v, 300, "%s-%s%s%s", base.value, set, sub ? "-" : "", sub ? sub : "");
	else
		snprintf(v, 300, "%s-obx%d%s%s", base.value, g ? g->n_obx : 1, sub ? "-" : "",
			 sub ? sub : "");
	k.system = base.system;
	k.value = v;
	o = json_object_new_object();
	jstr(o, "resourceType", "Observation");
	jpush(o, "identifier", identifier(mp, k, NULL));
	jstr(o, "status", status);
	jset(o, "code", code);
	jset(o, "subject", jref(mp->patient));
	jset(o, "encounter", jref(mp->encounter));
	if ((rc = map_datetime(mp, obx, 14, 1, 0, &effective)) ||
	    (!effective && g && g->obr >= 0 && (rc = map_datetime(mp, g->obr, 7, 1, 0, &effective))))
		goto out;
	jstr(o, "effectiveDateTime", effective);
	reps = v2_reps(mp, obx, 16);
	for (int r = 0; r < reps; r++)
		jpush(o, "performer", map_xcn(mp, obx, 16, r));
	jpush(o, "performer", map_display_ref("Organization", v2_str(mp, obx, 23, 0, 1, 0)));
	if ((rc = obx_value(mp, obx, type, o)))
		goto out;
	reps = v2_reps(mp, obx, 8);
	for (int r = 0; r < reps; r++) {
		const char *flag = v2_str(mp, obx, 8, r, 1, 0);
		json_object *cc, *c;

		if (!flag)
			continue;
		cc = json_object_new_object();
		c = json_object_new_object();
		jstr(c, "system", is_v3_interpretation(flag)
					  ? V3_INTERPRETATION
					  : "http://terminology.hl7.org/CodeSystem/v2-0078");
		jstr(c, "code", flag);
		jpush(cc, "coding", c);
		jpush(o, "interpretation", cc);
	}
	jpush(o, "referenceRange", reference_range(mp, obx));
	jset(o, "method", map_cwe(mp, obx, 17, 0, NULL));
	if (w->specimen[0])	/* the SPM this OBX follows (OUL, or ORU's SPM-OBX) */
		jset(o, "specimen", jref(w->specimen));
	else if (g && g->n_specimens)
		jset(o, "specimen", jref(g->specimen[0]));
	notes(mp, obx, o);
	if (!(url = key_query(mp, "Observation", k))) {
		rc = nomem(mp);
		goto out;
	}
	if (!g) {	/* a specimen's observation outside any order */
		char urn[MAP_URN_LEN];

		rc = map_entry(mp, o, "PUT", url, NULL, urn);
		o = NULL;
		goto out;
	}
	pending = json_object_new_object();
	jstr(pending, "url", url);
	jset(pending, "res", o);
	o = NULL;
	json_object_array_add(g->pending, pending);
out:
	json_object_put(o);
	return rc;
}

/* ---- ORC/OBR → ServiceRequest, DiagnosticReport --------------------------- */

static const char *request_status(const char *orc5, const char *orc1)
{
	static const struct {
		const char *v2, *fhir;
	} by_status[] = {	/* table 0038 */
		{ "A", "active" }, { "CA", "revoked" }, { "CM", "completed" }, { "DC", "revoked" },
		{ "ER", "entered-in-error" }, { "HD", "on-hold" }, { "IP", "active" },
		{ "RP", "revoked" }, { "SC", "active" },
	}, by_control[] = {	/* table 0119 */
		{ "NW", "active" }, { "CA", "revoked" }, { "OC", "revoked" }, { "DC", "revoked" },
		{ "OD", "revoked" }, { "HD", "on-hold" }, { "OH", "on-hold" }, { "RL", "active" },
		{ "OE", "active" }, { "XO", "active" }, { "XX", "active" }, { "OK", "active" },
		{ "SN", "active" }, { "SC", "active" }, { "RE", "active" }, { "CR", "revoked" },
	};

	for (size_t i = 0; orc5 && i < sizeof(by_status) / sizeof(by_status[0]); i++)
		if (!strcmp(orc5, by_status[i].v2))
			return by_status[i].fhir;
	for (size_t i = 0; orc1 && i < sizeof(by_control) / sizeof(by_control[0]); i++)
		if (!strcmp(orc1, by_control[i].v2))
			return by_control[i].fhir;
	return orc5 || orc1 ? "unknown" : "active";
}

static const char *report_status(const char *code)
{
	static const struct {
		const char *v2, *fhir;
	} st[] = {	/* table 0123 */
		{ "O", "registered" }, { "I", "registered" }, { "S", "registered" },
		{ "A", "partial" }, { "P", "preliminary" }, { "R", "partial" },
		{ "N", "partial" }, { "C", "corrected" }, { "M", "corrected" },
		{ "F", "final" }, { "X", "cancelled" }, { "Y", "unknown" }, { "Z", "unknown" },
	};

	for (size_t i = 0; code && i < sizeof(st) / sizeof(st[0]); i++)
		if (!strcmp(code, st[i].v2))
			return st[i].fhir;
	return "unknown";
}

static void group_release(struct group *g)
{
	json_object_put(g->request);
	json_object_put(g->report);
	json_object_put(g->pending);
	memset(g, 0, sizeof(*g));
	g->orc = g->obr = -1;
}

/* The end of an order group: the ServiceRequest, the Observations, the
 * DiagnosticReport, in that order (each names the one before). */
static int group_finish(struct map *mp, struct walk *w)
{
	struct group *g = &w->g;
	char sr[MAP_URN_LEN] = "", urn[MAP_URN_LEN];
	struct key sr_key = g->placer.value ? g->placer : g->filler;
	int rc = 0;

	if (!w->open)
		return 0;
	if (g->obr < 0) {
		rc = map_fail(mp, ERR_INVALID, g->orc, 0, 0, 100,
			      "ORC is not followed by the OBR that says what is ordered");
		goto out;
	}
	if (g->request && sr_key.value && mp->patient[0]) {
		const char *q = key_query(mp, mp->kind == MAP_ORDER ? "ServiceRequest" : NULL,
					  sr_key);

		if (!q) {
			rc = nomem(mp);
			goto out;
		}
		/* Orders own the ServiceRequest; results only make sure one exists. */
		rc = mp->kind == MAP_ORDER
			     ? map_entry(mp, g->request, "PUT", q, NULL, sr)
			     : map_entry(mp, g->request, "POST", "ServiceRequest", q, sr);
		g->request = NULL;
		if (rc)
			goto out;
	}
	for (size_t i = 0; i < json_object_array_length(g->pending); i++) {
		json_object *p = json_object_array_get_idx(g->pending, i);
		json_object *o = json_object_get(json_object_object_get(p, "res"));

		if (sr[0])
			jpush(o, "basedOn", jref(sr));
		if ((rc = map_entry(mp, o, "PUT", json_get_str(p, "url"), NULL, urn)))
			goto out;
		if (g->report)
			jpush(g->report, "result", jref(urn));
	}
	if (g->report) {
		const char *q = key_query(mp, "DiagnosticReport", g->base);

		if (!q) {
			rc = nomem(mp);
			goto out;
		}
		if (sr[0])
			jpush(g->report, "basedOn", jref(sr));
		for (int i = 0; i < g->n_specimens; i++)
			jpush(g->report, "specimen", jref(g->specimen[i]));
		if (w->specimen[0] && !w->spm_after && !g->n_specimens)
			jpush(g->report, "specimen", jref(w->specimen));
		rc = map_entry(mp, g->report, "PUT", q, NULL, urn);
		g->report = NULL;
	}
out:
	group_release(g);
	w->open = 0;
	return rc;
}

static int group_start(struct map *mp, struct walk *w, long orc)
{
	int rc = group_finish(mp, w);

	if (rc)
		return rc;
	group_release(&w->g);
	if (w->spm_after)	/* the SPM of the group before is not this one's */
		w->specimen[0] = '\0';
	w->g.orc = orc;
	w->g.pending = json_object_new_array();
	w->open = 1;
	return w->g.pending ? 0 : nomem(mp);
}

/* OBR at seg opens (or completes, after an ORC) the group. */
static int order(struct map *mp, struct walk *w, long obr)
{
	struct group *g = &w->g;
	int placer_is_sender = mp->kind == MAP_ORDER, rc, reps;
	json_object *sr, *code;
	const char *authored = NULL, *effective, *end, *issued;

	if ((!w->open || g->obr >= 0) && (rc = group_start(mp, w, -1)))
		return rc;
	g->obr = obr;
	g->placer = ei_key(mp, obr, 2, "placer", placer_is_sender);
	if (!g->placer.value && g->orc >= 0)
		g->placer = ei_key(mp, g->orc, 2, "placer", placer_is_sender);
	g->filler = ei_key(mp, obr, 3, "filler", !placer_is_sender);
	if (!g->filler.value && g->orc >= 0)
		g->filler = ei_key(mp, g->orc, 3, "filler", !placer_is_sender);
	g->base = g->filler.value ? g->filler : g->placer;
	if (!g->base.value) {
		if (mp->kind == MAP_ORDER)
			return map_fail(mp, ERR_INVALID, obr, 2, 1, 101,
					"OBR-2 and ORC-2 placer order number are empty: the order "
					"cannot be recognised when it is changed or cancelled");
		/* A result without order numbers: the message names it. */
		char *v = arena_alloc(&mp->a, 200);

		if ((rc = message_key(mp, obr, "OBR-2, OBR-3")))
			return rc;
		if (!v)
			return nomem(mp);
		snprintf(v, 200, "%s-%s", mp->control_id,
			 v2_str(mp, obr, 1, 0, 0, 0) ? v2_str(mp, obr, 1, 0, 0, 0) : "1");
		g->base.system = map_system(mp, NULL, NULL, NULL, NULL, "message");
		g->base.value = v;
	}
	if (!(code = map_cwe(mp, obr, 4, 0, NULL)))
		return map_fail(mp, ERR_INVALID, obr, 4, 0, 101,
				"OBR-4 universal service identifier is empty: what was ordered is "
				"not said");
	if (mp->kind == MAP_ORDER && !mp->patient[0]) {
		json_object_put(code);
		return map_fail(mp, ERR_INVALID, obr, 0, 0, 100,
				"the order has no PID before it: whom it is for is not said");
	}
	if ((g->orc >= 0 && (rc = map_datetime(mp, g->orc, 9, 1, 0, &authored))) ||
	    (rc = map_datetime(mp, obr, 7, 1, 0, &effective)) ||
	    (rc = map_datetime(mp, obr, 8, 1, 0, &end)) ||
	    (rc = map_instant(mp, obr, 22, 1, &issued))) {
		json_object_put(code);
		return rc;
	}

	/* Specimens of this group: SPM after the OBR (ORU, OML), up to the
	 * next group; OBR-15 when there is none. */
	for (long s = obr + 1; w->spm_after && (size_t)s < hl7v2_segments(mp->m); s++) {
		if (v2_is(mp, s, "OBR") || v2_is(mp, s, "ORC") || v2_is(mp, s, "PID"))
			break;
		if (v2_is(mp, s, "SPM") && g->n_specimens < MAP_MAX_SPECIMENS &&
		    (rc = specimen(mp, s, g->base, g->specimen[g->n_specimens++], NULL))) {
			json_object_put(code);
			return rc;
		}
	}
	if (!g->n_specimens && !(w->specimen[0] && !w->spm_after) && (rc = specimen_obr15(mp, g))) {
		json_object_put(code);
		return rc;
	}

	sr = json_object_new_object();
	jstr(sr, "resourceType", "ServiceRequest");
	if (g->placer.value)
		jpush(sr, "identifier", identifier(mp, g->placer, "PLAC"));
	if (g->filler.value)
		jpush(sr, "identifier", identifier(mp, g->filler, "FILL"));
	jstr(sr, "status", request_status(v2_str(mp, g->orc, 5, 0, 1, 0),
					  v2_str(mp, g->orc, 1, 0, 1, 0)));
	jstr(sr, "intent", "order");
	jset(sr, "code", json_object_get(code));
	jset(sr, "subject", jref(mp->patient));
	jset(sr, "encounter", jref(mp->encounter));
	jstr(sr, "authoredOn", authored);
	jset(sr, "requester", g->orc >= 0 ? map_xcn(mp, g->orc, 12, 0) : NULL);
	if (!json_object_object_get_ex(sr, "requester", NULL))
		jset(sr, "requester", map_xcn(mp, obr, 16, 0));
	reps = v2_reps(mp, obr, 31);
	for (int r = 0; r < reps; r++)
		jpush(sr, "reasonCode", map_cwe(mp, obr, 31, r, NULL));
	for (int i = 0; i < g->n_specimens; i++)
		jpush(sr, "specimen", jref(g->specimen[i]));
	if (g->orc >= 0)
		notes(mp, g->orc, sr);
	notes(mp, obr, sr);
	g->request = sr;

	if (mp->kind == MAP_RESULT) {
		json_object *dr = json_object_new_object(), *cat;

		jstr(dr, "resourceType", "DiagnosticReport");
		jpush(dr, "identifier", identifier(mp, g->base, g->filler.value ? "FILL" : NULL));
		jstr(dr, "status", report_status(v2_str(mp, obr, 25, 0, 1, 0)));
		if ((cat = map_v2_code(mp, v2_str(mp, obr, 24, 0, 1, 0), "0074")))
			jpush(dr, "category", cat);
		jset(dr, "code", json_object_get(code));
		jset(dr, "subject", jref(mp->patient));
		jset(dr, "encounter", jref(mp->encounter));
		if (effective && end) {
			json_object *period = json_object_new_object();

			jstr(period, "start", effective);
			jstr(period, "end", end);
			jset(dr, "effectivePeriod", period);
		} else {
			jstr(dr, "effectiveDateTime", effective);
		}
		jstr(dr, "issued", issued);
		reps = v2_reps(mp, obr, 32);
		for (int r = 0; r < reps; r++)
			jpush(dr, "resultsInterpreter", map_ndl(mp, obr, 32, r));
		g->report = dr;
	}
	json_object_put(code);
	return 0;
}

static int walk(struct map *mp, int spm_after)
{
	struct walk w = { .spm_after = spm_after };
	size_t n = hl7v2_segments(mp->m);
	int rc = 0;

	group_release(&w.g);
	for (long s = 1; !rc && (size_t)s < n; s++) {
		const char *name = seg_name(mp, s);

		if (!strcmp(name, "PID")) {
			if (!(rc = group_finish(mp, &w))) {
				mp->encounter[0] = '\0';
				w.specimen[0] = '\0';
				w.specimen_key = (struct key){ 0 };
				rc = map_patient(mp, s);
			}
		} else if (!strcmp(name, "PV1")) {
			rc = map_encounter(mp, s, NULL);
		} else if (!strcmp(name, "ORC")) {
			rc = group_start(mp, &w, s);
		} else if (!strcmp(name, "OBR")) {
			rc = order(mp, &w, s);
		} else if (!strcmp(name, "OBX")) {
			rc = observation(mp, &w, s);
		} else if (!strcmp(name, "SPM")) {
			if (!spm_after && (rc = group_finish(mp, &w)))
				break;
			rc = specimen(mp, s, w.open ? w.g.base : (struct key){ 0 }, w.specimen,
				      &w.specimen_key);
		}
	}
	if (!rc)
		rc = group_finish(mp, &w);
	group_release(&w.g);
	return rc;
}

int map_results(struct map *mp)
{
	/* OUL^R22 is specimen-centred: SPM, its OBX, then the OBR it went to. */
	return walk(mp, strcmp(mp->code, "OUL") != 0);
}

int map_orders(struct map *mp)
{
	if (hl7v2_find(mp->m, "PID", 0) < 0) {
		int rc = map_fail(mp, ERR_INVALID, -1, 0, 0, 100,
				  "%s^%s has no PID segment: whom the order is for is not said",
				  mp->code, mp->event);

		if (mp->at)
			snprintf(mp->at->segment, sizeof(mp->at->segment), "PID");
		return rc;
	}
	return walk(mp, 1);
}
