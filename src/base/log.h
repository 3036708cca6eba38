/*
 * log.h — one-line diagnostics on stderr.
 *
 * Never log patient data: log resource types, route kinds, statuses and
 * durations, never bodies, ids from a query string, or names. The level is
 * set once at start-up (before threads) and only read afterwards.
 */
#ifndef LT_BASE_LOG_H
#define LT_BASE_LOG_H

#include "err.h"

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
/* Parses "error", "warn", "info", "debug"; returns -1 when unknown. */
int log_level_parse(const char *name);
void log_msg(enum log_level level, const char *fmt, ...) LT_PRINTF(2, 3);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
