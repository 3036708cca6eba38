/*
 * test_r4_examples.c — every example of the official R4 package must pass
 * fhir_validate(), except the files listed in
 * tests/data/r4-examples-rejected.txt, which truly break an R4 rule; the set
 * of rejected files must equal that list exactly, and each listed
 * expression must be among the issues reported for its file.
 *
 * The package (npm hl7.fhir.r4.examples@4.0.1) is found in $LT_R4_EXAMPLES,
 * else in $LT_SOURCE_DIR/tests/client/node_modules/hl7.fhir.r4.examples;
 * the test is skipped (exit 77) when it is not there. It also prints how
 * much CPU time validation alone took (parsing excluded).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <cmocka.h>
#include "testdata.h"

#include "base/json.h"
#include "fhir/fhir.h"

#define MAX_LISTED 256
#define LINE_MAX_BYTES 1024

struct listed {
	char file[256];
	char expr[ERR_EXPR_MAX];
	int seen;		/* rejected in this run */
	int expr_found;		/* and the listed expression was among the issues */
};

static char examples_dir[4096];
static char rejected_list[4096];


/* out = dir + "/" + name, or -1 when it does not fit. */
static int path_of(char *out, size_t size, const char *dir, const char *name)
{
	return td_join(out, size, dir, "/") || td_join(out + strlen(dir) + 1, size - strlen(dir) - 1,
						 name, "");
}




static int load_list(struct listed *list, int *count)
{
	FILE *f = fopen(rejected_list, "r");
	char line[LINE_MAX_BYTES];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *tab1, *tab2;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		tab1 = strchr(line, '\t');
		tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
		if (!tab2 || n >= MAX_LISTED) {
			print_error("bad line in %s: %s", rejected_list, line);
			fclose(f);
			return -1;
		}
		*tab1 = *tab2 = '\0';
		if (td_join(list[n].file, sizeof(list[n].file), line, "") ||
		    td_join(list[n].expr, sizeof(list[n].expr), tab1 + 1, "")) {
			print_error("line too long in %s: %s\n", rejected_list, line);
			fclose(f);
			return -1;
		}
		list[n].seen = list[n].expr_found = 0;
		n++;
	}
	fclose(f);
	*count = n;
	return 0;
}

static int example_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 5 && strcmp(d->d_name + n - 5, ".json") == 0 &&
	       strcmp(d->d_name, "package.json") != 0 && strcmp(d->d_name, ".index.json") != 0;
}

/* CPU time of this thread: the figure stays meaningful on a busy machine. */
static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void test_all_examples(void **state)
{
	static struct listed list[MAX_LISTED];
	struct dirent **names = NULL;
	int n_names, n_list = 0, accepted = 0, rejected = 0, not_resources = 0, failures = 0;
	double validate_ms = 0;
	size_t bytes = 0;

	(void)state;
	assert_int_equal(load_list(list, &n_list), 0);
	n_names = scandir(examples_dir, &names, example_file, alphasort);
	assert_true(n_names > 5000);
	for (int i = 0; i < n_names; i++) {
		const char *name = names[i]->d_name;
		char path[8192];
		struct json_object *o = NULL, *rt = NULL;
		struct err e = { 0 };
		char *text;
		size_t len = 0;
		double t0;
		int rc, k;

		assert_int_equal(path_of(path, sizeof(path), examples_dir, name), 0);
		text = td_slurp(path, &len);
		assert_non_null(text);
		bytes += len;
		if (json_parse(text, len, JSON_DEFAULT_MAX_DEPTH, &o, &e) != 0) {
			print_error("%s: not parsed: %s\n", name, e.issue[0].diagnostics);
			failures++;
			free(text);
			free(names[i]);
			continue;
		}
		free(text);
		if (!json_object_object_get_ex(o, "resourceType", &rt)) {
			not_resources++;
			json_object_put(o);
			free(names[i]);
			continue;
		}
		t0 = now_ms();
		rc = fhir_validate(o, &e);
		validate_ms += now_ms() - t0;
		json_object_put(o);
		for (k = 0; k < n_list; k++)
			if (strcmp(list[k].file, name) == 0)
				break;
		if (rc == 0) {
			accepted++;
			if (k < n_list) {
				print_error("%s: listed as rejected but accepted\n", name);
				failures++;
			}
		} else {
			rejected++;
			if (k == n_list) {
				print_error("%s: rejected but not listed:\n", name);
				for (int j = 0; j < e.n_issues; j++)
					print_error("  %s\t%s\n", e.issue[j].expression,
						    e.issue[j].diagnostics);
				failures++;
			} else {
				list[k].seen = 1;
				for (int j = 0; j < e.n_issues; j++)
					if (strcmp(e.issue[j].expression, list[k].expr) == 0)
						list[k].expr_found = 1;
				if (!list[k].expr_found) {
					print_error("%s: no issue at %s; got:\n", name, list[k].expr);
					for (int j = 0; j < e.n_issues; j++)
						print_error("  %s\t%s\n", e.issue[j].expression,
							    e.issue[j].diagnostics);
					failures++;
				}
			}
		}
		free(names[i]);
	}
	free(names);
	/* A listed file that was accepted is reported above; one that is not
	 * in the package at all means the list is stale. */
	for (int k = 0; k < n_list; k++) {
		char path[8192];
		struct stat st;

		if (!list[k].seen && (path_of(path, sizeof(path), examples_dir, list[k].file) ||
				      stat(path, &st) != 0)) {
			print_error("%s: listed but not in the package\n", list[k].file);
			failures++;
		}
	}
	print_message("r4 examples: %d files (%.1f MB), %d accepted, %d rejected, %d not resources; "
		      "validation alone took %.1f ms of CPU\n",
		      n_names, (double)bytes / 1e6, accepted, rejected, not_resources, validate_ms);
	assert_int_equal(failures, 0);
	assert_int_equal(rejected, n_list);
}

int main(void)
{
	const char *src = getenv("LT_SOURCE_DIR");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_examples),
	};

	if (td_find_examples(examples_dir, sizeof(examples_dir)) != 0) {
		printf("SKIP: the R4 examples package is not installed (set LT_R4_EXAMPLES to the "
		       "unpacked hl7.fhir.r4.examples@4.0.1, or install it under "
		       "tests/client/node_modules)\n");
		return 77;
	}
	if (!src || !*src) {
		printf("SKIP: LT_SOURCE_DIR is not set (needed for tests/data/r4-examples-rejected.txt)\n");
		return 77;
	}
	if (td_join(rejected_list, sizeof(rejected_list), src, "/tests/data/r4-examples-rejected.txt")) {
		printf("SKIP: LT_SOURCE_DIR is too long\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
