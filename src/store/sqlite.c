/*
 * sqlite.c — the embedded store backend: SQLite in WAL mode.
 *
 * One table of immutable versions; its rowid is the global change sequence
 * (system history walks it backwards). A unique index on
 * (tenant, type, id, version) serves read and vread with one seek. The writer
 * connection runs with synchronous=FULL, so a COMMIT returns only after the
 * WAL is fsync'ed: an acknowledged write survives a crash or power loss.
 * Readers are query_only, not memory-mapped (decision 0022: SQLite unmaps
 * the file whenever a reader sees a new commit), and never block the
 * writer (WAL).
 * Each connection caches its prepared statements.
 *
 * Bulk load: a txn whose store_meta entry is "bulk_load" = "on" drops the
 * value indexes of the search tables (sqlite_value_index) in that txn;
 * "off" builds them again, by sorting, before it commits. In between, index
 * rows are appended at a fraction of the cost, and searches stay correct
 * but scan. If the load never ends, the next open builds the indexes.
 */
#include "sqlite_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "../base/fault.h"
#include "../base/log.h"

#define SQLITE_SCHEMA_VERSION 3
#define SQLITE_DB_FILE "lienthong.db"

static const char *const sqlite_schema =
	"CREATE TABLE IF NOT EXISTS resource_version ("
	" seq INTEGER PRIMARY KEY,"		/* global change order */
	" tenant INTEGER NOT NULL,"
	" type TEXT NOT NULL,"
	" id TEXT NOT NULL,"
	" version INTEGER NOT NULL,"
	" last_updated INTEGER NOT NULL,"	/* ms since epoch, UTC */
	" deleted INTEGER NOT NULL DEFAULT 0,"
	" interaction INTEGER NOT NULL,"	/* enum store_interaction */
	" json BLOB);"				/* ready-to-serve bytes; NULL when deleted */
	"CREATE UNIQUE INDEX IF NOT EXISTS resource_version_key"
	" ON resource_version(tenant, type, id, version);"
	"CREATE INDEX IF NOT EXISTS resource_version_type_seq"
	" ON resource_version(tenant, type, seq);"
	"CREATE INDEX IF NOT EXISTS resource_version_tenant_seq"
	" ON resource_version(tenant, seq);"
	"CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	/* The current version of each resource; rid is the key index rows use. */
	"CREATE TABLE IF NOT EXISTS resource ("
	" rid INTEGER PRIMARY KEY,"
	" tenant INTEGER NOT NULL,"
	" type TEXT NOT NULL,"
	" id TEXT NOT NULL,"
	" version INTEGER NOT NULL,"
	" last_updated INTEGER NOT NULL,"
	" deleted INTEGER NOT NULL,"
	" seq INTEGER NOT NULL);"		/* resource_version row of the current version */
	"CREATE UNIQUE INDEX IF NOT EXISTS resource_key ON resource(tenant, type, id);"
	"CREATE INDEX IF NOT EXISTS resource_updated ON resource(tenant, type, last_updated);"
	/* Search index rows of live resources (query.h); their value indexes
	 * are in sqlite_value_index. (rid, param) serves replacing a
	 * resource's rows, _include and sorting. */
	"CREATE TABLE IF NOT EXISTS ix_token (rid INTEGER NOT NULL, tenant INTEGER NOT NULL,"
	" param INTEGER NOT NULL, system TEXT NOT NULL, code TEXT NOT NULL);"
	"DROP INDEX IF EXISTS ix_token_value;"
	"CREATE INDEX IF NOT EXISTS ix_token_rid ON ix_token(rid, param);"
	"CREATE TABLE IF NOT EXISTS ix_string (rid INTEGER NOT NULL, tenant INTEGER NOT NULL,"
	" param INTEGER NOT NULL, folded TEXT NOT NULL, exact TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS ix_string_rid ON ix_string(rid, param);"
	"CREATE TABLE IF NOT EXISTS ix_date (rid INTEGER NOT NULL, tenant INTEGER NOT NULL,"
	" param INTEGER NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS ix_date_rid ON ix_date(rid, param);"
	/* The longest interval of each date parameter (ms): a row with hi >= B
	 * then has lo >= B - span, which bounds a date range's index scan from
	 * below (sqlite_query.c). Only grows; a stale larger value is safe. */
	"CREATE TABLE IF NOT EXISTS ix_date_span (tenant INTEGER NOT NULL, param INTEGER NOT NULL,"
	" span INTEGER NOT NULL, PRIMARY KEY (tenant, param)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS ix_number (rid INTEGER NOT NULL, tenant INTEGER NOT NULL,"
	" param INTEGER NOT NULL, lo REAL NOT NULL, hi REAL NOT NULL, system TEXT NOT NULL,"
	" code TEXT NOT NULL, unit TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS ix_number_rid ON ix_number(rid, param);"
	"CREATE TABLE IF NOT EXISTS ix_reference (rid INTEGER NOT NULL, tenant INTEGER NOT NULL,"
	" param INTEGER NOT NULL, type TEXT NOT NULL, id TEXT NOT NULL, url TEXT NOT NULL,"
	" version TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS ix_reference_rid ON ix_reference(rid, param);"
	"CREATE TABLE IF NOT EXISTS ix_uri (rid INTEGER NOT NULL, tenant INTEGER NOT NULL,"
	" param INTEGER NOT NULL, uri TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS ix_uri_rid ON ix_uri(rid, param);"
	"CREATE TABLE IF NOT EXISTS ix_composite (rid INTEGER NOT NULL, tenant INTEGER NOT NULL,"
	" param INTEGER NOT NULL, a0 TEXT NOT NULL, a1 TEXT NOT NULL, b0 TEXT NOT NULL,"
	" b1 TEXT NOT NULL, blo REAL, bhi REAL, clo REAL, chi REAL);"
	"CREATE INDEX IF NOT EXISTS ix_composite_rid ON ix_composite(rid, param);"
	/* The message log (struct store_message): interface messages and what
	 * became of them, in the txn of their writes. */
	"CREATE TABLE IF NOT EXISTS message_log ("
	" mid INTEGER PRIMARY KEY,"
	" tenant INTEGER NOT NULL,"
	" channel TEXT NOT NULL,"
	" sender TEXT NOT NULL,"
	" control_id TEXT NOT NULL,"
	" peer TEXT NOT NULL,"
	" received INTEGER NOT NULL,"		/* ms since epoch, UTC */
	" processed INTEGER NOT NULL,"
	" status TEXT NOT NULL,"
	" accepted INTEGER NOT NULL,"
	" note TEXT NOT NULL,"
	" patient TEXT NOT NULL,"
	" resources TEXT NOT NULL,"		/* JSON array */
	" raw BLOB NOT NULL,"
	" ack BLOB NOT NULL);"
	"CREATE INDEX IF NOT EXISTS message_log_control"
	" ON message_log(tenant, channel, sender, control_id);"
	"CREATE INDEX IF NOT EXISTS message_log_patient ON message_log(tenant, patient, received);"
	"CREATE INDEX IF NOT EXISTS message_log_received ON message_log(tenant, received);";

/* Who may act, and what they did (a string of its own: C99 caps a literal's length). */
static const char sqlite_schema_access[] =
	/* Facilities and who may act in them (sqlite_directory.c). */
	"CREATE TABLE IF NOT EXISTS tenant ("
	" id INTEGER PRIMARY KEY,"
	" code TEXT NOT NULL UNIQUE,"
	" name TEXT NOT NULL,"
	" created INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS principal ("
	" id INTEGER PRIMARY KEY,"
	" tenant INTEGER NOT NULL,"
	" kind TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" secret TEXT NOT NULL,"
	" totp TEXT NOT NULL,"
	" totp_step INTEGER NOT NULL,"
	" roles TEXT NOT NULL,"
	" scopes TEXT NOT NULL,"
	" patient TEXT NOT NULL,"
	" failures INTEGER NOT NULL,"
	" locked_until INTEGER NOT NULL,"
	" last_used INTEGER NOT NULL,"
	" created INTEGER NOT NULL,"
	" disabled INTEGER NOT NULL,"
	" redirect_uris TEXT NOT NULL DEFAULT '',"	/* an app's (decision 0019) */
	" public INTEGER NOT NULL DEFAULT 0,"
	" UNIQUE (kind, name));";
	/* The audit trail is in a file of its own (sqlite_audit.c). */

/* The value indexes of the index tables, which searches read; they end
 * with rid so that they cover the searches. Their keys are values (codes,
 * names, ids, dates), so each new row lands on a random page: a bulk load
 * drops them and builds each once at its end, by sorting (decision 0009).
 * The (rid, param) indexes and those of the resource tables stay: rows
 * arrive in rid order, and writes read them. Created after sqlite_schema. */
static const char *const sqlite_value_index[][2] = {
	/* rid before system: a code's rows come in rid order whatever their
	 * systems, so pages and counts stream without a sort. */
	{ "ix_token_code", "ix_token(tenant, param, code, rid, system)" },
	{ "ix_string_value", "ix_string(tenant, param, folded, exact, rid)" },
	{ "ix_date_lo", "ix_date(tenant, param, lo, hi, rid)" },
	{ "ix_date_hi", "ix_date(tenant, param, hi, lo, rid)" },
	{ "ix_number_value", "ix_number(tenant, param, lo, hi, rid)" },
	{ "ix_reference_value", "ix_reference(tenant, param, id, type, rid)" },
	{ "ix_reference_url", "ix_reference(tenant, param, url, rid)" },
	{ "ix_uri_value", "ix_uri(tenant, param, uri, rid)" },
	{ "ix_composite_value", "ix_composite(tenant, param, a1, a0, rid)" },
};
#define VALUE_INDEX_COUNT (sizeof(sqlite_value_index) / sizeof(sqlite_value_index[0]))

/* store_meta key of a bulk load in progress (its value indexes dropped). */
#define BULK_META_KEY STORE_META_BULK_LOAD

/* Schema 1 had no resource table: fill it from the versions. The index is
 * then empty until `lienthong reindex` builds it. */
static const char *const sqlite_migrate_1_2 =
	"INSERT OR IGNORE INTO resource(tenant, type, id, version, last_updated, deleted, seq)"
	" SELECT tenant, type, id, version, last_updated, deleted, seq FROM resource_version v"
	" WHERE version = (SELECT max(version) FROM resource_version w"
	"  WHERE w.tenant = v.tenant AND w.type = v.type AND w.id = v.id);"
	"INSERT OR REPLACE INTO store_meta VALUES ('index_params', 'none');";

/* The index tables, in enum store_ix_table order. */
const char *const sqlite_ix_table[STORE_IX__COUNT] = {
	"ix_token", "ix_string", "ix_date", "ix_number", "ix_reference", "ix_uri", "ix_composite",
};

enum stmt_id {
	STMT_READ_CURRENT,
	STMT_READ_VERSION,
	STMT_INSERT,
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_SAVEPOINT,
	STMT_RELEASE,
	STMT_ROLLBACK_TO,
	STMT_RES_GET,
	STMT_RES_INSERT,
	STMT_RES_UPDATE,
	STMT_META_GET,
	STMT_META_SET,
	STMT_DATE_SPAN,
	STMT_MSG_DUP,
	STMT_MSG_INSERT,
	STMT_MSG_UPDATE,
	STMT_IX_DELETE,		/* + table: one per index table */
	STMT__COUNT = STMT_IX_DELETE + STORE_IX__COUNT
};

static const char *const stmt_sql[STMT__COUNT] = {
	[STMT_READ_CURRENT] = "SELECT v.version, v.last_updated, v.deleted, v.json, v.seq, v.interaction"
			      " FROM resource r JOIN resource_version v ON v.seq = r.seq"
			      " WHERE r.tenant=?1 AND r.type=?2 AND r.id=?3",
	[STMT_READ_VERSION] = "SELECT version, last_updated, deleted, json, seq, interaction FROM resource_version"
			      " WHERE tenant=?1 AND type=?2 AND id=?3 AND version=?4",
	[STMT_INSERT] = "INSERT INTO resource_version(tenant, type, id, version, last_updated, deleted, json,"
			" interaction) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[STMT_BEGIN] = "BEGIN IMMEDIATE",
	[STMT_COMMIT] = "COMMIT",
	[STMT_ROLLBACK] = "ROLLBACK",
	[STMT_SAVEPOINT] = "SAVEPOINT txn",
	[STMT_RELEASE] = "RELEASE txn",
	[STMT_ROLLBACK_TO] = "ROLLBACK TO txn",
	[STMT_RES_GET] = "SELECT rid, version FROM resource WHERE tenant=?1 AND type=?2 AND id=?3",
	[STMT_RES_INSERT] = "INSERT INTO resource(tenant, type, id, version, last_updated, deleted, seq)"
			    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[STMT_RES_UPDATE] = "UPDATE resource SET version=?2, last_updated=?3, deleted=?4, seq=?5"
			    " WHERE rid=?1",
	[STMT_META_GET] = "SELECT value FROM store_meta WHERE key=?1",
	[STMT_META_SET] = "INSERT OR REPLACE INTO store_meta VALUES (?1, ?2)",
	[STMT_DATE_SPAN] = "INSERT INTO ix_date_span VALUES (?1, ?2, ?3) ON CONFLICT (tenant, param)"
			   " DO UPDATE SET span=max(span, excluded.span)",
	[STMT_MSG_DUP] = "SELECT mid FROM message_log WHERE tenant=?1 AND channel=?2 AND sender=?3"
			 " AND control_id=?4 AND accepted=1 AND mid!=?5 LIMIT 1",
	[STMT_MSG_INSERT] = "INSERT INTO message_log(tenant, channel, sender, control_id, peer, received,"
			    " processed, status, accepted, note, patient, resources, raw, ack)"
			    " VALUES (?1, ?2, ?3, ?4, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
	[STMT_MSG_UPDATE] = "UPDATE message_log SET processed=?8, status=?9, accepted=?10, note=?11,"
			    " patient=?12, resources=?13, ack=?15 WHERE mid=?5 AND tenant=?1",
	[STMT_IX_DELETE + STORE_IX_TOKEN] = "DELETE FROM ix_token WHERE rid=?1",
	[STMT_IX_DELETE + STORE_IX_STRING] = "DELETE FROM ix_string WHERE rid=?1",
	[STMT_IX_DELETE + STORE_IX_DATE] = "DELETE FROM ix_date WHERE rid=?1",
	[STMT_IX_DELETE + STORE_IX_NUMBER] = "DELETE FROM ix_number WHERE rid=?1",
	[STMT_IX_DELETE + STORE_IX_REFERENCE] = "DELETE FROM ix_reference WHERE rid=?1",
	[STMT_IX_DELETE + STORE_IX_URI] = "DELETE FROM ix_uri WHERE rid=?1",
	[STMT_IX_DELETE + STORE_IX_COMPOSITE] = "DELETE FROM ix_composite WHERE rid=?1",
};

/* Index rows are inserted several at a time: one INSERT of up to
 * IX_ROWS_MAX rows per table and resource, which pays a statement's fixed
 * cost (run, halt, reset) once for them all. The columns of each table, as
 * the parameter slots of a row (1 rid, 2 tenant, 3 param, 4-7 s[0..3],
 * 8-9 lo hi, 10-11 dlo dhi, 12-13 elo ehi); row j's slots are offset by
 * IX_SLOTS * j. */
#define IX_ROWS_MAX 8
#define IX_SLOTS 13
static const unsigned char ix_slots[STORE_IX__COUNT][IX_SLOTS + 1] = {
	[STORE_IX_TOKEN] = { 1, 2, 3, 4, 5 },
	[STORE_IX_STRING] = { 1, 2, 3, 4, 5 },
	[STORE_IX_DATE] = { 1, 2, 3, 8, 9 },
	[STORE_IX_NUMBER] = { 1, 2, 3, 10, 11, 4, 5, 6 },
	[STORE_IX_REFERENCE] = { 1, 2, 3, 4, 5, 6, 7 },
	[STORE_IX_URI] = { 1, 2, 3, 4 },
	[STORE_IX_COMPOSITE] = { 1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13 },
};

struct sqlite_backend {
	char *path;
	char *audit_path;		/* the audit trail's file (sqlite_audit.c) */
	unsigned char audit_key[SQLITE_AUDIT_KEY_BYTES];
	int64_t audit_index_batch;
	int writer_cache_kib, readers_cache_kib;	/* the budget's two parts */
	int page_size;			/* the store's (PRAGMA page_size) */
};

/*
 * One budget for the database pages held in memory (decision 0032): the
 * writer gets four fifths, the readers open share the fifth left evenly
 * (store.c calls conn_share as the pool grows). The writer's cache is the one
 * that pays: index inserts land on random pages of large b-trees, and what
 * is not cached is read back for each insert (decision 0009). A reader's
 * cache is dropped at the start of every read transaction that follows a
 * write, so under writes it holds little more than one request's pages; it
 * counts when nothing is written. The page slab (sqlite_pages.c) is sized to
 * the same budget, so the pages fit in it.
 */
#define READER_CACHE_MIN_KIB 256	/* below it, past the budget */

/* WAL bytes before an automatic checkpoint: a page rewritten by several
 * group commits is copied to the database once per checkpoint. */
#define WRITER_AUTOCHECKPOINT_BYTES (256 << 20)

/* The pages of a new store (decision 0035). A write's index rows land on
 * random pages of large b-trees, and its commit writes each page it
 * touched whole to the WAL: 4 KiB pages write a quarter of the bytes of
 * 16 KiB ones for the same rows. A store made with other pages keeps them
 * (a WAL database cannot change its page size). */
#define DB_PAGE_SIZE_NEW 4096

#define SPAN_CACHE 16384		/* parameter keys whose date span the writer remembers */

/* Run-time statements kept prepared per connection. A search's text has
 * only placeholders, so the shapes repeat (the duplicate check and the two
 * conditional searches of every HL7 message, a client's paging); preparing
 * one cost about 200 µs, more than running it. */
#define STMT_KEPT 16

struct sqlite_conn {
	sqlite3 *db;
	sqlite3_stmt *stmt[STMT__COUNT];
	/* Writer: INSERT of k + 1 rows into table t, prepared on first use. */
	sqlite3_stmt *ix_insert[STORE_IX__COUNT][IX_ROWS_MAX];
	/* Writer: the span last written per parameter key (tenant 1), so that
	 * ix_date_span is written only when it grows. Cleared on rollback. */
	int64_t *span_seen;		/* SPAN_CACHE entries; NULL on readers */
	int cache_kib;			/* readers: the cache_size set, in KiB */
	struct sqlite_audit_conn audit;
	/* Statements built at run time (searches, message log queries),
	 * kept by their text: see sqlite_stmt_get. */
	struct kept_stmt {
		sqlite3_stmt *s;	/* NULL: a free slot */
		uint64_t hash;		/* of the text */
		uint64_t used;		/* c->kept_clock at the last get */
		int busy;		/* handed out, not yet done */
	} kept[STMT_KEPT];
	uint64_t kept_clock;
	/* Writer: the WAL, opened with the connection (when the process has
	 * descriptors to spare), then used by the syncer thread alone
	 * (sqlite_sync). */
	char *wal_path;
	int wal_fd;			/* -1: not open */
	struct sqlite_checkpointer *ckpt;	/* writer: its checkpoints, or NULL */
	int wal_new;			/* its directory entry not yet synced */
	char *data_dir;
};

static void sqlite_conn_share(void *backend, void *conn, int readers)
{
	struct sqlite_backend *b = backend;
	struct sqlite_conn *c = conn;
	int kib = b->readers_cache_kib / (readers > 0 ? readers : 1);
	char sql[48];

	if (kib < READER_CACHE_MIN_KIB)
		kib = READER_CACHE_MIN_KIB;
	if (kib == c->cache_kib)
		return;
	snprintf(sql, sizeof(sql), "PRAGMA cache_size=-%d;", kib);
	if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) == SQLITE_OK)	/* cannot fail but on misuse */
		c->cache_kib = kib;
}

sqlite3 *sqlite_conn_db(struct sqlite_conn *c)
{
	return c->db;
}

static uint64_t text_hash(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	while (n--)
		h = (h ^ (unsigned char)*p++) * 1099511628211ULL;
	return h;
}

int sqlite_stmt_get(struct sqlite_conn *c, const char *sql, size_t n, sqlite3_stmt **out)
{
	uint64_t h = text_hash(sql, n);
	struct kept_stmt *victim = NULL;
	int src;

	*out = NULL;
	for (int i = 0; i < STMT_KEPT; i++) {
		struct kept_stmt *k = &c->kept[i];
		const char *text;

		if (!k->s) {
			if (!victim || victim->s)
				victim = k;
			continue;
		}
		if (k->busy)
			continue;
		text = sqlite3_sql(k->s);
		if (k->hash == h && strlen(text) == n && !memcmp(text, sql, n)) {
			k->busy = 1;
			k->used = ++c->kept_clock;
			*out = k->s;
			return SQLITE_OK;
		}
		if (!victim || (victim->s && k->used < victim->used))
			victim = k;
	}
	src = sqlite3_prepare_v3(c->db, sql, (int)n, SQLITE_PREPARE_PERSISTENT, out, NULL);
	if (src != SQLITE_OK || !victim)	/* every slot busy: not kept */
		return src;
	sqlite3_finalize(victim->s);
	*victim = (struct kept_stmt){ .s = *out, .hash = h, .used = ++c->kept_clock, .busy = 1 };
	return SQLITE_OK;
}

void sqlite_stmt_done(struct sqlite_conn *c, sqlite3_stmt *s)
{
	if (!s)
		return;
	for (int i = 0; i < STMT_KEPT; i++) {
		if (c->kept[i].s == s) {
			sqlite3_reset(s);
			sqlite3_clear_bindings(s);
			c->kept[i].busy = 0;
			return;
		}
	}
	sqlite3_finalize(s);
}

struct sqlite_audit_conn *sqlite_conn_audit(struct sqlite_conn *c)
{
	return &c->audit;
}

int sqlite_fail(sqlite3 *db, int src, struct err *e, const char *what)
{
	int code = ERR_STORE;

	switch (src & 0xff) {
	case SQLITE_FULL:
		code = ERR_DISK_FULL;
		break;
	case SQLITE_NOMEM:
		code = ERR_NOMEM;
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = ERR_BUSY;
		break;
	case SQLITE_IOERR:
		code = (src == SQLITE_IOERR_NOMEM) ? ERR_NOMEM : ERR_IO;
		break;
	}
	log_error("sqlite: %s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(src));
	return err_set(e, code, NULL, "storage: %s failed (%s)", what, sqlite3_errstr(src));
}

int sqlite_exec(sqlite3 *db, const char *sql, struct err *e)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sqlite_fail(db, rc, e, sql);
}

/* mkdir -p, mode 0700 for what it creates: health data are not for other users. */
static int make_dirs(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* Builds (create) or drops the value indexes. Building reads each table
 * once and sorts: much cheaper than as many random inserts. */
static int value_indexes(sqlite3 *db, int create, struct err *e)
{
	char sql[160];
	int rc = 0;

	for (size_t i = 0; !rc && i < VALUE_INDEX_COUNT; i++) {
		if (create)
			snprintf(sql, sizeof(sql), "CREATE INDEX IF NOT EXISTS %s ON %s",
				 sqlite_value_index[i][0], sqlite_value_index[i][1]);
		else
			snprintf(sql, sizeof(sql), "DROP INDEX IF EXISTS %s", sqlite_value_index[i][0]);
		rc = sqlite_exec(db, sql, e);
	}
	return rc;
}

/* At open: creates the value indexes of a new store, and builds those a
 * bulk load dropped if it never ended (a crash or a kill mid-load), so that
 * the store is whole again. */
static int ensure_value_indexes(sqlite3 *db, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int pending = 0, rc;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM store_meta WHERE key='" BULK_META_KEY "'", -1, &s,
			       NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		pending = 1;
	sqlite3_finalize(s);
	if (pending)
		log_warn("store: a bulk load did not finish; building its search indexes now");
	if ((rc = sqlite_exec(db, "BEGIN IMMEDIATE", e)))
		return rc;
	rc = value_indexes(db, 1, e);
	if (!rc && pending)
		rc = sqlite_exec(db, "DELETE FROM store_meta WHERE key='" BULK_META_KEY "'", e);
	if (!rc)
		rc = sqlite_exec(db, "COMMIT", e);
	if (rc)
		sqlite_exec(db, "ROLLBACK", NULL);
	return rc;
}

/* Schema 3 gave principal the columns of apps (decision 0019). A store of
 * schema 2 made before principal existed got them from sqlite_schema_access
 * already, hence the look at the table first. */
static const char *const sqlite_migrate_2_3[][2] = {
	{ "redirect_uris", "ALTER TABLE principal ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT ''" },
	{ "public", "ALTER TABLE principal ADD COLUMN public INTEGER NOT NULL DEFAULT 0" },
};

static int has_column(sqlite3 *db, const char *table, const char *column)
{
	sqlite3_stmt *s = NULL;
	int found = 0;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name=?2", -1, &s,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, column, -1, SQLITE_STATIC);
		found = sqlite3_step(s) == SQLITE_ROW;
	}
	sqlite3_finalize(s);
	return found;
}

static int migrate_2_3(sqlite3 *db, struct err *e)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < sizeof(sqlite_migrate_2_3) / sizeof(sqlite_migrate_2_3[0]); i++)
		if (!has_column(db, "principal", sqlite_migrate_2_3[i][0]))
			rc = sqlite_exec(db, sqlite_migrate_2_3[i][1], e);
	return rc;
}

/* Brings an older database up to SQLITE_SCHEMA_VERSION, in one transaction. */
static int migrate(sqlite3 *db, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int have = 0, rc;
	char sql[128];

	if (sqlite3_prepare_v2(db, "SELECT value FROM store_meta WHERE key='schema_version'", -1,
			       &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		have = atoi((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	if (have == SQLITE_SCHEMA_VERSION)
		return 0;
	if (have > SQLITE_SCHEMA_VERSION)
		return err_set(e, ERR_CONFIG, NULL,
			       "the database has schema version %d; this lienthong knows %d",
			       have, SQLITE_SCHEMA_VERSION);
	if ((rc = sqlite_exec(db, "BEGIN IMMEDIATE", e)))
		return rc;
	if (have == 1) {
		log_info("store: upgrading the database from schema 1 to 2"
			 " (run `lienthong reindex` to build the search index)");
		rc = sqlite_exec(db, sqlite_migrate_1_2, e);
	}
	if (!rc && have < 3)
		rc = migrate_2_3(db, e);
	snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO store_meta VALUES ('schema_version', '%d')",
		 SQLITE_SCHEMA_VERSION);
	if (!rc)
		rc = sqlite_exec(db, sql, e);
	if (!rc)
		rc = sqlite_exec(db, "COMMIT", e);
	if (rc)
		sqlite_exec(db, "ROLLBACK", NULL);
	return rc;
}

/* Process-wide library settings, before the first connection. Memory
 * statistics cost a global mutex around every allocation of every
 * connection; nothing reads them. (A no-op if SQLite was initialised
 * already, by another user of the library in this process.) */
/* SQLite's error log (sqlite3_log): the OS error behind a failed open, read
 * or write (errno, system call, file), corruption found, a WAL recovered.
 * Those are warnings; the rest (a statement's constraint failure, a schema
 * change, an automatic index) is debug. No values: SQLite logs SQL text,
 * whose values lienthong always binds. */
static void sqlite_log(void *unused, int code, const char *msg)
{
	(void)unused;
	switch (code & 0xff) {
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
	case SQLITE_CORRUPT:
	case SQLITE_FULL:
	case SQLITE_NOTADB:
	case SQLITE_PERM:
	case SQLITE_NOMEM:
		log_warn("sqlite: (%d) %s", code, msg);
		break;
	case SQLITE_NOTICE:
		log_info("sqlite: (%d) %s", code, msg);
		break;
	default:
		log_debug("sqlite: (%d) %s", code, msg);
	}
}

/* The first store's budget and page size size the slab. */
static size_t first_cache_bytes;
static int first_page_size;

static void sqlite_configure_once(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	sqlite3_config(SQLITE_CONFIG_LOG, sqlite_log, NULL);
	sqlite_pages_install(first_page_size, first_cache_bytes);
	sqlite_fault_install();	/* test builds, when LT_FAULT asks (sqlite_fault.c) */
}

/* The page size of the database file at path, from its header (bytes
 * 16-17, big-endian; 1 means 65536); a new store's when there is none yet. */
static int file_page_size(const char *path)
{
	unsigned char h[2];
	int fd = open(path, O_RDONLY | O_CLOEXEC), size;
	ssize_t n = -1;

	if (fd >= 0) {
		n = pread(fd, h, sizeof(h), 16);
		close(fd);
	}
	if (n != (ssize_t)sizeof(h))
		return DB_PAGE_SIZE_NEW;
	size = h[0] << 8 | h[1];
	if (size == 1)
		return 65536;
	return size >= 512 && size <= 32768 && !(size & (size - 1)) ? size : DB_PAGE_SIZE_NEW;
}

static int sqlite_open_backend(const struct store_config *cfg, void **out, struct err *e)
{
	static pthread_once_t configured = PTHREAD_ONCE_INIT;
	struct sqlite_backend *b;
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	char pragma[96];
	size_t len;
	int rc, cache_mib;

	*out = NULL;
	cache_mib = cfg->cache_mib > 0 ? cfg->cache_mib : STORE_CACHE_MIB_DEFAULT;
	if (!cfg->data_dir || !*cfg->data_dir)
		return err_set(e, ERR_CONFIG, NULL, "no data directory given");
	if (!first_cache_bytes) {
		char path[PATH_MAX];

		first_cache_bytes = (size_t)cache_mib << 20;
		snprintf(path, sizeof(path), "%s/%s", cfg->data_dir, SQLITE_DB_FILE);
		first_page_size = file_page_size(path);
	}
	pthread_once(&configured, sqlite_configure_once);
	if (make_dirs(cfg->data_dir) != 0)
		return err_set(e, ERR_CONFIG, NULL, "cannot create data directory %s: %s",
			       cfg->data_dir, strerror(errno));
	b = calloc(1, sizeof(*b));
	len = strlen(cfg->data_dir) + sizeof(SQLITE_DB_FILE) + sizeof(SQLITE_AUDIT_FILE) + 2;
	if (!b || !(b->path = malloc(len)) || !(b->audit_path = malloc(len))) {
		if (b)
			free(b->path);
		free(b);
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	}
	snprintf(b->path, len, "%s/%s", cfg->data_dir, SQLITE_DB_FILE);
	snprintf(b->audit_path, len, "%s/%s", cfg->data_dir, SQLITE_AUDIT_FILE);
	b->audit_index_batch = cfg->audit_index_batch > 0 ? cfg->audit_index_batch : 65536;
	b->readers_cache_kib = cache_mib * 1024 / 5;
	b->writer_cache_kib = cache_mib * 1024 - b->readers_cache_kib;

	/* Create the schema once, on a connection of its own (the page size
	 * counts for a new store only). */
	rc = sqlite3_open_v2(b->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		rc = sqlite_fail(db, rc, e, "opening the database");
		goto fail;
	}
	sqlite3_busy_timeout(db, 10000);
	snprintf(pragma, sizeof(pragma), "PRAGMA page_size=%d; PRAGMA journal_mode=WAL;",
		 DB_PAGE_SIZE_NEW);
	if ((rc = sqlite_exec(db, pragma, e)) ||
	    (rc = sqlite_exec(db, sqlite_schema, e)) || (rc = sqlite_exec(db, sqlite_schema_access, e)) ||
	    (rc = sqlite_exec(db, sqlite_schema_grant, e)))
		goto fail;
	if ((rc = sqlite_exec(db, sqlite_schema_client_keys, e)))
		goto fail;
	if ((rc = migrate(db, e)) || (rc = ensure_value_indexes(db, e)) ||
	    (rc = sqlite_audit_open(cfg->data_dir, b->audit_path, db, b->audit_key, e)))
		goto fail;
	/* A store indexed before ix_date_span existed: measure its spans once. */
	if ((rc = sqlite_exec(db, "INSERT INTO ix_date_span SELECT tenant, param, max(hi - lo)"
			      " FROM ix_date WHERE NOT EXISTS (SELECT 1 FROM ix_date_span)"
			      " GROUP BY tenant, param", e)))
		goto fail;
	b->page_size = DB_PAGE_SIZE_NEW;
	if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) >= 512)
		b->page_size = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	*out = b;
	return 0;
fail:
	sqlite3_close(db);
	free(b->audit_path);
	free(b->path);
	free(b);
	return rc;
}

const char *sqlite_backend_path(void *backend)
{
	return ((struct sqlite_backend *)backend)->path;
}

static void sqlite_close_backend(void *backend)
{
	struct sqlite_backend *b = backend;

	OPENSSL_cleanse(b->audit_key, sizeof(b->audit_key));
	free(b->audit_path);
	free(b->path);
	free(b);
}

/* fsync of a directory (a new file's name in it), by path. */
static int sync_dir(const char *dir)
{
	int fd = open(*dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static void sqlite_conn_close(void *conn)
{
	struct sqlite_conn *c = conn;

	if (!c)
		return;
	sqlite_checkpointer_stop(c->ckpt, c->db);
	for (int i = 0; i < STMT__COUNT; i++)
		sqlite3_finalize(c->stmt[i]);
	for (int i = 0; i < STMT_KEPT; i++)
		sqlite3_finalize(c->kept[i].s);
	if (c->wal_fd >= 0)
		close(c->wal_fd);
	free(c->wal_path);
	free(c->data_dir);
	sqlite_audit_conn_release(&c->audit);
	for (int t = 0; t < STORE_IX__COUNT; t++)
		for (int k = 0; k < IX_ROWS_MAX; k++)
			sqlite3_finalize(c->ix_insert[t][k]);
	sqlite3_close(c->db);
	free(c->span_seen);
	free(c);
}

static int sqlite_conn_open(void *backend, int writer, void **out, struct err *e)
{
	struct sqlite_backend *b = backend;
	struct sqlite_conn *c;
	/* No mmap for readers: under writes it cost an munmap and a page fault
	 * per page touched in every read transaction (decision 0022). Their
	 * cache's size comes with conn_share. */
	const char *pragmas = "PRAGMA query_only=1; PRAGMA mmap_size=0;";
	char sql[160];
	int ckpt_pages = WRITER_AUTOCHECKPOINT_BYTES / b->page_size;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c && writer && !(c->span_seen = calloc(SPAN_CACHE, sizeof(c->span_seen[0])))) {
		free(c);
		c = NULL;
	}
	if (!c)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	c->wal_fd = -1;
	c->audit.key = b->audit_key;
	c->audit.index_batch = b->audit_index_batch;
	rc = sqlite3_open_v2(b->path, &c->db,
			     (writer ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) |
				     SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		rc = sqlite_fail(c->db, rc, e, "opening a connection");
		goto fail;
	}
	sqlite3_busy_timeout(c->db, 10000);
	if ((rc = sqlite_audit_attach(c->db, b->audit_path, writer, e)))
		goto fail;
	if (sqlite_query_functions(c->db) != SQLITE_OK) {
		rc = sqlite_fail(c->db, sqlite3_errcode(c->db), e, "adding the search functions");
		goto fail;
	}
	if (writer) {
		/* NORMAL: a commit writes the WAL and does not wait for the disk;
		 * sqlite_sync, on the syncer thread, does (decision 0033). The
		 * audit trail keeps FULL (sqlite_audit_attach). */
		snprintf(sql, sizeof(sql),
			 "PRAGMA main.synchronous=NORMAL; PRAGMA cache_size=-%d;"
			 " PRAGMA wal_autocheckpoint=%d; PRAGMA threads=2;",
			 b->writer_cache_kib, ckpt_pages);
		pragmas = sql;
		if (!(c->wal_path = malloc(strlen(b->path) + 5)) || !(c->data_dir = strdup(b->path))) {
			rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
			goto fail;
		}
		sprintf(c->wal_path, "%s-wal", b->path);
		*(strrchr(c->data_dir, '/') ? strrchr(c->data_dir, '/') : c->data_dir) = '\0';
	}
	rc = sqlite_exec(c->db, pragmas, e);
	if (rc)
		goto fail;
	if (writer && sqlite_checkpointer_start(c->db, b->path, ckpt_pages, &c->ckpt))
		log_warn("sqlite: no checkpoint thread; the writer checkpoints the WAL itself");
	for (int i = 0; i < STMT__COUNT; i++) {
		int src = sqlite3_prepare_v3(c->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					     &c->stmt[i], NULL);
		if (src != SQLITE_OK) {
			rc = sqlite_fail(c->db, src, e, "preparing a statement");
			goto fail;
		}
	}
	/* The statements read the schema, so the WAL exists now; its name is
	 * synced here too, while the process has descriptors to spare. */
	if (writer && (c->wal_fd = open(c->wal_path, O_RDWR | O_CLOEXEC)) >= 0 && sync_dir(c->data_dir))
		c->wal_new = 1;	/* tried again at the first sync */
	if (writer && c->wal_fd < 0 && errno != ENOENT) {
		log_error("sqlite: opening %s: %s", c->wal_path, strerror(errno));
		rc = err_set(e, ERR_IO, NULL, "storage: cannot open the write-ahead log");
		goto fail;
	}
	*out = c;
	return 0;
fail:
	sqlite_conn_close(c);
	return rc;
}

static void bind_key(sqlite3_stmt *s, int64_t tenant, const char *type, const char *id)
{
	sqlite3_bind_int64(s, 1, tenant);
	sqlite3_bind_text(s, 2, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, id, -1, SQLITE_STATIC);
}

int sqlite_row_to_version(sqlite3_stmt *s, int first_col, struct store_version *out)
{
	const void *blob;
	int n;

	out->version = sqlite3_column_int64(s, first_col);
	out->last_updated_ms = sqlite3_column_int64(s, first_col + 1);
	out->deleted = sqlite3_column_int(s, first_col + 2);
	out->seq = sqlite3_column_int64(s, first_col + 4);
	out->interaction = sqlite3_column_int(s, first_col + 5);
	buf_clear(&out->json);
	blob = sqlite3_column_blob(s, first_col + 3);
	n = sqlite3_column_bytes(s, first_col + 3);
	if (blob && n > 0)
		return buf_append(&out->json, blob, (size_t)n);
	return 0;
}

static int sqlite_read(void *conn, int64_t tenant, const char *type, const char *id,
		       int64_t version, struct store_version *out, struct err *e)
{
	struct sqlite_conn *c = conn;
	sqlite3_stmt *s = c->stmt[version ? STMT_READ_VERSION : STMT_READ_CURRENT];
	int rc, src;

	bind_key(s, tenant, type, id);
	if (version)
		sqlite3_bind_int64(s, 4, version);
	src = sqlite3_step(s);
	if (src == SQLITE_ROW) {
		rc = sqlite_row_to_version(s, 0, out);
		if (rc)
			err_set(e, rc, NULL, "cannot hold the stored resource");
		snprintf(out->type, sizeof(out->type), "%s", type);
		snprintf(out->id, sizeof(out->id), "%s", id);
	} else if (src == SQLITE_DONE)
		rc = ERR_NOT_FOUND;	/* no issue: the caller words it */
	else
		rc = sqlite_fail(c->db, src, e, "reading a resource");
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc;
}

static int sqlite_history(void *conn, const struct store_history_query *q, store_row_fn fn,
			  void *ctx, struct err *e)
{
	struct sqlite_conn *c = conn;
	struct store_version v;
	sqlite3_stmt *s = NULL;
	char sql[512];
	int rc = 0, src;

	/* Built from fixed fragments only; every value is bound. */
	snprintf(sql, sizeof(sql),
		 "SELECT type, id, version, last_updated, deleted, json, seq, interaction FROM resource_version"
		 " WHERE tenant=?1%s%s AND last_updated>=?4 AND seq<?5 ORDER BY seq DESC LIMIT ?6",
		 q->type ? " AND type=?2" : "", q->id ? " AND id=?3" : "");
	src = sqlite3_prepare_v2(c->db, sql, -1, &s, NULL);
	if (src != SQLITE_OK)
		return sqlite_fail(c->db, src, e, "preparing history");
	sqlite3_bind_int64(s, 1, q->tenant);
	if (q->type)
		sqlite3_bind_text(s, 2, q->type, -1, SQLITE_STATIC);
	if (q->id)
		sqlite3_bind_text(s, 3, q->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, q->since_ms);
	sqlite3_bind_int64(s, 5, q->before_seq > 0 ? q->before_seq : INT64_MAX);
	sqlite3_bind_int(s, 6, q->limit > 0 ? q->limit : 100);
	store_version_init(&v);
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		snprintf(v.type, sizeof(v.type), "%s", (const char *)sqlite3_column_text(s, 0));
		snprintf(v.id, sizeof(v.id), "%s", (const char *)sqlite3_column_text(s, 1));
		rc = sqlite_row_to_version(s, 2, &v);
		if (rc) {
			err_set(e, rc, NULL, "cannot hold a history entry");
			break;
		}
		rc = fn(ctx, &v);
		if (rc)
			break;
	}
	if (!rc && src != SQLITE_DONE && src != SQLITE_ROW)
		rc = sqlite_fail(c->db, src, e, "reading history");
	store_version_release(&v);
	sqlite3_finalize(s);
	return rc;
}

static int step_simple(struct sqlite_conn *c, enum stmt_id id, struct err *e)
{
	int src = sqlite3_step(c->stmt[id]);

	sqlite3_reset(c->stmt[id]);
	if (src == SQLITE_DONE || src == SQLITE_ROW)
		return 0;
	return sqlite_fail(c->db, src, e, stmt_sql[id]);
}

static int sqlite_batch_begin(void *wconn, struct err *e)
{
	return step_simple(wconn, STMT_BEGIN, e);
}

static int sqlite_batch_commit(void *wconn, struct err *e)
{
	return step_simple(wconn, STMT_COMMIT, e);
}

/*
 * The WAL's data on disk: fdatasync of our own descriptor of the file,
 * which flushes the file whichever descriptor wrote it. So every commit
 * done before the call is durable when it returns; a commit the writer
 * makes meanwhile may or may not be, and waits for the next call. The
 * descriptor is opened with the writer's connection; again, should the WAL
 * be a new file (SQLite deletes it only when the last connection closes).
 * The directory is synced once per file, for its name. Touches nothing of
 * the writer's database handle.
 */
static int sqlite_sync(void *wconn, struct err *e)
{
	struct sqlite_conn *c = wconn;
	struct stat a, b;

	if (c->wal_fd >= 0 && (stat(c->wal_path, &a) || fstat(c->wal_fd, &b) ||
			       a.st_ino != b.st_ino || a.st_dev != b.st_dev)) {
		close(c->wal_fd);
		c->wal_fd = -1;
	}
	if (c->wal_fd < 0) {
		c->wal_fd = open(c->wal_path, O_RDWR | O_CLOEXEC);
		if (c->wal_fd < 0 && errno == ENOENT)
			return 0;	/* no WAL: every commit is in the database file */
		c->wal_new = 1;
	}
	if (c->wal_fd < 0 || (c->wal_new && sync_dir(c->data_dir))) {
		log_error("sqlite: syncing the WAL %s: %s", c->wal_path, strerror(errno));
		return err_set(e, ERR_IO, NULL, "storage: syncing the write-ahead log failed");
	}
	c->wal_new = 0;
	if (fault_sync_delay_ms())
		usleep((useconds_t)fault_sync_delay_ms() * 1000);
	if (fault_hit(FAULT_SYNC) || fdatasync(c->wal_fd)) {
		log_error("sqlite: fdatasync of the WAL %s failed: %s", c->wal_path,
			  fault_configured() == FAULT_SYNC ? "fault injected" : strerror(errno));
		return err_set(e, ERR_IO, NULL, "storage: syncing the write-ahead log failed");
	}
	return 0;
}

static void sqlite_batch_rollback(void *wconn)
{
	struct sqlite_conn *c = wconn;

	if (c->span_seen)	/* what it remembers may be undone */
		memset(c->span_seen, 0, SPAN_CACHE * sizeof(c->span_seen[0]));

	if (!sqlite3_get_autocommit(c->db))
		step_simple(c, STMT_ROLLBACK, NULL);
}

/* The resource row of a key inside the writer's transaction: rid 0 if none. */
static int current_row(struct sqlite_conn *c, const struct store_write *w, int64_t *rid,
		       int64_t *version, struct err *e)
{
	sqlite3_stmt *s = c->stmt[STMT_RES_GET];
	int src, rc = 0;

	bind_key(s, w->tenant, w->type, w->id);
	src = sqlite3_step(s);
	*rid = *version = 0;
	if (src == SQLITE_ROW) {
		*rid = sqlite3_column_int64(s, 0);
		*version = sqlite3_column_int64(s, 1);
	} else if (src != SQLITE_DONE) {
		rc = sqlite_fail(c->db, src, e, "checking the current version");
	}
	sqlite3_reset(s);
	return rc;
}

static int step_bound(struct sqlite_conn *c, sqlite3_stmt *s, struct err *e, const char *what)
{
	int src = sqlite3_step(s);

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return src == SQLITE_DONE || src == SQLITE_ROW ? 0 : sqlite_fail(c->db, src, e, what);
}

/* Keeps ix_date_span at least as long as this row's interval. */
static int note_span(struct sqlite_conn *c, int64_t tenant, const struct store_ix_row *r,
		     struct err *e)
{
	sqlite3_stmt *s = c->stmt[STMT_DATE_SPAN];
	int64_t span = (r->lo == INT64_MIN || r->hi == INT64_MAX || r->hi - r->lo < 0)
			       ? INT64_MAX : r->hi - r->lo;
	int cached = c->span_seen && tenant == STORE_DEFAULT_TENANT && r->param < SPAN_CACHE;

	if (cached && c->span_seen[r->param] >= span && c->span_seen[r->param] > 0)
		return 0;
	sqlite3_bind_int64(s, 1, tenant);
	sqlite3_bind_int64(s, 2, r->param);
	sqlite3_bind_int64(s, 3, span);
	int rc = step_bound(c, s, e, "recording a date span");

	if (rc)
		return rc;
	if (cached && span > c->span_seen[r->param])
		c->span_seen[r->param] = span;
	return 0;
}

/* The INSERT of n rows (1..IX_ROWS_MAX) into table t. OR FAIL, not the
 * default ABORT: an INSERT of several rows that may abort half-way makes
 * SQLite keep a statement journal, a copy of every page the statement
 * touches; the values are never NULL, and a failed txn is
 * rolled back whole anyway. */
static int ix_insert_stmt(struct sqlite_conn *c, int t, int n, sqlite3_stmt **out, struct err *e)
{
	struct buf sql;
	int rc = 0, src;

	*out = c->ix_insert[t][n - 1];
	if (*out)
		return 0;
	buf_init(&sql, 0);
	rc = buf_printf(&sql, "INSERT OR FAIL INTO %s VALUES ", sqlite_ix_table[t]);
	for (int j = 0; !rc && j < n; j++) {
		rc = buf_puts(&sql, j ? ",(" : "(");
		for (int k = 0; !rc && ix_slots[t][k]; k++)
			rc = buf_printf(&sql, "%s?%d", k ? "," : "", ix_slots[t][k] + IX_SLOTS * j);
		if (!rc)
			rc = buf_putc(&sql, ')');
	}
	if (rc) {
		buf_release(&sql);
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	}
	src = sqlite3_prepare_v3(c->db, sql.p, (int)sql.n, SQLITE_PREPARE_PERSISTENT,
				 &c->ix_insert[t][n - 1], NULL);
	buf_release(&sql);
	if (src != SQLITE_OK)
		return sqlite_fail(c->db, src, e, "preparing an index insert");
	*out = c->ix_insert[t][n - 1];
	return 0;
}

/* Binds row r as row j of an index insert into its table. */
static void bind_ix_row(sqlite3_stmt *s, int j, int64_t rid, int64_t tenant,
			const struct store_ix_rows *ix, const struct store_ix_row *r)
{
	int o = IX_SLOTS * j;

	for (int k = 0; ix_slots[r->table][k]; k++) {
		int slot = ix_slots[r->table][k], i = slot - 4;

		switch (slot) {
		case 1: sqlite3_bind_int64(s, o + 1, rid); break;
		case 2: sqlite3_bind_int64(s, o + 2, tenant); break;
		case 3: sqlite3_bind_int64(s, o + 3, r->param); break;
		case 4: case 5: case 6: case 7:
			sqlite3_bind_text(s, o + slot, ix->text.p ? ix->text.p + r->s[i] : "",
					  (int)r->n[i], SQLITE_STATIC);
			break;
		case 8: sqlite3_bind_int64(s, o + 8, r->lo); break;
		case 9: sqlite3_bind_int64(s, o + 9, r->hi); break;
		/* NaN binds as NULL: an absent part of a composite. */
		case 10: sqlite3_bind_double(s, o + 10, r->dlo); break;
		case 11: sqlite3_bind_double(s, o + 11, r->dhi); break;
		case 12: sqlite3_bind_double(s, o + 12, r->elo); break;
		case 13: sqlite3_bind_double(s, o + 13, r->ehi); break;
		}
	}
}

/* Inserts the rows of table t among ix's, IX_ROWS_MAX per statement. */
static int insert_ix_table(struct sqlite_conn *c, const struct store_write *w, int64_t rid,
			   int t, struct err *e)
{
	const struct store_ix_rows *ix = w->index;
	const struct store_ix_row *chunk[IX_ROWS_MAX];
	int n = 0, rc = 0;

	for (size_t i = 0; !rc && i <= ix->n; i++) {
		sqlite3_stmt *s;

		if (i < ix->n) {
			if (ix->row[i].table != t)
				continue;
			chunk[n++] = &ix->row[i];
			if (!rc && t == STORE_IX_DATE)
				rc = note_span(c, w->tenant, &ix->row[i], e);
			if (n < IX_ROWS_MAX)
				continue;
		}
		if (rc || n == 0)
			break;
		if ((rc = ix_insert_stmt(c, t, n, &s, e)))
			break;
		for (int j = 0; j < n; j++)
			bind_ix_row(s, j, rid, w->tenant, ix, chunk[j]);
		rc = step_bound(c, s, e, "writing index rows");
		n = 0;
	}
	return rc;
}

/* Replaces the index rows of rid by w->index (none for a deletion). */
static int write_index(struct sqlite_conn *c, const struct store_write *w, int64_t rid,
		       int fresh, struct err *e)
{
	unsigned present = 0;
	int rc = 0;

	for (int t = 0; !fresh && !rc && t < STORE_IX__COUNT; t++) {
		sqlite3_stmt *s = c->stmt[STMT_IX_DELETE + t];

		sqlite3_bind_int64(s, 1, rid);
		rc = step_bound(c, s, e, "replacing index rows");
	}
	for (size_t i = 0; w->index && i < w->index->n; i++)
		if (w->index->row[i].table < STORE_IX__COUNT)
			present |= 1u << w->index->row[i].table;
	for (int t = 0; !rc && t < STORE_IX__COUNT; t++)
		if (present & (1u << t))
			rc = insert_ix_table(c, w, rid, t, e);
	return rc;
}

static int apply_write(struct sqlite_conn *c, const struct store_write *w, struct err *e)
{
	sqlite3_stmt *s = c->stmt[STMT_INSERT];
	int64_t rid = 0, cur = 0, seq;
	int rc, src, fresh;

	if ((rc = current_row(c, w, &rid, &cur, e)))
		return rc;
	if (w->expect_version != STORE_EXPECT_ANY && cur != w->expect_version)
		return err_set(e, ERR_CONFLICT, NULL,
			       "%s/%s changed concurrently (now version %lld, expected %lld)",
			       w->type, w->id, (long long)cur, (long long)w->expect_version);
	if (w->interaction == STORE_REINDEX)
		return rid ? write_index(c, w, rid, 0, e) : 0;
	bind_key(s, w->tenant, w->type, w->id);
	sqlite3_bind_int64(s, 4, w->version);
	sqlite3_bind_int64(s, 5, w->last_updated_ms);
	sqlite3_bind_int(s, 6, w->deleted);
	if (w->json)
		sqlite3_bind_blob64(s, 7, w->json, w->json_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 7);
	sqlite3_bind_int(s, 8, w->interaction);
	src = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (src == SQLITE_CONSTRAINT)
		return err_set(e, ERR_CONFLICT, NULL, "%s/%s version %lld already exists", w->type,
			       w->id, (long long)w->version);
	if (src != SQLITE_DONE)
		return sqlite_fail(c->db, src, e, "storing a resource");
	seq = sqlite3_last_insert_rowid(c->db);
	if (w->version < cur)
		return 0;	/* an older version arriving late (EXPECT_ANY): not current */
	fresh = rid == 0;
	if (rid) {
		s = c->stmt[STMT_RES_UPDATE];
		sqlite3_bind_int64(s, 1, rid);
		sqlite3_bind_int64(s, 2, w->version);
		sqlite3_bind_int64(s, 3, w->last_updated_ms);
		sqlite3_bind_int(s, 4, w->deleted);
		sqlite3_bind_int64(s, 5, seq);
		rc = step_bound(c, s, e, "updating the current version");
	} else {
		s = c->stmt[STMT_RES_INSERT];
		bind_key(s, w->tenant, w->type, w->id);
		sqlite3_bind_int64(s, 4, w->version);
		sqlite3_bind_int64(s, 5, w->last_updated_ms);
		sqlite3_bind_int(s, 6, w->deleted);
		sqlite3_bind_int64(s, 7, seq);
		rc = step_bound(c, s, e, "recording the current version");
		rid = sqlite3_last_insert_rowid(c->db);
	}
	if (!rc)
		rc = write_index(c, w, rid, fresh, e);
	return rc;
}

static int set_meta(struct sqlite_conn *c, const char *key, const char *value, struct err *e)
{
	sqlite3_stmt *s = c->stmt[STMT_META_SET];

	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	return step_bound(c, s, e, "writing store metadata");
}

static int sqlite_meta_get(void *conn, const char *key, struct buf *out, struct err *e)
{
	struct sqlite_conn *c = conn;
	sqlite3_stmt *s = c->stmt[STMT_META_GET];
	int src, rc = 0;

	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	src = sqlite3_step(s);
	buf_clear(out);
	if (src == SQLITE_ROW)
		rc = buf_puts(out, (const char *)sqlite3_column_text(s, 0));
	else if (src == SQLITE_DONE)
		rc = ERR_NOT_FOUND;
	else
		rc = sqlite_fail(c->db, src, e, "reading store metadata");
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc;
}

/* The txn's store_meta entry. BULK_META_KEY is a command to the writer:
 * "on" drops the value indexes (a bulk load follows), "off" builds them
 * again and removes the entry; a txn that carries it commits only once
 * that is done. */
static int apply_meta(struct sqlite_conn *c, const struct store_txn *txn, struct err *e)
{
	int rc;

	if (strcmp(txn->meta_key, BULK_META_KEY) != 0)
		return set_meta(c, txn->meta_key, txn->meta_value, e);
	if (txn->meta_value && !strcmp(txn->meta_value, "on")) {
		rc = value_indexes(c->db, 0, e);
		return rc ? rc : set_meta(c, BULK_META_KEY, "on", e);
	}
	if (txn->meta_value && !strcmp(txn->meta_value, "off")) {
		rc = value_indexes(c->db, 1, e);
		return rc ? rc : sqlite_exec(c->db, "DELETE FROM store_meta WHERE key='" BULK_META_KEY "'", e);
	}
	return err_set(e, ERR_INTERNAL, NULL, "store: %s must be 'on' or 'off'", BULK_META_KEY);
}

/* The txn's message log entry: refused when the same message was accepted
 * before (ERR_DUPLICATE), its patient and resources taken from the writes. */
static int apply_message(struct sqlite_conn *c, const struct store_txn *txn, struct err *e)
{
	const struct store_message *m = txn->message;
	sqlite3_stmt *s = c->stmt[STMT_MSG_DUP];
	struct buf patient, res;
	int rc = 0, src;

	sqlite3_bind_int64(s, 1, m->tenant);
	sqlite3_bind_text(s, 2, m->channel, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, m->sender, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, m->control_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, m->mid);
	src = m->accepted ? sqlite3_step(s) : SQLITE_DONE;
	sqlite3_reset(s);
	if (src == SQLITE_ROW)
		return err_set(e, ERR_DUPLICATE, NULL, "message %.64s from %.64s was accepted before",
			       m->control_id, m->sender);
	if (src != SQLITE_DONE)
		return sqlite_fail(c->db, src, e, "reading the message log");
	buf_init(&patient, 0);
	buf_init(&res, 0);
	rc = buf_putc(&res, '[');
	for (size_t i = 0; !rc && i < txn->n_writes; i++) {
		const struct store_write *w = &txn->writes[i];

		if (!patient.n && !strcmp(w->type, "Patient") && !w->deleted)
			rc = buf_printf(&patient, "Patient/%s", w->id);
		if (!rc)	/* types and ids are FHIR ids: nothing to escape */
			rc = buf_printf(&res, "%s\"%s/%s/_history/%lld\"", i ? "," : "", w->type, w->id,
					(long long)w->version);
	}
	if (!rc)
		rc = buf_putc(&res, ']');
	if (rc) {
		buf_release(&patient);
		buf_release(&res);
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	}
	s = c->stmt[m->mid ? STMT_MSG_UPDATE : STMT_MSG_INSERT];
	sqlite3_bind_int64(s, 1, m->tenant);
	if (!m->mid) {
		sqlite3_bind_text(s, 2, m->channel, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, m->sender, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, m->control_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 6, m->peer ? m->peer : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 7, m->received_ms);
		sqlite3_bind_blob(s, 14, m->raw ? m->raw : "", (int)m->raw_len, SQLITE_STATIC);
	} else {
		sqlite3_bind_int64(s, 5, m->mid);
	}
	sqlite3_bind_int64(s, 8, m->processed_ms);
	sqlite3_bind_text(s, 9, m->status, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 10, m->accepted != 0);
	sqlite3_bind_text(s, 11, m->note ? m->note : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 12, patient.p ? patient.p : "", (int)patient.n, SQLITE_STATIC);
	sqlite3_bind_text(s, 13, res.p, (int)res.n, SQLITE_STATIC);
	sqlite3_bind_blob(s, 15, m->ack ? m->ack : "", (int)m->ack_len, SQLITE_STATIC);
	src = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (src != SQLITE_DONE)
		rc = sqlite_fail(c->db, src, e, "writing the message log");
	else if (m->mid && !sqlite3_changes(c->db))
		rc = err_set(e, ERR_NOT_FOUND, NULL, "message log entry %lld not found",
			     (long long)m->mid);
	buf_release(&patient);
	buf_release(&res);
	return rc;
}

/* A savepoint costs more than it seems: SQLite copies every page the txn
 * touches to the sub-journal first, so the writer isolates
 * txns only when the batch is replayed after a failure (store.c). */
static int sqlite_txn_apply(void *wconn, const struct store_txn *txn, int isolate, struct err *e)
{
	struct sqlite_conn *c = wconn;
	int rc = isolate ? step_simple(c, STMT_SAVEPOINT, e) : 0;

	for (size_t i = 0; !rc && i < txn->n_writes; i++)
		rc = apply_write(c, &txn->writes[i], e);
	if (!rc && txn->meta_key)
		rc = apply_meta(c, txn, e);
	if (!rc && txn->message)
		rc = apply_message(c, txn, e);
	if (!isolate)
		return rc;
	if (rc) {
		step_simple(c, STMT_ROLLBACK_TO, NULL);
		if (c->span_seen)
			memset(c->span_seen, 0, SPAN_CACHE * sizeof(c->span_seen[0]));
		step_simple(c, STMT_RELEASE, NULL);
		return rc;
	}
	return step_simple(c, STMT_RELEASE, e);
}

const struct store_ops store_sqlite_ops = {
	.version = 1,
	.name = "sqlite",
	.open = sqlite_open_backend,
	.close = sqlite_close_backend,
	.conn_open = sqlite_conn_open,
	.conn_close = sqlite_conn_close,
	.conn_share = sqlite_conn_share,
	.read = sqlite_read,
	.history = sqlite_history,
	.meta_get = sqlite_meta_get,
	.search = sqlite_search,
	.batch_begin = sqlite_batch_begin,
	.txn_apply = sqlite_txn_apply,
	.batch_commit = sqlite_batch_commit,
	.batch_rollback = sqlite_batch_rollback,
	.sync = sqlite_sync,
	.scan = sqlite_scan,
	.messages = sqlite_messages,
	.tenant_add = sqlite_tenant_add,
	.tenant_get = sqlite_tenant_get,
	.tenants = sqlite_tenants,
	.principal_put = sqlite_principal_put,
	.principal_get = sqlite_principal_get,
	.principals = sqlite_principals,
	.principal_login = sqlite_principal_login,
	.audit_append = sqlite_audit_append,
	.audits = sqlite_audits,
	.audit_verify = sqlite_audit_verify,
	.grant_add = sqlite_grant_add,
	.grant_get = sqlite_grant_get,
	.grant_revoke_family = sqlite_grant_revoke_family,
	.grant_jtis = sqlite_grant_jtis,
	.token_revoke = sqlite_token_revoke,
	.grants_prune = sqlite_grants_prune,
	.tokens_revoked = sqlite_tokens_revoked,
	.client_jwks_put = sqlite_client_jwks_put,
	.client_jwks_get = sqlite_client_jwks_get,
	.client_jti_use = sqlite_client_jti_use,
};
