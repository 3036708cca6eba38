/*
 * store.c — the backend-independent half of the store: the reader
 * connection pool, the single writer thread with group commit, and the
 * audit queue it drains.
 */
#include "store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../base/log.h"
#include "../base/time.h"

/* The audit queue (decisions 0016, 0023). store_audit blocks while it
 * holds audit_queue_max records (at most AUDIT_FULL_WAIT_MS while the
 * trail cannot be written: then it fails); the writer commits queued records once
 * the oldest has waited audit_flush_ms, or at once past AUDIT_EAGER, in
 * commits of their own; at most AUDIT_BATCH_MAX a commit. */
#define AUDIT_QUEUE_MAX 65536
#define AUDIT_FULL_WAIT_MS 2000
#define AUDIT_EAGER 8192
#define AUDIT_BATCH_MAX 8192
#define AUDIT_FLUSH_MS_DEFAULT 200

/* A queued audit record: a copy, its strings right after it. */
struct audit_item {
	struct store_audit a;
	int64_t queued_ms;		/* monotonic */
	struct audit_item *next;
};

/* A txn waiting for the writer, then for the syncer; lives on the
 * committing thread's stack. */
struct pending {
	const struct store_txn *txn;
	struct err err;
	int rc;
	int done;
	uint64_t durable_at;		/* answered once st->durable reaches this */
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

	/* Audit records waiting for the writer (FIFO), under queue_lock. The
	 * counters only grow: a flush waits for durable to reach what was
	 * queued when it began. */
	struct audit_item *audit_head, *audit_tail;
	size_t audit_n;
	int64_t audit_flush_ms;
	size_t audit_queue_max;
	uint64_t audit_queued;		/* records ever queued */
	uint64_t audit_durable;		/* records ever committed */
	uint64_t audit_flush_want;	/* a flush waits for durable to reach this */
	uint64_t audit_failures;	/* commits of audit records that failed */
	int audit_fail_rc;		/* the last one's code; 0 once one succeeds */
	size_t audit_held;		/* records in memory: queued or being written (the
					 * limit counts these: a failed commit puts its
					 * records back, it does not make room) */
	int64_t audit_retry_ms;		/* after a failure: no audit-only commit before */
	pthread_cond_t audit_cond;	/* room in the queue, or records durable (or failed) */
	const struct store_audit **audit_batch;	/* the writer's: AUDIT_BATCH_MAX */

	/* Durability (decision 0033). The writer commits a batch without
	 * waiting for the disk and hands it to the syncer thread, which makes
	 * it durable (ops->sync) and only then answers its txns; meanwhile the
	 * writer applies the next batch. `announced` counts the commits that
	 * may be visible (it grows before each commit), `durable` how many
	 * of them are known to be on disk. An answer built from reads waits until
	 * durable has reached what was announced when they ended
	 * (store_durable_wait), so nothing the server answers rests on data a
	 * crash could take back.
	 * `announced` grows in the writer, `durable` in the syncer under
	 * queue_lock; both are read atomically. After a failed
	 * sync the store takes no more changes (sync_failed) until it is
	 * opened again: what the disk lost cannot be told. */
	struct pending *sync_head, *sync_tail;	/* committed, not yet durable (FIFO) */
	uint64_t announced, durable;
	int sync_failed;
	int sync_stopping;
	int syncing;			/* the syncer is in ops->sync */
	pthread_cond_t sync_cond;	/* work for the syncer */
	pthread_cond_t durable_cond;	/* durable grew */
	pthread_t syncer;
	int syncer_started;
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

/* After the commit (rc 0) or failure of the n audit records first..: frees
 * them, or puts them back at the head of the queue, in order, to be tried
 * again; wakes store_audit_flush. Never drops a record while the store is
 * open. */
static void audit_done(struct store *st, struct audit_item *first, size_t n, int rc)
{
	struct audit_item *last = NULL, *it, *next;

	if (!n)
		return;
	pthread_mutex_lock(&st->queue_lock);
	if (!rc)
		st->audit_fail_rc = 0;	/* the trail is written again */
	if (!rc || st->stopping) {
		st->audit_held -= n;
		if (rc)
			log_error("store: %zu audit records could not be written at close (%s): lost",
				  n, err_name(rc));
		for (it = first; it; it = next) {
			next = it->next;
			free(it);
		}
		st->audit_durable += n;	/* nothing waits for them any longer */
	} else {
		log_error("store: %zu audit records could not be written (%s); they stay queued",
			  n, err_name(rc));
		for (last = first; last->next; last = last->next)
			;
		last->next = st->audit_head;
		st->audit_head = first;
		if (!st->audit_tail)
			st->audit_tail = last;
		st->audit_n += n;
		st->audit_failures++;
		st->audit_fail_rc = rc;
		st->audit_flush_want = st->audit_durable;
		st->audit_retry_ms = time_monotonic_ms() + st->audit_flush_ms;
	}
	pthread_cond_broadcast(&st->audit_cond);
	pthread_mutex_unlock(&st->queue_lock);
}

/* Under queue_lock: detaches the first txns queued, at most room (>= 1);
 * NULL when none is. */
static struct pending *take_queued(struct store *st, int room)
{
	struct pending *first = st->head, *last = st->head;
	int n = 1;

	if (!first)
		return NULL;
	while (last->next && n < room) {
		last = last->next;
		n++;
	}
	st->head = last->next;
	if (!st->head)
		st->tail = NULL;
	last->next = NULL;
	return first;
}

/*
 * While the syncer is busy with earlier commits, committing now would make
 * nothing durable sooner: the txns that arrive meanwhile join the open
 * transaction (at most `room`), and it is committed when the syncer is free
 * or nothing more comes. Bigger commits write fewer pages per txn (decision
 * 0033). NULL: commit now.
 */
static struct pending *take_while_syncing(struct store *st, int room)
{
	struct pending *more;

	pthread_mutex_lock(&st->queue_lock);
	while (!st->head && st->syncing && !st->stopping)
		pthread_cond_wait(&st->queue_cond, &st->queue_lock);
	more = take_queued(st, room);
	pthread_mutex_unlock(&st->queue_lock);
	return more;
}

/* Applies the batch taken (and what take_while_syncing adds) in one backend
 * transaction, commits once, and hands the txns to the syncer, which
 * answers each with its own result once the commit is durable. */
static void writer_run_batch(struct store *st, struct pending *batch)
{
	struct err e = { 0 };
	struct pending *p, *last, *more;
	uint64_t seen;
	int rc, any_applied = 0, failed = 0, n = 1;

	for (last = batch; last->next; last = last->next)
		n++;
	rc = st->ops->batch_begin(st->wconn, &e);
	if (!rc)
		failed = apply_batch(st, batch, 0, &any_applied);
	while (!rc && !failed && n < st->max_batch &&
	       (more = take_while_syncing(st, st->max_batch - n))) {
		int any = 0;

		last->next = more;
		for (; last->next; last = last->next)
			n++;
		failed = apply_batch(st, more, 0, &any);
		any_applied |= any;
	}
	if (!rc && failed) {
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
		if (any_applied) {
			/* Announced before it can be seen: see note_read. */
			__atomic_add_fetch(&st->announced, 1, __ATOMIC_SEQ_CST);
			rc = st->ops->batch_commit(st->wconn, &e);
		} else {
			st->ops->batch_rollback(st->wconn);
		}
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
	/* Every txn waits for what it may have seen to be durable: its own
	 * commit, or, failed or unchanged, the commits its checks read. */
	seen = __atomic_load_n(&st->announced, __ATOMIC_SEQ_CST);
	for (p = batch; p; p = p->next)
		p->durable_at = seen;
	pthread_mutex_lock(&st->queue_lock);
	if (st->sync_tail)
		st->sync_tail->next = batch;
	else
		st->sync_head = batch;
	st->sync_tail = last;
	pthread_cond_signal(&st->sync_cond);
	pthread_mutex_unlock(&st->queue_lock);
}

/* The syncer thread: makes the batches the writer committed durable, all
 * those waiting with one sync, then answers their txns. */
static void *syncer_main(void *arg)
{
	struct store *st = arg;

	pthread_mutex_lock(&st->queue_lock);
	for (;;) {
		struct pending *list, *p;
		uint64_t target = 0;
		struct err e = { 0 };
		int rc = 0;

		while (!st->sync_head && !st->sync_stopping)
			pthread_cond_wait(&st->sync_cond, &st->queue_lock);
		if (!st->sync_head)
			break;	/* stopping, and drained */
		list = st->sync_head;
		st->sync_head = st->sync_tail = NULL;
		for (p = list; p; p = p->next)
			target = p->durable_at > target ? p->durable_at : target;
		if (target > st->durable) {
			st->syncing = 1;
			pthread_mutex_unlock(&st->queue_lock);
			rc = st->ops->sync(st->wconn, &e);
			pthread_mutex_lock(&st->queue_lock);
			st->syncing = 0;
			pthread_cond_broadcast(&st->queue_cond);	/* a writer waiting to commit */
			if (rc && !st->sync_failed) {
				log_error("store: changes were committed but the disk did not confirm"
					  " them; refusing changes until the server is restarted");
				st->sync_failed = rc;
			}
			/* Readers go on (after a failure, with what they see). */
			__atomic_store_n(&st->durable, target, __ATOMIC_SEQ_CST);
			pthread_cond_broadcast(&st->durable_cond);
		}
		for (p = list; p;) {
			struct pending *next = p->next;

			if (rc && p->rc == 0) {
				p->rc = rc;
				p->err = e;
			}
			p->done = 1;	/* p may be gone once the lock is released */
			pthread_cond_signal(&p->cond);
			p = next;
		}
	}
	pthread_mutex_unlock(&st->queue_lock);
	return NULL;
}

/* What the reads of this thread may have seen: the announced commits of
 * one store (a request uses one), to be durable before it answers. */
static _Thread_local struct {
	const struct store *st;
	uint64_t seen;
} reads_saw;

/* A read has ended: what it saw is among the commits announced now. */
static void note_read(const struct store *st)
{
	uint64_t now = __atomic_load_n(&st->announced, __ATOMIC_SEQ_CST);

	if (reads_saw.st != st) {
		reads_saw.st = st;
		reads_saw.seen = 0;
	}
	if (now > reads_saw.seen)
		reads_saw.seen = now;
}

void store_durability(struct store *st, uint64_t *announced, uint64_t *durable)
{
	*durable = __atomic_load_n(&st->durable, __ATOMIC_SEQ_CST);
	*announced = __atomic_load_n(&st->announced, __ATOMIC_SEQ_CST);
}

void store_durable_wait(struct store *st)
{
	uint64_t want = reads_saw.st == st ? reads_saw.seen : 0;
	uint64_t now = __atomic_load_n(&st->announced, __ATOMIC_SEQ_CST);

	/* A value noted on a store since closed, at the same address, is not
	 * this one's: no read of this store saw more than it announced. */
	if (want > now)
		want = now;
	reads_saw.seen = 0;
	if (__atomic_load_n(&st->durable, __ATOMIC_SEQ_CST) >= want)
		return;
	pthread_mutex_lock(&st->queue_lock);
	while (st->durable < want)
		pthread_cond_wait(&st->durable_cond, &st->queue_lock);
	pthread_mutex_unlock(&st->queue_lock);
}

/* Appends the n queued audit records of the list audits in a transaction
 * of their own. They do not share the data's commit: the trail is in a
 * file of its own (decision 0023), and a commit to both would cost two
 * fsyncs each; audit records wait up to audit_flush_ms instead. */
static void writer_run_audits(struct store *st, struct audit_item *audits, size_t n)
{
	struct err e = { 0 };
	size_t i = 0;
	int rc;

	for (struct audit_item *it = audits; it; it = it->next)
		st->audit_batch[i++] = &it->a;
	rc = st->ops->batch_begin(st->wconn, &e);
	if (!rc && !(rc = st->ops->audit_append(st->wconn, st->audit_batch, n, &e)))
		rc = st->ops->batch_commit(st->wconn, &e);
	if (rc)
		st->ops->batch_rollback(st->wconn);
	audit_done(st, audits, n, rc);
}

/* Under queue_lock: the queued audit records should be committed now,
 * writes or not. Else *wake_ms (monotonic) is when they will be, or 0. */
static int audit_due(const struct store *st, int64_t now, int64_t *wake_ms)
{
	int64_t at;

	*wake_ms = 0;
	if (!st->audit_n)
		return 0;
	if (st->stopping)
		return 1;
	at = st->audit_head->queued_ms + st->audit_flush_ms;
	if (st->audit_n >= AUDIT_EAGER)
		at = now;
	if (at < st->audit_retry_ms)	/* after a failure: not in a loop */
		at = st->audit_retry_ms;
	if (st->audit_flush_want > st->audit_durable)	/* asked for: one more try */
		at = now;
	if (at <= now)
		return 1;
	*wake_ms = at;
	return 0;
}

/* Sleeps on queue_cond (CLOCK_MONOTONIC) until wake_ms, or a signal. */
static void wait_until(struct store *st, int64_t wake_ms)
{
	struct timespec ts = { .tv_sec = wake_ms / 1000, .tv_nsec = (wake_ms % 1000) * 1000000 };

	pthread_cond_timedwait(&st->queue_cond, &st->queue_lock, &ts);
}

static void *writer_main(void *arg)
{
	struct store *st = arg;

	for (;;) {
		struct pending *batch;
		struct audit_item *audits = NULL, *alast = NULL;
		size_t n_audit = 0;
		int64_t wake_ms;

		pthread_mutex_lock(&st->queue_lock);
		while (!st->head && !audit_due(st, time_monotonic_ms(), &wake_ms)) {
			if (st->stopping) {	/* drained */
				pthread_mutex_unlock(&st->queue_lock);
				return NULL;
			}
			if (wake_ms)
				wait_until(st, wake_ms);
			else
				pthread_cond_wait(&st->queue_cond, &st->queue_lock);
		}
		batch = take_queued(st, st->max_batch);
		if (audit_due(st, time_monotonic_ms(), &wake_ms)) {
			audits = alast = st->audit_head;
			for (n_audit = 1; alast->next && n_audit < AUDIT_BATCH_MAX; n_audit++)
				alast = alast->next;
			st->audit_head = alast->next;
			if (!st->audit_head)
				st->audit_tail = NULL;
			alast->next = NULL;
			st->audit_n -= n_audit;
		}
		pthread_mutex_unlock(&st->queue_lock);
		if (batch)
			writer_run_batch(st, batch);
		if (n_audit)
			writer_run_audits(st, audits, n_audit);
	}
}

/* Queues n txns, waits for all; each p[i] gets its own result. */
static void commit_wait(struct store *st, struct pending *p, size_t n)
{
	pthread_mutex_lock(&st->queue_lock);
	if (st->stopping || st->sync_failed) {
		int rc = st->stopping ? ERR_SHUTDOWN : ERR_IO;

		pthread_mutex_unlock(&st->queue_lock);
		for (size_t i = 0; i < n; i++) {
			p[i].rc = rc;
			err_set(&p[i].err, rc, NULL, rc == ERR_SHUTDOWN
				? "the store is closing; the change was not made"
				: "the disk failed to confirm an earlier change; no change is taken"
				  " until the server is restarted");
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
	if (!rc) {
		/* The readers' part of the page budget, shared by one more: the
		 * idle ones shrink now, those in use when they come back. */
		pthread_mutex_lock(&st->pool_lock);
		for (int i = 0; i < st->n_idle; i++)
			st->ops->conn_share(st->backend, st->idle[i], st->n_open);
		st->ops->conn_share(st->backend, *conn, st->n_open);
		pthread_mutex_unlock(&st->pool_lock);
	} else {
		pthread_mutex_lock(&st->pool_lock);
		st->n_open--;
		if (st->n_open > 0) {
			/* The pool has connections, only none idle: a request
			 * waits for one rather than fail, and the pool stops
			 * growing (out of files or memory, say). */
			log_warn("store: cannot open another reader connection (%s); keeping %d",
				 e && e->n_issues ? e->issue[0].diagnostics : err_name(rc), st->n_open);
			st->max_readers = st->n_open;
			pthread_mutex_unlock(&st->pool_lock);
			if (e)
				err_clear(e);
			return pool_get(st, conn, e);
		}
		pthread_cond_signal(&st->pool_cond);
		pthread_mutex_unlock(&st->pool_lock);
	}
	return rc;
}

int store_readers_open(struct store *st)
{
	int n;

	pthread_mutex_lock(&st->pool_lock);
	n = st->n_open;
	pthread_mutex_unlock(&st->pool_lock);
	return n;
}

/* Every read ends here: the connection goes back, and what the read may
 * have seen is noted for store_durable_wait. */
static void pool_put(struct store *st, void *conn)
{
	pthread_mutex_lock(&st->pool_lock);
	st->ops->conn_share(st->backend, conn, st->n_open);
	st->idle[st->n_idle++] = conn;
	pthread_cond_signal(&st->pool_cond);
	pthread_mutex_unlock(&st->pool_lock);
	note_read(st);
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
	st->max_readers = cfg->max_readers > 0 ? cfg->max_readers : STORE_MAX_READERS_DEFAULT;
	st->max_batch = cfg->max_batch > 0 ? cfg->max_batch : 1024;
	st->audit_flush_ms = cfg->audit_flush_ms > 0 ? cfg->audit_flush_ms : AUDIT_FLUSH_MS_DEFAULT;
	st->audit_queue_max = cfg->audit_queue_max > 0 ? (size_t)cfg->audit_queue_max : AUDIT_QUEUE_MAX;
	st->idle = calloc((size_t)st->max_readers, sizeof(void *));
	st->audit_batch = calloc(AUDIT_BATCH_MAX, sizeof(st->audit_batch[0]));
	pthread_mutex_init(&st->pool_lock, NULL);
	pthread_cond_init(&st->pool_cond, NULL);
	pthread_mutex_init(&st->queue_lock, NULL);
	{	/* the writer sleeps until an audit deadline: a clock that does not jump */
		pthread_condattr_t attr;

		pthread_condattr_init(&attr);
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		pthread_cond_init(&st->queue_cond, &attr);
		pthread_condattr_destroy(&attr);
	}
	pthread_cond_init(&st->audit_cond, NULL);
	pthread_cond_init(&st->sync_cond, NULL);
	pthread_cond_init(&st->durable_cond, NULL);
	if (!st->idle || !st->audit_batch) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto fail;
	}
	rc = st->ops->open(cfg, &st->backend, e);
	if (rc)
		goto fail;
	rc = st->ops->conn_open(st->backend, 1, &st->wconn, e);
	if (rc)
		goto fail;
	if (pthread_create(&st->syncer, NULL, syncer_main, st) != 0) {
		rc = err_set(e, ERR_INTERNAL, NULL, "cannot start the syncer thread");
		goto fail;
	}
	st->syncer_started = 1;
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
	if (st->writer_started) {	/* the writer drains the txns and audit records queued */
		pthread_mutex_lock(&st->queue_lock);
		st->stopping = 1;
		pthread_cond_signal(&st->queue_cond);
		pthread_cond_broadcast(&st->audit_cond);
		pthread_mutex_unlock(&st->queue_lock);
		pthread_join(st->writer, NULL);
	}
	if (st->syncer_started) {	/* then the syncer, the batches the writer left it */
		pthread_mutex_lock(&st->queue_lock);
		st->sync_stopping = 1;
		pthread_cond_signal(&st->sync_cond);
		pthread_mutex_unlock(&st->queue_lock);
		pthread_join(st->syncer, NULL);
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
	pthread_cond_destroy(&st->audit_cond);
	pthread_cond_destroy(&st->sync_cond);
	pthread_cond_destroy(&st->durable_cond);
	for (struct audit_item *it = st->audit_head, *next; it; it = next) {
		next = it->next;	/* only when the writer never started */
		free(it);
	}
	free(st->audit_batch);
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

/* ---- OAuth grants ------------------------------------------------------------ */

#define GRANTS_READ(call)                                                                  \
	do {                                                                               \
		void *conn;                                                                \
		int rc_;                                                                   \
		if (!st->ops->grant_get)                                                   \
			return err_set(e, ERR_NOT_SUPPORTED, NULL,                         \
				       "the %s store keeps no grants", st->ops->name);     \
		if ((rc_ = pool_get(st, &conn, e)))                                        \
			return rc_;                                                        \
		rc_ = (call);                                                              \
		pool_put(st, conn);                                                        \
		if (rc_)                                                                   \
			return rc_;                                                        \
	} while (0)

static int no_grants(struct store *st, struct err *e)
{
	return err_set(e, ERR_NOT_SUPPORTED, NULL, "the %s store keeps no grants", st->ops->name);
}

int store_grant_add(struct store *st, struct store_grant *g, struct err *e)
{
	return st->ops->grant_add ? st->ops->grant_add(st->backend, g, e) : no_grants(st, e);
}

int store_grant_get(struct store *st, const char *hash, struct store_grant *out, struct err *e)
{
	GRANTS_READ(st->ops->grant_get(conn, hash, out, e));
	return 0;
}

int store_grant_revoke_family(struct store *st, const char *family, int64_t now_ms,
			      store_jti_fn fn, void *ctx, struct err *e)
{
	int rc;

	if (!st->ops->grant_revoke_family)
		return no_grants(st, e);
	if ((rc = st->ops->grant_revoke_family(st->backend, family, now_ms, e)))
		return rc;
	if (fn)
		GRANTS_READ(st->ops->grant_jtis(conn, family, now_ms / 1000, fn, ctx, e));
	return 0;
}

int store_token_revoke(struct store *st, const char *jti, int64_t exp_s, struct err *e)
{
	return st->ops->token_revoke ? st->ops->token_revoke(st->backend, jti, exp_s, e)
				     : no_grants(st, e);
}

int store_tokens_revoked(struct store *st, int64_t now_ms, store_jti_fn fn, void *ctx,
			 struct err *e)
{
	int rc;

	if (!st->ops->grants_prune)
		return no_grants(st, e);
	if ((rc = st->ops->grants_prune(st->backend, now_ms, e)))
		return rc;
	GRANTS_READ(st->ops->tokens_revoked(conn, now_ms / 1000, fn, ctx, e));
	return 0;
}

/* ---- clients' keys and assertion jtis (decision 0020) ------------------------- */

static int no_client_keys(struct store *st, struct err *e)
{
	return err_set(e, ERR_NOT_SUPPORTED, NULL, "the %s store keeps no client keys",
		       st->ops->name);
}

int store_client_jwks_put(struct store *st, int64_t principal, const char *jwks, struct err *e)
{
	if (!st->ops->client_jwks_put)
		return no_client_keys(st, e);
	return st->ops->client_jwks_put(st->backend, principal, jwks, time_now_ms(), e);
}

int store_client_jwks_get(struct store *st, int64_t principal, struct buf *out,
			  int64_t *updated_ms, struct err *e)
{
	void *conn;
	int rc;

	if (!st->ops->client_jwks_get)
		return no_client_keys(st, e);
	if ((rc = pool_get(st, &conn, e)))
		return rc;
	rc = st->ops->client_jwks_get(conn, principal, out, updated_ms, e);
	pool_put(st, conn);
	return rc;
}

int store_client_jti_use(struct store *st, int64_t principal, const char *jti, int64_t exp_ms,
			 int64_t now_ms, struct err *e)
{
	if (!st->ops->client_jti_use)
		return no_client_keys(st, e);
	return st->ops->client_jti_use(st->backend, principal, jti, exp_ms, now_ms, e);
}

/* ---- the audit trail ------------------------------------------------------- */

static size_t audit_len(const char *s)
{
	return s ? strlen(s) + 1 : 1;
}

/* Copies s after the record (p advances); NULL becomes "". */
static const char *audit_copy(char **p, const char *s)
{
	const char *start = *p;
	size_t n = s ? strlen(s) : 0;

	memcpy(*p, s ? s : "", n);
	(*p)[n] = '\0';
	*p += n + 1;
	return start;
}

int store_audit(struct store *st, const struct store_audit *a, struct err *e)
{
	struct audit_item *it;
	char *p;
	size_t n;

	if (!st->ops->audit_append)
		return err_set(e, ERR_NOT_SUPPORTED, NULL, "the %s store keeps no audit trail",
			       st->ops->name);
	n = sizeof(*it) + audit_len(a->agent) + audit_len(a->action) + audit_len(a->subtype) +
	    audit_len(a->entity) + audit_len(a->patient) + audit_len(a->source) +
	    audit_len(a->purpose) + audit_len(a->detail);
	if (!(it = malloc(n)))
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	it->a = *a;
	it->a.seq = 0;
	it->a.hash[0] = '\0';
	p = (char *)(it + 1);
	it->a.agent = audit_copy(&p, a->agent);
	it->a.action = audit_copy(&p, a->action);
	it->a.subtype = audit_copy(&p, a->subtype);
	it->a.entity = audit_copy(&p, a->entity);
	it->a.patient = audit_copy(&p, a->patient);
	it->a.source = audit_copy(&p, a->source);
	it->a.purpose = audit_copy(&p, a->purpose);
	it->a.detail = audit_copy(&p, a->detail);
	it->next = NULL;

	pthread_mutex_lock(&st->queue_lock);
	if (st->audit_held >= st->audit_queue_max && !st->stopping) {
		/* Never drop one: wait for the writer; but while its commits of
		 * the trail fail (the disk is full), not for ever. */
		struct timespec until;
		int64_t give_up = time_monotonic_ms() + AUDIT_FULL_WAIT_MS;

		while (st->audit_held >= st->audit_queue_max && !st->stopping) {
			if (st->audit_fail_rc && time_monotonic_ms() >= give_up) {
				int rc = st->audit_fail_rc;

				pthread_mutex_unlock(&st->queue_lock);
				free(it);
				return err_set(e, rc, NULL, "the audit trail cannot be written (%s): %zu "
					       "records wait", err_name(rc), st->audit_queue_max);
			}
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			pthread_cond_timedwait(&st->audit_cond, &st->queue_lock, &until);
		}
	}
	if (st->stopping) {
		pthread_mutex_unlock(&st->queue_lock);
		free(it);
		return err_set(e, ERR_SHUTDOWN, NULL, "the store is closing; the audit record was "
			       "not written");
	}
	it->queued_ms = time_monotonic_ms();
	if (st->audit_tail)
		st->audit_tail->next = it;
	else
		st->audit_head = it;
	st->audit_tail = it;
	st->audit_n++;
	st->audit_held++;
	st->audit_queued++;
	/* The writer sets its timer on the first record and hurries past AUDIT_EAGER. */
	if (st->audit_n == 1 || st->audit_n == AUDIT_EAGER)
		pthread_cond_signal(&st->queue_cond);
	pthread_mutex_unlock(&st->queue_lock);
	return 0;
}

int store_audit_flush(struct store *st, struct err *e)
{
	uint64_t target, failures;
	int rc = 0;

	if (!st->ops->audit_append)
		return err_set(e, ERR_NOT_SUPPORTED, NULL, "the %s store keeps no audit trail",
			       st->ops->name);
	pthread_mutex_lock(&st->queue_lock);
	target = st->audit_queued;
	failures = st->audit_failures;
	if (st->audit_durable < target) {
		if (st->audit_flush_want < target)
			st->audit_flush_want = target;
		pthread_cond_signal(&st->queue_cond);
	}
	while (st->audit_durable < target && st->audit_failures == failures)
		pthread_cond_wait(&st->audit_cond, &st->queue_lock);
	if (st->audit_durable < target)
		rc = err_set(e, st->audit_fail_rc, NULL, "the audit trail could not be written (%s); "
			     "its records stay queued", err_name(st->audit_fail_rc));
	pthread_mutex_unlock(&st->queue_lock);
	return rc;
}

int store_audits(struct store *st, const struct store_audit_query *q, store_audit_fn fn,
		 void *ctx, struct err *e)
{
	void *conn;
	int rc;

	if (!st->ops->audits)
		return err_set(e, ERR_NOT_SUPPORTED, NULL, "the %s store keeps no audit trail",
			       st->ops->name);
	if ((rc = pool_get(st, &conn, e)))
		return rc;
	rc = st->ops->audits(conn, q, fn, ctx, e);
	pool_put(st, conn);
	return rc;
}

int store_audit_verify(struct store *st, store_audit_problem_fn fn, void *ctx, int64_t *checked,
		       struct err *e)
{
	void *conn;
	int rc;

	*checked = 0;
	if (!st->ops->audit_verify)
		return err_set(e, ERR_NOT_SUPPORTED, NULL, "the %s store keeps no audit trail",
			       st->ops->name);
	if ((rc = pool_get(st, &conn, e)))
		return rc;
	rc = st->ops->audit_verify(conn, fn, ctx, checked, e);
	pool_put(st, conn);
	return rc;
}
