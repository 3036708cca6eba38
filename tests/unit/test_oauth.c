/* Apps through the in-process seam (decision 0019): the login page's
 * escaping and headers, a code redeemed by many threads at once, a refresh
 * token used by many threads at once, and the revoked set past its first
 * size. A real store and real signing keys; no socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "api/api_int.h"
#include "base/time.h"

#define RACERS 8
#define CB "https://app.example.vn/cb"
#define VERIFIER "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"	/* RFC 7636 Appendix B */
#define CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
#define PASSWORD "Clinician password 42"

static char dir[64], keys[96];
static struct store *st;
static struct api *api;

static int call(const char *method, const char *path, const char *const (*params)[2],
		const char *form, const char *bearer, struct api_response *res)
{
	struct api_request req = { 0 };
	char auth[4096];

	req.method = method;
	req.path = path;
	req.host = "fhir.test:8080";
	req.body = form;
	req.body_len = form ? strlen(form) : 0;
	req.content_type = form ? "application/x-www-form-urlencoded" : NULL;
	req.url_len = strlen(path);
	for (int i = 0; params && params[i][0]; i++) {
		req.params[i].name = params[i][0];
		req.params[i].value = params[i][1];
		req.n_params++;
	}
	if (bearer) {
		snprintf(auth, sizeof(auth), "Bearer %s", bearer);
		req.authorization = auth;
	}
	api_response_release(res);
	api_response_init(res);
	return api_handle(api, &req, res);
}

/* A response header's value, or NULL. */
static const char *header(const struct api_response *res, const char *name)
{
	for (size_t at = 0; at < res->headers.n;) {
		const char *n = res->headers.p + at, *v = n + strlen(n) + 1;

		if (!strcasecmp(n, name))
			return v;
		at = (size_t)(v + strlen(v) + 1 - res->headers.p);
	}
	return NULL;
}

/* "name=value&..." with the values percent-encoded. */
static char *form(const char *const (*fields)[2])
{
	struct buf b;

	buf_init(&b, 0);
	for (int i = 0; fields[i][0]; i++)
		assert_int_equal(buf_printf(&b, "%s%s=", i ? "&" : "", fields[i][0]) ||
					 api_put_query_value(&b, fields[i][1]), 0);
	return buf_detach(&b, NULL);
}

/* A query parameter of the Location header, malloc'ed, or NULL. */
static char *location_param(const struct api_response *res, const char *name)
{
	const char *p = res->location.p ? strchr(res->location.p, '?') : NULL;
	size_t n = strlen(name);

	while (p && *p) {
		p++;
		if (!strncmp(p, name, n) && p[n] == '=')
			return strndup(p + n + 1, strcspn(p + n + 1, "&"));
		p = strchr(p, '&');
	}
	return NULL;
}

static char *json_field(const struct api_response *res, const char *name)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "\"%s\":\"", name);
	if (!res->body.p || !(p = strstr(res->body.p, key)))
		return NULL;
	p += strlen(key);
	return strndup(p, strcspn(p, "\""));
}

static int setup(void **state)
{
	struct store_config sc = { .backend = "sqlite", .data_dir = dir };
	struct api_config ac = { .limits = { .max_body_bytes = 65536, .max_url_bytes = 8192,
					      .max_json_depth = 16 },
				 .keys_dir = keys };
	struct store_tenant t = { .code = "79001", .name = "A" };
	struct store_principal user = { .kind = "user", .name = "bs-lan", .roles = "clinician",
					.scopes = "user/*.rs" };
	struct store_principal app = { .kind = "client", .name = "app", .is_public = 1,
				       .redirect_uris = CB,
				       .scopes = "user/*.rs patient/*.rs offline_access" };
	struct err e = { 0 };

	snprintf(dir, sizeof(dir), "/tmp/lt-oauth-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	assert_int_equal(store_open(&sc, &st, &e), 0);
	assert_int_equal(store_tenant_add(st, &t, &e), 0);
	user.tenant = app.tenant = t.id;
	user.last_used_ms = time_now_ms();
	assert_int_equal(auth_password_hash(PASSWORD, user.secret, &e), 0);
	assert_int_equal(store_principal_put(st, &user, &e), 0);
	assert_int_equal(store_principal_put(st, &app, &e), 0);
	assert_int_equal(api_new(&ac, st, &api, &e), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	api_free(api);
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

#define REQUEST(state_, scope_)                                                              \
	{ "response_type", "code" }, { "client_id", "app" }, { "redirect_uri", CB },         \
	{ "scope", scope_ }, { "state", state_ }, { "code_challenge", CHALLENGE },           \
	{ "code_challenge_method", "S256" }

static void login_page_escapes_and_locks_down(void **state)
{
	static const char *const q[][2] = {
		REQUEST("\"><script>alert('x')</script>", "user/*.rs <img&'x>"),
		{ "username", "<u>\"" },
		{ NULL, NULL },
	};
	struct api_response res;

	api_response_init(&res);
	assert_int_equal(call("GET", "/auth/authorize", q, NULL, NULL, &res), 200);
	assert_string_equal(res.content_type, "text/html; charset=utf-8");
	assert_null(strstr(res.body.p, "<script>"));
	assert_null(strstr(res.body.p, "<img"));
	assert_null(strstr(res.body.p, "<u>"));
	assert_non_null(strstr(res.body.p, "value=\"&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)"
					   "&lt;/script&gt;\""));
	assert_non_null(strstr(res.body.p, "user/*.rs &lt;img&amp;&#39;x&gt;"));
	assert_non_null(strstr(res.body.p, "value=\"&lt;u&gt;&quot;\""));
	assert_non_null(strstr(res.body.p, "Tên đăng nhập / User name"));
	assert_string_equal(header(&res, "Content-Security-Policy"),
			    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' "
			    "https://app.example.vn; frame-ancestors 'none'; base-uri 'none'");
	assert_string_equal(header(&res, "Cache-Control"), "no-store");
	assert_int_equal(res.location.n, 0);
	/* PUT is not a method of this endpoint */
	assert_int_equal(call("PUT", "/auth/authorize", q, NULL, NULL, &res), 405);
	api_response_release(&res);
}

/* A login, then the code it gave, malloc'ed. */
static char *code_for(const char *scope)
{
	const char *const f[][2] = {
		REQUEST("s", scope), { "username", "bs-lan" }, { "password", PASSWORD }, { NULL, NULL },
	};
	struct api_response res;
	char *body = form(f), *code;

	api_response_init(&res);
	assert_int_equal(call("POST", "/auth/authorize", NULL, body, NULL, &res), 303);
	assert_non_null(code = location_param(&res, "code"));
	free(body);
	api_response_release(&res);
	return code;
}

struct racer {
	pthread_barrier_t *go;
	const char *form;
	int status;
	char *access, *refresh;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct api_response res;

	api_response_init(&res);
	pthread_barrier_wait(r->go);
	r->status = call("POST", "/auth/token", NULL, r->form, NULL, &res);
	r->access = json_field(&res, "access_token");
	r->refresh = json_field(&res, "refresh_token");
	api_response_release(&res);
	return NULL;
}

/* RACERS threads post one form at once; the index of the one 200 (-1 if
 * none), and how many got 200. */
static int race_all(const char *form_text, struct racer *r, int *n_ok)
{
	pthread_t t[RACERS];
	pthread_barrier_t go;
	int ok = -1;

	*n_ok = 0;
	pthread_barrier_init(&go, NULL, RACERS);
	for (int i = 0; i < RACERS; i++) {
		r[i] = (struct racer){ .go = &go, .form = form_text };
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < RACERS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (int i = 0; i < RACERS; i++)
		if (r[i].status == 200) {
			ok = i;
			(*n_ok)++;
		} else
			assert_int_equal(r[i].status, 400);
	return ok;
}

static void racers_free(struct racer *r)
{
	for (int i = 0; i < RACERS; i++) {
		free(r[i].access);
		free(r[i].refresh);
	}
}

/* One code, eight exchanges at once: at most one gets tokens, and the
 * others, being reuses, revoke them (RFC 6749 §4.1.2): a reuse seen while
 * the first exchange is still running fails that one too. */
static void a_code_is_redeemed_once_across_threads(void **state)
{
	char *code = code_for("user/*.rs offline_access"), *body;
	const char *const f[][2] = {
		{ "grant_type", "authorization_code" }, { "client_id", "app" }, { "code", code },
		{ "redirect_uri", CB }, { "code_verifier", VERIFIER }, { NULL, NULL },
	};
	struct racer r[RACERS];
	struct api_response res;
	int n_ok, win;

	body = form(f);
	win = race_all(body, r, &n_ok);
	assert_true(n_ok <= 1);
	api_response_init(&res);
	assert_int_equal(call("POST", "/auth/token", NULL, body, NULL, &res), 400);
	assert_non_null(strstr(res.body.p, "used already"));
	if (win >= 0) {
		assert_non_null(r[win].access);
		assert_non_null(r[win].refresh);
		assert_int_equal(call("GET", "/fhir/Patient", NULL, NULL, r[win].access, &res), 401);
	}
	if (win >= 0) {
		const char *const g[][2] = {
			{ "grant_type", "refresh_token" }, { "client_id", "app" },
			{ "refresh_token", r[win].refresh }, { NULL, NULL },
		};
		char *again = form(g);

		assert_int_equal(call("POST", "/auth/token", NULL, again, NULL, &res), 400);
		assert_non_null(strstr(res.body.p, "invalid_grant"));
		free(again);
	}
	api_response_release(&res);
	racers_free(r);
	free(body);
	free(code);
}

/* One refresh token, eight uses at once: one rotation wins, and the
 * others' reuse revokes the whole family, the winner's new tokens too
 * (RFC 9700 §4.14.2). */
static void a_refresh_token_is_used_once_across_threads(void **state)
{
	char *code = code_for("user/*.rs offline_access"), *body, *rt;
	const char *const f[][2] = {
		{ "grant_type", "authorization_code" }, { "client_id", "app" }, { "code", code },
		{ "redirect_uri", CB }, { "code_verifier", VERIFIER }, { NULL, NULL },
	};
	struct api_response res;
	struct racer r[RACERS];
	int n_ok, win;

	api_response_init(&res);
	body = form(f);
	assert_int_equal(call("POST", "/auth/token", NULL, body, NULL, &res), 200);
	free(body);
	assert_non_null(rt = json_field(&res, "refresh_token"));
	{
		const char *const g[][2] = {
			{ "grant_type", "refresh_token" }, { "client_id", "app" },
			{ "refresh_token", rt }, { NULL, NULL },
		};

		body = form(g);
	}
	win = race_all(body, r, &n_ok);
	assert_int_equal(n_ok, 1);
	assert_non_null(r[win].refresh);
	assert_string_not_equal(r[win].refresh, rt);
	assert_int_equal(call("GET", "/fhir/Patient", NULL, NULL, r[win].access, &res), 401);
	free(body);
	{
		const char *const g[][2] = {
			{ "grant_type", "refresh_token" }, { "client_id", "app" },
			{ "refresh_token", r[win].refresh }, { NULL, NULL },
		};

		body = form(g);
	}
	assert_int_equal(call("POST", "/auth/token", NULL, body, NULL, &res), 400);
	assert_non_null(strstr(res.body.p, "revoked"));
	free(body);
	free(rt);
	free(code);
	racers_free(r);
	api_response_release(&res);
}

/* Past its first 256 slots the set grows and keeps every entry. */
static void the_revoked_set_grows(void **state)
{
	int64_t exp = time_now_ms() / 1000 + 900;
	char jti[32];
	struct err e = { 0 };

	assert_false(api_token_revoked(api, "never-revoked"));
	for (int i = 0; i < 600; i++) {
		snprintf(jti, sizeof(jti), "jti-%d", i);
		assert_int_equal(api_revoke_token(api, jti, exp, &e), 0);
	}
	for (int i = 0; i < 600; i++) {
		snprintf(jti, sizeof(jti), "jti-%d", i);
		assert_true(api_token_revoked(api, jti));
	}
	assert_false(api_token_revoked(api, "jti-600"));
	assert_false(api_token_revoked(api, ""));
	assert_false(api_token_revoked(api, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(login_page_escapes_and_locks_down),
		cmocka_unit_test(a_code_is_redeemed_once_across_threads),
		cmocka_unit_test(a_refresh_token_is_used_once_across_threads),
		cmocka_unit_test(the_revoked_set_grows),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
