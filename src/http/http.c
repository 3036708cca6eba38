/* http.c — libmicrohttpd glue: request assembly, worker hand-off, replies. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "../base/log.h"
#include "../base/time.h"
#include "../base/url.h"

enum phase { PHASE_RECEIVING, PHASE_QUEUED, PHASE_DONE };

/* How much of a too-large body is read (and thrown away) so that an ordinary
 * client gets its 413 cleanly; past this the server answers at once and
 * closes, so an endless upload cannot hold a connection. */
#define HTTP_DRAIN_SLACK_BYTES (16u * 1024 * 1024)

/* GnuTLS priorities (decision 0017): TLS 1.2 and 1.3 only; AEAD ciphers
 * only (no CBC, no SHA-1 MAC or signature); in TLS 1.2 ECDHE key exchange
 * only (forward secrecy: no RSA key transport, no finite-field DHE); the
 * server's order wins. GnuTLS 3.7 expands it to 3 TLS 1.3 suites and 6
 * TLS 1.2 ones (ECDHE-ECDSA/RSA with AES-256-GCM, ChaCha20-Poly1305,
 * AES-128-GCM). */
#define HTTP_TLS_PRIORITIES                                              \
	"SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:"      \
	"-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-GCM:"      \
	"-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-SHA1:%SERVER_PRECEDENCE"

/* A PEM certificate chain or key is a few KiB; a file past this is not one. */
#define HTTP_TLS_MAX_PEM_BYTES (1024u * 1024)

/* One request on one connection; lives from the first call of the access
 * handler to the completion callback. */
struct http_req {
	struct http_server *srv;
	struct MHD_Connection *conn;
	struct api_request req;
	struct api_response res;
	struct buf body;
	enum phase phase;
	int responded;			/* a response is queued: never queue a second */
	int refuse_now;			/* announced body beyond any slack: answer first */
	const char *bad_framing;	/* ambiguous message framing: refuse, then close */
	int n_host, n_length, n_te;	/* header counts, for bad_framing */
	int te_not_chunked;		/* a Transfer-Encoding other than exactly "chunked" */
	size_t received;		/* body bytes read, kept or not */
	int handed_off;			/* counted in srv->in_flight until completed */
	char peer[64];			/* the client's address */
	struct http_req *next;		/* worker queue */
};

struct http_server {
	struct http_config cfg;
	struct api *api;
	struct MHD_Daemon *daemon;
	int port;
	int tls;			/* HTTPS: add Strict-Transport-Security */
	struct MHD_Response *nomem;	/* 503, made at start: for when memory runs out */

	pthread_mutex_t lock;
	pthread_cond_t work_cond;	/* workers wait for jobs */
	pthread_cond_t idle_cond;	/* http_stop waits for in_flight == 0 */
	struct http_req *head, *tail;
	int in_flight;			/* writes handed off and not yet answered */
	int stopping;
	pthread_t *threads;
	int n_threads;
	/* Connections, for the deadline of a request's head (header_reaper). */
	pthread_mutex_t conn_lock;
	pthread_cond_t reaper_cond;	/* http_stop wakes the reaper */
	pthread_t reaper;
	int reaper_started, reaper_stop;
	struct http_conn *conns;
	unsigned n_conns;		/* in conns */
	unsigned shed_at;		/* n_conns from which waiting heads are shed */
	unsigned long shed;		/* connections shed so far (the reaper logs them) */
};

static int method_is_read(const char *m)
{
	return !strcmp(m, "GET") || !strcmp(m, "HEAD");
}

static enum MHD_Result collect_param(void *cls, enum MHD_ValueKind kind, const char *key,
				     const char *value)
{
	struct http_req *hr = cls;
	struct api_request *r = &hr->req;

	r->url_len += strlen(key) + (value ? strlen(value) + 1 : 0) + 1;
	if (r->n_params == API_MAX_QUERY_PARAMS) {
		r->too_many_params = 1;
		return MHD_YES;
	}
	r->params[r->n_params].name = key;
	r->params[r->n_params].value = value ? value : "";
	r->n_params++;
	return MHD_YES;
}

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	struct http_req *hr = cls;

	if (!strcasecmp(key, MHD_HTTP_HEADER_HOST))
		hr->n_host++;
	else if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH))
		hr->n_length++;
	else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
		const char *v = value ? value : "";
		size_t n;

		hr->n_te++;
		while (*v == ' ' || *v == '\t')
			v++;
		n = strlen(v);
		while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		if (n != 7 || strncasecmp(v, "chunked", 7) != 0)
			hr->te_not_chunked = 1;
	}
	return MHD_YES;
}

/* The client's address as text, for the audit trail. */
static void peer_address(struct MHD_Connection *conn, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	out[0] = '\0';
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
			  (socklen_t)n);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
			  (socklen_t)n);
}

static const char *header(struct MHD_Connection *conn, const char *name)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

static struct http_req *req_new(struct http_server *srv, struct MHD_Connection *conn,
				const char *url, const char *method)
{
	struct http_req *hr = calloc(1, sizeof(*hr));
	const char *len;

	if (!hr)
		return NULL;
	hr->srv = srv;
	hr->conn = conn;
	api_response_init(&hr->res);
	buf_init(&hr->body, srv->cfg.max_body_bytes);
	hr->req.method = method;
	hr->req.path = url;
	hr->req.url_len = strlen(url);
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_param, hr);
	hr->req.host = header(conn, MHD_HTTP_HEADER_HOST);
	hr->req.accept = header(conn, MHD_HTTP_HEADER_ACCEPT);
	hr->req.content_type = header(conn, MHD_HTTP_HEADER_CONTENT_TYPE);
	hr->req.if_match = header(conn, MHD_HTTP_HEADER_IF_MATCH);
	hr->req.if_none_match = header(conn, MHD_HTTP_HEADER_IF_NONE_MATCH);
	hr->req.if_none_exist = header(conn, "If-None-Exist");
	hr->req.prefer = header(conn, "Prefer");
	hr->req.authorization = header(conn, MHD_HTTP_HEADER_AUTHORIZATION);
	hr->req.tenant = header(conn, "X-Lienthong-Tenant");
	hr->req.break_glass = header(conn, "X-Break-Glass");
	peer_address(conn, hr->peer, sizeof(hr->peer));
	hr->req.peer = hr->peer;
	hr->req.https = srv->tls;
	/* Two readings of where the body ends, or of which host is meant, is
	 * how request smuggling starts: refuse before reading any body. */
	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, hr);
	if (hr->n_host > 1)
		hr->bad_framing = "more than one Host header";
	else if (hr->n_length > 1)
		hr->bad_framing = "more than one Content-Length header";
	else if (hr->n_length && hr->n_te)
		hr->bad_framing = "both Content-Length and Transfer-Encoding";
	else if (hr->n_te > 1)
		hr->bad_framing = "more than one Transfer-Encoding header";
	else if (hr->te_not_chunked)
		hr->bad_framing = "unsupported Transfer-Encoding (only chunked is accepted)";
	/* Refuse early what the client announces as too large. */
	len = header(conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (len && srv->cfg.max_body_bytes) {
		unsigned long long announced = strtoull(len, NULL, 10);

		hr->req.body_too_large = announced > srv->cfg.max_body_bytes;
		hr->refuse_now = announced > srv->cfg.max_body_bytes + HTTP_DRAIN_SLACK_BYTES;
	}
	return hr;
}

/* Headers on every response (decision 0017): health data must not be kept
 * by caches or proxies, sniffed into another type, framed, or leak through
 * Referer; over TLS, browsers are told to use nothing else. */
static void add_secure_headers(struct MHD_Response *r, const struct api_response *res, int tls)
{
	if (!MHD_get_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL))
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff");
	MHD_add_response_header(r, MHD_HTTP_HEADER_X_FRAME_OPTIONS, "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	if (!res->content_type || strncasecmp(res->content_type, "text/html", 9) != 0)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_SECURITY_POLICY,
					"default-src 'none'; frame-ancestors 'none'");
	if (tls)
		MHD_add_response_header(r, MHD_HTTP_HEADER_STRICT_TRANSPORT_SECURITY,
					"max-age=31536000");
}

/*
 * The head of a request (request line and headers) must arrive within
 * idle_timeout of the connection's start, or of the previous answer on it.
 * libmicrohttpd (0.9.75) only times out *idle* connections: a client that
 * drips a byte at a time (slow-loris) resets its timer for ever and holds a
 * connection slot. A reaper thread shuts such sockets down; libmicrohttpd
 * then closes them. The table is kept under conn_lock from libmicrohttpd's
 * notifications; it tells its "closed" before closing the socket, so a
 * socket in the table is still open while the lock is held. The wait itself
 * is one atomic word the connection's own thread sets on every request
 * (head_wait): no lock on the request path.
 *
 * Near the connection limit (shed_at: seven eighths of it), each new
 * connection sheds the one that has waited longest for a request head, so
 * that clients dripping their heads cannot hold every slot while more of them
 * wait in the accept queue ahead of everyone else (decision 0029). A client
 * that sends its request at once is never the oldest waiter for long; an idle
 * keep-alive connection may be shed, which HTTP allows at any time.
 */
struct http_conn {
	struct http_conn *prev, *next;
	int fd;
	int reaped;
	_Atomic int64_t head_since_ms;	/* monotonic: since when a request's head is
					 * awaited; 0: it has arrived */
};

/* Shuts down the connection other than self that has waited longest for a
 * request head, if any. Called with conn_lock held. */
static void shed_oldest_waiter(struct http_server *srv, const struct http_conn *self)
{
	struct http_conn *oldest = NULL;
	int64_t oldest_since = INT64_MAX;

	for (struct http_conn *hc = srv->conns; hc; hc = hc->next) {
		int64_t since = atomic_load_explicit(&hc->head_since_ms, memory_order_relaxed);

		if (hc != self && since && !hc->reaped && since < oldest_since) {
			oldest = hc;
			oldest_since = since;
		}
	}
	if (oldest) {
		shutdown(oldest->fd, SHUT_RDWR);
		oldest->reaped = 1;
		srv->shed++;
	}
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *srv = cls;
	struct http_conn *hc = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		if (!ci || !(hc = calloc(1, sizeof(*hc))))
			return;	/* not watched: libmicrohttpd's idle timeout still applies */
		hc->fd = ci->connect_fd;
		atomic_store_explicit(&hc->head_since_ms, time_monotonic_ms(), memory_order_relaxed);
		pthread_mutex_lock(&srv->conn_lock);
		hc->next = srv->conns;
		if (srv->conns)
			srv->conns->prev = hc;
		srv->conns = hc;
		if (++srv->n_conns >= srv->shed_at)
			shed_oldest_waiter(srv, hc);
		pthread_mutex_unlock(&srv->conn_lock);
		*socket_context = hc;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED && hc) {
		pthread_mutex_lock(&srv->conn_lock);
		if (hc->prev)
			hc->prev->next = hc->next;
		else
			srv->conns = hc->next;
		if (hc->next)
			hc->next->prev = hc->prev;
		srv->n_conns--;
		pthread_mutex_unlock(&srv->conn_lock);
		free(hc);
		*socket_context = NULL;
	}
}

/* A request's head has arrived (in_head 0), or its answer is done and the
 * next head is awaited (1). Only the connection's own thread calls this,
 * and the connection (so hc) outlives the call. */
static void head_wait(struct MHD_Connection *conn, int in_head)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct http_conn *hc = ci ? ci->socket_context : NULL;

	if (hc)
		atomic_store_explicit(&hc->head_since_ms, in_head ? time_monotonic_ms() : 0,
				      memory_order_relaxed);
}

static void *header_reaper(void *arg)
{
	struct http_server *srv = arg;
	int64_t deadline_ms = (int64_t)(srv->cfg.idle_timeout_s ? srv->cfg.idle_timeout_s : 60) * 1000;
	unsigned long shed_logged = 0;
	int64_t logged_at = 0;

	pthread_mutex_lock(&srv->conn_lock);
	while (!srv->reaper_stop) {
		struct timespec until;
		int64_t now = time_monotonic_ms();

		if (srv->shed != shed_logged && now - logged_at >= 10000) {
			log_warn("http: %lu connection(s) waiting for a request head shed: %u of max_connections "
				 "%u open", srv->shed - shed_logged, srv->n_conns, srv->cfg.max_connections);
			shed_logged = srv->shed;
			logged_at = now;
		}

		for (struct http_conn *hc = srv->conns; hc; hc = hc->next) {
			int64_t since = atomic_load_explicit(&hc->head_since_ms, memory_order_relaxed);

			if (since && !hc->reaped && now - since > deadline_ms) {
				shutdown(hc->fd, SHUT_RDWR);
				hc->reaped = 1;
			}
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 250 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&srv->reaper_cond, &srv->conn_lock, &until);
	}
	pthread_mutex_unlock(&srv->conn_lock);
	return NULL;
}

/* The body of srv->nomem: nothing to allocate when it is needed. */
static const char nomem_body[] =
	"{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"error\","
	"\"code\":\"transient\",\"diagnostics\":\"out of memory; try again\"}]}";

static struct MHD_Response *nomem_response(int tls)
{
	struct api_response res = { .content_type = "application/fhir+json" };
	struct MHD_Response *r = MHD_create_response_from_buffer(sizeof(nomem_body) - 1,
								 (void *)nomem_body,
								 MHD_RESPMEM_PERSISTENT);

	if (r) {
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, res.content_type);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
		add_secure_headers(r, &res, tls);
	}
	return r;
}

static enum MHD_Result send_response(struct http_req *hr)
{
	struct api_response *res = &hr->res;
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t n;
	char *body;

	if (hr->responded)
		return MHD_YES;
	hr->responded = 1;
	if (res->status >= 500 && !res->has_file && !res->body.n)	/* no memory for an outcome */
		return MHD_queue_response(hr->conn, MHD_HTTP_SERVICE_UNAVAILABLE, hr->srv->nomem);
	if (res->has_file) {
		/* Sent from disk (sendfile where it can): memory stays flat
		 * whatever the file's size. libmicrohttpd closes the fd. */
		n = (size_t)res->file_size;
		r = MHD_create_response_from_fd64(res->file_size, res->file_fd);
		if (!r)	/* api_response_release closes the file */
			return MHD_queue_response(hr->conn, MHD_HTTP_SERVICE_UNAVAILABLE, hr->srv->nomem);
		res->has_file = 0;
		res->file_fd = -1;
	} else {
		body = buf_detach(&res->body, &n);
		r = MHD_create_response_from_buffer_with_free_callback(n, body, free);
		if (!r) {
			free(body);
			return MHD_queue_response(hr->conn, MHD_HTTP_SERVICE_UNAVAILABLE, hr->srv->nomem);
		}
	}
	for (size_t at = 0; at < res->headers.n;) {
		const char *name = res->headers.p + at, *value = name + strlen(name) + 1;

		MHD_add_response_header(r, name, value);
		at = (size_t)(value + strlen(value) + 1 - res->headers.p);
	}
	if (res->content_type && n)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type);
	if (res->etag[0])
		MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, res->etag);
	if (res->last_modified[0])
		MHD_add_response_header(r, MHD_HTTP_HEADER_LAST_MODIFIED, res->last_modified);
	if (res->location.n)
		MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, res->location.p);
	if (res->allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, res->allow);
	add_secure_headers(r, res, hr->srv->tls);
	ret = MHD_queue_response(hr->conn, (unsigned)res->status, r);
	MHD_destroy_response(r);
	return ret;
}

static void run_request(struct http_req *hr)
{
	if (hr->body.n || hr->body.p) {
		hr->req.body = hr->body.p;
		hr->req.body_len = hr->body.n;
	}
	api_handle(hr->srv->api, &hr->req, &hr->res);
	hr->phase = PHASE_DONE;
}

static void *worker_main(void *arg)
{
	struct http_server *srv = arg;

	for (;;) {
		struct http_req *hr;

		pthread_mutex_lock(&srv->lock);
		while (!srv->head && !srv->stopping)
			pthread_cond_wait(&srv->work_cond, &srv->lock);
		if (!srv->head) {
			pthread_mutex_unlock(&srv->lock);
			return NULL;
		}
		hr = srv->head;
		srv->head = hr->next;
		if (!srv->head)
			srv->tail = NULL;
		pthread_mutex_unlock(&srv->lock);

		run_request(hr);
		MHD_resume_connection(hr->conn);
	}
}

/* Queues a write for the workers; 0 when the server no longer takes writes. */
static int hand_off(struct http_req *hr)
{
	struct http_server *srv = hr->srv;

	pthread_mutex_lock(&srv->lock);
	if (srv->stopping) {
		pthread_mutex_unlock(&srv->lock);
		return 0;
	}
	hr->phase = PHASE_QUEUED;
	hr->next = NULL;
	if (srv->tail)
		srv->tail->next = hr;
	else
		srv->head = hr;
	srv->tail = hr;
	srv->in_flight++;
	hr->handed_off = 1;
	MHD_suspend_connection(hr->conn);
	pthread_cond_signal(&srv->work_cond);
	pthread_mutex_unlock(&srv->lock);
	return 1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct http_req *hr = *con_cls;

	if (!hr) {
		/* First call: headers only. Answering now would cost keep-alive. */
		head_wait(conn, 0);
		hr = req_new(srv, conn, url, method);
		if (!hr)	/* answered, then closed: the body is not read */
			return MHD_queue_response(conn, MHD_HTTP_SERVICE_UNAVAILABLE, srv->nomem);
		*con_cls = hr;
		if (hr->bad_framing) {
			/* RFC 9112 §6.1: an unknown transfer coding is 501. */
			api_error(&hr->res, hr->te_not_chunked && hr->n_te == 1 && !hr->n_length
					? ERR_NOT_SUPPORTED : ERR_BAD_REQUEST, hr->bad_framing);
			hr->phase = PHASE_DONE;
			return send_response(hr);
		}
		if (!hr->refuse_now)
			return MHD_YES;
		/* Refused before the body: a client that sent Expect: 100-continue
		 * sends nothing; libmicrohttpd closes the connection after. */
		run_request(hr);
		return send_response(hr);
	}
	if (*upload_data_size) {
		hr->received += *upload_data_size;
		if (!hr->req.body_too_large) {
			int rc = buf_append(&hr->body, upload_data, *upload_data_size);

			hr->req.body_too_large = rc != 0;	/* stop keeping it */
			hr->req.body_nomem = rc == ERR_NOMEM;
		}
		*upload_data_size = 0;
		if (hr->responded || !hr->req.body_too_large ||
		    hr->received <= srv->cfg.max_body_bytes + HTTP_DRAIN_SLACK_BYTES)
			return MHD_YES;
		run_request(hr);	/* an endless upload: answer and close */
		return send_response(hr);
	}
	switch (hr->phase) {
	case PHASE_QUEUED:
		return MHD_YES;	/* resumed before the worker was done: wait */
	case PHASE_DONE:
		return send_response(hr);	/* no-op if already answered */
	case PHASE_RECEIVING:
		break;
	}
	if (method_is_read(method) || hr->req.body_too_large) {
		run_request(hr);
		return send_response(hr);
	}
	if (!hand_off(hr)) {
		api_error(&hr->res, ERR_SHUTDOWN, "the server is shutting down; the change was not made");
		hr->phase = PHASE_DONE;
		return send_response(hr);
	}
	return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_req *hr = *con_cls;

	head_wait(conn, 1);	/* keep-alive: the next head has its own deadline */
	if (!hr)
		return;
	if (hr->handed_off) {
		pthread_mutex_lock(&hr->srv->lock);
		if (--hr->srv->in_flight == 0)
			pthread_cond_broadcast(&hr->srv->idle_cond);
		pthread_mutex_unlock(&hr->srv->lock);
	}
	api_response_release(&hr->res);
	buf_release(&hr->body);
	free(hr);
	*con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_debug("http: %s", line);
}

/* Percent-decoding of the path and query, in place. libmicrohttpd's own
 * decoder turns %00 into a NUL that silently cuts the string ("abc%00xyz"
 * would read "abc"); url_unescape keeps %00 as written instead. */
static size_t on_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	return url_unescape(s, 0);
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss, struct err *e)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICSERV | AI_PASSIVE, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	char service[8];
	int rc;

	snprintf(service, sizeof(service), "%d", port);
	rc = getaddrinfo(host && *host ? host : NULL, service, &hints, &ai);
	if (rc != 0 || !ai)
		return err_set(e, ERR_CONFIG, NULL, "cannot resolve listen address '%s': %s", host,
			       gai_strerror(rc));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	return 0;
}

/* Reads a whole PEM file into *out (NUL-terminated). read(2) straight into
 * our buffer, not stdio: no copy of a key is left in a FILE buffer. */
static int read_pem(const char *path, const char *setting, char **out, size_t *len,
		    struct err *e)
{
	struct stat st;
	char *p = NULL;
	size_t n = 0, size = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	*out = NULL;
	if (fd < 0)
		return err_set(e, ERR_CONFIG, NULL, "cannot read %s %s: %s", setting, path,
			       strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (unsigned long long)st.st_size > HTTP_TLS_MAX_PEM_BYTES) {
		rc = err_set(e, ERR_CONFIG, NULL, "%s %s is not a PEM file (empty, not a file, or over %u bytes)",
			     setting, path, HTTP_TLS_MAX_PEM_BYTES);
		goto out;
	}
	size = (size_t)st.st_size;
	p = malloc(size + 1);
	if (!p) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	while (n < size) {
		ssize_t got = read(fd, p + n, size - n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			rc = err_set(e, ERR_CONFIG, NULL, "cannot read %s %s: %s", setting, path,
				     got < 0 ? strerror(errno) : "shorter than its size");
			goto out;
		}
		n += (size_t)got;
	}
	p[n] = '\0';
	*out = p;
	*len = n;
	p = NULL;
out:
	if (p) {
		explicit_bzero(p, size);
		free(p);
	}
	close(fd);
	return rc;
}

/* OpenSSL would prompt on the terminal for an encrypted key; refuse instead
 * (GnuTLS is not given a passphrase either). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

int http_tls_load(struct http_tls *tls, const char *cert_path, const char *key_path,
		  struct err *e)
{
	BIO *bio = NULL;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	size_t cert_len;
	int rc;

	memset(tls, 0, sizeof(*tls));
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return err_set(e, ERR_CONFIG, NULL, "this libmicrohttpd was built without TLS support");
	if ((rc = read_pem(cert_path, "tls_cert", &tls->cert_pem, &cert_len, e)) ||
	    (rc = read_pem(key_path, "tls_key", &tls->key_pem, &tls->key_len, e)))
		goto out;
	/* GnuTLS would refuse these too, but only as "cannot listen". */
	bio = BIO_new_mem_buf(tls->cert_pem, (int)cert_len);
	cert = bio ? PEM_read_bio_X509(bio, NULL, no_passphrase, NULL) : NULL;
	BIO_free(bio);
	if (!cert) {
		rc = err_set(e, ERR_CONFIG, NULL, "tls_cert %s holds no PEM certificate", cert_path);
		goto out;
	}
	bio = BIO_new_mem_buf(tls->key_pem, (int)tls->key_len);
	key = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
	BIO_free(bio);
	if (!key) {
		rc = err_set(e, ERR_CONFIG, NULL,
			     "tls_key %s holds no PEM private key (an encrypted key is not accepted)",
			     key_path);
		goto out;
	}
	if (X509_check_private_key(cert, key) != 1) {
		rc = err_set(e, ERR_CONFIG, NULL, "tls_key %s is not the key of the certificate in %s",
			     key_path, cert_path);
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
		log_warn("tls_cert %s has expired: clients will refuse it", cert_path);
out:
	ERR_clear_error();
	EVP_PKEY_free(key);	/* OpenSSL clears the key's numbers */
	X509_free(cert);
	if (rc)
		http_tls_release(tls);
	return rc;
}

void http_tls_release(struct http_tls *tls)
{
	if (tls->key_pem) {
		explicit_bzero(tls->key_pem, tls->key_len);
		free(tls->key_pem);
	}
	free(tls->cert_pem);
	memset(tls, 0, sizeof(*tls));
}

int http_host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (!host)
		return 0;
	if (!strcasecmp(host, "localhost"))
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return 0;
}

int http_start(const struct http_config *cfg, struct api *api, struct http_server **out,
	       struct err *e)
{
	struct http_server *srv;
	struct sockaddr_storage ss = { 0 };
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int rc, tls = cfg->tls_cert_pem && cfg->tls_key_pem;
	/* Given only with TLS: libmicrohttpd refuses them on a plain daemon. */
	struct MHD_OptionItem tls_opts[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)(uintptr_t)cfg->tls_cert_pem },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)(uintptr_t)cfg->tls_key_pem },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)(uintptr_t)HTTP_TLS_PRIORITIES },
		{ MHD_OPTION_END, 0, NULL },
	};

	*out = NULL;
	if ((rc = resolve(cfg->host, cfg->port, &ss, e)))
		return rc;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (tls)
		flags |= MHD_USE_TLS;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	srv->cfg = *cfg;
	srv->cfg.tls_cert_pem = srv->cfg.tls_key_pem = NULL;	/* the caller wipes them */
	if (!srv->cfg.max_connections)
		srv->cfg.max_connections = 1024;
	srv->shed_at = srv->cfg.max_connections - srv->cfg.max_connections / 8;
	srv->api = api;
	srv->tls = tls;
	pthread_mutex_init(&srv->lock, NULL);
	pthread_mutex_init(&srv->conn_lock, NULL);
	pthread_cond_init(&srv->reaper_cond, NULL);
	pthread_cond_init(&srv->work_cond, NULL);
	pthread_cond_init(&srv->idle_cond, NULL);
	srv->n_threads = cfg->workers > 0 ? cfg->workers : 64;
	srv->threads = calloc((size_t)srv->n_threads, sizeof(pthread_t));
	if (!srv->threads) {
		srv->n_threads = 0;
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto fail;
	}
	if (!(srv->nomem = nomem_response(tls))) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto fail;
	}
	for (int i = 0; i < srv->n_threads; i++)
		if (pthread_create(&srv->threads[i], NULL, worker_main, srv) != 0) {
			srv->n_threads = i;
			rc = err_set(e, ERR_INTERNAL, NULL, "cannot start worker threads");
			goto fail;
		}
	srv->daemon = MHD_start_daemon(
		flags, (uint16_t)cfg->port, NULL, NULL, on_request, srv,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_THREAD_POOL_SIZE,
		(unsigned)(cfg->io_threads > 0 ? cfg->io_threads : (ncpu > 0 ? ncpu : 1)),
		MHD_OPTION_CONNECTION_LIMIT, srv->cfg.max_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout_s ? cfg->idle_timeout_s : 60u,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(cfg->max_url_bytes + 32 * 1024),
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
		MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
		MHD_OPTION_UNESCAPE_CALLBACK, on_unescape, srv,
		/* Refuse what the HTTP/1.1 spec forbids (no Host, two
		 * Content-Lengths, Content-Length with chunked...) rather than
		 * guess: guessing is how request smuggling starts. */
		MHD_OPTION_STRICT_FOR_CLIENT, 1,
		MHD_OPTION_ARRAY, tls ? tls_opts : tls_opts + 3,
		MHD_OPTION_END);
	if (!srv->daemon) {
		if (tls)
			rc = err_set(e, ERR_CONFIG, NULL, "cannot listen on %s:%d with TLS (in use, not allowed, "
				     "or GnuTLS refused the certificate or key: --log-level debug says which)",
				     cfg->host, cfg->port);
		else
			rc = err_set(e, ERR_CONFIG, NULL, "cannot listen on %s:%d (in use, or not allowed)",
				     cfg->host, cfg->port);
		goto fail;
	}
	if (pthread_create(&srv->reaper, NULL, header_reaper, srv) != 0) {
		rc = err_set(e, ERR_INTERNAL, NULL, "cannot start the connection reaper");
		goto fail;
	}
	srv->reaper_started = 1;
	info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = info ? info->port : cfg->port;
	*out = srv;
	return 0;
fail:
	http_stop(srv);
	return rc;
}

int http_port(const struct http_server *srv)
{
	return srv->port;
}

void http_stop(struct http_server *srv)
{
	if (!srv)
		return;
	pthread_mutex_lock(&srv->lock);
	srv->stopping = 1;
	pthread_mutex_unlock(&srv->lock);
	if (srv->reaper_started) {
		pthread_mutex_lock(&srv->conn_lock);
		srv->reaper_stop = 1;
		pthread_cond_signal(&srv->reaper_cond);
		pthread_mutex_unlock(&srv->conn_lock);
		pthread_join(srv->reaper, NULL);
	}
	if (srv->daemon) {
		MHD_socket s = MHD_quiesce_daemon(srv->daemon);	/* no new connections */
		/* Every accepted write is finished and answered before the daemon goes. */
		pthread_mutex_lock(&srv->lock);
		while (srv->in_flight > 0)
			pthread_cond_wait(&srv->idle_cond, &srv->lock);
		pthread_mutex_unlock(&srv->lock);
		MHD_stop_daemon(srv->daemon);
		if (s != MHD_INVALID_SOCKET)
			close(s);
	}
	pthread_mutex_lock(&srv->lock);
	pthread_cond_broadcast(&srv->work_cond);
	pthread_mutex_unlock(&srv->lock);
	for (int i = 0; i < srv->n_threads; i++)
		pthread_join(srv->threads[i], NULL);
	pthread_mutex_destroy(&srv->lock);
	pthread_mutex_destroy(&srv->conn_lock);
	pthread_cond_destroy(&srv->reaper_cond);
	pthread_cond_destroy(&srv->work_cond);
	pthread_cond_destroy(&srv->idle_cond);
	if (srv->nomem)
		MHD_destroy_response(srv->nomem);
	free(srv->threads);
	free(srv);
}
