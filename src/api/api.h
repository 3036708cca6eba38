/*
 * api.h — the FHIR R4 REST interactions, independent of any transport.
 *
 * The HTTP layer (or a test) fills a plain struct api_request and gets a
 * struct api_response back from api_handle(): status, headers and body.
 * No socket is needed, so the whole API is testable in-process.
 *
 * api_handle() may block while a write is made durable (group commit).
 * It is thread-safe: any number of threads may call it at once on one
 * struct api. Request and response are owned by the caller. With an
 * export_dir, api_new starts the $export workers (background threads that
 * read the store) and api_free stops them.
 */
#ifndef LT_API_API_H
#define LT_API_API_H

#include <stddef.h>
#include <stdint.h>
#include "../base/buf.h"
#include "../base/err.h"
#include "../store/store.h"

#define API_MAX_QUERY_PARAMS 100

struct api_limits {
	size_t max_body_bytes;		/* larger bodies: 413 */
	size_t max_url_bytes;		/* longer path + query: 414 */
	int max_json_depth;		/* deeper JSON: 400 */
};

struct api_config {
	struct api_limits limits;
	const char *base_url;		/* fixed public base, e.g. https://emr.example.vn/fhir; NULL: from Host */
	int delete_multiple;		/* a conditional delete may delete several (else 412) */
	size_t max_bundle_entries;	/* larger Bundles: 413; 0: no limit */
	/* Bulk Data $export (export.c): jobs live in export_dir (NULL: $export
	 * answers 501), run on export_threads background threads, and are
	 * deleted export_expire_s after they finish. */
	const char *export_dir;
	int export_threads;		/* 0: 1 */
	int64_t export_expire_s;	/* 0: 24 h */
	int64_t export_file_resources;	/* resources per output file; 0: 100,000 */
	int export_page_rows;		/* resources per store page; 0: 4096 (tests: small) */
	/* Security (auth.c, decision 0018). keys_dir NULL: no authentication,
	 * every request may do everything (in-process callers; a loopback
	 * server started with --auth off). */
	const char *keys_dir;		/* the token-signing keys (DATA/keys/signing) */
	const char *issuer;		/* iss of the tokens issued; NULL: "lienthong" */
	const char *audience;		/* aud of the tokens issued and required; NULL: issuer */
	int64_t token_ttl_s;		/* access token lifetime; 0: 900 */
	int max_failures;		/* failed logins in a row that lock an account; 0: 5 */
	int64_t lock_s;			/* how long; 0: 900 */
	int64_t inactive_days;		/* a user unused this long is refused; 0: 45 */
	const char *oidc_issuer;	/* an external OpenID Connect provider whose tokens */
	const char *oidc_jwks_file;	/* (iss, and signed by a key of this JWKS file) */
	const char *oidc_audience;	/* are accepted too, for users of our directory */
	int audit;			/* record every request for health data in the audit trail */
	double rate_limit;		/* requests per second per account (burst: twice); 0: none */
	double login_rate_limit;	/* requests per second per address to /auth/; 0: none */
	int64_t refresh_ttl_s;		/* an app's refresh token lifetime; 0: 30 days */
	int64_t code_ttl_s;		/* an authorization code's lifetime; 0: 60 s */
};

struct api;

struct api_param {
	const char *name;		/* decoded */
	const char *value;		/* decoded */
};

struct api_request {
	const char *method;		/* "GET", "POST", ... */
	const char *path;		/* decoded path after the host, e.g. "/fhir/Patient/1" */
	struct api_param params[API_MAX_QUERY_PARAMS];
	int n_params;
	int too_many_params;		/* set by the transport when it had to drop some */
	size_t url_len;			/* length of path + query as received */
	int body_too_large;		/* set by the transport when it stopped reading the body */
	int body_nomem;			/* ... because memory ran out, not because of its size */
	/* Headers, NULL when absent. */
	const char *host;
	const char *accept;
	const char *content_type;
	const char *if_match;
	const char *if_none_match;
	const char *if_none_exist;
	const char *prefer;
	const char *authorization;
	const char *tenant;		/* X-Lienthong-Tenant: the facility code to act in */
	const char *break_glass;	/* X-Break-Glass: the reason for an emergency access */
	const char *peer;		/* the client's address, for the audit trail; NULL: unknown */
	int https;			/* it came over TLS: links say https:// */
	const char *body;		/* NULL or body_len bytes */
	size_t body_len;
};

struct api_response {
	int status;
	const char *content_type;	/* static string; NULL with no body */
	char etag[32];			/* "" when none */
	char last_modified[40];
	struct buf location;		/* Location header, empty when none */
	struct buf body;
	const char *allow;		/* Allow header for 405 */
	struct buf headers;		/* other headers: "name\0value\0" pairs */
	/* A body too large to hold in memory: an open file, sent from disk by
	 * the transport, which then owns (and closes) file_fd. */
	int has_file;
	int file_fd;
	uint64_t file_size;
};

void api_response_init(struct api_response *res);
void api_response_release(struct api_response *res);	/* closes file_fd if still held */
/* Adds a header (Content-Location, Retry-After, ...); copies both strings. */
int api_response_add_header(struct api_response *res, const char *name,
			    const char *value) LT_MUST_CHECK;

int api_new(const struct api_config *cfg, struct store *st, struct api **out, struct err *e) LT_MUST_CHECK;
void api_free(struct api *api);

/* Always fills res (an OperationOutcome for errors); returns its status. */
int api_handle(struct api *api, const struct api_request *req, struct api_response *res);

/* One NDJSON line of a bulk load. */
struct api_load_item {
	const char *p;
	size_t n;
};

/* Told of each line that could not be loaded (i: its index in items). */
typedef void (*api_load_fn)(void *arg, size_t i, const struct err *e);

/*
 * Loads n NDJSON resources (load.c), each on its own: validated and
 * indexed like any write, a resource with an id kept under it (created or
 * a new version), one without given a new id. A bad line goes to on_fail
 * and the rest still load. dry_run only validates. *loaded counts the
 * lines that loaded (or would). Returns 0, or a failure of the whole call
 * (ERR_NOMEM).
 */
int api_load(struct api *api, const struct api_load_item *items, size_t n, int dry_run,
	     api_load_fn on_fail, void *arg, size_t *loaded) LT_MUST_CHECK;

/* Rebuilds the search index of every current resource of tenant, online
 * (reindex.c). progress, when not NULL, is called after each batch. */
/*
 * One HL7 v2 message in (hl7.c): parsed, mapped to FHIR, committed in one
 * transaction with its message log entry, and answered: ack gets the
 * acknowledgment to send (unframed; empty: send nothing), built only once
 * the outcome is durable. Returns 1 when the message is accepted (its data
 * are stored, now or when it came before), 0 when it is refused (AE/AR, or
 * no answer when MSH-15 asks for none).
 */
struct api_hl7v2_message {
	const char *raw;		/* the message as received */
	size_t raw_len;
	int truncated;			/* raw is only the start of a longer message */
	const char *peer;		/* where it came from, for the log */
	int64_t received_ms;		/* 0: now */
	int64_t replay_mid;		/* processing this log entry again; 0: a new message */
};
int api_hl7v2(struct api *api, const struct api_hl7v2_message *msg, struct buf *ack);

/* Rebuilds the search index of every tenant of st, online (reindex.c),
 * with the generated parameters and the store's custom ones. */
typedef void (*api_reindex_progress_fn)(void *arg, int64_t done, int64_t total);
int api_reindex(struct store *st, api_reindex_progress_fn progress, void *arg,
		struct err *e) LT_MUST_CHECK;

/*
 * Security (auth.c). api_token_issue signs an access token for p: scope
 * NULL or "" asks for all p may have; what was granted goes to granted;
 * patient sets the patient context (a patient's own account has theirs).
 * Used by /auth/token and `lienthong token`. A client's secret is stored
 * as api_client_secret_hash gives it ("sha256:HEX").
 */
int api_token_issue(struct api *api, const struct store_principal *p, const char *scope,
		    const char *patient, struct buf *token, struct buf *granted,
		    struct err *e) LT_MUST_CHECK;
#define API_SECRET_HASH_MAX 72
/* Roles (bits) from "admin clinician ..."; *unknown points at the first
 * word that is not a role, or is NULL. */
unsigned api_roles_parse(const char *s, const char **unknown);
void api_client_secret_hash(const char *secret, char out[API_SECRET_HASH_MAX]);

/* Fills res with an OperationOutcome for code, for errors a transport meets
 * before it can call api_handle (e.g. the server is shutting down). */
void api_error(struct api_response *res, int code, const char *diagnostics);

#endif
