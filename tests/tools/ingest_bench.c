/*
 * ingest_bench — the cost of ingest below the API (issue #4).
 *
 * Reads NDJSON (one resource a line, ids given, references Type/id: what
 * bench/gen-synthea.py writes), prepares each resource as the REST API does
 * (json_parse; resourceType, id and meta first; fhir_validate;
 * fhir_index_rows; compact JSON) on N threads, and commits them through
 * store_commit in transactions of B resources each, as create-on-update
 * writes of version 1. Prints resources/s, where the time goes, and index
 * rows per resource.
 *
 *   ingest_bench --data DIR [--threads N] [--batch B] [--limit N]
 *                [--every N] [--bulk] FILE.ndjson...
 *
 * Files are read in turn, lines handed out to the threads in blocks of B.
 * --every prints a progress line each N resources (rate over that stretch,
 * so a slowdown as the store grows shows). At the end:
 *   - resources/s over the whole run (wall clock, from the first read to
 *     the last commit);
 *   - CPU µs per resource on the preparing threads, split into parse,
 *     validate, index rows and serialize (shares timed on one resource
 *     in 16, scaled to the measured total),
 *     and the rest of the process (the store's writer thread, mostly);
 *   - wall ms per commit as the preparing threads saw it (queue + apply +
 *     fsync);
 *   - index rows per resource, per table.
 * With --bulk, the load is bracketed by the store's bulk-load mode
 * (store_meta "bulk_load" on, then off: value indexes dropped, then built
 * once at the end); the build is timed apart and counted in the rate.
 * The store is left as a server would find it (index_params set), so
 * `lienthong serve --data DIR` can search it afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "base/time.h"
#include "fhir/fhir.h"
#include "fhir/search.h"
#include "store/store.h"

#define MAX_BATCH 100000
#define MAX_THREADS 64
#define PHASE_SAMPLE 16

enum phase { PH_PARSE, PH_VALIDATE, PH_INDEX, PH_SERIALIZE, PH__COUNT };
static const char *const phase_name[PH__COUNT] = { "parse", "validate", "index rows", "serialize" };

struct input {
	pthread_mutex_t lock;
	char **files;
	int n_files, cur;
	const char *p, *end;		/* the rest of the mapped file */
	void *map;
	size_t map_len;
	int64_t handed, limit;
	int failed;
};

struct totals {
	pthread_mutex_t lock;
	int64_t done, rows, rows_by_table[STORE_IX__COUNT], commits, invalid;
	double cpu[PH__COUNT], prep_cpu, commit_wall;
	int64_t last_report, report_every;
	double t0, last_t;
};

struct worker {
	pthread_t thread;
	struct input *in;
	struct totals *tot;
	struct store *st;
	int batch;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int input_open_next(struct input *in)
{
	while (in->cur < in->n_files) {
		const char *path = in->files[in->cur++];
		struct stat sb;
		int fd = open(path, O_RDONLY);

		if (in->map)
			munmap(in->map, in->map_len);
		in->map = NULL;
		if (fd < 0 || fstat(fd, &sb) != 0) {
			fprintf(stderr, "ingest_bench: %s: %s\n", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		if (sb.st_size == 0) {
			close(fd);
			continue;
		}
		in->map_len = (size_t)sb.st_size;
		in->map = mmap(NULL, in->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
		close(fd);
		if (in->map == MAP_FAILED) {
			in->map = NULL;
			fprintf(stderr, "ingest_bench: cannot map %s\n", path);
			return -1;
		}
		madvise(in->map, in->map_len, MADV_SEQUENTIAL);
		in->p = in->map;
		in->end = in->p + in->map_len;
		return 1;
	}
	return 0;
}

/* Copies up to max lines into lines[] (malloc'ed copies: the map may go). */
static int input_take(struct input *in, char **lines, size_t *lens, int max)
{
	int n = 0;

	pthread_mutex_lock(&in->lock);
	while (n < max && !in->failed && (in->limit <= 0 || in->handed < in->limit)) {
		const char *nl;

		if (in->p >= in->end) {
			int rc = input_open_next(in);

			if (rc < 0)
				in->failed = 1;
			if (rc <= 0)
				break;
		}
		nl = memchr(in->p, '\n', (size_t)(in->end - in->p));
		if (!nl)
			nl = in->end;
		if (nl > in->p) {
			size_t len = (size_t)(nl - in->p);

			lines[n] = malloc(len + 1);
			if (!lines[n]) {
				in->failed = 1;
				break;
			}
			memcpy(lines[n], in->p, len);
			lines[n][len] = '\0';
			lens[n++] = len;
			in->handed++;
		}
		in->p = nl < in->end ? nl + 1 : nl;
	}
	pthread_mutex_unlock(&in->lock);
	return n;
}

/* Adds the thread CPU time since *t to cpu[phase] (when timing). */
static void lap(double *cpu, enum phase phase, double *t)
{
	double now;

	if (!cpu)
		return;
	now = cpu_s();
	cpu[phase] += now - *t;
	*t = now;
}

/* rest.c's prepare(): resourceType, id, meta (versionId, lastUpdated, the
 * client's meta), the rest in order; validate; index rows; compact JSON. */
static int prepare(const char *text, size_t len, int64_t now_ms, struct store_write *w,
		   char *type, char *id, struct store_ix_rows *ix, struct buf *out, double *cpu,
		   struct err *e)
{
	struct json_object *in = NULL, *o = NULL, *meta, *old_meta;
	const char *rt, *rid;
	char when[TIME_INSTANT_LEN + 1];
	double t = cpu ? cpu_s() : 0;
	int rc;

	if ((rc = json_parse(text, len, JSON_DEFAULT_MAX_DEPTH, &in, e)))
		goto out;
	rt = json_get_str(in, "resourceType");
	rid = json_get_str(in, "id");
	if (!rt || !rid || strlen(rt) > STORE_TYPE_MAX || strlen(rid) > STORE_ID_MAX) {
		rc = err_set(e, ERR_INVALID, NULL, "a line without resourceType or id");
		goto out;
	}
	snprintf(type, STORE_TYPE_MAX + 1, "%s", rt);
	snprintf(id, STORE_ID_MAX + 1, "%s", rid);
	o = json_object_new_object();
	meta = json_object_new_object();
	time_format_instant(now_ms, when);
	json_object_object_add(meta, "versionId", json_object_new_string("1"));
	json_object_object_add(meta, "lastUpdated", json_object_new_string(when));
	if (json_object_object_get_ex(in, "meta", &old_meta) &&
	    json_object_is_type(old_meta, json_type_object)) {
		json_object_object_foreach(old_meta, mk, mv) {
			if (strcmp(mk, "versionId") && strcmp(mk, "lastUpdated"))
				json_object_object_add(meta, mk, json_object_get(mv));
		}
	}
	json_object_object_add(o, "resourceType", json_object_new_string(type));
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "meta", meta);
	json_object_object_foreach(in, k, v) {
		if (strcmp(k, "resourceType") && strcmp(k, "id") && strcmp(k, "meta"))
			json_object_object_add(o, k, json_object_get(v));
	}
	lap(cpu, PH_PARSE, &t);
	rc = fhir_validate(o, e);
	lap(cpu, PH_VALIDATE, &t);
	if (rc)
		goto out;
	store_ix_rows_clear(ix);
	rc = fhir_index_rows(o, ix, e);
	lap(cpu, PH_INDEX, &t);
	if (rc)
		goto out;
	buf_clear(out);
	if (json_write(out, o, 0)) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	lap(cpu, PH_SERIALIZE, &t);
	*w = (struct store_write){
		.tenant = STORE_DEFAULT_TENANT,
		.type = type,
		.id = id,
		.expect_version = 0,
		.version = 1,
		.last_updated_ms = now_ms,
		.interaction = STORE_UPDATE_CREATE,
		.json = out->p,
		.json_len = out->n,
		.index = ix,
	};
out:
	json_object_put(o);
	json_object_put(in);
	return rc;
}

static void report(struct totals *tot, int force)
{
	double t = now_s();

	if (!force && (tot->report_every <= 0 || tot->done - tot->last_report < tot->report_every))
		return;
	fprintf(stderr, "ingest_bench: %" PRId64 " resources, %.0f/s overall, %.0f/s last %" PRId64 "\n",
		tot->done, (double)tot->done / (t - tot->t0),
		(double)(tot->done - tot->last_report) / (t - tot->last_t), tot->done - tot->last_report);
	tot->last_report = tot->done;
	tot->last_t = t;
}

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	int b = wk->batch;
	char **lines = calloc((size_t)b, sizeof(char *));
	size_t *lens = calloc((size_t)b, sizeof(size_t));
	struct store_write *w = calloc((size_t)b, sizeof(*w));
	struct store_ix_rows *ix = calloc((size_t)b, sizeof(*ix));
	struct buf *out = calloc((size_t)b, sizeof(*out));
	char (*type)[STORE_TYPE_MAX + 1] = calloc((size_t)b, sizeof(*type));
	char (*id)[STORE_ID_MAX + 1] = calloc((size_t)b, sizeof(*id));
	double cpu[PH__COUNT] = { 0 }, prep_cpu = 0;
	int64_t n_prepared = 0;

	if (!lines || !lens || !w || !ix || !out || !type || !id) {
		fprintf(stderr, "ingest_bench: out of memory\n");
		wk->in->failed = 1;
		goto done;
	}
	for (int i = 0; i < b; i++) {
		store_ix_rows_init(&ix[i]);
		buf_init(&out[i], 0);
	}
	for (;;) {
		int n = input_take(wk->in, lines, lens, b), k = 0, invalid = 0;
		int64_t rows = 0, by_table[STORE_IX__COUNT] = { 0 };
		int64_t now = time_now_ms();
		struct store_txn txn = { .writes = w };
		struct err e = { 0 };
		double t;

		if (n == 0)
			break;
		t = cpu_s();
		for (int i = 0; i < n; i++) {
			struct err pe = { 0 };
			/* The phases are timed on one resource in PHASE_SAMPLE: a
			 * thread's CPU clock is a system call here, not free. */
			int timed = n_prepared++ % PHASE_SAMPLE == 0;

			if (prepare(lines[i], lens[i], now, &w[k], type[k], id[k], &ix[k], &out[k],
				    timed ? cpu : NULL, &pe)) {
				if (invalid++ < 3)
					fprintf(stderr, "ingest_bench: skipped: %s\n",
						pe.n_issues ? pe.issue[0].diagnostics : "?");
			} else {
				rows += (int64_t)ix[k].n;
				for (size_t r = 0; r < ix[k].n; r++)
					by_table[ix[k].row[r].table]++;
				k++;
			}
			free(lines[i]);
		}
		prep_cpu += cpu_s() - t;
		txn.n_writes = (size_t)k;
		t = now_s();
		if (k && store_commit(wk->st, &txn, &e)) {
			fprintf(stderr, "ingest_bench: commit failed: %s\n",
				e.n_issues ? e.issue[0].diagnostics : err_name(ERR_STORE));
			pthread_mutex_lock(&wk->in->lock);
			wk->in->failed = 1;
			pthread_mutex_unlock(&wk->in->lock);
			break;
		}
		t = now_s() - t;
		pthread_mutex_lock(&wk->tot->lock);
		wk->tot->done += k;
		wk->tot->invalid += invalid;
		wk->tot->rows += rows;
		for (int i = 0; i < STORE_IX__COUNT; i++)
			wk->tot->rows_by_table[i] += by_table[i];
		wk->tot->commits++;
		wk->tot->commit_wall += t;
		report(wk->tot, 0);
		pthread_mutex_unlock(&wk->tot->lock);
	}
	pthread_mutex_lock(&wk->tot->lock);
	for (int i = 0; i < PH__COUNT; i++)
		wk->tot->cpu[i] += cpu[i];
	wk->tot->prep_cpu += prep_cpu;
	pthread_mutex_unlock(&wk->tot->lock);
	for (int i = 0; i < b; i++) {
		store_ix_rows_release(&ix[i]);
		buf_release(&out[i]);
	}
done:
	free(lines);
	free(lens);
	free(w);
	free(ix);
	free(out);
	free(type);
	free(id);
	return NULL;
}

static int usage(void)
{
	fprintf(stderr, "usage: ingest_bench --data DIR [--threads N] [--batch B] [--limit N]"
			" [--every N] [--bulk] FILE.ndjson...\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const char *const table_name[STORE_IX__COUNT] = {
		"token", "string", "date", "number", "reference", "uri", "composite"
	};
	struct store_config cfg = { .backend = "sqlite" };
	struct input in = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct totals tot = { .lock = PTHREAD_MUTEX_INITIALIZER, .report_every = 100000 };
	struct worker wk[MAX_THREADS];
	struct store *st = NULL;
	struct err e = { 0 };
	struct rusage ru;
	int threads = 2, batch = 1000, bulk = 0, rc = 1;
	double wall, build = 0, proc_cpu, prep_cpu = 0;

	in.files = calloc((size_t)argc, sizeof(char *));
	if (!in.files)
		return 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--data") && i + 1 < argc)
			cfg.data_dir = argv[++i];
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
			batch = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--limit") && i + 1 < argc)
			in.limit = atoll(argv[++i]);
		else if (!strcmp(argv[i], "--bulk"))
			bulk = 1;
		else if (!strcmp(argv[i], "--every") && i + 1 < argc)
			tot.report_every = atoll(argv[++i]);
		else if (argv[i][0] == '-')
			return usage();
		else
			in.files[in.n_files++] = argv[i];
	}
	if (!cfg.data_dir || !in.n_files || threads < 1 || threads > MAX_THREADS || batch < 1 ||
	    batch > MAX_BATCH) {
		free(in.files);
		return usage();
	}
	if (store_open(&cfg, &st, &e)) {
		fprintf(stderr, "ingest_bench: %s\n", e.n_issues ? e.issue[0].diagnostics : "cannot open");
		free(in.files);
		return 1;
	}
	{
		struct store_txn txn = { .meta_key = "index_params", .meta_value = fhir_search_fingerprint() };

		struct store_txn on = { .meta_key = "bulk_load", .meta_value = "on" };

		if (store_commit(st, &txn, &e) || (bulk && store_commit(st, &on, &e)))
			goto out;
	}
	tot.t0 = tot.last_t = now_s();
	for (int i = 0; i < threads; i++) {
		wk[i] = (struct worker){ .in = &in, .tot = &tot, .st = st, .batch = batch };
		pthread_create(&wk[i].thread, NULL, worker_main, &wk[i]);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(wk[i].thread, NULL);
	if (bulk) {
		struct store_txn off = { .meta_key = "bulk_load", .meta_value = "off" };

		build = now_s();
		if (store_commit(st, &off, &e)) {
			fprintf(stderr, "ingest_bench: building the indexes failed: %s\n",
				e.n_issues ? e.issue[0].diagnostics : "?");
			in.failed = 1;
		}
		build = now_s() - build;
	}
	wall = now_s() - tot.t0;
	if (in.map)
		munmap(in.map, in.map_len);
	store_close(st);
	st = NULL;
	getrusage(RUSAGE_SELF, &ru);
	proc_cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		   (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	report(&tot, 1);
	printf("resources      %" PRId64 " (%" PRId64 " skipped as invalid)\n", tot.done, tot.invalid);
	printf("threads/batch  %d / %d\n", threads, batch);
	printf("wall           %.1f s%s\n", wall, bulk ? " (index build included)" : "");
	if (bulk)
		printf("index build    %.1f s\n", build);
	printf("rate           %.0f resources/s\n", tot.done ? (double)tot.done / wall : 0.0);
	if (tot.done) {
		double n = (double)tot.done;

		double sampled = 0;

		prep_cpu = tot.prep_cpu;
		for (int i = 0; i < PH__COUNT; i++)
			sampled += tot.cpu[i];
		/* A system call leaves the next microseconds slower on this VM, so
		 * the timed resources run slower than the others: the sample gives
		 * the shares, the untimed total the scale. */
		for (int i = 0; i < PH__COUNT; i++)
			printf("cpu %-10s %.1f us/resource\n", phase_name[i],
			       sampled > 0 ? prep_cpu * tot.cpu[i] / sampled * 1e6 / n : 0.0);
		printf("cpu prepare    %.1f us/resource\n", prep_cpu * 1e6 / n);
		printf("cpu the rest   %.1f us/resource (writer thread, reading input)\n",
		       (proc_cpu - prep_cpu) * 1e6 / n);
		printf("commit wall    %.1f ms per txn of up to %d (queue + apply + fsync)\n",
		       tot.commit_wall * 1e3 / (double)tot.commits, batch);
		printf("index rows     %.1f per resource:", (double)tot.rows / n);
		for (int i = 0; i < STORE_IX__COUNT; i++)
			printf(" %s %.1f", table_name[i], (double)tot.rows_by_table[i] / n);
		printf("\n");
	}
	rc = in.failed ? 1 : 0;
out:
	if (st)
		store_close(st);
	free(in.files);
	return rc;
}
