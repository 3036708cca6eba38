/*
 * json.h — the strict JSON front door, on top of json-c.
 *
 * json-c keeps the original text of numbers (FHIR's 1.50 stays 1.50), which
 * is why we use it, but it is lenient: it takes NaN, single quotes, overlong
 * UTF-8 and encoded surrogates, and it nests only 32 deep by default.
 * json_parse() first checks the raw bytes against RFC 8259 (UTF-8, number
 * grammar, string escapes, depth, duplicate keys are left to json-c) and only
 * then hands them to json-c with the same depth limit. Errors come back as
 * ERR_JSON / ERR_TOO_DEEP with the byte offset in the message.
 *
 * Thread-safe: no shared state.
 */
#ifndef LT_BASE_JSON_H
#define LT_BASE_JSON_H

#include <json-c/json.h>
#include <stddef.h>
#include "buf.h"
#include "err.h"

#define JSON_DEFAULT_MAX_DEPTH 64

/* Parses n bytes at p into *out (a new reference the caller must put; NULL
 * for the JSON value null, as json-c represents it). */
int json_parse(const char *p, size_t n, int max_depth, struct json_object **out,
	       struct err *e) LT_MUST_CHECK;
/* Checks only; no tree is built. */
int json_check(const char *p, size_t n, int max_depth, struct err *e) LT_MUST_CHECK;
/* Appends the compact (or pretty) text of o to b. */
int json_write(struct buf *b, struct json_object *o, int pretty) LT_MUST_CHECK;
/* Appends s as a JSON string literal (quoted and escaped). */
int json_write_string(struct buf *b, const char *s) LT_MUST_CHECK;
/* The string member `key` of o, or NULL when absent or not a string. */
const char *json_get_str(struct json_object *o, const char *key);

#endif
