/*
 * fault.c — the fault switch of the reliability harness (fault.h), and the
 * wrappers that fail lienthong's own allocations.
 */
#include "fault.h"

#ifdef LT_FAULT_INJECTION

#include <execinfo.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"

static const char *const kinds[] = { "", "write", "sync", "alloc", "malloc", "full", "slowsync" };

static struct {
	enum fault_kind kind;
	long at;			/* the Nth operation of the kind, from 1 */
	const char *arm;		/* NULL: armed from the start */
	atomic_int armed;
	atomic_long count;
	atomic_long injected;
} f;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static _Thread_local int logging;	/* a fault's own log line is not failed */

/* No logging here: this may run inside the first malloc. */
static void configure(void)
{
	const char *spec = getenv("LT_FAULT"), *colon = spec ? strchr(spec, ':') : NULL;

	if (!colon)
		return;
	for (int k = FAULT_WRITE; k <= FAULT_SLOW_SYNC; k++)
		if ((size_t)(colon - spec) == strlen(kinds[k]) && !strncmp(spec, kinds[k], strlen(kinds[k])))
			f.kind = (enum fault_kind)k;
	f.at = atol(colon + 1);
	f.arm = getenv("LT_FAULT_ARM");
	if (f.at < 1)
		f.kind = FAULT_NONE;
}

enum fault_kind fault_configured(void)
{
	pthread_once(&once, configure);
	return f.kind;
}

static int armed(void)
{
	if (atomic_load(&f.armed))	/* a full disk lasts while the file does */
		return f.kind != FAULT_FULL || !f.arm || access(f.arm, F_OK) == 0;
	if (f.arm && access(f.arm, F_OK) != 0)
		return 0;
	atomic_store(&f.armed, 1);
	return 1;
}

int fault_hit(enum fault_kind k)
{
	long n;

	if (fault_configured() == FAULT_NONE || logging)
		return 0;
	if (f.kind != k && !(k == FAULT_WRITE && f.kind == FAULT_FULL))
		return 0;
	if (!armed())
		return 0;
	n = atomic_fetch_add(&f.count, 1) + 1;
	if (f.kind == FAULT_FULL ? n < f.at : n != f.at)
		return 0;
	if (atomic_fetch_add(&f.injected, 1) < 16) {	/* a full disk: say so a few times */
		void *at[24];
		int depth;

		logging = 1;
		log_warn("fault injected: %s #%ld; where (addr2line -e BINARY):",
			 f.kind == FAULT_FULL ? "disk full" : kinds[k], n);
		depth = backtrace(at, 24);
		backtrace_symbols_fd(at, depth, STDERR_FILENO);
		logging = 0;
	}
	return 1;
}

int fault_sync_delay_ms(void)
{
	return fault_configured() == FAULT_SLOW_SYNC && armed() ? (int)f.at : 0;
}

/* The build links with --wrap=malloc,... (CMakeLists.txt): lienthong's own
 * calls come here, the libraries' do not. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

void *__wrap_malloc(size_t n)
{
	return fault_hit(FAULT_MALLOC) ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return fault_hit(FAULT_MALLOC) ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return fault_hit(FAULT_MALLOC) ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return fault_hit(FAULT_MALLOC) ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return fault_hit(FAULT_MALLOC) ? NULL : __real_strndup(s, n);
}

#else

enum fault_kind fault_configured(void)
{
	return FAULT_NONE;
}

int fault_hit(enum fault_kind k)
{
	(void)k;
	return 0;
}

int fault_sync_delay_ms(void)
{
	return 0;
}

#endif
