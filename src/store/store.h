/*
 * store.h — durable, versioned storage of resources behind one interface.
 *
 * Resources are immutable versions. Each version is stored as the exact
 * bytes served on read (meta.versionId and meta.lastUpdated already inside),
 * so a read is one lookup and one copy. The store knows nothing of HTTP and
 * little of FHIR: a resource is (tenant, type, id, version, bytes).
 *
 * Backends are a table of functions (struct store_ops); SQLite is the
 * embedded default, PostgreSQL will implement the same table. Nothing above
 * this header sees SQL.
 *
 * Writes: every change is a struct store_txn of one or more writes applied
 * all-or-nothing. store_commit() hands the txn to the single writer thread
 * and blocks until it is durable (fsync'ed) or has failed. The writer gathers
 * whatever txns are waiting into one database transaction and one fsync
 * (group commit); each txn runs inside its own savepoint so that one txn's
 * conflict does not fail its neighbours.
 *
 * Concurrency control is optimistic: a write names the version it was
 * prepared against (expect_version); if another change got there first the
 * txn fails with ERR_CONFLICT and the caller may re-read and retry.
 *
 * Threads: store_open/store_close on one thread; everything else from any
 * thread. Reads borrow a backend connection from a pool for their duration.
 */
#ifndef LT_STORE_STORE_H
#define LT_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "../base/buf.h"
#include "../base/err.h"
#include "query.h"

#define STORE_TYPE_MAX 64
#define STORE_ID_MAX 64
#define STORE_EXPECT_ANY (-1)		/* expect_version: do not check */
#define STORE_DEFAULT_TENANT 1
#define STORE_CACHE_MIB_DEFAULT 320
#define STORE_MAX_READERS_DEFAULT 64

struct store;

struct store_config {
	const char *backend;		/* "sqlite" */
	const char *data_dir;		/* created if missing */
	int max_readers;		/* pooled reader connections; 0: STORE_MAX_READERS_DEFAULT */
	int cache_mib;			/* database pages cached by the writer and all readers
					 * together; 0: STORE_CACHE_MIB_DEFAULT */
	int max_batch;			/* txns per group commit */
	int audit_flush_ms;		/* audit records wait at most this long for a commit; 0: 200 */
	int audit_queue_max;		/* audit records queued at most; 0: 65536 */
	int audit_index_batch;		/* the patient index of the audit trail is filled this
					 * many records at a time; 0: 65536 (tests: small) */
};

/* The FHIR interaction that made a version; history reports it. */
enum store_interaction {
	STORE_CREATE = 1,		/* POST [type] */
	STORE_UPDATE_CREATE = 2,	/* PUT [type]/[id] of an id that did not exist (or was deleted) */
	STORE_UPDATE = 3,		/* PUT [type]/[id] */
	STORE_PATCH = 4,		/* PATCH [type]/[id] */
	STORE_DELETE = 5,		/* DELETE [type]/[id] */
	STORE_REINDEX = 6,		/* no new version: replace the index rows of the
					 * current one, which must be expect_version */
};

/* One stored version as read back. json is empty for a deletion. */
struct store_version {
	char type[STORE_TYPE_MAX + 1];
	char id[STORE_ID_MAX + 1];
	int64_t version;
	int64_t last_updated_ms;
	int64_t seq;			/* global change order, for paging */
	int deleted;
	int interaction;		/* enum store_interaction */
	int search_mode;		/* search results: enum store_hit_mode */
	struct buf json;		/* owned; store_version_release frees it */
};

void store_version_init(struct store_version *v);
void store_version_release(struct store_version *v);

/* One write of a txn; all pointers are borrowed until store_commit returns. */
struct store_write {
	int64_t tenant;
	const char *type;
	const char *id;
	int64_t expect_version;		/* current version it was prepared against; 0 = none; STORE_EXPECT_ANY */
	int64_t version;		/* the version it creates */
	int64_t last_updated_ms;
	int deleted;
	int interaction;		/* enum store_interaction */
	const char *json;		/* ready-to-serve bytes; NULL for a deletion */
	size_t json_len;
	const struct store_ix_rows *index;	/* its search index rows; NULL: none */
};

/*
 * A search a txn was prepared against (conditional create, update, delete
 * and references). The writer re-runs it just before applying the txn, in
 * the same database transaction, and fails the txn with ERR_CONFLICT when
 * the result is no longer what was seen: so a conditional write is decided
 * on the data it commits over, as if txns ran one at a time.
 */
struct store_guard {
	const struct store_query *q;
	int n_seen;			/* matches seen: 0, 1 or 2 (= more than one) */
	const char *type;		/* n_seen == 1: the match */
	const char *id;
};

/* A store_meta key that is a command to the SQLite writer (decision 0009):
 * "on" drops the search value indexes for a bulk load, "off" builds them
 * again. Searches stay correct in between, only slower. */
#define STORE_META_BULK_LOAD "bulk_load"

/*
 * A message received on an interface (HL7 v2 over MLLP), kept with what
 * became of it (the message log). It is committed in the txn of the writes
 * it produced: a message acknowledged AA is in the log exactly when its data
 * are in the store. The store fills patient and resources from the txn's
 * writes.
 */
struct store_message {
	int64_t mid;			/* 0: a new entry; else this entry is replaced (a replay) */
	int64_t tenant;
	const char *channel;		/* "hl7v2" */
	const char *sender;		/* who sent it, e.g. "LAB^HOSP" (MSH-3^MSH-4) */
	const char *control_id;		/* its id at the sender (MSH-10) */
	const char *peer;		/* where it came from: an address, "file", "replay" */
	int64_t received_ms;
	int64_t processed_ms;
	const char *status;		/* the acknowledgment code: AA, AE, AR, CA, CE, CR */
	int accepted;			/* its data were committed. A second accepted entry for the
					 * same tenant, channel, sender and control_id fails the txn
					 * with ERR_DUPLICATE. */
	const char *note;		/* why it was refused; "" */
	const char *raw;		/* the bytes received */
	size_t raw_len;
	const char *ack;		/* the answer sent */
	size_t ack_len;
	/* Read back only (the store writes them): */
	const char *patient;		/* "Patient/id" of the txn's first Patient write, or "" */
	const char *resources;		/* JSON array of "Type/id/_history/version" written */
};

struct store_txn {
	struct store_write *writes;
	size_t n_writes;
	const struct store_guard *guards;
	size_t n_guards;
	const char *meta_key;		/* also set this store_meta entry, or NULL */
	const char *meta_value;
	const struct store_message *message;	/* also log this message, or NULL */
};

/* Entries of the message log, newest first. NULL/0 fields do not filter. */
struct store_message_query {
	int64_t tenant;
	const char *channel;
	const char *sender;
	const char *control_id;
	const char *patient;		/* "Patient/id" */
	const char *status;
	int64_t mid;			/* one entry */
	int64_t since_ms, until_ms;	/* received in [since, until); 0: unbounded */
	int accepted_only;
	int limit;			/* 0: 100 */
};
typedef int (*store_message_fn)(void *ctx, const struct store_message *m);

/*
 * The audit trail (issue 6, decision 0016): one record per request that
 * touched health data, reads and searches included. Append-only and
 * tamper-evident: records are numbered 1, 2, 3... in the order the writer
 * appended them, and each carries hash = HMAC-SHA-256(audit key, previous
 * record's hash || the record's canonical bytes); the key lives outside the
 * database (DATA/keys/audit.key, mode 0600), so a person who can edit the
 * database cannot rewrite the chain to hide a change. The newest (seq,
 * hash) is also kept apart, so cutting records off the end shows. The
 * SQLite backend keeps the trail in a file of its own (decision 0023).
 * Strings are never health data beyond the patient reference and the
 * entity named.
 */
#define STORE_AUDIT_BREAK_GLASS 1u	/* emergency access outside normal scope: review it */

struct store_audit {
	int64_t seq;			/* read back: its place in the chain */
	int64_t tenant;			/* the tenant acted in; 0: none (a failed login) */
	int64_t at_ms;
	const char *agent;		/* who: "user/NAME", "client/ID", "anonymous" */
	const char *action;		/* AuditEvent.action: "C" "R" "U" "D" "E" */
	const char *subtype;		/* the interaction or operation: "read", "search-type",
					 * "create", "transaction", "$everything", "login"... */
	const char *entity;		/* what: "Patient/1", "Observation?code=...", "Bundle" */
	const char *patient;		/* "Patient/id" the access concerned, "" when none known */
	const char *source;		/* from where: the peer address */
	int outcome;			/* the HTTP status answered */
	const char *purpose;		/* purpose of use: "TREAT", "ETREAT" (break-glass), ... */
	unsigned flags;			/* STORE_AUDIT_* */
	const char *detail;		/* why refused, break-glass reason; never health data */
	char hash[65];			/* read back: hex */
};

/* Records of the trail, newest first. 0/NULL fields do not filter. */
struct store_audit_query {
	int64_t tenant;
	const char *patient;		/* "Patient/id" */
	const char *agent;
	int64_t since_ms, until_ms;	/* at in [since, until) */
	int64_t before_seq;		/* keyset paging: only seq < before_seq; 0: from the newest */
	unsigned flags;			/* only records with all these flags */
	int limit;			/* 0: 100 */
};
typedef int (*store_audit_fn)(void *ctx, const struct store_audit *a);

/* What `lienthong audit verify` found wrong, one call per problem. */
struct store_audit_problem {
	int64_t seq;			/* the first record at fault */
	const char *what;		/* "altered", "deleted", "reordered", "truncated", ... with detail */
};
typedef int (*store_audit_problem_fn)(void *ctx, const struct store_audit_problem *p);

/*
 * Facilities as tenants, and who may act in them (issue 6, decision 0018).
 * A tenant is a facility, keyed by its 5-character facility code; every
 * resource, index row, history row, message and audit record carries its
 * id. A principal is a user (a person, with a password) or a client (a
 * system: LIS, another server, a script, with a secret). These rows are
 * written rarely (by an administrator, or a login's counters), so they do
 * not go through the writer's queue: each write is its own short
 * transaction on a connection of its own.
 */
#define STORE_TENANT_CODE_MAX 16

struct store_tenant {
	int64_t id;			/* assigned by store_tenant_add: 1, 2, ... */
	char code[STORE_TENANT_CODE_MAX + 1];	/* the facility code, e.g. "79001" */
	char name[256];
	int64_t created_ms;
};
typedef int (*store_tenant_fn)(void *ctx, const struct store_tenant *t);

struct store_principal {
	int64_t id;			/* 0: a new one (store_principal_put assigns it) */
	int64_t tenant;			/* the tenant it acts in; 0: none (warehouse role only) */
	char kind[8];			/* "user" or "client" */
	char name[128];			/* the login, or the client_id; unique per kind */
	char secret[128];		/* user: argon2id of the password; client: "sha256:HEX" */
	char totp[40];			/* base32 TOTP secret; "" when not enrolled */
	int64_t totp_step;		/* the last TOTP step accepted (a code works once) */
	char roles[128];		/* space-separated: admin clinician staff warehouse patient */
	char scopes[1024];		/* the most a token of it may carry (SMART scopes) */
	char patient[80];		/* a patient's own account: "Patient/id"; "" */
	int failures;			/* failed logins in a row */
	int64_t locked_until_ms;	/* refused until then after too many failures */
	int64_t last_used_ms;		/* last successful login; 0: never */
	int64_t created_ms;
	int disabled;
	/* An app of the authorization code grant (decision 0019). */
	char redirect_uris[2048];	/* space-separated, each matched exactly; "" */
	int is_public;			/* no secret: PKCE is its only proof */
};
typedef int (*store_principal_fn)(void *ctx, const struct store_principal *p);

/*
 * OAuth grants (decision 0019): the refresh tokens given to apps by the
 * authorization code grant, and the access tokens revoked before they
 * expire. Durable, so a restart neither logs apps out nor brings a revoked
 * token back. A refresh token is kept only as its SHA-256. Each use of one
 * adds its successor (parent = its id), and a token can have only one: the
 * second of two racing uses fails, so a token with a successor is spent.
 * The tokens of one login share a family, revoked as one. Like the
 * directory's, each write is a short transaction of its own.
 */
#define STORE_JTI_MAX 64

struct store_grant {
	int64_t id;			/* assigned by store_grant_add */
	char hash[65];			/* SHA-256 of the refresh token, hex */
	char family[STORE_JTI_MAX];	/* the login it comes from */
	int64_t parent;			/* the token it replaced; 0: the login's first */
	int64_t tenant;
	char client[128];		/* client_id */
	char user[128];			/* the user's name */
	char scope[1024];		/* granted */
	char patient[80];		/* patient context (an id); "" */
	int64_t created_ms, expires_ms;
	int64_t revoked_ms;		/* 0: not revoked */
	int spent;			/* read back: it has a successor */
	char jti[STORE_JTI_MAX];	/* the access token issued with it */
	int64_t jti_exp_s;		/* and its exp */
};
/* An access token (its jti) revoked until exp_s. */
typedef int (*store_jti_fn)(void *ctx, const char *jti, int64_t exp_s);

struct store_history_query {
	int64_t tenant;
	const char *type;		/* NULL: system level */
	const char *id;			/* NULL: type (or system) level */
	int64_t since_ms;		/* INT64_MIN: no lower bound (inclusive) */
	int64_t before_seq;		/* 0: from the newest; else only seq < before_seq */
	int limit;			/* at most this many rows */
};

/* Called for each row, newest first; a non-zero return stops the walk and is
 * returned by the query. v is valid only during the call. */
typedef int (*store_row_fn)(void *ctx, const struct store_version *v);

/*
 * A bulk scan (the $export of src/api/export.c): the live resources of tenant
 * as they were at as_of_ms, in rid order, one page per call. Each page is a
 * short read, so a long export never pins one snapshot; rid is fixed for a
 * resource's life, so every resource is seen exactly once even while it
 * changes. A resource changed after as_of_ms is given as it was at as_of_ms
 * (from its history), and left out if it did not exist or was deleted then.
 */
struct store_scan {
	int64_t tenant;
	const char *const *types;	/* only these types (n_types of them); NULL: every type */
	size_t n_types;
	int64_t since_ms;		/* only versions with last_updated > since_ms; INT64_MIN: all */
	int64_t as_of_ms;		/* the version current at this instant; INT64_MAX: now */
	/* A compartment: resources of comp_type itself, and those that refer
	 * to one through any of the reference parameters params[]. */
	const char *comp_type;		/* NULL: no compartment */
	const uint32_t *params;
	size_t n_params;
	const char *comp_ids_json;	/* JSON array of the comp_type ids it is limited to; NULL: any */
	int64_t after_rid;		/* keyset: rows after this rid (0: from the start) */
	int limit;			/* rows examined per call */
	/* Results. */
	int64_t last_rid;		/* the last row examined: the next call's after_rid */
	int64_t max_rid;		/* the highest rid of the store now, for progress */
	int done;			/* nothing after last_rid */
};

/* One resource of a scan; every pointer is valid only during the call. */
struct store_scan_row {
	int64_t rid;
	const char *type;
	const char *id;
	int64_t last_updated_ms;
	struct str json;		/* the stored bytes */
};

typedef int (*store_scan_fn)(void *ctx, const struct store_scan_row *r);

/* The backend's table of functions. conn/wconn are backend objects. */
struct store_ops {
	int version;			/* of this struct: 1 */
	const char *name;
	int (*open)(const struct store_config *cfg, void **backend, struct err *e);
	void (*close)(void *backend);
	int (*conn_open)(void *backend, int writer, void **conn, struct err *e);
	void (*conn_close)(void *conn);
	/* A reader's page cache: its share of the readers' part of the budget
	 * when this many readers are open. Cheap when the share is unchanged. */
	void (*conn_share)(void *backend, void *conn, int readers);
	/* version 0: current version (deleted or not); else that version. ERR_NOT_FOUND when absent. */
	int (*read)(void *conn, int64_t tenant, const char *type, const char *id, int64_t version,
		    struct store_version *out, struct err *e);
	int (*history)(void *conn, const struct store_history_query *q, store_row_fn fn, void *ctx,
		       struct err *e);
	/* A store_meta entry into out; ERR_NOT_FOUND when absent. */
	int (*meta_get)(void *conn, const char *key, struct buf *out, struct err *e);
	/* s->q and the includes; results through fn (matches in order, then
	 * includes), s->total_n and s->next_cursor. ERR_BAD_REQUEST for a
	 * cursor that is not one of ours. */
	int (*search)(void *conn, struct store_search *s, store_row_fn fn, void *ctx,
		      struct err *e);
	/* Writer thread only. */
	int (*batch_begin)(void *wconn, struct err *e);
	/* isolate: a failed txn leaves no trace (a savepoint around it).
	 * Without, a failure may leave part of the txn applied, and the caller
	 * rolls back the whole batch. */
	int (*txn_apply)(void *wconn, const struct store_txn *txn, int isolate, struct err *e);
	/* Commits the batch; it becomes visible, not yet durable: see sync. */
	int (*batch_commit)(void *wconn, struct err *e);
	void (*batch_rollback)(void *wconn);
	/* Makes every batch committed so far durable (decision 0033). Called
	 * from the store's syncer thread while the writer thread goes on with
	 * the next batch: it must not use wconn's database handle. */
	int (*sync)(void *wconn, struct err *e);
	/* The message log (struct store_message_query); entries through fn. */
	int (*messages)(void *conn, const struct store_message_query *q, store_message_fn fn,
			void *ctx, struct err *e);
	/* One page of a bulk scan (struct store_scan); results through fn. */
	int (*scan)(void *conn, struct store_scan *s, store_scan_fn fn, void *ctx, struct err *e);
	/* Tenants and principals. The writes take the backend: each is a short
	 * transaction of its own, outside the writer's queue. */
	int (*tenant_add)(void *backend, struct store_tenant *t, struct err *e);
	int (*tenant_get)(void *conn, const char *code, int64_t id, struct store_tenant *out,
			  struct err *e);
	int (*tenants)(void *conn, store_tenant_fn fn, void *ctx, struct err *e);
	int (*principal_put)(void *backend, struct store_principal *p, struct err *e);
	int (*principal_get)(void *conn, const char *kind, const char *name,
			     struct store_principal *out, struct err *e);
	int (*principals)(void *conn, int64_t tenant, store_principal_fn fn, void *ctx,
			  struct err *e);
	int (*principal_login)(void *backend, int64_t id, int ok, int64_t now_ms, int max_failures,
			       int64_t lock_ms, int64_t totp_step, struct err *e);
	/* The audit trail; NULL when the backend keeps none. audit_append
	 * (writer thread only, inside a batch) numbers and chains n records
	 * after the newest and moves the chain head, in the batch's
	 * transaction. */
	int (*audit_append)(void *wconn, const struct store_audit *const *a, size_t n,
			    struct err *e);
	int (*audits)(void *conn, const struct store_audit_query *q, store_audit_fn fn, void *ctx,
		      struct err *e);
	int (*audit_verify)(void *conn, store_audit_problem_fn fn, void *ctx, int64_t *checked,
			    struct err *e);
	/* OAuth grants (store_grant_*); writes take the backend, as the
	 * directory's do. NULL when the backend keeps none. */
	int (*grant_add)(void *backend, struct store_grant *g, struct err *e);
	int (*grant_get)(void *conn, const char *hash, struct store_grant *out, struct err *e);
	int (*grant_revoke_family)(void *backend, const char *family, int64_t now_ms,
				   struct err *e);
	int (*grant_jtis)(void *conn, const char *family, int64_t now_s, store_jti_fn fn,
			  void *ctx, struct err *e);
	int (*token_revoke)(void *backend, const char *jti, int64_t exp_s, struct err *e);
	int (*grants_prune)(void *backend, int64_t now_ms, struct err *e);
	int (*tokens_revoked)(void *conn, int64_t now_s, store_jti_fn fn, void *ctx,
			      struct err *e);
	/* Clients' public keys and the jtis of their assertions (see the end of
	 * this header); NULL when the backend keeps none. The writes take the
	 * backend, like the principals'. */
	int (*client_jwks_put)(void *backend, int64_t principal, const char *jwks, int64_t now_ms,
			       struct err *e);
	int (*client_jwks_get)(void *conn, int64_t principal, struct buf *out, int64_t *updated_ms,
			       struct err *e);
	int (*client_jti_use)(void *backend, int64_t principal, const char *jti, int64_t exp_ms,
			      int64_t now_ms, struct err *e);
};

extern const struct store_ops store_sqlite_ops;
/* Bytes of SQLite's page slab (sqlite_pages.c) holding pages now, touched
 * since the start (the part of RSS the page caches account for) and
 * reserved (0: no slab, pages from malloc). */
void store_sqlite_pages(size_t *in_use, size_t *touched, size_t *size);
/* Reader connections open now (idle or in use); each has its own page cache. */
int store_readers_open(struct store *st);

int store_open(const struct store_config *cfg, struct store **out, struct err *e) LT_MUST_CHECK;
/* Stops accepting writes, lets the writer finish what it holds, closes. */
void store_close(struct store *st);

int store_read(struct store *st, int64_t tenant, const char *type, const char *id, int64_t version,
	       struct store_version *out, struct err *e) LT_MUST_CHECK;
int store_history(struct store *st, const struct store_history_query *q, store_row_fn fn,
		  void *ctx, struct err *e) LT_MUST_CHECK;
int store_meta_get(struct store *st, const char *key, struct buf *out,
		   struct err *e) LT_MUST_CHECK;
/* 1 when tenant has never had a resource written, 0 when it has, -1 on error (in e). */
int store_is_empty(struct store *st, int64_t tenant, struct err *e);
int store_search(struct store *st, struct store_search *s, store_row_fn fn, void *ctx,
		 struct err *e) LT_MUST_CHECK;
/* One page of a bulk scan; ERR_NOT_SUPPORTED when the backend has none. */
int store_scan(struct store *st, struct store_scan *s, store_scan_fn fn, void *ctx,
	       struct err *e) LT_MUST_CHECK;
/* Entries of the message log; ERR_NOT_SUPPORTED when the backend has none. */
int store_messages(struct store *st, const struct store_message_query *q, store_message_fn fn,
		   void *ctx, struct err *e) LT_MUST_CHECK;
/*
 * The audit trail. store_audit queues a record and returns at once: the
 * writer appends queued records in a commit of their own within
 * audit_flush_ms, so auditing a read costs no fsync of its own. With
 * audit_queue_max records queued it waits; when the trail's writes are
 * failing (a full disk) it gives up after AUDIT_FULL_WAIT_MS with the
 * failure's code: the caller must not serve what it could not audit.
 * store_audit_flush blocks until everything queued before
 * it is durable; store_close flushes. ERR_NOT_SUPPORTED when the backend
 * keeps no trail.
 */
int store_audit(struct store *st, const struct store_audit *a, struct err *e) LT_MUST_CHECK;
int store_audit_flush(struct store *st, struct err *e) LT_MUST_CHECK;
int store_audits(struct store *st, const struct store_audit_query *q, store_audit_fn fn,
		 void *ctx, struct err *e) LT_MUST_CHECK;
/* Walks the whole chain; every problem goes to fn. *checked gets the
 * number of records read. Returns 0 when it could walk (problems or not). */
int store_audit_verify(struct store *st, store_audit_problem_fn fn, void *ctx, int64_t *checked,
		       struct err *e) LT_MUST_CHECK;

/* Tenants: add (t->id and created_ms assigned; ERR_DUPLICATE when the code
 * exists), get by code (or by id when code is NULL; ERR_NOT_FOUND), list. */
int store_tenant_add(struct store *st, struct store_tenant *t, struct err *e) LT_MUST_CHECK;
int store_tenant_get(struct store *st, const char *code, int64_t id, struct store_tenant *out,
		     struct err *e) LT_MUST_CHECK;
int store_tenants(struct store *st, store_tenant_fn fn, void *ctx, struct err *e) LT_MUST_CHECK;
/* Principals: put inserts (p->id 0: assigned; ERR_DUPLICATE when kind and
 * name exist) or replaces the row p->id; get by kind and name
 * (ERR_NOT_FOUND); list a tenant's (0: all). */
int store_principal_put(struct store *st, struct store_principal *p, struct err *e) LT_MUST_CHECK;
int store_principal_get(struct store *st, const char *kind, const char *name,
			struct store_principal *out, struct err *e) LT_MUST_CHECK;
int store_principals(struct store *st, int64_t tenant, store_principal_fn fn, void *ctx,
		     struct err *e) LT_MUST_CHECK;
/*
 * A login's outcome, counted in one statement (so logins racing on one
 * account cannot lose a failure): ok resets failures and sets last_used_ms
 * (and totp_step when not 0); a failure adds one, and the max_failures-th
 * in a row locks the account until now_ms + lock_ms.
 */
int store_principal_login(struct store *st, int64_t id, int ok, int64_t now_ms, int max_failures,
			  int64_t lock_ms, int64_t totp_step, struct err *e) LT_MUST_CHECK;

/* OAuth grants (struct store_grant). add: g->id assigned; ERR_CONFLICT
 * when g->parent has a successor already (the loser of two uses of one
 * token). get: by the token's hash, spent filled; ERR_NOT_FOUND. */
int store_grant_add(struct store *st, struct store_grant *g, struct err *e) LT_MUST_CHECK;
int store_grant_get(struct store *st, const char *hash, struct store_grant *out,
		    struct err *e) LT_MUST_CHECK;
/* Revokes every refresh token of family and, durably, the access tokens
 * issued with them that have not expired at now_ms; fn gets each of those
 * (may be NULL). */
int store_grant_revoke_family(struct store *st, const char *family, int64_t now_ms,
			      store_jti_fn fn, void *ctx, struct err *e) LT_MUST_CHECK;
/* An access token revoked until exp_s. */
int store_token_revoke(struct store *st, const char *jti, int64_t exp_s,
		       struct err *e) LT_MUST_CHECK;
/* Deletes the revocations and refresh tokens expired at now_ms, then
 * gives the revoked access tokens still alive to fn (at start-up). */
int store_tokens_revoked(struct store *st, int64_t now_ms, store_jti_fn fn, void *ctx,
			 struct err *e) LT_MUST_CHECK;

/* Before answering with what this thread read from st: waits until every
 * change those reads may have seen is durable (decision 0033). A commit
 * is visible to readers a moment before it is durable; store_commit
 * itself returns only once it is durable. The HTTP and HL7 layers call it
 * before each answer. */
void store_durable_wait(struct store *st);
/* Commits that may be visible so far, and how many of them are durable. */
void store_durability(struct store *st, uint64_t *announced, uint64_t *durable);

/* Blocks until txn is durable (0) or failed (ERR_CONFLICT, ERR_DISK_FULL, ...). */
int store_commit(struct store *st, const struct store_txn *txn, struct err *e) LT_MUST_CHECK;
/* Commits n independent txns (each all-or-nothing on its own), usually in
 * one group commit; rc[i] and e[i] (e may be NULL) get each one's result.
 * Returns 0 when all succeeded, else the first failure's code. */
int store_commit_many(struct store *st, const struct store_txn *txn, size_t n, int *rc,
		      struct err *e) LT_MUST_CHECK;

/*
 * Clients that authenticate with a signed assertion (private_key_jwt,
 * decision 0020). A client (a principal of kind "client") may have one
 * JWKS: its public keys, as the text it published; the caller checks it
 * (auth_jwks_parse) before it is put. Like the principals, these rows are
 * written on a connection of their own, outside the writer's queue.
 *
 * The jti of each accepted assertion is kept until its exp, so that an
 * assertion is accepted once, across restarts too: store_client_jti_use
 * drops the jtis whose exp has passed, then records this one;
 * ERR_DUPLICATE when principal has used it already (a replay), and
 * ERR_TOO_MANY when principal has STORE_CLIENT_JTI_MAX live ones (a client
 * asking for that many tokens in five minutes is broken or abusive: the
 * table stays small whatever it does).
 */
#define STORE_CLIENT_JTI_MAX 10000
#define STORE_CLIENT_JTI_LEN 255	/* the longest jti kept */

/* Replaces principal's JWKS (updated_ms: now); ERR_NOT_FOUND when no client has that id. */
int store_client_jwks_put(struct store *st, int64_t principal, const char *jwks,
			  struct err *e) LT_MUST_CHECK;
/* principal's JWKS appended to out (and when it was put, if updated_ms is
 * not NULL); ERR_NOT_FOUND when it has none. */
int store_client_jwks_get(struct store *st, int64_t principal, struct buf *out,
			  int64_t *updated_ms, struct err *e) LT_MUST_CHECK;
int store_client_jti_use(struct store *st, int64_t principal, const char *jti, int64_t exp_ms,
			 int64_t now_ms, struct err *e) LT_MUST_CHECK;

#endif
