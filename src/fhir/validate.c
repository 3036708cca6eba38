/*
 * validate.c — structural validation of FHIR R4 resources (JSON).
 *
 * One walk over the json-c tree, driven by the generated tables of
 * fhir_tables.c (see fhir_tables.h for their layout and
 * docs/decisions/0002-validation.md for what is checked and why). For each
 * JSON object we know its FHIR type; each property is looked up by binary
 * search in that type's sorted element slice, its JSON kind and cardinality
 * checked, primitives checked against the R4 regular expressions by hand,
 * and complex values walked in turn. Nothing is allocated: the path of the
 * current value is a stack of frames on the C stack, rendered into a
 * FHIRPath-like expression only when an issue is reported.
 *
 * Expressions name JSON properties from the root resource type:
 * "Patient.name[0].given[1]", "Observation.valueQuantity.value" (a choice
 * element by its JSON name), "Patient.birthDate.extension[0]" (the `_x`
 * sibling of a primitive is addressed as the primitive itself, as FHIRPath
 * does), and nested resources continue the path of the element that holds
 * them: "Bundle.entry[3].resource.name[0]".
 */
#include "fhir.h"
#include "fhir_tables.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../base/time.h"

/* Frames of the path: one per JSON object level (an array index is kept in
 * the frame of its property). JSON input is bounded to 64 levels by
 * json_parse; a tree built by other means is cut off here. */
#define VALIDATE_MAX_DEPTH 128
/* FHIR R4: "strings SHALL NOT exceed 1MB in size". */
#define FHIR_STRING_MAX_BYTES 1048576
/* How much of a bad value is quoted in a diagnostic. */
#define QUOTE_MAX 64

struct frame {
	const char *name;
	long index;		/* array index, or -1 */
};

struct vctx {
	struct err *e;
	int issues;		/* issues found by this call, kept or not */
	int depth;
	struct frame frame[VALIDATE_MAX_DEPTH];
};

static void check_object(struct vctx *v, struct json_object *obj, const struct fhir_type *t,
			 int is_resource_root);
static void check_resource(struct vctx *v, struct json_object *obj);

/* ---- issues ------------------------------------------------------------ */

/* Diagnostics and expressions end up in JSON (OperationOutcome), so text
 * cut to fit a buffer must not end in the middle of a UTF-8 sequence. */
static void utf8_trim_tail(char *s)
{
	size_t end = strlen(s), k = end, need;
	unsigned char lead;

	while (k > 0 && ((unsigned char)s[k - 1] & 0xC0) == 0x80)
		k--;
	if (k == 0 || (lead = (unsigned char)s[k - 1]) < 0xC0)
		return;
	need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
	if (end - (k - 1) < need)
		s[k - 1] = '\0';
}

/* How many of the n bytes at s to quote: at most QUOTE_MAX, not cutting a
 * UTF-8 sequence in two. */
static int quote_len(const char *s, size_t n)
{
	size_t k = n < QUOTE_MAX ? n : QUOTE_MAX;

	if (k < n)
		while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
			k--;
	return (int)k;
}

static void render_path(const struct vctx *v, char *out, size_t size)
{
	size_t n = 0;
	int i, w;

	out[0] = '\0';
	for (i = 0; i < v->depth && n < size; i++) {
		if (v->frame[i].index >= 0)
			w = snprintf(out + n, size - n, "%s%s[%ld]", i ? "." : "", v->frame[i].name,
				     v->frame[i].index);
		else
			w = snprintf(out + n, size - n, "%s%s", i ? "." : "", v->frame[i].name);
		if (w < 0)
			break;
		n += (size_t)w;
	}
	if (n >= size)
		utf8_trim_tail(out);
}

static void issue(struct vctx *v, const char *fmt, ...) LT_PRINTF(2, 3);
static void issue(struct vctx *v, const char *fmt, ...)
{
	char expr[ERR_EXPR_MAX];
	char msg[ERR_DIAG_MAX];
	va_list ap;

	v->issues++;
	if (!v->e)
		return;
	if (v->e->n_issues >= ERR_MAX_ISSUES) {
		/* err_set only counts it; skip the formatting. */
		(void)err_set(v->e, ERR_INVALID, NULL, "%s", "");
		return;
	}
	render_path(v, expr, sizeof(expr));
	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) >= (int)sizeof(msg))
		utf8_trim_tail(msg);
	va_end(ap);
	(void)err_set(v->e, ERR_INVALID, expr[0] ? expr : NULL, "%s", msg);
}

/* check_object() refuses to descend within 2 frames of the limit, which
 * leaves room for the frames of a property and of its `_x`/choice issue; so
 * this check is a backstop that does not fire in practice. */
static int push(struct vctx *v, const char *name, long index)
{
	if (v->depth >= VALIDATE_MAX_DEPTH) {
		issue(v, "the resource nests more than %d levels deep", VALIDATE_MAX_DEPTH);
		return -1;
	}
	v->frame[v->depth].name = name;
	v->frame[v->depth].index = index;
	v->depth++;
	return 0;
}

static void pop(struct vctx *v)
{
	v->depth--;
}

static const char *json_kind_name(struct json_object *val)
{
	switch (json_object_get_type(val)) {
	case json_type_null: return "null";
	case json_type_boolean: return "a boolean";
	case json_type_double:
	case json_type_int: return "a number";
	case json_type_object: return "an object";
	case json_type_array: return "an array";
	case json_type_string: return "a string";
	}
	return "?";
}

/* ---- lookups ----------------------------------------------------------- */

/* strcmp of a NUL-terminated s against the n bytes at p (which hold no
 * NUL). A loop, not strncmp: the names compared are a few bytes long. */
static int cmp_counted(const char *s, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != p[i])
			return (unsigned char)s[i] - (unsigned char)p[i];
	return s[n] ? 1 : 0;
}

const struct fhir_elem *fhir_elem_find(const struct fhir_type *t, const char *name, size_t n)
{
	size_t lo = t->elem_first, hi = (size_t)t->elem_first + t->elem_count;

	if (n == 0)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *cand = fhir_elems[mid].name;
		/* Most probes differ in the first byte: skip the call then. */
		int c = cand[0] != name[0] ? (unsigned char)cand[0] - (unsigned char)name[0] :
			cmp_counted(cand, name, n);

		if (c == 0)
			return &fhir_elems[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int code_in_value_set(const struct fhir_value_set *vs, const char *code, size_t n)
{
	size_t lo = vs->code_first, hi = (size_t)vs->code_first + vs->code_count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_counted(fhir_codes[mid], code, n);

		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

int fhir_resource_type_count(void)
{
	return FHIR_RESOURCE_TYPE_COUNT;
}

const char *fhir_resource_type_name(int index)
{
	if (index < 0 || index >= FHIR_RESOURCE_TYPE_COUNT)
		return NULL;
	return fhir_resource_types[index].name;
}

int fhir_resource_type_index(const char *name, size_t n)
{
	int lo = 0, hi = FHIR_RESOURCE_TYPE_COUNT;

	if (!name)
		return -1;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		int c = cmp_counted(fhir_resource_types[mid].name, name, n);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* ---- primitive formats (the R4 regular expressions, by hand) ------------ */

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* The \s of the R4 regexes (Java): space, \t, \n, \x0B, \f, \r. */
static int is_space(int c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

int fhir_id_valid(const char *s, size_t n)
{
	size_t i;

	if (!s || n < 1 || n > FHIR_ID_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) ||
		      c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

/* No control characters but tab, CR and LF: the string regex [ \r\n\t\S]+
 * says so for string and markdown, and since XML 1.0 cannot carry them, no
 * FHIR primitive can hold them in any format. */
static int string_chars_ok(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 && c != '\t' && c != '\r' && c != '\n')
			return 0;
	}
	return 1;
}

/* xhtml: only the root is checked (the content is not parsed): a <div>
 * element, <div ...>...</div> or <div/>, perhaps with surrounding
 * whitespace. */
static int xhtml_ok(const char *s, size_t n)
{
	size_t i = 0, end = n;

	while (i < end && is_space((unsigned char)s[i]))
		i++;
	while (end > i && is_space((unsigned char)s[end - 1]))
		end--;
	if (end - i < 6 || memcmp(s + i, "<div", 4) != 0)
		return 0;
	if (s[i + 4] != '>' && s[i + 4] != '/' && !is_space((unsigned char)s[i + 4]))
		return 0;
	return s[end - 1] == '>';
}

/* code: [^\s]+(\s[^\s]+)* */
static int code_ok(const char *s, size_t n)
{
	size_t i;

	if (is_space((unsigned char)s[0]) || is_space((unsigned char)s[n - 1]))
		return 0;
	for (i = 1; i < n; i++)
		if (is_space((unsigned char)s[i]) && is_space((unsigned char)s[i - 1]))
			return 0;
	return 1;
}

/* uri, url, canonical: \S* */
static int no_space(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (is_space((unsigned char)s[i]))
			return 0;
	return 1;
}

/* oid: urn:oid:[0-2](\.(0|[1-9][0-9]*))+ */
static int oid_ok(const char *s, size_t n)
{
	size_t i = 8;
	int arcs = 0;

	if (n < 10 || memcmp(s, "urn:oid:", 8) != 0 || s[i] < '0' || s[i] > '2')
		return 0;
	i++;
	while (i < n) {
		size_t start;

		if (s[i] != '.')
			return 0;
		start = ++i;
		while (i < n && is_digit((unsigned char)s[i]))
			i++;
		if (i == start || (s[start] == '0' && i - start > 1))
			return 0;
		arcs++;
	}
	return arcs > 0;
}

/* uuid: urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12} */
static int uuid_ok(const char *s, size_t n)
{
	size_t i;

	if (n != 45 || memcmp(s, "urn:uuid:", 9) != 0)
		return 0;
	for (i = 9; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t k = i - 9;

		if (k == 8 || k == 13 || k == 18 || k == 23) {
			if (c != '-')
				return 0;
		} else if (!is_digit(c) && !(c >= 'a' && c <= 'f'))
			return 0;
	}
	return 1;
}

/* base64Binary: (\s*([0-9a-zA-Z\+/=]){4}\s*)+ — whitespace only between
 * groups of four. */
static int base64_ok(const char *s, size_t n)
{
	size_t i, count = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (is_space(c)) {
			if (count % 4)
				return 0;
		} else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) ||
			   c == '+' || c == '/' || c == '=')
			count++;
		else
			return 0;
	}
	return count > 0 && count % 4 == 0;
}

/* decimal: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int decimal_ok(const char *s)
{
	size_t i = 0;

	if (s[i] == '-')
		i++;
	if (s[i] == '0')
		i++;
	else if (s[i] >= '1' && s[i] <= '9')
		while (is_digit((unsigned char)s[i]))
			i++;
	else
		return 0;
	if (s[i] == '.') {
		i++;
		if (!is_digit((unsigned char)s[i]))
			return 0;
		while (is_digit((unsigned char)s[i]))
			i++;
	}
	if (s[i] == 'e' || s[i] == 'E') {
		i++;
		if (s[i] == '+' || s[i] == '-')
			i++;
		if (!is_digit((unsigned char)s[i]))
			return 0;
		while (is_digit((unsigned char)s[i]))
			i++;
	}
	return s[i] == '\0';
}

static const char *prim_name(int prim)
{
	switch (prim) {
	case FHIR_PRIM_BASE64: return "base64Binary";
	case FHIR_PRIM_CANONICAL: return "canonical";
	case FHIR_PRIM_CODE: return "code";
	case FHIR_PRIM_DATE: return "date";
	case FHIR_PRIM_DATETIME: return "dateTime";
	case FHIR_PRIM_ID: return "id";
	case FHIR_PRIM_INSTANT: return "instant";
	case FHIR_PRIM_MARKDOWN: return "markdown";
	case FHIR_PRIM_OID: return "oid";
	case FHIR_PRIM_STRING: return "string";
	case FHIR_PRIM_TIME: return "time";
	case FHIR_PRIM_URI: return "uri";
	case FHIR_PRIM_URL: return "url";
	case FHIR_PRIM_UUID: return "uuid";
	case FHIR_PRIM_XHTML: return "xhtml";
	}
	return "string";
}

static void check_integer(struct vctx *v, struct json_object *val, int prim)
{
	int64_t x, min = INT32_MIN;
	const char *what = "integer";

	if (prim == FHIR_PRIM_POSITIVE_INT) {
		min = 1;
		what = "positiveInt";
	} else if (prim == FHIR_PRIM_UNSIGNED_INT) {
		min = 0;
		what = "unsignedInt";
	}
	if (!json_object_is_type(val, json_type_int)) {
		if (json_object_is_type(val, json_type_double))
			issue(v, "%s must be a whole JSON number without fraction or exponent, "
				 "not %.*s", what, QUOTE_MAX, json_object_get_string(val));
		else
			issue(v, "%s must be a JSON number, not %s", what, json_kind_name(val));
		return;
	}
	x = json_object_get_int64(val);
	if (x < min || x > INT32_MAX) {
		if (x < min)
			issue(v, "%s %" PRId64 " is out of range (%" PRId64 " to 2147483647)", what,
			      x, min);
		else
			issue(v, "%s %.*s is out of range (%" PRId64 " to 2147483647)", what,
			      QUOTE_MAX, json_object_get_string(val), min);
	}
}

static void check_string_prim(struct vctx *v, struct json_object *val, int prim, int value_set)
{
	const char *s;
	size_t n;
	int ok = 1;
	enum time_kind tk = TIME_DATE;

	if (!json_object_is_type(val, json_type_string)) {
		issue(v, "%s must be a JSON string, not %s", prim_name(prim), json_kind_name(val));
		return;
	}
	s = json_object_get_string(val);
	n = (size_t)json_object_get_string_len(val);
	if (n == 0) {
		issue(v, "empty strings are not allowed in FHIR JSON");
		return;
	}
	if ((prim == FHIR_PRIM_STRING || prim == FHIR_PRIM_MARKDOWN) &&
	    n > FHIR_STRING_MAX_BYTES) {
		issue(v, "%s is %zu bytes long; FHIR allows at most %d", prim_name(prim), n,
		      FHIR_STRING_MAX_BYTES);
		return;
	}
	/* The formats of the other types (id, oid, uuid, base64Binary, dates)
	 * exclude control characters by themselves. */
	if ((prim == FHIR_PRIM_STRING || prim == FHIR_PRIM_MARKDOWN || prim == FHIR_PRIM_XHTML ||
	     prim == FHIR_PRIM_CODE || prim == FHIR_PRIM_URI || prim == FHIR_PRIM_URL ||
	     prim == FHIR_PRIM_CANONICAL) && !string_chars_ok(s, n)) {
		issue(v, "%s contains a control character (only tab, CR and LF are allowed)",
		      prim_name(prim));
		return;
	}
	switch (prim) {
	case FHIR_PRIM_XHTML:
		if (!xhtml_ok(s, n)) {
			issue(v, "xhtml must be a <div> element (\"%.*s%s\")", quote_len(s, n), s,
			      n > QUOTE_MAX ? "..." : "");
			return;
		}
		break;
	case FHIR_PRIM_CODE:
		ok = code_ok(s, n);
		break;
	case FHIR_PRIM_ID:
		ok = fhir_id_valid(s, n);
		break;
	case FHIR_PRIM_URI:
	case FHIR_PRIM_URL:
	case FHIR_PRIM_CANONICAL:
		ok = no_space(s, n);
		break;
	case FHIR_PRIM_OID:
		ok = oid_ok(s, n);
		break;
	case FHIR_PRIM_UUID:
		ok = uuid_ok(s, n);
		break;
	case FHIR_PRIM_BASE64:
		ok = base64_ok(s, n);
		break;
	case FHIR_PRIM_DATE:
	case FHIR_PRIM_DATETIME:
	case FHIR_PRIM_INSTANT:
	case FHIR_PRIM_TIME:
		tk = prim == FHIR_PRIM_DATE ? TIME_DATE :
		     prim == FHIR_PRIM_DATETIME ? TIME_DATETIME :
		     prim == FHIR_PRIM_INSTANT ? TIME_INSTANT : TIME_TIME;
		ok = time_parse_fhir(s, n, tk, NULL, NULL) == 0;
		break;
	}
	if (!ok) {
		issue(v, "\"%.*s%s\" is not a valid %s", quote_len(s, n), s,
		      n > QUOTE_MAX ? "..." : "", prim_name(prim));
		return;
	}
	if (value_set) {
		const struct fhir_value_set *vs = &fhir_value_sets[value_set];

		if (!code_in_value_set(vs, s, n))
			issue(v, "\"%.*s%s\" is not a code of the required value set %s%s%s%s",
			      quote_len(s, n), s, n > QUOTE_MAX ? "..." : "", vs->url,
			      vs->hint[0] ? " (" : "", vs->hint, vs->hint[0] ? ")" : "");
	}
}

static void check_primitive(struct vctx *v, const struct fhir_elem *el, struct json_object *val)
{
	int prim = fhir_types[el->type].prim;

	switch (prim) {
	case FHIR_PRIM_BOOLEAN:
		if (!json_object_is_type(val, json_type_boolean))
			issue(v, "boolean must be JSON true or false, not %s", json_kind_name(val));
		break;
	case FHIR_PRIM_INTEGER:
	case FHIR_PRIM_POSITIVE_INT:
	case FHIR_PRIM_UNSIGNED_INT:
		check_integer(v, val, prim);
		break;
	case FHIR_PRIM_DECIMAL:
		if (json_object_is_type(val, json_type_int))
			break;
		if (!json_object_is_type(val, json_type_double))
			issue(v, "decimal must be a JSON number, not %s", json_kind_name(val));
		else if (!decimal_ok(json_object_get_string(val)))
			issue(v, "%.*s is not a valid decimal", QUOTE_MAX,
			      json_object_get_string(val));
		break;
	default:
		check_string_prim(v, val, prim, el->value_set);
		break;
	}
}

/* ---- structure --------------------------------------------------------- */

/* One value of element el (an array item, or the value itself). */
static void check_value(struct vctx *v, const struct fhir_elem *el, struct json_object *val)
{
	const struct fhir_type *t = &fhir_types[el->type];

	switch (t->kind) {
	case FHIR_KIND_PRIMITIVE:
		check_primitive(v, el, val);
		break;
	case FHIR_KIND_ANY_RESOURCE:
		check_resource(v, val);
		break;
	default:
		if (!json_object_is_type(val, json_type_object)) {
			issue(v, "%s must be a JSON object, not %s", t->name, json_kind_name(val));
			break;
		}
		check_object(v, val, t, 0);
		break;
	}
}

/* The `_name` sibling of parent, or NULL. */
static struct json_object *ext_sibling(struct json_object *parent, const char *name)
{
	char key[128];
	struct json_object *x = NULL;
	size_t n = strlen(name);

	if (n + 2 > sizeof(key))
		return NULL;
	key[0] = '_';
	memcpy(key + 1, name, n + 1);
	if (!json_object_object_get_ex(parent, key, &x))
		return NULL;
	return x;
}

/* The property `name` of parent, whose element is el. */
static void check_property(struct vctx *v, const struct fhir_elem *el, struct json_object *val,
			   struct json_object *parent)
{
	const struct fhir_type *t = &fhir_types[el->type];
	size_t i, n;

	if (push(v, el->name, -1))
		return;
	if (el->max == 0) {
		issue(v, "%s is not allowed here (max cardinality 0)", el->name);
		goto out;
	}
	if (!el->is_array) {
		if (json_object_is_type(val, json_type_array))
			issue(v, "%s takes a single value (max cardinality 1), not an array",
			      el->name);
		else if (val == NULL)
			issue(v, "null is not allowed as a value");
		else
			check_value(v, el, val);
		goto out;
	}
	if (!json_object_is_type(val, json_type_array)) {
		issue(v, "%s must be a JSON array (max cardinality *), not %s", el->name,
		      json_kind_name(val));
		goto out;
	}
	n = json_object_array_length(val);
	if (n == 0) {
		issue(v, "empty arrays are not allowed in FHIR JSON");
		goto out;
	}
	if (el->max != FHIR_MAX_MANY && n > el->max) {
		issue(v, "%s has %zu values; at most %u are allowed", el->name, n, el->max);
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct json_object *item = json_object_array_get_idx(val, i);

		v->frame[v->depth - 1].index = (long)i;
		if (item == NULL) {
			/* A null in a primitive array only holds the place of an
			 * extension in the `_name` array; when there is one, the
			 * walk of `_name` checks the alignment (check_primitive_ext). */
			if (t->kind != FHIR_KIND_PRIMITIVE || !ext_sibling(parent, el->name))
				issue(v, "null is only allowed in a primitive array whose _%s "
					 "array has an extension at the same index", el->name);
			continue;
		}
		check_value(v, el, item);
	}
out:
	pop(v);
}

/* `_name`: the id and extensions of primitive element el. */
static void check_primitive_ext(struct vctx *v, const struct fhir_elem *el,
				struct json_object *val, struct json_object *parent)
{
	const struct fhir_type *et = &fhir_types[fhir_type_element];
	struct json_object *prim = NULL;
	size_t i, n;

	if (push(v, el->name, -1))
		return;
	(void)json_object_object_get_ex(parent, el->name, &prim);
	if (el->max == 0) {
		issue(v, "%s is not allowed here (max cardinality 0)", el->name);
		goto out;
	}
	if (!el->is_array) {
		if (!json_object_is_type(val, json_type_object))
			issue(v, "_%s must be a JSON object (id, extension), not %s", el->name,
			      json_kind_name(val));
		else
			check_object(v, val, et, 0);
		goto out;
	}
	if (!json_object_is_type(val, json_type_array)) {
		issue(v, "_%s must be a JSON array aligned with %s, not %s", el->name, el->name,
		      json_kind_name(val));
		goto out;
	}
	n = json_object_array_length(val);
	if (n == 0) {
		issue(v, "empty arrays are not allowed in FHIR JSON");
		goto out;
	}
	if (json_object_is_type(prim, json_type_array) && json_object_array_length(prim) != n) {
		issue(v, "_%s has %zu items but %s has %zu; they must be aligned", el->name, n,
		      el->name, json_object_array_length(prim));
		goto out;
	}
	if (el->max != FHIR_MAX_MANY && n > el->max) {
		issue(v, "_%s has %zu values; at most %u are allowed", el->name, n, el->max);
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct json_object *item = json_object_array_get_idx(val, i);

		v->frame[v->depth - 1].index = (long)i;
		if (item == NULL) {
			if (!json_object_is_type(prim, json_type_array) ||
			    json_object_array_get_idx(prim, i) == NULL)
				issue(v, "_%s[%zu] and %s[%zu] are both null", el->name, i,
				      el->name, i);
			continue;
		}
		if (!json_object_is_type(item, json_type_object)) {
			issue(v, "_%s items must be JSON objects (id, extension) or null, not %s",
			      el->name, json_kind_name(item));
			continue;
		}
		check_object(v, item, et, 0);
	}
out:
	pop(v);
}

static void report_missing(struct vctx *v, const struct fhir_type *t, uint64_t seen)
{
	unsigned slot;

	for (slot = 0; slot < t->required_count; slot++)
		if (!(seen & ((uint64_t)1 << slot)))
			issue(v, "missing required element %s (min cardinality 1) in %s",
			      fhir_required_names[t->required_first + slot], t->name);
}

static void check_object(struct vctx *v, struct json_object *obj, const struct fhir_type *t,
			 int is_resource_root)
{
	struct json_object_iter it;
	uint64_t seen_required = 0, seen_choice = 0;
	const struct fhir_elem *choice_elem[64];
	uint64_t all_required;

	if (v->depth >= VALIDATE_MAX_DEPTH - 2) {
		issue(v, "the resource nests more than %d levels deep", VALIDATE_MAX_DEPTH - 2);
		return;
	}
	if (json_object_object_length(obj) == 0) {
		issue(v, "empty objects are not allowed in FHIR JSON");
		return;
	}
	json_object_object_foreachC(obj, it) {
		const char *key = it.key;
		const struct fhir_elem *el;
		int is_ext = key[0] == '_';

		if (is_resource_root && strcmp(key, "resourceType") == 0)
			continue;
		el = fhir_elem_find(t, key + is_ext, strlen(key + is_ext));
		if (!el || (is_ext && (fhir_types[el->type].kind != FHIR_KIND_PRIMITIVE ||
				       fhir_types[el->type].prim == FHIR_PRIM_XHTML ||
				       (el->flags & FHIR_ELEM_NO_EXT)))) {
			if (push(v, key, -1) == 0) {
				issue(v, "unknown element \"%.*s%s\" in %s",
				      quote_len(key, strlen(key)), key,
				      strlen(key) > QUOTE_MAX ? "..." : "", t->name);
				pop(v);
			}
			continue;
		}
		if (el->choice != FHIR_NO_SLOT) {
			uint64_t bit = (uint64_t)1 << el->choice;

			if ((seen_choice & bit) && choice_elem[el->choice] != el) {
				if (push(v, el->name, -1) == 0) {
					issue(v, "%s and %s are alternatives of one choice element; "
						 "at most one may be present",
					      choice_elem[el->choice]->name, el->name);
					pop(v);
				}
				continue;
			}
			seen_choice |= bit;
			choice_elem[el->choice] = el;
		}
		if (el->required_slot != FHIR_NO_SLOT)
			seen_required |= (uint64_t)1 << el->required_slot;
		if (is_ext)
			check_primitive_ext(v, el, it.val, obj);
		else
			check_property(v, el, it.val, obj);
	}
	all_required = t->required_count == 64 ? ~(uint64_t)0 :
		       ((uint64_t)1 << t->required_count) - 1;
	if (seen_required != all_required)
		report_missing(v, t, seen_required);
}

/* A value that must be a resource of any type: dispatch on resourceType. */
static void check_resource(struct vctx *v, struct json_object *obj)
{
	struct json_object *rt = NULL;
	const char *name;
	int idx, root;

	if (!json_object_is_type(obj, json_type_object)) {
		issue(v, "a resource must be a JSON object, not %s", json_kind_name(obj));
		return;
	}
	if (!json_object_object_get_ex(obj, "resourceType", &rt)) {
		if (push(v, "resourceType", -1) == 0) {
			issue(v, "missing resourceType");
			pop(v);
		}
		return;
	}
	if (!json_object_is_type(rt, json_type_string)) {
		if (push(v, "resourceType", -1) == 0) {
			issue(v, "resourceType must be a JSON string, not %s", json_kind_name(rt));
			pop(v);
		}
		return;
	}
	name = json_object_get_string(rt);
	idx = fhir_resource_type_index(name, (size_t)json_object_get_string_len(rt));
	if (idx < 0) {
		if (push(v, "resourceType", -1) == 0) {
			size_t n = (size_t)json_object_get_string_len(rt);

			issue(v, "\"%.*s%s\" is not a concrete FHIR R4 resource type",
			      quote_len(name, n), name, n > QUOTE_MAX ? "..." : "");
			pop(v);
		}
		return;
	}
	/* The root resource opens the path: "Patient.name[0]"; a nested one
	 * continues the path of the element that holds it. */
	root = v->depth == 0;
	if (root)
		(void)push(v, fhir_resource_types[idx].name, -1);
	check_object(v, obj, &fhir_types[fhir_resource_types[idx].type], 1);
	if (root)
		pop(v);
}

int fhir_validate(struct json_object *resource, struct err *e)
{
	struct vctx v;

	v.e = e;
	v.issues = 0;
	v.depth = 0;
	check_resource(&v, resource);
	return v.issues ? ERR_INVALID : 0;
}
