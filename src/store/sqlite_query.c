/*
 * sqlite_query.c — search on the SQLite backend: a struct store_query
 * becomes one SQL statement, built from fixed fragments with every value
 * bound (no value is ever pasted into SQL text).
 *
 * Shape: the resources of a type, current and live, whose rid is in the
 * rows each clause selects from an index table:
 *
 *   SELECT ... FROM resource r JOIN resource_version v ON v.seq = r.seq
 *   WHERE r.tenant=? AND r.type=? AND r.deleted=0
 *     AND r.rid IN (SELECT rid FROM ix_token WHERE tenant=? AND param=? AND code=?)
 *     AND ... ORDER BY <sort keys>, r.rid LIMIT count + 1
 *
 * A chain is a clause on a reference whose target ids come from a nested
 * query of the same shape; _has nests the other way round. A compartment
 * (Patient/[id]/$everything) takes its rids from the reference index, over
 * all its parameters at once, and includes what a page refers to through
 * any parameter (compartment_cond, include_sql). Paging is by
 * keyset: the cursor holds the last row's sort keys and rid, so a next page
 * neither repeats nor skips a row that did not change meanwhile. The page,
 * its includes and the total are read in one transaction (one snapshot).
 */
#include "sqlite_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/arena.h"
#include "../base/log.h"

#define SQL_MAX_BYTES (1u << 20)
#define SQL_MAX_BINDS 30000
#define SEARCH_MAX_ITERATE 4		/* rounds of _include:iterate */

enum bind_kind { BIND_INT, BIND_REAL, BIND_TEXT, BIND_NULL };

struct bind {
	int kind;
	int64_t i;
	double d;
	const char *p;
	size_t n;
};

struct sql {
	struct buf text;
	struct bind *b;
	int n, cap;
	int failed;			/* out of memory or past a cap */
	int depth;			/* nesting of sub-queries, for aliases */
	int anon;			/* write placeholders as '?' (see bind_rids) */
};

static void sql_init(struct sql *q)
{
	memset(q, 0, sizeof(*q));
	buf_init(&q->text, SQL_MAX_BYTES);
}

static void sql_release(struct sql *q)
{
	buf_release(&q->text);
	free(q->b);
}

static void sql_add(struct sql *q, const char *fmt, ...) LT_PRINTF(2, 3);

static void sql_add(struct sql *q, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (buf_vprintf(&q->text, fmt, ap))
		q->failed = 1;
	va_end(ap);
}

/* Appends a placeholder for a new bound value and returns it. */
static struct bind *sql_bind(struct sql *q)
{
	if (q->n == q->cap) {
		int cap = q->cap ? 2 * q->cap : 32;
		struct bind *b = cap <= SQL_MAX_BINDS ? realloc(q->b, (size_t)cap * sizeof(*b)) : NULL;

		if (!b) {
			q->failed = 1;
			return NULL;
		}
		q->b = b;
		q->cap = cap;
	}
	if (q->anon)
		sql_add(q, "?");
	else
		sql_add(q, "?%d", q->n + 1);
	memset(&q->b[q->n], 0, sizeof(q->b[0]));
	return &q->b[q->n++];
}

static void bind_int(struct sql *q, int64_t v)
{
	struct bind *b = sql_bind(q);

	if (b) {
		b->kind = BIND_INT;
		b->i = v;
	}
}

static void bind_real(struct sql *q, double v)
{
	struct bind *b = sql_bind(q);

	if (b) {
		b->kind = isnan(v) ? BIND_NULL : BIND_REAL;
		b->d = v;
	}
}

static void bind_text(struct sql *q, const char *p, size_t n)
{
	struct bind *b = sql_bind(q);

	if (b) {
		b->kind = BIND_TEXT;
		b->p = p ? p : "";
		b->n = p ? n : 0;
	}
}

static void bind_str(struct sql *q, struct str s)
{
	bind_text(q, s.p, s.n);
}

/* A prefix's upper bound: s followed by 0xFF, above any UTF-8 text that
 * starts with s. The bytes live in the search's arena until it ends. */
static void bind_prefix_end(struct sql *q, struct str s, struct arena *keep)
{
	char *end = arena_alloc(keep, s.n + 2);

	if (!end) {
		q->failed = 1;
		return;
	}
	memcpy(end, s.p, s.n);
	end[s.n] = (char)0xFF;
	bind_text(q, end, s.n + 1);
}

/* ---- clauses ----------------------------------------------------------- */

struct ctx {
	struct sql sql;
	struct arena keep;		/* prefix bounds */
	int64_t tenant;
	const char *col;		/* prefix of index columns in value_cond: "" or "d." */
	uint32_t param;			/* the parameter whose values value_cond writes */
	int64_t after_rid;		/* > 0: the page starts after this rid (rid order) */
	char colbuf[2][24];
};

/* Index column `name` with the current prefix (slot 0 or 1: two at once). */
static const char *col(struct ctx *x, int slot, const char *name)
{
	snprintf(x->colbuf[slot], sizeof(x->colbuf[slot]), "%s%s", x->col, name);
	return x->colbuf[slot];
}

static void where_query(struct ctx *x, const struct store_query *q, const char *alias);

/* The comparison of a value range [lo, hi] (columns) with the query's. */
static void range_cond(struct ctx *x, int cmp, const char *lo, const char *hi, int is_real,
		       int64_t qlo, int64_t qhi, double dlo, double dhi, double exact)
{
	struct sql *q = &x->sql;
#define QLO() (is_real ? bind_real(q, dlo) : bind_int(q, qlo))
#define QHI() (is_real ? bind_real(q, dhi) : bind_int(q, qhi))
	switch (cmp) {
	case STORE_CMP_EQ:
	case STORE_CMP_NE:
		/* lo <= hi <= the query's hi: the redundant bound on lo keeps the
		 * index range to the query's interval. */
		sql_add(q, "%s(%s>=", cmp == STORE_CMP_NE ? "NOT " : "", lo);
		QLO();
		sql_add(q, " AND %s%s", lo, is_real ? "<" : "<=");
		QHI();
		sql_add(q, " AND %s%s", hi, is_real ? "<" : "<=");
		QHI();
		sql_add(q, ")");
		break;
	case STORE_CMP_GT:
		if (is_real) {
			sql_add(q, "%s>", hi);
			bind_real(q, exact);
		} else {
			sql_add(q, "%s>", hi);
			QHI();
		}
		break;
	case STORE_CMP_LT:
		sql_add(q, "%s<", lo);
		if (is_real)
			bind_real(q, exact);
		else
			QLO();
		break;
	case STORE_CMP_GE:
	case STORE_CMP_LE:
		if (is_real) {	/* numbers compare with the exact value */
			sql_add(q, cmp == STORE_CMP_GE ? "%s>=" : "%s<=", cmp == STORE_CMP_GE ? hi : lo);
			bind_real(q, exact);
			break;
		}
		/* dates: ge is gt or eq, le is lt or eq */
		sql_add(q, "(");
		range_cond(x, cmp == STORE_CMP_GE ? STORE_CMP_GT : STORE_CMP_LT, lo, hi, is_real, qlo,
			   qhi, dlo, dhi, exact);
		sql_add(q, " OR ");
		range_cond(x, STORE_CMP_EQ, lo, hi, is_real, qlo, qhi, dlo, dhi, exact);
		sql_add(q, ")");
		break;
	case STORE_CMP_SA:
		sql_add(q, "%s>", lo);
		if (is_real)
			bind_real(q, exact);
		else
			QHI();
		break;
	case STORE_CMP_EB:
		sql_add(q, "%s<", hi);
		if (is_real)
			bind_real(q, exact);
		else
			QLO();
		break;
	case STORE_CMP_AP:	/* the caller widened the range: any overlap */
		sql_add(q, "(%s<=", lo);
		QHI();
		sql_add(q, " AND %s>=", hi);
		QLO();
		sql_add(q, ")");
		break;
	default:
		sql_add(q, "0");
	}
#undef QLO
#undef QHI
}

/* lt_distance_km(lat1, lon1, lat2, lon2): the great-circle distance in km
 * (haversine, mean Earth radius); NULL when an argument is not a number. */
static void sqlite_distance_km(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	double a[4], h;

	for (int i = 0; i < argc; i++) {
		int t = sqlite3_value_numeric_type(argv[i]);

		if (t != SQLITE_FLOAT && t != SQLITE_INTEGER) {
			sqlite3_result_null(ctx);
			return;
		}
		a[i] = sqlite3_value_double(argv[i]) * SQLITE_RADIANS;
	}
	h = pow(sin((a[2] - a[0]) / 2), 2) + cos(a[0]) * cos(a[2]) * pow(sin((a[3] - a[1]) / 2), 2);
	sqlite3_result_double(ctx, 2 * SQLITE_EARTH_KM * asin(sqrt(fmin(1.0, h))));
}

int sqlite_query_functions(sqlite3 *db)
{
	return sqlite3_create_function_v2(db, "lt_distance_km", 4,
					  SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
					  NULL, sqlite_distance_km, NULL, NULL, NULL);
}

/*
 * Positions (lo latitude, hi longitude) within km of (lat, lon): the box of
 * latitudes the distance spans bounds the index scan, the box of
 * longitudes narrows it where it is narrower than the globe, and
 * lt_distance_km (sqlite_distance_km) decides.
 */
static void near_cond(struct ctx *x, double lat, double lon, double km)
{
	struct sql *q = &x->sql;
	double dlat = km / SQLITE_KM_PER_DEGREE, top = fmin(90.0, fabs(lat) + dlat);
	double dlon = top < 89.0 ? dlat / cos(top * SQLITE_RADIANS) : 360.0;

	sql_add(q, "%slo>=", x->col);
	bind_real(q, lat - dlat);
	sql_add(q, " AND %slo<=", x->col);
	bind_real(q, lat + dlat);
	if (lon - dlon >= -180.0 && lon + dlon <= 180.0) {	/* else it wraps: no bound */
		sql_add(q, " AND %shi>=", x->col);
		bind_real(q, lon - dlon);
		sql_add(q, " AND %shi<=", x->col);
		bind_real(q, lon + dlon);
	}
	sql_add(q, " AND lt_distance_km(%slo, %shi, ", x->col, x->col);
	bind_real(q, lat);
	sql_add(q, ", ");
	bind_real(q, lon);
	sql_add(q, ")<=");
	bind_real(q, km);
}

/* Conditions are written without needless parentheses: SQLite's parser has
 * a bounded stack, and chains nest. A value is an AND-chain (AND binds
 * tighter than OR), so values join with OR as they are. */

/* " AND " between the parts of one value's AND-chain. */
static void and_sep(struct sql *q, int *first)
{
	if (!*first)
		sql_add(q, " AND ");
	*first = 0;
}

/* One value's condition on the columns of its table (unqualified). */
static void value_cond(struct ctx *x, const struct store_qvalue *v)
{
	struct sql *q = &x->sql;
	int first = 1;

	switch (v->op) {
	case STORE_Q_TOKEN:
		if (v->has_code) {
			and_sep(q, &first);
			sql_add(q, "%scode=", x->col);
			bind_str(q, v->s[1]);
		}
		if (v->has_system) {
			and_sep(q, &first);
			sql_add(q, v->system_or_none ? "%ssystem IN ('', " : "%ssystem=", x->col);
			bind_str(q, v->s[0]);
			if (v->system_or_none)
				sql_add(q, ")");
		}
		if (first)
			sql_add(q, "1");
		break;
	case STORE_Q_STRING_PREFIX:
		sql_add(q, "%sfolded>=", x->col);
		bind_str(q, v->s[0]);
		sql_add(q, " AND %sfolded<", x->col);
		bind_prefix_end(q, v->s[0], &x->keep);
		break;
	case STORE_Q_STRING_EXACT:
		sql_add(q, "%sfolded=", x->col);
		bind_str(q, v->s[0]);
		sql_add(q, " AND %sexact=", x->col);
		bind_str(q, v->s[1]);
		break;
	case STORE_Q_STRING_CONTAINS:
		sql_add(q, "instr(%sfolded, ", x->col);
		bind_str(q, v->s[0]);
		sql_add(q, ")>0");
		break;
	case STORE_Q_URI:
		sql_add(q, "%suri=", x->col);
		bind_str(q, v->s[0]);
		break;
	case STORE_Q_URI_BELOW:
		sql_add(q, "%suri>=", x->col);
		bind_str(q, v->s[0]);
		sql_add(q, " AND %suri<", x->col);
		bind_prefix_end(q, v->s[0], &x->keep);
		break;
	case STORE_Q_URI_ABOVE:
		sql_add(q, "substr(");
		bind_str(q, v->s[0]);
		sql_add(q, ", 1, length(%suri))=%suri", x->col, x->col);
		break;
	case STORE_Q_DATE:
		range_cond(x, v->cmp, col(x, 0, "lo"), col(x, 1, "hi"), 0, v->lo, v->hi, 0, 0, 0);
		if (v->cmp == STORE_CMP_GT || v->cmp == STORE_CMP_GE || v->cmp == STORE_CMP_AP) {
			/* hi >= B, and no interval of the parameter is longer than its
			 * span: lo >= B - span bounds the index scan from below. */
			sql_add(q, " AND %slo>=", x->col);
			bind_int(q, v->cmp == STORE_CMP_GT ? v->hi : v->lo);
			sql_add(q, "-coalesce((SELECT span FROM ix_date_span WHERE tenant=");
			bind_int(q, x->tenant);
			sql_add(q, " AND param=");
			bind_int(q, x->param);
			sql_add(q, "), 9223372036854775807)");
		}
		if (v->and_also) {	/* a range: both bounds on the same value */
			sql_add(q, " AND ");
			value_cond(x, v->and_also);
		}
		break;
	case STORE_Q_NUMBER:
		range_cond(x, v->cmp, col(x, 0, "lo"), col(x, 1, "hi"), 1, 0, 0, v->dlo, v->dhi, v->elo);
		if (v->and_also) {
			sql_add(q, " AND ");
			value_cond(x, v->and_also);
		}
		if (v->s[0].n) {
			sql_add(q, " AND %ssystem=", x->col);
			bind_str(q, v->s[0]);
		}
		if (v->s[1].n) {
			sql_add(q, v->s[0].n ? " AND %scode=" : " AND (%scode=", x->col);
			bind_str(q, v->s[1]);
			if (!v->s[0].n) {
				sql_add(q, " OR %sunit=", x->col);
				bind_str(q, v->s[1]);
				sql_add(q, ")");
			}
		}
		break;
	case STORE_Q_REFERENCE:
		if (v->s[0].n) {
			and_sep(q, &first);
			sql_add(q, "%stype=", x->col);
			bind_str(q, v->s[0]);
		}
		if (v->s[1].n) {	/* (chains are clause_cond's) */
			and_sep(q, &first);
			sql_add(q, "%sid=", x->col);
			bind_str(q, v->s[1]);
			if (v->local) {	/* not a reference to another server */
				sql_add(q, " AND (%surl=''", x->col);
				if (v->s[2].n) {
					sql_add(q, " OR %surl=", x->col);
					bind_str(q, v->s[2]);
				}
				sql_add(q, ")");
			}
		} else if (v->s[2].n) {
			and_sep(q, &first);
			sql_add(q, "%surl=", x->col);
			bind_str(q, v->s[2]);
		}
		if (v->s[3].n) {
			and_sep(q, &first);
			sql_add(q, "%sversion=", x->col);
			bind_str(q, v->s[3]);
		}
		if (first)
			sql_add(q, "1");
		break;
	case STORE_Q_COMPOSITE:
		sql_add(q, "%sa1=", x->col);
		bind_str(q, v->s[1]);
		if (v->s[0].n) {
			sql_add(q, " AND %sa0=", x->col);
			bind_str(q, v->s[0]);
		}
		if (v->s[3].n) {
			sql_add(q, " AND %sb1=", x->col);
			bind_str(q, v->s[3]);
			if (v->s[2].n) {
				sql_add(q, " AND %sb0=", x->col);
				bind_str(q, v->s[2]);
			}
		} else if (v->has_second) {
			sql_add(q, " AND ");
			range_cond(x, v->cmp, col(x, 0, "blo"), col(x, 1, "bhi"), 1, 0, 0, v->dlo, v->dhi, v->elo);
		}
		if (v->has_third) {
			sql_add(q, " AND ");
			range_cond(x, v->cmp2, col(x, 0, "clo"), col(x, 1, "chi"), 1, 0, 0, v->tlo, v->thi,
				   v->texact);
		}
		break;
	case STORE_Q_NEAR:
		near_cond(x, v->dlo, v->dhi, v->elo);
		break;
	case STORE_Q_PRESENT:
		sql_add(q, "1");
		break;
	default:
		sql_add(q, "0");
	}
}

/* Values OR'ed: parenthesised only when there are several. */
static void values_or(struct ctx *x, const struct store_qclause *c)
{
	struct sql *q = &x->sql;

	if (c->n > 1)
		sql_add(q, "(");
	for (size_t i = 0; i < c->n; i++) {
		sql_add(q, i ? " OR " : "");
		x->param = c->param == STORE_PARAM_EACH ? c->v[i].has_param : c->param;
		if (c->param == STORE_PARAM_EACH) {
			sql_add(q, "%sparam=", x->col);
			bind_int(q, c->v[i].has_param);
			sql_add(q, " AND ");
		}
		value_cond(x, &c->v[i]);
	}
	if (c->n > 1)
		sql_add(q, ")");
}

/* The owner as an absolute URL on this server: base/Type/id, or for any
 * owner (ref: the reference row's alias) base/Type/ || ref.id. Without a
 * base, '' (relative references only). */
static void sql_bind_url(struct ctx *x, const struct store_qcompartment *k, const char *ref)
{
	size_t tn = strlen(k->type), idn = ref ? 0 : strlen(k->id);
	char *url;

	if (!k->base.n) {
		sql_add(&x->sql, "''");
		return;
	}
	url = arena_alloc(&x->keep, k->base.n + tn + idn + 3);
	if (!url) {
		x->sql.failed = 1;
		return;
	}
	snprintf(url, k->base.n + tn + idn + 3, "%.*s/%s/%s", (int)k->base.n, k->base.p, k->type,
		 ref ? "" : k->id);
	bind_text(&x->sql, url, strlen(url));
	if (ref)
		sql_add(&x->sql, "||%s.id", ref);
}

/* A later page of a query in rid order: the set need not hold the rids
 * before it (one range per parameter on ix_reference_value). */
static void after_rid(struct ctx *x)
{
	if (x->after_rid > 0) {
		sql_add(&x->sql, " AND rid>");
		bind_int(&x->sql, x->after_rid);
	}
}

/* The compartment parameters: "?1, ?2, ..." */
static void bind_params(struct ctx *x, const struct store_qcompartment *k)
{
	for (size_t i = 0; i < k->n_params; i++) {
		sql_add(&x->sql, i ? ", " : "");
		bind_int(&x->sql, k->params[i]);
	}
}

/*
 * A compartment. Of one owner, the referrers are a few seeks on
 * ix_reference(tenant, param, id, type), one per parameter, and the resource
 * rows are read in rid order from that set (the set is sorted: no sort of
 * the page; a later page leaves out the rids before its cursor). `+url`
 * keeps SQLite from reading every local reference of the parameters
 * through ix_reference_url instead. Of every owner (id NULL),
 * each resource is tested on its own references (ix_reference_rid) and the
 * owner must be live: the resources come in rid order, so a page stops
 * after count rows.
 */
static void compartment_cond(struct ctx *x, const struct store_qcompartment *k, const char *alias,
			     int negate)
{
	struct sql *q = &x->sql;
	char ref[16], own[16];

	if (!k || !k->n_params) {
		sql_add(q, negate ? "1" : "0");
		return;
	}
	if (k->id) {
		sql_add(q, "%s.rid %s (SELECT rid FROM ix_reference WHERE tenant=", alias,
			negate ? "NOT IN" : "IN");
		bind_int(q, x->tenant);
		sql_add(q, " AND param IN (");
		bind_params(x, k);
		sql_add(q, ") AND id=");
		bind_text(q, k->id, strlen(k->id));
		sql_add(q, " AND type=");
		bind_text(q, k->type, strlen(k->type));
		sql_add(q, " AND +url IN ('', ");
		sql_bind_url(x, k, NULL);
		sql_add(q, ")");
		after_rid(x);
		if (k->with_owner) {
			sql_add(q, " UNION ALL SELECT rid FROM resource WHERE tenant=");
			bind_int(q, x->tenant);
			sql_add(q, " AND type=");
			bind_text(q, k->type, strlen(k->type));
			sql_add(q, " AND id=");
			bind_text(q, k->id, strlen(k->id));
			after_rid(x);
		}
		sql_add(q, ")");
		return;
	}
	snprintf(ref, sizeof(ref), "c%d", ++q->depth);
	snprintf(own, sizeof(own), "o%d", q->depth);
	sql_add(q, negate ? "NOT (" : "(");
	if (k->with_owner) {
		sql_add(q, "%s.type=", alias);
		bind_text(q, k->type, strlen(k->type));
		sql_add(q, " OR ");
	}
	sql_add(q, "EXISTS (SELECT 1 FROM ix_reference %s JOIN resource %s ON %s.tenant=%s.tenant"
		" AND %s.type=%s.type AND %s.id=%s.id AND %s.deleted=0 WHERE %s.rid=%s.rid"
		" AND +%s.param IN (", ref, own, own, ref, own, ref, own, ref, own, ref, alias, ref);
	bind_params(x, k);
	sql_add(q, ") AND %s.type=", ref);
	bind_text(q, k->type, strlen(k->type));
	sql_add(q, " AND %s.tenant=", ref);
	bind_int(q, x->tenant);
	sql_add(q, " AND %s.url IN ('', ", ref);
	sql_bind_url(x, k, ref);
	sql_add(q, ")))");
}

/* One clause, as a condition on the resource row `alias`. */
static void clause_cond(struct ctx *x, const struct store_qclause *c, const char *alias)
{
	struct sql *q = &x->sql;
	int op = c->n ? c->v[0].op : STORE_Q_PRESENT;
	const char *in = c->negate ? "NOT IN" : "IN";

	if (op == STORE_Q_ID || op == STORE_Q_TYPE) {
		sql_add(q, "%s.%s %s (", alias, op == STORE_Q_ID ? "id" : "type", in);
		for (size_t i = 0; i < c->n; i++) {
			sql_add(q, i ? ", " : "");
			bind_str(q, c->v[i].s[0]);
		}
		sql_add(q, ")");
		return;
	}
	if (op == STORE_Q_LAST_UPDATED) {
		char col[48];

		snprintf(col, sizeof(col), "%s.last_updated", alias);
		sql_add(q, c->negate ? "NOT (" : "(");
		for (size_t i = 0; i < c->n; i++) {
			sql_add(q, i ? " OR " : "");
			range_cond(x, c->v[i].cmp, col, col, 0, c->v[i].lo, c->v[i].hi, 0, 0, 0);
		}
		sql_add(q, ")");
		return;
	}
	if (op == STORE_Q_HAS) {
		sql_add(q, "%s.id %s (SELECT id FROM ix_reference WHERE tenant=", alias, in);
		bind_int(q, x->tenant);
		sql_add(q, " AND type=%s.type AND url='' AND ", alias);
		if (c->n > 1)
			sql_add(q, "(");
		for (size_t i = 0; i < c->n; i++) {
			const struct store_qvalue *v = &c->v[i];
			char sub[16];

			snprintf(sub, sizeof(sub), "h%d", ++q->depth);
			sql_add(q, "%sparam=", i ? " OR " : "");
			bind_int(q, v->has_param);
			sql_add(q, " AND rid IN (SELECT %s.rid FROM resource %s WHERE ", sub, sub);
			where_query(x, v->sub, sub);
			sql_add(q, ")");
		}
		if (c->n > 1)
			sql_add(q, ")");
		sql_add(q, ")");
		return;
	}
	if (op == STORE_Q_COMPARTMENT) {
		compartment_cond(x, c->v[0].comp, alias, c->negate);
		return;
	}
	if (c->table >= STORE_IX__COUNT) {
		sql_add(q, "0");
		return;
	}
	if (c->table == STORE_IX_REFERENCE && c->n && c->v[0].sub) {
		/* A chain: references of param (local ones) whose target, of one of
		 * the types, matches the sub-query. One sub-select per link (SQLite's
		 * parser stack is bounded), and CROSS JOIN makes the targets the
		 * outer loop: they are few, and each is looked up in
		 * ix_reference(tenant, param, id, type). The other order walks every
		 * reference of the parameter. */
		char t[16];

		snprintf(t, sizeof(t), "t%d", ++q->depth);
		sql_add(q, "%s.rid %s (SELECT x.rid FROM resource %s CROSS JOIN ix_reference x"
			" ON x.tenant=%s.tenant AND x.param=", alias, in, t, t);
		bind_int(q, c->param);
		sql_add(q, " AND x.id=%s.id AND x.type=%s.type WHERE x.url='' AND ", t, t);
		if (c->n > 1)
			sql_add(q, "(");
		for (size_t i = 0; i < c->n; i++) {
			sql_add(q, i ? " OR " : "");
			where_query(x, c->v[i].sub, t);
		}
		sql_add(q, c->n > 1 ? "))" : ")");
		return;
	}
	sql_add(q, "%s.rid %s (SELECT rid FROM %s WHERE tenant=", alias, in, sqlite_ix_table[c->table]);
	bind_int(q, x->tenant);
	if (c->param != STORE_PARAM_EACH) {
		sql_add(q, " AND param=");
		bind_int(q, c->param);
	}
	sql_add(q, " AND ");
	values_or(x, c);
	sql_add(q, ")");
}

/* The conditions of q on the resource row `alias` (no leading AND). */
static void where_query(struct ctx *x, const struct store_query *q, const char *alias)
{
	struct sql *s = &x->sql;

	/* With clauses, their index rows must drive the search: '+' keeps
	 * SQLite from reading every resource of the type through
	 * resource_updated instead (which it does without statistics). */
	const char *plus = q->n ? "+" : "";

	sql_add(s, "%s%s.tenant=", plus, alias);
	bind_int(s, x->tenant);
	if (q->type) {
		sql_add(s, " AND %s%s.type=", plus, alias);
		bind_text(s, q->type, strlen(q->type));
	}
	sql_add(s, " AND %s.deleted=0", alias);
	for (size_t i = 0; i < q->n; i++) {
		sql_add(s, " AND ");
		clause_cond(x, &q->c[i], alias);
	}
}

/* ---- sort keys and cursors -------------------------------------------- */

static const char *const sort_col_asc[STORE_IX__COUNT] = {
	"min(code)", "min(folded)", "min(lo)", "min(lo)", "min(type||'/'||id||url)", "min(uri)",
	"min(a1)",
};
static const char *const sort_col_desc[STORE_IX__COUNT] = {
	"max(code)", "max(folded)", "max(hi)", "max(hi)", "max(type||'/'||id||url)", "max(uri)",
	"max(a1)",
};

/* The expression of sort key k for the row `r`. */
static void sort_expr(struct ctx *x, const struct store_qsort *k)
{
	struct sql *q = &x->sql;

	switch (k->kind) {
	case STORE_SORT_ID:
		sql_add(q, "r.id");
		break;
	case STORE_SORT_LAST_UPDATED:
		sql_add(q, "r.last_updated");
		break;
	case STORE_SORT_PARAM:
		if (k->table >= STORE_IX__COUNT) {
			sql_add(q, "NULL");
			break;
		}
		sql_add(q, "(SELECT %s FROM %s WHERE rid=r.rid AND param",
			(k->desc ? sort_col_desc : sort_col_asc)[k->table], sqlite_ix_table[k->table]);
		if (k->n_param == 2) {
			sql_add(q, " IN (");
			bind_int(q, k->part[0]);
			sql_add(q, ", ");
			bind_int(q, k->part[1]);
			sql_add(q, "))");
			break;
		}
		sql_add(q, "=");
		bind_int(q, k->param);
		sql_add(q, ")");
		break;
	default:
		sql_add(q, "r.rid");
	}
}

/* A cursor: one field per sort key, then the rid, separated by '.':
 * "n" null, "i<int>", "r<double>", "t<hex bytes>". */
struct cursor_key {
	int kind;			/* BIND_* */
	int64_t i;
	double d;
	char *p;			/* malloc'ed text */
	size_t n;
};

struct cursor {
	struct cursor_key key[STORE_QUERY_MAX_SORT];
	size_t n;
	int64_t rid;
};

static void cursor_release(struct cursor *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->key[i].p);
	c->n = 0;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

static int cursor_parse(const char *s, size_t want, struct cursor *out, struct err *e)
{
	const char *p = s;

	memset(out, 0, sizeof(*out));
	for (;;) {
		const char *end = strchr(p, '.');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char *stop;

		if (!end) {	/* the rid */
			if (n == 0 || out->n != want)
				goto bad;
			out->rid = strtoll(p, &stop, 10);
			if (stop != p + n || out->rid < 0)
				goto bad;
			return 0;
		}
		if (out->n >= want || n == 0)
			goto bad;
		struct cursor_key *k = &out->key[out->n++];

		switch (p[0]) {
		case 'n':
			k->kind = BIND_NULL;
			if (n != 1)
				goto bad;
			break;
		case 'i':
			k->kind = BIND_INT;
			k->i = strtoll(p + 1, &stop, 10);
			if (stop != p + n || n == 1)
				goto bad;
			break;
		case 'r':
			k->kind = BIND_REAL;
			k->d = strtod(p + 1, &stop);
			if (stop != p + n || n == 1)
				goto bad;
			break;
		case 't':
			if ((n - 1) % 2)
				goto bad;
			k->kind = BIND_TEXT;
			k->n = (n - 1) / 2;
			k->p = malloc(k->n + 1);
			if (!k->p)
				goto bad;
			for (size_t i = 0; i < k->n; i++) {
				int h = hexval(p[1 + 2 * i]), l = hexval(p[2 + 2 * i]);

				if (h < 0 || l < 0)
					goto bad;
				k->p[i] = (char)(h * 16 + l);
			}
			k->p[k->n] = '\0';
			break;
		default:
			goto bad;
		}
		p = end + 1;
	}
bad:
	cursor_release(out);
	return err_set(e, ERR_BAD_REQUEST, "_cursor",
		       "the paging cursor is not one this server gave out for this search");
}

/* Writes the cursor of the row at statement s: keys at columns first.. */
static void cursor_format(sqlite3_stmt *s, int first, size_t nkeys, int64_t rid, char *out,
			  size_t cap)
{
	struct buf b;

	buf_init(&b, cap - 1);
	for (size_t i = 0; i < nkeys; i++) {
		int col = first + (int)i, rc = 0;

		switch (sqlite3_column_type(s, col)) {
		case SQLITE_INTEGER:
			rc = buf_printf(&b, "i%lld.", (long long)sqlite3_column_int64(s, col));
			break;
		case SQLITE_FLOAT:
			rc = buf_printf(&b, "r%.17g.", sqlite3_column_double(s, col));
			break;
		case SQLITE_NULL:
			rc = buf_puts(&b, "n.");
			break;
		default: {
			const unsigned char *t = sqlite3_column_text(s, col);
			int n = sqlite3_column_bytes(s, col);

			rc = buf_putc(&b, 't');
			for (int k = 0; !rc && k < n; k++)
				rc = buf_printf(&b, "%02x", t[k]);
			if (!rc)
				rc = buf_putc(&b, '.');
		}
		}
		if (rc)
			break;
	}
	if (buf_printf(&b, "%lld", (long long)rid) == 0 && b.n < cap)
		memcpy(out, b.p, b.n + 1);
	else
		snprintf(out, cap, "%s", "");	/* a cursor too long to carry: no next page */
	buf_release(&b);
}

static void bind_cursor_key(struct sql *q, const struct cursor_key *k)
{
	switch (k->kind) {
	case BIND_INT:
		bind_int(q, k->i);
		break;
	case BIND_REAL:
		bind_real(q, k->d);
		break;
	case BIND_TEXT:
		bind_text(q, k->p, k->n);
		break;
	default: {
		struct bind *b = sql_bind(q);

		if (b)
			b->kind = BIND_NULL;
	}
	}
}

/* The rows after the cursor, in ORDER BY (k IS NULL), k [DESC] ..., rid. */
static void after_cursor(struct ctx *x, const struct store_query *qq, const struct cursor *cur)
{
	struct sql *q = &x->sql;

	sql_add(q, " AND (");
	for (size_t i = 0; i <= qq->n_sort; i++) {
		sql_add(q, i ? " OR (1" : "(1");
		for (size_t j = 0; j < i; j++) {
			sql_add(q, " AND ");
			sort_expr(x, &qq->sort[j]);
			sql_add(q, " IS ");
			bind_cursor_key(q, &cur->key[j]);
		}
		if (i == qq->n_sort) {
			sql_add(q, " AND r.rid>");
			bind_int(q, cur->rid);
		} else if (cur->key[i].kind == BIND_NULL) {
			sql_add(q, " AND 0");
		} else {
			sql_add(q, " AND (");
			sort_expr(x, &qq->sort[i]);
			sql_add(q, qq->sort[i].desc ? "<" : ">");
			bind_cursor_key(q, &cur->key[i]);
			sql_add(q, " OR ");
			sort_expr(x, &qq->sort[i]);
			sql_add(q, " IS NULL)");
		}
		sql_add(q, ")");
	}
	sql_add(q, ")");
}

/* ---- the driver: pages in an index's order ----------------------------- */

/* The columns every hit is read from (emit). */
#define HIT_COLUMNS "r.rid, r.type, r.id, v.version, v.last_updated, v.deleted, v.json, v.seq," \
		    " v.interaction"

/*
 * Without _sort, a page need not come in rid order. When a clause on the
 * type's own parameter can drive the search, the page is read in the order
 * of that parameter's index (code, date, name...), so that LIMIT stops after
 * one page of index entries instead of gathering every match first. A
 * resource with several matching rows is taken at its first one (NOT
 * EXISTS an earlier matching row of the same rid). The keyset cursor is the
 * index key of the last row.
 */
static const char *const driver_keys[STORE_IX__COUNT][4] = {
	[STORE_IX_TOKEN] = { "code", "rid", "system", NULL },
	[STORE_IX_STRING] = { "folded", "exact", "rid", NULL },
	[STORE_IX_DATE] = { "lo", "hi", "rid", NULL },
	[STORE_IX_NUMBER] = { "lo", "hi", "rid", NULL },
	[STORE_IX_REFERENCE] = { "id", "type", "rid", NULL },
	[STORE_IX_URI] = { "uri", "rid", NULL, NULL },
	[STORE_IX_COMPOSITE] = { "a1", "a0", "rid", NULL },
};

static size_t driver_nkeys(const struct store_qclause *d)
{
	size_t n = 0;

	while (n < 4 && driver_keys[d->table][n])
		n++;
	return n + 1;	/* + rowid */
}

static const struct store_qclause *pick_driver(const struct store_query *q)
{
	if (q->n_sort || !q->type)
		return NULL;
	for (size_t i = 0; i < q->n; i++) {
		const struct store_qclause *c = &q->c[i];
		int op = c->n ? c->v[0].op : -1;

		if (!c->negate && c->own_type && c->table < STORE_IX__COUNT && c->n &&
		    c->param != STORE_PARAM_EACH && !c->v[0].sub && op != STORE_Q_HAS &&
		    op != STORE_Q_ID && op != STORE_Q_LAST_UPDATED && op != STORE_Q_TYPE)
			return c;
	}
	return NULL;
}

/* "(a.k1, a.k2, ..., a.rowid)" */
static void driver_tuple(struct sql *q, const struct store_qclause *d, const char *a)
{
	sql_add(q, "(");
	for (size_t k = 0; k < 4 && driver_keys[d->table][k]; k++)
		sql_add(q, "%s.%s, ", a, driver_keys[d->table][k]);
	sql_add(q, "%s.rowid)", a);
}

/* The page query driven by d (the other clauses filter r). */
static void driver_query(struct ctx *x, const struct store_query *qq,
			 const struct store_qclause *d, const struct cursor *cur, int count)
{
	struct sql *q = &x->sql;
	const char *t = sqlite_ix_table[d->table];

	sql_add(q, "SELECT " HIT_COLUMNS);
	for (size_t k = 0; k < 4 && driver_keys[d->table][k]; k++)
		sql_add(q, ", d.%s", driver_keys[d->table][k]);
	sql_add(q, ", d.rowid FROM %s d JOIN resource r ON r.rid=d.rid"
		" JOIN resource_version v ON v.seq=r.seq WHERE d.tenant=", t);
	bind_int(q, x->tenant);
	sql_add(q, " AND d.param=");
	bind_int(q, d->param);
	sql_add(q, " AND ");
	x->col = "d.";
	values_or(x, d);
	sql_add(q, " AND NOT EXISTS (SELECT 1 FROM %s e WHERE e.rid=d.rid AND e.param=d.param AND ", t);
	x->col = "e.";
	values_or(x, d);
	x->col = "";
	sql_add(q, " AND ");
	driver_tuple(q, d, "e");
	sql_add(q, "<");
	driver_tuple(q, d, "d");
	sql_add(q, ") AND r.tenant=");
	bind_int(q, x->tenant);
	sql_add(q, " AND r.type=");
	bind_text(q, qq->type, strlen(qq->type));
	sql_add(q, " AND r.deleted=0");
	for (size_t i = 0; i < qq->n; i++) {
		if (&qq->c[i] == d)
			continue;
		sql_add(q, " AND ");
		clause_cond(x, &qq->c[i], "r");
	}
	if (cur) {
		sql_add(q, " AND ");
		driver_tuple(q, d, "d");
		sql_add(q, ">(");
		for (size_t k = 0; k < cur->n; k++) {
			bind_cursor_key(q, &cur->key[k]);
			sql_add(q, ", ");
		}
		bind_int(q, cur->rid);
		sql_add(q, ")");
	}
	sql_add(q, " ORDER BY ");
	for (size_t k = 0; k < 4 && driver_keys[d->table][k]; k++)
		sql_add(q, "d.%s, ", driver_keys[d->table][k]);
	sql_add(q, "d.rowid LIMIT ");
	bind_int(q, (int64_t)count + 1);
}

/* ---- running ----------------------------------------------------------- */

static int prepare(struct sqlite_conn *c, struct ctx *x, sqlite3_stmt **out, struct err *e)
{
	struct sql *q = &x->sql;
	int src;

	*out = NULL;
	if (q->failed)
		return err_set(e, ERR_TOO_LARGE, NULL, "the search is too large to run");
	/* Only placeholders: no value (no patient data) is in the text. */
	log_debug("search sql: %s", q->text.p);
	src = sqlite_stmt_get(c, q->text.p, q->text.n, out);
	if (src != SQLITE_OK)
		return sqlite_fail(sqlite_conn_db(c), src, e, "preparing a search");
	for (int i = 0; i < q->n; i++) {
		const struct bind *b = &q->b[i];

		switch (b->kind) {
		case BIND_INT:
			sqlite3_bind_int64(*out, i + 1, b->i);
			break;
		case BIND_REAL:
			sqlite3_bind_double(*out, i + 1, b->d);
			break;
		case BIND_TEXT:
			sqlite3_bind_text(*out, i + 1, b->p, (int)b->n, SQLITE_STATIC);
			break;
		default:
			sqlite3_bind_null(*out, i + 1);
		}
	}
	return 0;
}

static void ctx_reset(struct ctx *x)
{
	sql_release(&x->sql);
	sql_init(&x->sql);
}

/* A set of rids already sent (matches and includes). */
struct rid_set {
	int64_t *slot;
	size_t cap, n;
};

static int rid_set_add(struct rid_set *s, int64_t rid)
{
	size_t i;

	if (2 * (s->n + 1) > s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 256;
		int64_t *slot = calloc(cap, sizeof(*slot));

		if (!slot)
			return -1;
		for (size_t k = 0; k < s->cap; k++) {
			if (!s->slot[k])
				continue;
			for (i = (size_t)s->slot[k] * 0x9E3779B97F4A7C15ull & (cap - 1); slot[i];
			     i = (i + 1) & (cap - 1))
				;
			slot[i] = s->slot[k];
		}
		free(s->slot);
		s->slot = slot;
		s->cap = cap;
	}
	for (i = (size_t)rid * 0x9E3779B97F4A7C15ull & (s->cap - 1); s->slot[i];
	     i = (i + 1) & (s->cap - 1))
		if (s->slot[i] == rid)
			return 0;
	s->slot[i] = rid;
	s->n++;
	return 1;
}


/* Sends the row of a HIT_COLUMNS statement to fn. */
static int emit(sqlite3_stmt *s, int mode, struct store_version *v, store_row_fn fn, void *arg,
		struct err *e)
{
	int rc;

	snprintf(v->type, sizeof(v->type), "%s", (const char *)sqlite3_column_text(s, 1));
	snprintf(v->id, sizeof(v->id), "%s", (const char *)sqlite3_column_text(s, 2));
	rc = sqlite_row_to_version(s, 3, v);
	if (rc)
		return err_set(e, rc, NULL, "cannot hold a search result");
	v->search_mode = mode;
	return fn(arg, v);
}

/* The rids page[0..n), bound: "?,?,...". Plain '?' takes the next number,
 * as ?N would here; but SQLite looks each ?N up in a list while compiling
 * the statement, which over a page of 1,000 rids took 1.5 ms. */
static void bind_rids(struct sql *q, const int64_t *page, size_t n)
{
	q->anon = 1;
	for (size_t i = 0; i < n; i++) {
		sql_add(q, i ? "," : "");
		bind_int(q, page[i]);
	}
	q->anon = 0;
}

/* The statement of one include over page[0..n). */
static void include_sql(struct ctx *x, const struct store_qinclude *inc, const int64_t *page,
			size_t n)
{
	struct sql *q = &x->sql;

	if (inc->param == STORE_PARAM_EACH) {
		/* Whatever the page refers to. The distinct targets are gathered
		 * first and each is looked up and read once: a page of 1,000
		 * refers to a few dozen Practitioners thousands of times, and
		 * DISTINCT over the hit columns would compare the JSON of every
		 * reference. '+' makes the page's rids drive (ix_reference_rid),
		 * not the tenant's local references (ix_reference_url); CROSS
		 * JOIN keeps the targets the outer loop (for a small page SQLite
		 * otherwise read every resource of the tenant and probed the
		 * targets). The filter's types prune the references first. */
		sql_add(q, "SELECT " HIT_COLUMNS " FROM resource r JOIN resource_version v ON v.seq=r.seq"
			" WHERE r.rid IN (SELECT t.rid FROM (SELECT DISTINCT x.type, x.id FROM ix_reference x"
			" WHERE +x.url='' AND +x.tenant=");
		bind_int(q, x->tenant);
		for (size_t i = 0; inc->filter && i < inc->filter->n; i++)
			if (inc->filter->c[i].n && inc->filter->c[i].v[0].op == STORE_Q_TYPE &&
			    !inc->filter->c[i].negate) {
				sql_add(q, " AND ");
				clause_cond(x, &inc->filter->c[i], "x");
			}
		if (inc->target_type) {
			sql_add(q, " AND x.type=");
			bind_text(q, inc->target_type, strlen(inc->target_type));
		}
		sql_add(q, " AND x.rid IN (");
		bind_rids(q, page, n);
		sql_add(q, ")) d CROSS JOIN resource t ON t.tenant=");
		bind_int(q, x->tenant);
		sql_add(q, " AND t.type=d.type AND t.id=d.id) AND ");
		if (inc->filter)
			where_query(x, inc->filter, "r");
		else
			sql_add(q, "r.deleted=0");
		return;
	}
	/* include: the targets of the page's references; revinclude: the
	 * resources whose references point at the page (p). */
	if (!inc->rev)
		sql_add(q, "SELECT DISTINCT " HIT_COLUMNS " FROM ix_reference x"
			" JOIN resource r ON r.tenant=x.tenant AND r.type=x.type AND r.id=x.id"
			" JOIN resource_version v ON v.seq=r.seq WHERE r.deleted=0");
	else
		sql_add(q, "SELECT DISTINCT " HIT_COLUMNS " FROM ix_reference x"
			" JOIN resource r ON r.rid=x.rid JOIN resource_version v ON v.seq=r.seq"
			" JOIN resource p ON p.tenant=x.tenant AND p.type=x.type AND p.id=x.id"
			" WHERE 1");
	sql_add(q, " AND x.url='' AND x.tenant=");
	bind_int(q, x->tenant);
	sql_add(q, " AND x.param=");
	bind_int(q, inc->param);
	if (inc->filter) {
		sql_add(q, " AND ");
		where_query(x, inc->filter, "r");
	}
	if (inc->target_type) {
		sql_add(q, " AND x.type=");
		bind_text(q, inc->target_type, strlen(inc->target_type));
	}
	sql_add(q, " AND %s.rid IN (", inc->rev ? "p" : "x");
	bind_rids(q, page, n);
	sql_add(q, ")");
}

/* Runs the includes of s over the rids in page[0..n); newly included rids
 * are appended to page (for :iterate). */
static int run_includes(struct sqlite_conn *c, struct ctx *x, struct store_search *s, int64_t **page,
			size_t *n, size_t *cap, struct rid_set *seen, struct store_version *v,
			store_row_fn fn, void *arg, struct err *e)
{
	size_t from = 0;
	int rc = 0;

	for (int round = 0; round < SEARCH_MAX_ITERATE && !rc && from < *n; round++) {
		size_t to = *n;

		for (size_t k = 0; k < s->n_inc && !rc; k++) {
			const struct store_qinclude *inc = &s->inc[k];
			sqlite3_stmt *st = NULL;
			int src;

			if (round > 0 && !inc->iterate)
				continue;
			ctx_reset(x);
			include_sql(x, inc, *page + from, to - from);
			if ((rc = prepare(c, x, &st, e)))
				break;
			while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
				int64_t rid = sqlite3_column_int64(st, 0);
				int fresh = rid_set_add(seen, rid);

				if (fresh < 0) {
					rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
					break;
				}
				if (!fresh)
					continue;
				if (seen->n > STORE_SEARCH_MAX_RESULTS) {
					rc = err_set(e, ERR_TOO_LARGE, "_include",
						     "the page would include more than %d resources;"
						     " ask for a smaller _count", STORE_SEARCH_MAX_RESULTS);
					break;
				}
				if (*n == *cap) {
					size_t nc = *cap ? 2 * *cap : 64;
					int64_t *np = realloc(*page, nc * sizeof(*np));

					if (!np) {
						rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
						break;
					}
					*page = np;
					*cap = nc;
				}
				(*page)[(*n)++] = rid;
				rc = emit(st, STORE_HIT_INCLUDE, v, fn, arg, e);
			}
			if (!rc && src != SQLITE_DONE)
				rc = sqlite_fail(sqlite_conn_db(c), src, e, "reading included resources");
			sqlite_stmt_done(c, st);
		}
		from = to;
	}
	return rc;
}

int sqlite_search(void *conn, struct store_search *s, store_row_fn fn, void *arg,
		  struct err *e)
{
	struct sqlite_conn *sc = conn;
	sqlite3 *db = sqlite_conn_db(sc);
	const struct store_query *qq = s->q;
	struct cursor cur = { 0 };
	struct rid_set seen = { 0 };
	struct store_version v;
	struct ctx x;
	sqlite3_stmt *st = NULL;
	int64_t *page = NULL;
	const struct store_qclause *driver;
	size_t n_page = 0, cap_page = 0, nkeys;
	int rc = 0, src, got = 0, in_txn = 0;

	memset(&x, 0, sizeof(x));
	sql_init(&x.sql);
	arena_init(&x.keep, SQL_MAX_BYTES);
	x.tenant = qq->tenant;
	x.col = "";
	store_version_init(&v);
	s->total_n = -1;
	s->next_cursor[0] = '\0';
	driver = pick_driver(qq);
	nkeys = driver ? driver_nkeys(driver) - 1 : qq->n_sort;	/* the last is the cursor's "rid" */
	if (s->cursor && (rc = cursor_parse(s->cursor, nkeys, &cur, e)))
		goto out;
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK)
		in_txn = 1;

	if (s->total == STORE_TOTAL_ACCURATE || s->count == 0) {
		const struct store_qclause *c = qq->n == 1 ? &qq->c[0] : NULL;

		if (c && qq->type && c->own_type && !c->negate && c->table < STORE_IX__COUNT &&
		    c->param != STORE_PARAM_EACH && c->n && !c->v[0].sub &&
		    c->v[0].op != STORE_Q_HAS) {
			/* One clause on the type's own parameter: its index rows are
			 * the live current resources of that type and tenant, so the
			 * count is read from the index alone, once per resource. */
			sql_add(&x.sql, "SELECT count(*) FROM (SELECT rid FROM %s WHERE tenant=",
				sqlite_ix_table[c->table]);
			bind_int(&x.sql, x.tenant);
			sql_add(&x.sql, " AND param=");
			bind_int(&x.sql, c->param);
			sql_add(&x.sql, " AND ");
			values_or(&x, c);
			sql_add(&x.sql, " GROUP BY rid)");
		} else {
			sql_add(&x.sql, "SELECT count(*) FROM resource r WHERE ");
			where_query(&x, qq, "r");
		}
		if ((rc = prepare(sc, &x, &st, e)))
			goto out;
		src = sqlite3_step(st);
		if (src == SQLITE_ROW)
			s->total_n = sqlite3_column_int64(st, 0);
		else
			rc = sqlite_fail(db, src, e, "counting search results");
		sqlite_stmt_done(sc, st);
		st = NULL;
		if (rc)
			goto out;
		ctx_reset(&x);
	}
	if (s->count <= 0)
		goto out;

	if (driver) {
		driver_query(&x, qq, driver, s->cursor ? &cur : NULL, s->count);
	} else {
		sql_add(&x.sql, "SELECT " HIT_COLUMNS);
		for (size_t i = 0; i < qq->n_sort; i++) {
			sql_add(&x.sql, ", ");
			sort_expr(&x, &qq->sort[i]);
		}
		sql_add(&x.sql, ", r.rid FROM resource r JOIN resource_version v ON v.seq=r.seq WHERE ");
		if (s->cursor && !qq->n_sort)
			x.after_rid = cur.rid;
		where_query(&x, qq, "r");
		x.after_rid = 0;
		if (s->cursor)
			after_cursor(&x, qq, &cur);
		sql_add(&x.sql, " ORDER BY ");
		for (size_t i = 0; i < qq->n_sort; i++) {
			sort_expr(&x, &qq->sort[i]);
			sql_add(&x.sql, " IS NULL, ");
			sort_expr(&x, &qq->sort[i]);
			sql_add(&x.sql, "%s, ", qq->sort[i].desc ? " DESC" : "");
		}
		sql_add(&x.sql, "r.rid LIMIT ");
		bind_int(&x.sql, (int64_t)s->count + 1);
	}
	if ((rc = prepare(sc, &x, &st, e)))
		goto out;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t rid = sqlite3_column_int64(st, 0);

		if (got == s->count) {	/* one more row exists: there is a next page */
			break;
		}
		got++;
		if (rid_set_add(&seen, rid) < 0) {
			rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
			break;
		}
		if (n_page == cap_page) {
			size_t nc = cap_page ? 2 * cap_page : 64;
			int64_t *np = realloc(page, nc * sizeof(*np));

			if (!np) {
				rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
				break;
			}
			page = np;
			cap_page = nc;
		}
		page[n_page++] = rid;
		if ((rc = emit(st, STORE_HIT_MATCH, &v, fn, arg, e)))
			break;
		if (got == s->count)	/* keys after the hit columns, then the last: rid or rowid */
			cursor_format(st, 9, nkeys, sqlite3_column_int64(st, 9 + (int)nkeys),
				      s->next_cursor, sizeof(s->next_cursor));
	}
	if (!rc && src != SQLITE_ROW) {
		if (src != SQLITE_DONE)
			rc = sqlite_fail(db, src, e, "reading search results");
		s->next_cursor[0] = '\0';	/* no row after the page */
	}
	sqlite_stmt_done(sc, st);
	st = NULL;
	if (!rc && s->n_inc && n_page)
		rc = run_includes(sc, &x, s, &page, &n_page, &cap_page, &seen, &v, fn, arg, e);
out:
	if (in_txn)
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	cursor_release(&cur);
	free(page);
	free(seen.slot);
	store_version_release(&v);
	sql_release(&x.sql);
	arena_release(&x.keep);
	return rc;
}
