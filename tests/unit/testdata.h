/*
 * testdata.h — finding and reading the test material shared by unit tests
 * (the official R4 examples, ../shared/data). Header-only: each test is its
 * own program.
 */
#ifndef LT_TESTS_TESTDATA_H
#define LT_TESTS_TESTDATA_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* out = a + b, or -1 when it does not fit. */
static inline int td_join(char *out, size_t size, const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	if (na + nb + 1 > size)
		return -1;
	memmove(out, a, na);
	memcpy(out + na, b, nb);
	out[na + nb] = '\0';
	return 0;
}

static inline int td_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The official R4 examples package: $LT_R4_EXAMPLES, else
 * $LT_SOURCE_DIR/tests/client/node_modules/hl7.fhir.r4.examples; a tarball
 * unpacked by hand keeps its "package/" directory, which is followed.
 * 0 when the directory exists. */
static inline int td_find_examples(char *out, size_t size)
{
	const char *env = getenv("LT_R4_EXAMPLES"), *src = getenv("LT_SOURCE_DIR");
	char path[4096];

	if (env && *env) {
		if (td_join(out, size, env, ""))
			return -1;
	} else if (src && *src) {
		if (td_join(out, size, src, "/tests/client/node_modules/hl7.fhir.r4.examples"))
			return -1;
	} else
		return -1;
	if (td_join(path, sizeof(path), out, "/package") == 0 && td_is_dir(path))
		(void)td_join(out, size, path, "");
	return td_is_dir(out) ? 0 : -1;
}

/* The whole file, NUL-terminated (malloc'ed), or NULL. */
static inline char *td_slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	long len;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		p = malloc((size_t)len + 1);
		if (p && fread(p, 1, (size_t)len, f) != (size_t)len) {
			free(p);
			p = NULL;
		}
		if (p) {
			p[len] = '\0';
			*n = (size_t)len;
		}
	}
	fclose(f);
	return p;
}

#endif
