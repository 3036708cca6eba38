/*
 * test_fuzz_regressions.c — replays every input kept in
 * tests/data/fuzz-regressions/<target>/ through the same code as the
 * libFuzzer target of that name (fuzz/<target>.c is included here, its
 * oracles counting failures instead of aborting). Under the sanitizer build
 * a crash, a leak or undefined behaviour fails the test as well.
 *
 * A reproducer is added when a fuzzer finds something (see fuzz/README.md);
 * it fails here until the bug is fixed, then guards against its return.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define FZ_NO_ENTRY
#define FZ_NO_ABORT
int fz_failures;

#include "../../fuzz/fuzz_json.c"
#include "../../fuzz/fuzz_validate.c"
#include "../../fuzz/fuzz_jsonpatch.c"
#include "../../fuzz/fuzz_api.c"
#include "../../fuzz/fuzz_hl7v2.c"
#include "../../fuzz/fuzz_mllp.c"
#include "../../fuzz/fuzz_jwt.c"

typedef int (*fuzz_one_fn)(const uint8_t *data, size_t size);

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays every file of tests/data/fuzz-regressions/<target>; returns how
 * many broke an oracle. */
static int replay_dir(const char *target, fuzz_one_fn fn)
{
	const char *src = getenv("LT_SOURCE_DIR");
	char dir[1024], path[1400];
	char *names[512];
	int n = 0, broken = 0;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/tests/data/fuzz-regressions/%s", src ? src : ".", target);
	d = opendir(dir);
	if (!d) {
		print_message("%s: no directory %s (set LT_SOURCE_DIR)\n", target, dir);
		return 1;
	}
	while ((de = readdir(d)) != NULL && n < (int)(sizeof(names) / sizeof(names[0])))
		if (de->d_name[0] != '.')
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), by_name);
	for (int i = 0; i < n; i++) {
		FILE *f;
		uint8_t *data = NULL;
		long size;
		int before = fz_failures;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		f = fopen(path, "rb");
		if (!f || fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
		    !(data = malloc((size_t)size + 1)) || fread(data, 1, (size_t)size, f) != (size_t)size) {
			print_message("%s: cannot read %s\n", target, path);
			fz_failures++;
		} else {
			fn(data, (size_t)size);
		}
		if (f)
			fclose(f);
		free(data);
		if (fz_failures != before) {
			print_message("[ FAILED   ] %s/%s\n", target, names[i]);
			broken++;
		} else {
			print_message("[       OK ] %s/%s\n", target, names[i]);
		}
		free(names[i]);
	}
	return broken;
}

static void json_regressions(void **state)
{
	assert_int_equal(replay_dir("fuzz_json", fuzz_json_one), 0);
}

static void hl7v2_regressions(void **state)
{
	assert_int_equal(replay_dir("fuzz_hl7v2", fuzz_hl7v2_one), 0);
}

static void mllp_regressions(void **state)
{
	assert_int_equal(replay_dir("fuzz_mllp", fuzz_mllp_one), 0);
}

static void jwt_regressions(void **state)
{
	assert_int_equal(replay_dir("fuzz_jwt", fuzz_jwt_one), 0);
}

static void validate_regressions(void **state)
{
	assert_int_equal(replay_dir("fuzz_validate", fuzz_validate_one), 0);
}

static void jsonpatch_regressions(void **state)
{
	assert_int_equal(replay_dir("fuzz_jsonpatch", fuzz_jsonpatch_one), 0);
}

/*
 * Found next to the fuzz_jsonpatch finding "patch-null": json-c represents
 * the JSON value null as NULL, and jsonpatch.c took a NULL child for an
 * absent one (and could not copy it). RFC 6902 operations on a member whose
 * value is null must work as on any other value (FHIR keeps such nulls in
 * primitive arrays aligned with their _x extensions: "given":["a",null]).
 */
static void jsonpatch_null_members(void **state)
{
	static const struct {
		const char *doc, *patch, *want;
	} cases[] = {
		{ "{}", "[{\"op\":\"add\",\"path\":\"/a\",\"value\":null}]", "{\"a\":null}" },
		{ "{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":null}]", "{\"a\":null}" },
		{ "{\"a\":null,\"b\":1}", "[{\"op\":\"remove\",\"path\":\"/a\"}]", "{\"b\":1}" },
		{ "{\"a\":[1,null,3]}", "[{\"op\":\"remove\",\"path\":\"/a/1\"}]", "{\"a\":[1,3]}" },
		{ "{\"a\":null}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":null}]", "{\"a\":null}" },
		{ "{\"a\":null}", "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":2}]", "{\"a\":2}" },
		{ "{\"a\":null}", "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/b\"}]", "{\"a\":null,\"b\":null}" },
		{ "{\"a\":null}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/b\"}]", "{\"b\":null}" },
	};
	int broken = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *doc = NULL, *patch = NULL, *want = NULL;
		struct err e = { 0 };
		int rc;

		assert_int_equal(json_parse(cases[i].doc, strlen(cases[i].doc), 64, &doc, &e), 0);
		assert_int_equal(json_parse(cases[i].patch, strlen(cases[i].patch), 64, &patch, &e), 0);
		assert_int_equal(json_parse(cases[i].want, strlen(cases[i].want), 64, &want, &e), 0);
		rc = json_patch_apply(&doc, patch, &e);
		if (rc || !json_object_equal(doc, want)) {
			print_message("[ FAILED   ] %s on %s: %s (%s), got %s\n", cases[i].patch, cases[i].doc,
				      err_name(rc), rc ? e.issue[0].diagnostics : "",
				      json_object_to_json_string(doc));
			broken++;
		}
		json_object_put(doc);
		json_object_put(patch);
		json_object_put(want);
	}
	assert_int_equal(broken, 0);
}

static void api_regressions(void **state)
{
	int broken = replay_dir("fuzz_api", fuzz_api_one);

	fuzz_api_close();
	assert_int_equal(broken, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_regressions),
		cmocka_unit_test(validate_regressions),
		cmocka_unit_test(jsonpatch_regressions),
		cmocka_unit_test(jsonpatch_null_members),
		cmocka_unit_test(api_regressions),
		cmocka_unit_test(hl7v2_regressions),
		cmocka_unit_test(mllp_regressions),
		cmocka_unit_test(jwt_regressions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
