/* JSON Patch: our own cases, then the official FHIR JSON Patch tests from
 * ../shared/data/fhirpath/json-patch-tests-r4.json (skipped visibly without it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "base/json.h"
#include "base/jsonpatch.h"

static struct json_object *parse(const char *s)
{
	struct json_object *o = NULL;
	struct err e = { 0 };

	assert_int_equal(json_parse(s, strlen(s), 64, &o, &e), 0);
	return o;
}

static void expect_patch(const char *doc, const char *patch, const char *want, int want_rc)
{
	struct json_object *d = parse(doc), *p = parse(patch), *before = parse(doc);
	struct err e = { 0 };
	int rc = json_patch_apply(&d, p, &e);

	assert_int_equal(rc, want_rc);
	if (want) {
		struct json_object *w = parse(want);
		if (!json_object_equal(d, w))
			fail_msg("got %s want %s", json_object_to_json_string(d), want);
		json_object_put(w);
	}
	if (rc)	/* a failed patch changes nothing */
		assert_true(json_object_equal(d, before));
	json_object_put(d);
	json_object_put(p);
	json_object_put(before);
}

static void operations(void **state)
{
	expect_patch("{\"a\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/a/1\",\"value\":9}]", "{\"a\":[1,9,2]}", 0);
	expect_patch("{\"a\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/a/-\",\"value\":3}]", "{\"a\":[1,2,3]}", 0);
	expect_patch("{\"a\":[1,2]}", "[{\"op\":\"remove\",\"path\":\"/a/0\"}]", "{\"a\":[2]}", 0);
	expect_patch("{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":{\"b\":1.50}}]", "{\"a\":{\"b\":1.50}}", 0);
	expect_patch("{\"a\":{\"b\":1},\"c\":[]}", "[{\"op\":\"move\",\"from\":\"/a/b\",\"path\":\"/c/0\"}]",
		     "{\"a\":{},\"c\":[1]}", 0);
	expect_patch("{\"a\":[1]}", "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/b\"}]", "{\"a\":[1],\"b\":[1]}", 0);
	expect_patch("{\"a/b\":1,\"m~n\":2}", "[{\"op\":\"remove\",\"path\":\"/a~1b\"},{\"op\":\"test\",\"path\":\"/m~0n\",\"value\":2}]",
		     "{\"m~n\":2}", 0);
	/* failures leave the document as it was, even after earlier ops succeeded */
	expect_patch("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/b\",\"value\":2},{\"op\":\"test\",\"path\":\"/a\",\"value\":2}]",
		     NULL, ERR_PATCH);
	expect_patch("{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"/zz\"}]", NULL, ERR_PATCH);
	expect_patch("{\"a\":[1]}", "[{\"op\":\"add\",\"path\":\"/a/5\",\"value\":1}]", NULL, ERR_PATCH);
	expect_patch("{\"a\":[1]}", "[{\"op\":\"add\",\"path\":\"/a/01\",\"value\":1}]", NULL, ERR_PATCH);
	expect_patch("{\"a\":{}}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a/b\"}]", NULL, ERR_PATCH);
	expect_patch("{}", "[{\"op\":\"frobnicate\",\"path\":\"/a\"}]", NULL, ERR_BAD_REQUEST);
	expect_patch("{}", "[{\"op\":\"add\",\"path\":\"/a\"}]", NULL, ERR_BAD_REQUEST);
	expect_patch("{}", "{\"op\":\"add\"}", NULL, ERR_BAD_REQUEST);
	expect_patch("{}", "[{\"op\":\"add\",\"path\":\"a\",\"value\":1}]", NULL, ERR_BAD_REQUEST);
}

/* null is a value: it can be added, replaced, tested, removed and copied. */
static void null_values(void **state)
{
	expect_patch("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/b\",\"value\":null}]", "{\"a\":1,\"b\":null}", 0);
	expect_patch("{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":null}]", "{\"a\":null}", 0);
	expect_patch("{\"a\":null}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":null},{\"op\":\"remove\",\"path\":\"/a\"}]", "{}", 0);
	expect_patch("{\"g\":[\"x\",null]}", "[{\"op\":\"copy\",\"from\":\"/g/1\",\"path\":\"/h\"}]",
		     "{\"g\":[\"x\",null],\"h\":null}", 0);
	expect_patch("{\"a\":null}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/b\"}]", "{\"b\":null}", 0);
}

/* Copying a subtree into itself doubles its depth: refused past the limit
 * rather than recursing until the stack ends. */
static void depth_is_bounded(void **state)
{
	char patch[8192], path[400];
	size_t n = 0, p = 0;

	p += (size_t)snprintf(path + p, sizeof(path) - p, "/a");
	for (int i = 0; i < 60; i++)
		p += (size_t)snprintf(path + p, sizeof(path) - p, "/0");
	n += (size_t)snprintf(patch + n, sizeof(patch) - n, "[{\"op\":\"add\",\"path\":\"/a\",\"value\":");
	for (int i = 0; i < 60; i++)
		patch[n++] = '[';
	patch[n++] = '1';
	for (int i = 0; i < 60; i++)
		patch[n++] = ']';
	for (int i = 0; i < 12; i++)
		n += (size_t)snprintf(patch + n, sizeof(patch) - n,
				      "},{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"%s\"", path);
	n += (size_t)snprintf(patch + n, sizeof(patch) - n, "}]");
	expect_patch("{}", patch, NULL, ERR_PATCH);
}

/* F9: the growth budget counts each node as JSON_PATCH_NODE_WEIGHT bytes. A
 * patch of doublings (each copy appends the array to itself) is refused
 * before the document holds 2^18 nodes; counting a node as one byte let it
 * reach 2^24 (285 MB in json-c, 2 s of CPU, from a 1 KB request). */
static void growth_counts_nodes(void **state)
{
	struct json_object *doc = parse("{\"a\":[0]}"), *patch = json_object_new_array();
	struct err e = { 0 };
	int op = -1;

	(void)state;
	for (int i = 0; i < 40; i++)
		json_object_array_add(patch, parse("{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/a/-\"}"));
	assert_int_equal(json_patch_apply(&doc, patch, &e), ERR_PATCH);
	assert_int_equal(sscanf(e.issue[0].diagnostics, "copy operation %d", &op), 1);
	assert_true(op >= 10 && op <= 18);
	json_object_put(doc);
	json_object_put(patch);
}

static void official_fhir_json_patch_tests(void **state)
{
	const char *dir = getenv("LT_SHARED_DIR");
	char path[1024];
	struct json_object *cases = NULL;
	FILE *f;
	long n;
	char *text;
	struct err e = { 0 };
	size_t passed = 0;

	snprintf(path, sizeof(path), "%s/data/fhirpath/json-patch-tests-r4.json", dir ? dir : "../shared");
	f = fopen(path, "rb");
	if (!f) {
		printf("SKIP: %s not found (needs ../shared/data)\n", path);
		skip();
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = malloc((size_t)n);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	assert_int_equal(json_parse(text, (size_t)n, 64, &cases, &e), 0);
	free(text);
	for (size_t i = 0; i < json_object_array_length(cases); i++) {
		struct json_object *c = json_object_array_get_idx(cases, i), *doc, *patch, *expected, *copy = NULL;
		int rc;

		json_object_object_get_ex(c, "doc", &doc);
		json_object_object_get_ex(c, "patch", &patch);
		assert_int_equal(json_object_deep_copy(doc, &copy, NULL), 0);
		rc = json_patch_apply(&copy, patch, &e);
		if (json_object_object_get_ex(c, "expected", &expected)) {
			if (rc || !json_object_equal(copy, expected))
				fail_msg("case '%s' failed", json_get_str(c, "comment"));
		} else if (rc == 0)
			fail_msg("case '%s' should have failed", json_get_str(c, "comment"));
		json_object_put(copy);
		passed++;
	}
	printf("official JSON Patch cases passed: %zu\n", passed);
	assert_true(passed >= 10);
	json_object_put(cases);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(operations),
		cmocka_unit_test(null_values),
		cmocka_unit_test(depth_is_bounded),
		cmocka_unit_test(growth_counts_nodes),
		cmocka_unit_test(official_fhir_json_patch_tests),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
