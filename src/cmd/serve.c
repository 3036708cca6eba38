/*
 * serve.c — `lienthong serve`: open the store, start HTTP, print the
 * listening line, wait for SIGINT/SIGTERM, shut down without losing writes.
 */
#include "cmd.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../api/api.h"
#include "../auth/auth.h"
#include "../base/json.h"
#include "../base/log.h"
#include "../http/http.h"
#include "../mllp/mllp.h"
#include "../store/store.h"

#define MLLP_DEFAULT_PORT 2575
#define HEAP_REPORT_S 10	/* at log level debug: the heap's figures this often */

/*
 * At log level debug, every HEAP_REPORT_S the main thread (which otherwise
 * only waits for signals) logs the heap: bytes in use and bytes free inside
 * glibc's arenas, SQLite's page slab (sqlite_pages.c: pages held now, slots
 * touched ever) and the reader connections open, each with its page cache.
 * RSS alone cannot tell a leak (in use grows) from caches filling to their
 * bounds or from fragmentation (free grows);
 * tests/reliability/soak.py --heap reads these lines. mallinfo2 walks every
 * arena's free lists under its lock, so it is not done otherwise.
 */
static void heap_report(struct store *st)
{
	struct mallinfo2 m = mallinfo2();
	size_t pages, touched, size;

	store_sqlite_pages(&pages, &touched, &size);
	log_debug("memory: %zu MiB in use, %zu MiB free in the heap, %zu MiB of pages in use,"
		  " %zu MiB touched, %d readers", (m.uordblks + m.hblkhd) >> 20, m.fordblks >> 20,
		  pages >> 20, touched >> 20, store_readers_open(st));
}

/* Splits HOST:PORT ([v6]:PORT allowed). */
static int split_listen(const char *listen, char *host, size_t hostsz, int *port)
{
	const char *colon = strrchr(listen, ':');
	const char *h = listen;
	size_t hn;
	char *end;
	long p;

	if (!colon)
		return -1;
	hn = (size_t)(colon - listen);
	if (hn >= 2 && h[0] == '[' && h[hn - 1] == ']') {
		h++;
		hn -= 2;
	}
	if (hn == 0 || hn >= hostsz)
		return -1;
	memcpy(host, h, hn);
	host[hn] = '\0';
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end || errno || p < 0 || p > 65535)
		return -1;
	*port = (int)p;
	return 0;
}

/* --mllp: HOST:PORT, [v6]:PORT, or a host alone (HOST, v6, [v6]) on port 2575. */
static int split_mllp(const char *s, char *host, size_t hostsz, int *port)
{
	const char *colon = strrchr(s, ':'), *rb = strchr(s, ']');
	size_t n = strlen(s);

	if (rb ? colon > rb : colon && colon == strchr(s, ':'))
		return split_listen(s, host, hostsz, port);
	*port = MLLP_DEFAULT_PORT;
	if (rb && s[0] == '[' && rb == s + n - 1) {
		s++;
		n -= 2;
	}
	if (!n || n >= hostsz)
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	return 0;
}

/* A message from the MLLP listener: processed and answered by the API. */
static void on_hl7v2(void *arg, const char *msg, size_t n, int truncated, const char *peer,
		     struct buf *ack)
{
	struct api_hl7v2_message m = { .raw = msg, .raw_len = n, .truncated = truncated, .peer = peer };

	api_hl7v2(arg, &m, ack);
}

/* Loads an NDJSON file of resources, or a directory of them (demo data:
 * `make run` gives demo/seed.ndjson and a generated city), as `lienthong
 * import` does: a resource with an id keeps it, so that references in demo
 * data hold; the store is empty, so in the bulk-load mode. */
static int seed(struct api *api, struct store *st, const char *path)
{
	struct import_opts o = { .batch = 1000, .threads = 2, .bulk = IMPORT_BULK_AUTO, .audit = 1 };
	size_t loaded = 0;
	int rc;

	log_info("seeding the empty store from %s", path);
	rc = import_tree(api, st, path, &o, &loaded);

	if (!rc)
		log_info("seeded %zu resources from %s", loaded, path);
	return rc;
}

/*
 * The demo (serve --seed into a store without tenants): the seeded data
 * belong to tenant 1, made here as facility 79999, with a client "demo"
 * allowed everything in it, so that `make run` can be tried at once. Its
 * secret is random, never shown; a token comes from `lienthong token`.
 */
static int demo_access(struct store *st, const struct config *cfg)
{
	struct store_tenant t = { .code = "79999", .name = "Phòng khám mẫu (demo)" };
	struct store_principal p = { .kind = "client", .name = "demo", .roles = "admin",
				     .scopes = "system/*.cruds" };
	struct buf secret;
	struct err e = { 0 };
	int rc;

	if (store_tenant_get(st, NULL, STORE_DEFAULT_TENANT, &t, &e) == 0)
		goto hint;
	err_clear(&e);
	buf_init(&secret, 0);
	rc = store_tenant_add(st, &t, &e);
	p.tenant = t.id;
	if (!rc && !(rc = auth_random_token(32, &secret, &e))) {
		api_client_secret_hash(secret.p, p.secret);
		explicit_bzero(secret.p, secret.n);
		rc = store_principal_put(st, &p, &e);
	}
	buf_release(&secret);
	if (rc) {
		fprintf(stderr, "lienthong: demo access: %s\n", e.issue[0].diagnostics);
		return rc;
	}
hint:
	log_info("demo: a token for the demo facility: TOKEN=$(lienthong token --data %s --client demo)",
		 cfg->data_dir);
	log_info("demo: then curl -H \"Authorization: Bearer $TOKEN\" http://%s/fhir/Patient", cfg->listen);
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	struct config cfg;
	struct store *st = NULL;
	struct api *api = NULL;
	struct http_server *srv = NULL;
	struct mllp_server *mllp = NULL;
	struct http_tls tls = { 0 };
	struct err e = { 0 };
	sigset_t sigs;
	char host[256], mhost[256], export_dir[PATH_MAX], keys_dir[PATH_MAX];
	int port, mport = MLLP_DEFAULT_PORT, sig, rc, level;

	if ((rc = config_load(&cfg, argc, argv)))
		return rc;
	if (split_listen(cfg.listen, host, sizeof(host), &port)) {
		fprintf(stderr, "lienthong: --listen must be HOST:PORT, not '%s'\n", cfg.listen);
		rc = 2;
		goto out;
	}
	if (cfg.mllp && split_mllp(cfg.mllp, mhost, sizeof(mhost), &mport)) {
		fprintf(stderr, "lienthong: --mllp must be HOST:PORT or HOST, not '%s'\n", cfg.mllp);
		rc = 2;
		goto out;
	}
	if (!strcmp(cfg.auth, "off") && !http_host_is_loopback(host)) {
		fprintf(stderr, "lienthong: auth=off serves health data to anyone: allowed only on a "
				"loopback address, not %s\n", host);
		rc = 2;
		goto out;
	}
	level = log_level_parse(cfg.log_level);
	if (level < 0) {
		fprintf(stderr, "lienthong: unknown log level '%s'\n", cfg.log_level);
		rc = 2;
		goto out;
	}
	log_set_level((enum log_level)level);
	/* HTTPS, or plain HTTP on loopback only unless told (decision 0017). */
	if (cfg.tls_cert && http_tls_load(&tls, cfg.tls_cert, cfg.tls_key, &e)) {
		fprintf(stderr, "lienthong: %s\n", e.n_issues ? e.issue[0].diagnostics : err_message(e.code));
		rc = 2;
		goto out;
	}
	if (!cfg.tls_cert && !cfg.allow_plain_http && !http_host_is_loopback(host)) {
		fprintf(stderr, "lienthong: refusing plain HTTP on %s, which is not a loopback address: "
				"configure tls_cert and tls_key for HTTPS, or set allow_plain_http "
				"(e.g. behind a TLS-terminating proxy)\n", host);
		rc = 2;
		goto out;
	}

	/* Signals are taken by sigwait on this thread only: block them before
	 * any thread starts so that every thread inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (snprintf(export_dir, sizeof(export_dir), "%s/export", cfg.data_dir) >=
	    (int)sizeof(export_dir)) {
		fprintf(stderr, "lienthong: the data directory's path is too long\n");
		rc = 2;
		goto out;
	}
	{
		struct store_config sc;
		struct api_config ac;
		struct http_config hc = {
			.host = host,
			.port = port,
			.io_threads = (int)cfg.http_threads,
			.workers = (int)cfg.workers,
			.max_connections = (unsigned)cfg.max_connections,
			.idle_timeout_s = (unsigned)cfg.idle_timeout,
			.max_body_bytes = (size_t)cfg.max_body_bytes,
			.max_url_bytes = (size_t)cfg.max_url_bytes,
			.tls_cert_pem = tls.cert_pem,
			.tls_key_pem = tls.key_pem,
		};

		config_store(&cfg, &sc);
		config_api(&cfg, &ac);
		if (strcmp(cfg.auth, "off")) {
			config_keys_dir(&cfg, keys_dir, sizeof(keys_dir));
			ac.keys_dir = keys_dir;
		} else
			log_warn("auth=off: anyone who can reach %s reads and writes every record", cfg.listen);
		ac.export_dir = export_dir;
		ac.export_threads = (int)cfg.export_threads;
		ac.export_expire_s = cfg.export_expire;
		ac.export_file_resources = cfg.export_file_resources;
		if (store_open(&sc, &st, &e) || api_new(&ac, st, &api, &e)) {
			fprintf(stderr, "lienthong: %s\n", e.n_issues ? e.issue[0].diagnostics : err_message(e.code));
			rc = 1;
			goto out;
		}
		if (cfg.seed && store_is_empty(st, STORE_DEFAULT_TENANT, &e) == 1 &&
		    seed(api, st, cfg.seed)) {
			rc = 1;
			goto out;
		}
		if (cfg.seed && ac.keys_dir && demo_access(st, &cfg)) {
			rc = 1;
			goto out;
		}
		rc = http_start(&hc, api, &srv, &e);
		http_tls_release(&tls);	/* GnuTLS has its own copy now: wipe ours */
		if (rc) {
			fprintf(stderr, "lienthong: %s\n", e.n_issues ? e.issue[0].diagnostics : err_message(e.code));
			rc = 1;
			goto out;
		}
	}
	if (cfg.mllp) {
		struct mllp_config mc = {
			.host = mhost,
			.port = mport,
			.workers = (int)cfg.mllp_workers,
			.max_connections = (unsigned)cfg.mllp_max_connections,
			.idle_timeout_s = (unsigned)cfg.mllp_idle_timeout,
			.max_message_bytes = (size_t)cfg.mllp_max_message,
		};

		if (mllp_start(&mc, on_hl7v2, api, &mllp, &e)) {
			fprintf(stderr, "lienthong: %s\n", e.n_issues ? e.issue[0].diagnostics : err_message(e.code));
			rc = 1;
			goto out;
		}
	}
	printf(strchr(host, ':') ? "listening %s=[%s]:%d" : "listening %s=%s:%d",
	       cfg.tls_cert ? "https" : "http", host, http_port(srv));
	if (mllp)
		printf(strchr(mhost, ':') ? " mllp=[%s]:%d" : " mllp=%s:%d", mhost, mllp_port(mllp));
	printf("\n");
	fflush(stdout);
	log_info("serving FHIR R4 at /fhir (data in %s)", cfg.data_dir);

	for (;;) {
		struct timespec round = { HEAP_REPORT_S, 0 };

		if (level != LOG_DEBUG) {
			if (sigwait(&sigs, &sig) != 0)
				sig = SIGTERM;
		} else if ((sig = sigtimedwait(&sigs, NULL, &round)) < 0) {
			int why = errno;

			if (why == EAGAIN)
				heap_report(st);
			sig = why == EAGAIN || why == EINTR ? 0 : SIGTERM;
		}
		if (sig == SIGINT || sig == SIGTERM)
			break;
	}
	log_info("%s: finishing accepted writes, then stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	rc = 0;
out:
	mllp_stop(mllp);
	http_stop(srv);
	http_tls_release(&tls);
	api_free(api);
	store_close(st);
	config_release(&cfg);
	if (!rc)
		log_info("stopped cleanly");
	return rc;
}
