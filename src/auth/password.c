/*
 * password.c — argon2id password hashes (libsodium), the password policy,
 * and TOTP one-time codes (RFC 6238 over RFC 4226, HMAC-SHA1 from OpenSSL).
 */
#include "auth.h"
#include "base/utf8.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

_Static_assert(AUTH_HASH_MAX == crypto_pwhash_STRBYTES, "AUTH_HASH_MAX is libsodium's size");

#define PASSWORD_MIN_CHARS	14
#define PASSWORD_MAX_BYTES	1024	/* argon2 takes any length; a login form need not */
#define USER_NAME_MIN_CHARS	3
#define TOTP_STEP_S		30
#define TOTP_DIGITS		6
#define TOTP_SECRET_BYTES	20	/* RFC 4226 §4: 160 bits, the HMAC-SHA1 block */
#define TOTP_KEY_MAX_BYTES	64
#define ARGON2ID_PREFIX		"$argon2id$"

/* ---- libsodium set-up, the dummy hash ------------------------------------------ */

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_ok;

static void sodium_setup(void)
{
	sodium_ok = sodium_init() >= 0;
}

static int sodium_ready(void)
{
	pthread_once(&sodium_once, sodium_setup);
	return sodium_ok;
}

/*
 * A real argon2id hash, with the same limits as every user's, of a random
 * password that is forgotten at once: verifying against it costs what a
 * real verification costs, and nothing can match it.
 */
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[AUTH_HASH_MAX];

static void dummy_setup(void)
{
	unsigned char secret[32];
	char text[2 * sizeof(secret) + 1];

	if (!sodium_ready())
		return;
	randombytes_buf(secret, sizeof(secret));
	sodium_bin2hex(text, sizeof(text), secret, sizeof(secret));
	if (crypto_pwhash_str(dummy_hash, text, strlen(text), crypto_pwhash_OPSLIMIT_INTERACTIVE,
			      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		dummy_hash[0] = '\0';
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(text, sizeof(text));
}

const char *auth_dummy_hash(void)
{
	pthread_once(&dummy_once, dummy_setup);
	return dummy_hash;
}

/* ---- Hashes ------------------------------------------------------------------- */

int auth_password_hash(const char *password, char out[AUTH_HASH_MAX], struct err *e)
{
	size_t n = strlen(password);

	if (!sodium_ready())
		return err_set(e, ERR_INTERNAL, NULL, "libsodium failed to initialise");
	if (n > PASSWORD_MAX_BYTES)
		return err_set(e, ERR_BAD_REQUEST, NULL, "password longer than %d bytes",
			       PASSWORD_MAX_BYTES);
	/* interactive limits: 2 passes over 64 MiB, about 0.1 s on a server core */
	if (crypto_pwhash_str(out, password, n, crypto_pwhash_OPSLIMIT_INTERACTIVE,
			      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		return err_set(e, ERR_NOMEM, NULL, "out of memory for the password hash");
	return 0;
}

int auth_password_verify(const char *hash, const char *password)
{
	const char *dummy = auth_dummy_hash();
	size_t n;
	int ok;

	if (!hash || !password || !sodium_ready())
		return 0;
	n = strlen(password);
	/* a hash that is not argon2id (or a stored one with other limits) is not ours */
	if (strncmp(hash, ARGON2ID_PREFIX, strlen(ARGON2ID_PREFIX)) != 0 ||
	    strnlen(hash, AUTH_HASH_MAX) >= AUTH_HASH_MAX || n > PASSWORD_MAX_BYTES)
		return 0;
	ok = crypto_pwhash_str_verify(hash, password, n) == 0;
	/* belt and braces: the dummy never lets anyone in, whatever was typed */
	if (hash == dummy || strcmp(hash, dummy) == 0)
		return 0;
	return ok;
}

/* ---- Policy ------------------------------------------------------------------- */

/* Letters beyond ASCII: the Latin (Vietnamese included), Greek and Cyrillic
 * letter blocks. Enough to count a letter in "Mậtkhẩu" without a locale. */
static int is_letter_cp(unsigned long cp)
{
	if (cp < 0x80)
		return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
	return (cp >= 0xc0 && cp <= 0x24f && cp != 0xd7 && cp != 0xf7) ||
	       (cp >= 0x370 && cp <= 0x3ff) || (cp >= 0x400 && cp <= 0x4ff) ||
	       (cp >= 0x1e00 && cp <= 0x1eff);
}

static unsigned long decode_cp(const unsigned char *p, size_t len)
{
	static const unsigned char lead_mask[5] = { 0, 0x7f, 0x1f, 0x0f, 0x07 };
	unsigned long cp = p[0] & lead_mask[len];

	for (size_t i = 1; i < len; i++)
		cp = cp << 6 | (p[i] & 0x3f);
	return cp;
}

/* Code points in s, or -1 when s is not well-formed UTF-8. */
static long count_chars(const char *s, int *letter, int *digit)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s);
	long count = 0;

	while (left) {
		size_t len = utf8_seq_len(p, left);
		unsigned long cp;

		if (len == 0)
			return -1;
		cp = decode_cp(p, len);
		if (letter && is_letter_cp(cp))
			*letter = 1;
		if (digit && cp >= '0' && cp <= '9')
			*digit = 1;
		p += len;
		left -= len;
		count++;
	}
	return count;
}

/* Whether hay contains needle, ASCII letters compared without case. */
static int contains_nocase(const char *hay, const char *needle)
{
	size_t hn = strlen(hay), nn = strlen(needle);

	for (size_t i = 0; nn && i + nn <= hn; i++) {
		size_t j = 0;
		while (j < nn) {
			unsigned char a = (unsigned char)hay[i + j], b = (unsigned char)needle[j];
			if (a >= 'A' && a <= 'Z')
				a = (unsigned char)(a + 32);
			if (b >= 'A' && b <= 'Z')
				b = (unsigned char)(b + 32);
			if (a != b)
				break;
			j++;
		}
		if (j == nn)
			return 1;
	}
	return 0;
}

/* Every rule that fails is one issue of e, so a form can show them all. */
int auth_password_policy(const char *password, const char *user_name, struct err *e)
{
	int letter = 0, digit = 0, rc = 0;
	long chars;

	if (!password)
		return err_set(e, ERR_BAD_REQUEST, NULL, "no password");
	if (strlen(password) > PASSWORD_MAX_BYTES)
		return err_set(e, ERR_BAD_REQUEST, NULL, "the password must be at most %d bytes",
			       PASSWORD_MAX_BYTES);
	chars = count_chars(password, &letter, &digit);
	if (chars < 0)
		return err_set(e, ERR_BAD_REQUEST, NULL, "the password is not valid UTF-8 text");
	if (chars < PASSWORD_MIN_CHARS)
		rc = err_set(e, ERR_BAD_REQUEST, NULL,
			     "the password must be at least %d characters long",
			     PASSWORD_MIN_CHARS);
	if (!letter)
		rc = err_set(e, ERR_BAD_REQUEST, NULL, "the password must contain a letter");
	if (!digit)
		rc = err_set(e, ERR_BAD_REQUEST, NULL, "the password must contain a digit");
	if (user_name && count_chars(user_name, NULL, NULL) >= USER_NAME_MIN_CHARS &&
	    contains_nocase(password, user_name))
		rc = err_set(e, ERR_BAD_REQUEST, NULL,
			     "the password must not contain the user name");
	return rc;
}

/* ---- TOTP ------------------------------------------------------------------------ */

static const char B32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* RFC 4648 base32: either case, '=' padding allowed only at the end. */
static int base32_decode(const char *s, unsigned char *out, size_t cap, size_t *n)
{
	uint32_t acc = 0;
	size_t len = strlen(s), bits = 0, got = 0;

	while (len && s[len - 1] == '=')
		len--;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		const char *hit;

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 32);
		hit = c ? strchr(B32, c) : NULL;
		if (!hit)
			return -1;
		acc = acc << 5 | (uint32_t)(hit - B32);
		bits += 5;
		if (bits >= 8) {
			if (got == cap)
				return -1;
			bits -= 8;
			out[got++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (got == 0)
		return -1;
	*n = got;
	return 0;
}

int auth_totp_secret_new(char out[AUTH_TOTP_SECRET_MAX])
{
	unsigned char b[TOTP_SECRET_BYTES];
	size_t j = 0;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return ERR_INTERNAL;
	/* 20 bytes are 160 bits: exactly 32 base32 characters, no padding */
	for (size_t i = 0; i < sizeof(b); i += 5) {
		uint64_t v = 0;
		for (size_t k = 0; k < 5; k++)
			v = v << 8 | b[i + k];
		for (int k = 7; k >= 0; k--)
			out[j++] = B32[(v >> (5 * k)) & 31];
	}
	out[j] = '\0';
	OPENSSL_cleanse(b, sizeof(b));
	return 0;
}

/* HOTP (RFC 4226 §5.3) of one counter, 6 digits and NUL into out. */
static int hotp(const unsigned char *key, size_t key_n, uint64_t counter, char out[7])
{
	unsigned char msg[8], mac[EVP_MAX_MD_SIZE];
	unsigned int mac_n = 0, off;
	uint32_t bin;

	for (int i = 7; i >= 0; i--) {
		msg[i] = (unsigned char)counter;
		counter >>= 8;
	}
	if (!HMAC(EVP_sha1(), key, (int)key_n, msg, sizeof(msg), mac, &mac_n) || mac_n != 20)
		return -1;
	off = mac[19] & 0xf;
	bin = (uint32_t)(mac[off] & 0x7f) << 24 | (uint32_t)mac[off + 1] << 16 |
	      (uint32_t)mac[off + 2] << 8 | mac[off + 3];
	snprintf(out, 7, "%06u", (unsigned)(bin % 1000000u));
	OPENSSL_cleanse(mac, sizeof(mac));
	return 0;
}

int auth_totp_code(const char *secret_b32, int64_t unix_s, char out[7], struct err *e)
{
	unsigned char key[TOTP_KEY_MAX_BYTES];
	size_t key_n = 0;
	int rc = 0;

	if (unix_s < 0)
		return err_set(e, ERR_BAD_REQUEST, NULL, "TOTP time before 1970");
	if (base32_decode(secret_b32, key, sizeof(key), &key_n))
		return err_set(e, ERR_BAD_REQUEST, NULL,
			       "the TOTP secret is not base32 of 1 to %d bytes",
			       TOTP_KEY_MAX_BYTES);
	if (hotp(key, key_n, (uint64_t)(unix_s / TOTP_STEP_S), out))
		rc = err_set(e, ERR_INTERNAL, NULL, "HMAC-SHA1 failed");
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

/*
 * All three codes are made and compared whatever happens, so the time taken
 * says nothing about which one (if any) matched.
 */
int auth_totp_check(const char *secret_b32, const char *code, int64_t now_s, int64_t *last_step)
{
	unsigned char key[TOTP_KEY_MAX_BYTES];
	size_t key_n = 0;
	int64_t step, best = -1;

	if (!secret_b32 || !code || !last_step || now_s < TOTP_STEP_S ||
	    strlen(code) != TOTP_DIGITS)
		return 0;
	for (int i = 0; i < TOTP_DIGITS; i++)
		if (code[i] < '0' || code[i] > '9')
			return 0;
	if (base32_decode(secret_b32, key, sizeof(key), &key_n))
		return 0;
	step = now_s / TOTP_STEP_S;
	for (int64_t s = step - 1; s <= step + 1; s++) {
		char want[7];
		int same;

		if (hotp(key, key_n, (uint64_t)s, want))
			continue;
		same = CRYPTO_memcmp(want, code, TOTP_DIGITS) == 0;
		if (same && s > *last_step)
			best = s;
	}
	OPENSSL_cleanse(key, sizeof(key));
	if (best < 0)
		return 0;
	*last_step = best;
	return 1;
}

/* RFC 3986 unreserved characters pass; everything else is %XX. */
static int put_escaped(struct buf *out, const char *s)
{
	int rc = 0;

	for (; *s && !rc; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~')
			rc = buf_putc(out, (char)c);
		else
			rc = buf_printf(out, "%%%02X", c);
	}
	return rc;
}

int auth_totp_uri(const char *secret_b32, const char *issuer, const char *account,
		  struct buf *out)
{
	int rc = buf_puts(out, "otpauth://totp/");

	if (!rc)
		rc = put_escaped(out, issuer);
	if (!rc)
		rc = buf_putc(out, ':');
	if (!rc)
		rc = put_escaped(out, account);
	if (!rc)
		rc = buf_puts(out, "?secret=");
	if (!rc)
		rc = put_escaped(out, secret_b32);
	if (!rc)
		rc = buf_puts(out, "&issuer=");
	if (!rc)
		rc = put_escaped(out, issuer);
	return rc;
}
