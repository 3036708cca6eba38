/*
 * export.c — FHIR Bulk Data export (Bulk Data Access IG v2): $export at
 * system, Patient and Group level, run as asynchronous jobs.
 *
 *   GET [base]/$export, [base]/Patient/$export, [base]/Group/[id]/$export
 *       (Prefer: respond-async; POST with a Parameters body too)
 *       → 202, Content-Location: [base]/$export-status/[job]
 *   GET    [base]/$export-status/[job]  → 202 + X-Progress while it runs,
 *                                          200 + the manifest when done
 *   DELETE [base]/$export-status/[job]  → 202: cancelled, files deleted
 *   GET    [base]/$export-file/[job]/[Type]-[n].ndjson  → the file, from disk
 *
 * Each job is a directory under the export directory (the data directory's
 * export/): state.json (written to a temporary file, fsync'ed, renamed),
 * members.json for a Group or patient list, and the output files. Workers
 * (background threads, `export_threads`) take queued jobs in order and page
 * through the store with store_scan (rid keyset, bounded memory), writing
 * each resource's stored bytes as one NDJSON line, one file per type, a new
 * part every `file_resources` resources. Every few seconds a worker flushes
 * and fsyncs its files and records how far it got (last rid, each file's
 * byte length); after a restart the job resumes there, the files cut back to
 * the recorded lengths. Finished jobs are deleted `expire` seconds after they
 * finish. See docs/decisions/0007-bulk-export.md.
 *
 * Threads: the handlers run on request threads, the export runs on the
 * workers; x->lock guards the job list and every job field that a request
 * thread reads. While a job runs, its file list belongs to its worker.
 */
#include "api_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../base/json.h"
#include "../base/log.h"
#include "../base/rand.h"
#include "../base/time.h"
#include "../fhir/search.h"

#define EXPORT_STATE_FILE "state.json"
#define EXPORT_MEMBERS_FILE "members.json"
#define EXPORT_STATE_MAX_BYTES (16u << 20)	/* a state lists its files: ~80 bytes each */
#define EXPORT_MEMBERS_MAX 1000000		/* patients of one Group or patient list */
#define EXPORT_MEMBERS_MAX_BYTES (EXPORT_MEMBERS_MAX * (FHIR_ID_MAX + 3u) + 2)
#define EXPORT_MAX_ACTIVE 8			/* queued + running jobs */
#define EXPORT_MAX_JOBS 256			/* finished ones included */
#define EXPORT_PAGE_ROWS 4096			/* resources per store_scan page */
#define EXPORT_CHECKPOINT_MS 2000
#define EXPORT_SETTLE_MS 1000			/* see run_job */
#define EXPORT_SWEEP_MS 60000
#define EXPORT_FILE_BUFFER (64u * 1024)	/* per open output file */
#define EXPORT_MAX_TYPES 256
#define EXPORT_MAX_FILES 100000			/* per job */
#define EXPORT_PATH_MAX 4096
#define EXPORT_NDJSON "application/fhir+ndjson"
#define EXPORT_MANIFEST_TYPE "application/json; charset=utf-8"

enum export_status { EXPORT_QUEUED, EXPORT_RUNNING, EXPORT_DONE, EXPORT_FAILED };
static const char *const status_names[] = { "queued", "running", "done", "failed" };

enum export_level { LEVEL_SYSTEM, LEVEL_PATIENT, LEVEL_GROUP };
static const char *const level_names[] = { "system", "patient", "group" };

struct export_file {
	int type;			/* fhir_resource_type_index */
	int part;			/* 1, 2, ... within the type */
	int64_t count, bytes;		/* as far as written (and, in state.json, fsync'ed) */
};

struct export_job {
	char id[UUID_STR_LEN + 1];
	int status;			/* enum export_status */
	int level;			/* enum export_level */
	int cancelled;			/* DELETE while it runs: its worker removes it */
	int has_members;		/* members.json limits the compartment */
	uint8_t want[EXPORT_MAX_TYPES];	/* types asked for (all when all_types) */
	int all_types;
	int64_t since_ms;		/* INT64_MIN: no _since */
	int64_t tx_ms;			/* transactionTime */
	int64_t finished_ms;
	char *request;			/* the kick-off URL */
	int64_t tenant;			/* exported from, and seen only from, this tenant */
	char owner[160];		/* who asked (api_who.agent): only they see it */
	int err_code;
	char error[ERR_DIAG_MAX];
	/* Progress. */
	int64_t after_rid, max_rid, written;
	struct export_file *files;
	size_t n_files, cap_files;
	struct export_job *next;
};

struct export_jobs {
	struct store *st;
	char *dir;
	int64_t expire_ms;
	int64_t file_resources;
	int page_rows;			/* resources per store_scan call */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct export_job *head;
	int stopping;
	int64_t last_sweep_ms;
	pthread_t *threads;
	int n_threads;
	/* The Patient compartment, from the generated compartment table. */
	uint8_t in_patient_compartment[EXPORT_MAX_TYPES];
	uint32_t *patient_params;
	size_t n_patient_params;
};

/* ---- files and paths ------------------------------------------------------ */

static int job_path(const struct export_jobs *x, const char *id, const char *name, char *out,
		    size_t n)
{
	int len = name ? snprintf(out, n, "%s/%s/%s", x->dir, id, name)
		       : snprintf(out, n, "%s/%s", x->dir, id);

	return len < 0 || (size_t)len >= n ? ERR_TOO_LARGE : 0;
}

static void file_name(const struct export_file *f, char *out, size_t n)
{
	snprintf(out, n, "%s-%d.ndjson", fhir_resource_type_name(f->type), f->part);
}

/* A job id is one of our UUIDs: nothing else reaches the file system. */
static int job_id_valid(const char *s, size_t n)
{
	if (n != UUID_STR_LEN)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i]) || !s[i])
			return 0;
	}
	return 1;
}

static void remove_dir(const struct export_jobs *x, const char *id)
{
	char path[EXPORT_PATH_MAX];
	struct dirent *d;
	DIR *dir;

	if (job_path(x, id, NULL, path, sizeof(path)) || !(dir = opendir(path)))
		return;
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.')
			unlinkat(dirfd(dir), d->d_name, 0);
	closedir(dir);
	if (rmdir(path) != 0)
		log_warn("export: cannot remove job directory %s: %s", id, strerror(errno));
}

/* Writes bytes to dir/name through a temporary file, fsync and rename, so
 * that a crash leaves the old file or the new one, never half of one. */
static int write_atomic(const struct export_jobs *x, const char *id, const char *name,
			const char *p, size_t n, struct err *e)
{
	char path[EXPORT_PATH_MAX], tmp[EXPORT_PATH_MAX + 8];
	int fd = -1, rc = 0;

	if (job_path(x, id, name, path, sizeof(path)))
		return err_set(e, ERR_CONFIG, NULL, "the export directory's path is too long");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(e, errno == ENOSPC ? ERR_DISK_FULL : ERR_IO, NULL,
			       "export: cannot write %s: %s", name, strerror(errno));
	for (size_t off = 0; !rc && off < n;) {
		ssize_t w = write(fd, p + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			rc = err_set(e, errno == ENOSPC ? ERR_DISK_FULL : ERR_IO, NULL,
				     "export: cannot write %s: %s", name, strerror(errno));
		else
			off += (size_t)w;
	}
	if (!rc && fsync(fd) != 0)
		rc = err_set(e, ERR_IO, NULL, "export: cannot sync %s: %s", name, strerror(errno));
	close(fd);
	if (!rc && rename(tmp, path) != 0)
		rc = err_set(e, ERR_IO, NULL, "export: cannot rename %s: %s", name, strerror(errno));
	if (rc)
		unlink(tmp);
	return rc;
}

/* Reads a whole small file into b (at most limit bytes). */
static int read_small(const char *path, struct buf *b, size_t limit)
{
	char chunk[16384];
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
	ssize_t n;

	if (fd < 0)
		return ERR_NOT_FOUND;
	while (!rc && (n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		rc = n < 0 ? ERR_IO : b->n + (size_t)n > limit ? ERR_TOO_LARGE
							      : buf_append(b, chunk, (size_t)n);
	}
	close(fd);
	return rc;
}

/* ---- state.json ----------------------------------------------------------- */

static int64_t get_int(struct json_object *o, const char *key, int64_t def)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int)
		       ? json_object_get_int64(v) : def;
}

/* The job as JSON; the caller holds x->lock or owns the job. */
static int state_write(const struct export_job *j, struct buf *b)
{
	int rc = buf_printf(b, "{\"version\":1,\"id\":\"%s\",\"status\":\"%s\",\"level\":\"%s\","
			       "\"has_members\":%d,\"since\":%lld,\"tx\":%lld,\"finished\":%lld,"
			       "\"after_rid\":%lld,\"max_rid\":%lld,\"written\":%lld,\"err_code\":%d,"
			       "\"error\":",
			    j->id, status_names[j->status], level_names[j->level], j->has_members,
			    (long long)j->since_ms, (long long)j->tx_ms, (long long)j->finished_ms,
			    (long long)j->after_rid, (long long)j->max_rid, (long long)j->written,
			    j->err_code);

	if (!rc)
		rc = json_write_string(b, j->error);
	if (!rc)
		rc = buf_printf(b, ",\"tenant\":%lld,\"owner\":", (long long)j->tenant);
	if (!rc)
		rc = json_write_string(b, j->owner);
	if (!rc)
		rc = buf_puts(b, ",\"request\":");
	if (!rc)
		rc = json_write_string(b, j->request ? j->request : "");
	if (!rc)
		rc = buf_puts(b, j->all_types ? ",\"types\":null" : ",\"types\":[");
	for (int t = 0, first = 1; !rc && !j->all_types && t < fhir_resource_type_count(); t++)
		if (j->want[t]) {
			rc = buf_printf(b, "%s\"%s\"", first ? "" : ",", fhir_resource_type_name(t));
			first = 0;
		}
	if (!rc && !j->all_types)
		rc = buf_putc(b, ']');
	if (!rc)
		rc = buf_puts(b, ",\"files\":[");
	for (size_t i = 0; !rc && i < j->n_files; i++) {
		const struct export_file *f = &j->files[i];

		rc = buf_printf(b, "%s{\"type\":\"%s\",\"part\":%d,\"count\":%lld,\"bytes\":%lld}",
				i ? "," : "", fhir_resource_type_name(f->type), f->part,
				(long long)f->count, (long long)f->bytes);
	}
	return rc ? rc : buf_puts(b, "]}\n");
}

static int job_save(struct export_jobs *x, struct export_job *j, struct err *e)
{
	struct buf b;
	int rc;

	buf_init(&b, EXPORT_STATE_MAX_BYTES);
	pthread_mutex_lock(&x->lock);
	rc = state_write(j, &b);
	pthread_mutex_unlock(&x->lock);
	rc = rc ? err_set(e, rc, NULL, "export: cannot hold the job's state")
		: write_atomic(x, j->id, EXPORT_STATE_FILE, b.p, b.n, e);
	buf_release(&b);
	return rc;
}

static int add_file(struct export_job *j, int type, int part)
{
	if (j->n_files == j->cap_files) {
		size_t cap = j->cap_files ? 2 * j->cap_files : 16;
		struct export_file *p;

		if (cap > EXPORT_MAX_FILES || !(p = realloc(j->files, cap * sizeof(*p))))
			return ERR_NOMEM;
		j->files = p;
		j->cap_files = cap;
	}
	j->files[j->n_files++] = (struct export_file){ .type = type, .part = part };
	return 0;
}

static int type_index(const char *name)
{
	return name ? fhir_resource_type_index(name, strlen(name)) : -1;
}

static void job_free(struct export_job *j)
{
	if (!j)
		return;
	free(j->request);
	free(j->files);
	free(j);
}

/* A job from its state.json, or NULL when the file is not one of ours. */
static struct export_job *state_read(const struct buf *b, const char *id)
{
	struct json_object *o = NULL, *v;
	struct export_job *j = NULL;
	struct err e = { 0 };
	const char *s;
	int ok = 0;

	if (json_parse(b->p, b->n, 8, &o, &e) || !json_object_is_type(o, json_type_object) ||
	    !(j = calloc(1, sizeof(*j))))
		goto out;
	snprintf(j->id, sizeof(j->id), "%.*s", UUID_STR_LEN, id);	/* checked: a UUID */
	s = json_get_str(o, "status");
	for (j->status = 0; s && j->status < 4 && strcmp(s, status_names[j->status]); j->status++)
		;
	s = json_get_str(o, "level");
	for (j->level = 0; s && j->level < 3 && strcmp(s, level_names[j->level]); j->level++)
		;
	if (!s || j->status == 4 || j->level == 3 || get_int(o, "version", 0) != 1)
		goto out;
	j->has_members = (int)get_int(o, "has_members", 0);
	j->since_ms = get_int(o, "since", INT64_MIN);
	j->tx_ms = get_int(o, "tx", 0);
	j->finished_ms = get_int(o, "finished", 0);
	j->after_rid = get_int(o, "after_rid", 0);
	j->max_rid = get_int(o, "max_rid", 0);
	j->written = get_int(o, "written", 0);
	j->err_code = (int)get_int(o, "err_code", 0);
	snprintf(j->error, sizeof(j->error), "%s", json_get_str(o, "error") ? json_get_str(o, "error") : "");
	j->tenant = get_int(o, "tenant", STORE_DEFAULT_TENANT);
	snprintf(j->owner, sizeof(j->owner), "%s", json_get_str(o, "owner") ? json_get_str(o, "owner") : "");
	j->request = strdup(json_get_str(o, "request") ? json_get_str(o, "request") : "");
	if (!j->request)
		goto out;
	j->all_types = !json_object_object_get_ex(o, "types", &v) || !v;
	for (size_t i = 0; !j->all_types && i < json_object_array_length(v); i++) {
		int t = type_index(json_object_get_string(json_object_array_get_idx(v, i)));

		if (t < 0)
			goto out;
		j->want[t] = 1;
	}
	if (json_object_object_get_ex(o, "files", &v) && json_object_is_type(v, json_type_array))
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			struct json_object *f = json_object_array_get_idx(v, i);
			int t = type_index(json_get_str(f, "type"));

			if (t < 0 || add_file(j, t, (int)get_int(f, "part", 0)))
				goto out;
			j->files[j->n_files - 1].count = get_int(f, "count", 0);
			j->files[j->n_files - 1].bytes = get_int(f, "bytes", 0);
		}
	ok = 1;
out:
	json_object_put(o);
	if (!ok) {
		job_free(j);
		return NULL;
	}
	return j;
}

/* ---- the job list ---------------------------------------------------------- */

/* Under x->lock. A job of another tenant or another requester is not
 * found: its id says nothing to them. */
static struct export_job *job_find(struct export_jobs *x, const char *id, const struct api_ctx *c)
{
	for (struct export_job *j = x->head; j; j = j->next)
		if (!strcmp(j->id, id) && !j->cancelled && j->tenant == c->tenant &&
		    (c->who.all || !strcmp(j->owner, c->who.agent)))
			return j;
	return NULL;
}

/* Under x->lock. */
static void job_unlink(struct export_jobs *x, struct export_job *gone)
{
	for (struct export_job **p = &x->head; *p; p = &(*p)->next)
		if (*p == gone) {
			*p = gone->next;
			return;
		}
}

/* Deletes finished jobs past their expiry; under x->lock. */
static void sweep(struct export_jobs *x, int64_t now)
{
	struct export_job **p = &x->head;

	x->last_sweep_ms = now;
	while (*p) {
		struct export_job *j = *p;

		if ((j->status == EXPORT_DONE || j->status == EXPORT_FAILED) &&
		    j->finished_ms + x->expire_ms <= now) {
			*p = j->next;
			log_info("export: job %s expired", j->id);
			remove_dir(x, j->id);
			job_free(j);
		} else
			p = &j->next;
	}
}

/* ---- the worker ------------------------------------------------------------ */

struct export_out {
	FILE *f;
	size_t file;			/* index in job->files */
};

struct export_run {
	struct export_jobs *x;
	struct export_job *job;
	struct export_out out[EXPORT_MAX_TYPES];
	int last_type;			/* cache of the previous row's type */
	const char *last_name;
	int64_t written;		/* this page's rows; added to job->written under the lock */
	struct err err;
};

static int out_close(struct export_run *r, int t, int sync)
{
	struct export_out *o = &r->out[t];
	int rc = 0;

	if (!o->f)
		return 0;
	if (fflush(o->f) != 0 || (sync && fdatasync(fileno(o->f)) != 0))
		rc = err_set(&r->err, errno == ENOSPC ? ERR_DISK_FULL : ERR_IO, NULL,
			     "export: cannot write an output file: %s", strerror(errno));
	if (fclose(o->f) != 0 && !rc)
		rc = err_set(&r->err, ERR_IO, NULL, "export: cannot close an output file");
	o->f = NULL;
	return rc;
}

/* Opens the file the next resource of type t goes to: the type's last part
 * while it has room (after a restart too), else a new part. */
static int out_open(struct export_run *r, int t)
{
	struct export_job *j = r->job;
	struct export_out *o = &r->out[t];
	char name[96], path[EXPORT_PATH_MAX];
	int part = 0, rc, fd;
	size_t last = SIZE_MAX;

	for (size_t i = 0; i < j->n_files; i++)
		if (j->files[i].type == t) {
			last = i;
			part = j->files[i].part;
		}
	if (last == SIZE_MAX || j->files[last].count >= r->x->file_resources) {
		pthread_mutex_lock(&r->x->lock);
		rc = add_file(j, t, part + 1);
		pthread_mutex_unlock(&r->x->lock);
		if (rc)
			return err_set(&r->err, rc, NULL, "export: too many output files");
		last = j->n_files - 1;
	}
	file_name(&j->files[last], name, sizeof(name));
	if (job_path(r->x, j->id, name, path, sizeof(path)))
		return err_set(&r->err, ERR_CONFIG, NULL, "the export directory's path is too long");
	/* 0600, as the database: health data are not for other users. */
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (j->files[last].bytes ? O_APPEND : O_TRUNC),
		  0600);
	if (fd < 0 || !(o->f = fdopen(fd, "a"))) {
		rc = err_set(&r->err, errno == ENOSPC ? ERR_DISK_FULL : ERR_IO, NULL,
			     "export: cannot create an output file: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	setvbuf(o->f, NULL, _IOFBF, EXPORT_FILE_BUFFER);
	o->file = last;
	return 0;
}

static int on_row(void *arg, const struct store_scan_row *row)
{
	struct export_run *r = arg;
	struct export_file *f;
	int t = r->last_name && !strcmp(r->last_name, row->type) ? r->last_type : type_index(row->type);
	int rc;

	if (t < 0 || t >= EXPORT_MAX_TYPES)
		return 0;	/* not an R4 type: cannot be in our store */
	r->last_type = t;
	r->last_name = fhir_resource_type_name(t);
	if (!r->out[t].f && (rc = out_open(r, t)))
		return rc;
	f = &r->job->files[r->out[t].file];
	if (fwrite(row->json.p, 1, row->json.n, r->out[t].f) != row->json.n ||
	    putc_unlocked('\n', r->out[t].f) == EOF)
		return err_set(&r->err, errno == ENOSPC ? ERR_DISK_FULL : ERR_IO, NULL,
			       "export: cannot write an output file: %s", strerror(errno));
	f->count++;
	f->bytes += (int64_t)row->json.n + 1;
	r->written++;
	if (f->count >= r->x->file_resources)
		return out_close(r, t, 0);	/* full; synced at the next checkpoint */
	return 0;
}

/* Everything written so far is on disk, then state.json says so. */
static int checkpoint(struct export_run *r)
{
	struct export_job *j = r->job;
	char path[EXPORT_PATH_MAX], name[96];
	int rc = 0;

	for (int t = 0; !rc && t < EXPORT_MAX_TYPES; t++)
		if (r->out[t].f && (fflush(r->out[t].f) != 0 || fdatasync(fileno(r->out[t].f)) != 0))
			rc = err_set(&r->err, errno == ENOSPC ? ERR_DISK_FULL : ERR_IO, NULL,
				     "export: cannot write an output file: %s", strerror(errno));
	/* Parts closed when full were flushed but not synced. */
	for (size_t i = 0; !rc && i < j->n_files; i++) {
		int fd;

		if (r->out[j->files[i].type].f && r->out[j->files[i].type].file == i)
			continue;
		file_name(&j->files[i], name, sizeof(name));
		if (job_path(r->x, j->id, name, path, sizeof(path)) ||
		    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		fdatasync(fd);
		close(fd);
	}
	return rc ? rc : job_save(r->x, j, &r->err);
}

/* After a restart: the files as state.json recorded them, or a fresh start
 * when one is shorter than recorded (its tail was lost with the page cache). */
static void resume_files(struct export_run *r)
{
	struct export_job *j = r->job;
	char path[EXPORT_PATH_MAX], name[96];
	int fresh = 0;
	struct dirent *d;
	DIR *dir;

	for (size_t i = 0; !fresh && i < j->n_files; i++) {
		struct stat sb;

		file_name(&j->files[i], name, sizeof(name));
		fresh = job_path(r->x, j->id, name, path, sizeof(path)) || stat(path, &sb) != 0 ||
			sb.st_size < j->files[i].bytes || truncate(path, j->files[i].bytes) != 0;
	}
	if (fresh) {
		log_warn("export: job %s: output shorter than recorded; starting it again", j->id);
		pthread_mutex_lock(&r->x->lock);
		j->n_files = 0;
		j->after_rid = j->written = 0;
		pthread_mutex_unlock(&r->x->lock);
	}
	/* Parts begun after the last checkpoint are not in the state. */
	if (job_path(r->x, j->id, NULL, path, sizeof(path)) || !(dir = opendir(path)))
		return;
	while ((d = readdir(dir))) {
		size_t n = strlen(d->d_name);
		int listed = 0;

		if (n < 7 || strcmp(d->d_name + n - 7, ".ndjson"))
			continue;
		for (size_t i = 0; !listed && i < j->n_files; i++) {
			file_name(&j->files[i], name, sizeof(name));
			listed = !strcmp(name, d->d_name);
		}
		if (!listed)
			unlinkat(dirfd(dir), d->d_name, 0);
	}
	closedir(dir);
}

/* Waits on x->cond until woken or `ms` have passed; under x->lock. */
static void timed_wait(struct export_jobs *x, int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&x->cond, &x->lock, &ts);
}

static int sort_files(const void *a, const void *b)
{
	const struct export_file *p = a, *q = b;
	int c = strcmp(fhir_resource_type_name(p->type), fhir_resource_type_name(q->type));

	return c ? c : p->part - q->part;
}

/* The scan's types: those asked for, within the Patient compartment when
 * the level says so. */
static size_t scan_types(const struct export_jobs *x, const struct export_job *j,
			 const char **types)
{
	size_t n = 0;

	for (int t = 0; t < fhir_resource_type_count() && t < EXPORT_MAX_TYPES; t++)
		if ((j->all_types || j->want[t]) &&
		    (j->level == LEVEL_SYSTEM || x->in_patient_compartment[t]))
			types[n++] = fhir_resource_type_name(t);
	return n;
}

static int load_members(struct export_jobs *x, struct export_job *j, struct buf *members,
			struct err *e)
{
	char path[EXPORT_PATH_MAX];

	if (job_path(x, j->id, EXPORT_MEMBERS_FILE, path, sizeof(path)) ||
	    read_small(path, members, EXPORT_MEMBERS_MAX_BYTES))
		return err_set(e, ERR_IO, NULL, "export: cannot read the job's patient list");
	return 0;
}

/* Runs (or resumes) one job; returns with it done, failed, cancelled (then
 * removed and freed) or, when the server stops, left running on disk. */
static void run_job(struct export_jobs *x, struct export_job *j)
{
	struct export_run *r = calloc(1, sizeof(*r));
	const char *types[EXPORT_MAX_TYPES];
	struct store_scan s = { 0 };
	struct buf members;
	int64_t last_checkpoint = time_monotonic_ms();
	int rc = 0, cancelled = 0, stopping = 0;

	buf_init(&members, EXPORT_MEMBERS_MAX_BYTES);
	if (!r) {
		pthread_mutex_lock(&x->lock);
		j->status = EXPORT_QUEUED;	/* try again later */
		pthread_mutex_unlock(&x->lock);
		return;
	}
	r->x = x;
	r->job = j;
	r->last_type = -1;
	if (j->after_rid || j->n_files)
		resume_files(r);
	if (j->has_members && (rc = load_members(x, j, &members, &r->err)))
		goto finish;
	s.tenant = j->tenant;
	s.n_types = scan_types(x, j, types);
	s.types = j->all_types && j->level == LEVEL_SYSTEM ? NULL : types;
	s.since_ms = j->since_ms;
	s.as_of_ms = j->tx_ms;
	if (j->level != LEVEL_SYSTEM) {
		s.comp_type = "Patient";
		s.params = x->patient_params;
		s.n_params = x->n_patient_params;
		s.comp_ids_json = j->has_members ? members.p : NULL;
	}
	s.after_rid = j->after_rid;
	s.limit = x->page_rows;
	log_info("export: job %s %s (%s level)", j->id, j->after_rid ? "resumes" : "starts",
		 level_names[j->level]);
	while (!rc && (s.types == NULL || s.n_types > 0)) {
		rc = store_scan(x->st, &s, on_row, r, &r->err);
		if (rc)
			break;
		if (!s.done && s.last_rid <= s.after_rid) {	/* a scan that does not move on */
			rc = err_set(&r->err, ERR_INTERNAL, NULL, "export: the scan did not advance");
			break;
		}
		s.after_rid = s.last_rid;
		pthread_mutex_lock(&x->lock);
		j->after_rid = s.last_rid;
		j->max_rid = s.max_rid;
		j->written += r->written;
		r->written = 0;
		cancelled = j->cancelled;
		stopping = x->stopping;
		pthread_mutex_unlock(&x->lock);
		if (cancelled || s.done)
			break;
		if (stopping || time_monotonic_ms() - last_checkpoint >= EXPORT_CHECKPOINT_MS) {
			rc = checkpoint(r);
			last_checkpoint = time_monotonic_ms();
			if (stopping)
				break;
		}
	}
finish:
	for (int t = 0; t < EXPORT_MAX_TYPES; t++) {
		int crc = out_close(r, t, !cancelled);

		rc = rc ? rc : crc;
	}
	if (cancelled) {
		pthread_mutex_lock(&x->lock);
		job_unlink(x, j);
		pthread_mutex_unlock(&x->lock);
		remove_dir(x, j->id);
		log_info("export: job %s cancelled", j->id);
		job_free(j);
	} else if (stopping && !rc) {
		log_info("export: job %s paused at shutdown; it resumes at the next start", j->id);
	} else {
		struct err e = { 0 };

		if (!rc)
			rc = checkpoint(r);	/* the last full parts are synced */
		store_durable_wait(x->st);	/* the files hold only durable data */
		pthread_mutex_lock(&x->lock);
		if (rc) {
			/* Its files help no one and may be what filled the disk. */
			for (size_t i = 0; i < j->n_files; i++) {
				char name[96], path[EXPORT_PATH_MAX];

				file_name(&j->files[i], name, sizeof(name));
				if (!job_path(x, j->id, name, path, sizeof(path)))
					unlink(path);
			}
			j->n_files = 0;
			j->status = EXPORT_FAILED;
			j->err_code = rc;
			snprintf(j->error, sizeof(j->error), "%s",
				 r->err.n_issues ? r->err.issue[0].diagnostics : err_message(rc));
			log_error("export: job %s failed: %s", j->id, j->error);
		} else {
			j->status = EXPORT_DONE;
			if (j->n_files)	/* an export of nothing has no files (and files is NULL) */
				qsort(j->files, j->n_files, sizeof(j->files[0]), sort_files);
			log_info("export: job %s done: %lld resources in %zu files", j->id,
				 (long long)j->written, j->n_files);
		}
		j->finished_ms = time_now_ms();
		pthread_mutex_unlock(&x->lock);
		if (job_save(x, j, &e))
			log_error("export: job %s: cannot record its end: %s", j->id,
				  e.n_issues ? e.issue[0].diagnostics : err_name(e.code));
	}
	buf_release(&members);
	free(r);
}

static void *worker_main(void *arg)
{
	struct export_jobs *x = arg;

	pthread_mutex_lock(&x->lock);
	while (!x->stopping) {
		struct export_job *j = x->head;
		int64_t now = time_now_ms();

		if (now - x->last_sweep_ms >= EXPORT_SWEEP_MS)
			sweep(x, now);
		/* The first queued job, once it has settled: lastUpdated is taken
		 * before a write is queued for the group commit, so a write
		 * stamped just before transactionTime may still be committing.
		 * Waiting a moment lets it land in this export (the next export's
		 * _since=transactionTime would not see it). */
		while (j && (j->status != EXPORT_QUEUED || j->cancelled))
			j = j->next;
		if (!j || now < j->tx_ms + EXPORT_SETTLE_MS) {
			timed_wait(x, j ? j->tx_ms + EXPORT_SETTLE_MS - now : EXPORT_SWEEP_MS);
			continue;
		}
		j->status = EXPORT_RUNNING;
		pthread_mutex_unlock(&x->lock);
		run_job(x, j);
		pthread_mutex_lock(&x->lock);
	}
	pthread_mutex_unlock(&x->lock);
	return NULL;
}

/* ---- start and stop -------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t p = *(const uint32_t *)a, q = *(const uint32_t *)b;

	return p < q ? -1 : p > q;
}

/* The reference parameters that put a resource in a Patient's compartment. */
static int patient_compartment(struct export_jobs *x)
{
	size_t n = 0;

	x->patient_params = calloc(fhir_compartment_row_count + 1, sizeof(uint32_t));
	if (!x->patient_params)
		return ERR_NOMEM;
	x->in_patient_compartment[type_index("Patient")] = 1;
	for (size_t i = 0; i < fhir_compartment_row_count; i++) {
		const struct fhir_compartment_row *row = &fhir_compartment_rows[i];
		const struct fhir_search_param *p;
		int t = type_index(row->resource_type);

		if (strcmp(row->compartment, "Patient") || t < 0 || t >= EXPORT_MAX_TYPES)
			continue;
		p = fhir_search_param_find(row->resource_type, row->param);
		if (!p || p->type != FHIR_SEARCH_REFERENCE)
			continue;
		x->in_patient_compartment[t] = 1;
		x->patient_params[n++] = fhir_search_param_key(p, FHIR_SEARCH_SUB_VALUE);
	}
	qsort(x->patient_params, n, sizeof(uint32_t), cmp_u32);
	x->n_patient_params = 0;
	for (size_t i = 0; i < n; i++)
		if (!x->n_patient_params || x->patient_params[x->n_patient_params - 1] != x->patient_params[i])
			x->patient_params[x->n_patient_params++] = x->patient_params[i];
	return 0;
}

/* Loads the jobs found on disk: finished ones are kept until they expire,
 * the others are queued again and resume where they stopped. */
static void load_jobs(struct export_jobs *x)
{
	struct export_job **tail = &x->head;
	DIR *dir = opendir(x->dir);
	struct dirent *d;
	struct buf b;

	if (!dir)
		return;
	buf_init(&b, EXPORT_STATE_MAX_BYTES);
	while ((d = readdir(dir))) {
		char path[EXPORT_PATH_MAX];
		struct export_job *j = NULL;

		if (!job_id_valid(d->d_name, strlen(d->d_name)))
			continue;
		buf_clear(&b);
		if (!job_path(x, d->d_name, EXPORT_STATE_FILE, path, sizeof(path)) &&
		    !read_small(path, &b, EXPORT_STATE_MAX_BYTES))
			j = state_read(&b, d->d_name);
		if (!j) {
			log_warn("export: job directory %s has no readable state; removing it", d->d_name);
			remove_dir(x, d->d_name);
			continue;
		}
		if (j->status == EXPORT_RUNNING)
			j->status = EXPORT_QUEUED;
		*tail = j;
		tail = &j->next;
	}
	closedir(dir);
	buf_release(&b);
}

int api_exports_open(struct api *api, struct err *e)
{
	const struct api_config *cfg = &api->cfg;
	struct export_jobs *x;
	int rc;

	if (!cfg->export_dir || !*cfg->export_dir)
		return 0;
	x = calloc(1, sizeof(*x));
	if (!x)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	pthread_mutex_init(&x->lock, NULL);
	pthread_cond_init(&x->cond, NULL);
	api->exports = x;
	x->st = api->st;
	x->expire_ms = (cfg->export_expire_s > 0 ? cfg->export_expire_s : 86400) * 1000;
	x->file_resources = cfg->export_file_resources > 0 ? cfg->export_file_resources : 100000;
	x->page_rows = cfg->export_page_rows > 0 ? cfg->export_page_rows : EXPORT_PAGE_ROWS;
	x->dir = strdup(cfg->export_dir);
	if (!x->dir || patient_compartment(x))
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	if (mkdir(x->dir, 0700) != 0 && errno != EEXIST)
		return err_set(e, ERR_CONFIG, NULL, "cannot create the export directory %s: %s",
			       x->dir, strerror(errno));
	load_jobs(x);
	x->n_threads = cfg->export_threads > 0 ? cfg->export_threads : 1;
	x->threads = calloc((size_t)x->n_threads, sizeof(pthread_t));
	if (!x->threads) {
		x->n_threads = 0;
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	}
	for (int i = 0; i < x->n_threads; i++)
		if ((rc = pthread_create(&x->threads[i], NULL, worker_main, x)) != 0) {
			x->n_threads = i;
			return err_set(e, ERR_INTERNAL, NULL, "cannot start the export threads");
		}
	return 0;
}

void api_exports_close(struct api *api)
{
	struct export_jobs *x = api->exports;

	if (!x)
		return;
	pthread_mutex_lock(&x->lock);
	x->stopping = 1;
	pthread_cond_broadcast(&x->cond);
	pthread_mutex_unlock(&x->lock);
	for (int i = 0; i < x->n_threads; i++)
		pthread_join(x->threads[i], NULL);
	while (x->head) {
		struct export_job *j = x->head;

		x->head = j->next;
		job_free(j);
	}
	pthread_mutex_destroy(&x->lock);
	pthread_cond_destroy(&x->cond);
	free(x->patient_params);
	free(x->threads);
	free(x->dir);
	free(x);
	api->exports = NULL;
}

/* ---- kick-off -------------------------------------------------------------- */

/* One kick-off parameter, from the query or from a Parameters body. */
struct export_param {
	const char *name, *value;
};

struct export_request {
	struct export_job *job;
	int patient_list;		/* `patient` was given */
	struct buf patients;		/* JSON array of ids */
};

static int add_types(struct api_ctx *c, struct export_job *j, const char *list)
{
	if (!*list)
		return err_set(&c->err, ERR_BAD_REQUEST, "_type", "_type is empty");
	for (const char *p = list; *p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		int t;

		while (n && *p == ' ') {
			p++;
			n--;
		}
		while (n && p[n - 1] == ' ')
			n--;
		t = n ? fhir_resource_type_index(p, n) : -1;
		if (t < 0 || t >= EXPORT_MAX_TYPES)
			return err_set(&c->err, ERR_BAD_REQUEST, "_type",
				       "_type: '%.*s' is not a FHIR R4 resource type", (int)(n > 64 ? 64 : n), p);
		j->want[t] = 1;
		j->all_types = 0;
		if (!end)
			break;
		p = end + 1;
	}
	return 0;
}

/* Appends the id of a Patient reference ("Patient/1", or an absolute URL
 * ending so) to the JSON array in b. */
static int add_patient(struct api_ctx *c, struct buf *b, const char *ref, size_t *n)
{
	struct fhir_reference_parts parts;
	int rc;

	fhir_search_reference_split(ref, strlen(ref), &parts);
	if (!str_eq(parts.type, "Patient") || !parts.id.n || parts.id.n > FHIR_ID_MAX)
		return -1;
	if (*n >= EXPORT_MEMBERS_MAX)
		return err_set(&c->err, ERR_BAD_REQUEST, NULL, "more than %d patients",
			       EXPORT_MEMBERS_MAX);
	rc = buf_putc(b, *n ? ',' : '[');
	if (!rc)
		rc = buf_printf(b, "\"%.*s\"", STR_FMT(parts.id));	/* an id needs no escaping */
	if (rc)
		return err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
	(*n)++;
	return 0;
}

static int read_params(struct api_ctx *c, const struct export_param *p, size_t n,
		       struct export_request *r)
{
	static const char *const formats[] = { "application/fhir+ndjson", "application/ndjson",
					       "ndjson" };
	struct export_job *j = r->job;
	size_t n_patients = 0;
	int rc, since_seen = 0;

	for (size_t i = 0; i < n; i++) {
		const char *name = p[i].name, *v = p[i].value;

		if (!strcmp(name, "_type")) {
			if ((rc = add_types(c, j, v)))
				return rc;
		} else if (!strcmp(name, "_since")) {
			int64_t lo;

			if (since_seen++ || time_parse_fhir(v, strlen(v), TIME_INSTANT, &lo, NULL))
				return err_set(&c->err, ERR_BAD_REQUEST, "_since",
					       since_seen > 1 ? "_since is given more than once"
							      : "_since must be a FHIR instant such as "
								"2026-01-31T08:00:00Z");
			j->since_ms = lo;
		} else if (!strcmp(name, "_outputFormat")) {
			size_t k = 0;

			while (k < 3 && strcmp(v, formats[k]))
				k++;
			if (k == 3)
				return err_set(&c->err, ERR_BAD_REQUEST, "_outputFormat",
					       "_outputFormat '%.64s' is not supported; this server writes "
					       "application/fhir+ndjson", v);
		} else if (!strcmp(name, "patient") && !strcmp(c->req->method, "POST") &&
			   j->level != LEVEL_SYSTEM) {
			r->patient_list = 1;
			if ((rc = add_patient(c, &r->patients, v, &n_patients)) > 0)
				return rc;
			if (rc < 0)
				return err_set(&c->err, ERR_BAD_REQUEST, "patient",
					       "patient must be a reference to a Patient, not '%.64s'", v);
		} else if (strcmp(name, "_format") && strcmp(name, "_pretty") && c->strict) {
			return err_set(&c->err, ERR_BAD_REQUEST, NULL,
				       "unknown or unsupported parameter '%s' (Prefer: handling=strict)",
				       name);
		}
	}
	if (r->patient_list && (rc = n_patients ? buf_putc(&r->patients, ']') : buf_puts(&r->patients, "[]")))
		return err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
	return 0;
}

/* The kick-off parameters of a POST: a Parameters resource. */
static int read_body_params(struct api_ctx *c, struct json_object *body, struct export_request *r)
{
	struct export_param p[API_MAX_QUERY_PARAMS];
	struct json_object *list;
	size_t n = 0;
	const char *rt = json_get_str(body, "resourceType");

	if (!rt || strcmp(rt, "Parameters"))
		return err_set(&c->err, ERR_INVALID, "resourceType",
			       "a POST kick-off takes a Parameters resource");
	if (json_object_object_get_ex(body, "parameter", &list) &&
	    json_object_is_type(list, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			struct json_object *e = json_object_array_get_idx(list, i), *ref;
			const char *name = json_get_str(e, "name"), *v = NULL;
			static const char *const keys[] = { "valueString", "valueInstant", "valueCode",
							    "valueDateTime" };

			for (size_t k = 0; !v && k < 4; k++)
				v = json_get_str(e, keys[k]);
			if (!v && json_object_object_get_ex(e, "valueReference", &ref))
				v = json_get_str(ref, "reference");
			if (!name)
				return err_set(&c->err, ERR_INVALID, "Parameters.parameter",
					       "every parameter needs a name");
			if (n == API_MAX_QUERY_PARAMS)
				return err_set(&c->err, ERR_BAD_REQUEST, NULL, "more than %d parameters",
					       API_MAX_QUERY_PARAMS);
			p[n++] = (struct export_param){ name, v ? v : "" };
		}
	}
	for (int i = 0; i < c->req->n_params; i++) {	/* _format, _pretty */
		const char *name = c->req->params[i].name;

		if (strcmp(name, "_format") && strcmp(name, "_pretty") && c->strict)
			return err_set(&c->err, ERR_BAD_REQUEST, NULL,
				       "a POST kick-off takes its parameters in the body, not '%s'", name);
	}
	return read_params(c, p, n, r);
}

/* The members of Group/id that are Patients (not inactive), as a JSON
 * array of ids; the Group must exist. */
static int group_members(struct api_ctx *c, struct buf *out)
{
	struct store_version v;
	struct json_object *g = NULL, *list;
	size_t n = 0;
	int rc;

	store_version_init(&v);
	rc = store_read(c->api->st, c->tenant, "Group", c->id, 0, &v, &c->err);
	if (rc == ERR_NOT_FOUND)
		rc = err_set(&c->err, ERR_NOT_FOUND, NULL, "Group/%s is not known", c->id);
	else if (!rc && v.deleted)
		rc = err_set(&c->err, ERR_GONE, NULL, "Group/%s has been deleted", c->id);
	if (!rc && json_parse(v.json.p, v.json.n, 0, &g, &c->err))
		rc = c->err.code;
	if (!rc && json_object_object_get_ex(g, "member", &list))
		for (size_t i = 0; !rc && i < json_object_array_length(list); i++) {
			struct json_object *m = json_object_array_get_idx(list, i), *entity, *inactive;
			const char *ref;

			if (json_object_object_get_ex(m, "inactive", &inactive) &&
			    json_object_get_boolean(inactive))
				continue;
			if (!json_object_object_get_ex(m, "entity", &entity) ||
			    !(ref = json_get_str(entity, "reference")))
				continue;
			if (add_patient(c, out, ref, &n) > 0)
				rc = c->err.code;
		}
	if (!rc && (n ? buf_putc(out, ']') : buf_puts(out, "[]")))
		rc = err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
	json_object_put(g);
	store_version_release(&v);
	return rc;
}

/* Keeps in `members` (a JSON array) only the ids that are also in `only`. */
static int intersect(struct buf *members, const struct buf *only, struct err *e)
{
	struct json_object *a = NULL, *b = NULL;
	struct buf out;
	size_t n = 0;
	int rc = json_parse(members->p, members->n, 4, &a, e);

	if (!rc)
		rc = json_parse(only->p, only->n, 4, &b, e);
	buf_init(&out, EXPORT_MEMBERS_MAX_BYTES);
	if (!rc)
		rc = buf_putc(&out, '[');
	for (size_t i = 0; !rc && i < json_object_array_length(a); i++) {
		const char *id = json_object_get_string(json_object_array_get_idx(a, i));
		int keep = 0;

		for (size_t k = 0; !keep && k < json_object_array_length(b); k++)
			keep = !strcmp(id, json_object_get_string(json_object_array_get_idx(b, k)));
		if (keep)
			rc = buf_printf(&out, "%s\"%s\"", n++ ? "," : "", id);
	}
	if (!rc)
		rc = buf_putc(&out, ']');
	if (!rc) {
		buf_release(members);
		*members = out;
	} else
		buf_release(&out);
	json_object_put(a);
	json_object_put(b);
	return rc;
}

/* The kick-off URL, for the manifest's `request`. */
static char *request_url(struct api_ctx *c)
{
	struct buf b;
	int rc;

	buf_init(&b, 64 * 1024);
	rc = buf_printf(&b, "%s%s", c->base, c->req->path + strlen("/fhir"));
	for (int i = 0; !rc && i < c->req->n_params; i++) {
		rc = buf_putc(&b, i ? '&' : '?');
		if (!rc)
			rc = api_put_query_value(&b, c->req->params[i].name);
		if (!rc)
			rc = buf_putc(&b, '=');
		if (!rc)
			rc = api_put_query_value(&b, c->req->params[i].value);
	}
	return rc ? (buf_release(&b), NULL) : buf_detach(&b, NULL);
}

static int prefer_async(const char *prefer)
{
	return prefer && strstr(prefer, "respond-async") != NULL;
}

int api_export_kickoff(struct api_ctx *c)
{
	struct export_jobs *x = c->api->exports;
	struct export_request r = { 0 };
	struct json_object *body = NULL;
	struct export_job *j = NULL;
	struct buf members;
	char path[EXPORT_PATH_MAX], location[API_BASE_MAX + 64];
	int rc, active = 0, total = 0, dir_made = 0;

	buf_init(&members, EXPORT_MEMBERS_MAX_BYTES);
	buf_init(&r.patients, EXPORT_MEMBERS_MAX_BYTES);
	if (!x) {
		rc = err_set(&c->err, ERR_NOT_SUPPORTED, NULL, "bulk export is not enabled on this server");
		goto out;
	}
	if (c->op_rest[0]) {
		rc = err_set(&c->err, ERR_NOT_FOUND, NULL, "no FHIR endpoint at this path");
		goto out;
	}
	if (!prefer_async(c->req->prefer)) {
		rc = err_set(&c->err, ERR_BAD_REQUEST, NULL,
			     "$export runs asynchronously: send the header Prefer: respond-async");
		goto out;
	}
	j = calloc(1, sizeof(*j));
	if (!j || rand_uuid(j->id)) {
		rc = err_set(&c->err, ERR_NOMEM, NULL, "cannot start a job");
		goto out;
	}
	j->level = c->id[0] ? LEVEL_GROUP : c->type ? LEVEL_PATIENT : LEVEL_SYSTEM;
	j->tenant = c->tenant;
	snprintf(j->owner, sizeof(j->owner), "%s", c->who.agent);
	j->all_types = 1;
	j->since_ms = INT64_MIN;
	r.job = j;
	if (!strcmp(c->req->method, "POST")) {
		if ((rc = api_parse_body(c, &body)) || (rc = read_body_params(c, body, &r)))
			goto out;
	} else {
		struct export_param p[API_MAX_QUERY_PARAMS];

		for (int i = 0; i < c->req->n_params; i++)
			p[i] = (struct export_param){ c->req->params[i].name, c->req->params[i].value };
		if ((rc = read_params(c, p, (size_t)c->req->n_params, &r)))
			goto out;
	}
	if (j->level == LEVEL_GROUP && (rc = group_members(c, &members)))
		goto out;
	if (r.patient_list) {
		if (j->level == LEVEL_GROUP) {
			if (intersect(&members, &r.patients, &c->err)) {
				rc = err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
				goto out;
			}
		} else {
			buf_release(&members);
			members = r.patients;
			buf_init(&r.patients, 0);
		}
	}
	j->has_members = members.n > 0;
	j->tx_ms = time_now_ms();
	if (!(j->request = request_url(c))) {
		rc = err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
		goto out;
	}

	/* On disk first: an accepted job survives a restart. */
	if ((rc = job_path(x, j->id, NULL, path, sizeof(path))) || mkdir(path, 0700) != 0) {
		rc = err_set(&c->err, errno == ENOSPC ? ERR_DISK_FULL : ERR_IO, NULL,
			     "cannot create the export job's directory");
		goto out;
	}
	dir_made = 1;
	if (j->has_members &&
	    (rc = write_atomic(x, j->id, EXPORT_MEMBERS_FILE, members.p, members.n, &c->err)))
		goto out;
	if ((rc = job_save(x, j, &c->err)))
		goto out;

	pthread_mutex_lock(&x->lock);
	sweep(x, time_now_ms());
	for (struct export_job *o = x->head; o; o = o->next) {
		total++;
		active += !o->cancelled && (o->status == EXPORT_QUEUED || o->status == EXPORT_RUNNING);
	}
	if (active < EXPORT_MAX_ACTIVE && total < EXPORT_MAX_JOBS) {
		struct export_job **tail = &x->head;

		while (*tail)
			tail = &(*tail)->next;
		*tail = j;
		pthread_cond_broadcast(&x->cond);
	}
	pthread_mutex_unlock(&x->lock);
	if (active >= EXPORT_MAX_ACTIVE || total >= EXPORT_MAX_JOBS) {
		rc = err_set(&c->err, ERR_BUSY, NULL,
			     "%d export jobs are running or waiting (%d kept); try again later",
			     active, total);
		if (api_response_add_header(c->res, "Retry-After", "60"))
			rc = ERR_NOMEM;
		goto out;
	}
	log_info("export: job %s accepted (%s level)", j->id, level_names[j->level]);
	snprintf(location, sizeof(location), "%s/$export-status/%s", c->base, j->id);
	j = NULL;	/* the list has it */
	if (api_response_add_header(c->res, "Content-Location", location)) {
		rc = err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	rc = api_set_outcome(c, 202, "Bulk export accepted; poll %s for its status", location);
out:
	if (j && dir_made)
		remove_dir(x, j->id);
	job_free(j);
	json_object_put(body);
	buf_release(&members);
	buf_release(&r.patients);
	return rc;
}

/* ---- status, cancel, files ------------------------------------------------- */

/* The manifest of a finished job; under x->lock. */
static int manifest_write(struct api_ctx *c, const struct export_job *j, struct buf *b)
{
	char tx[TIME_INSTANT_LEN + 1], name[96];
	int rc;

	time_format_instant(j->tx_ms, tx);
	rc = buf_printf(b, "{\"transactionTime\":\"%s\",\"request\":", tx);
	if (!rc)
		rc = json_write_string(b, j->request);
	if (!rc)
		rc = buf_puts(b, ",\"requiresAccessToken\":false,\"output\":[");
	for (size_t i = 0; !rc && i < j->n_files; i++) {
		file_name(&j->files[i], name, sizeof(name));
		rc = buf_printf(b, "%s{\"type\":\"%s\",\"url\":\"%s/$export-file/%s/%s\",\"count\":%lld}",
				i ? "," : "", fhir_resource_type_name(j->files[i].type), c->base, j->id,
				name, (long long)j->files[i].count);
	}
	return rc ? rc : buf_puts(b, "],\"error\":[]}");
}

/* Splits op_rest "<job>[/<file>]"; 0 when the job id is well formed. */
static int parse_rest(struct api_ctx *c, char *id, const char **file)
{
	const char *rest = c->op_rest, *slash = strchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);

	*file = slash ? slash + 1 : NULL;
	if (!job_id_valid(rest, n))
		return err_set(&c->err, ERR_NOT_FOUND, NULL, "no such export job");
	memcpy(id, rest, n);
	id[n] = '\0';
	return 0;
}

int api_export_status(struct api_ctx *c)
{
	struct export_jobs *x = c->api->exports;
	struct export_job *j;
	char id[UUID_STR_LEN + 1], progress[160], expires[TIME_HTTP_LEN + 1];
	const char *file;
	int rc, remove = 0, status;
	struct buf manifest;

	if (!x)
		return err_set(&c->err, ERR_NOT_FOUND, NULL, "no such export job");
	if ((rc = parse_rest(c, id, &file)) || (rc = api_check_params(c, NULL)))
		return rc;
	if (file)
		return err_set(&c->err, ERR_NOT_FOUND, NULL, "no FHIR endpoint at this path");
	buf_init(&manifest, EXPORT_STATE_MAX_BYTES);
	pthread_mutex_lock(&x->lock);
	sweep(x, time_now_ms());
	j = job_find(x, id, c);
	if (!j) {
		pthread_mutex_unlock(&x->lock);
		buf_release(&manifest);
		return err_set(&c->err, ERR_NOT_FOUND, NULL, "no such export job (finished jobs "
			       "expire; a cancelled job is gone)");
	}
	status = j->status;
	if (!strcmp(c->req->method, "DELETE")) {
		if (status == EXPORT_RUNNING)
			j->cancelled = 1;	/* its worker removes it */
		else {
			job_unlink(x, j);
			remove = 1;
		}
	} else if (status == EXPORT_DONE) {
		rc = manifest_write(c, j, &manifest);
		time_format_http(j->finished_ms + x->expire_ms, expires);
	} else if (status == EXPORT_FAILED) {
		rc = err_set(&c->err, j->err_code ? j->err_code : ERR_INTERNAL, NULL, "%s", j->error);
	} else if (status == EXPORT_QUEUED) {
		snprintf(progress, sizeof(progress), "queued");
	} else {
		snprintf(progress, sizeof(progress), "%lld resources written (%lld%% scanned)",
			 (long long)j->written,
			 (long long)(j->max_rid > 0 ? (j->after_rid * 100) / j->max_rid : 0));
	}
	pthread_mutex_unlock(&x->lock);
	if (remove) {
		remove_dir(x, j->id);
		log_info("export: job %s deleted by its client", j->id);
		job_free(j);
	}
	if (!rc && !strcmp(c->req->method, "DELETE"))
		rc = api_set_outcome(c, 202, "the export job is cancelled and its files deleted");
	else if (!rc && status == EXPORT_DONE) {
		api_take_body_json(c, &manifest);
		c->res->content_type = EXPORT_MANIFEST_TYPE;
		c->res->status = 200;
		rc = api_response_add_header(c->res, "Expires", expires);
	} else if (!rc && status != EXPORT_FAILED) {
		c->res->status = 202;
		rc = api_response_add_header(c->res, "X-Progress", progress);
		if (!rc)
			rc = api_response_add_header(c->res, "Retry-After", "1");
	}
	buf_release(&manifest);
	if (rc && !c->err.code)
		rc = err_set(&c->err, ERR_NOMEM, NULL, "out of memory");
	return rc;
}

int api_export_file(struct api_ctx *c)
{
	struct export_jobs *x = c->api->exports;
	struct export_job *j;
	char id[UUID_STR_LEN + 1], name[96], path[EXPORT_PATH_MAX];
	const char *file;
	int rc, fd = -1;
	struct stat sb;

	if (!x)
		return err_set(&c->err, ERR_NOT_FOUND, NULL, "no such export job");
	if ((rc = parse_rest(c, id, &file)) || (rc = api_check_params(c, NULL)))
		return rc;
	pthread_mutex_lock(&x->lock);
	j = job_find(x, id, c);
	for (size_t i = 0; j && file && j->status == EXPORT_DONE && fd < 0 && i < j->n_files; i++) {
		file_name(&j->files[i], name, sizeof(name));
		if (!strcmp(name, file) && !job_path(x, id, name, path, sizeof(path)))
			fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	pthread_mutex_unlock(&x->lock);
	if (fd < 0)
		return err_set(&c->err, ERR_NOT_FOUND, NULL, "no such export file");
	if (fstat(fd, &sb) != 0) {
		close(fd);
		return err_set(&c->err, ERR_IO, NULL, "cannot read the export file");
	}
	c->res->status = 200;
	c->res->content_type = EXPORT_NDJSON;
	c->res->has_file = 1;
	c->res->file_fd = fd;
	c->res->file_size = (uint64_t)sb.st_size;
	return 0;
}
