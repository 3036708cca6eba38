/*
 * arena.h — one arena per unit of work (a search request, an import batch).
 *
 * Many small allocations (parsed query parts, SQL text, copied strings) come
 * from a few large blocks and are freed together by arena_release. Each
 * arena has a cap: past it, allocations fail (NULL) rather than growing
 * without bound on hostile input. Not thread-safe: one owner at a time.
 */
#ifndef LT_BASE_ARENA_H
#define LT_BASE_ARENA_H

#include <stddef.h>
#include "buf.h"

#define ARENA_BLOCK 8192

struct arena_block;

struct arena {
	struct arena_block *head;	/* newest block first */
	size_t used, limit;		/* bytes taken from malloc; 0 limit = SIZE_MAX */
};

void arena_init(struct arena *a, size_t limit);
void arena_release(struct arena *a);
/* n bytes aligned for any type, zeroed; NULL past the limit or out of memory. */
void *arena_alloc(struct arena *a, size_t n);
/* A NUL-terminated copy of the n bytes at s. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* A NUL-terminated copy of a slice, as a slice of the arena. */
int arena_str(struct arena *a, struct str s, struct str *out) LT_MUST_CHECK;

#endif
