/* secret.c — random tokens, constant-time comparison, SHA-256 (OpenSSL). */
#include "auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define RANDOM_TOKEN_MAX_BYTES 1024

int auth_random_token(size_t n_bytes, struct buf *out, struct err *e)
{
	unsigned char b[RANDOM_TOKEN_MAX_BYTES];
	int rc;

	if (n_bytes == 0 || n_bytes > sizeof(b))
		return err_set(e, ERR_USAGE, NULL, "a random token is 1 to %d bytes",
			       RANDOM_TOKEN_MAX_BYTES);
	if (RAND_bytes(b, (int)n_bytes) != 1)
		return err_set(e, ERR_INTERNAL, NULL, "the random generator failed");
	rc = auth_b64url_encode(b, n_bytes, out);
	OPENSSL_cleanse(b, n_bytes);
	if (rc)
		return err_set(e, rc, NULL, "cannot write the random token");
	return 0;
}

int auth_ct_equal(const void *a, size_t an, const void *b, size_t bn)
{
	if (an != bn)
		return 0;
	return an == 0 || CRYPTO_memcmp(a, b, an) == 0;
}

/* On the (out-of-memory) failure of the digest, out is "": it matches no
 * real digest. */
void auth_sha256_hex(const void *p, size_t n, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdn = 0;

	if (!EVP_Digest(p, n, md, &mdn, EVP_sha256(), NULL) || mdn != 32) {
		out[0] = '\0';
		return;
	}
	for (unsigned int i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}
