/* One budget for the database pages in memory (decision 0032): the writer's
 * and the readers' page caches together stay within cache_mib, so the pages
 * fit in the slab sized to it (sqlite_pages.c) and none come from malloc.
 * Its own program: the slab is sized by the first store a process opens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "store/store.h"

#define CACHE_MIB 16
#define READERS 4
#define RESOURCES 3000		/* ~8 KiB each: 24 MiB and more, past the budget */
#define BATCH 100

static char dir[64];

static void resource(char *json, size_t size, int i)
{
	size_t n = (size_t)snprintf(json, size, "{\"resourceType\":\"Patient\",\"id\":\"p%d\",\"text\":\"", i);
	unsigned x = (unsigned)i * 2654435761u + 1;

	/* Text that does not repeat, so the pages hold what was written. */
	while (n < size - 3) {
		x = x * 1103515245u + 12345u;
		json[n++] = (char)('a' + (x >> 16) % 26);
	}
	memcpy(json + n, "\"}", 3);
}

static void write_all(struct store *st)
{
	static char json[BATCH][8192];
	char id[BATCH][16];
	struct store_write w[BATCH];
	struct err e = { 0 };

	for (int b = 0; b < RESOURCES; b += BATCH) {
		for (int k = 0; k < BATCH; k++) {
			snprintf(id[k], sizeof(id[k]), "p%d", b + k);
			resource(json[k], sizeof(json[k]), b + k);
			w[k] = (struct store_write){ .tenant = 1, .type = "Patient", .id = id[k],
						     .expect_version = 0, .version = 1,
						     .last_updated_ms = 1000, .json = json[k],
						     .json_len = strlen(json[k]) };
		}
		assert_int_equal(store_commit(st, &(struct store_txn){ w, BATCH }, &e), 0);
	}
}

static void *read_all(void *arg)
{
	struct store *st = arg;
	struct store_version v;
	struct err e = { 0 };
	char id[16];

	store_version_init(&v);
	for (int i = 0; i < RESOURCES; i++) {
		snprintf(id, sizeof(id), "p%d", i);
		int rc = store_read(st, 1, "Patient", id, 0, &v, &e);

		if (rc != 0) {
			print_message("reading %s: %d %s\n", id, rc,
				      e.n_issues ? e.issue[0].diagnostics : err_name(rc));
			store_version_release(&v);
			return (void *)1;
		}
	}
	store_version_release(&v);
	return NULL;
}

static void caches_stay_within_the_budget(void **state)
{
	struct store_config cfg = { .backend = "sqlite", .data_dir = dir, .cache_mib = CACHE_MIB,
				    .max_readers = READERS };
	struct store *st = NULL;
	struct err e = { 0 };
	pthread_t th[READERS];
	size_t in_use, touched, size, budget = (size_t)CACHE_MIB << 20;

	(void)state;
	assert_int_equal(store_open(&cfg, &st, &e), 0);
	write_all(st);
	for (int round = 0; round < 2; round++) {
		for (int t = 0; t < READERS; t++)
			assert_int_equal(pthread_create(&th[t], NULL, read_all, st), 0);
		for (int t = 0; t < READERS; t++) {
			void *ret;

			pthread_join(th[t], &ret);
			assert_null(ret);
		}
	}
	store_sqlite_pages(&in_use, &touched, &size);
	print_message("pages: %zu KiB in use, %zu KiB touched, slab %zu KiB, %d readers\n",
		      in_use >> 10, touched >> 10, size >> 10, store_readers_open(st));
	/* The slab is the budget and a sixteenth; the caches filled most of
	 * the budget and never ran past the slab's end. */
	assert_true(size >= budget && size <= budget + budget / 8);
	assert_true(touched >= budget / 2);
	assert_true(touched < size);
	assert_true(in_use <= budget + budget / 16);
	store_close(st);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/lt-pages-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(caches_stay_within_the_budget, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
