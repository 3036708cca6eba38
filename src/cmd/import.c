/*
 * import.c — `lienthong import FILE|DIR...`: bulk load into the store in
 * --data, in-process (no HTTP), with a progress bar on a terminal.
 *
 * NDJSON files (.ndjson, .ndjson.gz) go through api_load in chunks of
 * --batch lines, prepared on --threads threads while the store's writer
 * commits: a bad line is reported as FILE:LINE and skipped. Bundle files
 * (.json, .json.gz; a batch or transaction) go through the API as
 * POST /fhir, exactly as over HTTP. gzip is read through zlib (plain files
 * too). With --all-or-nothing every file is validated first and nothing is
 * written unless every line is good.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "cmd.h"
#include "../api/api.h"
#include "../base/json.h"
#include "../base/time.h"

#define IMPORT_MAX_LINE (64u << 20)
#define IMPORT_QUEUE 4			/* chunks read ahead per worker */

struct chunk {
	const char *file;
	long first_line;		/* line number of items[0] */
	long *line;			/* line number of each item */
	struct api_load_item *items;
	size_t n;
	char *text;			/* the lines, each NUL-terminated */
	struct chunk *next;
};

struct import {
	struct api *api;
	int dry_run;
	size_t batch;
	/* Progress. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct chunk *head, *tail;
	size_t queued;
	int done_reading;
	size_t loaded, failed, bundles;
	int64_t bytes_total, bytes_done, t0, last_print;
	int tty;
};

/* ---- files ---------------------------------------------------------------- */

struct files {
	char **path;
	size_t n, cap;
};

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

static int is_ndjson(const char *p) { return has_suffix(p, ".ndjson") || has_suffix(p, ".ndjson.gz"); }
static int is_json(const char *p) { return has_suffix(p, ".json") || has_suffix(p, ".json.gz"); }

static int add_file(struct files *f, const char *path)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 64;
		char **p = realloc(f->path, cap * sizeof(*p));

		if (!p)
			return -1;
		f->path = p;
		f->cap = cap;
	}
	if (!(f->path[f->n] = strdup(path)))
		return -1;
	f->n++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* path, or the NDJSON and JSON files under it, sorted. */
static int collect(struct files *f, const char *path, int depth)
{
	struct stat sb;
	DIR *d;
	struct dirent *de;
	size_t first = f->n;

	if (stat(path, &sb)) {
		fprintf(stderr, "lienthong: import: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode))
		return add_file(f, path);
	if (depth > 16 || !(d = opendir(path))) {
		fprintf(stderr, "lienthong: import: cannot read the directory %s\n", path);
		return -1;
	}
	while ((de = readdir(d))) {
		char sub[4096];

		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= sizeof(sub) ||
		    stat(sub, &sb))
			continue;
		if ((S_ISDIR(sb.st_mode) || is_ndjson(sub) || is_json(sub)) &&
		    collect(f, sub, depth + 1)) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	qsort(f->path + first, f->n - first, sizeof(char *), cmp_str);
	return 0;
}

/* ---- progress ------------------------------------------------------------- */

static void progress(struct import *im, int final)
{
	int64_t now = time_monotonic_ms();
	double s = (double)(now - im->t0) / 1000.0, rate, frac;

	if (!final && (!im->tty || now - im->last_print < 200))
		return;
	im->last_print = now;
	rate = s > 0 ? (double)im->loaded / s : 0;
	frac = im->bytes_total ? (double)im->bytes_done / (double)im->bytes_total : 1;
	if (im->tty)
		fprintf(stderr, "\r%s: %3.0f%% %zu resources, %.0f/s, %zu failed, ETA %.0f s   %s",
			im->dry_run ? "checking" : "import", frac * 100, im->loaded, rate, im->failed,
			frac > 0 && frac < 1 ? s / frac - s : 0.0, final ? "\n" : "");
}

/* ---- workers -------------------------------------------------------------- */

struct fail_ctx {
	struct import *im;
	struct chunk *ch;
};

static void on_fail(void *arg, size_t i, const struct err *e)
{
	struct fail_ctx *f = arg;

	pthread_mutex_lock(&f->im->lock);
	if (f->im->tty)
		fputc('\n', stderr);
	fprintf(stderr, "%s:%ld: %s%s%s\n", f->ch->file, f->ch->line[i],
		e->n_issues ? e->issue[0].diagnostics : err_message(e->code),
		e->n_issues && e->issue[0].expression[0] ? " at " : "",
		e->n_issues ? e->issue[0].expression : "");
	f->im->failed++;
	pthread_mutex_unlock(&f->im->lock);
}

static void chunk_free(struct chunk *ch)
{
	if (!ch)
		return;
	free(ch->line);
	free(ch->items);
	free(ch->text);
	free(ch);
}

static void *worker(void *arg)
{
	struct import *im = arg;

	for (;;) {
		struct chunk *ch;
		struct fail_ctx f = { im, NULL };
		size_t loaded = 0;

		pthread_mutex_lock(&im->lock);
		while (!im->head && !im->done_reading)
			pthread_cond_wait(&im->cond, &im->lock);
		ch = im->head;
		if (ch) {
			im->head = ch->next;
			if (!im->head)
				im->tail = NULL;
			im->queued--;
			pthread_cond_broadcast(&im->cond);
		}
		pthread_mutex_unlock(&im->lock);
		if (!ch)
			return NULL;
		f.ch = ch;
		if (api_load(im->api, ch->items, ch->n, im->dry_run, on_fail, &f, &loaded)) {
			pthread_mutex_lock(&im->lock);
			fprintf(stderr, "%s:%ld: out of memory; %zu lines not loaded\n", ch->file,
				ch->first_line, ch->n);
			im->failed += ch->n;
			pthread_mutex_unlock(&im->lock);
		}
		pthread_mutex_lock(&im->lock);
		im->loaded += loaded;
		progress(im, 0);
		pthread_mutex_unlock(&im->lock);
		chunk_free(ch);
	}
}

static void enqueue(struct import *im, struct chunk *ch, size_t max_queued)
{
	pthread_mutex_lock(&im->lock);
	while (im->queued >= max_queued)
		pthread_cond_wait(&im->cond, &im->lock);
	if (im->tail)
		im->tail->next = ch;
	else
		im->head = ch;
	im->tail = ch;
	im->queued++;
	pthread_cond_broadcast(&im->cond);
	pthread_mutex_unlock(&im->lock);
}

/* ---- readers -------------------------------------------------------------- */

static struct chunk *chunk_new(const char *file, size_t batch)
{
	struct chunk *ch = calloc(1, sizeof(*ch));

	if (!ch || !(ch->line = calloc(batch, sizeof(long))) ||
	    !(ch->items = calloc(batch, sizeof(*ch->items)))) {
		chunk_free(ch);
		return NULL;
	}
	ch->file = file;
	return ch;
}

/* Builds a chunk's items from its text once every line is in. */
static void chunk_seal(struct chunk *ch, const size_t *off)
{
	for (size_t i = 0; i < ch->n; i++) {
		ch->items[i].p = ch->text + off[i];
		ch->items[i].n = strlen(ch->text + off[i]);
	}
}

static int read_ndjson(struct import *im, const char *path, gzFile gz, size_t max_queued,
		       int64_t base)
{
	struct chunk *ch = NULL;
	size_t *off = calloc(im->batch, sizeof(*off)), len = 0, cap = 0;
	char *line = malloc(IMPORT_MAX_LINE);
	long lineno = 0;
	int rc = 0;

	if (!off || !line) {
		free(off);
		free(line);
		return -1;
	}
	while (gzgets(gz, line, IMPORT_MAX_LINE)) {
		size_t n = strlen(line);

		lineno++;
		if (n == IMPORT_MAX_LINE - 1 && line[n - 1] != '\n') {
			fprintf(stderr, "%s:%ld: a line longer than %u bytes; the rest of the file is "
				"not read\n", path, lineno, IMPORT_MAX_LINE);
			im->failed++;
			rc = -1;
			break;
		}
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (!n)
			continue;
		if (!ch) {
			if (!(ch = chunk_new(path, im->batch))) {
				rc = -1;
				break;
			}
			ch->first_line = lineno;
			len = cap = 0;
		}
		if (len + n + 1 > cap) {
			size_t nc = (len + n + 1) * 2;
			char *p = realloc(ch->text, nc);

			if (!p) {
				rc = -1;
				break;
			}
			ch->text = p;
			cap = nc;
		}
		memcpy(ch->text + len, line, n + 1);
		off[ch->n] = len;
		ch->line[ch->n++] = lineno;
		len += n + 1;
		if (ch->n == im->batch) {
			chunk_seal(ch, off);
			pthread_mutex_lock(&im->lock);
			im->bytes_done = base + gzoffset(gz);
			pthread_mutex_unlock(&im->lock);
			enqueue(im, ch, max_queued);
			ch = NULL;
		}
	}
	if (ch && rc == 0) {
		chunk_seal(ch, off);
		enqueue(im, ch, max_queued);
		ch = NULL;
	}
	chunk_free(ch);
	free(off);
	free(line);
	return rc;
}

/* A .json file: a Bundle through POST /fhir, or a single resource. */
static int read_json(struct import *im, const char *path, gzFile gz)
{
	struct api_request req = { 0 };
	struct api_response res;
	char *text = NULL;
	size_t len = 0, cap = 0;
	int n, status;

	do {
		if (len + 65536 > cap) {
			char *p = realloc(text, cap = (cap ? 2 * cap : 1u << 20));

			if (!p) {
				free(text);
				return -1;
			}
			text = p;
		}
		n = gzread(gz, text + len, 65536);
		len += n > 0 ? (size_t)n : 0;
	} while (n > 0);
	if (im->dry_run) {	/* a Bundle is checked when it is loaded, atomically */
		free(text);
		return 0;
	}
	req.method = "POST";
	req.path = "/fhir";
	req.content_type = "application/fhir+json";
	req.prefer = "return=minimal";
	req.body = text;
	req.body_len = len;
	req.url_len = 5;
	api_response_init(&res);
	status = api_handle(im->api, &req, &res);
	pthread_mutex_lock(&im->lock);
	if (status != 200) {
		struct json_object *o = NULL;
		struct err ignore = { 0 };
		struct json_object *issue, *first;
		const char *diag = NULL, *where = NULL;

		if (!json_parse(res.body.p, res.body.n, 0, &o, &ignore) &&
		    json_object_object_get_ex(o, "issue", &issue) &&
		    (first = json_object_array_get_idx(issue, 0))) {
			struct json_object *x;

			diag = json_get_str(first, "diagnostics");
			if (json_object_object_get_ex(first, "expression", &x))
				where = json_object_get_string(json_object_array_get_idx(x, 0));
		}
		if (im->tty)
			fputc('\n', stderr);
		fprintf(stderr, "%s: %d: %s%s%s\n", path, status, diag ? diag : "failed",
			where ? " at " : "", where ? where : "");
		json_object_put(o);
		im->failed++;
	} else {
		struct json_object *o = NULL, *entries;
		struct err ignore = { 0 };

		if (!json_parse(res.body.p, res.body.n, 0, &o, &ignore) &&
		    json_object_object_get_ex(o, "entry", &entries))
			im->loaded += json_object_array_length(entries);
		json_object_put(o);
		im->bundles++;
	}
	progress(im, 0);
	pthread_mutex_unlock(&im->lock);
	api_response_release(&res);
	free(text);
	return 0;
}

/* One pass over every file: read, queue, let the workers load. */
static int run_pass(struct import *im, const struct files *f, int threads)
{
	pthread_t *tid = calloc((size_t)threads, sizeof(*tid));
	int started = 0, rc = 0;

	if (!tid)
		return -1;
	im->head = im->tail = NULL;
	im->queued = 0;
	im->done_reading = 0;
	im->loaded = im->failed = im->bundles = 0;
	im->bytes_done = 0;
	im->t0 = time_monotonic_ms();
	for (; started < threads; started++)
		if (pthread_create(&tid[started], NULL, worker, im))
			break;
	if (!started)
		rc = -1;
	for (size_t i = 0; !rc && i < f->n; i++) {
		gzFile gz = gzopen(f->path[i], "rb");
		int64_t base = im->bytes_done;
		struct stat sb;

		if (!gz) {
			fprintf(stderr, "lienthong: import: cannot open %s\n", f->path[i]);
			im->failed++;
			continue;
		}
		gzbuffer(gz, 1u << 18);
		if (is_ndjson(f->path[i]) || !is_json(f->path[i]))
			read_ndjson(im, f->path[i], gz, (size_t)started * IMPORT_QUEUE, base);
		else
			rc = read_json(im, f->path[i], gz);
		gzclose(gz);
		pthread_mutex_lock(&im->lock);
		if (!stat(f->path[i], &sb))
			im->bytes_done = base + sb.st_size;
		pthread_mutex_unlock(&im->lock);
	}
	pthread_mutex_lock(&im->lock);
	im->done_reading = 1;
	pthread_cond_broadcast(&im->cond);
	pthread_mutex_unlock(&im->lock);
	for (int i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	free(tid);
	progress(im, 1);
	return rc;
}

/* ---- the command ---------------------------------------------------------- */

/* The bulk-load mode (decision 0009): "on" before the first chunk, "off"
 * (each search value index built by one sort) after the last. */
static int bulk_mode(struct store *st, int on, int tty)
{
	struct store_txn txn = { .meta_key = STORE_META_BULK_LOAD, .meta_value = on ? "on" : "off" };
	struct err e = { 0 };

	if (!on && tty)
		fprintf(stderr, "import: building the search indexes\n");
	if (!store_commit(st, &txn, &e))
		return 0;
	fprintf(stderr, "lienthong: import: %s the bulk-load mode: %s\n", on ? "entering" : "leaving",
		e.n_issues ? e.issue[0].diagnostics : err_message(e.code));
	return -1;
}

/* Whether to load in the bulk-load mode: asked, or AUTO into an empty store
 * (building the indexes sorts the whole store, so it pays for a first load). */
static int want_bulk(struct store *st, int bulk)
{
	struct err e = { 0 };

	if (!st || bulk == IMPORT_BULK_OFF)
		return 0;
	return bulk == IMPORT_BULK_ON || store_is_empty(st, STORE_DEFAULT_TENANT, &e) == 1;
}

/* One audit record for a run of `lienthong import`: who ran it, from where,
 * how many resources (a record per resource would double a bulk load). */
static void audit_run(struct store *st, const struct import *im, size_t n_files, int rc)
{
	const char *user = getenv("USER");
	char agent[96], entity[64], detail[128];
	struct store_audit a = { 0 };
	struct err e = { 0 };

	snprintf(agent, sizeof(agent), "cli/%.64s", user && *user ? user : "unknown");
	snprintf(entity, sizeof(entity), "import/%zu-files", n_files);
	snprintf(detail, sizeof(detail), "%zu resources loaded, %zu failed", im->loaded, im->failed);
	a.tenant = STORE_DEFAULT_TENANT;
	a.at_ms = time_now_ms();
	a.agent = agent;
	a.action = "C";
	a.subtype = "import";
	a.entity = entity;
	a.patient = "";
	a.source = "cli";
	a.outcome = rc ? 422 : 200;
	a.purpose = "TREAT";
	a.detail = detail;
	if (store_audit(st, &a, &e))
		fprintf(stderr, "import: cannot write the audit record: %s\n", e.issue[0].diagnostics);
}

int import_paths(struct api *api, struct store *st, char **paths, size_t n,
		 const struct import_opts *o, size_t *loaded)
{
	struct files f = { paths, n, n };
	struct import im;
	struct stat sb;
	int rc = 0;

	memset(&im, 0, sizeof(im));
	im.api = api;
	im.batch = o->batch;
	im.tty = o->tty;
	pthread_mutex_init(&im.lock, NULL);
	pthread_cond_init(&im.cond, NULL);
	for (size_t i = 0; i < n; i++)
		if (!stat(paths[i], &sb))
			im.bytes_total += sb.st_size;
	if (o->all_or_nothing) {
		im.dry_run = 1;
		run_pass(&im, &f, o->threads);
		if (im.failed) {
			fprintf(stderr, "import: %zu resources would fail; nothing was loaded "
				"(--all-or-nothing)\n", im.failed);
			rc = 1;
		}
		im.dry_run = 0;
	}
	if (!rc) {
		int bulk = want_bulk(st, o->bulk);
		int64_t t_index = 0;
		double s;

		if (bulk && bulk_mode(st, 1, o->tty))
			rc = 1;
		if (!rc)
			run_pass(&im, &f, o->threads);
		if (!rc && bulk) {
			t_index = time_monotonic_ms();
			rc = bulk_mode(st, 0, o->tty) ? 1 : 0;
			t_index = time_monotonic_ms() - t_index;
		}
		s = (double)(time_monotonic_ms() - im.t0) / 1000.0;
		if (!rc && (o->tty || !loaded)) {
			fprintf(stderr, "import: %zu files, %zu resources loaded%s, %zu failed, %.1f s",
				n, im.loaded, im.bundles ? " (Bundles included)" : "", im.failed, s);
			if (bulk)
				fprintf(stderr, " (bulk-load mode; search indexes built in %.1f s)",
					(double)t_index / 1000.0);
			fprintf(stderr, ", %.0f resources/s\n", s > 0 ? (double)im.loaded / s : 0.0);
		}
		if (!rc)
			rc = im.failed ? 1 : 0;
	}
	if (o->audit && st && (im.loaded || im.failed))
		audit_run(st, &im, n, rc);
	if (loaded)
		*loaded = im.loaded;
	pthread_mutex_destroy(&im.lock);
	pthread_cond_destroy(&im.cond);
	return rc;
}

int import_tree(struct api *api, struct store *st, const char *path, const struct import_opts *o,
		size_t *loaded)
{
	struct files f = { 0 };
	int rc = collect(&f, path, 0) ? 1 : import_paths(api, st, f.path, f.n, o, loaded);

	for (size_t i = 0; i < f.n; i++)
		free(f.path[i]);
	free(f.path);
	return rc;
}

int cmd_import(int argc, char **argv)
{
	struct config cfg;
	struct store *st = NULL;
	struct api *api = NULL;
	struct err e = { 0 };
	struct files f = { 0 };
	char **rest = calloc((size_t)argc + 1, sizeof(char *));
	struct import_opts o = { .batch = 1000, .threads = (int)sysconf(_SC_NPROCESSORS_ONLN),
				 .tty = isatty(2), .bulk = IMPORT_BULK_AUTO };
	int nrest = 0, rc = 0;

	if (!rest)
		return 1;
	rest[nrest++] = argv[0];
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--all-or-nothing")) {
			o.all_or_nothing = 1;
		} else if (!strcmp(argv[i], "--bulk") || !strcmp(argv[i], "--no-bulk")) {
			o.bulk = argv[i][2] == 'b' ? IMPORT_BULK_ON : IMPORT_BULK_OFF;
		} else if ((!strcmp(argv[i], "--batch") || !strcmp(argv[i], "--threads")) && i + 1 < argc) {
			char *end;
			long v = strtol(argv[i + 1], &end, 10);

			if (*end || v < 1 || v > 100000) {
				fprintf(stderr, "lienthong: import: %s takes a number from 1 to 100000\n", argv[i]);
				rc = 2;
				break;
			}
			if (!strcmp(argv[i], "--batch"))
				o.batch = (size_t)v;
			else
				o.threads = (int)v;
			i++;
		} else if (!strncmp(argv[i], "--", 2)) {
			rest[nrest++] = argv[i];	/* --data, --config, ...: the shared settings */
			if (!strchr(argv[i], '=') && i + 1 < argc)
				rest[nrest++] = argv[++i];
		} else if (collect(&f, argv[i], 0)) {
			rc = 2;
			break;
		}
	}
	if (!rc && !f.n) {
		fprintf(stderr, "usage: lienthong import [--data DIR] [--all-or-nothing] [--batch N] "
			"[--threads N] [--bulk|--no-bulk] FILE|DIR...\n");
		rc = 2;
	}
	if (rc || (rc = config_load(&cfg, nrest, rest)))
		goto out_files;
	{
		struct store_config sc;
		struct api_config ac;

		config_store(&cfg, &sc);
		config_api(&cfg, &ac);
		if (store_open(&sc, &st, &e) || api_new(&ac, st, &api, &e)) {
			fprintf(stderr, "lienthong: %s\n", e.n_issues ? e.issue[0].diagnostics : err_message(e.code));
			rc = 1;
		}
	}
	o.audit = !cfg.audit || strcmp(cfg.audit, "off") != 0;
	if (!rc)
		rc = import_paths(api, st, f.path, f.n, &o, NULL);
	api_free(api);
	store_close(st);
	config_release(&cfg);
out_files:
	for (size_t i = 0; i < f.n; i++)
		free(f.path[i]);
	free(f.path);
	free(rest);
	return rc;
}
