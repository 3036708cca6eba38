/*
 * sqlite_pages.c — SQLite's allocator: a database page and its header go to
 * a slab of page-sized slots, everything else to malloc (decision 0030).
 *
 * Readers in WAL mode drop their whole page cache when a write has committed
 * since their last read, so under writes they free and allocate pages
 * all the time, on many threads and so in many of glibc's arenas, between
 * longer-lived allocations; the arenas keep the holes, and RSS grew with
 * them (the soak: 32 → 245 MiB free inside the heap in 13 minutes). Slots do
 * not fragment: a freed slot is the next one handed out. The slab is address
 * space reserved once and touched only as slots are first used, so RSS is the
 * most pages ever cached at once, not the slab's size; past its end pages
 * come from malloc again, so nothing is refused.
 *
 * SQLite's own SQLITE_CONFIG_PAGECACHE pool does the same for pages but
 * writes a free-list pointer into every slot when it is configured: 80 MiB
 * touched and 300 ms at start for a pool the writer's cache fits in.
 */
#include "sqlite_int.h"

#include <malloc.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#if defined(__has_include)
#if __has_include(<sanitizer/asan_interface.h>)
#include <sanitizer/asan_interface.h>	/* no-ops unless built with ASan */
#endif
#endif
#ifndef ASAN_POISON_MEMORY_REGION
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#endif

static struct {
	size_t want;		/* bytes to reserve: the page-cache budget and a sixteenth */
	char *base, *end;	/* the slab; NULL when it could not be reserved */
	char *top;		/* slots below it have been handed out at least once */
	void *free;		/* slots given back, last first, linked through their first word */
	size_t slot;		/* bytes of a slot; requests in (slot_min, slot] take one */
	size_t slot_min;
	size_t used;		/* slots handed out now */
	pthread_mutex_t lock;
} slab = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int in_slab(const void *p)
{
	return (const char *)p >= slab.base && (const char *)p < slab.end;
}

static void *slot_take(void)
{
	void *p = NULL;

	pthread_mutex_lock(&slab.lock);
	if (slab.free) {
		p = slab.free;
		slab.free = *(void **)p;	/* the first word is left unpoisoned */
	} else if (slab.top < slab.end) {
		p = slab.top;
		slab.top += slab.slot;
	}
	if (p) {
		slab.used++;
		ASAN_UNPOISON_MEMORY_REGION(p, slab.slot);
	}
	pthread_mutex_unlock(&slab.lock);
	return p;
}

static void slot_give(void *p)
{
	pthread_mutex_lock(&slab.lock);
	*(void **)p = slab.free;
	slab.free = p;
	slab.used--;
	/* Under ASan a freed slot is poisoned, as freed malloc memory is: a
	 * use after free of a page (a column's bytes kept past its row's
	 * step, say) is caught here too. */
	ASAN_POISON_MEMORY_REGION((char *)p + sizeof(void *), slab.slot - sizeof(void *));
	pthread_mutex_unlock(&slab.lock);
}

static void *pages_malloc(int n)
{
	void *p;

	if ((size_t)n > slab.slot_min && (size_t)n <= slab.slot && (p = slot_take()))
		return p;
	return malloc((size_t)n);
}

static void pages_free(void *p)
{
	if (in_slab(p))
		slot_give(p);
	else
		free(p);
}

static void *pages_realloc(void *p, int n)
{
	void *q;

	if (!in_slab(p))
		return realloc(p, (size_t)n);
	if ((size_t)n > slab.slot_min && (size_t)n <= slab.slot)
		return p;
	if (!(q = malloc((size_t)n)))
		return NULL;
	memcpy(q, p, (size_t)n < slab.slot ? (size_t)n : slab.slot);
	slot_give(p);
	return q;
}

static int pages_size(void *p)
{
	if (!p)
		return 0;
	return (int)(in_slab(p) ? slab.slot : malloc_usable_size(p));
}

static int pages_roundup(int n)
{
	return (n + 7) & ~7;
}

static int pages_init(void *unused)
{
	size_t len = slab.want;
	void *m;

	(void)unused;
	if (slab.base || !slab.slot || len < slab.slot)
		return SQLITE_OK;
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (m == MAP_FAILED)
		return SQLITE_OK;	/* every allocation from malloc, as without the slab */
	slab.base = slab.top = m;
	slab.end = slab.base + len / slab.slot * slab.slot;
	ASAN_POISON_MEMORY_REGION(slab.base, (size_t)(slab.end - slab.base));
	return SQLITE_OK;
}

static void pages_shutdown(void *unused)
{
	(void)unused;		/* the slab stays mapped: a later initialize uses it again */
}

void sqlite_pages_install(int page_size, size_t cache_bytes)
{
	static const sqlite3_mem_methods methods = {
		pages_malloc, pages_free, pages_realloc, pages_size, pages_roundup,
		pages_init, pages_shutdown, NULL,
	};
	int hdr = 0;

	/* A page-cache entry is the page and SQLite's headers for it: the
	 * bytes SQLITE_CONFIG_PCACHE_HDRSZ reports. Slots are 64-byte
	 * multiples so that pages start on cache lines. */
	if (sqlite3_config(SQLITE_CONFIG_PCACHE_HDRSZ, &hdr) != SQLITE_OK)
		return;
	slab.slot_min = (size_t)page_size - 1;
	slab.slot = ((size_t)page_size + (size_t)hdr + 63) & ~(size_t)63;
	/* SQLite counts a cache of N KiB as N KiB of pages with their headers;
	 * the sixteenth is for pages a cache holds past its size while they
	 * are pinned (a statement's cursors, a transaction's dirty pages). */
	slab.want = cache_bytes / ((size_t)page_size + (size_t)hdr) * slab.slot;
	slab.want += slab.want / 16;
	sqlite3_config(SQLITE_CONFIG_MALLOC, &methods);
}

void store_sqlite_pages(size_t *in_use, size_t *touched, size_t *size)
{
	pthread_mutex_lock(&slab.lock);
	*in_use = slab.used * slab.slot;
	*touched = (size_t)(slab.top - slab.base);
	*size = (size_t)(slab.end - slab.base);
	pthread_mutex_unlock(&slab.lock);
}
