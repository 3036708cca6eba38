/*
 * sqlite_int.h — private to the SQLite backend (sqlite.c: schema, reads,
 * writes; sqlite_query.c: search; sqlite_scan.c: bulk scans; sqlite_message.c:
 * the message log; sqlite_audit.c: the audit trail; sqlite_grant.c: OAuth
 * grants; sqlite_checkpoint.c: the writer's checkpoints).
 */
#ifndef LT_STORE_SQLITE_INT_H
#define LT_STORE_SQLITE_INT_H

#include <sqlite3.h>
#include "../base/buf.h"
#include "store.h"

struct sqlite_conn;

/* Index table names, in enum store_ix_table order. */
extern const char *const sqlite_ix_table[STORE_IX__COUNT];

sqlite3 *sqlite_conn_db(struct sqlite_conn *c);
/* A statement for the SQL text sql[0..n), kept prepared on c by its text
 * for the next caller with the same text; an SQLite result code. Give it
 * back with sqlite_stmt_done, which resets it and clears its bindings (a
 * statement not reset would hold its read transaction open). */
int sqlite_stmt_get(struct sqlite_conn *c, const char *sql, size_t n, sqlite3_stmt **out);
void sqlite_stmt_done(struct sqlite_conn *c, sqlite3_stmt *s);
/* Maps an SQLite result code to our error table, logging the library's message. */
int sqlite_fail(sqlite3 *db, int src, struct err *e, const char *what);
/* Test builds (LT_FAULT_INJECTION): the faults LT_FAULT asks for, before
 * SQLite's first use (sqlite_fault.c); a no-op otherwise. */
void sqlite_fault_install(void);
/* SQLite's allocator: pages of page_size bytes (and their headers) in slots
 * of a slab that holds cache_bytes of them, the rest from malloc
 * (sqlite_pages.c); before SQLite's first use. */
void sqlite_pages_install(int page_size, size_t cache_bytes);
/* The writer's checkpoints of the database at path, on a thread and a
 * connection of their own once the WAL holds threshold pages
 * (sqlite_checkpoint.c); -1 when they cannot start (SQLite's automatic
 * checkpoint then stays). Stop before closing writer. */
struct sqlite_checkpointer;
int sqlite_checkpointer_start(sqlite3 *writer, const char *path, int threshold,
			      struct sqlite_checkpointer **out);
void sqlite_checkpointer_stop(struct sqlite_checkpointer *k, sqlite3 *writer);
/* Checkpoints of the database so far: the thread's passes, the writer's copies. */
void sqlite_checkpointer_counts(struct sqlite_checkpointer *k, long *passes, long *by_writer);
/* sqlite3_exec, failing through sqlite_fail. */
int sqlite_exec(sqlite3 *db, const char *sql, struct err *e);
/* Fills out from (version, last_updated, deleted, json, seq, interaction) at first_col. */
int sqlite_row_to_version(sqlite3_stmt *s, int first_col, struct store_version *out);

int sqlite_search(void *conn, struct store_search *s, store_row_fn fn, void *ctx, struct err *e);
/* The SQL functions searches use (lt_distance_km), on each connection. */
int sqlite_query_functions(sqlite3 *db);
#define SQLITE_EARTH_KM 6371.0088	/* mean radius (IUGG) */
#define SQLITE_RADIANS (3.14159265358979323846 / 180.0)
#define SQLITE_KM_PER_DEGREE (SQLITE_EARTH_KM * SQLITE_RADIANS)	/* along a meridian */
/* sqlite_message.c */
/* The text of a message log query, for its plan in tests. */
int sqlite_message_sql(const struct store_message_query *q, struct buf *sql);
int sqlite_messages(void *conn, const struct store_message_query *q, store_message_fn fn,
		    void *ctx, struct err *e);
/* The database file of a backend. */
const char *sqlite_backend_path(void *backend);
/* sqlite_directory.c: tenants and principals (store.h) */
int sqlite_tenant_add(void *backend, struct store_tenant *t, struct err *e);
int sqlite_tenant_get(void *conn, const char *code, int64_t id, struct store_tenant *out,
		      struct err *e);
int sqlite_tenants(void *conn, store_tenant_fn fn, void *ctx, struct err *e);
int sqlite_principal_put(void *backend, struct store_principal *p, struct err *e);
int sqlite_principal_get(void *conn, const char *kind, const char *name,
			 struct store_principal *out, struct err *e);
int sqlite_principals(void *conn, int64_t tenant, store_principal_fn fn, void *ctx,
		      struct err *e);
int sqlite_principal_login(void *backend, int64_t id, int ok, int64_t now_ms, int max_failures,
			   int64_t lock_ms, int64_t totp_step, struct err *e);
/* The directory's plumbing, shared with sqlite_grant.c: n write statements
 * in one short transaction on a connection of their own (bind fills each;
 * a constraint failure is ERR_DUPLICATE; rowid: the last insert's;
 * changes: the first statement's), and a read with ?1 bound to i, ?2 and
 * ?3 to the strings, row called per row. */
typedef void (*sqlite_bind_fn)(sqlite3_stmt *s, const void *arg);
int sqlite_dir_write(void *backend, const char *const *sql, size_t n, sqlite_bind_fn bind,
		     const void *arg, int64_t *rowid, int *changes, struct err *e);
int sqlite_dir_query(void *conn, const char *sql, int64_t i, const char *str, const char *str2,
		     int (*row)(sqlite3_stmt *s, void *ctx), void *ctx, struct err *e);
/* sqlite_directory.c: clients' keys and the jtis of their assertions */
extern const char sqlite_schema_client_keys[];
int sqlite_client_jwks_put(void *backend, int64_t principal, const char *jwks, int64_t now_ms,
			   struct err *e);
int sqlite_client_jwks_get(void *conn, int64_t principal, struct buf *out, int64_t *updated_ms,
			   struct err *e);
int sqlite_client_jti_use(void *backend, int64_t principal, const char *jti, int64_t exp_ms,
			  int64_t now_ms, struct err *e);
/* sqlite_audit.c: the audit trail (decision 0016). It lives in a file of
 * its own, DATA/audit.db, attached to every connection as schema "trail":
 * its commits then never change lienthong.db, whose readers would drop
 * their page caches at each (decision 0023). Each connection has one of
 * these; key is the backend's, statements are the connection's. */
#define SQLITE_AUDIT_KEY_BYTES 32
#define SQLITE_AUDIT_FILE "audit.db"
struct sqlite_audit_conn {
	const unsigned char *key;
	sqlite3_stmt *insert;		/* writer: prepared on first use */
	int64_t index_batch;		/* records put in audit_by_patient at a time */
	int marked;			/* writer: lienthong.db's audit_trail mark is set */
};
struct sqlite_audit_conn *sqlite_conn_audit(struct sqlite_conn *c);
/* Attaches the trail's file (path) to db as "trail"; the writer's commits
 * to it are durable (synchronous=FULL). */
int sqlite_audit_attach(sqlite3 *db, const char *path, int writer, struct err *e);
/* On the schema connection: attaches the trail (creating it), moves a
 * trail kept in lienthong.db by older versions into it, and reads
 * DATA/keys/audit.key, or creates it when there is no trail yet;
 * ERR_CONFIG when it is missing beside a trail, or not 32 bytes. */
int sqlite_audit_open(const char *data_dir, const char *path, sqlite3 *db,
		      unsigned char key[SQLITE_AUDIT_KEY_BYTES], struct err *e);
void sqlite_audit_conn_release(struct sqlite_audit_conn *ac);
int sqlite_audit_append(void *wconn, const struct store_audit *const *a, size_t n, struct err *e);
int sqlite_audits(void *conn, const struct store_audit_query *q, store_audit_fn fn, void *ctx,
		  struct err *e);
int sqlite_audit_verify(void *conn, store_audit_problem_fn fn, void *ctx, int64_t *checked,
			struct err *e);
/* sqlite_grant.c: refresh tokens and revoked access tokens (decision 0019) */
extern const char sqlite_schema_grant[];
int sqlite_grant_add(void *backend, struct store_grant *g, struct err *e);
int sqlite_grant_get(void *conn, const char *hash, struct store_grant *out, struct err *e);
int sqlite_grant_revoke_family(void *backend, const char *family, int64_t now_ms, struct err *e);
int sqlite_grant_jtis(void *conn, const char *family, int64_t now_s, store_jti_fn fn, void *ctx,
		      struct err *e);
int sqlite_token_revoke(void *backend, const char *jti, int64_t exp_s, struct err *e);
int sqlite_grants_prune(void *backend, int64_t now_ms, struct err *e);
int sqlite_tokens_revoked(void *conn, int64_t now_s, store_jti_fn fn, void *ctx, struct err *e);
/* sqlite_scan.c */
int sqlite_scan(void *conn, struct store_scan *s, store_scan_fn fn, void *ctx, struct err *e);

#endif
