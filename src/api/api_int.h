/*
 * api_int.h — private to src/api: the per-request context shared by the
 * router (api.c), the interactions (rest.c, history.c, search.c), the
 * operations (everything.c, export.c, load.c), the write engine (tx.c)
 * and capability.c.
 */
#ifndef LT_API_API_INT_H
#define LT_API_API_INT_H

#include <json-c/json.h>
#include <pthread.h>
#include "api.h"
#include "../auth/auth.h"
#include "../fhir/fhir.h"

struct arena;

#define API_BASE_MAX 512
#define API_WRITE_RETRIES 8		/* optimistic-concurrency retries without If-Match */

struct api {
	struct api_config cfg;
	char *base_url;			/* owned copy of cfg.base_url, or NULL */
	struct store *st;
	struct buf capability;		/* CapabilityStatement, compact bytes */
	unsigned capability_gen;	/* of the custom search parameters it lists */
	pthread_mutex_t capability_lock;	/* rebuilt when they change */
	int64_t tenant;			/* requests of in-process callers (HL7, import) act in it */
	struct api_auth *auth;		/* keys and verified tokens (auth.c); NULL: no authentication */
	int index_stale;		/* the store's index was made with another table */
	struct export_jobs *exports;	/* $export jobs and their workers; NULL: disabled */
	struct api_limiter *limiter;	/* request rates (ratelimit.c); NULL: no limits */
	struct api_grants *grants;	/* codes, revoked tokens (grant.c); NULL: no authentication */
};

enum api_return { RETURN_REPRESENTATION, RETURN_MINIMAL, RETURN_OUTCOME };

#define API_ROLE_ADMIN 1u
#define API_ROLE_CLINICIAN 2u
#define API_ROLE_STAFF 4u
#define API_ROLE_WAREHOUSE 8u
#define API_ROLE_PATIENT 16u

/* Who is asking (auth.c), from a verified token. */
struct api_who {
	int all;			/* authentication is off: everything allowed */
	char agent[160];		/* "user/NAME", "client/ID", "anonymous", "local" */
	int64_t principal;
	int64_t tenant;			/* the token's tenant; 0: none */
	unsigned roles;			/* API_ROLE_* */
	char scope[1024];		/* granted SMART scopes */
	char patient[FHIR_ID_MAX + 1];	/* the patient in context; "" */
};

struct api_ctx {
	struct api *api;
	const struct api_request *req;
	struct api_response *res;
	const char *type;		/* resource type (points into the static type table) */
	const char *compartment;	/* Patient/1/Observation: "Patient" (type is Observation) */
	char id[FHIR_ID_MAX + 1];
	char op[64];			/* operation name without '$', "" when none */
	const char *op_rest;		/* path after the operation name, "" when none */
	int64_t vid;			/* from the URL, for vread */
	int pretty;
	int plain_json;			/* answer application/json instead of fhir+json */
	int strict;			/* Prefer: handling=strict */
	enum api_return ret;
	char base[API_BASE_MAX];	/* e.g. http://host:8080/fhir */
	struct store_ix_rows ix;	/* search index rows of the resource being written */
	/* Set by callers inside the API (hl7.c), not by requests: */
	struct json_object *body_json;	/* the body, already parsed (api_parse_body uses it) */
	const struct store_message *message;	/* logged in the transaction's commit */
	/* Security (auth.c). */
	int64_t tenant;			/* the tenant this request acts in */
	struct api_who who;
	int read_only;			/* a warehouse reading another tenant */
	int patient_only;		/* allowed only by patient/ scopes: the patient's compartment */
	int break_glass;		/* an emergency access was asked for */
	unsigned audit_flags;		/* STORE_AUDIT_* */
	const char *audit_interaction;	/* the route's interaction; NULL: not audited */
	const char *audit_action;	/* "C" "R" "U" "D" "E" */
	const char *audit_subtype;	/* overrides the interaction name in the audit record */
	const char *audit_outcome_detail;
	char audit_note[192];		/* room for a detail made per request (oauth.c) */
	/* Last, and zeroed by api_handle only up to err.issue: 36 KiB that
	 * a request would clear for nothing (err_set and a parse of the
	 * scopes fill the entries they count). */
	struct err err;
	struct auth_scopes scopes;	/* who.scope parsed */
};

typedef int (*api_handler_fn)(struct api_ctx *c);

/* Levels an operation is defined at (api.c's operation table). */
#define API_OP_SYSTEM 1u
#define API_OP_TYPE 2u
#define API_OP_INSTANCE 4u

/* api.c */
const char *api_param(const struct api_ctx *c, const char *name);
int api_check_params(struct api_ctx *c, const char *const *allowed);
/* _count: def when absent, at most max; 400 when not a whole number >= 0. */
int api_parse_count(struct api_ctx *c, int def, int max, int *count);
int api_parse_body(struct api_ctx *c, struct json_object **out);
int api_parse_if_match(struct api_ctx *c, int64_t *version);
int api_set_body_json(struct api_ctx *c, const char *json, size_t n);
/* Moves json's bytes into the response body without copying (json is left empty). */
void api_take_body_json(struct api_ctx *c, struct buf *json);
int api_set_outcome(struct api_ctx *c, int status, const char *fmt, ...) LT_PRINTF(3, 4);
void api_set_version_headers(struct api_ctx *c, int64_t version, int64_t last_updated_ms);
int api_set_location(struct api_ctx *c, const char *id, int64_t version);
/* Percent-encodes a query name or value (RFC 3986 unreserved and ':' kept). */
int api_put_query_value(struct buf *b, const char *v) LT_MUST_CHECK;
/* Starts the response body of a Bundle of this type ("searchset", "history"):
 * resourceType, a fresh id, meta.lastUpdated and type, left open. */
int api_bundle_start(struct api_ctx *c, const char *type) LT_MUST_CHECK;
/* Ends a Bundle begun by api_bundle_start, its links written: the entries,
 * then an OperationOutcome entry of warnings (notes; and, when the results
 * came through the search index (indexed) and it is stale, that), then
 * status 200. rc: what writing so far gave; ERR_NOMEM when writing fails. */
int api_bundle_end(struct api_ctx *c, int rc, const struct buf *entries, const char *const *notes,
		   size_t n_notes, int indexed) LT_MUST_CHECK;
/* Appends a Bundle.link object {"relation": relation, "url": url}. */
int api_put_link(struct buf *b, const char *relation, const char *url) LT_MUST_CHECK;

/* tx.c: the write engine (see there). */
enum tx_method { TX_GET = 1, TX_POST, TX_PUT, TX_PATCH, TX_DELETE };
enum tx_state { TX_PENDING, TX_PLANNED, TX_DONE, TX_FAILED };

#define TX_ATOMIC 1u			/* all or nothing (a transaction); else a batch */
#define TX_REFS 2u			/* rewrite fullUrl and conditional references */

struct tx_del {				/* a resource a conditional delete matched */
	char id[FHIR_ID_MAX + 1];
	int64_t version;
	int64_t last_updated_ms;
};

struct tx_entry {
	/* The request, set by the caller (after api_tx_entry_init). */
	enum tx_method method;
	const char *type;		/* static type name */
	char id[FHIR_ID_MAX + 1];	/* PUT/PATCH/DELETE [type]/[id]; "" otherwise */
	const char *query;		/* conditional PUT/PATCH/DELETE: the search, else NULL */
	const char *if_none_exist;	/* POST: conditional create's search, or NULL */
	int64_t if_match;		/* the version required, or -1 */
	int if_none_match;		/* PUT with If-None-Match: * */
	struct json_object *body;	/* POST/PUT: the resource; PATCH: the JSON Patch (borrowed) */
	const char *full_url;		/* Bundle.entry.fullUrl, or NULL */
	/* The outcome. */
	enum tx_state state;		/* TX_DONE or TX_FAILED when api_tx_run returns */
	int status;			/* HTTP status of this entry */
	int noop;			/* nothing written: a create that matched, a delete of nothing */
	int interaction;		/* enum store_interaction of the write */
	char out_id[FHIR_ID_MAX + 1];	/* the resource's id: assigned, matched or given */
	int64_t version, last_updated_ms;
	struct buf stored;		/* the bytes written; a create that matched: the match's */
	struct err err;			/* why it failed */
	/* Private to tx.c. */
	char new_id[FHIR_ID_MAX + 1];
	int64_t expect;
	struct store_ix_rows ix;
	struct tx_del *del;		/* conditional delete: the matches */
	size_t n_del;
	int guard_first, n_guards;
};

void api_tx_entry_init(struct tx_entry *e);
void api_tx_entry_release(struct tx_entry *e);
/*
 * Runs n entries as one transaction (TX_ATOMIC) or as a batch. Returns 0
 * when every entry is done (batch: when the batch ran; see each entry's
 * state), else the failure's code with *failed the entry at fault and its
 * err set. GET entries are left to the caller.
 */
int api_tx_run(struct api_ctx *c, struct tx_entry *e, size_t n, unsigned flags, size_t *failed);
/* The stored form of a resource for tenant: validated (a SearchParameter
 * also as a custom parameter), index rows made, compact bytes. */
int api_prepare(int64_t tenant, const char *type, struct json_object *resource, const char *id,
		int64_t version, int64_t now_ms, struct store_ix_rows *ix, struct buf *out,
		struct err *err);

/* search.c: parses "a=1&b=2" (percent-decoded; '+' a space with
 * plus_is_space) into args allocated in a. */
struct fhir_search_arg;
int api_parse_form(struct arena *a, const char *s, size_t len, int plus_is_space,
		   struct fhir_search_arg *args, size_t *n, size_t max, struct err *e);

/* load.c */
int api_import(struct api_ctx *c);

/* bundle.c */
int api_bundle(struct api_ctx *c);

/* rest.c */
int api_read(struct api_ctx *c);
int api_vread(struct api_ctx *c);
int api_create(struct api_ctx *c);
int api_update(struct api_ctx *c);
int api_delete(struct api_ctx *c);
int api_patch(struct api_ctx *c);

/* search.c */
int api_search(struct api_ctx *c);

/* everything.c */
int api_everything(struct api_ctx *c);

/* reindex.c */
int api_index_check(struct api *api, struct err *e);
int api_index_stale(struct api *api);

/* history.c */
int api_history(struct api_ctx *c);

/* export.c: Bulk Data $export, its status URL and its files */
int api_exports_open(struct api *api, struct err *e);	/* starts the workers, resumes jobs */
void api_exports_close(struct api *api);		/* running jobs pause, to resume */
int api_export_kickoff(struct api_ctx *c);
int api_export_status(struct api_ctx *c);
int api_export_file(struct api_ctx *c);

/* auth.c */
int api_auth_open(struct api *api, struct err *e);
void api_auth_close(struct api *api);
/* Fills c->who, c->scopes and c->tenant from the request's token; 401 without one. */
int api_authenticate(struct api_ctx *c);
/* 0 when c may do perms (AUTH_PERM_*) on type (NULL: every type), else 403. */
int api_allow(struct api_ctx *c, const char *type, unsigned perms);
int64_t api_token_ttl_s(const struct api *api);
const char *api_issuer(const struct api *api);
/* Why an account may not have a token now, or NULL. */
const char *api_account_refusal(const struct api *api, const struct store_principal *p,
				int64_t now_ms);
/* /.well-known/jwks.json: the public signing keys; NULL with authentication off. */
const char *api_auth_jwks(struct api *api);

/* The patient (id) a stored resource concerns; 1 when found. */
int api_resource_patient(const char *type, const char *id, const char *json, size_t n,
			 char *out, size_t outsz);
/* 0 when c may not see this resource (its type is not readable, or a
 * patient's token meets another patient's data). */
int api_may_see(const struct api_ctx *c, const char *type, const char *id, const char *json,
		size_t n);

/* ratelimit.c: token buckets per key. api_limit_take takes one request from
 * key's bucket: 0 when allowed, else the seconds to wait. api_limit answers
 * 429 with Retry-After when c's account (login: c's address) is over its rate. */
int api_limiter_open(struct api *api, struct err *e);
void api_limiter_close(struct api *api);
int64_t api_limit_take(struct api_limiter *l, const char *key, double rate, double burst,
		       int64_t now_ms);
int api_limit(struct api_ctx *c, int login);

/* oauth.c: the public endpoints: /auth/token, /.well-known/...; *handled 0 for others. */
int api_public(struct api_ctx *c, int *handled);
/* The server's root as the client sees it: the FHIR base without "/fhir". */
void api_root(const struct api_ctx *c, char *out, size_t n);

/*
 * grant.c: what the OAuth endpoints remember (decision 0019). A code is
 * made for what a login granted (api_code_new: a random code, code_ttl_s,
 * kept in memory), redeemed once (api_code_redeem; a second use revokes what the
 * first got), and told what its redemption issued (api_code_issued: 1 when
 * it was presented again meanwhile, and then the caller revokes that too).
 * Revocations are durable; api_token_revoked is the cheap question every
 * request asks. api_login_begin waits for one of the few argon2id slots
 * (ERR_BUSY after a while); api_totp_lock serializes the check-and-record
 * of a TOTP step, so one code cannot open two logins.
 */
#define API_REVOKE_MARGIN_S 60		/* a token is refused this long past exp (leeway) */

struct api_code {
	char client[128];		/* client_id */
	char redirect_uri[AUTH_REDIRECT_URI_MAX];
	char challenge[48];		/* PKCE S256 */
	char user[128];			/* the user's name */
	char scope[1024];		/* granted */
	char patient[FHIR_ID_MAX + 1];	/* patient context; "" */
};
enum api_code_state { API_CODE_OK, API_CODE_UNKNOWN, API_CODE_EXPIRED, API_CODE_REUSED };

int api_grants_open(struct api *api, struct err *e);
void api_grants_close(struct api *api);
int api_code_new(struct api *api, const struct api_code *grant, struct buf *code, struct err *e);
enum api_code_state api_code_redeem(struct api *api, const char *code, struct api_code *out);
int api_code_issued(struct api *api, const char *code, const char *jti, int64_t jti_exp_s,
		    const char *family);
int api_token_revoked(struct api *api, const char *jti);
/* exp_s: the token's exp (it stays revoked API_REVOKE_MARGIN_S longer). */
int api_revoke_token(struct api *api, const char *jti, int64_t exp_s, struct err *e);
int api_revoke_family(struct api *api, const char *family, struct err *e);
int api_login_begin(struct api *api, struct err *e);
void api_login_end(struct api *api);
void api_totp_lock(struct api *api);
void api_totp_unlock(struct api *api);

/* authorize.c: GET and POST /auth/authorize, the login page (decision 0019). */
int api_authorize(struct api_ctx *c);


/* assertion.c: client authentication by a signed JWT (private_key_jwt, decision 0020). */
#define API_ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
/*
 * Checks the client_assertion of a token request (client_id: the form's,
 * or NULL). An error code when the store fails; else 0 and either p->id 0
 * (no client of that iss: *why says so), or p the client its iss names
 * with *why NULL when the assertion proves it is that client, or why not
 * (static text, fit for the audit record; never a piece of the token).
 * Does not look at whether the account is disabled or locked.
 */
int api_client_assertion(struct api_ctx *c, const char *assertion, const char *client_id,
			 struct store_principal *p, const char **why);
/* audit.c: the store's audit trail as AuditEvent. api_audit_event_json
 * appends one record as an R4 AuditEvent (base: for source.site; may be
 * NULL); api_audit_search answers GET AuditEvent?..., Patient/[id]/AuditEvent
 * and AuditEvent/[seq]. */
int api_audit_event_json(const struct store_audit *a, const char *base, struct buf *out) LT_MUST_CHECK;
int api_audit_search(struct api_ctx *c);

/* searchparam.c: custom search parameters (decision 0027). Loads the
 * SearchParameter resources of the host's tenant and makes them current. */
int api_search_params_load(struct store *st, struct err *e);
/* A SearchParameter about to be written in tenant: 0, or 422 saying why it
 * cannot be used. */
int api_search_param_check(int64_t tenant, struct json_object *sp, const char *id, struct err *e);
/* After a SearchParameter of the host's tenant was written: reloads the
 * set, and marks the index out of date when its fingerprint changed. */
int api_search_params_changed(struct api *api, struct err *e);

/* capability.c */
int api_capability_build(struct api *api, struct err *e);
int api_metadata(struct api_ctx *c);

#endif
