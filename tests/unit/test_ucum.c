/*
 * test_ucum.c — UCUM codes to canonical units (src/fhir/ucum.c): the
 * conversions clinical quantities need, and codes refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "fhir/ucum.h"

/* value (in code) in canonical units, and its canonical code. */
static double canon_of(const char *code, double value, char canon[FHIR_UCUM_CANON_MAX])
{
	double f = 0, off = 0;

	if (fhir_ucum_canonical(code, strlen(code), &f, &off, canon) != 0)
		fail_msg("'%s' was refused", code);
	return value * f + off;
}

/* a (in code_a) equals b (in code_b), to 1e-9 relative. */
static void same(const char *code_a, double a, const char *code_b, double b)
{
	char ca[FHIR_UCUM_CANON_MAX], cb[FHIR_UCUM_CANON_MAX];
	double x = canon_of(code_a, a, ca), y = canon_of(code_b, b, cb);

	assert_string_equal(ca, cb);
	if (fabs(x - y) > 1e-9 * fmax(fabs(x), fabs(y)))
		fail_msg("%g %s = %.12g, %g %s = %.12g", a, code_a, x, b, code_b, y);
}

static void conversions(void **state)
{
	(void)state;
	same("mmol/L", 5.4, "umol/L", 5400);		/* glucose */
	same("mg/dL", 100, "g/L", 1);
	same("mg/dL", 90, "mg/L", 900);
	same("kg", 65, "g", 65000);
	same("[lb_av]", 1, "g", 453.59237);
	same("mm[Hg]", 150, "kPa", 19.9983);
	same("cm[H2O]", 10, "Pa", 980.665);
	same("Cel", 38.5, "K", 311.65);
	same("[degF]", 98.6, "Cel", 37);
	same("[in_i]", 70, "cm", 177.8);
	same("10*9/L", 7.5, "10*3/uL", 7.5);		/* white cells */
	same("10^9/L", 7.5, "/nL", 7.5);
	same("%", 6.5, "1", 0.065);
	same("mL/min/{1.73_m2}", 90, "L/min", 0.09);	/* eGFR: annotations are 1 */
	same("{cells}/uL", 4000, "/mL", 4e6);
	same("kg/m2", 22, "g.m-2", 22000);
	same("/min", 72, "Hz", 1.2);
	same("m[IU]/mL", 5, "[iU]/L", 5);
	same("U/L", 40, "ukat/L", 40.0 / 60);
	same("mo", 12, "a", 1);
	same("(kg.m)/s2", 1, "N", 1);
}

static void canonical_codes(void **state)
{
	char c[FHIR_UCUM_CANON_MAX];

	(void)state;
	canon_of("mmol/L", 1, c);
	assert_string_equal(c, "m-3.mol");
	canon_of("mg/dL", 1, c);
	assert_string_equal(c, "m-3.g");
	canon_of("%", 1, c);
	assert_string_equal(c, "1");
	canon_of("mm[Hg]", 1, c);
	assert_string_equal(c, "m-1.s-2.g");
}

static void refused(void **state)
{
	static const char *const bad[] = {
		"", "foo", "mmol/", "/", "kg..m", "(kg", "kg)", "mIU/mL", "10*", "Cel/h", "Cel2",
		"mCel", "[lb_av", "{unclosed", "kmin", "m999", "0", "mg/dL extra",
	};
	char c[FHIR_UCUM_CANON_MAX];
	double f, off;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (fhir_ucum_canonical(bad[i], strlen(bad[i]), &f, &off, c) == 0)
			fail_msg("'%s' was accepted as %s", bad[i], c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(conversions),
		cmocka_unit_test(canonical_codes),
		cmocka_unit_test(refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
