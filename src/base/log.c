/* log.c — timestamped lines on stderr, one fprintf per line. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "time.h"

static enum log_level log_threshold = LOG_INFO;
static const char *const log_names[] = { "error", "warn", "info", "debug" };

void log_set_level(enum log_level level) { log_threshold = level; }

int log_level_parse(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, log_names[i]) == 0)
			return i;
	return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char when[TIME_INSTANT_LEN + 1], line[1024];
	va_list ap;

	if (level > log_threshold)
		return;
	time_format_instant(time_now_ms(), when);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s %s %s\n", when, log_names[level], line);
}
