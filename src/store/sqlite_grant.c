/*
 * sqlite_grant.c — OAuth grants (store.h, decision 0019): refresh tokens,
 * kept as their SHA-256 with what they grant, and the access tokens revoked
 * before they expire. Written through the directory's plumbing: each write
 * is one short transaction on a connection of its own.
 */
#include "sqlite_int.h"

#include <stdio.h>
#include <string.h>

/* parent is UNIQUE: a token has at most one successor, so of two uses of
 * one token exactly one can add it (the other is a reuse). */
const char sqlite_schema_grant[] =
	"CREATE TABLE IF NOT EXISTS oauth_grant ("
	" id INTEGER PRIMARY KEY,"
	" hash TEXT NOT NULL UNIQUE,"		/* SHA-256 of the refresh token, hex */
	" family TEXT NOT NULL,"
	" parent INTEGER UNIQUE,"		/* the token it replaced; NULL: the first */
	" tenant INTEGER NOT NULL,"
	" client_id TEXT NOT NULL,"
	" user_name TEXT NOT NULL,"
	" scope TEXT NOT NULL,"
	" patient TEXT NOT NULL,"
	" created INTEGER NOT NULL,"		/* ms since epoch, UTC */
	" expires INTEGER NOT NULL,"
	" revoked INTEGER NOT NULL,"		/* when; 0: not revoked */
	" jti TEXT NOT NULL,"			/* the access token issued with it */
	" jti_exp INTEGER NOT NULL);"		/* s since epoch */
	"CREATE INDEX IF NOT EXISTS oauth_grant_family ON oauth_grant(family);"
	"CREATE INDEX IF NOT EXISTS oauth_grant_expires ON oauth_grant(expires);"
	/* Access tokens revoked before their exp (s), kept until then. */
	"CREATE TABLE IF NOT EXISTS oauth_revoked (jti TEXT PRIMARY KEY, exp INTEGER NOT NULL)"
	" WITHOUT ROWID;";

static const char *text(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	return t ? (const char *)t : "";
}

static void bind_grant(sqlite3_stmt *s, const void *arg)
{
	const struct store_grant *g = arg;

	sqlite3_bind_text(s, 1, g->hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, g->family, -1, SQLITE_STATIC);
	if (g->parent)
		sqlite3_bind_int64(s, 3, g->parent);
	else
		sqlite3_bind_null(s, 3);
	sqlite3_bind_int64(s, 4, g->tenant);
	sqlite3_bind_text(s, 5, g->client, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, g->user, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, g->scope, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, g->patient, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 9, g->created_ms);
	sqlite3_bind_int64(s, 10, g->expires_ms);
	sqlite3_bind_text(s, 11, g->jti, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 12, g->jti_exp_s);
}

/* Nothing is added to a family that was revoked (a revocation racing a
 * use): the successor would outlive the revocation. */
int sqlite_grant_add(void *backend, struct store_grant *g, struct err *e)
{
	static const char *const sql =
		"INSERT INTO oauth_grant (hash, family, parent, tenant, client_id, user_name, scope,"
		" patient, created, expires, revoked, jti, jti_exp)"
		" SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, ?11, ?12"
		" WHERE NOT EXISTS (SELECT 1 FROM oauth_grant WHERE family=?2 AND revoked!=0)";
	int changes = 0, rc;

	rc = sqlite_dir_write(backend, &sql, 1, bind_grant, g, &g->id, &changes, e);
	if (rc == ERR_DUPLICATE || (!rc && !changes)) {
		err_clear(e);
		return err_set(e, ERR_CONFLICT, NULL, "the refresh token was used already");
	}
	return rc;
}

#define GRANT_COLS                                                                         \
	"SELECT id, hash, family, coalesce(parent, 0), tenant, client_id, user_name, scope,"  \
	" patient, created, expires, revoked, jti, jti_exp,"                                 \
	" EXISTS (SELECT 1 FROM oauth_grant c WHERE c.parent = g.id) FROM oauth_grant g"

static int grant_row(sqlite3_stmt *s, void *ctx)
{
	struct store_grant *g = ctx;

	g->id = sqlite3_column_int64(s, 0);
	snprintf(g->hash, sizeof(g->hash), "%s", text(s, 1));
	snprintf(g->family, sizeof(g->family), "%s", text(s, 2));
	g->parent = sqlite3_column_int64(s, 3);
	g->tenant = sqlite3_column_int64(s, 4);
	snprintf(g->client, sizeof(g->client), "%s", text(s, 5));
	snprintf(g->user, sizeof(g->user), "%s", text(s, 6));
	snprintf(g->scope, sizeof(g->scope), "%s", text(s, 7));
	snprintf(g->patient, sizeof(g->patient), "%s", text(s, 8));
	g->created_ms = sqlite3_column_int64(s, 9);
	g->expires_ms = sqlite3_column_int64(s, 10);
	g->revoked_ms = sqlite3_column_int64(s, 11);
	snprintf(g->jti, sizeof(g->jti), "%s", text(s, 12));
	g->jti_exp_s = sqlite3_column_int64(s, 13);
	g->spent = sqlite3_column_int(s, 14);
	return 0;
}

int sqlite_grant_get(void *conn, const char *hash, struct store_grant *out, struct err *e)
{
	int rc;

	out->id = 0;
	rc = sqlite_dir_query(conn, GRANT_COLS " WHERE hash=?2", 0, hash, NULL, grant_row, out, e);
	if (!rc && !out->id)
		rc = err_set(e, ERR_NOT_FOUND, NULL, "no such refresh token");
	return rc;
}

struct revoke {
	const char *family, *jti;
	int64_t now_ms, exp_s;
};

static void bind_revoke(sqlite3_stmt *s, const void *arg)
{
	const struct revoke *r = arg;

	sqlite3_bind_text(s, 1, r->family, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, r->now_ms);
	sqlite3_bind_int64(s, 3, r->now_ms / 1000);
	sqlite3_bind_text(s, 4, r->jti, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, r->exp_s);
}

/* The access tokens first, so that a revoked family never leaves a live
 * access token behind; both in one transaction. */
int sqlite_grant_revoke_family(void *backend, const char *family, int64_t now_ms, struct err *e)
{
	static const char *const sql[] = {
		"INSERT INTO oauth_revoked (jti, exp) SELECT jti, max(jti_exp) FROM oauth_grant"
		" WHERE family=?1 AND jti!='' AND jti_exp>?3 GROUP BY jti"
		" ON CONFLICT (jti) DO UPDATE SET exp=max(exp, excluded.exp)",
		"UPDATE oauth_grant SET revoked=?2 WHERE family=?1 AND revoked=0",
	};
	struct revoke r = { .family = family, .now_ms = now_ms };

	return sqlite_dir_write(backend, sql, 2, bind_revoke, &r, NULL, NULL, e);
}

struct jti_walk {
	store_jti_fn fn;
	void *ctx;
};

static int jti_row(sqlite3_stmt *s, void *ctx)
{
	struct jti_walk *w = ctx;

	return w->fn(w->ctx, text(s, 0), sqlite3_column_int64(s, 1));
}

int sqlite_grant_jtis(void *conn, const char *family, int64_t now_s, store_jti_fn fn, void *ctx,
		      struct err *e)
{
	struct jti_walk w = { fn, ctx };

	return sqlite_dir_query(conn,
				"SELECT jti, jti_exp FROM oauth_grant WHERE family=?2 AND jti!=''"
				" AND jti_exp>?1",
				now_s, family, NULL, jti_row, &w, e);
}

int sqlite_token_revoke(void *backend, const char *jti, int64_t exp_s, struct err *e)
{
	static const char *const sql =
		"INSERT INTO oauth_revoked (jti, exp) VALUES (?4, ?5)"
		" ON CONFLICT (jti) DO UPDATE SET exp=max(exp, excluded.exp)";
	struct revoke r = { .family = "", .jti = jti, .exp_s = exp_s };

	return sqlite_dir_write(backend, &sql, 1, bind_revoke, &r, NULL, NULL, e);
}

int sqlite_grants_prune(void *backend, int64_t now_ms, struct err *e)
{
	static const char *const sql[] = {
		"DELETE FROM oauth_revoked WHERE exp<=?3",
		"DELETE FROM oauth_grant WHERE expires<=?2",
	};
	struct revoke r = { .family = "", .jti = "", .now_ms = now_ms };

	return sqlite_dir_write(backend, sql, 2, bind_revoke, &r, NULL, NULL, e);
}

int sqlite_tokens_revoked(void *conn, int64_t now_s, store_jti_fn fn, void *ctx, struct err *e)
{
	struct jti_walk w = { fn, ctx };

	return sqlite_dir_query(conn, "SELECT jti, exp FROM oauth_revoked WHERE exp>?1", now_s,
				NULL, NULL, jti_row, &w, e);
}
