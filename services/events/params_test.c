/* params_test.c: path ids, limits, dates, LIKE escaping and the keyset
 * cursors of both lists. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "events.h"
#include "testing.h"

START_TEST(id_accepts_positive_decimal_integers)
{
	int64_t v = 0;

	ck_assert(events_parse_id("1", &v));
	ck_assert_int_eq(v, 1);
	ck_assert(events_parse_id("00042", &v));
	ck_assert_int_eq(v, 42);
	ck_assert(events_parse_id("9223372036854775807", &v));
	ck_assert_int_eq(v, INT64_MAX);
}
END_TEST

START_TEST(id_rejects_zero_signs_spaces_overflow_and_text)
{
	static const char *const bad[] = {
	    "",
	    "0",
	    "-1",
	    "+1",
	    " 1",
	    "1 ",
	    "1a",
	    "abc",
	    "1.0",
	    "0x10",
	    "9223372036854775808",
	    "99999999999999999999",
	    "12345678901234567890",
	};
	int64_t v = 7;

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		ck_assert_msg(!events_parse_id(bad[i], &v), "accepted '%s'",
		              bad[i]);
	}
	ck_assert(!events_parse_id(NULL, &v));
	ck_assert_int_eq(v, 7);
}
END_TEST

START_TEST(limit_defaults_to_20_and_accepts_1_to_100)
{
	int n = 0;

	ck_assert(events_parse_limit(NULL, &n));
	ck_assert_int_eq(n, 20);
	ck_assert(events_parse_limit("1", &n));
	ck_assert_int_eq(n, 1);
	ck_assert(events_parse_limit("100", &n));
	ck_assert_int_eq(n, 100);
}
END_TEST

START_TEST(limit_rejects_out_of_range_and_non_integers)
{
	static const char *const bad[] = {"",   "0",   "101",
	                                  "-1", "abc", "10.5",
	                                  " 5", "1e2", "99999999999999999999"};
	int n = 0;

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		ck_assert_msg(!events_parse_limit(bad[i], &n), "accepted '%s'",
		              bad[i]);
	}
}
END_TEST

static bool
date_ok(const char *s)
{
	return events_valid_date(s, strlen(s));
}

START_TEST(dates_follow_the_calendar_and_leap_years)
{
	ck_assert(date_ok("2026-11-25"));
	ck_assert(date_ok("2028-02-29"));
	ck_assert(date_ok("2000-02-29"));
	ck_assert(date_ok("0001-01-01"));
	ck_assert(date_ok("9999-12-31"));
	ck_assert(!date_ok("2027-02-29"));
	ck_assert(!date_ok("1900-02-29"));
	ck_assert(!date_ok("2026-04-31"));
	ck_assert(!date_ok("2026-13-01"));
	ck_assert(!date_ok("2026-00-10"));
	ck_assert(!date_ok("2026-01-00"));
	ck_assert(!date_ok("0000-01-01"));
}
END_TEST

START_TEST(dates_must_be_exactly_yyyy_mm_dd)
{
	ck_assert(!date_ok("2026-1-01"));
	ck_assert(!date_ok("2026/01/01"));
	ck_assert(!date_ok("26-01-01"));
	ck_assert(!date_ok("2026-01-01T00:00"));
	ck_assert(!date_ok("2026-01-0a"));
	ck_assert(!date_ok(""));
	ck_assert(!events_valid_date("2026-01-01", 9));
	ck_assert(!events_valid_date(NULL, 10));
	/* Only `len` bytes count: a longer buffer is fine. */
	ck_assert(events_valid_date("2026-01-01xyz", 10));
}
END_TEST

START_TEST(like_pattern_escapes_percent_underscore_and_backslash)
{
	char *p = events_like_pattern("50%_off\\now");
	ck_assert_str_eq(p, "%50\\%\\_off\\\\now%");
	free(p);
	p = events_like_pattern("");
	ck_assert_str_eq(p, "%%");
	free(p);
	p = events_like_pattern("São Paulo");
	ck_assert_str_eq(p, "%São Paulo%");
	free(p);
}
END_TEST

START_TEST(list_cursor_round_trips_for_its_own_when)
{
	char date[11];
	int64_t id = 0;
	char *c = events_list_cursor(false, "2027-03-04", 42);

	ck_assert(events_list_cursor_read(c, false, date, &id));
	ck_assert_str_eq(date, "2027-03-04");
	ck_assert_int_eq(id, 42);
	/* A cursor of the upcoming list is not one of the past list. */
	ck_assert(!events_list_cursor_read(c, true, date, &id));
	free(c);

	c = events_list_cursor(true, "2025-01-16", 7);
	ck_assert(events_list_cursor_read(c, true, date, &id));
	ck_assert_str_eq(date, "2025-01-16");
	ck_assert_int_eq(id, 7);
	free(c);
}
END_TEST

/* A cursor holding `key`, as if a client had built it. */
static bool
list_key_ok(const char *key)
{
	char date[11];
	int64_t id;
	char *c = sc_cursor_encode(key);
	bool ok = events_list_cursor_read(c, false, date, &id);
	free(c);
	return ok;
}

START_TEST(list_cursor_rejects_garbage_and_forged_keys)
{
	char date[11];
	int64_t id;

	ck_assert(list_key_ok("u|2027-01-01|1"));
	ck_assert(!list_key_ok("u|2027-02-30|1"));
	ck_assert(!list_key_ok("u|2027-01-01|0"));
	ck_assert(!list_key_ok("u|2027-01-01|-5"));
	ck_assert(!list_key_ok("u|2027-01-01|1|x"));
	ck_assert(!list_key_ok("u|2027-01-01"));
	ck_assert(!list_key_ok("x|2027-01-01|1"));
	ck_assert(!list_key_ok("u|'; DROP TABLE events --|1"));
	ck_assert(!events_list_cursor_read("not a cursor!", false, date, &id));
	ck_assert(!events_list_cursor_read("", false, date, &id));
}
END_TEST

START_TEST(participants_cursor_round_trips_and_rejects_garbage)
{
	int64_t usec = 0, uid = 0;
	char *c = events_participants_cursor(1795000000123456LL, 9);

	ck_assert(events_participants_cursor_read(c, &usec, &uid));
	ck_assert_int_eq(usec, 1795000000123456LL);
	ck_assert_int_eq(uid, 9);
	free(c);

	/* Times no join has would overflow the query's arithmetic. */
	c = events_participants_cursor(-5, 1);
	ck_assert(!events_participants_cursor_read(c, &usec, &uid));
	free(c);
	c = events_participants_cursor(EVENTS_USEC_MAX, 1);
	ck_assert(!events_participants_cursor_read(c, &usec, &uid));
	free(c);
	c = events_participants_cursor(0, 1);
	ck_assert(events_participants_cursor_read(c, &usec, &uid));
	free(c);

	/* A list cursor is not a participants cursor. */
	c = events_list_cursor(false, "2027-03-04", 42);
	ck_assert(!events_participants_cursor_read(c, &usec, &uid));
	free(c);
	c = sc_cursor_encode("j|12x|3");
	ck_assert(!events_participants_cursor_read(c, &usec, &uid));
	free(c);
	c = sc_cursor_encode("j|12|0");
	ck_assert(!events_participants_cursor_read(c, &usec, &uid));
	free(c);
	ck_assert(!events_participants_cursor_read("%%%", &usec, &uid));
}
END_TEST

static Suite *
params_suite(void)
{
	Suite *s = suite_create("events_params");
	TCase *tc = tcase_create("params");

	tcase_add_test(tc, id_accepts_positive_decimal_integers);
	tcase_add_test(tc, id_rejects_zero_signs_spaces_overflow_and_text);
	tcase_add_test(tc, limit_defaults_to_20_and_accepts_1_to_100);
	tcase_add_test(tc, limit_rejects_out_of_range_and_non_integers);
	tcase_add_test(tc, dates_follow_the_calendar_and_leap_years);
	tcase_add_test(tc, dates_must_be_exactly_yyyy_mm_dd);
	tcase_add_test(tc,
	               like_pattern_escapes_percent_underscore_and_backslash);
	tcase_add_test(tc, list_cursor_round_trips_for_its_own_when);
	tcase_add_test(tc, list_cursor_rejects_garbage_and_forged_keys);
	tcase_add_test(tc, participants_cursor_round_trips_and_rejects_garbage);
	suite_add_tcase(s, tc);
	return s;
}

SC_TEST_MAIN(params_suite)
