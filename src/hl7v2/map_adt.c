/*
 * map_adt.c — PID → Patient, NK1 → Patient.contact, PV1 → Encounter, the ADT
 * events, and the A40 merge.
 *
 * The ADT feed owns the patient's demographics: an ADT message writes the
 * Patient with a conditional update (PUT Patient?identifier=...), replacing
 * it. Result and order messages carry a copy of the PID that is often
 * thinner (the lab knows the MRN, not the address or the CCCD), so they
 * only create the Patient when none matches (ifNoneExist) and otherwise
 * refer to the one there. The same holds for PV1 → Encounter.
 */
#include "map_int.h"

#include <stdio.h>
#include <string.h>

#include "../base/json.h"

#define MAP_MAX_IDS 16

struct ids {
	json_object *id[MAP_MAX_IDS];
	int rank[MAP_MAX_IDS];
	int n;
};

static void ids_release(struct ids *ids)
{
	for (int i = 0; i < ids->n; i++)
		json_object_put(ids->id[i]);
	ids->n = 0;
}

/* Every repetition of the CX field seg-f, most authoritative first. */
static void ids_collect(struct map *mp, long seg, int f, struct ids *ids)
{
	struct ids raw = { 0 };
	int reps = v2_reps(mp, seg, f);

	for (int r = 0; r < reps && raw.n < MAP_MAX_IDS; r++) {
		int rank;
		json_object *id = map_cx(mp, seg, f, r, &rank);

		if (id) {
			raw.id[raw.n] = id;
			raw.rank[raw.n++] = rank;
		}
	}
	ids->n = 0;
	for (int want = 0; want <= 4; want++)
		for (int i = 0; i < raw.n; i++)
			if (raw.rank[i] == want) {
				ids->id[ids->n] = raw.id[i];
				ids->rank[ids->n++] = want;
			}
}

/* "Patient?identifier=s|v,s|v": the person-level identifiers (rank <= 3)
 * OR'ed, at most MAP_KEY_IDS; account or visit numbers only when nothing
 * else names the patient. OR, not only the best one: a hospital that
 * learns the CCCD of a patient it knew by MRN must find that patient, and
 * a CCCD and an MRN that name two different patients must stop the message
 * (412) rather than make a third. */
static int patient_key(struct map *mp, const struct ids *ids, struct buf *url)
{
	int used = 0, rc = buf_puts(url, "Patient?identifier=");

	for (int i = 0; !rc && i < ids->n && used < MAP_KEY_IDS; i++) {
		if (ids->rank[i] > 3 && ids->rank[0] <= 3)
			break;
		if (used++)
			rc = buf_putc(url, ',');
		if (!rc)
			rc = map_url_token(url, json_get_str(ids->id[i], "system"),
					   json_get_str(ids->id[i], "value"));
	}
	return rc ? map_fail(mp, ERR_NOMEM, -1, 0, 0, 207, "out of memory") : 0;
}

static const char *gender(const char *code)
{
	if (!code)
		return NULL;
	if (!strcmp(code, "M"))
		return "male";
	if (!strcmp(code, "F"))
		return "female";
	if (!strcmp(code, "O") || !strcmp(code, "A"))
		return "other";
	return "unknown";	/* U, N and codes outside table 0001 */
}

static json_object *contact(struct map *mp, long nk1)
{
	json_object *c = json_object_new_object(), *name = map_xpn(mp, nk1, 2, 0);
	json_object *rel = map_cwe(mp, nk1, 3, 0, "http://terminology.hl7.org/CodeSystem/v2-0063");
	int reps;

	if (rel) {
		json_object *arr = json_object_new_array();

		json_object_array_add(arr, rel);
		jset(c, "relationship", arr);
	}
	jset(c, "name", name);
	reps = v2_reps(mp, nk1, 5);
	for (int r = 0; r < reps; r++)
		jpush(c, "telecom", map_xtn(mp, nk1, 5, r, "home"));
	reps = v2_reps(mp, nk1, 6);
	for (int r = 0; r < reps; r++)
		jpush(c, "telecom", map_xtn(mp, nk1, 6, r, "work"));
	jset(c, "address", map_xad(mp, nk1, 4, 0));
	if (json_object_object_length(c) == 0) {
		json_object_put(c);
		return NULL;
	}
	return c;
}

/* The Patient of PID seg; *ids keeps its identifiers' (borrowed) order. */
static int patient_resource(struct map *mp, long seg, struct ids *ids, json_object **out)
{
	json_object *p = json_object_new_object();
	const char *birth, *deceased, *flag;
	int rc, reps;

	*out = NULL;
	jstr(p, "resourceType", "Patient");
	ids_collect(mp, seg, 3, ids);
	if (!ids->n) {
		json_object_put(p);
		return map_fail(mp, ERR_INVALID, seg, 3, 1, 101,
				"PID-3 patient identifier list is empty: the patient cannot be "
				"matched with the records already held");
	}
	for (int i = 0; i < ids->n; i++)
		jpush(p, "identifier", json_object_get(ids->id[i]));
	reps = v2_reps(mp, seg, 5);
	for (int r = 0; r < reps; r++)
		jpush(p, "name", map_xpn(mp, seg, 5, r));
	for (int f = 13; f <= 14; f++) {
		reps = v2_reps(mp, seg, f);
		for (int r = 0; r < reps; r++)
			jpush(p, "telecom", map_xtn(mp, seg, f, r, f == 13 ? "home" : "work"));
	}
	jstr(p, "gender", gender(v2_str(mp, seg, 8, 0, 1, 0)));
	if ((rc = map_datetime(mp, seg, 7, 1, 1, &birth)) ||
	    (rc = map_datetime(mp, seg, 29, 1, 0, &deceased))) {
		json_object_put(p);
		return rc;
	}
	jstr(p, "birthDate", birth);
	flag = v2_str(mp, seg, 30, 0, 1, 0);
	if (deceased)
		jstr(p, "deceasedDateTime", deceased);
	else if (flag && (!strcmp(flag, "Y") || !strcmp(flag, "N")))
		jset(p, "deceasedBoolean", json_object_new_boolean(*flag == 'Y'));
	reps = v2_reps(mp, seg, 11);
	for (int r = 0; r < reps; r++)
		jpush(p, "address", map_xad(mp, seg, 11, r));
	jset(p, "maritalStatus",
	     map_cwe(mp, seg, 16, 0, "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"));
	/* NK1 segments of this patient: up to the visit or the orders. */
	for (long s = seg + 1; (size_t)s < hl7v2_segments(mp->m); s++) {
		if (v2_is(mp, s, "PV1") || v2_is(mp, s, "PID") || v2_is(mp, s, "ORC") ||
		    v2_is(mp, s, "OBR") || v2_is(mp, s, "MRG") || v2_is(mp, s, "SPM"))
			break;
		if (v2_is(mp, s, "NK1"))
			jpush(p, "contact", contact(mp, s));
	}
	*out = p;
	return 0;
}

int map_patient(struct map *mp, long seg)
{
	struct ids ids = { 0 };
	struct buf url;
	json_object *p = NULL;
	int rc;

	buf_init(&url, MAP_URL_MAX);
	if ((rc = patient_resource(mp, seg, &ids, &p)) || (rc = patient_key(mp, &ids, &url)))
		goto out;
	if (mp->kind == MAP_ADT)
		rc = map_entry(mp, p, "PUT", url.p, NULL, mp->patient);
	else
		rc = map_entry(mp, p, "POST", "Patient", url.p + strlen("Patient?"), mp->patient);
	p = NULL;
out:
	json_object_put(p);
	ids_release(&ids);
	buf_release(&url);
	return rc;
}

/* ---- PV1 → Encounter ------------------------------------------------------ */

/* Table 0004 patient class → v3 ActCode (the Encounter.class value set). */
static json_object *encounter_class(struct map *mp, const char *code)
{
	static const struct {
		const char *v2, *act, *display;
	} classes[] = {
		{ "E", "EMER", "emergency" }, { "I", "IMP", "inpatient encounter" },
		{ "O", "AMB", "ambulatory" }, { "P", "PRENC", "pre-admission" },
		{ "R", "AMB", "ambulatory" }, { "B", "IMP", "inpatient encounter" },
	};
	json_object *c = json_object_new_object();

	for (size_t i = 0; code && i < sizeof(classes) / sizeof(classes[0]); i++)
		if (!strcmp(code, classes[i].v2)) {
			jstr(c, "system", "http://terminology.hl7.org/CodeSystem/v3-ActCode");
			jstr(c, "code", classes[i].act);
			jstr(c, "display", classes[i].display);
			return c;
		}
	/* The binding is extensible: other classes keep their v2 code. */
	jstr(c, "system", "http://terminology.hl7.org/CodeSystem/v2-0004");
	jstr(c, "code", code ? code : "U");
	(void)mp;
	return c;
}

static void participant(struct map *mp, json_object *enc, long seg, int f, const char *type)
{
	int reps = v2_reps(mp, seg, f);

	for (int r = 0; r < reps; r++) {
		json_object *who = map_xcn(mp, seg, f, r), *p, *cc, *t;

		if (!who)
			continue;
		p = json_object_new_object();
		cc = json_object_new_object();
		t = json_object_new_object();
		jstr(t, "system", "http://terminology.hl7.org/CodeSystem/v3-ParticipationType");
		jstr(t, "code", type);
		jpush(cc, "coding", t);
		jpush(p, "type", cc);
		jset(p, "individual", who);
		jpush(enc, "participant", p);
	}
}

int map_encounter(struct map *mp, long seg, const char *status)
{
	const char *visit = v2_str(mp, seg, 19, 0, 1, 0), *start, *end, *system, *value;
	const char *loc[3] = { v2_str(mp, seg, 3, 0, 1, 0), v2_str(mp, seg, 3, 0, 2, 0),
			       v2_str(mp, seg, 3, 0, 3, 0) };
	json_object *enc = NULL, *ident, *period, *hosp;
	struct buf url;
	char where[256];
	int rc, n = 0;

	mp->encounter[0] = '\0';
	buf_init(&url, MAP_URL_MAX);
	if ((rc = map_datetime(mp, seg, 44, 1, 0, &start)) ||
	    (rc = map_datetime(mp, seg, 45, 1, 0, &end)))
		goto out;
	if (visit) {
		system = map_system(mp, v2_str(mp, seg, 19, 0, 4, 1), v2_str(mp, seg, 19, 0, 4, 2),
				    v2_str(mp, seg, 19, 0, 4, 3), NULL, "visit");
		value = visit;
	} else if (start && mp->patient[0] && v2_str(mp, hl7v2_find(mp->m, "PID", 0), 3, 0, 1, 0)) {
		/* No visit number: the patient's identifier and the admit time
		 * name the visit (decision 0013). */
		long pid = hl7v2_find(mp->m, "PID", 0);
		char *v = arena_alloc(&mp->a, 256);

		if (!v) {
			rc = map_fail(mp, ERR_NOMEM, -1, 0, 0, 207, "out of memory");
			goto out;
		}
		snprintf(v, 256, "%s-%s", v2_str(mp, pid, 3, 0, 1, 0), v2_str(mp, seg, 44, 0, 1, 0));
		system = map_system(mp, NULL, NULL, NULL, NULL, "visit-admitted");
		value = v;
	} else {
		goto out;	/* nothing names this visit: no Encounter */
	}
	if (!end && status && !strcmp(status, "finished")) {
		long evn = hl7v2_find(mp->m, "EVN", 0);

		if (evn > 0 && (rc = map_datetime(mp, evn, 6, 1, 0, &end)))
			goto out;
		if (!end && evn > 0 && (rc = map_datetime(mp, evn, 2, 1, 0, &end)))
			goto out;
	}
	if (!status)
		status = end ? "finished" : "in-progress";
	enc = json_object_new_object();
	jstr(enc, "resourceType", "Encounter");
	ident = json_object_new_object();
	jstr(ident, "system", system);
	jstr(ident, "value", value);
	jpush(enc, "identifier", ident);
	jstr(enc, "status", status);
	jset(enc, "class", encounter_class(mp, v2_str(mp, seg, 2, 0, 1, 0)));
	jset(enc, "serviceType",
	     map_cwe(mp, seg, 10, 0, "http://terminology.hl7.org/CodeSystem/v2-0069"));
	jset(enc, "subject", jref(mp->patient));
	participant(mp, enc, seg, 7, "ATND");
	participant(mp, enc, seg, 8, "REF");
	participant(mp, enc, seg, 9, "CON");
	participant(mp, enc, seg, 17, "ADM");
	if (start || end) {
		period = json_object_new_object();
		jstr(period, "start", start);
		jstr(period, "end", end);
		jset(enc, "period", period);
	}
	hosp = json_object_new_object();
	jset(hosp, "admitSource",
	     map_cwe(mp, seg, 14, 0, "http://terminology.hl7.org/CodeSystem/v2-0023"));
	jset(hosp, "dischargeDisposition",
	     map_cwe(mp, seg, 36, 0, "http://terminology.hl7.org/CodeSystem/v2-0112"));
	if (json_object_object_length(hosp))
		jset(enc, "hospitalization", hosp);
	else
		json_object_put(hosp);
	where[0] = '\0';
	for (int i = 0; i < 3; i++)
		if (loc[i] && n < (int)sizeof(where))
			n += snprintf(where + n, sizeof(where) - (size_t)n, "%s%s", n ? " " : "",
				      loc[i]);
	if (where[0]) {
		json_object *l = json_object_new_object();

		jset(l, "location", map_display_ref("Location", where));
		jpush(enc, "location", l);
	}
	if ((rc = buf_puts(&url, "Encounter?identifier=")) ||
	    (rc = map_url_token(&url, system, value))) {
		rc = map_fail(mp, ERR_NOMEM, -1, 0, 0, 207, "out of memory");
		goto out;
	}
	if (mp->kind == MAP_ADT)
		rc = map_entry(mp, enc, "PUT", url.p, NULL, mp->encounter);
	else
		rc = map_entry(mp, enc, "POST", "Encounter", url.p + strlen("Encounter?"),
			       mp->encounter);
	enc = NULL;
out:
	json_object_put(enc);
	buf_release(&url);
	return rc;
}

/* ---- the ADT events ------------------------------------------------------- */

static int missing_segment(struct map *mp, const char *name)
{
	int rc = map_fail(mp, ERR_INVALID, -1, 0, 0, 100, "%s^%s has no %s segment", mp->code,
			  mp->event, name);

	if (mp->at)
		snprintf(mp->at->segment, sizeof(mp->at->segment), "%s", name);
	return rc;
}

int map_adt(struct map *mp)
{
	long pid = hl7v2_find(mp->m, "PID", 0), pv1;
	const char *status = NULL;
	int rc;

	if (pid < 0)
		return missing_segment(mp, "PID");
	if ((rc = map_patient(mp, pid)))
		return rc;
	if (!strcmp(mp->event, "A28") || !strcmp(mp->event, "A31"))
		return 0;	/* person events: no visit */
	pv1 = v2_next(mp, "PV1", pid);
	if (pv1 < 0)
		return 0;
	if (!strcmp(mp->event, "A01") || !strcmp(mp->event, "A04"))
		status = "in-progress";
	else if (!strcmp(mp->event, "A03"))
		status = "finished";
	return map_encounter(mp, pv1, status);
}

/*
 * A40: the surviving patient (PID) is written as in any ADT event, with
 * link "replaces" to the merged one (MRG-1); the merged one is patched, not
 * replaced: active false and link "replaced-by", its data kept. A patch
 * needs the merged patient to exist: merging a patient this node never
 * heard of fails (404) and the sender gets an AE.
 */
int map_adt_merge(struct map *mp)
{
	long pid = hl7v2_find(mp->m, "PID", 0), mrg = hl7v2_find(mp->m, "MRG", 0);
	struct ids live = { 0 }, gone = { 0 };
	json_object *p = NULL, *patch = NULL, *op, *link, *other, *binary = NULL;
	struct buf url, gone_url;
	char merged_urn[MAP_URN_LEN];
	const char *text, *data;
	int rc;

	buf_init(&url, MAP_URL_MAX);
	buf_init(&gone_url, MAP_URL_MAX);
	if (pid < 0 || mrg < 0) {
		rc = missing_segment(mp, pid < 0 ? "PID" : "MRG");
		goto out;
	}
	ids_collect(mp, mrg, 1, &gone);
	if (!gone.n) {
		rc = map_fail(mp, ERR_INVALID, mrg, 1, 1, 101,
			      "MRG-1 prior patient identifier list is empty: which patient to "
			      "merge is not said");
		goto out;
	}
	if ((rc = patient_resource(mp, pid, &live, &p)) || (rc = patient_key(mp, &live, &url)) ||
	    (rc = patient_key(mp, &gone, &gone_url)))
		goto out;

	/* The merged patient: a JSON Patch in a Binary (decision 0010). Its
	 * link names the survivor by identifier: a patch is opaque to the
	 * reference rewriting of the transaction. */
	patch = json_object_new_array();
	op = json_object_new_object();
	jstr(op, "op", "add");
	jstr(op, "path", "/active");
	jset(op, "value", json_object_new_boolean(0));
	json_object_array_add(patch, op);
	op = json_object_new_object();
	jstr(op, "op", "add");
	jstr(op, "path", "/link");
	link = json_object_new_object();
	other = json_object_new_object();
	jstr(other, "type", "Patient");
	jset(other, "identifier", json_object_get(live.id[0]));
	jset(link, "other", other);
	jstr(link, "type", "replaced-by");
	jset(op, "value", json_object_new_array());
	json_object_array_add(json_object_object_get(op, "value"), link);
	json_object_array_add(patch, op);
	text = json_object_to_json_string_ext(patch, JSON_C_TO_STRING_PLAIN);
	data = map_base64(mp, text, strlen(text));
	if (!data) {
		rc = map_fail(mp, ERR_NOMEM, -1, 0, 0, 207, "out of memory");
		goto out;
	}
	binary = json_object_new_object();
	jstr(binary, "resourceType", "Binary");
	jstr(binary, "contentType", "application/json-patch+json");
	jstr(binary, "data", data);
	rc = map_entry(mp, binary, "PATCH", gone_url.p, NULL, merged_urn);
	binary = NULL;
	if (rc)
		goto out;

	link = json_object_new_object();
	jset(link, "other", jref(merged_urn));
	jstr(link, "type", "replaces");
	jpush(p, "link", link);
	jset(p, "active", json_object_new_boolean(1));
	rc = map_entry(mp, p, "PUT", url.p, NULL, mp->patient);
	p = NULL;
out:
	json_object_put(p);
	json_object_put(patch);
	json_object_put(binary);
	ids_release(&live);
	ids_release(&gone);
	buf_release(&url);
	buf_release(&gone_url);
	return rc;
}
