/*
 * audit.c — the store's audit trail as FHIR R4 AuditEvent (decision 0016).
 *
 *   GET [base]/AuditEvent?patient=&agent=&date=&_count=   searchset, newest first
 *   GET [base]/Patient/[id]/AuditEvent                    the same for one patient
 *   GET [base]/AuditEvent/[seq]                           one record
 *
 * The records live in the store's audit table, not among the resources:
 * they are rendered here on the way out and cannot be written through the
 * API (api.c answers 405). Paging is by keyset on seq: `next` carries
 * _cursor=<the last seq of the page>, so new records never shift a page.
 */
#include "api_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "../base/json.h"
#include "../base/time.h"

#define AUDIT_DEFAULT_COUNT 50
#define AUDIT_MAX_COUNT 1000
#define AUDIT_QUERY_MAX 4096		/* entity text base64-encoded into entity.query */

#define CS_EVENT_TYPE "http://terminology.hl7.org/CodeSystem/audit-event-type"
#define CS_DICOM "http://dicom.nema.org/resources/ontology/DCM"
#define CS_INTERACTION "http://hl7.org/fhir/restful-interaction"
#define CS_ACT_REASON "http://terminology.hl7.org/CodeSystem/v3-ActReason"
#define CS_OBJECT_ROLE "http://terminology.hl7.org/CodeSystem/object-role"
#define CS_ENTITY_TYPE "http://terminology.hl7.org/CodeSystem/audit-entity-type"
#define CS_SOURCE_TYPE "http://terminology.hl7.org/CodeSystem/security-source-type"

static const char *const audit_params[] = { "patient", "agent", "date", "_count", "_cursor", NULL };

/* The codes of http://hl7.org/fhir/restful-interaction. */
static const char *const interactions[] = {
	"read", "vread", "update", "patch", "delete", "history", "history-instance",
	"history-type", "history-system", "create", "search", "search-type", "search-system",
	"search-compartment", "capabilities", "transaction", "batch", "operation",
};

static int is_interaction(const char *s)
{
	for (size_t i = 0; i < sizeof(interactions) / sizeof(interactions[0]); i++)
		if (!strcmp(interactions[i], s))
			return 1;
	return 0;
}

/* "Type/id" or "Type/id/_history/v" of a known type. */
static int is_reference(const char *s)
{
	const char *slash = strchr(s, '/'), *id, *end;

	if (!slash || fhir_resource_type_index(s, (size_t)(slash - s)) < 0)
		return 0;
	id = slash + 1;
	end = strchr(id, '/');
	if (!end)
		return fhir_id_valid(id, strlen(id));
	return fhir_id_valid(id, (size_t)(end - id)) && !strncmp(end, "/_history/", 10) &&
	       fhir_id_valid(end + 10, strlen(end + 10));
}

/* An IP address (v4 or v6, maybe with a port) rather than a host name. */
static int looks_like_ip(const char *s)
{
	return *s && strspn(s, "0123456789abcdefABCDEF.:[]") == strlen(s) &&
	       strpbrk(s, "0123456789") != NULL;
}

static int put_kv(struct buf *b, const char *sep, const char *key, const char *value)
{
	int rc = buf_printf(b, "%s\"%s\":", sep, key);

	return rc ? rc : json_write_string(b, value);
}

static int put_coding(struct buf *b, const char *system, const char *code, const char *display)
{
	int rc = buf_putc(b, '{');

	if (!rc && system)
		rc = put_kv(b, "", "system", system);
	if (!rc)
		rc = put_kv(b, system ? "," : "", "code", code);
	if (!rc && display)
		rc = put_kv(b, ",", "display", display);
	return rc ? rc : buf_putc(b, '}');
}

static int put_base64(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	unsigned char out[4 * ((AUDIT_QUERY_MAX + 2) / 3) + 1];

	if (n > AUDIT_QUERY_MAX)
		n = AUDIT_QUERY_MAX;
	EVP_EncodeBlock(out, (const unsigned char *)s, (int)n);
	return buf_printf(b, "\"%s\"", out);
}

/* The patient entity: the record whose access this was. */
static int put_patient_entity(struct buf *b, const char *patient)
{
	int rc = buf_puts(b, "{\"what\":{");

	if (!rc)
		rc = put_kv(b, "", "reference", patient);
	if (!rc)
		rc = buf_puts(b, "},\"type\":");
	if (!rc)
		rc = put_coding(b, CS_ENTITY_TYPE, "1", "Person");
	if (!rc)
		rc = buf_puts(b, ",\"role\":");
	if (!rc)
		rc = put_coding(b, CS_OBJECT_ROLE, "1", "Patient");
	return rc ? rc : buf_putc(b, '}');
}

/* What was accessed: a reference, a query ("Observation?code=..."), or a name. */
static int put_entities(struct buf *b, const struct store_audit *a)
{
	const char *entity = a->entity ? a->entity : "", *patient = a->patient ? a->patient : "";
	int same = *patient && !strcmp(entity, patient), rc = 0, any = 0;

	if (!*entity && !*patient)
		return 0;
	rc = buf_puts(b, ",\"entity\":[");
	if (!rc && *entity && !same) {
		any = 1;
		if (is_reference(entity)) {
			rc = buf_puts(b, "{\"what\":{");
			if (!rc)
				rc = put_kv(b, "", "reference", entity);
			if (!rc)
				rc = buf_puts(b, "}}");
		} else if (strchr(entity, '?')) {
			rc = buf_puts(b, "{\"role\":");
			if (!rc)
				rc = put_coding(b, CS_OBJECT_ROLE, "24", "Query");
			if (!rc)
				rc = put_kv(b, ",", "description", entity);
			if (!rc)
				rc = buf_puts(b, ",\"query\":");
			if (!rc)
				rc = put_base64(b, entity);
			if (!rc)
				rc = buf_putc(b, '}');
		} else {
			rc = put_kv(b, "{", "name", entity);
			if (!rc)
				rc = buf_putc(b, '}');
		}
	}
	if (!rc && *patient) {
		if (any)
			rc = buf_putc(b, ',');
		if (!rc)
			rc = put_patient_entity(b, patient);
	}
	return rc ? rc : buf_putc(b, ']');
}

int api_audit_event_json(const struct store_audit *a, const char *base, struct buf *out)
{
	const char *subtype = a->subtype ? a->subtype : "", *detail = a->detail ? a->detail : "";
	const char *source = a->source ? a->source : "", *purpose = a->purpose ? a->purpose : "";
	int glass = (a->flags & STORE_AUDIT_BREAK_GLASS) != 0;
	char when[TIME_INSTANT_LEN + 1];
	const char *outcome = a->outcome >= 500 ? "8" : a->outcome >= 400 ? "4" : "0";
	int rc;

	time_format_instant(a->at_ms, when);
	rc = buf_printf(out, "{\"resourceType\":\"AuditEvent\",\"id\":\"%lld\","
			"\"meta\":{\"lastUpdated\":\"%s\"", (long long)a->seq, when);
	if (!rc && glass) {
		rc = buf_puts(out, ",\"security\":[");
		if (!rc)
			rc = put_coding(out, CS_ACT_REASON, "BTG", "break the glass");
		if (!rc)
			rc = buf_putc(out, ']');
	}
	if (!rc)
		rc = buf_puts(out, "},\"type\":");
	if (!rc) {
		if (!strncmp(subtype, "search", 6))
			rc = put_coding(out, CS_DICOM, "110112", "Query");
		else if (!strcmp(subtype, "login") || !strcmp(subtype, "logout"))
			rc = put_coding(out, CS_DICOM, "110114", "User Authentication");
		else
			rc = put_coding(out, CS_EVENT_TYPE, "rest", "RESTful Operation");
	}
	if (!rc && *subtype) {
		rc = buf_puts(out, ",\"subtype\":[");
		if (!rc && is_interaction(subtype))
			rc = put_coding(out, CS_INTERACTION, subtype, NULL);
		else if (!rc && subtype[0] == '$')
			rc = put_coding(out, CS_INTERACTION, "operation", subtype);
		else if (!rc)
			rc = put_coding(out, NULL, subtype, NULL);
		if (!rc)
			rc = buf_putc(out, ']');
	}
	if (!rc && a->action && *a->action)
		rc = put_kv(out, ",", "action", a->action);
	if (!rc)
		rc = buf_printf(out, ",\"recorded\":\"%s\",\"outcome\":\"%s\"", when, outcome);
	if (!rc && *detail && !glass)
		rc = put_kv(out, ",", "outcomeDesc", detail);
	if (!rc && (*purpose || glass)) {
		rc = buf_puts(out, ",\"purposeOfEvent\":[{");
		if (!rc && *purpose) {
			rc = buf_puts(out, "\"coding\":[");
			if (!rc)
				rc = put_coding(out, CS_ACT_REASON, purpose, NULL);
			if (!rc)
				rc = buf_putc(out, ']');
		}
		if (!rc && glass && *detail)	/* the reason given for breaking the glass */
			rc = put_kv(out, *purpose ? "," : "", "text", detail);
		if (!rc)
			rc = buf_puts(out, "}]");
	}
	if (!rc)
		rc = buf_puts(out, ",\"agent\":[{\"who\":{");
	if (!rc)
		rc = put_kv(out, "", "display", a->agent && *a->agent ? a->agent : "anonymous");
	if (!rc)
		rc = buf_puts(out, "},\"requestor\":true");
	if (!rc && *source) {
		rc = put_kv(out, ",\"network\":{", "address", source);
		if (!rc)
			rc = buf_printf(out, ",\"type\":\"%s\"}", looks_like_ip(source) ? "2" : "1");
	}
	if (!rc)
		rc = buf_puts(out, "}],\"source\":{");
	if (!rc && base && *base)
		rc = put_kv(out, "", "site", base);
	if (!rc)
		rc = buf_printf(out, "%s\"observer\":{\"display\":\"lienthong\"},\"type\":[",
				base && *base ? "," : "");
	if (!rc)
		rc = put_coding(out, CS_SOURCE_TYPE, "4", "Application Server");
	if (!rc)
		rc = buf_puts(out, "]}");
	if (!rc)
		rc = put_entities(out, a);
	return rc ? rc : buf_putc(out, '}');
}

/* ---- read and search -------------------------------------------------------- */

struct audit_page {
	struct api_ctx *c;
	struct buf entries;
	int n, limit;
	int more;			/* a record beyond the page exists */
	int64_t last_seq;
	int64_t want_seq;		/* read: the one record asked for */
	int found;
};

#define PAGE_STOP (-1)	/* not an error code: ends the walk early */

static int on_record(void *ctx, const struct store_audit *a)
{
	struct audit_page *p = ctx;
	struct buf *b = &p->entries;
	int rc;

	if (p->n == p->limit) {
		p->more = 1;
		return PAGE_STOP;
	}
	rc = buf_printf(b, "%s{\"fullUrl\":\"%s/AuditEvent/%lld\",\"resource\":", p->n ? "," : "",
			p->c->base, (long long)a->seq);
	if (!rc)
		rc = api_audit_event_json(a, p->c->base, b);
	if (!rc)
		rc = buf_puts(b, ",\"search\":{\"mode\":\"match\"}}");
	p->n++;
	p->last_seq = a->seq;
	return rc ? err_set(&p->c->err, ERR_NOMEM, NULL, "out of memory") : 0;
}

static int on_read(void *ctx, const struct store_audit *a)
{
	struct audit_page *p = ctx;

	if (a->seq != p->want_seq)
		return 0;
	p->found = 1;
	api_set_version_headers(p->c, 1, a->at_ms);
	buf_clear(&p->entries);
	if (api_audit_event_json(a, p->c->base, &p->entries))
		return err_set(&p->c->err, ERR_NOMEM, NULL, "out of memory");
	return 0;
}

static int audit_read(struct api_ctx *c)
{
	struct store_audit_query q = { .tenant = c->api->tenant, .limit = 1 };
	struct audit_page p = { .c = c };
	char *end;
	int rc;

	errno = 0;
	p.want_seq = strtoll(c->id, &end, 10);
	if (*end || errno || p.want_seq < 1 || c->id[0] < '0' || c->id[0] > '9')
		return err_set(&c->err, ERR_NOT_FOUND, NULL, "AuditEvent/%s is not known", c->id);
	q.before_seq = p.want_seq + 1;
	buf_init(&p.entries, 0);
	rc = store_audits(c->api->st, &q, on_read, &p, &c->err);
	if (!rc && !p.found)
		rc = err_set(&c->err, ERR_NOT_FOUND, NULL, "AuditEvent/%s is not known", c->id);
	if (!rc) {
		api_take_body_json(c, &p.entries);
		c->res->status = 200;
	}
	buf_release(&p.entries);
	return rc;
}

/* date=[prefix]value, narrowing [*since, *until). */
static int parse_date(struct api_ctx *c, const char *v, int64_t *since, int64_t *until)
{
	static const char *const prefixes[] = { "eq", "ge", "gt", "le", "lt" };
	int64_t lo, hi, from = 0, to = 0;
	int prefix = 0;

	if (strlen(v) > 2 && v[0] >= 'a' && v[0] <= 'z') {
		for (prefix = 0; prefix < 5 && strncmp(v, prefixes[prefix], 2); prefix++)
			;
		if (prefix == 5)
			return err_set(&c->err, ERR_BAD_REQUEST, NULL,
				       "date on AuditEvent takes the prefixes eq, ge, gt, le and lt");
		v += 2;
	}
	if (time_parse_fhir(v, strlen(v), TIME_DATETIME, &lo, &hi))
		return err_set(&c->err, ERR_BAD_REQUEST, NULL,
			       "date must be a date or dateTime such as 2026-11-22T08:00:00Z");
	switch (prefix) {
	case 0: from = lo; to = hi + 1; break;
	case 1: from = lo; break;
	case 2: from = hi + 1; break;
	case 3: to = hi + 1; break;
	case 4: to = lo; break;
	}
	if (from && (!*since || from > *since))
		*since = from;
	if (to && (!*until || to < *until))
		*until = to;
	return 0;
}

/* The search URL of this request with the parameters understood, _count
 * and, for the next page, _cursor. */
static int put_link(struct buf *b, struct api_ctx *c, const char *relation, int count,
		    int64_t cursor)
{
	struct buf url;
	int rc;

	buf_init(&url, 0);
	rc = buf_puts(&url, c->base);
	if (!rc && c->compartment)
		rc = buf_printf(&url, "/Patient/%s", c->id);
	if (!rc)
		rc = buf_puts(&url, "/AuditEvent?");
	for (int i = 0; !rc && i < c->req->n_params; i++) {
		const struct api_param *p = &c->req->params[i];

		if (strcmp(p->name, "patient") && strcmp(p->name, "agent") && strcmp(p->name, "date"))
			continue;
		rc = buf_printf(&url, "%s=", p->name);
		if (!rc)
			rc = api_put_query_value(&url, p->value ? p->value : "");
		if (!rc)
			rc = buf_putc(&url, '&');
	}
	if (!rc)
		rc = buf_printf(&url, "_count=%d", count);
	if (!rc && cursor > 0)
		rc = buf_printf(&url, "&_cursor=%lld", (long long)cursor);
	if (!rc)
		rc = api_put_link(b, relation, url.p);
	buf_release(&url);
	return rc;
}

int api_audit_search(struct api_ctx *c)
{
	struct store_audit_query q = { .tenant = c->api->tenant };
	struct audit_page p = { .c = c };
	struct buf *b = &c->res->body;
	const char *patient = api_param(c, "patient"), *cursor = api_param(c, "_cursor");
	char ref[FHIR_ID_MAX + 16];
	int rc, count;

	if (c->id[0] && !c->compartment)
		return audit_read(c);
	if (c->compartment && strcmp(c->compartment, "Patient"))
		return err_set(&c->err, ERR_NOT_SUPPORTED, NULL,
			       "AuditEvent is searched by patient, not in the %s compartment",
			       c->compartment);
	if ((rc = api_check_params(c, audit_params)) ||
	    (rc = api_parse_count(c, AUDIT_DEFAULT_COUNT, AUDIT_MAX_COUNT, &count)))
		return rc;
	if (c->compartment) {
		snprintf(ref, sizeof(ref), "Patient/%s", c->id);
		q.patient = ref;
	} else if (patient) {
		const char *id = !strncmp(patient, "Patient/", 8) ? patient + 8 : patient;

		if (!fhir_id_valid(id, strlen(id)))
			return err_set(&c->err, ERR_BAD_REQUEST, NULL,
				       "patient must be Patient/[id] or [id]");
		snprintf(ref, sizeof(ref), "Patient/%s", id);
		q.patient = ref;
	}
	q.agent = api_param(c, "agent");
	for (int i = 0; i < c->req->n_params; i++)
		if (!strcmp(c->req->params[i].name, "date") &&
		    (rc = parse_date(c, c->req->params[i].value ? c->req->params[i].value : "",
				     &q.since_ms, &q.until_ms)))
			return rc;
	if (q.since_ms && q.until_ms && q.since_ms >= q.until_ms)
		count = 0;	/* an empty interval */
	if (cursor) {
		char *end;

		errno = 0;
		q.before_seq = strtoll(cursor, &end, 10);
		if (end == cursor || *end || errno || q.before_seq < 1)
			return err_set(&c->err, ERR_BAD_REQUEST, NULL, "_cursor is not one this server gave");
	}
	q.limit = count + 1;	/* one more tells whether there is a next page */
	buf_init(&p.entries, 0);
	p.limit = count;
	if (count > 0) {
		rc = store_audits(c->api->st, &q, on_record, &p, &c->err);
		if (rc == PAGE_STOP)
			rc = 0;
	}
	if (!rc)
		rc = api_bundle_start(c, "searchset");
	if (!rc && !cursor && !p.more)	/* every match is on this first page */
		rc = buf_printf(b, ",\"total\":%d", p.n);
	if (!rc)
		rc = buf_puts(b, ",\"link\":[");
	if (!rc)
		rc = put_link(b, c, "self", count, q.before_seq);
	if (!rc && p.more && !(rc = buf_putc(b, ',')))
		rc = put_link(b, c, "next", count, p.last_seq);
	if (!rc)
		rc = buf_putc(b, ']');
	rc = api_bundle_end(c, rc, &p.entries, NULL, 0, 0);
	buf_release(&p.entries);
	return rc;
}
