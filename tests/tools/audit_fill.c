/*
 * audit_fill — appends audit records to the store in DIR through
 * store_audit (the path the server's requests will take), for the
 * integration tests while the request path does not audit yet.
 *
 *   audit_fill DIR N     N records, then flush and close
 *
 * Record i (from 1): agent user/u(i % 3), patient Patient/p(i % 4) (none
 * when i % 4 == 0), a read of that patient or a search, at 2026-01-01T00:00Z
 * + i minutes, from 10.0.0.(i % 250); record 5 is a break-glass access.
 * Prints "appended N".
 */
#include <stdio.h>
#include <stdlib.h>

#include "base/err.h"
#include "store/store.h"

#define FILL_START_MS 1767225600000LL	/* 2026-01-01T00:00:00Z */

int main(int argc, char **argv)
{
	struct store_config cfg = { .backend = "sqlite" };
	struct store *st = NULL;
	struct err e = { 0 };
	long n;
	int rc = 0;

	if (argc != 3 || (n = atol(argv[2])) < 1) {
		fprintf(stderr, "usage: audit_fill DIR N\n");
		return 2;
	}
	cfg.data_dir = argv[1];
	if (store_open(&cfg, &st, &e)) {
		fprintf(stderr, "audit_fill: %s\n", e.n_issues ? e.issue[0].diagnostics : err_name(e.code));
		return 1;
	}
	for (long i = 1; !rc && i <= n; i++) {
		char agent[32], patient[32], entity[64], source[32];
		struct store_audit a = {
			.tenant = STORE_DEFAULT_TENANT, .at_ms = FILL_START_MS + i * 60000, .agent = agent,
			.action = "R", .patient = patient, .entity = entity, .source = source,
			.outcome = i % 7 ? 200 : 403, .purpose = "TREAT", .detail = "",
		};

		snprintf(agent, sizeof(agent), "user/u%ld", i % 3);
		patient[0] = '\0';
		if (i % 4)
			snprintf(patient, sizeof(patient), "Patient/p%ld", i % 4);
		snprintf(source, sizeof(source), "10.0.0.%ld", i % 250);
		if (i % 2) {
			a.subtype = "read";
			snprintf(entity, sizeof(entity), "%s", i % 4 ? patient : "Organization/o1");
		} else {
			a.subtype = "search-type";
			snprintf(entity, sizeof(entity), "Observation?subject=%s&code=1234-5", patient);
		}
		if (i == 5) {
			a.flags = STORE_AUDIT_BREAK_GLASS;
			a.purpose = "ETREAT";
			a.detail = "emergency: patient unconscious";
		}
		rc = store_audit(st, &a, &e);
	}
	if (!rc)
		rc = store_audit_flush(st, &e);
	if (rc)
		fprintf(stderr, "audit_fill: %s\n", e.n_issues ? e.issue[0].diagnostics : err_name(rc));
	else
		printf("appended %ld\n", n);
	store_close(st);
	return rc ? 1 : 0;
}
