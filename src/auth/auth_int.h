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

/* "ES256" or "EdDSA" (the JWS "alg" value), NULL for anything else. */
const char *auth_alg_name(enum auth_alg alg);

#endif
