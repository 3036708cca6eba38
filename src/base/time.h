/*
 * time.h — clocks and the date/time formats lienthong speaks.
 *
 * All times inside are milliseconds since the Unix epoch, UTC (int64_t).
 * FHIR date, dateTime and instant values are partial: "2024" means the whole
 * year. time_parse_fhir() turns such a value into the interval [low, high]
 * in ms it covers, which is what validation and search (_since, date
 * prefixes) need. Thread-safe: uses only the _r forms of libc.
 */
#ifndef LT_BASE_TIME_H
#define LT_BASE_TIME_H

#include <stddef.h>
#include <stdint.h>

enum time_kind {
	TIME_DATE,	/* YYYY, YYYY-MM, YYYY-MM-DD */
	TIME_DATETIME,	/* a date, or YYYY-MM-DDThh:mm:ss(.f+)?(Z|+hh:mm) */
	TIME_INSTANT,	/* YYYY-MM-DDThh:mm:ss(.f+)?(Z|+hh:mm), always full */
	TIME_TIME	/* hh:mm:ss(.f+)? — low/high are ms since midnight */
};

int64_t time_now_ms(void);		/* wall clock */
int64_t time_monotonic_ms(void);	/* for durations */

/* Parses a FHIR value of the given kind per the R4 regular expressions
 * (including real calendar checks: no 2023-02-30). Returns 0 and sets the
 * interval (either pointer may be NULL), or -1 when the text is not valid.
 * A value without a time zone is read as UTC. */
int time_parse_fhir(const char *s, size_t n, enum time_kind kind, int64_t *low_ms,
		    int64_t *high_ms);
/* The zone of values without a time ("2024", "2024-05", "2024-05-05"):
 * FHIR search assumes the server's local time zone (search.html, date).
 * An offset from UTC in ms, set once at start before any parsing (the
 * setting `timezone`, +07:00 by default); 0 until set. Not thread-safe to
 * change while other threads parse. */
void time_set_local_offset_ms(int64_t offset_ms);
int64_t time_local_offset_ms(void);
/* "Z", "+07:00", "-05:30" into ms; -1 when it is not one. */
int time_parse_offset(const char *s, int64_t *offset_ms);

#define TIME_INSTANT_LEN 24	/* "2026-11-22T15:45:30.123Z" */
#define TIME_HTTP_LEN 29	/* "Sun, 22 Nov 2026 15:45:30 GMT" */
/* Writes a FHIR instant with milliseconds, UTC, NUL-terminated. */
void time_format_instant(int64_t ms, char out[TIME_INSTANT_LEN + 1]);
/* Writes an RFC 9110 IMF-fixdate, for Last-Modified. */
void time_format_http(int64_t ms, char out[TIME_HTTP_LEN + 1]);

#endif
