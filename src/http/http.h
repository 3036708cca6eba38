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
 * With a certificate and key (http_tls_load) the listener speaks only
 * HTTPS, TLS 1.2 and 1.3 with forward-secret AEAD suites (decision 0017).
 * Every response carries the secure headers (nosniff, no-store, DENY, ...),
 * and Strict-Transport-Security over TLS.
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
	/* HTTPS: both PEM texts (borrowed, NUL-terminated; http_start has
	 * handed them to GnuTLS when it returns, so they may be wiped then),
	 * or both NULL for plain HTTP. */
	const char *tls_cert_pem;
	const char *tls_key_pem;
};

/* A certificate (chain) and its private key read from PEM files. */
struct http_tls {
	char *cert_pem;
	char *key_pem;		/* secret: wiped by http_tls_release */
	size_t key_len;
};

/* Reads both files and checks that TLS is available, that each parses and
 * that the key belongs to the certificate; ERR_CONFIG says which failed.
 * On failure nothing is left to release. */
int http_tls_load(struct http_tls *tls, const char *cert_path, const char *key_path,
		  struct err *e) LT_MUST_CHECK;
/* Wipes the key (explicit_bzero) and frees both; safe to call twice. */
void http_tls_release(struct http_tls *tls);

/* 1 when host names only this machine: 127.0.0.0/8, ::1 (also as
 * ::ffff:127.x.y.z), or "localhost". Anything else, names included, is 0. */
int http_host_is_loopback(const char *host);

struct http_server;

int http_start(const struct http_config *cfg, struct api *api, struct http_server **out,
	       struct err *e) LT_MUST_CHECK;
/* The port actually bound (useful with port 0). */
int http_port(const struct http_server *srv);
void http_stop(struct http_server *srv);

#endif
