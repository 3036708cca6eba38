/*
 * key.c — signing keys: generation, PEM, public JWKs, JWKS documents and
 * RFC 7638 thumbprints. P-256 (ES256), Ed25519 (EdDSA), P-384 (ES384) and
 * RSA of 2048 to 8192 bits (RS384) are made or accepted, nothing else;
 * OpenSSL 3 provider APIs only (no EC_KEY, no RSA).
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

#define PEM_MAX_BYTES	 16384	/* an 8192-bit RSA private key PEM is about 6.5 KiB */
#define JWKS_MAX_BYTES	 65536
#define JWKS_MAX_DEPTH	 16
#define JWKS_MAX_ENTRIES 64
#define COORD_MAX	 48	/* P-384 coordinates; P-256 and Ed25519 have 32 bytes */
#define RSA_E_MAX	 8	/* public exponents are small (65537); OpenSSL wants < 2^256 */

static const struct auth_alg_info alg_table[] = {
	{ AUTH_ES256, "ES256", "EC", "P-256", "prime256v1", "SHA256", 32 },
	{ AUTH_EDDSA, "EdDSA", "OKP", "Ed25519", NULL, NULL, 32 },
	{ AUTH_ES384, "ES384", "EC", "P-384", "secp384r1", "SHA384", 48 },
	{ AUTH_RS384, "RS384", "RSA", NULL, NULL, "SHA384", 0 },
};

#define N_ALGS (sizeof(alg_table) / sizeof(alg_table[0]))

const struct auth_alg_info *auth_alg_info(enum auth_alg alg)
{
	for (size_t i = 0; i < N_ALGS; i++)
		if (alg_table[i].alg == alg)
			return &alg_table[i];
	return NULL;
}

const char *auth_alg_name(enum auth_alg alg)
{
	const struct auth_alg_info *ai = auth_alg_info(alg);

	return ai ? ai->name : NULL;
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

static int put_bytes(struct buf *b, const char *sep, const char *name, const unsigned char *p,
		     size_t n)
{
	struct buf t;
	int rc;

	buf_init(&t, 0);
	rc = auth_b64url_encode(p, n, &t);
	if (!rc)
		rc = put_member(b, sep, name, t.p);
	buf_release(&t);
	return rc;
}

/* The number param of the key as a base64url member: pad bytes long (an
 * EC coordinate), or without leading zeros when pad is 0 (RSA, RFC 7518
 * §6.3.1). */
static int put_number(struct buf *b, const char *sep, const char *name, EVP_PKEY *pkey,
		      const char *param, size_t pad)
{
	unsigned char bytes[AUTH_RSA_MAX_BITS / 8];
	BIGNUM *bn = NULL;
	int len = -1;

	if (EVP_PKEY_get_bn_param(pkey, param, &bn) == 1 &&
	    (size_t)BN_num_bytes(bn) <= (pad ? pad : sizeof(bytes)))
		len = pad ? BN_bn2binpad(bn, bytes, (int)pad) : BN_bn2bin(bn, bytes);
	BN_free(bn);
	if (len <= 0)
		return -1;
	return put_bytes(b, sep, name, bytes, (size_t)len);
}

/* The public numbers of k as JWK members, in lexicographic order: x (, y)
 * for curves; n for RSA (its e comes first, written by the caller). */
static int put_public(struct buf *b, const struct auth_key *k, const struct auth_alg_info *ai)
{
	unsigned char x[COORD_MAX];
	size_t len = sizeof(x);
	int rc;

	if (k->alg == AUTH_RS384)
		return put_number(b, ",", "n", k->pkey, OSSL_PKEY_PARAM_RSA_N, 0);
	if (k->alg == AUTH_EDDSA) {
		if (EVP_PKEY_get_raw_public_key(k->pkey, x, &len) != 1 || len != ai->coord)
			return -1;
		return put_bytes(b, ",", "x", x, len);
	}
	rc = put_number(b, ",", "x", k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, ai->coord);
	if (!rc)
		rc = put_number(b, ",", "y", k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, ai->coord);
	return rc;
}

/*
 * The public JWK. canonical: only the required members in lexicographic
 * order and no whitespace — the RFC 7638 thumbprint input (RFC 8037 §2 for
 * OKP). Otherwise the same members, then kid, alg and use.
 */
static int write_jwk(const struct auth_key *k, int canonical, struct buf *out, struct err *e)
{
	const struct auth_alg_info *ai = auth_alg_info(k->alg);
	int rc;

	if (k->alg == AUTH_RS384)	/* e < kty < n */
		rc = put_number(out, "{", "e", k->pkey, OSSL_PKEY_PARAM_RSA_E, 0);
	else				/* crv < kty < x < y */
		rc = put_member(out, "{", "crv", ai->crv);
	if (!rc)
		rc = put_member(out, ",", "kty", ai->kty);
	if (!rc)
		rc = put_public(out, k, ai);
	if (!rc && !canonical) {
		rc = put_member(out, ",", "kid", k->kid);
		if (!rc)
			rc = put_member(out, ",", "alg", ai->name);
		if (!rc)
			rc = put_member(out, ",", "use", "sig");
	}
	if (!rc)
		rc = buf_putc(out, '}');
	if (rc)
		return err_set(e, rc < 0 ? ERR_INTERNAL : rc, NULL, "cannot write the JWK");
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

/* Which alg a key is for (enum auth_alg), or 0. An RSA key outside
 * AUTH_RSA_MIN_BITS..AUTH_RSA_MAX_BITS is not for any. */
static enum auth_alg alg_of(EVP_PKEY *pkey)
{
	char group[64];
	size_t len = 0;

	if (EVP_PKEY_is_a(pkey, "ED25519"))
		return AUTH_EDDSA;
	/* "RSA" only: an RSA-PSS key is not an RS384 key */
	if (EVP_PKEY_is_a(pkey, "RSA"))
		return EVP_PKEY_get_bits(pkey) >= AUTH_RSA_MIN_BITS &&
			       EVP_PKEY_get_bits(pkey) <= AUTH_RSA_MAX_BITS
			       ? AUTH_RS384
			       : 0;
	if (!EVP_PKEY_is_a(pkey, "EC") ||
	    EVP_PKEY_get_group_name(pkey, group, sizeof(group), &len) != 1)
		return 0;
	for (size_t i = 0; i < N_ALGS; i++)
		if (alg_table[i].group && (strcmp(group, alg_table[i].group) == 0 ||
					   strcmp(group, alg_table[i].crv) == 0))
			return alg_table[i].alg;
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
			       "only P-256 (ES256), P-384 (ES384), Ed25519 (EdDSA) and RSA keys of "
			       "%d to %d bits (RS384) are supported", AUTH_RSA_MIN_BITS,
			       AUTH_RSA_MAX_BITS);
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
	const struct auth_alg_info *ai = auth_alg_info(alg);
	EVP_PKEY *pkey = NULL;

	if (!ai)
		return err_set(e, ERR_NOT_SUPPORTED, NULL, "unknown signature algorithm %d",
			       (int)alg);
	if (alg == AUTH_RS384)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)AUTH_RSA_MIN_BITS);
	else if (ai->group)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", ai->group);
	else
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
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

/* Members a public JWK never has: RSA and EC private parts (RFC 7518
 * §6.2.2, §6.3.2) and a symmetric key (§6.4.1). */
static const char *const private_members[] = { "d", "p", "q", "dp", "dq", "qi", "oth", "k" };

/* The base64url member name of jwk, decoded into b: exactly exact bytes,
 * or (exact 0: a number) 1 to max bytes. */
static int jwk_bytes(struct json_object *jwk, const char *name, size_t index, size_t exact,
		     size_t max, struct buf *b, struct err *e)
{
	const char *s = json_get_str(jwk, name);

	if (!s)
		return err_set(e, ERR_BAD_REQUEST, NULL, "JWKS key %zu: no \"%s\"", index, name);
	if (!auth_b64url_decode(s, strlen(s), b, NULL) &&
	    (exact ? b->n == exact : b->n >= 1 && b->n <= max))
		return 0;
	if (exact)
		return err_set(e, ERR_BAD_REQUEST, NULL,
			       "JWKS key %zu: \"%s\" is not %zu base64url-encoded bytes", index,
			       name, exact);
	return err_set(e, ERR_BAD_REQUEST, NULL,
		       "JWKS key %zu: \"%s\" is not a base64url number of at most %zu bytes", index,
		       name, max);
}

/*
 * A public key of type from the parameters in bld. An EC key must pass
 * OpenSSL's check (the point is on the curve). An RSA key does not go
 * through it: for RSA that check includes a Miller-Rabin test with random
 * bases, so the same malformed modulus could be accepted once and refused
 * the next time (fuzz_jwt found it); rsa_public_key's own rules are fixed.
 */
static EVP_PKEY *public_key_from(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL), *check = NULL;
	EVP_PKEY *pkey = NULL;

	if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1 &&
	    strcmp(type, "EC") == 0) {
		check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
		if (!check || EVP_PKEY_public_check(check) != 1) {
			EVP_PKEY_free(pkey);
			pkey = NULL;
		}
	}
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	ERR_clear_error();
	return pkey;
}

/* An EC public key of group from its affine coordinates (coord bytes each). */
static EVP_PKEY *ec_public_key(const char *group, const char *x, const char *y, size_t coord)
{
	unsigned char point[1 + 2 * COORD_MAX];
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY *pkey = NULL;

	point[0] = 0x04;	/* uncompressed (SEC 1 §2.3.3) */
	memcpy(point + 1, x, coord);
	memcpy(point + 1 + coord, y, coord);
	if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * coord))
		pkey = public_key_from("EC", bld);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

/*
 * An RSA public key from its modulus and exponent (big-endian), or NULL;
 * *bits gets the modulus size. The modulus must be odd, of 2048 to 8192
 * bits; the exponent odd and above 2^16, as SP 800-56B asks (OpenSSL
 * outside FIPS mode lets e = 3 pass, the exponent of the classic forgeries
 * against lax PKCS#1 v1.5 verifiers). Whether the modulus is a good one (a
 * product of two large primes) is its owner's business: a bad one lets
 * others sign as that client, never as anyone else.
 */
static EVP_PKEY *rsa_public_key(const struct buf *n, const struct buf *e, int *bits)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *bn = BN_bin2bn((const unsigned char *)n->p, (int)n->n, NULL);
	BIGNUM *be = BN_bin2bn((const unsigned char *)e->p, (int)e->n, NULL);
	EVP_PKEY *pkey = NULL;

	*bits = bn ? BN_num_bits(bn) : 0;
	if (bld && bn && be && BN_is_odd(bn) && BN_is_odd(be) && BN_num_bits(be) > 16 &&
	    *bits >= AUTH_RSA_MIN_BITS && *bits <= AUTH_RSA_MAX_BITS &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
		pkey = public_key_from("RSA", bld);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	return pkey;
}

/* The public key a JWK of a supported kind describes; one that is
 * malformed is an error. */
static int jwk_public_key(struct json_object *jwk, size_t index, const struct auth_alg_info *ai,
			  EVP_PKEY **out, struct err *e)
{
	/* a modulus may come with one leading zero byte (RFC 7518 §6.3.1.1 warns of it) */
	size_t max = ai->coord ? ai->coord : AUTH_RSA_MAX_BITS / 8 + 1;
	struct buf x, y;
	int bits = 0, rc;

	*out = NULL;
	buf_init(&x, 2 * max);
	buf_init(&y, 2 * max);
	if (ai->alg == AUTH_RS384) {
		rc = jwk_bytes(jwk, "n", index, 0, max, &x, e);
		if (!rc)
			rc = jwk_bytes(jwk, "e", index, 0, RSA_E_MAX, &y, e);
		if (!rc)
			*out = rsa_public_key(&x, &y, &bits);
	} else {
		rc = jwk_bytes(jwk, "x", index, ai->coord, 0, &x, e);
		if (!rc && ai->group)
			rc = jwk_bytes(jwk, "y", index, ai->coord, 0, &y, e);
		if (!rc && ai->group)
			*out = ec_public_key(ai->group, x.p, y.p, ai->coord);
		else if (!rc)
			*out = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
							   (const unsigned char *)x.p, ai->coord);
		ERR_clear_error();
	}
	buf_release(&x);
	buf_release(&y);
	if (rc || *out)
		return rc;
	if (ai->alg == AUTH_RS384 && (bits < AUTH_RSA_MIN_BITS || bits > AUTH_RSA_MAX_BITS))
		return err_set(e, ERR_BAD_REQUEST, NULL,
			       "JWKS key %zu: an RSA key of %d bits (%d to %d are accepted)", index,
			       bits, AUTH_RSA_MIN_BITS, AUTH_RSA_MAX_BITS);
	return err_set(e, ERR_BAD_REQUEST, NULL, "JWKS key %zu is not a valid %s key", index,
		       ai->crv ? ai->crv : "RSA");
}

/* The alg a JWK's kty (and crv, for curves) makes it, or NULL. */
static const struct auth_alg_info *jwk_kind(const char *kty, const char *crv)
{
	for (size_t i = 0; kty && i < N_ALGS; i++)
		if (strcmp(kty, alg_table[i].kty) == 0 &&
		    (!alg_table[i].crv || (crv && strcmp(crv, alg_table[i].crv) == 0)))
			return &alg_table[i];
	return NULL;
}

/*
 * One JWKS entry: *out stays NULL when the entry is not a signing key we
 * support (other kty or crv, "use" other than "sig", an "alg" other than the
 * one its kind implies); a supported key that is malformed, and any entry
 * with private parts, is an error.
 */
static int jwk_key(struct json_object *jwk, size_t index, struct auth_key **out, struct err *e)
{
	const char *kty = json_get_str(jwk, "kty"), *crv = json_get_str(jwk, "crv");
	const char *use = json_get_str(jwk, "use"), *alg = json_get_str(jwk, "alg");
	const struct auth_alg_info *ai = jwk_kind(kty, crv);
	struct json_object *member = NULL;
	const char *kid = NULL;
	EVP_PKEY *pkey;
	int rc;

	*out = NULL;
	if (!json_object_is_type(jwk, json_type_object))
		return err_set(e, ERR_BAD_REQUEST, NULL, "JWKS key %zu is not an object", index);
	for (size_t i = 0; i < sizeof(private_members) / sizeof(private_members[0]); i++)
		if (json_object_object_get_ex(jwk, private_members[i], &member))
			return err_set(e, ERR_BAD_REQUEST, NULL,
				       "JWKS key %zu has private key material (\"%s\"): a JWKS "
				       "holds public keys only", index, private_members[i]);
	if (!ai || (use && strcmp(use, "sig") != 0) || (alg && strcmp(alg, ai->name) != 0))
		return 0;
	if (json_object_object_get_ex(jwk, "kid", &member)) {
		kid = json_get_str(jwk, "kid");
		if (!kid)
			return err_set(e, ERR_BAD_REQUEST, NULL,
				       "JWKS key %zu: \"kid\" is not a string", index);
	}
	rc = jwk_public_key(jwk, index, ai, &pkey, e);
	if (rc)
		return rc;
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
			     "JWKS: no ES256, ES384, RS384 or EdDSA signing key");
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
