/* auth: base64url, keys and JWKS, JWT sign/verify and every refusal,
 * argon2id passwords and the policy, TOTP (RFC 6238 vectors), secrets,
 * SMART scopes. Known answers come from RFC 7515, 8037, 6238 and FIPS 180. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include "auth/auth.h"
#include "testdata.h"

#define NOW 1800000000	/* 2027-01-15 */

/* ---- helpers ------------------------------------------------------------------ */

static char *b64(const void *p, size_t n)
{
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(auth_b64url_encode(p, n, &b), 0);
	return buf_detach(&b, NULL);
}

/* header.payload.signature from parts we choose (for forged tokens). */
static char *token_of(const char *header, const char *payload, const void *sig, size_t sig_n)
{
	char *h = b64(header, strlen(header)), *p = b64(payload, strlen(payload));
	char *s = b64(sig, sig_n);
	size_t n = strlen(h) + strlen(p) + strlen(s) + 3;
	char *t = malloc(n);

	assert_non_null(t);
	snprintf(t, n, "%s.%s.%s", h, p, s);
	free(h);
	free(p);
	free(s);
	return t;
}

static struct auth_key *new_key(enum auth_alg alg, const char *kid)
{
	struct auth_key *k = NULL;
	struct err e = { 0 };

	assert_int_equal(auth_key_generate(alg, kid, &k, &e), 0);
	return k;
}

static char *sign(const struct auth_key *k, const char *claims)
{
	struct buf b;
	struct err e = { 0 };

	buf_init(&b, 0);
	assert_int_equal(auth_jwt_sign(k, claims, &b, &e), 0);
	return buf_detach(&b, NULL);
}

static const struct auth_jwt_check CHECK = {
	.audience = "https://hie.example.vn/fhir",
	.issuer = "https://idp.example.vn",
	.now_s = NOW,
	.leeway_s = 30,
};

static int verify(const char *token, struct auth_key *const *keys, size_t n,
		  const struct auth_jwt_check *chk, struct err *e)
{
	struct json_object *claims = NULL;
	int rc = auth_jwt_verify(token, strlen(token), keys, n, chk, &claims, e);

	if (rc == 0)
		assert_non_null(claims);
	else
		assert_null(claims);
	json_object_put(claims);
	return rc;
}

/* Refused with 401, a message naming the check, and no piece of the token. */
static void expect_refused(const char *token, struct auth_key *const *keys, size_t n,
			   const struct auth_jwt_check *chk, const char *check_named)
{
	struct err e = { 0 };
	char head[17];

	assert_int_equal(verify(token, keys, n, chk, &e), ERR_UNAUTHORIZED);
	assert_int_equal(e.code, ERR_UNAUTHORIZED);
	if (!strstr(e.issue[0].diagnostics, check_named))
		fail_msg("message '%s' does not name '%s'", e.issue[0].diagnostics, check_named);
	snprintf(head, sizeof(head), "%s", token);
	if (strlen(head) == 16 && strstr(e.issue[0].diagnostics, head))
		fail_msg("message echoes the token: %s", e.issue[0].diagnostics);
}

static char *claims_json(const char *extra)
{
	static char s[512];

	snprintf(s, sizeof(s),
		 "{\"iss\":\"https://idp.example.vn\",\"aud\":\"https://hie.example.vn/fhir\","
		 "\"sub\":\"client-1\",\"iat\":%d,\"exp\":%d%s}",
		 NOW - 10, NOW + 300, extra ? extra : "");
	return s;
}

/* The EVP_PKEY behind a private key, through its PEM (struct auth_key is opaque). */
static EVP_PKEY *evp_of(const struct auth_key *k)
{
	struct buf pem;
	struct err e = { 0 };
	EVP_PKEY *pkey;
	BIO *bio;

	buf_init(&pem, 0);
	assert_int_equal(auth_key_private_pem(k, &pem, &e), 0);
	bio = BIO_new_mem_buf(pem.p, (int)pem.n);
	pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	assert_non_null(pkey);
	BIO_free(bio);
	buf_release(&pem);
	return pkey;
}

/* A token with any header we like, signed by an Ed25519 key. */
static char *sign_ed25519_raw(EVP_PKEY *pkey, const char *header, const char *payload)
{
	char *h = b64(header, strlen(header)), *p = b64(payload, strlen(payload)), *s, *t;
	unsigned char sig[64];
	size_t sig_n = sizeof(sig), n;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char input[2048];

	snprintf(input, sizeof(input), "%s.%s", h, p);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey), 1);
	assert_int_equal(EVP_DigestSign(ctx, sig, &sig_n, (unsigned char *)input, strlen(input)), 1);
	EVP_MD_CTX_free(ctx);
	s = b64(sig, sig_n);
	n = strlen(input) + strlen(s) + 2;
	t = malloc(n);
	snprintf(t, n, "%s.%s", input, s);
	free(h);
	free(p);
	free(s);
	return t;
}

static char *public_pem(EVP_PKEY *pkey)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p = NULL, *out;
	long n;

	assert_int_equal(PEM_write_bio_PUBKEY(bio, pkey), 1);
	n = BIO_get_mem_data(bio, &p);
	out = strndup(p, (size_t)n);
	BIO_free(bio);
	return out;
}

/* ---- base64url ---------------------------------------------------------------- */

static void expect_b64_refused(const char *s)
{
	struct buf b;
	struct err e = { 0 };

	buf_init(&b, 0);
	assert_int_equal(buf_puts(&b, "kept"), 0);
	if (auth_b64url_decode(s, strlen(s), &b, &e) != ERR_BAD_REQUEST)
		fail_msg("'%s' was accepted", s);
	assert_string_equal(b.p, "kept");	/* nothing half-decoded left behind */
	buf_release(&b);
}

static void b64url_round_trip_and_refusals(void **state)
{
	unsigned char bytes[70];
	struct err e = { 0 };

	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (unsigned char)(i * 37 + 250);
	for (size_t n = 0; n <= sizeof(bytes); n++) {
		char *s = b64(bytes, n);
		struct buf d;

		assert_null(strpbrk(s, "=+/ "));
		assert_int_equal(strlen(s), (n * 4 + 2) / 3);
		buf_init(&d, 0);
		assert_int_equal(auth_b64url_decode(s, strlen(s), &d, &e), 0);
		assert_int_equal(d.n, n);
		assert_memory_equal(d.p ? d.p : "", bytes, n);
		buf_release(&d);
		free(s);
	}
	{
		char *s = b64("\xfb\xff", 2);
		assert_string_equal(s, "-_8");
		free(s);
		s = b64("foo", 3);
		assert_string_equal(s, "Zm9v");
		free(s);
	}
	expect_b64_refused("Zg==");	/* padding */
	expect_b64_refused("Zm 9v");	/* whitespace */
	expect_b64_refused("Zm9v\n");
	expect_b64_refused("Zm+v");	/* base64, not base64url */
	expect_b64_refused("Zm/v");
	expect_b64_refused("Zm9vZ");	/* a length no encoding has */
	expect_b64_refused("Zh");	/* 'f' with non-zero unused bits: a second spelling */
	expect_b64_refused("Zm9");
}

/* ---- JWT: round trip --------------------------------------------------------- */

static void sign_verify_round_trip(enum auth_alg alg)
{
	struct auth_key *k = new_key(alg, "key-1");
	struct json_object *claims = NULL, *hdr = NULL;
	char *token = sign(k, claims_json(NULL));
	const char *dot1 = strchr(token, '.'), *dot2 = strrchr(token, '.');
	struct buf part;
	struct err e = { 0 };

	/* the header says what the contract says */
	buf_init(&part, 0);
	assert_int_equal(auth_b64url_decode(token, (size_t)(dot1 - token), &part, &e), 0);
	hdr = json_tokener_parse(part.p);
	assert_string_equal(json_object_get_string(json_object_object_get(hdr, "alg")),
			    auth_alg_name(alg));
	assert_string_equal(json_object_get_string(json_object_object_get(hdr, "kid")), "key-1");
	assert_string_equal(json_object_get_string(json_object_object_get(hdr, "typ")), "JWT");
	json_object_put(hdr);
	/* ECDSA signatures are raw r||s (not DER), Ed25519 64 bytes, RSA the modulus size */
	buf_clear(&part);
	assert_int_equal(auth_b64url_decode(dot2 + 1, strlen(dot2 + 1), &part, &e), 0);
	assert_int_equal(part.n, alg == AUTH_ES384 ? 96 : alg == AUTH_RS384 ? 256 : 64);
	buf_release(&part);

	assert_int_equal(auth_jwt_verify(token, strlen(token), &k, 1, &CHECK, &claims, &e), 0);
	assert_int_equal(e.code, 0);
	assert_string_equal(json_object_get_string(json_object_object_get(claims, "sub")),
			    "client-1");
	json_object_put(claims);
	/* no audience or issuer asked for: those checks are skipped */
	{
		struct auth_jwt_check loose = { .now_s = NOW };
		assert_int_equal(verify(token, &k, 1, &loose, &e), 0);
	}
	free(token);
	auth_key_free(k);
}

static void jwt_round_trip_es256(void **state)
{
	sign_verify_round_trip(AUTH_ES256);
}

static void jwt_round_trip_eddsa(void **state)
{
	sign_verify_round_trip(AUTH_EDDSA);
}

static void jwt_round_trip_es384(void **state)
{
	sign_verify_round_trip(AUTH_ES384);
}

static void jwt_round_trip_rs384(void **state)
{
	sign_verify_round_trip(AUTH_RS384);
}

static void jwt_sign_refusals(void **state)
{
	struct auth_key *k = new_key(AUTH_EDDSA, NULL), *pub = NULL, **parsed = NULL;
	struct buf b, jwks;
	struct err e = { 0 };
	size_t n = 0;

	buf_init(&b, 0);
	assert_int_not_equal(auth_jwt_sign(k, "[1,2]", &b, &e), 0);
	assert_int_not_equal(auth_jwt_sign(k, "{\"a\":", &b, &e), 0);
	assert_int_equal(b.n, 0);
	/* a public key cannot sign */
	buf_init(&jwks, 0);
	assert_int_equal(buf_puts(&jwks, "{\"keys\":["), 0);
	assert_int_equal(auth_key_public_jwk(k, &jwks, &e), 0);
	assert_int_equal(buf_puts(&jwks, "]}"), 0);
	assert_int_equal(auth_jwks_parse(jwks.p, jwks.n, &parsed, &n, &e), 0);
	pub = parsed[0];
	assert_false(auth_key_is_private(pub));
	err_clear(&e);
	assert_int_equal(auth_jwt_sign(pub, "{}", &b, &e), ERR_USAGE);
	assert_int_equal(auth_key_private_pem(pub, &b, &e), ERR_USAGE);
	auth_keys_free(parsed, n);
	auth_key_free(k);
	buf_release(&b);
	buf_release(&jwks);
}

/* ---- JWT: refusals ----------------------------------------------------------- */

static void jwt_tampering_refused(void **state)
{
	struct auth_key *k = new_key(AUTH_ES256, "k1"), *ed = new_key(AUTH_EDDSA, "k2");
	struct auth_key *keys[2] = { k, ed };
	char *token = sign(k, claims_json(NULL)), *forged, *p;
	char *dot1 = strchr(token, '.'), *dot2 = strrchr(token, '.');
	struct buf sig;
	struct err e = { 0 };

	assert_int_equal(verify(token, keys, 2, &CHECK, &e), 0);

	/* payload swapped for one claiming another subject, signature kept */
	{
		char *other = b64(claims_json(",\"admin\":true"), strlen(claims_json(",\"admin\":true")));
		size_t n = strlen(token) + strlen(other) + 1;
		forged = malloc(n);
		snprintf(forged, n, "%.*s.%s%s", (int)(dot1 - token), token, other, dot2);
		expect_refused(forged, keys, 2, &CHECK, "signature");
		free(forged);
		free(other);
	}
	/* one bit of the signature flipped */
	buf_init(&sig, 0);
	assert_int_equal(auth_b64url_decode(dot2 + 1, strlen(dot2 + 1), &sig, &e), 0);
	sig.p[10] ^= 1;
	p = b64(sig.p, sig.n);
	{
		size_t n = strlen(token) + 1;
		forged = malloc(n);
		snprintf(forged, n, "%.*s.%s", (int)(dot2 - token), token, p);
		expect_refused(forged, keys, 2, &CHECK, "signature");
		free(forged);
	}
	free(p);
	/* the signature in DER (what OpenSSL gives) is not the JWS form */
	buf_clear(&sig);
	assert_int_equal(buf_append(&sig, "\x30\x44\x02\x20", 4), 0);
	for (int i = 0; i < 68; i++)
		assert_int_equal(buf_putc(&sig, (char)(i + 1)), 0);
	p = b64(sig.p, sig.n);
	{
		size_t n = strlen(token) + strlen(p) + 1;
		forged = malloc(n);
		snprintf(forged, n, "%.*s.%s", (int)(dot2 - token), token, p);
		expect_refused(forged, keys, 2, &CHECK, "signature");
		free(forged);
	}
	free(p);
	/* r = s = 0 (the "psychic signature") */
	{
		unsigned char zeros[64] = { 0 };
		p = b64(zeros, 64);
		size_t n = strlen(token) + strlen(p) + 1;
		forged = malloc(n);
		snprintf(forged, n, "%.*s.%s", (int)(dot2 - token), token, p);
		expect_refused(forged, keys, 2, &CHECK, "signature");
		free(forged);
		free(p);
	}
	/* shapes that are not a compact JWS */
	expect_refused("abc", keys, 2, &CHECK, "compact");
	expect_refused("a.b.c.d.e", keys, 2, &CHECK, "compact");
	expect_refused("e30.e30.", keys, 2, &CHECK, "alg");
	{
		char big[9000];
		memset(big, 'A', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		big[10] = big[20] = '.';
		expect_refused(big, keys, 2, &CHECK, "8192");
	}
	buf_release(&sig);
	free(token);
	auth_key_free(k);
	auth_key_free(ed);
}

static void jwt_wrong_key_refused(void **state)
{
	struct auth_key *k = new_key(AUTH_ES256, "same-kid"), *other = new_key(AUTH_ES256, "same-kid");
	struct auth_key *third = new_key(AUTH_ES256, "k3"), *ed = new_key(AUTH_EDDSA, "ed");
	struct auth_key *both[2] = { third, ed };
	char *token = sign(k, claims_json(NULL)), *ed_token = sign(ed, claims_json(NULL));
	struct err e = { 0 };

	/* a different key with the same kid: the signature fails */
	expect_refused(token, &other, 1, &CHECK, "signature");
	/* a kid we do not know */
	expect_refused(token, both, 2, &CHECK, "kid");
	/* no keys at all */
	expect_refused(token, NULL, 0, &CHECK, "kid");
	/* the right key among others */
	{
		struct auth_key *all[3] = { third, ed, k };
		assert_int_equal(verify(token, all, 3, &CHECK, &e), 0);
		assert_int_equal(verify(ed_token, all, 3, &CHECK, &e), 0);
	}
	free(token);
	free(ed_token);
	auth_key_free(k);
	auth_key_free(other);
	auth_key_free(third);
	auth_key_free(ed);
}

/* The classic algorithm attacks: "none", and HS256 with the public key as the
 * HMAC secret (a verifier that lets the token pick the alg would accept it). */
static void jwt_alg_attacks_refused(void **state)
{
	struct auth_key *k = new_key(AUTH_ES256, "k1"), *ed = new_key(AUTH_EDDSA, "k2");
	struct auth_key *keys[2] = { k, ed };
	EVP_PKEY *pkey = evp_of(k);
	char *pem = public_pem(pkey), *t, header[128];
	struct buf jwk;
	struct err e = { 0 };

	/* alg none, with and without kid, with and without a signature part */
	t = token_of("{\"alg\":\"none\",\"kid\":\"k1\"}", claims_json(NULL), "", 0);
	expect_refused(t, keys, 2, &CHECK, "alg");
	free(t);
	t = token_of("{\"alg\":\"none\"}", claims_json(NULL), "", 0);
	expect_refused(t, keys, 2, &CHECK, "alg");
	free(t);
	t = token_of("{\"alg\":\"none\",\"kid\":\"k1\"}", claims_json(NULL), "x", 1);
	expect_refused(t, keys, 2, &CHECK, "alg");
	free(t);

	/* HS256 keyed with the public PEM and with the public JWK text */
	buf_init(&jwk, 0);
	assert_int_equal(auth_key_public_jwk(k, &jwk, &e), 0);
	for (int variant = 0; variant < 4; variant++) {
		const char *secret = variant % 2 ? jwk.p : pem;
		unsigned char mac[32];
		unsigned int mac_n = 0;
		char *unsigned_token, *dot;

		snprintf(header, sizeof(header), "{\"alg\":\"HS256\",\"typ\":\"JWT\"%s}",
			 variant < 2 ? ",\"kid\":\"k1\"" : "");
		unsigned_token = token_of(header, claims_json(NULL), "", 0);
		dot = strrchr(unsigned_token, '.');
		HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)unsigned_token,
		     (size_t)(dot - unsigned_token), mac, &mac_n);
		t = token_of(header, claims_json(NULL), mac, mac_n);
		expect_refused(t, keys, 2, &CHECK, variant < 2 ? "alg" : "no key for its alg");
		free(t);
		free(unsigned_token);
	}
	/* an EdDSA token relabelled ES256 (and the reverse) */
	t = token_of("{\"alg\":\"ES256\",\"kid\":\"k2\"}", claims_json(NULL), "0123456789012345678901234567890123456789012345678901234567890123", 64);
	expect_refused(t, keys, 2, &CHECK, "alg");
	free(t);
	t = token_of("{\"alg\":\"EdDSA\",\"kid\":\"k1\"}", claims_json(NULL), "0123456789012345678901234567890123456789012345678901234567890123", 64);
	expect_refused(t, keys, 2, &CHECK, "alg");
	free(t);
	/* "alg" missing, or not a string */
	t = token_of("{\"kid\":\"k1\"}", claims_json(NULL), "x", 1);
	expect_refused(t, keys, 2, &CHECK, "alg");
	free(t);
	t = token_of("{\"alg\":7,\"kid\":\"k1\"}", claims_json(NULL), "x", 1);
	expect_refused(t, keys, 2, &CHECK, "alg");
	free(t);
	buf_release(&jwk);
	free(pem);
	EVP_PKEY_free(pkey);
	auth_key_free(k);
	auth_key_free(ed);
}

/* Headers signed by the right key that still must be refused (or ignored). */
static void jwt_header_rules(void **state)
{
	struct auth_key *ed = new_key(AUTH_EDDSA, "ed1"), *ed2 = new_key(AUTH_EDDSA, "ed2");
	struct auth_key *attacker = new_key(AUTH_EDDSA, "evil");
	EVP_PKEY *pkey = evp_of(ed), *evil = evp_of(attacker);
	struct auth_key *two[2] = { ed, ed2 };
	struct buf evil_jwk;
	struct err e = { 0 };
	char *t, header[512];

	/* crit: we implement no extension */
	t = sign_ed25519_raw(pkey, "{\"alg\":\"EdDSA\",\"kid\":\"ed1\",\"crit\":[\"exp\"],\"exp\":1}",
			     claims_json(NULL));
	expect_refused(t, &ed, 1, &CHECK, "crit");
	free(t);
	/* no kid: the single key of the alg is used */
	t = sign_ed25519_raw(pkey, "{\"alg\":\"EdDSA\"}", claims_json(NULL));
	assert_int_equal(verify(t, &ed, 1, &CHECK, &e), 0);
	/* ... but with two keys of that alg the token must say which */
	expect_refused(t, two, 2, &CHECK, "more than one key");
	free(t);
	/* kid not a string */
	t = sign_ed25519_raw(pkey, "{\"alg\":\"EdDSA\",\"kid\":1}", claims_json(NULL));
	expect_refused(t, &ed, 1, &CHECK, "kid");
	free(t);
	/* a key carried in the header is never used: the attacker signs with
	 * their own key and puts its JWK in the header */
	buf_init(&evil_jwk, 0);
	assert_int_equal(auth_key_public_jwk(attacker, &evil_jwk, &e), 0);
	snprintf(header, sizeof(header), "{\"alg\":\"EdDSA\",\"jwk\":%s}", evil_jwk.p);
	t = sign_ed25519_raw(evil, header, claims_json(NULL));
	expect_refused(t, &ed, 1, &CHECK, "signature");
	free(t);
	snprintf(header, sizeof(header), "{\"alg\":\"EdDSA\",\"kid\":\"ed1\",\"jku\":\"https://evil.example/jwks\"}");
	t = sign_ed25519_raw(evil, header, claims_json(NULL));
	expect_refused(t, &ed, 1, &CHECK, "signature");
	free(t);
	/* claims that are not an object, though signed */
	t = sign_ed25519_raw(pkey, "{\"alg\":\"EdDSA\",\"kid\":\"ed1\"}", "[1]");
	expect_refused(t, &ed, 1, &CHECK, "claims");
	free(t);
	buf_release(&evil_jwk);
	EVP_PKEY_free(pkey);
	EVP_PKEY_free(evil);
	auth_key_free(ed);
	auth_key_free(ed2);
	auth_key_free(attacker);
}

static void jwt_claims_checked(void **state)
{
	struct auth_key *k = new_key(AUTH_ES256, "k1");
	struct err e = { 0 };
	char claims[512], *t;

#define EXPECT_CLAIMS(json, check, named)                                                  \
	do {                                                                               \
		t = sign(k, json);                                                          \
		if (named)                                                                  \
			expect_refused(t, &k, 1, check, named);                             \
		else                                                                        \
			assert_int_equal(verify(t, &k, 1, check, &e), 0);                   \
		free(t);                                                                    \
	} while (0)

	/* expired, including beyond the leeway; within the leeway is fine */
	snprintf(claims, sizeof(claims), "{\"exp\":%d}", NOW - 31);
	EXPECT_CLAIMS(claims, &CHECK, "exp");
	snprintf(claims, sizeof(claims), "{\"exp\":%d}", NOW - 30);
	EXPECT_CLAIMS(claims, &CHECK, "exp");
	snprintf(claims, sizeof(claims),
		 "{\"exp\":%d,\"aud\":\"https://hie.example.vn/fhir\",\"iss\":\"https://idp.example.vn\"}",
		 NOW - 29);
	EXPECT_CLAIMS(claims, &CHECK, NULL);
	/* exp is required, and must be a number */
	EXPECT_CLAIMS("{\"aud\":\"https://hie.example.vn/fhir\",\"iss\":\"https://idp.example.vn\"}",
		      &CHECK, "exp");
	snprintf(claims, sizeof(claims), "{\"exp\":\"%d\"}", NOW + 100);
	EXPECT_CLAIMS(claims, &CHECK, "exp");
	/* nbf and iat in the future */
	EXPECT_CLAIMS(claims_json(",\"nbf\":1800000100"), &CHECK, "nbf");
	snprintf(claims, sizeof(claims),
		 "{\"exp\":%d,\"iat\":%d,\"aud\":\"https://hie.example.vn/fhir\",\"iss\":\"https://idp.example.vn\"}",
		 NOW + 300, NOW + 100);
	EXPECT_CLAIMS(claims, &CHECK, "iat");
	EXPECT_CLAIMS(claims_json(",\"nbf\":1800000020"), &CHECK, NULL);	/* within leeway */
	/* audience: wrong string, wrong array, missing; right in an array is fine */
	snprintf(claims, sizeof(claims), "{\"exp\":%d,\"aud\":\"https://other.example\",\"iss\":\"https://idp.example.vn\"}", NOW + 60);
	EXPECT_CLAIMS(claims, &CHECK, "aud");
	snprintf(claims, sizeof(claims), "{\"exp\":%d,\"aud\":[\"a\",\"b\"],\"iss\":\"https://idp.example.vn\"}", NOW + 60);
	EXPECT_CLAIMS(claims, &CHECK, "aud");
	snprintf(claims, sizeof(claims), "{\"exp\":%d,\"iss\":\"https://idp.example.vn\"}", NOW + 60);
	EXPECT_CLAIMS(claims, &CHECK, "aud");
	snprintf(claims, sizeof(claims), "{\"exp\":%d,\"aud\":[\"a\",\"https://hie.example.vn/fhir\"],\"iss\":\"https://idp.example.vn\"}", NOW + 60);
	EXPECT_CLAIMS(claims, &CHECK, NULL);
	/* issuer: wrong, missing */
	snprintf(claims, sizeof(claims), "{\"exp\":%d,\"aud\":\"https://hie.example.vn/fhir\",\"iss\":\"https://idp.example.vn/\"}", NOW + 60);
	EXPECT_CLAIMS(claims, &CHECK, "iss");
	snprintf(claims, sizeof(claims), "{\"exp\":%d,\"aud\":\"https://hie.example.vn/fhir\"}", NOW + 60);
	EXPECT_CLAIMS(claims, &CHECK, "iss");
#undef EXPECT_CLAIMS
	auth_key_free(k);
}

/* RFC 7515 appendix A.3: an ES256 JWS made by someone else's code. */
static void jwt_rfc7515_es256_vector(void **state)
{
	static const char jwks[] =
		"{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
		"\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
		"\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}";
	static const char token[] =
		"eyJhbGciOiJFUzI1NiJ9"
		".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
		".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
	struct auth_jwt_check chk = { .issuer = "joe", .now_s = 1300819000 };
	struct auth_key **keys = NULL;
	struct json_object *claims = NULL;
	struct err e = { 0 };
	size_t n = 0;

	assert_int_equal(auth_jwks_parse(jwks, strlen(jwks), &keys, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(auth_key_alg(keys[0]), AUTH_ES256);
	assert_int_equal(auth_jwt_verify(token, strlen(token), keys, n, &chk, &claims, &e), 0);
	assert_true(json_object_get_boolean(json_object_object_get(claims, "http://example.com/is_root")));
	json_object_put(claims);
	chk.now_s = 1300819380;
	expect_refused(token, keys, n, &chk, "exp");
	auth_keys_free(keys, n);
}

/* RFC 8037 appendix A: the Ed25519 thumbprint, and a signature made elsewhere
 * (its payload is not JSON, so it passes the signature and fails on claims). */
static void rfc8037_vectors(void **state)
{
	static const char jwks[] =
		"{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
		"\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";
	static const char token[] =
		"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
		".hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
	static const char tampered[] =
		"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmd"
		".hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
	struct auth_jwt_check chk = { .now_s = NOW };
	struct auth_key **keys = NULL;
	struct err e = { 0 };
	size_t n = 0;

	assert_int_equal(auth_jwks_parse(jwks, strlen(jwks), &keys, &n, &e), 0);
	assert_string_equal(auth_key_kid(keys[0]), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
	expect_refused(token, keys, n, &chk, "claims");
	expect_refused(tampered, keys, n, &chk, "signature");
	auth_keys_free(keys, n);
}

/* ---- keys, JWK, JWKS, PEM --------------------------------------------------------- */

static void jwk_export_parse_verify(void **state)
{
	struct auth_key *es = new_key(AUTH_ES256, NULL), *ed = new_key(AUTH_EDDSA, "ed-2026");
	struct auth_key **keys = NULL;
	struct json_object *jwk;
	struct buf doc;
	struct err e = { 0 };
	char *t1 = sign(es, claims_json(NULL)), *t2 = sign(ed, claims_json(NULL));
	size_t n = 0, mark;

	assert_int_equal(strlen(auth_key_kid(es)), 43);	/* a SHA-256 thumbprint */
	buf_init(&doc, 0);
	assert_int_equal(buf_puts(&doc, "{\"keys\":["), 0);
	mark = doc.n;
	assert_int_equal(auth_key_public_jwk(es, &doc, &e), 0);
	jwk = json_tokener_parse(doc.p + mark);
	assert_string_equal(json_object_get_string(json_object_object_get(jwk, "kty")), "EC");
	assert_string_equal(json_object_get_string(json_object_object_get(jwk, "crv")), "P-256");
	assert_string_equal(json_object_get_string(json_object_object_get(jwk, "alg")), "ES256");
	assert_string_equal(json_object_get_string(json_object_object_get(jwk, "use")), "sig");
	assert_int_equal(strlen(json_object_get_string(json_object_object_get(jwk, "x"))), 43);
	assert_int_equal(strlen(json_object_get_string(json_object_object_get(jwk, "y"))), 43);
	assert_null(json_object_object_get(jwk, "d"));
	json_object_put(jwk);
	/* an RS256 key in the set is skipped (RSA keys are RS384 only), and so
	 * are an encryption key and a curve we do not support */
	assert_int_equal(buf_puts(&doc, ",{\"kty\":\"RSA\",\"alg\":\"RS256\",\"kid\":\"rsa1\",\"n\":\"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw\",\"e\":\"AQAB\"}"), 0);
	assert_int_equal(buf_puts(&doc, ",{\"kty\":\"EC\",\"crv\":\"P-256\",\"use\":\"enc\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}"), 0);
	assert_int_equal(buf_puts(&doc, ",{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"AA\",\"y\":\"AA\"},"), 0);
	assert_int_equal(auth_key_public_jwk(ed, &doc, &e), 0);
	assert_int_equal(buf_puts(&doc, "]}"), 0);

	assert_int_equal(auth_jwks_parse(doc.p, doc.n, &keys, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_string_equal(auth_key_kid(keys[0]), auth_key_kid(es));
	assert_string_equal(auth_key_kid(keys[1]), "ed-2026");
	assert_int_equal(auth_key_alg(keys[0]), AUTH_ES256);
	assert_int_equal(auth_key_alg(keys[1]), AUTH_EDDSA);
	assert_false(auth_key_is_private(keys[0]));
	assert_int_equal(verify(t1, keys, n, &CHECK, &e), 0);
	assert_int_equal(verify(t2, keys, n, &CHECK, &e), 0);
	auth_keys_free(keys, n);
	buf_release(&doc);
	free(t1);
	free(t2);
	auth_key_free(es);
	auth_key_free(ed);
}

static void expect_jwks_refused(const char *doc, int code)
{
	struct auth_key **keys = NULL;
	struct err e = { 0 };
	size_t n = 0;

	if (auth_jwks_parse(doc, strlen(doc), &keys, &n, &e) != code)
		fail_msg("JWKS %s: got %s", doc, err_name(e.code));
	assert_null(keys);
	if (getenv("LT_TEST_VERBOSE"))
		print_message("refused: %s\n", e.issue[0].diagnostics);
}

static void jwks_refusals(void **state)
{
	char deep[300];
	size_t n;

	expect_jwks_refused("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
			    ERR_BAD_REQUEST);
	expect_jwks_refused("{\"keys\":[]}", ERR_BAD_REQUEST);
	expect_jwks_refused("{\"keys\":{}}", ERR_BAD_REQUEST);
	expect_jwks_refused("[]", ERR_BAD_REQUEST);
	expect_jwks_refused("{\"keys\":[", ERR_BAD_REQUEST);
	expect_jwks_refused("{\"keys\":[1]}", ERR_BAD_REQUEST);
	/* a coordinate of the wrong size, and a point not on the curve */
	expect_jwks_refused("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRV\","
			    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}", ERR_BAD_REQUEST);
	expect_jwks_refused("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
			    "\"y\":\"x_FEzRu8m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}", ERR_BAD_REQUEST);
	expect_jwks_refused("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"}]}",
			    ERR_BAD_REQUEST);
	/* the same kid twice */
	expect_jwks_refused("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"},"
			    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"a\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
			    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}", ERR_BAD_REQUEST);
	/* nesting beyond the limit, well-formed otherwise */
	n = (size_t)snprintf(deep, sizeof(deep), "{\"keys\":");
	memset(deep + n, '[', 100);
	memset(deep + n + 100, ']', 100);
	snprintf(deep + n + 200, sizeof(deep) - n - 200, "}");
	expect_jwks_refused(deep, ERR_BAD_REQUEST);
}

static void pem_round_trip(void **state)
{
	for (int alg = AUTH_ES256; alg <= AUTH_RS384; alg++) {
		struct auth_key *k = new_key((enum auth_alg)alg, NULL), *back = NULL, *pub = NULL;
		EVP_PKEY *pkey;
		struct buf pem;
		struct err e = { 0 };
		char *pubpem, *t;

		buf_init(&pem, 0);
		assert_int_equal(auth_key_private_pem(k, &pem, &e), 0);
		assert_non_null(strstr(pem.p, "-----BEGIN PRIVATE KEY-----"));
		assert_int_equal(auth_key_from_pem(pem.p, pem.n, NULL, &back, &e), 0);
		assert_true(auth_key_is_private(back));
		assert_int_equal(auth_key_alg(back), alg);
		assert_string_equal(auth_key_kid(back), auth_key_kid(k));	/* same thumbprint */
		/* signed by the reloaded key, checked with the original */
		t = sign(back, claims_json(NULL));
		assert_int_equal(verify(t, &k, 1, &CHECK, &e), 0);
		free(t);
		/* a public PEM gives a public key with the same thumbprint */
		pkey = evp_of(k);
		pubpem = public_pem(pkey);
		assert_int_equal(auth_key_from_pem(pubpem, strlen(pubpem), "pub", &pub, &e), 0);
		assert_false(auth_key_is_private(pub));
		assert_string_equal(auth_key_kid(pub), "pub");
		free(pubpem);
		EVP_PKEY_free(pkey);
		buf_release(&pem);
		auth_key_free(pub);
		auth_key_free(back);
		auth_key_free(k);
	}
}

static void pem_refusals(void **state)
{
	static const char encrypted[] = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n";
	struct auth_key *k = NULL;
	struct err e = { 0 };
	const char *curves[] = { "RSA 1024", "P-521" };

	for (int i = 0; i < 2; i++) {
		EVP_PKEY *pkey = i == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024)
					: EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
		BIO *bio = BIO_new(BIO_s_mem());
		char *p = NULL;
		long n;

		assert_non_null(pkey);
		assert_int_equal(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
		n = BIO_get_mem_data(bio, &p);
		if (auth_key_from_pem(p, (size_t)n, NULL, &k, &e) != ERR_NOT_SUPPORTED)
			fail_msg("%s key accepted", curves[i]);
		assert_null(k);
		BIO_free(bio);
		EVP_PKEY_free(pkey);
	}
	assert_int_equal(auth_key_from_pem(encrypted, strlen(encrypted), NULL, &k, &e), ERR_NOT_SUPPORTED);
	assert_int_equal(auth_key_from_pem("hello", 5, NULL, &k, &e), ERR_BAD_REQUEST);
	assert_null(k);
	/* a kid that would break a JOSE header */
	assert_int_equal(auth_key_generate(AUTH_EDDSA, "", &k, &e), ERR_BAD_REQUEST);
	assert_int_equal(auth_key_generate(AUTH_EDDSA, "a\nb", &k, &e), ERR_BAD_REQUEST);
	assert_int_equal(auth_key_generate(AUTH_EDDSA, "0123456789012345678901234567890123456789012345678901234567890123x", &k, &e),
			 ERR_BAD_REQUEST);
	assert_null(k);
}

/* ---- ES384 and RS384: vectors made by the openssl CLI (tests/data/jose/make.sh) ---- */

/* tests/data/jose/NAME, without its final newline (malloc'ed). */
static char *jose_vector(const char *name)
{
	const char *src = getenv("LT_SOURCE_DIR");
	char path[1024];
	size_t n = 0;
	char *text;

	if (!src)
		fail_msg("set LT_SOURCE_DIR to the repository root");
	snprintf(path, sizeof(path), "%s/tests/data/jose/%s", src, name);
	text = td_slurp(path, &n);
	if (!text)
		fail_msg("cannot read %s", path);
	while (n && text[n - 1] == '\n')
		text[--n] = '\0';
	return text;
}

static struct auth_key **jose_keys(const char *name, size_t *n)
{
	char *doc = jose_vector(name);
	struct auth_key **keys = NULL;
	struct err e = { 0 };

	if (auth_jwks_parse(doc, strlen(doc), &keys, n, &e))
		fail_msg("%s: %s", name, e.issue[0].diagnostics);
	free(doc);
	return keys;
}

/* What the vectors' claims are checked against. */
static const struct auth_jwt_check JOSE_CHECK = {
	.audience = "https://hie.example.vn/auth/token",
	.issuer = "lab-1",
	.now_s = NOW,
	.leeway_s = 30,
};

/* The token with its header replaced (payload and signature kept). */
static char *relabelled(const char *token, const char *header)
{
	char *h = b64(header, strlen(header)), *t;
	const char *dot = strchr(token, '.');
	size_t n = strlen(h) + strlen(dot) + 1;

	t = malloc(n);
	assert_non_null(t);
	snprintf(t, n, "%s%s", h, dot);
	free(h);
	return t;
}

/* The token with its signature replaced by sig. */
static char *resigned(const char *token, const void *sig, size_t sig_n)
{
	char *s = b64(sig, sig_n), *t;
	const char *dot = strrchr(token, '.');
	size_t n = (size_t)(dot - token) + strlen(s) + 2;

	t = malloc(n);
	assert_non_null(t);
	snprintf(t, n, "%.*s.%s", (int)(dot - token), token, s);
	free(s);
	return t;
}

static void jose_valid_vector(const char *alg, enum auth_alg want)
{
	char jwks[32], jwt[32], pem_name[32], thumb_name[32], kid[16];
	char *token, *pem, *thumb;
	struct auth_key **keys, *from_pem = NULL, *no_kid = NULL;
	struct json_object *claims = NULL;
	struct auth_jwt_check later = JOSE_CHECK;
	struct err e = { 0 };
	size_t n = 0;

	snprintf(jwks, sizeof(jwks), "%s.jwks.json", alg);
	snprintf(jwt, sizeof(jwt), "%s.jwt", alg);
	snprintf(pem_name, sizeof(pem_name), "%s.pub.pem", alg);
	snprintf(thumb_name, sizeof(thumb_name), "%s.thumbprint", alg);
	snprintf(kid, sizeof(kid), "%s-1", alg);
	keys = jose_keys(jwks, &n);
	token = jose_vector(jwt);
	assert_int_equal(n, 1);
	assert_int_equal(auth_key_alg(keys[0]), want);
	assert_string_equal(auth_key_kid(keys[0]), kid);
	assert_false(auth_key_is_private(keys[0]));
	assert_int_equal(auth_jwt_verify(token, strlen(token), keys, n, &JOSE_CHECK, &claims, &e), 0);
	assert_string_equal(json_object_get_string(json_object_object_get(claims, "jti")), "vector-1");
	json_object_put(claims);
	/* the claims are still checked: five minutes and a half later it has expired */
	later.now_s = NOW + 331;
	expect_refused(token, keys, n, &later, "exp");
	/* the same public key from PEM: same alg, the thumbprint openssl's bytes give */
	pem = jose_vector(pem_name);
	thumb = jose_vector(thumb_name);
	assert_int_equal(auth_key_from_pem(pem, strlen(pem), NULL, &no_kid, &e), 0);
	assert_int_equal(auth_key_alg(no_kid), want);
	assert_string_equal(auth_key_kid(no_kid), thumb);
	assert_int_equal(auth_key_from_pem(pem, strlen(pem), kid, &from_pem, &e), 0);
	assert_int_equal(verify(token, &from_pem, 1, &JOSE_CHECK, &e), 0);
	auth_key_free(from_pem);
	auth_key_free(no_kid);
	free(pem);
	free(thumb);
	free(token);
	auth_keys_free(keys, n);
}

static void jose_es384_vector(void **state)
{
	jose_valid_vector("es384", AUTH_ES384);
}

static void jose_rs384_vector(void **state)
{
	jose_valid_vector("rs384", AUTH_RS384);
}

/* The key decides: an RS384 key's token relabelled ES384 (and the other
 * way round), RS256 or HS384 keyed with the public key is refused before
 * any signature code runs. */
static void jose_alg_confusion_refused(void **state)
{
	static const struct {
		int rs;			/* the RS384 vector relabelled, else the ES384 one */
		const char *header, *named;
	} cases[] = {
		{ 1, "{\"alg\":\"ES384\",\"typ\":\"JWT\",\"kid\":\"rs384-1\"}", "alg" },
		{ 0, "{\"alg\":\"RS384\",\"typ\":\"JWT\",\"kid\":\"es384-1\"}", "alg" },
		{ 1, "{\"alg\":\"RS256\",\"kid\":\"rs384-1\"}", "alg" },
		{ 1, "{\"alg\":\"PS384\",\"kid\":\"rs384-1\"}", "alg" },
		{ 1, "{\"alg\":\"none\",\"kid\":\"rs384-1\"}", "alg" },
		/* without kid: the one key of the header's alg, and it is not the signer */
		{ 1, "{\"alg\":\"ES384\"}", "signature" },
	};
	size_t n_es = 0, n_rs = 0;
	struct auth_key **es = jose_keys("es384.jwks.json", &n_es);
	struct auth_key **rs = jose_keys("rs384.jwks.json", &n_rs);
	struct auth_key *both[2] = { es[0], rs[0] };
	char *rs_token = jose_vector("rs384.jwt"), *es_token = jose_vector("es384.jwt");
	char *pem = jose_vector("rs384.pub.pem"), *t;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = relabelled(cases[i].rs ? rs_token : es_token, cases[i].header);
		expect_refused(t, both, 2, &JOSE_CHECK, cases[i].named);
		if (cases[i].rs && strstr(cases[i].header, "kid"))
			expect_refused(t, rs, 1, &JOSE_CHECK, cases[i].named);
		free(t);
	}
	/* HS384 with the RSA public key's PEM as the HMAC secret */
	{
		static const char header[] = "{\"alg\":\"HS384\",\"kid\":\"rs384-1\"}";
		char *unsigned_token = relabelled(rs_token, header), *dot;
		unsigned char mac[48];
		unsigned int mac_n = 0;

		dot = strrchr(unsigned_token, '.');
		HMAC(EVP_sha384(), pem, (int)strlen(pem), (unsigned char *)unsigned_token,
		     (size_t)(dot - unsigned_token), mac, &mac_n);
		t = resigned(unsigned_token, mac, mac_n);
		expect_refused(t, both, 2, &JOSE_CHECK, "alg");
		free(t);
		free(unsigned_token);
	}
	free(pem);
	free(rs_token);
	free(es_token);
	auth_keys_free(es, n_es);
	auth_keys_free(rs, n_rs);
}

static void jose_tampering_refused(void **state)
{
	static const char *const names[] = { "es384", "rs384" };

	for (int i = 0; i < 2; i++) {
		char jwks[32], jwt[32], *token, *t;
		const char *dot;
		struct auth_key **keys;
		struct buf sig;
		struct err e = { 0 };
		size_t n = 0;

		snprintf(jwks, sizeof(jwks), "%s.jwks.json", names[i]);
		snprintf(jwt, sizeof(jwt), "%s.jwt", names[i]);
		keys = jose_keys(jwks, &n);
		token = jose_vector(jwt);
		dot = strrchr(token, '.');
		buf_init(&sig, 0);
		assert_int_equal(auth_b64url_decode(dot + 1, strlen(dot + 1), &sig, &e), 0);
		/* one bit of the signature flipped, at its start and at its end */
		sig.p[0] ^= 1;
		t = resigned(token, sig.p, sig.n);
		expect_refused(t, keys, n, &JOSE_CHECK, "signature");
		free(t);
		sig.p[0] ^= 1;
		sig.p[sig.n - 1] ^= 0x80;
		t = resigned(token, sig.p, sig.n);
		expect_refused(t, keys, n, &JOSE_CHECK, "signature");
		free(t);
		sig.p[sig.n - 1] ^= 0x80;
		/* one byte short, one byte long, all zeros */
		t = resigned(token, sig.p, sig.n - 1);
		expect_refused(t, keys, n, &JOSE_CHECK, "signature");
		free(t);
		assert_int_equal(buf_putc(&sig, 0), 0);
		t = resigned(token, sig.p, sig.n);
		expect_refused(t, keys, n, &JOSE_CHECK, "signature");
		free(t);
		memset(sig.p, 0, --sig.n);
		t = resigned(token, sig.p, sig.n);
		expect_refused(t, keys, n, &JOSE_CHECK, "signature");
		free(t);
		/* the claims changed (a later exp), the signature kept */
		{
			const char *claims = "{\"iss\":\"lab-1\",\"sub\":\"lab-1\",\"aud\":"
					     "\"https://hie.example.vn/auth/token\",\"exp\":1800009999,"
					     "\"jti\":\"vector-1\"}";
			char *p = b64(claims, strlen(claims)), *forged;
			const char *dot1 = strchr(token, '.');
			size_t len = strlen(token) + strlen(p) + 1;

			forged = malloc(len);
			assert_non_null(forged);
			snprintf(forged, len, "%.*s.%s%s", (int)(dot1 - token), token, p, dot);
			expect_refused(forged, keys, n, &JOSE_CHECK, "signature");
			free(forged);
			free(p);
		}
		buf_release(&sig);
		free(token);
		auth_keys_free(keys, n);
	}
}

/* doc with the string member name's value replaced by value (malloc'ed). */
static char *with_member(const char *doc, const char *name, const char *value)
{
	char key[16], *out;
	const char *at, *end;
	size_t n;

	snprintf(key, sizeof(key), "\"%s\":\"", name);
	at = strstr(doc, key);
	assert_non_null(at);
	at += strlen(key);
	end = strchr(at, '"');
	n = strlen(doc) + strlen(value) + 1;
	out = malloc(n);
	assert_non_null(out);
	snprintf(out, n, "%.*s%s%s", (int)(at - doc), doc, value, end);
	return out;
}

/* RSA keys: under 2048 bits refused, as are an even modulus and an
 * exponent that is even or small; RFC 7638's own example gives its
 * thumbprint. */
static void jose_rsa_keys(void **state)
{
	static const char rfc7638[] =
		"{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\",\"alg\":\"RS384\",\"n\":\"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw\"}]}";
	char *small = jose_vector("rsa1024.jwks.json"), *doc = jose_vector("rs384.jwks.json");
	struct auth_key **keys = NULL;
	struct err e = { 0 };
	size_t n = 0;
	char *n_even, *bad, last;

	assert_int_equal(auth_jwks_parse(rfc7638, strlen(rfc7638), &keys, &n, &e), 0);
	assert_int_equal(auth_key_alg(keys[0]), AUTH_RS384);
	assert_string_equal(auth_key_kid(keys[0]), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	auth_keys_free(keys, n);
	keys = NULL;

	assert_int_equal(auth_jwks_parse(small, strlen(small), &keys, &n, &e), ERR_BAD_REQUEST);
	assert_non_null(strstr(e.issue[0].diagnostics, "1024 bits"));
	assert_null(keys);
	/* e = 3 (OpenSSL outside FIPS mode would take it), e = 65536 (even) */
	bad = with_member(doc, "e", "Aw");
	expect_jwks_refused(bad, ERR_BAD_REQUEST);
	free(bad);
	bad = with_member(doc, "e", "AQAA");
	expect_jwks_refused(bad, ERR_BAD_REQUEST);
	free(bad);
	/* an even modulus: its last character holds the low 2 bits */
	n_even = strdup(strstr(doc, "\"n\":\"") + 5);
	*strchr(n_even, '"') = '\0';
	last = n_even[strlen(n_even) - 1];
	n_even[strlen(n_even) - 1] = 'A';
	bad = with_member(doc, "n", n_even);
	expect_jwks_refused(bad, ERR_BAD_REQUEST);
	free(bad);
	/* the modulus with a leading zero byte is the same key (RFC 7518 §6.3.1.1 says some
	 * libraries write one) */
	{
		struct buf nb;
		char *padded, *token = jose_vector("rs384.jwt");

		n_even[strlen(n_even) - 1] = last;	/* back to the real n */
		buf_init(&nb, 0);
		assert_int_equal(buf_putc(&nb, 0), 0);
		assert_int_equal(auth_b64url_decode(n_even, strlen(n_even), &nb, &e), 0);
		assert_int_equal(nb.n, 257);
		padded = b64(nb.p, nb.n);
		bad = with_member(doc, "n", padded);
		assert_int_equal(auth_jwks_parse(bad, strlen(bad), &keys, &n, &e), 0);
		assert_int_equal(verify(token, keys, n, &JOSE_CHECK, &e), 0);
		auth_keys_free(keys, n);
		free(bad);
		free(padded);
		free(token);
		buf_release(&nb);
	}
	free(n_even);
	free(small);
	free(doc);
}

/* P-384 keys: exported and parsed back; wrong sizes and points off the
 * curve refused; and no JWKS may carry private parts. */
static void jose_p384_and_private_parts(void **state)
{
	struct auth_key *k = new_key(AUTH_ES384, NULL), *rsa = new_key(AUTH_RS384, "r"), **keys = NULL;
	struct json_object *jwk;
	struct buf doc;
	struct err e = { 0 };
	char *es = jose_vector("es384.jwks.json"), *bad, *t = sign(k, claims_json(NULL));
	size_t n = 0;

	buf_init(&doc, 0);
	assert_int_equal(buf_puts(&doc, "{\"keys\":["), 0);
	assert_int_equal(auth_key_public_jwk(k, &doc, &e), 0);
	jwk = json_tokener_parse(doc.p + 9);
	assert_string_equal(json_object_get_string(json_object_object_get(jwk, "crv")), "P-384");
	assert_string_equal(json_object_get_string(json_object_object_get(jwk, "alg")), "ES384");
	assert_int_equal(strlen(json_object_get_string(json_object_object_get(jwk, "x"))), 64);
	json_object_put(jwk);
	assert_int_equal(buf_putc(&doc, ','), 0);
	assert_int_equal(auth_key_public_jwk(rsa, &doc, &e), 0);
	jwk = json_tokener_parse(strrchr(doc.p, '{'));
	assert_string_equal(json_object_get_string(json_object_object_get(jwk, "kty")), "RSA");
	assert_string_equal(json_object_get_string(json_object_object_get(jwk, "e")), "AQAB");
	assert_int_equal(strlen(json_object_get_string(json_object_object_get(jwk, "n"))), 342);
	assert_null(json_object_object_get(jwk, "d"));
	json_object_put(jwk);
	assert_int_equal(buf_puts(&doc, "]}"), 0);
	assert_int_equal(auth_jwks_parse(doc.p, doc.n, &keys, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_string_equal(auth_key_kid(keys[0]), auth_key_kid(k));
	assert_int_equal(verify(t, keys, n, &CHECK, &e), 0);
	auth_keys_free(keys, n);

	/* a P-256-sized coordinate on P-384; a point off the curve */
	bad = with_member(es, "x", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU");
	expect_jwks_refused(bad, ERR_BAD_REQUEST);
	free(bad);
	{
		char y[80];

		snprintf(y, sizeof(y), "%s", strstr(es, "\"y\":\"") + 5);
		*strchr(y, '"') = '\0';
		y[10] = y[10] == 'A' ? 'B' : 'A';
		bad = with_member(es, "y", y);
	}
	expect_jwks_refused(bad, ERR_BAD_REQUEST);
	free(bad);
	/* private parts, on a supported key or on one that would be skipped */
	bad = malloc(strlen(es) + 64);
	snprintf(bad, strlen(es) + 64, "{\"keys\":[{\"d\":\"AAAA\",%s", es + 10);
	expect_jwks_refused(bad, ERR_BAD_REQUEST);
	free(bad);
	expect_jwks_refused("{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}", ERR_BAD_REQUEST);
	expect_jwks_refused("{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RS256\",\"n\":\"AQAB\",\"e\":\"AQAB\",\"p\":\"AQ\",\"q\":\"AQ\"}]}",
			    ERR_BAD_REQUEST);
	buf_release(&doc);
	free(es);
	free(t);
	auth_key_free(k);
	auth_key_free(rsa);
}

/* The unverified claims: what iss names, before any key is chosen. */
static void jwt_claims_unverified(void **state)
{
	char *token = jose_vector("rs384.jwt");
	struct json_object *claims = (struct json_object *)1;
	struct err e = { 0 };

	assert_int_equal(auth_jwt_claims_unverified(token, strlen(token), &claims, &e), 0);
	assert_string_equal(json_object_get_string(json_object_object_get(claims, "iss")), "lab-1");
	json_object_put(claims);
	assert_int_equal(auth_jwt_claims_unverified("a.b", 3, &claims, &e), ERR_UNAUTHORIZED);
	assert_null(claims);
	assert_int_equal(auth_jwt_claims_unverified("e30.WzFd.", 9, &claims, &e), ERR_UNAUTHORIZED);
	assert_null(claims);
	free(token);
}

/* A key is shared by threads once made. */
struct thread_job {
	struct auth_key *const *keys;
	const char *claims;	/* made before the threads: claims_json's buffer is shared */
	int ok;
};

static void *sign_verify_loop(void *arg)
{
	struct thread_job *job = arg;

	job->ok = 1;
	for (int i = 0; i < 20; i++) {
		struct auth_key *k = job->keys[i % 2];
		struct buf b;
		struct err e = { 0 };
		struct json_object *c = NULL;

		buf_init(&b, 0);
		if (auth_jwt_sign(k, job->claims, &b, &e) ||
		    auth_jwt_verify(b.p, b.n, job->keys, 2, &CHECK, &c, &e))
			job->ok = 0;
		json_object_put(c);
		buf_release(&b);
	}
	return NULL;
}

static void keys_shared_by_threads(void **state)
{
	struct auth_key *keys[2] = { new_key(AUTH_ES256, "a"), new_key(AUTH_EDDSA, "b") };
	struct thread_job jobs[4];
	pthread_t th[4];
	char *claims = strdup(claims_json(NULL));

	for (int i = 0; i < 4; i++) {
		jobs[i].keys = keys;
		jobs[i].claims = claims;
		assert_int_equal(pthread_create(&th[i], NULL, sign_verify_loop, &jobs[i]), 0);
	}
	for (int i = 0; i < 4; i++)	/* all joined before any assert leaves the frame */
		pthread_join(th[i], NULL);
	for (int i = 0; i < 4; i++)
		assert_true(jobs[i].ok);
	free(claims);
	auth_key_free(keys[0]);
	auth_key_free(keys[1]);
}

/* ---- passwords ------------------------------------------------------------------ */

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void password_hash_verify(void **state)
{
	char hash[AUTH_HASH_MAX], again[AUTH_HASH_MAX];
	const char *dummy = auth_dummy_hash();
	struct err e = { 0 };
	double t0, real, fake;

	assert_int_equal(auth_password_hash("Mật khẩu bệnh viện 2026", hash, &e), 0);
	assert_int_equal(strncmp(hash, "$argon2id$", 10), 0);
	assert_int_equal(auth_password_hash("Mật khẩu bệnh viện 2026", again, &e), 0);
	assert_string_not_equal(hash, again);	/* salted */
	assert_int_equal(auth_password_verify(hash, "Mật khẩu bệnh viện 2026"), 1);
	assert_int_equal(auth_password_verify(hash, "Mật khẩu bệnh viện 2025"), 0);
	assert_int_equal(auth_password_verify(hash, ""), 0);
	assert_int_equal(auth_password_verify("$2b$10$abcdefghijklmnopqrstuv", "x"), 0);
	assert_int_equal(auth_password_verify("", "x"), 0);
	assert_int_equal(auth_password_verify(NULL, "x"), 0);

	/* the dummy: a real argon2id hash with our limits, made once, matching nothing */
	assert_int_equal(strncmp(dummy, "$argon2id$", 10), 0);
	assert_ptr_equal(dummy, auth_dummy_hash());
	/* same "$argon2id$v=19$m=65536,t=2,p=1" limits as a user's hash */
	assert_int_equal(strncmp(dummy, hash, strcspn(hash, "p") + 3), 0);
	assert_int_equal(auth_password_verify(dummy, ""), 0);
	assert_int_equal(auth_password_verify(dummy, "Mật khẩu bệnh viện 2026"), 0);
	/* and it costs what a real verification costs */
	t0 = seconds();
	assert_int_equal(auth_password_verify(hash, "wrong password 1"), 0);
	real = seconds() - t0;
	t0 = seconds();
	assert_int_equal(auth_password_verify(dummy, "wrong password 1"), 0);
	fake = seconds() - t0;
	printf("argon2id verify: real %.3f s, dummy %.3f s\n", real, fake);
	assert_true(fake > real * 0.5 && fake < real * 2.0);
}

static void expect_policy(const char *password, const char *user, const char *rule)
{
	struct err e = { 0 };
	int rc = auth_password_policy(password, user, &e);

	if (!rule) {
		if (rc)
			fail_msg("'%s' refused: %s", password, e.issue[0].diagnostics);
		return;
	}
	assert_int_equal(rc, ERR_BAD_REQUEST);
	for (int i = 0; i < e.n_issues; i++)
		if (strstr(e.issue[i].diagnostics, rule))
			return;
	fail_msg("'%s': no issue says '%s' (first: %s)", password, rule, e.issue[0].diagnostics);
}

static void password_policy(void **state)
{
	struct err e = { 0 };

	expect_policy("correcthorse2026", NULL, NULL);
	expect_policy("Mậtkhẩubảomật1", NULL, NULL);		/* 14 code points, 22 bytes */
	expect_policy("ậậậậậậậậậậậậ1", NULL, "at least 14");	/* 13 code points, 37 bytes */
	expect_policy("short1", NULL, "at least 14");
	expect_policy("abcdefghijklmnop", NULL, "digit");
	expect_policy("12345678901234567", NULL, "letter");
	expect_policy("!!!!!!!!!!!!!!!!", NULL, "letter");
	expect_policy("nguyenvana2026xyz", "NguyenVanA", "user name");
	expect_policy("xxNGUYENVANA2026xyz", "nguyenvana", "user name");
	expect_policy("ab-correcthorse-2026", "ab", NULL);	/* user names under 3 characters are not looked for */
	expect_policy("correcthorse2026", "", NULL);
	expect_policy("correct\xff" "horse2026abc", NULL, "UTF-8");
	/* every failing rule is reported */
	assert_int_equal(auth_password_policy("abc", NULL, &e), ERR_BAD_REQUEST);
	assert_int_equal(e.n_issues, 2);
}

/* ---- TOTP ------------------------------------------------------------------------ */

/* RFC 6238 appendix B, SHA-1: the secret is the ASCII "12345678901234567890";
 * our codes are the last 6 of the 8 digits there. */
static const char RFC_SECRET[] = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
static const struct {
	int64_t t;
	const char *code;
} RFC_VECTORS[] = {
	{ 59, "287082" },	    { 1111111109, "081804" }, { 1111111111, "050471" },
	{ 1234567890, "005924" }, { 2000000000, "279037" }, { 20000000000LL, "353130" },
};

static void totp_rfc6238_vectors(void **state)
{
	struct err e = { 0 };
	char code[7];

	for (size_t i = 0; i < sizeof(RFC_VECTORS) / sizeof(RFC_VECTORS[0]); i++) {
		assert_int_equal(auth_totp_code(RFC_SECRET, RFC_VECTORS[i].t, code, &e), 0);
		assert_string_equal(code, RFC_VECTORS[i].code);
	}
	/* lower case and padding are read too */
	assert_int_equal(auth_totp_code("gezdgnbvgy3tqojqgezdgnbvgy3tqojq", 59, code, &e), 0);
	assert_string_equal(code, "287082");
	assert_int_equal(auth_totp_code("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ====", 59, code, &e), 0);
	assert_string_equal(code, "287082");
	assert_int_equal(auth_totp_code("GEZD1NBV", 59, code, &e), ERR_BAD_REQUEST);
	assert_int_equal(auth_totp_code("", 59, code, &e), ERR_BAD_REQUEST);
	assert_int_equal(auth_totp_code("GE=ZD", 59, code, &e), ERR_BAD_REQUEST);
}

static void totp_window_and_replay(void **state)
{
	const int64_t t = 1111111111;	/* step 37037037; code 050471 */
	int64_t last = 0;

	/* a step either side is accepted, two steps are not */
	assert_int_equal(auth_totp_check(RFC_SECRET, "050471", t + 30, &last), 1);
	assert_int_equal(last, t / 30);
	last = 0;
	assert_int_equal(auth_totp_check(RFC_SECRET, "050471", t - 30, &last), 1);
	last = 0;
	assert_int_equal(auth_totp_check(RFC_SECRET, "050471", t + 60, &last), 0);
	assert_int_equal(auth_totp_check(RFC_SECRET, "050471", t - 60, &last), 0);
	assert_int_equal(last, 0);
	/* accepted once; an older code after a newer one is refused */
	assert_int_equal(auth_totp_check(RFC_SECRET, "050471", t, &last), 1);
	assert_int_equal(auth_totp_check(RFC_SECRET, "050471", t, &last), 0);
	assert_int_equal(auth_totp_check(RFC_SECRET, "081804", t, &last), 0);	/* step t-1, older */
	assert_int_equal(last, t / 30);
	/* the next step's code is still good */
	{
		char next[7];
		struct err e = { 0 };
		assert_int_equal(auth_totp_code(RFC_SECRET, t + 30, next, &e), 0);
		assert_int_equal(auth_totp_check(RFC_SECRET, next, t + 10, &last), 1);
		assert_int_equal(last, t / 30 + 1);
	}
	/* shapes that are never a code */
	last = 0;
	assert_int_equal(auth_totp_check(RFC_SECRET, "050472", t, &last), 0);
	assert_int_equal(auth_totp_check(RFC_SECRET, "05047", t, &last), 0);
	assert_int_equal(auth_totp_check(RFC_SECRET, "0504711", t, &last), 0);
	assert_int_equal(auth_totp_check(RFC_SECRET, "05047a", t, &last), 0);
	assert_int_equal(auth_totp_check(RFC_SECRET, "", t, &last), 0);
	assert_int_equal(auth_totp_check(RFC_SECRET, "050471", t, NULL), 0);
	assert_int_equal(auth_totp_check("not base32!", "050471", t, &last), 0);
}

static void totp_secret_and_uri(void **state)
{
	char a[AUTH_TOTP_SECRET_MAX], b[AUTH_TOTP_SECRET_MAX], code[7];
	struct buf uri;
	struct err e = { 0 };
	int64_t last = 0;

	assert_int_equal(auth_totp_secret_new(a), 0);
	assert_int_equal(auth_totp_secret_new(b), 0);
	assert_int_equal(strlen(a), 32);
	assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), 32);
	assert_string_not_equal(a, b);
	assert_int_equal(auth_totp_code(a, NOW, code, &e), 0);
	assert_int_equal(auth_totp_check(a, code, NOW, &last), 1);

	buf_init(&uri, 0);
	assert_int_equal(auth_totp_uri("JBSWY3DPEHPK3PXP", "Liên Thông", "bs.an@bv.vn", &uri), 0);
	assert_string_equal(uri.p, "otpauth://totp/Li%C3%AAn%20Th%C3%B4ng:bs.an%40bv.vn"
				   "?secret=JBSWY3DPEHPK3PXP&issuer=Li%C3%AAn%20Th%C3%B4ng");
	buf_release(&uri);
}

/* ---- secrets ------------------------------------------------------------------ */

static void secrets(void **state)
{
	struct buf a, b, d;
	struct err e = { 0 };
	char hex[65];

	buf_init(&a, 0);
	buf_init(&b, 0);
	buf_init(&d, 0);
	assert_int_equal(auth_random_token(32, &a, &e), 0);
	assert_int_equal(auth_random_token(32, &b, &e), 0);
	assert_int_equal(a.n, 43);
	assert_string_not_equal(a.p, b.p);
	assert_int_equal(auth_b64url_decode(a.p, a.n, &d, &e), 0);
	assert_int_equal(d.n, 32);
	assert_int_equal(auth_random_token(0, &a, &e), ERR_USAGE);
	assert_int_equal(auth_random_token(100000, &a, &e), ERR_USAGE);

	assert_true(auth_ct_equal("abc", 3, "abc", 3));
	assert_false(auth_ct_equal("abc", 3, "abd", 3));
	assert_false(auth_ct_equal("abc", 3, "abcd", 4));
	assert_false(auth_ct_equal("abc", 3, "ab", 2));
	assert_true(auth_ct_equal("", 0, "", 0));

	auth_sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	auth_sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	buf_release(&a);
	buf_release(&b);
	buf_release(&d);
}

/* ---- scopes -------------------------------------------------------------------- */

static struct auth_scopes parse_scopes(const char *text)
{
	struct auth_scopes s;
	struct err e = { 0 };

	if (auth_scopes_parse(text, &s, &e))
		fail_msg("'%s' refused: %s", text, e.issue[0].diagnostics);
	return s;
}

static void scopes_parse_valid(void **state)
{
	struct auth_scopes s = parse_scopes(
		"patient/Observation.rs user/*.cruds system/*.read launch/patient openid fhirUser "
		"offline_access  patient/Observation.rs?category=laboratory user/Patient.write "
		"system/Encounter.* patient/Observation.rs patient/Condition.c https://x.example/a.b");

	assert_int_equal(s.n, 12);	/* the repeated patient/Observation.rs kept once */
	assert_int_equal(s.s[0].context, AUTH_CTX_PATIENT);
	assert_string_equal(s.s[0].type, "Observation");
	assert_int_equal(s.s[0].perms, AUTH_PERM_R | AUTH_PERM_S);
	assert_string_equal(s.s[0].query, "");
	assert_int_equal(s.s[1].context, AUTH_CTX_USER);
	assert_string_equal(s.s[1].type, "*");
	assert_int_equal(s.s[1].perms, 31);
	assert_int_equal(s.s[2].context, AUTH_CTX_SYSTEM);
	assert_int_equal(s.s[2].perms, AUTH_PERM_R | AUTH_PERM_S);	/* v1 read */
	assert_int_equal(s.s[3].context, 0);
	assert_string_equal(s.s[3].text, "launch/patient");
	assert_int_equal(s.s[4].context, 0);
	assert_string_equal(s.s[6].text, "offline_access");
	assert_string_equal(s.s[7].query, "category=laboratory");
	assert_string_equal(s.s[7].text, "patient/Observation.rs?category=laboratory");
	assert_int_equal(s.s[8].perms, AUTH_PERM_C | AUTH_PERM_U | AUTH_PERM_D);	/* v1 write */
	assert_int_equal(s.s[9].perms, 31);	/* v1 * */
	assert_int_equal(s.s[10].perms, AUTH_PERM_C);
	assert_int_equal(s.s[11].context, 0);	/* a URL scope is another token */
	assert_true(auth_scopes_has(&s, "launch/patient"));
	assert_true(auth_scopes_has(&s, "openid"));
	assert_false(auth_scopes_has(&s, "launch"));
	assert_false(auth_scopes_has(&s, "launch/encounter"));
	s = parse_scopes("");
	assert_int_equal(s.n, 0);
}

static void expect_scope_refused(const char *text)
{
	struct auth_scopes s;
	struct err e = { 0 };

	if (auth_scopes_parse(text, &s, &e) != ERR_BAD_REQUEST)
		fail_msg("'%s' accepted", text);
}

static void scopes_parse_invalid(void **state)
{
	char many[2048], longest[300];
	size_t used = 0;

	expect_scope_refused("patient/Observation.rsc");	/* out of order */
	expect_scope_refused("patient/Observation.rr");
	expect_scope_refused("patient/Observation.x");
	expect_scope_refused("patient/Observation.");
	expect_scope_refused("patient/Observation");
	expect_scope_refused("patient/observation.rs");
	expect_scope_refused("patient/Obs-1.rs");
	expect_scope_refused("patient/.rs");
	expect_scope_refused("doctor/Observation.rs");	/* unknown context */
	expect_scope_refused("patient/Observation.read?code=x");	/* query needs v2 */
	expect_scope_refused("patient/Observation.rs?");
	expect_scope_refused("openid \"quoted\"");
	expect_scope_refused("openid profile\\x");
	for (int i = 0; i < AUTH_MAX_SCOPES + 1; i++)
		used += (size_t)snprintf(many + used, sizeof(many) - used, "patient/T%c%c.r ",
					 'a' + i / 26, 'a' + i % 26);
	expect_scope_refused(many);
	memset(longest, 'a', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	expect_scope_refused(longest);
}

static void scopes_allow(void **state)
{
	struct auth_scopes s = parse_scopes(
		"patient/Observation.rs user/*.r patient/Patient.c patient/Patient.r launch/patient");

	assert_true(auth_scopes_allow(&s, AUTH_CTX_PATIENT, "Observation", AUTH_PERM_R));
	assert_true(auth_scopes_allow(&s, AUTH_CTX_PATIENT, "Observation", AUTH_PERM_R | AUTH_PERM_S));
	assert_false(auth_scopes_allow(&s, AUTH_CTX_PATIENT, "Observation", AUTH_PERM_C));
	assert_false(auth_scopes_allow(&s, AUTH_CTX_PATIENT, "Condition", AUTH_PERM_R));
	assert_true(auth_scopes_allow(&s, AUTH_CTX_USER, "Condition", AUTH_PERM_R));
	assert_false(auth_scopes_allow(&s, AUTH_CTX_USER, "Condition", AUTH_PERM_S));
	assert_false(auth_scopes_allow(&s, AUTH_CTX_SYSTEM, "Observation", AUTH_PERM_R));
	assert_true(auth_scopes_allow(&s, AUTH_CTX_PATIENT, "Patient", AUTH_PERM_C | AUTH_PERM_R));
	assert_false(auth_scopes_allow(&s, AUTH_CTX_PATIENT, "Patient", 0));
	assert_false(auth_scopes_allow(&s, AUTH_CTX_PATIENT, "Patient", 64));
	/* A scope with a query is not the whole type. */
	s = parse_scopes("patient/Observation.rs?category=laboratory user/Condition.rs?code=x|y");
	assert_false(auth_scopes_allow(&s, AUTH_CTX_PATIENT, "Observation", AUTH_PERM_R));
	assert_false(auth_scopes_allow(&s, AUTH_CTX_USER, "Condition", AUTH_PERM_S));
}

static void expect_narrow(const char *requested, const char *granted, const char *want)
{
	struct auth_scopes r = parse_scopes(requested), g = parse_scopes(granted), again;
	struct err e = { 0 };
	struct buf out;

	buf_init(&out, 0);
	assert_int_equal(auth_scopes_narrow(&r, &g, &out), 0);
	if (strcmp(out.p ? out.p : "", want) != 0)
		fail_msg("narrow '%s' by '%s': got '%s', want '%s'", requested, granted,
			 out.p ? out.p : "", want);
	assert_int_equal(auth_scopes_parse(out.p ? out.p : "", &again, &e), 0);
	buf_release(&out);
}

static void scopes_narrow(void **state)
{
	expect_narrow("system/Observation.cruds system/Patient.rs", "system/*.rs",
		      "system/Observation.rs system/Patient.rs");
	/* granted nothing: dropped */
	expect_narrow("system/Observation.cruds system/Encounter.c", "system/*.rs",
		      "system/Observation.rs");
	expect_narrow("patient/Observation.rs", "user/*.cruds", "");
	/* other tokens only when granted has them */
	expect_narrow("openid fhirUser launch/patient offline_access patient/*.rs",
		      "openid launch/patient patient/Observation.rs patient/Patient.r",
		      "openid launch/patient patient/Observation.rs patient/Patient.r");
	/* v1 spelling kept when whole, v2 letters when narrowed */
	expect_narrow("patient/Observation.read", "patient/*.*", "patient/Observation.read");
	expect_narrow("patient/Observation.*", "patient/Observation.rs", "patient/Observation.rs");
	expect_narrow("user/*.write", "user/Patient.cruds", "user/Patient.cud");
	/* perms from several grants add up */
	expect_narrow("user/Patient.cruds", "user/Patient.c user/*.rs", "user/Patient.crs");
	/* a query on either side is kept; two different ones give nothing */
	expect_narrow("patient/Observation.rs", "patient/Observation.rs?category=laboratory",
		      "patient/Observation.rs?category=laboratory");
	expect_narrow("patient/Observation.rs?category=vital-signs", "patient/*.r",
		      "patient/Observation.r?category=vital-signs");
	expect_narrow("patient/Observation.rs?category=vital-signs",
		      "patient/Observation.rs?category=laboratory", "");
	/* a scope the answer already covers is left out */
	expect_narrow("patient/*.rs patient/Observation.r", "patient/*.cruds", "patient/*.rs");
}

/* ---- the authorization code grant -------------------------------------------------- */

/* RFC 7636 Appendix B. */
#define PKCE_VERIFIER "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define PKCE_CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

static void pkce_s256(void **state)
{
	char v[200];

	assert_true(auth_pkce_verifier_valid(PKCE_VERIFIER));
	assert_true(auth_pkce_challenge_valid(PKCE_CHALLENGE));
	assert_true(auth_pkce_s256_check(PKCE_VERIFIER, PKCE_CHALLENGE));
	/* one character off on either side */
	assert_false(auth_pkce_s256_check("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj", PKCE_CHALLENGE));
	assert_false(auth_pkce_s256_check(PKCE_VERIFIER, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cQ"));
	/* "plain": the challenge is the verifier itself; S256 only here */
	assert_false(auth_pkce_s256_check(PKCE_VERIFIER, PKCE_VERIFIER));
	assert_false(auth_pkce_s256_check(NULL, PKCE_CHALLENGE));
	assert_false(auth_pkce_s256_check(PKCE_VERIFIER, NULL));
	/* verifiers: 43 to 128 unreserved characters */
	memset(v, 'a', sizeof(v));
	v[42] = '\0';
	assert_false(auth_pkce_verifier_valid(v));
	v[42] = 'a';
	v[43] = '\0';
	assert_true(auth_pkce_verifier_valid(v));
	v[43] = 'a';
	v[128] = '\0';
	assert_true(auth_pkce_verifier_valid(v));
	v[128] = 'a';
	v[129] = '\0';
	assert_false(auth_pkce_verifier_valid(v));
	assert_true(auth_pkce_verifier_valid("0123456789-._~abcdefghijklmnopqrstuvwxyzABCDE"));
	assert_false(auth_pkce_verifier_valid("0123456789+/abcdefghijklmnopqrstuvwxyzABCDEFG"));
	assert_false(auth_pkce_verifier_valid("0123456789 abcdefghijklmnopqrstuvwxyzABCDEFGH"));
	/* challenges: exactly the unpadded base64url of 32 bytes */
	assert_false(auth_pkce_challenge_valid(PKCE_CHALLENGE "="));
	assert_false(auth_pkce_challenge_valid("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c"));
	assert_false(auth_pkce_challenge_valid("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"));
	/* 'N' leaves a non-zero unused bit: a second spelling of the same bytes */
	assert_false(auth_pkce_challenge_valid("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));
}

static void redirect_uris(void **state)
{
	static const char *const good[] = {
		"https://app.example.vn/callback",
		"https://app.example.vn:8443/cb?tenant=79001",
		"https://APP.example.vn/a/b%20c",
		"http://localhost:3000/cb",
		"http://127.0.0.1/cb",
		"http://[::1]:8080/cb",
		"https://[2001:db8::1]/cb",
	};
	static const char *const bad[] = {
		"",
		"http://app.example.vn/cb",		/* plain http off the machine */
		"http://localhost.evil.example/cb",
		"http://127.0.0.1.evil.example/cb",
		"https://app.example.vn/cb#frag",
		"https://user:pw@app.example.vn/cb",
		"https://app.example.vn /cb",
		"https://app.example.vn/c\"b",
		"https://app.example.vn/<script>",
		"javascript:alert(1)",
		"ftp://app.example.vn/cb",
		"app.example.vn/cb",
		"https://",
		"https:///cb",
		"https://app.example.vn:/cb",
		"https://app.example.vn:123456/cb",
		"https://app.example.vn:80a/cb",
		"https://[]/cb",
		"https://[::1/cb",
		"https://app.example.vn/%zz",
		"https://app.example.vn/%4",
		"https://app_example.vn/cb",
		"https://app.example.vn/\x01",
	};
	char long_uri[AUTH_REDIRECT_URI_MAX + 10], origin[128];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (auth_redirect_uri_invalid(good[i]))
			fail_msg("refused %s: %s", good[i], auth_redirect_uri_invalid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!auth_redirect_uri_invalid(bad[i]))
			fail_msg("accepted %s", bad[i]);
	assert_non_null(auth_redirect_uri_invalid(NULL));
	memset(long_uri, 'a', sizeof(long_uri));
	memcpy(long_uri, "https://a.vn/", 13);
	long_uri[AUTH_REDIRECT_URI_MAX] = '\0';
	assert_non_null(auth_redirect_uri_invalid(long_uri));

	assert_int_equal(auth_redirect_uri_origin("https://app.example.vn:8443/cb?x=1", origin,
						  sizeof(origin)), 0);
	assert_string_equal(origin, "https://app.example.vn:8443");
	assert_int_equal(auth_redirect_uri_origin("http://localhost/cb", origin, sizeof(origin)), 0);
	assert_string_equal(origin, "http://localhost");
	assert_int_equal(auth_redirect_uri_origin("https://app.example.vn?x", origin, sizeof(origin)), 0);
	assert_string_equal(origin, "https://app.example.vn");
	assert_int_equal(auth_redirect_uri_origin("http://evil.example/cb", origin, sizeof(origin)), -1);
	assert_int_equal(auth_redirect_uri_origin("https://app.example.vn/cb", origin, 10), -1);

	/* exact, byte for byte */
	{
		const char *list = "https://a.vn/cb http://localhost:3000/cb";

		assert_true(auth_redirect_uri_listed(list, "https://a.vn/cb"));
		assert_true(auth_redirect_uri_listed(list, "http://localhost:3000/cb"));
		assert_false(auth_redirect_uri_listed(list, "https://a.vn/c"));
		assert_false(auth_redirect_uri_listed(list, "https://a.vn/cb/"));
		assert_false(auth_redirect_uri_listed(list, "https://a.vn/cb?x=1"));
		assert_false(auth_redirect_uri_listed(list, "https://A.vn/cb"));
		assert_false(auth_redirect_uri_listed(list, "http://localhost:3001/cb"));
		assert_false(auth_redirect_uri_listed(list, "https://a.vn/cb http://localhost:3000/cb"));
		assert_false(auth_redirect_uri_listed(list, ""));
		assert_false(auth_redirect_uri_listed("", "https://a.vn/cb"));
	}
}

static void expect_grant(const char *requested, const char *client, const char *user, int patient,
			 const char *want)
{
	struct buf out;
	struct err e = { 0 };

	buf_init(&out, 0);
	assert_int_equal(auth_grant_scope(requested, client, user, patient, &out, &e), 0);
	assert_string_equal(out.p ? out.p : "", want);
	buf_release(&out);
}

#define APP "patient/*.rs user/*.rs launch/patient offline_access online_access"

static void grant_scope(void **state)
{
	struct buf out;
	struct err e = { 0 };

	/* a patient through a patient app: their own record, offline, in context */
	expect_grant("launch/patient openid fhirUser offline_access patient/*.rs", APP, "patient/*.rs", 1,
		     "patient/*.rs offline_access launch/patient");
	/* no patient in context: launch/patient is not granted */
	expect_grant("launch/patient patient/*.rs", APP, "patient/*.rs", 0, "patient/*.rs");
	/* the app's registration narrows (no writes) and so do the user's scopes */
	expect_grant("user/*.cruds online_access", APP, "user/*.cruds", 0, "user/*.rs online_access");
	expect_grant("user/*.cruds", APP, "user/Observation.rs", 0, "user/Observation.rs");
	/* offline covers online */
	expect_grant("online_access offline_access user/*.rs", APP, "user/*.rs", 0,
		     "user/*.rs offline_access");
	/* a refresh token only when the app is registered for one, whatever the user has */
	expect_grant("user/*.rs offline_access", "user/*.rs", "user/*.rs offline_access", 0, "user/*.rs");
	/* scopes of a context the user does not hold give nothing */
	expect_grant("system/*.rs user/*.rs", "system/*.rs user/*.rs", "user/Patient.r", 0, "user/Patient.r");
	expect_grant("patient/*.rs offline_access", APP, "user/*.rs", 0, "offline_access");
	expect_grant("", APP, "user/*.rs", 0, "");
	/* malformed */
	buf_init(&out, 0);
	assert_int_equal(auth_grant_scope("patient/*.xyz", APP, "user/*.rs", 0, &out, &e), ERR_BAD_REQUEST);
	buf_release(&out);
}

static int within(const char *requested, const char *granted)
{
	struct auth_scopes *r = malloc(2 * sizeof(*r));
	struct err e = { 0 };
	int ok = -1;

	assert_non_null(r);
	assert_int_equal(auth_scopes_parse(requested, &r[0], &e), 0);
	assert_int_equal(auth_scopes_parse(granted, &r[1], &e), 0);
	assert_int_equal(auth_scopes_within(&r[0], &r[1], &ok), 0);
	free(r);
	return ok;
}

static void scopes_within(void **state)
{
	assert_true(within("patient/Observation.rs", "patient/*.rs offline_access"));
	assert_true(within("patient/*.rs offline_access", "patient/*.rs offline_access"));
	assert_true(within("user/Patient.rs", "user/Patient.r user/*.s"));
	assert_true(within("user/Patient.read", "user/*.rs"));
	assert_true(within("patient/*.rs patient/Observation.r", "patient/*.rs"));
	assert_true(within("", "patient/*.rs"));
	assert_false(within("patient/*.rs", "patient/Observation.rs"));
	assert_false(within("patient/Observation.rs", "patient/Observation.r"));
	assert_false(within("offline_access", "patient/*.rs"));
	assert_false(within("patient/*.rs launch/patient", "patient/*.rs"));
	assert_false(within("user/*.rs", "patient/*.rs"));
	assert_false(within("patient/Observation.rs", "patient/Observation.rs?category=laboratory"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(b64url_round_trip_and_refusals),
		cmocka_unit_test(jwt_round_trip_es256),
		cmocka_unit_test(jwt_round_trip_eddsa),
		cmocka_unit_test(jwt_round_trip_es384),
		cmocka_unit_test(jwt_round_trip_rs384),
		cmocka_unit_test(jwt_sign_refusals),
		cmocka_unit_test(jwt_tampering_refused),
		cmocka_unit_test(jwt_wrong_key_refused),
		cmocka_unit_test(jwt_alg_attacks_refused),
		cmocka_unit_test(jwt_header_rules),
		cmocka_unit_test(jwt_claims_checked),
		cmocka_unit_test(jwt_rfc7515_es256_vector),
		cmocka_unit_test(rfc8037_vectors),
		cmocka_unit_test(jose_es384_vector),
		cmocka_unit_test(jose_rs384_vector),
		cmocka_unit_test(jose_alg_confusion_refused),
		cmocka_unit_test(jose_tampering_refused),
		cmocka_unit_test(jose_rsa_keys),
		cmocka_unit_test(jose_p384_and_private_parts),
		cmocka_unit_test(jwt_claims_unverified),
		cmocka_unit_test(jwk_export_parse_verify),
		cmocka_unit_test(jwks_refusals),
		cmocka_unit_test(pem_round_trip),
		cmocka_unit_test(pem_refusals),
		cmocka_unit_test(keys_shared_by_threads),
		cmocka_unit_test(password_hash_verify),
		cmocka_unit_test(password_policy),
		cmocka_unit_test(totp_rfc6238_vectors),
		cmocka_unit_test(totp_window_and_replay),
		cmocka_unit_test(totp_secret_and_uri),
		cmocka_unit_test(secrets),
		cmocka_unit_test(scopes_parse_valid),
		cmocka_unit_test(scopes_parse_invalid),
		cmocka_unit_test(scopes_allow),
		cmocka_unit_test(scopes_narrow),
		cmocka_unit_test(pkce_s256),
		cmocka_unit_test(redirect_uris),
		cmocka_unit_test(grant_scope),
		cmocka_unit_test(scopes_within),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
