/*
 * store.c — the backend-independent half of the store: the reader
 * connection pool and the single writer thread with group commit.
 */
#include "store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/log.h"

/* A txn waiting for the writer; lives on the committing thread's stack. */
struct pending {
	const struct store_txn *txn;
	struct err err;
	int rc;
	int done;
	pthread_cond_t cond;
	struct pending *next;
};

struct store {
	const struct store_ops *ops;
	void *backend;
	int max_batch;

	/* Reader pool: idle connections on a stack; at most max_readers open. */
	pthread_mutex_t pool_lock;
	pthread_cond_t pool_cond;
	void **idle;
	int n_idle, n_open, max_readers;

	/* Writer queue (FIFO). */
	pthread_mutex_t queue_lock;
	pthread_cond_t queue_cond;
	struct pending *head, *tail;
	int stopping;
	pthread_t writer;
	int writer_started;
	void *wconn;
};

void store_version_init(struct store_version *v)
{
	memset(v, 0, sizeof(*v));
	buf_init(&v->json, 0);
}

void store_version_release(struct store_version *v)
{
	buf_release(&v->json);
}

static const struct store_ops *store_backend(const char *name)
{
	static const struct store_ops *const backends[] = { &store_sqlite_ops };

	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

struct guard_seen {
	int n;
	char type[STORE_TYPE_MAX + 1];
	char id[STORE_ID_MAX + 1];
};

static int guard_row(void *arg, const struct store_version *v)
{
	struct guard_seen *g = arg;

	if (g->n++ == 0) {
		snprintf(g->type, sizeof(g->type), "%s", v->type);
		snprintf(g->id, sizeof(g->id), "%s", v->id);
	}
	return 0;
}

/* Re-runs each guard's search on the writer's view (the batch so far). */
static int check_guards(struct store *st, const struct store_txn *txn, struct err *e)
{
	for (size_t i = 0; i < txn->n_guards; i++) {
		const struct store_guard *g = &txn->guards[i];
		struct store_search s = { .q = g->q, .count = 2 };
		struct guard_seen seen = { 0 };
		int rc = st->ops->search(st->wconn, &s, guard_row, &seen, e);

		if (rc)
			return rc;
		if (seen.n != g->n_seen ||
		    (seen.n == 1 && (strcmp(seen.type, g->type) || strcmp(seen.id, g->id))))
			return err_set(e, ERR_CONFLICT, NULL,
				       "a conditional search gave another result while the change "
				       "was prepared");
	}
	return 0;
}

/* Applies the batch's txns in one backend transaction begun by the caller.
 * isolate = 0 (the fast path): no savepoints; returns 1 when a txn failed
 * after it may have written, so that the caller rolls back and replays the
 * batch with isolate = 1, where each failed txn leaves no trace. A txn whose
 * guards fail has written nothing, so it needs no replay. */
static int apply_batch(struct store *st, struct pending *batch, int isolate, int *any_applied)
{
	*any_applied = 0;
	for (struct pending *p = batch; p; p = p->next) {
		if (isolate)	/* a replay: forget the first pass's error */
			err_clear(&p->err);
		p->rc = check_guards(st, p->txn, &p->err);
		if (p->rc)
			continue;
		p->rc = st->ops->txn_apply(st->wconn, p->txn, isolate, &p->err);
		if (p->rc && !isolate)
			return 1;
		*any_applied |= p->rc == 0;
	}
	return 0;
}

/* Takes every waiting txn (up to max_batch), applies them in one backend
 * transaction, commits once, then wakes each waiter with its own result. */
static void writer_run_batch(struct store *st, struct pending *batch)
{
	struct err e = { 0 };
	struct pending *p;
	int rc, any_applied = 0;

	rc = st->ops->batch_begin(st->wconn, &e);
	if (!rc && apply_batch(st, batch, 0, &any_applied)) {
		st->ops->batch_rollback(st->wconn);
		rc = st->ops->batch_begin(st->wconn, &e);
		if (!rc)
			apply_batch(st, batch, 1, &any_applied);
	}
	for (p = batch; rc && p; p = p->next) {
		p->rc = rc;
		p->err = e;
	}
	if (!rc) {
		if (any_applied)
			rc = st->ops->batch_commit(st->wconn, &e);
		else
			st->ops->batch_rollback(st->wconn);
		if (rc) {
			/* Nothing of this batch is durable: fail those that had succeeded. */
			st->ops->batch_rollback(st->wconn);
			log_error("store: group commit failed: %s", err_name(rc));
			for (p = batch; p; p = p->next)
				if (p->rc == 0) {
					p->rc = rc;
					p->err = e;
				}
		}
	}
	pthread_mutex_lock(&st->queue_lock);
	for (p = batch; p; p = p->next) {
		p->done = 1;
		pthread_cond_signal(&p->cond);
	}
	pthread_mutex_unlock(&st->queue_lock);
}

static void *writer_main(void *arg)
{
	struct store *st = arg;

	for (;;) {
		struct pending *batch, *last;
		int n = 1;

		pthread_mutex_lock(&st->queue_lock);
		while (!st->head && !st->stopping)
			pthread_cond_wait(&st->queue_cond, &st->queue_lock);
		if (!st->head) {	/* stopping and drained */
			pthread_mutex_unlock(&st->queue_lock);
			return NULL;
		}
		batch = last = st->head;
		while (last->next && n < st->max_batch) {
			last = last->next;
			n++;
		}
		st->head = last->next;
		if (!st->head)
			st->tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&st->queue_lock);
		writer_run_batch(st, batch);
	}
}

/* Queues n txns, waits for all; each p[i] gets its own result. */
static void commit_wait(struct store *st, struct pending *p, size_t n)
{
	pthread_mutex_lock(&st->queue_lock);
	if (st->stopping) {
		pthread_mutex_unlock(&st->queue_lock);
		for (size_t i = 0; i < n; i++) {
			p[i].rc = ERR_SHUTDOWN;
			err_set(&p[i].err, ERR_SHUTDOWN, NULL,
				"the store is closing; the change was not made");
		}
		return;
	}
	/* p lives on the caller's stack or heap, and this thread sleeps below
	 * until the writer has unlinked every p[i] and set done: the queue
	 * never outlives them. */
	for (size_t i = 0; i < n; i++) {
		if (st->tail)
			st->tail->next = &p[i];
		else
			st->head = &p[i];	/* cppcheck-suppress autoVariables */
		st->tail = &p[i];		/* cppcheck-suppress autoVariables */
	}
	pthread_cond_signal(&st->queue_cond);
	for (size_t i = 0; i < n; i++)
		while (!p[i].done)
			pthread_cond_wait(&p[i].cond, &st->queue_lock);
	pthread_mutex_unlock(&st->queue_lock);
}

static int copy_result(const struct pending *p, struct err *e)
{
	if (p->rc && e) {
		for (int i = 0; i < p->err.n_issues; i++)
			err_set(e, p->rc, p->err.issue[i].expression, "%s", p->err.issue[i].diagnostics);
		if (!p->err.n_issues)
			err_set(e, p->rc, NULL, "%s", err_message(p->rc));
	}
	return p->rc;
}

int store_commit(struct store *st, const struct store_txn *txn, struct err *e)
{
	int rc;

	return store_commit_many(st, txn, 1, &rc, e);
}

int store_commit_many(struct store *st, const struct store_txn *txn, size_t n, int *rc,
		      struct err *e)
{
	struct pending one = { 0 }, *p = n == 1 ? &one : malloc(n * sizeof(*p));
	int first = 0;

	if (!p)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	for (size_t i = 0; i < n; i++) {	/* not the error texts: written only on failure */
		p[i].txn = &txn[i];
		p[i].rc = 0;
		p[i].done = 0;
		p[i].next = NULL;
		err_clear(&p[i].err);
		pthread_cond_init(&p[i].cond, NULL);
	}
	commit_wait(st, p, n);
	for (size_t i = 0; i < n; i++) {
		rc[i] = copy_result(&p[i], e ? &e[i] : NULL);
		if (rc[i] && !first)
			first = rc[i];
		pthread_cond_destroy(&p[i].cond);
	}
	if (p != &one)
		free(p);
	return first;
}

static int pool_get(struct store *st, void **conn, struct err *e)
{
	int rc;

	pthread_mutex_lock(&st->pool_lock);
	while (!st->n_idle && st->n_open >= st->max_readers)
		pthread_cond_wait(&st->pool_cond, &st->pool_lock);
	if (st->n_idle) {
		*conn = st->idle[--st->n_idle];
		pthread_mutex_unlock(&st->pool_lock);
		return 0;
	}
	st->n_open++;
	pthread_mutex_unlock(&st->pool_lock);
	rc = st->ops->conn_open(st->backend, 0, conn, e);
	if (rc) {
		pthread_mutex_lock(&st->pool_lock);
		st->n_open--;
		pthread_cond_signal(&st->pool_cond);
		pthread_mutex_unlock(&st->pool_lock);
	}
	return rc;
}

static void pool_put(struct store *st, void *conn)
{
	pthread_mutex_lock(&st->pool_lock);
	st->idle[st->n_idle++] = conn;
	pthread_cond_signal(&st->pool_cond);
	pthread_mutex_unlock(&st->pool_lock);
}

int store_read(struct store *st, int64_t tenant, const char *type, const char *id,
	       int64_t version, struct store_version *out, struct err *e)
{
	void *conn;
	int rc = pool_get(st, &conn, e);

	if (rc)
		return rc;
	rc = st->ops->read(conn, tenant, type, id, version, out, e);
	pool_put(st, conn);
	return rc;
}

int store_history(struct store *st, const struct store_history_query *q, store_row_fn fn,
		  void *ctx, struct err *e)
{
	void *conn;
	int rc = pool_get(st, &conn, e);

	if (rc)
		return rc;
	rc = st->ops->history(conn, q, fn, ctx, e);
	pool_put(st, conn);
	return rc;
}

int store_meta_get(struct store *st, const char *key, struct buf *out, struct err *e)
{
	void *conn;
	int rc = pool_get(st, &conn, e);

	if (rc)
		return rc;
	rc = st->ops->meta_get(conn, key, out, e);
	pool_put(st, conn);
	return rc;
}

static int count_row(void *ctx, const struct store_version *v)
{
	(void)v;
	(*(int *)ctx)++;
	return 0;
}

int store_is_empty(struct store *st, int64_t tenant, struct err *e)
{
	struct store_history_query q = { .tenant = tenant, .since_ms = INT64_MIN, .limit = 1 };
	int n = 0;

	if (store_history(st, &q, count_row, &n, e))
		return -1;
	return n == 0;
}

int store_search(struct store *st, struct store_search *s, store_row_fn fn, void *ctx,
		 struct err *e)
{
	void *conn;
	int rc = pool_get(st, &conn, e);

	if (rc)
		return rc;
	rc = st->ops->search(conn, s, fn, ctx, e);
	pool_put(st, conn);
	return rc;
}

int store_scan(struct store *st, struct store_scan *s, store_scan_fn fn, void *ctx,
	       struct err *e)
{
	void *conn;
	int rc;

	if (!st->ops->scan)
		return err_set(e, ERR_NOT_SUPPORTED, NULL, "the %s store cannot scan", st->ops->name);
	if ((rc = pool_get(st, &conn, e)))
		return rc;
	rc = st->ops->scan(conn, s, fn, ctx, e);
	pool_put(st, conn);
	return rc;
}

/* ---- index rows ---- */

void store_ix_rows_init(struct store_ix_rows *r)
{
	r->row = NULL;
	r->n = r->cap = 0;
	buf_init(&r->text, 0);
}

void store_ix_rows_release(struct store_ix_rows *r)
{
	free(r->row);
	buf_release(&r->text);
	store_ix_rows_init(r);
}

void store_ix_rows_clear(struct store_ix_rows *r)
{
	r->n = 0;
	buf_clear(&r->text);
}

struct store_ix_row *store_ix_rows_add(struct store_ix_rows *r, int table, uint32_t param)
{
	struct store_ix_row *row;

	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 32;
		struct store_ix_row *p = realloc(r->row, cap * sizeof(*p));

		if (!p)
			return NULL;
		r->row = p;
		r->cap = cap;
	}
	row = &r->row[r->n++];
	memset(row, 0, sizeof(*row));
	row->table = (uint8_t)table;
	row->param = param;
	return row;
}

int store_ix_rows_str(struct store_ix_rows *r, struct store_ix_row *row, int i, const char *s,
		      size_t n)
{
	int rc;

	row->s[i] = (uint32_t)r->text.n;
	row->n[i] = (uint32_t)n;
	if (n > UINT32_MAX || r->text.n > UINT32_MAX - n)
		return ERR_TOO_LARGE;
	rc = buf_append(&r->text, s, n);
	return rc;
}

int store_open(const struct store_config *cfg, struct store **out, struct err *e)
{
	struct store *st;
	int rc;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	st->ops = store_backend(cfg->backend ? cfg->backend : "sqlite");
	if (!st->ops) {
		free(st);
		return err_set(e, ERR_CONFIG, NULL, "unknown store backend '%s'", cfg->backend);
	}
	st->max_readers = cfg->max_readers > 0 ? cfg->max_readers : 64;
	st->max_batch = cfg->max_batch > 0 ? cfg->max_batch : 1024;
	st->idle = calloc((size_t)st->max_readers, sizeof(void *));
	pthread_mutex_init(&st->pool_lock, NULL);
	pthread_cond_init(&st->pool_cond, NULL);
	pthread_mutex_init(&st->queue_lock, NULL);
	pthread_cond_init(&st->queue_cond, NULL);
	if (!st->idle) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto fail;
	}
	rc = st->ops->open(cfg, &st->backend, e);
	if (rc)
		goto fail;
	rc = st->ops->conn_open(st->backend, 1, &st->wconn, e);
	if (rc)
		goto fail;
	if (pthread_create(&st->writer, NULL, writer_main, st) != 0) {
		rc = err_set(e, ERR_INTERNAL, NULL, "cannot start the writer thread");
		goto fail;
	}
	st->writer_started = 1;
	*out = st;
	return 0;
fail:
	store_close(st);
	return rc;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	if (st->writer_started) {
		pthread_mutex_lock(&st->queue_lock);
		st->stopping = 1;
		pthread_cond_signal(&st->queue_cond);
		pthread_mutex_unlock(&st->queue_lock);
		pthread_join(st->writer, NULL);
	}
	if (st->wconn)
		st->ops->conn_close(st->wconn);
	for (int i = 0; i < st->n_idle; i++)
		st->ops->conn_close(st->idle[i]);
	if (st->backend)
		st->ops->close(st->backend);
	pthread_mutex_destroy(&st->pool_lock);
	pthread_cond_destroy(&st->pool_cond);
	pthread_mutex_destroy(&st->queue_lock);
	pthread_cond_destroy(&st->queue_cond);
	free(st->idle);
	free(st);
}

int store_messages(struct store *st, const struct store_message_query *q, store_message_fn fn,
		   void *ctx, struct err *e)
{
	void *conn;
	int rc;

	if (!st->ops->messages)
		return err_set(e, ERR_NOT_SUPPORTED, NULL, "the %s store keeps no message log",
			       st->ops->name);
	if ((rc = pool_get(st, &conn, e)))
		return rc;
	rc = st->ops->messages(conn, q, fn, ctx, e);
	pool_put(st, conn);
	return rc;
}

/* Tenants and principals: reads on a pooled connection, writes on the
 * backend (each its own short transaction; see store.h). */
#define DIRECTORY_READ(call)                                                               \
	do {                                                                               \
		void *conn;                                                                \
		int rc_;                                                                   \
		if (!st->ops->tenant_get)                                                  \
			return err_set(e, ERR_NOT_SUPPORTED, NULL,                         \
				       "the %s store keeps no tenants", st->ops->name);    \
		if ((rc_ = pool_get(st, &conn, e)))                                        \
			return rc_;                                                        \
		rc_ = (call);                                                              \
		pool_put(st, conn);                                                        \
		return rc_;                                                                \
	} while (0)

int store_tenant_add(struct store *st, struct store_tenant *t, struct err *e)
{
	if (!st->ops->tenant_add)
		return err_set(e, ERR_NOT_SUPPORTED, NULL, "the %s store keeps no tenants",
			       st->ops->name);
	return st->ops->tenant_add(st->backend, t, e);
}

int store_tenant_get(struct store *st, const char *code, int64_t id, struct store_tenant *out,
		     struct err *e)
{
	DIRECTORY_READ(st->ops->tenant_get(conn, code, id, out, e));
}

int store_tenants(struct store *st, store_tenant_fn fn, void *ctx, struct err *e)
{
	DIRECTORY_READ(st->ops->tenants(conn, fn, ctx, e));
}

int store_principal_put(struct store *st, struct store_principal *p, struct err *e)
{
	if (!st->ops->principal_put)
		return err_set(e, ERR_NOT_SUPPORTED, NULL, "the %s store keeps no principals",
			       st->ops->name);
	return st->ops->principal_put(st->backend, p, e);
}

int store_principal_get(struct store *st, const char *kind, const char *name,
			struct store_principal *out, struct err *e)
{
	DIRECTORY_READ(st->ops->principal_get(conn, kind, name, out, e));
}

int store_principals(struct store *st, int64_t tenant, store_principal_fn fn, void *ctx,
		     struct err *e)
{
	DIRECTORY_READ(st->ops->principals(conn, tenant, fn, ctx, e));
}

int store_principal_login(struct store *st, int64_t id, int ok, int64_t now_ms, int max_failures,
			  int64_t lock_ms, int64_t totp_step, struct err *e)
{
	if (!st->ops->principal_login)
		return err_set(e, ERR_NOT_SUPPORTED, NULL, "the %s store keeps no principals",
			       st->ops->name);
	return st->ops->principal_login(st->backend, id, ok, now_ms, max_failures, lock_ms,
					totp_step, e);
}
