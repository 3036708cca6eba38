/*
 * sqlite_fault.c — faults under the SQLite backend, for the reliability
 * harness (base/fault.h says which, and when): a VFS wrapping the default
 * one fails writes and fsyncs of every file SQLite opens (databases, WAL,
 * journals), and an allocator wrapping SQLite's fails its allocations.
 * Compiled in only with LT_FAULT_INJECTION.
 */
#include "sqlite_int.h"

#ifdef LT_FAULT_INJECTION

#include <stdlib.h>
#include "../base/fault.h"
#include "../base/log.h"

static struct {
	sqlite3_vfs *real;
	sqlite3_mem_methods mem;
} fault;

struct fault_file {
	sqlite3_file base;		/* first: SQLite sees this */
	sqlite3_file *real;		/* the wrapped file, right after this struct */
};

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
	if (fault_hit(FAULT_WRITE))
		return fault_configured() == FAULT_FULL ? SQLITE_FULL : SQLITE_IOERR_WRITE;
	return real_of(f)->pMethods->xWrite(real_of(f), p, n, off);
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return real_of(f)->pMethods->xTruncate(real_of(f), size);
}

static int f_sync(sqlite3_file *f, int flags)
{
	if (fault_hit(FAULT_SYNC))
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
	return fault_hit(FAULT_ALLOC) ? NULL : fault.mem.xMalloc(n);
}

static void *m_realloc(void *p, int n)
{
	return fault_hit(FAULT_ALLOC) ? NULL : fault.mem.xRealloc(p, n);
}

void sqlite_fault_install(void)
{
	enum fault_kind k = fault_configured();

	if (k == FAULT_NONE) {
		if (getenv("LT_FAULT"))
			log_error("LT_FAULT=%s: expected write:N, sync:N, alloc:N, malloc:N, full:N or slowsync:N"
				  " (N >= 1)", getenv("LT_FAULT"));
		return;
	}
	if (k == FAULT_ALLOC) {
		sqlite3_mem_methods m;

		sqlite3_config(SQLITE_CONFIG_GETMALLOC, &fault.mem);
		m = fault.mem;
		m.xMalloc = m_malloc;
		m.xRealloc = m_realloc;
		sqlite3_config(SQLITE_CONFIG_MALLOC, &m);
	} else if (k != FAULT_MALLOC) {
		fault.real = sqlite3_vfs_find(NULL);
		fault_vfs.szOsFile = (int)sizeof(struct fault_file) + fault.real->szOsFile;
		fault_vfs.mxPathname = fault.real->mxPathname;
		sqlite3_vfs_register(&fault_vfs, 1);
	}
	log_warn("fault injection: %s (counting %s)", getenv("LT_FAULT"),
		 getenv("LT_FAULT_ARM") ? "once LT_FAULT_ARM exists" : "from the start");
}

#else

void sqlite_fault_install(void)
{
}

#endif
