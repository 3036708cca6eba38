/*
 * sqlite_checkpoint.c — the writer's checkpoints, copied off its thread
 * (decision 0036).
 *
 * A checkpoint copies the pages of the WAL into the database file, so that
 * the WAL can start again from its beginning. SQLite's automatic checkpoint
 * runs on the connection that committed, after the commit: on the writer
 * thread, which then takes no batch until it is done. Under the HL7
 * benchmark a checkpoint of 256 MiB of WAL took 70–170 ms, once every second
 * or so, and every message that arrived meanwhile waited for it: that was
 * the ACK's p99.
 *
 * Here a thread of its own, on a connection of its own, copies the pages
 * with a PASSIVE checkpoint, which runs beside the writer's commits. It
 * copies the WAL up to its end when it starts, and the writer commits
 * meanwhile; so at its next commit the writer copies the rest itself (a
 * second PASSIVE checkpoint, of what came since: a few milliseconds), after
 * which the WAL starts again. If the thread falls far behind (the WAL four
 * times the threshold), the writer copies it all as before.
 *
 * The audit trail, attached to the writer's connection, keeps SQLite's
 * rule: its WAL grows slowly, and the writer checkpoints it itself.
 */
#include "sqlite_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "../base/log.h"

enum { CK_IDLE, CK_WANTED, CK_COPYING, CK_COPIED };

#define CK_PASSES 4		/* at most, per checkpoint */
#define CK_TAIL_PAGES 512	/* added during a pass: few enough for the writer */

struct sqlite_checkpointer {
	sqlite3 *db;			/* its own connection to the database */
	int threshold;			/* WAL pages that call for a checkpoint */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int state;			/* CK_*, under lock; read without it by the hook */
	int stopping;
	long passes, by_writer;		/* checkpoints of main so far: the thread's, the writer's */
};

static void *checkpointer_main(void *arg)
{
	struct sqlite_checkpointer *k = arg;

	pthread_mutex_lock(&k->lock);
	for (;;) {
		int rc;

		while (k->state != CK_WANTED && !k->stopping)
			pthread_cond_wait(&k->cond, &k->lock);
		if (k->stopping)
			break;
		__atomic_store_n(&k->state, CK_COPYING, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&k->lock);
		/* Again while the writer added much during the last pass: each
		 * pass copies only what came since, and the writer's own copy of
		 * the rest (on_commit) is the shorter. */
		for (int pass = 0, last = 0, log = 0; pass < CK_PASSES; pass++, last = log) {
			rc = sqlite3_wal_checkpoint_v2(k->db, "main", SQLITE_CHECKPOINT_PASSIVE, &log,
						       NULL);
			__atomic_add_fetch(&k->passes, 1, __ATOMIC_RELAXED);
			if (rc != SQLITE_OK) {
				if (rc != SQLITE_BUSY)	/* the data stay in the WAL */
					log_warn("sqlite: checkpoint: %s", sqlite3_errmsg(k->db));
				break;
			}
			if (log - last < CK_TAIL_PAGES)
				break;
		}
		pthread_mutex_lock(&k->lock);
		__atomic_store_n(&k->state, CK_COPIED, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

/* sqlite3_wal_hook: on the writer thread, after each commit, with the
 * pages now in db's WAL. */
static int on_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct sqlite_checkpointer *k = arg;
	int copy = 0;

	if (strcmp(name, "main") != 0) {	/* the audit trail: as SQLite would */
		if (pages >= k->threshold)
			sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		return SQLITE_OK;
	}
	if (pages < k->threshold && __atomic_load_n(&k->state, __ATOMIC_ACQUIRE) != CK_COPIED)
		return SQLITE_OK;
	pthread_mutex_lock(&k->lock);
	if (k->state == CK_COPIED) {	/* the rest, unless the WAL started again */
		__atomic_store_n(&k->state, CK_IDLE, __ATOMIC_RELEASE);
		copy = pages >= k->threshold;
	} else if (k->state == CK_IDLE) {
		__atomic_store_n(&k->state, CK_WANTED, __ATOMIC_RELEASE);
		pthread_cond_signal(&k->cond);
	} else if (pages >= 4 * k->threshold) {
		copy = 1;	/* far behind: the thread and the writer take turns */
	}
	pthread_mutex_unlock(&k->lock);
	if (copy) {
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		__atomic_add_fetch(&k->by_writer, 1, __ATOMIC_RELAXED);
	}
	return SQLITE_OK;
}

void sqlite_checkpointer_counts(struct sqlite_checkpointer *k, long *passes, long *by_writer)
{
	*passes = __atomic_load_n(&k->passes, __ATOMIC_RELAXED);
	*by_writer = __atomic_load_n(&k->by_writer, __ATOMIC_RELAXED);
}

int sqlite_checkpointer_start(sqlite3 *writer, const char *path, int threshold,
			      struct sqlite_checkpointer **out)
{
	struct sqlite_checkpointer *k = calloc(1, sizeof(*k));

	*out = NULL;
	if (!k)
		return -1;
	k->threshold = threshold > 0 ? threshold : 1;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->cond, NULL);
	/* The schema read makes the connection find the WAL: until it has
	 * read the database, it checkpoints nothing. */
	if (sqlite3_open_v2(path, &k->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
		    SQLITE_OK ||
	    sqlite3_exec(k->db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL) != SQLITE_OK ||
	    pthread_create(&k->thread, NULL, checkpointer_main, k) != 0) {
		sqlite3_close(k->db);
		pthread_cond_destroy(&k->cond);
		pthread_mutex_destroy(&k->lock);
		free(k);
		return -1;
	}
	sqlite3_wal_hook(writer, on_commit, k);	/* replaces the automatic checkpoint */
	*out = k;
	return 0;
}

void sqlite_checkpointer_stop(struct sqlite_checkpointer *k, sqlite3 *writer)
{
	if (!k)
		return;
	sqlite3_wal_autocheckpoint(writer, k->threshold);	/* the hook's k is going */
	pthread_mutex_lock(&k->lock);
	k->stopping = 1;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->thread, NULL);
	sqlite3_close(k->db);
	pthread_cond_destroy(&k->cond);
	pthread_mutex_destroy(&k->lock);
	free(k);
}
