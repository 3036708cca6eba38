/*
 * fault.h — faults injected on demand, for the reliability harness (issue 8,
 * tests/reliability/faults.py; decision 0028).
 *
 * Compiled in only with LT_FAULT_INJECTION (the sanitizer build of `make
 * check` and `make fault-test`; never a release), and active only when the
 * environment asks:
 *
 *   LT_FAULT=write:N    the Nth file write under the store fails once
 *   LT_FAULT=sync:N     the Nth fsync under the store fails once
 *   LT_FAULT=alloc:N    SQLite's Nth memory allocation fails once
 *   LT_FAULT=malloc:N   lienthong's own Nth malloc/calloc/realloc/strdup
 *                       fails once (the build links with --wrap=malloc...)
 *   LT_FAULT=full:N     from the Nth write on, every write under the store
 *                       fails with "disk full" until space is freed
 *   LT_FAULT=slowsync:N every sync of the write-ahead log by the store's
 *                       syncer thread takes N ms more (decision 0033: a
 *                       commit is visible before it is durable; tests widen
 *                       that window to look into it)
 *   LT_FAULT_ARM=PATH   counting starts once PATH exists (so that start-up
 *                       is not what fails); for full, deleting it frees space
 *
 * The hooks: src/store/sqlite_fault.c (a VFS and an allocator under SQLite)
 * and fault.c (the malloc wrappers). Each injected fault is logged at warn
 * level ("fault injected"), so that a test can count them.
 */
#ifndef LT_BASE_FAULT_H
#define LT_BASE_FAULT_H

enum fault_kind { FAULT_NONE, FAULT_WRITE, FAULT_SYNC, FAULT_ALLOC, FAULT_MALLOC, FAULT_FULL,
		  FAULT_SLOW_SYNC };

/* Reads LT_FAULT once; the kind asked for (FAULT_NONE: none, or a build
 * without the hooks). */
enum fault_kind fault_configured(void);
/* Whether this operation of kind k fails (FAULT_WRITE also under full). */
int fault_hit(enum fault_kind k);
/* LT_FAULT=slowsync:N: N, once armed; else 0. */
int fault_sync_delay_ms(void);

#endif
