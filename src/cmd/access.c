/*
 * access.c — who may use the server: `lienthong tenant`, `user`, `client`,
 * `token` and `key` (decision 0018). They work on the data directory
 * directly, beside a running server or not; a secret is read from stdin,
 * never from the command line (where ps and shell history would keep it),
 * and printed only once, when it is made.
 */
#include "cmd.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../api/api.h"
#include "../auth/keyring.h"
#include "../base/time.h"
#include "../store/store.h"

/* The options of these commands; the rest goes to config_load. */
#define ACCESS_MAX_REDIRECTS 8

struct access_args {
	const char *code, *name, *tenant, *role, *scope, *patient, *client, *user, *alg;
	int password_stdin;
	const char *redirect[ACCESS_MAX_REDIRECTS];	/* --redirect-uri, repeatable */
	int n_redirect;
	int is_public;			/* --public */
	const char *pos;		/* the first positional argument */
	int nrest;
	char *rest[64];
};

/* Whether arg is an option whose value is the next argument (then that is
 * not the positional one): a setting's --key VALUE, not --key=VALUE nor a
 * flag of its own. */
static int takes_value(const char *arg)
{
	return arg[0] == '-' && !strchr(arg, '=') && strcmp(arg, "--password-stdin") &&
	       strcmp(arg, "--public");
}

static int parse(int argc, char **argv, struct access_args *a)
{
	static const struct {
		const char *flag;
		size_t offset;
	} opts[] = {
		{ "--code", offsetof(struct access_args, code) },
		{ "--name", offsetof(struct access_args, name) },
		{ "--tenant", offsetof(struct access_args, tenant) },
		{ "--role", offsetof(struct access_args, role) },
		{ "--scope", offsetof(struct access_args, scope) },
		{ "--patient", offsetof(struct access_args, patient) },
		{ "--client", offsetof(struct access_args, client) },
		{ "--user", offsetof(struct access_args, user) },
		{ "--alg", offsetof(struct access_args, alg) },
	};

	memset(a, 0, sizeof(*a));
	a->rest[a->nrest++] = argv[0];
	for (int i = 1; i < argc; i++) {
		size_t k;

		for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
			if (!strcmp(argv[i], opts[k].flag))
				break;
		if (k < sizeof(opts) / sizeof(opts[0])) {
			if (i + 1 == argc) {
				fprintf(stderr, "lienthong: %s needs a value\n", argv[i]);
				return 2;
			}
			*(const char **)((char *)a + opts[k].offset) = argv[++i];
		} else if (!strcmp(argv[i], "--password-stdin")) {
			a->password_stdin = 1;
		} else if (!strcmp(argv[i], "--public")) {
			a->is_public = 1;
		} else if (!strcmp(argv[i], "--redirect-uri")) {
			if (i + 1 == argc || a->n_redirect == ACCESS_MAX_REDIRECTS) {
				fprintf(stderr, "lienthong: --redirect-uri needs a value (at most %d of them)\n",
					ACCESS_MAX_REDIRECTS);
				return 2;
			}
			a->redirect[a->n_redirect++] = argv[++i];
		} else if (argv[i][0] != '-' && !a->pos && (i == 1 || !takes_value(argv[i - 1]))) {
			a->pos = argv[i];
		} else if (a->nrest < (int)(sizeof(a->rest) / sizeof(a->rest[0]))) {
			a->rest[a->nrest++] = argv[i];
		}
	}
	return 0;
}

static int fail(const struct err *e)
{
	fprintf(stderr, "lienthong: %s\n", e->n_issues ? e->issue[0].diagnostics : err_message(e->code));
	return 1;
}

/* Opens the store of the configured data directory (and an API with the
 * signing keys when api is not NULL). */
static int open_data(struct access_args *a, struct config *cfg, struct store **st, struct api **api)
{
	struct store_config sc;
	struct api_config ac;
	char keys[PATH_MAX];
	struct err e = { 0 };

	*st = NULL;
	if (config_load(cfg, a->nrest, a->rest))
		return 2;
	config_store(cfg, &sc);
	config_api(cfg, &ac);
	config_keys_dir(cfg, keys, sizeof(keys));
	ac.keys_dir = keys;
	if (store_open(&sc, st, &e) || (api && api_new(&ac, *st, api, &e)))
		return fail(&e);
	return 0;
}

static int tenant_id(struct store *st, const char *code, int64_t *id)
{
	struct store_tenant t;
	struct err e = { 0 };

	if (!code) {
		fprintf(stderr, "lienthong: --tenant CODE is required (lienthong tenant list)\n");
		return 2;
	}
	if (store_tenant_get(st, code, 0, &t, &e))
		return fail(&e);
	*id = t.id;
	return 0;
}

/* ---- tenant ------------------------------------------------------------ */

static int print_tenant(void *arg, const struct store_tenant *t)
{
	char when[TIME_INSTANT_LEN + 1];

	(void)arg;
	time_format_instant(t->created_ms, when);
	printf("%-6s  %lld  %s  %s\n", t->code, (long long)t->id, when, t->name);
	return 0;
}

/* A facility code: 5 letters or digits (BHYT's MA_CSKCB is 5 digits). */
static int code_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n > STORE_TENANT_CODE_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z')))
			return 0;
	return 1;
}

int cmd_tenant(int argc, char **argv)
{
	struct access_args a;
	struct config cfg;
	struct store *st = NULL;
	struct err e = { 0 };
	int rc;

	if (argc < 2 || (strcmp(argv[1], "add") && strcmp(argv[1], "list"))) {
		fprintf(stderr, "usage: lienthong tenant add --code CODE --name NAME | tenant list\n");
		return 2;
	}
	if ((rc = parse(argc - 1, argv + 1, &a)))
		return rc;
	if (!strcmp(argv[1], "add") && (!a.code || !a.name || !code_valid(a.code))) {
		fprintf(stderr, "lienthong: tenant add needs --code (the facility code: 2-16 of A-Z 0-9, "
				"e.g. 79001) and --name\n");
		return 2;
	}
	if ((rc = open_data(&a, &cfg, &st, NULL)))
		goto out;
	if (!strcmp(argv[1], "add")) {
		struct store_tenant t = { 0 };

		snprintf(t.code, sizeof(t.code), "%s", a.code);
		snprintf(t.name, sizeof(t.name), "%s", a.name);
		if ((rc = store_tenant_add(st, &t, &e) ? fail(&e) : 0))
			goto out;
		printf("tenant %s added (id %lld)\n", t.code, (long long)t.id);
	} else if (store_tenants(st, print_tenant, NULL, &e))
		rc = fail(&e);
out:
	store_close(st);
	config_release(&cfg);
	return rc;
}

/* ---- user and client ---------------------------------------------------- */

/* The scopes a role gets unless --scope says otherwise. */
static const char *role_scopes(const char *roles)
{
	if (strstr(roles, "warehouse"))
		return "system/*.rs";
	if (strstr(roles, "patient"))
		return "patient/*.rs";
	if (strstr(roles, "staff") && !strstr(roles, "clinician") && !strstr(roles, "admin"))
		return "user/*.rs";
	return "user/*.cruds";
}

/* What an app (a client with redirect URIs) may ask for unless --scope says
 * otherwise: reading, for a user or a patient, and a refresh token. A
 * user's own scopes narrow it further. */
#define APP_SCOPES "patient/*.rs user/*.rs launch/patient offline_access online_access"

/* --redirect-uri and --public of `client add`: each URI checked, all kept
 * space-separated. */
static int set_app(struct store_principal *p, const struct access_args *a)
{
	size_t at = 0;

	if (a->is_public && !a->n_redirect) {
		fprintf(stderr, "lienthong: a --public client is an app: give its --redirect-uri\n");
		return 2;
	}
	for (int i = 0; i < a->n_redirect; i++) {
		const char *why = auth_redirect_uri_invalid(a->redirect[i]);
		int n;

		if (why) {
			fprintf(stderr, "lienthong: --redirect-uri %s: %s\n", a->redirect[i], why);
			return 2;
		}
		n = snprintf(p->redirect_uris + at, sizeof(p->redirect_uris) - at, "%s%s",
			     i ? " " : "", a->redirect[i]);
		if (n < 0 || (size_t)n >= sizeof(p->redirect_uris) - at) {
			fprintf(stderr, "lienthong: the redirect URIs are too long together\n");
			return 2;
		}
		at += (size_t)n;
	}
	p->is_public = a->is_public;
	return 0;
}

static int read_password(char *out, size_t n)
{
	size_t len;

	if (!fgets(out, (int)n, stdin))
		return -1;
	len = strcspn(out, "\r\n");
	out[len] = '\0';
	return 0;
}

static int set_password(struct store_principal *p, struct access_args *a)
{
	char pw[512];
	struct err e = { 0 };

	if (!a->password_stdin) {
		fprintf(stderr, "lienthong: give the password on stdin with --password-stdin\n");
		return 2;
	}
	if (read_password(pw, sizeof(pw))) {
		fprintf(stderr, "lienthong: no password on stdin\n");
		return 2;
	}
	if (auth_password_policy(pw, p->name, &e) || auth_password_hash(pw, p->secret, &e)) {
		explicit_bzero(pw, sizeof(pw));
		fprintf(stderr, "lienthong: %s\n", e.issue[0].diagnostics);
		return 2;
	}
	explicit_bzero(pw, sizeof(pw));
	return 0;
}

/* Enrolls TOTP: a new secret, shown once as an otpauth:// URI. */
static int enroll_totp(struct store_principal *p)
{
	struct buf uri;
	int rc;

	if (auth_totp_secret_new(p->totp))
		return 1;
	buf_init(&uri, 0);
	rc = auth_totp_uri(p->totp, "lienthong", p->name, &uri);
	if (!rc)
		printf("TOTP for %s (add it to an authenticator app now; it is not shown again):\n  %s\n",
		       p->name, uri.p);
	buf_release(&uri);
	p->totp_step = 0;
	return rc;
}

static int print_principal(void *arg, const struct store_principal *p)
{
	char used[TIME_INSTANT_LEN + 1] = "never";
	const char *kind = arg;

	if (strcmp(p->kind, kind))
		return 0;
	if (p->last_used_ms)
		time_format_instant(p->last_used_ms, used);
	printf("%-24s tenant=%lld roles=%s scopes=%s%s%s%s%s%s last_used=%s%s%s\n", p->name,
	       (long long)p->tenant, p->roles[0] ? p->roles : "-", p->scopes,
	       p->patient[0] ? " patient=" : "", p->patient,
	       p->redirect_uris[0] ? " redirect_uris=" : "", p->redirect_uris,
	       p->is_public ? " PUBLIC" : "", used, p->disabled ? " DISABLED" : "",
	       p->locked_until_ms > time_now_ms() ? " LOCKED" : "");
	return 0;
}

static int new_client_secret(struct store_principal *p)
{
	struct buf secret;
	struct err e = { 0 };

	buf_init(&secret, 0);
	if (auth_random_token(32, &secret, &e)) {
		buf_release(&secret);
		return fail(&e);
	}
	api_client_secret_hash(secret.p, p->secret);
	printf("client_id: %s\nclient_secret: %s\n(the secret is shown once: keep it in the client's "
	       "configuration)\n", p->name, secret.p);
	explicit_bzero(secret.p, secret.n);
	buf_release(&secret);
	return 0;
}

static int principal_cmd(const char *kind, int argc, char **argv)
{
	const char *verb = argc >= 2 ? argv[1] : "";
	int is_user = !strcmp(kind, "user");
	struct access_args a;
	struct config cfg;
	struct store *st = NULL;
	struct store_principal p = { 0 };
	struct err e = { 0 };
	int rc;

	if (strcmp(verb, "add") && strcmp(verb, "list") && strcmp(verb, "disable") &&
	    strcmp(verb, "enable") && strcmp(verb, is_user ? "passwd" : "secret") &&
	    strcmp(verb, is_user ? "totp" : "-")) {
		fprintf(stderr, is_user
			? "usage: lienthong user add NAME --tenant CODE --role ROLES [--scope S] [--patient Patient/ID] --password-stdin\n"
			  "       lienthong user passwd NAME --password-stdin | totp NAME | disable NAME | enable NAME | list [--tenant CODE]\n"
			: "usage: lienthong client add ID --tenant CODE [--scope S] [--role ROLES]\n"
			  "                              [--redirect-uri URI]... [--public]\n"
			  "       lienthong client secret ID | disable ID | enable ID | list [--tenant CODE]\n"
			  "       lienthong client jwks ID FILE\n");
		return 2;
	}
	if ((rc = parse(argc - 1, argv + 1, &a)))
		return rc;
	if (is_user && (a.n_redirect || a.is_public)) {
		fprintf(stderr, "lienthong: --redirect-uri and --public are for clients (apps)\n");
		return 2;
	}
	if (strcmp(verb, "list") && !a.pos) {
		fprintf(stderr, "lienthong: %s %s needs the %s's name\n", kind, verb, kind);
		return 2;
	}
	if ((rc = open_data(&a, &cfg, &st, NULL)))
		goto out;
	if (!strcmp(verb, "list")) {
		int64_t t = 0;

		if (a.tenant && (rc = tenant_id(st, a.tenant, &t)))
			goto out;
		rc = store_principals(st, t, print_principal, (void *)kind, &e) ? fail(&e) : 0;
		goto out;
	}
	if (!strcmp(verb, "add")) {
		const char *unknown = NULL;

		snprintf(p.kind, sizeof(p.kind), "%s", kind);
		snprintf(p.name, sizeof(p.name), "%s", a.pos);
		snprintf(p.roles, sizeof(p.roles), "%s", a.role ? a.role : "");
		if (is_user && !a.role) {
			fprintf(stderr, "lienthong: user add needs --role (admin, clinician, staff, warehouse, patient)\n");
			rc = 2;
			goto out;
		}
		(void)api_roles_parse(p.roles, &unknown);
		if (unknown) {
			fprintf(stderr, "lienthong: unknown role in '%s' (admin, clinician, staff, warehouse, patient)\n",
				p.roles);
			rc = 2;
			goto out;
		}
		if (!is_user && (rc = set_app(&p, &a)))
			goto out;
		snprintf(p.scopes, sizeof(p.scopes), "%s", a.scope ? a.scope : is_user ? role_scopes(p.roles)
							       : a.n_redirect ? APP_SCOPES : "system/*.rs");
		if (a.patient)
			snprintf(p.patient, sizeof(p.patient), "%s", a.patient);
		if (!strstr(p.roles, "warehouse") && (rc = tenant_id(st, a.tenant, &p.tenant)))
			goto out;
		if (is_user && (rc = set_password(&p, &a)))
			goto out;
		if (is_user && strstr(p.roles, "admin") && (rc = enroll_totp(&p)))
			goto out;
		if (!is_user && !p.is_public && (rc = new_client_secret(&p)))
			goto out;
		if (p.is_public)
			printf("client_id: %s\n(a public app: no secret; it proves itself with PKCE at each "
			       "login)\n", p.name);
		if (store_principal_put(st, &p, &e)) {
			rc = fail(&e);
			goto out;
		}
		printf("%s %s added\n", kind, p.name);
		goto out;
	}
	if (store_principal_get(st, kind, a.pos, &p, &e)) {
		rc = fail(&e);
		goto out;
	}
	if (!strcmp(verb, "disable"))
		p.disabled = 1;
	else if (!strcmp(verb, "enable")) {
		/* Also ends a lockout, and counts as use (the 45-day clock). */
		p.disabled = 0;
		p.failures = 0;
		p.locked_until_ms = 0;
		p.last_used_ms = time_now_ms();
	} else if (!strcmp(verb, "passwd"))
		rc = set_password(&p, &a);
	else if (!strcmp(verb, "totp"))
		rc = enroll_totp(&p);
	else if (!strcmp(verb, "secret") && p.is_public) {
		fprintf(stderr, "lienthong: %s is a public app: it has no secret\n", p.name);
		rc = 2;
	} else if (!strcmp(verb, "secret"))
		rc = new_client_secret(&p);
	if (!rc && store_principal_put(st, &p, &e))
		rc = fail(&e);
	if (!rc)
		printf("%s %s: %s done\n", kind, p.name, verb);
out:
	store_close(st);
	config_release(&cfg);
	return rc;
}

/*
 * `client jwks ID FILE`: the public keys the client signs its assertions
 * with (private_key_jwt, decision 0020). The JWKS is checked as the token
 * endpoint will read it; the client's secret stops working, since a client
 * that holds a private key needs no shared secret (`client secret ID`
 * makes a new one, for a client that wants both).
 */
static int client_jwks(int argc, char **argv)
{
	struct access_args a, b;
	char *rest[64];
	int n = 0, rc;
	struct config cfg;
	struct store *st = NULL;
	struct store_principal p;
	struct auth_key **keys = NULL;
	size_t n_keys = 0;
	struct buf doc;
	struct err e = { 0 };

	/* parse() takes the first positional (ID); once it is gone, FILE is the first */
	if ((rc = parse(argc - 1, argv + 1, &a)))
		return rc;
	for (int i = 1; i < argc && n < (int)(sizeof(rest) / sizeof(rest[0])); i++)
		if (argv[i] != a.pos)
			rest[n++] = argv[i];
	if ((rc = parse(n, rest, &b)))
		return rc;
	if (!a.pos || !b.pos) {
		fprintf(stderr, "usage: lienthong client jwks ID FILE   (FILE: the client's public JWKS)\n");
		return 2;
	}
	buf_init(&doc, 65536);
	if (buf_read_file(&doc, b.pos, &e) || auth_jwks_parse(doc.p, doc.n, &keys, &n_keys, &e)) {
		buf_release(&doc);
		return fail(&e);
	}
	if ((rc = open_data(&b, &cfg, &st, NULL)))
		goto out;
	if (store_principal_get(st, "client", a.pos, &p, &e) ||
	    store_client_jwks_put(st, p.id, doc.p, &e)) {
		rc = fail(&e);
		goto out;
	}
	p.secret[0] = '\0';
	if (store_principal_put(st, &p, &e)) {
		rc = fail(&e);
		goto out;
	}
	for (size_t i = 0; i < n_keys; i++)
		printf("key %s (%s)\n", auth_key_kid(keys[i]), auth_alg_name(auth_key_alg(keys[i])));
	printf("client %s: %zu key(s) registered for client assertions (private_key_jwt); its "
	       "client secret no longer works\n", p.name, n_keys);
out:
	auth_keys_free(keys, n_keys);
	buf_release(&doc);
	store_close(st);
	config_release(&cfg);
	return rc;
}

int cmd_user(int argc, char **argv)
{
	return principal_cmd("user", argc, argv);
}

int cmd_client(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "jwks"))
		return client_jwks(argc, argv);
	return principal_cmd("client", argc, argv);
}

/* ---- token and key -------------------------------------------------------- */

int cmd_token(int argc, char **argv)
{
	struct access_args a;
	struct config cfg;
	struct store *st = NULL;
	struct api *api = NULL;
	struct store_principal p;
	struct buf token, granted;
	struct err e = { 0 };
	int rc;

	if ((rc = parse(argc, argv, &a)))
		return rc;
	if (!a.client == !a.user) {
		fprintf(stderr, "usage: lienthong token (--client ID | --user NAME) [--scope SCOPES] "
				"[--patient ID]\n");
		return 2;
	}
	buf_init(&token, 0);
	buf_init(&granted, 0);
	if ((rc = open_data(&a, &cfg, &st, &api)))
		goto out;
	if (store_principal_get(st, a.client ? "client" : "user", a.client ? a.client : a.user, &p, &e) ||
	    api_token_issue(api, &p, a.scope, a.patient, &token, &granted, &e)) {
		rc = fail(&e);
		goto out;
	}
	printf("%s\n", token.p);
	fprintf(stderr, "scope: %s\n", granted.p);
out:
	buf_release(&token);
	buf_release(&granted);
	api_free(api);
	store_close(st);
	config_release(&cfg);
	return rc;
}

int cmd_key(int argc, char **argv)
{
	struct access_args a;
	struct config cfg;
	char dir[PATH_MAX], kid[AUTH_KID_MAX + 1];
	struct auth_keyring *kr = NULL;
	struct err e = { 0 };
	int rc;

	if (argc < 2 || (strcmp(argv[1], "rotate") && strcmp(argv[1], "list"))) {
		fprintf(stderr, "usage: lienthong key rotate [--alg ES256|EdDSA] | key list\n");
		return 2;
	}
	if ((rc = parse(argc - 1, argv + 1, &a)))
		return rc;
	if (a.alg && strcmp(a.alg, "ES256") && strcmp(a.alg, "EdDSA")) {
		fprintf(stderr, "lienthong: --alg is ES256 or EdDSA\n");
		return 2;
	}
	if (config_load(&cfg, a.nrest, a.rest))
		return 2;
	config_keys_dir(&cfg, dir, sizeof(dir));
	if (!strcmp(argv[1], "rotate")) {
		if (auth_keyring_add(dir, a.alg && !strcmp(a.alg, "EdDSA") ? AUTH_EDDSA : AUTH_ES256, kid, &e))
			rc = fail(&e);
		else
			printf("new signing key %s; a running server signs with it within a second\n", kid);
	} else if (auth_keyring_open(dir, 0, &kr, &e)) {
		rc = fail(&e);
	} else {
		size_t n;
		struct auth_key *const *keys = auth_keyring_keys(kr, &n);

		for (size_t i = 0; i < n; i++)
			printf("%s  %s%s\n", auth_key_kid(keys[i]),
			       auth_key_alg(keys[i]) == AUTH_EDDSA ? "EdDSA" : "ES256",
			       i + 1 == n ? "  (signs)" : "");
	}
	auth_keyring_free(kr);
	config_release(&cfg);
	return rc;
}
