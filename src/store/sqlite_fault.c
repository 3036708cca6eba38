/*
 * sqlite_fault.c — fault injection under the SQLite backend, for the
 * reliability harness (issue 8, tests/reliability/faults.py).
 *
 * Compiled in only with LT_FAULT_INJECTION (the sanitizer build of `make
 * check` and `make fault-test`), and active only when the environment asks:
 *
 *   LT_FAULT=write:N    the Nth file write fails once (SQLITE_IOERR_WRITE)
 *   LT_FAULT=sync:N     the Nth fsync fails once (SQLITE_IOERR_FSYNC)
 *   LT_FAULT=alloc:N    SQLite's Nth memory allocation fails once
 *   LT_FAULT=full:N     from the Nth write on, every write fails with
 *                       SQLITE_FULL (a full disk) until space is freed
 *   LT_FAULT_ARM=PATH   counting starts once PATH exists (so that start-up
 *                       is not what fails); deleting it frees the "disk"
 *
 * Writes and fsyncs are those of every file SQLite opens (databases, WAL,
 * journals): a VFS that wraps the default one is made the default. Each
 * injected fault is logged at warn level, so a test can count them.
 */
#include "sqlite_int.h"

#ifdef LT_FAULT_INJECTION

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../base/log.h"

enum fault_kind { FAULT_NONE, FAULT_WRITE, FAULT_SYNC, FAULT_ALLOC, FAULT_FULL };

static struct {
	enum fault_kind kind;
	long at;			/* the Nth operation of the kind, from 1 */
	const char *arm;		/* NULL: armed from the start */
	atomic_int armed;
	atomic_long count;
	atomic_long injected;
	sqlite3_vfs *real;
	sqlite3_mem_methods mem;
} fault;

struct fault_file {
	sqlite3_file base;		/* first: SQLite sees this */
	sqlite3_file *real;		/* the wrapped file, right after this struct */
};

static int armed(void)
{
	if (atomic_load(&fault.armed))
		return fault.kind != FAULT_FULL || !fault.arm || access(fault.arm, F_OK) == 0;
	if (fault.arm && access(fault.arm, F_OK) != 0)
		return 0;
	atomic_store(&fault.armed, 1);
	return 1;
}

/* Whether this operation of kind k fails. */
static int hit(enum fault_kind k)
{
	long n;

	if (fault.kind != k && !(k == FAULT_WRITE && fault.kind == FAULT_FULL))
		return 0;
	if (!armed())
		return 0;
	n = atomic_fetch_add(&fault.count, 1) + 1;
	if (fault.kind == FAULT_FULL ? n < fault.at : n != fault.at)
		return 0;
	if (atomic_fetch_add(&fault.injected, 1) < 16)	/* a full disk: say so a few times */
		log_warn("fault injected: %s #%ld", k == FAULT_SYNC ? "fsync" :
			 k == FAULT_ALLOC ? "alloc" : fault.kind == FAULT_FULL ? "disk full" : "write", n);
	return 1;
}

static sqlite3_file *real_of(sqlite3_file *f)
{
	return ((struct fault_file *)(void *)f)->real;
}

static int f_close(sqlite3_file *f)
{
	return real_of(f)->pMethods ? real_of(f)->pMethods->xClose(real_of(f)) : SQLITE_OK;
}

static int f_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
	return real_of(f)->pMethods->xRead(real_of(f), p, n, off);
}

static int f_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
	if (hit(FAULT_WRITE))
		return fault.kind == FAULT_FULL ? SQLITE_FULL : SQLITE_IOERR_WRITE;
	return real_of(f)->pMethods->xWrite(real_of(f), p, n, off);
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return real_of(f)->pMethods->xTruncate(real_of(f), size);
}

static int f_sync(sqlite3_file *f, int flags)
{
	if (hit(FAULT_SYNC))
		return SQLITE_IOERR_FSYNC;
	return real_of(f)->pMethods->xSync(real_of(f), flags);
}

static int f_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return real_of(f)->pMethods->xFileSize(real_of(f), size);
}

static int f_lock(sqlite3_file *f, int l)
{
	return real_of(f)->pMethods->xLock(real_of(f), l);
}

static int f_unlock(sqlite3_file *f, int l)
{
	return real_of(f)->pMethods->xUnlock(real_of(f), l);
}

static int f_check(sqlite3_file *f, int *out)
{
	return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}

static int f_control(sqlite3_file *f, int op, void *arg)
{
	return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}

static int f_sector(sqlite3_file *f)
{
	return real_of(f)->pMethods->xSectorSize(real_of(f));
}

static int f_device(sqlite3_file *f)
{
	return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}

static int f_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **p)
{
	return real_of(f)->pMethods->xShmMap(real_of(f), pg, sz, extend, p);
}

static int f_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return real_of(f)->pMethods->xShmLock(real_of(f), off, n, flags);
}

static void f_shm_barrier(sqlite3_file *f)
{
	real_of(f)->pMethods->xShmBarrier(real_of(f));
}

static int f_shm_unmap(sqlite3_file *f, int del)
{
	return real_of(f)->pMethods->xShmUnmap(real_of(f), del);
}

static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **p)
{
	return real_of(f)->pMethods->xFetch(real_of(f), off, n, p);
}

static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return real_of(f)->pMethods->xUnfetch(real_of(f), off, p);
}

static const sqlite3_io_methods fault_io = {
	3, f_close, f_read, f_write, f_truncate, f_sync, f_size, f_lock, f_unlock, f_check,
	f_control, f_sector, f_device, f_shm_map, f_shm_lock, f_shm_barrier, f_shm_unmap,
	f_fetch, f_unfetch,
};

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
	struct fault_file *ff = (struct fault_file *)(void *)f;
	int rc;

	(void)vfs;
	ff->real = (sqlite3_file *)(void *)(ff + 1);
	rc = fault.real->xOpen(fault.real, name, ff->real, flags, out);
	/* A file the real VFS could not open has no methods: SQLite then
	 * calls none, not even xClose (ours would forward to nothing). */
	ff->base.pMethods = ff->real->pMethods ? &fault_io : NULL;
	return rc;
}

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync)
{
	(void)vfs;
	return fault.real->xDelete(fault.real, name, sync);
}

static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return fault.real->xAccess(fault.real, name, flags, out);
}

static int v_full(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return fault.real->xFullPathname(fault.real, name, n, out);
}

static void *v_dlopen(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return fault.real->xDlOpen(fault.real, name);
}

static void v_dlerror(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	fault.real->xDlError(fault.real, n, out);
}

static void (*v_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs;
	return fault.real->xDlSym(fault.real, h, sym);
}

static void v_dlclose(sqlite3_vfs *vfs, void *h)
{
	(void)vfs;
	fault.real->xDlClose(fault.real, h);
}

static int v_random(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return fault.real->xRandomness(fault.real, n, out);
}

static int v_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return fault.real->xSleep(fault.real, us);
}

static int v_time(sqlite3_vfs *vfs, double *out)
{
	(void)vfs;
	return fault.real->xCurrentTime(fault.real, out);
}

static int v_error(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return fault.real->xGetLastError(fault.real, n, out);
}

static int v_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	(void)vfs;
	return fault.real->xCurrentTimeInt64(fault.real, out);
}

static sqlite3_vfs fault_vfs = {
	2, 0, 1024, NULL, "lt-fault", NULL, v_open, v_delete, v_access, v_full, v_dlopen,
	v_dlerror, v_dlsym, v_dlclose, v_random, v_sleep, v_time, v_error, v_time64,
	NULL, NULL, NULL,
};

static void *m_malloc(int n)
{
	return hit(FAULT_ALLOC) ? NULL : fault.mem.xMalloc(n);
}

static void *m_realloc(void *p, int n)
{
	return hit(FAULT_ALLOC) ? NULL : fault.mem.xRealloc(p, n);
}

void sqlite_fault_install(void)
{
	const char *spec = getenv("LT_FAULT"), *colon;
	static const char *const kinds[] = { "", "write", "sync", "alloc", "full" };

	if (!spec || !*spec || !(colon = strchr(spec, ':')))
		return;
	for (int k = FAULT_WRITE; k <= FAULT_FULL; k++)
		if ((size_t)(colon - spec) == strlen(kinds[k]) && !strncmp(spec, kinds[k], strlen(kinds[k])))
			fault.kind = (enum fault_kind)k;
	fault.at = atol(colon + 1);
	fault.arm = getenv("LT_FAULT_ARM");
	if (fault.kind == FAULT_NONE || fault.at < 1) {
		log_error("LT_FAULT=%s: expected write:N, sync:N, alloc:N or full:N", spec);
		fault.kind = FAULT_NONE;
		return;
	}
	if (fault.kind == FAULT_ALLOC) {
		sqlite3_mem_methods m;

		sqlite3_config(SQLITE_CONFIG_GETMALLOC, &fault.mem);
		m = fault.mem;
		m.xMalloc = m_malloc;
		m.xRealloc = m_realloc;
		sqlite3_config(SQLITE_CONFIG_MALLOC, &m);
	} else {
		fault.real = sqlite3_vfs_find(NULL);
		fault_vfs.szOsFile = (int)sizeof(struct fault_file) + fault.real->szOsFile;
		fault_vfs.mxPathname = fault.real->mxPathname;
		sqlite3_vfs_register(&fault_vfs, 1);
	}
	log_warn("fault injection: %s (counting %s)", spec,
		 fault.arm ? "once LT_FAULT_ARM exists" : "from the start");
}

#else

void sqlite_fault_install(void)
{
}

#endif
