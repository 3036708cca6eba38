/*
 * history.c — history at instance, type and system level.
 *
 * Newest first. Paging is by keyset on the global change sequence: the next
 * link carries _cursor=<seq of the last entry>, so pages stay correct while
 * new versions arrive (they are newer than the cursor, never shift a page).
 * The Bundle is assembled from the stored bytes without re-parsing them.
 */
#include "api_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/json.h"
#include "../base/time.h"

#define HISTORY_DEFAULT_COUNT 50
#define HISTORY_MAX_COUNT 1000

static const char *const history_params[] = { "_count", "_since", "_cursor", NULL };

struct history_walk {
	struct api_ctx *c;
	struct buf *out;
	int n, limit;
	int more;		/* a row beyond the limit exists: there is a next page */
	int64_t last_seq;
};

#define WALK_STOP (-1)	/* not an error code: ends the walk early */

/* The history URL of this request, with _count, _since and an optional cursor. */
static int put_link(struct buf *b, struct api_ctx *c, const char *relation, int count,
		    const char *since, int64_t cursor)
{
	struct buf url;
	int rc;

	buf_init(&url, 0);
	rc = buf_puts(&url, c->base);
	if (!rc && c->type)
		rc = buf_printf(&url, "/%s", c->type);
	if (!rc && c->id[0])
		rc = buf_printf(&url, "/%s", c->id);
	if (!rc)
		rc = buf_printf(&url, "/_history?_count=%d", count);
	if (!rc && since) {
		rc = buf_puts(&url, "&_since=");
		if (!rc)
			rc = api_put_query_value(&url, since);
	}
	if (!rc && cursor > 0)
		rc = buf_printf(&url, "&_cursor=%lld", (long long)cursor);
	if (!rc)
		rc = api_put_link(b, relation, url.p);
	buf_release(&url);
	return rc;
}

/* How each interaction appears in a history entry: what the client sent and
 * what it was answered. */
static const struct interaction_row {
	int interaction;
	const char *method;
	int with_id;		/* request.url is [type]/[id] rather than [type] */
	const char *status;
} interaction_rows[] = {
	{ STORE_CREATE, "POST", 0, "201" },
	{ STORE_UPDATE_CREATE, "PUT", 1, "201" },
	{ STORE_UPDATE, "PUT", 1, "200" },
	{ STORE_PATCH, "PATCH", 1, "200" },
	{ STORE_DELETE, "DELETE", 1, "200" },
};

static const struct interaction_row *interaction_of(const struct store_version *v)
{
	for (size_t i = 0; i < sizeof(interaction_rows) / sizeof(interaction_rows[0]); i++)
		if (interaction_rows[i].interaction == v->interaction)
			return &interaction_rows[i];
	return &interaction_rows[v->deleted ? 4 : 2];	/* not recorded: the closest reading */
}

static int history_row(void *ctx, const struct store_version *v)
{
	struct history_walk *w = ctx;
	struct buf *b = w->out;
	struct api_ctx *c = w->c;
	char when[TIME_INSTANT_LEN + 1];
	const struct interaction_row *how = interaction_of(v);
	int rc;

	if (w->n == w->limit) {
		w->more = 1;
		return WALK_STOP;
	}

	time_format_instant(v->last_updated_ms, when);
	rc = buf_puts(b, w->n ? ",{" : "{");
	if (!rc)
		rc = buf_printf(b, "\"fullUrl\":\"%s/%s/%s\"", c->base, v->type, v->id);
	if (!rc && !v->deleted) {
		rc = buf_puts(b, ",\"resource\":");
		if (!rc)
			rc = buf_append(b, v->json.p, v->json.n);
	}
	if (!rc)
		rc = buf_printf(b, ",\"request\":{\"method\":\"%s\",\"url\":\"%s%s%s\"}", how->method,
				v->type, how->with_id ? "/" : "", how->with_id ? v->id : "");
	if (!rc)
		rc = buf_printf(b,
				",\"response\":{\"status\":\"%s\",\"etag\":\"W/\\\"%lld\\\"\","
				"\"lastModified\":\"%s\"}}",
				how->status, (long long)v->version, when);
	w->n++;
	w->last_seq = v->seq;
	if (rc)
		return err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
	return 0;
}

int api_history(struct api_ctx *c)
{
	const char *since = api_param(c, "_since"), *cursor = api_param(c, "_cursor");
	struct store_history_query q = { 0 };
	struct history_walk w = { 0 };
	struct buf *b = &c->res->body;
	int rc, count;

	if ((rc = api_check_params(c, history_params)) ||
	    (rc = api_parse_count(c, HISTORY_DEFAULT_COUNT, HISTORY_MAX_COUNT, &count)))
		return rc;
	q.tenant = c->tenant;
	q.type = c->type;
	q.id = c->id[0] ? c->id : NULL;
	q.since_ms = INT64_MIN;
	q.limit = count + 1;	/* one more tells whether there is a next page (WALK_STOP) */
	if (since && time_parse_fhir(since, strlen(since), TIME_DATETIME, &q.since_ms, NULL))
		return err_set(&c->err, ERR_BAD_REQUEST, NULL,
			       "_since must be an instant such as 2026-01-31T08:00:00Z");
	if (cursor) {
		char *end;
		errno = 0;
		q.before_seq = strtoll(cursor, &end, 10);
		if (end == cursor || *end || errno || q.before_seq < 1)
			return err_set(&c->err, ERR_BAD_REQUEST, NULL, "_cursor is not one this server gave");
	}
	if (q.id) {	/* instance history of an unknown resource is 404 */
		struct store_version v;
		store_version_init(&v);
		rc = store_read(c->api->st, q.tenant, c->type, c->id, 0, &v, &c->err);
		store_version_release(&v);
		if (rc == ERR_NOT_FOUND)
			return err_set(&c->err, ERR_NOT_FOUND, NULL, "%s/%s is not known", c->type, c->id);
		if (rc)
			return rc;
	}
	if ((rc = api_bundle_start(c, "history")))
		return rc;
	rc = buf_puts(b, ",\"link\":[");
	if (!rc)
		rc = put_link(b, c, "self", count, since, q.before_seq);
	/* Entries go to a second buffer: the next link depends on them. */
	{
		struct buf entries;

		buf_init(&entries, 0);
		w.c = c;
		w.out = &entries;
		w.limit = count;
		if (!rc && count > 0) {	/* _count=0: an empty page, and no next link */
			rc = store_history(c->api->st, &q, history_row, &w, &c->err);
			if (rc == WALK_STOP)
				rc = 0;
		}
		if (!rc && w.more && !(rc = buf_putc(b, ',')))
			rc = put_link(b, c, "next", count, since, w.last_seq);
		if (!rc)
			rc = buf_putc(b, ']');
		if (!rc && entries.n) {	/* FHIR JSON has no empty arrays: no entries, no "entry" */
			rc = buf_puts(b, ",\"entry\":[");
			if (!rc)
				rc = buf_append(b, entries.p, entries.n);
			if (!rc)
				rc = buf_putc(b, ']');
		}
		if (!rc)
			rc = buf_putc(b, '}');
		buf_release(&entries);
	}
	if (rc && !c->err.code)
		rc = err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
	if (!rc)
		c->res->status = 200;
	return rc;
}
