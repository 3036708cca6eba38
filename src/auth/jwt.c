/*
 * jwt.c — compact JWS (RFC 7515) carrying JWT claims (RFC 7519), ES256,
 * EdDSA, ES384 and RS384 only, following the JWT best current practice
 * (RFC 8725): the key decides the algorithm, never the token; the
 * signature is checked before any claim is trusted; nothing in the header
 * (jku, jwk, x5u, x5c) can bring its own key.
 */
#include "auth_int.h"
#include "base/json.h"

#include <math.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <string.h>

#define JWT_MAX_BYTES		8192
#define JWT_HEADER_MAX_DEPTH	4	/* the header is flat; "crit" is an array */
#define JWT_CLAIMS_MAX_DEPTH	16	/* SMART claims nest a little (fhirContext) */
#define SIG_MAX			(AUTH_RSA_MAX_BITS / 8)	/* the largest: RS384 */

/* ---- Raw signatures --------------------------------------------------------- */

/* The JWS signature size of k: r||s for ECDSA, 64 for Ed25519, the
 * modulus size for RSA. */
static size_t sig_size(const struct auth_key *k)
{
	if (k->alg == AUTH_RS384)
		return (size_t)EVP_PKEY_get_size(k->pkey);
	return 2 * auth_alg_info(k->alg)->coord;
}

/* A digest context for k: its hash (none for EdDSA), PKCS#1 v1.5 padding
 * for RSA (OpenSSL's default, said aloud so that it never becomes PSS). */
static int digest_init(EVP_MD_CTX *ctx, const struct auth_key *k, int sign)
{
	const char *md = auth_alg_info(k->alg)->digest;
	EVP_PKEY_CTX *pctx = NULL;
	int ok = sign ? EVP_DigestSignInit_ex(ctx, &pctx, md, NULL, NULL, k->pkey, NULL)
		      : EVP_DigestVerifyInit_ex(ctx, &pctx, md, NULL, NULL, k->pkey, NULL);

	if (ok == 1 && k->alg == AUTH_RS384)
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING);
	return ok == 1;
}

/* Signs data with k into sig (SIG_MAX bytes, the JWS form); the size, or 0. */
static size_t sign_raw(const struct auth_key *k, const void *data, size_t n,
		       unsigned char sig[SIG_MAX])
{
	unsigned char der[SIG_MAX];
	const unsigned char *dp = der;
	size_t len = sizeof(der), half = auth_alg_info(k->alg)->coord, out = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	ECDSA_SIG *es = NULL;
	const BIGNUM *r, *s;

	if (!ctx || !digest_init(ctx, k, 1) || EVP_DigestSign(ctx, der, &len, data, n) != 1)
		goto out;
	if (k->alg == AUTH_EDDSA || k->alg == AUTH_RS384) {
		if (len == sig_size(k)) {
			memcpy(sig, der, len);
			out = len;
		}
		goto out;
	}
	/* OpenSSL gives DER (SEQUENCE of two INTEGERs); JWS wants r||s (RFC 7518 §3.4) */
	es = d2i_ECDSA_SIG(NULL, &dp, (long)len);
	if (!es)
		goto out;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, sig, (int)half) == (int)half &&
	    BN_bn2binpad(s, sig + half, (int)half) == (int)half)
		out = 2 * half;
out:
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return out;
}

/* 1 when sig (the JWS form) is k's signature of data. */
static int verify_raw(const struct auth_key *k, const void *data, size_t n,
		      const unsigned char *sig, size_t sig_n)
{
	size_t half = sig_n / 2;
	EVP_MD_CTX *ctx = NULL;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *der = NULL;
	const unsigned char *check = sig;
	size_t check_n = sig_n;
	int ok = 0;

	if (sig_n != sig_size(k))
		goto out;
	if (k->alg == AUTH_ES256 || k->alg == AUTH_ES384) {
		int der_n;

		es = ECDSA_SIG_new();
		r = BN_bin2bn(sig, (int)half, NULL);
		s = BN_bin2bn(sig + half, (int)half, NULL);
		if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1)
			goto out;
		r = s = NULL;	/* es owns them now */
		der_n = i2d_ECDSA_SIG(es, &der);
		if (der_n <= 0)
			goto out;
		check = der;
		check_n = (size_t)der_n;
	}
	ctx = EVP_MD_CTX_new();
	ok = ctx && digest_init(ctx, k, 0) && EVP_DigestVerify(ctx, check, check_n, data, n) == 1;
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	BN_free(r);
	BN_free(s);
	ERR_clear_error();
	return ok;
}

/* ---- Signing ------------------------------------------------------------------ */

int auth_jwt_sign(const struct auth_key *k, const char *claims_json, struct buf *out,
		  struct err *e)
{
	struct json_object *claims = NULL;
	struct buf header, input;
	unsigned char sig[SIG_MAX];
	size_t n = strlen(claims_json), sig_n;
	int rc;

	if (!k->is_private)
		return err_set(e, ERR_USAGE, NULL, "cannot sign with a public key");
	rc = json_parse(claims_json, n, JWT_CLAIMS_MAX_DEPTH, &claims, e);
	if (rc)
		return rc;
	if (!json_object_is_type(claims, json_type_object)) {
		json_object_put(claims);
		return err_set(e, ERR_USAGE, NULL, "JWT claims must be a JSON object");
	}
	json_object_put(claims);

	buf_init(&header, 0);
	buf_init(&input, 0);
	rc = buf_printf(&header, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":", auth_alg_name(k->alg));
	if (!rc)
		rc = json_write_string(&header, k->kid);
	if (!rc)
		rc = buf_putc(&header, '}');
	if (!rc)
		rc = auth_b64url_encode(header.p, header.n, &input);
	if (!rc)
		rc = buf_putc(&input, '.');
	if (!rc)
		rc = auth_b64url_encode(claims_json, n, &input);
	if (rc) {
		rc = err_set(e, rc, NULL, "cannot write the JWT");
		goto out;
	}
	sig_n = sign_raw(k, input.p, input.n, sig);
	if (!sig_n) {
		rc = err_set(e, ERR_INTERNAL, NULL, "signing failed");
		goto out;
	}
	rc = buf_append(out, input.p, input.n);
	if (!rc)
		rc = buf_putc(out, '.');
	if (!rc)
		rc = auth_b64url_encode(sig, sig_n, out);
	if (rc)
		rc = err_set(e, rc, NULL, "cannot write the JWT");
out:
	buf_release(&header);
	buf_release(&input);
	return rc;
}

/* ---- Verification --------------------------------------------------------------- */

static int refuse(struct err *e, const char *why)
{
	return err_set(e, ERR_UNAUTHORIZED, NULL, "JWT refused: %s", why);
}

/* Decodes one base64url part and parses it as a JSON object. */
static int decode_object(const char *p, size_t n, int depth, struct json_object **out)
{
	struct buf b;
	int rc;

	*out = NULL;
	buf_init(&b, JWT_MAX_BYTES);
	rc = auth_b64url_decode(p, n, &b, NULL);
	if (!rc && b.n)
		rc = json_parse(b.p, b.n, depth, out, NULL);
	buf_release(&b);
	if (!rc && !json_object_is_type(*out, json_type_object))
		rc = -1;
	if (rc) {
		json_object_put(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/*
 * The key the header names: by kid, or without kid the single key of the
 * header's alg. The caller still checks that the alg is the key's.
 */
static int select_key(struct json_object *hdr, const char *alg, struct auth_key *const *keys,
		      size_t n_keys, const struct auth_key **out, struct err *e)
{
	struct json_object *kid_obj;
	const struct auth_key *found = NULL;
	size_t matches = 0;

	if (json_object_object_get_ex(hdr, "kid", &kid_obj)) {
		const char *kid = json_get_str(hdr, "kid");
		if (!kid)
			return refuse(e, "header kid is not a string");
		for (size_t i = 0; i < n_keys; i++) {
			if (strcmp(keys[i]->kid, kid) == 0) {
				found = keys[i];
				matches++;
			}
		}
		if (matches == 0)
			return refuse(e, "header kid names no known key");
	} else {
		for (size_t i = 0; i < n_keys; i++) {
			const char *name = auth_alg_name(keys[i]->alg);
			if (name && strcmp(name, alg) == 0) {
				found = keys[i];
				matches++;
			}
		}
		if (matches == 0)
			return refuse(e, "no kid in the header and no key for its alg");
	}
	if (matches > 1)
		return refuse(e, "more than one key could be meant (kid ambiguous or missing)");
	*out = found;
	return 0;
}

/* A NumericDate: 1 and *v when present, 0 when absent, -1 when not a number.
 * Fractions round towards refusal: down for exp, up for nbf and iat. */
static int numeric_date(struct json_object *claims, const char *name, int round_up, int64_t *v)
{
	struct json_object *o;

	if (!json_object_object_get_ex(claims, name, &o))
		return 0;
	if (json_object_is_type(o, json_type_int)) {
		*v = json_object_get_int64(o);
		return 1;
	}
	if (json_object_is_type(o, json_type_double)) {
		double d = json_object_get_double(o);
		d = round_up ? ceil(d) : floor(d);
		if (!(d > -9.0e18 && d < 9.0e18))
			return -1;
		*v = (int64_t)d;
		return 1;
	}
	return -1;
}

static int64_t add_sat(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static int audience_matches(struct json_object *claims, const char *audience)
{
	struct json_object *aud;

	if (!json_object_object_get_ex(claims, "aud", &aud))
		return 0;
	if (json_object_is_type(aud, json_type_string))
		return strcmp(json_object_get_string(aud), audience) == 0;
	if (!json_object_is_type(aud, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(aud); i++) {
		struct json_object *a = json_object_array_get_idx(aud, i);
		if (json_object_is_type(a, json_type_string) &&
		    strcmp(json_object_get_string(a), audience) == 0)
			return 1;
	}
	return 0;
}

static int check_claims(struct json_object *claims, const struct auth_jwt_check *chk,
			struct err *e)
{
	int64_t leeway = chk->leeway_s > 0 ? chk->leeway_s : 0, t = 0;
	int64_t earliest = add_sat(chk->now_s, -leeway), latest = add_sat(chk->now_s, leeway);
	const char *iss;
	int has;

	has = numeric_date(claims, "exp", 0, &t);
	if (has < 0)
		return refuse(e, "exp is not a number");
	if (has == 0)
		return refuse(e, "no exp claim");
	if (t <= earliest)
		return refuse(e, "expired (exp)");
	has = numeric_date(claims, "nbf", 1, &t);
	if (has < 0)
		return refuse(e, "nbf is not a number");
	if (has && t > latest)
		return refuse(e, "not valid yet (nbf)");
	has = numeric_date(claims, "iat", 1, &t);
	if (has < 0)
		return refuse(e, "iat is not a number");
	if (has && t > latest)
		return refuse(e, "issued in the future (iat)");
	if (chk->audience && !audience_matches(claims, chk->audience))
		return refuse(e, "audience does not match (aud)");
	if (chk->issuer) {
		iss = json_get_str(claims, "iss");
		if (!iss || strcmp(iss, chk->issuer) != 0)
			return refuse(e, "issuer does not match (iss)");
	}
	return 0;
}

/* The two dots of a compact JWS of at most JWT_MAX_BYTES. */
static int split(const char *token, size_t n, const char **dot1, const char **dot2, struct err *e)
{
	if (n == 0 || n > JWT_MAX_BYTES)
		return refuse(e, "empty, or longer than 8192 bytes");
	*dot1 = memchr(token, '.', n);
	*dot2 = *dot1 ? memchr(*dot1 + 1, '.', n - (size_t)(*dot1 + 1 - token)) : NULL;
	if (!*dot2 || memchr(*dot2 + 1, '.', n - (size_t)(*dot2 + 1 - token)))
		return refuse(e, "not a compact JWS (three dot-separated parts)");
	return 0;
}

int auth_jwt_claims_unverified(const char *token, size_t n, struct json_object **claims,
			       struct err *e)
{
	const char *dot1 = NULL, *dot2 = NULL;
	int rc = split(token, n, &dot1, &dot2, e);

	*claims = NULL;
	if (rc)
		return rc;
	if (decode_object(dot1 + 1, (size_t)(dot2 - dot1 - 1), JWT_CLAIMS_MAX_DEPTH, claims))
		return refuse(e, "claims are not a base64url JSON object");
	return 0;
}

int auth_jwt_verify(const char *token, size_t n, struct auth_key *const *keys, size_t n_keys,
		    const struct auth_jwt_check *chk, struct json_object **claims,
		    struct err *e)
{
	const char *dot1 = NULL, *dot2 = NULL, *alg;
	struct json_object *hdr = NULL, *body = NULL, *unused;
	const struct auth_key *k = NULL;
	struct buf sig;
	int rc;

	if (!chk)
		return err_set(e, ERR_USAGE, NULL, "auth_jwt_verify needs its checks");
	rc = split(token, n, &dot1, &dot2, e);
	if (rc)
		return rc;

	buf_init(&sig, JWT_MAX_BYTES);
	if (decode_object(token, (size_t)(dot1 - token), JWT_HEADER_MAX_DEPTH, &hdr)) {
		rc = refuse(e, "header is not a base64url JSON object");
		goto out;
	}
	alg = json_get_str(hdr, "alg");
	if (!alg) {
		rc = refuse(e, "header has no alg");
		goto out;
	}
	/* we implement no JWS extension, so any critical one must be refused (RFC 7515 §4.1.11) */
	if (json_object_object_get_ex(hdr, "crit", &unused)) {
		rc = refuse(e, "header has crit extensions");
		goto out;
	}
	rc = select_key(hdr, alg, keys, n_keys, &k, e);
	if (rc)
		goto out;
	if (strcmp(alg, auth_alg_name(k->alg)) != 0) {
		rc = refuse(e, "header alg is not the key's alg");
		goto out;
	}
	if (auth_b64url_decode(dot2 + 1, n - (size_t)(dot2 + 1 - token), &sig, NULL) ||
	    !verify_raw(k, token, (size_t)(dot2 - token), (const unsigned char *)sig.p, sig.n)) {
		rc = refuse(e, "signature does not verify");
		goto out;
	}
	if (decode_object(dot1 + 1, (size_t)(dot2 - dot1 - 1), JWT_CLAIMS_MAX_DEPTH, &body)) {
		rc = refuse(e, "claims are not a base64url JSON object");
		goto out;
	}
	rc = check_claims(body, chk, e);
	if (rc)
		goto out;
	if (claims) {
		*claims = body;
		body = NULL;
	}
out:
	buf_release(&sig);
	json_object_put(hdr);
	json_object_put(body);
	return rc;
}
