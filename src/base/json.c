/*
 * json.c — strict RFC 8259 check on the raw bytes, then json-c.
 *
 * The checker is a small iterative state machine (no recursion, so no stack
 * depth an attacker controls). It rejects what json-c would let through:
 * invalid or overlong UTF-8, encoded or lone surrogates, NaN/Infinity,
 * single quotes, comments, trailing commas, control characters in strings,
 * \u0000, integers beyond 64 bits (json-c would clamp them silently), and
 * nesting deeper than the limit.
 */
#include "json.h"

#include <string.h>

#define JSON_HARD_MAX_DEPTH 256

struct scan {
	const unsigned char *p, *end, *start;
	struct err *e;
};

static int scan_fail(struct scan *s, const char *what)
{
	return err_set(s->e, ERR_JSON, NULL, "invalid JSON at byte %zu: %s",
		       (size_t)(s->p - s->start), what);
}

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* One UTF-8 sequence starting at s->p (a byte >= 0x80): well-formed per
 * RFC 3629 (no overlongs, no surrogates, at most U+10FFFF). */
static int scan_utf8(struct scan *s)
{
	const unsigned char *p = s->p;
	size_t left = (size_t)(s->end - p);
	unsigned c = p[0];
	unsigned lo = 0x80, hi = 0xBF;
	size_t len, i;

	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;	/* overlong */
		else if (c == 0xED)
			hi = 0x9F;	/* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return scan_fail(s, "invalid UTF-8 byte");
	if (left < len)
		return scan_fail(s, "truncated UTF-8 sequence");
	if (p[1] < lo || p[1] > hi)
		return scan_fail(s, "invalid UTF-8 sequence");
	for (i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return scan_fail(s, "invalid UTF-8 sequence");
	s->p += len;
	return 0;
}

static int hex4(const unsigned char *p, unsigned *out)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		unsigned c = p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	*out = v;
	return 0;
}

static int scan_string(struct scan *s)
{
	s->p++;	/* opening quote */
	while (s->p < s->end) {
		unsigned c = *s->p;

		if (c == '"') {
			s->p++;
			return 0;
		}
		if (c < 0x20)
			return scan_fail(s, "control character in string");
		if (c >= 0x80) {
			if (scan_utf8(s))
				return ERR_JSON;
			continue;
		}
		if (c != '\\') {
			s->p++;
			continue;
		}
		if (s->end - s->p < 2)
			return scan_fail(s, "truncated escape");
		c = s->p[1];
		if (strchr("\"\\/bfnrt", (int)c) && c) {
			s->p += 2;
			continue;
		}
		if (c != 'u')
			return scan_fail(s, "invalid escape");
		{
			unsigned u, u2;

			if (s->end - s->p < 6 || hex4(s->p + 2, &u))
				return scan_fail(s, "invalid \\u escape");
			if (u == 0)
				return scan_fail(s, "\\u0000 is not allowed");
			if (u >= 0xDC00 && u <= 0xDFFF)
				return scan_fail(s, "lone low surrogate");
			if (u >= 0xD800 && u <= 0xDBFF) {
				if (s->end - s->p < 12 || s->p[6] != '\\' || s->p[7] != 'u' ||
				    hex4(s->p + 8, &u2) || u2 < 0xDC00 || u2 > 0xDFFF)
					return scan_fail(s, "lone high surrogate");
				s->p += 6;
			}
			s->p += 6;
		}
	}
	return scan_fail(s, "unterminated string");
}

static int scan_number(struct scan *s)
{
	const unsigned char *int_start, *int_end;
	int is_int = 1, neg = 0;

	if (*s->p == '-') {
		neg = 1;
		s->p++;
	}
	int_start = s->p;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (s->p < s->end && *s->p >= '1' && *s->p <= '9')
		while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
			s->p++;
	else
		return scan_fail(s, "invalid number");
	int_end = s->p;
	if (s->p < s->end && *s->p == '.') {
		is_int = 0;
		s->p++;
		if (s->p >= s->end || *s->p < '0' || *s->p > '9')
			return scan_fail(s, "invalid number fraction");
		while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
			s->p++;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		is_int = 0;
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (s->p >= s->end || *s->p < '0' || *s->p > '9')
			return scan_fail(s, "invalid number exponent");
		while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
			s->p++;
	}
	if (is_int) {
		size_t nd = (size_t)(int_end - int_start);
		const char *lim = neg ? "9223372036854775808" : "9223372036854775807";

		if (nd > 19 || (nd == 19 && memcmp(int_start, lim, 19) > 0))
			return scan_fail(s, "integer out of 64-bit range");
	}
	return 0;
}

static int scan_literal(struct scan *s, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return scan_fail(s, "unexpected character");
	s->p += n;
	return 0;
}

int json_check(const char *p, size_t n, int max_depth, struct err *e)
{
	char stack[JSON_HARD_MAX_DEPTH];	/* '{' or '[' per open container */
	int depth = 0;
	struct scan s = { (const unsigned char *)p, (const unsigned char *)p + n,
			  (const unsigned char *)p, e };

	if (max_depth <= 0 || max_depth > JSON_HARD_MAX_DEPTH)
		max_depth = JSON_HARD_MAX_DEPTH;
	/* A UTF-8 byte-order mark is not JSON (RFC 8259 §8.1: MUST NOT add). */
	for (;;) {
		/* Expect a value. */
		skip_ws(&s);
		if (s.p >= s.end)
			return scan_fail(&s, depth || s.p == s.start ? "unexpected end" : "empty");
		switch (*s.p) {
		case '{':
		case '[':
			if (depth >= max_depth)
				return err_set(e, ERR_TOO_DEEP, NULL,
					       "JSON nests deeper than %d levels at byte %zu",
					       max_depth, (size_t)(s.p - s.start));
			stack[depth++] = (char)*s.p;
			s.p++;
			skip_ws(&s);
			if (s.p < s.end && (*s.p == '}' || *s.p == ']')) {
				if ((*s.p == '}') != (stack[depth - 1] == '{'))
					return scan_fail(&s, "mismatched bracket");
				s.p++;
				depth--;
				goto after_value;
			}
			if (stack[depth - 1] == '{')
				goto expect_key;
			continue;
		case '"':
			if (scan_string(&s))
				return ERR_JSON;
			break;
		case 't':
			if (scan_literal(&s, "true"))
				return ERR_JSON;
			break;
		case 'f':
			if (scan_literal(&s, "false"))
				return ERR_JSON;
			break;
		case 'n':
			if (scan_literal(&s, "null"))
				return ERR_JSON;
			break;
		default:
			if (*s.p == '-' || (*s.p >= '0' && *s.p <= '9')) {
				if (scan_number(&s))
					return ERR_JSON;
				break;
			}
			return scan_fail(&s, "unexpected character");
		}
after_value:
		skip_ws(&s);
		if (depth == 0) {
			if (s.p != s.end)
				return scan_fail(&s, "trailing characters after the JSON value");
			return 0;
		}
		if (s.p >= s.end)
			return scan_fail(&s, "unexpected end");
		if (*s.p == ',') {
			s.p++;
			if (stack[depth - 1] == '[')
				continue;
			goto expect_key;
		}
		if ((*s.p == '}' && stack[depth - 1] == '{') || (*s.p == ']' && stack[depth - 1] == '[')) {
			s.p++;
			depth--;
			goto after_value;
		}
		return scan_fail(&s, "expected ',' or a closing bracket");
expect_key:
		skip_ws(&s);
		if (s.p >= s.end || *s.p != '"')
			return scan_fail(&s, "expected a string key");
		if (scan_string(&s))
			return ERR_JSON;
		skip_ws(&s);
		if (s.p >= s.end || *s.p != ':')
			return scan_fail(&s, "expected ':'");
		s.p++;
	}
}

int json_parse(const char *p, size_t n, int max_depth, struct json_object **out,
	       struct err *e)
{
	struct json_tokener *tok;
	struct json_object *o;
	int rc;

	*out = NULL;
	if (max_depth <= 0 || max_depth > JSON_HARD_MAX_DEPTH)
		max_depth = JSON_HARD_MAX_DEPTH;
	rc = json_check(p, n, max_depth, e);
	if (rc)
		return rc;
	if (n > (size_t)INT32_MAX)
		return err_set(e, ERR_TOO_LARGE, NULL, "JSON text too large");
	tok = json_tokener_new_ex(max_depth + 1);
	if (!tok)
		return err_set(e, ERR_NOMEM, NULL, "out of memory parsing JSON");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, p, (int)n);
	if (!o || json_tokener_get_error(tok) != json_tokener_success) {
		rc = err_set(e, ERR_JSON, NULL, "invalid JSON: %s",
			     json_tokener_error_desc(json_tokener_get_error(tok)));
		json_object_put(o);
		json_tokener_free(tok);
		return rc;
	}
	json_tokener_free(tok);
	*out = o;
	return 0;
}

int json_write(struct buf *b, struct json_object *o, int pretty)
{
	size_t len;
	const char *s = json_object_to_json_string_length(
		o, (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN) |
			   JSON_C_TO_STRING_NOSLASHESCAPE,
		&len);

	if (!s)
		return ERR_NOMEM;
	return buf_append(b, s, len);
}

const char *json_get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int json_write_string(struct buf *b, const char *s)
{
	int rc = buf_putc(b, '"');

	for (; !rc && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			rc = buf_putc(b, '\\') || buf_putc(b, (char)ch);
		else if (ch < 0x20)
			rc = buf_printf(b, "\\u%04x", ch);
		else
			rc = buf_putc(b, (char)ch);
	}
	return rc ? ERR_NOMEM : buf_putc(b, '"');
}
