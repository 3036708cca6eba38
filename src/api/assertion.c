/*
 * assertion.c — client authentication by a signed JWT (private_key_jwt:
 * RFC 7523 §2.2 and §3, SMART Backend Services; decision 0020). A system
 * client signs a short-lived assertion with a key whose public half it
 * registered (`lienthong client jwks`), so no shared secret is stored on
 * either side.
 *
 * The checks run cheapest first, and refuse on claims read before the
 * signature is checked (refusing early trusts nothing; accepting waits for
 * the signature): iss names a client, sub is iss, the form's client_id (if
 * any) is iss, aud is our token endpoint, exp is there, not past and at
 * most 5 minutes ahead, jti is there; then the client's JWKS, the header's
 * kid and alg, the signature and every claim again (auth_jwt_verify); last
 * the jti is recorded, so that the same assertion is never accepted twice
 * (store_client_jti_use: in the database, so a restart forgets nothing).
 *
 * Each refusal reason is static text: the audit record keeps it after the
 * request's memory is gone. The client is told only "invalid_client".
 */
#include "api_int.h"

#include <stdio.h>
#include <string.h>
#include "../base/json.h"
#include "../base/log.h"
#include "../base/time.h"

#define ASSERTION_MAX_AHEAD_S 300	/* exp at most 5 minutes ahead (SMART Backend Services) */
#define ASSERTION_LEEWAY_S 30		/* clock skew allowed, as for our own tokens */
#define ASSERTION_JWKS_MAX 65536	/* auth_jwks_parse's cap */

/* The token endpoint's URL, the aud of client assertions: as the discovery
 * document names it. */
static void token_endpoint_url(const struct api_ctx *c, char *out, size_t n)
{
	char root[API_BASE_MAX];

	api_root(c, root, sizeof(root));
	snprintf(out, n, "%s/auth/token", root);
}

/* A client_id as the directory keeps them: 1 to 127 printable ASCII characters. */
static int is_client_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n >= sizeof(((struct store_principal *)0)->name))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] > 0x7e)
			return 0;
	return 1;
}

/* What the claims say that refuses the assertion before any key is
 * looked at, or NULL. *exp_s gets exp. An aud array is left to
 * auth_jwt_verify. */
static const char *claims_refusal(struct json_object *claims, const char *iss,
				  const char *client_id, const char *endpoint, int64_t now_s,
				  int64_t *exp_s)
{
	const char *sub = json_get_str(claims, "sub"), *aud = json_get_str(claims, "aud");
	const char *jti = json_get_str(claims, "jti");
	struct json_object *exp;

	if (!sub || strcmp(sub, iss) != 0)
		return "client assertion: sub is not iss (both are the client_id)";
	if (client_id && strcmp(client_id, iss) != 0)
		return "client assertion: client_id is not the assertion's iss";
	if (aud && strcmp(aud, endpoint) != 0)
		return "client assertion: aud is not this server's token endpoint";
	if (!json_object_object_get_ex(claims, "exp", &exp) ||
	    !json_object_is_type(exp, json_type_int))
		return "client assertion: no exp, or not a whole number";
	*exp_s = json_object_get_int64(exp);
	if (*exp_s <= now_s - ASSERTION_LEEWAY_S)
		return "client assertion: expired (exp)";
	if (*exp_s > now_s + ASSERTION_MAX_AHEAD_S + ASSERTION_LEEWAY_S)
		return "client assertion: exp is more than 5 minutes ahead";
	if (!jti || !*jti || strlen(jti) > STORE_CLIENT_JTI_LEN)
		return "client assertion: no jti, or longer than 255 characters";
	return NULL;
}

/* The client's keys checked against the assertion (signature, kid, alg,
 * claims); NULL when they verify. A store failure is returned in *rc. */
static const char *key_refusal(struct api_ctx *c, const struct store_principal *p,
			       const char *assertion, const char *endpoint, int64_t now_s, int *rc)
{
	struct auth_jwt_check chk = { .audience = endpoint, .issuer = p->name, .now_s = now_s,
				      .leeway_s = ASSERTION_LEEWAY_S };
	struct auth_key **keys = NULL;
	const char *why = NULL;
	struct err e = { 0 };
	size_t n_keys = 0;
	struct buf jwks;

	*rc = 0;
	buf_init(&jwks, ASSERTION_JWKS_MAX);
	if (store_client_jwks_get(c->api->st, p->id, &jwks, NULL, &e)) {
		if (e.code == ERR_NOT_FOUND)
			why = "client assertion: the client has registered no keys";
		else
			*rc = err_set(&c->err, e.code, NULL, "%s", e.issue[0].diagnostics);
	} else if (auth_jwks_parse(jwks.p, jwks.n, &keys, &n_keys, &e)) {
		/* it was checked when registered: a rule has changed since */
		log_warn("token: client %s: its registered JWKS is refused now: %s", p->name,
			 e.issue[0].diagnostics);
		why = "client assertion: the client's registered keys cannot be used";
	} else if (auth_jwt_verify(assertion, strlen(assertion), keys, n_keys, &chk, NULL, &e)) {
		/* the check named (never the token) helps the client's developers */
		log_info("token: client %s: %s", p->name, e.issue[0].diagnostics);
		why = "client assertion: signature, key or header refused";
	}
	auth_keys_free(keys, n_keys);
	buf_release(&jwks);
	return why;
}

/* Records the jti; NULL when it is new. A store failure is returned in *rc. */
static const char *replay_refusal(struct api_ctx *c, const struct store_principal *p,
				  struct json_object *claims, int64_t exp_s, int64_t now_s, int *rc)
{
	struct err e = { 0 };

	/* kept while the assertion could still be accepted: exp and the leeway */
	*rc = store_client_jti_use(c->api->st, p->id, json_get_str(claims, "jti"),
				   (exp_s + ASSERTION_LEEWAY_S) * 1000, now_s * 1000, &e);
	if (*rc == ERR_DUPLICATE || *rc == ERR_TOO_MANY) {
		log_info("token: client %s: %s", p->name, e.issue[0].diagnostics);
		*rc = 0;
		return e.code == ERR_DUPLICATE ? "client assertion: jti used before (a replay)"
					       : "client assertion: too many assertions at once";
	}
	if (*rc)
		*rc = err_set(&c->err, e.code, NULL, "%s", e.issue[0].diagnostics);
	return NULL;
}

int api_client_assertion(struct api_ctx *c, const char *assertion, const char *client_id,
			 struct store_principal *p, const char **why)
{
	char endpoint[API_BASE_MAX + 16];
	struct json_object *claims = NULL;
	int64_t now_s = time_now_ms() / 1000, exp_s = 0;
	const char *iss;
	struct err e = { 0 };
	int rc = 0;

	memset(p, 0, sizeof(*p));
	*why = "client assertion: not a JWT";
	if (auth_jwt_claims_unverified(assertion, strlen(assertion), &claims, &e))
		return 0;
	iss = json_get_str(claims, "iss");
	*why = "client assertion: iss is not a client_id";
	if (!is_client_id(iss))
		goto out;
	snprintf(c->who.agent, sizeof(c->who.agent), "client/%.100s", iss);
	if (store_principal_get(c->api->st, "client", iss, p, &e)) {
		memset(p, 0, sizeof(*p));
		*why = "client assertion: unknown client";
		if (e.code != ERR_NOT_FOUND)
			rc = err_set(&c->err, e.code, NULL, "%s", e.issue[0].diagnostics);
		goto out;
	}
	token_endpoint_url(c, endpoint, sizeof(endpoint));
	*why = claims_refusal(claims, iss, client_id, endpoint, now_s, &exp_s);
	if (!*why)
		*why = key_refusal(c, p, assertion, endpoint, now_s, &rc);
	if (!*why && !rc)
		*why = replay_refusal(c, p, claims, exp_s, now_s, &rc);
out:
	json_object_put(claims);
	return rc;
}
