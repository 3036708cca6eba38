/*
 * authorize.c — GET and POST /auth/authorize: the authorization code grant
 * with PKCE (RFC 6749 §4.1, RFC 7636; SMART App Launch v2, standalone),
 * and the login page people see (decision 0019).
 *
 * GET checks the app's request and shows the page. POST (the page's form)
 * checks the request again, since every field comes back from the browser,
 * then the person, and sends the browser back to the app's redirect URI
 * with a code. Until client_id and redirect_uri are known to belong
 * together, errors are shown on a page of ours: sending the browser to a
 * URI nobody registered would make this server an open redirector. After
 * that, errors go back to the app (RFC 6749 §4.1.2.1).
 *
 * The page escapes every value it echoes, has no script, and its
 * Content-Security-Policy lets it load nothing, be framed by nobody, and
 * post only here (and to the app's origin, which the redirect after the
 * post goes to: browsers apply form-action to it).
 */
#include "api_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "../base/arena.h"
#include "../base/time.h"
#include "../fhir/search.h"

#define AUTHZ_MAX_FIELDS 32		/* form fields (the page has 12) */
#define AUTHZ_STATE_MAX 1024		/* an app's state is echoed: a cap */

/* The parameters of an authorization request, borrowed from the query or
 * the form, and what checking them found. */
struct authz {
	const char *response_type, *client_id, *redirect_uri, *state, *scope, *challenge,
		*method, *aud;
	const char *username, *password, *totp;	/* POST */
	struct store_principal client;
	char origin[AUTH_REDIRECT_URI_MAX];	/* of redirect_uri, for the CSP */
	int trusted;			/* redirect_uri is the client's: errors go there */
};

/* The generic refusal of a login: which of the three was wrong is not
 * said, nor whether the account exists or is locked. */
static const char LOGIN_REFUSED[] =
	"Tên đăng nhập, mật khẩu hoặc mã xác thực không đúng, hoặc tài khoản đang bị khóa. / "
	"The user name, password or one-time code is wrong, or the account is locked.";

/* ---- HTML -------------------------------------------------------------------------- */

static int put_html(struct buf *b, const char *s)
{
	int rc = 0;

	for (; s && *s && !rc; s++) {
		switch (*s) {
		case '&': rc = buf_puts(b, "&amp;"); break;
		case '<': rc = buf_puts(b, "&lt;"); break;
		case '>': rc = buf_puts(b, "&gt;"); break;
		case '"': rc = buf_puts(b, "&quot;"); break;
		case '\'': rc = buf_puts(b, "&#39;"); break;
		default: rc = buf_putc(b, *s);
		}
	}
	return rc;
}

static const char PAGE_HEAD[] =
	"<!DOCTYPE html>\n<html lang=\"vi\">\n<head>\n<meta charset=\"utf-8\">\n"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	"<title>Đăng nhập / Sign in · lienthong</title>\n<style>\n"
	"body{margin:0;font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;"
	"background:#f2f4f7;color:#1d2733}\n"
	"main{max-width:24rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:8px;"
	"box-shadow:0 1px 4px rgba(0,0,0,.15)}\n"
	"h1{font-size:1.3rem;margin:0 0 .25rem}\n"
	".app{margin:0 0 1.5rem;color:#556}\n"
	"label{display:block;margin:0 0 1rem;font-weight:600;font-size:.9rem}\n"
	"label small{font-weight:400;color:#667}\n"
	"input{display:block;box-sizing:border-box;width:100%;margin-top:.3rem;padding:.6rem;"
	"font:inherit;border:1px solid #9aa6b2;border-radius:4px}\n"
	"input:focus{outline:2px solid #1b6ac9;border-color:#1b6ac9}\n"
	"button{width:100%;padding:.7rem;font:inherit;font-weight:600;color:#fff;"
	"background:#1b6ac9;border:0;border-radius:4px;cursor:pointer}\n"
	".err{padding:.6rem .8rem;margin:0 0 1rem;background:#fdecea;color:#8a1c12;"
	"border-radius:4px}\n"
	".scope{margin:1.5rem 0 0;font-size:.8rem;color:#667;overflow-wrap:anywhere}\n"
	"</style>\n</head>\n<body>\n<main>\n";

static const char PAGE_FIELDS[] =
	"<label>Tên đăng nhập / User name<input name=\"username\" value=\"%s\""
	" autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" required"
	" autofocus></label>\n"
	"<label>Mật khẩu / Password<input type=\"password\" name=\"password\""
	" autocomplete=\"current-password\" required></label>\n"
	"<label>Mã xác thực / One-time code <small>(nếu đã đăng ký / if enrolled)</small>"
	"<input name=\"totp\" inputmode=\"numeric\" autocomplete=\"one-time-code\""
	" pattern=\"[0-9]{6}\" maxlength=\"6\"></label>\n";

/* The headers of every page: text/html, its CSP (form-action: here and,
 * with a trusted request, the app's origin), never stored. */
static int page_start(struct api_ctx *c, const struct authz *az, int status)
{
	char csp[AUTH_REDIRECT_URI_MAX + 160];

	snprintf(csp, sizeof(csp),
		 "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'%s%s;"
		 " frame-ancestors 'none'; base-uri 'none'",
		 az->trusted ? " " : "", az->trusted ? az->origin : "");
	c->res->status = status;
	c->res->content_type = "text/html; charset=utf-8";
	buf_clear(&c->res->body);
	if (api_response_add_header(c->res, "Content-Security-Policy", csp) ||
	    api_response_add_header(c->res, "Cache-Control", "no-store") ||
	    buf_puts(&c->res->body, PAGE_HEAD))
		return err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
	return 0;
}

static int page_end(struct api_ctx *c)
{
	return buf_puts(&c->res->body, "</main>\n</body>\n</html>\n")
		       ? err_set(&c->err, ERR_NOMEM, NULL, "out of memory") : 0;
}

/* A request we cannot send back to any app: a page that says why. */
static int error_page(struct api_ctx *c, const struct authz *az, const char *why)
{
	struct buf *b = &c->res->body;
	int rc;

	c->audit_outcome_detail = why;
	if ((rc = page_start(c, az, 400)))
		return rc;
	if (buf_puts(b, "<h1>Không thể đăng nhập / Cannot sign in</h1>\n<p class=\"err\">") ||
	    put_html(b, why) ||
	    buf_puts(b, "</p>\n<p>Hãy báo cho người cung cấp ứng dụng. / Please tell the app's "
			"provider.</p>\n"))
		return err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
	return page_end(c);
}

static int put_hidden(struct buf *b, const char *name, const char *value)
{
	if (!value)
		return 0;
	return buf_printf(b, "<input type=\"hidden\" name=\"%s\" value=\"", name) ||
	       put_html(b, value) || buf_puts(b, "\">\n");
}

/* The login form, the request carried in hidden fields; message (may be
 * NULL) in a box above it. */
static int login_page(struct api_ctx *c, const struct authz *az, int status, const char *message)
{
	struct buf *b = &c->res->body;
	struct buf name;
	int rc;

	if ((rc = page_start(c, az, status)))
		return rc;
	buf_init(&name, 0);
	rc = buf_puts(b, "<h1>Đăng nhập / Sign in</h1>\n<p class=\"app\">Ứng dụng / App: <b>") ||
	     put_html(b, az->client_id) || buf_puts(b, "</b></p>\n");
	if (!rc && message)
		rc = buf_puts(b, "<p class=\"err\" role=\"alert\">") || put_html(b, message) ||
		     buf_puts(b, "</p>\n");
	if (!rc)
		rc = buf_puts(b, "<form method=\"post\" action=\"authorize\">\n") ||
		     put_html(&name, az->username ? az->username : "") ||
		     buf_printf(b, PAGE_FIELDS, name.p ? name.p : "") ||
		     put_hidden(b, "response_type", az->response_type) ||
		     put_hidden(b, "client_id", az->client_id) ||
		     put_hidden(b, "redirect_uri", az->redirect_uri) ||
		     put_hidden(b, "state", az->state) || put_hidden(b, "scope", az->scope) ||
		     put_hidden(b, "code_challenge", az->challenge) ||
		     put_hidden(b, "code_challenge_method", az->method) ||
		     put_hidden(b, "aud", az->aud) ||
		     buf_puts(b, "<button type=\"submit\">Đăng nhập / Sign in</button>\n</form>\n"
				 "<p class=\"scope\">Quyền ứng dụng xin / Access the app asks for: ") ||
		     put_html(b, az->scope) || buf_puts(b, "</p>\n");
	buf_release(&name);
	if (rc)
		return err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
	return page_end(c);
}

/* ---- Back to the app ----------------------------------------------------------------- */

/* 302 (303 after the form's POST, so the browser follows with GET) to the
 * redirect URI with name=value pairs added to its query. */
static int redirect(struct api_ctx *c, const struct authz *az, const char *const *pairs, size_t n)
{
	struct buf *b = &c->res->location;
	int rc;

	buf_clear(b);
	rc = buf_puts(b, az->redirect_uri);
	for (size_t i = 0; !rc && i + 1 < n; i += 2) {
		if (!pairs[i + 1])
			continue;
		rc = buf_putc(b, strchr(b->p, '?') ? '&' : '?');
		if (!rc)
			rc = buf_printf(b, "%s=", pairs[i]);
		if (!rc)
			rc = api_put_query_value(b, pairs[i + 1]);
	}
	if (rc)
		return err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
	c->res->status = strcmp(c->req->method, "POST") ? 302 : 303;
	buf_clear(&c->res->body);
	c->res->content_type = NULL;
	return 0;
}

/* An RFC 6749 §4.1.2.1 error, sent to the app. */
static int redirect_error(struct api_ctx *c, const struct authz *az, const char *error,
			  const char *desc)
{
	const char *pairs[] = { "error", error, "error_description", desc, "state", az->state };

	c->audit_outcome_detail = desc;
	return redirect(c, az, pairs, sizeof(pairs) / sizeof(pairs[0]));
}

/* ---- The request ---------------------------------------------------------------------- */

/* The value of name in args; *dup set when it is there more than once. */
static const char *field(const struct fhir_search_arg *args, size_t n, const char *name, int *dup)
{
	const char *v = NULL;

	for (size_t i = 0; i < n; i++)
		if (!strcmp(args[i].name, name)) {
			if (v)
				*dup = 1;
			v = args[i].value;
		}
	return v;
}

static void authz_fields(struct authz *az, const struct fhir_search_arg *args, size_t n, int *dup)
{
	az->response_type = field(args, n, "response_type", dup);
	az->state = field(args, n, "state", dup);
	az->scope = field(args, n, "scope", dup);
	az->challenge = field(args, n, "code_challenge", dup);
	az->method = field(args, n, "code_challenge_method", dup);
	az->aud = field(args, n, "aud", dup);
	az->username = field(args, n, "username", dup);
	az->password = field(args, n, "password", dup);
	az->totp = field(args, n, "totp", dup);
}

/* client_id and redirect_uri: known and belonging together, or a page.
 * Returns 0 with *done 0 when the request may go on. */
static int check_client(struct api_ctx *c, struct authz *az, const struct fhir_search_arg *args,
			size_t n, int *done)
{
	int dup = 0;

	*done = 1;
	az->client_id = field(args, n, "client_id", &dup);
	az->redirect_uri = field(args, n, "redirect_uri", &dup);
	if (dup)
		return error_page(c, az, "client_id or redirect_uri is given twice.");
	if (!az->client_id || !*az->client_id)
		return error_page(c, az, "The request has no client_id.");
	snprintf(c->audit_note, sizeof(c->audit_note), "client/%.100s", az->client_id);
	if (store_principal_get(c->api->st, "client", az->client_id, &az->client, &c->err)) {
		if (c->err.code != ERR_NOT_FOUND)
			return c->err.code;
		err_clear(&c->err);
		return error_page(c, az, "This app (client_id) is not registered here.");
	}
	if (!az->client.redirect_uris[0])
		return error_page(c, az, "This client is not registered as an app (it has no redirect URI).");
	if (!az->redirect_uri || !auth_redirect_uri_listed(az->client.redirect_uris, az->redirect_uri))
		return error_page(c, az, "The redirect_uri is not one registered for this app.");
	if (auth_redirect_uri_origin(az->redirect_uri, az->origin, sizeof(az->origin)))
		return error_page(c, az, "The registered redirect_uri is not valid.");
	az->trusted = 1;
	*done = 0;
	return 0;
}

/* The rest of the request (client and redirect URI trusted): *done when
 * an error went back to the app. */
static int check_request(struct api_ctx *c, struct authz *az, int dup, int *done)
{
	struct auth_scopes *scopes = NULL;
	const char *why = NULL, *error = "invalid_request";
	size_t base_n = strlen(c->base);

	*done = 1;
	if (dup)
		why = "a parameter is given twice";
	else if (api_account_refusal(c->api, &az->client, time_now_ms()))
		error = "unauthorized_client", why = "the app is disabled";
	else if (!az->response_type || strcmp(az->response_type, "code"))
		error = "unsupported_response_type", why = "response_type must be code";
	else if (!az->method || strcmp(az->method, "S256"))
		why = "PKCE is required: code_challenge_method must be S256";
	else if (!auth_pkce_challenge_valid(az->challenge))
		why = "code_challenge must be the base64url SHA-256 of the code_verifier (43 characters)";
	else if (!az->state || !*az->state || strlen(az->state) > AUTHZ_STATE_MAX) {
		why = "state is required (at most 1024 characters)";
		az->state = NULL;
	} else if (az->aud && !(strlen(az->aud) >= base_n && !strncmp(az->aud, c->base, base_n) &&
				(!az->aud[base_n] || !strcmp(az->aud + base_n, "/"))))
		why = "aud is not this server's FHIR base URL";
	else if (!az->scope || !*az->scope)
		error = "invalid_scope", why = "scope is required";
	if (!why) {
		struct err e = { 0 };

		if (!(scopes = malloc(sizeof(*scopes))))
			return err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
		if (auth_scopes_parse(az->scope, scopes, &e))
			error = "invalid_scope", why = "the scope is malformed";
		free(scopes);
	}
	if (why)
		return redirect_error(c, az, error, why);
	*done = 0;
	return 0;
}

/* ---- The person --------------------------------------------------------------------- */

static int count_failure(struct api_ctx *c, const struct store_principal *u)
{
	const struct api_config *cfg = &c->api->cfg;

	return store_principal_login(c->api->st, u->id, 0, time_now_ms(),
				     cfg->max_failures > 0 ? cfg->max_failures : 5,
				     (cfg->lock_s > 0 ? cfg->lock_s : 900) * 1000, 0, &c->err);
}

/* The second factor, checked and recorded under one lock: of two logins
 * with one code, the second sees the step the first recorded. */
static int check_totp(struct api_ctx *c, const struct authz *az, struct store_principal *u,
		      int *ok)
{
	int64_t step;
	int rc;

	api_totp_lock(c->api);
	rc = store_principal_get(c->api->st, "user", u->name, u, &c->err);
	step = u->totp_step;
	*ok = !rc && auth_totp_check(u->totp, az->totp ? az->totp : "", time_now_ms() / 1000, &step);
	if (!rc && *ok)
		rc = store_principal_login(c->api->st, u->id, 1, time_now_ms(), 0, 0, step, &c->err);
	else if (!rc)
		rc = count_failure(c, u);
	api_totp_unlock(c->api);
	return rc;
}

/*
 * Who is logging in: 0 with *u and *why NULL, or 0 with *why the page's
 * message, or an error. The password is checked against the dummy hash
 * when there is no account to check (unknown, disabled, locked), so the
 * time taken does not tell; only a wrong password or code of an account
 * that may log in counts towards its lockout.
 */
static int check_person(struct api_ctx *c, const struct authz *az, struct store_principal *u,
			const char **why)
{
	const char *refusal = NULL, *unknown;
	int found, ok, rc;

	*why = LOGIN_REFUSED;
	found = !store_principal_get(c->api->st, "user", az->username, u, &c->err);
	if (!found && c->err.code != ERR_NOT_FOUND)
		return c->err.code;
	err_clear(&c->err);
	if (found)
		refusal = api_account_refusal(c->api, u, time_now_ms());
	if ((rc = api_login_begin(c->api, &c->err)))
		return rc;
	ok = auth_password_verify(found && !refusal ? u->secret : auth_dummy_hash(), az->password);
	api_login_end(c->api);
	if (!found) {
		c->audit_outcome_detail = "unknown user name";	/* not echoed: it may be a password */
		return 0;
	}
	snprintf(c->who.agent, sizeof(c->who.agent), "user/%.100s", u->name);
	if (refusal) {
		c->audit_outcome_detail = refusal;
		return 0;
	}
	if (!ok) {
		c->audit_outcome_detail = "wrong password";
		return count_failure(c, u);
	}
	if (!u->totp[0] && (api_roles_parse(u->roles, &unknown) & API_ROLE_ADMIN)) {
		c->audit_outcome_detail = "an administrator without TOTP";
		*why = "Tài khoản quản trị phải có mã xác thực (lienthong user totp). / An administrator "
		       "must have a one-time code enrolled (lienthong user totp).";
		return 0;
	}
	if (u->totp[0]) {
		if ((rc = check_totp(c, az, u, &ok)) || !ok) {
			c->audit_outcome_detail = "wrong or reused one-time code";
			return rc;
		}
	} else if ((rc = store_principal_login(c->api->st, u->id, 1, time_now_ms(), 0, 0, 0,
					       &c->err)))
		return rc;
	*why = NULL;
	return 0;
}

/* A resource scope in a granted scope string: without one a token is no use. */
static int grants_access(const char *scope)
{
	struct auth_scopes *s = malloc(sizeof(*s));
	struct err e = { 0 };
	int any = 0;

	if (s && !auth_scopes_parse(scope, s, &e))
		for (int i = 0; i < s->n && !any; i++)
			any = s->s[i].context != 0;
	free(s);
	return any;
}

/* The person is who they say: a code for what they and the app may do. */
static int grant_code(struct api_ctx *c, const struct authz *az, const struct store_principal *u)
{
	struct api_code g = { 0 };
	struct buf scope, code;
	const char *patient = !strncmp(u->patient, "Patient/", 8) ? u->patient + 8 : "";
	int rc;

	c->tenant = u->tenant;
	if (az->client.tenant && az->client.tenant != u->tenant)
		return redirect_error(c, az, "access_denied",
				      "this app is registered for another facility");
	buf_init(&scope, 0);
	buf_init(&code, 0);
	rc = auth_grant_scope(az->scope, az->client.scopes, u->scopes, *patient != '\0', &scope,
			      &c->err);
	if (rc == ERR_BAD_REQUEST) {
		err_clear(&c->err);
		rc = redirect_error(c, az, "invalid_scope", "the scope is malformed");
	} else if (!rc && !grants_access(scope.p)) {
		rc = redirect_error(c, az, "invalid_scope",
				    "none of the scopes asked for is granted to this user through this app");
	} else if (!rc) {
		snprintf(g.client, sizeof(g.client), "%s", az->client.name);
		snprintf(g.redirect_uri, sizeof(g.redirect_uri), "%s", az->redirect_uri);
		snprintf(g.challenge, sizeof(g.challenge), "%s", az->challenge);
		snprintf(g.user, sizeof(g.user), "%s", u->name);
		snprintf(g.scope, sizeof(g.scope), "%s", scope.p);
		snprintf(g.patient, sizeof(g.patient), "%s", patient);
		if (!(rc = api_code_new(c->api, &g, &code, &c->err))) {
			const char *pairs[] = { "code", code.p, "state", az->state };

			c->audit_outcome_detail = c->audit_note;
			rc = redirect(c, az, pairs, 4);
		}
	}
	buf_release(&scope);
	if (code.p)
		explicit_bzero(code.p, code.n);
	buf_release(&code);
	return rc;
}

/* POST: the form came back. */
static int login(struct api_ctx *c, struct authz *az)
{
	struct store_principal u;
	const char *why;
	int rc;

	/* An app may post its request instead of getting the page (SMART's
	 * authorize-post): then there is no one to check yet. */
	if (!az->username && !az->password)
		return login_page(c, az, 200, NULL);
	c->audit_subtype = "login";
	if (!az->username || !*az->username || !az->password || !*az->password) {
		c->audit_outcome_detail = "no user name or password";
		return login_page(c, az, 400, "Hãy nhập tên đăng nhập và mật khẩu. / Enter your user "
					      "name and password.");
	}
	rc = check_person(c, az, &u, &why);
	if (rc == ERR_BUSY) {
		err_clear(&c->err);
		return login_page(c, az, 503, "Máy chủ đang bận, hãy thử lại. / The server is busy; "
					      "try again.");
	}
	if (rc)
		return rc;
	if (why)
		return login_page(c, az, 403, why);
	return grant_code(c, az, &u);
}

int api_authorize(struct api_ctx *c)
{
	struct fhir_search_arg args[AUTHZ_MAX_FIELDS];
	struct authz az;
	struct arena a;
	size_t n = 0;
	int rc, dup = 0, done, post = !strcmp(c->req->method, "POST");

	memset(&az, 0, sizeof(az));
	c->audit_subtype = "authorize";
	if (!post && strcmp(c->req->method, "GET")) {
		c->res->allow = "GET, POST";
		return err_set(&c->err, ERR_METHOD, NULL, "the authorization endpoint takes GET and POST");
	}
	arena_init(&a, 0);
	if (post && (!c->req->content_type ||
		     strncasecmp(c->req->content_type, "application/x-www-form-urlencoded", 33))) {
		rc = error_page(c, &az, "The form must be sent as application/x-www-form-urlencoded.");
		goto out;
	}
	if (post && api_parse_form(&a, c->req->body, c->req->body_len, 1, args, &n, AUTHZ_MAX_FIELDS,
				   &c->err)) {
		err_clear(&c->err);
		rc = error_page(c, &az, "The form cannot be read.");
		goto out;
	}
	for (int i = 0; !post && i < c->req->n_params && n < AUTHZ_MAX_FIELDS; i++)
		args[n++] = (struct fhir_search_arg){ c->req->params[i].name, c->req->params[i].value };
	/* Parameters dropped (too many) might have been given twice. */
	dup = !post && (c->req->too_many_params || c->req->n_params > AUTHZ_MAX_FIELDS);
	if ((rc = check_client(c, &az, args, n, &done)) || done)
		goto out;
	authz_fields(&az, args, n, &dup);
	if ((rc = check_request(c, &az, dup, &done)) || done)
		goto out;
	c->audit_outcome_detail = c->audit_note;
	rc = post ? login(c, &az) : login_page(c, &az, 200, NULL);
out:
	arena_release(&a);
	return rc;
}
