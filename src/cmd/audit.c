/*
 * audit.c — `lienthong audit verify|list`: the audit trail of the store in
 * --data, for an administrator (decision 0016).
 *
 *   verify          walks the whole hash chain; prints "audit trail: N
 *                   records, intact" (exit 0) or one line per problem,
 *                   "audit record SEQ: WHAT" (exit 1)
 *   list [filters]  one line per record, newest first
 *
 * Both read only; a server may keep running on the same store.
 */
#include "cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "../base/time.h"
#include "../store/store.h"

#define AUDIT_LIST_DEFAULT 100
#define AUDIT_LIST_MAX 1000000

struct audit_args {
	struct store_audit_query q;
	char **rest;			/* the shared settings (--data, --config) */
	int nrest;
};

/* The options of list (verify takes none of its own); the rest go to config_load. */
static int audit_args(int argc, char **argv, int list, struct audit_args *a)
{
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (list && v && !strcmp(o, "--patient")) {
			a->q.patient = v;
			i++;
		} else if (list && v && !strcmp(o, "--agent")) {
			a->q.agent = v;
			i++;
		} else if (list && v && !strcmp(o, "--tenant")) {
			a->q.tenant = atoll(v);
			i++;
		} else if (list && !strcmp(o, "--break-glass")) {
			a->q.flags |= STORE_AUDIT_BREAK_GLASS;
		} else if (list && v && (!strcmp(o, "--since") || !strcmp(o, "--until"))) {
			if (config_parse_time("audit", o, v, o[2] == 'u', o[2] == 'u' ? &a->q.until_ms : &a->q.since_ms))
				return 2;
			i++;
		} else if (list && v && !strcmp(o, "--limit")) {
			char *end;
			long n;

			errno = 0;
			n = strtol(v, &end, 10);
			if (end == v || *end || errno || n < 1 || n > AUDIT_LIST_MAX) {
				fprintf(stderr, "lienthong: audit: --limit takes a number from 1 to %d\n",
					AUDIT_LIST_MAX);
				return 2;
			}
			a->q.limit = (int)n;
			i++;
		} else if (!strncmp(o, "--", 2)) {
			a->rest[a->nrest++] = argv[i];
			if (!strchr(o, '=') && v)
				a->rest[a->nrest++] = argv[++i];
		} else {
			fprintf(stderr, "lienthong: audit: unexpected '%s'\n", o);
			return 2;
		}
	}
	return 0;
}

/* Opens the store of an existing data directory: a mistyped --data must
 * not make a new, empty (and so "intact") store. */
static int open_store(struct audit_args *a, struct config *cfg, struct store **st)
{
	struct store_config sc;
	struct err e = { 0 };
	struct stat sb;
	char path[4200];

	if (config_load(cfg, a->nrest, a->rest))
		return 2;
	snprintf(path, sizeof(path), "%s/lienthong.db", cfg->data_dir);
	if (stat(path, &sb) != 0) {
		fprintf(stderr, "lienthong: audit: no store in %s (%s)\n", cfg->data_dir, strerror(errno));
		config_release(cfg);
		return 1;
	}
	config_store(cfg, &sc);
	if (store_open(&sc, st, &e)) {
		fprintf(stderr, "lienthong: %s\n", e.n_issues ? e.issue[0].diagnostics : err_message(e.code));
		config_release(cfg);
		return 1;
	}
	return 0;
}

static int print_problem(void *ctx, const struct store_audit_problem *p)
{
	(*(int64_t *)ctx)++;
	printf("audit record %lld: %s\n", (long long)p->seq, p->what);
	return 0;
}

static int audit_verify(struct audit_args *a)
{
	struct config cfg;
	struct store *st = NULL;
	struct err e = { 0 };
	int64_t checked = 0, problems = 0;
	int rc;

	if ((rc = open_store(a, &cfg, &st)))
		return rc;
	if (store_audit_verify(st, print_problem, &problems, &checked, &e)) {
		fprintf(stderr, "lienthong: audit verify: %s\n",
			e.n_issues ? e.issue[0].diagnostics : err_message(e.code));
		rc = 1;
	} else if (problems) {
		fprintf(stderr, "audit trail: %lld records, %lld problems\n", (long long)checked,
			(long long)problems);
		rc = 1;
	} else {
		printf("audit trail: %lld records, intact\n", (long long)checked);
	}
	store_close(st);
	config_release(&cfg);
	return rc;
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

static int print_record(void *ctx, const struct store_audit *r)
{
	char when[TIME_INSTANT_LEN + 1], what[96];

	(void)ctx;
	time_format_instant(r->at_ms, when);
	snprintf(what, sizeof(what), "%s/%s", r->action, r->subtype);
	printf("%8lld  %s  %-20s  %-18s  %-28s  %-20s  %-15s  %3d  %-6s  %s%s%s\n",
	       (long long)r->seq, when, or_dash(r->agent), what, or_dash(r->entity),
	       or_dash(r->patient), or_dash(r->source), r->outcome, or_dash(r->purpose),
	       r->flags & STORE_AUDIT_BREAK_GLASS ? "break-glass" : "-", r->detail[0] ? "  " : "",
	       r->detail);
	return 0;
}

static int audit_list(struct audit_args *a)
{
	struct config cfg;
	struct store *st = NULL;
	struct err e = { 0 };
	int rc;

	if (!a->q.limit)
		a->q.limit = AUDIT_LIST_DEFAULT;
	if ((rc = open_store(a, &cfg, &st)))
		return rc;
	printf("%8s  %-24s  %-20s  %-18s  %-28s  %-20s  %-15s  %3s  %-6s  %s\n", "seq", "at (UTC)",
	       "agent", "action/subtype", "entity", "patient", "source", "out", "purpose", "flags");
	if (store_audits(st, &a->q, print_record, NULL, &e)) {
		fprintf(stderr, "lienthong: audit list: %s\n",
			e.n_issues ? e.issue[0].diagnostics : err_message(e.code));
		rc = 1;
	}
	store_close(st);
	config_release(&cfg);
	return rc;
}

int cmd_audit(int argc, char **argv)
{
	struct audit_args a = { 0 };
	int list = argc >= 2 && !strcmp(argv[1], "list");
	int rc;

	if (argc < 2 || (!list && strcmp(argv[1], "verify"))) {
		fprintf(stderr, "usage: lienthong audit verify [--data DIR]\n"
			"       lienthong audit list [--data DIR] [--patient Patient/ID] [--agent A]\n"
			"                 [--tenant N] [--since T] [--until T] [--break-glass] [--limit N]\n");
		return 2;
	}
	if (!(a.rest = calloc((size_t)argc + 1, sizeof(char *))))
		return 1;
	a.rest[a.nrest++] = argv[1];
	rc = audit_args(argc - 1, argv + 1, list, &a);
	if (!rc)
		rc = list ? audit_list(&a) : audit_verify(&a);
	free(a.rest);
	return rc;
}
