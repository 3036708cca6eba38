/*
 * fuzz_jwt.c — JWKS documents and compact JWS (src/auth/key.c, jwt.c): what
 * a client sends as its assertion and registers as its keys (decision 0020).
 *
 * Input: JWKS SEP TOKEN (SEP "\n@@\n"): the JWKS is parsed, and the token
 * checked against its keys when it parses. Without SEP the input is a token,
 * checked against fixed keys of every alg (ES256 and EdDSA of RFC 7515 and
 * RFC 8037, the ES384 and RS384 keys of tests/data/jose), at the instant
 * the seeds' tokens are valid.
 * Oracles, besides the sanitizers:
 *   - auth_jwks_parse: a refusal has a code and an issue and leaves no keys;
 *     an accepted set has 1 to 64 public keys of a known alg with
 *     printable kids, whose public JWKs (written back) are strict JSON that
 *     parses back to the same kids and algs;
 *   - auth_jwt_verify: a refusal is ERR_UNAUTHORIZED, with an issue that
 *     does not quote the token, and no claims; an accepted token has claims,
 *     and auth_jwt_claims_unverified reads the same claims from it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "fuzz_util.h"
#include "auth/auth.h"

#define FZ_SEP "\n@@\n"
#define FZ_NOW 1800000000	/* tests/data/jose's tokens are valid then */

static const char fz_fixed_jwks[] =
	"{\"keys\":["
	"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
	"\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"},"
	"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"},"
	"{\"kty\":\"EC\",\"crv\":\"P-384\",\"kid\":\"es384-1\",\"alg\":\"ES384\",\"use\":\"sig\","
	"\"x\":\"PPnRMGMEJQzxu9ak2qe6d_kBuDu4s3uX-B6QNnhJTQlBh6LOp6ekU59mv8h4qmur\","
	"\"y\":\"ItVhQJgZI6JpzaIYcbODLPbOMvxsRCsbCtvMASC9lYk4GwnlJhML7-0UF0KGWhSs\"},"
	"{\"kty\":\"RSA\",\"kid\":\"rs384-1\",\"alg\":\"RS384\",\"use\":\"sig\",\"e\":\"AQAB\","
	"\"n\":\"y5FKki6tvAju_bW-k4rp6oX5pd21LOQt-mkxkaDOplOWMAEO_S9mSgky2yP7ceSgJqHOr86Fw7M-z2Xs"
	"yNytAfPV1LrJMzO_E1MGgFGo6iJvIsjwA61hM_Y70ByKmJ-7ZCXfHPpAIzrls8DKYbjDoXWs_7wHKsS0ZTZXW05M"
	"8iSj2v_jtSw2UrdUIX4MkMkTOW91Rg4saVIt1UFAER-cUpf5gNObt4YIDZZdhTIfFvV5BCOgDkDOXQWwnVdiplnF"
	"VeDx7MsrDG1d-Oumg2qGAb-U1mYsa3pPPLjRNiUWYi_2tGtyQxhVHDAPzY8ZcVzLHhu2SrS7FWFoSx7HI5OsOw\"}"
	"]}";

/* The accepted set written back as a JWKS must parse to the same keys. */
static void fuzz_jwt_check_keys(struct auth_key **keys, size_t n)
{
	struct auth_key **back = NULL;
	struct err e = { 0 };
	struct buf doc;
	size_t n_back = 0;

	if (n < 1 || n > 64)
		fz_fail("auth_jwks_parse accepted a set of no keys, or too many", NULL, 0);
	buf_init(&doc, 0);
	if (buf_puts(&doc, "{\"keys\":["))
		goto out;
	for (size_t i = 0; i < n; i++) {
		const char *kid = auth_key_kid(keys[i]);
		size_t len = strlen(kid);

		if (auth_key_is_private(keys[i]) || !auth_alg_name(auth_key_alg(keys[i])))
			fz_fail("a JWKS gave a private key, or one of no known alg", kid, len);
		for (size_t j = 0; j < len; j++)
			if (kid[j] < 0x20 || kid[j] > 0x7e)
				fz_fail("a JWKS gave a kid that is not printable", kid, len);
		if (len == 0 || len > AUTH_KID_MAX)
			fz_fail("a JWKS gave a kid that is not 1 to 64 characters", kid, len);
		if ((i && buf_putc(&doc, ',')) || auth_key_public_jwk(keys[i], &doc, &e)) {
			fz_fail("auth_key_public_jwk failed on a parsed key", kid, len);
			goto out;
		}
	}
	if (buf_puts(&doc, "]}") || fz_require_json("public JWKS", doc.p, doc.n))
		goto out;
	if (auth_jwks_parse(doc.p, doc.n, &back, &n_back, &e)) {
		fprintf(stderr, "*** reparse: %s\n", e.issue[0].diagnostics);
		fz_fail("the written JWKS does not parse back", doc.p, doc.n);
		goto out;
	}
	for (size_t i = 0; i < n && n_back == n; i++)
		if (strcmp(auth_key_kid(keys[i]), auth_key_kid(back[i])) != 0 ||
		    auth_key_alg(keys[i]) != auth_key_alg(back[i]))
			fz_fail("the written JWKS parses back to other keys", doc.p, doc.n);
	if (n_back != n)
		fz_fail("the written JWKS parses back to another number of keys", doc.p, doc.n);
out:
	auth_keys_free(back, n_back);
	buf_release(&doc);
}

/* A refusal must not quote the token: 16 bytes of its head without a space
 * cannot come from any of the reasons' words. */
static void fuzz_jwt_check_refusal(const char *token, size_t n, const struct err *e)
{
	char head[17];

	fz_check_err("auth_jwt_verify", e->code, e);
	if (e->code != ERR_UNAUTHORIZED)
		fz_fail("auth_jwt_verify refused with another code than ERR_UNAUTHORIZED", token, n);
	if (n < 16)
		return;
	memcpy(head, token, 16);
	head[16] = '\0';
	if (!memchr(head, ' ', 16) && strlen(head) == 16 && strstr(e->issue[0].diagnostics, head))
		fz_fail("a JWT refusal quotes the token", e->issue[0].diagnostics,
			strlen(e->issue[0].diagnostics));
}

static void fuzz_jwt_verify(const char *token, size_t n, struct auth_key **keys, size_t n_keys)
{
	struct auth_jwt_check chk = { .now_s = FZ_NOW, .leeway_s = 30 };
	struct json_object *claims = (struct json_object *)1, *peek = NULL;
	struct err e = { 0 }, pe = { 0 };
	int rc = auth_jwt_verify(token, n, keys, n_keys, &chk, &claims, &e);

	if (rc) {
		if (claims != (struct json_object *)1)
			fz_fail("a refused JWT left claims behind", token, n);
		fuzz_jwt_check_refusal(token, n, &e);
		return;
	}
	if (!claims || claims == (struct json_object *)1)
		fz_fail("an accepted JWT gave no claims", token, n);
	else if (auth_jwt_claims_unverified(token, n, &peek, &pe) || !json_object_equal(claims, peek))
		fz_fail("the unverified claims of an accepted JWT are not its claims", token, n);
	json_object_put(peek);
	if (claims != (struct json_object *)1)
		json_object_put(claims);
}

/* The fixed keys, parsed once (an RSA key's check costs a prime test) and
 * kept for the life of the process. */
static struct auth_key **fuzz_jwt_fixed(size_t *n)
{
	static struct auth_key **keys;
	static size_t n_keys;
	struct err e = { 0 };

	if (!keys && auth_jwks_parse(fz_fixed_jwks, sizeof(fz_fixed_jwks) - 1, &keys, &n_keys, &e))
		fz_fail("the fixed JWKS is refused", e.issue[0].diagnostics,
			strlen(e.issue[0].diagnostics));
	*n = n_keys;
	return keys;
}

static int fuzz_jwt_one(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *sep = memmem(p, size, FZ_SEP, 4);
	struct auth_key **keys = NULL;
	struct err e = { 0 };
	size_t n_keys = 0;
	int rc;

	if (!sep) {
		keys = fuzz_jwt_fixed(&n_keys);
		fuzz_jwt_verify(p, size, keys, n_keys);
		return 0;
	}
	rc = auth_jwks_parse(p, (size_t)(sep - p), &keys, &n_keys, &e);
	if (rc) {
		fz_check_err("auth_jwks_parse", rc, &e);
		fz_check_outcome(&e);
		if (keys)
			fz_fail("auth_jwks_parse failed but left keys", p, size);
		return 0;
	}
	fuzz_jwt_check_keys(keys, n_keys);
	fuzz_jwt_verify(sep + 4, size - (size_t)(sep + 4 - p), keys, n_keys);
	auth_keys_free(keys, n_keys);
	return 0;
}

#ifndef FZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_jwt_one(data, size);
}
#endif
