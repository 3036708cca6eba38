/*
 * jsonpatch.h — JSON Patch (RFC 6902) with JSON Pointer (RFC 6901) on json-c.
 *
 * json_patch_apply() works on a deep copy and swaps it in only when every
 * operation succeeded: a failed patch leaves *doc untouched.
 * Thread-safe (no shared state).
 */
#ifndef LT_BASE_JSONPATCH_H
#define LT_BASE_JSONPATCH_H

#include <json-c/json.h>
#include "err.h"

#define JSON_PATCH_MAX_OPS 1000
/* How deep a patched document may nest (the validator stops at 128 too). */
#define JSON_PATCH_MAX_DEPTH 128
/* What copy operations may add, in bytes of memory: string bytes, and
 * JSON_PATCH_NODE_WEIGHT for each node (json-c spends about 100 bytes on
 * one). Without it a patch of a few KB doubling a subtree 30 times builds
 * gigabytes; counting a node as one byte still let a 1 KB patch build 16
 * million nodes: 285 MB and 2 s of CPU (fuzz finding F9). */
#define JSON_PATCH_MAX_GROWTH (16u * 1024 * 1024)
#define JSON_PATCH_NODE_WEIGHT 64u

/* patch must be a JSON array of operation objects. Returns 0, ERR_BAD_REQUEST
 * for a malformed patch document, or ERR_PATCH when an operation cannot be
 * applied (missing path, failed test). On success *doc is replaced (the old
 * object is put). */
int json_patch_apply(struct json_object **doc, struct json_object *patch, struct err *e) LT_MUST_CHECK;

#endif
