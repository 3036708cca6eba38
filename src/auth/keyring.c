/* keyring.c — token-signing keys as PEM files in one directory (keyring.h). */
#include "keyring.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KEYRING_MAX_KEYS 64
#define KEY_FILE_MAX (64 * 1024)

struct auth_keyring {
	struct auth_key *keys[KEYRING_MAX_KEYS];	/* sorted by kid: the last signs */
	size_t n;
};

/* The directory and its parent, 0700 (keys are secrets). */
static int make_dir(const char *dir, struct err *e)
{
	char parent[4096];
	char *slash;

	if (snprintf(parent, sizeof(parent), "%s", dir) >= (int)sizeof(parent))
		return err_set(e, ERR_CONFIG, NULL, "key directory path too long");
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if (mkdir(parent, 0700) != 0 && errno != EEXIST)
			return err_set(e, ERR_IO, NULL, "cannot create %s: %s", parent, strerror(errno));
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return err_set(e, ERR_IO, NULL, "cannot create %s: %s", dir, strerror(errno));
	return 0;
}

static int by_kid(const void *a, const void *b)
{
	return strcmp(auth_key_kid(*(struct auth_key *const *)a),
		      auth_key_kid(*(struct auth_key *const *)b));
}

static int load(struct auth_keyring *kr, const char *dir, struct err *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return errno == ENOENT ? 0 : err_set(e, ERR_IO, NULL, "cannot open %s: %s", dir,
						     strerror(errno));
	while (!rc && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char path[4096], kid[AUTH_KID_MAX + 1];
		struct buf pem;

		if (len < 5 || strcmp(de->d_name + len - 4, ".pem") || len - 4 > AUTH_KID_MAX)
			continue;
		if (kr->n == KEYRING_MAX_KEYS) {
			rc = err_set(e, ERR_CONFIG, NULL, "more than %d keys in %s: remove old ones",
				     KEYRING_MAX_KEYS, dir);
			break;
		}
		snprintf(kid, sizeof(kid), "%.*s", (int)(len - 4), de->d_name);
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		buf_init(&pem, KEY_FILE_MAX);
		rc = buf_read_file(&pem, path, e);
		if (!rc)
			rc = auth_key_from_pem(pem.p, pem.n, kid, &kr->keys[kr->n], e);
		/* ES384 and RS384 keys are for checking clients' assertions; our
		 * own tokens stay ES256 or EdDSA (decision 0018) */
		if (!rc && auth_key_alg(kr->keys[kr->n]) != AUTH_ES256 &&
		    auth_key_alg(kr->keys[kr->n]) != AUTH_EDDSA) {
			auth_key_free(kr->keys[kr->n]);
			rc = err_set(e, ERR_CONFIG, NULL, "%s: a signing key must be P-256 or Ed25519",
				     path);
		}
		if (pem.p)
			explicit_bzero(pem.p, pem.n);
		buf_release(&pem);
		if (!rc)
			kr->n++;
	}
	closedir(d);
	qsort(kr->keys, kr->n, sizeof(kr->keys[0]), by_kid);
	return rc;
}

int auth_keyring_add(const char *dir, enum auth_alg alg, char kid[AUTH_KID_MAX + 1], struct err *e)
{
	struct auth_key *k = NULL;
	struct buf pem, rnd;
	char path[4096], tmp[4096];
	time_t now = time(NULL);
	struct tm tm;
	int rc, fd = -1;

	buf_init(&pem, 0);
	buf_init(&rnd, 0);
	gmtime_r(&now, &tm);
	if ((rc = make_dir(dir, e)) || (rc = auth_random_token(6, &rnd, e)))
		goto out;
	/* The time first, so that names sort as keys were made. */
	snprintf(kid, AUTH_KID_MAX + 1, "%04d%02d%02dT%02d%02d%02dZ-%s", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rnd.p);
	if ((rc = auth_key_generate(alg, kid, &k, e)) || (rc = auth_key_private_pem(k, &pem, e)))
		goto out;
	/* Written under another name and renamed: a running server that loads
	 * the directory meanwhile sees the whole key or none. */
	snprintf(path, sizeof(path), "%s/%s.pem", dir, kid);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, kid);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, pem.p, pem.n) != (ssize_t)pem.n || fsync(fd) != 0 ||
	    rename(tmp, path) != 0) {
		rc = err_set(e, ERR_IO, NULL, "cannot write %s: %s", path, strerror(errno));
		if (fd >= 0)
			unlink(tmp);
	}
out:
	if (fd >= 0)
		close(fd);
	if (pem.p)
		explicit_bzero(pem.p, pem.n);
	buf_release(&pem);
	buf_release(&rnd);
	auth_key_free(k);
	return rc;
}

int auth_keyring_open(const char *dir, int create, struct auth_keyring **out, struct err *e)
{
	struct auth_keyring *kr = calloc(1, sizeof(*kr));
	char kid[AUTH_KID_MAX + 1];
	int rc;

	*out = NULL;
	if (!kr)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	rc = load(kr, dir, e);
	if (!rc && !kr->n && create && !(rc = auth_keyring_add(dir, AUTH_ES256, kid, e)))
		rc = load(kr, dir, e);
	if (!rc && !kr->n)
		rc = err_set(e, ERR_CONFIG, NULL, "no signing key in %s (lienthong key rotate makes one)",
			     dir);
	if (rc) {
		auth_keyring_free(kr);
		return rc;
	}
	*out = kr;
	return 0;
}

void auth_keyring_free(struct auth_keyring *kr)
{
	if (!kr)
		return;
	for (size_t i = 0; i < kr->n; i++)
		auth_key_free(kr->keys[i]);
	free(kr);
}

const struct auth_key *auth_keyring_signer(const struct auth_keyring *kr)
{
	return kr->keys[kr->n - 1];
}

struct auth_key *const *auth_keyring_keys(const struct auth_keyring *kr, size_t *n)
{
	*n = kr->n;
	return kr->keys;
}

int auth_keyring_jwks(const struct auth_keyring *kr, struct buf *out, struct err *e)
{
	int rc = buf_puts(out, "{\"keys\":[");

	for (size_t i = 0; !rc && i < kr->n; i++) {
		if (i)
			rc = buf_putc(out, ',');
		if (!rc)
			rc = auth_key_public_jwk(kr->keys[i], out, e);
	}
	if (!rc)
		rc = buf_puts(out, "]}");
	return rc ? err_set(e, rc, NULL, "cannot write the key set") : 0;
}
