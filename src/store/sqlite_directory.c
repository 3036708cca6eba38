/*
 * sqlite_directory.c — tenants and principals (store.h). Reads use a pooled
 * reader connection; each write is one short transaction on a connection
 * of its own (these rows change rarely: an administrator's command, or a
 * login's counters), so they never wait in the writer's queue.
 */
#include "sqlite_int.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "../base/time.h"

static const char *text(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	return t ? (const char *)t : "";
}

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src);
}

int sqlite_dir_write(void *backend, const char *const *sql, size_t n, sqlite_bind_fn bind,
		     const void *arg, int64_t *rowid, int *changes, struct err *e)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int src, rc = 0, began = 0;

	src = sqlite3_open_v2(sqlite_backend_path(backend), &db, SQLITE_OPEN_READWRITE, NULL);
	if (src != SQLITE_OK) {
		rc = sqlite_fail(db, src, e, "opening a connection");
		goto out;
	}
	sqlite3_busy_timeout(db, 10000);
	if (n > 1 && (src = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK) {
		rc = sqlite_fail(db, src, e, "beginning a directory write");
		goto out;
	}
	began = n > 1;
	for (size_t i = 0; i < n; i++) {
		src = sqlite3_prepare_v2(db, sql[i], -1, &s, NULL);
		if (src != SQLITE_OK) {
			rc = sqlite_fail(db, src, e, "preparing a directory write");
			goto out;
		}
		bind(s, arg);
		src = sqlite3_step(s);
		if (src == SQLITE_CONSTRAINT || (src & 0xff) == SQLITE_CONSTRAINT) {
			rc = err_set(e, ERR_DUPLICATE, NULL, "it exists already");
			goto out;
		}
		if (src != SQLITE_DONE) {
			rc = sqlite_fail(db, src, e, "writing the directory");
			goto out;
		}
		sqlite3_finalize(s);
		s = NULL;
		if (rowid)
			*rowid = sqlite3_last_insert_rowid(db);
		if (changes && !i)
			*changes = sqlite3_changes(db);
	}
	if (began && (src = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
		rc = sqlite_fail(db, src, e, "committing a directory write");
	else
		began = 0;
out:
	sqlite3_finalize(s);
	if (began)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

/* Runs one write statement in its own transaction. */
static int write_one(void *backend, const char *sql, sqlite_bind_fn bind, const void *arg,
		     int64_t *rowid, int *changes, struct err *e)
{
	return sqlite_dir_write(backend, &sql, 1, bind, arg, rowid, changes, e);
}

static void bind_tenant(sqlite3_stmt *s, const void *arg)
{
	const struct store_tenant *t = arg;

	sqlite3_bind_text(s, 1, t->code, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, t->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, t->created_ms);
}

int sqlite_tenant_add(void *backend, struct store_tenant *t, struct err *e)
{
	int rc;

	t->created_ms = time_now_ms();
	rc = write_one(backend, "INSERT INTO tenant (code, name, created) VALUES (?1, ?2, ?3)",
		       bind_tenant, t, &t->id, NULL, e);
	if (rc == ERR_DUPLICATE) {
		err_clear(e);
		return err_set(e, ERR_DUPLICATE, NULL, "a tenant with code %s exists already",
			       t->code);
	}
	return rc;
}

/* Runs a query of the directory (?1 bound to i, ?2 and ?3 to the
 * strings), one call of row per row. */
static int query(void *conn, const char *sql, int64_t i, const char *str, const char *str2,
		 int (*row)(sqlite3_stmt *s, void *ctx), void *ctx, struct err *e)
{
	sqlite3 *db = sqlite_conn_db(conn);
	sqlite3_stmt *s = NULL;
	int src, rc = 0;

	src = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (src != SQLITE_OK)
		return sqlite_fail(db, src, e, "preparing a directory query");
	sqlite3_bind_int64(s, 1, i);
	sqlite3_bind_text(s, 2, str, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, str2, -1, SQLITE_STATIC);
	while (!rc && (src = sqlite3_step(s)) == SQLITE_ROW)
		rc = row(s, ctx);
	if (!rc && src != SQLITE_DONE)
		rc = sqlite_fail(db, src, e, "reading the directory");
	sqlite3_finalize(s);
	return rc;
}

int sqlite_dir_query(void *conn, const char *sql, int64_t i, const char *str, const char *str2,
		     int (*row)(sqlite3_stmt *s, void *ctx), void *ctx, struct err *e)
{
	return query(conn, sql, i, str, str2, row, ctx, e);
}

#define TENANT_COLS "SELECT id, code, name, created FROM tenant"

static void tenant_from(sqlite3_stmt *s, struct store_tenant *t)
{
	t->id = sqlite3_column_int64(s, 0);
	copy(t->code, sizeof(t->code), text(s, 1));
	copy(t->name, sizeof(t->name), text(s, 2));
	t->created_ms = sqlite3_column_int64(s, 3);
}

struct one {
	void *out;
	int found;
};

static int tenant_one(sqlite3_stmt *s, void *ctx)
{
	struct one *o = ctx;

	tenant_from(s, o->out);
	o->found = 1;
	return 0;
}

int sqlite_tenant_get(void *conn, const char *code, int64_t id, struct store_tenant *out,
		      struct err *e)
{
	struct one o = { out, 0 };
	int rc = code ? query(conn, TENANT_COLS " WHERE code=?2", 0, code, NULL, tenant_one, &o, e)
		      : query(conn, TENANT_COLS " WHERE id=?1", id, NULL, NULL, tenant_one, &o, e);

	if (!rc && !o.found)
		rc = code ? err_set(e, ERR_NOT_FOUND, NULL, "no tenant with code %.32s", code)
			  : err_set(e, ERR_NOT_FOUND, NULL, "no tenant %lld", (long long)id);
	return rc;
}

struct tenant_walk {
	store_tenant_fn fn;
	void *ctx;
};

static int tenant_each(sqlite3_stmt *s, void *ctx)
{
	struct tenant_walk *w = ctx;
	struct store_tenant t;

	tenant_from(s, &t);
	return w->fn(w->ctx, &t);
}

int sqlite_tenants(void *conn, store_tenant_fn fn, void *ctx, struct err *e)
{
	struct tenant_walk w = { fn, ctx };

	return query(conn, TENANT_COLS " ORDER BY id", 0, NULL, NULL, tenant_each, &w, e);
}

#define PRINCIPAL_COLS                                                                      \
	"SELECT id, tenant, kind, name, secret, totp, totp_step, roles, scopes, patient,"   \
	" failures, locked_until, last_used, created, disabled, redirect_uris, public FROM principal"

static void principal_from(sqlite3_stmt *s, struct store_principal *p)
{
	p->id = sqlite3_column_int64(s, 0);
	p->tenant = sqlite3_column_int64(s, 1);
	copy(p->kind, sizeof(p->kind), text(s, 2));
	copy(p->name, sizeof(p->name), text(s, 3));
	copy(p->secret, sizeof(p->secret), text(s, 4));
	copy(p->totp, sizeof(p->totp), text(s, 5));
	p->totp_step = sqlite3_column_int64(s, 6);
	copy(p->roles, sizeof(p->roles), text(s, 7));
	copy(p->scopes, sizeof(p->scopes), text(s, 8));
	copy(p->patient, sizeof(p->patient), text(s, 9));
	p->failures = sqlite3_column_int(s, 10);
	p->locked_until_ms = sqlite3_column_int64(s, 11);
	p->last_used_ms = sqlite3_column_int64(s, 12);
	p->created_ms = sqlite3_column_int64(s, 13);
	p->disabled = sqlite3_column_int(s, 14);
	copy(p->redirect_uris, sizeof(p->redirect_uris), text(s, 15));
	p->is_public = sqlite3_column_int(s, 16);
}

static void bind_principal(sqlite3_stmt *s, const void *arg)
{
	const struct store_principal *p = arg;

	sqlite3_bind_int64(s, 1, p->tenant);
	sqlite3_bind_text(s, 2, p->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, p->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, p->secret, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, p->totp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, p->totp_step);
	sqlite3_bind_text(s, 7, p->roles, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, p->scopes, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 9, p->patient, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 10, p->failures);
	sqlite3_bind_int64(s, 11, p->locked_until_ms);
	sqlite3_bind_int64(s, 12, p->last_used_ms);
	sqlite3_bind_int64(s, 13, p->created_ms);
	sqlite3_bind_int(s, 14, p->disabled);
	if (p->id)
		sqlite3_bind_int64(s, 15, p->id);
	sqlite3_bind_text(s, 16, p->redirect_uris, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 17, p->is_public);
}

int sqlite_principal_put(void *backend, struct store_principal *p, struct err *e)
{
	int changes = 0, rc;

	if (!p->id) {
		if (!p->created_ms)
			p->created_ms = time_now_ms();
		rc = write_one(backend,
			       "INSERT INTO principal (tenant, kind, name, secret, totp, totp_step,"
			       " roles, scopes, patient, failures, locked_until, last_used, created,"
			       " disabled, redirect_uris, public)"
			       " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?16,?17)",
			       bind_principal, p, &p->id, NULL, e);
		if (rc == ERR_DUPLICATE) {
			err_clear(e);
			return err_set(e, ERR_DUPLICATE, NULL, "a %s named %.64s exists already",
				       p->kind, p->name);
		}
		return rc;
	}
	rc = write_one(backend,
		       "UPDATE principal SET tenant=?1, kind=?2, name=?3, secret=?4, totp=?5,"
		       " totp_step=?6, roles=?7, scopes=?8, patient=?9, failures=?10,"
		       " locked_until=?11, last_used=?12, created=?13, disabled=?14,"
		       " redirect_uris=?16, public=?17 WHERE id=?15",
		       bind_principal, p, NULL, &changes, e);
	if (!rc && !changes)
		rc = err_set(e, ERR_NOT_FOUND, NULL, "no %s named %.64s", p->kind, p->name);
	return rc;
}

static int principal_one(sqlite3_stmt *s, void *ctx)
{
	struct one *o = ctx;

	principal_from(s, o->out);
	o->found = 1;
	return 0;
}

int sqlite_principal_get(void *conn, const char *kind, const char *name,
			 struct store_principal *out, struct err *e)
{
	struct one o = { out, 0 };
	int rc = query(conn, PRINCIPAL_COLS " WHERE kind=?3 AND name=?2", 0, name, kind,
		       principal_one, &o, e);

	if (!rc && !o.found)
		rc = err_set(e, ERR_NOT_FOUND, NULL, "no such %s", kind);
	return rc;
}

struct principal_walk {
	store_principal_fn fn;
	void *ctx;
};

static int principal_each(sqlite3_stmt *s, void *ctx)
{
	struct principal_walk *w = ctx;
	struct store_principal p;

	principal_from(s, &p);
	return w->fn(w->ctx, &p);
}

int sqlite_principals(void *conn, int64_t tenant, store_principal_fn fn, void *ctx,
		      struct err *e)
{
	struct principal_walk w = { fn, ctx };

	return query(conn, PRINCIPAL_COLS " WHERE ?1=0 OR tenant=?1 ORDER BY kind, name", tenant,
		     NULL, NULL, principal_each, &w, e);
}

struct login {
	int64_t id, now_ms, lock_ms, totp_step;
	int ok, max_failures;
};

static void bind_login(sqlite3_stmt *s, const void *arg)
{
	const struct login *l = arg;

	sqlite3_bind_int64(s, 1, l->id);
	sqlite3_bind_int(s, 2, l->ok);
	sqlite3_bind_int64(s, 3, l->now_ms);
	sqlite3_bind_int(s, 4, l->max_failures);
	sqlite3_bind_int64(s, 5, l->lock_ms);
	sqlite3_bind_int64(s, 6, l->totp_step);
}

int sqlite_principal_login(void *backend, int64_t id, int ok, int64_t now_ms, int max_failures,
			   int64_t lock_ms, int64_t totp_step, struct err *e)
{
	struct login l = { id, now_ms, lock_ms, totp_step, ok, max_failures };

	return write_one(backend,
			 "UPDATE principal SET"
			 " locked_until = CASE WHEN ?2 THEN locked_until"
			 "  WHEN failures + 1 >= ?4 THEN ?3 + ?5 ELSE locked_until END,"
			 " failures = CASE WHEN ?2 THEN 0 ELSE failures + 1 END,"
			 " last_used = CASE WHEN ?2 THEN ?3 ELSE last_used END,"
			 " totp_step = CASE WHEN ?2 AND ?6 > totp_step THEN ?6 ELSE totp_step END"
			 " WHERE id=?1",
			 bind_login, &l, NULL, NULL, e);
}

/* ---- clients' keys and assertion jtis (store.h, decision 0020) -------------- */

/* Tables of their own beside the principal table, so that the directory's
 * rows stay as they are; created with the schema (sqlite.c). */
const char sqlite_schema_client_keys[] =
	"CREATE TABLE IF NOT EXISTS client_key ("
	" principal INTEGER PRIMARY KEY,"	/* principal.id of a client */
	" jwks TEXT NOT NULL,"			/* as the client published it */
	" updated_ms INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS client_jti ("
	" principal INTEGER NOT NULL,"
	" jti TEXT NOT NULL,"
	" exp_ms INTEGER NOT NULL,"		/* kept until then: a replay is refused */
	" PRIMARY KEY (principal, jti)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS client_jti_exp ON client_jti(exp_ms);";

struct client_row {
	int64_t principal, ms, exp_ms;
	const char *text;
	int cap;
};

static void bind_client_row(sqlite3_stmt *s, const void *arg)
{
	const struct client_row *r = arg;

	sqlite3_bind_int64(s, 1, r->principal);
	sqlite3_bind_text(s, 2, r->text, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, r->ms);
	sqlite3_bind_int64(s, 4, r->exp_ms);
	sqlite3_bind_int(s, 5, r->cap);
}

int sqlite_client_jwks_put(void *backend, int64_t principal, const char *jwks, int64_t now_ms,
			   struct err *e)
{
	struct client_row r = { principal, now_ms, 0, jwks, 0 };
	int changes = 0;
	int rc = write_one(backend,
			   "INSERT INTO client_key (principal, jwks, updated_ms) SELECT ?1, ?2, ?3"
			   " WHERE EXISTS (SELECT 1 FROM principal WHERE id=?1 AND kind='client')"
			   " ON CONFLICT (principal) DO UPDATE SET jwks=excluded.jwks,"
			   " updated_ms=excluded.updated_ms",
			   bind_client_row, &r, NULL, &changes, e);

	if (!rc && !changes)
		rc = err_set(e, ERR_NOT_FOUND, NULL, "no client %lld", (long long)principal);
	return rc;
}

struct jwks_out {
	struct buf *out;
	int64_t *updated_ms;
	int found, rc;
};

static int jwks_row(sqlite3_stmt *s, void *ctx)
{
	struct jwks_out *o = ctx;

	o->found = 1;
	o->rc = buf_append(o->out, sqlite3_column_text(s, 0), (size_t)sqlite3_column_bytes(s, 0));
	if (o->updated_ms)
		*o->updated_ms = sqlite3_column_int64(s, 1);
	return o->rc;
}

int sqlite_client_jwks_get(void *conn, int64_t principal, struct buf *out, int64_t *updated_ms,
			   struct err *e)
{
	struct jwks_out o = { out, updated_ms, 0, 0 };
	int rc = query(conn, "SELECT jwks, updated_ms FROM client_key WHERE principal=?1", principal,
		       NULL, NULL, jwks_row, &o, e);

	if (rc && o.rc)
		return err_set(e, o.rc, NULL, "the client's JWKS does not fit");
	if (!rc && !o.found)
		rc = err_set(e, ERR_NOT_FOUND, NULL, "client %lld has no JWKS", (long long)principal);
	return rc;
}

int sqlite_client_jti_use(void *backend, int64_t principal, const char *jti, int64_t exp_ms,
			  int64_t now_ms, struct err *e)
{
	struct client_row r = { principal, now_ms, exp_ms, jti, STORE_CLIENT_JTI_MAX };
	int changes = 0, rc;

	/* Its own statement: an expired jti may be used again (RFC 7523 §3 asks
	 * for uniqueness while the assertion is valid), and the table stays as
	 * small as the assertions alive. Nothing to delete writes nothing. */
	rc = write_one(backend, "DELETE FROM client_jti WHERE exp_ms <= ?3", bind_client_row, &r,
		       NULL, NULL, e);
	if (!rc)
		rc = write_one(backend,
			       "INSERT INTO client_jti (principal, jti, exp_ms) SELECT ?1, ?2, ?4"
			       " WHERE (SELECT count(*) FROM client_jti WHERE principal=?1) < ?5",
			       bind_client_row, &r, NULL, &changes, e);
	if (rc == ERR_DUPLICATE) {
		err_clear(e);
		return err_set(e, ERR_DUPLICATE, NULL, "this jti was used already");
	}
	if (!rc && !changes)
		rc = err_set(e, ERR_TOO_MANY, NULL, "more than %d assertions alive for one client",
			     STORE_CLIENT_JTI_MAX);
	return rc;
}
