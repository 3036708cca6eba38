/* b64url.c — base64url without padding (RFC 4648 §5, RFC 7515 §2). */
#include "auth.h"

#include <stdint.h>

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int auth_b64url_encode(const void *p, size_t n, struct buf *out)
{
	const unsigned char *s = p;
	char quad[4];
	size_t i;
	int rc;

	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		quad[0] = B64URL[v >> 18];
		quad[1] = B64URL[(v >> 12) & 63];
		quad[2] = B64URL[(v >> 6) & 63];
		quad[3] = B64URL[v & 63];
		rc = buf_append(out, quad, 4);
		if (rc)
			return rc;
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)s[i] << 16;
		quad[0] = B64URL[v >> 18];
		quad[1] = B64URL[(v >> 12) & 63];
		return buf_append(out, quad, 2);
	}
	if (n - i == 2) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		quad[0] = B64URL[v >> 18];
		quad[1] = B64URL[(v >> 12) & 63];
		quad[2] = B64URL[(v >> 6) & 63];
		return buf_append(out, quad, 3);
	}
	return 0;
}

static int b64url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * Besides the alphabet, the unused low bits of the last character must be
 * zero: every byte string then has exactly one encoding, so two different
 * texts never carry the same signature or key.
 */
static int decode(const char *s, size_t n, struct buf *out, struct err *e)
{
	unsigned char bytes[3];
	uint32_t v = 0;
	size_t i, held = 0;
	int rc;

	if (n % 4 == 1)
		return err_set(e, ERR_BAD_REQUEST, NULL, "base64url: impossible length %zu", n);
	for (i = 0; i < n; i++) {
		int d = b64url_value(s[i]);
		if (d < 0)
			return err_set(e, ERR_BAD_REQUEST, NULL,
				       "base64url: character %zu is not in the alphabet%s", i,
				       s[i] == '=' ? " (padding is not allowed)" : "");
		v = v << 6 | (uint32_t)d;
		if (++held == 4) {
			bytes[0] = (unsigned char)(v >> 16);
			bytes[1] = (unsigned char)(v >> 8);
			bytes[2] = (unsigned char)v;
			rc = buf_append(out, bytes, 3);
			if (rc)
				return err_set(e, rc, NULL, "base64url: decoded text too large");
			v = 0;
			held = 0;
		}
	}
	if (held == 2) {
		if (v & 0xf)
			return err_set(e, ERR_BAD_REQUEST, NULL,
				       "base64url: non-zero trailing bits");
		bytes[0] = (unsigned char)(v >> 4);
		rc = buf_append(out, bytes, 1);
	} else if (held == 3) {
		if (v & 0x3)
			return err_set(e, ERR_BAD_REQUEST, NULL,
				       "base64url: non-zero trailing bits");
		bytes[0] = (unsigned char)(v >> 10);
		bytes[1] = (unsigned char)(v >> 2);
		rc = buf_append(out, bytes, 2);
	} else {
		rc = 0;
	}
	if (rc)
		return err_set(e, rc, NULL, "base64url: decoded text too large");
	return 0;
}

/* On failure out is left as it was: no half-decoded bytes for the caller. */
int auth_b64url_decode(const char *s, size_t n, struct buf *out, struct err *e)
{
	size_t before = out->n;
	int rc = decode(s, n, out, e);

	if (rc && out->p) {
		out->n = before;
		out->p[before] = '\0';
	}
	return rc;
}
