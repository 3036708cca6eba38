/*
 * fhirpath.c — the FHIRPath subset that the R4 search parameters use,
 * evaluated over json-c trees typed by the R4 tables of fhir_tables.c.
 *
 * Compiling turns the text into nodes in caller-provided storage (no
 * allocation): a recursive-descent parser, one function per precedence
 * level of the FHIRPath grammar, that refuses with a clear message every
 * operator, function or literal outside the subset (see search.h for the
 * list). Names and literals stay in the source text (offset, length).
 *
 * Evaluating walks the nodes with a value stack (struct fhirpath_ctx):
 * every node pushes its result on top and pops what its operands pushed,
 * so the stack holds only live collections. Each value carries its FHIR
 * type, known from the tables as the path descends (choice elements by
 * their JSON name, nested resources by their resourceType), which is what
 * `as`, `is`, `ofType()` and the index extraction need.
 *
 * `resolve()` does not read any store: it gives a value that knows only
 * the type named by the reference ("Patient/1", ".../Patient/1/_history/2",
 * a canonical URL) or by Reference.type; a "#id" reference resolves to the
 * contained resource itself.
 */
#include "search.h"
#include "fhir.h"
#include "fhir_tables.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Type ids above the FHIR types: the System types of FHIRPath literals,
 * and DomainResource (abstract, so not in fhir_types[]). */
enum {
	SYS_BOOLEAN = 0x1000,
	SYS_STRING,
	SYS_INTEGER,
	SYS_DECIMAL,
	SYS_DATE,
	SYS_DATETIME,
	SYS_TIME,
	SYS_DOMAIN_RESOURCE,
	SYS_UNKNOWN,		/* System.Patient and such: a type nothing is */
	SYS_END
};

static const char *const sys_type_names[] = {
	"System.Boolean", "System.String", "System.Integer", "System.Decimal",
	"System.Date", "System.DateTime", "System.Time", "DomainResource", "System.?",
};

enum op {
	OP_THIS,	/* $this, or the implicit focus */
	OP_RESOURCE,	/* %resource, %rootResource */
	OP_CONTEXT,	/* %context: the focus the evaluation started from */
	OP_TYPE_ROOT,	/* `Patient` at the start of a path: focus if of that type */
	OP_MEMBER,	/* a.name */
	OP_INDEX,	/* a[b] */
	OP_UNION,	/* a | b */
	OP_EQ,
	OP_NE,
	OP_AND,
	OP_OR,
	OP_XOR,
	OP_IMPLIES,
	OP_IS,		/* a is T, a.is(T) */
	OP_AS,		/* a as T, a.as(T) */
	OP_OFTYPE,	/* a.ofType(T) */
	OP_STRING,
	OP_INTEGER,
	OP_DECIMAL,
	OP_BOOLEAN,	/* flags: the value */
	OP_EMPTY,	/* {} */
	OP_WHERE,	/* a.where(b) */
	OP_EXISTS,	/* a.exists(), a.exists(b) */
	OP_EMPTY_FN,
	OP_FIRST,
	OP_LAST,
	OP_COUNT,
	OP_NOT,
	OP_HAS_VALUE,
	OP_RESOLVE,
	OP_EXTENSION	/* a.extension(b) */
};

#define NODE_ESCAPED 0x01	/* OP_STRING: the literal holds backslash escapes */
#define NODE_CONSTANT 0x80	/* OP_STRING: %ucum & co, index in bits 1..6 */

/* ---- types ------------------------------------------------------------- */

/* strcmp of a NUL-terminated s against the n bytes at p (which hold no
 * NUL). A loop, not strncmp: the names compared are a few bytes long. */
static int cmp_counted(const char *s, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != p[i])
			return (unsigned char)s[i] - (unsigned char)p[i];
	return s[n] ? 1 : 0;
}

const char *fhirpath_type_name(unsigned type)
{
	if (type < FHIR_TYPE_COUNT)
		return fhir_types[type].name;
	if (type >= SYS_BOOLEAN && type < SYS_END)
		return sys_type_names[type - SYS_BOOLEAN];
	return "?";
}

int fhirpath_type_id(const char *name, size_t n)
{
	int r = fhir_resource_type_index(name, n);

	if (r >= 0)
		return fhir_resource_types[r].type;
	for (int t = 0; t < FHIR_TYPE_COUNT; t++)
		if (fhir_types[t].kind != FHIR_KIND_RESOURCE &&
		    fhir_types[t].kind != FHIR_KIND_BACKBONE && cmp_counted(fhir_types[t].name, name, n) == 0)
			return t;
	if (cmp_counted("DomainResource", name, n) == 0)
		return SYS_DOMAIN_RESOURCE;
	return -1;
}

/* Specializations, as the official FHIRPath test suite has them: the
 * profiles of Quantity are Quantities for `is`, `as` and `ofType`; the
 * primitive specializations (code, id and markdown of string; url,
 * canonical, oid and uuid of uri; positiveInt and unsignedInt of integer)
 * count for `is` only (Patient.gender.is(string) is true, but
 * Patient.gender.as(string) is empty). FHIR primitives are never System
 * types (Patient.active.is(System.Boolean) is false). */
static const char *const quantity_profiles[] = {
	"Age", "Count", "Distance", "Duration", "MoneyQuantity", "SimpleQuantity",
};

static bool primitive_derives(int prim, int base)
{
	switch (base) {
	case FHIR_PRIM_STRING:
		return prim == FHIR_PRIM_CODE || prim == FHIR_PRIM_ID || prim == FHIR_PRIM_MARKDOWN;
	case FHIR_PRIM_URI:
		return prim == FHIR_PRIM_URL || prim == FHIR_PRIM_CANONICAL || prim == FHIR_PRIM_OID ||
		       prim == FHIR_PRIM_UUID;
	case FHIR_PRIM_INTEGER:
		return prim == FHIR_PRIM_POSITIVE_INT || prim == FHIR_PRIM_UNSIGNED_INT;
	default:
		return false;
	}
}

static bool is_non_domain(unsigned type)
{
	const char *name = fhir_types[type].name;

	return strcmp(name, "Bundle") == 0 || strcmp(name, "Binary") == 0 ||
	       strcmp(name, "Parameters") == 0;
}

static int type_matches(unsigned type, unsigned base, bool primitives_derive)
{
	if (type == base)
		return 1;
	if (base == SYS_DOMAIN_RESOURCE)
		return type < FHIR_TYPE_COUNT && fhir_types[type].kind == FHIR_KIND_RESOURCE &&
		       !is_non_domain(type);
	if (type >= FHIR_TYPE_COUNT || base >= FHIR_TYPE_COUNT)
		return 0;
	switch (fhir_types[base].kind) {
	case FHIR_KIND_ANY_RESOURCE:
		return fhir_types[type].kind == FHIR_KIND_RESOURCE;
	case FHIR_KIND_PRIMITIVE:
		return primitives_derive && fhir_types[type].kind == FHIR_KIND_PRIMITIVE &&
		       primitive_derives(fhir_types[type].prim, fhir_types[base].prim);
	case FHIR_KIND_COMPLEX:
		if (fhir_types[type].kind != FHIR_KIND_COMPLEX ||
		    strcmp(fhir_types[base].name, "Quantity") != 0)
			return 0;
		for (size_t i = 0; i < sizeof(quantity_profiles) / sizeof(quantity_profiles[0]); i++)
			if (strcmp(fhir_types[type].name, quantity_profiles[i]) == 0)
				return 1;
		return 0;
	default:
		return 0;	/* resources and backbone elements have no subtypes here */
	}
}

int fhirpath_type_is(unsigned type, unsigned base)
{
	return type_matches(type, base, true);
}

/* What `as` and `ofType` accept. */
static int type_as(unsigned type, unsigned base)
{
	return type_matches(type, base, false);
}

/* ---- tokens ------------------------------------------------------------ */

enum tok_kind {
	T_END,
	T_IDENT,	/* name, or `delimited name` (then off/n exclude the backticks) */
	T_STRING,	/* 'text': off/n exclude the quotes */
	T_NUMBER,
	T_DATETIME,	/* @2020..., refused */
	T_DOLLAR,	/* $this: off/n = "this" */
	T_PERCENT,	/* %resource: off/n = "resource" */
	T_DOT, T_COMMA, T_LPAREN, T_RPAREN, T_LBRACKET, T_RBRACKET, T_LBRACE, T_RBRACE,
	T_PIPE, T_EQ, T_NE, T_EQUIV, T_NEQUIV, T_LT, T_GT, T_LE, T_GE,
	T_PLUS, T_MINUS, T_STAR, T_SLASH, T_AMP
};

struct tok {
	int kind;
	uint32_t off, n;	/* the token's text (see above) */
	uint32_t at;		/* where it starts, for messages */
	bool escaped;		/* T_STRING with backslashes */
	bool decimal;		/* T_NUMBER with a fraction */
};

struct parser {
	const char *src;
	size_t len, pos;
	struct tok t;		/* current token */
	struct fhirpath_node *node;
	size_t cap, n;
	int depth;
	struct err *e;
	int rc;			/* first error */
};

static int fail(struct parser *p, int code, uint32_t at, const char *fmt, ...) LT_PRINTF(4, 5);

static int fail(struct parser *p, int code, uint32_t at, const char *fmt, ...)
{
	if (!p->rc) {
		char msg[ERR_DIAG_MAX];
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		p->rc = err_set(p->e, code, NULL, "FHIRPath: %s at offset %u of \"%.*s\"", msg,
				(unsigned)at, p->len > 120 ? 120 : (int)p->len, p->src);
	}
	return -1;
}

static bool is_ident_start(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_ident_char(int c)
{
	return is_ident_start(c) || is_digit(c);
}

/* Skips white space and comments; 0, or -1 for an unterminated comment. */
static int skip_blank(struct parser *p)
{
	const char *s = p->src;

	for (;;) {
		if (p->pos < p->len && (s[p->pos] == ' ' || s[p->pos] == '\t' ||
					s[p->pos] == '\r' || s[p->pos] == '\n')) {
			p->pos++;
		} else if (p->pos + 1 < p->len && s[p->pos] == '/' && s[p->pos + 1] == '/') {
			while (p->pos < p->len && s[p->pos] != '\n')
				p->pos++;
		} else if (p->pos + 1 < p->len && s[p->pos] == '/' && s[p->pos + 1] == '*') {
			size_t start = p->pos;

			p->pos += 2;
			while (p->pos + 1 < p->len && !(s[p->pos] == '*' && s[p->pos + 1] == '/'))
				p->pos++;
			if (p->pos + 1 >= p->len)
				return fail(p, ERR_BAD_REQUEST, (uint32_t)start,
					    "unterminated comment");
			p->pos += 2;
		} else {
			return 0;
		}
	}
}

/* Reads a quoted run ending in `close`, honouring backslash escapes. */
static int quoted(struct parser *p, char close, struct tok *t)
{
	size_t start = p->pos;

	t->escaped = false;
	p->pos++;
	t->off = (uint32_t)p->pos;
	while (p->pos < p->len && p->src[p->pos] != close) {
		if (p->src[p->pos] == '\\') {
			t->escaped = true;
			p->pos++;
		}
		p->pos++;
	}
	if (p->pos >= p->len)
		return fail(p, ERR_BAD_REQUEST, (uint32_t)start, "unterminated %s", close == '`' ? "`name`" : "string");
	t->n = (uint32_t)(p->pos - t->off);
	p->pos++;
	return 0;
}

static int next(struct parser *p)
{
	struct tok *t = &p->t;
	const char *s = p->src;
	char c;

	if (skip_blank(p))
		return -1;
	memset(t, 0, sizeof(*t));
	t->at = t->off = (uint32_t)p->pos;
	if (p->pos >= p->len) {
		t->kind = T_END;
		return 0;
	}
	c = s[p->pos];
	if (is_ident_start(c)) {
		while (p->pos < p->len && is_ident_char(s[p->pos]))
			p->pos++;
		t->kind = T_IDENT;
		t->n = (uint32_t)(p->pos - t->off);
		return 0;
	}
	if (c == '`') {
		t->kind = T_IDENT;
		return quoted(p, '`', t);
	}
	if (c == '\'') {
		t->kind = T_STRING;
		return quoted(p, '\'', t);
	}
	if (is_digit(c)) {
		while (p->pos < p->len && is_digit(s[p->pos]))
			p->pos++;
		if (p->pos + 1 < p->len && s[p->pos] == '.' && is_digit(s[p->pos + 1])) {
			p->pos++;
			while (p->pos < p->len && is_digit(s[p->pos]))
				p->pos++;
			t->decimal = true;
		}
		t->kind = T_NUMBER;
		t->n = (uint32_t)(p->pos - t->off);
		return 0;
	}
	if (c == '$' || c == '%') {
		t->kind = c == '$' ? T_DOLLAR : T_PERCENT;
		p->pos++;
		if (p->pos < p->len && (s[p->pos] == '`' || s[p->pos] == '\''))
			return quoted(p, s[p->pos], t);
		t->off = (uint32_t)p->pos;
		while (p->pos < p->len && (is_ident_char(s[p->pos]) || s[p->pos] == '-'))
			p->pos++;
		t->n = (uint32_t)(p->pos - t->off);
		return 0;
	}
	if (c == '@') {
		t->kind = T_DATETIME;
		p->pos++;
		while (p->pos < p->len && (is_ident_char(s[p->pos]) || strchr("-:.+", s[p->pos])))
			p->pos++;
		t->n = (uint32_t)(p->pos - t->off);
		return 0;
	}
	p->pos++;
	t->n = 1;
	switch (c) {
	case '.': t->kind = T_DOT; return 0;
	case ',': t->kind = T_COMMA; return 0;
	case '(': t->kind = T_LPAREN; return 0;
	case ')': t->kind = T_RPAREN; return 0;
	case '[': t->kind = T_LBRACKET; return 0;
	case ']': t->kind = T_RBRACKET; return 0;
	case '{': t->kind = T_LBRACE; return 0;
	case '}': t->kind = T_RBRACE; return 0;
	case '|': t->kind = T_PIPE; return 0;
	case '=': t->kind = T_EQ; return 0;
	case '~': t->kind = T_EQUIV; return 0;
	case '+': t->kind = T_PLUS; return 0;
	case '-': t->kind = T_MINUS; return 0;
	case '*': t->kind = T_STAR; return 0;
	case '/': t->kind = T_SLASH; return 0;
	case '&': t->kind = T_AMP; return 0;
	case '!':
		if (p->pos < p->len && (s[p->pos] == '=' || s[p->pos] == '~')) {
			t->kind = s[p->pos] == '=' ? T_NE : T_NEQUIV;
			p->pos++;
			t->n = 2;
			return 0;
		}
		break;
	case '<':
	case '>':
		t->kind = c == '<' ? T_LT : T_GT;
		if (p->pos < p->len && s[p->pos] == '=') {
			t->kind = c == '<' ? T_LE : T_GE;
			p->pos++;
			t->n = 2;
		}
		return 0;
	default:
		break;
	}
	return fail(p, ERR_BAD_REQUEST, t->at, "unexpected character '%c'", c);
}

static bool tok_is(const struct parser *p, const char *word)
{
	return p->t.kind == T_IDENT && cmp_counted(word, p->src + p->t.off, p->t.n) == 0 &&
	       p->src[p->t.at] != '`';
}

/* ---- parser ------------------------------------------------------------ */

static int new_node(struct parser *p, int op, int a, int b)
{
	struct fhirpath_node *x;

	if (p->n >= p->cap || p->n >= FHIRPATH_NONE)
		return fail(p, ERR_TOO_LARGE, p->t.at, "more than %zu nodes", p->cap);
	x = &p->node[p->n];
	memset(x, 0, sizeof(*x));
	x->op = (uint8_t)op;
	x->a = a < 0 ? FHIRPATH_NONE : (uint16_t)a;
	x->b = b < 0 ? FHIRPATH_NONE : (uint16_t)b;
	return (int)p->n++;
}

static int parse_expr(struct parser *p);

static int enter(struct parser *p)
{
	if (++p->depth > FHIRPATH_MAX_DEPTH)
		return fail(p, ERR_TOO_LARGE, p->t.at, "nested deeper than %d levels", FHIRPATH_MAX_DEPTH);
	return 0;
}

static int expect(struct parser *p, int kind, const char *what)
{
	if (p->t.kind != kind)
		return fail(p, ERR_BAD_REQUEST, p->t.at, "expected %s", what);
	return next(p);
}

/* A type specifier: Name, FHIR.Name or System.Name. */
static int parse_type(struct parser *p, uint16_t *type)
{
	static const char *const system[] = { "Boolean", "String", "Integer", "Decimal",
					      "Date", "DateTime", "Time" };
	uint32_t at = p->t.at, off, n;
	int qualifier = 0;	/* 1 FHIR, 2 System */
	int id = -1;

	if (p->t.kind != T_IDENT)
		return fail(p, ERR_BAD_REQUEST, at, "expected a type name");
	off = p->t.off;
	n = p->t.n;
	if (next(p))
		return -1;
	if (p->t.kind == T_DOT && (cmp_counted("FHIR", p->src + off, n) == 0 ||
				   cmp_counted("System", p->src + off, n) == 0)) {
		qualifier = p->src[off] == 'F' ? 1 : 2;
		if (next(p))
			return -1;
		if (p->t.kind != T_IDENT)
			return fail(p, ERR_BAD_REQUEST, p->t.at, "expected a type name");
		off = p->t.off;
		n = p->t.n;
		if (next(p))
			return -1;
	}
	if (qualifier != 2)
		id = fhirpath_type_id(p->src + off, n);
	if (id < 0 && qualifier != 1) {
		for (int k = 0; k < 7; k++)
			if (cmp_counted(system[k], p->src + off, n) == 0)
				id = SYS_BOOLEAN + k;
		if (id < 0 && qualifier == 2 && cmp_counted("Quantity", p->src + off, n) == 0)
			id = fhirpath_type_id("Quantity", 8);
		if (id < 0 && qualifier == 2)
			id = SYS_UNKNOWN;
	}
	if (id < 0)
		return fail(p, ERR_BAD_REQUEST, at, "unknown type '%.*s'", (int)n, p->src + off);
	*type = (uint16_t)id;
	return 0;
}

static const struct {
	const char *name;
	int op;
	int min_args, max_args;	/* -1 max: a type argument */
} functions[] = {
	{ "where", OP_WHERE, 1, 1 },	 { "exists", OP_EXISTS, 0, 1 },
	{ "empty", OP_EMPTY_FN, 0, 0 },	 { "first", OP_FIRST, 0, 0 },
	{ "last", OP_LAST, 0, 0 },	 { "count", OP_COUNT, 0, 0 },
	{ "not", OP_NOT, 0, 0 },	 { "hasValue", OP_HAS_VALUE, 0, 0 },
	{ "resolve", OP_RESOLVE, 0, 0 }, { "extension", OP_EXTENSION, 1, 1 },
	{ "as", OP_AS, 1, -1 },		 { "is", OP_IS, 1, -1 },
	{ "ofType", OP_OFTYPE, 1, -1 },
};

/* name(args) applied to input (node index, or -1 for the focus); the
 * current token is the '(' after the name. */
static int parse_call(struct parser *p, int input, uint32_t off, uint32_t n, uint32_t at)
{
	int f = -1, x, arg = -1;

	for (size_t i = 0; i < sizeof(functions) / sizeof(functions[0]); i++)
		if (cmp_counted(functions[i].name, p->src + off, n) == 0)
			f = (int)i;
	if (f < 0)
		return fail(p, ERR_BAD_REQUEST, at, "function %.*s() is outside the supported subset",
			    (int)n, p->src + off);
	if (next(p))
		return -1;
	if (functions[f].max_args < 0) {
		uint16_t type;

		if (parse_type(p, &type) || expect(p, T_RPAREN, "')'"))
			return -1;
		x = new_node(p, functions[f].op, input, -1);
		if (x >= 0)
			p->node[x].type = type;
		return x;
	}
	if (p->t.kind != T_RPAREN) {
		if (functions[f].max_args == 0)
			return fail(p, ERR_BAD_REQUEST, p->t.at, "%s() takes no argument", functions[f].name);
		if (enter(p))
			return -1;
		arg = parse_expr(p);
		p->depth--;
		if (arg < 0)
			return -1;
		if (p->t.kind == T_COMMA)
			return fail(p, ERR_BAD_REQUEST, p->t.at, "%s() takes one argument", functions[f].name);
	} else if (functions[f].min_args > 0) {
		return fail(p, ERR_BAD_REQUEST, p->t.at, "%s() needs an argument", functions[f].name);
	}
	if (expect(p, T_RPAREN, "')'"))
		return -1;
	x = new_node(p, functions[f].op, input, arg);
	if (x >= 0 && functions[f].op == OP_EXTENSION)
		p->node[x].type = (uint16_t)fhirpath_type_id("Extension", 9);
	return x;
}

static int text_node(struct parser *p, int op, const struct tok *t)
{
	int x = new_node(p, op, -1, -1);

	if (x >= 0) {
		p->node[x].text = t->off;
		p->node[x].text_n = (uint16_t)(t->n > 0xFFFF ? 0xFFFF : t->n);
		if (t->n > 0xFFFF)
			return fail(p, ERR_TOO_LARGE, t->at, "literal longer than 65535 bytes");
	}
	return x;
}

/* After a number: a unit ('mg', days) would make it a quantity. */
static int not_quantity(struct parser *p, uint32_t at)
{
	if (p->t.kind == T_STRING || (p->t.kind == T_IDENT && p->src[p->t.at] != '`' &&
				      !tok_is(p, "and") && !tok_is(p, "or") && !tok_is(p, "xor") &&
				      !tok_is(p, "implies") && !tok_is(p, "is") && !tok_is(p, "as") &&
				      !tok_is(p, "div") && !tok_is(p, "mod") && !tok_is(p, "in") &&
				      !tok_is(p, "contains")))
		return fail(p, ERR_BAD_REQUEST, at,
			    "quantity literals are outside the supported subset");
	return 0;
}

static int parse_term(struct parser *p)
{
	struct tok t = p->t;
	int x;

	switch (t.kind) {
	case T_STRING:
		x = text_node(p, OP_STRING, &t);
		if (x >= 0 && t.escaped)
			p->node[x].flags |= NODE_ESCAPED;
		return x < 0 || next(p) ? -1 : x;
	case T_NUMBER:
		x = text_node(p, t.decimal ? OP_DECIMAL : OP_INTEGER, &t);
		return x < 0 || next(p) || not_quantity(p, t.at) ? -1 : x;
	case T_MINUS:
	case T_PLUS: {
		struct tok num;

		if (next(p))
			return -1;
		if (p->t.kind != T_NUMBER)
			return fail(p, ERR_BAD_REQUEST, t.at,
				    "unary '%c' is outside the supported subset",
				    t.kind == T_MINUS ? '-' : '+');
		num = p->t;
		if (t.kind == T_MINUS) {	/* the literal includes its sign */
			num.off = t.off;
			num.n = p->t.off + p->t.n - t.off;
		}
		x = text_node(p, num.decimal ? OP_DECIMAL : OP_INTEGER, &num);
		return x < 0 || next(p) || not_quantity(p, t.at) ? -1 : x;
	}
	case T_DATETIME:
		return fail(p, ERR_BAD_REQUEST, t.at,
			    "date/time literals are outside the supported subset: %.*s",
			    (int)t.n, p->src + t.off);
	case T_LBRACE:
		if (next(p) || expect(p, T_RBRACE, "'}'"))
			return -1;
		return new_node(p, OP_EMPTY, -1, -1);
	case T_LPAREN:
		if (next(p) || enter(p))
			return -1;
		x = parse_expr(p);
		p->depth--;
		if (x < 0 || expect(p, T_RPAREN, "')'"))
			return -1;
		return x;
	case T_DOLLAR:
		if (cmp_counted("this", p->src + t.off, t.n) != 0)
			return fail(p, ERR_BAD_REQUEST, t.at, "$%.*s is outside the supported subset",
				    (int)t.n, p->src + t.off);
		return next(p) ? -1 : new_node(p, OP_THIS, -1, -1);
	case T_PERCENT: {
		static const struct {
			const char *name, *value;
		} constants[] = {
			{ "ucum", "http://unitsofmeasure.org" },
			{ "sct", "http://snomed.info/sct" },
			{ "loinc", "http://loinc.org" },
		};

		if (next(p))
			return -1;
		if (cmp_counted("resource", p->src + t.off, t.n) == 0 ||
		    cmp_counted("rootResource", p->src + t.off, t.n) == 0)
			return new_node(p, OP_RESOURCE, -1, -1);
		if (cmp_counted("context", p->src + t.off, t.n) == 0)
			return new_node(p, OP_CONTEXT, -1, -1);
		for (size_t i = 0; i < sizeof(constants) / sizeof(constants[0]); i++)
			if (cmp_counted(constants[i].name, p->src + t.off, t.n) == 0) {
				/* Not in the source: the node names a row of
				 * constant_values[] instead. */
				x = new_node(p, OP_STRING, -1, -1);
				if (x >= 0) {
					p->node[x].flags = (uint8_t)(NODE_CONSTANT | (i << 1));
					p->node[x].text_n = (uint16_t)strlen(constants[i].value);
				}
				return x;
			}
		return fail(p, ERR_BAD_REQUEST, t.at,
			    "environment variable %%%.*s is outside the supported subset",
			    (int)t.n, p->src + t.off);
	}
	case T_IDENT:
		if (next(p))
			return -1;
		if (p->t.kind == T_LPAREN)
			return parse_call(p, -1, t.off, t.n, t.at);
		if (p->src[t.at] != '`' && (cmp_counted("true", p->src + t.off, t.n) == 0 ||
					    cmp_counted("false", p->src + t.off, t.n) == 0)) {
			x = new_node(p, OP_BOOLEAN, -1, -1);
			if (x >= 0)
				p->node[x].flags = p->src[t.off] == 't';
			return x;
		}
		/* A type name at the start of a path filters the focus
		 * (`Patient.name`); element names never start in upper case. */
		if (p->src[t.off] >= 'A' && p->src[t.off] <= 'Z') {
			int id = fhirpath_type_id(p->src + t.off, t.n);

			if (id >= 0) {
				x = new_node(p, OP_TYPE_ROOT, -1, -1);
				if (x >= 0)
					p->node[x].type = (uint16_t)id;
				return x;
			}
		}
		return text_node(p, OP_MEMBER, &t);
	case T_END:
		return fail(p, ERR_BAD_REQUEST, t.at, "unexpected end of expression");
	default:
		return fail(p, ERR_BAD_REQUEST, t.at, "unexpected '%.*s'", (int)(t.n ? t.n : 1),
			    p->src + t.at);
	}
}

static int parse_postfix(struct parser *p)
{
	int x = parse_term(p);

	while (x >= 0) {
		if (p->t.kind == T_DOT) {
			struct tok name;

			if (next(p))
				return -1;
			if (p->t.kind != T_IDENT)
				return fail(p, ERR_BAD_REQUEST, p->t.at, "expected a name after '.'");
			name = p->t;
			if (next(p))
				return -1;
			if (p->t.kind == T_LPAREN) {
				x = parse_call(p, x, name.off, name.n, name.at);
			} else {
				int m = text_node(p, OP_MEMBER, &name);

				if (m >= 0)
					p->node[m].a = (uint16_t)x;
				x = m;
			}
		} else if (p->t.kind == T_LBRACKET) {
			int i;

			if (next(p) || enter(p))
				return -1;
			i = parse_expr(p);
			p->depth--;
			if (i < 0 || expect(p, T_RBRACKET, "']'"))
				return -1;
			x = new_node(p, OP_INDEX, x, i);
		} else {
			break;
		}
	}
	return x;
}

static bool unsupported_operator(struct parser *p)
{
	switch (p->t.kind) {
	case T_PLUS: case T_MINUS: case T_STAR: case T_SLASH: case T_AMP:
	case T_LT: case T_GT: case T_LE: case T_GE: case T_EQUIV: case T_NEQUIV:
		return true;
	default:
		return tok_is(p, "div") || tok_is(p, "mod") || tok_is(p, "in") ||
		       tok_is(p, "contains");
	}
}

/* is / as: the tightest binary operators of the subset. */
static int parse_type_expr(struct parser *p)
{
	int x = parse_postfix(p);

	while (x >= 0 && (tok_is(p, "is") || tok_is(p, "as"))) {
		int op = tok_is(p, "is") ? OP_IS : OP_AS;
		uint16_t type;

		if (next(p) || parse_type(p, &type))
			return -1;
		x = new_node(p, op, x, -1);
		if (x >= 0)
			p->node[x].type = type;
	}
	if (x >= 0 && unsupported_operator(p))
		return fail(p, ERR_BAD_REQUEST, p->t.at,
			    "operator '%.*s' is outside the supported subset",
			    (int)(p->t.n ? p->t.n : 1), p->src + p->t.at);
	return x;
}

/* One level of left-associative binary operators. */
static int parse_binary(struct parser *p, int level);

static int binary_op(struct parser *p, int level)
{
	switch (level) {
	case 0: return tok_is(p, "implies") ? OP_IMPLIES : -1;
	case 1: return tok_is(p, "or") ? OP_OR : tok_is(p, "xor") ? OP_XOR : -1;
	case 2: return tok_is(p, "and") ? OP_AND : -1;
	case 3: return p->t.kind == T_EQ ? OP_EQ : p->t.kind == T_NE ? OP_NE : -1;
	case 4: return p->t.kind == T_PIPE ? OP_UNION : -1;
	default: return -1;
	}
}

static int parse_binary(struct parser *p, int level)
{
	int x = level == 5 ? parse_type_expr(p) : parse_binary(p, level + 1);
	int op;

	while (x >= 0 && (op = binary_op(p, level)) >= 0) {
		int y;

		if (next(p))
			return -1;
		y = level == 5 ? parse_type_expr(p) : parse_binary(p, level + 1);
		if (y < 0)
			return -1;
		x = new_node(p, op, x, y);
	}
	return x;
}

static int parse_expr(struct parser *p)
{
	return parse_binary(p, 0);
}

int fhirpath_compile(const char *src, struct fhirpath_node *nodes, size_t cap,
		     struct fhirpath_expr *x, struct err *e)
{
	struct parser p = { 0 };
	int root;

	if (!src)
		return err_set(e, ERR_BAD_REQUEST, NULL, "FHIRPath: no expression");
	p.src = src;
	p.len = strlen(src);
	p.node = nodes;
	p.cap = cap < FHIRPATH_MAX_NODES ? cap : FHIRPATH_MAX_NODES;
	p.e = e;
	if (p.len > UINT32_MAX / 2)
		return err_set(e, ERR_TOO_LARGE, NULL, "FHIRPath: expression too long");
	if (next(&p))
		return p.rc;
	root = parse_expr(&p);
	if (root >= 0 && p.t.kind != T_END)
		fail(&p, ERR_BAD_REQUEST, p.t.at, "unexpected '%.*s'", (int)(p.t.n ? p.t.n : 1),
		     p.src + p.t.at);
	if (p.rc)
		return p.rc;
	/* Operands come before their node: one pass finds the tree's height,
	 * which bounds the recursion of evaluation. */
	{
		uint8_t height[FHIRPATH_MAX_NODES];

		for (size_t i = 0; i < p.n; i++) {
			unsigned h = 0;

			if (p.node[i].a != FHIRPATH_NONE && height[p.node[i].a] > h)
				h = height[p.node[i].a];
			if (p.node[i].b != FHIRPATH_NONE && height[p.node[i].b] > h)
				h = height[p.node[i].b];
			if (h + 1 > FHIRPATH_MAX_DEPTH)
				return err_set(e, ERR_TOO_LARGE, NULL,
					       "FHIRPath: expression nested deeper than %d levels",
					       FHIRPATH_MAX_DEPTH);
			height[i] = (uint8_t)(h + 1);
		}
	}
	x->src = src;
	x->node = nodes;
	x->n = (uint16_t)p.n;
	x->root = (uint16_t)root;
	return 0;
}

/* ---- evaluation -------------------------------------------------------- */

struct ev {
	struct fhirpath_ctx *c;
	const struct fhirpath_expr *x;
	struct json_object *resource;
	struct fhirpath_value root;	/* %resource */
	struct fhirpath_value context;	/* %context */
	struct err *e;
	int depth;
};

static const char *const constant_values[] = {
	"http://unitsofmeasure.org", "http://snomed.info/sct", "http://loinc.org",
};

void fhirpath_ctx_init(struct fhirpath_ctx *c)
{
	c->item = c->local;
	c->n = 0;
	c->cap = FHIRPATH_LOCAL_ITEMS;
}

void fhirpath_ctx_release(struct fhirpath_ctx *c)
{
	if (c->item != c->local)
		free(c->item);
	fhirpath_ctx_init(c);
}

static int ev_fail(struct ev *ev, int code, const char *what)
{
	return err_set(ev->e, code, NULL, "FHIRPath: %s in \"%.*s\"", what,
		       (int)(strlen(ev->x->src) > 120 ? 120 : strlen(ev->x->src)), ev->x->src);
}

static int push(struct ev *ev, const struct fhirpath_value *v)
{
	struct fhirpath_ctx *c = ev->c;

	if (c->n == c->cap) {
		size_t cap = c->cap * 2;
		struct fhirpath_value *p;

		if (cap > FHIRPATH_MAX_ITEMS)
			return ev_fail(ev, ERR_TOO_LARGE, "too many values");
		p = malloc(cap * sizeof(*p));
		if (!p)
			return err_set(ev->e, ERR_NOMEM, NULL, "FHIRPath: out of memory");
		memcpy(p, c->item, c->n * sizeof(*p));
		if (c->item != c->local)
			free(c->item);
		c->item = p;
		c->cap = cap;
	}
	c->item[c->n++] = *v;
	return 0;
}

static int push_bool(struct ev *ev, bool b)
{
	struct fhirpath_value v = { 0 };

	v.kind = FHIRPATH_BOOLEAN;
	v.type = SYS_BOOLEAN;
	v.boolean = b;
	return push(ev, &v);
}

/* The concrete type of a resource held in an element of type Resource. */
static int resource_type_of(struct json_object *o)
{
	struct json_object *rt;
	int r;

	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "resourceType", &rt) ||
	    !json_object_is_type(rt, json_type_string))
		return -1;
	r = fhir_resource_type_index(json_object_get_string(rt),
				     (size_t)json_object_get_string_len(rt));
	return r < 0 ? -1 : fhir_resource_types[r].type;
}

/* Pushes o of the given type; parent, el and index say where a primitive
 * sits, for its `_name` companion (extensions, id). */
static int push_one_json(struct ev *ev, struct json_object *o, unsigned type,
			 struct json_object *parent, const struct fhir_elem *el, uint32_t index)
{
	struct fhirpath_value v = { 0 };

	if (!o)
		return 0;	/* null placeholders of arrays aligned with `_x` */
	if (fhir_types[type].kind == FHIR_KIND_ANY_RESOURCE) {
		int t = resource_type_of(o);

		if (t < 0)
			return 0;
		type = (unsigned)t;
	}
	v.kind = FHIRPATH_JSON;
	v.json = o;
	v.type = (uint16_t)type;
	v.index = index;
	if (el && fhir_types[type].kind == FHIR_KIND_PRIMITIVE) {
		v.parent = parent;
		v.elem = (uint16_t)(el - fhir_elems);
	}
	return push(ev, &v);
}

static int push_json(struct ev *ev, struct json_object *o, const struct fhir_elem *el,
		     struct json_object *parent)
{
	if (json_object_is_type(o, json_type_array)) {
		size_t n = json_object_array_length(o);

		for (size_t i = 0; i < n; i++) {
			int rc = push_one_json(ev, json_object_array_get_idx(o, i), el->type, parent,
					       el, (uint32_t)i);

			if (rc)
				return rc;
		}
		return 0;
	}
	return push_one_json(ev, o, el->type, parent, el, UINT32_MAX);
}

/* The `_name` object that carries a primitive's id and extensions. */
static struct json_object *companion(const struct fhirpath_value *v)
{
	char key[128];
	const char *name;
	size_t n;
	struct json_object *c;

	if (v->kind != FHIRPATH_JSON || !v->parent)
		return NULL;
	name = fhir_elems[v->elem].name;
	n = strlen(name);
	if (n + 2 > sizeof(key))
		return NULL;
	key[0] = '_';
	memcpy(key + 1, name, n + 1);
	if (!json_object_object_get_ex(v->parent, key, &c))
		return NULL;
	if (json_object_is_type(c, json_type_array))
		c = v->index < json_object_array_length(c) ?
			json_object_array_get_idx(c, v->index) : NULL;
	return c && json_object_is_type(c, json_type_object) ? c : NULL;
}


/* key = name + a type suffix of the choice element el: "valueQuantity" is
 * value as Quantity; a profile's name ends with its base (SimpleQuantity). */
static bool choice_suffix_ok(const char *suffix, const struct fhir_elem *el)
{
	const char *tn = fhir_types[el->type].name;
	size_t sn = strlen(suffix), tl = strlen(tn);

	if (el->choice == FHIR_NO_SLOT || sn == 0)
		return false;
	if (sn == tl && (suffix[0] == tn[0] || suffix[0] == tn[0] - 'a' + 'A') &&
	    strcmp(suffix + 1, tn + 1) == 0)
		return true;
	return tl > sn && strcmp(tn + tl - sn, suffix) == 0;
}

static int push_member(struct ev *ev, const struct fhirpath_value *in, const char *name, size_t n)
{
	const struct fhir_type *t;
	const struct fhir_elem *el;
	struct json_object *v;
	struct json_object_iterator it, end;

	if (in->kind != FHIRPATH_JSON || in->type >= FHIR_TYPE_COUNT)
		return 0;
	t = &fhir_types[in->type];
	if (t->kind == FHIR_KIND_PRIMITIVE) {
		/* a primitive's own children (id, extension) live in `_name` */
		struct fhirpath_value holder = { 0 };

		holder.json = companion(in);
		if (!holder.json)
			return 0;
		holder.kind = FHIRPATH_JSON;
		holder.type = fhir_type_element;
		return push_member(ev, &holder, name, n);
	}
	if (t->kind == FHIR_KIND_ANY_RESOURCE || !json_object_is_type(in->json, json_type_object))
		return 0;
	el = fhir_elem_find(t, name, n);
	if (el) {
		if (json_object_object_get_ex(in->json, el->name, &v))
			return push_json(ev, v, el, in->json);
		return 0;
	}
	/* A choice element, named without its type: the JSON has at most one
	 * property name + Type. */
	it = json_object_iter_begin(in->json);
	end = json_object_iter_end(in->json);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *key = json_object_iter_peek_name(&it);

		if (strncmp(key, name, n) == 0 && key[n] >= 'A' && key[n] <= 'Z') {
			el = fhir_elem_find(t, key, strlen(key));
			if (el && choice_suffix_ok(key + n, el)) {
				int rc = push_json(ev, json_object_iter_peek_value(&it), el, in->json);

				if (rc)
					return rc;
			}
		}
	}
	return 0;
}

/* Literal text of a node (OP_STRING / INTEGER / DECIMAL). */
static const char *node_text(const struct ev *ev, const struct fhirpath_node *nd, size_t *n)
{
	if (nd->flags & NODE_CONSTANT) {
		const char *s = constant_values[(nd->flags >> 1) & 0x3F];

		*n = strlen(s);
		return s;
	}
	*n = nd->text_n;
	return ev->x->src + nd->text;
}

static int hex4(const char *s, size_t n, size_t i, uint32_t *out)
{
	uint32_t v = 0;

	if (i + 4 > n)
		return -1;
	for (size_t k = i; k < i + 4; k++) {
		char c = s[k];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* The bytes of the next character of an escaped FHIRPath string at s[*i]
 * (\uXXXX and surrogate pairs become UTF-8); advances *i. */
static size_t unescape_next(const char *s, size_t n, size_t *i, unsigned char out[4])
{
	char c = s[(*i)++];
	uint32_t cp, low;

	if (c != '\\' || *i >= n) {
		out[0] = (unsigned char)c;
		return 1;
	}
	c = s[(*i)++];
	switch (c) {
	case 'n': out[0] = '\n'; return 1;
	case 'r': out[0] = '\r'; return 1;
	case 't': out[0] = '\t'; return 1;
	case 'f': out[0] = '\f'; return 1;
	case 'u':
		if (hex4(s, n, *i, &cp)) {
			out[0] = 'u';
			return 1;
		}
		*i += 4;
		if (cp >= 0xD800 && cp < 0xDC00 && *i + 6 <= n && s[*i] == '\\' &&
		    s[*i + 1] == 'u' && hex4(s, n, *i + 2, &low) == 0 && low >= 0xDC00 &&
		    low < 0xE000) {
			cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
			*i += 6;
		}
		if (cp < 0x80) {
			out[0] = (unsigned char)cp;
			return 1;
		}
		if (cp < 0x800) {
			out[0] = (unsigned char)(0xC0 | (cp >> 6));
			out[1] = (unsigned char)(0x80 | (cp & 0x3F));
			return 2;
		}
		if (cp < 0x10000) {
			out[0] = (unsigned char)(0xE0 | (cp >> 12));
			out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
			out[2] = (unsigned char)(0x80 | (cp & 0x3F));
			return 3;
		}
		out[0] = (unsigned char)(0xF0 | (cp >> 18));
		out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		out[3] = (unsigned char)(0x80 | (cp & 0x3F));
		return 4;
	default:	/* \' \" \` \\ \/ */
		out[0] = (unsigned char)c;
		return 1;
	}
}

/* s/sn (plain) equals the escaped literal l/ln. */
static bool equals_escaped(const char *s, size_t sn, const char *l, size_t ln)
{
	size_t i = 0, j = 0;

	while (j < ln) {
		unsigned char ch[4];
		size_t k = unescape_next(l, ln, &j, ch);

		if (i + k > sn || memcmp(s + i, ch, k) != 0)
			return false;
		i += k;
	}
	return i == sn;
}

enum vclass { V_NONE, V_STRING, V_BOOL, V_NUMBER, V_OBJECT };

static enum vclass classify(const struct fhirpath_value *v, const char **s, size_t *n,
			    double *d, bool *b)
{
	switch (v->kind) {
	case FHIRPATH_BOOLEAN:
		*b = v->boolean;
		return V_BOOL;
	case FHIRPATH_STRING:
		*s = v->str;
		*n = v->len;
		return V_STRING;
	case FHIRPATH_INTEGER:
		*d = (double)v->integer;
		return V_NUMBER;
	case FHIRPATH_DECIMAL:
		*d = strtod(v->str, NULL);
		return V_NUMBER;
	case FHIRPATH_JSON:
		switch (json_object_get_type(v->json)) {
		case json_type_string:
			*s = json_object_get_string(v->json);
			*n = (size_t)json_object_get_string_len(v->json);
			return V_STRING;
		case json_type_boolean:
			*b = json_object_get_boolean(v->json);
			return V_BOOL;
		case json_type_int:
			*d = (double)json_object_get_int64(v->json);
			return V_NUMBER;
		case json_type_double:
			*d = json_object_get_double(v->json);
			return V_NUMBER;
		case json_type_object:
			return V_OBJECT;
		default:
			return V_NONE;
		}
	default:
		return V_NONE;
	}
}

static bool value_equal(const struct fhirpath_value *a, const struct fhirpath_value *b)
{
	const char *sa = NULL, *sb = NULL;
	size_t na = 0, nb = 0;
	double da = 0, db = 0;
	bool ba = false, bb = false;
	enum vclass ca = classify(a, &sa, &na, &da, &ba);
	enum vclass cb = classify(b, &sb, &nb, &db, &bb);

	if (ca != cb)
		return false;
	switch (ca) {
	case V_STRING:
		if (a->kind == FHIRPATH_STRING && a->escaped)
			return equals_escaped(sb, nb, sa, na);
		if (b->kind == FHIRPATH_STRING && b->escaped)
			return equals_escaped(sa, na, sb, nb);
		return na == nb && memcmp(sa, sb, na) == 0;
	case V_BOOL:
		return ba == bb;
	case V_NUMBER:
		return da == db;
	case V_OBJECT:
		return a->json == b->json || json_object_equal(a->json, b->json);
	default:
		return false;
	}
}

/* Singleton evaluation of a collection as a boolean: 0 empty, 1 set *out,
 * -1 error (more than one value). */
static int as_bool(struct ev *ev, size_t first, size_t n, bool *out)
{
	const struct fhirpath_value *v;

	if (n == 0)
		return 0;
	if (n > 1) {
		ev_fail(ev, ERR_BAD_REQUEST, "a boolean was expected but several values were found");
		return -1;
	}
	v = &ev->c->item[first];
	if (v->kind == FHIRPATH_BOOLEAN)
		*out = v->boolean;
	else if (v->kind == FHIRPATH_JSON && json_object_is_type(v->json, json_type_boolean))
		*out = json_object_get_boolean(v->json);
	else
		*out = true;	/* a single non-boolean value counts as true */
	return 1;
}

static int eval(struct ev *ev, uint16_t node, const struct fhirpath_value *focus, size_t *first,
		size_t *n);

/* Evaluates an operand: node, or [focus] when node is FHIRPATH_NONE. */
static int operand(struct ev *ev, uint16_t node, const struct fhirpath_value *focus,
		   size_t *first, size_t *n)
{
	if (node == FHIRPATH_NONE) {
		*first = ev->c->n;
		*n = 1;
		return push(ev, focus);
	}
	return eval(ev, node, focus, first, n);
}

/* Moves the values [from, from + n) down to base and pops the rest. */
static void settle(struct ev *ev, size_t base, size_t from, size_t n, size_t *first,
		   size_t *count)
{
	if (from != base)
		memmove(&ev->c->item[base], &ev->c->item[from], n * sizeof(ev->c->item[0]));
	ev->c->n = base + n;
	*first = base;
	*count = n;
}

/* Resolves a reference text to the type it names. */
static int resolve_text(struct ev *ev, const char *s, size_t n)
{
	struct fhir_reference_parts parts;
	struct fhirpath_value v = { 0 };
	int r;

	fhir_search_reference_split(s, n, &parts);
	if (parts.kind == FHIR_REFERENCE_CONTAINED) {
		struct json_object *contained;

		if (json_object_object_get_ex(ev->resource, "contained", &contained) &&
		    json_object_is_type(contained, json_type_array)) {
			size_t k = json_object_array_length(contained);

			for (size_t i = 0; i < k; i++) {
				struct json_object *res = json_object_array_get_idx(contained, i), *id;

				if (json_object_object_get_ex(res, "id", &id) &&
				    json_object_is_type(id, json_type_string) &&
				    (size_t)json_object_get_string_len(id) == parts.id.n &&
				    memcmp(json_object_get_string(id), parts.id.p, parts.id.n) == 0)
				{
					int t = resource_type_of(res);

					return t < 0 ? 0 : push_one_json(ev, res, (unsigned)t, NULL, NULL,
									 UINT32_MAX);
				}
			}
		}
		return 0;
	}
	if (!parts.type.n)
		return 0;
	r = fhir_resource_type_index(parts.type.p, parts.type.n);
	if (r < 0)
		return 0;
	v.kind = FHIRPATH_TYPE;
	v.type = fhir_resource_types[r].type;
	return push(ev, &v);
}

static int resolve_one(struct ev *ev, const struct fhirpath_value *in)
{
	struct json_object *ref;

	if (in->kind != FHIRPATH_JSON)
		return 0;
	if (json_object_is_type(in->json, json_type_string))	/* canonical, uri */
		return resolve_text(ev, json_object_get_string(in->json),
				    (size_t)json_object_get_string_len(in->json));
	if (!json_object_is_type(in->json, json_type_object))
		return 0;
	if (json_object_object_get_ex(in->json, "reference", &ref) &&
	    json_object_is_type(ref, json_type_string)) {
		size_t before = ev->c->n;
		int rc = resolve_text(ev, json_object_get_string(ref),
				      (size_t)json_object_get_string_len(ref));

		if (rc || ev->c->n > before)
			return rc;
	}
	/* Reference.type (R4) names the type of a logical reference. */
	if (json_object_object_get_ex(in->json, "type", &ref) &&
	    json_object_is_type(ref, json_type_string)) {
		const char *s = json_object_get_string(ref);
		int r = fhir_resource_type_index(s, strlen(s));

		if (r >= 0) {
			struct fhirpath_value v = { 0 };

			v.kind = FHIRPATH_TYPE;
			v.type = fhir_resource_types[r].type;
			return push(ev, &v);
		}
	}
	return 0;
}

static int extension_of(struct ev *ev, const struct fhirpath_value *in,
			const struct fhirpath_value *url, unsigned ext_type)
{
	/* a primitive's extensions are in its `_name` sibling */
	struct json_object *holder = in->kind == FHIRPATH_JSON && in->type < FHIR_TYPE_COUNT &&
		fhir_types[in->type].kind == FHIR_KIND_PRIMITIVE ? companion(in) : in->json;
	struct json_object *exts;
	size_t k;

	if (in->kind != FHIRPATH_JSON || !json_object_is_type(holder, json_type_object) ||
	    !json_object_object_get_ex(holder, "extension", &exts) ||
	    !json_object_is_type(exts, json_type_array))
		return 0;
	k = json_object_array_length(exts);
	for (size_t i = 0; i < k; i++) {
		struct json_object *ext = json_object_array_get_idx(exts, i), *u;
		struct fhirpath_value uv = { 0 };

		if (!json_object_object_get_ex(ext, "url", &u))
			continue;
		uv.kind = FHIRPATH_JSON;
		uv.json = u;
		if (value_equal(&uv, url)) {
			int rc = push_one_json(ev, ext, ext_type, NULL, NULL, UINT32_MAX);

			if (rc)
				return rc;
		}
	}
	return 0;
}

static bool has_value(const struct fhirpath_value *v)
{
	if (v->kind != FHIRPATH_JSON)
		return true;
	return v->type < FHIR_TYPE_COUNT && fhir_types[v->type].kind == FHIR_KIND_PRIMITIVE &&
	       !json_object_is_type(v->json, json_type_null);
}

static int eval_literal(struct ev *ev, const struct fhirpath_node *nd)
{
	struct fhirpath_value v = { 0 };
	size_t n;
	const char *s = node_text(ev, nd, &n);

	switch (nd->op) {
	case OP_STRING:
		v.kind = FHIRPATH_STRING;
		v.type = SYS_STRING;
		v.escaped = !(nd->flags & NODE_CONSTANT) && (nd->flags & NODE_ESCAPED);
		break;
	case OP_DECIMAL:
		v.kind = FHIRPATH_DECIMAL;
		v.type = SYS_DECIMAL;
		break;
	case OP_INTEGER: {
		char buf[32];

		if (n >= sizeof(buf))
			return ev_fail(ev, ERR_BAD_REQUEST, "integer literal too long");
		memcpy(buf, s, n);
		buf[n] = '\0';
		errno = 0;
		v.integer = strtoll(buf, NULL, 10);
		if (errno)
			return ev_fail(ev, ERR_BAD_REQUEST, "integer literal out of range");
		v.kind = FHIRPATH_INTEGER;
		v.type = SYS_INTEGER;
		break;
	}
	default:
		return ev_fail(ev, ERR_INTERNAL, "bad literal");
	}
	v.str = s;
	v.len = (uint32_t)n;
	return push(ev, &v);
}

static int eval_binary_logic(struct ev *ev, const struct fhirpath_node *nd,
			     const struct fhirpath_value *focus, size_t base, size_t *first,
			     size_t *n)
{
	size_t af, an, bf, bn;
	bool a = false, b = false;
	int ka, kb, rc;

	rc = eval(ev, nd->a, focus, &af, &an);
	if (rc)
		return rc;
	rc = eval(ev, nd->b, focus, &bf, &bn);
	if (rc)
		return rc;
	ka = as_bool(ev, af, an, &a);
	kb = as_bool(ev, bf, bn, &b);
	if (ka < 0 || kb < 0)
		return ERR_BAD_REQUEST;
	ev->c->n = base;
	*first = base;
	*n = 0;
	switch (nd->op) {
	case OP_AND:
		if ((ka && !a) || (kb && !b))
			rc = push_bool(ev, false);
		else if (ka && kb)
			rc = push_bool(ev, true);
		break;
	case OP_OR:
		if ((ka && a) || (kb && b))
			rc = push_bool(ev, true);
		else if (ka && kb)
			rc = push_bool(ev, false);
		break;
	case OP_XOR:
		if (ka && kb)
			rc = push_bool(ev, a != b);
		break;
	default:	/* OP_IMPLIES */
		if ((ka && !a) || (kb && b))
			rc = push_bool(ev, true);
		else if (ka && a && kb)
			rc = push_bool(ev, false);
		break;
	}
	*n = ev->c->n - base;
	return rc;
}

static int eval_equality(struct ev *ev, const struct fhirpath_node *nd,
			 const struct fhirpath_value *focus, size_t base, size_t *first, size_t *n)
{
	size_t af, an, bf, bn;
	bool eq = true;
	int rc;

	rc = eval(ev, nd->a, focus, &af, &an);
	if (rc)
		return rc;
	rc = eval(ev, nd->b, focus, &bf, &bn);
	if (rc)
		return rc;
	*first = base;
	if (an == 0 || bn == 0) {
		ev->c->n = base;
		*n = 0;
		return 0;
	}
	if (an != bn)
		eq = false;
	for (size_t i = 0; eq && i < an; i++)
		eq = value_equal(&ev->c->item[af + i], &ev->c->item[bf + i]);
	ev->c->n = base;
	*n = 1;
	return push_bool(ev, nd->op == OP_EQ ? eq : !eq);
}

static bool same_value(const struct fhirpath_value *a, const struct fhirpath_value *b)
{
	if (a->kind == FHIRPATH_JSON && b->kind == FHIRPATH_JSON)
		return a->json == b->json;
	if (a->kind == FHIRPATH_TYPE || b->kind == FHIRPATH_TYPE)
		return a->kind == b->kind && a->type == b->type;
	return value_equal(a, b);
}

static int eval(struct ev *ev, uint16_t node, const struct fhirpath_value *focus, size_t *first,
		size_t *n)
{
	const struct fhirpath_node *nd;
	struct fhirpath_ctx *c = ev->c;
	size_t base = c->n, inf, inn, mid;
	int rc = 0;

	if (node >= ev->x->n)
		return ev_fail(ev, ERR_INTERNAL, "bad node");
	if (++ev->depth > 2 * FHIRPATH_MAX_DEPTH + 8) {
		ev->depth--;
		return ev_fail(ev, ERR_TOO_LARGE, "nested too deeply");
	}
	nd = &ev->x->node[node];
	*first = base;
	*n = 0;
	switch (nd->op) {
	case OP_THIS:
		rc = push(ev, focus);
		break;
	case OP_RESOURCE:
		rc = push(ev, &ev->root);
		break;
	case OP_CONTEXT:
		rc = push(ev, &ev->context);
		break;
	case OP_TYPE_ROOT:
		if (fhirpath_type_is(focus->type, nd->type))
			rc = push(ev, focus);
		break;
	case OP_STRING:
	case OP_INTEGER:
	case OP_DECIMAL:
		rc = eval_literal(ev, nd);
		break;
	case OP_BOOLEAN:
		rc = push_bool(ev, nd->flags != 0);
		break;
	case OP_EMPTY:
		break;
	case OP_MEMBER:
		rc = operand(ev, nd->a, focus, &inf, &inn);
		mid = c->n;
		for (size_t i = 0; !rc && i < inn; i++) {
			struct fhirpath_value in = c->item[inf + i];

			rc = push_member(ev, &in, ev->x->src + nd->text, nd->text_n);
		}
		if (!rc)
			settle(ev, base, mid, c->n - mid, first, n);
		break;
	case OP_INDEX: {
		size_t xf, xn;

		rc = operand(ev, nd->a, focus, &inf, &inn);
		if (!rc)
			rc = eval(ev, nd->b, focus, &xf, &xn);
		if (rc)
			break;
		if (xn != 1 || c->item[xf].kind != FHIRPATH_INTEGER) {
			rc = ev_fail(ev, ERR_BAD_REQUEST, "an index must be one integer");
			break;
		}
		if (c->item[xf].integer >= 0 && (uint64_t)c->item[xf].integer < inn)
			settle(ev, base, inf + (size_t)c->item[xf].integer, 1, first, n);
		else
			settle(ev, base, base, 0, first, n);
		break;
	}
	case OP_UNION: {
		size_t bf, bn;

		rc = eval(ev, nd->a, focus, &inf, &inn);
		if (!rc)
			rc = eval(ev, nd->b, focus, &bf, &bn);
		if (rc)
			break;
		/* Union removes duplicates: the same element, or equal literals. */
		mid = inf + inn;
		for (size_t i = 0; i < bn; i++) {
			struct fhirpath_value v = c->item[bf + i];
			bool dup = false;

			for (size_t j = inf; j < mid && !dup; j++)
				dup = same_value(&c->item[j], &v);
			if (!dup)
				c->item[mid++] = v;
		}
		settle(ev, base, inf, mid - inf, first, n);
		break;
	}
	case OP_EQ:
	case OP_NE:
		rc = eval_equality(ev, nd, focus, base, first, n);
		break;
	case OP_AND:
	case OP_OR:
	case OP_XOR:
	case OP_IMPLIES:
		rc = eval_binary_logic(ev, nd, focus, base, first, n);
		break;
	case OP_IS:
		rc = operand(ev, nd->a, focus, &inf, &inn);
		if (rc || inn == 0) {
			c->n = base;
			break;
		}
		if (inn > 1) {
			rc = ev_fail(ev, ERR_BAD_REQUEST, "'is' applied to several values");
			break;
		}
		{
			bool yes = fhirpath_type_is(c->item[inf].type, nd->type);

			c->n = base;
			rc = push_bool(ev, yes);
		}
		break;
	case OP_AS:
	case OP_OFTYPE:
		rc = operand(ev, nd->a, focus, &inf, &inn);
		mid = inf;
		for (size_t i = 0; !rc && i < inn; i++)
			if (type_as(c->item[inf + i].type, nd->type))
				c->item[mid++] = c->item[inf + i];
		if (!rc)
			settle(ev, base, inf, mid - inf, first, n);
		break;
	case OP_WHERE:
	case OP_EXISTS:
		rc = operand(ev, nd->a, focus, &inf, &inn);
		mid = inf;
		if (nd->b != FHIRPATH_NONE) {
			for (size_t i = 0; !rc && i < inn; i++) {
				struct fhirpath_value item = c->item[inf + i];
				size_t cf, cn;
				bool keep = false;
				int k;

				rc = eval(ev, nd->b, &item, &cf, &cn);
				if (rc)
					break;
				k = as_bool(ev, cf, cn, &keep);
				if (k < 0) {
					rc = ERR_BAD_REQUEST;
					break;
				}
				c->n = cf;
				if (k > 0 && keep)
					c->item[mid++] = item;
			}
		} else {
			mid = inf + inn;
		}
		if (rc)
			break;
		if (nd->op == OP_WHERE) {
			settle(ev, base, inf, mid - inf, first, n);
		} else {
			c->n = base;
			rc = push_bool(ev, mid > inf);
		}
		break;
	case OP_EMPTY_FN:
	case OP_COUNT:
	case OP_NOT:
	case OP_HAS_VALUE:
		rc = operand(ev, nd->a, focus, &inf, &inn);
		if (rc)
			break;
		if (nd->op == OP_EMPTY_FN) {
			c->n = base;
			rc = push_bool(ev, inn == 0);
		} else if (nd->op == OP_HAS_VALUE) {
			bool yes = inn == 1 && has_value(&c->item[inf]);

			c->n = base;
			rc = push_bool(ev, yes);
		} else if (nd->op == OP_COUNT) {
			struct fhirpath_value v = { 0 };

			v.kind = FHIRPATH_INTEGER;
			v.type = SYS_INTEGER;
			v.integer = (int64_t)inn;
			c->n = base;
			rc = push(ev, &v);
		} else {
			bool b = false;
			int k = as_bool(ev, inf, inn, &b);

			c->n = base;
			if (k < 0)
				rc = ERR_BAD_REQUEST;
			else if (k > 0)
				rc = push_bool(ev, !b);
		}
		break;
	case OP_FIRST:
	case OP_LAST:
		rc = operand(ev, nd->a, focus, &inf, &inn);
		if (!rc)
			settle(ev, base, inn ? (nd->op == OP_FIRST ? inf : inf + inn - 1) : inf,
			       inn ? 1 : 0, first, n);
		break;
	case OP_RESOLVE:
		rc = operand(ev, nd->a, focus, &inf, &inn);
		mid = c->n;
		for (size_t i = 0; !rc && i < inn; i++) {
			struct fhirpath_value in = c->item[inf + i];

			rc = resolve_one(ev, &in);
		}
		if (!rc)
			settle(ev, base, mid, c->n - mid, first, n);
		break;
	case OP_EXTENSION: {
		size_t uf, un;
		struct fhirpath_value url;

		rc = operand(ev, nd->a, focus, &inf, &inn);
		if (!rc)
			rc = eval(ev, nd->b, focus, &uf, &un);
		if (rc)
			break;
		if (un != 1) {
			rc = ev_fail(ev, ERR_BAD_REQUEST, "extension() needs one url");
			break;
		}
		url = c->item[uf];
		mid = c->n;
		for (size_t i = 0; !rc && i < inn; i++) {
			struct fhirpath_value in = c->item[inf + i];

			rc = extension_of(ev, &in, &url, nd->type);
		}
		if (!rc)
			settle(ev, base, mid, c->n - mid, first, n);
		break;
	}
	default:
		rc = ev_fail(ev, ERR_INTERNAL, "unknown node");
		break;
	}
	ev->depth--;
	if (rc) {
		c->n = base;
		*n = 0;
		return rc;
	}
	if (*first == base && *n == 0)
		*n = c->n - base;
	return 0;
}

int fhirpath_eval(struct fhirpath_ctx *c, const struct fhirpath_expr *x,
		  struct json_object *resource, const struct fhirpath_value *focus, size_t *first,
		  size_t *n, struct err *e)
{
	struct ev ev = { 0 };
	/* A focus that is the resource itself brings its type: no lookup. */
	int t = focus && focus->kind == FHIRPATH_JSON && focus->json == resource &&
			focus->type < FHIR_TYPE_COUNT ? focus->type : resource_type_of(resource);

	*first = c->n;
	*n = 0;
	if (t < 0)
		return err_set(e, ERR_INVALID, NULL, "FHIRPath: the input is not a FHIR resource");
	ev.c = c;
	ev.x = x;
	ev.e = e;
	ev.resource = resource;
	ev.root.kind = FHIRPATH_JSON;
	ev.root.json = resource;
	ev.root.type = (uint16_t)t;
	ev.context = focus ? *focus : ev.root;
	if (x->n == 0)
		return 0;
	return eval(&ev, x->root, &ev.context, first, n);
}
