/* time.c — clocks and output formats (parsing lives in fhirtime.c). */
#include "time.h"

#include <stdio.h>
#include <time.h>

int64_t time_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void split_ms(int64_t ms, struct tm *tm, int *millis)
{
	time_t secs = (time_t)(ms / 1000);

	*millis = (int)(ms % 1000);
	if (*millis < 0) {
		*millis += 1000;
		secs--;
	}
	gmtime_r(&secs, tm);
}

void time_format_instant(int64_t ms, char out[TIME_INSTANT_LEN + 1])
{
	struct tm tm;
	int millis;

	split_ms(ms, &tm, &millis);
	/* Each field is bounded (gmtime_r ranges), so the text is exactly 24 bytes. */
	snprintf(out, TIME_INSTANT_LEN + 1, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
		 (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
		 (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
		 (unsigned)tm.tm_sec % 100u, (unsigned)millis % 1000u);
}

void time_format_http(int64_t ms, char out[TIME_HTTP_LEN + 1])
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	int millis;

	split_ms(ms, &tm, &millis);
	snprintf(out, TIME_HTTP_LEN + 1, "%s, %02u %s %04u %02u:%02u:%02u GMT",
		 days[tm.tm_wday % 7], (unsigned)tm.tm_mday % 100u, months[tm.tm_mon % 12],
		 (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)tm.tm_hour % 100u,
		 (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u);
}
