/*
 * api_int.h — private to src/api: the per-request context shared by the
 * router (api.c), the interactions (rest.c, history.c, search.c), the
 * operations (everything.c) and capability.c.
 */
#ifndef LT_API_API_INT_H
#define LT_API_API_INT_H

#include <json-c/json.h>
#include "api.h"
#include "../fhir/fhir.h"

#define API_BASE_MAX 512
#define API_WRITE_RETRIES 8		/* optimistic-concurrency retries without If-Match */

struct api {
	struct api_config cfg;
	char *base_url;			/* owned copy of cfg.base_url, or NULL */
	struct store *st;
	struct buf capability;		/* CapabilityStatement, compact bytes */
	int64_t tenant;			/* the one tenant until multi-tenancy */
	int index_stale;		/* the store's index was made with another table */
};

enum api_return { RETURN_REPRESENTATION, RETURN_MINIMAL, RETURN_OUTCOME };

struct api_ctx {
	struct api *api;
	const struct api_request *req;
	struct api_response *res;
	struct err err;
	const char *type;		/* resource type (points into the static type table) */
	const char *compartment;	/* Patient/1/Observation: "Patient" (type is Observation) */
	char id[FHIR_ID_MAX + 1];
	char op[64];			/* operation name without '$', "" when none */
	const char *op_rest;		/* path after the operation name, "" when none */
	int64_t vid;			/* from the URL, for vread */
	int pretty;
	int plain_json;			/* answer application/json instead of fhir+json */
	int strict;			/* Prefer: handling=strict */
	enum api_return ret;
	char base[API_BASE_MAX];	/* e.g. http://host:8080/fhir */
	struct store_ix_rows ix;	/* search index rows of the resource being written */
};

typedef int (*api_handler_fn)(struct api_ctx *c);

/* Levels an operation is defined at (api.c's operation table). */
#define API_OP_SYSTEM 1u
#define API_OP_TYPE 2u
#define API_OP_INSTANCE 4u

/* api.c */
const char *api_param(const struct api_ctx *c, const char *name);
int api_check_params(struct api_ctx *c, const char *const *allowed);
int api_parse_body(struct api_ctx *c, struct json_object **out);
int api_parse_if_match(struct api_ctx *c, int64_t *version);
int api_set_body_json(struct api_ctx *c, const char *json, size_t n);
/* Moves json's bytes into the response body without copying (json is left empty). */
void api_take_body_json(struct api_ctx *c, struct buf *json);
int api_set_outcome(struct api_ctx *c, int status, const char *fmt, ...) LT_PRINTF(3, 4);
void api_set_version_headers(struct api_ctx *c, int64_t version, int64_t last_updated_ms);
int api_set_location(struct api_ctx *c, const char *id, int64_t version);
/* Percent-encodes a query name or value (RFC 3986 unreserved and ':' kept). */
int api_put_query_value(struct buf *b, const char *v) LT_MUST_CHECK;
/* Starts the response body of a Bundle of this type ("searchset", "history"):
 * resourceType, a fresh id, meta.lastUpdated and type, left open. */
int api_bundle_start(struct api_ctx *c, const char *type) LT_MUST_CHECK;
/* Appends a Bundle.link object {"relation": relation, "url": url}. */
int api_put_link(struct buf *b, const char *relation, const char *url) LT_MUST_CHECK;

/* rest.c */
int api_read(struct api_ctx *c);
int api_vread(struct api_ctx *c);
int api_create(struct api_ctx *c);
int api_update(struct api_ctx *c);
int api_delete(struct api_ctx *c);
int api_patch(struct api_ctx *c);

/* search.c */
int api_search(struct api_ctx *c);

/* everything.c */
int api_everything(struct api_ctx *c);

/* reindex.c */
int api_index_check(struct api *api, struct err *e);
int api_index_stale(struct api *api);

/* history.c */
int api_history(struct api_ctx *c);

/* capability.c */
int api_capability_build(struct api *api, struct err *e);
int api_metadata(struct api_ctx *c);

#endif
