/*
 * map.c — hl7v2_map(): which messages we map (a table), the transaction
 * Bundle and its entries, conditional keys, identifier systems and errors.
 * The segment maps are in map_adt.c and map_lab.c; decision 0013 says why
 * each choice was made.
 */
#include "map_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>

#include "../base/json.h"
#include "../base/rand.h"

/* The messages we map, by MSH-9.1 and MSH-9.2. */
static const struct {
	const char *code, *event;
	enum map_kind kind;
	int (*fn)(struct map *);
} events[] = {
	{ "ADT", "A01", MAP_ADT, map_adt },	/* admit */
	{ "ADT", "A03", MAP_ADT, map_adt },	/* discharge */
	{ "ADT", "A04", MAP_ADT, map_adt },	/* register an outpatient */
	{ "ADT", "A08", MAP_ADT, map_adt },	/* update patient information */
	{ "ADT", "A28", MAP_ADT, map_adt },	/* add person */
	{ "ADT", "A31", MAP_ADT, map_adt },	/* update person */
	{ "ADT", "A40", MAP_ADT, map_adt_merge },	/* merge patient identifier list */
	{ "ORU", "R01", MAP_RESULT, map_results },
	{ "OUL", "R22", MAP_RESULT, map_results },
	{ "ORM", "O01", MAP_ORDER, map_orders },
	{ "OML", "O21", MAP_ORDER, map_orders },
};

int map_fail(struct map *mp, int code, long seg, int field, int comp, int hl7code,
	     const char *fmt, ...)
{
	char msg[ERR_DIAG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (mp->at) {
		memset(mp->at, 0, sizeof(*mp->at));
		if (seg >= 0) {
			snprintf(mp->at->segment, sizeof(mp->at->segment), "%s",
				 hl7v2_segment_name(mp->m, (size_t)seg));
			mp->at->seq = (int)seg + 1;
		}
		mp->at->field = field;
		mp->at->component = comp;
		mp->at->code = hl7code;
	}
	return err_set(mp->e, code, NULL, "%s", msg);
}

/* ---- names ---------------------------------------------------------------- */

const char *map_urn_part(struct map *mp, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s), k = 0;
	char *out = arena_alloc(&mp->a, 3 * n + 1);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '~' || ch == '-') {
			out[k++] = (char)ch;
		} else {
			out[k++] = '%';
			out[k++] = hex[ch >> 4];
			out[k++] = hex[ch & 15];
		}
	}
	out[k] = '\0';
	return out;
}

static int is_oid(const char *s)
{
	int dot = 0;

	if (!s || !*s || *s == '.')
		return 0;
	for (; *s; s++) {
		if (*s == '.')
			dot = 1;
		else if (*s < '0' || *s > '9')
			return 0;
	}
	return dot;
}

const char *map_system(struct map *mp, const char *ns, const char *uid, const char *uid_type,
		       const char *deflt, const char *kind)
{
	const char *scope = ns ? ns : deflt;
	char *out;
	size_t n;

	if (uid && is_oid(uid)) {	/* ISO universal id, whatever uid_type says */
		n = strlen(uid) + sizeof("urn:oid:");
		out = arena_alloc(&mp->a, n);
		if (out)
			snprintf(out, n, "urn:oid:%s", uid);
		return out;
	}
	if (uid && (!strncmp(uid, "http://", 7) || !strncmp(uid, "https://", 8) ||
		    !strncmp(uid, "urn:", 4)))
		return uid;
	if (!scope)
		scope = mp->sender;
	scope = map_urn_part(mp, scope);
	kind = map_urn_part(mp, kind);
	if (!scope || !kind)
		return NULL;
	n = strlen(MAP_ID_PREFIX) + strlen(scope) + strlen(kind) + 2;
	out = arena_alloc(&mp->a, n);
	if (out)
		snprintf(out, n, MAP_ID_PREFIX "%s:%s", scope, kind);
	return out;
}

int map_url_token(struct buf *b, const char *system, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *parts[2] = { system, value };
	int rc = 0;

	for (int k = 0; k < 2 && !rc; k++) {
		if (k)
			rc = buf_putc(b, '|');
		for (const char *s = parts[k]; *s && !rc; s++) {
			unsigned char ch = (unsigned char)*s;

			/* FHIR search escapes first, then the URL's. */
			if (ch == '|' || ch == ',' || ch == '$' || ch == '\\')
				rc = buf_append(b, "%5C", 3);
			if (rc)
				break;
			if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			    (ch >= '0' && ch <= '9') || strchr("-._~:/", ch))
				rc = buf_putc(b, (char)ch);
			else
				rc = buf_printf(b, "%%%c%c", hex[ch >> 4], hex[ch & 15]);
		}
	}
	return rc;
}

char *map_base64(struct map *mp, const char *p, size_t n)
{
	char *out = arena_alloc(&mp->a, (n + 2) / 3 * 4 + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)p, (int)n);
	return out;
}

/* ---- the Bundle ----------------------------------------------------------- */

/*
 * Results (Observation, DiagnosticReport, Specimen) keyed by one business
 * identifier get an id derived from it: the first 32 hex digits of SHA-256
 * of "Type?identifier=system|value". A PUT to that id creates the resource
 * or updates it, like the conditional update it replaces, without the
 * search the transaction would run for it (twice: to plan, and in the
 * commit), which was most of the cost of a ten-result ORU (decision 0014).
 * Patients, Encounters and orders stay conditional: they may have been
 * written by other means, under other ids.
 */
static const char *derived_id_url(struct map *mp, json_object *res, const char *url)
{
	static const char *const types[] = { "Observation?identifier=", "DiagnosticReport?identifier=",
					      "Specimen?identifier=" };
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdn = 0;
	char id[33], *out;
	size_t k;

	for (k = 0; k < sizeof(types) / sizeof(types[0]); k++)
		if (!strncmp(url, types[k], strlen(types[k])))
			break;
	if (k == sizeof(types) / sizeof(types[0]) || strchr(url, ',') ||
	    !EVP_Digest(url, strlen(url), md, &mdn, EVP_sha256(), NULL) || mdn < 16)
		return url;
	for (int i = 0; i < 16; i++)
		snprintf(id + 2 * i, 3, "%02x", md[i]);
	out = arena_alloc(&mp->a, strlen(url) + sizeof(id));
	if (!out)
		return url;
	snprintf(out, strlen(url) + sizeof(id), "%.*s/%s", (int)(strchr(url, '?') - url), url, id);
	jstr(res, "id", id);
	return out;
}

int map_entry(struct map *mp, json_object *res, const char *method, const char *url,
	      const char *if_none_exist, char urn[MAP_URN_LEN])
{
	const char *key = if_none_exist ? if_none_exist : url;
	json_object *entry = NULL, *req = NULL, *seen;
	char uuid[UUID_STR_LEN + 1];
	char full[MAP_URN_LEN];
	char keybuf[MAP_URL_MAX + 64];

	snprintf(keybuf, sizeof(keybuf), "%s %s", json_get_str(res, "resourceType"), key);
	if (json_object_object_get_ex(mp->keys, keybuf, &seen)) {
		snprintf(urn, MAP_URN_LEN, "%s", json_object_get_string(seen));
		json_object_put(res);
		return 0;
	}
	if (rand_uuid(uuid)) {
		json_object_put(res);
		return map_fail(mp, ERR_INTERNAL, -1, 0, 0, 207, "cannot draw a random id");
	}
	snprintf(full, sizeof(full), "urn:uuid:%s", uuid);
	entry = json_object_new_object();
	req = json_object_new_object();
	if (!entry || !req) {
		json_object_put(entry);
		json_object_put(req);
		json_object_put(res);
		return map_fail(mp, ERR_NOMEM, -1, 0, 0, 207, "out of memory");
	}
	jstr(entry, "fullUrl", full);
	if (!strcmp(method, "PUT"))
		url = derived_id_url(mp, res, url);
	jset(entry, "resource", res);
	jstr(req, "method", method);
	jstr(req, "url", url);
	jstr(req, "ifNoneExist", if_none_exist);
	jset(entry, "request", req);
	json_object_array_add(mp->entries, entry);
	json_object_object_add(mp->keys, keybuf, json_object_new_string(full));
	snprintf(urn, MAP_URN_LEN, "%s", full);
	return 0;
}

/* ---- the call ------------------------------------------------------------- */

/* "+hh:mm" from the end of MSH-7, else the default. */
static void message_tz(struct map *mp)
{
	const char *t = v2_str(mp, 0, 7, 0, 1, 0);
	size_t n = t ? strlen(t) : 0;

	snprintf(mp->tz, sizeof(mp->tz), "%s", MAP_TZ_DEFAULT);
	if (n > 5 && (t[n - 5] == '+' || t[n - 5] == '-') &&
	    strspn(t + n - 4, "0123456789") == 4)
		snprintf(mp->tz, sizeof(mp->tz), "%c%.2s:%.2s", t[n - 5], t + n - 4, t + n - 2);
}

static const char *hstr(struct map *mp, struct hl7v2_str s)
{
	const char *p = s.p;
	size_t n = s.n;

	while (n && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (!p || !n || (n == 2 && p[0] == '"' && p[1] == '"'))
		return NULL;
	return arena_strndup(&mp->a, p, n);
}

int hl7v2_map(const struct hl7v2_msg *m, const struct hl7v2_map_opts *o, json_object **bundle,
	      struct err *e, struct hl7v2_where *at)
{
	static const struct hl7v2_map_opts no_opts = { 0 };
	struct map mp = { .m = m, .o = o ? o : &no_opts, .e = e, .at = at };
	int rc = 0, known_code = 0;
	size_t i;

	*bundle = NULL;
	arena_init(&mp.a, MAP_ARENA_BYTES);
	hl7v2_header(m, &mp.h);
	mp.code = hstr(&mp, mp.h.message_code);
	mp.event = hstr(&mp, mp.h.trigger);
	if (!mp.event && hl7v2_find(m, "EVN", 0) > 0)
		mp.event = v2_str(&mp, hl7v2_find(m, "EVN", 0), 1, 0, 1, 0);
	mp.sender = hstr(&mp, mp.h.sending_facility);
	if (!mp.sender)
		mp.sender = mp.o->facility && *mp.o->facility ? mp.o->facility : NULL;
	mp.receiver = hstr(&mp, mp.h.receiving_facility);
	mp.control_id = hstr(&mp, mp.h.control_id);
	message_tz(&mp);

	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		if (mp.code && !strcmp(mp.code, events[i].code)) {
			known_code = 1;
			if (mp.event && !strcmp(mp.event, events[i].event))
				break;
		}
	}
	if (i == sizeof(events) / sizeof(events[0])) {
		rc = known_code ? map_fail(&mp, ERR_NOT_SUPPORTED, 0, 9, 2, 201,
					   "MSH-9: event %s^%s is not mapped to FHIR (mapped: ADT "
					   "A01 A03 A04 A08 A28 A31 A40, ORU^R01, OUL^R22, ORM^O01, "
					   "OML^O21)", mp.code, mp.event ? mp.event : "(none)")
				: map_fail(&mp, ERR_NOT_SUPPORTED, 0, 9, 1, 200,
					   "MSH-9: message type %s is not mapped to FHIR (mapped: ADT, "
					   "ORU, OUL, ORM, OML)", mp.code ? mp.code : "(none)");
		goto out;
	}
	if (!mp.sender) {
		rc = map_fail(&mp, ERR_INVALID, 0, 4, 1, 101,
			      "MSH-4 sending facility is empty and no facility is configured: the "
			      "identifiers the message assigns cannot be told from another "
			      "hospital's");
		goto out;
	}
	mp.kind = events[i].kind;
	mp.bundle = json_object_new_object();
	mp.entries = json_object_new_array();
	mp.keys = json_object_new_object();
	if (!mp.bundle || !mp.entries || !mp.keys) {
		json_object_put(mp.entries);
		rc = map_fail(&mp, ERR_NOMEM, -1, 0, 0, 207, "out of memory");
		goto out;
	}
	jstr(mp.bundle, "resourceType", "Bundle");
	jstr(mp.bundle, "type", "transaction");
	jset(mp.bundle, "entry", mp.entries);
	rc = events[i].fn(&mp);
	if (!rc && json_object_array_length(mp.entries) == 0)
		rc = map_fail(&mp, ERR_INVALID, 0, 9, 0, 101,
			      "the %s^%s message holds nothing to record", mp.code, mp.event);
out:
	if (!rc) {
		*bundle = mp.bundle;
		mp.bundle = NULL;
	}
	json_object_put(mp.bundle);
	json_object_put(mp.keys);
	arena_release(&mp.a);
	return rc;
}
