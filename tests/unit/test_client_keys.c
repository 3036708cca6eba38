/* The store's client keys and assertion jtis (decision 0020): a JWKS per
 * client, replaced whole; a jti accepted once while it lives, again once
 * it has expired, per client; and at most STORE_CLIENT_JTI_MAX alive for
 * one client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "store/store.h"

#define NOW_MS 1800000000000LL

static char dir[64];
static struct store *st;
static int64_t client_a, client_b, user_c;

static int64_t add_principal(const char *kind, const char *name)
{
	struct store_principal p = { 0 };
	struct err e = { 0 };

	snprintf(p.kind, sizeof(p.kind), "%s", kind);
	snprintf(p.name, sizeof(p.name), "%s", name);
	p.tenant = 1;
	assert_int_equal(store_principal_put(st, &p, &e), 0);
	return p.id;
}

static int setup(void **state)
{
	struct store_config cfg = { .backend = "sqlite", .data_dir = dir };
	struct store_tenant t = { .code = "79001", .name = "A" };
	struct stat sb;
	struct err e = { 0 };

	/* /dev/shm when there is one: every jti is a write of its own, fsync'ed */
	snprintf(dir, sizeof(dir), "%s/lt-client-keys-XXXXXX",
		 stat("/dev/shm", &sb) == 0 ? "/dev/shm" : "/tmp");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(store_open(&cfg, &st, &e), 0);
	assert_int_equal(store_tenant_add(st, &t, &e), 0);
	client_a = add_principal("client", "lab-a");
	client_b = add_principal("client", "lab-b");
	user_c = add_principal("user", "bs-c");
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void jwks_put_get(void **state)
{
	struct buf b;
	struct err e = { 0 };
	int64_t when = 0;

	buf_init(&b, 0);
	assert_int_equal(store_client_jwks_get(st, client_a, &b, NULL, &e), ERR_NOT_FOUND);
	assert_int_equal(store_client_jwks_put(st, client_a, "{\"keys\":[1]}", &e), 0);
	assert_int_equal(store_client_jwks_put(st, client_a, "{\"keys\":[2]}", &e), 0);
	assert_int_equal(store_client_jwks_get(st, client_a, &b, &when, &e), 0);
	assert_string_equal(b.p, "{\"keys\":[2]}");
	assert_true(when > NOW_MS / 2);
	/* only a client has keys: a user, or nobody, is not found */
	err_clear(&e);
	assert_int_equal(store_client_jwks_put(st, user_c, "{\"keys\":[]}", &e), ERR_NOT_FOUND);
	assert_int_equal(store_client_jwks_put(st, 999999, "{\"keys\":[]}", &e), ERR_NOT_FOUND);
	buf_clear(&b);
	assert_int_equal(store_client_jwks_get(st, client_b, &b, NULL, &e), ERR_NOT_FOUND);
	assert_int_equal(b.n, 0);
	buf_release(&b);
}

static void jti_once_while_alive(void **state)
{
	struct err e = { 0 };
	int64_t exp = NOW_MS + 330000;

	assert_int_equal(store_client_jti_use(st, client_a, "j-1", exp, NOW_MS, &e), 0);
	assert_int_equal(store_client_jti_use(st, client_a, "j-1", exp, NOW_MS + 1000, &e),
			 ERR_DUPLICATE);
	/* the same text with a new exp is still a replay */
	assert_int_equal(store_client_jti_use(st, client_a, "j-1", exp + 60000, NOW_MS, &e),
			 ERR_DUPLICATE);
	/* jtis are per client */
	assert_int_equal(store_client_jti_use(st, client_b, "j-1", exp, NOW_MS, &e), 0);
	/* once expired, forgotten: RFC 7523 asks uniqueness while an assertion is valid */
	assert_int_equal(store_client_jti_use(st, client_a, "j-1", exp + 400000, exp, &e), 0);
	assert_int_equal(store_client_jti_use(st, client_a, "j-1", exp + 400000, exp, &e),
			 ERR_DUPLICATE);
}

/* n live jtis for principal, written straight into the database: through
 * the store, each would open connections of its own (10,000 take a minute
 * and a half under the sanitizers). */
static void fill_jtis(int64_t principal, int64_t exp_ms, int n)
{
	char path[128], sql[256];
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/lienthong.db", dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	snprintf(sql, sizeof(sql),
		 "WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < %d)"
		 " INSERT INTO client_jti (principal, jti, exp_ms) SELECT %lld, 'fill-' || n, %lld"
		 " FROM i", n, (long long)principal, (long long)exp_ms);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void jti_cap_per_client(void **state)
{
	struct err e = { 0 };
	/* an hour on: the jtis of the test before have expired */
	int64_t later = NOW_MS + 3600000, exp = later + 300000;

	/* the expired ones go first, so the cap counts the live ones only */
	assert_int_equal(store_client_jti_use(st, client_a, "cap-first", exp, later, &e), 0);
	fill_jtis(client_a, exp, STORE_CLIENT_JTI_MAX - 2);
	assert_int_equal(store_client_jti_use(st, client_a, "cap-last", exp, later, &e), 0);
	assert_int_equal(store_client_jti_use(st, client_a, "one-more", exp, later, &e),
			 ERR_TOO_MANY);
	assert_int_equal(store_client_jti_use(st, client_b, "one-more", exp, later, &e), 0);
	/* they all expire together, and the client may go on */
	assert_int_equal(store_client_jti_use(st, client_a, "one-more", exp + 300000, exp, &e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(jwks_put_get),
		cmocka_unit_test(jti_once_while_alive),
		cmocka_unit_test(jti_cap_per_client),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
