/* buf.c — capped growable buffers and slices. */
#include "buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void buf_init(struct buf *b, size_t limit)
{
	b->p = NULL;
	b->n = 0;
	b->alloc = 0;
	b->limit = limit ? limit : SIZE_MAX - 1;
}

void buf_release(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->n = b->alloc = 0;
}

void buf_clear(struct buf *b)
{
	b->n = 0;
	if (b->p)
		b->p[0] = '\0';
}

/* Makes room for `extra` more bytes plus the NUL. */
static int buf_grow(struct buf *b, size_t extra)
{
	size_t want, sz;
	char *p;

	if (extra > b->limit - b->n)
		return ERR_TOO_LARGE;
	want = b->n + extra + 1;
	if (want <= b->alloc)
		return 0;
	sz = b->alloc ? b->alloc : 256;
	while (sz < want)
		sz = sz > SIZE_MAX / 2 ? want : sz * 2;
	p = realloc(b->p, sz);
	if (!p)
		return ERR_NOMEM;
	b->p = p;
	b->alloc = sz;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	int rc = buf_grow(b, n);

	if (rc)
		return rc;
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = '\0';
	return 0;
}

int buf_puts(struct buf *b, const char *s) { return buf_append(b, s, strlen(s)); }
int buf_putc(struct buf *b, char c) { return buf_append(b, &c, 1); }

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int len, rc;

	va_copy(ap2, ap);
	len = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (len < 0)
		return ERR_INTERNAL;
	rc = buf_grow(b, (size_t)len);
	if (rc)
		return rc;
	vsnprintf(b->p + b->n, (size_t)len + 1, fmt, ap);
	b->n += (size_t)len;
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

char *buf_detach(struct buf *b, size_t *n)
{
	char *p = b->p;

	if (!p) {
		p = calloc(1, 1);
	}
	if (n)
		*n = b->n;
	b->p = NULL;
	b->n = b->alloc = 0;
	return p;
}

struct str str_from(const char *s)
{
	return (struct str){ s, s ? strlen(s) : 0 };
}

int str_eq(struct str a, const char *s)
{
	size_t n = strlen(s);
	return a.n == n && memcmp(a.p, s, n) == 0;
}

int str_ieq(struct str a, const char *s)
{
	size_t n = strlen(s);
	return a.n == n && strncasecmp(a.p, s, n) == 0;
}

int str_has_prefix(struct str a, const char *prefix)
{
	size_t n = strlen(prefix);
	return a.n >= n && memcmp(a.p, prefix, n) == 0;
}

int str_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int str_copy(char *dst, size_t dstsz, struct str s)
{
	if (s.n >= dstsz)
		return ERR_TOO_LARGE;
	memcpy(dst, s.p, s.n);
	dst[s.n] = '\0';
	return 0;
}

int buf_read_file(struct buf *b, const char *path, struct err *e)
{
	char chunk[4096];
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return err_set(e, ERR_IO, NULL, "cannot read %s: %s", path, strerror(errno));
	while ((got = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(b, chunk, (size_t)got)) {
			rc = err_set(e, ERR_TOO_LARGE, NULL, "%s is larger than %zu bytes", path, b->limit);
			break;
		}
	if (!rc && got < 0)
		rc = err_set(e, ERR_IO, NULL, "cannot read %s: %s", path, strerror(errno));
	explicit_bzero(chunk, sizeof(chunk));	/* it may have held a key */
	close(fd);
	return rc;
}
