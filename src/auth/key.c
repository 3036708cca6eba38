/*
 * key.c — signing keys: generation, PEM, public JWKs, JWKS documents and
 * RFC 7638 thumbprints. Only P-256 (ES256) and Ed25519 (EdDSA) are made or
 * accepted; OpenSSL 3 provider APIs only (no EC_KEY).
 */
#include "auth_int.h"
#include "base/json.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#define PEM_MAX_BYTES	 16384	/* a P-256 or Ed25519 PEM is well under 1 KiB */
#define JWKS_MAX_BYTES	 65536
#define JWKS_MAX_DEPTH	 16
#define JWKS_MAX_ENTRIES 64
#define COORD_BYTES	 32	/* P-256 coordinates, Ed25519 public keys */

const char *auth_alg_name(enum auth_alg alg)
{
	switch (alg) {
	case AUTH_ES256:
		return "ES256";
	case AUTH_EDDSA:
		return "EdDSA";
	}
	return NULL;
}

/* A kid goes into JOSE headers and JWKS documents: printable ASCII only. */
static int check_kid(const char *kid, struct err *e)
{
	size_t n = strlen(kid);

	if (n == 0 || n > AUTH_KID_MAX)
		return err_set(e, ERR_BAD_REQUEST, NULL, "key id must be 1 to %d characters",
			       AUTH_KID_MAX);
	for (size_t i = 0; i < n; i++)
		if (kid[i] < 0x20 || kid[i] > 0x7e)
			return err_set(e, ERR_BAD_REQUEST, NULL,
				       "key id must be printable ASCII (byte %zu is not)", i);
	return 0;
}

/* The public key as raw bytes: x and y for P-256, x alone for Ed25519. */
static int key_coords(const struct auth_key *k, unsigned char x[COORD_BYTES],
		      unsigned char y[COORD_BYTES])
{
	BIGNUM *bx = NULL, *by = NULL;
	size_t len = COORD_BYTES;
	int ok = 0;

	if (k->alg == AUTH_EDDSA)
		return EVP_PKEY_get_raw_public_key(k->pkey, x, &len) == 1 && len == COORD_BYTES ? 0
											 : -1;
	if (EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx) == 1 &&
	    EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &by) == 1 &&
	    BN_bn2binpad(bx, x, COORD_BYTES) == COORD_BYTES &&
	    BN_bn2binpad(by, y, COORD_BYTES) == COORD_BYTES)
		ok = 1;
	BN_free(bx);
	BN_free(by);
	return ok ? 0 : -1;
}

static int put_member(struct buf *b, const char *sep, const char *name, const char *value)
{
	int rc = buf_puts(b, sep);

	if (!rc)
		rc = json_write_string(b, name);
	if (!rc)
		rc = buf_putc(b, ':');
	if (!rc)
		rc = json_write_string(b, value);
	return rc;
}

static int put_coord(struct buf *b, const char *name, const unsigned char *p)
{
	struct buf t;
	int rc;

	buf_init(&t, 0);
	rc = auth_b64url_encode(p, COORD_BYTES, &t);
	if (!rc)
		rc = put_member(b, ",", name, t.p);
	buf_release(&t);
	return rc;
}

/*
 * The public JWK. canonical: only the required members in lexicographic
 * order and no whitespace — the RFC 7638 thumbprint input (RFC 8037 §2 for
 * OKP). Otherwise the full JWK with kid, alg and use.
 */
static int write_jwk(const struct auth_key *k, int canonical, struct buf *out, struct err *e)
{
	unsigned char x[COORD_BYTES], y[COORD_BYTES];
	int ec = k->alg == AUTH_ES256, rc;

	if (key_coords(k, x, y))
		return err_set(e, ERR_INTERNAL, NULL, "cannot read the public key");
	if (canonical)
		rc = put_member(out, "{", "crv", ec ? "P-256" : "Ed25519");
	else
		rc = put_member(out, "{", "kty", ec ? "EC" : "OKP");
	if (!rc && canonical)
		rc = put_member(out, ",", "kty", ec ? "EC" : "OKP");
	if (!rc && !canonical)
		rc = put_member(out, ",", "crv", ec ? "P-256" : "Ed25519");
	if (!rc)
		rc = put_coord(out, "x", x);
	if (!rc && ec)
		rc = put_coord(out, "y", y);
	if (!rc && !canonical) {
		rc = put_member(out, ",", "kid", k->kid);
		if (!rc)
			rc = put_member(out, ",", "alg", auth_alg_name(k->alg));
		if (!rc)
			rc = put_member(out, ",", "use", "sig");
	}
	if (!rc)
		rc = buf_putc(out, '}');
	if (rc)
		return err_set(e, rc, NULL, "cannot write the JWK");
	return 0;
}

/* kid NULL: the base64url SHA-256 of the canonical JWK (RFC 7638). */
static int set_kid(struct auth_key *k, const char *kid, struct err *e)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdn = 0;
	struct buf canon, enc;
	int rc;

	if (kid) {
		rc = check_kid(kid, e);
		if (!rc)
			memcpy(k->kid, kid, strlen(kid) + 1);
		return rc;
	}
	buf_init(&canon, 0);
	buf_init(&enc, 0);
	rc = write_jwk(k, 1, &canon, e);
	if (rc)
		goto out;
	if (!EVP_Digest(canon.p, canon.n, md, &mdn, EVP_sha256(), NULL)) {
		rc = err_set(e, ERR_INTERNAL, NULL, "SHA-256 failed");
		goto out;
	}
	rc = auth_b64url_encode(md, mdn, &enc);
	if (rc || enc.n > AUTH_KID_MAX) {
		rc = err_set(e, rc ? rc : ERR_INTERNAL, NULL, "cannot write the key thumbprint");
		goto out;
	}
	memcpy(k->kid, enc.p, enc.n + 1);
out:
	buf_release(&canon);
	buf_release(&enc);
	return rc;
}

/* Which alg a key is for: P-256 → ES256, Ed25519 → EdDSA, else 0. */
static enum auth_alg alg_of(EVP_PKEY *pkey)
{
	char group[64];
	size_t len = 0;

	if (EVP_PKEY_is_a(pkey, "ED25519"))
		return AUTH_EDDSA;
	if (EVP_PKEY_is_a(pkey, "EC") &&
	    EVP_PKEY_get_group_name(pkey, group, sizeof(group), &len) == 1 &&
	    (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0))
		return AUTH_ES256;
	return 0;
}

/* Wraps pkey (taken, freed on failure) in a new struct auth_key. */
static int key_wrap(EVP_PKEY *pkey, int is_private, const char *kid, struct auth_key **out,
		    struct err *e)
{
	enum auth_alg alg = alg_of(pkey);
	struct auth_key *k;
	int rc;

	if (!alg) {
		EVP_PKEY_free(pkey);
		return err_set(e, ERR_NOT_SUPPORTED, NULL,
			       "only P-256 (ES256) and Ed25519 (EdDSA) keys are supported");
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		EVP_PKEY_free(pkey);
		return err_set(e, ERR_NOMEM, NULL, "out of memory for a key");
	}
	k->pkey = pkey;
	k->alg = alg;
	k->is_private = is_private;
	rc = set_kid(k, kid, e);
	if (rc) {
		auth_key_free(k);
		return rc;
	}
	*out = k;
	return 0;
}

int auth_key_generate(enum auth_alg alg, const char *kid, struct auth_key **out, struct err *e)
{
	EVP_PKEY *pkey = NULL;

	if (alg == AUTH_ES256)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (alg == AUTH_EDDSA)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else
		return err_set(e, ERR_NOT_SUPPORTED, NULL, "unknown signature algorithm %d",
			       (int)alg);
	if (!pkey) {
		ERR_clear_error();
		return err_set(e, ERR_INTERNAL, NULL, "key generation failed");
	}
	return key_wrap(pkey, 1, kid, out, e);
}

/* Never ask for a passphrase (OpenSSL's default would read the terminal). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

int auth_key_from_pem(const char *pem, size_t n, const char *kid, struct auth_key **out,
		      struct err *e)
{
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	int is_private = 1;

	if (n > PEM_MAX_BYTES)
		return err_set(e, ERR_TOO_LARGE, NULL, "PEM text longer than %d bytes",
			       PEM_MAX_BYTES);
	if (memmem(pem, n, "ENCRYPTED", 9))
		return err_set(e, ERR_NOT_SUPPORTED, NULL, "encrypted PEM keys are not supported");
	bio = BIO_new_mem_buf(pem, (int)n);
	if (bio)
		pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (bio && !pkey) {
		BIO_free(bio);
		is_private = 0;
		bio = BIO_new_mem_buf(pem, (int)n);
		if (bio)
			pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
	}
	BIO_free(bio);
	ERR_clear_error();
	if (!pkey)
		return err_set(e, ERR_BAD_REQUEST, NULL,
			       "no private or public key in the PEM text");
	return key_wrap(pkey, is_private, kid, out, e);
}

int auth_key_private_pem(const struct auth_key *k, struct buf *out, struct err *e)
{
	BIO *bio = NULL;
	char *p = NULL;
	long len;
	int rc = 0;

	if (!k->is_private)
		return err_set(e, ERR_USAGE, NULL, "a public key has no private PEM");
	/* secure memory: the BIO's buffer is wiped when freed */
	bio = BIO_new(BIO_s_secmem());
	if (!bio || PEM_write_bio_PKCS8PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL) != 1) {
		rc = err_set(e, ERR_INTERNAL, NULL, "cannot write the private key");
		goto out;
	}
	len = BIO_get_mem_data(bio, &p);
	if (len <= 0 || buf_append(out, p, (size_t)len)) {
		rc = err_set(e, len <= 0 ? ERR_INTERNAL : ERR_NOMEM, NULL,
			     "cannot write the private key");
		goto out;
	}
out:
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}

int auth_key_public_jwk(const struct auth_key *k, struct buf *out, struct err *e)
{
	return write_jwk(k, 0, out, e);
}

/* ---- JWKS ------------------------------------------------------------------ */

/* The base64url member name of jwk, exactly COORD_BYTES long, into p. */
static int jwk_coord(struct json_object *jwk, const char *name, size_t index,
		     unsigned char p[COORD_BYTES], struct err *e)
{
	const char *s = json_get_str(jwk, name);
	struct buf b;
	int rc;

	if (!s)
		return err_set(e, ERR_BAD_REQUEST, NULL, "JWKS key %zu: no \"%s\"", index, name);
	buf_init(&b, 2 * COORD_BYTES);
	rc = auth_b64url_decode(s, strlen(s), &b, NULL);
	if (rc || b.n != COORD_BYTES) {
		buf_release(&b);
		return err_set(e, ERR_BAD_REQUEST, NULL,
			       "JWKS key %zu: \"%s\" is not %d base64url-encoded bytes", index,
			       name, COORD_BYTES);
	}
	memcpy(p, b.p, COORD_BYTES);
	buf_release(&b);
	return 0;
}

/* A P-256 public key from its affine coordinates; checked to be on the curve. */
static EVP_PKEY *ec_public_key(const unsigned char x[COORD_BYTES],
			       const unsigned char y[COORD_BYTES])
{
	unsigned char point[1 + 2 * COORD_BYTES];
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *check = NULL;
	EVP_PKEY *pkey = NULL;

	point[0] = 0x04;	/* uncompressed (SEC 1 §2.3.3) */
	memcpy(point + 1, x, COORD_BYTES);
	memcpy(point + 1 + COORD_BYTES, y, COORD_BYTES);
	bld = OSSL_PARAM_BLD_new();
	if (!bld ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (!check || EVP_PKEY_public_check(check) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
out:
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	ERR_clear_error();
	return pkey;
}

/*
 * One JWKS entry: *out stays NULL when the entry is not a signing key we
 * support (other kty or crv, "use" other than "sig", an "alg" other than the
 * one its curve implies); a supported key that is malformed is an error.
 */
static int jwk_key(struct json_object *jwk, size_t index, struct auth_key **out, struct err *e)
{
	const char *kty = json_get_str(jwk, "kty"), *crv = json_get_str(jwk, "crv");
	const char *use = json_get_str(jwk, "use"), *alg = json_get_str(jwk, "alg");
	unsigned char x[COORD_BYTES], y[COORD_BYTES];
	struct json_object *kid_obj = NULL;
	const char *kid = NULL;
	enum auth_alg want;
	EVP_PKEY *pkey;
	int rc;

	*out = NULL;
	if (!json_object_is_type(jwk, json_type_object))
		return err_set(e, ERR_BAD_REQUEST, NULL, "JWKS key %zu is not an object", index);
	if (!kty || !crv)
		return 0;
	if (strcmp(kty, "EC") == 0 && strcmp(crv, "P-256") == 0)
		want = AUTH_ES256;
	else if (strcmp(kty, "OKP") == 0 && strcmp(crv, "Ed25519") == 0)
		want = AUTH_EDDSA;
	else
		return 0;
	if ((use && strcmp(use, "sig") != 0) || (alg && strcmp(alg, auth_alg_name(want)) != 0))
		return 0;
	if (json_object_object_get_ex(jwk, "kid", &kid_obj)) {
		kid = json_get_str(jwk, "kid");
		if (!kid)
			return err_set(e, ERR_BAD_REQUEST, NULL,
				       "JWKS key %zu: \"kid\" is not a string", index);
	}
	rc = jwk_coord(jwk, "x", index, x, e);
	if (rc)
		return rc;
	if (want == AUTH_ES256) {
		rc = jwk_coord(jwk, "y", index, y, e);
		if (rc)
			return rc;
		pkey = ec_public_key(x, y);
	} else {
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, COORD_BYTES);
		ERR_clear_error();
	}
	if (!pkey)
		return err_set(e, ERR_BAD_REQUEST, NULL, "JWKS key %zu is not a valid %s key",
			       index, crv);
	return key_wrap(pkey, 0, kid, out, e);
}

int auth_jwks_parse(const char *json, size_t n, struct auth_key ***keys, size_t *n_keys,
		    struct err *e)
{
	struct json_object *doc = NULL, *arr = NULL;
	struct auth_key **got = NULL;
	struct err parse_err = { 0 };
	size_t count = 0, len;
	int rc;

	if (n > JWKS_MAX_BYTES)
		return err_set(e, ERR_TOO_LARGE, NULL, "JWKS document longer than %d bytes",
			       JWKS_MAX_BYTES);
	rc = json_parse(json, n, JWKS_MAX_DEPTH, &doc, &parse_err);
	if (rc) {
		rc = err_set(e, ERR_BAD_REQUEST, NULL, "JWKS: %s",
			     parse_err.n_issues ? parse_err.issue[0].diagnostics : "not JSON");
		goto out;
	}
	if (!json_object_object_get_ex(doc, "keys", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		rc = err_set(e, ERR_BAD_REQUEST, NULL, "JWKS: no \"keys\" array");
		goto out;
	}
	len = json_object_array_length(arr);
	if (len > JWKS_MAX_ENTRIES) {
		rc = err_set(e, ERR_TOO_LARGE, NULL, "JWKS: more than %d keys", JWKS_MAX_ENTRIES);
		goto out;
	}
	got = calloc(len ? len : 1, sizeof(*got));
	if (!got) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory for JWKS");
		goto out;
	}
	for (size_t i = 0; i < len; i++) {
		struct auth_key *k = NULL;

		rc = jwk_key(json_object_array_get_idx(arr, i), i, &k, e);
		if (rc)
			goto out;
		if (!k)
			continue;
		for (size_t j = 0; j < count; j++) {
			if (strcmp(got[j]->kid, k->kid) == 0) {
				auth_key_free(k);
				rc = err_set(e, ERR_BAD_REQUEST, NULL,
					     "JWKS key %zu: kid already used by another key", i);
				goto out;
			}
		}
		got[count++] = k;
	}
	if (count == 0) {
		rc = err_set(e, ERR_BAD_REQUEST, NULL,
			     "JWKS: no P-256 (ES256) or Ed25519 (EdDSA) signing key");
		goto out;
	}
	*keys = got;
	*n_keys = count;
	got = NULL;
out:
	auth_keys_free(got, count);
	json_object_put(doc);
	return rc;
}

/* ---- Accessors ------------------------------------------------------------- */

const char *auth_key_kid(const struct auth_key *k)
{
	return k->kid;
}

enum auth_alg auth_key_alg(const struct auth_key *k)
{
	return k->alg;
}

int auth_key_is_private(const struct auth_key *k)
{
	return k->is_private;
}

void auth_key_free(struct auth_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

void auth_keys_free(struct auth_key **keys, size_t n)
{
	if (!keys)
		return;
	for (size_t i = 0; i < n; i++)
		auth_key_free(keys[i]);
	free(keys);
}
