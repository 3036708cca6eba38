/*
 * sqlite_audit.c — the audit trail in SQLite (decision 0016): its key, the
 * writer's append with the hash chain, the query, and the verification.
 *
 * Record n carries hash_n = HMAC-SHA-256(key, hash_{n-1} || canon(n)), with
 * hash_0 = 32 zero bytes. canon() is length-prefixed, so no value can pass
 * for a field boundary. The key is 32 random bytes in DATA/keys/audit.key,
 * outside the database. The newest (seq, hash) is also kept in audit_meta
 * "audit_head", written in the same transaction as the records, so that
 * records cut off the end show as missing.
 *
 * "Who looked at my record" needs the records by patient. An index on
 * audit(patient) would put each record on a random page (one per patient
 * read), and with 16 KiB pages a group commit would rewrite a page per
 * record: 64% of the writer's time in the read benchmark. So the writer
 * files records in audit_by_patient in sorted batches of index_batch
 * (audit_meta "audit_indexed" is the last seq filed; audit_batch lists the
 * batches), each appended at the end; a query by patient seeks it once a
 * batch and scans the unfiled tail, at most about index_batch records.
 */
#include "sqlite_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "../base/log.h"

#define AUDIT_HASH_BYTES 32
#define AUDIT_CANON_VERSION 1		/* first byte of canon(): the encoding's version */
#define AUDIT_HEAD_KEY "audit_head"	/* audit_meta: "SEQ HEXHASH" of the newest record */
#define AUDIT_INDEXED_KEY "audit_indexed"	/* audit_meta: the last seq in audit_by_patient */
#define AUDIT_INDEXED_SQL "(SELECT coalesce((SELECT CAST(value AS INTEGER) FROM audit_meta" \
			  " WHERE key='" AUDIT_INDEXED_KEY "'), 0))"
/* main.store_meta: set once the trail has records, so that a trail whose
 * file was removed or emptied is noticed at open rather than restarted. */
#define AUDIT_MARK_KEY "audit_trail"
#define AUDIT_MARK_SQL "INSERT OR IGNORE INTO main.store_meta VALUES ('" AUDIT_MARK_KEY \
		       "', '" SQLITE_AUDIT_FILE "')"
#define AUDIT_KEY_DIR "keys"
#define AUDIT_KEY_NAME "audit.key"
#define AUDIT_CANON_SEQ_AT 1
#define AUDIT_PATH_MAX 4096		/* canon(): where the 8 bytes of seq are */

/* Verification keeps the problems to report them in seq order, and the
 * records whose hash did not match to tell moved records from altered
 * ones. Past these caps it still walks and counts, but pairs no more. */
#define VERIFY_MAX_PROBLEMS 100000
#define VERIFY_MAX_SUSPECTS 4096
#define VERIFY_PAIR_MAX 64		/* the pairing tries k^3 hashes */

#define AUDIT_COLUMNS "seq, tenant, at_ms, agent, action, subtype, entity, patient, source," \
		      " outcome, purpose, flags, detail, hash"

static const unsigned char zero_hash[AUDIT_HASH_BYTES];

/* ---- the key ---------------------------------------------------------------- */

static int read_key(const char *path, int fd, unsigned char key[AUDIT_HASH_BYTES], struct err *e)
{
	struct stat sb;
	ssize_t r;

	if (fstat(fd, &sb) != 0)
		return err_set(e, ERR_CONFIG, NULL, "cannot read the audit key %s: %s", path,
			       strerror(errno));
	if (sb.st_size != AUDIT_HASH_BYTES)
		return err_set(e, ERR_CONFIG, NULL,
			       "the audit key %s is %lld bytes long; it must be %d random bytes "
			       "(restore the right file)", path, (long long)sb.st_size, AUDIT_HASH_BYTES);
	if (sb.st_mode & 077)
		log_warn("store: the audit key %s can be read by other users (chmod 600 it)", path);
	r = read(fd, key, AUDIT_HASH_BYTES);
	if (r != AUDIT_HASH_BYTES)
		return err_set(e, ERR_CONFIG, NULL, "cannot read the audit key %s: %s", path,
			       r < 0 ? strerror(errno) : "short read");
	return 0;
}

/* The truth of one query (sql, with ?1 bound to arg when given): 1 or 0,
 * -1 on error. */
static int sql_true(sqlite3 *db, const char *sql, const char *arg)
{
	sqlite3_stmt *s = NULL;
	int found = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
		if (arg)
			sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			found = sqlite3_column_int(s, 0) != 0;
	}
	sqlite3_finalize(s);
	return found;
}

/* The trail has records or a chain head. */
#define TRAIL_EXISTS_SQL "SELECT EXISTS (SELECT 1 FROM audit) OR EXISTS (SELECT 1 FROM audit_meta" \
			 " WHERE key='" AUDIT_HEAD_KEY "')"

/* Writes a new key: to a temporary file first, then link(2)ed into place,
 * which fails if another process got there first (it then reads theirs). */
static int create_key(const char *dir, const char *path, struct err *e)
{
	unsigned char key[AUDIT_HASH_BYTES];
	char tmp[AUDIT_PATH_MAX + 48];
	int fd, rc = 0;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return err_set(e, ERR_CONFIG, NULL, "cannot create %s: %s", dir, strerror(errno));
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
		return err_set(e, ERR_INTERNAL, NULL, "cannot draw the audit key: %s", strerror(errno));
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		OPENSSL_cleanse(key, sizeof(key));
		return err_set(e, ERR_CONFIG, NULL, "cannot create the audit key %s: %s", tmp,
			       strerror(errno));
	}
	if (write(fd, key, sizeof(key)) != (ssize_t)sizeof(key) || fsync(fd) != 0)
		rc = err_set(e, ERR_IO, NULL, "cannot write the audit key %s: %s", tmp, strerror(errno));
	close(fd);
	OPENSSL_cleanse(key, sizeof(key));
	if (!rc && link(tmp, path) != 0 && errno != EEXIST)
		rc = err_set(e, ERR_CONFIG, NULL, "cannot create the audit key %s: %s", path,
			     strerror(errno));
	unlink(tmp);
	if (!rc && (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd);	/* the new name survives a power cut */
		close(fd);
	}
	return rc;
}

static int key_load(const char *data_dir, sqlite3 *db, unsigned char key[AUDIT_HASH_BYTES],
		    struct err *e)
{
	char dir[AUDIT_PATH_MAX], path[AUDIT_PATH_MAX + 16];
	int fd, rc, exists;

	if (strlen(data_dir) + sizeof(AUDIT_KEY_DIR) + 1 > sizeof(dir))
		return err_set(e, ERR_CONFIG, NULL, "the data directory's path is too long");
	snprintf(dir, sizeof(dir), "%s/%s", data_dir, AUDIT_KEY_DIR);
	snprintf(path, sizeof(path), "%s/%s", dir, AUDIT_KEY_NAME);
	for (int attempt = 0; attempt < 2; attempt++) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			rc = read_key(path, fd, key, e);
			close(fd);
			return rc;
		}
		if (errno != ENOENT)
			return err_set(e, ERR_CONFIG, NULL, "cannot open the audit key %s: %s", path,
				       strerror(errno));
		exists = sql_true(db, TRAIL_EXISTS_SQL, NULL);
		if (exists < 0)
			return sqlite_fail(db, SQLITE_ERROR, e, "reading the audit trail");
		if (exists)
			return err_set(e, ERR_CONFIG, NULL,
				       "the audit key %s is missing but the database has an audit trail: "
				       "restore the key file (without it the trail can be neither "
				       "verified nor extended)", path);
		if ((rc = create_key(dir, path, e)))
			return rc;
	}
	return err_set(e, ERR_CONFIG, NULL, "cannot create the audit key %s", path);
}

/* ---- the file ---------------------------------------------------------------- */

/* The trail's tables, in DATA/audit.db. seq is given by the writer, 1, 2,
 * 3..., and hash chains each record to the one before (hex HMAC-SHA-256).
 * Append-only. audit_meta holds the chain head and the filing mark. */
static const char audit_schema[] =
	"CREATE TABLE IF NOT EXISTS trail.audit ("
	" seq INTEGER PRIMARY KEY,"
	" tenant INTEGER NOT NULL,"
	" at_ms INTEGER NOT NULL,"		/* ms since epoch, UTC */
	" agent TEXT NOT NULL,"
	" action TEXT NOT NULL,"
	" subtype TEXT NOT NULL,"
	" entity TEXT NOT NULL,"
	" patient TEXT NOT NULL,"
	" source TEXT NOT NULL,"
	" outcome INTEGER NOT NULL,"
	" purpose TEXT NOT NULL,"
	" flags INTEGER NOT NULL,"
	" detail TEXT NOT NULL,"
	" hash TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS trail.audit_tenant ON audit(tenant, seq);"
	"CREATE TABLE IF NOT EXISTS trail.audit_batch (start INTEGER PRIMARY KEY);"
	"CREATE TABLE IF NOT EXISTS trail.audit_by_patient (batch INTEGER NOT NULL,"
	" tenant INTEGER NOT NULL, patient TEXT NOT NULL, seq INTEGER NOT NULL,"
	" PRIMARY KEY (batch, tenant, patient, seq)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS trail.audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);";

int sqlite_audit_attach(sqlite3 *db, const char *path, int writer, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int src = sqlite3_prepare_v2(db, "ATTACH ?1 AS trail", -1, &s, NULL);

	if (src == SQLITE_OK) {
		sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
		src = sqlite3_step(s);
	}
	sqlite3_finalize(s);
	if (src != SQLITE_DONE)
		return sqlite_fail(db, src, e, "opening the audit trail's file");
	return writer ? sqlite_exec(db, "PRAGMA trail.synchronous=FULL;", e) : 0;
}

/* lienthong.db has the table ?1. */
#define MAIN_HAS_SQL "SELECT EXISTS (SELECT 1 FROM main.sqlite_master WHERE type='table' AND name=?1)"

/*
 * Versions before decision 0023 kept the trail in lienthong.db. It is
 * copied into the trail's file in one transaction, then dropped from
 * lienthong.db in a second: a crash between the two leaves both copies,
 * and the next open copies nothing new (OR IGNORE) and drops. The copy
 * is of rows as they are, hashes included: the chain stays verifiable.
 */
static int move_from_main(sqlite3 *db, struct err *e)
{
	static const char *const copy[][2] = {
		{ "audit", "INSERT OR IGNORE INTO trail.audit(" AUDIT_COLUMNS ") SELECT " AUDIT_COLUMNS
			   " FROM main.audit;" },
		{ "audit_batch", "INSERT OR IGNORE INTO trail.audit_batch SELECT start"
				 " FROM main.audit_batch;" },
		{ "audit_by_patient", "INSERT OR IGNORE INTO trail.audit_by_patient SELECT batch,"
				      " tenant, patient, seq FROM main.audit_by_patient;" },
	};
	int rc, has = sql_true(db, MAIN_HAS_SQL, "audit");

	if (has <= 0)
		return has < 0 ? sqlite_fail(db, SQLITE_ERROR, e, "looking for an old audit trail") : 0;
	log_info("store: moving the audit trail from " "lienthong.db to its own file, "
		 SQLITE_AUDIT_FILE " (decision 0023)");
	rc = sqlite_exec(db, "BEGIN IMMEDIATE", e);
	for (size_t i = 0; !rc && i < sizeof(copy) / sizeof(copy[0]); i++)
		if ((has = sql_true(db, MAIN_HAS_SQL, copy[i][0])) != 0)
			rc = has < 0 ? sqlite_fail(db, SQLITE_ERROR, e, "looking for an old audit table")
				     : sqlite_exec(db, copy[i][1], e);
	if (!rc)
		rc = sqlite_exec(db, "INSERT OR REPLACE INTO trail.audit_meta SELECT key, value"
				 " FROM main.store_meta WHERE key IN ('" AUDIT_HEAD_KEY "', '"
				 AUDIT_INDEXED_KEY "'); COMMIT;", e);
	if (!rc)
		rc = sqlite_exec(db, "BEGIN IMMEDIATE; DROP TABLE IF EXISTS main.audit_by_patient;"
				 " DROP TABLE IF EXISTS main.audit_batch; DROP TABLE main.audit;"
				 " DELETE FROM main.store_meta WHERE key IN ('" AUDIT_HEAD_KEY "', '"
				 AUDIT_INDEXED_KEY "'); COMMIT;", e);
	if (rc)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* lienthong.db says the trail has had records. */
#define TRAIL_MARKED_SQL "SELECT EXISTS (SELECT 1 FROM main.store_meta WHERE key='" AUDIT_MARK_KEY "')"

int sqlite_audit_open(const char *data_dir, const char *path, sqlite3 *db,
		      unsigned char key[SQLITE_AUDIT_KEY_BYTES], struct err *e)
{
	int rc, exists, marked;

	if ((rc = sqlite_audit_attach(db, path, 1, e)) ||
	    (rc = sqlite_exec(db, "PRAGMA trail.journal_mode=WAL;", e)) ||
	    (rc = sqlite_exec(db, audit_schema, e)) || (rc = move_from_main(db, e)))
		return rc;
	exists = sql_true(db, TRAIL_EXISTS_SQL, NULL);
	marked = sql_true(db, TRAIL_MARKED_SQL, NULL);
	if (exists < 0 || marked < 0)
		return sqlite_fail(db, SQLITE_ERROR, e, "reading the audit trail");
	if (marked && !exists)
		return err_set(e, ERR_CONFIG, NULL,
			       "the audit trail in %s is missing or empty, but this store has had one:"
			       " restore the file from a back-up (a new trail would hide what the old"
			       " one recorded)", path);
	if (exists && (rc = sqlite_exec(db, AUDIT_MARK_SQL, e)))	/* stores from before the mark */
		return rc;
	return key_load(data_dir, db, key, e);
}

/* ---- the chain ------------------------------------------------------------- */

static int put_u64(struct buf *b, uint64_t v)
{
	unsigned char x[8];

	for (int i = 0; i < 8; i++)
		x[i] = (unsigned char)(v >> (56 - 8 * i));
	return buf_append(b, x, 8);
}

static int put_str(struct buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	unsigned char x[4];

	if (n > UINT32_MAX)
		return ERR_TOO_LARGE;
	for (int i = 0; i < 4; i++)
		x[i] = (unsigned char)(n >> (24 - 8 * i));
	return buf_append(b, x, 4) || (n && buf_append(b, s, n)) ? ERR_NOMEM : 0;
}

/* The canonical bytes of a record: a version byte, seq and the numbers as
 * 8 bytes big-endian, every string as 4 bytes of length and its bytes. */
static int canon(struct buf *b, int64_t seq, const struct store_audit *a)
{
	const char *const strs[] = { a->agent, a->action, a->subtype, a->entity, a->patient,
				     a->source, a->purpose, a->detail };
	int rc;

	buf_clear(b);
	rc = buf_putc(b, AUDIT_CANON_VERSION);
	if (!rc)
		rc = put_u64(b, (uint64_t)seq);
	if (!rc)
		rc = put_u64(b, (uint64_t)a->tenant);
	if (!rc)
		rc = put_u64(b, (uint64_t)a->at_ms);
	if (!rc)
		rc = put_u64(b, (uint64_t)(int64_t)a->outcome);
	if (!rc)
		rc = put_u64(b, a->flags);
	for (size_t i = 0; !rc && i < sizeof(strs) / sizeof(strs[0]); i++)
		rc = put_str(b, strs[i]);
	return rc;
}

/* A keyed HMAC-SHA-256 context for one append or one verification. */
struct chain {
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx;
	const unsigned char *key;
};

static int chain_init(struct chain *ch, const unsigned char *key, struct err *e)
{
	char digest[] = "SHA256";
	OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
				OSSL_PARAM_construct_end() };

	ch->key = key;
	ch->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	ch->ctx = ch->mac ? EVP_MAC_CTX_new(ch->mac) : NULL;
	if (!ch->ctx || EVP_MAC_CTX_set_params(ch->ctx, params) != 1)
		return err_set(e, ERR_INTERNAL, NULL, "HMAC-SHA-256 is not available from OpenSSL");
	return 0;
}

static void chain_release(struct chain *ch)
{
	EVP_MAC_CTX_free(ch->ctx);
	EVP_MAC_free(ch->mac);
}

static int chain_hash(struct chain *ch, const unsigned char prev[AUDIT_HASH_BYTES],
		      const struct buf *canonical, unsigned char out[AUDIT_HASH_BYTES])
{
	size_t len = 0;

	if (EVP_MAC_init(ch->ctx, ch->key, AUDIT_HASH_BYTES, NULL) != 1 ||
	    EVP_MAC_update(ch->ctx, prev, AUDIT_HASH_BYTES) != 1 ||
	    EVP_MAC_update(ch->ctx, (const unsigned char *)canonical->p, canonical->n) != 1 ||
	    EVP_MAC_final(ch->ctx, out, &len, AUDIT_HASH_BYTES) != 1 || len != AUDIT_HASH_BYTES)
		return ERR_INTERNAL;
	return 0;
}

static void to_hex(const unsigned char h[AUDIT_HASH_BYTES], char out[2 * AUDIT_HASH_BYTES + 1])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < AUDIT_HASH_BYTES; i++) {
		out[2 * i] = digits[h[i] >> 4];
		out[2 * i + 1] = digits[h[i] & 15];
	}
	out[2 * AUDIT_HASH_BYTES] = '\0';
}

/* 0 when s is exactly 64 hex digits; else -1 and out is zero. */
static int from_hex(const char *s, unsigned char out[AUDIT_HASH_BYTES])
{
	memset(out, 0, AUDIT_HASH_BYTES);
	if (!s || strlen(s) != 2 * AUDIT_HASH_BYTES)
		return -1;
	for (int i = 0; i < AUDIT_HASH_BYTES; i++) {
		int hi = str_hex_digit(s[2 * i]), lo = str_hex_digit(s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			memset(out, 0, AUDIT_HASH_BYTES);
			return -1;
		}
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static const char *text(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	return t ? (const char *)t : "";
}

/* The chain head of audit_meta: 1 when present (seq, hash set), 0 when not. */
static int head_parse(const char *v, int64_t *seq, unsigned char hash[AUDIT_HASH_BYTES])
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (end == v || errno || n < 0 || *end != ' ' || from_hex(end + 1, hash))
		return -1;
	*seq = n;
	return 0;
}

/* Reads the head (-1 when it is not "SEQ HEX", 0 when absent, 1 when read)
 * and the newest record. */
static int chain_state(sqlite3 *db, int64_t *head_seq, unsigned char head[AUDIT_HASH_BYTES],
		       int64_t *last_seq, unsigned char last[AUDIT_HASH_BYTES], int *have_head,
		       struct err *e)
{
	sqlite3_stmt *s = NULL;
	int src;

	*have_head = 0;
	*head_seq = *last_seq = 0;
	memset(head, 0, AUDIT_HASH_BYTES);
	memset(last, 0, AUDIT_HASH_BYTES);
	src = sqlite3_prepare_v2(db, "SELECT value FROM audit_meta WHERE key='" AUDIT_HEAD_KEY "'",
				 -1, &s, NULL);
	if (src == SQLITE_OK && (src = sqlite3_step(s)) == SQLITE_ROW)
		*have_head = head_parse(text(s, 0), head_seq, head) ? -1 : 1;
	sqlite3_finalize(s);
	if (src != SQLITE_ROW && src != SQLITE_DONE)
		return sqlite_fail(db, src, e, "reading the audit chain head");
	src = sqlite3_prepare_v2(db, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", -1, &s,
				 NULL);
	if (src == SQLITE_OK && (src = sqlite3_step(s)) == SQLITE_ROW) {
		*last_seq = sqlite3_column_int64(s, 0);
		from_hex(text(s, 1), last);
	}
	sqlite3_finalize(s);
	if (src != SQLITE_ROW && src != SQLITE_DONE)
		return sqlite_fail(db, src, e, "reading the newest audit record");
	return 0;
}

/* ---- append (writer) ------------------------------------------------------- */

static int insert_stmt(sqlite3 *db, struct sqlite_audit_conn *ac, struct err *e)
{
	int src;

	if (ac->insert)
		return 0;
	src = sqlite3_prepare_v3(db, "INSERT INTO audit(" AUDIT_COLUMNS ") VALUES"
				 " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
				 -1, SQLITE_PREPARE_PERSISTENT, &ac->insert, NULL);
	return src == SQLITE_OK ? 0 : sqlite_fail(db, src, e, "preparing the audit insert");
}

static void bind_str(sqlite3_stmt *s, int i, const char *v)
{
	sqlite3_bind_text(s, i, v ? v : "", -1, SQLITE_STATIC);
}

/* One statement with ?1 and ?2 bound; SQLITE_DONE when it ran. */
static int run2(sqlite3 *db, const char *sql, int64_t v1, int64_t v2)
{
	sqlite3_stmt *s = NULL;
	int src = sqlite3_prepare_v2(db, sql, -1, &s, NULL);

	if (src == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, v1);
		sqlite3_bind_int64(s, 2, v2);
		src = sqlite3_step(s);
	}
	sqlite3_finalize(s);
	return src;
}

/*
 * Files the records after the last filed one in audit_by_patient, once
 * batch of them wait (at most 4 batches at a time: a store from before
 * the table catches up over several commits). The entries of a pass carry
 * its first seq as their batch, ahead of the key, and go in sorted: each
 * pass appends at the end of the b-tree. (Entries put among others' split
 * and shift 16 KiB pages: that cost 3 µs a record.)
 */
static int file_by_patient(sqlite3 *db, int64_t batch, int64_t newest, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int64_t filed = 0, upto;
	int src;

	src = sqlite3_prepare_v2(db, "SELECT " AUDIT_INDEXED_SQL, -1, &s, NULL);
	if (src == SQLITE_OK && (src = sqlite3_step(s)) == SQLITE_ROW)
		filed = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (src != SQLITE_ROW)
		return sqlite_fail(db, src, e, "reading the audit index mark");
	if (newest - filed < batch)
		return 0;
	upto = newest - filed > 4 * batch ? filed + 4 * batch : newest;
	src = run2(db, "INSERT INTO audit_batch VALUES (?1 + 1)", filed, 0);
	if (src == SQLITE_DONE)
		src = run2(db, "INSERT INTO audit_by_patient SELECT ?1 + 1, tenant, patient, seq"
			   " FROM audit WHERE seq>?1 AND seq<=?2 AND patient<>''"
			   " ORDER BY tenant, patient, seq", filed, upto);
	if (src == SQLITE_DONE)
		src = run2(db, "INSERT OR REPLACE INTO audit_meta VALUES ('" AUDIT_INDEXED_KEY "', ?1)",
			   upto, 0);
	return src == SQLITE_DONE ? 0 : sqlite_fail(db, src, e, "filing audit records by patient");
}

/*
 * The chain goes on from the head in audit_meta, not from the newest row:
 * records cut off the end stay missing (a gap before the next one) rather
 * than being papered over. A row past the head (put there by hand) is not
 * overwritten: the chain goes on after it, and verify reports it.
 */
int sqlite_audit_append(void *wconn, const struct store_audit *const *a, size_t n, struct err *e)
{
	struct sqlite_conn *c = wconn;
	struct sqlite_audit_conn *ac = sqlite_conn_audit(c);
	sqlite3 *db = sqlite_conn_db(c);
	unsigned char head[AUDIT_HASH_BYTES], last[AUDIT_HASH_BYTES], prev[AUDIT_HASH_BYTES];
	char hex[2 * AUDIT_HASH_BYTES + 1], value[32 + sizeof(hex)];
	int64_t head_seq, last_seq, seq;
	struct chain ch = { 0 };
	struct buf b;
	sqlite3_stmt *s = NULL;
	int have_head, rc, src;

	if (!n)
		return 0;
	if ((rc = chain_state(db, &head_seq, head, &last_seq, last, &have_head, e)))
		return rc;
	if (have_head == 1 && head_seq >= last_seq) {
		seq = head_seq;
		memcpy(prev, head, sizeof(prev));
	} else {
		seq = last_seq;
		memcpy(prev, last_seq ? last : zero_hash, sizeof(prev));
	}
	/* Once the trail has durable records, lienthong.db remembers there is
	 * one (its only change from the trail, once): not with the first
	 * records, as a crash between the two files' commits could leave the
	 * mark without them. */
	if (seq && !ac->marked) {
		if ((rc = sqlite_exec(db, AUDIT_MARK_SQL, e)))
			return rc;
		ac->marked = 1;
	}
	if ((rc = insert_stmt(db, ac, e)) || (rc = chain_init(&ch, ac->key, e))) {
		chain_release(&ch);
		return rc;
	}
	buf_init(&b, 0);
	s = ac->insert;
	for (size_t i = 0; !rc && i < n; i++) {
		const struct store_audit *r = a[i];

		seq++;
		if (canon(&b, seq, r) || chain_hash(&ch, prev, &b, prev)) {
			rc = err_set(e, ERR_NOMEM, NULL, "cannot hash an audit record");
			break;
		}
		to_hex(prev, hex);
		sqlite3_bind_int64(s, 1, seq);
		sqlite3_bind_int64(s, 2, r->tenant);
		sqlite3_bind_int64(s, 3, r->at_ms);
		bind_str(s, 4, r->agent);
		bind_str(s, 5, r->action);
		bind_str(s, 6, r->subtype);
		bind_str(s, 7, r->entity);
		bind_str(s, 8, r->patient);
		bind_str(s, 9, r->source);
		sqlite3_bind_int(s, 10, r->outcome);
		bind_str(s, 11, r->purpose);
		sqlite3_bind_int64(s, 12, r->flags);
		bind_str(s, 13, r->detail);
		sqlite3_bind_text(s, 14, hex, -1, SQLITE_STATIC);
		src = sqlite3_step(s);
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		if (src != SQLITE_DONE)
			rc = sqlite_fail(db, src, e, "appending to the audit trail");
	}
	buf_release(&b);
	chain_release(&ch);
	if (rc)
		return rc;
	snprintf(value, sizeof(value), "%lld %s", (long long)seq, hex);
	src = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO audit_meta VALUES ('" AUDIT_HEAD_KEY
				 "', ?1)", -1, &s, NULL);
	if (src == SQLITE_OK) {
		sqlite3_bind_text(s, 1, value, -1, SQLITE_STATIC);
		src = sqlite3_step(s);
	}
	sqlite3_finalize(s);
	if (src != SQLITE_DONE)
		return sqlite_fail(db, src, e, "moving the audit chain head");
	return file_by_patient(db, ac->index_batch, seq, e);
}

/* ---- query ----------------------------------------------------------------- */

enum { Q_TENANT = 1, Q_PATIENT, Q_AGENT, Q_SINCE, Q_UNTIL, Q_BEFORE, Q_FLAGS, Q_LIMIT };

static int audit_sql(const struct store_audit_query *q, struct buf *sql)
{
	int rc = buf_puts(sql, "SELECT " AUDIT_COLUMNS " FROM audit WHERE seq<?6");

	if (!rc && q->tenant)
		rc = buf_puts(sql, " AND tenant=?1");
	/* By patient: the filed records (in every tenant: those of the directory,
	 * the default one, and 0, that of refused requests), and the unfiled tail. */
	if (!rc && q->patient)
		rc = buf_printf(sql, " AND patient=?2 AND seq IN (SELECT seq FROM audit_by_patient"
				" WHERE batch IN (SELECT start FROM audit_batch) AND tenant %s"
				" AND patient=?2 AND seq<?6 UNION ALL"
				" SELECT seq FROM audit WHERE seq>" AUDIT_INDEXED_SQL " AND seq<?6"
				" AND patient=?2)",
				q->tenant ? "=?1" : "IN (SELECT id FROM tenant UNION VALUES (0), (1))");
	if (!rc && q->agent)
		rc = buf_puts(sql, " AND agent=?3");
	if (!rc && q->since_ms)
		rc = buf_puts(sql, " AND at_ms>=?4");
	if (!rc && q->until_ms)
		rc = buf_puts(sql, " AND at_ms<?5");
	if (!rc && q->flags)
		rc = buf_puts(sql, " AND (flags & ?7)=?7");
	if (!rc)
		rc = buf_puts(sql, " ORDER BY seq DESC LIMIT ?8");
	return rc;
}

/* A row of AUDIT_COLUMNS; the strings are the statement's until its next step. */
static void row_to_audit(sqlite3_stmt *s, struct store_audit *a)
{
	memset(a, 0, sizeof(*a));
	a->seq = sqlite3_column_int64(s, 0);
	a->tenant = sqlite3_column_int64(s, 1);
	a->at_ms = sqlite3_column_int64(s, 2);
	a->agent = text(s, 3);
	a->action = text(s, 4);
	a->subtype = text(s, 5);
	a->entity = text(s, 6);
	a->patient = text(s, 7);
	a->source = text(s, 8);
	a->outcome = sqlite3_column_int(s, 9);
	a->purpose = text(s, 10);
	a->flags = (unsigned)sqlite3_column_int64(s, 11);
	a->detail = text(s, 12);
	snprintf(a->hash, sizeof(a->hash), "%s", text(s, 13));
}

int sqlite_audits(void *conn, const struct store_audit_query *q, store_audit_fn fn, void *ctx,
		  struct err *e)
{
	sqlite3 *db = sqlite_conn_db(conn);
	sqlite3_stmt *s = NULL;
	struct buf sql;
	int rc, src;

	buf_init(&sql, 0);
	if (audit_sql(q, &sql)) {
		buf_release(&sql);
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	}
	src = sqlite3_prepare_v2(db, sql.p, (int)sql.n, &s, NULL);
	buf_release(&sql);
	if (src != SQLITE_OK)
		return sqlite_fail(db, src, e, "preparing an audit query");
	sqlite3_bind_int64(s, Q_TENANT, q->tenant);
	sqlite3_bind_text(s, Q_PATIENT, q->patient, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, Q_AGENT, q->agent, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, Q_SINCE, q->since_ms);
	sqlite3_bind_int64(s, Q_UNTIL, q->until_ms);
	sqlite3_bind_int64(s, Q_BEFORE, q->before_seq > 0 ? q->before_seq : INT64_MAX);
	sqlite3_bind_int64(s, Q_FLAGS, q->flags);
	sqlite3_bind_int(s, Q_LIMIT, q->limit > 0 ? q->limit : 100);
	rc = 0;
	while (!rc && (src = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_audit a;

		row_to_audit(s, &a);
		rc = fn(ctx, &a);
	}
	if (!rc && src != SQLITE_DONE)
		rc = sqlite_fail(db, src, e, "reading the audit trail");
	sqlite3_finalize(s);
	return rc;
}

/* ---- verification ---------------------------------------------------------- */

struct problem {
	int64_t seq;
	char what[160];
};

/* A record whose stored hash is not the one its predecessor and content give. */
struct suspect {
	int64_t seq;
	unsigned char prev[AUDIT_HASH_BYTES];	/* the predecessor's stored hash */
	unsigned char stored[AUDIT_HASH_BYTES];
	unsigned char expected[AUDIT_HASH_BYTES];
	int hash_only;				/* its content is right; its hash was changed */
	struct buf canon;
};

struct verify {
	struct chain ch;
	struct problem *p;
	size_t np, cap;
	int64_t dropped;		/* problems beyond VERIFY_MAX_PROBLEMS */
	struct suspect *s;
	size_t ns, scap;
	struct buf tmp;
	int oom;
};

static void problem(struct verify *v, int64_t seq, const char *fmt, ...) LT_PRINTF(3, 4);

static void problem(struct verify *v, int64_t seq, const char *fmt, ...)
{
	va_list ap;

	if (v->np == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 16;
		struct problem *p;

		if (v->np >= VERIFY_MAX_PROBLEMS || !(p = realloc(v->p, cap * sizeof(*p)))) {
			v->dropped++;
			return;
		}
		v->p = p;
		v->cap = cap;
	}
	v->p[v->np].seq = seq;
	va_start(ap, fmt);
	vsnprintf(v->p[v->np].what, sizeof(v->p[v->np].what), fmt, ap);
	va_end(ap);
	v->np++;
}

/* Keeps a mismatching record for pairing; -1 when past the cap (it is then
 * reported as altered at once). */
static long suspect_add(struct verify *v, int64_t seq, const unsigned char *prev,
			const unsigned char *stored, const unsigned char *expected,
			const struct buf *canonical)
{
	struct suspect *x;

	if (v->ns == v->scap) {
		size_t cap = v->scap ? 2 * v->scap : 8;
		struct suspect *p;

		if (v->ns >= VERIFY_MAX_SUSPECTS || !(p = realloc(v->s, cap * sizeof(*p))))
			return -1;
		v->s = p;
		v->scap = cap;
	}
	x = &v->s[v->ns];
	memset(x, 0, sizeof(*x));
	x->seq = seq;
	memcpy(x->prev, prev, AUDIT_HASH_BYTES);
	memcpy(x->stored, stored, AUDIT_HASH_BYTES);
	memcpy(x->expected, expected, AUDIT_HASH_BYTES);
	buf_init(&x->canon, 0);
	if (buf_append(&x->canon, canonical->p, canonical->n)) {
		buf_release(&x->canon);
		return -1;
	}
	return (long)v->ns++;
}

/* hash(prev, canon of x's content at seq) == want? */
static int matches(struct verify *v, const unsigned char *prev, const struct suspect *x,
		   int64_t seq, const unsigned char *want)
{
	unsigned char h[AUDIT_HASH_BYTES];

	buf_clear(&v->tmp);
	if (buf_append(&v->tmp, x->canon.p, x->canon.n)) {
		v->oom = 1;
		return 0;
	}
	for (int i = 0; i < 8; i++)
		v->tmp.p[AUDIT_CANON_SEQ_AT + i] = (char)((uint64_t)seq >> (56 - 8 * i));
	return chain_hash(&v->ch, prev, &v->tmp, h) == 0 && !memcmp(h, want, AUDIT_HASH_BYTES);
}

/*
 * Says what became of each suspect, by trying the other suspects' contents
 * and hashes:
 *   - it is right once its predecessor's true hash is taken (that hash now
 *     sits in another suspect: a record moved away): no problem of its own;
 *   - it holds another position's record, hash and all: reordered;
 *   - its hash is right for another suspect's content: reordered (contents
 *     exchanged);
 *   - else altered.
 */
static void judge(struct verify *v)
{
	int pair = v->ns <= VERIFY_PAIR_MAX;

	for (size_t i = 0; i < v->ns; i++) {
		struct suspect *x = &v->s[i];
		int done = 0;

		if (x->hash_only) {
			problem(v, x->seq, "altered (its stored hash was changed)");
			continue;
		}
		for (size_t j = 0; pair && !done && j < v->ns; j++)
			done = j != i && matches(v, v->s[j].stored, x, x->seq, x->stored);
		for (size_t j = 0; pair && !done && j < v->ns; j++) {
			const struct suspect *y = &v->s[j];

			if (j == i)
				continue;
			done = matches(v, y->prev, x, y->seq, x->stored);
			for (size_t k = 0; !done && k < v->ns; k++)
				done = matches(v, v->s[k].stored, x, y->seq, x->stored);
			if (done)
				problem(v, x->seq, "reordered (it holds record %lld, moved here)",
					(long long)y->seq);
		}
		for (size_t j = 0; pair && !done && j < v->ns; j++) {
			const struct suspect *y = &v->s[j];

			done = j != i && matches(v, x->prev, y, x->seq, x->stored);
			if (done)
				problem(v, x->seq, "reordered (its content is now in record %lld)",
					(long long)y->seq);
		}
		if (!done)
			problem(v, x->seq, "altered (its content does not match its hash)");
	}
}

static int by_seq(const void *a, const void *b)
{
	const struct problem *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Walks the chain in seq order on one read snapshot. */
static int walk(sqlite3 *db, struct verify *v, int64_t *checked, struct err *e)
{
	unsigned char prev[AUDIT_HASH_BYTES] = { 0 }, prev_expected[AUDIT_HASH_BYTES] = { 0 };
	unsigned char stored[AUDIT_HASH_BYTES], h[AUDIT_HASH_BYTES], head[AUDIT_HASH_BYTES];
	unsigned char last[AUDIT_HASH_BYTES];
	int64_t expect = 1, last_seq = 0, head_seq, newest;
	long prev_suspect = -1;
	sqlite3_stmt *s = NULL;
	struct buf b;
	int have_head, src, rc;

	if ((rc = chain_state(db, &head_seq, head, &newest, last, &have_head, e)))
		return rc;
	src = sqlite3_prepare_v2(db, "SELECT " AUDIT_COLUMNS " FROM audit ORDER BY seq", -1, &s, NULL);
	if (src != SQLITE_OK)
		return sqlite_fail(db, src, e, "preparing the audit walk");
	buf_init(&b, 0);
	memset(last, 0, sizeof(last));
	rc = 0;
	while (!rc && !v->oom && (src = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_audit a;
		long sus = -1;

		row_to_audit(s, &a);
		(*checked)++;
		from_hex(a.hash, stored);
		if (canon(&b, a.seq, &a)) {
			v->oom = 1;
			break;
		}
		if (a.seq != expect) {
			/* What follows a gap cannot be checked: its predecessor is gone. */
			if (a.seq == expect + 1)
				problem(v, expect, "deleted");
			else
				problem(v, expect, "deleted (records %lld to %lld are missing)",
					(long long)expect, (long long)a.seq - 1);
			memcpy(h, stored, sizeof(h));
		} else if (chain_hash(&v->ch, prev, &b, h)) {
			rc = err_set(e, ERR_INTERNAL, NULL, "cannot hash an audit record");
			break;
		} else if (memcmp(h, stored, sizeof(h))) {
			unsigned char h2[AUDIT_HASH_BYTES];

			if (prev_suspect >= 0 && !chain_hash(&v->ch, prev_expected, &b, h2) &&
			    !memcmp(h2, stored, sizeof(h2)))
				v->s[prev_suspect].hash_only = 1;
			else if ((sus = suspect_add(v, a.seq, prev, stored, h, &b)) < 0)
				problem(v, a.seq, "altered (its content does not match its hash)");
		}
		memcpy(prev_expected, h, sizeof(h));
		memcpy(prev, stored, sizeof(prev));
		prev_suspect = sus;
		expect = a.seq + 1;
		last_seq = a.seq;
	}
	if (!rc && !v->oom && src != SQLITE_DONE)
		rc = sqlite_fail(db, src, e, "reading the audit trail");
	sqlite3_finalize(s);
	buf_release(&b);
	if (rc)
		return rc;
	if (v->oom)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	/* The head: what the writer last committed. */
	if (have_head < 0)
		problem(v, last_seq, "the chain head (audit_meta " AUDIT_HEAD_KEY ") was altered");
	else if (!have_head && last_seq)
		problem(v, last_seq, "the chain head (audit_meta " AUDIT_HEAD_KEY ") is missing");
	else if (have_head && head_seq == last_seq + 1)
		problem(v, head_seq, "truncated (the newest record is missing)");
	else if (have_head && head_seq > last_seq)
		problem(v, last_seq + 1, "truncated (records %lld to %lld, the newest, are missing)",
			(long long)last_seq + 1, (long long)head_seq);
	else if (have_head && head_seq < last_seq)
		problem(v, head_seq + 1, "not in the chain (records %lld to %lld come after its head)",
			(long long)head_seq + 1, (long long)last_seq);
	else if (have_head && last_seq && memcmp(head, prev, sizeof(head))) {
		if (prev_suspect >= 0 && !memcmp(head, prev_expected, sizeof(head)))
			v->s[prev_suspect].hash_only = 1;
		else
			problem(v, last_seq, "altered (its hash is not the chain head's)");
	}
	return 0;
}

/*
 * The patient index against the trail: a filed record missing from it would
 * hide from "who looked at my record", and an entry without its record
 * would show one that is not there. The records are chained; the index is
 * not, so it is checked against them.
 */
static int check_by_patient(sqlite3 *db, struct verify *v, struct err *e)
{
	static const char *const sql[2] = {
		"SELECT a.seq FROM audit a WHERE a.seq<=" AUDIT_INDEXED_SQL " AND a.patient<>''"
		" AND NOT EXISTS (SELECT 1 FROM audit_by_patient x WHERE x.batch=(SELECT max(start)"
		" FROM audit_batch WHERE start<=a.seq) AND x.tenant=a.tenant"
		" AND x.patient=a.patient AND x.seq=a.seq) ORDER BY a.seq",
		"SELECT x.seq FROM audit_by_patient x WHERE NOT EXISTS (SELECT 1 FROM audit a"
		" WHERE a.seq=x.seq AND a.tenant=x.tenant AND a.patient=x.patient AND x.batch="
		"(SELECT max(start) FROM audit_batch WHERE start<=a.seq)) ORDER BY x.seq",
	};
	static const char *const what[2] = {
		"missing from the patient index (a search by patient would not show it)",
		"in the patient index but not in the trail (a search by patient shows what is not there)",
	};

	for (int i = 0; i < 2; i++) {
		sqlite3_stmt *s = NULL;
		int src = sqlite3_prepare_v2(db, sql[i], -1, &s, NULL);

		if (src == SQLITE_OK)
			while ((src = sqlite3_step(s)) == SQLITE_ROW)
				problem(v, sqlite3_column_int64(s, 0), "%s", what[i]);
		sqlite3_finalize(s);
		if (src != SQLITE_DONE)
			return sqlite_fail(db, src, e, "checking the patient index of the audit trail");
	}
	return 0;
}

int sqlite_audit_verify(void *conn, store_audit_problem_fn fn, void *ctx, int64_t *checked,
			struct err *e)
{
	sqlite3 *db = sqlite_conn_db(conn);
	struct verify v = { 0 };
	int rc;

	*checked = 0;
	buf_init(&v.tmp, 0);
	if ((rc = chain_init(&v.ch, sqlite_conn_audit(conn)->key, e)))
		goto out;
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		rc = sqlite_fail(db, sqlite3_errcode(db), e, "starting the audit walk");
		goto out;
	}
	rc = walk(db, &v, checked, e);
	if (!rc)
		rc = check_by_patient(db, &v, e);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc)
		goto out;
	judge(&v);
	if (v.oom) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	if (v.np)
		qsort(v.p, v.np, sizeof(v.p[0]), by_seq);
	for (size_t i = 0; !rc && i < v.np; i++) {
		struct store_audit_problem p = { .seq = v.p[i].seq, .what = v.p[i].what };

		rc = fn(ctx, &p);
	}
	if (!rc && v.dropped) {
		char what[96];
		struct store_audit_problem p = { .seq = v.np ? v.p[v.np - 1].seq : 0, .what = what };

		snprintf(what, sizeof(what), "and %lld more problems not listed", (long long)v.dropped);
		rc = fn(ctx, &p);
	}
out:
	for (size_t i = 0; i < v.ns; i++)
		buf_release(&v.s[i].canon);
	free(v.s);
	free(v.p);
	buf_release(&v.tmp);
	chain_release(&v.ch);
	return rc;
}

void sqlite_audit_conn_release(struct sqlite_audit_conn *ac)
{
	sqlite3_finalize(ac->insert);
	ac->insert = NULL;
}
