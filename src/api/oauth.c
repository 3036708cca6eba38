/*
 * oauth.c — the OAuth 2.0 / SMART endpoints: POST /auth/token, the
 * .well-known documents (decision 0018).
 *
 * A client proves who it is (client_authenticate) with a secret, by HTTP
 * Basic or in the form (RFC 6749 §2.3.1), or with a signed assertion
 * (RFC 7523, assertion.c, decision 0020). Errors are RFC 6749 §5.2 bodies.
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
	struct buf token, granted;
	int rc;

	c->tenant = p->tenant;
	buf_init(&token, 0);
	buf_init(&granted, 0);
	rc = api_token_issue(c->api, p, scope, patient, &token, &granted, &c->err);
	if (rc == ERR_FORBIDDEN || rc == ERR_BAD_REQUEST) {
		const char *d = c->err.issue[0].diagnostics;

		err_clear(&c->err);
		rc = oauth_error(c, 400, "invalid_scope", d);
	} else if (!rc && !(rc = store_principal_login(c->api->st, p->id, 1, time_now_ms(), 0, 0, 0,
						      &c->err))) {
		struct json_object *o = json_object_new_object();
		struct buf b;

		buf_init(&b, 0);
		json_object_object_add(o, "access_token", json_object_new_string(token.p));
		json_object_object_add(o, "token_type", json_object_new_string("Bearer"));
		json_object_object_add(o, "expires_in", json_object_new_int64(api_token_ttl_s(c->api)));
		json_object_object_add(o, "scope", json_object_new_string(granted.p));
		if (refresh)
			json_object_object_add(o, "refresh_token", json_object_new_string(refresh));
		if (patient && *patient)
			json_object_object_add(o, "patient", json_object_new_string(patient));
		rc = json_write(&b, o, 0);
		json_object_put(o);
		if (!rc)
			rc = set_json(c, 200, b.p);
		buf_release(&b);
	}
	buf_release(&token);
	buf_release(&granted);
	return rc;
}

static int token_client_credentials(struct api_ctx *c, const struct fhir_search_arg *args,
				    size_t n, struct arena *a)
{
	struct store_principal p;
	int refused, rc;

	if ((rc = client_authenticate(c, args, n, a, &p, &refused)) || refused)
		return rc;
	return token_response(c, &p, form_value(args, n, "scope"), NULL, NULL);
}

static int token_endpoint(struct api_ctx *c)
{
	struct fhir_search_arg args[32];
	size_t n = 0;
	struct arena a;
	const char *grant;
	int rc;

	c->audit_subtype = "login";
	if (strcmp(c->req->method, "POST")) {
		c->res->allow = "POST";
		return err_set(&c->err, ERR_METHOD, NULL, "the token endpoint takes POST");
	}
	if (!c->req->content_type ||
	    strncasecmp(c->req->content_type, "application/x-www-form-urlencoded", 33))
		return oauth_error(c, 400, "invalid_request",
				   "the body must be application/x-www-form-urlencoded");
	arena_init(&a, 0);
	rc = api_parse_form(&a, c->req->body, c->req->body_len, 1, args, &n, 32, &c->err);
	if (rc) {
		const char *d = c->err.issue[0].diagnostics;

		err_clear(&c->err);
		rc = oauth_error(c, 400, "invalid_request", d);
	} else if (!(grant = form_value(args, n, "grant_type")))
		rc = oauth_error(c, 400, "invalid_request", "grant_type is required");
	else if (!strcmp(grant, "client_credentials"))
		rc = token_client_credentials(c, args, n, &a);
	else
		rc = oauth_error(c, 400, "unsupported_grant_type",
				 "this server grants client_credentials");
	arena_release(&a);
	return rc;
}

static int smart_configuration(struct api_ctx *c)
{
	char root[API_BASE_MAX];
	struct buf b;
	int rc;
	size_t n = strlen(c->base);

	/* The server root: the FHIR base without its "/fhir". */
	snprintf(root, sizeof(root), "%.*s", (int)(n >= 5 ? n - 5 : n), c->base);
	buf_init(&b, 0);
	rc = buf_printf(&b,
			"{\"issuer\":\"%s\",\"jwks_uri\":\"%s/.well-known/jwks.json\","
			"\"token_endpoint\":\"%s/auth/token\","
			"\"token_endpoint_auth_methods_supported\":[\"client_secret_basic\","
			"\"client_secret_post\"],"
			"\"grant_types_supported\":[\"client_credentials\"],"
			"\"scopes_supported\":[\"system/*.cruds\",\"user/*.cruds\",\"patient/*.rs\"],"
			"\"response_types_supported\":[\"token\"],"
			"\"capabilities\":[\"client-confidential-symmetric\","
			"\"permission-v2\",\"permission-v1\",\"context-standalone-patient\"],"
			"\"code_challenge_methods_supported\":[\"S256\"]}",
			api_issuer(c->api), root, root);
	if (!rc)
		rc = set_json(c, 200, b.p);
	buf_release(&b);
	return rc ? err_set(&c->err, ERR_NOMEM, NULL, "out of memory") : 0;
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
	*handled = 0;
	return 0;
}
