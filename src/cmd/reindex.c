/*
 * reindex.c — `lienthong reindex`: rebuilds the search index of the store
 * in --data, online (a running server keeps serving; see api/reindex.c).
 */
#include <stdio.h>
#include <unistd.h>
#include "cmd.h"
#include "../api/api.h"
#include "../base/log.h"
#include "../base/time.h"

struct progress {
	int tty;
	int64_t t0;
};

static void on_progress(void *arg, int64_t done, int64_t total)
{
	struct progress *p = arg;
	double s = (double)(time_monotonic_ms() - p->t0) / 1000.0;
	double rate = s > 0 ? (double)done / s : 0;

	if (p->tty)
		fprintf(stderr, "\rreindex: %lld / %lld resources, %.0f/s, ETA %.0f s   ",
			(long long)done, (long long)total, rate,
			rate > 0 && total > done ? (double)(total - done) / rate : 0.0);
	else if (done == total || done % 65536 < 256)
		fprintf(stderr, "reindex: %lld / %lld resources, %.0f/s\n", (long long)done,
			(long long)total, rate);
}

int cmd_reindex(int argc, char **argv)
{
	struct config cfg;
	struct store *st = NULL;
	struct err e = { 0 };
	struct progress p = { isatty(2), time_monotonic_ms() };
	int rc;

	if ((rc = config_load(&cfg, argc, argv)))
		return rc;
	{
		struct store_config sc;

		config_store(&cfg, &sc);
		rc = store_open(&sc, &st, &e);
		if (!rc)
			rc = api_reindex(st, on_progress, &p, &e);
	}
	if (p.tty)
		fputc('\n', stderr);
	if (rc) {
		fprintf(stderr, "lienthong: reindex failed: %s\n",
			e.n_issues ? e.issue[0].diagnostics : err_message(rc));
		rc = 1;
	} else {
		fprintf(stderr, "reindex: done in %.1f s\n",
			(double)(time_monotonic_ms() - p.t0) / 1000.0);
	}
	store_close(st);
	config_release(&cfg);
	return rc;
}
