/*
 * auth.h — the security primitives: JSON Web Tokens signed with ES256,
 * EdDSA, ES384 or RS384, passwords (argon2id), TOTP, random secrets, constant-time
 * comparison and SMART on FHIR v2 scopes. No store, no HTTP, no threads of
 * its own: src/api and src/cmd put these together (decision 0015).
 *
 * Crypto comes from OpenSSL (signatures, HMAC, SHA-256, random) and
 * libsodium (argon2id); nothing is hand-rolled but the encodings.
 * Every function is thread-safe; a struct auth_key may be shared by
 * threads once made.
 */
#ifndef LT_AUTH_AUTH_H
#define LT_AUTH_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include "../base/buf.h"
#include "../base/err.h"

struct json_object;

/* base64url without padding (RFC 7515 §2); decode refuses padding,
 * whitespace, any character outside the alphabet and non-zero unused bits
 * in the last character (so each byte string has one encoding), with
 * ERR_BAD_REQUEST; on failure out is left as it was. */
int auth_b64url_encode(const void *p, size_t n, struct buf *out) LT_MUST_CHECK;
int auth_b64url_decode(const char *s, size_t n, struct buf *out, struct err *e) LT_MUST_CHECK;

/* ---- Keys -------------------------------------------------------------- */

/*
 * The key decides the algorithm: P-256 → ES256, Ed25519 → EdDSA, P-384 →
 * ES384, RSA → RS384 (PKCS#1 v1.5 with SHA-384). The server signs its own
 * tokens with ES256 or EdDSA; ES384 and RS384 are there because SMART
 * Backend Services clients sign their assertions with them (decision 0020).
 */
enum auth_alg { AUTH_ES256 = 1, AUTH_EDDSA = 2, AUTH_ES384 = 3, AUTH_RS384 = 4 };

struct auth_key;			/* an EVP_PKEY, its alg and kid */

#define AUTH_KID_MAX 64
#define AUTH_RSA_MIN_BITS 2048		/* smaller RSA keys are refused (NIST SP 800-131A) */
#define AUTH_RSA_MAX_BITS 8192		/* larger ones cost a verifier too much */

/* The JWS "alg" value ("ES256", "EdDSA", "ES384", "RS384"); NULL for another value. */
const char *auth_alg_name(enum auth_alg alg);

/* A new private key (RS384: AUTH_RSA_MIN_BITS). kid NULL: the RFC 7638
 * thumbprint of its public JWK; otherwise 1 to AUTH_KID_MAX printable ASCII
 * characters (ERR_BAD_REQUEST). */
int auth_key_generate(enum auth_alg alg, const char *kid, struct auth_key **out,
		      struct err *e) LT_MUST_CHECK;
/* A private or public key from PEM; the alg follows from the key (see enum
 * auth_alg; any other key, and RSA outside AUTH_RSA_MIN_BITS to
 * AUTH_RSA_MAX_BITS, is ERR_NOT_SUPPORTED). kid as above. Encrypted PEM is
 * ERR_NOT_SUPPORTED (no passphrase is ever asked for). */
int auth_key_from_pem(const char *pem, size_t n, const char *kid, struct auth_key **out,
		      struct err *e) LT_MUST_CHECK;
/* The private key as unencrypted PKCS#8 PEM (ERR_USAGE for a public key). */
int auth_key_private_pem(const struct auth_key *k, struct buf *out, struct err *e) LT_MUST_CHECK;
/* The public JWK as a JSON object text: kty, crv, x (, y) or kty, n, e;
 * then kid, alg, use "sig". */
int auth_key_public_jwk(const struct auth_key *k, struct buf *out, struct err *e) LT_MUST_CHECK;
/* The keys of a JWKS document ({"keys": [...]}), as public keys; keys
 * without a supported kty/crv, or whose "use" is not "sig" or whose "alg"
 * is not the one of their kind (RSA: RS384), are skipped; none at all is
 * ERR_BAD_REQUEST, and so is a supported key that is malformed (bad
 * coordinates, not on the curve; an RSA modulus that is even or outside
 * 2048 to 8192 bits, an exponent that is even or below 65537), a kid used
 * twice, and any entry
 * carrying private key material (d, p, q, dp, dq, qi, oth, k): a JWKS is
 * published, so a private part in it is a leaked key. Keys without kid get
 * their thumbprint. *keys is malloc'ed (auth_keys_free). */
int auth_jwks_parse(const char *json, size_t n, struct auth_key ***keys, size_t *n_keys,
		    struct err *e) LT_MUST_CHECK;
const char *auth_key_kid(const struct auth_key *k);
enum auth_alg auth_key_alg(const struct auth_key *k);
int auth_key_is_private(const struct auth_key *k);
void auth_key_free(struct auth_key *k);
void auth_keys_free(struct auth_key **keys, size_t n);	/* and the array */

/* ---- JWT (RFC 7519, compact JWS) ---------------------------------------- */

/* header {"alg": k's alg, "typ": "JWT", "kid": k's kid}; claims is a JSON
 * object text, signed as given. ECDSA signatures are the raw r||s form.
 * ERR_USAGE for a public key or claims that are not a JSON object. */
int auth_jwt_sign(const struct auth_key *k, const char *claims_json, struct buf *out,
		  struct err *e) LT_MUST_CHECK;

/*
 * Checks a compact JWS (at most 8 KiB) against keys: the header's kid must
 * name exactly one of them (or, without kid, exactly one key of the
 * header's alg must exist), and the header's alg must be that key's alg —
 * so "none", HS256 and any alg the key was not made for are refused; a
 * header with "crit" is refused (we implement no extension), and keys
 * carried in the header (jwk, jku, x5c, x5u) are ignored. The signature is
 * checked next; only then are the claims
 * parsed and checked: exp (required) > now_s - leeway_s, nbf and iat (when
 * present) <= now_s + leeway_s; aud (string or array) must contain
 * audience when audience is not NULL; iss must equal issuer when issuer is
 * not NULL. *claims (owned by the caller, json_object_put) on success.
 * Every refusal is ERR_UNAUTHORIZED with a message that names the check
 * (never the token).
 */
struct auth_jwt_check {
	const char *audience;
	const char *issuer;
	int64_t now_s;
	int64_t leeway_s;
};
int auth_jwt_verify(const char *token, size_t n, struct auth_key *const *keys, size_t n_keys,
		    const struct auth_jwt_check *chk, struct json_object **claims,
		    struct err *e) LT_MUST_CHECK;
/*
 * The claims of a compact JWS, NOT verified: only to learn which keys to
 * verify it with (the iss of a client assertion names the client whose
 * JWKS applies), or to refuse it early. Nothing read here may be trusted
 * before auth_jwt_verify succeeds on the same token. ERR_UNAUTHORIZED when
 * the token is not a compact JWS (at most 8 KiB) whose claims are a JSON
 * object. *claims as for auth_jwt_verify.
 */
int auth_jwt_claims_unverified(const char *token, size_t n, struct json_object **claims,
			       struct err *e) LT_MUST_CHECK;

/* ---- Passwords ----------------------------------------------------------- */

#define AUTH_HASH_MAX 128		/* crypto_pwhash_STRBYTES */

/* argon2id (libsodium crypto_pwhash_str, interactive limits). */
int auth_password_hash(const char *password, char out[AUTH_HASH_MAX], struct err *e) LT_MUST_CHECK;
/* 1 when password matches hash, 0 when not (or hash is not argon2id). Takes
 * the same time whether or not a user exists when given auth_dummy_hash()
 * for a missing user: a real argon2id hash of a random password made once
 * (on first use, one hash's time: call it at start-up), which never
 * matches. Each verification holds 64 MiB while it runs. */
int auth_password_verify(const char *hash, const char *password);
const char *auth_dummy_hash(void);
/* The password policy (VIETNAM.md §6, level 3): at least 14 characters
 * (UTF-8 code points), a letter and a digit, not containing the user name
 * (ASCII case-insensitive, when it has 3 characters or more); at most 1024
 * bytes. ERR_BAD_REQUEST with one issue per rule that fails. */
int auth_password_policy(const char *password, const char *user_name, struct err *e) LT_MUST_CHECK;

/* ---- TOTP (RFC 6238: HMAC-SHA1, 30 s steps, 6 digits) --------------------- */

#define AUTH_TOTP_SECRET_MAX 40		/* base32 text of 20 random bytes, NUL included */

int auth_totp_secret_new(char out[AUTH_TOTP_SECRET_MAX]) LT_MUST_CHECK;
/* The code for the step containing unix_s; ERR_BAD_REQUEST for bad base32. */
int auth_totp_code(const char *secret_b32, int64_t unix_s, char out[7], struct err *e) LT_MUST_CHECK;
/*
 * 1 when code is right for now_s's step or the one before or after, and
 * that step is later than *last_step (a code is accepted once); then
 * *last_step becomes its step. 0 otherwise (also when last_step is NULL).
 * Compared in constant time. Start *last_step at 0 for a new secret.
 */
int auth_totp_check(const char *secret_b32, const char *code, int64_t now_s, int64_t *last_step);
/* otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=ISSUER for authenticator
 * apps; issuer and account are percent-encoded. */
int auth_totp_uri(const char *secret_b32, const char *issuer, const char *account,
		  struct buf *out) LT_MUST_CHECK;

/* ---- Secrets ------------------------------------------------------------- */

/* n random bytes (OpenSSL RAND_bytes, 1 to 1024) as base64url text. */
int auth_random_token(size_t n_bytes, struct buf *out, struct err *e) LT_MUST_CHECK;
/* 1 when equal; time depends only on the lengths. */
int auth_ct_equal(const void *a, size_t an, const void *b, size_t bn);
/* SHA-256 of p as 64 lowercase hex digits (and NUL); "" if OpenSSL fails. */
void auth_sha256_hex(const void *p, size_t n, char out[65]);

/* ---- SMART on FHIR v2 scopes --------------------------------------------- */

/*
 * A scope string ("patient/Observation.rs user/Patient.cruds
 * system/Observation.read launch/patient openid fhirUser offline_access")
 * parsed; tokens are separated by spaces, duplicates kept once. Resource scopes
 * are CONTEXT/TYPE.PERMS: CONTEXT patient, user or system; TYPE a resource
 * type or '*'; PERMS SMART v2 letters in the order c r u d s (a subset), or
 * the v1 forms read (= rs), write (= cud) and '*' (= cruds). A v2 scope may
 * carry a query (patient/Observation.rs?category=laboratory): kept, and
 * enforced by the caller on search. Other tokens are kept as they are.
 */
#define AUTH_MAX_SCOPES 64
#define AUTH_PERM_C 1u
#define AUTH_PERM_R 2u
#define AUTH_PERM_U 4u
#define AUTH_PERM_D 8u
#define AUTH_PERM_S 16u

enum auth_context { AUTH_CTX_PATIENT = 1, AUTH_CTX_USER = 2, AUTH_CTX_SYSTEM = 3 };

struct auth_scope {
	enum auth_context context;	/* 0: not a resource scope */
	char type[64];			/* resource type, or "*" */
	unsigned perms;			/* AUTH_PERM_* */
	char query[128];		/* v2 ?query, "" when none */
	char text[256];			/* the token as given */
};

struct auth_scopes {
	struct auth_scope s[AUTH_MAX_SCOPES];
	int n;
};

/* ERR_BAD_REQUEST for a malformed resource scope (unknown context, a type
 * that is neither [A-Z][A-Za-z]* nor '*', empty or misordered permissions,
 * a query on a v1 scope), a character RFC 6749 §3.3 does not allow, a token
 * longer than 255 characters, or more than AUTH_MAX_SCOPES tokens. */
int auth_scopes_parse(const char *text, struct auth_scopes *out, struct err *e) LT_MUST_CHECK;
/* 1 when the resource scopes of context on type (an exact type or '*')
 * together grant every perm of perms (SMART scopes add up); 0 for perms 0.
 * A scope with a query grants nothing here: nothing applies queries yet,
 * and a type wholly readable would be more than it grants (fail closed). */
int auth_scopes_allow(const struct auth_scopes *s, enum auth_context context, const char *type,
		      unsigned perms);
/* 1 when the scopes include token exactly (e.g. "launch/patient"). */
int auth_scopes_has(const struct auth_scopes *s, const char *token);
/* The scopes of requested that granted allows (each requested resource
 * scope narrowed to what granted gives, and dropped when that is nothing;
 * others kept only when granted has them), as a space-separated string:
 * what a token may carry. Requested "system/Observation.cruds
 * system/Patient.rs" with rs granted on every system type gives
 * "system/Observation.rs system/Patient.rs". A scope left whole keeps the
 * client's spelling (a v1 ".read" stays ".read"); a narrowed one is written
 * in v2 letters; one that a wider scope of the answer covers is left out.
 * A query on either side is kept; two different queries give nothing. */
int auth_scopes_narrow(const struct auth_scopes *requested, const struct auth_scopes *granted,
		       struct buf *out) LT_MUST_CHECK;

/* ---- The authorization code grant (decision 0019) ------------------------- */

/* PKCE (RFC 7636), S256 only. A verifier is 43 to 128 characters of
 * [A-Za-z0-9-._~]; a challenge is the 43-character unpadded base64url of a
 * SHA-256. auth_pkce_s256_check is 1 when both are well formed and
 * BASE64URL(SHA256(verifier)) equals challenge (compared in constant time). */
int auth_pkce_verifier_valid(const char *verifier);
int auth_pkce_challenge_valid(const char *challenge);
int auth_pkce_s256_check(const char *verifier, const char *challenge);

/* Redirect URIs a client may register: https://host[:port]/..., or
 * http:// on localhost, 127.0.0.1 or [::1] (an app on the user's own
 * machine); no user name, no fragment, no space (so a list of them is
 * space-separated), shorter than AUTH_REDIRECT_URI_MAX. Returns why not,
 * or NULL when it may be registered. */
#define AUTH_REDIRECT_URI_MAX 512
const char *auth_redirect_uri_invalid(const char *uri);
/* "scheme://host[:port]" of a valid redirect URI into out; -1 if invalid
 * or out is too small. */
int auth_redirect_uri_origin(const char *uri, char *out, size_t n);
/* 1 when uri is, byte for byte, one of the space-separated list. */
int auth_redirect_uri_listed(const char *list, const char *uri);

/* *within = 1 when requested asks for nothing that granted does not give
 * (a refresh may narrow a grant, never widen it). Returns ERR_NOMEM or 0. */
int auth_scopes_within(const struct auth_scopes *requested, const struct auth_scopes *granted,
		       int *within) LT_MUST_CHECK;
/*
 * The scope an app gets for a user: each resource scope of requested,
 * narrowed by the client's registered scopes and then by the user's; of
 * the other tokens, offline_access (else online_access) when the client
 * is registered for it, and launch/patient when the grant has a patient
 * context (patient != 0) and the client is registered for it. Everything
 * else (openid, fhirUser, launch) is dropped: no id_token, no EHR launch
 * here. out may end up empty. ERR_BAD_REQUEST for a malformed scope.
 */
int auth_grant_scope(const char *requested, const char *client, const char *user, int patient,
		     struct buf *out, struct err *e) LT_MUST_CHECK;

#endif
