/*
 * keyring.h — the server's token-signing keys, one PEM file each in a
 * directory (DATA/keys/signing, mode 0700; files 0600). A key's kid is its
 * creation time and a random suffix ("20261123T101500Z-3fa9c1"), so the
 * newest key, by name, is the one that signs; older keys stay to verify
 * the tokens they signed until an administrator removes their files.
 * Rotation: `lienthong key rotate` adds a key; a running server sees the
 * directory change and loads the keys again within a second (api/auth.c,
 * decision 0018).
 */
#ifndef LT_AUTH_KEYRING_H
#define LT_AUTH_KEYRING_H

#include "auth.h"

struct auth_keyring;

/* Loads every *.pem of dir. With create, makes dir and a first ES256 key
 * when there is none; without, no key is ERR_CONFIG. */
int auth_keyring_open(const char *dir, int create, struct auth_keyring **out,
		      struct err *e) LT_MUST_CHECK;
void auth_keyring_free(struct auth_keyring *kr);
/* Writes a new key of alg into dir (created if missing); its kid into kid. */
int auth_keyring_add(const char *dir, enum auth_alg alg, char kid[AUTH_KID_MAX + 1],
		     struct err *e) LT_MUST_CHECK;
/* The key that signs: the newest. */
const struct auth_key *auth_keyring_signer(const struct auth_keyring *kr);
/* Every key, for verification. */
struct auth_key *const *auth_keyring_keys(const struct auth_keyring *kr, size_t *n);
/* {"keys": [public JWKs]}, for /.well-known/jwks.json. */
int auth_keyring_jwks(const struct auth_keyring *kr, struct buf *out, struct err *e) LT_MUST_CHECK;

#endif
