/*
 * err.h — the one error table of lienthong.
 *
 * Every failure in the code base is one of the codes below. Each entry says
 * what the code means to a person, which HTTP status it becomes, and which
 * FHIR OperationOutcome issue.code it carries, so that the HTTP layer, the
 * CLI and (later) the MLLP layer all speak of an error the same way.
 * 0 is success. Codes are never reused: add new ones at the end.
 *
 * Detail travels in a caller-owned `struct err`: one or more issues, each a
 * human message and an optional FHIRPath location (issue.expression). A
 * function that succeeds leaves the struct untouched. Not thread-shared:
 * each request owns its own.
 */
#ifndef LT_BASE_ERR_H
#define LT_BASE_ERR_H

#include <stddef.h>

#define LT_MUST_CHECK __attribute__((warn_unused_result))
#define LT_PRINTF(f, a) __attribute__((format(printf, f, a)))

/*       name                  message                                  http  issue.code */
#define ERR_TABLE(X) \
	X(ERR_OK,               "success",                                 200, "informational") \
	X(ERR_NOMEM,            "out of memory",                           503, "transient") \
	X(ERR_BAD_REQUEST,      "bad request",                             400, "invalid") \
	X(ERR_JSON,             "the body is not valid JSON",              400, "structure") \
	X(ERR_INVALID,          "the resource is not valid FHIR R4",       400, "invalid") \
	X(ERR_TOO_LARGE,        "the request body is too large",           413, "too-long") \
	X(ERR_URL_TOO_LONG,     "the URL is too long",                     414, "too-long") \
	X(ERR_TOO_DEEP,         "the JSON nests too deeply",               400, "too-costly") \
	X(ERR_NOT_FOUND,        "not found",                               404, "not-found") \
	X(ERR_GONE,             "the resource has been deleted",           410, "deleted") \
	X(ERR_UNKNOWN_TYPE,     "unknown resource type",                   404, "not-supported") \
	X(ERR_METHOD,           "method not allowed here",                 405, "not-supported") \
	X(ERR_NOT_ACCEPTABLE,   "cannot produce the requested format",     406, "not-supported") \
	X(ERR_MEDIA_TYPE,       "unsupported media type",                  415, "not-supported") \
	X(ERR_PRECONDITION,     "version conflict (If-Match)",             412, "conflict") \
	X(ERR_CONFLICT,         "conflicting concurrent change",           409, "conflict") \
	X(ERR_PATCH,            "the patch cannot be applied",             422, "processing") \
	X(ERR_NOT_SUPPORTED,    "not supported",                           501, "not-supported") \
	X(ERR_STORE,            "storage failure",                         500, "exception") \
	X(ERR_DISK_FULL,        "the disk is full",                        507, "no-store") \
	X(ERR_BUSY,             "the server is busy; try again",           503, "transient") \
	X(ERR_SHUTDOWN,         "the server is shutting down",             503, "transient") \
	X(ERR_IO,               "input/output error",                      503, "transient") \
	X(ERR_CONFIG,           "configuration error",                     500, "exception") \
	X(ERR_USAGE,            "usage error",                             400, "invalid") \
	X(ERR_INTERNAL,         "internal error",                          500, "exception") \
	X(ERR_UNPROCESSABLE,    "the resource breaks a business rule",     422, "business-rule") \
	X(ERR_DUPLICATE,        "already received and processed",          409, "duplicate") \
	X(ERR_UNAUTHORIZED,     "authentication is required",              401, "login") \
	X(ERR_FORBIDDEN,        "not allowed for this credential",         403, "forbidden") \
	X(ERR_TOO_MANY,         "too many requests; slow down",            429, "throttled")

enum err_code {
#define ERR_ENUM(name, msg, http, issue) name,
	ERR_TABLE(ERR_ENUM)
#undef ERR_ENUM
	ERR__COUNT
};

#define ERR_MAX_ISSUES 16
#define ERR_DIAG_MAX 256
#define ERR_EXPR_MAX 192

struct err_issue {
	char diagnostics[ERR_DIAG_MAX];
	char expression[ERR_EXPR_MAX];	/* FHIRPath location, "" when none */
};

struct err {
	int code;			/* enum err_code; ERR_OK when nothing was set */
	int n_issues;			/* issues kept, at most ERR_MAX_ISSUES */
	int n_dropped;			/* issues beyond the cap, counted only */
	struct err_issue issue[ERR_MAX_ISSUES];
};

const char *err_name(int code);
const char *err_message(int code);
int err_http_status(int code);
const char *err_issue_code(int code);

/* Sets e->code (if not already set) and appends one issue. Returns code,
 * so `return err_set(e, ERR_X, NULL, "...")` reads naturally.
 * expr may be NULL. e may be NULL (then only the code is returned). */
int err_set(struct err *e, int code, const char *expr, const char *fmt, ...)
	LT_PRINTF(4, 5);
void err_clear(struct err *e);

#endif
