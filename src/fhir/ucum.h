/*
 * ucum.h — UCUM unit codes to canonical units, so that quantity search
 * compares 5.4 mmol/L with 5400 umol/L (decision 0025).
 *
 * A code is parsed by UCUM's grammar (terms joined by '.' and '/',
 * integer exponents, parentheses, prefixes, {annotations}, factors such as
 * 10*3) over the atoms clinical data use: the base units (m s g rad K C cd),
 * mol, litre, time, the SI derived units, %, ppm, mm[Hg], cm[H2O], the
 * customary length and mass units, Cel and [degF], and the arbitrary units
 * ([iU], [IU], [arb'U]), which convert only among themselves. A code it
 * does not know is not converted: the search then matches codes as they are.
 */
#ifndef LT_FHIR_UCUM_H
#define LT_FHIR_UCUM_H

#include <stddef.h>

#define FHIR_UCUM_SYSTEM "http://unitsofmeasure.org"
#define FHIR_UCUM_CANON_MAX 96	/* bytes of a canonical code, NUL included */

/*
 * The canonical form of the n bytes of code: value_in_canonical =
 * value * factor + offset (offset is 0 except for Cel and [degF], which
 * must stand alone), and canon, a NUL-terminated code of the base units
 * with their exponents ("g.m-3", "m-3" for mmol/L, "1" for none). Returns
 * 0, or -1 when code is not a UCUM code this module knows.
 */
int fhir_ucum_canonical(const char *code, size_t n, double *factor, double *offset,
			char canon[FHIR_UCUM_CANON_MAX]);

#endif
