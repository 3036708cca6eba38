/*
 * json.c — strict RFC 8259 check on the raw bytes, then json-c.
 *
 * The checker is a small iterative state machine (no recursion, so no stack
 * depth an attacker controls). It rejects what json-c would let through:
 * invalid or overlong UTF-8, encoded or lone surrogates, NaN/Infinity,
 * single quotes, comments, trailing commas, control characters in strings,
 * \u0000, integers beyond 64 bits (json-c would clamp them silently),
 * nesting deeper than the limit, and duplicate keys in an object (json-c
 * would keep the last value and drop the others without a word).
 *
 * Duplicate keys cost nothing on the good path: the scanner counts keys, and
 * json_parse compares that count with the keys json-c kept. Only when they
 * differ does a second scan collect each object's keys, sort them, and name
 * the duplicate (sorting keeps a hostile 100,000-key object at n log n).
 */
#include "json.h"
#include "utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JSON_HARD_MAX_DEPTH 256

/* The keys of each open object, collected only when hunting a duplicate. */
struct key_lists {
	struct key_list {
		struct str *keys;
		size_t n, cap;
	} level[JSON_HARD_MAX_DEPTH];
};

struct scan {
	const unsigned char *p, *end, *start;
	struct err *e;
	size_t n_keys;			/* object members seen */
	struct key_lists *dups;		/* NULL on the good path */
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

/* One UTF-8 sequence starting at s->p (a byte >= 0x80). */
static int scan_utf8(struct scan *s)
{
	size_t n = utf8_seq_len(s->p, (size_t)(s->end - s->p));

	if (n == 0)
		return scan_fail(s, "invalid UTF-8");
	s->p += n;
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

static int key_cmp(const void *a, const void *b)
{
	const struct str *x = a, *y = b;
	int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);

	return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* Records a key of the object at depth (1-based) for the duplicate hunt. */
static int note_key(struct scan *s, int depth, const unsigned char *key, size_t n)
{
	struct key_list *l = &s->dups->level[depth - 1];

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct str *k = realloc(l->keys, cap * sizeof(*k));
		if (!k)
			return err_set(s->e, ERR_NOMEM, NULL, "out of memory checking JSON keys");
		l->keys = k;
		l->cap = cap;
	}
	l->keys[l->n++] = (struct str){ (const char *)key, n };
	return 0;
}

/* At the close of an object: any key twice? (raw text: "a" and "\u0061"
 * are not matched here; json_parse reports such a case without a name) */
static int close_object(struct scan *s, int depth)
{
	struct key_list *l = &s->dups->level[depth - 1];

	qsort(l->keys, l->n, sizeof(*l->keys), key_cmp);
	for (size_t i = 1; i < l->n; i++)
		if (key_cmp(&l->keys[i - 1], &l->keys[i]) == 0)
			return err_set(s->e, ERR_JSON, NULL,
				       "invalid JSON: the key \"%.*s\" appears twice in one object (before byte %zu)",
				       (int)(l->keys[i].n > 64 ? 64 : l->keys[i].n), l->keys[i].p,
				       (size_t)(s->p - s->start));
	l->n = 0;
	return 0;
}

/* The whole text: one value, nothing after it. Iterative: the open
 * containers are a stack of at most max_depth bytes. */
static int scan_json(struct scan *s, int max_depth)
{
	char stack[JSON_HARD_MAX_DEPTH];	/* '{' or '[' per open container */
	int depth = 0, rc;

	for (;;) {
		/* Expect a value. */
		skip_ws(s);
		if (s->p >= s->end)
			return scan_fail(s, depth || s->p == s->start ? "unexpected end" : "empty");
		switch (*s->p) {
		case '{':
		case '[':
			if (depth >= max_depth)
				return err_set(s->e, ERR_TOO_DEEP, NULL,
					       "JSON nests deeper than %d levels at byte %zu",
					       max_depth, (size_t)(s->p - s->start));
			stack[depth++] = (char)*s->p;
			s->p++;
			skip_ws(s);
			if (s->p < s->end && (*s->p == '}' || *s->p == ']')) {
				if ((*s->p == '}') != (stack[depth - 1] == '{'))
					return scan_fail(s, "mismatched bracket");
				s->p++;
				depth--;
				goto after_value;
			}
			if (stack[depth - 1] == '{')
				goto expect_key;
			continue;
		case '"':
			if (scan_string(s))
				return ERR_JSON;
			break;
		case 't':
			if (scan_literal(s, "true"))
				return ERR_JSON;
			break;
		case 'f':
			if (scan_literal(s, "false"))
				return ERR_JSON;
			break;
		case 'n':
			if (scan_literal(s, "null"))
				return ERR_JSON;
			break;
		default:
			if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) {
				if (scan_number(s))
					return ERR_JSON;
				break;
			}
			return scan_fail(s, "unexpected character");
		}
after_value:
		skip_ws(s);
		if (depth == 0) {
			if (s->p != s->end)
				return scan_fail(s, "trailing characters after the JSON value");
			return 0;
		}
		if (s->p >= s->end)
			return scan_fail(s, "unexpected end");
		if (*s->p == ',') {
			s->p++;
			if (stack[depth - 1] == '[')
				continue;
			goto expect_key;
		}
		if ((*s->p == '}' && stack[depth - 1] == '{') || (*s->p == ']' && stack[depth - 1] == '[')) {
			if (*s->p == '}' && s->dups && (rc = close_object(s, depth)))
				return rc;
			s->p++;
			depth--;
			goto after_value;
		}
		return scan_fail(s, "expected ',' or a closing bracket");
expect_key:
		skip_ws(s);
		if (s->p >= s->end || *s->p != '"')
			return scan_fail(s, "expected a string key");
		{
			const unsigned char *key = s->p + 1;

			if (scan_string(s))
				return ERR_JSON;
			s->n_keys++;
			if (s->dups && (rc = note_key(s, depth, key, (size_t)(s->p - 1 - key))))
				return rc;
		}
		skip_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return scan_fail(s, "expected ':'");
		s->p++;
	}
}

static int clamp_depth(int max_depth)
{
	return max_depth <= 0 || max_depth > JSON_HARD_MAX_DEPTH ? JSON_HARD_MAX_DEPTH : max_depth;
}

int json_check(const char *p, size_t n, int max_depth, struct err *e)
{
	struct scan s = { (const unsigned char *)p, (const unsigned char *)p + n,
			  (const unsigned char *)p, e, 0, NULL };

	return scan_json(&s, clamp_depth(max_depth));
}

/* Object members json-c kept, over the whole tree (depth is bounded by the
 * parse limit, so the recursion is too). */
static size_t count_keys(struct json_object *o)
{
	size_t n = 0;

	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v) {
			(void)k;
			n += 1 + count_keys(v);
		}
	} else if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0, len = json_object_array_length(o); i < len; i++)
			n += count_keys(json_object_array_get_idx(o, i));
	}
	return n;
}

/* Called when json-c kept fewer keys than the text has: name the duplicate. */
static int find_duplicate_key(const char *p, size_t n, int max_depth, struct err *e)
{
	struct key_lists *dups = calloc(1, sizeof(*dups));
	struct scan s = { (const unsigned char *)p, (const unsigned char *)p + n,
			  (const unsigned char *)p, e, 0, dups };
	int rc;

	if (!dups)
		return err_set(e, ERR_NOMEM, NULL, "out of memory checking JSON keys");
	rc = scan_json(&s, max_depth);
	for (int i = 0; i < JSON_HARD_MAX_DEPTH; i++)
		free(dups->level[i].keys);
	free(dups);
	if (!rc)	/* same key spelled with different escapes */
		rc = err_set(e, ERR_JSON, NULL, "invalid JSON: a key appears twice in one object");
	return rc;
}

int json_parse(const char *p, size_t n, int max_depth, struct json_object **out,
	       struct err *e)
{
	struct scan s = { (const unsigned char *)p, (const unsigned char *)p + n,
			  (const unsigned char *)p, e, 0, NULL };
	struct json_tokener *tok;
	struct json_object *o;
	int rc;

	*out = NULL;
	max_depth = clamp_depth(max_depth);
	rc = scan_json(&s, max_depth);
	if (rc)
		return rc;
	if (n > (size_t)INT32_MAX)
		return err_set(e, ERR_TOO_LARGE, NULL, "JSON text too large");
	tok = json_tokener_new_ex(max_depth + 1);
	if (!tok)
		return err_set(e, ERR_NOMEM, NULL, "out of memory parsing JSON");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, p, (int)n);
	/* A number at the very end of the text is only finished by a
	 * terminating NUL; the text was checked whole, so nothing else is cut. */
	if (!o && json_tokener_get_error(tok) == json_tokener_continue)
		o = json_tokener_parse_ex(tok, "", 1);
	/* json-c represents the JSON value null as a NULL object. */
	if (!o && json_tokener_get_error(tok) == json_tokener_success) {
		json_tokener_free(tok);
		return 0;
	}
	if (!o || json_tokener_get_error(tok) != json_tokener_success) {
		rc = err_set(e, ERR_JSON, NULL, "invalid JSON: %s",
			     json_tokener_error_desc(json_tokener_get_error(tok)));
		json_object_put(o);
		json_tokener_free(tok);
		return rc;
	}
	json_tokener_free(tok);
	if (count_keys(o) != s.n_keys) {
		json_object_put(o);
		return find_duplicate_key(p, n, max_depth, e);
	}
	*out = o;
	return 0;
}

static int must_escape(unsigned char ch)
{
	return ch < 0x20 || ch == '"' || ch == '\\';
}

/* The first byte at or after i that must be escaped, or n. Eight bytes at
 * a time: a word is skipped when none of its bytes is below 0x20, '"' or
 * '\\' (the test may flag a clean word, never miss a byte; a flagged word
 * is then read byte by byte). */
static size_t next_escape(const char *s, size_t i, size_t n)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;

	while (i + 8 <= n) {
		uint64_t w, q, bs;

		memcpy(&w, s + i, 8);
		q = w ^ (ones * '"');
		bs = w ^ (ones * '\\');
		if ((((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) & high)
			break;
		i += 8;
	}
	while (i < n && !must_escape((unsigned char)s[i]))
		i++;
	return i;
}

/* A string literal as json-c writes it (NOSLASHESCAPE): the runs between
 * escapes are copied at once. */
static int write_escaped(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0, i;
	int rc = buf_putc(b, '"');

	while (!rc && (i = next_escape(s, run, n)) < n) {
		unsigned char ch = (unsigned char)s[i];
		char esc[6] = { '\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 0xf] };
		size_t k = 2;

		switch (ch) {
		case '\b': esc[1] = 'b'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\f': esc[1] = 'f'; break;
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		default: k = 6;
		}
		rc = buf_append(b, s + run, i - run) || buf_append(b, esc, k);
		run = i + 1;
	}
	if (!rc)
		rc = buf_append(b, s + run, n - run);
	return rc ? ERR_NOMEM : buf_putc(b, '"');
}

/* Compact JSON of o, byte for byte what json-c writes with
 * JSON_C_TO_STRING_PLAIN | NOSLASHESCAPE, but straight into b: no
 * intermediate printbuf per node, no copy. Depth is bounded by the parse
 * limit (trees are built from parsed text), and so is the recursion. */
static int write_compact(struct buf *b, struct json_object *o)
{
	int rc = 0;

	switch (json_object_get_type(o)) {
	case json_type_null:
		return buf_append(b, "null", 4);
	case json_type_boolean:
		return json_object_get_boolean(o) ? buf_append(b, "true", 4) : buf_append(b, "false", 5);
	case json_type_int: {
		int64_t v = json_object_get_int64(o);

		if (v == INT64_MAX)
			return buf_printf(b, "%llu", (unsigned long long)json_object_get_uint64(o));
		return buf_printf(b, "%lld", (long long)v);
	}
	case json_type_double: {
		/* A parsed number keeps its text (1.50 stays 1.50) as userdata. */
		const char *text = json_object_get_userdata(o);
		size_t len;

		if (!text)
			text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
		return text ? buf_puts(b, text) : ERR_NOMEM;
	}
	case json_type_string:
		return write_escaped(b, json_object_get_string(o), (size_t)json_object_get_string_len(o));
	case json_type_array: {
		size_t n = json_object_array_length(o);

		rc = buf_putc(b, '[');
		for (size_t i = 0; !rc && i < n; i++) {
			if (i)
				rc = buf_putc(b, ',');
			if (!rc)
				rc = write_compact(b, json_object_array_get_idx(o, i));
		}
		return rc ? rc : buf_putc(b, ']');
	}
	case json_type_object: {
		int first = 1;

		rc = buf_putc(b, '{');
		json_object_object_foreach(o, k, v) {
			if (rc)
				break;
			if (!first)
				rc = buf_putc(b, ',');
			first = 0;
			if (!rc)
				rc = write_escaped(b, k, strlen(k));
			if (!rc)
				rc = buf_putc(b, ':');
			if (!rc)
				rc = write_compact(b, v);
		}
		return rc ? rc : buf_putc(b, '}');
	}
	}
	return ERR_INTERNAL;
}

int json_write(struct buf *b, struct json_object *o, int pretty)
{
	size_t len;
	const char *s;

	if (!pretty)
		return write_compact(b, o) ? ERR_NOMEM : 0;
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
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
		size_t n;

		if (ch == '"' || ch == '\\')
			rc = buf_putc(b, '\\') || buf_putc(b, (char)ch);
		else if (ch < 0x20)
			rc = buf_printf(b, "\\u%04x", ch);
		else if (ch < 0x80)
			rc = buf_putc(b, (char)ch);
		else if ((n = utf8_seq_len((const unsigned char *)s, strnlen(s, 4))) > 0) {
			rc = buf_append(b, s, n);
			s += n - 1;
		} else	/* not UTF-8 (a client's bytes echoed): U+FFFD, so the JSON stays valid */
			rc = buf_puts(b, "\xef\xbf\xbd");
	}
	return rc ? ERR_NOMEM : buf_putc(b, '"');
}
