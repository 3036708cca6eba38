/*
 * cmd.h — the command-line programs (one file per subcommand) and the
 * configuration they share. main.c only dispatches through the commands
 * table. Everything runs on the main thread except what serve starts.
 */
#ifndef LT_CMD_CMD_H
#define LT_CMD_CMD_H

#include <stddef.h>
#include <stdint.h>

/* Settings. Every field is a row in config.c's table, which gives its
 * config-file key, its LIENTHONG_* variable, its --flag and its help. */
struct config {
	char *data_dir;
	char *listen;
	char *base_url;
	char *log_level;
	char *timezone;
	char *seed;
	long max_body_bytes;
	long max_url_bytes;
	long max_json_depth;
	long http_threads;
	long workers;
	long cache_mib;
	long max_connections;
	long idle_timeout;
	char *conditional_delete;
	long max_bundle_entries;
	long export_threads;
	long export_expire;
	long export_file_resources;
	char *mllp;
	long mllp_workers;
	long mllp_max_message;
	long mllp_idle_timeout;
	long mllp_max_connections;
	char *auth;
	char *audit;
	long audit_queue;
	char *issuer;
	char *audience;
	long token_ttl;
	long refresh_ttl;
	long code_ttl;
	long max_login_failures;
	long lockout;
	long rate_limit;
	long login_rate_limit;
	char *oidc_issuer;
	char *oidc_jwks;
	char *oidc_audience;
	/* HTTPS (decision 0017): PEM files; without them HTTP is plain and,
	 * unless allow_plain_http, only on a loopback address. */
	char *tls_cert;
	char *tls_key;
	int allow_plain_http;
};

/* Fills cfg from defaults, the config file, the environment and argv (in
 * that order, later wins). Returns 0, or 2 after printing why on stderr. */
int config_load(struct config *cfg, int argc, char **argv);
void config_release(struct config *cfg);
void config_usage(const char *command);	/* the options table, for help */

/* The API's settings from cfg (cfg must outlive ac). */
struct api_config;
void config_api(const struct config *cfg, struct api_config *ac);
/* The store's settings from cfg (cfg must outlive sc). */
struct store_config;
void config_store(const struct config *cfg, struct store_config *sc);
/* --since/--until T of a command: the instant T starts (upper: the first
 * instant after it ends). -1 after printing why. */
int config_parse_time(const char *command, const char *opt, const char *v, int upper, int64_t *out);
/* Where the token-signing keys live: DATA/keys/signing. */
void config_keys_dir(const struct config *cfg, char *out, size_t n);

/* Loads the NDJSON and Bundle files in paths through api as `lienthong
 * import` does (import.c): bad lines reported as FILE:LINE on stderr.
 * Returns 0 when every line loaded, else 1. *loaded (may be NULL: then the
 * summary is printed) gets the count. st (the store under api) is needed
 * only for the bulk-load mode (decision 0009). */
enum { IMPORT_BULK_AUTO, IMPORT_BULK_ON, IMPORT_BULK_OFF };
struct import_opts {
	int all_or_nothing;		/* validate every line first; load only if all pass */
	size_t batch;			/* lines per chunk (one api_load) */
	int threads;			/* chunks prepared at once */
	int tty;			/* progress bar on stderr */
	int bulk;			/* IMPORT_BULK_*: AUTO = on into an empty store */
	int audit;			/* leave an audit record of the run (the CLI) */
};
struct api;
struct store;
int import_paths(struct api *api, struct store *st, char **paths, size_t n,
		 const struct import_opts *o, size_t *loaded);
/* The same for one file, or the NDJSON and JSON files under a directory. */
int import_tree(struct api *api, struct store *st, const char *path, const struct import_opts *o,
		size_t *loaded);

int cmd_serve(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_reindex(int argc, char **argv);
int cmd_hl7(int argc, char **argv);
int cmd_tenant(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_client(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_gen(int argc, char **argv);

#endif
