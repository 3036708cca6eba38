/*
 * index_dump — prints the search index entries that lienthong extracts
 * (fhir_index_resource), normalised to strings, one JSON line per
 * (resource, parameter). It is the C half of the differential check of
 * issue #3: tests/differential/index-diff.mjs computes the same lines with
 * npm fhirpath and compares them.
 *
 *   index_dump [--bundles=entries|self|both] FILE...   the entries
 *   index_dump --params                                the parameter table
 *
 * FILE is a .json resource, a Bundle (its entry[].resource are indexed; with
 * --bundles=self the Bundle itself, with both, both), or .ndjson (one
 * resource a line). Output, for each resource:
 *
 *   {"src":"FILE#2","res":"Patient/123"}                     (one per resource)
 *   {"src":"FILE#2","param":"birthdate","type":"date","values":[...]}
 *
 * src names the resource: FILE for the file's resource, FILE#i for entry i
 * of a Bundle, FILE:n for line n (from 1) of an ndjson file. Only parameters
 * with entries are printed. "values" holds the main entries; a string
 * parameter also has "exact" (the texts as written), a token parameter
 * "text" (:text) and "of_type" (:of-type), a reference parameter
 * "identifier" (:identifier), when it has such entries. Each array
 * is sorted (byte order) and without duplicates. A resource that cannot be
 * indexed gives {"src":...,"error":"..."}.
 *
 * The normal forms (index-diff.mjs writes the same):
 *   string     the folded text (fhir_search_fold)
 *   token      system|code, or |code when there is no system at all
 *   :text      the folded text;  :of-type  type-system|type-code|value
 *   date       low/high as ISO instants in UTC with ms ("..": open end)
 *   number     the value (shortest text that reads back the same double,
 *              written as JavaScript's Number.prototype.toString does);
 *              a Range [low,high]; a comparator adds its interval:
 *              5 [-inf,5]
 *   quantity   number|system|code|unit
 *   reference  Type/id[/_history/v] for a relative reference; the URL (an
 *              absolute URL, urn:, #id) followed by " ~ Type/id" when the
 *              type (and id) are known; canonical:url[|version]
 *   uri        the text as written
 *   special    latitude,longitude
 *   composite  each part in its own form, joined by " $ "
 *
 * Everything is freed before exit, so the sanitizer build runs it too.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "base/time.h"
#include "fhir/fhir.h"
#include "fhir/search.h"

#define MAX_INPUT_BYTES ((size_t)512 << 20)	/* Bundle-resources.json is 35 MB */
#define MAX_LINE_BYTES ((size_t)16 << 20)	/* one output line */

enum bundles_mode { BUNDLES_ENTRIES = 1, BUNDLES_SELF = 2, BUNDLES_BOTH = 3 };

/* A growable list of malloc'ed strings. */
struct strlist {
	char **item;
	size_t n, cap;
};

/* The entries of the parameter being extracted. */
struct dump {
	const char *src;
	const struct fhir_search_param *param;	/* NULL before the first entry */
	const struct fhir_search_param *as;	/* entries count as this union's (dump_unions) */
	struct strlist values, exact, text, of_type, identifier;
	struct buf scratch;
	struct buf line;
	int failed;				/* ERR_* from a callback */
};

static void strlist_clear(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->item[i]);
	l->n = 0;
}

static void strlist_release(struct strlist *l)
{
	strlist_clear(l);
	free(l->item);
	l->item = NULL;
	l->cap = 0;
}

/* Takes the text of b (b is left empty). */
static int strlist_take(struct strlist *l, struct buf *b)
{
	char *s;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **p = realloc(l->item, cap * sizeof(*p));

		if (!p)
			return ERR_NOMEM;
		l->item = p;
		l->cap = cap;
	}
	if (b->p == NULL && buf_putc(b, '\0'))	/* an empty text still counts */
		return ERR_NOMEM;
	s = buf_detach(b, NULL);
	if (!s)
		return ERR_NOMEM;
	l->item[l->n++] = s;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strlist_sort_unique(struct strlist *l)
{
	size_t kept = 0;

	qsort(l->item, l->n, sizeof(*l->item), cmp_str);
	for (size_t i = 0; i < l->n; i++) {
		if (kept > 0 && strcmp(l->item[kept - 1], l->item[i]) == 0) {
			free(l->item[i]);
			continue;
		}
		l->item[kept++] = l->item[i];
	}
	l->n = kept;
}

/* ---- normal forms ------------------------------------------------------ */

static int put_str(struct buf *b, struct str s)
{
	return s.n ? buf_append(b, s.p, s.n) : 0;
}

/*
 * A double as JavaScript's Number.prototype.toString writes it (ECMA-262
 * Number::toString): the shortest digits that read back the same value,
 * plain notation for 1e-7 <= |x| < 1e21, else d.ddde+N. So both sides of
 * the check print the same text for the same double.
 */
static int put_number(struct buf *b, double x)
{
	char tmp[40], digits[24];
	int prec, exp10, k = 0, n, rc = 0;
	const char *p;

	if (isnan(x))
		return buf_puts(b, "NaN");
	if (isinf(x))
		return buf_puts(b, x < 0 ? "-inf" : "inf");
	if (x == 0)
		return buf_putc(b, '0');
	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, x);
		if (strtod(tmp, NULL) == x)
			break;
	}
	/* tmp is [-]d[.ddd]e[+-]NN */
	p = tmp;
	if (*p == '-') {
		rc = buf_putc(b, '-');
		p++;
	}
	for (; *p && *p != 'e'; p++)
		if (*p != '.')
			digits[k++] = *p;
	while (k > 1 && digits[k - 1] == '0')
		k--;
	digits[k] = '\0';
	exp10 = atoi(p + 1);
	n = exp10 + 1;		/* where the decimal point goes */
	if (k <= n && n <= 21) {
		rc = rc || buf_append(b, digits, (size_t)k);
		for (int i = k; !rc && i < n; i++)
			rc = buf_putc(b, '0');
	} else if (0 < n && n <= 21) {
		rc = rc || buf_append(b, digits, (size_t)n) || buf_putc(b, '.') ||
		     buf_puts(b, digits + n);
	} else if (-6 < n && n <= 0) {
		rc = rc || buf_puts(b, "0.");
		for (int i = 0; !rc && i < -n; i++)
			rc = buf_putc(b, '0');
		rc = rc || buf_puts(b, digits);
	} else {
		rc = rc || buf_putc(b, digits[0]);
		if (!rc && k > 1)
			rc = buf_putc(b, '.') || buf_puts(b, digits + 1);
		rc = rc || buf_printf(b, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
	}
	return rc ? ERR_NOMEM : 0;
}

/* An instant in ms as ISO 8601 (years 1..9999), else as the number. */
static int put_instant(struct buf *b, int64_t ms, int open)
{
	/* 0001-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z */
	static const int64_t first = INT64_C(-62135596800000), last = INT64_C(253402300799999);
	char iso[TIME_INSTANT_LEN + 1];

	if (open)
		return buf_puts(b, "..");
	if (ms < first || ms > last)
		return buf_printf(b, "%lld", (long long)ms);
	time_format_instant(ms, iso);
	return buf_puts(b, iso);
}

static int put_numeric(struct buf *b, const struct fhir_index_entry *en)
{
	double v = en->v.quantity.value, lo = en->v.quantity.low, hi = en->v.quantity.high;

	if (isnan(v))
		return buf_putc(b, '[') || put_number(b, lo) || buf_putc(b, ',') ||
		       put_number(b, hi) || buf_putc(b, ']');
	if (put_number(b, v))
		return ERR_NOMEM;
	if (lo == v && hi == v)
		return 0;
	return buf_puts(b, " [") || put_number(b, lo) || buf_putc(b, ',') || put_number(b, hi) ||
	       buf_putc(b, ']');
}

static int put_reference(struct buf *b, const struct fhir_index_entry *en)
{
	const struct str *type = &en->v.reference.type, *id = &en->v.reference.id;
	const struct str *version = &en->v.reference.version, *url = &en->v.reference.url;

	if (en->v.reference.canonical)
		return buf_puts(b, "canonical:") || put_str(b, *url) ||
		       (version->n && (buf_putc(b, '|') || put_str(b, *version)));
	if (url->n && (put_str(b, *url) || ((type->n || id->n) && buf_puts(b, " ~ "))))
		return ERR_NOMEM;
	if (!type->n && !id->n)
		return 0;
	return put_str(b, *type) || buf_putc(b, '/') || put_str(b, *id) ||
	       (version->n && (buf_puts(b, "/_history/") || put_str(b, *version)));
}

/* The normal form of one entry (not a composite) into b. */
static int put_entry(struct buf *b, const struct fhir_index_entry *en)
{
	switch (en->kind) {
	case FHIR_INDEX_STRING:
	case FHIR_INDEX_TOKEN_TEXT:
		return put_str(b, en->v.string.folded);
	case FHIR_INDEX_URI:
		return put_str(b, en->v.string.exact);
	case FHIR_INDEX_TOKEN:
	case FHIR_INDEX_REFERENCE_IDENTIFIER:
		return (en->v.token.has_system && put_str(b, en->v.token.system)) ||
		       buf_putc(b, '|') || put_str(b, en->v.token.code);
	case FHIR_INDEX_TOKEN_OF_TYPE:
		return put_str(b, en->v.of_type.system) || buf_putc(b, '|') ||
		       put_str(b, en->v.of_type.code) || buf_putc(b, '|') ||
		       put_str(b, en->v.of_type.value);
	case FHIR_INDEX_DATE:
		return put_instant(b, en->v.date.low, en->v.date.low == FHIR_INDEX_MIN_MS) ||
		       buf_putc(b, '/') ||
		       put_instant(b, en->v.date.high, en->v.date.high == FHIR_INDEX_MAX_MS);
	case FHIR_INDEX_NUMBER:
		return put_numeric(b, en);
	case FHIR_INDEX_QUANTITY:
		return put_numeric(b, en) || buf_putc(b, '|') || put_str(b, en->v.quantity.system) ||
		       buf_putc(b, '|') || put_str(b, en->v.quantity.code) || buf_putc(b, '|') ||
		       put_str(b, en->v.quantity.unit);
	case FHIR_INDEX_REFERENCE:
		return put_reference(b, en);
	case FHIR_INDEX_POSITION:
		return put_number(b, en->v.position.latitude) || buf_putc(b, ',') ||
		       put_number(b, en->v.position.longitude);
	case FHIR_INDEX_COMPOSITE:
		for (size_t i = 0; i < en->v.composite.n; i++)
			if ((i && buf_puts(b, " $ ")) || put_entry(b, &en->v.composite.part[i]))
				return ERR_NOMEM;
		return 0;
	default:
		return buf_printf(b, "?kind %d", en->kind);
	}
}

/* ---- output ------------------------------------------------------------ */

static int write_line(struct buf *line)
{
	if (buf_putc(line, '\n'))
		return ERR_NOMEM;
	if (fwrite(line->p, 1, line->n, stdout) != line->n)
		return ERR_IO;
	buf_clear(line);
	return 0;
}

static int put_array(struct buf *b, const char *key, struct strlist *l)
{
	int rc;

	if (l->n == 0)
		return 0;
	strlist_sort_unique(l);
	rc = buf_printf(b, ",\"%s\":[", key);
	for (size_t i = 0; !rc && i < l->n; i++)
		rc = (i && buf_putc(b, ',')) || json_write_string(b, l->item[i]);
	return rc || buf_putc(b, ']') ? ERR_NOMEM : 0;
}

/* Prints the collected parameter, if any, and empties the lists. */
static int flush_param(struct dump *d)
{
	const struct fhir_search_param *p = d->param;
	struct buf *b = &d->line;
	int rc;

	if (!p)
		return 0;
	d->param = NULL;
	buf_clear(b);
	rc = buf_puts(b, "{\"src\":") || json_write_string(b, d->src) ||
	     buf_puts(b, ",\"param\":") || json_write_string(b, p->code) ||
	     buf_printf(b, ",\"type\":\"%s\"", fhir_search_type_name(p->type)) ||
	     put_array(b, "values", &d->values) || put_array(b, "exact", &d->exact) ||
	     put_array(b, "text", &d->text) ||
	     put_array(b, "of_type", &d->of_type) || put_array(b, "identifier", &d->identifier) ||
	     buf_putc(b, '}');
	strlist_clear(&d->values);
	strlist_clear(&d->exact);
	strlist_clear(&d->text);
	strlist_clear(&d->of_type);
	strlist_clear(&d->identifier);
	return rc ? ERR_NOMEM : write_line(b);
}

static int on_entry(void *arg, const struct fhir_index_entry *en)
{
	struct dump *d = arg;
	const struct fhir_search_param *p = d->as ? d->as : en->param;
	struct strlist *l;
	int rc;

	if (p != d->param) {
		rc = flush_param(d);
		if (rc) {
			d->failed = rc;
			return rc;
		}
		d->param = p;
	}
	switch (en->kind) {
	case FHIR_INDEX_TOKEN_TEXT: l = &d->text; break;
	case FHIR_INDEX_TOKEN_OF_TYPE: l = &d->of_type; break;
	case FHIR_INDEX_REFERENCE_IDENTIFIER: l = &d->identifier; break;
	default: l = &d->values; break;
	}
	buf_clear(&d->scratch);
	rc = put_entry(&d->scratch, en) || strlist_take(l, &d->scratch) ? ERR_NOMEM : 0;
	if (!rc && en->kind == FHIR_INDEX_STRING) {	/* the text as written, too */
		buf_clear(&d->scratch);
		rc = put_str(&d->scratch, en->v.string.exact) ||
		     strlist_take(&d->exact, &d->scratch) ? ERR_NOMEM : 0;
	}
	d->failed = rc;
	return rc;
}

/* The union parameters (fhir_search_param_union), which extraction skips:
 * each as the store serves it, the entries of its two parts. The
 * differential check then compares that with the union's own expression. */
static int dump_unions(struct dump *d, struct json_object *res, struct err *e)
{
	size_t n;
	const struct fhir_search_param *all = fhir_search_params_for(json_get_str(res, "resourceType"),
								     &n);
	int rc = 0;

	for (size_t i = 0; !rc && i < n; i++) {
		const struct fhir_search_param *a, *b;

		if (!(a = fhir_search_param_union(&all[i], &b)))
			continue;
		d->as = &all[i];
		rc = fhir_index_param(res, a, on_entry, d, e);
		if (!rc)
			rc = fhir_index_param(res, b, on_entry, d, e);
		if (!rc)
			rc = flush_param(d);
		d->as = NULL;
	}
	return rc;
}

static int dump_resource(struct dump *d, struct json_object *res, const char *src)
{
	const char *type = json_get_str(res, "resourceType"), *id = json_get_str(res, "id");
	struct err e = { 0 };
	struct buf *b = &d->line;
	int rc;

	d->src = src;
	d->param = NULL;
	d->failed = 0;
	buf_clear(&d->scratch);
	if (type && (buf_puts(&d->scratch, type) || buf_putc(&d->scratch, '/') ||
		     buf_puts(&d->scratch, id ? id : "")))
		return ERR_NOMEM;
	buf_clear(b);
	if (buf_puts(b, "{\"src\":") || json_write_string(b, src) || buf_puts(b, ",\"res\":") ||
	    (type ? json_write_string(b, d->scratch.p) : buf_puts(b, "null")) ||
	    buf_putc(b, '}') || write_line(b))
		return ERR_NOMEM;
	rc = fhir_index_resource(res, on_entry, d, &e);
	if (rc == 0 && (rc = flush_param(d)) == 0 && (rc = dump_unions(d, res, &e)) == 0)
		return 0;
	strlist_clear(&d->values);
	strlist_clear(&d->exact);
	strlist_clear(&d->text);
	strlist_clear(&d->of_type);
	strlist_clear(&d->identifier);
	if (d->failed)
		return d->failed;
	buf_clear(b);
	if (buf_puts(b, "{\"src\":") || json_write_string(b, src) || buf_puts(b, ",\"error\":") ||
	    json_write_string(b, e.n_issues ? e.issue[0].diagnostics : err_message(rc)) ||
	    buf_putc(b, '}'))
		return ERR_NOMEM;
	return write_line(b);
}

/* ---- input ------------------------------------------------------------- */

static char *slurp(const char *path, size_t *n, struct err *e)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[65536];
	size_t got;

	if (!f) {
		err_set(e, ERR_IO, NULL, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf_init(&b, MAX_INPUT_BYTES);
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(&b, chunk, got)) {
			err_set(e, ERR_TOO_LARGE, NULL, "%s: larger than %zu bytes", path,
				(size_t)MAX_INPUT_BYTES);
			buf_release(&b);
			fclose(f);
			return NULL;
		}
	fclose(f);
	if (!b.p && buf_putc(&b, '\0') == 0)
		b.n = 0;
	return buf_detach(&b, n);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* One parsed resource: itself and/or its Bundle entries. */
static int dump_tree(struct dump *d, struct json_object *o, const char *src, int bundles)
{
	const char *type = json_get_str(o, "resourceType");
	struct json_object *entries;
	char name[4096];
	int rc = 0;

	if (!type || strcmp(type, "Bundle") != 0 || (bundles & BUNDLES_SELF))
		rc = dump_resource(d, o, src);
	if (rc || !type || strcmp(type, "Bundle") != 0 || !(bundles & BUNDLES_ENTRIES) ||
	    !json_object_object_get_ex(o, "entry", &entries) ||
	    !json_object_is_type(entries, json_type_array))
		return rc;
	for (size_t i = 0; !rc && i < json_object_array_length(entries); i++) {
		struct json_object *res;

		if (!json_object_object_get_ex(json_object_array_get_idx(entries, i), "resource",
					       &res) ||
		    !json_object_is_type(res, json_type_object))
			continue;
		snprintf(name, sizeof(name), "%s#%zu", src, i);
		rc = dump_resource(d, res, name);
	}
	return rc;
}

static int dump_file(struct dump *d, const char *path, int bundles)
{
	struct err e = { 0 };
	struct json_object *o = NULL;
	size_t n = 0;
	char *text = slurp(path, &n, &e);
	int rc = 0;

	if (!text) {
		fprintf(stderr, "index_dump: %s\n", e.issue[0].diagnostics);
		return e.code;
	}
	if (ends_with(path, ".ndjson")) {
		size_t start = 0, line = 0;

		while (!rc && start < n) {
			const char *nl = memchr(text + start, '\n', n - start);
			size_t end = nl ? (size_t)(nl - text) : n;
			char name[4096];

			line++;
			snprintf(name, sizeof(name), "%s:%zu", path, line);
			if (end > start) {
				err_clear(&e);
				rc = json_parse(text + start, end - start, JSON_DEFAULT_MAX_DEPTH, &o, &e);
				if (rc == 0)
					rc = dump_tree(d, o, name, bundles);
				else
					fprintf(stderr, "index_dump: %s: %s\n", name,
						e.issue[0].diagnostics);
				json_object_put(o);
				o = NULL;
			}
			start = end + 1;
		}
	} else {
		rc = json_parse(text, n, JSON_DEFAULT_MAX_DEPTH, &o, &e);
		if (rc == 0)
			rc = dump_tree(d, o, path, bundles);
		else
			fprintf(stderr, "index_dump: %s: %s\n", path, e.issue[0].diagnostics);
		json_object_put(o);
	}
	free(text);
	return rc;
}

/* ---- the table --------------------------------------------------------- */

static int dump_params(struct buf *b)
{
	int rc = 0;

	for (int t = 0; !rc && t < fhir_resource_type_count(); t++) {
		const char *type = fhir_resource_type_name(t);
		size_t n;
		const struct fhir_search_param *p = fhir_search_params_for(type, &n);

		for (size_t i = 0; !rc && i < n; i++) {
			buf_clear(b);
			rc = buf_puts(b, "{\"resource\":") || json_write_string(b, type) ||
			     buf_puts(b, ",\"param\":") || json_write_string(b, p[i].code) ||
			     buf_printf(b, ",\"type\":\"%s\",\"id\":",
					fhir_search_type_name(p[i].type)) ||
			     json_write_string(b, p[i].id) || buf_puts(b, ",\"expression\":") ||
			     (p[i].expression ? json_write_string(b, p[i].expression) :
						buf_puts(b, "null")) ||
			     buf_printf(b, ",\"compiled\":%s",
					fhir_search_param_expr(&p[i]) ? "true" : "false");
			if (!rc && p[i].n_component) {
				rc = buf_puts(b, ",\"components\":[");
				for (size_t k = 0; !rc && k < p[i].n_component; k++) {
					const char *expr = NULL;
					const struct fhir_search_param *cp =
						fhir_search_component_param(&p[i], k, &expr);

					rc = (k && buf_putc(b, ',')) || buf_puts(b, "{\"param\":") ||
					     json_write_string(b, cp->code) ||
					     buf_puts(b, ",\"expression\":") ||
					     json_write_string(b, expr) || buf_putc(b, '}');
				}
				rc = rc || buf_putc(b, ']');
			}
			rc = rc || buf_putc(b, '}') ? ERR_NOMEM : write_line(b);
		}
	}
	return rc;
}

static void usage(void)
{
	fprintf(stderr, "usage: index_dump [--bundles=entries|self|both] FILE...\n"
			"       index_dump --params\n");
}

int main(int argc, char **argv)
{
	struct dump d = { 0 };
	int bundles = BUNDLES_ENTRIES, rc = 0, first = 1, params = 0;
	static char outbuf[1 << 16];

	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	for (; first < argc && strncmp(argv[first], "--", 2) == 0; first++) {
		const char *a = argv[first];

		if (strcmp(a, "--") == 0) {
			first++;
			break;
		} else if (strcmp(a, "--params") == 0) {
			params = 1;
		} else if (strcmp(a, "--bundles=entries") == 0) {
			bundles = BUNDLES_ENTRIES;
		} else if (strcmp(a, "--bundles=self") == 0) {
			bundles = BUNDLES_SELF;
		} else if (strcmp(a, "--bundles=both") == 0) {
			bundles = BUNDLES_BOTH;
		} else {
			usage();
			return 2;
		}
	}
	if (!params && first == argc) {
		usage();
		return 2;
	}
	buf_init(&d.scratch, MAX_LINE_BYTES);
	buf_init(&d.line, MAX_LINE_BYTES);
	if (params)
		rc = dump_params(&d.line);
	for (int i = first; !rc && i < argc; i++)
		rc = dump_file(&d, argv[i], bundles);
	if (rc)
		fprintf(stderr, "index_dump: %s\n", err_message(rc));
	strlist_release(&d.values);
	strlist_release(&d.exact);
	strlist_release(&d.text);
	strlist_release(&d.of_type);
	strlist_release(&d.identifier);
	buf_release(&d.scratch);
	buf_release(&d.line);
	if (fflush(stdout) != 0)
		rc = ERR_IO;
	return rc ? 1 : 0;
}
