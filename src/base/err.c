/* err.c — the error table's lookups and the struct err helpers. */
#include "err.h"
#include "utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	const char *message;
	int http;
	const char *issue;
} err_table[] = {
#define ERR_ROW(name, msg, http, issue) { #name, msg, http, issue },
	ERR_TABLE(ERR_ROW)
#undef ERR_ROW
};

static int err_index(int code)
{
	return code >= 0 && code < ERR__COUNT ? code : ERR_INTERNAL;
}

const char *err_name(int code) { return err_table[err_index(code)].name; }
const char *err_message(int code) { return err_table[err_index(code)].message; }
int err_http_status(int code) { return err_table[err_index(code)].http; }
const char *err_issue_code(int code) { return err_table[err_index(code)].issue; }

int err_set(struct err *e, int code, const char *expr, const char *fmt, ...)
{
	struct err_issue *is;
	va_list ap;

	if (!e)
		return code;
	if (e->code == ERR_OK)
		e->code = code;
	if (e->n_issues >= ERR_MAX_ISSUES) {
		e->n_dropped++;
		return code;
	}
	is = &e->issue[e->n_issues++];
	va_start(ap, fmt);
	vsnprintf(is->diagnostics, sizeof(is->diagnostics), fmt, ap);
	va_end(ap);
	snprintf(is->expression, sizeof(is->expression), "%s", expr ? expr : "");
	/* Messages quote request text and may cut it: keep them valid UTF-8,
	 * since they travel in JSON (OperationOutcome) and in logs. */
	utf8_sanitize(is->diagnostics);
	utf8_sanitize(is->expression);
	return code;
}

void err_clear(struct err *e)
{
	e->code = ERR_OK;
	e->n_issues = 0;
	e->n_dropped = 0;
}
