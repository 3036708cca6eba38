/*
 * auth_int.h — what the files of src/auth share and nobody else sees: the
 * layout of struct auth_key (key.c makes keys, jwt.c signs and checks with
 * them) and the JWS names of the algorithms.
 */
#ifndef LT_AUTH_AUTH_INT_H
#define LT_AUTH_AUTH_INT_H

#include <openssl/evp.h>
#include "auth.h"

struct auth_key {
	EVP_PKEY *pkey;			/* owned */
	enum auth_alg alg;
	int is_private;
	char kid[AUTH_KID_MAX + 1];
};

/* What each algorithm's keys are: how a JWK names them, the OpenSSL group,
 * the digest and the size of an ECDSA coordinate (key.c's table). */
struct auth_alg_info {
	enum auth_alg alg;
	const char *name;		/* JWS "alg" */
	const char *kty, *crv;		/* JWK; crv NULL for RSA */
	const char *group;		/* OpenSSL EC group name; NULL when not EC */
	const char *digest;		/* NULL: none (EdDSA hashes inside) */
	size_t coord;			/* bytes of an EC coordinate or an Ed25519 key; 0 for RSA */
};

/* NULL for an alg that is not in the table. */
const struct auth_alg_info *auth_alg_info(enum auth_alg alg);

#endif
