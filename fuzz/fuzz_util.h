/*
 * fuzz_util.h — oracles shared by the libFuzzer targets and by
 * tests/unit/test_fuzz_regressions.c, so that a reproducer is judged by the
 * same rules wherever it is replayed.
 *
 * Besides "no crash, no leak, no undefined behaviour" (the sanitizers), the
 * targets check properties the code promises:
 *   - everything lienthong writes as JSON (OperationOutcomes, resources,
 *     response bodies) passes its own strict front door (json_check):
 *     well-formed, UTF-8, no raw control characters;
 *   - a function that fails reports an error code and at least one issue.
 * A broken promise calls fz_fail(), which prints what and aborts, so that
 * libFuzzer records the input as a crash.
 *
 * Header-only (static functions), included once per program.
 */
#ifndef LT_FUZZ_UTIL_H
#define LT_FUZZ_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "fhir/fhir.h"

/* In the regression test the oracles report instead of aborting. */
#ifdef FZ_NO_ABORT
extern int fz_failures;
#define FZ_ON_FAIL() (fz_failures++)
#else
#define FZ_ON_FAIL() abort()
#endif

static void fz_fail(const char *what, const char *detail, size_t n) __attribute__((unused));
static void fz_fail(const char *what, const char *detail, size_t n)
{
	fprintf(stderr, "\n*** fuzz oracle: %s\n", what);
	if (detail) {
		fprintf(stderr, "*** detail (%zu bytes): ", n);
		fwrite(detail, 1, n > 600 ? 600 : n, stderr);
		fputc('\n', stderr);
	}
	FZ_ON_FAIL();
}

/*
 * Findings reported but not fixed yet would stop every fuzzing run within
 * seconds. LT_FUZZ_IGNORE=tag,tag lets a run go on past them (never in the
 * regression test, never in CI once they are fixed):
 *   scalar-eof          json_parse refuses valid top-level scalars: a number
 *                       at the very end of the input ("0": "continue") and
 *                       null ("null": "continue", "null\n": "success")
 *   utf8-echo           an OperationOutcome quotes request bytes that are not
 *                       UTF-8 (path, method, headers, parameters)
 *   patch-amplification a JSON Patch builds a document larger than 16 MiB
 *   patch-null          a JSON Patch whose value is null fails with ERR_NOMEM
 *                       (503 through the API): json-c cannot deep-copy NULL
 *   patch-depth         a JSON Patch builds a document deeper than 256 levels
 *                       (copying a chain into its own leaf doubles its depth;
 *                       about 245,000 levels overflow the stack)
 */
static int fz_ignored(const char *tag) __attribute__((unused));
static int fz_ignored(const char *tag)
{
#ifdef FZ_NO_ABORT
	(void)tag;
	return 0;
#else
	const char *list = getenv("LT_FUZZ_IGNORE");
	size_t n = strlen(tag);

	for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (strncmp(p, tag, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return 1;
	return 0;
#endif
}

/* The JSON depth lienthong can itself produce: 256 is json.c's hard cap. */
#define FZ_OUTPUT_MAX_DEPTH 256

/* Text that lienthong emits as JSON must pass its own strict check. */
static int fz_require_json(const char *what, const char *p, size_t n) __attribute__((unused));
static int fz_require_json(const char *what, const char *p, size_t n)
{
	struct err e = { 0 };

	if (json_check(p, n, FZ_OUTPUT_MAX_DEPTH, &e) == 0)
		return 0;
	if (fz_ignored("utf8-echo")) {	/* the same text with every byte >= 0x80 made ASCII */
		char *ascii = malloc(n ? n : 1);
		int ok;

		if (!ascii)
			return 0;
		for (size_t i = 0; i < n; i++)
			ascii[i] = (unsigned char)p[i] >= 0x80 ? 'x' : p[i];
		err_clear(&e);
		ok = json_check(ascii, n, FZ_OUTPUT_MAX_DEPTH, &e) == 0;
		free(ascii);
		if (ok)
			return 0;
	}
	fprintf(stderr, "\n*** %s: %s\n", what, e.issue[0].diagnostics);
	fz_fail("emitted JSON that lienthong's own strict parser rejects", p, n);
	return -1;
}

/* An error must carry a code and something to say. */
static void fz_check_err(const char *what, int rc, const struct err *e) __attribute__((unused));
static void fz_check_err(const char *what, int rc, const struct err *e)
{
	if (!rc)
		return;
	if (e->code == ERR_OK || e->n_issues < 1) {
		fprintf(stderr, "\n*** %s returned %d (%s) with err.code=%d n_issues=%d\n", what, rc,
			err_name(rc), e->code, e->n_issues);
		fz_fail("an error without a code or an issue", NULL, 0);
	}
}

/* The OperationOutcome of e must be strict JSON. */
static void fz_check_outcome(const struct err *e) __attribute__((unused));
static void fz_check_outcome(const struct err *e)
{
	struct buf b;

	buf_init(&b, 0);
	if (fhir_outcome_write(&b, e, 0) == 0)
		fz_require_json("OperationOutcome", b.p ? b.p : "", b.n);
	else
		fz_fail("fhir_outcome_write failed", NULL, 0);
	buf_release(&b);
}

#endif
