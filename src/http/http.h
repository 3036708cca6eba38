/*
 * http.h — the HTTP transport (libmicrohttpd glue only, no FHIR logic).
 *
 * A small epoll thread pool parses requests and answers reads inline. Any
 * request that may write is handed to a pool of worker threads, with its
 * connection suspended, so that a request waiting for a group commit never
 * holds up other connections; many writes waiting at once is what lets the
 * store put many of them in one fsync. Body size, URL length and query
 * parameter count are capped here before the API layer sees anything.
 *
 * http_start/http_stop on one thread (main). Stopping lets every write that
 * was accepted finish and be answered before connections close.
 */
#ifndef LT_HTTP_HTTP_H
#define LT_HTTP_HTTP_H

#include <stddef.h>
#include "../api/api.h"
#include "../base/err.h"

struct http_config {
	const char *host;		/* "127.0.0.1", "0.0.0.0", "::1", "localhost" */
	int port;			/* 0: any free port */
	int io_threads;			/* epoll threads; 0: one per core */
	int workers;			/* threads that run writes */
	unsigned max_connections;
	unsigned idle_timeout_s;	/* closes idle or slow connections */
	size_t max_body_bytes;
	size_t max_url_bytes;
};

struct http_server;

int http_start(const struct http_config *cfg, struct api *api, struct http_server **out,
	       struct err *e) LT_MUST_CHECK;
/* The port actually bound (useful with port 0). */
int http_port(const struct http_server *srv);
void http_stop(struct http_server *srv);

#endif
