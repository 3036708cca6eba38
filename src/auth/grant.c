/*
 * grant.c — the rules of the authorization code grant that need no store
 * and no HTTP (decision 0019): PKCE S256 (RFC 7636), which redirect URIs a
 * client may register (RFC 6749 §3.1.2), and the scope an app gets for a
 * user.
 */
#include "auth.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PKCE_VERIFIER_MIN 43
#define PKCE_VERIFIER_MAX 128
#define PKCE_CHALLENGE_LEN 43		/* base64url of a SHA-256, unpadded */

/* RFC 7636 §4.1: ALPHA / DIGIT / "-" / "." / "_" / "~" */
static int unreserved(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

int auth_pkce_verifier_valid(const char *v)
{
	size_t n = v ? strlen(v) : 0;

	if (n < PKCE_VERIFIER_MIN || n > PKCE_VERIFIER_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!unreserved(v[i]))
			return 0;
	return 1;
}

/* 43 base64url characters that decode to 32 bytes (one spelling only). */
int auth_pkce_challenge_valid(const char *c)
{
	struct buf raw;
	struct err e = { 0 };
	int ok;

	if (!c || strlen(c) != PKCE_CHALLENGE_LEN)
		return 0;
	buf_init(&raw, 64);
	ok = !auth_b64url_decode(c, PKCE_CHALLENGE_LEN, &raw, &e) && raw.n == 32;
	buf_release(&raw);
	return ok;
}

int auth_pkce_s256_check(const char *verifier, const char *challenge)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdn = 0;
	struct buf want;
	int ok;

	if (!auth_pkce_verifier_valid(verifier) || !auth_pkce_challenge_valid(challenge))
		return 0;
	if (!EVP_Digest(verifier, strlen(verifier), md, &mdn, EVP_sha256(), NULL) || mdn != 32)
		return 0;
	buf_init(&want, 0);
	ok = !auth_b64url_encode(md, mdn, &want) &&
	     auth_ct_equal(want.p, want.n, challenge, strlen(challenge));
	buf_release(&want);
	return ok;
}

/* ---- Redirect URIs ------------------------------------------------------------- */

/* Characters a URI may hold as given here: printable ASCII without the
 * ones RFC 3986 never allows, and without '#' (RFC 6749 §3.1.2: no
 * fragment). A space cannot occur, so a list of URIs is space-separated. */
static int uri_char(char c)
{
	return c > ' ' && c < 0x7f && !strchr("\"<>\\^`{|}#", c);
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The authority of an http(s) URI: [p, p + *n), after "://". */
static const char *authority(const char *uri, size_t *n)
{
	const char *p = strstr(uri, "://");

	if (!p)
		return NULL;
	p += 3;
	*n = strcspn(p, "/?");
	return p;
}

static int host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.';
}

/* host[:port], the host a name, an IPv4 address or a bracketed IPv6 one. */
static int host_port_valid(const char *p, size_t n)
{
	size_t host_n = 0;

	if (n && p[0] == '[') {
		const char *close = memchr(p, ']', n);

		if (!close || close == p + 1)
			return 0;
		for (const char *q = p + 1; q < close; q++)
			if (!is_hex(*q) && *q != ':' && *q != '.')
				return 0;
		host_n = (size_t)(close - p) + 1;
	} else {
		while (host_n < n && p[host_n] != ':')
			if (!host_char(p[host_n++]))
				return 0;
		if (!host_n)
			return 0;
	}
	if (host_n == n)
		return 1;
	/* ":" and 1 to 5 digits */
	if (p[host_n] != ':' || n - host_n < 2 || n - host_n > 6)
		return 0;
	for (size_t i = host_n + 1; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	return 1;
}

static int is_loopback(const char *p, size_t n)
{
	static const char *const names[] = { "localhost", "127.0.0.1", "[::1]" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t k = strlen(names[i]);

		if (n >= k && !strncasecmp(p, names[i], k) && (n == k || p[k] == ':'))
			return 1;
	}
	return 0;
}

const char *auth_redirect_uri_invalid(const char *uri)
{
	size_t n = uri ? strlen(uri) : 0, an = 0;
	const char *auth;
	int https;

	if (!n || n >= AUTH_REDIRECT_URI_MAX)
		return "a redirect URI is 1 to 511 characters";
	for (size_t i = 0; i < n; i++) {
		if (!uri_char(uri[i]))
			return "a redirect URI has no spaces, fragment (#) or characters outside URI syntax";
		if (uri[i] == '%' && (!is_hex(uri[i + 1]) || !is_hex(uri[i + 2])))
			return "a redirect URI has a '%' not followed by two hex digits";
	}
	https = !strncasecmp(uri, "https://", 8);
	if (!https && strncasecmp(uri, "http://", 7))
		return "a redirect URI is https://, or http:// on localhost";
	auth = authority(uri, &an);
	if (!auth || !an || memchr(auth, '@', an))
		return "a redirect URI names a host, without user name or password";
	if (!host_port_valid(auth, an))
		return "a redirect URI's host or port is not valid";
	if (!https && !is_loopback(auth, an))
		return "plain http:// is allowed only for localhost, 127.0.0.1 or [::1] (apps on "
		       "the same machine); use https://";
	return NULL;
}

int auth_redirect_uri_origin(const char *uri, char *out, size_t n)
{
	size_t an = 0;
	const char *auth = authority(uri, &an);
	size_t len;

	if (!auth || auth_redirect_uri_invalid(uri))
		return -1;
	len = (size_t)(auth - uri) + an;
	if (len >= n)
		return -1;
	memcpy(out, uri, len);
	out[len] = '\0';
	return 0;
}

int auth_redirect_uri_listed(const char *list, const char *uri)
{
	size_t n = uri ? strlen(uri) : 0;

	if (!n || !list)
		return 0;
	for (const char *p = list; *p;) {
		size_t k = strcspn(p, " ");

		if (k == n && !memcmp(p, uri, n))
			return 1;
		p += k;
		p += strspn(p, " ");
	}
	return 0;
}

/* ---- The scope of a grant ----------------------------------------------------------- */

int auth_scopes_within(const struct auth_scopes *requested, const struct auth_scopes *granted,
		       int *within)
{
	struct buf got, asked;
	int rc;

	buf_init(&got, 0);
	buf_init(&asked, 0);
	/* Narrowing by itself writes the request the way narrowing by the
	 * grant would if the grant covered all of it. */
	rc = auth_scopes_narrow(requested, granted, &got);
	if (!rc)
		rc = auth_scopes_narrow(requested, requested, &asked);
	*within = !rc && got.n == asked.n && (!got.n || !memcmp(got.p, asked.p, got.n));
	buf_release(&got);
	buf_release(&asked);
	return rc;
}

/* The tokens other than resource scopes that a grant may carry. */
static int keep_token(const struct auth_scopes *allowed, const char *token, struct buf *out)
{
	int rc;

	if (!auth_scopes_has(allowed, token))
		return 0;
	rc = out->n ? buf_putc(out, ' ') : 0;
	return rc ? rc : buf_puts(out, token);
}

int auth_grant_scope(const char *requested, const char *client, const char *user, int patient,
		     struct buf *out, struct err *e)
{
	struct auth_scopes *req = malloc(3 * sizeof(*req)), *reg, *own;
	struct buf step;
	int rc;

	if (!req)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	reg = req + 1;
	own = req + 2;
	buf_init(&step, 0);
	if ((rc = auth_scopes_parse(requested ? requested : "", req, e)) ||
	    (rc = auth_scopes_parse(client, reg, e)) || (rc = auth_scopes_parse(user, own, e)))
		goto out;
	/* What the app was registered for, of what it asked... */
	if ((rc = auth_scopes_narrow(req, reg, &step)) ||
	    (rc = auth_scopes_parse(step.p ? step.p : "", req, e)))
		goto out;
	/* ...the resource scopes the user holds too: the user's other tokens
	 * (there should be none) grant nothing to an app. */
	{
		int n = 0;

		for (int i = 0; i < own->n; i++)
			if (own->s[i].context)
				own->s[n++] = own->s[i];
		own->n = n;
	}
	buf_clear(out);
	if ((rc = auth_scopes_narrow(req, own, out)))
		goto out;
	/* A refresh token for an app offline or while the user is online:
	 * offline covers online. launch/patient only with a patient. */
	if ((rc = keep_token(req, "offline_access", out)) ||
	    (!auth_scopes_has(req, "offline_access") && (rc = keep_token(req, "online_access", out))) ||
	    (patient && (rc = keep_token(req, "launch/patient", out))))
		goto out;
out:
	if (rc && !e->code)
		rc = err_set(e, rc, NULL, "out of memory");
	buf_release(&step);
	free(req);
	return rc;
}
