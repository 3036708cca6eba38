/* The audit trail of the store (decision 0016): the queue and the writer's
 * batches, the hash chain across a failed batch, store_close, queries, the
 * key file, and what verify finds after the database is edited by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>
#include "base/time.h"
#include "store/store.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/lt-audit-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static struct store *open_store_cfg(int flush_ms, int index_batch)
{
	struct store_config cfg = { .backend = "sqlite", .data_dir = dir, .audit_flush_ms = flush_ms,
				    .audit_index_batch = index_batch };
	struct store *st = NULL;
	struct err e = { 0 };

	assert_int_equal(store_open(&cfg, &st, &e), 0);
	return st;
}

static struct store *open_store_flush(int flush_ms)
{
	return open_store_cfg(flush_ms, 0);
}

static struct store *open_store(void)
{
	return open_store_flush(0);
}

static void record(struct store_audit *a, int64_t at, const char *agent, const char *patient)
{
	memset(a, 0, sizeof(*a));
	a->tenant = 1;
	a->at_ms = at;
	a->agent = agent;
	a->action = "R";
	a->subtype = "read";
	a->entity = patient && *patient ? patient : "Observation/1";
	a->patient = patient;
	a->source = "127.0.0.1";
	a->outcome = 200;
	a->purpose = "TREAT";
	a->detail = "";
}

static int audit(struct store *st, int64_t at, const char *agent, const char *patient)
{
	struct store_audit a;
	struct err e = { 0 };

	record(&a, at, agent, patient);
	return store_audit(st, &a, &e);
}

/* The store's files opened beside it: lienthong.db, with the audit
 * trail's file attached as "trail" (decision 0023). */
static sqlite3 *open_files(int flags)
{
	char path[128];
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/lienthong.db", dir);
	assert_int_equal(sqlite3_open_v2(path, &db, flags, NULL), SQLITE_OK);
	snprintf(path, sizeof(path), "ATTACH '%s/audit.db' AS trail", dir);
	assert_int_equal(sqlite3_exec(db, path, NULL, NULL, NULL), SQLITE_OK);
	return db;
}

/* One value from SQL on the database files, read beside the store. */
static int64_t sql_int(const char *sql)
{
	sqlite3 *db = open_files(SQLITE_OPEN_READONLY);
	sqlite3_stmt *s = NULL;
	int64_t n = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

/* Changes the database by hand, as someone with file access could. */
static void sql_exec(const char *sql)
{
	sqlite3 *db = open_files(SQLITE_OPEN_READWRITE);
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

/* "SEQ what" lines of what verify found, joined by '\n'. */
struct found {
	char text[4096];
	int n;
};

static int on_problem(void *ctx, const struct store_audit_problem *p)
{
	struct found *f = ctx;
	size_t used = strlen(f->text);

	snprintf(f->text + used, sizeof(f->text) - used, "%lld %s\n", (long long)p->seq, p->what);
	f->n++;
	return 0;
}

static int64_t verify(struct store *st, struct found *f)
{
	struct err e = { 0 };
	int64_t checked = -1;

	memset(f, 0, sizeof(*f));
	assert_int_equal(store_audit_verify(st, on_problem, f, &checked, &e), 0);
	return checked;
}

/* ---- the queue and the writer ---------------------------------------------- */

#define THREADS 8
#define PER_THREAD 12000	/* 96,000: more than the queue holds, so some callers wait */

static void *appender(void *arg)
{
	struct store *st = arg;
	char agent[32];

	snprintf(agent, sizeof(agent), "user/t%lu", (unsigned long)pthread_self() % 1000);
	for (int i = 0; i < PER_THREAD; i++)
		if (audit(st, 1000 + i, agent, i % 3 ? "Patient/p1" : ""))
			return (void *)1;
	return NULL;
}

static void many_threads_give_a_contiguous_verified_chain(void **state)
{
	struct store *st = open_store();
	pthread_t t[THREADS];
	struct found f;
	struct err e = { 0 };

	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, appender, st), 0);
	for (int i = 0; i < THREADS; i++) {
		void *r;

		assert_int_equal(pthread_join(t[i], &r), 0);
		assert_null(r);
	}
	assert_int_equal(store_audit_flush(st, &e), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM audit"), THREADS * PER_THREAD);
	assert_int_equal(sql_int("SELECT min(seq) FROM audit"), 1);
	assert_int_equal(sql_int("SELECT max(seq) FROM audit"), THREADS * PER_THREAD);
	assert_int_equal(verify(st, &f), THREADS * PER_THREAD);
	assert_string_equal(f.text, "");
	store_close(st);
}

/* PRAGMA data_version of lienthong.db as seen by a connection held open:
 * it changes when another connection commits to that file, which is when
 * readers drop their page caches. */
static int64_t data_version(sqlite3 *db)
{
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA main.data_version", -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* Records commit apart from the writes (decision 0023): a write does not
 * wait for them, and their commits never change lienthong.db, so readers
 * keep their caches however much is audited. */
static void records_commit_apart_from_writes(void **state)
{
	struct store *st = open_store_flush(600000);
	struct store_write w = { .tenant = 1, .type = "Patient", .id = "w1", .version = 1,
				 .last_updated_ms = 1, .json = "{}", .json_len = 2 };
	struct store_txn txn = { &w, 1 };
	struct err e = { 0 };
	sqlite3 *reader = open_files(SQLITE_OPEN_READONLY);
	int64_t v;

	assert_int_equal(audit(st, 1, "user/a", "Patient/w1"), 0);
	assert_int_equal(audit(st, 2, "user/a", "Patient/w1"), 0);
	v = data_version(reader);
	assert_int_equal(store_commit(st, &txn, &e), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM resource_version"), 1);
	assert_int_not_equal(data_version(reader), v);	/* the write changed lienthong.db */
	assert_int_equal(sql_int("SELECT count(*) FROM audit"), 0);	/* not yet */
	assert_int_equal(store_audit_flush(st, &e), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM audit"), 2);
	assert_int_equal(audit(st, 3, "user/a", "Patient/w1"), 0);
	assert_int_equal(store_audit_flush(st, &e), 0);	/* the second: lienthong.db is marked, once */
	v = data_version(reader);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(audit(st, 4 + i, "user/a", "Patient/w1"), 0);
		if (i % 10 == 0)
			assert_int_equal(store_audit_flush(st, &e), 0);
	}
	assert_int_equal(store_audit_flush(st, &e), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM audit"), 53);
	assert_int_equal(data_version(reader), v);	/* the audit commits did not */
	sqlite3_close(reader);
	store_close(st);
}

/* Without writes, the writer commits them alone within audit_flush_ms. */
static void records_alone_are_committed_within_the_flush_delay(void **state)
{
	struct store *st = open_store_flush(50);
	int64_t start = time_monotonic_ms(), took;

	assert_int_equal(audit(st, 1, "user/a", ""), 0);
	while (sql_int("SELECT count(*) FROM audit") == 0 && time_monotonic_ms() - start < 5000)
		usleep(5000);
	took = time_monotonic_ms() - start;
	assert_int_equal(sql_int("SELECT count(*) FROM audit"), 1);
	assert_true(took < 2000);
	store_close(st);
}

static void close_flushes(void **state)
{
	struct store *st = open_store_flush(600000);
	struct found f;

	for (int i = 0; i < 100; i++)
		assert_int_equal(audit(st, i, "user/a", "Patient/x"), 0);
	store_close(st);
	assert_int_equal(sql_int("SELECT count(*) FROM audit"), 100);
	st = open_store();
	assert_int_equal(verify(st, &f), 100);
	assert_string_equal(f.text, "");
	store_close(st);
}

/* A txn that fails after writing makes the writer roll the batch back and
 * replay it: the records queued meanwhile are appended once, and the
 * chain goes on from the last committed head. */
static void failed_txn_in_a_batch_keeps_the_chain(void **state)
{
	struct store *st = open_store_flush(600000);
	struct store_write w[4] = {
		{ .tenant = 1, .type = "Patient", .id = "taken", .version = 1, .json = "{}", .json_len = 2 },
		{ .tenant = 1, .type = "Patient", .id = "m0", .version = 1, .json = "{}", .json_len = 2 },
		{ .tenant = 1, .type = "Patient", .id = "m1", .version = 1, .json = "{}", .json_len = 2 },
		{ .tenant = 1, .type = "Patient", .id = "m2", .version = 1, .json = "{}", .json_len = 2 },
	};
	struct store_write again = w[0];	/* exists already: a conflict, after m1 was written */
	struct store_write second[2] = { w[2], again };
	struct store_txn first = { &w[0], 1 };
	struct store_txn txn[3] = { { &w[1], 1 }, { second, 2 }, { &w[3], 1 } };
	struct found f;
	struct err e[3];
	int rc[3];

	memset(e, 0, sizeof(e));
	assert_int_equal(audit(st, 1, "user/a", "Patient/taken"), 0);
	assert_int_equal(store_commit(st, &first, &e[0]), 0);
	assert_int_equal(store_audit_flush(st, &e[0]), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM audit"), 1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(audit(st, 10 + i, "user/b", "Patient/m"), 0);
	assert_int_equal(store_commit_many(st, txn, 3, rc, e), ERR_CONFLICT);
	assert_int_equal(rc[0], 0);
	assert_int_equal(rc[1], ERR_CONFLICT);
	assert_int_equal(rc[2], 0);
	assert_int_equal(store_audit_flush(st, &e[0]), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM resource_version WHERE id='m1'"), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM audit"), 6);	/* once each */
	assert_int_equal(sql_int("SELECT max(seq) FROM audit"), 6);
	assert_int_equal(sql_int("SELECT count(*) FROM audit WHERE agent='user/b'"), 5);
	assert_int_equal(verify(st, &f), 6);
	assert_string_equal(f.text, "");
	/* And records queued with a batch in which every txn fails are kept. */
	assert_int_equal(audit(st, 20, "user/c", ""), 0);
	assert_int_equal(store_commit(st, &first, &e[0]), ERR_CONFLICT);
	assert_int_equal(store_audit_flush(st, &e[0]), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM audit WHERE agent='user/c'"), 1);
	assert_int_equal(verify(st, &f), 7);
	assert_string_equal(f.text, "");
	store_close(st);
}

/* A commit of audit records that fails (here a trigger that refuses one,
 * standing in for a full disk) puts them back in the queue in order: none
 * lost, none twice, the chain whole. Writes go on meanwhile: the records
 * are in a file of their own (decision 0023). */
static void records_survive_a_failed_commit(void **state)
{
	struct store *st = open_store_flush(600000);
	struct store_write w = { .tenant = 1, .type = "Patient", .id = "f1", .version = 1,
				 .json = "{}", .json_len = 2 };
	struct store_txn txn = { &w, 1 };
	struct found f;
	struct err e = { 0 };

	assert_int_equal(audit(st, 1, "user/a", ""), 0);
	assert_int_equal(store_audit_flush(st, &e), 0);
	sql_exec("CREATE TRIGGER trail.refuse BEFORE INSERT ON audit"
		 " WHEN NEW.agent='user/refused' BEGIN SELECT RAISE(ABORT, 'injected'); END");
	assert_int_equal(audit(st, 2, "user/b", ""), 0);
	assert_int_equal(audit(st, 3, "user/refused", ""), 0);
	assert_int_equal(audit(st, 4, "user/c", ""), 0);
	assert_int_equal(store_commit(st, &txn, &e), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM resource_version"), 1);
	memset(&e, 0, sizeof(e));
	assert_int_not_equal(store_audit_flush(st, &e), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM audit"), 1);
	sql_exec("DROP TRIGGER trail.refuse");
	assert_int_equal(audit(st, 5, "user/d", ""), 0);
	memset(&e, 0, sizeof(e));
	assert_int_equal(store_audit_flush(st, &e), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM audit"), 5);
	assert_int_equal(sql_int("SELECT count(*) FROM audit WHERE at_ms = seq"), 5);	/* in order */
	assert_int_equal(verify(st, &f), 5);
	assert_string_equal(f.text, "");
	store_close(st);
}

/* ---- queries ---------------------------------------------------------------- */

struct seen {
	int64_t seq[64];
	int n;
};

static int on_audit(void *ctx, const struct store_audit *a)
{
	struct seen *s = ctx;

	assert_int_equal(strlen(a->hash), 64);
	if (s->n < 64)
		s->seq[s->n++] = a->seq;
	return 0;
}

static void query(struct store *st, const struct store_audit_query *q, struct seen *s)
{
	struct err e = { 0 };

	memset(s, 0, sizeof(*s));
	assert_int_equal(store_audits(st, q, on_audit, s, &e), 0);
}

static void queries_filter_and_page_newest_first(void **state)
{
	struct store *st = open_store();
	struct store_audit a;
	struct store_audit_query q = { .tenant = 1 };
	struct seen s;
	struct err e = { 0 };

	/* seq 1..6 */
	assert_int_equal(audit(st, 100, "user/a", "Patient/1"), 0);
	assert_int_equal(audit(st, 200, "user/b", "Patient/2"), 0);
	assert_int_equal(audit(st, 300, "user/a", "Patient/2"), 0);
	record(&a, 400, "user/c", "Patient/1");
	a.flags = STORE_AUDIT_BREAK_GLASS;
	a.purpose = "ETREAT";
	a.detail = "unconscious in the emergency room";
	assert_int_equal(store_audit(st, &a, &e), 0);
	record(&a, 500, "user/a", "Patient/1");
	a.tenant = 2;
	assert_int_equal(store_audit(st, &a, &e), 0);
	assert_int_equal(audit(st, 600, "user/b", ""), 0);
	assert_int_equal(store_audit_flush(st, &e), 0);

	query(st, &q, &s);
	assert_int_equal(s.n, 5);
	assert_int_equal(s.seq[0], 6);
	assert_int_equal(s.seq[4], 1);
	q.patient = "Patient/1";
	query(st, &q, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.seq[0], 4);
	assert_int_equal(s.seq[1], 1);
	q.patient = NULL;
	q.agent = "user/a";
	query(st, &q, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.seq[0], 3);
	q.agent = NULL;
	q.since_ms = 200;
	q.until_ms = 400;
	query(st, &q, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.seq[0], 3);
	assert_int_equal(s.seq[1], 2);
	q.since_ms = q.until_ms = 0;
	q.flags = STORE_AUDIT_BREAK_GLASS;
	query(st, &q, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.seq[0], 4);
	q.flags = 0;
	q.tenant = 0;	/* every tenant */
	query(st, &q, &s);
	assert_int_equal(s.n, 6);
	/* Paging: two at a time by keyset. */
	q.tenant = 1;
	q.limit = 2;
	query(st, &q, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.seq[0], 6);	/* 5 is tenant 2's */
	assert_int_equal(s.seq[1], 4);
	q.before_seq = s.seq[1];
	query(st, &q, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.seq[0], 3);
	assert_int_equal(s.seq[1], 2);
	q.before_seq = s.seq[1];
	query(st, &q, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.seq[0], 1);
	q.before_seq = 1;
	query(st, &q, &s);
	assert_int_equal(s.n, 0);
	store_close(st);
}

/* The strings come back as they went in. */
static int check_fields(void *ctx, const struct store_audit *a)
{
	assert_int_equal(a->tenant, 1);
	assert_int_equal(a->at_ms, 400);
	assert_string_equal(a->agent, "user/c");
	assert_string_equal(a->action, "R");
	assert_string_equal(a->subtype, "read");
	assert_string_equal(a->entity, "Patient/1");
	assert_string_equal(a->patient, "Patient/1");
	assert_string_equal(a->source, "127.0.0.1");
	assert_int_equal(a->outcome, 200);
	assert_string_equal(a->purpose, "ETREAT");
	assert_int_equal(a->flags, STORE_AUDIT_BREAK_GLASS);
	assert_string_equal(a->detail, "why");
	(*(int *)ctx)++;
	return 0;
}

static void fields_round_trip(void **state)
{
	struct store *st = open_store();
	struct store_audit a;
	struct store_audit_query q = { .tenant = 1 };
	struct err e = { 0 };
	int n = 0;

	record(&a, 400, "user/c", "Patient/1");
	a.flags = STORE_AUDIT_BREAK_GLASS;
	a.purpose = "ETREAT";
	a.detail = "why";
	assert_int_equal(store_audit(st, &a, &e), 0);
	assert_int_equal(store_audit_flush(st, &e), 0);
	assert_int_equal(store_audits(st, &q, check_fields, &n, &e), 0);
	assert_int_equal(n, 1);
	store_close(st);
}

/* ---- the key ---------------------------------------------------------------- */

static void key_is_made_private_and_required(void **state)
{
	char path[160];
	struct stat sb;
	struct store_config cfg = { .backend = "sqlite", .data_dir = dir };
	struct store *st = open_store();
	struct err e = { 0 };
	FILE *f;

	snprintf(path, sizeof(path), "%s/keys", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/keys/audit.key", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(sb.st_size, 32);
	store_close(st);

	/* No records yet: a lost key is simply made again. */
	assert_int_equal(unlink(path), 0);
	st = open_store();
	assert_int_equal(audit(st, 1, "user/a", ""), 0);
	store_close(st);
	/* With records: refused, and said why. */
	assert_int_equal(rename(path, "/tmp/lt-audit-key-aside"), 0);
	assert_int_equal(store_open(&cfg, &st, &e), ERR_CONFIG);
	assert_null(st);
	assert_non_null(strstr(e.issue[0].diagnostics, "audit.key is missing"));
	/* A key of the wrong size: refused. */
	assert_non_null(f = fopen(path, "w"));
	fputs("short", f);
	fclose(f);
	memset(&e, 0, sizeof(e));
	assert_int_equal(store_open(&cfg, &st, &e), ERR_CONFIG);
	assert_non_null(strstr(e.issue[0].diagnostics, "must be 32"));
	/* The right key back: all well. */
	assert_int_equal(rename("/tmp/lt-audit-key-aside", path), 0);
	st = open_store();
	{
		struct found found;

		assert_int_equal(verify(st, &found), 1);
		assert_string_equal(found.text, "");
	}
	store_close(st);
}

/* ---- what verify finds ------------------------------------------------------ */

/* A trail of 10 records (seq 1..10), the store closed. */
static void make_trail(void)
{
	struct store *st = open_store();
	char agent[16];

	for (int i = 1; i <= 10; i++) {
		snprintf(agent, sizeof(agent), "user/u%d", i);
		assert_int_equal(audit(st, 1000 * i, agent, i % 2 ? "Patient/odd" : "Patient/even"), 0);
	}
	store_close(st);
}

/* The patient index is filed in batches; a search by patient finds the
 * filed records and the tail alike, and verify checks the index. */
static void patient_index_is_filed_in_batches(void **state)
{
	struct store *st = open_store_cfg(0, 4);
	struct store_audit_query q = { .tenant = 1, .patient = "Patient/1" };
	struct err e = { 0 };
	struct found f;
	struct seen s;

	(void)state;
	for (int i = 1; i <= 11; i++) {	/* Patient/1 at odd seqs; seq 6 has none */
		assert_int_equal(audit(st, 100 * i, "user/a",
				       i == 6 ? "" : i % 2 ? "Patient/1" : "Patient/2"), 0);
		assert_int_equal(store_audit_flush(st, &e), 0);	/* a commit each */
	}
	/* Filed up to seq 8 (two batches of 4); 9 to 11 wait. */
	assert_int_equal(sql_int("SELECT value FROM audit_meta WHERE key='audit_indexed'"), 8);
	assert_int_equal(sql_int("SELECT count(*) FROM audit_by_patient"), 7);
	query(st, &q, &s);
	assert_int_equal(s.n, 6);
	assert_int_equal(s.seq[0], 11);
	assert_int_equal(s.seq[1], 9);
	assert_int_equal(s.seq[2], 7);
	assert_int_equal(s.seq[5], 1);
	q.tenant = 0;	/* every tenant: the same */
	query(st, &q, &s);
	assert_int_equal(s.n, 6);
	q.before_seq = 9;
	q.limit = 2;
	query(st, &q, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.seq[0], 7);
	assert_int_equal(s.seq[1], 5);
	assert_int_equal(verify(st, &f), 11);
	assert_string_equal(f.text, "");
	store_close(st);

	sql_exec("DELETE FROM audit_by_patient WHERE seq=3;"
		 "INSERT INTO audit_by_patient VALUES (1, 1, 'Patient/1', 4)");
	st = open_store_cfg(0, 4);
	assert_int_equal(verify(st, &f), 11);
	assert_string_equal(f.text,
			    "3 missing from the patient index (a search by patient would not show it)\n"
			    "4 in the patient index but not in the trail (a search by patient shows "
			    "what is not there)\n");
	store_close(st);
}

/* Verifies after sql was run on the trail; returns what was found. */
static const char *tamper(const char *sql, struct found *f, int64_t expect_checked)
{
	struct store *st;

	make_trail();
	sql_exec(sql);
	st = open_store();
	assert_int_equal(verify(st, f), expect_checked);
	store_close(st);
	return f->text;
}

static void verify_finds_an_altered_field(void **state)
{
	struct found f;

	assert_string_equal(tamper("UPDATE audit SET patient='Patient/other' WHERE seq=4", &f, 10),
			    "4 altered (its content does not match its hash)\n");
}

static void verify_finds_a_moved_field_boundary(void **state)
{
	struct found f;

	/* "user/u3" + "R" becomes "user/u" + "3R": the same bytes end to end. */
	assert_string_equal(tamper("UPDATE audit SET agent='user/u', action='3R' WHERE seq=3", &f, 10),
			    "3 altered (its content does not match its hash)\n");
}

static void verify_finds_a_changed_hash(void **state)
{
	struct found f;

	assert_string_equal(tamper("UPDATE audit SET hash=(SELECT hash FROM audit WHERE seq=2)"
				   " WHERE seq=6", &f, 10),
			    "6 altered (its stored hash was changed)\n");
}

static void verify_finds_a_deleted_record(void **state)
{
	struct found f;

	assert_string_equal(tamper("DELETE FROM audit WHERE seq=5", &f, 9), "5 deleted\n");
}

static void verify_finds_deleted_records(void **state)
{
	struct found f;

	assert_string_equal(tamper("DELETE FROM audit WHERE seq IN (1, 2, 7, 8, 9)", &f, 5),
			    "1 deleted (records 1 to 2 are missing)\n"
			    "7 deleted (records 7 to 9 are missing)\n");
}

static void verify_finds_swapped_contents(void **state)
{
	struct found f;

	/* Every column but seq and hash exchanged between 3 and 7. */
	assert_string_equal(tamper("CREATE TEMP TABLE t AS SELECT * FROM audit WHERE seq IN (3, 7);"
				   "UPDATE audit SET (tenant, at_ms, agent, action, subtype, entity,"
				   " patient, source, outcome, purpose, flags, detail) = (SELECT"
				   " tenant, at_ms, agent, action, subtype, entity, patient, source,"
				   " outcome, purpose, flags, detail FROM t WHERE t.seq = 10 - audit.seq)"
				   " WHERE seq IN (3, 7)", &f, 10),
			    "3 reordered (its content is now in record 7)\n"
			    "7 reordered (its content is now in record 3)\n");
}

static void verify_finds_swapped_records(void **state)
{
	struct found f;

	/* Whole records exchanged, hash and all, between 4 and 5 (neighbours) ... */
	assert_string_equal(tamper("UPDATE audit SET seq = -seq WHERE seq IN (4, 5);"
				   "UPDATE audit SET seq = CASE seq WHEN -4 THEN 5 ELSE 4 END"
				   " WHERE seq < 0", &f, 10),
			    "4 reordered (it holds record 5, moved here)\n"
			    "5 reordered (it holds record 4, moved here)\n");
	teardown(state);
	setup(state);
	/* ... and between 2 and 8. */
	assert_string_equal(tamper("UPDATE audit SET seq = -seq WHERE seq IN (2, 8);"
				   "UPDATE audit SET seq = CASE seq WHEN -2 THEN 8 ELSE 2 END"
				   " WHERE seq < 0", &f, 10),
			    "2 reordered (it holds record 8, moved here)\n"
			    "8 reordered (it holds record 2, moved here)\n");
}

static void verify_finds_truncation(void **state)
{
	struct found f;

	assert_string_equal(tamper("DELETE FROM audit WHERE seq >= 8", &f, 7),
			    "8 truncated (records 8 to 10, the newest, are missing)\n");
	/* The writer goes on from the head: the gap stays visible. */
	{
		struct store *st = open_store();

		assert_int_equal(audit(st, 1, "user/z", ""), 0);
		store_close(st);
		st = open_store();
		assert_int_equal(verify(st, &f), 8);
		assert_string_equal(f.text, "8 deleted (records 8 to 10 are missing)\n");
		store_close(st);
	}
}

static void verify_finds_a_missing_head(void **state)
{
	struct found f;

	assert_string_equal(tamper("DELETE FROM audit_meta WHERE key='audit_head'", &f, 10),
			    "10 the chain head (audit_meta audit_head) is missing\n");
}

static void verify_reports_several_problems(void **state)
{
	struct found f;

	assert_string_equal(tamper("UPDATE audit SET outcome=403 WHERE seq=2;"
				   "DELETE FROM audit WHERE seq=5;"
				   "UPDATE audit SET detail='x' WHERE seq=8;"
				   "DELETE FROM audit WHERE seq=10", &f, 8),
			    "2 altered (its content does not match its hash)\n"
			    "5 deleted\n"
			    "8 altered (its content does not match its hash)\n"
			    "10 truncated (the newest record is missing)\n");
}

/* Versions before decision 0023 kept the trail in lienthong.db: the next
 * open moves it, chain and patient index intact, and the writer goes on
 * from its head. */
static void trail_kept_in_the_main_file_is_moved(void **state)
{
	static const char *const files[] = { "audit.db", "audit.db-wal", "audit.db-shm" };
	struct store_audit_query q = { .tenant = 1, .patient = "Patient/1" };
	struct store *st = open_store_cfg(0, 4);
	struct err e = { 0 };
	struct found f;
	struct seen s;
	char path[128];
	int64_t filed;

	(void)state;
	for (int i = 1; i <= 10; i++)
		assert_int_equal(audit(st, 100 * i, "user/a", i % 2 ? "Patient/1" : "Patient/2"), 0);
	assert_int_equal(store_audit_flush(st, &e), 0);
	store_close(st);
	filed = sql_int("SELECT count(*) FROM audit_by_patient");
	assert_true(filed > 0);
	sql_exec("CREATE TABLE main.audit AS SELECT * FROM trail.audit;"
		 "CREATE TABLE main.audit_batch AS SELECT * FROM trail.audit_batch;"
		 "CREATE TABLE main.audit_by_patient AS SELECT * FROM trail.audit_by_patient;"
		 "INSERT INTO main.store_meta SELECT * FROM trail.audit_meta;");
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	st = open_store_cfg(0, 4);
	assert_int_equal(sql_int("SELECT count(*) FROM main.sqlite_master WHERE name LIKE 'audit%'"), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM main.store_meta"
				 " WHERE key IN ('audit_head', 'audit_indexed')"), 0);
	assert_int_equal(sql_int("SELECT count(*) FROM main.store_meta WHERE key='audit_trail'"), 1);
	assert_int_equal(sql_int("SELECT count(*) FROM audit_by_patient"), filed);
	assert_int_equal(verify(st, &f), 10);
	assert_string_equal(f.text, "");
	assert_int_equal(audit(st, 1100, "user/a", "Patient/1"), 0);
	assert_int_equal(store_audit_flush(st, &e), 0);
	assert_int_equal(verify(st, &f), 11);
	assert_string_equal(f.text, "");
	query(st, &q, &s);
	assert_int_equal(s.n, 6);
	assert_int_equal(s.seq[0], 11);
	store_close(st);
}

/* A trail whose file was removed (or emptied) is refused at open, with
 * the reason: a new, empty trail would hide what the old one recorded. */
static void a_removed_trail_is_noticed(void **state)
{
	static const char *const files[] = { "audit.db", "audit.db-wal", "audit.db-shm" };
	struct store_config cfg = { .backend = "sqlite", .data_dir = dir };
	struct store *st = NULL;
	struct err e = { 0 };
	char path[128];

	(void)state;
	make_trail();	/* one commit: the mark waits for the next (or the next open) */
	assert_int_equal(sql_int("SELECT count(*) FROM main.store_meta WHERE key='audit_trail'"), 0);
	st = open_store();
	assert_int_equal(audit(st, 1, "user/x", ""), 0);
	assert_int_equal(store_audit_flush(st, &e), 0);
	store_close(st);
	st = NULL;
	assert_int_equal(sql_int("SELECT count(*) FROM main.store_meta WHERE key='audit_trail'"), 1);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	assert_int_equal(store_open(&cfg, &st, &e), ERR_CONFIG);
	assert_null(st);
	assert_non_null(strstr(e.issue[0].diagnostics, "missing or empty"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(many_threads_give_a_contiguous_verified_chain),
		T(records_commit_apart_from_writes),
		T(records_alone_are_committed_within_the_flush_delay),
		T(close_flushes),
		T(failed_txn_in_a_batch_keeps_the_chain),
		T(records_survive_a_failed_commit),
		T(queries_filter_and_page_newest_first),
		T(patient_index_is_filed_in_batches),
		T(fields_round_trip),
		T(key_is_made_private_and_required),
		T(verify_finds_an_altered_field),
		T(verify_finds_a_moved_field_boundary),
		T(verify_finds_a_changed_hash),
		T(verify_finds_a_deleted_record),
		T(verify_finds_deleted_records),
		T(verify_finds_swapped_contents),
		T(verify_finds_swapped_records),
		T(verify_finds_truncation),
		T(verify_finds_a_missing_head),
		T(verify_reports_several_problems),
		T(trail_kept_in_the_main_file_is_moved),
		T(a_removed_trail_is_noticed),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
