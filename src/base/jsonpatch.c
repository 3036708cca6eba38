/* jsonpatch.c — RFC 6902 operations over RFC 6901 pointers. */
#include "jsonpatch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define POINTER_MAX 1024

/* Where a pointer leads: the container holding the last token, and the token. */
struct target {
	struct json_object *parent;	/* NULL: the pointer is "" (the whole document) */
	char key[POINTER_MAX];		/* unescaped last token */
};

/* Unescapes one reference token (~1 → /, ~0 → ~) of n bytes into out. */
static int unescape_token(const char *p, size_t n, char *out, size_t outsz)
{
	size_t j = 0;

	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '~') {
			if (i + 1 >= n || (p[i + 1] != '0' && p[i + 1] != '1'))
				return -1;
			c = p[++i] == '0' ? '~' : '/';
		}
		if (j + 1 >= outsz)
			return -1;
		out[j++] = c;
	}
	out[j] = '\0';
	return 0;
}

/* An array index token: digits without a leading zero. -1 when not one. */
static long array_index(const char *tok)
{
	char *end;
	long v;

	if (!*tok || (tok[0] == '0' && tok[1]) || tok[0] < '0' || tok[0] > '9')
		return -1;
	errno = 0;
	v = strtol(tok, &end, 10);
	return *end || errno ? -1 : v;
}

/* Whether o has a child named by token; *v is set to it. json-c holds the
 * JSON value null as NULL, so existence and value are told apart here:
 * {"a":null} has a member "a" whose value is null. */
static int child(struct json_object *o, const char *tok, struct json_object **v)
{
	*v = NULL;
	if (json_object_is_type(o, json_type_object))
		return json_object_object_get_ex(o, tok, v);
	if (json_object_is_type(o, json_type_array)) {
		long i = array_index(tok);
		if (i >= 0 && (size_t)i < json_object_array_length(o)) {
			*v = json_object_array_get_idx(o, (size_t)i);
			return 1;
		}
	}
	return 0;
}

/* Walks all but the last token of ptr from doc. */
static int resolve(struct json_object *doc, const char *ptr, struct target *t, struct err *e)
{
	const char *p = ptr, *next;
	struct json_object *cur = doc;

	t->parent = NULL;
	t->key[0] = '\0';
	if (!*ptr)
		return 0;
	if (*ptr != '/')
		return err_set(e, ERR_BAD_REQUEST, NULL, "JSON Pointer '%s' must start with '/'", ptr);
	for (;;) {
		p++;
		next = strchr(p, '/');
		if (unescape_token(p, next ? (size_t)(next - p) : strlen(p), t->key, sizeof(t->key)))
			return err_set(e, ERR_BAD_REQUEST, NULL, "bad JSON Pointer '%s'", ptr);
		if (!next)
			break;
		if (!child(cur, t->key, &cur) || !cur)
			return err_set(e, ERR_PATCH, NULL, "path '%s' does not exist", ptr);
		p = next;
	}
	t->parent = cur;
	return 0;
}

/* Whether the target exists; *v is its value (NULL for null). */
static int target_get(struct json_object *doc, const struct target *t, struct json_object **v)
{
	if (!t->parent) {
		*v = doc;
		return 1;
	}
	return child(t->parent, t->key, v);
}

/* Removes the target; returns 0 or ERR_PATCH. */
static int target_remove(struct json_object **doc, const struct target *t, const char *ptr,
			 struct err *e)
{
	struct json_object *v;

	if (!t->parent)
		return err_set(e, ERR_PATCH, NULL, "cannot remove the whole document");
	if (!child(t->parent, t->key, &v))
		return err_set(e, ERR_PATCH, NULL, "path '%s' does not exist", ptr);
	if (json_object_is_type(t->parent, json_type_object))
		json_object_object_del(t->parent, t->key);
	else
		json_object_array_del_idx(t->parent, (size_t)array_index(t->key), 1);
	(void)doc;
	return 0;
}

/* Adds value (taken) at the target, per RFC 6902 §4.1. */
static int target_add(struct json_object **doc, const struct target *t, struct json_object *value,
		      const char *ptr, struct err *e)
{
	if (!t->parent) {
		json_object_put(*doc);
		*doc = value;
		return 0;
	}
	if (json_object_is_type(t->parent, json_type_object)) {
		json_object_object_add(t->parent, t->key, value);
		return 0;
	}
	if (json_object_is_type(t->parent, json_type_array)) {
		size_t len = json_object_array_length(t->parent);
		long i = strcmp(t->key, "-") == 0 ? (long)len : array_index(t->key);

		if (i < 0 || (size_t)i > len) {
			json_object_put(value);
			return err_set(e, ERR_PATCH, NULL, "array index in '%s' is out of range", ptr);
		}
		/* Shift the tail up by one, then place the value. */
		if (json_object_array_add(t->parent, NULL) != 0) {
			json_object_put(value);
			return err_set(e, ERR_NOMEM, NULL, "out of memory");
		}
		for (size_t k = len; k > (size_t)i; k--) {
			struct json_object *prev = json_object_array_get_idx(t->parent, k - 1);
			json_object_array_put_idx(t->parent, k, json_object_get(prev));
		}
		json_object_array_put_idx(t->parent, (size_t)i, value);
		return 0;
	}
	json_object_put(value);
	return err_set(e, ERR_PATCH, NULL, "the parent of '%s' is not a container", ptr);
}

static const char *op_str(struct json_object *op, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(op, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int deep_copy(struct json_object *src, struct json_object **dst, struct err *e)
{
	*dst = NULL;
	if (!src)	/* the value null: its copy is null */
		return 0;
	if (json_object_deep_copy(src, dst, NULL) != 0)
		return err_set(e, ERR_NOMEM, NULL, "out of memory copying JSON");
	return 0;
}

/* The weight of o (JSON_PATCH_NODE_WEIGHT a node, plus string bytes),
 * counted only up to limit: the walk stops as soon as it is over, so it
 * costs no more than the budget. */
static size_t weight(struct json_object *o, size_t limit)
{
	size_t w = JSON_PATCH_NODE_WEIGHT;

	if (json_object_is_type(o, json_type_string))
		w += (size_t)json_object_get_string_len(o);
	else if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v) {
			w += strlen(k) + weight(v, limit - (w < limit ? w : limit));
			if (w > limit)
				break;
		}
	} else if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0, n = json_object_array_length(o); i < n && w <= limit; i++)
			w += weight(json_object_array_get_idx(o, i), limit - w);
	}
	return w;
}

/* Nesting depth of o (a scalar is 1), counted only up to limit + 1: the
 * recursion never goes deeper than the limit, whatever o is. */
static size_t depth_of(struct json_object *o, size_t limit)
{
	size_t deepest = 0;

	if (limit == 0)
		return 1;
	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v) {
			size_t d = depth_of(v, limit - 1);
			(void)k;
			if (d > deepest)
				deepest = d;
			if (deepest >= limit)
				break;
		}
	} else if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0, n = json_object_array_length(o); i < n && deepest < limit; i++) {
			size_t d = depth_of(json_object_array_get_idx(o, i), limit - 1);
			if (d > deepest)
				deepest = d;
		}
	}
	return 1 + deepest;
}

/* Placing value at path must not nest deeper than JSON_PATCH_MAX_DEPTH:
 * copies of a subtree into itself double the depth each time, and every
 * later step (copy, serialise, validate, free) recurses through it. */
static int check_depth(const char *path, struct json_object *value, size_t idx, struct err *e)
{
	size_t tokens = 0;

	for (const char *p = path; *p; p++)
		tokens += *p == '/';
	if (tokens >= JSON_PATCH_MAX_DEPTH ||
	    tokens + depth_of(value, JSON_PATCH_MAX_DEPTH - tokens) > JSON_PATCH_MAX_DEPTH)
		return err_set(e, ERR_PATCH, NULL,
			       "operation %zu would nest the document deeper than %d levels", idx,
			       JSON_PATCH_MAX_DEPTH);
	return 0;
}

static int apply_one(struct json_object **doc, struct json_object *op, size_t idx,
		     size_t *budget, struct err *e)
{
	const char *name = op_str(op, "op"), *path = op_str(op, "path"), *from;
	struct json_object *value = NULL, *v, *copy;
	struct target t, tf;
	int has_value, rc;

	if (!json_object_is_type(op, json_type_object) || !name || !path)
		return err_set(e, ERR_BAD_REQUEST, NULL,
			       "patch operation %zu needs string members 'op' and 'path'", idx);
	has_value = json_object_object_get_ex(op, "value", &value);
	if ((rc = resolve(*doc, path, &t, e)))
		return rc;

	if (!strcmp(name, "add") || !strcmp(name, "replace") || !strcmp(name, "test")) {
		if (!has_value)
			return err_set(e, ERR_BAD_REQUEST, NULL, "'%s' operation %zu needs a 'value'", name, idx);
		if (!strcmp(name, "test")) {
			if (!target_get(*doc, &t, &v))
				return err_set(e, ERR_PATCH, NULL, "test: path '%s' does not exist", path);
			if (!json_object_equal(v, value))
				return err_set(e, ERR_PATCH, NULL, "test failed at '%s'", path);
			return 0;
		}
		if ((rc = check_depth(path, value, idx, e)))
			return rc;
		if (!strcmp(name, "replace")) {
			if (!target_get(*doc, &t, &v))
				return err_set(e, ERR_PATCH, NULL, "replace: path '%s' does not exist", path);
			if (t.parent && (rc = target_remove(doc, &t, path, e)))
				return rc;
		}
		if ((rc = deep_copy(value, &copy, e)))
			return rc;
		return target_add(doc, &t, copy, path, e);
	}
	if (!strcmp(name, "remove"))
		return target_remove(doc, &t, path, e);
	if (!strcmp(name, "move") || !strcmp(name, "copy")) {
		from = op_str(op, "from");
		if (!from)
			return err_set(e, ERR_BAD_REQUEST, NULL, "'%s' operation %zu needs 'from'", name, idx);
		if ((rc = resolve(*doc, from, &tf, e)))
			return rc;
		if (!target_get(*doc, &tf, &v))
			return err_set(e, ERR_PATCH, NULL, "%s: from '%s' does not exist", name, from);
		if ((rc = check_depth(path, v, idx, e)))
			return rc;
		if (!strcmp(name, "move")) {
			size_t fl = strlen(from);
			if (strncmp(path, from, fl) == 0 && path[fl] == '/')
				return err_set(e, ERR_PATCH, NULL, "cannot move '%s' into its own child", from);
			if (!strcmp(path, from))
				return 0;
			json_object_get(v);
			if ((rc = target_remove(doc, &tf, from, e))) {
				json_object_put(v);
				return rc;
			}
			/* The removal may shift array indexes on the destination's path. */
			if ((rc = resolve(*doc, path, &t, e))) {
				json_object_put(v);
				return rc;
			}
			return target_add(doc, &t, v, path, e);
		}
		{
			size_t w = weight(v, *budget);

			if (w > *budget)
				return err_set(e, ERR_PATCH, NULL,
					       "copy operation %zu would make the document too large", idx);
			*budget -= w;
		}
		if ((rc = deep_copy(v, &copy, e)))
			return rc;
		return target_add(doc, &t, copy, path, e);
	}
	return err_set(e, ERR_BAD_REQUEST, NULL, "unknown patch operation '%s'", name);
}

int json_patch_apply(struct json_object **doc, struct json_object *patch, struct err *e)
{
	struct json_object *work;
	size_t n, budget = JSON_PATCH_MAX_GROWTH;
	int rc;

	if (!json_object_is_type(patch, json_type_array))
		return err_set(e, ERR_BAD_REQUEST, NULL, "a JSON Patch document must be an array");
	n = json_object_array_length(patch);
	if (n > JSON_PATCH_MAX_OPS)
		return err_set(e, ERR_BAD_REQUEST, NULL, "a JSON Patch may hold at most %d operations",
			       JSON_PATCH_MAX_OPS);
	if ((rc = deep_copy(*doc, &work, e)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		rc = apply_one(&work, json_object_array_get_idx(patch, i), i, &budget, e);
		if (rc) {
			json_object_put(work);
			return rc;
		}
	}
	json_object_put(*doc);
	*doc = work;
	return 0;
}
