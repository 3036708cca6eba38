/*
 * search_query.c — a FHIR search request (name=value pairs) becomes a
 * struct store_query the store can run, per R4 search.html.
 *
 * Each parameter name is `code[:modifier][.chain]`, `_has:Type:ref:name`,
 * or a result parameter (_count, _sort, _include, ...). Values are OR'ed
 * within one parameter (commas, `\,` escapes one) and parameters AND'ed.
 * The type of the parameter decides how a value reads: prefixes for number,
 * date and quantity; `system|code` for token; `Type/id` for reference;
 * `a$b` for composite. Anything malformed is ERR_BAD_REQUEST naming the
 * parameter; nothing here touches the store.
 */
#include "search.h"
#include "fhir.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/time.h"
#include "fhir_tables.h"
#include "ucum.h"

#define SEARCH_MAX_VALUES 64		/* OR'ed values of one parameter */
#define SEARCH_MAX_CLAUSES 64		/* AND'ed clauses of one query */

struct parse {
	struct arena *a;
	struct err *e;
	int64_t tenant;
	int strict;
	const char *base;		/* our base URL, or NULL */
	size_t base_n;
	const char *name;		/* the parameter being parsed, for messages */
	int subqueries;			/* made so far (chains, _has): FHIR_SEARCH_MAX_SUBQUERIES */
	struct fhir_search_request *out;
};

static int bad(struct parse *p, const char *fmt, ...) LT_PRINTF(2, 3);

static int bad(struct parse *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(p->e, ERR_BAD_REQUEST, p->name, "search parameter '%.100s': %s", p->name, msg);
}

static int nomem(struct parse *p)
{
	return err_set(p->e, ERR_NOMEM, NULL, "out of memory");
}

static struct str cstr(const char *s)
{
	return (struct str){ s, strlen(s) };
}

/* ---- the control parameters -------------------------------------------- */

static const char *const control_params[] = {
	"_count", "_cursor", "_sort", "_include", "_revinclude", "_summary", "_elements",
	"_total", "_type", "_contained", "_containedType", NULL,
};

int fhir_search_is_control(const char *name)
{
	size_t n = strcspn(name, ":");

	for (const char *const *c = control_params; *c; c++)
		if (strlen(*c) == n && !strncmp(*c, name, n))
			return 1;
	return 0;
}

static void ignore(struct parse *p, const char *name, const char *why)
{
	struct fhir_search_request *o = p->out;

	if (o->n_ignored < FHIR_SEARCH_MAX_IGNORED) {
		o->ignored[o->n_ignored] = name;
		o->ignored_why[o->n_ignored++] = why;
	}
}

/* ---- values ------------------------------------------------------------- */

/* Splits s on unescaped c, unescaping `\c` and `\\` into the arena. */
static int split_values(struct parse *p, const char *s, char sep, struct str *out, size_t cap,
			size_t *n)
{
	size_t len = strlen(s);
	char *buf = arena_alloc(p->a, len + 1), *w = buf;
	const char *start = buf;

	if (!buf)
		return nomem(p);
	*n = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] == '\\') {
			/* \, \$ \| \\ are the only escapes; the separator's is undone here,
			 * the others are kept for the next split. */
			if (i + 1 >= len || !strchr(",$|\\", s[i + 1]))
				return bad(p, "'\\' must be followed by , $ | or \\ (search.html 3.1.1.9)");
			if (s[i + 1] == sep)
				*w++ = s[++i];
			else {
				*w++ = s[i++];
				*w++ = s[i];
			}
			continue;
		}
		if (i == len || s[i] == sep) {
			if (*n == cap)
				return bad(p, "more than %zu values", cap);
			out[(*n)++] = (struct str){ start, (size_t)(w - start) };
			*w++ = '\0';
			start = w;
			continue;
		}
		*w++ = s[i];
	}
	return 0;
}

static const char *const prefixes[] = { "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap" };

/* Takes a prefix off v (number, date, quantity); eq when none. */
static int take_prefix(struct parse *p, const struct fhir_search_param *sp, struct str *v,
		       uint8_t *cmp)
{
	*cmp = STORE_CMP_EQ;
	if (v->n >= 2 && isalpha((unsigned char)v->p[0]) && isalpha((unsigned char)v->p[1])) {
		for (int i = 0; i < 9; i++) {
			if (!strncmp(v->p, prefixes[i], 2)) {
				*cmp = (uint8_t)i;
				v->p += 2;
				v->n -= 2;
				if (sp && sp->comparators && !(sp->comparators & (1u << i)))
					return bad(p, "the prefix '%s' is not allowed here", prefixes[i]);
				return 0;
			}
		}
		return bad(p, "'%.2s' is not a search prefix (eq ne gt lt ge le sa eb ap)", v->p);
	}
	return 0;
}

/* A decimal value and the range its precision implies: "100" is
 * [99.5, 100.5), "1.50" is [1.495, 1.505), "1e2" is [50, 150). */
static int parse_number(struct parse *p, struct str v, double *value, double *lo, double *hi)
{
	char tmp[64], *end;
	int decimals = 0, exp10 = 0, seen_dot = 0;
	double half;

	if (v.n == 0 || v.n >= sizeof(tmp))
		return bad(p, "'%.*s' is not a number", STR_FMT(v));
	memcpy(tmp, v.p, v.n);
	tmp[v.n] = '\0';
	for (size_t i = 0; i < v.n; i++) {
		char ch = tmp[i];

		if (ch == '.')
			seen_dot = 1;
		else if (ch == 'e' || ch == 'E') {
			exp10 = atoi(tmp + i + 1);
			break;
		} else if (seen_dot && isdigit((unsigned char)ch))
			decimals++;
		else if (!isdigit((unsigned char)ch) && !(i == 0 && (ch == '-' || ch == '+')))
			return bad(p, "'%s' is not a number", tmp);
	}
	errno = 0;
	*value = strtod(tmp, &end);
	if (*end || errno || !isfinite(*value) || exp10 > 300 || exp10 < -300)
		return bad(p, "'%s' is not a number", tmp);
	half = 0.5 * pow(10.0, exp10 - decimals);
	*lo = *value - half;
	*hi = *value + half;
	return 0;
}

/* A date value: [lo, hi] covered. Search also allows a time without
 * seconds (the whole minute) and without a zone (the server's,
 * time_local_offset_ms, as for dates without one). */
static int parse_date(struct parse *p, struct str v, int64_t *lo, int64_t *hi)
{
	char tmp[64];

	if (time_parse_fhir(v.p, v.n, TIME_DATETIME, lo, hi) == 0)
		return 0;
	if (v.n >= 16 && v.n < sizeof(tmp) - 9 && v.p[10] == 'T' && v.p[13] == ':') {
		size_t z = 16, n;

		while (z < v.n && v.p[z] != 'Z' && v.p[z] != '+' && v.p[z] != '-')
			z++;
		memcpy(tmp, v.p, z);
		n = z;
		if (z == 16) {	/* hh:mm */
			memcpy(tmp + n, ":00", 3);
			n += 3;
		}
		if (z < v.n) {
			memcpy(tmp + n, v.p + z, v.n - z);
			n += v.n - z;
		} else {
			int64_t off = time_local_offset_ms(), a = off < 0 ? -off : off;

			n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%c%02d:%02d", off < 0 ? '-' : '+',
					      (int)(a / 3600000), (int)(a / 60000 % 60));
		}
		if (time_parse_fhir(tmp, n, TIME_DATETIME, lo, hi) == 0) {
			if (z == 16)
				*hi = *lo + 59999;	/* the whole minute */
			return 0;
		}
	}
	return bad(p, "'%.*s' is not a date (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss[Z|+hh:mm])",
		   STR_FMT(v));
}

/* ap on a date: widen by 10% of the distance to now (at least a day), as
 * search.html suggests. */
static void widen_date(int64_t *lo, int64_t *hi)
{
	int64_t now = time_now_ms(), gap = llabs(now - *lo) / 10;

	if (gap < 86400000)
		gap = 86400000;
	*lo = *lo > INT64_MIN + gap ? *lo - gap : INT64_MIN;
	*hi = *hi < INT64_MAX - gap ? *hi + gap : INT64_MAX;
}

static char *folded(struct parse *p, struct str v, size_t *n)
{
	size_t cap = FHIR_SEARCH_FOLD_MAX(v.n);
	char *out = arena_alloc(p->a, cap);

	if (!out)
		return NULL;
	*n = fhir_search_fold(v.p, v.n, out, cap);
	return out;
}

/* Whether p's expression is a plain path (Patient.gender) to a `code`
 * element. Such elements are indexed without a system: R4 implies it from
 * the value-set binding, so `system|code` must also match them. */
static int param_is_code(const struct fhir_search_param *p)
{
	const char *e = p->expression, *dot;
	int ti;
	const struct fhir_type *t;

	if (!e || strpbrk(e, "|()[ "))
		return 0;
	dot = strchr(e, '.');
	if (!dot || (ti = fhir_resource_type_index(e, (size_t)(dot - e))) < 0)
		return 0;
	t = &fhir_types[fhir_resource_types[ti].type];
	for (const char *seg = dot + 1;;) {
		const char *next = strchr(seg, '.');
		size_t n = next ? (size_t)(next - seg) : strlen(seg);
		const struct fhir_elem *el = fhir_elem_find(t, seg, n);

		if (!el)
			return 0;
		t = &fhir_types[el->type];
		if (!next)
			return t->kind == FHIR_KIND_PRIMITIVE && t->prim == FHIR_PRIM_CODE;
		seg = next + 1;
	}
}

/* system|code, |code, system|, code. */
static void parse_token(struct str v, struct store_qvalue *q)
{
	const char *bar = memchr(v.p, '|', v.n);

	q->op = STORE_Q_TOKEN;
	if (!bar) {
		q->has_code = 1;
		q->s[1] = v;
		return;
	}
	q->has_system = 1;
	q->s[0] = (struct str){ v.p, (size_t)(bar - v.p) };
	q->s[1] = (struct str){ bar + 1, v.n - (size_t)(bar - v.p) - 1 };
	q->has_code = q->s[1].n > 0;
}

struct parsed_name {
	const struct fhir_search_param *sp;
	struct str modifier;		/* after ':' (before any '.') */
	struct str chain;		/* after '.' */
};

static int parse_clause(struct parse *p, const char *type, struct str name, const char *value,
			int depth, struct store_qclause *c);

/* A query of type with one clause name=value (chains, _has). */
static int sub_query(struct parse *p, const char *type, struct str name, const char *value,
		     int depth, const struct store_query **out)
{
	struct store_query *q;
	struct store_qclause *c;
	int rc;

	/* A chain through a reference to any type (Observation.focus) fans out
	 * to every type at every link: bound the work a request can ask for. */
	if (++p->subqueries > FHIR_SEARCH_MAX_SUBQUERIES)
		return bad(p, "the chain reaches more than %d resource types; name the types with"
			      " a modifier (focus:Patient.name)", FHIR_SEARCH_MAX_SUBQUERIES);
	q = arena_alloc(p->a, sizeof(*q));
	c = arena_alloc(p->a, sizeof(*c));
	if (!q || !c)
		return nomem(p);
	q->tenant = p->tenant;
	q->type = type;
	q->c = c;
	q->n = 1;
	if ((rc = parse_clause(p, type, name, value, depth + 1, c)))
		return rc;
	*out = q;
	return 0;
}

/* The parameter's own table and key for its values. */
static int table_of(int type)
{
	switch (type) {
	case FHIR_SEARCH_NUMBER:
	case FHIR_SEARCH_QUANTITY:
	case FHIR_SEARCH_SPECIAL:	/* Location near: positions are number rows */
		return STORE_IX_NUMBER;
	case FHIR_SEARCH_DATE:
		return STORE_IX_DATE;
	case FHIR_SEARCH_STRING:
		return STORE_IX_STRING;
	case FHIR_SEARCH_TOKEN:
		return STORE_IX_TOKEN;
	case FHIR_SEARCH_REFERENCE:
		return STORE_IX_REFERENCE;
	case FHIR_SEARCH_URI:
		return STORE_IX_URI;
	case FHIR_SEARCH_COMPOSITE:
		return STORE_IX_COMPOSITE;
	default:
		return STORE_IX__COUNT;
	}
}

/* A reference value: Type/id, id, an absolute URL (ours: read as local). */
static int parse_reference(struct parse *p, const struct fhir_search_param *sp, struct str v,
			   struct str type_mod, struct store_qvalue *q)
{
	struct fhir_reference_parts parts;

	q->op = STORE_Q_REFERENCE;
	if (p->base && v.n > p->base_n + 1 && !strncmp(v.p, p->base, p->base_n) &&
	    v.p[p->base_n] == '/') {
		v.p += p->base_n + 1;
		v.n -= p->base_n + 1;
	}
	fhir_search_reference_split(v.p, v.n, &parts);
	switch (parts.kind) {
	case FHIR_REFERENCE_RELATIVE:
		q->s[0] = parts.type;
		q->s[1] = parts.id;
		q->s[3] = parts.version;
		q->local = 1;
		if (p->base) {	/* the same reference written as an absolute URL */
			size_t n = p->base_n + parts.type.n + parts.id.n + 3;
			char *abs = arena_alloc(p->a, n);

			if (!abs)
				return nomem(p);
			snprintf(abs, n, "%s/%.*s/%.*s", p->base, STR_FMT(parts.type), STR_FMT(parts.id));
			q->s[2] = cstr(abs);
		}
		if (type_mod.n && !(type_mod.n == parts.type.n && !memcmp(type_mod.p, parts.type.p, type_mod.n)))
			return bad(p, "the value names a %.*s but the modifier a %.*s", STR_FMT(parts.type),
				   STR_FMT(type_mod));
		return 0;
	case FHIR_REFERENCE_ABSOLUTE:
	case FHIR_REFERENCE_URN:
	case FHIR_REFERENCE_CONTAINED:
		q->s[2] = v;
		return 0;
	default:
		break;
	}
	if (v.n && fhir_id_valid(v.p, v.n)) {	/* a plain id: any target type */
		q->s[0] = type_mod;
		q->s[1] = v;
		q->local = 1;
		return 0;
	}
	if (v.n && memchr(v.p, '|', v.n) && sp->n_target) {	/* a canonical with |version */
		const char *bar = memchr(v.p, '|', v.n);

		q->s[2] = (struct str){ v.p, (size_t)(bar - v.p) };
		q->s[3] = (struct str){ bar + 1, v.n - (size_t)(bar - v.p) - 1 };
		return 0;
	}
	if (v.n && memchr(v.p, ':', v.n)) {	/* another URI (a canonical) */
		q->s[2] = v;
		return 0;
	}
	return bad(p, "'%.*s' is not a reference (Type/id, id or an absolute URL)", STR_FMT(v));
}

/*
 * Location near=LATITUDE|LONGITUDE|DISTANCE|UNITS: positions within DISTANCE
 * (km when UNITS is absent; UCUM km, m, [mi_i]) along the great circle.
 * DISTANCE absent: NEAR_DEFAULT_KM, this server's choice (decision 0024).
 */
#define NEAR_DEFAULT_KM 10.0
#define NEAR_MAX_KM 20038.0		/* half the Earth's circumference: anywhere */

static int parse_near(struct parse *p, struct str v, struct store_qvalue *q)
{
	static const struct { const char *code; double km; } units[] = {
		{ "km", 1.0 }, { "m", 0.001 }, { "[mi_i]", 1.609344 },
	};
	struct str part[5] = { { 0 } };
	double value[3] = { 0, 0, NEAR_DEFAULT_KM }, km = 1.0;
	size_t n = 0;
	const char *s = v.p, *end = v.p + v.n;

	for (;;) {
		const char *bar = memchr(s, '|', (size_t)(end - s));

		if (n == 5)
			return bad(p, "near is latitude|longitude|distance|units");
		part[n++] = (struct str){ s, (size_t)((bar ? bar : end) - s) };
		if (!bar)
			break;
		s = bar + 1;
	}
	if (n < 2 || n > 4)
		return bad(p, "near is latitude|longitude|distance|units");
	for (size_t i = 0; i < 3 && i < n; i++) {
		char tmp[64], *stop;

		if (i == 2 && !part[i].n)
			continue;	/* no distance: ours */
		if (!part[i].n || part[i].n >= sizeof(tmp))
			return bad(p, "'%.*s' is not a number", STR_FMT(part[i]));
		memcpy(tmp, part[i].p, part[i].n);
		tmp[part[i].n] = '\0';
		errno = 0;
		value[i] = strtod(tmp, &stop);
		if (*stop || errno || !isfinite(value[i]))
			return bad(p, "'%s' is not a number", tmp);
	}
	if (n == 4 && part[3].n) {
		size_t i;

		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (str_eq(part[3], units[i].code))
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return bad(p, "the units '%.*s' are not known (km, m or [mi_i])",
				   STR_FMT(part[3]));
		km = units[i].km;
	}
	if (value[0] < -90 || value[0] > 90 || value[1] < -180 || value[1] > 180)
		return bad(p, "latitude is -90 to 90 and longitude -180 to 180 degrees");
	if (value[2] < 0)
		return bad(p, "the distance cannot be negative");
	q->op = STORE_Q_NEAR;
	q->dlo = value[0];
	q->dhi = value[1];
	q->elo = fmin(value[2] * km, NEAR_MAX_KM);
	return 0;
}

/* One value of a non-chained parameter. */
static int parse_value(struct parse *p, const struct fhir_search_param *sp, unsigned mod,
		       struct str type_mod, struct str v, struct store_qclause *c,
		       struct store_qvalue *q)
{
	int rc;
	size_t fn;

	if (v.n == 0)
		return bad(p, "an empty value");
	switch (sp->type) {
	case FHIR_SEARCH_NUMBER:
	case FHIR_SEARCH_QUANTITY: {
		const char *bar = memchr(v.p, '|', v.n);
		struct str num = v;

		if ((rc = take_prefix(p, sp, &num, &q->cmp)))
			return rc;
		if (bar) {
			const char *bar2;

			num.n = (size_t)(bar - num.p);
			if (sp->type == FHIR_SEARCH_NUMBER)
				return bad(p, "a number has no units");
			bar2 = memchr(bar + 1, '|', v.n - (size_t)(bar + 1 - v.p));
			if (!bar2)
				return bad(p, "a quantity is number|system|code");
			q->s[0] = (struct str){ bar + 1, (size_t)(bar2 - bar - 1) };
			q->s[1] = (struct str){ bar2 + 1, v.n - (size_t)(bar2 + 1 - v.p) };
		}
		q->op = STORE_Q_NUMBER;
		if ((rc = parse_number(p, num, &q->elo, &q->dlo, &q->dhi)))
			return rc;
		if (q->cmp == STORE_CMP_AP) {
			double w = fabs(q->elo) * 0.1;

			q->dlo = q->elo - w;
			q->dhi = q->elo + w;
		}
		return 0;
	}
	case FHIR_SEARCH_DATE:
		if ((rc = take_prefix(p, sp, &v, &q->cmp)))
			return rc;
		q->op = STORE_Q_DATE;
		if ((rc = parse_date(p, v, &q->lo, &q->hi)))
			return rc;
		if (q->cmp == STORE_CMP_AP)
			widen_date(&q->lo, &q->hi);
		return 0;
	case FHIR_SEARCH_STRING: {
		char *f = folded(p, v, &fn);

		if (!f)
			return nomem(p);
		q->s[0] = (struct str){ f, fn };
		q->s[1] = v;
		q->op = (mod & FHIR_SEARCH_MOD_EXACT)	   ? STORE_Q_STRING_EXACT
			: (mod & FHIR_SEARCH_MOD_CONTAINS) ? STORE_Q_STRING_CONTAINS
							   : STORE_Q_STRING_PREFIX;
		return 0;
	}
	case FHIR_SEARCH_TOKEN:
		if (mod & FHIR_SEARCH_MOD_TEXT) {
			char *f = folded(p, v, &fn);

			if (!f)
				return nomem(p);
			q->op = STORE_Q_STRING_PREFIX;
			q->s[0] = (struct str){ f, fn };
			c->table = STORE_IX_STRING;
			c->param = fhir_search_param_key(sp, FHIR_SEARCH_SUB_TEXT);
			return 0;
		}
		if (mod & FHIR_SEARCH_MOD_OF_TYPE) {
			const char *b1 = memchr(v.p, '|', v.n), *b2;

			b2 = b1 ? memchr(b1 + 1, '|', v.n - (size_t)(b1 + 1 - v.p)) : NULL;
			if (!b2)
				return bad(p, ":of-type takes system|code|value");
			q->op = STORE_Q_TOKEN;
			q->has_system = q->has_code = 1;
			q->s[0] = (struct str){ v.p, (size_t)(b2 - v.p) };
			q->s[1] = (struct str){ b2 + 1, v.n - (size_t)(b2 + 1 - v.p) };
			c->param = fhir_search_param_key(sp, FHIR_SEARCH_SUB_OF_TYPE);
			return 0;
		}
		parse_token(v, q);
		q->system_or_none = q->has_system && q->has_code && q->s[0].n && param_is_code(sp);
		return 0;
	case FHIR_SEARCH_REFERENCE:
		if (mod & FHIR_SEARCH_MOD_IDENTIFIER) {
			parse_token(v, q);
			c->table = STORE_IX_TOKEN;
			c->param = fhir_search_param_key(sp, FHIR_SEARCH_SUB_IDENTIFIER);
			return 0;
		}
		return parse_reference(p, sp, v, type_mod, q);
	case FHIR_SEARCH_SPECIAL:	/* near, the only one with an expression */
		return parse_near(p, v, q);
	case FHIR_SEARCH_URI:
		q->s[0] = v;
		q->op = (mod & FHIR_SEARCH_MOD_BELOW)	? STORE_Q_URI_BELOW
			: (mod & FHIR_SEARCH_MOD_ABOVE) ? STORE_Q_URI_ABOVE
							: STORE_Q_URI;
		return 0;
	case FHIR_SEARCH_COMPOSITE: {
		struct str part[4];
		size_t np, nc = sp->n_component;
		const char *expr;
		const struct fhir_search_param *c0, *c1;

		/* v is NUL-terminated: split_values ends each value it makes */
		if ((rc = split_values(p, v.p, '$', part, 4, &np)))
			return rc;
		if (np != nc && !(nc == 3 && np >= 1))
			return bad(p, "a composite takes %zu parts separated by '$'", nc);
		c0 = fhir_search_component_param(sp, 0, &expr);
		c1 = nc > 1 ? fhir_search_component_param(sp, 1, &expr) : NULL;
		q->op = STORE_Q_COMPOSITE;
		if (!c0 || (c0->type != FHIR_SEARCH_TOKEN && c0->type != FHIR_SEARCH_REFERENCE))
			return bad(p, "this composite is not supported");
		if (c0->type == FHIR_SEARCH_TOKEN) {
			struct store_qvalue t = { 0 };

			parse_token(part[0], &t);
			q->s[0] = t.has_system ? t.s[0] : (struct str){ "", 0 };
			q->s[1] = t.s[1];
			if (!t.has_system)
				q->s[0].n = 0;
		} else {
			struct store_qvalue r = { 0 };

			if ((rc = parse_reference(p, c0, part[0], (struct str){ NULL, 0 }, &r)))
				return rc;
			q->s[0] = r.s[0];
			q->s[1] = r.s[1];
		}
		if (!q->s[1].n)
			return bad(p, "the first part of a composite needs a code");
		if (np < 2 || !c1)
			return 0;
		q->has_second = 1;
		if (np == 3) {	/* MolecularSequence's coordinates: token $ start $ end */
			const struct fhir_search_param *c2 = fhir_search_component_param(sp, 2, &expr);
			struct str d = part[2];
			const char *bar = memchr(d.p, '|', d.n);

			if (!c2 || (c2->type != FHIR_SEARCH_NUMBER && c2->type != FHIR_SEARCH_QUANTITY))
				return bad(p, "this composite's third part is not supported");
			if (bar)
				d.n = (size_t)(bar - d.p);
			if ((rc = take_prefix(p, c2, &d, &q->cmp2)) ||
			    (rc = parse_number(p, d, &q->texact, &q->tlo, &q->thi)))
				return rc;
			q->has_third = 1;
		}
		switch (c1->type) {
		case FHIR_SEARCH_TOKEN: {
			struct store_qvalue t = { 0 };

			parse_token(part[1], &t);
			q->s[2] = t.has_system ? t.s[0] : (struct str){ NULL, 0 };
			q->s[3] = t.s[1];
			return 0;
		}
		case FHIR_SEARCH_STRING: {
			char *f = folded(p, part[1], &fn);

			if (!f)
				return nomem(p);
			q->s[3] = (struct str){ f, fn };
			return 0;
		}
		case FHIR_SEARCH_DATE: {
			int64_t lo, hi;
			struct str d = part[1];

			if ((rc = take_prefix(p, c1, &d, &q->cmp)) || (rc = parse_date(p, d, &lo, &hi)))
				return rc;
			q->dlo = (double)lo;
			q->dhi = (double)hi + 1;	/* half-open, as numbers */
			q->elo = (double)lo;
			return 0;
		}
		case FHIR_SEARCH_QUANTITY:
		case FHIR_SEARCH_NUMBER: {
			struct str d = part[1];
			const char *bar = memchr(d.p, '|', d.n);

			if (bar)
				d.n = (size_t)(bar - d.p);
			if ((rc = take_prefix(p, c1, &d, &q->cmp)) ||
			    (rc = parse_number(p, d, &q->elo, &q->dlo, &q->dhi)))
				return rc;
			return 0;
		}
		default:
			return bad(p, "this composite is not supported");
		}
	}
	default:
		return bad(p, "parameters of type %s are not supported yet",
			   fhir_search_type_name(sp->type));
	}
}

/* Splits name into code, modifier and chain. */
static int parse_name(struct parse *p, const char *type, struct str name, struct parsed_name *out)
{
	const char *dot = memchr(name.p, '.', name.n), *colon;
	struct str code = name;

	memset(out, 0, sizeof(*out));
	if (dot) {
		out->chain = (struct str){ dot + 1, name.n - (size_t)(dot + 1 - name.p) };
		code.n = (size_t)(dot - name.p);
	}
	colon = memchr(code.p, ':', code.n);
	if (colon) {
		out->modifier = (struct str){ colon + 1, code.n - (size_t)(colon + 1 - code.p) };
		code.n = (size_t)(colon - code.p);
	}
	out->sp = fhir_search_param_find_n(type, strlen(type), code.p, code.n);
	return 0;
}

static int parse_has(struct parse *p, const char *type, struct str name, const char *value,
		     int depth, struct store_qclause *c)
{
	/* _has:Type:ref:rest */
	const char *s = name.p + 5, *end = name.p + name.n, *c1, *c2;
	const struct fhir_search_param *ref;
	struct store_qvalue *v;
	int ti, rc;

	c1 = memchr(s, ':', (size_t)(end - s));
	c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
	if (!c1 || !c2 || c2 + 1 >= end)
		return bad(p, "_has is _has:Type:reference-parameter:parameter");
	ti = fhir_resource_type_index(s, (size_t)(c1 - s));
	if (ti < 0)
		return bad(p, "'%.*s' is not a resource type", (int)(c1 - s), s);
	ref = fhir_search_param_find_n(fhir_resource_type_name(ti), strlen(fhir_resource_type_name(ti)),
				       c1 + 1, (size_t)(c2 - c1 - 1));
	if (!ref || ref->type != FHIR_SEARCH_REFERENCE)
		return bad(p, "'%.*s' is not a reference parameter of %s", (int)(c2 - c1 - 1), c1 + 1,
			   fhir_resource_type_name(ti));
	if (type) {
		int ok = ref->n_target == 0;

		for (size_t i = 0; i < ref->n_target; i++)
			ok |= !strcmp(ref->target[i], type);
		if (!ok)
			return bad(p, "%s.%s does not refer to a %s", fhir_resource_type_name(ti),
				   ref->code, type);
	}
	v = arena_alloc(p->a, sizeof(*v));
	if (!v)
		return nomem(p);
	v->op = STORE_Q_HAS;
	v->has_param = fhir_search_param_key(ref, FHIR_SEARCH_SUB_VALUE);
	if ((rc = sub_query(p, fhir_resource_type_name(ti),
			    (struct str){ c2 + 1, (size_t)(end - c2 - 1) }, value, depth, &v->sub)))
		return rc;
	c->v = v;
	c->n = 1;
	return 0;
}

/* The common parameters on the resource itself: _id, _lastUpdated. */
static int parse_resource_param(struct parse *p, const char *code, struct str *vals, size_t nv,
				struct str modifier, struct store_qclause *c)
{
	int is_id = !strcmp(code, "_id");

	if (modifier.n && !str_eq(modifier, "missing") && !(is_id && str_eq(modifier, "not")))
		return bad(p, "the modifier ':%.*s' is not allowed here", STR_FMT(modifier));
	if (str_eq(modifier, "missing"))
		return bad(p, "every resource has %s", code);
	c->negate = str_eq(modifier, "not");
	c->v = arena_alloc(p->a, nv * sizeof(*c->v));
	if (!c->v)
		return nomem(p);
	c->n = nv;
	for (size_t i = 0; i < nv; i++) {
		struct store_qvalue *q = &c->v[i];
		int rc;

		if (is_id) {
			q->op = STORE_Q_ID;
			q->s[0] = vals[i];
			continue;
		}
		q->op = STORE_Q_LAST_UPDATED;
		if ((rc = take_prefix(p, NULL, &vals[i], &q->cmp)) ||
		    (rc = parse_date(p, vals[i], &q->lo, &q->hi)))
			return rc;
		if (q->cmp == STORE_CMP_AP)
			widen_date(&q->lo, &q->hi);
	}
	return 0;
}

/* token:in=ValueSet-url (or :not-in): the codes of a value set this server
 * knows, which are the R4 value sets of required bindings (fhir_tables). */
static int parse_in(struct parse *p, const struct fhir_search_param *sp, const char *value,
		    int not_in, struct store_qclause *c)
{
	const struct fhir_value_set *vs = NULL;
	size_t n = strcspn(value, "|");	/* a |version is not checked */

	for (size_t i = 1; i < FHIR_VALUE_SET_COUNT; i++)
		if (strlen(fhir_value_sets[i].url) == n && !strncmp(fhir_value_sets[i].url, value, n))
			vs = &fhir_value_sets[i];
	if (!vs)
		return bad(p, "the value set '%s' is not known to this server (it knows the %d value"
			      " sets of R4's required bindings)", value, FHIR_VALUE_SET_COUNT - 1);
	c->param = fhir_search_param_key(sp, FHIR_SEARCH_SUB_VALUE);
	c->table = STORE_IX_TOKEN;
	c->own_type = sp->code[0] != '_';
	c->negate = (uint8_t)(not_in != 0);
	c->v = arena_alloc(p->a, vs->code_count * sizeof(*c->v));
	if (!c->v)
		return nomem(p);
	c->n = vs->code_count;
	for (size_t i = 0; i < vs->code_count; i++) {
		c->v[i].op = STORE_Q_TOKEN;
		c->v[i].has_code = 1;
		c->v[i].s[1] = cstr(fhir_codes[vs->code_first + i]);
	}
	return 0;
}

/*
 * Quantities in UCUM units are compared in canonical units (decision
 * 0025): when every value of the clause names a UCUM code this server
 * knows, the clause reads the parameter's canonical rows, each value
 * converted (mmol/L and umol/L meet in "mol.m-3"). Otherwise it matches
 * codes as written.
 */
static int canonical_clause(struct parse *p, const struct fhir_search_param *sp,
			    struct store_qclause *c)
{
	double f[SEARCH_MAX_VALUES], off[SEARCH_MAX_VALUES];
	char canon[SEARCH_MAX_VALUES][FHIR_UCUM_CANON_MAX];

	for (size_t i = 0; i < c->n; i++) {
		const struct store_qvalue *v = &c->v[i];

		if (v->op != STORE_Q_NUMBER || !str_eq(v->s[0], FHIR_UCUM_SYSTEM) ||
		    fhir_ucum_canonical(v->s[1].p, v->s[1].n, &f[i], &off[i], canon[i]))
			return 0;
	}
	for (size_t i = 0; i < c->n; i++) {
		struct store_qvalue *v = &c->v[i];
		size_t n = strlen(canon[i]);
		char *s = arena_alloc(p->a, n + 1);

		if (!s)
			return nomem(p);
		memcpy(s, canon[i], n + 1);
		v->s[1] = (struct str){ s, n };
		v->dlo = v->dlo * f[i] + off[i];
		v->dhi = v->dhi * f[i] + off[i];
		v->elo = v->elo * f[i] + off[i];
	}
	c->param = fhir_search_param_key(sp, FHIR_SEARCH_SUB_CANONICAL);
	return 0;
}

/* name=value on type as one clause (values OR'ed), with the parameter's
 * own rows (parse_clause reads a union's parts). */
static int parse_clause_rows(struct parse *p, const char *type, struct str name,
			     const char *value, int depth, struct store_qclause *c)
{
	struct parsed_name pn;
	struct str vals[SEARCH_MAX_VALUES], type_mod = { NULL, 0 };
	unsigned mod = 0;
	size_t nv;
	int rc;

	if (depth > FHIR_SEARCH_MAX_CHAIN)
		return bad(p, "chains and _has nest at most %d levels", FHIR_SEARCH_MAX_CHAIN);
	if (name.n > 5 && !strncmp(name.p, "_has:", 5))
		return parse_has(p, type, name, value, depth, c);
	if ((rc = parse_name(p, type, name, &pn)))
		return rc;
	if (!pn.sp)
		return bad(p, "%s has no search parameter '%.*s'", type,
			   (int)strcspn(name.p, ":."), name.p);	/* names are NUL-terminated */
	if (!pn.sp->expression && strcmp(pn.sp->code, "_id") && strcmp(pn.sp->code, "_lastUpdated"))
		return bad(p, "'%s' is not supported by this server", pn.sp->code);
	if (pn.modifier.n) {
		int ti = fhir_resource_type_index(pn.modifier.p, pn.modifier.n);

		if (ti >= 0 && pn.sp->type == FHIR_SEARCH_REFERENCE) {
			int ok = pn.sp->n_target == 0;

			type_mod = (struct str){ fhir_resource_type_name(ti), pn.modifier.n };
			for (size_t i = 0; i < pn.sp->n_target; i++)
				ok |= !strcmp(pn.sp->target[i], type_mod.p);
			if (!ok)
				return bad(p, "%s is not a target type of %s.%s", type_mod.p, type,
					   pn.sp->code);
		} else {
			mod = fhir_search_modifier_bit(pn.modifier.p, pn.modifier.n);
			if (!mod)
				return bad(p, "':%.*s' is not a search modifier", STR_FMT(pn.modifier));
			if (!(pn.sp->modifiers & mod))
				return bad(p, "the modifier ':%.*s' does not apply to a %s parameter",
					   STR_FMT(pn.modifier), fhir_search_type_name(pn.sp->type));
			if ((mod & (FHIR_SEARCH_MOD_IN | FHIR_SEARCH_MOD_NOT_IN)) && !pn.chain.n)
				return parse_in(p, pn.sp, value, mod & FHIR_SEARCH_MOD_NOT_IN, c);
			if ((pn.sp->type == FHIR_SEARCH_TOKEN &&
			     mod & (FHIR_SEARCH_MOD_ABOVE | FHIR_SEARCH_MOD_BELOW)) ||
			    (pn.sp->type == FHIR_SEARCH_REFERENCE &&
			     mod & (FHIR_SEARCH_MOD_ABOVE | FHIR_SEARCH_MOD_BELOW)))
				return bad(p, "the modifier ':%.*s' needs terminology or hierarchy"
					   " services, which this server does not have",
					   STR_FMT(pn.modifier));
		}
	}
	if (pn.chain.n && pn.sp->type != FHIR_SEARCH_REFERENCE)
		return bad(p, "only reference parameters can be chained");
	if (pn.chain.n && mod)
		return bad(p, "a chained parameter takes only a type modifier");
	c->param = fhir_search_param_key(pn.sp, FHIR_SEARCH_SUB_VALUE);
	c->table = (uint8_t)table_of(pn.sp->type);
	c->own_type = pn.sp->code[0] != '_';
	if (pn.chain.n) {
		/* One sub-query per target type that has the chained parameter. */
		struct store_qvalue *v = arena_alloc(p->a, (pn.sp->n_target + 1) * sizeof(*v));
		struct err *first_err = NULL;
		size_t n = 0;

		if (!v)
			return nomem(p);
		for (size_t i = 0; i < pn.sp->n_target; i++) {
			const char *t = pn.sp->target[i];
			struct str inner = pn.chain;
			size_t code_n = strcspn(inner.p, ":.");

			if (type_mod.n && strcmp(type_mod.p, t))
				continue;
			if (!fhir_search_param_find_n(t, strlen(t), inner.p,
						      code_n < inner.n ? code_n : inner.n) &&
			    strncmp(inner.p, "_has:", 5))
				continue;
			v[n].op = STORE_Q_REFERENCE;
			v[n].s[0] = cstr(t);
			rc = sub_query(p, t, inner, value, depth, &v[n].sub);
			if (rc == ERR_BAD_REQUEST && !type_mod.n &&
			    p->subqueries <= FHIR_SEARCH_MAX_SUBQUERIES) {
				/* The rest of the chain does not apply to this target (its
				 * `target` is a token, say): skip it, but keep the first
				 * reason in case no target takes the chain. */
				if (!first_err)
					first_err = arena_alloc(p->a, sizeof(*first_err));
				if (first_err && !first_err->code)
					*first_err = *p->e;
				err_clear(p->e);
				continue;
			}
			if (rc)
				return rc;
			n++;
		}
		if (!n && first_err && first_err->code) {
			*p->e = *first_err;
			return ERR_BAD_REQUEST;
		}
		if (!n)
			return bad(p, "no target of '%s' has a parameter '%.*s'", pn.sp->code,
				   (int)strcspn(pn.chain.p, ":."), pn.chain.p);
		c->v = v;
		c->n = n;
		return 0;
	}

	if ((rc = split_values(p, value, ',', vals, SEARCH_MAX_VALUES, &nv)))
		return rc;
	if (!strcmp(pn.sp->code, "_id") || !strcmp(pn.sp->code, "_lastUpdated"))
		return parse_resource_param(p, pn.sp->code, vals, nv, pn.modifier, c);
	if (mod & FHIR_SEARCH_MOD_MISSING) {
		int missing;

		if (nv != 1 || !(str_eq(vals[0], "true") || str_eq(vals[0], "false")))
			return bad(p, ":missing takes true or false");
		missing = str_eq(vals[0], "true");
		c->v = arena_alloc(p->a, sizeof(*c->v));
		if (!c->v)
			return nomem(p);
		c->v->op = STORE_Q_PRESENT;
		c->n = 1;
		c->negate = (uint8_t)missing;
		return 0;
	}
	c->negate = (mod & FHIR_SEARCH_MOD_NOT) != 0;
	c->v = arena_alloc(p->a, nv * sizeof(*c->v));
	if (!c->v)
		return nomem(p);
	c->n = nv;
	for (size_t i = 0; i < nv; i++)
		if ((rc = parse_value(p, pn.sp, mod, type_mod, vals[i], c, &c->v[i])))
			return rc;
	return pn.sp->type == FHIR_SEARCH_QUANTITY ? canonical_clause(p, pn.sp, c) : 0;
}

/* name=value on type as one clause (values OR'ed). A union parameter has
 * no rows (fhir_search_param_union): the clause reads its two parts', each
 * value once per part, and :missing and :not mean "in neither". */
static int parse_clause(struct parse *p, const char *type, struct str name, const char *value,
			int depth, struct store_qclause *c)
{
	uint32_t part[2];
	struct store_qvalue *v;
	int rc = parse_clause_rows(p, type, name, value, depth, c);

	if (rc || !c->n || c->param == STORE_PARAM_EACH || c->v[0].sub ||
	    c->v[0].op == STORE_Q_HAS || !fhir_search_union_keys(c->param, part))
		return rc;
	v = arena_alloc(p->a, 2 * c->n * sizeof(*v));
	if (!v)
		return nomem(p);
	for (size_t i = 0; i < 2 * c->n; i++) {
		v[i] = c->v[i % c->n];
		v[i].has_param = part[i / c->n];
	}
	c->v = v;
	c->n *= 2;
	c->param = STORE_PARAM_EACH;
	return 0;
}

/* ---- result parameters -------------------------------------------------- */

static int parse_count(struct parse *p, const char *v, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (!*v || *end || errno || n < 0)
		return bad(p, "_count takes a whole number");
	*out = n > FHIR_SEARCH_MAX_COUNT ? FHIR_SEARCH_MAX_COUNT : (int)n;
	return 0;
}

static int parse_sort(struct parse *p, const char *type, const char *value)
{
	struct str keys[STORE_QUERY_MAX_SORT + 1];
	struct store_query *q = &p->out->q;
	size_t n;
	int rc;

	if ((rc = split_values(p, value, ',', keys, STORE_QUERY_MAX_SORT, &n)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct store_qsort *k = &q->sort[q->n_sort];
		struct str key = keys[i];
		const struct fhir_search_param *sp;

		k->desc = key.n && key.p[0] == '-';
		if (k->desc) {
			key.p++;
			key.n--;
		}
		if (str_eq(key, "_id")) {
			k->kind = STORE_SORT_ID;
		} else if (str_eq(key, "_lastUpdated")) {
			k->kind = STORE_SORT_LAST_UPDATED;
		} else {
			sp = type ? fhir_search_param_find_n(type, strlen(type), key.p, key.n) : NULL;
			if (!sp || sp->type == FHIR_SEARCH_COMPOSITE || sp->type == FHIR_SEARCH_SPECIAL ||
			    !sp->expression)
				return bad(p, "cannot sort by '%.*s'%s%s", STR_FMT(key),
					   type ? " on " : " in a search across types", type ? type : "");
			k->kind = STORE_SORT_PARAM;
			k->table = (uint8_t)table_of(sp->type);
			k->param = fhir_search_param_key(sp, FHIR_SEARCH_SUB_VALUE);
			k->n_param = 1;
			if (fhir_search_union_keys(k->param, k->part))
				k->n_param = 2;
		}
		q->n_sort++;
	}
	return 0;
}

/* _include=Type:param[:target] or Type:*; _revinclude=Type:param[:target]. */
static int parse_include(struct parse *p, const char *type, const char *value, int rev,
			 int iterate)
{
	struct fhir_search_request *o = p->out;
	const char *c1 = strchr(value, ':'), *c2, *target = NULL;
	const char *from;
	struct str pname;
	int ti;

	if (!c1)
		return bad(p, "takes Type:parameter[:targetType]");
	ti = fhir_resource_type_index(value, (size_t)(c1 - value));
	if (ti < 0)
		return bad(p, "'%.*s' is not a resource type", (int)(c1 - value), value);
	from = fhir_resource_type_name(ti);
	if (!rev && !iterate && type && strcmp(from, type))
		return bad(p, "_include must start with the searched type %s (or use :iterate)", type);
	c2 = strchr(c1 + 1, ':');
	pname = (struct str){ c1 + 1, c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1) };
	if (c2) {
		int tt = fhir_resource_type_index(c2 + 1, strlen(c2 + 1));

		if (tt < 0)
			return bad(p, "'%s' is not a resource type", c2 + 1);
		target = fhir_resource_type_name(tt);
	}
	if (str_eq(pname, "*")) {
		const struct fhir_search_customs *custom = fhir_search_customs();
		size_t n;
		const struct fhir_search_param *all = fhir_search_params_for(from, &n), *sp;

		for (size_t i = 0; (sp = i < n ? &all[i] :
				    fhir_search_customs_param(custom, ti, i - n)) != NULL; i++) {
			if (sp->type != FHIR_SEARCH_REFERENCE || !sp->expression)
				continue;
			if (o->n_inc == STORE_SEARCH_MAX_INCLUDE)
				return bad(p, "more than %d includes", STORE_SEARCH_MAX_INCLUDE);
			o->inc[o->n_inc++] = (struct store_qinclude){
				.param = fhir_search_param_key(sp, FHIR_SEARCH_SUB_VALUE),
				.from_type = from, .target_type = target,
				.rev = (uint8_t)rev, .iterate = (uint8_t)iterate };
		}
		return 0;
	}
	{
		const struct fhir_search_param *sp =
			fhir_search_param_find_n(from, strlen(from), pname.p, pname.n);

		if (!sp || sp->type != FHIR_SEARCH_REFERENCE)
			return bad(p, "'%.*s' is not a reference parameter of %s", STR_FMT(pname), from);
		if (o->n_inc == STORE_SEARCH_MAX_INCLUDE)
			return bad(p, "more than %d includes", STORE_SEARCH_MAX_INCLUDE);
		o->inc[o->n_inc++] = (struct store_qinclude){
			.param = fhir_search_param_key(sp, FHIR_SEARCH_SUB_VALUE),
			.from_type = from, .target_type = target,
			.rev = (uint8_t)rev, .iterate = (uint8_t)iterate };
	}
	return 0;
}

static int parse_control(struct parse *p, const char *type, const char *name, const char *value,
			 struct store_qclause *types)
{
	struct fhir_search_request *o = p->out;
	const char *mod = strchr(name, ':');

	if (!strncmp(name, "_include", 8) || !strncmp(name, "_revinclude", 11)) {
		int rev = name[1] == 'r';

		if (mod && strcmp(mod, ":iterate") && strcmp(mod, ":recurse"))
			return bad(p, "the only modifier here is :iterate");
		return parse_include(p, type, value, rev, mod != NULL);
	}
	if (mod)
		return bad(p, "takes no modifier");
	if (!strcmp(name, "_count"))
		return parse_count(p, value, &o->count);
	if (!strcmp(name, "_cursor")) {
		o->cursor = value;
		return 0;
	}
	if (!strcmp(name, "_sort"))
		return parse_sort(p, type, value);
	if (!strcmp(name, "_elements")) {
		o->elements = value;
		return 0;
	}
	if (!strcmp(name, "_total")) {
		o->total_given = 1;
		if (!strcmp(value, "none"))
			o->total = STORE_TOTAL_NONE;
		else if (!strcmp(value, "accurate") || !strcmp(value, "estimate"))
			o->total = STORE_TOTAL_ACCURATE;
		else
			return bad(p, "_total takes none, estimate or accurate");
		return 0;
	}
	if (!strcmp(name, "_summary")) {
		static const char *const names[] = { "false", "true", "text", "data", "count" };

		for (int i = 0; i < 5; i++)
			if (!strcmp(value, names[i])) {
				o->summary = i;
				return 0;
			}
		return bad(p, "_summary takes true, text, data, count or false");
	}
	if (!strcmp(name, "_type")) {
		struct str vals[SEARCH_MAX_VALUES];
		size_t n;
		int rc;

		if (type)
			return bad(p, "_type is for searches across types (GET [base]?_type=...)");
		if ((rc = split_values(p, value, ',', vals, SEARCH_MAX_VALUES, &n)))
			return rc;
		types->v = arena_alloc(p->a, n * sizeof(*types->v));
		if (!types->v)
			return nomem(p);
		types->n = n;
		for (size_t i = 0; i < n; i++) {
			int ti = fhir_resource_type_index(vals[i].p, vals[i].n);

			if (ti < 0)
				return bad(p, "'%.*s' is not a resource type", STR_FMT(vals[i]));
			types->v[i].op = STORE_Q_TYPE;
			types->v[i].s[0] = cstr(fhir_resource_type_name(ti));
		}
		return 0;
	}
	ignore(p, name, "not supported by this server");	/* _contained, _containedType */
	return 0;
}

/* A bound that merge_ranges can join: one value of a date or number
 * parameter with a gt/lt/ge/le/sa/eb/ap prefix, or a union's clause (each
 * value twice, once per part: parse_clause) of one such value. */
static int range_clause(const struct store_qclause *c)
{
	size_t n = c->param == STORE_PARAM_EACH ? 2 : 1;

	if (c->negate || c->n != n)
		return 0;
	for (size_t k = 0; k < n; k++) {
		const struct store_qvalue *v = &c->v[k];

		if ((v->op != STORE_Q_DATE && v->op != STORE_Q_NUMBER) || v->cmp == STORE_CMP_EQ ||
		    v->cmp == STORE_CMP_NE || v->and_also || v->sub || v->op != c->v[0].op)
			return 0;
	}
	return 1;
}

/* date=ge2023-04-01&date=lt2023-05-01 is a range on one value, as the spec's
 * own example reads it: the two clauses become one, whose rows must match
 * both bounds (a union's: each part's row must). (Read as two independent
 * clauses, a resource with two dates could match with neither in the range,
 * and the database must gather every match of each bound.) */
static void merge_ranges(struct store_query *q)
{
	for (size_t i = 0; i < q->n; i++) {
		struct store_qclause *a = &q->c[i];

		if (!range_clause(a))
			continue;
		for (size_t j = i + 1; j < q->n; j++) {
			struct store_qclause *b = &q->c[j];

			if (!range_clause(b) || b->param != a->param || b->table != a->table ||
			    b->n != a->n || b->v[0].op != a->v[0].op ||
			    (a->param == STORE_PARAM_EACH && (b->v[0].has_param != a->v[0].has_param ||
							      b->v[1].has_param != a->v[1].has_param)))
				continue;
			for (size_t k = 0; k < a->n; k++)
				a->v[k].and_also = &b->v[k];
			q->c[j] = q->c[q->n - 1];	/* b's values stay where they are (arena) */
			q->n--;
			break;
		}
	}
}

int fhir_search_parse(const char *type, int64_t tenant, const struct fhir_search_arg *args,
		      size_t n, int strict, const char *base, struct arena *a,
		      struct fhir_search_request *out, struct err *e)
{
	struct parse p = { .a = a, .e = e, .tenant = tenant, .strict = strict, .base = base,
			   .base_n = base ? strlen(base) : 0, .out = out };
	struct store_qclause types = { 0 };
	struct store_qclause *c;
	int rc;

	memset(out, 0, sizeof(*out));
	out->q.tenant = tenant;
	out->q.type = type;
	out->count = FHIR_SEARCH_DEFAULT_COUNT;
	out->total = STORE_TOTAL_NONE;
	c = arena_alloc(a, (SEARCH_MAX_CLAUSES + 2) * sizeof(*c));	/* + _type, compartment */
	if (!c)
		return nomem(&p);
	out->q.c = c;
	for (size_t i = 0; i < n; i++) {
		const char *name = args[i].name;

		p.name = name;
		if (!args[i].value || !args[i].value[0])
			continue;	/* "empty parameters are just ignored" (search.html) */
		if (fhir_search_is_control(name)) {
			if ((rc = parse_control(&p, type, name, args[i].value, &types)))
				return rc;
			continue;
		}
		if (!strcmp(name, "_format") || !strcmp(name, "_pretty"))
			continue;
		if (!strcmp(name, "_text") || !strcmp(name, "_content") || !strcmp(name, "_query") ||
		    !strncmp(name, "_text:", 6) || !strncmp(name, "_content:", 9)) {
			if (strict)
				return bad(&p, "not supported by this server");
			ignore(&p, name, "not supported by this server");
			continue;
		}
		if (out->q.n == SEARCH_MAX_CLAUSES)
			return bad(&p, "more than %d search parameters", SEARCH_MAX_CLAUSES);
		if (!strcmp(name, "_list") || !strncmp(name, "_list:", 6)) {
			/* _list=id is _has:List:item:_id=id */
			if (!type)
				return bad(&p, "_list needs a resource type");
			rc = parse_has(&p, type, cstr("_has:List:item:_id"), args[i].value, 0,
				       &c[out->q.n]);
			if (rc)
				return rc;
			out->q.n++;
			continue;
		}
		if (!type) {
			/* Across types only the parameters kept with every resource. */
			size_t code_n = strcspn(name, ":");

			if (name[0] == '_' && strncmp(name, "_has:", 5) &&
			    fhir_search_param_find_n("Account", 7, name, code_n)) {
				/* The common parameters share their keys across types
				 * (fhir_search_param_key): read them as Account's. */
				rc = parse_clause(&p, "Account", cstr(name), args[i].value, 0, &c[out->q.n]);
			} else if (strict) {
				return bad(&p, "across types only the common parameters (_id, _lastUpdated,"
					       " _tag, _profile, _security, _source) and _type are supported");
			} else {
				ignore(&p, name, "across types only the common parameters and _type are supported");
				continue;
			}
		} else {
			rc = parse_clause(&p, type, cstr(name), args[i].value, 0, &c[out->q.n]);
		}
		if (rc == ERR_NOT_SUPPORTED) {
			ignore(&p, name, "not supported by this server");
			continue;
		}
		if (rc == ERR_BAD_REQUEST && !strict) {
			/* An unknown parameter is ignored (and reported); a known one
			 * with a bad value is an error. */
			struct parsed_name pn;
			size_t code_n = strcspn(name, ":.");

			if (strncmp(name, "_has:", 5) && !parse_name(&p, type ? type : "Resource",
								       (struct str){ name, code_n }, &pn) &&
			    !pn.sp) {
				err_clear(e);
				ignore(&p, name, "unknown search parameter");
				continue;
			}
		}
		if (rc)
			return rc;
		out->q.n++;
	}
	merge_ranges(&out->q);
	if (types.n)
		c[out->q.n++] = types;
	if (out->summary == FHIR_SUMMARY_COUNT) {
		out->count = 0;
		out->total = STORE_TOTAL_ACCURATE;
	}
	return 0;
}

int fhir_search_compartment(struct fhir_search_request *out, const char *compartment,
			    const char *id, struct arena *a, struct err *e)
{
	struct store_qclause *c = &out->q.c[out->q.n];
	const char *type = out->q.type;
	size_t n = 0;

	if (!type)
		return err_set(e, ERR_BAD_REQUEST, NULL, "a compartment search names a resource type");
	for (size_t i = 0; i < fhir_compartment_row_count; i++) {
		const struct fhir_compartment_row *r = &fhir_compartment_rows[i];

		n += !strcmp(r->compartment, compartment) && !strcmp(r->resource_type, type);
	}
	if (!n)
		return err_set(e, ERR_BAD_REQUEST, NULL, "%s resources are not in the %s compartment",
			       type, compartment);
	c->v = arena_alloc(a, n * sizeof(*c->v));
	if (!c->v)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	c->param = STORE_PARAM_EACH;
	c->table = STORE_IX_REFERENCE;
	for (size_t i = 0; i < fhir_compartment_row_count; i++) {
		const struct fhir_compartment_row *r = &fhir_compartment_rows[i];
		const struct fhir_search_param *sp;
		struct store_qvalue *v;

		if (strcmp(r->compartment, compartment) || strcmp(r->resource_type, type))
			continue;
		sp = fhir_search_param_find(type, r->param);
		if (!sp || sp->type != FHIR_SEARCH_REFERENCE)
			continue;	/* "{def}" and the like: not a reference parameter */
		v = &c->v[c->n++];
		v->op = STORE_Q_REFERENCE;
		v->has_param = fhir_search_param_key(sp, FHIR_SEARCH_SUB_VALUE);
		v->s[0] = cstr(compartment);
		v->s[1] = cstr(id);
	}
	if (!c->n) {
		c->v[0].op = STORE_Q_ID;	/* matches nothing of this type */
		c->v[0].s[0] = cstr("");
		c->param = 0;
		c->n = 1;
	}
	out->q.n++;
	return 0;
}

/* 1 when resources of type can be in a compartment of this kind. */
static int compartment_has_type(const char *compartment, const char *type)
{
	for (size_t i = 0; i < fhir_compartment_row_count; i++) {
		const struct fhir_compartment_row *r = &fhir_compartment_rows[i];

		if (!strcmp(r->compartment, compartment) && !strcmp(r->resource_type, type))
			return 1;
	}
	return 0;
}

/* The _type clause of a search across types, or NULL. */
static const struct store_qclause *type_clause(const struct store_query *q)
{
	for (size_t i = 0; i < q->n; i++)
		if (q->c[i].n && q->c[i].v[0].op == STORE_Q_TYPE)
			return &q->c[i];
	return NULL;
}

static int type_listed(const struct store_qclause *types, const char *type)
{
	for (size_t i = 0; types && i < types->n; i++)
		if (str_eq(types->v[i].s[0], type))
			return 1;
	return 0;
}

/* The include of $everything: what the page refers to through any parameter,
 * of the types outside the compartment (and in _type when given), under
 * the request's other clauses (_lastUpdated). None when no type is left. */
static int everything_include(struct fhir_search_request *out, const char *compartment,
			      struct arena *a, struct err *e)
{
	const struct store_qclause *types = type_clause(&out->q);
	struct store_query *f = arena_alloc(a, sizeof(*f));
	struct store_qclause *c = arena_alloc(a, (out->q.n + 1) * sizeof(*c));
	struct store_qvalue *v = arena_alloc(a, FHIR_RESOURCE_TYPE_COUNT * sizeof(*v));
	size_t nv = 0;

	if (!f || !c || !v)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	for (int i = 0; i < FHIR_RESOURCE_TYPE_COUNT; i++) {
		const char *t = fhir_resource_type_name(i);

		if (compartment_has_type(compartment, t) || !strcmp(t, compartment) ||
		    (types && !type_listed(types, t)))
			continue;
		v[nv].op = STORE_Q_TYPE;
		v[nv++].s[0] = cstr(t);
	}
	if (!nv)
		return 0;
	f->tenant = out->q.tenant;
	f->c = c;
	for (size_t i = 0; i < out->q.n; i++)
		if (&out->q.c[i] != types && !(out->q.c[i].n && out->q.c[i].v[0].op == STORE_Q_COMPARTMENT))
			c[f->n++] = out->q.c[i];
	c[f->n++] = (struct store_qclause){ .v = v, .n = nv };
	if (out->n_inc == STORE_SEARCH_MAX_INCLUDE)
		return err_set(e, ERR_BAD_REQUEST, NULL, "more than %d includes", STORE_SEARCH_MAX_INCLUDE);
	out->inc[out->n_inc++] = (struct store_qinclude){ .param = STORE_PARAM_EACH, .filter = f };
	return 0;
}

int fhir_search_everything(struct fhir_search_request *out, const char *compartment,
			   const char *id, const char *base, struct arena *a, struct err *e)
{
	struct store_qcompartment *k = arena_alloc(a, sizeof(*k));
	uint32_t *params = arena_alloc(a, fhir_compartment_row_count * sizeof(*params));
	struct store_qvalue *v = arena_alloc(a, sizeof(*v));
	struct store_qclause *c;

	if (!k || !params || !v)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	if (out->q.type)
		return err_set(e, ERR_BAD_REQUEST, NULL, "$everything searches across types");
	for (size_t i = 0; i < fhir_compartment_row_count; i++) {
		const struct fhir_compartment_row *r = &fhir_compartment_rows[i];
		const struct fhir_search_param *sp;

		if (strcmp(r->compartment, compartment))
			continue;
		sp = fhir_search_param_find(r->resource_type, r->param);
		if (sp && sp->type == FHIR_SEARCH_REFERENCE)
			params[k->n_params++] = fhir_search_param_key(sp, FHIR_SEARCH_SUB_VALUE);
	}
	if (!k->n_params)
		return err_set(e, ERR_BAD_REQUEST, NULL, "'%s' is not a compartment", compartment);
	k->type = compartment;
	k->id = id;
	k->base = base ? cstr(base) : (struct str){ "", 0 };
	k->params = params;
	k->with_owner = 1;
	v->op = STORE_Q_COMPARTMENT;
	v->comp = k;
	/* fhir_search_parse left room for two more clauses (_type, a compartment). */
	c = &out->q.c[out->q.n++];
	*c = (struct store_qclause){ .v = v, .n = 1 };
	return everything_include(out, compartment, a, e);
}
