/*
 * scope.c — SMART App Launch 2.0 scopes (with the 1.0 .read/.write/.* forms):
 * parsing, checking an access, and narrowing what a client asked for to
 * what it was granted.
 */
#include "auth.h"

#include <stdlib.h>
#include <string.h>

static const char PERM_LETTERS[] = "cruds";	/* bit i of perms is letter i */

static const char *const CONTEXT_NAMES[] = {
	[AUTH_CTX_PATIENT] = "patient",
	[AUTH_CTX_USER] = "user",
	[AUTH_CTX_SYSTEM] = "system",
};

/* RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) */
static int scope_char(char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

static enum auth_context context_of(const char *p, size_t n)
{
	for (int c = AUTH_CTX_PATIENT; c <= AUTH_CTX_SYSTEM; c++)
		if (strlen(CONTEXT_NAMES[c]) == n && memcmp(CONTEXT_NAMES[c], p, n) == 0)
			return (enum auth_context)c;
	return 0;
}

/* "read", "write", "*" (SMART 1.0) or v2 letters in the order c r u d s. */
static int parse_perms(const char *p, size_t n, unsigned *perms, int *v1)
{
	int last = -1;

	*perms = 0;
	*v1 = 1;
	if (n == 4 && memcmp(p, "read", 4) == 0)
		*perms = AUTH_PERM_R | AUTH_PERM_S;
	else if (n == 5 && memcmp(p, "write", 5) == 0)
		*perms = AUTH_PERM_C | AUTH_PERM_U | AUTH_PERM_D;
	else if (n == 1 && p[0] == '*')
		*perms = AUTH_PERM_C | AUTH_PERM_R | AUTH_PERM_U | AUTH_PERM_D | AUTH_PERM_S;
	if (*perms)
		return 0;
	*v1 = 0;
	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *hit = memchr(PERM_LETTERS, p[i], sizeof(PERM_LETTERS) - 1);
		int bit;

		if (!hit)
			return -1;
		bit = (int)(hit - PERM_LETTERS);
		if (bit <= last)	/* out of order, or twice */
			return -1;
		last = bit;
		*perms |= 1u << bit;
	}
	return 0;
}

/* "Observation" or "*": a FHIR type name is [A-Z][A-Za-z]*. */
static int valid_type(const char *p, size_t n, size_t cap)
{
	if (n == 1 && p[0] == '*')
		return 1;
	if (n == 0 || n >= cap || p[0] < 'A' || p[0] > 'Z')
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z')))
			return 0;
	return 1;
}

static int bad_scope(struct err *e, const struct auth_scope *sc, const char *why)
{
	return err_set(e, ERR_BAD_REQUEST, NULL, "scope \"%.64s\": %s", sc->text, why);
}

/* CONTEXT/TYPE.PERMS[?QUERY], the text after CONTEXT/ being p, n. */
static int parse_resource(const char *p, size_t n, struct auth_scope *sc, struct err *e)
{
	const char *dot = memchr(p, '.', n), *perms, *query;
	size_t perms_n;
	int v1;

	if (!dot)
		return bad_scope(e, sc, "no permissions after the resource type");
	if (!valid_type(p, (size_t)(dot - p), sizeof(sc->type)))
		return bad_scope(e, sc, "not a resource type or '*'");
	memcpy(sc->type, p, (size_t)(dot - p));
	sc->type[dot - p] = '\0';
	perms = dot + 1;
	query = memchr(perms, '?', n - (size_t)(perms - p));
	perms_n = (size_t)((query ? query : p + n) - perms);
	if (parse_perms(perms, perms_n, &sc->perms, &v1))
		return bad_scope(e, sc, "permissions must be read, write, * or some of "
					"c r u d s in that order");
	if (query) {
		size_t qn = n - (size_t)(query + 1 - p);
		if (v1)
			return bad_scope(e, sc, "a query needs SMART v2 permissions");
		if (qn == 0 || qn >= sizeof(sc->query))
			return bad_scope(e, sc, "the query is empty or too long");
		memcpy(sc->query, query + 1, qn);
		sc->query[qn] = '\0';
	}
	return 0;
}

static int parse_token(const char *p, size_t n, struct auth_scope *sc, struct err *e)
{
	const char *slash = memchr(p, '/', n);
	size_t prefix_n;

	memset(sc, 0, sizeof(*sc));
	if (n >= sizeof(sc->text))
		return err_set(e, ERR_BAD_REQUEST, NULL, "a scope is longer than %zu characters",
			       sizeof(sc->text) - 1);
	for (size_t i = 0; i < n; i++)
		if (!scope_char(p[i]))
			return err_set(e, ERR_BAD_REQUEST, NULL,
				       "a scope holds a character OAuth does not allow");
	memcpy(sc->text, p, n);
	sc->text[n] = '\0';
	if (!slash)
		return 0;
	prefix_n = (size_t)(slash - p);
	sc->context = context_of(p, prefix_n);
	if (sc->context)
		return parse_resource(slash + 1, n - prefix_n - 1, sc, e);
	/* WORD/X.Y looks like a resource scope with a context we do not know;
	 * launch/patient, URLs and the like are other tokens */
	for (size_t i = 0; i < prefix_n; i++)
		if (p[i] < 'a' || p[i] > 'z')
			return 0;
	if (prefix_n && memchr(slash, '.', n - prefix_n))
		return bad_scope(e, sc, "unknown context (patient, user or system)");
	return 0;
}

int auth_scopes_parse(const char *text, struct auth_scopes *out, struct err *e)
{
	const char *p = text;

	out->n = 0;
	while (*p) {
		const char *end;
		struct auth_scope *sc;
		int rc, dup = 0;

		if (*p == ' ') {
			p++;
			continue;
		}
		end = strchr(p, ' ');
		if (!end)
			end = p + strlen(p);
		if (out->n == AUTH_MAX_SCOPES)
			return err_set(e, ERR_BAD_REQUEST, NULL, "more than %d scopes",
				       AUTH_MAX_SCOPES);
		sc = &out->s[out->n];
		rc = parse_token(p, (size_t)(end - p), sc, e);
		if (rc)
			return rc;
		for (int i = 0; i < out->n && !dup; i++)
			dup = strcmp(out->s[i].text, sc->text) == 0;
		if (!dup)
			out->n++;
		p = end;
	}
	return 0;
}

static int type_covers(const char *granted, const char *type)
{
	return strcmp(granted, "*") == 0 || strcmp(granted, type) == 0;
}

int auth_scopes_allow(const struct auth_scopes *s, enum auth_context context, const char *type,
		      unsigned perms)
{
	unsigned got = 0;

	if (!perms || !type || !context)
		return 0;
	for (int i = 0; i < s->n; i++)
		if (s->s[i].context == context && !s->s[i].query[0] && type_covers(s->s[i].type, type))
			got |= s->s[i].perms;
	return (perms & ~got) == 0;
}

int auth_scopes_has(const struct auth_scopes *s, const char *token)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->s[i].text, token) == 0)
			return 1;
	return 0;
}

/* ---- Narrowing ----------------------------------------------------------------- */

/* One scope of the answer: a resource scope (context != 0) or another token. */
struct grant {
	enum auth_context context;
	const char *type, *query;	/* borrowed from the scopes */
	unsigned perms;
	const char *other;		/* the token, for non-resource scopes */
	int dropped;
};

/* What r and g both allow, as one scope; 0 when nothing. Two different
 * queries cannot be written as one, so they give nothing (the safe side). */
static int intersect(const struct auth_scope *r, const struct auth_scope *g, struct grant *out)
{
	if (r->context != g->context || !(r->perms & g->perms))
		return 0;
	if (strcmp(r->type, g->type) == 0 || strcmp(g->type, "*") == 0)
		out->type = r->type;
	else if (strcmp(r->type, "*") == 0)
		out->type = g->type;
	else
		return 0;
	if (strcmp(r->query, g->query) == 0 || g->query[0] == '\0')
		out->query = r->query;
	else if (r->query[0] == '\0')
		out->query = g->query;
	else
		return 0;
	out->context = r->context;
	out->perms = r->perms & g->perms;
	out->other = NULL;
	out->dropped = 0;
	return 1;
}

/* Adds g, merged into an entry for the same context, type and query. */
static void add_grant(struct grant *list, size_t *n, const struct grant *g)
{
	for (size_t i = 0; i < *n; i++) {
		if (list[i].context == g->context && strcmp(list[i].type, g->type) == 0 &&
		    strcmp(list[i].query, g->query) == 0) {
			list[i].perms |= g->perms;
			return;
		}
	}
	list[(*n)++] = *g;
}

/* y gives all that x gives (and y is another entry, so more general). */
static int subsumes(const struct grant *y, const struct grant *x)
{
	return y != x && y->context && y->context == x->context && type_covers(y->type, x->type) &&
	       (y->query[0] == '\0' || strcmp(y->query, x->query) == 0) &&
	       (x->perms & ~y->perms) == 0;
}

/* The scope as the client wrote it when it is exactly that (keeps
 * "patient/Observation.read" for a SMART 1.0 client), else in v2 letters. */
static int write_grant(struct buf *out, const struct grant *g, const struct auth_scopes *req)
{
	int rc;

	for (int i = 0; i < req->n; i++) {
		const struct auth_scope *r = &req->s[i];
		if (r->context == g->context && r->perms == g->perms &&
		    strcmp(r->type, g->type) == 0 && strcmp(r->query, g->query) == 0)
			return buf_puts(out, r->text);
	}
	rc = buf_printf(out, "%s/%s.", CONTEXT_NAMES[g->context], g->type);
	for (int bit = 0; bit < 5 && !rc; bit++)
		if (g->perms & (1u << bit))
			rc = buf_putc(out, PERM_LETTERS[bit]);
	if (!rc && g->query[0])
		rc = buf_printf(out, "?%s", g->query);
	return rc;
}

int auth_scopes_narrow(const struct auth_scopes *requested, const struct auth_scopes *granted,
		       struct buf *out)
{
	size_t n = 0, cap = (size_t)requested->n * (size_t)(granted->n + 1) + 1;
	struct grant *list = calloc(cap, sizeof(*list));
	int rc = 0, first = 1;

	if (!list)
		return ERR_NOMEM;
	for (int i = 0; i < requested->n; i++) {
		const struct auth_scope *r = &requested->s[i];

		if (!r->context) {
			if (auth_scopes_has(granted, r->text))
				list[n++] = (struct grant){ .other = r->text };
			continue;
		}
		for (int j = 0; j < granted->n; j++) {
			struct grant g;
			if (intersect(r, &granted->s[j], &g))
				add_grant(list, &n, &g);
		}
	}
	/* an entry adds nothing when a wider one (type "*", no query) gives all of its perms */
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n && list[i].context && !list[i].dropped; j++)
			if (subsumes(&list[j], &list[i]))
				list[i].dropped = 1;
	for (size_t i = 0; i < n && !rc; i++) {
		if (list[i].dropped)
			continue;
		if (!first)
			rc = buf_putc(out, ' ');
		first = 0;
		if (!rc)
			rc = list[i].other ? buf_puts(out, list[i].other)
					   : write_grant(out, &list[i], requested);
	}
	free(list);
	return rc;
}
