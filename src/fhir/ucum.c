/*
 * ucum.c — UCUM codes to canonical units (ucum.h, decision 0025).
 *
 * A unit is a factor and a vector of exponents over the dimensions below.
 * The grammar is UCUM's (https://ucum.org/ucum, §2): a term is components
 * joined by '.' (times) and '/' (divided by), a leading '/' meaning 1/...;
 * a component is an annotation {..} (1), a factor (digits, 10*N or 10^N),
 * a parenthesised term, or a unit atom with an optional prefix and an
 * optional integer exponent. The atoms are those of clinical data (the
 * table); their values are UCUM's. mol is kept as a dimension of its own
 * rather than UCUM's 6.0221367e23: counts and amounts of substance are not
 * compared.
 */
#include "ucum.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { D_M, D_S, D_G, D_RAD, D_K, D_C, D_CD, D_MOL, D_IU, D_COUNT };
static const char *const dim_code[D_COUNT] = { "m", "s", "g", "rad", "K", "C", "cd", "mol", "[iU]" };

#define UCUM_MAX_DEPTH 8	/* nested parentheses */
#define UCUM_MAX_EXP 12		/* |exponent| of an atom or of a result */

struct unit {
	double factor;
	signed char e[D_COUNT];
};

/* An atom: its code, whether metric (takes prefixes), its factor and
 * exponents in terms of the dimensions. */
struct atom {
	const char *code;
	unsigned char metric;
	double factor;
	signed char e[D_COUNT];	/* m s g rad K C cd mol [iU] */
};

#define E(m, s, g, rad, k, c, cd, mol, iu) { m, s, g, rad, k, c, cd, mol, iu }
static const struct atom atoms[] = {
	/* base units */
	{ "m", 1, 1, E(1, 0, 0, 0, 0, 0, 0, 0, 0) },
	{ "s", 1, 1, E(0, 1, 0, 0, 0, 0, 0, 0, 0) },
	{ "g", 1, 1, E(0, 0, 1, 0, 0, 0, 0, 0, 0) },
	{ "rad", 1, 1, E(0, 0, 0, 1, 0, 0, 0, 0, 0) },
	{ "K", 1, 1, E(0, 0, 0, 0, 1, 0, 0, 0, 0) },
	{ "C", 1, 1, E(0, 0, 0, 0, 0, 1, 0, 0, 0) },
	{ "cd", 1, 1, E(0, 0, 0, 0, 0, 0, 1, 0, 0) },
	/* amount of substance, volume, time */
	{ "mol", 1, 1, E(0, 0, 0, 0, 0, 0, 0, 1, 0) },
	{ "eq", 1, 1, E(0, 0, 0, 0, 0, 0, 0, 1, 0) },
	{ "osm", 1, 1, E(0, 0, 0, 0, 0, 0, 0, 1, 0) },
	{ "L", 1, 1e-3, E(3, 0, 0, 0, 0, 0, 0, 0, 0) },
	{ "l", 1, 1e-3, E(3, 0, 0, 0, 0, 0, 0, 0, 0) },
	{ "min", 0, 60, E(0, 1, 0, 0, 0, 0, 0, 0, 0) },
	{ "h", 0, 3600, E(0, 1, 0, 0, 0, 0, 0, 0, 0) },
	{ "d", 0, 86400, E(0, 1, 0, 0, 0, 0, 0, 0, 0) },
	{ "wk", 0, 604800, E(0, 1, 0, 0, 0, 0, 0, 0, 0) },
	{ "mo", 0, 2629800, E(0, 1, 0, 0, 0, 0, 0, 0, 0) },	/* mean Julian month */
	{ "a", 0, 31557600, E(0, 1, 0, 0, 0, 0, 0, 0, 0) },	/* Julian year */
	/* SI derived */
	{ "Hz", 1, 1, E(0, -1, 0, 0, 0, 0, 0, 0, 0) },
	{ "N", 1, 1000, E(1, -2, 1, 0, 0, 0, 0, 0, 0) },
	{ "Pa", 1, 1000, E(-1, -2, 1, 0, 0, 0, 0, 0, 0) },
	{ "J", 1, 1000, E(2, -2, 1, 0, 0, 0, 0, 0, 0) },
	{ "W", 1, 1000, E(2, -3, 1, 0, 0, 0, 0, 0, 0) },
	{ "A", 1, 1, E(0, -1, 0, 0, 0, 1, 0, 0, 0) },
	{ "V", 1, 1000, E(2, -2, 1, 0, 0, -1, 0, 0, 0) },
	{ "kat", 1, 1, E(0, -1, 0, 0, 0, 0, 0, 1, 0) },
	{ "U", 1, 1e-6 / 60, E(0, -1, 0, 0, 0, 0, 0, 1, 0) },	/* umol/min */
	{ "cal", 1, 4184, E(2, -2, 1, 0, 0, 0, 0, 0, 0) },
	{ "bar", 1, 1e8, E(-1, -2, 1, 0, 0, 0, 0, 0, 0) },
	{ "m[Hg]", 1, 133322e3, E(-1, -2, 1, 0, 0, 0, 0, 0, 0) },	/* 133.322 kPa */
	{ "m[H2O]", 1, 9806.65e3, E(-1, -2, 1, 0, 0, 0, 0, 0, 0) },	/* 9.80665 kPa */
	{ "sr", 1, 1, E(0, 0, 0, 2, 0, 0, 0, 0, 0) },
	{ "deg", 0, 3.14159265358979323846 / 180, E(0, 0, 0, 1, 0, 0, 0, 0, 0) },
	/* dimensionless */
	{ "%", 0, 1e-2, E(0, 0, 0, 0, 0, 0, 0, 0, 0) },
	{ "[ppth]", 0, 1e-3, E(0, 0, 0, 0, 0, 0, 0, 0, 0) },
	{ "[ppm]", 0, 1e-6, E(0, 0, 0, 0, 0, 0, 0, 0, 0) },
	{ "[ppb]", 0, 1e-9, E(0, 0, 0, 0, 0, 0, 0, 0, 0) },
	{ "[pi]", 0, 3.14159265358979323846, E(0, 0, 0, 0, 0, 0, 0, 0, 0) },
	/* customary (international) length and mass */
	{ "[in_i]", 0, 0.0254, E(1, 0, 0, 0, 0, 0, 0, 0, 0) },
	{ "[ft_i]", 0, 0.3048, E(1, 0, 0, 0, 0, 0, 0, 0, 0) },
	{ "[yd_i]", 0, 0.9144, E(1, 0, 0, 0, 0, 0, 0, 0, 0) },
	{ "[mi_i]", 0, 1609.344, E(1, 0, 0, 0, 0, 0, 0, 0, 0) },
	{ "[lb_av]", 0, 453.59237, E(0, 0, 1, 0, 0, 0, 0, 0, 0) },
	{ "[oz_av]", 0, 28.349523125, E(0, 0, 1, 0, 0, 0, 0, 0, 0) },
	/* arbitrary units: among themselves only */
	{ "[iU]", 1, 1, E(0, 0, 0, 0, 0, 0, 0, 0, 1) },
	{ "[IU]", 1, 1, E(0, 0, 0, 0, 0, 0, 0, 0, 1) },
	{ "[arb'U]", 1, 1, E(0, 0, 0, 0, 0, 0, 0, 0, 1) },
};
#undef E

static const struct {
	const char *code;
	double factor;
} prefixes[] = {
	{ "da", 1e1 },	/* two letters first */
	{ "Y", 1e24 }, { "Z", 1e21 }, { "E", 1e18 }, { "P", 1e15 }, { "T", 1e12 }, { "G", 1e9 },
	{ "M", 1e6 }, { "k", 1e3 }, { "h", 1e2 }, { "d", 1e-1 }, { "c", 1e-2 }, { "m", 1e-3 },
	{ "u", 1e-6 }, { "n", 1e-9 }, { "p", 1e-12 }, { "f", 1e-15 }, { "a", 1e-18 },
	{ "z", 1e-21 }, { "y", 1e-24 },
};

struct parser {
	const char *p, *end;
	int depth;
	int special;		/* Cel or [degF] seen */
	double offset;
};

static const struct atom *find_atom(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(atoms) / sizeof(atoms[0]); i++)
		if (strlen(atoms[i].code) == n && !memcmp(atoms[i].code, s, n))
			return &atoms[i];
	return NULL;
}

/* A unit symbol: letters, digits that do not end it (m[H2O]), brackets
 * with what is inside, and the characters UCUM allows in atoms. */
static size_t symbol_len(const char *p, const char *end)
{
	const char *s = p;

	while (s < end) {
		if (*s == '[') {
			const char *close = memchr(s, ']', (size_t)(end - s));

			if (!close)
				return 0;
			s = close + 1;
		} else if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '%' ||
			   *s == '\'' || *s == '_') {
			s++;
		} else
			break;
	}
	return (size_t)(s - p);
}

static int mul(struct unit *u, const struct unit *v, int sign)
{
	u->factor = sign > 0 ? u->factor * v->factor : u->factor / v->factor;
	for (int d = 0; d < D_COUNT; d++) {
		int e = u->e[d] + sign * v->e[d];

		if (e > UCUM_MAX_EXP || e < -UCUM_MAX_EXP)
			return -1;
		u->e[d] = (signed char)e;
	}
	return 0;
}

/* An optional signed integer exponent. */
static int exponent(struct parser *x, int *out)
{
	int sign = 1, n = 0, digits = 0;

	*out = 1;
	if (x->p < x->end && (*x->p == '-' || *x->p == '+')) {
		sign = *x->p == '-' ? -1 : 1;
		x->p++;
		if (x->p == x->end || *x->p < '0' || *x->p > '9')
			return -1;
	}
	while (x->p < x->end && *x->p >= '0' && *x->p <= '9') {
		n = n * 10 + (*x->p++ - '0');
		if (++digits > 2)
			return -1;
	}
	if (digits)
		*out = sign * n;
	return n > UCUM_MAX_EXP ? -1 : 0;
}

static int term(struct parser *x, struct unit *u);

/* A unit atom, with prefix and exponent. */
static int simple(struct parser *x, struct unit *u)
{
	size_t n = symbol_len(x->p, x->end);
	const struct atom *a = NULL;
	double factor = 1;
	int ex;

	if (!n)
		return -1;
	if (n == 3 && !memcmp(x->p, "Cel", 3)) {
		x->special = 1;
		x->offset = 273.15;
		a = find_atom("K", 1);
	} else if (n == 6 && !memcmp(x->p, "[degF]", 6)) {
		x->special = 1;
		x->offset = 459.67 * 5.0 / 9.0;
		a = find_atom("K", 1);
		factor = 5.0 / 9.0;
	} else if (!(a = find_atom(x->p, n))) {
		for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
			size_t k = strlen(prefixes[i].code);

			if (k < n && !memcmp(x->p, prefixes[i].code, k) &&
			    (a = find_atom(x->p + k, n - k)) && a->metric) {
				factor = prefixes[i].factor;
				break;
			}
			a = NULL;
		}
		if (!a)
			return -1;
	}
	x->p += n;
	if (exponent(x, &ex))
		return -1;
	if (x->special && ex != 1)
		return -1;
	u->factor = pow(factor * a->factor, ex);
	for (int d = 0; d < D_COUNT; d++)
		u->e[d] = (signed char)(a->e[d] * ex);
	return 0;
}

/* A number as a factor: digits, or 10*N / 10^N (N may be signed). */
static int number(struct parser *x, struct unit *u)
{
	double v = 0;
	int digits = 0;

	while (x->p < x->end && *x->p >= '0' && *x->p <= '9' && digits < 15) {
		v = v * 10 + (*x->p++ - '0');
		digits++;
	}
	if (x->p < x->end && *x->p >= '0' && *x->p <= '9')
		return -1;
	if (v == 10 && digits == 2 && x->p < x->end && (*x->p == '*' || *x->p == '^')) {
		int ex;

		x->p++;
		if (x->p == x->end || exponent(x, &ex))
			return -1;
		v = pow(10, ex);
	}
	if (v == 0)
		return -1;
	memset(u, 0, sizeof(*u));
	u->factor = v;
	return 0;
}

static int component(struct parser *x, struct unit *u)
{
	if (x->p == x->end)
		return -1;
	if (*x->p == '{') {	/* an annotation alone is 1 */
		const char *close = memchr(x->p, '}', (size_t)(x->end - x->p));

		if (!close)
			return -1;
		x->p = close + 1;
		memset(u, 0, sizeof(*u));
		u->factor = 1;
		return 0;
	}
	if (*x->p == '(') {
		int rc;

		if (++x->depth > UCUM_MAX_DEPTH)
			return -1;
		x->p++;
		rc = term(x, u);
		x->depth--;
		if (rc || x->p == x->end || *x->p != ')')
			return -1;
		x->p++;
		return 0;
	}
	if (*x->p >= '0' && *x->p <= '9')
		return number(x, u);
	if (simple(x, u))
		return -1;
	if (x->p < x->end && *x->p == '{') {	/* an annotation after a unit: ignored */
		const char *close = memchr(x->p, '}', (size_t)(x->end - x->p));

		if (!close)
			return -1;
		x->p = close + 1;
	}
	return 0;
}

static int term(struct parser *x, struct unit *u)
{
	int sign = 1;

	memset(u, 0, sizeof(*u));
	u->factor = 1;
	if (x->p < x->end && *x->p == '/') {	/* "/min" */
		sign = -1;
		x->p++;
	}
	for (;;) {
		struct unit c;

		if (component(x, &c) || mul(u, &c, sign))
			return -1;
		if (x->p == x->end || (*x->p != '.' && *x->p != '/'))
			return 0;
		sign = *x->p == '.' ? 1 : -1;
		x->p++;
	}
}

int fhir_ucum_canonical(const char *code, size_t n, double *factor, double *offset,
			char canon[FHIR_UCUM_CANON_MAX])
{
	struct parser x = { code, code + n, 0, 0, 0 };
	struct unit u;
	size_t used = 0;

	if (!n || term(&x, &u) || x.p != x.end || !isfinite(u.factor) || u.factor <= 0)
		return -1;
	if (x.special) {	/* Cel and [degF] stand alone: "Cel/h" has no zero */
		for (int d = 0; d < D_COUNT; d++)
			if (u.e[d] != (d == D_K))
				return -1;
	}
	for (int d = 0; d < D_COUNT; d++) {
		int k;

		if (!u.e[d])
			continue;
		k = snprintf(canon + used, FHIR_UCUM_CANON_MAX - used, used ? ".%s" : "%s", dim_code[d]);
		if (k < 0 || (size_t)k >= FHIR_UCUM_CANON_MAX - used)
			return -1;
		used += (size_t)k;
		if (u.e[d] != 1) {
			k = snprintf(canon + used, FHIR_UCUM_CANON_MAX - used, "%d", u.e[d]);
			if (k < 0 || (size_t)k >= FHIR_UCUM_CANON_MAX - used)
				return -1;
			used += (size_t)k;
		}
	}
	if (!used)
		snprintf(canon, FHIR_UCUM_CANON_MAX, "1");
	*factor = u.factor;
	*offset = x.special ? x.offset : 0;
	return 0;
}
