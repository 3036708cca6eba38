/*
 * Bulk Data $export through the in-process seam: a real store, the real
 * export workers, no socket. Kick-off checks, system / Patient / Group
 * levels, _type and _since, files split by count, the snapshot at
 * transactionTime, cancel, and a job that survives a restart of the API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "api/api.h"
#include "base/json.h"

#define FILE_RESOURCES 3	/* resources per output file: small, to see the split */
#define PAGE_ROWS 2		/* resources per store page: many pages per job */

static char dir[64], export_dir[96];
static struct store *st;
static struct api *api;

static void api_start(void)
{
	struct api_config ac = { .limits = { .max_body_bytes = 65536, .max_url_bytes = 4096,
					     .max_json_depth = 32 },
				 .export_dir = export_dir, .export_file_resources = FILE_RESOURCES,
				 .export_page_rows = PAGE_ROWS };
	struct err e = { 0 };

	assert_int_equal(api_new(&ac, st, &api, &e), 0);
}

static int setup(void **state)
{
	struct store_config sc = { .backend = "sqlite", .data_dir = dir };
	struct err e = { 0 };

	snprintf(dir, sizeof(dir), "/tmp/lt-export-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(export_dir, sizeof(export_dir), "%s/export", dir);
	assert_int_equal(store_open(&sc, &st, &e), 0);
	api_start();
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	api_free(api);
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

struct call {
	const char *method, *path, *body, *prefer;
	const char *params[6][2];
};

static int call(struct call c, struct api_response *res)
{
	struct api_request req = { 0 };

	req.method = c.method ? c.method : "GET";
	req.path = c.path;
	req.host = "fhir.test";
	req.body = c.body;
	req.body_len = c.body ? strlen(c.body) : 0;
	req.content_type = c.body ? "application/fhir+json" : NULL;
	req.prefer = c.prefer;
	req.url_len = strlen(c.path);
	for (int i = 0; i < 6 && c.params[i][0]; i++) {
		req.params[i].name = c.params[i][0];
		req.params[i].value = c.params[i][1];
		req.n_params++;
	}
	api_response_release(res);
	api_response_init(res);
	return api_handle(api, &req, res);
}

static const char *header(const struct api_response *res, const char *name)
{
	for (size_t at = 0; at < res->headers.n;) {
		const char *n = res->headers.p + at, *v = n + strlen(n) + 1;

		if (!strcmp(n, name))
			return v;
		at = (size_t)(v + strlen(v) + 1 - res->headers.p);
	}
	return NULL;
}

static void put(const char *type, const char *id, const char *body)
{
	struct api_response res;
	char path[160];

	api_response_init(&res);
	snprintf(path, sizeof(path), "/fhir/%s/%s", type, id);
	if (call((struct call){ "PUT", path, body }, &res) >= 300)
		fail_msg("PUT %s: %d %.*s", path, res.status, (int)res.body.n, res.body.p);
	api_response_release(&res);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Kicks off an export; returns the job's status path (/fhir/$export-status/…). */
static char *kickoff(struct call c)
{
	struct api_response res;
	const char *loc;
	char *path;

	api_response_init(&res);
	c.prefer = c.prefer ? c.prefer : "respond-async";
	if (call(c, &res) != 202)
		fail_msg("kick-off %s: %d %.*s", c.path, res.status, (int)res.body.n, res.body.p);
	loc = header(&res, "Content-Location");
	assert_non_null(loc);
	assert_non_null(strstr(loc, "http://fhir.test/fhir/$export-status/"));
	path = strdup(strstr(loc, "/fhir/"));
	api_response_release(&res);
	return path;
}

/* Polls until the manifest comes (200); returns it parsed. */
static struct json_object *wait_done(const char *status_path)
{
	struct api_response res;
	struct json_object *m = NULL;
	struct err e = { 0 };

	api_response_init(&res);
	for (int i = 0; i < 600; i++) {
		int status = call((struct call){ .path = status_path }, &res);

		if (status == 200)
			break;
		assert_int_equal(status, 202);
		assert_non_null(header(&res, "X-Progress"));
		assert_non_null(header(&res, "Retry-After"));
		sleep_ms(50);
	}
	assert_int_equal(res.status, 200);
	assert_string_equal(res.content_type, "application/json; charset=utf-8");
	assert_non_null(header(&res, "Expires"));
	assert_int_equal(json_parse(res.body.p, res.body.n, 16, &m, &e), 0);
	api_response_release(&res);
	return m;
}

/* Downloads one output file; returns its bytes (malloc'ed). */
static char *download(const char *url)
{
	struct api_response res;
	char *text;
	ssize_t n;

	api_response_init(&res);
	assert_int_equal(call((struct call){ .path = strstr(url, "/fhir/") }, &res), 200);
	assert_string_equal(res.content_type, "application/fhir+ndjson");
	assert_true(res.has_file);
	text = calloc(1, res.file_size + 1);
	n = pread(res.file_fd, text, res.file_size, 0);
	assert_int_equal(n, (ssize_t)res.file_size);
	api_response_release(&res);
	return text;
}

/* One output file, checked line by line: each line a resource of the
 * file's type, as many as the manifest says. Appends the ids and versions
 * of its resources to ids ("p1@1 p2@3 ") when given. Returns its lines. */
static int check_file(struct json_object *f, char *ids, size_t idsz)
{
	const char *ftype = json_get_str(f, "type");
	char *text = download(json_get_str(f, "url")), *line, *save = NULL;
	int lines = 0;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct json_object *r = NULL, *meta;
		struct err e = { 0 };

		assert_int_equal(json_parse(line, strlen(line), 64, &r, &e), 0);
		assert_string_equal(json_get_str(r, "resourceType"), ftype);
		lines++;
		if (ids && json_object_object_get_ex(r, "meta", &meta))
			snprintf(ids + strlen(ids), idsz - strlen(ids), "%s@%s ", json_get_str(r, "id"),
				 json_get_str(meta, "versionId"));
		json_object_put(r);
	}
	assert_int_equal(lines, json_object_get_int(json_object_object_get(f, "count")));
	assert_true(lines <= FILE_RESOURCES);
	free(text);
	return lines;
}

/* How many resources of `type` the export has, every file of that type
 * checked; their ids and versions in ids when given. */
static int count_type(struct json_object *m, const char *type, char *ids, size_t idsz)
{
	struct json_object *out = json_object_object_get(m, "output");
	int total = 0;

	if (ids)
		ids[0] = '\0';
	assert_int_equal(json_object_array_length(json_object_object_get(m, "error")), 0);
	for (size_t i = 0; i < json_object_array_length(out); i++) {
		struct json_object *f = json_object_array_get_idx(out, i);

		if (!strcmp(json_get_str(f, "type"), type))
			total += check_file(f, ids, idsz);
	}
	return total;
}

/* "Type:count Type:count ... files:n" over every file (the manifest lists
 * them by type), each checked. */
static const char *summary(struct json_object *m)
{
	static char out[512];
	struct json_object *list = json_object_object_get(m, "output");
	size_t n = json_object_array_length(list);
	int count = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		struct json_object *f = json_object_array_get_idx(list, i);
		const char *type = json_get_str(f, "type");

		count += check_file(f, NULL, 0);
		if (i + 1 == n || strcmp(type, json_get_str(json_object_array_get_idx(list, i + 1), "type"))) {
			snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s:%d ", type, count);
			count = 0;
		}
	}
	snprintf(out + strlen(out), sizeof(out) - strlen(out), "files:%zu", n);
	return out;
}

/* Kicks off, waits, and returns the summary of the export. */
static const char *export_summary(struct call c)
{
	char *job = kickoff(c);
	struct json_object *m = wait_done(job);
	const char *s = summary(m);

	json_object_put(m);
	free(job);
	return s;
}

static void load_data(void)
{
	char body[512], id[32];

	for (int p = 1; p <= 3; p++) {
		snprintf(id, sizeof(id), "p%d", p);
		snprintf(body, sizeof(body), "{\"resourceType\":\"Patient\",\"id\":\"%s\",\"gender\":\"female\"}", id);
		put("Patient", id, body);
		for (int o = 1; o <= 4; o++) {	/* 4 each: two files per patient's worth */
			snprintf(id, sizeof(id), "o%d-%d", p, o);
			snprintf(body, sizeof(body),
				 "{\"resourceType\":\"Observation\",\"id\":\"%s\",\"status\":\"final\","
				 "\"code\":{\"text\":\"glucose\"},\"subject\":{\"reference\":\"Patient/p%d\"}}",
				 id, p);
			put("Observation", id, body);
		}
	}
	put("Organization", "org1", "{\"resourceType\":\"Organization\",\"id\":\"org1\",\"name\":\"BV Chợ Rẫy\"}");
	put("Group", "g1", "{\"resourceType\":\"Group\",\"id\":\"g1\",\"type\":\"person\",\"actual\":true,"
			   "\"member\":[{\"entity\":{\"reference\":\"Patient/p1\"}},"
			   "{\"entity\":{\"reference\":\"Patient/p3\"},\"inactive\":true}]}");
}

static void kickoff_checks_its_input(void **state)
{
	struct api_response res;
	static const struct {
		struct call c;
		int status;
		const char *why;
	} cases[] = {
		{ { .path = "/fhir/$export" }, 400, "respond-async" },
		{ { .path = "/fhir/$export", .prefer = "respond-async", .params = { { "_type", "Patient,Nope" } } }, 400, "Nope" },
		{ { .path = "/fhir/$export", .prefer = "respond-async", .params = { { "_type", "" } } }, 400, "_type" },
		{ { .path = "/fhir/$export", .prefer = "respond-async", .params = { { "_since", "2026-01-01" } } }, 400, "instant" },
		{ { .path = "/fhir/$export", .prefer = "respond-async", .params = { { "_since", "2026-01-01T00:00:00Z" }, { "_since", "2026-01-01T00:00:00Z" } } }, 400, "more than once" },
		{ { .path = "/fhir/$export", .prefer = "respond-async", .params = { { "_outputFormat", "text/csv" } } }, 400, "_outputFormat" },
		{ { .path = "/fhir/$export", .prefer = "respond-async, handling=strict", .params = { { "_typeFilter", "Patient?gender=male" } } }, 400, "_typeFilter" },
		{ { .path = "/fhir/Observation/$export", .prefer = "respond-async" }, 501, "at this level" },
		{ { .path = "/fhir/Group/none/$export", .prefer = "respond-async" }, 404, "Group/none" },
		{ { .path = "/fhir/$export/more", .prefer = "respond-async" }, 404, "no FHIR endpoint" },
		{ { .method = "DELETE", .path = "/fhir/$export", .prefer = "respond-async" }, 405, "does not take" },
		{ { .method = "PUT", .path = "/fhir/$export-status/0c9f0f3e-5bd4-4f6a-9d55-0a9a6e1f3b2c" }, 405, "not allowed" },
		{ { .method = "POST", .path = "/fhir/$export", .prefer = "respond-async", .body = "{\"resourceType\":\"Patient\"}" }, 400, "Parameters" },
		{ { .path = "/fhir/$export-status/not-a-job" }, 404, "no such export job" },
		{ { .path = "/fhir/$export-status/0c9f0f3e-5bd4-4f6a-9d55-0a9a6e1f3b2c" }, 404, "no such export job" },
		{ { .path = "/fhir/$export-file/0c9f0f3e-5bd4-4f6a-9d55-0a9a6e1f3b2c/Patient-1.ndjson" }, 404, "no such export file" },
	};

	api_response_init(&res);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int status = call(cases[i].c, &res);

		if (status != cases[i].status || !strstr(res.body.p ? res.body.p : "", cases[i].why))
			fail_msg("case %zu (%s): %d %.*s", i, cases[i].c.path, status, (int)res.body.n,
				 res.body.p);
		assert_non_null(strstr(res.body.p, "OperationOutcome"));
	}
	api_response_release(&res);
}

static void system_patient_and_group_levels(void **state)
{
	struct json_object *m;
	char *job, ids[512];

	load_data();
	/* System level: everything, files split every FILE_RESOURCES. */
	job = kickoff((struct call){ .path = "/fhir/$export",
				     .params = { { "_outputFormat", "application/fhir+ndjson" },
						 { "_unknown", "ignored without handling=strict" } } });
	m = wait_done(job);
	assert_string_equal(json_get_str(m, "request"),
			    "http://fhir.test/fhir/$export?_outputFormat=application%2Ffhir%2Bndjson"
			    "&_unknown=ignored%20without%20handling%3Dstrict");
	assert_false(json_object_get_boolean(json_object_object_get(m, "requiresAccessToken")));
	assert_string_equal(summary(m), "Group:1 Observation:12 Organization:1 Patient:3 files:7");
	json_object_put(m);
	free(job);

	/* _type, repeated and comma-separated. */
	assert_string_equal(export_summary((struct call){ .path = "/fhir/$export",
							  .params = { { "_type", "Patient" },
								      { "_type", "Organization, Group" } } }),
			    "Group:1 Organization:1 Patient:3 files:3");
	/* Patient level: the compartments only (no Organization). */
	assert_string_equal(export_summary((struct call){ .path = "/fhir/Patient/$export" }),
			    "Group:1 Observation:12 Patient:3 files:6");

	/* Group level: its active members (p1; p3 is inactive). */
	job = kickoff((struct call){ .path = "/fhir/Group/g1/$export", .params = { { "_type", "Patient,Observation" } } });
	m = wait_done(job);
	assert_int_equal(count_type(m, "Patient", ids, sizeof(ids)), 1);
	assert_string_equal(ids, "p1@1 ");
	assert_int_equal(count_type(m, "Observation", NULL, 0), 4);
	json_object_put(m);
	free(job);

	/* POST with a Parameters body, and a patient list within the Group. */
	job = kickoff((struct call){ .method = "POST", .path = "/fhir/Patient/$export",
				     .body = "{\"resourceType\":\"Parameters\",\"parameter\":["
					     "{\"name\":\"_type\",\"valueString\":\"Patient\"},"
					     "{\"name\":\"patient\",\"valueReference\":{\"reference\":\"Patient/p2\"}},"
					     "{\"name\":\"patient\",\"valueReference\":{\"reference\":\"Patient/p3\"}}]}" });
	m = wait_done(job);
	assert_int_equal(count_type(m, "Patient", ids, sizeof(ids)), 2);
	assert_string_equal(ids, "p2@1 p3@1 ");
	json_object_put(m);
	free(job);
}

/* transactionTime is a snapshot: a change made after the kick-off is not
 * in the export (the version before it is), and _since=transactionTime
 * then gives exactly that change. */
static void snapshot_and_since(void **state)
{
	struct json_object *m;
	char *job, ids[512], since[64];

	job = kickoff((struct call){ .path = "/fhir/$export", .params = { { "_type", "Patient" } } });
	/* The worker waits a second before its first page: change p2 now, in
	 * a later millisecond than transactionTime (a change stamped in the
	 * same one belongs to this export: as of T is lastUpdated <= T, and
	 * _since=T is > T). */
	usleep(2000);
	put("Patient", "p2", "{\"resourceType\":\"Patient\",\"id\":\"p2\",\"gender\":\"male\"}");
	m = wait_done(job);
	assert_int_equal(count_type(m, "Patient", ids, sizeof(ids)), 3);
	assert_string_equal(ids, "p1@1 p2@1 p3@1 ");
	snprintf(since, sizeof(since), "%s", json_get_str(m, "transactionTime"));
	json_object_put(m);
	free(job);

	job = kickoff((struct call){ .path = "/fhir/$export", .params = { { "_since", since } } });
	m = wait_done(job);
	assert_int_equal(count_type(m, "Patient", ids, sizeof(ids)), 1);
	assert_string_equal(ids, "p2@2 ");
	assert_int_equal(json_object_array_length(json_object_object_get(m, "output")), 1);
	json_object_put(m);
	free(job);
}

static void cancel_deletes_the_job(void **state)
{
	struct api_response res;
	struct json_object *m;
	char *job, path[256];
	struct stat sb;

	api_response_init(&res);
	/* Cancelled while queued (the worker waits a second before starting). */
	job = kickoff((struct call){ .path = "/fhir/$export" });
	snprintf(path, sizeof(path), "%s/%s", export_dir, strrchr(job, '/') + 1);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(call((struct call){ .method = "DELETE", .path = job }, &res), 202);
	assert_int_equal(call((struct call){ .path = job }, &res), 404);
	assert_int_equal(call((struct call){ .method = "DELETE", .path = job }, &res), 404);
	assert_int_not_equal(stat(path, &sb), 0);
	free(job);

	/* Deleted when done: its files go too. */
	job = kickoff((struct call){ .path = "/fhir/$export" });
	m = wait_done(job);
	assert_int_equal(call((struct call){ .method = "DELETE", .path = job }, &res), 202);
	assert_int_equal(call((struct call){ .path = strstr(json_get_str(json_object_array_get_idx(
					    json_object_object_get(m, "output"), 0), "url"), "/fhir/") },
			      &res), 404);
	snprintf(path, sizeof(path), "%s/%s", export_dir, strrchr(job, '/') + 1);
	assert_int_not_equal(stat(path, &sb), 0);
	json_object_put(m);
	free(job);
	api_response_release(&res);
}

/* A job accepted before a stop runs after the next start. */
static void job_survives_a_restart(void **state)
{
	struct json_object *m;
	char *job;

	job = kickoff((struct call){ .path = "/fhir/Patient/$export", .params = { { "_type", "Observation" } } });
	api_free(api);	/* before the worker's first page */
	api_start();
	m = wait_done(job);
	assert_int_equal(count_type(m, "Observation", NULL, 0), 12);
	json_object_put(m);
	free(job);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The first n lines of text, as a new string. */
static char *first_lines(const char *text, int n)
{
	const char *p = text;

	while (n-- > 0 && (p = strchr(p, '\n')))
		p++;
	return strndup(text, p ? (size_t)(p - text) : strlen(text));
}

static char *file_of(struct json_object *m, const char *name)
{
	struct json_object *out = json_object_object_get(m, "output");

	for (size_t i = 0; i < json_object_array_length(out); i++) {
		const char *url = json_get_str(json_object_array_get_idx(out, i), "url");

		if (!strcmp(strrchr(url, '/') + 1, name))
			return download(url);
	}
	fail_msg("no %s in the manifest", name);
	return NULL;
}

/* A job stopped mid-way (as a crash leaves it: output past the last
 * checkpoint, a part begun after it) resumes at the recorded rid with the
 * files cut back, and ends with every resource exactly once. */
static void job_resumes_from_its_checkpoint(void **state)
{
	struct json_object *m;
	char *job, *patients, *obs1, *obs2, *head, path[256], stbuf[1024], ids[512], want[512];
	const char *id = "5e1f4c2a-8b3d-4e6f-9a7b-1c2d3e4f5a6b";

	/* The reference: the same export run straight through. */
	job = kickoff((struct call){ .path = "/fhir/$export", .params = { { "_type", "Patient,Observation" } } });
	m = wait_done(job);
	assert_int_equal(count_type(m, "Patient", want, sizeof(want)), 3);
	patients = file_of(m, "Patient-1.ndjson");
	obs1 = file_of(m, "Observation-1.ndjson");
	obs2 = file_of(m, "Observation-2.ndjson");
	json_object_put(m);
	free(job);

	/* rids 1-6 are p1, its four Observations, p2 (load_data's order). */
	api_free(api);
	snprintf(path, sizeof(path), "%s/%s", export_dir, id);
	assert_int_equal(mkdir(path, 0700), 0);
	head = first_lines(patients, 2);
	snprintf(path, sizeof(path), "%s/%s/Patient-1.ndjson", export_dir, id);
	write_file(path, head);
	snprintf(stbuf, sizeof(stbuf),
		 "{\"version\":1,\"id\":\"%s\",\"status\":\"running\",\"level\":\"system\","
		 "\"has_members\":0,\"since\":%lld,\"tx\":%lld,\"finished\":0,\"after_rid\":6,"
		 "\"max_rid\":17,\"written\":6,\"err_code\":0,\"error\":\"\",\"request\":\"r\","
		 "\"types\":[\"Observation\",\"Patient\"],\"files\":["
		 "{\"type\":\"Patient\",\"part\":1,\"count\":2,\"bytes\":%zu},"
		 "{\"type\":\"Observation\",\"part\":1,\"count\":3,\"bytes\":%zu},"
		 "{\"type\":\"Observation\",\"part\":2,\"count\":1,\"bytes\":%zu}]}",
		 id, (long long)INT64_MIN, (long long)time(NULL) * 1000, strlen(head), strlen(obs1),
		 strchr(obs2, '\n') + 1 - obs2);
	free(head);
	snprintf(path, sizeof(path), "%s/%s/state.json", export_dir, id);
	write_file(path, stbuf);
	snprintf(path, sizeof(path), "%s/%s/Observation-1.ndjson", export_dir, id);
	write_file(path, obs1);
	/* Past the checkpoint: the rest of part 2 and half a line, then part 3. */
	head = first_lines(obs2, 2);
	snprintf(path, sizeof(path), "%s/%s/Observation-2.ndjson", export_dir, id);
	write_file(path, head);
	FILE *f = fopen(path, "a");
	fputs("{\"resourceType\":\"Observation\",\"id\":\"o2-", f);
	fclose(f);
	free(head);
	snprintf(path, sizeof(path), "%s/%s/Observation-3.ndjson", export_dir, id);
	write_file(path, "{\"resourceType\":\"Observation\"}\n");

	api_start();
	snprintf(path, sizeof(path), "/fhir/$export-status/%s", id);
	m = wait_done(path);
	assert_int_equal(count_type(m, "Patient", ids, sizeof(ids)), 3);
	assert_string_equal(ids, want);
	assert_int_equal(count_type(m, "Observation", ids, sizeof(ids)), 12);
	for (int p = 1; p <= 3; p++)
		for (int o = 1; o <= 4; o++) {
			char one[32], *at;

			snprintf(one, sizeof(one), "o%d-%d@", p, o);
			at = strstr(ids, one);
			assert_non_null(at);
			assert_null(strstr(at + 1, one));	/* exactly once */
		}
	json_object_put(m);
	free(patients);
	free(obs1);
	free(obs2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kickoff_checks_its_input),
		cmocka_unit_test(system_patient_and_group_levels),
		cmocka_unit_test(snapshot_and_since),
		cmocka_unit_test(cancel_deletes_the_job),
		cmocka_unit_test(job_survives_a_restart),
		cmocka_unit_test(job_resumes_from_its_checkpoint),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
