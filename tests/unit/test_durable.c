/*
 * test_durable — a commit is visible before it is durable, and an answer
 * built from reads waits until what they saw is (decision 0033).
 *
 * The syncer thread's sync of the WAL is slowed to SLOW_MS with the fault
 * hook LT_FAULT=slowsync (src/base/fault.h), which widens the moment when a
 * change is committed and readable but not yet on disk. The hooks exist in
 * the sanitizer build of `make check`; in a release build the test skips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>
#include "base/fault.h"
#include "store/store.h"

#define SLOW_MS 300

static char dir[64];

static struct store *open_store(void)
{
	struct store_config cfg = { .backend = "sqlite", .data_dir = dir };
	struct store *st = NULL;
	struct err e = { 0 };

	assert_int_equal(store_open(&cfg, &st, &e), 0);
	return st;
}

struct writer_arg {
	struct store *st;
	int rc;
	int returned;			/* store_commit has returned */
};

static void *write_one(void *arg)
{
	struct writer_arg *w = arg;
	static const char json[] = "{\"resourceType\":\"Patient\",\"id\":\"p1\"}";
	struct store_write wr = { .tenant = STORE_DEFAULT_TENANT, .type = "Patient", .id = "p1",
				  .expect_version = 0, .version = 1, .last_updated_ms = 1,
				  .json = json, .json_len = sizeof(json) - 1 };
	struct store_txn txn = { .writes = &wr, .n_writes = 1 };
	struct err e = { 0 };

	w->rc = store_commit(w->st, &txn, &e);
	__atomic_store_n(&w->returned, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* While the sync is slow: the change is read back, not yet durable, and
 * its writer has no answer yet; store_durable_wait returns only once the
 * change is durable; the writer's answer comes with it. */
static void read_waits_for_what_it_saw(void **state)
{
	struct store *st = open_store();
	struct writer_arg w = { .st = st };
	struct store_version v;
	struct err e = { 0 };
	uint64_t announced, durable;
	pthread_t t;
	int found = 0;

	(void)state;
	store_version_init(&v);
	assert_int_equal(pthread_create(&t, NULL, write_one, &w), 0);
	for (int i = 0; i < 10 * SLOW_MS && !found; i++) {
		found = store_read(st, STORE_DEFAULT_TENANT, "Patient", "p1", 0, &v, &e) == 0;
		err_clear(&e);
		if (!found)
			usleep(100);
	}
	assert_true(found);
	store_durability(st, &announced, &durable);
	assert_true(durable < announced);	/* visible, not durable */
	assert_false(__atomic_load_n(&w.returned, __ATOMIC_SEQ_CST));

	store_durable_wait(st);
	store_durability(st, &announced, &durable);
	assert_true(durable >= announced);
	pthread_join(t, NULL);
	assert_int_equal(w.rc, 0);
	store_version_release(&v);
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(read_waits_for_what_it_saw),
	};
	char delay[32];
	int rc;

	snprintf(delay, sizeof(delay), "slowsync:%d", SLOW_MS);
	setenv("LT_FAULT", delay, 1);
	if (fault_configured() != FAULT_SLOW_SYNC) {
		printf("SKIP: test_durable needs the fault hooks (the sanitizer build of make check)\n");
		return 77;
	}
	snprintf(dir, sizeof(dir), "/tmp/lt-durable-XXXXXX");
	assert_non_null(mkdtemp(dir));
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			rc = 1;
	}
	return rc;
}
