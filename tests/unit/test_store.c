/* The store: versions, optimistic concurrency, history, group commit from
 * many threads, and durability across close/open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>
#include "store/store.h"
#include "store/sqlite_int.h"

static char dir[64];

static struct store *open_store(void)
{
	struct store_config cfg = { .backend = "sqlite", .data_dir = dir };
	struct store *st = NULL;
	struct err e = { 0 };

	assert_int_equal(store_open(&cfg, &st, &e), 0);
	return st;
}

static int put(struct store *st, const char *id, int64_t expect, int64_t version, const char *json)
{
	struct store_write w = { .tenant = 1, .type = "Patient", .id = id, .expect_version = expect,
				 .version = version, .last_updated_ms = 1000 * version,
				 .deleted = json == NULL, .json = json, .json_len = json ? strlen(json) : 0 };
	struct store_txn txn = { &w, 1 };
	struct err e = { 0 };

	return store_commit(st, &txn, &e);
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/lt-store-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void versions_and_conflicts(void **state)
{
	struct store *st = open_store();
	struct store_version v;
	struct err e = { 0 };

	store_version_init(&v);
	assert_int_equal(put(st, "a", 0, 1, "{\"v\":1}"), 0);
	assert_int_equal(put(st, "a", 0, 1, "{\"v\":1}"), ERR_CONFLICT);	/* already exists */
	assert_int_equal(put(st, "a", 1, 2, "{\"v\":2}"), 0);
	assert_int_equal(put(st, "a", 1, 2, "{\"v\":2}"), ERR_CONFLICT);	/* stale */
	assert_int_equal(store_read(st, 1, "Patient", "a", 0, &v, &e), 0);
	assert_int_equal(v.version, 2);
	assert_string_equal(v.json.p, "{\"v\":2}");
	assert_int_equal(store_read(st, 1, "Patient", "a", 1, &v, &e), 0);
	assert_string_equal(v.json.p, "{\"v\":1}");
	assert_int_equal(put(st, "a", 2, 3, NULL), 0);				/* delete */
	assert_int_equal(store_read(st, 1, "Patient", "a", 0, &v, &e), 0);
	assert_true(v.deleted);
	assert_int_equal(v.json.n, 0);
	assert_int_equal(store_read(st, 1, "Patient", "zz", 0, &v, &e), ERR_NOT_FOUND);
	assert_int_equal(store_read(st, 2, "Patient", "a", 0, &v, &e), ERR_NOT_FOUND);	/* other tenant */
	store_version_release(&v);
	store_close(st);
}

struct row_count { int n; int64_t last_seq; int ordered; };

static int count_row(void *ctx, const struct store_version *v)
{
	struct row_count *rc = ctx;

	if (rc->n && v->seq >= rc->last_seq)
		rc->ordered = 0;
	rc->last_seq = v->seq;
	rc->n++;
	return 0;
}

static void history_newest_first(void **state)
{
	struct store *st = open_store();
	struct store_history_query q = { .tenant = 1, .type = "Patient", .id = "h", .since_ms = INT64_MIN, .limit = 100 };
	struct row_count rc = { .ordered = 1 };
	struct err e = { 0 };

	for (int v = 1; v <= 5; v++)
		assert_int_equal(put(st, "h", v - 1, v, "{}"), 0);
	assert_int_equal(store_history(st, &q, count_row, &rc, &e), 0);
	assert_int_equal(rc.n, 5);
	assert_true(rc.ordered);
	q.since_ms = 4000;	/* versions 4 and 5 */
	rc = (struct row_count){ .ordered = 1 };
	assert_int_equal(store_history(st, &q, count_row, &rc, &e), 0);
	assert_int_equal(rc.n, 2);
	store_close(st);
}

#define THREADS 16
#define PER_THREAD 100

static void *writer_thread(void *arg)
{
	struct store *st = ((void **)arg)[0];
	long t = (long)((void **)arg)[1];
	char id[32];

	for (int i = 0; i < PER_THREAD; i++) {
		snprintf(id, sizeof(id), "t%ld-%d", t, i);
		if (put(st, id, 0, 1, "{\"resourceType\":\"Patient\"}") != 0)
			return (void *)1;
	}
	return NULL;
}

static void group_commit_from_many_threads_then_reopen(void **state)
{
	struct store *st = open_store();
	pthread_t th[THREADS];
	void *args[THREADS][2];
	struct store_history_query q = { .tenant = 1, .type = "Patient", .since_ms = INT64_MIN, .limit = 100000 };
	struct row_count rc = { .ordered = 1 };
	struct err e = { 0 };

	for (long t = 0; t < THREADS; t++) {
		args[t][0] = st;
		args[t][1] = (void *)t;
		assert_int_equal(pthread_create(&th[t], NULL, writer_thread, args[t]), 0);
	}
	for (int t = 0; t < THREADS; t++) {
		void *ret;
		pthread_join(th[t], &ret);
		assert_null(ret);
	}
	store_close(st);
	st = open_store();	/* everything acknowledged is there after reopening */
	assert_int_equal(store_history(st, &q, count_row, &rc, &e), 0);
	assert_true(rc.n >= THREADS * PER_THREAD);
	assert_true(rc.ordered);
	store_close(st);
}

static void unknown_backend_is_refused(void **state)
{
	struct store_config cfg = { .backend = "nosuch", .data_dir = dir };
	struct store *st = NULL;
	struct err e = { 0 };

	assert_int_equal(store_open(&cfg, &st, &e), ERR_CONFIG);
	assert_null(st);
}

/* ---- bulk-load mode (decision 0009) ---- */

/* One SQL count on the store's file, from a connection of the test's own. */
static int64_t sql_count(const char *sql, const char *code)
{
	char path[128];
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int64_t n = -1;

	snprintf(path, sizeof(path), "%s/lienthong.db", dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (code)
		sqlite3_bind_text(s, 1, code, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

#define VALUE_INDEXES "SELECT count(*) FROM sqlite_master WHERE type='index' AND name IN" \
	" ('ix_token_code', 'ix_string_value', 'ix_date_lo', 'ix_date_hi', 'ix_number_value'," \
	" 'ix_reference_value', 'ix_reference_url', 'ix_uri_value', 'ix_composite_value')"
/* Rows found through the token value index: it exists and holds them. */
#define TOKEN_ROWS "SELECT count(*) FROM ix_token INDEXED BY ix_token_code" \
	" WHERE tenant=1 AND param=7 AND code=?1"

static int bulk(struct store *st, const char *value)
{
	struct store_txn txn = { .meta_key = "bulk_load", .meta_value = value };
	struct err e = { 0 };

	return store_commit(st, &txn, &e);
}

/* w: a create of Patient id with one token row in ix (param 7, the given code). */
static void indexed_write(struct store_ix_rows *ix, struct store_write *w, const char *id,
			  const char *code)
{
	struct store_ix_row *r;

	store_ix_rows_init(ix);
	r = store_ix_rows_add(ix, STORE_IX_TOKEN, 7);
	assert_non_null(r);
	assert_int_equal(store_ix_rows_str(ix, r, 0, "urn:test", 8), 0);
	assert_int_equal(store_ix_rows_str(ix, r, 1, code, strlen(code)), 0);
	*w = (struct store_write){ .tenant = 1, .type = "Patient", .id = id, .version = 1,
				   .last_updated_ms = 1000, .interaction = STORE_UPDATE_CREATE,
				   .json = "{}", .json_len = 2, .index = ix };
}

/* Writes Patient id with one token row (param 7, the given code). */
static int put_indexed(struct store *st, const char *id, const char *code)
{
	struct store_ix_rows ix;
	struct store_write w;
	struct store_txn txn = { &w, 1 };
	struct err e = { 0 };
	int rc;

	indexed_write(&ix, &w, id, code);
	rc = store_commit(st, &txn, &e);
	store_ix_rows_release(&ix);
	return rc;
}

/* Txns committed together (one group commit) stay independent: the middle
 * one fails on its second write, after its first was applied, and leaves no
 * trace, index rows included; the others are committed; its error is
 * reported once. The writer applies a batch without savepoints and replays
 * it with them after such a failure (store.c). */
static void failed_txn_in_a_batch_leaves_no_trace(void **state)
{
	struct store *st = open_store();
	struct store_ix_rows ix[4];
	struct store_write w[4];
	struct store_txn txn[3] = { { &w[0], 1 }, { &w[1], 2 }, { &w[3], 1 } };
	struct store_version v;
	struct err e[3];
	int rc[3];

	memset(e, 0, sizeof(e));
	store_version_init(&v);
	assert_int_equal(put(st, "taken", 0, 1, "{}"), 0);
	indexed_write(&ix[0], &w[0], "m0", "batch-0");
	indexed_write(&ix[1], &w[1], "m1", "batch-1");
	indexed_write(&ix[2], &w[2], "taken", "batch-1");	/* exists: a conflict */
	indexed_write(&ix[3], &w[3], "m2", "batch-2");
	assert_int_equal(store_commit_many(st, txn, 3, rc, e), ERR_CONFLICT);
	assert_int_equal(rc[0], 0);
	assert_int_equal(rc[1], ERR_CONFLICT);
	assert_int_equal(e[1].n_issues, 1);
	assert_int_equal(rc[2], 0);
	assert_int_equal(store_read(st, 1, "Patient", "m1", 0, &v, &e[0]), ERR_NOT_FOUND);
	assert_int_equal(store_read(st, 1, "Patient", "m2", 0, &v, &e[0]), 0);
	assert_int_equal(sql_count(TOKEN_ROWS, "batch-0"), 1);
	assert_int_equal(sql_count(TOKEN_ROWS, "batch-1"), 0);
	assert_int_equal(sql_count(TOKEN_ROWS, "batch-2"), 1);
	for (int i = 0; i < 4; i++)
		store_ix_rows_release(&ix[i]);
	store_version_release(&v);
	store_close(st);
}

static void bulk_load_drops_then_builds_value_indexes(void **state)
{
	struct store *st = open_store();
	struct buf v;
	struct err e = { 0 };

	buf_init(&v, 0);
	assert_int_equal(sql_count(VALUE_INDEXES, NULL), 9);
	assert_int_equal(bulk(st, "on"), 0);
	assert_int_equal(sql_count(VALUE_INDEXES, NULL), 0);
	assert_int_equal(store_meta_get(st, "bulk_load", &v, &e), 0);
	assert_int_equal(put_indexed(st, "b1", "bulk-a"), 0);
	assert_int_equal(bulk(st, "off"), 0);
	assert_int_equal(sql_count(VALUE_INDEXES, NULL), 9);
	assert_int_equal(sql_count(TOKEN_ROWS, "bulk-a"), 1);
	assert_int_equal(store_meta_get(st, "bulk_load", &v, &e), ERR_NOT_FOUND);
	assert_int_equal(bulk(st, "maybe"), ERR_INTERNAL);	/* and nothing changed */
	assert_int_equal(sql_count(VALUE_INDEXES, NULL), 9);
	buf_release(&v);
	store_close(st);
}

/* A loader killed mid-load (SIGKILL, after some acknowledged commits):
 * opening the store builds the indexes; every acknowledged write is there
 * and found through them. */
static void bulk_load_killed_midway_is_whole_on_reopen(void **state)
{
	int ack[2];
	pid_t pid;
	char b;
	int acked = 0, status;

	assert_int_equal(pipe(ack), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *st = open_store();
		char id[32];

		close(ack[0]);
		if (bulk(st, "on"))
			_exit(1);
		for (int i = 0;; i++) {
			snprintf(id, sizeof(id), "k%d", i);
			if (put_indexed(st, id, "killed") || write(ack[1], "", 1) != 1)
				_exit(1);
		}
	}
	close(ack[1]);
	while (acked < 50 && read(ack[0], &b, 1) == 1)
		acked++;
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	while (read(ack[0], &b, 1) == 1)	/* acknowledged before the kill landed */
		acked++;
	close(ack[0]);
	assert_int_equal(acked >= 50, 1);
	assert_int_equal(sql_count(VALUE_INDEXES, NULL), 0);	/* the load's state, as left */
	{
		struct store *st = open_store();
		struct buf v;
		struct err e = { 0 };

		buf_init(&v, 0);
		assert_int_equal(sql_count(VALUE_INDEXES, NULL), 9);
		assert_true(sql_count(TOKEN_ROWS, "killed") >= acked);
		assert_int_equal(store_meta_get(st, "bulk_load", &v, &e), ERR_NOT_FOUND);
		buf_release(&v);
		store_close(st);
	}
	assert_int_equal(sql_count("SELECT count(*) FROM pragma_integrity_check WHERE integrity_check != 'ok'",
				   NULL), 0);
}

/* ---- apps and OAuth grants (decision 0019) ---- */

static void sql_exec(const char *sql)
{
	char path[128];
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/lienthong.db", dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* A store of schema 2 (principal without the app columns) is brought up to
 * date when opened, and keeps its accounts. */
static void schema_2_principals_gain_app_columns(void **state)
{
	struct store *st = open_store();
	struct store_principal p = { .tenant = 1, .kind = "client", .name = "old-lis",
				     .secret = "sha256:00", .scopes = "system/*.rs" }, q;
	struct err e = { 0 };

	assert_int_equal(store_principal_put(st, &p, &e), 0);
	store_close(st);
	sql_exec("ALTER TABLE principal DROP COLUMN redirect_uris;"
		 "ALTER TABLE principal DROP COLUMN public;"
		 "UPDATE store_meta SET value='2' WHERE key='schema_version'");
	assert_int_equal(sql_count("SELECT count(*) FROM pragma_table_info('principal')", NULL), 15);
	st = open_store();
	assert_int_equal(sql_count("SELECT value FROM store_meta WHERE key='schema_version'", NULL), 3);
	assert_int_equal(store_principal_get(st, "client", "old-lis", &q, &e), 0);
	assert_string_equal(q.redirect_uris, "");
	assert_int_equal(q.is_public, 0);
	snprintf(q.redirect_uris, sizeof(q.redirect_uris), "https://app.vn/cb http://localhost:3000/cb");
	q.is_public = 1;
	assert_int_equal(store_principal_put(st, &q, &e), 0);
	memset(&q, 0, sizeof(q));
	assert_int_equal(store_principal_get(st, "client", "old-lis", &q, &e), 0);
	assert_string_equal(q.redirect_uris, "https://app.vn/cb http://localhost:3000/cb");
	assert_int_equal(q.is_public, 1);
	assert_string_equal(q.scopes, "system/*.rs");
	store_close(st);
	/* opened again: nothing more to do */
	st = open_store();
	assert_int_equal(store_principal_get(st, "client", "old-lis", &q, &e), 0);
	assert_int_equal(q.is_public, 1);
	store_close(st);
}

static struct store_grant grant_of(const char *hash, const char *family, int64_t parent,
				   const char *jti, int64_t now_ms)
{
	struct store_grant g = { .parent = parent, .tenant = 1, .client = "app", .user = "bs-lan",
				 .scope = "user/*.rs offline_access", .created_ms = now_ms,
				 .expires_ms = now_ms + 86400000, .jti_exp_s = now_ms / 1000 + 900 };

	snprintf(g.hash, sizeof(g.hash), "%s", hash);
	snprintf(g.family, sizeof(g.family), "%s", family);
	snprintf(g.jti, sizeof(g.jti), "%s", jti);
	return g;
}

struct jtis {
	int n;
	char seen[8][STORE_JTI_MAX];
};

static int collect_jti(void *ctx, const char *jti, int64_t exp_s)
{
	struct jtis *j = ctx;

	assert_true(exp_s > 0);
	if (j->n < 8)
		snprintf(j->seen[j->n++], STORE_JTI_MAX, "%s", jti);
	return 0;
}

static void grants_rotate_reuse_revoke(void **state)
{
	struct store *st = open_store();
	int64_t now = 1800000000000;
	struct store_grant a = grant_of("h1", "fam1", 0, "jti-1", now), b, c, got;
	struct jtis j = { 0 };
	struct err e = { 0 };

	assert_int_equal(store_grant_add(st, &a, &e), 0);
	assert_true(a.id > 0);
	assert_int_equal(store_grant_get(st, "h1", &got, &e), 0);
	assert_int_equal(got.id, a.id);
	assert_string_equal(got.family, "fam1");
	assert_string_equal(got.user, "bs-lan");
	assert_string_equal(got.scope, "user/*.rs offline_access");
	assert_int_equal(got.parent, 0);
	assert_int_equal(got.spent, 0);
	assert_int_equal(store_grant_get(st, "nope", &got, &e), ERR_NOT_FOUND);
	err_clear(&e);

	/* a use adds the successor; the first token is spent */
	b = grant_of("h2", "fam1", a.id, "jti-2", now);
	assert_int_equal(store_grant_add(st, &b, &e), 0);
	assert_int_equal(store_grant_get(st, "h1", &got, &e), 0);
	assert_int_equal(got.spent, 1);
	assert_int_equal(store_grant_get(st, "h2", &got, &e), 0);
	assert_int_equal(got.spent, 0);
	assert_int_equal(got.parent, a.id);
	/* a second successor of the same token: the loser of a race */
	c = grant_of("h3", "fam1", a.id, "jti-3", now);
	assert_int_equal(store_grant_add(st, &c, &e), ERR_CONFLICT);
	err_clear(&e);

	/* another login's family is untouched by this one's revocation */
	c = grant_of("h9", "fam2", 0, "jti-9", now);
	assert_int_equal(store_grant_add(st, &c, &e), 0);

	assert_int_equal(store_grant_revoke_family(st, "fam1", now, collect_jti, &j, &e), 0);
	assert_int_equal(j.n, 2);
	assert_int_equal(store_grant_get(st, "h2", &got, &e), 0);
	assert_true(got.revoked_ms == now);
	assert_int_equal(store_grant_get(st, "h9", &got, &e), 0);
	assert_int_equal(got.revoked_ms, 0);
	/* nothing is added to a revoked family */
	c = grant_of("h4", "fam1", b.id, "jti-4", now);
	assert_int_equal(store_grant_add(st, &c, &e), ERR_CONFLICT);
	err_clear(&e);

	/* revoked access tokens are durable, until they expire */
	assert_int_equal(store_token_revoke(st, "jti-x", now / 1000 + 60, &e), 0);
	assert_int_equal(store_token_revoke(st, "jti-x", now / 1000 + 30, &e), 0);	/* keeps the later */
	assert_int_equal(store_token_revoke(st, "jti-old", now / 1000 - 1, &e), 0);
	store_close(st);
	st = open_store();
	memset(&j, 0, sizeof(j));
	assert_int_equal(store_tokens_revoked(st, now, collect_jti, &j, &e), 0);
	assert_int_equal(j.n, 3);		/* jti-1, jti-2, jti-x; jti-old pruned */
	for (int i = 0; i < j.n; i++)
		assert_string_not_equal(j.seen[i], "jti-old");
	assert_int_equal(sql_count("SELECT count(*) FROM oauth_revoked WHERE jti='jti-old'", NULL), 0);
	/* expired refresh tokens are pruned too */
	memset(&j, 0, sizeof(j));
	assert_int_equal(store_tokens_revoked(st, now + 86400000 + 1, collect_jti, &j, &e), 0);
	assert_int_equal(j.n, 0);
	assert_int_equal(store_grant_get(st, "h9", &got, &e), ERR_NOT_FOUND);
	store_close(st);
}

/* ---- the message log (decision 0014) ---- */

/* The plan SQLite chooses for a message log query: 1 when it searches
 * message_log by index, 0 when it walks the whole log. */
static int plan_uses(const struct store_message_query *q, const char *index)
{
	char path[128], want[128];
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	struct buf sql, plan;
	int found = 0;

	buf_init(&sql, 0);
	buf_init(&plan, 0);
	assert_int_equal(buf_puts(&sql, "EXPLAIN QUERY PLAN "), 0);
	assert_int_equal(sqlite_message_sql(q, &sql), 0);
	snprintf(path, sizeof(path), "%s/lienthong.db", dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql.p, (int)sql.n, &s, NULL), SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW)
		assert_int_equal(buf_printf(&plan, "%s\n", sqlite3_column_text(s, 3)), 0);
	snprintf(want, sizeof(want), "SEARCH message_log USING INDEX %s", index);
	found = plan.p && strstr(plan.p, want) != NULL;
	if (!found)
		print_message("plan: %s", plan.p ? plan.p : "");
	sqlite3_finalize(s);
	sqlite3_close(db);
	buf_release(&sql);
	buf_release(&plan);
	return found;
}

/* The duplicate check of every HL7 message (sender + control id) finds the
 * earlier entry by message_log_control. It used to walk message_log_received
 * newest first to skip a sort, reading the whole log for each message. */
static void message_log_control_id_lookup_uses_its_index(void **state)
{
	struct store *st = open_store();
	struct store_message_query dup = { .tenant = STORE_DEFAULT_TENANT, .channel = "hl7v2",
					   .sender = "LAB|HOSP", .control_id = "MSG1",
					   .accepted_only = 1, .limit = 1 };
	struct store_message_query recent = { .tenant = STORE_DEFAULT_TENANT, .limit = 50 };

	store_close(st);
	assert_true(plan_uses(&dup, "message_log_control"));
	assert_true(plan_uses(&recent, "message_log_received"));
}

/* The checkpointer (sqlite_checkpoint.c): under a stream of commits, its
 * thread does the copying and the writer copies only what came during the
 * thread's last pass; the WAL starts again, so it stays near its threshold;
 * and every commit is there after. */
static void checkpoints_leave_the_writer(void **state)
{
	enum { THRESHOLD = 64, COMMITS = 3000 };
	char path[PATH_MAX], wal[PATH_MAX + 4], blob[3000];
	struct sqlite_checkpointer *k = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	long passes = 0, by_writer = 0;
	FILE *f;
	long wal_bytes;

	snprintf(path, sizeof(path), "%s/ck.db", dir);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	memset(blob, 'x', sizeof(blob));
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA page_size=4096; PRAGMA journal_mode=WAL;"
				      " PRAGMA synchronous=NORMAL; CREATE TABLE t(v BLOB);", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite_checkpointer_start(db, path, THRESHOLD, &k), 0);
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?)", -1, &s, NULL), SQLITE_OK);
	for (int i = 0; i < COMMITS; i++) {	/* a page and a bit each */
		sqlite3_bind_blob(s, 1, blob, sizeof(blob), SQLITE_STATIC);
		assert_int_equal(sqlite3_step(s), SQLITE_DONE);
		sqlite3_reset(s);
		if (i % 32 == 0)
			usleep(2000);	/* room for the thread's passes */
	}
	sqlite3_finalize(s);
	sqlite_checkpointer_counts(k, &passes, &by_writer);
	assert_true(passes > 0);
	assert_true(by_writer > 0);	/* the rest, so that the WAL starts again */
	f = fopen(wal, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	wal_bytes = ftell(f);
	fclose(f);
	/* Without checkpoints: COMMITS pages and more; with SQLite's own
	 * alone, 1,000 pages. The writer takes over at four thresholds, and
	 * the WAL starts again once a copy has caught up with it. */
	assert_true(wal_bytes < 10L * THRESHOLD * (4096 + 24) + 32);
	sqlite_checkpointer_stop(k, db);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), COMMITS);
	sqlite3_finalize(s);
	sqlite3_close(db);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(versions_and_conflicts),
		cmocka_unit_test(history_newest_first),
		cmocka_unit_test(group_commit_from_many_threads_then_reopen),
		cmocka_unit_test(unknown_backend_is_refused),
		cmocka_unit_test(failed_txn_in_a_batch_leaves_no_trace),
		cmocka_unit_test(bulk_load_drops_then_builds_value_indexes),
		cmocka_unit_test(bulk_load_killed_midway_is_whole_on_reopen),
		cmocka_unit_test(schema_2_principals_gain_app_columns),
		cmocka_unit_test(grants_rotate_reuse_revoke),
		cmocka_unit_test(message_log_control_id_lookup_uses_its_index),
		cmocka_unit_test_setup_teardown(checkpoints_leave_the_writer, setup, teardown),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
