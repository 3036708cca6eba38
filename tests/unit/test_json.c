/* The strict JSON front door: what json-c alone would let through must fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "base/json.h"
#include "testdata.h"

static int check(const char *s) { struct err e = { 0 }; return json_check(s, strlen(s), 64, &e); }

static void accepts_valid_json(void **state)
{
	const char *ok[] = { "{}", "[]", "{\"a\":[1,2.50,-0.1e-3,true,false,null]}", " \"x\" ",
			     "{\"name\":\"Nguy\xe1\xbb\x85n\"}", "{\"e\":\"\\ud83d\\ude00 \\u00e9 \\n\"}",
			     "9223372036854775807", "-9223372036854775808", "1e400" };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(check(ok[i]), 0);
}

static void rejects_what_json_c_would_take(void **state)
{
	const char *bad[] = { "", "{", "{\"a\":1,}", "[1,]", "{'a':1}", "NaN", "[Infinity]", "[01]",
			      "[1.]", "[.5]", "{\"a\" 1}", "[1] x", "\"\\x41\"", "\"a\tb\"",
			      "\"\\u0000\"", "\"\\ud800\"", "\"\\udc00\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"",
			      "\"\xf4\x90\x80\x80\"", "\"\xe1\xbb\"", "9223372036854775808",
			      "-9223372036854775809", "123456789012345678901", "/* c */ {}", "{\"a\":1}}",
			      "[1}", "\xef\xbb\xbf{}" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct err e = { 0 };
		int rc = json_check(bad[i], strlen(bad[i]), 64, &e);
		if (rc == 0)
			fail_msg("accepted invalid JSON #%zu: %s", i, bad[i]);
		assert_int_equal(rc, ERR_JSON);
		assert_true(e.n_issues == 1 && strstr(e.issue[0].diagnostics, "byte"));
	}
}

static void depth_limit_is_exact(void **state)
{
	char deep[300];
	struct err e = { 0 };
	struct json_object *o = NULL;

	memset(deep, '[', 64);
	memset(deep + 64, ']', 64);
	assert_int_equal(json_parse(deep, 128, 64, &o, &e), 0);
	json_object_put(o);
	memset(deep, '[', 65);
	memset(deep + 65, ']', 65);
	assert_int_equal(json_parse(deep, 130, 64, &o, &e), ERR_TOO_DEEP);
	assert_null(o);
}

static void decimals_round_trip_exactly(void **state)
{
	const char *in = "{\"a\":1.50,\"b\":0.10,\"c\":1e2,\"d\":-0.0,\"e\":3.141592653589793238462643383279}";
	struct json_object *o;
	struct err e = { 0 };
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(json_parse(in, strlen(in), 64, &o, &e), 0);
	assert_int_equal(json_write(&b, o, 0), 0);
	assert_string_equal(b.p, in);
	json_object_put(o);
	buf_release(&b);
}

static void writes_escaped_strings(void **state)
{
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(json_write_string(&b, "a\"b\\c\n\x01 \xc3\xa9"), 0);
	assert_string_equal(b.p, "\"a\\\"b\\\\c\\u000a\\u0001 \xc3\xa9\"");
	buf_release(&b);
}

static void duplicate_keys_are_named(void **state)
{
	const char *bad[] = { "{\"resourceType\":\"Patient\",\"active\":true,\"active\":false}",
			      "[{\"a\":{\"b\":1,\"c\":2,\"b\":3}}]", "{\"a\":1,\"\\u0061\":2}" };
	const char *name[] = { "\"active\"", "\"b\"", NULL };
	struct json_object *o = NULL;

	for (size_t i = 0; i < 3; i++) {
		struct err e = { 0 };
		assert_int_equal(json_parse(bad[i], strlen(bad[i]), 64, &o, &e), ERR_JSON);
		assert_null(o);
		assert_non_null(strstr(e.issue[0].diagnostics, "twice"));
		if (name[i])
			assert_non_null(strstr(e.issue[0].diagnostics, name[i]));
	}
	/* the same key in sibling objects is fine */
	{
		const char *ok = "[{\"a\":1},{\"a\":2,\"b\":{\"a\":3}}]";
		struct err e = { 0 };
		assert_int_equal(json_parse(ok, strlen(ok), 64, &o, &e), 0);
		json_object_put(o);
	}
}

static void buffer_limit_is_enforced(void **state)
{
	struct buf b;

	buf_init(&b, 8);
	assert_int_equal(buf_puts(&b, "12345678"), 0);
	assert_int_equal(buf_putc(&b, '9'), ERR_TOO_LARGE);
	assert_int_equal(b.n, 8);
	assert_string_equal(b.p, "12345678");
	buf_release(&b);
}

/* json_write's compact form is its own writer: it must give json-c's
 * bytes exactly (stored resources did, and must stay comparable). */
static void assert_same_as_json_c(struct json_object *o)
{
	const char *want = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							      JSON_C_TO_STRING_NOSLASHESCAPE);
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(json_write(&b, o, 0), 0);
	assert_string_equal(b.p, want);
	buf_release(&b);
}

static void compact_writer_matches_json_c(void **state)
{
	const char *in = "{\"s\":\"a\\\"b\\\\c\\/d\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f \xc3\xa9 \\u00e9\","
			 "\"k\\\"ey\\n\":[],\"e\":{},\"n\":[1.50,-0,-0.0,1e400,0,-9223372036854775808,"
			 "9223372036854775807,2E-3],\"b\":[true,false,null],\"x\":[[[{\"a\":[{}]}]]]}";
	struct json_object *o, *built;
	struct err e = { 0 };
	const char *shared = getenv("LT_SHARED_DIR");
	char dir[4096];
	DIR *d;
	struct dirent *de;
	int files = 0;

	assert_int_equal(json_parse(in, strlen(in), 64, &o, &e), 0);
	assert_same_as_json_c(o);
	json_object_put(o);
	/* Built in memory rather than parsed: doubles without their text, uint64. */
	built = json_object_new_object();
	json_object_object_add(built, "d", json_object_new_double(0.1));
	json_object_object_add(built, "u", json_object_new_uint64(UINT64_MAX));
	json_object_object_add(built, "i", json_object_new_int64(INT64_MAX));
	json_object_object_add(built, "null", NULL);
	assert_same_as_json_c(built);
	json_object_put(built);
	/* Every Synthea bundle, when ../shared is there. */
	if (!shared || td_join(dir, sizeof(dir), shared, "/data/synthea") || !(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		char path[8192];
		size_t n = 0;
		char *text;

		if (!strstr(de->d_name, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		text = td_slurp(path, &n);
		assert_non_null(text);
		assert_int_equal(json_parse(text, n, 64, &o, &e), 0);
		assert_same_as_json_c(o);
		json_object_put(o);
		free(text);
		files++;
	}
	closedir(d);
	assert_true(files > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(accepts_valid_json),
		cmocka_unit_test(rejects_what_json_c_would_take),
		cmocka_unit_test(depth_limit_is_exact),
		cmocka_unit_test(decimals_round_trip_exactly),
		cmocka_unit_test(writes_escaped_strings),
		cmocka_unit_test(duplicate_keys_are_named),
		cmocka_unit_test(buffer_limit_is_enforced),
		cmocka_unit_test(compact_writer_matches_json_c),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
