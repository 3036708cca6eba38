/*
 * auth.c — who is asking, and may they (decision 0018).
 *
 * Every request outside the public endpoints (metadata, the .well-known documents,
 * /auth/token) carries "Authorization: Bearer JWT". The token is checked
 * once (signature by kid, alg, exp, aud, iss) and remembered by its SHA-256
 * in a small cache until it expires, so a keep-alive client pays for one
 * signature check, not one per request. The account behind it is looked up
 * again every API_AUTH_RECHECK_MS, so disabling or locking an account ends
 * its tokens within that time. A revoked token (grant.c) is refused at
 * once, cached or not.
 *
 * The token names the tenant (facility code) its requests act in. Only a
 * principal with the warehouse role may name another one, per request
 * (X-Lienthong-Tenant), and then only to read.
 *
 * Scopes are SMART on FHIR v2. A grant that comes only from patient/ scopes
 * limits the request to the token's patient's compartment.
 */
#include "api_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/stat.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include "../auth/keyring.h"
#include "../base/arena.h"
#include "../base/json.h"
#include "../base/log.h"
#include "../base/time.h"
#include "../base/url.h"
#include "../fhir/search.h"

#define API_AUTH_CACHE 1024		/* verified tokens remembered (a power of two) */
#define API_AUTH_RECHECK_MS 2000	/* the account is looked up again after this */
#define API_AUTH_LEEWAY_S 30		/* clock skew allowed on exp/nbf/iat */
#define API_TOKEN_MAX 8192

struct token_slot {
	char key[65];			/* SHA-256 of the token, hex; "": empty */
	int64_t exp_s;
	int64_t checked_ms;		/* when the account was last looked up */
	char jti[STORE_JTI_MAX];	/* ours: asked of the revoked set at each use */
	struct api_who who;
};

/*
 * The signing keys as loaded at one time, with their JWKS document. A key
 * added (`lienthong key rotate`) or removed in DATA/keys/signing is picked
 * up by the running server: keys_now() looks at the directory at most once
 * every API_KEYS_CHECK_MS and, when it changed, loads a new generation.
 * Older generations stay allocated until the server stops (a rotation is
 * rare and a generation small), so a request that took one keeps using it
 * safely while another loads the next.
 */
struct key_gen {
	struct auth_keyring *keys;
	struct buf jwks;		/* /.well-known/jwks.json */
	struct timespec mtime;		/* of the directory when loaded */
	struct key_gen *older;
};

#define API_KEYS_CHECK_MS 1000

struct api_auth {
	struct key_gen *gen;		/* the newest; read with __atomic_load_n */
	int64_t keys_checked_ms;	/* under lock */
	pthread_mutex_t keys_lock;	/* one reload at a time */
	struct auth_key **oidc_keys;	/* an external identity provider's keys */
	size_t n_oidc_keys;
	pthread_mutex_t lock;
	struct token_slot slot[API_AUTH_CACHE];
};

static const struct {
	const char *name;
	unsigned bit;
} role_names[] = {
	{ "admin", API_ROLE_ADMIN },
	{ "clinician", API_ROLE_CLINICIAN },
	{ "staff", API_ROLE_STAFF },
	{ "warehouse", API_ROLE_WAREHOUSE },
	{ "patient", API_ROLE_PATIENT },
};

unsigned api_roles_parse(const char *s, const char **unknown)
{
	unsigned roles = 0;

	*unknown = NULL;
	while (s && *s) {
		size_t n = strcspn(s, " ,");
		size_t i;

		for (i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
			if (strlen(role_names[i].name) == n && !strncmp(role_names[i].name, s, n))
				break;
		if (n && i == sizeof(role_names) / sizeof(role_names[0]) && !*unknown)
			*unknown = s;
		else if (n)
			roles |= role_names[i].bit;
		s += n;
		s += strspn(s, " ,");
	}
	return roles;
}

static int dir_mtime(const char *dir, struct timespec *out)
{
	struct stat sb;

	if (stat(dir, &sb) != 0)
		return -1;
	*out = sb.st_mtim;
	return 0;
}

static int gen_load(const char *dir, int create, struct key_gen **out, struct err *e)
{
	struct key_gen *g = calloc(1, sizeof(*g));
	int rc;

	*out = NULL;
	if (!g)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	buf_init(&g->jwks, 0);
	(void)dir_mtime(dir, &g->mtime);	/* before reading: a change meanwhile reloads again */
	if ((rc = auth_keyring_open(dir, create, &g->keys, e)) ||
	    (rc = auth_keyring_jwks(g->keys, &g->jwks, e))) {
		auth_keyring_free(g->keys);
		buf_release(&g->jwks);
		free(g);
		return rc;
	}
	*out = g;
	return 0;
}

/* The newest keys, reloaded when the directory changed. A directory that
 * no longer loads (a broken file put there) keeps the keys we have, and
 * says so in the log once per change. */
static struct key_gen *keys_now(struct api *api)
{
	struct api_auth *a = api->auth;
	struct key_gen *g = __atomic_load_n(&a->gen, __ATOMIC_ACQUIRE), *next;
	int64_t now = time_monotonic_ms();
	struct timespec mt;
	struct err e = { 0 };

	if (now - __atomic_load_n(&a->keys_checked_ms, __ATOMIC_RELAXED) < API_KEYS_CHECK_MS ||
	    pthread_mutex_trylock(&a->keys_lock))
		return g;
	__atomic_store_n(&a->keys_checked_ms, now, __ATOMIC_RELAXED);
	g = a->gen;
	if (!dir_mtime(api->cfg.keys_dir, &mt) &&
	    (mt.tv_sec != g->mtime.tv_sec || mt.tv_nsec != g->mtime.tv_nsec)) {
		if (gen_load(api->cfg.keys_dir, 0, &next, &e)) {
			log_error("auth: the signing keys changed but do not load (%s); the keys "
				  "loaded before stay in use", e.issue[0].diagnostics);
			g->mtime = mt;
		} else {
			next->older = g;
			__atomic_store_n(&a->gen, next, __ATOMIC_RELEASE);
			g = next;
			log_info("auth: signing keys reloaded; %s signs", auth_key_kid(
					 auth_keyring_signer(g->keys)));
		}
	}
	pthread_mutex_unlock(&a->keys_lock);
	return g;
}

int api_auth_open(struct api *api, struct err *e)
{
	const struct api_config *cfg = &api->cfg;
	struct api_auth *a;
	int rc;

	if (!cfg->keys_dir)
		return 0;
	if (!(a = calloc(1, sizeof(*a))))
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	pthread_mutex_init(&a->lock, NULL);
	api->auth = a;
	pthread_mutex_init(&a->keys_lock, NULL);
	a->keys_checked_ms = time_monotonic_ms();
	if ((rc = gen_load(cfg->keys_dir, 1, &a->gen, e)) || (rc = api_grants_open(api, e)))
		return rc;
	if (cfg->oidc_jwks_file) {
		struct buf doc;

		buf_init(&doc, 1024 * 1024);
		rc = buf_read_file(&doc, cfg->oidc_jwks_file, e);
		if (!rc)
			rc = auth_jwks_parse(doc.p, doc.n, &a->oidc_keys, &a->n_oidc_keys, e);
		buf_release(&doc);
		if (rc)
			return rc;
		if (!cfg->oidc_issuer)
			return err_set(e, ERR_CONFIG, NULL, "oidc_jwks is set but not oidc_issuer");
	}
	return 0;
}

void api_auth_close(struct api *api)
{
	struct api_auth *a = api->auth;

	api_grants_close(api);
	if (!a)
		return;
	while (a->gen) {
		struct key_gen *g = a->gen;

		a->gen = g->older;
		auth_keyring_free(g->keys);
		buf_release(&g->jwks);
		free(g);
	}
	pthread_mutex_destroy(&a->keys_lock);
	auth_keys_free(a->oidc_keys, a->n_oidc_keys);
	pthread_mutex_destroy(&a->lock);
	free(a);
	api->auth = NULL;
}

/* ---- Issuing tokens ------------------------------------------------------ */

int64_t api_token_ttl_s(const struct api *api)
{
	return api->cfg.token_ttl_s > 0 ? api->cfg.token_ttl_s : 900;
}

static const char *audience(const struct api *api)
{
	return api->cfg.audience ? api->cfg.audience : api->cfg.issuer ? api->cfg.issuer : "lienthong";
}

const char *api_issuer(const struct api *api)
{
	return api->cfg.issuer ? api->cfg.issuer : "lienthong";
}

/* Why an account may not have a token now, or NULL. */
const char *api_account_refusal(const struct api *api, const struct store_principal *p,
				int64_t now_ms)
{
	int64_t idle_ms = (api->cfg.inactive_days > 0 ? api->cfg.inactive_days : 45) * 86400000LL;
	int64_t last = p->last_used_ms ? p->last_used_ms : p->created_ms;

	if (p->disabled)
		return "the account is disabled";
	if (p->locked_until_ms > now_ms)
		return "the account is locked after repeated failed logins";
	if (!strcmp(p->kind, "user") && now_ms - last > idle_ms)
		return "the account was not used for too long and is disabled";
	return NULL;
}

/* Leaves out of a space-separated scope string those with a query: this
 * server does not apply them (auth_scopes_allow), so a token must not
 * claim them. */
static void drop_query_scopes(struct buf *scopes)
{
	char *r = scopes->p, *w = scopes->p;

	while (r && *r) {
		size_t n = strcspn(r, " ");

		if (n && !memchr(r, '?', n)) {
			if (w != scopes->p)
				*w++ = ' ';
			memmove(w, r, n);
			w += n;
		}
		r += n;
		r += strspn(r, " ");
	}
	if (w) {
		*w = '\0';
		scopes->n = (size_t)(w - scopes->p);
	}
}

int api_token_issue(struct api *api, const struct store_principal *p, const char *scope,
		    const char *patient, struct buf *token, struct buf *granted, struct err *e)
{
	struct auth_scopes *want = NULL, *have = NULL;
	struct store_tenant t = { 0 };
	struct json_object *claims = NULL;
	struct buf jti, body;
	int64_t now = time_now_ms() / 1000;
	const char *why;
	int rc;

	buf_init(&jti, 0);
	buf_init(&body, 0);
	if (!api->auth)
		return err_set(e, ERR_CONFIG, NULL, "authentication is off: no tokens to issue");
	if ((why = api_account_refusal(api, p, now * 1000)))
		return err_set(e, ERR_UNAUTHORIZED, NULL, "%s", why);
	if (!(want = malloc(sizeof(*want))) || !(have = malloc(sizeof(*have)))) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	if ((rc = auth_scopes_parse(scope && *scope ? scope : p->scopes, want, e)) ||
	    (rc = auth_scopes_parse(p->scopes, have, e)))
		goto out;
	buf_clear(granted);
	if ((rc = auth_scopes_narrow(want, have, granted))) {
		rc = err_set(e, rc, NULL, "out of memory");
		goto out;
	}
	drop_query_scopes(granted);
	if (!granted->n) {
		rc = err_set(e, ERR_FORBIDDEN, NULL, "none of the scopes asked for is granted to %s%s",
			     p->kind, strchr(scope && *scope ? scope : p->scopes, '?')
			     ? " (scopes with a query, ?param=value, are not granted by this server)" : "");
		goto out;
	}
	if (p->tenant && (rc = store_tenant_get(api->st, NULL, p->tenant, &t, e)))
		goto out;
	if ((rc = auth_random_token(16, &jti, e)))
		goto out;
	if (!(claims = json_object_new_object())) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	{
		char sub[160];

		snprintf(sub, sizeof(sub), "%s/%s", p->kind, p->name);
		json_object_object_add(claims, "iss", json_object_new_string(api_issuer(api)));
		json_object_object_add(claims, "aud", json_object_new_string(audience(api)));
		json_object_object_add(claims, "sub", json_object_new_string(sub));
		json_object_object_add(claims, "iat", json_object_new_int64(now));
		json_object_object_add(claims, "exp", json_object_new_int64(now + api_token_ttl_s(api)));
		json_object_object_add(claims, "jti", json_object_new_string(jti.p));
		json_object_object_add(claims, "scope", json_object_new_string(granted->p));
		if (t.id)
			json_object_object_add(claims, "tenant", json_object_new_string(t.code));
		if (p->roles[0])
			json_object_object_add(claims, "roles", json_object_new_string(p->roles));
		/* A patient's own account is in their context; else the one asked for. */
		if (p->patient[0] && !strncmp(p->patient, "Patient/", 8))
			patient = p->patient + 8;
		if (patient && *patient)
			json_object_object_add(claims, "patient", json_object_new_string(patient));
	}
	if ((rc = json_write(&body, claims, 0))) {
		rc = err_set(e, rc, NULL, "out of memory");
		goto out;
	}
	buf_clear(token);
	rc = auth_jwt_sign(auth_keyring_signer(keys_now(api)->keys), body.p, token, e);
out:
	json_object_put(claims);
	free(want);
	free(have);
	buf_release(&jti);
	buf_release(&body);
	return rc;
}

/* ---- Checking tokens ----------------------------------------------------- */

static const char *claim_str(struct json_object *claims, const char *name)
{
	struct json_object *v;

	if (!json_object_object_get_ex(claims, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The account named by sub ("user/NAME" or "client/ID"), looked up now. */
static int lookup_account(struct api *api, const char *sub, struct store_principal *p,
			  struct err *e)
{
	const char *slash = sub ? strchr(sub, '/') : NULL;
	char kind[8];

	if (!slash || (size_t)(slash - sub) >= sizeof(kind))
		return err_set(e, ERR_UNAUTHORIZED, NULL, "the token's subject is not an account");
	snprintf(kind, sizeof(kind), "%.*s", (int)(slash - sub), sub);
	if (strcmp(kind, "user") && strcmp(kind, "client"))
		return err_set(e, ERR_UNAUTHORIZED, NULL, "the token's subject is not an account");
	if (store_principal_get(api->st, kind, slash + 1, p, e)) {
		err_clear(e);
		return err_set(e, ERR_UNAUTHORIZED, NULL, "the token's account does not exist");
	}
	return 0;
}

/* who from verified claims (and the account behind them). */
static int who_from_claims(struct api *api, struct json_object *claims, int external,
			   struct api_who *who, struct err *e)
{
	const char *sub = claim_str(claims, "sub"), *scope = claim_str(claims, "scope");
	const char *tenant = claim_str(claims, "tenant"), *patient = claim_str(claims, "patient");
	const char *unknown;
	struct store_principal p;
	struct store_tenant t;
	int rc;

	memset(who, 0, sizeof(*who));
	if (external) {
		/* The city's identity provider says who; our directory says what
		 * they may do: the person must be a user here. */
		char name[200];

		snprintf(name, sizeof(name), "user/%s", sub ? sub : "");
		if ((rc = lookup_account(api, name, &p, e)))
			return rc;
		scope = scope ? scope : p.scopes;
		tenant = NULL;
	} else if ((rc = lookup_account(api, sub, &p, e)))
		return rc;
	snprintf(who->agent, sizeof(who->agent), "%s/%s", p.kind, p.name);
	who->principal = p.id;
	who->roles = api_roles_parse(p.roles, &unknown);
	snprintf(who->scope, sizeof(who->scope), "%s", scope ? scope : "");
	if (patient)
		snprintf(who->patient, sizeof(who->patient), "%s", patient);
	else if (!strncmp(p.patient, "Patient/", 8))
		snprintf(who->patient, sizeof(who->patient), "%.64s", p.patient + 8);
	if (tenant) {
		if (store_tenant_get(api->st, tenant, 0, &t, e)) {
			err_clear(e);
			return err_set(e, ERR_UNAUTHORIZED, NULL, "the token's tenant does not exist");
		}
		if (p.tenant && t.id != p.tenant)
			return err_set(e, ERR_UNAUTHORIZED, NULL,
				       "the token's tenant is not its account's");
		who->tenant = t.id;
	} else
		who->tenant = p.tenant;
	return 0;
}

static int account_ok(struct api *api, const struct api_who *who, struct err *e)
{
	struct store_principal p;
	const char *why;
	int rc;

	if ((rc = lookup_account(api, who->agent, &p, e)))
		return rc;
	if ((why = api_account_refusal(api, &p, time_now_ms())))
		return err_set(e, ERR_UNAUTHORIZED, NULL, "%s", why);
	return 0;
}

/* Verifies token (cached by its hash) into who. */
static int check_token(struct api *api, const char *token, size_t n, struct api_who *who,
		       struct err *e)
{
	struct api_auth *a = api->auth;
	char key[65];
	struct token_slot *slot;
	struct json_object *claims = NULL;
	struct auth_jwt_check chk = { .audience = audience(api), .issuer = api_issuer(api),
				      .leeway_s = API_AUTH_LEEWAY_S };
	int64_t now_ms = time_now_ms();
	size_t n_keys;
	struct auth_key *const *keys;
	char jti[STORE_JTI_MAX] = "";
	int rc, external = 0;

	auth_sha256_hex(token, n, key);
	/* The first 12 bits of the digest pick the slot. */
	slot = &a->slot[(str_hex_digit(key[0]) << 8 | str_hex_digit(key[1]) << 4 |
			 str_hex_digit(key[2])) & (API_AUTH_CACHE - 1)];
	pthread_mutex_lock(&a->lock);
	if (!strcmp(slot->key, key) && slot->exp_s + API_AUTH_LEEWAY_S > now_ms / 1000) {
		int fresh = now_ms - slot->checked_ms < API_AUTH_RECHECK_MS;

		*who = slot->who;
		memcpy(jti, slot->jti, sizeof(jti));
		pthread_mutex_unlock(&a->lock);
		/* Revocation takes effect at once, cached or not (decision 0019). */
		if (api_token_revoked(api, jti))
			return err_set(e, ERR_UNAUTHORIZED, NULL, "the token was revoked");
		if (fresh)
			return 0;
		if ((rc = account_ok(api, who, e)))
			return rc;
		pthread_mutex_lock(&a->lock);
		if (!strcmp(slot->key, key))
			slot->checked_ms = now_ms;
		pthread_mutex_unlock(&a->lock);
		return 0;
	}
	pthread_mutex_unlock(&a->lock);

	chk.now_s = now_ms / 1000;
	keys = auth_keyring_keys(keys_now(api)->keys, &n_keys);
	rc = auth_jwt_verify(token, n, keys, n_keys, &chk, &claims, e);
	if (rc && a->n_oidc_keys) {
		struct auth_jwt_check ext = { .audience = api->cfg.oidc_audience,
					      .issuer = api->cfg.oidc_issuer, .now_s = chk.now_s,
					      .leeway_s = API_AUTH_LEEWAY_S };
		struct err e2 = { 0 };

		if (!auth_jwt_verify(token, n, a->oidc_keys, a->n_oidc_keys, &ext, &claims, &e2)) {
			err_clear(e);
			rc = 0;
			external = 1;
		}
	}
	if (rc)
		return rc;
	if (!external && claim_str(claims, "jti"))
		snprintf(jti, sizeof(jti), "%s", claim_str(claims, "jti"));
	if (api_token_revoked(api, jti))
		rc = err_set(e, ERR_UNAUTHORIZED, NULL, "the token was revoked");
	if (!rc)
		rc = who_from_claims(api, claims, external, who, e);
	if (!rc)
		rc = account_ok(api, who, e);
	if (!rc) {
		struct json_object *exp;

		pthread_mutex_lock(&a->lock);
		memcpy(slot->key, key, sizeof(slot->key));
		slot->exp_s = json_object_object_get_ex(claims, "exp", &exp) ? json_object_get_int64(exp) : 0;
		slot->checked_ms = now_ms;
		memcpy(slot->jti, jti, sizeof(slot->jti));
		slot->who = *who;
		pthread_mutex_unlock(&a->lock);
	}
	json_object_put(claims);
	return rc;
}

static int unauthorized(struct api_ctx *c, const char *error)
{
	char v[160];

	snprintf(v, sizeof(v), "Bearer realm=\"lienthong\"%s%s%s", error ? ", error=\"" : "",
		 error ? error : "", error ? "\"" : "");
	if (api_response_add_header(c->res, "WWW-Authenticate", v))
		return err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
	return c->err.code;
}

int api_authenticate(struct api_ctx *c)
{
	struct api *api = c->api;
	const char *h = c->req->authorization, *tenant = c->req->tenant;
	struct store_tenant t;
	int rc;

	c->tenant = 0;			/* none until a token says which (a refusal is audited so) */
	if (!api->auth) {
		c->tenant = api->tenant;
		/* Authentication is off (in-process callers, or a loopback server
		 * started with --auth off for benchmarks): everything is allowed. */
		c->who.all = 1;
		snprintf(c->who.agent, sizeof(c->who.agent), "local");
		c->who.tenant = api->tenant;
		goto tenant;
	}
	if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
		snprintf(c->who.agent, sizeof(c->who.agent), "anonymous");
		err_set(&c->err, ERR_UNAUTHORIZED, NULL,
			"a bearer token is required (POST /auth/token, see /.well-known/smart-configuration)");
		return unauthorized(c, NULL);
	}
	h += 7;
	while (*h == ' ')
		h++;
	snprintf(c->who.agent, sizeof(c->who.agent), "anonymous");
	if (strlen(h) > API_TOKEN_MAX) {
		err_set(&c->err, ERR_UNAUTHORIZED, NULL, "the bearer token is too long");
		return unauthorized(c, "invalid_token");
	}
	if ((rc = check_token(api, h, strlen(h), &c->who, &c->err)))
		return unauthorized(c, "invalid_token");
	if (auth_scopes_parse(c->who.scope, &c->scopes, &c->err))
		return unauthorized(c, "invalid_token");
	c->tenant = c->who.tenant;
tenant:
	if (tenant && *tenant) {
		if (store_tenant_get(api->st, tenant, 0, &t, &c->err)) {
			if (c->err.code == ERR_NOT_FOUND) {
				err_clear(&c->err);
				return err_set(&c->err, ERR_FORBIDDEN, NULL, "no such tenant");
			}
			return c->err.code;
		}
		if (t.id != c->tenant && !c->who.all && !(c->who.roles & API_ROLE_WAREHOUSE))
			return err_set(&c->err, ERR_FORBIDDEN, NULL,
				       "this credential acts only in its own facility");
		if (t.id != c->who.tenant && !c->who.all)
			c->read_only = 1;	/* the warehouse reads across tenants, never writes */
		c->tenant = t.id;
	}
	if (!c->tenant)
		return err_set(&c->err, ERR_FORBIDDEN, NULL,
			       "this credential belongs to no facility: name one with X-Lienthong-Tenant");
	return 0;
}

/* ---- Permissions ------------------------------------------------------- */

static const char *perm_names(unsigned perms, char out[8])
{
	static const char letters[] = "cruds";
	int n = 0;

	for (int i = 0; i < 5; i++)
		if (perms & (1u << i))
			out[n++] = letters[i];
	out[n] = '\0';
	return out;
}

int api_allow(struct api_ctx *c, const char *type, unsigned perms)
{
	char p[8];
	const char *t = type ? type : "*";

	if (c->who.all)
		return 0;
	if (c->read_only && (perms & (AUTH_PERM_C | AUTH_PERM_U | AUTH_PERM_D)))
		return err_set(&c->err, ERR_FORBIDDEN, NULL,
			       "the warehouse role reads other facilities' data, it does not change it");
	if (auth_scopes_allow(&c->scopes, AUTH_CTX_SYSTEM, t, perms) ||
	    auth_scopes_allow(&c->scopes, AUTH_CTX_USER, t, perms))
		return 0;
	if (c->who.patient[0] && auth_scopes_allow(&c->scopes, AUTH_CTX_PATIENT, t, perms)) {
		/* What a patient's token may do is read their own record. */
		if (perms & (AUTH_PERM_C | AUTH_PERM_U | AUTH_PERM_D))
			return err_set(&c->err, ERR_FORBIDDEN, NULL,
				       "a patient's token reads; it does not change records here");
		c->patient_only = 1;
		return 0;
	}
	if (c->break_glass && (c->who.roles & API_ROLE_CLINICIAN) && !(perms & ~(AUTH_PERM_R | AUTH_PERM_S))) {
		c->audit_flags |= STORE_AUDIT_BREAK_GLASS;
		return 0;
	}
	return err_set(&c->err, ERR_FORBIDDEN, NULL, "the token's scopes do not allow %s on %s",
		       perm_names(perms, p), t);
}

/*
 * The patient a resource's stored bytes concern: itself for a Patient, else
 * the first reference to a Patient. Our stored JSON is compact, written by
 * us, so a byte search is exact about what it looks for.
 */
int api_resource_patient(const char *type, const char *id, const char *json, size_t n,
			 char *out, size_t outsz)
{
	static const char needle[] = "\"reference\":\"Patient/";
	const char *p = json ? memmem(json, n, needle, sizeof(needle) - 1) : NULL;
	size_t len;

	out[0] = '\0';
	if (type && !strcmp(type, "Patient") && id && *id) {
		snprintf(out, outsz, "%s", id);
		return 1;
	}
	if (!p)
		return 0;
	p += sizeof(needle) - 1;
	len = strcspn(p, "\"/");
	if (!len || len >= outsz || p + len > json + n)
		return 0;
	memcpy(out, p, len);
	out[len] = '\0';
	return 1;
}

/* Whether c may see a resource found by a search, history or include: its
 * type readable by the scopes, and, for a patient's token, its own Patient
 * or a resource that refers to it. */
int api_may_see(const struct api_ctx *c, const char *type, const char *id, const char *json,
		size_t n)
{
	char needle[FHIR_ID_MAX + 40];

	if (c->who.all)
		return 1;
	if (!c->patient_only) {
		for (int ctx = AUTH_CTX_USER; ctx <= AUTH_CTX_SYSTEM; ctx++)
			if (auth_scopes_allow(&c->scopes, ctx, type, AUTH_PERM_R) ||
			    auth_scopes_allow(&c->scopes, ctx, type, AUTH_PERM_S))
				return 1;
		return (c->audit_flags & STORE_AUDIT_BREAK_GLASS) != 0;
	}
	if (!auth_scopes_allow(&c->scopes, AUTH_CTX_PATIENT, type, AUTH_PERM_R) &&
	    !auth_scopes_allow(&c->scopes, AUTH_CTX_PATIENT, type, AUTH_PERM_S))
		return 0;
	if (!strcmp(type, "Patient"))
		return id && !strcmp(id, c->who.patient);
	snprintf(needle, sizeof(needle), "\"reference\":\"Patient/%s\"", c->who.patient);
	return json && memmem(json, n, needle, strlen(needle)) != NULL;
}

/* ---- The public endpoints ------------------------------------------------ */

const char *api_auth_jwks(struct api *api)
{
	return api->auth ? keys_now(api)->jwks.p : NULL;
}
