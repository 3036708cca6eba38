/*
 * hl7.c — HL7 v2 messages in (issue #5): parse, map to a FHIR transaction,
 * commit it together with the message's log entry, acknowledge.
 *
 * Called by the MLLP listener's workers (one message at a time per
 * connection) and by `lienthong hl7 replay`. The answer is built before the
 * commit and sent only after it: an AA means the resources and the log
 * entry are durable, in one store transaction. A message whose sender and
 * control id (MSH-3/4, MSH-10) were accepted before is answered with the
 * ACK sent then, and changes nothing; the store refuses a second accepted
 * log entry, so two copies arriving at once cannot both be applied.
 *
 * Acknowledgment modes (decision 0014): without MSH-15/16 (original mode)
 * every message gets AA, AE or AR. With either (enhanced mode) the answer
 * on the connection is the commit acknowledgment CA/CE/CR, sent as MSH-15
 * asks (AL always, the default; NE never; ER on errors; SU on success).
 * Processing is synchronous, so a CA also means the message was applied.
 *
 * Each message leaves an audit record (decision 0016): agent "hl7/SENDER",
 * the message type as subtype, "message/CONTROL-ID" as entity, the patient
 * of its first Patient write, and 200 for an accepted message, 422 for AE,
 * 400 for AR.
 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/json.h"
#include "../base/log.h"
#include "../base/rand.h"
#include "../base/time.h"
#include "../hl7v2/hl7v2.h"

#define HL7_CHANNEL "hl7v2"
#define HL7_FIELD_MAX 200		/* sender parts and control id kept */

struct hl7_in {
	struct api *api;
	const struct api_hl7v2_message *msg;
	struct hl7v2_msg *m;		/* NULL when it did not parse */
	struct hl7v2_header h;
	char sender[2 * HL7_FIELD_MAX + 2];
	char control_id[HL7_FIELD_MAX + 1];
	int enhanced;			/* MSH-15 or MSH-16 present */
	char accept[3];			/* MSH-15: AL, NE, ER, SU */
};

static void copy_str(char *dst, size_t cap, struct hl7v2_str s)
{
	size_t n = s.p ? (s.n < cap - 1 ? s.n : cap - 1) : 0;

	if (n)
		memcpy(dst, s.p, n);
	dst[n] = '\0';
}

/* The ACK code to send for an outcome (0 accepted, else the error's
 * class), in the message's mode; NULL: send nothing (enhanced NE/ER/SU). */
static const char *ack_code(const struct hl7_in *in, int accepted, int reject,
			    enum hl7v2_ack_code *code)
{
	if (!in->enhanced) {
		*code = accepted ? HL7V2_AA : reject ? HL7V2_AR : HL7V2_AE;
		return accepted ? "AA" : reject ? "AR" : "AE";
	}
	if (!strcmp(in->accept, "NE") || (!strcmp(in->accept, "ER") && accepted) ||
	    (!strcmp(in->accept, "SU") && !accepted))
		return NULL;
	*code = accepted ? HL7V2_CA : reject ? HL7V2_CR : HL7V2_CE;
	return accepted ? "CA" : reject ? "CR" : "CE";
}

/* Our own control id for an ACK: unique without coordination. */
static void new_ack_id(char out[UUID_STR_LEN + 1])
{
	if (rand_uuid(out))
		snprintf(out, UUID_STR_LEN + 1, "%lld", (long long)time_now_ms());
}

/* Builds the answer for an outcome into ack (may stay empty) and fills the
 * log entry's status and answer. */
static int answer(struct hl7_in *in, int accepted, int reject, const struct hl7v2_where *at,
		  const char *text, struct buf *ack, struct store_message *log)
{
	enum hl7v2_ack_code code = HL7V2_AA;
	const char *status = ack_code(in, accepted, reject, &code);
	char id[UUID_STR_LEN + 1];
	int rc = 0;

	buf_clear(ack);
	new_ack_id(id);
	if (status)
		rc = hl7v2_ack(in->m, in->msg->raw, in->msg->raw_len, code, at, text, id, ack);
	log->status = status ? status : accepted ? "AA" : reject ? "AR" : "AE";
	log->accepted = accepted;
	log->note = text ? text : "";
	log->ack = ack->p ? ack->p : "";
	log->ack_len = ack->n;
	return rc;
}

/* The log entry of a message that was not applied: on its own txn. */
static void log_refusal(struct hl7_in *in, struct store_message *log)
{
	struct store_txn txn = { .message = log };
	struct err e = { 0 };

	log->processed_ms = time_now_ms();
	if (store_commit(in->api->st, &txn, &e))
		log_error("hl7: message %s from %s: cannot write the message log: %s",
			  in->control_id, in->sender, err_name(e.code));
}

struct found_ack {
	struct buf *ack;
	int found;
	int rc;
};

static int take_ack(void *arg, const struct store_message *m)
{
	struct found_ack *f = arg;

	f->found = 1;
	buf_clear(f->ack);
	f->rc = buf_append(f->ack, m->ack, m->ack_len);
	return 1;
}

/* The ACK sent when this message was accepted before; 1 when there is one. */
static int earlier_ack(struct hl7_in *in, struct buf *ack)
{
	struct store_message_query q = { .tenant = STORE_DEFAULT_TENANT, .channel = HL7_CHANNEL,
					 .sender = in->sender, .control_id = in->control_id,
					 .accepted_only = 1, .limit = 1 };
	struct found_ack f = { ack, 0, 0 };
	struct err e = { 0 };
	int rc = store_messages(in->api->st, &q, take_ack, &f, &e);

	return (rc == 0 || rc == 1) && f.found && !f.rc;
}

/* Commits the mapped Bundle with the log entry; 0, or the error in c->err. */
/* "Patient/ID" of the first Patient entry of a transaction-response, or "". */
static void first_patient(const struct buf *response, char *out, size_t n)
{
	static const char needle[] = "\"location\":\"Patient/";
	const char *p = response->p ? memmem(response->p, response->n, needle, sizeof(needle) - 1) : NULL;
	size_t len;

	out[0] = '\0';
	if (!p)
		return;
	p += sizeof(needle) - 1 - strlen("Patient/");
	len = strcspn(p + strlen("Patient/"), "/\"") + strlen("Patient/");
	if (len < n)
		snprintf(out, n, "%.*s", (int)len, p);
}

static void audit_message(struct hl7_in *in, const struct store_message *log, const char *patient)
{
	char subtype[64], entity[HL7_FIELD_MAX + 16], agent[sizeof(in->sender) + 8];
	struct store_audit a = { 0 };
	struct err e = { 0 };

	if (!in->api->cfg.audit)
		return;
	snprintf(agent, sizeof(agent), "hl7/%s", in->sender[0] ? in->sender : "?");
	snprintf(subtype, sizeof(subtype), "hl7v2 %.*s^%.*s",
		 (int)(in->m ? in->h.message_code.n : 0), in->m && in->h.message_code.p ? in->h.message_code.p : "",
		 (int)(in->m ? in->h.trigger.n : 0), in->m && in->h.trigger.p ? in->h.trigger.p : "");
	snprintf(entity, sizeof(entity), "message/%s", in->control_id[0] ? in->control_id : "?");
	a.tenant = log->tenant;
	a.at_ms = time_now_ms();
	a.agent = agent;
	a.action = "C";
	a.subtype = subtype;
	a.entity = entity;
	a.patient = patient;
	a.source = log->peer;
	a.outcome = log->accepted ? 200 : log->status && log->status[1] == 'R' ? 400 : 422;
	a.purpose = "TREAT";
	a.detail = log->status ? log->status : "";
	if (store_audit(in->api->st, &a, &e))
		log_error("hl7: cannot audit message %s: %s", in->control_id, e.issue[0].diagnostics);
}

static int commit(struct hl7_in *in, struct json_object *bundle, const struct store_message *log,
		  struct api_ctx *c, char *patient, size_t patient_n)
{
	static const struct api_request post = { .method = "POST", .path = "/fhir" };
	struct api_response res;
	int rc;

	api_response_init(&res);
	c->api = in->api;
	c->tenant = in->api->tenant;
	c->who.all = 1;		/* the interface itself; MLLP has no credentials yet */
	snprintf(c->who.agent, sizeof(c->who.agent), "hl7/%.150s", in->sender);
	c->req = &post;
	c->res = &res;		/* cppcheck-suppress autoVariables ; cleared below */
	c->body_json = bundle;
	c->message = log;
	snprintf(c->base, sizeof(c->base), "%s", in->api->base_url ? in->api->base_url : "");
	rc = api_bundle(c);
	if (!rc)
		first_patient(&res.body, patient, patient_n);
	c->res = NULL;
	api_response_release(&res);
	return rc;
}

int api_hl7v2(struct api *api, const struct api_hl7v2_message *msg, struct buf *ack)
{
	struct hl7_in in = { .api = api, .msg = msg };
	struct store_message log = { .mid = msg->replay_mid, .tenant = STORE_DEFAULT_TENANT,
				     .channel = HL7_CHANNEL, .peer = msg->peer ? msg->peer : "",
				     .received_ms = msg->received_ms ? msg->received_ms : time_now_ms(),
				     .raw = msg->raw, .raw_len = msg->raw_len };
	struct hl7v2_where at = { .code = 207 };
	struct json_object *bundle = NULL;
	struct api_ctx *c = NULL;
	struct err e = { 0 };
	char text[ERR_DIAG_MAX + ERR_EXPR_MAX + 64], patient[FHIR_ID_MAX + 16] = "";
	int rc, reject = 0, accepted = 0;

	log.sender = in.sender;
	log.control_id = in.control_id;
	if (msg->truncated) {
		snprintf(text, sizeof(text), "the message is longer than this server accepts (%zu bytes "
			 "kept); it was not processed", msg->raw_len);
		at.code = 100;
		reject = 1;
		goto refuse;
	}
	if (hl7v2_parse(msg->raw, msg->raw_len, NULL, &in.m, &e, &at)) {
		snprintf(text, sizeof(text), "%s", e.n_issues ? e.issue[0].diagnostics : err_message(e.code));
		reject = at.code >= 200;
		goto refuse;
	}
	hl7v2_header(in.m, &in.h);
	copy_str(in.control_id, sizeof(in.control_id), in.h.control_id);
	copy_str(in.sender, HL7_FIELD_MAX + 1, in.h.sending_app);
	strcat(in.sender, "^");
	copy_str(in.sender + strlen(in.sender), HL7_FIELD_MAX + 1, in.h.sending_facility);
	copy_str(in.accept, sizeof(in.accept), in.h.accept_ack);
	in.enhanced = (in.h.accept_ack.p && in.h.accept_ack.n) || (in.h.app_ack.p && in.h.app_ack.n);
	if (!in.accept[0])
		snprintf(in.accept, sizeof(in.accept), "AL");
	if (!msg->replay_mid && earlier_ack(&in, ack)) {
		log_info("hl7: message %s from %s: accepted before; the same ACK is sent again",
			 in.control_id, in.sender);
		hl7v2_free(in.m);
		store_durable_wait(api->st);	/* that entry may be committed, not yet durable */
		return 1;
	}
	if (hl7v2_map(in.m, NULL, &bundle, &e, &at)) {
		snprintf(text, sizeof(text), "%s", e.n_issues ? e.issue[0].diagnostics : err_message(e.code));
		reject = e.code == ERR_NOT_SUPPORTED;
		goto refuse;
	}
	if (!(c = calloc(1, sizeof(*c)))) {
		snprintf(text, sizeof(text), "out of memory; send it again later");
		goto refuse;
	}
	if ((rc = answer(&in, 1, 0, NULL, NULL, ack, &log))) {
		snprintf(text, sizeof(text), "out of memory; send it again later");
		goto refuse;
	}
	log.processed_ms = time_now_ms();
	rc = commit(&in, bundle, &log, c, patient, sizeof(patient));
	if (!rc) {
		log_info("hl7: message %s from %s (%.*s^%.*s): %s", in.control_id, in.sender,
			 (int)in.h.message_code.n, in.h.message_code.p ? in.h.message_code.p : "",
			 (int)in.h.trigger.n, in.h.trigger.p ? in.h.trigger.p : "", log.status);
		accepted = 1;
		audit_message(&in, &log, patient);
		goto out;
	}
	if (c->err.code == ERR_DUPLICATE && earlier_ack(&in, ack)) {
		log_info("hl7: message %s from %s: accepted at the same time on another connection; "
			 "the same ACK is sent", in.control_id, in.sender);
		accepted = 1;
		goto out;
	}
	/* The data were not stored: say why, naming where in the Bundle the
	 * mapped resource failed (a mapping fault, ours) or what failed. */
	snprintf(text, sizeof(text), "not stored: %s%s%s",
		 c->err.n_issues ? c->err.issue[0].diagnostics : err_message(c->err.code),
		 c->err.n_issues && c->err.issue[0].expression[0] ? " at " : "",
		 c->err.n_issues ? c->err.issue[0].expression : "");
	at = (struct hl7v2_where){ .code = 207 };
refuse:
	if (answer(&in, 0, reject, &at, text, ack, &log))
		buf_clear(ack);
	log_info("hl7: message %s from %s: %s (segment %s, field %d)", in.control_id[0] ? in.control_id : "?",
		 in.sender[0] ? in.sender : "?", log.status, at.segment[0] ? at.segment : "-", at.field);
	log_refusal(&in, &log);
	audit_message(&in, &log, "");
out:
	store_durable_wait(api->st);	/* an answer rests only on durable data */
	json_object_put(bundle);
	free(c);
	hl7v2_free(in.m);
	return accepted;
}
