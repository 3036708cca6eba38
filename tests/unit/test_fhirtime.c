/*
 * test_fhirtime.c — time_parse_fhir(): the R4 formats, the calendar, time
 * zones and the [low, high] interval each value covers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/time.h"

#define DAY_MS INT64_C(86400000)

static void expect(const char *s, enum time_kind kind, int64_t low, int64_t high)
{
	int64_t lo = -1, hi = -1;

	if (time_parse_fhir(s, strlen(s), kind, &lo, &hi) != 0) {
		print_error("rejected: %s\n", s);
		fail();
	}
	if (lo != low || hi != high)
		print_error("%s: got [%lld, %lld]\n", s, (long long)lo, (long long)hi);
	assert_true(lo == low);
	assert_true(hi == high);
}

static void reject(const char *s, enum time_kind kind)
{
	int64_t lo = 42, hi = 43;

	if (time_parse_fhir(s, strlen(s), kind, &lo, &hi) == 0) {
		print_error("accepted: %s (kind %d)\n", s, (int)kind);
		fail();
	}
	/* outputs untouched on failure */
	assert_true(lo == 42 && hi == 43);
}

static void test_partial_dates(void **state)
{
	(void)state;
	expect("1970", TIME_DATE, 0, 365 * DAY_MS - 1);
	expect("2024", TIME_DATE, INT64_C(1704067200000), INT64_C(1735689600000) - 1);
	expect("2024-02", TIME_DATE, INT64_C(1706745600000), INT64_C(1709251200000) - 1);
	expect("2024-02-29", TIME_DATE, INT64_C(1709164800000), INT64_C(1709164800000) + DAY_MS - 1);
	expect("1969-12-31", TIME_DATE, -DAY_MS, -1);
	expect("0001-01-01", TIME_DATE, INT64_C(-62135596800000), INT64_C(-62135596800000) + DAY_MS - 1);
	/* a dateTime may be any of the partial dates */
	expect("2024", TIME_DATETIME, INT64_C(1704067200000), INT64_C(1735689600000) - 1);
	expect("2024-02-29", TIME_DATETIME, INT64_C(1709164800000), INT64_C(1709164800000) + DAY_MS - 1);
}

/* Values without a zone are in the server's (search.html: "the server's
 * local time zone"); values with one are not moved. */
static void test_local_zone(void **state)
{
	int64_t off = -1, h7 = 7 * INT64_C(3600000);

	(void)state;
	assert_int_equal(time_parse_offset("+07:00", &off), 0);
	assert_true(off == h7);
	assert_int_equal(time_parse_offset("Z", &off), 0);
	assert_true(off == 0);
	assert_int_equal(time_parse_offset("-05:30", &off), 0);
	assert_true(off == -(5 * INT64_C(3600000) + 30 * INT64_C(60000)));
	assert_int_equal(time_parse_offset("+7", &off), -1);
	assert_int_equal(time_parse_offset("07:00", &off), -1);
	assert_int_equal(time_parse_offset("+15:00", &off), -1);
	assert_int_equal(time_parse_offset(NULL, &off), -1);
	time_set_local_offset_ms(h7);
	expect("2024-02-29", TIME_DATE, INT64_C(1709164800000) - h7,
	       INT64_C(1709164800000) + DAY_MS - 1 - h7);
	expect("2024", TIME_DATETIME, INT64_C(1704067200000) - h7, INT64_C(1735689600000) - 1 - h7);
	expect("2024-02-29T00:00:00Z", TIME_DATETIME, INT64_C(1709164800000),
	       INT64_C(1709164800000) + 999);
	time_set_local_offset_ms(0);
}

static void test_leap_days(void **state)
{
	(void)state;
	expect("2000-02-29", TIME_DATE, INT64_C(951782400000), INT64_C(951782400000) + DAY_MS - 1);
	reject("1900-02-29", TIME_DATE);	/* divisible by 100, not by 400 */
	reject("2023-02-29", TIME_DATE);
	reject("2024-02-30", TIME_DATE);
	reject("2024-04-31", TIME_DATE);
	expect("2023-02", TIME_DATE, INT64_C(1675209600000), INT64_C(1677628800000) - 1);
	expect("1900-02", TIME_DATE, INT64_C(-2206310400000), INT64_C(-2203891200000) - 1);
	expect("2024-12-31", TIME_DATE, INT64_C(1735603200000), INT64_C(1735689600000) - 1);
}

static void test_datetimes_and_offsets(void **state)
{
	(void)state;
	expect("2024-01-01T00:00:00Z", TIME_DATETIME, INT64_C(1704067200000),
	       INT64_C(1704067200999));
	expect("2024-02-29T10:00:00+07:00", TIME_DATETIME, INT64_C(1709175600000),
	       INT64_C(1709175600999));
	expect("2000-01-01T00:00:00-05:00", TIME_INSTANT, INT64_C(946702800000),
	       INT64_C(946702800999));
	expect("2016-12-31T23:59:59+14:00", TIME_INSTANT, INT64_C(1483178399000),
	       INT64_C(1483178399999));
	expect("2016-12-31T23:59:59-13:59", TIME_INSTANT, INT64_C(1483279139000),
	       INT64_C(1483279139999));
	expect("2024-01-01T00:00:00-00:00", TIME_INSTANT, INT64_C(1704067200000),
	       INT64_C(1704067200999));
	/* fractions: the interval narrows with each digit, down to the ms */
	expect("2024-01-01T00:00:00.5Z", TIME_INSTANT, INT64_C(1704067200500),
	       INT64_C(1704067200599));
	expect("2024-01-01T00:00:00.12Z", TIME_INSTANT, INT64_C(1704067200120),
	       INT64_C(1704067200129));
	expect("2024-01-01T00:00:00.123Z", TIME_INSTANT, INT64_C(1704067200123),
	       INT64_C(1704067200123));
	expect("2024-01-01T00:00:00.123999Z", TIME_INSTANT, INT64_C(1704067200123),
	       INT64_C(1704067200123));
	/* leap second: the first second of the next minute */
	expect("2016-12-31T23:59:60Z", TIME_INSTANT, INT64_C(1483228800000),
	       INT64_C(1483228800999));
	expect("9999-12-31T23:59:59.999Z", TIME_INSTANT, INT64_C(253402300799999),
	       INT64_C(253402300799999));
}

static void test_times(void **state)
{
	(void)state;
	expect("00:00:00", TIME_TIME, 0, 999);
	expect("23:59:59", TIME_TIME, 86399000, 86399999);
	expect("12:30:15.25", TIME_TIME, 45015250, 45015259);
	expect("23:59:60", TIME_TIME, 86400000, 86400999);
	reject("24:00:00", TIME_TIME);
	reject("12:60:00", TIME_TIME);
	reject("12:00:61", TIME_TIME);
	reject("12:00", TIME_TIME);
	reject("12:00:00Z", TIME_TIME);
	reject("12:00:00.", TIME_TIME);
	reject("1:00:00", TIME_TIME);
	reject("2024-01-01", TIME_TIME);
}

static void test_bad_inputs(void **state)
{
	(void)state;
	reject("", TIME_DATE);
	reject("0000", TIME_DATE);		/* the R4 regex has no year 0 */
	reject("999", TIME_DATE);
	reject("20245", TIME_DATE);
	reject("2024-", TIME_DATE);
	reject("2024-1", TIME_DATE);
	reject("2024-00", TIME_DATE);
	reject("2024-13", TIME_DATE);
	reject("2024-01-00", TIME_DATE);
	reject("2024-01-32", TIME_DATE);
	reject("2024-01-1", TIME_DATE);
	reject("2024/01/01", TIME_DATE);
	reject(" 2024", TIME_DATE);
	reject("2024 ", TIME_DATE);
	reject("+2024", TIME_DATE);
	reject("2024-01-01T00:00:00Z", TIME_DATE);	/* a date has no time */
	/* dateTime: time needs seconds and a zone */
	reject("2024-01-01T10:00:00", TIME_DATETIME);
	reject("2024-01-01T10:00Z", TIME_DATETIME);
	reject("2024-01-01T10Z", TIME_DATETIME);
	reject("2024-01-01T", TIME_DATETIME);
	reject("2024-01-01 10:00:00Z", TIME_DATETIME);
	reject("2024-01-01t10:00:00Z", TIME_DATETIME);
	reject("2024-01-01T10:00:00z", TIME_DATETIME);
	reject("2024-01-01T24:00:00Z", TIME_DATETIME);
	reject("2024-01-01T10:00:00+0700", TIME_DATETIME);
	reject("2024-01-01T10:00:00+07", TIME_DATETIME);
	reject("2024-01-01T10:00:00+14:01", TIME_DATETIME);
	reject("2024-01-01T10:00:00+15:00", TIME_DATETIME);
	reject("2024-01-01T10:00:00+07:60", TIME_DATETIME);
	reject("2024-01-01T10:00:00.Z", TIME_DATETIME);
	reject("2024-01-01T10:00:00ZZ", TIME_DATETIME);
	reject("2024-02-30T10:00:00Z", TIME_DATETIME);
	reject("2024-01T10:00:00Z", TIME_DATETIME);
	/* instant: always to the second, with a zone */
	reject("2024", TIME_INSTANT);
	reject("2024-01", TIME_INSTANT);
	reject("2024-01-01", TIME_INSTANT);
	reject("2024-01-01T10:00:00", TIME_INSTANT);
	assert_int_equal(time_parse_fhir(NULL, 0, TIME_DATE, NULL, NULL), -1);
}

static void test_counted_bytes_and_null_outputs(void **state)
{
	int64_t lo = 0;

	(void)state;
	/* only n bytes are read: no NUL needed, trailing bytes ignored */
	assert_int_equal(time_parse_fhir("2024-02-29garbage", 10, TIME_DATE, &lo, NULL), 0);
	assert_true(lo == INT64_C(1709164800000));
	assert_int_equal(time_parse_fhir("2024-02-29", 7, TIME_DATE, NULL, NULL), 0);
	assert_int_equal(time_parse_fhir("2024-02-29", 9, TIME_DATE, NULL, NULL), -1);
	assert_int_equal(time_parse_fhir("2024-02-29", 10, TIME_DATE, NULL, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_partial_dates),
		cmocka_unit_test(test_local_zone),
		cmocka_unit_test(test_leap_days),
		cmocka_unit_test(test_datetimes_and_offsets),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_counted_bytes_and_null_outputs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
