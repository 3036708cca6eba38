/*
 * fuzz_json.c — the strict JSON front door (src/base/json.c).
 *
 * Input: any bytes, handed to json_parse() as a request body would be.
 * Oracles, besides the sanitizers:
 *   - json_check() and json_parse() agree: a text json_parse accepts passes
 *     json_check; a text json_check accepts but json_parse refuses must be a
 *     duplicate key (the one thing json_check leaves to json_parse) — or a
 *     top-level null, which json_parse may refuse with a reason of its own
 *     or accept with *out = NULL (json-c's null);
 *   - a refusal carries ERR_JSON or ERR_TOO_DEEP and a diagnostic, and its
 *     OperationOutcome is strict JSON;
 *   - what json_write() produces from an accepted text (compact and pretty)
 *     is strict JSON again and parses back to an equal tree.
 */
#include <stddef.h>
#include <stdint.h>
#include "fuzz_util.h"

/* Whether the text is the JSON literal null (json-c's tree for it is NULL). */
static int fuzz_json_is_null(const char *p, size_t n)
{
	size_t a = 0, z = n;

	while (a < z && (p[a] == ' ' || p[a] == '\t' || p[a] == '\r' || p[a] == '\n'))
		a++;
	while (z > a && (p[z - 1] == ' ' || p[z - 1] == '\t' || p[z - 1] == '\r' || p[z - 1] == '\n'))
		z--;
	return z - a == 4 && memcmp(p + a, "null", 4) == 0;
}

/* Finding "scalar-eof": a text that parses once a newline follows it, or
 * null refused with json-c's state as the reason. */
static int fuzz_json_known_scalar_eof(const char *p, size_t n)
{
	struct json_object *o = NULL;
	struct err e = { 0 };
	char *copy;
	int ok;

	if (!fz_ignored("scalar-eof"))
		return 0;
	if (fuzz_json_is_null(p, n))
		return 1;
	if (!(copy = malloc(n + 1)))
		return 0;
	memcpy(copy, p, n);
	copy[n] = '\n';
	ok = json_parse(copy, n + 1, FZ_OUTPUT_MAX_DEPTH, &o, &e) == 0;
	json_object_put(o);
	free(copy);
	return ok;
}

static void fuzz_json_roundtrip(struct json_object *o, int pretty)
{
	struct json_object *back = NULL;
	struct err e = { 0 };
	struct buf b;

	buf_init(&b, 0);
	if (json_write(&b, o, pretty)) {
		fz_fail("json_write failed on a parsed tree", NULL, 0);
		goto out;
	}
	if (fz_require_json(pretty ? "json_write (pretty)" : "json_write", b.p, b.n))
		goto out;
	if (json_parse(b.p, b.n, FZ_OUTPUT_MAX_DEPTH, &back, &e)) {
		if (fuzz_json_known_scalar_eof(b.p, b.n))
			goto out;
		fprintf(stderr, "*** reparse: %s\n", e.issue[0].diagnostics);
		fz_fail("json_write output does not parse back", b.p, b.n);
		goto out;
	}
	if (!json_object_equal(o, back))
		fz_fail("json_write output parses back to a different tree", b.p, b.n);
out:
	json_object_put(back);
	buf_release(&b);
}

static int fuzz_json_one(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct json_object *o = (struct json_object *)1;	/* must be reset to NULL on failure */
	struct err e = { 0 }, ec = { 0 };
	int rc, rc_check;

	rc = json_parse(p, size, JSON_DEFAULT_MAX_DEPTH, &o, &e);
	rc_check = json_check(p, size, JSON_DEFAULT_MAX_DEPTH, &ec);
	if (rc == 0) {
		if (rc_check)
			fz_fail("json_parse accepted what json_check refuses", p, size);
		if (!o) {	/* json-c's tree for null */
			if (!fuzz_json_is_null(p, size))
				fz_fail("json_parse returned 0 and no tree", p, size);
			return 0;
		}
		fuzz_json_roundtrip(o, 0);
		fuzz_json_roundtrip(o, 1);
		json_object_put(o);
		return 0;
	}
	if (o)
		fz_fail("json_parse failed but left *out set", p, size);
	fz_check_err("json_parse", rc, &e);
	fz_check_outcome(&e);
	if (rc != ERR_JSON && rc != ERR_TOO_DEEP && rc != ERR_TOO_LARGE) {
		fprintf(stderr, "*** json_parse: %s (%s)\n", err_name(rc), e.issue[0].diagnostics);
		fz_fail("json_parse failed with an unexpected code", p, size);
	}
	/* A top-level null may be refused (lienthong never wants one), but not
	 * with json-c's tokener state ("continue", "success") as the reason. */
	if (rc_check == 0 && fuzz_json_is_null(p, size) && !strstr(e.issue[0].diagnostics, ": continue") &&
	    !strstr(e.issue[0].diagnostics, ": success"))
		return 0;
	if (rc_check == 0 && !strstr(e.issue[0].diagnostics, "appears twice") &&
	    !fuzz_json_known_scalar_eof(p, size)) {
		fprintf(stderr, "*** json_parse: %s\n", e.issue[0].diagnostics);
		fz_fail("json_check accepts but json_parse refuses, and not for a duplicate key", p,
			size);
	}
	if (rc_check && rc_check != rc)
		fz_fail("json_check and json_parse refuse with different codes", p, size);
	return 0;
}

#ifndef FZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_json_one(data, size);
}
#endif
