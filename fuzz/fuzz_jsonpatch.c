/*
 * fuzz_jsonpatch.c — JSON Patch and JSON Pointer (src/base/jsonpatch.c).
 *
 * Input: "DOC\n@@\nPATCH" — the document and the patch, each a JSON text,
 * separated by the first line that holds only "@@" (a sequence that cannot
 * occur in valid JSON). Without a separator the whole input is the patch,
 * applied to a small Patient. Both go through json_parse() as request bodies
 * do; the stored document is parsed without a depth limit of 64, as
 * rest.c's make_patch does.
 * Oracles, besides the sanitizers:
 *   - the result is 0, ERR_BAD_REQUEST, ERR_PATCH or ERR_TOO_LARGE, with a diagnostic
 *     whose OperationOutcome is strict JSON;
 *   - a failed patch leaves the document untouched (jsonpatch.h promises it);
 *   - a successful patch yields a tree json_write can serialize into strict
 *     JSON, no larger than 16 MiB (the default max_body_bytes: a small PATCH
 *     must not build what no PUT could send) and no deeper than 256 levels
 *     (json.c's hard cap: what json_parse could never read again, and where
 *     recursive code starts to overflow the stack).
 */
#include <stddef.h>
#include <stdint.h>
#include "base/jsonpatch.h"
#include "fuzz_util.h"

#define FZ_PATCH_SEPARATOR "\n@@\n"
#define FZ_PATCH_RESULT_MAX (16u * 1024 * 1024)

static const char fz_default_doc[] =
	"{\"resourceType\":\"Patient\",\"id\":\"p1\",\"meta\":{\"versionId\":\"1\","
	"\"lastUpdated\":\"2024-01-01T00:00:00.000Z\"},\"active\":true,"
	"\"name\":[{\"family\":\"Nguy\xe1\xbb\x85n\",\"given\":[\"Minh\",\"Ch\xc3\xa2u\"]}],"
	"\"birthDate\":\"1990-05-17\",\"extension\":[{\"url\":\"http://x\",\"valueDecimal\":1.50}]}";

/* JSON depth of o, counted only up to limit + 1 (so the recursion is bounded). */
static int fuzz_patch_depth(struct json_object *o, int limit)
{
	int d = 0;

	if (limit < 0)
		return 1;
	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v) {
			int dv;

			(void)k;
			dv = fuzz_patch_depth(v, limit - 1);
			if (dv > d)
				d = dv;
			if (d > limit)
				break;
		}
		return d + 1;
	}
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0, n = json_object_array_length(o); i < n && d <= limit; i++) {
			int dv = fuzz_patch_depth(json_object_array_get_idx(o, i), limit - 1);

			if (dv > d)
				d = dv;
		}
		return d + 1;
	}
	return 0;
}

static void fuzz_patch_check_result(struct json_object *doc)
{
	struct err e = { 0 };
	struct buf b;

	/* json.c reads nothing deeper than 256 levels, and rest.c re-reads the
	 * stored resource before the next patch: a patch must not build deeper.
	 * (Recursive code on a deeper tree — deep copies, frees, serialising —
	 * is how a small patch overflows the stack.) */
	if (fuzz_patch_depth(doc, FZ_OUTPUT_MAX_DEPTH) > FZ_OUTPUT_MAX_DEPTH && !fz_ignored("patch-depth")) {
		fz_fail("a JSON Patch built a document deeper than 256 levels", NULL, 0);
		return;
	}
	buf_init(&b, 0);
	if (json_write(&b, doc, 0)) {
		fz_fail("json_write failed on a patched document", NULL, 0);
	} else if (b.n > FZ_PATCH_RESULT_MAX && !fz_ignored("patch-amplification")) {
		fprintf(stderr, "*** the patched document is %zu bytes\n", b.n);
		fz_fail("a JSON Patch built a document larger than 16 MiB (amplification)", NULL, 0);
	} else if (json_check(b.p, b.n, FZ_OUTPUT_MAX_DEPTH, &e) &&
		   !(e.code == ERR_TOO_DEEP && fz_ignored("patch-depth"))) {
		fprintf(stderr, "*** %s\n", e.issue[0].diagnostics);
		fz_fail("a patched document serializes to invalid JSON", b.p, b.n);
	}
	buf_release(&b);
}

static int fuzz_jsonpatch_one(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *doc_text = fz_default_doc, *patch_text = p;
	size_t doc_len = sizeof(fz_default_doc) - 1, patch_len = size;
	struct json_object *doc = NULL, *patch = NULL, *before = NULL, *doc_ptr;
	struct err e = { 0 };
	int rc;

	for (size_t i = 0; i + 4 <= size; i++)
		if (memcmp(p + i, FZ_PATCH_SEPARATOR, 4) == 0) {
			doc_text = p;
			doc_len = i;
			patch_text = p + i + 4;
			patch_len = size - i - 4;
			break;
		}
	if (json_parse(doc_text, doc_len, 0, &doc, &e))
		goto out;
	err_clear(&e);
	if (json_parse(patch_text, patch_len, JSON_DEFAULT_MAX_DEPTH, &patch, &e))
		goto out;
	err_clear(&e);
	if (fz_ignored("patch-amplification") && json_object_is_type(patch, json_type_array)) {
		/* Each copy can double the document: keep that below OOM. */
		size_t copies = 0;

		for (size_t i = 0, n = json_object_array_length(patch); i < n; i++) {
			struct json_object *op = json_object_array_get_idx(patch, i);
			const char *name = json_object_is_type(op, json_type_object) ? json_get_str(op, "op") : NULL;

			copies += name && !strcmp(name, "copy");
		}
		if (copies > 12)
			goto out;
	}
	if (json_object_deep_copy(doc, &before, NULL) != 0)
		goto out;
	doc_ptr = doc;
	rc = json_patch_apply(&doc, patch, &e);
	if (rc) {
		fz_check_err("json_patch_apply", rc, &e);
		fz_check_outcome(&e);
		if (rc != ERR_BAD_REQUEST && rc != ERR_PATCH && rc != ERR_TOO_LARGE &&
		    !(rc == ERR_NOMEM && fz_ignored("patch-null"))) {
			fprintf(stderr, "*** json_patch_apply: %s\n", err_name(rc));
			fz_fail("json_patch_apply failed with an unexpected code", NULL, 0);
		}
		if (doc != doc_ptr || !json_object_equal(doc, before))
			fz_fail("a failed patch changed the document", NULL, 0);
	} else {
		fuzz_patch_check_result(doc);
	}
out:
	json_object_put(before);
	json_object_put(patch);
	json_object_put(doc);
	return 0;
}

#ifndef FZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_jsonpatch_one(data, size);
}
#endif
