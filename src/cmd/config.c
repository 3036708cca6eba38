/*
 * config.c — one table of settings; file, environment and flags read from it.
 *
 * File format: `key = value` lines, `#` comments. Keys are the names in the
 * table; the variable is LIENTHONG_ plus the key in capitals; the flag is
 * --key with '-' for '_'. Precedence: defaults, file, environment, flags.
 */
#include "cmd.h"
#include "../api/api.h"
#include "../base/time.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum kind { KIND_STRING, KIND_LONG, KIND_BOOL };

static const struct setting {
	const char *key;
	enum kind kind;
	size_t offset;
	const char *def;
	long min, max;
	const char *help;
} settings[] = {
#define S(key, def, help) { #key, KIND_STRING, offsetof(struct config, key), def, 0, 0, help }
#define L(key, def, min, max, help) { #key, KIND_LONG, offsetof(struct config, key), #def, min, max, help }
#define B(key, help) { #key, KIND_BOOL, offsetof(struct config, key), "false", 0, 1, help }
	S(data_dir, "data", "directory of the embedded database (created if missing)"),
	S(listen, "127.0.0.1:8080", "HOST:PORT for HTTP; port 0 picks a free port"),
	S(base_url, NULL, "public base URL used in links, e.g. https://emr.example.vn/fhir (default: from Host)"),
	S(log_level, "info", "error, warn, info or debug"),
	S(timezone, "+07:00", "UTC offset of dates and times without a zone, in the index and in "
	  "searches (Z, +07:00, -05:00); changing it needs `lienthong reindex`"),
	S(seed, NULL, "NDJSON file, or directory of them, to load at start when the store is empty (demo data)"),
	L(max_body_bytes, 16777216, 1024, 1073741824, "largest request body accepted (413 beyond)"),
	L(max_url_bytes, 8192, 256, 1048576, "longest URL with query accepted (414 beyond)"),
	L(max_json_depth, 64, 8, 256, "deepest JSON nesting accepted (400 beyond)"),
	L(http_threads, 0, 0, 256, "HTTP event-loop threads (0: one per core)"),
	L(workers, 64, 1, 4096, "threads that carry writes while they wait for the group commit"),
	L(cache_mib, 320, 16, 1048576, "MiB of database pages kept in memory, the writer's and all readers' "
				       "together (the writer has four fifths); RSS settles near this plus 40-70"),
	L(max_connections, 1024, 1, 65536, "most concurrent HTTP connections"),
	L(idle_timeout, 60, 1, 3600, "seconds before an idle or stalled connection is closed"),
	S(conditional_delete, "single", "DELETE [type]?search matching several: 'single' refuses (412), "
					"'multiple' deletes them all (at most 1000)"),
	L(max_bundle_entries, 100000, 1, 10000000, "most entries in a batch or transaction Bundle (413 beyond)"),
	L(export_threads, 1, 1, 64, "background threads that run Bulk Data $export jobs"),
	L(export_expire, 86400, 60, 31536000, "seconds a finished $export job and its files are kept"),
	L(export_file_resources, 100000, 1, 100000000, "resources per $export output file (more: several files)"),
	S(mllp, NULL, "HOST:PORT (or HOST, port 2575) for HL7 v2 over MLLP; port 0 picks a free port; off when unset"),
	L(mllp_workers, 32, 1, 4096, "threads that process HL7 v2 messages while they wait for the group commit"),
	L(mllp_max_message, 16777216, 1024, 1073741824, "longest HL7 v2 message accepted (AR beyond)"),
	L(mllp_idle_timeout, 600, 1, 86400, "seconds before a silent MLLP connection is closed"),
	L(mllp_max_connections, 1024, 1, 65536, "most concurrent MLLP connections"),
	/* Security (decision 0018). */
	S(auth, "on", "'on': every request for health data needs a bearer token; 'off' serves anyone "
		      "(loopback only, for benchmarks)"),
	S(audit, "on", "'on': every request for health data is recorded in the audit trail; 'off' only "
		       "with auth off"),
	L(audit_queue, 65536, 16, 16777216, "audit records held in memory until written; past that, "
					    "requests wait, and while the trail cannot be written "
					    "(disk full) reads are refused (507/503)"),
	S(issuer, "lienthong", "iss of the tokens this server issues (their aud too, unless audience is set)"),
	S(audience, NULL, "aud of the tokens issued and required (default: issuer)"),
	L(token_ttl, 900, 60, 86400, "seconds an access token lives"),
	L(refresh_ttl, 2592000, 300, 31536000, "seconds an app's refresh token lives (offline_access and "
					      "online_access alike); each use makes a new one"),
	L(code_ttl, 60, 1, 600, "seconds an authorization code lives between the login and the app's "
				"token request"),
	L(max_login_failures, 5, 1, 100, "failed logins in a row that lock an account"),
	L(lockout, 900, 1, 604800, "seconds an account stays locked"),
	L(rate_limit, 1000, 0, 1000000, "requests per second one account may make (bursts of twice "
					"that); 0: no limit"),
	L(login_rate_limit, 10, 0, 1000000, "requests per second one address may make to /auth/ "
					   "(bursts of twice that); 0: no limit"),
	S(oidc_issuer, NULL, "an external OpenID Connect provider whose tokens are accepted (its iss)"),
	S(oidc_jwks, NULL, "that provider's keys: a JWKS file"),
	S(oidc_audience, NULL, "the aud its tokens must carry"),
	S(tls_cert, NULL, "PEM certificate (chain) file: with tls_key, HTTP is HTTPS only (TLS 1.2 and 1.3)"),
	S(tls_key, NULL, "PEM private key file of tls_cert (unencrypted; keep it readable by this user only)"),
	B(allow_plain_http, "without tls_cert, serve plain HTTP on a non-loopback address too "
			    "(behind a TLS-terminating proxy)"),
#undef S
#undef L
#undef B
};
#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

static const struct setting *find_setting(const char *key, size_t n)
{
	for (size_t i = 0; i < N_SETTINGS; i++)
		if (strlen(settings[i].key) == n && strncmp(settings[i].key, key, n) == 0)
			return &settings[i];
	return NULL;
}

static int set_value(struct config *cfg, const struct setting *s, const char *value,
		     const char *where)
{
	char *p = (char *)cfg + s->offset;

	if (s->kind == KIND_STRING) {
		char **slot = (char **)(void *)p;
		free(*slot);
		*slot = value ? strdup(value) : NULL;
		return 0;
	}
	if (s->kind == KIND_BOOL) {
		static const char *const yes[] = { "true", "yes", "on", "1" }, *const no[] = { "false", "no", "off", "0" };

		for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
			if (!strcasecmp(value, yes[i]) || !strcasecmp(value, no[i])) {
				*(int *)(void *)p = !strcasecmp(value, yes[i]);
				return 0;
			}
		fprintf(stderr, "lienthong: %s: %s must be true or false, not '%s'\n", where, s->key, value);
		return 2;
	}
	{
		char *end;
		long v;

		errno = 0;
		v = strtol(value, &end, 10);
		if (end == value || *end || errno || v < s->min || v > s->max) {
			fprintf(stderr, "lienthong: %s: %s must be a whole number from %ld to %ld, not '%s'\n",
				where, s->key, s->min, s->max, value);
			return 2;
		}
		*(long *)(void *)p = v;
	}
	return 0;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int load_file(struct config *cfg, const char *path)
{
	char line[4096], where[600];
	FILE *f = fopen(path, "r");
	int lineno = 0, rc = 0;

	if (!f) {
		fprintf(stderr, "lienthong: cannot read config file %s: %s\n", path, strerror(errno));
		return 2;
	}
	while (!rc && fgets(line, sizeof(line), f)) {
		char *eq, *key, *val;
		const struct setting *s;

		lineno++;
		key = trim(line);
		if (!*key || *key == '#')
			continue;
		eq = strchr(key, '=');
		snprintf(where, sizeof(where), "%s:%d", path, lineno);
		if (!eq) {
			fprintf(stderr, "lienthong: %s: expected key = value\n", where);
			rc = 2;
			break;
		}
		*eq = '\0';
		key = trim(key);
		val = trim(eq + 1);
		s = find_setting(key, strlen(key));
		if (!s) {
			fprintf(stderr, "lienthong: %s: unknown setting '%s'\n", where, key);
			rc = 2;
			break;
		}
		rc = set_value(cfg, s, val, where);
	}
	fclose(f);
	return rc;
}

static int load_env(struct config *cfg)
{
	char name[64];

	for (size_t i = 0; i < N_SETTINGS; i++) {
		size_t j = 0, n = strlen("LIENTHONG_");
		const char *v;
		int rc;

		memcpy(name, "LIENTHONG_", n);
		for (; settings[i].key[j] && n + j + 1 < sizeof(name); j++)
			name[n + j] = (char)toupper((unsigned char)settings[i].key[j]);
		name[n + j] = '\0';
		v = getenv(name);
		if (v && (rc = set_value(cfg, &settings[i], v, name)))
			return rc;
	}
	return 0;
}

static int is_bool(const char *key)
{
	const struct setting *s = find_setting(key, strlen(key));

	return s && s->kind == KIND_BOOL;
}

/* --some-key VALUE or --some-key=VALUE (a true/false setting: --some-key
 * alone means true); --config FILE is read first. */
static int load_flags(struct config *cfg, int argc, char **argv, int pass_config)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *value, *eq;
		char key[64];
		size_t n;

		if (strncmp(arg, "--", 2) != 0) {
			fprintf(stderr, "lienthong: unexpected argument '%s' (see lienthong help serve)\n", arg);
			return 2;
		}
		arg += 2;
		eq = strchr(arg, '=');
		n = eq ? (size_t)(eq - arg) : strlen(arg);
		if (n >= sizeof(key))
			n = sizeof(key) - 1;
		for (size_t j = 0; j < n; j++)
			key[j] = arg[j] == '-' ? '_' : arg[j];
		key[n] = '\0';
		/* --data is the documented short form of --data-dir. */
		if (!strcmp(key, "data"))
			snprintf(key, sizeof(key), "data_dir");
		if (eq)
			value = eq + 1;
		else if (is_bool(key))
			value = "true";	/* --allow-plain-http alone; =false to turn off */
		else if (i + 1 < argc)
			value = argv[++i];
		else {
			fprintf(stderr, "lienthong: option --%s needs a value\n", key);
			return 2;
		}
		if (!strcmp(key, "config")) {
			if (pass_config) {
				int rc = load_file(cfg, value);
				if (rc)
					return rc;
			}
			continue;
		}
		if (pass_config)
			continue;
		{
			const struct setting *s = find_setting(key, strlen(key));
			int rc;

			if (!s) {
				fprintf(stderr, "lienthong: unknown option '%s' (see lienthong help serve)\n",
					argv[eq ? i : i - 1]);
				return 2;
			}
			if ((rc = set_value(cfg, s, value, "command line")))
				return rc;
		}
	}
	return 0;
}

void config_api(const struct config *cfg, struct api_config *ac)
{
	*ac = (struct api_config){
		.limits = { .max_body_bytes = (size_t)cfg->max_body_bytes,
			    .max_url_bytes = (size_t)cfg->max_url_bytes,
			    .max_json_depth = (int)cfg->max_json_depth },
		.base_url = cfg->base_url,
		.delete_multiple = cfg->conditional_delete && !strcmp(cfg->conditional_delete, "multiple"),
		.max_bundle_entries = (size_t)cfg->max_bundle_entries,
		.issuer = cfg->issuer,
		.audience = cfg->audience,
		.token_ttl_s = cfg->token_ttl,
		.refresh_ttl_s = cfg->refresh_ttl,
		.code_ttl_s = cfg->code_ttl,
		.max_failures = (int)cfg->max_login_failures,
		.lock_s = cfg->lockout,
		.oidc_issuer = cfg->oidc_issuer,
		.oidc_jwks_file = cfg->oidc_jwks,
		.oidc_audience = cfg->oidc_audience,
		.audit = !cfg->audit || strcmp(cfg->audit, "off") != 0,
		.rate_limit = (double)cfg->rate_limit,
		.login_rate_limit = (double)cfg->login_rate_limit,
	};
}

void config_store(const struct config *cfg, struct store_config *sc)
{
	*sc = (struct store_config){
		.backend = "sqlite",
		.data_dir = cfg->data_dir,
		.cache_mib = (int)cfg->cache_mib,
		.audit_queue_max = (int)cfg->audit_queue,
	};
}

int config_parse_time(const char *command, const char *opt, const char *v, int upper, int64_t *out)
{
	int64_t lo, hi;

	if (time_parse_fhir(v, strlen(v), TIME_DATETIME, &lo, &hi)) {
		fprintf(stderr, "lienthong: %s: %s takes a date or dateTime (2026-11-22, "
			"2026-11-22T08:00:00+07:00), not '%s'\n", command, opt, v);
		return -1;
	}
	*out = upper ? hi + 1 : lo;
	return 0;
}

void config_keys_dir(const struct config *cfg, char *out, size_t n)
{
	snprintf(out, n, "%s/keys/signing", cfg->data_dir);
}

static int on_off(const char *key, const char *v)
{
	if (v && strcmp(v, "on") && strcmp(v, "off")) {
		fprintf(stderr, "lienthong: %s is 'on' or 'off', not '%s'\n", key, v);
		return 2;
	}
	return 0;
}

static int check(const struct config *cfg)
{
	int64_t offset;

	if (time_parse_offset(cfg->timezone, &offset)) {
		fprintf(stderr, "lienthong: timezone is an offset like +07:00 or Z, not '%s'\n",
			cfg->timezone ? cfg->timezone : "");
		return 2;
	}
	time_set_local_offset_ms(offset);
	if (on_off("auth", cfg->auth) || on_off("audit", cfg->audit))
		return 2;
	if (cfg->auth && cfg->audit && !strcmp(cfg->audit, "off") && strcmp(cfg->auth, "off")) {
		fprintf(stderr, "lienthong: audit=off is allowed only with auth=off (benchmarks)\n");
		return 2;
	}
	if (cfg->conditional_delete && strcmp(cfg->conditional_delete, "single") &&
	    strcmp(cfg->conditional_delete, "multiple")) {
		fprintf(stderr, "lienthong: conditional_delete is 'single' or 'multiple', not '%s'\n",
			cfg->conditional_delete);
		return 2;
	}
	if (!cfg->tls_cert != !cfg->tls_key) {
		fprintf(stderr, "lienthong: HTTPS needs both tls_cert and tls_key (only %s is set)\n",
			cfg->tls_cert ? "tls_cert" : "tls_key");
		return 2;
	}
	return 0;
}

int config_load(struct config *cfg, int argc, char **argv)
{
	const char *file = getenv("LIENTHONG_CONFIG");
	int rc = 0;

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; !rc && i < N_SETTINGS; i++)
		if (settings[i].def)
			rc = set_value(cfg, &settings[i], settings[i].def, "default");
	if (!rc && file && *file)
		rc = load_file(cfg, file);
	if (!rc)
		rc = load_flags(cfg, argc, argv, 1);	/* --config FILE */
	if (!rc)
		rc = load_env(cfg);
	if (!rc)
		rc = load_flags(cfg, argc, argv, 0);
	if (!rc)
		rc = check(cfg);
	if (rc)
		config_release(cfg);
	return rc;
}

void config_release(struct config *cfg)
{
	for (size_t i = 0; i < N_SETTINGS; i++)
		if (settings[i].kind == KIND_STRING) {
			char **slot = (char **)(void *)((char *)cfg + settings[i].offset);
			free(*slot);
			*slot = NULL;
		}
}

void config_usage(const char *command)
{
	printf("Options of 'lienthong %s' (each also a config-file key and a LIENTHONG_* variable):\n",
	       command);
	printf("  --config FILE             read settings from FILE (also LIENTHONG_CONFIG)\n");
	for (size_t i = 0; i < N_SETTINGS; i++) {
		char flag[64];
		size_t j;

		for (j = 0; settings[i].key[j] && j + 1 < sizeof(flag); j++)
			flag[j] = settings[i].key[j] == '_' ? '-' : settings[i].key[j];
		flag[j] = '\0';
		printf("  --%-22s  %s", flag, settings[i].help);
		if (settings[i].def)
			printf(" [%s]", settings[i].def);
		printf("\n");
	}
	printf("  --data DIR                short for --data-dir\n");
}
