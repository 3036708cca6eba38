/*
 * oauth.c — the OAuth 2.0 / SMART endpoints: POST /auth/token, POST
 * /auth/revoke, the .well-known documents (decisions 0018, 0019);
 * /auth/authorize is authorize.c.
 *
 * A client proves who it is (client_authenticate) with a secret, by HTTP
 * Basic or in the form (RFC 6749 §2.3.1), or with a signed assertion
 * (RFC 7523, assertion.c, decision 0020); a public app only names itself
 * (client_identify): the PKCE verifier, or the binding of its refresh
 * token, is its proof. Grants: client_credentials, authorization_code
 * (RFC 6749 §4.1, RFC 7636) and refresh_token, rotated at each use (RFC
 * 9700 §4.14.2). Errors are RFC 6749 §5.2 bodies.
 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include "../base/arena.h"
#include "../base/json.h"
#include "../base/time.h"
#include "../base/url.h"
#include "../fhir/search.h"

#define OAUTH_MAX_FIELDS 32		/* fields of a token or revocation request */

static int set_json(struct api_ctx *c, int status, const char *json)
{
	c->res->status = status;
	c->res->content_type = "application/json";
	buf_clear(&c->res->body);
	return buf_puts(&c->res->body, json) ? err_set(&c->err, ERR_NOMEM, NULL, "out of memory") : 0;
}

/* RFC 6749 §5.2 error body. */
static int oauth_error(struct api_ctx *c, int status, const char *error, const char *desc)
{
	struct json_object *o = json_object_new_object();
	struct buf b;
	int rc;

	buf_init(&b, 0);
	json_object_object_add(o, "error", json_object_new_string(error));
	json_object_object_add(o, "error_description", json_object_new_string(desc));
	rc = json_write(&b, o, 0);
	json_object_put(o);
	if (!rc)
		rc = set_json(c, status, b.p);
	buf_release(&b);
	if (!rc && status == 401)
		rc = api_response_add_header(c->res, "WWW-Authenticate", "Basic realm=\"lienthong\"");
	c->audit_outcome_detail = desc;
	return rc;
}

static const char *form_value(const struct fhir_search_arg *args, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(args[i].name, name))
			return args[i].value;
	return NULL;
}

/* client_id and client_secret from HTTP Basic (RFC 6749 §2.3.1), in a. */
static int basic_credentials(struct api_ctx *c, struct arena *a, const char **id,
			     const char **secret)
{
	const char *h = c->req->authorization;
	char *s, *colon;
	size_t len;
	int got;

	*id = *secret = NULL;
	if (!h || strncasecmp(h, "Basic ", 6) != 0)
		return 0;
	h += 6;
	while (*h == ' ')
		h++;
	len = strlen(h);
	if (!len || len % 4 || len > 4096 || !(s = arena_alloc(a, len)))
		return -1;
	got = EVP_DecodeBlock((unsigned char *)s, (const unsigned char *)h, (int)len);
	if (got < 0)
		return -1;
	got -= (h[len - 1] == '=') + (h[len - 2] == '=');
	s[got] = '\0';
	if ((size_t)got != strlen(s) || !(colon = strchr(s, ':')))
		return -1;
	*colon = '\0';
	url_unescape(s, 1);
	url_unescape(colon + 1, 1);
	*id = s;
	*secret = colon + 1;
	return 0;
}

/* A client secret as stored: "sha256:HEX" (secrets are 256 random bits, so
 * a fast hash is enough; passwords of people get argon2id). */
void api_client_secret_hash(const char *secret, char out[API_SECRET_HASH_MAX])
{
	char hex[65];

	auth_sha256_hex(secret, strlen(secret), hex);
	snprintf(out, API_SECRET_HASH_MAX, "sha256:%s", hex);
}

/*
 * The secret way (RFC 6749 §2.3.1): client_id and client_secret by HTTP
 * Basic (id, secret), else in the form. *why_not NULL when the secret is
 * the client's; p->id 0 when there is no such client.
 */
static int secret_check(struct api_ctx *c, const struct fhir_search_arg *args, size_t n,
			const char *id, const char *secret, struct store_principal *p,
			const char **why_not)
{
	char hashed[API_SECRET_HASH_MAX];

	memset(p, 0, sizeof(*p));
	*why_not = "unknown client or wrong secret";
	if (!id) {
		id = form_value(args, n, "client_id");
		secret = form_value(args, n, "client_secret");
	}
	if (!id || !secret || !*id) {
		*why_not = "client credentials are required";
		return 0;
	}
	snprintf(c->who.agent, sizeof(c->who.agent), "client/%.100s", id);
	if (store_principal_get(c->api->st, "client", id, p, &c->err)) {
		memset(p, 0, sizeof(*p));
		if (c->err.code != ERR_NOT_FOUND)
			return c->err.code;
		err_clear(&c->err);
		return 0;
	}
	api_client_secret_hash(secret, hashed);
	if (auth_ct_equal(hashed, strlen(hashed), p->secret, strlen(p->secret)))
		*why_not = NULL;
	return 0;
}

/* An access token issued: the JWT, the scope it carries, its jti and exp. */
struct issued {
	struct buf token, granted;
	char jti[STORE_JTI_MAX];
	int64_t exp_s;
};

static void issued_init(struct issued *t)
{
	memset(t, 0, sizeof(*t));
	buf_init(&t->token, 0);
	buf_init(&t->granted, 0);
}

static void issued_release(struct issued *t)
{
	buf_release(&t->token);
	buf_release(&t->granted);
}

/* jti and exp of a token signed with one of our keys and not expired
 * (read from the public set, so no key leaves auth.c); -1 when it is not
 * such a token. */
static int our_token(struct api *api, const char *token, char jti[STORE_JTI_MAX], int64_t *exp_s)
{
	const char *jwks = api_auth_jwks(api);
	struct auth_jwt_check chk = { .now_s = time_now_ms() / 1000, .leeway_s = API_REVOKE_MARGIN_S };
	struct auth_key **keys = NULL;
	struct json_object *claims = NULL, *exp;
	size_t n = 0;
	struct err e = { 0 };
	const char *id;
	int rc = -1;

	if (jwks && !auth_jwks_parse(jwks, strlen(jwks), &keys, &n, &e) &&
	    !auth_jwt_verify(token, strlen(token), keys, n, &chk, &claims, &e) &&
	    (id = json_get_str(claims, "jti")) && strlen(id) < STORE_JTI_MAX &&
	    json_object_object_get_ex(claims, "exp", &exp)) {
		snprintf(jti, STORE_JTI_MAX, "%s", id);
		*exp_s = json_object_get_int64(exp);
		rc = 0;
	}
	json_object_put(claims);
	auth_keys_free(keys, n);
	return rc;
}

/*
 * An access token for principal p, with scope narrowed to what p holds, in
 * patient's context (may be NULL), into t. A successful login is recorded
 * on p. Returns 0 with *refused set and an OAuth error as the response
 * when the scope gives nothing.
 */
static int token_issue(struct api_ctx *c, const struct store_principal *p, const char *scope,
		       const char *patient, struct issued *t, int *refused)
{
	int rc;

	*refused = 0;
	c->tenant = p->tenant;
	rc = api_token_issue(c->api, p, scope, patient, &t->token, &t->granted, &c->err);
	if (rc == ERR_FORBIDDEN || rc == ERR_BAD_REQUEST) {
		const char *d = c->err.issue[0].diagnostics;

		err_clear(&c->err);
		*refused = 1;
		return oauth_error(c, 400, "invalid_scope", d);
	}
	if (!rc)
		rc = store_principal_login(c->api->st, p->id, 1, time_now_ms(), 0, 0, 0, &c->err);
	return rc;
}

/* The token response (RFC 6749 §5.1) for t; patient and refresh (each may
 * be NULL) passed on as patient and refresh_token. */
static int token_send(struct api_ctx *c, const struct issued *t, const char *patient,
		      const char *refresh)
{
	struct json_object *o = json_object_new_object();
	struct buf b;
	int rc;

	buf_init(&b, 0);
	json_object_object_add(o, "access_token", json_object_new_string(t->token.p));
	json_object_object_add(o, "token_type", json_object_new_string("Bearer"));
	json_object_object_add(o, "expires_in", json_object_new_int64(api_token_ttl_s(c->api)));
	json_object_object_add(o, "scope", json_object_new_string(t->granted.p));
	if (refresh)
		json_object_object_add(o, "refresh_token", json_object_new_string(refresh));
	if (patient && *patient)
		json_object_object_add(o, "patient", json_object_new_string(patient));
	rc = json_write(&b, o, 0);
	json_object_put(o);
	if (!rc)
		rc = set_json(c, 200, b.p);
	buf_release(&b);
	return rc;
}

/*
 * The client of a token request: a secret (secret_check), or a signed
 * assertion (client_assertion_type jwt-bearer and client_assertion, RFC
 * 7523 §2.2; assertion.c), never both. Returns 0 with *p filled, or 0 with
 * *refused set and an OAuth error as the response, or an error code. A
 * wrong secret or a refused assertion of a known client counts towards its
 * lockout; an assertion's refusal is told to the client in general terms
 * and to the audit record in full.
 */
static int client_authenticate(struct api_ctx *c, const struct fhir_search_arg *args, size_t n,
			       struct arena *a, struct store_principal *p, int *refused)
{
	const char *assertion = form_value(args, n, "client_assertion");
	const char *type = form_value(args, n, "client_assertion_type");
	const char *id = NULL, *secret = NULL, *why_not = NULL, *why = NULL;
	int rc;

	*refused = 1;
	if (basic_credentials(c, a, &id, &secret))
		return oauth_error(c, 400, "invalid_request", "malformed Basic credentials");
	if (!assertion && !type)
		rc = secret_check(c, args, n, id, secret, p, &why_not);
	else if (id || form_value(args, n, "client_secret"))	/* one method (RFC 6749 §2.3) */
		return oauth_error(c, 400, "invalid_request",
				   "more than one client authentication method");
	else if (!assertion || !type || strcmp(type, API_ASSERTION_TYPE))
		return oauth_error(c, 401, "invalid_client",
				   "client_assertion_type must be " API_ASSERTION_TYPE
				   ", with a client_assertion");
	else
		rc = api_client_assertion(c, assertion, form_value(args, n, "client_id"), p, &why_not);
	if (rc)
		return rc;
	if (p->id && !why_not)
		why = api_account_refusal(c->api, p, time_now_ms());
	/* Only a failed proof counts towards the lockout. */
	if (p->id && why_not &&
	    store_principal_login(c->api->st, p->id, 0, time_now_ms(),
				  c->api->cfg.max_failures > 0 ? c->api->cfg.max_failures : 5,
				  (c->api->cfg.lock_s > 0 ? c->api->cfg.lock_s : 900) * 1000, 0, &c->err))
		return c->err.code;
	if (!why_not && !why) {
		*refused = 0;
		return 0;
	}
	rc = oauth_error(c, 401, "invalid_client",
			 why ? why : assertion ? "client authentication failed" : why_not);
	if (!why && assertion)
		c->audit_outcome_detail = why_not;
	return rc;
}

/*
 * The token response (RFC 6749 §5.1) for principal p: an access token with
 * scope narrowed to what p holds, in patient's context (may be NULL), and
 * refresh (may be NULL) passed on as refresh_token. A successful login is
 * recorded on p.
 */
static int token_response(struct api_ctx *c, const struct store_principal *p, const char *scope,
			  const char *patient, const char *refresh)
{
	struct issued t;
	int refused, rc;

	issued_init(&t);
	rc = token_issue(c, p, scope, patient, &t, &refused);
	if (!rc && !refused)
		rc = token_send(c, &t, patient, refresh);
	issued_release(&t);
	return rc;
}

/* ---- Apps: authorization code and refresh token (decision 0019) ------------- */

#define REFRESH_BYTES 32		/* random bytes of a refresh token */
#define FAMILY_BYTES 16

/*
 * The public app a request names (by Basic or client_id), if it names one:
 * *p filled and *public set. A public app has no secret to check, so a
 * request that offers one for it is refused here, before
 * client_authenticate could count it towards a lockout: anyone can
 * present a public client_id, and must not be able to lock its users out.
 * Returns 0, or 0 with *refused and an OAuth error as the response.
 */
static int public_client(struct api_ctx *c, const struct fhir_search_arg *args, size_t n,
			 struct arena *a, struct store_principal *p, int *public, int *refused)
{
	const char *id = NULL, *secret = NULL;

	*public = *refused = 0;
	if (basic_credentials(c, a, &id, &secret) || !(id = id ? id : form_value(args, n, "client_id")))
		return 0;	/* client_authenticate answers */
	if (store_principal_get(c->api->st, "client", id, p, &c->err)) {
		if (c->err.code != ERR_NOT_FOUND)
			return c->err.code;
		err_clear(&c->err);
		return 0;
	}
	if (!p->is_public)
		return 0;
	*public = 1;
	snprintf(c->who.agent, sizeof(c->who.agent), "client/%.100s", p->name);
	if (secret || form_value(args, n, "client_secret") || form_value(args, n, "client_assertion")) {
		*refused = 1;
		return oauth_error(c, 401, "invalid_client",
				   "a public app has no secret: it sends its client_id alone");
	}
	return 0;
}

/*
 * The client of an app's request: a public app names itself with
 * client_id alone (PKCE, or its refresh token's binding, is its proof);
 * any other client authenticates as at client_credentials. Same contract
 * as client_authenticate.
 */
static int client_identify(struct api_ctx *c, const struct fhir_search_arg *args, size_t n,
			   struct arena *a, struct store_principal *p, int *refused)
{
	const char *id = form_value(args, n, "client_id"), *why;
	int public, rc;

	if ((rc = public_client(c, args, n, a, p, &public, refused)) || *refused)
		return rc;
	if (public) {
		if ((why = api_account_refusal(c->api, p, time_now_ms()))) {
			*refused = 1;
			return oauth_error(c, 401, "invalid_client", why);
		}
		return 0;
	}
	if ((rc = client_authenticate(c, args, n, a, p, refused)) || *refused)
		return rc;
	if (id && strcmp(id, p->name)) {
		*refused = 1;
		return oauth_error(c, 400, "invalid_request", "client_id is not the client authenticated");
	}
	return 0;
}

static int token_client_credentials(struct api_ctx *c, const struct fhir_search_arg *args,
				    size_t n, struct arena *a)
{
	struct store_principal p;
	int public, refused, rc;

	if ((rc = public_client(c, args, n, a, &p, &public, &refused)) || refused)
		return rc;
	if (public)
		return oauth_error(c, 401, "invalid_client",
				   "a public app cannot use client_credentials: it has no secret");
	if ((rc = client_authenticate(c, args, n, a, &p, &refused)) || refused)
		return rc;
	return token_response(c, &p, form_value(args, n, "scope"), NULL, NULL);
}

/* What a grant gives an app: the user's tokens, and where they come from. */
struct app_grant {
	const char *user;		/* the user's name */
	const char *scope;		/* granted before: the most this grant gives */
	const char *patient;		/* context; "" */
	const char *family;		/* the login's, for a refresh; NULL: a new login */
	int64_t parent;			/* the refresh token used; 0 */
};

/* The refresh token that rotates g (stored as its hash; t's access token
 * noted with it, so revoking the family revokes that too). */
static int refresh_new(struct api_ctx *c, const struct store_principal *client,
		       const struct store_principal *u, const struct app_grant *g,
		       const struct issued *t, struct buf *refresh, char family[STORE_JTI_MAX])
{
	struct store_grant row = { .parent = g->parent, .tenant = u->tenant };
	int64_t now = time_now_ms();
	struct buf fam;
	int rc = 0;

	buf_init(&fam, 0);
	if (g->family)
		snprintf(family, STORE_JTI_MAX, "%s", g->family);
	else if (!(rc = auth_random_token(FAMILY_BYTES, &fam, &c->err)))
		snprintf(family, STORE_JTI_MAX, "%s", fam.p);
	buf_release(&fam);
	if ((!g->family && rc) || (rc = auth_random_token(REFRESH_BYTES, refresh, &c->err)))
		return c->err.code;
	auth_sha256_hex(refresh->p, refresh->n, row.hash);
	snprintf(row.family, sizeof(row.family), "%s", family);
	snprintf(row.client, sizeof(row.client), "%s", client->name);
	snprintf(row.user, sizeof(row.user), "%s", u->name);
	snprintf(row.scope, sizeof(row.scope), "%s", t->granted.p);
	snprintf(row.patient, sizeof(row.patient), "%s", g->patient);
	row.created_ms = now;
	row.expires_ms = now + (c->api->cfg.refresh_ttl_s > 0 ? c->api->cfg.refresh_ttl_s
							      : 30 * 86400) * 1000;
	snprintf(row.jti, sizeof(row.jti), "%s", t->jti);
	row.jti_exp_s = t->exp_s + API_REVOKE_MARGIN_S;
	return store_grant_add(c->api->st, &row, &c->err);
}

/* Whether a granted scope asks for a refresh token. */
static int wants_refresh(const char *scope)
{
	struct auth_scopes *s = malloc(sizeof(*s));
	struct err e = { 0 };
	int yes = s && !auth_scopes_parse(scope, s, &e) &&
		  (auth_scopes_has(s, "offline_access") || auth_scopes_has(s, "online_access"));

	free(s);
	return yes;
}

/* The access token (and, with offline_access or online_access granted, a
 * new refresh token) of g for an app. The scope is g's, narrowed again by
 * what the app and the user may have now. Returns 0 with *refused set and
 * an OAuth error as the response when the account cannot have them. */
static int app_tokens(struct api_ctx *c, const struct store_principal *client,
		      const struct app_grant *g, struct issued *t, struct buf *refresh,
		      char family[STORE_JTI_MAX], int *refused)
{
	struct store_principal u;
	struct buf scope;
	const char *why;
	int rc;

	*refused = 1;
	if (store_principal_get(c->api->st, "user", g->user, &u, &c->err)) {
		if (c->err.code != ERR_NOT_FOUND)
			return c->err.code;
		err_clear(&c->err);
		return oauth_error(c, 400, "invalid_grant", "the user no longer exists");
	}
	snprintf(c->who.agent, sizeof(c->who.agent), "user/%.100s", u.name);
	snprintf(c->audit_note, sizeof(c->audit_note), "client/%.100s", client->name);
	c->audit_outcome_detail = c->audit_note;
	if ((why = api_account_refusal(c->api, &u, time_now_ms())))
		return oauth_error(c, 400, "invalid_grant", why);
	buf_init(&scope, 0);
	rc = auth_grant_scope(g->scope, client->scopes, u.scopes, *g->patient != '\0', &scope,
			      &c->err);
	/* The grant is the most the token may carry: a copy of the user
	 * holding exactly it gets it, extras (launch/patient, ...) included. */
	if (!rc)
		snprintf(u.scopes, sizeof(u.scopes), "%s", scope.p ? scope.p : "");
	if (!rc && !(rc = token_issue(c, &u, u.scopes, g->patient, t, refused)) && !*refused &&
	    our_token(c->api, t->token.p, t->jti, &t->exp_s))
		rc = err_set(&c->err, ERR_INTERNAL, NULL, "the token just signed does not verify");
	if (!rc && !*refused && wants_refresh(t->granted.p))
		rc = refresh_new(c, client, &u, g, t, refresh, family);
	buf_release(&scope);
	if (rc == ERR_BAD_REQUEST) {
		err_clear(&c->err);
		*refused = 1;
		return oauth_error(c, 400, "invalid_scope", "the scope is malformed");
	}
	return rc;
}

/* Revokes what was just issued, after a reuse was seen meanwhile. */
static int revoke_issued(struct api_ctx *c, const struct issued *t, const char *family,
			 const char *why)
{
	struct err e = { 0 };

	if (api_revoke_token(c->api, t->jti, t->exp_s, &e) ||
	    (family && *family && api_revoke_family(c->api, family, &e)))
		return err_set(&c->err, e.code, NULL, "%s", e.issue[0].diagnostics);
	return oauth_error(c, 400, "invalid_grant", why);
}

static const char *const code_refusals[] = {
	[API_CODE_UNKNOWN] = "the code is not known (or the server restarted since)",
	[API_CODE_EXPIRED] = "the code has expired",
	[API_CODE_REUSED] = "the code was used already; the tokens it gave are revoked",
};

#define REFRESH_REUSED "the refresh token was used already: every token of this login is revoked"

/* Issues g's tokens to client and answers with them. A code (NULL for a
 * refresh) or a refresh token used again meanwhile revokes them instead. */
static int app_respond(struct api_ctx *c, const struct store_principal *client,
		       const struct app_grant *g, const char *code)
{
	char family[STORE_JTI_MAX] = "";
	struct issued t;
	struct buf refresh;
	int refused, rc;

	issued_init(&t);
	buf_init(&refresh, 0);
	rc = app_tokens(c, client, g, &t, &refresh, family, &refused);
	if (rc == ERR_CONFLICT) {	/* another use rotated the refresh token first */
		err_clear(&c->err);
		rc = revoke_issued(c, &t, g->family, REFRESH_REUSED);
	} else if (!rc && !refused && code && api_code_issued(c->api, code, t.jti, t.exp_s, family))
		rc = revoke_issued(c, &t, family, code_refusals[API_CODE_REUSED]);
	else if (!rc && !refused)
		rc = token_send(c, &t, g->patient, refresh.n ? refresh.p : NULL);
	issued_release(&t);
	buf_release(&refresh);
	return rc;
}

static int token_authorization_code(struct api_ctx *c, const struct fhir_search_arg *args,
				    size_t n, struct arena *a)
{
	const char *code = form_value(args, n, "code"), *uri = form_value(args, n, "redirect_uri");
	const char *verifier = form_value(args, n, "code_verifier");
	struct store_principal client;
	struct api_code g;
	struct app_grant ag = { 0 };
	enum api_code_state state;
	int refused, rc;

	if (!code || !uri || !verifier)
		return oauth_error(c, 400, "invalid_request",
				   "code, redirect_uri and code_verifier are required");
	if ((rc = client_identify(c, args, n, a, &client, &refused)) || refused)
		return rc;
	if ((state = api_code_redeem(c->api, code, &g)) != API_CODE_OK)
		return oauth_error(c, 400, "invalid_grant", code_refusals[state]);
	/* The code is spent whatever follows: a wrong guess burns it. */
	if (strcmp(g.client, client.name))
		return oauth_error(c, 400, "invalid_grant", "the code was issued to another client");
	if (strcmp(g.redirect_uri, uri))
		return oauth_error(c, 400, "invalid_grant",
				   "redirect_uri is not the one of the authorization request");
	if (!auth_pkce_s256_check(verifier, g.challenge))
		return oauth_error(c, 400, "invalid_grant",
				   "the code_verifier does not match the code_challenge");
	ag.user = g.user;
	ag.scope = g.scope;
	ag.patient = g.patient;
	return app_respond(c, &client, &ag, code);
}

/* A refresh token of client, presented: its grant, or an OAuth error as
 * the response (*refused). A spent one revokes its whole family. */
static int refresh_grant(struct api_ctx *c, const struct store_principal *client,
			 const char *token, struct store_grant *g, int *refused)
{
	char hash[65];
	int rc;

	*refused = 1;
	auth_sha256_hex(token, strlen(token), hash);
	if (store_grant_get(c->api->st, hash, g, &c->err)) {
		if (c->err.code != ERR_NOT_FOUND)
			return c->err.code;
		err_clear(&c->err);
		return oauth_error(c, 400, "invalid_grant", "the refresh token is not known");
	}
	if (strcmp(g->client, client->name))
		return oauth_error(c, 400, "invalid_grant",
				   "the refresh token was issued to another client");
	if (g->revoked_ms)
		return oauth_error(c, 400, "invalid_grant", "the refresh token was revoked");
	if (g->spent) {
		if ((rc = api_revoke_family(c->api, g->family, &c->err)))
			return rc;
		return oauth_error(c, 400, "invalid_grant", REFRESH_REUSED);
	}
	if (g->expires_ms <= time_now_ms())
		return oauth_error(c, 400, "invalid_grant", "the refresh token has expired");
	*refused = 0;
	return 0;
}

/* A refresh may ask for less than the grant, never more (RFC 6749 §6). */
static int refresh_scope(struct api_ctx *c, const char *asked, const char *granted, int *within)
{
	struct auth_scopes *s = malloc(2 * sizeof(*s));
	struct err e = { 0 };
	int rc = 0;

	*within = 0;
	if (!s)
		return err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
	if (!auth_scopes_parse(asked, &s[0], &e) && !auth_scopes_parse(granted, &s[1], &e))
		rc = auth_scopes_within(&s[0], &s[1], within);
	free(s);
	return rc ? err_set(&c->err, rc, NULL, "out of memory") : 0;
}

static int token_refresh(struct api_ctx *c, const struct fhir_search_arg *args, size_t n,
			 struct arena *a)
{
	const char *token = form_value(args, n, "refresh_token"), *asked = form_value(args, n, "scope");
	struct store_principal client;
	struct store_grant g;
	struct app_grant ag = { 0 };
	int refused, within, rc;

	c->audit_subtype = "refresh";
	if (!token || !*token)
		return oauth_error(c, 400, "invalid_request", "refresh_token is required");
	if ((rc = client_identify(c, args, n, a, &client, &refused)) || refused ||
	    (rc = refresh_grant(c, &client, token, &g, &refused)) || refused)
		return rc;
	if (asked && *asked) {
		if ((rc = refresh_scope(c, asked, g.scope, &within)))
			return rc;
		if (!within)
			return oauth_error(c, 400, "invalid_scope",
					   "a refresh may narrow the scope, not widen it");
	}
	ag.user = g.user;
	ag.scope = asked && *asked ? asked : g.scope;
	ag.patient = g.patient;
	ag.family = g.family;
	ag.parent = g.id;
	return app_respond(c, &client, &ag, NULL);
}

/*
 * The form of a POST endpoint (token, revocation), into args (in a): 0,
 * or 0 with *refused and an OAuth error as the response, or an error.
 */
static int post_form(struct api_ctx *c, const char *endpoint, struct arena *a,
		     struct fhir_search_arg *args, size_t *n, int *refused)
{
	*refused = 1;
	if (strcmp(c->req->method, "POST")) {
		c->res->allow = "POST";
		return err_set(&c->err, ERR_METHOD, NULL, "the %s endpoint takes POST", endpoint);
	}
	if (!c->req->content_type ||
	    strncasecmp(c->req->content_type, "application/x-www-form-urlencoded", 33))
		return oauth_error(c, 400, "invalid_request",
				   "the body must be application/x-www-form-urlencoded");
	if (api_parse_form(a, c->req->body, c->req->body_len, 1, args, n, OAUTH_MAX_FIELDS,
			   &c->err)) {
		const char *d = c->err.issue[0].diagnostics;

		err_clear(&c->err);
		return oauth_error(c, 400, "invalid_request", d);
	}
	*refused = 0;
	return 0;
}

static int token_endpoint(struct api_ctx *c)
{
	struct fhir_search_arg args[OAUTH_MAX_FIELDS];
	size_t n = 0;
	struct arena a;
	const char *grant;
	int rc, refused;

	c->audit_subtype = "login";
	arena_init(&a, 0);
	if ((rc = post_form(c, "token", &a, args, &n, &refused)) || refused)
		goto out;
	if (!(grant = form_value(args, n, "grant_type")))
		rc = oauth_error(c, 400, "invalid_request", "grant_type is required");
	else if (!strcmp(grant, "client_credentials"))
		rc = token_client_credentials(c, args, n, &a);
	else if (!strcmp(grant, "authorization_code"))
		rc = token_authorization_code(c, args, n, &a);
	else if (!strcmp(grant, "refresh_token"))
		rc = token_refresh(c, args, n, &a);
	else
		rc = oauth_error(c, 400, "unsupported_grant_type",
				 "this server grants client_credentials, authorization_code and "
				 "refresh_token");
out:
	arena_release(&a);
	return rc;
}

/* ---- Revocation (RFC 7009) ------------------------------------------------------- */

/*
 * A refresh token revokes its family (the tokens of that login, access
 * tokens included); an access token (our JWT) is refused from now until
 * it expires. Any authenticated client may revoke an access token it
 * presents: holding a bearer token is all the proof its use asks for, and
 * revoking can only take access away (decision 0019). An unknown token is
 * answered 200 (RFC 7009 §2.2).
 */
static int revoke_token(struct api_ctx *c, const struct store_principal *client, const char *token)
{
	char jti[STORE_JTI_MAX];
	struct store_grant g;
	int64_t exp_s;
	int rc;

	if (strchr(token, '.')) {
		if (our_token(c->api, token, jti, &exp_s)) {
			c->audit_outcome_detail = "not a live token of ours";
			return 0;
		}
		c->audit_outcome_detail = "access token revoked";
		return api_revoke_token(c->api, jti, exp_s, &c->err);
	}
	auth_sha256_hex(token, strlen(token), g.hash);
	if ((rc = store_grant_get(c->api->st, g.hash, &g, &c->err))) {
		if (rc != ERR_NOT_FOUND)
			return rc;
		err_clear(&c->err);
		c->audit_outcome_detail = "not a token of ours";
		return 0;
	}
	if (strcmp(g.client, client->name))
		return oauth_error(c, 400, "unauthorized_client",
				   "the token was issued to another client");
	c->audit_outcome_detail = "refresh token revoked, with its login's other tokens";
	return api_revoke_family(c->api, g.family, &c->err);
}

static int revoke_endpoint(struct api_ctx *c)
{
	struct fhir_search_arg args[OAUTH_MAX_FIELDS];
	struct store_principal client;
	const char *token;
	struct arena a;
	size_t n = 0;
	int rc, refused;

	c->audit_subtype = "revoke";
	arena_init(&a, 0);
	if ((rc = post_form(c, "revocation", &a, args, &n, &refused)) || refused)
		goto out;
	if (!(token = form_value(args, n, "token")) || !*token)
		rc = oauth_error(c, 400, "invalid_request", "token is required");
	else if (!(rc = client_identify(c, args, n, &a, &client, &refused)) && !refused) {
		/* 200 with nothing to say, unless revoke_token answers an error. */
		c->res->status = 200;
		c->res->content_type = NULL;
		buf_clear(&c->res->body);
		rc = revoke_token(c, &client, token);
	}
out:
	arena_release(&a);
	return rc;
}

static int smart_configuration(struct api_ctx *c)
{
	char root[API_BASE_MAX];
	struct buf b;
	int rc;

	api_root(c, root, sizeof(root));
	buf_init(&b, 0);
	rc = buf_printf(&b,
			"{\"issuer\":\"%s\",\"jwks_uri\":\"%s/.well-known/jwks.json\","
			"\"authorization_endpoint\":\"%s/auth/authorize\","
			"\"token_endpoint\":\"%s/auth/token\","
			"\"revocation_endpoint\":\"%s/auth/revoke\","
			"\"token_endpoint_auth_methods_supported\":[\"client_secret_basic\","
			"\"client_secret_post\",\"private_key_jwt\",\"none\"],"
			"\"token_endpoint_auth_signing_alg_values_supported\":[\"RS384\",\"ES384\","
			"\"ES256\",\"EdDSA\"],"
			"\"revocation_endpoint_auth_methods_supported\":[\"client_secret_basic\","
			"\"client_secret_post\",\"none\"],"
			"\"grant_types_supported\":[\"authorization_code\",\"client_credentials\","
			"\"refresh_token\"],"
			"\"scopes_supported\":[\"system/*.cruds\",\"user/*.cruds\",\"patient/*.rs\","
			"\"launch/patient\",\"offline_access\",\"online_access\"],"
			"\"response_types_supported\":[\"code\"],"
			"\"capabilities\":[\"launch-standalone\",\"client-public\","
			"\"client-confidential-symmetric\",\"client-confidential-asymmetric\","
			"\"authorize-post\",\"context-standalone-patient\",\"permission-offline\","
			"\"permission-online\",\"permission-patient\",\"permission-user\","
			"\"permission-v2\",\"permission-v1\"],"
			"\"code_challenge_methods_supported\":[\"S256\"]}",
			api_issuer(c->api), root, root, root, root);
	if (!rc)
		rc = set_json(c, 200, b.p);
	buf_release(&b);
	return rc ? err_set(&c->err, ERR_NOMEM, NULL, "out of memory") : 0;
}

void api_root(const struct api_ctx *c, char *out, size_t n)
{
	size_t len = strlen(c->base);

	if (len >= 5 && !strcmp(c->base + len - 5, "/fhir"))
		len -= 5;
	snprintf(out, n, "%.*s", (int)len, c->base);
}

int api_public(struct api_ctx *c, int *handled)
{
	const char *path = c->req->path;

	*handled = 1;
	if (!strcmp(path, "/.well-known/smart-configuration") ||
	    !strcmp(path, "/fhir/.well-known/smart-configuration"))
		return smart_configuration(c);
	if (!strcmp(path, "/.well-known/jwks.json")) {
		if (!c->api->auth)
			return err_set(&c->err, ERR_NOT_FOUND, NULL, "authentication is off");
		return set_json(c, 200, api_auth_jwks(c->api));
	}
	if (!strcmp(path, "/auth/token")) {
		if (!c->api->auth)
			return err_set(&c->err, ERR_NOT_FOUND, NULL, "authentication is off");
		return token_endpoint(c);
	}
	if (!strcmp(path, "/auth/authorize") || !strcmp(path, "/auth/revoke")) {
		if (!c->api->auth)
			return err_set(&c->err, ERR_NOT_FOUND, NULL, "authentication is off");
		return path[6] == 'a' ? api_authorize(c) : revoke_endpoint(c);
	}
	*handled = 0;
	return 0;
}
