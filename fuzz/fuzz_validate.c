/*
 * fuzz_validate.c — FHIR R4 structural validation (src/fhir/validate.c).
 *
 * Input: a JSON text. It goes through json_parse() exactly as a request body
 * does; every JSON object found at the top (the value itself, or each item
 * of a top-level array) is handed to fhir_validate(), whatever it holds.
 * Oracles, besides the sanitizers:
 *   - fhir_validate() returns 0 with no issue, or ERR_INVALID with at least
 *     one issue; the verdict is the same with and without a struct err;
 *   - the OperationOutcome built from the issues (diagnostics quote the
 *     input, expressions name its keys) is strict JSON: cut strings must not
 *     split a UTF-8 sequence, keys must be escaped.
 */
#include <stddef.h>
#include <stdint.h>
#include "fuzz_util.h"

static void fuzz_validate_object(struct json_object *o)
{
	struct err e = { 0 };
	int rc = fhir_validate(o, &e), rc_quiet = fhir_validate(o, NULL);

	if (rc != 0 && rc != ERR_INVALID) {
		fprintf(stderr, "*** fhir_validate returned %d (%s)\n", rc, err_name(rc));
		fz_fail("fhir_validate returned an unexpected code", NULL, 0);
	}
	if (rc == 0 && (e.code != ERR_OK || e.n_issues))
		fz_fail("fhir_validate accepted but reported issues", NULL, 0);
	if (rc != rc_quiet)
		fz_fail("fhir_validate gives another verdict without a struct err", NULL, 0);
	fz_check_err("fhir_validate", rc, &e);
	if (rc)
		fz_check_outcome(&e);
}

static int fuzz_validate_one(const uint8_t *data, size_t size)
{
	struct json_object *o = NULL;
	struct err e = { 0 };

	if (json_parse((const char *)data, size, JSON_DEFAULT_MAX_DEPTH, &o, &e))
		return 0;
	if (json_object_is_type(o, json_type_object)) {
		fuzz_validate_object(o);
	} else if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0, n = json_object_array_length(o); i < n && i < 16; i++) {
			struct json_object *item = json_object_array_get_idx(o, i);

			if (json_object_is_type(item, json_type_object))
				fuzz_validate_object(item);
		}
	}
	json_object_put(o);
	return 0;
}

#ifndef FZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_validate_one(data, size);
}
#endif
