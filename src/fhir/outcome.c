/* outcome.c — OperationOutcome from a struct err. */
#include "fhir.h"

#include <stdio.h>
#include "../base/json.h"

static struct json_object *outcome_issue(const char *severity, const char *code,
					 const char *diagnostics, const char *expression)
{
	struct json_object *is = json_object_new_object();

	if (!is)
		return NULL;
	json_object_object_add(is, "severity", json_object_new_string(severity));
	json_object_object_add(is, "code", json_object_new_string(code));
	if (diagnostics && *diagnostics)
		json_object_object_add(is, "diagnostics", json_object_new_string(diagnostics));
	if (expression && *expression) {
		struct json_object *ex = json_object_new_array();
		json_object_array_add(ex, json_object_new_string(expression));
		json_object_object_add(is, "expression", ex);
	}
	return is;
}

struct json_object *fhir_outcome_new(const struct err *e)
{
	struct json_object *oo = json_object_new_object(), *issues = json_object_new_array();
	int ok = e->code == ERR_OK;
	const char *severity = ok ? "information" : "error";
	const char *code = err_issue_code(e->code);

	if (!oo || !issues) {
		json_object_put(oo);
		json_object_put(issues);
		return NULL;
	}
	json_object_object_add(oo, "resourceType", json_object_new_string("OperationOutcome"));
	for (int i = 0; i < e->n_issues; i++)
		json_object_array_add(issues, outcome_issue(severity, code, e->issue[i].diagnostics,
							    e->issue[i].expression));
	if (e->n_dropped) {
		char msg[96];
		snprintf(msg, sizeof(msg), "%d further issues were not listed", e->n_dropped);
		json_object_array_add(issues, outcome_issue(severity, code, msg, NULL));
	}
	if (!e->n_issues)
		json_object_array_add(issues, outcome_issue(severity, code, err_message(e->code), NULL));
	json_object_object_add(oo, "issue", issues);
	return oo;
}

int fhir_outcome_write(struct buf *b, const struct err *e, int pretty)
{
	struct json_object *oo = fhir_outcome_new(e);
	int rc;

	if (!oo)
		return ERR_NOMEM;
	rc = json_write(b, oo, pretty);
	json_object_put(oo);
	return rc;
}
