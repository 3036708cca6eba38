/*
 * fhirtime.c — time_parse_fhir(): FHIR date, dateTime, instant and time
 * values, checked against the R4 regular expressions and the real calendar,
 * turned into the interval of milliseconds they cover.
 *
 * No libc time functions: the day number comes from days_from_civil (the
 * proleptic Gregorian calendar, as in H. Hinnant's date algorithms), so the
 * result does not depend on the process time zone and the code is
 * thread-safe.
 *
 * Precision decides the interval: "2024" covers the whole year,
 * "2024-02-29T10:00:00+07:00" one second, ".5" a tenth of a second; digits
 * beyond milliseconds are truncated (".1239" lies within millisecond 123).
 * A leap second ":60" is read as the first second of the next minute.
 */
#include "time.h"

#include <stdbool.h>
#include <string.h>

#define MS_PER_SECOND INT64_C(1000)
#define MS_PER_MINUTE INT64_C(60000)
#define MS_PER_HOUR INT64_C(3600000)
#define MS_PER_DAY INT64_C(86400000)

struct cursor {
	const char *p;
	size_t n, i;
};

static bool at_end(const struct cursor *c)
{
	return c->i >= c->n;
}

static bool accept(struct cursor *c, char ch)
{
	if (c->i < c->n && c->p[c->i] == ch) {
		c->i++;
		return true;
	}
	return false;
}

/* Exactly `digits` decimal digits into *out. */
static bool number(struct cursor *c, int digits, int *out)
{
	int v = 0, k;

	if (c->n - c->i < (size_t)digits)
		return false;
	for (k = 0; k < digits; k++) {
		char ch = c->p[c->i + (size_t)k];

		if (ch < '0' || ch > '9')
			return false;
		v = v * 10 + (ch - '0');
	}
	c->i += (size_t)digits;
	*out = v;
	return true;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* hh:mm:ss(.f+)? into ms since midnight and the width of its precision. */
static bool clock_time(struct cursor *c, int64_t *ms, int64_t *width)
{
	int hh, mm, ss;
	int64_t frac = 0;

	if (!number(c, 2, &hh) || hh > 23 || !accept(c, ':') || !number(c, 2, &mm) || mm > 59 ||
	    !accept(c, ':') || !number(c, 2, &ss) || ss > 60)
		return false;
	*width = MS_PER_SECOND;
	if (accept(c, '.')) {
		int digits = 0;

		while (!at_end(c) && c->p[c->i] >= '0' && c->p[c->i] <= '9') {
			if (digits < 3) {
				frac = frac * 10 + (c->p[c->i] - '0');
				*width /= 10;
			}
			digits++;
			c->i++;
		}
		if (digits == 0)
			return false;
		for (int k = digits; k < 3; k++)
			frac *= 10;
	}
	*ms = (int64_t)hh * MS_PER_HOUR + (int64_t)mm * MS_PER_MINUTE +
	      (int64_t)ss * MS_PER_SECOND + frac;
	return true;
}

/* Z | (+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00), as ms east of UTC. */
static bool zone(struct cursor *c, int64_t *offset_ms)
{
	int sign, hh, mm;

	if (accept(c, 'Z')) {
		*offset_ms = 0;
		return true;
	}
	if (accept(c, '+'))
		sign = 1;
	else if (accept(c, '-'))
		sign = -1;
	else
		return false;
	if (!number(c, 2, &hh) || !accept(c, ':') || !number(c, 2, &mm) || mm > 59)
		return false;
	if (hh > 14 || (hh == 14 && mm != 0))
		return false;
	*offset_ms = sign * ((int64_t)hh * MS_PER_HOUR + (int64_t)mm * MS_PER_MINUTE);
	return true;
}

static int64_t local_offset;

void time_set_local_offset_ms(int64_t offset_ms)
{
	local_offset = offset_ms;
}

int64_t time_local_offset_ms(void)
{
	return local_offset;
}

int time_parse_offset(const char *s, int64_t *offset_ms)
{
	struct cursor c = { s, s ? strlen(s) : 0, 0 };

	return s && zone(&c, offset_ms) && at_end(&c) ? 0 : -1;
}

int time_parse_fhir(const char *s, size_t n, enum time_kind kind, int64_t *low_ms,
		    int64_t *high_ms)
{
	struct cursor c = { s, n, 0 };
	int year, month = 1, day = 1;
	int64_t low, high, ms, width, offset;

	if (!s)
		return -1;
	if (kind == TIME_TIME) {
		if (!clock_time(&c, &ms, &width) || !at_end(&c))
			return -1;
		low = ms;
		high = ms + width - 1;
		goto done;
	}
	if (!number(&c, 4, &year) || year == 0)
		return -1;
	if (at_end(&c)) {
		if (kind == TIME_INSTANT)
			return -1;
		low = days_from_civil(year, 1, 1) * MS_PER_DAY;
		high = days_from_civil(year + 1, 1, 1) * MS_PER_DAY - 1;
		goto local;
	}
	if (!accept(&c, '-') || !number(&c, 2, &month) || month < 1 || month > 12)
		return -1;
	if (at_end(&c)) {
		if (kind == TIME_INSTANT)
			return -1;
		low = days_from_civil(year, month, 1) * MS_PER_DAY;
		high = low + days_in_month(year, month) * MS_PER_DAY - 1;
		goto local;
	}
	if (!accept(&c, '-') || !number(&c, 2, &day) || day < 1 ||
	    day > days_in_month(year, month))
		return -1;
	low = days_from_civil(year, month, day) * MS_PER_DAY;
	if (at_end(&c)) {
		if (kind == TIME_INSTANT)
			return -1;
		high = low + MS_PER_DAY - 1;
		goto local;
	}
	if (kind == TIME_DATE || !accept(&c, 'T') || !clock_time(&c, &ms, &width) ||
	    !zone(&c, &offset) || !at_end(&c))
		return -1;
	low += ms - offset;
	high = low + width - 1;
	goto done;
local:	/* no time, no zone: the local one */
	low -= local_offset;
	high -= local_offset;
done:
	if (low_ms)
		*low_ms = low;
	if (high_ms)
		*high_ms = high;
	return 0;
}
