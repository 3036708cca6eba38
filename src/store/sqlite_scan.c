/*
 * sqlite_scan.c — bulk scans for $export: the live resources of a tenant in
 * rid order, one page per call, as they were at an instant.
 *
 * A page is one statement over the resource table by rowid (rid > after,
 * LIMIT n) joined to the current version's bytes, so consecutive pages read
 * the versions in about the order they were written. The other conditions
 * are written with a unary + so that SQLite never trades the rowid range for
 * an index on type or last_updated (which would sort every match of the type
 * for each page). A resource changed after as_of_ms is the rare case: its
 * version at as_of_ms comes from resource_version with one more seek.
 */
#include "sqlite_int.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Bound parameters; the types of the IN list follow from SCAN_ARG_TYPES. */
enum {
	SCAN_ARG_AFTER = 1,
	SCAN_ARG_TENANT,
	SCAN_ARG_AS_OF,
	SCAN_ARG_SINCE,
	SCAN_ARG_COMP_TYPE,
	SCAN_ARG_COMP_IDS,
	SCAN_ARG_LIMIT,
	SCAN_ARG_TYPES
};

#define SCAN_MAX_TYPES 512		/* more than the 146 of R4: a caller's mistake */
#define SCAN_MAX_PARAMS 4096
#define SCAN_SQL_LIMIT (256u * 1024)

static const char *const scan_as_of_sql =
	"SELECT json, last_updated, deleted FROM resource_version"
	" WHERE tenant=?1 AND type=?2 AND id=?3 AND last_updated<=?4 ORDER BY version DESC LIMIT 1";

/* The page's SQL; values are bound, only our own parameter keys are
 * written into the text. */
static int scan_sql(const struct store_scan *s, struct buf *sql)
{
	const char *ids = s->comp_ids_json ? " IN (SELECT value FROM json_each(?6))" : NULL;
	int rc = buf_puts(sql, "SELECT r.rid, r.type, r.id, r.last_updated, v.json"
			       " FROM resource r JOIN resource_version v ON v.seq = r.seq"
			       " WHERE r.rid > ?1 AND +r.tenant = ?2"
			       " AND (+r.deleted = 0 OR +r.last_updated > ?3)");

	if (!rc && s->since_ms != INT64_MIN)
		rc = buf_puts(sql, " AND +r.last_updated > ?4");
	if (!rc && s->types) {
		rc = buf_puts(sql, " AND +r.type IN (");
		for (size_t i = 0; !rc && i < s->n_types; i++)
			rc = buf_printf(sql, "%s?%zu", i ? "," : "", SCAN_ARG_TYPES + i);
		if (!rc)
			rc = buf_putc(sql, ')');
	}
	if (!rc && s->comp_type) {
		rc = buf_printf(sql, " AND ((+r.type = ?5%s%s)", ids ? " AND r.id" : "", ids ? ids : "");
		if (!rc && s->n_params) {
			/* +x.param: seek the resource's rows (a few) once, not
			 * once per parameter of the list. */
			rc = buf_puts(sql, " OR EXISTS (SELECT 1 FROM ix_reference x WHERE x.rid = r.rid"
					   " AND +x.param IN (");
			for (size_t i = 0; !rc && i < s->n_params; i++)
				rc = buf_printf(sql, "%s%u", i ? "," : "", s->params[i]);
			if (!rc)
				rc = buf_printf(sql, ") AND x.type = ?5%s%s)", ids ? " AND x.id" : "",
						ids ? ids : "");
		}
		if (!rc)
			rc = buf_putc(sql, ')');
	}
	if (!rc)
		rc = buf_puts(sql, " ORDER BY r.rid LIMIT ?7");
	return rc;
}

/* The version of row r that was current at as_of: 1 and *row filled when it
 * existed and was live then, 0 when not. */
static int scan_as_of(sqlite3 *db, sqlite3_stmt **stmt, const struct store_scan *s,
		      struct store_scan_row *row, struct err *e)
{
	sqlite3_stmt *q = *stmt;
	int src, found = 0;

	if (!q && (src = sqlite3_prepare_v2(db, scan_as_of_sql, -1, stmt, NULL)) != SQLITE_OK)
		return -sqlite_fail(db, src, e, "preparing a scan");
	q = *stmt;
	sqlite3_bind_int64(q, 1, s->tenant);
	sqlite3_bind_text(q, 2, row->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, row->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, s->as_of_ms);
	src = sqlite3_step(q);
	if (src == SQLITE_ROW && !sqlite3_column_int(q, 2) && sqlite3_column_bytes(q, 0) > 0) {
		row->last_updated_ms = sqlite3_column_int64(q, 1);
		row->json.p = sqlite3_column_blob(q, 0);
		row->json.n = (size_t)sqlite3_column_bytes(q, 0);
		found = row->last_updated_ms > s->since_ms;
	} else if (src != SQLITE_ROW && src != SQLITE_DONE)
		return -sqlite_fail(db, src, e, "reading a resource's history in a scan");
	return found;
}

static int scan_max_rid(sqlite3 *db, int64_t *out, struct err *e)
{
	sqlite3_stmt *q = NULL;
	int src = sqlite3_prepare_v2(db, "SELECT max(rid) FROM resource", -1, &q, NULL);

	if (src == SQLITE_OK && (src = sqlite3_step(q)) == SQLITE_ROW)
		*out = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return src == SQLITE_ROW ? 0 : sqlite_fail(db, src, e, "reading the highest rid");
}

int sqlite_scan(void *conn, struct store_scan *s, store_scan_fn fn, void *ctx, struct err *e)
{
	sqlite3 *db = sqlite_conn_db(conn);
	sqlite3_stmt *q = NULL, *as_of = NULL;
	struct buf sql;
	int rc, src, n = 0;

	if (s->n_types > SCAN_MAX_TYPES || s->n_params > SCAN_MAX_PARAMS || s->limit <= 0)
		return err_set(e, ERR_INTERNAL, NULL, "a scan of %zu types and %zu parameters",
			       s->n_types, s->n_params);
	buf_init(&sql, SCAN_SQL_LIMIT);
	s->last_rid = s->after_rid;
	s->done = 0;
	if ((rc = scan_max_rid(db, &s->max_rid, e)))
		goto out;
	if ((rc = scan_sql(s, &sql))) {
		err_set(e, rc, NULL, "cannot build the scan");
		goto out;
	}
	src = sqlite3_prepare_v2(db, sql.p, (int)sql.n, &q, NULL);
	if (src != SQLITE_OK) {
		rc = sqlite_fail(db, src, e, "preparing a scan");
		goto out;
	}
	sqlite3_bind_int64(q, SCAN_ARG_AFTER, s->after_rid);
	sqlite3_bind_int64(q, SCAN_ARG_TENANT, s->tenant);
	sqlite3_bind_int64(q, SCAN_ARG_AS_OF, s->as_of_ms);
	sqlite3_bind_int64(q, SCAN_ARG_SINCE, s->since_ms);
	if (s->comp_type)
		sqlite3_bind_text(q, SCAN_ARG_COMP_TYPE, s->comp_type, -1, SQLITE_STATIC);
	if (s->comp_ids_json)
		sqlite3_bind_text(q, SCAN_ARG_COMP_IDS, s->comp_ids_json, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, SCAN_ARG_LIMIT, s->limit);
	for (size_t i = 0; s->types && i < s->n_types; i++)
		sqlite3_bind_text(q, (int)(SCAN_ARG_TYPES + i), s->types[i], -1, SQLITE_STATIC);

	while ((src = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_scan_row row = {
			.rid = sqlite3_column_int64(q, 0),
			.type = (const char *)sqlite3_column_text(q, 1),
			.id = (const char *)sqlite3_column_text(q, 2),
			.last_updated_ms = sqlite3_column_int64(q, 3),
		};
		int live = 1;

		n++;
		s->last_rid = row.rid;
		if (row.last_updated_ms > s->as_of_ms) {
			live = scan_as_of(db, &as_of, s, &row, e);
			if (live < 0) {
				rc = -live;
				goto out;
			}
		} else {
			row.json.p = sqlite3_column_blob(q, 4);
			row.json.n = (size_t)sqlite3_column_bytes(q, 4);
		}
		if (live && row.json.n)
			rc = fn(ctx, &row);
		if (as_of)	/* row.json may point into it until now */
			sqlite3_reset(as_of);
		if (rc)
			goto out;
	}
	if (src != SQLITE_DONE) {
		rc = sqlite_fail(db, src, e, "scanning resources");
		goto out;
	}
	s->done = n < s->limit;
out:
	sqlite3_finalize(as_of);
	sqlite3_finalize(q);
	buf_release(&sql);
	return rc;
}
