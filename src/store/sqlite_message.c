/*
 * sqlite_message.c — reading the message log (struct store_message_query):
 * by control id, patient, time, status; newest first. The entries are
 * written by the writer with the txn they belong to (sqlite.c).
 */
#include "sqlite_int.h"

#include <stdint.h>
#include <string.h>

/* Bound parameters, by number, whichever conditions the query has. */
enum { A_TENANT = 1, A_CHANNEL, A_SENDER, A_CONTROL, A_PATIENT, A_STATUS, A_MID, A_SINCE, A_UNTIL,
       A_LIMIT };

int sqlite_message_sql(const struct store_message_query *q, struct buf *sql)
{
	int rc = buf_puts(sql, "SELECT mid, tenant, channel, sender, control_id, peer, received,"
			       " processed, status, accepted, note, patient, resources, raw, ack"
			       " FROM message_log WHERE tenant=?1");

	if (!rc && q->channel)
		rc = buf_puts(sql, " AND channel=?2");
	if (!rc && q->sender)
		rc = buf_puts(sql, " AND sender=?3");
	if (!rc && q->control_id)
		rc = buf_puts(sql, " AND control_id=?4");
	if (!rc && q->patient)
		rc = buf_puts(sql, " AND patient=?5");
	if (!rc && q->status)
		rc = buf_puts(sql, " AND status=?6");
	if (!rc && q->mid)
		rc = buf_puts(sql, " AND mid=?7");
	if (!rc && q->since_ms)
		rc = buf_puts(sql, " AND received>=?8");
	if (!rc && q->until_ms)
		rc = buf_puts(sql, " AND received<?9");
	if (!rc && q->accepted_only)
		rc = buf_puts(sql, " AND accepted=1");
	/* A control id matches a handful of entries: find them by
	 * message_log_control and sort those. Without the "+", the planner
	 * walks message_log_received newest first to skip the sort, which
	 * reads the whole log for each duplicate check of an HL7 message. */
	if (!rc)
		rc = buf_puts(sql, q->control_id ? " ORDER BY +received DESC, mid DESC LIMIT ?10"
						 : " ORDER BY received DESC, mid DESC LIMIT ?10");
	return rc;
}

static const char *text(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	return t ? (const char *)t : "";
}

int sqlite_messages(void *conn, const struct store_message_query *q, store_message_fn fn,
		    void *ctx, struct err *e)
{
	struct sqlite_conn *c = conn;
	sqlite3 *db = sqlite_conn_db(c);
	sqlite3_stmt *s = NULL;
	struct buf sql;
	int rc, src;

	buf_init(&sql, 0);
	if (sqlite_message_sql(q, &sql)) {
		buf_release(&sql);
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	}
	src = sqlite_stmt_get(c, sql.p, sql.n, &s);
	buf_release(&sql);
	if (src != SQLITE_OK)
		return sqlite_fail(db, src, e, "preparing a message log query");
	sqlite3_bind_int64(s, A_TENANT, q->tenant);
	sqlite3_bind_text(s, A_CHANNEL, q->channel, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, A_SENDER, q->sender, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, A_CONTROL, q->control_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, A_PATIENT, q->patient, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, A_STATUS, q->status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, A_MID, q->mid);
	sqlite3_bind_int64(s, A_SINCE, q->since_ms);
	sqlite3_bind_int64(s, A_UNTIL, q->until_ms);
	sqlite3_bind_int(s, A_LIMIT, q->limit > 0 ? q->limit : 100);
	rc = 0;
	while (!rc && (src = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_message m = {
			.mid = sqlite3_column_int64(s, 0),
			.tenant = sqlite3_column_int64(s, 1),
			.channel = text(s, 2),
			.sender = text(s, 3),
			.control_id = text(s, 4),
			.peer = text(s, 5),
			.received_ms = sqlite3_column_int64(s, 6),
			.processed_ms = sqlite3_column_int64(s, 7),
			.status = text(s, 8),
			.accepted = sqlite3_column_int(s, 9),
			.note = text(s, 10),
			.patient = text(s, 11),
			.resources = text(s, 12),
		};

		m.raw = sqlite3_column_blob(s, 13);
		m.raw_len = (size_t)sqlite3_column_bytes(s, 13);
		m.ack = sqlite3_column_blob(s, 14);
		m.ack_len = (size_t)sqlite3_column_bytes(s, 14);
		rc = fn(ctx, &m);
	}
	if (!rc && src != SQLITE_DONE)
		rc = sqlite_fail(db, src, e, "reading the message log");
	sqlite_stmt_done(c, s);
	return rc;
}
